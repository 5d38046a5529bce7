"""
What the robot knows of its link to the expert server: round trip, load, recent failures.

The round trip to expect is the median of the last ``window`` samples: a command answered in
time gives its round trip, a timeout gives the time waited, a reply that came after its command
was answered locally gives its (long) round trip. A median moves after a few samples in either
direction and ignores one outlier (a reliable sample repaired once, a reply held through a
partition). A timeout or a lost link also opens a back-off window (``retry_s``, doubling up to
``max_retry_s``) in which commands are answered on the robot at once; probes (a copy of a
command sent without waiting, see ``edge_offload``) keep measuring the link meanwhile, and the
first probe answered closes the window, so offloading resumes without a command paying for the
trial. An "overloaded" reply leaves the server alone for ``overload_backoff_s``.
"""

import collections
import math
import statistics
import threading
from typing import Callable, Deque, Dict

ROUND_TRIP_WINDOW = 5
COUNTERS = ('offloaded', 'edge_answered', 'edge_timeouts', 'edge_overloaded', 'edge_expired',
            'edge_rejected', 'edge_unavailable', 'edge_late_discarded', 'probes',
            'probes_answered', 'local_possible_stop')


class LinkEstimate:
    """Round-trip samples, failure back-off and counters (thread-safe)."""

    def __init__(self, clock: Callable[[], float], retry_s: float = 1.0,
                 max_retry_s: float = 8.0, overload_backoff_s: float = 0.5,
                 window: int = ROUND_TRIP_WINDOW) -> None:
        """Start with no sample: the first command may try the link."""
        self._clock = clock
        self.retry_s = retry_s
        self.max_retry_s = max_retry_s
        self.overload_backoff_s = overload_backoff_s
        self._lock = threading.Lock()
        self._samples: Deque[float] = collections.deque(maxlen=window)
        self.server_wait_ms = 0.0
        self._backoff_until = -math.inf
        self._overloaded_until = -math.inf
        self._next_retry_s = retry_s
        self.counts: Dict[str, int] = dict.fromkeys(COUNTERS, 0)

    # -- observations ---------------------------------------------------------------------

    def answered(self, rtt_ms: float, server_wait_ms: float = 0.0) -> None:
        """Take a reply (in time, or a probe's): a sample; the link works, so back-off ends."""
        with self._lock:
            self._samples.append(rtt_ms)
            self.server_wait_ms = max(0.0, server_wait_ms)
            self._backoff_until = -math.inf
            self._next_retry_s = self.retry_s

    def late(self, rtt_ms: float) -> None:
        """Take a reply that came after its command was answered on the robot."""
        with self._lock:
            self._samples.append(rtt_ms)
            self.counts['edge_late_discarded'] += 1

    def timed_out(self, waited_ms: float) -> None:
        """Take a request unanswered within its deadline: a sample, and back off (doubling)."""
        with self._lock:
            self._samples.append(waited_ms)
            self.counts['edge_timeouts'] += 1
            self._backoff_until = self._clock() + self._next_retry_s
            self._next_retry_s = min(self.max_retry_s, 2.0 * self._next_retry_s)

    def overloaded(self) -> None:
        """Take an "overloaded" reply: leave the server alone briefly."""
        with self._lock:
            self.counts['edge_overloaded'] += 1
            self._overloaded_until = self._clock() + self.overload_backoff_s

    def count(self, key: str) -> None:
        """Count one event of a known kind (``offloaded``, ``probes`` ...)."""
        with self._lock:
            self.counts[key] += 1

    # -- questions ------------------------------------------------------------------------

    def predicted_ms(self) -> float:
        """Return the round trip to expect: median of the recent samples (NaN: none yet)."""
        with self._lock:
            return statistics.median(self._samples) if self._samples else math.nan

    def backing_off_s(self) -> float:
        """Return how long the link stays untried after a failure (0: it may be tried)."""
        return max(0.0, self._backoff_until - self._clock())

    def overloaded_s(self) -> float:
        """Return how long the server is left alone after "overloaded" (0: not)."""
        return max(0.0, self._overloaded_until - self._clock())

    def snapshot(self) -> Dict[str, object]:
        """Return the estimate and the counters for diagnostics."""
        values: Dict[str, object] = {'edge_round_trip_ms': self.predicted_ms(),
                                     'edge_backoff_s': self.backing_off_s()}
        with self._lock:
            values.update(self.counts)
            values['edge_server_wait_ms'] = self.server_wait_ms
        return values
