"""
launch_testing checks of launch/demo.launch.py, run by ``launch_test`` (test_launch_file.py).

It includes the installed launch file with ``autostart:=false``, so the two lifecycle nodes
start unconfigured and only the launch file's lifecycle events (configure, then activate) can
make them answer; the player's scenario (a launch argument) must be answered in full. After
the launch is shut down (SIGINT to every process), every process must have exited with 0.
Run it by hand with::

    launch_test test/launch/demo_launch.py scenario:=SCENARIO.yaml commands:=N
"""

import os
import unittest

from ament_index_python.packages import get_package_share_directory
from launch import LaunchDescription
from launch.actions import DeclareLaunchArgument, IncludeLaunchDescription
from launch.launch_description_sources import PythonLaunchDescriptionSource
from launch.substitutions import LaunchConfiguration
import launch_testing.actions
import launch_testing.asserts
from lifecycle_msgs.srv import GetState
from rcl_interfaces.srv import GetParameters
import rclpy
from rclpy.context import Context
from rclpy.executors import SingleThreadedExecutor

NAMESPACE = 'launch_test'
TIMEOUT_S = 90.0


def generate_test_description():
    """Return the demo launch file, lifecycle driven by launch, and the test's arguments."""
    path = os.path.join(get_package_share_directory('adaptive_nlp_ros'), 'launch',
                        'demo.launch.py')
    return LaunchDescription([
        DeclareLaunchArgument('scenario', description="The player's scenario."),
        DeclareLaunchArgument('commands', description='How many commands it holds.'),
        IncludeLaunchDescription(PythonLaunchDescriptionSource(path), launch_arguments={
            'namespace': NAMESPACE, 'autostart': 'false', 'strategy': 'early_exit',
            'scenario': LaunchConfiguration('scenario')}.items()),
        launch_testing.actions.ReadyToTest(),
    ]), {}


class TestTheLaunchFileDrivesTheLifecycle(unittest.TestCase):
    """While the launch runs."""

    def test_both_lifecycle_nodes_become_active_and_the_scenario_is_answered(
            self, proc_output, test_args):
        """Unconfigured at start (autostart:=false), active only through the launch file."""
        for message in ('battery_node]: active: publishing battery_state',
                        'controller_node]: active: answering with early_exit',
                        f'played all {test_args["commands"]} commands'):
            proc_output.assertWaitFor(message, timeout=TIMEOUT_S, stream='stderr')
        context = Context()
        rclpy.init(context=context)
        try:
            node = rclpy.create_node('demo_launch_test_probe', context=context)
            executor = SingleThreadedExecutor(context=context)
            executor.add_node(node)
            for name in ('battery_node', 'controller_node'):
                state = self.call(executor, node, GetState, f'/{NAMESPACE}/{name}/get_state',
                                  GetState.Request())
                self.assertEqual(state.current_state.label, 'active')
                parameters = self.call(executor, node, GetParameters,
                                       f'/{NAMESPACE}/{name}/get_parameters',
                                       GetParameters.Request(names=['autostart']))
                self.assertFalse(parameters.values[0].bool_value, f'{name} started itself')
        finally:
            context.try_shutdown()

    def call(self, executor, node, service_type, name: str, request):
        """Call a service of the launched graph and return the response."""
        client = node.create_client(service_type, name)
        self.assertTrue(client.wait_for_service(timeout_sec=TIMEOUT_S), name)
        future = client.call_async(request)
        executor.spin_until_future_complete(future, timeout_sec=TIMEOUT_S)
        self.assertTrue(future.done(), f'no answer from {name}')
        return future.result()


@launch_testing.post_shutdown_test()
class TestTheGraphEndsCleanly(unittest.TestCase):
    """After the launch shut everything down."""

    def test_every_process_exited_with_status_0(self, proc_info):
        """The player (done), the battery and the controller (SIGINT) all end with 0."""
        launch_testing.asserts.assertExitCodes(proc_info)

    def test_the_controller_answered_every_command(self, proc_output, test_args):
        """Its last words count every command answered."""
        commands = test_args['commands']
        launch_testing.asserts.assertInStderr(
            proc_output, f'stopped: received {commands} = answered {commands} + rejected 0',
            process='controller_node')
