"""
core.controller without ROS: one result per command, stop priority, drops, staleness, settings.

Most tests use a stand-in engine (fast and scriptable: it can be slow, fail or label by
rule); the last ones use the real text engine.
"""

import math
import struct
import threading
import time
from types import SimpleNamespace
from typing import List

from adaptive_nlp_ros.core.battery.energy_budget import EnergyBudgetModel
from adaptive_nlp_ros.core.controller.battery_tracker import BatteryInput
from adaptive_nlp_ros.core.controller.command_validation import command_age_s, ImageInput
from adaptive_nlp_ros.core.controller.controller import CommandController
from adaptive_nlp_ros.core.controller.controller_parameters import ControllerSettings
from adaptive_nlp_ros.core.controller.engines import ControllerEngines
from adaptive_nlp_ros.core.controller.records import (CommandResult, STATUS_ANSWERED,
                                                      STATUS_DROPPED, STATUS_REJECTED)
from adaptive_nlp_ros.core.inference.decisions import ResourceState
from adaptive_nlp_ros.core.inference.engine import SafetyCheck
from adaptive_nlp_ros.core.inference.results import InferenceOutcome, SegmentRecord
from hypothesis import given, HealthCheck, settings, strategies
import numpy as np
import pytest

FAKE_WORD_LIMIT = 12                # the fake engine's "model" reads at most 12 words
INTERFACE_KEYS = ('received', 'answered', 'rejected', 'dropped', 'queue_length',
                  'battery_age_s', 'strategy')


class FakeStrategy:
    """A strategy stand-in: a name and a threshold."""

    def __init__(self, name: str, options) -> None:
        self.name = name
        self.options = dict(options)

    def confidence_threshold(self, resources: ResourceState) -> float:
        return 0.9

    def describe(self) -> str:
        return f'{self.name}({self.options})'


class FakeTextEngine:
    """Labels by rule: texts with 'stop' are stop; 'explode' raises; layers grow with length."""

    safety_label = 'stop'

    def __init__(self) -> None:
        self.context = SimpleNamespace(pool=[SimpleNamespace(variant_id='small')])
        self.budget_model = EnergyBudgetModel()
        self.seen: List[str] = []
        self.fail_check = False

    def set_budget_model(self, budget_model: EnergyBudgetModel) -> None:
        self.budget_model = budget_model

    def strategy(self, name: str, settings=()):
        if name == 'moe_gate':
            raise ValueError('moe_gate needs a trained gate')
        return FakeStrategy(name, settings)

    def resources(self, battery_fraction=math.nan, charging=False, stale=False, budget_mj=None,
                  capacity_wh=None) -> ResourceState:
        budget = self.budget_model.per_command_mj(battery_fraction, charging, capacity_wh)
        return ResourceState(battery_fraction, stale, charging, budget)

    def too_long_reason(self, text: str):
        return 'too many word pieces' if len(text.split()) > FAKE_WORD_LIMIT else None

    def safety_check(self, text: str) -> SafetyCheck:
        if self.fail_check:
            raise RuntimeError('check broke')
        return SafetyCheck('stop' in text, 0.9 if text.startswith('stop') else 0.5)

    def infer(self, text: str, strategy, resources: ResourceState) -> InferenceOutcome:
        self.seen.append(text)
        if 'explode' in text:
            raise RuntimeError('model exploded')
        layers = 1 + len(text) % 3
        return InferenceOutcome(
            label='stop' if 'stop' in text else 'navigate', confidence=0.95,
            top_labels=['navigate'], top_scores=[0.95], strategy=strategy.name,
            variant='minilm', exit_layer=layers, num_layers=6,
            segments=[SegmentRecord((layer,), 'int8', 'torch', 1.0)
                      for layer in range(1, layers + 1)],
            battery_fraction=resources.battery_fraction, energy_budget_mj=resources.budget_mj,
            battery_stale=resources.battery_stale, energy_mj=float(layers), reason='fake')

    def infer_batch(self, texts, strategy, resources: ResourceState) -> List[InferenceOutcome]:
        return [self.infer(text, strategy, resources) for text in texts]


class FakeImageEngine:
    """Answers every image as digit_0."""

    budget_model = EnergyBudgetModel()

    def set_budget_model(self, budget_model: EnergyBudgetModel) -> None:
        self.budget_model = budget_model

    def strategy(self, name: str, settings=()):
        return FakeStrategy(name, settings)

    def infer(self, image, strategy, resources) -> InferenceOutcome:
        assert image.dtype == np.uint8 and image.ndim == 2
        return InferenceOutcome('digit_0', 0.9, ['digit_0'], [0.9], strategy.name, 'branchynet',
                                1, 3, input_kind='image')


class ListLogger:
    """Collects log lines."""

    def __init__(self) -> None:
        self.lines: List[str] = []

    def info(self, message: str) -> None:
        self.lines.append('INFO ' + message)

    def warning(self, message: str) -> None:
        self.lines.append('WARN ' + message)

    def error(self, message: str) -> None:
        self.lines.append('ERROR ' + message)


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now_s = 10.0

    def __call__(self) -> float:
        return self.now_s


class Harness:
    """A controller over fake engines, with everything it publishes collected."""

    def __init__(self, image: bool = True, **settings) -> None:
        self.text = FakeTextEngine()
        self.results: List[CommandResult] = []
        self.configurations = []
        self.logger = ListLogger()
        self.clock = Clock()
        self.controller = CommandController(
            ControllerEngines(self.text, FakeImageEngine() if image else None,
                              [] if image else ['image model unavailable: missing']),
            ControllerSettings(**settings), self.results.append,
            lambda configuration, stamp: self.configurations.append(configuration),
            logger=self.logger, clock=self.clock)

    def battery(self, fraction: float) -> None:
        self.controller.receive_battery(BatteryInput(fraction, True, False, None, 0.0), 0.0)

    def run_all(self) -> None:
        while self.controller.process_next(0.0):
            pass

    def by_id(self):
        ids = [result.request_id for result in self.results]
        assert len(ids) == len(set(ids)), 'a command got more than one result'
        return {result.request_id: result for result in self.results}


def test_one_result_per_command_of_every_kind():
    harness = Harness(max_text_chars=20)
    controller = harness.controller
    harness.battery(0.8)
    ids = [controller.receive_text('go to the kitchen'),
           controller.receive_text(''),
           controller.receive_text('x' * 21),
           controller.receive_text_payload(b'\x00\x01\x00\x00' + struct.pack('<I', 2)
                                           + b'\xff\x00'),
           controller.receive_text_payload(b'junk'),
           controller.receive_image(ImageInput('mono8', 2, 2, 2, bytes(4))),
           controller.receive_image(ImageInput('rgb8', 2, 2, 6, bytes(12))),
           controller.receive_text('explode please')]
    assert ids == list(range(1, 9))
    harness.run_all()
    results = harness.by_id()
    assert sorted(results) == ids
    statuses = [results[request_id].status for request_id in ids]
    assert statuses == [STATUS_ANSWERED, STATUS_REJECTED, STATUS_REJECTED, STATUS_REJECTED,
                        STATUS_REJECTED, STATUS_ANSWERED, STATUS_REJECTED, STATUS_REJECTED]
    assert [results[i].code for i in ids] == [
        '', 'empty_text', 'text_too_long', 'not_utf8', 'malformed_message', '',
        'image_encoding', 'inference_error']
    assert 'model exploded' in results[8].reason
    counts = controller.counts()
    assert counts['received'] == 8 and counts['answered'] == 2 and counts['rejected'] == 6
    assert counts['rejected_inference_error'] == 1
    _, _, values = controller.diagnostics()
    assert all(key in values for key in INTERFACE_KEYS)
    assert values['received'] == values['answered'] + values['rejected'] + values['dropped']


def test_a_command_longer_than_the_model_reads_is_refused_not_cut():
    """The tail of a long command may be a stop: refused with the model's reason, never run."""
    harness = Harness()
    long_command = ' '.join(['go to the kitchen and'] * 4) + ' then stop'
    request_id = harness.controller.receive_text(long_command)
    harness.run_all()
    result = harness.by_id()[request_id]
    assert (result.status, result.code) == (STATUS_REJECTED, 'text_too_long')
    assert 'too many word pieces' in result.reason
    assert long_command not in harness.text.seen
    assert harness.controller.counts()['rejected_text_too_long'] == 1


def test_the_node_goes_on_after_a_failed_inference():
    harness = Harness()
    harness.controller.receive_text('explode')
    harness.controller.receive_text('go to the kitchen')
    harness.run_all()
    assert [result.status for result in harness.results] == [STATUS_REJECTED, STATUS_ANSWERED]


def test_possible_stops_jump_the_queue_and_are_never_dropped():
    harness = Harness(queue_size=2)
    controller = harness.controller
    for text in ('go a', 'go b', 'please stop', 'go c', 'stop now', 'go d'):
        controller.receive_text(text)
    dropped = [result for result in harness.results if result.status == STATUS_DROPPED]
    assert [result.input_text for result in dropped] == ['go a', 'go b', 'go c', 'go d']
    assert all('queue full' in result.reason for result in dropped)
    harness.run_all()
    assert harness.text.seen == ['please stop', 'stop now']
    assert controller.counts()['possible_stop'] == 2
    assert len(harness.by_id()) == 6


def test_a_full_stop_lane_demotes_the_least_likely_stop_and_says_so():
    harness = Harness(queue_size=1, stop_queue_size=2)
    controller = harness.controller
    for text in ('please stop a', 'please stop b', 'stop now'):   # scores 0.5, 0.5, 0.9
        controller.receive_text(text)
    dropped = [result for result in harness.results if result.status == STATUS_DROPPED]
    assert [result.input_text for result in dropped] == ['please stop b']
    assert 'demoted from the full stop lane (stop_queue_size 2' in dropped[0].reason
    assert dropped[0].code == 'queue_full'
    harness.run_all()
    assert harness.text.seen == ['please stop a', 'stop now']
    _, _, values = controller.diagnostics()
    assert values['stop_demoted'] == 1 and values['stop_queue_size'] == 2
    assert values['received'] == values['answered'] + values['dropped'] == 3


def test_a_failing_stop_check_counts_as_a_possible_stop():
    harness = Harness(queue_size=1)
    harness.text.fail_check = True
    harness.controller.receive_text('go a')
    harness.controller.receive_text('go b')
    assert not harness.results                      # both kept: possible stops
    assert any('stop check failed' in line for line in harness.logger.lines)


def test_commands_too_old_on_arrival_are_rejected_stale_but_a_stop_is_honoured():
    harness = Harness(max_command_age_s=2.0)
    controller = harness.controller
    ids = {'fresh': controller.receive_text('go to the kitchen', age_s=0.05),
           'unknown age': controller.receive_text('go to the hall', age_s=None),
           'replayed': controller.receive_text('go to the lab', age_s=30.0),
           'replayed stop': controller.receive_text('stop now', age_s=30.0),
           'old image': controller.receive_image(ImageInput('mono8', 2, 2, 2, bytes(4)),
                                                 age_s=30.0)}
    harness.text.fail_check = True          # a possible stop (fail safe), answered navigate
    ids['replayed false alarm'] = controller.receive_text('go to the garage', age_s=30.0)
    stale_at_receipt = {result.request_id for result in harness.results}
    assert stale_at_receipt == {ids['replayed'], ids['old image']}
    harness.run_all()
    results = harness.by_id()
    assert len(results) == len(ids)
    for name in ('fresh', 'unknown age', 'replayed stop'):
        assert results[ids[name]].status == STATUS_ANSWERED, name
    assert 'stale (30.00 s on the way) but a stop: honoured' in results[
        ids['replayed stop']].reason
    for name in ('replayed', 'replayed false alarm', 'old image'):
        assert results[ids[name]].status == STATUS_REJECTED, name
        assert results[ids[name]].code == 'stale', name
        assert 'max_command_age_s 2' in results[ids[name]].reason
    assert 'answered navigate' in results[ids['replayed false alarm']].reason
    assert 'go to the lab' not in harness.text.seen          # never even inferred
    _, _, values = controller.diagnostics()
    assert values['rejected_stale'] == 3 and values['stale_stop_honoured'] == 1


def test_command_age_check_can_be_disabled_and_counts_a_clock_ahead():
    harness = Harness(max_command_age_s=0.0)
    harness.controller.receive_text('go to the lab', age_s=1e4)
    harness.controller.update_settings(ControllerSettings(max_command_age_s=1.0))
    harness.controller.receive_text('go to the hall', age_s=-5.0)     # sender's clock ahead
    harness.run_all()
    assert [result.status for result in harness.results] == [STATUS_ANSWERED] * 2
    _, _, values = harness.controller.diagnostics()
    assert values['command_clock_ahead'] == 1 and values['rejected_stale'] == 0
    assert any('clock is ahead' in line and 'NTP' in line for line in harness.logger.lines)


def test_command_age_comes_from_the_two_dds_timestamps():
    assert command_age_s(1_000_000_000, 3_500_000_000) == pytest.approx(2.5)
    assert command_age_s(0, 3_500_000_000) is None          # no source timestamp given
    assert command_age_s(4_000_000_000, 3_000_000_000) == pytest.approx(-1.0)


def test_stale_battery_switches_to_the_stale_strategy_and_back():
    harness = Harness(battery_timeout_s=2.0, strategy='early_exit',
                      stale_strategy='energy_greedy')
    controller = harness.controller
    harness.battery(0.7)
    controller.receive_text('go to the kitchen')
    harness.run_all()
    fresh = harness.results[-1]
    assert fresh.configuration.strategy == 'early_exit' and not fresh.configuration.battery_stale
    assert fresh.configuration.battery_fraction == 0.7

    harness.clock.now_s += 3.0
    assert controller.poll_battery().stale
    assert any('battery stale' in line for line in harness.logger.lines)
    level, message, values = controller.diagnostics()
    assert level == 1 and 'battery stale' in message and values['battery_stale'] is True
    assert values['active_strategy'] == 'energy_greedy'
    controller.receive_text('go to the kitchen')
    harness.run_all()
    stale = harness.results[-1]
    assert stale.configuration.strategy == 'energy_greedy' and stale.configuration.battery_stale
    assert math.isnan(stale.configuration.battery_fraction)
    assert stale.reason.startswith('battery stale')
    assert harness.configurations[-1].battery_stale

    harness.battery(0.6)
    assert not controller.poll_battery().stale
    controller.receive_text('go to the kitchen')
    harness.run_all()
    assert harness.results[-1].configuration.strategy == 'early_exit'
    assert controller.poll_battery() is None


def test_a_battery_silent_from_the_start_goes_stale_and_recovers_when_it_speaks():
    harness = Harness(battery_timeout_s=2.0, strategy='early_exit',
                      stale_strategy='energy_greedy')
    controller = harness.controller
    assert controller.poll_battery() is None                 # within the timeout: not yet
    harness.clock.now_s += 2.5
    assert controller.poll_battery().stale
    level, message, values = controller.diagnostics()
    assert level == 1 and 'battery stale (never received)' in message
    assert values['battery_stale'] is True and values['battery_stale_episodes'] == 1
    controller.receive_text('go to the kitchen')
    harness.run_all()
    stale = harness.results[-1].configuration
    assert (stale.strategy, stale.battery_stale) == ('energy_greedy', True)
    harness.battery(0.5)
    assert not controller.poll_battery().stale
    controller.receive_text('go to the kitchen')
    harness.run_all()
    fresh = harness.results[-1].configuration
    assert (fresh.strategy, fresh.battery_stale, fresh.battery_fraction) == \
        ('early_exit', False, 0.5)
    assert controller.diagnostics()[0] == 0


def test_settings_are_checked_and_apply_from_the_next_command():
    harness = Harness()
    controller = harness.controller
    assert 'evaluation-only' in controller.check(ControllerSettings(strategy='oracle'))
    unknown = controller.check(ControllerSettings(stale_strategy='nope'))
    assert unknown.startswith('stale_strategy: unknown strategy') and 'static:small' in unknown
    assert 'refused its settings' in controller.check(ControllerSettings(strategy='moe_gate'))
    with pytest.raises(ValueError, match='evaluation-only'):
        CommandController(controller.engines, ControllerSettings(strategy='oracle'),
                          lambda result: None, lambda configuration, stamp: None)

    controller.receive_text('go to the kitchen')
    new = ControllerSettings(strategy='static:small', queue_size=7,
                             budget=EnergyBudgetModel(compute_share=0.001))
    assert controller.check(new) is None
    controller.update_settings(new)
    assert controller.queue.capacity == 7               # applied at once
    assert harness.text.budget_model.compute_share == 0.0005
    harness.run_all()                                    # queued before, answered after: new
    assert harness.results[-1].configuration.strategy == 'static:small'
    assert harness.text.budget_model.compute_share == 0.001


def test_configuration_is_published_only_when_its_discrete_fields_change():
    harness = Harness()
    for text in ('go aa', 'go bb', 'go cc', 'go dd'):     # lengths 5,5,5,5: same exit layer
        harness.controller.receive_text(text)
    harness.controller.receive_text('go abc')            # length 6: another exit layer
    harness.run_all()
    assert len(harness.results) == 5 and len(harness.configurations) == 2


def test_images_without_an_image_model_are_rejected_with_the_reason():
    harness = Harness(image=False)
    harness.controller.receive_image(ImageInput('mono8', 2, 2, 2, bytes(4)))
    result = harness.results[-1]
    assert result.status == STATUS_REJECTED and result.code == 'model_unavailable'
    assert 'missing' in result.reason
    level, message, values = harness.controller.diagnostics()
    assert level == 1 and values['image_model'] == 'unavailable'


def test_worker_thread_answers_and_stop_drops_the_rest():
    harness = Harness()
    controller = harness.controller
    controller.start()
    try:
        for index in range(20):
            controller.receive_text(f'go to room {index}')
        deadline = time.monotonic() + 5.0
        while len(harness.results) < 20 and time.monotonic() < deadline:
            time.sleep(0.01)
    finally:
        controller.stop()
    assert len(harness.by_id()) == 20
    assert not controller.worker_alive
    assert not any(thread.name == 'controller_worker' for thread in threading.enumerate())

    stopped = Harness()
    for index in range(3):
        stopped.controller.receive_text(f'go to room {index}')
    assert stopped.controller.stop() == 3
    assert [result.code for result in stopped.results] == ['shutdown'] * 3
    assert stopped.controller.receive_text('late') == 4
    assert stopped.results[-1].status == STATUS_DROPPED     # still answered after stop
    assert stopped.results[-1].code == 'shutdown'


def test_rejections_are_logged_throttled_per_kind():
    harness = Harness()
    for _ in range(5):
        harness.controller.receive_text('')
    harness.controller.receive_text('x' * 2000)
    warnings = [line for line in harness.logger.lines if line.startswith('WARN')]
    assert len(warnings) == 2                            # one empty_text, one text_too_long
    harness.clock.now_s += 11.0
    harness.controller.receive_text(' ')
    assert '(4 similar message(s) suppressed)' in harness.logger.lines[-1]


def test_publish_failure_is_counted_not_raised():
    def broken(result):
        raise RuntimeError('context is shut down')
    controller = CommandController(ControllerEngines(FakeTextEngine()), ControllerSettings(),
                                   broken, lambda configuration, stamp: None,
                                   logger=ListLogger())
    controller.receive_text('')
    assert controller.counts()['publish_failures'] == 1


@settings(max_examples=200, deadline=None)
@given(strategies.lists(strategies.text(max_size=40), max_size=30),
       strategies.integers(min_value=1, max_value=5))
def test_any_texts_get_exactly_one_result_each(texts, queue_size):
    harness = Harness(queue_size=queue_size, max_text_chars=30)
    ids = [harness.controller.receive_text(text) for text in texts]
    harness.run_all()
    results = harness.by_id()
    assert sorted(results) == ids
    counts = harness.controller.counts()
    assert counts['received'] == counts['answered'] + counts['rejected'] + counts['dropped']
    for request_id, text in zip(ids, texts):
        assert results[request_id].input_text == text[:30]  # the echo: up to max_text_chars
        if 'stop' in text and text.strip() and len(text) <= 30:
            assert results[request_id].status == STATUS_ANSWERED


# -- with the real engines -------------------------------------------------------------------

def test_real_engine_answers_and_reports(text_engine):
    results: List[CommandResult] = []
    controller = CommandController(ControllerEngines(text_engine), ControllerSettings(),
                                   results.append, lambda configuration, stamp: None)
    controller.receive_battery(BatteryInput(0.9, True, False, 100.0, 0.0), 0.0)
    controller.receive_text('go to the kitchen')
    controller.receive_text('stop right now')
    while controller.process_next(0.0):
        pass
    labels = {result.input_text: result.label for result in results}
    assert labels == {'go to the kitchen': 'navigate', 'stop right now': 'stop'}
    assert results[0].input_text == 'stop right now'     # the possible stop went first
    assert all(result.outcome.energy_mj > 0 for result in results)


def cdr_string(raw: bytes) -> bytes:
    """Serialize raw string bytes as a little-endian plain-CDR std_msgs/String."""
    return b'\x00\x01\x00\x00' + struct.pack('<I', len(raw) + 1) + raw + b'\x00'


MAX_TEXT_CHARS = 1000
MODEL_PIECES = 512                  # all-MiniLM-L6-v2's positions
# All of Unicode (lone surrogates and control characters included), long texts on both sides
# of max_text_chars, the edge cases by name, and raw bytes as they could come off the wire.
LONE_SURROGATES = strategies.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
ANY_CHARACTER = strategies.characters() | LONE_SURROGATES
ANY_COMMAND = strategies.one_of(
    strategies.text(alphabet=ANY_CHARACTER, max_size=60),
    strategies.text(min_size=MAX_TEXT_CHARS - 5, max_size=MAX_TEXT_CHARS + 5),
    strategies.sampled_from(['', ' \t\n', '\x00', '\ud800 go', 'stop', 'STOP NOW \U0001F6D1',
                             '\u202ego left', '\u0007' * 10]),
    strategies.binary(max_size=60).map(cdr_string),
)


@settings(max_examples=100, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(strategies.lists(ANY_COMMAND, min_size=1, max_size=4))
def test_real_engine_answers_any_text_once_or_rejects_it_for_a_documented_reason(
        text_engine, commands):
    """Whatever the text: no exception, one result each, rejected only for the documented why."""
    results: List[CommandResult] = []
    controller = CommandController(ControllerEngines(text_engine),
                                   ControllerSettings(max_text_chars=MAX_TEXT_CHARS),
                                   results.append, lambda configuration, stamp: None)
    ids = [controller.receive_text_payload(command) if isinstance(command, bytes)
           else controller.receive_text(command) for command in commands]
    while controller.process_next(0.0):
        pass
    by_id = {result.request_id: result for result in results}
    assert len(results) == len(by_id) and sorted(by_id) == ids
    for request_id, command in zip(ids, commands):
        result = by_id[request_id]
        if isinstance(command, bytes):
            try:
                text = command[8:-1].decode('utf-8')
            except UnicodeDecodeError:
                assert (result.status, result.code) == (STATUS_REJECTED, 'not_utf8')
                continue
        else:
            text = command
        if not text or text.isspace():
            expected = 'empty_text'
        elif len(text) > MAX_TEXT_CHARS:
            expected = 'text_too_long'
        elif any(0xD800 <= ord(character) <= 0xDFFF for character in text):
            expected = 'not_utf8'
        elif text_engine.models.tokenizer.count_tokens(text) > MODEL_PIECES:
            expected = 'text_too_long'          # more than the backbone reads: never cut
        else:
            expected = ''
        assert result.code == expected, (text[:80], result.reason)
        assert result.status == (STATUS_REJECTED if expected else STATUS_ANSWERED)
        if not expected:
            assert result.label in text_engine.models.labels
            assert 0.0 <= result.outcome.confidence <= 1.0
        assert result.input_text == text[:MAX_TEXT_CHARS]
