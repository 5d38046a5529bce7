"""core.command_queue: two lanes, drop-oldest-ordinary overflow, stops never dropped."""

import threading

from adaptive_nlp_ros.core.command_queue import CommandQueue
import pytest


def drain(queue: CommandQueue) -> list:
    """Return every queued item in serving order."""
    items = []
    while True:
        item = queue.get(timeout_s=0.0)
        if item is None:
            return items
        items.append(item)


def test_fifo_within_a_lane_and_priority_first():
    queue = CommandQueue(10)
    for item, priority in (('a', False), ('stop1', True), ('b', False), ('stop2', True)):
        assert queue.put(item, priority) == []
    assert len(queue) == 4 and queue.priority_length() == 2
    assert drain(queue) == ['stop1', 'stop2', 'a', 'b']


def test_overflow_drops_the_oldest_ordinary_command():
    queue = CommandQueue(3)
    for item in 'abc':
        queue.put(item)
    assert queue.put('d') == ['a']
    assert queue.put('stop', priority=True) == ['b']
    assert queue.dropped_total == 2
    assert drain(queue) == ['stop', 'c', 'd']


def test_priority_commands_are_never_dropped():
    queue = CommandQueue(2)
    assert queue.put('s1', True) == [] and queue.put('s2', True) == []
    assert queue.put('ordinary') == ['ordinary']        # nothing ordinary could make room
    assert queue.put('s3', True) == []                   # beyond the bound, kept
    assert len(queue) == 3
    assert drain(queue) == ['s1', 's2', 's3']


def test_every_put_is_either_queued_or_returned_once():
    queue = CommandQueue(7)
    dropped = []
    for index in range(200):
        dropped += queue.put(index, priority=index % 9 == 0)
    served = drain(queue)
    assert sorted(dropped + served) == list(range(200))
    assert all(index % 9 for index in dropped)          # no priority item dropped
    assert queue.high_water == len(served)              # stops pile up beyond the bound


def test_resize_applies_to_later_arrivals():
    queue = CommandQueue(4)
    for item in 'abcd':
        queue.put(item)
    queue.resize(2)
    assert len(queue) == 4                               # accepted ones stay
    assert queue.put('e') == ['a']
    assert queue.capacity == 2
    with pytest.raises(ValueError):
        queue.resize(0)
    with pytest.raises(ValueError):
        CommandQueue(True)


def test_close_returns_what_was_queued_and_wakes_a_waiting_get():
    queue = CommandQueue(5)
    got = []
    waiter = threading.Thread(target=lambda: got.append(queue.get(timeout_s=10.0)))
    waiter.start()
    remaining = queue.close()
    waiter.join(2.0)
    assert not waiter.is_alive() and got == [None] and remaining == []

    queue = CommandQueue(5)
    queue.put('a')
    queue.put('s', priority=True)
    assert queue.close() == ['s', 'a']
    assert queue.put('late') == ['late'] and queue.closed


def test_get_times_out_when_empty():
    assert CommandQueue(1).get(timeout_s=0.01) is None
