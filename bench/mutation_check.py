"""
Does the suite catch a broken model? Train two on purpose and run the tests against each.

Two models the suite must refuse (issue: "tests that fail when the product is wrong"):

* ``permuted``: trained on the shipped corpus with every label replaced by the next one in
  sorted order (train and dev alike), so it is confidently wrong on every command;
* ``fifteen_percent``: trained on a stratified, seeded 15% of the training split (dev as
  shipped): a few points less accurate on held-out commands, and it misses stops.

Each is trained into ``bench/_work/mutation/<name>`` (reused when already there), then the
whole test suite runs with ``ADAPTIVE_NLP_ARTIFACTS`` pointing at it. The failures are written
to ``bench/mutation_results.md``. Run from the repository root::

    bin/env-run python bench/mutation_check.py     # about an hour on 2 cores (two trainings)

A suite that passes with either model does not guard the product.
"""

import argparse
import collections
import json
import os
import pathlib
import random
import re
import subprocess
import sys
import time
from typing import Dict, List

ROOT = pathlib.Path(__file__).resolve().parents[1]
DATA = ROOT / 'adaptive_nlp_ros' / 'adaptive_nlp_ros' / 'data'
WORK = ROOT / 'bench' / '_work' / 'mutation'
RESULTS = ROOT / 'bench' / 'mutation_results.md'
FRACTION = 0.15
SEED = 13


def _read(path: pathlib.Path) -> List[Dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def _write(path: pathlib.Path, records: List[Dict]) -> pathlib.Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(''.join(json.dumps(record) + '\n' for record in records))
    return path


def _relabel(record: Dict, mapping: Dict[str, str]) -> Dict:
    """Return the record with its label (and its actions' intents) mapped."""
    out = dict(record, label=mapping[record['label']])
    if 'actions' in record:
        out['actions'] = [dict(action, intent=mapping.get(action['intent'], action['intent']))
                          for action in record['actions']]
    return out


def permuted_data(folder: pathlib.Path):
    """Train and dev with each label moved to the next one in sorted order."""
    train, dev = _read(DATA / 'train.jsonl'), _read(DATA / 'dev.jsonl')
    labels = sorted({record['label'] for record in train})
    mapping = {label: labels[(i + 1) % len(labels)] for i, label in enumerate(labels)}
    return (_write(folder / 'train.jsonl', [_relabel(r, mapping) for r in train]),
            _write(folder / 'dev.jsonl', [_relabel(r, mapping) for r in dev]))


def fifteen_percent_data(folder: pathlib.Path):
    """A stratified, seeded 15% of train; dev as shipped."""
    by_label = collections.defaultdict(list)
    for record in _read(DATA / 'train.jsonl'):
        by_label[record['label']].append(record)
    rng = random.Random(SEED)
    kept = []
    for label in sorted(by_label):
        rows = by_label[label]
        rng.shuffle(rows)
        kept += rows[:max(2, round(FRACTION * len(rows)))]
    rng.shuffle(kept)
    return _write(folder / 'train.jsonl', kept), DATA / 'dev.jsonl'


MUTATIONS = {'permuted': permuted_data, 'fifteen_percent': fifteen_percent_data}


def train(name: str) -> pathlib.Path:
    """Train the mutated model once; return its artifacts folder."""
    folder = WORK / name
    artifacts = folder / 'artifacts'
    if (artifacts / 'manifest.json').is_file():
        return artifacts
    train_path, dev_path = MUTATIONS[name](folder)
    subprocess.run([sys.executable, '-m', 'adaptive_nlp_ros.cli', 'train', '--data',
                    str(train_path), '--dev', str(dev_path), '--out', str(artifacts)],
                   check=True)
    return artifacts


def run_suite(artifacts: pathlib.Path, log: pathlib.Path, tests: List[str]) -> Dict:
    """Run the tests against ``artifacts``; return the counts and the failed test ids."""
    env = dict(os.environ, ADAPTIVE_NLP_ARTIFACTS=str(artifacts))
    started = time.monotonic()
    with log.open('w') as stream:
        subprocess.run([sys.executable, '-m', 'pytest', '-p', 'no:cacheprovider', '-q', '-rf',
                        *tests], env=env, stdout=stream,
                       stderr=subprocess.STDOUT, cwd=ROOT / 'adaptive_nlp_ros')
    text = log.read_text()
    failed = sorted(set(re.findall(r'^(?:FAILED|ERROR) (\S+)', text, re.MULTILINE)))
    summary = re.findall(r'^=* ?(\d+ (?:passed|failed).*?) ?=*$', text, re.MULTILINE)
    return {'failed': failed, 'summary': summary[-1] if summary else 'no summary line',
            'seconds': round(time.monotonic() - started)}


def main() -> int:
    """Train each mutation, run the suite against it, write the results file."""
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[1])
    parser.add_argument('--only', choices=sorted(MUTATIONS), action='append')
    parser.add_argument('--tests', nargs='+', default=[str(ROOT / 'adaptive_nlp_ros' / 'test')],
                        help='test files or folders to run (default: the whole suite)')
    args = parser.parse_args()
    command = 'bin/env-run python bench/mutation_check.py' + (
        ' --tests ' + ' '.join(args.tests) if '--tests' in sys.argv else '')
    lines = ['# Mutation check: the suite against deliberately broken models', '',
             f'Regenerate with `{command}`.', '']
    for name in args.only or sorted(MUTATIONS):
        artifacts = train(name)
        result = run_suite(artifacts, WORK / f'{name}.log', args.tests)
        lines += [f'## {name}', '', f'- {result["summary"]} ({result["seconds"]} s)',
                  f'- {len(result["failed"])} failing tests:', '']
        lines += [f'  - `{test}`' for test in result['failed']] + ['']
        print(f'{name}: {result["summary"]}', flush=True)
    RESULTS.write_text('\n'.join(lines))
    print(f'written {RESULTS}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
