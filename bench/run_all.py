"""
``make bench``: every benchmark in one run, written to bench/RESULTS.md, results.json and PNGs.

Usage: bin/env-run python bench/run_all.py [--quick]
"""

import argparse
import pathlib
import random
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))

from adaptive_nlp_ros.core.training.dataset import load_dataset  # noqa: E402
from adaptive_nlp_ros.core.inference.engine import load_text_engine  # noqa: E402
from adaptive_nlp_ros.core.evaluation.evaluation import evaluate  # noqa: E402
import bench_exit_structure  # noqa: E402
import bench_structure  # noqa: E402
import bench_text  # noqa: E402
from common import BENCH_DIR, environment, write_json  # noqa: E402
import report  # noqa: E402

CORPUS = pathlib.Path(__file__).resolve().parent.parent / 'adaptive_nlp_ros' / \
    'adaptive_nlp_ros' / 'data'


def main() -> int:
    """Run every benchmark and write the results."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--quick', action='store_true', help='fewer commands and passes')
    parser.add_argument('--out', default=str(BENCH_DIR))
    args = parser.parse_args()
    out = pathlib.Path(args.out)
    started = time.time()
    engine = load_text_engine(threads=1)
    test = load_dataset(CORPUS / 'test.jsonl')
    rng = random.Random(11)
    timing_rows = sorted(rng.sample(range(len(test)), 120 if args.quick else 400))
    timing = [test.texts[i] for i in timing_rows]
    passes = 2 if args.quick else 3
    results = {'environment': environment({'batch_1': 1, 'batch_32': 2, 'engine': 1}),
               'quick': args.quick}

    def stage(name):
        print(f'[{time.time() - started:6.0f} s] {name}', flush=True)

    stage('latency and accuracy, batch 1 (1 thread)')
    results['batch_1'] = bench_text.throughput(engine, timing, test.texts, test.labels, 1, 1,
                                               passes)
    stage('latency and accuracy, batch 32 (2 threads)')
    batch_timing = [test.texts[i] for i in sorted(rng.sample(range(len(test)), 320 if not
                                                             args.quick else 128))]
    results['batch_32'] = bench_text.throughput(engine, batch_timing, test.texts, test.labels,
                                                2, 32, passes)
    import torch
    torch.set_num_threads(1)
    stage('early-exit criteria')
    mode = engine.strategy('early_exit').mode
    criteria = bench_text.early_exit_criteria(engine, test.texts, test.labels, mode)
    criteria['confidence_vs_patience'] = bench_text.compare_confidence_with_patience(criteria)
    criteria_fp32 = bench_text.early_exit_criteria(engine, test.texts, test.labels, 'fp32')
    criteria_fp32['confidence_vs_patience'] = bench_text.compare_confidence_with_patience(
        criteria_fp32)
    results['early_exit_criteria'] = {mode: criteria, 'fp32': criteria_fp32}
    stage('energy scenario')
    scenario_rows = sorted(rng.sample(range(len(test)), 300 if args.quick else 600))
    results['energy_scenario'] = bench_text.energy_scenario(
        engine, [test.texts[i] for i in scenario_rows], [test.labels[i] for i in scenario_rows])
    stage("strategies at battery levels, and at 30% of full's energy")
    levels = {}
    for battery in (1.0, 0.5, 0.2, 0.05):
        levels[str(battery)] = evaluate(engine, test, ['full', 'energy_greedy',
                                                       'fuzzy_complexity', 'moe_gate',
                                                       'early_exit', 'segment_precision',
                                                       'moe_routing', 'progressive'], battery)
    results['battery_levels'] = levels
    full_energy = bench_text.budget_check(engine, test.texts, test.labels, float('inf'),
                                          ['full'])['strategies']['full']['measured_mj']
    results['budget_30_percent'] = bench_text.budget_check(
        engine, test.texts, test.labels, 0.3 * full_energy, ('full',) + bench_text.ADAPTIVE)
    results['budget_30_percent']['full_measured_mj'] = full_energy
    results['accuracy_by_source'] = {
        'all': levels['1.0']['strategies']['full']['accuracy'],
        'handwritten': evaluate(engine, test.subset('handwritten'), ['full'], 1.0)[
            'strategies']['full']['accuracy'],
        'generated': evaluate(engine, test.subset('generated'), ['full'], 1.0)[
            'strategies']['full']['accuracy']}
    stage('structured understanding: three test sets, and the cost of structure')
    relabelled = load_dataset(CORPUS / 'legacy' / 'test_relabelled.jsonl')
    results['structure'] = {
        'quality': bench_structure.quality(engine, {
            'held-out family': test.subset('generated'),
            'hand-written': test.subset('handwritten'),
            'legacy relabelled': relabelled}),
        'cost': bench_structure.cost(engine, timing[:200] if not args.quick else timing[:60],
                                     passes),
        'cheap_tier': bench_structure.cheap_tier(engine, {
            'held-out family': test.subset('generated'),
            'hand-written': test.subset('handwritten')})}
    stage('early-exit criteria on the whole parse, tuned on dev, applied under shift')
    early_exit = engine.strategy('early_exit')
    results['structure']['exit_criteria'] = bench_exit_structure.compare(
        engine, {'dev': load_dataset(CORPUS / 'dev.jsonl'),
                 'held-out family': test.subset('generated'),
                 'hand-written': test.subset('handwritten')},
        early_exit.mode, float(early_exit.settings['threshold_at_full']))
    stage('the stop check in two stages: receipt flag and release')
    import bench_stop_check
    results['stop_check'] = bench_stop_check.run(engine, {
        'dev': load_dataset(CORPUS / 'dev.jsonl'),
        'held-out family': test.subset('generated'),
        'hand-written': test.subset('handwritten'),
        'legacy relabelled': relabelled})
    stage('overheads')
    results['overheads'] = bench_text.overheads(engine, timing)
    stage('controller on loopback (start-up, memory, latency, 100 commands/s)')
    import bench_controller
    results['controller'] = bench_controller.run(engine, timing, duration_s=10.0 if args.quick
                                                 else 30.0)
    stage('fleet: robots on one expert server, with and without batching')
    import bench_fleet
    results['fleet'] = bench_fleet.run(args.quick)
    stage('a 10 s partition in a 100-command stream (two hosts)')
    import bench_partition
    results['partition'] = bench_partition.run()
    stage('a burst of 2,000 commands, one at a time vs micro-batched')
    import bench_burst
    results['burst'] = bench_burst.run()
    if out.resolve() == BENCH_DIR.resolve():
        # The stand-alone pages carry this run's figures too, never an older run's.
        for stem, module in (('fleet', bench_fleet), ('partition', bench_partition),
                             ('burst', bench_burst)):
            module.write_page(results[stem])
    stage('a static-embedding tier distilled from the backbone, beside TF-IDF (STATIC.md)')
    import bench_static_tier
    results['static_tier'] = bench_static_tier.main()
    stage('image BranchyNet')
    results['branchynet'] = report.branchynet(engine, passes)
    results['seconds'] = time.time() - started
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / 'results.json', results)
    report.write(results, out)
    stage(f'written {out / "RESULTS.md"}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
