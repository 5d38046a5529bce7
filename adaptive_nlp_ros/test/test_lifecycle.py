"""
The lifecycle of battery_node and controller_node, on nodes in the test process.

``ros2 lifecycle get/set`` on the launched nodes is tested in test_ros2_cli.py and the launch
file's lifecycle events in test_launch_file.py; here the transitions are triggered on the
node objects, to look inside: what configure loads, what cleanup frees, what shutdown leaves.
"""

import gc
import threading
import weakref

from adaptive_nlp_ros.core.controller.engines import ControllerEngines
from adaptive_nlp_ros.nodes.battery_node import BatteryNode
from adaptive_nlp_ros.nodes.controller_node import ControllerNode
from diagnostic_msgs.msg import DiagnosticArray
import pytest
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter
from rclpy.qos import QoSProfile, ReliabilityPolicy

SUCCESS = TransitionCallbackReturn.SUCCESS
MANUAL = Parameter('autostart', value=False)
RELIABLE_10 = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)


def topics_of(node) -> set:
    """Return the topics the node publishes or subscribes to now."""
    name, namespace = node.get_name(), node.get_namespace()
    return {topic for topic, _ in
            node.get_publisher_names_and_types_by_node(name, namespace)
            + node.get_subscriber_names_and_types_by_node(name, namespace)}


def test_configure_loads_the_models_and_cleanup_frees_them(ros_domain, artifacts_dir):
    """Unconfigured: no models, no command topics. Configure loads; cleanup releases them."""
    node = ControllerNode(context=ros_domain.context, parameter_overrides=[
        MANUAL, Parameter('artifacts_dir', value=str(artifacts_dir))])
    try:
        assert (node.lifecycle_state, node.controller) == ('unconfigured', None)
        assert '/text_command' not in topics_of(node)
        assert node.trigger_configure() == SUCCESS
        assert node.lifecycle_state == 'inactive' and not node.controller.active
        assert {'/text_command', '/image_command', '/inference_result'} <= topics_of(node)
        engines = weakref.ref(node.controller.engines)
        text_engine = weakref.ref(node.controller.engines.text)
        assert node.trigger_activate() == SUCCESS and node.controller.active
        assert node.trigger_deactivate() == SUCCESS
        assert node.trigger_cleanup() == SUCCESS
        gc.collect()
        assert (engines(), text_engine()) == (None, None), 'cleanup kept the models alive'
        assert node.lifecycle_state == 'unconfigured'
        assert '/text_command' not in topics_of(node)
    finally:
        node.destroy_node()


@pytest.mark.parametrize('state, steps', [
    ('unconfigured', ()), ('inactive', ('configure',)), ('active', ('configure', 'activate'))])
def test_shutdown_from_every_state_finalizes_the_battery_node(ros_domain, state, steps):
    """Shutdown works from unconfigured, inactive and active, and leaves no topic behind."""
    node = BatteryNode(context=ros_domain.context, parameter_overrides=[MANUAL])
    try:
        for step in steps:
            assert getattr(node, f'trigger_{step}')() == SUCCESS
        assert node.lifecycle_state == state
        assert node.trigger_shutdown() == SUCCESS
        assert node.lifecycle_state == 'finalized'
        assert not {'/battery_state', '/inference_result'} & topics_of(node)
    finally:
        node.destroy_node()


def test_shutdown_of_an_active_controller_stops_its_worker(ros_domain, text_engine):
    """From active, shutdown stops inference and releases the controller (worker ended)."""
    node = ControllerNode(engines=ControllerEngines(text_engine), context=ros_domain.context)
    try:
        assert node.lifecycle_state == 'active'              # autostart (the default)
        assert any(thread.name == 'controller_worker' for thread in threading.enumerate())
        assert node.trigger_shutdown() == SUCCESS
        assert (node.lifecycle_state, node.controller) == ('finalized', None)
        assert not any(thread.name == 'controller_worker' and thread.is_alive()
                       for thread in threading.enumerate())
    finally:
        node.destroy_node()


def test_diagnostics_report_the_state_even_unconfigured(ros_domain):
    """An unconfigured battery node already reports its state on /diagnostics (WARN)."""
    node = BatteryNode(context=ros_domain.context, parameter_overrides=[MANUAL])
    ros_domain.executor.add_node(node)
    try:
        log = ros_domain.collect(DiagnosticArray, '/diagnostics', RELIABLE_10)
        message = log.wait_for(lambda array: any(status.name == 'battery_node'
                                                 for status in array.status),
                               what='a battery_node status')
        status = next(status for status in message.status if status.name == 'battery_node')
        assert {pair.key: pair.value for pair in status.values} == \
            {'lifecycle_state': 'unconfigured'}
        assert status.level == bytes([1]) and status.message.startswith('unconfigured')
    finally:
        ros_domain.executor.remove_node(node)
        node.destroy_node()
