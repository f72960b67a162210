"""A port that cannot be opened for hours (an adapter unplugged for good) is retried with
backoff all along, but logged only when its error says something new, and otherwise at
intervals that double up to an hour: a log read after a month of it still shows every change
of the port's state, not tens of thousands of the same line. Real paths and a real pty; the
clock is a number the test advances."""

from __future__ import annotations

import os
import random
import sys
from pathlib import Path
from typing import Any

import pytest
from harness.common import wait_for
from harness.daemon import StartDaemon
from harness.pty import PtyPair, SymlinkedPty, held_by_subprocess
from pytest_mock import MockerFixture
from structlog.testing import capture_logs

from sensord import cli, port_holders
from sensord.bus import Bus
from sensord.config import parse_config
from sensord.config_sensor import SensorConfig
from sensord.errors import SourceUnavailableError
from sensord.sensor import SensorRuntime


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def retry_until(runtime: SensorRuntime, clock: Clock, seconds: float) -> None:
    """Reopen whenever the backoff allows, for ``seconds``, as the reader loop does."""
    end = clock.now + seconds
    while clock.now < end:
        clock.now = max(clock.now + 0.01, runtime.retry.next_at)
        runtime.try_open()


def test_a_port_gone_for_hours_is_logged_at_doubling_intervals_and_at_each_new_error(
    tmp_path: Path,
) -> None:
    link = tmp_path / "usb-FTDI_FT232R_A50285BI-if00-port0"
    config = parse_config(
        f'[[sensors]]\nname = "s"\nport = "{link}"\nformat = "value"\nsimulate = "never"\n'
        "reconnect = { initial_delay_s = 1, max_delay_s = 30 }\n"
        '[[sensors.channels]]\nname = "v"\n'
    ).sensors[0]
    clock = Clock()
    runtime = SensorRuntime(config, clock=clock, wall_clock=clock, rng=random.Random(7))
    with capture_logs() as logs:
        assert not runtime.try_open()
        retry_until(runtime, clock, 3 * 3600)
    failures = [e for e in logs if e["event"] == "open failed"]
    assert runtime.open_failures > 500  # still retried every 30 s at most
    # at 0 s, then 60, 120, 240, 480, 960, 1920 and 3600 s after the one before
    assert len(failures) == 8, [e["suppressed"] for e in failures]
    assert sum(e["suppressed"] for e in failures) + len(failures) <= runtime.open_failures
    assert failures[0]["error"] == f"sensor 's': {link} does not exist"
    assert [e["state"] for e in logs if e["event"] == "sensor state"] == ["down"]

    # another error is news: logged at its first attempt
    link.write_text("")
    with capture_logs() as logs:
        retry_until(runtime, clock, 1)
    [failure] = [e for e in logs if e["event"] == "open failed"]
    assert "is not a character device" in failure["error"]
    os.unlink(link)

    # back, then gone again: the first failure of the new outage is logged at once
    with PtyPair() as pair:
        link.symlink_to(pair.path)
        retry_until(runtime, clock, 1)
        assert runtime.state == "up"
    runtime.disconnect("hung up")
    # the link dangles, as a hand-made link to an unplugged device does; it points at a name
    # nothing holds, since a closed pty's name may already be another test's pty
    gone = tmp_path / "ttyUSB-unplugged"
    link.unlink()
    link.symlink_to(gone)
    with capture_logs() as logs:
        retry_until(runtime, clock, 5)
    assert [e["error"] for e in logs if e["event"] == "open failed"] == [
        f"sensor 's': {link} is a link to {gone}, which does not exist: its device is absent "
        "(the adapter is unplugged); the daemon waits for it and reads it once it is back "
        '(simulate = "never")'
    ]
    runtime.stop()


def test_a_modbus_bus_gone_for_hours_is_logged_the_same_way(tmp_path: Path) -> None:
    port = tmp_path / "ttyRS485"
    config = parse_config(
        f'[[sensors]]\nname = "meter"\nport = "{port}"\nformat = "modbus"\n'
        'simulate = "never"\nmodbus = { unit = 1 }\n'
        "reconnect = { initial_delay_s = 1, max_delay_s = 30 }\n"
        'registers = [{ name = "v", table = "holding", address = 0 }]\n'
        '[[sensors.channels]]\nname = "v"\n'
    ).sensors[0]
    clock = Clock()
    bus = Bus("bus:" + str(port), config, clock=clock, rng=random.Random(7))
    bus.add(SensorRuntime(config, clock=clock, wall_clock=clock))
    with capture_logs() as logs:
        while clock.now < 1000.0 + 3 * 3600:
            assert not bus.try_open()
            clock.now = max(clock.now + 0.01, bus.retry.next_at)
    failures = [e for e in logs if e["event"] == "bus open failed"]
    assert len(failures) == 8, [e["suppressed"] for e in failures]
    bus.stop()


@pytest.mark.parametrize("simulate", ["never", "auto"])
def test_a_modbus_bus_on_a_dangling_link_tells_what_its_devices_do_meanwhile(
    tmp_path: Path, simulate: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A sensor's dangling link says what the daemon does meanwhile (simulate or wait); a
    bus's said only that the device is absent, as ``simulate`` is each device's. It is one for
    the whole bus (the configuration makes it so): the bus's error, and ``sensord check``'s of
    each of its devices, tell what happens to the bus's devices, named."""
    link = tmp_path / "usb-FTDI_USB-RS485_Cable_FT4XYZ-if00-port0"
    gone = tmp_path / "ttyUSB-unplugged"
    link.symlink_to(gone)
    path = tmp_path / "sensord.toml"
    path.write_text(
        "".join(
            f'[[sensors]]\nname = "{name}"\nport = "{link}"\nformat = "modbus"\n'
            f'simulate = "{simulate}"\nmodbus = {{ unit = {unit} }}\n'
            'registers = [{ name = "v", table = "holding", address = 0 }]\n'
            '[[sensors.channels]]\nname = "v"\n'
            for name, unit in (("pump10", 10), ("pump2", 2))
        )
    )
    meanwhile = {
        "never": "the daemon waits for it, and the bus's devices (pump2, pump10) read nothing "
        '(down) until it is back (simulate = "never")',
        "auto": "a daemon that starts without it simulates the bus's devices (pump2, pump10) "
        "until it is back, and one that was reading it waits for it, the devices down "
        'meanwhile (simulate = "auto")',
    }[simulate]
    told = (
        f"{link} is a link to {gone}, which does not exist: its device is absent (the adapter "
        f"is unplugged); {meanwhile}"
    )
    assert cli.main(["check", "-c", str(path)]) == (1 if simulate == "never" else 0)
    out = capsys.readouterr().out
    for i, name in enumerate(("pump10", "pump2")):
        assert f"{path}: sensors[{i}].port (sensor {name!r}): {told}\n" in out, out

    configs = parse_config(path.read_text()).sensors
    clock = Clock()
    # a bus that was reading the port (not simulated) finds it gone; one that starts without
    # it, at "auto", simulates its devices
    bus = Bus(
        "bus:" + str(link),
        configs[0],
        clock=clock,
        rng=random.Random(7),
        simulated=None if simulate == "never" else False,
    )
    runtimes = [SensorRuntime(c, clock=clock, wall_clock=clock) for c in configs]
    for runtime in runtimes:
        bus.add(runtime)
    with capture_logs() as logs:
        assert not bus.try_open()
    # each device's down state names the bus's error, as /status does
    assert [(e["sensor"], e["error"]) for e in logs if e["event"] == "sensor state"] == [
        (name, f"bus {link}: {told}") for name in ("pump10", "pump2")
    ]
    assert [r.last_error for r in runtimes] == [f"bus {link}: {told}"] * 2
    bus.stop()
    if simulate == "auto":
        started = Bus("bus:" + str(link), configs[0], clock=clock, rng=random.Random(7))
        for config in configs:
            started.add(SensorRuntime(config, clock=clock, wall_clock=clock))
        with capture_logs() as logs:
            assert started.try_open()
        assert [e["error"] for e in logs if e["event"] == "device absent: simulating it"] == [told]
        started.stop()


# -- a port held by another process: its holders are searched for only when it is logged -------


class ProcSearches:
    """Counts the searches of /proc for a port's holders: reads of the lock table
    (``/proc/locks``) and walks over every process's open files (``/proc/*/fd``)."""

    def __init__(self, mocker: MockerFixture) -> None:
        self._locks = mocker.spy(port_holders, "_pids_with_lock")
        self._files = mocker.spy(port_holders, "_open_files")

    @property
    def count(self) -> int:
        return self._locks.call_count + self._files.call_count


def held_config(port: str) -> SensorConfig:
    return parse_config(
        f'[[sensors]]\nname = "s"\nport = "{port}"\nformat = "value"\nsimulate = "never"\n'
        "reconnect = { initial_delay_s = 1, max_delay_s = 30 }\n"
        '[[sensors.channels]]\nname = "v"\n'
    ).sensors[0]


def test_a_held_port_names_its_holder_when_logged_and_searches_proc_for_no_other_retry(
    mocker: MockerFixture,
) -> None:
    """Naming the holders walks every process's open files (milliseconds, a third of a second
    on a host with 20,000 descriptors) on the reader thread: only an attempt that is logged
    may pay for it. /status keeps the holder found when it was last logged."""
    clock = Clock()
    with PtyPair() as pair, held_by_subprocess(pair.path, flock=True) as holder:
        runtime = SensorRuntime(
            held_config(pair.path), clock=clock, wall_clock=clock, rng=random.Random(7)
        )
        searches = ProcSearches(mocker)
        attempts: list[tuple[bool, bool]] = []  # (logged, searched) of each attempt
        with capture_logs() as logs:
            end = clock.now + 3600
            while clock.now < end:
                before_logs, before_searches = len(logs), searches.count
                assert not runtime.try_open()
                logged = any(e["event"] == "open failed" for e in logs[before_logs:])
                attempts.append((logged, searches.count > before_searches))
                named = f"pid {holder.pid} ({sys.executable} -c import fcntl"
                assert named in runtime.last_error, runtime.last_error
                clock.now = max(clock.now + 0.01, runtime.retry.next_at)
        failures = [e for e in logs if e["event"] == "open failed"]
        runtime.stop()
    assert len(attempts) > 100
    # logged at 0 s, then 60, 120, 240, 480 and 960 s after the one before
    assert len(failures) == 6, [e["suppressed"] for e in failures]
    assert [searched for _, searched in attempts] == [logged for logged, _ in attempts]
    for failure in failures:
        assert failure["error"].startswith(f"sensor 's': {pair.path} is held by another process")
        assert f"pid {holder.pid} ({sys.executable} -c import fcntl" in failure["error"]
    [down] = [e for e in logs if e["event"] == "sensor state"]
    assert down["error"] == failures[0]["error"]


def test_a_held_bus_port_searches_proc_only_when_logged(mocker: MockerFixture) -> None:
    clock = Clock()
    with PtyPair() as pair, held_by_subprocess(pair.path, flock=True) as holder:
        config = parse_config(
            f'[[sensors]]\nname = "meter"\nport = "{pair.path}"\nformat = "modbus"\n'
            'simulate = "never"\nmodbus = { unit = 1 }\n'
            "reconnect = { initial_delay_s = 1, max_delay_s = 30 }\n"
            'registers = [{ name = "v", table = "holding", address = 0 }]\n'
            '[[sensors.channels]]\nname = "v"\n'
        ).sensors[0]
        bus = Bus("bus:" + pair.path, config, clock=clock, rng=random.Random(7))
        meter = SensorRuntime(config, clock=clock, wall_clock=clock)
        bus.add(meter)
        searches = ProcSearches(mocker)
        with capture_logs() as logs:
            while clock.now < 1000.0 + 3600:
                assert not bus.try_open()
                clock.now = max(clock.now + 0.01, bus.retry.next_at)
        failures = [e for e in logs if e["event"] == "bus open failed"]
        bus.stop()
    assert meter.open_failures > 100
    assert len(failures) == 6
    assert 0 < searches.count <= 2 * len(failures)  # the lock table, the open files at most
    assert all(f"pid {holder.pid} (" in e["error"] for e in failures)
    assert f"pid {holder.pid} (" in meter.last_error


def test_an_error_of_a_bus_port_names_the_bus_not_an_internal_sensor_name() -> None:
    """The port that a Modbus bus's devices share fails as ``bus PORT``, a sensor's own port
    as ``sensor 'NAME'``, with or without details found later."""
    bus = SourceUnavailableError("bus:modbus-tcp://gw:502", "cannot open it: refused")
    assert str(bus) == "bus modbus-tcp://gw:502: cannot open it: refused"
    late = SourceUnavailableError("bus:/dev/ttyUSB0", "busy", describe=lambda: "held by pid 7")
    assert str(late) == "bus /dev/ttyUSB0: held by pid 7"
    assert str(SourceUnavailableError("boiler", "gone")) == "sensor 'boiler': gone"


@pytest.mark.slow
def test_an_adapter_back_under_another_ttyusb_number_is_named_by_the_running_daemon(
    tmp_path: Path, start_daemon: StartDaemon
) -> None:
    """The config names ttyUSB0; the adapter is replugged and the kernel gives it ttyUSB1
    (here links to ptys in a directory of the test's): the open failure's log line and
    ``last_error`` name the device present now and the by-id advice, as soon as it is there."""
    usb0 = tmp_path / "ttyUSB0"
    adapter = SymlinkedPty(usb0)
    try:
        config = (
            f'[[sensors]]\nname = "s"\nport = "{usb0}"\nformat = "value"\n'
            'simulate = "never"\n[[sensors.channels]]\nname = "v"\n'
        )
        daemon = start_daemon(config=config)
        daemon.wait_http()
        daemon.wait_state("up", timeout_s=10)
        adapter.unplug(remove_link=True)
        daemon.wait_state("down", timeout_s=10)
        with PtyPair() as replugged:
            (tmp_path / "ttyUSB1").symlink_to(replugged.path)

            def named() -> bool:
                return any(f"{tmp_path}/ttyUSB1 present now" in e["error"] for e in failures())

            def failures() -> list[dict[str, Any]]:
                return daemon.events("open failed")

            wait_for(named, 10, "an open failure naming ttyUSB1")
            error = daemon.status()["sensors"]["s"]["last_error"]
        assert error == (
            f"sensor 's': {usb0} does not exist: a USB adapter comes back under another ttyUSB "
            f"number after a replug or a reboot ({tmp_path}/ttyUSB1 present now); name it by "
            "its /dev/serial/by-id link (sensord ports lists them)"
        )
    finally:
        adapter.close()


@pytest.mark.parametrize("simulate", ["never", "auto"])
def test_sensord_check_and_the_daemon_tell_a_dangling_link_in_one_text(
    tmp_path: Path, simulate: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A by-id link whose adapter is unplugged (the link left, its target gone): ``sensord
    check`` called it "a dangling link ... (device unplugged, or renamed)" and the daemon
    "does not exist: the link points to ... (device unplugged?)", or, simulating it, did not
    name the link at all. Both now say the same: the link, its target, that the device is
    absent (the adapter unplugged), and what the daemon does meanwhile under ``simulate``."""
    link = tmp_path / "usb-FTDI_FT232R_A50285BI-if00-port0"
    gone = tmp_path / "ttyUSB-unplugged"
    link.symlink_to(gone)
    path = tmp_path / "sensord.toml"
    path.write_text(
        f'[[sensors]]\nname = "s"\nport = "{link}"\nformat = "value"\nsimulate = "{simulate}"\n'
        '[[sensors.channels]]\nname = "v"\n'
    )
    meanwhile = {
        "never": 'the daemon waits for it and reads it once it is back (simulate = "never")',
        "auto": "a daemon that starts without it simulates it until it is back, and one that "
        'was reading it waits for it (simulate = "auto")',
    }[simulate]
    told = (
        f"{link} is a link to {gone}, which does not exist: its device is absent (the adapter "
        f"is unplugged); {meanwhile}"
    )
    code = cli.main(["check", "-c", str(path)])
    assert code == (1 if simulate == "never" else 0)
    out = capsys.readouterr().out
    assert f"{path}: sensors[0].port (sensor 's'): {told}\n" in out, out
    assert "device s: absent" not in out, out  # told once, in the link's line
    clock = Clock()
    runtime = SensorRuntime(
        parse_config(path.read_text()).sensors[0],
        clock=clock,
        wall_clock=clock,
        rng=random.Random(7),
    )
    with capture_logs() as logs:
        runtime.try_open()
    if simulate == "never":
        # the down state's warning names the open's error
        assert [e["error"] for e in logs if e["event"] == "sensor state"] == [f"sensor 's': {told}"]
        assert runtime.last_error == f"sensor 's': {told}"
    else:
        assert runtime.simulated
        assert [e["error"] for e in logs if e["event"] == "device absent: simulating it"] == [told]
    runtime.stop()
