"""
What the generated commands are made of: slot values, split into training and held out.

A pool is ``(shared, held_out[, training_only])``: the training side draws the shared and the
training-only values, the held-out test family draws the shared values half the time and the
held-out ones otherwise. The training-only values were added after the held-out family was
committed (issue 12): keeping them out of the held-out draws leaves that family unchanged.

Argument pools hold the text an argument's span covers (no article, no preposition:
data/ANNOTATION.md); the words around it (``the``, ``to the``) belong to the template. People
carry their own article (``the`` for a description, none for a name) and the pronoun that
refers to them. Rendered values (distances, angles, speeds) draw numbers and units from split
sets too.
"""

from dataclasses import dataclass
import random
import re
from typing import Callable, Dict, Sequence, Tuple

Pool = Tuple[Tuple[str, ...], ...]            # (shared, held_out[, training_only])


def _words(block: str) -> Tuple[str, ...]:
    """Split comma-separated values (a value may wrap lines)."""
    return tuple(value.strip() for value in ' '.join(block.split()).split(',') if value.strip())


# -- things ------------------------------------------------------------------------------------

OBJECT_NOUNS: Pool = (_words("""
    cup, mug, water bottle, bottle of water, glass of water, coffee mug, plate, bowl, spoon,
    fork, remote, remote control, keys, phone, tablet, laptop, book, notebook, magazine,
    newspaper, pen, pencil, marker, box, small box, package, parcel, bag, backpack, jacket,
    hat, towel, sponge, soap, toothbrush, apple, banana, orange, snack, cookie, sandwich, soda
    can, juice box, cereal box, milk carton, screwdriver, hammer, wrench, tape, charger, toy,
    ball, teddy bear, pillow, blanket, pill bottle, first aid kit, tray, basket, trash bag,
    glasses, tissue, mail, water, coffee, tea, medicine
"""), _words("""
    stapler, wallet, flashlight, lunchbox, thermos, paper towels, tennis ball, rubber duck,
    candle, spatula, whisk, cutting board, soup can, tissue box, vase, extension cord,
    calculator, ruler, jar of jam, coffee pods, earbuds, sunglasses, yogurt cup, umbrella, hand
    cream, cushion, measuring tape, oven mitt
"""), _words("""
    plate of cookies, bowl of fruit, cup of coffee, can of soda, bag of chips, pair of
    scissors, bottle of wine, packet of crackers, roll of tape, bar of soap, glass of juice,
    bag of rice, tin of biscuits, jug of water, pot of tea, stack of papers, tube of
    toothpaste, bunch of keys, mop, broom, bucket, dustpan, ladle, frying pan, kettle, teapot,
    thermometer, blood pressure cuff, wheelchair, walker, crutches, folder, envelope, letter,
    file, binder, stamp, scissors, glue stick, mouse, keyboard, monitor, cable, power bank,
    battery pack, light bulb, drill, pliers, tape measure, level, paintbrush, bolt, screw,
    nail, lamp, clock, picture frame, plant, flower pot, watering can, shoe, shoes, slippers,
    socks, gloves, suitcase, handbag, purse, coin, receipt, ticket, badge, key card, helmet,
    pizza box, salad, baguette, carton of eggs, loaf of bread, cheese, butter, honey, ketchup,
    salt shaker, pepper grinder, napkin, straw, coaster, remote for the tv, game controller,
    doll, puzzle, crayons, sippy cup, baby bottle, dog leash, cat toy, dog bowl, pet food, dog,
    cat, medication, pills, inhaler, bandage, ice pack, hot water bottle, reading glasses,
    hearing aid, newspaper rack, trash, recycling, dirty dishes, clean towels, groceries,
    package from the courier, parcel for Anna, Tom's jacket
"""))
OBJECT_ADJECTIVES = _words("""
    big, small, large, empty, full, dirty, clean, heavy, old, new, broken, open, plastic,
    metal, wooden, paper, spare, other, second, last, little, tall, round, square, warm, cold,
    fresh
""")
PLURAL_OBJECTS: Pool = (_words("""
    cups, mugs, bottles, plates, bowls, books, pens, boxes, apples, bananas, chairs, towels,
    toys, balls, spoons, bags, pillows, cans, markers, glasses, keys
"""), _words("""
    staplers, candles, jars, cushions, napkins, umbrellas, notebooks, tennis balls, forks,
    coasters
"""), _words("""
    chairs at the table, plates on the table, glasses on the shelf, shoes, socks, bottles of
    water, cans of soda, boxes of cereal, red cups, blue boxes, empty bottles, dirty cups,
    packages, parcels, letters, files, folders, tools, pencils, pillows on the bed, plants,
    lamps, windows, doors, computers, monitors, keyboards, fruits, oranges, eggs, tables,
    crates, pallets, bins, trays, carts
"""))
COLORS: Pool = (_words('red, blue, green, yellow, black, white, brown'),
                _words('orange, purple, pink, grey, silver'), _words("""
    dark blue, light green, beige, navy, golden, turquoise, maroon, striped, checkered
"""))
COLORABLE = _words('cup, mug, ball, box, bag, bottle, book, towel, jacket, hat, pen, plate')
FURNITURE: Pool = (_words("""
    table, kitchen table, desk, shelf, top shelf, bottom shelf, counter, kitchen counter,
    couch, sofa, chair, bed, cabinet, drawer, sink, fridge, cupboard, workbench, cart, dining
    table, windowsill, armchair, tv stand
"""), _words("""
    bookcase, dresser, coffee table, side table, bench, ottoman, sideboard, pantry shelf,
    dishwasher, microwave, nightstand, filing cabinet, piano
"""), _words("""
    night table, coffee shelf, kitchen island, breakfast bar, wardrobe, closet, chest of
    drawers, tv cabinet, shoe rack, coat rack, stool, bar stool, footstool, high chair, crib,
    changing table, desk in the corner, reception counter, front desk, conveyor belt, loading
    table, trolley, serving cart, medicine cabinet, bathroom sink, bathtub, stove, oven,
    freezer, washing machine, dryer, ironing board, printer, copier, window ledge, mantelpiece,
    radiator, floor, doormat, bottom drawer, top drawer, middle shelf, left shelf, right
    counter, glass table, round table, small table, big table, table by the window, shelf next
    to the door, workbench in the garage, counter by the sink
"""))
CONTAINERS: Pool = (_words('box, bin, basket, drawer, sink, bucket, trash can, bag, crate, tray'),
                    _words('laundry basket, toolbox, recycling bin, tote, hamper'), _words("""
    drawer under the sink, cardboard box, storage box, plastic bin, wastebasket, trash bin,
    compost bin, cooler, backpack, handbag, suitcase, cupboard, toy box, shoebox, locker,
    mailbox, fruit bowl, tray on the table, shopping bag
"""))
ROOMS: Pool = (_words("""
    kitchen, living room, bedroom, bathroom, office, lab, hallway, corridor, lobby, reception,
    dining room, garage, entrance, front door, back door, meeting room, conference room,
    storage room, cafeteria, break room, elevator, workshop, library, nurses station, main
    hall, kids room, guest room, second floor, reception desk
"""), _words("""
    pantry, laundry room, basement, study, balcony, patio, gym, waiting room, staff lounge,
    mail room, server room, atrium, porch, attic, greenhouse, exit, parking lot, emergency
    exit, copy room
"""), _words("""
    garden, courtyard, front desk, nursery, hall, classroom, warehouse, loading dock,
    staircase, restroom, toilet, cloakroom, closet, utility room, terrace, yard, foyer,
    playroom, master bedroom, living area, den, ward, canteen, visitor area, exam room,
    operating room, x-ray room, wardrobe room, shower room, car park, entrance hall, back
    garden, rooftop, first floor, ground floor, third floor, upstairs, downstairs, lounge, tv
    room, family room, music room, laboratory, break area, supply room, archive, information
    desk, main entrance, side entrance, loading bay, workshop floor, assembly line, packing
    station, charging area, dining area, sitting room, hallway upstairs, corner office
"""))

NUMBERED_PLACES = _words('room, bed, ward, bay, gate, office, lab, platform, aisle, cabin, suite, '
                         'table, desk, locker, dock, zone, station')

# -- people ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    """A person as a command names them: article (outside the span), text, pronoun."""

    article: str                     # '' for names and "me", 'the' for descriptions
    text: str                        # what the person span covers
    pronoun: str                     # him | her | them ('' for "me": never referred to)


NAMES_HER: Pool = (_words('Anna, Maria, Sofia, Lucy, Grace, Priya, Aisha, Yara, Emma, Nina'),
                   _words('Elena, Yuki, Fatima, Hana, Ingrid, Mei, Zainab, Olga'), _words("""
    Sara, Laura, Julia, Chloe, Amara, Keiko, Ana, Beatriz, Ewa, Leila, Nadia, Rosa, Tanya, Zoe,
    Mia, Olivia, Isabel, Esther, Naomi, Ruth, Linh, Ayesha, Sigrid, Marta, Camila
"""))
NAMES_HIM: Pool = (_words('Ben, David, Tom, Omar, Ken, Leo, Chen, Lars, Mateo, Noah, Raj'),
                   _words('Marcus, Jonas, Carlos, Ivan, Kwame, Diego, Tariq, Sven'), _words("""
    Paul, Peter, Sam, Jack, Luca, Ahmed, Kofi, Hiroshi, Pablo, Stefan, Arjun, Bilal, Daniel,
    George, Henry, Igor, Jamal, Kenji, Lukas, Mohammed, Nikolai, Oscar, Pedro, Rafael, Simon,
    Tim, Victor, Wei, Yusuf, Felix
"""))
PERSON_ROLES: Pool = (_words("""
    doctor, nurse, manager, visitor, guest, patient, receptionist, cook, boss, intern,
    technician, customer
"""), _words('janitor, delivery guy, teacher, chef, pharmacist, security guard'), _words("""
    driver, courier, waiter, waitress, cleaner, gardener, porter, electrician, plumber,
    professor, student, supervisor, engineer, caretaker, dentist, surgeon, carer, mechanic,
    librarian, cashier, host, new employee, new hire, resident, owner, housekeeper, nanny,
    babysitter, grandmother, grandfather, mom, dad, kids, children, family, visitors, guests,
    patients, team, staff, everyone, people in the hall, group of visitors
"""))
PEOPLE_WORDS = {'person': 'them', 'man': 'him', 'woman': 'her', 'guy': 'him', 'lady': 'her',
                'girl': 'her', 'boy': 'him', 'kid': 'them', 'child': 'them'}
GARMENTS: Pool = (_words('shirt, jacket, sweater, hat, dress, t-shirt, hoodie, coat, cap'),
                  _words('scarf, vest, apron, uniform, raincoat'), _words("""
    blouse, skirt, suit, tie, jumper, fleece, polo shirt, lab coat, beanie, gown, cardigan,
    windbreaker, jersey, tracksuit
"""))
ACCESSORIES: Pool = (_words('bag, backpack, glasses, cane, laptop, coffee, walking stick'),
                     _words('briefcase, stroller, headphones, clipboard'), _words("""
    suitcase, cup of coffee, tablet, phone, crutches, dog, flowers, helmet, camera, shopping
    bag, name tag, badge, wheelchair, red backpack, hat
"""))
GESTURES: Pool = (_words("""
    waving, raising their hand, raising their left arm, raising their right arm, pointing,
    clapping
"""), _words('nodding, shaking their head, holding a phone, crossing their arms'), _words("""
    raising a hand, waving at me, pointing at the door, calling me, holding a sign, beckoning,
    waving both arms, raising both hands, giving a thumbs up, looking at me
"""))
POSES: Pool = (_words('sitting, standing, lying down'), _words('kneeling, bending over'),
               _words("""
    lying on the floor, leaning on the wall, waiting, sitting down, standing up, sleeping,
    walking, running, reading, standing by the window, lying in bed
"""))
SUPERLATIVES: Pool = (_words('tallest, oldest, youngest'), _words('shortest, smallest'),
                      _words("""
    nearest, closest, biggest, last, first, only
"""))


def person(rng: random.Random, held_out: bool, allow_me: bool = True) -> Person:
    """Draw a person: a name, a role, a description of clothing, gesture or pose, or me."""
    if not held_out and rng.random() < 0.22:
        return _more_people(rng)
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


TITLES = {'Dr.': 'them', 'Mr.': 'him', 'Mrs.': 'her', 'Ms.': 'her', 'Professor': 'them',
          'Doctor': 'them', 'Nurse': 'them', 'Officer': 'them', 'Dr': 'them', 'Mr': 'him'}
SURNAMES = _words("""
    Smith, Garcia, Kowalski, Okafor, Tanaka, Rossi, Novak, Haddad, Nguyen, Silva, Jensen,
    Ivanova, Brown, Kim, Patel, Schmidt, Dubois, Moreau, Costa, Mensah, Suzuki, Lindqvist
""")
RELATIVES = _words('mother, father, son, daughter, friend, colleague, assistant, wife, husband')
PEOPLE_GROUPS = _words('people, visitors, kids, guests, children, patients, students, workers')
CROWDS: Pool = ((), (), PEOPLE_GROUPS + _words('staff, nurses, people waiting, new visitors'))


def _more_people(rng: random.Random) -> Person:
    """Training-only people: titles, full names, described roles, relatives and groups."""
    kind = rng.random()
    if kind < 0.25:
        title = rng.choice(tuple(TITLES))
        return Person('', f'{title} {rng.choice(SURNAMES)}', TITLES[title])
    if kind < 0.4:
        her = rng.random() < 0.5
        first = pick(NAMES_HER if her else NAMES_HIM, rng, False)
        return Person('', f'{first} {rng.choice(SURNAMES)}', 'her' if her else 'him')
    role = pick(PERSON_ROLES, rng, False)
    if kind < 0.7:
        detail = rng.random()
        if detail < 0.4:
            text = f'{role} in the {pick(COLORS, rng, False)} {pick(GARMENTS, rng, False)}'
        elif detail < 0.7:
            text = f'{role} with the {pick(ACCESSORIES, rng, False)}'
        else:
            text = f'{role} {pick(POSES, rng, False)}'
        return Person('the', text, 'them')
    if kind < 0.85:
        name = pick(NAMES_HER if rng.random() < 0.5 else NAMES_HIM, rng, False)
        return Person('', f"{name}'s {rng.choice(RELATIVES)}", 'them')
    group = rng.choice(PEOPLE_GROUPS)
    detail = (pick(POSES, rng, False) if rng.random() < 0.5
              else f'with the {pick(ACCESSORIES, rng, False)}')
    return Person('the', f'{group} {detail}', 'them')


# -- what is said ------------------------------------------------------------------------------

MESSAGES: Pool = (_words("""
    dinner is ready, the meeting starts in ten minutes, the package has arrived, I will be back
    soon, the kitchen is closed, it is time for your medicine, someone is at the door, the car
    is here, we are leaving now, lunch is in the cafeteria, the doctor is coming, the printer
    is out of paper, visiting hours are over, your order is ready, the room is ready, the taxi
    is waiting
"""), _words("""
    the printer is fixed, the bus is late, the elevator is out of order, the coffee is fresh,
    the delivery is delayed, your guest has arrived, the fire drill starts at noon
"""), _words("""
    dinner will be served at seven, the meeting is cancelled, the shuttle is waiting outside,
    your taxi will be here in five minutes, the report is on your desk, I am on my way, the
    water is boiling, the dog needs a walk, the store closes at nine, the guests are here, we
    need more coffee, the lab results are in, the train was delayed, the doctor will see you
    now, your parcel came, breakfast is ready, the room has been cleaned, the heating is
    broken, I found your keys, it is going to rain, the pharmacy called, someone left a
    message, please wait here, the lift is working again, you have a visitor, the battery is
    low, the door is locked, the test is tomorrow, class starts at nine, the lights are off,
    you are late for your appointment, mom says hello, the movie starts soon
"""))
# Training-only messages that name things: a message is content from end to end even where a
# word of it looks like an object, a person or a place (``that the gloves have arrived``), and
# a request inside it is the listener's, not the robot's (``that Ben should take the tray``).
MESSAGE_FRAMES = (
    'the {object} is on the {furniture}', 'the {object} is in the {room}',
    '{name} is waiting in the {room}', '{name} is on the way', 'the {role} is in the {room}',
    'the {role} wants to see you', 'the {role} in the {room} needs help',
    'your {object} has arrived', 'the {objects} are in the {room}',
    'I left the {object} on the {furniture}', '{name} will meet you at the {furniture}',
    'the {role} will be with you soon', 'there is a {object} for you in the {room}',
    '{name} needs the {object}', 'the {object} is ready', 'the meeting moved to the {room}',
    'the {role} from the {room} called', '{name} should bring the {object} to the {room}',
    'please take the {object} to the {room}', 'the {objects} have arrived',
    '{name} is looking for you', 'the {role} left the {object} on the {furniture}',
)


def message(rng: random.Random, held_out: bool) -> str:
    """Draw a message; the training side also composes some from the frames above."""
    if held_out or rng.random() >= 0.4:
        return pick(MESSAGES, rng, held_out)
    values = {'object': lambda: object_phrase(rng, False), 'room': lambda: room(rng, False),
              'furniture': lambda: pick(FURNITURE, rng, False),
              'objects': lambda: pick(PLURAL_OBJECTS, rng, False),
              'role': lambda: pick(PERSON_ROLES, rng, False),
              'name': lambda: pick(NAMES_HER if rng.random() < 0.5 else NAMES_HIM, rng, False)}
    frame = rng.choice(MESSAGE_FRAMES)
    return re.sub(r'\{(\w+)\}', lambda slot: values[slot.group(1)](), frame)


PERSON_ATTRIBUTES: Pool = (_words('name, age, shirt color, job'),
                           _words('favorite drink, pose'), _words("""
    hair color, height, mood, gesture, clothes, jacket color, name and age, gender
"""))

# -- motion ------------------------------------------------------------------------------------

DIRECTIONS: Pool = (_words('forward, backward, back, left, right, ahead, backwards'),
                    _words('in reverse, sideways'), _words("""
    forwards, straight, straight ahead, up, down, toward me, away from me, towards the door,
    north, south
"""))
TURN_DIRECTIONS: Pool = (_words('left, right, around, clockwise, counterclockwise'),
                         _words('anticlockwise, to the left, to the right'), _words("""
    round, the other way, back, towards me
"""))
_NUMBER_WORDS = ('one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine', 'ten')


def distance(rng: random.Random, held_out: bool) -> str:
    """Render a distance as people say it: digits or words, many units."""
    if not held_out and rng.random() < 0.2:
        return _more_distance(rng)
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


def _more_distance(rng: random.Random) -> str:
    """Training-only distances: other numbers, halves, millimetres and kilometres."""
    number = rng.choice(('1.2', '2.5', '0.3', '8', '12', '25', '100', 'eight', 'ten', 'twelve',
                         'two and a half', 'one and a half', 'four', 'another two', 'one more'))
    unit = rng.choice(('meters', 'metres', 'feet', 'steps', 'millimeters', 'mm', 'paces',
                       'centimeters', 'kilometers'))
    if number in ('one more',):
        unit = unit.rstrip('s') if unit != 'feet' else 'foot'
    return f'{number} {unit}'


def _more_angle(rng: random.Random) -> str:
    """Training-only angles: other numbers and units, fractions of a circle."""
    if rng.random() < 0.2:
        return rng.choice(('a quarter of a turn', 'a full circle', 'a few degrees',
                           'three quarters of a turn', 'a half circle'))
    number = rng.choice(('10', '100', '150', '200', '5', 'eighty', 'forty', 'fifteen',
                         'two hundred', 'three sixty', 'a hundred'))
    return f"{number} {rng.choice(('degrees', 'degree', 'deg', 'degs'))}"


def angle(rng: random.Random, held_out: bool) -> str:
    """Render an angle in degrees, digits or words, or a fraction of a turn."""
    if not held_out and rng.random() < 0.2:
        return _more_angle(rng)
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
    if not held_out and rng.random() < 0.3:
        return rng.choice(('0.4 m/s', '0.1 m/s', '0.8 meters per second', 'two meters per second',
                           '10 cm per second', 'fifty centimeters per second', '60 percent',
                           '80%', '10%', 'normal speed', 'top speed', 'low speed', 'a slow walk',
                           'a crawl', 'as fast as you can', 'your slowest speed', '1.5 m/s',
                           'point three meters per second', 'one kilometer per hour',
                           '3 km/h', 'ten percent', 'a third'))
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
    shared, held = pool[0], pool[1]
    if held_out:
        if held and rng.random() < held_out_share:
            return rng.choice(held)
        return rng.choice(shared)
    return rng.choice(shared + training_only(pool))


def training_only(pool: Pool) -> Tuple[str, ...]:
    """Return the values of a pool that only the training side draws."""
    return pool[2] if len(pool) > 2 else ()


def object_phrase(rng: random.Random, held_out: bool) -> str:
    """Draw an object, sometimes with a colour (``red cup``), an adjective or an owner."""
    noun = pick(OBJECT_NOUNS, rng, held_out)
    if noun in COLORABLE and rng.random() < 0.35:
        return f'{pick(COLORS, rng, held_out)} {noun}'
    if not held_out and ' ' not in noun and rng.random() < 0.2:
        if rng.random() < 0.25:
            return f"{pick(NAMES_HER if rng.random() < 0.5 else NAMES_HIM, rng, False)}'s {noun}"
        return f'{rng.choice(OBJECT_ADJECTIVES)} {noun}'
    return noun


def room(rng: random.Random, held_out: bool) -> str:
    """Draw a room; the training side also numbers places as buildings do (``bay 4``)."""
    if not held_out and rng.random() < 0.1:
        number = rng.choice(('1', '2', '3', '4', '5', '7', '9', '12', '14', '21', '105', '230',
                             'B', 'C', 'two', 'three', 'four'))
        return f'{rng.choice(NUMBERED_PLACES)} {number}'
    return pick(ROOMS, rng, held_out)


RENDERED: Dict[str, Callable[[random.Random, bool], str]] = {
    'object': object_phrase,
    'objects': lambda rng, held_out: pick(PLURAL_OBJECTS, rng, held_out),
    'furniture': lambda rng, held_out: pick(FURNITURE, rng, held_out),
    'container': lambda rng, held_out: pick(CONTAINERS, rng, held_out),
    'room': room,
    'message': message,
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
    """
    Raise ValueError when a held-out value leaks into training.

    A held-out value may not be a training value of its pool, nor a whole word or phrase of a
    training-only value of any pool (``study`` would leak through ``study room``).
    """
    held_out = {value.lower() for pool in pools for value in pool[1]}
    for pool in pools:
        shared = sorted(set(pool[0]) & set(pool[1]))
        if shared:
            raise ValueError(f'values both in training and held out: {shared}')
        for value in training_only(pool):
            words = value.lower().split()
            phrases = {' '.join(words[i:j]) for i in range(len(words))
                       for j in range(i + 1, len(words) + 1)}
            leaked = sorted(phrases & held_out)
            if leaked:
                raise ValueError(f'training-only value {value!r} contains held-out {leaked}')


ALL_POOLS: Tuple[Pool, ...] = (OBJECT_NOUNS, PLURAL_OBJECTS, COLORS, FURNITURE, CONTAINERS,
                               ROOMS, NAMES_HER, NAMES_HIM, PERSON_ROLES, GARMENTS, ACCESSORIES,
                               GESTURES, POSES, SUPERLATIVES, MESSAGES, PERSON_ATTRIBUTES,
                               DIRECTIONS, TURN_DIRECTIONS)
