"""
QoS the user can set (qos_overrides.* parameters) and a QoS mismatch that is reported.

The declared override parameters are read from nodes in the test process and compared with
the README's table, so the documented defaults are the real ones. The mismatch test runs the
controller as its own process (a separate DDS participant, as a real publisher would be).
"""

import pathlib
import re
from typing import Dict, Tuple

from adaptive_nlp_ros.core.controller.engines import ControllerEngines
from adaptive_nlp_ros.nodes.battery_node import BatteryNode
from adaptive_nlp_ros.nodes.controller_node import ControllerNode
from diagnostic_msgs.msg import DiagnosticArray
from rclpy.event_handler import PublisherEventCallbacks
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy
from std_msgs.msg import String

README = pathlib.Path(__file__).resolve().parents[2] / 'README.md'
POLICIES = ('history', 'depth', 'reliability', 'durability')
RELIABLE_10 = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)


def declared_overrides(node) -> Dict[Tuple[str, str], Tuple[str, ...]]:
    """Return {(topic, publisher|subscription): (history, depth, reliability, durability)}."""
    values: Dict[Tuple[str, str], Dict[str, str]] = {}
    for name, parameter in node.get_parameters_by_prefix('qos_overrides').items():
        topic, entity, policy = name.rsplit('.', 2)
        values.setdefault((topic, entity), {})[policy] = str(parameter.value)
    return {key: tuple(policies[policy] for policy in POLICIES)
            for key, policies in values.items()}


def documented_overrides(node_name: str) -> Dict[Tuple[str, str], Tuple[str, ...]]:
    """Return the README's QoS table rows for ``node_name``, in the same form."""
    rows = {}
    pattern = re.compile(r'^\| `' + node_name + r'` \| `(/[\w/]+)` \| (publisher|subscription) '
                         r'\| `(\w+)` \| `(\d+)` \| `(\w+)` \| `(\w+)` \|$')
    for line in README.read_text(encoding='utf-8').splitlines():
        match = pattern.match(line)
        if match:
            topic, entity, *policies = match.groups()
            rows[(topic, entity)] = tuple(policies)
    return rows


def test_every_topic_takes_override_parameters_documented_with_their_defaults(
        ros_domain, text_engine):
    controller = ControllerNode(engines=ControllerEngines(text_engine),
                                context=ros_domain.context)
    battery = BatteryNode(context=ros_domain.context)
    try:
        for node in (controller, battery):
            declared = declared_overrides(node)
            assert declared == documented_overrides(node.get_name())
        declared = declared_overrides(controller)
        assert declared[('/text_command', 'subscription')] == \
            ('keep_all', '1000', 'reliable', 'volatile')
        assert declared[('/battery_state', 'subscription')][2] == 'best_effort'
        assert declared[('/chosen_configuration', 'publisher')][3] == 'transient_local'
        assert set(declared_overrides(battery)) == {
            ('/battery_state', 'publisher'), ('/inference_result', 'subscription'),
            ('/diagnostics', 'publisher')}
    finally:
        controller.destroy_node()
        battery.destroy_node()


def subscription_reliability(ros_domain, topic: str) -> ReliabilityPolicy:
    """Return the reliability the controller_node subscribes to ``topic`` with."""
    endpoints = [info for info in ros_domain.node.get_subscriptions_info_by_topic(topic)
                 if info.node_name == 'controller_node']
    assert len(endpoints) == 1, endpoints
    return endpoints[0].qos_profile.reliability


def test_image_qos_is_a_shorthand_and_an_explicit_override_wins(ros_domain, text_engine):
    """image_qos:=best_effort alone gives best effort; with the override, reliable wins."""
    overrides = [[Parameter('image_qos', value='best_effort')],
                 [Parameter('image_qos', value='best_effort'),
                  Parameter('qos_overrides./image_command.subscription.reliability',
                            value='reliable'),
                  Parameter('qos_overrides./text_command.subscription.reliability',
                            value='best_effort')]]
    seen = []
    for parameters in overrides:
        node = ControllerNode(engines=ControllerEngines(text_engine),
                              context=ros_domain.context, parameter_overrides=parameters)
        try:
            seen.append((subscription_reliability(ros_domain, '/image_command'),
                         subscription_reliability(ros_domain, '/text_command')))
        finally:
            node.destroy_node()
    assert seen == [(ReliabilityPolicy.BEST_EFFORT, ReliabilityPolicy.RELIABLE),
                    (ReliabilityPolicy.RELIABLE, ReliabilityPolicy.BEST_EFFORT)]


def test_an_unknown_override_value_stops_the_start_with_rclpys_reason(ros_domain):
    process = ros_domain.start_node('controller_node', parameters={
        'qos_overrides./text_command.subscription.reliability': 'sometimes'})
    assert process.wait_exit(timeout_s=60.0) == 1, process.describe()
    assert 'cannot create the topics' in process.stderr and 'sometimes' in process.stderr
    assert 'Traceback' not in process.stderr, process.describe()


def _configured_controller(ros_domain):
    """Start a controller; return it and its diagnostics, once its status is published."""
    process = ros_domain.start_node('controller_node', parameters={'battery_timeout_s': 3600.0})
    diagnostics = ros_domain.collect(DiagnosticArray, '/diagnostics', RELIABLE_10)
    diagnostics.wait_for(lambda array: any(status.name == 'controller_node'
                                           for status in array.status),
                         timeout_s=60.0, what='the controller, configured')
    return process, diagnostics


def _diagnostic_count(array: DiagnosticArray, key: str) -> int:
    """Return the controller's integer ``key`` in one diagnostics message (0 when absent)."""
    for status in array.status:
        if status.name == 'controller_node':
            values = {pair.key: pair.value for pair in status.values}
            return int(values.get(key, 0))
    return 0


def test_an_incompatible_publisher_is_logged_once_with_both_profiles_and_counted(ros_domain):
    """A best-effort publisher cannot reach the reliable text_command subscription: said."""
    process, diagnostics = _configured_controller(ros_domain)
    offered = []                    # this side's own event (rclpy would log a warning)
    ros_domain.node.create_publisher(
        String, 'text_command', QoSProfile(depth=10, reliability=ReliabilityPolicy.BEST_EFFORT),
        event_callbacks=PublisherEventCallbacks(incompatible_qos=offered.append))
    diagnostics.wait_for(
        lambda array: _diagnostic_count(array, 'qos_incompatible_text_command') == 1,
        timeout_s=20.0, what='qos_incompatible_text_command = 1')
    ros_domain.spin_until(lambda: bool(offered), 10.0, "the publisher's own mismatch event")
    after = len(diagnostics)
    diagnostics.wait_for(after=after + 1, what='two more diagnostics ticks')
    warnings = [line for line in process.stderr.splitlines()
                if '/text_command: the publisher of /test_probe' in line]
    assert len(warnings) == 1, process.stderr
    assert 'offers QoS (reliability=best_effort' in warnings[0]
    assert 'requesting (reliability=reliable, durability=volatile' in warnings[0]
    assert 'qos_overrides./text_command.subscription.<policy>' in warnings[0]


def test_a_publisher_of_another_type_is_logged_once_and_counted(ros_domain):
    """``std_msgs/Int32`` on text_command reaches nothing: the controller says so."""
    from std_msgs.msg import Int32

    process, diagnostics = _configured_controller(ros_domain)
    ros_domain.node.create_publisher(Int32, 'text_command', 10)
    diagnostics.wait_for(
        lambda array: _diagnostic_count(array, 'wrong_type_publishers_text_command') == 1,
        timeout_s=20.0, what='wrong_type_publishers_text_command = 1')
    after = len(diagnostics)
    diagnostics.wait_for(after=after + 1, what='one more diagnostics tick')
    warnings = [line for line in process.stderr.splitlines()
                if 'publishes std_msgs/msg/Int32, but this topic takes std_msgs/msg/String'
                in line]
    assert len(warnings) == 1, process.stderr
