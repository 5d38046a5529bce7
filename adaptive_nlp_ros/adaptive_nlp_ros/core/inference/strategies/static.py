"""``static:<variant>``: one fixed pool variant, a baseline for every variant of the pool."""

from .base import Strategy
from ..decisions import Action, DecisionState, RunVariant
from ..strategy_context import StrategyContext

STATIC_PREFIX = 'static:'


class StaticVariant(Strategy):
    """Always the same variant."""

    def __init__(self, context: StrategyContext, variant_id: str):
        super().__init__(context)
        self.variant_id = variant_id
        self.name = STATIC_PREFIX + variant_id

    def decide(self, state: DecisionState) -> Action:
        """Run the fixed variant."""
        return RunVariant(self.variant_id, f'static variant {self.variant_id}')
