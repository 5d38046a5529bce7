"""
The stop check in two stages: the receipt's TF-IDF flag, then the safety path's release.

Issue 15 asks for a stop detector that flags every stop of the dev, test and hand-written
sets and at most 5% of the held-out family's non-stops, and for the full-depth passes the
check causes to stay under 5% of those non-stops. The receipt's flag (TF-IDF) decides the
queue's lane; a flagged command then runs the safety path's first layers and, at the release
layer, goes back to its strategy when that exit finds stop implausible (``SafetyRelease``,
fitted on dev at training). Measured through the engine itself: each flagged command is
answered by ``early_exit`` at a full battery and its reasons say whether it was released.
A command holding ``stop`` in any action counts as a stop.

Usage: bin/env-run python bench/bench_stop_check.py
"""

import pathlib
import sys
from typing import Dict

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

RELEASED = 'released from the safety path'
TARGET_SHARE = 0.05


def _holds_stop(label: str, actions, safety_label: str) -> bool:
    """Return True when the command's first action or any other is the safety label."""
    return label == safety_label or any(action.intent == safety_label
                                        for action in actions or ())


def measure(engine, dataset) -> Dict[str, object]:
    """Count stops and non-stops through both stages on one set."""
    label = engine.safety_label
    strategy = engine.strategy('early_exit')
    resources = engine.resources(battery_fraction=1.0)
    figures = {'commands': len(dataset), 'stops': 0, 'stops_flagged': 0, 'stops_released': 0,
               'non_stops': 0, 'non_stops_flagged': 0, 'non_stops_kept': 0,
               'stops_missed': [], 'stops_released_texts': []}
    for text, first, actions in zip(dataset.texts, dataset.labels, dataset.actions):
        stop = _holds_stop(first, actions, label)
        flagged = engine.safety_check(text).possible
        figures['stops' if stop else 'non_stops'] += 1
        if not flagged:
            if stop:
                figures['stops_missed'].append(text)
            continue
        released = RELEASED in engine.infer(text, strategy, resources).reason
        if stop:
            figures['stops_flagged'] += 1
            if released:
                figures['stops_released'] += 1
                figures['stops_released_texts'].append(text)
        else:
            figures['non_stops_flagged'] += 1
            figures['non_stops_kept'] += int(not released)
    return figures


def run(engine, sets) -> Dict[str, object]:
    """Measure every set; return the figures with the release rule in force."""
    rule = engine.safety.release
    return {'release': rule.to_table() if rule is not None else None,
            'threshold': engine.models.safety_threshold,
            'sets': {name: measure(engine, dataset) for name, dataset in sets.items()}}


def _share(part: int, whole: int) -> str:
    return f'{part}/{whole} ({100.0 * part / max(1, whole):.1f} %)'


def markdown(figures: Dict[str, object]) -> str:
    """Return the section: one row per set, then the commands the two stages let through."""
    rule = figures['release']
    if rule is None:
        how = 'This model has no release rule: every flagged command runs the whole path.'
    else:
        how = (f'Release rule (fitted on dev when the model was trained): at layer '
               f'{rule["layer"]}, stop as the first action below '
               f'{rule["label_probability"]:.3f} and as any action below '
               f'{rule["action_probability"]:.3f}.')
    lines = ['## The stop check in two stages', '',
             f'Receipt: TF-IDF stop score >= {figures["threshold"]:.3f}. {how} A command '
             'holding `stop` in any action counts as a stop; "kept" non-stops are the full-depth '
             'passes the check causes (bench_stop_check.py, early_exit at a full battery).', '',
             '| set | stops flagged at receipt | flagged stops released | non-stops flagged at '
             'receipt | non-stops kept on the path (full depth) |',
             '|---|---|---|---|---|']
    for name, row in figures['sets'].items():
        lines.append(f'| {name} | {_share(row["stops_flagged"], row["stops"])} | '
                     f'{row["stops_released"]} | '
                     f'{_share(row["non_stops_flagged"], row["non_stops"])} | '
                     f'{_share(row["non_stops_kept"], row["non_stops"])} |')
    lines.append('')
    for name, row in figures['sets'].items():
        for what, key in (('not flagged at receipt', 'stops_missed'),
                          ('released', 'stops_released_texts')):
            if row[key]:
                lines.append(f'- {name}, stops {what}: '
                             + '; '.join(f'`{text}`' for text in row[key]))
    return '\n'.join(lines) + '\n'


def checks(figures: Dict[str, object]):
    """Return (target, measured, met) rows for the targets table."""
    sets = figures['sets']
    guarded = [name for name in sets if name != 'legacy relabelled']
    missed = {name: sets[name]['stops'] - sets[name]['stops_flagged'] + sets[name][
        'stops_released'] for name in guarded}
    held = sets['held-out family']
    flagged_share = held['non_stops_flagged'] / max(1, held['non_stops'])
    kept_share = held['non_stops_kept'] / max(1, held['non_stops'])
    return [
        ('stop check flags every stop of dev, held-out and hand-written (receipt flag, not '
         'released)', ', '.join(f'{name}: {missed[name]} of {sets[name]["stops"]} let through'
                                for name in guarded), not any(missed.values())),
        ('stop check (both stages) leaves <= 5% of held-out non-stops on the safety path; '
         'full-depth passes caused by it <= 5%',
         f'{100 * kept_share:.1f}% (receipt alone flags {100 * flagged_share:.1f}%)',
         kept_share <= TARGET_SHARE)]


def main() -> int:
    """Measure on dev, the held-out family, the hand-written set and the legacy test split."""
    from adaptive_nlp_ros.core.inference.engine import load_text_engine
    from adaptive_nlp_ros.core.training.dataset import load_dataset
    from run_all import CORPUS

    engine = load_text_engine(threads=1)
    test = load_dataset(CORPUS / 'test.jsonl')
    figures = run(engine, {'dev': load_dataset(CORPUS / 'dev.jsonl'),
                           'held-out family': test.subset('generated'),
                           'hand-written': test.subset('handwritten'),
                           'legacy relabelled': load_dataset(CORPUS / 'legacy'
                                                             / 'test_relabelled.jsonl')})
    print(markdown(figures))
    for target, measured, met in checks(figures):
        print(f'{target}: {measured} -> {"met" if met else "not met"}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
