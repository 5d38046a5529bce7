"""
battery_node: publishes the robot's battery as sensor_msgs/BatteryState.

A ROS 2 managed (lifecycle) node (see ``nodes/lifecycle.py``): ``configure`` opens the battery
source and creates the topics, ``activate`` starts publishing ``battery_state``, ``deactivate``
stops it (the simulated battery goes on draining meanwhile, as a real one would), ``cleanup``
closes the source; ``shutdown`` works from any state. With ``autostart`` (default true) it
configures and activates itself.

Topics (names relative, so a namespace applies; ``/diagnostics`` absolute), each with the
standard QoS override parameters (``nodes/qos.py``):

* publishes ``battery_state`` (``sensor_msgs/BatteryState``, reliable, depth 10) at ``rate_hz``
  while active;
* subscribes ``inference_result`` (``adaptive_nlp_ros_msgs/InferenceResult``, reliable,
  depth 100) while configured: each result's ``energy_mj`` drains the simulated battery,
  closing the loop between the cost of thinking and the battery the controller adapts to;
* publishes ``/diagnostics`` (``diagnostic_msgs/DiagnosticArray``, reliable) once a second in
  every state, with one status named ``battery_node`` (``lifecycle_state`` among its values).

Parameters: ``core.battery.battery_model.BATTERY_PARAMETERS`` (defaults in
``config/battery_node.yaml``). The battery model lives in ``core.battery.battery_model``; this
file is ROS plumbing only.
"""

import math
import time
from typing import Any, Dict, List, NoReturn, Optional, Union

from adaptive_nlp_ros.core.battery.battery_model import (
    assess_battery, BATTERY_PARAMETERS, BatterySnapshot, BatteryUnavailableError,
    DIAGNOSTIC_WARN, HostBattery, SimulatedBattery, SOURCE_PSUTIL, SOURCE_SIMULATED,
    unavailable_snapshot)
from adaptive_nlp_ros.nodes.conversions import (
    battery_state_message, diagnostic_status, diagnostic_status_message)
from adaptive_nlp_ros.nodes.lifecycle import ManagedNode, NodeStartError
from adaptive_nlp_ros.nodes.parameters import (
    declare_parameters, install_parameter_callbacks, ParameterDeclarationError)
from adaptive_nlp_ros.nodes.process_exit import end_process
from adaptive_nlp_ros.nodes.qos import OVERRIDABLE
from adaptive_nlp_ros.nodes.shutdown import ShutdownSignals, spin_until_shutdown
from adaptive_nlp_ros_msgs.msg import InferenceResult
from diagnostic_msgs.msg import DiagnosticArray
import rclpy
from rclpy.exceptions import ParameterException
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.lifecycle import LifecycleState, TransitionCallbackReturn
from rclpy.logging import get_logger
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.qos_overriding_options import InvalidQosOverridesError
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import BatteryState

NODE_NAME = 'battery_node'
DIAGNOSTICS_PERIOD_S = 1.0
_LOG_THROTTLE_S = 10.0

_SIMULATION_PARAMETERS = ('capacity_wh', 'idle_draw_w', 'time_acceleration',
                          'nominal_voltage_v', 'charge_power_w')


class BatterySourceError(RuntimeError):
    """The configured battery source cannot be used and no fallback is allowed."""


class BatteryNode(ManagedNode):
    """Publishes BatteryState from a simulated or the host's battery; drains it by inference."""

    def __init__(self, **node_options: Any) -> None:
        """
        Declare parameters and /diagnostics; with ``autostart``, configure and activate.

        :param node_options: passed to ``rclpy.node.Node`` (context, parameter_overrides ...).
        :raises ParameterDeclarationError: for an invalid start-up parameter value.
        :raises BatterySourceError: (autostart) when the source cannot be used.
        """
        super().__init__(NODE_NAME, **node_options)
        self._values: Dict[str, Any] = declare_parameters(self, BATTERY_PARAMETERS)
        self._battery: Union[SimulatedBattery, HostBattery, None] = None
        self._unavailable_reason = ''
        self._results_received = 0
        self._results_invalid = 0
        self._energy_reported_mj = 0.0
        self._last_tick_s = time.monotonic()
        self._last_snapshot: Optional[BatterySnapshot] = None
        self._battery_publisher: Optional[Any] = None
        self._result_subscription: Optional[Any] = None
        self._publish_timer: Optional[Any] = None
        self._diagnostics_publisher = self.create_publisher(
            DiagnosticArray, '/diagnostics',
            QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE),
            qos_overriding_options=OVERRIDABLE)
        self._diagnostics_timer = self.create_timer(
            DIAGNOSTICS_PERIOD_S, self._publish_diagnostics)
        install_parameter_callbacks(self, BATTERY_PARAMETERS, self._on_parameters_changed)
        if self._values['autostart']:
            self.autostart()

    # -- life cycle ---------------------------------------------------------------------------

    def on_configure(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Open the battery source and create the topics (publishing starts on activate)."""
        try:
            self._battery = self._open_source()
        except BatterySourceError as error:
            return self.refuse('configure', error)
        self._last_tick_s = time.monotonic()
        self._last_snapshot = None
        try:
            self._battery_publisher = self.create_publisher(
                BatteryState, 'battery_state',
                QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE),
                qos_overriding_options=OVERRIDABLE)
            self._result_subscription = self.create_subscription(
                InferenceResult, 'inference_result', self._on_inference_result,
                QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE),
                qos_overriding_options=OVERRIDABLE)
        except (InvalidQosOverridesError, ParameterException, RuntimeError) as error:
            self._release()             # rclpy's words for a QoS override it cannot use
            return self.refuse('configure', NodeStartError(f'cannot create the topics: {error}'))
        self.get_logger().info(self._describe())
        return TransitionCallbackReturn.SUCCESS

    def on_activate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Start publishing battery_state at ``rate_hz``."""
        self._start_publishing()
        self.get_logger().info(f'active: publishing battery_state at {self._values["rate_hz"]} Hz')
        return super().on_activate(state)

    def on_deactivate(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Stop publishing battery_state (results still drain the simulated battery)."""
        self._stop_publishing()
        self.get_logger().info('inactive: battery_state not published')
        return super().on_deactivate(state)

    def on_cleanup(self, state: LifecycleState) -> TransitionCallbackReturn:
        """Destroy the topics and close the source."""
        self._release()
        self.get_logger().info('unconfigured: topics destroyed, battery source closed')
        return TransitionCallbackReturn.SUCCESS

    def on_shutdown(self, state: LifecycleState) -> TransitionCallbackReturn:
        """From any state: stop publishing, destroy the topics, close the source."""
        self._release()
        self.get_logger().info(f'finalized (from {state.label})')
        return TransitionCallbackReturn.SUCCESS

    def on_error(self, state: LifecycleState) -> TransitionCallbackReturn:
        """After an error in a transition: release everything and return to unconfigured."""
        self._release()
        return TransitionCallbackReturn.SUCCESS

    def _start_publishing(self) -> None:
        """Create the battery_state timer at the current ``rate_hz``."""
        self._publish_timer = self.create_timer(1.0 / self._values['rate_hz'],
                                                self._publish_battery_state)

    def _stop_publishing(self) -> None:
        """Destroy the battery_state timer, if any."""
        if self._publish_timer is not None:
            self._publish_timer.cancel()
            self.destroy_timer(self._publish_timer)
            self._publish_timer = None

    def _release(self) -> None:
        """Stop publishing, destroy the topics and drop the battery source."""
        self._stop_publishing()
        if self._result_subscription is not None:
            self.destroy_subscription(self._result_subscription)
            self._result_subscription = None
        if self._battery_publisher is not None:
            self.destroy_publisher(self._battery_publisher)
            self._battery_publisher = None
        self._battery = None

    @property
    def source(self) -> str:
        """Return the source in use: ``simulated`` or ``psutil`` (after any fallback)."""
        return SOURCE_SIMULATED if isinstance(self._battery, SimulatedBattery) else SOURCE_PSUTIL

    def _open_source(self) -> Union[SimulatedBattery, HostBattery]:
        """
        Return the battery named by ``source``, falling back to a simulated one if allowed.

        :raises BatterySourceError: when ``source`` is psutil, the host has no readable
            battery and ``fallback_to_simulated`` is false.
        """
        if self._values['source'] == SOURCE_PSUTIL:
            host = HostBattery()
            try:
                host.snapshot()
                return host
            except BatteryUnavailableError as error:
                self.get_logger().error(f'source "psutil": {error}')
                if not self._values['fallback_to_simulated']:
                    raise BatterySourceError(
                        f'source "psutil" is unusable ({error}) and fallback_to_simulated is '
                        'false; run with source:=simulated or fallback_to_simulated:=true'
                    ) from error
                self.get_logger().warning(
                    'falling back to the simulated battery (fallback_to_simulated is true)')
        return self._new_simulated_battery()

    def _new_simulated_battery(self) -> SimulatedBattery:
        """Return a simulated battery built from the current parameter values."""
        values = self._values
        return SimulatedBattery(
            capacity_wh=values['capacity_wh'], idle_draw_w=values['idle_draw_w'],
            time_acceleration=values['time_acceleration'],
            initial_fraction=values['initial_fraction'],
            nominal_voltage_v=values['nominal_voltage_v'], charging=values['charging'],
            charge_power_w=values['charge_power_w'])

    def _describe(self) -> str:
        """Return a one-line account of the configuration, for the start-up log."""
        values = self._values
        if isinstance(self._battery, SimulatedBattery):
            return (f'simulated battery: {values["capacity_wh"]} Wh at '
                    f'{100.0 * self._battery.fraction:.1f} %, idle {values["idle_draw_w"]} W, '
                    f'x{values["time_acceleration"]} time, charging={values["charging"]}; '
                    f'publishing battery_state at {values["rate_hz"]} Hz')
        return f'host battery via psutil; publishing battery_state at {values["rate_hz"]} Hz'

    def _read_snapshot(self) -> BatterySnapshot:
        """Advance the simulation to now (or read the host battery) and return the state."""
        now_s = time.monotonic()
        wall_dt_s, self._last_tick_s = now_s - self._last_tick_s, now_s
        if isinstance(self._battery, SimulatedBattery):
            self._battery.advance(wall_dt_s)
            return self._battery.snapshot()
        try:
            snapshot = self._battery.snapshot()
            self._unavailable_reason = ''
            return snapshot
        except BatteryUnavailableError as error:
            self._unavailable_reason = str(error)
            self.get_logger().error(f'host battery unreadable: {error}',
                                    throttle_duration_sec=_LOG_THROTTLE_S)
            return unavailable_snapshot()

    def _publish_battery_state(self) -> None:
        """Timer callback: publish the battery state; a host read failure publishes NaNs."""
        snapshot = self._read_snapshot()
        self._last_snapshot = snapshot
        values = self._values
        self._battery_publisher.publish(battery_state_message(
            snapshot, self.get_clock().now().to_msg(), values['frame_id'],
            technology=values['technology'], location=values['location'],
            serial_number=values['serial_number']))

    def _on_inference_result(self, message: InferenceResult) -> None:
        """Count a result and drain its energy from the simulated battery (host: count only)."""
        self._results_received += 1
        energy_mj = float(message.energy_mj)
        if not math.isfinite(energy_mj) or energy_mj < 0.0:
            self._results_invalid += 1
            self.get_logger().warning(
                f'ignoring an inference_result with energy_mj={energy_mj} (not a finite, '
                'non-negative number)', throttle_duration_sec=_LOG_THROTTLE_S)
            return
        self._energy_reported_mj += energy_mj
        if isinstance(self._battery, SimulatedBattery):
            self._battery.consume_mj(energy_mj)

    def _publish_diagnostics(self) -> None:
        """Timer callback: publish this node's status on /diagnostics."""
        state = self.lifecycle_state
        array = DiagnosticArray()
        array.header.stamp = self.get_clock().now().to_msg()
        if self._battery is None:
            array.status = [diagnostic_status(
                NODE_NAME, DIAGNOSTIC_WARN, f'{state}: no battery source open',
                {'lifecycle_state': state}, hardware_id=self._values['serial_number'])]
            self._diagnostics_publisher.publish(array)
            return
        snapshot = self._last_snapshot
        assessment = assess_battery(snapshot, self._values['low_fraction'],
                                    self._unavailable_reason)
        shown = snapshot if snapshot is not None else unavailable_snapshot()
        values: Dict[str, object] = {
            'lifecycle_state': state,
            'percentage': shown.percentage,
            'energy_wh': shown.energy_wh,
            'voltage_v': shown.voltage_v,
            'current_a': shown.current_a,
            'power_supply_status': shown.status_name,
            'source': self.source,
            'charging': bool(self._values['charging']) if self.source == SOURCE_SIMULATED
            else shown.status_name in ('charging', 'full'),
            'results_received': self._results_received,
            'results_invalid': self._results_invalid,
            'energy_consumed_mj': self._energy_reported_mj,
        }
        if isinstance(self._battery, SimulatedBattery):
            values['energy_drained_mj'] = self._battery.inference_energy_drained_mj
            values['time_acceleration'] = self._battery.time_acceleration
        status = diagnostic_status_message(NODE_NAME, assessment, values,
                                           hardware_id=self._values['serial_number'])
        if state != 'active':
            status.level = bytes([max(status.level[0], DIAGNOSTIC_WARN)])
            status.message = f'{state}: battery_state not published; {status.message}'
        array.status = [status]
        self._diagnostics_publisher.publish(array)

    def _on_parameters_changed(self, changed: Dict[str, Any]) -> None:
        """Post-set hook: apply validated parameter changes to the timer and the battery."""
        self._values.update(changed)
        if 'rate_hz' in changed and self._publish_timer is not None:
            self._stop_publishing()
            self._start_publishing()
        battery = self._battery
        if isinstance(battery, SimulatedBattery):
            # Applies from the last publication tick (at most one period early).
            for name in _SIMULATION_PARAMETERS:
                if name in changed:
                    setattr(battery, name, changed[name])
            if 'charging' in changed:
                battery.charging = changed['charging']
            if 'initial_fraction' in changed:
                battery.reset(changed['initial_fraction'])
        elif battery is not None and \
                set(changed) & set(_SIMULATION_PARAMETERS + ('charging', 'initial_fraction')):
            self.get_logger().warning(
                'simulation parameters have no effect with the host battery (source psutil)')
        self.get_logger().info(f'parameters changed: {changed}')


def run(args: Optional[List[str]] = None) -> int:
    """
    Run the battery node until SIGINT / SIGTERM; return the process exit status.

    Signals go through ``nodes/shutdown.py`` as in the controller: under ``ros2 launch`` a
    Ctrl-C arrives twice (the terminal's, then launch's own), and with rclpy's handlers the
    second one hit the node while it was tearing down: "process has died ... exit code -2".
    """
    signals = ShutdownSignals().install()
    try:
        with rclpy.init(args=args, signal_handler_options=SignalHandlerOptions.NO):
            try:
                node = BatteryNode()
            except (BatterySourceError, ParameterDeclarationError, NodeStartError) as error:
                get_logger(NODE_NAME).fatal(str(error))
                return 1
            executor = SingleThreadedExecutor()
            executor.add_node(node)
            try:
                spin_until_shutdown(executor, signals)
            finally:
                node.destroy_node()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    return 0


def main(args: Optional[List[str]] = None) -> NoReturn:
    """Run the battery node, then end the process at once (see ``nodes/process_exit.py``)."""
    end_process(run(args))


if __name__ == '__main__':
    main()
