"""
Bags written independently of the project's bag code, for the bag tests.

Storage files come from rosbags' own writer (``rosbags.rosbag2.Writer``, metadata 8 or 9) or,
for a Humble bag's sqlite3 file, from plain ``sqlite3`` with Humble's schema; messages are
serialized by rosbags' typestore of the distribution the bag claims. Nothing here imports
``adaptive_nlp_ros``: a bug in the project's reader cannot hide behind the same bug here.
"""

from dataclasses import dataclass, field
import json
from pathlib import Path
import sqlite3
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from rosbags.interfaces import (Qos, QosDurability, QosHistory, QosLiveliness, QosReliability,
                                QosTime)
from rosbags.rosbag2 import StoragePlugin, Writer
from rosbags.typesys import get_types_from_msg, get_typestore, Stores
import yaml

MESSAGES_DIR = Path(__file__).resolve().parents[2] / 'adaptive_nlp_ros_msgs' / 'msg'
START_NS = 1_700_000_000_000_000_000
INFINITE = QosTime(2147483647, 4294967295)
RELIABLE_QOS = Qos(QosHistory.UNKNOWN, 0, QosReliability.RELIABLE, QosDurability.VOLATILE,
                   INFINITE, INFINITE, QosLiveliness.AUTOMATIC, INFINITE, False)
HUMBLE_QOS_TEXT = ('- history: 3\n  depth: 0\n  reliability: 1\n  durability: 2\n  deadline:\n'
                   '    sec: 2147483647\n    nsec: 4294967295\n  lifespan:\n'
                   '    sec: 2147483647\n    nsec: 4294967295\n  liveliness: 1\n'
                   '  liveliness_lease_duration:\n    sec: 2147483647\n    nsec: 4294967295\n'
                   '  avoid_ros_namespace_conventions: false')


@dataclass
class BagContent:
    """What to write: timed commands, battery readings, images and results."""

    texts: List[Tuple[float, str]] = field(default_factory=list)          # (t_s, text)
    batteries: List[Tuple[float, float]] = field(default_factory=list)    # (t_s, fraction)
    images: List[Tuple[float, int, int, bytes]] = field(default_factory=list)  # t, h, w, px
    results: List[Tuple[float, str, str]] = field(default_factory=list)   # t, text, label
    text_topic: str = '/text_command'
    battery_topic: str = '/battery_state'
    image_topic: str = '/image_command'
    custom_data: Dict[str, str] = field(default_factory=dict)

    def command_count(self) -> int:
        """Return the number of commands (text and image)."""
        return len(self.texts) + len(self.images)


def typestore_for(store: Stores = Stores.ROS2_KILTED, with_project_messages: bool = False):
    """Return a rosbags typestore, with the project's messages read from their .msg files."""
    typestore = get_typestore(store)
    if with_project_messages:
        types = {}
        for name in ('Argument', 'Action', 'ChosenConfiguration', 'InferenceResult'):
            types.update(get_types_from_msg((MESSAGES_DIR / f'{name}.msg').read_text(),
                                            f'adaptive_nlp_ros_msgs/msg/{name}'))
        typestore.register(types)
    return typestore


def serialized(typestore, content: BagContent) -> List[Tuple[int, str, str, bytes]]:
    """Return ``(timestamp_ns, topic, type, cdr)`` of every message, time-ordered."""
    types = typestore.types
    time_msg = types['builtin_interfaces/msg/Time']
    header = types['std_msgs/msg/Header']
    rows = []
    for t_s, text in content.texts:
        message = types['std_msgs/msg/String'](data=text)
        rows.append((t_s, content.text_topic, 'std_msgs/msg/String', message))
    for t_s, fraction in content.batteries:
        stamp = time_msg(sec=int(START_NS // 10**9 + t_s), nanosec=0)
        message = types['sensor_msgs/msg/BatteryState'](
            header=header(stamp=stamp, frame_id='battery'), voltage=12.0, temperature=20.0,
            current=-1.0, charge=float('nan'), capacity=10.0, design_capacity=10.0,
            percentage=fraction, power_supply_status=2, power_supply_health=0,
            power_supply_technology=0, present=True, cell_voltage=np.zeros(0, np.float32),
            cell_temperature=np.zeros(0, np.float32),
            location='', serial_number='')
        rows.append((t_s, content.battery_topic, 'sensor_msgs/msg/BatteryState', message))
    for t_s, height, width, pixels in content.images:
        stamp = time_msg(sec=int(START_NS // 10**9 + t_s), nanosec=0)
        message = types['sensor_msgs/msg/Image'](
            header=header(stamp=stamp, frame_id='camera'), height=height, width=width,
            encoding='mono8', is_bigendian=0, step=width,
            data=np.frombuffer(pixels, dtype=np.uint8))
        rows.append((t_s, content.image_topic, 'sensor_msgs/msg/Image', message))
    for t_s, text, label in content.results:
        rows.append((t_s, '/inference_result', 'adaptive_nlp_ros_msgs/msg/InferenceResult',
                     _result(typestore, t_s, text, label)))
    rows.sort(key=lambda row: row[0])
    return [(START_NS + int(t_s * 1e9), topic, msgtype,
             bytes(typestore.serialize_cdr(message, msgtype)))
            for t_s, topic, msgtype, message in rows]


def _result(typestore, t_s: float, text: str, label: str):
    types = typestore.types
    stamp = types['builtin_interfaces/msg/Time'](sec=int(START_NS // 10**9 + t_s), nanosec=0)
    header = types['std_msgs/msg/Header'](stamp=stamp, frame_id='')
    configuration = types['adaptive_nlp_ros_msgs/msg/ChosenConfiguration'](
        header=header, strategy='full', variant='minilm', exit_layer=6, num_layers=6,
        segment_precisions=['fp32'], confidence_threshold=float('nan'), battery_fraction=0.9,
        energy_budget_mj=10.0, battery_stale=False, reason='', executed_on='robot',
        round_trip_ms=float('nan'))
    return types['adaptive_nlp_ros_msgs/msg/InferenceResult'](
        header=header, request_id=1, input_kind='text', input_text=text, status=0,
        label=label, confidence=0.9, top_labels=[label],
        top_scores=np.array([0.9], np.float32),
        configuration=configuration, latency_ms=1.0, energy_mj=1.0, refined=False, reason='',
        actions=[])


def write_rosbags_bag(path: Path, content: BagContent, storage: str = 'mcap',
                      version: int = 9) -> Path:
    """Write a bag with rosbags' Writer (metadata 8 or 9) and the Kilted typestore."""
    typestore = typestore_for(Stores.ROS2_KILTED, with_project_messages=bool(content.results))
    plugin = StoragePlugin.MCAP if storage == 'mcap' else StoragePlugin.SQLITE3
    writer = Writer(path, version=version, storage_plugin=plugin)
    for key, value in content.custom_data.items():
        writer.set_custom_data(key, value)
    writer.open()
    connections = {}
    for timestamp, topic, msgtype, data in serialized(typestore, content):
        if topic not in connections:
            connections[topic] = writer.add_connection(topic, msgtype, typestore=typestore,
                                                       offered_qos_profiles=[RELIABLE_QOS])
        writer.write(connections[topic], timestamp, data)
    writer.close()
    return path


def humble_metadata(file_name: str, storage: str,
                    rows: Sequence[Tuple[int, str, str, bytes]]) -> Dict:
    """Return metadata.yaml content as Humble's rosbag2 (version 5) writes it."""
    counts: Dict[Tuple[str, str], int] = {}
    for _, topic, msgtype, _ in rows:
        counts[(topic, msgtype)] = counts.get((topic, msgtype), 0) + 1
    start = rows[0][0] if rows else 0
    duration = rows[-1][0] - start if rows else 0
    return {'rosbag2_bagfile_information': {
        'version': 5, 'storage_identifier': storage, 'relative_file_paths': [file_name],
        'duration': {'nanoseconds': duration},
        'starting_time': {'nanoseconds_since_epoch': start},
        'message_count': len(rows),
        'topics_with_message_count': [
            {'topic_metadata': {'name': topic, 'type': msgtype, 'serialization_format': 'cdr',
                                'offered_qos_profiles': HUMBLE_QOS_TEXT},
             'message_count': count}
            for (topic, msgtype), count in counts.items()],
        'compression_format': '', 'compression_mode': '',
        'files': [{'path': file_name, 'starting_time': {'nanoseconds_since_epoch': start},
                   'duration': {'nanoseconds': duration}, 'message_count': len(rows)}]}}


def write_humble_bag(path: Path, content: BagContent, storage: str = 'sqlite3') -> Path:
    """
    Write a bag as Humble's ``ros2 bag record`` does (metadata version 5).

    sqlite3: Humble's schema (version 3: no message definitions, no type hashes), written
    with plain sqlite3. mcap: rosbags' mcap file with a version 5 metadata.yaml.
    """
    typestore = typestore_for(Stores.ROS2_HUMBLE)
    rows = serialized(typestore, content)
    path.mkdir(parents=True)
    if storage == 'mcap':
        scratch = path.parent / (path.name + '_scratch')
        write_rosbags_bag(scratch, content, 'mcap', 8)
        (scratch / f'{scratch.name}.mcap').rename(path / f'{path.name}_0.mcap')
        for leftover in scratch.iterdir():
            leftover.unlink()
        scratch.rmdir()
        file_name = f'{path.name}_0.mcap'
    else:
        file_name = f'{path.name}_0.db3'
        connection = sqlite3.connect(path / file_name)
        connection.executescript(
            'CREATE TABLE schema(schema_version INTEGER PRIMARY KEY, ros_distro TEXT NOT NULL);'
            'CREATE TABLE metadata(id INTEGER PRIMARY KEY, metadata_version INTEGER NOT NULL,'
            ' metadata TEXT NOT NULL);'
            'CREATE TABLE topics(id INTEGER PRIMARY KEY, name TEXT NOT NULL, type TEXT NOT NULL,'
            ' serialization_format TEXT NOT NULL, offered_qos_profiles TEXT NOT NULL);'
            'CREATE TABLE messages(id INTEGER PRIMARY KEY, topic_id INTEGER NOT NULL,'
            ' timestamp INTEGER NOT NULL, data BLOB NOT NULL);'
            'CREATE INDEX timestamp_idx ON messages (timestamp ASC);')
        connection.execute("INSERT INTO schema VALUES (3, 'humble')")
        ids: Dict[str, int] = {}
        for timestamp, topic, msgtype, data in rows:
            if topic not in ids:
                ids[topic] = len(ids) + 1
                connection.execute('INSERT INTO topics VALUES (?, ?, ?, ?, ?)',
                                   (ids[topic], topic, msgtype, 'cdr', HUMBLE_QOS_TEXT))
            connection.execute('INSERT INTO messages (topic_id, timestamp, data) '
                               'VALUES (?, ?, ?)', (ids[topic], timestamp, data))
        connection.commit()
        connection.close()
    (path / 'metadata.yaml').write_text(
        yaml.safe_dump(humble_metadata(file_name, storage, rows), sort_keys=False))
    return path


def read_metadata(path: Path) -> Dict:
    """Return metadata.yaml's ``rosbag2_bagfile_information``."""
    return yaml.safe_load((path / 'metadata.yaml').read_text())['rosbag2_bagfile_information']


def storage_file(path: Path) -> Path:
    """Return the (single) storage file of a bag folder."""
    return next(p for p in sorted(path.iterdir()) if p.suffix in ('.mcap', '.db3'))


def command_scenario(texts: Sequence[str], labels: Optional[Sequence[str]] = None,
                     period_s: float = 0.2) -> BagContent:
    """Return content with a falling battery before each command, labels in custom_data."""
    content = BagContent()
    for index, text in enumerate(texts):
        content.batteries.append((index * period_s, round(0.9 - 0.1 * index, 3)))
        content.texts.append((index * period_s + period_s / 2, text))
    if labels is not None:
        content.custom_data['adaptive_nlp_ros.expected_labels'] = json.dumps(
            dict(zip(texts, labels)))
    return content
