"""
The bracket notation hand-labelled commands are written in, and its conversion to records.

Writing character offsets by hand is error-prone; writing brackets is not. One command per line::

    {navigate go to the [kitchen](destination)}, {pick take the [red cup](object) from the
    [table](location)} and {bring bring [it](object=red cup) to [Anna](person)}

* ``{INTENT words}`` is one action, in the order it is to be done; the intent is the first word
  after the brace. Text outside braces (connectors, fillers, punctuation) belongs to no action.
* ``[words](ROLE)`` inside an action is an argument; ``[words](ROLE=REFERENT)`` is a pronoun
  (``it``, ``them``, ``there``) whose referent is REFERENT, the text it stands for.
* A line that starts with ``#`` is a comment; blank lines are skipped.

``parse_line`` returns the plain text and its record: ``label`` (the first action's intent),
``actions`` with ``start``/``end`` character offsets (end exclusive) of each action and of each
argument, and ``value`` only on pronoun arguments: the training format of ``adaptive-nlp
train``, the action offsets being an additive field. Errors name the column and the reason.
"""

import pathlib
import re
from typing import Dict, Iterator, List, Optional, Sequence, Tuple

INTENTS = ('stop', 'move', 'navigate', 'dock', 'pick', 'place', 'bring', 'follow', 'guide',
           'find', 'greet', 'say', 'answer', 'report', 'speed', 'status', 'cancel',
           'out_of_scope')
ROLES = ('object', 'person', 'location', 'destination', 'direction', 'distance', 'angle',
         'speed', 'content')

_ARGUMENT_RE = re.compile(r'\[([^\[\]{}()]+)\]\(([a-z_]+)(?:=([^()\[\]{}]+))?\)')


class MarkupError(ValueError):
    """A line that does not follow the bracket notation (the message says where and why)."""


def _check_span(text: str, start: int, end: int, what: str) -> None:
    """Refuse empty spans, spans with outer whitespace and spans that cut a word."""
    piece = text[start:end]
    if not piece.strip():
        raise MarkupError(f'empty {what}')
    if piece != piece.strip():
        raise MarkupError(f'{what} {piece!r} starts or ends with a space')
    if start > 0 and text[start - 1].isalnum() and piece[0].isalnum():
        raise MarkupError(f'{what} {piece!r} starts inside a word')
    if end < len(text) and text[end].isalnum() and piece[-1].isalnum():
        raise MarkupError(f'{what} {piece!r} ends inside a word')


def _parse_action(body: str, column: int, out: List[str]) -> Tuple[str, List[Dict[str, object]]]:
    """Append one action's plain text to ``out`` (the line so far); return intent, arguments."""
    intent, _, rest = body.partition(' ')
    if intent not in INTENTS:
        raise MarkupError(f'column {column}: unknown intent {intent!r}; intents: '
                          f'{", ".join(INTENTS)}')
    arguments: List[Dict[str, object]] = []
    position = 0
    for match in _ARGUMENT_RE.finditer(rest):
        out.append(rest[position:match.start()])
        words, role, referent = match.group(1), match.group(2), match.group(3)
        if role not in ROLES:
            raise MarkupError(f'column {column}: unknown role {role!r}; roles: '
                              f'{", ".join(ROLES)}')
        start = sum(len(piece) for piece in out)
        out.append(words)
        argument: Dict[str, object] = {'role': role, 'start': start,
                                       'end': start + len(words)}
        if referent is not None:
            if not referent.strip() or referent != referent.strip():
                raise MarkupError(f'column {column}: referent {referent!r} of {words!r} is '
                                  'empty or has outer spaces')
            argument['value'] = referent
        arguments.append(argument)
        position = match.end()
    tail = rest[position:]
    if any(mark in tail for mark in '[]()'):
        raise MarkupError(f'column {column}: a bracket that is not part of [words](role)')
    out.append(tail)
    return intent, arguments


def parse_line(line: str) -> Dict[str, object]:
    """Return ``{"text", "label", "actions"}`` for one annotated command (MarkupError if bad)."""
    out: List[str] = []
    actions: List[Dict[str, object]] = []
    position = 0
    while position < len(line):
        opening = line.find('{', position)
        closing_stray = line.find('}', position)
        if opening < 0:
            if closing_stray >= 0:
                raise MarkupError(f'column {closing_stray + 1}: "}}" without "{{"')
            outside = line[position:]
            if any(mark in outside for mark in '[]'):
                raise MarkupError(f'column {position + 1}: an argument outside every action')
            out.append(outside)
            break
        if 0 <= closing_stray < opening:
            raise MarkupError(f'column {closing_stray + 1}: "}}" without "{{"')
        outside = line[position:opening]
        if any(mark in outside for mark in '[]'):
            raise MarkupError(f'column {position + 1}: an argument outside every action')
        out.append(outside)
        closing = line.find('}', opening)
        nested = line.find('{', opening + 1)
        if closing < 0 or 0 <= nested < closing:
            raise MarkupError(f'column {opening + 1}: "{{" without its "}}"')
        start = sum(len(piece) for piece in out)
        body_start = len(out)
        intent, arguments = _parse_action(line[opening + 1:closing], opening + 1, out)
        end = start + sum(len(piece) for piece in out[body_start:])
        actions.append({'intent': intent, 'start': start, 'end': end,
                        'arguments': arguments})
        position = closing + 1
    text = ''.join(out)
    if not text.strip():
        raise MarkupError('no text')
    if not actions:
        raise MarkupError('no action: write {out_of_scope ...} for text a robot cannot act on')
    for action in actions:
        _check_span(text, int(action['start']), int(action['end']), 'action')
        for argument in action['arguments']:
            _check_span(text, int(argument['start']), int(argument['end']),
                        f'{argument["role"]} argument')
            if not (action['start'] <= argument['start'] < argument['end'] <= action['end']):
                raise MarkupError(f'argument {text[argument["start"]:argument["end"]]!r} lies '
                                  'outside its action')
    return {'text': text, 'label': actions[0]['intent'], 'actions': actions}


def read_markup(path: pathlib.Path) -> Iterator[Tuple[int, Dict[str, object]]]:
    """Yield ``(line number, record)`` for every command of a markup file."""
    path = pathlib.Path(path)
    for number, line in enumerate(path.read_text(encoding='utf-8').splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith('#'):
            continue
        try:
            yield number, parse_line(stripped)
        except MarkupError as error:
            raise MarkupError(f'{path}:{number}: {error}') from None


def render(record: Dict[str, object]) -> str:
    """Write a record back in the bracket notation (inverse of ``parse_line``)."""
    text = str(record['text'])
    pieces: List[str] = []
    position = 0
    for action in record['actions']:
        start, end = int(action['start']), int(action['end'])
        pieces.append(text[position:start])
        inner: List[str] = []
        cursor = start
        for argument in sorted(action['arguments'], key=lambda a: int(a['start'])):
            a_start, a_end = int(argument['start']), int(argument['end'])
            inner.append(text[cursor:a_start])
            role = str(argument['role'])
            if 'value' in argument:
                role += '=' + str(argument['value'])
            inner.append(f'[{text[a_start:a_end]}]({role})')
            cursor = a_end
        inner.append(text[cursor:end])
        pieces.append('{' + str(action['intent']) + ' ' + ''.join(inner) + '}')
        position = end
    pieces.append(text[position:])
    return ''.join(pieces)


def summary(records: Sequence[Dict[str, object]]) -> Dict[str, Dict[str, int]]:
    """Count actions per intent, arguments per role and commands per number of actions."""
    counts: Dict[str, Dict[str, int]] = {'intents': {}, 'roles': {}, 'actions_per_command': {},
                                         'pronouns': {}}
    for record in records:
        actions = record['actions']
        key = str(len(actions))
        counts['actions_per_command'][key] = counts['actions_per_command'].get(key, 0) + 1
        for action in actions:
            intent = str(action['intent'])
            counts['intents'][intent] = counts['intents'].get(intent, 0) + 1
            for argument in action['arguments']:
                role = str(argument['role'])
                counts['roles'][role] = counts['roles'].get(role, 0) + 1
                if 'value' in argument:
                    counts['pronouns'][role] = counts['pronouns'].get(role, 0) + 1
    return counts


def first_problem(lines: Sequence[str]) -> Optional[str]:
    """Return the first error of a list of markup lines, or None (for quick checks)."""
    for number, line in enumerate(lines, start=1):
        try:
            parse_line(line)
        except MarkupError as error:
            return f'line {number}: {error}'
    return None
