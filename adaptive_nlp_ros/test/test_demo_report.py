"""core.demo_report: matching results to the scenario, accuracy, the report and its plot."""

import json
import math

from adaptive_nlp_ros.core.evaluation.demo_report import (
    configuration_label, result_line, ResultRow, RunRecord, summarize, write_report)
from adaptive_nlp_ros.core.evaluation.scenario import parse_scenario


def row(request_id, kind='text', text='', status='answered', label='', variant='minilm',
        exit_layer=1, precisions=('int8',), battery=0.9, energy=1.0, time_s=None):
    return ResultRow(time_s=float(request_id) if time_s is None else time_s,
                     request_id=request_id, kind=kind, text=text, status=status, label=label,
                     confidence=0.9, strategy='early_exit', variant=variant,
                     exit_layer=exit_layer, num_layers=6 if exit_layer else 0,
                     precisions=precisions, threshold=0.8, battery_fraction=battery,
                     battery_stale=False, latency_ms=2.0, energy_mj=energy)


def record_of_a_small_run() -> RunRecord:
    scenario = parse_scenario({'name': 'small', 'commands': [
        {'text': 'go to the kitchen', 'label': 'navigate'},
        {'image': {'digit': 0}},
        {'text': 'stop', 'label': 'stop'},
        {'text': 'hello'},
        {'text': 'pick it up', 'label': 'pick'}]})
    record = RunRecord('small')
    for index, command in enumerate(scenario.commands):
        record.add_played(0.5 * index, command)
    for fraction, time_s in ((1.0, 0.0), (0.5, 1.0), (0.2, 2.0)):
        record.add_battery(time_s, fraction)
    # Results arrive out of order (the stop jumped the queue); ids follow receipt order.
    record.add_result(row(3, text='stop', label='stop', variant='minilm_l6_fp32', exit_layer=6,
                          precisions=('fp32', 'fp32', 'fp32'), energy=10.0))
    record.add_result(row(1, text='go to the kitchen', label='navigate'))
    record.add_result(row(2, kind='image', label='digit_0', variant='branchynet', battery=0.5))
    record.add_result(row(4, text='hello', label='greet', battery=0.2))
    record.add_result(row(5, text='pick it up', status='dropped', battery=float('nan')))
    return record


def test_results_are_matched_to_their_commands():
    record = record_of_a_small_run()
    expected = {result.request_id: result.expected for result in record.results}
    assert expected == {1: 'navigate', 2: 'digit_0', 3: 'stop', 4: '', 5: 'pick'}
    assert record.complete
    summary = summarize(record)
    assert (summary['correct'], summary['labelled']) == (3, 4)   # the dropped one is wrong
    assert summary['stops'] == 1 and summary['stops_answered_stop'] == 1
    assert summary['energy_mj'] == 1.0 + 1.0 + 10.0 + 1.0 + 1.0
    assert summary['dropped'] == 1


def test_configuration_label_and_line():
    stop = row(3, text='stop', label='stop', variant='minilm', exit_layer=3,
               precisions=('int8', 'int8', 'bf16'))
    assert configuration_label(stop) == 'minilm 3/6 int8x2+bf16'
    assert configuration_label(row(1, variant='tfidf_logreg', exit_layer=0,
                                   precisions=('fp32',))) == 'tfidf_logreg'
    line = result_line(stop)
    assert "'stop'" in line and 'stop' in line and 'mJ (est.)' in line
    dropped = result_line(row(9, text='go', status='dropped'))
    assert 'DROPPED' in dropped


def test_write_report(tmp_path):
    record = record_of_a_small_run()
    record.interrupted = True
    path = write_report(record, tmp_path / 'run')
    text = path.read_text()
    assert 'Interrupted' in text and '3/4 = 0.750' in text and 'estimate' in text
    assert '## By battery band' in text and 'unknown' in text
    assert (tmp_path / 'run' / 'report.png').stat().st_size > 10000
    lines = (tmp_path / 'run' / 'results.jsonl').read_text().splitlines()
    assert len(lines) == 5 and json.loads(lines[0])['request_id'] == 3


def test_empty_record_still_reports(tmp_path):
    path = write_report(RunRecord('nothing ran', interrupted=True), tmp_path)
    assert 'n/a' in path.read_text()
    assert not (tmp_path / 'report.png').exists()
    assert math.isnan(summarize(RunRecord())['accuracy'])


def test_parses_are_shown_and_scored_against_the_scenario(tmp_path):
    from adaptive_nlp_ros.core.inference.parse import ParsedAction, ParsedArgument

    scenario = parse_scenario({'commands': [
        {'parse': '{pick grab the [cup](object)} and {bring bring [it](object=cup) to '
                  '[Anna](person)}'},
        {'parse': '{navigate go to the [lab](destination)}'}]})
    record = RunRecord('parsed')
    for index, command in enumerate(scenario.commands):
        record.add_played(0.5 * index, command)
    first, second = (command.text for command in scenario.commands)
    right = row(1, text=first, label='pick')
    right.actions = (ParsedAction('pick', 0.9, (ParsedArgument('object', 'cup', 9, 12),)),
                     ParsedAction('bring', 0.8, (
                         ParsedArgument('object', 'cup', 23, 25, 0.9, True),
                         ParsedArgument('person', 'Anna', 29, 33))))
    wrong = row(2, text=second, label='navigate')
    wrong.actions = (ParsedAction('navigate', 0.9, (ParsedArgument('destination', 'lobby',
                                                                   10, 15),)),)
    record.add_result(right)
    record.add_result(wrong)
    line = result_line(right)
    assert '=> pick(object=cup); bring(object=cup [it], person=Anna)' in line
    summary = summarize(record)
    assert summary['parsed'] == 2 and summary['sequence_exact'] == 1.0
    assert math.isclose(summary['argument_f1'], 3 / 4)   # 3 of 4 predicted, 3 of 4 gold
    text = write_report(record, tmp_path).read_text()
    assert '1.000 / 0.750 over 2' in text
    assert 'bring(object=cup [it], person=Anna)' in text
