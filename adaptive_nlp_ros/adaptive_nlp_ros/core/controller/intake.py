"""
The receipt rules: check a command, judge whether it may be a stop, queue it or answer it.

Runs on the receive callbacks' thread and never waits for a model. A command that fails its
checks is answered REJECTED at once with the reason; one the cheap stop check flags goes to
the queue's priority lane (a failing check counts as a possible stop: fail safe); whatever
the bounded queue gives up for a new arrival is answered DROPPED at once, with the reason
that says which rule dropped it.

A command older than ``max_command_age_s`` on arrival is answered REJECTED ``stale`` at once,
unless the stop check flags it: then it is queued as a possible stop marked stale, and the
worker answers it only if it is a stop (stop is always honoured, nothing else late). An age
far below zero means the sender's clock is ahead: counted (``command_clock_ahead``), logged,
and the command is taken as fresh, since its real age is unknown.
"""

from typing import Any, Callable, Optional, Tuple

from .command_queue import CommandQueue
from .command_validation import (check_image, check_text, image_pixels, ImageInput,
                                 REJECT_INACTIVE, REJECT_MODEL_UNAVAILABLE, Rejection,
                                 stale_rejection, text_from_cdr)
from .ledger import ResultLedger
from .log_throttle import ThrottledLog
from .records import (Command, DROP_QUEUE_FULL, DROP_SHUTDOWN, INACTIVE_REASON, KIND_IMAGE,
                      KIND_TEXT)

Unanswered = Callable[[Command, str, str], None]      # (command, code, reason)


class CommandIntake:
    """Receives text and image commands for one controller."""

    def __init__(self, engines: Any, ledger: ResultLedger, queue: CommandQueue,
                 settings: Callable[[], Any], log: ThrottledLog, reject: Callable,
                 drop: Unanswered, active: Callable[[], bool]) -> None:
        """
        Wire the receipt to the controller's parts.

        :param settings: returns the settings in force (limits apply from the next receipt).
        :param active: False while the lifecycle node is inactive: every command is rejected.
        :param reject: answers a command REJECTED with a ``Rejection``.
        :param drop: answers a command DROPPED with a code and a reason.
        """
        self._engines = engines
        self._ledger = ledger
        self._queue = queue
        self._settings = settings
        self._log = log
        self._reject = reject
        self._drop = drop
        self._active = active

    def receive_text_payload(self, payload: bytes, stamp: Any = None,
                             age_s: Optional[float] = None) -> int:
        """Receive a serialized ``std_msgs/String``; return its request id."""
        text, rejection = text_from_cdr(payload)
        return self._receive_text(text, rejection, stamp, age_s)

    def receive_text(self, text: str, stamp: Any = None, age_s: Optional[float] = None) -> int:
        """Receive an already decoded text command; return its request id."""
        return self._receive_text(text, None, stamp, age_s)

    def _receive_text(self, text: str, rejection: Optional[Rejection], stamp: Any,
                      age_s: Optional[float]) -> int:
        command = self._ledger.receipt(KIND_TEXT, text, stamp)
        if not self._active():
            rejection = Rejection(REJECT_INACTIVE, INACTIVE_REASON)
        elif rejection is None:
            text_engine = self._engines.text
            rejection = check_text(text, self._settings().max_text_chars,
                                   text_engine.too_long_reason if text_engine else None)
        if rejection is not None:
            self._reject(command, rejection)
            return command.request_id
        command.priority, command.stop_score = self._possible_stop(text)
        if self._too_old(age_s):
            if not command.priority:
                self._reject(command, stale_rejection(age_s, self._settings().max_command_age_s))
                return command.request_id
            command.stale_age_s = age_s
        self._enqueue(command)
        return command.request_id

    def _too_old(self, age_s: Optional[float]) -> bool:
        """Return True when a command of this age is stale (counting clocks that disagree)."""
        max_age_s = self._settings().max_command_age_s
        if age_s is None or max_age_s <= 0:
            return False
        if age_s < -max_age_s:
            self._ledger.count('command_clock_ahead')
            self._log.warn('command_clock_ahead', f'a command was stamped {-age_s:.2f} s after '
                           "it was received: the sender's clock is ahead of this host's "
                           f'by more than max_command_age_s {max_age_s:g} (synchronise the '
                           'clocks: NTP / chrony); its age is unknown, taken as fresh')
            return False
        return age_s > max_age_s

    def receive_image(self, image: ImageInput, stamp: Any = None,
                      age_s: Optional[float] = None) -> int:
        """Receive an image command; return its request id (images are never stops)."""
        command = self._ledger.receipt(KIND_IMAGE, '', stamp, image.frame_id)
        if not self._active():
            rejection: Optional[Rejection] = Rejection(REJECT_INACTIVE, INACTIVE_REASON)
        else:
            rejection = check_image(image, self._settings().max_image_pixels)
        if rejection is None and self._too_old(age_s):
            rejection = stale_rejection(age_s, self._settings().max_command_age_s)
        if rejection is None and self._engines.image is None:
            rejection = Rejection(REJECT_MODEL_UNAVAILABLE, 'the image model is not loaded ('
                                  + '; '.join(p for p in self._engines.problems
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
            check = self._engines.text.safety_check(text)
            return bool(check.possible), float(check.score)
        except Exception as error:  # noqa: B902 - fail safe: treat as a possible stop
            self._log.warn('stop_check_failed', f'the stop check failed ({error!r}); treating '
                           'the command as a possible stop')
            return True, 1.0

    def _enqueue(self, command: Command) -> None:
        """Queue a command; answer at once whatever the queue dropped for it."""
        if command.priority:
            self._ledger.count('possible_stop')
        queue = self._queue
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
