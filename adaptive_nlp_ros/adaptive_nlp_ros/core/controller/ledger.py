"""
The one result of every command, and the counts they add up to.

Each receipt takes the next request id and counts as received; each command ends in exactly
one ``emit``: answered, rejected or dropped, counted by status and code and published. So
``received == answered + rejected + dropped`` once the queue is empty, whatever happened.
A failed publication is counted and logged; it never stops the others.
"""

import itertools
import math
import threading
from typing import Any, Callable, Dict, Optional

from .command_validation import REJECTION_CODES
from .log_throttle import ThrottledLog
from .records import (Command, CommandResult, Configuration, DROP_CODES,
                      STATUS_ANSWERED, STATUS_NAMES)
from ..inference.results import InferenceOutcome

ResultSink = Callable[[CommandResult], None]


class ResultLedger:
    """Request ids, results and counters (thread-safe: receipt and worker threads use it)."""

    def __init__(self, publish_result: ResultSink, clock: Callable[[], float],
                 log: ThrottledLog, text_limit: Callable[[], int]) -> None:
        """
        Count from zero; ``publish_result`` sends each result out.

        :param text_limit: the characters of a command a result echoes (``max_text_chars``:
            the whole command, so that every span of its actions indexes the echoed text).
        """
        self._publish_result = publish_result
        self._text_limit = text_limit
        self._clock = clock
        self._log = log
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._emit_lock = threading.Lock()
        self._counts: Dict[str, int] = {'received': 0, 'answered': 0, 'rejected': 0,
                                        'dropped': 0, 'possible_stop': 0,
                                        'publish_failures': 0, 'stale_stop_honoured': 0,
                                        'command_clock_ahead': 0}
        self._counts.update({f'rejected_{code}': 0 for code in REJECTION_CODES})
        self._counts.update({f'dropped_{code}': 0 for code in DROP_CODES})
        self._latency_sum_ms = 0.0
        self.last_latency_ms = math.nan

    def receipt(self, kind: str, text: str, stamp: Any, frame_id: str = '') -> Command:
        """Give a new command the next request id and count it as received."""
        with self._lock:
            request_id = next(self._ids)
            self._counts['received'] += 1
        return Command(request_id, kind, text, self._clock(), stamp, frame_id)

    def count(self, key: str) -> None:
        """Count one event of a known kind (``possible_stop``, ``command_clock_ahead`` ...)."""
        with self._lock:
            self._counts[key] += 1

    def emit(self, command: Command, status: int, code: str, reason: str,
             configuration: Configuration,
             outcome: Optional[InferenceOutcome] = None) -> CommandResult:
        """Count and publish the one result of ``command``."""
        with self._emit_lock:
            latency_ms = (self._clock() - command.received_s) * 1e3
            result = CommandResult(
                request_id=command.request_id, input_kind=command.kind,
                input_text=command.text[:self._text_limit()], status=status, code=code,
                reason=reason, configuration=configuration, latency_ms=latency_ms,
                stamp=command.stamp, frame_id=command.frame_id, outcome=outcome,
                priority=command.priority)
            with self._lock:
                self._counts[STATUS_NAMES[status]] += 1
                if code:
                    self._counts[f'{STATUS_NAMES[status]}_{code}'] += 1
                if status == STATUS_ANSWERED:
                    self._latency_sum_ms += latency_ms
                    self.last_latency_ms = latency_ms
            try:
                self._publish_result(result)
            except Exception as error:  # noqa: B902 - a failed publish must not stop the rest
                with self._lock:
                    self._counts['publish_failures'] += 1
                self._log.warn('publish_failed', f'publishing the result of request '
                               f'{command.request_id} failed: {error!r}')
            return result

    def counts(self) -> Dict[str, int]:
        """Return the command counters (received, answered, rejected, dropped and details)."""
        with self._lock:
            return dict(self._counts)

    def mean_latency_ms(self) -> float:
        """Return the mean receipt-to-publication latency of answered commands (NaN: none)."""
        with self._lock:
            answered = self._counts['answered']
            return self._latency_sum_ms / answered if answered else math.nan
