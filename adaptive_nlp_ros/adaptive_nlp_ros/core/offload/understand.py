"""
The ``Understand`` exchange without ROS: what a robot asks an expert server and what comes back.

The status values equal ``adaptive_nlp_ros_msgs/srv/Understand`` response's ``STATUS_*``
constants (a test checks); ``nodes/conversions.py`` turns these objects into messages. The
payload sizes are estimates of the bytes on the air (CDR body plus RTPS / UDP / IP headers),
for the radio's energy model: the robot cannot see its own packets.
"""

from dataclasses import dataclass
import math
from typing import Tuple

from ..inference.parse import ParsedAction
from ..inference.results import InferenceOutcome

EXECUTED_ON_ROBOT = 'robot'             # ChosenConfiguration.executed_on of a local answer

STATUS_ANSWERED = 0
STATUS_OVERLOADED = 1
STATUS_REJECTED = 2
STATUS_EXPIRED = 3
STATUS_NAMES = {STATUS_ANSWERED: 'answered', STATUS_OVERLOADED: 'overloaded',
                STATUS_REJECTED: 'rejected', STATUS_EXPIRED: 'expired'}

# IPv4 (20) + UDP (8) + RTPS header (20) + INFO_TS (12) + DATA submessage header (24), plus the
# reliable protocol's HEARTBEAT / ACKNACK of each sample (about 60 more): per message, each way.
MESSAGE_OVERHEAD_BYTES = 144


@dataclass(frozen=True)
class UnderstandRequest:
    """One command a robot asks the server to understand."""

    request_id: int
    robot_id: str
    text: str
    deadline_ms: int

    def wire_bytes(self) -> int:
        """Return the estimated bytes this request puts on the air."""
        return (MESSAGE_OVERHEAD_BYTES + 4 + 8 + _string_bytes(self.robot_id)
                + _string_bytes(self.text) + 4)


@dataclass(frozen=True)
class UnderstandReply:
    """The server's answer: the parse, or why there is none, and how loaded the server is."""

    request_id: int
    status: int
    reason: str = ''
    label: str = ''
    confidence: float = math.nan
    top_labels: Tuple[str, ...] = ()
    top_scores: Tuple[float, ...] = ()
    actions: Tuple[ParsedAction, ...] = ()
    server: str = ''
    strategy: str = ''
    variant: str = ''
    exit_layer: int = 0
    num_layers: int = 0
    queue_length: int = 0
    batch_size: int = 0
    compute_ms: float = 0.0

    @property
    def answered(self) -> bool:
        """Return True when the reply carries a parse."""
        return self.status == STATUS_ANSWERED

    @classmethod
    def from_outcome(cls, request_id: int, outcome: InferenceOutcome, server: str,
                     queue_length: int, batch_size: int, compute_ms: float,
                     strategy: str) -> 'UnderstandReply':
        """Return the ANSWERED reply of one of a batch's outcomes."""
        return cls(request_id=request_id, status=STATUS_ANSWERED, reason=outcome.reason,
                   label=outcome.label, confidence=float(outcome.confidence),
                   top_labels=tuple(outcome.top_labels),
                   top_scores=tuple(float(score) for score in outcome.top_scores),
                   actions=tuple(outcome.actions), server=server, strategy=strategy,
                   variant=outcome.variant, exit_layer=int(outcome.exit_layer),
                   num_layers=int(outcome.num_layers), queue_length=queue_length,
                   batch_size=batch_size, compute_ms=compute_ms)

    def wire_bytes(self) -> int:
        """Return the estimated bytes this reply puts on the air."""
        size = MESSAGE_OVERHEAD_BYTES + 1 + 8 + 4 + 2 + 4 + 4
        for text in (self.reason, self.label, self.server, self.strategy, self.variant):
            size += _string_bytes(text)
        size += 4 + sum(_string_bytes(label) for label in self.top_labels)
        size += 4 + 4 * len(self.top_scores) + 4
        for action in self.actions:
            size += _string_bytes(action.intent) + 4 + 4
            for argument in action.arguments:
                size += (_string_bytes(argument.role) + _string_bytes(argument.value)
                         + 4 + 4 + 4 + 1)
        return size


def _string_bytes(text: str) -> int:
    """Return a CDR string's size: length, UTF-8 bytes, NUL, aligned to 4."""
    raw = 4 + len(text.encode('utf-8')) + 1
    return raw + (-raw) % 4
