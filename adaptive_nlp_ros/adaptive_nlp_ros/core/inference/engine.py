"""
The adaptive engine: decide how much model to spend on a command, run it, say what and why.

``TextEngine.infer`` is the segment loop every strategy shares: ask the strategy for an
action, carry it out (a whole pool variant, the next layers in some execution mode, or a
re-run of cached layers at higher fidelity), ask again with the progress so far, until it
answers. Each layer's hidden state is kept for the rest of the input, so progressive
refinement re-runs only what it says it re-runs. A command that may be a ``stop`` (judged
first by the pool's cheapest model) never leaves early, whatever the strategy and the
battery: it takes the safety path (``strategies/safety_path.py``): every layer in a fast
faithful mode, and a full fp32 re-run whenever that pass does not answer ``stop`` but leaves
it plausible.
"""

import collections
from dataclasses import dataclass, replace
import math
import threading
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from .cost_profile import CostProfile
from .decisions import (Answer, DecisionState, InputSummary, Progress, Rerun, ResourceState,
                        RunLayers, RunVariant)
from .input_complexity import complexity_features, DEFAULT_WEIGHTS
from .results import InferenceOutcome, SegmentRecord
from .strategies import create_strategy, Strategy
from .strategies.full import FullReference
from .strategies.moe_gate import gate_features
from .strategies.safety_path import SafetyPath
from .strategy_context import StrategyContext
from .text_backbone import TokenBatch
from .text_models import TextModels
from .variant_pool import mode_backend, mode_precision, TFIDF_VARIANT
from ..battery.energy_budget import EnergyBudgetModel

TOP_K = 3
SAFETY_MIN_AGREEMENT = 0.999        # dev agreement with fp32 of the exact safety variant
SAFETY_FAST_FIDELITY = 0.99         # dev agreement with fp32 of the fast safety pass
CHEAP_MEMO_SIZE = 512               # texts whose TF-IDF probabilities are remembered
VARIANT_SEGMENT_LAYERS = 2          # how a whole-variant run is reported: segments of 2 layers


@dataclass(frozen=True)
class SafetyCheck:
    """The cheap check at receipt: may this command be a ``stop``, and how likely."""

    possible: bool                  # answer it first, at full depth
    score: float                    # the cheap model's probability of the safety label, 0..1


@dataclass(frozen=True)
class PreparedText:
    """A command after the cheap first look: tokens, the TF-IDF guess and the summary."""

    text: str
    batch: TokenBatch
    summary: InputSummary
    cheap_probabilities: Optional[np.ndarray]


class TextEngine:
    """Runs any strategy over the text models with the machine's cost profile."""

    def __init__(self, models: TextModels, profile: CostProfile,
                 budget_model: EnergyBudgetModel = EnergyBudgetModel(),
                 complexity_weights: Dict[str, float] = DEFAULT_WEIGHTS,
                 safety_override: bool = True, exact_batching: bool = True):
        self.models = models
        self.exact_batching = exact_batching
        self.profile = profile
        self.budget_model = budget_model
        self.complexity_weights = dict(complexity_weights)
        self.safety_override = safety_override and models.safety_label is not None
        self.context = StrategyContext.build(
            models.pool.values(), models.mode_fidelity, models.num_layers, models.labels,
            profile, budget_model, models.gate)
        self.full = FullReference(self.context)
        self.safety_index = (models.labels.index(models.safety_label)
                             if models.safety_label in models.labels else None)
        self.safety = SafetyPath(self.context, self._safety_fast_mode(),
                                 self.context.pool_by_id[self._safety_variant()].variant.mode,
                                 models.safety_label or '', models.safety_threshold)
        self._labels = models.labels
        self._cheap_memo: 'collections.OrderedDict[str, np.ndarray]' = collections.OrderedDict()
        self._cheap_lock = threading.Lock()

    # -- set-up -------------------------------------------------------------------------

    def _safety_fast_mode(self) -> str:
        """Return the cheapest mode at least ``SAFETY_FAST_FIDELITY`` faithful to fp32."""
        faithful = [option for option in self.context.modes
                    if option.fidelity >= SAFETY_FAST_FIDELITY] or self.context.modes[:1]
        return min(faithful, key=lambda option: option.energy_mj(
            1, self.models.num_layers, 16)).mode

    def _safety_variant(self) -> str:
        """
        Return the variant that answers a possible stop: full depth, never an early exit.

        The cheapest full-depth fp32 variant (on any backend: the same numbers as the
        reference up to float rounding, so the same stop recall) that agrees with the reference
        on at least ``SAFETY_MIN_AGREEMENT`` of dev; the reference itself when none qualifies.
        Lower precisions are not used here: on the test split, full-depth int8 missed stops
        that fp32 caught.
        """
        reference_id = self.context.reference_id
        reference = self.models.pool.get(reference_id)
        candidates = []
        for variant_id, entry in self.models.pool.items():
            if (entry.variant.layers != self.models.num_layers
                    or entry.variant.precision != 'fp32'
                    or variant_id not in self.context.pool_by_id):
                continue
            if entry.dev_agreement < SAFETY_MIN_AGREEMENT:
                continue
            if (reference is not None and reference.dev_safety_recall is not None
                    and (entry.dev_safety_recall or 0.0) < reference.dev_safety_recall):
                continue
            candidates.append(self.context.pool_by_id[variant_id])
        if not candidates:
            return reference_id
        return min(candidates, key=lambda option: option.energy_mj(16)).variant_id

    def strategy(self, name: str, settings=()) -> Strategy:
        """Return a strategy by name (UnknownStrategyError if unknown)."""
        return create_strategy(name, self.context, settings)

    def set_budget_model(self, budget_model: EnergyBudgetModel) -> None:
        """Use another budget model from the next decision on (strategies read it per call)."""
        self.budget_model = budget_model
        self.context.budget_model = budget_model

    def resources(self, battery_fraction: float = math.nan, charging: bool = False,
                  stale: bool = False, budget_mj: Optional[float] = None,
                  capacity_wh: Optional[float] = None) -> ResourceState:
        """Return the resource state for a battery reading, or an explicit per-command budget."""
        if budget_mj is None:
            budget_mj = self.budget_model.per_command_mj(battery_fraction, charging,
                                                         capacity_wh)
        return ResourceState(battery_fraction, stale, charging, budget_mj)

    # -- the cheap first look -----------------------------------------------------------

    def prepare(self, text: str) -> PreparedText:
        """Tokenize, run the TF-IDF model once, and summarize the input's complexity."""
        encoding = self.models.tokenizer.encoding(text)
        ids = torch.tensor([encoding.ids], dtype=torch.long)
        batch = TokenBatch(ids, torch.ones_like(ids, dtype=torch.bool))
        probabilities = None
        cheap_label, cheap_confidence, possible_safety = '', math.nan, False
        if self.models.tfidf is not None:
            probabilities = self._cheap_probabilities(text)
            best = int(probabilities.argmax())
            cheap_label, cheap_confidence = self._labels[best], float(probabilities[best])
            if self.safety_override:
                possible_safety = self._safety_check(probabilities).possible
        features = complexity_features(text, encoding.tokens[1:-1], probabilities)
        summary = InputSummary('text', len(encoding.ids),
                               features.score(self.complexity_weights), cheap_label,
                               cheap_confidence, possible_safety,
                               gate_features(features, probabilities))
        return PreparedText(text, batch, summary, probabilities)

    def safety_check(self, text: str) -> SafetyCheck:
        """
        Judge at receipt whether a command may be a ``stop`` (the TF-IDF model alone, ~0.1 ms).

        Without a safety label (artifacts trained on labels without ``stop``) nothing is a
        possible stop. Without the TF-IDF model (failed to load: a reported model problem)
        every command is, with score 0: fail safe, the controller then keeps them all in its
        bounded priority lane rather than risk dropping a real stop as ordinary.
        """
        if not self.safety_override:
            return SafetyCheck(False, 0.0)
        if self.models.tfidf is None:
            return SafetyCheck(True, 0.0)
        return self._safety_check(self._cheap_probabilities(text))

    def _cheap_probabilities(self, text: str) -> np.ndarray:
        """
        Return the TF-IDF model's probabilities, remembered for the most recent texts.

        The controller runs the stop check at receipt and the inference later, on another
        thread; the bounded memo spares the second TF-IDF pass for every queued command.
        """
        with self._cheap_lock:
            probabilities = self._cheap_memo.get(text)
            if probabilities is not None:
                self._cheap_memo.move_to_end(text)
                return probabilities
        probabilities = self.models.tfidf.probabilities(text)
        with self._cheap_lock:
            self._cheap_memo[text] = probabilities
            if len(self._cheap_memo) > CHEAP_MEMO_SIZE:
                self._cheap_memo.popitem(last=False)
        return probabilities

    def _safety_check(self, probabilities: np.ndarray) -> SafetyCheck:
        """Return the verdict of the TF-IDF probabilities on the safety label."""
        score = float(probabilities[self._labels.index(self.models.safety_label)])
        return SafetyCheck(score >= self.models.safety_threshold, score)

    # -- inference ----------------------------------------------------------------------

    def infer(self, text: str, strategy: Strategy, resources: ResourceState) -> InferenceOutcome:
        """Answer one command; latency counts from this call (tokenization included)."""
        start = time.perf_counter()
        prepared = self.prepare(text)
        outcome = self._run(prepared, strategy, resources)
        outcome.latency_ms = (time.perf_counter() - start) * 1e3
        return outcome

    def infer_batch(self, texts: Sequence[str], strategy: Strategy,
                    resources: ResourceState) -> List[InferenceOutcome]:
        """
        Answer several commands, batching the layers they share.

        Each input follows its own decisions; inputs whose next action is the same run
        together. Latency is the batch's wall time divided evenly. Dynamic int8 quantizes
        activations with one scale per call, so a batch would see slightly different numbers
        than each input alone: with ``exact_batching`` (the default) int8 layers run input by
        input, and batched labels equal one-at-a-time labels.
        """
        start = time.perf_counter()
        prepared = [self.prepare(text) for text in texts]
        runs = [_InputRun(self, item, strategy, resources) for item in prepared]
        pending = list(range(len(runs)))
        while pending:
            groups: Dict[Tuple, List[int]] = {}
            for index in pending:
                action = runs[index].next_action()
                groups.setdefault(_action_key(action), []).append(index)
            for key, members in groups.items():
                _run_group(self, [runs[i] for i in members])
            pending = [i for i in pending if not runs[i].done]
        elapsed_ms = (time.perf_counter() - start) * 1e3
        outcomes = [run.outcome() for run in runs]
        for outcome in outcomes:
            outcome.latency_ms = elapsed_ms / max(1, len(outcomes))
        return outcomes

    def _run(self, prepared: PreparedText, strategy: Strategy,
             resources: ResourceState) -> InferenceOutcome:
        run = _InputRun(self, prepared, strategy, resources)
        while not run.done:
            _run_group(self, [run])
        return run.outcome()

    # -- costs --------------------------------------------------------------------------

    def layers_energy_mj(self, first_layer: int, count: int, mode: str, tokens: int) -> float:
        """Profiled energy of a run of layers in one mode."""
        return self.context.mode_by_name[mode].energy_mj(first_layer, count, tokens)

    def head_energy_mj(self, tokens: int) -> float:
        """Profiled energy of one exit head."""
        return self.context.head_energy.mj(tokens)

    def input_energy_mj(self, tokens: int, embedded: bool) -> float:
        """Energy of the first look (stop check), plus tokenization and embeddings if used."""
        if embedded:
            return self.context.input_energy.mj(tokens)
        cost = self.profile.cost('stop_check')
        return cost.energy_fixed_mj + cost.energy_per_token_mj * tokens

    def top_k(self, probabilities: torch.Tensor) -> Tuple[List[str], List[float]]:
        """Best labels and their probabilities, best first."""
        scores, indices = torch.topk(probabilities, min(TOP_K, probabilities.shape[-1]))
        return ([self._labels[int(i)] for i in indices], [float(s) for s in scores])


class _InputRun:
    """The state of one input inside the segment loop (hidden states cached per layer)."""

    def __init__(self, engine: TextEngine, prepared: PreparedText, strategy: Strategy,
                 resources: ResourceState):
        self.engine = engine
        self.prepared = prepared
        self.requested = strategy
        self.reasons: List[str] = []
        self.strategy = strategy
        if prepared.summary.possible_safety_label and strategy.name != engine.full.name:
            self.strategy = engine.safety
            self.reasons.append(f'possible {engine.models.safety_label} (p >= '
                                f'{engine.models.safety_threshold:.2f}): safety override')
        self.state = DecisionState(resources, prepared.summary)
        self.hidden: Dict[int, torch.Tensor] = {}
        self.layers_done = 0
        self.probabilities: Optional[torch.Tensor] = None
        self.variant = ''
        self.decision_s = 0.0
        self.done = False
        self.action = None
        self.iterations = 0

    def next_action(self):
        """Ask the strategy (once per step) and remember its answer."""
        self.iterations += 1
        start = time.perf_counter()
        action = self.strategy.decide(self.state)
        self.decision_s += time.perf_counter() - start
        limit = 4 * self.engine.models.num_layers + 4
        if isinstance(action, RunLayers) and (
                self.layers_done >= self.engine.models.num_layers or self.iterations > limit):
            action = Answer('no layers left')
        if isinstance(action, Answer) and self.probabilities is None:
            action = RunVariant(TFIDF_VARIANT if self.engine.models.tfidf is not None
                                else self.engine.context.cheapest().variant_id,
                                'answered before any layer ran: cheapest variant')
        self.action = action
        return action

    def record(self, segment: SegmentRecord, layers_done: int,
               probabilities: torch.Tensor, head_energy_mj: float) -> None:
        """Update progress after a segment and its exit head."""
        self.probabilities = probabilities
        confidence, index = torch.max(probabilities, dim=-1)
        safety_index = self.engine.safety_index
        self.state = replace(self.state, progress=self.state.progress.after(
            segment, layers_done, self.engine.models.labels[int(index)], float(confidence),
            head_energy_mj, float(probabilities[safety_index]) if safety_index is not None
            else math.nan))
        self.layers_done = layers_done

    def outcome(self) -> InferenceOutcome:
        """Return the result object for this input."""
        engine = self.engine
        labels, scores = engine.top_k(self.probabilities)
        progress: Progress = self.state.progress
        resources = self.state.resources
        embedded = any(segment.layers for segment in progress.segments)
        energy = progress.energy_spent_mj + engine.input_energy_mj(
            self.prepared.summary.tokens, embedded)
        return InferenceOutcome(
            label=labels[0], confidence=scores[0], top_labels=labels, top_scores=scores,
            strategy=self.requested.name, variant=self.variant or 'minilm',
            exit_layer=self.layers_done, num_layers=(engine.models.num_layers if embedded
                                                     else 0),
            segments=list(progress.segments),
            confidence_threshold=self.strategy.confidence_threshold(resources),
            battery_fraction=resources.battery_fraction, energy_budget_mj=resources.budget_mj,
            battery_stale=resources.battery_stale, refined=progress.refinements > 0,
            energy_mj=energy, decision_ms=self.decision_s * 1e3, input_kind='text',
            reason='; '.join(self.reasons))


def _action_key(action) -> Tuple:
    if isinstance(action, RunVariant):
        return ('variant', action.variant_id)
    if isinstance(action, RunLayers):
        return ('layers', action.count, action.mode)
    if isinstance(action, Rerun):
        return ('rerun', action.first_layer, action.count, action.mode)
    return ('answer',)


def _stack(runs: List[_InputRun], layer: int) -> Tuple[torch.Tensor, TokenBatch]:
    """Hidden states after ``layer`` of several inputs, right-padded into one batch."""
    if len(runs) == 1:
        return runs[0].hidden[layer], runs[0].prepared.batch
    longest = max(run.prepared.batch.input_ids.shape[1] for run in runs)
    width = runs[0].hidden[layer].shape[-1]
    hidden = torch.zeros(len(runs), longest, width)
    ids = torch.zeros(len(runs), longest, dtype=torch.long)
    mask = torch.zeros(len(runs), longest, dtype=torch.bool)
    for row, run in enumerate(runs):
        tokens = run.prepared.batch.input_ids.shape[1]
        hidden[row, :tokens] = run.hidden[layer][0]
        ids[row, :tokens] = run.prepared.batch.input_ids[0]
        mask[row, :tokens] = True
    return hidden, TokenBatch(ids, mask)


def _run_layers(engine: TextEngine, runs: List[_InputRun], first_layer: int, count: int,
                mode: str, refined: bool, evaluate_head: bool = True) -> None:
    """Run layers ``first_layer..`` for a group of inputs that all start there."""
    if len(runs) > 1 and engine.exact_batching and mode_precision(mode) == 'int8':
        for run in runs:
            _run_layers(engine, [run], first_layer, count, mode, refined, evaluate_head)
        return
    models = engine.models
    for run in runs:
        if 0 not in run.hidden:
            run.hidden[0] = models.encoder.embed(run.prepared.batch)
    hidden, batch = _stack(runs, first_layer - 1)
    last_layer = min(models.num_layers, first_layer + count - 1)
    with torch.inference_mode():
        for layer in range(first_layer, last_layer + 1):
            hidden = models.encoder.run_layer(layer, hidden, batch, mode)
            for row, run in enumerate(runs):
                tokens = run.prepared.batch.input_ids.shape[1]
                run.hidden[layer] = hidden[row:row + 1, :tokens]
        probabilities = (models.heads.probabilities(last_layer, hidden, batch.token_mask)
                         if evaluate_head else None)
    for row, run in enumerate(runs):
        tokens = run.prepared.summary.tokens
        segment = SegmentRecord(tuple(range(first_layer, last_layer + 1)),
                                mode_precision(mode), mode_backend(mode),
                                engine.layers_energy_mj(first_layer, last_layer - first_layer
                                                        + 1, mode, tokens), refined)
        head_energy = engine.head_energy_mj(tokens) if evaluate_head else 0.0
        row_probabilities = probabilities[row] if probabilities is not None else None
        if row_probabilities is None:
            run.state = replace(run.state, progress=run.state.progress.after(
                segment, last_layer, run.state.progress.label, run.state.progress.confidence))
            run.layers_done = last_layer
        else:
            run.record(segment, last_layer, row_probabilities, head_energy)


def _run_group(engine: TextEngine, runs: List[_InputRun]) -> None:
    """Carry out the (identical) pending action of a group of inputs."""
    action = runs[0].action if runs[0].action is not None else runs[0].next_action()
    for run in runs:
        run.action = None
    if isinstance(action, Answer):
        for run in runs:
            run.reasons.append(action.reason)
            run.done = True
        return
    if isinstance(action, RunLayers):
        for run in runs:
            run.reasons.append(action.reason)
        _run_layers(engine, runs, runs[0].layers_done + 1, action.count, action.mode, False)
        return
    if isinstance(action, Rerun):
        for run in runs:
            run.reasons.append(action.reason)
        _run_layers(engine, runs, action.first_layer, action.count, action.mode, True)
        return
    _run_variant(engine, runs, action)


def _run_variant(engine: TextEngine, runs: List[_InputRun], action: RunVariant) -> None:
    """Run a whole pool variant for a group of inputs and finish them."""
    option = engine.context.pool_by_id[action.variant_id]
    variant = option.variant
    for run in runs:
        run.variant = variant.variant_id
        run.reasons.append(action.reason)
    if variant.kind == 'tfidf':
        for run in runs:
            probabilities = torch.from_numpy(np.asarray(run.prepared.cheap_probabilities,
                                                        dtype=np.float32))
            run.probabilities = probabilities
            confidence, index = torch.max(probabilities, dim=-1)
            segment = SegmentRecord((), 'fp32', 'numpy', 0.0)
            run.state = replace(run.state, progress=run.state.progress.after(
                segment, 0, engine.models.labels[int(index)], float(confidence)))
            run.done = True
        return
    first = 1
    while first <= variant.layers:
        count = min(VARIANT_SEGMENT_LAYERS, variant.layers - first + 1)
        last_segment = first + count > variant.layers
        _run_layers(engine, runs, first, count, variant.mode, False, last_segment)
        first += count
    for run in runs:
        run.done = True


def load_text_engine(directory=None, budget_model: EnergyBudgetModel = EnergyBudgetModel(),
                     threads: int = 1, profile_path=None) -> TextEngine:
    """Load models and cost profile from an artifacts folder and build the engine."""
    from .. import artifacts
    from .fuzzy_rules import load_rule_base
    from .text_models import set_torch_threads

    set_torch_threads(threads)
    models = TextModels.load(directory, ort_threads=threads)
    path = profile_path or models.directory / artifacts.COST_PROFILE
    try:
        profile = CostProfile.load(path)
    except (OSError, ValueError, KeyError) as error:
        raise artifacts.ArtifactError(models.directory, artifacts.COST_PROFILE,
                                      f'unusable ({error}); re-run `adaptive-nlp profile`'
                                      ) from None
    weights = load_rule_base().complexity_weights
    return TextEngine(models, profile, budget_model, weights)
