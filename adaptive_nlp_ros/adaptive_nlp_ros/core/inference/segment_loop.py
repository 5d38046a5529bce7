"""
The per-command segment loop every strategy shares, for text and images alike.

For one input: ask the strategy for an action; carry it out (a whole pool variant, the next
layers in an execution mode, or a re-run of cached layers at higher fidelity); note what ran
and what the exit head said; ask again with the progress so far, until the strategy
answers. ``answer_one`` is that loop, as it reads::

    while True:
        action = run.decide(network)
        if isinstance(action, Answer):
            break
        network.carry_out([run], action)       # runs the segment, reads the exit, records
        if isinstance(action, RunVariant) and not run.escalate():
            break

``answer_together`` serves several inputs with the same two steps: each round, every
unfinished input decides, inputs whose next action is the same step run as one batch, and
each records its own progress. ``InputRun.record`` is the only place progress changes (with
``reread``, which gives an exit left undecoded its parse before anything answers there), and
``InputRun.decide`` and ``InputRun.escalate`` the only places the loop overrides a strategy
(documented there): beyond the last layer, an answer before any exit, a plausible stop
(escalate), a flagged command released from the safety path, and a whole variant asked for
after layers already ran (released: resumed from the layers run).
The network is the text backbone (``engine.TextSegments``) or the image BranchyNet
(``image_engine.ImageSegments``).
"""

from dataclasses import dataclass, replace
import math
import time
from typing import Callable, Dict, List, Optional, Protocol, Sequence, Tuple

import torch

from .decisions import Action, Answer, DecisionState, Progress, Rerun, RunLayers, RunVariant
from .parse import ParsedCommand
from .results import SegmentRecord
from .strategies.base import Strategy
from .strategies.safety_path import SafetyPath


ESCALATION_RANK = 3        # stop among the exit's likeliest labels (as many as a result shows)


@dataclass(frozen=True)
class PendingParse:
    """An exit read without decoding its parse: how sure it can be, and how to decode it."""

    bound: float                       # no parse of this exit is surer (parse.segment_bound)
    decode: Callable[[], None]         # decodes it and calls ``InputRun.reread``


class SegmentedNetwork(Protocol):
    """What the loop needs from a network cut into segments with an exit after each."""

    def carry_out(self, runs: List['InputRun'], action: Action) -> None:
        """Run ``action`` (RunVariant, RunLayers or Rerun) for each run of a group."""

    def cheapest_answer(self) -> RunVariant:
        """Return the action that answers when a strategy answers before any exit ran."""


class InputRun:
    """One input inside the loop: what its strategy sees, what ran, the cached states."""

    def __init__(self, strategy: Strategy, state: DecisionState, labels: Sequence[str],
                 num_layers: int, item: object = None, reasons: Sequence[str] = (),
                 safety_index: Optional[int] = None, requested: str = '',
                 safety: Optional[SafetyPath] = None,
                 release_to: Optional[Strategy] = None,
                 look: Optional[Strategy] = None) -> None:
        """
        Start with nothing run.

        :param item: what the network runs on (a prepared text, a preprocessed image).
        :param reasons: what was decided before the loop (the safety override).
        :param safety_index: the label whose probability the progress tracks (stop).
        :param requested: the strategy asked for, when ``strategy`` stands in for it.
        :param safety: the safety path that takes over an answer leaving the safety label
            plausible (``escalate``); None: never (the reference, or already on it).
        :param release_to: the strategy asked for, when ``strategy`` is the safety path a
            flagged command starts on: the run goes back to it when the path's first exit
            releases it (``SafetyPath.release_reason``).
        :param look: reads one backbone layer after an answer that ran none
            (``strategies.stop_look``); None: never.
        """
        self.strategy = strategy
        self.requested = requested or strategy.name
        self.state = state
        self.labels = labels
        self.num_layers = num_layers
        self.item = item
        self.reasons: List[str] = list(reasons)
        self.safety_index = safety_index
        self.hidden: Dict[int, torch.Tensor] = {}    # layer -> state after it (0: the input)
        self.probabilities: Optional[torch.Tensor] = None
        self.parse: Optional[ParsedCommand] = None     # the latest exit's parse (text)
        self.variant = ''
        self.decision_s = 0.0      # time inside the strategies' decide calls (see decide)
        self._rounds = 0
        self._safety = safety
        self._release_to = release_to
        self._look = look
        self._kept: Optional[Tuple[Strategy, Optional[torch.Tensor], Optional[ParsedCommand],
                                   Progress]] = None   # the answer set aside during a look
        self._pending: Optional[PendingParse] = None   # the latest exit, not decoded yet

    @property
    def progress(self) -> Progress:
        """Return what has run so far."""
        return self.state.progress

    @property
    def layers_done(self) -> int:
        """Return the number of layers the latest exit read."""
        return self.state.progress.layers_done

    def decide(self, network: SegmentedNetwork) -> Action:
        """
        Ask the strategy for the next action, noting its reason.

        The loop overrides it in these cases only: layers asked for beyond the last one (or a
        strategy that never answers) become ``Answer``; an ``Answer`` before any exit ran
        becomes the network's cheapest way to an answer; a flagged command the safety path's
        first exit releases is asked of its own strategy (``_release``), and a whole variant
        that strategy picks then resumes from the layers run (``_resume``).

        ``decision_s`` adds up the time of every ``decide`` call (the safety path's after an
        escalation too) and nothing else: not the overrides, not running a segment, not
        reading an exit or decoding its parse.
        """
        self._rounds += 1
        if self._release_to is not None and self.layers_done:
            self._release()
        action = self._ask()
        if isinstance(action, RunVariant) and self.layers_done:
            action = self._resume(action)
        if isinstance(action, RunLayers) and (self.layers_done >= self.num_layers
                                              or self._rounds > 4 * self.num_layers + 4):
            action = Answer('no layers left')
        if isinstance(action, Answer) and self.probabilities is None:
            action = network.cheapest_answer()
        if isinstance(action, Answer) and self.escalate():
            action = self._ask()
        if isinstance(action, Answer) and self._kept is not None:
            self._restore()
        if action.reason:
            self.reasons.append(action.reason)
        return action

    def _release(self) -> None:
        """
        At the safety path's first exit, hand a flagged command back to its strategy if due.

        Judged once. A released run can come back to the safety path like any other
        (``escalate``), so a stop that becomes plausible later still takes it.
        """
        strategy, self._release_to = self._release_to, None
        reason = self.strategy.release_reason(self.state.progress)
        if reason is None:
            return
        self._safety, self.strategy = self.strategy, strategy
        self.reasons.append(reason)

    def _resume(self, action: RunVariant) -> Action:
        """
        Carry out a whole variant asked for after layers ran (a released run) from those layers.

        The variant's remaining layers run in its mode; a variant no deeper than what ran
        (or not the backbone) is answered by the exit already read.
        """
        variant = self.strategy.context.pool_by_id[action.variant_id].variant
        done = self.layers_done
        if variant.kind != 'minilm' or variant.layers <= done:
            return Answer(f'{action.reason}; layer {done} already read: answered there')
        return RunLayers(variant.layers - done, variant.mode,
                         f'{action.reason}; layers {done + 1}-{variant.layers} after the '
                         f'{done} already run')

    def _ask(self) -> Action:
        """Return the strategy's action for the state so far, timed into ``decision_s``."""
        start = time.perf_counter()
        action = self.strategy.decide(self.state)
        self.decision_s += time.perf_counter() - start
        return action

    def _safety_rank(self) -> int:
        """Return how many labels the latest exit finds likelier than the safety label."""
        probabilities = self.probabilities
        if probabilities is None or self.safety_index is None:
            return len(self.labels)
        return int((probabilities > probabilities[self.safety_index]).sum())

    def escalate(self) -> bool:
        """
        Hand the run to the safety path when its answer leaves the safety label plausible.

        The third override: an answer that is not ``stop`` while stop is among the exit's
        ``ESCALATION_RANK`` likeliest labels with at least the stop check's threshold (a stop
        the check at receipt missed, cut short by a low threshold or an empty budget)
        continues on the safety path, as a flagged command would have from the start. The
        rank keeps one-layer exits, whose distributions are flat, from escalating one command
        in five at an empty budget (measured: 18% on the test split by the threshold alone,
        4.5% with the rank, the same stops caught). Return True when it did.
        """
        self.settle()
        safety = self._safety
        progress = self.state.progress
        if safety is None or math.isnan(progress.safety_probability):
            return False
        if progress.label == safety.safety_label and self._kept is None:
            return False                # answered stop (a look's stop goes on to be sure)
        if (progress.safety_probability < safety.threshold
                or self._safety_rank() >= ESCALATION_RANK):
            return self._start_look()
        self._safety, self._kept = None, None
        self.strategy = safety
        self.reasons.append(f'{safety.safety_label} plausible after layer '
                            f'{progress.layers_done} (p={progress.safety_probability:.3f}): '
                            'safety path')
        return True

    def _start_look(self) -> bool:
        """
        After an answer that ran no backbone layer, read one before it stands (once).

        The answer is set aside with its strategy; ``_restore`` brings it back when the look's
        exit does not escalate. Return True when the look starts.
        """
        look, self._look = self._look, None
        if look is None or self.layers_done or self.probabilities is None:
            return False
        self._kept = (self.strategy, self.probabilities, self.parse, self.state.progress)
        self.strategy = look
        return True

    def _restore(self) -> None:
        """End a look that found no plausible stop: the answer set aside stands."""
        strategy, probabilities, parse, before = self._kept
        self._kept = None
        self.strategy, self.probabilities, self.parse = strategy, probabilities, parse
        self.state = replace(self.state, progress=replace(
            self.state.progress, layers_done=before.layers_done, label=before.label,
            confidence=before.confidence, safety_probability=before.safety_probability,
            parse_confidence=before.parse_confidence,
            action_safety_probability=before.action_safety_probability))
        self.reasons.append('layer 1 finds no stop: the answer stands')

    def record(self, segment: SegmentRecord, layers_done: int,
               probabilities: Optional[torch.Tensor], head_energy_mj: float = 0.0,
               parse: Optional[ParsedCommand] = None,
               safety_probability: Optional[float] = None,
               action_safety_probability: float = math.nan,
               pending: Optional[PendingParse] = None) -> None:
        """
        Note a segment that ran and, when its exit was read, what the exit said.

        :param safety_probability: how plausible the safety label is, where the network
            judges it otherwise than by ``probabilities`` (default: their safety entry).
        :param action_safety_probability: how plausible it is as any action (token heads).
        :param pending: the exit's parse was not decoded (``parse`` is None): its bound
            stands for the parse's confidence until ``settle`` decodes it.
        """
        self._pending = pending
        progress = self.state.progress
        label, confidence, safety = progress.label, progress.confidence, math.nan
        parse_confidence = progress.parse_confidence
        if probabilities is not None:
            self.probabilities = probabilities
            best, index = torch.max(probabilities, dim=-1)
            label, confidence = self.labels[int(index)], float(best)
            if safety_probability is not None:
                safety = float(safety_probability)
            elif self.safety_index is not None:
                safety = float(probabilities[self.safety_index])
            self.parse = parse
            parse_confidence = (parse.confidence if parse is not None
                                else pending.bound if pending is not None else math.nan)
        self.state = replace(self.state, progress=progress.after(
            segment, layers_done, label, confidence, head_energy_mj, safety,
            parse_confidence, action_safety_probability if probabilities is not None
            else math.nan))

    def settle(self) -> None:
        """Decode the latest exit's parse if it was left pending: before anything answers."""
        pending, self._pending = self._pending, None
        if pending is not None:
            pending.decode()

    def reread(self, probabilities: torch.Tensor, parse: ParsedCommand,
               safety_probability: float) -> None:
        """Replace what the latest exit said (its decoded parse); nothing more ran."""
        self.probabilities, self.parse = probabilities, parse
        best, index = torch.max(probabilities, dim=-1)
        self.state = replace(self.state, progress=replace(
            self.state.progress, label=self.labels[int(index)], confidence=float(best),
            safety_probability=float(safety_probability), parse_confidence=parse.confidence))


def answer_one(network: SegmentedNetwork, run: InputRun) -> InputRun:
    """Run the loop for one input until its strategy answers; return the run."""
    while True:
        action = run.decide(network)
        if isinstance(action, Answer):
            break
        network.carry_out([run], action)
        if isinstance(action, RunVariant) and not run.escalate():
            break
    return run


def answer_together(network: SegmentedNetwork, runs: List[InputRun]) -> List[InputRun]:
    """Run the loop for several inputs, each its own decisions, shared steps batched."""
    pending = list(runs)
    while pending:
        groups: Dict[Tuple, Tuple[Action, List[InputRun]]] = {}
        unfinished = []
        for run in pending:
            action = run.decide(network)
            if isinstance(action, Answer):
                continue
            groups.setdefault(step_key(run, action), (action, []))[1].append(run)
            if not isinstance(action, RunVariant):
                unfinished.append(run)
        for action, members in groups.values():
            network.carry_out(members, action)
            if isinstance(action, RunVariant):
                unfinished.extend(run for run in members if run.escalate())
        pending = unfinished
    return runs


def step_key(run: InputRun, action: Action) -> Tuple:
    """Return what makes two inputs' next actions one step (they can run as one batch)."""
    if isinstance(action, RunVariant):
        return ('variant', action.variant_id)
    if isinstance(action, RunLayers):
        return ('layers', run.layers_done, action.count, action.mode)
    if isinstance(action, Rerun):
        return ('rerun', action.first_layer, action.count, action.mode)
    return ('answer',)
