"""A sensor whose device path is absent when it starts, with ``simulate = "auto"`` (the
default), reads a simulation: the log says so in a warning naming the configured path, so an
operator who mistyped a port or whose adapter enumerated late learns that the readings are
not the device's. A ``sim://`` port, simulated on purpose, gets no such warning."""

from __future__ import annotations

import random
from pathlib import Path

from harness.pty import PtyPair
from structlog.testing import capture_logs

from sensord.bus import Bus
from sensord.config import parse_config
from sensord.sensor import SensorRuntime


def value_sensor_toml(port: str) -> str:
    return (
        f'[[sensors]]\nname = "probe"\nport = "{port}"\nformat = "value"\n'
        '[[sensors.channels]]\nname = "temperature_celsius"\n'
    )


def warnings_of(logs: list[dict[str, object]]) -> list[dict[str, object]]:
    return [e for e in logs if e["event"] == "device absent: simulating it"]


def test_an_absent_device_simulated_at_start_is_a_warning_naming_its_path(
    tmp_path: Path,
) -> None:
    port = str(tmp_path / "ttyUSB7")
    config = parse_config(value_sensor_toml(port)).sensors[0]
    runtime = SensorRuntime(config)
    with capture_logs() as logs:
        assert runtime.try_open()
    runtime.stop()
    assert runtime.simulated
    [warning] = warnings_of(logs)
    assert warning["log_level"] == "warning"
    assert warning["port"] == port
    assert warning["simulated_port"] == "sim://probe"
    assert 'simulate = "never"' in str(warning["hint"])


def test_a_present_device_or_a_sim_port_gives_no_such_warning(tmp_path: Path) -> None:
    with PtyPair() as pair:
        config = parse_config(value_sensor_toml(pair.path)).sensors[0]
        device = SensorRuntime(config)
        with capture_logs() as logs:
            assert device.try_open()
        device.stop()
    assert not device.simulated
    simulated = SensorRuntime(parse_config(value_sensor_toml("sim://probe")).sensors[0])
    with capture_logs() as more:
        assert simulated.try_open()
    simulated.stop()
    assert simulated.simulated
    assert warnings_of(logs) == warnings_of(more) == []


def test_a_modbus_bus_on_an_absent_device_warns_once_naming_its_path(tmp_path: Path) -> None:
    port = str(tmp_path / "ttyRS485")
    config = parse_config(
        f'[[sensors]]\nname = "meter"\nport = "{port}"\nformat = "modbus"\n'
        "modbus = { unit = 1 }\n"
        'registers = [{ name = "v", table = "holding", address = 0 }]\n'
        '[[sensors.channels]]\nname = "v"\n'
    ).sensors[0]
    bus = Bus("bus:" + port, config, rng=random.Random(7))
    bus.add(SensorRuntime(config))
    with capture_logs() as logs:
        assert bus.try_open()
    bus.stop()
    [warning] = warnings_of(logs)
    assert warning["log_level"] == "warning"
    assert warning["port"] == port
