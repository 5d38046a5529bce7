"""Image commands through the same strategies as text: each decides by its own rule."""

import math

from adaptive_nlp_ros.core.bags.bag_evaluation import load_image_engine
from adaptive_nlp_ros.core.inference.strategies import ADAPTIVE, REGISTRY
from adaptive_nlp_ros.core.training.image_training import load_digit_splits
import pytest

BATTERIES = (1.0, 0.6, 0.3, 0.15, 0.12, 0.05)


@pytest.fixture(scope='module')
def image_engine(text_engine):
    engine = load_image_engine(text_engine.models.directory, text_engine.budget_model)
    assert engine is not None, 'the artifacts hold no image model'
    return engine


@pytest.fixture(scope='module')
def digits():
    """Return 40 held-out test images, never trained on, with their labels."""
    images, labels = load_digit_splits()['test']
    return images[:40], [f'digit_{int(label)}' for label in labels[:40]]


@pytest.mark.parametrize('name', ('full',) + ADAPTIVE)
def test_image_strategies_are_the_text_strategies_on_an_image_context(image_engine, name):
    """No branching on names: the same classes decide, on the BranchyNet's pool and stages."""
    strategy = image_engine.strategy(name)
    if name == 'moe_gate' and not image_engine.context.gate:
        pytest.fail('the artifacts hold no image gate: moe_gate answers images with full')
    assert type(strategy) is REGISTRY[name]
    assert strategy.context is image_engine.context
    assert image_engine.context.num_layers == image_engine.classifier.num_exits


@pytest.mark.parametrize('name', ADAPTIVE)
def test_lower_battery_never_costs_more_for_an_image(image_engine, text_engine, digits, name):
    strategy = image_engine.strategy(name)
    for image in digits[0][:10]:
        energies = [image_engine.infer(image, strategy, text_engine.resources(
            battery_fraction=battery)).energy_mj for battery in BATTERIES]
        assert all(low <= high + 1e-9 for high, low in zip(energies, energies[1:])), (
            name, energies)


def test_full_runs_every_stage_and_an_empty_budget_the_cheapest(image_engine, text_engine,
                                                                digits):
    empty = text_engine.resources(budget_mj=0.0)
    # The cheapest exit by this machine's profile: usually the first, but the quick profile
    # training takes prices sub-0.1 ms image heads from coarse CPU-time ticks, and one fresh
    # clone priced the first exit's head above the second stage plus its head.
    cheapest = image_engine.context.cheapest().variant.layers
    for image, label in zip(*digits):
        full = image_engine.infer(image, image_engine.strategy('full'), empty)
        assert full.exit_layer == full.num_layers == 3 and math.isnan(
            full.confidence_threshold)
        for name in ('energy_greedy', 'fuzzy_complexity', 'moe_gate'):
            cheap = image_engine.infer(image, image_engine.strategy(name), empty)
            assert cheap.exit_layer == cheapest, (name, cheap.reason)
        assert full.label == label or full.confidence < 0.99


def test_early_exit_for_images_follows_its_own_threshold(image_engine, text_engine, digits):
    resources = text_engine.resources(battery_fraction=1.0)
    never = image_engine.strategy('early_exit', {'threshold_at_full': 1.01,
                                                 'threshold_at_empty': 1.01})
    always = image_engine.strategy('early_exit', {'threshold_at_full': 0.0,
                                                  'threshold_at_empty': 0.0})
    for image in digits[0]:
        assert image_engine.infer(image, never, resources).exit_layer == 3
        outcome = image_engine.infer(image, always, resources)
        assert outcome.exit_layer == 1 and outcome.confidence_threshold == 0.0


def test_a_coarse_strategy_keeps_images_within_the_budget_it_plans_with(
        image_engine, text_engine, digits):
    """What energy_greedy picks costs no more than the budget, whenever some variant fits."""
    context = image_engine.context
    strategy = image_engine.strategy('energy_greedy')
    for battery in BATTERIES:
        resources = text_engine.resources(battery_fraction=battery)
        outcome = image_engine.infer(digits[0][0], strategy, resources)
        chosen = next(option for option in context.pool
                      if option.variant.layers == outcome.exit_layer)
        if context.cheapest().energy_mj(1) <= resources.budget_mj:
            assert chosen.energy_mj(1) <= resources.budget_mj, (battery, outcome.reason)


def test_static_text_variants_answer_images_with_the_full_network(
        image_engine, text_engine, digits):
    name = f'static:{text_engine.context.cheapest().variant_id}'
    outcome = image_engine.infer(digits[0][0], image_engine.strategy(name),
                                 text_engine.resources(battery_fraction=0.5))
    assert outcome.exit_layer == 3 and 'no such image variant' in outcome.reason
    assert outcome.strategy == name
