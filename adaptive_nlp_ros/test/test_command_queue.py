"""core.command_queue: two lanes, drop-oldest-ordinary overflow, a bounded stop lane."""

import threading

from adaptive_nlp_ros.core.controller.command_queue import CommandQueue
from hypothesis import given, settings, strategies
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


def test_a_full_stop_lane_demotes_the_least_likely_stop():
    queue = CommandQueue(3, priority_capacity=2)
    assert queue.put('real stop', True, 0.95) == []
    assert queue.put('false alarm 1', True, 0.4) == []
    assert queue.put('false alarm 2', True, 0.5) == []          # demotes false alarm 1
    assert queue.priority_length() == 2 and len(queue) == 3
    assert queue.put('another stop', True, 0.9) == ['false alarm 1']   # demotes 2; 1 dropped
    assert queue.put('false alarm 3', True, 0.3) == ['false alarm 2']  # demoted itself
    assert queue.demoted_total == 3 and queue.priority_length() == 2
    assert drain(queue) == ['real stop', 'another stop', 'false alarm 3']


def test_among_equally_likely_stops_the_newest_is_demoted():
    queue = CommandQueue(1, priority_capacity=2)
    for item in ('stop 1', 'stop 2', 'stop 3'):
        queue.put(item, True, 0.9)
    assert drain(queue) == ['stop 1', 'stop 2']


def test_a_demoted_command_is_still_answered_when_there_is_room():
    queue = CommandQueue(10, priority_capacity=1)
    queue.put('weak', True, 0.1)
    assert queue.put('strong', True, 0.9) == []
    assert drain(queue) == ['strong', 'weak']                    # weak now queued as ordinary


@settings(max_examples=200, deadline=None)
@given(strategies.lists(strategies.tuples(strategies.booleans(),
                                          strategies.floats(0.0, 1.0)), max_size=80),
       strategies.integers(1, 6), strategies.integers(1, 6))
def test_any_arrivals_stay_bounded_and_the_likeliest_stop_is_kept(
        arrivals, capacity, priority_capacity):
    queue = CommandQueue(capacity, priority_capacity)
    dropped = []
    for index, (priority, score) in enumerate(arrivals):
        dropped += queue.put(index, priority, score)
        assert len(queue) <= max(capacity, priority_capacity)
        assert queue.priority_length() <= priority_capacity
    served = drain(queue)
    assert sorted(dropped + served) == list(range(len(arrivals)))
    stops = [(score, -index) for index, (priority, score) in enumerate(arrivals) if priority]
    if stops:
        likeliest = -max(stops)[1]                  # highest score, oldest among equals
        assert likeliest in served and served.index(likeliest) < priority_capacity


def test_get_batch_takes_one_lane_in_order_while_commands_join():
    queue = CommandQueue(20)
    for item, priority in (('a', False), ('s1', True), ('b', False), ('s2', True),
                           ('IMG', False), ('c', False), ('d', False), ('e', False)):
        queue.put(item, priority)
    text = str.islower
    assert queue.get_batch(0.0, 8, lambda item: item != 'IMG') == ['s1']        # a stop: alone
    assert queue.get_batch(0.0, 8, lambda item: item != 'IMG') == ['s2']
    assert queue.get_batch(0.0, 8, lambda item: item != 'IMG') == ['a', 'b']    # up to IMG
    assert queue.get_batch(0.0, 8, lambda item: item != 'IMG') == ['IMG']       # it goes alone
    assert queue.get_batch(0.0, 2, text) == ['c', 'd']                          # max_count
    assert queue.get_batch(0.0, 8) == ['e']                                     # no joins: one
    assert queue.get_batch(0.0, 8, text) == [] and len(queue) == 0


def test_get_batch_never_loses_or_repeats_a_command():
    queue = CommandQueue(50, 10)
    dropped, served = [], []
    for index in range(300):
        dropped += queue.put(index, priority=index % 7 == 0, stop_score=index % 3)
        if index % 11 == 0:
            served += queue.get_batch(0.0, 4, lambda item: item % 5 != 0)
    while len(queue):
        served += queue.get_batch(0.0, 4, lambda item: item % 5 != 0)
    assert sorted(dropped + served) == list(range(300))
