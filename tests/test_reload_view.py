"""What a scrape reads while a reload applies: the sensors of the configuration being applied,
never a changed sensor's old runtime after it stopped. The HTTP thread reads the daemon's view
at any moment of the reader thread's reload; the view is switched in one step before the old
runtimes stop."""

from __future__ import annotations

from typing import Any

from sensord.config import parse_config
from sensord.daemon import Daemon
from sensord.sensor import SensorRuntime


def sim_sensor(name: str, rate_hz: float) -> str:
    return (
        f'[[sensors]]\nname = "{name}"\nport = "sim://{name}"\nformat = "value"\n'
        f"sampling_rate_hz = {rate_hz}\n"
        '[[sensors.channels]]\nname = "temperature_celsius"\n'
    )


def test_a_scrape_during_a_reload_sees_no_stopped_sensor() -> None:
    config = parse_config(sim_sensor("kept", 5) + sim_sensor("changed", 5) + sim_sensor("gone", 5))
    daemon = Daemon(config, environ={})
    for runtime in daemon._built:
        daemon.reader.add(runtime)
    daemon._refresh_runtimes()
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
