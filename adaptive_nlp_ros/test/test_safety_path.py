"""
The path every possible stop takes, whatever the strategy and the battery.

A command the stop check flags at receipt runs every layer in the fast safety mode; when
that pass does not answer ``stop`` but leaves it plausible (its probability at least the
check's threshold), the whole pass is re-run in the exact fp32 mode and that answer stands.
No strategy, battery level or budget changes this; ``full`` is the reference and runs as is.
"""

import math
from typing import Tuple

from adaptive_nlp_ros.core.inference.first_action import read_structured_exit
from adaptive_nlp_ros.core.inference.strategies import ADAPTIVE
from adaptive_nlp_ros.core.inference.variant_pool import mode_backend, mode_precision
import numpy as np
import pytest
import torch

BATTERIES = (1.0, 0.5, 0.2, 0.05)
PER_COMBINATION = 12        # flagged commands per strategy and battery (half re-run ones)


def structured_pass(engine, text: str, mode: str) -> Tuple[np.ndarray, float]:
    """
    Return the last exit's label distribution with every layer in ``mode``.

    Read as the engine reads it (both heads, ``read_structured_exit``), with the safety
    label's plausibility it tracks: the larger of the sentence head's and the joint's.
    """
    models, heads = engine.models, engine.models.heads
    prepared = engine.prepare(text)
    batch = prepared.batch
    with torch.inference_mode():
        hidden = models.encoder.embed(batch)
        for layer in range(1, models.num_layers + 1):
            hidden = models.encoder.run_layer(layer, hidden, batch, mode)
        sentence = heads.probabilities(models.num_layers, hidden, batch.token_mask)[0].numpy()
        pieces = batch.input_ids.shape[1]
        segment, roles, intents = (part[0, 1:pieces - 1].numpy() for part in
                                   heads.token_probabilities(models.num_layers, hidden))
    joint, _ = read_structured_exit(prepared.view, sentence, segment, roles, intents,
                                    heads.scheme, models.labels, engine.safety_index)
    stop = engine.safety_index
    return joint, float(max(sentence[stop], joint[stop]))


@pytest.fixture(scope='module')
def flagged(text_engine, test_split):
    """Return flagged test commands, each with whether the exact re-run must happen."""
    engine = text_engine
    stop = engine.models.labels.index(engine.models.safety_label)
    rows = []
    for text in test_split.texts:
        if not engine.safety_check(text).possible:
            continue
        probabilities, plausibility = structured_pass(engine, text, engine.safety.fast_mode)
        rerun = (int(probabilities.argmax()) != stop
                 and plausibility >= engine.models.safety_threshold)
        rows.append((text, rerun))
    assert len(rows) >= 150
    reruns = [row for row in rows if row[1]]
    assert len(reruns) >= 5, 'no flagged command needs the exact re-run: nothing is checked'
    return rows


def check_safety_path(engine, outcome, rerun: bool) -> None:
    """Assert what the safety path promises about one outcome."""
    layers = engine.models.num_layers
    fast, exact = engine.safety.fast_mode, engine.safety.exact_mode
    assert 'safety override' in outcome.reason, outcome.reason
    assert outcome.exit_layer == outcome.num_layers == layers, outcome.reason
    first = outcome.segments[0]
    assert first.layers == tuple(range(1, layers + 1)) and not first.refined
    assert (first.precision, first.backend) == (mode_precision(fast), mode_backend(fast))
    refined = [segment for segment in outcome.segments if segment.refined]
    if rerun:
        assert len(refined) == 1 and refined[0].layers == tuple(range(1, layers + 1))
        assert (refined[0].precision, refined[0].backend) == ('fp32', mode_backend(exact))
        assert mode_precision(exact) == 'fp32' and outcome.refined
    else:
        assert not refined and not outcome.refined, outcome.reason


@pytest.mark.parametrize('battery', BATTERIES)
@pytest.mark.parametrize('name', ADAPTIVE)
def test_every_strategy_sends_possible_stops_down_the_safety_path(text_engine, flagged, name,
                                                                  battery):
    """Full depth in the fast mode, the exact re-run exactly when stop stays plausible."""
    reruns = [row for row in flagged if row[1]][:PER_COMBINATION // 2]
    others = [row for row in flagged if not row[1]][:PER_COMBINATION - len(reruns)]
    strategy = text_engine.strategy(name)
    resources = text_engine.resources(battery_fraction=battery)
    for text, rerun in reruns + others:
        check_safety_path(text_engine, text_engine.infer(text, strategy, resources), rerun)


def test_no_budget_still_takes_the_whole_safety_path(text_engine, flagged):
    """An empty budget shortens every ordinary decision, never the safety path."""
    strategy = text_engine.strategy('early_exit')
    resources = text_engine.resources(budget_mj=0.0)
    for text, rerun in flagged[:40]:
        check_safety_path(text_engine, text_engine.infer(text, strategy, resources), rerun)


def test_the_exact_rerun_answers_as_the_fp32_reference(text_engine, flagged):
    """Where the re-run happens its label is the exact mode's, on every flagged command."""
    strategy = text_engine.strategy('moe_routing')
    resources = text_engine.resources(battery_fraction=0.05)
    models = text_engine.models
    for text, rerun in flagged:
        outcome = text_engine.infer(text, strategy, resources)
        check_safety_path(text_engine, outcome, rerun)
        if rerun:
            exact, _ = structured_pass(text_engine, text, text_engine.safety.exact_mode)
            assert outcome.label == models.labels[int(exact.argmax())], text


def test_full_runs_as_the_reference_without_the_safety_path(text_engine, flagged):
    strategy = text_engine.strategy('full')
    resources = text_engine.resources(battery_fraction=0.05)
    for text, _ in flagged[:20]:
        outcome = text_engine.infer(text, strategy, resources)
        assert 'safety override' not in outcome.reason
        assert {segment.precision for segment in outcome.segments} == {'fp32'}
        assert not outcome.refined and math.isnan(outcome.confidence_threshold)


def test_a_stop_later_in_a_command_is_flagged_too(text_engine, test_split, corpus_dir):
    """
    The check sees a stop in any action, not only the first.

    The label model scores the first action; the stop detector scores "any action is a stop".
    Over the test split, every command the label model alone would flag is still flagged, and
    so are more of the commands that hold a stop (first or later).
    """
    from adaptive_nlp_ros.core.inference.engine import safety_score

    models = text_engine.models
    assert models.stop_detector is not None
    index = models.labels.index(models.safety_label)
    holding, by_label, by_both = 0, 0, 0
    for text, label, actions in zip(test_split.texts, test_split.labels, test_split.actions):
        first = models.tfidf.probabilities(text)[index]
        both = safety_score(text, first, models.stop_detector)
        assert both >= first
        assert text_engine.safety_check(text).possible == (both >= models.safety_threshold)
        if label == 'stop' or any(action.intent == 'stop' for action in actions or ()):
            holding += 1
            by_label += first >= models.safety_threshold
            by_both += both >= models.safety_threshold
    assert holding >= 100 and by_both > by_label, (holding, by_label, by_both)


def test_an_answer_that_leaves_stop_plausible_continues_on_the_safety_path(
        text_engine, test_split):
    """Missed by the check at receipt, cut short by an empty budget: the exit still escalates."""
    engine = text_engine
    strategy = engine.strategy('early_exit')
    resources = engine.resources(budget_mj=0.0)
    layers = engine.models.num_layers
    escalated, plain = [], []
    for text in test_split.texts:
        if engine.safety_check(text).possible:
            continue
        outcome = engine.infer(text, strategy, resources)
        (escalated if 'plausible after layer' in outcome.reason else plain).append(outcome)
    assert len(escalated) >= 5, 'no unflagged exit left stop plausible: nothing is checked'
    assert len(escalated) <= 0.1 * (len(escalated) + len(plain))     # the exception
    for outcome in escalated:
        assert 'safety path' in outcome.reason and outcome.exit_layer == layers, outcome.reason
        later = outcome.segments[1]
        assert (later.precision, later.backend) == (mode_precision(engine.safety.fast_mode),
                                                    mode_backend(engine.safety.fast_mode))
    assert {outcome.exit_layer for outcome in plain} == {1}      # the budget cut the others
    assert any(outcome.label == 'stop' for outcome in escalated)


@pytest.mark.parametrize('name', ['energy_greedy', 'moe_gate'])
def test_a_whole_variant_answer_escalates_alone_as_in_a_batch(text_engine, test_split, name):
    """One command at a time and batched, a variant that leaves stop plausible escalates."""
    engine = text_engine
    strategy = engine.strategy(name)
    resources = engine.resources(battery_fraction=0.2)     # small MiniLM variants answer
    texts = [text for text in test_split.texts if not engine.safety_check(text).possible]
    alone = ['plausible after' in engine.infer(text, strategy, resources).reason
             for text in texts]
    together = ['plausible after' in outcome.reason
                for start in range(0, len(texts), 16)
                for outcome in engine.infer_batch(texts[start:start + 16], strategy, resources)]
    assert any(together), 'no answer left stop plausible: nothing is checked'
    assert alone == together
