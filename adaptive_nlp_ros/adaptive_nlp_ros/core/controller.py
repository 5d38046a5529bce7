"""
The controller's logic without ROS: receive, check, queue, infer, answer each command once.

``controller_node`` is a thin adapter around ``CommandController``: its receive callbacks call
``receive_text_payload`` / ``receive_image`` / ``receive_battery`` and its publishers are the
two callbacks given here. The contract it keeps (``DESIGN.md``):

* **Exactly one result per received command.** Each receipt takes the next ``request_id``
  and ends in exactly one call of ``publish_result``: REJECTED at once (bad input, with the
  reason), DROPPED at once (queue overflow, or still queued at shutdown), or, from the
  worker, ANSWERED (or REJECTED when the model is unavailable or inference raised).
* **Off the receive path.** Inference runs on one worker thread (``start``), so receive
  callbacks, battery updates and parameter changes never wait for a model.
* **Stops first.** The cheap check at receipt (the pool's cheapest model: may this be a
  ``stop``?) puts a command in the queue's priority lane: served first, never dropped for an
  ordinary command. The lane is bounded too (``stop_queue_size``; see ``command_queue``): at
  a full lane the possible stop the check scored least likely to be one is demoted to the
  ordinary lane, so false alarms give way and real stops stay. When the check itself fails,
  the command counts as a possible stop (fail safe).
* **Stale battery.** Without a good ``BatteryState`` for ``battery_timeout_s`` the worker
  answers with ``stale_strategy``, treats the battery as unknown, and says so in every
  result's reason and configuration; fresh readings switch it back.
* **Settings** arrive whole (``update_settings``) after ``check`` accepted them, and the
  worker applies them before its next command.
* **Inactive** (the lifecycle node configured but not active: ``active=False``, or after
  ``deactivate``): every command received is answered REJECTED ``inactive`` at once, and so is
  any command still queued when the worker takes it. Only ``activate`` lets inference run.
"""

from dataclasses import dataclass, field
import itertools
import logging
import math
import pathlib
import threading
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

import numpy as np

from . import artifacts
from .battery_tracker import BatteryInput, BatteryReading, BatteryTracker, BatteryUpdate
from .command_queue import CommandQueue
from .command_validation import (check_image, check_text, image_pixels, ImageInput,
                                 REJECT_INACTIVE, REJECT_INFERENCE_ERROR,
                                 REJECT_MODEL_UNAVAILABLE, Rejection, REJECTION_CODES,
                                 text_from_cdr)
from .controller_parameters import ControllerSettings
from .energy_budget import EnergyBudgetModel
from .results import InferenceOutcome
from .strategies import REGISTRY, strategy_names
from .strategies.base import Strategy

LOG = logging.getLogger(__name__)

# The values of adaptive_nlp_ros_msgs/InferenceResult's STATUS_* constants (a test checks).
STATUS_ANSWERED = 0
STATUS_REJECTED = 1
STATUS_DROPPED = 2
STATUS_NAMES = {STATUS_ANSWERED: 'answered', STATUS_REJECTED: 'rejected',
                STATUS_DROPPED: 'dropped'}

DROP_QUEUE_FULL = 'queue_full'
DROP_SHUTDOWN = 'shutdown'
DROP_CODES = (DROP_QUEUE_FULL, DROP_SHUTDOWN)

KIND_TEXT = 'text'
KIND_IMAGE = 'image'
INPUT_TEXT_CHARS = 200               # InferenceResult.input_text keeps this many characters

DIAGNOSTIC_OK = 0
DIAGNOSTIC_WARN = 1
DIAGNOSTIC_ERROR = 2

LOG_THROTTLE_S = 10.0
WORKER_POLL_S = 0.1

INACTIVE_REASON = ('inactive: the controller is not active (lifecycle state inactive); it answers '
                   'commands once activated')


@dataclass(frozen=True)
class Configuration:
    """What was decided for a command (mirrors ``ChosenConfiguration``)."""

    strategy: str
    variant: str = ''
    exit_layer: int = 0
    num_layers: int = 0
    segment_precisions: Tuple[str, ...] = ()
    confidence_threshold: float = math.nan
    battery_fraction: float = math.nan
    energy_budget_mj: float = math.nan
    battery_stale: bool = False
    reason: str = ''

    def discrete_key(self) -> Tuple:
        """Return the fields whose change is published on ``chosen_configuration``."""
        return (self.strategy, self.variant, self.exit_layer, self.num_layers,
                self.segment_precisions, self.battery_stale)

    @classmethod
    def from_outcome(cls, outcome: InferenceOutcome, reason: str) -> 'Configuration':
        """Return the configuration an inference actually used."""
        return cls(strategy=outcome.strategy, variant=outcome.variant,
                   exit_layer=int(outcome.exit_layer), num_layers=int(outcome.num_layers),
                   segment_precisions=tuple(outcome.segment_precisions),
                   confidence_threshold=float(outcome.confidence_threshold),
                   battery_fraction=float(outcome.battery_fraction),
                   energy_budget_mj=float(outcome.energy_budget_mj),
                   battery_stale=bool(outcome.battery_stale), reason=reason)


@dataclass
class Command:
    """One received command, from receipt to its result."""

    request_id: int
    kind: str                            # KIND_TEXT or KIND_IMAGE
    text: str                            # '' for images
    received_s: float                    # controller clock (monotonic) at receipt
    stamp: Any = None                    # the node's receive stamp, passed back untouched
    frame_id: str = ''
    pixels: Optional[np.ndarray] = None  # images: height x width uint8
    priority: bool = False               # judged possibly stop at receipt
    stop_score: float = 0.0              # the cheap check's probability of stop


@dataclass(frozen=True)
class CommandResult:
    """The one result of one command (converted to ``InferenceResult`` by the node)."""

    request_id: int
    input_kind: str
    input_text: str                      # first INPUT_TEXT_CHARS characters; '' for images
    status: int                          # STATUS_*
    code: str                            # rejection / drop code; '' when answered
    reason: str
    configuration: Configuration
    latency_ms: float                    # receipt to publication
    stamp: Any = None
    frame_id: str = ''
    outcome: Optional[InferenceOutcome] = None
    priority: bool = False

    @property
    def label(self) -> str:
        """Return the label answered; empty unless answered."""
        return self.outcome.label if self.outcome is not None else ''

    @property
    def energy_mj(self) -> float:
        """Return the estimated energy of the inference (0 when nothing ran)."""
        return float(self.outcome.energy_mj) if self.outcome is not None else 0.0


@dataclass
class ControllerEngines:
    """The loaded models: text always, images when their artifacts load."""

    text: Any                            # core.engine.TextEngine (or a stand-in in tests)
    image: Any = None                    # core.image_engine.ImageEngine, None if unavailable
    problems: List[str] = field(default_factory=list)
    directory: Optional[pathlib.Path] = None
    load_s: float = 0.0

    def set_budget_model(self, budget: EnergyBudgetModel) -> None:
        """Give both engines a new budget model."""
        self.text.set_budget_model(budget)
        if self.image is not None:
            self.image.budget_model = budget


def load_controller_engines(directory: Optional[pathlib.Path] = None,
                            budget: EnergyBudgetModel = EnergyBudgetModel(),
                            threads: int = 1, warm_up: bool = True) -> ControllerEngines:
    """
    Load the text engine (fatal on failure) and the image engine (a problem on failure).

    :raises artifacts.ArtifactError: when the text models cannot be loaded; its message names
        the file and the command that rebuilds it.
    """
    from .engine import load_text_engine
    from .image_branchynet import BranchyNetClassifier
    from .image_engine import ImageEngine

    start = time.perf_counter()
    folder = pathlib.Path(directory) if directory else artifacts.default_artifacts_dir()
    text = load_text_engine(folder, budget, threads=threads)
    problems = list(text.models.problems)
    image = None
    try:
        manifest = artifacts.read_manifest(folder)
        artifacts.verify_files(folder, manifest, [artifacts.IMAGE_DIR])
        image = ImageEngine(BranchyNetClassifier.load(folder / artifacts.IMAGE_DIR),
                            text.profile, budget)
    except artifacts.ArtifactError as error:
        problems.append(f'image model unavailable: {error}')
    except (OSError, ValueError, KeyError, RuntimeError) as error:
        problems.append(f'image model unavailable: {folder / artifacts.IMAGE_DIR}: {error}. '
                        'Rebuild with: ' + artifacts.BUILD_COMMAND.format(directory=folder))
    engines = ControllerEngines(text, image, problems, folder)
    if warm_up:
        _warm_up(engines)
    engines.load_s = time.perf_counter() - start
    return engines


def _warm_up(engines: ControllerEngines) -> None:
    """Run each path once so the first real command does not pay for lazy initialisation."""
    text = engines.text
    resources = text.resources(1.0)
    for name in ('full', 'early_exit'):
        text.infer('warm up', text.strategy(name), resources)
    if engines.image is not None:
        engines.image.infer(np.zeros((8, 8), dtype=np.uint8), text.strategy('full'), resources)


class _LogThrottle:
    """Lets one message per key through per period and counts the ones it held back."""

    def __init__(self, period_s: float, clock: Callable[[], float]) -> None:
        self._period_s = period_s
        self._clock = clock
        self._last: Dict[str, float] = {}
        self._held: Dict[str, int] = {}
        self._lock = threading.Lock()

    def admit(self, key: str) -> Optional[int]:
        """Return how many were held back since the last admitted one, or None to hold back."""
        now = self._clock()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self._period_s:
                self._held[key] = self._held.get(key, 0) + 1
                return None
            self._last[key] = now
            return self._held.pop(key, 0)


ResultSink = Callable[[CommandResult], None]
ConfigurationSink = Callable[[Configuration, Any], None]


class CommandController:
    """Receives commands and battery readings, answers every command exactly once."""

    def __init__(self, engines: ControllerEngines, settings: ControllerSettings,
                 publish_result: ResultSink, publish_configuration: ConfigurationSink,
                 logger: Any = LOG, clock: Callable[[], float] = time.monotonic,
                 log_throttle_s: float = LOG_THROTTLE_S, active: bool = True) -> None:
        """
        Check the settings and build the strategies; the worker starts with ``start``.

        :param logger: anything with ``info``, ``warning`` and ``error`` taking one string
            (the node passes its ROS logger; repeated warnings are throttled here, per kind).
        :param active: False: answer every command REJECTED ``inactive`` until ``activate``.
        :raises ValueError: when the settings are refused (the message says why).
        """
        self.engines = engines
        self._publish_result = publish_result
        self._publish_configuration = publish_configuration
        self._logger = logger
        self._clock = clock
        self._throttle = _LogThrottle(log_throttle_s, clock)
        problem = self.check(settings)
        if problem is not None:
            raise ValueError(problem)
        self._settings = settings
        self._applied: Optional[ControllerSettings] = None
        self._strategy: Optional[Strategy] = None
        self._stale_strategy: Optional[Strategy] = None
        self._apply(settings)
        self.queue: CommandQueue[Command] = CommandQueue(settings.queue_size,
                                                         settings.stop_queue_size)
        self.battery = BatteryTracker(settings.battery_timeout_s, settings.max_stamp_skew_s,
                                      clock)
        self._ids = itertools.count(1)
        self._id_lock = threading.Lock()
        self._emit_lock = threading.Lock()
        self._counts: Dict[str, int] = {'received': 0, 'answered': 0, 'rejected': 0,
                                        'dropped': 0, 'possible_stop': 0,
                                        'publish_failures': 0}
        self._counts.update({f'rejected_{code}': 0 for code in REJECTION_CODES})
        self._counts.update({f'dropped_{code}': 0 for code in DROP_CODES})
        self._latency_sum_ms = 0.0
        self._last_latency_ms = math.nan
        self._last_configuration: Optional[Configuration] = None
        self._in_progress = 0
        self._worker: Optional[threading.Thread] = None
        self._worker_failed = ''
        self._stopping = threading.Event()
        self._active = active

    # -- settings ---------------------------------------------------------------------------

    @property
    def settings(self) -> ControllerSettings:
        """Return the settings in force (the worker applies them before its next command)."""
        return self._settings

    def valid_strategy_names(self) -> List[str]:
        """Return the strategies that may run here (evaluation-only ones excluded)."""
        return strategy_names(self.engines.text.context, include_evaluation_only=False)

    def check(self, settings: ControllerSettings) -> Optional[str]:
        """Return why ``settings`` cannot be used (unknown strategy, bad setting), or None."""
        for parameter, name in (('strategy', settings.strategy),
                                ('stale_strategy', settings.stale_strategy)):
            problem = self._strategy_problem(name, settings)
            if problem is not None:
                return f'{parameter}: {problem}'
        return None

    def _strategy_problem(self, name: str, settings: ControllerSettings) -> Optional[str]:
        """Return why strategy ``name`` cannot run with ``settings``, or None."""
        valid = self.valid_strategy_names()
        cls = REGISTRY.get(name)
        if cls is not None and cls.evaluation_only:
            return (f'{name!r} is an evaluation-only baseline (it needs the true label) and '
                    f'cannot run on the robot; valid strategies: {", ".join(valid)}')
        if name not in valid:
            return f'unknown strategy {name!r}; valid strategies: {", ".join(valid)}'
        try:
            self.engines.text.strategy(name, settings.settings_for(name))
        except Exception as error:  # noqa: B902 - any strategy may refuse its settings its way
            return f'strategy {name!r} refused its settings: {error}'
        return None

    def update_settings(self, settings: ControllerSettings) -> None:
        """
        Take new settings (already accepted by ``check``).

        Receipt limits, the queue bound and the battery timeout apply at once; strategies and
        the budget model from the worker's next command.
        """
        self._settings = settings
        self.queue.resize(settings.queue_size, settings.stop_queue_size)
        self.battery.timeout_s = settings.battery_timeout_s
        self.battery.max_stamp_skew_s = settings.max_stamp_skew_s

    def _apply(self, settings: ControllerSettings) -> None:
        """Build the strategies and set the budget model (worker thread, between commands)."""
        if settings is self._applied:
            return
        text = self.engines.text
        previous = self._applied
        if previous is None or previous.budget != settings.budget:
            self.engines.set_budget_model(settings.budget)
        self._strategy = text.strategy(settings.strategy, settings.settings_for(
            settings.strategy))
        self._stale_strategy = text.strategy(settings.stale_strategy, settings.settings_for(
            settings.stale_strategy))
        self._applied = settings
        if previous is not None:
            self._logger.info(f'now answering with {self._strategy.describe()} (stale battery: '
                              f'{self._stale_strategy.describe()})')

    # -- receipt (any thread) ---------------------------------------------------------------

    def _receipt(self, kind: str, text: str, stamp: Any, frame_id: str = '') -> Command:
        """Give a new command the next request id and count it as received."""
        with self._id_lock:
            request_id = next(self._ids)
            self._counts['received'] += 1
        return Command(request_id, kind, text, self._clock(), stamp, frame_id)

    def receive_text_payload(self, payload: bytes, stamp: Any = None) -> int:
        """Receive a serialized ``std_msgs/String``; return its request id."""
        text, rejection = text_from_cdr(payload)
        return self._receive_text(text, rejection, stamp)

    def receive_text(self, text: str, stamp: Any = None) -> int:
        """Receive an already decoded text command; return its request id."""
        return self._receive_text(text, None, stamp)

    def _receive_text(self, text: str, rejection: Optional[Rejection], stamp: Any) -> int:
        command = self._receipt(KIND_TEXT, text, stamp)
        if not self._active:
            rejection = Rejection(REJECT_INACTIVE, INACTIVE_REASON)
        elif rejection is None:
            rejection = check_text(text, self._settings.max_text_chars)
        if rejection is not None:
            self._reject(command, rejection)
            return command.request_id
        command.priority, command.stop_score = self._possible_stop(text)
        self._enqueue(command)
        return command.request_id

    def receive_image(self, image: ImageInput, stamp: Any = None) -> int:
        """Receive an image command; return its request id."""
        command = self._receipt(KIND_IMAGE, '', stamp, image.frame_id)
        if not self._active:
            rejection: Optional[Rejection] = Rejection(REJECT_INACTIVE, INACTIVE_REASON)
        else:
            rejection = check_image(image, self._settings.max_image_pixels)
        if rejection is None and self.engines.image is None:
            rejection = Rejection(REJECT_MODEL_UNAVAILABLE, 'the image model is not loaded ('
                                  + '; '.join(p for p in self.engines.problems
                                              if p.startswith('image')) + ')')
        if rejection is not None:
            self._reject(command, rejection)
            return command.request_id
        command.pixels = image_pixels(image)
        self._enqueue(command)
        return command.request_id

    def _possible_stop(self, text: str) -> Tuple[bool, float]:
        """
        Return the cheap check's verdict and stop score.

        A failing check counts as a possible stop with the highest score (fail safe).
        """
        try:
            check = self.engines.text.safety_check(text)
            return bool(check.possible), float(check.score)
        except Exception as error:  # noqa: B902 - fail safe: treat as a possible stop
            self._warn('stop_check_failed', f'the stop check failed ({error!r}); treating the '
                       'command as a possible stop')
            return True, 1.0

    def _enqueue(self, command: Command) -> None:
        """Queue a command; answer at once whatever the queue dropped for it."""
        if command.priority:
            with self._id_lock:
                self._counts['possible_stop'] += 1
        queue = self.queue
        for dropped in queue.put(command, command.priority, command.stop_score):
            full = f'queue full (queue_size {queue.capacity})'
            if queue.closed:
                self._drop(dropped, DROP_SHUTDOWN, 'the controller is shutting down')
                continue
            if dropped.priority:
                reason = (f'possible stop (score {dropped.stop_score:.2f}) demoted from the '
                          f'full stop lane (stop_queue_size {queue.priority_capacity}, which '
                          f'keeps the likeliest stops), then {full}')
            elif dropped is command:
                reason = f'{full} of possible stop commands: dropped this ordinary command'
            else:
                reason = f'{full}: dropped the oldest ordinary command'
            self._drop(dropped, DROP_QUEUE_FULL, reason)

    def receive_battery(self, battery: BatteryInput, now_stamp_s: float) -> BatteryUpdate:
        """Take a BatteryState reading (ignored ones are counted and logged, throttled)."""
        update = self.battery.update(battery, now_stamp_s)
        if not update.accepted:
            self._warn(f'battery_{update.ignored_reason}', f'ignored {update.detail}; keeping '
                       f'the last good reading')
        if update.stamp_far:
            self._warn('battery_stamp_far', f'BatteryState stamp is {update.stamp_skew_s:.1f} s '
                       f'from this clock (max_stamp_skew_s '
                       f'{self.battery.max_stamp_skew_s}); staleness is judged by receive '
                       'time')
        return update

    def poll_battery(self) -> Optional[BatteryReading]:
        """Log a switch between fresh and stale battery; return the reading when it switched."""
        reading = self.battery.poll()
        if reading is None:
            return None
        settings = self._settings
        if reading.stale:
            self._logger.warning(
                f'battery stale: no good BatteryState for {reading.age_s:.1f} s (> '
                f'battery_timeout_s {settings.battery_timeout_s}); answering with '
                f'stale_strategy {settings.stale_strategy} and an unknown battery')
        else:
            self._logger.info(f'battery fresh again ({100.0 * reading.fraction:.1f} %): '
                              f'answering with {settings.strategy}')
        return reading

    # -- results ----------------------------------------------------------------------------

    def _policy_configuration(self, reason: str) -> Configuration:
        """Return the configuration in force now (for results where nothing ran)."""
        reading = self.battery.reading()
        strategy = self._stale_strategy if reading.stale else self._strategy
        try:
            resources = self.engines.text.resources(reading.fraction, reading.charging,
                                                    reading.stale,
                                                    capacity_wh=reading.capacity_wh)
            threshold = float(strategy.confidence_threshold(resources))
            budget_mj = float(resources.budget_mj)
        except Exception:  # noqa: B902 - the result must go out even without these numbers
            threshold = budget_mj = math.nan
        return Configuration(strategy=strategy.name, confidence_threshold=threshold,
                             battery_fraction=reading.fraction, energy_budget_mj=budget_mj,
                             battery_stale=reading.stale, reason=reason)

    def _reject(self, command: Command, rejection: Rejection) -> None:
        """Answer a command REJECTED and log why (throttled per kind)."""
        shown = command.text[:60] + ('...' if len(command.text) > 60 else '')
        self._warn(f'rejected_{rejection.code}', f'rejected request {command.request_id}'
                   + (f' {shown!r}' if shown else '') + f': {rejection.reason}')
        self._emit(command, STATUS_REJECTED, rejection.code, rejection.reason,
                   self._policy_configuration(rejection.reason))

    def _drop(self, command: Command, code: str, reason: str) -> None:
        """Answer a command DROPPED and log why (throttled)."""
        self._warn(f'dropped_{code}', f'dropped request {command.request_id}: {reason}')
        self._emit(command, STATUS_DROPPED, code, reason, self._policy_configuration(reason))

    def _emit(self, command: Command, status: int, code: str, reason: str,
              configuration: Configuration,
              outcome: Optional[InferenceOutcome] = None) -> CommandResult:
        """Count and publish the one result of ``command``."""
        with self._emit_lock:
            latency_ms = (self._clock() - command.received_s) * 1e3
            result = CommandResult(
                request_id=command.request_id, input_kind=command.kind,
                input_text=command.text[:INPUT_TEXT_CHARS], status=status, code=code,
                reason=reason, configuration=configuration, latency_ms=latency_ms,
                stamp=command.stamp, frame_id=command.frame_id, outcome=outcome,
                priority=command.priority)
            with self._id_lock:
                self._counts[STATUS_NAMES[status]] += 1
                if code:
                    self._counts[f'{STATUS_NAMES[status]}_{code}'] += 1
                if status == STATUS_ANSWERED:
                    self._latency_sum_ms += latency_ms
                    self._last_latency_ms = latency_ms
            try:
                self._publish_result(result)
            except Exception as error:  # noqa: B902 - a failed publish must not stop the rest
                with self._id_lock:
                    self._counts['publish_failures'] += 1
                self._warn('publish_failed', f'publishing the result of request '
                           f'{command.request_id} failed: {error!r}')
            return result

    # -- the worker -------------------------------------------------------------------------

    def process_next(self, timeout_s: Optional[float] = 0.0) -> bool:
        """
        Answer the next queued command (waiting up to ``timeout_s``).

        :return: False when there was none.
        """
        command = self.queue.get(timeout_s)
        if command is None:
            return False
        self._in_progress = 1
        try:
            self._answer(command)
        finally:
            self._in_progress = 0
        return True

    def _answer(self, command: Command) -> None:
        """Infer one command and publish its result (and a changed configuration)."""
        if not self._active:
            self._reject(command, Rejection(REJECT_INACTIVE, INACTIVE_REASON))
            return
        self._apply(self._settings)
        reading = self.battery.reading()
        strategy = self._stale_strategy if reading.stale else self._strategy
        engines = self.engines
        resources = engines.text.resources(reading.fraction, reading.charging, reading.stale,
                                           capacity_wh=reading.capacity_wh)
        try:
            if command.kind == KIND_TEXT:
                outcome = engines.text.infer(command.text, strategy, resources)
            else:
                outcome = engines.image.infer(command.pixels, strategy, resources)
        except Exception as error:  # noqa: B902 - one failed inference must not stop the node
            self._reject(command, Rejection(REJECT_INFERENCE_ERROR,
                                            f'inference failed: {error!r}'))
            return
        reason = outcome.reason
        if reading.stale:
            reason = (f'battery stale ({reading.age_s:.1f} s without a good BatteryState): '
                      f'stale_strategy {strategy.name}, battery unknown; {reason}')
        configuration = Configuration.from_outcome(outcome, reason)
        previous = self._last_configuration
        if previous is None or previous.discrete_key() != configuration.discrete_key():
            self._last_configuration = configuration
            try:
                self._publish_configuration(configuration, command.stamp)
            except Exception as error:  # noqa: B902 - as for results
                self._warn('publish_failed', f'publishing the configuration failed: {error!r}')
        self._emit(command, STATUS_ANSWERED, '', reason, configuration, outcome)

    @property
    def active(self) -> bool:
        """Return True while commands are inferred (False: answered REJECTED ``inactive``)."""
        return self._active

    def activate(self) -> None:
        """Infer commands from now on; start the worker the first time."""
        self._active = True
        if self._worker is None:
            self.start()

    def deactivate(self) -> None:
        """
        Stop inferring: later commands, and those still queued, are answered REJECTED ``inactive``.

        The command being inferred, if any, is still answered; the worker keeps running (idle)
        so that ``activate`` resumes at once.
        """
        self._active = False

    def start(self) -> None:
        """Start the worker thread (once)."""
        if self._worker is not None:
            raise RuntimeError('the controller worker was already started')
        self._worker = threading.Thread(target=self._work, name='controller_worker',
                                        daemon=True)
        self._worker.start()

    def _work(self) -> None:
        """Worker loop: answer commands until stopped; an unexpected error is logged, not fatal."""
        while not self._stopping.is_set():
            try:
                self.process_next(WORKER_POLL_S)
            except Exception as error:  # noqa: B902 - keep answering; report on diagnostics
                self._worker_failed = repr(error)
                self._logger.error(f'controller worker error: {error!r}')
            if self.queue.closed and len(self.queue) == 0:
                break

    def stop(self, timeout_s: float = 1.0) -> int:
        """
        Stop the worker; answer DROPPED whatever was still queued; return how many.

        Safe to call more than once, and without ``start``.
        """
        self._stopping.set()
        remaining = self.queue.close()
        if self._worker is not None:
            self._worker.join(timeout_s)
        for command in remaining:
            self._drop(command, DROP_SHUTDOWN, 'the controller is shutting down')
        return len(remaining)

    @property
    def worker_alive(self) -> bool:
        """Return True while the worker thread runs."""
        return self._worker is not None and self._worker.is_alive()

    # -- status -----------------------------------------------------------------------------

    def counts(self) -> Dict[str, int]:
        """Return the command counters (received, answered, rejected, dropped and details)."""
        with self._id_lock:
            return dict(self._counts)

    @property
    def last_configuration(self) -> Optional[Configuration]:
        """Return the configuration last published, if any."""
        return self._last_configuration

    def diagnostics(self) -> Tuple[int, str, Dict[str, object]]:
        """Return ``(level, message, values)`` for the ``controller_node`` status."""
        settings = self._settings
        reading = self.battery.reading()
        counts = self.counts()
        answered = counts['answered']
        active = settings.stale_strategy if reading.stale else settings.strategy
        values: Dict[str, object] = {
            'active': self._active,
            'received': counts['received'],
            'answered': answered,
            'rejected': counts['rejected'],
            'dropped': counts['dropped'],
            'queue_length': len(self.queue),
            'battery_age_s': self.battery.age_s(),
            'strategy': settings.strategy,
            'active_strategy': active,
            'stale_strategy': settings.stale_strategy,
            'battery_stale': reading.stale,
            'battery_fraction': reading.last_good_fraction,
            'in_progress': self._in_progress,
            'queue_size': self.queue.capacity,
            'stop_queue_length': self.queue.priority_length(),
            'stop_queue_size': self.queue.priority_capacity,
            'stop_demoted': self.queue.demoted_total,
            'queue_high_water': self.queue.high_water,
            'possible_stop': counts['possible_stop'],
            'last_latency_ms': self._last_latency_ms,
            'mean_latency_ms': (self._latency_sum_ms / answered) if answered else math.nan,
            'publish_failures': counts['publish_failures'],
        }
        values.update({key: count for key, count in counts.items()
                       if key.startswith(('rejected_', 'dropped_'))})
        values.update(self.battery.counts())
        values['image_model'] = 'loaded' if self.engines.image is not None else 'unavailable'
        values['model_problems'] = '; '.join(self.engines.problems) or 'none'
        values['startup_s'] = self.engines.load_s
        notes = []
        if reading.stale:
            notes.append('battery stale (' + (f'none for {reading.age_s:.1f} s'
                                              if reading.ever_received else 'never received')
                         + ')')
        if self.engines.problems:
            notes.append(f'{len(self.engines.problems)} model problem(s): '
                         + '; '.join(self.engines.problems))
        level = DIAGNOSTIC_WARN if notes or not self._active else DIAGNOSTIC_OK
        state = f'answering with {active}' if self._active else \
            'inactive: every command is answered REJECTED'
        message = '; '.join([state] + notes)
        if self._worker is not None and not self.worker_alive and not self._stopping.is_set():
            level, message = DIAGNOSTIC_ERROR, f'the worker stopped ({self._worker_failed})'
        return level, message, values

    # -- logging ----------------------------------------------------------------------------

    def _warn(self, key: str, message: str) -> None:
        """Log a warning, at most one per ``key`` per throttle period."""
        held = self._throttle.admit(key)
        if held is None:
            return
        suffix = f' ({held} similar message(s) suppressed)' if held else ''
        self._logger.warning(message + suffix)
