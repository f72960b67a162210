"""What a scrape reads while a reload applies: the sensors of the configuration being applied,
never a changed sensor's old runtime after it stopped. The HTTP thread reads the daemon's view
at any moment of the reader thread's reload; the view is switched in one step before the old
runtimes stop, and after a reload that failed on the way it is what the reader runs."""

from __future__ import annotations

from typing import Any

import pytest
from harness.modbus import daemon_in_process

from sensord.config import parse_config
from sensord.config_sensor import SensorConfig
from sensord.daemon import Daemon
from sensord.sensor import SensorRuntime
from sensord.sources.base import Source


def sim_sensor(name: str, rate_hz: float) -> str:
    return (
        f'[[sensors]]\nname = "{name}"\nport = "sim://{name}"\nformat = "value"\n'
        f"sampling_rate_hz = {rate_hz}\n"
        '[[sensors.channels]]\nname = "temperature_celsius"\n'
    )


def test_a_scrape_during_a_reload_sees_no_stopped_sensor() -> None:
    config = parse_config(sim_sensor("kept", 5) + sim_sensor("changed", 5) + sim_sensor("gone", 5))
    daemon = daemon_in_process(config)
    seen: list[dict[str, Any]] = []
    remove = daemon.reader.remove

    def remove_and_look(name: str) -> SensorRuntime:
        stopped = remove(name)
        seen.append(daemon.status_body())  # what a scrape at this moment reads
        return stopped

    daemon.reader.remove = remove_and_look  # type: ignore[method-assign]
    try:
        assert all(r.try_open() for r in daemon.reader.sensors.values())
        new = parse_config(sim_sensor("kept", 5) + sim_sensor("changed", 10) + sim_sensor("new", 5))
        daemon.apply(new)
        assert len(seen) == 2  # "changed" and "gone" were stopped
        for body in seen:
            assert set(body["sensors"]) == {"kept", "changed", "new"}
            states = {name: s["state"] for name, s in body["sensors"].items()}
            assert "stopped" not in states.values(), states
        assert set(daemon.status_body()["sensors"]) == {"kept", "changed", "new"}
    finally:
        daemon.reader.close()


class UnclosableDevice(Source):
    """A device whose close fails (EIO): what stops its sensor raises."""

    def _open(self) -> None:
        pass

    def _close(self, was_open: bool) -> None:
        if was_open:
            raise OSError(5, "Input/output error")

    def read(self) -> bytes:
        return b""


def test_a_scrape_after_a_reload_that_failed_on_the_way_sees_what_runs() -> None:
    """A reload whose removal of a sensor raises fails (the loop goes on): a scrape then
    shows the sensors the reader runs, not the new configuration's that were never started
    ("opening" for good) in place of the running ones."""
    config = parse_config(sim_sensor("kept", 5) + sim_sensor("changed", 5) + sim_sensor("gone", 5))
    daemon = Daemon(config, environ={})

    def unclosable(c: SensorConfig) -> Source:
        return UnclosableDevice(c.name, c.port)

    [gone] = [c for c in config.sensors if c.name == "gone"]
    daemon._built = [r for r in daemon._built if r.name != "gone"]
    daemon._built.append(SensorRuntime(gone, source_factory=unclosable))
    for runtime in daemon._built:
        daemon.reader.add(runtime)
    daemon._refresh_runtimes()
    try:
        assert all(r.try_open() for r in daemon.reader.sensors.values())
        new = parse_config(sim_sensor("kept", 5) + sim_sensor("changed", 10) + sim_sensor("new", 5))
        with pytest.raises(OSError, match="Input/output error"):
            daemon.apply(new)
        running = daemon.reader.sensors
        assert set(running) == {"kept", "changed"}  # "gone" left the reader; nothing started
        states = {name: s["state"] for name, s in daemon.status_body()["sensors"].items()}
        assert states == {"kept": "up", "changed": "up"}
    finally:
        daemon.reader.close()
