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
from ..strategy_context import PoolOption, StrategyContext


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


def gate_experts(pool: Sequence[PoolOption], tokens: int = 16) -> List[PoolOption]:
    """
    Return the experts the gate chooses among: one per depth, cheapest first.

    At each depth the variant cheapest at ``tokens`` tokens; at full depth also the most
    accurate variant (the hardest commands' expert) when it is another one. Precision at a
    depth below full changes dev accuracy by noise (0.8 point at two layers) while it doubles
    the cost, and which precision is cheaper at which depth is this machine's profile: a gate
    over every variant learned a machine-dependent split (held-out sequence exact 0.707 on a
    profile that priced two fp32 layers below four int8 ones, 0.770 on this one).
    """
    by_energy = sorted(pool, key=lambda option: option.energy_mj(tokens))
    full_depth = max(option.variant.layers for option in pool)
    experts, depths = [], set()
    for option in by_energy:
        depth = (option.variant.kind, option.variant.layers)
        if depth not in depths:
            depths.add(depth)
            experts.append(option)
    deepest = [option for option in by_energy if option.variant.layers == full_depth]
    if deepest:
        best = max(deepest, key=lambda option: option.dev_accuracy)      # first: cheapest
        if best not in experts and best.dev_accuracy > max(
                option.dev_accuracy for option in experts) + 1e-9:
            experts.append(best)
    return sorted(experts, key=lambda option: option.energy_mj(tokens))


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
        fits the budget, the last one before ``index`` that does (else the cheapest at this
        length).
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
        if terms[index][0] + terms[index][1] * tokens <= budget:
            return index
        return min(range(len(terms)), key=lambda i: terms[i][0] + terms[i][1] * tokens)

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
