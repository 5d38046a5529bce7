"""
A burst of 2,000 text commands published at once: answered per second, one at a time vs batched.

The controller runs as its own process (the installed ``controller_node``, default parameters but
``strategy: early_exit`` and ``max_batch``) on a private ROS domain with localhost discovery;
this process publishes a fresh battery, warms the controller up, then publishes ``BURST`` text
commands from the test split as fast as it can (reliable, keep-all) and collects every result
(raw, keep-all). Once per configuration: ``max_batch`` 1 (one command at a time, as before
micro-batching) and the shipped default, each on a fresh controller, in one run.

Figures per configuration: results by status, the controller's rejection and drop counters
(by code, from ``/diagnostics``), commands without a result and duplicates (both must be 0),
answered per second (answered commands / seconds from the first command published to the last
result), and the controller's mean batch. Target (issue 15): answered per second with the
default ``max_batch`` >= 2x that of ``max_batch`` 1, every command answered, rejected or
dropped with its reason.

Usage: ``bin/env-run python bench/bench_burst.py [--repeats N]`` (writes bench/BURST.md and
bench/burst_results.json; ``make bench`` runs it too).
"""

import argparse
import collections
import math
import os
import pathlib
import random
import statistics
import subprocess
import sys
import threading
import time
from typing import Dict, List, Optional

BENCH_DIR = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))

from adaptive_nlp_ros.core.controller.controller_parameters import (  # noqa: E402
    CONTROLLER_PARAMETERS)
from common import percentile, write_section  # noqa: E402
from soak import node_command  # noqa: E402

BURST = 2000
WARM_UP = 20
START_TIMEOUT_S = 120.0
DRAIN_TIMEOUT_S = 180.0
STOP_TIMEOUT_S = 10.0
TARGET_RATIO = 2.0
DEFAULT_MAX_BATCH = next(spec.default for spec in CONTROLLER_PARAMETERS
                         if spec.name == 'max_batch')
COUNTERS = ('received', 'answered', 'rejected', 'dropped', 'batches', 'batched_commands',
            'batch_failures')


class _Burst:
    """The bench's node: battery, commands (keep-all), raw results, diagnostics."""

    def __init__(self, context) -> None:
        import rclpy
        from adaptive_nlp_ros_msgs.msg import InferenceResult
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.executors import SingleThreadedExecutor
        from rclpy.qos import HistoryPolicy, QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import BatteryState
        from std_msgs.msg import String

        self.String, self.BatteryState = String, BatteryState
        self.node = rclpy.create_node('burst_bench', context=context)
        keep_all = QoSProfile(depth=1000, history=HistoryPolicy.KEEP_ALL,
                              reliability=ReliabilityPolicy.RELIABLE)
        self.commands = self.node.create_publisher(String, 'text_command', keep_all)
        self.battery = self.node.create_publisher(
            BatteryState, 'battery_state', QoSProfile(depth=10,
                                                      reliability=ReliabilityPolicy.RELIABLE))
        self.lock = threading.Lock()
        self.arrivals: List[float] = []
        self.payloads: List[bytes] = []
        self.diagnostics: Dict[str, str] = {}
        self.node.create_subscription(InferenceResult, 'inference_result', self._on_result,
                                      keep_all, raw=True)
        self.node.create_subscription(DiagnosticArray, '/diagnostics', self._on_diagnostics,
                                      QoSProfile(depth=10,
                                                 reliability=ReliabilityPolicy.RELIABLE))
        self.node.create_timer(0.2, self._publish_battery)
        self.executor = SingleThreadedExecutor(context=context)
        self.executor.add_node(self.node)
        self.stopping = threading.Event()
        self.spinner = threading.Thread(target=self._spin, daemon=True)
        self.spinner.start()

    def _spin(self) -> None:
        while not self.stopping.is_set():
            self.executor.spin_once(timeout_sec=0.1)

    def _publish_battery(self) -> None:
        message = self.BatteryState(percentage=0.9, present=True)
        message.voltage = float('nan')
        message.header.stamp = self.node.get_clock().now().to_msg()
        self.battery.publish(message)

    def _on_result(self, payload: bytes) -> None:
        arrived = time.perf_counter()
        with self.lock:
            self.arrivals.append(arrived)
            self.payloads.append(payload)

    def _on_diagnostics(self, message) -> None:
        for status in message.status:
            if status.name == 'controller_node':
                with self.lock:
                    self.diagnostics = {pair.key: pair.value for pair in status.values}

    def count(self) -> int:
        """Return the results so far."""
        with self.lock:
            return len(self.payloads)

    def counter(self, key: str) -> int:
        """Return one counter of the latest controller diagnostics (-1: none yet)."""
        with self.lock:
            return int(self.diagnostics.get(key, -1))

    def close(self) -> None:
        """Stop spinning and destroy the node."""
        self.stopping.set()
        self.spinner.join(2.0)
        self.executor.shutdown()
        self.node.destroy_node()


def _wait(condition, timeout_s: float, what: str, process: subprocess.Popen) -> None:
    """Poll ``condition``; raise naming ``what`` on timeout or when the controller exited."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if process.poll() is not None:
            raise RuntimeError(f'controller_node exited ({process.returncode}) while waiting '
                               f'for {what}')
        if time.monotonic() > deadline:
            raise TimeoutError(f'timed out after {timeout_s} s waiting for {what}')
        time.sleep(0.02)


def burst(max_batch: int, texts: List[str], warm: List[str], domain_id: int,
          log_dir: pathlib.Path) -> Dict[str, object]:
    """Start a controller with ``max_batch``, warm it with ``warm``, publish ``texts`` at once."""
    import rclpy
    from adaptive_nlp_ros_msgs.msg import InferenceResult
    from rclpy.context import Context
    from rclpy.serialization import deserialize_message

    env = dict(os.environ, ROS_DOMAIN_ID=str(domain_id),
               ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST', PYTHONUNBUFFERED='1')
    stderr_path = log_dir / f'controller_{max_batch}.stderr'
    context = Context()
    rclpy.init(context=context, domain_id=domain_id)
    client = _Burst(context)
    with open(stderr_path, 'wb') as stderr:
        process = subprocess.Popen(
            node_command('controller_node') + ['--ros-args', '-p', 'strategy:=early_exit',
                                               '-p', f'max_batch:={max_batch}'],
            env=env, stdout=subprocess.DEVNULL, stderr=stderr, stdin=subprocess.DEVNULL)
    exit_status: Optional[int] = None
    try:
        _wait(lambda: client.commands.get_subscription_count() > 0, START_TIMEOUT_S,
              'the controller to subscribe', process)
        for text in ['stop'] + warm:
            before = client.count()
            client.commands.publish(client.String(data=text))
            _wait(lambda: client.count() > before, START_TIMEOUT_S, 'a warm-up result',
                  process)
        before = client.count()
        sent = len(texts)
        messages = [client.String(data=text) for text in texts]
        first_sent = time.perf_counter()
        for message in messages:
            client.commands.publish(message)
        published_s = time.perf_counter() - first_sent
        _wait(lambda: client.count() >= before + sent, DRAIN_TIMEOUT_S, 'every result',
              process)
        total = before + sent
        _wait(lambda: client.counter('received') >= total and client.counter('answered')
              + client.counter('rejected') + client.counter('dropped') >= total, 10.0,
              'diagnostics counting every result', process)
        with client.lock:
            arrivals = client.arrivals[before:]
            payloads = client.payloads[before:]
            diagnostics = dict(client.diagnostics)
    finally:
        process.send_signal(2)
        try:
            exit_status = process.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            process.kill()
        client.close()
        context.try_shutdown()
    results = [deserialize_message(payload, InferenceResult) for payload in payloads]
    statuses = collections.Counter(result.status for result in results)
    ids = collections.Counter(result.request_id for result in results)
    seconds = max(arrivals) - first_sent
    unanswered = [arrived for arrived, result in zip(arrivals, results) if result.status]
    receipt_s = (max(unanswered) - first_sent) if unanswered else 0.0
    figures: Dict[str, object] = {
        'max_batch': max_batch, 'sent': sent, 'published_s': round(published_s, 3),
        'results': len(results), 'answered': statuses.get(0, 0),
        'rejected': statuses.get(1, 0), 'dropped': statuses.get(2, 0),
        'without_reason': sum(1 for result in results if result.status and not result.reason),
        'duplicates': sum(count - 1 for count in ids.values() if count > 1),
        'missing': max(0, sent - len(ids)),
        'seconds': round(seconds, 3),
        'answered_per_s': round(statuses.get(0, 0) / seconds, 1),
        'last_unanswered_s': round(receipt_s, 3),
        'answered_by_then': sum(1 for arrived, result in zip(arrivals, results)
                                if result.status == 0 and arrived - first_sent <= receipt_s),
        'rejected_by_code': {key[len('rejected_'):]: int(value)
                             for key, value in diagnostics.items()
                             if key.startswith('rejected_') and int(value)},
        'dropped_by_code': {key[len('dropped_'):]: int(value)
                            for key, value in diagnostics.items()
                            if key.startswith('dropped_') and int(value)},
        'controller': {key: int(diagnostics[key]) for key in COUNTERS if key in diagnostics},
        'mean_batch': float(diagnostics.get('mean_batch', 'nan')),
        'answered_latency_ms': _latency([result for result in results if result.status == 0]),
        'stop_latency_ms': _latency([result for result in results
                                     if result.status == 0 and result.label == 'stop']),
        'exit_status': exit_status,
        'traceback': 'Traceback' in stderr_path.read_text(errors='replace'),
    }
    return figures


def _latency(results) -> Dict[str, float]:
    """Return the p50 / p95 / max controller-reported latency (receipt to result) in ms."""
    latencies = [float(result.latency_ms) for result in results]
    return {'n': len(latencies), 'p50': round(percentile(latencies, 0.5), 1),
            'p95': round(percentile(latencies, 0.95), 1),
            'max': round(max(latencies, default=math.nan), 1)}


def run(repeats: int = 1) -> Dict[str, object]:
    """Run the burst with ``max_batch`` 1 and the default, ``repeats`` times interleaved."""
    import tempfile

    import adaptive_nlp_ros
    from adaptive_nlp_ros.core.training.dataset import load_dataset

    corpus = pathlib.Path(adaptive_nlp_ros.__file__).resolve().parent / 'data'
    pool = list(load_dataset(corpus / 'test.jsonl').texts)
    rng = random.Random(15)
    texts = [rng.choice(pool) for _ in range(BURST + WARM_UP)]
    warm, stream = texts[BURST:], texts[:BURST]
    domain_id = random.Random(os.getpid()).randint(120, 200)
    runs: List[Dict[str, object]] = []
    with tempfile.TemporaryDirectory(prefix='bench_burst_') as tmp:
        for _ in range(repeats):
            for max_batch in (1, DEFAULT_MAX_BATCH):
                runs.append(burst(max_batch, stream, warm, domain_id, pathlib.Path(tmp)))
    rates = {max_batch: statistics.median(figures['answered_per_s'] for figures in runs
                                          if figures['max_batch'] == max_batch)
             for max_batch in (1, DEFAULT_MAX_BATCH)}
    return {'burst': BURST, 'domain_id': domain_id, 'repeats': repeats, 'runs': runs,
            'default_max_batch': DEFAULT_MAX_BATCH,
            'answered_per_s_median': {str(key): value for key, value in rates.items()},
            'ratio': round(rates[DEFAULT_MAX_BATCH] / rates[1], 2)}


def _accounted(figures: Dict[str, object]) -> bool:
    """Return True when every command got exactly one result, with a reason unless answered."""
    return (figures['results'] == figures['sent'] and figures['missing'] == 0
            and figures['duplicates'] == 0 and figures['without_reason'] == 0)


def markdown(figures: Dict[str, object]) -> str:
    """Return the BURST.md section."""
    rows = []
    for run_figures in figures['runs']:
        answered, stops = run_figures['answered_latency_ms'], run_figures['stop_latency_ms']
        codes = ', '.join(f'{code} {count}' for code, count in
                          sorted({**run_figures['rejected_by_code'],
                                  **run_figures['dropped_by_code']}.items())) or '-'
        rows.append(
            f'| {run_figures["max_batch"]} | {run_figures["sent"]} | {run_figures["results"]} | '
            f'{run_figures["answered"]} | {run_figures["rejected"]} | {run_figures["dropped"]} '
            f'| {codes} | {run_figures["missing"]} / {run_figures["duplicates"]} | '
            f'{run_figures["seconds"]:.2f} | {run_figures["answered_per_s"]:.0f} | '
            f'{run_figures["mean_batch"]:.1f} | {answered["p50"]:.0f} / {answered["p95"]:.0f} | '
            f'{stops["p50"]:.0f} / {stops["p95"]:.0f} ({stops["n"]}) |')
    default = figures['default_max_batch']
    ratio = figures['ratio']
    medians = figures['answered_per_s_median']
    accounted = all(_accounted(run_figures) for run_figures in figures['runs'])
    met = ratio >= TARGET_RATIO and accounted
    return '\n'.join([
        '## A burst of commands',
        '',
        f'{figures["burst"]} text commands from the test split published at once to a '
        '`controller_node` (early_exit, default `queue_size`, battery 0.9), on a fresh '
        'controller per row; answered per second = answered commands / seconds from the first '
        'command published to the last result. `max_batch` 1 answers one command at a time '
        f'(as before micro-batching); {default} (the default) answers up to {default} queued '
        "text commands as one batch. Reasons are the controller's counters; on this "
        "machine's two shared cores.",
        '',
        '| max_batch | sent | results | answered | rejected | dropped | by code | '
        'missing / duplicates | seconds | answered/s | mean batch | answered p50 / p95 ms | '
        'answered stop p50 / p95 ms (n) |',
        '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
        *rows,
        '',
        '| target | measured | met |',
        '|---|---|---|',
        f'| burst of {figures["burst"]}: answered per second >= {TARGET_RATIO:g}x one at a '
        f'time, every command answered or dropped with its reason | {ratio:.2f}x (medians '
        f'{medians["1"]:.0f} -> {medians[str(default)]:.0f}/s); '
        f'{"every command accounted for" if accounted else "commands unaccounted for"} | '
        f'{"met" if met else "not met"} |',
    ]) + '\n'


def write_page(figures: Dict[str, object]) -> str:
    """Write bench/BURST.md and bench/burst_results.json; return the page."""
    return write_section('burst', 'Burst benchmark', figures, markdown(figures))


def main() -> int:
    """Run and write bench/BURST.md and bench/burst_results.json."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--repeats', type=int, default=1,
                        help='bursts per configuration, interleaved (medians are compared)')
    args = parser.parse_args()
    figures = run(args.repeats)
    print(write_page(figures))
    return 0


if __name__ == '__main__':
    sys.exit(main())
