"""
What the managed (lifecycle) nodes of this package share without ROS: the ``autostart`` switch.

``battery_node`` and ``controller_node`` are ROS 2 lifecycle nodes. With ``autostart`` true
(the default) each configures and activates itself at start-up, so ``ros2 run``, the launch
file and ``adaptive-nlp demo`` see the nodes they always saw; with false it waits unconfigured
for a lifecycle manager (``ros2 lifecycle set``, a launch file's lifecycle events).
"""

from .parameter_spec import ParameterSpec

AUTOSTART = ParameterSpec(
    'autostart', True,
    'Configure and activate at start-up. false: start unconfigured and wait for the '
    'lifecycle transitions (ros2 lifecycle set, launch lifecycle events).', read_only=True)
