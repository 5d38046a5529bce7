"""
Absolute quality floors on commands the models never saw: a broken model fails here.

Every other test compares a strategy with ``full`` or a mode with fp32; these compare the
shipped models with numbers: first-action accuracy, and the whole parse (sequence exactness,
argument F1; ``core/evaluation/structure_metrics.py``). Each floor is a value measured on the
shipped artifacts (``MEASURED`` below; ``python test/test_model_quality.py`` prints them all)
less a margin, per part of ``data/test.jsonl``. The margin covers retraining on another
machine of this kind (CI trains its own models; training is seeded and gave the same numbers
twice here) and nothing more. ``bench/mutation_check.py`` shows which tests catch a model
trained on too little data or on the wrong labels.

The test split's generated part is the held-out template family, the hand-written part was
written by people: training and calibration never see either.

Below full battery the strategies choose from the cost profile, and the profile training
takes is this machine's timer: CI's CPU, or another job beside it, moved the low-battery
answers by up to 20 points of argument F1 with the very same weights. Every answer here is
therefore taken under ``test/data/reference_cost_profile.json`` (the profile of the machine
the floors were measured on), so that a floor moves only when a model does; how the
strategies behave under the machine's own profile is ``test_strategies.py``'s business.
"""

import json
import os
import pathlib
import random
import subprocess
import sys
from typing import Dict, List, Sequence, Tuple

from adaptive_nlp_ros.core.evaluation.structure_metrics import structure_summary
from adaptive_nlp_ros.core.inference.cost_profile import CostProfile
from adaptive_nlp_ros.core.inference.engine import TextEngine
from adaptive_nlp_ros.core.inference.strategies import ADAPTIVE
from adaptive_nlp_ros.core.markup import INTENTS
from adaptive_nlp_ros.core.training.calibration import expected_calibration_error
from adaptive_nlp_ros.core.training.dataset import Dataset, load_dataset
from adaptive_nlp_ros.core.training.training import exit_probabilities
import numpy as np
import pytest

GENERATED, HANDWRITTEN = 'generated', 'handwritten'
SPLITS = (GENERATED, HANDWRITTEN)
BATTERIES = (1.0, 0.3)
CHEAP = 'static:tfidf_logreg'                 # the cheap tier alone: TF-IDF and word tagger
BATTERY_FREE = ('full', CHEAP)                # these ignore the battery
REFERENCE_PROFILE = pathlib.Path(__file__).resolve().parent / 'data' / \
    'reference_cost_profile.json'
# First-action accuracy measured on the shipped artifacts: (split, strategy, battery) -> value,
# and (sequence exact, argument F1) of the same answers, under the reference profile.
# Regenerate them with ``bin/env-run python adaptive_nlp_ros/test/test_model_quality.py``
# (measured 2026-12-07). moe_gate's rows are from after its gate chose among depths
# (``gate_experts``); a gate refitted on a profile that prices fp32 layers at half gave the same
# scores within 0.002.
MEASURED: Dict[Tuple[str, str, float], float] = {}
MEASURED_STRUCTURE: Dict[Tuple[str, str, float], Tuple[float, float]] = {}
_ROWS = (  # split, strategy, battery, accuracy, sequence exact, argument F1
    ('generated', 'full', 1.0, 0.861, 0.783, 0.808),
    ('generated', 'static:tfidf_logreg', 1.0, 0.665, 0.506, 0.484),
    ('generated', 'energy_greedy', 1.0, 0.858, 0.777, 0.802),
    ('generated', 'energy_greedy', 0.3, 0.853, 0.773, 0.790),
    ('generated', 'fuzzy_complexity', 1.0, 0.859, 0.778, 0.803),
    ('generated', 'fuzzy_complexity', 0.3, 0.827, 0.735, 0.769),
    ('generated', 'moe_gate', 1.0, 0.854, 0.759, 0.783),
    ('generated', 'moe_gate', 0.3, 0.833, 0.730, 0.764),
    ('generated', 'early_exit', 1.0, 0.858, 0.777, 0.802),
    ('generated', 'early_exit', 0.3, 0.860, 0.777, 0.800),
    ('generated', 'segment_precision', 1.0, 0.860, 0.782, 0.805),
    ('generated', 'segment_precision', 0.3, 0.859, 0.781, 0.806),
    ('generated', 'moe_routing', 1.0, 0.860, 0.782, 0.805),
    ('generated', 'moe_routing', 0.3, 0.860, 0.781, 0.805),
    ('generated', 'progressive', 1.0, 0.860, 0.781, 0.807),
    ('generated', 'progressive', 0.3, 0.858, 0.777, 0.801),
    ('handwritten', 'full', 1.0, 0.959, 0.921, 0.913),
    ('handwritten', 'static:tfidf_logreg', 1.0, 0.772, 0.723, 0.742),
    ('handwritten', 'energy_greedy', 1.0, 0.959, 0.918, 0.908),
    ('handwritten', 'energy_greedy', 0.3, 0.959, 0.918, 0.908),
    ('handwritten', 'fuzzy_complexity', 1.0, 0.959, 0.918, 0.912),
    ('handwritten', 'fuzzy_complexity', 0.3, 0.933, 0.891, 0.887),
    ('handwritten', 'moe_gate', 1.0, 0.959, 0.921, 0.922),
    ('handwritten', 'moe_gate', 0.3, 0.869, 0.813, 0.842),
    ('handwritten', 'early_exit', 1.0, 0.959, 0.918, 0.906),
    ('handwritten', 'early_exit', 0.3, 0.936, 0.891, 0.889),
    ('handwritten', 'segment_precision', 1.0, 0.959, 0.921, 0.914),
    ('handwritten', 'segment_precision', 0.3, 0.948, 0.914, 0.909),
    ('handwritten', 'moe_routing', 1.0, 0.959, 0.921, 0.914),
    ('handwritten', 'moe_routing', 0.3, 0.944, 0.906, 0.903),
    ('handwritten', 'progressive', 1.0, 0.959, 0.925, 0.914),
    ('handwritten', 'progressive', 0.3, 0.959, 0.918, 0.908),
)
for _split, _name, _battery, _accuracy, _exact, _f1 in _ROWS:
    MEASURED[(_split, _name, _battery)] = _accuracy
    MEASURED_STRUCTURE[(_split, _name, _battery)] = (_exact, _f1)
for _split in (GENERATED, HANDWRITTEN):
    for _name in BATTERY_FREE:
        MEASURED[(_split, _name, 0.3)] = MEASURED[(_split, _name, 1.0)]
        MEASURED_STRUCTURE[(_split, _name, 0.3)] = MEASURED_STRUCTURE[(_split, _name, 1.0)]
MARGIN = 0.02
STRUCTURE_MARGIN = 0.03
STOP_RECALL_FLOOR = 0.78          # measured 0.812 .. 0.841 (69 first-action stops)
FLAGGED_STOP_FLOOR = 0.93         # measured 0.957 (66 of 69)
LABEL_RECALL_FLOOR = 0.55         # measured minimum 0.618 (report) for full, whole test split
EXIT_ECE_CEILING = 0.15           # measured 0.055 .. 0.117 per exit on the test split
CONFIDENT = 0.9                   # answers this sure ...
CONFIDENT_SHARE_FLOOR = 0.2       # ... are at least this share (measured 0.21 .. 0.79) ...
CONFIDENT_ACCURACY_FLOOR = 0.85   # ... and right this often (measured 0.870 .. 0.943)
STRATEGIES = BATTERY_FREE + ADAPTIVE


def floor(split: str, name: str, battery: float) -> float:
    """Return the first-action accuracy a strategy must reach on a split at a battery level."""
    return MEASURED[(split, name, battery)] - MARGIN


def structure_floor(split: str, name: str, battery: float) -> Tuple[float, float]:
    """Return the (sequence exact, argument F1) a strategy must reach."""
    exact, f1 = MEASURED_STRUCTURE[(split, name, battery)]
    return exact - STRUCTURE_MARGIN, f1 - STRUCTURE_MARGIN


def answer_all(engine, texts: Sequence[str], name: str, battery: float) -> List:
    """Answer every text one at a time, as the controller does."""
    strategy = engine.strategy(name)
    resources = engine.resources(battery_fraction=battery)
    return [engine.infer(text, strategy, resources) for text in texts]


def split_rows(dataset: Dataset, split: str) -> List[int]:
    """Return the rows of ``dataset`` from ``split`` (there are enough to measure on)."""
    rows = [i for i, source in enumerate(dataset.sources) if source == split]
    assert len(rows) >= 250, f'{split}: only {len(rows)} lines'
    return rows


def split_accuracy(outcomes: Sequence, dataset: Dataset, split: str) -> float:
    """Return the first-action accuracy of ``outcomes`` on the lines of ``split``."""
    rows = split_rows(dataset, split)
    return float(np.mean([outcomes[i].label == dataset.labels[i] for i in rows]))


def split_structure(outcomes: Sequence, dataset: Dataset, split: str) -> Tuple[float, float]:
    """Return (sequence exact, argument F1) of ``outcomes`` on the lines of ``split``."""
    rows = split_rows(dataset, split)
    summary = structure_summary([outcomes[i].actions for i in rows],
                                [dataset.actions[i] for i in rows])
    return summary['sequence_exact'], summary['argument_f1']


def floor_failures(outcomes: Sequence, dataset: Dataset, name: str,
                   battery: float) -> List[str]:
    """Return every accuracy floor that one strategy's answers over ``dataset`` miss."""
    failures = []
    for split in SPLITS:
        accuracy = split_accuracy(outcomes, dataset, split)
        if accuracy < floor(split, name, battery):
            failures.append(f'{name} at battery {battery} on {split}: accuracy '
                            f'{accuracy:.3f} < floor {floor(split, name, battery):.3f}')
    return failures


def all_answers(engine, dataset: Dataset) -> Dict[Tuple[str, float], List]:
    """Outcomes of every strategy at both battery levels over ``dataset``."""
    outcomes: Dict[Tuple[str, float], List] = {}
    for name in STRATEGIES:
        for battery in BATTERIES:
            if name in BATTERY_FREE and battery != BATTERIES[0]:
                outcomes[(name, battery)] = outcomes[(name, BATTERIES[0])]
                continue
            outcomes[(name, battery)] = answer_all(engine, dataset.texts, name, battery)
    return outcomes


def under_reference_profile(engine: TextEngine) -> TextEngine:
    """Return an engine over the same models that decides by the reference cost profile."""
    return TextEngine(engine.models, CostProfile.load(REFERENCE_PROFILE), engine.budget_model,
                      engine.complexity_weights)


@pytest.fixture(scope='module')
def answers(text_engine, test_split) -> Dict[Tuple[str, float], List]:
    """Outcomes of every strategy at both battery levels over the whole test split."""
    return all_answers(under_reference_profile(text_engine), test_split)


@pytest.mark.parametrize('split', SPLITS)
@pytest.mark.parametrize('battery', BATTERIES)
@pytest.mark.parametrize('name', STRATEGIES)
def test_accuracy_floor_on_held_out_commands(answers, test_split, name, battery, split):
    accuracy = split_accuracy(answers[(name, battery)], test_split, split)
    assert accuracy >= floor(split, name, battery), (
        f'{name} at battery {battery} on the {split} test commands: {accuracy:.3f} < '
        f'{floor(split, name, battery):.3f} (measured {MEASURED[(split, name, battery)]})')


@pytest.mark.parametrize('split', SPLITS)
@pytest.mark.parametrize('battery', BATTERIES)
@pytest.mark.parametrize('name', STRATEGIES)
def test_structure_floor_on_held_out_commands(answers, test_split, name, battery, split):
    """The whole parse, not only the label: intent sequence and arguments of every action."""
    exact, f1 = split_structure(answers[(name, battery)], test_split, split)
    exact_floor, f1_floor = structure_floor(split, name, battery)
    assert exact >= exact_floor and f1 >= f1_floor, (
        f'{name} at battery {battery} on the {split} test commands: sequence exact '
        f'{exact:.3f} (floor {exact_floor:.3f}), argument F1 {f1:.3f} (floor {f1_floor:.3f})')


def stop_recall(outcomes: Sequence, dataset: Dataset) -> float:
    """Return the share of commands whose first action is stop that are answered stop."""
    rows = [i for i, label in enumerate(dataset.labels) if label == 'stop']
    assert len(rows) >= 60
    return float(np.mean([outcomes[i].label == 'stop' for i in rows]))


@pytest.mark.parametrize('battery', BATTERIES)
@pytest.mark.parametrize('name', STRATEGIES)
def test_stop_recall_floor(answers, test_split, name, battery):
    """Every strategy answers nearly every held-out stop ``stop``, whatever the battery."""
    recall = stop_recall(answers[(name, battery)], test_split)
    assert recall >= STOP_RECALL_FLOOR, f'{name} at battery {battery}: stop recall {recall:.3f}'


def label_recalls(outcomes: Sequence, dataset: Dataset) -> Dict[str, float]:
    """Return the recall of each first-action label over ``dataset``."""
    recalls = {}
    for label in sorted(set(dataset.labels)):
        rows = [i for i, gold in enumerate(dataset.labels) if gold == label]
        recalls[label] = float(np.mean([outcomes[i].label == label for i in rows]))
    return recalls


def test_every_label_is_recognised_by_full(answers, test_split):
    """No label is lost: ``full`` recalls each one on the test split."""
    for label, recall in label_recalls(answers[('full', BATTERIES[0])], test_split).items():
        assert recall >= LABEL_RECALL_FLOOR, f'{label}: recall {recall:.3f}'


def test_stops_are_flagged_by_the_stop_check(text_engine, test_split, corpus_dir):
    """
    The check at receipt sends stops down the safety path.

    Nearly every dev command whose first action is a stop: the threshold is half the lowest
    dev score, but never below 0.02, and one dev stop scores under that (59 of 60 flagged); on
    the held-out test split nearly every one too (measured 0.957: phrasings no training line
    resembles, such as "kill the motors", are what it misses).
    """
    dev = load_dataset(corpus_dir / 'dev.jsonl')
    dev_stops = [text for text, label in zip(dev.texts, dev.labels) if label == 'stop']
    missed = [text for text in dev_stops if not text_engine.safety_check(text).possible]
    assert len(missed) <= 1, f'dev stops not flagged: {missed}'
    stops = [text for text, label in zip(test_split.texts, test_split.labels) if label == 'stop']
    missed = [text for text in stops if not text_engine.safety_check(text).possible]
    assert 1 - len(missed) / len(stops) >= FLAGGED_STOP_FLOOR, f'not flagged: {missed}'


@pytest.fixture(scope='module')
def test_exit_probabilities(text_engine, test_split):
    """Calibrated probabilities of every exit (fp32) on the test split: [layers, n, labels]."""
    models = text_engine.models
    return exit_probabilities(models.encoder, models.heads, models.tokenizer, test_split.texts,
                              'fp32')


def test_text_exits_are_calibrated_on_commands_not_used_to_fit_them(
        text_engine, test_split, test_exit_probabilities):
    """Temperatures were fitted on dev; on the held-out test split a confidence still holds."""
    targets = np.array([text_engine.models.labels.index(label) for label in test_split.labels])
    for layer, probabilities in enumerate(test_exit_probabilities, start=1):
        ece = expected_calibration_error(probabilities, targets)
        assert ece <= EXIT_ECE_CEILING, f'exit {layer}: test ECE {ece:.3f}'
        confident = probabilities.max(axis=1) >= CONFIDENT
        accuracy = float((probabilities.argmax(axis=1) == targets)[confident].mean())
        assert confident.mean() > CONFIDENT_SHARE_FLOOR and (
            accuracy >= CONFIDENT_ACCURACY_FLOOR), (
            f'exit {layer}: {confident.mean():.2f} of answers >= {CONFIDENT}, right '
            f'{accuracy:.3f}')


# -- the floors catch a model trained on the wrong labels -------------------------------------

def shifted_labels() -> Dict[str, str]:
    """Map each intent to the next one in sorted order (a permutation with no fixed point)."""
    ordered = sorted(INTENTS)
    return {label: ordered[(i + 1) % len(ordered)] for i, label in enumerate(ordered)}


def _permuted_subset(source: pathlib.Path, out: pathlib.Path, count: int) -> pathlib.Path:
    """Write ``count`` lines of ``source`` (seeded pick), labels only, each moved to the next."""
    records = [json.loads(line) for line in source.read_text().splitlines() if line.strip()]
    shifted = shifted_labels()
    random.Random(5).shuffle(records)
    out.write_text(''.join(json.dumps({'text': record['text'],
                                       'label': shifted[record['label']]}) + '\n'
                           for record in records[:count]))
    return out


def test_a_model_trained_on_the_wrong_labels_fails_the_floors(tmp_path, corpus_dir,
                                                              test_split):
    """
    Train on labels moved one step (1 epoch, a subset): ``full`` misses its floors.

    The model did learn (it agrees with the moved labels far above chance): the floors fail
    because what it learned is wrong, which no relative check (agreement with fp32, stop
    recall against ``full``) could see.
    """
    from adaptive_nlp_ros.core.inference.engine import load_text_engine

    train = _permuted_subset(corpus_dir / 'train.jsonl', tmp_path / 'train.jsonl', 700)
    dev = _permuted_subset(corpus_dir / 'dev.jsonl', tmp_path / 'dev.jsonl', 140)
    out = tmp_path / 'artifacts'
    completed = subprocess.run(
        [sys.executable, '-m', 'adaptive_nlp_ros.cli', 'train', '--data', str(train), '--dev',
         str(dev), '--out', str(out), '--epochs', '1', '--no-images'],
        capture_output=True, text=True, env=dict(os.environ), timeout=600)
    assert completed.returncode == 0, completed.stderr[-3000:]
    engine = under_reference_profile(load_text_engine(out, threads=1))
    outcomes = answer_all(engine, test_split.texts, 'full', 1.0)
    labels = [outcome.label for outcome in outcomes]
    shifted = shifted_labels()
    learned = np.mean([label == shifted[gold] for label, gold in zip(labels, test_split.labels)])
    # Chance is 1/18; measured 0.39 after one epoch on 700 lines.
    assert learned > 0.25, f'the permuted model learned too little ({learned:.2f})'
    failures = floor_failures(outcomes, test_split, 'full', 1.0)
    assert len(failures) == 2, failures               # both held-out parts
    assert all('full at battery' in failure for failure in failures)


def measure(artifacts: pathlib.Path) -> None:
    """Print the numbers this module's floors come from (measured on ``artifacts``)."""
    from adaptive_nlp_ros.core.inference.engine import load_text_engine

    engine = under_reference_profile(load_text_engine(artifacts, threads=1))
    dataset = load_dataset(pathlib.Path(__file__).resolve().parents[1] / 'adaptive_nlp_ros'
                           / 'data' / 'test.jsonl')
    outcomes = all_answers(engine, dataset)
    for split in SPLITS:
        for (name, battery), answered in outcomes.items():
            exact, f1 = split_structure(answered, dataset, split)
            print(f'{split:<12}{name:<20}{battery:>5} accuracy '
                  f'{split_accuracy(answered, dataset, split):.3f} sequence_exact {exact:.3f} '
                  f'argument_f1 {f1:.3f}')
    for (name, battery), answered in outcomes.items():
        print(f'stop recall {name:<20}{battery:>5} {stop_recall(answered, dataset):.3f}')
    recalls = label_recalls(outcomes[('full', BATTERIES[0])], dataset)
    print('label recall (full):', ' '.join(f'{k} {v:.3f}' for k, v in recalls.items()))
    probabilities = exit_probabilities(engine.models.encoder, engine.models.heads,
                                       engine.models.tokenizer, dataset.texts, 'fp32')
    targets = np.array([engine.models.labels.index(label) for label in dataset.labels])
    for layer, layer_probabilities in enumerate(probabilities, start=1):
        confident = layer_probabilities.max(axis=1) >= CONFIDENT
        print(f'exit {layer}: ECE {expected_calibration_error(layer_probabilities, targets):.3f}'
              f' confident {confident.mean():.2f} right '
              f'{(layer_probabilities.argmax(axis=1) == targets)[confident].mean():.3f}')


if __name__ == '__main__':
    measure(pathlib.Path(sys.argv[1] if len(sys.argv) > 1 else os.environ.get(
        'ADAPTIVE_NLP_ARTIFACTS', pathlib.Path(__file__).resolve().parents[2] / '.artifacts')))
