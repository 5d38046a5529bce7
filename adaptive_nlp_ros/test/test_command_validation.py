"""core.command_validation: the CDR string reader, text and image checks."""

import struct

from adaptive_nlp_ros.core.controller.command_validation import (
    check_image, check_text, image_pixels, ImageInput, REJECT_EMPTY_TEXT, REJECT_IMAGE_EMPTY,
    REJECT_IMAGE_ENCODING, REJECT_IMAGE_LAYOUT, REJECT_IMAGE_TOO_LARGE, REJECT_MALFORMED,
    REJECT_NOT_UTF8, REJECT_TEXT_TOO_LONG, string_bytes_from_cdr, text_from_cdr)
from hypothesis import given, settings, strategies
import numpy as np
import pytest
from rclpy.serialization import serialize_message
from std_msgs.msg import String


def cdr(raw: bytes, little_endian: bool = True) -> bytes:
    """Serialize raw string bytes as a std_msgs/String in plain CDR."""
    header = b'\x00\x01\x00\x00' if little_endian else b'\x00\x00\x00\x00'
    return header + struct.pack('<I' if little_endian else '>I', len(raw) + 1) + raw + b'\x00'


@pytest.mark.parametrize('text', ['', 'go to the kitchen', 'K\u00fcche \U0001F373 \u53a8\u623f',
                                  'tab\there\u0007bell'])
def test_reads_what_rclpy_serializes(text):
    assert text_from_cdr(serialize_message(String(data=text))) == (text, None)


# NUL is left out: a C string cannot carry it through rclpy's serializer.
@settings(max_examples=300, deadline=None)
@given(strategies.text(alphabet=strategies.characters(blacklist_characters='\x00',
                                                      blacklist_categories=('Cs',))))
def test_any_string_round_trips_and_is_judged_without_error(text):
    decoded, rejection = text_from_cdr(serialize_message(String(data=text)))
    assert decoded == text and rejection is None
    verdict = check_text(decoded, max_chars=50)
    if not text or text.isspace():
        assert verdict is not None and verdict.code == REJECT_EMPTY_TEXT
    elif len(text) > 50:
        assert verdict is not None and verdict.code == REJECT_TEXT_TOO_LONG
    else:
        assert verdict is None


@settings(max_examples=300, deadline=None)
@given(strategies.binary(max_size=64))
def test_arbitrary_payloads_never_raise(payload):
    text, rejection = text_from_cdr(payload)
    assert isinstance(text, str)
    assert rejection is None or rejection.code in (REJECT_MALFORMED, REJECT_NOT_UTF8)


def test_big_endian_and_delimited_encapsulations():
    assert string_bytes_from_cdr(cdr(b'halt', little_endian=False)) == b'halt'
    delimited = b'\x00\x09\x00\x00' + struct.pack('<I', 9) + struct.pack('<I', 5) + b'halt\x00'
    assert string_bytes_from_cdr(delimited) == b'halt'


def test_invalid_utf8_is_rejected_with_its_bytes_and_echoed_with_replacement():
    text, rejection = text_from_cdr(cdr(b'go \xff\xfe to'))
    assert rejection.code == REJECT_NOT_UTF8
    assert 'ff' in rejection.reason and 'offset 3' in rejection.reason
    assert text == 'go \ufffd\ufffd to'


@pytest.mark.parametrize('payload, words', [
    (b'\x00\x01', 'too short'),
    (b'\x00\x05\x00\x00' + struct.pack('<I', 1) + b'\x00', 'unsupported CDR encapsulation'),
    (b'\x00\x01\x00\x00' + struct.pack('<I', 50) + b'abc\x00', 'runs past the end'),
    (b'\x00\x01\x00\x00' + struct.pack('<I', 3) + b'abc', 'not NUL-terminated'),
])
def test_malformed_payloads_are_rejected(payload, words):
    text, rejection = text_from_cdr(payload)
    assert rejection.code == REJECT_MALFORMED and words in rejection.reason


def test_text_limits():
    assert check_text('go \ud800 left', 20).code == REJECT_NOT_UTF8   # a lone surrogate
    assert check_text('x' * 10, 10) is None
    assert check_text('x' * 11, 10).code == REJECT_TEXT_TOO_LONG
    assert check_text(' \t\n\u2003', 10).code == REJECT_EMPTY_TEXT
    assert check_text('\u200b', 10) is None            # zero-width space is not whitespace


def image(height, width, step=None, data=None, encoding='mono8'):
    step = width if step is None else step
    return ImageInput(encoding, height, width, step, bytes(step * height) if data is None
                      else data)


@pytest.mark.parametrize('candidate, code', [
    (image(8, 8, encoding='rgb8'), REJECT_IMAGE_ENCODING),
    (image(8, 8, encoding='MONO8'), REJECT_IMAGE_ENCODING),
    (image(0, 8), REJECT_IMAGE_EMPTY),
    (image(8, 0), REJECT_IMAGE_EMPTY),
    (image(20, 20), REJECT_IMAGE_TOO_LARGE),
    (image(8, 8, step=7, data=bytes(56)), REJECT_IMAGE_LAYOUT),
    (image(8, 8, data=bytes(63)), REJECT_IMAGE_LAYOUT),
    (image(8, 8, step=9, data=bytes(64)), REJECT_IMAGE_LAYOUT),
])
def test_image_rejections(candidate, code):
    rejection = check_image(candidate, max_pixels=300)
    assert rejection is not None and rejection.code == code and rejection.reason


def test_padded_rows_are_stripped():
    rows = np.arange(12, dtype=np.uint8).reshape(3, 4)
    candidate = image(3, 3, step=4, data=rows.tobytes())
    assert check_image(candidate, max_pixels=100) is None
    assert image_pixels(candidate).tolist() == rows[:, :3].tolist()
