"""
The path every possible ``stop`` takes, whatever strategy is in force: no early exit.

Every layer runs in a fast mode that agrees with fp32 on nearly all of dev (ONNX Runtime
int8 here). If that pass answers the safety label, done. If it answers something else but
still gives the safety label at least the stop check's probability threshold, the whole pass
is re-run in an fp32 mode (the reference's numbers up to rounding) and that answer stands.
So a stop that the fp32 reference would catch is caught, at the cost of an int8 pass for the
flagged commands that are not stops. Not registered as a user strategy: the engine applies it.
"""

import math

from .base import Strategy
from ..decisions import Action, Answer, DecisionState, Rerun, RunLayers
from ..strategy_context import StrategyContext


class SafetyPath(Strategy):
    """
    Full depth in a fast mode; an exact fp32 re-run while the safety label is plausible.

    It also takes over a run part-way (``segment_loop.InputRun.escalate``): the layers not yet
    run follow in the fast mode, then the same re-run rule.
    """

    name = 'safety_path'

    def __init__(self, context: StrategyContext, fast_mode: str, exact_mode: str,
                 safety_label: str, threshold: float):
        super().__init__(context)
        self.fast_mode = fast_mode
        self.exact_mode = exact_mode
        self.safety_label = safety_label
        self.threshold = threshold
        self.fast_pass = RunLayers(context.num_layers, fast_mode,
                                   f'every layer in {fast_mode}')       # made once

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
