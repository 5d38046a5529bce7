"""
One backbone layer read after an answer that ran none, in case it missed a ``stop``.

The TF-IDF variant answers without the backbone, and its ``stop`` score is the receipt
check's, so a stop the check missed (phrasing unlike training: "kill the motors", typos
such as "staay put") would be answered as something else whenever a coarse strategy picks
TF-IDF, as at an empty battery, while ``full`` and every layer-wise strategy catch it at
their first exit (``InputRun.escalate``). This gives a TF-IDF answer that first exit: one
layer in the safety path's fast mode. When it leaves stop plausible the run goes on down the
safety path; otherwise the TF-IDF answer stands (the segment loop keeps it aside meanwhile).
Not registered as a user strategy: the engine applies it.
"""

from .base import Strategy
from ..decisions import Action, Answer, DecisionState, RunLayers
from ..strategy_context import StrategyContext


class StopLook(Strategy):
    """Read the first exit in the fast mode, then answer (the loop decides what stands)."""

    name = 'stop_look'

    def __init__(self, context: StrategyContext, fast_mode: str):
        super().__init__(context)
        self.first_layer = RunLayers(1, fast_mode, f'layer 1 in {fast_mode}: a look for a '
                                     'stop the answer without the backbone may have missed')
        self.done = Answer('')

    def decide(self, state: DecisionState) -> Action:
        """Run layer 1 once; then hand back to the loop."""
        return self.first_layer if state.progress.layers_done == 0 else self.done
