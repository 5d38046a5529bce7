"""
The strategies in force: the ordinary one and the stale-battery one, for text and images.

Settings are checked whole before they are taken (an unknown strategy, an evaluation-only
one, or settings a strategy refuses are answered with the reason), and the strategies are
rebuilt by the worker between two commands, never under one.
"""

import math
from typing import Any, Dict, List, Optional

from .battery_tracker import BatteryReading
from .controller_parameters import ControllerSettings
from .records import Configuration, KIND_IMAGE
from ..inference.strategies import REGISTRY, strategy_names
from ..inference.strategies.base import Strategy


class StrategySelection:
    """Builds and holds the strategies of the settings in force."""

    def __init__(self, engines: Any, logger: Any) -> None:
        """Start with no strategies; ``apply`` builds them."""
        self._engines = engines
        self._logger = logger
        self._applied: Optional[ControllerSettings] = None
        self._strategies: Dict[tuple, Strategy] = {}

    def valid_strategy_names(self) -> List[str]:
        """Return the strategies that may run here (evaluation-only ones excluded)."""
        return strategy_names(self._engines.text.context, include_evaluation_only=False)

    def check(self, settings: ControllerSettings) -> Optional[str]:
        """Return why ``settings`` cannot be used (unknown strategy, bad setting), or None."""
        for parameter, name in (('strategy', settings.strategy),
                                ('stale_strategy', settings.stale_strategy)):
            problem = self._strategy_problem(name, settings)
            if problem is not None:
                return f'{parameter}: {problem}'
        return None

    def _strategy_problem(self, name: str, settings: ControllerSettings) -> Optional[str]:
        """Return why strategy ``name`` cannot run with ``settings``, or None."""
        valid = self.valid_strategy_names()
        cls = REGISTRY.get(name)
        if cls is not None and cls.evaluation_only:
            return (f'{name!r} is an evaluation-only baseline (it needs the true label) and '
                    f'cannot run on the robot; valid strategies: {", ".join(valid)}')
        if name not in valid:
            return f'unknown strategy {name!r}; valid strategies: {", ".join(valid)}'
        try:
            self._engines.text.strategy(name, settings.settings_for(name))
        except Exception as error:  # noqa: B902 - any strategy may refuse its settings its way
            return f'strategy {name!r} refused its settings: {error}'
        return None

    def apply(self, settings: ControllerSettings) -> None:
        """Build the strategies and set the budget model (worker thread, between commands)."""
        if settings is self._applied:
            return
        previous = self._applied
        if previous is None or previous.budget != settings.budget:
            self._engines.set_budget_model(settings.budget)
        strategies = {}
        for stale, name in ((False, settings.strategy), (True, settings.stale_strategy)):
            strategy_settings = settings.settings_for(name)
            strategies[(False, stale)] = self._engines.text.strategy(name, strategy_settings)
            if self._engines.image is not None:
                strategies[(True, stale)] = self._engines.image.strategy(name,
                                                                         strategy_settings)
        self._strategies = strategies
        self._applied = settings
        if previous is not None:
            self._logger.info(f'now answering with {strategies[(False, False)].describe()} '
                              f'(stale battery: {strategies[(False, True)].describe()})')

    def for_command(self, kind: str, stale: bool) -> Strategy:
        """Return the strategy that answers a command of ``kind`` now."""
        return self._strategies[(kind == KIND_IMAGE, stale)]

    def policy_configuration(self, reading: BatteryReading, reason: str) -> Configuration:
        """Return the configuration in force now (for results where nothing ran)."""
        strategy = self.for_command('text', reading.stale)
        try:
            resources = self._engines.text.resources(reading.fraction, reading.charging,
                                                     reading.stale,
                                                     capacity_wh=reading.capacity_wh)
            threshold = float(strategy.confidence_threshold(resources))
            budget_mj = float(resources.budget_mj)
        except Exception:  # noqa: B902 - the result must go out even without these numbers
            threshold = budget_mj = math.nan
        return Configuration(strategy=strategy.name, confidence_threshold=threshold,
                             battery_fraction=reading.fraction, energy_budget_mj=budget_mj,
                             battery_stale=reading.stale, reason=reason)
