"""
Scenario files: timed text and image commands, with the labels (and parses) they should get.

A scenario is YAML::

    name: kitchen shift                 # optional
    description: ...                    # optional
    interval_s: 0.75                    # default gap between two commands (s)
    commands:
      - text: go to the kitchen
        label: navigate                 # optional expected label
      - parse: "{navigate go to the [lab](destination)} and {pick grab the [cup](object)}"
                                        # instead of text: the command in the bracket
                                        # notation (core/markup.py), its expected actions
      - text: stop!
        label: stop
        after_s: 0.3                    # gap before this command (default interval_s)
      - image: {digit: 42}              # scikit-learn's bundled digits, by index;
                                        # the label defaults to that digit's (digit_N)
      - image:                          # or a small inline mono8 array (rows of 0..255)
          pixels: [[0, 255], [255, 0]]
        label: digit_1
      - text: dock now
        at_s: 30.0                      # or an absolute time from the start (s)

``load_scenario`` checks every entry and raises ``ScenarioError`` naming the file, the entry
and the problem. No ROS here: ``command_player`` publishes what this module reads.
"""

from dataclasses import dataclass
import functools
import math
import pathlib
from typing import Any, List, Optional, Sequence, Tuple

import numpy as np
import yaml

from ..inference.parse import ParsedAction
from ..markup import MarkupError, parse_line
from ..parameter_spec import ParameterSpec
from ..training.dataset import parse_actions

DEFAULT_INTERVAL_S = 0.75
KIND_TEXT = 'text'
KIND_IMAGE = 'image'
DEFAULT_SCENARIO_NAME = 'demo_scenario.yaml'
_MAX_INLINE_SIDE_PX = 1024


class ScenarioError(ValueError):
    """A scenario file that cannot be played; the message names the file, entry and problem."""


@dataclass(frozen=True)
class ScenarioCommand:
    """One command of a scenario and when to send it."""

    index: int                           # position in the file, from 0
    at_s: float                          # seconds after the start
    kind: str                            # KIND_TEXT or KIND_IMAGE
    text: str = ''
    pixels: Optional[np.ndarray] = None  # images: height x width uint8
    expected_label: str = ''             # '' when the scenario gives none
    source: str = ''                     # images: where the pixels came from
    expected_actions: Tuple[ParsedAction, ...] = ()   # from a ``parse`` entry

    def describe(self) -> str:
        """Return the command in a few words (text, or the image's source)."""
        return self.text if self.kind == KIND_TEXT else f'[image {self.source}]'


@dataclass(frozen=True)
class Scenario:
    """A named, timed list of commands."""

    name: str
    description: str
    commands: Tuple[ScenarioCommand, ...]
    path: Optional[pathlib.Path] = None

    @property
    def duration_s(self) -> float:
        """Return the time of the last command (0 when empty)."""
        return self.commands[-1].at_s if self.commands else 0.0

    def count(self, kind: str) -> int:
        """Return the number of commands of one kind."""
        return sum(1 for command in self.commands if command.kind == kind)


def default_scenario_path() -> pathlib.Path:
    """Return the shipped demo scenario (installed share/ copy, else the source tree's)."""
    try:
        from ament_index_python.packages import get_package_share_directory
        shared = pathlib.Path(get_package_share_directory('adaptive_nlp_ros'))
        candidate = shared / 'config' / DEFAULT_SCENARIO_NAME
        if candidate.is_file():
            return candidate
    except (ImportError, LookupError, ValueError):
        pass
    return pathlib.Path(__file__).resolve().parents[3] / 'config' / DEFAULT_SCENARIO_NAME


def digit_image(index: int) -> Tuple[np.ndarray, int]:
    """
    Return scikit-learn's bundled digit ``index`` as mono8 (8x8 uint8) and its digit.

    The 0..16 levels map to 0..255 as ``training.image_training.digits_to_mono8`` does.
    """
    images, targets = _bundled_digits()
    if not 0 <= index < len(images):
        raise IndexError(f'digit index {index} is outside 0..{len(images) - 1}')
    pixels = np.rint(images[index] * (255.0 / 16.0)).astype(np.uint8)
    return pixels, int(targets[index])


@functools.lru_cache(maxsize=1)
def _bundled_digits() -> Tuple[np.ndarray, np.ndarray]:
    """Return scikit-learn's digits (images 0..16, targets), loaded once."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    return digits.images, digits.target


def load_scenario(path: Optional[pathlib.Path] = None) -> Scenario:
    """Read and check a scenario file (default: the shipped demo scenario)."""
    path = pathlib.Path(path) if path else default_scenario_path()
    try:
        document = yaml.safe_load(path.read_text(encoding='utf-8'))
    except OSError as error:
        raise ScenarioError(f'{path}: cannot read the scenario ({error})') from None
    except yaml.YAMLError as error:
        raise ScenarioError(f'{path}: not valid YAML ({error})') from None
    return parse_scenario(document, path)


def parse_scenario(document: Any, path: Optional[pathlib.Path] = None) -> Scenario:
    """Check a scenario document (the parsed YAML) and return the scenario."""
    where = str(path) if path else 'scenario'
    if not isinstance(document, dict) or not isinstance(document.get('commands'), list):
        raise ScenarioError(f'{where}: expected a mapping with a list under "commands"')
    interval_s = _number(document.get('interval_s', DEFAULT_INTERVAL_S), f'{where}: interval_s')
    entries: Sequence[Any] = document['commands']
    commands: List[ScenarioCommand] = []
    at_s = 0.0
    for index, entry in enumerate(entries):
        label = f'{where}: command {index}'
        if not isinstance(entry, dict):
            raise ScenarioError(f'{label}: expected a mapping, got {entry!r}')
        unknown = set(entry) - {'text', 'parse', 'image', 'label', 'after_s', 'at_s'}
        if unknown:
            raise ScenarioError(f'{label}: unknown keys {sorted(unknown)}')
        if sum(key in entry for key in ('text', 'parse', 'image')) != 1:
            raise ScenarioError(f'{label}: give exactly one of "text", "parse" and "image"')
        if 'at_s' in entry and 'after_s' in entry:
            raise ScenarioError(f'{label}: give at most one of "at_s" and "after_s"')
        if 'at_s' in entry:
            when = _number(entry['at_s'], f'{label}: at_s')
            if when < at_s:
                raise ScenarioError(f'{label}: at_s {when} is before the previous command '
                                    f'({at_s})')
            at_s = when
        elif commands:
            at_s += _number(entry.get('after_s', interval_s), f'{label}: after_s')
        else:
            at_s = _number(entry.get('after_s', 0.0), f'{label}: after_s')
        expected = entry.get('label', '')
        if not isinstance(expected, str):
            raise ScenarioError(f'{label}: label must be a string, got {expected!r}')
        if 'parse' in entry:
            text, actions = _parsed(entry['parse'], expected, label)
            commands.append(ScenarioCommand(index, at_s, KIND_TEXT, text=text,
                                            expected_label=actions[0].intent,
                                            expected_actions=actions))
        elif 'text' in entry:
            if not isinstance(entry['text'], str):
                raise ScenarioError(f'{label}: text must be a string, got {entry["text"]!r}')
            commands.append(ScenarioCommand(index, at_s, KIND_TEXT, text=entry['text'],
                                            expected_label=expected))
        else:
            pixels, source, digit_label = _image(entry['image'], label)
            commands.append(ScenarioCommand(index, at_s, KIND_IMAGE, pixels=pixels,
                                            expected_label=expected or digit_label,
                                            source=source))
    return Scenario(str(document.get('name', path.stem if path else 'scenario')),
                    str(document.get('description', '')), tuple(commands), path)


def _parsed(markup: Any, expected: str, label: str) -> Tuple[str, Tuple[ParsedAction, ...]]:
    """Return the text and the actions of a ``parse`` entry (bracket notation)."""
    if not isinstance(markup, str):
        raise ScenarioError(f'{label}: parse must be a string, got {markup!r}')
    try:
        record = parse_line(markup.strip())
        actions = parse_actions(str(record['text']), record['actions'])
    except (MarkupError, ValueError) as error:
        raise ScenarioError(f'{label}: parse: {error}') from None
    if expected and expected != actions[0].intent:
        raise ScenarioError(f'{label}: label {expected!r} is not the first intent of the '
                            f'parse ({actions[0].intent!r})')
    return str(record['text']), actions


def _number(value: Any, label: str) -> float:
    """Return a finite, non-negative number or raise ScenarioError."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or \
            not math.isfinite(value) or value < 0:
        raise ScenarioError(f'{label} must be a non-negative number, got {value!r}')
    return float(value)


def _image(spec: Any, label: str) -> Tuple[np.ndarray, str, str]:
    """Return ``(pixels, source, default label)`` of an image entry."""
    if not isinstance(spec, dict) or len(spec) != 1 or not set(spec) <= {'digit', 'pixels'}:
        raise ScenarioError(f'{label}: image must be {{digit: INDEX}} or {{pixels: ROWS}}, '
                            f'got {spec!r}')
    if 'digit' in spec:
        index = spec['digit']
        if isinstance(index, bool) or not isinstance(index, int):
            raise ScenarioError(f'{label}: digit must be an integer index, got {index!r}')
        try:
            pixels, digit = digit_image(index)
        except IndexError as error:
            raise ScenarioError(f'{label}: {error}') from None
        return pixels, f'digit #{index}', f'digit_{digit}'
    rows = spec['pixels']
    try:
        pixels = np.asarray(rows)
    except (TypeError, ValueError):
        pixels = np.asarray([])
    if pixels.ndim != 2 or pixels.size == 0 or not np.issubdtype(pixels.dtype, np.integer) \
            or pixels.min() < 0 or pixels.max() > 255 or max(pixels.shape) > _MAX_INLINE_SIDE_PX:
        raise ScenarioError(f'{label}: pixels must be equal-length rows of integers 0..255 '
                            f'(at most {_MAX_INLINE_SIDE_PX} per side)')
    return pixels.astype(np.uint8), f'inline {pixels.shape[0]}x{pixels.shape[1]}', ''


# command_player's parameters (declared by the node; defaults also in
# config/command_player.yaml, kept equal by a test).
PLAYER_PARAMETERS = (
    ParameterSpec('scenario', '',
                  'Scenario YAML to play; empty: the shipped demo scenario '
                  f'(config/{DEFAULT_SCENARIO_NAME}).', read_only=True),
    ParameterSpec('wait_for_controller_s', 30.0,
                  'Seconds to wait for a subscriber on text_command (and image_command when '
                  'the scenario has images) before playing; 0 waits forever. Exits with '
                  'status 1 when nobody subscribes in time.', min_value=0.0, max_value=3600.0,
                  read_only=True),
    ParameterSpec('start_delay_s', 0.0,
                  'Seconds between finding the subscribers and the first command (lets the '
                  'controller receive a battery reading first).', min_value=0.0,
                  max_value=3600.0, read_only=True),
    ParameterSpec('time_scale', 1.0,
                  'Playback speed: 2.0 plays the scenario twice as fast.',
                  min_value=0.01, max_value=1000.0, read_only=True),
    ParameterSpec('exit_when_done', True,
                  'Exit once every command is sent (false: stay until Ctrl-C).',
                  read_only=True),
    ParameterSpec('image_qos', 'reliable', 'Reliability of the image_command publisher.',
                  choices=('reliable', 'best_effort'), read_only=True),
)
