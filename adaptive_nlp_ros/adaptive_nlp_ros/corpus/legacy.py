"""
The test files of the 14-label corpus, relabelled to the 18 intents by written rules.

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
"""

import json
import pathlib
import re
from typing import Dict, List

LEGACY_FILE = 'test_14_labels.jsonl'
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
