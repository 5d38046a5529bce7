"""
Image commands through the same strategies as text: the BranchyNet as a segmented network.

The BranchyNet's stages are the layers of the shared segment loop (``segment_loop``) and its
exits the exit heads, so every strategy decides for images what it decides for text, by
the same ``decide`` on an image ``StrategyContext``: ``full`` runs every stage, the coarse
strategies pick a pool variant (leave at exit 1, 2 or 3) within the budget, ``early_exit``
and the fine strategies run stage by stage and leave at their own threshold, within the
budget. There is one execution mode (fp32 on torch), so ``progressive`` has nothing to
refine with, and one network, so ``static:<text variant>`` answers images with ``full``.

What strategies plan with: a stage costs its profiled run plus its exit head (an exit is read
after every segment), a variant its stages plus its last exit. What an outcome reports is
what ran. The ``moe_gate`` gate for images is a prior learned on the dev digits (no cheap
first look exists for an image: ``training/image_training.py``).
"""

import math
import time
from typing import List, Optional

import numpy as np
import torch

from .cost_profile import CostProfile
from .decisions import DecisionState, InputSummary, Rerun, ResourceState, RunLayers, RunVariant
from .image_branchynet import BranchyNetClassifier, preprocess_mono8
from .results import InferenceOutcome, SegmentRecord
from .segment_loop import answer_one, InputRun
from .strategies import create_strategy, Strategy
from .strategies.full import FullReference
from .strategies.static import STATIC_PREFIX
from .strategy_context import LinearCost, ModeOption, NO_COST, PoolOption, StrategyContext
from .variant_pool import Variant
from ..battery.energy_budget import EnergyBudgetModel

NETWORK = 'branchynet'
IMAGE_MODE = 'fp32'
TOP_K = 3


def exit_variant_id(exit_index: int) -> str:
    """Return the pool id of the variant that leaves at ``exit_index`` (1-based)."""
    return f'{NETWORK}_exit{exit_index}'


class ImageEngine:
    """Classifies mono8 images with any strategy and reports what ran and its cost."""

    def __init__(self, classifier: BranchyNetClassifier, profile: Optional[CostProfile],
                 budget_model: EnergyBudgetModel = EnergyBudgetModel()):
        self.classifier = classifier
        self.profile = profile
        self.context = _image_context(classifier, profile, budget_model)
        self.segments = ImageSegments(self)

    @property
    def budget_model(self) -> EnergyBudgetModel:
        """Return the budget model strategies read."""
        return self.context.budget_model

    def set_budget_model(self, budget_model: EnergyBudgetModel) -> None:
        """Use another budget model from the next decision on."""
        self.context.budget_model = budget_model

    def strategy(self, name: str, settings=()) -> Strategy:
        """
        Return the image counterpart of the strategy called ``name``, or UnknownStrategyError.

        ``static:<variant>`` of a text variant, and ``moe_gate`` without an image gate in the
        artifacts, answer with ``full``: the reason says so.
        """
        if name.startswith(STATIC_PREFIX) and name[len(STATIC_PREFIX):] not in (
                self.context.pool_by_id):
            return _Substitute(self.context, name, 'no such image variant')
        if name == 'moe_gate' and not self.context.gate:
            return _Substitute(self.context, name, 'no image gate in these artifacts')
        return create_strategy(name, self.context, settings)

    def _energy(self, component: str) -> float:
        if self.profile is None or component not in self.profile:
            return 0.0
        return self.profile.energy_mj(component)

    def infer(self, image: np.ndarray, strategy: Strategy,
              resources: ResourceState) -> InferenceOutcome:
        """Answer one mono8 image (2-D uint8 array, any size)."""
        start = time.perf_counter()
        pixels = preprocess_mono8(image, self.classifier.input_size_px)
        summary = InputSummary('image', 1, 0.5)
        run = InputRun(strategy, DecisionState(resources, summary), self.classifier.labels,
                       self.classifier.num_exits, pixels)
        answer_one(self.segments, run)
        outcome = self._outcome(run)
        outcome.latency_ms = (time.perf_counter() - start) * 1e3
        return outcome

    def _outcome(self, run: InputRun) -> InferenceOutcome:
        scores, indices = torch.topk(run.probabilities, TOP_K)
        labels = [self.classifier.labels[int(i)] for i in indices]
        progress = run.progress
        resources = run.state.resources
        return InferenceOutcome(
            label=labels[0], confidence=float(scores[0]), top_labels=labels,
            top_scores=[float(s) for s in scores], strategy=run.requested, variant=NETWORK,
            exit_layer=run.layers_done, num_layers=self.classifier.num_exits,
            segments=list(progress.segments),
            confidence_threshold=run.strategy.confidence_threshold(resources),
            battery_fraction=resources.battery_fraction, energy_budget_mj=resources.budget_mj,
            battery_stale=resources.battery_stale, refined=progress.refinements > 0,
            energy_mj=self._energy('image/preprocess') + progress.energy_spent_mj,
            decision_ms=run.decision_s * 1e3, input_kind='image',
            reason='; '.join(run.reasons))


class ImageSegments:
    """The BranchyNet as the segment loop runs it: stages, with an exit read after a segment."""

    def __init__(self, engine: ImageEngine) -> None:
        self.engine = engine
        self.classifier = engine.classifier

    def cheapest_answer(self) -> RunVariant:
        """Answer at the first exit."""
        return RunVariant(exit_variant_id(1), 'answered before any stage ran: first exit')

    def carry_out(self, runs: List[InputRun], action) -> None:
        """Run stages for each run (images are answered one at a time)."""
        for run in runs:
            if isinstance(action, RunVariant):
                exit_index = int(action.variant_id.rsplit('exit', 1)[1])
                self._run_stages(run, 1, exit_index, refined=False)
            elif isinstance(action, RunLayers):
                last = min(self.classifier.num_exits, run.layers_done + action.count)
                self._run_stages(run, run.layers_done + 1, last, refined=False)
            elif isinstance(action, Rerun):
                last = min(self.classifier.num_exits, action.first_layer + action.count - 1)
                self._run_stages(run, action.first_layer, last, refined=True)

    def _run_stages(self, run: InputRun, first: int, last: int, refined: bool) -> None:
        """Run stages ``first..last`` from the cached state before them; read exit ``last``."""
        engine = self.engine
        hidden = run.hidden.get(first - 1, run.item)
        with torch.inference_mode():
            for stage in range(first, last + 1):
                hidden = self.classifier.run_stage(stage, hidden)
                run.hidden[stage] = hidden
                read = stage == last
                probabilities = (self.classifier.exit_probabilities(stage, hidden)[0]
                                 if read else None)
                energy = engine._energy(f'image/stage{stage}') + (
                    engine._energy(f'image/exit{stage}') if read else 0.0)
                run.record(SegmentRecord((stage,), 'fp32', 'torch', energy, refined), stage,
                           probabilities)


class _Substitute(FullReference):
    """``full`` standing in for a strategy that has no image counterpart, saying why."""

    def __init__(self, context: StrategyContext, name: str, why: str) -> None:
        super().__init__(context)
        self.name = name
        self._why = why

    def decide(self, state: DecisionState):
        """Run every stage."""
        action = super().decide(state)
        return RunVariant(action.variant_id, f'{self._why}: full network')


def _image_context(classifier: BranchyNetClassifier, profile: Optional[CostProfile],
                   budget_model: EnergyBudgetModel) -> StrategyContext:
    """Return the pool (leave at each exit) and the one mode, priced by the profile."""
    def cost(component: str) -> LinearCost:
        if profile is None or component not in profile:
            return NO_COST
        return LinearCost(profile.energy_mj(component), 0.0)

    exits = classifier.num_exits
    stage_costs = [cost(f'image/stage{stage}') for stage in range(1, exits + 1)]
    exit_costs = [cost(f'image/exit{stage}') for stage in range(1, exits + 1)]
    accuracy = list(classifier.dev_accuracy) or [math.nan] * exits
    preprocess = cost('image/preprocess')
    pool = [PoolOption(Variant(exit_variant_id(index), NETWORK, index, IMAGE_MODE),
                       accuracy[index - 1],
                       sum(stage_costs[:index], preprocess) + exit_costs[index - 1])
            for index in range(1, exits + 1)]
    mode = ModeOption(IMAGE_MODE, 1.0, tuple(stage + head for stage, head
                                             in zip(stage_costs, exit_costs)))
    return StrategyContext(pool, [mode], exits, list(classifier.labels), budget_model,
                           preprocess, NO_COST, exit_variant_id(exits),
                           classifier.gate or {})
