"""
What strategies know about the models before any input arrives.

The pool and the modes, with their dev accuracy and their profiled energy as
``fixed + per_token x tokens``.

Energies are precomputed as two numbers per option, so a decision costs microseconds.
"""

from dataclasses import dataclass, field, replace
import math
from typing import Dict, List, NamedTuple, Sequence, Tuple

from .cost_profile import CostProfile
from .variant_pool import mode_backend, mode_precision, REFERENCE_MODE, Variant
from ..battery.energy_budget import EnergyBudgetModel


@dataclass(frozen=True)
class LinearCost:
    """Energy of a component for an input of ``tokens`` tokens: ``fixed + per_token x tokens``."""

    fixed_mj: float
    per_token_mj: float

    def mj(self, tokens: int) -> float:
        """Return the estimated energy in mJ for ``tokens`` tokens."""
        return self.fixed_mj + self.per_token_mj * tokens

    def __add__(self, other: 'LinearCost') -> 'LinearCost':
        return LinearCost(self.fixed_mj + other.fixed_mj, self.per_token_mj + other.per_token_mj)


NO_COST = LinearCost(0.0, 0.0)


def _linear(profile: CostProfile, component: str) -> LinearCost:
    cost = profile.cost(component)
    return LinearCost(cost.energy_fixed_mj, cost.energy_per_token_mj)


def _add(*terms: LinearCost) -> LinearCost:
    return sum(terms, NO_COST)


@dataclass(frozen=True)
class PoolOption:
    """A pool variant as a coarse strategy sees it."""

    variant: Variant
    dev_accuracy: float
    energy: LinearCost

    @property
    def variant_id(self) -> str:
        """Return the variant id."""
        return self.variant.variant_id

    def energy_mj(self, tokens: int) -> float:
        """Estimated energy for an input of ``tokens`` tokens."""
        return self.energy.mj(tokens)


@dataclass(frozen=True)
class ModeOption:
    """
    An execution mode as a fine-grained strategy sees it.

    The layers' costs are also kept as running sums, so the cost of any run of layers is two
    subtractions; strategies that ask at every segment precompute the runs they use
    (``layers_cost``, ``segment_steps``), so a decision costs microseconds.
    """

    mode: str
    fidelity: float                      # dev agreement with the fp32 reference, all layers
    layer_energy: Tuple[LinearCost, ...]  # per layer, index 0 = layer 1
    _fixed_sums: Tuple[float, ...] = field(init=False, repr=False, compare=False)
    _per_token_sums: Tuple[float, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        fixed, per_token = [0.0], [0.0]
        for cost in self.layer_energy:
            fixed.append(fixed[-1] + cost.fixed_mj)
            per_token.append(per_token[-1] + cost.per_token_mj)
        object.__setattr__(self, '_fixed_sums', tuple(fixed))
        object.__setattr__(self, '_per_token_sums', tuple(per_token))

    @property
    def precision(self) -> str:
        """Return the precision: fp32 | bf16 | int8 | int4."""
        return mode_precision(self.mode)

    @property
    def backend(self) -> str:
        """Return the backend: torch | onnxruntime."""
        return mode_backend(self.mode)

    def energy_mj(self, first_layer: int, count: int, tokens: int) -> float:
        """Estimated energy of layers ``first_layer .. first_layer + count - 1``."""
        return self.layers_cost(first_layer, count).mj(tokens)

    def layers_cost(self, first_layer: int, count: int) -> LinearCost:
        """Return the energy of layers ``first_layer ..`` (``count`` of them) as a line."""
        first = min(max(first_layer - 1, 0), len(self.layer_energy))
        last = min(max(first + count, first), len(self.layer_energy))
        fixed, per_token = self._fixed_sums, self._per_token_sums
        return LinearCost(fixed[last] - fixed[first], per_token[last] - per_token[first])


class SegmentStep(NamedTuple):
    """
    The segment that follows a number of layers done, priced before any input arrives.

    What a per-segment strategy asks at every segment, as energy lines in tokens: these
    layers in each mode, and the layers after them in the cheapest mode (the reserve).
    """

    first: int                      # the segment's first layer
    count: int                      # its layers
    span: str                       # 'L3-4', as reasons name it
    costs: Tuple[LinearCost, ...]   # these layers in each mode, in the modes' order
    rest_cheapest: LinearCost       # the layers after it in the last mode of the list
    segments_after: int             # segments after it, each reading an exit head


def segment_steps(modes: Sequence[ModeOption], num_layers: int,
                  segment_layers: int) -> Tuple[SegmentStep, ...]:
    """Return the step after each number of layers done, 0 .. ``num_layers - 1``."""
    steps = []
    for done in range(num_layers):
        first, count = done + 1, min(segment_layers, num_layers - done)
        after = num_layers - done - count
        steps.append(SegmentStep(first, count, f'L{first}-{first + count - 1}',
                                 tuple(mode.layers_cost(first, count) for mode in modes),
                                 modes[-1].layers_cost(first + count, after),
                                 -(-after // segment_layers)))
    return tuple(steps)


class StrategyContext:
    """The pool (sorted by energy), the modes (sorted by fidelity) and shared settings."""

    def __init__(self, pool: List[PoolOption], modes: List[ModeOption], num_layers: int,
                 labels: List[str], budget_model: EnergyBudgetModel,
                 input_energy: LinearCost, head_energy: LinearCost, reference_id: str,
                 gate: Dict = None, embedding_energy: LinearCost = NO_COST):
        self.pool = sorted(pool, key=lambda option: option.energy_mj(16))
        self.modes = sorted(modes, key=lambda option: -option.fidelity)
        self.num_layers = num_layers
        self.labels = labels
        self.budget_model = budget_model
        self.input_energy = input_energy       # tokenization + embeddings (+ the stop check)
        self.head_energy = head_energy
        self.embedding_energy = embedding_energy  # tokenization + embeddings alone
        self.reference_id = reference_id
        self.gate = gate or {}                 # the moe_gate strategy's learned gate
        self.pool_by_id: Dict[str, PoolOption] = {option.variant_id: option
                                                  for option in self.pool}
        self.mode_by_name: Dict[str, ModeOption] = {option.mode: option for option in self.modes}
        # What most_accurate_within reads of each option, unpacked once: it scans per decision.
        self._frontiers: Dict[int, List[PoolOption]] = {}
        self._pool_terms = tuple((option.energy.fixed_mj, option.energy.per_token_mj,
                                  option.dev_accuracy, option) for option in self.pool)

    @classmethod
    def build(cls, pool_entries, mode_fidelity: Dict[str, float], num_layers: int,
              labels: List[str], profile: CostProfile,
              budget_model: EnergyBudgetModel, gate: Dict = None) -> 'StrategyContext':
        """Combine training's dev measurements with the machine's cost profile."""
        embedding_energy = _add(_linear(profile, 'tokenize'), _linear(profile, 'embed'))
        input_energy = _add(embedding_energy, _linear(profile, 'stop_check'))
        head_energy = _linear(profile, 'head')
        modes = [ModeOption(mode, fidelity,
                            tuple(_linear(profile, f'layer{layer}/{mode}')
                                  for layer in range(1, num_layers + 1)))
                 for mode, fidelity in mode_fidelity.items()]
        mode_by_name = {option.mode: option for option in modes}
        pool = []
        for entry in pool_entries:
            variant = entry.variant
            if variant.kind == 'tfidf':
                # The TF-IDF model is the stop check every command gets: only the word
                # tagger (its actions and arguments) is left to run.
                energy = _linear(profile, 'stop_check')
                if 'word_tagger' in profile:
                    energy = _add(energy, _linear(profile, 'word_tagger'))
            elif variant.mode in mode_by_name:
                layer_terms = mode_by_name[variant.mode].layer_energy[:variant.layers]
                energy = _add(input_energy, head_energy, *layer_terms)
            else:
                continue
            pool.append(PoolOption(variant, entry.dev_accuracy, energy))
        reference = f'minilm_l{num_layers}_{REFERENCE_MODE}'
        return cls(pool, modes, num_layers, labels, budget_model, input_energy, head_energy,
                   reference, gate, embedding_energy)

    def with_stop_look(self, mode: str) -> 'StrategyContext':
        """
        Return this context with TF-IDF priced as it runs: its answer plus a one-layer look.

        Every TF-IDF answer a strategy picks takes one backbone layer in ``mode`` before it
        stands, in case it missed a stop (``strategies.stop_look``): tokenization,
        embeddings, that layer and the heads. Priced without it, TF-IDF could cost more than
        a two-layer int8 variant that a coarse strategy passed over for it at a lower battery.
        """
        look = _add(self.embedding_energy, self.head_energy,
                    self.mode_by_name[mode].layers_cost(1, 1))
        pool = [replace(option, energy=option.energy + look)
                if option.variant.kind == 'tfidf' else option for option in self.pool]
        return StrategyContext(pool, list(self.modes), self.num_layers, self.labels,
                               self.budget_model, self.input_energy, self.head_energy,
                               self.reference_id, self.gate, self.embedding_energy)

    def cheapest(self, tokens: int = 16) -> PoolOption:
        """Return the pool option with the least energy for ``tokens`` tokens."""
        return self.efficient_pool(tokens)[0]

    def most_accurate_within(self, budget_mj: float, tokens: int) -> PoolOption:
        """Return the most accurate option within ``budget_mj`` (the cheapest if none fits)."""
        best, best_accuracy = None, 0.0
        for fixed_mj, per_token_mj, accuracy, option in self._pool_terms:
            if fixed_mj + per_token_mj * tokens <= budget_mj and (
                    best is None or accuracy > best_accuracy):
                best, best_accuracy = option, accuracy
        return best if best is not None else self.cheapest(tokens)

    def efficient_pool(self, tokens: int) -> List[PoolOption]:
        """
        Options on the accuracy-energy frontier for ``tokens`` tokens, cheapest first.

        Per token count because the costs are lines that cross (ONNX Runtime's int8 graph
        has the smaller fixed cost, torch int8 the smaller cost per token): one frontier for
        every length would order some variants wrongly for long commands. Cached.
        """
        frontier = self._frontiers.get(tokens)
        if frontier is None:
            frontier = []
            for option in sorted(self.pool, key=lambda option: option.energy_mj(tokens)):
                if not frontier or option.dev_accuracy > frontier[-1].dev_accuracy + 1e-9:
                    frontier.append(option)
            self._frontiers[tokens] = frontier
        return frontier

    def cheapest_mode(self) -> ModeOption:
        """Return the mode with the least energy over all layers."""
        return min(self.modes, key=lambda option: option.energy_mj(1, self.num_layers, 16))

    def efficient_modes(self) -> List[ModeOption]:
        """Modes on the fidelity-energy frontier, most faithful first."""
        by_energy = sorted(self.modes, key=lambda m: m.energy_mj(1, self.num_layers, 16))
        frontier: List[ModeOption] = []
        for option in by_energy:
            if not frontier or option.fidelity > frontier[-1].fidelity + 1e-9:
                frontier.append(option)
        return list(reversed(frontier))


def battery_level(fraction: float, charging: bool, budget_model: EnergyBudgetModel) -> float:
    """Return the fraction policies should act on: 1 while charging, an assumption when unknown."""
    if charging:
        return 1.0
    if fraction is None or math.isnan(fraction):
        return budget_model.unknown_battery_fraction
    return min(1.0, max(0.0, fraction))
