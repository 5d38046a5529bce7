"""``energy_greedy``: the most accurate pool variant the per-command budget affords."""

from .base import Strategy
from ..decisions import Action, DecisionState, RunVariant


class EnergyGreedy(Strategy):
    """Greedy on dev accuracy under the energy budget; the cheapest variant when none fits."""

    name = 'energy_greedy'

    def decide(self, state: DecisionState) -> Action:
        """Pick the variant."""
        tokens = state.command.tokens
        option = self.context.most_accurate_within(state.remaining_budget_mj, tokens)
        fits = option.energy_mj(tokens) <= state.remaining_budget_mj
        return RunVariant(option.variant_id, (
            f'{option.variant_id}: dev acc {option.dev_accuracy:.3f}, '
            f'{option.energy_mj(tokens):.2f} mJ '
            + (f'<= budget {state.remaining_budget_mj:.2f} mJ' if fits else
               f'(nothing fits budget {state.remaining_budget_mj:.2f} mJ: cheapest)')))
