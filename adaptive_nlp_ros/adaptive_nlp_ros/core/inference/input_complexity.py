"""
A cheap estimate of how hard a command is, before the backbone runs.

Hard commands are long, use rare words (split into many word pieces), carry numbers,
negations or several actions, or leave the TF-IDF model unsure. Each signal is scaled to
0..1; the complexity is their weighted mean (weights in the fuzzy rule file).
"""

from dataclasses import dataclass
import math
import re
from typing import Dict, Mapping, Sequence, Tuple

import numpy as np

NEGATIONS = frozenset({'not', "don't", 'dont', 'never', 'no', "doesn't", "isn't", 'without',
                       "didn't", "can't", 'cannot', 'instead'})
CONNECTORS = frozenset({'and', 'then', 'after', 'before', 'but', 'also', 'while', 'afterwards',
                        'once', 'when', 'until', 'or'})
_WORD = re.compile(r"[\w']+")
_NUMBER = re.compile(r'\d|\b(one|two|three|four|five|six|seven|eight|nine|ten|twenty|'
                     r'thirty|forty|fifty|hundred|half|quarter)\b')

FEATURE_NAMES: Tuple[str, ...] = ('length', 'rare_words', 'numbers', 'negation', 'connectors',
                                  'uncertainty')
DEFAULT_WEIGHTS: Dict[str, float] = {'length': 0.25, 'rare_words': 0.15, 'numbers': 0.1,
                                     'negation': 0.15, 'connectors': 0.15, 'uncertainty': 0.2}


@dataclass(frozen=True)
class ComplexityFeatures:
    """The signals, each in 0..1, in ``FEATURE_NAMES`` order."""

    values: Tuple[float, ...]

    def as_dict(self) -> Dict[str, float]:
        """Signals by name."""
        return dict(zip(FEATURE_NAMES, self.values))

    def score(self, weights: Mapping[str, float] = DEFAULT_WEIGHTS) -> float:
        """Weighted mean of the signals, 0..1."""
        total = sum(weights.get(name, 0.0) for name in FEATURE_NAMES) or 1.0
        return sum(weights.get(name, 0.0) * value
                   for name, value in zip(FEATURE_NAMES, self.values)) / total


def complexity_features(text: str, word_pieces: Sequence[str],
                        cheap_probabilities: np.ndarray = None,
                        length_tokens_at_max: int = 24) -> ComplexityFeatures:
    """
    Measure a command.

    ``word_pieces`` are the backbone tokenizer's pieces without [CLS]/[SEP];
    ``cheap_probabilities`` the TF-IDF model's class probabilities (None: unknown, 0.5).
    """
    words = _WORD.findall(text.lower())
    pieces = len(word_pieces)
    length = min(1.0, pieces / float(length_tokens_at_max))
    rare = (sum(1 for piece in word_pieces if piece == '[UNK]' or piece.startswith('##'))
            / pieces) if pieces else 0.0
    numbers = 1.0 if _NUMBER.search(text.lower()) else 0.0
    negation = 1.0 if any(word in NEGATIONS for word in words) else 0.0
    connectors = min(1.0, sum(1 for word in words if word in CONNECTORS) / 2.0)
    if cheap_probabilities is None or len(cheap_probabilities) < 2:
        uncertainty = 0.5
    else:
        p = np.clip(np.asarray(cheap_probabilities, dtype=np.float64), 1e-12, 1.0)
        uncertainty = float(-(p * np.log(p)).sum() / math.log(len(p)))
    return ComplexityFeatures((length, min(1.0, rare * 2.0), numbers, negation, connectors,
                               min(1.0, uncertainty)))
