"""
ROS plumbing for ``core.parameter_spec.ParameterSpec``: declare, validate, react.

A node uses it in three steps (see ``battery_node.py``)::

    values = declare_parameters(self, SPECS)          # descriptors, ranges, start-up checks
    ...                                               # build the node from ``values``
    install_parameter_callbacks(self, SPECS, self._on_parameters_changed)

``declare_parameters`` gives each parameter a ``ParameterDescriptor`` (type, description,
range, read-only), applies overrides from the command line or a YAML file, and refuses an
invalid start-up value with ``ParameterDeclarationError`` (whose message says why).

``install_parameter_callbacks`` validates every later change in the on-set callback (refused:
``SetParametersResult(successful=False, reason=...)``, the old value stays) and calls the
node's hook for side effects from the post-set callback, after the new values are stored.
rclpy checks a descriptor's type, range and read-only flag itself before the on-set callback
runs; the pre-set callback installed here logs those refusals too, so every refused change
appears in the node's log with its reason.
"""

import math
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence

from adaptive_nlp_ros.core.parameter_spec import (
    find_spec, KIND_BOOL, KIND_FLOAT, KIND_INT, KIND_STR, KIND_STR_LIST, ParameterSpec)
from rcl_interfaces.msg import (
    FloatingPointRange, IntegerRange, ParameterDescriptor, ParameterType, SetParametersResult)
from rclpy.exceptions import (
    InvalidParameterTypeException, InvalidParameterValueException)
from rclpy.node import Node
from rclpy.parameter import Parameter

_INT64_MIN = -(2 ** 63)
_INT64_MAX = 2 ** 63 - 1

_PARAMETER_TYPES = {
    KIND_BOOL: ParameterType.PARAMETER_BOOL,
    KIND_INT: ParameterType.PARAMETER_INTEGER,
    KIND_FLOAT: ParameterType.PARAMETER_DOUBLE,
    KIND_STR: ParameterType.PARAMETER_STRING,
    KIND_STR_LIST: ParameterType.PARAMETER_STRING_ARRAY,
}

_INSTALLED_MARK = '_adaptive_nlp_parameter_callbacks_installed'

ParameterHook = Callable[[Dict[str, Any]], None]
ParameterCheck = Callable[[Dict[str, Any]], Optional[str]]


class ParameterDeclarationError(RuntimeError):
    """A start-up value (command line, YAML file) was refused; the message says why."""


def descriptor_for(spec: ParameterSpec) -> ParameterDescriptor:
    """Return the ROS descriptor of a spec: type, description, range and read-only flag."""
    descriptor = ParameterDescriptor(
        name=spec.name,
        type=_PARAMETER_TYPES[spec.kind],
        description=spec.description,
        read_only=spec.read_only,
    )
    if spec.choices:
        descriptor.additional_constraints = 'one of: ' + ', '.join(spec.choices)
    if spec.kind == KIND_INT and (spec.min_value is not None or spec.max_value is not None):
        descriptor.integer_range = [IntegerRange(
            from_value=_INT64_MIN if spec.min_value is None else int(spec.min_value),
            to_value=_INT64_MAX if spec.max_value is None else int(spec.max_value),
            step=0)]
    elif spec.kind == KIND_FLOAT and (spec.min_value is not None or spec.max_value is not None):
        descriptor.floating_point_range = [FloatingPointRange(
            from_value=-math.inf if spec.min_value is None else float(spec.min_value),
            to_value=math.inf if spec.max_value is None else float(spec.max_value),
            step=0.0)]
    return descriptor


def _ros_value(spec: ParameterSpec, value: Any) -> Any:
    """Return a spec value in the form rclpy stores (string lists as lists)."""
    return list(value) if spec.kind == KIND_STR_LIST else value


def _python_value(spec: ParameterSpec, value: Any) -> Any:
    """Return a stored rclpy value in the spec's form (string lists as tuples)."""
    return tuple(value) if spec.kind == KIND_STR_LIST else value


def declare_parameters(node: Node, specs: Sequence[ParameterSpec]) -> Dict[str, Any]:
    """
    Declare every spec on ``node`` with its descriptor; start-up overrides apply.

    :return: ``{name: value}`` of the values in force after overrides, in spec order.
    :raises ParameterDeclarationError: when an override has the wrong type, is out of range
        or is not one of the choices.
    """
    for spec in specs:
        descriptor = descriptor_for(spec)
        try:
            if spec.kind == KIND_STR_LIST and not spec.default:
                # rclpy infers an empty list as a byte array: declare the type, then the value.
                parameter = node.declare_parameter(
                    spec.name, Parameter.Type.STRING_ARRAY, descriptor)
                if parameter.type_ == Parameter.Type.NOT_SET:
                    node.set_parameters([Parameter(spec.name, Parameter.Type.STRING_ARRAY, [])])
            else:
                node.declare_parameter(spec.name, _ros_value(spec, spec.default), descriptor)
        except InvalidParameterTypeException as error:
            raise ParameterDeclarationError(
                f'parameter {spec.name}: wrong type at start-up ({error}); expected '
                f'{spec.kind}, e.g. {spec.name}:={_example(spec)}') from error
        except InvalidParameterValueException as error:
            raise ParameterDeclarationError(
                f'parameter {spec.name}: refused at start-up: {error}') from error
    values = parameter_values(node, specs)
    for spec in specs:
        reason = spec.validate(values[spec.name])
        if reason is not None:
            raise ParameterDeclarationError(f'parameter {spec.name}: refused at start-up: '
                                            f'{reason}')
    return values


def _example(spec: ParameterSpec) -> str:
    """Return the default written as on a ``--ros-args -p`` command line."""
    if spec.kind == KIND_BOOL:
        return 'true' if spec.default else 'false'
    if spec.kind == KIND_STR_LIST:
        return '[' + ','.join(spec.default) + ']'
    return str(spec.default)


def parameter_values(node: Node, specs: Sequence[ParameterSpec]) -> Dict[str, Any]:
    """Return ``{name: current value}`` of the declared specs (string lists as tuples)."""
    return {spec.name: _python_value(spec, node.get_parameter(spec.name).value)
            for spec in specs}


def check_parameters(specs: Sequence[ParameterSpec],
                     parameters: Sequence[Parameter]) -> Optional[str]:
    """
    Validate a set request against the specs.

    Parameters that no spec names are not ours to judge and pass.

    :return: None when every value is acceptable, else the first refusal's reason.
    """
    for parameter in parameters:
        spec = find_spec(specs, parameter.name)
        if spec is None:
            continue
        if parameter.type_ == Parameter.Type.NOT_SET:
            return f'{spec.name} cannot be undeclared'
        reason = spec.validate(_python_value(spec, parameter.value))
        if reason is not None:
            return reason
    return None


def _read_only_refusal(specs: Sequence[ParameterSpec],
                       parameters: Sequence[Parameter]) -> Optional[str]:
    """Return why a set request touches a read-only parameter, or None."""
    for parameter in parameters:
        spec = find_spec(specs, parameter.name)
        if spec is not None and spec.read_only:
            return f'{spec.name} is read-only: give it at start-up (command line or YAML)'
    return None


def install_parameter_callbacks(node: Node, specs: Sequence[ParameterSpec],
                                on_changed: Optional[ParameterHook] = None,
                                check: Optional[ParameterCheck] = None) -> None:
    """
    Validate every change of a spec'd parameter and call ``on_changed`` after it is stored.

    Install it after ``declare_parameters`` so the hook never sees half-declared parameters,
    and once per node with all of the node's specs (concatenate tuples): rclpy concatenates
    the lists its pre-set callbacks return, so a second installer would duplicate requests.

    :param on_changed: called from the post-set callback with ``{name: new value}`` of the
        spec'd parameters that changed; an exception in it is logged, not raised (the values
        are already stored by then).
    :param check: the node's own validation beyond the specs (e.g. a strategy name that
        must exist): called with ``{name: proposed value}`` of the spec'd parameters in a
        request that passed the specs; returns None to accept, or the refusal's reason.
    :raises RuntimeError: when called a second time for the same node.
    """
    if getattr(node, _INSTALLED_MARK, False):
        raise RuntimeError('install_parameter_callbacks was already called for this node: '
                           'call it once with all of its specs')
    setattr(node, _INSTALLED_MARK, True)
    logger = node.get_logger()
    by_name: Mapping[str, ParameterSpec] = {spec.name: spec for spec in specs}

    def node_check(parameters: List[Parameter]) -> Optional[str]:
        """Return the node's own refusal of a request (after the specs passed it), or None."""
        if check is None:
            return None
        proposed = {parameter.name: _python_value(by_name[parameter.name], parameter.value)
                    for parameter in parameters if parameter.name in by_name}
        if not proposed:
            return None
        try:
            return check(proposed)
        except Exception as error:  # a failing check refuses; it must not unwind the executor
            return f'the change could not be checked: {error!r}'

    def log_refusals(parameters: List[Parameter]) -> List[Parameter]:
        """Log why a request will be refused; returning the list unchanged keeps it as it is."""
        reason = (_read_only_refusal(specs, parameters) or check_parameters(specs, parameters)
                  or node_check(parameters))
        if reason is not None:
            logger.warning(f'refused parameter change: {reason}; the old value is kept')
        return parameters

    def validate(parameters: List[Parameter]) -> SetParametersResult:
        """Refuse the whole request (old values kept) when any value breaks its spec."""
        reason = check_parameters(specs, parameters) or node_check(parameters)
        if reason is not None:
            return SetParametersResult(successful=False, reason=reason)
        return SetParametersResult(successful=True)

    def apply(parameters: List[Parameter]) -> None:
        """Pass the stored changes of spec'd parameters to the node's hook."""
        changed = {parameter.name: _python_value(by_name[parameter.name], parameter.value)
                   for parameter in parameters if parameter.name in by_name}
        if not changed or on_changed is None:
            return
        try:
            on_changed(changed)
        except Exception as error:  # the values are stored: report, do not unwind the executor
            logger.error(f'applying parameter change {changed} failed: {error!r}')

    node.add_pre_set_parameters_callback(log_refusals)
    node.add_on_set_parameters_callback(validate)
    node.add_post_set_parameters_callback(apply)
