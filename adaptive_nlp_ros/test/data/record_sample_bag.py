"""
Re-record ``demo_sample_bag/``: the demo graph playing ``demo_sample_scenario.yaml``.

Run from the repository root (remove the old bag folder first)::

    bin/env-run python adaptive_nlp_ros/test/data/record_sample_bag.py

Starts ``adaptive-nlp bag record --scenario`` (default topics, mcap; the scenario's expected
labels go into the bag's custom_data), then battery_node (fast simulated drain),
controller_node (strategy ``full``, so ``bag eval --strategy full`` must reproduce every
recorded label) and command_player, each in its own process on a private domain; stops the
recorder once every command has its result.
"""

import os
from pathlib import Path
import signal
import subprocess
import sys
import time

HERE = Path(__file__).resolve().parent
BAG = HERE / 'demo_sample_bag'
SCENARIO = HERE / 'demo_sample_scenario.yaml'
DEADLINE_S = 120.0


def node(executable: str, **parameters) -> subprocess.Popen:
    """Start a node executable of the package with ``-p name:=value`` parameters."""
    arguments = [f'{name}:={value}' for name, value in parameters.items()]
    ros_args = ['--ros-args'] + [item for a in arguments for item in ('-p', a)]
    return subprocess.Popen([sys.executable, '-m', f'adaptive_nlp_ros.nodes.{executable}']
                            + ros_args)


def main() -> int:
    """Record the bag; return the process status."""
    import rclpy
    from rclpy.qos import QoSProfile

    from adaptive_nlp_ros.core.evaluation.scenario import load_scenario
    from adaptive_nlp_ros_msgs.msg import InferenceResult

    commands = len(load_scenario(SCENARIO).commands)

    if BAG.exists():
        sys.exit(f'{BAG} exists; remove it first')
    os.environ.setdefault('ROS_DOMAIN_ID', '97')
    os.environ['ROS_AUTOMATIC_DISCOVERY_RANGE'] = 'LOCALHOST'
    recorder = subprocess.Popen([sys.executable, '-m', 'adaptive_nlp_ros.cli', 'bag', 'record',
                                 str(BAG), '--scenario', str(SCENARIO)],
                                stdout=subprocess.PIPE, text=True)
    print(recorder.stdout.readline().strip())
    rclpy.init()
    watcher = rclpy.create_node('sample_bag_watcher')
    results = []
    subscription = watcher.create_subscription(InferenceResult, 'inference_result',
                                               results.append, QoSProfile(depth=100))
    processes = [
        node('battery_node', rate_hz=5.0, capacity_wh=100.0, idle_draw_w=20.0,
             time_acceleration=500.0, initial_fraction=1.0),
        node('controller_node', strategy='full'),
    ]
    deadline = time.monotonic() + DEADLINE_S
    # The player starts once something subscribes to text_command: the recorder already
    # does, so start it only when the controller is up (its result publisher exists).
    while subscription.get_publisher_count() < 1 and time.monotonic() < deadline:
        rclpy.spin_once(watcher, timeout_sec=0.1)
    processes.append(node('command_player', scenario=str(SCENARIO), exit_when_done='true'))
    while len(results) < commands and time.monotonic() < deadline:
        rclpy.spin_once(watcher, timeout_sec=0.1)
    recorder.send_signal(signal.SIGINT)
    print(recorder.communicate(timeout=30)[0])
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        process.wait(timeout=30)
    watcher.destroy_node()
    rclpy.shutdown()
    print(f'{len(results)} results seen; bag: {BAG}')
    return 0 if len(results) == commands else 1


if __name__ == '__main__':
    sys.exit(main())
