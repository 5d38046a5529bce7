"""
The text engine: decide how much model to spend on a command, run it, say what and why.

``TextEngine.infer`` prepares a command (tokens, the TF-IDF model's first look, the input's
complexity) and answers it through the shared segment loop (``segment_loop``) on
``TextSegments``: the backbone's layers in any execution mode, whole pool variants, and
re-runs of cached layers. A command that may be a ``stop`` (judged first by the pool's
cheapest model) never leaves early, whatever the strategy and the battery: it takes the
safety path (``strategies/safety_path.py``): every layer in a fast faithful mode, and a full
fp32 re-run whenever that pass does not answer ``stop`` but leaves it plausible.
"""

import collections
from dataclasses import dataclass
import math
import threading
import time
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import torch

from .cost_profile import CostProfile
from .decisions import DecisionState, InputSummary, Rerun, ResourceState, RunLayers, RunVariant
from .first_action import read_structured_exit
from .input_complexity import complexity_features, DEFAULT_WEIGHTS
from .parse import (draft_actions, LOOSE_STOP_ALONE, OUT_OF_SCOPE, ParsedAction, ParsedCommand,
                    segment_bound, single_action, TokenView)
from .readable_text import has_words, mask_controls
from .results import InferenceOutcome, SegmentRecord
from .segment_loop import answer_one, answer_together, InputRun, PendingParse
from .strategies import create_strategy, Strategy
from .strategies.full import FullReference
from .strategies.moe_gate import gate_features
from .strategies.safety_path import SafetyPath
from .strategies.static import STATIC_PREFIX
from .strategies.stop_look import StopLook
from .strategy_context import StrategyContext
from .text_backbone import CommandTooLongError, PackedBatch, TokenBatch
from .text_models import TextModels
from .tfidf_classifier import analyze, text_words, TfidfClassifier
from .variant_pool import mode_backend, mode_precision, TFIDF_VARIANT
from .word_tagger import word_view
from ..battery.energy_budget import EnergyBudgetModel

TOP_K = 3
SAFETY_MIN_AGREEMENT = 0.999        # dev agreement with fp32 of the exact safety variant
SAFETY_FAST_FIDELITY = 0.99         # dev agreement with fp32 of the fast safety pass
CHEAP_MEMO_SIZE = 512               # texts whose TF-IDF probabilities are remembered
WORD_MEMO_SIZE = 4096               # words outside the detector's vocabulary remembered
PADDING_SLACK = 1.5                 # a batch's rows run together within this length ratio
# An exit whose sentence head gives out_of_scope this much is always decoded (its parse
# ignores the segment tags that bound the others: TextSegments._pending_parse).
OUT_OF_SCOPE_MARGIN = 0.02
VARIANT_SEGMENT_LAYERS = 2          # how a whole-variant run is reported: segments of 2 layers


def safety_score(text: str, first_action_probability: float,
                 stop_detector: Optional[TfidfClassifier],
                 terms: Optional[Sequence[str]] = None,
                 features: Optional[Tuple[np.ndarray, np.ndarray]] = None) -> float:
    """
    How likely a command holds a ``stop``: the larger of two TF-IDF probabilities.

    The label model scores the first action only; in "stop, forget the delivery" or "go to the
    door, no wait, stop" its probability of ``stop`` is small. The detector (trained on whether
    any action is a stop) sees those; either one flags the command.

    :param terms: ``tfidf_classifier.analyze(text)`` where the caller has it already.
    :param features: the text's feature vector, where the caller has it from a model with the
        detector's vocabulary (``TfidfClassifier.same_features``).
    """
    score = float(first_action_probability)
    if stop_detector is not None:
        stop = (stop_detector.probabilities_of(*features) if features is not None
                else stop_detector.probabilities(text, terms))
        score = max(score, float(stop[-1]))
    return score


def _vocabulary_stop_table(stop_detector: Optional[TfidfClassifier]) -> Dict[str, float]:
    """
    Return the detector's stop probability of each word of its vocabulary, read alone.

    Made once (1,694 words in 0.06 s on the shipped model): the stop check reads every word
    of every command, and a cold look costs about 30 us a word, a millisecond a command.
    The detector lowercases what it reads, so the table's words are lowercase.
    """
    if stop_detector is None:
        return {}
    return {term[2:]: float(stop_detector.probabilities(term[2:])[-1])
            for term in stop_detector.vocabulary if term.startswith('w:')}


@dataclass(frozen=True)
class SafetyCheck:
    """The cheap check at receipt: may this command be a ``stop``, and how likely."""

    possible: bool                  # answer it first, at full depth
    score: float                    # the cheap models' probability of the safety label, 0..1,
    #                                 read on the whole command (the stop lane's priority)


@dataclass(frozen=True)
class PreparedText:
    """A command after the cheap first look: tokens, the TF-IDF guess and the summary."""

    text: str                            # as the models read it: control characters masked
    batch: TokenBatch
    summary: InputSummary
    cheap_probabilities: Optional[np.ndarray]
    view: Optional[TokenView] = None     # the text as received: the parse's spans index it
    masked: int = 0                      # control characters masked (readable_text)


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
        fast_mode = self._safety_fast_mode()
        if self.safety_override:
            self.context = self.context.with_stop_look(fast_mode)
        self.full = FullReference(self.context)
        self.safety_index = models.safety_index
        self.out_of_scope_index = (models.labels.index(OUT_OF_SCOPE)
                                   if OUT_OF_SCOPE in models.labels else None)
        scheme = models.heads.scheme if models.heads.structured else None
        self.safety_intent_index = (scheme.intents.index(models.safety_label)
                                    if scheme is not None
                                    and models.safety_label in scheme.intents else None)
        self.safety = SafetyPath(self.context, fast_mode,
                                 self.context.pool_by_id[self._safety_variant()].variant.mode,
                                 models.safety_label or '', models.safety_threshold,
                                 models.safety_release)
        self.stop_look = StopLook(self.context, self.safety.fast_mode)
        self._labels = models.labels
        self._cheap_memo: 'collections.OrderedDict[str, Tuple[np.ndarray, SafetyCheck]]' = \
            collections.OrderedDict()
        self._cheap_lock = threading.Lock()
        # Both TF-IDF models are fitted on the same texts with the same analyzer: one
        # feature vector then serves both (checked, not assumed: a user's models may differ).
        self._detector_shares_features = (
            models.tfidf is not None and models.stop_detector is not None
            and models.tfidf.same_features(models.stop_detector))
        # A word between actions that reads as a stop alone is one (parse.loose_safety).
        self._word_stop_table = _vocabulary_stop_table(models.stop_detector)
        self._sure_stop_words = {word: probability for word, probability
                                 in self._word_stop_table.items()
                                 if probability >= LOOSE_STOP_ALONE}
        self._word_stop_memo: Dict[str, float] = {}
        self.stop_probability = (self.word_stop_probability
                                 if models.stop_detector is not None else None)
        self.segments = TextSegments(self)

    def stop_word_score(self, text: str) -> float:
        """
        Return the detector's score of the first word it reads alone as surely a stop, else 0.

        The detector reads whole commands, where one stop word among many task words weighs
        little: "go to the kitchen halt bring me the keys" scores 0.002 against a threshold
        of 0.02, while ``halt`` alone reads 1.00. A word read at ``LOOSE_STOP_ALONE`` or more
        flags the command; the safety path's release then returns the non-stops among them
        ("hold the cup", "stay with me") to their strategy. Only the detector's vocabulary
        words are looked up (22 of its 1,694 on the shipped model), so the look costs set
        lookups, not a detector pass per word; a misspelling it never saw is left to its
        reading of the whole command.
        """
        sure = self._sure_stop_words
        for word in text_words(text):                   # as the detector splits them
            probability = sure.get(word)
            if probability is not None:
                return probability
        return 0.0

    def word_stop_probability(self, word: str) -> float:
        """
        Return how likely the stop detector reads this one word alone as a stop.

        The detector's own vocabulary words are read from a table made at start-up
        (``_vocabulary_stop_table``); another word (a misspelling, a name) costs one look of
        about 30 us, remembered up to ``WORD_MEMO_SIZE`` words until ``clear_caches``.
        """
        word = word.lower()
        probability = self._word_stop_table.get(word)
        if probability is None:
            probability = self._word_stop_memo.get(word)
        if probability is None:
            probability = float(self.models.stop_detector.probabilities(word)[-1])
            if len(self._word_stop_memo) < WORD_MEMO_SIZE:
                self._word_stop_memo[word] = probability
        return probability

    @property
    def safety_label(self) -> str:
        """Return the label the stop check guards ('' when the model has none)."""
        return self.models.safety_label or ''

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
        """
        Tokenize, run the TF-IDF model once, and summarize the input's complexity.

        The models read the text with its control characters masked (``readable_text``);
        the parse reads its spans from the text as received (the offsets are the same).

        :raises CommandTooLongError: for text longer than the backbone reads (the controller
            and the expert server refuse it at receipt: ``too_long_reason``).
        """
        received = text
        text, masked = mask_controls(text)
        tokenizer = self.models.tokenizer
        encoding = tokenizer.encoding(text)
        reason = tokenizer.pieces_over_limit(len(encoding.ids))
        if reason is not None:
            raise CommandTooLongError(reason)
        view = TokenView.of_encoding(received, encoding)
        ids = torch.tensor([encoding.ids], dtype=torch.long)
        batch = TokenBatch(ids, torch.ones_like(ids, dtype=torch.bool))
        probabilities = None
        cheap_label, cheap_confidence, possible_safety = '', math.nan, False
        if self.models.tfidf is not None:
            probabilities, check = self._cheap_look(text)
            best = int(probabilities.argmax())
            cheap_label, cheap_confidence = self._labels[best], float(probabilities[best])
            possible_safety = check.possible
        features = complexity_features(text, encoding.tokens[1:-1], probabilities)
        summary = InputSummary('text', len(encoding.ids),
                               features.score(self.complexity_weights), cheap_label,
                               cheap_confidence, possible_safety,
                               gate_features(features, probabilities))
        return PreparedText(text, batch, summary, probabilities, view, masked)

    def too_long_reason(self, text: str) -> Optional[str]:
        """Return why the model cannot read the whole text (refused at receipt), or None."""
        return self.models.tokenizer.too_long_reason(mask_controls(text)[0])

    def safety_check(self, text: str) -> SafetyCheck:
        """
        Judge at receipt whether a command may be a ``stop`` (the TF-IDF model alone, ~0.1 ms).

        Without a safety label (artifacts trained on labels without ``stop``) nothing is a
        possible stop. Without the TF-IDF model (failed to load: a reported model problem)
        every command is, with score 0: fail safe, the controller then keeps them all in its
        bounded priority lane rather than risk dropping a real stop as ordinary.
        """
        text = mask_controls(text)[0]
        if not self.safety_override or not has_words(text):
            return SafetyCheck(False, 0.0)
        if self.models.tfidf is None:
            return SafetyCheck(True, 0.0)
        return self._cheap_look(text)[1]

    def clear_caches(self) -> None:
        """
        Forget the remembered TF-IDF answers (``_cheap_look``, ``word_stop_probability``).

        The table of the detector's vocabulary words stays: it is the model's, not a look
        at any command.

        A cache is fair only across distinct commands: a benchmark that answers the same
        command again (another strategy, another pass) clears it first, so every timed
        answer pays for its TF-IDF look.
        """
        with self._cheap_lock:
            self._cheap_memo.clear()
        self._word_stop_memo.clear()

    def _cheap_look(self, text: str) -> Tuple[np.ndarray, SafetyCheck]:
        """
        Return the TF-IDF model's probabilities and the stop check, remembered for recent texts.

        One analysis of the text serves both TF-IDF models. The controller runs the stop check
        at receipt and the inference later, on another thread; the bounded memo spares the
        second look for every queued command.
        """
        with self._cheap_lock:
            look = self._cheap_memo.get(text)
            if look is not None:
                self._cheap_memo.move_to_end(text)
                return look
        terms = analyze(text)
        features = self.models.tfidf.features(text, terms)
        probabilities = self.models.tfidf.probabilities_of(*features)
        check = SafetyCheck(False, 0.0)
        if self.safety_override:
            score = safety_score(text, probabilities[self.safety_index],
                                 self.models.stop_detector, terms,
                                 features if self._detector_shares_features else None)
            # One sure stop word flags the command but keeps the whole command's score: a
            # full stop lane then demotes it ("hold the cup") before any command the
            # detector reads as a stop as a whole.
            check = SafetyCheck(score >= self.models.safety_threshold
                                or self.stop_word_score(text) > 0.0, score)
        look = (probabilities, check)
        with self._cheap_lock:
            self._cheap_memo[text] = look
            if len(self._cheap_memo) > CHEAP_MEMO_SIZE:
                self._cheap_memo.popitem(last=False)
        return look

    # -- inference ----------------------------------------------------------------------

    def infer(self, text: str, strategy: Strategy, resources: ResourceState) -> InferenceOutcome:
        """Answer one command; latency counts from this call (tokenization included)."""
        start = time.perf_counter()
        prepared = self.prepare(text)
        if self._has_nothing_to_read(prepared):
            outcome = self._no_words_outcome(prepared, strategy, resources)
        else:
            outcome = self._outcome(answer_one(self.segments,
                                               self._start(prepared, strategy, resources)))
        outcome.latency_ms = (time.perf_counter() - start) * 1e3
        return outcome

    def infer_batch(self, texts: Sequence[str], strategy: Strategy,
                    resources: ResourceState) -> List[InferenceOutcome]:
        """
        Answer several commands, batching the steps they share (see ``TextSegments``).

        Each input follows its own decisions; inputs whose next step is the same run
        together. Latency is the batch's wall time divided evenly.
        """
        start = time.perf_counter()
        prepared = [self.prepare(text) for text in texts]
        outcomes: List[Optional[InferenceOutcome]] = [
            self._no_words_outcome(one, strategy, resources)
            if self._has_nothing_to_read(one) else None for one in prepared]
        readable = [row for row, outcome in enumerate(outcomes) if outcome is None]
        runs = [self._start(prepared[row], strategy, resources) for row in readable]
        for row, run in zip(readable, answer_together(self.segments, runs)):
            outcomes[row] = self._outcome(run)
        for outcome in outcomes:
            outcome.latency_ms = (time.perf_counter() - start) * 1e3 / max(1, len(outcomes))
        return outcomes

    def _start(self, prepared: PreparedText, strategy: Strategy,
               resources: ResourceState) -> InputRun:
        """Return the loop's run of one prepared command: possible stops take the safety path."""
        reasons = []
        if prepared.masked:
            reasons.append(f'{prepared.masked} control character(s) masked')
        effective, release_to = strategy, None
        if prepared.summary.possible_safety_label and strategy.name != self.full.name:
            effective, release_to = self.safety, strategy
            reasons.append(f'possible {self.models.safety_label} (p >= '
                           f'{self.models.safety_threshold:.2f}): safety override')
        escalation = (self.safety if self.safety_override and effective is strategy
                      and strategy.name != self.full.name else None)
        look = (self.stop_look if escalation is not None
                and not strategy.name.startswith(STATIC_PREFIX) else None)
        return InputRun(effective, DecisionState(resources, prepared.summary), self._labels,
                        self.models.num_layers, prepared, reasons, self.safety_index,
                        requested=strategy.name, safety=escalation, release_to=release_to,
                        look=look)

    def _has_nothing_to_read(self, prepared: PreparedText) -> bool:
        """Return True for a text without a letter or digit, where out_of_scope answers it."""
        return self.out_of_scope_index is not None and not has_words(prepared.text)

    def _no_words_outcome(self, prepared: PreparedText, strategy: Strategy,
                          resources: ResourceState) -> InferenceOutcome:
        """Answer a text without a letter or digit: out_of_scope, no argument, no model run."""
        return InferenceOutcome(
            label=OUT_OF_SCOPE, confidence=1.0, top_labels=[OUT_OF_SCOPE], top_scores=[1.0],
            strategy=strategy.name, variant='', exit_layer=0, num_layers=0,
            battery_fraction=resources.battery_fraction, energy_budget_mj=resources.budget_mj,
            battery_stale=resources.battery_stale, input_kind='text',
            reason='no letter or digit in the text: nothing to act on (no model ran)',
            actions=[ParsedAction(OUT_OF_SCOPE, 1.0)])

    def _outcome(self, run: InputRun) -> InferenceOutcome:
        """Return the result object of a finished run."""
        run.settle()
        labels, scores = self.top_k(run.probabilities)
        parse = run.parse or single_action(labels[0], scores[0])
        progress = run.progress
        resources = run.state.resources
        embedded = any(segment.layers for segment in progress.segments)
        energy = progress.energy_spent_mj + self.input_energy_mj(run.state.command.tokens,
                                                                 embedded)
        return InferenceOutcome(
            label=labels[0], confidence=scores[0], top_labels=labels, top_scores=scores,
            strategy=run.requested, variant=run.variant or 'minilm',
            exit_layer=run.layers_done,
            num_layers=self.models.num_layers if embedded else 0,
            segments=list(progress.segments),
            confidence_threshold=run.strategy.confidence_threshold(resources),
            battery_fraction=resources.battery_fraction, energy_budget_mj=resources.budget_mj,
            battery_stale=resources.battery_stale, refined=progress.refinements > 0,
            energy_mj=energy, decision_ms=run.decision_s * 1e3, input_kind='text',
            reason='; '.join(run.reasons), actions=list(parse.actions))

    # -- costs --------------------------------------------------------------------------

    def layers_energy_mj(self, first_layer: int, count: int, mode: str, tokens: int) -> float:
        """Profiled energy of a run of layers in one mode."""
        return self.context.mode_by_name[mode].energy_mj(first_layer, count, tokens)

    def word_tagger_energy_mj(self, tokens: int) -> float:
        """Profiled energy of the word tagger (0 without one, or in an older profile)."""
        if self.models.word_tagger is None or 'word_tagger' not in self.profile:
            return 0.0
        return self.profile.energy_mj('word_tagger', tokens)

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


class TextSegments:
    """
    The text backbone as the segment loop runs it: layers in any mode, pool variants, reruns.

    Each layer's hidden state is kept per input (``InputRun.hidden``), so a ``Rerun`` re-runs
    only what it says from the cached state before it. Dynamic int8 quantizes activations
    with one scale per call, so a batch would see slightly different numbers than each input
    alone: with ``exact_batching`` (the default) int8 layers run input by input, and batched
    labels equal one-at-a-time labels. Other inputs that run together in a torch mode are
    packed end to end (``PackedBatch``: no padding); in an ONNX Runtime mode, whose sessions
    take a padded batch, they run in groups of similar length (``length_groups``).
    """

    def __init__(self, engine: 'TextEngine') -> None:
        self.engine = engine
        self.models = engine.models
        self.num_layers = engine.models.num_layers
        self.labels = engine.models.labels
        tagger, safety_label = engine.models.word_tagger, engine.models.safety_label
        # The word tagger's own intent order: its index of the safety label (None: none).
        self.tagger_safety_intent = (
            tagger.scheme.intents.index(safety_label)
            if tagger is not None and safety_label in tagger.scheme.intents else None)

    def cheapest_answer(self) -> RunVariant:
        """Answer with the TF-IDF model when it is loaded, else the cheapest pool variant."""
        variant = (TFIDF_VARIANT if self.models.tfidf is not None
                   else self.engine.context.cheapest().variant_id)
        return RunVariant(variant, 'answered before any layer ran: cheapest variant')

    def carry_out(self, runs: List[InputRun], action) -> None:
        """Run one action for a group of inputs that all decided it."""
        if isinstance(action, RunVariant):
            self._run_variant(runs, action)
        elif isinstance(action, RunLayers):
            self._run_layers(runs, runs[0].layers_done + 1, action.count, action.mode, False)
        elif isinstance(action, Rerun):
            self._run_layers(runs, action.first_layer, action.count, action.mode, True)

    def _run_layers(self, runs: List[InputRun], first_layer: int, count: int, mode: str,
                    refined: bool, read_exit: bool = True) -> None:
        """Run layers ``first_layer ..`` in ``mode`` for inputs that all start there."""
        engine = self.engine
        if len(runs) > 1 and engine.exact_batching and mode_precision(mode) == 'int8':
            for run in runs:
                self._run_layers([run], first_layer, count, mode, refined, read_exit)
            return
        packed = len(runs) > 1 and mode_backend(mode) == 'torch'
        if len(runs) > 1 and not packed:
            groups = length_groups([run.item.batch.input_ids.shape[1] for run in runs])
            if len(groups) > 1:
                for group in groups:
                    self._run_layers([runs[row] for row in group], first_layer, count, mode,
                                     refined, read_exit)
                return
        encoder = self.models.encoder
        for run in runs:
            if 0 not in run.hidden:
                run.hidden[0] = encoder.embed(run.item.batch)
        last_layer = min(self.num_layers, first_layer + count - 1)
        with torch.inference_mode():
            if packed:
                hidden, token_mask = self._packed_layers(runs, first_layer, last_layer, mode)
            else:
                hidden, batch = _stack(runs, first_layer - 1)
                for layer in range(first_layer, last_layer + 1):
                    hidden = encoder.run_layer(layer, hidden, batch, mode)
                    for row, run in enumerate(runs):
                        tokens = run.item.batch.input_ids.shape[1]
                        run.hidden[layer] = hidden[row:row + 1, :tokens]
                token_mask = batch.token_mask
            probabilities = tags = None
            if read_exit:
                heads = self.models.heads
                probabilities = heads.probabilities(last_layer, hidden, token_mask)
                if heads.structured:
                    tags = heads.token_probabilities(last_layer, hidden)
        layers = tuple(range(first_layer, last_layer + 1))
        for row, run in enumerate(runs):
            tokens = run.state.command.tokens
            segment = SegmentRecord(layers, mode_precision(mode), mode_backend(mode),
                                    engine.layers_energy_mj(first_layer, len(layers), mode,
                                                            tokens), refined)
            row_probabilities = probabilities[row] if probabilities is not None else None
            parse = safety = pending = None
            action_safety = math.nan
            if tags is not None:
                sentence = row_probabilities
                row_tags = [part[row] for part in tags]
                pending = self._pending_parse(run, sentence, row_tags, last_layer)
                if pending is None:
                    row_probabilities, parse = self._parse(run, sentence, row_tags)
                    safety = self._safety(sentence, row_probabilities)
                elif engine.safety_index is not None:
                    safety = float(sentence[engine.safety_index])
                if engine.safety_intent_index is not None:
                    action_safety = self._action_safety(run, row_tags[2])
            run.record(segment, last_layer, row_probabilities,
                       engine.head_energy_mj(tokens) if read_exit else 0.0, parse, safety,
                       action_safety, pending)

    def _packed_layers(self, runs: List[InputRun], first_layer: int, last_layer: int,
                       mode: str) -> Tuple[torch.Tensor, torch.Tensor]:
        """
        Run layers ``first_layer .. last_layer`` for several inputs packed end to end.

        Keep each input's state after every layer (a view) and return the last one padded,
        with its token mask, for the exit heads.
        """
        encoder = self.models.encoder
        packing = PackedBatch.of([run.item.batch.input_ids.shape[1] for run in runs])
        hidden = packing.pack([run.hidden[first_layer - 1] for run in runs])
        for layer in range(first_layer, last_layer + 1):
            hidden = encoder.run_layer(layer, hidden, packing, mode)
            for row, run in enumerate(runs):
                run.hidden[layer] = packing.row(hidden, row)
        return packing.unpack(hidden)

    def _safety(self, sentence: torch.Tensor, joint: torch.Tensor) -> Optional[float]:
        """Return the safety label's probability at an exit: asking both heads never lowers it."""
        index = self.engine.safety_index
        return None if index is None else float(max(sentence[index], joint[index]))

    def _pending_parse(self, run: InputRun, sentence: torch.Tensor, tags,
                       layer: int) -> Optional[PendingParse]:
        """
        Return the exit's parse left undecoded, when the strategy cannot leave there anyway.

        Where its segment tags bound the parse's confidence below the strategy's
        ``exit_parse_floor``, the exit is not decoded unless the strategy answers there
        (``InputRun.settle``); the last layer is always decoded. The bound does not hold for
        an ``out_of_scope`` label, so an exit whose sentence head gives that label
        ``OUT_OF_SCOPE_MARGIN`` or more is decoded too (on dev, every exit the bound would
        have wrongly held back was one the sentence head already read as out_of_scope).
        """
        floor = run.strategy.exit_parse_floor(run.state.resources)
        if floor is None or layer >= self.num_layers:
            return None
        out_of_scope = self.engine.out_of_scope_index
        if out_of_scope is not None and float(sentence[out_of_scope]) >= OUT_OF_SCOPE_MARGIN:
            return None
        pieces = run.item.batch.input_ids.shape[1]
        bound = segment_bound(run.item.view, tags[0][1:pieces - 1].numpy())
        if bound >= floor:
            return None
        return PendingParse(bound, lambda: self._decode_pending(run, sentence, tags))

    def _decode_pending(self, run: InputRun, sentence: torch.Tensor, tags) -> None:
        """Decode an exit left pending and give the run what it says."""
        joint, parse = self._parse(run, sentence, tags)
        safety = self._safety(sentence, joint)
        run.reread(joint, parse, math.nan if safety is None else safety)

    def _action_safety(self, run: InputRun, intents: torch.Tensor) -> float:
        """Return the token intent head's largest probability of the safety label (any piece)."""
        pieces = run.item.batch.input_ids.shape[1]
        if pieces <= 2:
            return 0.0
        return float(intents[1:pieces - 1, self.engine.safety_intent_index].max())

    def _parse(self, run: InputRun, probabilities: torch.Tensor, tags
               ) -> Tuple[torch.Tensor, ParsedCommand]:
        """
        Read one input's exit with its token tags ([CLS] and [SEP] cut off).

        Return the label distribution (both heads asked:
        ``first_action.read_structured_exit``) and the parse.
        """
        pieces = run.item.batch.input_ids.shape[1]
        segment, roles, intents = (part[1:pieces - 1].numpy() for part in tags)
        joint, parse = read_structured_exit(run.item.view, probabilities.numpy(), segment,
                                            roles, intents, self.models.heads.scheme,
                                            self.labels, self.engine.safety_index,
                                            self.engine.stop_probability)
        return torch.from_numpy(joint), parse

    def _tagged_parse(self, run: InputRun, probabilities: torch.Tensor
                      ) -> Tuple[torch.Tensor, Optional[ParsedCommand]]:
        """
        Decode the TF-IDF answer's actions from the word tagger (None: no tagger).

        Return the label distribution too: the first action's roles weigh it as at an exit
        (``TagScheme.fit_to_roles``), and the label stays the first action's intent.
        """
        tagger = self.models.word_tagger
        view = run.item.view
        if tagger is None or view is None or not len(view.offsets):
            return probabilities, None
        words = word_view(view)
        segment, roles, intents = tagger.probabilities(view.text, words.offsets)
        best, index = torch.max(probabilities, dim=-1)
        label = self.labels[int(index)]
        draft = (None if label == OUT_OF_SCOPE
                 else draft_actions(words, segment, roles, intents, tagger.scheme,
                                    self.tagger_safety_intent, self.engine.stop_probability))
        if draft is None:
            return probabilities, single_action(label, float(best))
        distribution = probabilities.numpy()
        fitted = tagger.scheme.fit_to_roles(distribution, draft.actions[0].arguments)
        if fitted is not distribution:
            probabilities = torch.from_numpy(fitted.astype(np.float32))
        index = int(fitted.argmax())
        return probabilities, draft.finish(self.labels[index], float(fitted[index]))

    def _run_variant(self, runs: List[InputRun], action: RunVariant) -> None:
        """Run a whole pool variant for a group of inputs (reported in segments of 2 layers)."""
        variant = self.engine.context.pool_by_id[action.variant_id].variant
        for run in runs:
            run.variant = variant.variant_id
        if variant.kind == 'tfidf':
            for run in runs:
                probabilities = torch.from_numpy(np.asarray(run.item.cheap_probabilities,
                                                            dtype=np.float32))
                energy = self.engine.word_tagger_energy_mj(run.state.command.tokens)
                probabilities, parse = self._tagged_parse(run, probabilities)
                run.record(SegmentRecord((), 'fp32', 'numpy', energy), 0, probabilities, 0.0,
                           parse)
            return
        first = 1
        while first <= variant.layers:
            count = min(VARIANT_SEGMENT_LAYERS, variant.layers - first + 1)
            self._run_layers(runs, first, count, variant.mode, False,
                             read_exit=first + count > variant.layers)
            first += count


def length_groups(lengths: Sequence[int], slack: float = PADDING_SLACK) -> List[List[int]]:
    """
    Split a batch's rows into runs of similar length, shortest first (row indices).

    For ONNX Runtime layers, which take a padded batch (torch layers take a packed one).

    A row joins the group of the shorter ones before it while the group's longest row is at
    most ``slack`` times its shortest (plus 4 tokens). Padding a batch to its longest command
    wastes the pass on padding, splitting it finely loses what batching gains: 256 held-out
    commands in batches of 8 as they came, ``full``, interleaved, ms per command: 8.73 one at a
    time, 7.14 batched whole, 6.60 / 6.16 / 6.14 in groups within 1.25x / 1.5x / 2x.
    """
    order = sorted(range(len(lengths)), key=lengths.__getitem__)
    groups: List[List[int]] = []
    for row in order:
        if groups and lengths[row] <= slack * lengths[groups[-1][0]] + 4:
            groups[-1].append(row)
        else:
            groups.append([row])
    return groups


def _stack(runs: List[InputRun], layer: int) -> Tuple[torch.Tensor, TokenBatch]:
    """Hidden states after ``layer`` of several inputs, right-padded into one batch."""
    if len(runs) == 1:
        return runs[0].hidden[layer], runs[0].item.batch
    longest = max(run.item.batch.input_ids.shape[1] for run in runs)
    width = runs[0].hidden[layer].shape[-1]
    hidden = torch.zeros(len(runs), longest, width)
    ids = torch.zeros(len(runs), longest, dtype=torch.long)
    mask = torch.zeros(len(runs), longest, dtype=torch.bool)
    for row, run in enumerate(runs):
        tokens = run.item.batch.input_ids.shape[1]
        hidden[row, :tokens] = run.hidden[layer][0]
        ids[row, :tokens] = run.item.batch.input_ids[0]
        mask[row, :tokens] = True
    return hidden, TokenBatch(ids, mask)


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
