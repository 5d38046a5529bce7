"""
What of a command's text the models read: control sequences masked, and whether any word is left.

Text pasted from a terminal or relayed by another program may carry ANSI colour escapes
(ESC [31m) and other control characters. The tokenizer would read ``[31mkitchen`` as
words, and the tags then find amounts in it. They are masked with spaces, one per character,
so every character offset (the spans of the parse) still indexes the text as received.

A text with no letter or digit in any script (``?!...``, emoji alone) names nothing a robot can
act on: the engine answers it ``out_of_scope`` without running a model (DESIGN.md: text that
yields no action).
"""

import re
from typing import Tuple

# ECMA-48 control sequences (CSI ... final byte), OSC strings (to BEL or ST), and any other
# ESC + one character; then every remaining C0 / C1 control character.
_ESCAPE_SEQUENCE = re.compile(r'\x1b\[[0-?]*[ -/]*[@-~]?|\x9b[0-?]*[ -/]*[@-~]?'
                              r'|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b.?', re.DOTALL)
_CONTROL = re.compile(r'[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]')


def mask_controls(text: str) -> Tuple[str, int]:
    """Return ``text`` with control sequences and characters as spaces, and how many there were."""
    if text.isprintable() or not _CONTROL.search(text):
        return text, 0                   # tabs and line breaks are whitespace, kept as they are
    masked = 0

    def spaces(match: 're.Match') -> str:
        nonlocal masked
        masked += len(match.group())
        return ' ' * len(match.group())
    text = _ESCAPE_SEQUENCE.sub(spaces, text)
    return _CONTROL.sub(spaces, text), masked


def has_words(text: str) -> bool:
    """Return True when the text holds a letter or a digit (of any script)."""
    return any(character.isalnum() for character in text)
