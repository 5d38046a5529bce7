"""
The demo graph, described once: which nodes run, with which parameters, and the launch knobs.

Two things start this graph and both read it from here, so they cannot drift apart:

* ``launch/demo.launch.py`` (for a ROS 2 install with ``launch_ros``): one ``Node`` action
  per ``NodeDescription`` (a ``LifecycleNode`` for the managed ones), each given
  ``config/<executable>.yaml`` and then the description's parameters, with
  ``LAUNCH_ARGUMENTS`` overriding the parameters they name;
* ``adaptive-nlp demo`` (pip-only, no ``launch_ros``): the same nodes in one process on a
  ``SingleThreadedExecutor``, given a parameters file built by ``parameters_file_content``
  from the same YAML files and the same description.

No ROS imports here (the launch file and the command line both import it cheaply).
"""

from dataclasses import dataclass, field
import pathlib
from typing import Any, Dict, Mapping, Optional, Tuple

import yaml

PACKAGE = 'adaptive_nlp_ros'
BATTERY_NODE = 'battery_node'
CONTROLLER_NODE = 'controller_node'
COMMAND_PLAYER = 'command_player'

# The demo battery: 100 Wh drained by 20 W of idle draw, 280x accelerated, empties in
# 100 * 3600 / (20 * 280) = 64 s of wall time (inference energy drains it too, 280x as well).
DEMO_BATTERY_PARAMETERS: Dict[str, Any] = {
    'capacity_wh': 100.0,
    'idle_draw_w': 20.0,
    'time_acceleration': 280.0,
    'initial_fraction': 1.0,
    'rate_hz': 5.0,
}
# The demo controller: energy_greedy switches whole pool variants as the budget shrinks, the
# most visible adaptation; the language stack gets 0.01 % of the battery (the default is
# 0.05 %), so the per-command budget crosses the variants' costs within the demo minute
# (minilm_l4_ort_int8 above about half charge, the TF-IDF model below).
DEMO_CONTROLLER_PARAMETERS: Dict[str, Any] = {
    'strategy': 'energy_greedy',
    'stale_strategy': 'early_exit',
    'battery_timeout_s': 3.0,
    'compute_share': 0.0001,
}
DEMO_PLAYER_PARAMETERS: Dict[str, Any] = {
    'scenario': '',
    'exit_when_done': True,
    'start_delay_s': 1.0,
}


@dataclass(frozen=True)
class NodeDescription:
    """One node of the graph: its executable (= node name), parameter overrides, life cycle."""

    executable: str
    parameters: Mapping[str, Any] = field(default_factory=dict)
    managed: bool = False               # a lifecycle node (with the autostart parameter)

    @property
    def name(self) -> str:
        """Return the node name: the executable's, as the README's ROS interface fixes."""
        return self.executable

    @property
    def config_file(self) -> str:
        """Return the node's defaults file, relative to the package share folder."""
        return f'config/{self.executable}.yaml'


@dataclass(frozen=True)
class LaunchArgument:
    """A launch argument and the node parameter it sets (none: the launch file reads it)."""

    name: str
    description: str
    executable: str = ''
    parameter: str = ''
    default: str = ''                   # of an argument that sets no node parameter


LAUNCH_ARGUMENTS: Tuple[LaunchArgument, ...] = (
    LaunchArgument('namespace', 'Namespace of every node (topics are relative; /diagnostics '
                   'stays absolute).'),
    LaunchArgument('autostart', 'true: the battery and controller nodes configure and activate '
                   'themselves; false: they start unconfigured and this launch file moves them '
                   'to active through lifecycle events (configure, then activate).',
                   default='true'),
    LaunchArgument('strategy', 'Controller strategy at start.', CONTROLLER_NODE, 'strategy'),
    LaunchArgument('stale_strategy', 'Controller strategy while the battery is stale.',
                   CONTROLLER_NODE, 'stale_strategy'),
    LaunchArgument('scenario', 'Scenario YAML for the player; empty: the shipped one.',
                   COMMAND_PLAYER, 'scenario'),
    LaunchArgument('capacity_wh', 'Simulated battery capacity (Wh).', BATTERY_NODE,
                   'capacity_wh'),
    LaunchArgument('idle_draw_w', 'Simulated idle draw (W).', BATTERY_NODE, 'idle_draw_w'),
    LaunchArgument('time_acceleration', 'Simulated seconds per wall second.', BATTERY_NODE,
                   'time_acceleration'),
    LaunchArgument('initial_fraction', 'Battery level at start (0..1).', BATTERY_NODE,
                   'initial_fraction'),
)


def demo_graph(strategy: Optional[str] = None, scenario: Optional[str] = None,
               battery: Optional[Mapping[str, Any]] = None,
               controller: Optional[Mapping[str, Any]] = None,
               player: Optional[Mapping[str, Any]] = None) -> Tuple[NodeDescription, ...]:
    """Return the demo's nodes: battery, controller, player (optional overrides applied)."""
    controller_parameters = {**DEMO_CONTROLLER_PARAMETERS, **dict(controller or {})}
    if strategy is not None:
        controller_parameters['strategy'] = strategy
    player_parameters = {**DEMO_PLAYER_PARAMETERS, **dict(player or {})}
    if scenario is not None:
        player_parameters['scenario'] = scenario
    return (
        NodeDescription(BATTERY_NODE, {**DEMO_BATTERY_PARAMETERS, **dict(battery or {})},
                        managed=True),
        NodeDescription(CONTROLLER_NODE, controller_parameters, managed=True),
        NodeDescription(COMMAND_PLAYER, player_parameters),
    )


def launch_argument_default(argument: LaunchArgument,
                            graph: Optional[Tuple[NodeDescription, ...]] = None) -> str:
    """Return a launch argument's default as text: the described value of its parameter."""
    if not argument.executable:
        return argument.default
    for node in graph or demo_graph():
        if node.executable == argument.executable:
            value = node.parameters.get(argument.parameter, '')
            return yaml_scalar(value)
    raise KeyError(f'launch argument {argument.name}: no node {argument.executable}')


def yaml_scalar(value: Any) -> str:
    """Write a parameter value as the YAML text a launch argument or ``-p`` would carry."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    return str(value)


def package_folder() -> pathlib.Path:
    """Return the package's share folder when installed, else the source tree's package root."""
    try:
        from ament_index_python.packages import get_package_share_directory
        return pathlib.Path(get_package_share_directory(PACKAGE))
    except (ImportError, LookupError, ValueError):
        return pathlib.Path(__file__).resolve().parents[1]


def config_defaults(executable: str) -> Dict[str, Any]:
    """Return ``ros__parameters`` of ``config/<executable>.yaml`` ({} when there is none)."""
    path = package_folder() / NodeDescription(executable).config_file
    if not path.is_file():
        return {}
    document = yaml.safe_load(path.read_text(encoding='utf-8')) or {}
    return _flatten(document.get(executable, {}).get('ros__parameters', {}))


def _flatten(values: Mapping[str, Any], prefix: str = '') -> Dict[str, Any]:
    """Flatten nested parameter groups to dotted names, as ROS 2 does."""
    flat: Dict[str, Any] = {}
    for key, value in values.items():
        name = f'{prefix}{key}'
        if isinstance(value, dict):
            flat.update(_flatten(value, name + '.'))
        else:
            flat[name] = value
    return flat


def node_parameters(node: NodeDescription) -> Dict[str, Any]:
    """Return the parameters a node starts with: its YAML defaults, then the description's."""
    return {**config_defaults(node.executable), **dict(node.parameters)}


def parameters_file_content(graph: Tuple[NodeDescription, ...]) -> str:
    """Return a ROS 2 parameters file (YAML) giving every node of ``graph`` its parameters."""
    document = {node.name: {'ros__parameters': node_parameters(node)} for node in graph}
    return yaml.safe_dump(document, sort_keys=False)


def parameter_specs(executable: str):
    """Return the ``ParameterSpec`` table a node executable declares from."""
    if executable == BATTERY_NODE:
        from adaptive_nlp_ros.core.battery.battery_model import BATTERY_PARAMETERS
        return BATTERY_PARAMETERS
    if executable == CONTROLLER_NODE:
        from adaptive_nlp_ros.core.controller.controller_parameters import CONTROLLER_PARAMETERS
        return CONTROLLER_PARAMETERS
    if executable == COMMAND_PLAYER:
        from adaptive_nlp_ros.core.evaluation.scenario import PLAYER_PARAMETERS
        return PLAYER_PARAMETERS
    raise KeyError(f'unknown executable {executable!r}')
