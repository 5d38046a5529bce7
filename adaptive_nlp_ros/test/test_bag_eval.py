"""
``adaptive-nlp bag eval`` (and ``bag info``): offline, no ROS graph, the real engine.

Bags from ``ros2 bag`` (the shared talker fixtures, remapped onto text_command), from
rosbags' writer and Humble's sqlite schema (``bag_helpers``), and the committed sample bag
recorded from the demo graph.
"""

import json
import math
from pathlib import Path

from adaptive_nlp_ros.cli import main
from adaptive_nlp_ros.core.bags.bag_evaluation import (assign_roles, evaluate_contents,
                                                       labels_for_commands, read_contents)
from adaptive_nlp_ros.core.bags.bag_reader import BagError, BagTopic, open_bag
from bag_helpers import command_scenario, storage_file, write_humble_bag, write_rosbags_bag
import pytest

# Bags written by `ros2 bag` itself (rosbag2's test resources, see data/ros2_bag_talker).
FIXTURES = Path(__file__).resolve().parent / 'data' / 'ros2_bag_talker'
SAMPLE_BAG = Path(__file__).resolve().parent / 'data' / 'demo_sample_bag'
METRICS = {'accuracy', 'mean_latency_ms', 'p95_latency_ms', 'mean_energy_mj', 'mean_layers',
           'n', 'per_label_recall'}
TEXTS = ['stop right now', 'drive to the kitchen please', 'how much battery do you have left',
         'grab the red cup from the table', 'hello robot']
LABELS = ['stop', 'navigate', 'status', 'pick', 'greet']


def run_cli(capsys, *argv):
    """Run ``adaptive-nlp`` in this process; return (status, stdout, stderr)."""
    status = main(list(argv))
    captured = capsys.readouterr()
    return status, captured.out, captured.err


def eval_json(capsys, tmp_path, bag, *extra):
    """Run ``bag eval`` and return its JSON (fails with the output if it did not succeed)."""
    out = tmp_path / 'eval.json'
    status, stdout, stderr = run_cli(capsys, 'bag', 'eval', str(bag), '--json', str(out),
                                     *extra)
    assert status == 0, stdout + stderr
    return json.loads(out.read_text())


@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_ros2_bag_fixture_remapped(capsys, tmp_path, artifacts_dir, storage):
    """The talker's 10 strings on /topic, remapped to text_command, are all evaluated."""
    result = eval_json(capsys, tmp_path, FIXTURES / storage, '--remap', '/topic:=text_command',
                       '--strategy', 'full', '--strategy', 'early_exit')
    assert result['n'] == 10
    assert result['battery'] is None                     # the talker has no battery
    assert set(result['strategies']) == {'full', 'early_exit'}
    for row in result['strategies'].values():
        assert METRICS <= set(row)
        assert row['n'] == 10 and row['accuracy'] is None
        assert row['agreement_with_recorded'] is None
    assert result['bag']['topics']['/topic']['read_count'] == 10
    assert result['bag']['skipped_topics'].keys() == {'/rosout', '/parameter_events'}


def test_no_command_topic_names_the_remedy(capsys, tmp_path):
    """Without --remap the talker bag has no command topic: one line, status 2, the hint."""
    status, stdout, stderr = run_cli(capsys, 'bag', 'eval', str(FIXTURES / 'mcap'), '--json',
                                     str(tmp_path / 'x.json'))
    assert status == 2
    assert 'Traceback' not in stderr
    error = [line for line in stderr.splitlines() if 'error:' in line]
    assert len(error) == 1 and 'no command topic' in error[0]
    assert '--remap /topic:=text_command' in error[0]
    assert not (tmp_path / 'x.json').exists()


@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_independent_bag_with_battery_and_labels(capsys, tmp_path, text_engine, storage):
    """Each command at the battery recorded just before it; labels from the bag, or a file."""
    path = write_rosbags_bag(tmp_path / 'bag', command_scenario(TEXTS, LABELS), storage)
    result = eval_json(capsys, tmp_path, path, '--strategy', 'full', '--strategy',
                       'early_exit')
    assert result['n'] == len(TEXTS)
    assert result['battery_trajectory']['at_commands'] == pytest.approx(
        [0.9, 0.8, 0.7, 0.6, 0.5])
    assert result['battery'] == pytest.approx(0.7)
    assert result['commands']['label_source'] == 'bag'
    full = result['strategies']['full']
    expected = [text_engine.infer(text, text_engine.strategy('full'),
                                  text_engine.resources(battery_fraction=0.5)).label
                for text in TEXTS]
    assert full['labels'] == expected
    assert full['accuracy'] == pytest.approx(sum(a == b for a, b in zip(expected, LABELS))
                                             / len(LABELS))
    labels_file = tmp_path / 'labels.jsonl'
    labels_file.write_text(''.join(json.dumps({'text': text.upper(), 'label': 'greet'}) + '\n'
                                   for text in TEXTS))
    relabelled = eval_json(capsys, tmp_path, path, '--strategy', 'full', '--labels',
                           str(labels_file))
    assert relabelled['commands']['labelled'] == len(TEXTS)      # matched case-insensitively
    assert relabelled['strategies']['full']['accuracy'] == pytest.approx(
        sum(label == 'greet' for label in expected) / len(TEXTS))


def test_a_labels_file_that_matches_nothing_or_contradicts_itself_is_said(
        capsys, caplog, tmp_path):
    """A warning when no command is matched; two labels for one text refused (rc 2)."""
    path = write_rosbags_bag(tmp_path / 'bag', command_scenario(TEXTS, LABELS), 'mcap')
    unrelated = tmp_path / 'unrelated.jsonl'
    unrelated.write_text(json.dumps({'text': 'a command the bag never heard', 'label': 'greet'})
                         + '\n')
    with caplog.at_level('WARNING'):
        result = eval_json(capsys, tmp_path, path, '--strategy', 'full', '--labels',
                           str(unrelated))
    assert result['commands']['labelled'] == 0
    assert any('matched none of the' in record.getMessage() for record in caplog.records)
    assert any('matched none of the' in note for note in result['warnings'])
    partial = tmp_path / 'partial.jsonl'
    partial.write_text(json.dumps({'text': TEXTS[0], 'label': 'trivia_question'}) + '\n')
    result = eval_json(capsys, tmp_path, path, '--strategy', 'full', '--strategy', 'oracle',
                       '--labels', str(partial))
    assert f'the labels file labels 1 of the {len(TEXTS)} text commands' in ' '.join(
        result['warnings'])
    assert 'labels trivia_question are not in the trained label set' in ' '.join(
        result['warnings'])
    unlabelled = write_rosbags_bag(tmp_path / 'unlabelled', command_scenario(TEXTS), 'mcap')
    result = eval_json(capsys, tmp_path, unlabelled, '--strategy', 'oracle')
    assert 'oracle without labels is no lower bound' in ' '.join(result['warnings'])
    twice = tmp_path / 'twice.jsonl'
    twice.write_text(''.join(json.dumps({'text': TEXTS[0], 'label': label}) + '\n'
                             for label in ('greet', 'stop')))
    status, _, stderr = run_cli(capsys, 'bag', 'eval', str(path), '--json',
                                str(tmp_path / 'x.json'), '--labels', str(twice))
    assert status == 2 and 'with two labels' in stderr and 'Traceback' not in stderr


# Commands with their expected actions, in the training format (written here, by hand).
STRUCTURED = {
    'take the cup and bring it to Anna': [
        {'intent': 'pick', 'arguments': [{'role': 'object', 'start': 9, 'end': 12}]},
        {'intent': 'bring', 'arguments': [{'role': 'object', 'start': 23, 'end': 25,
                                           'value': 'cup'},
                                          {'role': 'person', 'start': 29, 'end': 33}]}],
    'stop right now': [{'intent': 'stop', 'arguments': []}],
    'drive to the kitchen please': [
        {'intent': 'navigate', 'arguments': [{'role': 'destination', 'start': 9, 'end': 20}]}],
}
BAD_ACTIONS = {'hello robot': [{'intent': 'greet',
                                'arguments': [{'role': 'colour', 'start': 0, 'end': 5}]}]}


def test_expected_actions_score_the_parse_from_the_bag_or_a_labels_file(
        capsys, tmp_path, text_engine):
    """Actions in custom_data (or a labels file) give sequence exactness and argument F1."""
    from adaptive_nlp_ros.core.evaluation.structure_metrics import structure_summary
    from adaptive_nlp_ros.core.training.dataset import parse_actions

    texts = list(STRUCTURED) + list(BAD_ACTIONS)
    labels = [actions[0]['intent'] for actions in STRUCTURED.values()] + ['greet']
    content = command_scenario(texts, labels)
    content.custom_data['adaptive_nlp_ros.expected_actions'] = json.dumps(
        dict(STRUCTURED, **BAD_ACTIONS))
    path = write_rosbags_bag(tmp_path / 'bag', content, 'mcap')
    result = eval_json(capsys, tmp_path, path, '--strategy', 'full')
    assert result['commands']['with_actions'] == len(STRUCTURED)     # the bad entry is left out
    assert any('expected_actions' in warning and 'colour' in warning
               for warning in result['bag']['warnings'])
    gold = [parse_actions(text, actions) for text, actions in STRUCTURED.items()]
    predicted = [text_engine.infer(text, text_engine.strategy('full'),
                                   text_engine.resources(battery_fraction=0.5)).actions
                 for text in STRUCTURED]
    expected = structure_summary(predicted, gold)
    full = result['strategies']['full']
    assert full['sequence_exact'] == pytest.approx(expected['sequence_exact'])
    assert full['argument_f1'] == pytest.approx(expected['argument_f1'])
    labels_file = tmp_path / 'labels.jsonl'
    labels_file.write_text(''.join(json.dumps({'text': text, 'actions': actions}) + '\n'
                                   for text, actions in STRUCTURED.items()))
    out = tmp_path / 'from_file.json'
    status, stdout, stderr = run_cli(capsys, 'bag', 'eval', str(path), '--strategy', 'full',
                                     '--labels', str(labels_file), '--json', str(out))
    assert status == 0, stdout + stderr
    assert 'seq_exact' in stdout and 'arg_f1' in stdout
    from_file = json.loads(out.read_text())
    assert from_file['commands']['with_actions'] == len(STRUCTURED)
    assert from_file['strategies']['full']['sequence_exact'] == pytest.approx(
        expected['sequence_exact'])


def test_humble_bag_images_and_stale_battery(tmp_path, text_engine):
    """A Humble sqlite bag: images evaluated, a battery older than the timeout is stale."""
    from adaptive_nlp_ros.core.bags.bag_evaluation import load_image_engine
    from adaptive_nlp_ros.core.training.image_training import load_digit_splits

    images, digits = load_digit_splits()['test']
    content = command_scenario(TEXTS[:2])
    content.texts.append((20.0, TEXTS[2]))                 # 19.7 s after the last battery
    content.images = [(0.5 + i, 8, 8, images[i].tobytes()) for i in range(3)]
    path = write_humble_bag(tmp_path / 'humble', content, 'sqlite3')
    with open_bag(path) as reader:
        contents = read_contents(reader, {})
    kinds = [command.kind for command in contents.commands]
    assert kinds.count('image') == 3 and kinds.count('text') == 3
    last = contents.commands[-1]
    assert last.battery.stale and math.isnan(last.battery.fraction)
    image_engine = load_image_engine(text_engine.models.directory, text_engine.budget_model)
    result = evaluate_contents(text_engine, image_engine, contents, ['full'])
    labels = result['strategies']['full']['labels']
    image_labels = [label for label, kind in zip(labels, kinds) if kind == 'image']
    assert image_labels == [f'digit_{int(d)}' for d in digits[:3]]
    assert result['commands']['stale_battery'] == 1


def test_scenario_labels_stored_in_the_bag(tmp_path, text_engine):
    """Expected labels of text and image commands travel in custom_data and score both."""
    from types import SimpleNamespace

    from adaptive_nlp_ros.core.bags.bag_evaluation import (expected_labels_metadata,
                                                           load_image_engine)
    from adaptive_nlp_ros.core.training.image_training import load_digit_splits

    images, digits = load_digit_splits()['test']
    scenario = [SimpleNamespace(kind='text', text=t, expected_label=l)
                for t, l in zip(TEXTS, LABELS)]
    scenario += [SimpleNamespace(kind='image', text='', expected_label=f'digit_{int(d)}')
                 for d in digits[:2]]
    content = command_scenario(TEXTS)
    content.images = [(2.0 + i, 8, 8, images[i].tobytes()) for i in range(2)]
    content.custom_data = expected_labels_metadata(scenario)
    with open_bag(write_rosbags_bag(tmp_path / 'bag', content, 'mcap')) as reader:
        contents = read_contents(reader, {})
    image_engine = load_image_engine(text_engine.models.directory, text_engine.budget_model)
    result = evaluate_contents(text_engine, image_engine, contents, ['full'])
    assert result['commands']['labelled'] == len(TEXTS) + 2
    recall = result['strategies']['full']['per_label_recall']
    assert {f'digit_{int(d)}' for d in digits[:2]} <= set(recall)


def test_recorded_results_agreement(tmp_path, text_engine):
    """Recorded inference_result messages are matched to commands and compared."""
    content = command_scenario(TEXTS)
    with open_bag(write_rosbags_bag(tmp_path / 'plain', content, 'mcap')) as reader:
        full_labels = evaluate_contents(text_engine, None, read_contents(reader, {}),
                                        ['full'])['strategies']['full']['labels']
    content.results = [(t + 0.05, text, full_labels[i] if i else 'wrong')
                       for i, (t, text) in enumerate(content.texts)]
    with open_bag(write_rosbags_bag(tmp_path / 'with_results', content, 'sqlite3')) as reader:
        contents = read_contents(reader, {})
    result = evaluate_contents(text_engine, None, contents, ['full'])
    assert result['recorded']['results'] == len(TEXTS)
    assert result['recorded']['matched_to_commands'] == len(TEXTS)
    assert result['strategies']['full']['n_compared'] == len(TEXTS)
    assert result['strategies']['full']['agreement_with_recorded'] == pytest.approx(
        (len(TEXTS) - 1) / len(TEXTS))
    assert labels_for_commands(contents.commands, {TEXTS[0].upper(): 'stop'})[0] == 'stop'


def test_damaged_missing_and_empty_bags_fail_cleanly(capsys, tmp_path):
    """A corrupt bag, a missing one, a bad --remap: one line each, status 2, no traceback."""
    path = write_rosbags_bag(tmp_path / 'bag', command_scenario(TEXTS * 40), 'sqlite3')
    data = storage_file(path).read_bytes()
    storage_file(path).write_bytes(data[:len(data) // 2])
    cases = [
        ([str(path)], 'corrupt'),
        ([str(tmp_path / 'missing')], 'no such bag'),
        ([str(tmp_path / 'missing'), '--remap', 'chatter'], 'expected OLD:=NEW'),
    ]
    for argv, fragment in cases:
        status, _, stderr = run_cli(capsys, 'bag', 'eval', *argv, '--json',
                                    str(tmp_path / 'x.json'))
        assert status == 2, argv
        assert 'Traceback' not in stderr
        assert fragment in stderr, stderr
    status, stdout, stderr = run_cli(capsys, 'bag', 'info', str(tmp_path / 'missing'))
    assert status == 2 and 'no such bag' in stderr
    good = write_rosbags_bag(tmp_path / 'good', command_scenario(TEXTS), 'sqlite3')
    status, stdout, _ = run_cli(capsys, 'bag', 'info', str(good))
    assert status == 0 and 'metadata version: 9' in stdout
    assert [line.split()[-3:] for line in stdout.splitlines()
            if line.startswith('/text_command')] == [['5', '5', '5']]
    empty = write_rosbags_bag(tmp_path / 'empty', command_scenario([]), 'sqlite3')
    status, _, stderr = run_cli(capsys, 'bag', 'eval', str(empty), '--json',
                                str(tmp_path / 'x.json'))
    assert status == 2 and 'no command topic' in stderr


@pytest.mark.skipif(not SAMPLE_BAG.is_dir(), reason='the sample bag is not recorded yet')
def test_sample_bag_eval_equals_the_live_results(capsys, tmp_path, artifacts_dir):
    """On the demo's sample bag, ``full`` gives the labels the live controller answered."""
    result = eval_json(capsys, tmp_path, SAMPLE_BAG, '--strategy', 'full')
    recorded = result['recorded']
    assert result['n'] > 0 and recorded['results'] >= result['n']
    assert recorded['matched_to_commands'] == result['n']
    full = result['strategies']['full']
    assert full['n_compared'] == recorded['answered']
    assert full['agreement_with_recorded'] == 1.0
    assert result['battery_trajectory']['readings'] > 0
    assert result['commands']['label_source'] == 'bag'
    assert full['accuracy'] is not None


LEGACY_BAG = Path(__file__).resolve().parent / 'data' / 'legacy_14_label_bag'


def test_a_bag_recorded_before_actions_still_evaluates(capsys, tmp_path):
    """Its InferenceResult has no actions field (another type hash): read by its own schema."""
    result = eval_json(capsys, tmp_path, LEGACY_BAG, '--strategy', 'full')
    recorded = result['recorded']
    assert result['n'] == 17 and recorded['results'] >= result['n']
    assert recorded['matched_to_commands'] == result['n']
    assert result['commands']['label_source'] == 'bag'
    assert result['commands']['labelled'] == result['n']
    assert result['commands']['with_actions'] == 0
    assert 'sequence_exact' not in result['strategies']['full']
    assert result['strategies']['full']['n_compared'] == recorded['answered']


def test_two_robots_in_one_bag_are_evaluated_one_at_a_time():
    """Their commands are not one stream, nor their batteries one battery: --namespace."""
    topics = {name: BagTopic(name, msgtype) for name, msgtype in (
        ('/robot1/text_command', 'std_msgs/msg/String'),
        ('/robot2/text_command', 'std_msgs/msg/String'),
        ('/robot1/battery_state', 'sensor_msgs/msg/BatteryState'),
        ('/robot2/battery_state', 'sensor_msgs/msg/BatteryState'))}
    with pytest.raises(BagError, match=r'2 namespaces \(/robot1, /robot2\).*--namespace /robot1'):
        assign_roles(topics, {})
    roles, skipped = assign_roles(topics, {}, namespace='robot2')
    assert roles == {'/robot2/text_command': 'text_command',
                     '/robot2/battery_state': 'battery_state'}
    assert skipped['/robot1/text_command'] == 'not in namespace /robot2'
    assert assign_roles({'/text_command': topics['/robot1/text_command']}, {})[0] == {
        '/text_command': 'text_command'}


def test_messages_skipped_from_a_bag_are_listed_in_its_warnings(capsys, tmp_path):
    """An image the controller would refuse is not scored, and the JSON says which."""
    content = command_scenario(TEXTS)
    content.images.append((5.0, 8, 8, bytes(10)))             # 10 bytes for 64 pixels
    path = write_rosbags_bag(tmp_path / 'bag', content, 'mcap')
    result = eval_json(capsys, tmp_path, path, '--strategy', 'full')
    assert result['commands']['skipped'] == 1
    assert any('1 message(s) skipped, not scored: /image_command: image skipped' in note
               for note in result['warnings']), result['warnings']
