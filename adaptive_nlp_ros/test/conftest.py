"""
Shared pytest fixtures for adaptive_nlp_ros tests that use ROS 2.

Isolation: every test that takes the ``ros_domain`` fixture gets its own DDS domain, so tests
(and parallel test runs on one machine) never see each other's nodes:

* ``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST`` (no multicast off this machine);
* ``ROS_DOMAIN_ID`` = a fresh id per test, within 1..101: a base (the ``ROS_DOMAIN_ID`` of the
  environment pytest started in, e.g. ``make test``'s per-checkout id, else derived from the pid)
  plus a per-test counter, wrapped into that range (under pytest-xdist, into the worker's own
  share of it, so tests running at once on two workers never share a domain);
* an rclpy ``Context`` initialised on that domain (``rclpy.init(context=..., domain_id=...)``),
  with a probe node and an executor that the test spins (no background thread), shut down after
  the test.

Node processes: ``ros_domain.start_node('battery_node', parameters={...})`` runs a node
executable of this package in another process on the test's domain (the installed
``lib/adaptive_nlp_ros/<executable>``, else ``python -m adaptive_nlp_ros.nodes.<executable>``),
and ``process.stop()`` ends it with SIGINT, asserting that it exits (within a hang bound)
with status 0 and no traceback. Processes a test leaves running are stopped (and checked) after it.

Tools a test needs that may be absent (the ROS 2 command-line and launch tools, the rosdistro
snapshot): ``require(found, reason)`` skips the test with the reason, or fails it where
``ADAPTIVE_NLP_REQUIRE_TOOLS=1`` (``.ci/run`` sets it: on CI every test must run).
``require_ros2_tools()`` is that check for ``ros2``, ``launch_test`` and launch_ros.

Waiting: never sleep for a fixed time. Wait for discovery (``wait_for_subscribers``,
``wait_for_publishers``) and for messages (``MessageLog.wait_for``) with a deadline; each
spins the test's executor until its condition holds and fails with a message naming what it
waited for.

Example::

    def test_publishes(ros_domain):
        process = ros_domain.start_node('battery_node', parameters={'rate_hz': 10.0})
        log = ros_domain.collect(BatteryState, 'battery_state', 10)
        ros_domain.wait_for_publishers(log.subscription)
        message = log.wait_for(lambda m: m.present, what='a BatteryState')
        process.stop()
"""

import contextlib
from dataclasses import dataclass, field
import importlib.util
import itertools
import math
import os
from pathlib import Path
import shutil
import signal
import subprocess
import sys
import time
from typing import Any, Callable, Dict, Iterator, List, Mapping, Optional, Sequence, Tuple

import pytest

DOMAIN_ID_MIN = 1
DOMAIN_ID_MAX = 101
# Deadlines: discovery on these machines takes 0.6 s to 4 s; two shared cores can add more.
DISCOVERY_TIMEOUT_S = 15.0
MESSAGE_TIMEOUT_S = 10.0
# A hang bound, not a timing claim (bench/bench_controller.py measures the exit time): on two
# shared cores, 2 s was seen to flake while another process loaded both.
STOP_TIMEOUT_S = 10.0
PACKAGE = 'adaptive_nlp_ros'
REQUIRE_TOOLS_VARIABLE = 'ADAPTIVE_NLP_REQUIRE_TOOLS'
ROS2_TOOLS_HINT = ('bin/bootstrap installs them into .venv from ADAPTIVE_NLP_ROS2_TOOLS=DIR, '
                   'which make sets to ../shared/ros2_tools where it exists; see README')


def require(found: Any, reason: str) -> None:
    """Skip the test unless ``found``; fail it instead where every test must run (CI)."""
    if found:
        return
    if os.environ.get(REQUIRE_TOOLS_VARIABLE) == '1':
        pytest.fail(f'{reason} ({REQUIRE_TOOLS_VARIABLE}=1: this test must not skip here)')
    pytest.skip(reason)


def require_ros2_tools() -> None:
    """Skip (or, on CI, fail) the test unless ros2, launch_test and launch_ros are installed."""
    missing = [name for name in ('ros2', 'launch_test') if shutil.which(name) is None]
    missing += [name for name in ('launch_ros', 'launch_testing')
                if importlib.util.find_spec(name) is None]
    require(not missing, f'the ROS 2 tools are not installed ({", ".join(missing)} missing): '
            + ROS2_TOOLS_HINT)


def _domain_base() -> int:
    """Return the first domain id of this session: $ROS_DOMAIN_ID if it is an int, else pid."""
    text = os.environ.get('ROS_DOMAIN_ID', '').strip()
    try:
        return int(text)
    except ValueError:
        return os.getpid()


def _worker_slice() -> Tuple[int, int]:
    """
    Return (index, count) of this pytest-xdist worker; (0, 1) when the suite runs in one process.

    Workers run at the same time, so each gets its own share of the domain range: two tests
    of different workers never share a domain, whatever their counters reach.
    """
    name = os.environ.get('PYTEST_XDIST_WORKER', '')
    count = int(os.environ.get('PYTEST_XDIST_WORKER_COUNT', '1') or 1)
    index = int(name[2:]) if name.startswith('gw') and name[2:].isdigit() else 0
    return index, max(1, count)


_DOMAIN_BASE = _domain_base()
_domain_sequence = itertools.count()


def allocate_domain_id() -> int:
    """Return a domain id within 1..101 that no earlier test of this worker used (mod its span)."""
    index, count = _worker_slice()
    span = (DOMAIN_ID_MAX - DOMAIN_ID_MIN + 1) // count
    offset = (_DOMAIN_BASE - DOMAIN_ID_MIN + next(_domain_sequence)) % span
    return DOMAIN_ID_MIN + index * span + offset


def ros_argument_value(value: Any) -> str:
    """Write a Python value as a ``--ros-args -p name:=value`` value (YAML syntax)."""
    if isinstance(value, bool):
        return 'true' if value else 'false'
    if isinstance(value, float):
        text = repr(value)
        if math.isfinite(value) and '.' not in text:
            # YAML needs a dot to read a float: 1e-05 -> 1.0e-05, 2 -> 2.0
            mantissa, _, exponent = text.partition('e')
            text = mantissa + '.0' + ('e' + exponent if exponent else '')
        return text
    if isinstance(value, (list, tuple)):
        return '[' + ', '.join(ros_argument_value(item) for item in value) + ']'
    return str(value)


def node_command(executable: str, package: str = PACKAGE) -> List[str]:
    """
    Return the command that runs a node executable of ``package``.

    The installed script (``<prefix>/lib/<package>/<executable>``, found through the ament
    index) when there is one, else ``python -m <package>.nodes.<executable>``.
    """
    from ament_index_python.packages import get_package_prefix, PackageNotFoundError
    try:
        script = Path(get_package_prefix(package)) / 'lib' / package / executable
        if os.access(script, os.X_OK):
            return [str(script)]
    except PackageNotFoundError:
        pass
    return [sys.executable, '-m', f'{package}.nodes.{executable}']


class NodeProcess:
    """A node executable running in a subprocess, its output captured in files."""

    def __init__(self, command: Sequence[str], env: Mapping[str, str], log_dir: Path,
                 name: str, group: bool = False, stop_timeout_s: float = STOP_TIMEOUT_S) -> None:
        """
        Start ``command`` with ``env``; stdout and stderr go to ``log_dir/<name>.*``.

        :param group: run it in its own process group, and signal that group (``ros2
            launch`` stops its nodes on SIGINT to its group, as Ctrl-C in a terminal does).
        :param stop_timeout_s: how long ``stop`` waits by default.
        """
        log_dir.mkdir(parents=True, exist_ok=True)
        self.name = name
        self.command = list(command)
        self.group = group
        self.stop_timeout_s = stop_timeout_s
        self.stdout_path = log_dir / f'{name}.stdout'
        self.stderr_path = log_dir / f'{name}.stderr'
        with open(self.stdout_path, 'wb') as stdout, open(self.stderr_path, 'wb') as stderr:
            self.process = subprocess.Popen(self.command, env=dict(env), stdout=stdout,
                                            stderr=stderr, stdin=subprocess.DEVNULL,
                                            start_new_session=group)

    @property
    def stdout(self) -> str:
        """Return what the process wrote to stdout so far."""
        return self.stdout_path.read_text(errors='replace')

    @property
    def stderr(self) -> str:
        """Return what the process wrote to stderr so far (ROS logging goes there)."""
        return self.stderr_path.read_text(errors='replace')

    @property
    def running(self) -> bool:
        """Return True while the process has not exited."""
        return self.process.poll() is None

    def describe(self) -> str:
        """Return the command, status and output, for assertion messages."""
        return (f'{self.name}: {" ".join(self.command)}\nreturncode: {self.process.poll()}\n'
                f'--- stderr ---\n{self.stderr[-4000:]}\n--- stdout ---\n{self.stdout[-2000:]}')

    def wait_exit(self, timeout_s: float = MESSAGE_TIMEOUT_S) -> int:
        """Wait for the process to end by itself; return its status (fails on timeout)."""
        try:
            return self.process.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f'{self.name} did not exit within {timeout_s} s\n{self.describe()}')

    def send_signal(self, signal_number: int) -> None:
        """Signal the process (its whole group when it has one)."""
        if self.group:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal_number)
        else:
            self.process.send_signal(signal_number)

    def kill(self) -> None:
        """End the process (and its group) hard; used only after a failed stop."""
        if self.group:
            self.send_signal(signal.SIGKILL)
        if self.running:
            self.process.kill()
        self.process.wait()

    def stop(self, timeout_s: Optional[float] = None,
             signal_number: int = signal.SIGINT) -> None:
        """
        Send SIGINT (Ctrl-C, or ``signal_number``) and assert a clean end.

        Clean: exits within ``timeout_s`` (default: ``stop_timeout_s``), status 0, and no
        traceback on stderr.
        """
        timeout_s = self.stop_timeout_s if timeout_s is None else timeout_s
        if self.running:
            self.send_signal(signal_number)
            try:
                self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.kill()
                pytest.fail(f'{self.name} ignored {signal.Signals(signal_number).name} for '
                            f'{timeout_s} s\n{self.describe()}')
        assert self.process.returncode == 0, \
            f'{self.name} exited with {self.process.returncode}\n{self.describe()}'
        assert 'Traceback' not in self.stderr, f'{self.name} printed a traceback\n' \
            f'{self.describe()}'


# -- Fast DDS shared memory -------------------------------------------------------------------

SHM_DIR = Path('/dev/shm')
# Segments (fastdds_<id>), port files (fastdds_port<n>) and their _el files. Named semaphores
# (sem.fastdds_port<n>_mutex) belong to a port and are only mapped while in use: not counted.
SHM_PREFIXES = ('fastdds_', 'fastrtps_')


def _shm_paths_in(pid: int) -> List[str]:
    """Return the /dev/shm files a process maps or holds open (empty once it is gone)."""
    paths = []
    try:
        with open(f'/proc/{pid}/maps') as stream:
            paths += [line.split(maxsplit=5)[5].strip() for line in stream
                      if len(line.split(maxsplit=5)) == 6]
    except OSError:
        return []
    try:
        for entry in os.listdir(f'/proc/{pid}/fd'):
            try:
                paths.append(os.readlink(f'/proc/{pid}/fd/{entry}'))
            except OSError:
                continue
    except OSError:
        pass
    return [path for path in paths if path.startswith(f'{SHM_DIR}/')]


def fastdds_shm_files() -> set:
    """Return the Fast DDS files in /dev/shm now (take it before starting a process)."""
    try:
        return {str(SHM_DIR / name) for name in os.listdir(SHM_DIR)
                if name.startswith(SHM_PREFIXES)}
    except OSError:
        return set()


def fastdds_shm_files_of(pid: int) -> set:
    """Return the Fast DDS files in /dev/shm that process ``pid`` maps or holds open."""
    return {path for path in _shm_paths_in(pid)
            if Path(path).name.startswith(SHM_PREFIXES)}


def stale_shm_files(candidates: set, settle_s: float = 2.0) -> List[str]:
    """
    Return those of ``candidates`` that still exist and no live process uses: left behind.

    Fast DDS shares its port files between the processes of a domain, so a file one process
    used may rightly outlive it while another process still maps it. Pass as candidates the
    files a process used less those that existed before it started (``fastdds_shm_files``):
    those were someone else's. A port's lock file (``_el``) is opened only for a moment by the
    participant that cleans it up, so one look can catch it unused just before it goes (seen
    once in a suite run): a file is left behind only if it still is after ``settle_s``.
    """
    deadline = time.monotonic() + settle_s
    while True:
        remaining = {path for path in candidates if os.path.exists(path)}
        if not remaining:
            return []
        in_use = set()
        for entry in os.listdir('/proc'):
            if entry.isdigit():
                in_use.update(_shm_paths_in(int(entry)))
        stale = sorted(remaining - in_use)
        if not stale or time.monotonic() >= deadline:
            return stale
        time.sleep(0.1)


@dataclass
class MessageLog:
    """Every message one subscription of the test received, in order."""

    domain: 'RosTestDomain'
    subscription: Any = None
    messages: List[Any] = field(default_factory=list)

    def __len__(self) -> int:
        """Return the number of messages received so far."""
        return len(self.messages)

    def wait_for(self, predicate: Optional[Callable[[Any], bool]] = None,
                 timeout_s: float = MESSAGE_TIMEOUT_S, after: int = 0,
                 what: str = 'a message') -> Any:
        """
        Spin until a message at index >= ``after`` satisfies ``predicate``; return it.

        :param after: ignore messages received before this index (``len(log)`` = from now on).
        """
        def found() -> Optional[Any]:
            for message in self.messages[after:]:
                if predicate is None or predicate(message):
                    return message
            return None
        self.domain.spin_until(lambda: found() is not None, timeout_s, what)
        return found()


class RosTestDomain:
    """One test's ROS world: its domain id, environment, context, probe node and executor."""

    def __init__(self, domain_id: int, env: Dict[str, str], log_dir: Path) -> None:
        """Initialise an rclpy context on ``domain_id`` with a probe node and an executor."""
        import rclpy
        from rclpy.context import Context
        from rclpy.executors import SingleThreadedExecutor
        self.domain_id = domain_id
        self.env = env
        self.log_dir = log_dir
        self.context = Context()
        rclpy.init(context=self.context, domain_id=domain_id)
        self.node = rclpy.create_node(f'test_probe_{os.getpid()}', context=self.context)
        self.executor = SingleThreadedExecutor(context=self.context)
        self.executor.add_node(self.node)
        self.processes: List[NodeProcess] = []

    def spin_until(self, condition: Callable[[], bool], timeout_s: float,
                   what: str = 'the condition') -> None:
        """Spin the executor until ``condition()`` is true; fail after ``timeout_s``."""
        deadline = time.monotonic() + timeout_s
        while not condition():
            if time.monotonic() > deadline:
                running = ''.join(f'\n{process.describe()}' for process in self.processes)
                pytest.fail(f'timed out after {timeout_s} s waiting for {what} '
                            f'(domain {self.domain_id}){running}')
            self.executor.spin_once(timeout_sec=0.05)

    def wait_for_subscribers(self, publisher: Any, count: int = 1,
                             timeout_s: float = DISCOVERY_TIMEOUT_S) -> None:
        """Wait until ``publisher`` has matched ``count`` subscriptions (discovery)."""
        self.spin_until(lambda: publisher.get_subscription_count() >= count, timeout_s,
                        f'{count} subscriber(s) on {publisher.topic_name}')

    def wait_for_publishers(self, subscription: Any, count: int = 1,
                            timeout_s: float = DISCOVERY_TIMEOUT_S) -> None:
        """Wait until ``subscription`` has matched ``count`` publishers (discovery)."""
        self.spin_until(lambda: subscription.get_publisher_count() >= count, timeout_s,
                        f'{count} publisher(s) on {subscription.topic_name}')

    def collect(self, message_type: Any, topic: str, qos: Any = 10) -> MessageLog:
        """Subscribe the probe node to ``topic`` and keep every message in a ``MessageLog``."""
        log = MessageLog(self)
        log.subscription = self.node.create_subscription(
            message_type, topic, log.messages.append, qos)
        return log

    def call_service(self, client: Any, request: Any,
                     timeout_s: float = DISCOVERY_TIMEOUT_S) -> Any:
        """Wait for the service, call it and return the response (fails on timeout)."""
        self.spin_until(client.service_is_ready, timeout_s,
                        f'service {client.service_name}')
        future = client.call_async(request)
        self.spin_until(future.done, timeout_s, f'a response from {client.service_name}')
        return future.result()

    def start_node(self, executable: str, parameters: Optional[Mapping[str, Any]] = None,
                   extra_ros_args: Sequence[str] = (), package: str = PACKAGE) -> NodeProcess:
        """
        Start a node executable of ``package`` in a subprocess on this test's domain.

        :param parameters: ``{name: value}`` given as ``--ros-args -p name:=value``.
        :param extra_ros_args: more arguments after ``--ros-args`` (e.g. a params file).
        """
        ros_args: List[str] = []
        for name, value in (parameters or {}).items():
            ros_args += ['-p', f'{name}:={ros_argument_value(value)}']
        ros_args += list(extra_ros_args)
        command = node_command(executable, package) + (['--ros-args'] + ros_args
                                                       if ros_args else [])
        name = f'{executable}_{len(self.processes)}'
        process = NodeProcess(command, self.env, self.log_dir, name)
        self.processes.append(process)
        return process

    def close(self) -> None:
        """Shut down in order: executor, probe node, context."""
        self.executor.shutdown()
        self.node.destroy_node()
        self.context.try_shutdown()


@contextlib.contextmanager
def _private_domain(monkeypatch: pytest.MonkeyPatch, log_dir: Path) -> Iterator[RosTestDomain]:
    """Open a fresh domain (environment set through ``monkeypatch``); stop its nodes after."""
    domain_id = allocate_domain_id()
    monkeypatch.setenv('ROS_DOMAIN_ID', str(domain_id))
    monkeypatch.setenv('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    domain = RosTestDomain(domain_id, env, log_dir)
    try:
        yield domain
    finally:
        try:
            for process in domain.processes:
                if process.running:
                    process.stop()
        finally:
            for process in domain.processes:
                process.kill()
            domain.close()


@pytest.fixture
def ros_domain(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[RosTestDomain]:
    """
    Give the test its own ROS domain, an initialised context, and node-process helpers.

    Sets ``ROS_DOMAIN_ID`` and ``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST`` in this process's
    environment for the test's duration (subprocesses inherit them). Afterwards stops (and
    checks) every node process the test left running, then shuts the context down.
    """
    with _private_domain(monkeypatch, tmp_path / 'node_logs') as domain:
        yield domain


# -- trained artifacts (built by `make test` before the suite runs) --------------------------

@pytest.fixture(scope='session')
def artifacts_dir() -> Path:
    """Return the trained artifacts folder; fails (never skips) with the command that builds it."""
    from adaptive_nlp_ros.core.artifacts import ArtifactError, default_artifacts_dir, read_manifest

    directory = default_artifacts_dir()
    try:
        read_manifest(directory)
    except ArtifactError as error:
        pytest.fail(f'{error} (make test builds them first)')
    return directory


@pytest.fixture(scope='session')
def text_engine(artifacts_dir):
    """Return the text engine over the default artifacts, loaded once per session (1 thread)."""
    from adaptive_nlp_ros.core.inference.engine import load_text_engine

    return load_text_engine(artifacts_dir, threads=1)


@pytest.fixture(scope='session')
def corpus_dir() -> Path:
    """Return the shipped corpus folder."""
    import adaptive_nlp_ros

    return Path(adaptive_nlp_ros.__file__).resolve().parent / 'data'


@pytest.fixture(scope='session')
def test_split(corpus_dir):
    """The shipped test split (generated held-out plus hand-written commands)."""
    from adaptive_nlp_ros.core.training.dataset import load_dataset

    return load_dataset(corpus_dir / 'test.jsonl')


@pytest.fixture(scope='module')
def module_ros_domain(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RosTestDomain]:
    """
    Give a whole test module one ROS domain, like ``ros_domain`` but module-scoped.

    For modules that start an expensive node once (the controller loads its models in seconds)
    and let every test talk to it; tests must then leave the node as they found it.
    """
    with pytest.MonkeyPatch.context() as monkeypatch, _private_domain(
            monkeypatch, tmp_path_factory.mktemp('module_node_logs')) as domain:
        yield domain
