"""``full``: the reference every evaluation reports beside the others (fp32, every layer)."""

from .base import Strategy
from ..decisions import Action, DecisionState, RunVariant
from ..strategy_context import StrategyContext


class FullReference(Strategy):
    """Always the full fp32 backbone on torch, whatever the battery."""

    name = 'full'

    def __init__(self, context: StrategyContext, settings=()):
        super().__init__(context, settings)
        self.reference = RunVariant(context.reference_id, 'reference: fp32, every layer')

    def decide(self, state: DecisionState) -> Action:
        """Run the reference variant (the same action every time, made once)."""
        return self.reference
