"""
A 10-second partition in the middle of a 100-command stream: every command answered once, in time.

Two hosts on this machine (network namespaces joined by ``../shared/netlab/linkemu.py``, the
helpers of ``test/netlab_hosts.py``): the robot (battery_node, controller_node with
``edge_offload``, deadline 150 ms) in one, the expert server in the other. After a short warm-up
on a good link the robot gets ``COMMANDS`` distinct commands, one every ``PERIOD_S``; the link
goes down for ``PARTITION_S`` in the middle of the stream and comes back.

Figures: results, duplicates and losses; latency (controller-reported, receipt to result) p50 /
p95 / max over the stream and over the partition; where each command ran; the local p95 (the
commands answered on the robot without waiting for the server, under the same load). Target
(issue 14): 100 results, 0 duplicates, p95 <= deadline + local p95.

Needs root, ``ip`` and ``/dev/net/tun`` (as the two-host tests). Usage:
``bin/env-run python bench/bench_partition.py`` (writes bench/PARTITION.md and
bench/partition_results.json; ``make bench`` runs it too).
"""

import collections
import pathlib
import sys
import tempfile
import time
from typing import Dict, List

BENCH_DIR = pathlib.Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR.parent / 'adaptive_nlp_ros' / 'test'))

from adaptive_nlp_ros.core.offload.understand import EXECUTED_ON_ROBOT  # noqa: E402
from common import percentile, write_section  # noqa: E402
from netlab_hosts import (ANSWER_TIMEOUT_S, netlab_problem, start_edge_pair, stream,  # noqa: E402
                          TwoHosts)

DEADLINE_MS = 150
MAX_COMMAND_AGE_S = 2.0
COMMANDS = 100
PERIOD_S = 0.2
PARTITION_S = 10.0
WARM_UP = 10
SERVER_NAME = '/expert_server'
WAITED = 'no reply within the deadline'     # the reason of a command that waited, then ran here
LATE_S = 2.0                                 # listened to after the last result, for duplicates


def _texts(prefix: str, count: int) -> List[str]:
    return [f'{prefix} {index}: go to the kitchen and bring the red cup to anna'
            for index in range(count)]


def run() -> Dict[str, object]:
    """Run the stream through a partition; return its figures."""
    problem = netlab_problem()
    if problem is not None:
        return {'skipped': problem}
    first = (COMMANDS - round(PARTITION_S / PERIOD_S)) // 2
    last = first + round(PARTITION_S / PERIOD_S)
    with tempfile.TemporaryDirectory(prefix='bench_partition_') as tmp:
        world = TwoHosts(pathlib.Path(tmp))
        try:
            robot = start_edge_pair(world, DEADLINE_MS, MAX_COMMAND_AGE_S)
            stream(robot, _texts('warm-up', WARM_UP), PERIOD_S)
            cut = {}

            def link(index: int) -> None:
                if index == first:
                    world.set_link(up=False)
                    cut['down'] = time.monotonic()
                elif index == last:
                    world.set_link(up=True)
                    cut['up'] = time.monotonic()

            texts = _texts('stream', COMMANDS)
            before = len(robot.results())
            for index, text in enumerate(texts):
                link(index)
                robot.send({'op': 'send', 'text': text})
                time.sleep(PERIOD_S)               # the stream's rate, not a synchronisation
            robot.wait_until(lambda: len(robot.results()) >= before + COMMANDS,
                             ANSWER_TIMEOUT_S, f'{COMMANDS} results')
            time.sleep(LATE_S)                     # a duplicate would arrive now
            results = robot.results()[before:]
            for process in world.processes:
                process.stop()
        finally:
            world.down()
    latencies = [result['latency_ms'] for result in results]
    position = {text: index for index, text in enumerate(texts)}
    during = [r for r in results if first <= position.get(r['text'], -1) < last]
    after = [r for r in results if position.get(r['text'], -1) >= last]
    local = [result['latency_ms'] for result in results
             if result['executed_on'] == EXECUTED_ON_ROBOT and WAITED not in result['reason']]
    texts_seen = collections.Counter(result['text'] for result in results)
    ids = collections.Counter(result['request_id'] for result in results)
    return {
        'deadline_ms': DEADLINE_MS, 'commands': COMMANDS, 'period_s': PERIOD_S,
        'partition_s': round(cut['up'] - cut['down'], 2), 'partition_commands': [first, last],
        'results': len(results),
        'duplicates': sum(count - 1 for count in ids.values() if count > 1),
        'lost': len(set(texts) - set(texts_seen)),
        'answered': sum(result['status'] == 0 for result in results),
        'offloaded': sum(result['executed_on'] == SERVER_NAME for result in results),
        'waited_then_local': sum(WAITED in result['reason'] for result in results),
        'p50_ms': percentile(latencies, 0.5), 'p95_ms': percentile(latencies, 0.95),
        'max_ms': max(latencies),
        'partition_p95_ms': percentile([r['latency_ms'] for r in during], 0.95),
        'partition_offloaded': sum(r['executed_on'] == SERVER_NAME for r in during),
        'local_p95_ms': percentile(local, 0.95), 'local_n': len(local),
        'after_offloaded': sum(r['executed_on'] == SERVER_NAME for r in after),
        'after_n': len(after),
    }


def markdown(figures: Dict[str, object]) -> str:
    """Return the PARTITION.md section."""
    if 'skipped' in figures:
        return f'## A partition mid-stream\n\nNot run here: {figures["skipped"]}.\n'
    bound = figures['deadline_ms'] + figures['local_p95_ms']
    met = (figures['results'] == figures['commands'] and figures['duplicates'] == 0
           and figures['lost'] == 0 and figures['p95_ms'] <= bound)
    first, last = figures['partition_commands']
    return '\n'.join([
        '## A partition mid-stream',
        '',
        f'{figures["commands"]} distinct commands, one every {figures["period_s"]} s, to a robot '
        f'with `edge_offload` (deadline {figures["deadline_ms"]} ms) whose link to the expert '
        f'server (another network namespace, emulated link) is down for '
        f'{figures["partition_s"]:.1f} s, from command {first} to command {last}. Latency is '
        'the controller\'s (receipt to result) on this machine\'s two shared cores; "local" = '
        'answered on the robot without waiting for the server.',
        '',
        '| results | duplicates | lost | answered | offloaded | waited, then local | '
        'p50 ms | p95 ms | max ms | p95 during the partition | local p95 ms (n) | '
        'offloaded after healing |',
        '|---|---|---|---|---|---|---|---|---|---|---|---|',
        f'| {figures["results"]} | {figures["duplicates"]} | {figures["lost"]} | '
        f'{figures["answered"]} | {figures["offloaded"]} | {figures["waited_then_local"]} | '
        f'{figures["p50_ms"]:.0f} | {figures["p95_ms"]:.0f} | {figures["max_ms"]:.0f} | '
        f'{figures["partition_p95_ms"]:.0f} | {figures["local_p95_ms"]:.0f} '
        f'({figures["local_n"]}) | {figures["after_offloaded"]} of {figures["after_n"]} |',
        '',
        '| target | measured | met |',
        '|---|---|---|',
        f'| 10 s partition in a 100-command stream: 100 results, 0 duplicates, p95 <= deadline '
        f'+ local p95 | {figures["results"]} results, {figures["duplicates"]} duplicates, '
        f'{figures["lost"]} lost; p95 {figures["p95_ms"]:.0f} ms vs {bound:.0f} ms | '
        f'{"met" if met else "not met"} |',
    ]) + '\n'


def write_page(figures: Dict[str, object]) -> str:
    """Write bench/PARTITION.md and bench/partition_results.json; return the page."""
    return write_section('partition', 'Partition benchmark', figures, markdown(figures))


def main() -> int:
    """Run and write bench/PARTITION.md and bench/partition_results.json."""
    figures = run()
    print(write_page(figures))
    return 0


if __name__ == '__main__':
    sys.exit(main())
