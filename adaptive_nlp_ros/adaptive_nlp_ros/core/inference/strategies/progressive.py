"""
``progressive``: a cheap pass first, then targeted re-runs at higher fidelity.

A cheap pass first; if it is unconfident and the budget allows, re-run the
critical part at higher fidelity, reusing the cached hidden states of what it does not redo.

The cheap pass runs every layer in the cheapest mode. The critical part is the last segment
(``segment_layers`` layers): it is re-run in the most faithful affordable mode from the
cached hidden state before it. If still unconfident, the refinement grows backwards by one
segment at a time, up to ``max_refinements`` times. Every re-run is a ``Rerun`` action, so
the result records exactly which layers ran twice.
"""

from .base import Strategy
from ..decisions import Action, Answer, DecisionState, Rerun, ResourceState, RunLayers
from ..strategy_context import StrategyContext


class Progressive(Strategy):
    """Cheap full-depth pass, then targeted re-runs at higher fidelity."""

    name = 'progressive'
    defaults = {'segment_layers': 2, 'max_refinements': 2, 'threshold_at_full': 0.95,
                'threshold_at_empty': 0.7}

    def __init__(self, context: StrategyContext, settings=()):
        super().__init__(context, settings)
        self.segment_layers = self.segment_size()
        modes = context.efficient_modes()           # most faithful first
        self.cheap = modes[-1]
        # Only a more faithful mode can refine (none for images: one mode).
        self.refiners = [mode for mode in modes if mode.fidelity > self.cheap.fidelity]
        self.cheap_pass = RunLayers(context.num_layers, self.cheap.mode,
                                    f'cheap pass: {self.cheap.mode}')   # made once

    def confidence_threshold(self, resources: ResourceState) -> float:
        """Below this confidence the cheap answer gets refined."""
        return self.scheduled_threshold(resources)

    def decide(self, state: DecisionState) -> Action:
        """Cheap pass, then refine backwards from the last segment while it pays."""
        progress = state.progress
        num_layers = self.context.num_layers
        if progress.layers_done == 0:
            return self.cheap_pass
        threshold = self.scheduled_threshold(state.resources)
        if progress.whole_confidence >= threshold:
            return Answer(('refined ' if progress.refinements else 'cheap pass ')
                          + f'confident: {progress.whole_confidence:.2f} >= {threshold:.2f}')
        if not self.refiners:
            return Answer(f'{progress.whole_confidence:.2f} < {threshold:.2f}, but no mode is '
                          f'more faithful than {self.cheap.mode}')
        if progress.refinements >= self.settings['max_refinements']:
            return Answer(f'still {progress.whole_confidence:.2f} < {threshold:.2f} after '
                          f'{progress.refinements} refinement(s)')
        count = min(num_layers, self.segment_layers * (progress.refinements + 1))
        first = num_layers - count + 1
        tokens = state.command.tokens
        head = self.context.head_energy.mj(tokens)
        for option in self.refiners:
            cost = option.energy_mj(first, count, tokens) + head
            if cost <= state.remaining_budget_mj:
                return Rerun(first, count, option.mode,
                             f'{progress.whole_confidence:.2f} < {threshold:.2f}: re-run '
                             f'L{first}-{num_layers} in {option.mode} ({cost:.2f} mJ)')
        left = state.remaining_budget_mj
        return Answer(f'{progress.whole_confidence:.2f} < {threshold:.2f} but no refinement fits '
                      + (f'the {left:.2f} mJ left' if left > 0 else
                         f'(the cheap pass spent {-left:.2f} mJ over the budget)'))
