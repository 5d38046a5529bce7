"""The strategy interface: a small class with one decision method."""

import math
from typing import Any, ClassVar, Dict, List, Mapping, Optional, Sequence, Tuple

from ..decisions import Action, Answer, DecisionState, ResourceState
from ..strategy_context import battery_level, StrategyContext


class Strategy:
    """
    Decide how much model to spend on one input.

    ``decide`` is called by the engine's segment loop before anything runs and again after
    every segment it asked for, until it returns ``Answer`` (or a ``RunVariant``, which is
    answered directly). It never runs a model itself. ``defaults`` lists the settings a
    strategy reads, with their default values; configuration may override them.
    """

    name: ClassVar[str] = ''
    defaults: ClassVar[Dict[str, Any]] = {}
    evaluation_only: ClassVar[bool] = False
    # The settings ``scheduled_threshold`` loosens between, from full to empty battery.
    schedule: ClassVar[Tuple[str, str]] = ('threshold_at_full', 'threshold_at_empty')

    def __init__(self, context: StrategyContext, settings: Mapping[str, Any] = ()):
        self.context = context
        unknown = set(dict(settings)) - set(self.defaults)
        if unknown:
            raise ValueError(f'strategy {self.name}: unknown settings {sorted(unknown)}; '
                             f'known: {sorted(self.defaults)}')
        self.settings = {**self.defaults, **dict(settings)}
        self._threshold_memo = (None, None, None, math.nan)

    def decide(self, state: DecisionState) -> Action:
        """Return the next action for this input."""
        raise NotImplementedError

    def confidence_threshold(self, resources: ResourceState) -> float:
        """Return the exit confidence threshold in force (NaN where the strategy has none)."""
        return math.nan

    def exit_parse_floor(self, resources: ResourceState) -> Optional[float]:
        """
        Return the whole-parse confidence below which this strategy never leaves at an exit.

        An exit whose parse cannot reach it (``parse.segment_bound``) is then decoded only
        if the strategy answers there. None (the default): every exit is decoded, for
        strategies that read the confidence otherwise than against a threshold.
        """
        return None

    def level(self, resources: ResourceState) -> float:
        """Battery fraction to act on (1 while charging, an assumption when unknown)."""
        return battery_level(resources.battery_fraction, resources.charging,
                             self.context.budget_model)

    def scheduled_threshold(self, resources: ResourceState) -> float:
        """
        Return the battery-scheduled threshold between the ``schedule`` settings.

        Remembered for the latest battery reading and budget model: every segment of a
        command asks again with the same ones, and a decision must cost microseconds.
        """
        fraction, charging = resources.battery_fraction, resources.charging
        budget_model = self.context.budget_model
        memo = self._threshold_memo
        if memo[0] == fraction and memo[1] == charging and memo[2] is budget_model:
            return memo[3]
        at_full, at_empty = self.schedule
        threshold = threshold_for_battery(
            self.level(resources), self.settings[at_full], self.settings[at_empty],
            budget_model.reserve_fraction)
        self._threshold_memo = (fraction, charging, budget_model, threshold)
        return threshold

    def confident_exit(self, state: DecisionState) -> Optional[Answer]:
        """
        Return the answer when the latest exit reaches the battery's threshold, else None.

        The threshold's memo and ``Progress.whole_confidence`` are read inline: this runs at
        every segment, right after inference has flushed the caches, where each call counts.
        """
        progress, resources = state.progress, state.resources
        memo = self._threshold_memo
        if (memo[0] == resources.battery_fraction and memo[1] == resources.charging
                and memo[2] is self.context.budget_model):
            threshold = memo[3]
        else:
            threshold = self.scheduled_threshold(resources)
        confidence = progress.confidence
        parse_confidence = progress.parse_confidence
        if parse_confidence < confidence:       # min(); a NaN parse (none) never wins
            confidence = parse_confidence
        if confidence >= threshold:
            return Answer(f'exit after {progress.layers_done}: confidence {confidence:.2f} >= '
                          f'{threshold:.2f}')
        return None

    def segment_size(self) -> int:
        """Return the ``segment_layers`` setting, within 1 .. the backbone's layers."""
        return max(1, min(int(self.settings['segment_layers']), self.context.num_layers))

    def describe(self) -> str:
        """One line naming the strategy and its settings, for logs and reports."""
        settings = ', '.join(f'{key}={value}' for key, value in sorted(self.settings.items()))
        return f'{self.name}({settings})'


def threshold_for_battery(level: float, at_full: float, at_empty: float,
                          reserve_fraction: float) -> float:
    """Return a confidence threshold that loosens linearly from ``at_full`` to ``at_empty``."""
    usable = (level - reserve_fraction) / max(1e-9, 1.0 - reserve_fraction)
    usable = min(1.0, max(0.0, usable))
    return at_empty + (at_full - at_empty) * usable


def softmax(scores: Sequence[float], temperature: float = 1.0) -> List[float]:
    """
    Return the softmax of a few scores, in plain floats (a gate over a handful of experts).

    Plain loops: numpy's per-call overhead dwarfs a dozen numbers, and before Python 3.12
    each comprehension is a call of its own, slow right after inference has flushed the
    caches (where the engine decides).
    """
    peak = max(scores)
    weights = []
    for score in scores:
        weights.append(math.exp((score - peak) / temperature))
    total = sum(weights)
    gate = []
    for weight in weights:
        gate.append(weight / total)
    return gate
