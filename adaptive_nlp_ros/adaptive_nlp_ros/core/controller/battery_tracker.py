"""
What the controller knows about the battery: the last good reading, its age, staleness.

The controller feeds every ``sensor_msgs/BatteryState`` it receives to ``BatteryTracker.update``
as a ``BatteryInput`` (``battery_input``: live messages and bag replay alike). A reading is
*good* when the battery is present and its fraction is a number in 0..1; anything else is
ignored with a count per reason, and the last good reading is kept. A stamp far from the
receiver's clock is counted and reported but does not make a reading bad: staleness is
judged by **receive time** (a monotonic clock), never by the message's stamp, so a publisher
with a wrong clock cannot make fresh readings look old or old ones fresh.

The battery is *stale* when no good reading arrived for ``timeout_s``; before the first one,
the age counts from the tracker's creation (the controller's start). ``poll`` reports each
switch between fresh and stale once, so the node can log it and the worker can switch to the
stale-battery strategy and back.

Thread-safe: updates come from a receive callback, readings are taken by the worker.
"""

from dataclasses import dataclass
import math
import threading
import time
from typing import Any, Callable, Dict, Optional, Tuple

from ..battery.battery_model import POWER_SUPPLY_STATUS_CHARGING, POWER_SUPPLY_STATUS_FULL

IGNORED_NAN = 'nan'
IGNORED_OUT_OF_RANGE = 'out_of_range'
IGNORED_NOT_PRESENT = 'not_present'
IGNORE_REASONS = (IGNORED_NAN, IGNORED_OUT_OF_RANGE, IGNORED_NOT_PRESENT)


@dataclass(frozen=True)
class BatteryInput:
    """The fields of one BatteryState message that the controller uses."""

    fraction: float                      # BatteryState.percentage: 0..1 when valid
    present: bool
    charging: bool                       # on a charger (status CHARGING or FULL)
    capacity_wh: Optional[float]         # capacity x voltage when both are known, else None
    stamp_s: float                       # header stamp, seconds (ROS time)


def battery_input(message: Any) -> BatteryInput:
    """
    Return what the controller reads from a ``sensor_msgs/BatteryState``.

    Any object with the message's fields will do (an rclpy message, a decoded bag message):
    the live node and bag replay read batteries the same way. Capacity in Wh when both the
    capacity (Ah) and the voltage are known and positive.
    """
    capacity_wh = None
    capacity_ah, voltage_v = float(message.capacity), float(message.voltage)
    if math.isfinite(capacity_ah) and math.isfinite(voltage_v) and capacity_ah > 0.0 \
            and voltage_v > 0.0:
        capacity_wh = capacity_ah * voltage_v
    stamp = message.header.stamp
    return BatteryInput(
        fraction=float(message.percentage), present=bool(message.present),
        charging=int(message.power_supply_status) in (
            POWER_SUPPLY_STATUS_CHARGING, POWER_SUPPLY_STATUS_FULL),
        capacity_wh=capacity_wh, stamp_s=int(stamp.sec) + int(stamp.nanosec) * 1e-9)


@dataclass(frozen=True)
class BatteryUpdate:
    """The verdict on one message: used or ignored (and why), and whether its stamp was off."""

    accepted: bool
    ignored_reason: str = ''             # one of IGNORE_REASONS when not accepted
    detail: str = ''                     # a sentence for the log
    stamp_skew_s: float = 0.0            # |receive clock - stamp|
    stamp_far: bool = False              # skew above the allowed maximum


@dataclass(frozen=True)
class BatteryReading:
    """The battery as the worker should see it for the next decision."""

    fraction: float                      # last good fraction; NaN when none, or stale
    last_good_fraction: float            # last good fraction even when stale; NaN when none
    charging: bool
    capacity_wh: Optional[float]
    age_s: float                         # since the last good reading (since start if none)
    stale: bool
    ever_received: bool


class BatteryTracker:
    """Last good battery reading, staleness by receive time, and counts of ignored messages."""

    def __init__(self, timeout_s: float, max_stamp_skew_s: float,
                 clock: Callable[[], float] = time.monotonic) -> None:
        """
        Start tracking with no reading yet.

        :param timeout_s: a good reading older than this (by receive time) is stale.
        :param max_stamp_skew_s: a stamp further than this from the clock is counted.
        :param clock: monotonic seconds; staleness and ages use it.
        """
        self._clock = clock
        self._lock = threading.Lock()
        self.timeout_s = float(timeout_s)
        self.max_stamp_skew_s = float(max_stamp_skew_s)
        self._started_s = clock()
        self._last_good_s: Optional[float] = None
        self._fraction = math.nan
        self._charging = False
        self._capacity_wh: Optional[float] = None
        self._reported_stale = False
        self.received = 0
        self.accepted = 0
        self.ignored: Dict[str, int] = dict.fromkeys(IGNORE_REASONS, 0)
        self.stamp_far = 0
        self.stale_episodes = 0

    def update(self, battery: BatteryInput, now_stamp_s: float) -> BatteryUpdate:
        """
        Judge and (if good) take one received message.

        :param now_stamp_s: the receiver's clock (ROS time, seconds) to compare the stamp with.
        """
        receive_s = self._clock()
        skew_s = abs(now_stamp_s - battery.stamp_s)
        far = not math.isfinite(skew_s) or skew_s > self.max_stamp_skew_s
        reason, detail = self._judge(battery)
        with self._lock:
            self.received += 1
            if far:
                self.stamp_far += 1
            if reason:
                self.ignored[reason] += 1
                return BatteryUpdate(False, reason, detail, skew_s, far)
            self.accepted += 1
            self._last_good_s = receive_s
            self._fraction = float(battery.fraction)
            self._charging = bool(battery.charging)
            self._capacity_wh = battery.capacity_wh
        return BatteryUpdate(True, '', '', skew_s, far)

    @staticmethod
    def _judge(battery: BatteryInput) -> Tuple[str, str]:
        """Return ``(ignore reason, sentence)`` for a bad message, ``('', '')`` for a good one."""
        if not battery.present:
            return IGNORED_NOT_PRESENT, 'BatteryState with present=false'
        if math.isnan(battery.fraction):
            return IGNORED_NAN, 'BatteryState with percentage NaN'
        if not 0.0 <= battery.fraction <= 1.0:
            return IGNORED_OUT_OF_RANGE, (f'BatteryState with percentage {battery.fraction!r} '
                                          'outside 0..1')
        return '', ''

    def reading(self) -> BatteryReading:
        """Return the battery to decide on now: NaN fraction and ``stale`` after the timeout."""
        now_s = self._clock()
        with self._lock:
            since = self._started_s if self._last_good_s is None else self._last_good_s
            age_s = max(0.0, now_s - since)
            stale = age_s > self.timeout_s
            return BatteryReading(
                fraction=math.nan if stale else self._fraction,
                last_good_fraction=self._fraction,
                charging=False if stale else self._charging,
                capacity_wh=self._capacity_wh,
                age_s=age_s, stale=stale, ever_received=self._last_good_s is not None)

    def age_s(self) -> float:
        """Return seconds since the last good reading; NaN when there was none."""
        with self._lock:
            if self._last_good_s is None:
                return math.nan
            return max(0.0, self._clock() - self._last_good_s)

    def poll(self) -> Optional[BatteryReading]:
        """
        Return the reading when staleness switched since the last poll, else None.

        Each switch (fresh -> stale, stale -> fresh) is reported exactly once.
        """
        reading = self.reading()
        with self._lock:
            if reading.stale == self._reported_stale:
                return None
            self._reported_stale = reading.stale
            if reading.stale:
                self.stale_episodes += 1
        return reading

    def counts(self) -> Dict[str, int]:
        """Return the message counts for diagnostics."""
        with self._lock:
            values = {'battery_received': self.received, 'battery_accepted': self.accepted,
                      'battery_ignored': sum(self.ignored.values())}
            values.update({f'battery_ignored_{reason}': count
                           for reason, count in self.ignored.items()})
            values['battery_stamp_far'] = self.stamp_far
            values['battery_stale_episodes'] = self.stale_episodes
            return values
