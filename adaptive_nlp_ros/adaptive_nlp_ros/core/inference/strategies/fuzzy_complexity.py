"""
``fuzzy_complexity``: fuzzy rules on input complexity and battery pick a variant.

scikit-fuzzy rules on the input's complexity and the battery level
(LOW / MEDIUM / HIGH) give a capacity in 0..1, which picks a variant on the pool's
accuracy-energy frontier for the command's length; the budget caps the choice. The rule
base lives in a YAML file.
"""

from .base import Strategy
from ..decisions import Action, DecisionState, RunVariant
from ..fuzzy_rules import DecisionSurface, load_rule_base
from ..strategy_context import StrategyContext


class FuzzyComplexity(Strategy):
    """Complexity x battery -> capacity -> frontier variant, within budget."""

    name = 'fuzzy_complexity'
    defaults = {'rules_file': ''}

    def __init__(self, context: StrategyContext, settings=()):
        super().__init__(context, settings)
        self.surface = DecisionSurface(load_rule_base(self.settings['rules_file'] or None))

    def decide(self, state: DecisionState) -> Action:
        """Pick the variant."""
        level = self.level(state.resources)
        capacity = self.surface.capacity(state.command.complexity, level)
        tokens = state.command.tokens
        frontier = self.context.efficient_pool(tokens)      # cheapest first
        index = int(round(capacity * (len(frontier) - 1)))
        while index > 0 and frontier[index].energy_mj(tokens) > state.remaining_budget_mj:
            index -= 1
        option = frontier[index]
        return RunVariant(option.variant_id, f'complexity {state.command.complexity:.2f}, battery '
                          f'{level:.2f} -> capacity {capacity:.2f} -> {option.variant_id}')
