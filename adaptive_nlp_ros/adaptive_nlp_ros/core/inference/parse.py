"""
What a text command means: ordered actions with typed arguments, decoded from token tags.

The token heads read every word piece and give three distributions (``TagScheme``): where
actions begin and continue (``O``, ``B``, ``I``), which argument role a piece belongs to
(``O``, ``B-role``, ``I-role``), and the intent of the action a piece belongs to. ``decode``
turns them into actions, at word level (a word takes the tags of its first piece):

1. actions are runs of words tagged ``B``/``I`` (a ``B`` starts a new one); the first action's
   intent is the sentence head's label (so ``label`` is always the first action's intent),
   the others' the mean of their pieces' intent distributions; a word that is surely a
   ``stop`` inside an action of another intent is an action of its own (``split_safety``:
   an unpunctuated "drive forward two meters stop turn left" keeps its stop), and so is a
   stop word the stop detector reads between actions or ending one (``loose_safety``:
   "pick up the cup stop put it down");
2. arguments are runs tagged ``B-role``/``I-role`` of one role, each given to the action that
   holds its first word (or the one before it). Where the most likely tag of each word makes
   an invalid run (``I-content`` after ``B-object``), the most likely *valid* sequence is
   taken instead (``constrained_role_tags``), so one long message is not cut in three; a
   ``B-role`` right after a run of the same role continues it (``the [heaviest][object]``
   is one object: a list names its items with a comma or ``and`` between them); the function
   words around a name are cut (``trim_span``: ``the [man lying] on the [bed]``, ``her
   [desk]``; amounts and messages keep theirs); a span of articles or punctuation alone, or
   a lone possessive (``his``), is no argument;
3. a pronoun (``it``, ``them``, ``him``, ``her``, ``there`` ...) takes the nearest earlier
   argument of a compatible role as its referent: its value is the referent's text, its span
   the pronoun's, ``resolved`` is true; a plural pronoun (``them``) after several arguments
   of that role named in one action stands for each of them;
   a motion amount takes the role its unit names (``1.5 m`` is a distance, ``0.3 m/s`` a
   speed), as sure as its words are an amount;
4. neighbouring actions of one intent, one of them without arguments, are one action
   (``_merge_repeats``); an action in front of the others with no argument, of an intent
   that always had one in training, is a request form read as a task and is dropped
   (``_without_bare_requests``: ``do me a favor and | go to the hall``);
5. an action whose (sure) arguments have roles its intent never took together in training
   has its intent weighed by how likely each intent shows those roles
   (``TagScheme.fit_to_roles``: ``bring Tomás to the meeting room`` is ``guide``, a
   ``bring`` always has an object);
6. an argument whose role its action's intent never took in training is dropped
   (``TagScheme.intent_roles``: a ``stop`` has no object, a ``cancel`` no destination);
7. ``out_of_scope``, or no action found, is one action with no arguments (the label's).

Confidences are calibrated probabilities: an action's is its intent probability (the
sentence head's for the first), a span's is the **lowest** calibrated probability of the
tags that make it (its ``B`` and every ``I``), so a span is only as sure as its least sure
word; the whole parse is as sure as its weakest part (``ParsedCommand.confidence``).
"""

from dataclasses import dataclass, field, replace
from functools import cached_property
import math
import re
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

ROLES = ('object', 'person', 'location', 'destination', 'direction', 'distance', 'angle',
         'speed', 'content')
SEGMENT_TAGS = ('O', 'B', 'I')
OUT_OF_SCOPE = 'out_of_scope'
# Pronouns and what they may stand for (the role families of their referents); ``him`` and
# ``her`` may stand for an animal the tags read as an object (``pick her up``: the cat).
PRONOUNS = {
    'it': ('object',), 'that': ('object',), 'this': ('object',), 'that one': ('object',),
    'this one': ('object',), 'them': ('object', 'person'), 'those': ('object',),
    'these': ('object',), 'him': ('person', 'object'), 'her': ('person', 'object'),
    'there': ('location', 'destination'),
    # subject pronouns, where a later clause names what it is about (``find my keys, they
    # might be in the bedroom``)
    'they': ('object', 'person'), 'he': ('person',), 'she': ('person',),
}
# Possessive pronouns are no argument of their own (``her`` is also an object pronoun).
POSSESSIVES = frozenset(('my', 'your', 'his', 'its', 'our', 'their'))
# Roles whose spans keep their leading words: amounts keep their quantifier (``a bit``,
# ``a quarter turn``) and a message is said as it was written.
UNTRIMMED_ROLES = frozenset(('distance', 'angle', 'speed', 'content'))
LEADING_FUNCTION_WORDS = frozenset((
    'the', 'a', 'an', 'some', 'any', 'my', 'your', 'his', 'her', 'its', 'our', 'their',
    'this', 'that', 'these', 'those', 'uh', 'um', 'er', 'to', 'from', 'in', 'on', 'at',
    'into', 'onto'))
TRAILING_FUNCTION_WORDS = frozenset((
    'the', 'a', 'an', 'to', 'from', 'in', 'on', 'at', 'by', 'of', 'with', 'near', 'next',
    'into', 'onto', 'under', 'behind', 'beside', 'inside', 'for', 'and', 'or'))
# The least confidence of every argument of an action whose roles may overrule its intent
# (``TagScheme.fit_to_roles``); chosen on dev and the hand-written set.
SURE_ARGUMENT = 0.7
# When a word outside every action is a stop of its own (``loose_safety``): the stop
# detector reads the word alone as one surely (``stop``, ``halt``, ``wait`` >= 0.99), or more
# likely than not while the intent head, reading the word in its sentence, gives ``stop``
# some weight. Single words the detector reads about as high as ``whoa`` (0.83) are no
# stops alone: ``not`` 0.82 ("are you busy? if not, come to the kitchen", intent head 0.01
# there), ``moving`` 0.89; filler words (``that``, ``once``, ``er``) read at most 0.04.
LOOSE_STOP_ALONE = 0.95
LOOSE_STOP = 0.5
LOOSE_STOP_IN_CONTEXT = 0.2
# A bare action in front is kept, never dropped as a request form (``_without_bare_requests``),
# when its pieces give the safety intent this much: it may be a stop read as another task.
# Of the 48 candidates on the held-out family (full), 46 read at most 0.02, two 0.19 and 0.36.
BARE_REQUEST_SAFETY_WEIGHT = 0.05
# How often the role tags miss an argument's role, and add one that is not there
# (``TagScheme.roles_likelihood``): about the last exit's argument misses on dev (recall .93);
# 0.03 to 0.1 give the same dev scores, 0.3 loses a command.
MISSED_ROLE = 0.1
SPURIOUS_ROLE = 0.1
_FAMILY = {'location': 'place', 'destination': 'place', 'object': 'object',
           'person': 'person'}
# Pronouns that may stand for several things named together (``the keys and the wallet``).
PLURAL_PRONOUNS = frozenset(('them', 'they', 'those', 'these'))
# A motion amount's unit says what it measures, whatever the tags read: ``1.5 m`` is no speed.
# Speed first (``m/s`` holds ``m``); units that are also words (``in``, ``turn`` alone) are
# not read, nor amounts without a unit (``a bit``, ``faster``).
AMOUNT_ROLES = frozenset(('distance', 'angle', 'speed'))
_UNIT_ROLES = (
    ('speed', re.compile(r'(?:\d\s*|\b)(?:m/s|km/h|kmh|kph|mph|ft/s|cm/s)(?!\w)'
                         r'|\bper\s+(?:second|sec|s|hour|minute)\b', re.IGNORECASE)),
    ('angle', re.compile(r'°|\b(?:deg|degs|degrees?|rad|radians?)\b'
                         r'|\b(?:quarter|half|full)[\s-]+turns?\b', re.IGNORECASE)),
    ('distance', re.compile(r'(?:\d\s*|\b)(?:m|cm|mm|km|ft|yd|yds)(?!\w)'
                            r'|\b(?:met(?:er|re)s?|centimet(?:er|re)s?|millimet(?:er|re)s?'
                            r'|kilomet(?:er|re)s?|feet|foot|yards?|inch(?:es)?|steps?)\b',
                            re.IGNORECASE)),
)


@dataclass(frozen=True)
class ParsedArgument:
    """One argument: role, value, span (end exclusive) in the command text, confidence."""

    role: str
    value: str
    start: int
    end: int
    confidence: float = 1.0
    resolved: bool = False               # a pronoun; ``value`` is its referent's text


@dataclass(frozen=True)
class ParsedAction:
    """One action: its intent, calibrated confidence, arguments and span."""

    intent: str
    confidence: float
    arguments: Tuple[ParsedArgument, ...] = ()
    start: int = -1
    end: int = -1


@dataclass(frozen=True)
class ParsedCommand:
    """A command's ordered actions; ``confidence`` is the weakest part's."""

    actions: Tuple[ParsedAction, ...]
    confidence: float = math.nan

    @property
    def label(self) -> str:
        """Return the first action's intent."""
        return self.actions[0].intent if self.actions else ''


@dataclass(frozen=True)
class TagScheme:
    """
    The token heads' outputs: segment tags, role tags, then one column per intent.

    ``intent_roles`` lists, per intent, the roles its arguments took in the training set
    (``roles_by_intent``); the decoder drops an argument whose role its action's intent never
    took (``stop`` with an object, ``cancel`` with a destination: ANNOTATION.md, rule 7).
    Empty (models trained before it was kept), or an intent not listed: every role is allowed.
    """

    intents: Tuple[str, ...]
    roles: Tuple[str, ...] = ROLES
    intent_roles: Tuple[Tuple[str, Tuple[str, ...]], ...] = ()
    # Per intent, the sets of roles its actions took together in training and how often
    # (``signatures_by_intent``): what ``fit_to_roles`` reads.
    intent_signatures: Tuple[Tuple[str, Tuple[Tuple[Tuple[str, ...], int], ...]], ...] = ()

    @cached_property
    def role_tags(self) -> Tuple[str, ...]:
        """Return ``O``, then ``B-role`` and ``I-role`` for each role."""
        return ('O',) + tuple(f'{prefix}-{role}' for role in self.roles
                              for prefix in ('B', 'I'))

    @cached_property
    def amount_columns(self) -> List[int]:
        """Return the role-tag columns of the motion amounts (``B-distance`` ... ``I-speed``)."""
        return [index for index, (_, role) in enumerate(self.role_tag_parts)
                if role in AMOUNT_ROLES]

    @cached_property
    def role_tag_parts(self) -> Tuple[Tuple[str, str], ...]:
        """Return each role tag as ``(prefix, role)``; ``('O', '')`` for ``O``."""
        return tuple(tuple(name.split('-', 1)) if name != 'O' else ('O', '')
                     for name in self.role_tags)

    @cached_property
    def _allowed_roles(self) -> Dict[str, frozenset]:
        return {intent: frozenset(roles) for intent, roles in self.intent_roles}

    def intent_roles_json(self) -> Dict[str, List[str]]:
        """Return ``intent_roles`` as a saved model file keeps it."""
        return {intent: list(roles) for intent, roles in self.intent_roles}

    @staticmethod
    def intent_roles_of(saved: Optional[Dict[str, Sequence[str]]]
                        ) -> Tuple[Tuple[str, Tuple[str, ...]], ...]:
        """Return ``intent_roles`` from what ``intent_roles_json`` wrote (None: none kept)."""
        return tuple((intent, tuple(roles)) for intent, roles in (saved or {}).items())

    @cached_property
    def _signatures(self) -> Dict[str, Dict[frozenset, float]]:
        """Per intent, each role set's share of its training actions."""
        shares = {}
        for intent, signatures in self.intent_signatures:
            total = sum(count for _, count in signatures)
            shares[intent] = {frozenset(roles): count / total for roles, count in signatures}
        return shares

    def intent_signatures_json(self) -> Dict[str, List[Tuple[List[str], int]]]:
        """Return ``intent_signatures`` as a saved model file keeps it."""
        return {intent: [(list(roles), count) for roles, count in signatures]
                for intent, signatures in self.intent_signatures}

    @staticmethod
    def intent_signatures_of(saved: Optional[Dict[str, Sequence[Tuple[Sequence[str], int]]]]
                             ) -> Tuple[Tuple[str, Tuple[Tuple[Tuple[str, ...], int], ...]], ...]:
        """Return ``intent_signatures`` from what ``intent_signatures_json`` wrote."""
        return tuple((intent, tuple((tuple(roles), int(count)) for roles, count in signatures))
                     for intent, signatures in (saved or {}).items())

    def roles_likelihood(self, intent: str, roles: frozenset) -> float:
        """
        Return how likely an ``intent`` action shows ``roles``.

        Each role set it took in training, weighed by its share, loses a role with
        ``MISSED_ROLE`` and gains one with ``SPURIOUS_ROLE``.
        """
        return sum(share * MISSED_ROLE ** len(taken - roles) * SPURIOUS_ROLE ** len(roles - taken)
                   for taken, share in self._signatures.get(intent, {}).items())

    def fit_to_roles(self, distribution: np.ndarray,
                     arguments: Sequence['ParsedArgument']) -> np.ndarray:
        """
        Return ``distribution`` weighed by how likely each intent shows ``arguments``' roles.

        Only when its most likely intent never took them together in training
        (``roles_likelihood``). ``bring Tomás to the meeting room``: a ``bring`` always has
        an object, a person taken to a place is ``guide``. Unchanged when an argument is
        unsure (below ``SURE_ARGUMENT``: a mistagged word is likelier than an unknown verb),
        when there is no argument, when the intent never took an argument (``cancel``: its
        roles are dropped, not its intent) and without a table.
        """
        signatures = self._signatures
        if (not arguments or not signatures
                or min(argument.confidence for argument in arguments) < SURE_ARGUMENT):
            return distribution
        roles = frozenset(argument.role for argument in arguments)
        taken = signatures.get(self.intents[int(distribution.argmax())])
        if taken is None or roles in taken or set(taken) == {frozenset()}:
            return distribution
        weighed = distribution * np.array([self.roles_likelihood(intent, roles)
                                           for intent in self.intents])
        total = float(weighed.sum())
        return weighed / total if total > 0 else distribution

    def always_has_arguments(self, intent: str) -> bool:
        """Return True when every ``intent`` action in training had an argument (a table kept)."""
        taken = self._signatures.get(intent)
        return bool(taken) and frozenset() not in taken

    def allows(self, intent: str, role: str) -> bool:
        """Return True when an argument of ``role`` may belong to an ``intent`` action."""
        allowed = self._allowed_roles.get(intent)
        return allowed is None or role in allowed

    @property
    def width(self) -> int:
        """Return the number of outputs of a token head."""
        return len(SEGMENT_TAGS) + len(self.role_tags) + len(self.intents)

    def slices(self) -> Tuple[slice, slice, slice]:
        """Return where the segment, role and intent columns are."""
        segment = len(SEGMENT_TAGS)
        roles = segment + len(self.role_tags)
        return slice(0, segment), slice(segment, roles), slice(roles, self.width)


def roles_by_intent(commands: Sequence[Optional[Sequence['ParsedAction']]]
                    ) -> Tuple[Tuple[str, Tuple[str, ...]], ...]:
    """Return, per intent of annotated ``commands``, the roles its arguments took (sorted)."""
    return tuple((intent, tuple(sorted({role for roles, _ in signatures for role in roles})))
                 for intent, signatures in signatures_by_intent(commands))


def signatures_by_intent(commands: Sequence[Optional[Sequence['ParsedAction']]]
                         ) -> Tuple[Tuple[str, Tuple[Tuple[Tuple[str, ...], int], ...]], ...]:
    """Return, per intent of annotated ``commands``, each role set its actions took, counted."""
    counts: Dict[str, Dict[Tuple[str, ...], int]] = {}
    for actions in commands:
        for action in actions or ():
            roles = tuple(sorted({argument.role for argument in action.arguments}))
            seen = counts.setdefault(action.intent, {})
            seen[roles] = seen.get(roles, 0) + 1
    return tuple((intent, tuple(sorted(seen.items())))
                 for intent, seen in sorted(counts.items()))


@dataclass
class TokenView:
    """The word pieces of one command: character offsets and the word each piece is in."""

    text: str
    offsets: Sequence[Tuple[int, int]]   # per piece (special tokens excluded)
    words: Sequence[int]                 # word index per piece
    _starts: List[int] = field(default_factory=list)

    @classmethod
    def of_encoding(cls, text: str, encoding) -> 'TokenView':
        """Return the view of a tokenizer encoding of ``text``, [CLS] and [SEP] cut off."""
        return cls(text, encoding.offsets[1:-1], encoding.word_ids[1:-1])

    def word_starts(self) -> List[int]:
        """Return the index of each word's first piece."""
        if not self._starts:
            previous = None
            for index, word in enumerate(self.words):
                if word != previous:
                    self._starts.append(index)
                previous = word
        return self._starts


def single_action(label: str, confidence: float) -> ParsedCommand:
    """Return the parse of a command understood as one action without arguments."""
    return ParsedCommand((ParsedAction(label, confidence),), confidence)


def decode(view: TokenView, segment: np.ndarray, roles: np.ndarray, intents: np.ndarray,
           scheme: TagScheme, label: str, label_confidence: float) -> ParsedCommand:
    """
    Decode calibrated token distributions into actions (see the module).

    :param segment: [pieces, 3] segment-tag probabilities.
    :param roles: [pieces, 1 + 2 x roles] role-tag probabilities.
    :param intents: [pieces, intents] intent probabilities.
    """
    if label == OUT_OF_SCOPE:
        return single_action(label, label_confidence)
    draft = draft_actions(view, segment, roles, intents, scheme)
    if draft is None:
        return single_action(label, label_confidence)
    return draft.finish(label, label_confidence)


@dataclass(frozen=True)
class DraftAction:
    """One action before the label is known: its own intent, segment confidence, arguments."""

    intent: str                          # from its pieces (the first action's is the label's)
    intent_confidence: float
    segment_confidence: float            # the least sure segment tag of its words
    arguments: Tuple[ParsedArgument, ...]
    start: int
    end: int
    safety_weight: float = 0.0           # its pieces' mean probability of the safety intent


@dataclass(frozen=True)
class DraftParse:
    """
    Everything ``decode`` reads from the token tags, which does not depend on the label.

    ``finish`` adds the label: so an exit read twice under two labels
    (``first_action.read_structured_exit``) decodes its tags once.
    """

    actions: Tuple[DraftAction, ...]
    scheme: Optional[TagScheme] = None       # the roles each intent allows (None: all)
    # How sure the actions dropped as bare requests were (``_without_bare_requests``): the
    # parse stays no surer than with them, so dropping one never makes an exit look surer.
    dropped_confidence: float = 1.0

    def finish(self, label: str, label_confidence: float) -> ParsedCommand:
        """Return the parse with ``label`` as the first action's intent (see the module)."""
        if label == OUT_OF_SCOPE:
            return single_action(label, label_confidence)
        parsed = []
        for index, draft in enumerate(self.actions):
            intent, confidence = ((label, label_confidence) if index == 0
                                  else (draft.intent, draft.intent_confidence))
            # Nothing to act on has nothing to act with: a later action read as out_of_scope
            # keeps its place in the sequence, never arguments (DESIGN.md).
            arguments = () if intent == OUT_OF_SCOPE else draft.arguments
            parsed.append(ParsedAction(intent, min(confidence, draft.segment_confidence),
                                       arguments, draft.start, draft.end))
        parsed = _merge_repeats(parsed)
        if self.scheme is not None and self.scheme.intent_roles:
            # After merging: which actions merge must not depend on the roles dropped here.
            allows = self.scheme.allows
            parsed = [ParsedAction(action.intent, action.confidence, tuple(
                argument for argument in action.arguments if allows(action.intent, argument.role)),
                action.start, action.end) for action in parsed]
        weakest = min([label_confidence, self.dropped_confidence]
                      + [a.confidence for a in parsed]
                      + [g.confidence for a in parsed for g in a.arguments])
        return ParsedCommand(tuple(parsed), weakest)

    def first_action(self, label: str) -> Tuple[DraftAction, ...]:
        """
        Return the drafts that ``finish(label, ...)`` makes its first action of.

        The first draft and the ones ``_merge_repeats`` joins to it: the same intent as
        ``label``, where the action so far or the draft has no argument.
        """
        drafts = self.actions
        has_arguments = bool(drafts[0].arguments)
        count = 1
        while count < len(drafts) and drafts[count].intent == label and (
                not has_arguments or not drafts[count].arguments):
            has_arguments = has_arguments or bool(drafts[count].arguments)
            count += 1
        return drafts[:count]


def segment_bound(view: TokenView, segment: np.ndarray) -> float:
    """
    Return an upper bound of a parse's confidence read from its segment tags alone.

    Every word tagged inside an action joins an action whose confidence is at most that
    tag's probability (merged actions keep the lower; a bare request dropped in front keeps
    its own in the parse's), and a parse is as sure as its weakest part: so no parse of these
    tags is surer than the least sure of them. It does not bound an ``out_of_scope`` answer,
    whose parse reads no segment. 1.0 with no word in an action. Costs an argmax, where
    decoding costs a layer (``TextSegments``).
    """
    if not len(view.offsets):
        return 1.0
    words = segment[view.word_starts()]
    inside = words.max(axis=1)[words.argmax(axis=1) != 0]
    return float(inside.min()) if len(inside) else 1.0


def draft_actions(view: TokenView, segment: np.ndarray, roles: np.ndarray, intents: np.ndarray,
                  scheme: TagScheme, safety_intent: Optional[int] = None,
                  stop_probability: Optional[Callable[[str], float]] = None
                  ) -> Optional[DraftParse]:
    """
    Return the label-free part of the parse (None: no word, or no action found).

    :param safety_intent: the index of the intent that must never be lost (``stop``): a word
        whose own intent is most likely that one is an action of its own (``split_safety``).
    :param stop_probability: how likely a word alone is a stop (the stop detector's answer on
        it); with it, a stop word between actions is one too (``loose_safety``).
    """
    if not len(view.offsets):
        return None
    starts = view.word_starts()
    ends = starts[1:] + [len(view.offsets)]
    segment_tag = segment[starts].argmax(axis=1)
    role_tag = constrained_role_tags(roles[starts], scheme)
    role_p = roles[starts, role_tag]
    # Python numbers from here: the loops below read them one at a time.
    segment_p = segment[starts, segment_tag].tolist()
    segment_tag, role_tag, role_p_of = segment_tag.tolist(), role_tag.tolist(), role_p.tolist()

    actions: List[List[int]] = []          # word indices per action
    for word, tag in enumerate(segment_tag):
        starts_new = tag == 1 or (tag == 2 and (not actions or actions[-1][-1] != word - 1))
        if starts_new:
            actions.append([word])
        elif tag == 2:
            actions[-1].append(word)
    word_intents = intents[starts]
    forced: Dict[int, float] = {}          # first word of a stop action read by the detector
    if safety_intent is not None:
        readable = [any(c.isalnum() for c in view.text[slice(*view.offsets[s])])
                    for s in starts]

        def action_intent(words: List[int]) -> int:
            return int(intents[starts[words[0]]:ends[words[-1]]].mean(axis=0).argmax())

        in_context = word_intents[:, safety_intent].tolist()
        inside = {word for words in actions for word in words}
        # The detector reads every word outside actions, and inside only those the intent
        # head gives some stop weight (a word of an action is read in its sentence).
        stop_p = [stop_probability(view.text[slice(*view.offsets[s])])
                  if stop_probability is not None and alnum and (
                      word not in inside or context >= LOOSE_STOP_IN_CONTEXT) else 0.0
                  for word, (alnum, s, context) in enumerate(zip(readable, starts, in_context))]
        said = [alnum and best == safety_intent and context >= SURE_ARGUMENT
                for best, context, alnum in zip(word_intents.argmax(axis=1).tolist(),
                                                in_context, readable)]
        # Read by the detector, not by the intent head: such an action's intent is forced.
        detected = [not own and p >= LOOSE_STOP_ALONE and scheme.role_tag_parts[tag][0] == 'O'
                    for own, p, tag in zip(said, stop_p, role_tag)]
        actions = split_safety(actions, [own or found for own, found in zip(said, detected)],
                               action_intent, safety_intent)
        if stop_probability is not None:
            outside = [word not in inside and (p >= LOOSE_STOP_ALONE or (
                p >= LOOSE_STOP and context >= LOOSE_STOP_IN_CONTEXT))
                for word, (p, context) in enumerate(zip(stop_p, in_context))]
            actions = loose_safety(actions, outside, action_intent, safety_intent)
            detected = [found or loose for found, loose in zip(detected, outside)]
            forced = {words[0]: min(stop_p[word] for word in words) for words in actions
                      if all(detected[word] for word in words)}
    if not actions:
        return None

    spans: List[Tuple[int, int, str, float]] = []    # first word, last word, role, confidence
    open_role: Optional[str] = None
    tag_parts = scheme.role_tag_parts
    for word, tag in enumerate(role_tag):
        prefix, role = tag_parts[tag]
        if prefix == 'O':
            open_role = None
            continue
        if open_role == role and spans and (prefix == 'I' or spans[-1][1] == word - 1):
            first, _, _, confidence = spans[-1]
            spans[-1] = (first, word, role, min(confidence, role_p_of[word]))
        else:
            spans.append((word, word, role, role_p_of[word]))
        open_role = role

    def char_span(first_word: int, last_word: int) -> Tuple[int, int]:
        return view.offsets[starts[first_word]][0], view.offsets[ends[last_word] - 1][1]

    def word_text(word: int) -> str:
        return view.text[slice(*char_span(word, word))].lower()

    action_args: List[List[ParsedArgument]] = [[] for _ in actions]
    decoded: List[Tuple[int, ParsedArgument]] = []    # (action index, argument), in order
    for first, last, role, confidence in spans:
        if role not in UNTRIMMED_ROLES:
            trimmed = trim_span(first, last, word_text)
            if trimmed != (first, last):
                first, last = trimmed
                confidence = float(role_p[first:last + 1].min())
        start, end = char_span(first, last)
        value = comparable(view.text[start:end])
        if not any(character.isalnum() for character in value) or value in POSSESSIVES:
            continue                     # a lone article, punctuation or `his` names nothing
        unit_role = amount_role(role, view.text[start:end]) if role in AMOUNT_ROLES else role
        if unit_role != role:
            # The unit names the role; the tags still say how sure the words are an amount.
            role = unit_role
            confidence = float(roles[starts[first:last + 1]][:, scheme.amount_columns]
                               .sum(axis=1).min())
        holder = 0
        for index, words in enumerate(actions):
            if words[0] <= first:
                holder = index
        for argument in _resolve(ParsedArgument(role, view.text[start:end], start, end,
                                                confidence), holder, decoded):
            decoded.append((holder, argument))
            action_args[holder].append(argument)

    drafts = []
    for index, words in enumerate(actions):
        start, end = char_span(words[0], words[-1])
        mean = intents[starts[words[0]]:ends[words[-1]]].mean(axis=0)  # words run on
        safety_weight = 1.0 if words[0] in forced else (
            0.0 if safety_intent is None else float(mean[safety_intent]))
        if words[0] in forced:
            intent, confidence = scheme.intents[safety_intent], forced[words[0]]
        else:
            mean = scheme.fit_to_roles(mean, action_args[index])
            best = int(mean.argmax())
            intent, confidence = scheme.intents[best], float(mean[best])
        drafts.append(DraftAction(intent, confidence,
                                  min(segment_p[w] for w in words),
                                  tuple(action_args[index]), start, end, safety_weight))
    kept = _without_bare_requests(drafts, scheme)
    dropped = drafts[:len(drafts) - len(kept)]
    # The first action's intent is the label's (``DraftParse.finish``).
    kept[0] = replace(kept[0], intent='', intent_confidence=1.0)
    return DraftParse(tuple(kept), scheme, min(
        [1.0] + [min(draft.intent_confidence, draft.segment_confidence) for draft in dropped]))


def _without_bare_requests(drafts: List[DraftAction], scheme: TagScheme) -> List[DraftAction]:
    """
    Drop leading actions with no argument whose intent always had one in training.

    A request form the corpus never showed (``do me a favor and | get yourself to the exit``)
    can be tagged an action of its own, read as the task its words suggest (``bring``); a
    ``bring`` with nothing to bring, before the task, is no task. Its words then stay outside
    every action, as known request forms do. Which intents always take an argument comes from
    the training set (``TagScheme.always_has_arguments``: ``bring``, ``navigate``, ``pick`` ...;
    not ``greet`` or ``stop``). Only in front, and never the last action: a bare action after
    a task is one whose argument was missed or unsaid (``... and come back``). Never one that
    may be a stop misread (``BARE_REQUEST_SAFETY_WEIGHT``).
    """
    first = 0
    while (first < len(drafts) - 1 and not drafts[first].arguments
           and drafts[first].safety_weight < BARE_REQUEST_SAFETY_WEIGHT
           and scheme.always_has_arguments(drafts[first].intent)):
        first += 1
    return drafts[first:]


def split_safety(actions: List[List[int]], safe_words: Sequence[bool],
                 action_intent: Callable[[List[int]], int], safety: int) -> List[List[int]]:
    """
    Return the actions (word indices) with every sure ``stop`` word an action of its own.

    A speech recogniser writes no punctuation: in "drive forward two meters stop turn left"
    the segment tags run ``stop`` into the next action, whose pieces then say ``move``. A word
    of an action whose intent is another, that is itself surely a stop (``safe_words``: a
    word with a letter or digit whose own intent is ``stop`` with at least ``SURE_ARGUMENT``),
    becomes a ``stop`` action where it stands, and the words after it a new action; so a
    parse keeps a stop its words say. Words outside every action are not read: the intent
    head gives them the command's leading intent (in "halt and subsequently cancel the
    task", ``and subsequently`` say ``stop``), which says nothing of their own.
    """
    if not any(safe_words):
        return actions
    split: List[List[int]] = []
    for words in actions:
        if len(words) == 1 or action_intent(words) == safety:
            split.append(words)
            continue
        run: List[int] = []
        for word in words:
            if safe_words[word]:
                if run:
                    split.append(run)
                split.append([word])
                run = []
            else:
                run.append(word)
        if run:
            split.append(run)
    return split


def loose_safety(actions: List[List[int]], loose_words: Sequence[bool],
                 action_intent: Callable[[List[int]], int], safety: int) -> List[List[int]]:
    """
    Return the actions with every run of stop words between two actions an action of its own.

    In "pick up the cup stop put it down" or "follow me whoa go back to the dock" the segment
    tags leave the stop outside every action, so the robot would go on. A run of words
    outside every action, after one, that read as a stop (``loose_words``: the stop detector
    reads the word alone as a stop, ``LOOSE_STOP_ALONE`` .. ``LOOSE_STOP_IN_CONTEXT``) is a
    ``stop`` action where it stands, unless an action before it or the one after it is a
    stop. The intent head alone does not decide it: it gives outside words the command's
    leading intent or ``stop`` at about 0.6 ("juice up and once that is done ...": ``that``
    0.73), where the detector reads ``that`` 0.00 and ``stop`` 1.00.
    """
    result: List[List[int]] = []
    pending = list(actions)
    for word, stop in enumerate(loose_words):
        if not stop:
            continue
        before = [words for words in actions if words[-1] < word]
        after = [words for words in actions if words[0] > word]
        if not before or any(action_intent(words) == safety for words in before) or (
                after and action_intent(after[0]) == safety):
            continue
        while pending and pending[0][0] < word:
            result.append(pending.pop(0))
        if result and result[-1][-1] == word - 1 and not any(
                result[-1] is words for words in actions):
            result[-1].append(word)                         # "whoa whoa": one stop
        else:
            result.append([word])
    return result + pending


def trim_span(first: int, last: int, word_text: Callable[[int], str]) -> Tuple[int, int]:
    """
    Return a span's words without the function words around the name (ANNOTATION.md, rule 1).

    Leading articles, determiners, possessives, fillers and prepositions (``the``, ``this``,
    ``her desk``, ``uh living room``) and trailing prepositions and articles (``the person
    next to the`` before a location the tags read apart) are cut; a pronoun (``that one``)
    and a span of function words alone stay whole.
    """
    if ' '.join(word_text(word) for word in range(first, last + 1)) in PRONOUNS:
        return first, last
    start, end = first, last
    while start < end and _function_word(word_text(start), LEADING_FUNCTION_WORDS):
        start += 1
    while end > start and _function_word(word_text(end), TRAILING_FUNCTION_WORDS):
        end -= 1
    if _function_word(word_text(start), LEADING_FUNCTION_WORDS | TRAILING_FUNCTION_WORDS):
        return first, last
    return start, end


def _function_word(word: str, words: frozenset) -> bool:
    return word in words or not any(character.isalnum() for character in word)


def constrained_role_tags(probabilities: np.ndarray, scheme: TagScheme) -> np.ndarray:
    """
    Return each word's role tag, as a valid sequence of runs.

    The most likely tag per word when that makes valid runs, else the most likely sequence
    in which ``I-role`` only follows ``B-role`` or ``I-role``. Per-word argmax is the common
    case and costs nothing more; the Viterbi pass (hard transitions, no learned weights) only
    runs when a run is broken.
    """
    greedy = probabilities.argmax(axis=1)
    allowed, may_start = _role_transitions(scheme)
    if may_start[greedy[0]] and allowed[greedy[:-1], greedy[1:]].all():
        return greedy
    with np.errstate(divide='ignore'):
        log_p = np.log(probabilities)
    forbidden = np.where(allowed, 0.0, -np.inf)
    score = np.where(may_start, log_p[0], -np.inf)
    back = np.zeros(probabilities.shape, dtype=np.int64)
    for word in range(1, len(probabilities)):
        candidates = score[:, None] + forbidden          # [previous, current]
        back[word] = candidates.argmax(axis=0)
        score = candidates[back[word], np.arange(candidates.shape[1])] + log_p[word]
    tags = np.empty(len(probabilities), dtype=np.int64)
    tags[-1] = int(score.argmax())
    for word in range(len(probabilities) - 1, 0, -1):
        tags[word - 1] = back[word, tags[word]]
    return tags


_TRANSITIONS: Dict[Tuple[str, ...], Tuple[np.ndarray, np.ndarray]] = {}


def _role_transitions(scheme: TagScheme) -> Tuple[np.ndarray, np.ndarray]:
    """Return (allowed[previous, current], may_start[tag]) for the scheme's role tags."""
    if scheme.role_tags not in _TRANSITIONS:
        names = scheme.role_tags
        inside = [name[2:] if name.startswith('I-') else None for name in names]
        role = [name[2:] if name != 'O' else None for name in names]
        allowed = np.array([[inside[current] is None or role[previous] == inside[current]
                             for current in range(len(names))] for previous in range(len(names))])
        may_start = np.array([value is None for value in inside])
        _TRANSITIONS[scheme.role_tags] = (allowed, may_start)
    return _TRANSITIONS[scheme.role_tags]


def _merge_repeats(actions: List[ParsedAction]) -> List[ParsedAction]:
    """
    Merge neighbouring actions of one intent where either has no argument.

    A request form split off as its own segment (``do me a favor and | hand the basket to
    Ben``) or one request said in two verbs (``head back to base and recharge``) decodes as
    the same intent twice, once bare; a robot gains nothing from doing it twice.
    """
    merged: List[ParsedAction] = []
    for action in actions:
        previous = merged[-1] if merged else None
        if previous is not None and previous.intent == action.intent and (
                not previous.arguments or not action.arguments):
            merged[-1] = ParsedAction(previous.intent, min(previous.confidence,
                                                           action.confidence),
                                      previous.arguments + action.arguments,
                                      previous.start, action.end)
        else:
            merged.append(action)
    return merged


def _resolve(argument: ParsedArgument, holder: int,
             earlier: Sequence[Tuple[int, ParsedArgument]]) -> List[ParsedArgument]:
    """
    Give a pronoun its referent: the nearest earlier argument of a compatible role.

    A plural pronoun (``them``) whose referent was named with others of its role in one
    action (``grab the keys and the wallet and bring them``) stands for all of them: one
    resolved argument each, in the order named, every one on the pronoun's span.
    """
    word = ' '.join(argument.value.lower().split())
    families = PRONOUNS.get(word)
    if not families:
        return [argument]
    wanted = {_FAMILY.get(argument.role, argument.role)} if argument.role in _FAMILY else set()
    wanted &= {_FAMILY.get(role, role) for role in families}

    def referent(candidate: ParsedArgument) -> bool:
        return (not candidate.resolved and candidate.value.lower() not in PRONOUNS
                and _FAMILY.get(candidate.role) in wanted)
    for position in range(len(earlier) - 1, -1, -1):
        action, candidate = earlier[position]
        if not referent(candidate):
            continue
        named = [candidate]
        if word in PLURAL_PRONOUNS and action != holder:
            named = [other for other_action, other in earlier
                     if other_action == action and other.role == candidate.role
                     and referent(other)]
        return [ParsedArgument(argument.role, other.value, argument.start, argument.end,
                               argument.confidence, True) for other in named]
    return [argument]


def amount_role(role: str, text: str) -> str:
    """Return the role a motion amount's unit names (``0.3 m/s``: speed), else ``role``."""
    for unit_role, unit in _UNIT_ROLES:
        if unit.search(text):
            return unit_role
    return role


def describe(actions: Sequence[ParsedAction], text: str = '') -> str:
    """
    Return actions compactly, as the demo and the docs write them.

    ``navigate(destination=kitchen); bring(object=red cup [it], person=Anna)``: a resolved
    pronoun shows its referent and, in brackets, the word of ``text`` it stood for.
    """
    parts = []
    for action in actions:
        arguments = []
        for argument in action.arguments:
            shown = f'{argument.role}={argument.value}'
            if argument.resolved:
                word = text[argument.start:argument.end] if 0 <= argument.start < len(text) \
                    else 'pronoun'
                shown += f' [{word}]'
            arguments.append(shown)
        parts.append(f'{action.intent}({", ".join(arguments)})')
    return '; '.join(parts)


def comparable(value: str) -> str:
    """Return a value as argument matching compares it: lowercase, no articles, one space."""
    words = [word for word in re.split(r'\s+', value.lower().strip())
             if word not in ('the', 'a', 'an')]
    return ' '.join(words)


def argument_matches(predicted: str, gold: str, slack_chars: int = 25) -> bool:
    """
    Return True when a predicted value counts as the gold one.

    The predicted value, lowercased and without articles, must contain the gold value as
    whole words and be at most ``slack_chars`` characters longer.
    """
    predicted, gold = comparable(predicted), comparable(gold)
    if not gold or len(predicted) > len(gold) + slack_chars:
        return False
    return re.search(r'(?<!\w)' + re.escape(gold) + r'(?!\w)', predicted) is not None
