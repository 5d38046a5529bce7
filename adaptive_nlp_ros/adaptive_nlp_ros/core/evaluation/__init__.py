"""
Evaluation and reports.

Strategies side by side on labelled data (``evaluation``), accuracy against energy plots
(``pareto_plot``), and the demo's scenario and report (``scenario``, ``demo_report``).
"""
