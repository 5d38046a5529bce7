"""Labelled command datasets: JSONL files of ``{"text": ..., "label": ...}`` with any label set."""

from dataclasses import dataclass, field
import json
import pathlib
from typing import Dict, List, Optional, Sequence


class DatasetError(ValueError):
    """A dataset file that cannot be used, with the file and line that say why."""


@dataclass
class Dataset:
    """Texts and their labels, in file order; ``sources`` is optional per-line provenance."""

    texts: List[str]
    labels: List[str]
    sources: List[str] = field(default_factory=list)
    path: Optional[pathlib.Path] = None

    def __len__(self) -> int:
        return len(self.texts)

    def label_counts(self) -> Dict[str, int]:
        """Examples per label, sorted by label."""
        counts: Dict[str, int] = {}
        for label in self.labels:
            counts[label] = counts.get(label, 0) + 1
        return dict(sorted(counts.items()))

    def subset(self, source: str) -> 'Dataset':
        """Only the lines whose ``source`` field equals ``source``."""
        rows = [i for i, line_source in enumerate(self.sources) if line_source == source]
        return Dataset([self.texts[i] for i in rows], [self.labels[i] for i in rows],
                       [source] * len(rows), self.path)


def load_dataset(path: pathlib.Path, require_labels: bool = True) -> Dataset:
    """
    Read a JSONL dataset, refusing malformed lines with the line number and the reason.

    Blank lines are skipped. Extra keys are allowed (``source`` is kept). With
    ``require_labels=False`` a missing label is allowed and stored as ''.
    """
    path = pathlib.Path(path)
    if not path.is_file():
        raise DatasetError(f'{path}: no such dataset file')
    texts: List[str] = []
    labels: List[str] = []
    sources: List[str] = []
    with path.open(encoding='utf-8') as stream:
        try:
            lines = list(stream)
        except UnicodeDecodeError as error:
            raise DatasetError(f'{path}: not UTF-8 text ({error})') from None
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as error:
            raise DatasetError(f'{path}:{number}: not valid JSON ({error.msg})') from None
        if not isinstance(record, dict):
            raise DatasetError(f'{path}:{number}: expected a JSON object with "text" and '
                               f'"label", got {type(record).__name__}')
        if 'text' not in record:
            raise DatasetError(f'{path}:{number}: missing field "text"')
        text = record['text']
        if not isinstance(text, str) or not text.strip():
            raise DatasetError(f'{path}:{number}: "text" must be a non-empty string')
        label = record.get('label')
        if label is None and require_labels:
            raise DatasetError(f'{path}:{number}: missing field "label"')
        if label is not None and (not isinstance(label, str) or not label.strip()):
            raise DatasetError(f'{path}:{number}: "label" must be a non-empty string')
        texts.append(text)
        labels.append(label.strip() if label else '')
        sources.append(str(record.get('source', '')))
    if not texts:
        raise DatasetError(f'{path}: no examples')
    return Dataset(texts, labels, sources, path)


def check_label_coverage(train: Dataset, others: Sequence[Dataset],
                         minimum_per_label: int = 2) -> List[str]:
    """
    Return the sorted label set of ``train``, refusing labels that cannot be learned.

    A label seen in another split but never in train, or with fewer than
    ``minimum_per_label`` training examples, is an error that names it.
    """
    counts = train.label_counts()
    if len(counts) < 2:
        raise DatasetError(f'{train.path}: needs at least 2 labels, found {list(counts)}')
    for label, count in counts.items():
        if count < minimum_per_label:
            raise DatasetError(f'{train.path}: label {label!r} has {count} example(s); '
                               f'at least {minimum_per_label} are needed to learn it')
    for other in others:
        for label in sorted(set(other.labels) - set(counts) - {''}):
            raise DatasetError(f'{other.path}: label {label!r} has no examples in '
                               f'{train.path}')
    return sorted(counts)
