"""A sensor whose device path is absent when it starts, with ``simulate = "auto"`` (the
default), reads a simulation: the log says so in a warning naming the configured path, so an
operator who mistyped a port or whose adapter enumerated late learns that the readings are
not the device's. A ``sim://`` port, simulated on purpose, gets no such warning. A reload
of the same file reads the device once it is there."""

from __future__ import annotations

import json
import random
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from harness.common import wait_for
from harness.daemon import StartDaemon
from harness.pty import PtyPair, SymlinkedPty
from structlog.testing import capture_logs

from sensord.bus import Bus
from sensord.capture import RX, Record, encode_capture
from sensord.config import parse_config
from sensord.daemon import Daemon
from sensord.pipeline import PipelineContext
from sensord.reopen import DEVICE_WATCH_S
from sensord.sensor import SensorRuntime
from sensord.shard import DEVICES_READ_ENV


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


def daemon_reading(text: str) -> tuple[Daemon, list[SensorRuntime]]:
    """A daemon of the configuration ``text`` with each of its sensors in its reader, as its
    start puts them there (not yet opened); close its reader when done."""
    config = parse_config(text)
    daemon = Daemon(config, environ={})
    runtimes = [daemon._make_runtime(c) for c in config.sensors]
    for runtime in runtimes:
        daemon.reader.add(runtime)
    return daemon, runtimes


# -- a reload finds a device that was absent at start --------------------------------------------


def test_a_reload_reads_the_device_that_came_after_a_start_without_it(tmp_path: Path) -> None:
    link = tmp_path / "ttyPROBE"
    daemon, [runtime] = daemon_reading(value_sensor_toml(str(link)))
    config = daemon.config
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
    daemon, runtimes = daemon_reading(
        value_sensor_toml("sim://probe")
        + value_sensor_toml(f"replay://{capture}").replace('"probe"', '"replayed"')
    )
    try:
        assert all(runtime.try_open() for runtime in runtimes)
        assert all(runtime.simulated for runtime in runtimes)  # a replay reads no device
        daemon.apply(daemon.config)
        assert [daemon.reader.sensors[r.name] for r in runtimes] == runtimes
    finally:
        daemon.reader.close()


def test_a_sensor_a_reload_changes_while_its_device_is_unplugged_waits_for_it(
    tmp_path: Path,
) -> None:
    """The choice of a simulation is made when a sensor first starts: one that read its
    device, whose adapter is unplugged when a reload changes it, is not replaced by a
    simulation (made-up readings under the device's name) but waits for its device."""
    link = tmp_path / "ttyPROBE"
    with PtyPair() as pair:
        link.symlink_to(pair.path)
        daemon, [runtime] = daemon_reading(value_sensor_toml(str(link)))
        try:
            assert runtime.try_open()
            assert not runtime.simulated
            link.unlink()  # the adapter unplugged
            changed = parse_config(
                value_sensor_toml(str(link)).replace(
                    'format = "value"\n', 'format = "value"\nserial = { baudrate = 19200 }\n'
                )
            )
            daemon.apply(changed)
            restarted = daemon.reader.sensors["probe"]
            assert restarted is not runtime
            assert not restarted.simulated
            assert not restarted.try_open()  # down, waiting for its device
            assert restarted.source is None
        finally:
            daemon.reader.close()


def meters_toml(port: str, baudrate: int) -> str:
    return "".join(
        f'[[sensors]]\nname = "meter{unit}"\nport = "{port}"\nformat = "modbus"\n'
        f"serial = {{ baudrate = {baudrate} }}\nmodbus = {{ unit = {unit} }}\n"
        'registers = [{ name = "v", table = "holding", address = 0 }]\n'
        '[[sensors.channels]]\nname = "v"\n'
        for unit in (1, 2)
    )


def test_a_bus_a_reload_changes_while_its_adapter_is_unplugged_waits_for_it(
    tmp_path: Path,
) -> None:
    """A reload that changes every device of a bus (its line settings) while its adapter is
    unplugged makes a new bus: it waits for the adapter rather than simulate the meters."""
    link = tmp_path / "ttyRS485"
    with PtyPair() as pair:
        link.symlink_to(pair.path)
        daemon, runtimes = daemon_reading(meters_toml(str(link), 9600))
        try:
            assert not any(runtime.simulated for runtime in runtimes)
            link.unlink()
            daemon.apply(parse_config(meters_toml(str(link), 19200)))
            restarted = [daemon.reader.sensors[r.name] for r in runtimes]
            assert not set(restarted) & set(runtimes)
            assert not any(runtime.simulated for runtime in restarted)
            [bus] = daemon.reader._buses.values()
            assert not bus.try_open()
            assert bus.source is None
            assert not any(runtime.simulated for runtime in restarted)
        finally:
            daemon.reader.close()


def meter_toml(name: str, port: str, unit: int, baudrate: int) -> str:
    return (
        f'[[sensors]]\nname = "{name}"\nport = "{port}"\nformat = "modbus"\n'
        f"serial = {{ baudrate = {baudrate} }}\nmodbus = {{ unit = {unit} }}\n"
        'registers = [{ name = "v", table = "holding", address = 0 }]\n'
        '[[sensors.channels]]\nname = "v"\n'
    )


def test_a_bus_rebuilt_at_a_reload_reads_its_device_whichever_of_its_devices_comes_first(
    tmp_path: Path,
) -> None:
    """A reload moves a meter onto a bus whose adapter is unplugged (from a port of its own,
    listed first) and changes the bus's other meters: those read the adapter before, so the
    new bus waits for it; the moved meter, first to join it, does not make it a simulation."""
    link = tmp_path / "ttyRS485"
    other = tmp_path / "ttyOTHER"
    with PtyPair() as pair, PtyPair() as second:
        link.symlink_to(pair.path)
        other.symlink_to(second.path)
        before = meter_toml("moved", str(other), 3, 19200) + meters_toml(str(link), 9600)
        daemon, runtimes = daemon_reading(before)
        try:
            assert not any(runtime.simulated for runtime in runtimes)
            link.unlink()
            after = meter_toml("moved", str(link), 3, 19200) + meters_toml(str(link), 19200)
            daemon.apply(parse_config(after))
            [bus] = daemon.reader._buses.values()
            assert bus._simulated is None
            assert not any(runtime.simulated for runtime in daemon.reader.sensors.values())
        finally:
            daemon.reader.close()


def test_a_worker_started_again_waits_for_the_devices_the_run_read(tmp_path: Path) -> None:
    """A ``--workers`` worker is started with the device paths the run's workers read: its
    sensors and buses on one of them, absent now (unplugged), wait for the device; one on a
    path never read is simulated, absent at start."""
    bus_link, read_link, never = (tmp_path / n for n in ("ttyRS485", "ttyPROBE", "ttyNEW"))
    text = (
        meters_toml(str(bus_link), 9600)
        + value_sensor_toml(str(read_link))
        + value_sensor_toml(str(never)).replace('"probe"', '"fresh"')
    )
    environ = {DEVICES_READ_ENV: json.dumps([str(bus_link), str(read_link)])}
    daemon = Daemon(parse_config(text), environ=environ, shard=(0, 1))
    try:
        daemon.start(PipelineContext("test"))
        sensors = daemon.reader.sensors
        assert {name: r.simulated for name, r in sensors.items()} == {
            "meter1": False,
            "meter2": False,
            "probe": False,
            "fresh": True,
        }
        [bus] = daemon.reader._buses.values()
        assert not bus.try_open()  # waits for its adapter
        assert not sensors["probe"].try_open()
    finally:
        daemon.reader.close()


# -- the device comes while the daemon runs ------------------------------------------------------


def test_housekeeping_reads_the_device_once_its_path_is_there(tmp_path: Path) -> None:
    """An adapter that enumerates after sensord started (a slow USB hub at boot) is read from
    the housekeeping pass that finds its path, without a reload; the path is looked for every
    ``DEVICE_WATCH_S``, and a sensor on a ``sim://`` port is left as it is."""
    link = tmp_path / "ttyPROBE"
    daemon, runtimes = daemon_reading(
        value_sensor_toml(str(link)) + value_sensor_toml("sim://demo").replace('"probe"', '"demo"')
    )
    probe, demo = runtimes
    try:
        assert all(runtime.try_open() for runtime in runtimes)
        assert probe.simulated
        with capture_logs() as logs:
            daemon._housekeeping(100.0)  # the path is absent: nothing changes
            assert daemon.reader.sensors["probe"] is probe
            with PtyPair() as pair:
                link.symlink_to(pair.path)
                daemon._housekeeping(100.0 + DEVICE_WATCH_S / 2)  # not looked for yet
                assert daemon.reader.sensors["probe"] is probe
                daemon._housekeeping(100.0 + DEVICE_WATCH_S)
                found = daemon.reader.sensors["probe"]
                assert found is not probe
                assert daemon.reader.sensors["demo"] is demo
                assert found.try_open()
                assert found.source is not None
                assert not found.source.simulated
        [present] = [e for e in logs if e["event"].startswith("device present")]
        assert present["sensor"] == "probe"
        assert present["port"] == str(link)
        assert present["log_level"] == "info"
        [restart] = [e for e in logs if e["event"] == "sensors restarted on their devices"]
        assert restart["restarted"] == ["probe"]
        assert restart["unchanged"] == 1
    finally:
        daemon.reader.close()


@pytest.mark.slow
def test_the_daemon_reads_a_device_that_comes_after_it_started(
    linked_pty: SymlinkedPty, start_daemon: StartDaemon
) -> None:
    """The real daemon: a by-id link absent at start is simulated (on ``/metrics`` too), and
    the device behind the link, once udev makes it, is read without a reload."""
    linked_pty.unplug(remove_link=True)
    daemon = start_daemon(config=value_sensor_toml(str(linked_pty.link)))
    daemon.wait_http()
    daemon.wait_sensors(lambda s: s["simulated"], ["probe"], 10.0, "probe simulated")
    assert daemon.scrape().value("sensord_sensor_simulated", sensor="probe") == 1
    # made-up readings under the device's name: the daemon is not running as configured
    assert daemon.status()["state"] == "degraded"
    pair = linked_pty.replug()
    daemon.wait_sensors(
        lambda s: not s["simulated"], ["probe"], 4 * DEVICE_WATCH_S, "probe on its device"
    )
    daemon.wait_up_settled(["probe"])
    wait_for(lambda: daemon.status()["state"] == "running", 5.0, "running once on its device")
    pair.write(b"-40.25\n")
    wait_for(
        lambda: (
            daemon.scrape().get(
                "sensord_reading_value", 0.0, sensor="probe", channel="temperature_celsius"
            )
            == -40.25
        ),
        5.0,
        "the device's reading on /metrics",
    )
    samples = daemon.scrape()
    assert samples.value("sensord_sensor_simulated", sensor="probe") == 0
    present_line = "device present: reading it instead of its simulation"
    wait_for(lambda: bool(daemon.events(present_line)), 5.0, "the switch's line")
    [present] = daemon.events(present_line)
    assert present["port"] == str(linked_pty.link)
    assert daemon.alive()


def test_a_restart_on_the_device_that_raises_leaves_the_loop_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug in restarting a sensor on its device is logged, and the next watch tries again:
    the housekeeping pass (on the reader loop) does not raise."""
    link = tmp_path / "ttyPROBE"
    daemon, [runtime] = daemon_reading(value_sensor_toml(str(link)))
    try:
        with PtyPair() as pair:
            link.symlink_to(pair.path)
            build = daemon._make_runtime

            def broken(*args: object, **kw: object) -> SensorRuntime:
                raise RuntimeError("bug")

            monkeypatch.setattr(daemon, "_make_runtime", broken)
            with capture_logs() as logs:
                daemon._housekeeping(100.0)
            [error] = [e for e in logs if e["log_level"] == "error"]
            assert error["event"] == "sensors could not be restarted on their devices"
            assert error["sensors"] == ["probe"]
            assert daemon.reader.sensors["probe"] is runtime  # still the simulation
            monkeypatch.setattr(daemon, "_make_runtime", build)
            daemon._housekeeping(100.0 + DEVICE_WATCH_S)
            assert not daemon.reader.sensors["probe"].simulated
    finally:
        daemon.reader.close()
