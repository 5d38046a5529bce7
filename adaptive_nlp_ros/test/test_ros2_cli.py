"""
The commands a ROS 2 user types, run for real: ros2 launch, node, topic, param, lifecycle.

One ``ros2 launch adaptive_nlp_ros demo.launch.py namespace:=robot1 strategy:=early_exit``
serves the whole module (its own process group, on the module's domain, with a one-command
scenario for the player); each test leaves it as it found it, and the last one ends it with
SIGINT to its process group, as Ctrl-C in a terminal does. The ``ros2`` calls use the ROS 2
daemon (as a user's do: it keeps what discovery found, so each call takes a fraction of a
second); the module stops it at the end, and kills it if ``ros2 daemon stop`` hangs (seen once
in a full suite run: the daemon stuck in its own shutdown). The test process's own node (the
probe) publishes and reads where a ``ros2`` call is not the point of the test. Output is read
from stdout: Fast DDS writes its own complaints to stderr.
"""

import re
import signal
import subprocess
from typing import Callable, Dict, List

from adaptive_nlp_ros_msgs.msg import InferenceResult
from conftest import NodeProcess, require_ros2_tools
from diagnostic_msgs.msg import DiagnosticArray
import psutil
import pytest
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import BatteryState
from std_msgs.msg import String

NAMESPACE = '/robot1'
CONTROLLER = f'{NAMESPACE}/controller_node'
BATTERY = f'{NAMESPACE}/battery_node'
RELIABLE_100 = QoSProfile(depth=100, reliability=ReliabilityPolicy.RELIABLE)
SCENARIO = """
name: one command
commands:
  - {text: "hello robot", label: greet}
"""
CLI_TIMEOUT_S = 60.0
DAEMON_STOP_TIMEOUT_S = 20.0
GRAPH_TIMEOUT_S = 60.0          # launch, model loading, discovery, on a loaded two-core machine
STOP_TIMEOUT_S = 15.0


def ros2(domain, *arguments: str, timeout_s: float = CLI_TIMEOUT_S) -> str:
    """Run ``ros2 ARGUMENTS`` on the module's domain; return its stdout (fails on status)."""
    return ros2_run(domain, *arguments, timeout_s=timeout_s).stdout


def ros2_run(domain, *arguments: str,
             timeout_s: float = CLI_TIMEOUT_S) -> subprocess.CompletedProcess:
    """Run ``ros2 ARGUMENTS`` on the module's domain; return what it printed (fails on status)."""
    completed = subprocess.run(['ros2', *arguments], env=domain.env, capture_output=True,
                               text=True, timeout=timeout_s, stdin=subprocess.DEVNULL)
    assert completed.returncode == 0, \
        f'ros2 {" ".join(arguments)}: status {completed.returncode}\n{completed.stderr}'
    return completed


def stop_daemon(domain) -> None:
    """Stop the ROS 2 daemon of the domain; kill it if it does not stop."""
    try:
        subprocess.run(['ros2', 'daemon', 'stop'], env=domain.env, capture_output=True,
                       timeout=DAEMON_STOP_TIMEOUT_S, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        pass
    marker = ['--name', 'ros2-daemon', '--ros-domain-id', str(domain.domain_id)]
    for process in psutil.process_iter(['pid', 'cmdline']):
        cmdline = process.info['cmdline'] or []
        if any(cmdline[index:index + len(marker)] == marker for index in range(len(cmdline))):
            process.send_signal(signal.SIGKILL)


class Graph:
    """The launched graph and the probe's view of it."""

    def __init__(self, domain, launch: NodeProcess) -> None:
        """Subscribe the probe to the results, diagnostics and battery of the namespace."""
        self.domain = domain
        self.launch = launch
        node = domain.node
        self.text = node.create_publisher(String, f'{NAMESPACE}/text_command', RELIABLE_100)
        self.results = domain.collect(InferenceResult, f'{NAMESPACE}/inference_result',
                                      RELIABLE_100)
        self.diagnostics = domain.collect(DiagnosticArray, '/diagnostics', RELIABLE_100)
        self.battery = domain.collect(BatteryState, f'{NAMESPACE}/battery_state',
                                      RELIABLE_100)
        self.asked: List[str] = []

    def ask(self, text: str) -> InferenceResult:
        """Publish a text command (one not sent before) from the probe; return its result."""
        assert text not in self.asked, f'{text!r} was sent before: its result would be ambiguous'
        self.asked.append(text)
        after = len(self.results)
        self.domain.wait_for_subscribers(self.text)
        self.text.publish(String(data=text))
        return self.results.wait_for(lambda message: message.input_text == text, after=after,
                                     timeout_s=20.0, what=f'the result of {text!r}')

    def diagnostic_values(self, name: str, predicate: Callable[[Dict[str, str]], bool],
                          what: str) -> Dict[str, str]:
        """Wait for a status ``name`` whose values satisfy ``predicate``; return them."""
        def values(array: DiagnosticArray) -> Dict[str, str]:
            for status in array.status:
                if status.name == name:
                    return {pair.key: pair.value for pair in status.values}
            return {}
        message = self.diagnostics.wait_for(
            lambda array: bool(values(array)) and predicate(values(array)),
            after=len(self.diagnostics), what=f'{name} diagnostics with {what}')
        return values(message)

    def wait_for_nodes(self, names: List[str]) -> str:
        """Run ``ros2 node list`` until it lists every one of ``names``; return the last list."""
        listed = ''

        def listed_all() -> bool:
            nonlocal listed
            listed = ros2(self.domain, 'node', 'list')
            return all(name in listed.split() for name in names)
        self.domain.spin_until(listed_all, GRAPH_TIMEOUT_S, f'ros2 node list to show {names}')
        return listed


@pytest.fixture(scope='module')
def graph(module_ros_domain, tmp_path_factory):
    """Launch the demo graph with ros2 launch; stop the daemon after the module."""
    require_ros2_tools()
    scenario = tmp_path_factory.mktemp('cli') / 'scenario.yaml'
    scenario.write_text(SCENARIO)
    launch = NodeProcess(
        ['ros2', 'launch', 'adaptive_nlp_ros', 'demo.launch.py', 'namespace:=robot1',
         'strategy:=early_exit', f'scenario:={scenario}'],
        module_ros_domain.env, module_ros_domain.log_dir, 'ros2_launch', group=True,
        stop_timeout_s=STOP_TIMEOUT_S)
    module_ros_domain.processes.append(launch)
    try:
        graph = Graph(module_ros_domain, launch)
        graph.wait_for_nodes([CONTROLLER, BATTERY])
        graph.results.wait_for(lambda message: message.input_text == 'hello robot',
                               timeout_s=GRAPH_TIMEOUT_S, what="the player's command answered")
        yield graph
    finally:
        stop_daemon(module_ros_domain)


def test_topic_pub_is_answered_on_topic_echo_in_the_namespace(graph):
    """ros2 topic pub a command; ros2 topic echo shows its answered result."""
    text = 'go to the kitchen'
    echo = subprocess.Popen(
        ['ros2', 'topic', 'echo', f'{NAMESPACE}/inference_result',
         'adaptive_nlp_ros_msgs/msg/InferenceResult', '--once', '--filter',
         f'm.input_text == {text!r}'],
        env=graph.domain.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        graph.domain.spin_until(
            lambda: any(info.node_name.startswith('_ros2cli') for info in
                        graph.domain.node.get_subscriptions_info_by_topic(
                            f'{NAMESPACE}/inference_result')),
            GRAPH_TIMEOUT_S, 'ros2 topic echo to subscribe')
        # The probe seeing the echo does not mean the controller has matched it yet (the
        # result is not kept for late subscribers): publish again until the echo has one.
        output = None
        for _ in range(5):
            published = ros2(graph.domain, 'topic', 'pub', '--once',
                             f'{NAMESPACE}/text_command', 'std_msgs/msg/String',
                             f'{{data: "{text}"}}')
            assert 'publishing #1' in published, published
            try:
                output, _ = echo.communicate(timeout=10.0)
                break
            except subprocess.TimeoutExpired:
                continue
    finally:
        if echo.poll() is None:
            echo.kill()
            echo.wait()
    assert output is not None, 'ros2 topic echo showed no result for five commands'
    assert echo.returncode == 0, output
    assert f'input_text: {text}' in output, output
    assert 'status: 0' in output and 'label: navigate' in output, output
    assert 'strategy: early_exit' in output, output


def test_param_set_switches_the_strategy_and_refuses_a_bogus_one(graph):
    """ros2 param set: a strategy takes effect on the next command; a bogus one is refused."""
    assert 'Set parameter successful' in ros2(graph.domain, 'param', 'set', CONTROLLER,
                                              'strategy', 'energy_greedy')
    try:
        assert graph.ask('drive to the kitchen').configuration.strategy == 'energy_greedy'
        refused = ros2_run(graph.domain, 'param', 'set', CONTROLLER, 'strategy',
                           'bogus_strategy').stderr      # and the exit status is 0
        assert 'Setting parameter failed' in refused, refused
        assert "unknown strategy 'bogus_strategy'" in refused and 'early_exit' in refused
        kept = ros2(graph.domain, 'param', 'get', CONTROLLER, 'strategy')
        assert 'String value is: energy_greedy' in kept, kept
    finally:
        ros2(graph.domain, 'param', 'set', CONTROLLER, 'strategy', 'early_exit')
    assert graph.ask('head to the kitchen').configuration.strategy == 'early_exit'


def lifecycle_state(graph, node: str) -> str:
    """Return ``ros2 lifecycle get NODE``'s answer, e.g. ``active [3]``."""
    return ros2(graph.domain, 'lifecycle', 'get', node).strip()


def lifecycle_set(graph, node: str, transition: str) -> None:
    """Run ``ros2 lifecycle set NODE TRANSITION`` and assert it succeeded."""
    output = ros2(graph.domain, 'lifecycle', 'set', node, transition)
    assert 'Transitioning successful' in output, output


def test_lifecycle_deactivates_and_activates_the_controller(graph):
    """Inactive, the controller answers REJECTED 'inactive' and says so; active, it answers."""
    assert lifecycle_state(graph, CONTROLLER) == 'active [3]'
    lifecycle_set(graph, CONTROLLER, 'deactivate')
    try:
        assert lifecycle_state(graph, CONTROLLER) == 'inactive [2]'
        result = graph.ask('go to the garage')
        assert result.status == InferenceResult.STATUS_REJECTED
        assert result.reason.startswith('inactive'), result.reason
        graph.diagnostic_values(
            'controller_node', lambda values: values['lifecycle_state'] == 'inactive' and
            int(values['rejected_inactive']) >= 1, 'the state inactive and the rejection counted')
    finally:
        lifecycle_set(graph, CONTROLLER, 'activate')
    assert lifecycle_state(graph, CONTROLLER) == 'active [3]'
    assert graph.ask('go to the bedroom').status == InferenceResult.STATUS_ANSWERED


def test_lifecycle_cycles_the_battery_node_through_every_state(graph):
    """deactivate, cleanup, configure, activate: battery_state stops and comes back."""
    nodes = ros2(graph.domain, 'lifecycle', 'nodes')
    assert BATTERY in nodes.split() and CONTROLLER in nodes.split(), nodes
    for transition, state in (('deactivate', 'inactive [2]'), ('cleanup', 'unconfigured [1]'),
                              ('configure', 'inactive [2]'), ('activate', 'active [3]')):
        lifecycle_set(graph, BATTERY, transition)
        assert lifecycle_state(graph, BATTERY) == state
        if transition == 'cleanup':
            graph.diagnostic_values(
                'battery_node', lambda values: values['lifecycle_state'] == 'unconfigured',
                'the state unconfigured')
    after = len(graph.battery)
    graph.battery.wait_for(after=after, what='battery_state again after activate')


def test_sigint_to_the_launch_ends_every_node_with_status_0(graph):
    """Ctrl-C (SIGINT to the launch's process group): every node ends cleanly, launch too."""
    lifecycle_set(graph, BATTERY, 'shutdown')         # finalized nodes end cleanly as well
    assert lifecycle_state(graph, BATTERY) == 'finalized [4]'
    graph.launch.stop()
    output = graph.launch.stdout + graph.launch.stderr
    started = dict(re.findall(r'\[(\w+)-\d+\]: process started with pid \[(\d+)\]', output))
    assert set(started) == {'battery_node', 'controller_node', 'command_player'}, output
    for name, pid in started.items():
        assert f'[{name}-' in output and f'process has finished cleanly [pid {pid}]' in output, \
            f'{name} did not finish cleanly\n{output}'
    assert 'process has died' not in output, output
    assert 'stopped: received' in output          # the controller's last words
