r"""
Launch the demo graph: battery_node, controller_node and command_player.

The nodes and their parameters come from ``adaptive_nlp_ros.graph_description``, the same
description ``adaptive-nlp demo`` starts in one process without launch_ros, so the two cannot
drift apart. Each node gets ``config/<node>.yaml``, then the description's parameters, then the
launch arguments that name its parameters. Example::

    ros2 launch adaptive_nlp_ros demo.launch.py strategy:=segment_precision \\
        time_acceleration:=120.0 namespace:=robot1

battery_node and controller_node are lifecycle nodes: by default (``autostart:=true``) they
configure and activate themselves; with ``autostart:=false`` they start unconfigured and this
file drives them through launch_ros lifecycle events: configure at start, then activate once
configure has brought each to inactive (only that transition: a later deactivate by hand
stays). The player exits when its scenario has played; the battery and the controller keep
running until Ctrl-C.
"""

import os

from adaptive_nlp_ros.graph_description import (
    demo_graph, launch_argument_default, LAUNCH_ARGUMENTS, PACKAGE)
from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, EmitEvent, RegisterEventHandler
from launch.conditions import UnlessCondition
from launch.events import matches_action
from launch.substitutions import LaunchConfiguration
from launch_ros.actions import LifecycleNode, Node
from launch_ros.event_handlers import OnStateTransition
from launch_ros.events.lifecycle import ChangeState
from launch_ros.parameter_descriptions import ParameterValue
from lifecycle_msgs.msg import Transition


def generate_launch_description() -> LaunchDescription:
    """Return the launch description of the demo graph with its launch arguments."""
    share = get_package_share_directory(PACKAGE)
    graph = demo_graph()
    autostart = LaunchConfiguration('autostart')
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
        options = {'package': PACKAGE, 'executable': node.executable, 'name': node.name,
                   'namespace': LaunchConfiguration('namespace'), 'output': 'screen',
                   'emulate_tty': True}
        if not node.managed:
            actions.append(Node(parameters=[os.path.join(share, node.config_file), parameters],
                                **options))
            continue
        parameters['autostart'] = ParameterValue(autostart, value_type=bool)
        managed = LifecycleNode(parameters=[os.path.join(share, node.config_file), parameters],
                                **options)
        actions += [
            managed,
            RegisterEventHandler(OnStateTransition(
                target_lifecycle_node=managed, start_state='configuring', goal_state='inactive',
                entities=[_transition(managed, Transition.TRANSITION_ACTIVATE)]),
                condition=UnlessCondition(autostart)),
            _transition(managed, Transition.TRANSITION_CONFIGURE,
                        condition=UnlessCondition(autostart)),
        ]
    return LaunchDescription(actions)


def _transition(node: LifecycleNode, transition_id: int, **options) -> EmitEvent:
    """Return the action that asks ``node`` for a lifecycle transition."""
    return EmitEvent(event=ChangeState(lifecycle_node_matcher=matches_action(node),
                                       transition_id=transition_id), **options)
