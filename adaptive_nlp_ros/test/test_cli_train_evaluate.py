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


ROOMS = ('kitchen', 'hall', 'garage', 'bedroom', 'study')


def _room_command(verb: str, room: str) -> dict:
    """Return a structured line of its own label set: the room is a location argument."""
    text = f'{verb} {room}'
    label = 'lights_on' if ' on ' in text else 'lights_off'
    start = len(verb) + 1
    return {'text': text, 'label': label, 'actions': [
        {'intent': label, 'arguments': [{'role': 'location', 'start': start,
                                         'end': start + len(room)}]}]}


def _write_jsonl(path: pathlib.Path, rows) -> pathlib.Path:
    path.write_text(''.join(json.dumps(row) + '\n' for row in rows))
    return path


def _run(*arguments, env_extra=None, timeout=600):
    env = dict(os.environ, **(env_extra or {}))
    return subprocess.run([sys.executable, '-m', 'adaptive_nlp_ros.cli', *arguments],
                          capture_output=True, text=True, env=env, timeout=timeout)


@pytest.fixture(scope='module')
def tiny_artifacts(tmp_path_factory):
    """
    Train on 40 sentences of three home-automation labels (1 epoch, no images).

    30 carry the label only, 10 also their actions: both kinds train side by side, with
    word dropout on (the report records it).
    """
    folder = tmp_path_factory.mktemp('tiny')
    rows = [{'text': text, 'label': label} for label, texts in LABELS.items() for text in texts]
    rows += [_room_command(verb, room) for verb in ('lights on in the', 'lights off in the')
             for room in ROOMS]
    train = _write_jsonl(folder / 'train.jsonl', rows)
    out = folder / 'artifacts'
    result = _run('train', '--data', str(train), '--out', str(out), '--epochs', '1',
                  '--no-images', '--word-dropout', '0.1')
    assert result.returncode == 0, result.stderr[-3000:]
    # No `stop` among these labels, and none named: said where the user reads the results.
    assert "no safety label: 'stop' is not one of the labels" in result.stdout
    assert 'artifacts written to' in result.stdout
    report = json.loads((out / 'text' / 'training_report.json').read_text())
    assert report['settings']['fine_tune']['word_dropout'] == 0.1
    return folder, out


@pytest.mark.parametrize('share', ['1.0', '-0.1', 'lots'])
def test_train_refuses_a_word_dropout_outside_0_1(tmp_path, share):
    result = _run('train', '--data', str(tmp_path / 'missing.jsonl'), '--word-dropout', share)
    assert result.returncode == 2 and '--word-dropout' in result.stderr
    assert 'Traceback' not in result.stderr


def test_version_and_help():
    assert __version__ in _run('--version').stdout
    help_text = _run('--help').stdout
    for command in ('train', 'evaluate', 'pareto', 'profile', 'demo'):
        assert command in help_text


def test_train_then_evaluate_with_its_own_label_set(tiny_artifacts):
    folder, artifacts = tiny_artifacts
    manifest = json.loads((artifacts / 'manifest.json').read_text())
    assert manifest['labels'] == sorted(LABELS)
    held_out = [('please switch the lights on', 'lights_on'), ('lights off now', 'lights_off'),
                ('play a song for me', 'music'), ('could you switch the lamp off', 'lights_off'),
                ('it is too dark, lights on', 'lights_on'),
                ('i would like to listen to some jazz', 'music')]
    test = _write_jsonl(folder / 'test.jsonl', [{'text': text, 'label': label}
                                                for text, label in held_out])
    out = folder / 'evaluation.json'
    result = _run('evaluate', '--data', str(test), '--artifacts', str(artifacts),
                  '--strategy', 'full', '--strategy', 'early_exit', '--strategy', 'oracle',
                  '--battery', '0.4', '--json', str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    assert 'stop_recall' not in result.stdout       # no safety label: no recall column for it
    report = json.loads(out.read_text())
    assert report['n'] == 6 and report['battery'] == 0.4
    assert set(report['strategies']) == {'full', 'early_exit', 'oracle'}
    for row in report['strategies'].values():
        assert set(row) >= {'accuracy', 'mean_latency_ms', 'p95_latency_ms', 'mean_energy_mj',
                            'mean_layers', 'n', 'per_label_recall'}
        assert row['n'] == 6
        assert set(row['per_label_recall']) == set(LABELS)
    # It learned the task from 27 sentences (measured: 6 of 6 for full after one epoch).
    strategies = report['strategies']
    assert strategies['full']['accuracy'] >= 5 / 6, strategies['full']
    assert strategies['oracle']['accuracy'] >= strategies['full']['accuracy']
    assert strategies['early_exit']['accuracy'] >= 4 / 6, strategies['early_exit']


def test_structured_evaluation_and_predictions_follow_the_contract(tiny_artifacts):
    """Structure metrics where the data has actions; one parse per line and strategy."""
    folder, artifacts = tiny_artifacts
    test = _write_jsonl(folder / 'structured.jsonl', [
        _room_command('lights on in the', 'kitchen'), _room_command('lights off in the', 'hall'),
        {'text': 'play a song for me', 'label': 'music'}])
    out, predictions = folder / 'structured.json', folder / 'predictions.jsonl'
    result = _run('evaluate', '--data', str(test), '--artifacts', str(artifacts),
                  '--strategy', 'full', '--strategy', 'early_exit', '--json', str(out),
                  '--predictions', str(predictions))
    assert result.returncode == 0, result.stderr[-3000:]
    for row in json.loads(out.read_text())['strategies'].values():
        assert row['n_structured'] == 2                 # the label-only line is not scored
        assert 0.0 <= row['sequence_exact'] <= 1.0
        assert {'argument_precision', 'argument_recall', 'argument_f1'} <= set(row)
    lines = [json.loads(line) for name in ('full', 'early_exit')      # P.<strategy>.jsonl
             for line in (folder / f'predictions.{name}.jsonl').read_text().splitlines()]
    assert sorted((line['strategy'], line['text']) for line in lines) == sorted(
        (name, text) for name in ('full', 'early_exit') for text in (
            'lights on in the kitchen', 'lights off in the hall', 'play a song for me'))
    for line in lines:
        assert line['actions'] and line['actions'][0]['intent'] == line['label']
        for action in line['actions']:
            for argument in action['arguments']:
                assert 0 <= argument['start'] < argument['end'] <= len(line['text'])
                assert argument['resolved'] or (
                    line['text'][argument['start']:argument['end']] == argument['value'])


def test_parse_prints_the_actions_of_one_command(artifacts_dir):
    """The shipped model on a compound command with a pronoun."""
    result = _run('parse', 'take the cup and bring it to Anna', '--artifacts',
                  str(artifacts_dir))
    assert result.returncode == 0, result.stderr[-3000:]
    parsed = json.loads(result.stdout)
    assert [action['intent'] for action in parsed['actions']] == ['pick', 'bring']
    bring = {argument['role']: argument for argument in parsed['actions'][1]['arguments']}
    assert bring['object']['value'] == 'cup' and bring['object']['resolved']
    assert bring['person']['value'] == 'Anna'


LONG_COMMAND = ('please go to the kitchen on the second floor, pick up the big blue ceramic '
                'coffee mug that is standing next to the sink on the left counter near the '
                'window, bring it to Anna who is waiting in the small meeting room at the far '
                'end of the hallway, tell her that lunch is ready, and then stop')
OVER_THE_MODEL = 'go to the kitchen and ' * 120 + 'stop'          # 600 word pieces


def test_parse_reads_a_long_command_whole_and_refuses_one_the_model_cannot(artifacts_dir):
    """65 word pieces (once cut at 64, losing the stop); over 512 refused, never cut."""
    result = _run('parse', LONG_COMMAND, '--artifacts', str(artifacts_dir))
    assert result.returncode == 0, result.stderr[-3000:]
    assert json.loads(result.stdout)['actions'][-1]['intent'] == 'stop'
    result = _run('parse', OVER_THE_MODEL, '--artifacts', str(artifacts_dir))
    assert result.returncode == 2
    assert 'word pieces > the 512' in result.stderr and 'Traceback' not in result.stderr


def test_train_and_evaluate_refuse_a_command_the_model_cannot_read_whole(tiny_artifacts):
    folder, artifacts = tiny_artifacts
    rows = [{'text': 'lights on in the kitchen', 'label': 'lights_on'},
            {'text': OVER_THE_MODEL, 'label': 'lights_on'}]
    long_file = _write_jsonl(folder / 'long.jsonl', rows)
    out = folder / 'never'
    result = _run('train', '--data', str(long_file), '--out', str(out))
    assert result.returncode == 2 and not out.exists() and not (folder / 'never.partial').exists()
    assert 'long.jsonl:2: command too long for the model' in result.stderr, result.stderr
    result = _run('evaluate', '--data', str(long_file), '--artifacts', str(artifacts),
                  '--strategy', 'full', '--json', str(folder / 'long.json'))
    assert result.returncode == 2 and not (folder / 'long.json').exists()
    assert 'long.jsonl:2: command too long for the model' in result.stderr, result.stderr
    assert 'Traceback' not in result.stderr


@pytest.mark.parametrize('actions, reason', [
    ([{'intent': 'lights_on', 'arguments': [{'role': 'location', 'start': 20, 'end': 40}]}],
     'out of range'),
    ([{'intent': 'lights_on', 'arguments': [{'role': 'location', 'start': 18, 'end': 21}]}],
     'cuts a word'),
    ([{'intent': 'lights_on', 'arguments': [{'role': 'colour', 'start': 17, 'end': 24}]}],
     "unknown role 'colour'"),
    ([{'intent': 'music', 'arguments': []}], 'is not the first'),
])
def test_train_refuses_a_malformed_action_before_writing_anything(tmp_path, actions, reason):
    rows = [{'text': 'lights on in the kitchen', 'label': 'lights_on'},
            {'text': 'lights on in the kitchen', 'label': 'lights_on', 'actions': actions}]
    bad = _write_jsonl(tmp_path / 'bad.jsonl', rows)
    out = tmp_path / 'artifacts'
    result = _run('train', '--data', str(bad), '--out', str(out))
    assert result.returncode == 2
    assert 'bad.jsonl:2:' in result.stderr and reason in result.stderr, result.stderr
    assert 'Traceback' not in result.stderr
    assert not out.exists() and not list(tmp_path.glob('artifacts*'))


def test_a_safety_label_the_data_lacks_is_refused_when_named(tiny_artifacts, tmp_path):
    folder, _ = tiny_artifacts
    out = tmp_path / 'artifacts'
    result = _run('train', '--data', str(folder / 'train.jsonl'), '--out', str(out),
                  '--safety-label', 'Lights_off')
    assert result.returncode == 2 and 'Traceback' not in result.stderr
    assert ("safety label 'Lights_off' is not one of its labels: lights_off, lights_on, music"
            in result.stderr), result.stderr
    assert not out.exists() and not list(tmp_path.glob('artifacts*'))


def test_train_without_out_never_replaces_the_default_artifacts(tiny_artifacts):
    folder, artifacts = tiny_artifacts
    before = sorted(path.name for path in artifacts.rglob('*'))
    result = _run('train', '--data', str(folder / 'train.jsonl'),
                  env_extra={'ADAPTIVE_NLP_ARTIFACTS': str(artifacts)})
    assert result.returncode == 2 and f'give --out {artifacts}' in result.stderr
    assert sorted(path.name for path in artifacts.rglob('*')) == before


def test_evaluate_refuses_an_unknown_strategy(tiny_artifacts):
    folder, artifacts = tiny_artifacts
    test = _write_jsonl(folder / 'one.jsonl', [{'text': 'lights on', 'label': 'lights_on'}])
    result = _run('evaluate', '--data', str(test), '--artifacts', str(artifacts),
                  '--strategy', 'fastest', '--json', str(folder / 'x.json'))
    assert result.returncode == 2
    assert "unknown strategy 'fastest'" in result.stderr and 'Traceback' not in result.stderr
    parse = _run('parse', 'lights on', '--artifacts', str(artifacts), '--strategy', 'fastest')
    assert parse.returncode == 2 and "unknown strategy 'fastest'" in parse.stderr
    assert 'early_exit' in parse.stderr and 'oracle' not in parse.stderr   # it cannot parse


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


def test_artifacts_check_names_a_corrupt_file_and_ensure_rebuilds_it(tiny_artifacts, tmp_path):
    """The manifest's hashes catch a changed backbone byte; --ensure builds a working folder."""
    import shutil

    folder, artifacts = tiny_artifacts
    assert _run('artifacts', '--artifacts', str(artifacts)).returncode == 0
    broken = tmp_path / 'broken'
    shutil.copytree(artifacts, broken)
    weights = next((broken / 'text' / 'backbone').glob('*.safetensors'))
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0xFF
    weights.write_bytes(bytes(data))
    checked = _run('artifacts', '--artifacts', str(broken))
    assert checked.returncode == 2 and 'Traceback' not in checked.stderr
    assert weights.name in checked.stderr and 'corrupt' in checked.stderr
    assert 'adaptive-nlp train' in checked.stderr                   # how to rebuild it
    evaluated = _run('evaluate', '--data', str(folder / 'train.jsonl'), '--artifacts',
                     str(broken), '--strategy', 'full', '--json', str(tmp_path / 'x.json'))
    assert evaluated.returncode == 2 and weights.name in evaluated.stderr
    rebuilt = _run('artifacts', '--artifacts', str(broken), '--ensure', '--data',
                   str(folder / 'train.jsonl'), '--epochs', '1', '--no-images',
                   '--safety-label', '')
    assert rebuilt.returncode == 0, rebuilt.stderr[-3000:]
    assert 'corrupt' in rebuilt.stdout and 'artifacts written to' in rebuilt.stdout
    again = _run('artifacts', '--artifacts', str(broken))
    assert again.returncode == 0 and 'artifacts OK' in again.stdout, again.stderr


def test_profile_writes_every_component_and_says_energy_is_an_estimate(
        tiny_artifacts, tmp_path):
    _, artifacts = tiny_artifacts
    out = tmp_path / 'profile.json'
    result = _run('profile', '--artifacts', str(artifacts), '--repeats', '3', '--warmup', '1',
                  '--out', str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    profile = json.loads(out.read_text())
    components = profile['components']
    for name in ('tokenize', 'embed', 'head', 'stop_check', 'layer1/fp32', 'layer6/ort_int8'):
        assert name in components, sorted(components)
        assert components[name]['latency_fixed_ms'] + components[name][
            'latency_per_token_ms'] > 0, (name, components[name])
    sources = {cost['energy_source'] for cost in components.values()}
    assert 'estimate' in profile['info']['energy_note']
    if sources != {'rapl'}:
        assert 'ESTIMATE' in result.stdout, result.stdout


def test_pareto_plots_every_strategy_at_every_battery(tiny_artifacts, tmp_path):
    _, artifacts = tiny_artifacts
    data = _write_jsonl(tmp_path / 'data.jsonl', [
        {'text': 'lights on please now', 'label': 'lights_on'},
        {'text': 'switch the lamp off', 'label': 'lights_off'},
        {'text': 'play me some music', 'label': 'music'}])
    plot, numbers = tmp_path / 'pareto.png', tmp_path / 'pareto.json'
    result = _run('pareto', '--data', str(data), '--artifacts', str(artifacts),
                  '--out', str(plot), '--json', str(numbers), '--batteries', '1.0', '0.2',
                  '--strategy', 'full', '--strategy', 'early_exit')
    assert result.returncode == 0, result.stderr[-3000:]
    assert plot.read_bytes()[:8] == b'\x89PNG\r\n\x1a\n'
    results = json.loads(numbers.read_text())
    assert set(results) == {'1.0', '0.2'}
    for battery, result_at in results.items():
        assert set(result_at['strategies']) == {'full', 'early_exit'}
    low, high = results['0.2']['strategies'], results['1.0']['strategies']
    assert low['early_exit']['mean_energy_mj'] <= high['early_exit']['mean_energy_mj'] + 1e-9
    assert low['full']['mean_energy_mj'] == pytest.approx(high['full']['mean_energy_mj'],
                                                          rel=0.05)


@pytest.mark.parametrize('arguments, message', [
    (['parse', 'go', '--battery', '2'], 'a battery level is between 0 and 1'),
    (['parse', 'go', '--battery', 'nan'], 'is not a finite number'),
    (['parse', 'go', '--threads', '0'], 'must be at least 1'),
    (['train', '--data', 'x.jsonl', '--epochs', '0'], 'must be at least 1'),
    (['evaluate', '--data', 'x.jsonl', '--json', 'x.json', '--budget-mj', '-1'],
     'must be a number >= 0'),
    (['parse', 'caf\udce9 au lait'], 'not valid UTF-8'),
    (['evaluate', '--data', 'x.jsonl', '--json', '{missing}/x.json'], 'does not exist'),
    (['evaluate', '--data', 'x.jsonl', '--json', '{folder}'], 'is a folder'),
    (['bag', 'eval', 'b', '--json', '{missing}/x.json'], 'does not exist'),
    (['train', '--data', 'x.jsonl', '--out', '{file}'], 'is a file'),
])
def test_bad_arguments_are_refused_before_any_work(tmp_path, arguments, message):
    """Out-of-range numbers, bytes that are not UTF-8, outputs that cannot be written: rc 2."""
    (tmp_path / 'a_file').write_text('')
    places = {'missing': tmp_path / 'missing', 'folder': tmp_path, 'file': tmp_path / 'a_file'}
    arguments = [argument.format(**places) for argument in arguments]
    result = subprocess.run([sys.executable, '-m', 'adaptive_nlp_ros.cli', *arguments],
                            capture_output=True, env=dict(os.environ), timeout=120,
                            cwd=tmp_path)
    stderr = result.stderr.decode('utf-8', 'replace')
    assert result.returncode == 2, stderr
    assert message in stderr and 'Traceback' not in stderr, stderr


@pytest.mark.parametrize('stop_signal, status', [('SIGINT', 130), ('SIGTERM', 143)])
def test_an_interrupted_training_leaves_nothing_behind(tiny_artifacts, stop_signal, status):
    """Ctrl-C or a kill while training: the old artifacts as they were, no staging folder."""
    import signal

    folder, artifacts = tiny_artifacts
    before = sorted(path.name for path in artifacts.rglob('*'))
    process = subprocess.Popen([sys.executable, '-m', 'adaptive_nlp_ros.cli', 'train',
                                '--data', str(folder / 'train.jsonl'), '--out', str(artifacts),
                                '--epochs', '1', '--no-images', '--safety-label', ''],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    staging = artifacts.with_name(artifacts.name + '.partial')
    try:
        while not staging.exists() and process.poll() is None:
            try:
                process.wait(timeout=0.05)
            except subprocess.TimeoutExpired:
                pass
        process.send_signal(getattr(signal, stop_signal))
        assert process.wait(timeout=120) == status
    finally:
        process.kill()
    assert not staging.exists()
    assert sorted(path.name for path in artifacts.rglob('*')) == before


def test_a_model_trained_without_images_says_so_where_images_are_asked_for(tiny_artifacts):
    """Not "rebuild with artifacts --ensure", which finds the folder complete."""
    from adaptive_nlp_ros.core import artifacts

    _, folder = tiny_artifacts
    manifest = artifacts.read_manifest(folder)
    with pytest.raises(artifacts.ArtifactError) as raised:
        artifacts.verify_files(folder, manifest, [artifacts.IMAGE_DIR])
    assert 'trained with --no-images' in str(raised.value)
    assert 'artifacts --ensure' not in str(raised.value)


def test_evaluate_says_why_a_label_only_model_scores_no_argument(text_engine, corpus_dir):
    """A model without token heads answers one bare action: its argument F1 of 0 is explained."""
    from unittest import mock

    from adaptive_nlp_ros.core.evaluation.evaluation import evaluate
    from adaptive_nlp_ros.core.training.dataset import load_dataset

    dataset = load_dataset(corpus_dir / 'test_handwritten.jsonl')
    rows = [i for i, actions in enumerate(dataset.actions)
            if any(action.arguments for action in actions)][:6]
    subset = type(dataset)([dataset.texts[i] for i in rows], [dataset.labels[i] for i in rows],
                           actions=[dataset.actions[i] for i in rows])
    assert 'structure_note' not in evaluate(text_engine, subset, ['full'])
    with mock.patch.object(text_engine.models.heads, 'scheme', None):     # no token heads
        result = evaluate(text_engine, subset, ['full'])
    assert 'labels only' in result['structure_note']
    assert result['strategies']['full']['argument_f1'] == 0.0
