"""
Decision overhead per strategy (issue 15): the time ``decide`` takes, not inference.

Usage: bin/env-run python bench/bench_decisions.py [--commands N] [--split JSONL]
                                                   [--profile NAME ...]

Loads the engine and picks the timing commands as ``run_all.py`` does, then prints, per
strategy, the median of ``engine.infer(...).decision_ms`` at battery 0.5 (what
``bench_text.overheads`` reports; strategies interleaved per command, so load from other
processes spreads evenly), the decisions per command, and the time of one ``decide`` call
in a replay of the states the strategy saw. The replay runs back to back, with warm caches;
in the engine a decision follows inference, which has flushed them, and costs several times
as much. ``--profile`` runs the replay under cProfile and prints where it goes.
"""

import argparse
import cProfile
import pathlib
import pstats
import random
import statistics
import sys
import time
from typing import Dict, List

from adaptive_nlp_ros.core.inference.decisions import DecisionState
from adaptive_nlp_ros.core.inference.engine import load_text_engine
from adaptive_nlp_ros.core.inference.strategies import ADAPTIVE
from adaptive_nlp_ros.core.training.dataset import load_dataset

CORPUS = pathlib.Path(__file__).resolve().parent.parent / 'adaptive_nlp_ros' / \
    'adaptive_nlp_ros' / 'data'
REPLAYS = 20        # each recorded state is decided this many times in the replay


def recorded_states(engine, strategy, texts, resources) -> List[DecisionState]:
    """Return every state ``strategy.decide`` is asked about while answering ``texts``."""
    states: List[DecisionState] = []
    decide = strategy.decide

    def recording(state):
        states.append(state)
        return decide(state)
    strategy.decide = recording
    try:
        for text in texts:
            engine.infer(text, strategy, resources)
    finally:
        del strategy.decide
    return states


def replay_us(strategy, states: List[DecisionState]) -> float:
    """Return the mean time of one ``decide`` call over the recorded states, in us."""
    decide = strategy.decide
    start = time.perf_counter()
    for _ in range(REPLAYS):
        for state in states:
            decide(state)
    return (time.perf_counter() - start) * 1e6 / (REPLAYS * len(states))


def main() -> int:
    """Print the decision medians, and the profiles asked for."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--commands', type=int, default=400,
                        help='timing commands, sampled as run_all.py does (400; --quick: 120)')
    parser.add_argument('--split', default=str(CORPUS / 'test.jsonl'),
                        help='the commands to sample from (default: the shipped test split)')
    parser.add_argument('--profile', nargs='*', default=[], metavar='NAME',
                        help='strategies whose replayed decisions to profile')
    args = parser.parse_args()
    engine = load_text_engine(threads=1)
    test = load_dataset(args.split)
    rows = sorted(random.Random(11).sample(range(len(test)), args.commands))
    texts = [test.texts[i] for i in rows]
    resources = engine.resources(battery_fraction=0.5)
    names = ('full',) + ADAPTIVE
    strategies = {name: engine.strategy(name) for name in names}
    for text in texts[:10]:                                  # warm-up
        for strategy in strategies.values():
            engine.infer(text, strategy, resources)
    samples: Dict[str, List[float]] = {name: [] for name in names}
    for text in texts:
        for name, strategy in strategies.items():
            engine.clear_caches()       # as in run_all: each answer pays for its TF-IDF look
            samples[name].append(engine.infer(text, strategy, resources).decision_ms * 1e3)
    print(f'{len(texts)} commands, battery 0.5; decision time per command (us) and per call')
    print(f'{"strategy":18} {"median":>8} {"p90":>8} {"calls":>6} {"per call":>9}')
    for name, strategy in strategies.items():
        states = recorded_states(engine, strategy, texts, resources)
        ordered = sorted(samples[name])
        print(f'{name:18} {statistics.median(ordered):8.1f} '
              f'{ordered[int(0.9 * (len(ordered) - 1))]:8.1f} '
              f'{len(states) / len(texts):6.2f} {replay_us(strategy, states):9.2f}')
    for name in args.profile:
        strategy = strategies[name]
        states = recorded_states(engine, strategy, texts, resources)
        profiler = cProfile.Profile()
        profiler.runcall(replay_us, strategy, states)
        print(f'\n--- {name}: {REPLAYS} x {len(states)} decisions')
        pstats.Stats(profiler).sort_stats('tottime').print_stats(15)
    return 0


if __name__ == '__main__':
    sys.exit(main())
