"""
The edge expert across two hosts: network namespaces joined by an emulated (bad) Wi-Fi link.

The robot (battery_node, controller_node with ``edge_offload``, and a driver that publishes
commands and reads results) lives in one namespace, the expert server in the other; between
them only ``../shared/netlab/linkemu.py`` (delay, loss, partitions; this kernel has no
``tc netem``), DDS discovering on localhost plus ``ROS_STATIC_PEERS``. One module fixture starts
them (loading the models is the slow part); the tests then change the link and check what the
controller did with each command: offloaded on a good link, answered on the robot when the
round trip outgrows the deadline, every command answered exactly once through a partition,
offloading again once the link heals, stale replays rejected and a replayed stop honoured.

Needs root, ``ip``, ``/dev/net/tun`` and the netlab folder; skips with the reason elsewhere
(fails on CI, where ``ADAPTIVE_NLP_REQUIRE_TOOLS=1``). Namespaces, emulator and nodes are
removed even when a test fails.
"""

import time
from typing import Iterator, List

from conftest import require
from netlab_hosts import netlab_problem, NetlabError, start_edge_pair, stream, TwoHosts
import pytest

DEADLINE_MS = 150
MAX_COMMAND_AGE_S = 1.0
SERVER_NAME = '/expert_server'
ANSWER_TIMEOUT_S = 30.0
# A hang guard, not a timing claim: on two shared cores a local answer can take 0.3 s or more.
LOCAL_ALLOWANCE_MS = 1500.0


@pytest.fixture(scope='module')
def hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TwoHosts]:
    """Start the robot and the server on two hosts; match the robot's driver to its controller."""
    problem = netlab_problem()
    require(problem is None, f'two-host tests: {problem}')
    world = TwoHosts(tmp_path_factory.mktemp('edge_netns'))
    try:
        try:
            start_edge_pair(world, DEADLINE_MS, MAX_COMMAND_AGE_S)
        except NetlabError as error:
            require(False, f'two-host tests: {error}')
        yield world
        for process in world.processes:           # a clean end, checked, when all went well
            process.stop()
    finally:
        world.down()


def _tagged(prefix: str, count: int) -> List[str]:
    """Return ``count`` distinct ordinary commands."""
    return [f'{prefix} go to the kitchen and bring the cup number {index}'
            for index in range(count)]


def _check_bounded(results: List[dict]) -> None:
    """Every result answered; none waited for the server beyond the deadline."""
    for result in results:
        assert result['status'] == 0, result
        if result['executed_on'] == SERVER_NAME:
            assert result['round_trip_ms'] < DEADLINE_MS, result
        assert result['latency_ms'] < DEADLINE_MS + LOCAL_ALLOWANCE_MS, result


def test_a_good_link_offloads_to_the_server(hosts):
    hosts.set_link(delay_ms=0, up=True)
    results = stream(hosts.robot, _tagged('good', 8), 0.1)
    _check_bounded(results)
    offloaded = [result for result in results if result['executed_on'] == SERVER_NAME]
    assert len(offloaded) >= 6, [result['reason'] for result in results]
    assert all(result['strategy'] == 'edge_offload' for result in results)
    assert all(result['actions'] for result in offloaded)


def test_a_round_trip_beyond_the_deadline_moves_to_the_robot_and_back(hosts):
    hosts.set_link(delay_ms=100, up=True)       # +200 ms round trip against 150 ms
    results = stream(hosts.robot, _tagged('slow', 10), 0.2)
    _check_bounded(results)
    assert all(result['executed_on'] == 'robot' for result in results[-5:]), \
        [result['reason'] for result in results]
    assert any('no reply within the deadline' in result['reason']
               or 'round trip' in result['reason'] for result in results)
    hosts.set_link(delay_ms=0, up=True)         # healed: probes see it, offloading resumes
    healed = stream(hosts.robot, _tagged('healed', 20), 0.2)
    _check_bounded(healed)
    assert any(result['executed_on'] == SERVER_NAME for result in healed[-10:]), \
        [result['reason'] for result in healed]


def test_a_partition_mid_stream_answers_every_command_once(hosts):
    hosts.set_link(delay_ms=0, up=True)
    texts = _tagged('partition', 30)

    def link(index: int) -> None:
        if index == 8:
            hosts.set_link(up=False)
        elif index == 22:
            hosts.set_link(up=True)

    results = stream(hosts.robot, texts, 0.1, during=link)
    _check_bounded(results)
    assert sorted(result['text'] for result in results) == sorted(texts)   # none lost, none twice
    assert len({result['request_id'] for result in results}) == len(texts)
    during = results[10:22]
    assert all(result['executed_on'] == 'robot' for result in during[2:]), \
        [result['reason'] for result in during]


def test_a_replay_after_an_outage_is_rejected_stale_but_a_stop_is_honoured(hosts):
    hosts.set_link(delay_ms=0, up=True)
    operator = hosts.driver(hosts.server_ns, hosts.robot_ip, results=False)
    operator.match()                               # its commands cross the link to the robot
    robot = hosts.robot
    before = len(robot.results())
    hosts.set_link(up=False)
    stale = ['replay go to the door', 'replay bring me the red cup']
    for text in stale + ['stop']:
        operator.send({'op': 'send', 'text': text})
    operator.wait_until(lambda: sum(event['event'] == 'sent' for event in operator.events) == 3,
                        10.0, 'the sends')
    time.sleep(MAX_COMMAND_AGE_S + 1.0)            # the outage outlasts max_command_age_s
    hosts.set_link(up=True)
    robot.wait_until(lambda: len(robot.results()) >= before + 3, ANSWER_TIMEOUT_S,
                     'the replayed commands')
    by_text = {result['text']: result for result in robot.results()[before:]}
    for text in stale:
        assert by_text[text]['status'] == 1 and 'stale' in by_text[text]['reason'], by_text
    assert by_text['stop']['status'] == 0 and by_text['stop']['label'] == 'stop', by_text
    assert by_text['stop']['executed_on'] == 'robot'
