"""
The 14-label corpus, relabelled to the 18 intents by written rules: its tests and its training.

Before commands had actions, the corpus labelled each command with one of 14 labels. Those
test files (``data/legacy/test_14_labels.jsonl``: 730 held-out generated commands and 333
hand-written ones) are kept as they were, and ``relabel`` maps them to today's intents so a
model trained on the structured corpus can be compared with the label accuracy of the old
one on the very same commands. The mapping (data/CORPUS.md) is the identity but for one
rule: a ``navigate`` command that leads a person (``escort me to``, ``walk me to``, ``take me
to``, ``guide``, ``lead``, ``show ... the way``) is ``guide``, an intent the old set lacked.
Every other old label keeps its name; the new intents ``say``, ``answer`` and ``report`` had
no command among the old tests (checked: the 9 ``tell me a fun fact`` and ``how many legs
does a spider have`` commands are trivia, ``out_of_scope`` in both label sets).

The old training file (``train_14_labels.jsonl``, 5,000 label-only commands) is kept too:
relabelled the same way, the lines that use no phrase of the held-out family (the generator
decides which) join ``train.jsonl`` as label-only lines (``source: legacy``), so the model
keeps the phrasings the old one learned without seeing the held-out family through them.
"""

import json
import pathlib
import re
from typing import Callable, Dict, List

LEGACY_FILE = 'test_14_labels.jsonl'
TRAINING_FILE = 'train_14_labels.jsonl'
RELABELLED_FILE = 'test_relabelled.jsonl'
_LEADS_A_PERSON = re.compile(
    r'\b(?:escort|walk|take|guide|lead|accompany|show)\s+(?:me|him|her|them|us)\b'
    r'|\bshow\s+\w+\s+the\s+way\b', re.IGNORECASE)


def relabel(label: str, text: str) -> str:
    """Return the 18-intent label of a command labelled ``label`` in the 14-label corpus."""
    if label == 'navigate' and _LEADS_A_PERSON.search(text):
        return 'guide'
    return label


def relabelled(legacy_dir: pathlib.Path) -> List[Dict[str, str]]:
    """Return the legacy test commands with their 18-intent labels (and the old one)."""
    records = []
    for line in (pathlib.Path(legacy_dir) / LEGACY_FILE).read_text(
            encoding='utf-8').splitlines():
        if line.strip():
            record = json.loads(line)
            records.append({'text': record['text'],
                            'label': relabel(record['label'], record['text']),
                            'old_label': record['label'],
                            'source': record.get('source', '')})
    return records


def write_relabelled(legacy_dir: pathlib.Path) -> int:
    """Write ``test_relabelled.jsonl`` beside the legacy file; return the lines written."""
    records = relabelled(legacy_dir)
    (pathlib.Path(legacy_dir) / RELABELLED_FILE).write_text(
        ''.join(json.dumps(record, ensure_ascii=False) + '\n' for record in records),
        encoding='utf-8')
    return len(records)


def relabelled_training(legacy_dir: pathlib.Path, keep: Callable[[str], bool]
                        ) -> List[Dict[str, str]]:
    """Return the old training commands ``keep`` accepts, relabelled, as label-only lines."""
    path = pathlib.Path(legacy_dir) / TRAINING_FILE
    if not path.is_file():
        return []
    records = []
    for line in path.read_text(encoding='utf-8').splitlines():
        if line.strip():
            record = json.loads(line)
            if keep(record['text']):
                records.append({'text': record['text'],
                                'label': relabel(record['label'], record['text']),
                                'source': 'legacy'})
    return records
