"""
Declarative node parameters: one ``ParameterSpec`` per parameter, validated without ROS.

Every node declares its parameters from a module-level tuple of specs (for example
``core.battery_model.BATTERY_PARAMETERS``), and the same tuple is what the tests compare
against ``config/<node>.yaml``, so a node, its configuration file and its documentation cannot
drift apart. ``nodes/parameters.py`` turns a spec into a ROS parameter descriptor and uses
``ParameterSpec.validate`` in the node's on-set callback.

The value type is inferred from the default, with the types ROS parameters support here:
``bool``, ``int``, ``float``, ``str`` and a list of ``str`` (a list or tuple default, empty
included, always means a list of strings). Types are strict, as ROS parameters are: ``2`` is
not a valid value for a ``float`` parameter (write ``2.0``), and ``True`` is not an ``int``.
"""

from dataclasses import dataclass, field
import math
from typing import Optional, Sequence, Tuple, Union

ParameterValue = Union[bool, int, float, str, Tuple[str, ...]]

KIND_BOOL = 'bool'
KIND_INT = 'int'
KIND_FLOAT = 'float'
KIND_STR = 'str'
KIND_STR_LIST = 'str_list'

_KIND_WORDS = {
    KIND_BOOL: 'a bool (true or false)',
    KIND_INT: 'an integer',
    KIND_FLOAT: 'a float (write 2.0, not 2)',
    KIND_STR: 'a string',
    KIND_STR_LIST: 'a list of strings',
}


def infer_kind(default: object) -> str:
    """
    Return the parameter kind of a default value: bool, int, float, str or str_list.

    :raises TypeError: for a value no ROS parameter of this package can hold.
    """
    # bool before int: bool is a subclass of int in Python.
    if isinstance(default, bool):
        return KIND_BOOL
    if isinstance(default, int):
        return KIND_INT
    if isinstance(default, float):
        return KIND_FLOAT
    if isinstance(default, str):
        return KIND_STR
    if isinstance(default, (list, tuple)) and all(isinstance(item, str) for item in default):
        return KIND_STR_LIST
    raise TypeError(
        f'unsupported parameter default {default!r}: use a bool, int, float, str or list of str')


def _value_kind_matches(kind: str, value: object) -> bool:
    """Return True when ``value`` has exactly the Python type that ``kind`` stands for."""
    if kind == KIND_BOOL:
        return isinstance(value, bool)
    if kind == KIND_INT:
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == KIND_FLOAT:
        return isinstance(value, float)
    if kind == KIND_STR:
        return isinstance(value, str)
    return isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value)


@dataclass(frozen=True)
class ParameterSpec:
    """
    One node parameter: name, default, description and what values it accepts.

    ``min_value`` and ``max_value`` (inclusive, numbers only) become the descriptor's range;
    ``choices`` (strings and lists of strings only) lists the accepted strings;
    ``read_only`` parameters can be given at start-up (command line, YAML) but not changed
    while the node runs.
    """

    name: str
    default: ParameterValue
    description: str
    min_value: Optional[Union[int, float]] = None
    max_value: Optional[Union[int, float]] = None
    choices: Tuple[str, ...] = field(default=())
    read_only: bool = False

    def __post_init__(self) -> None:
        """Normalise list defaults and choices to tuples, and check the spec is consistent."""
        if not self.name:
            raise ValueError('a parameter needs a name')
        if isinstance(self.default, list):
            object.__setattr__(self, 'default', tuple(self.default))
        object.__setattr__(self, 'choices', tuple(self.choices))
        kind = infer_kind(self.default)
        numeric = kind in (KIND_INT, KIND_FLOAT)
        if not numeric and (self.min_value is not None or self.max_value is not None):
            raise ValueError(f'{self.name}: min_value/max_value apply to numbers only')
        if self.choices and kind not in (KIND_STR, KIND_STR_LIST):
            raise ValueError(f'{self.name}: choices apply to strings only')
        if kind == KIND_INT:
            for bound in (self.min_value, self.max_value):
                if bound is not None and (isinstance(bound, bool) or not isinstance(bound, int)):
                    raise ValueError(f'{self.name}: the range of an int parameter must be ints')
        if (self.min_value is not None and self.max_value is not None
                and self.min_value > self.max_value):
            raise ValueError(f'{self.name}: min_value {self.min_value} > max_value '
                             f'{self.max_value}')
        reason = self.validate(self.default)
        if reason is not None:
            raise ValueError(f'{self.name}: the default is invalid: {reason}')

    @property
    def kind(self) -> str:
        """Return the value kind: ``bool``, ``int``, ``float``, ``str`` or ``str_list``."""
        return infer_kind(self.default)

    def describe_range(self) -> str:
        """Return the accepted values in words, e.g. ``0.1 .. 100.0`` or ``one of a, b``."""
        if self.choices:
            return 'one of ' + ', '.join(self.choices)
        if self.min_value is not None and self.max_value is not None:
            return f'{self.min_value} .. {self.max_value}'
        if self.min_value is not None:
            return f'>= {self.min_value}'
        if self.max_value is not None:
            return f'<= {self.max_value}'
        return _KIND_WORDS[self.kind]

    def validate(self, value: object) -> Optional[str]:
        """
        Check a proposed value against this spec.

        :return: None when the value is acceptable; otherwise a human-readable reason naming
            the parameter, the value and what would have been accepted.
        """
        kind = self.kind
        if not _value_kind_matches(kind, value):
            return (f'{self.name} must be {_KIND_WORDS[kind]}, got {value!r} '
                    f'({type(value).__name__})')
        if kind in (KIND_INT, KIND_FLOAT):
            return self._validate_number(value)
        if self.choices:
            items: Sequence[str] = (value,) if kind == KIND_STR else tuple(value)
            refused = [item for item in items if item not in self.choices]
            if refused:
                return (f'{self.name}: {", ".join(repr(item) for item in refused)} is not one '
                        f'of the choices ({", ".join(self.choices)})')
        return None

    def _validate_number(self, value: Union[int, float]) -> Optional[str]:
        """Return why a number is out of range, or None."""
        if isinstance(value, float) and math.isnan(value):
            if self.min_value is not None or self.max_value is not None:
                return f'{self.name} must be a number in {self.describe_range()}, got NaN'
            return None
        if self.min_value is not None and value < self.min_value:
            return f'{self.name} = {value} is below its minimum ({self.describe_range()})'
        if self.max_value is not None and value > self.max_value:
            return f'{self.name} = {value} is above its maximum ({self.describe_range()})'
        return None


def spec_defaults(specs: Sequence[ParameterSpec]) -> dict:
    """Return ``{name: default}`` for a tuple of specs, in declaration order."""
    return {spec.name: spec.default for spec in specs}


def find_spec(specs: Sequence[ParameterSpec], name: str) -> Optional[ParameterSpec]:
    """Return the spec called ``name``, or None."""
    for spec in specs:
        if spec.name == name:
            return spec
    return None
