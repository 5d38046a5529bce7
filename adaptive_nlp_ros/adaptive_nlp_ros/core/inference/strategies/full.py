"""``full``: the reference every evaluation reports beside the others (fp32, every layer)."""

from .base import Strategy
from ..decisions import Action, DecisionState, RunVariant


class FullReference(Strategy):
    """Always the full fp32 backbone on torch, whatever the battery."""

    name = 'full'

    def decide(self, state: DecisionState) -> Action:
        """Run the reference variant."""
        return RunVariant(self.context.reference_id, 'reference: fp32, every layer')
