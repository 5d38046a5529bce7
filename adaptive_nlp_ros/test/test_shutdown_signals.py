"""nodes/shutdown.py's signal handling: a repeated Ctrl-C is one request, not an insistence."""

import contextlib
import signal
import subprocess
import time

from adaptive_nlp_ros.nodes.shutdown import REPEAT_WINDOW_S, ShutdownSignals
from sensor_msgs.msg import BatteryState


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now_s = 100.0

    def __call__(self) -> float:
        return self.now_s


def test_a_signal_repeated_within_the_window_is_the_same_request():
    """Ctrl-C reaches a launched node twice (terminal, then ros2 launch): no hard exit."""
    clock = Clock()
    signals = ShutdownSignals(clock)
    signals._on_signal(signal.SIGINT, None)
    clock.now_s += REPEAT_WINDOW_S / 2
    signals._on_signal(signal.SIGINT, None)      # would end the process if taken as insisting
    assert signals.requested.is_set() and signals.received == 'SIGINT'


def test_a_node_given_ctrl_c_again_while_it_stops_still_exits_0(ros_domain):
    """
    The terminal's SIGINT, then launch's forwarded one while the node is ending: status 0.

    SIGINT every 50 ms until the process is gone, so that one lands in its teardown (with
    rclpy's own handlers one did, under ros2 launch: "process has died ... exit code -2").
    """
    process = ros_domain.start_node('battery_node')
    log = ros_domain.collect(BatteryState, 'battery_state', 10)
    ros_domain.wait_for_publishers(log.subscription)
    log.wait_for(what='a BatteryState')
    deadline = time.monotonic() + REPEAT_WINDOW_S
    while process.running and time.monotonic() < deadline:
        process.process.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.process.wait(timeout=0.05)
    assert process.wait_exit(timeout_s=2.0) == 0, process.describe()
    assert 'Traceback' not in process.stderr, process.describe()
