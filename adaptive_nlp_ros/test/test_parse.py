"""Decoding token tags into actions, resolving pronouns, and scoring parses (no model)."""

import math

from adaptive_nlp_ros.core.evaluation.structure_metrics import (argument_counts, confusion,
                                                                structure_summary)
from adaptive_nlp_ros.core.inference.exit_heads import ExitHeads
from adaptive_nlp_ros.core.inference.first_action import read_structured_exit
from adaptive_nlp_ros.core.inference.parse import (amount_role, argument_matches, decode,
                                                   draft_actions, ParsedAction,
                                                   ParsedArgument, roles_by_intent,
                                                   segment_bound, signatures_by_intent,
                                                   TagScheme, TokenView)
import numpy as np
import pytest

INTENTS = ('bring', 'navigate', 'out_of_scope', 'pick', 'stop')
SCHEME = TagScheme(INTENTS)


def tags_for(words, segment, roles, intents, sure=0.9):
    """Build one-piece-per-word inputs with the given tags and probability ``sure``."""
    text = ' '.join(words)
    offsets, position = [], 0
    for word in words:
        offsets.append((position, position + len(word)))
        position += len(word) + 1
    view = TokenView(text, offsets, list(range(len(words))))
    others = (1 - sure)

    def one_hot(columns, names, index):
        rows = np.full((len(words), len(names)), others / (len(names) - 1))
        for row, name in enumerate(columns):
            rows[row, index(name)] = sure
        return rows
    seg = one_hot(segment, ('O', 'B', 'I'), ('O', 'B', 'I').index)
    role = one_hot(roles, SCHEME.role_tags, SCHEME.role_tags.index)
    intent = one_hot(intents, INTENTS, INTENTS.index)
    return view, seg, role, intent


def test_two_actions_with_a_pronoun_resolved_to_the_object():
    words = ['take', 'the', 'red', 'cup', 'and', 'bring', 'it', 'to', 'Anna']
    view, seg, role, intent = tags_for(
        words, ['B', 'I', 'I', 'I', 'O', 'B', 'I', 'I', 'I'],
        ['O', 'O', 'B-object', 'I-object', 'O', 'O', 'B-object', 'O', 'B-person'],
        ['pick'] * 5 + ['bring'] * 4)
    parse = decode(view, seg, role, intent, SCHEME, 'pick', 0.95)
    assert [action.intent for action in parse.actions] == ['pick', 'bring']
    pick, bring = parse.actions
    assert [(a.role, a.value) for a in pick.arguments] == [('object', 'red cup')]
    it, anna = bring.arguments
    assert (it.role, it.value, it.resolved) == ('object', 'red cup', True)
    assert view.text[it.start:it.end] == 'it'
    assert (anna.role, anna.value, anna.resolved) == ('person', 'Anna', False)
    assert (pick.start, pick.end) == (0, len('take the red cup'))
    assert parse.label == 'pick'
    assert parse.confidence == pytest.approx(0.9)      # the weakest part


def test_the_first_intent_is_the_sentence_heads_label():
    words = ['stop', 'and', 'turn']
    view, seg, role, intent = tags_for(words, ['B', 'O', 'B'], ['O', 'O', 'O'],
                                       ['bring', 'bring', 'navigate'])
    parse = decode(view, seg, role, intent, SCHEME, 'stop', 0.7)
    assert [a.intent for a in parse.actions] == ['stop', 'navigate']
    assert parse.actions[0].confidence == pytest.approx(0.7)


def test_out_of_scope_and_untagged_text_are_one_action_without_arguments():
    words = ['what', 'is', 'the', 'capital', 'of', 'peru']
    view, seg, role, intent = tags_for(words, ['B'] + ['I'] * 5,
                                       ['O', 'O', 'O', 'B-object', 'O', 'B-location'],
                                       ['pick'] * 6)
    parse = decode(view, seg, role, intent, SCHEME, 'out_of_scope', 0.8)
    assert len(parse.actions) == 1 and parse.actions[0].intent == 'out_of_scope'
    assert parse.actions[0].arguments == ()
    view, seg, role, intent = tags_for(['hmm'], ['O'], ['O'], ['pick'])
    parse = decode(view, seg, role, intent, SCHEME, 'stop', 0.6)
    assert [(a.intent, a.arguments) for a in parse.actions] == [('stop', ())]


def test_a_later_action_read_as_out_of_scope_carries_no_argument():
    """Found by the any-text property test: 'bring X and JO00' gave out_of_scope(person=JO00)."""
    words = ['bring', 'the', 'cup', 'and', 'sing', 'Anna', 'a', 'song']
    view, seg, role, intent = tags_for(
        words, ['B', 'I', 'I', 'O', 'B', 'I', 'I', 'I'],
        ['O', 'O', 'B-object', 'O', 'O', 'B-person', 'O', 'B-object'],
        ['bring'] * 4 + ['out_of_scope'] * 4)
    parse = decode(view, seg, role, intent, SCHEME, 'bring', 0.9)
    assert [(a.intent, [g.role for g in a.arguments]) for a in parse.actions] == [
        ('bring', ['object']), ('out_of_scope', [])]


def test_a_pronoun_without_a_compatible_referent_stays_unresolved():
    words = ['put', 'it', 'there']
    view, seg, role, intent = tags_for(words, ['B', 'I', 'I'],
                                       ['O', 'B-object', 'B-destination'], ['pick'] * 3)
    parse = decode(view, seg, role, intent, SCHEME, 'pick', 0.9)
    assert [(a.value, a.resolved) for a in parse.actions[0].arguments] == [
        ('it', False), ('there', False)]


def test_there_refers_to_the_last_place_and_spans_stay_inside_the_text():
    words = ['go', 'to', 'the', 'lab', 'and', 'wait', 'there']
    view, seg, role, intent = tags_for(
        words, ['B', 'I', 'I', 'I', 'O', 'B', 'I'],
        ['O', 'O', 'O', 'B-destination', 'O', 'O', 'B-destination'],
        ['navigate'] * 7)
    parse = decode(view, seg, role, intent, SCHEME, 'navigate', 0.9)
    there = parse.actions[1].arguments[0]
    assert (there.value, there.resolved) == ('lab', True)
    for action in parse.actions:
        for argument in action.arguments:
            assert 0 <= argument.start < argument.end <= len(view.text)


def test_argument_matching_rule():
    assert argument_matches('the red cup', 'red cup')
    assert argument_matches('Red Cup', 'red cup')
    assert not argument_matches('red', 'red cup')
    assert not argument_matches('redcup', 'red cup')
    assert argument_matches('person wearing a blue shirt', 'person wearing a blue shirt')
    assert not argument_matches('x' * 30 + ' cup', 'cup')            # too much longer


def _action(intent, *arguments):
    return ParsedAction(intent, 1.0, tuple(ParsedArgument(role, value, 0, 1)
                                           for role, value in arguments))


def test_structure_metrics_count_by_position_intent_and_role():
    gold = [(_action('pick', ('object', 'cup'), ('location', 'table')),
             _action('bring', ('object', 'cup'), ('person', 'Anna')))]
    right = [(_action('pick', ('object', 'the cup'), ('location', 'table')),
              _action('bring', ('object', 'cup'), ('person', 'Anna')))]
    assert argument_counts(right[0], gold[0]) == (4, 4, 4)
    wrong_intent = [(_action('pick', ('object', 'cup')),
                     _action('place', ('object', 'cup'), ('person', 'Anna')))]
    summary = structure_summary(wrong_intent, gold)
    assert summary['sequence_exact'] == 0.0
    assert summary['argument_precision'] == pytest.approx(1 / 3)
    assert summary['argument_recall'] == pytest.approx(1 / 4)
    assert summary['argument_f1'] == pytest.approx(2 * (1 / 3) * (1 / 4) / (1 / 3 + 1 / 4))
    assert structure_summary(right, gold)['argument_f1'] == 1.0
    assert structure_summary(right, [None]) == {}
    assert confusion(['pick', 'bring', 'pick'], ['pick', 'pick', '']) == {
        'pick': {'bring': 1, 'pick': 1}}
    assert math.isclose(structure_summary(right, gold)['sequence_exact'], 1.0)


# -- reading an exit with both heads (first_action.read_structured_exit) --------------------

GO_FIND_BRING = (['go', 'to', 'the', 'lab', 'find', 'the', 'cup', 'bring', 'it'],
                 ['B', 'I', 'I', 'I', 'B', 'I', 'I', 'B', 'I'],
                 ['O', 'O', 'O', 'B-destination', 'O', 'O', 'B-object', 'O', 'B-object'])


def sentence_distribution(**probabilities) -> np.ndarray:
    """Return a distribution over INTENTS with the given entries, the rest shared evenly."""
    rest = (1.0 - sum(probabilities.values())) / (len(INTENTS) - len(probabilities))
    return np.array([probabilities.get(name, rest) for name in INTENTS])


def test_the_label_asks_the_first_actions_pieces_too():
    """The sentence head leans to bring; the first action's pieces say navigate: navigate."""
    words, segment, roles = GO_FIND_BRING
    view, seg, role, intent = tags_for(words, segment, roles,
                                       ['navigate'] * 4 + ['pick'] * 3 + ['bring'] * 2)
    sentence = sentence_distribution(bring=0.55, navigate=0.35)
    joint, parse = read_structured_exit(view, sentence, seg, role, intent, SCHEME, INTENTS, 4)
    assert joint.sum() == pytest.approx(1.0)
    assert INTENTS[int(joint.argmax())] == parse.label == 'navigate'
    assert [action.intent for action in parse.actions] == ['navigate', 'pick', 'bring']
    expected = np.sqrt(0.35 * 0.9)
    assert parse.actions[0].confidence <= joint.max()
    assert joint.max() == pytest.approx(expected / np.sqrt(sentence * intent[0]).sum())


def test_a_stop_or_out_of_scope_from_the_sentence_head_stands():
    words, segment, roles = GO_FIND_BRING
    view, seg, role, intent = tags_for(words, segment, roles, ['navigate'] * 9, sure=0.99)
    for label in ('stop', 'out_of_scope'):
        sentence = sentence_distribution(**{label: 0.6, 'navigate': 0.3})
        joint, parse = read_structured_exit(view, sentence, seg, role, intent, SCHEME,
                                            INTENTS, INTENTS.index('stop'))
        assert joint is sentence and parse.label == label


def test_without_an_action_the_sentence_head_answers_alone():
    view, seg, role, intent = tags_for(['hmm', 'well'], ['O', 'O'], ['O', 'O'],
                                       ['navigate', 'navigate'])
    sentence = sentence_distribution(bring=0.6)
    joint, parse = read_structured_exit(view, sentence, seg, role, intent, SCHEME, INTENTS, 4)
    assert joint is sentence and parse.label == 'bring'


def test_a_message_broken_by_a_stray_role_is_read_as_one_valid_run():
    """Per-word argmax gives content, person, content: the valid sequence keeps one message."""
    words = ['tell', 'Ben', 'that', 'the', 'doctor', 'is', 'here']
    view, seg, role, intent = tags_for(
        words, ['B'] + ['I'] * 6,
        ['O', 'B-person', 'O', 'B-content', 'B-person', 'I-content', 'I-content'], ['bring'] * 7)
    role[4, SCHEME.role_tags.index('I-content')] = 0.08     # second choice, valid in the run
    parse = decode(view, seg, role, intent, SCHEME, 'bring', 0.95)
    assert [(a.role, a.value) for a in parse.actions[0].arguments] == [
        ('person', 'Ben'), ('content', 'the doctor is here')]
    assert parse.actions[0].arguments[1].confidence == pytest.approx(0.08)


def test_valid_argmax_tags_are_kept_and_a_lone_article_is_no_argument():
    words = ['put', 'the', 'cup', 'on', 'the']
    view, seg, role, intent = tags_for(
        words, ['B'] + ['I'] * 4, ['O', 'O', 'B-object', 'O', 'B-destination'], ['bring'] * 5)
    parse = decode(view, seg, role, intent, SCHEME, 'bring', 0.95)
    assert [(a.role, a.value) for a in parse.actions[0].arguments] == [('object', 'cup')]


def test_a_new_run_right_after_one_of_the_same_role_continues_it():
    words = ['find', 'the', 'nearest', 'trash', 'bin', 'and', 'the', 'cup']
    view, seg, role, intent = tags_for(
        words, ['B'] + ['I'] * 7,
        ['O', 'O', 'B-object', 'B-object', 'I-object', 'O', 'O', 'B-object'], ['bring'] * 8)
    parse = decode(view, seg, role, intent, SCHEME, 'bring', 0.95)
    assert [(a.role, a.value) for a in parse.actions[0].arguments] == [
        ('object', 'nearest trash bin'), ('object', 'cup')]


def test_her_tagged_as_an_object_refers_to_the_animal_named_before():
    words = ['find', 'my', 'cat', 'and', 'pick', 'her', 'up']
    view, seg, role, intent = tags_for(
        words, ['B', 'I', 'I', 'O', 'B', 'I', 'I'],
        ['O', 'O', 'B-object', 'O', 'O', 'B-object', 'O'], ['bring'] * 4 + ['pick'] * 3)
    parse = decode(view, seg, role, intent, SCHEME, 'bring', 0.95)
    her = parse.actions[1].arguments[0]
    assert (her.role, her.value, her.resolved) == ('object', 'cat', True)


def test_function_words_around_a_name_are_cut_and_the_span_follows():
    """`the man lying on the [bed]`: the person ends before `on the`; `her desk` is `desk`."""
    words = ['bring', 'it', 'to', 'the', 'man', 'lying', 'on', 'the', 'bed', 'or', 'her', 'desk']
    view, seg, role, intent = tags_for(
        words, ['B'] + ['I'] * 11,
        ['O', 'B-object', 'O', 'O', 'B-person', 'I-person', 'I-person', 'I-person',
         'B-location', 'O', 'B-destination', 'I-destination'], ['bring'] * 12)
    role[6:8, SCHEME.role_tags.index('I-person')] = 0.5      # the cut words were the least sure
    arguments = decode(view, seg, role, intent, SCHEME, 'bring', 0.95).actions[0].arguments
    assert [(a.role, a.value) for a in arguments] == [
        ('object', 'it'), ('person', 'man lying'), ('location', 'bed'), ('destination', 'desk')]
    person = arguments[1]
    assert view.text[person.start:person.end] == 'man lying'
    assert person.confidence == pytest.approx(0.9)


def test_pronouns_amounts_and_lone_possessives_keep_their_words():
    words = ['grab', 'that', 'one', 'and', 'move', 'a', 'bit', 'for', 'his']
    view, seg, role, intent = tags_for(
        words, ['B', 'I', 'I', 'O', 'B', 'I', 'I', 'I', 'I'],
        ['O', 'B-object', 'I-object', 'O', 'O', 'B-distance', 'I-distance', 'O', 'B-person'],
        ['pick'] * 4 + ['bring'] * 5)
    parse = decode(view, seg, role, intent, SCHEME, 'pick', 0.95)
    assert [(a.role, a.value) for a in parse.actions[0].arguments] == [('object', 'that one')]
    assert [(a.role, a.value) for a in parse.actions[1].arguments] == [('distance', 'a bit')]


def test_a_role_the_intent_never_took_in_training_is_dropped():
    """Stop with an object is no argument; a scheme without the table keeps every role."""
    commands = [(_action('pick', ('object', 'cup')),), (_action('stop'),), None]
    learned = TagScheme(INTENTS, intent_roles=roles_by_intent(commands))
    assert learned.intent_roles == (('pick', ('object',)), ('stop', ()))
    assert learned.allows('bring', 'person')              # an intent not seen: anything goes
    words = ['stop', 'the', 'cup', 'and', 'pick', 'the', 'cup']
    view, seg, role, intent = tags_for(
        words, ['B', 'I', 'I', 'O', 'B', 'I', 'I'],
        ['O', 'O', 'B-object', 'O', 'O', 'O', 'B-object'], ['stop'] * 4 + ['pick'] * 3)
    parse = decode(view, seg, role, intent, learned, 'stop', 0.95)
    assert [(a.intent, [g.value for g in a.arguments]) for a in parse.actions] == [
        ('stop', []), ('pick', ['cup'])]
    kept = decode(view, seg, role, intent, SCHEME, 'stop', 0.95)
    assert [g.value for g in kept.actions[0].arguments] == ['cup']


def test_dropping_a_role_does_not_change_which_actions_merge():
    """`pick` (no destination) then `pick`: merging is decided on the tags, before the drop."""
    words = ['go', 'to', 'the', 'shelf', 'and', 'pick', 'the', 'cup']
    view, seg, role, intent = tags_for(
        words, ['B', 'I', 'I', 'I', 'O', 'B', 'I', 'I'],
        ['O', 'O', 'O', 'B-destination', 'O', 'O', 'O', 'B-object'], ['pick'] * 8)
    learned = TagScheme(INTENTS, intent_roles=(('pick', ('object',)),))
    parse = decode(view, seg, role, intent, learned, 'pick', 0.95)
    assert [(a.intent, [g.value for g in a.arguments]) for a in parse.actions] == [
        ('pick', []), ('pick', ['cup'])]


TRAINED_SIGNATURES = signatures_by_intent(
    [(_action('bring', ('object', 'cup'), ('person', 'Anna')),)] * 3
    + [(_action('bring', ('object', 'cup'), ('person', 'Anna'), ('destination', 'hall')),)]
    + [(_action('navigate', ('destination', 'hall')),)] * 4 + [(_action('stop'),)])


def test_role_sets_are_counted_per_intent():
    assert TRAINED_SIGNATURES == (
        ('bring', ((('destination', 'object', 'person'), 1), (('object', 'person'), 3))),
        ('navigate', ((('destination',), 4),)), ('stop', (((), 1),)))


BRING_TO_KITCHEN = (['bring', 'it', 'to', 'the', 'kitchen'], ['B', 'I', 'I', 'I', 'I'],
                    ['O', 'O', 'O', 'O', 'B-destination'])


@pytest.mark.parametrize('sure, signatures, expected', [
    (0.9, TRAINED_SIGNATURES, 'navigate'),     # a bring always had an object: not this one
    (0.6, TRAINED_SIGNATURES, 'bring'),        # an unsure argument overrules nothing
    (0.9, (), 'bring')])                       # a model saved without the table
def test_roles_no_action_of_the_intent_took_together_weigh_its_intent(sure, signatures,
                                                                      expected):
    words, segment, roles = BRING_TO_KITCHEN
    view, seg, role, intent = tags_for(words, segment, roles, ['bring'] * 5, sure=sure)
    scheme = TagScheme(INTENTS, intent_signatures=signatures)
    sentence = sentence_distribution(bring=0.6, navigate=0.3)
    joint, parse = read_structured_exit(view, sentence, seg, role, intent, scheme, INTENTS, 4)
    assert INTENTS[int(joint.argmax())] == parse.label == expected
    assert joint.sum() == pytest.approx(1.0)


def test_roles_the_intent_took_keep_it_and_later_actions_are_weighed_too():
    """`bring the cup to Anna` keeps bring; a later `bring` with a destination alone moves."""
    words = ['bring', 'the', 'cup', 'to', 'Anna', 'and', 'bring', 'to', 'the', 'hall']
    view, seg, role, intent = tags_for(
        words, ['B', 'I', 'I', 'I', 'I', 'O', 'B', 'I', 'I', 'I'],
        ['O', 'O', 'B-object', 'O', 'B-person', 'O', 'O', 'O', 'O', 'B-destination'],
        ['bring'] * 10)
    intent[6:, INTENTS.index('navigate')] = 0.2
    scheme = TagScheme(INTENTS, intent_signatures=TRAINED_SIGNATURES)
    parse = decode(view, seg, role, intent, scheme, 'bring', 0.95)
    assert [action.intent for action in parse.actions] == ['bring', 'navigate']


DO_ME_A_FAVOR = (['do', 'me', 'a', 'favor', 'and', 'go', 'to', 'the', 'hall'],
                 ['B', 'I', 'I', 'I', 'O', 'B', 'I', 'I', 'I'],
                 ['O'] * 8 + ['B-destination'], ['bring'] * 5 + ['navigate'] * 4)


@pytest.mark.parametrize('signatures, expected', [
    (TRAINED_SIGNATURES, ['navigate']),          # a bring always had an argument: no task
    ((), ['bring', 'navigate'])])                 # a model saved without the table
def test_a_leading_bare_action_of_an_intent_that_always_had_arguments_is_dropped(
        signatures, expected):
    view, seg, role, intent = tags_for(*DO_ME_A_FAVOR)
    scheme = TagScheme(INTENTS, intent_signatures=signatures)
    sentence = sentence_distribution(bring=0.5, navigate=0.4)
    joint, parse = read_structured_exit(view, sentence, seg, role, intent, scheme, INTENTS, 4)
    assert [action.intent for action in parse.actions] == expected
    assert parse.label == expected[0] == INTENTS[int(joint.argmax())]
    assert [(a.role, a.value) for a in parse.actions[-1].arguments] == [('destination', 'hall')]


def test_a_bare_action_in_front_that_may_be_a_stop_is_kept():
    view, seg, role, intent = tags_for(*DO_ME_A_FAVOR)
    intent[:4] = 0.0
    intent[:4, INTENTS.index('bring')] = 0.7
    intent[:4, INTENTS.index('stop')] = 0.3
    scheme = TagScheme(INTENTS, intent_signatures=TRAINED_SIGNATURES)
    sentence = sentence_distribution(bring=0.5, navigate=0.4)
    _, parse = read_structured_exit(view, sentence, seg, role, intent, scheme, INTENTS, 4)
    assert [action.intent for action in parse.actions] == ['bring', 'navigate']


def test_a_bare_action_after_a_task_or_alone_is_kept():
    """`... and come back` lost no task: only request forms in front are dropped."""
    scheme = TagScheme(INTENTS, intent_signatures=TRAINED_SIGNATURES)
    words = ['go', 'to', 'the', 'hall', 'and', 'bring']
    view, seg, role, intent = tags_for(words, ['B', 'I', 'I', 'I', 'O', 'B'],
                                       ['O', 'O', 'O', 'B-destination', 'O', 'O'],
                                       ['navigate'] * 5 + ['bring'])
    parse = decode(view, seg, role, intent, scheme, 'navigate', 0.95)
    assert [action.intent for action in parse.actions] == ['navigate', 'bring']
    view, seg, role, intent = tags_for(['bring', 'please'], ['B', 'I'], ['O', 'O'],
                                       ['bring', 'bring'])
    alone = decode(view, seg, role, intent, scheme, 'bring', 0.95)
    assert [action.intent for action in alone.actions] == ['bring']


@pytest.mark.parametrize('intent_roles', [(('pick', ('object',)), ('stop', ())), ()])
def test_exit_heads_keep_the_roles_each_intent_took(tmp_path, intent_roles):
    scheme = TagScheme(INTENTS, intent_roles=intent_roles,
                       intent_signatures=TRAINED_SIGNATURES if intent_roles else ())
    ExitHeads(2, 8, INTENTS, inner_size=4, scheme=scheme).save(tmp_path / 'heads.pt')
    assert ExitHeads.load(tmp_path / 'heads.pt').scheme == scheme


@pytest.mark.parametrize('seed', range(20))
@pytest.mark.parametrize('signatures', [(), TRAINED_SIGNATURES])
def test_segment_bound_bounds_every_parse_of_the_tags(seed, signatures):
    """
    No label (out_of_scope apart) and no first-action reading makes a parse surer.

    With the training table too, where bare requests in front are dropped.
    """
    rng = np.random.default_rng(seed)
    words = [f'w{index}' for index in range(int(rng.integers(1, 12)))]
    view, _, _, _ = tags_for(words, ['O'] * len(words), ['O'] * len(words),
                             ['pick'] * len(words))
    seg, role, intent = (rng.dirichlet(np.full(width, 0.4), size=len(words))
                         for width in (3, len(SCHEME.role_tags), len(INTENTS)))
    scheme = TagScheme(INTENTS, intent_signatures=signatures)
    bound = segment_bound(view, seg)
    for label in INTENTS:
        if label == 'out_of_scope':
            continue
        sentence = np.full(len(INTENTS), 0.01)
        sentence[INTENTS.index(label)] = 1.0 - 0.01 * (len(INTENTS) - 1)
        joint, parse = read_structured_exit(view, sentence, seg, role, intent, scheme,
                                            INTENTS, INTENTS.index('stop'))
        if parse.label != 'out_of_scope':
            assert parse.confidence <= bound + 1e-12, (label, parse)


def test_a_dropped_bare_request_leaves_the_parse_no_surer():
    """An unsure `do me a favor` goes from the actions, not from how sure the parse is."""
    view, seg, role, intent = tags_for(*DO_ME_A_FAVOR, sure=0.95)
    seg[:4] = [0.2, 0.2, 0.6]
    scheme = TagScheme(INTENTS, intent_signatures=TRAINED_SIGNATURES)
    sentence = sentence_distribution(navigate=0.96)
    _, parse = read_structured_exit(view, sentence, seg, role, intent, scheme, INTENTS, 4)
    assert [action.intent for action in parse.actions] == ['navigate']
    assert parse.confidence == pytest.approx(0.6) == segment_bound(view, seg)


def test_segment_bound_is_the_parse_confidence_when_a_segment_is_the_weakest_part():
    words = ['take', 'the', 'cup', 'and', 'stop']
    view, seg, role, intent = tags_for(words, ['B', 'I', 'I', 'O', 'B'],
                                       ['O', 'O', 'B-object', 'O', 'O'],
                                       ['pick'] * 4 + ['stop'], sure=0.97)
    seg[4] = [0.2, 0.6, 0.2]                  # `stop` starts an action, unsure
    seg[3] = [0.5, 0.25, 0.25]                # outside every action: bounds nothing
    parse = decode(view, seg, role, intent, SCHEME, 'pick', 0.99)
    assert segment_bound(view, seg) == pytest.approx(0.6) == parse.confidence
    outside_only = np.tile([0.9, 0.05, 0.05], (len(words), 1))
    assert segment_bound(view, outside_only) == 1.0          # no word in an action


@pytest.mark.parametrize('text, unit_role', [
    ('1.5 m', 'distance'), ('0.3 m/s', 'speed'), ('two meters per second', 'speed'),
    ('3 feet', 'distance'), ('45°', 'angle'), ('ninety degrees', 'angle'),
    ('a quarter turn', 'angle'), ('5 km/h', 'speed'), ('a few steps', 'distance'),
    ('slowly', None), ('a bit', None), ('6 in', None)])
def test_a_motion_amounts_unit_names_its_role(text, unit_role):
    """Whatever role the tags gave; without a unit (or with ``in``) the tags' role stays."""
    for tagged in ('distance', 'angle', 'speed'):
        assert amount_role(tagged, text) == (unit_role or tagged)


def test_a_distance_tagged_as_a_speed_is_a_distance_as_sure_as_it_is_an_amount():
    words = ['drive', '1.5', 'm', 'at', '0.3', 'm/s']
    view, seg, role, intent = tags_for(
        words, ['B', 'I', 'I', 'I', 'I', 'I'],
        ['O', 'B-speed', 'I-speed', 'O', 'B-speed', 'I-speed'], ['bring'] * 6)
    role[1] = 0.0
    role[1, SCHEME.role_tags.index('O')] = 0.1
    role[1, SCHEME.role_tags.index('B-distance')] = 0.4
    role[1, SCHEME.role_tags.index('B-speed')] = 0.5
    arguments = decode(view, seg, role, intent, SCHEME, 'bring', 0.95).actions[0].arguments
    assert [(a.role, a.value) for a in arguments] == [('distance', '1.5 m'),
                                                      ('speed', '0.3 m/s')]
    assert arguments[0].confidence == pytest.approx(0.9)     # 0.4 + 0.5: the least sure word


@pytest.mark.parametrize('pronoun, referents', [('them', ['keys', 'wallet']), ('it', ['wallet'])])
def test_a_plural_pronoun_after_things_named_together_stands_for_each(pronoun, referents):
    """``them`` is the keys and the wallet, each its own argument; ``it`` the nearest one."""
    words = ['grab', 'the', 'keys', 'and', 'the', 'wallet', 'and', 'bring', pronoun, 'to', 'Tom']
    view, seg, role, intent = tags_for(
        words, ['B', 'I', 'I', 'I', 'I', 'I', 'O', 'B', 'I', 'I', 'I'],
        ['O', 'O', 'B-object', 'O', 'O', 'B-object', 'O', 'O', 'B-object', 'O', 'B-person'],
        ['pick'] * 7 + ['bring'] * 4)
    pick, bring = decode(view, seg, role, intent, SCHEME, 'pick', 0.95).actions
    objects = [a for a in bring.arguments if a.role == 'object']
    assert [(a.value, a.resolved) for a in objects] == [(value, True) for value in referents]
    assert {view.text[a.start:a.end] for a in objects} == {pronoun}
    assert [(a.role, a.value) for a in bring.arguments][-1] == ('person', 'Tom')
    assert [a.value for a in pick.arguments] == ['keys', 'wallet']


def test_a_subject_pronoun_refers_back_too():
    words = ['find', 'Anna', ',', 'she', 'is', 'in', 'the', 'lab']
    view, seg, role, intent = tags_for(
        words, ['B', 'I', 'O', 'B', 'I', 'I', 'I', 'I'],
        ['O', 'B-person', 'O', 'B-person', 'O', 'O', 'O', 'B-location'],
        ['bring'] * 3 + ['pick'] * 5)
    later = decode(view, seg, role, intent, SCHEME, 'bring', 0.95).actions[1]
    she = later.arguments[0]
    assert (she.role, she.value, she.resolved, view.text[she.start:she.end]) == (
        'person', 'Anna', True, 'she')


def _unpunctuated(stop_probability):
    """``bring it stop bring it``: one segment run, the middle word's own intent stop."""
    words = ['bring', 'it', 'stop', 'bring', 'it']
    view, seg, role, intent = tags_for(words, ['B', 'I', 'I', 'I', 'I'],
                                       ['O'] * 5, ['bring', 'bring', 'stop', 'bring', 'bring'])
    stop = INTENTS.index('stop')
    intent[2] = (1 - stop_probability) / (len(INTENTS) - 1)
    intent[2, stop] = stop_probability
    return view, seg, role, intent, stop


def test_a_sure_stop_word_inside_another_action_is_a_stop_action_of_its_own():
    view, seg, role, intent, stop = _unpunctuated(0.9)
    draft = draft_actions(view, seg, role, intent, SCHEME, safety_intent=stop)
    assert [a.intent for a in draft.finish('bring', 0.95).actions] == ['bring', 'stop', 'bring']
    assert [a.intent for a in decode(view, seg, role, intent, SCHEME, 'bring', 0.95).actions
            ] == ['bring']                                  # not asked: read as tagged


def test_an_unsure_stop_word_and_words_outside_actions_stay_as_tagged():
    view, seg, role, intent, stop = _unpunctuated(0.6)
    draft = draft_actions(view, seg, role, intent, SCHEME, safety_intent=stop)
    assert [a.intent for a in draft.finish('bring', 0.95).actions] == ['bring']
    view, seg, role, intent, stop = _unpunctuated(0.9)
    seg[2] = [0.9, 0.05, 0.05]                              # `stop` outside every action
    draft = draft_actions(view, seg, role, intent, SCHEME, safety_intent=stop)
    assert 'stop' not in [a.intent for a in draft.finish('bring', 0.95).actions]


def _stop_outside(word, in_context, first='bring'):
    """``bring it WORD navigate it``: WORD outside both actions, its own stop weight given."""
    words = ['bring', 'it', word, 'navigate', 'it']
    view, seg, role, intent = tags_for(words, ['B', 'I', 'O', 'B', 'I'], ['O'] * 5,
                                       [first, first, 'navigate', 'navigate', 'navigate'])
    stop = INTENTS.index('stop')
    intent[2] = (1 - in_context) / (len(INTENTS) - 1)
    intent[2, stop] = in_context
    return view, seg, role, intent, stop


# The stop detector on single words, as trained (``stop`` 1.00, ``whoa`` 0.83, ``not`` 0.82).
DETECTOR = {'stop': 1.0, 'whoa': 0.83, 'not': 0.82}.get


def _intents(word, in_context, first='bring', detector=DETECTOR):
    view, seg, role, intent, stop = _stop_outside(word, in_context, first)
    draft = draft_actions(view, seg, role, intent, SCHEME, stop,
                          lambda text: detector(text, 0.0))
    return [a.intent for a in draft.finish(first, 0.95).actions]


def test_a_stop_word_between_two_actions_is_a_stop_action():
    assert _intents('stop', 0.01) == ['bring', 'stop', 'navigate']      # sure alone
    assert _intents('whoa', 0.3) == ['bring', 'stop', 'navigate']       # likely, and in context


def test_a_word_the_detector_only_half_reads_as_a_stop_needs_its_sentence():
    assert _intents('whoa', 0.01) == ['bring', 'navigate']
    assert _intents('not', 0.01) == ['bring', 'navigate']    # "are you busy? if not, come here"
    assert _intents('then', 0.9) == ['bring', 'navigate']    # the intent head alone: not read


def test_no_stop_is_added_after_a_stop_or_without_the_detector():
    assert _intents('stop', 0.9, first='stop') == ['stop', 'navigate']  # leading intent, not own
    view, seg, role, intent, stop = _stop_outside('stop', 0.9)
    draft = draft_actions(view, seg, role, intent, SCHEME, stop)
    assert [a.intent for a in draft.finish('bring', 0.95).actions] == ['bring', 'navigate']


def test_a_run_of_stop_words_is_one_stop_action_with_the_detectors_confidence():
    words = ['bring', 'it', 'whoa', 'whoa', 'navigate', 'it']
    view, seg, role, intent = tags_for(words, ['B', 'I', 'O', 'O', 'B', 'I'], ['O'] * 6,
                                       ['bring', 'bring', 'stop', 'stop', 'navigate', 'navigate'])
    draft = draft_actions(view, seg, role, intent, SCHEME, INTENTS.index('stop'),
                          lambda text: DETECTOR(text, 0.0))
    actions = draft.finish('bring', 0.95).actions
    assert [a.intent for a in actions] == ['bring', 'stop', 'navigate']
    assert actions[1].confidence == pytest.approx(0.83)
    assert view.text[actions[1].start:actions[1].end] == 'whoa whoa'


def _stop_ending_an_action(in_context, stop_role='O'):
    """``navigate to kitchen stop bring it``: the segment tags run ``stop`` into the first."""
    words = ['navigate', 'to', 'kitchen', 'stop', 'bring', 'it']
    view, seg, role, intent = tags_for(words, ['B', 'I', 'I', 'I', 'B', 'I'],
                                       ['O', 'O', 'B-destination', stop_role, 'O', 'O'],
                                       ['navigate'] * 4 + ['bring'] * 2)
    stop = INTENTS.index('stop')
    intent[3] = (1 - in_context) / (len(INTENTS) - 1)
    intent[3, stop] = in_context
    draft = draft_actions(view, seg, role, intent, SCHEME, stop,
                          lambda text: DETECTOR(text, 0.0))
    return [a.intent for a in draft.finish('navigate', 0.95).actions]


def test_a_stop_word_ending_an_action_is_split_off_when_its_sentence_allows_it():
    assert _stop_ending_an_action(0.21) == ['navigate', 'stop', 'bring']
    assert _stop_ending_an_action(0.05) == ['navigate', 'bring']      # "is it still there"
    assert _stop_ending_an_action(0.21, 'I-destination') == ['navigate', 'bring']  # bus stop
