"""
The stop gate (issue 15, part 2): stops kept, full-depth passes saved, early exit's cost.

For dev, the held-out family (``source=generated`` in the test split) and the hand-written
set: how many commands holding a stop (first or later) the TF-IDF check flags and the gate
(``engine.fit_safety_gate``, fitted on dev only) keeps flagged, and the share of non-stops
sent down the full-depth safety path by the check alone and with the gate. Then
``early_exit`` at full battery on the held-out family with and without the gate,
configurations interleaved per command: first-action accuracy, stop recall, mean latency
and the share of non-stops answered at full depth for any reason (check, gate, escalation).

Run: ``bin/env-run python bench/measure_safety_gate.py [--layers 1 2] [--passes 3]``.
"""

import argparse
import json
import pathlib
import statistics
import time

from adaptive_nlp_ros.core.inference.engine import (fit_safety_gate, load_text_engine,
                                                    trained_dev_stops)
from adaptive_nlp_ros.core.training.dataset import load_dataset

DATA = (pathlib.Path(__file__).resolve().parent.parent / 'adaptive_nlp_ros' / 'adaptive_nlp_ros'
        / 'data')


def holds_stop(label, actions) -> bool:
    """Return True when a command's first action or any later one is a stop."""
    return label == 'stop' or any(action.intent == 'stop' for action in actions or ())


def split(dataset, source=None):
    """Return (text, holds a stop) pairs, of one source when given."""
    return [(text, holds_stop(label, actions))
            for text, label, actions, origin in zip(dataset.texts, dataset.labels,
                                                    dataset.actions, dataset.sources
                                                    or [''] * len(dataset.texts))
            if source is None or origin == source]


def gate_table(engine, sets, gate):
    """Return, per set, the stops kept flagged and the non-stops sent to full depth."""
    table = {}
    for name, rows in sets.items():
        flagged = [(text, stop) for text, stop in rows if engine.safety_check(text).possible]
        scores = engine.stop_gate_scores([text for text, _ in flagged], gate.layers)
        kept = [(stop, score >= gate.threshold) for (_, stop), score in zip(flagged, scores)]
        stops = sum(stop for _, stop in rows)
        others = len(rows) - stops
        table[name] = {
            'stops': stops,
            'stops_flagged': sum(stop for stop, _ in kept),
            'stops_kept_by_gate': sum(stop and keep for stop, keep in kept),
            'non_stops': others,
            'non_stops_full_depth_before': sum(not stop for stop, _ in kept) / others,
            'non_stops_full_depth_after': sum(not stop and keep for stop, keep in kept)
            / others,
        }
    return table


def early_exit_effect(engine, rows, gate, passes):
    """
    Return early_exit's accuracy, stop recall, latency and full-depth share, gate off and on.

    ``rows``: (text, first-action label, holds a stop). Latency: per command the median of
    ``passes`` calls, the two configurations interleaved per command, the TF-IDF memo
    cleared before each call; the figure is the mean over commands.
    """
    strategy = engine.strategy('early_exit')
    resources = engine.resources(battery_fraction=1.0)
    configurations = {'without_gate': None, 'with_gate': gate}
    latency = {name: [[] for _ in rows] for name in configurations}
    answers = {name: [] for name in configurations}
    for repeat in range(passes):
        for index, (text, _, _) in enumerate(rows):
            for name, setting in configurations.items():
                engine.set_safety_gate(setting)
                engine._cheap_memo.clear()
                start = time.perf_counter()
                outcome = engine.infer(text, strategy, resources)
                latency[name][index].append((time.perf_counter() - start) * 1e3)
                if repeat == 0:
                    answers[name].append(outcome)
    engine.set_safety_gate(gate)
    full = engine.models.num_layers
    result = {}
    for name, outcomes in answers.items():
        pairs = [(outcome, label, stop) for outcome, (_, label, stop) in zip(outcomes, rows)]
        result[name] = {
            'first_action_accuracy': statistics.mean(
                outcome.label == label for outcome, label, _ in pairs),
            'stop_recall': statistics.mean(
                outcome.label == 'stop' for outcome, label, _ in pairs if label == 'stop'),
            'mean_latency_ms': statistics.mean(statistics.median(samples)
                                               for samples in latency[name]),
            'mean_exit_layer': statistics.mean(outcome.exit_layer for outcome in outcomes),
            'non_stops_answered_at_full_depth': statistics.mean(
                outcome.exit_layer == full for outcome, _, stop in pairs if not stop),
            'gate_cleared': sum('stop gate cleared' in outcome.reason for outcome in outcomes),
        }
    return result


def main() -> int:
    """Print and write the measurements as JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    parser.add_argument('--artifacts', default='.artifacts')
    parser.add_argument('--layers', type=int, nargs='+', default=[1, 2])
    parser.add_argument('--passes', type=int, default=3)
    parser.add_argument('--json', default='bench/safety_gate_results.json')
    args = parser.parse_args()
    engine = load_text_engine(args.artifacts)
    dev = load_dataset(DATA / 'dev.jsonl')
    test = load_dataset(DATA / 'test.jsonl')
    sets = {'dev': split(dev), 'held_out_generated': split(test, 'generated'),
            'handwritten': split(load_dataset(DATA / 'test_handwritten.jsonl'))}
    report = {'gates': {}}
    dev_stops = trained_dev_stops(engine.models.directory, engine.models.safety_label)
    for layers in args.layers:
        gate = fit_safety_gate(engine, dev_stops, layers)
        report['gates'][layers] = {'threshold': gate.threshold,
                                   'sets': gate_table(engine, sets, gate)}
        print(f'gate after {layers} layer(s): threshold {gate.threshold:.4f}')
        for name, row in report['gates'][layers]['sets'].items():
            print(f'  {name}: stops kept {row["stops_kept_by_gate"]}/{row["stops_flagged"]} '
                  f'flagged ({row["stops"]} stops); non-stops to full depth '
                  f'{row["non_stops_full_depth_before"]:.3f} -> '
                  f'{row["non_stops_full_depth_after"]:.3f}')
    gate = fit_safety_gate(engine, dev_stops, args.layers[0])
    rows = [(text, label, holds_stop(label, actions))
            for text, label, actions, origin in zip(test.texts, test.labels, test.actions,
                                                    test.sources) if origin == 'generated']
    report['early_exit_held_out'] = early_exit_effect(engine, rows, gate, args.passes)
    print(f'early_exit, held-out family, gate after {gate.layers} layer(s):')
    for name, row in report['early_exit_held_out'].items():
        print(f'  {name}: ' + ', '.join(f'{key} {value:.4g}' for key, value in row.items()))
    pathlib.Path(args.json).write_text(json.dumps(report, indent=1) + '\n')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
