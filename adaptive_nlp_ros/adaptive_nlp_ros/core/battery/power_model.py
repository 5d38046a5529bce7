"""
Turning measured CPU time into energy, and reading real energy counters where they exist.

These development machines expose no RAPL, no perf power events and no battery, so energy
is an ESTIMATE: CPU time of the work (all threads) times an assumed power per busy core.
Where Linux exposes Intel/AMD RAPL package counters (``/sys/class/powercap``), the profile
reads them too and prefers the measured figure.
"""

from dataclasses import asdict, dataclass
import logging
import os
import pathlib
import platform
from typing import Dict, List, Optional

LOG = logging.getLogger(__name__)

POWERCAP_ROOT = pathlib.Path('/sys/class/powercap')


@dataclass(frozen=True)
class PowerModel:
    """
    Energy = CPU time x power of one busy core (an estimate; 4 W suits an edge-class x86 core).

    Set ``watts_per_busy_core`` from the robot's CPU datasheet or a power meter.
    """

    watts_per_busy_core: float = 4.0

    def energy_mj(self, cpu_time_ms: float) -> float:
        """Estimated energy in millijoules of ``cpu_time_ms`` of busy CPU."""
        return cpu_time_ms * self.watts_per_busy_core

    def as_dict(self) -> Dict[str, float]:
        """Fields for reports."""
        return asdict(self)


class RaplReader:
    """Cumulative package energy from RAPL counters, in millijoules, wrap-around handled."""

    def __init__(self, root: pathlib.Path = POWERCAP_ROOT):
        self.domains: List[pathlib.Path] = []
        for domain in sorted(root.glob('intel-rapl:*')) if root.is_dir() else []:
            # Package domains only (intel-rapl:N); sub-domains (intel-rapl:N:M) are inside them.
            if domain.name.count(':') == 1 and os.access(domain / 'energy_uj', os.R_OK):
                self.domains.append(domain)
        self._last: Dict[pathlib.Path, int] = {}
        self._total_uj = 0

    @property
    def available(self) -> bool:
        """Return True when at least one package counter can be read."""
        return bool(self.domains)

    def read_mj(self) -> Optional[float]:
        """Energy since the first read, in mJ; None without counters."""
        if not self.available:
            return None
        for domain in self.domains:
            value = int((domain / 'energy_uj').read_text())
            last = self._last.get(domain)
            if last is not None:
                delta = value - last
                if delta < 0:
                    limit_file = domain / 'max_energy_range_uj'
                    limit = int(limit_file.read_text()) if limit_file.exists() else 2 ** 32
                    delta += limit
                self._total_uj += delta
            self._last[domain] = value
        return self._total_uj / 1000.0


def machine_description() -> Dict[str, object]:
    """CPU model, core count and platform, for profiles and benchmark reports."""
    cpu_model = platform.processor() or 'unknown'
    try:
        for line in pathlib.Path('/proc/cpuinfo').read_text().splitlines():
            if line.startswith('model name'):
                cpu_model = line.split(':', 1)[1].strip()
                break
    except OSError:
        pass
    return {'cpu_model': cpu_model, 'logical_cpus': os.cpu_count(),
            'machine': platform.machine(), 'python': platform.python_version(),
            'rapl_available': RaplReader().available}
