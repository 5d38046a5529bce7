"""
The controller's bounded input queue: possible ``stop`` commands first, drops counted.

Two lanes, each first in, first out: the priority lane (commands the cheap check at receipt
judged possibly ``stop``) is always served before the ordinary lane.

Bounds, and who gives way (every bound holds, so memory stays bounded under any flood):

* ``capacity`` (``queue_size``) bounds the queue as a whole: when an arrival finds it full,
  the oldest ordinary command is dropped to make room (the newest commands are the ones a
  robot should act on, as with ROS's keep-last history). When nothing ordinary is queued, an
  ordinary arrival is itself dropped and a possible stop is queued beyond ``capacity``:
  ordinary commands never push out a possible stop.
* ``priority_capacity`` (``stop_queue_size``) bounds the priority lane. The cheap check flags
  some ordinary commands too (about one in six on held-out phrasing), so a flood can fill it.
  When a possible stop arrives at a full lane, the one least likely to be a ``stop`` (by the
  cheap check's ``stop_score``; the newest among equals), the arrival included, is *demoted*:
  it leaves the lane and is queued as an ordinary command, under the ordinary rule above. A
  real stop scores high, so a flood of false alarms demotes the false alarms, never it; a
  real stop gives way only to a lane full of commands at least as likely to be stops, which
  then stop the robot anyway.

So the queue never holds more than ``max(capacity, priority_capacity)`` commands.

Every call returns the commands it dropped, so the caller can answer each of them at once
(one result per received command). Thread-safe: receive callbacks put, one worker gets (one
command, or with ``get_batch`` several queued one behind the other in one lane).
"""

from collections import deque
from dataclasses import dataclass
import threading
import time
from typing import Callable, Deque, Generic, List, Optional, TypeVar

T = TypeVar('T')


@dataclass
class _Queued(Generic[T]):
    """An item in the priority lane with the score that decides who is demoted."""

    item: T
    score: float
    sequence: int


class CommandQueue(Generic[T]):
    """A bounded two-lane FIFO: drop-oldest-ordinary overflow, demotion from the stop lane."""

    def __init__(self, capacity: int, priority_capacity: int = 1000) -> None:
        """Create an empty queue (both bounds are integers >= 1)."""
        self._check_capacity(capacity)
        self._check_capacity(priority_capacity)
        self._capacity = capacity
        self._priority_capacity = priority_capacity
        self._priority: Deque[_Queued[T]] = deque()
        self._ordinary: Deque[T] = deque()
        self._condition = threading.Condition()
        self._closed = False
        self._sequence = 0
        self.dropped_total = 0
        self.priority_total = 0
        self.demoted_total = 0
        self.high_water = 0

    @staticmethod
    def _check_capacity(capacity: int) -> None:
        """Raise ValueError unless ``capacity`` is an int >= 1."""
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
            raise ValueError(f'queue capacity must be an integer >= 1, got {capacity!r}')

    @property
    def capacity(self) -> int:
        """Return the bound on the number of queued commands (for ordinary arrivals)."""
        return self._capacity

    @property
    def priority_capacity(self) -> int:
        """Return the bound on the number of queued possible stops."""
        return self._priority_capacity

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

    def resize(self, capacity: int, priority_capacity: Optional[int] = None) -> None:
        """
        Change the bounds; they apply to later arrivals.

        Commands already queued stay, even above a smaller bound: they were accepted.
        """
        self._check_capacity(capacity)
        if priority_capacity is not None:
            self._check_capacity(priority_capacity)
        with self._condition:
            self._capacity = capacity
            if priority_capacity is not None:
                self._priority_capacity = priority_capacity

    def put(self, item: T, priority: bool = False, stop_score: float = 1.0) -> List[T]:
        """
        Queue ``item`` (priority lane when ``priority``); return the commands dropped for it.

        :param stop_score: for a priority item, how likely it is a stop (higher: likelier);
            decides which possible stop is demoted when the priority lane is full.
        :return: the commands dropped to make room (the oldest ordinary one, or ``item``
            itself, or one demoted from the priority lane), or nothing. After ``close``
            every arrival is returned as dropped.
        """
        with self._condition:
            if self._closed:
                self.dropped_total += 1
                return [item]
            dropped: List[T] = []
            if priority:
                full = len(self._priority) + len(self._ordinary) >= self._capacity
                demoted = self._put_priority(item, stop_score)
                if demoted is not None:
                    self.demoted_total += 1
                    dropped = self._put_ordinary(demoted)
                elif full and self._ordinary:
                    dropped = [self._ordinary.popleft()]
            else:
                dropped = self._put_ordinary(item)
            self.dropped_total += len(dropped)
            self.high_water = max(self.high_water, len(self._priority) + len(self._ordinary))
            self._condition.notify()
            return dropped

    def _put_priority(self, item: T, stop_score: float) -> Optional[T]:
        """Queue a possible stop; return the one demoted to keep the lane bounded, if any."""
        self.priority_total += 1
        self._sequence += 1
        arrival = _Queued(item, float(stop_score), self._sequence)
        if len(self._priority) < self._priority_capacity:
            self._priority.append(arrival)
            return None
        # Least likely stop first; among equals the newest (the older ones waited longer).
        weakest = min(self._priority, key=lambda queued: (queued.score, -queued.sequence))
        if (arrival.score, -arrival.sequence) <= (weakest.score, -weakest.sequence):
            return item
        self._priority.remove(weakest)
        self._priority.append(arrival)
        return weakest.item

    def _put_ordinary(self, item: T) -> List[T]:
        """Queue an ordinary command; return what was dropped for it (oldest, or itself)."""
        if len(self._priority) + len(self._ordinary) >= self._capacity:
            if not self._ordinary:
                return [item]
            oldest = self._ordinary.popleft()
            self._ordinary.append(item)
            return [oldest]
        self._ordinary.append(item)
        return []

    def get(self, timeout_s: Optional[float] = None) -> Optional[T]:
        """
        Return the next command (priority lane first), waiting up to ``timeout_s``.

        :return: None when the wait timed out or the queue is closed and empty.
        """
        batch = self.get_batch(timeout_s)
        return batch[0] if batch else None

    def get_batch(self, timeout_s: Optional[float] = None, max_count: int = 1,
                  joins: Optional[Callable[[T], bool]] = None) -> List[T]:
        """
        Return the next command and up to ``max_count - 1`` queued right behind it in its lane.

        The next command is the one ``get`` returns; the others follow it in order while
        ``joins`` accepts the first and each of them (``joins`` runs under the queue's lock:
        keep it cheap). Only ordinary commands batch: a possible stop comes alone, so its
        result never waits for a batch mate's (a batch publishes when all of it is answered),
        and never behind an ordinary command. Nothing is waited for beyond the first command.

        :return: empty when the wait timed out or the queue is closed and empty.
        """
        deadline = None if timeout_s is None else time.monotonic() + timeout_s
        with self._condition:
            while not self._priority and not self._ordinary:
                if self._closed:
                    return []
                remaining = None if deadline is None else deadline - time.monotonic()
                if remaining is not None and remaining <= 0.0:
                    return []
                self._condition.wait(remaining)
            if self._priority:               # a possible stop: alone, published at once
                return [self._priority.popleft().item]
            batch = [self._ordinary.popleft()]
            while (len(batch) < max_count and self._ordinary and joins is not None
                   and joins(batch[0]) and joins(self._ordinary[0])):
                batch.append(self._ordinary.popleft())
            return batch

    def close(self) -> List[T]:
        """Refuse further arrivals, wake a waiting ``get``, and return what was still queued."""
        with self._condition:
            self._closed = True
            remaining = [queued.item for queued in self._priority] + list(self._ordinary)
            self._priority.clear()
            self._ordinary.clear()
            self._condition.notify_all()
            return remaining
