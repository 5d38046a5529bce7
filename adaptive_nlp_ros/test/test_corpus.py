"""The intent corpus: reproducible from its generator, held out as claimed, labelled by rule."""

import collections
import os
import pathlib
import re
import subprocess
import sys

from adaptive_nlp_ros.corpus import corpus_generator as cg
import pytest

PACKAGE_ROOT = pathlib.Path(__file__).resolve().parents[1]
DATA_DIR = PACKAGE_ROOT / 'adaptive_nlp_ros' / 'data'
# Words that join two actions in a compound command (see the generator's connectors).
CONNECTOR_RE = re.compile(r'\b(?:and|then|after|afterwards|next|once|when)\b')
NEGATION_RE = re.compile(r"\b(?:dont|don't|not|no|never|instead)\b")
TASK_NOUNS = ('task', 'request', 'errand', 'delivery', 'job', 'mission', 'order', 'pickup',
              'plan', 'trip', 'assignment', 'command', 'chore', 'run', 'operation', 'search')


@pytest.fixture(scope='module')
def splits():
    return cg.generate_corpus()


@pytest.fixture(scope='module')
def files():
    return {name: cg.read_jsonl(DATA_DIR / name) for name in cg.CORPUS_FILES}


def first_clause(text):
    """Return the normalised text up to the first word that joins a second action."""
    return CONNECTOR_RE.split(cg.normalize(text), maxsplit=1)[0].strip()


def all_records(files):
    return files['train.jsonl'] + files['dev.jsonl'] + files['test.jsonl']


def test_generation_is_deterministic(splits):
    assert cg.generate_corpus() == splits
    assert cg.generate_corpus(seed=14) != splits


def test_generation_does_not_depend_on_hash_seed():
    script = ('import hashlib, json; from adaptive_nlp_ros.corpus import corpus_generator as cg; '
              'print(hashlib.sha256(json.dumps(cg.generate_corpus()).encode()).hexdigest())')
    digests = set()
    for hash_seed in ('1', '2'):
        path = os.pathsep.join([str(PACKAGE_ROOT), os.environ.get('PYTHONPATH', '')])
        env = dict(os.environ, PYTHONHASHSEED=hash_seed, PYTHONPATH=path)
        out = subprocess.run([sys.executable, '-c', script], env=env, check=True,
                             capture_output=True, text=True)
        digests.add(out.stdout.strip())
    assert len(digests) == 1


def test_committed_files_equal_generator_output(tmp_path):
    counts = cg.write_corpus(tmp_path)
    for name in cg.CORPUS_FILES:
        fresh = (tmp_path / name).read_text(encoding='utf-8').splitlines()
        committed = (DATA_DIR / name).read_text(encoding='utf-8').splitlines()
        assert len(committed) == counts[name], f'{name}: regenerate the corpus (see CORPUS.md)'
        for number, (old, new) in enumerate(zip(committed, fresh), start=1):
            assert old == new, f'{name}:{number} differs from the generator; regenerate'


def test_corpus_doc_table_matches_files():
    doc = (DATA_DIR / 'CORPUS.md').read_text(encoding='utf-8')
    assert cg.label_count_table(DATA_DIR) in doc


def test_records_are_well_formed(files):
    for name, records in files.items():
        for record in records:
            assert record['label'] in cg.LABELS, (name, record)
            assert record['text'].strip() == record['text'] and record['text'], (name, record)
            if name.startswith('test'):
                assert record['source'] in ('generated', 'handwritten'), (name, record)
    for name in cg.CORPUS_FILES:
        raw = (DATA_DIR / name).read_text(encoding='utf-8')
        assert '\\u' not in raw, f'{name} is ASCII-escaped'


def test_every_label_in_every_split(files, splits):
    for name, records in list(files.items()) + list(splits.items()):
        assert {r['label'] for r in records} == set(cg.LABELS), name


def test_no_text_shared_between_splits(files):
    seen = {}
    for name, records in files.items():
        if name == 'test_handwritten.jsonl':
            continue
        for record in records:
            for key in (cg.normalize(record['text']), ' '.join(record['text'].lower().split())):
                assert seen.setdefault(key, name) == name, f'{record["text"]!r} in {name}'
    # Within a split too: no duplicate and no sentence under two labels.
    for name, records in files.items():
        keys = [cg.normalize(r['text']) for r in records]
        assert len(keys) == len(set(keys)), name


def test_handwritten_commands(files):
    handwritten = files['test_handwritten.jsonl']
    assert len(handwritten) >= 230
    assert handwritten == [r for r in files['test.jsonl'] if r['source'] == 'handwritten']
    counts = collections.Counter(r['label'] for r in handwritten)
    assert all(counts[label] >= 12 for label in cg.LABELS), counts
    for label in ('stop', 'cancel', 'find', 'navigate', 'out_of_scope'):
        assert counts[label] >= 20, (label, counts[label])
    train_keys = {cg.normalize(r['text']) for r in files['train.jsonl'] + files['dev.jsonl']}
    assert not [r['text'] for r in handwritten if cg.normalize(r['text']) in train_keys]


def test_sizes(files):
    train = collections.Counter(r['label'] for r in files['train.jsonl'])
    assert 4500 <= sum(train.values()) <= 5500
    assert min(train.values()) >= 250
    assert train['stop'] > train['move'] and train['out_of_scope'] > train['move']
    assert 700 <= len(files['dev.jsonl']) <= 900
    generated = [r for r in files['test.jsonl'] if r['source'] == 'generated']
    assert len(generated) >= 650
    assert len(files['test.jsonl']) >= 880


def test_templates_and_slot_values_held_out(files):
    cg.check_templates()
    train_text = '\n'.join(cg.normalize(r['text'])
                           for r in files['train.jsonl'] + files['dev.jsonl'])
    for slot in ('place', 'obj', 'person'):
        for value in cg._SLOTS[slot][1]:
            pattern = r'\b' + re.escape(cg.normalize(value)) + r'\b'
            assert not re.search(pattern, train_text), f'held-out {slot} {value!r} in train/dev'
    test_text = '\n'.join(cg.normalize(r['text']) for r in files['test.jsonl']
                          if r['source'] == 'generated')
    used = [v for v in cg._SLOTS['place'][1] if re.search(r'\b' + v + r'\b', test_text)]
    assert len(used) >= 5, 'held-out places hardly used in test'


def test_dock_versus_navigate(files):
    """A first clause that goes somewhere to charge is dock; navigate never names the charger."""
    go_words = re.compile(r'\b(?:go|head|return)\b')
    checked = 0
    for record in all_records(files):
        clause = first_clause(record['text'])
        if 'charg' in clause and go_words.search(clause) and not NEGATION_RE.search(clause):
            assert record['label'] == 'dock', record
            checked += 1
        if record['label'] == 'navigate':
            assert 'charg' not in clause and not re.search(r'\bdock\b', clause), record
    assert checked >= 50


def test_stop_versus_cancel(files):
    """Stop with a motion word is stop; stop with a task noun and cancel verbs are cancel."""
    motion = re.compile(r'^stop (?:moving|driving|rolling|turning|going|following|backing|'
                        r'right there|right now|now|immediately|the wheels|the motion)\b')
    bare = {'stop', 'halt', 'freeze', 'stop stop', 'stop stop stop', 'emergency stop',
            'hold it', 'stahp', 'stpo'}
    cancel_start = re.compile(r'^(?:cancel (?:that|the|it|everything)|abort|never ?mind|'
                              r'scratch that|forget it|call off)\b')
    counts = collections.Counter()
    for record in all_records(files):
        text = cg.normalize(record['text'])
        clause = first_clause(record['text'])
        if motion.match(clause) or text in bare:
            assert record['label'] == 'stop', record
            counts['stop'] += 1
        if clause.startswith('stop the ') and any(n in clause.split() for n in TASK_NOUNS):
            assert record['label'] == 'cancel', record
            counts['stop task'] += 1
        if cancel_start.match(text):
            assert record['label'] == 'cancel', record
            counts['cancel'] += 1
    assert counts['stop'] >= 30 and counts['stop task'] >= 5 and counts['cancel'] >= 50, counts


def test_other_confusable_pairs(files):
    checks = {
        'pick': lambda t: t.startswith('pick up the ') and 'pace' not in t,
        'bring': lambda t: t.startswith(('bring me ', 'hand me ', 'get me the ')),
        'find': lambda t: t.startswith(('where is the ', 'look for ', 'have you seen ')),
        'speed': lambda t: t.startswith(('slow down', 'speed up', 'set speed to', 'go faster')),
        'greet': lambda t: t in ('how are you', 'hello', 'hi', 'thank you', 'thanks', 'goodbye',
                                 'good morning', 'how are you doing'),
        'status': lambda t: t.startswith(('how is your ', 'where are you')),
        'follow': lambda t: t.startswith('follow me'),
        'move': lambda t: t.startswith(('turn left', 'turn right', 'move forward ', 'back up')),
    }
    counts = collections.Counter()
    for record in all_records(files):
        text = cg.normalize(record['text'])
        clause = first_clause(record['text'])
        for label, matches in checks.items():
            if matches(text) and not NEGATION_RE.search(clause):
                assert record['label'] == label, record
                counts[label] += 1
    assert all(counts[label] >= 5 for label in checks), counts


def test_compound_and_noise_variety(files):
    train = [r['text'] for r in files['train.jsonl']]
    assert sum(1 for t in train if t.isupper() and len(t) > 3) >= 100
    assert sum(1 for t in train if t == t.lower() and not re.search(r'[.,!?]', t)) >= 1000
    assert sum(1 for t in train if CONNECTOR_RE.search(t.lower())) >= 300
    assert sum(1 for t in train if re.search(r'\b(?:um|uh|okay so|like)\b', t.lower())) >= 300
    assert sum(1 for t in train if re.search(r'\d', t)) >= 200


def test_command_line_writes_files_and_prints_counts(tmp_path):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(
        [str(PACKAGE_ROOT), os.environ.get('PYTHONPATH', '')]))
    out = subprocess.run(
        [sys.executable, '-m', 'adaptive_nlp_ros.corpus.corpus_generator', '--out', str(tmp_path)],
        env=env, check=True, capture_output=True, text=True)
    assert f'train.jsonl: {sum(cg.TRAIN_SIZES.values())} lines' in out.stdout
    assert '| stop |' in out.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(cg.CORPUS_FILES)
    assert (tmp_path / 'train.jsonl').read_bytes() == (DATA_DIR / 'train.jsonl').read_bytes()
