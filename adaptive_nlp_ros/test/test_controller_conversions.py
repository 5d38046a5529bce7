"""nodes/conversions.py for the controller: results, configurations, images, batteries."""

import math

from adaptive_nlp_ros.core.controller import records as controller
from adaptive_nlp_ros.core.controller.battery_tracker import battery_input
from adaptive_nlp_ros.core.controller.command_validation import image_input
from adaptive_nlp_ros.core.controller.records import CommandResult, Configuration
from adaptive_nlp_ros.core.inference.parse import ParsedAction, ParsedArgument
from adaptive_nlp_ros.core.inference.results import InferenceOutcome
from adaptive_nlp_ros.core.offload import understand
from adaptive_nlp_ros.nodes.conversions import (chosen_configuration_message,
                                                inference_result_message, mono8_image_message,
                                                parsed_actions, result_row, understand_reply,
                                                understand_request, understand_request_message,
                                                understand_response)
from adaptive_nlp_ros_msgs.msg import ChosenConfiguration, InferenceResult
from adaptive_nlp_ros_msgs.srv import Understand
from builtin_interfaces.msg import Time
import numpy as np
import pytest
from rclpy.serialization import deserialize_message, serialize_message
from sensor_msgs.msg import BatteryState


def test_status_constants_equal_the_messages():
    assert controller.STATUS_ANSWERED == InferenceResult.STATUS_ANSWERED
    assert controller.STATUS_REJECTED == InferenceResult.STATUS_REJECTED
    assert controller.STATUS_DROPPED == InferenceResult.STATUS_DROPPED


def test_understand_statuses_equal_the_service_and_the_exchange_round_trips():
    for name in ('ANSWERED', 'OVERLOADED', 'REJECTED', 'EXPIRED'):
        expected = getattr(Understand.Response, f'STATUS_{name}')
        assert getattr(understand, f'STATUS_{name}') == expected
    request = understand.UnderstandRequest(3, '/robot1/controller_node', 'go home', 150)
    sent = deserialize_message(serialize_message(understand_request_message(request)),
                               Understand.Request)
    assert understand_request(sent) == request
    action = ParsedAction('bring', 0.9, (ParsedArgument('object', 'the cup', 5, 12, 0.8),
                                         ParsedArgument('person', 'anna', 16, 20, 0.7, True)))
    reply = understand.UnderstandReply(3, understand.STATUS_ANSWERED, 'ok', 'bring', 0.9,
                                       ('bring', 'pick'), (0.9, 0.05), (action,),
                                       '/expert_server', 'full', 'minilm', 6, 6, 4, 3, 12.5)
    message = deserialize_message(serialize_message(
        understand_response(reply, Understand.Response())), Understand.Response)
    back = understand_reply(message)
    assert back.top_scores == pytest.approx(reply.top_scores)
    assert back.actions[0].arguments[1].resolved and back.actions[0].intent == 'bring'
    assert (back.server, back.queue_length, back.batch_size, back.compute_ms) == \
        ('/expert_server', 4, 3, 12.5)
    # the estimate of bytes on the air is at least the CDR body rclpy serialises
    assert reply.wire_bytes() >= len(serialize_message(message))
    assert request.wire_bytes() >= len(serialize_message(sent))


def test_configuration_says_where_it_ran():
    configuration = Configuration('edge_offload', 'minilm', 6, 6, (), executed_on='/edge/x',
                                  round_trip_ms=23.5)
    message = chosen_configuration_message(configuration, Time())
    assert (message.executed_on, message.round_trip_ms) == ('/edge/x', 23.5)
    local = chosen_configuration_message(Configuration('early_exit'), Time())
    assert local.executed_on == 'robot' and math.isnan(local.round_trip_ms)
    assert 'executed_on' in ChosenConfiguration.get_fields_and_field_types()


def test_answered_result_round_trips():
    configuration = Configuration('early_exit', 'minilm', 2, 6, ('int8', 'int8'), 0.9, 0.75,
                                  12.5, False, 'exit after 2')
    outcome = InferenceOutcome('navigate', 0.97, ['navigate', 'find'], [0.97, 0.02],
                               'early_exit', 'minilm', 2, 6, energy_mj=2.5, refined=True)
    result = CommandResult(7, 'text', 'go to the kitchen', controller.STATUS_ANSWERED, '',
                           'exit after 2', configuration, 3.25, stamp=Time(sec=5, nanosec=6),
                           outcome=outcome)
    message = deserialize_message(serialize_message(inference_result_message(result)),
                                  InferenceResult)
    assert (message.header.stamp.sec, message.header.stamp.nanosec) == (5, 6)
    assert (message.request_id, message.input_kind, message.input_text, message.status) == \
        (7, 'text', 'go to the kitchen', InferenceResult.STATUS_ANSWERED)
    assert (message.label, list(message.top_labels), message.refined) == \
        ('navigate', ['navigate', 'find'], True)
    assert message.energy_mj == pytest.approx(2.5) and message.latency_ms == pytest.approx(3.25)
    shown = message.configuration
    assert (shown.strategy, shown.variant, shown.exit_layer, list(shown.segment_precisions)) == \
        ('early_exit', 'minilm', 2, ['int8', 'int8'])
    row = result_row(message, 1.5)
    assert (row.status, row.label, row.precisions, row.time_s) == \
        ('answered', 'navigate', ('int8', 'int8'), 1.5)


def test_actions_round_trip_through_the_message():
    """Every field of every action and argument survives; the row shows the parse."""
    text = 'take the cup and bring it to Anna'
    actions = [ParsedAction('pick', 0.9, (ParsedArgument('object', 'cup', 9, 12, 0.8),)),
               ParsedAction('bring', 0.7, (ParsedArgument('object', 'cup', 23, 25, 0.6, True),
                                           ParsedArgument('person', 'Anna', 29, 33, 0.95)))]
    outcome = InferenceOutcome('pick', 0.9, ['pick'], [0.9], 'full', 'minilm', 6, 6,
                               actions=actions)
    configuration = Configuration('full', 'minilm', 6, 6, ('fp32',), math.nan, 0.5, 9.0,
                                  False, '')
    result = CommandResult(1, 'text', text, controller.STATUS_ANSWERED, '', '', configuration,
                           1.0, outcome=outcome)
    message = deserialize_message(serialize_message(inference_result_message(result)),
                                  InferenceResult)
    decoded = parsed_actions(message.actions)
    assert [(a.intent, [(g.role, g.value, g.start, g.end, g.resolved) for g in a.arguments])
            for a in decoded] == [
        ('pick', [('object', 'cup', 9, 12, False)]),
        ('bring', [('object', 'cup', 23, 25, True), ('person', 'Anna', 29, 33, False)])]
    assert [a.confidence for a in decoded] == pytest.approx([0.9, 0.7])
    assert [g.confidence for g in decoded[1].arguments] == pytest.approx([0.6, 0.95])
    assert list(result_row(message, 0.0).actions) == list(decoded)


def test_rejected_result_has_no_answer_and_nan_survives():
    result = CommandResult(1, 'image', '', controller.STATUS_REJECTED, 'image_empty',
                           'empty image', Configuration('early_exit'), 0.1)
    message = inference_result_message(result)
    assert message.label == '' and message.energy_mj == 0.0 and message.reason == 'empty image'
    assert math.isnan(message.configuration.battery_fraction)
    configuration = chosen_configuration_message(Configuration('x', exit_layer=300), Time())
    assert configuration.exit_layer == 255


def test_images_both_ways():
    pixels = np.arange(12, dtype=np.uint8).reshape(3, 4)
    message = mono8_image_message(pixels, Time(), 'camera')
    image = image_input(message)
    assert (image.encoding, image.height, image.width, image.step, image.frame_id) == \
        ('mono8', 3, 4, 4, 'camera')
    assert image.data == pixels.tobytes()


def test_battery_input_capacity_and_charging():
    message = BatteryState(percentage=0.5, present=True, voltage=24.0, capacity=2.0,
                           power_supply_status=BatteryState.POWER_SUPPLY_STATUS_FULL)
    message.header.stamp = Time(sec=3, nanosec=500000000)
    battery = battery_input(message)
    assert battery.capacity_wh == pytest.approx(48.0) and battery.charging
    assert battery.stamp_s == pytest.approx(3.5)
    assert battery_input(BatteryState(percentage=0.5, capacity=float('nan'))).capacity_wh is None
