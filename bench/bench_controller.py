"""
The controller on the real ROS 2 middleware (loopback).

Start-up time, memory, end-to-end latency against the bare engine, and a sustained
100 commands/s load.

The controller runs as its own process (the installed ``controller_node`` executable) on a
private ROS domain with localhost discovery; this process publishes commands and a fresh
battery and subscribes to the results.
"""

import os
import pathlib
import random
import statistics
import subprocess
import threading
import time
from typing import Dict, List, Sequence

import psutil

REPOSITORY = pathlib.Path(__file__).resolve().parent.parent
EXECUTABLE = REPOSITORY / 'install' / 'adaptive_nlp_ros' / 'lib' / 'adaptive_nlp_ros' / \
    'controller_node'


class _Client:
    """The bench's node: publishes commands and battery, collects results."""

    def __init__(self, rclpy, context):
        from adaptive_nlp_ros_msgs.msg import InferenceResult
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import BatteryState
        from std_msgs.msg import String

        self.rclpy = rclpy
        self.node = rclpy.create_node('controller_bench', context=context)
        reliable = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE)
        self.commands = self.node.create_publisher(String, 'text_command', reliable)
        self.battery = self.node.create_publisher(BatteryState, 'battery_state', 10)
        self.results: List = []
        self.lock = threading.Lock()
        self.arrived = threading.Condition(self.lock)
        self.node.create_subscription(InferenceResult, 'inference_result', self._on_result,
                                      QoSProfile(depth=1000,
                                                 reliability=ReliabilityPolicy.RELIABLE))
        self.String = String
        self.BatteryState = BatteryState
        self.node.create_timer(0.2, self._publish_battery)

    def _publish_battery(self):
        message = self.BatteryState()
        message.header.stamp = self.node.get_clock().now().to_msg()
        message.percentage = 0.9
        message.present = True
        message.voltage = float('nan')
        self.battery.publish(message)

    def _on_result(self, message):
        with self.arrived:
            self.results.append((time.perf_counter(), message))
            self.arrived.notify_all()

    def send(self, text: str) -> float:
        """Publish a command; return the send time."""
        message = self.String()
        message.data = text
        sent = time.perf_counter()
        self.commands.publish(message)
        return sent

    def wait_results(self, count: int, timeout_s: float) -> bool:
        """Wait until ``count`` results arrived in total."""
        deadline = time.perf_counter() + timeout_s
        with self.arrived:
            while len(self.results) < count:
                remaining = deadline - time.perf_counter()
                if remaining <= 0:
                    return False
                self.arrived.wait(remaining)
        return True


def run(engine, texts: Sequence[str], sequential: int = 300, rate_hz: float = 100.0,
        duration_s: float = 30.0) -> Dict[str, object]:
    """Run every controller measurement; returns the figures."""
    import rclpy
    from rclpy.executors import SingleThreadedExecutor

    domain_id = random.Random(os.getpid()).randint(120, 200)
    env = dict(os.environ, ROS_DOMAIN_ID=str(domain_id),
               ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST', PYTHONUNBUFFERED='1')
    os.environ.update(ROS_DOMAIN_ID=str(domain_id), ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST')
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=domain_id)
    client = _Client(rclpy, context)
    executor = SingleThreadedExecutor(context=context)
    executor.add_node(client.node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    started = time.perf_counter()
    # Default parameters but the strategy: the sustained run uses the shipped queue_size.
    process = subprocess.Popen([str(EXECUTABLE), '--ros-args', '-p', 'strategy:=early_exit'],
                               env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    figures: Dict[str, object] = {'strategy': 'early_exit', 'domain_id': domain_id}
    try:
        while client.commands.get_subscription_count() == 0:
            if process.poll() is not None:
                raise RuntimeError('controller_node exited: '
                                   + process.stderr.read().decode()[-2000:])
            time.sleep(0.02)
        client.send('stop')
        if not client.wait_results(1, 60.0):
            raise RuntimeError('controller_node did not answer within 60 s')
        figures['ready_s'] = time.perf_counter() - started
        controller = psutil.Process(process.pid)
        figures['rss_ready_mb'] = controller.memory_info().rss / 2 ** 20
        # End-to-end latency, one command at a time, against the bare engine in-process.
        strategy = engine.strategy('early_exit')
        resources = engine.resources(battery_fraction=0.9)
        sample = list(texts[:sequential])
        end_to_end, inside, bare = [], [], []
        for text in sample:
            before = len(client.results)
            sent = client.send(text)
            if not client.wait_results(before + 1, 10.0):
                raise RuntimeError('a result did not arrive within 10 s')
            arrived, message = client.results[before]
            end_to_end.append((arrived - sent) * 1e3)
            inside.append(message.latency_ms)
            engine.clear_caches()        # the controller saw this text once; so does this
            start = time.perf_counter()
            engine.infer(text, strategy, resources)
            bare.append((time.perf_counter() - start) * 1e3)
        figures['end_to_end_ms'] = {'median': statistics.median(end_to_end),
                                    'p95': sorted(end_to_end)[int(0.95 * len(end_to_end))]}
        figures['controller_reported_ms'] = {'median': statistics.median(inside)}
        figures['bare_engine_ms'] = {'median': statistics.median(bare)}
        figures['end_to_end_minus_engine_ms'] = (statistics.median(end_to_end)
                                                 - statistics.median(bare))
        # Sustained load.
        before = len(client.results)
        samples = []
        total = int(rate_hz * duration_s)
        period = 1.0 / rate_hz
        begin = time.perf_counter()
        next_sample = begin
        for index in range(total):
            target = begin + index * period
            while True:
                now = time.perf_counter()
                if now >= target:
                    break
                time.sleep(min(period, target - now))
            client.send(texts[index % len(texts)])
            if now >= next_sample:
                samples.append((now - begin, controller.memory_info().rss / 2 ** 20))
                next_sample += 1.0
        sent_for_s = time.perf_counter() - begin
        client.wait_results(before + total, 60.0)
        received = client.results[before:]
        statuses = [message.status for _, message in received]
        figures['sustained'] = {
            'rate_hz': rate_hz, 'duration_s': duration_s, 'sent': total,
            'sending_took_s': sent_for_s, 'results': len(received),
            'answered': statuses.count(0), 'rejected': statuses.count(1),
            'dropped': statuses.count(2),
            'rss_mb_start': samples[0][1] if samples else None,
            'rss_mb_end': samples[-1][1] if samples else None,
            'rss_mb_max': max(rss for _, rss in samples) if samples else None,
            'rss_samples': samples,
            'controller_latency_ms_p95': sorted(m.latency_ms for _, m in received)[
                int(0.95 * max(1, len(received))) - 1] if received else None,
        }
        figures['rss_end_mb'] = controller.memory_info().rss / 2 ** 20
    finally:
        signalled = time.perf_counter()
        process.send_signal(2)
        try:
            figures['exit_status'] = process.wait(timeout=10)
            figures['sigint_to_exit_s'] = time.perf_counter() - signalled
        except subprocess.TimeoutExpired:
            process.kill()
        executor.shutdown()
        spinner.join(timeout=5)
        client.node.destroy_node()
        rclpy.shutdown(context=context)
    return figures
