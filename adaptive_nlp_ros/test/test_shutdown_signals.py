"""nodes/shutdown.py's signal handling: a repeated Ctrl-C is one request, not an insistence."""

import contextlib
import signal
import subprocess
import time

from adaptive_nlp_ros.nodes.shutdown import REPEAT_WINDOW_S, ShutdownSignals
import pytest
from sensor_msgs.msg import BatteryState
from std_msgs.msg import String


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


def test_a_signal_after_the_window_ends_the_process_at_once_with_status_1(monkeypatch):
    """The user insists (or a launcher escalates): a later second signal ends it, status 1."""
    from adaptive_nlp_ros.nodes import shutdown

    ended = []
    monkeypatch.setattr(shutdown, 'end_process', ended.append)
    clock = Clock()
    signals = ShutdownSignals(clock)
    signals._on_signal(signal.SIGINT, None)
    assert ended == []
    clock.now_s += REPEAT_WINDOW_S + 0.1
    signals._on_signal(signal.SIGTERM, None)
    assert ended == [shutdown.INSISTED_STATUS] == [1]


@pytest.mark.parametrize('status', [0, 1])
def test_a_shutdown_that_hangs_is_ended_at_the_deadline_with_the_stacks(status):
    """A process stuck after its signal ends anyway, printing where every thread was."""
    import sys

    script = ('import threading, time\n'
              'from adaptive_nlp_ros.nodes.shutdown import arm_deadline\n'
              f'arm_deadline(0.2, lambda: {status})\n'
              'threading.Event().wait()            # a shutdown step that never returns\n')
    result = subprocess.run([sys.executable, '-c', script], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == status
    assert 'shutdown did not finish within 0.2 s' in result.stderr
    assert 'Thread' in result.stderr and 'wait' in result.stderr, result.stderr


@pytest.mark.parametrize('executable, message_type, topic', [
    ('battery_node', BatteryState, 'battery_state'), ('command_player', String, 'text_command')])
def test_a_node_given_ctrl_c_again_while_it_stops_still_exits_0(ros_domain, executable,
                                                                message_type, topic):
    """
    The terminal's SIGINT, then launch's forwarded one while the node is ending: status 0.

    SIGINT every 50 ms until the process is gone, so that one lands in its teardown (with
    rclpy's own handlers one did, under ros2 launch: "process has died ... exit code -2").
    The controller has the same main loop (nodes/shutdown.py) and is tested in
    test_controller_reliability.py; the player is playing its scenario here.
    """
    process = ros_domain.start_node(executable)
    ros_domain.wait_for_publishers(ros_domain.collect(message_type, topic, 10).subscription)
    deadline = time.monotonic() + REPEAT_WINDOW_S
    while process.running and time.monotonic() < deadline:
        process.process.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.process.wait(timeout=0.05)
    assert process.wait_exit(timeout_s=2.0) == 0, process.describe()
    assert 'Traceback' not in process.stderr, process.describe()
