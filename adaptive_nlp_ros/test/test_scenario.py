"""core.scenario: the scenario format, its checks and the shipped demo scenario."""

from collections import Counter

from adaptive_nlp_ros.core.evaluation.scenario import (
    default_scenario_path, digit_image, KIND_IMAGE, KIND_TEXT, load_scenario, parse_scenario,
    ScenarioError)
from adaptive_nlp_ros.core.markup import INTENTS
import numpy as np
import pytest


def test_timing_labels_and_images():
    scenario = parse_scenario({
        'name': 'tiny', 'interval_s': 0.5,
        'commands': [
            {'text': 'go to the kitchen', 'label': 'navigate'},
            {'text': 'stop', 'label': 'stop', 'after_s': 0.1},
            {'image': {'digit': 0}},
            {'image': {'pixels': [[0, 255], [255, 0]]}, 'label': 'digit_1', 'at_s': 5.0},
            {'text': 'hello'},
        ]})
    assert scenario.name == 'tiny'
    assert [command.at_s for command in scenario.commands] == [0.0, 0.1, 0.6, 5.0, 5.5]
    assert [command.kind for command in scenario.commands] == [KIND_TEXT, KIND_TEXT, KIND_IMAGE,
                                                               KIND_IMAGE, KIND_TEXT]
    assert scenario.commands[2].expected_label == 'digit_0'     # from the bundled digit
    assert scenario.commands[3].pixels.dtype == np.uint8
    assert scenario.commands[4].expected_label == ''
    assert scenario.duration_s == 5.5 and scenario.count(KIND_IMAGE) == 2


def test_a_parse_entry_gives_the_text_label_and_actions():
    scenario = parse_scenario({'commands': [
        {'parse': '{navigate go to the [lab](destination)} and {pick grab the [cup](object)} '
                  'and {place put [it](object=cup) on the [desk](destination)}'}]})
    command = scenario.commands[0]
    assert command.kind == KIND_TEXT
    assert command.text == 'go to the lab and grab the cup and put it on the desk'
    assert command.expected_label == 'navigate'
    assert [action.intent for action in command.expected_actions] == ['navigate', 'pick',
                                                                      'place']
    pronoun = command.expected_actions[2].arguments[0]
    assert (pronoun.value, pronoun.resolved) == ('cup', True)
    assert command.text[pronoun.start:pronoun.end] == 'it'


def test_digits_match_the_image_models_mapping():
    from adaptive_nlp_ros.core.training.image_training import digits_to_mono8
    from sklearn.datasets import load_digits

    pixels, digit = digit_image(42)
    digits = load_digits()
    assert digit == digits.target[42]
    assert np.array_equal(pixels, digits_to_mono8(digits.images[42]))


@pytest.mark.parametrize('document, words', [
    ({}, 'list under "commands"'),
    ({'commands': ['go']}, 'expected a mapping'),
    ({'commands': [{'text': 'a', 'image': {'digit': 1}}]}, 'exactly one of'),
    ({'commands': [{'label': 'stop'}]}, 'exactly one of'),
    ({'commands': [{'text': 'a', 'when': 1}]}, 'unknown keys'),
    ({'commands': [{'text': 'a', 'after_s': -1}]}, 'non-negative number'),
    ({'commands': [{'text': 'a', 'at_s': 2}, {'text': 'b', 'at_s': 1}]}, 'before the previous'),
    ({'commands': [{'image': {'digit': 99999}}]}, 'outside'),
    ({'commands': [{'image': {'pixels': [[0, 300]]}}]}, '0..255'),
    ({'commands': [{'image': {'pixels': [[0, 1], [2]]}}]}, '0..255'),
    ({'commands': [{'image': 'cat.png'}]}, 'digit: INDEX'),
    ({'commands': [{'text': 5}]}, 'must be a string'),
    ({'commands': [{'text': 'a', 'parse': '{stop a}'}]}, 'exactly one of'),
    ({'commands': [{'parse': 'go to the [lab](destination)'}]}, 'outside every action'),
    ({'commands': [{'parse': '{fly go up}'}]}, 'unknown intent'),
    ({'commands': [{'parse': '{stop stop}', 'label': 'cancel'}]}, 'not the first intent'),
    ({'commands': [{'parse': ['{stop stop}']}]}, 'parse must be a string'),
])
def test_bad_scenarios_are_refused_with_the_entry_named(document, words):
    with pytest.raises(ScenarioError, match=words):
        parse_scenario(document)


def test_unreadable_file_is_named(tmp_path):
    with pytest.raises(ScenarioError, match='cannot read'):
        load_scenario(tmp_path / 'missing.yaml')
    broken = tmp_path / 'broken.yaml'
    broken.write_text('commands: [')
    with pytest.raises(ScenarioError, match=str(broken)):
        load_scenario(broken)


def test_the_shipped_demo_scenario():
    scenario = load_scenario()
    assert default_scenario_path().name == 'demo_scenario.yaml'
    assert 60 <= len(scenario.commands) <= 90
    assert 45.0 <= scenario.duration_s <= 75.0
    labels = Counter(command.expected_label for command in scenario.commands
                     if command.kind == KIND_TEXT)
    assert set(labels) == set(INTENTS)             # every intent appears, all labelled
    texts = [command for command in scenario.commands if command.kind == KIND_TEXT]
    assert all(command.expected_actions for command in texts)        # every text is parsed
    assert sum(1 for command in texts if len(command.expected_actions) > 1) >= 5
    assert labels['stop'] >= 4
    assert 3 <= scenario.count(KIND_IMAGE) <= 10
    assert all(command.expected_label.startswith('digit_') for command in scenario.commands
               if command.kind == KIND_IMAGE)
