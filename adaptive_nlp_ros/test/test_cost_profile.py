"""The cost fit (fixed + per-token, never negative) and the sums strategies plan with."""

from adaptive_nlp_ros.core.inference.cost_profile import linear_cost, Measurement
from adaptive_nlp_ros.core.inference.strategy_context import LinearCost, ModeOption
import pytest


def measured(latency_ms, energy_mj):
    return Measurement(latency_ms, 0.01, latency_ms, energy_mj, 'estimate')


def test_a_clean_pair_gives_the_line_through_both_points():
    cost = linear_cost(measured(1.0, 2.0), measured(3.0, 6.0), 8, 48)
    assert cost.latency_fixed_ms == pytest.approx(0.6)
    assert cost.latency_per_token_ms == pytest.approx(0.05)
    assert cost.latency_ms(48) == pytest.approx(3.0)
    assert cost.energy_mj(8) == pytest.approx(2.0)


def test_a_noisy_pair_never_fits_a_negative_fixed_cost():
    """Short input timed fast, long one in a burst: the line would cross zero before 8 tokens."""
    cost = linear_cost(measured(0.1, 0.2), measured(4.1, 8.2), 8, 48)
    assert cost.latency_fixed_ms == 0.0 and cost.energy_fixed_mj == 0.0
    assert cost.latency_ms(48) == pytest.approx(4.1)        # the long point still holds
    assert cost.energy_mj(48) == pytest.approx(8.2)
    assert cost.latency_ms(1) < cost.latency_ms(8) < cost.latency_ms(48)


def test_a_longer_input_timed_faster_costs_the_same_at_every_length():
    cost = linear_cost(measured(2.0, 4.0), measured(1.5, 3.0), 8, 48)
    assert cost.latency_per_token_ms == 0.0 and cost.energy_per_token_mj == 0.0
    assert cost.latency_ms(1) == cost.latency_ms(100) == pytest.approx(2.0)


@pytest.mark.parametrize('first, count', [(1, 6), (1, 1), (3, 2), (6, 1), (5, 4), (2, 0)])
def test_a_run_of_layers_costs_the_sum_of_its_layers(first, count):
    """The running sums give what adding the layers one by one gives, clipped at the last."""
    layers = tuple(LinearCost(0.1 * layer, 0.01 * layer) for layer in range(1, 7))
    mode = ModeOption('ort_int8', 0.99, layers)
    expected = sum(cost.mj(20) for cost in layers[first - 1:first - 1 + count])
    assert mode.energy_mj(first, count, 20) == pytest.approx(expected)


def test_the_profiled_exit_read_decodes_the_parse_as_the_engine_does(text_engine):
    """
    The ``head`` component times what the engine does at every exit it judges.

    With token heads that is the sentence head, the tags and their decoding into actions;
    a profile of the sentence head alone priced early exit's exits at a ninth of their cost.
    """
    import torch

    from adaptive_nlp_ros.core.inference.profiling import _exit_read

    models = text_engine.models
    text = 'go to the kitchen and bring me the red cup'
    batch = models.tokenizer.encode([text])
    with torch.inference_mode():
        joint, parse = _exit_read(models, text, batch, models.encoder.embed(batch))()
    assert [action.intent for action in parse.actions] == ['navigate', 'bring']
    assert joint.shape == (len(models.labels),)
