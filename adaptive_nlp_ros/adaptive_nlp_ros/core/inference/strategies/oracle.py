"""
``oracle``: per input, the cheapest pool variant that is right (the energy lower bound).

It needs the true label, so it exists for evaluation only: the engine refuses it at run
time, and evaluation computes it from every variant's predictions with ``choose``.
"""

from typing import Mapping, Optional

from .base import Strategy
from ..decisions import Action, DecisionState


class Oracle(Strategy):
    """Evaluation-only lower bound; ``decide`` is never called at run time."""

    name = 'oracle'
    evaluation_only = True

    def decide(self, state: DecisionState) -> Action:
        """Refuse: the oracle needs the answer before it can decide."""
        raise RuntimeError('oracle needs the true label: it is an evaluation-only baseline')

    @staticmethod
    def choose(correct: Mapping[str, bool], energy_mj: Mapping[str, float],
               fallback: str) -> str:
        """Return the cheapest variant that is right; ``fallback`` when none is."""
        right = [variant for variant, ok in correct.items() if ok]
        best: Optional[str] = min(right, key=lambda v: energy_mj[v]) if right else None
        return best if best is not None else fallback
