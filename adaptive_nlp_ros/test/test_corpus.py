"""The command corpus: reproducible, held out as claimed, annotated by the rules it states."""

import hashlib
import json
import os
import pathlib
import re
import subprocess
import sys

from adaptive_nlp_ros.core.markup import INTENTS, ROLES
from adaptive_nlp_ros.corpus import generator, legacy, vocabulary
import pytest

PACKAGE_ROOT = pathlib.Path(__file__).resolve().parents[1]
DATA_DIR = PACKAGE_ROOT / 'adaptive_nlp_ros' / 'data'
LEADING_WORDS = ('the ', 'a ', 'an ', 'to ', 'from ', 'in ', 'on ', 'at ', 'my ', 'your ')
PRONOUNS = {'it', 'them', 'him', 'her', 'there'}
# The held-out family and the hand-written set as committed before any structured model was
# trained (fd461e7, ace0e8f): they may not change to fit a model.
HELD_OUT_FAMILY_SHA256 = '47bb35338dc0aaeff71c43d130e21831dbd6080cb14645abcdb24c355748578d'
HANDWRITTEN_SHA256 = '9d4b16ac9093763c72405918515368a74036bfc254215982cc910678fe3c2f4e'


@pytest.fixture(scope='module')
def files():
    return {name: generator.read_jsonl(DATA_DIR / name) for name in generator.CORPUS_FILES}


def all_records(files):
    return files['train.jsonl'] + files['dev.jsonl'] + files['test.jsonl']


def structured(records):
    """Return the records that carry actions (train also holds label-only legacy lines)."""
    return [record for record in records if 'actions' in record]


def test_the_held_out_family_and_the_hand_written_set_are_as_first_committed():
    lines = [line + '\n' for line in (DATA_DIR / 'test.jsonl').read_text().splitlines()
             if '"source": "generated"' in line]
    assert len(lines) == 830
    assert hashlib.sha256(''.join(sorted(lines)).encode()).hexdigest() == HELD_OUT_FAMILY_SHA256
    markup = (DATA_DIR / generator.HANDWRITTEN_MARKUP).read_bytes()
    assert hashlib.sha256(markup).hexdigest() == HANDWRITTEN_SHA256


def test_legacy_training_lines_are_relabelled_label_only_and_show_no_held_out_phrase(files):
    lines = [r for r in files['train.jsonl'] if r.get('source') == 'legacy']
    assert 3000 <= len(lines) <= 5000
    assert all('actions' not in r for r in lines)
    phrases = generator.held_out_phrases()
    assert {'whoa whoa whoa', 'usher', 'and once that is done', 'stapler'} <= phrases
    assert not [r['text'] for r in lines if generator.uses_any(r['text'], phrases)]
    old = {r['text']: r['label'] for r in generator.read_jsonl(
        DATA_DIR / 'legacy' / legacy.TRAINING_FILE)}
    assert all(r['label'] == legacy.relabel(old[r['text']], r['text']) for r in lines)
    assert generator.uses_any('Whoa  WHOA whoa, stop', phrases)


def test_generation_is_deterministic_and_does_not_depend_on_the_hash_seed(tmp_path):
    script = ('import hashlib, json; from adaptive_nlp_ros.corpus import generator as g; '
              'print(hashlib.sha256(json.dumps(g.generate()).encode()).hexdigest())')
    digests = set()
    for hash_seed in ('1', '2'):
        path = os.pathsep.join([str(PACKAGE_ROOT), os.environ.get('PYTHONPATH', '')])
        out = subprocess.run([sys.executable, '-c', script], check=True, capture_output=True,
                             text=True, env=dict(os.environ, PYTHONHASHSEED=hash_seed,
                                                 PYTHONPATH=path))
        digests.add(out.stdout.strip())
    assert len(digests) == 1
    assert generator.generate(seed=14)['train'] != generator.generate()['train']


def test_committed_files_equal_the_generator_output(tmp_path, files):
    counts = generator.write_corpus(tmp_path)
    for name in generator.CORPUS_FILES:
        assert generator.read_jsonl(tmp_path / name) == files[name], (
            f'{name} differs from the generator: regenerate it (data/CORPUS.md)')
        assert counts[name] == len(files[name])


def test_the_count_table_in_corpus_md_matches_the_files():
    text = (DATA_DIR / 'CORPUS.md').read_text()
    begin, end = text.index(generator.TABLE_BEGIN), text.index(generator.TABLE_END)
    assert text[begin + len(generator.TABLE_BEGIN):end].strip() == \
        generator.count_table(DATA_DIR).strip()


def test_no_template_or_value_is_both_trained_on_and_held_out():
    generator.check_templates()


@pytest.mark.parametrize('pool', ['OBJECT_NOUNS', 'ROOMS', 'FURNITURE', 'GARMENTS',
                                  'PERSON_ROLES', 'NAMES_HER'])
def test_held_out_values_never_occur_in_train_or_dev(files, pool):
    blob = '\n'.join(str(r['text']).lower() for r in files['train.jsonl'] + files['dev.jsonl'])
    seen = [value for value in getattr(vocabulary, pool)[1]
            if re.search(r'\b' + re.escape(value.lower()) + r'\b', blob)]
    assert not seen, f'{pool}: held-out values in training data: {seen}'


def test_no_command_occurs_twice_or_in_two_splits(files):
    keys = [generator.normalize(str(r['text'])) for r in all_records(files)]
    duplicates = sorted({key for key in keys if keys.count(key) > 1})
    assert not duplicates, duplicates[:10]
    legacy_keys = {generator.normalize(text) for text in generator.legacy_texts()}
    assert not legacy_keys & set(keys) - {generator.normalize(str(r['text']))
                                          for r in files['test_handwritten.jsonl']}


def test_splits_and_sources(files):
    test = files['test.jsonl']
    assert {r['source'] for r in test} == {'generated', 'handwritten'}
    handwritten = [r for r in test if r['source'] == 'handwritten']
    assert handwritten == files['test_handwritten.jsonl'] or sorted(
        map(json.dumps, handwritten)) == sorted(map(json.dumps, files['test_handwritten.jsonl']))
    assert len(files['test_handwritten.jsonl']) >= 150
    for name in ('train.jsonl', 'dev.jsonl'):
        labels = {r['label'] for r in files[name]}
        assert labels == set(INTENTS), name


def test_every_span_is_well_formed(files):
    """Spans inside the text, on word boundaries, arguments inside their action, no overlap."""
    for record in structured(all_records(files)):
        text = str(record['text'])
        actions = record['actions']
        assert record['label'] == actions[0]['intent'], record
        previous_end = 0
        for action in actions:
            assert action['intent'] in INTENTS
            start, end = action['start'], action['end']
            assert previous_end <= start < end <= len(text), record
            previous_end = end
            last = start
            for argument in sorted(action['arguments'], key=lambda a: a['start']):
                assert argument['role'] in ROLES, record
                a_start, a_end = argument['start'], argument['end']
                assert last <= a_start < a_end <= end, record
                piece = text[a_start:a_end]
                assert piece == piece.strip() and piece, record
                assert a_start == 0 or not (text[a_start - 1].isalnum() and piece[0].isalnum())
                assert a_end == len(text) or not (text[a_end].isalnum()
                                                  and piece[-1].isalnum()), record
                last = a_end


def test_generated_spans_follow_the_annotation_rules(files):
    """No article or preposition opens a span; a pronoun's referent is an earlier span."""
    for record in structured(files['train.jsonl']) + files['dev.jsonl'] + [
            r for r in files['test.jsonl'] if r['source'] == 'generated']:
        text = str(record['text'])
        spans = []
        for action in record['actions']:
            for argument in action['arguments']:
                piece = text[argument['start']:argument['end']]
                if argument['role'] not in ('direction', 'distance', 'angle', 'speed', 'content'):
                    assert not piece.lower().startswith(LEADING_WORDS), (piece, text)
                if 'value' in argument:
                    assert piece.lower() in PRONOUNS, (piece, text)
                    assert argument['value'] in spans, (argument, text)
                spans.append(piece)


def test_compound_commands_pronouns_and_people_are_plentiful(files):
    for name in ('train.jsonl', 'test.jsonl'):
        records = structured(files[name])
        counts = [len(r['actions']) for r in records]
        assert {1, 2, 3, 4} <= set(counts)
        assert sum(1 for c in counts if c > 1) > 0.5 * len(records)
        pronouns = sum(1 for r in records for a in r['actions'] for g in a['arguments']
                       if 'value' in g)
        assert pronouns > 0.08 * len(records), name
        roles = generator.role_counts(records)
        assert set(roles) == set(ROLES), (name, roles)


def test_the_legacy_tests_are_relabelled_by_the_stated_rule():
    records = legacy.relabelled(DATA_DIR / 'legacy')
    assert len(records) == 1063
    changed = [(r['old_label'], r['label']) for r in records if r['old_label'] != r['label']]
    assert changed == [('navigate', 'guide')] * 10
    committed = generator.read_jsonl(DATA_DIR / 'legacy' / legacy.RELABELLED_FILE)
    assert committed == records
    assert legacy.relabel('navigate', 'escort me to the gym') == 'guide'
    assert legacy.relabel('navigate', 'go to the gym') == 'navigate'
