"""
The path every possible stop takes, whatever the strategy and the battery.

A command the stop check flags at receipt runs its first layers in the fast safety mode, up
to the release layer the model was trained with. There the exit is read: a command whose
exit finds stop implausible, as the first action and as any action, goes back to its
strategy (released); the others run every remaining layer fast, and when that pass does not
answer ``stop`` but leaves it plausible (its probability at least the check's threshold),
the whole pass is re-run in the exact fp32 mode and that answer stands. No strategy, battery
level or budget changes this; ``full`` is the reference and runs as is.
"""

import math
from typing import NamedTuple

from adaptive_nlp_ros.core.inference.first_action import read_structured_exit
from adaptive_nlp_ros.core.inference.strategies import ADAPTIVE
from adaptive_nlp_ros.core.inference.strategies.safety_path import SafetyPath
from adaptive_nlp_ros.core.inference.variant_pool import mode_backend, mode_precision
import numpy as np
import pytest
import torch

BATTERIES = (1.0, 0.5, 0.2, 0.05)
PER_COMBINATION = 12        # flagged commands per strategy and battery (a third each kind)
RELEASED = 'released from the safety path'


class ExitReading(NamedTuple):
    """One exit read as the engine reads it."""

    joint: np.ndarray          # label distribution (both heads)
    first_action: float        # stop's plausibility as the first action
    any_action: float          # stop's plausibility as any action (token intent head)


def structured_pass(engine, text: str, mode: str, layer: int = 0) -> ExitReading:
    """
    Return exit ``layer``'s reading (default: the last) with every layer before in ``mode``.

    Read as the engine reads it (both heads, ``read_structured_exit``), with the safety
    label's plausibility it tracks: the larger of the sentence head's and the joint's, and the
    token intent head's largest piece.
    """
    models, heads = engine.models, engine.models.heads
    layer = layer or models.num_layers
    prepared = engine.prepare(text)
    batch = prepared.batch
    with torch.inference_mode():
        hidden = models.encoder.embed(batch)
        for number in range(1, layer + 1):
            hidden = models.encoder.run_layer(number, hidden, batch, mode)
        sentence = heads.probabilities(layer, hidden, batch.token_mask)[0].numpy()
        pieces = batch.input_ids.shape[1]
        segment, roles, intents = (part[0, 1:pieces - 1].numpy() for part in
                                   heads.token_probabilities(layer, hidden))
    joint, _ = read_structured_exit(prepared.view, sentence, segment, roles, intents,
                                    heads.scheme, models.labels, engine.safety_index)
    stop = engine.safety_index
    return ExitReading(joint, float(max(sentence[stop], joint[stop])),
                       float(intents[:, engine.safety_intent_index].max()))


class Flagged(NamedTuple):
    """A flagged test command and what the safety path must do with it."""

    text: str
    rerun: bool                # kept on the path and re-run exactly
    released: bool             # handed back to its strategy at the release layer


@pytest.fixture(scope='module')
def flagged(text_engine, test_split):
    """Return flagged test commands, each with whether it is released or re-run."""
    engine = text_engine
    rule = engine.safety.release
    assert rule is not None, 'the trained model has no release rule'
    stop = engine.models.labels.index(engine.models.safety_label)
    rows = []
    for text in test_split.texts:
        if not engine.safety_check(text).possible:
            continue
        early = structured_pass(engine, text, engine.safety.fast_mode, rule.layer)
        released = (int(early.joint.argmax()) != stop
                    and early.first_action < rule.label_probability
                    and early.any_action < rule.action_probability)
        last = structured_pass(engine, text, engine.safety.fast_mode)
        rerun = (not released and int(last.joint.argmax()) != stop
                 and last.first_action >= engine.models.safety_threshold)
        rows.append(Flagged(text, rerun, released))
    assert len(rows) >= 150
    assert sum(row.rerun for row in rows) >= 5, 'no flagged command needs the re-run'
    assert sum(row.released for row in rows) >= 20, 'no flagged command is released'
    assert sum(not row.released and not row.rerun for row in rows) >= 20
    return rows


def sample(flagged, count: int):
    """Return about ``count`` flagged commands, a third of each kind (re-run, released, kept)."""
    third = max(1, count // 3)
    return ([row for row in flagged if row.rerun][:third]
            + [row for row in flagged if row.released][:third]
            + [row for row in flagged if not row.rerun and not row.released][:third])


def check_safety_path(engine, outcome, row: Flagged) -> None:
    """Assert what the safety path promises about one outcome."""
    layers = engine.models.num_layers
    release = engine.safety.release.layer
    fast, exact = engine.safety.fast_mode, engine.safety.exact_mode
    assert 'safety override' in outcome.reason, outcome.reason
    first = outcome.segments[0]
    assert first.layers == tuple(range(1, release + 1)) and not first.refined
    assert (first.precision, first.backend) == (mode_precision(fast), mode_backend(fast))
    if row.released:
        assert RELEASED in outcome.reason, outcome.reason
        return
    assert RELEASED not in outcome.reason, outcome.reason
    assert outcome.exit_layer == outcome.num_layers == layers, outcome.reason
    passes = [segment for segment in outcome.segments if not segment.refined]
    assert [layer for segment in passes for layer in segment.layers] == list(
        range(1, layers + 1))
    assert {(segment.precision, segment.backend) for segment in passes} == {
        (mode_precision(fast), mode_backend(fast))}
    refined = [segment for segment in outcome.segments if segment.refined]
    if row.rerun:
        assert len(refined) == 1 and refined[0].layers == tuple(range(1, layers + 1))
        assert (refined[0].precision, refined[0].backend) == ('fp32', mode_backend(exact))
        assert mode_precision(exact) == 'fp32' and outcome.refined
    else:
        assert not refined and not outcome.refined, outcome.reason


@pytest.mark.parametrize('battery', BATTERIES)
@pytest.mark.parametrize('name', ADAPTIVE)
def test_every_strategy_sends_possible_stops_down_the_safety_path(text_engine, flagged, name,
                                                                  battery):
    """Released at the release layer, else full depth fast and the exact re-run when due."""
    strategy = text_engine.strategy(name)
    resources = text_engine.resources(battery_fraction=battery)
    for row in sample(flagged, PER_COMBINATION):
        check_safety_path(text_engine, text_engine.infer(row.text, strategy, resources), row)


def test_no_budget_still_takes_the_whole_safety_path(text_engine, flagged):
    """An empty budget shortens every ordinary decision, never the safety path."""
    strategy = text_engine.strategy('early_exit')
    resources = text_engine.resources(budget_mj=0.0)
    for row in flagged[:40]:
        check_safety_path(text_engine, text_engine.infer(row.text, strategy, resources), row)


def test_the_exact_rerun_answers_as_the_fp32_reference(text_engine, flagged):
    """Where the re-run happens its label is the exact mode's, on every flagged command."""
    strategy = text_engine.strategy('moe_routing')
    resources = text_engine.resources(battery_fraction=0.05)
    models = text_engine.models
    for row in flagged:
        outcome = text_engine.infer(row.text, strategy, resources)
        check_safety_path(text_engine, outcome, row)
        if row.rerun:
            exact = structured_pass(text_engine, row.text, text_engine.safety.exact_mode)
            assert outcome.label == models.labels[int(exact.joint.argmax())], row.text


def test_full_runs_as_the_reference_without_the_safety_path(text_engine, flagged):
    strategy = text_engine.strategy('full')
    resources = text_engine.resources(battery_fraction=0.05)
    for row in flagged[:20]:
        outcome = text_engine.infer(row.text, strategy, resources)
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
    from adaptive_nlp_ros.core.inference.parse import LOOSE_STOP_ALONE

    models = text_engine.models
    assert models.stop_detector is not None
    index = models.labels.index(models.safety_label)
    holding, by_label, by_both = 0, 0, 0
    for text, label, actions in zip(test_split.texts, test_split.labels, test_split.actions):
        first = models.tfidf.probabilities(text)[index]
        both = safety_score(text, first, models.stop_detector)
        assert both >= first
        by_word = text_engine.stop_word_score(text) >= LOOSE_STOP_ALONE
        assert text_engine.safety_check(text).possible == (
            both >= models.safety_threshold or by_word)
        if label == 'stop' or any(action.intent == 'stop' for action in actions or ()):
            holding += 1
            by_label += first >= models.safety_threshold
            by_both += both >= models.safety_threshold
    assert holding >= 100 and by_both > by_label, (holding, by_label, by_both)


def test_a_words_stop_probability_is_the_detectors_reading_of_it_alone(text_engine):
    """The start-up table and the memo answer as the detector does, in any case."""
    detector = text_engine.models.stop_detector
    for word in ('halt', 'HALT', 'Wait', 'kitchen', 'stoppppp', 'Zyxwv'):
        expected = float(detector.probabilities(word)[-1])
        for _ in range(2):                                  # cold, then remembered
            assert text_engine.word_stop_probability(word) == pytest.approx(expected), word
    assert text_engine.word_stop_probability('halt') >= 0.99
    assert text_engine.word_stop_probability('kitchen') < 0.05
    assert text_engine.stop_word_score('go to the kitchen HALT bring me the keys') == (
        pytest.approx(text_engine.word_stop_probability('halt')))
    assert text_engine.stop_word_score('go to the kitchen and bring me the keys') == 0.0


def test_one_stop_word_among_task_words_flags_the_command(text_engine):
    """
    The detector reads whole commands; one sure stop word in the middle is read alone too.

    "go to the kitchen halt bring me the keys" scored 0.002 against a threshold of 0.02.
    """
    from adaptive_nlp_ros.core.inference.engine import safety_score

    models = text_engine.models
    index = models.labels.index(models.safety_label)
    for text in ('go to the kitchen halt bring me the keys',
                 'bring me the bottle wait put it on the table'):
        whole = safety_score(text, models.tfidf.probabilities(text)[index],
                             models.stop_detector)
        assert whole < models.safety_threshold, text       # the whole command alone: missed
        check = text_engine.safety_check(text)
        assert check.possible, text
        assert check.score == pytest.approx(whole), text   # a full stop lane demotes it first
    assert not text_engine.safety_check('bring me the bottle and put it on the table').possible


@pytest.mark.parametrize('name', ('full', 'static:tfidf_logreg') + ADAPTIVE)
def test_a_stop_said_between_two_tasks_is_in_every_strategys_parse(text_engine, name):
    """
    Unpunctuated, as a speech recogniser writes it.

    The token heads leave ``stop`` outside both actions or run it into the first
    (``parse.loose_safety`` reads it with the stop detector).
    """
    strategy = text_engine.strategy(name)
    for text in ('pick up the cup stop put it down', 'go to the kitchen halt bring me the keys',
                 'take the box to the garage halt come back here'):
        outcome = text_engine.infer(text, strategy, text_engine.resources(0.5))
        intents = [action.intent for action in outcome.actions]
        assert 'stop' in intents[1:-1], (text, intents)
        assert len(intents) == 3, (text, intents)


def test_an_answer_that_leaves_stop_plausible_continues_on_the_safety_path(
        text_engine, test_split):
    """Missed by the check at receipt, cut short by an empty budget: the exit still escalates."""
    engine = text_engine
    strategy = engine.strategy('early_exit')
    resources = engine.resources(budget_mj=0.0)
    layers = engine.models.num_layers
    escalated, escalated_texts, plain = [], [], []
    for text in test_split.texts:
        if engine.safety_check(text).possible:
            continue
        outcome = engine.infer(text, strategy, resources)
        if 'plausible after layer' in outcome.reason:
            escalated.append(outcome)
            escalated_texts.append(text)
        else:
            plain.append(outcome)
    assert len(escalated) >= 5, 'no unflagged exit left stop plausible: nothing is checked'
    assert len(escalated) <= 0.1 * (len(escalated) + len(plain))     # the exception
    for outcome in escalated:
        assert 'safety path' in outcome.reason and outcome.exit_layer == layers, outcome.reason
        later = outcome.segments[1]
        assert (later.precision, later.backend) == (mode_precision(engine.safety.fast_mode),
                                                    mode_backend(engine.safety.fast_mode))
    assert {outcome.exit_layer for outcome in plain} == {1}      # the budget cut the others
    # What the path answers stands: a whole pass in its mode answers each the same (a stop
    # among them on some models: which commands escalate depends on the model).
    whole_pass = engine.strategy(f'static:minilm_l{layers}_{engine.safety.fast_mode}')
    for text, outcome in zip(escalated_texts, escalated):
        alone = engine.infer(text, whole_pass, engine.resources(battery_fraction=1.0))
        assert (outcome.label, outcome.actions) == (alone.label, alone.actions), text


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


def contiguous(outcome) -> bool:
    """Return True when the passes (not re-runs) run layers 1, 2, ... once each, in order."""
    layers = [layer for segment in outcome.segments if not segment.refined
              for layer in segment.layers]
    return layers == list(range(1, len(layers) + 1))


def test_a_released_command_goes_on_with_its_strategy(text_engine, flagged):
    """After the release the strategy asked for decides, from the layers already run."""
    engine = text_engine
    strategy = engine.strategy('early_exit')
    resources = engine.resources(battery_fraction=1.0)
    release = engine.safety.release.layer
    released = [row for row in flagged if row.released][:30]
    for row in released:
        outcome = engine.infer(row.text, strategy, resources)
        assert RELEASED in outcome.reason and contiguous(outcome), outcome.reason
        assert outcome.exit_layer >= release
        if 'plausible after layer' not in outcome.reason:       # not back on the path
            assert all(segment.layers[0] > release for segment in outcome.segments[1:])
            assert outcome.exit_layer == release or len(outcome.segments) > 1
    together = engine.infer_batch([row.text for row in released], strategy, resources)
    alone = [engine.infer(row.text, strategy, resources) for row in released]
    assert [(o.label, o.exit_layer, o.reason) for o in together] == [
        (o.label, o.exit_layer, o.reason) for o in alone]


@pytest.mark.parametrize('battery', [1.0, 0.05])
@pytest.mark.parametrize('name', ['energy_greedy', 'fuzzy_complexity', 'moe_gate'])
def test_a_whole_variant_resumes_from_the_release_layer(text_engine, flagged, name, battery):
    """A coarse strategy's variant is not run again from layer 1 after a release."""
    engine = text_engine
    strategy = engine.strategy(name)
    resources = engine.resources(battery_fraction=battery)
    release = engine.safety.release.layer
    for row in [row for row in flagged if row.released][:15]:
        outcome = engine.infer(row.text, strategy, resources)
        assert RELEASED in outcome.reason and contiguous(outcome), outcome.reason
        assert outcome.exit_layer >= release
        assert 'already read' in outcome.reason or 'after the' in outcome.reason or (
            'plausible after layer' in outcome.reason), outcome.reason


def test_without_a_release_rule_the_fast_pass_runs_every_layer(text_engine):
    """Models trained before the rule (none in their pool table) keep the whole fast pass."""
    from adaptive_nlp_ros.core.inference.strategies.safety_path import SafetyRelease

    engine = text_engine
    assert SafetyRelease.from_table(None) is None
    plain = SafetyPath(engine.context, engine.safety.fast_mode, engine.safety.exact_mode,
                       engine.safety_label, engine.models.safety_threshold)
    assert plain.release is None and plain.fast_pass.count == engine.models.num_layers
    assert engine.safety.fast_pass.count == engine.safety.release.layer
    assert SafetyRelease.from_table(engine.safety.release.to_table()) == engine.safety.release


@pytest.mark.parametrize('name', ['energy_greedy', 'moe_gate'])
def test_an_answer_without_the_backbone_gets_a_look_at_layer_1(text_engine, test_split, name):
    """
    A TF-IDF answer reads layer 1 before it stands; a plausible stop there takes the path.

    At an empty budget the coarse strategies answer with TF-IDF, whose stop score is the
    receipt check's: without the look, a stop the check missed is answered as something else
    while ``full`` answers ``stop``.
    """
    engine = text_engine
    strategy = engine.strategy(name)
    resources = engine.resources(budget_mj=0.0)
    reference = engine.strategy('full')
    rows = [(text, label) for text, label in zip(test_split.texts, test_split.labels)
            if not engine.safety_check(text).possible]
    texts = [text for text, _ in rows]
    outcomes = [engine.infer(text, strategy, resources) for text in texts]
    looked = [outcome for outcome in outcomes if outcome.variant == 'tfidf_logreg']
    assert len(looked) >= 0.8 * len(outcomes)
    escalated = [o for o in looked if 'plausible after layer 1' in o.reason]
    assert 1 <= len(escalated) <= 0.1 * len(looked)
    fast = (mode_precision(engine.safety.fast_mode), mode_backend(engine.safety.fast_mode))
    for outcome in looked:
        look = outcome.segments[1]
        assert look.layers == (1,) and (look.precision, look.backend) == fast, outcome.reason
        if outcome in escalated:
            assert outcome.exit_layer == engine.models.num_layers, outcome.reason
        else:
            assert 'the answer stands' in outcome.reason and outcome.exit_layer == 0
    static = engine.strategy('static:tfidf_logreg')
    caught = 0
    for (text, label), outcome in zip(rows, outcomes):
        if outcome in looked and outcome not in escalated:
            assert outcome.label == engine.infer(text, static, resources).label, text
        if label == engine.safety_label and engine.infer(text, reference,
                                                         resources).label == label:
            assert outcome.label == label, (text, outcome.reason)    # stops full catches
            caught += 1
    assert caught >= 1, 'no unflagged stop that full catches: nothing is checked'
    together = engine.infer_batch(texts[:64], strategy, resources)
    assert [(o.label, o.exit_layer, o.reason) for o in together] == [
        (o.label, o.exit_layer, o.reason) for o in outcomes[:64]]


def test_one_feature_vector_serves_both_tfidf_models_alike(text_engine, test_split):
    """The receipt check computes a text's TF-IDF features once when both models share them."""
    from adaptive_nlp_ros.core.inference.engine import safety_score
    from adaptive_nlp_ros.core.inference.tfidf_classifier import TfidfClassifier

    models = text_engine.models
    assert models.tfidf.same_features(models.stop_detector)
    assert text_engine._detector_shares_features
    index = models.labels.index(models.safety_label)
    for text in test_split.texts[:300]:
        text_engine.clear_caches()
        separate = safety_score(text, models.tfidf.probabilities(text)[index],
                                models.stop_detector)
        assert text_engine.safety_check(text).score == separate, text
    other = TfidfClassifier.fit(['stop now', 'stop here', 'go left', 'go right'],
                                [1, 1, 0, 0], ['other', 'stop'])
    assert not models.tfidf.same_features(other)
