"""
Offline evaluation of strategies side by side, in the JSON shape of ``adaptive-nlp evaluate``.

Every strategy answers every command one at a time (batch 1, as on the robot) at a fixed
battery level (or an explicit per-command budget). ``oracle`` is computed from the static
runs of every pool variant: per command, the cheapest variant that was right.
"""

from dataclasses import dataclass
import math
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

from .structure_metrics import Actions, confusion, structure_summary
from ..inference.engine import TextEngine
from ..inference.results import InferenceOutcome
from ..inference.strategies import strategy_names
from ..inference.strategies.oracle import Oracle
from ..inference.strategies.static import STATIC_PREFIX
from ..training.dataset import Dataset

WARMUP_COMMANDS = 5


@dataclass
class StrategyRun:
    """Every outcome of one strategy over a dataset, in dataset order."""

    name: str
    outcomes: List[InferenceOutcome]


def summarize(outcomes: Sequence[InferenceOutcome], labels: Sequence[str],
              actions: Optional[Sequence[Optional[Actions]]] = None) -> Dict[str, object]:
    """
    Metrics of one strategy; accuracy and recall are None where no labels are known.

    ``accuracy`` is the first action's (the label's). Where ``actions`` (gold) are given,
    the structure metrics of ``structure_metrics`` are added.
    """
    known = [i for i, label in enumerate(labels) if label]
    latencies = np.array([outcome.latency_ms for outcome in outcomes]) if outcomes else (
        np.zeros(1))
    summary: Dict[str, object] = {
        'n': len(outcomes),
        'accuracy': (float(np.mean([outcomes[i].label == labels[i] for i in known]))
                     if known else None),
        'mean_latency_ms': float(latencies.mean()),
        'p95_latency_ms': float(np.percentile(latencies, 95)),
        'mean_energy_mj': float(np.mean([outcome.energy_mj for outcome in outcomes]))
        if outcomes else 0.0,
        'mean_layers': float(np.mean([outcome.exit_layer for outcome in outcomes]))
        if outcomes else 0.0,
        'mean_decision_ms': float(np.mean([outcome.decision_ms for outcome in outcomes]))
        if outcomes else 0.0,
        'refined_share': float(np.mean([outcome.refined for outcome in outcomes]))
        if outcomes else 0.0,
        'per_label_recall': {},
    }
    recall = {}
    for label in sorted({labels[i] for i in known}):
        rows = [i for i in known if labels[i] == label]
        recall[label] = float(np.mean([outcomes[i].label == label for i in rows]))
    summary['per_label_recall'] = recall
    summary['confusion'] = confusion([outcome.label for outcome in outcomes], labels)
    if actions is not None:
        summary.update(structure_summary([outcome.actions for outcome in outcomes], actions))
    return summary


def run_strategy(engine: TextEngine, name: str, texts: Sequence[str], battery: float,
                 budget_mj: Optional[float] = None) -> StrategyRun:
    """Answer every text with one strategy at one battery level, batch 1."""
    strategy = engine.strategy(name)
    resources = engine.resources(battery_fraction=battery, budget_mj=budget_mj)
    for text in texts[:WARMUP_COMMANDS]:
        engine.infer(text, strategy, resources)
    return StrategyRun(name, [engine.infer(text, strategy, resources) for text in texts])


def oracle_run(engine: TextEngine, static_runs: Dict[str, StrategyRun],
               labels: Sequence[str]) -> StrategyRun:
    """Per command, the outcome of the cheapest variant that was right (reference if none)."""
    variants = [name[len(STATIC_PREFIX):] for name in static_runs]
    reference = engine.context.reference_id
    outcomes = []
    for row, label in enumerate(labels):
        by_variant = {variant: static_runs[STATIC_PREFIX + variant].outcomes[row]
                      for variant in variants}
        chosen = Oracle.choose({v: o.label == label for v, o in by_variant.items()},
                               {v: o.energy_mj for v, o in by_variant.items()},
                               reference if reference in by_variant else variants[-1])
        outcome = by_variant[chosen]
        outcomes.append(InferenceOutcome(**{**vars(outcome), 'strategy': 'oracle',
                                            'reason': f'oracle: cheapest right is {chosen}'}))
    return StrategyRun('oracle', outcomes)


LABEL_ONLY_NOTE = ('the model was trained on labels only (no token heads): every answer is one '
                   'action without arguments, so sequence exactness counts only one-action '
                   'commands and argument recall is 0 by construction; train on lines with '
                   '"actions" to score the parse')


def evaluate(engine: TextEngine, dataset: Dataset, names: Optional[Sequence[str]] = None,
             battery: float = 1.0, budget_mj: Optional[float] = None,
             progress: Optional[Callable[[str, int, int], None]] = None,
             runs_out: Optional[Dict[str, StrategyRun]] = None) -> Dict[str, object]:
    """
    Every requested strategy (default: all, baselines included) over ``dataset``.

    :param runs_out: filled with each requested strategy's outcomes, in dataset order.
    """
    all_names = strategy_names(engine.context)
    names = list(names) if names else all_names
    statics = [name for name in all_names if name.startswith(STATIC_PREFIX)]
    needed = list(dict.fromkeys(
        [name for name in names if name != 'oracle']
        + (statics if 'oracle' in names else [])))
    runs: Dict[str, StrategyRun] = {}
    for done, name in enumerate(needed):
        if progress is not None:
            progress(name, done, len(needed))
        runs[name] = run_strategy(engine, name, dataset.texts, battery, budget_mj)
    if 'oracle' in names:
        runs['oracle'] = oracle_run(engine, {n: runs[n] for n in statics}, dataset.labels)
    if runs_out is not None:
        runs_out.update({name: runs[name] for name in names})
    result = {
        'n': len(dataset),
        'battery': battery,
        'budget_mj': budget_mj if budget_mj is not None else engine.resources(
            battery_fraction=battery).budget_mj,
        'energy_note': 'energy_mj is an estimate: profiled cost of the segments that ran '
                       '(CPU time x power model unless RAPL was read)',
        'strategies': {name: summarize(runs[name].outcomes, dataset.labels,
                                       dataset.actions if dataset.structured else None)
                       for name in names},
    }
    if dataset.structured and not engine.models.heads.structured:
        result['structure_note'] = LABEL_ONLY_NOTE
    return result


def finite_or_none(value: float) -> Optional[float]:
    """JSON-safe number (NaN and infinities become null)."""
    return value if isinstance(value, (int, float)) and math.isfinite(value) else None


def prediction_record(text: str, outcome: InferenceOutcome) -> Dict[str, object]:
    """Return one line of ``evaluate --predictions``: the parse of one command."""
    return {
        'text': text, 'label': outcome.label, 'confidence': outcome.confidence,
        'actions': [{'intent': action.intent, 'confidence': action.confidence,
                     'arguments': [{'role': argument.role, 'value': argument.value,
                                    'start': argument.start, 'end': argument.end,
                                    'confidence': argument.confidence,
                                    'resolved': argument.resolved}
                                   for argument in action.arguments]}
                    for action in outcome.actions],
        'strategy': outcome.strategy, 'exit_layer': outcome.exit_layer,
        'latency_ms': outcome.latency_ms,
    }
