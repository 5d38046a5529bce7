"""Fit and calibrate the cheap tier's word tagger on the annotated lines of a corpus."""

from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from .calibration import fit_temperature
from .structure_targets import piece_targets
from ..inference.parse import ParsedAction, TagScheme, TokenView
from ..inference.text_backbone import CommandTokenizer
from ..inference.word_tagger import word_features, word_spans, WordTagger

FAMILIES = ('segment', 'role', 'intent')


def tagger_rows(tokenizer: CommandTokenizer, texts: Sequence[str],
                actions: Sequence[Optional[Sequence[ParsedAction]]], scheme: TagScheme
                ) -> Tuple[List[List[List[str]]], List[np.ndarray]]:
    """Return word features and ``[words, 3]`` targets of the lines that carry actions."""
    rows, targets = [], []
    for text, line_actions in zip(texts, actions):
        if not line_actions:
            continue
        encoding = tokenizer.encoding(text)
        spans = word_spans(TokenView.of_encoding(text, encoding))
        rows.append(word_features(text, spans))
        # Words are the pieces here: a span holds a word when it holds its characters.
        targets.append(piece_targets(spans, [False] * len(spans), line_actions, scheme))
    return rows, targets


def fit_word_tagger(tokenizer: CommandTokenizer, train, dev, scheme: TagScheme,
                    seed: int) -> Tuple[WordTagger, Dict[str, float]]:
    """Fit on train's annotated lines, fit one temperature per tag family on dev's."""
    rows, targets = tagger_rows(tokenizer, train.texts, train.actions, scheme)
    tagger = WordTagger.fit(rows, targets, scheme, seed=seed)
    dev_rows, dev_targets = tagger_rows(tokenizer, dev.texts, dev.actions, scheme)
    report: Dict[str, float] = {'train_lines': len(rows), 'dev_lines': len(dev_rows),
                                'features': len(tagger.vocabulary)}
    if not dev_rows:
        return tagger, report
    scores = [np.concatenate(part) for part in
              zip(*(tagger.logits(features) for features in dev_rows))]
    wanted = np.concatenate(dev_targets)
    temperatures = []
    for family, name in enumerate(FAMILIES):
        keep = wanted[:, family] >= 0
        if not keep.any():
            temperatures.append(1.0)
            continue
        logits = torch.from_numpy(scores[family][keep])
        labels = torch.from_numpy(wanted[keep, family])
        temperatures.append(fit_temperature(logits, labels))
        report[f'dev_{name}_accuracy'] = float((logits.argmax(-1) == labels).float().mean())
    tagger.temperatures = temperatures
    return tagger, report
