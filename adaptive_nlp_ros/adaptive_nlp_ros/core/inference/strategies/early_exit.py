"""
``early_exit``: leave at the first layer whose whole answer is sure enough.

Sure means the label's calibrated confidence and its parse's (every action and every span:
``Progress.whole_confidence``) both reach the threshold, which loosens as the battery falls.

Bounds as settings: the threshold at full and at empty battery, the minimum and maximum exit
layer, and the execution mode every layer runs in (``auto``: the cheapest mode whose dev
agreement with the fp32 reference is at least ``min_fidelity``).
"""

from .base import Strategy
from ..decisions import Action, Answer, DecisionState, ResourceState, RunLayers
from ..strategy_context import StrategyContext


def pick_mode(context: StrategyContext, requested: str, min_fidelity: float) -> str:
    """Return the requested mode if loaded, else the cheapest mode faithful enough."""
    if requested != 'auto' and requested in context.mode_by_name:
        return requested
    faithful = [option for option in context.modes if option.fidelity >= min_fidelity]
    candidates = faithful or context.modes[:1]
    return min(candidates, key=lambda m: m.energy_mj(1, context.num_layers, 16)).mode


class EarlyExit(Strategy):
    """Confidence-based early exit over the segment loop, one layer per step."""

    name = 'early_exit'
    defaults = {'threshold_at_full': 0.95, 'threshold_at_empty': 0.6, 'min_exit_layer': 1,
                'max_exit_layer': 0, 'mode': 'auto', 'min_fidelity': 0.98}

    def __init__(self, context: StrategyContext, settings=()):
        super().__init__(context, settings)
        self.mode = pick_mode(context, self.settings['mode'], self.settings['min_fidelity'])
        self.min_layer = max(1, min(int(self.settings['min_exit_layer']), context.num_layers))
        max_layer = int(self.settings['max_exit_layer']) or context.num_layers
        self.max_layer = max(self.min_layer, min(max_layer, context.num_layers))
        # Every command starts and continues the same way: the actions are made once, and
        # the next layer's cost and the exit head's are lines as plain floats (no call each).
        # Its reason speaks for every layer the command runs (the next ones give none).
        self.first_layers = RunLayers(self.min_layer, self.mode, f'every layer in {self.mode}'
                                      + (f', none left before layer {self.min_layer}'
                                         if self.min_layer > 1 else ''))
        self.next_layer = RunLayers(1, self.mode, '')
        mode = context.mode_by_name[self.mode]
        self.layer_terms = tuple((cost.fixed_mj, cost.per_token_mj) for cost in (
            mode.layers_cost(done + 1, 1) for done in range(context.num_layers)))
        self.head_terms = (context.head_energy.fixed_mj, context.head_energy.per_token_mj)

    def confidence_threshold(self, resources: ResourceState) -> float:
        """Return the threshold in force at this battery level."""
        return self.scheduled_threshold(resources)

    def exit_parse_floor(self, resources: ResourceState) -> float:
        """Below the threshold no exit is left: its parse is decoded only if answered there."""
        return self.scheduled_threshold(resources)

    def decide(self, state: DecisionState) -> Action:
        """Run the next layer unless the latest exit is confident enough (or we must stop)."""
        progress = state.progress
        done = progress.layers_done
        if done == 0:
            return self.first_layers
        confident = self.confident_exit(state)
        if confident is not None:
            return confident
        if done >= self.max_layer:
            return Answer(f'exit after {done}: last allowed layer')
        tokens = state.command.tokens
        fixed, per_token = self.layer_terms[done]
        head_fixed, head_per_token = self.head_terms
        next_cost = (fixed + per_token * tokens) + (head_fixed + head_per_token * tokens)
        # DecisionState.remaining_budget_mj inline: after inference each call costs us.
        budget = state.resources.budget_mj - progress.energy_spent_mj
        if next_cost > budget:
            return Answer(f'exit after {done}: budget left {budget:.2f} mJ'
                          f' < next layer {next_cost:.2f} mJ')
        return self.next_layer
