"""
The shipped command corpus, generated from seeded templates, plus the hand-written test set.

``adaptive-nlp corpus --out DIR`` (or ``python -m adaptive_nlp_ros.corpus.generator``) writes:

* ``train.jsonl``, ``dev.jsonl``: commands from the training templates, vocabulary and
  connectors (``templates.py``, ``vocabulary.py``, ``composer.py``); dev shares no sentence
  with train;
* ``test.jsonl``: the held-out family (held-out templates, verbs, connectors and request
  forms, half of the slot values from held-out pools; ``source`` ``generated``) and the
  hand-written commands (``source`` ``handwritten``);
* ``test_handwritten.jsonl``: the hand-written commands alone, read from
  ``handwritten_actions.txt`` (bracket notation, ``markup.py``).

Every line is ``{"text", "label", "actions"}`` (``label`` = the first action's intent). No
normalized sentence occurs twice, in two splits, or equals a hand-written or a legacy test
command (``data/legacy/``). The same seed writes the same files, whatever PYTHONHASHSEED.
"""

import argparse
import collections
import json
import pathlib
import random
import re
from typing import Dict, Iterable, List, Optional, Sequence, Set

from . import legacy
from .composer import (add_noise, annotate, Composer, CONNECTORS, FILLERS, TRAILERS,
                       VOCATIVES, WRAPPERS)
from .templates import ADDED_TRAINING, template_lines, TEMPLATES, VERBS
from .vocabulary import ALL_POOLS, check_pools, training_only
from ..core.markup import INTENTS, read_markup

DEFAULT_SEED = 13
DATA_DIR = pathlib.Path(__file__).resolve().parents[1] / 'data'
HANDWRITTEN_MARKUP = 'handwritten_actions.txt'
LEGACY_DIR = 'legacy'
CORPUS_FILES = ('train.jsonl', 'dev.jsonl', 'test.jsonl', 'test_handwritten.jsonl')
TABLE_BEGIN = '<!-- counts:begin -->'
TABLE_END = '<!-- counts:end -->'
_LARGER = ('stop', 'out_of_scope')
TRAIN_SIZES = {intent: 440 if intent in _LARGER else 340 for intent in INTENTS}
DEV_SIZES = {intent: 60 if intent in _LARGER else 45 for intent in INTENTS}
TEST_SIZES = {intent: 55 if intent in _LARGER else 45 for intent in INTENTS}
_NORMALIZE = re.compile(r'[^\w\s]')


def normalize(text: str) -> str:
    """Return the key under which two sentences are the same: lowercase, no punctuation."""
    return ' '.join(_NORMALIZE.sub('', text.lower()).split())


def check_templates() -> None:
    """
    Raise ValueError where training could learn the held-out family by heart.

    No template may be in both halves, no value in both halves of a pool, and no training
    template added after the held-out family was frozen (``ADDED_TRAINING``), nor a
    training-only verb, may use a held-out verb the original training templates never did.
    """
    for intent in INTENTS:
        training, held = TEMPLATES[intent]
        shared = sorted(set(training) & set(held))
        if shared:
            raise ValueError(f'{intent}: templates both in training and held out: {shared}')
    check_pools(ALL_POOLS)
    added = {line for block in ADDED_TRAINING.values() for line in template_lines(block)}
    original = ' | '.join(_literal_words(line) for pair in TEMPLATES.values()
                          for line in pair[0] if line not in added)
    held_verbs = {verb for pool in VERBS.values() for verb in pool[1]
                  if not _has_phrase(original, verb)}
    for text in sorted(added) + [verb for pool in VERBS.values() for verb in training_only(pool)]:
        leaked = sorted(verb for verb in held_verbs if _has_phrase(_literal_words(text), verb))
        if leaked:
            raise ValueError(f'training template {text!r} uses held-out verbs {leaked}')


def _literal_words(template: str) -> str:
    """Return a template's own words, lowercase, with its slots as ``|``."""
    return ' '.join(re.sub(r'\{[^{}]*\}', ' | ', template.lower().lstrip('=+ ')).split())


def _has_phrase(text: str, phrase: str) -> bool:
    return re.search(r'(?<!\w)' + re.escape(phrase) + r'(?!\w)', text) is not None


def handwritten(data_dir: pathlib.Path = DATA_DIR) -> List[Dict[str, object]]:
    """Return the hand-written test commands as records (``source`` handwritten)."""
    return [dict(record, source='handwritten')
            for _, record in read_markup(data_dir / HANDWRITTEN_MARKUP)]


def legacy_texts(data_dir: pathlib.Path = DATA_DIR) -> Iterable[str]:
    """Yield the texts of the legacy (label-only) test file, which generation must avoid."""
    path = data_dir / LEGACY_DIR / legacy.LEGACY_FILE
    for line in path.read_text(encoding='utf-8').splitlines() if path.is_file() else ():
        if line.strip():
            yield json.loads(line)['text']


def held_out_phrases() -> Set[str]:
    """
    Return the phrases of the held-out family that the training templates never use.

    Held-out verbs, the literal words of held-out templates, held-out connectors, request
    forms, vocatives, fillers and trailers, and held-out slot values; a training line that
    contains one (as whole words, any case) would show the model part of the held-out family.
    """
    training = ' | '.join(_literal_words(line) for pair in TEMPLATES.values()
                          for line in pair[0])
    phrases = {verb for pool in VERBS.values() for verb in pool[1]}
    for pair in TEMPLATES.values():
        for line in pair[1]:
            phrases.update(chunk for chunk in _literal_words(line).split(' | ')
                           if len(chunk.split()) > 1 or len(chunk) >= 5)
    phrases = {phrase for phrase in phrases if phrase and not _has_phrase(training, phrase)}
    for forms in (CONNECTORS, WRAPPERS, VOCATIVES, FILLERS, TRAILERS):
        phrases.update(form.strip(' ,.;').lower() for form in forms[1])
    phrases.update(value.lower() for pool in ALL_POOLS for value in pool[1])
    return {phrase for phrase in phrases if phrase}


def uses_any(text: str, phrases: Iterable[str]) -> bool:
    """Return True when ``text`` contains one of ``phrases`` as whole words, any case."""
    lowered = ' '.join(text.lower().split())
    return any(_has_phrase(lowered, phrase) for phrase in phrases)


def _sample(intent: str, count: int, composer: Composer, taken: Set[str]
            ) -> List[Dict[str, object]]:
    """Compose ``count`` distinct commands whose first action is ``intent``."""
    records = []
    attempts = 0
    while len(records) < count:
        attempts += 1
        if attempts > 200 * count:
            raise ValueError(f'{intent}: only {len(records)} distinct commands of {count}; '
                             'the templates are too few')
        pieces, intents = composer.command(intent)
        add_noise(pieces, composer.rng, intents)
        record = annotate(pieces, intents)
        key = normalize(str(record['text']))
        if not key or key in taken:
            continue
        taken.add(key)
        records.append(record)
    return records


def generate(seed: int = DEFAULT_SEED, data_dir: pathlib.Path = DATA_DIR
             ) -> Dict[str, List[Dict[str, object]]]:
    """Return ``{'train', 'dev', 'test_generated', 'handwritten'}`` record lists."""
    check_templates()
    manual = handwritten(data_dir)
    taken = {normalize(str(record['text'])) for record in manual}
    taken.update(normalize(text) for text in legacy_texts(data_dir))
    splits: Dict[str, List[Dict[str, object]]] = {'train': [], 'dev': [],
                                                  'test_generated': []}
    # The held-out family first: what training draws can never change it.
    for intent in INTENTS:
        composer = Composer(random.Random(f'{seed}:test:{intent}'), held_out=True)
        splits['test_generated'] += [dict(record, source='generated') for record in _sample(
            intent, TEST_SIZES[intent], composer, taken)]
    for intent in INTENTS:
        composer = Composer(random.Random(f'{seed}:train:{intent}'), held_out=False)
        records = _sample(intent, TRAIN_SIZES[intent] + DEV_SIZES[intent], composer, taken)
        splits['dev'] += records[:DEV_SIZES[intent]]
        splits['train'] += records[DEV_SIZES[intent]:]
    phrases = held_out_phrases()
    for record in legacy.relabelled_training(data_dir / LEGACY_DIR,
                                             lambda text: not uses_any(text, phrases)):
        key = normalize(record['text'])
        if key and key not in taken:
            taken.add(key)
            splits['train'].append(record)
    for name, records in splits.items():
        random.Random(f'{seed}:shuffle:{name}').shuffle(records)
    splits['handwritten'] = manual
    return splits


def _dump(path: pathlib.Path, records: Sequence[Dict[str, object]]) -> int:
    with path.open('w', encoding='utf-8') as stream:
        for record in records:
            stream.write(json.dumps(record, ensure_ascii=False) + '\n')
    return len(records)


def write_corpus(out_dir: pathlib.Path, seed: int = DEFAULT_SEED,
                 data_dir: pathlib.Path = DATA_DIR) -> Dict[str, int]:
    """Write the four corpus files into ``out_dir``; return the lines per file."""
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    splits = generate(seed, data_dir)
    test = splits['test_generated'] + splits['handwritten']
    random.Random(f'{seed}:shuffle:test').shuffle(test)
    return {
        'train.jsonl': _dump(out_dir / 'train.jsonl', splits['train']),
        'dev.jsonl': _dump(out_dir / 'dev.jsonl', splits['dev']),
        'test.jsonl': _dump(out_dir / 'test.jsonl', test),
        'test_handwritten.jsonl': _dump(out_dir / 'test_handwritten.jsonl',
                                        splits['handwritten']),
    }


def read_jsonl(path: pathlib.Path) -> List[Dict[str, object]]:
    """Read one JSON object per line."""
    return [json.loads(line) for line in pathlib.Path(path).read_text(
        encoding='utf-8').splitlines() if line.strip()]


def count_table(out_dir: pathlib.Path) -> str:
    """Return a Markdown table: first intents and actions per file, and actions per command."""
    out_dir = pathlib.Path(out_dir)
    test = read_jsonl(out_dir / 'test.jsonl')
    files = {'train': read_jsonl(out_dir / 'train.jsonl'),
             'dev': read_jsonl(out_dir / 'dev.jsonl'),
             'test generated': [r for r in test if r.get('source') == 'generated'],
             'test hand-written': read_jsonl(out_dir / 'test_handwritten.jsonl')}
    rows = ['| intent | ' + ' | '.join(f'{name} (first / all)' for name in files) + ' |',
            '|---|' + '---:|' * len(files)]
    for intent in INTENTS:
        cells = []
        for records in files.values():
            first = sum(1 for r in records if r['label'] == intent)
            every = sum(1 for r in records for a in r.get('actions', [])
                        if a['intent'] == intent)
            cells.append(f'{first} / {every}')
        rows.append(f'| {intent} | ' + ' | '.join(cells) + ' |')
    rows.append('| **commands** | ' + ' | '.join(f'**{len(r)}**' for r in files.values())
                + ' |')
    for count in (1, 2, 3, 4):
        rows.append(f'| {count} action(s) | ' + ' | '.join(
            str(sum(1 for r in records if len(r.get('actions', [])) == count))
            for records in files.values()) + ' |')
    rows.append('| label only (legacy) | ' + ' | '.join(
        str(sum(1 for r in records if 'actions' not in r)) for records in files.values())
        + ' |')
    pronouns = [sum(1 for r in records for a in r.get('actions', []) for g in a['arguments']
                    if 'value' in g) for records in files.values()]
    rows.append('| pronoun arguments | ' + ' | '.join(map(str, pronouns)) + ' |')
    return '\n'.join(rows) + '\n'


def update_doc(doc: pathlib.Path, out_dir: pathlib.Path) -> None:
    """Replace the count table between the markers of a Markdown file."""
    text = pathlib.Path(doc).read_text(encoding='utf-8')
    begin, end = text.index(TABLE_BEGIN), text.index(TABLE_END)
    pathlib.Path(doc).write_text(text[:begin + len(TABLE_BEGIN)] + '\n' + count_table(out_dir)
                                 + text[end:], encoding='utf-8')


def role_counts(records: Iterable[Dict[str, object]]) -> Dict[str, int]:
    """Count arguments per role."""
    return dict(sorted(collections.Counter(
        g['role'] for r in records for a in r.get('actions', [])
        for g in a['arguments']).items()))


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Write the corpus and print its counts."""
    parser = argparse.ArgumentParser(prog='python -m adaptive_nlp_ros.corpus.generator',
                                     description=__doc__.strip().splitlines()[0])
    parser.add_argument('--out', type=pathlib.Path, default=DATA_DIR)
    parser.add_argument('--seed', type=int, default=DEFAULT_SEED)
    parser.add_argument('--doc', type=pathlib.Path, help='refresh the table of this CORPUS.md')
    args = parser.parse_args(argv)
    counts = write_corpus(args.out, args.seed)
    for name, count in counts.items():
        print(f'{name}: {count} lines')
    print(count_table(args.out), end='')
    if args.doc:
        update_doc(args.doc, args.out)
        print(f'updated {args.doc}')
    return 0


if __name__ == '__main__':
    raise SystemExit(main())
