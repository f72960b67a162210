"""Every configuration key that changes runtime behaviour, shown with two values.

``EFFECTS`` is the table: one row per key (``sensors.channels.window.size``), each with two
values and a check that builds the smallest real unit owning the key (a ``SensorRuntime`` on an
injected clock, a ``SerialSource`` on a real pty, the HTTP server, the daemon's reader loop)
from a configuration that differs only in that key, and asserts what a user would see for each
value. ``test_every_key_has_a_row`` walks the schema (``Config`` and its sections) and fails
for any key that has neither a row nor an entry in ``NO_RUNTIME_EFFECT``, so keys added later
must join the table.
"""

from __future__ import annotations

import base64
import copy
import fcntl
import http.client
import io
import json
import logging
import random
import shutil
import socket
import ssl
import struct
import subprocess
import termios
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import structlog
from harness.config import schema_keys
from harness.pty import PtyPair
from pytest_mock import MockerFixture
from serial.serialposix import CMSPAR
from serial.serialposix import Serial as PosixSerial

from sensord import log as sensord_log
from sensord.bus import Bus
from sensord.capture import RX, Record, encode_capture, parse_capture
from sensord.config import Config
from sensord.config_sensor import SensorConfig
from sensord.daemon import Daemon
from sensord.errors import SourceError
from sensord.formats.blocks import envelope
from sensord.formats.modbus import crc16, response_frame
from sensord.http import serve
from sensord.pipeline import Chain
from sensord.sensor import SensorRuntime
from sensord.sensor_source import make_source
from sensord.sources.replay import ReplaySource
from sensord.sources.serial_port import SerialSource
from sensord.types import Reading, WindowStats

# -- building configurations ---------------------------------------------------------------------

#: A sensor with one channel ``v`` in the ``value`` format; rows change one key of it.
BASE_SENSOR: dict[str, Any] = {
    "name": "s",
    "port": "sim://s",
    "format": "value",
    "channels": [{"name": "v"}],
}


def config(changes: dict[str, Any]) -> Config:
    """The base configuration with ``changes`` (``{"sensors.poll.interval_s": 0.2}``) applied.

    ``sensors.X`` is the first sensor's key X, ``sensors.channels.X`` its first channel's.
    """
    loaded, errors = load_with(changes)
    assert loaded is not None, errors
    return loaded


def load_with(changes: dict[str, Any]) -> tuple[Config | None, list[str]]:
    """``config(changes)``, or None and the errors the configuration is refused with."""
    data: dict[str, Any] = {"sensors": [json.loads(json.dumps(BASE_SENSOR))]}
    for key, value in changes.items():
        parts = key.split(".")
        node: Any = data
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if isinstance(node, list):
                node = node[0]
        node[parts[-1]] = value
    errors: list[str] = []
    return Config.load(data, "", errors), errors


def sensor(changes: dict[str, Any]) -> SensorConfig:
    return config(changes).sensors[0]


class Clock:
    """A monotonic clock the test moves by hand."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class TopOfRange(random.Random):
    """Jitter that always draws the ceiling, so backoff delays are the caps themselves."""

    def uniform(self, a: float, b: float) -> float:
        return b


def runtime(changes: dict[str, Any], clock: Clock | None = None) -> SensorRuntime:
    clock = clock or Clock()
    return SensorRuntime(sensor(changes), clock=clock, wall_clock=clock, rng=TopOfRange())


def fed(changes: dict[str, Any], *frames: bytes) -> SensorRuntime:
    """A runtime that framed, parsed and processed ``frames`` (each given its own chunk)."""
    rt = runtime(changes)
    for frame in frames:
        rt.feed(frame)
    return rt


def window_stats(rt: SensorRuntime) -> dict[str, WindowStats | None]:
    """The latest window statistics of every channel, from the sensor's read model."""
    return {ch.name: ch.stats for ch in rt.snapshot().channels}


def last(rt: SensorRuntime, channel: str = "v") -> WindowStats:
    stats = window_stats(rt)[channel]
    assert stats is not None, f"no reading reached the window of {channel}"
    return stats


def values_after(changes: dict[str, Any], *frames: bytes) -> dict[str, float]:
    """The latest value of every channel that got one."""
    return values_of(fed(changes, *frames))


def values_of(rt: SensorRuntime) -> dict[str, float]:
    """The latest value of every channel of ``rt`` that got one."""
    return {ch: s.reading.value for ch, s in window_stats(rt).items() if s is not None}


def simulated(changes: dict[str, Any], seconds: float, step_s: float = 0.05) -> SensorRuntime:
    """A simulated sensor read for ``seconds`` of injected time."""
    clock = Clock()
    rt = runtime({"sensors.port": "sim://s", **changes}, clock)
    assert rt.try_open()
    assert rt.source is not None
    end = clock.now + seconds
    while clock.now < end:
        clock.now += step_s
        rt.feed(rt.source.read())
        rt.tick(clock.now)
    return rt


# -- polling, staleness, reconnect (a runtime on an injected clock, a real pty) ------------------


def polls_in_window(key: str, interval: Any) -> int:
    """Poll requests that reach the device in 2 s of injected time, ticked every 5 ms."""
    clock = Clock()
    with PtyPair() as pair:
        poll = {"request": "M\\n", key.rpartition(".")[2]: interval}
        rt = runtime({"sensors.port": pair.path, "sensors.poll": poll}, clock)
        assert rt.try_open()
        sent = bytearray()
        for _ in range(400):
            rt.tick(clock.now)
            clock.now += 0.005
            sent += pair.read(4096, timeout_s=0.0)
        sent += pair.read(4096, timeout_s=0.05)  # before the close drops what is unread
        rt.stop()
    return sent.count(b"M\n")


def first_poll_s(key: str, delay: Any) -> float | None:
    """The injected time from the open to the first poll request that reaches the device,
    ticked every 50 ms (None: none in 5 s)."""
    clock = Clock()
    with PtyPair() as pair:
        poll = {"request": "M\\n", "interval_s": 10.0}
        rt = runtime({"sensors.port": pair.path, "sensors.poll": poll, key: delay}, clock)
        assert rt.try_open()
        opened_at = clock.now
        first = None
        while first is None and clock.now < opened_at + 5.0:
            rt.tick(clock.now)
            if rt.dialogue is not None and rt.dialogue.awaiting_response:
                assert one_write(pair) == b"M\n"
                first = round(clock.now - opened_at, 2)
            clock.now = round(clock.now + 0.05, 3)
        rt.stop()
    return first


def one_write(pair: PtyPair) -> bytes:
    """The bytes of one write to the port as the device reads them: the first (waited for up
    to 2 s), and those that follow within 0.2 s."""
    got = pair.read(1, timeout_s=2.0)
    return got + pair.read(64, timeout_s=0.2) if got else got


def request_bytes(key: str, request: Any) -> bytes:
    """The bytes of one poll request as the device reads them."""
    clock = Clock()
    with PtyPair() as pair:
        poll = {"interval_s": 1.0, key.rpartition(".")[2]: request}
        rt = runtime({"sensors.port": pair.path, "sensors.poll": poll}, clock)
        assert rt.try_open()
        rt.tick(clock.now)
        got = one_write(pair)
        rt.stop()
    return got


def frames_past_an_echo(key: str, value: Any) -> int:
    """Frames of a polled sensor whose adapter echoes its request ``7\\n`` (itself a value
    line) before the device answers ``21.5\\n``."""
    clock = Clock()
    with PtyPair() as pair:
        poll = {"request": "7\\n", "interval_s": 1.0}
        rt = runtime({"sensors.port": pair.path, "sensors.poll": poll, key: value}, clock)
        assert rt.try_open()
        rt.tick(clock.now)
        request = one_write(pair)
        assert request == b"7\n"
        pair.write(request + b"21.5\n")
        source = rt.source
        assert source is not None
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline:  # until the answer, the last line written, is read
            chunk = source.read()
            if chunk:
                rt.feed(chunk)
                stats = window_stats(rt)["v"]
                if stats is not None and stats.reading.value == 21.5:
                    break
            else:
                time.sleep(0.01)
        frames = rt.framer.frames
        rt.stop()
    return frames


def state_after_silence(key: str, value: Any) -> list[str]:
    """The sensor's state 1 s, 4 s and 9 s after its last frame."""
    clock = Clock()
    rt = runtime({key: value}, clock)
    assert rt.try_open()
    rt.feed(b"1\n")
    start = clock.now
    states = []
    for silent_s in (1.0, 4.0, 9.0):
        clock.now = start + silent_s
        rt.tick(clock.now)
        states.append(rt.state)
    return states


def reopen_gaps(key: str, value: Any, extra: dict[str, Any]) -> list[float]:
    """The delays after six failed opens of a missing device (jitter drawing its ceiling)."""
    clock = Clock()
    missing = {"sensors.port": "/dev/does-not-exist", "sensors.simulate": "never"}
    rt = runtime({**missing, **extra, key: value}, clock)
    gaps = []
    for _ in range(6):
        clock.now = rt.retry.next_at
        assert not rt.try_open()
        gaps.append(round(rt.retry.next_at - clock.now, 6))
    return gaps


# -- the reader loop and step timing (the daemon's own objects) ----------------------------------


def read_passes(key: str, value: Any) -> int:
    """The daemon's reader passes in 1 s while a device sends a line every 2 ms."""
    with PtyPair() as pair:
        cfg = config({key: value, "sensors.port": pair.path, "sensors.simulate": "never"})
        daemon = Daemon(cfg, environ={})
        rt = daemon._make_runtime(cfg.sensors[0])
        daemon.reader.add(rt)
        stop = threading.Event()

        def device() -> None:
            while not stop.wait(0.002):
                pair.write(b"1\n")

        writer = threading.Thread(target=device)
        try:
            writer.start()  # its lines wake the loop, which looks at ``until`` once a pass
            daemon.reader.run(until=lambda: rt.up)
            passes = 0
            end = time.monotonic() + 1.0

            def one_pass() -> bool:  # the loop asks once per pass
                nonlocal passes
                passes += 1
                return time.monotonic() >= end

            daemon.reader.run(until=one_pass)
            return passes - 1
        finally:
            stop.set()
            if writer.is_alive():
                writer.join()
            daemon.reader.close()


def timed_samples(key: str, value: Any) -> float:
    """Readings the daemon's step histogram timed in the filter step, out of 256."""
    cfg = config({key: value})
    daemon = Daemon(cfg, environ={})
    rt = daemon._make_runtime(cfg.sensors[0])
    rt.feed(b"1\n" * 256)
    count = daemon.metrics.registry.get_sample_value(
        "sensord_step_duration_seconds_count", {"step": "filter"}
    )
    daemon.reader.close()
    return count or 0.0


# -- serial settings on a real pty ---------------------------------------------------------------


@contextmanager
def opened_port(
    pair: PtyPair, key: str, value: Any, extra: dict[str, Any] | None = None
) -> Iterator[SerialSource]:
    changes = {"sensors.port": pair.path, **(extra or {}), key: value}
    settings = sensor(changes).serial.settings()
    with SerialSource("s", pair.path, settings) as source:
        yield source


def tty_attributes(key: str, value: Any) -> tuple[int, int, int, int]:
    """(speed, CSTOPB, CRTSCTS, IXON|IXOFF) of the pty as the opened port left it."""
    with PtyPair() as pair, opened_port(pair, key, value):
        assert pair.slave_fd is not None
        iflag, _, cflag, _, ispeed, _, _ = termios.tcgetattr(pair.slave_fd)
    return (
        ispeed,
        cflag & termios.CSTOPB,
        cflag & termios.CRTSCTS,
        iflag & (termios.IXON | termios.IXOFF),
    )


def requested_line(key: str, value: Any, mocker: MockerFixture) -> tuple[int, int]:
    """(CSIZE bits, parity bits) the port asked the tty for. The pty driver always keeps 8
    bits without parity, so these are read from the request, as a real UART would apply it."""
    tcsetattr = mocker.spy(termios, "tcsetattr")
    with PtyPair() as pair, opened_port(pair, key, value):
        pass
    cflag = tcsetattr.call_args_list[0].args[2][2]
    return cflag & termios.CSIZE, cflag & (termios.PARENB | termios.PARODD | CMSPAR)


def dtr_requests(key: str, value: Any, mocker: MockerFixture) -> bool:
    """Requests to set the DTR modem line while opening (a pty has no modem lines, so the
    request itself is what can be observed)."""
    ioctl = mocker.spy(fcntl, "ioctl")
    with PtyPair() as pair, opened_port(pair, key, value):
        pass
    dtr = struct.pack("I", termios.TIOCM_DTR)
    return any(
        c.args[1] in (termios.TIOCMBIS, termios.TIOCMBIC) and c.args[2] == dtr
        for c in ioctl.call_args_list
    )


def line_request(line: int, key: str, value: Any, mocker: MockerFixture) -> str:
    """Whether opening the port asked for the modem ``line`` (TIOCM_DTR, TIOCM_RTS) to be
    raised or dropped (a pty has no modem lines, so the request is what can be observed).
    pyserial asks for DTR first and, when the pty refuses that, never for RTS: the DTR
    request is left out (``dsrdtr``) when RTS is the line observed."""
    ioctl = mocker.spy(fcntl, "ioctl")
    extra = {"sensors.serial.dsrdtr": True} if line == termios.TIOCM_RTS else None
    with PtyPair() as pair, opened_port(pair, key, value, extra):
        pass
    bits = struct.pack("I", line)
    asked = [c.args[1] for c in ioctl.call_args_list if c.args[2:3] == (bits,)]
    return "raise" if asked[-1:] == [termios.TIOCMBIS] else "drop"


def hangs_up_on_close(key: str, value: Any) -> bool:
    """HUPCL in the termios of the pty as the opened port left it."""
    with PtyPair() as pair, opened_port(pair, key, value):
        assert pair.slave_fd is not None
        return bool(termios.tcgetattr(pair.slave_fd)[2] & termios.HUPCL)


def rs485_open(key: str, value: Any) -> str:
    """ "opened", or the error of opening a pty (which has no RS-485 driver) with the key."""
    with PtyPair() as pair:
        settings = sensor({"sensors.port": pair.path, key: value}).serial.settings()
        try:
            with SerialSource("s", pair.path, settings):
                return "opened"
        except SourceError as exc:
            return str(exc)


def rs485_request(key: str, value: Any, mocker: MockerFixture) -> Any:
    """The RS-485 setting the port asked the driver for (a pty has no RS-485 driver, so the
    request is what can be observed; the open then fails naming serial.rs485)."""
    spy = PosixSerial.__dict__.get("_set_rs485_mode")  # the other value's check spied already
    if not hasattr(spy, "call_args_list"):
        spy = mocker.spy(PosixSerial, "_set_rs485_mode")
    with PtyPair() as pair:
        changes = {"sensors.port": pair.path, "sensors.serial.rs485": True, key: value}
        source = SerialSource("s", pair.path, sensor(changes).serial.settings())
        with pytest.raises(SourceError, match=r"serial\.rs485"):
            source.open()
    attribute = key.rsplit(".", 1)[1].removeprefix("rs485_").removesuffix("_s")
    assert spy is not None
    return getattr(spy.call_args.args[1], attribute)


def blocking_read_s(key: str, value: Any) -> float:
    """How long a read of an idle ``loop://`` port (no descriptor: a blocking read) waits."""
    settings = sensor({"sensors.port": "loop://", key: value}).serial.settings()
    with SerialSource("s", "loop://", settings) as source:
        started = time.monotonic()
        assert source.read() == b""
        return time.monotonic() - started


def second_opener(key: str, value: Any) -> str:
    """Whether an exclusive second opener gets the port while the first (with the key) has it."""
    with PtyPair() as pair, opened_port(pair, key, value):
        settings = sensor({"sensors.port": pair.path}).serial.settings()
        try:
            with SerialSource("t", pair.path, settings):
                return "opened"
        except SourceError:
            return "refused"


# -- HTTP (the server the daemon starts, bound with [http]) --------------------------------------


@contextmanager
def http_server(changes: dict[str, Any]) -> Iterator[Any]:
    """The HTTP server bound with ``[http]`` (on a free port unless the key is the port)."""
    cfg = config(changes).http
    srv = serve(
        cfg,
        cfg.listen,
        cfg.port if "http.port" in changes else 0,
        render_metrics=lambda accept: (b"m 1\n", "text/plain"),
        status=lambda: {},
        health=lambda: (True, "ok"),
    )
    try:
        yield srv
    finally:
        srv.close()


def get(srv: Any, headers: dict[str, str] | None = None) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    try:
        conn.request("GET", "/metrics", headers=headers or {})
        return conn.getresponse().status
    finally:
        conn.close()


def long_header_status(key: str, value: Any) -> int:
    with http_server({key: value}) as srv:
        return get(srv, headers={"X-Pad": "x" * 3000})


def second_connection_status(key: str, value: Any) -> int:
    """The status of a request while another client holds a connection open."""
    with http_server({key: value}) as srv:
        idle = socket.create_connection(("127.0.0.1", srv.port))
        try:
            # the server counts the idle connection once it has accepted it
            deadline = time.monotonic() + 5
            while srv.connections < 1 and time.monotonic() < deadline:
                time.sleep(0.005)
            return get(srv)
        finally:
            idle.close()


def idle_connection_closed(key: str, value: Any) -> bool:
    """Whether the server closes a connection that sends nothing within 1 s."""
    with http_server({key: value}) as srv:
        idle = socket.create_connection(("127.0.0.1", srv.port))
        idle.settimeout(1.0)
        try:
            return idle.recv(1) == b""
        except TimeoutError:
            return False
        finally:
            idle.close()


def reachable_on(key: str, value: Any) -> tuple[bool, bool]:
    """Whether the server accepts connections on 127.0.0.1 and on 127.0.0.2."""
    with http_server({key: value}) as srv:
        out = []
        for host in ("127.0.0.1", "127.0.0.2"):
            try:
                with socket.create_connection((host, srv.port), timeout=2):
                    out.append(True)
            except OSError:
                out.append(False)
        return out[0], out[1]


def answering_port(key: str, value: Any) -> int | None:
    """The port the server answers on (None: no answer there)."""
    with http_server({key: value}) as srv:
        return srv.port if get(srv) == 200 else None


def free_ports() -> tuple[int, int]:
    """Two distinct ports free now (both are held while the second is chosen)."""
    with socket.socket() as a, socket.socket() as b:
        a.bind(("127.0.0.1", 0))
        b.bind(("127.0.0.1", 0))
        return int(a.getsockname()[1]), int(b.getsockname()[1])


PORT_A, PORT_B = free_ports()


def auth_status(key: str, value: Any) -> int:
    """The status of a request with user ``admin`` and password ``pw``."""
    auth = {"http.basic_auth_username": "admin", "http.basic_auth_password": "pw", key: value}
    with http_server(auth) as srv:
        token = base64.b64encode(b"admin:pw").decode()
        return get(srv, headers={"Authorization": f"Basic {token}"})


def served_certificate(key: str, value: Any, tmp: Path) -> str:
    """The name in the certificate the server presents, or that it could not serve (the
    configuration refused: a key that is not the certificate's is an error of its key)."""
    tls = {
        "http.tls_cert_file": str(tmp / "alpha.crt"),
        "http.tls_key_file": str(tmp / "shared.key"),
    }
    _, errors = load_with({**tls, key: value})
    if errors:
        assert errors == [
            f"{key}: {value} is not the private key of the certificate in {tmp}/alpha.crt"
        ], errors
        return "cannot serve"
    try:
        server = http_server({**tls, key: value})
        srv = server.__enter__()
    except ssl.SSLError:
        return "cannot serve"
    try:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        with (
            socket.create_connection(("127.0.0.1", srv.port), timeout=5) as raw,
            context.wrap_socket(raw) as conn,
        ):
            der = conn.getpeercert(binary_form=True) or b""
    finally:
        server.__exit__(None, None, None)
    return "alpha" if b"alpha" in der else "beta" if b"beta" in der else "other"


def make_certificates(tmp: Path) -> None:
    """shared.key with two certificates (alpha.crt, beta.crt), and an unrelated other.key."""

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=tmp)

    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1")
    openssl("req", "-x509", *ec, "-nodes", "-days", "2", "-subj", "/CN=alpha",
            "-keyout", "shared.key", "-out", "alpha.crt")  # fmt: skip
    openssl("req", "-x509", "-key", "shared.key", "-days", "2", "-subj", "/CN=beta",
            "-out", "beta.crt")  # fmt: skip
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-out", "other.key")  # fmt: skip


# -- logging -------------------------------------------------------------------------------------


def logged(key: str, value: Any) -> tuple[bool, bool]:
    """(an info record was written, the output is JSON) with ``[log]`` configured by the key."""
    cfg = config({key: value}).log
    saved = structlog.get_config()
    root = logging.getLogger()
    saved_handlers, saved_level = root.handlers[:], root.level
    out = io.StringIO()
    try:
        sensord_log.configure(cfg.level, cfg.format, stream=out)
        structlog.get_logger("sensord.test").info("hello", n=1)
        structlog.get_logger("sensord.test").warning("careful", n=2)
    finally:
        structlog.configure(**saved)
        root.handlers[:] = saved_handlers
        root.setLevel(saved_level)
    lines = out.getvalue().splitlines()
    assert lines, "the warning is written at every level but error"
    try:
        json.loads(lines[-1])
        is_json = True
    except ValueError:
        is_json = False
    return any("hello" in line for line in lines), is_json


def window_over_time(key: str, value: Any) -> tuple[int, float]:
    """Window count and mean after readings 0..9 one second apart."""
    clock = Clock()
    rt = runtime({key: value}, clock)
    for i in range(10):
        clock.now += 1.0
        rt.feed(b"%d\n" % i)
    stats = last(rt)
    return stats.count, stats.mean


def opened_source(key: str, value: Any) -> tuple[bool, bool, str]:
    """(opened, simulated, the source's URL) for a sensor with the key set."""
    rt = runtime({key: value})
    opened = rt.try_open()
    assert rt.source is not None
    url = rt.source.url
    rt.stop()
    return opened, rt.simulated, url


# -- the table -----------------------------------------------------------------------------------

Check = Callable[["Ctx", str, Any], Any]


@dataclass(frozen=True)
class Ctx:
    tmp: Path
    mocker: MockerFixture


@dataclass(frozen=True)
class Effect:
    """Setting ``key`` to ``a`` and to ``b``: ``check`` returns what a user sees, and that is
    ``want_a`` and ``want_b`` (a value, or a predicate over the observation). The two
    observations must differ. A string value ``"{tmp}/..."`` is a file the fixture made."""

    key: str
    a: Any
    b: Any
    check: Check
    want_a: Any
    want_b: Any


def plain(fn: Callable[[str, Any], Any]) -> Check:
    return lambda ctx, key, value: fn(key, value)


def latest(*frames: bytes, extra: dict[str, Any] | None = None, channel: str = "v") -> Check:
    """The channel's latest value after ``frames`` (None: no reading reached the window)."""
    return lambda ctx, key, value: values_after({**(extra or {}), key: value}, *frames).get(channel)


def after(
    frames: tuple[bytes, ...],
    observe: Callable[[SensorRuntime], Any],
    extra: dict[str, Any] | None = None,
) -> Check:
    """``observe`` of a runtime that processed ``frames``."""
    return lambda ctx, key, value: observe(fed({**(extra or {}), key: value}, *frames))


def simulating(
    observe: Callable[[SensorRuntime], Any], extra: dict[str, Any] | None = None
) -> Check:
    """``observe`` of a simulated sensor after 20 s of injected time."""
    return lambda ctx, key, value: observe(simulated({**(extra or {}), key: value}, 20.0))


def span(rt: SensorRuntime) -> float:
    stats = last(rt)
    return stats.max - stats.min


def parse_errors(rt: SensorRuntime) -> int:
    return sum(rt.parse_errors.values())


# -- binary frames and presets -------------------------------------------------------------------

#: AA (start), 03 (the bytes after the length field), 01 02 (v: 258 as u16be), B0 (sum8 of the
#: four bytes before it)
FRAME = b"\xaa\x03\x01\x02\xb0"
#: the same with a two-byte big-endian length field
FRAME_LEN2 = b"\xaa\x00\x03\x01\x02\xb0"
#: the same with an end byte 55 after the checksum (sum8 of AA 04 01 02)
FRAME_END = b"\xaa\x04\x01\x02\xb1\x55"
#: FRAME with its 01 byte-stuffed as an HDLC escape (7D) and 01 XOR 0x20
FRAME_STUFFED = b"\xaa\x03\x7d\x21\x02\xb0"
#: a 4-byte reply to a command, with FRAME's start, length field and sum8: AA 02 07 B3
REPLY = b"\xaa\x02\x07\xb3"
#: FRAME with a third payload byte 00: a status byte at 3 (02) or 4 (00)
FRAME_STATUS = b"\xaa\x04\x01\x02\x00\xb1"
#: a one-byte field (its offset can move inside FRAME's two payload bytes)
U8_FIELD = {"name": "v", "offset": 2, "type": "u8"}
#: two frames whose bytes 2 and 3 swap 01 and 02 (a kind at either), then a value, 9 and 8
FRAMES_OF_KINDS = (b"\xaa\x04\x01\x02\x09\xba", b"\xaa\x04\x02\x01\x08\xb9")
#: a one-byte field at 4 in the frames of kind 1
KIND_FIELD = {"name": "v", "offset": 4, "type": "u8", "kind": 1}


def frame_sensor(**frame: Any) -> dict[str, Any]:
    """A fresh ``format = "frames"`` sensor table reading FRAME's u16be at offset 2 as ``v``."""
    base: dict[str, Any] = {
        "start": "\\xaa",
        "length_offset": 1,
        "length_size": 1,
        "checksum": "sum8",
        "fields": [{"name": "v", "offset": 2, "type": "u16be"}],
    }
    # a copy: a key of a field sets it in the table (U8_FIELD stays as it is for the next)
    return {"sensors.format": "frames", "sensors.frame": copy.deepcopy({**base, **frame})}


def frame_value(data: bytes, **frame: Any) -> Check:
    """The latest ``v`` after ``data`` (None: no frame read; "invalid": a config error)."""

    def check(ctx: Ctx, key: str, value: Any) -> Any:
        try:
            return values_after({**frame_sensor(**frame), key: value}, data).get("v")
        except AssertionError:  # config() refused the table
            return "invalid"

    return check


def frames_value(frames: tuple[bytes, ...], **frame: Any) -> Check:
    """The latest ``v`` after each of ``frames`` (None: no frame gave one)."""

    def check(ctx: Ctx, key: str, value: Any) -> Any:
        return values_after({**frame_sensor(**frame), key: value}, *frames).get("v")

    return check


def cut_then_whole(ctx: Ctx, key: str, value: Any) -> tuple[int, int]:
    """Skipped bytes and checksum failures after FRAME's first 3 bytes, then 0.2 s later
    FRAME whole."""
    clock = Clock()
    rt = runtime({**frame_sensor(), key: value}, clock)
    rt.feed(FRAME[:3])
    clock.now += 0.2
    rt.feed(FRAME)
    return rt.framer.skipped_bytes, rt.framer.rejected["checksum"]


def write_and_feed(rt: SensorRuntime, pair: PtyPair, frame: bytes) -> None:
    """The device writes ``frame``; the sensor reads it from its port (within 2 s)."""
    pair.write(frame)
    assert rt.source is not None
    got = b""
    deadline = time.monotonic() + 2.0
    while len(got) < len(frame) and time.monotonic() < deadline:
        chunk = rt.source.read()
        got += chunk
        rt.feed(chunk)


def warm_readings(key: str, value: Any) -> int:
    """Readings of an SDS011 on a pty from one frame read right after its port opened."""
    frame = bytes.fromhex("AA C0 D4 04 3A 0A A1 60 1D AB")
    with PtyPair() as pair:
        table = {"name": "s", "port": pair.path, "preset": "sds011", "simulate": "never"}
        errors: list[str] = []
        loaded = Config.load(
            {"sensors": [{**table, key.rsplit(".", maxsplit=1)[-1]: value}]}, "", errors
        )
        assert loaded is not None, errors
        rt = SensorRuntime(loaded.sensors[0])
        try:
            assert rt.try_open()
            write_and_feed(rt, pair, frame)
            return sum(ch.chain.stages[0].records_in for ch in rt.channels.values()) // 2
        finally:
            rt.stop()


def rewarmed_after_silence(key: str, value: Any) -> int:
    """Readings of a streaming PMS5003 on a pty (warm-up 5 s) from the frames of 10 s after
    a 20 s silence, on an injected clock. Its values are 1, not 0: a first frame after a
    silence that reads 0 in every field warms any device of frames up again."""
    frame = b"\x42\x4d\x00\x1c" + (1).to_bytes(2, "big") * 13
    frame += (sum(frame) % 65536).to_bytes(2, "big")
    now = [1000.0]
    with PtyPair() as pair:
        table = {"name": "s", "port": pair.path, "preset": "pms5003", "simulate": "never"}
        errors: list[str] = []
        name = key.rsplit(".", maxsplit=1)[-1]
        loaded = Config.load({"sensors": [{**table, "warmup_s": 5, name: value}]}, "", errors)
        assert loaded is not None, errors
        rt = SensorRuntime(loaded.sensors[0], clock=lambda: now[0])
        published = rt.channels["pm2_5_standard_ug_m3"].chain.stages[0]
        try:
            assert rt.try_open()
            assert rt.source is not None
            for at in [*range(10), *range(30, 40)]:
                now[0] = 1000.0 + at
                rt.tick(now[0])
                if at == 30:
                    assert rt.state == "stale"
                    count = published.records_in
                write_and_feed(rt, pair, frame)
            return int(published.records_in - count)
        finally:
            rt.stop()


def preset_sensor(table: dict[str, Any]) -> SensorConfig:
    """A sensor given by name, port and ``table`` (a preset fills in the rest)."""
    errors: list[str] = []
    loaded = Config.load({"sensors": [{"name": "s", "port": "sim://s", **table}]}, "", errors)
    assert loaded is not None, errors
    return loaded.sensors[0]


def preset_channels(key: str, value: Any) -> tuple[str, ...]:
    return tuple(c.name for c in preset_sensor({"preset": value}).channels)


def setup_bytes(key: str, value: Any) -> bytes:
    steps = preset_sensor({"preset": "mhz19", "setup": value}).setup_steps()
    return b"".join(data for _, data, _ in steps)


def set_up_answered(device_replies: bytes) -> Callable[[str, Any], Any]:
    """What a frames sensor on a pty does with one set-up command written as bytes (``68 01
    20 77``, acknowledged ``A5 A5``; the key changes it) when its device answers each write of
    ``68 01 20 77`` with ``device_replies``: the writes in 8 s, the acknowledgement errors, and
    the bytes the framer skipped."""

    def check(key: str, value: Any) -> Any:
        clock = Clock()
        command = {"send": "68 01 20 77", "expect": "A5 A5"}
        if key.endswith("_text"):  # the key in place of its hex twin: send_text for send
            command.pop(key.rsplit(".", 1)[-1].removesuffix("_text"), None)
        with PtyPair() as pair:
            rt = runtime(
                {
                    **frame_sensor(),
                    "sensors.port": pair.path,
                    "sensors.simulate": "never",
                    "sensors.setup": [command],
                    key: value,
                },
                clock,
            )
            assert rt.try_open()
            assert rt.source is not None
            writes = []
            while (due := rt.next_deadline()) is not None and due <= 1008.0:
                clock.now = max(clock.now, due)
                rt.tick(clock.now)
                written = pair.read(64, timeout_s=0.05)
                if written:
                    writes.append(written)
                    if written == bytes.fromhex("68 01 20 77"):
                        pair.write(device_replies)
                        deadline = time.monotonic() + 2.0
                        got = b""
                        while len(got) < len(device_replies) and time.monotonic() < deadline:
                            got += rt.source.read()
                        rt.feed(got)
            rt.stop()
        return len(writes), writes[0], rt.setup_ack_errors, rt.framer.skipped_bytes

    return check


def poll_bytes(key: str, value: Any) -> bytes:
    table = {"preset": "mhz19", "poll": {"command": value, "interval_s": 5.0}}
    (request,) = preset_sensor(table).poll_requests()
    return request


def simulated_first_frame(key: str, value: Any) -> bytes:
    changes = {"sensors.parse.pattern": "T=(\\S+) C", key: value}
    source = make_source(sensor(changes), lambda: 0.0, simulated=True)
    with source:
        return source.read()


CH = "sensors.channels"
NO_NOISE = {f"{CH}.signal.noise": 0}
FLAT = {f"{CH}.signal.amplitude": 0, **NO_NOISE}

EFFECTS: list[Effect] = [
    # -- [http]
    Effect("http.listen", "127.0.0.1", "0.0.0.0", plain(reachable_on), (True, False), (True, True)),
    Effect("http.port", PORT_A, PORT_B, plain(answering_port), PORT_A, PORT_B),
    Effect("http.request_timeout_s", 0.3, 5.0, plain(idle_connection_closed), True, False),
    Effect("http.max_request_bytes", 1024, 8192, plain(long_header_status), 431, 200),
    Effect("http.max_connections", 1, 2, plain(second_connection_status), 503, 200),
    Effect("http.max_connections_per_client", 1, 2, plain(second_connection_status), 503, 200),
    Effect("http.header_timeout_s", 0.3, 5.0, plain(idle_connection_closed), True, False),
    # the TLS, basic-auth and port rows follow the helpers they use
    # -- binary frames (format = "frames") and presets
    Effect("sensors.frame.start", "\\xaa", "\\xbb", frame_value(FRAME), 258.0, None),
    Effect("sensors.frame.length", 5, 6, frame_value(FRAME), 258.0, None),
    Effect("sensors.frame.length_offset", 1, 2, frame_value(FRAME), 258.0, lambda v: v != 258.0),
    Effect("sensors.frame.length_size", 1, 2, frame_value(FRAME), 258.0, lambda v: v != 258.0),
    Effect(
        "sensors.frame.length_byteorder",
        "big",
        "little",
        frame_value(
            FRAME_LEN2, length_size=2, fields=[{"name": "v", "offset": 3, "type": "u16be"}]
        ),
        258.0,
        None,
    ),
    Effect(
        "sensors.frame.length_counts",
        "after",
        "frame",
        frame_value(FRAME),
        258.0,
        lambda v: v != 258.0,
    ),
    Effect("sensors.frame.end", 0x55, 0x66, frame_value(FRAME_END), 258.0, None),
    # one byte more than the length field says: FRAME is one byte short of a frame
    Effect("sensors.frame.length_adjust", 0, 1, frame_value(FRAME), 258.0, None),
    Effect("sensors.frame.escape", 0x7D, 0x7C, frame_value(FRAME_STUFFED), 258.0, None),
    Effect("sensors.frame.checksum", "sum8", "xor8", frame_value(FRAME), 258.0, None),
    Effect("sensors.frame.checksum_start", 0, 1, frame_value(FRAME), 258.0, None),
    Effect("sensors.frame.checksum_end", -1, 3, frame_value(FRAME), 258.0, None),
    Effect("sensors.frame.checksum_offset", -1, -2, frame_value(FRAME), 258.0, None),
    Effect(
        "sensors.warmup_s",
        0.0,
        60.0,
        plain(warm_readings),
        1,  # the frame read right after the open gives its reading
        0,  # it is read during the warm-up: no reading
    ),
    Effect(
        "sensors.warmup_after_silence",
        False,
        True,
        plain(rewarmed_after_silence),
        10,  # every frame after the silence gives its reading
        5,  # those of its first 5 s are read during a warm-up
    ),
    Effect(
        "sensors.frame.reply_length",
        3,
        4,
        after(
            (REPLY + FRAME,),
            lambda rt: (rt.ignored, rt.snapshot().parse_errors["syntax"], last(rt).reading.value),
            frame_sensor(),
        ),
        (0, 1, 258.0),  # a 3-byte reply is not what came: the 4 bytes are a broken frame
        (1, 0, 258.0),  # read as a frame without values
    ),
    # FRAME holds AA 03 at offset 0 and 01 02 at offset 2: a frame sent while booting, no value
    Effect("sensors.frame.boot_bytes", "\\xaa\\x04", "\\xaa\\x03", frame_value(FRAME), 258.0, None),
    Effect(
        "sensors.frame.boot_offset",
        1,
        2,
        frame_value(FRAME, boot_bytes="\\x01\\x02"),
        258.0,
        None,
    ),
    # FRAME holds 01 02 at offset 2: boot bytes 01 03 match it in the bits of FF FC alone
    Effect(
        "sensors.frame.boot_mask",
        "\\xff\\xff",
        "\\xff\\xfc",
        frame_value(FRAME, boot_bytes="\\x01\\x03", boot_offset=2),
        258.0,
        None,
    ),
    # FRAME_STATUS's v (u8 at 2) is read when its status byte is valid, not otherwise
    Effect(
        "sensors.frame.status_offset",
        4,
        3,
        frame_value(FRAME_STATUS, fields=[U8_FIELD], status_ok=[0]),
        1.0,
        None,
    ),
    Effect(
        "sensors.frame.status_ok",
        [2],
        [0],
        frame_value(FRAME_STATUS, fields=[U8_FIELD], status_offset=3),
        1.0,
        None,
    ),
    Effect(
        "sensors.frame.status_mask",
        0x01,
        0xFF,
        frame_value(FRAME_STATUS, fields=[U8_FIELD], status_offset=3, status_ok=[0]),
        1.0,
        None,
    ),
    # held across a silence: dropped as a cut frame; within one: tried with what follows
    Effect("sensors.frame.silence_s", 0.1, 1.0, cut_then_whole, (3, 0), (3, 1)),
    # v is read from the frame whose kind byte says 1: the first at byte 2, the second at 3
    Effect(
        "sensors.frame.kind_offset",
        2,
        3,
        frames_value(FRAMES_OF_KINDS, fields=[KIND_FIELD]),
        9.0,
        8.0,
    ),
    # two bytes at 2 read 0x0102 and 0x0201: neither is kind 1
    Effect(
        "sensors.frame.kind_size",
        1,
        2,
        frames_value(FRAMES_OF_KINDS, fields=[KIND_FIELD], kind_offset=2),
        9.0,
        None,
    ),
    Effect(
        "sensors.frame.fields.kind",
        1,
        2,
        frames_value(FRAMES_OF_KINDS, fields=[{**KIND_FIELD, "kind": 0}], kind_offset=2),
        9.0,
        8.0,
    ),
    # an example the spec reads, and one whose checksum is not the spec's rule's
    Effect(
        "sensors.frame.examples",
        ["AA 03 01 02 B0"],
        ["AA 03 01 02 B1"],
        frame_value(FRAME),
        258.0,
        "invalid",
    ),
    Effect("sensors.frame.fields.name", "v", "w", frame_value(FRAME), 258.0, "invalid"),
    # FRAME's byte 2 is 01: its bit 0 is set, bit 1 not
    Effect("sensors.frame.fields.bit", 0, 1, frame_value(FRAME, fields=[U8_FIELD]), 1.0, 0.0),
    # FRAME's v is 0x0102: its lowest bit is 0, its lowest two bits 2
    Effect(
        "sensors.frame.fields.bits",
        1,
        2,
        frame_value(FRAME, fields=[{"name": "v", "offset": 2, "type": "u16be", "bit": 0}]),
        0.0,
        2.0,
    ),
    Effect("sensors.frame.fields.offset", 2, 3, frame_value(FRAME, fields=[U8_FIELD]), 1.0, 2.0),
    Effect("sensors.frame.fields.type", "u16be", "u16le", frame_value(FRAME), 258.0, 513.0),
    Effect("sensors.frame.fields.scale", 1.0, 0.5, frame_value(FRAME), 258.0, 129.0),
    Effect("sensors.frame.fields.bias", 0.0, 10.0, frame_value(FRAME), 258.0, 268.0),
    # FRAME's v is 0x0102: a raw value the device sends for "no value" is not published
    Effect("sensors.frame.fields.not_available", [], [258], frame_value(FRAME), 258.0, None),
    Effect(
        "sensors.preset",
        "pms5003",
        "mhz19",
        plain(preset_channels),
        lambda names: "pm2_5_ug_m3" in names,
        ("co2_ppm", "temperature_celsius"),
    ),
    Effect(
        "sensors.setup",
        ["abc_off"],
        ["abc_on"],
        plain(setup_bytes),
        lambda b: len(b) == 9 and b[2] == 0x79 and b[3] == 0x00,
        lambda b: len(b) == 9 and b[2] == 0x79 and b[3] == 0xA0,
    ),
    Effect(
        "sensors.setup.send",
        "68 01 20 77",
        "68 01 40 57",  # a command the device does not answer
        plain(set_up_answered(b"\xa5\xa5")),
        (1, b"\x68\x01\x20\x77", {"missing": 0, "wrong": 0}, 0),
        (3, b"\x68\x01\x40\x57", {"missing": 1, "wrong": 0}, 0),
    ),
    Effect(
        "sensors.setup.expect",
        "A5 A5",
        "5A 5A",  # the device's A5 A5 is no reply: skipped, the command written three times
        plain(set_up_answered(b"\xa5\xa5")),
        (1, b"\x68\x01\x20\x77", {"missing": 0, "wrong": 0}, 0),
        (3, b"\x68\x01\x20\x77", {"missing": 1, "wrong": 0}, 6),
    ),
    Effect(
        "sensors.setup.refuse",
        "96 96",
        "69 69",
        plain(set_up_answered(b"\x96\x96")),
        (1, b"\x68\x01\x20\x77", {"missing": 0, "wrong": 1}, 0),
        (3, b"\x68\x01\x20\x77", {"missing": 1, "wrong": 0}, 6),
    ),
    Effect(
        "sensors.setup.send_text",
        "\\x68\\x01\\x20\\x77",
        "\\x68\\x01\\x40\\x57",
        plain(set_up_answered(b"\xa5\xa5")),
        (1, b"\x68\x01\x20\x77", {"missing": 0, "wrong": 0}, 0),
        (3, b"\x68\x01\x40\x57", {"missing": 1, "wrong": 0}, 0),
    ),
    Effect(
        "sensors.setup.expect_text",
        "\\xa5\\xa5",
        "\\x5a\\x5a",
        plain(set_up_answered(b"\xa5\xa5")),
        (1, b"\x68\x01\x20\x77", {"missing": 0, "wrong": 0}, 0),
        (3, b"\x68\x01\x20\x77", {"missing": 1, "wrong": 0}, 6),
    ),
    Effect(
        "sensors.setup.refuse_text",
        "\\x96\\x96",
        "\\x69\\x69",
        plain(set_up_answered(b"\x96\x96")),
        (1, b"\x68\x01\x20\x77", {"missing": 0, "wrong": 1}, 0),
        (3, b"\x68\x01\x20\x77", {"missing": 1, "wrong": 0}, 6),
    ),
    Effect(
        "sensors.poll.command",
        "read",
        "abc_on",
        plain(poll_bytes),
        lambda b: b[:3] == b"\xff\x01\x86",
        lambda b: b[:3] == b"\xff\x01\x79",
    ),
    Effect(
        "sensors.parse.example",
        "#1 T=0 C",
        "T=0 C",
        plain(simulated_first_frame),
        lambda b: b.startswith(b"#1 T="),
        lambda b: b.startswith(b"T=") and b.endswith(b" C\n"),
    ),
    # -- [log]
    Effect("log.level", "info", "warning", plain(logged), (True, True), (False, True)),
    Effect("log.format", "json", "console", plain(logged), (True, True), (True, False)),
    # -- [metrics], [reader]
    Effect("metrics.step_timing_sample_every", 16, 64, plain(timed_samples), 16.0, 4.0),
    Effect(
        "reader.batch_interval_s",
        0.0,
        0.25,
        plain(read_passes),
        lambda n: n >= 40,  # a line every 2 ms, each read as it arrives (~500 passes)
        lambda n: n <= 1.0 / 0.25 + 3,  # at most one pass per interval, plus housekeeping
    ),
    # -- [[sensors]]
    Effect(
        "sensors.simulate",
        "auto",
        "never",
        plain(lambda k, v: runtime({"sensors.port": "/dev/does-not-exist", k: v}).simulated),
        True,
        False,
    ),
    Effect("sensors.format", "value", "kv", latest(b"v=7\n", b"8\n"), 8.0, 7.0),
    Effect(
        "sensors.sampling_rate_hz",
        1.0,
        5.0,
        simulating(lambda rt: rt.framer.frames),
        lambda n: 19 <= n <= 21,
        lambda n: 99 <= n <= 101,
    ),
    Effect(
        "sensors.stale_after_s",
        2.0,
        6.0,
        plain(state_after_silence),
        ["up", "stale", "stale"],
        ["up", "up", "stale"],
    ),
    Effect("sensors.terminator", "\n", ";", latest(b"4;5\n"), None, 4.0),
    Effect(
        "sensors.max_frame_bytes",
        16,
        64,
        after(
            (b"1" + b"0" * 30 + b"\n",),
            lambda rt: (rt.framer.overlong, window_stats(rt)["v"] is not None),
        ),
        (1, False),
        (0, True),
    ),
    # -- [sensors.serial] on a real pty
    Effect(
        "sensors.serial.baudrate",
        9600,
        115200,
        plain(lambda k, v: tty_attributes(k, v)[0]),
        termios.B9600,
        termios.B115200,
    ),
    Effect(
        "sensors.serial.bytesize",
        8,
        7,
        lambda ctx, k, v: requested_line(k, v, ctx.mocker),
        (termios.CS8, 0),
        (termios.CS7, 0),
    ),
    Effect(
        "sensors.serial.parity",
        "N",
        "E",
        lambda ctx, k, v: requested_line(k, v, ctx.mocker),
        (termios.CS8, 0),
        (termios.CS8, termios.PARENB),
    ),
    Effect(
        "sensors.serial.stopbits",
        1,
        2,
        plain(lambda k, v: bool(tty_attributes(k, v)[1])),
        False,
        True,
    ),
    Effect(
        "sensors.serial.xonxoff",
        False,
        True,
        plain(lambda k, v: tty_attributes(k, v)[3]),
        0,
        termios.IXON | termios.IXOFF,
    ),
    Effect(
        "sensors.serial.rtscts",
        False,
        True,
        plain(lambda k, v: bool(tty_attributes(k, v)[2])),
        False,
        True,
    ),
    Effect(
        "sensors.serial.dsrdtr",
        False,
        True,
        lambda ctx, k, v: dtr_requests(k, v, ctx.mocker),
        True,
        False,
    ),
    Effect(
        "sensors.serial.timeout_s",
        0.05,
        0.6,
        plain(blocking_read_s),
        lambda s: s < 0.4,
        lambda s: s >= 0.55,
    ),
    Effect("sensors.serial.exclusive", True, False, plain(second_opener), "refused", "opened"),
    Effect(
        "sensors.serial.dtr",
        True,
        False,
        lambda ctx, k, v: line_request(termios.TIOCM_DTR, k, v, ctx.mocker),
        "raise",
        "drop",
    ),
    Effect(
        "sensors.serial.rts",
        True,
        False,
        lambda ctx, k, v: line_request(termios.TIOCM_RTS, k, v, ctx.mocker),
        "raise",
        "drop",
    ),
    Effect("sensors.serial.hupcl", True, False, plain(hangs_up_on_close), True, False),
    Effect(
        "sensors.serial.rs485",
        False,
        True,
        plain(rs485_open),
        "opened",
        lambda s: "serial.rs485 = True: rejected by" in s,
    ),
    Effect(
        "sensors.serial.rs485_rts_level_for_tx",
        True,
        False,
        lambda ctx, k, v: rs485_request(k, v, ctx.mocker),
        True,
        False,
    ),
    Effect(
        "sensors.serial.rs485_rts_level_for_rx",
        False,
        True,
        lambda ctx, k, v: rs485_request(k, v, ctx.mocker),
        False,
        True,
    ),
    Effect(
        "sensors.serial.rs485_delay_before_tx_s",
        0.0,
        0.002,
        lambda ctx, k, v: rs485_request(k, v, ctx.mocker),
        0.0,
        0.002,
    ),
    Effect(
        "sensors.serial.rs485_delay_before_rx_s",
        0.0,
        0.003,
        lambda ctx, k, v: rs485_request(k, v, ctx.mocker),
        0.0,
        0.003,
    ),
    Effect("sensors.serial.local_echo", False, True, plain(frames_past_an_echo), 2, 1),
    # -- [sensors.poll] on a real pty, the loop's ticks on an injected clock
    Effect("sensors.poll.interval_s", 0.2, 0.02, plain(polls_in_window), 10, 100),
    Effect("sensors.connect_delay_s", 0.0, 2.5, plain(first_poll_s), 0.0, 2.5),
    Effect(
        "sensors.poll.request", "M\\n", "READ?\\r\\n", plain(request_bytes), b"M\n", b"READ?\r\n"
    ),
    # -- [sensors.reconnect]: six failed opens, jitter drawing its ceiling
    Effect(
        "sensors.reconnect.initial_delay_s",
        0.1,
        0.4,
        plain(lambda k, v: reopen_gaps(k, v, {"sensors.reconnect.max_delay_s": 2.0})),
        [0.1, 0.2, 0.4, 0.8, 1.6, 2.0],
        [0.4, 0.8, 1.6, 2.0, 2.0, 2.0],
    ),
    Effect(
        "sensors.reconnect.max_delay_s",
        0.5,
        2.0,
        plain(lambda k, v: reopen_gaps(k, v, {"sensors.reconnect.initial_delay_s": 0.1})),
        [0.1, 0.2, 0.4, 0.5, 0.5, 0.5],
        [0.1, 0.2, 0.4, 0.8, 1.6, 2.0],
    ),
    # -- [sensors.parse]
    Effect("sensors.parse.pattern", r"T=(\S+)", r"H=(\S+)", latest(b"T=1 H=2\n"), 1.0, 2.0),
    Effect(
        "sensors.parse.pair_separator",
        ";",
        ",",
        latest(b"x=9;v=3\n", extra={"sensors.format": "kv"}),
        3.0,
        None,
    ),
    Effect(
        "sensors.parse.kv_separator",
        ":",
        "=",
        latest(b"v:4\n", extra={"sensors.format": "kv"}),
        4.0,
        None,
    ),
    Effect(
        "sensors.parse.delimiter",
        ";",
        ",",
        latest(b"5;6\n", extra={"sensors.format": "csv", f"{CH}.field": "1"}),
        6.0,
        None,
    ),
    Effect(
        "sensors.parse.columns",
        ["v", "w"],
        ["w", "v"],
        latest(b"1,2\n", extra={"sensors.format": "csv"}),
        1.0,
        2.0,
    ),
    Effect(
        "sensors.parse.header",
        True,
        False,
        after(
            (b"v,w\n",),
            lambda rt: (rt.ignored, parse_errors(rt)),
            {"sensors.format": "csv", "sensors.parse.columns": ["v", "w"]},
        ),
        (1, 0),
        (0, 1),
    ),
    Effect("sensors.parse.units", ["C"], ["F"], latest(b"21.5C\n"), 21.5, None),
    Effect("sensors.channels.units", ["C"], ["F"], latest(b"21.5C\n"), 21.5, None),
    Effect("sensors.channels.states", {"ON": 1}, {"OK": 1}, latest(b"ON\n"), 1.0, None),
    Effect(
        "sensors.channels.not_available",
        [-2],
        [-1],
        after(
            (b"-1\n",),
            lambda rt: (values_of(rt).get("v"), rt.parse_errors["invalid"]),
        ),
        (-1.0, 0),
        (None, 1),
    ),
    Effect("sensors.parse.decimal", ",", ".", latest(b"21,5\n"), 21.5, None),
    Effect("sensors.parse.nul_padding", True, False, latest(b"21.5\0\0\n"), 21.5, None),
    Effect(
        "sensors.parse.invalid",
        ["ERR"],
        ["---"],
        after(
            (b"v=ERR,w=2\n",),
            lambda rt: (rt.parse_errors["invalid"], rt.parse_errors["syntax"]),
            {"sensors.format": "kv"},
        ),
        (1, 0),
        (0, 1),
    ),
    Effect(
        "sensors.parse.ignore",
        ["^Checksum\t"],
        ["^#"],
        after(
            (b"Checksum\t\xbc\n", b"v\t1\n"),
            lambda rt: (rt.ignored, parse_errors(rt)),
            {"sensors.format": "kv", "sensors.parse.kv_separator": "\t"},
        ),
        (1, 0),
        (0, 1),
    ),
    Effect(
        "sensors.parse.block",
        "dsmr",
        "vedirect",
        latest(
            envelope("dsmr", [b"v(7)"]),
            extra={
                "sensors.format": "kv",
                "sensors.parse.kv_separator": "(",
                "sensors.parse.pair_separator": ")",
            },
        ),
        7.0,
        None,
    ),
    # a telegram whose CRC is CRC-16/X-25, as a Holley DTSD545 writes it: read, or rejected
    Effect(
        "sensors.parse.crc",
        "crc16_x25",
        "crc16_arc",
        latest(
            envelope("dsmr", [b"v(7)"], crc="crc16_x25"),
            extra={
                "sensors.format": "kv",
                "sensors.parse.block": "dsmr",
                "sensors.parse.kv_separator": "(",
                "sensors.parse.pair_separator": ")",
            },
        ),
        7.0,
        None,
    ),
    # "21.5" and the XOR of its bytes, as an R. M. Young anemometer ends its ASCII lines: read
    # without it, or (SDI-12's CRC expected) rejected as a line without one
    Effect("sensors.parse.checksum", "xor", "sdi12", latest(b"21.5*18\n"), 21.5, None),
    Effect(
        "sensors.parse.encoding",
        "latin-1",
        "utf-8",
        latest("t°5\n".encode("latin-1"), extra={"sensors.parse.pattern": "t°(\\S+)"}),
        5.0,
        None,
    ),
    # -- [sensors.simulation]: 20 s of a simulated device on an injected clock
    Effect(
        "sensors.simulation.seed",
        1,
        2,
        simulating(lambda rt: last(rt).reading.value),
        lambda x: isinstance(x, float),
        lambda x: isinstance(x, float),
    ),
    Effect(
        "sensors.simulation.spike_rate", 0.0, 0.5, simulating(lambda rt: span(rt) > 50), False, True
    ),
    Effect(
        "sensors.simulation.garbage_rate", 0.0, 0.5, simulating(parse_errors), 0, lambda n: n > 0
    ),
    Effect(
        "sensors.simulation.dropout_rate",
        0.0,
        1.0,
        simulating(lambda rt: rt.framer.frames, {"sensors.sampling_rate_hz": 10}),
        lambda n: n >= 199,
        lambda n: n < 100,
    ),
    Effect(
        "sensors.simulation.dropout_s",
        0.5,
        5.0,
        simulating(
            lambda rt: rt.framer.frames,
            {"sensors.sampling_rate_hz": 10, "sensors.simulation.dropout_rate": 1.0},
        ),
        lambda n: 80 <= n <= 120,
        0,
    ),
    # -- [[sensors.channels]]
    Effect(f"{CH}.field", "t", "h", latest(b"t=1,h=2\n", extra={"sensors.format": "kv"}), 1.0, 2.0),
    Effect(
        f"{CH}.filter.min",
        0.0,
        10.0,
        after(
            (b"5\n", b"50\n"),
            lambda rt: (last(rt).count, rt.channels["v"].chain.stages[0].dropped["range"]),
        ),
        (2, 0),
        (1, 1),
    ),
    Effect(
        f"{CH}.filter.max",
        100.0,
        10.0,
        after(
            (b"5\n", b"50\n"),
            lambda rt: (last(rt).count, rt.channels["v"].chain.stages[0].dropped["range"]),
        ),
        (2, 0),
        (1, 1),
    ),
    Effect(f"{CH}.normalize.scale", 1.0, 2.5, latest(b"4\n"), 4.0, 10.0),
    Effect(f"{CH}.normalize.offset", 0.0, -1.5, latest(b"4\n"), 4.0, 2.5),
    Effect(
        f"{CH}.normalize.from_unit",
        "celsius",
        "kelvin",
        latest(b"100\n", extra={f"{CH}.normalize.to_unit": "kelvin"}),
        pytest.approx(373.15),
        100.0,
    ),
    Effect(
        f"{CH}.normalize.to_unit",
        "kelvin",
        "fahrenheit",
        latest(b"100\n", extra={f"{CH}.normalize.from_unit": "celsius"}),
        pytest.approx(373.15),
        pytest.approx(212.0),
    ),
    Effect(
        f"{CH}.normalize.range_min",
        0.0,
        50.0,
        latest(b"75\n", extra={f"{CH}.normalize.range_max": 100.0}),
        0.75,
        0.5,
    ),
    Effect(
        f"{CH}.normalize.range_max",
        100.0,
        300.0,
        latest(b"75\n", extra={f"{CH}.normalize.range_min": 0.0}),
        0.75,
        0.25,
    ),
    Effect(
        f"{CH}.normalize.clamp",
        False,
        True,
        latest(
            b"150\n", extra={f"{CH}.normalize.range_min": 0.0, f"{CH}.normalize.range_max": 100.0}
        ),
        1.5,
        1.0,
    ),
    Effect(
        f"{CH}.window.size",
        3,
        10,
        after(tuple(b"%d\n" % i for i in range(10)), lambda rt: (last(rt).count, last(rt).mean)),
        (3, 8.0),
        (10, 4.5),
    ),
    Effect(
        f"{CH}.window.time_s",
        2.5,
        100.0,
        plain(window_over_time),
        (3, 8.0),
        (10, 4.5),
    ),
    # -- [sensors.channels.signal]: a simulated device's signal
    Effect(
        f"{CH}.signal.center",
        20.0,
        100.0,
        simulating(lambda rt: last(rt).reading.value, FLAT),
        20.0,
        100.0,
    ),
    Effect(f"{CH}.signal.amplitude", 0.0, 10.0, simulating(span, NO_NOISE), 0.0, lambda s: s > 5),
    Effect(
        f"{CH}.signal.period_s",
        10.0,
        1000.0,
        simulating(lambda rt: span(rt) > 15, {**NO_NOISE, f"{CH}.signal.amplitude": 10}),
        True,
        False,
    ),
    Effect(
        f"{CH}.signal.noise",
        0.0,
        1.0,
        simulating(lambda rt: last(rt).stddev, {f"{CH}.signal.amplitude": 0}),
        0.0,
        lambda s: s > 0.3,
    ),
    Effect(
        f"{CH}.signal.drift_per_s", 0.0, 1.0, simulating(span, FLAT), 0.0, lambda s: 18 <= s <= 21
    ),
]


EFFECTS += [
    Effect(
        "http.tls_cert_file",
        "{tmp}/alpha.crt",
        "{tmp}/beta.crt",
        lambda ctx, k, v: served_certificate(k, v, ctx.tmp),
        "alpha",
        "beta",
    ),
    Effect(
        "http.tls_key_file",
        "{tmp}/shared.key",
        "{tmp}/other.key",
        lambda ctx, k, v: served_certificate(k, v, ctx.tmp),
        "alpha",
        "cannot serve",
    ),
    Effect("http.basic_auth_username", "admin", "root", plain(auth_status), 200, 401),
    Effect("http.basic_auth_password", "pw", "secret", plain(auth_status), 200, 401),
    Effect(
        "sensors.port",
        "sim://s",
        "loop://",
        plain(opened_source),
        (True, True, "sim://s"),
        (True, False, "loop://"),
    ),
]

# -- [sensors.replay]: how a replay:// port plays its capture


def replayed_frames(ctx: Ctx, key: str, value: Any) -> tuple[int, int]:
    """(frames right after the open, frames after 10 s of injected time) of a sensor replaying
    a capture of two frames recorded 1 s apart."""
    path = ctx.tmp / "two-frames.cap"
    records = [Record(RX, 0.0, b"1\n"), Record(RX, 1.0, b"2\n")]
    path.write_bytes(encode_capture({"sensor": "s"}, records))
    clock = Clock()
    rt = runtime({"sensors.port": f"replay://{path}", key: value}, clock)
    assert rt.try_open()
    source = rt.source
    assert isinstance(source, ReplaySource)
    rt.feed(source.read())
    first = rt.framer.frames
    for _ in range(40):
        clock.now += 0.25
        if clock.now >= source.next_due():
            rt.feed(source.read())
    rt.stop()
    return first, rt.framer.frames


# -- [capture]: the ring of raw bytes and where SIGUSR1 writes it


def ring_held(key: str, value: Any) -> int:
    """Received bytes in the daemon's capture of a sensor whose device sent 1000 bytes."""
    cfg = config({key: value})
    daemon = Daemon(cfg, environ={})
    rt = daemon._make_runtime(cfg.sensors[0])
    daemon.reader.add(rt)
    daemon._refresh_runtimes()
    try:
        for _ in range(10):
            rt.feed(b"1\n" * 50)
        body = daemon.capture_file("s")
    finally:
        daemon.reader.close()
    assert body is not None
    return parse_capture(body).rx_bytes


def sigusr1(cfg: Config) -> None:
    """What SIGUSR1's handler does in a daemon of ``cfg`` whose sensor read one line."""
    daemon = Daemon(cfg, environ={})
    rt = daemon._make_runtime(cfg.sensors[0])
    daemon.reader.add(rt)
    daemon._refresh_runtimes()
    try:
        rt.feed(b"1\n")
        daemon.write_captures()
    finally:
        daemon.reader.close()


def capture_dirs(ctx: Ctx, key: str, value: Any) -> tuple[str, ...]:
    """Which of {tmp}/caps-a and {tmp}/caps-b hold a capture of sensor ``s`` after SIGUSR1's
    handler ran (both emptied first)."""
    names = ("caps-a", "caps-b")
    for name in names:
        shutil.rmtree(ctx.tmp / name, ignore_errors=True)
    cfg = config({key: value})
    sigusr1(cfg)
    return tuple(name for name in names if list((ctx.tmp / name).glob("s-*.cap")))


def captures_kept(ctx: Ctx, key: str, value: Any) -> int:
    """Capture files of sensor ``s`` left in {tmp}/kept after SIGUSR1's handler ran with
    five older ones there (and one of sensor ``s-2``, whose name starts like it)."""
    directory = ctx.tmp / "kept"
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir()
    for day in range(1, 6):
        (directory / f"s-2020010{day}T000000Z.cap").write_bytes(b"")
    (directory / "s-2-20200101T000000Z.cap").write_bytes(b"")
    cfg = config({"capture.directory": str(directory), key: value})
    sigusr1(cfg)
    assert (directory / "s-2-20200101T000000Z.cap").exists()
    newest = sorted(directory.glob("s-2???????T??????Z.cap"))[-1]
    assert newest.stat().st_size > 0  # the one just written is kept
    return len(list(directory.glob("s-2???????T??????Z.cap")))


EFFECTS += [
    Effect("capture.ring_bytes", 0, 100, plain(ring_held), 0, 100),
    Effect(
        "capture.directory", "{tmp}/caps-a", "{tmp}/caps-b", capture_dirs, ("caps-a",), ("caps-b",)
    ),
    Effect("capture.keep_files", 2, 20, captures_kept, 2, 6),
    Effect("sensors.replay.speed", 1.0, 0.0, replayed_frames, (1, 2), (2, 2)),
    Effect("sensors.replay.loop", False, True, replayed_frames, (1, 2), lambda n: n[1] >= 9),
]

# -- Modbus devices ------------------------------------------------------------------------------

#: The registers a device answers with, in turn (as many as a read asks for).
MODBUS_WORDS = (0x1234, 0x5678, 0x9ABC, 0xDEF0)


def modbus_table(changes: dict[str, Any]) -> dict[str, Any]:
    """A Modbus device reading holding register 0 as ``v``, with ``changes``."""
    return {
        "sensors.format": "modbus",
        "sensors.modbus": {},
        "sensors.registers": [{"name": "v", "table": "holding", "address": 0}],
        **changes,
    }


@dataclass(frozen=True)
class ModbusSeen:
    """What one poll of a device on a bus shows: its first request, the value ``v`` read from
    the answer, the time until its response timeout and the poll interval the bus keeps, the reads per poll, how
    long after the open the first request is due, and how long the line stays quiet after
    the answer."""

    request: bytes
    value: float | None
    timeout_s: float
    interval_s: float
    reads: int
    first_s: float
    quiet_s: float


def modbus_poll(
    changes: dict[str, Any], words: tuple[int, ...] = MODBUS_WORDS, exception: int = 0
) -> ModbusSeen | str:
    """One poll of a device on a bus over a real pty, answered from the pty's master with
    ``words`` (or with the ``exception`` code; a set-up write with its echo); "invalid" when
    the configuration is refused."""
    with PtyPair() as pair:
        try:
            fresh = json.loads(json.dumps(changes))  # rows share their tables
            cfg = sensor(modbus_table({"sensors.port": pair.path, **fresh}))
        except AssertionError:
            return "invalid"
        clock = Clock()
        rt = SensorRuntime(cfg, clock=clock, wall_clock=clock)
        bus = Bus("bus:" + pair.path, cfg, clock=clock)
        bus.add(rt)
        assert bus.try_open()
        try:
            start = clock.now
            first = bus.next_deadline()
            assert first is not None
            clock.now = max(start, first)
            bus.tick(clock.now)
            flight = bus.in_flight
            assert flight is not None
            assert bus.source is not None
            timeout_s = flight.deadline - clock.now
            request = pair.read(len(flight.request))
            spec = cfg.format_spec().modbus
            assert spec is not None
            answer = [words[i % len(words)] for i in range(flight.read.count)]
            if exception:
                body = bytes([spec.unit, flight.read.function_code | 0x80, exception])
                pair.write(body + crc16(body).to_bytes(2, "little"))
            elif flight.expected.write:  # a set-up write: its echo, as a device answers it
                echo = flight.expected.head
                pair.write(echo + crc16(echo).to_bytes(2, "little"))
            else:
                pair.write(response_frame(spec, flight.read, answer, 0))
            deadline = time.monotonic() + 2.0
            while bus.in_flight is not None and time.monotonic() < deadline:
                bus.feed(bus.source.read())
            due = bus.next_deadline()
            assert due is not None
            assert rt.modbus is not None
            stats = last_or_none(rt)
            return ModbusSeen(
                request,
                None if stats is None else stats.reading.value,
                round(timeout_s, 6),
                round(due - clock.now, 6),
                rt.modbus.reads,
                round(first - start, 6),
                round(bus.quiet_until - clock.now, 6),
            )
        finally:
            bus.stop()


def last_or_none(rt: SensorRuntime) -> WindowStats | None:
    return window_stats(rt).get("v")


def modbus_seen(
    observe: Callable[[ModbusSeen], Any],
    words: tuple[int, ...] = MODBUS_WORDS,
    extra: dict[str, Any] | None = None,
    exception: int = 0,
) -> Check:
    def check(ctx: Ctx, key: str, value: Any) -> Any:
        seen = modbus_poll({**(extra or {}), key: value}, words, exception)
        return seen if isinstance(seen, str) else observe(seen)

    return check


def request_location(seen: ModbusSeen) -> tuple[int, int]:
    """The function code and start address of an RTU read request."""
    return seen.request[1], int.from_bytes(seen.request[2:4], "big")


def seen_value(seen: ModbusSeen) -> float | None:
    return seen.value


UINT32 = {"sensors.registers.type": "uint32"}
TWO_REGISTERS = {
    "sensors.registers": [
        {"name": "v", "table": "holding", "address": 0},
        {"name": "w", "table": "holding", "address": 2},
    ],
    "sensors.channels": [{"name": "v"}, {"name": "w"}],
}

#: a set-up write of holding register 54 (an SCD30's "start continuous measurement")
SETUP_WRITE = {"sensors.modbus": {"setup": [{"table": "holding", "address": 54, "value": 1}]}}
SETUP_REF = {"sensors.modbus": {"setup": [{"value": 0}]}}
SETUP_UINT32 = {
    "sensors.modbus": {"setup": [{"table": "holding", "address": 54, "value": 1, "type": "uint32"}]}
}


#: ``v`` and two factors it may be scaled by
SCALED = {
    "sensors.registers": [
        {"name": "v", "table": "holding", "address": 0},
        {"name": "f", "table": "holding", "address": 1, "type": "int16"},
        {"name": "g", "table": "holding", "address": 2, "type": "int16"},
    ],
    "sensors.channels": [{"name": "v"}, {"name": "f"}, {"name": "g"}],
}

#: ``v`` and two registers that may say whether it is valid
STATUSED = {
    "sensors.registers": [
        {"name": "v", "table": "holding", "address": 0},
        {"name": "s", "table": "holding", "address": 1},
        {"name": "t", "table": "holding", "address": 2},
    ],
    "sensors.channels": [{"name": "v"}, {"name": "s"}, {"name": "t"}],
}
STATUS_S = {**STATUSED, "sensors.registers.status_register": "s"}

EFFECTS += [
    # 1234 is valid while its status, 0 in register 1 and 0x11 in register 2, is 0
    Effect(
        "sensors.registers.status_register",
        "s",
        "t",
        modbus_seen(seen_value, (1234, 0, 0x11), extra=STATUSED),
        1234,
        None,
    ),
    # a status of 0x10, whose low four bits are 0
    Effect(
        "sensors.registers.status_mask",
        0x0F,
        0xFF,
        modbus_seen(seen_value, (1234, 0x10), extra=STATUS_S),
        1234,
        None,
    ),
    Effect(
        "sensors.registers.status_ok",
        [0],
        [1],
        modbus_seen(seen_value, (1234, 1), extra=STATUS_S),
        None,
        1234,
    ),
    Effect("sensors.modbus.unit", 1, 17, modbus_seen(lambda s: s.request[0]), 1, 17),
    Effect("sensors.modbus.interval_s", 1.0, 2.5, modbus_seen(lambda s: s.interval_s), 1.0, 2.5),
    # the response timeout runs after the request's 8 bytes on the wire (8.3 ms at 9600 baud)
    Effect(
        "sensors.modbus.timeout_s",
        0.5,
        0.1,
        modbus_seen(lambda s: s.timeout_s),
        round(0.5 + 8 * 10 / 9600, 6),
        round(0.1 + 8 * 10 / 9600, 6),
    ),
    Effect("sensors.modbus.byte_order", "big", "little", modbus_seen(seen_value), 0x1234, 0x3412),
    Effect(
        "sensors.modbus.word_order",
        "big",
        "little",
        modbus_seen(seen_value, extra=UINT32),
        0x12345678,
        0x56781234,
    ),
    Effect("sensors.modbus.connect_delay_s", 0.0, 2.0, modbus_seen(lambda s: s.first_s), 0.0, 2.0),
    Effect(
        "sensors.modbus.gap_s",
        0.0,
        0.5,
        modbus_seen(lambda s: s.quiet_s),
        lambda q: 0 < q < 0.01,  # the silence at 9600 baud: 3.6 ms
        lambda q: 0.5 < q < 0.51,
    ),
    Effect(
        "sensors.modbus.max_gap", 0, 1, modbus_seen(lambda s: s.reads, extra=TWO_REGISTERS), 2, 1
    ),
    # after a busy answer: the same read again busy_wait_s later, or the next poll (1 s)
    Effect(
        "sensors.modbus.busy_retries",
        3,
        0,
        modbus_seen(lambda s: s.interval_s, exception=6),
        0.1,
        1.0,
    ),
    # after a gateway's 0B (its device did not answer): the next poll (1 s), or the same read
    # again once the line's silence has passed
    Effect(
        "sensors.modbus.retries",
        0,
        1,
        modbus_seen(lambda s: s.interval_s, exception=0x0B),
        1.0,
        lambda due: 0 < due < 0.01,
    ),
    Effect(
        "sensors.modbus.busy_wait_s",
        0.1,
        0.5,
        modbus_seen(lambda s: s.interval_s, exception=6),
        0.1,
        0.5,
    ),
    Effect(
        "sensors.modbus.max_registers",
        125,
        2,
        modbus_seen(lambda s: s.reads, extra={**TWO_REGISTERS, "sensors.modbus.max_gap": 1}),
        1,
        2,
    ),
    Effect("sensors.registers.name", "v", "w", modbus_seen(seen_value), 0x1234, "invalid"),
    Effect(
        "sensors.registers.table", "holding", "input", modbus_seen(request_location), (3, 0), (4, 0)
    ),
    Effect("sensors.registers.address", 0, 100, modbus_seen(request_location), (3, 0), (3, 100)),
    Effect(
        "sensors.registers.ref",
        "40001",
        "30101",
        modbus_seen(request_location, extra={"sensors.registers": [{"name": "v"}]}),
        (3, 0),
        (4, 100),
    ),
    Effect(
        "sensors.registers.type", "uint16", "int16", modbus_seen(seen_value, (0xFFFE,)), 65534, -2
    ),
    Effect(
        "sensors.registers.byte_order", "big", "little", modbus_seen(seen_value), 0x1234, 0x3412
    ),
    Effect(
        "sensors.registers.word_order",
        "big",
        "little",
        modbus_seen(seen_value, extra=UINT32),
        0x12345678,
        0x56781234,
    ),
    # a register holding its not-available value publishes nothing
    Effect(
        "sensors.registers.not_available",
        [],
        [0xFFFF],
        modbus_seen(seen_value, (0xFFFF,)),
        0xFFFF,
        None,
    ),
    # a set-up write goes out first, before the poll's reads
    Effect(
        "sensors.modbus.setup.table",
        "holding",
        "coil",
        modbus_seen(request_location, extra=SETUP_WRITE),
        (6, 54),
        (5, 54),
    ),
    Effect(
        "sensors.modbus.setup.address",
        54,
        55,
        modbus_seen(request_location, extra=SETUP_WRITE),
        (6, 54),
        (6, 55),
    ),
    Effect(
        "sensors.modbus.setup.ref",
        "40055",
        "00001",
        modbus_seen(request_location, extra=SETUP_REF),
        (6, 54),
        (5, 0),
    ),
    Effect(
        "sensors.modbus.setup.value",
        1,
        0,
        modbus_seen(lambda s: s.request[4:6], extra=SETUP_WRITE),
        b"\0\1",
        b"\0\0",
    ),
    Effect(
        "sensors.modbus.setup.type",
        "uint16",
        "uint32",
        modbus_seen(request_location, extra=SETUP_WRITE),
        (6, 54),
        (16, 54),
    ),
    Effect(
        "sensors.modbus.setup.byte_order",
        "big",
        "little",
        modbus_seen(lambda s: s.request[4:6], extra=SETUP_WRITE),
        b"\0\1",
        b"\1\0",
    ),
    Effect(
        "sensors.modbus.setup.word_order",
        "big",
        "little",
        modbus_seen(lambda s: s.request[7:11], extra=SETUP_UINT32),
        b"\0\0\0\1",
        b"\0\1\0\0",
    ),
    Effect(
        "sensors.modbus.setup.function",
        6,
        16,
        modbus_seen(lambda s: s.request[1], extra=SETUP_WRITE),
        6,
        16,
    ),
    # bit 4 of 0x1234 is set, bit 3 is not; bits 4..11 are 0x23
    Effect("sensors.registers.bit", 4, 3, modbus_seen(seen_value), 1.0, 0.0),
    Effect(
        "sensors.registers.bits",
        1,
        8,
        modbus_seen(seen_value, extra={"sensors.registers.bit": 4}),
        1.0,
        0x23,
    ),
    # a high byte of 0x83: -125 in two's complement, -3 as sign and magnitude (a Renogy's -3 °C)
    Effect(
        "sensors.registers.sign",
        "twos",
        "magnitude",
        modbus_seen(
            seen_value,
            (0x8319, 0, 0, 0),
            extra={"sensors.registers.bit": 8, "sensors.registers.bits": 8},
        ),
        -125.0,
        -3.0,
    ),
    # 1234 at the factor in register 1 (2) or in register 2 (-2)
    Effect(
        "sensors.registers.scale_register",
        "f",
        "g",
        modbus_seen(seen_value, (1234, 2, 0xFFFE), extra=SCALED),
        123400.0,
        12.34,
    ),
    Effect(
        "sensors.modbus.broadcast_reads",
        False,
        True,
        modbus_seen(lambda s: (s.request[0], s.value), extra={"sensors.modbus.unit": 0}),
        "invalid",
        (0, 0x1234),
    ),
    Effect(
        "sensors.modbus.sunspec_not_available",
        False,
        True,
        modbus_seen(seen_value, (0x8000,), extra={"sensors.registers.type": "int16"}),
        -32768,
        None,
    ),
]

#: Keys that do not change what the daemon does, only what things are called.
NO_RUNTIME_EFFECT = {
    # the sensor's name: a label in metrics, logs and /status (uniqueness is a config check)
    "sensors.name",
    # the channel's name: a label; the field it reads is sensors.channels.field
    "sensors.channels.name",
}


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("effects")
    make_certificates(tmp)
    return tmp


def test_every_key_has_a_row() -> None:
    keys = set(schema_keys(Config))
    rows = [row.key for row in EFFECTS]
    assert len(rows) == len(set(rows)), "a key has two rows"
    assert not set(rows) - keys, "rows for keys the schema does not have"
    assert not set(rows) & NO_RUNTIME_EFFECT
    missing = keys - set(rows) - NO_RUNTIME_EFFECT
    assert not missing, f"keys without an observable-effect row: {sorted(missing)}"


@pytest.mark.parametrize("row", EFFECTS, ids=lambda row: row.key)
def test_key_has_its_effect(row: Effect, files: Path, mocker: MockerFixture) -> None:
    ctx = Ctx(files, mocker)
    seen = []
    for given, want in ((row.a, row.want_a), (row.b, row.want_b)):
        value = given.replace("{tmp}", str(files)) if isinstance(given, str) else given
        got = row.check(ctx, row.key, value)
        if callable(want):
            assert want(got), f"{row.key} = {value!r}: saw {got!r}"
        else:
            assert got == want, f"{row.key} = {value!r}: saw {got!r}, want {want!r}"
        seen.append(got)
    assert seen[0] != seen[1], f"{row.key}: both values look the same to a user ({seen[0]!r})"


# -- the overflow bound the filter hands to normalize -------------------------------------------


@pytest.mark.parametrize(
    ("lo", "hi", "value"),
    [(-1.0, 1e308, 1e308), (-1e308, 1.0, -1e308)],
    ids=["upper-bound-larger", "lower-bound-larger"],
)
def test_overflow_bound_is_the_larger_filter_magnitude(lo: float, hi: float, value: float) -> None:
    # The filter passes |value| up to max(|lo|, |hi|); times 10 that leaves the float range,
    # so normalize must check for overflow and drop the reading as nonfinite.
    chain = Chain.build(filter_min=lo, filter_max=hi, scale=10.0)
    chain.drain([Reading("s", "v", value, 0.0, 0.0), Reading("s", "v", 0.5, 1.0, 1.0)])
    _, normalize, window = chain.stages
    assert normalize.dropped == {"nonfinite": 1, "error": 0}
    assert (normalize.records_in, normalize.records_out) == (2, 1)
    assert chain.window is not None
    assert chain.window.last is not None
    stats = chain.window.last
    assert (stats.count, stats.max, stats.min) == (1, 5.0, 5.0)
    assert window.dropped_total == 0


def test_overflowing_readings_are_counted_nonfinite_through_the_runtime() -> None:
    rt = fed(
        # 9E37, about the largest a text device sends (SCPI's infinity is 9.9E37), scaled
        {f"{CH}.filter.min": -1e308, f"{CH}.filter.max": 1e308, f"{CH}.normalize.scale": 1e275},
        b"9e37\n" * 5 + b"2\n-9e37\n" + b"3\n",
    )
    filt, normalize, window = rt.channels["v"].chain.stages
    assert filt.dropped == {"range": 0, "nonfinite": 0, "error": 0}
    assert normalize.dropped == {"nonfinite": 6, "error": 0}
    assert (normalize.records_in, normalize.records_out) == (8, 2)
    assert (last(rt).count, last(rt).min, last(rt).max) == (2, 2e275, 3e275)
    assert window.dropped_total == 0
