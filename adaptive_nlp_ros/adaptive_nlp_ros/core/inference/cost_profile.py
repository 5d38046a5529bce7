"""
Measured cost of every piece of work the strategies can choose, on the machine it runs on.

A component (tokenization, the embeddings, one layer in one execution mode, an exit head, a
whole pool variant, an image stage) is timed at two input lengths; its latency and energy are
then modelled as ``fixed + per_token x tokens``. The policies read energies from here, so the
same code makes different choices on a robot whose profile differs.
"""

from dataclasses import dataclass
import json
import pathlib
import statistics
import time
from typing import Callable, Dict, List, Optional

from ..battery.power_model import machine_description, PowerModel, RaplReader

PROFILE_FORMAT = 1
REFERENCE_TOKENS = 16


@dataclass(frozen=True)
class ComponentCost:
    """Latency and energy of one component as a linear function of token count."""

    latency_fixed_ms: float
    latency_per_token_ms: float
    energy_fixed_mj: float
    energy_per_token_mj: float
    cpu_ms: float                    # at the reference length
    spread_ms: float                 # interquartile range of latency at the reference length
    energy_source: str               # 'estimate' (CPU time x power model) or 'rapl'

    def latency_ms(self, tokens: int = REFERENCE_TOKENS) -> float:
        """Modelled latency for an input of ``tokens`` tokens."""
        return max(0.0, self.latency_fixed_ms + self.latency_per_token_ms * tokens)

    def energy_mj(self, tokens: int = REFERENCE_TOKENS) -> float:
        """Modelled energy for an input of ``tokens`` tokens."""
        return max(0.0, self.energy_fixed_mj + self.energy_per_token_mj * tokens)


@dataclass(frozen=True)
class Measurement:
    """Median latency, CPU time and energy of repeated calls of one piece of work."""

    latency_ms: float
    spread_ms: float
    cpu_ms: float
    energy_mj: float
    energy_source: str


def measure(work: Callable[[], object], repeats: int, warmup: int, power: PowerModel,
            rapl: Optional[RaplReader] = None) -> Measurement:
    """Time ``work`` after warm-up: median wall latency, mean CPU time, energy per call."""
    for _ in range(warmup):
        work()
    latencies: List[float] = []
    rapl_start = rapl.read_mj() if rapl is not None else None
    cpu_start = time.process_time()
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        latencies.append((time.perf_counter() - start) * 1e3)
    cpu_ms = (time.process_time() - cpu_start) * 1e3 / repeats
    rapl_end = rapl.read_mj() if rapl is not None else None
    quartiles = statistics.quantiles(latencies, n=4) if len(latencies) >= 2 else [0, 0, 0]
    if rapl_start is not None and rapl_end is not None:
        energy, source = (rapl_end - rapl_start) / repeats, 'rapl'
    else:
        energy, source = power.energy_mj(cpu_ms), 'estimate'
    return Measurement(statistics.median(latencies), quartiles[2] - quartiles[0], cpu_ms,
                       energy, source)


def linear_cost(short: Measurement, long: Measurement, short_tokens: int,
                long_tokens: int) -> ComponentCost:
    """
    Fit fixed + per-token cost through measurements at two lengths, neither term negative.

    A noisy pair (the short input timed during a burst of other load) can put the line's
    intercept below zero; a component that costs less than nothing on short inputs would
    make a cheaper-looking choice costlier at other lengths. The fit then goes through the
    origin and the long measurement.
    """
    latency_fixed, latency_slope = _line(short.latency_ms, long.latency_ms, short_tokens,
                                         long_tokens)
    energy_fixed, energy_slope = _line(short.energy_mj, long.energy_mj, short_tokens,
                                       long_tokens)
    reference_weight = (REFERENCE_TOKENS - short_tokens) / float(long_tokens - short_tokens)
    return ComponentCost(
        latency_fixed_ms=latency_fixed,
        latency_per_token_ms=latency_slope,
        energy_fixed_mj=energy_fixed,
        energy_per_token_mj=energy_slope,
        cpu_ms=short.cpu_ms + (long.cpu_ms - short.cpu_ms) * reference_weight,
        spread_ms=max(short.spread_ms, long.spread_ms),
        energy_source=short.energy_source)


def _line(short: float, long: float, short_tokens: int, long_tokens: int):
    """Return (fixed, per token) through two points, both non-negative."""
    slope = max(0.0, (long - short) / float(long_tokens - short_tokens))
    fixed = short - slope * short_tokens
    if fixed < 0.0:
        return 0.0, max(0.0, long) / float(long_tokens)
    return fixed, slope


def constant_cost(measurement: Measurement) -> ComponentCost:
    """Return a cost that does not depend on token count (images, whole-input work)."""
    return ComponentCost(measurement.latency_ms, 0.0, measurement.energy_mj, 0.0,
                         measurement.cpu_ms, measurement.spread_ms, measurement.energy_source)


class CostProfile:
    """Costs by component name, e.g. ``tokenize``, ``embed``, ``layer3/int8``, ``head``."""

    def __init__(self, components: Dict[str, ComponentCost], info: Dict[str, object]):
        self.components = components
        self.info = info

    def cost(self, component: str) -> ComponentCost:
        """Return the cost of a component; KeyError names it when it was never profiled."""
        try:
            return self.components[component]
        except KeyError:
            raise KeyError(f'component {component!r} is not in the cost profile; re-run '
                           '`adaptive-nlp profile`') from None

    def energy_mj(self, component: str, tokens: int = REFERENCE_TOKENS) -> float:
        """Modelled energy of a component for ``tokens`` tokens."""
        return self.cost(component).energy_mj(tokens)

    def latency_ms(self, component: str, tokens: int = REFERENCE_TOKENS) -> float:
        """Modelled latency of a component for ``tokens`` tokens."""
        return self.cost(component).latency_ms(tokens)

    def __contains__(self, component: str) -> bool:
        return component in self.components

    @property
    def energy_is_estimate(self) -> bool:
        """Return True when any energy figure came from the power model, not a sensor."""
        return any(cost.energy_source != 'rapl' for cost in self.components.values())

    def save(self, path: pathlib.Path) -> None:
        """Write the profile as JSON."""
        payload = {'format': PROFILE_FORMAT, 'info': self.info,
                   'components': {name: vars(cost) for name, cost in
                                  sorted(self.components.items())}}
        pathlib.Path(path).write_text(json.dumps(payload, indent=2) + '\n')

    @classmethod
    def load(cls, path: pathlib.Path) -> 'CostProfile':
        """Read a profile written by ``save``."""
        payload = json.loads(pathlib.Path(path).read_text())
        if payload.get('format') != PROFILE_FORMAT:
            raise ValueError(f'{path}: cost profile format {payload.get("format")} is not '
                             f'{PROFILE_FORMAT}')
        return cls({name: ComponentCost(**fields)
                    for name, fields in payload['components'].items()}, payload['info'])


def profile_info(power: PowerModel, repeats: int, threads: int) -> Dict[str, object]:
    """Header of a profile: machine, power model, repeats, when."""
    return {'machine': machine_description(), 'power_model': power.as_dict(),
            'repeats': repeats, 'threads': threads,
            'created': time.strftime('%Y-%m-%dT%H:%M:%S%z'),
            'energy_note': 'energy is an estimate (CPU time x power model) unless '
                           'energy_source is rapl'}
