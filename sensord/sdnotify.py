"""A pure-Python client of the systemd notification protocol (sd_notify(3)).

The service manager passes the address of its notification socket in ``$NOTIFY_SOCKET``: a
file system path (``/run/systemd/notify``) or a Linux abstract address (``@name``). A message is
one ``AF_UNIX`` datagram of newline-separated ``KEY=value`` fields. The kernel attaches the
sender's credentials, which is how the manager attributes the message to the service.

Without ``$NOTIFY_SOCKET`` (not started by systemd, or not ``Type=notify``) every call is a no-op.
Sending never raises: a daemon must not die because the notification socket went away. The
first failure is logged, further failures are silent until a send succeeds again.

A send never waits: when the manager's queue is full (a stalled PID 1) the datagram is refused.
The service's state is not lost with it: the latest refused ``READY=1`` / ``RELOADING=1`` /
``STOPPING=1`` message and the latest refused ``STATUS=`` line are kept and go, merged into one
datagram, before anything else is sent, and at each :meth:`Notifier.flush` (the caller's next
housekeeping). An older state a newer one replaced is not sent: a ``RELOADING=1`` refused and
followed by the reload's ``READY=1`` leaves ``READY=1`` to send.

The watchdog timeout comes from ``$WATCHDOG_USEC`` (see sd_watchdog_enabled(3));
:func:`watchdog_interval_s` returns the recommended ping interval, half of it.
"""

from __future__ import annotations

import os
import socket
import sys
import threading
import time
from collections.abc import Mapping
from types import TracebackType
from typing import Self

import structlog
from structlog.typing import FilteringBoundLogger

__all__ = ["Notifier", "NotifyListener", "watchdog_interval_s"]

#: The keys that make a message a change of the service's state: of such messages only the
#: latest refused one is kept (a reload's ``READY=1`` replaces its ``RELOADING=1``).
STATE_KEYS = frozenset({"READY", "RELOADING", "STOPPING"})


def _log() -> FilteringBoundLogger:
    # Looked up per use (only on state changes) so a logging setup made later applies.
    logger: FilteringBoundLogger = structlog.get_logger(__name__)
    return logger


def _socket_address(address: str) -> bytes | None:
    """The ``sockaddr_un`` path for a ``$NOTIFY_SOCKET`` value, or None when not an AF_UNIX one."""
    if address.startswith("/"):
        return os.fsencode(address)
    if address.startswith("@") and len(address) > 1:
        return b"\0" + os.fsencode(address[1:])
    return None


class Notifier:
    """Sends state notifications to the service manager.

    ``address`` defaults to ``environ["NOTIFY_SOCKET"]``. One unbound datagram socket is created
    on the first send and kept until :meth:`close` (or the end of a ``with`` block); a send after
    ``close()`` opens a new one. Each datagram is addressed with ``sendto`` so a socket that the
    manager re-creates at the same path keeps working. Sends do not block: when the manager's
    queue is full the message is refused (and the failure logged once); a state message
    (``STATE_KEYS``) or a ``STATUS=`` line is kept until it can go (the module docstring).
    Methods are thread-safe.
    """

    def __init__(
        self,
        address: str | None = None,
        *,
        environ: Mapping[str, str] = os.environ,
    ) -> None:
        if address is None:
            address = environ.get("NOTIFY_SOCKET", "")
        self.address = address
        self._sockaddr = _socket_address(address) if address else None
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._failing = False
        #: the refused messages still to send, by kind ("state", "status"), oldest first
        self._pending: dict[str, tuple[str, ...]] = {}
        if address and self._sockaddr is None:
            _log().warning(
                "sd_notify_unsupported_address",
                address=address,
                detail="only /path and @abstract AF_UNIX addresses are supported",
            )

    @property
    def enabled(self) -> bool:
        """True when there is a notification socket to send to."""
        return self._sockaddr is not None

    # -- protocol messages -------------------------------------------------------------------
    @property
    def pending(self) -> bool:
        """True while a refused state or status message waits for :meth:`flush`."""
        return bool(self._pending)

    def notify(self, *fields: str) -> bool:
        """Send ``fields`` (``KEY=value`` strings) as one datagram; True when it was sent.

        What refused messages left pending goes first: while that is refused too, ``fields``
        are not sent (a state or status message is kept in its place, merged with what is
        pending when it is sent), so the manager never gets a message before an older one."""
        if self._sockaddr is None or not fields:
            return False
        kind = _kind(fields)
        with self._lock:
            if kind is not None:
                self._pending.pop(kind, None)  # this one is newer; it goes last
                self._pending[kind] = fields
                return self._send_pending()
            return self._send_pending() and self._send(fields)

    def flush(self) -> bool:
        """Send what refused messages left pending (``pending``); True when nothing is left.
        Cheap when nothing is: call it at every housekeeping."""
        if not self._pending:
            return True
        with self._lock:
            return self._send_pending()

    def _send_pending(self) -> bool:
        """The pending messages as one datagram: each key once, with its latest value, where
        the latest message that has it puts it."""
        if not self._pending:
            return True
        merged: dict[str, str] = {}
        for pending in self._pending.values():
            for field in pending:
                key = field.partition("=")[0]
                merged.pop(key, None)
                merged[key] = field
        if not self._send(tuple(merged.values())):
            return False
        self._pending.clear()
        return True

    def _send(self, fields: tuple[str, ...]) -> bool:
        """One datagram of ``fields``; the caller holds the lock."""
        assert self._sockaddr is not None
        message = "\n".join(fields).encode("utf-8", "replace")
        try:
            if self._sock is None:
                self._sock = socket.socket(
                    socket.AF_UNIX,
                    socket.SOCK_DGRAM | socket.SOCK_CLOEXEC | socket.SOCK_NONBLOCK,
                )
            self._sock.sendto(message, self._sockaddr)
        except (OSError, ValueError) as exc:
            if not self._failing:
                self._failing = True
                _log().warning(
                    "sd_notify_failed",
                    address=self.address,
                    error=str(exc),
                    detail="further failures are not logged until a send succeeds",
                )
            return False
        if self._failing:
            self._failing = False
            _log().info("sd_notify_recovered", address=self.address)
        return True

    def ready(self, status: str | None = None) -> bool:
        """Startup (or a reload) is complete: ``READY=1``, with an optional ``STATUS=`` line."""
        return self.notify("READY=1", *_status_field(status))

    def status(self, text: str) -> bool:
        """A one-line, human-readable state summary shown by ``systemctl status``."""
        return self.notify(*_status_field(text))

    def watchdog(self) -> bool:
        """The watchdog keep-alive ping, ``WATCHDOG=1``."""
        return self.notify("WATCHDOG=1")

    def reloading(self, status: str | None = None) -> bool:
        """A reload begins: ``RELOADING=1`` and ``MONOTONIC_USEC=`` in the same datagram.

        Follow it with :meth:`ready` when the reload is done (whether or not it succeeded).
        """
        now_us = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
        return self.notify("RELOADING=1", f"MONOTONIC_USEC={now_us}", *_status_field(status))

    def stopping(self, status: str | None = None) -> bool:
        """Shutdown begins: ``STOPPING=1``."""
        return self.notify("STOPPING=1", *_status_field(status))

    # -- lifecycle -----------------------------------------------------------------------------
    def close(self) -> None:
        """Close the socket. Idempotent."""
        with self._lock:
            sock, self._sock = self._sock, None
        if sock is not None:
            sock.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"<Notifier address={self.address!r} enabled={self.enabled}>"


def _kind(fields: tuple[str, ...]) -> str | None:
    """The kind of a message kept when refused: "state" for one that changes the service's
    state (``STATE_KEYS``), "status" for a ``STATUS=`` line alone; None for another (a ping,
    which its caller sends again)."""
    keys = [field.partition("=")[0] for field in fields]
    if any(key in STATE_KEYS for key in keys):
        return "state"
    if keys == ["STATUS"]:
        return "status"
    return None


def _status_field(text: str | None) -> tuple[str, ...]:
    """``("STATUS=text",)`` with line breaks flattened (STATUS is one line), or ``()``."""
    if text is None:
        return ()
    return ("STATUS=" + " ".join(text.splitlines()),)


def watchdog_interval_s(environ: Mapping[str, str] = os.environ) -> float | None:
    """The watchdog ping interval in seconds (half the timeout), or None when it is disabled.

    The watchdog applies to this process when ``WATCHDOG_USEC`` is a positive integer and
    ``WATCHDOG_PID`` is unset or equals ``os.getpid()`` (otherwise the variables were meant for
    another process up the tree). Malformed values count as disabled.
    """
    usec = _parse_decimal(environ.get("WATCHDOG_USEC"))
    if usec is None or usec == 0:
        return None
    pid_text = environ.get("WATCHDOG_PID")
    if pid_text is not None and _parse_decimal(pid_text) != os.getpid():
        return None
    return usec / 2_000_000


def _parse_decimal(text: str | None) -> int | None:
    """A non-negative decimal integer of ASCII digits only (no sign, blanks or underscores)."""
    if text is None or not (text.isascii() and text.isdigit()):
        return None
    return int(text)


class NotifyListener:
    """The receiving end of the protocol, as the ``--workers`` primary is for its workers: a
    non-blocking datagram socket bound to a fresh abstract address (``address``, to pass on
    as a child's ``$NOTIFY_SOCKET``). The kernel attaches each sender's credentials, which tell
    the senders apart by pid."""

    def __init__(self, name: str = "sensord") -> None:
        self.address = f"@{name}-{os.getpid()}-{time.monotonic_ns()}"
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        try:
            self._sock.bind("\0" + self.address[1:])
            self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
            self._sock.setblocking(False)
        except BaseException:
            self._sock.close()
            raise

    def fileno(self) -> int:
        return self._sock.fileno()

    def receive(self) -> list[tuple[int, dict[str, str]]]:
        """Every datagram waiting now, as ``(sender pid, {KEY: value})`` (pid 0: unknown)."""
        out: list[tuple[int, dict[str, str]]] = []
        while True:
            try:
                data, ancillary, _flags, _addr = self._sock.recvmsg(4096, socket.CMSG_SPACE(12))
            except (BlockingIOError, InterruptedError):
                return out
            fields = dict(
                line.split("=", 1)
                for line in data.decode(errors="replace").splitlines()
                if "=" in line
            )
            out.append((_sender_pid(ancillary), fields))

    def close(self) -> None:
        """Close the socket. Idempotent."""
        self._sock.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _sender_pid(ancillary: list[tuple[int, int, bytes]]) -> int:
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS and len(data) >= 12:
            return int.from_bytes(data[:4], sys.byteorder)
    return 0
