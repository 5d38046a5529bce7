"""Malformed dataset files are refused with the file, the line and the reason."""

import json

from adaptive_nlp_ros.core.training.dataset import (check_label_coverage, data_warnings,
                                                    DatasetError, load_dataset)
import pytest


def _write(path, lines):
    path.write_text('\n'.join(lines) + '\n', encoding='utf-8')
    return path


def test_reads_extra_keys_and_blank_lines(tmp_path):
    path = _write(tmp_path / 'ok.jsonl', [
        json.dumps({'text': 'lights on', 'label': 'on', 'source': 'handwritten'}), '',
        json.dumps({'text': 'lights off', 'label': 'off'})])
    dataset = load_dataset(path)
    assert dataset.texts == ['lights on', 'lights off']
    assert dataset.labels == ['on', 'off']
    assert dataset.subset('handwritten').texts == ['lights on']


def test_a_byte_order_mark_and_windows_line_ends_are_read(tmp_path):
    """As a Windows editor saves a file: the mark is no part of the first text."""
    path = tmp_path / 'windows.jsonl'
    path.write_bytes(b'\xef\xbb\xbf' + '\r\n'.join(
        json.dumps({'text': text, 'label': 'on'}) for text in ('lights on', 'lamp on')
    ).encode('utf-8') + b'\r\n')
    assert load_dataset(path).texts == ['lights on', 'lamp on']


def test_bad_json_line_names_the_line(tmp_path):
    path = _write(tmp_path / 'bad.jsonl', [json.dumps({'text': 'a', 'label': 'x'}),
                                           '{"text": "b", "label": '])
    with pytest.raises(DatasetError, match=r'bad.jsonl:2: not valid JSON'):
        load_dataset(path)


@pytest.mark.parametrize('record, message', [
    ({'label': 'x'}, 'missing field "text"'),
    ({'text': 'go'}, 'missing field "label"'),
    ({'text': '   ', 'label': 'x'}, '"text" must be a non-empty string'),
    ({'text': 'go', 'label': 3}, '"label" must be a non-empty string'),
])
def test_missing_or_bad_fields(tmp_path, record, message):
    path = _write(tmp_path / 'fields.jsonl', [json.dumps({'text': 'ok', 'label': 'x'}),
                                              json.dumps(record)])
    with pytest.raises(DatasetError, match=rf'fields.jsonl:2: {message}'):
        load_dataset(path)


def test_not_an_object(tmp_path):
    path = _write(tmp_path / 'list.jsonl', ['["text", "label"]'])
    with pytest.raises(DatasetError, match='list.jsonl:1: expected a JSON object'):
        load_dataset(path)


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(DatasetError, match='no such dataset file'):
        load_dataset(tmp_path / 'absent.jsonl')
    with pytest.raises(DatasetError, match='is a folder; give a JSONL dataset file'):
        load_dataset(tmp_path)
    with pytest.raises(DatasetError, match='no examples'):
        load_dataset(_write(tmp_path / 'empty.jsonl', ['']))


def test_label_with_no_training_examples(tmp_path):
    train = load_dataset(_write(tmp_path / 'train.jsonl', [
        json.dumps({'text': t, 'label': label})
        for t, label in [('on', 'a'), ('on now', 'a'), ('off', 'b'), ('off now', 'b')]]))
    dev = load_dataset(_write(tmp_path / 'dev.jsonl', [
        json.dumps({'text': 'dim', 'label': 'c'})]))
    with pytest.raises(DatasetError, match="label 'c' has no examples in"):
        check_label_coverage(train, [dev])


def test_label_with_too_few_examples(tmp_path):
    train = load_dataset(_write(tmp_path / 'train.jsonl', [
        json.dumps({'text': t, 'label': label})
        for t, label in [('on', 'a'), ('on now', 'a'), ('off', 'b')]]))
    with pytest.raises(DatasetError, match="label 'b' has 1 example"):
        check_label_coverage(train, [])


def test_single_label_is_refused(tmp_path):
    train = load_dataset(_write(tmp_path / 'train.jsonl', [
        json.dumps({'text': 'on', 'label': 'a'}), json.dumps({'text': 'on!', 'label': 'a'})]))
    with pytest.raises(DatasetError, match='at least 2 labels'):
        check_label_coverage(train, [])


TEXT = 'take the cup and bring it to Anna'
GOOD_ACTIONS = [
    {'intent': 'pick', 'start': 0, 'end': 12,
     'arguments': [{'role': 'object', 'start': 9, 'end': 12}]},
    {'intent': 'bring', 'arguments': [{'role': 'object', 'start': 23, 'end': 25,
                                       'value': 'cup'},
                                      {'role': 'person', 'start': 29, 'end': 33}]}]


def test_actions_are_read_with_spans_referents_and_the_label(tmp_path):
    path = _write(tmp_path / 'ok.jsonl', [json.dumps({'text': TEXT, 'actions': GOOD_ACTIONS}),
                                          json.dumps({'text': 'stop', 'label': 'stop'})])
    dataset = load_dataset(path)
    assert dataset.labels == ['pick', 'stop'] and dataset.structured
    pick, bring = dataset.actions[0]
    assert (pick.start, pick.end, pick.arguments[0].value) == (0, 12, 'cup')
    it = bring.arguments[0]
    assert (it.value, it.resolved, TEXT[it.start:it.end]) == ('cup', True, 'it')
    assert bring.start == -1 and dataset.actions[1] is None


def _with(change):
    actions = json.loads(json.dumps(GOOD_ACTIONS))
    change(actions)
    return actions


@pytest.mark.parametrize('actions, label, reason', [
    (_with(lambda a: a[1]['arguments'][1].update(end=40)), None, 'out of range'),
    (_with(lambda a: a[1]['arguments'][1].update(start=30)), None, 'cuts a word'),
    (_with(lambda a: a[1]['arguments'][1].update(start=28)), None, 'misaligned'),
    (_with(lambda a: a[1]['arguments'][0].update(start=22, end=25)), None, 'misaligned'),
    (_with(lambda a: a[1]['arguments'].append({'role': 'object', 'start': 29, 'end': 33})),
     None, 'overlaps'),
    (_with(lambda a: a[0]['arguments'][0].update(role='thing')), None, "unknown role 'thing'"),
    (_with(lambda a: a[1].update(start=5, end=16)), None, 'overlaps or comes before action 1'),
    (_with(lambda a: a[0]['arguments'].append({'role': 'person', 'start': 29, 'end': 33})),
     None, 'lies outside its action'),
    (_with(lambda a: a[1]['arguments'][0].update(value='mug')), None, "'mug' is not in the text"),
    (_with(lambda a: a[0].update(intent='')), None, '"intent" must be'),
    (GOOD_ACTIONS, 'bring', 'is not the first action'),
    ([], None, 'non-empty list'),
])
def test_a_malformed_action_is_refused_with_the_line_and_the_reason(tmp_path, actions, label,
                                                                    reason):
    record = {'text': TEXT, 'actions': actions}
    if label:
        record['label'] = label
    path = _write(tmp_path / 'bad.jsonl', [json.dumps({'text': 'stop', 'label': 'stop'}),
                                           json.dumps(record)])
    with pytest.raises(DatasetError, match=r'bad.jsonl:2: .*' + reason):
        load_dataset(path)


def test_later_intents_must_be_learnable(tmp_path):
    train = load_dataset(_write(tmp_path / 'train.jsonl', [
        json.dumps({'text': TEXT, 'actions': GOOD_ACTIONS})] * 2 + [
        json.dumps({'text': 'stop now', 'label': 'stop'})] * 2))
    assert check_label_coverage(train, []) == ['bring', 'pick', 'stop']
    dev = load_dataset(_write(tmp_path / 'dev.jsonl', [json.dumps(
        {'text': 'stop and dance', 'actions': [{'intent': 'stop'}, {'intent': 'dance'}]})]))
    with pytest.raises(DatasetError, match="intent 'dance' has no examples"):
        check_label_coverage(train, [dev])


def test_data_that_trains_worse_than_it_seems_is_warned_about_by_line(tmp_path):
    rows = [('lights on', 'on'), ('lights off', 'off'), ('lights on', 'on'),
            ('lamp on', 'Off'), ('lamp on', 'off')]
    train = load_dataset(_write(tmp_path / 'train.jsonl', [
        json.dumps({'text': text, 'label': label}) for text, label in rows]))
    dev = load_dataset(_write(tmp_path / 'dev.jsonl', [
        json.dumps({'text': 'lights  off', 'label': 'off'}),
        json.dumps({'text': 'dim the lamp', 'label': 'off'})]))
    warnings = data_warnings(train, dev)
    assert any('2 line(s) repeat an earlier text' in warning for warning in warnings)
    assert any('text(s) have two labels, first: ' in warning and 'train.jsonl:5' in warning
               and 'train.jsonl:4' in warning for warning in warnings), warnings
    assert any("labels 'Off', 'off' differ only in case" in warning for warning in warnings)
    assert any('1 of 2 line(s) are also in' in warning and 'dev.jsonl:1' in warning
               for warning in warnings)
    assert data_warnings(dev) == []
