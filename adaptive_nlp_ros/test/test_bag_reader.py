"""
The core bag reader (no ROS): foreign bags, metadata versions 4 to 9, damage, replay helpers.

Bags come from ``ros2 bag`` itself (the shared fixtures), from rosbags' writer and from plain
sqlite3 with Humble's schema (``bag_helpers``), never from the project's own recorder.
"""

import math
import os
from pathlib import Path
import shutil

from adaptive_nlp_ros.core.bags.bag_playback import (header_paths, restamp, select_topics,
                                                     start_ns, Timeline)
from adaptive_nlp_ros.core.bags.bag_reader import BagError, open_bag, parse_offered_qos
from adaptive_nlp_ros.core.bags.bag_types import MessageCodec, project_typestore
from bag_helpers import (BagContent, command_scenario, read_metadata, storage_file,
                         write_humble_bag, write_rosbags_bag)
import numpy as np
import pytest
from rosbags.rosbag2 import CompressionFormat, CompressionMode, StoragePlugin, Writer
from rosbags.typesys import get_types_from_msg, get_typestore, Stores
import yaml

# Bags written by `ros2 bag` itself (rosbag2's test resources, see data/ros2_bag_talker).
FIXTURES = Path(__file__).resolve().parent / 'data' / 'ros2_bag_talker'
TEXTS = ['stop now', 'go to the kitchen', 'what is your battery level', 'pick up the red cup']


def decoded_texts(path, topic='/text_command'):
    """Return the decoded data of every std_msgs/String on ``topic``, in order."""
    codec = MessageCodec()
    with open_bag(path) as reader:
        info = reader.info
        return [codec.decode(info.topics[m.topic], m.data).data
                for m in reader.messages([topic])]


# -- bags that ros2 bag wrote ---------------------------------------------------------------

@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_reads_every_message_of_a_ros2_bag_recording(storage):
    """Both talker recordings: all 20 messages (rosbags 0.11.9's own Reader yields none)."""
    with open_bag(FIXTURES / storage) as reader:
        messages = list(reader.messages())
        info = reader.info
        assert reader.warnings == []
    assert info.storage == storage
    assert info.version == 4
    assert len(messages) == 20
    assert {name: t.read_count for name, t in info.topics.items()} == {
        '/topic': 10, '/rosout': 10, '/parameter_events': 0}
    assert [m.timestamp_ns for m in messages] == sorted(m.timestamp_ns for m in messages)
    assert decoded_texts(FIXTURES / storage, '/topic') == [
        f'Hello, world! {i}' for i in range(10)]


# -- metadata versions 5 (Humble) to 9 (Kilted) ------------------------------------------

@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
@pytest.mark.parametrize('version', [5, 8, 9])
def test_metadata_versions(tmp_path, storage, version):
    """Humble (5, its own sqlite schema) to Kilted (9): decoded fields equal what was written."""
    content = command_scenario(TEXTS)
    path = tmp_path / f'v{version}_{storage}'
    if version == 5:
        write_humble_bag(path, content, storage)
    else:
        write_rosbags_bag(path, content, storage, version)
    assert read_metadata(path)['version'] == version
    codec = MessageCodec()
    with open_bag(path) as reader:
        assert reader.info.version == version
        messages = list(reader.messages())
        assert reader.warnings == []
        topics = reader.info.topics
        batteries = [codec.decode(topics[m.topic], m.data) for m in messages
                     if m.topic == '/battery_state']
        texts = [codec.decode(topics[m.topic], m.data).data for m in messages
                 if m.topic == '/text_command']
    assert texts == TEXTS
    assert [round(b.percentage, 3) for b in batteries] == [b for _, b in content.batteries]
    assert all(b.present and b.header.frame_id == 'battery' for b in batteries)
    assert topics['/text_command'].offered_qos[0].reliability == 'reliable'
    if version >= 7:
        assert topics['/text_command'].type_hash.startswith('RIHS01_')


@pytest.mark.parametrize('mode', [CompressionMode.FILE, CompressionMode.MESSAGE])
def test_zstd_compressed_bags(tmp_path, mode):
    """``ros2 bag record --compression-mode file|message`` bags read like plain ones."""
    typestore = get_typestore(Stores.ROS2_KILTED)
    writer = Writer(tmp_path / 'compressed', version=9, storage_plugin=StoragePlugin.SQLITE3)
    writer.set_compression(mode, CompressionFormat.ZSTD)
    writer.open()
    connection = writer.add_connection('/text_command', 'std_msgs/msg/String',
                                       typestore=typestore)
    for index, text in enumerate(TEXTS):
        message = typestore.types['std_msgs/msg/String'](data=text)
        writer.write(connection, 1000 + index,
                     bytes(typestore.serialize_cdr(message, 'std_msgs/msg/String')))
    writer.close()
    assert decoded_texts(tmp_path / 'compressed') == TEXTS


def test_folder_without_metadata_and_single_file(tmp_path):
    """A killed recording (no metadata.yaml) and a bare storage file still read, with a note."""
    path = write_rosbags_bag(tmp_path / 'bag', command_scenario(TEXTS), 'sqlite3')
    (path / 'metadata.yaml').unlink()
    with open_bag(path) as reader:
        assert reader.info.version is None
        assert any('no metadata.yaml' in warning for warning in reader.warnings)
    assert decoded_texts(path) == TEXTS
    mcap_bag = write_rosbags_bag(tmp_path / 'mcap_bag', command_scenario(TEXTS), 'mcap')
    assert decoded_texts(storage_file(mcap_bag)) == TEXTS


@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_a_bags_file_given_alone_reads_the_metadata_beside_it(storage):
    """As ``ros2 bag info`` does: the file of a one-file bag takes its folder's metadata."""
    with open_bag(FIXTURES / storage) as folder:
        expected = (folder.info.version, folder.info.duration_ns, folder.info.message_count)
        (file,) = folder.info.files
    with open_bag(file) as alone:
        assert expected[0] is not None
        assert (alone.info.version, alone.info.duration_ns, alone.info.message_count) == expected
        assert not alone.warnings
    assert decoded_texts(file, '/topic') == decoded_texts(FIXTURES / storage, '/topic')


def test_one_file_of_a_split_bag_is_read_alone_with_a_warning(tmp_path):
    path = write_rosbags_bag(tmp_path / 'bag', command_scenario(TEXTS), 'mcap')
    metadata = (path / 'metadata.yaml').read_text()
    name = storage_file(path).name
    (path / 'metadata.yaml').write_text(metadata.replace(f'- {name}', f'- {name}\n  - other.mcap'))
    with open_bag(storage_file(path)) as reader:
        assert reader.info.version is None
        assert any('one of the 2 files' in warning for warning in reader.warnings)
    assert decoded_texts(storage_file(path)) == TEXTS


def test_a_broken_metadata_beside_a_file_is_a_warning_not_an_error(tmp_path):
    path = write_rosbags_bag(tmp_path / 'bag', command_scenario(TEXTS), 'mcap')
    (path / 'metadata.yaml').write_text('rosbag2_bagfile_information: [unclosed\n')
    with open_bag(storage_file(path)) as reader:
        assert reader.info.version is None
        assert any('not valid YAML' in warning and 'alone' in warning
                   for warning in reader.warnings)
    assert decoded_texts(storage_file(path)) == TEXTS


def test_counts_that_disagree_are_warned_about(tmp_path):
    """metadata.yaml counting other numbers than the storage holds is said loudly."""
    path = write_rosbags_bag(tmp_path / 'bag', command_scenario(TEXTS), 'mcap')
    metadata = yaml.safe_load((path / 'metadata.yaml').read_text())
    for entry in metadata['rosbag2_bagfile_information']['topics_with_message_count']:
        entry['message_count'] += 5
    (path / 'metadata.yaml').write_text(yaml.safe_dump(metadata))
    with open_bag(path) as reader:
        assert any('/text_command' in w and 'counts 9' in w and 'holds 4' in w
                   for w in reader.warnings), reader.warnings
        assert len(list(reader.messages())) == 8


def test_unknown_type_is_decoded_from_the_bags_definition_or_skipped(tmp_path):
    """A type unknown here decodes from the definition an mcap bag carries; none: a notice."""
    typestore = get_typestore(Stores.ROS2_KILTED)
    typestore.register(get_types_from_msg('string word\nint32 count', 'other_msgs/msg/Word'))
    writer = Writer(tmp_path / 'foreign', version=9, storage_plugin=StoragePlugin.MCAP)
    writer.open()
    connection = writer.add_connection('/words', 'other_msgs/msg/Word', typestore=typestore)
    message = typestore.types['other_msgs/msg/Word'](word='hello', count=3)
    writer.write(connection, 1, bytes(typestore.serialize_cdr(message, 'other_msgs/msg/Word')))
    writer.close()
    codec = MessageCodec()
    with open_bag(tmp_path / 'foreign') as reader:
        topic = reader.info.topics['/words']
        decoded = codec.decode(topic, next(reader.messages()).data)
    assert (decoded.word, decoded.count) == ('hello', 3)
    topic.definition = ''
    fresh = MessageCodec()
    assert not fresh.resolve(topic)
    assert any('unknown here' in notice for notice in fresh.notices)


# -- damage --------------------------------------------------------------------------------

def assert_one_line_error(path, *fragments):
    """Open and read ``path``: a BagError with one line that names the problem."""
    with pytest.raises(BagError) as raised:
        with open_bag(path) as reader:
            list(reader.messages())
    text = str(raised.value)
    assert '\n' not in text
    for fragment in fragments:
        assert fragment in text, text
    return text


def test_missing_and_not_a_bag(tmp_path):
    """A missing path, an empty folder and a stray file are refused by name."""
    assert_one_line_error(tmp_path / 'nowhere', 'no such bag')
    (tmp_path / 'empty').mkdir()
    assert_one_line_error(tmp_path / 'empty', 'not a rosbag2 bag')
    (tmp_path / 'notes.txt').write_text('hello')
    assert_one_line_error(tmp_path / 'notes.txt', 'not a bag file')


def test_truncated_sqlite_file(tmp_path):
    """An sqlite3 file cut short (a partial copy) is named."""
    path = write_rosbags_bag(tmp_path / 'bag', command_scenario(TEXTS * 50), 'sqlite3')
    file = storage_file(path)
    data = file.read_bytes()
    file.write_bytes(data[:len(data) * 2 // 3])
    text = assert_one_line_error(path, file.name)
    assert 'truncated' in text or 'corrupt' in text


def test_a_cut_off_mcap_recording_is_read_up_to_the_cut(tmp_path):
    """What a recorder killed mid-write leaves: the messages before the cut, said loudly."""
    content = command_scenario(TEXTS * 50)
    whole = write_rosbags_bag(tmp_path / 'whole', content, 'mcap')
    path = write_rosbags_bag(tmp_path / 'bag', content, 'mcap')
    file = storage_file(path)
    data = file.read_bytes()
    file.write_bytes(data[:-300])                     # the summary and footer, never written
    with open_bag(whole) as reader:
        expected = [(m.topic, m.timestamp_ns, m.data) for m in reader.messages()]
    with open_bag(path) as reader:
        read = [(m.topic, m.timestamp_ns, m.data) for m in reader.messages()]
        warnings = ' '.join(reader.warnings)
    assert read == expected                           # every message before the cut, in order
    assert 'truncated' in warnings and f'read the {len(read)} messages before the damage' in (
        warnings)
    file.write_bytes(data[:200])                      # nothing readable: still an error
    assert 'truncated' in assert_one_line_error(path, file.name)


@pytest.mark.parametrize('storage', ['mcap', 'sqlite3'])
def test_garbage_storage_file(tmp_path, storage):
    """A storage file of the wrong kind, and a damaged one, fail with one line."""
    path = write_rosbags_bag(tmp_path / 'bag', command_scenario(TEXTS), storage)
    file = storage_file(path)
    file.write_bytes(b'\x00garbage' * 100)
    assert_one_line_error(path, file.name, 'not an')
    damaged = write_rosbags_bag(tmp_path / 'damaged', command_scenario(TEXTS * 50), storage)
    file = storage_file(damaged)
    data = bytearray(file.read_bytes())
    middle = len(data) // 2
    data[middle:middle + 64] = b'\xff' * 64
    file.write_bytes(bytes(data))
    assert_one_line_error(damaged, file.name)


def test_metadata_problems(tmp_path):
    """Broken YAML, a missing storage file and an unsupported storage are each named."""
    path = write_rosbags_bag(tmp_path / 'bag', command_scenario(TEXTS), 'mcap')
    good = (path / 'metadata.yaml').read_text()
    (path / 'metadata.yaml').write_text('rosbag2_bagfile_information: [unclosed')
    assert_one_line_error(path, 'metadata.yaml', 'not valid YAML')
    (path / 'metadata.yaml').write_text(good.replace('storage_identifier: mcap',
                                                     'storage_identifier: hdf5'))
    assert_one_line_error(path, 'hdf5', 'not supported')
    (path / 'metadata.yaml').write_text(good)
    storage_file(path).unlink()
    assert_one_line_error(path, 'is missing')


# -- pieces --------------------------------------------------------------------------------

def test_offered_qos_in_every_metadata_form():
    """Version 4-8 integer YAML text and version 9 name lists give the same summary."""
    old = parse_offered_qos('- history: 3\n  depth: 0\n  reliability: 2\n  durability: 1\n')
    new = parse_offered_qos([{'history': 'keep_last', 'depth': 5, 'reliability': 'best_effort',
                              'durability': 'transient_local'}])
    assert (old[0].reliability, old[0].durability) == ('best_effort', 'transient_local')
    assert (new[0].reliability, new[0].durability, new[0].depth) == (
        'best_effort', 'transient_local', 5)
    assert parse_offered_qos('') == () and parse_offered_qos('[unclosed') == ()


def test_project_types_hash_like_the_generated_interfaces():
    """The registered .msg files hash to what rosidl generated (share/.../msg/*.json)."""
    import json

    from ament_index_python.packages import get_package_share_directory

    typestore = project_typestore()
    share = Path(get_package_share_directory('adaptive_nlp_ros_msgs')) / 'msg'
    for name in ('InferenceResult', 'ChosenConfiguration'):
        expected = json.loads((share / f'{name}.json').read_text())['type_hashes'][0]
        assert typestore.hash_rihs01(expected['type_name']) == expected['hash_string']


def test_replay_selection_headers_and_timeline(tmp_path):
    """Default replay plays inputs only; --topics and remaps are checked; stamps move."""
    content = command_scenario(TEXTS)
    content.results = [(0.15, TEXTS[0], 'stop')]
    path = write_rosbags_bag(tmp_path / 'bag', content, 'mcap')
    with open_bag(path) as reader:
        topics = reader.info.topics
        played = select_topics(topics, None, {'/text_command': 'commands'})
        assert {(p.recorded, p.published) for p in played} == {
            ('/text_command', 'commands'), ('/battery_state', '/battery_state')}
        assert [p.recorded for p in select_topics(topics, ['inference_result'], {})] == [
            '/inference_result']
        with pytest.raises(BagError, match='not in the bag'):
            select_topics(topics, ['/chatter'], {})
        with pytest.raises(BagError, match='does not have'):
            select_topics(topics, None, {'/chatter': 'text_command'})
        codec = MessageCodec()
        store = codec.typestore
        assert header_paths(store.fielddefs, 'adaptive_nlp_ros_msgs/msg/InferenceResult') == [
            ('header',), ('configuration', 'header')]
        assert header_paths(store.fielddefs, 'std_msgs/msg/String') == []
        message = next(reader.messages(['/inference_result']))
        result = codec.decode(topics['/inference_result'], message.data)
    restamp(result, [('header',), ('configuration', 'header')], 5_250_000_000)
    assert (result.header.stamp.sec, result.header.stamp.nanosec) == (5, 250_000_000)
    assert result.configuration.header.stamp.sec == 5
    assert math.isnan(result.configuration.confidence_threshold)
    timeline = Timeline(first_ns=10_000_000_000, rate=2.0)
    assert timeline.offset_s(12_000_000_000) == pytest.approx(1.0)
    assert timeline.recorded_ns(1.0) == 12_000_000_000
    assert start_ns(None, 7, 1.5) == 1_500_000_007


def test_shared_fixture_copy_is_read_only_safe(tmp_path):
    """A bag in a read-only folder (like the shared fixtures) opens without writing."""
    path = write_rosbags_bag(tmp_path / 'bag', command_scenario(TEXTS), 'sqlite3')
    shutil.copytree(path, tmp_path / 'ro')
    os.chmod(tmp_path / 'ro', 0o555)
    try:
        assert decoded_texts(tmp_path / 'ro') == TEXTS
    finally:
        os.chmod(tmp_path / 'ro', 0o755)


def test_writes_of_bag_content_sanity():
    """The helper's content knows its command count (guards the helpers themselves)."""
    assert BagContent(texts=[(0.0, 'a')], images=[(0.1, 1, 1, b'\x00')]).command_count() == 2


def test_message_recorded_with_an_older_definition(tmp_path):
    """A bag whose InferenceResult lacks a field decodes with the bag's own definition."""
    from bag_helpers import MESSAGES_DIR

    typestore = get_typestore(Stores.ROS2_KILTED)
    old = (MESSAGES_DIR / 'InferenceResult.msg').read_text().replace(
        'bool refined', '# (no refined field yet)').replace('Action[] actions', '# (none yet)')
    types = get_types_from_msg((MESSAGES_DIR / 'ChosenConfiguration.msg').read_text(),
                               'adaptive_nlp_ros_msgs/msg/ChosenConfiguration')
    types.update(get_types_from_msg(old, 'adaptive_nlp_ros_msgs/msg/InferenceResult'))
    typestore.register(types)
    result_type = 'adaptive_nlp_ros_msgs/msg/InferenceResult'
    fields = {name: typestore.types[name] for name in (
        result_type, 'adaptive_nlp_ros_msgs/msg/ChosenConfiguration', 'std_msgs/msg/Header',
        'builtin_interfaces/msg/Time')}
    header = fields['std_msgs/msg/Header'](fields['builtin_interfaces/msg/Time'](1, 2), 'f')
    configuration = fields['adaptive_nlp_ros_msgs/msg/ChosenConfiguration'](
        header, 'full', 'minilm', 6, 6, ['fp32'], 0.5, 0.4, 3.0, False, '', 'robot', 0.0)
    message = fields[result_type](header, 1, 'text', 'dock now', 0, 'dock', 0.9, ['dock'],
                                  np.array([0.9], np.float32), configuration, 1.0, 2.0, 'r')
    writer = Writer(tmp_path / 'old', version=9, storage_plugin=StoragePlugin.MCAP)
    writer.open()
    connection = writer.add_connection('/inference_result', result_type, typestore=typestore)
    writer.write(connection, 5, bytes(typestore.serialize_cdr(message, result_type)))
    writer.close()
    codec = MessageCodec()
    with open_bag(tmp_path / 'old') as reader:
        topic = reader.info.topics['/inference_result']
        assert topic.type_hash != project_typestore().hash_rihs01(result_type)
        decoded = codec.decode(topic, next(reader.messages()).data)
    assert (decoded.input_text, decoded.label, decoded.configuration.strategy) == (
        'dock now', 'dock', 'full')
    assert not hasattr(decoded, 'refined')
    assert any('another definition' in notice for notice in codec.notices)


def test_sample_bag_opens_in_rosbags_and_the_mcap_tools():
    """
    What the project records is a standard bag: rosbags and mcap-ros2 read all of it.

    The sample predates ``executed_on`` / ``round_trip_ms``: rosbags reads it by the definitions
    the bag itself carries (as our reader does), not by today's.
    """
    from rosbags.typesys import get_types_from_msg, get_typestore, Stores
    from mcap.reader import make_reader
    from mcap_ros2.decoder import DecoderFactory
    from rosbags.rosbag2 import Reader

    sample = Path(__file__).resolve().parent / 'data' / 'demo_sample_bag'
    with open_bag(sample) as reader:
        ours = len(list(reader.messages()))
        assert reader.warnings == []
    with Reader(sample) as rosbags_reader:
        typestore = get_typestore(Stores.ROS2_KILTED)
        count = 0
        for connection in rosbags_reader.connections:
            if connection.msgtype.startswith('adaptive_nlp_ros_msgs/'):
                typestore.register(get_types_from_msg(connection.msgdef.data,
                                                      connection.msgtype))
        for connection, _, data in rosbags_reader.messages():
            typestore.deserialize_cdr(data, connection.msgtype)
            count += 1
        assert count == ours == rosbags_reader.message_count
    mcap_file = next(sample.glob('*.mcap'))
    with open(mcap_file, 'rb') as stream:
        decoded = [(channel.topic, message) for _, channel, _, message in make_reader(
            stream, decoder_factories=[DecoderFactory()]).iter_decoded_messages()]
    assert len(decoded) == ours
    results = [message for topic, message in decoded if topic == '/inference_result']
    assert results and all(result.status == 0 and result.label for result in results)
