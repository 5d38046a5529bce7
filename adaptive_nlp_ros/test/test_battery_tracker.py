"""core.battery_tracker: good readings, ignored ones, staleness by receive time."""

import math

from adaptive_nlp_ros.core.controller.battery_tracker import BatteryInput, BatteryTracker
import pytest


class FakeClock:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now_s = 100.0

    def __call__(self) -> float:
        return self.now_s


def reading(fraction: float, present: bool = True, charging: bool = False,
            stamp_s: float = 1000.0) -> BatteryInput:
    return BatteryInput(fraction, present, charging, 50.0, stamp_s)


def test_good_reading_is_used_until_it_is_stale():
    clock = FakeClock()
    tracker = BatteryTracker(timeout_s=5.0, max_stamp_skew_s=1.0, clock=clock)
    assert not tracker.reading().stale and math.isnan(tracker.reading().fraction)
    assert tracker.update(reading(0.7), now_stamp_s=1000.0).accepted
    clock.now_s += 4.0
    current = tracker.reading()
    assert (current.fraction, current.capacity_wh, current.stale) == (0.7, 50.0, False)
    assert current.age_s == pytest.approx(4.0)
    clock.now_s += 2.0
    stale = tracker.reading()
    assert stale.stale and math.isnan(stale.fraction) and stale.last_good_fraction == 0.7


def test_staleness_counts_from_the_start_when_nothing_arrives():
    clock = FakeClock()
    tracker = BatteryTracker(timeout_s=5.0, max_stamp_skew_s=1.0, clock=clock)
    clock.now_s += 5.5
    assert tracker.reading().stale and not tracker.reading().ever_received
    assert math.isnan(tracker.age_s())


@pytest.mark.parametrize('fraction, present, reason', [
    (float('nan'), True, 'nan'), (-0.1, True, 'out_of_range'), (1.01, True, 'out_of_range'),
    (0.5, False, 'not_present')])
def test_bad_readings_are_ignored_counted_and_the_last_good_kept(fraction, present, reason):
    clock = FakeClock()
    tracker = BatteryTracker(timeout_s=5.0, max_stamp_skew_s=1.0, clock=clock)
    tracker.update(reading(0.6), 1000.0)
    clock.now_s += 3.0
    update = tracker.update(reading(fraction, present), 1000.0)
    assert not update.accepted and update.ignored_reason == reason and update.detail
    assert tracker.reading().fraction == 0.6
    assert tracker.counts()[f'battery_ignored_{reason}'] == 1
    assert tracker.counts()['battery_ignored'] == 1
    clock.now_s += 2.5                              # a bad message does not refresh staleness
    assert tracker.reading().stale


def test_stamp_far_from_the_clock_is_counted_but_used():
    tracker = BatteryTracker(timeout_s=5.0, max_stamp_skew_s=1.0, clock=FakeClock())
    update = tracker.update(reading(0.4, stamp_s=0.0), now_stamp_s=1000.0)
    assert update.accepted and update.stamp_far and update.stamp_skew_s == 1000.0
    assert tracker.reading().fraction == 0.4
    assert tracker.counts()['battery_stamp_far'] == 1


def test_poll_reports_each_switch_once():
    clock = FakeClock()
    tracker = BatteryTracker(timeout_s=1.0, max_stamp_skew_s=1.0, clock=clock)
    tracker.update(reading(0.9, charging=True), 1000.0)
    assert tracker.poll() is None
    clock.now_s += 2.0
    switched = tracker.poll()
    assert switched is not None and switched.stale and not switched.charging
    assert tracker.poll() is None
    tracker.update(reading(0.8), 1000.0)
    back = tracker.poll()
    assert back is not None and not back.stale and back.fraction == 0.8
    assert tracker.counts()['battery_stale_episodes'] == 1
