"""
Timing and reporting helpers shared by the benchmark scripts.

Absolute times drift on shared machines, so every figure that matters is a ratio taken in
one run, with configurations interleaved so that load from other processes spreads evenly.
"""

import importlib.metadata
import json
import math
import pathlib
import statistics
import time
from typing import Callable, Dict, List, Sequence

from adaptive_nlp_ros.core.battery.power_model import machine_description

BENCH_DIR = pathlib.Path(__file__).resolve().parent
WORK_DIR = BENCH_DIR / '_work'


def percentile(values: Sequence[float], share: float) -> float:
    """Return the nearest-rank value at ``share`` (0..1) of ``values``; NaN for none."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(math.ceil(share * len(ordered))) - 1)]


def median_and_iqr(samples: Sequence[float]) -> Dict[str, float]:
    """Return the median and interquartile range of a list of samples."""
    if len(samples) < 2:
        value = samples[0] if samples else float('nan')
        return {'median': value, 'iqr': 0.0}
    quartiles = statistics.quantiles(samples, n=4)
    return {'median': statistics.median(samples), 'iqr': quartiles[2] - quartiles[0]}


def time_ms(function: Callable[[], object]) -> float:
    """Return the wall-clock of one call in milliseconds."""
    start = time.perf_counter()
    function()
    return (time.perf_counter() - start) * 1e3


def interleaved_latency(configurations: Dict[str, Callable[[object], object]],
                        inputs: Sequence[object], passes: int, warmup: int = 10
                        ) -> Dict[str, Dict[str, float]]:
    """
    Return per-configuration latency over inputs, configurations interleaved per input.

    Each input's latency is its median over ``passes``; a configuration's figure is the
    median (and IQR) of those per-input medians, plus their mean.
    """
    for function in configurations.values():
        for item in inputs[:warmup]:
            function(item)
    per_input: Dict[str, List[List[float]]] = {name: [[] for _ in inputs]
                                               for name in configurations}
    for _ in range(passes):
        for index, item in enumerate(inputs):
            for name, function in configurations.items():
                per_input[name][index].append(time_ms(lambda: function(item)))
    result = {}
    for name, rows in per_input.items():
        medians = [statistics.median(row) for row in rows]
        summary = median_and_iqr(medians)
        summary['mean'] = statistics.fmean(medians)
        result[name] = summary
    return result


def versions() -> Dict[str, str]:
    """Return the versions of the libraries the figures depend on."""
    names = ['torch', 'transformers', 'onnxruntime', 'numpy', 'scikit-learn', 'scikit-fuzzy',
             'ros-rclpy']
    found = {}
    for name in names:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = 'not installed'
    return found


def environment(threads: Dict[str, int]) -> Dict[str, object]:
    """Return the machine, versions and thread settings of this run."""
    return {'machine': machine_description(), 'versions': versions(), 'threads': threads,
            'date': time.strftime('%Y-%m-%d %H:%M:%S %Z')}


def write_json(path: pathlib.Path, payload: Dict[str, object]) -> None:
    """Write a JSON file (NaN written as null)."""
    def clean(value):
        if isinstance(value, float) and value != value:
            return None
        if isinstance(value, dict):
            return {key: clean(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [clean(item) for item in value]
        return value
    path.write_text(json.dumps(clean(payload), indent=2) + '\n')
