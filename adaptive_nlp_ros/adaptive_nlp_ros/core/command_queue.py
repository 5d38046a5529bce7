"""
The controller's bounded input queue: possible ``stop`` commands first, drops counted.

Two lanes, each first in, first out: the priority lane (commands the cheap check at receipt
judged possibly ``stop``) is always served before the ordinary lane. ``capacity`` bounds the
queue as a whole; when an arrival finds it full, the oldest *ordinary* command is dropped to
make room (the newest commands are the ones a robot should act on, as with ROS's keep-last
history). Priority commands are never dropped: when the queue holds nothing but priority
commands, an ordinary arrival is itself the one dropped, and a priority arrival is queued
beyond the capacity.

Every call returns the commands it dropped, so the caller can answer each of them at once
(one result per received command). Thread-safe: receive callbacks put, one worker gets.
"""

from collections import deque
import threading
import time
from typing import Deque, Generic, List, Optional, TypeVar

T = TypeVar('T')


class CommandQueue(Generic[T]):
    """A bounded two-lane FIFO with drop-oldest-ordinary overflow."""

    def __init__(self, capacity: int) -> None:
        """Create an empty queue holding at most ``capacity`` (>= 1) ordinary commands."""
        self._check_capacity(capacity)
        self._capacity = capacity
        self._priority: Deque[T] = deque()
        self._ordinary: Deque[T] = deque()
        self._condition = threading.Condition()
        self._closed = False
        self.dropped_total = 0
        self.priority_total = 0
        self.high_water = 0

    @staticmethod
    def _check_capacity(capacity: int) -> None:
        """Raise ValueError unless ``capacity`` is an int >= 1."""
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise ValueError(f'queue capacity must be an integer >= 1, got {capacity!r}')

    @property
    def capacity(self) -> int:
        """Return the bound on the number of queued commands."""
        return self._capacity

    @property
    def closed(self) -> bool:
        """Return True once ``close`` was called."""
        return self._closed

    def __len__(self) -> int:
        """Return the number of queued commands (both lanes)."""
        with self._condition:
            return len(self._priority) + len(self._ordinary)

    def priority_length(self) -> int:
        """Return the number of queued priority commands."""
        with self._condition:
            return len(self._priority)

    def resize(self, capacity: int) -> None:
        """
        Change the bound; it applies to later arrivals.

        Commands already queued stay, even above a smaller bound: they were accepted.
        """
        self._check_capacity(capacity)
        with self._condition:
            self._capacity = capacity

    def put(self, item: T, priority: bool = False) -> List[T]:
        """
        Queue ``item`` (priority lane when ``priority``); return the commands dropped for it.

        The returned list holds the oldest ordinary command evicted to make room, or
        ``item`` itself when it is ordinary and nothing ordinary could make room, or nothing.
        After ``close`` every arrival is returned as dropped.
        """
        with self._condition:
            if self._closed:
                self.dropped_total += 1
                return [item]
            dropped: List[T] = []
            if len(self._priority) + len(self._ordinary) >= self._capacity:
                if self._ordinary:
                    dropped.append(self._ordinary.popleft())
                elif not priority:
                    self.dropped_total += 1
                    return [item]
            if priority:
                self._priority.append(item)
                self.priority_total += 1
            else:
                self._ordinary.append(item)
            self.dropped_total += len(dropped)
            self.high_water = max(self.high_water, len(self._priority) + len(self._ordinary))
            self._condition.notify()
            return dropped

    def get(self, timeout_s: Optional[float] = None) -> Optional[T]:
        """
        Return the next command (priority lane first), waiting up to ``timeout_s``.

        :return: None when the wait timed out or the queue is closed and empty.
        """
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with self._condition:
            while not self._priority and not self._ordinary:
                if self._closed:
                    return None
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0.0:
                    return None
                self._condition.wait(remaining)
            if self._priority:
                return self._priority.popleft()
            return self._ordinary.popleft()

    def close(self) -> List[T]:
        """Refuse further arrivals, wake a waiting ``get``, and return what was still queued."""
        with self._condition:
            self._closed = True
            remaining = list(self._priority) + list(self._ordinary)
            self._priority.clear()
            self._ordinary.clear()
            self._condition.notify_all()
            return remaining
