"""
expert_server in the test process, served by its own executor in a thread, seen through rclpy.

The server runs the session's text engine (``text_engine``) in namespace ``/edge`` (as in the
README: it serves ``/edge/understand``) on the test's own domain (``ros_domain``: its own
``ROS_DOMAIN_ID``, ``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST``). The clients (the probe node, or
robot nodes in ``/robot1`` and ``/robot2``) are spun by the test thread. Checked: what each
lifecycle state answers (no service unconfigured, REJECTED ``inactive`` while inactive, a parse
when active), the ``expert_server`` status on /diagnostics and its counters, and several robots
served at once, each getting its own replies. Behaviour only: nothing here is timed.
"""

import math
import threading
import time
from typing import Dict, Iterator, List

from adaptive_nlp_ros.nodes.expert_server import ExpertServerNode, INACTIVE_REASON
from adaptive_nlp_ros_msgs.srv import Understand
from conftest import DISCOVERY_TIMEOUT_S
from diagnostic_msgs.msg import DiagnosticArray
import pytest
import rclpy
from rclpy.executors import SingleThreadedExecutor
from rclpy.lifecycle import TransitionCallbackReturn
from rclpy.parameter import Parameter
from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy

SUCCESS = TransitionCallbackReturn.SUCCESS
MANUAL = Parameter('autostart', value=False)
RELIABLE_10 = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
# The robots' clients keep every reply: a client's reader also receives the replies to the
# other clients of the service (the rmw filters them at take), so with the services default
# (keep last 10) a burst of replies to both robots could overwrite a robot's own.
CLIENT_QOS = QoSProfile(depth=1, history=HistoryPolicy.KEEP_ALL,
                        reliability=ReliabilityPolicy.RELIABLE)
SERVER_NAMESPACE = '/edge'
SERVER_NAME = '/edge/expert_server'
SERVICE = '/edge/understand'
ANSWERED = Understand.Response.STATUS_ANSWERED
REJECTED = Understand.Response.STATUS_REJECTED
OK, WARN = bytes([0]), bytes([1])
DEADLINE_MS = 60000          # far beyond this file's run: no request may expire
REPLY_TIMEOUT_S = 30.0       # a hang bound for replies (two shared cores), not a timing claim
RESEND_AFTER_S = 2.0         # discovery: a request the server got before matching may be lost
DIAGNOSTICS_TIMEOUT_S = 10.0
THREAD_STOP_TIMEOUT_S = 10.0


@pytest.fixture
def server(ros_domain, text_engine) -> Iterator[ExpertServerNode]:
    """Yield an unconfigured expert server in /edge, spun by its own executor in a thread."""
    node = ExpertServerNode(engine=text_engine, context=ros_domain.context,
                            namespace=SERVER_NAMESPACE, parameter_overrides=[MANUAL])
    executor = SingleThreadedExecutor(context=ros_domain.context)
    thread = None
    try:
        executor.add_node(node)
        thread = threading.Thread(target=executor.spin, name='expert_server_executor',
                                  daemon=True)
        thread.start()
        yield node
    finally:
        try:
            executor.shutdown(timeout_sec=THREAD_STOP_TIMEOUT_S)
            if thread is not None:
                thread.join(THREAD_STOP_TIMEOUT_S)
        finally:
            node.destroy_node()
    assert thread is not None and not thread.is_alive(), 'the server executor did not stop'


def request(request_id: int, text: str, robot_id: str = '/test') -> Understand.Request:
    """Return an Understand request that cannot expire during the test."""
    return Understand.Request(request_id=request_id, robot_id=robot_id, text=text,
                              deadline_ms=DEADLINE_MS)


def round_trip(domain, client, message: Understand.Request) -> Understand.Response:
    """
    Call until one reply comes back (discovery), resending a request that got none; return it.

    ``service_is_ready`` says the client's side has matched the server; the server's side may
    not have matched the client yet, and a request it gets from an unknown writer can be
    dropped. Only a reply proves that both ends know each other, so each client's first
    exchange goes through here (a resent request is harmless: the server is inactive then).
    """
    deadline = time.monotonic() + DISCOVERY_TIMEOUT_S
    domain.spin_until(client.service_is_ready, DISCOVERY_TIMEOUT_S,
                      f'service {client.service_name}')
    while True:
        future = client.call_async(message)
        resend = time.monotonic() + RESEND_AFTER_S
        domain.spin_until(lambda: future.done() or time.monotonic() > resend,
                          REPLY_TIMEOUT_S, f'a reply from {client.service_name}')
        if future.done():
            return future.result()
        client.remove_pending_request(future)
        if time.monotonic() > deadline:
            pytest.fail(f'no reply from {client.service_name} within {DISCOVERY_TIMEOUT_S} s')


def offers_service(node: ExpertServerNode) -> bool:
    """Return True if the server node offers its understand service now (its own graph)."""
    return SERVICE in {name for name, _ in node.get_service_names_and_types_by_node(
        node.get_name(), node.get_namespace())}


def actions_of(response: Understand.Response) -> List[tuple]:
    """Return a response's actions as (intent, ((role, value), ...)) tuples."""
    return [(action.intent, tuple((argument.role, argument.value)
                                  for argument in action.arguments))
            for action in response.actions]


def status_values(array: DiagnosticArray) -> Dict[str, str]:
    """Return the expert_server status's values by key ({} when the array has none)."""
    for status in array.status:
        if status.name == 'expert_server':
            return {pair.key: pair.value for pair in status.values}
    return {}


def server_status(array: DiagnosticArray):
    """Return the expert_server status of a DiagnosticArray."""
    return next(status for status in array.status if status.name == 'expert_server')


def assert_rejected_inactive(response: Understand.Response, request_id: int) -> None:
    """Assert the explicit answer of a server that is not active."""
    assert response.status == REJECTED, response
    assert response.reason == INACTIVE_REASON
    assert response.request_id == request_id and response.server == SERVER_NAME
    assert (response.label, list(response.actions)) == ('', [])


def test_each_lifecycle_state_answers_as_documented(ros_domain, server):
    """Unconfigured: no service; inactive: REJECTED inactive; active: a parse; then back."""
    client = ros_domain.node.create_client(Understand, SERVICE)
    assert server.lifecycle_state == 'unconfigured' and server.batcher is None
    assert not offers_service(server), 'an unconfigured server must offer no service'

    assert server.trigger_configure() == SUCCESS
    assert server.lifecycle_state == 'inactive' and offers_service(server)
    assert_rejected_inactive(round_trip(ros_domain, client, request(7, 'go to the kitchen')), 7)

    assert server.trigger_activate() == SUCCESS
    answered = ros_domain.call_service(client, request(7, 'go to the kitchen'),
                                       timeout_s=REPLY_TIMEOUT_S)
    assert answered.status == ANSWERED, answered
    assert (answered.request_id, answered.server) == (7, SERVER_NAME)
    assert answered.label == 'navigate'
    assert actions_of(answered) == [('navigate', (('destination', 'kitchen'),))]
    assert answered.strategy == 'full' and answered.num_layers >= answered.exit_layer > 0
    assert answered.top_labels[0] == 'navigate' and 0.0 < answered.confidence <= 1.0
    # Nothing else was waiting when it arrived; it was computed, in a batch of its own.
    assert (answered.queue_length, answered.batch_size) == (0, 1)
    assert math.isfinite(answered.compute_ms) and answered.compute_ms > 0.0

    assert server.trigger_deactivate() == SUCCESS
    assert_rejected_inactive(ros_domain.call_service(client, request(8, 'go to the garage')), 8)
    assert server.trigger_cleanup() == SUCCESS
    assert server.lifecycle_state == 'unconfigured' and server.batcher is None
    # rclpy destroys the service once the server's executor no longer waits on it.
    ros_domain.spin_until(lambda: not offers_service(server), DISCOVERY_TIMEOUT_S,
                          'cleanup to destroy the service')


def test_diagnostics_carry_the_state_and_the_counters(ros_domain, server):
    """/diagnostics: WARN while unconfigured; active, the counters follow the requests."""
    log = ros_domain.collect(DiagnosticArray, '/diagnostics', RELIABLE_10)
    first = log.wait_for(lambda array: bool(status_values(array)),
                         timeout_s=DIAGNOSTICS_TIMEOUT_S, what='an expert_server status')
    assert status_values(first) == {'lifecycle_state': 'unconfigured'}
    assert server_status(first).level == WARN
    assert server_status(first).message.startswith('unconfigured')

    # Configured but inactive: the counters are there, every request is answered rejected
    # (without counting: the queue never sees it). The round trip also completes discovery.
    assert server.trigger_configure() == SUCCESS
    client = ros_domain.node.create_client(Understand, SERVICE)
    assert_rejected_inactive(round_trip(ros_domain, client, request(1, 'go to the kitchen')), 1)
    inactive = log.wait_for(
        lambda array: status_values(array).get('lifecycle_state') == 'inactive',
        timeout_s=DIAGNOSTICS_TIMEOUT_S, after=len(log), what='an inactive expert_server status')
    assert server_status(inactive).level == WARN
    assert server_status(inactive).message == 'inactive: requests are answered rejected'
    assert status_values(inactive)['requests'] == '0'

    assert server.trigger_activate() == SUCCESS
    idle = log.wait_for(lambda array: status_values(array).get('lifecycle_state') == 'active',
                        timeout_s=DIAGNOSTICS_TIMEOUT_S, after=len(log),
                        what='an active expert_server status')
    values = status_values(idle)
    assert server_status(idle).level == OK
    assert server_status(idle).message == 'serving with full'
    for key in ('requests', 'answered', 'overloaded', 'rejected', 'expired', 'batches',
                'failed', 'queue_length', 'queue_high_water'):
        assert values[key] == '0', (key, values)
    assert values['mean_batch'] == 'nan' and values['strategy'] == 'full'

    texts = ['go to the kitchen', 'pick up the box', 'go to the office']
    futures = [client.call_async(request(index, text)) for index, text in enumerate(texts, 1)]
    futures.append(client.call_async(request(99, '')))
    ros_domain.spin_until(lambda: all(future.done() for future in futures), REPLY_TIMEOUT_S,
                          'the four replies')
    replies = [future.result() for future in futures]
    assert [reply.status for reply in replies] == [ANSWERED] * 3 + [REJECTED]
    assert replies[-1].request_id == 99 and 'empty' in replies[-1].reason

    after = len(log)
    moved = log.wait_for(lambda array: status_values(array).get('requests') == '4',
                         timeout_s=DIAGNOSTICS_TIMEOUT_S, after=after,
                         what='an expert_server status counting the 4 requests')
    values = status_values(moved)
    assert (values['answered'], values['rejected']) == ('3', '1'), values
    assert (values['overloaded'], values['expired'], values['failed']) == ('0', '0', '0')
    assert values['queue_length'] == '0' and int(values['queue_high_water']) >= 1
    batches = int(values['batches'])
    assert 1 <= batches <= 3, values
    assert float(values['mean_batch']) == pytest.approx(3 / batches, rel=1e-4)


def test_two_robots_in_their_namespaces_each_get_their_own_replies(ros_domain, server):
    """/robot1 and /robot2 ask /edge/understand at once with the same ids; none is lost."""
    assert server.trigger_configure() == SUCCESS
    places = ['kitchen', 'garage', 'office', 'bedroom', 'bathroom', 'hallway']
    objects = ['box', 'cup', 'bottle', 'book', 'ball', 'phone']
    robots = {
        '/robot1': [(f'go to the {place}', 'navigate', ('destination', place))
                    for place in places],
        '/robot2': [(f'pick up the {thing}', 'pick', ('object', thing)) for thing in objects],
    }
    nodes, clients = {}, {}
    try:
        for namespace in robots:
            node = rclpy.create_node('controller_node', namespace=namespace,
                                     context=ros_domain.context)
            nodes[namespace] = node
            ros_domain.executor.add_node(node)
            clients[namespace] = node.create_client(Understand, SERVICE, qos_profile=CLIENT_QOS)
        # Discovery, while inactive: each robot's first exchange comes back rejected.
        for namespace, client in clients.items():
            assert_rejected_inactive(round_trip(ros_domain, client, request(
                1, 'stop', nodes[namespace].get_fully_qualified_name())), 1)
        assert server.trigger_activate() == SUCCESS
        # Interleaved, every request sent before any reply is taken: the server's queue and
        # batches mix the robots, and both robots number their requests 1..6. Twelve at once
        # is more than the services default history (10): the server must keep them all.
        futures: Dict[str, List] = {namespace: [] for namespace in robots}
        for index in range(len(places)):
            for namespace, commands in robots.items():
                robot_id = nodes[namespace].get_fully_qualified_name()
                futures[namespace].append(clients[namespace].call_async(
                    request(index + 1, commands[index][0], robot_id)))
        every = [future for sent in futures.values() for future in sent]
        ros_domain.spin_until(lambda: all(future.done() for future in every), REPLY_TIMEOUT_S,
                              f'{len(every)} replies')
        for namespace, commands in robots.items():
            replies = [future.result() for future in futures[namespace]]
            assert [reply.request_id for reply in replies] == list(range(1, len(commands) + 1))
            for reply, (text, label, argument) in zip(replies, commands):
                assert reply.status == ANSWERED, (namespace, text, reply)
                assert reply.server == SERVER_NAME
                assert (reply.label, actions_of(reply)) == (label, [(label, (argument,))]), \
                    f'{namespace} asked {text!r} (id {reply.request_id}) and got {reply}'
                assert 1 <= reply.batch_size <= len(every)
        counts = server.batcher.counts
        assert (counts['requests'], counts['answered']) == (len(every), len(every))
        assert counts['overloaded'] == counts['rejected'] == counts['expired'] == 0
    finally:
        for node in nodes.values():
            ros_domain.executor.remove_node(node)
            node.destroy_node()
