"""
Replaying a bag into the live graph, as ``ros2 bag play`` would: ``adaptive-nlp bag play``.

The recorded serialized messages are published unchanged (rclpy publishes raw bytes), on the
recorded names or the remapped ones (``--remap``), with the recorded timing scaled by
``rate``. The battery topic is played like any input, so a recorded battery trajectory drives
the controller. Header stamps move to the publication time, unless ``clock`` publishes the
recorded time on ``/clock`` (``rosgraph_msgs/Clock``) for nodes with ``use_sim_time``; the
stamps then stay as recorded.

Before the first message the player waits (up to ``wait_timeout_s``) until every command
topic it plays (``std_msgs/String`` and ``sensor_msgs/Image`` topics with messages) has a
subscriber, so no command is published into the void; after the last one it waits for
reliable subscribers to acknowledge. Publisher QoS follows what the recording offered (best
effort where a recorded publisher was, transient-local where every one was).

What to play, when, and the new stamps are decided in ``core.bag_playback``; this file is ROS
plumbing only.
"""

from dataclasses import dataclass, field
import logging
from pathlib import Path
import signal
import threading
import time
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from adaptive_nlp_ros.core.bags.bag_playback import (header_paths, restamp, select_topics,
                                                     start_ns, Timeline)
from adaptive_nlp_ros.core.bags.bag_reader import BagError, open_bag
from adaptive_nlp_ros.core.bags.bag_types import (BATTERY_TYPE, IMAGE_TYPE, MessageCodec,
                                                  MessageTypeError, STRING_TYPE, type_hash)
from adaptive_nlp_ros.nodes.bag_recorder import message_class
import rclpy
from rclpy.duration import Duration
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

LOG = logging.getLogger('adaptive_nlp.bag')

PLAYER_NODE_NAME = 'adaptive_nlp_bag_player'
COMMAND_TYPES = (STRING_TYPE, IMAGE_TYPE)
PUBLISHER_DEPTH = 1000
CLOCK_PERIOD_S = 0.01                   # /clock at 100 Hz while waiting between messages
ACK_TIMEOUT_S = 5.0
OTHER_TOPICS_GRACE_S = 1.0
WAIT_POLL_S = 0.05


class ReplayError(BagError):
    """The replay cannot start (no subscriber for the commands, say)."""


@dataclass
class PlaybackOptions:
    """How to play a bag (see ``adaptive-nlp bag play --help``)."""

    rate: float = 1.0
    loop: bool = False
    topics: Optional[Sequence[str]] = None
    start_s: float = 0.0
    remaps: Mapping[str, str] = field(default_factory=dict)
    clock: bool = False
    wait_timeout_s: float = 30.0


@dataclass
class PlaybackSummary:
    """What a replay published, per published topic name."""

    counts: Dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    loops: int = 0
    interrupted: bool = False

    @property
    def total(self) -> int:
        """Return the number of messages published."""
        return sum(self.counts.values())


@dataclass
class _Output:
    """A played topic's publisher and how its messages are restamped."""

    recorded: str
    published: str
    topic: Any
    publisher: Any = None
    header_paths: List[Tuple[str, ...]] = field(default_factory=list)
    is_command: bool = False


def _publisher_qos(topic) -> QoSProfile:
    """Return publisher QoS from the recording's offered profiles."""
    offered = topic.offered_qos
    best_effort = any(q.reliability == 'best_effort' for q in offered)
    transient = bool(offered) and all(q.durability == 'transient_local' for q in offered)
    return QoSProfile(
        history=HistoryPolicy.KEEP_LAST, depth=PUBLISHER_DEPTH,
        reliability=ReliabilityPolicy.BEST_EFFORT if best_effort else ReliabilityPolicy.RELIABLE,
        durability=(DurabilityPolicy.TRANSIENT_LOCAL if transient
                    else DurabilityPolicy.VOLATILE))


class BagPlayer:
    """Publishes one open bag on a node, honouring the recorded timing."""

    def __init__(self, node: Node, reader, options: PlaybackOptions,
                 stop: threading.Event, announce: Callable[[str], None]) -> None:
        """Create the publishers of the played topics (BagError if there is nothing to play)."""
        self.node = node
        self.reader = reader
        self.options = options
        self.stop = stop
        self.announce = announce
        self.codec = MessageCodec()
        self.outputs: Dict[str, _Output] = {}
        for played in select_topics(reader.info.topics, options.topics, options.remaps):
            output = self._output(played)
            if output is not None:
                self.outputs[played.recorded] = output
        if not self.outputs:
            raise BagError(f'{reader.path}: none of the selected topics can be played')
        self.clock_publisher = None
        if options.clock:
            from rosgraph_msgs.msg import Clock
            self.clock_publisher = node.create_publisher(
                Clock, '/clock', QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE))

    def _output(self, played) -> Optional[_Output]:
        topic = played.topic
        try:
            message_type = message_class(topic.msgtype)
        except (ImportError, AttributeError, MessageTypeError) as error:
            self.announce(f'skipping {played.recorded}: type {topic.msgtype} is not importable '
                          f'here ({type(error).__name__})')
            return None
        output = _Output(played.recorded, played.published, topic,
                         is_command=topic.msgtype in COMMAND_TYPES)
        if self.codec.resolve(topic):
            store = self.codec.typestore
            if topic.type_hash and topic.type_hash != type_hash(store, topic.msgtype):
                self.announce(f'skipping {played.recorded}: recorded with another definition '
                              f'of {topic.msgtype} than the one installed here')
                return None
            output.header_paths = header_paths(store.fielddefs, topic.msgtype)
        output.publisher = self.node.create_publisher(message_type, played.published,
                                                      _publisher_qos(topic))
        return output

    # -- before the first message ----------------------------------------------------------

    def wait_for_subscribers(self) -> None:
        """
        Wait until every played command topic has a subscriber; ReplayError on timeout.

        Then give the other played topics (the battery) up to ``OTHER_TOPICS_GRACE_S`` to
        match too: discovery of one node's subscriptions arrives within moments, and a
        battery reading published before its subscriber matched would be lost.
        """
        with_messages = [o for o in self.outputs.values() if _has_messages(o.topic)]
        commands = [o for o in with_messages if o.is_command]
        if not commands or self.options.wait_timeout_s <= 0:
            return
        if not self._wait_matched(commands, self.options.wait_timeout_s):
            names = ', '.join(o.publisher.topic_name for o in commands
                              if o.publisher.get_subscription_count() == 0)
            raise ReplayError(
                f'no subscriber on {names} after {self.options.wait_timeout_s:g} s: start '
                'the controller first (same ROS_DOMAIN_ID and discovery range), or play '
                'anyway with --wait-timeout 0')
        self._wait_matched([o for o in with_messages if not o.is_command], OTHER_TOPICS_GRACE_S)

    def _wait_matched(self, outputs: List[_Output], timeout_s: float) -> bool:
        """Return True once every output has a subscriber (or stop is set), False on timeout."""
        deadline = time.monotonic() + timeout_s
        while any(o.publisher.get_subscription_count() == 0 for o in outputs):
            if self.stop.is_set():
                return True
            if time.monotonic() > deadline:
                return False
            self.stop.wait(WAIT_POLL_S)
        return True

    # -- playing ---------------------------------------------------------------------------

    def _messages_from_start(self):
        """Yield the messages to play; the battery state current at --start comes first."""
        first = None
        begin = None
        pending_battery: Dict[str, Any] = {}
        for message in self.reader.messages(self.outputs):
            if begin is None:
                first = message.timestamp_ns
                begin = start_ns(self.reader.info.start_ns, first, self.options.start_s)
            if message.timestamp_ns < begin:
                if message.msgtype == BATTERY_TYPE:
                    pending_battery[message.topic] = message
                continue
            for battery in pending_battery.values():
                yield battery, message.timestamp_ns
            pending_battery = {}
            yield message, message.timestamp_ns

    def play_once(self, summary: PlaybackSummary) -> None:
        """Publish every message once with the recorded timing (until ``stop`` is set)."""
        timeline = None
        started = time.monotonic()
        for message, due_ns in self._messages_from_start():
            if timeline is None:
                timeline = Timeline(due_ns, self.options.rate)
            if not self._wait_until(started, timeline, due_ns):
                summary.interrupted = True
                return
            output = self.outputs[message.topic]
            if self.clock_publisher is not None:
                self._publish_clock(message.timestamp_ns)
            output.publisher.publish(self._payload(output, message))
            summary.counts[output.published] = summary.counts.get(output.published, 0) + 1

    def _wait_until(self, started: float, timeline: Timeline, due_ns: int) -> bool:
        """Sleep until a message is due (publishing /clock meanwhile); False when stopped."""
        due = started + timeline.offset_s(due_ns)
        while True:
            now = time.monotonic()
            if self.stop.is_set():
                return False
            if now >= due:
                return True
            if self.clock_publisher is None:
                self.stop.wait(due - now)
            else:
                self._publish_clock(timeline.recorded_ns(now - started))
                self.stop.wait(min(CLOCK_PERIOD_S, due - now))

    def _publish_clock(self, recorded_ns: int) -> None:
        from builtin_interfaces.msg import Time
        from rosgraph_msgs.msg import Clock

        sec, nanosec = divmod(int(recorded_ns), 1_000_000_000)
        self.clock_publisher.publish(Clock(clock=Time(sec=sec, nanosec=nanosec)))

    def _payload(self, output: _Output, message) -> bytes:
        """Return the bytes to publish: as recorded, or with headers stamped now."""
        if self.clock_publisher is not None or not output.header_paths:
            return message.data
        try:
            decoded = self.codec.decode(output.topic, message.data)
        except ValueError as error:
            LOG.warning('%s; published as recorded', error)
            return message.data
        restamp(decoded, output.header_paths, self.node.get_clock().now().nanoseconds)
        return self.codec.encode(output.topic, decoded)

    def wait_for_acknowledgements(self) -> None:
        """Wait (bounded) until reliable subscribers acknowledged what was published."""
        for output in self.outputs.values():
            output.publisher.wait_for_all_acked(Duration(seconds=ACK_TIMEOUT_S))


def _has_messages(topic) -> bool:
    """Return whether a bag topic has messages (True where the bag does not say)."""
    count = topic.storage_count if topic.storage_count is not None else topic.metadata_count
    return count is None or count > 0


def play_bag(path: Path, options: PlaybackOptions,
             announce: Callable[[str], None] = LOG.info,
             stop: Optional[threading.Event] = None) -> PlaybackSummary:
    """
    Play a bag into the live graph in a context of its own; return what was published.

    Ends at the bag's end (or, with ``loop``, at Ctrl-C / SIGTERM / ``stop``). Raises BagError
    for an unreadable bag or nothing to play, ReplayError when no subscriber appears.
    """
    from rclpy.signals import SignalHandlerOptions

    stop = stop or threading.Event()
    previous = {}
    if threading.current_thread() is threading.main_thread():
        previous = {sig: signal.signal(sig, lambda *_: stop.set())
                    for sig in (signal.SIGINT, signal.SIGTERM)}
    context = rclpy.Context()
    summary = PlaybackSummary()
    node = None
    try:
        with open_bag(path) as reader:
            duration_ns = reader.info.duration_ns
            if duration_ns is not None and options.start_s * 1e9 > duration_ns:
                raise BagError(f'{path}: --start {options.start_s:g} s is past the end of the '
                               f'bag ({duration_ns / 1e9:.1f} s long): nothing to play')
            rclpy.init(args=[], context=context,  # not sys.argv: --remap is ours
                       signal_handler_options=SignalHandlerOptions.NO)
            node = Node(PLAYER_NODE_NAME, context=context)
            player = BagPlayer(node, reader, options, stop, announce)
            names = ', '.join(f'{o.recorded}' + (f' -> {o.published}'
                                                 if o.published != o.recorded else '')
                              for o in player.outputs.values())
            announce(f'playing {path}: {names} at rate {options.rate:g}'
                     + (' with /clock' if options.clock else ''))
            player.wait_for_subscribers()
            started = time.monotonic()
            while not stop.is_set():
                player.play_once(summary)
                summary.loops += 1
                if not options.loop or summary.total == 0:
                    break
            summary.seconds = time.monotonic() - started
            player.wait_for_acknowledgements()
            summary.interrupted = summary.interrupted or (stop.is_set() and not options.loop)
            return summary
    finally:
        if node is not None:
            node.destroy_node()
        context.try_shutdown()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
