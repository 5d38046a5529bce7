"""
adaptive_nlp_ros: energy-aware adaptive inference for robot commands.

``core/`` holds the logic (no ROS), ``nodes/`` the thin ROS 2 nodes around it, ``corpus/``
the command corpus, ``cli.py`` the ``adaptive-nlp`` command; the README maps them.
"""

__version__ = '0.1.0'
