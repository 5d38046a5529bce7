"""
Recording live topics to a rosbag2 bag from rclpy, as ``ros2 bag record`` would.

Messages are taken serialized (``raw=True`` subscriptions) and written unchanged with rosbags'
writer (metadata version 9, Kilted): each topic with its type name, its message definition and
RIHS01 type hash (from rosbags' typestore with the project's messages registered, which match
rclpy's), and the offered QoS of its publishers, so ``ros2 bag info/play``, the mcap tools and
rosbags open the bag. A message's timestamp is the time it was received.

QoS follows the publishers, as ``ros2 bag`` does: a topic's subscription starts with the QoS
the project's publishers offer (the README's ROS interface; ``chosen_configuration``
transient-local) and is re-created when a publisher appears that it would not match (a
best-effort image publisher, say). Topics of types this package does not know are subscribed
once a publisher shows their type on the graph.

Two ways in:

* ``start_recorder(node_or_executor, path, topics)`` records next to nodes already running in
  this process (the demo); ``close()`` on the returned recorder ends the bag and returns the
  summary;
* ``record_until_stopped(path, topics, ...)`` is ``adaptive-nlp bag record``: its own context
  and node, until Ctrl-C, SIGTERM or a duration, then drains what was already received.
"""

from dataclasses import dataclass, field
import functools
import importlib
import logging
from pathlib import Path
import signal
import threading
import time
from typing import Any, Callable, Dict, Mapping, Optional, Sequence, Tuple, Union

from adaptive_nlp_ros.core.bags.bag_reader import BagError
from adaptive_nlp_ros.core.bags.bag_types import (
    BATTERY_TYPE, CONFIGURATION_TYPE, DIAGNOSTICS_TYPE, ensure_type, IMAGE_TYPE,
    MessageTypeError, project_typestore, RESULT_TYPE, split_type_name, STRING_TYPE, type_hash)
import rclpy
from rclpy.callback_groups import MutuallyExclusiveCallbackGroup
from rclpy.executors import Executor
from rclpy.node import Node
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy

LOG = logging.getLogger('adaptive_nlp.bag')

RECORDER_NODE_NAME = 'adaptive_nlp_bag_recorder'
DEFAULT_TOPICS = ('text_command', 'image_command', 'battery_state', 'inference_result',
                  'chosen_configuration', '/diagnostics')
GRAPH_POLL_S = 0.5
SUBSCRIPTION_DEPTH = 1000
DRAIN_IDLE_ROUNDS = 3
DRAIN_SPIN_S = 0.05

# Types and publisher QoS of the project's topics, by the last component of their name.
_KNOWN_TOPICS: Dict[str, Tuple[str, DurabilityPolicy]] = {
    'text_command': (STRING_TYPE, DurabilityPolicy.VOLATILE),
    'image_command': (IMAGE_TYPE, DurabilityPolicy.VOLATILE),
    'battery_state': (BATTERY_TYPE, DurabilityPolicy.VOLATILE),
    'inference_result': (RESULT_TYPE, DurabilityPolicy.VOLATILE),
    'chosen_configuration': (CONFIGURATION_TYPE, DurabilityPolicy.TRANSIENT_LOCAL),
    'diagnostics': (DIAGNOSTICS_TYPE, DurabilityPolicy.VOLATILE),
}
_RMW_INFINITE = (2147483647, 4294967295)       # how rosbag2 writes an infinite duration


@dataclass
class RecordingSummary:
    """What a recording wrote."""

    path: Path
    storage: str
    counts: Dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def total(self) -> int:
        """Return the number of messages written."""
        return sum(self.counts.values())


def message_class(msgtype: str) -> Any:
    """Import the rclpy message class of ``package/msg/Name`` (ImportError if absent)."""
    package, interface, name = split_type_name(msgtype)
    module = importlib.import_module(f'{package}.{interface}')
    return getattr(module, name)


@dataclass
class _Topic:
    """One topic being recorded: its subscription and bag connection."""

    name: str                           # fully qualified
    msgtype: str = ''
    durability: DurabilityPolicy = DurabilityPolicy.VOLATILE
    reliability: ReliabilityPolicy = ReliabilityPolicy.RELIABLE
    subscription: Any = None
    connection: Any = None
    count: int = 0
    unrecordable: str = ''              # why it cannot be recorded ('' when it can)


class BagRecorder:
    """Subscribes (raw) to topics on a node and writes every message to a rosbag2 bag."""

    def __init__(self, node: Node, path: Path, topics: Sequence[str] = DEFAULT_TOPICS,
                 storage: str = 'mcap', custom_data: Optional[Mapping[str, str]] = None,
                 own_node: bool = False, executor: Optional[Executor] = None) -> None:
        """
        Open the bag and subscribe; messages are written as ``node`` is spun.

        :param custom_data: strings stored in the bag's metadata (``custom_data``).
        :raises BagError: when the bag cannot be created (the folder exists, say).
        """
        from rosbags.rosbag2 import StoragePlugin, Writer
        from rosbags.rosbag2.errors import WriterError

        self.node = node
        self.path = Path(path)
        self.storage = storage
        self._own_node = own_node
        self._executor = executor
        self._lock = threading.Lock()
        self._closed = False
        self._started = time.monotonic()
        try:
            self._typestore = project_typestore()
        except MessageTypeError as error:
            raise BagError(str(error)) from None
        if self.path.exists():
            raise BagError(f'{self.path} exists already; record into a new folder')
        plugin = StoragePlugin.MCAP if storage == 'mcap' else StoragePlugin.SQLITE3
        self._writer = Writer(self.path, version=Writer.VERSION_LATEST, storage_plugin=plugin)
        for key, value in (custom_data or {}).items():
            self._writer.set_custom_data(str(key), str(value))
        try:
            self._writer.open()
        except (WriterError, OSError) as error:
            raise BagError(f'{self.path}: cannot create the bag ({error})') from None
        self._group = MutuallyExclusiveCallbackGroup()
        self._topics: Dict[str, _Topic] = {}
        for name in dict.fromkeys(topics):
            resolved = node.resolve_topic_name(name)
            self._topics[resolved] = topic = _Topic(resolved)
            known = _KNOWN_TOPICS.get(resolved.rsplit('/', 1)[-1])
            if known is not None:
                topic.msgtype, topic.durability = known
                self._subscribe(topic)
        self._timer = node.create_timer(GRAPH_POLL_S, self._poll_graph,
                                        callback_group=self._group)
        self._poll_graph()

    @property
    def counts(self) -> Dict[str, int]:
        """Return messages written so far, per topic."""
        with self._lock:
            return {name: topic.count for name, topic in self._topics.items()}

    # -- subscriptions ---------------------------------------------------------------------

    def _subscribe(self, topic: _Topic) -> None:
        """(Re-)create the raw subscription of a topic with its current QoS."""
        try:
            message_type = message_class(topic.msgtype)
        except (ImportError, AttributeError, MessageTypeError) as error:
            self._refuse(topic, f'message type {topic.msgtype} is not importable ({error})')
            return
        if topic.subscription is not None:
            self.node.destroy_subscription(topic.subscription)
        qos = QoSProfile(history=HistoryPolicy.KEEP_LAST, depth=SUBSCRIPTION_DEPTH,
                         reliability=topic.reliability, durability=topic.durability)
        topic.subscription = self.node.create_subscription(
            message_type, topic.name, functools.partial(self._on_message, topic), qos,
            callback_group=self._group, raw=True)

    def _refuse(self, topic: _Topic, why: str) -> None:
        if topic.unrecordable != why:
            topic.unrecordable = why
            LOG.warning('not recording %s: %s', topic.name, why)

    def _poll_graph(self) -> None:
        """Subscribe to topics whose type just appeared; adapt QoS to new publishers."""
        if self._closed:
            return
        types = dict(self.node.get_topic_names_and_types())
        for topic in self._topics.values():
            if topic.unrecordable:
                continue
            if not topic.msgtype:
                offered = types.get(topic.name)
                if not offered:
                    continue
                topic.msgtype = offered[0]
                if len(offered) > 1:
                    LOG.warning('%s has several types %s; recording %s', topic.name, offered,
                                topic.msgtype)
            publishers = self.node.get_publishers_info_by_topic(topic.name)
            profiles = [info.qos_profile for info in publishers
                        if info.topic_type == topic.msgtype]
            reliability, durability = _subscription_policies(profiles, topic.durability)
            if topic.subscription is None or (reliability, durability) != (
                    topic.reliability, topic.durability):
                if topic.subscription is not None:
                    LOG.info('%s: publishers offer %s / %s; re-subscribing to match', topic.name,
                             reliability.name.lower(), durability.name.lower())
                topic.reliability, topic.durability = reliability, durability
                self._subscribe(topic)

    # -- writing ---------------------------------------------------------------------------

    def _on_message(self, topic: _Topic, data: bytes, info: Mapping[str, Any]) -> None:
        """Write one received message (timestamp: its receive time)."""
        timestamp = int(info.get('received_timestamp') or 0) or time.time_ns()
        with self._lock:
            if self._closed:
                return
            if topic.connection is None and not self._connect(topic):
                return
            self._writer.write(topic.connection, timestamp, bytes(data))
            topic.count += 1

    def _connect(self, topic: _Topic) -> bool:
        """Add the topic's connection to the bag: definition, hash and publishers' QoS."""
        try:
            if not ensure_type(self._typestore, topic.msgtype):
                self._refuse(topic, f'no message definition of {topic.msgtype} found')
                return False
        except MessageTypeError as error:
            self._refuse(topic, str(error))
            return False
        publishers = [info for info in self.node.get_publishers_info_by_topic(topic.name)
                      if info.topic_type == topic.msgtype]
        local_hash = type_hash(self._typestore, topic.msgtype)
        for info in publishers:
            offered = str(info.topic_type_hash)
            if offered.startswith('RIHS01_') and offered != local_hash:
                LOG.warning('%s: publisher %s offers type hash %s, the local definition of %s '
                            'hashes to %s', topic.name, info.node_name, offered, topic.msgtype,
                            local_hash)
        profiles = [_bag_qos(info.qos_profile) for info in publishers] or [
            _bag_qos(QoSProfile(depth=10, reliability=topic.reliability,
                                durability=topic.durability))]
        topic.connection = self._writer.add_connection(
            topic.name, topic.msgtype, typestore=self._typestore,
            offered_qos_profiles=profiles)
        return True

    def close(self) -> RecordingSummary:
        """Stop recording, finish the bag (metadata.yaml) and return the summary."""
        with self._lock:
            if self._closed:
                return self._summary
            self._closed = True
            for topic in self._topics.values():
                if topic.connection is None and topic.msgtype and not topic.unrecordable:
                    self._connect(topic)
            self._writer.close()
            self._summary = RecordingSummary(
                self.path, self.storage, {name: topic.count for name, topic in
                                          self._topics.items() if not topic.unrecordable},
                time.monotonic() - self._started)
        self._release_ros()
        return self._summary

    def _release_ros(self) -> None:
        """Destroy the subscriptions and timer (or the recorder's own node)."""
        try:
            if self._own_node:
                if self._executor is not None:
                    self._executor.remove_node(self.node)
                self.node.destroy_node()
                return
            self.node.destroy_timer(self._timer)
            for topic in self._topics.values():
                if topic.subscription is not None:
                    self.node.destroy_subscription(topic.subscription)
        except Exception as error:  # the context may be shut down already: nothing to release
            LOG.debug('recorder: releasing ROS entities: %s', error)

    def __enter__(self) -> 'BagRecorder':
        """Return the recorder."""
        return self

    def __exit__(self, *exc_info) -> None:
        """Close the bag."""
        self.close()


def _subscription_policies(profiles: Sequence[QoSProfile], default_durability: DurabilityPolicy
                           ) -> Tuple[ReliabilityPolicy, DurabilityPolicy]:
    """
    Return the subscription policies that match every publisher, as ``ros2 bag`` chooses.

    Reliable unless a publisher is best effort; transient-local only when every publisher is
    (with none yet, the topic's default).
    """
    if not profiles:
        return ReliabilityPolicy.RELIABLE, default_durability
    reliable = all(p.reliability == ReliabilityPolicy.RELIABLE for p in profiles)
    transient = all(p.durability == DurabilityPolicy.TRANSIENT_LOCAL for p in profiles)
    return (ReliabilityPolicy.RELIABLE if reliable else ReliabilityPolicy.BEST_EFFORT,
            DurabilityPolicy.TRANSIENT_LOCAL if transient else DurabilityPolicy.VOLATILE)


def _bag_time(duration) -> Any:
    from rosbags.interfaces import QosTime

    nanoseconds = int(duration.nanoseconds)
    if nanoseconds >= 2 ** 63 - 1 or nanoseconds < 0:
        return QosTime(*_RMW_INFINITE)
    return QosTime(nanoseconds // 1_000_000_000, nanoseconds % 1_000_000_000)


def _bag_qos(profile: QoSProfile) -> Any:
    """Convert an rclpy QoS profile to rosbags' ``Qos`` (rmw enum values are shared)."""
    from rosbags.interfaces import (Qos, QosDurability, QosHistory, QosLiveliness,
                                    QosReliability)

    def enum(kind, value, fallback):
        try:
            return kind(int(value))
        except ValueError:
            return fallback
    return Qos(history=enum(QosHistory, profile.history, QosHistory.UNKNOWN),
               depth=int(profile.depth),
               reliability=enum(QosReliability, profile.reliability, QosReliability.UNKNOWN),
               durability=enum(QosDurability, profile.durability, QosDurability.UNKNOWN),
               deadline=_bag_time(profile.deadline), lifespan=_bag_time(profile.lifespan),
               liveliness=enum(QosLiveliness, profile.liveliness, QosLiveliness.UNKNOWN),
               liveliness_lease_duration=_bag_time(profile.liveliness_lease_duration),
               avoid_ros_namespace_conventions=bool(profile.avoid_ros_namespace_conventions))


def start_recorder(node_or_executor: Union[Node, Executor], path, topics: Sequence[str]
                   = DEFAULT_TOPICS, storage: str = 'mcap',
                   custom_data: Optional[Mapping[str, str]] = None) -> BagRecorder:
    """
    Start recording ``topics`` to the bag folder ``path`` inside a running process.

    With an executor, the recorder gets its own node (``adaptive_nlp_bag_recorder``) on the
    executor's context, added to that executor; with a node, its subscriptions live on that
    node. Whoever spins it makes the recording progress. Call ``close()`` on the result at
    the end (after the executor stopped spinning is fine): it finishes the bag and returns a
    :class:`RecordingSummary`. Raises BagError when the bag cannot be created.
    """
    if isinstance(node_or_executor, Node):
        return BagRecorder(node_or_executor, Path(path), topics, storage, custom_data)
    executor = node_or_executor
    node = Node(RECORDER_NODE_NAME, context=executor.context)
    try:
        recorder = BagRecorder(node, Path(path), topics, storage, custom_data, own_node=True,
                               executor=executor)
    except BaseException:
        node.destroy_node()
        raise
    executor.add_node(node)
    return recorder


def record_until_stopped(path: Path, topics: Sequence[str] = DEFAULT_TOPICS,
                         storage: str = 'mcap', duration_s: Optional[float] = None,
                         announce: Callable[[str], None] = LOG.info,
                         custom_data: Optional[Mapping[str, str]] = None,
                         namespace: str = '') -> RecordingSummary:
    """
    Record in a context of its own until Ctrl-C / SIGTERM or ``duration_s``; return the summary.

    After the stop request, what the middleware already received is still written (the node
    is spun until nothing new arrives), then the bag is closed. ``custom_data`` goes into the
    bag's metadata. Relative topic names resolve in ``namespace`` (a robot's, ``/robot1``).
    """
    from rclpy.executors import SingleThreadedExecutor
    from rclpy.signals import SignalHandlerOptions

    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set())
                for sig in (signal.SIGINT, signal.SIGTERM)}
    context = rclpy.Context()
    rclpy.init(args=[], context=context,  # not sys.argv: the options are ours
               signal_handler_options=SignalHandlerOptions.NO)
    node = executor = recorder = None
    try:
        node = Node(RECORDER_NODE_NAME, namespace=namespace, context=context)
        executor = SingleThreadedExecutor(context=context)
        executor.add_node(node)
        recorder = BagRecorder(node, path, topics, storage, custom_data)
        announce(f'recording {", ".join(recorder.counts)} to {path} ({storage}); '
                 + (f'{duration_s:g} s' if duration_s else 'Ctrl-C to stop'))
        deadline = None if duration_s is None else time.monotonic() + duration_s
        while not stop.is_set() and (deadline is None or time.monotonic() < deadline):
            timeout = 0.1 if deadline is None else max(0.0, min(0.1, deadline
                                                                - time.monotonic()))
            executor.spin_once(timeout_sec=timeout)
        idle, last = 0, -1
        while idle < DRAIN_IDLE_ROUNDS:
            executor.spin_once(timeout_sec=DRAIN_SPIN_S)
            total = sum(recorder.counts.values())
            idle, last = (idle + 1, last) if total == last else (0, total)
        return recorder.close()
    finally:
        if recorder is not None:
            recorder.close()
        if executor is not None:
            executor.shutdown()
        if node is not None:
            node.destroy_node()
        context.try_shutdown()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
