"""
What replaying a bag means, without ROS: which topics, when each message goes out, new stamps.

* Topics: by default every input topic of the bag (commands, battery and anything foreign),
  not what a controller publishes (``inference_result``, ``chosen_configuration``,
  ``/diagnostics``) nor ROS infrastructure (``/rosout``, ``/parameter_events``, ``/clock``),
  so a replay into a live controller does not duplicate its outputs. ``--topics`` names any.
* Timing: a message recorded ``dt`` after the first one played goes out ``dt / rate`` after
  the replay started.
* Stamps: every ``std_msgs/Header`` of a message (nested ones included, not those inside
  arrays) is set to the publication time, unless the replay publishes the recorded time on
  ``/clock``.
"""

from dataclasses import dataclass
from typing import Iterable, List, Mapping, Optional, Sequence, Tuple

from .bag_evaluation import absolute_name, check_remaps_used, remapped, role_of
from .bag_reader import BagError, BagTopic
from .bag_types import HEADER_TYPE

NOT_PLAYED_BY_DEFAULT = ('inference_result', 'chosen_configuration', 'diagnostics', 'rosout',
                         'parameter_events', 'clock')
_NESTED = 2                             # rosbags Nodetype.NAME: a nested message field


@dataclass(frozen=True)
class PlayedTopic:
    """A recorded topic and the name it is published on."""

    recorded: str
    published: str
    topic: BagTopic


def select_topics(topics: Mapping[str, BagTopic], requested: Optional[Sequence[str]],
                  remaps: Mapping[str, str]) -> List[PlayedTopic]:
    """
    Return the topics to play, in bag order; BagError for unknown names or nothing to play.

    :param requested: recorded topic names (with or without the leading slash); None for the
        default (every topic but outputs and infrastructure).
    """
    check_remaps_used(remaps, topics)
    by_absolute = {absolute_name(name): name for name in topics}
    if requested:
        missing = [name for name in requested if absolute_name(name) not in by_absolute]
        if missing:
            raise BagError(f'--topics {" ".join(missing)}: not in the bag; topics: '
                           f'{", ".join(sorted(topics)) or "none"}')
        chosen = {by_absolute[absolute_name(name)] for name in requested}
    else:
        chosen = {name for name in topics if role_of(name) not in NOT_PLAYED_BY_DEFAULT}
    played = [PlayedTopic(name, remapped(name, remaps), topic)
              for name, topic in topics.items()
              if name in chosen and topic.serialization_format == 'cdr']
    if not played:
        raise BagError('nothing to play: the bag has no input topic (topics: '
                       f'{", ".join(sorted(topics)) or "none"}); name some with --topics')
    return played


def header_paths(fielddefs: Mapping, msgtype: str, _depth: int = 0) -> List[Tuple[str, ...]]:
    """
    Return the field paths of every ``std_msgs/Header`` in ``msgtype`` (not inside arrays).

    :param fielddefs: a rosbags typestore's ``fielddefs``.
    """
    if msgtype == HEADER_TYPE:
        return [()]
    if _depth > 16 or msgtype not in fielddefs:
        return []
    paths: List[Tuple[str, ...]] = []
    for name, (kind, detail) in fielddefs[msgtype][1]:
        if int(kind) == _NESTED:
            paths.extend((name,) + path for path in header_paths(fielddefs, detail, _depth + 1))
    return paths


def restamp(message, paths: Iterable[Tuple[str, ...]], stamp_ns: int) -> None:
    """Set the stamp of every header at ``paths`` of a rosbags message to ``stamp_ns``."""
    for path in paths:
        header = message
        for name in path:
            header = getattr(header, name)
        header.stamp.sec, header.stamp.nanosec = divmod(int(stamp_ns), 1_000_000_000)


@dataclass(frozen=True)
class Timeline:
    """Maps recorded receive times to seconds after the replay started."""

    first_ns: int
    rate: float = 1.0

    def offset_s(self, timestamp_ns: int) -> float:
        """Return when (seconds after start) a message recorded at ``timestamp_ns`` goes out."""
        return max(0.0, (timestamp_ns - self.first_ns) * 1e-9 / self.rate)

    def recorded_ns(self, offset_s: float) -> int:
        """Return the recorded time that ``offset_s`` seconds of replay correspond to."""
        return self.first_ns + int(offset_s * self.rate * 1e9)


def start_ns(bag_start_ns: Optional[int], first_message_ns: int, start_s: float) -> int:
    """Return the recorded time replay starts from: the bag's start plus ``start_s``."""
    origin = bag_start_ns if bag_start_ns is not None else first_message_ns
    return origin + int(start_s * 1e9)
