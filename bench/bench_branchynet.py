"""
Measure the image BranchyNet: early exit against the full network, batch 1, on the test split.

Usage (from the checkout):
    bin/env-run python bench/bench_branchynet.py [--model DIR] [--seed 7] [--passes 5]

Loads the model in DIR when it holds one, else trains one into a temporary directory. Prints one
JSON object to stdout: accuracy, latency (ms) and MACs of the full network and of the early-exit
policy at each threshold, speed-ups against the full network, and the threshold chosen on the
dev split (fewest MACs at the full network's dev accuracy) with its test figures. Latency is wall-clock (``time.perf_counter``) of one
``classify`` call, preprocessing included, after warm-up, with torch on ``--threads`` threads;
each image's latency is its median over the passes, and configurations are interleaved within a
pass so that load from other processes spreads evenly over them.
"""

import argparse
import json
import logging
import math
import pathlib
import statistics
import tempfile
import time

from adaptive_nlp_ros.core.inference import image_branchynet
from adaptive_nlp_ros.core.training import image_training
import numpy as np
import torch

logger = logging.getLogger('bench_branchynet')

DEFAULT_THRESHOLDS = (0.5, 0.7, 0.8, 0.9, 0.95, 0.98, 0.99, 0.995, 0.999)


def median_ms(function, runs: int, warmup: int = 50) -> float:
    """Median wall-clock of ``function()`` in milliseconds over ``runs`` calls after warm-up."""
    for _ in range(warmup):
        function()
    samples_s = []
    for _ in range(runs):
        start_s = time.perf_counter()
        function()
        samples_s.append(time.perf_counter() - start_s)
    return statistics.median(samples_s) * 1e3


def network_latency(classifier: image_branchynet.BranchyNetClassifier, image: np.ndarray,
                    runs: int) -> dict:
    """Time the first-exit path against the whole network, bare and through ``classify``."""
    last = classifier.num_exits
    x = image_branchynet.preprocess_mono8(image, classifier.input_size_px)

    def first_exit():
        return classifier.exit_logits(1, classifier.run_stage(1, x))

    def full_network():
        h = x
        for stage in range(1, last + 1):
            h = classifier.run_stage(stage, h)
        return classifier.exit_logits(last, h)

    with torch.inference_mode():
        first_ms = median_ms(first_exit, runs)
        full_ms = median_ms(full_network, runs)
    classify_first_ms = median_ms(lambda: classifier.classify(image, 0.0), runs)
    classify_full_ms = median_ms(lambda: classifier.classify(image, math.inf, min_exit=last),
                                 runs)
    return {
        'runs': runs,
        'first_exit_ms': first_ms,
        'full_network_ms': full_ms,
        'full_over_first_exit': full_ms / first_ms,
        'classify_first_exit_ms': classify_first_ms,
        'classify_full_ms': classify_full_ms,
        'classify_full_over_first_exit': classify_full_ms / classify_first_ms,
    }


def measure(classifier: image_branchynet.BranchyNetClassifier, images: np.ndarray,
            labels: np.ndarray, configurations: dict, passes: int) -> dict:
    """Accuracy, exits, MACs and per-image latency of each configuration over the images."""
    truth = [classifier.labels[label] for label in labels]
    outcomes = {}
    for name, options in configurations.items():       # also the warm-up
        results = [classifier.classify(image, **options) for image in images]
        outcomes[name] = {
            'accuracy': float(np.mean([r.label == t for r, t in zip(results, truth)])),
            'mean_exit_index': float(np.mean([r.exit_index for r in results])),
            'exit_counts': np.bincount([r.exit_index for r in results],
                                       minlength=classifier.num_exits + 1)[1:].tolist(),
            'mean_macs': float(np.mean([
                classifier.macs_for(r.exit_index, options.get('min_exit', 1))
                for r in results])),
        }
    latencies_s = {name: np.zeros((passes, len(images))) for name in configurations}
    for pass_index in range(passes):
        for name, options in configurations.items():
            row = latencies_s[name][pass_index]
            for index, image in enumerate(images):
                start_s = time.perf_counter()
                classifier.classify(image, **options)
                row[index] = time.perf_counter() - start_s
    for name in configurations:
        per_image_ms = np.median(latencies_s[name], axis=0) * 1e3
        outcomes[name]['median_latency_ms'] = float(np.median(per_image_ms))
        outcomes[name]['mean_latency_ms'] = float(np.mean(per_image_ms))
    return outcomes


def choose_threshold(classifier: image_branchynet.BranchyNetClassifier, images: np.ndarray,
                     labels: np.ndarray, thresholds) -> dict:
    """
    Pick the threshold on dev: the fewest MACs at dev accuracy >= the full network's on dev.

    Chosen on dev, reported on test: a threshold picked on the split it is scored on would
    flatter it.
    """
    truth = [classifier.labels[label] for label in labels]
    last = classifier.num_exits

    def score(threshold: float, min_exit: int = 1) -> dict:
        results = [classifier.classify(image, threshold, min_exit) for image in images]
        return {'accuracy': float(np.mean([r.label == t for r, t in zip(results, truth)])),
                'mean_macs': float(np.mean([classifier.macs_for(r.exit_index, min_exit)
                                            for r in results]))}
    full = score(math.inf, last)
    sweep = {threshold: score(threshold) for threshold in thresholds}
    eligible = [t for t, entry in sweep.items() if entry['accuracy'] >= full['accuracy']]
    chosen = min(eligible, key=lambda t: sweep[t]['mean_macs'], default=max(thresholds))
    return {'threshold': chosen, 'dev_full_accuracy': full['accuracy'],
            'dev_accuracy': sweep[chosen]['accuracy'], 'dev_images': int(len(labels))}


def benchmark(classifier: image_branchynet.BranchyNetClassifier, seed: int, passes: int,
              runs: int, thresholds=DEFAULT_THRESHOLDS) -> dict:
    """Return the early-exit sweep against the full network on the test split of ``seed``."""
    splits = image_training.load_digit_splits(seed)
    images, labels = splits['test']
    chosen = choose_threshold(classifier, *splits['dev'], thresholds)
    last = classifier.num_exits
    configurations = {'full': {'confidence_threshold': math.inf, 'min_exit': last}}
    configurations['every_exit'] = {'confidence_threshold': math.inf}
    for threshold in thresholds:
        configurations[f'threshold_{threshold:g}'] = {'confidence_threshold': threshold}
    outcomes = measure(classifier, images, labels, configurations, passes)

    full = outcomes['full']
    full_macs = full['mean_macs']
    sweep = []
    for name, options in configurations.items():
        outcome = outcomes[name]
        outcome['speedup_mean'] = full['mean_latency_ms'] / outcome['mean_latency_ms']
        outcome['speedup_median'] = full['median_latency_ms'] / outcome['median_latency_ms']
        outcome['macs_saved_fraction'] = 1.0 - outcome['mean_macs'] / full_macs
        if name.startswith('threshold_'):
            sweep.append({'threshold': options['confidence_threshold'], **outcome})
    at_chosen = next(entry for entry in sweep if entry['threshold'] == chosen['threshold'])

    return {
        'test_images': int(len(labels)),
        'passes': passes,
        'model': {
            'input_size_px': classifier.input_size_px,
            'stage_channels': [stage[0].out_channels for stage in classifier.network.stages],
            'stage_macs': list(classifier.stage_macs),
            'exit_macs': list(classifier.exit_macs),
            'full_macs': full_macs,
            'temperatures': list(classifier.temperatures),
        },
        'single_image': network_latency(classifier, images[0], runs),
        'full': full,
        'every_exit': outcomes['every_exit'],
        'sweep': sweep,
        'chosen_on_dev': {**chosen, 'test': at_chosen},
    }


def main() -> None:
    """Run the benchmark and print its JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--model', type=pathlib.Path, help='directory of a saved model')
    parser.add_argument('--seed', type=int, default=image_training.DIGIT_SPLIT_SEED,
                        help='split (and training) seed')
    parser.add_argument('--passes', type=int, default=5, help='timing passes over the test split')
    parser.add_argument('--runs', type=int, default=300, help='runs for the single-image timings')
    parser.add_argument('--threads', type=int, default=2, help='torch intra-op threads')
    parser.add_argument('--thresholds', type=float, nargs='+', default=DEFAULT_THRESHOLDS)
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format='%(name)s: %(message)s')
    torch.set_num_threads(args.threads)

    training = None
    with tempfile.TemporaryDirectory() as scratch:
        model_dir = args.model
        if model_dir is None or not (model_dir / image_branchynet.CONFIG_FILE).exists():
            model_dir = pathlib.Path(scratch)
            logger.info('no saved model given: training one (seed %d)', args.seed)
            training = image_training.train_branchynet(model_dir, seed=args.seed)
        classifier = image_branchynet.BranchyNetClassifier.load(model_dir)

    report = benchmark(classifier, args.seed, args.passes, args.runs, args.thresholds)
    report['training'] = training
    report['threads'] = args.threads
    print(json.dumps(report, indent=2))


if __name__ == '__main__':
    main()
