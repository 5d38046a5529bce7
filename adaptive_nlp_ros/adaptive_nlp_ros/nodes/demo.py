"""
``adaptive-nlp demo``: battery, controller and player in one process, with a live view.

Manual composition, as ``launch/demo.launch.py`` would start them but without ``launch_ros``
(not available from pip): the nodes of ``graph_description.demo_graph()`` are created in one
process, given one parameters file built from the same description and ``config/*.yaml``, and
spun on one ``SingleThreadedExecutor`` (on a thread; see ``nodes/shutdown.py`` for Ctrl-C and
SIGTERM). Every callback is short (inference runs on the controller's worker thread), so one
thread suffices; rclpy's ``MultiThreadedExecutor`` busy-polls while a callback group is busy
and a subscription has a backlog, and under a burst of 5,000 commands it starved everything
else: about 10 results/s instead of over 500/s. A ``demo_view`` node subscribes to
``inference_result`` and ``battery_state``, prints one line per result and fills a
``core.demo_report.RunRecord``.
When the scenario has played and every command has its result (or after Ctrl-C), everything
stops and the report (markdown + PNG) is written; its path is printed.

``--battery-only`` runs just the battery node and prints its state until Ctrl-C.
"""

import datetime
import math
import os
import pathlib
import time
from typing import Any, List, Optional

from adaptive_nlp_ros.core.artifacts import ArtifactError
from adaptive_nlp_ros.core.battery.battery_model import STATUS_NAMES
from adaptive_nlp_ros.core.evaluation.demo_report import (
    configuration_label, load_plotting, result_line, RunRecord, write_report)
from adaptive_nlp_ros.core.evaluation.scenario import (
    KIND_IMAGE, KIND_TEXT, load_scenario, Scenario, ScenarioCommand, ScenarioError)
from adaptive_nlp_ros.graph_description import (
    BATTERY_NODE, CONTROLLER_NODE, demo_graph, node_parameters, NodeDescription,
    parameters_file_content)
from adaptive_nlp_ros.nodes.conversions import result_row
from adaptive_nlp_ros.nodes.shutdown import ShutdownSignals, spin_until_shutdown
from adaptive_nlp_ros_msgs.msg import InferenceResult
import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.logging import LoggingSeverity, set_logger_level
from rclpy.node import Node
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.signals import SignalHandlerOptions
from rclpy.task import Future
from rich.console import Console
from sensor_msgs.msg import BatteryState

VIEW_NODE = 'demo_view'
RESULTS_GRACE_S = 10.0          # after the last command, wait this long for missing results
VIEW_TICK_S = 0.1


class DemoView(Node):
    """Prints one line per result, records results and battery, knows when the run is over."""

    def __init__(self, record: RunRecord, console: Console, started_s: float,
                 **node_options: Any) -> None:
        """Subscribe to results and battery; ``done`` resolves when the run is complete."""
        super().__init__(VIEW_NODE, **node_options)
        self.record = record
        self.console = console
        self.started_s = started_s
        self.done: Future = Future()
        self.player_finished_s: Optional[float] = None
        self._last_configuration = ''
        self.create_subscription(InferenceResult, 'inference_result', self._on_result,
                                 QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE))
        self.create_subscription(BatteryState, 'battery_state', self._on_battery,
                                 QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))
        self.create_timer(VIEW_TICK_S, self._check_done)

    def elapsed_s(self) -> float:
        """Return seconds since the start of the run."""
        return time.monotonic() - self.started_s

    def on_played(self, monotonic_s: float, command: ScenarioCommand) -> None:
        """Record a command the player sent (the player's hook)."""
        self.record.add_played(monotonic_s - self.started_s, command)

    def _on_battery(self, message: BatteryState) -> None:
        """Record the battery level."""
        if message.present and math.isfinite(message.percentage):
            self.record.add_battery(self.elapsed_s(), float(message.percentage))

    def _on_result(self, message: InferenceResult) -> None:
        """Record and print one result."""
        row = self.record.add_result(result_row(message, self.elapsed_s()))
        label = configuration_label(row)
        changed = bool(self._last_configuration) and label != self._last_configuration \
            and row.status == 'answered'
        if row.status == 'answered':
            self._last_configuration = label
        style = ('yellow' if row.status != 'answered' else 'green' if row.correct
                 else 'red' if row.correct is False else 'white')
        self.console.print(('* ' if changed else '  ') + result_line(row), style=style,
                           markup=False, highlight=False, soft_wrap=True)

    def _check_done(self) -> None:
        """Timer: resolve ``done`` when every played command has its result (or grace ends)."""
        if self.done.done() or self.player_finished_s is None:
            return
        complete = len(self.record.results) >= len(self.record.played)
        late = time.monotonic() - self.player_finished_s > RESULTS_GRACE_S
        if complete or late:
            self.done.set_result(complete)


def run_demo(args) -> int:
    """Run the demo (or the battery alone) as ``adaptive-nlp demo`` asks; return the status."""
    console = Console(highlight=False, soft_wrap=True)
    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    if args.battery_only:
        return _run_battery_only(console)
    try:
        scenario = load_scenario(pathlib.Path(args.scenario) if args.scenario else None)
    except ScenarioError as error:
        console.print(f'adaptive-nlp demo: error: {error}', style='red', markup=False)
        return 2
    controller_overrides = {'artifacts_dir': str(args.artifacts)} if args.artifacts else {}
    graph = demo_graph(strategy=args.strategy, scenario=str(scenario.path or ''),
                       controller=controller_overrides)
    run_dir = pathlib.Path(args.report_dir) / datetime.datetime.now().strftime(
        '%Y%m%d-%H%M%S')
    run_dir.mkdir(parents=True, exist_ok=True)
    parameters_file = run_dir / 'parameters.yaml'
    parameters_file.write_text(parameters_file_content(graph), encoding='utf-8')
    record = RunRecord(scenario.name, settings=_shown_settings(graph))
    bag = pathlib.Path(args.record) if getattr(args, 'record', None) else None
    status = _run_graph(console, scenario, parameters_file, record, bag)
    if status != 0:
        return status
    report = write_report(record, run_dir)
    console.print(f'report: {report}  (plots: {run_dir / "report.png"})', style='bold',
                  markup=False)
    return 0


def _shown_settings(graph: List[NodeDescription]) -> dict:
    """Return the settings worth naming in the report."""
    shown = {}
    for node in graph:
        values = node_parameters(node)
        if node.executable == CONTROLLER_NODE:
            shown.update({key: values[key] for key in ('strategy', 'stale_strategy')})
        elif node.executable == BATTERY_NODE:
            shown.update({f'battery.{key}': values[key] for key in
                          ('capacity_wh', 'idle_draw_w', 'time_acceleration')})
    return shown


def _run_graph(console: Console, scenario: Scenario, parameters_file: pathlib.Path,
               record: RunRecord, bag: Optional[pathlib.Path] = None) -> int:
    """
    Start the nodes, spin until the run is over or Ctrl-C, then stop everything.

    :param bag: also record every topic of the graph to this new rosbag2 folder.
    """
    from adaptive_nlp_ros.core.bags.bag_evaluation import expected_labels_metadata
    from adaptive_nlp_ros.core.bags.bag_reader import BagError
    from adaptive_nlp_ros.nodes.bag_recorder import start_recorder
    from adaptive_nlp_ros.nodes.battery_node import BatteryNode
    from adaptive_nlp_ros.nodes.command_player import CommandPlayerNode
    from adaptive_nlp_ros.nodes.controller_node import ControllerNode

    nodes: List[Node] = []
    executor: Optional[SingleThreadedExecutor] = None
    recorder = None
    signals = ShutdownSignals().install()
    try:
        with rclpy.init(args=['--ros-args', '--params-file', str(parameters_file)],
                        signal_handler_options=SignalHandlerOptions.NO):
            console.print(f'scenario {scenario.name!r}: {len(scenario.commands)} commands '
                          f'({scenario.count(KIND_TEXT)} text, {scenario.count(KIND_IMAGE)} '
                          f'images) over {scenario.duration_s:.0f} s; loading models ...',
                          markup=False)
            try:
                nodes.append(ControllerNode())
            except ArtifactError as error:
                console.print(f'adaptive-nlp demo: error: {error}', style='red', markup=False)
                return 2
            nodes.append(BatteryNode())
            view = DemoView(record, console, time.monotonic())
            nodes.append(view)
            player = CommandPlayerNode(scenario=scenario, on_played=view.on_played)
            nodes.append(player)
            player.finished.add_done_callback(
                lambda _: setattr(view, 'player_finished_s', time.monotonic()))
            for node in nodes:
                if node is not view:
                    set_logger_level(node.get_name(), LoggingSeverity.WARN)
            console.print('estimated energy = profiled cost of what ran (an estimate, not a '
                          'measurement); lines with * changed configuration', style='dim',
                          markup=False)
            load_plotting()     # now, not after Ctrl-C (0.3 s idle; seconds under a burst)
            executor = SingleThreadedExecutor()
            for node in nodes:
                executor.add_node(node)
            if bag is not None:
                try:
                    recorder = start_recorder(executor, bag, custom_data=expected_labels_metadata(
                        scenario.commands))
                except BagError as error:
                    console.print(f'adaptive-nlp demo: error: {error}', style='red',
                                  markup=False)
                    return 2
            if signals.requested.is_set():      # Ctrl-C while the models loaded
                record.interrupted = True
            else:
                spin_until_shutdown(executor, signals, view.done)
            if not view.done.done():
                record.interrupted = True
            executor.shutdown()
            executor = None
            for node in reversed(nodes):
                node.destroy_node()
            nodes.clear()
    except (KeyboardInterrupt, ExternalShutdownException):
        record.interrupted = True
    finally:
        if executor is not None:
            executor.shutdown()
        for node in reversed(nodes):
            node.destroy_node()
        if recorder is not None:
            summary = recorder.close()
            console.print(f'recorded {summary.total} messages to {summary.path} '
                          f'({summary.storage})', markup=False)
    if record.interrupted:
        console.print('interrupted: writing the report of what ran', style='yellow')
    return 0


def _run_battery_only(console: Console) -> int:
    """Run the battery node (demo parameters) and print its state until Ctrl-C."""
    from adaptive_nlp_ros.nodes.battery_node import BatteryNode

    graph = tuple(node for node in demo_graph() if node.executable == BATTERY_NODE)
    parameters = pathlib.Path(os.environ.get('TMPDIR', '/tmp')) / \
        f'adaptive_nlp_battery_{os.getpid()}.yaml'
    parameters.write_text(parameters_file_content(graph), encoding='utf-8')
    node = None
    try:
        with rclpy.init(args=['--ros-args', '--params-file', str(parameters)]):
            node = BatteryNode()
            started = time.monotonic()

            def show(message: BatteryState) -> None:
                console.print(f'{time.monotonic() - started:6.1f} s  battery '
                              f'{100.0 * message.percentage:5.1f} %  {message.voltage:.1f} V  '
                              f'{message.current:+.2f} A  '
                              f'{STATUS_NAMES.get(message.power_supply_status, "unknown")}',
                              markup=False)
            node.create_subscription(BatteryState, 'battery_state', show,
                                     QoSProfile(depth=10,
                                                reliability=ReliabilityPolicy.RELIABLE))
            console.print('battery node running (Ctrl-C to stop)', style='bold')
            rclpy.spin(node)
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        if node is not None:
            node.destroy_node()
        parameters.unlink(missing_ok=True)
    return 0
