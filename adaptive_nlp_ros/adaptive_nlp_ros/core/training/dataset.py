"""
Labelled command datasets: JSONL lines of ``{"text", "label"}``, optionally with ``actions``.

Any label set works. A line may also carry the command's structure::

    {"text": "take the cup and bring it to Anna", "label": "pick",
     "actions": [{"intent": "pick", "arguments": [{"role": "object", "start": 9, "end": 12}]},
                 {"intent": "bring", "arguments": [
                     {"role": "object", "start": 23, "end": 25, "value": "cup"},
                     {"role": "person", "start": 29, "end": 33}]}]}

``value`` only where it differs from the span's text (a pronoun's referent); an action's own
``start``/``end`` (where its words are) are optional and, where given, train the action
segmentation. ``label`` may be left out when actions are given (it is the first action's
intent); given, it must be. Lines without actions train the label only. A malformed line
is refused with the file, the line and the reason, before anything is trained.
"""

from dataclasses import dataclass, field
import json
import pathlib
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple

from ..inference.parse import ParsedAction, ParsedArgument, ROLES


class DatasetError(ValueError):
    """A dataset file that cannot be used, with the file and line that say why."""


Actions = Tuple[ParsedAction, ...]


@dataclass
class Dataset:
    """Texts, labels and (where given) actions, in file order; ``sources`` per line."""

    texts: List[str]
    labels: List[str]
    sources: List[str] = field(default_factory=list)
    path: Optional[pathlib.Path] = None
    actions: List[Optional[Actions]] = field(default_factory=list)
    line_numbers: List[int] = field(default_factory=list)    # of each example in its file

    def __post_init__(self) -> None:
        if not self.actions:
            self.actions = [None] * len(self.texts)

    def __len__(self) -> int:
        return len(self.texts)

    @property
    def structured(self) -> bool:
        """Return True when any line carries actions."""
        return any(actions is not None for actions in self.actions)

    def label_counts(self) -> Dict[str, int]:
        """Examples per label, sorted by label."""
        counts: Dict[str, int] = {}
        for label in self.labels:
            counts[label] = counts.get(label, 0) + 1
        return dict(sorted(counts.items()))

    def rows(self, rows: Sequence[int]) -> 'Dataset':
        """Return the lines at ``rows``, in that order."""
        return Dataset([self.texts[i] for i in rows], [self.labels[i] for i in rows],
                       [self.sources[i] for i in rows] if self.sources else [], self.path,
                       [self.actions[i] for i in rows])

    def subset(self, source: str) -> 'Dataset':
        """Only the lines whose ``source`` field equals ``source``."""
        return self.rows([i for i, line_source in enumerate(self.sources)
                          if line_source == source])


def _span(text: str, item: Dict[str, Any], what: str) -> Tuple[int, int]:
    """Check a span's offsets: integers, inside the text, on word boundaries, no outer space."""
    start, end = item.get('start'), item.get('end')
    if not isinstance(start, int) or not isinstance(end, int) or isinstance(
            start, bool) or isinstance(end, bool):
        raise ValueError(f'{what}: "start" and "end" must be integers')
    if not 0 <= start < end <= len(text):
        raise ValueError(f'{what}: span {start}..{end} out of range (text has {len(text)} '
                         'characters)')
    piece = text[start:end]
    if piece != piece.strip():
        raise ValueError(f'{what}: span {start}..{end} ({piece!r}) is misaligned: it starts or '
                         'ends with a space')
    if (start > 0 and text[start - 1].isalnum() and piece[0].isalnum()) or (
            end < len(text) and text[end].isalnum() and piece[-1].isalnum()):
        raise ValueError(f'{what}: span {start}..{end} ({piece!r}) is misaligned: it cuts a '
                         'word')
    return start, end


def parse_actions(text: str, raw: Any) -> Actions:
    """Return the actions of one line; ValueError says what is wrong with them."""
    if not isinstance(raw, list) or not raw:
        raise ValueError('"actions" must be a non-empty list')
    actions = []
    taken: List[Tuple[int, int]] = []
    action_spans: List[Tuple[int, int, int]] = []      # (number, start, end) where given
    for number, item in enumerate(raw, start=1):
        if not isinstance(item, dict):
            raise ValueError(f'action {number} must be an object')
        intent = item.get('intent')
        if not isinstance(intent, str) or not intent.strip():
            raise ValueError(f'action {number}: "intent" must be a non-empty string')
        start = end = -1
        if 'start' in item or 'end' in item:
            start, end = _span(text, item, f'action {number}')
            for other, other_start, other_end in action_spans:
                if start < other_end:
                    raise ValueError(f'action {number}: span {start}..{end} overlaps or comes '
                                     f'before action {other} ({other_start}..{other_end}): '
                                     'actions are in the order they are done')
            action_spans.append((number, start, end))
        arguments = []
        raw_arguments = item.get('arguments', [])
        if not isinstance(raw_arguments, list):
            raise ValueError(f'action {number}: "arguments" must be a list')
        for index, argument in enumerate(raw_arguments, start=1):
            what = f'action {number} argument {index}'
            if not isinstance(argument, dict):
                raise ValueError(f'{what} must be an object')
            role = argument.get('role')
            if role not in ROLES:
                raise ValueError(f'{what}: unknown role {role!r}; roles: {", ".join(ROLES)}')
            a_start, a_end = _span(text, argument, what)
            if start >= 0 and not start <= a_start < a_end <= end:
                raise ValueError(f'{what}: span {a_start}..{a_end} lies outside its action '
                                 f'({start}..{end})')
            for other_start, other_end in taken:
                if a_start < other_end and other_start < a_end:
                    raise ValueError(f'{what}: span {a_start}..{a_end} overlaps another '
                                     f'argument ({other_start}..{other_end})')
            taken.append((a_start, a_end))
            value = argument.get('value', text[a_start:a_end])
            if not isinstance(value, str) or not value.strip():
                raise ValueError(f'{what}: "value" must be a non-empty string')
            if value not in text:
                raise ValueError(f'{what}: "value" {value!r} is not in the text: a value is '
                                 'the text a pronoun stands for, named in the command')
            arguments.append(ParsedArgument(role, value, a_start, a_end, 1.0,
                                            'value' in argument))
        actions.append(ParsedAction(intent.strip(), 1.0, tuple(arguments), start, end))
    return tuple(actions)


def actions_json(text: str, actions: Actions) -> List[Dict[str, Any]]:
    """Return actions in the training format (the inverse of ``parse_actions``)."""
    out = []
    for action in actions:
        item: Dict[str, Any] = {'intent': action.intent, 'arguments': []}
        if action.start >= 0:
            item.update(start=action.start, end=action.end)
        for argument in action.arguments:
            entry: Dict[str, Any] = {'role': argument.role, 'start': argument.start,
                                     'end': argument.end}
            if argument.value != text[argument.start:argument.end]:
                entry['value'] = argument.value
            item['arguments'].append(entry)
        out.append(item)
    return out


def load_dataset(path: pathlib.Path, require_labels: bool = True) -> Dataset:
    """
    Read a JSONL dataset, refusing malformed lines with the line number and the reason.

    Blank lines are skipped. Extra keys are allowed (``source`` is kept). With
    ``require_labels=False`` a missing label is allowed and stored as ''.
    """
    path = pathlib.Path(path)
    if path.is_dir():
        raise DatasetError(f'{path}: is a folder; give a JSONL dataset file')
    if not path.is_file():
        raise DatasetError(f'{path}: no such dataset file')
    # utf-8-sig: a byte-order mark (as Windows editors write one) is not part of the text.
    with path.open(encoding='utf-8-sig') as stream:
        try:
            lines = list(stream)
        except UnicodeDecodeError as error:
            raise DatasetError(f'{path}: not UTF-8 text ({error})') from None
    dataset = Dataset([], [], [], path, [])
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
        actions = None
        if record.get('actions') is not None:
            try:
                actions = parse_actions(text, record['actions'])
            except ValueError as error:
                raise DatasetError(f'{path}:{number}: {error}') from None
        label = record.get('label')
        if label is None and actions:
            label = actions[0].intent
        if label is None and require_labels:
            raise DatasetError(f'{path}:{number}: missing field "label"')
        if label is not None and (not isinstance(label, str) or not label.strip()):
            raise DatasetError(f'{path}:{number}: "label" must be a non-empty string')
        if actions and label.strip() != actions[0].intent:
            raise DatasetError(f'{path}:{number}: "label" {label!r} is not the first '
                               f"action's intent {actions[0].intent!r}")
        dataset.texts.append(text)
        dataset.labels.append(label.strip() if label else '')
        dataset.sources.append(str(record.get('source', '')))
        dataset.actions.append(actions)
        dataset.line_numbers.append(number)
    if not dataset.texts:
        raise DatasetError(f'{path}: no examples')
    return dataset


def check_text_lengths(dataset: Dataset,
                       too_long_reason: Callable[[str], Optional[str]]) -> None:
    """
    Refuse a command the model cannot read whole, with its file and line.

    Cut to fit, it would teach (or score) an answer to words the model never saw.
    """
    for index, text in enumerate(dataset.texts):
        reason = too_long_reason(text)
        if reason is not None:
            where = (f'{dataset.path}:{dataset.line_numbers[index]}'
                     if index < len(dataset.line_numbers) else f'{dataset.path}, example '
                     f'{index + 1}')
            raise DatasetError(f'{where}: {reason}')


def check_label_coverage(train: Dataset, others: Sequence[Dataset],
                         minimum_per_label: int = 2) -> List[str]:
    """
    Return the sorted label set of ``train``, refusing labels that cannot be learned.

    A label seen in another split but never in train, or with fewer than
    ``minimum_per_label`` training examples, is an error that names it. The intents of later
    actions count as labels too: each must occur in train (as a label or an intent).
    """
    counts = train.label_counts()
    if len(counts) < 2:
        raise DatasetError(f'{train.path}: needs at least 2 labels, found {list(counts)}')
    for label, count in counts.items():
        if count < minimum_per_label:
            raise DatasetError(f'{train.path}: label {label!r} has {count} example(s); '
                               f'at least {minimum_per_label} are needed to learn it')
    intents = {action.intent for actions in train.actions if actions for action in actions}
    known = set(counts) | intents
    for other in [train] + list(others):
        for label in sorted(set(other.labels) - set(counts) - {''}):
            raise DatasetError(f'{other.path}: label {label!r} has no examples in '
                               f'{train.path}')
        for actions in other.actions:
            for action in actions or ():
                if action.intent not in known:
                    raise DatasetError(f'{other.path}: intent {action.intent!r} has no '
                                       f'examples in {train.path}')
    return sorted(known)


def data_warnings(train: Dataset, dev: Optional[Dataset] = None) -> List[str]:
    """
    Return what in a user's data trains or calibrates worse than it seems, one line each.

    Nothing here stops training: repeated lines, one text under two labels, labels that
    differ only in case (``Halt`` and ``halt`` are two labels), and dev lines that are also
    training lines (calibration and thresholds then fit sentences the model has learned).
    """
    def line(dataset: Dataset, row: int) -> str:
        numbers = dataset.line_numbers
        return f'{dataset.path}:{numbers[row] if row < len(numbers) else row + 1}'

    warnings = []
    first_row: Dict[str, int] = {}
    repeated, conflicts = 0, []
    for row, text in enumerate(train.texts):
        key = ' '.join(text.split())
        if key not in first_row:
            first_row[key] = row
            continue
        repeated += 1
        earlier = first_row[key]
        if train.labels[earlier] != train.labels[row]:
            conflicts.append(f'{line(train, row)} ({train.labels[row]!r}; '
                             f'{train.labels[earlier]!r} at {line(train, earlier)})')
    if repeated:
        warnings.append(f'{train.path}: {repeated} line(s) repeat an earlier text (they weigh '
                        'that text more, not the task)')
    if conflicts:
        warnings.append(f'{len(conflicts)} text(s) have two labels, first: {conflicts[0]}')
    by_case: Dict[str, set] = {}
    for label in set(train.labels):
        by_case.setdefault(label.lower(), set()).add(label)
    for variants in by_case.values():
        if len(variants) > 1:
            warnings.append(f'labels {", ".join(sorted(map(repr, variants)))} differ only in '
                            'case: they are different labels')
    if dev is not None:
        shared = [row for row, text in enumerate(dev.texts)
                  if ' '.join(text.split()) in first_row]
        if shared:
            warnings.append(f'{dev.path}: {len(shared)} of {len(dev)} line(s) are also in '
                            f'{train.path} (first: {line(dev, shared[0])}): calibration and '
                            'thresholds then fit sentences the model has learned')
    return warnings
