"""
What sending a command to the expert server costs the robot's battery: the radio's energy.

A linear model, as in the measurement studies it takes its defaults from: a fixed cost per
exchange (the NIC awake for a request and its reply) plus a cost per kilobyte on the air.
These are estimates for Wi-Fi, not readings of this machine's radio (it has none); set the two
parameters from a measurement of the robot's own NIC where one exists.

* ``mj_per_kb`` 7.0: Balasubramanian, Balasubramanian and Venkataramani, "Energy consumption in
  mobile phones: a measurement study and implications for network applications" (IMC 2009),
  Wi-Fi transfer energy 0.007 J per kB (their 5.9 J scan-and-associate cost is paid once per
  association, not per request, so it is left out).
* ``mj_per_request`` 10.0: about 10 ms of an awake 802.11 NIC per exchange (wake from power
  save, transmit, receive) at about 1 W, the idle-awake / receive power Halperin et al. measured
  for an Intel 5300 (0.8-1.1 W; 1.3-2.1 W transmitting), "Demystifying 802.11n power
  consumption" (HotPower 2010).
"""

from dataclasses import dataclass
import math

DEFAULT_MJ_PER_KB = 7.0
DEFAULT_MJ_PER_REQUEST = 10.0


@dataclass(frozen=True)
class RadioModel:
    """Energy of one exchange over the radio: per request plus per kilobyte."""

    mj_per_kb: float = DEFAULT_MJ_PER_KB
    mj_per_request: float = DEFAULT_MJ_PER_REQUEST

    def energy_mj(self, sent_bytes: int, received_bytes: int) -> float:
        """Return the estimated energy of sending ``sent_bytes`` and receiving the reply."""
        return self.mj_per_request + self.mj_per_kb * (sent_bytes + received_bytes) / 1024.0

    def break_even_kb(self, local_mj: float) -> float:
        """Return the payload (kB, both ways) at which offloading costs what local does."""
        if self.mj_per_kb <= 0.0:
            return math.inf if local_mj >= self.mj_per_request else 0.0
        return max(0.0, (local_mj - self.mj_per_request) / self.mj_per_kb)
