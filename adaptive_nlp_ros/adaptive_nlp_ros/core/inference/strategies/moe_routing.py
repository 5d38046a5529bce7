"""
``moe_routing``: per segment, a router among precision experts (the execution modes).

Its input-dependent signal is the need for fidelity: 1 - the exit confidence so far (before
the first segment, the input's complexity estimate). Its resource signal is the pressure:
what the rest of the pass would cost at the most faithful mode, over the budget left. Each
expert scores ``need x fidelity_gain - pressure x relative_cost``; the gate is the softmax of
the scores, the best affordable expert runs the segment, and a confident exit ends the pass.
"""

from typing import Sequence, Tuple

from .base import softmax, Strategy
from ..decisions import Action, Answer, DecisionState, ResourceState, RunLayers
from ..strategy_context import LinearCost, segment_steps, SegmentStep, StrategyContext


class MoeRouting(Strategy):
    """Input- and resource-driven routing among precision experts, segment by segment."""

    name = 'moe_routing'
    defaults = {'segment_layers': 2, 'threshold_at_full': 0.97, 'threshold_at_empty': 0.7,
                'gate_temperature': 0.25}

    def __init__(self, context: StrategyContext, settings=()):
        super().__init__(context, settings)
        self.segment_layers = self.segment_size()
        self.experts = context.efficient_modes()     # most faithful first
        fidelities = [expert.fidelity for expert in self.experts]
        span = max(1e-9, max(fidelities) - min(fidelities))
        self.gain = [(fidelity - min(fidelities)) / span for fidelity in fidelities]
        self.temperature = self.settings['gate_temperature']
        num_layers = context.num_layers
        self.steps = segment_steps(self.experts, num_layers, self.segment_layers)
        # The rest of the pass from each segment on, in the most faithful mode (the pressure).
        self.faithful_rest = tuple(self.experts[0].layers_cost(done + 1, num_layers - done)
                                   for done in range(num_layers))
        # What decide reads per segment, as plain floats, and its reason as one %-format
        # ('%.2f' writes what '{:.2f}' does; one call formats every number of the reason).
        self.tables = tuple(_step_table(step, rest, self.gain)
                            for step, rest in zip(self.steps, self.faithful_rest))
        self.head_terms = (context.head_energy.fixed_mj, context.head_energy.per_token_mj)
        self.modes = [expert.mode for expert in self.experts]
        self.reason_format = '%s:%s (need %.2f, pressure %.2f; gate ' + ' '.join(
            mode.replace('%', '%%') + '=%.2f' for mode in self.modes) + ')'

    def confidence_threshold(self, resources: ResourceState) -> float:
        """Return the exit threshold in force at this battery level."""
        return self.scheduled_threshold(resources)

    def decide(self, state: DecisionState) -> Action:
        """Exit if confident, else route the next segment (its costs precomputed per mode)."""
        progress = state.progress
        done = progress.layers_done
        num_layers = self.context.num_layers
        if done >= num_layers:
            return Answer(f'all {num_layers} layers ran')
        if done:
            confident = self.confident_exit(state)
            if confident is not None:
                return confident
            need = 1.0 - progress.whole_confidence
        else:
            need = state.command.complexity
        tokens = state.command.tokens
        (count, span, rest_fixed, rest_per_token, segments_after, faithful_fixed,
         faithful_per_token, options) = self.tables[done]
        head_fixed, head_per_token = self.head_terms
        head = head_fixed + head_per_token * tokens
        # DecisionState.remaining_budget_mj inline: after inference each call costs us.
        budget = state.resources.budget_mj - progress.energy_spent_mj
        pressure = (faithful_fixed + faithful_per_token * tokens) / max(budget, 1e-9)
        costs, scores = [], []
        for fixed, per_token, gain in options:
            cost = (fixed + per_token * tokens) + head
            costs.append(cost)
            scores.append(need * gain - pressure * cost / costs[0])
        gate = softmax(scores, self.temperature)
        reserve = (rest_fixed + rest_per_token * tokens) + head * segments_after
        # The likeliest affordable expert (the first of equals). Nothing affordable: the
        # expert cheapest for these layers at this length (the last expert is cheapest for a
        # whole pass at 16 tokens, not always for this segment).
        chosen, chosen_probability = None, 0.0
        for expert, (probability, cost) in enumerate(zip(gate, costs)):
            if cost + reserve <= budget and (chosen is None or probability > chosen_probability):
                chosen, chosen_probability = expert, probability
        if chosen is None:
            chosen = min(range(len(costs)), key=costs.__getitem__)
        mode = self.modes[chosen]
        return RunLayers(count, mode, self.reason_format % (span, mode, need, pressure, *gate))


def _step_table(step: SegmentStep, faithful_rest: LinearCost, gain: Sequence[float]) -> Tuple:
    """
    Return a step as ``decide`` reads it: its lines as plain floats, no call per cost.

    (layers, span, the reserve's line, the segments after, the faithful rest's line, then
    per expert its line and its fidelity gain.)
    """
    rest = step.rest_cheapest
    options = tuple((cost.fixed_mj, cost.per_token_mj, expert_gain)
                    for cost, expert_gain in zip(step.costs, gain))
    return (step.count, step.span, rest.fixed_mj, rest.per_token_mj, step.segments_after,
            faithful_rest.fixed_mj, faithful_rest.per_token_mj, options)
