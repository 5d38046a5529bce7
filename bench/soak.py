"""
Soak: the demo graph under a mixed stream of valid and invalid input for a long time.

Usage: bin/env-run python bench/soak.py [--duration-s 600] [--rate-hz 20] [--out FILE]

``battery_node`` and ``controller_node`` run as their own processes, with the demo graph's
parameters (``graph_description.demo_graph``; the battery drains more slowly, so that a long
run does not sit at an empty battery), on a private ROS domain with localhost discovery. This
process is the stream publisher (in place of the demo's command player) and the results
collector. Each tick it publishes one of: a valid text command (the shipped test split, stops
included), an empty or whitespace text, a text over ``max_text_chars``, bytes that are not
UTF-8, a valid digit image, an invalid image (wrong encoding, step and data disagreeing, zero
size, too many pixels), or an invalid ``BatteryState`` (NaN, negative, above 1, not present).

At the end it waits for the last results, reads the controller's diagnostics, stops both
processes with SIGINT and writes JSON (default ``bench/soak_results.json``): commands sent by
kind; results answered / rejected (by reason) / dropped; commands without a result and
duplicates (both must be 0); the controller's own counts; crashes (a node process that died
before the end, printed a traceback, or did not exit with status 0 within 2 s of SIGINT:
must be 0); each process's resident memory at the start, the end and its peak. Not part of
``make bench`` (ten minutes); the test suite runs it for 15 s.
"""

import argparse
import collections
import datetime
import json
import os
import pathlib
import random
import signal
import subprocess
import sys
import tempfile
import threading
import time
from typing import Dict, List, Optional

import psutil

BENCH_DIR = pathlib.Path(__file__).resolve().parent
DEFAULT_OUT = BENCH_DIR / 'soak_results.json'
NODES = ('battery_node', 'controller_node')
SOAK_BATTERY = {'time_acceleration': 5.0}        # 100 Wh at 20 W idle: empty after an hour
STOP_TIMEOUT_S = 2.0
START_TIMEOUT_S = 120.0
DRAIN_TIMEOUT_S = 60.0
RSS_SAMPLE_S = 5.0
# Share of each kind of input in the stream (weights).
MIX = {
    'text': 60, 'empty_text': 4, 'long_text': 4, 'not_utf8': 4,
    'image': 12, 'bad_image': 8, 'bad_battery': 8,
}


def node_command(executable: str) -> List[str]:
    """Return the command that runs a node executable (installed script, else ``-m``)."""
    try:
        from ament_index_python.packages import get_package_prefix
        script = pathlib.Path(get_package_prefix('adaptive_nlp_ros')) / 'lib' / \
            'adaptive_nlp_ros' / executable
        if os.access(script, os.X_OK):
            return [str(script)]
    except (ImportError, LookupError, ValueError):
        pass
    return [sys.executable, '-m', f'adaptive_nlp_ros.nodes.{executable}']


class NodeProcesses:
    """The graph's node processes, their logs and memory."""

    def __init__(self, parameters_file: pathlib.Path, log_dir: pathlib.Path,
                 env: Dict[str, str]) -> None:
        """Start every node of ``NODES`` with the parameters file."""
        self.log_dir = log_dir
        self.processes: Dict[str, subprocess.Popen] = {}
        self.rss_mb: Dict[str, Dict[str, float]] = {}
        for name in NODES:
            with open(log_dir / f'{name}.stderr', 'wb') as stderr:
                self.processes[name] = subprocess.Popen(
                    node_command(name) + ['--ros-args', '--params-file', str(parameters_file)],
                    env=env, stdout=subprocess.DEVNULL, stderr=stderr,
                    stdin=subprocess.DEVNULL)
            self.rss_mb[name] = {}

    def stderr(self, name: str) -> str:
        """Return what a node wrote to stderr so far."""
        return (self.log_dir / f'{name}.stderr').read_text(errors='replace')

    def sample_rss(self, moment: Optional[str] = None) -> None:
        """Record each live process's resident memory (as ``moment`` and in the peak)."""
        for name, process in self.processes.items():
            try:
                rss = psutil.Process(process.pid).memory_info().rss / 1e6
            except psutil.Error:
                continue
            record = self.rss_mb[name]
            record['peak'] = max(record.get('peak', 0.0), rss)
            if moment is not None:
                record[moment] = rss

    def alive(self) -> Dict[str, bool]:
        """Return which processes still run."""
        return {name: process.poll() is None for name, process in self.processes.items()}

    def stop(self) -> Dict[str, Dict]:
        """SIGINT every process; return each one's status, exit time and traceback flag."""
        outcome = {}
        for name, process in self.processes.items():
            was_alive = process.poll() is None
            started = time.monotonic()
            if was_alive:
                process.send_signal(signal.SIGINT)
            try:
                status = process.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                process.kill()
                status = None
            outcome[name] = {'alive_at_end': was_alive, 'exit_status': status,
                             'exit_s': round(time.monotonic() - started, 3),
                             'traceback': 'Traceback' in self.stderr(name)}
        return outcome


class Stream:
    """The stream publisher and result collector (an rclpy node spun on a thread)."""

    def __init__(self, context, seed: int, max_text_chars: int, max_image_pixels: int) -> None:
        """Create publishers (keep-all, reliable) and a raw keep-all result subscription."""
        import rclpy
        from adaptive_nlp_ros.core.training.dataset import load_dataset
        from adaptive_nlp_ros_msgs.msg import InferenceResult
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import BatteryState, Image
        from std_msgs.msg import String

        import adaptive_nlp_ros
        corpus = pathlib.Path(adaptive_nlp_ros.__file__).resolve().parent / 'data'
        self.texts = load_dataset(corpus / 'test.jsonl').texts
        self.rng = random.Random(seed)
        self.max_text_chars = max_text_chars
        self.max_image_pixels = max_image_pixels
        self.String, self.Image, self.BatteryState = String, Image, BatteryState
        self.node = rclpy.create_node('soak_stream', context=context)
        keep_all = QoSProfile(depth=1000, history=HistoryPolicy.KEEP_ALL,
                              reliability=ReliabilityPolicy.RELIABLE)
        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.text = self.node.create_publisher(String, 'text_command', keep_all)
        self.image = self.node.create_publisher(Image, 'image_command', keep_all)
        self.battery = self.node.create_publisher(BatteryState, 'battery_state', reliable)
        self.lock = threading.Lock()
        self.raw_results: List[bytes] = []
        self.node.create_subscription(InferenceResult, 'inference_result',
                                      self._on_result, keep_all, raw=True)
        self.diagnostics: List[Dict[str, str]] = []
        self.node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics,
                                      reliable)
        self.sent = collections.Counter()
        self.commands = 0
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self.stop = threading.Event()
        self.spinner = threading.Thread(target=self._spin, daemon=True)
        self.spinner.start()

    def _spin(self) -> None:
        while not self.stop.is_set():
            self.executor.spin_once(timeout_sec=0.1)

    def _on_result(self, payload: bytes) -> None:
        with self.lock:
            self.raw_results.append(payload)

    def _on_diagnostics(self, message) -> None:
        for status in message.status:
            if status.name == 'controller_node':
                with self.lock:
                    self.diagnostics.append({pair.key: pair.value for pair in status.values})

    def result_count(self) -> int:
        """Return how many results arrived."""
        with self.lock:
            return len(self.raw_results)

    def ready(self) -> bool:
        """Return True once the controller subscribes to both command topics."""
        return (self.text.get_subscription_count() > 0
                and self.image.get_subscription_count() > 0)

    def publish_one(self) -> str:
        """Publish one input of a kind drawn from ``MIX``; return the kind."""
        kind = self.rng.choices(list(MIX), weights=list(MIX.values()))[0]
        getattr(self, f'_send_{kind}')()
        self.sent[kind] += 1
        if kind != 'bad_battery':
            self.commands += 1
        return kind

    def _send_text(self) -> None:
        self.text.publish(self.String(data=self.rng.choice(self.texts)))

    def _send_empty_text(self) -> None:
        self.text.publish(self.String(data=self.rng.choice(['', ' ', '\t\n '])))

    def _send_long_text(self) -> None:
        self.text.publish(self.String(data='go to the kitchen ' * (self.max_text_chars // 10)))

    def _send_not_utf8(self) -> None:
        raw = b'go \xff\xfe to the ' + bytes([self.rng.randrange(0x80, 0xc0)])
        self.text.publish(b'\x00\x01\x00\x00' + len(raw + b'\x00').to_bytes(4, 'little')
                          + raw + b'\x00')

    def _send_image(self) -> None:
        from adaptive_nlp_ros.core.evaluation.scenario import digit_image
        pixels, _ = digit_image(self.rng.randrange(1797))
        self.image.publish(self.Image(height=8, width=8, encoding='mono8', step=8,
                                      data=pixels.tobytes()))

    def _send_bad_image(self) -> None:
        side = int(self.max_image_pixels ** 0.5) + 1
        height, width, step, size, encoding = self.rng.choice([
            (8, 8, 24, 192, 'rgb8'), (8, 8, 7, 56, 'mono8'), (8, 8, 8, 60, 'mono8'),
            (0, 8, 8, 0, 'mono8'), (side, side, side, 0, 'mono8')])
        self.image.publish(self.Image(height=height, width=width, encoding=encoding, step=step,
                                      data=bytes(size)))

    def _send_bad_battery(self) -> None:
        fraction, present = self.rng.choice([(float('nan'), True), (-0.3, True), (1.7, True),
                                             (0.5, False)])
        message = self.BatteryState(percentage=fraction, present=present)
        message.header.stamp = self.node.get_clock().now().to_msg()
        self.battery.publish(message)

    def results(self) -> List:
        """Return every result, decoded."""
        from adaptive_nlp_ros_msgs.msg import InferenceResult
        from rclpy.serialization import deserialize_message
        with self.lock:
            payloads = list(self.raw_results)
        return [deserialize_message(payload, InferenceResult) for payload in payloads]

    def last_diagnostics(self) -> Dict[str, str]:
        """Return the latest controller_node diagnostic values ({} when none)."""
        with self.lock:
            return dict(self.diagnostics[-1]) if self.diagnostics else {}

    def close(self) -> None:
        """Stop spinning and destroy the node."""
        self.stop.set()
        self.spinner.join(2.0)
        self.executor.shutdown()
        self.node.destroy_node()


def wait_until(condition, timeout_s: float, what: str) -> None:
    """Poll ``condition`` until true; raise TimeoutError naming ``what`` after ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f'timed out after {timeout_s} s waiting for {what}')
        time.sleep(0.05)


def soak(duration_s: float, rate_hz: float, seed: int, log_dir: pathlib.Path) -> Dict:
    """Run the soak; return the report."""
    import rclpy
    from adaptive_nlp_ros.graph_description import (
        BATTERY_NODE, CONTROLLER_NODE, demo_graph, node_parameters, parameters_file_content)
    from rclpy.context import Context

    os.environ.setdefault('ROS_AUTOMATIC_DISCOVERY_RANGE', 'LOCALHOST')
    if not os.environ.get('ROS_DOMAIN_ID'):
        os.environ['ROS_DOMAIN_ID'] = str(random.Random().randrange(150, 230))
    graph = tuple(node for node in demo_graph(battery=SOAK_BATTERY)
                  if node.executable in NODES)
    controller = next(node for node in graph if node.executable == CONTROLLER_NODE)
    controller_values = node_parameters(controller)
    parameters_file = log_dir / 'parameters.yaml'
    parameters_file.write_text(parameters_file_content(graph), encoding='utf-8')

    nodes = NodeProcesses(parameters_file, log_dir, dict(os.environ, PYTHONUNBUFFERED='1'))
    context = Context()
    rclpy.init(context=context)
    stream = None
    died_during: Dict[str, float] = {}
    report: Dict = {'duration_s': duration_s, 'rate_hz': rate_hz, 'seed': seed,
                    'domain_id': int(os.environ['ROS_DOMAIN_ID']),
                    'graph': {node.executable: dict(node.parameters) for node in graph
                              if node.executable in (BATTERY_NODE, CONTROLLER_NODE)}}
    try:
        stream = Stream(context, seed, controller_values['max_text_chars'],
                        controller_values['max_image_pixels'])
        wait_until(stream.ready, START_TIMEOUT_S, 'the controller to subscribe')
        stream.text.publish(stream.String(data='go to the kitchen'))   # warm, then measure
        stream.commands += 1
        stream.sent['text'] += 1
        wait_until(lambda: stream.result_count() >= 1, START_TIMEOUT_S, 'the first result')
        nodes.sample_rss('start')
        started = time.monotonic()
        next_tick = started
        next_sample = started + RSS_SAMPLE_S
        while time.monotonic() - started < duration_s:
            stream.publish_one()
            next_tick += 1.0 / rate_hz
            now = time.monotonic()
            if now >= next_sample:
                nodes.sample_rss()
                next_sample = now + RSS_SAMPLE_S
                for name, alive in nodes.alive().items():
                    if not alive and name not in died_during:
                        died_during[name] = round(now - started, 1)
            if next_tick > now:
                time.sleep(next_tick - now)
        wait_until(lambda: stream.result_count() >= stream.commands or
                   not all(nodes.alive().values()), DRAIN_TIMEOUT_S, 'the last results')
        wait_until(lambda: int(stream.last_diagnostics().get('received', -1)) ==
                   stream.commands or not all(nodes.alive().values()), 5.0,
                   'diagnostics counting every command')
        nodes.sample_rss('end')
        report['controller_diagnostics'] = stream.last_diagnostics()
    finally:
        processes = nodes.stop()
        if stream is not None:
            results = stream.results()
            stream.close()
        else:
            results = []
        context.try_shutdown()

    by_id = collections.Counter(result.request_id for result in results)
    statuses = collections.Counter(result.status for result in results)
    crashes = sum(1 for outcome in processes.values()
                  if not outcome['alive_at_end'] or outcome['traceback']
                  or outcome['exit_status'] != 0)
    for name, outcome in processes.items():
        outcome['rss_mb'] = {key: round(value, 1) for key, value in nodes.rss_mb[name].items()}
        outcome['died_after_s'] = died_during.get(name)
    diagnostics = report.get('controller_diagnostics', {})
    report.update({
        'sent': dict(stream.sent) if stream is not None else {},
        'commands_sent': stream.commands if stream is not None else 0,
        'results': len(results),
        'answered': statuses.get(0, 0), 'rejected': statuses.get(1, 0),
        'dropped': statuses.get(2, 0),
        'rejected_by_reason': {key[len('rejected_'):]: int(value)
                               for key, value in diagnostics.items()
                               if key.startswith('rejected_') and int(value)},
        'missing': max(0, (stream.commands if stream is not None else 0) - len(by_id)),
        'duplicates': sum(count - 1 for count in by_id.values() if count > 1),
        'controller_counts': {key: int(diagnostics[key]) for key in
                              ('received', 'answered', 'rejected', 'dropped')
                              if key in diagnostics},
        'battery_ignored': {key: int(value) for key, value in diagnostics.items()
                            if key.startswith('battery_ignored_')},
        'crashes': crashes,
        'processes': processes,
    })
    controller_rss = processes['controller_node']['rss_mb']
    report['summary_line'] = (
        f'soak {duration_s:.0f} s at {rate_hz:g} inputs/s: {report["commands_sent"]} commands, '
        f'answered {report["answered"]}, rejected {report["rejected"]}, dropped '
        f'{report["dropped"]}, missing {report["missing"]}, crashes {crashes}; controller RSS '
        f'{controller_rss.get("start", float("nan")):.0f} -> '
        f'{controller_rss.get("end", float("nan")):.0f} MB (peak '
        f'{controller_rss.get("peak", float("nan")):.0f})')
    return report


def main() -> int:
    """Run the soak and write its JSON; exit status 1 when something crashed or went missing."""
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('--duration-s', type=float, default=600.0)
    parser.add_argument('--rate-hz', type=float, default=20.0, help='inputs per second')
    parser.add_argument('--seed', type=int, default=5)
    parser.add_argument('--out', default=str(DEFAULT_OUT))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix='soak_') as folder:
        log_dir = pathlib.Path(folder)
        report = soak(args.duration_s, args.rate_hz, args.seed, log_dir)
        report['finished'] = datetime.datetime.now().isoformat(timespec='seconds')
        if report['crashes']:
            report['node_stderr_tail'] = {
                name: (log_dir / f'{name}.stderr').read_text(errors='replace')[-3000:]
                for name in NODES}
    out = pathlib.Path(args.out)
    out.write_text(json.dumps(report, indent=2, sort_keys=True) + '\n')
    print(report['summary_line'])
    print(f'written {out}')
    return 1 if report['crashes'] or report['missing'] or report['duplicates'] else 0


if __name__ == '__main__':
    sys.exit(main())
