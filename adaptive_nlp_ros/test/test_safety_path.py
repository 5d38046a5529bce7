"""
The path every possible stop takes, whatever the strategy and the battery.

A command the stop check flags at receipt first runs the stop gate's layer in the fast safety
mode; unless that exit rules a stop out, it runs every other layer in the same mode, and when
that pass does not answer ``stop`` but leaves it plausible (its probability at least the
check's threshold), the whole pass is re-run in the exact fp32 mode and that answer stands.
No strategy, battery level or budget changes this; ``full`` is the reference and runs as is.
A command the gate clears continues under its strategy; no stop of dev, the test split or
the hand-written set is ever cleared.
"""

import math
from typing import Tuple

from adaptive_nlp_ros.core.inference.first_action import read_structured_exit
from adaptive_nlp_ros.core.inference.results import SegmentRecord
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


def holds_stop(label, actions) -> bool:
    """Return True when a command's first action or any later one is a stop."""
    return label == 'stop' or any(action.intent == 'stop' for action in actions or ())


@pytest.fixture(scope='module')
def gate(text_engine):
    """Return the stop gate the engine fitted on dev at load."""
    assert text_engine.safety.gate is not None, 'no stop gate: the dev split is not at hand'
    return text_engine.safety.gate


@pytest.fixture(scope='module')
def flagged_and_cleared(text_engine, test_split, gate):
    """
    Return the flagged test commands the gate keeps and those it clears.

    Each kept one comes with whether the exact re-run must happen.
    """
    engine = text_engine
    stop = engine.models.labels.index(engine.models.safety_label)
    texts = [text for text in test_split.texts if engine.safety_check(text).possible]
    kept, cleared = [], []
    for text, score in zip(texts, engine.stop_gate_scores(texts, gate.layers)):
        if gate.clears(score):
            cleared.append(text)
            continue
        probabilities, plausibility = structured_pass(engine, text, engine.safety.fast_mode)
        rerun = (int(probabilities.argmax()) != stop
                 and plausibility >= engine.models.safety_threshold)
        kept.append((text, rerun))
    assert len(kept) >= 150 and len(cleared) >= 20, (len(kept), len(cleared))
    reruns = [row for row in kept if row[1]]
    assert len(reruns) >= 5, 'no flagged command needs the exact re-run: nothing is checked'
    return kept, cleared


@pytest.fixture(scope='module')
def flagged(flagged_and_cleared):
    """Return the flagged test commands the gate keeps, with whether the re-run happens."""
    return flagged_and_cleared[0]


def check_safety_path(engine, outcome, rerun: bool) -> None:
    """Assert what the safety path promises about one outcome."""
    layers = engine.models.num_layers
    fast, exact = engine.safety.fast_mode, engine.safety.exact_mode
    assert 'safety override' in outcome.reason, outcome.reason
    assert 'stop gate cleared' not in outcome.reason, outcome.reason
    assert outcome.exit_layer == outcome.num_layers == layers, outcome.reason
    passes = [segment for segment in outcome.segments if not segment.refined]
    assert [layer for segment in passes for layer in segment.layers] == list(
        range(1, layers + 1))
    assert {(segment.precision, segment.backend) for segment in passes} == {
        (mode_precision(fast), mode_backend(fast))}
    gate = engine.safety.gate
    if gate is not None:        # the gate's layers first, then the rest
        assert passes[0].layers == tuple(range(1, gate.layers + 1)), outcome.reason
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


@pytest.fixture(scope='module')
def dev_split(corpus_dir):
    """Return the shipped dev split (the stop gate's threshold is fitted on it)."""
    from adaptive_nlp_ros.core.training.dataset import load_dataset

    return load_dataset(corpus_dir / 'dev.jsonl')


def test_the_gate_is_fitted_on_dev_with_a_margin(text_engine, dev_split, gate):
    """Half the lowest reading of a dev command holding a stop, after layer 1."""
    from adaptive_nlp_ros.core.inference.engine import fit_safety_gate

    from adaptive_nlp_ros.core.inference.engine import trained_dev_stops

    texts = [text for text, label, actions in zip(dev_split.texts, dev_split.labels,
                                                  dev_split.actions)
             if holds_stop(label, actions)]
    assert trained_dev_stops(text_engine.models.directory, 'stop') == texts
    scores = text_engine.stop_gate_scores(texts, gate.layers)
    assert gate.layers == 1 and gate.threshold == pytest.approx(0.5 * min(scores))
    assert fit_safety_gate(text_engine, None) is None
    assert fit_safety_gate(text_engine, texts, text_engine.models.num_layers) is None


@pytest.mark.parametrize('split', ['dev', 'test', 'handwritten'])
def test_no_stop_is_ever_cleared(text_engine, gate, dev_split, test_split, corpus_dir, split):
    """Every flagged command holding a stop, first or later, stays on the safety path."""
    from adaptive_nlp_ros.core.training.dataset import load_dataset

    dataset = {'dev': dev_split, 'test': test_split}.get(split) or load_dataset(
        corpus_dir / 'test_handwritten.jsonl')
    stops = [text for text, label, actions in zip(dataset.texts, dataset.labels,
                                                  dataset.actions)
             if holds_stop(label, actions) and text_engine.safety_check(text).possible]
    assert len(stops) >= 10
    scores = text_engine.stop_gate_scores(stops, gate.layers)
    assert not any(gate.clears(score) for score in scores), min(scores)
    strategy = text_engine.strategy('early_exit')
    resources = text_engine.resources(budget_mj=0.0)
    for text in stops[:10]:
        outcome = text_engine.infer(text, strategy, resources)
        assert 'stop gate cleared' not in outcome.reason, outcome.reason
        assert outcome.exit_layer == text_engine.models.num_layers


@pytest.mark.parametrize('name', ADAPTIVE)
def test_a_command_the_gate_clears_continues_under_its_strategy(text_engine,
                                                                flagged_and_cleared, name):
    """Cleared after the gate's layer: the requested strategy goes on from there."""
    engine = text_engine
    gate = engine.safety.gate
    fast = engine.safety.fast_mode
    strategy = engine.strategy(name)
    resources = engine.resources(battery_fraction=0.5)
    for text in flagged_and_cleared[1][:6]:
        outcome = engine.infer(text, strategy, resources)
        assert 'safety override' in outcome.reason
        assert f'stop gate cleared after layer {gate.layers}' in outcome.reason, outcome.reason
        assert outcome.strategy == name
        first = outcome.segments[0]
        assert first.layers == tuple(range(1, gate.layers + 1)) and not first.refined
        assert (first.precision, first.backend) == (mode_precision(fast), mode_backend(fast))
        # the strategy decided after the gate: its reasons follow the gate's
        after = outcome.reason.split('stop gate cleared', 1)[1]
        assert ';' in after, outcome.reason


def test_the_gate_reads_the_exit_once_and_an_unknown_reading_never_clears():
    """``SafetyGate.clears`` and ``InputRun.clear`` without a model."""
    from adaptive_nlp_ros.core.inference.decisions import DecisionState, InputSummary
    from adaptive_nlp_ros.core.inference.segment_loop import InputRun
    from adaptive_nlp_ros.core.inference.strategies.safety_path import SafetyGate

    gate = SafetyGate(1, 0.2)
    assert gate.clears(0.1) and not gate.clears(0.2) and not gate.clears(math.nan)

    class Path:
        name, gate = 'safety_path', SafetyGate(1, 0.2)

    class Requested:
        name = 'early_exit'

    def run_after_gate(reading: float) -> InputRun:
        run = InputRun(Path(), DecisionState(None, InputSummary('text', 4)), ['go', 'stop'],
                       6, cleared=Requested())
        run.record(SegmentRecord((1,), 'int8', 'ort', 0.0), 1, torch.tensor([0.9, 0.1]),
                   stop_anywhere=reading)
        return run

    for reading, clears in ((0.05, True), (0.5, False), (math.nan, False)):
        run = run_after_gate(reading)
        assert run.clear() is clears
        assert run.strategy.name == ('early_exit' if clears else 'safety_path')
        assert run.clear() is False         # asked once
