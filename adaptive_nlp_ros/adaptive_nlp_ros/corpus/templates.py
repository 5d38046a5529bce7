"""
Templates of one action each, per intent: training templates and held-out ones, disjoint.

A template is the text of one action with slots (``composer.py`` parses and fills them):

* ``{the|object}``: an argument. Before ``|`` the words that precede it but stay outside its
  span (``the``, ``to the``; ``a`` picks ``a``/``an``/``some`` to fit the value); after it the
  role, optionally ``:pool`` when the role's default pool is not meant (``{on the|destination:
  furniture}``). ``@`` before the role lets the composer put a pronoun there when an earlier
  action named something of the same kind (``it``, ``them``, ``there``): the words before
  ``|`` then go too (``to the kitchen`` becomes ``there``).
* ``{person}``, ``{@person}``, ``{person-}`` (anyone but "me"): a person with its own article.
* ``{~pool}``: a word from a vocabulary pool of this module (verbs, mostly), not an argument.

A leading ``= `` marks a complete utterance (a question, a greeting): it is a command on its
own, never wrapped in a request form nor joined to another action. A leading ``+ `` marks an
action that only makes sense before a delivery or placement of the same object
(``get the cup`` then ``put it ...``): data/ANNOTATION.md's fetch rule.

The held-out templates use verbs, phrasings and connectors the training templates never
show: the test family measures commands worded otherwise, not memorized templates.
"""

from typing import Dict, Tuple

Templates = Tuple[Tuple[str, ...], Tuple[str, ...]]      # (training, held out)


def _lines(block: str) -> Tuple[str, ...]:
    return tuple(line.strip() for line in block.strip().splitlines() if line.strip())


VERBS: Dict[str, Tuple[Tuple[str, ...], Tuple[str, ...]]] = {
    'go': (('go', 'drive', 'head', 'move', 'navigate', 'walk', 'roll'),
           ('proceed', 'make your way', 'travel', 'scoot over')),
    'pick': (('pick up', 'grab', 'take', 'lift', 'collect', 'get hold of'),
             ('snatch', 'scoop up', 'take hold of', 'pluck')),
    'put': (('put', 'place', 'set', 'leave', 'drop'), ('rest', 'stash', 'deposit', 'stick')),
    'follow': (('follow', 'go after', 'come after', 'stay behind'),
               ('tail', 'shadow', 'keep up with', 'trail')),
    'guide': (('guide', 'escort', 'lead', 'take', 'accompany'),
              ('usher', 'walk', 'bring', 'steer')),
    'find': (('find', 'look for', 'search for', 'locate', 'go find'),
             ('track down', 'hunt for', 'seek out', 'spot')),
    'greet': (('greet', 'say hello to', 'say hi to', 'wave at', 'welcome'),
              ('salute', 'wave hello to', 'give a warm hello to')),
    'turn': (('turn', 'rotate', 'spin'), ('pivot', 'swivel')),
    'drive': (('drive', 'move', 'go', 'roll'), ('advance', 'creep', 'inch')),
    'count': (('count', 'tell me how many'), ('tally', 'give me the number of')),
}

TEMPLATES: Dict[str, Templates] = {
    'stop': (_lines("""
        stop
        stop now
        stop right now
        stop right there
        stop moving
        halt
        freeze
        stop immediately
        stop the robot
        stop driving
        stop turning
        stop following me
        stop where you are
        don't move
        do not move
        emergency stop
        hold on, stop
        wait, stop
        stop stop stop
        brake now
        stay still
        come to a stop
        stop the wheels
        stop your arm
    """), _lines("""
        cease all motion
        whoa whoa whoa
        stand still
        brakes on
        hold it right there
        quit moving
        kill the motors
        stay put
        not another step
    """)),
    'cancel': (_lines("""
        cancel that
        cancel the task
        cancel the delivery
        never mind
        forget it
        forget what I said
        abort the mission
        abort
        stop the task
        scratch that
        undo that
        call it off
        cancel my last request
        drop the current task
        stop what you are doing
        cancel the trip
        = never mind that
    """), _lines("""
        disregard that
        belay that order
        i changed my mind
        skip it
        nix that
        scrap the errand
        let's not do that
    """)),
    'move': (_lines("""
        {~turn} {direction:turn}
        {~turn} {direction:turn} {angle}
        {~turn} {angle} to the {direction:turn}
        {~drive} {direction} {distance}
        {~drive} {distance} {direction}
        {~drive} {direction}
        go {direction} {distance}
        move {direction} a bit
        back up {distance}
        back up
        spin around
        turn around
        step {direction}
        {~drive} {direction} {distance} at {speed}
        {~drive} {direction} {speed:manner}
        rotate {angle} {direction:turn}
        make a {angle} turn to the {direction:turn}
        move {distance} to the {direction}
        reverse {distance}
    """), _lines("""
        {~drive} {direction} about {distance}
        veer {direction:turn}
        shuffle {direction} {distance}
        do a {angle} rotation
        creep {direction} {speed:manner}
        head {direction} for {distance}
        swing {direction:turn} by {angle}
    """)),
    'navigate': (_lines("""
        {~go} to {the|destination:room}
        go to {the|destination:room}
        {~go} into {the|destination:room}
        come to {the|destination:room}
        go back to {the|destination:room}
        return to {the|destination:room}
        go over to {the|destination:room}
        go to the {destination:furniture} in {the|location:room}
        go to {destination:named_room}
        come here
        come over here
        {~go} to {the|destination:furniture}
        don't go to the {~distractor}, go to {the|destination:room}
        go to {the|destination:room} instead
        drive over to {the|destination:room}
        head over to {the|destination:room}
        move to {the|destination:room}
        go upstairs to {the|destination:room}
    """), _lines("""
        {~go!} to {the|destination:room}
        swing by {the|destination:room}
        pop over to {the|destination:room}
        relocate to {the|destination:room}
        make a trip to {the|destination:room}
        get yourself to {the|destination:room}
    """)),
    'dock': (_lines("""
        go charge
        go to your dock
        return to the charger
        go back to your charging station
        recharge
        go recharge your battery
        dock
        go home
        go to the charging station
        plug yourself in
        head back to your dock
        return to base
        go and charge yourself
        dock yourself
    """), _lines("""
        juice up
        top up your battery
        park at your station
        head back to base and recharge
        go refuel
        get some charge
    """)),
    'pick': (_lines("""
        {~pick} {the|object}
        {~pick} {the|object} from {the|location:furniture}
        {~pick} {the|object} off {the|location:furniture}
        pick up {the|object} on {the|location:furniture}
        {~pick} {the|object} in {the|location:room}
        take {the|object} out of {the|location:container}
        pick {the|object} up
        grab {the|object} from {the|location:furniture} in the {~room_word}
        + get {the|object}
        + fetch {the|object} from {the|location:furniture}
        + get {the|object} from {the|location:room}
    """), _lines("""
        {~pick!} {the|object}
        {~pick!} {the|object} from {the|location:furniture}
        remove {the|object} from {the|location:furniture}
        lift {the|object} off {the|location:furniture}
        + retrieve {the|object} from {the|location:room}
    """)),
    'place': (_lines("""
        {~put} {the|@object} on {the|destination:furniture}
        {~put} {the|@object} in {the|destination:container}
        put {the|@object} down
        put {the|@object} away in {the|destination:furniture}
        put {the|@object} back on {the|destination:furniture}
        place {the|@object} next to {the|destination:furniture}
        drop {the|@object} in {the|destination:container}
        throw {the|@object} in {the|destination:container}
        take {the|@object} to {the|destination:room}
        leave {the|@object} on {the|destination:furniture} in {the|location:room}
        set {the|@object} down on {the|destination:furniture}
        put {the|@object} {on the|@destination:furniture}
    """), _lines("""
        {~put} {the|@object} on top of {the|destination:furniture}
        tuck {the|@object} into {the|destination:container}
        move {the|@object} onto {the|destination:furniture}
        carry {the|@object} over to {the|destination:room}
        lay {the|@object} down beside {the|destination:furniture}
    """)),
    'bring': (_lines("""
        bring {person:me} {a|object}
        bring {the|@object} to {person-}
        bring {person} {the|object}
        bring {the|@object} to {person-} in {the|destination:room}
        give {the|@object} to {person-}
        hand {the|@object} to {person-}
        hand {person} {the|@object}
        give {person} {the|object}
        get {person:me} {a|object}
        get {person:me} {the|object} from {the|location:furniture}
        fetch {the|object}
        fetch {the|object} from {the|location:room}
        fetch {person:me} {the|object}
        get {the|object} from {the|location:furniture}
        take {the|@object} to {person-}
        bring {the|@object} back to {person}
        deliver {the|@object} to {person-}
        bring {a|object} to {person-} in {the|destination:room}
        = I need {a|object}
        bring {the|@object} over to {person-}
    """), _lines("""
        pass {person:me} {the|object}
        carry {the|@object} over to {person-}
        drop off {the|@object} with {person-}
        grab {person:me} {a|object}
        hand over {the|@object} to {person-}
        run {the|@object} over to {person-}
        = could I have {a|object}
    """)),
    'follow': (_lines("""
        {~follow} {@person}
        follow {person:me}
        {~follow} {@person} to {the|destination:room}
        keep following {@person}
        follow {@person} around
        come with {person:me}
        walk with {person:me}
        follow {person:person_desc}
        follow {@person} into {the|destination:room}
        stay close to {@person}
    """), _lines("""
        {~follow!} {@person}
        stick with {@person}
        walk behind {@person}
        tag along with {@person}
        trail behind {@person} to {the|destination:room}
    """)),
    'guide': (_lines("""
        {~guide} {@person-} to {the|destination:room}
        guide {person:me} to {the|destination:room}
        show {@person-} the way to {the|destination:room}
        show {person:me} the way to {the|destination:room}
        take {@person-} to {the|destination:room}
        escort {@person-} to {the|destination:room}
        lead {@person-} from {the|location:room} to {the|destination:room}
        accompany {@person-} to {the|destination:room}
        take {person:me} to {the|destination:room}
        guide {@person-} out
    """), _lines("""
        {~guide!} {@person-} to {the|destination:room}
        walk {@person-} over to {the|destination:room}
        bring {@person-} to {the|destination:room}
        point {@person-} the way to {the|destination:room}
        conduct {@person-} to {the|destination:room}
    """)),
    'find': (_lines("""
        {~find} {the|object}
        {~find} {the|object} in {the|location:room}
        {~find} {person-}
        {~find} {person-} in {the|location:room}
        = where is {the|object}
        = where are my {object:objects}
        = where is {person-}
        look for {a|object} in {the|location:room}
        search {the|location:room} for {the|object}
        meet {person-} in {the|location:room}
        = is there {a|object} in {the|location:room}
        find out where {the|object} is
        check if {person-} is in {the|location:room}
        go and look for {person-}
    """), _lines("""
        {~find!} {the|object}
        {~find!} {person-} in {the|location:room}
        = have you seen my {object}
        figure out where {the|object} went
        scan {the|location:room} for {the|object}
        = any idea where {person-} is
    """)),
    'greet': (_lines("""
        {~greet} {@person-}
        {~greet} {@person-} in {the|location:room}
        say good morning to {@person-}
        introduce yourself to {@person-}
        welcome {@person-} to {the|location:room}
        = hello
        = hi there
        = good morning
        = thanks
        = thank you
        = how are you
        = nice to meet you
        = good night
        = what's your name
        = well done
        greet everyone in {the|location:room}
    """), _lines("""
        {~greet!} {@person-}
        shake hands with {@person-}
        wish {@person-} a good day
        = howdy
        = much appreciated
        = pleased to meet you
    """)),
    'say': (_lines("""
        tell {@person-} that {content:message}
        let {@person-} know that {content:message}
        remind {@person-} that {content:message}
        tell {@person-} {content:message}
        say {content:message}
        announce that {content:message}
        tell everyone that {content:message}
        tell {@person-} in {the|location:room} that {content:message}
        go tell {@person-} that {content:message}
        say that {content:message} to {@person-}
    """), _lines("""
        inform {@person-} that {content:message}
        pass on to {@person-} that {content:message}
        broadcast that {content:message}
        give {@person-} the message that {content:message}
        warn {@person-} that {content:message}
    """)),
    'answer': (_lines("""
        answer a question
        answer {@person-}'s question
        answer the question of {@person-}
        answer the quiz
        answer questions from {@person-}
        go answer the question of {@person-} in {the|location:room}
        answer {@person-}
        take a question from {@person-}
        = can I ask you a question
    """), _lines("""
        respond to {@person-}'s question
        reply to {@person-}
        field a question from {@person-}
        = I have a question for you
    """)),
    'report': (_lines("""
        {~count} {object:objects} on {the|location:furniture}
        count the {object:objects} in {the|location:room}
        = how many {object:objects} are on {the|location:furniture}
        = how many {object:objects} are in {the|location:room}
        = what is on {the|location:furniture}
        tell me what is on {the|location:furniture}
        tell me what you see in {the|location:room}
        describe {the|location:room}
        tell me the {content:attribute} of {person:person_desc}
        tell me the {content:attribute} of {person:person_desc} in {the|location:room}
        = what color is {the|object}
        = how many people are in {the|location:room}
        describe the objects on {the|location:furniture}
        look at {the|location:furniture} and tell me what is there
        tell me how many {object:objects} there are on {the|location:furniture}
        report the number of {object:objects} on {the|location:furniture}
    """), _lines("""
        {~count} {object:objects} in {the|location:room}
        = what do you see on {the|location:furniture}
        list everything on {the|location:furniture}
        give me a rundown of {the|location:room}
        find out the {content:attribute} of {person:person_desc}
        = is anything lying on {the|location:furniture}
    """)),
    'speed': (_lines("""
        slow down
        speed up
        go faster
        go slower
        move faster
        move slower
        set your speed to {speed}
        drive at {speed}
        reduce your speed
        increase your speed
        go {speed:manner}
        change your speed to {speed}
        drive {speed:comparative}
        = you are going too fast
    """), _lines("""
        ease up on the speed
        pick up the pace
        crank the speed up to {speed}
        throttle down
        dial your speed back to {speed}
        = can you hurry
    """)),
    'status': (_lines("""
        = how is your battery
        = what is your battery level
        = where are you
        = what are you doing
        = are you ok
        = are you stuck
        = how much charge do you have left
        = what is your current task
        report your status
        = are you done
        = is your arm working
        tell me your battery level
        = what's your status
        = are you charging
        give me a status update
    """), _lines("""
        = what's your position
        = how long until you're fully charged
        = what's left on your list
        = are you busy right now
        = any errors
        = how are your systems
        update me on your progress
        run a quick self check and tell me the result
    """)),
    'out_of_scope': (_lines("""
        = what is the capital of {~country}
        = what's the weather like tomorrow
        = tell me a joke
        play some {~genre}
        = who won the game last night
        order more {~grocery}
        = what's the stock price of {~company}
        = how do you say hello in {~language}
        = what is two plus two
        cancel my dentist appointment
        find me a cheap flight to {~city}
        = what's the speed of light
        set an alarm for seven
        move my meeting to friday
        = what is the meaning of life
        book a table for two tonight
        = asdf qwerty
        translate this into {~language}
        = who wrote hamlet
        read me the news
    """), _lines("""
        = how tall is mount everest
        order a pizza
        stream the latest episode
        = what's the exchange rate today
        schedule a haircut
        = blorp zing wobble
        find me a good movie
        = when was the moon landing
    """)),
}

# Vocabulary that is not an argument (picked with {~pool}).
WORDS: Dict[str, Tuple[Tuple[str, ...], Tuple[str, ...]]] = {
    'distractor': (('lab', 'office', 'garage', 'hallway', 'kitchen'), ('gym', 'patio', 'porch')),
    'room_word': (('kitchen', 'office', 'lab', 'bedroom'), ('study', 'pantry')),
    'country': (('France', 'Japan', 'Brazil', 'Canada', 'Kenya'), ('Peru', 'Norway', 'Egypt')),
    'genre': (('jazz', 'rock music', 'classical music'), ('reggae', 'opera')),
    'grocery': (('milk', 'eggs', 'bread'), ('rice', 'olive oil')),
    'company': (('Apple', 'Tesla'), ('Nvidia', 'Nintendo')),
    'language': (('Spanish', 'French', 'German'), ('Italian', 'Korean')),
    'city': (('Paris', 'London', 'Tokyo'), ('Lisbon', 'Oslo')),
}
WORDS.update(VERBS)

# Manner and comparative speeds (speed role values that are words, not amounts).
SPEED_WORDS = {
    'manner': (('slowly', 'quickly', 'fast', 'carefully', 'gently'), ('steadily', 'briskly')),
    'comparative': (('faster', 'slower', 'more slowly', 'more quickly'), ('a notch slower',)),
}
