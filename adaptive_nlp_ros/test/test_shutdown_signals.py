"""nodes/shutdown.py's signal handling: a repeated Ctrl-C is one request, not an insistence."""

import signal

from adaptive_nlp_ros.nodes.shutdown import REPEAT_WINDOW_S, ShutdownSignals


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
