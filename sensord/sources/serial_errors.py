"""What a failed open of a serial port means, as the error that says it.

:func:`open_error` turns what an open raised (pyserial's, the kernel's, a network's) into
the ``SourceError`` that names the device and the config key, and says what to check: a
setting a driver or pyserial rejected (``serial.KEY = value``), a device missing, denied
(with the group to join) or held by another process (named from ``/proc/locks`` at once,
else from a search of every process's open files of at most :data:`HOLDER_SEARCH_S`, made
only when the message is shown), no descriptor left (:data:`RESERVED_FDS`), an RFC 2217
server that left a step of the negotiation or the line settings unanswered, and a network
peer that does not resolve, listen, answer or route (:func:`network_hint`), told apart from
one that accepted a connection before in this run or completed its negotiation
(:data:`NEGOTIATED`).
"""

from __future__ import annotations

import errno
import os
import re
import resource
import socket
import termios
from urllib.parse import parse_qsl, urlsplit

import serial

from sensord.address import MODBUS_TCP_SCHEME, PortAddress
from sensord.errors import SourceError, SourceUnavailableError
from sensord.port_access import permission_hint
from sensord.port_holders import holder_hint, lock_holders, search_holders
from sensord.serial_settings import SerialSettings
from sensord.sources.serial_line import keys_text
from sensord.sources.serial_refusals import ended_at_once

__all__ = [
    "HOLDER_SEARCH_S",
    "NEGOTIATED",
    "RESERVED_FDS",
    "network_hint",
    "open_error",
    "out_of_descriptors_text",
]


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


def out_of_descriptors_text(display: str, code: int) -> str:
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
NEGOTIATED: set[str] = set()


def network_hint(cause: OSError, url: str, connected_before: bool = False) -> str:
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


def open_error(
    exc: BaseException,
    target: str,
    *,
    sensor: str,
    display: str,
    url: str,
    address: PortAddress | None,
    settings: SerialSettings,
    connected_before: bool,
) -> SourceError:
    """Turn a failure of opening ``target`` (``url`` as configured, shown as ``display``)
    into the matching SourceError of ``sensor``. ``connected_before``: a connection to this
    network port was made before in this run (a refusal is then no absent server)."""
    if isinstance(exc, (ValueError, OverflowError)):
        text = str(exc).lower()
        keys = [k for word, k in _MESSAGE_KEYS if word in text]
        if isinstance(exc, OverflowError):
            keys = ["baudrate"]
        return SourceError(sensor, f"{keys_text(settings, keys)}: rejected by {display}: {exc}")
    if isinstance(exc, termios.error):
        # tcsetattr() refused the whole set of line settings.
        return SourceError(sensor, f"{keys_text(settings, [])}: rejected by {display}: {exc}")
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
        return SourceUnavailableError(
            sensor, _settings_unanswered_text(display, settings, str(exc))
        )
    if isinstance(exc, serial.SerialException) and "RFC2217" in str(exc):
        # pyserial waits a few seconds for each step of the negotiation: a server that
        # passes raw bytes and one that hangs both let every step run out; one that
        # negotiated at this URL before in this run speaks RFC 2217, and hangs; either may
        # be a slow one
        late = _network_timeout_text(url)
        if url in NEGOTIATED:
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
    local = address is not None and address.is_device
    if code == errno.ECONNRESET and not local:
        # the server reset the connection before the connect was seen to complete (the
        # kernel reports the reset as the connect's error): it ended it at once
        gateway = address is not None and address.scheme == MODBUS_TCP_SCHEME
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
        return SourceUnavailableError(sensor, out_of_descriptors_text(display, code))
    cause = _os_cause(exc)
    if not local and cause is None:
        return SourceError(sensor, f"invalid port URL {url}: {exc}")
    reason = (cause.strerror or str(cause)) if cause is not None else str(exc)
    if not local and cause is not None:
        reason += network_hint(cause, url, connected_before)
    return SourceUnavailableError(sensor, f"cannot open {display}: {reason}")


def _settings_unanswered_text(display: str, settings: SerialSettings, message: str) -> str:
    """The error of an RFC 2217 server that took the connection and the Telnet options
    but left line settings unconfirmed (pyserial lists each with its state): none of them,
    a Telnet server without RFC 2217's COM port control (ser2net's ``telnet`` accepter
    without ``(rfc2217)``); some of them, settings the server did not take."""
    states = dict(_SETTING_STATE.findall(message))
    unanswered = [
        key for name, key in _RFC2217_SETTING_KEYS if states.get(name, "REQUESTED") == "REQUESTED"
    ]
    if len(unanswered) == len(_RFC2217_SETTING_KEYS):
        return (
            f"{display}: the server answered none of the line settings: it speaks "
            "Telnet without RFC 2217's COM port control, or did not answer it in time "
            "(for ser2net 4, an accepter of 'telnet(rfc2217),tcp,PORT', not "
            "'telnet,tcp,PORT'; for ser2net 3, the remctl option)"
        )
    return (
        f"{display}: the server did not confirm {keys_text(settings, unanswered)} "
        f"(pyserial: {message})"
    )
