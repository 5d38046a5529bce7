"""
``segment_precision``: a precision per segment, chosen from the live budget.

Before each segment, pick its precision (and backend) from the budget
left for this input, counting what it has already spent.

The layers are split into segments (``segment_layers`` each; default 3 segments of 2). The
policy is greedy with look-ahead: the most faithful mode whose cost for this segment, plus
the cheapest mode for every segment after it, fits the remaining budget. With
``early_exit`` on, it also leaves after a segment whose exit is confident enough.
"""

import math
from typing import Sequence, Tuple

from .base import Strategy
from ..decisions import Action, Answer, DecisionState, ResourceState, RunLayers
from ..strategy_context import ModeOption, segment_steps, SegmentStep, StrategyContext


class SegmentPrecision(Strategy):
    """Per-segment precision from the live budget, optionally with early exit."""

    name = 'segment_precision'
    defaults = {'segment_layers': 2, 'early_exit': True, 'threshold_at_full': 0.97,
                'threshold_at_empty': 0.7}

    def __init__(self, context: StrategyContext, settings=()):
        super().__init__(context, settings)
        self.segment_layers = self.segment_size()
        self.modes = context.efficient_modes()      # most faithful first
        self.early_exit = self.settings['early_exit']
        self.steps = segment_steps(self.modes, context.num_layers, self.segment_layers)
        # What decide reads per segment, as plain floats and reasons made up to the cost.
        self.tables = tuple(_step_table(step, self.modes) for step in self.steps)
        self.head_terms = (context.head_energy.fixed_mj, context.head_energy.per_token_mj)

    def confidence_threshold(self, resources: ResourceState) -> float:
        """Return the early-exit threshold in force (NaN when early exit is off)."""
        if not self.early_exit:
            return math.nan
        return self.scheduled_threshold(resources)

    def exit_parse_floor(self, resources: ResourceState) -> float:
        """Return the exit threshold (none is left below it); without early exit, none is left."""
        if not self.early_exit:
            return math.inf
        return self.scheduled_threshold(resources)

    def decide(self, state: DecisionState) -> Action:
        """Answer, or pick the mode of the next segment (its costs precomputed per mode)."""
        progress = state.progress
        done = progress.layers_done
        num_layers = self.context.num_layers
        if done >= num_layers:
            return Answer(f'all {num_layers} layers ran')
        if done and self.early_exit:
            confident = self.confident_exit(state)
            if confident is not None:
                return confident
        tokens = state.command.tokens
        count, rest_fixed, rest_per_token, segments_after, options = self.tables[done]
        head_fixed, head_per_token = self.head_terms
        head = head_fixed + head_per_token * tokens
        reserve = (rest_fixed + rest_per_token * tokens) + head * segments_after
        # DecisionState.remaining_budget_mj inline: after inference each call costs us.
        budget = state.resources.budget_mj - progress.energy_spent_mj
        for fixed, per_token, mode, prefix in options:
            cost = (fixed + per_token * tokens) + head
            if cost + reserve <= budget:
                return RunLayers(count, mode, f'{prefix}{cost:.2f} mJ of {budget:.2f} left)')
        # Nothing fits: the mode cheapest for these layers at this length. The frontier's
        # last mode is cheapest for a whole pass at 16 tokens, not always here; taking it
        # made a lower battery spend more than a higher one (caught by test_strategies).
        step = self.steps[done]
        cheapest = min(range(len(self.modes)), key=lambda i: step.costs[i].mj(tokens))
        mode = self.modes[cheapest].mode
        return RunLayers(step.count, mode, f'{step.span}:{mode} (budget {budget:.2f} mJ: '
                         'cheapest)')


def _step_table(step: SegmentStep, modes: Sequence[ModeOption]) -> Tuple:
    """
    Return a step as ``decide`` reads it: its lines as plain floats, no call per cost.

    (layers, the reserve's line, the segments after, then per mode its line, its name and
    its reason up to the cost.)
    """
    options = tuple((cost.fixed_mj, cost.per_token_mj, option.mode,
                     f'{step.span}:{option.mode} (')
                    for cost, option in zip(step.costs, modes))
    rest = step.rest_cheapest
    return (step.count, rest.fixed_mj, rest.per_token_mj, step.segments_after, options)
