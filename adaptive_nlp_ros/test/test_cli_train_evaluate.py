"""
``adaptive-nlp train`` then ``evaluate`` end to end, and the command line's errors.

The dataset is tiny and has a label set of its own (home automation, not robot intents).
"""

import json
import os
import pathlib
import subprocess
import sys

from adaptive_nlp_ros import __version__
import pytest

LABELS = {
    'lights_on': ['turn the lights on', 'lights on please', 'switch on the lamp',
                  'make it bright in here', 'can you turn on the light', 'light up the room',
                  'i need some light', 'put the lights on', 'lamp on', 'brighten the room'],
    'lights_off': ['turn the lights off', 'lights off please', 'switch off the lamp',
                   'make it dark in here', 'can you turn off the light', 'kill the lights',
                   'no more light', 'put the lights out', 'lamp off', 'darken the room'],
    'music': ['play some music', 'put on a song', 'play jazz', 'i want to hear music',
              'start the playlist', 'play my favourite song', 'some tunes please',
              'play the radio', 'music please', 'turn on some music'],
}


def _write_jsonl(path: pathlib.Path, rows) -> pathlib.Path:
    path.write_text(''.join(json.dumps(row) + '\n' for row in rows))
    return path


def _run(*arguments, env_extra=None, timeout=600):
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run([sys.executable, '-m', 'adaptive_nlp_ros.cli', *arguments],
                          capture_output=True, text=True, env=env, timeout=timeout)


@pytest.fixture(scope='module')
def tiny_artifacts(tmp_path_factory):
    """Train on 30 sentences of three home-automation labels (1 epoch, no images)."""
    folder = tmp_path_factory.mktemp('tiny')
    rows = [{'text': text, 'label': label} for label, texts in LABELS.items() for text in texts]
    train = _write_jsonl(folder / 'train.jsonl', rows)
    out = folder / 'artifacts'
    result = _run('train', '--data', str(train), '--out', str(out), '--epochs', '1',
                  '--no-images', '--safety-label', '')
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'artifacts written to' in result.stdout
    return folder, out


def test_version_and_help():
    assert __version__ in _run('--version').stdout
    help_text = _run('--help').stdout
    for command in ('train', 'evaluate', 'pareto', 'profile', 'demo'):
        assert command in help_text


def test_train_then_evaluate_with_its_own_label_set(tiny_artifacts):
    folder, artifacts = tiny_artifacts
    manifest = json.loads((artifacts / 'manifest.json').read_text())
    assert manifest['labels'] == sorted(LABELS)
    test = _write_jsonl(folder / 'test.jsonl', [
        {'text': 'please switch the lights on', 'label': 'lights_on'},
        {'text': 'lights off now', 'label': 'lights_off'},
        {'text': 'play a song for me', 'label': 'music'}])
    out = folder / 'evaluation.json'
    result = _run('evaluate', '--data', str(test), '--artifacts', str(artifacts),
                  '--strategy', 'full', '--strategy', 'early_exit', '--strategy', 'oracle',
                  '--battery', '0.4', '--json', str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    report = json.loads(out.read_text())
    assert report['n'] == 3 and report['battery'] == 0.4
    assert set(report['strategies']) == {'full', 'early_exit', 'oracle'}
    for row in report['strategies'].values():
        assert set(row) >= {'accuracy', 'mean_latency_ms', 'p95_latency_ms', 'mean_energy_mj',
                            'mean_layers', 'n', 'per_label_recall'}
        assert row['n'] == 3 and 0.0 <= row['accuracy'] <= 1.0
        assert set(row['per_label_recall']) == set(LABELS)


def test_evaluate_refuses_an_unknown_strategy(tiny_artifacts):
    folder, artifacts = tiny_artifacts
    test = _write_jsonl(folder / 'one.jsonl', [{'text': 'lights on', 'label': 'lights_on'}])
    result = _run('evaluate', '--data', str(test), '--artifacts', str(artifacts),
                  '--strategy', 'fastest', '--json', str(folder / 'x.json'))
    assert result.returncode == 2
    assert "unknown strategy 'fastest'" in result.stderr and 'Traceback' not in result.stderr


def test_train_reports_a_malformed_dataset(tmp_path):
    bad = tmp_path / 'bad.jsonl'
    bad.write_text('{"text": "lights on", "label": "on"}\n{"text": "oops"\n')
    result = _run('train', '--data', str(bad), '--out', str(tmp_path / 'a'))
    assert result.returncode == 2
    assert 'bad.jsonl:2: not valid JSON' in result.stderr and 'Traceback' not in result.stderr


def test_missing_artifacts_name_the_command_that_builds_them(tmp_path):
    test = _write_jsonl(tmp_path / 't.jsonl', [{'text': 'stop', 'label': 'stop'}])
    result = _run('evaluate', '--data', str(test), '--artifacts', str(tmp_path / 'none'),
                  '--json', str(tmp_path / 'x.json'))
    assert result.returncode == 2
    assert 'adaptive-nlp train' in result.stderr and 'Traceback' not in result.stderr
