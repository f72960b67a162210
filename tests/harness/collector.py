"""The daemon as sensord's metrics collector sees it, made of sensor runtimes."""

from __future__ import annotations

from collections.abc import Sequence

from sensord.sensor import SensorRuntime
from sensord.snapshot import SensorSnapshot


class RuntimesView:
    """``MetricsRegistry``'s view of a daemon that runs ``runtimes`` (their snapshots taken at
    every collection) and whose configuration loaded."""

    def __init__(self, runtimes: Sequence[SensorRuntime]) -> None:
        self.runtimes = runtimes
        self.reload_successful = True
        self.reload_success_timestamp_s = 0.0

    def sensor_snapshots(self) -> Sequence[SensorSnapshot]:
        return [r.snapshot() for r in self.runtimes]
