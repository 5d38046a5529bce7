"""
QoS the user can set, and a QoS mismatch that does not go unnoticed.

Overrides: every publisher and subscription of the nodes is created with ``OVERRIDABLE``, so
rclpy declares the standard read-only parameters
``qos_overrides.<fully qualified topic>.<publisher|subscription>.<policy>`` for ``history``,
``depth``, ``reliability`` and ``durability``, with the node's own profile as their defaults;
a value given at start-up (``-p``, a parameters file, a launch file) replaces that policy.
An unknown value (``reliability: sometimes``) makes the entity's creation fail, and with it the
configure transition, with rclpy's reason.

Mismatch: a subscription whose requested QoS an offered one cannot meet (a best-effort
publisher on a reliable subscription, a volatile one on a transient-local subscription)
receives nothing, and DDS says so only through an event. ``IncompatibleQosWatch`` takes that
event: it counts the incompatible publishers (for ``/diagnostics``) and logs each of them once,
with both profiles and the parameter that would change this side. A publisher of another
message type on the same topic (``std_msgs/Int32`` on ``text_command``) is not delivered
either, and no event says so on every middleware: the watch reads the graph for those too.
"""

from typing import Any, Dict, Optional, Set

from rclpy.event_handler import QoSRequestedIncompatibleQoSInfo, SubscriptionEventCallbacks
from rclpy.qos import (HistoryPolicy, qos_check_compatible, QoSCompatibility, QoSPolicyKind,
                       QoSProfile, ReliabilityPolicy)
from rclpy.qos_overriding_options import QoSOverridingOptions

OVERRIDABLE_POLICIES = (QoSPolicyKind.HISTORY, QoSPolicyKind.DEPTH, QoSPolicyKind.RELIABILITY,
                        QoSPolicyKind.DURABILITY)
OVERRIDABLE = QoSOverridingOptions(OVERRIDABLE_POLICIES)
# ``understand`` on both sides: reliable, keep all. The services default (keep last 10) let DDS
# overwrite the oldest requests of a burst from many robots before the server's executor took
# them, and every client of a service receives the replies to all clients (rmw_fastrtps), so a
# robot's reply could be pushed out the same way; the server's queue_size is the bound.
SERVICE_QOS = QoSProfile(depth=1, history=HistoryPolicy.KEEP_ALL,
                         reliability=ReliabilityPolicy.RELIABLE)
UNKNOWN_NODE = '_NODE_NAME_UNKNOWN_'     # what the graph says before it knows an endpoint's node
UNNAMED_POLLS = 3                       # polls to wait for that name before logging without it


def describe_qos(profile: QoSProfile) -> str:
    """Return the policies of a profile that decide compatibility, as ``policy=value`` words."""
    words = []
    for name in ('reliability', 'durability', 'liveliness'):
        value = getattr(profile, name).name.lower()
        if value not in ('unknown', 'system_default'):
            words.append(f'{name}={value}')
    history = profile.history
    if history == HistoryPolicy.KEEP_LAST:
        words.append(f'history=keep_last depth={profile.depth}')
    elif history == HistoryPolicy.KEEP_ALL:
        words.append('history=keep_all')
    return ', '.join(words)


class IncompatibleQosWatch:
    """Counts publishers whose offered QoS a subscription cannot take; logs each one once."""

    def __init__(self, node: Any) -> None:
        """Watch for ``node``; give the subscription created with ``callbacks()`` to ``watch``."""
        self._node = node
        self._subscription: Optional[Any] = None
        self._reported: Set[bytes] = set()
        self._unnamed_polls: Dict[bytes, int] = {}
        self.count = 0
        self._wrong_types: Set[bytes] = set()      # publishers of another type, logged

    @property
    def wrong_type_count(self) -> int:
        """Return how many publishers of another message type were seen on the topic."""
        return len(self._wrong_types)

    def callbacks(self) -> SubscriptionEventCallbacks:
        """Return the event callbacks to create the subscription with."""
        return SubscriptionEventCallbacks(incompatible_qos=self._on_incompatible)

    def watch(self, subscription: Any) -> Any:
        """Take the subscription created with ``callbacks()``; return it."""
        self._subscription = subscription
        return subscription

    def _on_incompatible(self, info: QoSRequestedIncompatibleQoSInfo) -> None:
        """Event: one more incompatible publisher was discovered; count it, log it."""
        self.count = int(info.total_count)
        self.report()

    def report(self) -> None:
        """
        Log each incompatible publisher not logged yet.

        The graph can lag the event by a moment (the publisher is not listed yet, or not its
        node), so the node calls this again from its diagnostics timer until every counted
        publisher was named.
        """
        subscription = self._subscription
        if subscription is None:
            return
        requested = subscription.qos_profile
        topic = subscription.topic_name
        endpoints = self._node.get_publishers_info_by_topic(topic)
        self._report_wrong_types(endpoints, subscription)
        if len(self._reported) >= self.count:
            return
        for endpoint in endpoints:
            key = bytes(endpoint.endpoint_gid)
            compatibility, why = qos_check_compatible(endpoint.qos_profile, requested)
            if compatibility != QoSCompatibility.ERROR or key in self._reported:
                continue
            if endpoint.node_name == UNKNOWN_NODE:
                polls = self._unnamed_polls[key] = self._unnamed_polls.get(key, 0) + 1
                if polls < UNNAMED_POLLS:
                    continue
                publisher = 'a publisher whose node is unknown'
            else:
                publisher = ('the publisher of '
                             f'{endpoint.node_namespace.rstrip("/")}/{endpoint.node_name}')
            self._reported.add(key)
            offered = describe_qos(endpoint.qos_profile)
            reason = why.replace('ERROR: ', '').strip().rstrip(';')
            self._node.get_logger().warning(
                f'{topic}: {publisher} offers QoS ({offered}) that this subscription, '
                f'requesting ({describe_qos(requested)}), cannot take: {reason}. Nothing it '
                'publishes is received here. Publish with a compatible QoS, or set '
                f'qos_overrides.{topic}.subscription.<policy> at start-up.')

    def _report_wrong_types(self, endpoints, subscription: Any) -> None:
        """Log (once) and count each publisher of another message type on the topic."""
        message_type = subscription.msg_type
        taken = f'{message_type.__module__.split(".")[0]}/msg/{message_type.__name__}'
        for endpoint in endpoints:
            key = bytes(endpoint.endpoint_gid)
            if endpoint.topic_type == taken or key in self._wrong_types:
                continue
            self._wrong_types.add(key)
            publisher = ('a publisher' if endpoint.node_name == UNKNOWN_NODE else
                         f'the publisher of {endpoint.node_namespace.rstrip("/")}/'
                         f'{endpoint.node_name}')
            self._node.get_logger().warning(
                f'{subscription.topic_name}: {publisher} publishes {endpoint.topic_type}, but '
                f'this topic takes {taken}: nothing it publishes is received here.')
