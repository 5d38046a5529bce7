"""
The fuzzy rule base of ``fuzzy_complexity``.

Loaded from YAML, checked line by line, and turned into a precomputed decision surface
so a decision costs microseconds.

scikit-fuzzy's ``ControlSystemSimulation.compute()`` costs a millisecond or two; the surface
samples it once on a grid of complexity x battery and decisions interpolate bilinearly.
"""

from dataclasses import dataclass
import hashlib
import logging
import pathlib
from typing import Dict, List, Tuple
import warnings

import numpy as np
import yaml

from .input_complexity import DEFAULT_WEIGHTS, FEATURE_NAMES

LOG = logging.getLogger(__name__)

INPUTS = ('complexity', 'battery')
OUTPUT = 'capacity'
GRID_POINTS = 21


def default_rules_path() -> pathlib.Path:
    """Return the rule file shipped with the package."""
    return pathlib.Path(__file__).resolve().parents[2] / 'data' / 'fuzzy_rules.yaml'


class FuzzyRuleError(ValueError):
    """A rule file that cannot be used; the message names the file and line."""


@dataclass(frozen=True)
class RuleBase:
    """Membership functions, rules and complexity weights from one YAML file."""

    terms: Dict[str, Dict[str, Tuple[float, ...]]]     # variable -> term -> shape
    rules: Tuple[Tuple[str, str, str], ...]            # (battery, complexity, capacity)
    complexity_weights: Dict[str, float]
    source: str


def _fail(path, node, message: str) -> FuzzyRuleError:
    line = node.start_mark.line + 1 if node is not None else 0
    return FuzzyRuleError(f'{path}:{line}: {message}')


def _mapping(path, node, what: str) -> Dict[str, yaml.Node]:
    if not isinstance(node, yaml.MappingNode):
        raise _fail(path, node, f'{what} must be a mapping')
    result = {}
    for key, value in node.value:
        result[str(key.value)] = value
    return result


def _shape(path, node, name: str) -> Tuple[float, ...]:
    if not isinstance(node, yaml.SequenceNode) or len(node.value) not in (3, 4):
        raise _fail(path, node, f'term {name!r} must be a list of 3 (triangle) or 4 '
                    '(trapezoid) numbers')
    try:
        shape = tuple(float(item.value) for item in node.value)
    except ValueError:
        raise _fail(path, node, f'term {name!r} has a value that is not a number') from None
    if list(shape) != sorted(shape) or shape[0] < 0.0 or shape[-1] > 1.0:
        raise _fail(path, node, f'term {name!r} must be non-decreasing numbers within 0..1, '
                    f'got {list(shape)}')
    return shape


def load_rule_base(path: pathlib.Path = None) -> RuleBase:
    """Read and check a rule file; FuzzyRuleError names the offending line."""
    path = pathlib.Path(path or default_rules_path())
    try:
        text = path.read_text(encoding='utf-8')
    except OSError as error:
        raise FuzzyRuleError(f'{path}: cannot read the rule file ({error})') from None
    try:
        root = yaml.compose(text)
    except yaml.YAMLError as error:
        mark = getattr(error, 'problem_mark', None)
        line = mark.line + 1 if mark is not None else 0
        raise FuzzyRuleError(f'{path}:{line}: not valid YAML ({error})') from None
    top = _mapping(path, root, 'the rule file')
    for section in ('inputs', 'output', 'rules'):
        if section not in top:
            raise _fail(path, root, f'missing section {section!r}')
    terms: Dict[str, Dict[str, Tuple[float, ...]]] = {}
    inputs = _mapping(path, top['inputs'], 'inputs')
    for name in INPUTS:
        if name not in inputs:
            raise _fail(path, top['inputs'], f'inputs must define {name!r}')
    outputs = _mapping(path, top['output'], 'output')
    if OUTPUT not in outputs:
        raise _fail(path, top['output'], f'output must define {OUTPUT!r}')
    for variable, node in list(inputs.items()) + [(OUTPUT, outputs[OUTPUT])]:
        if variable not in INPUTS + (OUTPUT,):
            raise _fail(path, node, f'unknown variable {variable!r}; expected {INPUTS}')
        terms[variable] = {term: _shape(path, shape_node, term)
                           for term, shape_node in _mapping(path, node, variable).items()}
        if not terms[variable]:
            raise _fail(path, node, f'{variable!r} has no terms')
    rules: List[Tuple[str, str, str]] = []
    if not isinstance(top['rules'], yaml.SequenceNode) or not top['rules'].value:
        raise _fail(path, top['rules'], 'rules must be a non-empty list')
    for rule_node in top['rules'].value:
        rule = _mapping(path, rule_node, 'a rule')
        wanted = set(INPUTS) | {OUTPUT}
        if set(rule) != wanted:
            raise _fail(path, rule_node, f'a rule needs exactly the keys {sorted(wanted)}, '
                        f'got {sorted(rule)}')
        values = {}
        for variable, value_node in rule.items():
            term = str(value_node.value)
            if term not in terms[variable]:
                raise _fail(path, value_node, f'unknown term {term!r} for {variable!r}; known: '
                            f'{sorted(terms[variable])}')
            values[variable] = term
        rules.append((values['battery'], values['complexity'], values[OUTPUT]))
    weights = dict(DEFAULT_WEIGHTS)
    if 'complexity_weights' in top:
        for name, node in _mapping(path, top['complexity_weights'],
                                   'complexity_weights').items():
            if name not in FEATURE_NAMES:
                raise _fail(path, node, f'unknown complexity signal {name!r}; known: '
                            f'{list(FEATURE_NAMES)}')
            try:
                weights[name] = float(node.value)
            except ValueError:
                raise _fail(path, node, f'weight of {name!r} is not a number') from None
    return RuleBase(terms, tuple(rules), weights, hashlib.sha256(text.encode()).hexdigest())


def _membership(universe: np.ndarray, shape: Tuple[float, ...]) -> np.ndarray:
    import skfuzzy

    if len(shape) == 3:
        return skfuzzy.trimf(universe, list(shape))
    return skfuzzy.trapmf(universe, list(shape))


def _surface_for(rule_base: RuleBase) -> np.ndarray:
    """Return the decision surface of a rule base, computed once per distinct rule file content."""
    if rule_base.source not in _SURFACES:
        _SURFACES[rule_base.source] = _compute_surface(rule_base)
    return _SURFACES[rule_base.source]


_SURFACES: Dict[str, np.ndarray] = {}


def _compute_surface(rule_base: RuleBase) -> np.ndarray:
    from skfuzzy import control

    universe = np.linspace(0.0, 1.0, 101)
    variables = {name: control.Antecedent(universe, name) for name in INPUTS}
    capacity = control.Consequent(universe, OUTPUT, defuzzify_method='centroid')
    for name, variable in list(variables.items()) + [(OUTPUT, capacity)]:
        for term, shape in rule_base.terms[name].items():
            variable[term] = _membership(universe, shape)
    rules = [control.Rule(variables['battery'][battery] & variables['complexity'][complexity],
                          capacity[output])
             for battery, complexity, output in rule_base.rules]
    simulation = control.ControlSystemSimulation(control.ControlSystem(rules))
    grid = np.linspace(0.0, 1.0, GRID_POINTS)
    surface = np.zeros((GRID_POINTS, GRID_POINTS))
    with warnings.catch_warnings():
        # scikit-fuzzy 0.5.0 calls np.maximum with three positional arguments (deprecated).
        warnings.simplefilter('ignore', DeprecationWarning)
        for i, complexity in enumerate(grid):
            for j, battery in enumerate(grid):
                simulation.input['complexity'] = complexity
                simulation.input['battery'] = battery
                try:
                    simulation.compute()
                    surface[i, j] = float(simulation.output[OUTPUT])
                except (ValueError, KeyError):
                    surface[i, j] = 0.0     # no rule fires: the cheapest variant
    monotone = np.maximum.accumulate(surface, axis=1)
    if float((monotone - surface).max()) > 0.02:
        LOG.warning('fuzzy rules: capacity falls as the battery rises somewhere; the surface '
                    'was made monotone so a lower battery never buys more model')
    return monotone


class DecisionSurface:
    """Capacity in 0..1 for (complexity, battery), bilinear on a precomputed grid."""

    def __init__(self, rule_base: RuleBase):
        self.rule_base = rule_base
        self.grid = _surface_for(rule_base)
        self._rows = self.grid.tolist()     # plain floats: indexing the array took 4x as long
        self._step = GRID_POINTS - 1

    def capacity(self, complexity: float, battery: float) -> float:
        """Interpolated capacity; inputs are clamped to 0..1."""
        x = min(1.0, max(0.0, complexity)) * self._step
        y = min(1.0, max(0.0, battery)) * self._step
        i, j = min(int(x), self._step - 1), min(int(y), self._step - 1)
        fx, fy = x - i, y - j
        row, next_row = self._rows[i], self._rows[i + 1]
        return float((row[j] * (1 - fx) + next_row[j] * fx) * (1 - fy)
                     + (row[j + 1] * (1 - fx) + next_row[j + 1] * fx) * fy)
