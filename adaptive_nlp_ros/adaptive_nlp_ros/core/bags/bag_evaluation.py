"""
Offline evaluation of a recorded bag: every strategy over the commands the robot heard.

A bag's topics take roles by their last name component (after ``--remap OLD:=NEW``):
``text_command`` (``std_msgs/String``), ``image_command`` (``sensor_msgs/Image``, mono8),
``battery_state`` (``sensor_msgs/BatteryState``) and ``inference_result`` (what a controller
answered). Every other topic is skipped with a notice.

Replay drives the live path: for each strategy, a ``CommandController`` whose clock is the
bag's own time receives every battery reading and every command in the order the bag holds
them, and answers each command as it arrives. So the rules are the controller's, not a copy:
the input checks, the stop check and the safety path, the battery judged by receive time
(stale after ``battery_timeout_s``, counted from the start of the bag before the first
reading; the strategy being scored then answers with the battery unknown).

Labels, matched by text: a ``--labels`` JSONL file, else those the bag carries (the recorder
stores a scenario's expected labels, and its expected actions where it gives them, in the
bag's ``custom_data``; recorded results with an ``expected_label`` field count too). Where
the labels carry actions, each strategy also gets the structure metrics of ``evaluate``
(``sequence_exact``, argument precision, recall and F1) over the commands that have them.
Where the bag holds recorded results, each strategy's labels are compared with the answered
ones (text commands matched by their echoed text, images in order).

The JSON has the shape of ``adaptive-nlp evaluate`` (``n``, ``battery``, ``strategies`` with
the same per-strategy metrics), ``battery`` being the mean fraction over the commands, plus
what describes the bag: its topics and counts, the battery trajectory, the recorded results
and the warnings met.
"""

from collections import deque
from dataclasses import dataclass, field
import json
import logging
import math
from typing import Callable, Deque, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from .bag_reader import BagError, BagReader, BagTopic
from .bag_types import BATTERY_TYPE, IMAGE_TYPE, MessageCodec, RESULT_TYPE, STRING_TYPE
from ..controller.battery_tracker import (battery_input, BatteryInput, BatteryReading,
                                          BatteryTracker)
from ..controller.command_validation import check_image, image_input, ImageInput
from ..controller.controller import CommandController
from ..controller.controller_parameters import ControllerSettings
from ..controller.engines import ControllerEngines
from ..controller.records import (CommandResult, LEGACY_INPUT_TEXT_CHARS, STATUS_ANSWERED,
                                  STATUS_NAMES)
from ..evaluation.evaluation import (finite_or_none, oracle_run, StrategyRun, summarize,
                                     WARMUP_COMMANDS)
from ..inference.parse import ParsedAction
from ..inference.results import InferenceOutcome
from ..inference.strategies import strategy_names
from ..inference.strategies.static import STATIC_PREFIX
from ..training.dataset import actions_json, parse_actions

Actions = Tuple[ParsedAction, ...]

LOG = logging.getLogger('adaptive_nlp.bag')

TEXT_ROLE = 'text_command'
IMAGE_ROLE = 'image_command'
BATTERY_ROLE = 'battery_state'
RESULT_ROLE = 'inference_result'
ROLE_TYPES = {TEXT_ROLE: STRING_TYPE, IMAGE_ROLE: IMAGE_TYPE, BATTERY_ROLE: BATTERY_TYPE,
              RESULT_ROLE: RESULT_TYPE}
COMMAND_ROLES = (TEXT_ROLE, IMAGE_ROLE)

# custom_data keys of a bag (metadata version >= 6): JSON {command text: expected label}, and
# JSON [expected label of each image command, in publication order].
EXPECTED_LABELS_KEY = 'adaptive_nlp_ros.expected_labels'
EXPECTED_IMAGE_LABELS_KEY = 'adaptive_nlp_ros.expected_image_labels'
# JSON {command text: its actions in the training format} (scenarios with ``parse`` entries).
EXPECTED_ACTIONS_KEY = 'adaptive_nlp_ros.expected_actions'
DEFAULT_BATTERY_TIMEOUT_S = ControllerSettings().battery_timeout_s
MAX_IMAGE_PIXELS = ControllerSettings().max_image_pixels


# -- topic names ---------------------------------------------------------------------------

def parse_remaps(items: Optional[Sequence[str]]) -> Dict[str, str]:
    """
    Return ``{old: new}`` from ``OLD:=NEW`` strings, old names made absolute.

    Raises BagError for a malformed item.
    """
    remaps: Dict[str, str] = {}
    for item in items or []:
        old, separator, new = item.partition(':=')
        if not separator or not old.strip() or not new.strip():
            raise BagError(f'--remap {item!r}: expected OLD:=NEW, e.g. /chatter:=text_command')
        remaps[absolute_name(old.strip())] = new.strip()
    return remaps


def absolute_name(name: str) -> str:
    """Return ``name`` with a leading slash."""
    return name if name.startswith('/') else '/' + name


def remapped(name: str, remaps: Mapping[str, str]) -> str:
    """Return the name a recorded topic takes after the remaps."""
    return remaps.get(absolute_name(name), name)


def role_of(name: str) -> str:
    """Return the last component of a topic name (its role when it is a known one)."""
    return name.rstrip('/').rsplit('/', 1)[-1]


def check_remaps_used(remaps: Mapping[str, str], topics: Mapping[str, BagTopic]) -> None:
    """Raise BagError when a remap names a topic the bag does not have."""
    known = {absolute_name(name) for name in topics}
    unused = [old for old in remaps if old not in known]
    if unused:
        raise BagError(f'--remap names {", ".join(unused)}, which the bag does not have; '
                       f'topics: {", ".join(sorted(topics)) or "none"}')


def namespace_of(name: str) -> str:
    """Return the namespace of a topic name (``/robot1`` of ``/robot1/text_command``; ``/``)."""
    return absolute_name(name).rstrip('/').rsplit('/', 1)[0] or '/'


def assign_roles(topics: Mapping[str, BagTopic], remaps: Mapping[str, str],
                 namespace: Optional[str] = None) -> Tuple[Dict[str, str], Dict[str, str]]:
    """
    Return ``({recorded topic: role}, {recorded topic: why skipped})``.

    A topic takes a role when its remapped name ends in the role and its type is the role's,
    and, with ``namespace``, lies in that namespace. Without one, a bag whose command topics
    lie in several namespaces (two robots recorded together) is refused: their commands are
    not one stream, nor their batteries one battery.
    """
    roles: Dict[str, str] = {}
    skipped: Dict[str, str] = {}
    wanted = None if namespace is None else absolute_name(namespace).rstrip('/') or '/'
    for name, topic in topics.items():
        role = role_of(remapped(name, remaps))
        expected = ROLE_TYPES.get(role)
        if (wanted is not None and expected is not None
                and namespace_of(remapped(name, remaps)) != wanted):
            skipped[name] = f'not in namespace {wanted}'
        elif expected is None:
            skipped[name] = f'{topic.msgtype}: not a command, battery or result topic'
        elif topic.msgtype != expected:
            skipped[name] = f'{topic.msgtype}: {role} must be {expected}'
        elif topic.serialization_format != 'cdr':
            skipped[name] = f'serialization {topic.serialization_format!r} is not cdr'
        else:
            roles[name] = role
    robots = sorted({namespace_of(remapped(name, remaps)) for name, role in roles.items()
                     if role in COMMAND_ROLES})
    if len(robots) > 1:
        raise BagError(f'command topics in {len(robots)} namespaces ({", ".join(robots)}): '
                       f'evaluate one robot at a time, e.g. --namespace {robots[0]}')
    return roles, skipped


def require_command_topics(reader: BagReader, roles: Mapping[str, str],
                           skipped: Mapping[str, str]) -> None:
    """Raise BagError (naming the topics there are) when no topic carries commands."""
    if any(role in COMMAND_ROLES for role in roles.values()):
        return
    hint = ''
    strings = [name for name, topic in reader.info.topics.items()
               if topic.msgtype in (STRING_TYPE, IMAGE_TYPE) and name not in roles]
    if strings:
        hint = f'; map one with --remap {strings[0]}:={TEXT_ROLE}'
    raise BagError(f'{reader.path}: no command topic (text_command as {STRING_TYPE} or '
                   f'image_command as {IMAGE_TYPE}); the bag has: '
                   f'{reader.info.describe_topics()}{hint}')


# -- what the bag holds --------------------------------------------------------------------

@dataclass
class BagCommand:
    """One command found in the bag."""

    index: int
    timestamp_ns: int
    topic: str
    kind: str                           # text | image
    battery: BatteryReading             # as the controller judged it when the command came
    text: str = ''
    image: Optional[ImageInput] = None
    ordinal: int = 0                    # position among the bag's messages of its kind


@dataclass(frozen=True)
class RecordedResult:
    """The fields of a recorded InferenceResult that evaluation compares with."""

    timestamp_ns: int
    input_kind: str
    input_text: str
    status: int
    label: str
    strategy: str
    expected_label: str = ''


@dataclass
class BagContents:
    """Commands, recorded results and battery readings of a bag, in receive order."""

    commands: List[BagCommand] = field(default_factory=list)
    batteries: List[Tuple[int, BatteryInput]] = field(default_factory=list)  # (time, reading)
    start_ns: int = 0
    results: List[RecordedResult] = field(default_factory=list)
    battery_fractions: List[float] = field(default_factory=list)
    battery_ignored: int = 0
    roles: Dict[str, str] = field(default_factory=dict)
    skipped_topics: Dict[str, str] = field(default_factory=dict)
    skipped_messages: List[str] = field(default_factory=list)
    expected_labels: Dict[str, str] = field(default_factory=dict)
    expected_image_labels: List[str] = field(default_factory=list)
    expected_actions: Dict[str, Actions] = field(default_factory=dict)


def expected_labels_metadata(commands: Iterable) -> Dict[str, str]:
    """
    Return the ``custom_data`` entries that carry a scenario's expected labels in a bag.

    :param commands: objects with ``kind`` ('text' | 'image'), ``text`` and
        ``expected_label`` ('' where none) and optionally ``expected_actions``, in
        publication order (``core.evaluation.scenario`` commands).
    """
    texts: Dict[str, str] = {}
    images: List[str] = []
    actions: Dict[str, object] = {}
    for command in commands:
        if command.kind == 'image':
            images.append(command.expected_label or '')
        elif command.expected_label:
            texts[command.text] = command.expected_label
            if getattr(command, 'expected_actions', ()):
                actions[command.text] = actions_json(command.text, command.expected_actions)
    metadata = {}
    if texts:
        metadata[EXPECTED_LABELS_KEY] = json.dumps(texts, ensure_ascii=False)
    if any(images):
        metadata[EXPECTED_IMAGE_LABELS_KEY] = json.dumps(images)
    if actions:
        metadata[EXPECTED_ACTIONS_KEY] = json.dumps(actions, ensure_ascii=False)
    return metadata


def read_contents(reader: BagReader, remaps: Mapping[str, str],
                  battery_timeout_s: float = DEFAULT_BATTERY_TIMEOUT_S,
                  codec: Optional[MessageCodec] = None,
                  namespace: Optional[str] = None) -> BagContents:
    """
    Decode the commands, battery readings and results of a bag.

    Each command notes the battery as the controller would judge it on arrival (the shared
    ``BatteryTracker`` on the bag's clock). Raises BagError when the bag has no command
    topic; undecodable messages, and images that fail the controller's checks, are skipped
    with a notice each.
    """
    check_remaps_used(remaps, reader.info.topics)
    roles, skipped = assign_roles(reader.info.topics, remaps, namespace)
    require_command_topics(reader, roles, skipped)
    codec = codec or MessageCodec()
    contents = BagContents(roles=dict(roles), skipped_topics=dict(skipped))
    for name in list(roles):
        if not codec.resolve(reader.info.topics[name]):
            contents.skipped_topics[name] = 'type cannot be decoded'
            del roles[name]
    for name, why in sorted(contents.skipped_topics.items()):
        LOG.info('skipping topic %s (%s)', name, why)
    contents.expected_labels, contents.expected_image_labels = _labels_from_custom_data(reader)
    contents.expected_actions = _actions_from_custom_data(reader)
    start_ns = reader.info.start_ns
    clock: Optional[ReplayClock] = ReplayClock(start_ns) if start_ns is not None else None
    tracker = BatteryTracker(battery_timeout_s, math.inf, clock) if clock else None
    ordinals = {TEXT_ROLE: 0, IMAGE_ROLE: 0}
    for message in reader.messages(roles):
        if clock is None:
            start_ns = message.timestamp_ns
            clock = ReplayClock(start_ns)
            tracker = BatteryTracker(battery_timeout_s, math.inf, clock)
        clock.now_ns = message.timestamp_ns
        topic = reader.info.topics[message.topic]
        role = roles[message.topic]
        try:
            decoded = codec.decode(topic, message.data)
        except ValueError as error:
            contents.skipped_messages.append(str(error))
            continue
        if role == BATTERY_ROLE:
            battery = battery_input(decoded)
            contents.batteries.append((message.timestamp_ns, battery))
            if tracker.update(battery, clock()).accepted:
                contents.battery_fractions.append(battery.fraction)
            else:
                contents.battery_ignored += 1
        elif role == RESULT_ROLE:
            contents.results.append(_recorded_result(message.timestamp_ns, decoded))
        else:
            command = BagCommand(len(contents.commands), message.timestamp_ns, message.topic,
                                 'text' if role == TEXT_ROLE else 'image', tracker.reading(),
                                 ordinal=ordinals[role])
            ordinals[role] += 1
            if role == TEXT_ROLE:
                command.text = decoded.data
            else:
                command.image = image_input(decoded)
                rejection = check_image(command.image, MAX_IMAGE_PIXELS)
                if rejection is not None:
                    contents.skipped_messages.append(f'{message.topic}: image skipped: '
                                                     f'{rejection.reason}')
                    continue
            contents.commands.append(command)
    contents.start_ns = start_ns or 0
    for notice in codec.notices:
        LOG.info('%s', notice)
    for notice in contents.skipped_messages[:10]:
        LOG.warning('%s', notice)
    if len(contents.skipped_messages) > 10:
        LOG.warning('... and %d more skipped messages', len(contents.skipped_messages) - 10)
    return contents


def _labels_from_custom_data(reader: BagReader) -> Tuple[Dict[str, str], List[str]]:
    """Return the expected text and image labels a bag's custom_data carries."""
    texts = _custom_json(reader, EXPECTED_LABELS_KEY, dict)
    images = _custom_json(reader, EXPECTED_IMAGE_LABELS_KEY, list)
    return ({str(k): str(v) for k, v in (texts or {}).items() if v},
            [str(label or '') for label in images or []])


def _actions_from_custom_data(reader: BagReader) -> Dict[str, Actions]:
    """Return the expected actions a bag's custom_data carries; bad entries are warned about."""
    actions: Dict[str, Actions] = {}
    for text, raw in (_custom_json(reader, EXPECTED_ACTIONS_KEY, dict) or {}).items():
        try:
            actions[str(text)] = parse_actions(str(text), raw)
        except ValueError as error:
            reader.warn(f'custom_data {EXPECTED_ACTIONS_KEY}: {text!r}: {error}; ignored')
    return actions


def _custom_json(reader: BagReader, key: str, kind: type):
    text = reader.info.custom_data.get(key)
    if not text:
        return None
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, kind):
        reader.warn(f'custom_data {key} is not a JSON {kind.__name__}; ignored')
        return None
    return value


def _recorded_result(timestamp_ns: int, message) -> RecordedResult:
    configuration = getattr(message, 'configuration', None)
    return RecordedResult(timestamp_ns, str(message.input_kind), str(message.input_text),
                          int(message.status), str(message.label),
                          str(getattr(configuration, 'strategy', '')),
                          str(getattr(message, 'expected_label', '') or ''))


# -- labels --------------------------------------------------------------------------------

def normalized_text(text: str) -> str:
    """Return text compared for label matching: case-folded, whitespace collapsed."""
    return ' '.join(text.split()).casefold()


def labels_for_commands(commands: Sequence[BagCommand], labels_by_text: Mapping[str, str],
                        image_labels: Sequence[str] = ()) -> List[str]:
    """
    Return each command's label ('' where unknown).

    Text: exact text first, then normalized text. Images: ``image_labels`` by their position
    among the bag's image messages.
    """
    labels = []
    for command, label in zip(commands, _by_text(commands, labels_by_text)):
        if command.kind != 'text':
            label = (image_labels[command.ordinal] if command.ordinal < len(image_labels)
                     else '')
        labels.append(label or '')
    return labels


def actions_for_commands(commands: Sequence[BagCommand],
                         actions_by_text: Mapping[str, Actions]) -> List[Optional[Actions]]:
    """Return each command's expected actions (None where unknown, and for images)."""
    return [found if command.kind == 'text' else None
            for command, found in zip(commands, _by_text(commands, actions_by_text))]


def _by_text(commands: Sequence[BagCommand], by_text: Mapping[str, object]) -> List[object]:
    """Look each text command up: exact text first, then normalized text (None: not found)."""
    normalized = {normalized_text(text): value for text, value in by_text.items()}
    return [by_text.get(command.text) or normalized.get(normalized_text(command.text))
            if command.kind == 'text' else None for command in commands]


def bag_labels(contents: BagContents) -> Dict[str, str]:
    """Return ``{text: expected label}`` the bag carries (custom_data, then result fields)."""
    labels = dict(contents.expected_labels)
    for result in contents.results:
        if result.expected_label and result.input_kind == 'text':
            labels.setdefault(result.input_text, result.expected_label)
    return labels


# -- evaluation ----------------------------------------------------------------------------

def match_results(commands: Sequence[BagCommand], results: Sequence[RecordedResult]
                  ) -> List[Optional[RecordedResult]]:
    """
    Pair each command with its recorded result (None where none): text by echoed text, in order.

    Images (whose results echo no text) pair in order.
    """
    by_text: Dict[str, Deque[RecordedResult]] = {}
    images: Deque[RecordedResult] = deque()
    for result in results:
        if result.input_kind == 'image':
            images.append(result)
        else:
            by_text.setdefault(result.input_text, deque()).append(result)
    matched: List[Optional[RecordedResult]] = []
    for command in commands:
        if command.kind == 'image':
            matched.append(images.popleft() if images else None)
        else:
            queue = by_text.get(command.text) or by_text.get(
                command.text[:LEGACY_INPUT_TEXT_CHARS])
            matched.append(queue.popleft() if queue else None)
    return matched


class ReplayClock:
    """The bag's receive time as the controller's monotonic clock (seconds), set per message."""

    def __init__(self, start_ns: int) -> None:
        """Start at the bag's first instant."""
        self.now_ns = start_ns

    def __call__(self) -> float:
        """Return the current bag time in seconds."""
        return self.now_ns * 1e-9


class _FixedBudget:
    """A text engine whose per-command budget is fixed, whatever the battery (``--budget-mj``)."""

    def __init__(self, engine, budget_mj: float) -> None:
        self._engine = engine
        self._budget_mj = budget_mj

    def __getattr__(self, name: str):
        return getattr(self._engine, name)

    def resources(self, battery_fraction: float = math.nan, charging: bool = False,
                  stale: bool = False, budget_mj: Optional[float] = None,
                  capacity_wh: Optional[float] = None):
        """Return the resources of a reading with the fixed budget."""
        return self._engine.resources(battery_fraction, charging, stale, self._budget_mj,
                                      capacity_wh)


def replay(text_engine, image_engine, name: str, contents: BagContents,
           commands: Sequence[BagCommand], budget_mj: Optional[float] = None,
           battery_timeout_s: float = DEFAULT_BATTERY_TIMEOUT_S
           ) -> List[Optional[InferenceOutcome]]:
    """
    Answer ``commands`` with strategy ``name`` through a live ``CommandController``.

    The controller runs on the bag's clock and takes the bag's battery readings and commands
    in their recorded order; each command is answered as it arrives (as an idle robot
    would). Returns each command's outcome, None where the controller did not answer it
    (rejected: its reason is logged).
    """
    engine = text_engine if budget_mj is None else _FixedBudget(text_engine, budget_mj)
    readable = [c for c in commands if c.kind == 'text' and c.text.strip()
                and text_engine.too_long_reason(c.text) is None]
    for command in readable[:WARMUP_COMMANDS]:
        text_engine.infer(command.text, text_engine.strategy(name),
                          text_engine.resources(battery_fraction=1.0))
    clock = ReplayClock(contents.start_ns)
    results: Dict[int, CommandResult] = {}
    settings = ControllerSettings(strategy=name, stale_strategy=name,
                                  battery_timeout_s=battery_timeout_s,
                                  max_stamp_skew_s=math.inf,
                                  queue_size=len(commands) + 1,
                                  stop_queue_size=len(commands) + 1,
                                  max_image_pixels=MAX_IMAGE_PIXELS,
                                  budget=text_engine.budget_model)
    controller = CommandController(ControllerEngines(engine, image_engine), settings,
                                   lambda result: results.__setitem__(result.request_id,
                                                                      result),
                                   lambda configuration, stamp: None, LOG, clock)
    events = sorted([(stamp, 0, index) for index, (stamp, _) in enumerate(contents.batteries)]
                    + [(command.timestamp_ns, 1, index)
                       for index, command in enumerate(commands)])
    request_ids = {}
    for stamp, kind, index in events:
        clock.now_ns = stamp
        if kind == 0:
            controller.receive_battery(contents.batteries[index][1], clock())
            continue
        command = commands[index]
        if command.kind == 'text':
            request_ids[index] = controller.receive_text(command.text)
        else:
            request_ids[index] = controller.receive_image(command.image)
        while controller.process_next(0.0):
            pass
    outcomes = []
    for index in range(len(commands)):
        result = results[request_ids[index]]
        if result.outcome is None:
            LOG.warning('command %d not answered with %s: %s', index, name, result.reason)
        outcomes.append(result.outcome)
    return outcomes


def evaluate_contents(text_engine, image_engine, contents: BagContents,
                      names: Optional[Sequence[str]] = None,
                      labels_by_text: Optional[Mapping[str, str]] = None,
                      budget_mj: Optional[float] = None,
                      progress: Optional[Callable[[str, int, int], None]] = None,
                      battery_timeout_s: float = DEFAULT_BATTERY_TIMEOUT_S,
                      actions_by_text: Optional[Mapping[str, Actions]] = None
                      ) -> Dict[str, object]:
    """
    Score strategies on a bag's commands; return the JSON-ready report (see the module).

    :param labels_by_text: ``{text: label}``; default: the labels the bag carries.
    :param actions_by_text: ``{text: expected actions}``; default: those of the labels'
        source (the labels file's, given with it, else the bag's).
    """
    commands = contents.commands
    if image_engine is None and any(command.kind == 'image' for command in commands):
        LOG.warning('no image model in the artifacts: image commands are left out')
        commands = [command for command in commands if command.kind == 'text']
    source = 'labels file' if labels_by_text is not None else 'bag'
    if labels_by_text is None:
        labels_by_text = bag_labels(contents)
        if actions_by_text is None:
            actions_by_text = contents.expected_actions
    labels = labels_for_commands(commands, labels_by_text, contents.expected_image_labels)
    texts = [index for index, command in enumerate(commands) if command.kind == 'text']
    notes: List[str] = []
    if source == 'labels file' and texts:
        matched_texts = sum(1 for index in texts if labels[index])
        if not matched_texts:
            notes.append(f'the labels file matched none of the {len(texts)} text commands in '
                         'the bag (matched by exact text, then lower case without '
                         'punctuation): no accuracy to report')
        elif matched_texts < len(texts):
            notes.append(f'the labels file labels {matched_texts} of the {len(texts)} text '
                         'commands; accuracy counts those only')
    skipped = contents.skipped_messages
    if skipped:
        notes.append(f'{len(skipped)} message(s) skipped, not scored: {"; ".join(skipped[:5])}'
                     + ('; ...' if len(skipped) > 5 else ''))
    unknown = sorted({label for label in labels if label} - set(text_engine.models.labels)
                     - {f'digit_{digit}' for digit in range(10)})
    if unknown:
        notes.append(f'labels {", ".join(unknown)} are not in the trained label set: those '
                     'commands can only count as wrong')
    gold_actions = actions_for_commands(commands, actions_by_text or {})
    structured = any(actions is not None for actions in gold_actions)
    if not any(labels):
        source = 'none'
    all_names = strategy_names(text_engine.context)
    names = list(names) if names else all_names
    statics = [name for name in all_names if name.startswith(STATIC_PREFIX)]
    needed = list(dict.fromkeys([name for name in names if name != 'oracle']
                                + (statics if 'oracle' in names else [])))
    runs: Dict[str, List[Optional[InferenceOutcome]]] = {}
    for done, name in enumerate(needed):
        if progress is not None:
            progress(name, done, len(needed))
        runs[name] = replay(text_engine, image_engine, name, contents, commands, budget_mj,
                            battery_timeout_s)
    if 'oracle' in names:
        runs['oracle'] = _oracle(text_engine, commands, labels, {n: runs[n] for n in statics})
        if not any(labels):
            notes.append('oracle without labels is no lower bound: it cannot know which '
                         'variant answers right, so its energy is not the least needed')
    for note in notes:
        LOG.warning('%s', note)
    matched = match_results(commands, contents.results)
    strategies = {}
    for name in names:
        outcomes = runs[name]
        answered = [i for i, outcome in enumerate(outcomes) if outcome is not None]
        row = summarize([outcomes[i] for i in answered], [labels[i] for i in answered],
                        [gold_actions[i] for i in answered] if structured else None)
        row['labels'] = [outcome.label if outcome is not None else '' for outcome in outcomes]
        row['not_answered'] = len(outcomes) - len(answered)
        row.update(_agreement(outcomes, matched))
        strategies[name] = row
    fractions = [c.battery.fraction for c in commands if not math.isnan(c.battery.fraction)]
    budgets = [budget_mj if budget_mj is not None else text_engine.resources(
        c.battery.fraction, c.battery.charging, c.battery.stale,
        capacity_wh=c.battery.capacity_wh).budget_mj for c in commands]
    return {
        'n': len(commands),
        'battery': float(np.mean(fractions)) if fractions else None,
        'budget_mj': float(np.mean(budgets)) if budgets else None,
        'energy_note': 'energy_mj is an estimate: profiled cost of the segments that ran '
                       '(CPU time x power model unless RAPL was read)',
        'commands': {
            'text': sum(1 for c in commands if c.kind == 'text'),
            'image': sum(1 for c in commands if c.kind == 'image'),
            'labelled': sum(1 for label in labels if label),
            'with_actions': sum(1 for actions in gold_actions if actions is not None),
            'label_source': source,
            'stale_battery': sum(1 for c in commands if c.battery.stale),
            'skipped': len(contents.skipped_messages),
        },
        'battery_trajectory': _battery_summary(contents, commands),
        'recorded': _recorded_summary(contents.results, matched, labels),
        'strategies': strategies,
        'warnings': notes,
    }


def _oracle(engine, commands: Sequence[BagCommand], labels: Sequence[str],
            static_runs: Mapping[str, List[InferenceOutcome]]) -> List[InferenceOutcome]:
    """Oracle over the text commands (static runs); images keep the full network's answer."""
    text_rows = [i for i, command in enumerate(commands) if command.kind == 'text'
                 and all(outcomes[i] is not None for outcomes in static_runs.values())]
    text_runs = {name: StrategyRun(name, [outcomes[i] for i in text_rows])
                 for name, outcomes in static_runs.items()}
    text_oracle = oracle_run(engine, text_runs, [labels[i] for i in text_rows]).outcomes
    first_static = next(iter(static_runs.values()))
    outcomes = list(first_static)
    for row, outcome in zip(text_rows, text_oracle):
        outcomes[row] = outcome
    return outcomes


def _agreement(outcomes: Sequence[InferenceOutcome],
               matched: Sequence[Optional[RecordedResult]]) -> Dict[str, object]:
    pairs = [(outcome.label, result.label) for outcome, result in zip(outcomes, matched)
             if outcome is not None and result is not None
             and result.status == STATUS_ANSWERED and result.label]
    return {'agreement_with_recorded': (float(np.mean([a == b for a, b in pairs]))
                                        if pairs else None),
            'n_compared': len(pairs)}


def _battery_summary(contents: BagContents, commands: Sequence[BagCommand]) -> Dict[str, object]:
    fractions = contents.battery_fractions
    at_commands = [finite_or_none(c.battery.fraction) for c in commands]
    return {
        'readings': len(fractions),
        'ignored': contents.battery_ignored,
        'first': fractions[0] if fractions else None,
        'last': fractions[-1] if fractions else None,
        'min': min(fractions) if fractions else None,
        'max': max(fractions) if fractions else None,
        'at_commands': at_commands,
    }


def _recorded_summary(results: Sequence[RecordedResult],
                      matched: Sequence[Optional[RecordedResult]],
                      labels: Sequence[str]) -> Dict[str, object]:
    statuses = {name: sum(1 for r in results if r.status == code)
                for code, name in STATUS_NAMES.items()}
    scored = [(result.label == label) for result, label in zip(matched, labels)
              if result is not None and label and result.status == STATUS_ANSWERED]
    return {
        'results': len(results),
        **statuses,
        'matched_to_commands': sum(1 for result in matched if result is not None),
        'strategies': sorted({r.strategy for r in results if r.strategy}),
        'accuracy': float(np.mean(scored)) if scored else None,
    }


def load_image_engine(directory, budget_model=None):
    """Return the image engine over an artifacts folder, or None where it has no image model."""
    from pathlib import Path

    from .. import artifacts
    from ..inference.cost_profile import CostProfile
    from ..battery.energy_budget import EnergyBudgetModel
    from ..inference.image_branchynet import BranchyNetClassifier
    from ..inference.image_engine import ImageEngine

    directory = Path(directory)
    if not (directory / artifacts.IMAGE_DIR).is_dir():
        return None
    classifier = BranchyNetClassifier.load(directory / artifacts.IMAGE_DIR)
    try:
        profile = CostProfile.load(directory / artifacts.COST_PROFILE)
    except (OSError, ValueError, KeyError):
        profile = None
    return ImageEngine(classifier, profile, budget_model or EnergyBudgetModel())
