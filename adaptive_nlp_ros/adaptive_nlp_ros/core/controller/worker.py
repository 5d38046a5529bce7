"""
The one thread that answers queued commands, so that receipt never waits for a model.

Before each command it applies the settings in force, reads the battery as the controller
judges it (stale after ``battery_timeout_s``: then ``stale_strategy`` answers with the
battery unknown), infers, and publishes the result, and the configuration when its discrete
fields changed. An inference that raises is answered REJECTED with the error; an unexpected
error in the loop is logged and shown on the diagnostics, and the loop goes on. Under
``edge_offload`` a text command may be answered by the expert server instead (the worker then
waits at most the deadline; see ``core.offload.edge_offload``).

Micro-batching under backlog: when several ordinary text commands wait one behind the other,
up to ``max_batch`` of them are answered by one ``TextEngine.infer_batch`` call, which makes
every command's decisions as alone (same strategy, same resources: the battery is read once
per batch) and runs together only the steps they share. Possible stops still go first, each
alone (``CommandQueue.get_batch``): a stop never waits for a batch mate. Each command is then
finished exactly as alone (stale-command rule, configuration, its result), in queue order;
each result counts the batch's whole wall time, since all leave when the batch is done.
Nothing waits for a batch to fill: a lone command is answered alone. Images, and text while
``edge_offload`` decides where to compute, go one at a time. A batch whose inference raises
is answered again one command at a time, so each is answered or rejected with its own reason.
"""

import math
import threading
import time
from typing import Any, Callable, List, Optional, Sequence

from .battery_tracker import BatteryReading, BatteryTracker
from .command_queue import CommandQueue
from .command_validation import (REJECT_INACTIVE, REJECT_INFERENCE_ERROR, Rejection,
                                 stale_rejection)
from .ledger import ResultLedger
from .log_throttle import ThrottledLog
from .records import (Command, Configuration, EXECUTED_ON_ROBOT, INACTIVE_REASON, KIND_TEXT,
                      STATUS_ANSWERED)
from .strategy_selection import StrategySelection
from ..inference.results import InferenceOutcome
from ..offload.edge_offload import (offloaded_outcome, on_robot,
                                    STRATEGY_NAME as EDGE_OFFLOAD)

WORKER_POLL_S = 0.1
ConfigurationSink = Callable[[Configuration, Any], None]


class InferenceWorker:
    """Answers the queue's commands, alone or in batches, on its own thread once started."""

    def __init__(self, engines: Any, queue: CommandQueue, selection: StrategySelection,
                 battery: BatteryTracker, ledger: ResultLedger, settings: Callable[[], Any],
                 publish_configuration: ConfigurationSink, log: ThrottledLog, logger: Any,
                 reject: Callable[[Command, Rejection], None],
                 active: Callable[[], bool]) -> None:
        """
        Wire the worker to the controller's parts; ``start`` starts the thread.

        :param active: False while inactive: a queued command is answered REJECTED.
        """
        self._engines = engines
        self._queue = queue
        self._selection = selection
        self._battery = battery
        self._ledger = ledger
        self._settings = settings
        self._publish_configuration = publish_configuration
        self._log = log
        self._logger = logger
        self._reject = reject
        self._active = active
        self._last_configuration: Optional[Configuration] = None
        self.in_progress = 0
        self.failed = ''
        self.batches = 0                 # batches of two or more commands answered together
        self.batched_commands = 0        # commands in those batches
        self.batch_failures = 0          # batches answered again one command at a time
        self._thread: Optional[threading.Thread] = None
        self._stopping = threading.Event()

    def process_next(self, timeout_s: Optional[float] = 0.0) -> bool:
        """
        Answer the next queued command, and those that join its batch (waiting ``timeout_s``).

        :return: False when there was none.
        """
        commands = self._queue.get_batch(timeout_s, self._batch_limit(), _batchable)
        if not commands:
            return False
        self.in_progress = len(commands)
        try:
            if len(commands) == 1:
                self._answer(commands[0])
            else:
                self._answer_batch(commands)
        finally:
            self.in_progress = 0
        return True

    def _batch_limit(self) -> int:
        """Return ``max_batch``, or 1 while ``edge_offload`` decides where text runs."""
        settings = self._settings()
        name = settings.stale_strategy if self._battery.reading().stale else settings.strategy
        return 1 if name == EDGE_OFFLOAD else settings.max_batch

    def _answer(self, command: Command) -> None:
        """Infer one command and publish its result (and a changed configuration)."""
        if not self._active():
            self._reject(command, Rejection(REJECT_INACTIVE, INACTIVE_REASON))
            return
        self._selection.apply(self._settings())
        reading = self._battery.reading()
        strategy = self._selection.for_command(command.kind, reading.stale)
        engines = self._engines
        resources = engines.text.resources(reading.fraction, reading.charging, reading.stale,
                                           capacity_wh=reading.capacity_wh)
        edge = self._selection.edge_for(command.kind, reading.stale)
        placement = None
        try:
            if edge is not None:
                placement = edge.place(command.request_id, command.text, command.priority,
                                       resources)
            if placement is not None and placement.reply is not None:
                outcome = offloaded_outcome(placement.reply, resources, placement.radio_mj,
                                            placement.round_trip_ms)
            elif command.kind == KIND_TEXT:
                outcome = engines.text.infer(command.text, strategy, resources)
            else:
                outcome = engines.image.infer(command.pixels, strategy, resources)
        except Exception as error:  # noqa: B902 - one failed inference must not stop the node
            self._reject(command, Rejection(REJECT_INFERENCE_ERROR,
                                            f'inference failed: {error!r}'))
            return
        executed_on, round_trip_ms = EXECUTED_ON_ROBOT, math.nan
        if placement is not None:
            executed_on, round_trip_ms = placement.executed_on, placement.round_trip_ms
            if placement.reply is None:
                if not command.priority:        # stops take the costlier safety path
                    edge.observe_local(outcome.energy_mj)
                outcome = on_robot(outcome, placement)
            outcome.reason = '; '.join(part for part in (placement.reason, outcome.reason)
                                       if part)
        self._finish(command, outcome, reading, strategy.name, executed_on, round_trip_ms)

    def _answer_batch(self, commands: Sequence[Command]) -> None:
        """Infer queued text commands as one batch; answer each as ``_answer`` would."""
        if not self._active():
            for command in commands:
                self._reject(command, Rejection(REJECT_INACTIVE, INACTIVE_REASON))
            return
        try:
            self._selection.apply(self._settings())
            reading = self._battery.reading()
            offloading = self._selection.edge_for(KIND_TEXT, reading.stale) is not None
            if not offloading:
                strategy = self._selection.for_command(KIND_TEXT, reading.stale)
                text = self._engines.text
                resources = text.resources(reading.fraction, reading.charging, reading.stale,
                                           capacity_wh=reading.capacity_wh)
                started = time.perf_counter()
                outcomes = text.infer_batch([command.text for command in commands], strategy,
                                            resources)
                if len(outcomes) != len(commands):
                    raise RuntimeError(f'{len(outcomes)} outcomes for {len(commands)} '
                                       'commands')
        except Exception as error:  # noqa: B902 - answer each alone, with its own reason
            self.batch_failures += 1
            self._log.warn('batch_failed', f'a batch of {len(commands)} commands failed '
                           f'({error!r}); answering them one at a time')
            self._one_at_a_time(commands)
            return
        if offloading:                          # the battery went stale into edge_offload
            self._one_at_a_time(commands)
            return
        wall_ms = (time.perf_counter() - started) * 1e3
        self.batches += 1
        self.batched_commands += len(commands)
        for command, outcome in zip(commands, outcomes):
            outcome.latency_ms = wall_ms
            try:
                self._finish(command, outcome, reading, strategy.name)
            except Exception as error:  # noqa: B902 - the rest of the batch is still answered
                self._reject(command, Rejection(REJECT_INFERENCE_ERROR,
                                                f'answering failed: {error!r}'))

    def _one_at_a_time(self, commands: Sequence[Command]) -> None:
        """Answer commands alone, in order; one that fails is rejected, the rest go on."""
        for command in commands:
            try:
                self._answer(command)
            except Exception as error:  # noqa: B902 - as in the batch: answer everyone
                self._reject(command, Rejection(REJECT_INFERENCE_ERROR,
                                                f'answering failed: {error!r}'))

    def _finish(self, command: Command, outcome: InferenceOutcome, reading: BatteryReading,
                strategy_name: str, executed_on: str = EXECUTED_ON_ROBOT,
                round_trip_ms: float = math.nan) -> None:
        """Apply the stale-command rule, publish a changed configuration, emit the result."""
        reason = outcome.reason
        if command.stale_age_s is not None:
            if outcome.label != self._engines.text.safety_label:
                self._reject(command, stale_rejection(
                    command.stale_age_s, self._settings().max_command_age_s,
                    f' (kept as a possible stop, answered {outcome.label})'))
                return
            self._ledger.count('stale_stop_honoured')
            reason = (f'stale ({command.stale_age_s:.2f} s on the way) but a stop: honoured; '
                      f'{reason}')
        if reading.stale:
            reason = (f'battery stale ({reading.age_s:.1f} s without a good BatteryState): '
                      f'stale_strategy {strategy_name}, battery unknown; {reason}')
        configuration = Configuration.from_outcome(outcome, reason, executed_on, round_trip_ms)
        previous = self._last_configuration
        if previous is None or previous.discrete_key() != configuration.discrete_key():
            self._last_configuration = configuration
            try:
                self._publish_configuration(configuration, command.stamp)
            except Exception as error:  # noqa: B902 - as for results
                self._log.warn('publish_failed', f'publishing the configuration failed: '
                               f'{error!r}')
        self._ledger.emit(command, STATUS_ANSWERED, '', reason, configuration, outcome)

    def start(self) -> None:
        """Start the worker thread (once)."""
        if self._thread is not None:
            raise RuntimeError('the controller worker was already started')
        self._thread = threading.Thread(target=self._work, name='controller_worker',
                                        daemon=True)
        self._thread.start()

    def _work(self) -> None:
        """Answer commands until stopped; an unexpected error is logged, not fatal."""
        while not self._stopping.is_set():
            try:
                self.process_next(WORKER_POLL_S)
            except Exception as error:  # noqa: B902 - keep answering; report on diagnostics
                self.failed = repr(error)
                self._logger.error(f'controller worker error: {error!r}')
            if self._queue.closed and len(self._queue) == 0:
                break

    def stop(self, timeout_s: float = 1.0) -> List[Command]:
        """Stop the worker, close the queue; return the commands still queued."""
        self._stopping.set()
        remaining = self._queue.close()
        if self._thread is not None:
            self._thread.join(timeout_s)
        return remaining

    @property
    def started(self) -> bool:
        """Return True once ``start`` ran."""
        return self._thread is not None

    @property
    def stopping(self) -> bool:
        """Return True once ``stop`` was asked."""
        return self._stopping.is_set()

    @property
    def alive(self) -> bool:
        """Return True while the worker thread runs."""
        return self._thread is not None and self._thread.is_alive()


def _batchable(command: Command) -> bool:
    """Return True for commands that may share a batch: text (images go alone)."""
    return command.kind == KIND_TEXT
