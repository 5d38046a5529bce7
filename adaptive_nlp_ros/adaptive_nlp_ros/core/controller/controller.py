"""
The controller's logic without ROS: receive, check, queue, infer, answer each command once.

``controller_node`` is a thin adapter around ``CommandController``: its receive callbacks call
``receive_text_payload`` / ``receive_image`` / ``receive_battery`` and its publishers are the
two callbacks given here. The contract it keeps (the README's "ROS interface"):

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
* **Inactive** (the lifecycle node configured but not active: ``active=False``, or after
  ``deactivate``): every command received is answered REJECTED ``inactive`` at once, and so is
  any command still queued when the worker takes it. Only ``activate`` lets inference run.
* **Settings** arrive whole (``update_settings``) after ``check`` accepted them, and the
  worker applies them before its next command.
"""

import logging
import time
from typing import Any, Callable, Dict, List, Optional, Tuple

from .battery_tracker import BatteryInput, BatteryReading, BatteryTracker, BatteryUpdate
from .command_queue import CommandQueue
from .command_validation import ImageInput, Rejection
from .controller_parameters import ControllerSettings
from .diagnostics import controller_status
from .engines import ControllerEngines
from .intake import CommandIntake
from .ledger import ResultLedger, ResultSink
from .log_throttle import ThrottledLog
from .records import Command, DROP_SHUTDOWN, STATUS_DROPPED, STATUS_REJECTED
from .strategy_selection import StrategySelection
from .worker import ConfigurationSink, InferenceWorker
from ..offload.edge_offload import EdgeOffload

LOG = logging.getLogger(__name__)
LOG_THROTTLE_S = 10.0


class CommandController:
    """Receives commands and battery readings, answers every command exactly once."""

    def __init__(self, engines: ControllerEngines, settings: ControllerSettings,
                 publish_result: ResultSink, publish_configuration: ConfigurationSink,
                 logger: Any = LOG, clock: Callable[[], float] = time.monotonic,
                 log_throttle_s: float = LOG_THROTTLE_S, active: bool = True,
                 edge: Optional[EdgeOffload] = None) -> None:
        """
        Check the settings and build the strategies; the worker starts with ``start``.

        :param logger: anything with ``info``, ``warning`` and ``error`` taking one string
            (the node passes its ROS logger; repeated warnings are throttled here, per kind).
        :param clock: monotonic seconds for receipt times, latencies and battery staleness
            (bag replay passes the bag's clock).
        :param active: False: answer every command REJECTED ``inactive`` until ``activate``.
        :param edge: the link to an expert server, which makes ``edge_offload`` valid.
        :raises ValueError: when the settings are refused (the message says why).
        """
        self.engines = engines
        self._active = active
        self._logger = logger
        self._log = ThrottledLog(logger, log_throttle_s, clock)
        self.selection = StrategySelection(engines, logger, edge)
        problem = self.selection.check(settings)
        if problem is not None:
            raise ValueError(problem)
        self._settings = settings
        self.selection.apply(settings)
        self.queue: CommandQueue[Command] = CommandQueue(settings.queue_size,
                                                         settings.stop_queue_size)
        self.battery = BatteryTracker(settings.battery_timeout_s, settings.max_stamp_skew_s,
                                      clock)
        self.ledger = ResultLedger(publish_result, clock, self._log,
                                   lambda: self._settings.max_text_chars)
        self.intake = CommandIntake(engines, self.ledger, self.queue, lambda: self._settings,
                                    self._log, self._reject, self._drop, lambda: self._active)
        self.worker = InferenceWorker(engines, self.queue, self.selection, self.battery,
                                      self.ledger, lambda: self._settings,
                                      publish_configuration, self._log, logger, self._reject,
                                      lambda: self._active)

    # -- settings ---------------------------------------------------------------------------

    @property
    def settings(self) -> ControllerSettings:
        """Return the settings in force (the worker applies them before its next command)."""
        return self._settings

    def valid_strategy_names(self) -> List[str]:
        """Return the strategies that may run here (evaluation-only ones excluded)."""
        return self.selection.valid_strategy_names()

    def check(self, settings: ControllerSettings) -> Optional[str]:
        """Return why ``settings`` cannot be used (unknown strategy, bad setting), or None."""
        return self.selection.check(settings)

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

    # -- receipt (any thread) ---------------------------------------------------------------

    def receive_text_payload(self, payload: bytes, stamp: Any = None,
                             age_s: Optional[float] = None) -> int:
        """
        Receive a serialized ``std_msgs/String``; return its request id.

        :param age_s: how long the command was under way (``command_age_s``), None: unknown.
        """
        return self.intake.receive_text_payload(payload, stamp, age_s)

    def receive_text(self, text: str, stamp: Any = None, age_s: Optional[float] = None) -> int:
        """Receive an already decoded text command; return its request id."""
        return self.intake.receive_text(text, stamp, age_s)

    def receive_image(self, image: ImageInput, stamp: Any = None,
                      age_s: Optional[float] = None) -> int:
        """Receive an image command; return its request id."""
        return self.intake.receive_image(image, stamp, age_s)

    def receive_battery(self, battery: BatteryInput, now_stamp_s: float) -> BatteryUpdate:
        """Take a BatteryState reading (ignored ones are counted and logged, throttled)."""
        update = self.battery.update(battery, now_stamp_s)
        if not update.accepted:
            self._log.warn(f'battery_{update.ignored_reason}', f'ignored {update.detail}; '
                           'keeping the last good reading')
        if update.stamp_far:
            self._log.warn('battery_stamp_far', f'BatteryState stamp is '
                           f'{update.stamp_skew_s:.1f} s from this clock (max_stamp_skew_s '
                           f'{self.battery.max_stamp_skew_s}); staleness is judged by '
                           'receive time')
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

    # -- results where nothing ran ----------------------------------------------------------

    def _reject(self, command: Command, rejection: Rejection) -> None:
        """Answer a command REJECTED and log why (throttled per kind)."""
        shown = command.text[:60] + ('...' if len(command.text) > 60 else '')
        self._log.warn(f'rejected_{rejection.code}', f'rejected request {command.request_id}'
                       + (f' {shown!r}' if shown else '') + f': {rejection.reason}')
        self.ledger.emit(command, STATUS_REJECTED, rejection.code, rejection.reason,
                         self.selection.policy_configuration(self.battery.reading(),
                                                             rejection.reason))

    def _drop(self, command: Command, code: str, reason: str) -> None:
        """Answer a command DROPPED and log why (throttled)."""
        self._log.warn(f'dropped_{code}', f'dropped request {command.request_id}: {reason}')
        self.ledger.emit(command, STATUS_DROPPED, code, reason,
                         self.selection.policy_configuration(self.battery.reading(), reason))

    # -- the worker -------------------------------------------------------------------------

    def process_next(self, timeout_s: Optional[float] = 0.0) -> bool:
        """
        Answer the next queued command (waiting up to ``timeout_s``).

        :return: False when there was none.
        """
        return self.worker.process_next(timeout_s)

    @property
    def active(self) -> bool:
        """Return True while commands are inferred (False: answered REJECTED ``inactive``)."""
        return self._active

    def activate(self) -> None:
        """Infer commands from now on; start the worker the first time."""
        self._active = True
        if not self.worker.started:
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
        self.worker.start()

    def stop(self, timeout_s: float = 1.0) -> int:
        """
        Stop the worker; answer DROPPED whatever was still queued; return how many.

        Safe to call more than once, and without ``start``.
        """
        remaining = self.worker.stop(timeout_s)
        for command in remaining:
            self._drop(command, DROP_SHUTDOWN, 'the controller is shutting down')
        return len(remaining)

    @property
    def worker_alive(self) -> bool:
        """Return True while the worker thread runs."""
        return self.worker.alive

    # -- status -----------------------------------------------------------------------------

    def counts(self) -> Dict[str, int]:
        """Return the command counters (received, answered, rejected, dropped and details)."""
        return self.ledger.counts()

    def diagnostics(self) -> Tuple[int, str, Dict[str, object]]:
        """Return ``(level, message, values)`` for the ``controller_node`` status."""
        return controller_status(self)
