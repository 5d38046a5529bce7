"""
``edge_offload``: per command, answer on the robot or ask the expert server, and never wait long.

The decision, in order (the first that applies; the result's reason says which):

1. a possible stop (the receipt check put it in the priority lane) is answered on the robot at
   once, whatever the link;
2. no server matched on the service, a back-off after a timeout, or a server that said
   "overloaded": on the robot;
3. the round trip to expect (``LinkEstimate``: median of recent samples) plus the wait the server
   reported does not fit in the deadline: on the robot;
4. the robot's energy: the radio's (``RadioModel``, on the estimated bytes of request and reply)
   against the energy of answering locally (a running mean of the local answers; until the
   first one, commands are answered on the robot to measure it). Offloaded when
   the radio is cheaper, or when the server is the more accurate (its strategy differs from the
   local one: by default it runs ``full``, the reference) and the radio fits the command's
   energy budget; otherwise on the robot.

An offloaded command waits at most ``deadline_ms`` for the reply; on a timeout, "overloaded",
"expired" or a lost link it is answered locally at once (so within the deadline plus the local
cost), and a reply that comes later is counted and discarded: still one result per command.
Commands answered on the robot for a link reason send a probe (the same request, not waited
for) at most every ``probe_interval_s``, so the estimate follows a link that heals.
"""

from dataclasses import dataclass, replace
import math
import threading
import time
from typing import Callable, Optional, Protocol

from .link_estimate import LinkEstimate
from .radio_energy import RadioModel
from .understand import (EXECUTED_ON_ROBOT, STATUS_ANSWERED, STATUS_EXPIRED, STATUS_NAMES,
                         STATUS_OVERLOADED, UnderstandReply, UnderstandRequest)
from ..inference.decisions import ResourceState
from ..inference.results import InferenceOutcome

STRATEGY_NAME = 'edge_offload'
# Reply size assumed before the first reply is seen (a two-action parse is about 600 bytes).
INITIAL_REPLY_BYTES = 640
LOCAL_ENERGY_GAIN = 0.2


class EdgeTransport(Protocol):
    """How requests reach the server (``nodes/edge_client.py``: an rclpy service client)."""

    def ready(self) -> bool:
        """Return True while a server is matched on the service."""

    def send(self, request: UnderstandRequest,
             on_reply: Callable[[UnderstandReply], None]) -> None:
        """Send without waiting; ``on_reply`` is called (any thread) if a reply comes."""


@dataclass(frozen=True)
class OffloadSettings:
    """The strategy's parameters (``edge_offload.*`` on the controller)."""

    deadline_ms: int = 150
    local_strategy: str = 'early_exit'
    radio: RadioModel = RadioModel()
    probe_interval_s: float = 1.0


@dataclass(frozen=True)
class Placement:
    """Where one command was answered, and what the edge part cost the robot."""

    reply: Optional[UnderstandReply]      # the server's answer; None: answer on the robot
    executed_on: str                      # EXECUTED_ON_ROBOT or the server's node name
    round_trip_ms: float                  # NaN where no reply came for this command
    radio_mj: float                       # radio energy spent on this command (0: none)
    reason: str


class EdgeOffload:
    """Decides per command where to compute; asks the server and waits within the deadline."""

    def __init__(self, transport: EdgeTransport, robot_id: str,
                 clock: Callable[[], float] = time.monotonic,
                 link: Optional[LinkEstimate] = None) -> None:
        """Use ``transport`` for requests from ``robot_id`` (the controller's node name)."""
        self._transport = transport
        self.robot_id = robot_id
        self._clock = clock
        self.link = link if link is not None else LinkEstimate(clock)
        self.settings = OffloadSettings()
        self._lock = threading.Lock()
        self._local_mj = math.nan
        self._reply_bytes = float(INITIAL_REPLY_BYTES)
        self._server_strategy = 'full'
        self._last_probe_s = -math.inf

    # -- the decision ---------------------------------------------------------------------

    def place(self, request_id: int, text: str, possible_stop: bool,
              resources: ResourceState) -> Placement:
        """Decide for one command; when offloaded, ask and wait (at most the deadline)."""
        settings = self.settings
        link = self.link
        if possible_stop:
            link.count('local_possible_stop')
            return self._local('possible stop: answered on the robot at once')
        if not self._transport.ready():
            link.count('edge_unavailable')
            return self._local('no expert server matched on the service: on the robot')
        backoff_s = link.backing_off_s()
        if backoff_s > 0.0:
            return self._local_probing(request_id, text, f'link failed: on the robot for '
                                       f'{backoff_s:.1f} s more (probing)')
        if link.overloaded_s() > 0.0:
            return self._local('the server said overloaded: on the robot')
        expected_ms = link.predicted_ms() + link.server_wait_ms
        if expected_ms >= settings.deadline_ms:
            return self._local_probing(request_id, text, f'round trip ~{expected_ms:.0f} ms >= '
                                       f'deadline {settings.deadline_ms} ms: on the robot')
        local_mj = self._local_mj
        if math.isnan(local_mj):
            return self._local('the local cost is not measured yet: on the robot (measuring)')
        request = UnderstandRequest(request_id, self.robot_id, text, settings.deadline_ms)
        radio_mj = settings.radio.energy_mj(request.wire_bytes(), int(self._reply_bytes))
        if radio_mj <= local_mj:
            why = f'radio {radio_mj:.1f} mJ <= local {local_mj:.1f} mJ'
        elif (self._server_strategy != settings.local_strategy
              and radio_mj <= resources.budget_mj):
            why = (f'server ({self._server_strategy}) more accurate than local '
                   f'{settings.local_strategy}; radio {radio_mj:.1f} mJ within budget '
                   f'{resources.budget_mj:.1f} mJ')
        else:
            return self._local(f'radio {radio_mj:.1f} mJ > local {local_mj:.1f} mJ and no '
                               'accuracy to gain within the budget: on the robot')
        return self._ask(request, radio_mj, why)

    def _ask(self, request: UnderstandRequest, radio_mj: float, why: str) -> Placement:
        """Send ``request`` and wait up to its deadline; an unanswered one goes local."""
        link = self.link
        link.count('offloaded')
        done = threading.Event()
        box = {}
        sent_s = self._clock()
        lock = threading.Lock()

        def on_reply(reply: UnderstandReply) -> None:
            rtt_ms = (self._clock() - sent_s) * 1e3
            with lock:
                if box.get('abandoned'):
                    link.late(rtt_ms)
                    return
                box['reply'], box['rtt_ms'] = reply, rtt_ms
            done.set()

        self._transport.send(request, on_reply)
        done.wait(request.deadline_ms / 1e3)
        with lock:
            reply = box.get('reply')
            if reply is None:
                box['abandoned'] = True
        if reply is None:
            waited_ms = (self._clock() - sent_s) * 1e3
            link.timed_out(waited_ms)
            return self._local(f'no reply within the deadline {request.deadline_ms} ms '
                               f'({why}): on the robot', radio_mj)
        rtt_ms = box['rtt_ms']
        self._seen(reply)
        if rtt_ms >= request.deadline_ms:
            # Came while the wait was timing out, before this thread took the lock: late all
            # the same (a two-host test saw one accepted at 151.7 ms against 150).
            link.late(rtt_ms)
            return self._local(f'the reply came after the deadline ({rtt_ms:.0f} ms >= '
                               f'{request.deadline_ms} ms, {why}): on the robot', radio_mj)
        if reply.status == STATUS_ANSWERED:
            link.answered(rtt_ms, self._server_wait_ms(reply))
            link.count('edge_answered')
            return Placement(reply, reply.server or 'edge', rtt_ms, radio_mj,
                             f'offloaded to {reply.server} ({why}): round trip {rtt_ms:.0f} ms, '
                             f'batch of {reply.batch_size}')
        if reply.status == STATUS_OVERLOADED:
            link.overloaded()
        elif reply.status == STATUS_EXPIRED:
            link.count('edge_expired')
            link.late(rtt_ms)
        else:
            link.count('edge_rejected')
        return Placement(None, EXECUTED_ON_ROBOT, rtt_ms, radio_mj,
                         f'server answered {_status_word(reply)} ({reply.reason}): on the robot')

    def _local(self, reason: str, radio_mj: float = 0.0) -> Placement:
        """Return a placement on the robot."""
        return Placement(None, EXECUTED_ON_ROBOT, math.nan, radio_mj, reason)

    def _local_probing(self, request_id: int, text: str, reason: str) -> Placement:
        """Answer on the robot; send a probe when one is due (its radio energy is counted)."""
        now = self._clock()
        with self._lock:
            due = now - self._last_probe_s >= self.settings.probe_interval_s
            if due:
                self._last_probe_s = now
        if not due:
            return self._local(reason)
        request = UnderstandRequest(request_id, self.robot_id, text, self.settings.deadline_ms)
        radio_mj = self.settings.radio.energy_mj(request.wire_bytes(), int(self._reply_bytes))
        link = self.link
        link.count('probes')

        def on_probe(reply: UnderstandReply) -> None:
            self._seen(reply)
            link.count('probes_answered')
            rtt_ms = (self._clock() - now) * 1e3
            if reply.status == STATUS_ANSWERED:
                link.answered(rtt_ms, self._server_wait_ms(reply))
            elif reply.status == STATUS_OVERLOADED:
                link.overloaded()

        self._transport.send(request, on_probe)
        return self._local(reason, radio_mj)

    # -- what was learnt --------------------------------------------------------------------

    def _seen(self, reply: UnderstandReply) -> None:
        """Learn the reply size and the server's strategy."""
        with self._lock:
            self._reply_bytes += 0.2 * (reply.wire_bytes() - self._reply_bytes)
            if reply.strategy:
                self._server_strategy = reply.strategy

    @staticmethod
    def _server_wait_ms(reply: UnderstandReply) -> float:
        """Return the wait the server's queue adds for the next request (its last report)."""
        per_request = reply.compute_ms / max(1, reply.batch_size)
        return reply.queue_length * per_request

    def observe_local(self, energy_mj: float) -> None:
        """Take the energy of a command answered on the robot (the local cost estimate)."""
        with self._lock:
            if math.isnan(self._local_mj):
                self._local_mj = energy_mj
            else:
                self._local_mj += LOCAL_ENERGY_GAIN * (energy_mj - self._local_mj)

    @property
    def local_energy_mj(self) -> float:
        """Return the current estimate of a local answer's energy (NaN: none yet)."""
        return self._local_mj


def _status_word(reply: UnderstandReply) -> str:
    """Return the status of a reply in words."""
    return STATUS_NAMES.get(reply.status, str(reply.status))


def offloaded_outcome(reply: UnderstandReply, resources: ResourceState, radio_mj: float,
                      latency_ms: float) -> InferenceOutcome:
    """Return the outcome of a command the server answered (energy: the robot's radio)."""
    return InferenceOutcome(
        label=reply.label, confidence=float(reply.confidence),
        top_labels=list(reply.top_labels), top_scores=list(reply.top_scores),
        strategy=STRATEGY_NAME, variant=reply.variant, exit_layer=int(reply.exit_layer),
        num_layers=int(reply.num_layers), battery_fraction=resources.battery_fraction,
        energy_budget_mj=resources.budget_mj, battery_stale=resources.battery_stale,
        latency_ms=latency_ms, energy_mj=radio_mj, actions=list(reply.actions))


def on_robot(outcome: InferenceOutcome, placement: Placement) -> InferenceOutcome:
    """Return a local outcome as ``edge_offload`` answered it (radio energy of probes added)."""
    return replace(outcome, strategy=STRATEGY_NAME,
                   energy_mj=outcome.energy_mj + placement.radio_mj)
