"""UART line error counters (TIOCGICOUNT): decoding the kernel's struct, the accounting across
opens, the unsupported path on real ptys (in the runtime and in the running daemon), and the
exported ``sensord_serial_line_errors_total``."""

from __future__ import annotations

import glob
import os
import struct
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from harness.collector import RuntimesView
from harness.daemon import StartDaemon
from harness.modbus import ModbusServer, PtyRelay
from harness.pty import PtyPair

from sensord.bus import Bus
from sensord.config import Config
from sensord.config_sensor import SensorConfig
from sensord.export import MetricsRegistry
from sensord.sensor import SensorRuntime
from sensord.serial_settings import SerialSettings
from sensord.sources.base import Source
from sensord.sources.serial_port import SerialSource
from sensord.uart import LINE_ERROR_KINDS, LineErrors, decode_icount, read_icount

#: cts dsr rng dcd rx tx frame overrun parity brk buf_overrun, then reserved[9]
ICOUNT = (1, 2, 3, 4, 5000, 6000, 7, 8, 9, 10, 11, *range(100, 109))


def test_the_kernel_struct_decodes_to_the_error_kinds() -> None:
    data = struct.pack("=20i", *ICOUNT)
    assert len(data) == 80
    assert decode_icount(data) == {
        "frame": 7,
        "overrun": 8,
        "parity": 9,
        "break": 10,
        "buffer_overrun": 11,
    }
    with pytest.raises(ValueError, match="expected 80 bytes"):
        decode_icount(data[:76])


def counts(**kinds: int) -> dict[str, int]:
    return {kind: kinds.get(kind, 0) for kind in LINE_ERROR_KINDS}


class Readings:
    """What the kernel reports, one reading per call."""

    def __init__(self, readings: Sequence[dict[str, int] | OSError | None]) -> None:
        self.readings = list(readings)
        self.calls = 0

    def __call__(self) -> dict[str, int] | None:
        self.calls += 1
        reading = self.readings.pop(0)
        if isinstance(reading, OSError):
            raise reading
        return reading


def test_line_errors_count_the_increase_since_each_open() -> None:
    line = LineErrors()
    assert line.exported() is None
    line.opened(Readings([counts(frame=5, overrun=1)]))
    assert line.exported() == counts()
    line.update(Readings([counts(frame=8, overrun=1, parity=2)]))
    assert line.exported() == counts(frame=3, parity=2)
    # reopened (a replug): the driver starts again from lower counts
    line.opened(Readings([counts(frame=1)]))
    line.update(Readings([counts(frame=4, brk=0)]))
    assert line.exported() == counts(frame=6, parity=2)


def icount_bytes(frame: int) -> bytes:
    """The ioctl's bytes for a driver whose frame error count is ``frame`` (its unsigned
    32-bit counter, as the kernel copies it into the struct's ``int`` field)."""
    return struct.pack("=20I", *ICOUNT[:6], frame, *ICOUNT[7:])


def test_a_count_past_2_31_and_a_wrap_at_2_32_go_on_counting() -> None:
    """A line with a framing error per byte passes 2**31 in about two days at 115200 baud: the
    count goes on up through the sign bit and through the wrap of the driver's counter."""
    assert decode_icount(icount_bytes(2**31 + 5))["frame"] == 2**31 + 5
    kernel = [2**31 - 10, 2**31 + 10, 2**32 - 5, 3, 1000]
    readings = [decode_icount(icount_bytes(frame)) for frame in kernel]
    line = LineErrors()
    line.opened(Readings(readings[:1]))
    seen = []
    for reading in readings[1:]:
        line.update(Readings([reading]))
        exported = line.exported()
        assert exported is not None
        seen.append(exported["frame"])
    assert seen == [20, 2**31 + 5, 2**31 + 13, 2**31 + 1010]
    # a reopen takes the driver's count as it is then: nothing is added for it
    line.opened(Readings([decode_icount(icount_bytes(7))]))
    line.update(Readings([decode_icount(icount_bytes(9))]))
    assert line.exported() == counts(frame=2**31 + 1012)
    # a driver that counts afresh under the open port (reloaded): its new count is the rise,
    # not a wrap of nearly 2**32
    line.update(Readings([decode_icount(icount_bytes(4))]))
    assert line.exported() == counts(frame=2**31 + 1016)


def test_a_driver_without_counters_is_asked_once_per_open() -> None:
    line = LineErrors()
    readings = Readings([OSError(25, "Inappropriate ioctl for device")])
    line.opened(readings)
    for _ in range(5):
        line.update(readings)
    assert readings.calls == 1
    assert line.unsupported == (
        "the driver keeps no line error counters (Inappropriate ioctl for device)"
    )
    assert line.exported() is None


def test_a_pty_has_no_line_error_counters(pty_pair: PtyPair) -> None:
    fd = os.open(pty_pair.path, os.O_RDWR | os.O_NOCTTY)
    try:
        with pytest.raises(OSError, match="Inappropriate ioctl"):
            read_icount(fd)
    finally:
        os.close(fd)
    with (
        SerialSource("s", pty_pair.path, SerialSettings()) as source,
        pytest.raises(OSError, match="Inappropriate ioctl"),
    ):
        source.line_counters()
    assert SerialSource("s", "socket://127.0.0.1:9", SerialSettings()).line_counters() is None


def sensor_config(port: str, name: str = "s") -> SensorConfig:
    errors: list[str] = []
    data = {
        "sensors": [{"name": name, "port": port, "format": "value", "channels": [{"name": "v"}]}]
    }
    config = Config.load(data, "", errors)
    assert config is not None, errors
    return config.sensors[0]


def test_a_sensor_on_a_pty_reports_the_counters_unsupported(pty_pair: PtyPair) -> None:
    runtime = SensorRuntime(sensor_config(pty_pair.path))
    assert runtime.try_open()
    snap = runtime.snapshot()
    assert snap.line_errors is None
    assert snap.line_errors_unsupported is not None
    assert snap.line_errors_unsupported.startswith("the driver keeps no line error counters")
    assert snap.as_json()["line_errors_unsupported"] == snap.line_errors_unsupported
    runtime.stop()


def supporting_device() -> str | None:
    """A serial device of this machine whose driver answers TIOCGICOUNT, if any."""
    for path in sorted(
        glob.glob("/dev/ttyS*") + glob.glob("/dev/ttyUSB*") + glob.glob("/dev/ttyACM*")
    ):
        try:
            fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        except OSError:
            continue
        try:
            read_icount(fd)
        except OSError:
            continue
        finally:
            os.close(fd)
        return path
    return None


def test_a_device_that_keeps_counters_is_read() -> None:
    device = supporting_device()
    if device is None:
        pytest.skip("no serial device here answers TIOCGICOUNT (or none may be opened)")
    # opened without changing its line settings (it may be a console): the ioctl only reads
    fd = os.open(device, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    try:
        line = LineErrors()
        line.opened(lambda: read_icount(fd))
        line.update(lambda: read_icount(fd))
    finally:
        os.close(fd)
    assert line.unsupported is None
    exported = line.exported()
    assert exported is not None
    assert set(exported) == set(LINE_ERROR_KINDS)
    assert all(n >= 0 for n in exported.values())


class CountingPort(Source):
    """A port whose kernel counters are given: the boundary this test cannot get from a pty."""

    def __init__(self, sensor: str, readings: Readings) -> None:
        super().__init__(sensor, "/dev/ttyTEST")
        self.readings = readings

    def _open(self) -> None:
        pass

    def _close(self, was_open: bool) -> None:
        pass

    def read(self) -> bytes:
        return b""

    def line_counters(self) -> dict[str, int] | None:
        return self.readings()


def test_the_counters_are_exported_as_line_errors_total() -> None:
    readings = Readings([counts(frame=10), counts(frame=12, overrun=3)])
    runtime = SensorRuntime(
        sensor_config("/dev/ttyTEST"), source_factory=lambda c: CountingPort(c.name, readings)
    )
    without = Readings([OSError(25, "Inappropriate ioctl for device")])
    on_pty = SensorRuntime(
        sensor_config("/dev/ttyOTHER", "p"), source_factory=lambda c: CountingPort(c.name, without)
    )
    assert runtime.try_open()
    assert on_pty.try_open()
    assert runtime.source is not None
    runtime.line.update(runtime.source.line_counters)
    registry = MetricsRegistry(RuntimesView([runtime, on_pty]), "0", 0).registry
    value = registry.get_sample_value
    assert value("sensord_serial_line_errors_total", {"sensor": "s", "kind": "frame"}) == 2
    assert value("sensord_serial_line_errors_total", {"sensor": "s", "kind": "overrun"}) == 3
    assert value("sensord_serial_line_errors_total", {"sensor": "s", "kind": "parity"}) == 0
    assert value("sensord_serial_line_errors_total", {"sensor": "p", "kind": "frame"}) is None


def modbus_devices(port: str, *units: int) -> list[SensorConfig]:
    errors: list[str] = []
    data = {
        "sensors": [
            {
                "name": f"unit{unit}",
                "port": port,
                "format": "modbus",
                "modbus": {"unit": unit},
                "registers": [{"name": "v", "table": "input", "address": 0}],
                "channels": [{"name": "v"}],
            }
            for unit in units
        ]
    }
    config = Config.load(data, "", errors)
    assert config is not None, errors
    return list(config.sensors)


def test_the_devices_of_a_bus_show_their_ports_counters() -> None:
    """A device on an RS-485 bus has no source of its own: it counts the bus port's errors
    from the moment the bus opened, and nothing while the bus is down."""
    configs = modbus_devices("/dev/ttyTEST", 1, 2)
    devices = [SensorRuntime(c) for c in configs]
    bus = Bus("bus:/dev/ttyTEST", configs[0])
    for runtime in devices:
        bus.add(runtime)
        assert runtime.line_counters() is None  # the bus is not open yet
    # the bus opens (each device takes its baseline), then one housekeeping tick
    readings = Readings(
        [counts(parity=4), counts(parity=4), counts(parity=9, frame=1), counts(parity=9, frame=1)]
    )
    bus.opened(CountingPort("bus", readings))
    for runtime in devices:
        read = runtime.line_counters()
        assert read is not None
        runtime.line.update(read)
    assert readings.calls == 4
    for runtime in devices:
        assert runtime.snapshot().line_errors == counts(parity=5, frame=1)
    bus.disconnect("unplugged")
    assert [runtime.line_counters() for runtime in devices] == [None, None]
    assert devices[0].snapshot().line_errors == counts(parity=5, frame=1)  # kept while down
    bus.stop()


@pytest.mark.slow
def test_the_daemon_reports_a_pty_without_counters_once(
    start_daemon: StartDaemon, pty_pair: PtyPair, tmp_path: Path
) -> None:
    config = f"""
[[sensors]]
name = "dev"
port = "{pty_pair.path}"
format = "value"
  [[sensors.channels]]
  name = "v"
"""
    daemon = start_daemon(config=config)
    daemon.wait_http()
    daemon.wait_up_settled(["dev"])  # so that the line written below is read whole
    first_tick = daemon.status()["sensors"]["dev"]
    assert first_tick["line_errors"] is None
    assert first_tick["line_errors_unsupported"].startswith("the driver keeps no line error")
    pty_pair.write(b"1\n")
    daemon.wait_frames({"dev": 1})
    # three housekeeping ticks later it is still reported once
    time.sleep(3.2)
    assert "sensord_serial_line_errors_total{" not in daemon.metrics_text()  # no series
    assert len(daemon.events("no line error counters for this port")) == 1
    assert daemon.stop() == 0


@pytest.mark.slow
def test_the_daemon_reports_a_modbus_bus_on_a_pty_without_counters(
    start_daemon: StartDaemon,
) -> None:
    with (
        PtyRelay() as relay,
        ModbusServer([1, 2], "serial", relay.far.path) as server,
    ):
        server.set(1, "input", 0, [11])
        server.set(2, "input", 0, [22])
        config = "".join(
            f"""
[[sensors]]
name = "unit{unit}"
port = "{relay.near.path}"
format = "modbus"
modbus = {{ unit = {unit}, interval_s = 0.2 }}
registers = [{{ name = "v", table = "input", address = 0 }}]
channels = [{{ name = "v" }}]
"""
            for unit in (1, 2)
        )
        daemon = start_daemon(config=config)
        daemon.wait_http()
        daemon.wait_frames({"unit1": 2, "unit2": 2})
        sensors = daemon.status()["sensors"]
        for name in ("unit1", "unit2"):
            assert sensors[name]["line_errors"] is None
            assert sensors[name]["line_errors_unsupported"].startswith(
                "the driver keeps no line error counters"
            )
        time.sleep(2.2)  # two more housekeeping ticks: still logged once per device
        logged = daemon.events("no line error counters for this port")
        assert sorted(e["sensor"] for e in logged) == ["unit1", "unit2"]
        assert daemon.stop() == 0
