"""
The battery, and what energy means here.

A simulated or host battery (``battery_model``), the power model that turns CPU time into
energy estimates (``power_model``), and the per-command energy budget every strategy works
within (``energy_budget``).
"""
