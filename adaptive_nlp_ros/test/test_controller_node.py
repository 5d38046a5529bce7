"""
controller_node in its own process, seen from the test process through real rclpy.

One controller serves the whole module (its models take seconds to load): the module fixture
starts it on the module's own domain with a battery timeout of an hour (so the battery only
goes stale when a test asks for it) and every test leaves its parameters as it found them.
Commands are numbered by the controller in the order it receives them, so each test knows
which request ids its commands get and waits for exactly those results.
"""

import math
import os
import signal
import struct
import time
from typing import Any, Callable, Dict, List, Optional

from adaptive_nlp_ros.core.training.image_training import load_digit_splits
from adaptive_nlp_ros_msgs.msg import ChosenConfiguration, InferenceResult
from diagnostic_msgs.msg import DiagnosticArray
import pytest
from rcl_interfaces.srv import GetParameters, SetParameters
from rclpy.parameter import Parameter
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import BatteryState, Image
from std_msgs.msg import String

ANSWERED = InferenceResult.STATUS_ANSWERED
REJECTED = InferenceResult.STATUS_REJECTED
DROPPED = InferenceResult.STATUS_DROPPED
RELIABLE_10 = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
RELIABLE_1000 = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE)
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                     durability=DurabilityPolicy.TRANSIENT_LOCAL)
CONTROLLER_PARAMETERS: Dict[str, Any] = {
    'battery_timeout_s': 3600.0,
    'strategy': 'early_exit',
    'stale_strategy': 'energy_greedy',
}
DIAGNOSTICS_TIMEOUT_S = 5.0
RESULT_TIMEOUT_S = 20.0


class ControllerClient:
    """The test side of the module's controller: publishers, logs and parameter calls."""

    def __init__(self, domain, process) -> None:
        """Create publishers and subscriptions and wait until the controller is matched."""
        self.domain = domain
        self.process = process
        node = domain.node
        self.text = node.create_publisher(String, 'text_command', RELIABLE_1000)
        self.image = node.create_publisher(Image, 'image_command', RELIABLE_10)
        self.battery = node.create_publisher(BatteryState, 'battery_state', RELIABLE_10)
        self.results = domain.collect(InferenceResult, 'inference_result', RELIABLE_1000)
        self.configurations = domain.collect(ChosenConfiguration, 'chosen_configuration',
                                             LATCHED)
        self.diagnostics = domain.collect(DiagnosticArray, '/diagnostics', RELIABLE_10)
        self.set_client = node.create_client(SetParameters, '/controller_node/set_parameters')
        self.get_client = node.create_client(GetParameters, '/controller_node/get_parameters')
        self.next_id = 1
        self.shm_files_before: set = set()       # Fast DDS files from before the controller
        self.streaming_battery: Optional[float] = None
        node.create_timer(0.05, self._stream_battery)
        for publisher in (self.text, self.image, self.battery):
            domain.wait_for_subscribers(publisher, timeout_s=60.0)
        for log in (self.results, self.configurations):
            domain.wait_for_publishers(log.subscription)

    # -- commands ---------------------------------------------------------------------------

    def send_text(self, text: str) -> int:
        """Publish a text command; return the request id it will get."""
        self.text.publish(String(data=text))
        return self._take_id()

    def send_raw_text(self, payload: bytes) -> int:
        """Publish serialized std_msgs/String bytes as they are; return the request id."""
        self.text.publish(payload)
        return self._take_id()

    def send_image(self, message: Image) -> int:
        """Publish an image command; return the request id it will get."""
        self.image.publish(message)
        return self._take_id()

    def _take_id(self) -> int:
        request_id, self.next_id = self.next_id, self.next_id + 1
        return request_id

    def wait_results(self, request_ids: List[int],
                     timeout_s: float = RESULT_TIMEOUT_S) -> Dict[int, InferenceResult]:
        """Wait for the results of ``request_ids``; return them by id (one each, checked)."""
        wanted = set(request_ids)

        def arrived() -> Dict[int, List[InferenceResult]]:
            found: Dict[int, List[InferenceResult]] = {}
            for message in self.results.messages:
                if message.request_id in wanted:
                    found.setdefault(message.request_id, []).append(message)
            return found
        self.domain.spin_until(lambda: len(arrived()) == len(wanted), timeout_s,
                               f'results of requests {sorted(wanted)}')
        found = arrived()
        duplicates = {key: len(value) for key, value in found.items() if len(value) > 1}
        assert not duplicates, f'more than one result for {duplicates}'
        return {key: value[0] for key, value in found.items()}

    def ask(self, text: str) -> InferenceResult:
        """Send one text command and return its result."""
        request_id = self.send_text(text)
        return self.wait_results([request_id])[request_id]

    # -- battery ----------------------------------------------------------------------------

    def battery_message(self, fraction: float, present: bool = True,
                        stamp_offset_s: float = 0.0) -> BatteryState:
        """Return a BatteryState at ``fraction``, stamped now (plus an offset)."""
        now = self.domain.node.get_clock().now()
        seconds = now.nanoseconds * 1e-9 + stamp_offset_s
        message = BatteryState(percentage=fraction, present=present, voltage=24.0,
                               capacity=100.0 / 24.0,
                               power_supply_status=BatteryState.POWER_SUPPLY_STATUS_DISCHARGING)
        message.header.stamp.sec = int(seconds)
        message.header.stamp.nanosec = int((seconds % 1.0) * 1e9)
        return message

    def set_battery(self, fraction: float) -> None:
        """Publish the battery level until the controller's diagnostics show it."""
        self.battery.publish(self.battery_message(fraction))
        deadline = time.monotonic() + DIAGNOSTICS_TIMEOUT_S
        while True:
            values = self.diagnostic_values()
            if float(values['battery_fraction']) == pytest.approx(fraction, abs=1e-6):
                return
            assert time.monotonic() < deadline, f'battery {fraction} never reached {values}'
            self.battery.publish(self.battery_message(fraction))

    def _stream_battery(self) -> None:
        """Timer: keep the battery fresh while a test asks for it."""
        if self.streaming_battery is not None:
            self.battery.publish(self.battery_message(self.streaming_battery))

    # -- diagnostics and parameters ---------------------------------------------------------

    def diagnostic_values(self, predicate: Optional[Callable[[Dict[str, str]], bool]] = None,
                          what: str = 'a controller_node status') -> Dict[str, str]:
        """Wait for a controller_node status published from now on; return its values."""
        def values(array: DiagnosticArray) -> Optional[Dict[str, str]]:
            for status in array.status:
                if status.name == 'controller_node':
                    return {pair.key: pair.value for pair in status.values}
            return None
        message = self.diagnostics.wait_for(
            lambda array: values(array) is not None and (predicate is None or
                                                         predicate(values(array))),
            timeout_s=DIAGNOSTICS_TIMEOUT_S, after=len(self.diagnostics), what=what)
        return values(message)

    def set_parameters(self, **values: Any) -> List[Any]:
        """Set parameters through the parameter service; return the per-parameter results."""
        request = SetParameters.Request(parameters=[
            Parameter(name, value=value).to_parameter_msg() for name, value in values.items()])
        return self.domain.call_service(self.set_client, request).results

    def set_ok(self, **values: Any) -> None:
        """Set parameters and assert each was accepted."""
        for result in self.set_parameters(**values):
            assert result.successful, result.reason

    def get_parameter(self, name: str) -> Any:
        """Read one parameter through the parameter service."""
        response = self.domain.call_service(self.get_client, GetParameters.Request(names=[name]))
        from rcl_interfaces.msg import Parameter as ParameterMessage
        return Parameter.from_parameter_msg(ParameterMessage(name=name,
                                                             value=response.values[0])).value


@pytest.fixture(scope='module')
def controller(module_ros_domain):
    """Start the module's controller and return its client (battery at 90 %)."""
    from conftest import fastdds_shm_files

    shm_files_before = fastdds_shm_files()
    process = module_ros_domain.start_node('controller_node', parameters=CONTROLLER_PARAMETERS)
    client = ControllerClient(module_ros_domain, process)
    client.shm_files_before = shm_files_before
    client.set_battery(0.9)
    return client


def counter(values: Dict[str, str], key: str) -> int:
    """Return an integer diagnostic value."""
    return int(values[key])


def image_message(height: int, width: int, step: Optional[int] = None,
                  data: Optional[bytes] = None, encoding: str = 'mono8') -> Image:
    """Return an Image with the given layout (data of step x height bytes by default)."""
    message = Image(height=height, width=width, encoding=encoding,
                    step=width if step is None else step)
    message.data = bytes(message.step * height) if data is None else data
    return message


# -- answering ----------------------------------------------------------------------------

def test_easy_commands_are_answered_with_their_labels(controller):
    """Easy commands come back answered, labelled right, text echoed, ids and stamps in order."""
    commands = {'go to the kitchen': 'navigate', 'pick up the red cup': 'pick',
                'stop': 'stop', 'what is your battery level': 'status', 'hello robot': 'greet',
                'follow me': 'follow'}
    ids = {controller.send_text(text): (text, label) for text, label in commands.items()}
    results = controller.wait_results(list(ids))
    stamps = []
    for request_id, (text, label) in ids.items():
        result = results[request_id]
        assert result.status == ANSWERED, result.reason
        assert (result.input_kind, result.input_text, result.label) == ('text', text, label)
        assert 0.0 < result.confidence <= 1.0 and result.top_labels[0] == label
        assert result.latency_ms > 0.0 and result.energy_mj > 0.0
        assert result.configuration.strategy == 'early_exit'
        assert result.configuration.battery_fraction == pytest.approx(0.9)
        assert not result.configuration.battery_stale
        stamps.append(result.header.stamp.sec * 10**9 + result.header.stamp.nanosec)
    assert stamps == sorted(stamps) and stamps[0] > 0
    stop = results[next(key for key, value in ids.items() if value[1] == 'stop')]
    assert stop.configuration.exit_layer == stop.configuration.num_layers  # the full reference


def test_a_compound_command_is_published_as_its_actions(controller):
    """Ordered actions with typed arguments on spans of the echoed text, the pronoun resolved."""
    text = 'pick up the red cup and bring it to Anna'
    result = controller.wait_results([controller.send_text(text)])
    result = next(iter(result.values()))
    assert result.status == ANSWERED, result.reason
    assert [action.intent for action in result.actions] == ['pick', 'bring']
    assert result.label == result.actions[0].intent
    pick, bring = ({argument.role: argument for argument in action.arguments}
                   for action in result.actions)
    assert text[pick['object'].start:pick['object'].end] == pick['object'].value == 'red cup'
    assert not pick['object'].resolved
    assert bring['object'].resolved and bring['object'].value == 'red cup'
    assert text[bring['object'].start:bring['object'].end] == 'it'
    assert text[bring['person'].start:bring['person'].end] == bring['person'].value == 'Anna'
    for action in result.actions:
        assert 0.0 < action.confidence <= 1.0
        assert all(0.0 < argument.confidence <= 1.0 for argument in action.arguments)


def held_out_digit(index: int):
    """Return a held-out digit (never trained on) as mono8 pixels and its digit."""
    images, digits = load_digit_splits()['test']
    return images[index], int(digits[index])


def test_image_command_is_answered_with_its_digit(controller):
    """A held-out mono8 digit comes back answered with its digit label."""
    pixels, digit = held_out_digit(0)
    message = image_message(*pixels.shape, data=pixels.tobytes())
    request_id = controller.send_image(message)
    result = controller.wait_results([request_id])[request_id]
    assert result.status == ANSWERED, result.reason
    assert (result.input_kind, result.input_text, result.label) == ('image', '', f'digit_{digit}')
    assert result.configuration.variant == 'branchynet'
    assert 1 <= result.configuration.exit_layer <= result.configuration.num_layers


def test_late_subscriber_receives_the_current_configuration(controller):
    """A transient-local subscription made after the fact gets the latest configuration."""
    result = controller.ask('bring me the newspaper')
    late = controller.domain.collect(ChosenConfiguration, 'chosen_configuration', LATCHED)
    message = late.wait_for(what='the latched chosen_configuration')
    expected = result.configuration
    assert (message.strategy, message.variant, message.exit_layer,
            list(message.segment_precisions), message.battery_stale) == \
        (expected.strategy, expected.variant, expected.exit_layer,
         list(expected.segment_precisions), expected.battery_stale)
    controller.domain.node.destroy_subscription(late.subscription)


# -- parameters ---------------------------------------------------------------------------

def test_strategy_switch_takes_effect_on_the_next_command(controller):
    """Setting strategy through the parameter service changes the next result's configuration."""
    before = controller.ask('go to the kitchen')
    assert before.configuration.strategy == 'early_exit'
    controller.set_ok(strategy='energy_greedy')
    try:
        after = controller.ask('go to the kitchen')
        assert after.configuration.strategy == 'energy_greedy'
        assert after.configuration.variant.startswith(('minilm_', 'tfidf'))   # a pool variant
        assert after.label == 'navigate'
    finally:
        controller.set_ok(strategy='early_exit')
    assert controller.ask('go to the kitchen').configuration.strategy == 'early_exit'


def test_threshold_parameters_take_effect(controller):
    """
    early_exit thresholds set at run time show in the next result's threshold.

    At battery 0.9 with the default 10% reserve, 8/9 of the way from the threshold at empty
    (0.3) to the one at full (0.4): 0.3889. An interpolation the wrong way round gives 0.3111.
    """
    from adaptive_nlp_ros.core.battery.energy_budget import EnergyBudgetModel
    from adaptive_nlp_ros.core.inference.strategies.base import threshold_for_battery

    controller.set_ok(**{'early_exit.threshold_at_full': 0.4,
                         'early_exit.threshold_at_empty': 0.3})
    try:
        result = controller.ask('go to the kitchen')
        battery = result.configuration.battery_fraction
        assert battery == pytest.approx(0.9)
        expected = threshold_for_battery(battery, 0.4, 0.3, EnergyBudgetModel().reserve_fraction)
        assert expected == pytest.approx(0.3 + 0.1 * 8.0 / 9.0)
        assert result.configuration.confidence_threshold == pytest.approx(expected, abs=1e-5)
    finally:
        controller.set_ok(**{'early_exit.threshold_at_full': 0.95,
                             'early_exit.threshold_at_empty': 0.6})
    assert controller.ask('go to the kitchen').configuration.confidence_threshold > 0.6


@pytest.mark.parametrize('name, value, words', [
    ('strategy', 'no_such_strategy', 'unknown strategy'),
    ('strategy', 'oracle', 'evaluation-only'),
    ('stale_strategy', 'oracle', 'evaluation-only'),
    ('strategy', 'static:no_such_variant', 'unknown strategy'),
    ('queue_size', 0, 'out of range'),
    ('max_batch', 0, 'out of range'),
    ('early_exit.threshold_at_full', 1.5, 'out of range'),
    ('battery_timeout_s', 'soon', ''),            # wrong type: refused by rclpy's descriptor
    ('artifacts_dir', '/elsewhere', 'read-only'),
])
def test_invalid_parameter_changes_are_refused(controller, name, value, words):
    """Unknown or evaluation-only strategies, bad ranges and types are refused; old value kept."""
    old = controller.get_parameter(name)
    result = controller.set_parameters(**{name: value})[0]
    assert not result.successful
    assert words in result.reason, result.reason
    if 'strategy' in words or 'evaluation-only' in words:
        assert 'valid strategies' in result.reason and 'early_exit' in result.reason
    assert controller.get_parameter(name) == old


# -- battery ------------------------------------------------------------------------------

def test_lower_battery_changes_the_configuration(controller):
    """With energy_greedy, a nearly empty battery picks a cheaper variant than a full one."""
    controller.set_ok(strategy='energy_greedy')
    try:
        controller.set_battery(1.0)
        full = controller.ask('go to the kitchen').configuration
        controller.set_battery(0.12)
        low = controller.ask('go to the kitchen').configuration
    finally:
        controller.set_ok(strategy='early_exit')
        controller.set_battery(0.9)
    assert low.energy_budget_mj < full.energy_budget_mj
    assert (low.variant, low.exit_layer) != (full.variant, full.exit_layer)
    assert low.battery_fraction == pytest.approx(0.12)


def test_stale_battery_switches_strategy_and_recovers(controller):
    """No battery for battery_timeout_s: stale strategy, reported; fresh readings restore it."""
    controller.set_ok(battery_timeout_s=1.0)
    try:
        values = controller.diagnostic_values(lambda v: v['battery_stale'] == 'true',
                                              what='a stale battery')
        assert values['active_strategy'] == 'energy_greedy'
        stale = controller.ask('go to the kitchen')
        assert stale.status == ANSWERED and stale.label == 'navigate'
        assert stale.configuration.battery_stale
        assert stale.configuration.strategy == 'energy_greedy'
        assert math.isnan(stale.configuration.battery_fraction)
        assert 'battery stale' in stale.reason
        controller.configurations.wait_for(lambda message: message.battery_stale,
                                           what='a stale chosen_configuration')

        controller.streaming_battery = 0.8
        controller.diagnostic_values(lambda v: v['battery_stale'] == 'false',
                                     what='a fresh battery again')
        fresh = controller.ask('go to the kitchen')
        assert not fresh.configuration.battery_stale
        assert fresh.configuration.strategy == 'early_exit'
        assert fresh.configuration.battery_fraction == pytest.approx(0.8)
    finally:
        controller.set_ok(battery_timeout_s=3600.0)
        controller.streaming_battery = None
        controller.set_battery(0.9)
    assert 'battery stale' in controller.process.stderr
    assert 'battery fresh again' in controller.process.stderr


@pytest.mark.parametrize('fraction, present, key', [
    (float('nan'), True, 'battery_ignored_nan'),
    (-0.2, True, 'battery_ignored_out_of_range'),
    (1.5, True, 'battery_ignored_out_of_range'),
    (0.5, False, 'battery_ignored_not_present'),
])
def test_bad_battery_states_are_ignored_and_counted(controller, fraction, present, key):
    """NaN, out-of-range or absent batteries are counted; the last good value is kept."""
    before = controller.diagnostic_values()
    controller.battery.publish(controller.battery_message(fraction, present=present))
    after = controller.diagnostic_values(lambda v: counter(v, key) > counter(before, key),
                                         what=f'{key} to grow')
    assert float(after['battery_fraction']) == pytest.approx(0.9)
    assert controller.ask('go to the kitchen').configuration.battery_fraction == \
        pytest.approx(0.9)


def test_battery_stamp_far_from_the_clock_is_counted(controller):
    """A stamp an hour off is logged and counted; the reading itself is used."""
    before = controller.diagnostic_values()
    controller.battery.publish(controller.battery_message(0.9, stamp_offset_s=-3600.0))
    controller.diagnostic_values(
        lambda v: counter(v, 'battery_stamp_far') > counter(before, 'battery_stamp_far'),
        what='battery_stamp_far to grow')
    assert 'stamp is' in controller.process.stderr


# -- bad commands: one test per class -----------------------------------------------------

def assert_rejected(controller, send: Callable[[], List[int]], code: str, words: str) -> None:
    """Send commands; assert each was rejected with ``words`` and ``rejected_<code>`` grew."""
    key = f'rejected_{code}'
    before = controller.diagnostic_values()
    request_ids = send()
    for result in controller.wait_results(request_ids).values():
        assert result.status == REJECTED, (result.status, result.reason)
        assert words in result.reason, result.reason
        assert result.label == '' and result.energy_mj == 0.0
    controller.diagnostic_values(
        lambda v: counter(v, key) == counter(before, key) + len(request_ids) and
        counter(v, 'rejected') == counter(before, 'rejected') + len(request_ids),
        what=f'{key} and rejected to grow by {len(request_ids)}')


def test_empty_and_whitespace_text_are_rejected(controller):
    assert_rejected(controller, lambda: [controller.send_text(''),
                                         controller.send_text('   \t\n ')],
                    'empty_text', 'empty command')


def test_text_over_max_text_chars_is_rejected_not_truncated(controller):
    assert_rejected(controller, lambda: [controller.send_text('go to the kitchen ' + 'x' * 1000)],
                    'text_too_long', 'max_text_chars 1000')
    just_fits = controller.ask('go to the kitchen ' + 'a' * (1000 - 18))
    assert just_fits.status == ANSWERED
    assert len(just_fits.input_text) == 1000                # echoed whole: spans index it


def test_commands_older_than_max_command_age_s_are_rejected_stale_but_stop_is_honoured(
        controller):
    """The age is read from DDS's two timestamps: a microsecond's limit makes every command old."""
    controller.set_ok(max_command_age_s=1e-6)
    try:
        old_task = controller.send_text('go to the kitchen')
        old_stop = controller.send_text('stop')
        results = controller.wait_results([old_task, old_stop])
        assert results[old_task].status == REJECTED
        assert 'stale' in results[old_task].reason
        assert 'over max_command_age_s 1e-06' in results[old_task].reason
        assert results[old_stop].status == ANSWERED and results[old_stop].label == 'stop'
        assert 'but a stop: honoured' in results[old_stop].reason
        values = controller.diagnostic_values(
            lambda values: counter(values, 'rejected_stale') >= 1, 'a stale rejection counted')
        assert counter(values, 'stale_stop_honoured') >= 1
    finally:
        controller.set_ok(max_command_age_s=2.0)
    assert controller.ask('go to the kitchen').status == ANSWERED


def test_control_characters_emoji_and_mixed_scripts_are_answered(controller):
    text = 'go to the kitchen \u0007\u001b\t \U0001F373 und dann zur K\u00fcche \u53a8\u623f'
    result = controller.ask(text)
    assert result.status == ANSWERED, result.reason
    assert result.input_text == text and result.label


def test_text_that_is_not_utf8_is_rejected(controller):
    payload = b'\x00\x01\x00\x00' + struct.pack('<I', 8) + b'go \xff\xfeto\x00'
    assert_rejected(controller, lambda: [controller.send_raw_text(payload)], 'not_utf8',
                    'not valid UTF-8')


def test_image_with_unsupported_encoding_is_rejected(controller):
    assert_rejected(controller,
                    lambda: [controller.send_image(image_message(8, 8, step=24,
                                                                 encoding='rgb8'))],
                    'image_encoding', "unsupported image encoding 'rgb8'")


def test_image_whose_step_or_data_mismatch_is_rejected(controller):
    assert_rejected(controller,
                    lambda: [controller.send_image(image_message(8, 8, step=7, data=bytes(56))),
                             controller.send_image(image_message(8, 8, data=bytes(60)))],
                    'image_layout', 'image')


def test_image_of_zero_size_is_rejected(controller):
    assert_rejected(controller, lambda: [controller.send_image(image_message(0, 8))],
                    'image_empty', 'empty image')


def test_image_over_max_image_pixels_is_rejected(controller):
    assert_rejected(controller, lambda: [controller.send_image(image_message(600, 600))],
                    'image_too_large', 'max_image_pixels 262144')


def test_padded_image_rows_are_accepted(controller):
    """Rows longer than the width (step > width) are legal padding, not a mismatch."""
    pixels, digit = held_out_digit(1)
    padded = bytes(b for row in pixels for b in (row.tobytes() + b'\x00\x00'))
    request_id = controller.send_image(image_message(8, 8, step=10, data=padded))
    result = controller.wait_results([request_id])[request_id]
    assert result.status == ANSWERED and result.label == f'digit_{digit}'


# -- bursts -------------------------------------------------------------------------------

def test_burst_larger_than_the_queue_yields_one_result_each_and_answers_every_stop(controller):
    """150 commands into a queue of 5: each gets one result, drops counted, every stop answered."""
    controller.set_ok(queue_size=5)
    stops = ('stop', 'halt!', 'freeze', 'stop right there', 'STOP NOW')
    try:
        before = controller.diagnostic_values()
        sent: Dict[int, str] = {}
        for index in range(150):
            text = stops[index // 10 % len(stops)] if index % 10 == 5 else \
                f'go to room {index}'
            sent[controller.send_text(text)] = text
        results = controller.wait_results(list(sent), timeout_s=60.0)
    finally:
        controller.set_ok(queue_size=100)
    statuses = [result.status for result in results.values()]
    assert set(statuses) <= {ANSWERED, DROPPED}
    assert statuses.count(DROPPED) > 0, 'the burst never overflowed the queue'
    for request_id, text in sent.items():
        result = results[request_id]
        assert result.input_text == text
        if text in stops:
            assert result.status == ANSWERED and result.label == 'stop', result.reason
        if result.status == DROPPED:
            assert 'queue full' in result.reason
    after = controller.diagnostic_values(
        lambda v: counter(v, 'received') - counter(before, 'received') >= len(sent),
        what='the burst counted')
    for key in ('received', 'answered', 'rejected', 'dropped'):
        after[key] = counter(after, key)
    assert after['received'] == after['answered'] + after['rejected'] + after['dropped'] + \
        counter(after, 'queue_length') + counter(after, 'in_progress')
    assert after['dropped'] - counter(before, 'dropped') == statuses.count(DROPPED)
    assert controller.ask('go to the kitchen').status == ANSWERED     # still answering


# -- life cycle ---------------------------------------------------------------------------

def test_sigterm_ends_the_controller_cleanly(controller):
    """
    SIGTERM (as a launch system sends it) ends the process, status 0, no traceback.

    How long that takes is measured in ``bench/bench_controller.py``; here 5 s only bounds a
    hang (two shared cores).

    Nothing is left behind: no process the controller started (looked up while it still
    runs: once it has exited its children would belong to init) and no Fast DDS file of its own.
    """
    from conftest import fastdds_shm_files_of, stale_shm_files

    process = controller.process
    assert process.running, process.describe()
    pid = process.process.pid
    descendants = _descendants_of(pid)
    shm_files = fastdds_shm_files_of(pid) - controller.shm_files_before
    process.process.send_signal(signal.SIGTERM)
    status = process.wait_exit(timeout_s=5.0)
    assert status == 0, process.describe()
    assert 'Traceback' not in process.stderr, process.describe()
    assert not [child for child in descendants if _alive(child)], descendants
    assert not stale_shm_files(shm_files), f'Fast DDS files left behind: {shm_files}'


def _parent_of(pid: int) -> int:
    """Return the parent id of a live process (0 when it is gone)."""
    try:
        with open(f'/proc/{pid}/stat') as stream:
            return int(stream.read().rsplit(')', 1)[1].split()[1])
    except OSError:
        return 0


def _alive(pid: int) -> bool:
    """Return True for a process that exists and is not a zombie."""
    try:
        with open(f'/proc/{pid}/stat') as stream:
            return stream.read().rsplit(')', 1)[1].split()[0] != 'Z'
    except OSError:
        return False


def _descendants_of(pid: int) -> List[int]:
    """Return the ids of every live process below ``pid`` (children, their children ...)."""
    parents = {int(entry): _parent_of(int(entry)) for entry in os.listdir('/proc')
               if entry.isdigit()}
    found, frontier = [], [pid]
    while frontier:
        parent = frontier.pop()
        children = [child for child, its_parent in parents.items() if its_parent == parent]
        found += children
        frontier += children
    return found
