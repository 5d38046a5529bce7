"""
Fitting the safety path's release rule: a second stop check, read at one exit, on dev.

The receipt's TF-IDF check must flag every stop, so it flags many commands that are not
(a quarter of a shifted test family's non-stops), and each then runs the whole backbone.
The backbone's own heads tell stops apart far better a few layers in. For each layer, the
rule's two thresholds are half the lowest score a dev command holding a stop got there (as
the receipt's threshold is), split between the first-action score (sentence and joint
heads) and the any-action score (token intent head): every dev stop stays above one of them
with a margin. The layer is the earliest whose rule keeps at most ``TARGET_KEPT`` of dev's
non-stops on the safety path; failing that, the one that keeps fewest.
"""

from dataclasses import dataclass
import math
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from ..inference.first_action import read_structured_exit
from ..inference.parse import TokenView
from ..inference.strategies.safety_path import SafetyRelease
from ..inference.text_backbone import TokenBatch
from ..inference.text_models import TextModels
from ..inference.variant_pool import REFERENCE_MODE

TARGET_KEPT = 0.05          # share of dev non-stops a rule may leave on the safety path
MARGIN = 0.5                # thresholds: this share of the lowest dev stop's score


@dataclass(frozen=True)
class ExitStopScores:
    """Per command and exit: how plausible a stop is as the first action, and as any action."""

    first_action: np.ndarray      # [commands, layers]
    any_action: np.ndarray        # [commands, layers]


def exit_stop_scores(models: TextModels, texts: Sequence[str],
                     mode: str = REFERENCE_MODE) -> ExitStopScores:
    """Read every exit of ``mode`` for each text as the engine does (both heads, every piece)."""
    heads, labels = models.heads, models.labels
    label_index = labels.index(models.safety_label)
    intent_index = heads.scheme.intents.index(models.safety_label)
    first, anywhere = [], []
    with torch.inference_mode():
        for text in texts:
            encoding = models.tokenizer.encoding(text)
            ids = torch.tensor([encoding.ids], dtype=torch.long)
            batch = TokenBatch(ids, torch.ones_like(ids, dtype=torch.bool))
            view = TokenView.of_encoding(text, encoding)
            pieces = ids.shape[1]
            hidden = models.encoder.embed(batch)
            row_first, row_any = [], []
            for layer in range(1, models.num_layers + 1):
                hidden = models.encoder.run_layer(layer, hidden, batch, mode)
                sentence = heads.probabilities(layer, hidden, batch.token_mask)[0].numpy()
                segment, roles, intents = (part[0, 1:pieces - 1].numpy()
                                           for part in heads.token_probabilities(layer, hidden))
                joint, _ = read_structured_exit(view, sentence, segment, roles, intents,
                                                heads.scheme, labels, label_index)
                row_first.append(max(float(sentence[label_index]), float(joint[label_index])))
                row_any.append(float(intents[:, intent_index].max()) if pieces > 2 else 0.0)
            first.append(row_first)
            anywhere.append(row_any)
    return ExitStopScores(np.asarray(first), np.asarray(anywhere))


def rule_at(scores: ExitStopScores, layer: int, stops: np.ndarray
            ) -> Optional[Tuple[float, float]]:
    """
    Return the thresholds at ``layer`` (1-based) that keep the most dev non-stops released.

    Every stop keeps a first-action score of at least twice the first threshold or an
    any-action score of at least twice the second. Among such splits, the one releasing
    the most non-stops; None without stops.
    """
    first, anywhere = scores.first_action[:, layer - 1], scores.any_action[:, layer - 1]
    stop_first, stop_any = first[stops], anywhere[stops]
    if not len(stop_first):
        return None
    best: Optional[Tuple[int, float, float]] = None
    for cut in sorted(set(stop_first.tolist())) + [math.inf]:
        uncovered = stop_any[stop_first < cut]
        label_threshold = MARGIN * cut if math.isfinite(cut) else 1.0
        action_threshold = MARGIN * float(uncovered.min()) if len(uncovered) else 1.0
        kept = int(((first >= label_threshold) | (anywhere >= action_threshold))[~stops].sum())
        if best is None or kept < best[0]:
            best = (kept, label_threshold, action_threshold)
    return best[1], best[2]


def fit_safety_release(scores: ExitStopScores, stops: Sequence[bool],
                       flagged: Sequence[bool]) -> Tuple[Optional[SafetyRelease], Dict]:
    """
    Choose the release layer and thresholds on dev; return the rule and what it did there.

    :param stops: per dev command, whether any of its actions is the safety label.
    :param flagged: per dev command, whether the receipt's check flagged it.
    """
    stops_array = np.asarray(stops, dtype=bool)
    flagged_array = np.asarray(flagged, dtype=bool)
    non_stops = max(1, int((~stops_array).sum()))
    candidates: List[Tuple[int, SafetyRelease, float]] = []
    layers = scores.first_action.shape[1]
    for layer in range(1, layers):
        thresholds = rule_at(scores, layer, stops_array)
        if thresholds is None:
            break
        rule = SafetyRelease(layer, *thresholds)
        kept = ((scores.first_action[:, layer - 1] >= rule.label_probability)
                | (scores.any_action[:, layer - 1] >= rule.action_probability))
        candidates.append((layer, rule, float((kept & flagged_array & ~stops_array).sum()
                                              / non_stops)))
    if not candidates:
        return None, {}
    within = [candidate for candidate in candidates if candidate[2] <= TARGET_KEPT]
    layer, rule, kept_share = (within[0] if within
                               else min(candidates, key=lambda candidate: candidate[2]))
    report = {'dev_non_stops_kept': kept_share,
              'dev_flagged_non_stops': float((flagged_array & ~stops_array).sum() / non_stops),
              'kept_by_layer': {str(candidate[0]): candidate[2] for candidate in candidates}}
    return rule, report
