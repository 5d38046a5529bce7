"""
The pool's cheapest variant: TF-IDF features and a linear classifier.

Word uni- and bigrams plus character n-grams inside word boundaries (robust to typos and
speech-recognition slips). scikit-learn fits it; inference is a few numpy operations over
the saved vocabulary and weights, so the saved model is plain arrays (no pickle) and a
prediction costs tens of microseconds. It is also the controller's cheap first look at
every command (is this possibly a ``stop``?).
"""

from collections import Counter
import json
import pathlib
import re
from typing import Dict, List, Optional, Sequence

import numpy as np

_WORD = re.compile(r'(?u)\b\w+\b')
CHAR_NGRAMS = (2, 3, 4)


def text_words(text: str) -> List[str]:
    """Return a text's words as both TF-IDF models read them: lowercase, split at non-words."""
    return _WORD.findall(text.lower())


def analyze(text: str) -> List[str]:
    """Return the terms of a text: words, word bigrams and within-word character n-grams."""
    words = text_words(text)
    terms = [f'w:{word}' for word in words]
    terms.extend(f'b:{first} {second}' for first, second in zip(words, words[1:]))
    for word in words:
        padded = f' {word} '
        for size in CHAR_NGRAMS:
            terms.extend(f'c:{padded[i:i + size]}' for i in range(max(1, len(padded) - size + 1)))
    return terms


class TfidfClassifier:
    """Sublinear TF-IDF, L2-normalized, then multinomial logistic regression."""

    def __init__(self, vocabulary: Dict[str, int], idf: np.ndarray, weights: np.ndarray,
                 bias: np.ndarray, labels: Sequence[str], temperature: float = 1.0):
        self.vocabulary = vocabulary
        self.idf = idf.astype(np.float32)
        self.weights = weights.astype(np.float32)          # [labels, features]
        self.bias = bias.astype(np.float32)
        self.labels = list(labels)
        self.temperature = float(temperature)

    @classmethod
    def fit(cls, texts: Sequence[str], label_ids: Sequence[int], labels: Sequence[str],
            regularization: float = 10.0, seed: int = 13) -> 'TfidfClassifier':
        """Fit the vectorizer and the classifier with scikit-learn."""
        from sklearn.feature_extraction.text import TfidfVectorizer
        from sklearn.linear_model import LogisticRegression

        vectorizer = TfidfVectorizer(analyzer=analyze, sublinear_tf=True, min_df=2)
        features = vectorizer.fit_transform(texts)
        model = LogisticRegression(C=regularization, max_iter=2000, random_state=seed)
        model.fit(features, np.asarray(label_ids))
        weights = np.zeros((len(labels), features.shape[1]), dtype=np.float32)
        bias = np.full(len(labels), -1e4, dtype=np.float32)
        weights[model.classes_] = model.coef_ if len(model.classes_) > 2 else np.vstack(
            [-model.coef_[0], model.coef_[0]])
        bias[model.classes_] = model.intercept_ if len(model.classes_) > 2 else np.array(
            [-model.intercept_[0], model.intercept_[0]])
        vocabulary = {term: int(index) for term, index in vectorizer.vocabulary_.items()}
        return cls(vocabulary, vectorizer.idf_, weights, bias, labels)

    def features(self, text: str, terms: Optional[Sequence[str]] = None):
        """Sparse TF-IDF vector of a text as (indices, values); ``terms``: its ``analyze``."""
        vocabulary = self.vocabulary
        counts: Dict[int, int] = {}
        for term, count in Counter(analyze(text) if terms is None else terms).items():
            index = vocabulary.get(term)
            if index is not None:
                counts[index] = count
        if not counts:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        indices = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        values = (1.0 + np.log(np.fromiter(counts.values(), dtype=np.float64,
                                           count=len(counts)))).astype(np.float32)
        values *= self.idf[indices]
        return indices, values / np.linalg.norm(values)

    def logits(self, text: str, terms: Optional[Sequence[str]] = None) -> np.ndarray:
        """Class scores of a text."""
        return self.logits_of(*self.features(text, terms))

    def logits_of(self, indices: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Class scores of a ``features`` vector."""
        return self.weights[:, indices] @ values + self.bias

    def probabilities(self, text: str, terms: Optional[Sequence[str]] = None) -> np.ndarray:
        """Calibrated class probabilities of a text (``terms``: its ``analyze``, if known)."""
        return self.probabilities_of(*self.features(text, terms))

    def probabilities_of(self, indices: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Calibrated class probabilities of a ``features`` vector."""
        scaled = self.logits_of(indices, values) / self.temperature
        scaled = np.exp(scaled - scaled.max())
        return scaled / scaled.sum()

    def same_features(self, other: 'TfidfClassifier') -> bool:
        """Return True when ``other`` turns every text into the same feature vector."""
        return self.vocabulary == other.vocabulary and np.array_equal(self.idf, other.idf)

    def save(self, path: pathlib.Path) -> None:
        """Write the model as plain arrays plus a JSON vocabulary."""
        terms = sorted(self.vocabulary, key=self.vocabulary.get)
        with open(path, 'wb') as stream:
            np.savez_compressed(stream, idf=self.idf, weights=self.weights, bias=self.bias,
                                meta=np.frombuffer(json.dumps({
                                    'terms': terms, 'labels': self.labels,
                                    'temperature': self.temperature}).encode(), dtype=np.uint8))

    @classmethod
    def load(cls, path: pathlib.Path) -> 'TfidfClassifier':
        """Read a model written by ``save``."""
        with np.load(path, allow_pickle=False) as saved:
            meta = json.loads(saved['meta'].tobytes().decode())
            vocabulary = {term: index for index, term in enumerate(meta['terms'])}
            return cls(vocabulary, saved['idf'], saved['weights'], saved['bias'],
                       meta['labels'], meta['temperature'])
