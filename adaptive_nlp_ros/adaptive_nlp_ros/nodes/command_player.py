"""
command_player: plays a scenario of timed text and image commands, so nobody has to type.

Topics (names relative, so a namespace applies):

* publishes ``text_command`` (``std_msgs/String``, reliable, depth 1000);
* publishes ``image_command`` (``sensor_msgs/Image`` mono8, reliable or best effort with
  ``image_qos``, depth 10).

It publishes nothing else. It waits (up to ``wait_for_controller_s``) until something
subscribes to ``text_command`` (and to ``image_command`` when the scenario has images), then
sends each command at its time (scaled by ``time_scale``), and exits when done unless
``exit_when_done`` is false. Parameters: ``core.evaluation.scenario.PLAYER_PARAMETERS``
(defaults in ``config/command_player.yaml``); the scenario format is described in
``core/evaluation/scenario.py``.
"""

import time
from typing import Any, Callable, Dict, List, NoReturn, Optional

from adaptive_nlp_ros.core.evaluation.scenario import (
    KIND_IMAGE, load_scenario, PLAYER_PARAMETERS, Scenario, ScenarioCommand, ScenarioError)
from adaptive_nlp_ros.nodes.conversions import mono8_image_message
from adaptive_nlp_ros.nodes.parameters import declare_parameters, ParameterDeclarationError
from adaptive_nlp_ros.nodes.process_exit import end_process
from adaptive_nlp_ros.nodes.shutdown import ShutdownSignals, spin_until_shutdown
import rclpy
from rclpy.duration import Duration
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.logging import get_logger
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.signals import SignalHandlerOptions
from rclpy.task import Future
from sensor_msgs.msg import Image
from std_msgs.msg import String

NODE_NAME = 'command_player'
TICK_S = 0.01
TEXT_DEPTH = 1000
IMAGE_DEPTH = 10
IMAGE_FRAME_ID = 'command_player'

PLAYED_OK = 0
NOBODY_SUBSCRIBED = 1

PlayedHook = Callable[[float, ScenarioCommand], None]


class CommandPlayerNode(Node):
    """Publishes a scenario's commands at their times, once a subscriber is there."""

    def __init__(self, scenario: Optional[Scenario] = None,
                 on_played: Optional[PlayedHook] = None, **node_options: Any) -> None:
        """
        Declare parameters, read the scenario and wait for subscribers.

        :param scenario: play this one instead of the ``scenario`` parameter's file.
        :param on_played: called with (monotonic seconds, command) after each publication.
        :raises ScenarioError: when the scenario file cannot be played.
        :raises ParameterDeclarationError: for an invalid start-up parameter value.
        """
        super().__init__(NODE_NAME, **node_options)
        self._values: Dict[str, Any] = declare_parameters(self, PLAYER_PARAMETERS)
        self.scenario = scenario or load_scenario(self._values['scenario'] or None)
        self._on_played = on_played
        self.finished: Future = Future()
        self._text_publisher = self.create_publisher(
            String, 'text_command',
            QoSProfile(depth=TEXT_DEPTH, reliability=ReliabilityPolicy.RELIABLE))
        self._image_publisher = self.create_publisher(
            Image, 'image_command',
            QoSProfile(depth=IMAGE_DEPTH,
                       reliability=ReliabilityPolicy.BEST_EFFORT
                       if self._values['image_qos'] == 'best_effort'
                       else ReliabilityPolicy.RELIABLE))
        self._needs_images = self.scenario.count(KIND_IMAGE) > 0
        self._created_s = time.monotonic()
        self._started_s: Optional[float] = None
        self._next = 0
        self._timer = self.create_timer(TICK_S, self._tick)
        wait = self._values['wait_for_controller_s']
        self.get_logger().info(
            f'scenario {self.scenario.name!r}: {len(self.scenario.commands)} commands over '
            f'{self.scenario.duration_s / self._values["time_scale"]:.1f} s; waiting '
            + (f'up to {wait:.0f} s ' if wait else '') + 'for a subscriber on text_command'
            + (' and image_command' if self._needs_images else ''))

    @property
    def played(self) -> int:
        """Return how many commands were sent so far."""
        return self._next

    def _subscribed(self) -> bool:
        """Return True when every topic the scenario uses has a subscriber."""
        if self._text_publisher.get_subscription_count() < 1:
            return False
        return not self._needs_images or self._image_publisher.get_subscription_count() >= 1

    def _tick(self) -> None:
        """Timer callback: wait for subscribers, then send every command that is due."""
        now_s = time.monotonic()
        if self._started_s is None:
            if self._subscribed():
                self._started_s = now_s + self._values['start_delay_s']
                self.get_logger().info('subscriber found: playing')
            else:
                wait = self._values['wait_for_controller_s']
                if wait and now_s - self._created_s > wait:
                    self.get_logger().error(
                        'nobody subscribed to text_command'
                        + (' / image_command' if self._needs_images else '')
                        + f' within {wait:.0f} s: is controller_node running on this '
                        'ROS_DOMAIN_ID?')
                    self._finish(NOBODY_SUBSCRIBED)
                return
        if now_s < self._started_s:
            return
        elapsed_s = (now_s - self._started_s) * self._values['time_scale']
        commands = self.scenario.commands
        while self._next < len(commands) and commands[self._next].at_s <= elapsed_s:
            self._publish(commands[self._next])
            self._next += 1
        if self._next >= len(commands):
            self.get_logger().info(f'played all {len(commands)} commands')
            self._finish(PLAYED_OK)

    def _publish(self, command: ScenarioCommand) -> None:
        """Publish one command on its topic."""
        if command.kind == KIND_IMAGE:
            self._image_publisher.publish(mono8_image_message(
                command.pixels, self.get_clock().now().to_msg(), IMAGE_FRAME_ID))
        else:
            self._text_publisher.publish(String(data=command.text))
        self.get_logger().debug(f'sent command {command.index}: {command.describe()}')
        if self._on_played is not None:
            self._on_played(time.monotonic(), command)

    def _finish(self, status: int) -> None:
        """Stop the timer and resolve ``finished`` with ``status``."""
        self._timer.cancel()
        if not self.finished.done():
            self.finished.set_result(status)

    def wait_for_delivery(self, timeout_s: float = 5.0) -> bool:
        """Wait until subscribers acknowledged every command sent (reliable QoS)."""
        deadline = Duration(seconds=timeout_s)
        return all(publisher.wait_for_all_acked(deadline)
                   for publisher in (self._text_publisher, self._image_publisher))

    @property
    def exit_when_done(self) -> bool:
        """Return the ``exit_when_done`` parameter."""
        return bool(self._values['exit_when_done'])


def run(args: Optional[List[str]] = None) -> int:
    """
    Play the scenario; return 0 when played (or on Ctrl-C), 1 when it could not be.

    Signals go through ``nodes/shutdown.py``, so that the second SIGINT ``ros2 launch`` sends
    after a Ctrl-C does not kill the player while it ends (exit code -2 with rclpy's handlers).
    """
    signals = ShutdownSignals().install()
    try:
        with rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO):
            try:
                node = CommandPlayerNode()
            except (ScenarioError, ParameterDeclarationError) as error:
                get_logger(NODE_NAME).fatal(str(error))
                return 1
            try:
                if _spin(node, signals, node.finished):
                    return 0
                status = node.finished.result() if node.finished.done() else PLAYED_OK
                if status == PLAYED_OK:
                    node.wait_for_delivery()
                if status == PLAYED_OK and not node.exit_when_done:
                    _spin(node, signals)
                return status
            finally:
                node.destroy_node()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    return 0


def _spin(node: Node, signals: ShutdownSignals, done: Optional[Future] = None) -> bool:
    """Spin ``node`` on a fresh executor until a signal (True) or ``done`` completes."""
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    return spin_until_shutdown(executor, signals, done)


def main(args: Optional[List[str]] = None) -> NoReturn:
    """Play, then end the process at once (see ``nodes/process_exit.py``)."""
    end_process(run(args))


if __name__ == '__main__':
    main()
