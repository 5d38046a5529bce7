"""
What the safety path's release costs or saves in time, side by side.

Two engines on the same artifacts, one with the trained release rule and one without it
(the whole fast pass for every flagged command, as models trained before the rule run),
answer the benchmark's 400 timing commands interleaved per command (order alternating, TF-IDF
memo cleared before each answer, 3 passes, per-command median). Printed per strategy and
battery: mean ms over the flagged commands and over the rest. Only the flagged commands can
differ; the rest show the noise.

Usage: bin/env-run python bench/bench_safety_release.py [--battery F ...] [--strategy NAME ...]
"""

import argparse
import pathlib
import random
import statistics
import sys
import time
from typing import Dict, List

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

PASSES = 3


def without_release(engine):
    """Give ``engine`` the safety path without a release rule (the whole fast pass)."""
    from adaptive_nlp_ros.core.inference.strategies.safety_path import SafetyPath

    safety = engine.safety
    engine.safety = SafetyPath(engine.context, safety.fast_mode, safety.exact_mode,
                               safety.safety_label, safety.threshold)
    return engine


def compare(engines: Dict[str, object], texts: List[str], strategy: str,
            battery: float) -> Dict[str, Dict[str, float]]:
    """Return mean per-command median ms of each engine, flagged and other commands apart."""
    samples = {name: [[] for _ in texts] for name in engines}
    for repeat in range(PASSES):
        for row, text in enumerate(texts):
            names = list(engines) if (row + repeat) % 2 == 0 else list(engines)[::-1]
            for name in names:
                engine = engines[name]
                engine.clear_caches()
                chosen = engine.strategy(strategy)
                resources = engine.resources(battery_fraction=battery)
                started = time.perf_counter()
                engine.infer(text, chosen, resources)
                samples[name][row].append((time.perf_counter() - started) * 1e3)
    first = next(iter(engines.values()))
    flagged = [first.safety_check(text).possible for text in texts]
    figures = {}
    for name, rows in samples.items():
        medians = [statistics.median(row) for row in rows]
        figures[name] = {
            'flagged_ms': statistics.mean(m for m, f in zip(medians, flagged) if f),
            'other_ms': statistics.mean(m for m, f in zip(medians, flagged) if not f),
            'flagged': sum(flagged)}
    return figures


def main() -> int:
    """Print the side-by-side table."""
    from adaptive_nlp_ros.core.inference.engine import load_text_engine
    from adaptive_nlp_ros.core.training.dataset import load_dataset
    from run_all import CORPUS

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--battery', type=float, action='append')
    parser.add_argument('--strategy', action='append')
    args = parser.parse_args()
    test = load_dataset(CORPUS / 'test.jsonl')
    rows = sorted(random.Random(11).sample(range(len(test)), 400))   # make bench's timing set
    texts = [test.texts[i] for i in rows]
    engines = {'with release': load_text_engine(threads=1),
               'without': without_release(load_text_engine(threads=1))}
    if engines['with release'].safety.release is None:
        print('these artifacts have no release rule: nothing to compare')
        return 1
    print('| strategy | battery | flagged commands | flagged ms: with release / without | '
          'other ms: with / without |')
    print('|---|---|---|---|---|')
    for strategy in args.strategy or ['early_exit', 'energy_greedy']:
        for battery in args.battery or [1.0, 0.2]:
            figures = compare(engines, texts, strategy, battery)
            new, old = figures['with release'], figures['without']
            print(f'| {strategy} | {battery} | {new["flagged"]} | {new["flagged_ms"]:.2f} / '
                  f'{old["flagged_ms"]:.2f} ({new["flagged_ms"] / old["flagged_ms"] - 1:+.0%})'
                  f' | {new["other_ms"]:.2f} / {old["other_ms"]:.2f} |')
    return 0


if __name__ == '__main__':
    sys.exit(main())
