"""
What strategies precompute so a decision costs microseconds gives what computing it does.

The segment tables, the pool scan, the plain-float gate and the remembered threshold each
replace a computation the decision used to make per call; these tests hold them to it on
hand-made contexts (no artifacts), and check what the loop's decision timer covers.
"""

import math
import random

from adaptive_nlp_ros.core.battery.energy_budget import EnergyBudgetModel
from adaptive_nlp_ros.core.inference import segment_loop
from adaptive_nlp_ros.core.inference.decisions import (Answer, DecisionState, InputSummary,
                                                       ResourceState, RunLayers, RunVariant)
from adaptive_nlp_ros.core.inference.results import SegmentRecord
from adaptive_nlp_ros.core.inference.strategies.base import softmax, Strategy, \
    threshold_for_battery
from adaptive_nlp_ros.core.inference.strategies.early_exit import EarlyExit
from adaptive_nlp_ros.core.inference.strategies.fuzzy_complexity import FuzzyComplexity
from adaptive_nlp_ros.core.inference.strategies.moe_gate import gate_experts, MoeGate
from adaptive_nlp_ros.core.inference.strategy_context import (
    battery_level, LinearCost, ModeOption, NO_COST, PoolOption, segment_steps, StrategyContext)
from adaptive_nlp_ros.core.inference.variant_pool import Variant
import numpy as np
import pytest
import torch

MODES = ('fp32', 'ort_fp32', 'int8', 'ort_int8')


def _modes(rng: random.Random, num_layers: int):
    return [ModeOption(mode, 1.0 - 0.01 * index,
                       tuple(LinearCost(rng.uniform(0.0, 2.0), rng.uniform(0.0, 0.1))
                             for _ in range(num_layers)))
            for index, mode in enumerate(MODES)]


def _context(rng: random.Random, experts: int = 8, features: int = 6, nan_accuracy=False):
    pool = [PoolOption(Variant(f'v{index}', 'minilm', 1 + index % 6, 'fp32'),
                       math.nan if nan_accuracy and index % 3 == 0
                       else round(rng.uniform(0.5, 1.0), 2),            # ties on purpose
                       LinearCost(rng.uniform(0.0, 20.0), rng.uniform(0.0, 0.5)))
            for index in range(experts)]
    weights = [[rng.gauss(0.0, 2.0) for _ in range(features)] for _ in range(experts)]
    bias = [-30.0 if index % 4 == 1 else rng.gauss(0.0, 1.0) for index in range(experts)]
    gate = {'experts': [option.variant_id for option in pool], 'weights': weights,
            'bias': bias}
    return StrategyContext(pool, _modes(rng, 6), 6, ['a', 'b'], EnergyBudgetModel(), NO_COST,
                           LinearCost(0.05, 0.002), 'v0', gate)


@pytest.mark.parametrize('segment_layers', [1, 2, 3, 4, 6])
def test_segment_steps_price_what_the_modes_price(segment_layers):
    """Every step's lines give exactly the energies the modes give for those layers."""
    modes = _modes(random.Random(segment_layers), 6)
    steps = segment_steps(modes, 6, segment_layers)
    assert len(steps) == 6
    for done, step in enumerate(steps):
        count = min(segment_layers, 6 - done)
        after = 6 - done - count
        assert (step.first, step.count) == (done + 1, count)
        assert step.span == f'L{done + 1}-{done + count}'
        assert step.segments_after == math.ceil(after / segment_layers)
        for tokens in (1, 7, 16, 93):
            assert [line.mj(tokens) for line in step.costs] == [
                mode.energy_mj(done + 1, count, tokens) for mode in modes]
            rest = modes[-1].energy_mj(done + 1 + count, after, tokens)
            assert step.rest_cheapest.mj(tokens) == rest


@pytest.mark.parametrize('nan_accuracy', [False, True])
def test_most_accurate_within_is_the_scan_of_the_pool(nan_accuracy):
    """The unpacked pool picks what comparing each option's energy and accuracy picks."""
    rng = random.Random(7)
    context = _context(rng, experts=12, nan_accuracy=nan_accuracy)
    for _ in range(500):
        budget, tokens = rng.choice([0.0, math.inf, rng.uniform(0.0, 60.0)]), rng.randint(1, 80)
        best = None
        for option in context.pool:
            if option.energy_mj(tokens) <= budget and (
                    best is None or option.dev_accuracy > best.dev_accuracy):
                best = option
        assert context.most_accurate_within(budget, tokens) is (best or context.cheapest(tokens))


@pytest.mark.parametrize('temperature', [1.0, 0.25])
def test_softmax_in_plain_floats_is_numpys(temperature):
    rng = random.Random(3)
    for _ in range(200):
        scores = [rng.gauss(0.0, 10.0) for _ in range(rng.randint(1, 12))]
        shifted = (np.asarray(scores) - max(scores)) / temperature
        expected = np.exp(shifted) / np.exp(shifted).sum()
        assert softmax(scores, temperature) == pytest.approx(expected.tolist(), rel=1e-12,
                                                             abs=1e-300)


def _numpy_gate_choice(strategy: MoeGate, state: DecisionState) -> int:
    """Return the gate's choice computed with numpy throughout, as it was (the reference)."""
    scores = strategy.weights @ np.asarray(state.command.gate_features) + strategy.bias
    scores = np.exp(scores - scores.max())
    cumulative = np.cumsum(scores / scores.sum())
    target = threshold_for_battery(strategy.level(state.resources), 0.97, 0.5,
                                   strategy.context.budget_model.reserve_fraction)
    index = min(int(np.searchsorted(cumulative, target - 1e-9)), len(strategy.experts) - 1)
    return strategy.cheapest_sufficient(index, state.command.tokens, state.remaining_budget_mj)


@pytest.mark.parametrize('features', [6, 0])       # text: signals + probabilities; images: none
def test_plain_float_gate_decides_as_the_numpy_gate(features):
    rng = random.Random(11 + features)
    strategy = MoeGate(_context(rng, features=features))
    for _ in range(300):
        summary = InputSummary('text', rng.randint(1, 60), gate_features=tuple(
            rng.uniform(0.0, 1.0) for _ in range(features)))
        resources = ResourceState(rng.choice([math.nan, rng.random()]), False,
                                  rng.random() < 0.1, rng.choice([math.inf, rng.uniform(0, 40)]))
        state = DecisionState(resources, summary)
        scores = strategy.weights @ np.asarray(summary.gate_features) + strategy.bias
        reference = np.exp(scores - scores.max()) / np.exp(scores - scores.max()).sum()
        assert strategy.gate(summary.gate_features) == pytest.approx(reference.tolist(),
                                                                     rel=1e-12, abs=1e-300)
        expected = strategy.experts[_numpy_gate_choice(strategy, state)]
        assert strategy.decide(state).variant_id == expected.variant_id


def _option(variant_id: str, layers: int, mode: str, accuracy: float, fixed: float):
    kind = 'tfidf' if layers == 0 else 'minilm'
    return PoolOption(Variant(variant_id, kind, layers, mode), accuracy, LinearCost(fixed, 0.0))


@pytest.mark.parametrize('l2_fp32_mj', [9.3, 6.0])   # after / before four int8 layers
def test_the_gate_chooses_a_depth_whatever_the_machine_prices_precisions_at(l2_fp32_mj):
    """
    One expert per depth (the cheapest there), plus full depth's most accurate variant.

    A fresh clone whose profile priced two fp32 layers below four int8 ones had the gate
    learn a split of its own (held-out sequence exact 0.707 against 0.770).
    """
    pool = [_option('tfidf', 0, '', 0.72, 1.1), _option('l2_int8', 2, 'ort_int8', 0.829, 3.9),
            _option('l2_fp32', 2, 'fp32', 0.837, l2_fp32_mj),
            _option('l4_int8', 4, 'ort_int8', 0.980, 7.1),
            _option('l4_fp32', 4, 'fp32', 0.980, 17.0),
            _option('l6_int8', 6, 'int8', 0.9845, 9.3),
            _option('l6_ort_fp32', 6, 'ort_fp32', 0.9881, 20.4),
            _option('l6_fp32', 6, 'fp32', 0.9881, 24.9)]
    assert [option.variant_id for option in gate_experts(pool)] == [
        'tfidf', 'l2_int8', 'l4_int8', 'l6_int8', 'l6_ort_fp32']


@pytest.mark.parametrize('strategy_class', [MoeGate, FuzzyComplexity])
def test_a_lower_battery_never_picks_a_costlier_variant_at_any_length(strategy_class):
    """
    Variants in 16-token order whose per-token costs reorder them for long commands.

    Both coarse choosers once ordered them at one length: moe_gate's experts, then
    fuzzy_complexity's frontier (ONNX Runtime's int8 graph against torch int8 on one fresh
    clone's profile), and a lower battery picked a costlier variant for long commands.
    """
    strategy = strategy_class(_context(random.Random(5), experts=8, features=3))
    rng = random.Random(9)
    for _ in range(300):
        summary = InputSummary('text', rng.randint(1, 120), complexity=rng.random(),
                               gate_features=tuple(rng.uniform(0.0, 1.0) for _ in range(3)))
        costs = []
        for battery in (1.0, 0.8, 0.6, 0.4, 0.2, 0.0):
            state = DecisionState(ResourceState(battery), summary)
            chosen = strategy.context.pool_by_id[strategy.decide(state).variant_id]
            costs.append(chosen.energy_mj(summary.tokens))
        assert all(low <= high + 1e-9 for high, low in zip(costs, costs[1:])), costs


def test_a_target_reached_exactly_takes_the_cheaper_expert():
    """Two experts the gate finds equally likely: at an empty battery the target is 0.5."""
    strategy = MoeGate(_context(random.Random(2), experts=2, features=0))
    strategy.bias = np.zeros(2)
    state = DecisionState(ResourceState(0.0), InputSummary('text', 8))
    assert strategy.gate(()) == [0.5, 0.5]
    assert strategy.decide(state).variant_id == strategy.experts[0].variant_id
    assert _numpy_gate_choice(strategy, state) == 0


def test_remembered_threshold_follows_the_battery_and_the_budget_model():
    """The threshold kept between a command's segments is never one of another reading."""
    context = _context(random.Random(5))
    strategy = EarlyExit(context)
    readings = [(0.5, False), (0.5, False), (0.2, False), (0.2, True), (math.nan, False),
                (math.nan, False), (0.9, False)]
    models = (EnergyBudgetModel(), EnergyBudgetModel(reserve_fraction=0.3,
                                                     unknown_battery_fraction=0.6))
    # One thing changes from a call to the next: the reading, then the budget model.
    cases = ([(reading, model) for model in models for reading in readings]
             + [(reading, model) for reading in readings for model in models])
    for (fraction, charging), budget_model in cases:
        context.budget_model = budget_model
        level = battery_level(fraction, charging, budget_model)
        expected = threshold_for_battery(level, 0.95, 0.6, budget_model.reserve_fraction)
        assert strategy.scheduled_threshold(ResourceState(fraction, False, charging)) \
            == expected


class _Clock:
    """A perf_counter that moves only when the test says."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class _TwoSegments(Strategy):
    """Two segments of three layers, then an answer; each decision takes 1 s on the clock."""

    name = 'two_segments'

    def __init__(self, clock: _Clock) -> None:
        super().__init__(None)
        self.clock = clock

    def decide(self, state: DecisionState):
        self.clock.now += 1.0
        if state.progress.layers_done < 6:
            return RunLayers(3, 'fp32', '')
        return Answer('done')


class _SlowNetwork:
    """Each segment takes 100 s on the clock: running it is no part of deciding."""

    def __init__(self, clock: _Clock) -> None:
        self.clock = clock

    def carry_out(self, runs, action) -> None:
        self.clock.now += 100.0
        for run in runs:
            done = run.layers_done + action.count
            run.record(SegmentRecord(tuple(range(run.layers_done + 1, done + 1)), 'fp32',
                                     'torch', 1.0), done, torch.tensor([0.9, 0.1]))

    def cheapest_answer(self) -> RunVariant:
        return RunVariant('v0', '')


def test_decision_time_is_the_time_inside_decide(monkeypatch):
    clock = _Clock()
    monkeypatch.setattr(segment_loop.time, 'perf_counter', clock)
    run = segment_loop.InputRun(_TwoSegments(clock), DecisionState(ResourceState(),
                                                                   InputSummary()),
                                ['a', 'b'], 6)
    segment_loop.answer_one(_SlowNetwork(clock), run)
    assert run.layers_done == 6
    assert run.decision_s == 3.0            # three decisions, none of the 200 s of segments
