"""
core.controller's micro-batching, without ROS: queued text commands answered as one batch.

A stand-in engine records every call, so the tests see which commands were batched, in what
order, and that each command still gets exactly the result it would get alone (the last test
compares batched and one-at-a-time answers of the real engine).
"""

from typing import List

from adaptive_nlp_ros.core.controller.battery_tracker import BatteryInput
from adaptive_nlp_ros.core.controller.command_validation import ImageInput
from adaptive_nlp_ros.core.controller.controller import CommandController
from adaptive_nlp_ros.core.controller.controller_parameters import ControllerSettings
from adaptive_nlp_ros.core.controller.engines import ControllerEngines
from adaptive_nlp_ros.core.controller.records import (CommandResult, STATUS_ANSWERED,
                                                      STATUS_REJECTED)
from adaptive_nlp_ros.core.inference.engine import length_groups
from adaptive_nlp_ros.core.inference.results import InferenceOutcome
import pytest
from test_controller_core import Clock, FakeImageEngine, FakeTextEngine, ListLogger
from test_edge_offload import EdgeHarness

IMAGE = ImageInput('mono8', 2, 2, 2, bytes(4))


class RecordingEngine(FakeTextEngine):
    """The core tests' stand-in, recording calls; 'nonstop' is a false alarm (not a stop)."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: List[tuple] = []
        self.batch_error = ''                # raise this from every batch of 2 or more
        self.short_by = 0                    # return this many outcomes too few

    def infer(self, text: str, strategy, resources) -> InferenceOutcome:
        self.calls.append(('infer', text))
        outcome = super().infer(text, strategy, resources)
        if 'nonstop' in text:
            outcome.label = 'navigate'
        return outcome

    def infer_batch(self, texts, strategy, resources) -> List[InferenceOutcome]:
        self.calls.append(('batch', tuple(texts), resources))
        if self.batch_error:
            raise RuntimeError(self.batch_error)
        if any('explode' in text for text in texts):
            raise RuntimeError('model exploded')
        outcomes = []
        for text in texts:
            outcome = super().infer(text, strategy, resources)
            if 'nonstop' in text:
                outcome.label = 'navigate'
            if 'malformed' in text:
                outcome.exit_layer = None            # its configuration cannot be built
            outcomes.append(outcome)
        return outcomes[:len(outcomes) - self.short_by]

    def batches(self) -> List[tuple]:
        return [call[1] for call in self.calls if call[0] == 'batch']

    def alone(self) -> List[str]:
        return [call[1] for call in self.calls if call[0] == 'infer']


class Batching:
    """A controller over the recording engine, everything it publishes collected."""

    def __init__(self, **settings) -> None:
        self.text = RecordingEngine()
        self.image = FakeImageEngine()
        self.results: List[CommandResult] = []
        self.configurations = []
        self.logger = ListLogger()
        self.clock = Clock()
        self.controller = CommandController(
            ControllerEngines(self.text, self.image), ControllerSettings(**settings),
            self.results.append,
            lambda configuration, stamp: self.configurations.append(configuration),
            logger=self.logger, clock=self.clock)
        self.controller.receive_battery(BatteryInput(0.8, True, False, None, 0.0), 0.0)

    def run_all(self) -> None:
        while self.controller.process_next(0.0):
            pass

    def answered(self) -> List[str]:
        return [result.input_text for result in self.results if result.status == 0]


def test_a_batch_is_formed_only_from_queued_text_commands_in_queue_order():
    harness = Batching()
    controller = harness.controller
    for text in ('go to a', 'go to b', 'go to c'):
        controller.receive_text(text)
    controller.receive_image(IMAGE)
    controller.receive_text('go to d')
    controller.receive_text('go to e')
    harness.run_all()
    assert harness.text.batches() == [('go to a', 'go to b', 'go to c'), ('go to d', 'go to e')]
    assert harness.text.alone() == []                     # the image went to the image engine
    assert [result.request_id for result in harness.results] == [1, 2, 3, 4, 5, 6]
    assert all(result.status == STATUS_ANSWERED for result in harness.results)
    _, _, values = controller.diagnostics()
    assert (values['max_batch'], values['batches'], values['batched_commands'],
            values['mean_batch'], values['batch_failures']) == (8, 2, 5, 2.5, 0)


def test_a_lone_command_is_answered_alone_and_nothing_waits_for_a_batch():
    harness = Batching()
    harness.controller.receive_text('go to the kitchen')
    harness.run_all()
    harness.controller.receive_text('go to the lab')
    harness.run_all()
    assert harness.text.alone() == ['go to the kitchen', 'go to the lab']
    assert harness.text.batches() == []


def test_possible_stops_are_answered_first_each_alone():
    """A stop's result never waits for a batch mate's: a batch publishes when all is done."""
    harness = Batching()
    controller = harness.controller
    for text in ('go to a', 'stop now', 'go to b', 'please stop', 'go to c'):
        controller.receive_text(text)
    harness.run_all()
    assert harness.text.alone() == ['stop now', 'please stop']
    assert harness.text.batches() == [('go to a', 'go to b', 'go to c')]
    assert harness.answered() == ['stop now', 'please stop', 'go to a', 'go to b', 'go to c']
    assert [result.label for result in harness.results[:2]] == ['stop', 'stop']


def test_max_batch_bounds_a_batch():
    harness = Batching(max_batch=2)
    for index in range(5):
        harness.controller.receive_text(f'go to room {index}')
    harness.run_all()
    assert harness.text.batches() == [('go to room 0', 'go to room 1'),
                                      ('go to room 2', 'go to room 3')]
    assert harness.text.alone() == ['go to room 4']
    assert harness.answered() == [f'go to room {index}' for index in range(5)]


def test_a_batch_reads_the_battery_once_and_reports_its_wall_time_for_each_command():
    harness = Batching()
    for text in ('go to a', 'go to bb', 'go to ccc'):
        harness.controller.receive_text(text)
    harness.run_all()
    (_, texts, resources), = harness.text.calls
    assert resources.battery_fraction == pytest.approx(0.8) and len(texts) == 3
    latencies = {result.outcome.latency_ms for result in harness.results}
    assert len(latencies) == 1 and latencies.pop() >= 0.0     # the batch's wall time, each


def test_a_failed_batch_is_answered_one_at_a_time_each_with_its_reason():
    harness = Batching()
    controller = harness.controller
    for text in ('go to a', 'explode please', 'go to b'):
        controller.receive_text(text)
    harness.run_all()
    assert harness.text.batches() == [('go to a', 'explode please', 'go to b')]
    assert harness.text.alone() == ['go to a', 'explode please', 'go to b']
    results = {result.input_text: result for result in harness.results}
    assert len(harness.results) == 3
    assert results['explode please'].status == STATUS_REJECTED
    assert results['explode please'].code == 'inference_error'
    assert 'model exploded' in results['explode please'].reason
    assert results['go to a'].status == results['go to b'].status == STATUS_ANSWERED
    assert [result.request_id for result in harness.results] == [1, 2, 3]
    counts = controller.counts()
    assert (counts['answered'], counts['rejected_inference_error']) == (2, 1)
    assert controller.diagnostics()[2]['batch_failures'] == 1
    assert any('answering them one at a time' in line for line in harness.logger.lines)


@pytest.mark.parametrize('fault', ['batch_error', 'short_by'])
def test_any_batch_fault_still_answers_everyone(fault):
    harness = Batching()
    if fault == 'batch_error':
        harness.text.batch_error = 'out of memory'
    else:
        harness.text.short_by = 1
    for text in ('stop now', 'go to a', 'go to b', 'go to c'):
        harness.controller.receive_text(text)
    harness.run_all()
    assert harness.answered() == ['stop now', 'go to a', 'go to b', 'go to c']
    assert harness.controller.diagnostics()[2]['batch_failures'] == 1


def test_a_command_that_cannot_be_finished_is_rejected_and_its_batch_mates_answered():
    harness = Batching()
    for text in ('go to a', 'a malformed answer', 'go to b'):
        harness.controller.receive_text(text)
    harness.run_all()
    assert [(result.input_text, result.status) for result in harness.results] == [
        ('go to a', STATUS_ANSWERED), ('a malformed answer', STATUS_REJECTED),
        ('go to b', STATUS_ANSWERED)]
    assert harness.results[1].code == 'inference_error'
    assert harness.results[1].reason.startswith('answering failed')


def test_stale_possible_stops_are_answered_only_if_stops():
    harness = Batching()
    controller = harness.controller
    controller.receive_text('stop the arm', age_s=5.0)
    controller.receive_text('go nonstop to the lab', age_s=5.0)       # a false alarm
    controller.receive_text('stop here', age_s=5.0)
    harness.run_all()
    assert harness.text.batches() == []
    by_text = {result.input_text: result for result in harness.results}
    assert by_text['stop the arm'].status == by_text['stop here'].status == STATUS_ANSWERED
    assert by_text['stop the arm'].reason.startswith('stale (5.00 s on the way) but a stop')
    false_alarm = by_text['go nonstop to the lab']
    assert (false_alarm.status, false_alarm.code) == (STATUS_REJECTED, 'stale')
    assert 'kept as a possible stop, answered navigate' in false_alarm.reason
    assert controller.counts()['stale_stop_honoured'] == 2


def test_queued_commands_of_a_deactivated_controller_are_rejected_inactive_uninferred():
    harness = Batching()
    for index in range(4):
        harness.controller.receive_text(f'go to room {index}')
    harness.controller.deactivate()
    harness.run_all()
    assert [(result.request_id, result.code) for result in harness.results] == \
        [(index, 'inactive') for index in range(1, 5)]
    assert harness.text.calls == []


def test_under_edge_offload_text_goes_one_at_a_time():
    harness = EdgeHarness()
    harness.text.infer_batch = None           # would raise if a batch were attempted
    for text in ('go to a', 'go to b', 'go to c'):
        harness.controller.receive_text(text)
    for _ in range(3):
        assert harness.controller.process_next(0.0)
    assert [result.status for result in harness.results] == [STATUS_ANSWERED] * 3
    assert 'offloaded to' in harness.results[-1].reason       # the first measures the robot
    values = harness.controller.diagnostics()[2]
    assert (values['batches'], values['batch_failures']) == (0, 0)


def _mixed_inputs(controller: CommandController) -> None:
    """Receive a bit of everything: texts, stops, an image, bad text, a failure, stale."""
    for text in ('go to a', 'go to bb', 'stop now'):
        controller.receive_text(text)
    controller.receive_image(IMAGE)
    for text in ('', 'go to ccc', 'explode', 'please stop', 'go to dddd', 'go to e'):
        controller.receive_text(text)
    controller.receive_text('stop it', age_s=9.0)
    controller.receive_text('go nonstop', age_s=9.0)
    controller.receive_text('go home', age_s=9.0)


def test_max_batch_1_is_the_one_at_a_time_path_and_batching_changes_no_result():
    one, batched = Batching(max_batch=1), Batching()
    for harness in (one, batched):
        _mixed_inputs(harness.controller)
        harness.run_all()
    assert one.text.batches() == [] and batched.text.batches()

    def seen(harness: Batching) -> List[tuple]:
        return [(result.request_id, result.status, result.code, result.label, result.reason,
                 result.configuration) for result in harness.results]
    assert seen(batched) == seen(one)
    assert batched.configurations == one.configurations
    assert batched.controller.counts() == one.controller.counts()


def test_the_real_engine_answers_a_batch_as_it_answers_each_command_alone(text_engine):
    texts = ['stop right now', 'go to the kitchen', 'please stop and wait', 'pick up the red cup',
             'bring the cup to anna', 'what is the capital of france', 'turn left 90 degrees',
             'follow me', 'stop', 'dock at the charger', 'find my keys in the hall']

    def answers(max_batch: int) -> List[tuple]:
        results: List[CommandResult] = []
        controller = CommandController(ControllerEngines(text_engine),
                                       ControllerSettings(max_batch=max_batch),
                                       results.append, lambda configuration, stamp: None)
        controller.receive_battery(BatteryInput(0.9, True, False, 100.0, 0.0), 0.0)
        for text in texts:
            controller.receive_text(text)
        while controller.process_next(0.0):
            pass
        assert controller.diagnostics()[2]['batches'] == (0 if max_batch == 1 else 1)
        return [(result.input_text, result.status, result.label, result.outcome.actions,
                 result.configuration.exit_layer, result.configuration.segment_precisions)
                for result in results]

    assert answers(8) == answers(1)


def test_a_batch_runs_in_groups_of_similar_length():
    """Shortest first; a row joins a group while within 1.5x (plus 4 tokens) of its first."""
    assert length_groups([30, 8, 10, 31, 9, 60]) == [[1, 4, 2], [0, 3], [5]]
    assert length_groups([12]) == [[0]] and length_groups([5, 5, 5]) == [[0, 1, 2]]


def test_batched_answers_split_by_length_equal_one_at_a_time(text_engine):
    texts = ['stop', 'go to the kitchen and bring the red cup from the table to Anna please',
             'follow me', 'find the tallest person in the lobby and greet them, then go charge']
    strategy = text_engine.strategy('full')
    resources = text_engine.resources(1.0)
    together = text_engine.infer_batch(texts, strategy, resources)
    for text, outcome in zip(texts, together):
        alone = text_engine.infer(text, strategy, resources)
        assert outcome.label == alone.label
        assert [a.intent for a in outcome.actions] == [a.intent for a in alone.actions]
