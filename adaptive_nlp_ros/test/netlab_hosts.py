"""
Two hosts on one machine for the edge-expert tests and bench.

Network namespaces joined by ``../shared/netlab/linkemu.py`` (delay, loss, partitions; this
kernel has no ``tc netem``), nodes started inside them, and a driver process that publishes
commands and reports results.

Used by ``test_edge_netns.py`` and ``bench/bench_partition.py``. Needs root, ``ip``,
``/dev/net/tun`` and the netlab folder (``netlab_problem`` says what is missing).
"""

import contextlib
import json
import os
from pathlib import Path
import shutil
import subprocess
import sys
import threading
import time
from typing import Callable, Dict, List, Optional

from adaptive_nlp_ros.core.offload.understand import EXECUTED_ON_ROBOT
from conftest import allocate_domain_id, node_command, NodeProcess
import pytest

NETLAB = Path(__file__).resolve().parents[3] / 'shared' / 'netlab'
STARTUP_TIMEOUT_S = 120.0
ANSWER_TIMEOUT_S = 60.0
LINK_SETTLE_S = 0.25


def _run(*command: str) -> subprocess.CompletedProcess:
    """Run a command, output captured (never raises)."""
    return subprocess.run(list(command), capture_output=True, text=True, check=False)


def netlab_problem() -> Optional[str]:
    """Return why two-host tests cannot run here, or None."""
    if os.geteuid() != 0:
        return 'network namespaces need root'
    if shutil.which('ip') is None:
        return 'no `ip` command'
    if not Path('/dev/net/tun').exists():
        return 'no /dev/net/tun for the link emulator'
    if not (NETLAB / 'linkemu.py').is_file():
        return f'no link emulator at {NETLAB}/linkemu.py'
    return None


class NetlabError(RuntimeError):
    """The two hosts cannot be made here (the message says why)."""


def stream(driver: 'Driver', texts: List[str], period_s: float,
           during: Optional[Callable[[int], None]] = None) -> List[dict]:
    """Publish ``texts`` one per ``period_s``; return their results (one each, waited for)."""
    before = len(driver.results())
    for index, text in enumerate(texts):
        if during is not None:
            during(index)
        driver.send({'op': 'send', 'text': text})
        time.sleep(period_s)                       # the stream's rate, not a synchronisation
    driver.wait_until(lambda: len(driver.results()) >= before + len(texts), ANSWER_TIMEOUT_S,
                      f'{len(texts)} results')
    results = driver.results()[before:]
    assert len(results) == len(texts), results
    return results


class Driver:
    """The edge_driver process in a namespace: commands in, results out (JSON lines)."""

    def __init__(self, namespace: str, env: Dict[str, str], log_dir: Path, name: str,
                 results: bool = True) -> None:
        command = ['ip', 'netns', 'exec', namespace, sys.executable,
                   str(Path(__file__).with_name('edge_driver.py'))]
        if not results:
            command.append('--no-results')
        self.name = name
        self.stderr_path = log_dir / f'{name}.stderr'
        self._stderr = open(self.stderr_path, 'wb')
        self.process = subprocess.Popen(command, env=env, stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=self._stderr,
                                        text=True, bufsize=1)
        self.events: List[dict] = []
        self._condition = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            with self._condition:
                self.events.append(json.loads(line))
                self._condition.notify_all()

    def send(self, operation: dict) -> None:
        self.process.stdin.write(json.dumps(operation) + '\n')
        self.process.stdin.flush()

    def wait_until(self, condition: Callable[[], bool], timeout_s: float, what: str) -> None:
        """Wait (on the reader's notifications, not a sleep) until ``condition()`` holds."""
        deadline = time.monotonic() + timeout_s
        with self._condition:
            while not condition():
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.process.poll() is not None:
                    pytest.fail(f'{self.name}: timed out waiting for {what}\n'
                                + self.stderr_path.read_text(errors='replace')[-3000:])
                self._condition.wait(min(remaining, 0.5))

    def results(self) -> List[dict]:
        with self._condition:
            return [event for event in self.events if event['event'] == 'result']

    def match(self) -> None:
        """Wait until the driver's topics matched the controller's (discovery)."""
        count = sum(event['event'] == 'matched' for event in self.events)
        self.send({'op': 'match'})
        self.wait_until(lambda: sum(event['event'] == 'matched' for event in self.events)
                        > count, STARTUP_TIMEOUT_S, 'discovery of the controller')

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10.0)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._stderr.close()


class TwoHosts:
    """The robot's namespace, the server's, the emulated link between them, and the nodes."""

    def __init__(self, tmp: Path) -> None:
        tag = os.getpid() % 10000
        self.robot_ns, self.server_ns = f'anr{tag}r', f'anr{tag}s'
        subnet = 10 + tag % 200
        self.robot_ip, self.server_ip = f'10.233.{subnet}.1', f'10.233.{subnet}.2'
        self.tmp = tmp
        self.control = tmp / 'link.json'
        self.set_link(delay_ms=0, up=True)
        self.processes: List[NodeProcess] = []
        self.drivers: List[Driver] = []
        self.emulator: Optional[subprocess.Popen] = None
        self.domain_id = allocate_domain_id()

    def set_link(self, delay_ms: float = 0.0, up: bool = True, loss: float = 0.0) -> None:
        """Change the emulated link (the emulator re-reads its control file every 100 ms)."""
        partial = self.control.with_suffix('.tmp')
        partial.write_text(json.dumps({'delay_ms': delay_ms, 'jitter_ms': 0, 'loss': loss,
                                       'up': up}))
        partial.replace(self.control)
        time.sleep(LINK_SETTLE_S)                  # the emulator re-reads the file every 100 ms

    def up(self) -> None:
        """Make the namespaces and start the link emulator; wait until it has set the link up."""
        for namespace in (self.robot_ns, self.server_ns):
            _run('ip', 'netns', 'del', namespace)
            created = _run('ip', 'netns', 'add', namespace)
            if created.returncode != 0:
                raise NetlabError(f'cannot create a network namespace: {created.stderr.strip()}')
            _run('ip', '-n', namespace, 'link', 'set', 'lo', 'up')
        log = open(self.tmp / 'linkemu.log', 'wb')
        self.emulator = subprocess.Popen(
            [sys.executable, str(NETLAB / 'linkemu.py'), self.robot_ns, self.robot_ip,
             self.server_ns, self.server_ip, str(self.control)],
            stdout=log, stderr=subprocess.STDOUT)
        # The emulator prints its first stats line once both ends are addressed and routed
        # (there is no ping here to ask the link itself; discovery below does).
        deadline = time.monotonic() + 20.0
        while not (self.tmp / 'linkemu.log').read_bytes().strip():
            if time.monotonic() > deadline or self.emulator.poll() is not None:
                pytest.fail('the link emulator did not start:\n'
                            + (self.tmp / 'linkemu.log').read_text(errors='replace'))
            time.sleep(0.05)

    def env(self, peer: str) -> Dict[str, str]:
        """Return a node's environment: this test's domain, localhost plus the peer host."""
        return dict(os.environ, PYTHONUNBUFFERED='1', ROS_DOMAIN_ID=str(self.domain_id),
                    ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST', ROS_STATIC_PEERS=peer)

    def start_node(self, namespace: str, executable: str, parameters: Dict[str, object],
                   peer: str) -> NodeProcess:
        """Start a node executable of the package inside ``namespace``."""
        arguments: List[str] = ['--ros-args']
        for key, value in parameters.items():
            arguments += ['-p', f'{key}:={value}']
        process = NodeProcess(['ip', 'netns', 'exec', namespace] + node_command(executable)
                              + arguments, self.env(peer), self.tmp,
                              f'{executable}_{len(self.processes)}')
        self.processes.append(process)
        return process

    def driver(self, namespace: str, peer: str, results: bool = True) -> Driver:
        """Start an edge_driver inside ``namespace``."""
        driver = Driver(namespace, self.env(peer), self.tmp, f'driver_{len(self.drivers)}',
                        results)
        self.drivers.append(driver)
        return driver

    def down(self) -> None:
        """Stop everything, whatever state it is in; remove the namespaces."""
        for driver in self.drivers:
            driver.close()
        for process in self.processes:
            if process.running:
                with contextlib.suppress(Exception):
                    process.kill()
        if self.emulator is not None and self.emulator.poll() is None:
            self.emulator.terminate()
            try:
                self.emulator.wait(timeout=5.0)
            except subprocess.TimeoutExpired:
                self.emulator.kill()
        for namespace in (self.robot_ns, self.server_ns):
            _run('ip', 'netns', 'del', namespace)


def start_edge_pair(world: TwoHosts, deadline_ms: int, max_command_age_s: float,
                    probe_interval_s: float = 0.3) -> 'Driver':
    """
    Bring the link up; start the server on one host, the robot on the other.

    The robot: battery_node, controller_node with ``edge_offload``, and a driver matched to the
    controller (returned, and kept as ``world.robot``).
    """
    world.up()
    world.start_node(world.server_ns, 'expert_server', {}, world.robot_ip)
    world.start_node(world.robot_ns, 'battery_node', {'rate_hz': 5.0}, world.server_ip)
    world.start_node(world.robot_ns, 'controller_node', {
        'strategy': 'edge_offload', 'edge_offload.deadline_ms': deadline_ms,
        'edge_offload.probe_interval_s': probe_interval_s,
        'max_command_age_s': max_command_age_s}, world.server_ip)
    world.robot = world.driver(world.robot_ns, world.server_ip)
    world.robot.match()
    wait_for_offloading(world.robot)
    return world.robot


def wait_for_offloading(driver: 'Driver', timeout_s: float = STARTUP_TIMEOUT_S) -> None:
    """
    Send warm-up commands, one at a time, until one is answered by the server.

    The driver's match says the robot's topics are discovered, not that the controller's
    service client has discovered the server across the link: under load that takes seconds
    longer, and until then every command is answered on the robot ("no expert server
    matched"). This waits for the observable end of that discovery, never a fixed time.
    """
    deadline = time.monotonic() + timeout_s
    attempt = 0
    while True:
        result = stream(driver, [f'warm-up {attempt}: go to the kitchen'], 0.0)[0]
        if result['executed_on'] not in ('', EXECUTED_ON_ROBOT):
            return
        if time.monotonic() > deadline:
            pytest.fail(f'{driver.name}: no command offloaded within {timeout_s:.0f} s '
                        f'(last: {result["reason"]})')
        attempt += 1
