"""
The path every possible ``stop`` takes, whatever strategy is in force: no early exit.

Every layer runs in a fast mode that agrees with fp32 on nearly all of dev (ONNX Runtime
int8 here). If that pass answers the safety label, done. If it answers something else but
still gives the safety label at least the stop check's probability threshold, the whole pass
is re-run in an fp32 mode (the reference's numbers up to rounding) and that answer stands.
So a stop that the fp32 reference would catch is caught, at the cost of an int8 pass for the
flagged commands that are not stops. Not registered as a user strategy: the engine applies it.

The receipt's check is cheap and flags many commands that are not stops. With a release
rule (``SafetyRelease``, fitted on dev when the model is trained), the fast pass stops after
the rule's layer and reads that exit: a command whose exit finds stop implausible both as
its first action and as any action is handed back to the strategy asked for (the segment
loop does that, and keeps the run able to come back here: ``InputRun.escalate``).
"""

from dataclasses import dataclass
import math
from typing import Any, Dict, Optional

from .base import Strategy
from ..decisions import Action, Answer, DecisionState, Progress, Rerun, RunLayers
from ..strategy_context import StrategyContext


@dataclass(frozen=True)
class SafetyRelease:
    """
    When a command flagged at receipt may leave the safety path: a second, deeper stop check.

    At exit ``layer`` (in the path's fast mode) the command goes back to its strategy when
    the exit gives the safety label less than ``label_probability`` as the first action
    (sentence and joint heads, ``Progress.safety_probability``) and less than
    ``action_probability`` as any action (the token intent head's largest piece,
    ``Progress.action_safety_probability``). Both thresholds are half the lowest score the
    dev commands holding a stop got (``training.safety_release``).
    """

    layer: int
    label_probability: float
    action_probability: float

    def releases(self, progress: Progress, safety_label: str) -> bool:
        """Return True when this exit finds the safety label implausible (NaN: never)."""
        return (progress.layers_done == self.layer and progress.label != safety_label
                and progress.safety_probability < self.label_probability
                and progress.action_safety_probability < self.action_probability)

    def to_table(self) -> Dict[str, Any]:
        """Return the rule as saved in the pool table."""
        return {'layer': self.layer, 'label_probability': self.label_probability,
                'action_probability': self.action_probability}

    @classmethod
    def from_table(cls, table: Optional[Dict[str, Any]]) -> Optional['SafetyRelease']:
        """Read a saved rule; None (no release) when absent, as in models trained before."""
        if not table:
            return None
        return cls(int(table['layer']), float(table['label_probability']),
                   float(table['action_probability']))


class SafetyPath(Strategy):
    """
    Full depth in a fast mode; an exact fp32 re-run while the safety label is plausible.

    It also takes over a run part-way (``segment_loop.InputRun.escalate``): the layers not yet
    run follow in the fast mode, then the same re-run rule.
    """

    name = 'safety_path'

    def __init__(self, context: StrategyContext, fast_mode: str, exact_mode: str,
                 safety_label: str, threshold: float,
                 release: Optional[SafetyRelease] = None):
        super().__init__(context)
        self.fast_mode = fast_mode
        self.exact_mode = exact_mode
        self.safety_label = safety_label
        self.threshold = threshold
        layers = context.num_layers
        self.release = release if release is not None and 0 < release.layer < layers else None
        if self.release is None:
            self.fast_pass = RunLayers(layers, fast_mode, f'every layer in {fast_mode}')
        else:
            self.fast_pass = RunLayers(self.release.layer, fast_mode,
                                       f'layers 1-{self.release.layer} in {fast_mode}, '
                                       'then the release check')      # made once

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

    def release_reason(self, progress: Progress) -> Optional[str]:
        """Return why a flagged command may go back to its strategy now, or None."""
        rule = self.release
        if rule is None or not rule.releases(progress, self.safety_label):
            return None
        return (f'{self.safety_label} implausible after layer {rule.layer} (first action '
                f'p={progress.safety_probability:.3f} < {rule.label_probability:.3f}, any '
                f'action p={progress.action_safety_probability:.3f} < '
                f'{rule.action_probability:.3f}): released from the safety path')
