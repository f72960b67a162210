"""What a simulated device sends: the shape of each field's signal and the device's faults.

Each field's value follows a :class:`SignalSpec`::

    center + amplitude * sin(2 pi t / period_s) + drift_per_s * t + gauss(0, noise)

with ``t`` the seconds since the device started. A :class:`SimulationSpec` holds the seed of
the device's random generators and its fault rates; ``sensord.sources.simulated`` describes
what each fault does.

This module imports nothing from sensord, so the configuration can build these specs without
pulling in any runtime machinery.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

__all__ = ["SignalSpec", "SimulationSpec"]


@dataclass(frozen=True, slots=True)
class SignalSpec:
    """The shape of one simulated field over time (see the module docstring)."""

    center: float
    amplitude: float
    period_s: float
    noise: float
    drift_per_s: float

    def __post_init__(self) -> None:
        for name in ("center", "amplitude", "period_s", "noise", "drift_per_s"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"{name} must be finite")
        if self.period_s <= 0.0:
            raise ValueError(f"period_s must be positive, got {self.period_s}")
        if self.noise < 0.0:
            raise ValueError(f"noise must not be negative, got {self.noise}")

    def baseline(self, t_s: float) -> float:
        """The noiseless value at ``t_s`` seconds after the start."""
        phase = 2.0 * math.pi * t_s / self.period_s
        return self.center + self.amplitude * math.sin(phase) + self.drift_per_s * t_s


@dataclass(frozen=True, slots=True)
class SimulationSpec:
    """Seed and fault rates of a simulated device."""

    seed: int = 0
    spike_rate: float = 0.0
    garbage_rate: float = 0.0
    dropout_rate: float = 0.0
    dropout_s: float = 5.0

    def __post_init__(self) -> None:
        for name in ("spike_rate", "garbage_rate", "dropout_rate"):
            rate = getattr(self, name)
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {rate}")
        if not (math.isfinite(self.dropout_s) and self.dropout_s > 0.0):
            raise ValueError(f"dropout_s must be positive, got {self.dropout_s}")
