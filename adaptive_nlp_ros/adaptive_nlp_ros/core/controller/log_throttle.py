"""
Warnings that repeat, logged once per kind per period with a count of the ones held back.

A flood of bad input (thousands of empty commands a second) must be visible in the log
without becoming the log: each kind of warning (its key) gets one line per period, and the
next one admitted says how many similar ones were suppressed.
"""

import threading
from typing import Any, Callable, Dict, Optional


class ThrottledLog:
    """A logger's ``warning`` let through once per key per period; the rest counted."""

    def __init__(self, logger: Any, period_s: float, clock: Callable[[], float]) -> None:
        """Wrap ``logger`` (anything with ``warning(str)``); ``clock`` gives seconds."""
        self._logger = logger
        self._period_s = period_s
        self._clock = clock
        self._last: Dict[str, float] = {}
        self._held: Dict[str, int] = {}
        self._lock = threading.Lock()

    def _admit(self, key: str) -> Optional[int]:
        """Return how many were held back since the last admitted one, or None to hold back."""
        now = self._clock()
        with self._lock:
            last = self._last.get(key)
            if last is not None and now - last < self._period_s:
                self._held[key] = self._held.get(key, 0) + 1
                return None
            self._last[key] = now
            return self._held.pop(key, 0)

    def warn(self, key: str, message: str) -> None:
        """Log a warning, at most one per ``key`` per period."""
        held = self._admit(key)
        if held is None:
            return
        suffix = f' ({held} similar message(s) suppressed)' if held else ''
        self._logger.warning(message + suffix)
