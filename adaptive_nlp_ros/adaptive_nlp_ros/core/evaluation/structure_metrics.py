"""
How well predicted actions match annotated ones (the ``evaluate`` structure metrics).

* ``sequence_exact``: the predicted intent sequence equals the gold one;
* arguments: a predicted argument matches a gold one in the same action position, with the
  same intent and role, when its value (lowercased, articles dropped) contains the gold value
  as whole words and is at most 25 characters longer (``parse.argument_matches``); each gold
  argument matches at most one prediction. Precision is matches over predicted arguments,
  recall matches over gold arguments, F1 their harmonic mean, all pooled over the commands.

A pronoun is compared by its value: the referent's text where it was resolved.
"""

from typing import Dict, Optional, Sequence, Tuple

from ..inference.parse import argument_matches, ParsedAction

Actions = Sequence[ParsedAction]


def argument_counts(predicted: Actions, gold: Actions) -> Tuple[int, int, int]:
    """Return ``(matched, predicted, gold)`` argument counts of one command."""
    matched = 0
    for position, gold_action in enumerate(gold):
        if position >= len(predicted) or predicted[position].intent != gold_action.intent:
            continue
        free = list(predicted[position].arguments)
        for gold_argument in gold_action.arguments:
            for index, candidate in enumerate(free):
                if candidate.role == gold_argument.role and argument_matches(
                        candidate.value, gold_argument.value):
                    matched += 1
                    del free[index]
                    break
    return (matched, sum(len(action.arguments) for action in predicted),
            sum(len(action.arguments) for action in gold))


def structure_summary(predicted: Sequence[Actions],
                      gold: Sequence[Optional[Actions]]) -> Dict[str, Optional[float]]:
    """Return sequence exactness and argument precision, recall and F1 over the annotated."""
    rows = [i for i, actions in enumerate(gold) if actions is not None]
    if not rows:
        return {}
    exact = sum(1 for i in rows if [a.intent for a in predicted[i]]
                == [a.intent for a in gold[i]])
    matched = predicted_total = gold_total = 0
    for i in rows:
        counts = argument_counts(predicted[i], gold[i])
        matched += counts[0]
        predicted_total += counts[1]
        gold_total += counts[2]
    precision = matched / predicted_total if predicted_total else None
    recall = matched / gold_total if gold_total else None
    f1 = (2 * precision * recall / (precision + recall)
          if precision and recall else (0.0 if gold_total else None))
    return {'sequence_exact': exact / len(rows), 'argument_precision': precision,
            'argument_recall': recall, 'argument_f1': f1, 'n_structured': len(rows)}


def confusion(predicted: Sequence[str], gold: Sequence[str]) -> Dict[str, Dict[str, int]]:
    """Return ``{gold label: {predicted label: count}}`` over the labelled commands."""
    table: Dict[str, Dict[str, int]] = {}
    for guess, truth in zip(predicted, gold):
        if truth:
            row = table.setdefault(truth, {})
            row[guess] = row.get(guess, 0) + 1
    return {label: dict(sorted(row.items())) for label, row in sorted(table.items())}
