"""
The cheap tier's structure: a linear tagger over words, so the TF-IDF variant yields actions.

Without it a command answered by the TF-IDF variant (low battery, or the controller's
cheapest answer) is one action with no arguments: the robot knows "bring" but not what or to
whom. This tagger gives each word the three distributions the backbone's token heads give
(segment tag, role tag, intent; ``parse.TagScheme``) from sparse features of the word and
its neighbours, so ``parse.decode`` turns them into actions exactly as it does for the
backbone. Words are the backbone tokenizer's words (``TokenView``), already computed for
every command. scikit-learn fits it; inference is one gather and three softmaxes in numpy,
and the saved model is plain arrays (no pickle).
"""

import json
import pathlib
from typing import Dict, List, Sequence, Tuple

import numpy as np

from .parse import SEGMENT_TAGS, TagScheme, TokenView

# Words after which a new clause (often a new action) starts.
_CLAUSE_BREAKS = frozenset({'and', 'then', ',', '.', ';', 'also', 'next', 'after', 'afterwards',
                            'finally', 'before', 'once', 'plus'})


def word_spans(view: TokenView) -> List[Tuple[int, int]]:
    """Return the character span of each word of a tokenized command."""
    starts = view.word_starts()
    ends = starts[1:] + [len(view.offsets)]
    return [(view.offsets[first][0], view.offsets[last - 1][1])
            for first, last in zip(starts, ends)]


def word_view(view: TokenView) -> TokenView:
    """Return a view of the same command whose pieces are its words."""
    spans = word_spans(view)
    return TokenView(view.text, spans, list(range(len(spans))))


def word_features(text: str, spans: Sequence[Tuple[int, int]]) -> List[List[str]]:
    """
    Return the feature names of every word.

    The word, its neighbours two either side, the word pairs around it, its suffix and
    shape, and the first two words of its clause (the verb that decides an action's intent
    is usually there, however far the word is from it).
    """
    raw = [text[start:end] for start, end in spans]
    words = [word.lower() for word in raw]
    padded = ['<s>', '<s>'] + words + ['</s>', '</s>']
    clause_start = 0
    features = []
    for index, word in enumerate(words):
        if index and words[index - 1] in _CLAUSE_BREAKS:
            clause_start = index
        at = index + 2
        names = [f'w={word}', f'p1={padded[at - 1]}', f'n1={padded[at + 1]}',
                 f'p2={padded[at - 2]}', f'n2={padded[at + 2]}',
                 f'pw={padded[at - 1]}|{word}', f'wn={word}|{padded[at + 1]}',
                 f'pp={padded[at - 2]}|{padded[at - 1]}', f'nn={padded[at + 1]}|{padded[at + 2]}',
                 f'p1s={padded[at - 1][-3:]}', f'n1s={padded[at + 1][-3:]}',
                 f's3={word[-3:]}', f'c1={words[clause_start]}',
                 f'c2={"|".join(words[clause_start:clause_start + 2])}',
                 f'ci={min(index - clause_start, 4)}']
        if word.isdigit() or any(ch.isdigit() for ch in word):
            names.append('shape=digit')
        if raw[index][:1].isupper() and index:
            names.append('shape=capital')
        if index == 0:
            names.append('first')
        if index == len(words) - 1:
            names.append('last')
        features.append(names)
    return features


class WordTagger:
    """Multinomial logistic regressions over sparse word features, one per tag family."""

    def __init__(self, vocabulary: Dict[str, int], weights: np.ndarray, bias: np.ndarray,
                 scheme: TagScheme, temperatures: Sequence[float] = (1.0, 1.0, 1.0)):
        self.vocabulary = vocabulary
        # One copy, in the layout the product reads; ``weights`` is a view of it.
        self._columns = np.ascontiguousarray(
            np.asarray(weights, dtype=np.float32).T)             # [features, outputs]
        self.weights = self._columns.T                  # [outputs, features], heads stacked
        self.bias = bias.astype(np.float32)
        self.scheme = scheme
        self.temperatures = [float(t) for t in temperatures]

    @classmethod
    def fit(cls, rows: Sequence[List[List[str]]], targets: Sequence[np.ndarray],
            scheme: TagScheme, regularization: float = 4.0, seed: int = 13,
            min_count: int = 2) -> 'WordTagger':
        """
        Fit from per-command word features and ``[words, 3]`` targets (``-100``: no target).

        Each tag family is its own classifier over the words that carry a target for it.
        """
        from sklearn.linear_model import LogisticRegression

        counts: Dict[str, int] = {}
        for features in rows:
            for names in features:
                for name in names:
                    counts[name] = counts.get(name, 0) + 1
        vocabulary = {name: index for index, name in
                      enumerate(sorted(name for name, count in counts.items()
                                       if count >= min_count))}
        matrix = _design(rows, vocabulary)
        stacked = np.concatenate(targets) if targets else np.zeros((0, 3), dtype=np.int64)
        widths = _widths(scheme)
        weights = np.zeros((sum(widths), len(vocabulary)), dtype=np.float32)
        bias = np.full(sum(widths), -1e4, dtype=np.float32)
        offset = 0
        for family, width in enumerate(widths):
            keep = stacked[:, family] >= 0
            labels = stacked[keep, family]
            present = np.unique(labels)
            if len(present) == 1:
                bias[offset + present[0]] = 0.0
            elif len(present) > 1:
                model = LogisticRegression(C=regularization, max_iter=500, random_state=seed)
                model.fit(matrix[keep], labels)
                coef, intercept = model.coef_, model.intercept_
                if len(model.classes_) == 2:
                    coef = np.vstack([-coef[0], coef[0]])
                    intercept = np.array([-intercept[0], intercept[0]])
                weights[offset + model.classes_] = coef
                bias[offset + model.classes_] = intercept
            offset += width
        return cls(vocabulary, weights, bias, scheme)

    def logits(self, features: List[List[str]]) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return the ``[words, width]`` scores of the three tag families."""
        scores = _design([features], self.vocabulary) @ self._columns + self.bias
        bounds = np.cumsum(_widths(self.scheme))[:-1]
        segment, roles, intents = np.split(np.asarray(scores, dtype=np.float32), bounds, axis=1)
        return segment, roles, intents

    def probabilities(self, text: str, spans: Sequence[Tuple[int, int]]
                      ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Return calibrated ``[words, width]`` segment, role and intent probabilities."""
        parts = self.logits(word_features(text, spans))
        return tuple(_softmax(part / temperature)
                     for part, temperature in zip(parts, self.temperatures))

    def save(self, path: pathlib.Path) -> None:
        """Write the model as plain arrays plus a JSON vocabulary."""
        names = sorted(self.vocabulary, key=self.vocabulary.get)
        with open(path, 'wb') as stream:
            np.savez_compressed(stream, weights=np.ascontiguousarray(self.weights),
                                bias=self.bias,
                                meta=np.frombuffer(json.dumps({
                                    'features': names, 'intents': list(self.scheme.intents),
                                    'roles': list(self.scheme.roles),
                                    'intent_roles': self.scheme.intent_roles_json(),
                                    'intent_signatures':
                                        self.scheme.intent_signatures_json(),
                                    'temperatures': self.temperatures}).encode(),
                                    dtype=np.uint8))

    @classmethod
    def load(cls, path: pathlib.Path) -> 'WordTagger':
        """Read a model written by ``save``."""
        with np.load(path, allow_pickle=False) as saved:
            meta = json.loads(saved['meta'].tobytes().decode())
            vocabulary = {name: index for index, name in enumerate(meta['features'])}
            scheme = TagScheme(tuple(meta['intents']), tuple(meta['roles']),
                               TagScheme.intent_roles_of(meta.get('intent_roles')),
                               TagScheme.intent_signatures_of(meta.get('intent_signatures')))
            weights, bias = saved['weights'], saved['bias']
        if weights.shape != (scheme.width, len(vocabulary)) or bias.shape != (scheme.width,):
            raise ValueError(f'{path}: weights {weights.shape} do not fit {scheme.width} '
                             f'outputs over {len(vocabulary)} features')
        return cls(vocabulary, weights, bias, scheme, meta['temperatures'])


def _widths(scheme: TagScheme) -> Tuple[int, int, int]:
    return len(SEGMENT_TAGS), len(scheme.role_tags), len(scheme.intents)


def _design(rows: Sequence[List[List[str]]], vocabulary: Dict[str, int]):
    """Return the binary ``[words, features]`` matrix of every word of every row (CSR)."""
    from scipy import sparse

    indices, pointers = [], [0]
    for features in rows:
        for names in features:
            indices.extend(vocabulary[name] for name in names if name in vocabulary)
            pointers.append(len(indices))
    data = np.ones(len(indices), dtype=np.float32)
    return sparse.csr_matrix((data, np.asarray(indices, dtype=np.int64), np.asarray(pointers)),
                             shape=(len(pointers) - 1, len(vocabulary)))


def _softmax(scores: np.ndarray) -> np.ndarray:
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)
