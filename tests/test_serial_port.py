"""SerialSource on real pseudo-terminals, a TCP relay of a pty, and pyserial's loop://."""

from __future__ import annotations

import codecs
import ctypes
import fcntl
import os
import resource
import select
import socket
import struct
import subprocess
import sys
import termios
import threading
import time
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from harness.pty import (
    PtyPair,
    Rfc2217Server,
    TcpPtyRelay,
    held_by_subprocess,
    open_fd_count,
    run_as_user,
    run_in_child,
    symlinked_pty,
    wait_readable,
)
from harness.spawn import popen
from pytest_mock import MockerFixture
from serial.serialposix import CMSPAR

from sensord.errors import SourceBrokenError, SourceError, SourceUnavailableError
from sensord.serial_settings import SerialSettings
from sensord.sources import serial_errors, serial_port
from sensord.sources.serial_line import line_mismatches
from sensord.sources.serial_port import SerialSource

NOBODY_UID = 65534


@pytest.fixture
def pair() -> Iterator[PtyPair]:
    with PtyPair() as p:
        yield p


def read_some(source: SerialSource, timeout_s: float = 2.0) -> bytes:
    """What the reader loop does: wait until the descriptor is readable, then read()."""
    fd = source.fileno()
    assert fd is not None
    assert wait_readable(fd, timeout_s), "nothing became readable"
    return source.read()


def read_exactly(source: SerialSource, size: int, timeout_s: float = 2.0) -> bytes:
    data = b""
    deadline = time.monotonic() + timeout_s
    while len(data) < size and time.monotonic() < deadline:
        data += read_some(source, deadline - time.monotonic())
    return data


# -- open, read, write ------------------------------------------------------------------------


def test_open_read_write(pair: PtyPair) -> None:
    with SerialSource("temp", pair.path, SerialSettings()) as source:
        assert source.is_open
        fd = source.fileno()
        assert fd is not None
        assert not os.get_blocking(fd)
        assert source.resolved_path == pair.path

        pair.write(b"21.5\n22.0\n")
        assert read_exactly(source, 10) == b"21.5\n22.0\n"

        source.write(b"READ?\r\n")
        assert pair.read(7) == b"READ?\r\n"
    assert not source.is_open
    assert source.fileno() is None


def test_read_with_nothing_pending_returns_empty_not_broken(pair: PtyPair) -> None:
    with SerialSource("temp", pair.path, SerialSettings()) as source:
        fd = source.fileno()
        assert fd is not None
        assert termios.tcgetattr(fd)[6][termios.VMIN] == 1
        assert source.read() == b""
        pair.write(b"x")
        assert read_some(source) == b"x"
        assert source.read() == b""


def test_large_burst_is_read_in_chunks(pair: PtyPair) -> None:
    payload = bytes(range(256)) * 16
    with SerialSource("temp", pair.path, SerialSettings()) as source:
        pair.write(payload)
        assert read_exactly(source, len(payload)) == payload


def test_a_read_allocates_no_more_than_a_tty_gives(pair: PtyPair) -> None:
    """os.read allocates the size it is asked for before it shrinks the result to what came.
    Asked for 64 KiB, every read of a port took a 64 KiB block, whose holes glibc's heap could
    not reuse for the next one once other objects sat between them (scripts/soak.py's RSS
    grew 3 MiB in 40 minutes; docs/performance.md, "Memory over hours"). A read of a line
    allocates at most what one tty read gives, 4 KiB, and the burst behind it comes whole."""
    line = b"$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47\r\n"
    with SerialSource("gps", pair.path, SerialSettings()) as source:
        fd = source.fileno()
        assert fd is not None
        pair.write(line)
        pending = 0
        while pending < len(line):
            pending = struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0" * 4))[0]
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            tracemalloc.reset_peak()
            chunk = source.read()
            peak = tracemalloc.get_traced_memory()[1] - before
        finally:
            tracemalloc.stop()
        assert chunk == line
        assert peak <= 4096 + 256, peak
        burst = bytes(range(256)) * 40  # 10 KiB: reads of at most 4 KiB, nothing lost
        pair.write(burst)
        assert read_exactly(source, len(burst)) == burst


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        (SerialSettings(), (termios.B9600, termios.CS8, 0, False)),
        (
            SerialSettings(baudrate=19200, bytesize=7, parity="E", stopbits=2),
            (termios.B19200, termios.CS7, termios.PARENB, True),
        ),
        (
            SerialSettings(baudrate=115200, bytesize=6, parity="O", stopbits=1.5),
            (termios.B115200, termios.CS6, termios.PARENB | termios.PARODD, True),
        ),
        (
            SerialSettings(baudrate=4800, bytesize=5, parity="M"),
            (termios.B4800, termios.CS5, termios.PARENB | termios.PARODD | CMSPAR, False),
        ),
        (
            SerialSettings(baudrate=57600, parity="S"),
            (termios.B57600, termios.CS8, termios.PARENB | CMSPAR, False),
        ),
    ],
)
def test_settings_reach_the_port(
    pair: PtyPair,
    mocker: MockerFixture,
    settings: SerialSettings,
    expected: tuple[int, int, int, bool],
) -> None:
    speed, csize, parity_flags, two_stop = expected
    assert pair.slave_fd is not None
    tcsetattr = mocker.spy(termios, "tcsetattr")
    with SerialSource("temp", pair.path, settings):
        iflag, _, cflag, _, ispeed, ospeed, _ = termios.tcgetattr(pair.slave_fd)
    # What the port keeps: the pty driver keeps speed, stop bits and flow control ...
    assert (ispeed, ospeed) == (speed, speed)
    assert bool(cflag & termios.CSTOPB) == two_stop
    assert not cflag & termios.CRTSCTS
    assert not iflag & (termios.IXON | termios.IXOFF)
    # ... but always runs 8 bits without parity, so those are checked in what was asked of it.
    requested = tcsetattr.call_args_list[0].args[2][2]
    assert requested & termios.CSIZE == csize
    assert requested & (termios.PARENB | termios.PARODD | CMSPAR) == parity_flags


@pytest.mark.parametrize(
    ("settings", "keys"),
    [
        (SerialSettings(), []),
        (SerialSettings(baudrate=19200, stopbits=2, rtscts=True, xonxoff=True), []),
        (SerialSettings(bytesize=7), ["bytesize"]),
        (SerialSettings(parity="E"), ["parity"]),
        (SerialSettings(bytesize=5, parity="M"), ["bytesize", "parity"]),
    ],
)
def test_settings_a_driver_changed_are_named(
    pair: PtyPair, settings: SerialSettings, keys: list[str]
) -> None:
    # The pty driver is a real driver that adjusts what it cannot do (8 bits, no parity):
    # configure its termios as pyserial would and compare what it kept.
    assert pair.slave_fd is not None
    with SerialSource("temp", pair.path, settings) as source:
        assert source.is_open
        kept = termios.tcgetattr(pair.slave_fd)
    assert line_mismatches(settings, kept) == keys


def test_flow_control_settings_reach_the_port(pair: PtyPair) -> None:
    assert pair.slave_fd is not None
    settings = SerialSettings(xonxoff=True, rtscts=True)
    with SerialSource("temp", pair.path, settings):
        iflag, _, cflag, _, _, _, _ = termios.tcgetattr(pair.slave_fd)
    assert cflag & termios.CRTSCTS
    assert iflag & termios.IXON
    assert iflag & termios.IXOFF


@pytest.mark.parametrize(
    ("changes", "key"),
    [
        ({"baudrate": -9600}, "serial.baudrate"),
        ({"baudrate": 0}, "serial.baudrate"),
        ({"baudrate": 9600.5}, "serial.baudrate"),
        ({"baudrate": 2**40}, "serial.baudrate"),  # rejected by pyserial only while opening
        ({"bytesize": 9}, "serial.bytesize"),
        ({"parity": "X"}, "serial.parity"),
        ({"stopbits": 3}, "serial.stopbits"),
        ({"timeout_s": -1.0}, "serial.timeout_s"),
        ({"rtscts": "yes"}, "serial.rtscts"),
    ],
)
def test_invalid_setting_names_sensor_and_key(
    pair: PtyPair, changes: dict[str, object], key: str
) -> None:
    settings = SerialSettings(**changes)  # type: ignore[arg-type]
    before = open_fd_count()
    source = SerialSource("boiler", pair.path, settings)
    with pytest.raises(SourceError) as info:
        source.open()
    assert type(info.value) is SourceError  # a configuration problem: retrying will not help
    assert "'boiler'" in str(info.value)
    assert key in str(info.value)
    assert not source.is_open
    source.close()
    assert open_fd_count() == before
    # nothing stays locked: a valid configuration opens the same port at once
    with SerialSource("boiler", pair.path, SerialSettings()) as again:
        assert again.is_open


# -- cannot open ------------------------------------------------------------------------------


def test_absent_device(tmp_path: Path) -> None:
    path = str(tmp_path / "ttyUSB9")
    source = SerialSource("temp", path, SerialSettings())
    with pytest.raises(SourceUnavailableError, match="ttyUSB9 does not exist"):
        source.open()
    source.close()
    assert not source.is_open


def test_dangling_link_says_where_it_points(tmp_path: Path) -> None:
    link = tmp_path / "usb-FTDI_FT232R-if00-port0"
    link.symlink_to(tmp_path / "ttyUSB7")
    source = SerialSource("temp", str(link), SerialSettings())
    with pytest.raises(SourceUnavailableError) as info:
        source.open()
    # outside the daemon (record, modbus read) nothing is told of its simulate setting
    assert str(info.value) == (
        f"sensor 'temp': {link} is a link to {tmp_path / 'ttyUSB7'}, which does not exist: its "
        "device is absent (the adapter is unplugged)"
    )
    assert source.resolved_path == str(tmp_path / "ttyUSB7")


def test_regular_file_is_not_a_character_device(tmp_path: Path) -> None:
    path = tmp_path / "ttyFAKE"
    path.write_bytes(b"")
    with pytest.raises(SourceError, match="not a character device") as info:
        SerialSource("temp", str(path), SerialSettings()).open()
    assert type(info.value) is SourceError


def test_character_device_without_terminal_is_not_a_serial_port() -> None:
    before = open_fd_count()
    with pytest.raises(SourceError, match="not a serial port") as info:
        SerialSource("temp", "/dev/null", SerialSettings()).open()
    assert type(info.value) is SourceError
    assert open_fd_count() == before


def _open_and_describe(path: str) -> str:
    source = SerialSource("temp", path, SerialSettings())
    try:
        source.open()
    except SourceError as exc:
        return f"{type(exc).__name__}: {exc}"
    finally:
        source.close()
    return "opened"


def test_permission_denied_mentions_dialout(pair: PtyPair) -> None:
    # A real EACCES from open(2): as root, the open runs in a child that switched to the
    # unprivileged user "nobody" (the pty belongs to root, mode 0600); otherwise the pty,
    # which then belongs to the test's user, is made inaccessible with chmod.
    if os.geteuid() == 0:
        outcome = run_as_user(NOBODY_UID, lambda: _open_and_describe(pair.path))
    else:
        os.chmod(pair.path, 0)
        outcome = _open_and_describe(pair.path)
    assert outcome.startswith("SourceUnavailableError: ")
    assert "permission denied" in outcome
    assert "dialout" in outcome
    assert "usermod -aG" in outcome


class _RulesetAttr(ctypes.Structure):
    _fields_ = [("handled_access_fs", ctypes.c_uint64)]


class _PathBeneathAttr(ctypes.Structure):
    _pack_ = 1
    _fields_ = [("allowed_access", ctypes.c_uint64), ("parent_fd", ctypes.c_int32)]


_LANDLOCK_CREATE_RULESET, _LANDLOCK_ADD_RULE, _LANDLOCK_RESTRICT_SELF = 444, 445, 446
_LANDLOCK_WRITE_FILE, _LANDLOCK_READ_FILE = 1 << 1, 1 << 2
_PR_SET_NO_NEW_PRIVS = 38


def run_refused_writes(func: Callable[[], str]) -> str:
    """Run ``func`` in a forked child that a Landlock ruleset lets read files but open none
    for writing, whatever their mode: a policy's refusal, as the device cgroup of a unit's
    ``DeviceAllow=`` refuses a device. Returns its result."""
    libc = ctypes.CDLL(None, use_errno=True)
    abi = libc.syscall(_LANDLOCK_CREATE_RULESET, None, 0, 1)  # 1: ask for the ABI version
    assert abi >= 1, "the kernel has no Landlock (CONFIG_SECURITY_LANDLOCK, lsm=landlock)"

    def refuse_writes() -> None:
        handled = _RulesetAttr(_LANDLOCK_READ_FILE | _LANDLOCK_WRITE_FILE)
        ruleset = libc.syscall(
            _LANDLOCK_CREATE_RULESET, ctypes.byref(handled), ctypes.sizeof(handled), 0
        )
        root = os.open("/", os.O_PATH)
        reads = _PathBeneathAttr(_LANDLOCK_READ_FILE, root)
        steps = (
            ruleset,
            libc.syscall(_LANDLOCK_ADD_RULE, ruleset, 1, ctypes.byref(reads), 0),
            libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0),
            libc.syscall(_LANDLOCK_RESTRICT_SELF, ruleset, 0),
        )
        if min(steps) < 0:
            raise OSError(ctypes.get_errno(), "landlock failed")

    return run_in_child(refuse_writes, func)


def test_a_device_refused_by_a_policy_despite_its_mode_names_device_allow(
    pair: PtyPair,
) -> None:
    """Under sensord.service a serial driver whose device group the unit's DeviceAllow= does
    not list (an SC16IS752 HAT's ttySC, a Jetson's ttyTHS) is refused although its mode lets
    the service's user in: the hint names the DeviceAllow= line to add, not usermod."""
    os.chmod(pair.path, 0o666)
    outcome = run_refused_writes(lambda: _open_and_describe(pair.path))
    assert outcome.startswith("SourceUnavailableError: "), outcome
    assert f"{pair.path}: permission denied; its mode lets user " in outcome
    assert "add DeviceAllow=char-pts rw with 'systemctl edit sensord'" in outcome
    assert "usermod" not in outcome


def test_exclusive_port_held_by_another_source(pair: PtyPair) -> None:
    first = SerialSource("temp", pair.path, SerialSettings())
    second = SerialSource("humidity", pair.path, SerialSettings())
    with first:
        with pytest.raises(SourceUnavailableError) as info:
            second.open()
        assert str(info.value).startswith(
            f"sensor 'humidity': {pair.path} is already open in this process "
            f"(pid {os.getpid()}): another sensor of the configuration reads this device"
        )
        assert not second.is_open
        # the holder is undisturbed
        pair.write(b"ok")
        assert read_some(first) == b"ok"
    with second:
        assert second.is_open


def test_exclusive_port_held_by_another_process(pair: PtyPair) -> None:
    with held_by_subprocess(pair.path, flock=True) as holder:
        source = SerialSource("temp", pair.path, SerialSettings())
        with pytest.raises(SourceUnavailableError, match="held by another process") as info:
            source.open()
        assert f"pid {holder.pid}" in str(info.value)
    with source:
        assert source.is_open


def _open_and_tell(path: str) -> str:
    """Open ``path`` and return whether the failure's full message was already found out
    when it was raised ("lazy" or "eager"), then the message."""
    source = SerialSource("temp", path, SerialSettings())
    try:
        source.open()
    except SourceError as exc:
        return f"{'eager' if exc.described else 'lazy'}: {exc}"
    finally:
        source.close()
    return "opened"


@pytest.mark.skipif(os.geteuid() != 0, reason="exclusive mode does not refuse root")
def test_a_port_in_exclusive_mode_is_searched_for_its_holder_within_a_time_limit(
    pair: PtyPair, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A holder in exclusive mode (TIOCEXCL, as gpsd holds a GPS) and without a lock is
    found only by a search of every process's open files: it runs when the message is asked
    for, not when the open fails, and stops after HOLDER_SEARCH_S, saying so. The open is
    made as nobody (exclusive mode does not refuse root), who cannot see root's holder."""
    os.chmod(pair.path, 0o666)
    codecs.lookup("ascii")  # /proc/locks is read as ascii: nobody may not import the codec
    with held_by_subprocess(pair.path, tiocexcl=True):
        searched = run_as_user(NOBODY_UID, lambda: _open_and_tell(pair.path))
        monkeypatch.setattr(serial_errors, "HOLDER_SEARCH_S", 0.0)
        cut = run_as_user(NOBODY_UID, lambda: _open_and_tell(pair.path))
    assert searched.startswith(
        f"lazy: sensor 'temp': {pair.path} is held by another process that this user cannot "
        "see (a root daemon"
    ), searched
    assert cut == (
        f"lazy: sensor 'temp': {pair.path} is held by another process (holders not all "
        f"listed: the search of open files stopped after 0 s; `sudo fuser -v {pair.path}` "
        "names them)"
    )


def test_non_exclusive_source_opens_beside_an_exclusive_one(pair: PtyPair) -> None:
    with (
        SerialSource("a", pair.path, SerialSettings()) as first,
        SerialSource("b", pair.path, SerialSettings(exclusive=False)) as second,
    ):
        assert first.is_open
        assert second.is_open


# -- unplug and replug ------------------------------------------------------------------------


def test_unplug_makes_read_raise_broken(pair: PtyPair) -> None:
    with SerialSource("temp", pair.path, SerialSettings()) as source:
        pair.write(b"1.0\n")
        assert read_exactly(source, 4) == b"1.0\n"
        pair.close_master()
        with pytest.raises(SourceBrokenError, match="'temp'"):
            read_some(source)


def test_write_after_unplug_raises_broken(pair: PtyPair) -> None:
    with SerialSource("temp", pair.path, SerialSettings()) as source:
        pair.close_master()
        with pytest.raises(SourceBrokenError):
            source.write(b"READ?\r\n")


def test_replug_behind_the_same_link(tmp_path: Path) -> None:
    with symlinked_pty(tmp_path) as linked:
        source = SerialSource("temp", str(linked.link), SerialSettings())
        first_path = linked.pty.path
        with source:
            assert source.resolved_path == first_path
            linked.pty.write(b"a")
            assert read_some(source) == b"a"
            linked.unplug()
            with pytest.raises(SourceBrokenError):
                read_some(source)
        new = linked.replug()
        assert new.path != first_path
        with source:
            assert source.resolved_path == new.path
            new.write(b"b")
            assert read_some(source) == b"b"


def test_open_close_unplug_cycles_leak_no_descriptors() -> None:
    def cycle() -> None:
        with PtyPair() as p:
            source = SerialSource("temp", p.path, SerialSettings())
            source.open()
            p.write(b"x")
            assert read_some(source) == b"x"
            p.close_master()
            with pytest.raises(SourceBrokenError):
                read_some(source)
            source.close()
            source.close()

    cycle()  # imports and lazy initialisation happen outside the measurement
    before = open_fd_count()
    for _ in range(100):
        cycle()
    assert open_fd_count() == before


def test_an_open_port_holds_one_descriptor(pair: PtyPair) -> None:
    """A device or pty port costs the process one descriptor, so a host's ports fit its
    open-files limit (RLIMIT_NOFILE, LimitNOFILE=; 1024 by default) with room to spare:
    pyserial's open makes two pipes besides (four descriptors) for a cancel that the reader
    never uses. Reading, writing, a hang-up and the close work as before."""
    source = SerialSource("one", pair.path, SerialSettings())
    before = open_fd_count()
    source.open()
    try:
        assert open_fd_count() - before == 1
        pair.write(b"1.5\n")
        assert read_exactly(source, 4) == b"1.5\n"
        source.write(b"req")
        assert pair.read(3) == b"req"
        pair.close_master()
        with pytest.raises(SourceBrokenError):
            read_some(source)
    finally:
        source.close()
    assert open_fd_count() == before - 1  # the pty's master, closed by the unplug


def test_an_open_at_the_open_files_limit_says_to_raise_it(pair: PtyPair) -> None:
    """An open that fails because the process has as many descriptors open as RLIMIT_NOFILE
    allows names that limit and LimitNOFILE=, not a device that seems to be missing or
    broken; it stays a failure to retry (the descriptors may come back)."""
    source = SerialSource("one", pair.path, SerialSettings())
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    in_use = {int(fd) for fd in os.listdir("/proc/self/fd")}
    limit = min(set(range(len(in_use) + 1)) - in_use)  # every descriptor below it is open
    resource.setrlimit(resource.RLIMIT_NOFILE, (limit, hard))
    try:
        with pytest.raises(SourceUnavailableError) as failure:
            source.open()
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    why = str(failure.value)
    assert pair.path in why
    assert f"limit of {limit} open files" in why
    assert "LimitNOFILE=" in why
    source.open()
    source.close()


def test_failed_opens_leak_no_descriptors(pair: PtyPair, tmp_path: Path) -> None:
    holder = SerialSource("holder", pair.path, SerialSettings())
    holder.open()
    try:
        before = open_fd_count()
        for _ in range(50):
            for source in (
                SerialSource("busy", pair.path, SerialSettings()),
                SerialSource("gone", str(tmp_path / "ttyUSB0"), SerialSettings()),
                SerialSource("bad", pair.path, SerialSettings(bytesize=4)),
            ):
                with pytest.raises(SourceError):
                    source.open()
                source.close()
        assert open_fd_count() == before
    finally:
        holder.close()


# -- socket:// --------------------------------------------------------------------------------


def test_socket_url_through_a_tcp_relay(pair: PtyPair) -> None:
    with TcpPtyRelay(pair) as relay:
        source = SerialSource("remote", relay.url, SerialSettings())
        with source:
            fd = source.fileno()
            assert fd is not None
            assert not os.get_blocking(fd)
            assert source.resolved_path is None
            pair.write(b"7.25\n")
            assert read_exactly(source, 5) == b"7.25\n"
            source.write(b"READ?\r\n")
            assert pair.read(7) == b"READ?\r\n"
            pair.close_master()  # the relay loses its port and hangs up
            with pytest.raises(SourceBrokenError, match="hung up"):
                read_exactly(source, 1)
            started = time.monotonic()
        source.close()
        # pyserial's own close would sleep 0.3 s; the reader thread must not stall
        assert time.monotonic() - started < 0.25


#: A serial server (another process, so that it runs while this one's interpreter is held)
#: that sends a frame on every connection as soon as it accepts it, then "s" on its stdout.
_GREETER = """
import os, socket
listener = socket.create_server(("127.0.0.1", 0))
os.write(1, b"%5d" % listener.getsockname()[1])
kept = []
while True:
    connection, _ = listener.accept()
    connection.sendall(b"21.5\\n")
    os.write(1, b"s")
    kept.append(connection)
"""


class _PollFd(ctypes.Structure):
    _fields_ = [("fd", ctypes.c_int), ("events", ctypes.c_short), ("revents", ctypes.c_short)]


#: libc called with the interpreter held: its calls do not let another thread run meanwhile.
_LIBC_HOLDING = ctypes.PyDLL(None)


@contextmanager
def interpreter_held_until_readable(fd: int, timeout_s: float = 5.0) -> Iterator[None]:
    """A thread keeps this interpreter busy until ``fd`` is readable (checked without letting
    go of it), as the daemon's reader does under load: meanwhile, another thread whose system
    call returns waits the switch interval (here 50 ms) to run on."""
    entry = _PollFd(fd, select.POLLIN, 0)
    deadline = time.monotonic() + timeout_s
    interval = sys.getswitchinterval()

    def spin() -> None:
        while _LIBC_HOLDING.poll(ctypes.byref(entry), 1, 0) == 0 and time.monotonic() < deadline:
            pass

    spinner = threading.Thread(target=spin)
    sys.setswitchinterval(0.05)
    spinner.start()
    try:
        yield
    finally:
        spinner.join()
        sys.setswitchinterval(interval)


def test_socket_url_keeps_what_the_server_sent_on_connect() -> None:
    """pyserial's open() drops what the connection holds when it returns: a frame that the
    server sent on connect and that came before then must still be read."""
    server = popen([sys.executable, "-c", _GREETER], stdout=subprocess.PIPE)
    try:
        assert server.stdout is not None
        sent = server.stdout.fileno()
        port = int(os.read(sent, 5))
        source = SerialSource("remote", f"socket://127.0.0.1:{port}", SerialSettings())
        # the opening thread may still run on before the frame came (1 connection in 5
        # when measured): five connections
        for _ in range(5):
            with interpreter_held_until_readable(sent):
                source.open()
            with source:
                assert os.read(sent, 1) == b"s"
                assert read_exactly(source, 5) == b"21.5\n"
    finally:
        server.kill()
        server.wait()


def test_socket_url_with_nobody_listening_is_unavailable() -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    source = SerialSource("remote", f"socket://127.0.0.1:{port}", SerialSettings())
    with pytest.raises(SourceUnavailableError, match="cannot open"):
        source.open()
    source.close()


def test_malformed_socket_url_is_a_configuration_error() -> None:
    with pytest.raises(SourceError, match="invalid port URL") as info:
        SerialSource("remote", "socket://127.0.0.1", SerialSettings()).open()
    assert type(info.value) is SourceError


def test_unknown_url_scheme_is_a_configuration_error() -> None:
    with pytest.raises(SourceError, match="unsupported port URL") as info:
        SerialSource("remote", "nosuch://x", SerialSettings()).open()
    assert type(info.value) is SourceError


# -- no descriptor (pyserial's loop://, like rfc2217://) --------------------------------------


def test_url_without_descriptor_reads_through_pyserial() -> None:
    source = SerialSource("loop", "loop://", SerialSettings(timeout_s=0.05))
    with source:
        assert source.fileno() is None
        assert source.next_due() is None
        source.write(b"12.5\n")
        assert source.read() == b"12.5\n"
        started = time.monotonic()
        assert source.read() == b""
        assert 0.04 <= time.monotonic() - started < 1.0
    with pytest.raises(SourceBrokenError, match="not open"):
        source.read()
    with pytest.raises(SourceBrokenError, match="not open"):
        source.write(b"x")


# -- closing, exclusive mode, network ports ---------------------------------------------------


def test_closing_drops_what_the_device_never_read(pair: PtyPair) -> None:
    """Output still queued when the port closes is flushed first: a device that stopped
    reading would otherwise make close() wait the driver's closing time on the loop. The
    device here reads nothing until the port has filled every buffer on the way to it and
    closed; without the flush it then receives every byte written."""
    written = 0
    with SerialSource("p", pair.path, SerialSettings()) as source:
        while source.try_write(b"x" * 1024):
            written += 1024
    assert pair.master_fd is not None
    received = 0
    while wait_readable(pair.master_fd, 0.2):
        received += len(os.read(pair.master_fd, 65536))
    assert received < written, (received, written)


def _try_open(path: str) -> str:
    fd = os.open(path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    os.close(fd)
    return "opened"


def test_an_exclusive_device_keeps_out_programs_that_take_no_lock(
    pair: PtyPair, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TIOCEXCL on a device: the kernel refuses another open of the port (a terminal program,
    a prober) while sensord has it, not only other flock users, and allows it again after
    the close; without exclusive it does not refuse. The pty stands in for a device (this
    machine has no other tty): its major number is taken for a device's."""
    monkeypatch.setattr(serial_port, "PTY_SLAVE_MAJORS", range(0))
    os.chmod(pair.path, 0o666)
    with SerialSource("excl", pair.path, SerialSettings()):
        refused = run_as_user(NOBODY_UID, lambda: _try_open(pair.path))
    assert "Device or resource busy" in refused
    assert run_as_user(NOBODY_UID, lambda: _try_open(pair.path)) == "opened"
    with SerialSource("shared", pair.path, SerialSettings(exclusive=False)):
        assert run_as_user(NOBODY_UID, lambda: _try_open(pair.path)) == "opened"


def test_a_pseudo_terminal_gets_the_lock_but_no_exclusive_mode(pair: PtyPair) -> None:
    """Exclusive mode would outlive a sensord killed while the pty's other side stays open,
    and lock out its restart: a pty is locked (another sensord is refused) but not put in
    exclusive mode (a program that takes no lock may open it)."""
    os.chmod(pair.path, 0o666)
    with SerialSource("excl", pair.path, SerialSettings()):
        assert run_as_user(NOBODY_UID, lambda: _try_open(pair.path)) == "opened"
        with pytest.raises(SourceUnavailableError, match="already open in this process"):
            SerialSource("second", pair.path, SerialSettings()).open()


def _keepalive(sock: socket.socket) -> tuple[int, ...]:
    return (
        sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
        sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
        sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL),
        sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT),
        sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT),
    )


#: keepalive on, first probe after 10 s of silence, 3 probes 5 s apart, unacknowledged data
#: given up after 25 s: a serial server gone without a FIN is noticed within about 25 s
KEEPALIVE = (1, 10, 5, 3, 25_000)


def test_a_socket_port_probes_a_silent_peer_with_tcp_keepalive(pair: PtyPair) -> None:
    with TcpPtyRelay(pair) as relay, SerialSource("net", relay.url, SerialSettings()) as source:
        fd = source.fileno()
        assert fd is not None
        with socket.socket(fileno=os.dup(fd)) as sock:
            assert _keepalive(sock) == KEEPALIVE


def test_an_rfc2217_port_opens_reads_and_closes_at_once(pair: PtyPair) -> None:
    """pyserial's rfc2217 port refuses a write timeout and sleeps 0.3 s in close(): the port
    opens, reads what the device sends through a real RFC 2217 server, keeps its connection
    alive, and closes without the sleep (it runs on the reader loop)."""
    with Rfc2217Server(pair) as server:
        source = SerialSource("remote", server.url, SerialSettings(timeout_s=0.2))
        source.open()
        try:
            assert source.fileno() is None  # read by a thread of its own
            pair.write(b"21.5\n")
            data = b""
            deadline = time.monotonic() + 3.0
            while not data.endswith(b"\n") and time.monotonic() < deadline:
                data += source.read()
            assert data == b"21.5\n"
            source.write(b"poll\n")
            assert pair.read(5) == b"poll\n"
            sock = getattr(source._port, "_socket", None)  # pyserial's
            assert isinstance(sock, socket.socket)
            assert _keepalive(sock) == KEEPALIVE
        finally:
            started = time.monotonic()
            source.close()
            took = time.monotonic() - started
        assert took < 0.2


def test_a_server_that_does_not_speak_rfc2217_is_named() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        url = f"rfc2217://127.0.0.1:{listener.getsockname()[1]}?timeout=0.3"
        source = SerialSource("remote", url, SerialSettings())
        with pytest.raises(SourceUnavailableError, match="does not speak RFC 2217") as raised:
            source.open()
    assert "socket://HOST:PORT" in str(raised.value)
