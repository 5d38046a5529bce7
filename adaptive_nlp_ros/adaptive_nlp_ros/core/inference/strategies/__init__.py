"""
Strategies, registered by name.

Adding one means writing one small file with a ``Strategy`` subclass and listing it in
``_STRATEGY_CLASSES`` below. ``static:<variant>`` is one name per pool variant.
"""

from typing import Any, Dict, List, Mapping, Type

from .base import Strategy
from .early_exit import EarlyExit
from .energy_greedy import EnergyGreedy
from .full import FullReference
from .fuzzy_complexity import FuzzyComplexity
from .moe_gate import MoeGate
from .moe_routing import MoeRouting
from .oracle import Oracle
from .progressive import Progressive
from .segment_precision import SegmentPrecision
from .static import STATIC_PREFIX, StaticVariant
from ..strategy_context import StrategyContext

_STRATEGY_CLASSES: List[Type[Strategy]] = [
    FullReference, Oracle, EnergyGreedy, FuzzyComplexity, MoeGate, EarlyExit,
    SegmentPrecision, MoeRouting, Progressive]

REGISTRY: Dict[str, Type[Strategy]] = {cls.name: cls for cls in _STRATEGY_CLASSES}
ADAPTIVE = ('energy_greedy', 'fuzzy_complexity', 'moe_gate', 'early_exit',
            'segment_precision', 'moe_routing', 'progressive')


class UnknownStrategyError(ValueError):
    """A strategy name that is not registered (the message lists the known ones)."""


def strategy_names(context: StrategyContext, include_evaluation_only: bool = True) -> List[str]:
    """Every registered name, ``static:<variant>`` for each pool variant included."""
    names = [name for name, cls in REGISTRY.items()
             if include_evaluation_only or not cls.evaluation_only]
    return names + [STATIC_PREFIX + option.variant_id for option in context.pool]


def create_strategy(name: str, context: StrategyContext,
                    settings: Mapping[str, Any] = ()) -> Strategy:
    """Instantiate a strategy by name; UnknownStrategyError lists the valid names."""
    if name.startswith(STATIC_PREFIX):
        variant_id = name[len(STATIC_PREFIX):]
        if variant_id not in context.pool_by_id:
            raise UnknownStrategyError(
                f'unknown variant {variant_id!r} in {name!r}; pool variants: '
                f'{sorted(context.pool_by_id)}')
        return StaticVariant(context, variant_id)
    if name not in REGISTRY:
        raise UnknownStrategyError(f'unknown strategy {name!r}; known: '
                                   f'{", ".join(strategy_names(context))}')
    return REGISTRY[name](context, settings)
