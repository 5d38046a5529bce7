"""
Input checks at receipt: which commands the controller answers and which it rejects, and why.

Text commands arrive as serialized ``std_msgs/String`` bytes: rclpy would decode invalid UTF-8
with replacement characters and hide it, so the controller subscribes raw and reads the CDR
string here (``text_from_cdr``), decoding UTF-8 strictly. Legal text includes control
characters, emoji and mixed scripts; only empty (or whitespace-only) text and text longer
than ``max_text_chars`` characters, or than the model reads (512 word pieces), are refused
(refused, never truncated: the tail of a long command may be a "stop").

Image commands are ``sensor_msgs/Image`` ``mono8``, any size: one byte per pixel, rows of
``step`` bytes (``step >= width``; the bytes past ``width`` in a row are padding), so the data
must be exactly ``step x height`` bytes.

A command older than ``max_command_age_s`` when it arrives (``command_age_s``: its DDS source
timestamp against its receive timestamp, e.g. replayed by DDS after a link outage) is refused
``stale``: acting late on "go to the kitchen" is worse than not acting. A stale command that
may be a stop is still answered, and answered only if it is one (``core.controller.intake``).

Every refusal is a ``Rejection``: a short code (counted in diagnostics as ``rejected_<code>``)
and a reason sentence (the ``reason`` of the REJECTED ``InferenceResult``). Three codes are
not about the input: ``model_unavailable``, ``inference_error`` and ``inactive`` (a controller
that is not active answers every command with it; see ``core.controller``).
"""

from dataclasses import dataclass
import struct
from typing import Any, Callable, Optional, Tuple

import numpy as np

REJECT_EMPTY_TEXT = 'empty_text'
REJECT_TEXT_TOO_LONG = 'text_too_long'
REJECT_NOT_UTF8 = 'not_utf8'
REJECT_MALFORMED = 'malformed_message'
REJECT_IMAGE_ENCODING = 'image_encoding'
REJECT_IMAGE_EMPTY = 'image_empty'
REJECT_IMAGE_TOO_LARGE = 'image_too_large'
REJECT_IMAGE_LAYOUT = 'image_layout'
REJECT_MODEL_UNAVAILABLE = 'model_unavailable'
REJECT_INFERENCE_ERROR = 'inference_error'
REJECT_INACTIVE = 'inactive'
REJECT_STALE = 'stale'
REJECTION_CODES = (REJECT_EMPTY_TEXT, REJECT_TEXT_TOO_LONG, REJECT_NOT_UTF8, REJECT_MALFORMED,
                   REJECT_IMAGE_ENCODING, REJECT_IMAGE_EMPTY, REJECT_IMAGE_TOO_LARGE,
                   REJECT_IMAGE_LAYOUT, REJECT_MODEL_UNAVAILABLE, REJECT_INFERENCE_ERROR,
                   REJECT_INACTIVE, REJECT_STALE)

SUPPORTED_IMAGE_ENCODINGS = ('mono8',)

# CDR encapsulation identifiers (first two bytes, big-endian) whose string layout is plain:
# a uint32 length (terminating NUL included) then the bytes; D_CDR2 puts a uint32 DHEADER first.
_PLAIN_ENCAPSULATIONS = {0x0000: '>', 0x0001: '<', 0x0006: '>', 0x0007: '<'}
_DELIMITED_ENCAPSULATIONS = {0x0008: '>', 0x0009: '<'}
_HEADER_BYTES = 4


@dataclass(frozen=True)
class Rejection:
    """Why a command is refused: a code for counting and a sentence for people."""

    code: str
    reason: str


class MalformedCommandError(ValueError):
    """Serialized bytes that are not a ``std_msgs/String`` at all."""


def string_bytes_from_cdr(payload: bytes) -> bytes:
    """
    Return the raw bytes of the string in a serialized ``std_msgs/String`` (no decoding).

    :raises MalformedCommandError: for an unknown encapsulation, a truncated payload or a
        length that disagrees with the payload.
    """
    payload = bytes(payload)
    if len(payload) < _HEADER_BYTES + 4:
        raise MalformedCommandError(f'{len(payload)} bytes are too short for a serialized '
                                    'std_msgs/String')
    kind = (payload[0] << 8) | payload[1]
    offset = _HEADER_BYTES
    if kind in _PLAIN_ENCAPSULATIONS:
        order = _PLAIN_ENCAPSULATIONS[kind]
    elif kind in _DELIMITED_ENCAPSULATIONS:
        order = _DELIMITED_ENCAPSULATIONS[kind]
        offset += 4
    else:
        raise MalformedCommandError(f'unsupported CDR encapsulation 0x{kind:04x}')
    if len(payload) < offset + 4:
        raise MalformedCommandError('serialized std_msgs/String truncated before its length')
    (length,) = struct.unpack_from(order + 'I', payload, offset)
    start = offset + 4
    if length == 0:
        return b''
    if start + length > len(payload):
        raise MalformedCommandError(f'string length {length} runs past the end of the '
                                    f'{len(payload)}-byte payload')
    if payload[start + length - 1] != 0:
        raise MalformedCommandError('string is not NUL-terminated')
    return payload[start:start + length - 1]


def text_from_cdr(payload: bytes) -> Tuple[str, Optional[Rejection]]:
    """
    Decode a serialized ``std_msgs/String``.

    :return: ``(text, None)`` for valid UTF-8; otherwise the text decoded with replacement
        characters (to echo in the result) and the rejection.
    """
    try:
        raw = string_bytes_from_cdr(payload)
    except MalformedCommandError as error:
        return '', Rejection(REJECT_MALFORMED, f'undecodable text command: {error}')
    try:
        return raw.decode('utf-8'), None
    except UnicodeDecodeError as error:
        bad = raw[error.start:error.end]
        return raw.decode('utf-8', errors='replace'), Rejection(
            REJECT_NOT_UTF8, f'text is not valid UTF-8: byte(s) {bad.hex(" ")} at offset '
            f'{error.start} ({error.reason})')


def check_text(text: str, max_chars: int,
               model_limit: Optional[Callable[[str], Optional[str]]] = None
               ) -> Optional[Rejection]:
    """
    Return why a decoded text command is refused, or None when it will be answered.

    Text given as a Python string (not from the wire) may hold lone surrogates, which no UTF-8
    byte sequence can carry and the tokenizer refuses: rejected as not UTF-8.

    :param model_limit: why the model cannot read a text whole (``TextEngine.too_long_reason``:
        more word pieces than the backbone's positions), or None: refused as too long too.
    """
    if not text or text.isspace():
        return Rejection(REJECT_EMPTY_TEXT, 'empty command: the text is empty or only '
                         'whitespace')
    if len(text) > max_chars:
        return Rejection(REJECT_TEXT_TOO_LONG, f'command too long: {len(text)} characters > '
                         f'max_text_chars {max_chars} (refused, not truncated)')
    try:
        text.encode('utf-8')
    except UnicodeEncodeError as error:
        return Rejection(REJECT_NOT_UTF8, f'text is not valid UTF-8: lone surrogate '
                         f'U+{ord(text[error.start]):04X} at character {error.start}')
    reason = model_limit(text) if model_limit is not None else None
    if reason is not None:
        return Rejection(REJECT_TEXT_TOO_LONG, reason)
    return None


@dataclass(frozen=True)
class ImageInput:
    """The fields of one ``sensor_msgs/Image`` that the controller uses."""

    encoding: str
    height: int
    width: int
    step: int
    data: bytes
    frame_id: str = ''


def image_input(message: Any) -> ImageInput:
    """
    Return the fields of a ``sensor_msgs/Image`` the controller checks and reads.

    Any object with the message's fields will do (an rclpy message, a decoded bag message):
    the live node and bag replay check images the same way.
    """
    data = message.data
    data = data.tobytes() if hasattr(data, 'tobytes') else bytes(data)
    return ImageInput(encoding=str(message.encoding), height=int(message.height),
                      width=int(message.width), step=int(message.step), data=data,
                      frame_id=str(message.header.frame_id))


def command_age_s(source_timestamp_ns: int, received_timestamp_ns: int) -> Optional[float]:
    """
    Return how long a command was under way, sender's clock to receiver's, in seconds.

    None when the middleware gave no timestamps (0). Negative when the sender's clock is
    ahead of the receiver's: the hosts' clocks disagree.
    """
    if not source_timestamp_ns or not received_timestamp_ns:
        return None
    return (int(received_timestamp_ns) - int(source_timestamp_ns)) * 1e-9


def stale_rejection(age_s: float, max_age_s: float, detail: str = '') -> Rejection:
    """Return the ``stale`` refusal of a command ``age_s`` old."""
    return Rejection(REJECT_STALE, f'stale: sent {age_s:.2f} s before it was received, over '
                                   f'max_command_age_s {max_age_s:g}{detail}; not acted on')


def check_image(image: ImageInput, max_pixels: int) -> Optional[Rejection]:
    """Return why an image command is refused, or None when it will be answered."""
    if image.encoding not in SUPPORTED_IMAGE_ENCODINGS:
        return Rejection(REJECT_IMAGE_ENCODING, f'unsupported image encoding '
                         f'{image.encoding!r}; supported: '
                         f'{", ".join(SUPPORTED_IMAGE_ENCODINGS)}')
    if image.height == 0 or image.width == 0:
        return Rejection(REJECT_IMAGE_EMPTY, f'empty image: {image.height} x {image.width} '
                         'pixels')
    pixels = image.height * image.width
    if pixels > max_pixels:
        return Rejection(REJECT_IMAGE_TOO_LARGE, f'image too large: {image.height} x '
                         f'{image.width} = {pixels} pixels > max_image_pixels {max_pixels}')
    if image.step < image.width:
        return Rejection(REJECT_IMAGE_LAYOUT, f'image step {image.step} is less than its width '
                         f'{image.width} (mono8: one byte per pixel)')
    expected = image.step * image.height
    if len(image.data) != expected:
        return Rejection(REJECT_IMAGE_LAYOUT, f'image data has {len(image.data)} bytes; step '
                         f'{image.step} x height {image.height} needs {expected}')
    return None


def image_pixels(image: ImageInput) -> np.ndarray:
    """Return a checked mono8 image as a ``height x width`` uint8 array (row padding removed)."""
    rows = np.frombuffer(image.data, dtype=np.uint8).reshape(image.height, image.step)
    return np.ascontiguousarray(rows[:, :image.width])
