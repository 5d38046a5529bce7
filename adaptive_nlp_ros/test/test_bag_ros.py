"""
Recording and replaying bags through real rclpy (localhost discovery, a domain per test).

Record: messages published here are recorded (in-process, and by ``adaptive-nlp bag record``
in another process ended by Ctrl-C) and read back; decoded fields are compared, never raw
bytes (re-serialized CDR differs in padding). Play: bags written independently (rosbags'
writer, Humble's sqlite schema, ``ros2 bag`` itself) are published by ``adaptive-nlp bag
play`` in another process and received here: one message per recorded one. Last, a replay
into a live controller: one result per command in the bag.
"""

import math
from pathlib import Path
import sys
import time
from typing import Any

from adaptive_nlp_ros.core.bags.bag_reader import open_bag
from adaptive_nlp_ros.core.bags.bag_types import MessageCodec
from adaptive_nlp_ros.nodes.bag_recorder import start_recorder
from adaptive_nlp_ros_msgs.msg import ChosenConfiguration, InferenceResult
from bag_helpers import BagContent, command_scenario, write_humble_bag, write_rosbags_bag
from builtin_interfaces.msg import Time
from conftest import NodeProcess
from diagnostic_msgs.msg import DiagnosticArray, DiagnosticStatus, KeyValue
import pytest
from rclpy.duration import Duration
from rclpy.qos import DurabilityPolicy, qos_profile_sensor_data, QoSProfile, ReliabilityPolicy
from rosgraph_msgs.msg import Clock
from sensor_msgs.msg import BatteryState, Image
from std_msgs.msg import String
import yaml

# Bags written by `ros2 bag` itself (rosbag2's test resources, see data/ros2_bag_talker).
FIXTURES = Path(__file__).resolve().parent / 'data' / 'ros2_bag_talker'
SAMPLE_BAG = Path(__file__).resolve().parent / 'data' / 'demo_sample_bag'
RELIABLE = QoSProfile(depth=1000, reliability=ReliabilityPolicy.RELIABLE)
LATCHED = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                     durability=DurabilityPolicy.TRANSIENT_LOCAL)
TEXTS = ['stop right now', 'drive to the kitchen please', 'how much battery do you have left',
         'grab the red cup from the table', 'hello robot']
EXIT_TIMEOUT_S = 60.0


def run_bag_cli(ros_domain, *argv: str) -> NodeProcess:
    """Start ``adaptive-nlp bag ARGV...`` in another process on the test's domain."""
    command = [sys.executable, '-m', 'adaptive_nlp_ros.cli', 'bag', *argv]
    process = NodeProcess(command, ros_domain.env, ros_domain.log_dir,
                          f'bag_{argv[0]}_{len(ros_domain.processes)}')
    ros_domain.processes.append(process)
    return process


def assert_exited_cleanly(process: NodeProcess, timeout_s: float = EXIT_TIMEOUT_S) -> None:
    """Wait for the process to end by itself: status 0, no traceback."""
    status = process.wait_exit(timeout_s)
    assert status == 0, process.describe()
    assert 'Traceback' not in process.stderr, process.describe()


def assert_same_fields(published: Any, decoded: Any, path: str = '') -> None:
    """Assert a decoded (rosbags) message has the fields of a published (rclpy) one."""
    for name in published.get_fields_and_field_types():
        assert_same_value(getattr(published, name), getattr(decoded, name), f'{path}.{name}')


def assert_same_value(left: Any, right: Any, where: str) -> None:
    """Compare one field: nested messages by field, sequences item by item, floats NaN-aware."""
    if hasattr(left, 'get_fields_and_field_types'):
        assert_same_fields(left, right, where)
    elif isinstance(left, (bytes, bytearray)) and len(left) == 1:
        assert left[0] == int(right), where              # a ROS byte field
    elif isinstance(left, (list, tuple, bytes, bytearray)) or hasattr(left, 'tolist'):
        left_items = left.tolist() if hasattr(left, 'tolist') else list(left)
        right_items = right.tolist() if hasattr(right, 'tolist') else list(right)
        assert len(left_items) == len(right_items), where
        for index, (a, b) in enumerate(zip(left_items, right_items)):
            assert_same_value(a, b, f'{where}[{index}]')
    elif isinstance(left, float):
        assert left == pytest.approx(right, rel=1e-6, nan_ok=True), where
    else:
        assert left == right, where


def sample_messages():
    """One message of every recorded type, every field away from its default."""
    stamp = Time(sec=1_700_000_123, nanosec=456)
    battery = BatteryState(voltage=11.9, temperature=math.nan, current=-0.8, charge=3.5,
                           capacity=10.0, design_capacity=10.0, percentage=0.35,
                           power_supply_status=2, present=True, cell_voltage=[3.9, 4.0],
                           location='bay', serial_number='SN-1')
    battery.header.stamp, battery.header.frame_id = stamp, 'battery'
    image = Image(height=2, width=3, encoding='mono8', step=4,
                  data=[0, 50, 100, 0, 150, 200, 250, 0])
    image.header.stamp, image.header.frame_id = stamp, 'camera'
    configuration = ChosenConfiguration(strategy='early_exit', variant='minilm', exit_layer=2,
                                        num_layers=6, segment_precisions=['fp32', 'int8'],
                                        confidence_threshold=math.nan, battery_fraction=0.35,
                                        energy_budget_mj=4.5, battery_stale=False,
                                        reason='battery at 35 %')
    configuration.header.stamp = stamp
    result = InferenceResult(request_id=7, input_kind='text', input_text='go to the dock',
                             status=InferenceResult.STATUS_ANSWERED, label='dock',
                             confidence=0.93, top_labels=['dock', 'navigate'],
                             top_scores=[0.93, 0.05], configuration=configuration,
                             latency_ms=1.5, energy_mj=2.25, refined=True, reason='exit 2')
    result.header.stamp = stamp
    diagnostics = DiagnosticArray(status=[DiagnosticStatus(
        level=b'\x01', name='controller_node', message='ok', hardware_id='cpu',
        values=[KeyValue(key='received', value='3')])])
    diagnostics.header.stamp = stamp
    return {'text_command': String(data='go to the dock'), 'battery_state': battery,
            'image_command': image, 'inference_result': result,
            'chosen_configuration': configuration, '/diagnostics': diagnostics}


# -- record ---------------------------------------------------------------------------------

@pytest.mark.parametrize('storage,attach', [('mcap', 'node'), ('sqlite3', 'executor')])
def test_record_then_read_back(ros_domain, tmp_path, storage, attach):
    """
    Every default topic recorded in-process reads back with equal fields and metadata.

    The recorder is attached as the demo attaches it: to an executor (its own node), or to
    an existing node.
    """
    messages = sample_messages()
    path = tmp_path / 'recorded'
    recorder = start_recorder(ros_domain.node if attach == 'node' else ros_domain.executor,
                              path, storage=storage, custom_data={'run': 'test'})
    publishers = {name: ros_domain.node.create_publisher(
        type(message), name, LATCHED if name == 'chosen_configuration' else RELIABLE)
        for name, message in messages.items()}
    for publisher in publishers.values():
        ros_domain.wait_for_subscribers(publisher)
    for name, message in messages.items():
        for _ in range(3):
            publishers[name].publish(message)
    expected = {('/' + name).replace('//', '/'): 3 for name in messages}
    ros_domain.spin_until(lambda: recorder.counts == expected, 10.0, f'recorded {expected}')
    hashes = {publisher.topic_name: str(ros_domain.node.get_publishers_info_by_topic(
        publisher.topic_name)[0].topic_type_hash) for publisher in publishers.values()}
    summary = recorder.close()
    assert summary.counts == expected and summary.total == 18
    codec = MessageCodec()
    with open_bag(path) as reader:
        assert reader.info.version == 9 and reader.info.storage == storage
        assert reader.info.custom_data == {'run': 'test'}
        for name, message in messages.items():
            topic = reader.info.topics[('/' + name).replace('//', '/')]
            assert topic.type_hash == hashes[topic.name]
            assert topic.definition, f'{topic.name}: no message definition stored'
            decoded = [codec.decode(topic, m.data) for m in reader.messages([topic.name])]
            assert len(decoded) == 3
            for copy in decoded:
                assert_same_fields(message, copy, topic.name)
        assert reader.warnings == []
    metadata = yaml.safe_load((path / 'metadata.yaml').read_text())
    topics = {entry['topic_metadata']['name']: entry['topic_metadata'] for entry in
              metadata['rosbag2_bagfile_information']['topics_with_message_count']}
    assert topics['/chosen_configuration']['offered_qos_profiles'][0]['durability'] == (
        'transient_local')
    assert topics['/text_command']['offered_qos_profiles'][0]['reliability'] == 'reliable'


def test_record_command_ends_on_ctrl_c_with_every_message(ros_domain, tmp_path):
    """``bag record`` in another process: Ctrl-C after 50 acknowledged messages keeps all 50."""
    path = tmp_path / 'cli_bag'
    process = run_bag_cli(ros_domain, 'record', str(path), '--storage', 'sqlite3',
                          '--topics', 'text_command', 'battery_state')
    text = ros_domain.node.create_publisher(String, 'text_command', RELIABLE)
    battery = ros_domain.node.create_publisher(BatteryState, 'battery_state', RELIABLE)
    ros_domain.wait_for_subscribers(text)
    ros_domain.wait_for_subscribers(battery)
    for index in range(50):
        text.publish(String(data=f'command {index}'))
    battery.publish(BatteryState(percentage=0.5, present=True))
    assert text.wait_for_all_acked(Duration(seconds=10))
    assert battery.wait_for_all_acked(Duration(seconds=10))
    process.stop(timeout_s=10.0)
    assert 'recorded 51 messages' in process.stdout, process.describe()
    codec = MessageCodec()
    with open_bag(path) as reader:
        topic = reader.info.topics['/text_command']
        texts = [codec.decode(topic, m.data).data for m in reader.messages([topic.name])]
    assert texts == [f'command {index}' for index in range(50)]


def test_record_duration_ends_by_itself(ros_domain, tmp_path):
    """``--duration`` ends the recording cleanly; topics never published are listed empty."""
    process = run_bag_cli(ros_domain, 'record', str(tmp_path / 'short'),
                          '--duration', '1')
    assert_exited_cleanly(process)
    assert 'recorded 0 messages' in process.stdout
    assert '/text_command' in process.stdout
    with open_bag(tmp_path / 'short') as reader:
        assert {'/text_command', '/battery_state'} <= set(reader.info.topics)
    robot = run_bag_cli(ros_domain, 'record', str(tmp_path / 'robot1'), '--duration', '1',
                        '--namespace', '/robot1')
    assert_exited_cleanly(robot)
    with open_bag(tmp_path / 'robot1') as reader:
        assert {'/robot1/text_command', '/robot1/battery_state', '/diagnostics'} <= set(
            reader.info.topics)


# -- play -----------------------------------------------------------------------------------

class Listener:
    """Subscriptions of the test's node on the topics a replay publishes."""

    def __init__(self, ros_domain, text_topic: str = 'text_command') -> None:
        """Subscribe to commands (reliable, deep), battery (sensor data) and images."""
        self.texts = ros_domain.collect(String, text_topic, RELIABLE)
        self.batteries = ros_domain.collect(BatteryState, 'battery_state',
                                            qos_profile_sensor_data)
        self.images = ros_domain.collect(Image, 'image_command', RELIABLE)


@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
@pytest.mark.parametrize('writer', ['rosbags', 'humble'])
def test_play_independent_bag(ros_domain, tmp_path, storage, writer):
    """One message received per recorded one, in order; battery stamps moved to now."""
    content = command_scenario(TEXTS)
    content.images = [(0.3, 2, 2, bytes([0, 255, 255, 0]))]
    make = write_rosbags_bag if writer == 'rosbags' else write_humble_bag
    path = make(tmp_path / 'bag', content, storage)
    listener = Listener(ros_domain)
    process = run_bag_cli(ros_domain, 'play', str(path), '--rate', '4')
    ros_domain.spin_until(lambda: len(listener.texts) == len(TEXTS)
                          and len(listener.batteries) == len(content.batteries)
                          and len(listener.images) == 1, 30.0, 'the replayed messages')
    assert_exited_cleanly(process)
    assert [m.data for m in listener.texts.messages] == TEXTS
    assert [round(m.percentage, 3) for m in listener.batteries.messages] == [
        b for _, b in content.batteries]
    now_s = time.time()
    for battery in listener.batteries.messages:
        assert abs(battery.header.stamp.sec - now_s) < 120, 'stamp not moved to now'
    assert list(listener.images.messages[0].data) == [0, 255, 255, 0]
    assert 'published 11 messages' in process.stdout


def test_play_ros2_bag_fixture_remapped(ros_domain):
    """``ros2 bag``'s talker recording, /topic remapped onto text_command: 10 strings."""
    listener = Listener(ros_domain)
    process = run_bag_cli(ros_domain, 'play', str(FIXTURES / 'mcap'), '--rate', '10',
                          '--remap', '/topic:=text_command')
    ros_domain.spin_until(lambda: len(listener.texts) == 10, 30.0, 'ten strings')
    assert_exited_cleanly(process)
    assert 'deprecated' not in process.stderr       # --remap is ours, not rcl's to read
    assert [m.data for m in listener.texts.messages] == [f'Hello, world! {i}'
                                                         for i in range(10)]


def test_play_with_clock_start_and_loop(ros_domain, tmp_path):
    """--clock keeps recorded stamps and publishes recorded time; --start; --loop to Ctrl-C."""
    content = command_scenario(TEXTS)
    path = write_rosbags_bag(tmp_path / 'bag', content, 'mcap')
    listener = Listener(ros_domain)
    clock = ros_domain.collect(Clock, '/clock', QoSProfile(depth=1000))
    process = run_bag_cli(ros_domain, 'play', str(path), '--clock', '--start', '0.45',
                          '--rate', '2')
    ros_domain.spin_until(lambda: len(listener.texts) == 3, 30.0, 'three commands')
    assert_exited_cleanly(process)
    assert [m.data for m in listener.texts.messages] == TEXTS[2:]
    first_battery = listener.batteries.messages[0]
    assert round(first_battery.percentage, 3) == 0.7        # current at 0.45 s, sent first
    assert first_battery.header.stamp.sec == 1_700_000_000  # recorded stamp kept
    recorded = [m.clock.sec + m.clock.nanosec * 1e-9 for m in clock.messages]
    assert recorded and min(recorded) >= 1_700_000_000 and max(recorded) < 1_700_000_002
    assert recorded == sorted(recorded)
    looping = run_bag_cli(ros_domain, 'play', str(path), '--loop', '--rate', '5')
    before = len(listener.texts)
    ros_domain.spin_until(lambda: len(listener.texts) >= before + 2 * len(TEXTS), 30.0,
                          'two loops')
    looping.stop(timeout_s=10.0)
    assert 'published' in looping.stdout


def test_play_without_subscriber_fails_cleanly(ros_domain, tmp_path):
    """No subscriber on the command topic: one clear line, status 2, no traceback."""
    path = write_rosbags_bag(tmp_path / 'bag', BagContent(texts=[(0.0, 'hello')]), 'mcap')
    process = run_bag_cli(ros_domain, 'play', str(path), '--remap',
                          '/text_command:=nobody_listens', '--wait-timeout', '1')
    status = process.wait_exit(EXIT_TIMEOUT_S)
    assert status == 2, process.describe()
    assert 'Traceback' not in process.stderr
    assert 'no subscriber on /nobody_listens' in process.stderr


def test_play_from_past_the_end_fails_cleanly(ros_domain, tmp_path):
    """--start beyond the bag's last moment would publish nothing: status 2, one line."""
    path = write_rosbags_bag(tmp_path / 'bag', command_scenario(TEXTS), 'mcap')
    process = run_bag_cli(ros_domain, 'play', str(path), '--start', '3600')
    status = process.wait_exit(EXIT_TIMEOUT_S)
    assert status == 2, process.describe()
    assert 'Traceback' not in process.stderr
    assert 'past the end of the bag' in process.stderr


# -- into a live controller -----------------------------------------------------------------

def test_replay_into_live_controller_one_result_per_command(ros_domain, tmp_path,
                                                            artifacts_dir, text_engine):
    """Every command of a bag gets exactly one result; ``full`` labels equal ``bag eval``'s."""
    from adaptive_nlp_ros.core.bags.bag_evaluation import (DEFAULT_BATTERY_TIMEOUT_S,
                                                           evaluate_contents, load_image_engine,
                                                           read_contents, replay)

    bag = SAMPLE_BAG if SAMPLE_BAG.is_dir() else write_rosbags_bag(
        tmp_path / 'bag', command_scenario(TEXTS), 'mcap')
    with open_bag(bag) as reader:
        contents = read_contents(reader, {})
    commands = contents.commands
    image_engine = load_image_engine(artifacts_dir, text_engine.budget_model)
    expected = evaluate_contents(text_engine, image_engine, contents, ['full'])['strategies'][
        'full']
    controller = ros_domain.start_node('controller_node', parameters={'strategy': 'full'})
    results = ros_domain.collect(InferenceResult, 'inference_result', RELIABLE)
    ros_domain.wait_for_publishers(results.subscription, timeout_s=60.0)
    process = run_bag_cli(ros_domain, 'play', str(bag), '--rate', '4')
    ros_domain.spin_until(lambda: len(results) >= len(commands), 120.0,
                          f'{len(commands)} results')
    assert_exited_cleanly(process)
    controller.stop()
    ros_domain.executor.spin_once(timeout_sec=0.1)
    assert len(results) == len(commands)
    text_rows = [i for i, c in enumerate(commands) if c.kind == 'text']
    text_results = [r for r in results.messages if r.input_kind == 'text']
    assert [r.input_text for r in text_results] == [commands[i].text for i in text_rows]
    assert all(r.status == InferenceResult.STATUS_ANSWERED for r in results.messages)
    assert [r.label for r in text_results] == [expected['labels'][i] for i in text_rows]
    replayed = replay(text_engine, image_engine, 'full', contents, commands, None,
                      DEFAULT_BATTERY_TIMEOUT_S)
    for row, result in zip(text_rows, text_results):     # the live parse is the replayed one
        offline = replayed[row].actions
        assert [(a.intent, [(g.role, g.value, g.start, g.end, g.resolved) for g in a.arguments])
                for a in result.actions] == [
            (a.intent, [(g.role, g.value, g.start, g.end, g.resolved) for g in a.arguments])
            for a in offline], result.input_text
        for action in result.actions:
            for argument in action.arguments:      # spans index the echoed text
                assert argument.resolved or (
                    result.input_text[argument.start:argument.end] == argument.value)
    assert max(len(r.actions) for r in text_results) >= 2
    image_rows = [i for i, c in enumerate(commands) if c.kind == 'image']
    image_results = [r for r in results.messages if r.input_kind == 'image']
    assert [r.label for r in image_results] == [expected['labels'][i] for i in image_rows]
