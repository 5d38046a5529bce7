"""
``moe_routing``: per segment, a router among precision experts (the execution modes).

Its input-dependent signal is the need for fidelity: 1 - the exit confidence so far (before
the first segment, the input's complexity estimate). Its resource signal is the pressure:
what the rest of the pass would cost at the most faithful mode, over the budget left. Each
expert scores ``need x fidelity_gain - pressure x relative_cost``; the gate is the softmax of
the scores, the best affordable expert runs the segment, and a confident exit ends the pass.
"""

import math

from .base import Strategy
from ..decisions import Action, Answer, DecisionState, ResourceState, RunLayers
from ..strategy_context import StrategyContext


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

    def confidence_threshold(self, resources: ResourceState) -> float:
        """Return the exit threshold in force at this battery level."""
        return self.scheduled_threshold(resources)

    def decide(self, state: DecisionState) -> Action:
        """Exit if confident, else route the next segment."""
        progress = state.progress
        done = progress.layers_done
        num_layers = self.context.num_layers
        if done >= num_layers:
            return Answer(f'all {num_layers} layers ran')
        threshold = self.confidence_threshold(state.resources)
        if done and progress.whole_confidence >= threshold:
            return Answer(f'exit after {done}: confidence {progress.whole_confidence:.2f} >= '
                          f'{threshold:.2f}')
        need = (1.0 - progress.whole_confidence) if done else state.command.complexity
        tokens = state.command.tokens
        count = min(self.segment_layers, num_layers - done)
        first = done + 1
        head = self.context.head_energy.mj(tokens)
        budget = state.remaining_budget_mj
        best_rest = self.experts[0].energy_mj(first, num_layers - done, tokens)
        pressure = best_rest / max(budget, 1e-9)
        costs = [expert.energy_mj(first, count, tokens) + head for expert in self.experts]
        top_cost = costs[0]
        scores = [need * gain - pressure * cost / top_cost
                  for gain, cost in zip(self.gain, costs)]
        temperature = self.settings['gate_temperature']
        peak = max(scores)
        weights = [math.exp((score - peak) / temperature) for score in scores]
        total = sum(weights)
        gate = [weight / total for weight in weights]
        reserve = (self.experts[-1].energy_mj(first + count, num_layers - done - count, tokens)
                   + head * -(-(num_layers - done - count) // self.segment_layers))
        ranked = sorted(range(len(self.experts)), key=lambda i: -gate[i])
        # Nothing affordable: the expert cheapest for these layers at this length (the last
        # expert is cheapest for a whole pass at 16 tokens, not always for this segment).
        chosen = next((i for i in ranked if costs[i] + reserve <= budget),
                      min(range(len(costs)), key=costs.__getitem__))
        shown = ' '.join(f'{expert.mode}={g:.2f}' for expert, g in zip(self.experts, gate))
        return RunLayers(count, self.experts[chosen].mode,
                         f'L{first}-{first + count - 1}:{self.experts[chosen].mode} '
                         f'(need {need:.2f}, pressure {pressure:.2f}; gate {shown})')
