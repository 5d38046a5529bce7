"""Unit tests of core.battery_model and core.parameter_spec: no ROS involved."""

from collections import namedtuple
import math
from pathlib import Path

from adaptive_nlp_ros.core.battery import battery_model
from adaptive_nlp_ros.core.battery.battery_model import (
    assess_battery, BATTERY_PARAMETERS, BatteryUnavailableError, DIAGNOSTIC_ERROR,
    DIAGNOSTIC_OK, DIAGNOSTIC_WARN, HostBattery, POWER_SUPPLY_STATUS_CHARGING,
    POWER_SUPPLY_STATUS_DISCHARGING, POWER_SUPPLY_STATUS_FULL,
    POWER_SUPPLY_STATUS_NOT_CHARGING, POWER_SUPPLY_STATUS_UNKNOWN, SimulatedBattery,
    unavailable_snapshot)
from adaptive_nlp_ros.core.parameter_spec import ParameterSpec, spec_defaults
import psutil
import pytest
import yaml

CONFIG_DIR = Path(__file__).resolve().parents[1] / 'config'
# The shape of psutil.sensors_battery()'s answer.
HostReading = namedtuple('HostReading', 'percent secsleft power_plugged')


def make_battery(**overrides) -> SimulatedBattery:
    """Return a 10 Wh battery at 50 %, 36 W idle draw, real time, not charging."""
    settings = {'capacity_wh': 10.0, 'idle_draw_w': 36.0, 'time_acceleration': 1.0,
                'initial_fraction': 0.5, 'nominal_voltage_v': 12.0, 'charging': False,
                'charge_power_w': 72.0}
    settings.update(overrides)
    return SimulatedBattery(**settings)


# Simulated battery.

def test_idle_draw_drains_by_power_times_time():
    battery = make_battery()
    battery.advance(100.0)                       # 36 W x 100 s = 1 Wh = 10 %
    assert battery.fraction == pytest.approx(0.4)
    assert battery.energy_wh == pytest.approx(4.0)


def test_time_acceleration_scales_idle_draw():
    battery = make_battery(time_acceleration=10.0)
    battery.advance(10.0)                        # 100 simulated seconds
    assert battery.fraction == pytest.approx(0.4)


def test_zero_acceleration_freezes_everything():
    battery = make_battery(time_acceleration=0.0)
    battery.advance(1000.0)
    battery.consume_mj(1.0e6)
    assert battery.fraction == pytest.approx(0.5)


def test_reported_energy_drains_scaled_by_acceleration():
    battery = make_battery(time_acceleration=3.0)
    battery.consume_mj(1.2e6)                    # 1200 J reported x 3 = 3600 J = 1 Wh
    assert battery.fraction == pytest.approx(0.4)
    assert battery.inference_energy_reported_mj == pytest.approx(1.2e6)
    assert battery.inference_energy_drained_mj == pytest.approx(3.6e6)


def test_negative_or_nan_energy_is_refused():
    battery = make_battery()
    for energy_mj in (-1.0, math.nan, math.inf):
        with pytest.raises(ValueError):
            battery.consume_mj(energy_mj)
    assert battery.fraction == pytest.approx(0.5)


def test_charging_adds_charge_power_minus_loads():
    battery = make_battery(charging=True)
    battery.advance(100.0)                       # (72 - 36) W x 100 s = 1 Wh
    assert battery.fraction == pytest.approx(0.6)
    snapshot = battery.snapshot()
    assert snapshot.power_supply_status == POWER_SUPPLY_STATUS_CHARGING
    assert snapshot.current_a == pytest.approx(36.0 / 12.0)


def test_charger_weaker_than_the_load_still_discharges():
    battery = make_battery(charging=True, charge_power_w=12.0)
    battery.advance(10.0)
    snapshot = battery.snapshot()
    assert battery.fraction < 0.5
    assert snapshot.current_a < 0.0
    assert snapshot.power_supply_status == POWER_SUPPLY_STATUS_DISCHARGING


def test_clamped_at_zero_and_one():
    battery = make_battery()
    battery.advance(1.0e6)
    assert battery.fraction == 0.0
    battery.consume_mj(1.0e9)
    assert battery.fraction == 0.0
    battery.charging = True
    battery.advance(1.0e6)
    assert battery.fraction == 1.0
    snapshot = battery.snapshot()
    assert snapshot.power_supply_status == POWER_SUPPLY_STATUS_FULL
    assert snapshot.current_a == 0.0


def test_current_sign_follows_net_power():
    battery = make_battery()
    battery.advance(1.0)
    discharging = battery.snapshot()
    assert discharging.current_a == pytest.approx(-36.0 / 12.0)
    assert discharging.power_supply_status == POWER_SUPPLY_STATUS_DISCHARGING
    idle = make_battery(idle_draw_w=0.0).snapshot()
    assert idle.current_a == 0.0
    assert idle.power_supply_status == POWER_SUPPLY_STATUS_NOT_CHARGING


def test_inference_power_shows_in_the_current():
    battery = make_battery()
    battery.consume_mj(12000.0)                  # 12 J over the next 1 s interval = 12 W
    battery.advance(1.0)
    assert battery.snapshot().current_a == pytest.approx(-(36.0 + 12.0) / 12.0)
    battery.advance(1.0)                         # nothing reported in this interval
    assert battery.snapshot().current_a == pytest.approx(-36.0 / 12.0)


def test_snapshot_units():
    snapshot = make_battery().snapshot()
    assert snapshot.percentage == pytest.approx(0.5)
    assert snapshot.voltage_v == pytest.approx(12.0)
    assert snapshot.capacity_ah == pytest.approx(10.0 / 12.0)
    assert snapshot.design_capacity_ah == pytest.approx(10.0 / 12.0)
    assert snapshot.charge_ah == pytest.approx(0.5 * 10.0 / 12.0)
    assert snapshot.energy_wh == pytest.approx(5.0)
    assert snapshot.present is True
    with pytest.raises(AttributeError):
        snapshot.percentage = 1.0                # frozen


def test_run_time_changes_and_reset():
    battery = make_battery()
    battery.capacity_wh = 20.0                   # the fraction stays; energy doubles
    assert battery.fraction == pytest.approx(0.5)
    assert battery.energy_wh == pytest.approx(10.0)
    battery.reset(0.9)
    assert battery.fraction == pytest.approx(0.9)
    with pytest.raises(ValueError):
        battery.reset(1.5)
    with pytest.raises(ValueError):
        battery.capacity_wh = 0.0


@pytest.mark.parametrize('settings', [
    {'capacity_wh': 0.0}, {'idle_draw_w': -1.0}, {'initial_fraction': 1.1},
    {'nominal_voltage_v': 0.0}, {'time_acceleration': math.nan},
])
def test_invalid_construction_is_refused(settings):
    with pytest.raises(ValueError):
        make_battery(**settings)


def test_assessment_levels():
    assert assess_battery(make_battery().snapshot(), 0.2).level == DIAGNOSTIC_OK
    low = assess_battery(make_battery(initial_fraction=0.1).snapshot(), 0.2)
    assert low.level == DIAGNOSTIC_WARN and 'low' in low.message
    assert assess_battery(make_battery(initial_fraction=0.0).snapshot(), 0.2).level == \
        DIAGNOSTIC_ERROR
    gone = assess_battery(unavailable_snapshot(), 0.2, 'no battery here')
    assert gone.level == DIAGNOSTIC_ERROR and 'no battery here' in gone.message


# Host battery through psutil.

def test_host_without_battery_raises_a_clear_error(monkeypatch):
    monkeypatch.setattr(psutil, 'sensors_battery', lambda: None)
    with pytest.raises(BatteryUnavailableError, match='no battery'):
        HostBattery().snapshot()


def test_host_battery_reading(monkeypatch):
    reading = HostReading(percent=42.0, secsleft=3600, power_plugged=False)
    monkeypatch.setattr(psutil, 'sensors_battery', lambda: reading)
    snapshot = HostBattery().snapshot()
    assert snapshot.percentage == pytest.approx(0.42)
    assert snapshot.power_supply_status == POWER_SUPPLY_STATUS_DISCHARGING
    for unknown in (snapshot.voltage_v, snapshot.current_a, snapshot.charge_ah,
                    snapshot.capacity_ah, snapshot.energy_wh):
        assert math.isnan(unknown)
    plugged = HostReading(percent=100.0, secsleft=None, power_plugged=True)
    monkeypatch.setattr(psutil, 'sensors_battery', lambda: plugged)
    assert HostBattery().snapshot().power_supply_status == POWER_SUPPLY_STATUS_FULL
    unknown = HostReading(percent=50.0, secsleft=None, power_plugged=None)
    monkeypatch.setattr(psutil, 'sensors_battery', lambda: unknown)
    assert HostBattery().snapshot().power_supply_status == POWER_SUPPLY_STATUS_UNKNOWN


def test_host_platform_without_sensors_battery(monkeypatch):
    monkeypatch.delattr(psutil, 'sensors_battery')
    with pytest.raises(BatteryUnavailableError, match='platform'):
        HostBattery().snapshot()


# ParameterSpec.

def test_spec_infers_kind_from_default():
    assert ParameterSpec('a', True, '').kind == 'bool'
    assert ParameterSpec('b', 3, '').kind == 'int'
    assert ParameterSpec('c', 3.0, '').kind == 'float'
    assert ParameterSpec('d', 'x', '').kind == 'str'
    assert ParameterSpec('e', ['x', 'y'], '').kind == 'str_list'
    assert ParameterSpec('f', [], '').kind == 'str_list'
    assert ParameterSpec('e', ['x', 'y'], '').default == ('x', 'y')   # hashable, frozen


def test_spec_refuses_wrong_types():
    assert ParameterSpec('rate_hz', 1.0, '').validate(2) is not None   # int for a float
    assert ParameterSpec('count', 1, '').validate(True) is not None    # bool is not an int
    assert ParameterSpec('count', 1, '').validate(2.0) is not None
    assert ParameterSpec('flag', False, '').validate(1) is not None
    assert ParameterSpec('name', 'x', '').validate(['x']) is not None
    assert ParameterSpec('names', ['x'], '').validate(['x', 1]) is not None
    reason = ParameterSpec('rate_hz', 1.0, '').validate('fast')
    assert 'rate_hz' in reason and 'float' in reason


def test_spec_ranges_are_inclusive():
    spec = ParameterSpec('rate_hz', 1.0, '', min_value=0.1, max_value=100.0)
    assert spec.validate(0.1) is None and spec.validate(100.0) is None
    assert 'minimum' in spec.validate(-1.0)
    assert 'maximum' in spec.validate(100.5)
    assert spec.validate(math.nan) is not None
    assert ParameterSpec('n', 1, '', min_value=0).validate(-1) is not None
    assert ParameterSpec('n', 1, '', max_value=5).validate(10 ** 6) is not None


def test_spec_choices():
    spec = ParameterSpec('mode', 'a', '', choices=('a', 'b'))
    assert spec.validate('b') is None
    reason = spec.validate('c')
    assert 'mode' in reason and 'a, b' in reason
    many = ParameterSpec('modes', ['a'], '', choices=['a', 'b'])
    assert many.validate(['a', 'b']) is None
    assert many.validate(['a', 'z']) is not None


@pytest.mark.parametrize('arguments', [
    ('x', 1.0, '', 2.0, 1.0),                   # min > max
    ('x', 'a', '', 0.0),                        # a range on a string
    ('x', 1, '', None, None, ('a',)),           # choices on a number
    ('x', 5.0, '', 0.0, 1.0),                   # default out of range
    ('x', None, ''),                            # no type
    ('x', 1, '', 0.5),                          # a float bound on an int
])
def test_inconsistent_specs_are_refused(arguments):
    with pytest.raises((TypeError, ValueError)):
        ParameterSpec(*arguments)


# The battery node's specs and configuration file.

def test_battery_config_matches_specs():
    with open(CONFIG_DIR / 'battery_node.yaml') as stream:
        config = yaml.safe_load(stream)
    values = config['battery_node']['ros__parameters']
    assert list(values) == [spec.name for spec in BATTERY_PARAMETERS]
    for spec in BATTERY_PARAMETERS:
        assert spec.validate(values[spec.name]) is None, spec.name


def test_battery_config_holds_the_defaults():
    # The YAML documents the defaults: a node started without it behaves the same.
    with open(CONFIG_DIR / 'battery_node.yaml') as stream:
        values = yaml.safe_load(stream)['battery_node']['ros__parameters']
    assert values == spec_defaults(BATTERY_PARAMETERS)


def test_battery_specs_are_unique_and_described():
    names = [spec.name for spec in BATTERY_PARAMETERS]
    assert len(names) == len(set(names))
    assert all(spec.description for spec in BATTERY_PARAMETERS)
    assert set(battery_model.POWER_SUPPLY_TECHNOLOGIES) == set(
        next(spec for spec in BATTERY_PARAMETERS if spec.name == 'technology').choices)
