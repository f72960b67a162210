"""What a serial server says when it does not serve a connection, and how a new connection
is watched for it.

A serial server that refuses a connection writes a line saying why and closes it (ser2net 3
and 4: "Device open failure: ..." when its device is unplugged, "Port already in use" while
another client holds it; :data:`SERVER_REFUSALS`). A ``socket://`` (``modbus-tcp://``) open
watches its new connection for up to :func:`refusal_wait_s` for bytes that could begin such
a line and the close after them (:func:`refused_at_once`), so that the refusal fails the open,
quoted with what it means, and no byte of it is read as the device's; a connection that the
server closes or resets within that wait before it sent a byte fails it the same way
(:func:`ended_at_once`: ser2net being stopped still accepts connections for a few
milliseconds after it closed its clients', and ends them unserved). Bytes that cannot begin
a refusal end the wait at once and are left to be read. :func:`text_line` is the one line
of text a connection brought, which errors quote (an ``rfc2217://`` open refused, a network
port that hung up).
"""

from __future__ import annotations

import select
import socket
import threading
import time

from sensord.errors import SourceRefusedError, SourceUnavailableError

__all__ = [
    "REFUSAL_ROUND_TRIPS",
    "REFUSAL_WAIT_S",
    "SERVER_REFUSALS",
    "SERVER_TEXT_CHARS",
    "ended_at_once",
    "refusal_meaning",
    "refusal_wait_s",
    "refused_at_once",
    "text_line",
]


#: The longest line of a server's text that an error quotes.
SERVER_TEXT_CHARS = 200


#: The lines a serial server writes to a connection it refuses before it closes it (ser2net 3
#: and 4), and what each means.
SERVER_REFUSALS: dict[bytes, str] = {
    b"Device open failure": "the serial server cannot open its device: unplugged, powered off "
    "or renamed; check the device path in the server's configuration",
    b"Port's device failed open": "the serial server cannot open its device: unplugged, "
    "powered off or renamed; check the device path in the server's configuration",
    b"Port already in use": "another client holds the port, which the server serves one at a "
    "time unless its max-connections allows more: another program, or an earlier connection "
    "of this host's that the server has not seen end yet",
    b"Port's device already in use": "another of the server's ports uses the same device and "
    "has a client",
    b"Access denied": "the server does not accept connections from this host's address",
    b"Accessed denied": "the server does not accept connections from this host's address",
    b"Port disabled": "the port is disabled in the server's configuration",
    b"Port closing": "the server is closing the port, disabled by a change of its configuration",
}

#: How long a ``socket://`` (``modbus-tcp://``) open waits for a serial server's refusal
#: (:data:`SERVER_REFUSALS`), which a server writes as soon as it accepts the connection: as
#: long as :data:`REFUSAL_ROUND_TRIPS` times the connect took, within these bounds.
REFUSAL_WAIT_S = (0.05, 0.25)
REFUSAL_ROUND_TRIPS = 4


def refusal_wait_s(connect_s: float) -> float:
    """How long a new connection whose connect took ``connect_s`` is watched for a refusal:
    :data:`REFUSAL_ROUND_TRIPS` times that, within :data:`REFUSAL_WAIT_S`."""
    low, high = REFUSAL_WAIT_S
    return min(high, max(low, REFUSAL_ROUND_TRIPS * connect_s))


def _may_be_refusal(data: bytes) -> bool:
    """True when ``data`` is a refusal line's start, or starts with a refusal."""
    return any(data[: len(line)] == line[: len(data)] for line in SERVER_REFUSALS)


#: The longest single wait of the refusal's (``abort_open`` is seen between two).
_REFUSAL_SLICE_S = 0.05


def refused_at_once(
    sock: socket.socket, wait_s: float, aborted: threading.Event, gateway: bool = False
) -> tuple[type[SourceUnavailableError], str] | None:
    """Why the new connection ``sock`` (non-blocking) is not served, when its server ended
    it within ``wait_s``, with the error that tells it: the refusal it wrote before it closed
    it, with what that means (:class:`SourceRefusedError`), or that it closed or reset it
    saying nothing (a server stopping: its listener still takes connections for a moment
    after it closed its clients'). None when other bytes came
    (left to be read, also when the connection ended after them), or nothing came and the
    connection stayed open, or ``aborted`` was set (a shutdown)."""
    poller = select.poll()
    poller.register(sock.fileno(), select.POLLIN | select.POLLRDHUP)
    deadline = time.monotonic() + wait_s
    closed = False
    while not closed:
        left = deadline - time.monotonic()
        if left <= 0 or aborted.is_set():
            return None
        try:
            events = poller.poll(max(1, int(min(left, _REFUSAL_SLICE_S) * 1000)))
        except InterruptedError:
            continue
        if not events:
            continue
        closed = any(
            event & (select.POLLRDHUP | select.POLLHUP | select.POLLERR) for _, event in events
        )
        if not closed:
            try:
                head = sock.recv(SERVER_TEXT_CHARS, socket.MSG_PEEK)
            except OSError as exc:
                return SourceUnavailableError, ended_at_once(exc, gateway)
            if not _may_be_refusal(head.lstrip(b"\r\n")):
                return None
            # a refusal's start: its close, not more bytes, ends the wait
            poller.modify(sock.fileno(), select.POLLRDHUP)
    try:  # left to be read unless it is a refusal
        said = sock.recv(4 * SERVER_TEXT_CHARS, socket.MSG_PEEK)
    except OSError as exc:
        return SourceUnavailableError, ended_at_once(exc, gateway)
    if not said:
        return SourceUnavailableError, ended_at_once(None, gateway)
    line = text_line(said)
    meaning = refusal_meaning(line)
    if meaning is None:
        return None
    return SourceRefusedError, f"the serial server refused the connection: {line!r} ({meaning})"


def ended_at_once(exc: OSError | None, gateway: bool = False) -> str:
    """Why a connection is not served that its server closed (``exc`` None) or reset as
    soon as it accepted it, saying nothing; ``gateway``: a Modbus TCP gateway's."""
    how = "closed the connection" if exc is None else f"ended the connection ({exc.strerror})"
    if gateway:
        return (
            f"the gateway {how} as soon as it accepted it, saying nothing (one that serves "
            "one client at a time, held by another: a SCADA system, a second sensord, a "
            "configuration tool, another port of this configuration that names it otherwise, "
            "its host name and its address; or one that is stopping or restarting)"
        )
    return (
        f"the server {how} as soon as it accepted it, saying nothing (a serial server "
        "that is stopping or restarting, or that serves no more clients)"
    )


def refusal_meaning(line: str) -> str | None:
    """What the line a server wrote before it closed a connection means, when it is one of
    :data:`SERVER_REFUSALS`."""
    for refusal, meaning in SERVER_REFUSALS.items():
        if line.encode("ascii").startswith(refusal):
            return meaning
    return None


def text_line(data: bytes) -> str:
    """The last line of ``data`` when it is printable ASCII text of a line's length (what a
    serial server says before it closes a connection it will not serve: ser2net's "Port
    already in use"), else ""."""
    lines = data.replace(b"\r", b"\n").split(b"\n")
    line = next((item for item in reversed(lines) if item.strip()), b"").strip()
    if not line or len(line) > SERVER_TEXT_CHARS or not all(32 <= byte < 127 for byte in line):
        return ""
    return line.decode("ascii")
