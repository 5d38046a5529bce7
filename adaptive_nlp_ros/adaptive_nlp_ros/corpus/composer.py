"""
Compose one command of 1-4 actions with its annotation, noise and all.

A command is built as a list of pieces (text, the action it belongs to, its argument role),
so every span is known by construction and stays right through the noise: typos, casing and
fillers change pieces, and the character offsets are computed once, at the end, from the
final pieces. Pronouns point at the piece of their antecedent, and take its final text as
their referent (data/ANNOTATION.md: a referent is the full text of an earlier span).
"""

from dataclasses import dataclass
import random
import re
from typing import Dict, List, Optional, Sequence, Tuple

from .templates import ARGUMENT_WORDS, TEMPLATES, WORDS
from .vocabulary import CROWDS, Person, person, pick, RENDERED

ROLES = ('object', 'person', 'location', 'destination', 'direction', 'distance', 'angle',
         'speed', 'content')
DEFAULT_POOLS = {'object': 'object', 'location': 'room', 'destination': 'room',
                 'direction': 'direction', 'distance': 'distance', 'angle': 'angle',
                 'speed': 'speed', 'content': 'message'}
FAMILIES = {'object': 'object', 'person': 'person', 'location': 'place',
            'destination': 'place'}
MASS_NOUNS = frozenset({'water', 'coffee', 'tea', 'mail', 'medicine', 'soap', 'tape',
                        'paper towels', 'hand cream', 'coffee pods'})
_SLOT = re.compile(r'\{([^{}]+)\}')
_NO_ARTICLE = re.compile(r"^\S+'s |^[a-z]+ (\d+|[A-Z]|two|three|four)$")


@dataclass
class Piece:
    """A run of text: plain (``role`` empty) or an argument of the action it belongs to."""

    text: str
    action: Optional[int] = None         # index of its action; None outside every action
    role: str = ''
    referent: Optional[int] = None       # a pronoun: the piece index of its antecedent
    question: bool = False               # ends a question (casing puts a question mark)


@dataclass(frozen=True)
class Antecedent:
    """Something named earlier that a pronoun can point at."""

    piece: int
    family: str                          # object | person | place
    pronoun: str                         # it | them | him | her | there


# -- connectors, request forms, fillers (training, held out) ------------------------------------

# Each is (training, held out); the training side grew after the held-out family was frozen
# (issue 12), so that no connector or request form is known to the model by heart.
CONNECTORS = ((' and ', ' then ', ', then ', ' and then ', ', ', ', and after that ',
               '. Then ', ', and then ', ' and also ', ', next ', ', and when you are finished, ',
               ' and after you finish, ', ', and when that is finished, ', '. After that, ',
               ', after that ', ' and next ', '. Next, ', '. Also, ', ', also ',
               ' and finally ', ', finally, ', '. Lastly, ', ', and lastly ', ' then also ',
               ' and right after that ', '. When you have done that, ', ' and please ',
               ', and as soon as that is finished, ', ', and then please ', '; then ', '; ',
               ' and after that, ', ' after that ', ' and subsequently ', ', then after that, ',
               ' and when you have finished ', '. Please ', ' plus '),
              ('; next, ', ', and once that is done, ', ' and afterwards ', ', after which ',
               '. Once done, '))
WRAPPERS = (('please ', 'can you ', 'could you ', 'I need you to ', 'would you ',
             'go ahead and ', 'I want you to ', 'now ', 'okay, ', 'could you please ',
             'can you please ', 'will you ', 'will you please ', 'I would like you to ',
             'please go ahead and ', 'you should ', 'you need to ', 'you have to ', 'try to ',
             'make sure to ', 'remember to ', 'it would be great if you could ',
             'if possible, ', 'as soon as you can, ', 'just ', 'please just ', 'go on and ',
             'help me out and ', "let's ", 'your next task is to ', 'your job is to ',
             'would it be possible to ', 'quickly ', 'could you quickly ', 'can I ask you to ',
             'are you able to ', 'is it possible for you to ', 'I want you to go and ',
             'when you are free, ', 'first, ', 'first of all, '),
            ('do me a favor and ', 'would you please ', "I'd like you to ", 'kindly ',
             'when you get a chance, ', 'be a dear and '))
VOCATIVES = (('hey robot, ', 'robot, ', 'Rosie, ', 'hey buddy, ', 'hey, ', 'okay robot, ',
              'hey Rosie, ', 'excuse me, robot, ', 'excuse me, ', 'yo robot, ', 'hi robot, ',
              'hello robot, ', 'Max, ', 'hey Max, ', 'TIAGo, ', 'Pepper, ', 'hey you, ',
              'robot: ', 'assistant, ', 'hey helper, ', 'buddy, ', 'Rosie ', 'hi there, '),
             ('hey there robot, ', 'Robbie, ', 'listen, '))
FILLERS = (('um ', 'uh ', 'okay so ', 'so ', 'hmm ', 'alright ', 'ah ', 'uhm ', 'right, ',
            'ok ', 'okay ', 'you know ', 'actually ', 'so yeah ', 'hmm okay ', 'basically ',
            'I mean ', 'oh ', 'oh and ', 'now then ', 'yeah ', 'yes ', 'right so ', 'mm '),
           ('er ', 'well ', 'like '))
TRAILERS = ((' please', ' now', ' thanks', ' right away', ' for me', ' as soon as possible',
             ' thank you', ' asap', ' quickly', ' okay', ' if possible', ' please and thank you',
             ' right now', ' at once', ', thanks', ' if you would', " if you don't mind",
             ' when you are ready', ' immediately', ' pronto', ' real quick', ' for me please',
             ', thank you'),
            (' if you can', ' when you can'))
# Training only: what people say around a command, outside every action (data/ANNOTATION.md).
STATEMENTS = ('it is getting late, ', 'the guests are here, ', 'my hands are full, ',
              'I am in the kitchen, ', 'we have a visitor, ', 'if you are not busy, ',
              'if you have time, ', "it's urgent, ", 'quick one, ', 'one more thing, ',
              'new task: ', 'next task: ', 'here is what I need: ', 'attention, ',
              'ok here we go, ', 'alright here is the plan: ', 'I have a job for you. ',
              'the meeting is over. ', 'your battery looks fine. ', 'good, ', 'great, ',
              'that is all for now. ', 'sorry, ', 'okay, one more: ', 'I am back. ')
# Training only: more ways one action follows another (weights added to NEXT's), so that a
# greeting, a question or a stop can open a longer command.
TRAINING_NEXT: Dict[str, Dict[str, float]] = {
    'greet': {'navigate': 1, 'bring': 0.7, 'pick': 0.5, 'move': 0.3, 'dock': 0.3,
              'status': 0.3},
    'stop': {'cancel': 0.7, 'greet': 0.2},
    'dock': {'greet': 0.3},
    'status': {'pick': 0.3, 'find': 0.3, 'bring': 0.3, 'status': 0.3},
    'report': {'greet': 0.2},
    'navigate': {'greet': 0.3},
    'cancel': {'status': 0.3, 'greet': 0.2},
    'follow': {'dock': 0.3},
}
# How often a command gets each form, per side; the held-out rates are the ones it was
# generated with.
FORM_RATES = {False: {'filler': 0.2, 'vocative': 0.2, 'wrap': 0.35, 'connector_filler': 0.1,
                      'trailer': 0.15, 'statement': 0.08},
              True: {'filler': 0.12, 'vocative': 0.15, 'wrap': 0.3, 'connector_filler': 0.06,
                     'trailer': 0.1, 'statement': 0.0}}
HOMOPHONES = {'to': ('too',), 'there': ('their',), 'your': ('ur', "you're"), 'for': ('four',),
              'right': ('write',), 'know': ('no',)}
KEYBOARD_NEIGHBOURS = {'a': 'sq', 'e': 'wr', 'i': 'uo', 'o': 'ip', 'u': 'yi', 's': 'ad',
                       't': 'ry', 'n': 'bm', 'r': 'et', 'l': 'k', 'c': 'xv', 'm': 'n',
                       'p': 'o', 'd': 'sf', 'g': 'fh', 'h': 'gj', 'k': 'jl'}

# How one action follows another: weights of the next intent.
NEXT: Dict[str, Dict[str, float]] = {
    'navigate': {'pick': 3, 'find': 2, 'report': 2, 'greet': 1.5, 'say': 1, 'answer': 0.7,
                 'move': 0.5, 'dock': 0.3, 'bring': 0.7, 'guide': 0.5},
    'pick': {'place': 3, 'bring': 3, 'navigate': 1},
    'find': {'greet': 2, 'follow': 1.5, 'guide': 1.5, 'say': 1, 'bring': 1, 'report': 0.7,
             'pick': 0.7, 'answer': 0.5},
    'greet': {'follow': 1.5, 'guide': 1.5, 'say': 1, 'answer': 1, 'find': 0.5, 'report': 0.5},
    'move': {'move': 2, 'stop': 0.5, 'speed': 0.5, 'navigate': 0.5, 'report': 0.3},
    'stop': {'move': 1, 'dock': 1, 'navigate': 0.7, 'status': 0.3},
    'cancel': {'navigate': 1, 'dock': 1, 'bring': 1, 'pick': 0.5, 'follow': 0.3},
    'bring': {'navigate': 1, 'dock': 0.7, 'greet': 0.5, 'say': 0.5, 'find': 0.3},
    'place': {'navigate': 1, 'dock': 0.5, 'pick': 0.7, 'report': 0.3, 'bring': 0.3},
    'follow': {'stop': 0.5, 'say': 0.5, 'greet': 0.3, 'report': 0.3},
    'guide': {'greet': 0.5, 'say': 0.5, 'navigate': 0.7, 'dock': 0.5, 'answer': 0.3},
    'say': {'follow': 0.5, 'navigate': 0.7, 'guide': 0.5, 'answer': 0.3, 'dock': 0.3},
    'answer': {'guide': 0.5, 'navigate': 0.7, 'greet': 0.3},
    'report': {'navigate': 0.7, 'find': 0.5, 'say': 0.3, 'pick': 0.3},
    'speed': {'move': 1, 'navigate': 1, 'follow': 0.5},
    'status': {'dock': 1, 'navigate': 0.5},
    'dock': {'status': 0.3, 'stop': 0.2},
    'out_of_scope': {},
}
ACTION_COUNTS = (1, 2, 3, 4)
ACTION_WEIGHTS = (0.36, 0.34, 0.2, 0.1)


class Composer:
    """Builds commands for one side of the split (training templates, or held out)."""

    def __init__(self, rng: random.Random, held_out: bool) -> None:
        """Compose with ``rng``; ``held_out`` selects the held-out templates and values."""
        self.rng = rng
        self.held_out = held_out
        side = int(held_out)
        self.templates = {intent: pair[side] for intent, pair in TEMPLATES.items()}

    # -- values --------------------------------------------------------------------------------

    def _word(self, pool: str) -> str:
        """Draw a vocabulary word; ``pool!`` draws held-out words only (held-out templates)."""
        only_held = pool.endswith('!')
        return pick(WORDS[pool.rstrip('!')], self.rng, self.held_out, 1.0 if only_held else 0.5)

    def _value(self, pool: str) -> str:
        if pool in ARGUMENT_WORDS:
            return pick(ARGUMENT_WORDS[pool], self.rng, self.held_out)
        if pool == 'named_room':
            owner = RENDERED['name'](self.rng, self.held_out)
            return f"{owner}'s {RENDERED['room'](self.rng, self.held_out)}"
        return RENDERED[pool](self.rng, self.held_out)

    def _person(self, pool: str) -> Person:
        if pool == 'me':
            return Person('', 'me', '')
        if pool == 'crowd':
            return Person('', pick(CROWDS, self.rng, self.held_out), 'them')
        if pool == 'person_desc':
            while True:
                drawn = person(self.rng, self.held_out, allow_me=False)
                if drawn.article:
                    return drawn
        return person(self.rng, self.held_out, allow_me=not pool.endswith('-'))

    @staticmethod
    def _article(word: str, value: str) -> str:
        if _NO_ARTICLE.search(value) and (word == 'a' or word.endswith('the')):
            return '' if word == 'a' else word[:-3].rstrip()   # "Anna's mug", "bay 4"
        if word != 'a':
            return word
        last = value.split()[-1]
        if value in MASS_NOUNS or last.endswith('s'):
            return 'some'
        return 'an' if value[0].lower() in 'aeiou' else 'a'

    # -- one action ------------------------------------------------------------------------------

    def render(self, intent: str, template: str, index: int, pieces: List[Piece],
               antecedents: List[Antecedent]) -> None:
        """Append the pieces of one action (``index``) built from ``template``."""
        position = 0
        text = template.lstrip('=+ ').strip()
        question = template.startswith('= ') and self._is_question(text)
        for match in _SLOT.finditer(text):
            self._literal(pieces, text[position:match.start()], index)
            self._slot(match.group(1), pieces, antecedents, index)
            position = match.end()
        self._literal(pieces, text[position:], index)
        if question and pieces:
            pieces[-1].question = True

    @staticmethod
    def _is_question(text: str) -> bool:
        first = text.split()[0].lower() if text.split() else ''
        return first in ('what', "what's", 'where', 'how', 'who', 'is', 'are', 'can', 'could',
                         'when', 'any', 'have', 'do', 'does')

    @staticmethod
    def _literal(pieces: List[Piece], text: str, index: int) -> None:
        if text:
            pieces.append(Piece(text, index))

    def _slot(self, spec: str, pieces: List[Piece], antecedents: List[Antecedent],
              index: int) -> None:
        if spec.startswith('~'):
            self._literal(pieces, self._word(spec[1:]), index)
            return
        article, _, slot = spec.rpartition('|')
        pronoun_ok = slot.startswith('@')
        slot = slot.lstrip('@')
        role, _, pool = slot.partition(':')
        if role.startswith('person'):
            pool = pool or role
            role = 'person'
        if role not in ROLES:
            raise ValueError(f'template slot {spec!r}: unknown role {role!r}')
        family = FAMILIES.get(role)
        if pronoun_ok and family:
            earlier = [a for a in antecedents if a.family == family]
            chance = 0.75 if family == 'object' else 0.6
            if earlier and self.rng.random() < chance:
                antecedent = earlier[-1]
                pieces.append(Piece(antecedent.pronoun, index, role, antecedent.piece))
                return
        if role == 'person':
            drawn = self._person(pool)
            if drawn.article:
                pieces.append(Piece(drawn.article + ' ', index))
            pieces.append(Piece(drawn.text, index, role))
            if drawn.pronoun:
                antecedents.append(Antecedent(len(pieces) - 1, 'person', drawn.pronoun))
            return
        value = self._value(pool or DEFAULT_POOLS[role])
        article = self._article(article, value) if article else ''
        if article:
            pieces.append(Piece(article + ' ', index))
        pieces.append(Piece(value, index, role))
        if family == 'object':
            plural = value.split()[-1].endswith('s') and value not in MASS_NOUNS
            antecedents.append(Antecedent(len(pieces) - 1, 'object',
                                          'them' if plural else 'it'))
        elif family == 'place' and pool in ('room', 'furniture', 'named_room'):
            antecedents.append(Antecedent(len(pieces) - 1, 'place', 'there'))

    # -- a whole command -------------------------------------------------------------------------

    def intents(self, first: str) -> List[str]:
        """Return the intent sequence of a command that starts with ``first``."""
        count = self.rng.choices(ACTION_COUNTS, ACTION_WEIGHTS)[0]
        sequence = [first]
        while len(sequence) < count:
            if self.held_out:
                options = {intent: weight for intent, weight in NEXT.get(sequence[-1], {}).items()
                           if any(not t.startswith('= ') for t in self.templates[intent])}
            else:
                options = dict(NEXT.get(sequence[-1], {}))
                options.update(TRAINING_NEXT.get(sequence[-1], {}))
            if not options:
                break
            names, weights = zip(*options.items())
            sequence.append(self.rng.choices(names, weights)[0])
        return sequence

    def _template(self, intent: str, position: int, count: int,
                  followed_by: Optional[str]) -> str:
        """
        Choose an action template for ``position`` of ``count`` actions.

        A complete utterance (``= ``) stands alone in the held-out family; in training it may
        also open a command (``hi, ...``, ``where are you? ...``) or close it with a greeting
        (``..., good night``).
        """
        if self.held_out or count == 1:
            utterance_ok = count == 1
        else:
            utterance_ok = position == 0 or (position == count - 1 and intent == 'greet')
        candidates = [t for t in self.templates[intent]
                      if (utterance_ok or not t.startswith('= '))
                      and (not t.startswith('+ ') or followed_by in ('place', 'bring'))]
        return self.rng.choice(candidates)

    def command(self, first: str) -> Tuple[List[Piece], List[str]]:
        """Return the pieces and the intents of one command whose first action is ``first``."""
        sequence = self.intents(first)
        pieces: List[Piece] = []
        antecedents: List[Antecedent] = []
        rng = self.rng
        side = int(self.held_out)
        templates = []
        for index, intent in enumerate(sequence):
            following = sequence[index + 1] if index + 1 < len(sequence) else None
            templates.append(self._template(intent, index, len(sequence), following))
        rates = FORM_RATES[self.held_out]
        if templates[0].startswith('= '):
            wrap = False
        else:
            wrap = rng.random() < rates['wrap']
        if not self.held_out and rng.random() < rates['statement']:
            pieces.append(Piece(rng.choice(STATEMENTS)))
        if rng.random() < rates['filler']:
            pieces.append(Piece(rng.choice(FILLERS[side])))
        if rng.random() < rates['vocative']:
            pieces.append(Piece(rng.choice(VOCATIVES[side])))
        if wrap:
            pieces.append(Piece(rng.choice(WRAPPERS[side])))
        for index, (intent, template) in enumerate(zip(sequence, templates)):
            if index and templates[index - 1].startswith('= '):     # training only
                question = self._is_question(templates[index - 1].lstrip('= '))
                pieces.append(Piece(rng.choice(('? ', '? ', ', ') if question
                                               else (', ', '. ', '! '))))
            elif index:
                connector = rng.choice(CONNECTORS[side])
                if rng.random() < rates['connector_filler']:
                    connector += rng.choice(FILLERS[side])
                pieces.append(Piece(connector))
            self.render(intent, template, index, pieces, antecedents)
        if not templates[-1].startswith('= ') and rng.random() < rates['trailer']:
            pieces.append(Piece(rng.choice(TRAILERS[side])))
        return pieces, sequence


# -- noise, then the annotation ------------------------------------------------------------------

def _typo(word: str, rng: random.Random) -> str:
    """Return ``word`` with one keyboard slip: a letter dropped, doubled, swapped or replaced."""
    if len(word) < 4 or not word.isalpha():
        return word
    at = rng.randrange(1, len(word) - 1)
    kind = rng.random()
    if kind < 0.3:
        return word[:at] + word[at + 1:]
    if kind < 0.55:
        return word[:at] + word[at] + word[at:]
    if kind < 0.8:
        return word[:at] + word[at + 1] + word[at] + word[at + 2:]
    near = KEYBOARD_NEIGHBOURS.get(word[at].lower())
    return word[:at] + rng.choice(near) + word[at + 1:] if near else word


def add_noise(pieces: List[Piece], rng: random.Random, intents: Sequence[str]) -> str:
    """Apply typos, homophones and a casing style in place; return the style's name."""
    if rng.random() < 0.18:
        candidates = [i for i, piece in enumerate(pieces) if piece.referent is None and any(
            len(word) >= 4 and word.isalpha() for word in piece.text.split())]
        if candidates:
            piece = pieces[rng.choice(candidates)]
            words = piece.text.split(' ')
            spots = [i for i, word in enumerate(words) if len(word) >= 4 and word.isalpha()]
            if spots:
                at = rng.choice(spots)
                words[at] = _typo(words[at], rng)
                piece.text = ' '.join(words)
    if rng.random() < 0.1:
        for piece in pieces:
            if piece.role:
                continue
            words = piece.text.split(' ')
            swapped = [rng.choice(HOMOPHONES[word]) if word in HOMOPHONES and rng.random() < 0.5
                       else word for word in words]
            piece.text = ' '.join(swapped)
    roll = rng.random()
    caps = 0.35 if intents[0] == 'stop' else 0.05
    if roll < caps:
        style = 'caps'
    elif roll < caps + 0.3:
        style = 'asr'                     # lowercase, no punctuation, as a recogniser writes
    elif roll < caps + 0.45:
        style = 'lower'
    else:
        style = 'sentence'
    for piece in pieces:
        if style == 'caps':
            piece.text = piece.text.upper()
        elif style in ('asr', 'lower'):
            piece.text = piece.text.lower()
        if style == 'asr' and not piece.role:
            piece.text = re.sub(r'[,.;!?]', '', piece.text)
            piece.text = re.sub(r' {2,}', ' ', piece.text)
    if style == 'sentence':
        first = next((piece for piece in pieces if piece.text.strip()), None)
        if first is not None and not first.role:
            stripped = first.text.lstrip()
            first.text = first.text[:len(first.text) - len(stripped)] + stripped[:1].upper() \
                + stripped[1:]
    if style in ('sentence', 'lower', 'caps'):
        mark = '?' if pieces[-1].question else rng.choice(('.', '.', '!', ''))
        if mark:
            pieces.append(Piece(mark))
    return style


def annotate(pieces: List[Piece], intents: Sequence[str]) -> Dict[str, object]:
    """Return ``{"text", "label", "actions"}`` with character offsets from the final pieces."""
    text = ''
    starts: List[int] = []
    for piece in pieces:
        starts.append(len(text))
        text += piece.text
    collapsed = re.sub(r'\s+', ' ', text)
    if collapsed != text:          # fix offsets: rebuild with single spaces
        return annotate(_single_spaces(pieces), intents)
    actions = []
    for index, intent in enumerate(intents):
        members = [i for i, piece in enumerate(pieces) if piece.action == index]
        first, last = members[0], members[-1]
        start = starts[first] + len(pieces[first].text) - len(pieces[first].text.lstrip())
        end = starts[last] + len(pieces[last].text.rstrip())
        arguments = []
        for i in members:
            piece = pieces[i]
            if not piece.role:
                continue
            argument: Dict[str, object] = {'role': piece.role, 'start': starts[i],
                                           'end': starts[i] + len(piece.text)}
            if piece.referent is not None:
                argument['value'] = pieces[piece.referent].text
            arguments.append(argument)
        actions.append({'intent': intent, 'start': start, 'end': end,
                        'arguments': arguments})
    return {'text': text.strip(), 'label': intents[0], 'actions': _shift(actions, text)}


def _single_spaces(pieces: List[Piece]) -> List[Piece]:
    """Collapse runs of spaces across piece borders (fillers, dropped punctuation)."""
    out: List[Piece] = []
    previous_space = True
    for piece in pieces:
        chars = []
        for char in piece.text:
            if char == ' ' and previous_space:
                continue
            chars.append(char)
            previous_space = char == ' '
        out.append(Piece(''.join(chars), piece.action, piece.role, piece.referent,
                         piece.question))
    return out


def _shift(actions: List[Dict[str, object]], text: str) -> List[Dict[str, object]]:
    """Shift offsets for the leading whitespace ``annotate`` strips from the text."""
    lead = len(text) - len(text.lstrip())
    if not lead:
        return actions
    for action in actions:
        action['start'] -= lead
        action['end'] -= lead
        for argument in action['arguments']:
            argument['start'] -= lead
            argument['end'] -= lead
    return actions
