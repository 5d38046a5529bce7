"""Every node refuses a start-up parameter of the wrong type with one clear line, never a crash."""

import pytest

# One float parameter of each node, given as an integer (``5`` rather than ``5.0``): rclpy
# refuses the type before any model is loaded.
WRONG_TYPE = {
    'battery_node': ('rate_hz', 5),
    'controller_node': ('max_command_age_s', 2),
    'expert_server': ('batch_window_ms', 5),
    'command_player': ('start_delay_s', 1),
}


@pytest.mark.parametrize('executable', sorted(WRONG_TYPE))
def test_a_wrong_type_at_start_up_exits_1_naming_the_parameter(ros_domain, executable):
    """
    The node logs which parameter and what it expected, and exits 1.

    The expert server and the controller once crashed here after that line: rclpy's shutdown
    destroyed the half-built node, whose destroy_node read attributes not yet set.
    """
    name, value = WRONG_TYPE[executable]
    process = ros_domain.start_node(executable, parameters={name: value})
    assert process.wait_exit(timeout_s=60.0) == 1, process.describe()
    assert name in process.stderr and 'wrong type' in process.stderr, process.describe()
    assert 'Traceback' not in process.stderr, process.describe()
