"""
A fleet on one expert server: 1, 2, 4 and 8 robot controllers, with and without server batching.

The server is the installed ``expert_server`` executable in its own process, in namespace
``/edge``; the robots are ``controller_node`` instances (``edge_offload``, service
``/edge/understand``) in this process, each in its own namespace (``/robot1`` ...), sharing one
loaded copy of the models, each fed a full battery. Everything runs on this machine's two cores
over loopback DDS (a private domain, localhost discovery), so the server and the robots'
local answers compete for the same CPU: on a real site the server is another machine.

Per fleet size and server setting (``max_batch`` 16, then 1): a steady phase (each robot
``STEADY_HZ`` commands per second for ``STEADY_S``) and a burst (``BURST`` commands per robot
published at once). Figures: answered per second (first command published to last result),
p50 / p95 of the controller-reported latency, the share answered by the server, and the robot's
energy per command (an estimate: profiled CPU time for local answers, the radio model of
``core/offload/radio_energy.py`` for offloaded ones). And the server alone, in closed loop
(each client keeps one request outstanding), ``max_batch`` 16 and 1 interleaved on one server.

Also the radio against local energy per command at each battery level (the break-even payload
and battery), from the controller's own decision rule, without ROS.

Usage: bin/env-run python bench/bench_fleet.py [--quick]   (writes bench/FLEET.md and
bench/fleet_results.json; ``make bench`` runs it too)
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
from typing import Dict, List

from common import percentile, write_section

REPOSITORY = pathlib.Path(__file__).resolve().parent.parent
BENCH_DIR = pathlib.Path(__file__).resolve().parent
SERVER = REPOSITORY / 'install' / 'adaptive_nlp_ros' / 'lib' / 'adaptive_nlp_ros' / 'expert_server'
FLEET_SIZES = (1, 2, 4, 8)
STEADY_HZ = 5.0
STEADY_S = 6.0
BURST = 20
DEADLINE_MS = 150
CAPACITY_ROUNDS = 3         # the server alone: rounds per fleet size, each setting in turn
CAPACITY_ROUND_S = 3.0
TEXTS = ['go to the kitchen', 'bring the red cup from the table to anna', 'follow me',
         'what time is it', 'turn left 90 degrees', 'find my keys in the bedroom',
         'say hello to the man in the red shirt', 'go to the door and wait there',
         'take the book and put it on the shelf', 'move forward two meters slowly']


class Fleet:
    """N controllers in this process, their command publishers, batteries and results."""

    def __init__(self, rclpy, context, engines, size: int) -> None:
        from adaptive_nlp_ros.nodes.controller_node import ControllerNode
        from adaptive_nlp_ros_msgs.msg import InferenceResult
        from rclpy.parameter import Parameter
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import BatteryState
        from std_msgs.msg import String
        self.node = rclpy.create_node('fleet_bench', context=context)
        self.controllers = []
        self.publishers = []
        self.batteries = []
        self.results: List[tuple] = []
        self._lock = threading.Lock()
        reliable = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE)
        for index in range(1, size + 1):
            namespace = f'/robot{index}'
            self.controllers.append(ControllerNode(
                engines=engines, namespace=namespace, context=context, parameter_overrides=[
                    Parameter('strategy', value='edge_offload'),
                    Parameter('edge_offload.service', value='/edge/understand'),
                    Parameter('edge_offload.deadline_ms', value=DEADLINE_MS)]))
            self.publishers.append(self.node.create_publisher(
                String, f'{namespace}/text_command', reliable))
            self.batteries.append(self.node.create_publisher(
                BatteryState, f'{namespace}/battery_state', 10))
            self.node.create_subscription(InferenceResult, f'{namespace}/inference_result',
                                          self._collect, reliable)
        self._battery_type = BatteryState
        self._string = String
        self.node.create_timer(0.5, self._publish_batteries)

    def _collect(self, message) -> None:
        with self._lock:
            self.results.append((time.perf_counter(), message))

    def _publish_batteries(self) -> None:
        for publisher in self.batteries:
            battery = self._battery_type()
            battery.header.stamp = self.node.get_clock().now().to_msg()
            battery.percentage = 1.0
            battery.present = True
            battery.voltage = float('nan')
            publisher.publish(battery)

    def ready(self) -> bool:
        """Return True once every command topic and the server are matched."""
        return all(publisher.get_subscription_count() >= 1 for publisher in self.publishers) \
            and all(controller.controller is not None and controller.edge_ready()
                    for controller in self.controllers)

    def send(self, robot: int, text: str) -> None:
        self.publishers[robot].publish(self._string(data=text))

    def wait(self, count: int, timeout_s: float) -> bool:
        deadline = time.perf_counter() + timeout_s
        while time.perf_counter() < deadline:
            with self._lock:
                if len(self.results) >= count:
                    return True
            time.sleep(0.01)
        return False

    def destroy(self) -> None:
        for controller in self.controllers:
            controller.destroy_node()
        self.node.destroy_node()


def _phase_figures(started: float, received: List[tuple], sent: int) -> Dict[str, object]:
    """Return what one phase measured."""
    messages = [message for _, message in received]
    answered = [message for message in messages if message.status == 0]
    offloaded = [message for message in answered
                 if message.configuration.executed_on not in ('robot', '')]
    local = [message for message in answered if message not in offloaded]
    span = (max(arrived for arrived, _ in received) - started) if received else math.nan
    latencies = [message.latency_ms for message in answered]
    return {
        'sent': sent, 'results': len(messages), 'answered': len(answered),
        'answered_per_s': len(answered) / span if span else math.nan,
        'p50_ms': percentile(latencies, 0.5), 'p95_ms': percentile(latencies, 0.95),
        'share_offloaded': len(offloaded) / len(answered) if answered else math.nan,
        'energy_mj_per_command': statistics.mean(m.energy_mj for m in answered)
        if answered else math.nan,
        'energy_mj_offloaded': statistics.mean(m.energy_mj for m in offloaded)
        if offloaded else math.nan,
        'energy_mj_local': statistics.mean(m.energy_mj for m in local) if local else math.nan,
        'server_round_trip_p95_ms': percentile(
            [m.configuration.round_trip_ms for m in offloaded], 0.95),
        'reasons': collections.Counter(message.reason.split(':')[0].split('(')[0].strip()
                                       for message in answered).most_common(4),
    }


def _run_fleet(rclpy, context, executor, engines, size: int, quick: bool) -> Dict[str, object]:
    """Measure one fleet size against the running server."""
    fleet = Fleet(rclpy, context, engines, size)
    for controller in fleet.controllers:
        executor.add_node(controller)
    executor.add_node(fleet.node)
    try:
        deadline = time.perf_counter() + 60.0
        while not fleet.ready() and time.perf_counter() < deadline:
            time.sleep(0.05)
        # Warm-up: two commands per robot (the first is answered locally to measure its cost).
        for robot in range(size):
            fleet.send(robot, 'go to the kitchen')
            fleet.send(robot, 'go to the door')
        fleet.wait(2 * size, 30.0)
        figures = {}
        rng = random.Random(size)
        steady_s = STEADY_S / 2 if quick else STEADY_S
        with fleet._lock:
            before = len(fleet.results)
        total = int(STEADY_HZ * steady_s) * size
        started = time.perf_counter()
        for index in range(int(STEADY_HZ * steady_s)):
            target = started + index / STEADY_HZ
            time.sleep(max(0.0, target - time.perf_counter()))
            for robot in range(size):
                fleet.send(robot, rng.choice(TEXTS))
        fleet.wait(before + total, 60.0)
        figures['steady'] = _phase_figures(started, fleet.results[before:before + total], total)
        before = len(fleet.results)
        total = BURST * size
        started = time.perf_counter()
        for _ in range(BURST):
            for robot in range(size):
                fleet.send(robot, rng.choice(TEXTS))
        fleet.wait(before + total, 120.0)
        figures['burst'] = _phase_figures(started, fleet.results[before:before + total], total)
        return figures
    finally:
        for node in fleet.controllers + [fleet.node]:
            executor.remove_node(node)
        fleet.destroy()


def _closed_loop(rclpy, context, executor, size: int, duration_s: float) -> List[tuple]:
    """
    Keep one request outstanding per client for ``duration_s``; return what came back in it.

    Each reply is ``(round trip ms, status, batch size)``.
    """
    from adaptive_nlp_ros_msgs.srv import Understand
    node = rclpy.create_node(f'capacity_bench_{size}', context=context)
    clients = [node.create_client(Understand, '/edge/understand') for _ in range(size)]
    lock = threading.Lock()
    replies: List[tuple] = []
    stop_at = [math.inf]
    rng = random.Random(size)

    def ask(client, index: int) -> None:
        request = Understand.Request(request_id=index, robot_id=f'/robot{index}',
                                     text=rng.choice(TEXTS), deadline_ms=DEADLINE_MS * 10)
        sent = time.perf_counter()
        future = client.call_async(request)
        future.add_done_callback(lambda done: answered(client, index, sent, done))

    def answered(client, index: int, sent: float, future) -> None:
        now = time.perf_counter()
        response = future.result()
        with lock:
            replies.append((now, (now - sent) * 1e3, response.status, response.batch_size))
        if now < stop_at[0]:
            ask(client, index)

    executor.add_node(node)
    try:
        for client in clients:
            client.wait_for_service(timeout_sec=30.0)
        stop_at[0] = time.perf_counter() + duration_s
        for index, client in enumerate(clients):
            ask(client, index)
        time.sleep(duration_s + 1.0)
        with lock:
            return [reply[1:] for reply in replies if reply[0] <= stop_at[0]]
    finally:
        executor.remove_node(node)
        node.destroy_node()


class _ServerSettings:
    """A parameter client of the running expert server, made once for the whole measurement."""

    def __init__(self, rclpy, context, executor) -> None:
        from rclpy.parameter_client import AsyncParameterClient
        self._executor = executor
        self._node = rclpy.create_node('capacity_bench_parameters', context=context)
        executor.add_node(self._node)
        self._client = AsyncParameterClient(self._node, '/edge/expert_server')
        if not self._client.wait_for_services(timeout_sec=30.0):
            self.destroy()
            raise RuntimeError("the expert server's parameter services did not appear")

    def set_max_batch(self, max_batch: int) -> None:
        """Set the server's ``max_batch`` (it applies from the next batch)."""
        from rclpy.parameter import Parameter
        future = self._client.set_parameters([Parameter('max_batch', value=max_batch)])
        deadline = time.monotonic() + 10.0
        while not future.done() and time.monotonic() < deadline:
            time.sleep(0.01)
        done = future.done()
        if not done or not all(result.successful for result in future.result().results):
            raise RuntimeError(f'could not set max_batch {max_batch} on the expert server')

    def destroy(self) -> None:
        """Remove the client's node."""
        self._executor.remove_node(self._node)
        self._node.destroy_node()


def _server_capacity(rclpy, context, executor, rounds: int,
                     round_s: float) -> Dict[str, Dict[str, Dict[str, object]]]:
    """
    Measure one server in closed loop, ``max_batch`` 16 and 1 interleaved, per setting and size.

    Each fleet size alternates the two settings ``rounds`` times (a run-time parameter change,
    no restart), so drift in the shared machine's speed falls on both alike; the replies of a
    setting's rounds are pooled.
    """
    pooled: Dict[str, Dict[str, List[tuple]]] = {'16': {}, '1': {}}
    settings = _ServerSettings(rclpy, context, executor)
    try:
        for size in FLEET_SIZES:
            for _ in range(rounds):
                for max_batch in (16, 1):
                    print(f'  server capacity: max_batch {max_batch}, {size} client(s)',
                          flush=True)
                    settings.set_max_batch(max_batch)
                    pooled[str(max_batch)].setdefault(str(size), []).extend(
                        _closed_loop(rclpy, context, executor, size, round_s))
    finally:
        settings.destroy()
    figures: Dict[str, Dict[str, Dict[str, object]]] = {}
    for max_batch, by_size in pooled.items():
        for size, replies in by_size.items():
            rtts = [rtt for rtt, status, _ in replies if status == 0]
            figures.setdefault(max_batch, {})[size] = {
                'clients': int(size), 'rounds': rounds, 'seconds': rounds * round_s,
                'answered_per_s': len(rtts) / (rounds * round_s),
                'p50_ms': percentile(rtts, 0.5), 'p95_ms': percentile(rtts, 0.95),
                'not_answered': sum(status != 0 for _, status, _ in replies),
                'mean_batch': (statistics.mean(batch for _, status, batch in replies
                                               if status == 0) if rtts else math.nan)}
    return figures


def energy_table(engine) -> Dict[str, object]:
    """Return radio against local energy per command, and the break-even payload / battery."""
    from adaptive_nlp_ros.core.offload.radio_energy import RadioModel
    from adaptive_nlp_ros.core.offload.understand import UnderstandReply, UnderstandRequest
    radio = RadioModel()
    strategy = engine.strategy('early_exit')
    full = engine.strategy('full')
    resources = engine.resources(1.0)
    local = [engine.infer(text, strategy, resources).energy_mj for text in TEXTS]
    local_full = [engine.infer(text, full, resources).energy_mj for text in TEXTS]
    sizes = []
    for text in TEXTS:
        outcome = engine.infer(text, full, resources)
        request = UnderstandRequest(1, '/robot1/controller_node', text, DEADLINE_MS)
        reply = UnderstandReply.from_outcome(1, outcome, '/edge/expert_server', 0, 1, 10.0,
                                             'full')
        sizes.append((request.wire_bytes(), reply.wire_bytes()))
    radio_mj = statistics.mean(radio.energy_mj(sent, received) for sent, received in sizes)
    levels = {}
    for battery in (1.0, 0.8, 0.6, 0.4, 0.3, 0.2, 0.15, 0.1):
        budget = engine.resources(battery).budget_mj
        levels[str(battery)] = {'budget_mj': budget, 'offloads': radio_mj <= budget
                                or radio_mj <= statistics.mean(local)}
    break_even_battery = min((float(level) for level, row in levels.items() if row['offloads']),
                             default=math.nan)
    return {
        'radio': {'mj_per_kb': radio.mj_per_kb, 'mj_per_request': radio.mj_per_request},
        'request_bytes': statistics.mean(sent for sent, _ in sizes),
        'reply_bytes': statistics.mean(received for _, received in sizes),
        'radio_mj_per_command': radio_mj,
        'local_early_exit_mj': statistics.mean(local),
        'local_full_mj': statistics.mean(local_full),
        'break_even_kb_vs_early_exit': radio.break_even_kb(statistics.mean(local)),
        'break_even_kb_vs_full': radio.break_even_kb(statistics.mean(local_full)),
        'levels': levels, 'lowest_battery_that_offloads': break_even_battery}


def _start_server(env: Dict[str, str], max_batch: int) -> subprocess.Popen:
    """Start the installed expert server in namespace /edge."""
    return subprocess.Popen(
        [str(SERVER), '--ros-args', '-r', '__ns:=/edge', '-p', f'max_batch:={max_batch}'],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def _stop_server(server: subprocess.Popen) -> None:
    """SIGINT the server; kill it if it has not ended in 15 s."""
    server.send_signal(2)
    try:
        server.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.kill()


def run(quick: bool = False) -> Dict[str, object]:
    """Run the fleet measurements; return the figures."""
    import rclpy
    from rclpy.executors import MultiThreadedExecutor
    from adaptive_nlp_ros.core.controller.engines import load_controller_engines

    domain_id = random.Random(os.getpid() + 7).randint(120, 200)
    os.environ.update(ROS_DOMAIN_ID=str(domain_id), ROS_AUTOMATIC_DISCOVERY_RANGE='LOCALHOST')
    env = dict(os.environ, PYTHONUNBUFFERED='1')
    engines = load_controller_engines(threads=1)
    figures: Dict[str, object] = {'energy': energy_table(engines.text), 'domain_id': domain_id,
                                  'deadline_ms': DEADLINE_MS, 'steady_hz': STEADY_HZ,
                                  'burst_per_robot': BURST, 'runs': {}}
    context = rclpy.Context()
    rclpy.init(context=context, domain_id=domain_id)
    executor = MultiThreadedExecutor(num_threads=4, context=context)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    try:
        server = _start_server(env, 16)
        try:
            figures['capacity'] = _server_capacity(rclpy, context, executor, CAPACITY_ROUNDS,
                                                   1.5 if quick else CAPACITY_ROUND_S)
        finally:
            _stop_server(server)
        for max_batch in (16, 1):
            server = _start_server(env, max_batch)
            try:
                runs = {}
                for size in ((1, 8) if quick else FLEET_SIZES):
                    print(f'  fleet: max_batch {max_batch}, {size} robot(s)', flush=True)
                    runs[str(size)] = _run_fleet(rclpy, context, executor, engines, size, quick)
                figures['runs'][str(max_batch)] = runs
            finally:
                _stop_server(server)
    finally:
        executor.shutdown()
        spinner.join(timeout=5)
        rclpy.shutdown(context=context)
    return figures


def markdown(figures: Dict[str, object]) -> str:
    """Return the fleet section of the results."""
    energy = figures['energy']
    lines = ['## Fleet: robots on one expert server (edge_offload)', '',
             'One `expert_server` (torch fp32, every layer) and N `controller_node`s with '
             f'`edge_offload` (deadline {figures["deadline_ms"]} ms) on this machine\'s two '
             'cores over loopback DDS: server and robots share the CPU (on a site the server is '
             'another machine). Energy is an **estimate**: profiled CPU time for local '
             'answers, the radio model (`core/offload/radio_energy.py`: '
             f'{energy["radio"]["mj_per_request"]} mJ per exchange + '
             f'{energy["radio"]["mj_per_kb"]} mJ per kB, cited there) for offloaded ones; no '
             'radio or battery is read here.', '',
             '| server batching | robots | phase | sent | answered/s | p50 ms | p95 ms | '
             'offloaded | robot mJ/command | offloaded mJ | local mJ |',
             '|---|---|---|---|---|---|---|---|---|---|---|']
    for max_batch, runs in figures['runs'].items():
        for size, phases in runs.items():
            for phase in ('steady', 'burst'):
                row = phases[phase]
                lines.append(
                    f'| max_batch {max_batch} | {size} | {phase} | {row["sent"]} | '
                    f'{row["answered_per_s"]:.0f} | {row["p50_ms"]:.0f} | {row["p95_ms"]:.0f} | '
                    f'{100 * row["share_offloaded"]:.0f}% | {row["energy_mj_per_command"]:.1f} | '
                    f'{row["energy_mj_offloaded"]:.1f} | {row["energy_mj_local"]:.1f} |')
    lines += ['', 'The server alone (closed loop: each robot keeps one request outstanding, '
              'the next sent on the reply; no controllers, so the robots cost no CPU here). One '
              'server; per fleet size, max_batch 16 and 1 take turns (set at run time) for '
              f'{CAPACITY_ROUNDS} rounds each, replies pooled, so drift in the machine speed '
              'falls on both:', '',
              '| server batching | robots | answered/s | p50 ms | p95 ms | mean batch | '
              'not answered |', '|---|---|---|---|---|---|---|']
    for max_batch, rows in figures.get('capacity', {}).items():
        for size, row in rows.items():
            lines.append(f'| max_batch {max_batch} | {size} | {row["answered_per_s"]:.0f} | '
                         f'{row["p50_ms"]:.0f} | {row["p95_ms"]:.0f} | {row["mean_batch"]:.1f} '
                         f'| {row["not_answered"]} |')
    lines += ['', f'Radio per command: {energy["radio_mj_per_command"]:.1f} mJ '
              f'({energy["request_bytes"]:.0f} B request, {energy["reply_bytes"]:.0f} B reply '
              f'on the air, estimated); local early_exit {energy["local_early_exit_mj"]:.1f} mJ, '
              f'local full {energy["local_full_mj"]:.1f} mJ. Break-even payload: '
              f'{energy["break_even_kb_vs_early_exit"]:.2f} kB against early_exit, '
              f'{energy["break_even_kb_vs_full"]:.2f} kB against full. The strategy offloads '
              'for accuracy while the radio fits the per-command budget: at battery levels '
              + ', '.join(f'{level} ({row["budget_mj"]:.1f} mJ: '
                          f'{"offload" if row["offloads"] else "local"})'
                          for level, row in energy['levels'].items())
              + f'; lowest battery that still offloads: {energy["lowest_battery_that_offloads"]}.']
    targets = _targets(figures)
    lines += ['', '| target | measured | met |', '|---|---|---|']
    lines += [f'| {name} | {measured} | {"met" if met else "not met"} |'
              for name, measured, met in targets]
    return '\n'.join(lines) + '\n'


def _targets(figures: Dict[str, object]) -> List[tuple]:
    """Return ``(target, measured, met)`` rows."""
    rows = []
    runs = figures['runs']
    capacity = figures.get('capacity', {})
    if '8' in capacity.get('16', {}) and '8' in capacity.get('1', {}):
        batched, single = capacity['16']['8'], capacity['1']['8']
        ratio = batched['answered_per_s'] / single['answered_per_s']
        rows.append(('8 robots on one server: batching >= 2x answered/s of batch 1 at the same '
                     'p95 bound (server alone)',
                     f'{batched["answered_per_s"]:.0f}/s vs {single["answered_per_s"]:.0f}/s '
                     f'= {ratio:.2f}x; p95 {batched["p95_ms"]:.0f} vs {single["p95_ms"]:.0f} ms',
                     ratio >= 2.0 and batched['p95_ms'] <= single['p95_ms']))
    good = runs.get('16', {}).get('1', {}).get('steady')
    if good:
        rows.append(('1 robot on a good link: offloaded commands meet the deadline at p95',
                     f'server round trip p95 {good["server_round_trip_p95_ms"]:.0f} ms, '
                     f'{100 * good["share_offloaded"]:.0f}% offloaded',
                     good['server_round_trip_p95_ms'] < figures['deadline_ms']))
    return rows


def write_page(figures: Dict[str, object]) -> str:
    """Write bench/FLEET.md and bench/fleet_results.json; return the page."""
    return write_section('fleet', 'Fleet benchmark', figures, markdown(figures))


def main() -> int:
    """Run and write bench/FLEET.md and bench/fleet_results.json."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument('--quick', action='store_true')
    args = parser.parse_args()
    figures = run(args.quick)
    print(write_page(figures))
    return 0


if __name__ == '__main__':
    sys.exit(main())
