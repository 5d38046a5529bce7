"""The cheap tier's word tagger: it learns actions and roles, saves as arrays, and is used."""

from dataclasses import replace
import json
import random

from adaptive_nlp_ros.core.inference.parse import decode, TagScheme, TokenView
from adaptive_nlp_ros.core.inference.text_backbone import (CommandTokenizer,
                                                           pretrained_backbone_path)
from adaptive_nlp_ros.core.inference.word_tagger import (word_features, word_spans, word_view,
                                                         WordTagger)
from adaptive_nlp_ros.core.training.dataset import load_dataset
from adaptive_nlp_ros.core.training.word_tagger_training import fit_word_tagger
import numpy as np
import pytest

INTENTS = ('bring', 'navigate', 'pick')
SCHEME = TagScheme(INTENTS)
OBJECTS = ('red cup', 'book', 'green apple', 'towel', 'remote', 'small box', 'bottle',
           'yellow sponge', 'plate', 'phone')
PEOPLE = ('Anna', 'Ben', 'Carla', 'David', 'Emma', 'Farid', 'Grace', 'Hugo')
PLACES = ('kitchen', 'bedroom', 'hallway', 'office', 'garden', 'bathroom', 'pantry')


def line(parts):
    """Build one corpus line from (text, intent or None, [(role, text)]) clauses."""
    text, actions = '', []
    for clause, intent, arguments in parts:
        start = len(text)
        text += clause
        if intent is None:
            continue
        found = []
        for role, value in arguments:
            offset = text.index(value, start)
            found.append({'role': role, 'start': offset, 'end': offset + len(value)})
        actions.append({'intent': intent, 'start': start, 'end': len(text),
                        'arguments': found})
    return {'text': text, 'label': actions[0]['intent'], 'actions': actions}


def corpus(count, seed):
    """Seeded compound commands: bring, navigate, pick, with and without a pronoun."""
    rng = random.Random(seed)
    lines = []
    for _ in range(count):
        thing, person, place = rng.choice(OBJECTS), rng.choice(PEOPLE), rng.choice(PLACES)
        shape = rng.randrange(3)
        if shape == 0:
            parts = [(f'bring the {thing} to {person}', 'bring',
                      [('object', thing), ('person', person)])]
        elif shape == 1:
            parts = [(f'go to the {place}', 'navigate', [('destination', place)]),
                     (' and ', None, []),
                     (f'pick up the {thing}', 'pick', [('object', thing)])]
        else:
            parts = [(f'take the {thing}', 'pick', [('object', thing)]), (' then ', None, []),
                     (f'bring it to {person}', 'bring',
                      [('object', 'it'), ('person', person)])]
        lines.append(line(parts))
    return lines


@pytest.fixture(scope='module')
def tokenizer():
    return CommandTokenizer(pretrained_backbone_path() / 'tokenizer.json')


@pytest.fixture(scope='module')
def tagger(tokenizer, tmp_path_factory):
    folder = tmp_path_factory.mktemp('tagger')
    for name, count, seed in (('train', 240, 1), ('dev', 60, 2)):
        (folder / f'{name}.jsonl').write_text(
            ''.join(json.dumps(item) + '\n' for item in corpus(count, seed)))
    train, dev = load_dataset(folder / 'train.jsonl'), load_dataset(folder / 'dev.jsonl')
    fitted, report = fit_word_tagger(tokenizer, train, dev, SCHEME, seed=3)
    assert report['train_lines'] == 240 and report['dev_role_accuracy'] > 0.9
    return fitted


def parse_with(tagger, tokenizer, text, label):
    encoding = tokenizer.encoding(text)
    words = word_view(TokenView.of_encoding(text, encoding))
    segment, roles, intents = tagger.probabilities(text, words.offsets)
    return decode(words, segment, roles, intents, tagger.scheme, label, 0.9)


def test_unseen_values_get_their_roles_and_the_pronoun_its_referent(tagger, tokenizer):
    text = 'take the blue mug then bring it to Zoe'          # neither value was trained on
    parse = parse_with(tagger, tokenizer, text, 'pick')
    assert [action.intent for action in parse.actions] == ['pick', 'bring']
    pick, bring = parse.actions
    assert [(a.role, a.value) for a in pick.arguments] == [('object', 'blue mug')]
    assert [(a.role, a.value, a.resolved) for a in bring.arguments] == [
        ('object', 'blue mug', True), ('person', 'Zoe', False)]
    for action in parse.actions:
        assert 0 <= action.start < action.end <= len(text)
        for argument in action.arguments:
            assert 0 <= argument.start < argument.end <= len(text)


def test_words_are_the_tokenizers_words(tokenizer):
    text = "bring Anna's mug, quickly"
    encoding = tokenizer.encoding(text)
    spans = word_spans(TokenView.of_encoding(text, encoding))
    assert [text[start:end] for start, end in spans] == [
        'bring', 'Anna', "'", 's', 'mug', ',', 'quickly']
    assert len(word_features(text, spans)) == len(spans)


def test_saved_tagger_gives_the_same_probabilities(tagger, tmp_path):
    tagger.save(tmp_path / 'tagger.npz')
    loaded = WordTagger.load(tmp_path / 'tagger.npz')
    text = 'go to the pantry and pick up the plate'
    spans = [(0, 2), (3, 5), (6, 9), (10, 16), (17, 20), (21, 25), (26, 28), (29, 32),
             (33, 38)]
    for before, after in zip(tagger.probabilities(text, spans),
                             loaded.probabilities(text, spans)):
        np.testing.assert_allclose(before, after, rtol=1e-6)
        np.testing.assert_allclose(after.sum(axis=1), 1.0, rtol=1e-5)
    assert loaded.temperatures == tagger.temperatures


def test_the_roles_each_intent_took_are_saved_with_the_tagger(tagger, tmp_path):
    learned = replace(tagger.scheme, intent_roles=(('pick', ('location', 'object')),
                                                   ('stop', ())),
                      intent_signatures=(('pick', ((('location', 'object'), 3),
                                                   (('object',), 1))), ('stop', (((), 2),))))
    WordTagger(tagger.vocabulary, tagger.weights, tagger.bias, learned,
               tagger.temperatures).save(tmp_path / 'tagger.npz')
    scheme = WordTagger.load(tmp_path / 'tagger.npz').scheme
    assert scheme == learned and not scheme.allows('stop', 'object')
    assert scheme.roles_likelihood('pick', frozenset({'object'})) == pytest.approx(
        0.75 * 0.1 + 0.25)


def test_a_word_without_known_features_still_gets_distributions(tagger):
    segment, roles, intents = tagger.probabilities('zzqx', [(0, 4)])
    assert segment.shape == (1, 3) and roles.shape == (1, len(SCHEME.role_tags))
    assert intents.shape == (1, len(INTENTS))
    assert np.isfinite(roles).all()


def test_a_tagger_file_that_does_not_fit_its_scheme_is_refused(tagger, tmp_path):
    broken = WordTagger(tagger.vocabulary, tagger.weights[:-1], tagger.bias[:-1],
                        tagger.scheme)
    broken.save(tmp_path / 'broken.npz')
    with pytest.raises(ValueError, match='do not fit'):
        WordTagger.load(tmp_path / 'broken.npz')


def test_the_tfidf_variant_answers_with_arguments(text_engine):
    """The cheapest answer is no longer a bare label: the robot still learns what and whom."""
    text = 'bring the red cup to Anna'
    strategy = text_engine.strategy('static:tfidf_logreg')
    outcome = text_engine.infer(text, strategy, text_engine.resources(battery_fraction=1.0))
    assert outcome.variant == 'tfidf_logreg' and outcome.exit_layer == 0
    assert outcome.label == outcome.actions[0].intent
    values = {(argument.role, argument.value) for action in outcome.actions
              for argument in action.arguments}
    assert ('object', 'red cup') in values and ('person', 'Anna') in values
    assert outcome.segments[0].energy_mj > 0          # the tagger's profiled cost is counted
