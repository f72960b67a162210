"""A port whose source or own code raises what no port should (a bug, a simulated device its
configuration breaks) is closed and opened again at its backoff, logged with its traceback
once a minute, while the loop and the other ports go on: no port's failure is the loop's
end."""

from __future__ import annotations

import contextlib
import os
import random
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from harness.common import accepted_clients
from harness.pty import PtyPair
from structlog.testing import capture_logs

from sensord.bus import Bus
from sensord.config import parse_config
from sensord.config_sensor import SensorConfig
from sensord.errors import PortCloseError, SourceBrokenError, SourceUnavailableError
from sensord.reader import Reader
from sensord.reopen import DEVICE_WATCH_S, PROVEN_AFTER_S
from sensord.sensor import SensorRuntime
from sensord.sensor_source import make_source
from sensord.sources.base import Source

FAILURE = "port failed unexpectedly; it is opened again at its backoff"


def config(name: str, port: str) -> SensorConfig:
    text = (
        f'[[sensors]]\nname = "{name}"\nport = "{port}"\nformat = "value"\n'
        "sampling_rate_hz = 20\n"
        "[sensors.reconnect]\ninitial_delay_s = 0.05\nmax_delay_s = 0.1\n"
        '[[sensors.channels]]\nname = "v"\n'
    )
    return parse_config(text).sensors[0]


class PipePort(Source):
    """A port on a pipe whose read raises at a chunk holding ``boom``, as a bug would."""

    opened: list[PipePort] = []

    def __init__(self, sensor: str) -> None:
        super().__init__(sensor, "/dev/ttyPIPE")
        self.r = self.w = -1

    def _open(self) -> None:
        self.r, self.w = os.pipe()
        os.set_blocking(self.r, False)
        PipePort.opened.append(self)

    def _close(self, was_open: bool) -> None:
        for fd in (self.r, self.w):
            os.close(fd)

    def fileno(self) -> int | None:
        return self.r

    def read(self) -> bytes:
        chunk = os.read(self.r, 4096)
        if b"boom" in chunk:
            raise RuntimeError("a bug in the port")
        return chunk


def run_until(reader: Reader, done: object, limit_s: float = 10.0) -> None:
    deadline = time.monotonic() + limit_s
    reader.run(until=lambda: bool(done()) or time.monotonic() > deadline)  # type: ignore[operator]
    assert done(), "not reached in time"  # type: ignore[operator]


def test_a_port_whose_read_raises_is_opened_again_and_the_others_go_on() -> None:
    PipePort.opened.clear()
    faulty = SensorRuntime(
        config("faulty", "/dev/ttyPIPE"), source_factory=lambda c: PipePort(c.name)
    )
    good = SensorRuntime(config("good", "sim://good"))
    reader = Reader([faulty, good])
    try:
        with capture_logs() as logs:
            run_until(reader, lambda: faulty.state == "up" and good.framer.frames > 0)
            os.write(PipePort.opened[-1].w, b"1.5\nboom\n")
            run_until(reader, lambda: len(PipePort.opened) == 2 and faulty.state == "up")
            frames, read = good.framer.frames, faulty.framer.frames
            os.write(PipePort.opened[-1].w, b"2.5\n3.5\n")  # (a first line may be a cut one)
            run_until(reader, lambda: faulty.framer.frames > read and good.framer.frames > frames)
            os.write(PipePort.opened[-1].w, b"boom\n")
            run_until(reader, lambda: len(PipePort.opened) == 3)
        [failed] = [e for e in logs if e["event"] == FAILURE]  # once a minute
        assert failed["sensor"] == "faulty"
        assert failed["during"] == "reading its port"
        assert failed["error"] == "RuntimeError('a bug in the port')"
        assert failed["exc_info"] is not None
        assert "unexpected error reading its port" in (faulty.last_error or "")
        downs = [e for e in logs if e["event"] == "sensor state" and e.get("state") == "down"]
        assert [e["sensor"] for e in downs] == ["faulty", "faulty"]
    finally:
        reader.close()
    assert all(port.r == -1 or not port.is_open for port in PipePort.opened)


def test_a_simulated_device_that_raises_is_opened_again_and_the_others_go_on() -> None:
    """A simulated device is read at its timers: its failure there, or a tick's, is the
    port's alone."""
    reads = {"n": 0}

    def breaking(c: SensorConfig) -> Source:
        source = make_source(c, time.monotonic, simulated=True)
        read = source.read

        def failing() -> bytes:
            reads["n"] += 1
            if reads["n"] == 3:
                raise UnicodeError("encoding with 'undefined' codec failed")
            return read()

        source.read = failing  # type: ignore[method-assign]
        return source

    faulty = SensorRuntime(config("faulty", "sim://faulty"), source_factory=breaking)
    good = SensorRuntime(config("good", "sim://good"))
    reader = Reader([faulty, good])
    try:
        with capture_logs() as logs:
            run_until(reader, lambda: reads["n"] > 3 and faulty.state == "up")
            frames = good.framer.frames
            run_until(reader, lambda: good.framer.frames > frames + 2)
        [failed] = [e for e in logs if e["event"] == FAILURE]
        assert failed["sensor"] == "faulty"
        assert failed["during"] == "at its timers (open, poll, staleness)"
        assert failed["error"].startswith("UnicodeError(")
    finally:
        reader.close()


class ThreadPort(Source):
    """A port without a descriptor (as ``rfc2217://``), read on a thread of its own, whose
    read raises at its fifth call, as a bug would."""

    def __init__(self, sensor: str) -> None:
        super().__init__(sensor, "rfc2217://127.0.0.1:1")
        self.reads = 0

    def _open(self) -> None:
        pass

    def _close(self, was_open: bool) -> None:
        pass

    def read(self) -> bytes:
        self.reads += 1
        time.sleep(0.01)
        if self.reads == 5:
            raise RuntimeError("a bug in the port's thread")
        return b"1.5\n"


def test_a_port_whose_reader_thread_raises_is_opened_again() -> None:
    ports: list[ThreadPort] = []

    def factory(c: SensorConfig) -> Source:
        ports.append(ThreadPort(c.name))
        return ports[-1]

    faulty = SensorRuntime(config("faulty", "rfc2217://127.0.0.1:1"), source_factory=factory)
    reader = Reader([faulty])
    try:
        with capture_logs() as logs:
            run_until(reader, lambda: len(ports) == 2 and ports[1].reads > 2)
        [failed] = [e for e in logs if e["event"] == FAILURE]
        assert failed["sensor"] == "faulty"
        assert failed["error"] == 'RuntimeError("a bug in the port\'s thread")'
        assert faulty.framer.frames >= 3
    finally:
        reader.close()


def test_a_port_whose_own_code_raises_as_its_connect_completes_is_opened_again() -> None:
    """A network port is opened on a helper thread and taken on by the loop when it is
    connected: the sensor's code that raises there is the port's failure too (logged, the
    port closed and opened again at its backoff), not a loop call that failed with the port
    left open, unread and silent."""
    ports: list[ThreadPort] = []

    def factory(c: SensorConfig) -> Source:
        ports.append(ThreadPort(c.name))
        return ports[-1]

    faulty = SensorRuntime(config("faulty", "rfc2217://127.0.0.1:1"), source_factory=factory)
    opened = faulty.opened

    def failing_once(source: Source) -> None:
        opened(source)
        if len(ports) == 1:
            raise RuntimeError("a bug in taking the connection")

    faulty.opened = failing_once  # type: ignore[method-assign]
    reader = Reader([faulty])
    try:
        with capture_logs() as logs:
            run_until(reader, lambda: len(ports) == 2 and faulty.framer.frames >= 2, 4.0)
        [failed] = [e for e in logs if e["event"] == FAILURE]
        assert failed["sensor"] == "faulty"
        assert failed["during"] == "taking its connection"
        assert failed["error"] == "RuntimeError('a bug in taking the connection')"
        assert not [e for e in logs if e["event"] == "loop call failed"]
        assert ports[0].reads == 0  # closed, never read
    finally:
        reader.close()


class RefusedPort(ThreadPort):
    """A network port whose peer refuses the connection."""

    def _open(self) -> None:
        raise ConnectionRefusedError(111, "Connection refused")


@pytest.mark.parametrize("where", ["opened", "open_failed"])
def test_a_port_whose_own_code_raises_at_each_connect_backs_off(where: str) -> None:
    """A port that read for long before (its last connection proven) and whose own code now
    raises each time the loop takes a connection (``opened``) or a failure to connect
    (``open_failed``): each of these is a failure that grows its backoff, never a proven
    connection that starts the backoff afresh, which would reconnect at the initial delay
    for as long as the bug lasts."""
    ports: list[ThreadPort] = []
    kind = ThreadPort if where == "opened" else RefusedPort

    def factory(c: SensorConfig) -> Source:
        ports.append(kind(c.name))
        return ports[-1]

    faulty = SensorRuntime(config("faulty", "rfc2217://127.0.0.1:1"), source_factory=factory)
    faulty._port_opened_at -= 2 * PROVEN_AFTER_S  # its last connection, long ago

    def bug(*_: object) -> Any:
        raise RuntimeError("a bug in taking the connection")

    if where == "opened":
        faulty._new_parser = bug  # raised by ``opened`` as it sets the connection up
    else:
        faulty._log_settled = bug  # type: ignore[method-assign]
    reader = Reader([faulty])
    try:
        with capture_logs():
            run_until(reader, lambda: len(ports) >= 4)
        assert faulty.retry.failures >= 3
    finally:
        reader.close()


class RefusedDevice(Source):
    """A device path that cannot be opened; counts its closes."""

    def __init__(self, sensor: str, url: str) -> None:
        super().__init__(sensor, url)
        self.closes = 0

    def _open(self) -> None:
        raise ConnectionRefusedError(111, "Connection refused")

    def _close(self, was_open: bool) -> None:
        self.closes += 1

    def read(self) -> bytes:
        raise AssertionError("never opened")


@pytest.mark.parametrize("port", ["rfc2217://127.0.0.1:1", "/dev/ttyREFUSED"])
def test_a_port_whose_open_failed_raises_is_closed_once_and_counted_once(port: str) -> None:
    """The sensor's own code raising as it takes a failure to open (after closing the source
    and counting the failure): the port failure that follows closes nothing again and counts
    no second failure, so the backoff grows one step per failed open, not two."""
    ports: list[RefusedDevice] = []

    def factory(c: SensorConfig) -> Source:
        ports.append(RefusedDevice(c.name, c.port))
        return ports[-1]

    faulty = SensorRuntime(config("faulty", port), source_factory=factory)

    def bug(*_: object) -> Any:
        raise RuntimeError("a bug in taking the failure")

    faulty._log_settled = bug  # type: ignore[method-assign]
    reader = Reader([faulty])
    try:
        with capture_logs() as logs:
            run_until(reader, lambda: len(ports) >= 4)
        [failed] = [e for e in logs if e["event"] == FAILURE]
        assert failed["error"] == "RuntimeError('a bug in taking the failure')"
    finally:
        reader.close()
    done = ports[:3]  # the fourth may still be under way
    assert [p.closes for p in done] == [1, 1, 1]
    assert faulty.open_failures >= 3
    assert faulty.retry.failures == faulty.open_failures  # one step of backoff each


def test_a_bus_disconnected_with_no_port_open_backs_off_further() -> None:
    """A bus whose last connection was proven long ago and whose port is closed when its
    own code raises as a failure to connect is taken (``Reader._port_failed`` disconnects it):
    each such disconnect grows the backoff, as for a sensor's port; the old connection's age
    proves nothing about this one."""
    with PtyPair() as pair:
        text = (
            f'[[sensors]]\nname = "meter"\nport = "{pair.path}"\nformat = "modbus"\n'
            "modbus = { unit = 1 }\n"
            "reconnect = { initial_delay_s = 0.5, max_delay_s = 60.0 }\n"
            'registers = [{ name = "v", table = "holding", address = 0 }]\n'
            '[[sensors.channels]]\nname = "v"\n'
        )
        sensor = parse_config(text).sensors[0]
        clock = [1000.0]
        bus = Bus("bus:" + pair.path, sensor, clock=lambda: clock[0])
        bus.add(SensorRuntime(sensor, clock=lambda: clock[0]))
        try:
            assert bus.try_open()
            clock[0] += 2 * PROVEN_AFTER_S
            with capture_logs():
                bus.disconnect("the line went away")  # proven: a fresh start, one failure
                assert bus.retry.failures == 1
                for failures in (2, 3, 4):
                    clock[0] += 2 * PROVEN_AFTER_S  # the same old connection, ever older
                    bus.disconnect("unexpected error while taking the open")
                    assert bus.retry.failures == failures
        finally:
            bus.stop()


class TopOfRange(random.Random):
    """Jitter that always draws the ceiling, so backoff delays are the caps themselves."""

    def uniform(self, a: float, b: float) -> float:
        return b


def bus_on_link(link: Path, clock: list[float]) -> Bus:
    """A Modbus bus on ``link`` whose backoff is 60 s from the first failure on, its clock
    ``clock[0]``."""
    text = (
        f'[[sensors]]\nname = "meter"\nport = "{link}"\nformat = "modbus"\n'
        "modbus = { unit = 1 }\n"
        "reconnect = { initial_delay_s = 60.0, max_delay_s = 60.0 }\n"
        'registers = [{ name = "v", table = "holding", address = 0 }]\n'
        '[[sensors.channels]]\nname = "v"\n'
    )
    sensor = parse_config(text).sensors[0]
    bus = Bus("bus:" + str(link), sensor, clock=lambda: clock[0], rng=TopOfRange())
    bus.add(SensorRuntime(sensor, clock=lambda: clock[0]))
    return bus


def point(link: Path, target: Path | str) -> None:
    """Point ``link`` at ``target`` at once, as udev replaces a by-id link."""
    staging = link.with_name(link.name + ".new")
    staging.unlink(missing_ok=True)
    staging.symlink_to(target)
    staging.replace(link)


def test_a_bus_whose_device_path_is_gone_is_opened_again_within_device_watch_s(
    tmp_path: Path,
) -> None:
    """The port of a bus whose adapter was unplugged (its by-id link gone) is tried again
    within DEVICE_WATCH_S, whatever its backoff (here 60 s): when it was lost and at each
    failed open while the link is away. Once the link is back and refused, the backoff
    holds: the path is only looked at meanwhile, and tried again 60 s after the failure."""
    with PtyPair() as pair:
        link = tmp_path / "usb-FTDI_USB-RS485-if00-port0"
        link.symlink_to(pair.path)
        clock = [1000.0]
        bus = bus_on_link(link, clock)
        try:
            assert bus.try_open()
            link.unlink()
            delays: list[float] = []
            with capture_logs():
                bus.disconnect("hung up (end of file)")
                delays.append(bus.retry.next_at - clock[0])
                for _ in range(3):
                    clock[0] = bus.retry.next_at
                    assert not bus.try_open()
                    delays.append(bus.retry.next_at - clock[0])
                plain = tmp_path / "not-a-device"
                plain.write_bytes(b"")
                point(link, plain)  # there, and refused: no character device
                clock[0] = bus.retry.next_at
                failures = bus.retry.failures
                assert not bus.try_open()
                refused_at = clock[0]
                assert bus.retry.failures == failures + 1
                tries: list[float] = []
                for _ in range(100):
                    clock[0] = bus.retry.next_at
                    assert not bus.try_open()
                    if bus.retry.failures > failures + 1:
                        tries.append(clock[0] - refused_at)
                        break
            assert max(delays) <= DEVICE_WATCH_S, delays
            assert tries == [60.0], tries
        finally:
            bus.stop()


def test_a_bus_lost_before_its_device_path_goes_is_opened_when_it_goes(tmp_path: Path) -> None:
    """A USB adapter's port hangs up before udev removes its by-id link: the bus is lost
    while the link still leads to a device node, then the link goes or leads to the new node
    of the device back already. Either is seen within DEVICE_WATCH_S of the loss, not after
    its backoff (here 60 s); a link that still leads to the node it led to waits for it."""
    with PtyPair() as pair:
        link = tmp_path / "usb-FTDI_USB-RS485-if00-port0"
        link.symlink_to(pair.path)
        node = tmp_path / "ttyUSB0"  # the node the kernel has not removed yet
        node.write_bytes(b"")
        clock = [1000.0]
        bus = bus_on_link(link, clock)
        try:
            with capture_logs():
                assert bus.try_open()
                point(link, node)
                bus.disconnect("hung up (end of file)")
                assert bus.retry.next_at - clock[0] <= DEVICE_WATCH_S
                failures = bus.retry.failures
                clock[0] = bus.retry.next_at
                assert not bus.try_open()  # as it was: looked at, not tried
                assert bus.retry.failures == failures
                assert bus.retry.next_at - clock[0] <= DEVICE_WATCH_S
                link.unlink()
                clock[0] = bus.retry.next_at
                assert not bus.try_open()  # gone: tried, and within DEVICE_WATCH_S again
                assert bus.retry.failures == failures + 1
                assert bus.retry.next_at - clock[0] <= DEVICE_WATCH_S

                point(link, pair.path)
                clock[0] = bus.retry.next_at
                assert bus.try_open()
                point(link, node)
                lost_at = clock[0]
                bus.disconnect("hung up (end of file)")
                with PtyPair() as back:
                    point(link, back.path)  # the device back before the first look
                    clock[0] = bus.retry.next_at
                    assert clock[0] - lost_at <= DEVICE_WATCH_S
                    assert bus.try_open()
        finally:
            bus.stop()


class LostPort(Source):
    """A port that, when ``lost``, is lost at its third read (``SourceBrokenError``, as a
    server that ends the connection) and whose close then fails (EIO); read on a thread of
    its own (no descriptor, as ``rfc2217://``), or through the loop's selector (a pipe that
    is always readable). One ``refused`` cannot be opened."""

    def __init__(self, sensor: str, selectable: bool, lost: bool, refused: bool = False) -> None:
        super().__init__(sensor, "/dev/ttyLOST" if selectable else "rfc2217://127.0.0.1:1")
        self.selectable = selectable
        self.lost = lost
        self.refused = refused
        self.reads = 0
        self.r = self.w = -1

    def _open(self) -> None:
        if self.refused:
            raise SourceUnavailableError(self.sensor, "the server refused the connection")
        if self.selectable:
            self.r, self.w = os.pipe()
            os.set_blocking(self.r, False)
            os.write(self.w, b"1.5\n")

    def _close(self, was_open: bool) -> None:
        for fd in (self.r, self.w):
            if fd >= 0:
                os.close(fd)
        self.r = self.w = -1
        if was_open and self.lost:
            raise OSError(5, "Input/output error")

    def fileno(self) -> int | None:
        return self.r if self.selectable else None

    def read(self) -> bytes:
        self.reads += 1
        if self.selectable:
            os.read(self.r, 4096)
            os.write(self.w, b"1.5\n")
        else:
            time.sleep(0.01)
        if self.lost and self.reads >= 3:
            raise SourceBrokenError(self.sensor, "the server ended the connection")
        return b"1.5\n"


@pytest.mark.parametrize("selectable", [False, True], ids=["thread", "selector"])
def test_a_lost_port_whose_close_fails_is_opened_again_and_the_others_go_on(
    selectable: bool,
) -> None:
    """A port lost while it is read, by its blocking-read thread or by the loop, whose close
    then fails: a failure of that port alone (logged, its reopen at its backoff), not the
    end of the loop and of every other port with it. Its status keeps the reason it was lost,
    and its reopen is that of a port lost after it delivered (its backoff from the start),
    not that of a port that failed to open again (a step on from the opens refused before)."""
    ports: list[LostPort] = []

    def factory(c: SensorConfig) -> Source:
        n = len(ports)
        ports.append(LostPort(c.name, selectable, lost=n == 2, refused=n < 2))
        return ports[-1]

    port = "/dev/ttyLOST" if selectable else "rfc2217://127.0.0.1:1"
    # every delay at its ceiling: 0.05 s after a lost port, 0.1 s after a second failure
    faulty = SensorRuntime(config("faulty", port), source_factory=factory, rng=TopOfRange())
    good = SensorRuntime(config("good", "sim://good"))
    reader = Reader([faulty, good])
    reader.housekeeping_interval_s = 5.0  # the reopen is timed by the port's own backoff
    try:
        with capture_logs() as logs:
            run_until(reader, lambda: len(ports) == 3 and faulty.state == "down", 5.0)
            lost_at = time.monotonic()
            assert ports[2].reads >= 3
            assert faulty.snapshot().last_error == (
                "sensor 'faulty': the server ended the connection"
            )
            assert faulty.retry.failures == 1
            assert faulty.retry.next_at - lost_at <= 0.05
            run_until(reader, lambda: len(ports) >= 4 and faulty.source is not None, 5.0)
            reopened_s = time.monotonic() - lost_at
            frames = good.framer.frames
            run_until(reader, lambda: good.framer.frames > frames + 2)
        failed = [e for e in logs if e["event"] == FAILURE]
        assert [(e["sensor"], e["during"]) for e in failed] == [("faulty", "closing its port")]
        assert failed[0]["error"] == "OSError(5, 'Input/output error')"
        assert reopened_s < 2.0  # at its backoff (0.1 s at most), not at housekeeping
    finally:
        reader.close()


class UnclosablePort(Source):
    """A port on a pipe whose close fails (EIO) once it has let its descriptors go."""

    def __init__(self, sensor: str) -> None:
        super().__init__(sensor, "/dev/ttyBAD")
        self.r = self.w = -1

    def _open(self) -> None:
        self.r, self.w = os.pipe()
        os.set_blocking(self.r, False)

    def _close(self, was_open: bool) -> None:
        for fd in (self.r, self.w):
            if fd >= 0:
                os.close(fd)
        self.r = self.w = -1
        if was_open:
            raise OSError(5, "Input/output error")

    def fileno(self) -> int | None:
        return self.r

    def read(self) -> bytes:
        return os.read(self.r, 4096)


def holders(path: str) -> set[int]:
    """This process's descriptors open on ``path`` (from /proc/self/fd)."""
    held = set()
    for name in os.listdir("/proc/self/fd"):
        try:
            if os.readlink(f"/proc/self/fd/{name}") == path:
                held.add(int(name))
        except OSError:  # the descriptor of the listing itself, closed meanwhile
            continue
    return held


def test_a_port_whose_close_fails_at_the_reader_s_close_leaves_no_other_open() -> None:
    """The reader's close stops every port, whatever one of them raises: the ports after
    it (serial ports on ptys, a simulated one) and the selector are closed all the same, the
    first failure is raised once they are, and a later one is logged."""
    with PtyPair() as one, PtyPair() as two:
        unclosable = [
            SensorRuntime(
                config(name, "/dev/ttyBAD"), source_factory=lambda c: UnclosablePort(c.name)
            )
            for name in ("unclosable", "also")
        ]
        ttys = [SensorRuntime(config(f"tty{i}", pair.path)) for i, pair in enumerate((one, two))]
        simulated = SensorRuntime(config("sim", "sim://sim"))
        sensors = [unclosable[0], *ttys, simulated, unclosable[1]]
        reader = Reader(sensors)
        try:
            run_until(reader, lambda: all(s.state == "up" for s in sensors))
            sources = [s.source for s in sensors]
            for pair in (one, two):  # the test's own descriptor, and the sensor's
                assert len(holders(pair.path)) == 2
        except BaseException:
            with contextlib.suppress(OSError):
                reader.close()
            raise
        with capture_logs() as logs, pytest.raises(OSError, match="Input/output error"):
            reader.close()
        for pair in (one, two):
            assert holders(pair.path) == {pair.slave_fd}
        assert all(source is not None and not source.is_open for source in sources)
        assert [s.state for s in sensors] == ["stopped"] * 5
        [failed] = [e for e in logs if e["event"] == "closing the reader failed"]
        assert failed["closing"] == "port 'also'"
        assert failed["error"] == "OSError(5, 'Input/output error')"
        assert reader._epoll.closed
        assert reader._replies.closed
        reader.close()  # once closed, closed: nothing raises again


def test_a_lost_bus_whose_close_fails_goes_down_for_the_reason_it_was_lost(
    tmp_path: Path,
) -> None:
    """A bus lost after it served for long, whose close then fails: its port is closed and
    it goes down for the reason it was lost, its backoff from the start as for any proven
    connection lost, before ``PortCloseError`` says what the close raised (the reader logs
    it and disconnects nothing again)."""
    with PtyPair() as pair:
        link = tmp_path / "usb-FTDI_USB-RS485-if00-port0"
        plain = tmp_path / "not-a-device"
        plain.write_bytes(b"")
        link.symlink_to(plain)
        clock = [1000.0]
        bus = bus_on_link(link, clock)
        [meter] = [device.sensor for device in bus.devices.values()]
        try:
            with capture_logs():
                assert not bus.try_open()  # refused (no character device): one failure
                point(link, pair.path)
                clock[0] = bus.retry.next_at
                assert bus.try_open()
                assert bus.retry.failures == 1
                assert len(holders(pair.path)) == 2  # the test's own descriptor, and the bus's
                source = bus.source
                assert source is not None
                close = source._close

                def failing(was_open: bool) -> None:
                    close(was_open)
                    raise OSError(5, "Input/output error")

                source._close = failing  # type: ignore[method-assign]
                clock[0] += 2 * PROVEN_AFTER_S
                with pytest.raises(PortCloseError) as raised:
                    bus.disconnect("hung up (end of file)")
            assert repr(raised.value.__cause__) == "OSError(5, 'Input/output error')"
            assert holders(pair.path) == {pair.slave_fd}
            assert bus.source is None
            assert bus.state == "down"
            assert bus.retry.failures == 1  # proven: a fresh start, then this loss
            assert meter.state == "down"
            assert meter.last_error == "hung up (end of file)"
        finally:
            bus.stop()


def test_a_network_port_whose_own_code_raises_is_opened_again_at_its_backoff() -> None:
    """A ``socket://`` port whose connection has been open for longer than a serial server
    takes to hang up, and whose read then raises (a bug): sensord's own failure, not an end
    the server made, so the port is down and reopened at its backoff, not at once with the
    sensor kept up as after a connection its server ended (which a bug on every chunk would
    turn into a reconnect per chunk). A real server on loopback; the read's bug is the
    ``boom`` its device sends."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    url = f"socket://127.0.0.1:{listener.getsockname()[1]}"
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        accepted.extend(accepted_clients(listener, stop))

    def factory(c: SensorConfig) -> Source:
        source = make_source(c, simulated=False)
        read = source.read

        def buggy() -> bytes:
            chunk = read()
            if b"boom" in chunk:
                raise RuntimeError("a bug in the port")
            return chunk

        source.read = buggy  # type: ignore[method-assign]
        return source

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    faulty = SensorRuntime(config("faulty", url), source_factory=factory)
    reader = Reader([faulty])
    try:
        with capture_logs() as logs:
            run_until(reader, lambda: faulty.state == "up" and len(accepted) == 1)
            time.sleep(0.6)  # longer than HUNG_UP_AT_ONCE_S
            accepted[0].sendall(b"boom\n")
            run_until(reader, lambda: faulty.source is None or faulty.state != "up", 5.0)
            state, failures = faulty.state, faulty.retry.failures
            run_until(reader, lambda: len(accepted) == 2 and faulty.state == "up", 5.0)
        assert (state, failures) == ("down", 1), (state, failures)
        assert [e["state"] for e in logs if e["event"] == "sensor state"] == ["up", "down", "up"]
        assert not [e for e in logs if e["event"] == "connection ended; reconnecting"]
    finally:
        reader.close()
        stop.set()
        server.join(5)
        listener.close()
        for connection in accepted:
            connection.close()


def test_a_served_network_port_whose_close_fails_is_down_and_opened_again_at_its_backoff() -> None:
    """A ``socket://`` port, up with its device's frames, whose server ends the connection
    after serving it (an inactivity timeout), and whose close then fails (EIO): the port is
    closed all the same, and its close failing is sensord's own failure (logged as the port
    failing, opened again at its backoff), so the sensor is down for the reason the
    connection was lost and the port reopened at its backoff, not kept up and opened again
    at once as after an end its server made. A real server on loopback; the close's failure
    is the first connection's."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    url = f"socket://127.0.0.1:{listener.getsockname()[1]}"
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def serve() -> None:
        accepted.extend(accepted_clients(listener, stop))

    def factory(c: SensorConfig) -> Source:
        source = make_source(c, simulated=False)
        if accepted:
            return source
        close = source.close

        def failing() -> None:
            close()
            raise OSError(5, "Input/output error")

        source.close = failing  # type: ignore[method-assign]
        return source

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    faulty = SensorRuntime(config("faulty", url), source_factory=factory)
    reader = Reader([faulty])
    try:
        with capture_logs() as logs:
            run_until(reader, lambda: faulty.state == "up" and len(accepted) == 1)
            time.sleep(0.6)  # longer than HUNG_UP_AT_ONCE_S
            accepted[0].sendall(b"1.5\n")
            run_until(reader, lambda: faulty.framer.frames == 1, 5.0)
            accepted[0].close()  # the server ends the connection it served
            run_until(reader, lambda: faulty.source is None, 5.0)
            state, failures = faulty.state, faulty.retry.failures
            run_until(reader, lambda: len(accepted) == 2 and faulty.state == "up", 5.0)
        assert (state, failures) == ("down", 1), (state, failures)
        assert [e["state"] for e in logs if e["event"] == "sensor state"] == ["up", "down", "up"]
        assert "hung up" in [e for e in logs if e["event"] == "sensor state"][1]["error"]
        assert [e["during"] for e in logs if e["event"] == FAILURE] == ["closing its port"]
        assert not [e for e in logs if e["event"] == "connection ended; reconnecting"]
    finally:
        reader.close()
        stop.set()
        server.join(5)
        listener.close()
        for connection in accepted:
            connection.close()
