"""
Reading rosbag2 bags robustly: sqlite3 and mcap storage, metadata versions 1 to 9.

Messages are read straight from the storage files (the ``mcap`` library; ``sqlite3`` from the
standard library), never through rosbags' high-level ``Reader``: rosbags 0.11.9 pairs a storage
file's connections with metadata.yaml's by comparing their offered-QoS text, and on bags that
``ros2 bag`` itself wrote, whose metadata.yaml and storage file disagree on that text (deadline
0 against 2147483647 s, for one), it yields no message at all. Here the storage file is the
source of truth: its topics are merged with metadata.yaml's, and where counts disagree
(metadata.yaml against the storage, the storage against what was read) a warning says so.

A path may be a bag folder (with or without metadata.yaml: a recording that was killed never
writes it) or a single ``.mcap`` / ``.db3`` file (with the metadata.yaml beside it when that
describes this file alone). Metadata versions: 4 (Foxy), 5 (Humble),
6-8 (Iron, Jazzy), 9 (Kilted); 1-3 are read as far as they go. Split bags (several files) and
zstd compression (``file`` and ``message`` modes, and compressed mcap chunks) are handled.

Every failure a user can meet (a missing path, not a bag, a truncated or corrupt file, an
unsupported storage or compression) raises :class:`BagError` with one line that names the
file and the problem.
"""

from dataclasses import dataclass, field
import heapq
import logging
from pathlib import Path
import sqlite3
import tempfile
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Set, Tuple
from urllib.parse import quote

import yaml

LOG = logging.getLogger('adaptive_nlp.bag')

METADATA_FILE = 'metadata.yaml'
STORAGE_SUFFIXES = {'.mcap': 'mcap', '.db3': 'sqlite3'}
NEWEST_KNOWN_VERSION = 9
_SQLITE_MAGIC = b'SQLite format 3\x00'
_MCAP_MAGIC = b'\x89MCAP0\r\n'

# rmw enum values, as metadata versions 4-8 write them (version 9 writes the names).
_RELIABILITY = {0: 'system_default', 1: 'reliable', 2: 'best_effort', 3: 'unknown',
                4: 'best_available'}
_DURABILITY = {0: 'system_default', 1: 'transient_local', 2: 'volatile', 3: 'unknown',
               4: 'best_available'}


class BagError(Exception):
    """A bag that cannot be read; the message is one line naming the file and the problem."""


@dataclass(frozen=True)
class QosSummary:
    """The parts of an offered QoS profile that matter for replay."""

    reliability: str = 'reliable'       # reliable | best_effort | system_default | ...
    durability: str = 'volatile'        # volatile | transient_local | system_default | ...
    depth: int = 0


@dataclass
class BagTopic:
    """One topic of a bag: what metadata.yaml and the storage file say about it."""

    name: str
    msgtype: str
    serialization_format: str = 'cdr'
    offered_qos: Tuple[QosSummary, ...] = ()
    type_hash: str = ''                 # RIHS01_...; '' before Iron
    definition: str = ''                # the message definition stored in the bag, if any
    definition_encoding: str = ''       # ros2msg | ros2idl | ''
    metadata_count: Optional[int] = None
    storage_count: Optional[int] = None
    read_count: int = 0


@dataclass(frozen=True)
class BagMessage:
    """One serialized message and when the recorder received it (ns since the epoch)."""

    topic: str
    msgtype: str
    timestamp_ns: int
    data: bytes


@dataclass
class BagInfo:
    """What is known about a bag once it is open."""

    path: Path
    storage: str                        # mcap | sqlite3
    version: Optional[int]              # metadata version; None without metadata.yaml
    files: List[Path]
    topics: Dict[str, BagTopic]
    message_count: Optional[int] = None  # metadata.yaml's total
    start_ns: Optional[int] = None
    duration_ns: Optional[int] = None
    ros_distro: str = ''
    custom_data: Dict[str, str] = field(default_factory=dict)
    compression_mode: str = ''          # '' | file | message
    compression_format: str = ''

    def describe_topics(self) -> str:
        """Return ``name (type)`` of every topic, comma-separated (for messages)."""
        return ', '.join(f'{topic.name} ({topic.msgtype})' for topic in self.topics.values()
                         ) or 'none'


def parse_offered_qos(value) -> Tuple[QosSummary, ...]:
    """
    Parse ``offered_qos_profiles`` in any metadata version.

    Versions 4-8 store a YAML string of rmw enum integers; version 9 a YAML list (or its text)
    with enum names. Unparseable text gives ``()`` (replay then uses its default).
    """
    if isinstance(value, str):
        if not value.strip():
            return ()
        try:
            value = yaml.safe_load(value)
        except yaml.YAMLError:
            return ()
    if not isinstance(value, list):
        return ()
    profiles = []
    for item in value:
        if not isinstance(item, dict):
            continue
        depth = item.get('depth', 0)
        profiles.append(QosSummary(_qos_name(item.get('reliability'), _RELIABILITY),
                                   _qos_name(item.get('durability'), _DURABILITY),
                                   depth if isinstance(depth, int) else 0))
    return tuple(profiles)


def _qos_name(value, names: Dict[int, str]) -> str:
    if isinstance(value, bool):
        return 'unknown'
    if isinstance(value, int):
        return names.get(value, 'unknown')
    if isinstance(value, str):
        return value.strip().lower()
    return 'unknown'


# -- storage files -------------------------------------------------------------------------

class _Storage:
    """One storage file: its topics and a time-ordered message iterator."""

    path: Path
    topics: Dict[str, BagTopic]

    def messages(self, topics: Set[str]) -> Iterator[Tuple[int, str, bytes]]:
        """Yield ``(timestamp_ns, topic, data)`` of the given topics in time order."""
        raise NotImplementedError

    def close(self) -> None:
        """Release the file."""


def _add_storage_topic(topics: Dict[str, BagTopic], topic: BagTopic, path: Path,
                       warnings: List[str]) -> bool:
    """Add a topic found in a storage file; a second type on one name is refused (False)."""
    known = topics.get(topic.name)
    if known is None:
        topics[topic.name] = topic
        return True
    if known.msgtype != topic.msgtype:
        warnings.append(f'{path.name}: topic {topic.name} appears with two types '
                        f'({known.msgtype}, {topic.msgtype}); only {known.msgtype} is read')
        return False
    if topic.storage_count is not None:
        known.storage_count = (known.storage_count or 0) + topic.storage_count
    return True


class _McapStorage(_Storage):
    """An mcap file, read with the mcap library (chunk CRCs validated)."""

    def __init__(self, path: Path, warnings: List[str]) -> None:
        from mcap.reader import SeekingReader

        self.path = path
        self.topics = {}
        self._channels: Dict[int, str] = {}
        self._salvaged = False      # no footer: read from the start up to the damage
        self._stream = open(path, 'rb')
        try:
            if self._stream.read(len(_MCAP_MAGIC)) != _MCAP_MAGIC:
                raise BagError(f'{path}: not an MCAP file (wrong magic bytes)')
            self._stream.seek(0)
            self._reader = SeekingReader(self._stream, validate_crcs=True)
            header = self._reader.get_header()
            if header.profile not in ('ros2', ''):
                warnings.append(f'{path.name}: MCAP profile {header.profile!r}, not ros2')
            try:
                summary = self._reader.get_summary()
            except Exception as error:  # the mcap library raises many kinds on a bad footer
                self._salvage(warnings, error)
                return
            if summary is None:
                self._scan_without_summary(warnings)
            else:
                counts = (summary.statistics.channel_message_counts
                          if summary.statistics is not None else None)
                for channel_id, channel in summary.channels.items():
                    schema = summary.schemas.get(channel.schema_id)
                    count = counts.get(channel_id, 0) if counts is not None else None
                    self._add_channel(channel_id, channel, schema, count, warnings)
        except BagError:
            self.close()
            raise
        except Exception as error:  # a corrupt file can make the library raise anything
            self.close()
            raise BagError(f'{path}: corrupt MCAP file [{_reason(error)}]') from None

    def _salvage(self, warnings: List[str], footer_error: Exception) -> None:
        """
        Read a file without a valid footer from its start up to where it breaks.

        What a recorder leaves when it is killed mid-write (a robot's battery dies): every
        message before the cut is intact and is read; the rest is lost, and said to be.
        Nothing readable at all is the error it was.
        """
        counts: Dict[int, int] = {}
        seen = {}
        damage = ''
        try:
            for schema, channel, _ in self._messages_to_damage():
                counts[channel.id] = counts.get(channel.id, 0) + 1
                seen[channel.id] = (channel, schema)
        except Exception as error:  # the mcap library raises many kinds on a damaged record
            damage = _reason(error)
        if not counts:
            raise BagError(f'{self.path}: truncated or corrupt MCAP file (no valid footer: the '
                           f'recording was cut off?) [{damage or _reason(footer_error)}]')
        for channel_id, (channel, schema) in seen.items():
            self._add_channel(channel_id, channel, schema, counts[channel_id], warnings)
        self._salvaged = True
        warnings.append(f'{self.path.name}: truncated or corrupt MCAP file (no valid footer: '
                        f'the recording was cut off?): read the {sum(counts.values())} '
                        'messages before the damage, the rest is lost (`mcap recover` may '
                        'save more)')

    def _messages_to_damage(self):
        """Yield ``(schema, channel, message)`` in file order from the start (no footer read)."""
        from mcap.reader import NonSeekingReader

        self._stream.seek(0)
        yield from NonSeekingReader(self._stream, validate_crcs=True).iter_messages(
            log_time_order=False)

    def _scan_without_summary(self, warnings: List[str]) -> None:
        """Read every record once to learn the channels and counts (no summary section)."""
        from mcap.reader import NonSeekingReader

        counts: Dict[int, int] = {}
        seen = {}
        self._stream.seek(0)
        for schema, channel, message in NonSeekingReader(
                self._stream, validate_crcs=True).iter_messages(log_time_order=False):
            counts[channel.id] = counts.get(channel.id, 0) + 1
            seen[channel.id] = (channel, schema)
        for channel_id, (channel, schema) in seen.items():
            self._add_channel(channel_id, channel, schema, counts[channel_id], warnings)
        self._stream.seek(0)
        warnings.append(f'{self.path.name}: no MCAP summary section; scanned the whole file')

    def _add_channel(self, channel_id, channel, schema, count, warnings: List[str]) -> None:
        metadata = channel.metadata or {}
        definition, encoding, msgtype = '', '', ''
        if schema is not None:
            msgtype = schema.name
            encoding = schema.encoding
            definition = schema.data.decode('utf-8', errors='replace')
        topic = BagTopic(
            name=channel.topic, msgtype=msgtype, serialization_format=channel.message_encoding,
            offered_qos=parse_offered_qos(metadata.get('offered_qos_profiles', '')),
            type_hash=metadata.get('topic_type_hash', ''), definition=definition,
            definition_encoding=encoding, storage_count=count)
        if _add_storage_topic(self.topics, topic, self.path, warnings):
            self._channels[channel_id] = channel.topic

    def messages(self, topics: Set[str]) -> Iterator[Tuple[int, str, bytes]]:
        """Yield ``(timestamp_ns, topic, data)`` in log-time order."""
        wanted = {cid for cid, name in self._channels.items() if name in topics}
        if not wanted:
            return
        if self._salvaged:
            yield from self._salvaged_messages(wanted)
            return
        self._stream.seek(0)
        for _, channel, message in self._reader.iter_messages(
                topics=sorted({self._channels[cid] for cid in wanted}), log_time_order=True):
            if channel.id in wanted:
                yield message.log_time, channel.topic, bytes(message.data)

    def _salvaged_messages(self, wanted: Set[int]) -> Iterator[Tuple[int, str, bytes]]:
        """Yield what ``_salvage`` found readable, in log-time order (sorted in memory)."""
        found = []
        try:
            for _, channel, message in self._messages_to_damage():
                if channel.id in wanted:
                    found.append((message.log_time, channel.topic, bytes(message.data)))
        except Exception:  # noqa: B902 - the damage _salvage found and warned about
            pass
        found.sort(key=lambda item: item[0])
        yield from found

    def close(self) -> None:
        """Close the file."""
        self._stream.close()


class _SqliteStorage(_Storage):
    """A rosbag2 sqlite3 file (any schema version), read with the standard library."""

    def __init__(self, path: Path, warnings: List[str]) -> None:
        self.path = path
        self.topics = {}
        self._ids: Dict[int, str] = {}
        with open(path, 'rb') as stream:
            if stream.read(len(_SQLITE_MAGIC)) != _SQLITE_MAGIC:
                raise BagError(f'{path}: not an SQLite database (wrong magic bytes)')
        self._connection = self._connect(path)
        try:
            self._load_topics(warnings)
        except BagError:
            self.close()
            raise
        except sqlite3.Error as error:
            self.close()
            raise BagError(f'{path}: corrupt sqlite3 bag [{_reason(error)}]') from None

    @staticmethod
    def _connect(path: Path) -> sqlite3.Connection:
        """Open read-only; where that is refused (a read-only folder), as immutable."""
        uri = f'file:{quote(str(path.resolve()))}'
        try:
            connection = sqlite3.connect(f'{uri}?mode=ro', uri=True, check_same_thread=False)
            connection.execute('SELECT count(*) FROM sqlite_master').fetchone()
            return connection
        except sqlite3.Error:
            try:
                return sqlite3.connect(f'{uri}?mode=ro&immutable=1', uri=True,
                                       check_same_thread=False)
            except sqlite3.Error as error:
                raise BagError(f'{path}: cannot open the sqlite3 file [{_reason(error)}]'
                               ) from None

    def _load_topics(self, warnings: List[str]) -> None:
        connection = self._connection
        check = connection.execute('PRAGMA quick_check').fetchall()
        if [row[0] for row in check] != ['ok']:
            raise BagError(f'{self.path}: corrupt sqlite3 bag (integrity check: '
                           f'{"; ".join(str(row[0]) for row in check[:3])})')
        tables = {row[0] for row in connection.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not {'topics', 'messages'} <= tables:
            raise BagError(f'{self.path}: not a rosbag2 sqlite3 file (no topics and messages '
                           'tables)')
        columns = {row[1] for row in connection.execute('PRAGMA table_info(topics)')}
        select = ['id', 'name', 'type',
                  'serialization_format' if 'serialization_format' in columns else "'cdr'",
                  'offered_qos_profiles' if 'offered_qos_profiles' in columns else "''",
                  'type_description_hash' if 'type_description_hash' in columns else "''"]
        definitions: Dict[str, Tuple[str, str]] = {}
        if 'message_definitions' in tables:
            for msgtype, encoding, text in connection.execute(
                    'SELECT topic_type, encoding, encoded_message_definition '
                    'FROM message_definitions'):
                definitions[msgtype] = (text or '', encoding or '')
        counts = dict(connection.execute(
            'SELECT topic_id, COUNT(*) FROM messages GROUP BY topic_id').fetchall())
        for topic_id, name, msgtype, serialization, qos, digest in connection.execute(
                f'SELECT {", ".join(select)} FROM topics ORDER BY id'):
            definition, encoding = definitions.get(msgtype, ('', ''))
            topic = BagTopic(name=name, msgtype=msgtype, serialization_format=serialization,
                             offered_qos=parse_offered_qos(qos or ''), type_hash=digest or '',
                             definition=definition, definition_encoding=encoding,
                             storage_count=counts.get(topic_id, 0))
            if _add_storage_topic(self.topics, topic, self.path, warnings):
                self._ids[topic_id] = name

    def messages(self, topics: Set[str]) -> Iterator[Tuple[int, str, bytes]]:
        """Yield ``(timestamp_ns, topic, data)`` in timestamp order."""
        ids = [topic_id for topic_id, name in self._ids.items() if name in topics]
        if not ids:
            return
        cursor = self._connection.execute(
            f'SELECT topic_id, timestamp, data FROM messages WHERE topic_id IN '
            f'({",".join("?" * len(ids))}) ORDER BY timestamp, id', ids)
        for topic_id, timestamp, data in cursor:
            yield int(timestamp), self._ids[topic_id], bytes(data)

    def close(self) -> None:
        """Close the connection."""
        self._connection.close()


def _reason(error: BaseException) -> str:
    """Return ``Type: message`` of an exception, on one line."""
    text = ' '.join(str(error).split())
    return f'{type(error).__name__}: {text}' if text else type(error).__name__


# -- the bag -------------------------------------------------------------------------------

class BagReader:
    """
    An open bag: its info, the warnings met so far, and a message iterator.

    Use as a context manager, or call :meth:`close`.
    """

    def __init__(self, path) -> None:
        """Open ``path`` (a bag folder or one storage file); raise BagError if unusable."""
        self.path = Path(path).expanduser()
        self.warnings: List[str] = []
        self._storages: List[_Storage] = []
        self._temporary: Optional[tempfile.TemporaryDirectory] = None
        self._decompress: Optional[Callable[[bytes], bytes]] = None
        try:
            self.info = self._open()
        except BaseException:
            self.close()
            raise
        for warning in self.warnings:
            LOG.warning('%s', warning)

    def __enter__(self) -> 'BagReader':
        """Return the open reader."""
        return self

    def __exit__(self, *exc_info) -> None:
        """Close the reader."""
        self.close()

    def close(self) -> None:
        """Close every storage file and remove decompressed copies."""
        for storage in self._storages:
            storage.close()
        self._storages = []
        if self._temporary is not None:
            self._temporary.cleanup()
            self._temporary = None

    def warn(self, text: str) -> None:
        """Record and log a warning about this bag."""
        self.warnings.append(text)
        LOG.warning('%s', text)

    # -- opening ---------------------------------------------------------------------------

    def _open(self) -> BagInfo:
        path = self.path
        if not path.exists():
            raise BagError(f'{path}: no such bag (expected a rosbag2 folder or a .mcap / '
                           '.db3 file)')
        metadata: Optional[dict] = None
        if path.is_dir():
            if (path / METADATA_FILE).is_file():
                metadata = _load_metadata(path / METADATA_FILE)
                files = _files_from_metadata(path, metadata)
            else:
                files = sorted(p for p in path.iterdir() if _storage_of(p))
                if not files:
                    raise BagError(f'{path}: not a rosbag2 bag (no {METADATA_FILE} and no '
                                   '.mcap / .db3 file)')
                self.warnings.append(f'{path}: no {METADATA_FILE} (the recording did not end '
                                     'cleanly?); reading the storage files alone')
            root = path
        else:
            if not _storage_of(path):
                raise BagError(f'{path}: not a bag file (expected .mcap or .db3, or a rosbag2 '
                               'folder)')
            files, root = [path], path.parent
            metadata = self._metadata_beside(path)
        storage = _storage_of(files[0])
        if any(_storage_of(other) != storage for other in files):
            raise BagError(f'{path}: mixes storage formats ({", ".join(f.name for f in files)})')
        info = BagInfo(path=path, storage=storage, version=None, files=files, topics={})
        if metadata is not None:
            self._apply_metadata(info, metadata, root)
        self._open_storages(info)
        self._merge_topics(info, metadata)
        return info

    def _metadata_beside(self, path: Path) -> Optional[dict]:
        """
        Return the metadata.yaml next to a storage file when it describes that file alone.

        ``ros2 bag info`` takes a bag's file as well as its folder; the file alone knows no
        duration or metadata counts. When the folder's metadata.yaml lists several files
        (a split bag), this file is read alone and a warning says to pass the folder.
        """
        beside = path.parent / METADATA_FILE
        if not beside.is_file():
            return None
        try:
            metadata = _load_metadata(beside)
        except BagError as error:
            self.warnings.append(f'{error}; reading {path.name} alone')
            return None
        names = metadata.get('relative_file_paths')
        names = [Path(str(name)).name for name in names] if isinstance(names, list) else []
        if names == [path.name]:
            return metadata
        if path.name in names:
            self.warnings.append(f'{path}: one of the {len(names)} files of the bag '
                                 f'{path.parent} ({METADATA_FILE}); reading this file alone '
                                 '(pass the folder to read them all)')
        return None

    def _apply_metadata(self, info: BagInfo, metadata: dict, root: Path) -> None:
        version = metadata.get('version')
        if not isinstance(version, int):
            raise BagError(f'{root / METADATA_FILE}: no integer "version"')
        if version > NEWEST_KNOWN_VERSION:
            self.warnings.append(f'{root / METADATA_FILE}: metadata version {version} is newer '
                                 f'than {NEWEST_KNOWN_VERSION}; reading it as far as it goes')
        info.version = version
        declared = str(metadata.get('storage_identifier', '') or '')
        if declared and declared != info.storage:
            if declared not in STORAGE_SUFFIXES.values():
                raise BagError(f'{root}: storage {declared!r} is not supported (mcap and '
                               'sqlite3 are)')
            self.warnings.append(f'{root / METADATA_FILE}: says storage {declared}, the files '
                                 f'are {info.storage}')
        info.message_count = _int_or_none(metadata.get('message_count'))
        info.start_ns = _int_or_none((metadata.get('starting_time') or {}).get(
            'nanoseconds_since_epoch'))
        info.duration_ns = _int_or_none((metadata.get('duration') or {}).get('nanoseconds'))
        info.ros_distro = str(metadata.get('ros_distro') or '')
        custom = metadata.get('custom_data') or {}
        info.custom_data = {str(k): str(v) for k, v in custom.items()} if isinstance(
            custom, dict) else {}
        mode = str(metadata.get('compression_mode') or '').strip().lower()
        info.compression_mode = '' if mode == 'none' else mode
        info.compression_format = str(metadata.get('compression_format') or '').lower()
        if info.compression_mode:
            if info.compression_mode not in ('file', 'message'):
                raise BagError(f'{root}: compression mode {mode!r} is not supported')
            if info.compression_format != 'zstd':
                raise BagError(f'{root}: compression format {info.compression_format!r} is '
                               'not supported (zstd is)')
        topics = metadata.get('topics_with_message_count') or []
        if not isinstance(topics, list):
            raise BagError(f'{root / METADATA_FILE}: "topics_with_message_count" is not a list')
        for entry in topics:
            topic_metadata = (entry or {}).get('topic_metadata') or {}
            name, msgtype = topic_metadata.get('name'), topic_metadata.get('type')
            if not isinstance(name, str) or not isinstance(msgtype, str):
                raise BagError(f'{root / METADATA_FILE}: a topic without name or type')
            info.topics[name] = BagTopic(
                name=name, msgtype=msgtype,
                serialization_format=str(topic_metadata.get('serialization_format') or 'cdr'),
                offered_qos=parse_offered_qos(topic_metadata.get('offered_qos_profiles', '')),
                type_hash=str(topic_metadata.get('type_description_hash') or ''),
                metadata_count=_int_or_none(entry.get('message_count')))

    def _open_storages(self, info: BagInfo) -> None:
        files = info.files
        if info.compression_mode == 'file':
            files = self._decompress_files(files)
        elif info.compression_mode == 'message':
            self._decompress = _zstd_decompressor()
        for file in files:
            opener = _McapStorage if info.storage == 'mcap' else _SqliteStorage
            try:
                self._storages.append(opener(file, self.warnings))
            except OSError as error:
                raise BagError(f'{file}: cannot read [{_reason(error)}]') from None

    def _decompress_files(self, files: List[Path]) -> List[Path]:
        decompress = _zstd_stream_decompressor()
        self._temporary = tempfile.TemporaryDirectory(prefix='adaptive_nlp_bag_')
        plain = []
        for file in files:
            target = Path(self._temporary.name) / (file.name[:-len('.zstd')]
                                                   if file.name.endswith('.zstd') else file.name)
            try:
                decompress(file, target)
            except Exception as error:  # zstandard raises its own error type
                raise BagError(f'{file}: truncated or corrupt zstd file [{_reason(error)}]'
                               ) from None
            plain.append(target)
        return plain

    def _merge_topics(self, info: BagInfo, metadata: Optional[dict]) -> None:
        """Merge the storage files' topics into metadata.yaml's; warn where they disagree."""
        from_storage: Dict[str, BagTopic] = {}
        for storage in self._storages:
            for topic in storage.topics.values():
                _add_storage_topic(from_storage, BagTopic(**vars(topic)), storage.path,
                                   self.warnings)
        merged: Dict[str, BagTopic] = {}
        for name, stored in from_storage.items():
            listed = info.topics.get(name)
            if listed is None:
                if metadata is not None:
                    self.warnings.append(f'topic {name} ({stored.msgtype}) is in the storage '
                                         f'but not in {METADATA_FILE}')
                merged[name] = stored
                continue
            if listed.msgtype != stored.msgtype:
                self.warnings.append(f'topic {name}: {METADATA_FILE} says {listed.msgtype}, '
                                     f"the storage {stored.msgtype}; using the storage's")
            stored.metadata_count = listed.metadata_count
            stored.type_hash = stored.type_hash or listed.type_hash
            stored.offered_qos = stored.offered_qos or listed.offered_qos
            if (listed.metadata_count is not None and stored.storage_count is not None
                    and listed.metadata_count != stored.storage_count):
                self.warnings.append(
                    f'topic {name}: {METADATA_FILE} counts {listed.metadata_count} messages, '
                    f'the storage holds {stored.storage_count}')
            merged[name] = stored
        for name, listed in info.topics.items():
            if name not in merged:
                if listed.metadata_count:
                    self.warnings.append(f'topic {name}: {METADATA_FILE} counts '
                                         f'{listed.metadata_count} messages, the storage has '
                                         'no such topic')
                listed.storage_count = 0
                merged[name] = listed
        info.topics = merged

    # -- reading ---------------------------------------------------------------------------

    def messages(self, topics: Optional[Iterable[str]] = None) -> Iterator[BagMessage]:
        """
        Yield the messages of ``topics`` (default: every cdr topic) in receive-time order.

        Raises BagError where a storage file turns out truncated or corrupt. After a complete
        pass, a topic whose read count differs from what the bag declares is warned about.
        """
        info = self.info
        names = set(info.topics) if topics is None else set(topics)
        names = {name for name in names if name in info.topics
                 and info.topics[name].serialization_format == 'cdr'}
        for name in names:
            info.topics[name].read_count = 0
        streams = [self._guarded(storage, names) for storage in self._storages]
        for timestamp, topic, data in heapq.merge(*streams, key=lambda item: item[0]):
            bag_topic = info.topics[topic]
            bag_topic.read_count += 1
            yield BagMessage(topic, bag_topic.msgtype, timestamp, data)
        for name in sorted(names):
            topic = info.topics[name]
            declared = topic.storage_count if topic.storage_count is not None else (
                topic.metadata_count)
            if declared is not None and declared != topic.read_count:
                self.warn(f'topic {name}: the bag declares {declared} messages but '
                          f'{topic.read_count} were read')

    def _guarded(self, storage: _Storage, names: Set[str]) -> Iterator[Tuple[int, str, bytes]]:
        """Iterate one storage file, turning any failure into a one-line BagError."""
        try:
            for timestamp, topic, data in storage.messages(names):
                if self._decompress is not None:
                    data = self._decompress(data)
                yield timestamp, topic, data
        except BagError:
            raise
        except Exception as error:  # a damaged file can make its reader raise anything
            raise BagError(f'{storage.path}: truncated or corrupt [{_reason(error)}]') from None


def open_bag(path) -> BagReader:
    """Open a bag folder or storage file (see :class:`BagReader`)."""
    return BagReader(path)


def _storage_of(path: Path) -> str:
    """Return ``mcap`` / ``sqlite3`` from a file name (``.zstd`` ignored), else ''."""
    name = path.name[:-len('.zstd')] if path.name.endswith('.zstd') else path.name
    return STORAGE_SUFFIXES.get(Path(name).suffix, '') if path.is_file() else ''


def _load_metadata(path: Path) -> dict:
    """Return the ``rosbag2_bagfile_information`` mapping of a metadata.yaml."""
    try:
        document = yaml.safe_load(path.read_text(encoding='utf-8'))
    except (OSError, UnicodeDecodeError) as error:
        raise BagError(f'{path}: cannot read [{_reason(error)}]') from None
    except yaml.YAMLError as error:
        raise BagError(f'{path}: not valid YAML [{_reason(error)}]') from None
    if not isinstance(document, dict) or not isinstance(
            document.get('rosbag2_bagfile_information'), dict):
        raise BagError(f'{path}: not rosbag2 metadata (no rosbag2_bagfile_information)')
    return document['rosbag2_bagfile_information']


def _files_from_metadata(folder: Path, metadata: dict) -> List[Path]:
    """Return the storage files metadata.yaml names; BagError where one is missing."""
    names = metadata.get('relative_file_paths') or []
    if not isinstance(names, list) or not names:
        raise BagError(f'{folder / METADATA_FILE}: lists no storage file')
    files = []
    for name in names:
        candidates = [folder / str(name), folder / Path(str(name)).name]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            raise BagError(f'{folder}: storage file {Path(str(name)).name} is missing')
        if not _storage_of(found):
            raise BagError(f'{found}: unknown storage file type (expected .mcap or .db3)')
        files.append(found)
    return files


def _int_or_none(value) -> Optional[int]:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _zstd_decompressor() -> Callable[[bytes], bytes]:
    import zstandard

    context = zstandard.ZstdDecompressor()

    def decompress(data: bytes) -> bytes:
        return context.decompressobj().decompress(data)
    return decompress


def _zstd_stream_decompressor() -> Callable[[Path, Path], None]:
    import zstandard

    def decompress(source: Path, target: Path) -> None:
        with open(source, 'rb') as reader, open(target, 'wb') as writer:
            zstandard.ZstdDecompressor().copy_stream(reader, writer)
    return decompress
