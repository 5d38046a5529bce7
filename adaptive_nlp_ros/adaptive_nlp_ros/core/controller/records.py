"""
What the controller says about each command: its receipt, its one result, the configuration.

The status values equal ``adaptive_nlp_ros_msgs/InferenceResult``'s ``STATUS_*`` constants
(a test checks); ``nodes/conversions.py`` turns these objects into messages.
"""

from dataclasses import dataclass
import math
from typing import Any, Optional, Tuple

import numpy as np

from ..inference.results import InferenceOutcome
from ..offload.understand import EXECUTED_ON_ROBOT

# The values of adaptive_nlp_ros_msgs/InferenceResult's STATUS_* constants (a test checks).
STATUS_ANSWERED = 0
STATUS_REJECTED = 1
STATUS_DROPPED = 2
STATUS_NAMES = {STATUS_ANSWERED: 'answered', STATUS_REJECTED: 'rejected',
                STATUS_DROPPED: 'dropped'}

DROP_QUEUE_FULL = 'queue_full'
DROP_SHUTDOWN = 'shutdown'
DROP_CODES = (DROP_QUEUE_FULL, DROP_SHUTDOWN)

KIND_TEXT = 'text'
KIND_IMAGE = 'image'
# Results before actions echoed only this many characters (bag replay still matches them).
LEGACY_INPUT_TEXT_CHARS = 200

INACTIVE_REASON = ('inactive: the controller is not active (lifecycle state inactive); it answers '
                   'commands once activated')

DIAGNOSTIC_OK = 0
DIAGNOSTIC_WARN = 1
DIAGNOSTIC_ERROR = 2


@dataclass(frozen=True)
class Configuration:
    """What was decided for a command (mirrors ``ChosenConfiguration``)."""

    strategy: str
    variant: str = ''
    exit_layer: int = 0
    num_layers: int = 0
    segment_precisions: Tuple[str, ...] = ()
    confidence_threshold: float = math.nan
    battery_fraction: float = math.nan
    energy_budget_mj: float = math.nan
    battery_stale: bool = False
    reason: str = ''
    executed_on: str = EXECUTED_ON_ROBOT
    round_trip_ms: float = math.nan

    def discrete_key(self) -> Tuple:
        """Return the fields whose change is published on ``chosen_configuration``."""
        return (self.strategy, self.variant, self.exit_layer, self.num_layers,
                self.segment_precisions, self.battery_stale, self.executed_on)

    @classmethod
    def from_outcome(cls, outcome: InferenceOutcome, reason: str,
                     executed_on: str = EXECUTED_ON_ROBOT,
                     round_trip_ms: float = math.nan) -> 'Configuration':
        """Return the configuration an inference actually used (and where it ran)."""
        return cls(strategy=outcome.strategy, variant=outcome.variant,
                   exit_layer=int(outcome.exit_layer), num_layers=int(outcome.num_layers),
                   segment_precisions=tuple(outcome.segment_precisions),
                   confidence_threshold=float(outcome.confidence_threshold),
                   battery_fraction=float(outcome.battery_fraction),
                   energy_budget_mj=float(outcome.energy_budget_mj),
                   battery_stale=bool(outcome.battery_stale), reason=reason,
                   executed_on=executed_on, round_trip_ms=float(round_trip_ms))


@dataclass
class Command:
    """One received command, from receipt to its result."""

    request_id: int
    kind: str                            # KIND_TEXT or KIND_IMAGE
    text: str                            # '' for images
    received_s: float                    # controller clock (monotonic) at receipt
    stamp: Any = None                    # the node's receive stamp, passed back untouched
    frame_id: str = ''
    pixels: Optional[np.ndarray] = None  # images: height x width uint8
    priority: bool = False               # judged possibly stop at receipt
    stop_score: float = 0.0              # the cheap check's probability of stop
    stale_age_s: Optional[float] = None  # set when received too old but kept as a possible stop


@dataclass(frozen=True)
class CommandResult:
    """The one result of one command (converted to ``InferenceResult`` by the node)."""

    request_id: int
    input_kind: str
    input_text: str                      # the command (up to max_text_chars); '' for images
    status: int                          # STATUS_*
    code: str                            # rejection / drop code; '' when answered
    reason: str
    configuration: Configuration
    latency_ms: float                    # receipt to publication
    stamp: Any = None
    frame_id: str = ''
    outcome: Optional[InferenceOutcome] = None
    priority: bool = False

    @property
    def label(self) -> str:
        """Return the label answered; empty unless answered."""
        return self.outcome.label if self.outcome is not None else ''

    @property
    def energy_mj(self) -> float:
        """Return the estimated energy of the inference (0 when nothing ran)."""
        return float(self.outcome.energy_mj) if self.outcome is not None else 0.0
