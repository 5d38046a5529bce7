"""
The per-command energy budget every strategy works within.

usable energy = battery energy above a reserve x the share of it the language stack may
spend; the per-command budget spreads that over the commands expected in the mission
horizon. So the budget falls linearly to zero as the battery falls to the reserve, and while
charging (the charger refills what is spent) it is the full-battery budget.
"""

from dataclasses import asdict, dataclass
import math
from typing import Dict, Optional

JOULES_PER_WH = 3600.0


@dataclass(frozen=True)
class EnergyBudgetModel:
    """Battery state -> millijoules one command may spend."""

    capacity_wh: float = 100.0           # used when the BatteryState does not say
    reserve_fraction: float = 0.1        # kept for docking and getting home; never spent
    compute_share: float = 0.0005        # share of battery energy the language stack may use
    mission_horizon_s: float = 3600.0
    command_rate_hz: float = 1.0         # commands expected per second over the horizon
    unknown_battery_fraction: float = 0.3  # assumed when no (fresh) battery reading exists

    def expected_commands(self) -> float:
        """Commands the budget is spread over."""
        return max(1.0, self.mission_horizon_s * self.command_rate_hz)

    def per_command_mj(self, battery_fraction: float, charging: bool = False,
                       capacity_wh: Optional[float] = None) -> float:
        """Budget in mJ for one command at ``battery_fraction`` (NaN = unknown)."""
        if charging:
            battery_fraction = 1.0
        elif battery_fraction is None or math.isnan(battery_fraction):
            battery_fraction = self.unknown_battery_fraction
        if capacity_wh is None or not math.isfinite(capacity_wh) or capacity_wh <= 0:
            capacity_wh = self.capacity_wh
        usable_fraction = max(0.0, min(1.0, battery_fraction) - self.reserve_fraction)
        usable_mj = usable_fraction * capacity_wh * JOULES_PER_WH * 1e3 * self.compute_share
        return usable_mj / self.expected_commands()

    def as_dict(self) -> Dict[str, float]:
        """Fields for reports and reasons."""
        return asdict(self)
