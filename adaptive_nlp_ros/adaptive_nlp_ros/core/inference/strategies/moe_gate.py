"""
``moe_gate``: the pool seen as experts behind a gate learned on dev.

The gate (multinomial logistic regression) maps cheap input features (the complexity
signals and the TF-IDF model's class probabilities) to the probability that each expert is
the cheapest one that answers right. Experts are ordered by energy; the strategy takes the
cheapest expert whose cumulative gate probability reaches a target that loosens as the
battery falls (the resource term), runs it or a later expert cheaper at this command's length,
and the budget caps it. Gate scores go in the reason.
"""

import math
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np

from .base import softmax, Strategy
from ..decisions import Action, DecisionState, RunVariant
from ..input_complexity import ComplexityFeatures
from ..strategy_context import StrategyContext


def gate_features(complexity: ComplexityFeatures,
                  cheap_probabilities: Optional[Sequence[float]]) -> Tuple[float, ...]:
    """
    Return what the gate reads: the complexity signals, then the cheap model's probabilities.

    The one definition, used when the gate is fitted (training) and when it decides (every
    command's ``InputSummary.gate_features``).
    """
    probabilities = () if cheap_probabilities is None else tuple(
        float(p) for p in cheap_probabilities)
    return complexity.values + probabilities


def fit_gate(features: np.ndarray, targets: Sequence[int], expert_ids: List[str],
             seed: int = 13) -> Dict[str, object]:
    """Fit the gate on dev: features -> index of the cheapest right expert."""
    from sklearn.linear_model import LogisticRegression

    targets = np.asarray(targets)
    weights = np.zeros((len(expert_ids), features.shape[1]))
    bias = np.full(len(expert_ids), -30.0)
    present = np.unique(targets)
    if len(present) == 1:
        bias[present[0]] = 0.0
    else:
        model = LogisticRegression(C=1.0, max_iter=3000, random_state=seed)
        model.fit(features, targets)
        coefficients = model.coef_ if len(present) > 2 else np.vstack(
            [-model.coef_[0], model.coef_[0]])
        intercepts = model.intercept_ if len(present) > 2 else np.array(
            [-model.intercept_[0], model.intercept_[0]])
        weights[model.classes_] = coefficients
        bias[model.classes_] = intercepts
    return {'experts': list(expert_ids), 'weights': weights.tolist(), 'bias': bias.tolist()}


class MoeGate(Strategy):
    """Learned gate over pool experts plus a battery-dependent sufficiency target."""

    name = 'moe_gate'
    defaults = {'target_at_full': 0.97, 'target_at_empty': 0.5}
    schedule = ('target_at_full', 'target_at_empty')

    def __init__(self, context: StrategyContext, settings=()):
        super().__init__(context, settings)
        gate = context.gate
        if not gate:
            raise ValueError('moe_gate needs a trained gate (text/moe_gate.json); rebuild the '
                             'artifacts with `adaptive-nlp train`')
        keep = [i for i, expert in enumerate(gate['experts']) if expert in context.pool_by_id]
        experts = [context.pool_by_id[gate['experts'][i]] for i in keep]
        order = sorted(range(len(experts)), key=lambda i: experts[i].energy_mj(16))
        self.experts = [experts[i] for i in order]
        self.weights = np.asarray(gate['weights'], dtype=np.float64)[keep][order]
        self.bias = np.asarray(gate['bias'], dtype=np.float64)[keep][order]
        # What each decision reads of the experts, unpacked once: their ids and energy lines.
        self.ids = [expert.variant_id for expert in self.experts]
        self.energy_terms = tuple((expert.energy.fixed_mj, expert.energy.per_token_mj)
                                  for expert in self.experts)

    def gate(self, features: Sequence[float]) -> List[float]:
        """
        Return each expert's gate probability for these features (experts in energy order).

        One matrix-vector product in numpy; the softmax of its dozen results in plain floats,
        where numpy's per-call overheads were most of a decision's time.
        """
        return softmax((np.dot(self.weights, features) + self.bias).tolist())

    def cheapest_sufficient(self, index: int, tokens: int, budget: float) -> int:
        """
        Return the expert to run once the gate's target points at ``index``.

        The cheapest at this command's length among ``index`` and the experts after it (the
        order is energy at 16 tokens, and per-token costs differ: a long command can make a
        later expert cheaper, and a lower battery must never pick a costlier one); where none
        fits the budget, the last one before ``index`` that does (else the first).
        """
        terms = self.energy_terms
        chosen, chosen_mj = -1, math.inf
        for expert, (fixed, per_token) in enumerate(terms[index:], index):
            energy = fixed + per_token * tokens
            if energy <= budget and energy < chosen_mj:
                chosen, chosen_mj = expert, energy
        if chosen >= 0:
            return chosen
        while index > 0 and terms[index][0] + terms[index][1] * tokens > budget:
            index -= 1
        return index

    def decide(self, state: DecisionState) -> Action:
        """Pick the expert (the target remembered per battery reading, as thresholds are)."""
        command, resources = state.command, state.resources
        gate = self.gate(command.gate_features)
        target = self.scheduled_threshold(resources)
        index, cumulative = len(gate) - 1, 0.0
        for expert, probability in enumerate(gate):
            cumulative += probability
            if cumulative >= target - 1e-9:
                index = expert
                break
        index = self.cheapest_sufficient(index, command.tokens,
                                         resources.budget_mj - state.progress.energy_spent_mj)
        ids, shown = self.ids, []
        for i in sorted(range(len(gate)), key=gate.__getitem__, reverse=True)[:3]:
            shown.append(f'{ids[i]}={gate[i]:.2f}')          # ties: cheaper first
        chosen = ids[index]
        return RunVariant(chosen, f'gate {" ".join(shown)}; target {target:.2f} -> {chosen}')
