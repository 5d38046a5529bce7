"""
The one thread that answers queued commands, so that receipt never waits for a model.

Before each command it applies the settings in force, reads the battery as the controller
judges it (stale after ``battery_timeout_s``: then ``stale_strategy`` answers with the
battery unknown), infers, and publishes the result, and the configuration when its discrete
fields changed. An inference that raises is answered REJECTED with the error; an unexpected
error in the loop is logged and shown on the diagnostics, and the loop goes on. Under
``edge_offload`` a text command may be answered by the expert server instead (the worker then
waits at most the deadline; see ``core.offload.edge_offload``).
"""

import math
import threading
from typing import Any, Callable, List, Optional

from .battery_tracker import BatteryTracker
from .command_queue import CommandQueue
from .command_validation import (REJECT_INACTIVE, REJECT_INFERENCE_ERROR, Rejection,
                                 stale_rejection)
from .ledger import ResultLedger
from .log_throttle import ThrottledLog
from .records import (Command, Configuration, EXECUTED_ON_ROBOT, INACTIVE_REASON, KIND_TEXT,
                      STATUS_ANSWERED)
from .strategy_selection import StrategySelection
from ..offload.edge_offload import offloaded_outcome, on_robot

WORKER_POLL_S = 0.1
ConfigurationSink = Callable[[Configuration, Any], None]


class InferenceWorker:
    """Answers the queue's commands one at a time, on its own thread once started."""

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
        self._thread: Optional[threading.Thread] = None
        self._stopping = threading.Event()

    def process_next(self, timeout_s: Optional[float] = 0.0) -> bool:
        """
        Answer the next queued command (waiting up to ``timeout_s``).

        :return: False when there was none.
        """
        command = self._queue.get(timeout_s)
        if command is None:
            return False
        self.in_progress = 1
        try:
            self._answer(command)
        finally:
            self.in_progress = 0
        return True

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
        reason = outcome.reason
        if command.stale_age_s is not None:
            if outcome.label != engines.text.safety_label:
                self._reject(command, stale_rejection(
                    command.stale_age_s, self._settings().max_command_age_s,
                    f' (kept as a possible stop, answered {outcome.label})'))
                return
            self._ledger.count('stale_stop_honoured')
            reason = (f'stale ({command.stale_age_s:.2f} s on the way) but a stop: honoured; '
                      f'{reason}')
        if reading.stale:
            reason = (f'battery stale ({reading.age_s:.1f} s without a good BatteryState): '
                      f'stale_strategy {strategy.name}, battery unknown; {reason}')
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
