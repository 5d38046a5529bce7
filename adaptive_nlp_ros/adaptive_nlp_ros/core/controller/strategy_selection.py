"""
The strategies in force: the ordinary one and the stale-battery one, for text and images.

Settings are checked whole before they are taken (an unknown strategy, an evaluation-only
one, or settings a strategy refuses are answered with the reason), and the strategies are
rebuilt by the worker between two commands, never under one.

``edge_offload`` is not an engine strategy: it decides where to compute (``core.offload``) and
answers on the robot with ``edge_offload.local_strategy``. It is valid only where the
controller has a way to reach an expert server (``controller_node`` gives it one).
"""

import math
from typing import Any, Dict, List, Optional

from .battery_tracker import BatteryReading
from .controller_parameters import ControllerSettings
from .records import Configuration, KIND_IMAGE
from ..inference.strategies import REGISTRY, strategy_names
from ..inference.strategies.base import Strategy
from ..offload.edge_offload import EdgeOffload, STRATEGY_NAME as EDGE_OFFLOAD


class StrategySelection:
    """Builds and holds the strategies of the settings in force."""

    def __init__(self, engines: Any, logger: Any, edge: Optional[EdgeOffload] = None) -> None:
        """Start with no strategies; ``apply`` builds them (``edge``: for ``edge_offload``)."""
        self._engines = engines
        self._logger = logger
        self.edge = edge
        self._applied: Optional[ControllerSettings] = None
        self._strategies: Dict[tuple, Strategy] = {}
        self._offloading: Dict[bool, bool] = {False: False, True: False}

    def valid_strategy_names(self) -> List[str]:
        """Return the strategies that may run here (evaluation-only ones excluded)."""
        names = strategy_names(self._engines.text.context, include_evaluation_only=False)
        return names + [EDGE_OFFLOAD] if self.edge is not None else names

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
        if name == EDGE_OFFLOAD:
            if self.edge is None:
                return (f'{EDGE_OFFLOAD!r} needs a link to an expert server (controller_node '
                        f'has one); valid strategies here: {", ".join(valid)}')
            local = settings.offload.local_strategy
            if local == EDGE_OFFLOAD:
                return 'edge_offload.local_strategy must be a strategy that runs on the robot'
            problem = self._strategy_problem(local, settings)
            return None if problem is None else f'edge_offload.local_strategy: {problem}'
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
        offloading = {}
        for stale, name in ((False, settings.strategy), (True, settings.stale_strategy)):
            offloading[stale] = name == EDGE_OFFLOAD
            if offloading[stale]:
                name = settings.offload.local_strategy
            strategy_settings = settings.settings_for(name)
            strategies[(False, stale)] = self._engines.text.strategy(name, strategy_settings)
            if self._engines.image is not None:
                strategies[(True, stale)] = self._engines.image.strategy(name,
                                                                         strategy_settings)
        self._strategies = strategies
        self._offloading = offloading
        if self.edge is not None:
            self.edge.settings = settings.offload
        self._applied = settings
        if previous is not None:
            self._logger.info(f'now answering with {self._describe(False)} '
                              f'(stale battery: {self._describe(True)})')

    def _describe(self, stale: bool) -> str:
        """Return the strategy in force in words."""
        local = self._strategies[(False, stale)].describe()
        return f'{EDGE_OFFLOAD} (on the robot: {local})' if self._offloading[stale] else local

    def for_command(self, kind: str, stale: bool) -> Strategy:
        """Return the strategy that answers a command of ``kind`` on the robot now."""
        return self._strategies[(kind == KIND_IMAGE, stale)]

    def edge_for(self, kind: str, stale: bool) -> Optional[EdgeOffload]:
        """Return the edge offload when it decides where a command of ``kind`` runs, else None."""
        if kind == KIND_IMAGE or not self._offloading[stale]:
            return None
        return self.edge

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
        name = EDGE_OFFLOAD if self._offloading[reading.stale] else strategy.name
        return Configuration(strategy=name, confidence_threshold=threshold,
                             battery_fraction=reading.fraction, energy_budget_mj=budget_mj,
                             battery_stale=reading.stale, reason=reason)
