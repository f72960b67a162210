"""A sensor whose device path is absent when it starts, with ``simulate = "auto"`` (the
default), reads a simulation: the log says so in a warning naming the configured path, so an
operator who mistyped a port or whose adapter enumerated late learns that the readings are
not the device's. A ``sim://`` port, simulated on purpose, gets no such warning. A reload
of the same file reads the device once it is there."""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from harness.pty import PtyPair
from structlog.testing import capture_logs

from sensord.bus import Bus
from sensord.capture import RX, Record, encode_capture
from sensord.config import parse_config
from sensord.daemon import Daemon
from sensord.sensor import SensorRuntime


def value_sensor_toml(port: str) -> str:
    return (
        f'[[sensors]]\nname = "probe"\nport = "{port}"\nformat = "value"\n'
        '[[sensors.channels]]\nname = "temperature_celsius"\n'
    )


def warnings_of(logs: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
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


# -- a reload finds a device that was absent at start --------------------------------------------


def test_a_reload_reads_the_device_that_came_after_a_start_without_it(tmp_path: Path) -> None:
    link = tmp_path / "ttyPROBE"
    config = parse_config(value_sensor_toml(str(link)))
    daemon = Daemon(config, environ={})
    runtime = daemon._make_runtime(config.sensors[0])
    daemon.reader.add(runtime)
    try:
        assert runtime.simulated
        daemon.apply(config)  # the device is still absent: nothing to do
        assert daemon.reader.sensors["probe"] is runtime
        with PtyPair() as pair:
            link.symlink_to(pair.path)
            daemon.apply(config)  # the same file, reloaded once the adapter is there
            found = daemon.reader.sensors["probe"]
            assert found is not runtime
            assert not found.simulated
            assert found.try_open()
            assert found.source is not None
            assert not found.source.simulated
            # read from then on as any device: unplugged, it is not replaced by a simulation
            link.unlink()
            daemon.apply(config)
            assert daemon.reader.sensors["probe"] is found
    finally:
        daemon.reader.close()


def test_a_reload_leaves_sim_and_replay_ports_running(tmp_path: Path) -> None:
    capture = tmp_path / "c.cap"
    header = {
        "sensord": "0.1.0",
        "sensor": "replayed",
        "port": "/dev/ttyUSB0",
        "serial": "9600 8N1",
    }
    capture.write_bytes(encode_capture(header, [Record(RX, 0.0, b"1\n")]))
    config = parse_config(
        value_sensor_toml("sim://probe")
        + value_sensor_toml(f"replay://{capture}").replace('"probe"', '"replayed"')
    )
    daemon = Daemon(config, environ={})
    runtimes = [daemon._make_runtime(c) for c in config.sensors]
    for runtime in runtimes:
        daemon.reader.add(runtime)
    try:
        assert all(runtime.try_open() for runtime in runtimes)
        assert all(runtime.simulated for runtime in runtimes)  # a replay reads no device
        daemon.apply(config)
        assert [daemon.reader.sensors[r.name] for r in runtimes] == runtimes
    finally:
        daemon.reader.close()
