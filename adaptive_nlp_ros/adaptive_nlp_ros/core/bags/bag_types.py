"""
Message types for rosbags: rosbags' typestore with this project's messages registered.

A bag stores each topic's type name, its message definition (``ros2msg`` text) and, from
Iron on, its RIHS01 type hash. The hashes rosbags computes equal rclpy's, custom messages
included, once the project's ``.msg`` files are registered: they are read from the installed
``adaptive_nlp_ros_msgs`` share folder (what rclpy uses), else from the source checkout. Any
other type that rosbags does not know is looked up the same way in every ament prefix
(``share/<package>/msg/<Name>.msg``), nested types included.

No rclpy and no generated message modules here: this is plain text and rosbags.
"""

import os
from pathlib import Path
from typing import Dict, List, Optional

from rosbags.typesys import get_types_from_msg, get_typestore, Stores
from rosbags.typesys.store import Typestore

MESSAGES_PACKAGE = 'adaptive_nlp_ros_msgs'
PROJECT_MESSAGES = (f'{MESSAGES_PACKAGE}/msg/Argument', f'{MESSAGES_PACKAGE}/msg/Action',
                    f'{MESSAGES_PACKAGE}/msg/ChosenConfiguration',
                    f'{MESSAGES_PACKAGE}/msg/InferenceResult')

# The type names the project's topics carry (the README's "ROS interface").
STRING_TYPE = 'std_msgs/msg/String'
IMAGE_TYPE = 'sensor_msgs/msg/Image'
BATTERY_TYPE = 'sensor_msgs/msg/BatteryState'
RESULT_TYPE = f'{MESSAGES_PACKAGE}/msg/InferenceResult'
CONFIGURATION_TYPE = f'{MESSAGES_PACKAGE}/msg/ChosenConfiguration'
DIAGNOSTICS_TYPE = 'diagnostic_msgs/msg/DiagnosticArray'
CLOCK_TYPE = 'rosgraph_msgs/msg/Clock'
HEADER_TYPE = 'std_msgs/msg/Header'

# The ROS release whose wheels this project runs on; its definitions are rosbags' base.
BASE_STORE = Stores.ROS2_KILTED
_SOURCE_MESSAGES_DIR = Path(__file__).resolve().parents[4] / MESSAGES_PACKAGE / 'msg'


class MessageTypeError(ValueError):
    """A message type that cannot be resolved or whose definition does not parse."""


def split_type_name(msgtype: str) -> List[str]:
    """Return ``[package, 'msg', Name]`` of ``package/msg/Name`` (MessageTypeError if not)."""
    parts = msgtype.split('/')
    if len(parts) == 2:
        parts = [parts[0], 'msg', parts[1]]
    if len(parts) != 3 or not all(parts):
        raise MessageTypeError(f'{msgtype!r} is not a message type name (package/msg/Name)')
    return parts


def ament_prefixes() -> List[Path]:
    """Return the ament prefixes ($AMENT_PREFIX_PATH), in search order."""
    return [Path(entry) for entry in os.environ.get('AMENT_PREFIX_PATH', '').split(os.pathsep)
            if entry]


def find_message_definition(msgtype: str) -> Optional[str]:
    """
    Return the ``.msg`` text of ``msgtype`` from the installed share folders, else None.

    The project's own messages fall back to the source checkout's ``adaptive_nlp_ros_msgs/msg``.
    """
    package, _, name = split_type_name(msgtype)
    candidates = [prefix / 'share' / package / 'msg' / f'{name}.msg'
                  for prefix in ament_prefixes()]
    if package == MESSAGES_PACKAGE:
        candidates.append(_SOURCE_MESSAGES_DIR / f'{name}.msg')
    for path in candidates:
        if path.is_file():
            return path.read_text(encoding='utf-8')
    return None


def _missing_dependencies(typestore: Typestore, types: Dict) -> List[str]:
    """Return the nested type names that ``types`` uses and neither it nor the store holds."""
    missing = []
    for fields in (definition[1] for definition in types.values()):
        for _, field_type in fields:
            for name in _nested_names(field_type):
                if name not in types and name not in typestore.fielddefs:
                    missing.append(name)
    return sorted(set(missing))


def _nested_names(field_type) -> List[str]:
    """Return the message type names a rosbags field description refers to."""
    kind, detail = field_type
    if kind == 2:                       # a nested message: (2, name)
        return [detail]
    if kind in (3, 4):                  # array or sequence: (kind, ((sub_kind, sub), size))
        return _nested_names(detail[0])
    return []


def ensure_type(typestore: Typestore, msgtype: str, _depth: int = 0) -> bool:
    """
    Make ``msgtype`` known to ``typestore``; return False where no definition is found.

    Looks in the installed share folders (see :func:`find_message_definition`), recursively
    for nested types. Raises MessageTypeError for a definition that does not parse.
    """
    if msgtype in typestore.fielddefs:
        return True
    if _depth > 32:
        raise MessageTypeError(f'{msgtype}: nested types too deep')
    text = find_message_definition(msgtype)
    if text is None:
        return False
    try:
        types = get_types_from_msg(text, msgtype)
    except Exception as error:  # rosbags raises several parser errors
        raise MessageTypeError(f'{msgtype}: definition does not parse ({error})') from None
    for nested in _missing_dependencies(typestore, types):
        if not ensure_type(typestore, nested, _depth + 1):
            return False
    typestore.register(types)
    return True


def project_typestore() -> Typestore:
    """Return a fresh typestore: ROS 2 Kilted's types plus this project's messages."""
    typestore = get_typestore(BASE_STORE)
    for msgtype in PROJECT_MESSAGES:
        if not ensure_type(typestore, msgtype):
            raise MessageTypeError(
                f'{msgtype}: no .msg file found (looked in the share folders of '
                f'$AMENT_PREFIX_PATH and in {_SOURCE_MESSAGES_DIR}); build the workspace first')
    return typestore


def typestore_from_definition(msgtype: str, definition: str) -> Typestore:
    """
    Return a typestore that holds ``msgtype`` as a bag's own definition describes it.

    ``definition`` is the ``ros2msg`` text a bag stores (the type's fields, then each nested
    type after a ``===`` separator line and ``MSG: name``). Nested types the text omits come
    from the base store. Raises MessageTypeError where it does not parse.
    """
    typestore = get_typestore(BASE_STORE)
    try:
        types = get_types_from_msg(definition, msgtype)
    except Exception as error:  # rosbags raises several parser errors
        raise MessageTypeError(f"{msgtype}: the bag's definition does not parse ({error})"
                               ) from None
    for name in list(types):
        typestore.fielddefs.pop(name, None)
    for nested in _missing_dependencies(typestore, types):
        if not ensure_type(typestore, nested):
            raise MessageTypeError(f"{msgtype}: the bag's definition uses {nested}, which is "
                                   'defined nowhere')
    typestore.register(types)
    return typestore


def type_hash(typestore: Typestore, msgtype: str) -> str:
    """Return the RIHS01 hash of a type the store knows."""
    return typestore.hash_rihs01(msgtype)


class MessageCodec:
    """
    Decodes (and re-encodes) a bag's CDR messages, choosing per topic which definition to trust.

    The local definition (Kilted, this project's messages, the installed share folders) is
    used unless the bag says otherwise: where the bag's type hash differs from the local one
    and the bag's own definition reproduces the bag's hash, the bag's definition is used
    (a bag recorded with an older version of a message); where the bag has no hash (before
    Iron) and the local definition fails on a message, the bag's definition is tried.
    """

    def __init__(self, typestore: Optional[Typestore] = None) -> None:
        """Start from ``typestore`` (default: :func:`project_typestore`)."""
        self.typestore = typestore or project_typestore()
        self.notices: List[str] = []
        self._stores: Dict[str, Optional[Typestore]] = {}
        self._fallbacks: Dict[str, Optional[Typestore]] = {}

    def resolve(self, topic) -> bool:
        """Return whether messages of ``topic`` (a BagTopic) can be decoded; notes why not."""
        if topic.name in self._stores:
            return self._stores[topic.name] is not None
        store: Optional[Typestore] = None
        fallback: Optional[Typestore] = None
        try:
            known = ensure_type(self.typestore, topic.msgtype)
        except MessageTypeError as error:
            self.notices.append(f'{topic.name}: {error}')
            known = False
        bag_store = self._bag_store(topic)
        if known:
            store = self.typestore
            local_hash = type_hash(self.typestore, topic.msgtype)
            if topic.type_hash and topic.type_hash != local_hash:
                if bag_store is not None and _hash_or_empty(
                        bag_store, topic.msgtype) == topic.type_hash:
                    store = bag_store
                    self.notices.append(f'{topic.name}: recorded with another definition of '
                                        f"{topic.msgtype}; decoding with the bag's own")
                else:
                    self.notices.append(f"{topic.name}: the bag's type hash of "
                                        f'{topic.msgtype} differs from the local one; decoding '
                                        'with the local definition')
            elif not topic.type_hash:
                fallback = bag_store
        elif bag_store is not None:
            store = bag_store
        else:
            self.notices.append(f'{topic.name}: type {topic.msgtype} is unknown here and the '
                                'bag holds no usable definition of it; skipped')
        self._stores[topic.name] = store
        self._fallbacks[topic.name] = fallback
        return store is not None

    def _bag_store(self, topic) -> Optional[Typestore]:
        if not topic.definition or topic.definition_encoding not in ('', 'ros2msg'):
            return None
        try:
            return typestore_from_definition(topic.msgtype, topic.definition)
        except MessageTypeError:
            return None

    def decode(self, topic, data: bytes):
        """Return the message object (rosbags dataclass); ValueError where it cannot."""
        if not self.resolve(topic):
            raise ValueError(f'{topic.name}: type {topic.msgtype} cannot be decoded')
        try:
            return self._stores[topic.name].deserialize_cdr(data, topic.msgtype)
        except Exception as error:  # rosbags' generated deserializers raise several kinds
            fallback = self._fallbacks.get(topic.name)
            if fallback is not None:
                try:
                    message = fallback.deserialize_cdr(data, topic.msgtype)
                except Exception:  # the first error is the one to report
                    pass
                else:
                    self._stores[topic.name], self._fallbacks[topic.name] = fallback, None
                    self.notices.append(f'{topic.name}: the local definition of '
                                        f'{topic.msgtype} does not fit; decoding with the '
                                        "bag's own")
                    return message
            raise ValueError(f'{topic.name}: undecodable {topic.msgtype} message '
                             f'({type(error).__name__}: {error})') from None

    def encode(self, topic, message) -> bytes:
        """Serialize a message object of ``topic`` back to CDR (little endian)."""
        self.resolve(topic)
        return bytes(self._stores[topic.name].serialize_cdr(message, topic.msgtype))


def _hash_or_empty(typestore: Typestore, msgtype: str) -> str:
    try:
        return type_hash(typestore, msgtype)
    except Exception:  # an unhashable definition simply does not match
        return ''
