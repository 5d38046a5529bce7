"""
core.offload without ROS: where each command is answered, the wait bound, the server's queue.

The controller runs over the stand-in engine of ``test_controller_core`` and a scriptable
transport (answers at once, holds replies back, says overloaded); the batcher runs over the
real text engine.
"""

import math
import threading
from typing import Callable, List, Tuple

from adaptive_nlp_ros.core.controller.command_validation import check_text
from adaptive_nlp_ros.core.controller.controller import CommandController
from adaptive_nlp_ros.core.controller.controller_parameters import ControllerSettings
from adaptive_nlp_ros.core.controller.engines import ControllerEngines
from adaptive_nlp_ros.core.controller.records import EXECUTED_ON_ROBOT, STATUS_ANSWERED
from adaptive_nlp_ros.core.inference.parse import ParsedAction, ParsedArgument
from adaptive_nlp_ros.core.offload.edge_offload import EdgeOffload, OffloadSettings
from adaptive_nlp_ros.core.offload.expert_batcher import ExpertBatcher
from adaptive_nlp_ros.core.offload.link_estimate import LinkEstimate
from adaptive_nlp_ros.core.offload.radio_energy import RadioModel
from adaptive_nlp_ros.core.offload.understand import (STATUS_EXPIRED, STATUS_OVERLOADED,
                                                      STATUS_REJECTED, UnderstandReply,
                                                      UnderstandRequest)
import pytest
from test_controller_core import Clock, FakeTextEngine, ListLogger

SERVER = '/edge/expert_server'


class FakeTransport:
    """Replies as scripted: 'answer' at once, 'hold' until released, 'overloaded', or never."""

    def __init__(self, clock: Clock) -> None:
        self.clock = clock
        self.mode = 'answer'
        self.rtt_s = 0.01
        self.is_ready = True
        self.sent: List[UnderstandRequest] = []
        self.held: List[Tuple[UnderstandReply, Callable]] = []

    def ready(self) -> bool:
        return self.is_ready

    def reply(self, request: UnderstandRequest, status: int = 0) -> UnderstandReply:
        action = ParsedAction('navigate', 0.99, (ParsedArgument('destination', 'the kitchen',
                                                                9, 20, 0.98),))
        return UnderstandReply(request.request_id, status, label='navigate', confidence=0.99,
                               top_labels=('navigate',), top_scores=(0.99,),
                               actions=(action,) if status == 0 else (), server=SERVER,
                               strategy='full', variant='minilm', exit_layer=6, num_layers=6,
                               batch_size=2, compute_ms=8.0)

    def send(self, request: UnderstandRequest, on_reply) -> None:
        self.sent.append(request)
        if self.mode == 'answer':
            self.clock.now_s += self.rtt_s
            on_reply(self.reply(request))
        elif self.mode == 'overloaded':
            on_reply(self.reply(request, STATUS_OVERLOADED))
        elif self.mode == 'hold':
            self.held.append((self.reply(request), on_reply))

    def release(self) -> None:
        held, self.held = self.held, []
        for reply, on_reply in held:
            on_reply(reply)


class EdgeHarness:
    """A controller whose strategy is edge_offload, over the fake engine and transport."""

    def __init__(self, **offload) -> None:
        self.clock = Clock()
        self.text = FakeTextEngine()
        self.transport = FakeTransport(self.clock)
        self.results = []
        self.configurations = []
        self.edge = EdgeOffload(self.transport, '/robot1/controller_node', clock=self.clock)
        settings = ControllerSettings(strategy='edge_offload', offload=OffloadSettings(
            **{'deadline_ms': 40, 'local_strategy': 'early_exit', **offload}))
        self.controller = CommandController(
            ControllerEngines(self.text), settings, self.results.append,
            lambda configuration, stamp: self.configurations.append(configuration),
            logger=ListLogger(), clock=self.clock, edge=self.edge)
        self.controller.receive_battery(_battery(1.0), 0.0)

    def answer(self, text: str):
        """Receive one command and answer it; return its one result."""
        before = len(self.results)
        self.controller.receive_text(text)
        assert self.controller.process_next(0.0)
        assert len(self.results) == before + 1
        return self.results[-1]


def _battery(fraction: float):
    from adaptive_nlp_ros.core.controller.battery_tracker import BatteryInput
    return BatteryInput(fraction, True, False, None, 0.0)


def test_a_good_link_offloads_and_the_result_says_where_it_ran():
    harness = EdgeHarness()
    first = harness.answer('go to the kitchen')
    assert first.configuration.executed_on == EXECUTED_ON_ROBOT     # measures the local cost
    assert 'not measured yet' in first.reason and not harness.transport.sent
    second = harness.answer('go to the kitchen')
    assert second.status == STATUS_ANSWERED
    assert second.configuration.executed_on == SERVER
    assert second.configuration.strategy == 'edge_offload'
    assert second.configuration.round_trip_ms == pytest.approx(10.0)
    assert second.outcome.actions[0].arguments[0].value == 'the kitchen'
    assert second.outcome.label == 'navigate' and second.outcome.exit_layer == 6
    request = harness.transport.sent[-1]
    assert request.deadline_ms == 40 and request.robot_id == '/robot1/controller_node'
    radio = RadioModel()
    assert second.energy_mj == pytest.approx(radio.energy_mj(request.wire_bytes(), 640), rel=0.3)
    assert 'offloaded to /edge/expert_server' in second.reason
    assert harness.configurations[-1].executed_on == SERVER         # a discrete change


def test_possible_stops_never_leave_the_robot():
    harness = EdgeHarness()
    harness.answer('go to the kitchen')
    result = harness.answer('stop right now')
    assert result.configuration.executed_on == EXECUTED_ON_ROBOT
    assert result.outcome.label == 'stop' and 'possible stop' in result.reason
    assert not harness.transport.sent
    assert harness.edge.link.counts['local_possible_stop'] == 1


@pytest.mark.parametrize('radio, local_strategy, offloaded', [
    (RadioModel(0.0, 0.0), 'full', True),           # cheaper than local: offload
    (RadioModel(1e4, 1e4), 'early_exit', False),    # dearer and beyond the budget: local
    (RadioModel(7.0, 10.0), 'full', False),         # dearer, no accuracy to gain: local
    (RadioModel(7.0, 10.0), 'early_exit', True),    # dearer but more accurate, within budget
])
def test_the_decision_follows_the_radio_costs(radio, local_strategy, offloaded):
    harness = EdgeHarness(radio=radio, local_strategy=local_strategy)
    harness.answer('go to the kitchen')             # local: the fake costs 1-3 mJ
    result = harness.answer('go to the kitchen')
    assert (result.configuration.executed_on == SERVER) is offloaded, result.reason
    assert bool(harness.transport.sent) is offloaded


def test_low_battery_keeps_a_dear_radio_off_but_not_a_cheap_one():
    harness = EdgeHarness(radio=RadioModel(7.0, 10.0))
    harness.controller.receive_battery(_battery(0.12), 0.0)    # budget far below the radio
    harness.answer('go to the kitchen')
    assert harness.answer('go to the kitchen').configuration.executed_on == EXECUTED_ON_ROBOT
    harness.controller.update_settings(ControllerSettings(
        strategy='edge_offload', offload=OffloadSettings(deadline_ms=40,
                                                         radio=RadioModel(0.0, 0.0))))
    assert harness.answer('go to the kitchen').configuration.executed_on == SERVER


def test_no_reply_within_the_deadline_answers_locally_once_and_discards_the_late_reply():
    harness = EdgeHarness(probe_interval_s=0.5)
    harness.answer('go to the kitchen')
    harness.transport.mode = 'hold'
    result = harness.answer('go to the kitchen')
    assert result.status == STATUS_ANSWERED
    assert result.configuration.executed_on == EXECUTED_ON_ROBOT
    assert 'no reply within the deadline 40 ms' in result.reason
    assert result.energy_mj > RadioModel().mj_per_request     # the radio spent is counted
    harness.transport.release()                      # the reply comes late: discarded
    assert len(harness.results) == 2
    assert harness.edge.link.counts['edge_late_discarded'] == 1
    assert harness.edge.link.counts['edge_timeouts'] == 1
    # Backing off: the next command does not wait; it is answered locally and probes the link.
    harness.clock.now_s += 0.6
    sent = len(harness.transport.sent)
    backing = harness.answer('go to the kitchen')
    assert backing.configuration.executed_on == EXECUTED_ON_ROBOT
    assert 'link failed' in backing.reason and len(harness.transport.sent) == sent + 1
    # The probe's reply (the link healed) closes the back-off: the next one is offloaded.
    harness.transport.mode = 'answer'
    harness.transport.release()
    assert harness.edge.link.backing_off_s() == 0.0
    assert harness.answer('go to the kitchen').configuration.executed_on == SERVER
    assert len(harness.results) == 4


def test_a_reply_that_comes_just_after_the_deadline_is_discarded():
    """Even when it is in before the waiting thread looks: one local answer, no late one."""
    harness = EdgeHarness(deadline_ms=150)
    harness.answer('go to the kitchen')
    harness.transport.rtt_s = 0.1517
    result = harness.answer('go to the kitchen')
    assert result.configuration.executed_on == EXECUTED_ON_ROBOT
    assert 'after the deadline (152 ms >= 150 ms' in result.reason
    assert harness.edge.link.counts['edge_late_discarded'] == 1
    assert len(harness.results) == 2


def test_a_round_trip_beyond_the_deadline_moves_commands_to_the_robot():
    harness = EdgeHarness(deadline_ms=150)
    harness.answer('go to the kitchen')
    harness.transport.rtt_s = 0.2                    # 200 ms: replies come, but too slowly
    for _ in range(3):
        harness.answer('go to the kitchen')
    result = harness.answer('go to the kitchen')
    assert result.configuration.executed_on == EXECUTED_ON_ROBOT
    assert 'round trip ~200 ms >= deadline 150 ms' in result.reason
    harness.transport.rtt_s = 0.01                   # the link recovers: probes see it
    for _ in range(6):
        harness.clock.now_s += 1.1
        harness.controller.receive_battery(_battery(1.0), 0.0)
        last = harness.answer('go to the kitchen')
    assert last.configuration.executed_on == SERVER


def test_overloaded_and_missing_servers_answer_at_once_on_the_robot():
    harness = EdgeHarness()
    harness.answer('go to the kitchen')
    harness.transport.mode = 'overloaded'
    result = harness.answer('go to the kitchen')
    assert result.configuration.executed_on == EXECUTED_ON_ROBOT
    assert 'overloaded' in result.reason
    assert 'overloaded' in harness.answer('go to the kitchen').reason   # left alone a while
    harness.clock.now_s += 1.0
    harness.transport.is_ready = False
    result = harness.answer('go to the kitchen')
    assert 'no expert server' in result.reason
    assert harness.edge.link.counts['edge_unavailable'] == 1
    values = harness.controller.diagnostics()[2]
    assert values['edge_overloaded'] == 1 and values['edge_unavailable'] == 1


def test_edge_offload_needs_a_link_and_a_local_strategy():
    engines = ControllerEngines(FakeTextEngine())
    with pytest.raises(ValueError, match='needs a link to an expert server'):
        CommandController(engines, ControllerSettings(strategy='edge_offload'), print,
                          lambda *_: None, logger=ListLogger())
    edge = EdgeOffload(FakeTransport(Clock()), 'robot')
    controller = CommandController(engines, ControllerSettings(), print, lambda *_: None,
                                   logger=ListLogger(), edge=edge)
    assert 'edge_offload' in controller.valid_strategy_names()
    problem = controller.check(ControllerSettings(strategy='edge_offload', offload=OffloadSettings(
        local_strategy='edge_offload')))
    assert 'must be a strategy that runs on the robot' in problem
    problem = controller.check(ControllerSettings(strategy='edge_offload', offload=OffloadSettings(
        local_strategy='moe_gate')))
    assert problem.startswith('strategy: edge_offload.local_strategy')


def test_link_estimate_is_a_median_that_ignores_one_outlier():
    clock = Clock()
    link = LinkEstimate(clock, retry_s=1.0, max_retry_s=4.0)
    assert math.isnan(link.predicted_ms())
    for rtt in (10.0, 12.0, 11.0, 5000.0, 13.0):
        link.answered(rtt)
    assert link.predicted_ms() == 12.0
    link.timed_out(150.0)
    assert link.backing_off_s() == pytest.approx(1.0)
    link.timed_out(150.0)
    assert link.backing_off_s() == pytest.approx(2.0)              # doubling
    link.answered(9.0)
    assert link.backing_off_s() == 0.0


def test_radio_break_even_payload():
    radio = RadioModel(mj_per_kb=7.0, mj_per_request=10.0)
    assert radio.energy_mj(512, 512) == pytest.approx(17.0)
    assert radio.break_even_kb(24.0) == pytest.approx(2.0)
    assert radio.break_even_kb(5.0) == 0.0


# -- the server's queue, over the real engine ----------------------------------------------

def _collector():
    replies = []
    return replies, replies.append


def test_batcher_answers_waiting_requests_as_one_batch_like_one_by_one(text_engine):
    strategy = text_engine.strategy('full')
    batcher = ExpertBatcher(text_engine, strategy, SERVER, check_text, window_s=0.0,
                            max_batch=8, queue_size=8)
    texts = ['go to the kitchen', 'bring the red cup to anna', 'stop', 'what time is it']
    replies, sink = _collector()
    for index, text in enumerate(texts):
        batcher.submit(UnderstandRequest(index, f'/robot{index}', text, 1000), sink)
    assert batcher.answer_next_batch(0.0) == 4
    assert [reply.request_id for reply in replies] == [0, 1, 2, 3]
    resources = text_engine.resources(1.0, charging=True)
    for reply, text in zip(replies, texts):
        alone = text_engine.infer(text, strategy, resources)
        assert reply.batch_size == 4 and reply.server == SERVER and reply.strategy == 'full'
        assert reply.label == alone.label
        assert [action.intent for action in reply.actions] == [a.intent for a in alone.actions]


def test_batcher_says_overloaded_expired_and_rejected_at_once(text_engine):
    clock = Clock()
    batcher = ExpertBatcher(text_engine, text_engine.strategy('full'), SERVER, check_text,
                            window_s=0.0, max_batch=4, queue_size=2, max_text_chars=50,
                            clock=clock)
    replies, sink = _collector()
    batcher.submit(UnderstandRequest(1, 'r', 'go to the kitchen', 100), sink)
    batcher.submit(UnderstandRequest(2, 'r', 'follow me', 1000), sink)
    batcher.submit(UnderstandRequest(3, 'r', 'go home', 1000), sink)        # queue full
    batcher.submit(UnderstandRequest(4, 'r', '   ', 1000), sink)           # empty
    batcher.submit(UnderstandRequest(5, 'r', 'x' * 51, 1000), sink)        # too long
    assert [(reply.request_id, reply.status) for reply in replies] == [
        (3, STATUS_OVERLOADED), (4, STATUS_REJECTED), (5, STATUS_REJECTED)]
    assert 'queue full' in replies[0].reason and 'max_text_chars' in replies[2].reason
    clock.now_s += 0.5                        # request 1 waited 500 ms > its 100 ms deadline
    batcher.answer_next_batch(0.0)
    by_id = {reply.request_id: reply for reply in replies}
    assert by_id[1].status == STATUS_EXPIRED and not by_id[1].actions
    assert by_id[2].answered and by_id[2].batch_size == 1
    status = batcher.status()
    assert (status['requests'], status['answered'], status['overloaded'], status['rejected'],
            status['expired']) == (5, 1, 1, 2, 1)


def test_batcher_thread_serves_concurrent_robots_and_answers_queued_ones_at_stop(text_engine):
    batcher = ExpertBatcher(text_engine, text_engine.strategy('full'), SERVER, check_text,
                            window_s=0.02, max_batch=8, queue_size=64)
    replies, sink = _collector()
    done = threading.Event()

    def counted(reply):
        sink(reply)
        if len(replies) == 6:
            done.set()

    batcher.start()
    for index in range(6):
        batcher.submit(UnderstandRequest(index, f'/robot{index}', 'go to the kitchen', 5000),
                       counted)
    assert done.wait(30.0)
    assert sorted(reply.request_id for reply in replies) == list(range(6))
    assert all(reply.answered for reply in replies)
    assert batcher.status()['batches'] < 6                    # some were batched together
    assert batcher.stop() == 0
    batcher.submit(UnderstandRequest(9, 'r', 'go home', 1000), sink)   # after stop: overloaded
    assert replies[-1].status == STATUS_OVERLOADED
