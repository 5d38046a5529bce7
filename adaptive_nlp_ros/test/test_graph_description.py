"""
The demo graph's one description: its parameters, the YAML defaults, and the launch file.

The launch file is checked where ``launch_ros`` is importable (a ROS 2 install, or the tools
bin/bootstrap installs); elsewhere that test skips with the reason (on CI it fails).
"""

import importlib.util
import pathlib

from adaptive_nlp_ros import graph_description
from adaptive_nlp_ros.core.battery.energy_budget import EnergyBudgetModel
from adaptive_nlp_ros.core.controller.controller_parameters import (BUDGET_PARAMETERS,
                                                                    CONTROLLER_PARAMETERS,
                                                                    ControllerSettings,
                                                                    split_strategy_parameter,
                                                                    STRATEGY_PARAMETERS)
from adaptive_nlp_ros.core.evaluation.scenario import PLAYER_PARAMETERS
from adaptive_nlp_ros.core.inference.strategies import REGISTRY
from adaptive_nlp_ros.core.offload.server_parameters import EXPERT_SERVER_PARAMETERS
from adaptive_nlp_ros.core.parameter_spec import find_spec, spec_defaults
from adaptive_nlp_ros.graph_description import (config_defaults, demo_graph,
                                                launch_argument_default, LAUNCH_ARGUMENTS,
                                                parameter_specs, parameters_file_content)
from conftest import require_ros2_tools
import pytest

PACKAGE_ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_described_parameters_validate_against_the_nodes_specs():
    for node in demo_graph():
        specs = parameter_specs(node.executable)
        for name, value in node.parameters.items():
            spec = find_spec(specs, name)
            assert spec is not None, f'{node.executable} declares no parameter {name}'
            assert spec.validate(value) is None, spec.validate(value)


def test_every_launch_argument_names_a_described_parameter():
    graph = demo_graph()
    executables = {node.executable for node in graph}
    for argument in LAUNCH_ARGUMENTS:
        if argument.executable:
            assert argument.executable in executables
            assert find_spec(parameter_specs(argument.executable), argument.parameter)
            launch_argument_default(argument, graph)       # has a described value


@pytest.mark.parametrize('executable, specs', [
    ('controller_node', CONTROLLER_PARAMETERS), ('command_player', PLAYER_PARAMETERS),
    ('expert_server', EXPERT_SERVER_PARAMETERS)])
def test_config_files_hold_exactly_the_spec_defaults(executable, specs):
    assert config_defaults(executable) == spec_defaults(specs)
    source = PACKAGE_ROOT / 'config' / f'{executable}.yaml'
    assert source.is_file()


def test_strategy_and_budget_defaults_equal_the_code_they_configure():
    for spec in STRATEGY_PARAMETERS:
        strategy, setting = split_strategy_parameter(spec.name)
        assert REGISTRY[strategy].defaults[setting] == spec.default, spec.name
    budget = EnergyBudgetModel()
    for spec in BUDGET_PARAMETERS:
        assert getattr(budget, spec.name) == spec.default
    settings = ControllerSettings.from_values({})
    assert settings.budget == budget and settings.settings_for('early_exit')['min_exit_layer'] == 1


def test_parameters_file_reaches_the_nodes(tmp_path):
    """The demo's parameters file gives each node its described values (dotted names too)."""
    from adaptive_nlp_ros.nodes.parameters import declare_parameters
    import rclpy
    from rclpy.context import Context
    from rclpy.node import Node

    graph = demo_graph(strategy='segment_precision',
                       controller={'early_exit.threshold_at_full': 0.9})
    path = tmp_path / 'parameters.yaml'
    path.write_text(parameters_file_content(graph))
    context = Context()
    rclpy.init(context=context, args=['--ros-args', '--params-file', str(path)])
    try:
        for executable in ('controller_node', 'command_player'):
            node = Node(executable, context=context)
            try:
                values = declare_parameters(node, parameter_specs(executable))
            finally:
                node.destroy_node()
            wanted = graph_description.node_parameters(
                next(item for item in graph if item.executable == executable))
            assert {name: values[name] for name in wanted} == wanted
    finally:
        context.try_shutdown()


def test_launch_file_builds_the_described_graph():
    require_ros2_tools()
    from launch.actions import DeclareLaunchArgument
    from launch_ros.actions import Node

    spec = importlib.util.spec_from_file_location(
        'demo_launch', PACKAGE_ROOT / 'launch' / 'demo.launch.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    description = module.generate_launch_description()
    arguments = [entity.name for entity in description.entities
                 if isinstance(entity, DeclareLaunchArgument)]
    assert arguments == [argument.name for argument in LAUNCH_ARGUMENTS]
    nodes = [entity for entity in description.entities if isinstance(entity, Node)]
    assert [node.node_executable for node in nodes] == \
        [described.executable for described in demo_graph()]
