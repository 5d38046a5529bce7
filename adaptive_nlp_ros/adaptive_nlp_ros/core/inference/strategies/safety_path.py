"""
The path every possible ``stop`` takes, whatever strategy is in force: no early exit.

Every layer runs in a fast mode that agrees with fp32 on nearly all of dev (ONNX Runtime
int8 here). If that pass answers the safety label, done. If it answers something else but
still gives the safety label at least the stop check's probability threshold, the whole pass
is re-run in an fp32 mode (the reference's numbers up to rounding) and that answer stands.
So a stop that the fp32 reference would catch is caught, at the cost of an int8 pass for the
flagged commands that are not stops. Not registered as a user strategy: the engine applies it.

The stop gate (``SafetyGate``, when the engine has one): the path first runs only the gate's
layers (1) in the fast mode, and the loop (``segment_loop.InputRun.decide``) reads that
exit's stop plausibility, the larger of the sentence head's stop probability, the joint's
and the highest stop intent of any word piece (a stop anywhere in the command shows there).
Below the gate threshold the command is cleared: it continues under the requested strategy
from the layers already run, with the escalation of any unflagged command still guarding
its answer. At or above it the path goes on as above. The threshold is half the lowest
score of any dev command holding a stop (``engine.fit_safety_gate``). Measured with
``bench/measure_safety_gate.py`` (one layer): every stop of dev, the held-out family and
the hand-written set kept; flagged held-out non-stops sent to full depth 25% -> 20%.
"""

from dataclasses import dataclass
import math
from typing import Optional

from .base import Strategy
from ..decisions import Action, Answer, DecisionState, Rerun, RunLayers
from ..strategy_context import StrategyContext


@dataclass(frozen=True)
class SafetyGate:
    """Second look at a flagged command: its first ``layers`` decide if it stays flagged."""

    layers: int             # layers run in the fast mode before the gate reads the exit
    threshold: float        # stop plausibility (0..1) below which the command is cleared

    def clears(self, stop_plausibility: float) -> bool:
        """Return True when the exit rules a stop out (an unknown plausibility never does)."""
        return not math.isnan(stop_plausibility) and stop_plausibility < self.threshold


class SafetyPath(Strategy):
    """
    Full depth in a fast mode; an exact fp32 re-run while the safety label is plausible.

    It also takes over a run part-way (``segment_loop.InputRun.escalate``): the layers not yet
    run follow in the fast mode, then the same re-run rule. With a ``gate``, a fresh run
    starts with the gate's layers only, for the loop to read (see the module).
    """

    name = 'safety_path'

    def __init__(self, context: StrategyContext, fast_mode: str, exact_mode: str,
                 safety_label: str, threshold: float, gate: Optional[SafetyGate] = None):
        super().__init__(context)
        self.fast_mode = fast_mode
        self.exact_mode = exact_mode
        self.safety_label = safety_label
        self.threshold = threshold
        self.gate = gate if gate is not None and gate.layers < context.num_layers else None
        self.fast_pass = (RunLayers(self.gate.layers, fast_mode,
                                    f'layers 1-{self.gate.layers} in {fast_mode}: stop gate')
                          if self.gate is not None else
                          RunLayers(context.num_layers, fast_mode,
                                    f'every layer in {fast_mode}'))       # made once

    def decide(self, state: DecisionState) -> Action:
        """Run every layer fast; re-run them exactly while the safety label stays plausible."""
        progress = state.progress
        layers = self.context.num_layers
        if progress.layers_done == 0:
            return self.fast_pass
        if progress.layers_done < layers:
            return RunLayers(layers - progress.layers_done, self.fast_mode,
                             f'layers {progress.layers_done + 1}-{layers} in {self.fast_mode}')
        if (progress.refinements == 0 and self.fast_mode != self.exact_mode
                and progress.label != self.safety_label
                and not math.isnan(progress.safety_probability)
                and progress.safety_probability >= self.threshold):
            return Rerun(1, layers, self.exact_mode,
                         f'{self.safety_label} still plausible '
                         f'(p={progress.safety_probability:.3f}): re-run in {self.exact_mode}')
        return Answer(f'{progress.label} at full depth')
