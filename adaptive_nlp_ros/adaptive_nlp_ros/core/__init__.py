"""
The product's logic, testable without ROS: nothing here imports rclpy or a message package.

Rooms by concern (imports run downwards only):

* ``inference/``: the models, their execution modes and costs, the segment loop, strategies;
* ``battery/``: the battery model, the power model behind energy estimates, the budget;
* ``controller/``: receive, check, queue, infer and answer every command exactly once;
* ``training/``: datasets, calibration, fine-tuning and ``train``;
* ``bags/``: rosbag2 without ROS tools, and replay through the controller;
* ``evaluation/``: strategies side by side, plots, the demo's scenario and report.

``artifacts`` (where trained models live) and ``parameter_spec`` (node parameters as data)
are shared by several of them.
"""
