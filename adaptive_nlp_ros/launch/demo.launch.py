r"""
Launch the demo graph: battery_node, controller_node and command_player.

The nodes and their parameters come from ``adaptive_nlp_ros.graph_description``, the same
description ``adaptive-nlp demo`` starts in one process without launch_ros, so the two cannot
drift apart. Each node gets ``config/<node>.yaml``, then the description's parameters, then the
launch arguments that name its parameters. Example::

    ros2 launch adaptive_nlp_ros demo.launch.py strategy:=segment_precision \\
        time_acceleration:=120.0 namespace:=robot1

The player exits when its scenario has played; the battery and the controller keep running
until Ctrl-C.
"""

import os

from adaptive_nlp_ros.graph_description import (
    demo_graph, launch_argument_default, LAUNCH_ARGUMENTS, PACKAGE)
from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import Node
from launch_ros.parameter_descriptions import ParameterValue


def generate_launch_description() -> LaunchDescription:
    """Return the launch description of the demo graph with its launch arguments."""
    share = get_package_share_directory(PACKAGE)
    graph = demo_graph()
    actions = [DeclareLaunchArgument(argument.name,
                                     default_value=launch_argument_default(argument, graph),
                                     description=argument.description)
               for argument in LAUNCH_ARGUMENTS]
    for node in graph:
        parameters = dict(node.parameters)
        for argument in LAUNCH_ARGUMENTS:
            if argument.executable == node.executable:
                parameters[argument.parameter] = ParameterValue(
                    LaunchConfiguration(argument.name),
                    value_type=type(node.parameters[argument.parameter]))
        actions.append(Node(
            package=PACKAGE, executable=node.executable, name=node.name,
            namespace=LaunchConfiguration('namespace'),
            parameters=[os.path.join(share, node.config_file), parameters],
            output='screen', emulate_tty=True))
    return LaunchDescription(actions)
