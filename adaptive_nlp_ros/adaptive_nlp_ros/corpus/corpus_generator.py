"""
Seeded generator of the text-command corpus that the intent models are trained and tested on.

Why a generator and not a fixed file: the committed JSONL files in ``data/`` must be
reproducible from reviewed source, so a change to a template or a labelling rule shows up as a
diff of this module, and a test regenerates the corpus and compares it line by line with the
committed files.

How a sentence is built (all randomness from one ``random.Random`` per label and split, seeded
from ``seed``; no set is iterated, so the output does not depend on ``PYTHONHASHSEED``):

1. A template is drawn for the label. Templates are this module's own; an imperative template
   (e.g. ``pick up the {obj}``) may be wrapped in a request form (``can you ...?``, ``please``)
   and joined to the imperative of another label into a compound command; a template that starts
   with ``= `` is a complete utterance (a question, a negation with its correction) and is only
   given fillers and noise.
2. Slots (``{place}``, ``{obj}``, ``{dist}`` ...) are filled; ``{place2}`` differs from
   ``{place}``.
3. A filler or vocative may be prefixed (``um``, ``okay so``, ``hey robot,``), a filler may be
   dropped mid-sentence, and noise is applied: typos (dropped, doubled, swapped or neighbouring
   letters), speech-recognition homophones (to/too/two, there/their, break/brake, right/write),
   merged or split words (``pickup``, ``for ward``) and a casing style (sentence case, lowercase
   without punctuation as a speech recogniser writes it, lowercase, ALL CAPS).

Held-out scheme: every label has two disjoint template lists. ``train`` and ``dev`` come from the
training templates with training slot values only; ``test_generated`` comes from the held-out
templates, held-out request wrappers, fillers and connectors, and draws half of its slot values
(places, objects, people, robot names, ...) from held-out pools never used in train or dev.
No normalised sentence (lowercase, punctuation removed, whitespace collapsed) occurs twice in the
corpus, nor in two labels, and none equals a hand-written test command.

Labelling rules (DESIGN.md "Intent labels" made precise):

- A compound command takes the label of its first action: ``go to the kitchen and then pick up
  the cup`` is navigate; ``stop and turn around`` is stop.
- A negation with a correction takes the label of the action actually asked for: ``don't go to
  the lab, go to the office`` is navigate. ``don't move`` on its own is stop.
- stop versus cancel: stop means halt motion now. A bare stop word (stop, halt, freeze, hold it,
  brake, pause, wait stop, emergency stop) and a stop word with a motion word or gerund (``stop
  moving``, ``stop right there``, ``stop following me``, ``stop the wheels``) is **stop**.
  A stop word whose object names a task or request (``stop the task``, ``stop the delivery``,
  ``stop working on the errand``) is **cancel**, and so is every cancel verb (cancel, abort,
  never mind, forget it, scratch that, undo, call off, disregard) whatever follows it: ``abort the
  navigation`` is cancel, not stop. When in doubt between the two, a sentence without a
  task/request noun is stop (it is the safety-critical class).
- Vocatives (``hey robot,``, ``robot,``) are not greetings; greet is an utterance that is only
  social talk (``hello``, ``thanks``, ``how are you``). ``how is your battery`` is status.
- dock is any trip to the charger, dock, base or home; navigate never names the charger.
- bring is fetching an object to a person (``bring me``, ``get me``, ``hand me``, ``give ... to
  Anna``); pick is grasping without a recipient (``pick up``, ``grab the``).
- speed is a change of speed even with a motion verb (``move slower``); a motion with a manner
  adverb (``move forward slowly``) is move.
- find is looking for or locating (``where is the ball``, ``go look for Anna``); ``where are you``
  is status; going to a named place (``go to Anna's office``) is navigate.
- out_of_scope includes requests that reuse command words for things a mobile manipulator
  cannot do (``cancel my dentist appointment``, ``find me a cheap flight``, ``what's the speed
  of light``).

Regenerate the committed files from the repository root (DATA is
``adaptive_nlp_ros/adaptive_nlp_ros/data``)::

    bin/env-run python -m adaptive_nlp_ros.corpus.corpus_generator --out DATA --doc DATA/CORPUS.md
"""

import argparse
import collections
import json
import logging
import pathlib
import random
import re
from typing import Callable, Dict, List, Optional, Sequence, Tuple

LOGGER = logging.getLogger(__name__)

LABELS = (
    'stop', 'move', 'navigate', 'dock', 'pick', 'place', 'bring', 'follow', 'find', 'speed',
    'status', 'cancel', 'greet', 'out_of_scope',
)
DEFAULT_SEED = 13
CORPUS_FILES = ('train.jsonl', 'dev.jsonl', 'test.jsonl', 'test_handwritten.jsonl')
TABLE_BEGIN = '<!-- label-counts:begin -->'
TABLE_END = '<!-- label-counts:end -->'

# Sentences per label. stop (safety) and out_of_scope (open-ended) get more.
_LARGER = ('stop', 'out_of_scope')
TRAIN_SIZES = {label: (460 if label in _LARGER else 340) for label in LABELS}
DEV_SIZES = {label: (70 if label in _LARGER else 55) for label in LABELS}
TEST_SIZES = {label: (65 if label in _LARGER else 50) for label in LABELS}


def _lines(block: str) -> Tuple[str, ...]:
    """Split a block of one-per-line entries, so long template lists stay readable."""
    return tuple(line.strip() for line in block.strip().splitlines() if line.strip())


def _values(block: str) -> Tuple[str, ...]:
    """Split a block of comma-separated slot values (a value may wrap), so pools stay compact."""
    return tuple(value.strip() for value in ' '.join(block.split()).split(',') if value.strip())


# ---------------------------------------------------------------------------------------------
# Slot values: (training values, held-out values). Held-out values occur only in test_generated.
# ---------------------------------------------------------------------------------------------

_SLOTS: Dict[str, Tuple[Tuple[str, ...], Tuple[str, ...]]] = {
    'place': (_values("""
        kitchen, living room, lab, office, lobby, hallway, bedroom, bathroom, conference room,
        reception, garage, cafeteria, front door, elevator, meeting room, storage room, workshop,
        dining room, main entrance, break room, server room, mail room, nurses station, second
        floor lounge, back door, corridor, library
    """), _values("""
        laundry room, pantry, basement, study, copy room, waiting area, back porch, gym, staff
        lounge, balcony, atrium, supply closet, patio, parking lot, greenhouse
    """)),
    'obj': (_values("""
        cup, mug, water bottle, red ball, remote, keys, phone, book, box, apple, banana,
        screwdriver, wrench, towel, glasses, blue mug, tablet, pen, bag, jacket, toy, sponge,
        hammer, laptop, bowl, tape, package
    """), _values("""
        stapler, lunchbox, scissors, spoon, plate, toy car, umbrella, notebook, can of soda,
        medicine bottle, headphones, wallet, green cube, paper towels, flashlight, computer mouse
    """)),
    'thing': (_values("""
        a glass of water, some water, a snack, a coffee, my keys, my phone, the remote, a tissue, a
        pen, the newspaper, my glasses, a blanket, an apple, a banana, a towel, my book
    """), _values("""
        a cup of tea, my wallet, some napkins, the stapler, a spoon, my umbrella, a sandwich, my
        headphones, the scissors
    """)),
    'drink': (_values("""
        a glass of water, some juice, a coffee, a soda, some water, a beer
    """), _values("""
        some lemonade, a milkshake, a bottle of milk, an iced tea
    """)),
    'food': (_values("""
        a sandwich, an apple, a banana, some crackers, a snack, a cookie
    """), _values("""
        a granola bar, some grapes, a muffin, a yogurt
    """)),
    'surface': (_values("""
        table, desk, shelf, counter, floor, tray, chair, cart, top shelf, kitchen table, couch,
        bed, workbench
    """), _values("""
        windowsill, nightstand, bench, bookcase, ottoman, coffee table, dresser
    """)),
    'container': (_values("""
        box, bin, basket, drawer, sink, bucket, trash can, bag, crate
    """), _values("""
        laundry basket, toolbox, cabinet, recycling bin, tote
    """)),
    'person': (_values("""
        Anna, Ben, Maria, David, Sofia, Tom, Lucy, Omar, Grace, Ken, Priya, Leo, the doctor, the
        nurse, the manager, the visitor, my mom, grandma
    """), _values("""
        Elena, Marcus, Yuki, Fatima, Jonas, Carlos, Hana, Ivan, the janitor, my dad, the
        receptionist, the delivery guy
    """)),
    'persondesc': (_values("""
        man in the red shirt, woman with the bag, guy in the blue jacket, kid, nurse, person in the
        white coat
    """), _values("""
        lady in green, person with the cane, tall man, girl with the backpack
    """)),
    'room': (_values("""
        office, desk, room, lab
    """), _values("""
        workstation, cubicle
    """)),
    'name': (_values("""
        robot, buddy, Rosie, Bolt
    """), _values("""
        Robbie, pal, Sparky, little robot
    """)),
    'task': (_values("""
        task, request, errand, delivery, job, mission, order, pickup, current task, last task,
        plan, trip, last request, current job
    """), _values("""
        assignment, last command, chore, coffee run, operation, current assignment
    """)),
    'stopw': (_values("""
        stop, stop, stop, stop, halt, freeze, stpo, stahp, stopp, stop stop
    """), _values("""
        sotp, stoop, stap, stoppp
    """)),
    'dir': (_values("""
        forward, backward, back, left, right, ahead, backwards
    """), ()),
    'turn_dir': (('left', 'right'), ()),
    'rot_dir': (_values("""
        clockwise, counterclockwise, anticlockwise, to the left, to the right
    """), ()),
    'color': (_values("""
        red, blue, green, yellow, black, white
    """), _values("""
        orange, purple, pink
    """)),
    'shape': (_values("""
        ball, cube, block, cup, box, bottle
    """), _values("""
        cylinder, ring, can
    """)),
    'part': (_values("""
        arm, gripper, camera, lidar, left wheel, right wheel, drive motor
    """), _values("""
        bumper, microphone, wrist joint, speaker
    """)),
    'battery': (_values("""
        battery, charge, power, battery charge
    """), _values("""
        energy, juice
    """)),
    'hello': (_values("""
        hello, hi, hey there, good morning, good afternoon, good evening, hi there, hello there,
        morning
    """), _values("""
        howdy, hiya, greetings, yo, good day, heya, evening
    """)),
    'pleasantry': (_values("""
        how are you, how are you doing, how's it going, nice to meet you, thank you, thanks, thanks
        a lot, good job, well done, great work, goodbye, bye, see you later, good night, what's
        your name, who are you, what's up, you are awesome, I like you, welcome back, have a nice
        day, thank you so much, pleased to meet you, good to see you, how was your day, long time
        no see, cheers, nice work
    """), _values("""
        much appreciated, catch you later, farewell, how've you been, lovely to meet you, you're
        the best, appreciate it, take care, great to have you here, what should I call you, how's
        life, you rock
    """)),
    'country': (_values("""
        France, Japan, Brazil, Canada, Kenya, Germany, India
    """), _values("""
        Peru, Norway, Vietnam, Egypt
    """)),
    'city': (_values("""
        Paris, London, Tokyo, Chicago, Madrid, Sydney
    """), _values("""
        Lisbon, Oslo, Nairobi, Seoul
    """)),
    'genre': (_values("""
        jazz, rock music, classical music, hip hop, country music
    """), _values("""
        reggae, lo-fi beats, opera
    """)),
    'grocery': (_values("""
        milk, eggs, bread, coffee beans, toilet paper
    """), _values("""
        rice, olive oil, dog food
    """)),
    'company': (_values("""
        Apple, Tesla, Amazon
    """), _values("""
        Nvidia, Nintendo
    """)),
    'language': (_values("""
        Spanish, French, German
    """), _values("""
        Italian, Korean
    """)),
}

_NUM_WORDS = ('zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine',
              'ten', 'eleven', 'twelve')


def _dist(rng: random.Random, test: bool) -> str:
    """Render a distance the way people say it: digits or words, many units, some glued."""
    singular = ('1', 'one', 'half a')
    numbers = singular + ('2', '3', '4', '5', '0.5', '1.5', '2.5', 'two', 'three', 'five')
    if test and rng.random() < 0.5:
        singular = ('a single',)
        numbers = singular + ('6', '7', '0.75', '3.5', 'six', 'seven', 'a couple of')
    number = rng.choice(numbers)
    if number in singular:
        unit = rng.choice(('meter', 'metre', 'foot', 'step', 'm'))
    else:
        unit = rng.choice(('meters', 'meters', 'metres', 'm', 'feet', 'steps'))
    if rng.random() < 0.15:
        number = rng.choice(('10', '20', '30', '50', 'fifty') if not test else ('15', '40'))
        unit = rng.choice(('centimeters', 'cm', 'inches', 'centimetres'))
    glue = '' if unit in ('m', 'cm') and number[0].isdigit() and rng.random() < 0.5 else ' '
    return number + glue + unit


def _angle(rng: random.Random, test: bool) -> str:
    """Render an angle in degrees, as digits or words."""
    numbers = ('15', '30', '45', '60', '90', '90', '120', '180', '270', '360', 'ninety',
               'forty five', 'a hundred and eighty')
    if test and rng.random() < 0.5:
        numbers = ('20', '75', '135', 'sixty', 'thirty', 'one eighty')
    unit = rng.choice(('degrees', 'degrees', 'degrees', 'deg', 'degree'))
    return f'{rng.choice(numbers)} {unit}'


def _speedval(rng: random.Random, test: bool) -> str:
    """Render a speed setting: a number, a unit, a percentage or a named level."""
    values = _lines("""
        0.2
        0.3
        0.5
        0.8
        1.0
        1
        0.4 m/s
        0.5 meters per second
        1 meter per second
        50 percent
        20 percent
        30%
        half
        maximum
        minimum
        level 2
        level 3
        zero point five
        walking pace
    """)
    if test and rng.random() < 0.5:
        values = _lines("""
            0.6
            0.25 m/s
            0.7 meters per second
            75 percent
            40%
            level 4
            a quarter
            medium
            zero point three
        """)
    return rng.choice(values)


def _small_number(rng: random.Random, test: bool) -> str:
    """Render a small integer as digits or as a word."""
    value = rng.randint(2, 12)
    return _NUM_WORDS[value] if rng.random() < 0.4 else str(value)


def _roomnum(rng: random.Random, test: bool) -> str:
    """Render a room number; held-out numbers come from a different range."""
    return str(rng.randint(500, 899) if test else rng.randint(100, 450))


def _time(rng: random.Random, test: bool) -> str:
    """Render a clock time."""
    return rng.choice(('7 am', '6:30', 'noon', '8 pm', 'half past nine', '5:45 tomorrow'))


def _recipient(rng: random.Random, test: bool) -> str:
    """Pick who receives a delivery: mostly the speaker, else a person."""
    if rng.random() < 0.55:
        return 'me'
    return _slot_value('person', rng, test)


_COMPUTED: Dict[str, Callable[[random.Random, bool], str]] = {
    'dist': _dist,
    'angle': _angle,
    'speedval': _speedval,
    'n': _small_number,
    'roomnum': _roomnum,
    'time': _time,
    'recipient': _recipient,
}

# ---------------------------------------------------------------------------------------------
# Templates: label -> (training templates, held-out test templates). '= ' marks a complete
# utterance (no request wrapper, never part of a compound); the rest are imperative clauses.
# ---------------------------------------------------------------------------------------------

_TEMPLATES: Dict[str, Tuple[Tuple[str, ...], Tuple[str, ...]]] = {
    'stop': (_lines("""
        {stopw}
        {stopw} now
        {stopw} right now
        {stopw} right there
        {stopw} moving
        stop where you are
        stop immediately
        stop the robot
        stop your motors
        stop driving
        stop rolling
        stop turning
        stop the arm
        stop moving your arm
        stop following me
        stop going
        stop moving forward
        stop backing up
        stop and stay there
        come to a stop
        come to a halt
        stay still
        stay where you are
        don't move
        do not move
        brake
        brake now
        hit the brakes
        stop everything
        stop all motion
        halt all motors
        halt now
        stand still
        pause
        pause right there
        freeze right there
        hold it
        hold it right there
        hold up
        stop it
        stop stop stop
        no stop
        no no no stop
        wait, stop
        wait stop
        whoa, stop
        whoa whoa whoa
        hold on, stop
        enough, stop
        = {name}, {stopw}!
        = {stopw}, {name}
        = careful, {stopw}!
        = watch out, {stopw}
        = you're going to hit the {obj}, {stopw}
        = {stopw}, you're about to hit {person}
        = {stopw}, there's someone in the way
        = {stopw} before you hit the wall
        = emergency! {stopw}!
        = emergency stop
        = e-stop
        = {stopw}! {stopw}!
        = danger, {stopw} now
        = no no, {stopw} moving
        = whoa, {stopw} right there
    """), _lines("""
        cease all movement
        quit moving
        stop dead
        stay put
        kill the motors
        stop this instant
        stop the wheels
        stop in your tracks
        hold still
        don't take another step
        stop going forward
        halt immediately
        freeze where you are
        stop at once
        full stop
        stop the motion
        cut the motors
        stop driving forward
        park it right there
        stop right where you are
        = freeze, {name}
        = {stopw}, not another inch
        = i said {stopw}
        = {stopw}, danger
        = please just {stopw}
        = whoa there, halt
        = {stopw}, you are too close
        = red light, {stopw}
        = {stopw}, {stopw}, there's a person here
        = emergency halt
        = oh no, {stopw}
        = {name} {stopw} {stopw}
        = careful, you're about to fall, {stopw}
    """)),
    'cancel': (_lines("""
        cancel that
        cancel the {task}
        cancel my last request
        cancel the last command
        cancel your current task
        cancel
        cancel it
        cancel everything I asked
        abort the {task}
        abort
        abort the mission
        forget the last request
        forget what I just said
        forget it
        forget about the {obj}
        forget about going to the {place}
        never mind
        nevermind
        never mind the {obj}
        scrap that
        scratch that
        drop the {task}
        drop that request
        call off the {task}
        undo that
        undo the last command
        stop the {task}
        stop that task
        stop the current job
        don't do that anymore
        skip the {task}
        clear your task list
        clear the queue
        abandon the {task}
        give up on the {task}
        ignore my last command
        ignore that
        disregard that
        disregard the last instruction
        don't bother with the {obj}
        = no, cancel that
        = oops, cancel
        = never mind, I got it
        = never mind, I'll do it myself
        = I don't need the {obj} anymore, cancel
        = forget the {obj}, never mind
        = cancel the {task}, I changed my plans
        = actually, never mind
        = wait, cancel that
        = no no, forget it
        = that's not needed anymore, cancel it
        = cancel that, I meant something else
        = sorry, scratch that
    """), _lines("""
        call it off
        belay that
        revoke that order
        don't bother with the {task}
        withdraw my last request
        strike that
        terminate the {task}
        stop working on the {task}
        cancel the trip to the {place}
        abort the {obj} pickup
        forget about the {task}
        scrub the {task}
        kill the {task}
        = i changed my mind
        = changed my mind, forget it
        = you can drop the {task}
        = the {task} is off
        = never mind about the {obj}
        = don't worry about the {obj} anymore
        = that's no longer needed
        = no need anymore, cancel it
        = on second thought, forget it
        = eh, never mind that last thing
        = we don't need that anymore, call it off
    """)),
    'move': (_lines("""
        move forward {dist}
        go forward {dist}
        drive forward {dist}
        move back {dist}
        back up {dist}
        back up a bit
        back up a little
        move {dir} a little
        move {dir}
        move {dir} {dist}
        turn left
        turn right
        turn {turn_dir}
        turn {turn_dir} {angle}
        turn {angle} to the {turn_dir}
        rotate {angle} {rot_dir}
        rotate {angle}
        rotate in place
        turn around
        spin around
        go backwards
        go backwards {dist}
        step {dir}
        inch forward
        inch forward a little
        reverse {dist}
        drive straight ahead
        go straight for {dist}
        move to the {turn_dir}
        shift to the {turn_dir} a bit
        face the other way
        turn a bit to the {turn_dir}
        take {n} steps forward
        roll forward
        roll forward {dist}
        scoot back a little
        move ahead {dist}
        go {turn_dir}
        make a {turn_dir} turn
        do a full turn
        move {dist} to the {turn_dir}
        go back {dist}
        drive backward {dist}
        move forward slowly
        move forward
        go forward
        = don't turn {turn_dir}, turn {turn_dir2}
        = not {dir}, move {dir2}
        = no, the other way, turn {turn_dir}
        = {dist} forward please
        = a little more to the {turn_dir}
        = a bit to the {turn_dir}
    """), _lines("""
        advance {dist}
        head forward {dist}
        proceed straight {dist}
        retreat {dist}
        pivot {angle} {rot_dir}
        veer {turn_dir}
        nudge forward a little
        swing around to the {turn_dir}
        roll back {dist}
        do a 180
        make a u-turn
        creep forward {dist}
        edge to the {turn_dir}
        go {dist} {dir}
        turn yourself {angle} {rot_dir}
        back off a bit
        move a tad to the {turn_dir}
        rotate to face {turn_dir}
        travel {dist} forward
        twist {angle} to the {turn_dir}
        = not that way, turn {turn_dir}
        = {dist} ahead, go
        = you need to go back about {dist}
        = no, {turn_dir}, go {turn_dir}
        = straight ahead for {dist}
    """)),
    'navigate': (_lines("""
        go to the {place}
        head to the {place}
        navigate to the {place}
        drive to the {place}
        take me to the {place}
        go over to the {place}
        move to the {place}
        make your way to the {place}
        go back to the {place}
        return to the {place}
        go into the {place}
        head over to {person}'s {room}
        go to {person}'s {room}
        drive over to the {place}
        get to the {place}
        travel to the {place}
        go down the hall to the {place}
        go upstairs to the {place}
        go downstairs to the {place}
        show me the way to the {place}
        lead me to the {place}
        guide me to the {place}
        go wait in the {place}
        go to room {roomnum}
        navigate to room {roomnum}
        head to room {roomnum}
        go straight to the {place}
        drive me to the {place}
        = let's go to the {place}
        = I need you in the {place}
        = can we go to the {place}
        = we're going to the {place}
        = the {place}, go
        = don't go to the {place}, go to the {place2}
        = not the {place}, go to the {place2} instead
        = no, don't head to the {place}, head to the {place2}
        = go to the {place2} instead of the {place}
    """), _lines("""
        proceed to the {place}
        set off for the {place}
        relocate to the {place}
        hurry over to the {place}
        escort me to the {place}
        pop over to the {place}
        roll over to the {place}
        find your way to the {place}
        get yourself to the {place}
        go stand by the {place}
        swing by the {place}
        make a trip to the {place}
        walk me to {person}'s {room}
        go on over to room {roomnum}
        = your destination is the {place}
        = I'd like to go to the {place}
        = next stop, the {place}
        = could we head to {person}'s {room}
        = the {place} please, and hurry
        = not the {place}, the {place2}
        = you should head to the {place}
        = I want you over in the {place}
    """)),
    'dock': (_lines("""
        go charge
        go charge yourself
        go recharge
        go to the charging station
        go to your charger
        go back to the charger
        return to your dock
        return to the dock
        go dock
        dock
        dock yourself
        go to your docking station
        head to the charging station
        head back to base
        return to base
        go home and charge
        go home
        go back to your home base
        plug yourself in
        go plug yourself in
        recharge your battery
        charge your battery
        navigate to the charger
        drive to the charging dock
        park at the charger
        go park on the dock
        head to your dock
        dock at the station
        go get some juice
        go top up your battery
        go charge up
        return to the charging pad
        go back to your station and charge
        go to the charger
        head to the charger
        = your battery is low, go charge
        = you're running low, head to the dock
        = time to charge
        = time to go home
        = battery's almost dead, go plug in
        = you need to charge, go to the charging station
        = don't go to the {place}, go charge instead
        = not the {place}, go to the charger
        = your battery is at {n} percent, go dock
    """), _lines("""
        hit the charger
        get back on your dock
        go juice up
        retire to your charging station
        go refuel
        head home to recharge
        go sit on your charger
        return to the charging base
        go power up
        seek the charger
        go rest on your dock
        make your way back to the charging station
        go plug in
        park yourself at the dock
        go back and charge
        = back to the dock with you
        = low battery, get to your charger
        = you're almost out of power, go home
        = time to recharge, off you go
        = dock now and charge
    """)),
    'pick': (_lines("""
        pick up the {obj}
        pick the {obj} up
        grab the {obj}
        grasp the {obj}
        lift the {obj}
        take the {obj}
        pick up that {obj}
        grab that
        pick it up
        take hold of the {obj}
        get a grip on the {obj}
        pick up the {obj} from the {surface}
        grab the {obj} off the {surface}
        take the {obj} off the {surface}
        lift the {obj} off the {surface}
        pick up the {color} {shape}
        grab the {color} {shape}
        hold the {obj}
        pick up the {obj} on the {surface}
        collect the {obj}
        grab the {obj} with your gripper
        use your arm to pick up the {obj}
        close your gripper on the {obj}
        pick that {obj} up off the floor
        pick up my {obj}
        grab my {obj}
        = don't grab the {obj}, pick up the {obj2}
        = not the {obj}, grab the {obj2}
        = the {obj} on the {surface}, pick it up
        = no, pick up the {obj2} instead of the {obj}
    """), _lines("""
        clutch the {obj}
        seize the {obj}
        snatch the {obj}
        scoop up the {obj}
        get hold of the {obj}
        pluck the {obj} off the {surface}
        latch onto the {obj}
        take the {obj} in your gripper
        lift up the {obj}
        grab hold of the {obj}
        pick the {obj} off the {surface}
        pick up whatever is on the {surface}
        raise the {obj} off the {surface}
        secure the {color} {shape} in your gripper
        = your gripper should grab the {obj}
        = i want you to lift the {obj} up
        = the {color} {shape}, grab it
        = leave the {obj}, pick up the {obj2}
    """)),
    'place': (_lines("""
        put the {obj} on the {surface}
        place the {obj} on the {surface}
        put it down
        set it down
        put the {obj} down
        drop the {obj} in the {container}
        put the {obj} in the {container}
        place it in the {container}
        set the {obj} on the {surface}
        put it on the {surface}
        leave the {obj} on the {surface}
        put that back
        put the {obj} back on the {surface}
        release the {obj}
        let go of the {obj}
        open your gripper and drop it
        lay the {obj} on the {surface}
        place it next to the {obj2}
        put the {obj} next to the {obj2}
        drop it in the {container}
        put the {obj} away in the {container}
        set the {obj} down gently
        place the {obj} in the {container}
        put it in the {container}
        put the {obj} on top of the {obj2}
        = don't put it on the {surface}, put it on the {surface2}
        = not on the {surface}, place it on the {surface2}
        = the {obj} goes in the {container}, put it there
    """), _lines("""
        deposit the {obj} in the {container}
        rest the {obj} on the {surface}
        lower the {obj} onto the {surface}
        unload the {obj} onto the {surface}
        pop it in the {container}
        stick the {obj} on the {surface}
        leave it by the {obj2}
        toss the {obj} into the {container}
        drop it off on the {surface}
        set that on the {surface}
        stash the {obj} in the {container}
        put down the {obj} beside the {obj2}
        slide the {obj} onto the {surface}
        = the {obj} goes on the {surface}
        = let the {obj} go over the {container}
        = you can release it on the {surface}
        = not in the {container}, on the {surface}, set it down
    """)),
    'bring': (_lines("""
        bring me the {obj}
        bring the {obj} to {recipient}
        bring {recipient} the {obj}
        get me the {obj}
        get me {thing}
        fetch the {obj}
        fetch me {thing}
        fetch {recipient} the {obj}
        grab me the {obj}
        grab me {thing}
        hand me the {obj}
        give me the {obj}
        pass me the {obj}
        bring over the {obj}
        bring the {obj} over here
        take the {obj} to {person}
        deliver the {obj} to {person}
        give the {obj} to {person}
        carry the {obj} to {person}
        go get me the {obj}
        go get the {obj} for me
        bring the {obj} from the {place}
        bring me {thing}
        bring {thing} to {person}
        bring it here
        bring it to me
        = could I have {thing}
        = can I get {thing}
        = I need {thing}, bring it over
        = don't bring me the {obj}, bring me the {obj2}
        = {person} needs the {obj}, please bring it to them
        = I'm thirsty, bring me {drink}
        = I'm hungry, can you get me {food}
    """), _lines("""
        hand over the {obj}
        run and get me {thing}
        courier the {obj} to {person}
        get {person} {thing}
        supply me with {thing}
        bring back the {obj} from the {place}
        take {thing} over to {person}
        pass the {obj} over to {person}
        go fetch {thing} for {person}
        retrieve the {obj} for me
        drop off the {obj} with {person}
        = i could use {thing}, bring it here
        = would love {thing} right now
        = i need the {obj}, can you bring it
        = {person} wants {thing}, take it to them
        = so thirsty, {drink} please
        = my throat is dry, fetch me {drink}
        = i'm starving, grab me {food}
    """)),
    'follow': (_lines("""
        follow me
        follow {person}
        come with me
        follow that person
        follow the {persondesc}
        keep following me
        stay behind me
        stay close to me
        walk with me
        come along
        tag along
        follow me to the {place}
        follow {person} around
        stick with me
        keep up with me
        go after {person}
        shadow {person}
        follow right behind me
        keep a meter behind me
        follow my lead
        come after me
        trail {person}
        follow me closely
        stay with {person}
        follow {person} to the {place}
        walk behind me
        = I'm going to the {place}, follow me
        = come on, follow me
        = this way, follow me
        = don't go to the {place}, follow me instead
        = follow me, not {person}
    """), _lines("""
        accompany me
        walk alongside me
        chase after {person}
        keep pace with me
        be my shadow
        pursue the {persondesc}
        stay on my heels
        walk behind {person}
        follow in my footsteps
        come along behind me
        go along with {person}
        keep close to {person}
        = you're with me, follow
        = don't lose sight of me, follow along
        = stay right behind {person} wherever they go
        = let's go, you follow me to the {place}
    """)),
    'find': (_lines("""
        find the {obj}
        find {person}
        look for the {obj}
        look for {person}
        search for the {obj}
        search the {place} for the {obj}
        locate the {obj}
        locate {person}
        find my {obj}
        help me find my {obj}
        see if you can find the {obj}
        check if {person} is in the {place}
        look around for the {obj}
        scan the room for the {obj}
        find out where the {obj} is
        spot the {obj}
        find the {color} {shape}
        look for the {persondesc}
        search for {person}
        go look for the {obj}
        go find {person}
        = where is the {obj}
        = where is {person}
        = where's my {obj}
        = where did I leave my {obj}
        = have you seen the {obj}
        = have you seen {person}
        = do you know where the {obj} is
        = is {person} in the {place}
        = can you see the {obj}
        = where is the {place}
        = which room is {person} in
        = I can't find my {obj}
        = don't go to the {place}, look for {person} instead
    """), _lines("""
        hunt for the {obj}
        track down the {obj}
        seek out {person}
        figure out where {person} is
        check whether the {obj} is in the {place}
        look everywhere for the {obj}
        find where {person} went
        go search the {place} for {person}
        sweep the {place} looking for the {obj}
        comb the {place} for the {obj}
        = any idea where the {obj} went
        = whereabouts is {person}
        = i lost my {obj}
        = is the {obj} anywhere around here
        = do you see {person} anywhere
        = what happened to my {obj}, find it
        = i have no idea where my {obj} is
        = has anyone seen {person}
    """)),
    'speed': (_lines("""
        slow down
        speed up
        go faster
        go slower
        move slower
        move faster
        drive slower
        drive faster
        slow it down
        set speed to {speedval}
        set your speed to {speedval}
        change speed to {speedval}
        increase your speed
        decrease your speed
        reduce speed
        reduce your speed to {speedval}
        increase speed to {speedval}
        go at half speed
        go at full speed
        slow down a bit
        pick up the pace
        hurry up
        take it easy, slow down
        turn the speed down
        turn up the speed
        lower your speed
        switch to slow mode
        limit your speed to {speedval}
        cap the speed at {speedval}
        speed up to {speedval}
        slow down to {speedval}
        = you are going too fast
        = max speed
        = full speed
        = half speed
        = a little faster
        = too fast
        = too slow
        = you're too slow, speed up
        = can you go any faster
        = that's too fast, slow down
        = don't speed up, slow down
        = not so slow, go faster
    """), _lines("""
        accelerate
        decelerate
        ease off a little
        throttle down
        throttle up to {speedval}
        bump the speed to {speedval}
        dial the speed back
        crank it up
        put your speed at {speedval}
        lower the velocity to {speedval}
        step on it
        cruise at {speedval}
        keep it under {speedval}
        adjust your speed to {speedval}
        = quicker please
        = not so fast
        = you're crawling, go quicker
        = way too quick, ease up
        = could you move a touch slower
        = the speed is too high
    """)),
    'status': (_lines("""
        give me a status update
        report your position
        report your battery level
        report your status
        run a self check
        tell me your status
        tell me where you are
        check your {part}
        show me your battery level
        = how is your {battery}
        = what's your {battery} level
        = how much {battery} do you have left
        = {battery} status
        = what is your battery percentage
        = are you low on {battery}
        = how much charge do you have
        = do you need charging
        = what are you doing
        = what are you doing right now
        = what is your current task
        = what are you working on
        = where are you
        = where are you right now
        = what is your location
        = what room are you in
        = are you busy
        = are you done yet
        = did you finish the {task}
        = are you done with the {task}
        = what is your status
        = are there any errors
        = any faults
        = is everything working
        = are your sensors working
        = is your {part} working
        = how are your motors
        = how hot are your motors
        = what is your temperature
        = how long until your battery runs out
        = how many tasks are in your queue
        = what is your speed
        = how fast are you going
        = are you stuck
        = are you charging right now
        = is your battery full
        = how long have you been running
        = what mode are you in
        = is your gripper holding something
        = what are you carrying
        = how is your battery doing
        = is your {part} ok
        = status report
    """), _lines("""
        tell me your battery level
        run diagnostics on your {part}
        give me a rundown of your current state
        read out your battery percentage
        = diagnostics please
        = how juiced up are you
        = what's left in your battery
        = power level?
        = are you running low
        = how far along are you with the {task}
        = where exactly are you
        = what floor are you on
        = are you healthy
        = any hardware issues
        = how are your batteries holding up
        = is anything broken
        = what task are you on
        = are you still on the {task}
        = what's your position
        = how much {battery} is left
        = is your {part} acting up
        = any warnings on your {part}
        = what percent are you at
    """)),
    'greet': (_lines("""
        = {hello}
        = {hello} {name}
        = {hello}, {pleasantry}
        = {hello} {name}, {pleasantry}
        = {pleasantry}
        = {pleasantry} {name}
        = {pleasantry}, {name}
        = {pleasantry}, {pleasantry2}
        = oh {hello}
        = {hello} everyone
    """), _lines("""
        = {hello} again
        = {hello} to you
        = {pleasantry}, my friend
        = well {hello} {name}
        = {hello}! {pleasantry}!
        = {name}, {pleasantry}
        = {hello} {hello2}
        = {pleasantry} again
        = {pleasantry} and {pleasantry2}
        = {pleasantry}, {hello}
    """)),
    'out_of_scope': (_lines("""
        play some {genre}
        play some music
        play the next song
        tell me a joke
        tell me a story
        order a pizza
        order me some {grocery}
        buy {grocery} online
        add {grocery} to my shopping list
        set an alarm for {time}
        remind me to call {person}
        call {person}
        send an email to {person}
        text {person} that I'm running late
        translate hello into {language}
        sing me a song
        turn on the tv
        book a table for two
        recommend a good book
        tell me the news
        write a poem about the sea
        convert {n} miles to kilometers
        cancel my dentist appointment
        find me a cheap flight to {city}
        move my meeting to friday
        pay my electricity bill
        solve x squared equals {n}
        look up the population of {country}
        = what is the capital of {country}
        = what's the weather like today
        = will it rain tomorrow in {city}
        = what is {n} times {n2}
        = who won the game last night
        = what's the meaning of life
        = how tall is the eiffel tower
        = who wrote hamlet
        = what time is it
        = what day is it today
        = what movies are playing
        = how do I bake bread
        = purple monkey dishwasher
        = blah blah blah
        = asdf jkl
        = the cat sat on the mat
        = banana phone
        = lorem ipsum dolor
        = what's the stock price of {company}
        = how many calories are in an apple
        = do you believe in ghosts
        = how old is the universe
        = what's the speed of light
        = what is the status of my package
        = how do you stop a nosebleed
        = what's the best pizza place nearby
        = who is the president of {country}
        = how far is the moon
        = what rhymes with orange
        = is {city} bigger than {city2}
        = what language do they speak in {country}
        = how do you say goodbye in {language}
    """), _lines("""
        stream the latest episode of my show
        tell me a fun fact
        schedule a dentist appointment
        order new shoes online
        recite a poem
        turn up the volume on the speaker
        put on some {genre}
        find the meaning of this word online
        do my homework
        check my email
        call a taxi for me
        buy tickets for the concert in {city}
        read me my horoscope
        look up flights to {city}
        = whats the score of the match
        = who painted the mona lisa
        = how do i get a passport
        = forecast for the weekend?
        = what's trending on social media
        = quantum flapjack sideways
        = zzzz
        = florp the wibble
        = is a tomato a fruit
        = what is {n} plus {n2}
        = how much does a house cost in {city}
        = what's the weather going to be in {city}
        = who invented the telephone
        = what's the population of {country}
        = how many legs does a spider have
        = why is the sky blue
        = wibble wobble jelly robot
    """)),
}

# Labels whose imperative may start a compound, and the labels a second clause may come from.
_COMPOUND_FIRST = {
    'stop': 0.08, 'move': 0.18, 'navigate': 0.2, 'dock': 0.1, 'pick': 0.2, 'place': 0.15,
    'bring': 0.15, 'follow': 0.12, 'find': 0.15, 'speed': 0.12,
}
_COMPOUND_SECOND = ('move', 'navigate', 'dock', 'pick', 'place', 'bring', 'follow', 'find',
                    'speed')
_STOP_SECOND = (('stop', 'stop there', 'stop and wait', 'wait there', 'halt'),
                ('come to a stop', 'stay put there', 'hold still there'))
_CONNECTORS = ((' and then ', ', then ', ' and ', ' then ', ', and after that ', '. after that, ',
                ' and afterwards '),
               (', and once that is done ', ' and when you are done ', '; next, ',
                ' and right after that ', ' and also '))

# Request wrappers for imperative clauses ('?' at the end marks a question).
_WRAPPERS = (
    ('{c}',) * 8 + _lines("""
        please {c}
        {c} please
        can you {c}?
        could you {c}?
        would you {c}?
        can you please {c}?
        I need you to {c}
        I want you to {c}
        go ahead and {c}
        {c} for me
        {c} now
        just {c}
        {c} right away
        please {c} now
        {c}, thanks
    """),
    ('{c}',) * 6 + _lines("""
        could you please {c}?
        will you {c}?
        I would like you to {c}
        you need to {c}
        {c} if you can
        {c}, thank you
        kindly {c}
        do me a favor and {c}
        {c} when you get a chance
        {c}, would you?
        time to {c}
        I'd like you to {c}
        be a dear and {c}
        please, {c}
        {c} asap
    """),
)
_STOP_WRAPPERS = (
    ('{c}',) * 8 + _lines("""
        please {c}
        {c} please
        just {c}
        {c} now
        {c} immediately
        you need to {c}
        can you {c}?
        {c}, {c}
        hey {c}
        wait, {c}
        {c}!
        robot {c}
    """),
    ('{c}',) * 6 + _lines("""
        {c} this second
        quick, {c}
        {c} already
        for heaven's sake {c}
        oh no {c}
        {c} {c} {c}
        I need you to {c} now
        hey hey {c}
        please, please {c}
    """),
)
# Fillers and vocatives in front of any utterance.
_PREFIXES = (
    _lines("""
        um
        uh
        okay so
        so
        hey robot,
        robot,
        {name},
        alright,
        like
        ok
        hey,
        well
        okay
        uhh
        um so
        oh and
    """),
    _lines("""
        er
        hmm
        right so
        yo {name},
        listen,
        excuse me,
        oh
        actually,
        you know what,
        erm
        ok so um
        hey {name}
        so uh
    """),
)
_MID_FILLERS = (('um', 'uh', 'like', 'you know'), ('erm', 'hmm', 'I mean', 'uh'))

# Speech-recognition confusions: word -> what a recogniser (or a hurried typist) writes.
_HOMOPHONES = {
    'to': ('too', 'two'), 'too': ('to',), 'two': ('to', 'too'), 'there': ('their', "they're"),
    'their': ('there',), 'break': ('brake',), 'brake': ('break',), 'right': ('write', 'rite'),
    'here': ('hear',), 'four': ('for',), 'for': ('four',), 'your': ("you're", 'ur'),
    "you're": ('your',), 'you': ('u',), 'where': ('wear', 'were'), 'wait': ('weight',),
    'buy': ('by',), 'by': ('buy', 'bye'), 'know': ('no',), 'weather': ('whether',),
    'eight': ('ate',), 'one': ('won',), 'whole': ('hole',), 'see': ('sea',), 'meet': ('meat',),
    'red': ('read',), 'blue': ('blew',), 'hi': ('high',), 'hey': ('hay',), 'halt': ('hault',),
    'freeze': ('frees',), 'dock': ('doc',), 'lab': ('lap',), 'please': ('pleas',),
    'charge': ('charges',), 'battery': ('batery',), 'meters': ('meter',), 'mail': ('male',),
    'hall': ('haul',), 'stairs': ('stares',),
}
_MERGES = (
    ('pick up', 'pickup'), ('go to', 'goto'), ('living room', 'livingroom'),
    ('charging station', 'chargingstation'), ('can you', 'canyou'), ('turn around', 'turnaround'),
    ('never mind', 'nevermind'), ('forward', 'for ward'), ('backward', 'back ward'),
    ('bedroom', 'bed room'), ('hallway', 'hall way'), ('cannot', 'can not'),
    ('screwdriver', 'screw driver'), ('into', 'in to'), ('upstairs', 'up stairs'),
    ('meeting room', 'meetingroom'), ('set up', 'setup'), ('backwards', 'back wards'),
    ('speed up', 'speedup'), ('slow down', 'slowdown'), ('look for', 'lookfor'),
)
_KEYBOARD = {
    'a': 'qwsz', 'b': 'vghn', 'c': 'xdfv', 'd': 'serfcx', 'e': 'wsdr', 'f': 'drtgvc',
    'g': 'ftyhbv', 'h': 'gyujnb', 'i': 'ujko', 'j': 'huikmn', 'k': 'jiolm', 'l': 'kop',
    'm': 'njk', 'n': 'bhjm', 'o': 'iklp', 'p': 'ol', 'q': 'wa', 'r': 'edft', 's': 'awedxz',
    't': 'rfgy', 'u': 'yhji', 'v': 'cfgb', 'w': 'qase', 'x': 'zsdc', 'y': 'tghu', 'z': 'asx',
}
# Words that hold a compound together: left intact so "first action" stays recognisable.
_NO_TYPO = ('then', 'after', 'afterwards', 'next', 'once', 'done')
_QUESTION_STARTS = (
    'what', "what's", 'whats', 'where', "where's", 'how', "how's", 'who', 'is', 'are', 'do',
    'did', 'can', 'could', 'would', 'will', 'have', 'has', 'any', 'which', 'why', 'when',
    'should', "how've",
)

# Noise rates (per sentence).
_P_PREFIX = 0.3
_P_HOMOPHONE = 0.12
_P_MERGE = 0.07
_P_TYPO = 0.2
_P_MID_FILLER = 0.06
_P_HELDOUT_VALUE = 0.5
# Slots whose held-out values are noise variants: drawn less often, so noise does not dominate.
_P_HELDOUT_OVERRIDE = {'stopw': 0.2}

_SLOT_RE = re.compile(r'\{([a-z_]+?)(\d?)\}')
_NORM_RE = re.compile(r'[^\w\s]')

# ---------------------------------------------------------------------------------------------
# Hand-written test commands: written one by one, never produced by a template.
# ---------------------------------------------------------------------------------------------

HANDWRITTEN: Tuple[Tuple[str, str], ...] = (
    # stop
    ('Stop!', 'stop'),
    ('STOP STOP STOP', 'stop'),
    ('whoa whoa, stop right there', 'stop'),
    ("that's enough, freeze", 'stop'),
    ('hey hey hey, hold up', 'stop'),
    ("Robot, stop moving, you're going to hit the cat", 'stop'),
    ('stahp', 'stop'),
    ('stpo now', 'stop'),
    ('no no no no stop', 'stop'),
    ('Emergency stop!', 'stop'),
    ('quit it, stand still', 'stop'),
    ("wait wait wait, don't move", 'stop'),
    ("Freeze! There's a kid behind you", 'stop'),
    ('halt now', 'stop'),
    ("okay stop, that's close enough", 'stop'),
    ('uh stop stop', 'stop'),
    ("please stop, you're scaring the dog", 'stop'),
    ('STOP RIGHT THERE', 'stop'),
    ('hold it!', 'stop'),
    ('brake, brake!', 'stop'),
    ('stop it robot', 'stop'),
    ('hey! stop', 'stop'),
    ("stop, you're blocking the door", 'stop'),
    ("don't go any further", 'stop'),
    ("stop moving your arm, it's about to hit the lamp", 'stop'),
    ('halt, halt', 'stop'),
    ('hang on, stop a sec', 'stop'),
    ("whoa, that's way too close, stop", 'stop'),
    ('stop rolling forward right now', 'stop'),
    ('no wait stop stop', 'stop'),
    ('STOP, WAIT', 'stop'),
    ('freeze robot', 'stop'),
    ("that's close enough!", 'stop'),
    ('WHOA WHOA', 'stop'),
    ('careful careful careful', 'stop'),
    ("you're gonna crash, stop", 'stop'),
    ('ENOUGH! stay there', 'stop'),
    ("stop stop, you'll knock it over", 'stop'),
    # cancel
    ('never mind', 'cancel'),
    ('cancel that', 'cancel'),
    ('forget the last request', 'cancel'),
    ('abort the task', 'cancel'),
    ("actually forget it, I don't need it anymore", 'cancel'),
    ('scratch that last one', 'cancel'),
    ('cancel the coffee run', 'cancel'),
    ('oh wait, never mind, I found it myself', 'cancel'),
    ('nah, forget about the delivery', 'cancel'),
    ('undo, undo', 'cancel'),
    ("I don't need the towel anymore, cancel", 'cancel'),
    ("call off the search, she's here", 'cancel'),
    ('stop the delivery, she already left', 'cancel'),
    ('drop whatever I asked you to do', 'cancel'),
    ('kill the current job', 'cancel'),
    ('nevermind that', 'cancel'),
    ('Cancel the last order please', 'cancel'),
    ('ugh, forget what I said', 'cancel'),
    ("that won't be necessary anymore", 'cancel'),
    ('abort mission', 'cancel'),
    ('no longer needed, cancel the pickup', 'cancel'),
    ('wait, cancel that, wrong room', 'cancel'),
    ('scrap the whole plan', 'cancel'),
    ('disregard my previous command', 'cancel'),
    ("forget the coffee, I'll get it myself", 'cancel'),
    ("i changed my mind, don't bother", 'cancel'),
    ('never mind the cup', 'cancel'),
    ('cancel my request for the blanket', 'cancel'),
    ("don't worry about it anymore", 'cancel'),
    ('actually I no longer need that', 'cancel'),
    ('forget I asked', 'cancel'),
    ("no, don't bother, I'll do it", 'cancel'),
    # find
    ('where is the red ball', 'find'),
    ('look for Anna', 'find'),
    ('have you seen my glasses anywhere', 'find'),
    ("I can't find the remote, can you look for it", 'find'),
    ('where did I put my phone', 'find'),
    ('see if Ben is in the lab', 'find'),
    ('is there a screwdriver somewhere in the workshop', 'find'),
    ("can you spot my keys, I think they're in the living room", 'find'),
    ("Where'd the cat go?", 'find'),
    ('look around for a pair of scissors', 'find'),
    ('track down the nurse for me', 'find'),
    ('which room is Maria in', 'find'),
    ("find my wallet please, I'm late", 'find'),
    ('wheres the tv remote', 'find'),
    ('look under the couch for my sock', 'find'),
    ('search the kitchen for the blue mug', 'find'),
    ('any idea where David went', 'find'),
    ('find a free chair', 'find'),
    ('can you locate the first aid kit', 'find'),
    ('um where is the phone cable', 'find'),
    ('look for the lady with the red umbrella', 'find'),
    ('do you know where my keys are', 'find'),
    ('go look in the bedroom for my slippers', 'find'),
    ("help me find Tom's jacket", 'find'),
    ('is Omar in his office?', 'find'),
    ('I lost my earring somewhere around here', 'find'),
    ('where is the bathroom', 'find'),
    ("I've misplaced my reading glasses", 'find'),
    ('my keys are missing again', 'find'),
    ('can you tell me where Ben is sitting', 'find'),
    ('which shelf is the glue on', 'find'),
    # navigate
    ('go to the kitchen', 'navigate'),
    ("go to Anna's office", 'navigate'),
    ("don't go to the lab, go to the office", 'navigate'),
    ('take me to the meeting room on the second floor', 'navigate'),
    ('head over to reception', 'navigate'),
    ('can you go wait by the front door', 'navigate'),
    ('i need you in the garage asap', 'navigate'),
    ('drive to room 312', 'navigate'),
    ('Head back to the living room please', 'navigate'),
    ('go to the kitchen and then pick up the cup', 'navigate'),
    ('go to the cafeteria and grab me a sandwich', 'navigate'),
    ("let's go to the lobby together", 'navigate'),
    ('get yourself over to the nurses station', 'navigate'),
    ('nav to the conference room', 'navigate'),
    ('go upstairs to the lounge', 'navigate'),
    ('hey, go to the bedroom, not the bathroom', 'navigate'),
    ('could you make your way to the mail room', 'navigate'),
    ('off to the lab with you', 'navigate'),
    ('go stand over by the window', 'navigate'),
    ('kitchen, now', 'navigate'),
    ('go two the kitchen', 'navigate'),
    ('go down to the basement and check the boiler', 'navigate'),
    ('Please return to the lobby, the guests are waiting', 'navigate'),
    ('take me too the elevator', 'navigate'),
    ("go into Ben's room", 'navigate'),
    ('meet me at the front entrance', 'navigate'),
    ('get over to the lobby, quick', 'navigate'),
    ('swing past the mail room on your way', 'navigate'),
    ('I want you waiting in the hall', 'navigate'),
    # move
    ('move forward 2 meters', 'move'),
    ('turn 90 degrees', 'move'),
    ("back up a little, you're too close", 'move'),
    ('turn around', 'move'),
    ('go forward a bit', 'move'),
    ('scoot over to the left', 'move'),
    ('spin around twice', 'move'),
    ('can you move back like half a meter', 'move'),
    ('turn 45 degrees to your left', 'move'),
    ('rotate clockwise a little', 'move'),
    ('forward two steps', 'move'),
    ('move a few feet back', 'move'),
    ('turn right, then go straight', 'move'),
    ('reverse slowly', 'move'),
    ('turn to face the door', 'move'),
    ("don't turn left, turn right", 'move'),
    ('take a step back', 'move'),
    ('inch forwards a bit more', 'move'),
    # dock
    ('go charge', 'dock'),
    ('return to your dock', 'dock'),
    ('go to the charging station', 'dock'),
    ('your battery is almost dead, go plug yourself in', 'dock'),
    ('time to recharge, head back to base', 'dock'),
    ('go home robot', 'dock'),
    ('please dock now', 'dock'),
    ('park yourself on the charger for the night', 'dock'),
    ("go get some juice, you're at ten percent", 'dock'),
    ('head to the dock and charge up', 'dock'),
    ('Go back to your charging spot', 'dock'),
    ("you're running on fumes, go charge", 'dock'),
    ('dock at the station before you die', 'dock'),
    ('go recharge and then come back here', 'dock'),
    ('back to your charger, buddy', 'dock'),
    ('return home and charge', 'dock'),
    ('you look tired, go rest on your charger', 'dock'),
    ("you're almost out of juice, get yourself plugged in", 'dock'),
    # pick
    ('pick up the cup', 'pick'),
    ('grab the screwdriver', 'pick'),
    ('can you grab that bottle off the table', 'pick'),
    ('pick up the toy from the floor please', 'pick'),
    ('lift the box', 'pick'),
    ('grasp the handle of the mug', 'pick'),
    ('pick it up gently', 'pick'),
    ('take the pen from my desk', 'pick'),
    ('get a hold of that red block', 'pick'),
    ('pik up the ball', 'pick'),
    ('pick up the cup and put it in the sink', 'pick'),
    ('grab the keys before the dog gets them', 'pick'),
    ('can u pickup the sock', 'pick'),
    ('take hold of the bag', 'pick'),
    ('pick the apple out of the bowl', 'pick'),
    ('snag that banana', 'pick'),
    ('grab that thing on the floor', 'pick'),
    ('lift that up off the rug', 'pick'),
    # place
    ('put the cup on the table', 'place'),
    ('place the box by the door', 'place'),
    ('put it down', 'place'),
    ('set the plate on the counter', 'place'),
    ('drop it in the trash', 'place'),
    ('leave the package at the front desk', 'place'),
    ('put the book back on the shelf', 'place'),
    ('you can let go now', 'place'),
    ('put the bottle in the fridge', 'place'),
    ('lay the towel on the chair', 'place'),
    ('set it down over there, next to the lamp', 'place'),
    ('put my keys in the bowl', 'place'),
    ('put that back where you found it', 'place'),
    ('place the mug in the dishwasher', 'place'),
    ('drop the ball into the basket', 'place'),
    ('ok now put it on the cart', 'place'),
    ('put it back', 'place'),
    ('leave it there on the bench', 'place'),
    # bring
    ('bring me the cup', 'bring'),
    ("I'm thirsty, could you get me some water", 'bring'),
    ('fetch my slippers', 'bring'),
    ('bring the newspaper to grandpa', 'bring'),
    ('can you get me a beer from the fridge', 'bring'),
    ('hand me the scissors', 'bring'),
    ('could you bring the mail over here', 'bring'),
    ('give this to Maria', 'bring'),
    ('take the medicine to my mom', 'bring'),
    ('get me a tissue please', 'bring'),
    ('bring me something to eat', 'bring'),
    ('grab me a towel would you', 'bring'),
    ('could I have my phone', 'bring'),
    ("I'm cold, bring me my sweater", 'bring'),
    ('bring the box over to Ben', 'bring'),
    ('can you pass the salt', 'bring'),
    ('I could really use a coffee right now', 'bring'),
    ('my remote please', 'bring'),
    ('can you get me my glasses from the bedroom', 'bring'),
    # follow
    ('follow me', 'follow'),
    ('come with me', 'follow'),
    ('follow Anna to the kitchen', 'follow'),
    ('stay close behind me', 'follow'),
    ('keep following the nurse', 'follow'),
    ('walk with me to the car', 'follow'),
    ('come on, follow me', 'follow'),
    ('follow that guy in the green hoodie', 'follow'),
    ('tag along with me', 'follow'),
    ('stick with David', 'follow'),
    ('follow me but keep your distance', 'follow'),
    ("go after the kid, he's running off", 'follow'),
    ("come along, we're going for a walk", 'follow'),
    ('follow me around the house', 'follow'),
    ('keep up with me, okay', 'follow'),
    ('shadow Ben for the day', 'follow'),
    ('come on, this way', 'follow'),
    ('walk next to me', 'follow'),
    ("you're coming with me", 'follow'),
    # speed
    ('slow down', 'speed'),
    ("it's too fast", 'speed'),
    ('speed up a little', 'speed'),
    ('go faster please', 'speed'),
    ('set speed to 0.5', 'speed'),
    ('can you move a bit slower', 'speed'),
    ("that's too slow, hurry up", 'speed'),
    ('set your speed to half', 'speed'),
    ('max speed', 'speed'),
    ('reduce speed to 0.2 meters per second', 'speed'),
    ('slow it down, there are kids around', 'speed'),
    ("you're going too slow", 'speed'),
    ('drive slower in the hallway', 'speed'),
    ('crank up the speed', 'speed'),
    ('can you go a little quicker', 'speed'),
    ('decrease the speed by twenty percent', 'speed'),
    ('whoa, easy, too quick', 'speed'),
    ('you can go a bit quicker in the corridor', 'speed'),
    ('chill out, slower', 'speed'),
    # status
    ('how is your battery', 'status'),
    ('the battery looks low, how long do you have left', 'status'),
    ('what are you doing right now', 'status'),
    ('where are you', 'status'),
    ('are you charging', 'status'),
    ('how much battery is left', 'status'),
    ('is everything ok with your arm', 'status'),
    ("what's your current task", 'status'),
    ('any errors?', 'status'),
    ('did you finish the delivery', 'status'),
    ("what's your battery at", 'status'),
    ('are you stuck?', 'status'),
    ('are your cameras working', 'status'),
    ('which room are you in', 'status'),
    ('how many jobs do you have queued', 'status'),
    ('are you done yet', 'status'),
    ('battery?', 'status'),
    ('are you overheating', 'status'),
    ('you doing okay on power', 'status'),
    ('are you still working on the delivery', 'status'),
    ("how's the battery holding up", 'status'),
    # greet
    ('how are you', 'greet'),
    ('hello there', 'greet'),
    ('good morning robot', 'greet'),
    ('hi! nice to meet you', 'greet'),
    ('thanks, that was perfect', 'greet'),
    ('thank u', 'greet'),
    ('goodnight', 'greet'),
    ('see ya', 'greet'),
    ("how's your day going", 'greet'),
    ("hey, what's up", 'greet'),
    ("what's your name", 'greet'),
    ('great job buddy', 'greet'),
    ("you're so cool", 'greet'),
    ('bye bye', 'greet'),
    ('good evening, how are you doing today', 'greet'),
    ('hi there', 'greet'),
    ('hey, good to see you', 'greet'),
    ('thank you kindly', 'greet'),
    ('yo', 'greet'),
    # out_of_scope
    ("what's the weather like tomorrow", 'out_of_scope'),
    ('play some jazz', 'out_of_scope'),
    ('tell me a joke', 'out_of_scope'),
    ('who won the world cup in 2014', 'out_of_scope'),
    ('order me a pizza', 'out_of_scope'),
    ('add milk to my shopping list', 'out_of_scope'),
    ("what's the capital of Australia", 'out_of_scope'),
    ('sing happy birthday', 'out_of_scope'),
    ('buy new batteries on amazon', 'out_of_scope'),
    ('how many ounces in a cup', 'out_of_scope'),
    ("what's the meaning of life", 'out_of_scope'),
    ('blorp zing wonky', 'out_of_scope'),
    ('is it going to snow this weekend', 'out_of_scope'),
    ('set a timer for ten minutes', 'out_of_scope'),
    ('call my sister', 'out_of_scope'),
    ('turn on the radio', 'out_of_scope'),
    ('how do you spell necessary', 'out_of_scope'),
    ('who is the president of France', 'out_of_scope'),
    ('recommend a good movie', 'out_of_scope'),
    ('what time does the pharmacy close', 'out_of_scope'),
    ('translate thank you into Japanese', 'out_of_scope'),
    ('purple elephants dancing on toast', 'out_of_scope'),
    ('can you do my taxes', 'out_of_scope'),
    ("what's two plus two", 'out_of_scope'),
    ('cancel my gym membership', 'out_of_scope'),
    ('find me a good sushi place nearby', 'out_of_scope'),
    ('how fast can a cheetah run', 'out_of_scope'),
    ('book me a flight to Berlin', 'out_of_scope'),
    ("what's the score of the game", 'out_of_scope'),
    ("what's the latest news on the election", 'out_of_scope'),
    ('should I bring an umbrella today', 'out_of_scope'),
    ('where can I buy cheap sneakers', 'out_of_scope'),
    ('how do I stop my cat scratching the sofa', 'out_of_scope'),
    ('can you speed up my internet', 'out_of_scope'),
)


def normalize(text: str) -> str:
    """Return the key two sentences are duplicates under: lowercase, no punctuation, one space."""
    return ' '.join(_NORM_RE.sub('', text.lower()).split())


def handwritten_commands() -> List[Dict[str, str]]:
    """Return the hand-written test commands as corpus records."""
    return [{'text': text, 'label': label, 'source': 'handwritten'} for text, label in HANDWRITTEN]


def check_templates() -> None:
    """Raise ValueError on leaked held-out templates or values, or a bad hand-written command."""
    for label in LABELS:
        train, test = _TEMPLATES[label]
        shared = sorted(set(train) & set(test))
        if shared:
            raise ValueError(f'{label}: templates in both train and test: {shared}')
    for slot, (train, heldout) in _SLOTS.items():
        shared = sorted(set(train) & set(heldout))
        if shared:
            raise ValueError(f'slot {slot}: values in both train and held-out: {shared}')
    seen: Dict[str, str] = {}
    for text, label in HANDWRITTEN:
        if label not in LABELS:
            raise ValueError(f'hand-written command with unknown label {label!r}')
        if normalize(text) in seen:
            raise ValueError(f'hand-written commands {seen[normalize(text)]!r} and {text!r} '
                             'are the same sentence')
        seen[normalize(text)] = text


def _slot_value(slot: str, rng: random.Random, test: bool) -> str:
    """Draw one value of a slot; the test split draws half of its values from held-out pools."""
    if slot in _COMPUTED:
        return _COMPUTED[slot](rng, test)
    train, heldout = _SLOTS[slot]
    if test and heldout and rng.random() < _P_HELDOUT_OVERRIDE.get(slot, _P_HELDOUT_VALUE):
        return rng.choice(heldout)
    return rng.choice(train)


def _fill(template: str, rng: random.Random, test: bool) -> str:
    """Fill every slot of a template; a numbered slot ({place2}) differs from its sibling."""
    used: Dict[str, List[str]] = collections.defaultdict(list)

    def value(match: 're.Match[str]') -> str:
        slot = match.group(1)
        for _ in range(20):
            drawn = _slot_value(slot, rng, test)
            if drawn not in used[slot]:
                break
        used[slot].append(drawn)
        return drawn

    return _SLOT_RE.sub(value, template)


def _is_question(text: str) -> bool:
    """Say whether the last clause of a sentence reads as a question."""
    if text.rstrip().endswith('?'):
        return True
    last = re.split(r'[,!.]', text.lower())[-1].split()
    return bool(last) and last[0] in _QUESTION_STARTS


def _imperatives(label: str, test: bool) -> Tuple[str, ...]:
    """Return the imperative (wrappable) templates of a label for one side of the split."""
    return tuple(t for t in _TEMPLATES[label][int(test)] if not t.startswith('= '))


def _compound(first: str, label: str, rng: random.Random, test: bool) -> str:
    """Join further actions after the first one; the label stays that of the first."""
    text = first
    for _ in range(2 if rng.random() < 0.25 else 1):
        other = rng.choice([name for name in _COMPOUND_SECOND if name != label] + ['stop'])
        if other == 'stop':
            clause = rng.choice(_STOP_SECOND[int(test)])
        else:
            clause = _fill(rng.choice(_imperatives(other, test)), rng, test)
        text += rng.choice(_CONNECTORS[int(test)]) + clause
    return text


def _wrap(clause: str, label: str, rng: random.Random, test: bool) -> Tuple[str, bool]:
    """Put an imperative into a request form; return the text and whether it is a question."""
    wrappers = (_STOP_WRAPPERS if label == 'stop' else _WRAPPERS)[int(test)]
    wrapper = rng.choice(wrappers)
    question = wrapper.endswith('?')
    return wrapper.rstrip('?').replace('{c}', clause), question


def _homophone(text: str, rng: random.Random) -> str:
    """Replace one word by what a speech recogniser might have heard."""
    words = text.split(' ')
    spots = [i for i, word in enumerate(words) if word.lower().strip(',.!?') in _HOMOPHONES]
    if not spots:
        return text
    i = rng.choice(spots)
    word = words[i]
    core = word.lower().strip(',.!?')
    tail = word[len(word.rstrip(',.!?')):]
    words[i] = rng.choice(_HOMOPHONES[core]) + tail
    return ' '.join(words)


def _merge_split(text: str, rng: random.Random) -> str:
    """Merge two words or split one, as dictation and fast typing do."""
    options = [(a, b) for a, b in _MERGES if re.search(r'\b' + re.escape(a) + r'\b', text)]
    if not options:
        return text
    a, b = rng.choice(options)
    return re.sub(r'\b' + re.escape(a) + r'\b', b, text, count=1)


def _typo_word(word: str, rng: random.Random) -> str:
    """Misspell one word: drop, double, swap or mistype a letter (never the first one)."""
    i = rng.randrange(1, len(word))
    operation = rng.choice(('drop', 'double', 'swap', 'key'))
    if operation == 'drop':
        return word[:i] + word[i + 1:]
    if operation == 'double':
        return word[:i] + word[i] + word[i:]
    if operation == 'swap' and i < len(word) - 1:
        return word[:i] + word[i + 1] + word[i] + word[i + 2:]
    neighbours = _KEYBOARD.get(word[i].lower(), '')
    if not neighbours:
        return word[:i] + word[i + 1:]
    return word[:i] + rng.choice(neighbours) + word[i + 1:]


def _typo(text: str, rng: random.Random) -> str:
    """Misspell one or two words of four letters or more."""
    words = text.split(' ')
    spots = [i for i, word in enumerate(words)
             if len(word) >= 4 and word.isalpha() and word.lower() not in _NO_TYPO]
    if not spots:
        return text
    for i in rng.sample(spots, min(len(spots), 2 if rng.random() < 0.25 else 1)):
        words[i] = _typo_word(words[i], rng)
    return ' '.join(words)


def _mid_filler(text: str, rng: random.Random, test: bool) -> str:
    """Drop a hesitation filler between two words."""
    words = text.split(' ')
    if len(words) < 3:
        return text
    i = rng.randrange(1, len(words))
    words.insert(i, rng.choice(_MID_FILLERS[int(test)]))
    return ' '.join(words)


def _strip_punctuation(text: str, rng: random.Random) -> str:
    """Write a sentence as a speech recogniser does: no punctuation (decimal points kept)."""
    text = re.sub(r'(?<!\d)[.](?!\d)|[,!?;:]', ' ', text)
    if rng.random() < 0.5:
        text = text.replace("'", '')
    return ' '.join(text.split())


def _style(text: str, label: str, question: bool, rng: random.Random) -> str:
    """Apply a casing and punctuation style: sentence case, lowercase, no punctuation, CAPS."""
    text = ' '.join(text.split())
    text = re.sub(r'\s+([,.!?;])', r'\1', text)
    if question:
        end = '?'
    elif label == 'stop':
        end = '!' if rng.random() < 0.6 else '.'
    else:
        end = rng.choice(('.', '.', '.', '!', ''))
    punctuated = text if text[-1] in '.!?' else text + end
    draw = rng.random()
    caps = 0.15 if label == 'stop' else 0.06
    if draw < caps:
        return (punctuated if rng.random() < 0.5 else _strip_punctuation(text, rng)).upper()
    draw -= caps
    if draw < 0.33:
        return _strip_punctuation(text, rng).lower()
    draw -= 0.33
    if draw < 0.17:
        return punctuated.lower()
    draw -= 0.17
    if draw < 0.05:
        return text
    return punctuated[0].upper() + punctuated[1:]


def _make_sentence(label: str, rng: random.Random, test: bool) -> str:
    """Build one sentence of a label: template, slots, request form, fillers, noise, style."""
    template = rng.choice(_TEMPLATES[label][int(test)])
    utterance = template.startswith('= ')
    text = _fill(template[2:] if utterance else template, rng, test)
    question = _is_question(text)
    if not utterance:
        if rng.random() < _COMPOUND_FIRST.get(label, 0.0):
            text = _compound(text, label, rng, test)
        text, question = _wrap(text, label, rng, test)
    if rng.random() < _P_PREFIX:
        text = _fill(rng.choice(_PREFIXES[int(test)]), rng, test) + ' ' + text
    if rng.random() < _P_HOMOPHONE:
        text = _homophone(text, rng)
    if rng.random() < _P_MERGE:
        text = _merge_split(text, rng)
    if rng.random() < _P_TYPO:
        text = _typo(text, rng)
    if rng.random() < _P_MID_FILLER:
        text = _mid_filler(text, rng, test)
    return _style(text, label, question, rng)


def _sample_label(label: str, count: int, rng: random.Random, test: bool,
                  taken: Dict[str, str]) -> List[str]:
    """Draw ``count`` sentences of a label whose normalised text nobody has used yet."""
    sentences: List[str] = []
    attempts = 0
    while len(sentences) < count:
        attempts += 1
        if attempts > 400 * count:
            raise RuntimeError(
                f'{label}: only {len(sentences)} of {count} distinct sentences '
                f'({"test" if test else "train"} templates); add templates or slot values')
        text = _make_sentence(label, rng, test)
        key = normalize(text)
        if not key or key in taken:
            continue
        taken[key] = label
        sentences.append(text)
    return sentences


def generate_corpus(seed: int = DEFAULT_SEED) -> Dict[str, List[Dict[str, str]]]:
    """
    Generate the train, dev and held-out test splits, the same for the same seed.

    :returns: ``{'train': [...], 'dev': [...], 'test_generated': [...]}``, each a shuffled list
        of ``{'text': ..., 'label': ...}``.
    """
    check_templates()
    taken: Dict[str, str] = {}
    for text, label in HANDWRITTEN:
        taken.setdefault(normalize(text), label)
    splits: Dict[str, List[Dict[str, str]]] = {'train': [], 'dev': [], 'test_generated': []}
    for label in LABELS:
        rng = random.Random(f'{seed}:train:{label}')
        sentences = _sample_label(label, TRAIN_SIZES[label] + DEV_SIZES[label], rng, False,
                                  taken)
        rng.shuffle(sentences)
        dev_count = DEV_SIZES[label]
        splits['dev'] += [{'text': t, 'label': label} for t in sentences[:dev_count]]
        splits['train'] += [{'text': t, 'label': label} for t in sentences[dev_count:]]
    for label in LABELS:
        rng = random.Random(f'{seed}:test:{label}')
        sentences = _sample_label(label, TEST_SIZES[label], rng, True, taken)
        splits['test_generated'] += [{'text': t, 'label': label} for t in sentences]
    for name, records in splits.items():
        random.Random(f'{seed}:shuffle:{name}').shuffle(records)
        LOGGER.debug('%s: %d sentences', name, len(records))
    return splits


def _dump(path: pathlib.Path, records: Sequence[Dict[str, str]]) -> int:
    """Write records as JSON lines (UTF-8, not escaped) and return how many."""
    with path.open('w', encoding='utf-8') as stream:
        for record in records:
            stream.write(json.dumps(record, ensure_ascii=False) + '\n')
    return len(records)


def write_corpus(out_dir: pathlib.Path, seed: int = DEFAULT_SEED) -> Dict[str, int]:
    """
    Write train.jsonl, dev.jsonl, test.jsonl and test_handwritten.jsonl into ``out_dir``.

    test.jsonl holds the held-out generated sentences and every hand-written command, each with
    a ``source`` key (``generated`` or ``handwritten``); test_handwritten.jsonl is the
    hand-written subset in the same order.

    :returns: the number of lines written per file name.
    """
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    splits = generate_corpus(seed)
    test = [dict(record, source='generated') for record in splits['test_generated']]
    test += handwritten_commands()
    random.Random(f'{seed}:shuffle:test').shuffle(test)
    handwritten = [record for record in test if record['source'] == 'handwritten']
    counts = {
        'train.jsonl': _dump(out_dir / 'train.jsonl', splits['train']),
        'dev.jsonl': _dump(out_dir / 'dev.jsonl', splits['dev']),
        'test.jsonl': _dump(out_dir / 'test.jsonl', test),
        'test_handwritten.jsonl': _dump(out_dir / 'test_handwritten.jsonl', handwritten),
    }
    LOGGER.info('wrote %s to %s', counts, out_dir)
    return counts


def read_jsonl(path: pathlib.Path) -> List[Dict[str, str]]:
    """Read one JSON object per line."""
    with pathlib.Path(path).open(encoding='utf-8') as stream:
        return [json.loads(line) for line in stream if line.strip()]


def label_count_table(out_dir: pathlib.Path) -> str:
    """Return a Markdown table of label counts per corpus file in ``out_dir``."""
    out_dir = pathlib.Path(out_dir)
    columns: List[Tuple[str, collections.Counter]] = []
    test = read_jsonl(out_dir / 'test.jsonl')
    columns.append(('train', collections.Counter(
        r['label'] for r in read_jsonl(out_dir / 'train.jsonl'))))
    columns.append(('dev', collections.Counter(
        r['label'] for r in read_jsonl(out_dir / 'dev.jsonl'))))
    columns.append(('test (all)', collections.Counter(r['label'] for r in test)))
    columns.append(('test generated', collections.Counter(
        r['label'] for r in test if r.get('source') == 'generated')))
    columns.append(('test hand-written', collections.Counter(
        r['label'] for r in read_jsonl(out_dir / 'test_handwritten.jsonl'))))
    rows = ['| label | ' + ' | '.join(name for name, _ in columns) + ' |',
            '|---|' + '---:|' * len(columns)]
    for label in LABELS:
        rows.append(f'| {label} | ' + ' | '.join(str(c[label]) for _, c in columns) + ' |')
    rows.append('| **total** | ' + ' | '.join(
        f'**{sum(c.values())}**' for _, c in columns) + ' |')
    return '\n'.join(rows) + '\n'


def update_doc(doc: pathlib.Path, out_dir: pathlib.Path) -> None:
    """Replace the label-count table between the markers in a Markdown document."""
    doc = pathlib.Path(doc)
    text = doc.read_text(encoding='utf-8')
    begin, end = text.index(TABLE_BEGIN), text.index(TABLE_END)
    table = label_count_table(out_dir)
    doc.write_text(text[:begin + len(TABLE_BEGIN)] + '\n' + table + text[end:], encoding='utf-8')


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Write the corpus and print its label counts per split."""
    parser = argparse.ArgumentParser(
        prog='python -m adaptive_nlp_ros.corpus.corpus_generator',
        description='Generate the intent corpus (train/dev/test JSONL) from seeded templates.')
    parser.add_argument('--out', type=pathlib.Path, required=True, help='output directory')
    parser.add_argument('--seed', type=int, default=DEFAULT_SEED, help='random seed')
    parser.add_argument('--doc', type=pathlib.Path, default=None,
                        help='Markdown file whose label-count table is refreshed (CORPUS.md)')
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format='%(levelname)s %(name)s: %(message)s')
    counts = write_corpus(args.out, args.seed)
    for name, count in counts.items():
        print(f'{name}: {count} lines')
    print(label_count_table(args.out), end='')
    if args.doc is not None:
        update_doc(args.doc, args.out)
        print(f'updated the label-count table in {args.doc}')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
