"""The pyserial-backed source: device paths, /dev/serial/by-id links, ``socket://`` and
``rfc2217://`` URLs (and any other URL pyserial's ``serial_for_url`` knows, such as ``loop://``),
and ``modbus-tcp://``, which pyserial opens as the ``socket://`` URL of the same host and port
(the source's ``url`` and its errors keep the URL as configured).

pyserial opens and configures the port; reading bypasses pyserial wherever there is a file
descriptor to select on:

* device paths and pseudo-terminals: the descriptor pyserial opened (``O_NONBLOCK``). Its
  termios ``VMIN`` is set to 1 after configuration, so that a non-blocking read with nothing
  to read fails with ``EAGAIN`` instead of returning ``b""`` (pyserial leaves ``VMIN`` at 0,
  under which an idle tty and a hung-up tty both read as ``b""``);
* ``socket://``: the connected TCP socket, non-blocking; what the server sent before the
  open returned (a frame or banner sent on connect) is read like the rest, where pyserial's
  own open would drop it;
  a serial server's refusal of the connection (a line saying why, then its close: ser2net's
  "Port already in use") fails the open, quoting the line, so the sensor stays ``down`` and
  backs off, with no frame rejected and no moment ``up``, at every attempt; every byte that
  is no refusal is read as the device's (``sensord.sources.serial_refusals``);
* everything else (``rfc2217://``, ``loop://``): no descriptor; ``read()`` uses pyserial's
  blocking ``read`` with the configured timeout, from a thread of its own.

On a descriptor, an empty read means end of file: the device hung up (USB unplug, the master
of a pty closed, the TCP peer closed). ``read()`` raises ``SourceBrokenError`` for it, as for
any ``OSError`` (Linux reports a closed pty master as ``EIO`` or as end of file).

A TCP connection (``socket://``, ``rfc2217://``) whose peer vanished without closing it (a
serial server that lost power or its cable) would otherwise stay open and silent for ever:
TCP keepalive probes it after :data:`KEEPALIVE_IDLE_S` of silence, and the kernel ends it
(a read error, then a reopen with backoff) when :data:`KEEPALIVE_PROBES` probes
:data:`KEEPALIVE_INTERVAL_S` apart, or a write, go unanswered.

With ``serial.exclusive`` (the default) a device is locked with ``flock`` (pyserial's
``exclusive``, which keeps other sensord processes and well-behaved tools out) and put in
exclusive mode with ``TIOCEXCL``, which makes the kernel refuse any other open of it
(terminal programs, ModemManager's probing) except by root. A pseudo-terminal gets the lock
only: its exclusive mode would outlive a sensord that was killed for as long as the other
side of the pty stays open (socat, ``sensord simulate``), and no user but root could open it
again to clear it.

Closing a device drops what is still waiting in its output buffer first (``tcflush``): a
device that stopped reading (flow control held, a hung USB firmware) would otherwise make the
close wait the driver's closing time (30 s by default) on the reader thread.
"""

from __future__ import annotations

import errno
import fcntl
import os
import resource
import select
import socket
import stat
import struct
import termios
import threading
import time
from collections.abc import Sequence
from typing import Protocol, cast

import serial
import structlog
from serial.rfc2217 import Serial as Rfc2217Serial
from serial.rs485 import RS485Settings
from serial.serialposix import Serial as PosixSerial
from serial.urlhandler.protocol_socket import Serial as SocketSerial

from sensord.address import MODBUS_TCP_SCHEME, PortAddress, parse_address
from sensord.errors import (
    SourceBrokenError,
    SourceError,
    SourceRefusedError,
    SourceUnavailableError,
)
from sensord.log import RateLimiter
from sensord.ports import (
    PTY_SLAVE_MAJORS,
    dangling_link,
    file_kind,
    renumbered_hint,
)
from sensord.serial_settings import SerialSettings
from sensord.sources.base import Source
from sensord.sources.echo import LocalEcho
from sensord.sources.serial_errors import (
    NEGOTIATED,
    RESERVED_FDS,
    open_error,
    out_of_descriptors_text,
)
from sensord.sources.serial_line import (
    SETTING_ATTRIBUTES,
    keys_text,
    line_mismatches,
    setting_problem,
)
from sensord.sources.serial_pyserial import (
    Rfc2217Port,
    SocketPort,
    close_port,
    drop_abort_pipes,
    rfc2217_text,
)
from sensord.sources.serial_refusals import (
    SERVER_TEXT_CHARS,
    refusal_meaning,
    refusal_wait_s,
    refused_at_once,
    text_line,
)
from sensord.uart import read_icount

__all__ = [
    "READ_CHUNK_BYTES",
    "SerialSource",
]

log = structlog.get_logger(__name__)


#: Upper bound of one ``read()``: what one read of a tty gives at most (the kernel's line
#: discipline buffers 4 KiB). ``os.read`` allocates the size it is asked for and then shrinks
#: the bytes object to what came, so a larger bound costs a heap block of that size per read
#: for nothing; at 64 KiB the blocks left glibc's heap in holes too small for the next one,
#: and the daemon's memory grew by about 2 MiB an hour (docs/performance.md, "Memory over
#: hours"). A socket with more waiting is read again at once: a full read makes the loop poll
#: without waiting out its batch interval (``BUSY_READ_BYTES``).
READ_CHUNK_BYTES = 4096

#: TCP keepalive of network ports: the first probe after this much silence, then one every
#: ``KEEPALIVE_INTERVAL_S``; after ``KEEPALIVE_PROBES`` unanswered the connection is dead.
KEEPALIVE_IDLE_S = 10
KEEPALIVE_INTERVAL_S = 5
KEEPALIVE_PROBES = 3

#: Schemes that pyserial opens as a ``socket://`` port.
_SOCKET_SCHEMES = frozenset({"socket", MODBUS_TCP_SCHEME})


def _descriptors_left() -> int | None:
    """How many more descriptors this process may open (RLIMIT_NOFILE less those open), or
    None when it cannot tell."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return None
    try:
        in_use = len(os.listdir("/proc/self/fd")) - 1  # less the one listdir read it with
    except OSError as exc:
        return 0 if exc.errno == errno.EMFILE else None
    return soft - in_use


def _peer_of(sock: socket.socket) -> tuple[str, int] | None:
    """The address and port ``sock`` is connected to; None when it cannot tell (the peer
    reset it already)."""
    try:
        address = sock.getpeername()
    except OSError:
        return None
    return str(address[0]), int(address[1])


def _keep_alive(sock: socket.socket) -> None:
    """Probe a quiet TCP connection and end it when its peer is gone (see the module
    docstring); also bounds how long written data may stay unacknowledged."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, KEEPALIVE_IDLE_S)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, KEEPALIVE_INTERVAL_S)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, KEEPALIVE_PROBES)
    limit_ms = 1000 * (KEEPALIVE_IDLE_S + KEEPALIVE_INTERVAL_S * KEEPALIVE_PROBES)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, limit_ms)


#: (sensor, pty) pairs whose open at 8N was logged: once each a process, not at every reopen.
_SAID_8N: set[tuple[str, str]] = set()


def _reopen_pty_at_8n1(port: serial.Serial, target: str, exc: termios.error) -> bool:
    """Open ``port`` again at 8 bits without parity when ``target`` is a pseudo-terminal whose
    open ``exc`` refused for its other character size or parity; True when it opened.

    The pty driver runs 8 bits without parity whatever is asked (there is no line), and
    glibc's ``tcsetattr`` refuses with EINVAL a request the driver did not take once the pty
    already runs the request's other settings: every open of a pty after the first (a
    reload, a reconnect, a restart of the daemon, ``sensord modbus read`` of a pty that
    ``sensord simulate`` plays). The bytes are the same at 8N as at what was asked.
    """
    if exc.args[:1] != (errno.EINVAL,):
        return False
    if port.bytesize == serial.EIGHTBITS and port.parity == serial.PARITY_NONE:
        return False
    try:
        if os.major(os.stat(target).st_rdev) not in PTY_SLAVE_MAJORS:
            return False
    except OSError:
        return False
    port.bytesize = serial.EIGHTBITS
    port.parity = serial.PARITY_NONE
    port.open()
    return True


def _wait_writable(fd: int, timeout_s: float) -> bool:
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return bool(poller.poll(max(0, int(timeout_s * 1000))))


class _TimedPort(Protocol):
    """A pyserial port's read timeout as every port of pyserial keeps it, which its stubs
    leave out."""

    _timeout: float | None


class SerialSource(Source):
    """One sensor's serial port, opened through pyserial (see the module docstring)."""

    def __init__(
        self,
        sensor: str,
        url: str,
        settings: SerialSettings,
        *,
        connected_before: bool = False,
        simulate: str | None = None,
        bus_devices: Sequence[str] = (),
    ) -> None:
        super().__init__(sensor, url)
        self.settings = settings
        #: the sensor's ``simulate`` (None outside the daemon): what the daemon does while
        #: its device is absent, told with a dangling link; for a Modbus bus's port, the
        #: names of the bus's devices, which that tells of
        self._simulate = simulate
        self._bus_devices = tuple(bus_devices)
        #: a connection to this network port was made before in this run (a refusal is then
        #: no absent server, see ``serial_errors.network_hint``)
        self._connected_before = connected_before
        # serial_for_url's declared type; the object may be any pyserial port class.
        self._port: serial.Serial | None = None
        #: the port while its open() runs (see ``abort_open``)
        self._opening: serial.Serial | None = None
        self._fd: int | None = None
        self._resolved_path: str | None = None
        self._display = url
        self._address: PortAddress | None = None
        self._address_problem = ""
        #: on a network port, what the descriptor gave since the open while that is a line's
        #: length at most (``SERVER_TEXT_CHARS``); None once it gave more, and on a
        #: device (see ``_hung_up_text``)
        self._head: bytes | None = None
        #: how long the last open's connect took (network ports)
        self._connect_s = 0.0
        #: set by ``abort_open``: an open on another thread stops waiting
        self._open_aborted = threading.Event()
        #: the echo owed for what was written, with ``serial.local_echo``
        self.echo: LocalEcho | None = LocalEcho() if settings.local_echo else None
        self._echo_log = RateLimiter(60.0)
        try:
            self._address = parse_address(url)
        except ValueError as exc:
            self._address_problem = str(exc)
        #: another process that has this device open too, found after the open
        #: (``sensord.shared_port``): the warning's text, for ``/status``; None: none found
        self.shared_hint: str | None = None

    # -- properties ----------------------------------------------------------------------------
    @property
    def is_device(self) -> bool:
        """The URL is a device path (or a by-id link), not a network or other URL."""
        return self._address is not None and self._address.is_device

    @property
    def display(self) -> str:
        """The port as errors name it: the configured path, with the device it resolved to at
        the latest open (``LINK -> /dev/ttyUSB0``)."""
        return self._display

    @property
    def resolved_path(self) -> str | None:
        """The device behind a device-path URL at the latest open attempt (a by-id link is
        resolved again on every open: after a replug it may point to a new ttyUSBn). None for
        ``scheme://`` URLs and before the first open."""
        return self._resolved_path

    # -- lifecycle -----------------------------------------------------------------------------
    def abort_open(self) -> None:
        """Make an ``rfc2217://`` open in progress on another thread raise within 50 ms, where
        pyserial would wait up to 3 s for each step the server leaves unanswered; a
        ``socket://`` open stops waiting for a serial server's refusal within 50 ms."""
        self._open_aborted.set()
        port = self._opening
        if isinstance(port, Rfc2217Port):
            port.abort_open()

    def _open(self) -> None:
        if self._address is None:
            raise SourceError(
                self.sensor, f"{self.url}: unsupported port URL: {self._address_problem}"
            )
        left = _descriptors_left()
        if left is not None and left <= RESERVED_FDS:
            raise SourceUnavailableError(
                self.sensor, out_of_descriptors_text(self._display, errno.EMFILE)
            )
        if self._address.is_device:
            target = self._resolve()
        else:
            target = self._address.serial_url  # modbus-tcp:// is a plain socket:// to pyserial
            self._display = self.url  # errors name the URL as configured
        port = self._configured_port(target)
        self._open_aborted.clear()
        try:
            try:
                self._opening = port
                started = time.monotonic()
                try:
                    port.open()
                except termios.error as exc:
                    asked = f"{port.bytesize}{port.parity}"
                    if not _reopen_pty_at_8n1(port, target, exc):
                        raise
                    if (self.sensor, target) not in _SAID_8N:
                        _SAID_8N.add((self.sensor, target))
                        log.info(
                            "pty_opened_at_8n",
                            sensor=self.sensor,
                            device=target,
                            asked=asked,
                            note="a pseudo-terminal runs 8 bits without parity whatever is asked",
                        )
                self._connect_s = time.monotonic() - started
            except Exception as exc:
                said = rfc2217_text(port) if isinstance(port, Rfc2217Serial) else ""
                meaning = refusal_meaning(said)
                if meaning is not None:
                    raise SourceRefusedError(
                        self.sensor,
                        f"{self._display}: the serial server refused the connection: {said!r} "
                        f"({meaning})",
                    ) from exc
                if said:
                    raise SourceUnavailableError(
                        self.sensor, f"{self._display}: the server closed the connection: {said!r}"
                    ) from exc
                if isinstance(port, Rfc2217Port) and port.ended_by_server:
                    # pyserial words it as a failed write (EPIPE) or as a negotiation left
                    # unanswered, which a connection that ended never answers
                    raise SourceUnavailableError(
                        self.sensor,
                        f"{self._display}: the server ended the connection during the RFC 2217 "
                        "negotiation, saying nothing (a serial server that is stopping or "
                        "restarting, or that serves no more clients)",
                    ) from exc
                raise self._open_error(exc, target) from exc
            finally:
                self._opening = None
            try:
                self._fd = self._prepare_fd(port)
            except (OSError, termios.error) as exc:
                raise SourceUnavailableError(
                    self.sensor, f"cannot set up {self._display}: {exc}"
                ) from exc
            self._port = port
            if self._address.kind == "network":
                self._head = b""
            if isinstance(port, Rfc2217Serial):
                NEGOTIATED.add(self.url)
        except BaseException:
            self._fd = None
            self._port = None
            close_port(port)
            raise
        log.debug("serial_port_opened", sensor=self.sensor, url=self.url, device=target)

    def _close(self, was_open: bool) -> None:
        port, self._port, self._fd = self._port, None, None
        self.peer = None
        self._head = None
        if self.echo is not None:
            self.echo.reset()
        if port is not None:
            close_port(port)
            log.debug("serial_port_closed", sensor=self.sensor, url=self.url)

    def _resolve(self) -> str:
        """Resolve links in the configured path and check that it names a character device."""
        url = self.url
        real = os.path.realpath(url)
        self._resolved_path = real
        self._display = url if real == url else f"{url} -> {real}"
        try:
            st = os.stat(real)
        except FileNotFoundError:
            if os.path.islink(url):
                raise SourceUnavailableError(
                    self.sensor, dangling_link(url, real, self._simulate, self._bus_devices)
                ) from None
            raise SourceUnavailableError(
                self.sensor, f"{url} does not exist{renumbered_hint(url)}"
            ) from None
        except OSError as exc:
            raise self._open_error(exc, real) from exc
        if not stat.S_ISCHR(st.st_mode):
            raise SourceError(
                self.sensor,
                f"{self._display} is not a character device (it is {file_kind(st.st_mode)})",
            )
        return real

    def _configured_port(self, target: str) -> serial.Serial:
        """A closed pyserial port for ``target`` with every setting applied."""
        try:
            scheme = "" if self._address is None else self._address.scheme
            if scheme in _SOCKET_SCHEMES or scheme == "rfc2217":
                own_port = SocketPort() if scheme in _SOCKET_SCHEMES else Rfc2217Port()
                own_port.port = target
                # typed as serial_for_url's ports are (see ``self._port``)
                port = cast("serial.Serial", own_port)
            else:
                port = serial.serial_for_url(target, do_not_open=True)
        except (ValueError, serial.SerialException) as exc:
            raise SourceError(self.sensor, f"{self.url}: unsupported port URL: {exc}") from exc
        settings = self.settings
        for key, attribute in SETTING_ATTRIBUTES:
            value = getattr(settings, key)
            problem = setting_problem(key, value)
            if problem is None:
                try:
                    setattr(port, attribute, value)
                except (ValueError, TypeError) as exc:
                    problem = f"{value!r} is not accepted: {exc}"
            if problem is not None:
                raise SourceError(self.sensor, f"serial.{key}: {problem}")
        if not isinstance(port, Rfc2217Serial):  # which refuses any write timeout
            port.write_timeout = settings.timeout_s
        if settings.rs485:
            port.rs485_mode = RS485Settings(
                rts_level_for_tx=settings.rs485_rts_level_for_tx,
                rts_level_for_rx=settings.rs485_rts_level_for_rx,
                delay_before_tx=settings.rs485_delay_before_tx_s,
                delay_before_rx=settings.rs485_delay_before_rx_s,
            )
        return port

    def _open_error(self, exc: BaseException, target: str) -> SourceError:
        """Turn a failure of opening ``target`` into the matching SourceError
        (``serial_errors.open_error``)."""
        return open_error(
            exc,
            target,
            sensor=self.sensor,
            display=self._display,
            url=self.url,
            address=self._address,
            settings=self.settings,
            connected_before=self._connected_before,
        )

    def _prepare_fd(self, port: serial.Serial) -> int | None:
        """The selectable descriptor of an open ``port`` (made non-blocking), or None.

        A device (not a pseudo-terminal: the pty driver always runs 8 bits without parity, as
        there is no line) must show the configured line settings, or SourceError names them.
        """
        if isinstance(port, PosixSerial):
            fd = port.fd
            if fd is None:
                return None
            drop_abort_pipes(port)
            os.set_blocking(fd, False)
            attributes = termios.tcgetattr(fd)
            device = os.major(os.fstat(fd).st_rdev) not in PTY_SLAVE_MAJORS
            if device:
                keys = line_mismatches(self.settings, attributes)
                if keys:
                    raise SourceError(
                        self.sensor,
                        f"{keys_text(self.settings, keys)}: not supported by {self._display} "
                        "(the driver changed it)",
                    )
            attributes[6][termios.VMIN] = 1
            attributes[6][termios.VTIME] = 0
            if self.settings.hupcl:
                attributes[2] |= termios.HUPCL
            else:
                attributes[2] &= ~termios.HUPCL
            termios.tcsetattr(fd, termios.TCSANOW, attributes)
            if self.settings.exclusive and device:
                fcntl.ioctl(fd, termios.TIOCEXCL)
            return fd
        if isinstance(port, SocketSerial):
            fd = port.fileno()
            os.set_blocking(fd, False)
            sock = port._socket  # pyserial keeps its socket private
            wait_s = refusal_wait_s(self._connect_s)
            gateway = self._address is not None and self._address.scheme == MODBUS_TCP_SCHEME
            refused = refused_at_once(sock, wait_s, self._open_aborted, gateway)
            if refused is not None:
                error, why = refused
                raise error(self.sensor, f"{self._display}: {why}")
            _keep_alive(sock)
            self.peer = _peer_of(sock)
            return fd
        if isinstance(port, Rfc2217Serial):
            sock = getattr(port, "_socket", None)
            if sock is not None:
                _keep_alive(sock)
                self.peer = _peer_of(sock)
        return None

    # -- I/O -----------------------------------------------------------------------------------
    def line_counters(self) -> dict[str, int] | None:
        """TIOCGICOUNT on a device path's descriptor; an ``rfc2217://`` port's
        ``buffer_overrun`` only (see ``Source.line_counters``)."""
        fd = self._fd
        if fd is None:
            port = self._port
            dropped = port.dropped_bytes if isinstance(port, Rfc2217Port) else None
            # the bytes an rfc2217:// port's own receive queue dropped; the server's line
            # errors do not come over the connection
            return None if dropped is None else {"buffer_overrun": dropped}
        if self._address is None or not self._address.is_device:
            return None
        return read_icount(fd)

    def fileno(self) -> int | None:
        """The non-blocking descriptor of a device, pty or ``socket://`` port; else None."""
        return self._fd

    def read(self) -> bytes:
        """The bytes available now, at most READ_CHUNK_BYTES.

        With a descriptor: never blocks; ``b""`` when nothing is there (``EAGAIN``). The reader
        calls it when the descriptor is readable, so end of file (an empty read) is a hang-up
        and raises SourceBrokenError, as does any OSError. Without a descriptor: blocks up to
        ``timeout_s`` for at least one byte; ``b""`` when none came.
        """
        fd = self._fd
        if fd is not None:
            while True:
                try:
                    data = os.read(fd, READ_CHUNK_BYTES)
                except BlockingIOError:
                    return b""
                except OSError as exc:
                    raise SourceBrokenError(
                        self.sensor, f"reading {self._display} failed: {exc.strerror or exc}"
                    ) from exc
                if not data:
                    raise SourceBrokenError(self.sensor, self._hung_up_text())
                if self._head is not None:
                    head = self._head + data
                    self._head = head if len(head) <= SERVER_TEXT_CHARS else None
                if self.echo is None:
                    return data
                kept = self._without_echo(self.echo, data)
                if kept:
                    return kept
                # all of it was echo: read what came after it, if anything did (b"": nothing)
        port = self._port
        if port is None:
            raise SourceBrokenError(self.sensor, f"{self._display} is not open")
        try:
            data = port.read(min(max(1, port.in_waiting), READ_CHUNK_BYTES))
        except (serial.SerialException, OSError) as exc:
            why = str(exc)
            if "reader thread died" in why:  # pyserial's RFC 2217 client: its connection ended
                why = f"the server closed the connection or stopped answering (pyserial: {why})"
            raise SourceBrokenError(self.sensor, f"reading {self._display} failed: {why}") from exc
        return data if self.echo is None or not data else self._without_echo(self.echo, data)

    def read_within(self, timeout_s: float) -> bytes:
        """``read()`` for a caller with a deadline of its own (``sensord modbus read``):
        without a descriptor it blocks up to ``timeout_s`` for at least one byte (``b""``
        when none came), not up to the port's ``timeout_s``; with one it never blocks."""
        port = self._port
        if self._fd is not None or port is None:
            return self.read()
        # pyserial's read timeout, set past its setter: an rfc2217:// port's setter negotiates
        # the line settings with the server again, which takes a round trip or more
        timed = cast(_TimedPort, port)
        held = timed._timeout
        timed._timeout = max(0.0, timeout_s)
        try:
            return self.read()
        finally:
            timed._timeout = held

    def _hung_up_text(self) -> str:
        """The error of an end of file; on a network port whose connection brought no more than
        one line of text, of a line's length, with that line: a serial server's reason for
        closing a connection it does not serve (ser2net's "Port already in use"), or a
        device's one reading before its server went away, which read the same on the
        connection. A connection that brought several lines (a device's readings, the start
        of one cut off by the close) is not said to have brought one."""
        text = f"{self._display} hung up (end of file)"
        head = self._head or b""
        lines = [line for line in head.replace(b"\r", b"\n").split(b"\n") if line.strip()]
        said = text_line(lines[0]) if len(lines) == 1 else ""
        if said:
            text += (
                f"; all it sent was the line {said!r} (a serial server's reason for not "
                "serving the connection, such as ser2net's 'Port already in use', or the "
                "device's data)"
            )
        return text

    def _waiting(self) -> int:
        """Bytes received and not yet read (for the echo's place in the stream); 0 if the port
        cannot say."""
        fd, port = self._fd, self._port
        try:
            if fd is not None:
                (count,) = struct.unpack("i", fcntl.ioctl(fd, termios.FIONREAD, b"\0" * 4))
                return int(count)
            return 0 if port is None else int(port.in_waiting)
        except (OSError, serial.SerialException):
            return 0

    def _without_echo(self, echo: LocalEcho, data: bytes) -> bytes:
        """``data`` without the echo of what was written; a mismatch is logged."""
        mismatches = echo.mismatches
        data = echo.strip(data)
        if echo.mismatches != mismatches:
            held = self._echo_log.check("mismatch")
            if held is not None:
                log.warning(
                    "bytes read differ from the echo of what was written: passed on as read "
                    "(does this adapter echo? serial.local_echo)",
                    sensor=self.sensor,
                    port=self._display,
                    mismatches=echo.mismatches,
                    echoed_bytes=echo.echoed_bytes,
                    echoes_owed=echo.owed,
                    suppressed=held,
                )
        return data

    def write(self, data: bytes) -> None:
        """Send all of ``data``; waits up to ``timeout_s`` for room. Failure: SourceBrokenError."""
        fd = self._fd
        if fd is None:
            port = self._port
            if port is None:
                raise SourceBrokenError(self.sensor, f"{self._display} is not open")
            waiting = 0 if self.echo is None else self._waiting()
            try:
                port.write(data)
            except (serial.SerialException, OSError) as exc:
                raise SourceBrokenError(
                    self.sensor, f"writing {self._display} failed: {exc}"
                ) from exc
            if self.echo is not None:
                self.echo.sent(data, waiting)
            return
        view = memoryview(data)
        waiting = 0 if self.echo is None else self._waiting()
        deadline: float | None = None
        while view:
            try:
                written = os.write(fd, view)
            except BlockingIOError:
                now = time.monotonic()
                if deadline is None:
                    deadline = now + self.settings.timeout_s
                if now >= deadline or not _wait_writable(fd, deadline - now):
                    raise SourceBrokenError(
                        self.sensor,
                        f"writing {self._display} timed out after {self.settings.timeout_s} s",
                    ) from None
                continue
            except OSError as exc:
                raise SourceBrokenError(
                    self.sensor, f"writing {self._display} failed: {exc.strerror or exc}"
                ) from exc
            if self.echo is not None:
                self.echo.sent(view[:written], waiting)
            view = view[written:]

    def try_write(self, data: bytes) -> bool:
        """Send ``data`` without waiting for room (see ``Source.try_write``).

        False when the output buffer is full (the device is not reading); a request that fit
        only in part is then cut short, which such a device cannot notice. An ``rfc2217://``
        port is written whole or not at all (a cut could split a Telnet escape): False when
        its connection has no room (the server stopped reading: hung, or its serial side held
        by flow control), where pyserial would block for its socket timeout (5 s) and fail.
        """
        fd = self._fd
        if fd is None:
            port = self._port
            sock = getattr(port, "_socket", None) if isinstance(port, Rfc2217Serial) else None
            if sock is not None and not _wait_writable(sock.fileno(), 0):
                return False
            self.write(data)
            return True
        view = memoryview(data)
        waiting = 0 if self.echo is None else self._waiting()
        while view:
            try:
                written = os.write(fd, view)
            except BlockingIOError:
                return False
            except OSError as exc:
                raise SourceBrokenError(
                    self.sensor, f"writing {self._display} failed: {exc.strerror or exc}"
                ) from exc
            if self.echo is not None:
                self.echo.sent(view[:written], waiting)
            view = view[written:]
        return True
