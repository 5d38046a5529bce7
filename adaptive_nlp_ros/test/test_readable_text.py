"""Control sequences are masked one space per character; words are letters or digits."""

from adaptive_nlp_ros.core.inference.readable_text import has_words, mask_controls
import pytest


@pytest.mark.parametrize('text, readable, masked', [
    ('go to the \x1b[31mkitchen\x1b[0m', 'go to the      kitchen    ', 9),
    ('\x1b]0;title\x07go', ' ' * 10 + 'go', 10),
    ('st\x00op\x7f', 'st op ', 2),
    ('tab\tand\nline', 'tab\tand\nline', 0),
    ('caf\u00e9 \u53a8\u623f \U0001F916', 'caf\u00e9 \u53a8\u623f \U0001F916', 0),
])
def test_control_sequences_become_spaces_and_offsets_stay(text, readable, masked):
    assert mask_controls(text) == (readable, masked)
    assert len(mask_controls(text)[0]) == len(text)


def test_words_are_letters_or_digits_of_any_script():
    assert not any(has_words(text) for text in ('?!...,;:', '\U0001F642\U0001F642', ' - '))
    assert all(has_words(text) for text in ('stop', '\u53a8\u623f', '3', '\u00e9'))
