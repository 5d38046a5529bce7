"""
Ending a process that answers commands on SIGINT or SIGTERM, in order, with nothing unsaid.

rclpy's own signal handler shuts the ROS context down the moment a signal arrives; from then
on no node of the process can publish. The controller, though, owes a DROPPED result to every
command still queued when it stops (the ROS interface: exactly one result per received command),
and those would be lost without a word (measured before this module: after a Ctrl-C during a
burst, publishing the DROPPED results of the queued commands failed with "publisher's context
is invalid"; the demo also printed "exception was never retrieved" from its executor).

So the node processes (``controller_node``, ``battery_node``, ``adaptive-nlp demo``) init rclpy
without its signal handlers (``SignalHandlerOptions.NO``) and use ``ShutdownSignals``: the
first SIGINT or SIGTERM only sets an event. ``spin_until_shutdown`` spins the executor on a
thread while the main thread waits for that event (or for a future), then ends the spin
thread and shuts the executor down. The caller then destroys its nodes while the context is
still valid (the controller answers its queue DROPPED and waits for the results to be
acknowledged), shuts the context down, and ends the process.

Exit status: 0 for SIGINT and SIGTERM alike. A signal that asks for shutdown is the normal way
a node ends (``ros2 launch`` sends SIGINT, then SIGTERM, and reports any other status as the
process having died); 130/143 would mark every orderly stop as a failure. A further signal
more than ``REPEAT_WINDOW_S`` after the first ends the process at once with status 1 (the user
insists, or a launcher escalates to SIGTERM: something hung). One within that window is the
same request: Ctrl-C in a terminal signals the whole foreground process group, and ``ros2
launch`` (like ``ros2 run``) then forwards a SIGINT of its own to each node (measured: the
forwarded one arrived while the controller was still answering its queue, and the node that
took it as insisting exited 1, which launch reported as "process has died").
"""

import faulthandler
import signal
import sys
import threading
import time
from typing import Any, Callable, Optional

from adaptive_nlp_ros.nodes.process_exit import end_process
from rclpy.executors import ExternalShutdownException

SHUTDOWN_SIGNALS = (signal.SIGINT, signal.SIGTERM)
WAIT_POLL_S = 0.05
SPIN_JOIN_TIMEOUT_S = 1.0
INSISTED_STATUS = 1
REPEAT_WINDOW_S = 2.0
SHUTDOWN_DEADLINE_S = 6.0      # after a signal, the longest an orderly shutdown may take


class ShutdownSignals:
    """SIGINT and SIGTERM as an event the main thread waits for (install from the main thread)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        """Create the event; ``install`` routes the signals to it."""
        self.requested = threading.Event()
        self.received = ''
        self._clock = clock
        self._first_s = 0.0

    def install(self) -> 'ShutdownSignals':
        """Route SIGINT and SIGTERM here; return self."""
        for number in SHUTDOWN_SIGNALS:
            signal.signal(number, self._on_signal)
        return self

    def _on_signal(self, number: int, frame: Any) -> None:
        """Record the first signal; end the process at once on one after the repeat window."""
        if self.requested.is_set():
            if self._clock() - self._first_s > REPEAT_WINDOW_S:
                end_process(INSISTED_STATUS)
            return
        self._first_s = self._clock()
        self.received = signal.Signals(number).name
        self.requested.set()


def spin_until_shutdown(executor: Any, signals: ShutdownSignals,
                        done: Optional[Any] = None,
                        deadline_status: Callable[[], int] = lambda: INSISTED_STATUS) -> bool:
    """
    Spin ``executor`` on a thread until a shutdown signal, or until ``done`` completes.

    Then end the spin thread and shut the executor down (the nodes are left to the caller).
    After a signal, the rest of the shutdown gets ``SHUTDOWN_DEADLINE_S`` (``arm_deadline``).

    :param done: an ``rclpy.task.Future`` that ends the spin when it completes, or None.
    :param deadline_status: the exit status should the deadline pass (0: the process owes
        nothing more, e.g. every received command has its result).
    :return: True when a signal ended the spin.
    """
    stop = threading.Event()
    spinner = threading.Thread(target=_spin, args=(executor, stop), name='executor_spin',
                               daemon=True)
    spinner.start()
    try:
        while not signals.requested.wait(WAIT_POLL_S):
            if (done is not None and done.done()) or not spinner.is_alive():
                break
    finally:
        if signals.requested.is_set():
            arm_deadline(SHUTDOWN_DEADLINE_S, deadline_status)
        # The spin thread leaves after its current callback; only then is the executor shut
        # down (shutting it down under a waiting thread destroys what that thread waits on).
        stop.set()
        executor.wake()
        spinner.join(SPIN_JOIN_TIMEOUT_S)
        executor.shutdown()
    return signals.requested.is_set()


def arm_deadline(seconds: float, status: Callable[[], int]) -> threading.Timer:
    """
    End the process if the orderly shutdown has not ended it ``seconds`` from now.

    A node must end on SIGINT whatever the middleware does (a fresh-clone run once saw a
    controller with every command answered ignore SIGINT for 10 s, somewhere in its shutdown).
    The stacks of every thread go to stderr first, so such a hang says where it was.
    """
    def expire() -> None:
        print(f'shutdown did not finish within {seconds:g} s: ending the process now '
              '(the threads were at):', file=sys.stderr, flush=True)
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        end_process(status())

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    return timer


def _spin(executor: Any, stop: threading.Event) -> None:
    """Run callbacks until ``stop`` is set (and the executor woken), or the context ends."""
    try:
        while not stop.is_set() and executor.context.ok():
            executor.spin_once()
    except ExternalShutdownException:
        pass
