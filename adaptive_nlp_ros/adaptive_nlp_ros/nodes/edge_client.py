"""
The controller's way to the expert server: an rclpy client of ``Understand`` (``EdgeTransport``).

``send`` never waits: the request goes out with ``call_async`` from the worker thread and the
reply is handed to ``on_reply`` on the executor's thread when it comes (``EdgeOffload`` waits on
it within the deadline, or discards it as late). Requests whose reply never came (a partition)
are forgotten after ``FORGET_AFTER_S`` so the client's table of pending requests stays bounded.
"""

import collections
import threading
import time
from typing import Any, Callable, Deque, Tuple

from adaptive_nlp_ros.core.offload.understand import UnderstandReply, UnderstandRequest
from adaptive_nlp_ros.nodes.conversions import understand_reply, understand_request_message
from adaptive_nlp_ros.nodes.qos import SERVICE_QOS
from adaptive_nlp_ros_msgs.srv import Understand
from rclpy.callback_groups import ReentrantCallbackGroup

FORGET_AFTER_S = 30.0


class ServiceTransport:
    """Sends ``Understand`` requests on a node's client; replies go to their callbacks."""

    def __init__(self, node: Any, service: str) -> None:
        """Create the client of ``service`` (relative names resolve in the node's namespace)."""
        self._node = node
        self._client = node.create_client(Understand, service, qos_profile=SERVICE_QOS,
                                          callback_group=ReentrantCallbackGroup())
        self._pending: Deque[Tuple[float, Any]] = collections.deque()
        self._lock = threading.Lock()

    @property
    def service_name(self) -> str:
        """Return the fully qualified service name."""
        return self._client.srv_name

    def ready(self) -> bool:
        """Return True while a server is matched on the service."""
        return self._client.service_is_ready()

    def send(self, request: UnderstandRequest,
             on_reply: Callable[[UnderstandReply], None]) -> None:
        """Send ``request``; ``on_reply`` gets the reply if one comes."""
        future = self._client.call_async(understand_request_message(request))
        future.add_done_callback(lambda done: self._done(done, on_reply))
        now = time.monotonic()
        with self._lock:
            self._pending.append((now, future))
            while self._pending and (self._pending[0][1].done()
                                     or now - self._pending[0][0] > FORGET_AFTER_S):
                _, old = self._pending.popleft()
                if not old.done():
                    self._client.remove_pending_request(old)

    @staticmethod
    def _done(future: Any, on_reply: Callable[[UnderstandReply], None]) -> None:
        """Hand a reply to its callback (nothing for a cancelled request)."""
        if future.cancelled() or future.exception() is not None:
            return
        response = future.result()
        if response is not None:
            on_reply(understand_reply(response))

    def destroy(self) -> None:
        """Destroy the client."""
        self._node.destroy_client(self._client)
