"""Conversions between core objects and ROS messages: the one place that knows both sides."""

from typing import Mapping, Sequence, Tuple

from adaptive_nlp_ros.core.battery.battery_model import (BatteryAssessment, BatterySnapshot,
                                                         POWER_SUPPLY_TECHNOLOGIES)
from adaptive_nlp_ros.core.controller.records import CommandResult, Configuration, STATUS_NAMES
from adaptive_nlp_ros.core.evaluation.demo_report import ResultRow
from adaptive_nlp_ros.core.inference.parse import ParsedAction, ParsedArgument
from adaptive_nlp_ros.core.offload.understand import UnderstandReply, UnderstandRequest
from adaptive_nlp_ros_msgs.msg import Action, Argument, ChosenConfiguration, InferenceResult
from adaptive_nlp_ros_msgs.srv import Understand
from builtin_interfaces.msg import Time
from diagnostic_msgs.msg import DiagnosticStatus, KeyValue
import numpy as np
from sensor_msgs.msg import BatteryState, Image


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
    return diagnostic_status(name, assessment.level, assessment.message, values, hardware_id)


def diagnostic_status(name: str, level: int, message: str, values: Mapping[str, object],
                      hardware_id: str = '') -> DiagnosticStatus:
    """Return a ``diagnostic_msgs/DiagnosticStatus`` of a level (0 OK, 1 WARN, 2 ERROR)."""
    status = DiagnosticStatus()
    status.level = bytes([level])
    status.name = name
    status.message = message
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


# -- controller ------------------------------------------------------------------------------

def stamp_seconds(stamp: Time) -> float:
    """Return a ``builtin_interfaces/Time`` in seconds."""
    return stamp.sec + stamp.nanosec * 1e-9


def mono8_image_message(pixels: np.ndarray, stamp: Time, frame_id: str = '') -> Image:
    """Return a ``sensor_msgs/Image`` (mono8) of a 2-D uint8 array."""
    array = np.ascontiguousarray(pixels, dtype=np.uint8)
    message = Image()
    message.header.stamp = stamp
    message.header.frame_id = frame_id
    message.height, message.width = (int(size) for size in array.shape)
    message.encoding = 'mono8'
    message.is_bigendian = 0
    message.step = int(array.shape[1])
    message.data = array.tobytes()
    return message


def chosen_configuration_message(configuration: Configuration, stamp: Time,
                                 frame_id: str = '') -> ChosenConfiguration:
    """Return the ``ChosenConfiguration`` of a core configuration."""
    message = ChosenConfiguration()
    message.header.stamp = stamp
    message.header.frame_id = frame_id
    message.strategy = configuration.strategy
    message.variant = configuration.variant
    message.exit_layer = max(0, min(255, int(configuration.exit_layer)))
    message.num_layers = max(0, min(255, int(configuration.num_layers)))
    message.segment_precisions = list(configuration.segment_precisions)
    message.confidence_threshold = float(configuration.confidence_threshold)
    message.battery_fraction = float(configuration.battery_fraction)
    message.energy_budget_mj = float(configuration.energy_budget_mj)
    message.battery_stale = bool(configuration.battery_stale)
    message.reason = configuration.reason
    message.executed_on = configuration.executed_on
    message.round_trip_ms = float(configuration.round_trip_ms)
    return message


def action_message(action: ParsedAction) -> Action:
    """Return the ``Action`` message of a parsed action (offsets clamped to uint32)."""
    message = Action()
    message.intent = action.intent
    message.confidence = float(action.confidence)
    message.arguments = [Argument(role=argument.role, value=argument.value,
                                  start=max(0, int(argument.start)),
                                  end=max(0, int(argument.end)),
                                  confidence=float(argument.confidence),
                                  resolved=bool(argument.resolved))
                         for argument in action.arguments]
    return message


def inference_result_message(result: CommandResult) -> InferenceResult:
    """Return the ``InferenceResult`` of a core result; the stamp is its receive stamp."""
    message = InferenceResult()
    if result.stamp is not None:
        message.header.stamp = result.stamp
    message.header.frame_id = result.frame_id
    message.request_id = int(result.request_id)
    message.input_kind = result.input_kind
    message.input_text = result.input_text
    message.status = int(result.status)
    message.configuration = chosen_configuration_message(
        result.configuration, message.header.stamp, result.frame_id)
    outcome = result.outcome
    if outcome is not None:
        message.label = outcome.label
        message.confidence = float(outcome.confidence)
        message.top_labels = list(outcome.top_labels)
        message.top_scores = [float(score) for score in outcome.top_scores]
        message.energy_mj = float(outcome.energy_mj)
        message.refined = bool(outcome.refined)
        message.actions = [action_message(action) for action in outcome.actions]
    message.latency_ms = float(result.latency_ms)
    message.reason = result.reason
    return message


def result_row(message: InferenceResult, time_s: float) -> ResultRow:
    """Return the demo's record of an ``InferenceResult`` received at ``time_s``."""
    configuration = message.configuration
    return ResultRow(
        time_s=time_s, request_id=int(message.request_id), kind=message.input_kind,
        text=message.input_text, status=STATUS_NAMES.get(message.status, str(message.status)),
        label=message.label, confidence=float(message.confidence),
        strategy=configuration.strategy, variant=configuration.variant,
        exit_layer=int(configuration.exit_layer), num_layers=int(configuration.num_layers),
        precisions=tuple(configuration.segment_precisions),
        threshold=float(configuration.confidence_threshold),
        battery_fraction=float(configuration.battery_fraction),
        battery_stale=bool(configuration.battery_stale), latency_ms=float(message.latency_ms),
        energy_mj=float(message.energy_mj), refined=bool(message.refined),
        reason=message.reason, actions=parsed_actions(message.actions))


def parsed_actions(messages: Sequence[Action]) -> Tuple[ParsedAction, ...]:
    """Return the core actions of ``Action`` messages (the inverse of ``action_message``)."""
    return tuple(ParsedAction(message.intent, float(message.confidence), tuple(
        ParsedArgument(argument.role, argument.value, int(argument.start), int(argument.end),
                       float(argument.confidence), bool(argument.resolved))
        for argument in message.arguments)) for message in messages)


# -- the expert server's Understand service -------------------------------------------------

def understand_request_message(request: UnderstandRequest) -> Understand.Request:
    """Return the ``Understand`` request of a core request."""
    return Understand.Request(request_id=int(request.request_id), robot_id=request.robot_id,
                              text=request.text,
                              deadline_ms=max(0, min(2 ** 32 - 1, int(request.deadline_ms))))


def understand_request(message: Understand.Request) -> UnderstandRequest:
    """Return the core request of an ``Understand`` request."""
    return UnderstandRequest(int(message.request_id), message.robot_id, message.text,
                             int(message.deadline_ms))


def understand_response(reply: UnderstandReply,
                        response: Understand.Response) -> Understand.Response:
    """Fill an ``Understand`` response from a core reply; return it."""
    response.status = int(reply.status)
    response.reason = reply.reason
    response.request_id = int(reply.request_id)
    response.label = reply.label
    response.confidence = float(reply.confidence)
    response.top_labels = list(reply.top_labels)
    response.top_scores = [float(score) for score in reply.top_scores]
    response.actions = [action_message(action) for action in reply.actions]
    response.server = reply.server
    response.strategy = reply.strategy
    response.variant = reply.variant
    response.exit_layer = max(0, min(255, int(reply.exit_layer)))
    response.num_layers = max(0, min(255, int(reply.num_layers)))
    response.queue_length = max(0, min(2 ** 32 - 1, int(reply.queue_length)))
    response.batch_size = max(0, min(2 ** 16 - 1, int(reply.batch_size)))
    response.compute_ms = float(reply.compute_ms)
    return response


def understand_reply(message: Understand.Response) -> UnderstandReply:
    """Return the core reply of an ``Understand`` response."""
    return UnderstandReply(
        request_id=int(message.request_id), status=int(message.status), reason=message.reason,
        label=message.label, confidence=float(message.confidence),
        top_labels=tuple(message.top_labels),
        top_scores=tuple(float(score) for score in message.top_scores),
        actions=parsed_actions(message.actions), server=message.server,
        strategy=message.strategy, variant=message.variant,
        exit_layer=int(message.exit_layer), num_layers=int(message.num_layers),
        queue_length=int(message.queue_length), batch_size=int(message.batch_size),
        compute_ms=float(message.compute_ms))
