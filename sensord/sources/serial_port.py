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
import re
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
from urllib.parse import parse_qsl, urlsplit

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
    holder_hint,
    lock_holders,
    permission_hint,
    renumbered_hint,
    search_holders,
)
from sensord.serial_settings import SerialSettings
from sensord.sources.base import Source
from sensord.sources.echo import LocalEcho
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
    ended_at_once,
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

#: The longest the search of every process's open files for the holders of a busy port may
#: take (on the reader thread, when its failure is logged); a lock holder is named without it.
HOLDER_SEARCH_S = 0.1

#: Descriptors that opening a port leaves free for the rest of the daemon (HTTP connections,
#: capture files, a reload's config file): at the open-files limit the ports take no more, so
#: ``/healthz``, ``/metrics`` and ``/status`` still answer and tell which ports are down.
RESERVED_FDS = 16

#: How pyserial's RFC 2217 client words a step of its open that the server left unanswered,
#: followed by the step's name (``'control'``, ``'purge'``).
_STEP_TIMEOUT = "timeout while waiting for option"
#: pyserial's RFC 2217 error when line settings stayed unconfirmed; it lists every setting as
#: ``name:STATE`` (``REQUESTED``: no answer).
_SETTINGS_UNANSWERED = "Remote does not accept parameter change"
_SETTING_STATE = re.compile(r"(\w+):([A-Z_]+)")
#: pyserial's names of the RFC 2217 line settings, and the ``serial`` keys they carry.
_RFC2217_SETTING_KEYS = (
    ("baudrate", "baudrate"),
    ("datasize", "bytesize"),
    ("parity", "parity"),
    ("stopsize", "stopbits"),
)

#: Schemes that pyserial opens as a ``socket://`` port.
_SOCKET_SCHEMES = frozenset({"socket", MODBUS_TCP_SCHEME})

_MISSING_ERRNOS = frozenset({errno.ENOENT, errno.ENODEV, errno.ENXIO})
_DENIED_ERRNOS = frozenset({errno.EACCES, errno.EPERM})
_HELD_ERRNOS = frozenset({errno.EAGAIN, errno.EWOULDBLOCK, errno.EBUSY})


#: Words in pyserial's messages when it rejects a setting while opening, and the key they name.
_MESSAGE_KEYS: tuple[tuple[str, str], ...] = (
    ("baud", "baudrate"),
    ("char len", "bytesize"),
    ("byte size", "bytesize"),
    ("stop bit", "stopbits"),
    ("parity", "parity"),
    ("rs485", "rs485"),
)


def _held_text(display: str, target: str) -> str:
    """Who holds ``target``: the lock holders if any (from ``/proc/locks``, at once), else
    every other process with it open (a search of every process's open files, ended after
    :data:`HOLDER_SEARCH_S`); this process is named only as a lock holder: another source
    of it."""
    me = os.getpid()
    shown = lock_holders(target)
    complete = True
    if not shown:
        holders, complete = search_holders(target, include_self=True, time_limit_s=HOLDER_SEARCH_S)
        shown = [h for h in holders if h.pid != me]
    if shown and all(h.pid == me for h in shown):
        return (
            f"{display} is already open in this process (pid {me}): another sensor "
            "of the configuration reads this device, under this name or another (a "
            "/dev/serial/by-id link and the device it points to are one device); only "
            "Modbus devices share a port, and they name it the same way"
        )
    listed = ", ".join(f"{h} - this process" if h.pid == me else str(h) for h in shown)
    known = holder_hint([h for h in shown if h.pid != me], os.path.realpath(target))
    if not complete:
        cut = (
            f"holders not all listed: the search of open files stopped after "
            f"{HOLDER_SEARCH_S:g} s; `sudo fuser -v {target}` names them"
        )
        if listed:
            return f"{display} is held by another process: {listed} ({cut}){known}"
        return f"{display} is held by another process ({cut})"
    if listed:
        return f"{display} is held by another process: {listed}{known}"
    return (
        f"{display} is held by another process that this user cannot see (a root "
        "daemon: ModemManager probes a USB serial device for up to 30 s after it is "
        "plugged in; brltty and gpsd may claim one for good); `sudo fuser -v "
        f'{target}` names it, and a udev rule with ENV{{ID_MM_DEVICE_IGNORE}}="1" keeps '
        "ModemManager off the device"
    )


def _out_of_descriptors_text(display: str, code: int) -> str:
    """Why ``display`` could not be opened when the process (EMFILE) or the system (ENFILE)
    has no file descriptor left, and what raises the limit."""
    if code == errno.ENFILE:
        return (
            f"cannot open {display}: the system's table of open files is full (fs.file-max); "
            "another process holds them, or the table is too small for this host"
        )
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return (
        f"cannot open {display}: this process is at its limit of {soft} open files "
        "(RLIMIT_NOFILE: one for each port and each HTTP connection; the ports leave the "
        f"last {RESERVED_FDS} to HTTP); raise LimitNOFILE= in the service (systemctl edit "
        "sensord), or ulimit -n where it is started by hand"
    )


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


def _errno_in_chain(exc: BaseException) -> int | None:
    """The first errno found in ``exc`` or the exceptions it was raised from or during."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, OSError) and current.errno is not None:
            return current.errno
        if isinstance(current, termios.error) and current.args:
            first = current.args[0]
            if isinstance(first, int):
                return first
        current = current.__cause__ or current.__context__
    return None


#: The ``rfc2217://`` URLs whose server completed the negotiation in this run: one that fails
#: it later is a server that hangs, not one that does not speak RFC 2217.
_NEGOTIATED: set[str] = set()


def _network_hint(cause: OSError, url: str, connected_before: bool = False) -> str:
    """What a network port's open failure (``cause``) says to check, after its own text; ""
    when there is nothing to add. ``connected_before``: a connection to ``url`` was made
    before in this run, so something listens there."""
    parts = urlsplit(url)
    host = parts.hostname or url
    if isinstance(cause, socket.gaierror):
        return f": the host name {host} does not resolve; check its spelling and the DNS"
    if cause.errno == errno.ECONNREFUSED:
        if connected_before:
            return (
                f": {parts.netloc or host} accepted a connection before in this run: a gateway "
                "or serial server that serves one client (or a few) refuses more while they "
                "are taken (another client: a second sensord, a SCADA system, a configuration "
                "tool, another port of this configuration that names it otherwise, its host "
                "name and its address; or an earlier connection of this host's it has not "
                "seen end), or it is restarting"
            )
        return (
            f": nothing listens at {parts.netloc or host}; check that the serial server "
            "(ser2net) or gateway runs there, and the port number"
        )
    if isinstance(cause, TimeoutError) or cause.errno == errno.ETIMEDOUT:
        return f": {host} does not answer; check that it is up and that no firewall drops it"
    if cause.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH):
        return f": no route to {host}; check the network between this host and it"
    return ""


def _peer_of(sock: socket.socket) -> tuple[str, int] | None:
    """The address and port ``sock`` is connected to; None when it cannot tell (the peer
    reset it already)."""
    try:
        address = sock.getpeername()
    except OSError:
        return None
    return str(address[0]), int(address[1])


def _os_cause(exc: BaseException) -> OSError | None:
    """The first operating-system error (not a pyserial one) in the chain of ``exc``."""
    current: BaseException | None = exc
    for _ in range(16):
        if current is None:
            return None
        if isinstance(current, OSError) and not isinstance(current, serial.SerialException):
            return current
        current = current.__cause__ or current.__context__
    return None


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


def _network_timeout_text(url: str) -> str:
    """pyserial's wait for each step of an RFC 2217 negotiation at ``url`` (the first
    ``timeout`` of its query, as pyserial reads it), and how to make it longer (for a slow
    link: a cellular modem, a congested VPN): ``&timeout=`` after the URL's options
    (``?ign_set_control``), ``?timeout=`` on a URL without any."""
    query = urlsplit(url).query
    asked = [value for key, value in parse_qsl(query) if key == "timeout"]
    if asked:
        return f"the {asked[0]} s its timeout in the URL allows for each step (a slow link)"
    option = "&timeout=10" if query else "?timeout=10"
    return (
        f"the 3 s pyserial waits for each step (a slow link: {option} at the end of the URL "
        "waits 10 s)"
    )


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
        #: no absent server, see ``_network_hint``)
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
                self.sensor, _out_of_descriptors_text(self._display, errno.EMFILE)
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
                _NEGOTIATED.add(self.url)
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
        """Turn a failure of opening ``target`` into the matching SourceError."""
        sensor, display = self.sensor, self._display
        if isinstance(exc, (ValueError, OverflowError)):
            text = str(exc).lower()
            keys = [k for word, k in _MESSAGE_KEYS if word in text]
            if isinstance(exc, OverflowError):
                keys = ["baudrate"]
            return SourceError(
                sensor, f"{keys_text(self.settings, keys)}: rejected by {display}: {exc}"
            )
        if isinstance(exc, termios.error):
            # tcsetattr() refused the whole set of line settings.
            return SourceError(
                sensor, f"{keys_text(self.settings, [])}: rejected by {display}: {exc}"
            )
        if isinstance(exc, serial.SerialException) and str(exc).startswith(_STEP_TIMEOUT):
            step = str(exc)[len(_STEP_TIMEOUT) :].strip()
            hint = ""
            if step == "'control'":
                hint = (
                    ": ser2net leaves a change of DTR or RTS unanswered on a device without "
                    "modem lines (a pseudo-terminal), which is opened with ?ign_set_control "
                    "at the end of the URL"
                )
            return SourceUnavailableError(
                sensor,
                f"{display}: the server did not answer the RFC 2217 request for {step} "
                f"(pyserial: {exc}){hint}",
            )
        if isinstance(exc, serial.SerialException) and str(exc).startswith(_SETTINGS_UNANSWERED):
            return SourceUnavailableError(sensor, self._settings_unanswered_text(str(exc)))
        if isinstance(exc, serial.SerialException) and "RFC2217" in str(exc):
            # pyserial waits a few seconds for each step of the negotiation: a server that
            # passes raw bytes and one that hangs both let every step run out; one that
            # negotiated at this URL before in this run speaks RFC 2217, and hangs; either may
            # be a slow one
            late = _network_timeout_text(self.url)
            if self.url in _NEGOTIATED:
                return SourceUnavailableError(
                    sensor,
                    f"{display}: the server did not complete the RFC 2217 negotiation ({exc}), "
                    "which it completed before: it hangs or is restarting (ser2net), or its "
                    f"host is overloaded, or it answers later than {late}",
                )
            return SourceUnavailableError(
                sensor,
                f"{display}: the server did not complete the RFC 2217 negotiation ({exc}): "
                "it does not answer, or it does not speak RFC 2217 (a serial server that "
                "passes raw bytes is read with socket://HOST:PORT), or it answers later "
                f"than {late}",
            )
        code = _errno_in_chain(exc)
        local = self._address is not None and self._address.is_device
        if code == errno.ECONNRESET and not local:
            # the server reset the connection before the connect was seen to complete (the
            # kernel reports the reset as the connect's error): it ended it at once
            gateway = self._address is not None and self._address.scheme == MODBUS_TCP_SCHEME
            return SourceUnavailableError(
                sensor, f"{display}: {ended_at_once(_os_cause(exc), gateway)}"
            )
        if code in _MISSING_ERRNOS:
            return SourceUnavailableError(sensor, f"{display} does not exist (or is not present)")
        if code in _DENIED_ERRNOS and local:
            return SourceUnavailableError(
                sensor, f"{display}: permission denied; {permission_hint(target)}"
            )
        if code in _HELD_ERRNOS and local:
            # who holds it is searched for in /proc only when the message is shown
            return SourceUnavailableError(
                sensor,
                f"{display} is held by another process or another sensor; the holders are "
                "named in the log",
                describe=lambda: _held_text(display, target),
            )
        if code == errno.ENOTTY:
            return SourceError(sensor, f"{display} is not a serial port (no terminal settings)")
        if code in (errno.EMFILE, errno.ENFILE):
            return SourceUnavailableError(sensor, _out_of_descriptors_text(display, code))
        cause = _os_cause(exc)
        if not local and cause is None:
            return SourceError(sensor, f"invalid port URL {self.url}: {exc}")
        reason = (cause.strerror or str(cause)) if cause is not None else str(exc)
        if not local and cause is not None:
            reason += _network_hint(cause, self.url, self._connected_before)
        return SourceUnavailableError(sensor, f"cannot open {display}: {reason}")

    def _settings_unanswered_text(self, message: str) -> str:
        """The error of an RFC 2217 server that took the connection and the Telnet options
        but left line settings unconfirmed (pyserial lists each with its state): none of them,
        a Telnet server without RFC 2217's COM port control (ser2net's ``telnet`` accepter
        without ``(rfc2217)``); some of them, settings the server did not take."""
        states = dict(_SETTING_STATE.findall(message))
        unanswered = [
            key
            for name, key in _RFC2217_SETTING_KEYS
            if states.get(name, "REQUESTED") == "REQUESTED"
        ]
        if len(unanswered) == len(_RFC2217_SETTING_KEYS):
            return (
                f"{self._display}: the server answered none of the line settings: it speaks "
                "Telnet without RFC 2217's COM port control, or did not answer it in time "
                "(for ser2net 4, an accepter of 'telnet(rfc2217),tcp,PORT', not "
                "'telnet,tcp,PORT'; for ser2net 3, the remctl option)"
            )
        return (
            f"{self._display}: the server did not confirm {keys_text(self.settings, unanswered)} "
            f"(pyserial: {message})"
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
