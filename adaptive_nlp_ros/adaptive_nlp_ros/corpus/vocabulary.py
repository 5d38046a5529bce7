"""
What the generated commands are made of: slot values, split into training and held out.

Each pool holds training values and held-out values that only the held-out test family uses.

A pool is a pair ``(training, held_out)``. Argument pools hold the text an argument's span
covers (no article, no preposition: data/ANNOTATION.md); the words around it (``the``, ``to
the``) belong to the template. People carry their own article (``the`` for a description,
none for a name) and the pronoun that refers to them. Rendered values (distances, angles,
speeds) draw numbers and units from split sets too.
"""

from dataclasses import dataclass
import random
from typing import Callable, Dict, Sequence, Tuple

Pool = Tuple[Tuple[str, ...], Tuple[str, ...]]


def _words(block: str) -> Tuple[str, ...]:
    """Split comma-separated values (a value may wrap lines)."""
    return tuple(value.strip() for value in ' '.join(block.split()).split(',') if value.strip())


# -- things ------------------------------------------------------------------------------------

OBJECT_NOUNS: Pool = (_words("""
    cup, mug, water bottle, bottle of water, glass of water, coffee mug, plate, bowl, spoon,
    fork, remote, remote control, keys, phone, tablet, laptop, book, notebook, magazine,
    newspaper, pen, pencil, marker, box, small box, package, parcel, bag, backpack, jacket,
    hat, towel, sponge, soap, toothbrush, apple, banana, orange, snack, cookie, sandwich,
    soda can, juice box, cereal box, milk carton, screwdriver, hammer, wrench, tape, charger,
    toy, ball, teddy bear, pillow, blanket, pill bottle, first aid kit, tray, basket,
    trash bag, glasses, tissue, mail, water, coffee, tea, medicine
"""), _words("""
    stapler, wallet, flashlight, lunchbox, thermos, paper towels, tennis ball, rubber duck,
    candle, spatula, whisk, cutting board, soup can, tissue box, vase, extension cord,
    calculator, ruler, jar of jam, coffee pods, earbuds, sunglasses, yogurt cup, umbrella,
    hand cream, cushion, measuring tape, oven mitt
"""))
PLURAL_OBJECTS: Pool = (_words("""
    cups, mugs, bottles, plates, bowls, books, pens, boxes, apples, bananas, chairs, towels,
    toys, balls, spoons, bags, pillows, cans, markers, glasses, keys
"""), _words("""
    staplers, candles, jars, cushions, napkins, umbrellas, notebooks, tennis balls, forks,
    coasters
"""))
COLORS: Pool = (_words('red, blue, green, yellow, black, white, brown'),
                _words('orange, purple, pink, grey, silver'))
COLORABLE = _words('cup, mug, ball, box, bag, bottle, book, towel, jacket, hat, pen, plate')
FURNITURE: Pool = (_words("""
    table, kitchen table, desk, shelf, top shelf, bottom shelf, counter, kitchen counter,
    couch, sofa, chair, bed, cabinet, drawer, sink, fridge, cupboard, workbench, cart,
    dining table, windowsill, armchair, tv stand
"""), _words("""
    bookcase, dresser, coffee table, side table, bench, ottoman, sideboard, pantry shelf,
    dishwasher, microwave, nightstand, filing cabinet, piano
"""))
CONTAINERS: Pool = (_words('box, bin, basket, drawer, sink, bucket, trash can, bag, crate, tray'),
                    _words('laundry basket, toolbox, recycling bin, tote, hamper'))
ROOMS: Pool = (_words("""
    kitchen, living room, bedroom, bathroom, office, lab, hallway, corridor, lobby,
    reception, dining room, garage, entrance, front door, back door, meeting room,
    conference room, storage room, cafeteria, break room, elevator, workshop, library,
    nurses station, main hall, kids room, guest room, second floor, reception desk
"""), _words("""
    pantry, laundry room, basement, study, balcony, patio, gym, waiting room, staff lounge,
    mail room, server room, atrium, porch, attic, greenhouse, exit, parking lot,
    emergency exit, copy room
"""))

# -- people ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    """A person as a command names them: article (outside the span), text, pronoun."""

    article: str                     # '' for names and "me", 'the' for descriptions
    text: str                        # what the person span covers
    pronoun: str                     # him | her | them ('' for "me": never referred to)


NAMES_HER: Pool = (_words('Anna, Maria, Sofia, Lucy, Grace, Priya, Aisha, Yara, Emma, Nina'),
                   _words('Elena, Yuki, Fatima, Hana, Ingrid, Mei, Zainab, Olga'))
NAMES_HIM: Pool = (_words('Ben, David, Tom, Omar, Ken, Leo, Chen, Lars, Mateo, Noah, Raj'),
                   _words('Marcus, Jonas, Carlos, Ivan, Kwame, Diego, Tariq, Sven'))
PERSON_ROLES: Pool = (_words("""
    doctor, nurse, manager, visitor, guest, patient, receptionist, cook, boss, intern,
    technician, customer
"""), _words('janitor, delivery guy, teacher, chef, pharmacist, security guard'))
PEOPLE_WORDS = {'person': 'them', 'man': 'him', 'woman': 'her', 'guy': 'him', 'lady': 'her',
                'girl': 'her', 'boy': 'him', 'kid': 'them', 'child': 'them'}
GARMENTS: Pool = (_words('shirt, jacket, sweater, hat, dress, t-shirt, hoodie, coat, cap'),
                  _words('scarf, vest, apron, uniform, raincoat'))
ACCESSORIES: Pool = (_words('bag, backpack, glasses, cane, laptop, coffee, walking stick'),
                     _words('briefcase, stroller, headphones, clipboard'))
GESTURES: Pool = (_words("""
    waving, raising their hand, raising their left arm, raising their right arm, pointing,
    clapping
"""), _words('nodding, shaking their head, holding a phone, crossing their arms'))
POSES: Pool = (_words('sitting, standing, lying down'), _words('kneeling, bending over'))
SUPERLATIVES: Pool = (_words('tallest, oldest, youngest'), _words('shortest, smallest'))


def person(rng: random.Random, held_out: bool, allow_me: bool = True) -> Person:
    """Draw a person: a name, a role, a description of clothing, gesture or pose, or me."""
    draw = rng.random()
    if allow_me and draw < 0.18:
        return Person('', 'me', '')
    if draw < 0.5:
        her = rng.random() < 0.5
        return Person('', pick(NAMES_HER if her else NAMES_HIM, rng, held_out),
                      'her' if her else 'him')
    if draw < 0.62:
        return Person('the', pick(PERSON_ROLES, rng, held_out), 'them')
    word = rng.choice(tuple(PEOPLE_WORDS))
    pronoun = PEOPLE_WORDS[word]
    kind = rng.random()
    if kind < 0.3:
        text = (f'{word} wearing a {pick(COLORS, rng, held_out)} '
                f'{pick(GARMENTS, rng, held_out)}')
    elif kind < 0.45:
        text = f'{word} in the {pick(COLORS, rng, held_out)} {pick(GARMENTS, rng, held_out)}'
    elif kind < 0.57:
        text = f'{word} with the {pick(ACCESSORIES, rng, held_out)}'
    elif kind < 0.72:
        gesture = pick(GESTURES, rng, held_out)
        text = (f'{gesture} {word}' if ' ' not in gesture and rng.random() < 0.5
                else f'{word} {gesture}')
    elif kind < 0.84:
        pose = pick(POSES, rng, held_out)
        text = f'{pose} {word}' if ' ' not in pose and rng.random() < 0.5 else f'{word} {pose}'
    else:
        text = f'{pick(SUPERLATIVES, rng, held_out)} {word}'
    return Person('the', text, pronoun)


# -- what is said ------------------------------------------------------------------------------

MESSAGES: Pool = (_words("""
    dinner is ready, the meeting starts in ten minutes, the package has arrived,
    I will be back soon, the kitchen is closed, it is time for your medicine,
    someone is at the door, the car is here, we are leaving now, lunch is in the cafeteria,
    the doctor is coming, the printer is out of paper, visiting hours are over,
    your order is ready, the room is ready, the taxi is waiting
"""), _words("""
    the printer is fixed, the bus is late, the elevator is out of order, the coffee is
    fresh, the delivery is delayed, your guest has arrived, the fire drill starts at noon
"""))
PERSON_ATTRIBUTES: Pool = (_words('name, age, shirt color, job'),
                           _words('favorite drink, pose'))

# -- motion ------------------------------------------------------------------------------------

DIRECTIONS: Pool = (_words('forward, backward, back, left, right, ahead, backwards'),
                    _words('in reverse, sideways'))
TURN_DIRECTIONS: Pool = (_words('left, right, around, clockwise, counterclockwise'),
                         _words('anticlockwise, to the left, to the right'))
_NUMBER_WORDS = ('one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten')


def distance(rng: random.Random, held_out: bool) -> str:
    """Render a distance as people say it: digits or words, many units."""
    if held_out and rng.random() < 0.5:
        numbers, singular = ('6', '7', '0.75', '3.5', 'six', 'seven', 'a couple of'), ('a single',)
        small = ('15', '40', 'forty')
    else:
        numbers, singular = ('2', '3', '4', '5', '0.5', '1.5', 'two', 'three', 'five'), (
            '1', 'one', 'half a')
        small = ('10', '20', '30', '50', 'fifty')
    roll = rng.random()
    if roll < 0.12:
        return rng.choice(('a few steps', 'a bit', 'a little', 'a few meters') if not held_out
                          else ('a tiny bit', 'a couple of steps', 'a short way'))
    if roll < 0.27:
        number = rng.choice(small)
        unit = rng.choice(('centimeters', 'cm', 'centimetres') if not held_out else (
            'inches', 'cm'))
        glue = '' if unit == 'cm' and number.isdigit() and rng.random() < 0.5 else ' '
        return f'{number}{glue}{unit}'
    number = rng.choice(numbers + singular)
    if number in singular:
        unit = rng.choice(('meter', 'metre', 'step', 'foot') if not held_out else ('yard', 'm'))
    else:
        unit = rng.choice(('meters', 'metres', 'm', 'feet', 'steps') if not held_out else (
            'yards', 'meters', 'ft'))
    glue = '' if unit in ('m', 'ft') and number[0].isdigit() and rng.random() < 0.5 else ' '
    return number + glue + unit


def angle(rng: random.Random, held_out: bool) -> str:
    """Render an angle in degrees, digits or words, or a fraction of a turn."""
    if rng.random() < 0.15:
        return rng.choice(('a quarter turn', 'half a turn', 'a full turn') if not held_out
                          else ('a half turn', 'a little'))
    numbers = (('20', '75', '135', 'sixty', 'thirty', 'one eighty') if held_out
               else ('15', '30', '45', '60', '90', '90', '120', '180', '270', '360', 'ninety',
                     'forty five', 'a hundred and eighty'))
    unit = rng.choice(('degrees', 'degrees', 'deg', 'degree') if not held_out else (
        'degrees', '°'))
    return f'{rng.choice(numbers)}{"" if unit == "°" else " "}{unit}'


def speed_value(rng: random.Random, held_out: bool) -> str:
    """Render a speed setting: a number with a unit, a percentage or a named pace."""
    values = (('0.6', '0.25 m/s', '0.7 meters per second', '75 percent', '40%', 'a quarter',
               'medium speed', 'jogging pace') if held_out else
              ('0.2 m/s', '0.3 m/s', '0.5 meters per second', '1 meter per second',
               '50 percent', '20 percent', '30%', 'half speed', 'full speed',
               'walking pace', 'maximum speed', 'minimum speed', 'zero point five'))
    return rng.choice(values)


def small_number(rng: random.Random, held_out: bool) -> str:
    """Render a small integer as digits or as a word."""
    value = rng.randint(2, 9)
    return _NUMBER_WORDS[value - 1] if rng.random() < 0.4 else str(value)


def pick(pool: Pool, rng: random.Random, held_out: bool, held_out_share: float = 0.5) -> str:
    """Draw from a pool; the held-out family draws from the held-out values about half the time."""
    training, held = pool
    if held_out and held and rng.random() < held_out_share:
        return rng.choice(held)
    return rng.choice(training)


def object_phrase(rng: random.Random, held_out: bool) -> str:
    """Draw an object, sometimes with a colour (``red cup``)."""
    noun = pick(OBJECT_NOUNS, rng, held_out)
    if noun in COLORABLE and rng.random() < 0.35:
        return f'{pick(COLORS, rng, held_out)} {noun}'
    return noun


RENDERED: Dict[str, Callable[[random.Random, bool], str]] = {
    'object': object_phrase,
    'objects': lambda rng, held_out: pick(PLURAL_OBJECTS, rng, held_out),
    'furniture': lambda rng, held_out: pick(FURNITURE, rng, held_out),
    'container': lambda rng, held_out: pick(CONTAINERS, rng, held_out),
    'room': lambda rng, held_out: pick(ROOMS, rng, held_out),
    'message': lambda rng, held_out: pick(MESSAGES, rng, held_out),
    'attribute': lambda rng, held_out: pick(PERSON_ATTRIBUTES, rng, held_out),
    'direction': lambda rng, held_out: pick(DIRECTIONS, rng, held_out),
    'turn': lambda rng, held_out: pick(TURN_DIRECTIONS, rng, held_out),
    'distance': distance,
    'angle': angle,
    'speed': speed_value,
    'number': small_number,
    'name': lambda rng, held_out: pick(NAMES_HER if rng.random() < 0.5 else NAMES_HIM, rng,
                                       held_out),
}


def check_pools(pools: Sequence[Pool]) -> None:
    """Raise ValueError when a held-out value is also a training value."""
    for training, held in pools:
        shared = sorted(set(training) & set(held))
        if shared:
            raise ValueError(f'values both in training and held out: {shared}')


ALL_POOLS: Tuple[Pool, ...] = (OBJECT_NOUNS, PLURAL_OBJECTS, COLORS, FURNITURE, CONTAINERS,
                               ROOMS, NAMES_HER, NAMES_HIM, PERSON_ROLES, GARMENTS, ACCESSORIES,
                               GESTURES, POSES, SUPERLATIVES, MESSAGES, PERSON_ATTRIBUTES,
                               DIRECTIONS, TURN_DIRECTIONS)
