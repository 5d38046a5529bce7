"""Malformed dataset files are refused with the file, the line and the reason."""

import json

from adaptive_nlp_ros.core.training.dataset import check_label_coverage, DatasetError, load_dataset
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
