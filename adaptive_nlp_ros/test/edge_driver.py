"""
A test's hands inside a network namespace: publishes text commands, reports results.

``test_edge_netns.py`` runs this under ``ip netns exec`` (the test process itself stays in the
root namespace) and talks to it in JSON lines: on stdin ``{"op": "match"}`` (report once the
command publisher and, unless ``--no-results``, the result subscription have matched the
controller) and ``{"op": "send", "text": ...}``; on stdout ``{"event": "matched"}``,
``{"event": "sent", "text": ...}`` and one ``{"event": "result", ...}`` per InferenceResult.
It ends at the end of stdin.
"""

import argparse
import json
import math
import queue
import sys
import threading

from adaptive_nlp_ros_msgs.msg import InferenceResult
import rclpy
from rclpy.executors import ExternalShutdownException, SingleThreadedExecutor
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
from std_msgs.msg import String


def _say(event: dict) -> None:
    """Write one JSON line to stdout."""
    sys.stdout.write(json.dumps(event) + '\n')
    sys.stdout.flush()


def _result_event(message: InferenceResult) -> dict:
    """Return what the test reads of a result."""
    configuration = message.configuration
    rtt = float(configuration.round_trip_ms)
    return {'event': 'result', 'request_id': int(message.request_id),
            'text': message.input_text, 'status': int(message.status),
            'label': message.label, 'reason': message.reason,
            'latency_ms': float(message.latency_ms),
            'executed_on': configuration.executed_on,
            'strategy': configuration.strategy,
            'round_trip_ms': None if math.isnan(rtt) else rtt,
            'actions': [action.intent for action in message.actions]}


def main() -> int:
    """Run until stdin ends."""
    parser = argparse.ArgumentParser()
    parser.add_argument('--namespace', default='/')
    parser.add_argument('--no-results', action='store_true')
    options = parser.parse_args()
    rclpy.init()
    node = rclpy.create_node('edge_driver', namespace=options.namespace)
    publisher = node.create_publisher(
        String, 'text_command', QoSProfile(depth=100, history=HistoryPolicy.KEEP_LAST,
                                           reliability=ReliabilityPolicy.RELIABLE))
    subscription = None
    if not options.no_results:
        subscription = node.create_subscription(
            InferenceResult, 'inference_result', lambda message: _say(_result_event(message)),
            QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE))
    operations: 'queue.Queue[dict]' = queue.Queue()
    waiting_for_match = []

    def read_stdin() -> None:
        for line in sys.stdin:
            if line.strip():
                operations.put(json.loads(line))
        operations.put({'op': 'end'})

    def serve() -> None:
        while True:
            try:
                operation = operations.get_nowait()
            except queue.Empty:
                break
            if operation['op'] == 'end':
                raise ExternalShutdownException()
            if operation['op'] == 'match':
                waiting_for_match.append(True)
            elif operation['op'] == 'send':
                publisher.publish(String(data=operation['text']))
                _say({'event': 'sent', 'text': operation['text']})
        if waiting_for_match and publisher.get_subscription_count() >= 1 and (
                subscription is None or subscription.get_publisher_count() >= 1):
            waiting_for_match.clear()
            _say({'event': 'matched'})

    threading.Thread(target=read_stdin, daemon=True).start()
    node.create_timer(0.01, serve)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    try:
        executor.spin()
    except (KeyboardInterrupt, ExternalShutdownException):
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()
    return 0


if __name__ == '__main__':
    sys.exit(main())
