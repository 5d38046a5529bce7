"""
Text benchmarks, every figure measured in one run.

Plain baselines against our full pass on each backend and precision and against every
adaptive strategy (batch 1 and batch 32), early-exit criteria over the same heads, the
energy scenario, and decision and switching overheads.
"""

import math
import random
import statistics
import time
from typing import Dict, List, Sequence, Tuple

from adaptive_nlp_ros.core.inference.decisions import ResourceState
from adaptive_nlp_ros.core.battery.energy_budget import EnergyBudgetModel
from adaptive_nlp_ros.core.inference.engine import TextEngine
from adaptive_nlp_ros.core.evaluation.evaluation import summarize
from adaptive_nlp_ros.core.battery.power_model import PowerModel
from adaptive_nlp_ros.core.inference.strategies import ADAPTIVE
from adaptive_nlp_ros.core.inference.variant_pool import MODES
from baselines import LibraryForward, OrtWholeGraph
from common import interleaved_latency, median_and_iqr, time_ms, WORK_DIR
import numpy as np
import torch


def _run_layers_loop(engine: TextEngine, texts: Sequence[str], mode: str,
                     layers: int = 0) -> np.ndarray:
    """Return labels of our pass (``layers`` layers, default all, in one mode), tokenizing."""
    models = engine.models
    layers = layers or models.num_layers
    batch = models.tokenizer.encode(list(texts))
    with torch.inference_mode():
        hidden = models.encoder.embed(batch)
        for layer in range(1, layers + 1):
            hidden = models.encoder.run_layer(layer, hidden, batch, mode)
        return models.heads.probabilities(layers, hidden, batch.token_mask).argmax(-1).numpy()


def throughput(engine: TextEngine, timing_texts: Sequence[str], texts: Sequence[str],
               labels: Sequence[str], threads: int, batch_size: int, passes: int
               ) -> Dict[str, object]:
    """
    Return baselines, our full passes and every strategy: latency ratios and accuracy.

    Latency is measured on ``timing_texts``, accuracy on ``texts``. At batch sizes above 1,
    dynamic int8 layers run batched (``exact_batching`` off), as a throughput user would run
    them; the label agreement with batch 1 is reported.
    """
    torch.set_num_threads(threads)
    engine.exact_batching = batch_size == 1
    label_ids = np.array([engine.models.labels.index(label) if label in engine.models.labels
                          else -1 for label in labels])
    library = LibraryForward(engine.models)
    ort_fp32 = OrtWholeGraph(engine.models, WORK_DIR, 'fp32', threads)
    ort_int8 = OrtWholeGraph(engine.models, WORK_DIR, 'int8', threads)
    resources = engine.resources(battery_fraction=1.0)
    strategies = {name: engine.strategy(name) for name in ('full',) + ADAPTIVE}

    def batches(items):
        return [items[i:i + batch_size] for i in range(0, len(items), batch_size)]

    configurations = {
        'library forward (transformers fp32)': library.labels,
        'ONNX Runtime whole graph fp32': ort_fp32.labels,
        'ONNX Runtime whole graph int8': ort_int8.labels,
    }
    for mode in MODES:
        configurations[f'ours: full pass {mode}'] = (
            lambda chunk, mode=mode: _run_layers_loop(engine, chunk, mode))
    for mode in ('fp32', 'ort_int8'):
        configurations[f'ours: 2 layers {mode}'] = (
            lambda chunk, mode=mode: _run_layers_loop(engine, chunk, mode, 2))
    # Every strategy answers each command afresh: the engine's TF-IDF memo would otherwise
    # spare all but the first configuration their receipt check (caches are fair only
    # across distinct commands).
    for name, strategy in strategies.items():
        if batch_size == 1:
            configurations[f'strategy {name}'] = (
                lambda chunk, s=strategy: [fresh_infer(engine, chunk[0], s, resources).label])
        else:
            configurations[f'strategy {name}'] = (
                lambda chunk, s=strategy: [
                    o.label for o in fresh_infer_batch(engine, chunk, s, resources)])
    latency = interleaved_latency(configurations, batches(list(timing_texts)), passes)
    rows = {}
    for name, function in configurations.items():
        predicted = []
        for chunk in batches(list(texts)):
            output = function(chunk)
            predicted.extend(output)
        predicted = [engine.models.labels.index(p) if isinstance(p, str) else int(p)
                     for p in predicted]
        accuracy = float(np.mean(np.array(predicted) == label_ids))
        per_command = {key: value / batch_size for key, value in latency[name].items()}
        rows[name] = {'accuracy': accuracy, 'ms_per_command': per_command}
    for reference in ('library forward (transformers fp32)', 'ONNX Runtime whole graph int8',
                      'ours: full pass fp32'):
        base = rows[reference]['ms_per_command']['mean']
        for row in rows.values():
            row.setdefault('speedup_vs', {})[reference] = base / row['ms_per_command']['mean']
    engine.exact_batching = True
    return {'batch_size': batch_size, 'threads': threads, 'timed_commands': len(timing_texts),
            'accuracy_commands': len(texts), 'passes': passes, 'rows': rows}


def exit_probabilities(engine: TextEngine, texts: Sequence[str], mode: str) -> np.ndarray:
    """
    Return the sentence heads' calibrated probabilities at every exit: [layers, texts, labels].

    The sentence heads alone, as label-only early exit would read them; the engine's exits,
    which also ask the token heads, are compared in ``bench_exit_structure``.
    """
    models = engine.models
    outputs = []
    with torch.inference_mode():
        for start in range(0, len(texts), 64):
            batch = models.tokenizer.encode(list(texts[start:start + 64]))
            hidden = models.encoder.embed(batch)
            per_layer = []
            for layer in range(1, models.num_layers + 1):
                hidden = models.encoder.run_layer(layer, hidden, batch, mode)
                per_layer.append(models.heads.probabilities(layer, hidden,
                                                            batch.token_mask).numpy())
            outputs.append(np.stack(per_layer))
    return np.concatenate(outputs, axis=1)


def _criterion_curve(probabilities: np.ndarray, targets: np.ndarray, exits_for) -> Dict:
    count = probabilities.shape[1]
    chosen = np.array([exits_for(i) for i in range(count)])
    predictions = probabilities[chosen - 1, np.arange(count)].argmax(-1)
    return {'accuracy': float((predictions == targets).mean()),
            'mean_layers': float(chosen.mean())}


def early_exit_criteria(engine: TextEngine, texts: Sequence[str], labels: Sequence[str],
                        mode: str) -> Dict[str, object]:
    """Return confidence vs PABEE patience vs BranchyNet entropy exits on the same heads."""
    probabilities = exit_probabilities(engine, texts, mode)
    targets = np.array([engine.models.labels.index(label) for label in labels])
    layers = probabilities.shape[0]
    confidence = probabilities.max(-1)
    predictions = probabilities.argmax(-1)
    entropy = -(probabilities * np.log(np.clip(probabilities, 1e-12, 1))).sum(-1) / math.log(
        probabilities.shape[-1])

    def first(condition: np.ndarray, row: int) -> int:
        hits = np.nonzero(condition[:, row])[0]
        return int(hits[0]) + 1 if len(hits) else layers

    curves = {'confidence': [], 'patience (PABEE)': [], 'entropy (BranchyNet)': []}
    for threshold in (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.93, 0.95, 0.97, 0.98,
                      0.99, 0.995, 0.999, 0.9999):
        point = _criterion_curve(probabilities, targets,
                                 lambda i, t=threshold: first(confidence >= t, i))
        curves['confidence'].append({'threshold': threshold, **point})
    for patience in range(1, layers):
        def pabee(i, k=patience):
            run = 0
            for layer in range(1, layers):
                run = run + 1 if predictions[layer, i] == predictions[layer - 1, i] else 0
                if run >= k:
                    return layer + 1
            return layers
        curves['patience (PABEE)'].append({'patience': patience,
                                           **_criterion_curve(probabilities, targets, pabee)})
    for threshold in (0.02, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6):
        point = _criterion_curve(probabilities, targets,
                                 lambda i, t=threshold: first(entropy <= t, i))
        curves['entropy (BranchyNet)'].append({'threshold': threshold, **point})
    correct = predictions == targets[None, :]
    oracle = _criterion_curve(probabilities, targets, lambda i: first(correct, i))
    layer_ms = engine.profile.latency_ms(f'layer1/{mode}')
    head_ms = engine.profile.latency_ms('head')
    for points in curves.values():
        for point in points:
            point['estimated_ms'] = point['mean_layers'] * (layer_ms + head_ms)
    return {'mode': mode, 'curves': curves, 'oracle_exit': oracle,
            'last_exit_accuracy': float((predictions[-1] == targets).mean()),
            'per_layer_ms': layer_ms, 'per_head_ms': head_ms}


def _interpolate_accuracy(points: List[Dict], mean_layers: float):
    """Return the curve's accuracy at ``mean_layers``, or None outside its measured range."""
    ordered = sorted(points, key=lambda p: p['mean_layers'])
    xs = [p['mean_layers'] for p in ordered]
    ys = [p['accuracy'] for p in ordered]
    if not xs[0] <= mean_layers <= xs[-1]:
        return None
    return float(np.interp(mean_layers, xs, ys))


def compare_confidence_with_patience(criteria: Dict) -> List[Dict]:
    """
    Return, at each PABEE point's mean layers, both criteria's accuracy.

    Only where the confidence curve was measured: interpolation never extrapolates, and a
    PABEE point beyond the curve's range is marked ``in_range: False`` and not compared.
    """
    confidence = criteria['curves']['confidence']
    rows = []
    for point in criteria['curves']['patience (PABEE)']:
        accuracy = _interpolate_accuracy(confidence, point['mean_layers'])
        rows.append({'mean_layers': point['mean_layers'], 'pabee_accuracy': point['accuracy'],
                     'confidence_accuracy': accuracy, 'in_range': accuracy is not None})
    return rows


def fresh_infer(engine: TextEngine, text: str, strategy, resources):
    """Answer one command with the engine's caches cleared first (see ``clear_caches``)."""
    engine.clear_caches()
    return engine.infer(text, strategy, resources)


def fresh_infer_batch(engine: TextEngine, texts: Sequence[str], strategy, resources):
    """Answer several commands as one batch, the engine's caches cleared first."""
    engine.clear_caches()
    return engine.infer_batch(texts, strategy, resources)


def measured_infer(engine: TextEngine, text: str, strategy, resources) -> Tuple:
    """
    Answer one command; return the outcome and its *measured* energy in mJ.

    Measured: the CPU time of this thread during the call (tokenizer, torch and ONNX Runtime
    all run on it at one thread) times the power model's watts per busy core. The outcome's
    ``energy_mj`` is the profile's linear model, which the strategies plan with; scoring them
    by it would grade them with their own ruler. Still an estimate of joules (no RAPL here),
    but one of what ran, not of what was planned.
    """
    engine.clear_caches()
    start = time.thread_time()
    outcome = engine.infer(text, strategy, resources)
    cpu_ms = (time.thread_time() - start) * 1e3
    return outcome, PowerModel(_watts(engine)).energy_mj(cpu_ms)


def _watts(engine: TextEngine) -> float:
    return float(engine.profile.info.get('power_model', {}).get('watts_per_busy_core', 4.0))


def energy_scenario(engine: TextEngine, texts: Sequence[str], labels: Sequence[str],
                    affordable_share: float = 0.4, seed: int = 7) -> Dict[str, object]:
    """
    Return, per strategy, what a fixed battery affording ~40% of the commands at ``full`` buys.

    The battery's usable energy (above the reserve) equals 40% of what ``full`` measurably
    spends on every command. Each answered command drains its *measured* energy (see
    ``measured_infer``), so a strategy that plans with an optimistic cost model pays what it
    really spent; once the usable energy is gone the remaining commands go unanswered (and
    count as wrong). The budget model spreads the battery over the commands of the scenario.
    Stop recall is compared with ``full`` answering every command (no battery limit): the
    reference a robot's safety is judged by, not ``full`` starved of energy.
    """
    order = list(range(len(texts)))
    random.Random(seed).shuffle(order)
    texts = [texts[i] for i in order]
    labels = [labels[i] for i in order]
    full = engine.strategy('full')
    reference = [measured_infer(engine, text, full, ResourceState()) for text in texts]
    probe = [energy for _, energy in reference]
    stops = [i for i, label in enumerate(labels) if label == 'stop']
    reference_stop_recall = (float(np.mean([reference[i][0].label == 'stop' for i in stops]))
                             if stops else None)
    usable_mj = affordable_share * sum(probe)
    reserve = 0.1
    capacity_mj = usable_mj / (1 - reserve)
    budget_model = EnergyBudgetModel(capacity_wh=capacity_mj / 3.6e6, reserve_fraction=reserve,
                                     compute_share=1.0, mission_horizon_s=len(texts),
                                     command_rate_hz=1.0)
    original = engine.budget_model
    results = {}
    names = ['full'] + [f'static:{o.variant_id}' for o in engine.context.pool] + list(ADAPTIVE)
    try:
        engine.budget_model = budget_model
        engine.context.budget_model = budget_model
        for name in names:
            strategy = engine.strategy(name)
            remaining = capacity_mj
            outcomes, answered, measured, over_budget = [], 0, [], 0
            for text in texts:
                fraction = remaining / capacity_mj
                if fraction <= reserve:
                    outcomes.append(None)
                    continue
                resources = engine.resources(battery_fraction=fraction)
                outcome, energy_mj = measured_infer(engine, text, strategy, resources)
                remaining -= energy_mj
                outcomes.append(outcome)
                measured.append(energy_mj)
                over_budget += energy_mj > resources.budget_mj
                answered += 1
            correct = [o is not None and o.label == label for o, label in zip(outcomes, labels)]
            planned = [o.energy_mj for o in outcomes if o is not None]
            results[name] = {
                'answered': answered, 'commands': len(texts),
                'accuracy_over_all': float(np.mean(correct)),
                'energy_per_answered_mj': float(np.mean(measured)) if measured else 0.0,
                'planned_energy_per_answered_mj': float(np.mean(planned)) if planned else 0.0,
                'over_budget_share': over_budget / answered if answered else 0.0,
                'stop_recall': float(np.mean([correct[i] for i in stops])) if stops else None,
                'answered_rows': [i for i, o in enumerate(outcomes) if o is not None],
                'correct': correct,
            }
    finally:
        engine.budget_model = original
        engine.context.budget_model = original
    full_rows = results['full']['answered_rows']
    for row in results.values():
        row['accuracy_on_commands_full_answered'] = float(np.mean(
            [row['correct'][i] for i in full_rows])) if full_rows else None
        del row['answered_rows'], row['correct']
    return {'usable_energy_mj': usable_mj, 'full_energy_all_commands_mj': sum(probe),
            'reference_stop_recall': reference_stop_recall,
            'energy_note': 'measured CPU time x power model per command (an estimate of '
                           'joules: no RAPL); planned = the profile the strategies plan with',
            'strategies': results}


def budget_check(engine: TextEngine, texts: Sequence[str], labels: Sequence[str],
                 budget_mj: float, names: Sequence[str]) -> Dict[str, object]:
    """
    Return, per strategy at a fixed per-command budget, accuracy and what it really spent.

    Planned energy is the profile's linear model (what the strategy optimises); measured is
    CPU time x power model (``measured_infer``). Possible stops take the safety path whatever
    the budget (by design); they are counted apart so the budget is judged on the rest.
    """
    resources = engine.resources(budget_mj=budget_mj)
    rows = {}
    for name in names:
        strategy = engine.strategy(name)
        outcomes, measured = [], []
        for text in texts:
            outcome, energy_mj = measured_infer(engine, text, strategy, resources)
            outcomes.append(outcome)
            measured.append(energy_mj)
        ordinary = [i for i, outcome in enumerate(outcomes)
                    if 'safety override' not in outcome.reason]
        rows[name] = {
            'accuracy': float(np.mean([o.label == label for o, label in zip(outcomes, labels)])),
            'planned_mj': float(np.mean([o.energy_mj for o in outcomes])),
            'measured_mj': float(np.mean(measured)),
            'measured_mj_ordinary': float(np.mean([measured[i] for i in ordinary])),
            'planned_mj_ordinary': float(np.mean([outcomes[i].energy_mj for i in ordinary])),
            'ordinary_over_budget_share': float(np.mean([measured[i] > budget_mj
                                                         for i in ordinary])),
            'safety_path_share': 1.0 - len(ordinary) / len(outcomes),
            'mean_layers': float(np.mean([o.exit_layer for o in outcomes])),
        }
    return {'budget_mj': budget_mj, 'commands': len(texts),
            'energy_note': 'measured = CPU time x power model (estimate, no RAPL); planned = '
                           'the cost profile the strategies plan with',
            'strategies': rows}


def overheads(engine: TextEngine, texts: Sequence[str]) -> Dict[str, object]:
    """Return decision time per strategy and the cost of switching modes between segments."""
    resources = engine.resources(battery_fraction=0.5)
    decisions = {}
    for name in ('full',) + ADAPTIVE:
        strategy = engine.strategy(name)
        samples = [fresh_infer(engine, text, strategy, resources).decision_ms * 1e3
                   for text in texts]
        decisions[name] = median_and_iqr(samples)
    models = engine.models
    order = ['ort_int8', 'int4', 'bf16', 'ort_fp32', 'int8', 'fp32']
    mixed, alone = [], []
    with torch.inference_mode():
        for text in texts[:200]:
            batch = models.tokenizer.encode([text])
            hidden0 = models.encoder.embed(batch)

            def mixed_pass():
                hidden = hidden0
                for layer, mode in enumerate(order, start=1):
                    hidden = models.encoder.run_layer(layer, hidden, batch, mode)
            hiddens = [hidden0]
            for layer, mode in enumerate(order, start=1):
                hiddens.append(models.encoder.run_layer(layer, hiddens[-1], batch, mode))
            mixed_pass()
            mixed.append(statistics.median(time_ms(mixed_pass) for _ in range(3)))
            alone.append(sum(statistics.median(
                time_ms(lambda number=layer, m=mode, h=hiddens[layer - 1]:
                        models.encoder.run_layer(number, h, batch, m)) for _ in range(3))
                for layer, mode in enumerate(order, start=1)))
    return {'decision_us': decisions,
            'mixed_precision_pass': {'modes': order, 'mixed_ms': median_and_iqr(mixed),
                                     'sum_of_segments_alone_ms': median_and_iqr(alone),
                                     'switching_overhead': statistics.median(mixed)
                                     / statistics.median(alone) - 1.0}}


def summarize_strategies(engine: TextEngine, texts, labels, battery: float) -> Dict:
    """Return evaluate-style metrics of every strategy at one battery level."""
    resources = engine.resources(battery_fraction=battery)
    out = {}
    for name in ('full',) + ADAPTIVE:
        strategy = engine.strategy(name)
        out[name] = summarize([engine.infer(t, strategy, resources) for t in texts], labels)
    return out
