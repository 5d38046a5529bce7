"""
Token-level training targets from annotated spans: which tag each word piece should get.

For one command and its actions, three targets per word piece (``-100`` where a piece has no
target, which the loss skips: [CLS], [SEP], padding, and whatever a line does not annotate):

* the segment tag: ``B`` on the first piece of an action's words, ``I`` on the others, ``O``
  between actions (connectors, fillers, a request form), from the actions' own offsets;
  unknown (``-100``) for a line whose actions carry no offsets;
* the role tag: ``B-role`` on an argument's first piece, ``I-role`` on the rest, ``O``
  elsewhere (every line with actions: a missing argument is a negative);
* the intent of the action a piece belongs to (pieces outside every action: ``-100``).

A piece belongs to a span when its characters lie inside it; spans are on word boundaries
(``dataset.py`` refuses the others), so no piece straddles one.
"""

from typing import List, Optional, Sequence, Tuple

import numpy as np

from ..inference.parse import ParsedAction, TagScheme

IGNORE = -100


def piece_targets(offsets: Sequence[Tuple[int, int]], special: Sequence[bool],
                  actions: Optional[Sequence[ParsedAction]], scheme: TagScheme) -> np.ndarray:
    """Return ``[pieces, 3]`` int targets (segment, role, intent) for one encoded command."""
    targets = np.full((len(offsets), 3), IGNORE, dtype=np.int64)
    if not actions:
        return targets
    role_index = {name: index for index, name in enumerate(scheme.role_tags)}
    intent_index = {name: index for index, name in enumerate(scheme.intents)}
    with_offsets = all(action.start >= 0 for action in actions)
    for piece, ((start, end), is_special) in enumerate(zip(offsets, special)):
        if is_special or end <= start:
            continue
        targets[piece, 1] = 0
        if with_offsets:
            targets[piece, 0] = 0
        for action in actions:
            if with_offsets and action.start <= start and end <= action.end:
                targets[piece, 0] = 1 if _first_piece(offsets, piece, action.start) else 2
                targets[piece, 2] = intent_index.get(action.intent, IGNORE)
            for argument in action.arguments:
                if argument.start <= start and end <= argument.end:
                    prefix = 'B' if _first_piece(offsets, piece, argument.start) else 'I'
                    targets[piece, 1] = role_index[f'{prefix}-{argument.role}']
    return targets


def _first_piece(offsets: Sequence[Tuple[int, int]], piece: int, span_start: int) -> bool:
    """Return True when the piece before ``piece`` ends before the span (or there is none)."""
    return piece == 0 or offsets[piece - 1][1] <= span_start or offsets[piece - 1] == (0, 0)


def batch_targets(encodings: List, actions: Sequence[Optional[Sequence[ParsedAction]]],
                  scheme: TagScheme, width: int) -> np.ndarray:
    """Return ``[batch, width, 3]`` targets, padded with ``IGNORE`` to ``width`` pieces."""
    out = np.full((len(encodings), width, 3), IGNORE, dtype=np.int64)
    for row, (encoding, line_actions) in enumerate(zip(encodings, actions)):
        special = [bool(mask) for mask in encoding.special_tokens_mask]
        targets = piece_targets(encoding.offsets, special, line_actions, scheme)
        out[row, :len(targets)] = targets[:width]
    return out
