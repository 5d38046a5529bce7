"""
launch/demo.launch.py under launch_testing, as ROS 2 packages test their launch files.

``test/launch/demo_launch.py`` is a launch_testing test; it runs under ``launch_test`` in its own
process group (launch_testing's pytest plugins are kept out of this suite, see setup.cfg), and
its JUnit report says how many of its checks ran and passed.
"""

from pathlib import Path
import xml.etree.ElementTree as ET

from conftest import NodeProcess, require_ros2_tools

LAUNCH_TEST = Path(__file__).resolve().parent / 'launch' / 'demo_launch.py'
SCENARIO = """
name: three commands
interval_s: 0.2
commands:
  - {text: "go to the kitchen", label: navigate}
  - {text: "stop", label: stop}
  - {image: {digit: 5}}
"""
LAUNCH_TEST_TIMEOUT_S = 180.0


def test_launch_testing_passes_on_the_demo_launch_file(ros_domain, tmp_path):
    """Launch-driven lifecycle, every command answered, every process ended with 0."""
    require_ros2_tools()
    scenario = tmp_path / 'scenario.yaml'
    scenario.write_text(SCENARIO)
    report = tmp_path / 'launch_test.xml'
    process = NodeProcess(['launch_test', '--junit-xml', str(report), str(LAUNCH_TEST),
                           f'scenario:={scenario}', 'commands:=3'],
                          ros_domain.env, ros_domain.log_dir, 'launch_test', group=True,
                          stop_timeout_s=15.0)
    ros_domain.processes.append(process)
    assert process.wait_exit(timeout_s=LAUNCH_TEST_TIMEOUT_S) == 0, process.describe()
    cases = ET.parse(report).getroot().iter('testcase')
    results = {case.get('name'): [child.tag for child in case] for case in cases}
    assert set(results) == {
        'test_both_lifecycle_nodes_become_active_and_the_scenario_is_answered',
        'test_every_process_exited_with_status_0',
        'test_the_controller_answered_every_command'}, results
    assert all(not outcome for outcome in results.values()), results    # no failure, no error
