"""
Image commands: the BranchyNet answered at the first exit confident enough.

``full`` and ``static:*`` baselines run every stage; every adaptive strategy uses its own
confidence threshold where it has one, else the early-exit schedule (a threshold that
loosens as the battery falls).
"""

import math
import time
from typing import Optional

import numpy as np

from .cost_profile import CostProfile
from .decisions import ResourceState
from .image_branchynet import BranchyNetClassifier
from .results import InferenceOutcome, SegmentRecord
from .strategies.base import Strategy, threshold_for_battery
from .strategies.early_exit import EarlyExit
from .strategy_context import battery_level
from ..battery.energy_budget import EnergyBudgetModel

ALWAYS_FULL = 1.01          # above any probability: every stage runs
VARIANT = 'branchynet'


class ImageEngine:
    """Classifies mono8 images with the strategy's exit threshold and reports the cost."""

    def __init__(self, classifier: BranchyNetClassifier, profile: Optional[CostProfile],
                 budget_model: EnergyBudgetModel = EnergyBudgetModel()):
        self.classifier = classifier
        self.profile = profile
        self.budget_model = budget_model

    def threshold_for(self, strategy: Strategy, resources: ResourceState) -> float:
        """Return the exit threshold this strategy implies for images."""
        if strategy.name == 'full' or strategy.name.startswith('static:'):
            return ALWAYS_FULL
        threshold = strategy.confidence_threshold(resources)
        if threshold is None or math.isnan(threshold):
            level = battery_level(resources.battery_fraction, resources.charging,
                                  self.budget_model)
            threshold = threshold_for_battery(level, EarlyExit.defaults['threshold_at_full'],
                                              EarlyExit.defaults['threshold_at_empty'],
                                              self.budget_model.reserve_fraction)
        return threshold

    def _energy(self, component: str) -> float:
        if self.profile is None or component not in self.profile:
            return 0.0
        return self.profile.energy_mj(component)

    def infer(self, image: np.ndarray, strategy: Strategy,
              resources: ResourceState) -> InferenceOutcome:
        """Answer one mono8 image (2-D uint8 array, any size)."""
        start = time.perf_counter()
        threshold = self.threshold_for(strategy, resources)
        result = self.classifier.classify(image, threshold)
        segments = [SegmentRecord((stage,), 'fp32', 'torch',
                                  self._energy(f'image/stage{stage}')
                                  + self._energy(f'image/exit{stage}'))
                    for stage in range(1, result.exit_index + 1)]
        energy = self._energy('image/preprocess') + sum(s.energy_mj for s in segments)
        shown_threshold = math.nan if threshold >= ALWAYS_FULL else threshold
        reason = (f'exit {result.exit_index}/{result.num_exits}: confidence '
                  f'{result.confidence:.2f}' + (f' >= {threshold:.2f}'
                                                if result.confidence >= threshold else ''))
        return InferenceOutcome(
            label=result.label, confidence=result.confidence,
            top_labels=list(result.top_labels), top_scores=list(result.top_scores),
            strategy=strategy.name, variant=VARIANT, exit_layer=result.exit_index,
            num_layers=result.num_exits, segments=segments,
            confidence_threshold=shown_threshold,
            battery_fraction=resources.battery_fraction, energy_budget_mj=resources.budget_mj,
            battery_stale=resources.battery_stale, refined=False,
            latency_ms=(time.perf_counter() - start) * 1e3, energy_mj=energy,
            input_kind='image', reason=reason)
