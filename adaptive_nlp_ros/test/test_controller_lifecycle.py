"""controller_node's start and end: missing artifacts, in-process shutdown without leftovers."""

import threading

from adaptive_nlp_ros.core.controller.engines import ControllerEngines
from adaptive_nlp_ros.nodes.controller_node import ControllerNode
from adaptive_nlp_ros_msgs.msg import InferenceResult
from rclpy.qos import QoSProfile, ReliabilityPolicy
from std_msgs.msg import String

RELIABLE_100 = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)


def test_missing_artifacts_exit_1_naming_the_build_command(ros_domain, tmp_path):
    """Started on an empty folder it says which command builds the artifacts and exits 1."""
    process = ros_domain.start_node('controller_node',
                                    parameters={'artifacts_dir': str(tmp_path)})
    assert process.wait_exit(timeout_s=30.0) == 1, process.describe()
    assert 'adaptive-nlp train' in process.stderr, process.describe()
    assert str(tmp_path / 'manifest.json') in process.stderr
    assert 'Traceback' not in process.stderr, process.describe()


def test_unknown_start_up_strategy_exits_1_with_the_valid_names(ros_domain, artifacts_dir):
    """A start-up strategy that cannot run is refused with the list of valid ones."""
    process = ros_domain.start_node('controller_node', parameters={'strategy': 'oracle'})
    assert process.wait_exit(timeout_s=60.0) == 1, process.describe()
    assert 'evaluation-only' in process.stderr and 'early_exit' in process.stderr
    assert 'Traceback' not in process.stderr, process.describe()


def test_in_process_controller_leaves_no_thread_behind(ros_domain, text_engine):
    """Composed in a process (as the demo does), destroying it ends its worker thread."""
    threads_before = {thread.ident for thread in threading.enumerate()}
    node = ControllerNode(engines=ControllerEngines(text_engine), context=ros_domain.context)
    ros_domain.executor.add_node(node)
    try:
        assert any(thread.name == 'controller_worker' for thread in threading.enumerate())
        results = ros_domain.collect(InferenceResult, 'inference_result', RELIABLE_100)
        publisher = ros_domain.node.create_publisher(String, 'text_command', RELIABLE_100)
        ros_domain.wait_for_subscribers(publisher)
        ros_domain.wait_for_publishers(results.subscription)
        publisher.publish(String(data='go to the kitchen'))
        result = results.wait_for(what='the result')
        assert result.label == 'navigate' and result.status == InferenceResult.STATUS_ANSWERED
        # The image model was not given: image commands are answered REJECTED, not lost.
        assert node.controller.engines.image is None
    finally:
        ros_domain.executor.remove_node(node)
        node.destroy_node()
    left = [thread for thread in threading.enumerate()
            if thread.ident not in threads_before and thread.is_alive()]
    assert not left, f'threads left behind: {left}'
