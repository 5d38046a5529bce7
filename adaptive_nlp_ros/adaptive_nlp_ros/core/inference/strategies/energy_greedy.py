"""``energy_greedy``: the most accurate pool variant the per-command budget affords."""

from .base import Strategy
from ..decisions import Action, DecisionState, RunVariant


class EnergyGreedy(Strategy):
    """Greedy on dev accuracy under the energy budget; the cheapest variant when none fits."""

    name = 'energy_greedy'

    def decide(self, state: DecisionState) -> Action:
        """Pick the variant."""
        tokens = state.command.tokens
        budget = state.remaining_budget_mj
        option = self.context.most_accurate_within(budget, tokens)
        energy = option.energy_mj(tokens)
        return RunVariant(option.variant_id, (
            f'{option.variant_id}: dev acc {option.dev_accuracy:.3f}, {energy:.2f} mJ '
            + (f'<= budget {budget:.2f} mJ' if energy <= budget else
               f'(nothing fits budget {budget:.2f} mJ: cheapest)')))
