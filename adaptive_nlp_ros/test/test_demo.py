"""``adaptive-nlp demo`` end to end, in its own process: a short run, and Ctrl-C mid-run."""

import pathlib
import signal

from adaptive_nlp_ros.core.evaluation.scenario import load_scenario
from conftest import node_command, NodeProcess
import pytest

SHORT = """
name: short demo
interval_s: 0.2
commands:
  - {text: "go to the kitchen", label: navigate}
  - {text: "pick up the red cup", label: pick}
  - {text: "stop", label: stop}
  - {image: {digit: 5}}
  - {text: "what is your battery level", label: status}
"""


def start_demo(ros_domain, tmp_path: pathlib.Path, scenario_text: str, *extra: str):
    """Start the demo on the test's domain with a scenario (and options); return the process."""
    scenario = tmp_path / 'scenario.yaml'
    scenario.write_text(scenario_text)
    load_scenario(scenario)                             # the test's own scenario is valid
    command = node_command('adaptive-nlp') + ['demo', '--scenario', str(scenario),
                                              '--report-dir', str(tmp_path / 'runs'), *extra]
    demo = NodeProcess(command, ros_domain.env, ros_domain.log_dir, 'demo')
    ros_domain.processes.append(demo)
    return demo


def report_of(process) -> pathlib.Path:
    """Return the report path the demo printed."""
    line = next(line for line in process.stdout.splitlines() if line.startswith('report: '))
    return pathlib.Path(line.split()[1])


def test_demo_plays_the_scenario_and_writes_the_report(ros_domain, tmp_path):
    process = start_demo(ros_domain, tmp_path, SHORT, '--record', str(tmp_path / 'bag'))
    assert process.wait_exit(timeout_s=90.0) == 0, process.describe()
    output = process.stdout
    assert output.count(' -> ') == 5, output            # one line per result
    assert 'mJ (est.)' in output and 'energy_greedy' in output
    report = report_of(process)
    text = report.read_text()
    assert 'accuracy against the scenario labels' in text and '| 5 (answered 5' in text
    assert 'stop commands answered `stop` | 1 of 1' in text
    assert (report.parent / 'report.png').is_file()
    assert (report.parent / 'parameters.yaml').is_file()
    assert (tmp_path / 'bag' / 'metadata.yaml').is_file()
    assert 'recorded ' in output
    assert 'Traceback' not in process.stderr, process.describe()


def test_ctrl_c_ends_the_demo_and_still_writes_the_report(ros_domain, tmp_path):
    slow = SHORT.replace('interval_s: 0.2', 'interval_s: 1.0') + ''.join(
        f'  - {{text: "go to room {index}", label: navigate}}\n' for index in range(20))
    process = start_demo(ros_domain, tmp_path, slow)
    ros_domain.spin_until(lambda: process.stdout.count(' -> ') >= 2 or not process.running,
                          90.0, 'two results on the live view')
    assert process.running, process.describe()
    process.process.send_signal(signal.SIGINT)
    assert process.wait_exit(timeout_s=20.0) == 0, process.describe()
    text = report_of(process).read_text()
    assert 'Interrupted' in text
    assert 'Traceback' not in process.stderr, process.describe()


@pytest.fixture(autouse=True)
def _no_leftover_demo(ros_domain):
    """Kill a demo a failed test left running (the fixture then checks nothing else)."""
    yield
    for process in list(ros_domain.processes):
        if process.name == 'demo' and process.running:
            process.kill()
