"""nodes/parameters.py on a node in the test process: descriptors, validation, hook."""

from typing import Any, Dict, List

from adaptive_nlp_ros.core.parameter_spec import ParameterSpec
from adaptive_nlp_ros.nodes.parameters import (
    declare_parameters, install_parameter_callbacks, parameter_values,
    ParameterDeclarationError)
import pytest
from rcl_interfaces.msg import ParameterType
from rclpy.node import Node
from rclpy.parameter import Parameter

SPECS = (
    ParameterSpec('rate_hz', 2.0, 'A rate (Hz).', min_value=0.1, max_value=100.0),
    ParameterSpec('queue_size', 10, 'A count.', min_value=1, max_value=1000),
    ParameterSpec('above_zero', 1.0, 'Open-ended range.', min_value=0.0),
    ParameterSpec('mode', 'fast', 'A choice.', choices=('fast', 'slow')),
    ParameterSpec('precisions', ['fp32', 'int8'], 'A list.', choices=('fp32', 'bf16', 'int8')),
    ParameterSpec('extra_labels', [], 'An empty list.'),
    ParameterSpec('enabled', True, 'A flag.'),
    ParameterSpec('model_path', '', 'Fixed at start-up.', read_only=True),
)


def make_node(ros_domain, overrides: Dict[str, Any] = None) -> Node:
    """Return a node in the test's context with ``overrides`` as start-up parameters."""
    return Node('parameter_test_node', context=ros_domain.context,
                parameter_overrides=[Parameter(name, value=value)
                                     for name, value in (overrides or {}).items()])


def test_descriptors_and_values(ros_domain):
    node = make_node(ros_domain)
    try:
        values = declare_parameters(node, SPECS)
        assert values == {spec.name: spec.default for spec in SPECS}
        assert values == parameter_values(node, SPECS)

        rate = node.describe_parameter('rate_hz')
        assert rate.type == ParameterType.PARAMETER_DOUBLE
        assert rate.description == 'A rate (Hz).'
        assert (rate.floating_point_range[0].from_value,
                rate.floating_point_range[0].to_value) == (0.1, 100.0)
        queue = node.describe_parameter('queue_size')
        assert queue.type == ParameterType.PARAMETER_INTEGER
        assert (queue.integer_range[0].from_value, queue.integer_range[0].to_value) == (1, 1000)
        assert node.describe_parameter('above_zero').floating_point_range[0].to_value == \
            float('inf')
        assert 'fast, slow' in node.describe_parameter('mode').additional_constraints
        assert node.describe_parameter('extra_labels').type == \
            ParameterType.PARAMETER_STRING_ARRAY
        assert node.describe_parameter('model_path').read_only
    finally:
        node.destroy_node()


def test_start_up_overrides_are_checked(ros_domain):
    node = make_node(ros_domain, {'rate_hz': 5.0, 'extra_labels': ['a'], 'model_path': '/m'})
    try:
        values = declare_parameters(node, SPECS)
        assert (values['rate_hz'], values['extra_labels'], values['model_path']) == \
            (5.0, ('a',), '/m')
    finally:
        node.destroy_node()

    for overrides, words in (({'rate_hz': 500.0}, 'out of range'),
                             ({'rate_hz': 5}, 'wrong type'),
                             ({'mode': 'medium'}, 'not one of the choices')):
        node = make_node(ros_domain, overrides)
        try:
            with pytest.raises(ParameterDeclarationError, match=words):
                declare_parameters(node, SPECS)
        finally:
            node.destroy_node()


def test_changes_are_validated_then_applied(ros_domain):
    node = make_node(ros_domain)
    changes: List[Dict[str, Any]] = []
    try:
        declare_parameters(node, SPECS)
        install_parameter_callbacks(node, SPECS, changes.append)

        refused = {
            'rate_hz': Parameter('rate_hz', value=0.0),                  # below the range
            'mode': Parameter('mode', value='medium'),                   # not a choice
            'precisions': Parameter('precisions', value=['fp32', 'fp8']),
            'model_path': Parameter('model_path', value='/other'),       # read-only
        }
        for name, parameter in refused.items():
            result = node.set_parameters([parameter])[0]
            assert not result.successful and name in result.reason, result.reason
        # A wrong type is refused by rclpy before the on-set callback, with rclpy's own terse
        # reason ("Wrong parameter type, expected '1' got '2'"); the node's log says more.
        assert not node.set_parameters([Parameter('enabled', value=1)])[0].successful
        assert changes == []
        assert parameter_values(node, SPECS)['mode'] == 'fast'

        result = node.set_parameters_atomically([Parameter('mode', value='slow'),
                                                 Parameter('queue_size', value=0)])
        assert not result.successful                  # one bad value refuses the whole set
        assert parameter_values(node, SPECS)['mode'] == 'fast'

        assert node.set_parameters([Parameter('precisions', value=['bf16'])])[0].successful
        assert node.set_parameters([Parameter('use_sim_time', value=False)])[0].successful
        assert changes == [{'precisions': ('bf16',)}]   # only spec'd parameters reach the hook

        with pytest.raises(RuntimeError):
            install_parameter_callbacks(node, SPECS)
    finally:
        node.destroy_node()


def test_hook_failure_is_logged_not_raised(ros_domain):
    node = make_node(ros_domain)
    try:
        declare_parameters(node, SPECS)

        def broken_hook(changed: Dict[str, Any]) -> None:
            raise ValueError('side effect failed')

        install_parameter_callbacks(node, SPECS, broken_hook)
        assert node.set_parameters([Parameter('rate_hz', value=3.0)])[0].successful
        assert parameter_values(node, SPECS)['rate_hz'] == 3.0
    finally:
        node.destroy_node()


def test_node_check_refuses_beyond_the_specs(ros_domain):
    """The node's own check sees spec'd changes that passed the specs and can refuse them."""
    node = make_node(ros_domain)
    changes: List[Dict[str, Any]] = []
    checked: List[Dict[str, Any]] = []

    def check(proposed: Dict[str, Any]):
        checked.append(proposed)
        return 'slow is not allowed today' if proposed.get('mode') == 'slow' else None
    try:
        declare_parameters(node, SPECS)
        install_parameter_callbacks(node, SPECS, changes.append, check=check)
        result = node.set_parameters([Parameter('mode', value='slow')])[0]
        assert not result.successful and result.reason == 'slow is not allowed today'
        assert parameter_values(node, SPECS)['mode'] == 'fast'
        assert node.set_parameters([Parameter('rate_hz', value=0.0)])[0].successful is False
        assert all('rate_hz' not in proposed for proposed in checked)   # specs refused first
        assert node.set_parameters([Parameter('rate_hz', value=4.0)])[0].successful
        assert changes == [{'rate_hz': 4.0}]
    finally:
        node.destroy_node()
