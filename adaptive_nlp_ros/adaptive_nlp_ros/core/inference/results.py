"""
Result objects shared by every strategy, the nodes, the command line and evaluation.

One shape for text and images, so the controller converts a single type to
``adaptive_nlp_ros_msgs/InferenceResult`` and evaluation scores every strategy the same way.
"""

from dataclasses import dataclass, field
import math
from typing import List, Tuple

from .parse import ParsedAction

PRECISIONS = ('fp32', 'bf16', 'int8', 'int4')
BACKENDS = ('torch', 'onnxruntime', 'numpy')


@dataclass(frozen=True)
class SegmentRecord:
    """One segment that actually ran: which layers, at which precision, on which backend."""

    layers: Tuple[int, ...]          # 1-based layer numbers; () for non-layered variants
    precision: str                   # fp32 | bf16 | int8 | int4
    backend: str                     # torch | onnxruntime | numpy (the TF-IDF model)
    energy_mj: float                 # profiled estimate for this segment at this precision
    refined: bool = False            # re-run at higher fidelity by progressive refinement


@dataclass
class InferenceOutcome:
    """What was decided for one input, what ran, and what came out."""

    label: str
    confidence: float                # calibrated probability of ``label``, 0..1
    top_labels: List[str]
    top_scores: List[float]
    strategy: str
    variant: str
    exit_layer: int                  # layers run; 0 where the variant has no layers
    num_layers: int
    segments: List[SegmentRecord] = field(default_factory=list)
    confidence_threshold: float = math.nan
    battery_fraction: float = math.nan
    energy_budget_mj: float = math.inf
    battery_stale: bool = False
    refined: bool = False
    latency_ms: float = 0.0          # receipt (tokenization included) to result
    energy_mj: float = 0.0           # estimate: profiled cost of the segments that ran
    decision_ms: float = 0.0         # in the strategies' decide calls only (InputRun.decide)
    input_kind: str = 'text'
    reason: str = ''
    actions: List[ParsedAction] = field(default_factory=list)   # text only: what it means

    @property
    def segment_precisions(self) -> List[str]:
        """Precision of each segment that ran, in execution order."""
        return [segment.precision for segment in self.segments]
