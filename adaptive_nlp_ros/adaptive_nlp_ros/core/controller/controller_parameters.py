"""
The controller node's parameters: one ``ParameterSpec`` each, and the settings they make.

``CONTROLLER_PARAMETERS`` is what ``controller_node`` declares (defaults also in
``config/controller_node.yaml``; a test keeps the two equal). Parameters named
``<strategy>.<setting>`` are that strategy's settings (``early_exit.threshold_at_full`` ...);
their defaults equal the strategy classes' own defaults (a test checks that too). Budget
parameters carry ``EnergyBudgetModel``'s field names.

``edge_offload.*`` configure the where-to-compute strategy (``core.offload``).

Which parameters change at run time: all but the read-only ones (``artifacts_dir``,
``threads``, ``image_qos``, ``autostart``, ``edge_offload.service``). A change is validated
first (range and type by the spec; strategy names and settings by building the strategy, see
``CommandController.check``) and takes effect on the next command.
"""

from dataclasses import dataclass, field, fields
from typing import Any, Dict, Mapping, Tuple

from ..battery.energy_budget import EnergyBudgetModel
from ..node_lifecycle import AUTOSTART
from ..offload.edge_offload import OffloadSettings
from ..offload.radio_energy import DEFAULT_MJ_PER_KB, DEFAULT_MJ_PER_REQUEST, RadioModel
from ..parameter_spec import ParameterSpec, spec_defaults

IMAGE_QOS_RELIABLE = 'reliable'
IMAGE_QOS_BEST_EFFORT = 'best_effort'

_BUDGET = EnergyBudgetModel()

GENERAL_PARAMETERS = (
    ParameterSpec('artifacts_dir', '',
                  'Trained artifacts folder; empty: $ADAPTIVE_NLP_ARTIFACTS, else the per-user '
                  'cache (built by `adaptive-nlp train` or `make artifacts`).', read_only=True),
    ParameterSpec('threads', 1,
                  'Torch / ONNX Runtime threads for inference. 1 suits batch-1 commands on a '
                  'shared CPU (2 threads made inference 20-50x slower beside a busy process).',
                  min_value=1, max_value=64, read_only=True),
    ParameterSpec('strategy', 'early_exit',
                  'Run-time strategy (a registered name or static:<variant>; the evaluation-'
                  'only oracle is refused). Switches on the next command.'),
    ParameterSpec('stale_strategy', 'energy_greedy',
                  'Strategy used while the battery is stale (no good BatteryState for '
                  'battery_timeout_s); the battery then counts as unknown '
                  '(unknown_battery_fraction).'),
    ParameterSpec('battery_timeout_s', 5.0,
                  'Seconds without a good BatteryState (by receive time) after which the '
                  'battery is stale.', min_value=0.05, max_value=86400.0),
    ParameterSpec('max_stamp_skew_s', 5.0,
                  'A BatteryState stamp further than this from the controller clock is logged '
                  'and counted (the reading is still used).', min_value=0.0, max_value=1.0e9),
    ParameterSpec('max_command_age_s', 2.0,
                  'A command older than this when received (DDS source timestamp against '
                  "receive timestamp: the hosts' clocks must agree within it) is rejected "
                  '`stale`, unless it is a stop; 0 disables the check.',
                  min_value=0.0, max_value=1.0e6),
    ParameterSpec('queue_size', 100,
                  'Bound of the input queue; on overflow the oldest ordinary command is '
                  'dropped (with a DROPPED result). Ordinary commands never push out a '
                  'possible stop.', min_value=1, max_value=100000),
    ParameterSpec('stop_queue_size', 200,
                  'Bound of the priority lane for possible stop commands (served first, at full '
                  'depth). When full, the one the cheap check scores least likely to be a stop '
                  'is demoted to the ordinary queue, so false alarms give way to real stops.',
                  min_value=1, max_value=100000),
    ParameterSpec('max_batch', 8,
                  'Most queued text commands answered as one batch when several wait (same '
                  'per-command decisions; possible stops batched among themselves, first). '
                  '1: one command at a time. Images and edge_offload go one at a time.',
                  min_value=1, max_value=256),
    ParameterSpec('max_text_chars', 1000,
                  'Longer text commands are rejected (not truncated).',
                  min_value=1, max_value=1000000),
    ParameterSpec('max_image_pixels', 262144,
                  'Image commands with more pixels (height x width) are rejected.',
                  min_value=1, max_value=100000000),
    ParameterSpec('image_qos', IMAGE_QOS_RELIABLE,
                  'Reliability of the image_command subscription.',
                  choices=(IMAGE_QOS_RELIABLE, IMAGE_QOS_BEST_EFFORT), read_only=True),
    AUTOSTART,
)

BUDGET_PARAMETERS = (
    ParameterSpec('capacity_wh', _BUDGET.capacity_wh,
                  'Budget model: battery capacity (Wh), used when BatteryState gives no '
                  'capacity and voltage.', min_value=0.001, max_value=1.0e6),
    ParameterSpec('reserve_fraction', _BUDGET.reserve_fraction,
                  'Budget model: battery fraction kept in reserve, never spent on inference.',
                  min_value=0.0, max_value=0.99),
    ParameterSpec('compute_share', _BUDGET.compute_share,
                  'Budget model: share of the usable battery energy the language stack may '
                  'spend.', min_value=0.0, max_value=1.0),
    ParameterSpec('mission_horizon_s', _BUDGET.mission_horizon_s,
                  'Budget model: seconds the usable energy must last.',
                  min_value=1.0, max_value=1.0e7),
    ParameterSpec('command_rate_hz', _BUDGET.command_rate_hz,
                  'Budget model: commands expected per second over the horizon.',
                  min_value=1.0e-6, max_value=1.0e4),
    ParameterSpec('unknown_battery_fraction', _BUDGET.unknown_battery_fraction,
                  'Budget model: battery fraction assumed when none is known (no reading yet, '
                  'or stale).', min_value=0.0, max_value=1.0),
)

_THRESHOLD = {'min_value': 0.0, 'max_value': 1.0}

STRATEGY_PARAMETERS = (
    ParameterSpec('early_exit.threshold_at_full', 0.95,
                  'early_exit: exit confidence threshold at full battery.', **_THRESHOLD),
    ParameterSpec('early_exit.threshold_at_empty', 0.6,
                  'early_exit: exit confidence threshold at the reserve (linear in between).',
                  **_THRESHOLD),
    ParameterSpec('early_exit.min_exit_layer', 1,
                  'early_exit: layers that always run before the first exit.',
                  min_value=1, max_value=64),
    ParameterSpec('early_exit.max_exit_layer', 0,
                  "early_exit: last layer allowed (0: the backbone's last).",
                  min_value=0, max_value=64),
    ParameterSpec('early_exit.min_fidelity', 0.98,
                  'early_exit: the cheapest execution mode whose dev agreement with fp32 is at '
                  'least this is used.', **_THRESHOLD),
    ParameterSpec('segment_precision.threshold_at_full', 0.97,
                  'segment_precision: exit threshold at full battery.', **_THRESHOLD),
    ParameterSpec('segment_precision.threshold_at_empty', 0.7,
                  'segment_precision: exit threshold at the reserve.', **_THRESHOLD),
    ParameterSpec('segment_precision.early_exit', True,
                  'segment_precision: leave after a segment whose exit is confident enough.'),
    ParameterSpec('moe_routing.threshold_at_full', 0.97,
                  'moe_routing: exit threshold at full battery.', **_THRESHOLD),
    ParameterSpec('moe_routing.threshold_at_empty', 0.7,
                  'moe_routing: exit threshold at the reserve.', **_THRESHOLD),
    ParameterSpec('progressive.threshold_at_full', 0.95,
                  'progressive: below this confidence (full battery) the cheap pass is refined.',
                  **_THRESHOLD),
    ParameterSpec('progressive.threshold_at_empty', 0.7,
                  'progressive: refinement threshold at the reserve.', **_THRESHOLD),
    ParameterSpec('progressive.max_refinements', 2,
                  'progressive: most re-runs at higher fidelity per command.',
                  min_value=0, max_value=16),
    ParameterSpec('moe_gate.target_at_full', 0.97,
                  'moe_gate: gate probability mass to cover at full battery.', **_THRESHOLD),
    ParameterSpec('moe_gate.target_at_empty', 0.5,
                  'moe_gate: gate probability mass to cover at the reserve.', **_THRESHOLD),
)

_OFFLOAD = OffloadSettings()

# edge_offload: where to compute (core/offload/edge_offload.py); radio defaults and their
# sources in core/offload/radio_energy.py.
EDGE_PARAMETERS = (
    ParameterSpec('edge_offload.service', 'understand',
                  "edge_offload: the expert server's Understand service (relative: a server in "
                  "the robot's namespace; a fleet gives e.g. /edge/understand).",
                  read_only=True),
    ParameterSpec('edge_offload.deadline_ms', _OFFLOAD.deadline_ms,
                  'edge_offload: longest wait for the server; then the command is answered on '
                  'the robot.', min_value=1, max_value=60000),
    ParameterSpec('edge_offload.local_strategy', _OFFLOAD.local_strategy,
                  'edge_offload: the strategy that answers on the robot (possible stops, '
                  'timeouts, a slow or costly link).'),
    ParameterSpec('edge_offload.radio_mj_per_kb', DEFAULT_MJ_PER_KB,
                  'edge_offload: radio energy per kB on the air (Wi-Fi, Balasubramanian et al. '
                  'IMC 2009).', min_value=0.0, max_value=1.0e6),
    ParameterSpec('edge_offload.radio_mj_per_request', DEFAULT_MJ_PER_REQUEST,
                  'edge_offload: radio energy per exchange (about 10 ms of an awake NIC at 1 W, '
                  'Halperin et al. HotPower 2010).', min_value=0.0, max_value=1.0e6),
    ParameterSpec('edge_offload.probe_interval_s', _OFFLOAD.probe_interval_s,
                  'edge_offload: while answering on the robot for a link reason, send a probe '
                  'at most this often.', min_value=0.01, max_value=3600.0),
)

CONTROLLER_PARAMETERS = (GENERAL_PARAMETERS + BUDGET_PARAMETERS + STRATEGY_PARAMETERS
                         + EDGE_PARAMETERS)


def split_strategy_parameter(name: str) -> Tuple[str, str]:
    """Return ``(strategy, setting)`` of a ``<strategy>.<setting>`` name, else ``('', '')``."""
    strategy, dot, setting = name.partition('.')
    return (strategy, setting) if dot else ('', '')


@dataclass(frozen=True)
class ControllerSettings:
    """The controller's configuration, as the parameters give it (immutable; replaced whole)."""

    strategy: str = 'early_exit'
    stale_strategy: str = 'energy_greedy'
    battery_timeout_s: float = 5.0
    max_stamp_skew_s: float = 5.0
    max_command_age_s: float = 2.0
    queue_size: int = 100
    stop_queue_size: int = 200
    max_batch: int = 8
    max_text_chars: int = 1000
    max_image_pixels: int = 262144
    budget: EnergyBudgetModel = field(default_factory=EnergyBudgetModel)
    strategy_settings: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    offload: OffloadSettings = field(default_factory=OffloadSettings)

    @classmethod
    def from_values(cls, values: Mapping[str, Any]) -> 'ControllerSettings':
        """Build from ``{parameter name: value}``; names not given take their defaults."""
        merged = {**spec_defaults(CONTROLLER_PARAMETERS), **dict(values)}
        budget = EnergyBudgetModel(**{item.name: merged[item.name]
                                      for item in fields(EnergyBudgetModel)})
        per_strategy: Dict[str, Dict[str, Any]] = {}
        for spec in STRATEGY_PARAMETERS:
            strategy, setting = split_strategy_parameter(spec.name)
            per_strategy.setdefault(strategy, {})[setting] = merged[spec.name]
        return cls(strategy=merged['strategy'], stale_strategy=merged['stale_strategy'],
                   battery_timeout_s=merged['battery_timeout_s'],
                   max_stamp_skew_s=merged['max_stamp_skew_s'],
                   max_command_age_s=merged['max_command_age_s'],
                   queue_size=merged['queue_size'], stop_queue_size=merged['stop_queue_size'],
                   max_batch=merged['max_batch'],
                   max_text_chars=merged['max_text_chars'],
                   max_image_pixels=merged['max_image_pixels'], budget=budget,
                   strategy_settings=per_strategy, offload=OffloadSettings(
                       deadline_ms=int(merged['edge_offload.deadline_ms']),
                       local_strategy=merged['edge_offload.local_strategy'],
                       radio=RadioModel(merged['edge_offload.radio_mj_per_kb'],
                                        merged['edge_offload.radio_mj_per_request']),
                       probe_interval_s=merged['edge_offload.probe_interval_s']))

    def settings_for(self, strategy_name: str) -> Dict[str, Any]:
        """Return the exposed settings of one strategy (empty for the others)."""
        return dict(self.strategy_settings.get(strategy_name, {}))
