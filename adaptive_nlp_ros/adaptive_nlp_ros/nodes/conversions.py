"""Conversions between core objects and ROS messages: the one place that knows both sides."""

from typing import Mapping

from adaptive_nlp_ros.core.battery_model import (
    BatteryAssessment, BatterySnapshot, POWER_SUPPLY_TECHNOLOGIES)
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticStatus, KeyValue
from sensor_msgs.msg import BatteryState


def battery_state_message(snapshot: BatterySnapshot, stamp: Time, frame_id: str,
                          technology: str = 'unknown', location: str = '',
                          serial_number: str = '') -> BatteryState:
    """
    Return the ``sensor_msgs/BatteryState`` of a snapshot.

    Health is UNKNOWN (nothing here measures it), temperature NaN, and the per-cell arrays are
    empty (the cell count is unknown); NaN fields of the snapshot stay NaN.

    :param technology: a key of ``POWER_SUPPLY_TECHNOLOGIES`` (``lion``, ``lipo`` ...).
    """
    message = BatteryState()
    message.header.stamp = stamp
    message.header.frame_id = frame_id
    message.voltage = snapshot.voltage_v
    message.temperature = float('nan')
    message.current = snapshot.current_a
    message.charge = snapshot.charge_ah
    message.capacity = snapshot.capacity_ah
    message.design_capacity = snapshot.design_capacity_ah
    message.percentage = snapshot.percentage
    message.power_supply_status = snapshot.power_supply_status
    message.power_supply_health = BatteryState.POWER_SUPPLY_HEALTH_UNKNOWN
    message.power_supply_technology = POWER_SUPPLY_TECHNOLOGIES.get(
        technology, BatteryState.POWER_SUPPLY_TECHNOLOGY_UNKNOWN)
    message.present = snapshot.present
    message.cell_voltage = []
    message.cell_temperature = []
    message.location = location
    message.serial_number = serial_number
    return message


def diagnostic_status_message(name: str, assessment: BatteryAssessment,
                              values: Mapping[str, object],
                              hardware_id: str = '') -> DiagnosticStatus:
    """
    Return a ``diagnostic_msgs/DiagnosticStatus`` with ``values`` as KeyValue pairs.

    Floats are written with up to 6 significant digits, bools as ``true``/``false``.
    """
    status = DiagnosticStatus()
    status.level = bytes([assessment.level])
    status.name = name
    status.message = assessment.message
    status.hardware_id = hardware_id
    status.values = [KeyValue(key=key, value=_diagnostic_text(value))
                     for key, value in values.items()]
    return status


def _diagnostic_text(value: object) -> str:
    """Write one diagnostic value as text."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, float):
        return f'{value:.6g}'
    return str(value)
