"""
Battery models for the battery node: a simulated pack and the host's own battery.

Both return a ``BatterySnapshot`` that carries every quantity ``sensor_msgs/BatteryState``
needs, in that message's units (fraction 0..1, volts, amperes, ampere-hours). No ROS in here:
the node converts a snapshot to a message.

Simulated energy model (documented choices):

* The battery holds ``capacity_wh * fraction`` watt-hours. Every load is drawn from it:
  the idle draw of the robot (``idle_draw_w``) and the energy of each inference that the
  controller reports (``consume_mj``). While ``charging``, the charger pushes
  ``charge_power_w`` into the battery at the same time, so the net power is
  ``charge_power_w - idle_draw_w - inference power`` and the level rises only when the
  charger out-powers the loads.
* ``time_acceleration`` is simulated seconds per wall second, so a demo can show an afternoon
  of battery in a few minutes. It applies to the idle draw and the charger **and to the
  reported inference energy**: one inference of E mJ drains ``E * time_acceleration`` mJ.
  That is deliberate: the robot is taken to be doing that much thinking for every simulated
  second, so the cost of thinking keeps the same proportion to the idle draw as it would have
  in real time, and it shows in a demo. ``time_acceleration = 0`` freezes the battery (idle,
  charger and inference alike), which is handy for tests of the controller.
* The level is clamped to 0..1. A full battery on the charger reports ``FULL``: the charger
  then covers the loads and the current is zero. Otherwise the status follows the sign of the
  net power: ``CHARGING`` when positive, ``DISCHARGING`` when negative (also on a charger too
  weak for the loads), ``NOT_CHARGING`` when zero.
* Voltage is the nominal voltage, constant (no discharge curve); current is net power divided
  by that voltage, negative while discharging; the inference power in it is the reported
  energy averaged over the last ``advance`` interval. Power and current are those of the
  simulated robot (not multiplied by ``time_acceleration``): in wall time the charge changes
  ``time_acceleration`` times faster than the current alone says.
"""

from dataclasses import dataclass
import math
from typing import Optional

from adaptive_nlp_ros.core.node_lifecycle import AUTOSTART
from adaptive_nlp_ros.core.parameter_spec import ParameterSpec

# The values of sensor_msgs/BatteryState's POWER_SUPPLY_STATUS_* constants (kept here so that
# core needs no ROS import; a test checks they equal the message's).
POWER_SUPPLY_STATUS_UNKNOWN = 0
POWER_SUPPLY_STATUS_CHARGING = 1
POWER_SUPPLY_STATUS_DISCHARGING = 2
POWER_SUPPLY_STATUS_NOT_CHARGING = 3
POWER_SUPPLY_STATUS_FULL = 4

STATUS_NAMES = {
    POWER_SUPPLY_STATUS_UNKNOWN: 'unknown',
    POWER_SUPPLY_STATUS_CHARGING: 'charging',
    POWER_SUPPLY_STATUS_DISCHARGING: 'discharging',
    POWER_SUPPLY_STATUS_NOT_CHARGING: 'not charging',
    POWER_SUPPLY_STATUS_FULL: 'full',
}

# The values of sensor_msgs/BatteryState's POWER_SUPPLY_TECHNOLOGY_* constants, by the name the
# ``technology`` parameter takes.
POWER_SUPPLY_TECHNOLOGIES = {
    'unknown': 0,
    'nimh': 1,
    'lion': 2,
    'lipo': 3,
    'life': 4,
    'nicd': 5,
    'limn': 6,
    'ternary': 7,
    'vrla': 8,
}

SOURCE_SIMULATED = 'simulated'
SOURCE_PSUTIL = 'psutil'

_J_PER_WH = 3600.0
_MJ_PER_J = 1000.0
# A level this close to 1 counts as full (avoids flapping between FULL and CHARGING).
_FULL_EPSILON = 1e-9

BATTERY_PARAMETERS = (
    ParameterSpec('source', SOURCE_SIMULATED,
                  'Where the battery state comes from: "simulated" (the model in this node, '
                  'drained by idle draw and reported inference energy) or "psutil" (the '
                  "host's own battery).",
                  choices=(SOURCE_SIMULATED, SOURCE_PSUTIL), read_only=True),
    ParameterSpec('fallback_to_simulated', True,
                  'With source "psutil" on a host without a battery: true falls back to the '
                  'simulated battery (after logging an error), false exits with status 1.',
                  read_only=True),
    ParameterSpec('rate_hz', 2.0, 'BatteryState publication rate (Hz).',
                  min_value=0.1, max_value=100.0),
    ParameterSpec('frame_id', 'base_link', 'header.frame_id of the published BatteryState.'),
    ParameterSpec('location', '', 'BatteryState.location: where the battery is inserted.'),
    ParameterSpec('serial_number', '', 'BatteryState.serial_number.'),
    ParameterSpec('technology', 'lion', 'Battery chemistry, for power_supply_technology.',
                  choices=tuple(POWER_SUPPLY_TECHNOLOGIES)),
    ParameterSpec('low_fraction', 0.2,
                  'Below this battery fraction (0..1) the diagnostic status is WARN.',
                  min_value=0.0, max_value=1.0),
    ParameterSpec('capacity_wh', 100.0, 'Simulated: capacity of the battery (Wh).',
                  min_value=0.001, max_value=1.0e6),
    ParameterSpec('idle_draw_w', 20.0,
                  'Simulated: power the robot draws when not thinking (W).',
                  min_value=0.0, max_value=1.0e5),
    ParameterSpec('time_acceleration', 60.0,
                  'Simulated: simulated seconds per wall second. Scales idle draw, charging '
                  'and reported inference energy alike; 0 freezes the battery.',
                  min_value=0.0, max_value=1.0e6),
    ParameterSpec('initial_fraction', 1.0,
                  'Simulated: battery level at start (0..1). Setting it while the node runs '
                  'resets the level to it.',
                  min_value=0.0, max_value=1.0),
    ParameterSpec('nominal_voltage_v', 24.0, 'Simulated: pack voltage (V), constant.',
                  min_value=0.1, max_value=1000.0),
    ParameterSpec('charging', False,
                  'Simulated: the robot is on its charger. Can be switched while running.'),
    ParameterSpec('charge_power_w', 60.0,
                  'Simulated: power the charger pushes into the battery while charging (W).',
                  min_value=0.0, max_value=1.0e5),
    AUTOSTART,
)


class BatteryUnavailableError(RuntimeError):
    """The host has no battery that can be read (or psutil cannot read one)."""


@dataclass(frozen=True)
class BatterySnapshot:
    """
    Battery state at one instant, in sensor_msgs/BatteryState units; NaN where unknown.

    ``current_a`` is negative while discharging and positive while charging.
    ``power_supply_status`` holds one of the ``POWER_SUPPLY_STATUS_*`` values above.
    """

    percentage: float            # fraction 0..1 (BatteryState calls it percentage)
    voltage_v: float
    current_a: float
    charge_ah: float
    capacity_ah: float
    design_capacity_ah: float
    power_supply_status: int
    present: bool
    energy_wh: float
    net_power_w: float = math.nan  # positive into the battery

    @property
    def status_name(self) -> str:
        """Return the power supply status in words (``charging``, ``full`` ...)."""
        return STATUS_NAMES.get(self.power_supply_status, 'unknown')


def _require_non_negative(name: str, value: float) -> float:
    """Return ``value`` as a float, or raise ValueError when it is negative or not finite."""
    value = float(value)
    if not math.isfinite(value) or value < 0.0:
        raise ValueError(f'{name} must be a finite number >= 0, got {value}')
    return value


def _require_positive(name: str, value: float) -> float:
    """Return ``value`` as a float, or raise ValueError when it is not finite and > 0."""
    value = _require_non_negative(name, value)
    if value == 0.0:
        raise ValueError(f'{name} must be > 0')
    return value


def _require_fraction(name: str, value: float) -> float:
    """Return ``value`` as a float, or raise ValueError when it is outside 0..1."""
    value = _require_non_negative(name, value)
    if value > 1.0:
        raise ValueError(f'{name} must be within 0..1, got {value}')
    return value


class SimulatedBattery:
    """A battery pack drained by idle draw and reported inference energy, and charged on a dock."""

    def __init__(self, capacity_wh: float = 100.0, idle_draw_w: float = 20.0,
                 time_acceleration: float = 1.0, initial_fraction: float = 1.0,
                 nominal_voltage_v: float = 24.0, charging: bool = False,
                 charge_power_w: float = 60.0) -> None:
        """
        Create a battery at ``initial_fraction`` of ``capacity_wh``.

        :raises ValueError: for a negative, non-finite or (capacity, voltage) zero quantity,
            or a fraction outside 0..1.
        """
        self._capacity_wh = _require_positive('capacity_wh', capacity_wh)
        self._idle_draw_w = _require_non_negative('idle_draw_w', idle_draw_w)
        self._time_acceleration = _require_non_negative('time_acceleration', time_acceleration)
        self._nominal_voltage_v = _require_positive('nominal_voltage_v', nominal_voltage_v)
        self._charge_power_w = _require_non_negative('charge_power_w', charge_power_w)
        self._fraction = _require_fraction('initial_fraction', initial_fraction)
        self.charging = bool(charging)
        self._inference_energy_reported_mj = 0.0
        self._inference_energy_drained_mj = 0.0
        self._pending_inference_mj = 0.0     # drained since the last advance()
        self._inference_power_w = 0.0        # pending energy averaged over the last advance()

    # Settable quantities (the node's run-time parameters).

    @property
    def capacity_wh(self) -> float:
        """Capacity (Wh). Setting it keeps the fraction, so the stored energy scales."""
        return self._capacity_wh

    @capacity_wh.setter
    def capacity_wh(self, value: float) -> None:
        self._capacity_wh = _require_positive('capacity_wh', value)

    @property
    def idle_draw_w(self) -> float:
        """Power drawn while not thinking (W)."""
        return self._idle_draw_w

    @idle_draw_w.setter
    def idle_draw_w(self, value: float) -> None:
        self._idle_draw_w = _require_non_negative('idle_draw_w', value)

    @property
    def time_acceleration(self) -> float:
        """Return simulated seconds per wall second."""
        return self._time_acceleration

    @time_acceleration.setter
    def time_acceleration(self, value: float) -> None:
        self._time_acceleration = _require_non_negative('time_acceleration', value)

    @property
    def nominal_voltage_v(self) -> float:
        """Pack voltage (V)."""
        return self._nominal_voltage_v

    @nominal_voltage_v.setter
    def nominal_voltage_v(self, value: float) -> None:
        self._nominal_voltage_v = _require_positive('nominal_voltage_v', value)

    @property
    def charge_power_w(self) -> float:
        """Power the charger pushes in while charging (W)."""
        return self._charge_power_w

    @charge_power_w.setter
    def charge_power_w(self, value: float) -> None:
        self._charge_power_w = _require_non_negative('charge_power_w', value)

    @property
    def fraction(self) -> float:
        """Battery level, 0..1."""
        return self._fraction

    @property
    def energy_wh(self) -> float:
        """Energy stored now (Wh)."""
        return self._fraction * self._capacity_wh

    @property
    def inference_energy_reported_mj(self) -> float:
        """Sum of the inference energies passed to ``consume_mj`` (mJ, as reported)."""
        return self._inference_energy_reported_mj

    @property
    def inference_energy_drained_mj(self) -> float:
        """Energy the battery actually lost to inference (mJ, after time acceleration)."""
        return self._inference_energy_drained_mj

    def reset(self, fraction: float) -> None:
        """Set the level to ``fraction`` (0..1), e.g. to replay a demo from a low battery."""
        self._fraction = _require_fraction('fraction', fraction)

    # Dynamics.

    def advance(self, wall_dt_s: float) -> None:
        """
        Let ``wall_dt_s`` wall seconds pass: drain the idle draw, add the charger's power.

        The simulated duration is ``wall_dt_s * time_acceleration``. A non-positive interval
        changes nothing.
        """
        wall_dt_s = float(wall_dt_s)
        sim_dt_s = wall_dt_s * self._time_acceleration
        if wall_dt_s > 0.0 and sim_dt_s > 0.0:
            self._inference_power_w = self._pending_inference_mj / _MJ_PER_J / sim_dt_s
        elif wall_dt_s > 0.0:
            self._inference_power_w = 0.0
        if wall_dt_s > 0.0:
            self._pending_inference_mj = 0.0
        if sim_dt_s <= 0.0:
            return
        power_w = (self._charge_power_w if self.charging else 0.0) - self._idle_draw_w
        self._add_energy_j(power_w * sim_dt_s)

    def consume_mj(self, energy_mj: float) -> None:
        """
        Drain the energy of one reported inference, multiplied by ``time_acceleration``.

        :raises ValueError: for a negative or non-finite energy.
        """
        energy_mj = _require_non_negative('energy_mj', energy_mj)
        drained_mj = energy_mj * self._time_acceleration
        self._inference_energy_reported_mj += energy_mj
        self._inference_energy_drained_mj += drained_mj
        self._pending_inference_mj += drained_mj
        self._add_energy_j(-drained_mj / _MJ_PER_J)

    def _add_energy_j(self, energy_j: float) -> None:
        """Add (or with a negative value, remove) energy, keeping the level within 0..1."""
        capacity_j = self._capacity_wh * _J_PER_WH
        self._fraction = min(1.0, max(0.0, self._fraction + energy_j / capacity_j))

    # Reading.

    def snapshot(self) -> BatterySnapshot:
        """Return the current state in BatteryState's units."""
        full = self._fraction >= 1.0 - _FULL_EPSILON
        if self.charging and full:
            status = POWER_SUPPLY_STATUS_FULL
            net_power_w = 0.0   # the charger covers the loads
        else:
            charge_w = self._charge_power_w if self.charging else 0.0
            net_power_w = charge_w - self._idle_draw_w - self._inference_power_w
            if net_power_w > 0.0:
                status = POWER_SUPPLY_STATUS_CHARGING
            elif net_power_w < 0.0:
                status = POWER_SUPPLY_STATUS_DISCHARGING
            else:
                status = POWER_SUPPLY_STATUS_NOT_CHARGING
        capacity_ah = self._capacity_wh / self._nominal_voltage_v
        return BatterySnapshot(
            percentage=self._fraction,
            voltage_v=self._nominal_voltage_v,
            current_a=net_power_w / self._nominal_voltage_v,
            charge_ah=self._fraction * capacity_ah,
            capacity_ah=capacity_ah,
            design_capacity_ah=capacity_ah,
            power_supply_status=status,
            present=True,
            energy_wh=self.energy_wh,
            net_power_w=net_power_w,
        )


class HostBattery:
    """The host's own battery, read through ``psutil.sensors_battery()``."""

    def snapshot(self) -> BatterySnapshot:
        """
        Read the host battery now.

        psutil reports only the level and whether the charger is plugged in: voltage, current,
        charge, capacity and energy are NaN.

        :raises BatteryUnavailableError: when psutil is missing, cannot read batteries on this
            platform, or the host has no battery.
        """
        try:
            import psutil
        except ImportError as error:
            raise BatteryUnavailableError(
                'psutil is not installed, so the host battery cannot be read') from error
        read = getattr(psutil, 'sensors_battery', None)
        if read is None:
            raise BatteryUnavailableError(
                'psutil cannot read batteries on this platform (no sensors_battery)')
        try:
            battery = read()
        except (OSError, RuntimeError) as error:
            raise BatteryUnavailableError(f'reading the host battery failed: {error}') from error
        if battery is None:
            raise BatteryUnavailableError(
                'this host has no battery (psutil.sensors_battery() returned None)')
        fraction = min(1.0, max(0.0, float(battery.percent) / 100.0))
        return BatterySnapshot(
            percentage=fraction,
            voltage_v=math.nan,
            current_a=math.nan,
            charge_ah=math.nan,
            capacity_ah=math.nan,
            design_capacity_ah=math.nan,
            power_supply_status=_host_status(battery.power_plugged, fraction),
            present=True,
            energy_wh=math.nan,
        )


def _host_status(power_plugged: Optional[bool], fraction: float) -> int:
    """Map psutil's ``power_plugged`` (None when unknown) and the level to a status value."""
    if power_plugged is None:
        return POWER_SUPPLY_STATUS_UNKNOWN
    if power_plugged:
        return POWER_SUPPLY_STATUS_FULL if fraction >= 1.0 else POWER_SUPPLY_STATUS_CHARGING
    return POWER_SUPPLY_STATUS_DISCHARGING


# The values of diagnostic_msgs/DiagnosticStatus's level constants.
DIAGNOSTIC_OK = 0
DIAGNOSTIC_WARN = 1
DIAGNOSTIC_ERROR = 2


@dataclass(frozen=True)
class BatteryAssessment:
    """A diagnostic verdict on a battery: a ``DIAGNOSTIC_*`` level and a one-line message."""

    level: int
    message: str


def assess_battery(snapshot: Optional[BatterySnapshot], low_fraction: float,
                   unavailable_reason: str = '') -> BatteryAssessment:
    """
    Judge a snapshot: ERROR when unreadable or empty, WARN below ``low_fraction``, else OK.

    :param snapshot: the latest reading, or None when the battery could not be read.
    :param unavailable_reason: why it could not be read, for the message.
    """
    if snapshot is None or not snapshot.present or math.isnan(snapshot.percentage):
        return BatteryAssessment(DIAGNOSTIC_ERROR,
                                 f'battery unavailable: {unavailable_reason or "no reading"}')
    percent = 100.0 * snapshot.percentage
    status = snapshot.status_name
    if snapshot.percentage <= 0.0:
        return BatteryAssessment(DIAGNOSTIC_ERROR, f'battery empty ({status})')
    if snapshot.percentage < low_fraction:
        return BatteryAssessment(
            DIAGNOSTIC_WARN,
            f'battery low: {percent:.1f} % < {100.0 * low_fraction:.1f} % ({status})')
    return BatteryAssessment(DIAGNOSTIC_OK, f'battery {percent:.1f} % ({status})')


def unavailable_snapshot() -> BatterySnapshot:
    """Return the snapshot of a battery that cannot be read: not present, everything NaN."""
    return BatterySnapshot(
        percentage=math.nan,
        voltage_v=math.nan,
        current_a=math.nan,
        charge_ah=math.nan,
        capacity_ah=math.nan,
        design_capacity_ah=math.nan,
        power_supply_status=POWER_SUPPLY_STATUS_UNKNOWN,
        present=False,
        energy_wh=math.nan,
    )
