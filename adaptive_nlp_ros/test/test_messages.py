"""The custom messages import, keep their constants, and round-trip through serialization."""

import math

from adaptive_nlp_ros.core.battery import battery_model
from adaptive_nlp_ros_msgs.msg import ChosenConfiguration, InferenceResult
from diagnostic_msgs.msg import DiagnosticStatus
import pytest
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import BatteryState


def make_configuration() -> ChosenConfiguration:
    """Return a ChosenConfiguration with every field away from its default."""
    configuration = ChosenConfiguration()
    configuration.header.stamp.sec = 1700000000
    configuration.header.stamp.nanosec = 123
    configuration.header.frame_id = 'controller'
    configuration.strategy = 'early_exit'
    configuration.variant = 'minilm_l6'
    configuration.exit_layer = 3
    configuration.num_layers = 6
    configuration.segment_precisions = ['fp32', 'int8', 'int4']
    configuration.confidence_threshold = 0.875
    configuration.battery_fraction = 0.5
    configuration.energy_budget_mj = 12.5
    configuration.battery_stale = True
    configuration.reason = 'battery at 50 %'
    return configuration


def assert_configurations_equal(left: ChosenConfiguration, right: ChosenConfiguration):
    """Assert every field of two configurations is equal."""
    assert left.header == right.header
    for name in ('strategy', 'variant', 'exit_layer', 'num_layers', 'confidence_threshold',
                 'battery_fraction', 'energy_budget_mj', 'battery_stale', 'reason'):
        assert getattr(left, name) == getattr(right, name), name
    assert list(left.segment_precisions) == list(right.segment_precisions)


def test_inference_result_constants():
    assert InferenceResult.STATUS_ANSWERED == 0
    assert InferenceResult.STATUS_REJECTED == 1
    assert InferenceResult.STATUS_DROPPED == 2


def test_chosen_configuration_round_trip():
    original = make_configuration()
    copy = deserialize_message(serialize_message(original), ChosenConfiguration)
    assert_configurations_equal(copy, original)
    assert copy == original


def test_chosen_configuration_nan_fields_survive():
    original = ChosenConfiguration(confidence_threshold=math.nan, battery_fraction=math.nan)
    copy = deserialize_message(serialize_message(original), ChosenConfiguration)
    assert math.isnan(copy.confidence_threshold) and math.isnan(copy.battery_fraction)


@pytest.mark.parametrize('status', [InferenceResult.STATUS_ANSWERED,
                                    InferenceResult.STATUS_REJECTED,
                                    InferenceResult.STATUS_DROPPED])
def test_inference_result_round_trip(status):
    original = InferenceResult()
    original.header.stamp.sec = 1700000001
    original.header.frame_id = 'robot'
    original.request_id = 2 ** 40 + 7
    original.input_kind = 'text'
    original.input_text = 'bring me the red cup, s\u2019il te pla\u00eet'
    original.status = status
    original.label = 'bring'
    original.confidence = 0.75
    original.top_labels = ['bring', 'pick', 'find']
    original.top_scores = [0.75, 0.125, 0.0625]
    original.configuration = make_configuration()
    original.latency_ms = 4.5
    original.energy_mj = 81.25
    original.refined = True
    original.reason = 'answered'

    copy = deserialize_message(serialize_message(original), InferenceResult)
    for name in ('header', 'request_id', 'input_kind', 'input_text', 'status', 'label',
                 'confidence', 'latency_ms', 'energy_mj', 'refined', 'reason'):
        assert getattr(copy, name) == getattr(original, name), name
    assert list(copy.top_labels) == list(original.top_labels)
    assert list(copy.top_scores) == pytest.approx(list(original.top_scores))
    assert_configurations_equal(copy.configuration, original.configuration)
    assert copy == original


def test_core_constants_equal_the_ros_ones():
    # core/battery_model.py keeps these values without importing ROS.
    for name in ('UNKNOWN', 'CHARGING', 'DISCHARGING', 'NOT_CHARGING', 'FULL'):
        assert getattr(battery_model, f'POWER_SUPPLY_STATUS_{name}') == \
            getattr(BatteryState, f'POWER_SUPPLY_STATUS_{name}'), name
    for name, value in battery_model.POWER_SUPPLY_TECHNOLOGIES.items():
        assert getattr(BatteryState, f'POWER_SUPPLY_TECHNOLOGY_{name.upper()}') == value, name
    for name in ('OK', 'WARN', 'ERROR'):
        assert bytes([getattr(battery_model, f'DIAGNOSTIC_{name}')]) == \
            getattr(DiagnosticStatus, name), name
