"""
battery_node in its own process, seen from the test process through real rclpy.

Each test starts the node on the test's own domain (see conftest.py), talks to it through its
topics and parameter services, and ends it with SIGINT, asserting a clean exit.
"""

import math
import time
from typing import Any, Dict, List

from adaptive_nlp_ros_msgs.msg import InferenceResult
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus
import pytest
from rcl_interfaces.srv import GetParameters, SetParameters
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import BatteryState

# A small, slow battery (1 Wh; idle 0.36 W at 12 V = 0.01 % per second) so that what the tests
# do to it (inference energy, charging) dominates what idling does.
CAPACITY_WH = 1.0
IDLE_DRAW_W = 0.36
VOLTAGE_V = 12.0
NODE_PARAMETERS: Dict[str, Any] = {
    'rate_hz': 20.0,
    'capacity_wh': CAPACITY_WH,
    'idle_draw_w': IDLE_DRAW_W,
    'time_acceleration': 1.0,
    'initial_fraction': 0.8,
    'nominal_voltage_v': VOLTAGE_V,
    'charge_power_w': 36.0,
    'frame_id': 'test_battery_frame',
    'location': 'slot 1',
    'serial_number': 'SN-42',
}
RELIABLE_10 = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
RELIABLE_100 = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)


def start_battery_node(ros_domain, **overrides: Any):
    """Start battery_node with the test parameters (plus overrides); return the process."""
    return ros_domain.start_node('battery_node', parameters={**NODE_PARAMETERS, **overrides})


def battery_states(ros_domain):
    """Subscribe to battery_state and wait until the node's publisher is matched."""
    log = ros_domain.collect(BatteryState, 'battery_state', RELIABLE_10)
    ros_domain.wait_for_publishers(log.subscription)
    return log


def set_parameters(ros_domain, parameters: List[Parameter]):
    """Set parameters through /battery_node/set_parameters; return the per-parameter results."""
    client = ros_domain.node.create_client(SetParameters, '/battery_node/set_parameters')
    request = SetParameters.Request(
        parameters=[parameter.to_parameter_msg() for parameter in parameters])
    return ros_domain.call_service(client, request).results


def get_parameter_values(ros_domain, names: List[str]) -> List[Any]:
    """Read parameters through /battery_node/get_parameters, as Python values."""
    client = ros_domain.node.create_client(GetParameters, '/battery_node/get_parameters')
    response = ros_domain.call_service(client, GetParameters.Request(names=names))
    return [Parameter.from_parameter_msg(_named(name, value)).value
            for name, value in zip(names, response.values)]


def _named(name: str, value):
    """Wrap a ParameterValue as an rcl_interfaces Parameter message."""
    from rcl_interfaces.msg import Parameter as ParameterMessage
    return ParameterMessage(name=name, value=value)


def test_battery_state_fields(ros_domain):
    """Every BatteryState field holds what the message definition asks for."""
    process = start_battery_node(ros_domain)
    log = battery_states(ros_domain)
    message = log.wait_for(what='a BatteryState')

    assert 0.0 <= message.percentage <= 1.0
    assert message.percentage == pytest.approx(0.8, abs=0.01)
    assert message.voltage == pytest.approx(VOLTAGE_V)
    assert message.current < 0.0                      # discharging
    assert message.current == pytest.approx(-IDLE_DRAW_W / VOLTAGE_V, rel=0.05)
    capacity_ah = CAPACITY_WH / VOLTAGE_V
    assert message.capacity == pytest.approx(capacity_ah, rel=1e-5)
    assert message.design_capacity == pytest.approx(capacity_ah, rel=1e-5)
    assert message.charge == pytest.approx(message.percentage * capacity_ah, rel=1e-4)
    assert message.power_supply_status == BatteryState.POWER_SUPPLY_STATUS_DISCHARGING
    assert message.power_supply_health == BatteryState.POWER_SUPPLY_HEALTH_UNKNOWN
    assert message.power_supply_technology == BatteryState.POWER_SUPPLY_TECHNOLOGY_LION
    assert message.present is True
    assert math.isnan(message.temperature)
    assert list(message.cell_voltage) == [] and list(message.cell_temperature) == []
    assert message.location == 'slot 1' and message.serial_number == 'SN-42'
    assert message.header.frame_id == 'test_battery_frame'
    assert message.header.stamp.sec > 0 or message.header.stamp.nanosec > 0
    process.stop()


def test_inference_energy_drains_faster_than_idle(ros_domain):
    """Large reported inference energies pull the percentage down far faster than idling."""
    process = start_battery_node(ros_domain)
    log = battery_states(ros_domain)
    publisher = ros_domain.node.create_publisher(
        InferenceResult, 'inference_result', RELIABLE_100)
    ros_domain.wait_for_subscribers(publisher)
    before = log.wait_for(what='a BatteryState before the results')
    started_s = time.monotonic()

    # 72 J each = 2 % of 1 Wh; five of them: 10 %.
    for request_id in range(5):
        publisher.publish(InferenceResult(request_id=request_id, energy_mj=72000.0,
                                          status=InferenceResult.STATUS_ANSWERED))
    target = before.percentage - 0.095
    after = log.wait_for(lambda message: message.percentage <= target, after=len(log),
                         what=f'the percentage to fall below {target:.3f}')
    elapsed_s = time.monotonic() - started_s
    idle_only_drop = IDLE_DRAW_W * elapsed_s / (CAPACITY_WH * 3600.0)
    assert before.percentage - after.percentage > 10.0 * idle_only_drop
    process.stop()


def test_charging_parameter_raises_percentage(ros_domain):
    """Setting charging:=true through the parameter service makes the percentage rise."""
    process = start_battery_node(ros_domain)
    log = battery_states(ros_domain)
    log.wait_for(what='a BatteryState while discharging')

    results = set_parameters(ros_domain, [Parameter('charging', value=True)])
    assert results[0].successful, results[0].reason
    first = log.wait_for(
        lambda message: message.power_supply_status == BatteryState.POWER_SUPPLY_STATUS_CHARGING,
        after=len(log), what='a CHARGING BatteryState')
    assert first.current > 0.0
    risen = first.percentage + 0.002
    log.wait_for(lambda message: message.percentage >= risen, after=len(log),
                 what=f'the percentage to rise to {risen:.4f}')
    assert get_parameter_values(ros_domain, ['charging']) == [True]
    process.stop()


def test_invalid_parameter_values_are_refused(ros_domain):
    """Out-of-range, wrong-choice and read-only changes are refused with a reason; old kept."""
    process = start_battery_node(ros_domain)
    battery_states(ros_domain)

    refusals = {
        'rate_hz': Parameter('rate_hz', value=-1.0),              # out of range
        'technology': Parameter('technology', value='banana'),    # not a choice
        'source': Parameter('source', value='psutil'),            # read-only
    }
    for name, parameter in refusals.items():
        result = set_parameters(ros_domain, [parameter])[0]
        assert not result.successful, f'{name}={parameter.value} was accepted'
        assert name in result.reason, result.reason
    assert get_parameter_values(ros_domain, ['rate_hz', 'technology', 'source']) == \
        [20.0, 'lion', 'simulated']

    # A valid change is taken, and publication continues at the new rate.
    assert set_parameters(ros_domain, [Parameter('rate_hz', value=5.0)])[0].successful
    assert get_parameter_values(ros_domain, ['rate_hz']) == [5.0]
    process.stop()
    assert 'refused parameter change' in process.stderr
    assert 'rate_hz = -1.0 is below its minimum' in process.stderr


def test_diagnostics_status(ros_domain):
    """/diagnostics carries a battery_node status; a low level turns it to WARN."""
    process = start_battery_node(ros_domain)
    log = ros_domain.collect(DiagnosticArray, '/diagnostics', RELIABLE_10)
    ros_domain.wait_for_publishers(log.subscription)

    def battery_status(array: DiagnosticArray):
        return next((status for status in array.status if status.name == 'battery_node'), None)

    array = log.wait_for(lambda array: battery_status(array) is not None,
                         what='a battery_node diagnostic status')
    status = battery_status(array)
    assert status.level == DiagnosticStatus.OK, status.message
    values = {pair.key: pair.value for pair in status.values}
    for key in ('percentage', 'energy_wh', 'source', 'charging', 'results_received',
                'energy_consumed_mj'):
        assert key in values, values
    assert values['source'] == 'simulated'
    assert float(values['percentage']) == pytest.approx(0.8, abs=0.01)

    # initial_fraction at run time resets the level: below low_fraction (0.2) is a warning.
    assert set_parameters(ros_domain, [Parameter('initial_fraction', value=0.1)])[0].successful
    log.wait_for(lambda array: getattr(battery_status(array), 'level', None)
                 == DiagnosticStatus.WARN, after=len(log), what='a WARN battery_node status')
    process.stop()


def test_psutil_source_without_battery(ros_domain):
    """With source psutil and no battery: exit 1 with a clear error, or fall back."""
    import psutil
    if psutil.sensors_battery() is not None:
        pytest.skip('this host has a battery')

    refused = start_battery_node(ros_domain, source='psutil', fallback_to_simulated=False)
    assert refused.wait_exit() == 1, refused.describe()
    assert 'this host has no battery' in refused.stderr
    assert 'Traceback' not in refused.stderr, refused.describe()

    fallback = start_battery_node(ros_domain, source='psutil', fallback_to_simulated=True)
    log = battery_states(ros_domain)
    message = log.wait_for(what='a BatteryState from the fallback')
    assert message.present and message.percentage == pytest.approx(0.8, abs=0.01)
    fallback.stop()
    assert 'falling back to the simulated battery' in fallback.stderr
