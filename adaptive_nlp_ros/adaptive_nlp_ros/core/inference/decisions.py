"""
What a strategy sees when it decides, and the actions it can return.

The engine's segment loop asks the strategy for an action, carries it out, and asks again
with the progress so far, until the strategy answers. Coarse strategies return one
``RunVariant``; medium and fine ones return ``RunLayers`` per segment (and ``Rerun`` for
progressive refinement) and ``Answer`` when they are done.
"""

from dataclasses import dataclass, field, replace
import math
from typing import Tuple, Union

from .results import SegmentRecord


@dataclass(frozen=True)
class ResourceState:
    """The robot's resources at decision time."""

    battery_fraction: float = math.nan   # 0..1, NaN if unknown
    battery_stale: bool = False
    charging: bool = False
    budget_mj: float = math.inf          # energy this command may spend


@dataclass(frozen=True)
class InputSummary:
    """What is known about an input before the backbone runs (cheap to compute)."""

    kind: str = 'text'
    tokens: int = 16
    complexity: float = 0.5              # 0 (trivial) .. 1 (hard), see input_complexity
    cheap_label: str = ''                # the TF-IDF model's guess
    cheap_confidence: float = math.nan   # its calibrated probability
    possible_safety_label: bool = False  # may be a command that must not be missed (stop)
    gate_features: Tuple[float, ...] = ()  # complexity signals + TF-IDF class probabilities


@dataclass(frozen=True)
class Progress:
    """What has run so far for this input."""

    layers_done: int = 0
    confidence: float = math.nan         # calibrated confidence of the latest exit
    label: str = ''
    energy_spent_mj: float = 0.0
    segments: Tuple[SegmentRecord, ...] = field(default_factory=tuple)
    refinements: int = 0
    safety_probability: float = math.nan  # latest exit's probability of the safety label
    parse_confidence: float = math.nan   # latest exit's parse: its weakest part (NaN: none)
    # latest exit's probability of the safety label as any action (token heads; NaN: none)
    action_safety_probability: float = math.nan

    def after(self, segment: SegmentRecord, layers_done: int, label: str, confidence: float,
              extra_energy_mj: float = 0.0, safety_probability: float = math.nan,
              parse_confidence: float = math.nan,
              action_safety_probability: float = math.nan) -> 'Progress':
        """Progress once ``segment`` has run and its exit head answered."""
        return replace(self, layers_done=layers_done, label=label, confidence=confidence,
                       energy_spent_mj=self.energy_spent_mj + segment.energy_mj
                       + extra_energy_mj,
                       segments=self.segments + (segment,),
                       refinements=self.refinements + int(segment.refined),
                       safety_probability=safety_probability,
                       parse_confidence=parse_confidence,
                       action_safety_probability=action_safety_probability)

    @property
    def whole_confidence(self) -> float:
        """
        Return how sure the whole answer is: the label's confidence, or the parse's if lower.

        What a confidence exit compares with its threshold: a command leaves early only
        when its label and every action and span of its parse are sure enough.
        """
        if math.isnan(self.parse_confidence):
            return self.confidence
        return min(self.confidence, self.parse_confidence)


@dataclass(frozen=True)
class DecisionState:
    """Everything a strategy's decision method may look at."""

    resources: ResourceState
    command: InputSummary
    progress: Progress = field(default_factory=Progress)

    @property
    def remaining_budget_mj(self) -> float:
        """Budget left for this command."""
        return self.resources.budget_mj - self.progress.energy_spent_mj


@dataclass(frozen=True)
class RunVariant:
    """Run one whole pool variant and answer with it."""

    variant_id: str
    reason: str


@dataclass(frozen=True)
class RunLayers:
    """Run the next ``count`` layers in ``mode``, then ask again."""

    count: int
    mode: str
    reason: str


@dataclass(frozen=True)
class Rerun:
    """Re-run ``count`` layers from ``first_layer`` in ``mode`` on the cached hidden state."""

    first_layer: int
    count: int
    mode: str
    reason: str


@dataclass(frozen=True)
class Answer:
    """Stop and answer with the latest exit."""

    reason: str


Action = Union[RunVariant, RunLayers, Rerun, Answer]
