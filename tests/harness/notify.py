"""A real ``NOTIFY_SOCKET``: a Unix datagram socket that records what the daemon sends."""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import time
from pathlib import Path

from harness.common import HarnessError

#: ``SO_TIMESTAMPNS`` of Linux (``asm-generic/socket.h``; Python's socket module does not name
#: it): each datagram comes with the time the kernel queued it, a ``struct timespec`` of
#: ``CLOCK_REALTIME``.
SO_TIMESTAMPNS = 35
_TIMESPEC = struct.Struct("@qq")


def _arrival(ancillary: list[tuple[int, int, bytes]]) -> float:
    """The monotonic time at which the kernel queued a datagram received with ``ancillary``
    (its ``SO_TIMESTAMPNS``), or now when it has none."""
    now, wall = time.monotonic(), time.time()
    for level, kind, data in ancillary:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS and len(data) >= _TIMESPEC.size:
            seconds, nanoseconds = _TIMESPEC.unpack_from(data)
            queued: float = seconds + nanoseconds / 1e9
            return now - (wall - queued)
    return now


def _received(sock: socket.socket) -> tuple[float, bytes]:
    """The next datagram on ``sock`` and its arrival (:func:`_arrival`)."""
    data, ancillary, _, _ = sock.recvmsg(65536, socket.CMSG_SPACE(_TIMESPEC.size))
    return _arrival(ancillary), data


class NotifyListener:
    """Listens at ``tmp_path/name`` or, with ``abstract``, at an abstract address; pass
    ``address`` as ``NOTIFY_SOCKET``. ``messages`` holds (arrival time, datagram) pairs. The
    arrival time is when the kernel queued the datagram on the socket, as monotonic time:
    what the daemon's timing is judged by, whenever this process (held up on a loaded host)
    gets to read it."""

    def __init__(
        self, tmp_path: Path, *, abstract: bool = False, name: str = "notify.sock"
    ) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.path: Path | None = None
        if abstract:
            abstract_name = f"sensord-test-{os.getpid()}-{time.monotonic_ns()}"
            self.sock.bind("\0" + abstract_name)
            self.address = "@" + abstract_name
        else:
            self.path = tmp_path / name
            self.sock.bind(str(self.path))
            self.address = str(self.path)
        self.sock.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        self.messages: list[tuple[float, str]] = []

    def _receive(self, deadline: float) -> tuple[float, str] | None:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        self.sock.settimeout(left)
        try:
            at, data = _received(self.sock)
        except TimeoutError:
            return None
        message = (at, data.decode())
        self.messages.append(message)
        return message

    def collect(self, timeout_s: float) -> list[str]:
        """Receive for up to ``timeout_s``; returns everything received so far."""
        deadline = time.monotonic() + timeout_s
        while self._receive(deadline) is not None:
            pass
        return [m for _, m in self.messages]

    def wait_for(self, needle: str, timeout_s: float) -> float:
        """The arrival time (monotonic) of the first datagram containing ``needle``, received
        earlier or within ``timeout_s``; HarnessError if none comes."""
        for at, message in self.messages:
            if needle in message:
                return at
        deadline = time.monotonic() + timeout_s
        while (received := self._receive(deadline)) is not None:
            if needle in received[1]:
                return received[0]
        raise HarnessError(f"no {needle!r} datagram within {timeout_s}s: {self.messages}")

    def close(self) -> None:
        self.sock.close()
        if self.path is not None:
            self.path.unlink(missing_ok=True)


#: The datagram :func:`fill_queue` fills a queue with.
FILLER = b"X_FILLER=1"


def drain(listener: NotifyListener) -> None:
    """Receive what the listener's queue holds now: the datagrams of :func:`fill_queue` are
    dropped, the others (a sender's, once the queue had room) kept in ``messages``."""
    listener.sock.setblocking(False)
    try:
        while True:
            try:
                at, data = _received(listener.sock)
            except BlockingIOError:
                return
            if data != FILLER:
                listener.messages.append((at, data.decode()))
    finally:
        listener.sock.setblocking(True)


def notify_address_of(pid: int) -> str:
    """The ``NOTIFY_SOCKET`` process ``pid`` was started with (a ``--workers`` worker's: its
    primary's notification socket, ``@abstract``)."""
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    address = next(v for v in environ if v.startswith(b"NOTIFY_SOCKET=")).split(b"=", 1)[1]
    return address.decode()


def fill_queue(address: str) -> list[socket.socket]:
    """Datagrams sent to the AF_UNIX datagram socket at ``address`` (a path or ``@abstract``)
    until its queue holds no more (``net.unix.max_dgram_qlen``: 10 on a kernel that systemd
    did not raise, as in a container); the sending sockets, to close once done."""
    target = address if address.startswith("/") else "\0" + address.removeprefix("@")
    senders: list[socket.socket] = []
    while True:
        sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK)
        senders.append(sender)
        sent = 0
        with contextlib.suppress(BlockingIOError):
            while True:
                sender.sendto(FILLER, target)
                sent += 1
        if not sent:  # full for a socket that had sent nothing: the queue's limit
            return senders
