"""
Structured understanding (issue 12): the parse on three test sets, and what structure costs.

* quality: first-action accuracy, sequence exactness and argument F1 of ``full`` and
  ``early_exit`` on the held-out template family, the hand-written commands and the legacy
  (14-label) test split relabelled to the 18 intents (labels only), each apart;
* cost: ``full`` and ``early_exit`` timed per command with the token heads on and off,
  interleaved (the four configurations back to back for each command, several passes, the
  per-command median). Off, no tag head runs and nothing is decoded, and early exit compares
  the label's confidence alone with its threshold, so its exits may come earlier: the cost of
  structure includes the layers that waiting for sure arguments takes;
* the cheap tier's structure, measured to choose how it gets one: the TF-IDF variant bare
  (one action, no argument), with its word tagger, and the alternative of handing structure to
  the backbone (the cheapest MiniLM variant, which has token heads), on each set, with the
  mean latency of each (from ``evaluate``, not interleaved).
"""

import statistics
import time
from typing import Dict, Sequence
from unittest import mock

from adaptive_nlp_ros.core.evaluation.evaluation import evaluate
from adaptive_nlp_ros.core.inference.exit_heads import ExitHeads
from adaptive_nlp_ros.core.training.dataset import Dataset

NAMES = ('full', 'early_exit')
CHEAP_OPTIONS = ('bare TF-IDF', 'TF-IDF + word tagger', 'backbone')
ROW_KEYS = ('accuracy', 'sequence_exact', 'argument_f1', 'mean_latency_ms')


def quality(engine, sets: Dict[str, Dataset]) -> Dict[str, Dict]:
    """Return evaluate's rows of ``full`` and ``early_exit`` on each named dataset."""
    out = {}
    for name, dataset in sets.items():
        strategies = evaluate(engine, dataset, list(NAMES), 1.0)['strategies']
        out[name] = {strategy: {key: row.get(key) for key in (
            'accuracy', 'sequence_exact', 'argument_f1', 'argument_precision',
            'argument_recall', 'mean_layers', 'n')} for strategy, row in strategies.items()}
        out[name]['n'] = len(dataset)
    return out


def cheap_tier(engine, sets: Dict[str, Dataset]) -> Dict[str, Dict]:
    """Return the cheap tier's parse, three ways, on each named dataset."""
    backbone = 'static:' + min((option for option in engine.context.pool
                                if option.variant.kind == 'minilm'),
                               key=lambda option: option.energy_mj(16)).variant_id
    out: Dict[str, Dict] = {'backbone_variant': backbone[len('static:'):]}
    for name, dataset in sets.items():
        rows = {}
        with mock.patch.object(engine.models, 'word_tagger', None):
            rows['bare TF-IDF'] = evaluate(engine, dataset, ['static:tfidf_logreg'], 1.0)[
                'strategies']['static:tfidf_logreg']
        rows['TF-IDF + word tagger'] = evaluate(engine, dataset, ['static:tfidf_logreg'], 1.0)[
            'strategies']['static:tfidf_logreg']
        rows['backbone'] = evaluate(engine, dataset, [backbone], 1.0)['strategies'][backbone]
        out[name] = {option: {key: row.get(key) for key in ROW_KEYS}
                     for option, row in rows.items()}
    return out


def cost(engine, texts: Sequence[str], passes: int) -> Dict[str, Dict]:
    """Return per-command latency (mean of medians, ms) with structure on and off."""
    resources = engine.resources(battery_fraction=1.0)
    strategies = {name: engine.strategy(name) for name in NAMES}
    samples = {(name, on): [] for name in NAMES for on in (True, False)}
    layers = {(name, on): [] for name in NAMES for on in (True, False)}
    engine.infer(texts[0], strategies['full'], resources)     # head weights cached with tags
    for text in texts:
        times = {key: [] for key in samples}
        for _ in range(passes):
            for name, on in samples:
                with mock.patch.object(ExitHeads, 'structured', new_callable=mock.PropertyMock,
                                       return_value=on):
                    engine.clear_caches()       # each answer pays for its TF-IDF look
                    start = time.perf_counter()
                    outcome = engine.infer(text, strategies[name], resources)
                    times[(name, on)].append((time.perf_counter() - start) * 1e3)
                layers[(name, on)].append(outcome.exit_layer)
        for key, values in times.items():
            samples[key].append(statistics.median(values))
    out = {}
    for name in NAMES:
        with_ms = statistics.mean(samples[(name, True)])
        without_ms = statistics.mean(samples[(name, False)])
        out[name] = {'with_structure_ms': with_ms, 'label_only_ms': without_ms,
                     'overhead': with_ms / without_ms - 1.0,
                     'mean_exit_layer_with': statistics.mean(layers[(name, True)]),
                     'mean_exit_layer_label_only': statistics.mean(layers[(name, False)])}
    out['early_exit_speedup'] = (out['full']['with_structure_ms']
                                 / out['early_exit']['with_structure_ms'])
    out['timed_commands'] = len(texts)
    out['passes'] = passes
    return out
