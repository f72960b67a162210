"""Devices on real pseudo-terminals.

A :class:`PtyPair`'s slave path plays the serial port that sensord opens; its master plays the
device (``write`` sends bytes as the device, ``read`` returns what sensord sent, and
``close_master`` is an unplug). :class:`SymlinkedPty` keeps a stable link path that a replug
re-points to a new pty, like a /dev/serial/by-id link. :class:`TcpPtyRelay` serves a pty over
TCP for ``socket://`` ports, like ser2net. :func:`ptys` opens many at once for a block.
:class:`Rfc2217Server` serves one over RFC 2217 (``rfc2217://``).
:func:`held_by_subprocess` keeps a device open in another process, :func:`run_as_user` runs a
check as another user (needs root). Every pty of the suite is made under one lock shared by its
processes (:func:`pty_numbers_held`), so :func:`pty_at_path` can make a pty again at a number.
"""

from __future__ import annotations

import codecs
import contextlib
import fcntl
import os
import pty
import re
import selectors
import socket
import struct
import subprocess
import sys
import tempfile
import termios
import threading
import time
import tty
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Self

import serial
import serial.rfc2217

from harness.common import accepted_clients
from harness.spawn import popen

__all__ = [
    "PtyPair",
    "Rfc2217Server",
    "SymlinkedPty",
    "TcpPtyRelay",
    "held_by_subprocess",
    "open_fd_count",
    "pty_at_path",
    "ptys",
    "run_as_user",
    "symlinked_pty",
    "wait_readable",
]


def wait_readable(fd: int, timeout_s: float = 2.0) -> bool:
    """True when ``fd`` becomes readable within ``timeout_s``."""
    with selectors.DefaultSelector() as sel:
        sel.register(fd, selectors.EVENT_READ)
        return bool(sel.select(timeout_s))


def open_fd_count() -> int:
    """The number of file descriptors this process has open (from /proc/self/fd)."""
    return len(os.listdir("/proc/self/fd"))


class _AllocationLock:
    """The lock every pty of the suite is made under, shared by all its processes (pytest's
    workers, and other runs of the suite by the same user) through ``flock`` on one file;
    reentrant within a process. The kernel hands out the lowest free pty number to whoever
    asks first: :func:`pty_at_path` closes a pty and makes the next at its number under this
    lock, so no other test's pty takes the number in between (a daemon waiting to reopen
    that path would open the other test's pty and hold it, and the number would not come
    back)."""

    def __init__(self) -> None:
        self.path = Path(tempfile.gettempdir()) / f"sensord-tests-pty-{os.getuid()}.lock"
        self._local = threading.RLock()
        self._depth = 0
        self._fd = -1

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._local:
            if self._depth == 0:
                fd = os.open(self.path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX)
                except BaseException:
                    os.close(fd)
                    raise
                self._fd = fd
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
                if self._depth == 0:
                    os.close(self._fd)  # and the lock with it
                    self._fd = -1


_allocation = _AllocationLock()


def pty_numbers_held() -> contextlib.AbstractContextManager[None]:
    """The lock every pty of the suite is made under, for a pty a test makes otherwise than
    with :class:`PtyPair`: ``os.openpty`` in the test, or ``sensord simulate`` in a thread or
    a subprocess (held until its pty is made: its link exists, or it printed the pty's path).
    Unlocked, such a pty can take the number of one :func:`pty_at_path` is making again, and a
    daemon reopening that path reads the other pty's device: another test's lines counted as
    the replugged device's."""
    return _allocation.held()


class PtyPair:
    """A pseudo-terminal: ``path`` is the serial port, the master end is the device.

    The test keeps the slave open too (in raw mode) so that ``slave_fd``'s termios show what
    the port was configured to; ``close_slave`` drops it.
    """

    def __init__(self) -> None:
        with _allocation.held():
            master, slave = pty.openpty()
        tty.setraw(slave)
        self.master_fd: int | None = master
        self.slave_fd: int | None = slave
        self.path: str = os.ttyname(slave)
        #: set by ``pty_at_path``: another process held this pty's number for a while after
        #: the old pty at ``path`` was closed, so a program opening ``path`` meanwhile may have
        #: opened that process's pty (and counted one more reconnect)
        self.contested = False

    def write(self, data: bytes) -> None:
        """Send ``data`` from the device to whoever reads the port."""
        if self.master_fd is None:
            raise OSError("the pty master is closed (unplugged)")
        view = memoryview(data)
        while view:
            view = view[os.write(self.master_fd, view) :]

    def read(self, size: int, timeout_s: float = 2.0) -> bytes:
        """Up to ``size`` bytes written to the port, waiting up to ``timeout_s`` for all."""
        if self.master_fd is None:
            raise OSError("the pty master is closed (unplugged)")
        deadline = time.monotonic() + timeout_s
        data = bytearray()
        while len(data) < size:
            left = deadline - time.monotonic()
            if left <= 0 or not wait_readable(self.master_fd, left):
                break
            data += os.read(self.master_fd, size - len(data))
        return bytes(data)

    def queued_bytes(self) -> int:
        """Bytes written by the device that no reader of the port has taken yet (FIONREAD on
        the test's own slave descriptor)."""
        if self.slave_fd is None:
            raise OSError("the test's slave descriptor is closed")
        data = fcntl.ioctl(self.slave_fd, termios.FIONREAD, b"\0\0\0\0")
        count: int = struct.unpack("i", data)[0]
        return count

    def close_master(self) -> None:
        """Unplug: the port's reader sees end of file or EIO. Idempotent."""
        if self.master_fd is not None:
            os.close(self.master_fd)
            self.master_fd = None

    def close_slave(self) -> None:
        """Close the test's own descriptor of the port. Idempotent."""
        if self.slave_fd is not None:
            os.close(self.slave_fd)
            self.slave_fd = None

    def close(self) -> None:
        self.close_master()
        self.close_slave()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SymlinkedPty:
    """A stable symlink (``link``) to the slave of the current ``pty``, like a
    /dev/serial/by-id link; ``replug`` points it at a new pty, whose path differs from the
    old one."""

    def __init__(self, link: Path) -> None:
        self.link = link
        self.pty = PtyPair()
        self._point_to(self.pty.path)

    def _point_to(self, target: str) -> None:
        staging = self.link.with_name(self.link.name + ".new")
        staging.unlink(missing_ok=True)
        staging.symlink_to(target)
        staging.replace(self.link)

    def unplug(self, *, remove_link: bool = False) -> None:
        """Close the device end. With ``remove_link``, as udev does: remove the link first
        and close the whole pty, so that the link never points at a pty number another
        device gets meanwhile."""
        if remove_link:
            self.link.unlink(missing_ok=True)
            self.pty.close()
        else:
            self.pty.close_master()

    def replug(self) -> PtyPair:
        """Create a new pty, re-point the link to it, then close the old one entirely."""
        old, self.pty = self.pty, PtyPair()
        self._point_to(self.pty.path)
        old.close()
        return self.pty

    def close(self) -> None:
        self.pty.close()


def pty_at_path(old: PtyPair, attempts: int = 64, wait_s: float = 15.0) -> PtyPair:
    """A new pty whose slave is ``old.path`` again: a device replugged under its old name (as
    a ttyUSB0 that comes back as ttyUSB0). ``old`` is closed here. The kernel hands out the
    lowest free pty number, so this works once every descriptor of the old pty is closed;
    lower free numbers met on the way are taken and released. The close and the search are
    made under the lock every pty of the suite is made under, so no other test's pty takes
    the number meanwhile; a process that still has the old pty open (one outside the suite,
    or a daemon of another test that opened it while it held the number) keeps the number
    until it closes it: the search is repeated until then or ``wait_s`` ends. Raises OSError
    when the path does not come back."""
    path = old.path
    deadline = time.monotonic() + wait_s
    contested = False
    with _allocation.held():
        old.close()
        while True:
            taken: list[PtyPair] = []
            try:
                for _ in range(attempts):
                    pair = PtyPair()
                    if pair.path == path:
                        pair.contested = contested
                        return pair
                    taken.append(pair)
                    if int(pair.path.rsplit("/", 1)[1]) > int(path.rsplit("/", 1)[1]):
                        break  # numbers are handed out lowest first: path is still in use
            finally:
                for pair in taken:
                    pair.close()
            if time.monotonic() >= deadline:
                break
            contested = True
            time.sleep(0.05)
    raise OSError(f"{path} did not come back as a new pty (still open somewhere?)")


@contextmanager
def ptys(count: int) -> Iterator[list[PtyPair]]:
    """``count`` new ptys for the block, every one closed after it."""
    made: list[PtyPair] = []
    try:
        for _ in range(count):
            made.append(PtyPair())
        yield made
    finally:
        for pair in made:
            pair.close()


@contextmanager
def symlinked_pty(tmp_path: Path, name: str = "ttySENSOR") -> Iterator[SymlinkedPty]:
    """A :class:`SymlinkedPty` at ``tmp_path / name``, closed on exit."""
    linked = SymlinkedPty(tmp_path / name)
    try:
        yield linked
    finally:
        linked.close()


class TcpPtyRelay:
    """Serves a pty on ``127.0.0.1`` for one TCP client, like ser2net serves a serial port.

    The relay thread has the pty's slave (the port) on one side and the TCP connection on the
    other, so the pty's master stays the device: ``pty.write`` reaches the client (``url``),
    the client's bytes arrive at ``pty.read``, and ``pty.close_master()`` ends the connection.
    """

    def __init__(self, pair: PtyPair) -> None:
        if pair.slave_fd is None:
            raise ValueError("the relay needs the pty's slave descriptor")
        self._port_fd = pair.slave_fd
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.url = f"socket://127.0.0.1:{self.port}"
        self._wake_r, self._wake_w = os.pipe()
        self._thread = threading.Thread(target=self._run, name=f"relay-{self.port}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        sel = selectors.DefaultSelector()
        sel.register(self._listener, selectors.EVENT_READ, "accept")
        sel.register(self._wake_r, selectors.EVENT_READ, "wake")
        conn: socket.socket | None = None
        try:
            while True:
                for key, _ in sel.select():
                    if key.data == "wake":
                        return
                    if key.data == "accept":
                        conn, _ = self._listener.accept()
                        sel.unregister(self._listener)
                        sel.register(conn, selectors.EVENT_READ, "tcp")
                        sel.register(self._port_fd, selectors.EVENT_READ, "pty")
                    elif key.data == "tcp" and conn is not None:
                        data = conn.recv(65536)
                        if not data:
                            return
                        view = memoryview(data)
                        while view:
                            view = view[os.write(self._port_fd, view) :]
                    elif conn is not None:
                        try:
                            data = os.read(self._port_fd, 65536)
                        except OSError:
                            return
                        if not data:
                            return
                        conn.sendall(data)
        except OSError:
            return
        finally:
            sel.close()
            if conn is not None:
                conn.close()

    def close(self) -> None:
        """Stop the relay and close the connection. Idempotent."""
        if self._wake_w < 0:
            return
        os.write(self._wake_w, b"x")
        self._thread.join(5)
        self._listener.close()
        os.close(self._wake_r)
        os.close(self._wake_w)
        self._wake_r = self._wake_w = -1

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class _LinelessPort(serial.Serial):
    """A pty as a server's serial port: it has no modem control lines to read or set."""

    @property
    def cts(self) -> bool:
        return False

    @property
    def dsr(self) -> bool:
        return False

    @property
    def ri(self) -> bool:
        return False

    @property
    def cd(self) -> bool:
        return False

    def _update_dtr_state(self) -> None:
        pass

    def _update_rts_state(self) -> None:
        pass


class Rfc2217Server:
    """An RFC 2217 server on ``127.0.0.1`` for a pty, as ser2net's ``telnet(rfc2217)`` or
    pyserial's example server (examples/rfc2217_server.py) serve a serial port: pyserial's
    ``PortManager`` speaks the protocol, the pty's slave is the port and its master stays the
    device. Bytes are passed on as they come, each way, as a serial server does.

    One client at a time. ``drop_client()`` ends the connection (the server restarts at
    once); ``go_away()`` closes the connection and the listener (the server is down:
    connections are refused) and ``come_back()`` listens on the same TCP port again;
    ``freeze()`` keeps the connection open but answers nothing and passes nothing on (a
    server that hangs), ``thaw()`` undoes it; ``stall()`` leaves the connection open and
    silent for good (its bytes are taken and dropped by the kernel's buffers) while the next
    connection is served (a server whose session hung until its client connects again).
    ``close()`` ends everything; idempotent."""

    def __init__(self, pair: PtyPair, *, unanswered: tuple[int, ...] = ()) -> None:
        self._port_path = pair.path
        #: RFC 2217 COM port commands of a one-byte value (SET-DATASIZE 2, SET-PARITY 3,
        #: SET-STOPSIZE 4) that the server takes without an answer, as
        #: a server that leaves a setting it cannot apply unconfirmed does
        self._unanswered = re.compile(
            b"|".join(re.escape(bytes([0xFF, 0xFA, 44, c])) + b".\xff\xf0" for c in unanswered)
            or b"(?!)",
            re.DOTALL,
        )
        self._listener: socket.socket | None = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.url = f"rfc2217://127.0.0.1:{self.port}"
        #: connections accepted so far
        self.accepted = 0
        self._client: socket.socket | None = None
        self._frozen = threading.Event()
        self._stalled = threading.Event()
        #: the connections left hung by ``stall``, kept open until ``close``
        self._hung: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._start()

    def _start(self) -> None:
        assert self._listener is not None
        self._listener.settimeout(0.05)
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(self._listener, self._stop), name=f"rfc2217-{self.port}"
        )
        self._thread.daemon = True
        self._thread.start()

    def _run(self, listener: socket.socket, stop: threading.Event) -> None:
        for client in accepted_clients(listener, stop):
            self.accepted += 1
            self._client = client
            try:
                with client, _LinelessPort(self._port_path, timeout=0) as port:
                    self._serve(client, port, stop)
            except OSError:  # the client went before it was served (its option offers failed)
                continue
            finally:
                self._client = None

    def _serve(self, client: socket.socket, port: serial.Serial, stop: threading.Event) -> None:
        class _Out:
            def write(self, data: bytes) -> None:
                client.sendall(data)

        # it takes any port and any object with write(); the stubs name rfc2217.Serial twice
        manager = serial.rfc2217.PortManager(port, _Out())  # type: ignore[arg-type]
        with selectors.DefaultSelector() as sel:
            sel.register(client, selectors.EVENT_READ, "tcp")
            sel.register(port.fileno(), selectors.EVENT_READ, "port")
            while not stop.is_set():
                if self._stalled.is_set():
                    self._stalled.clear()
                    self._hung.append(client.dup())  # open, never read nor written again
                    return
                if self._frozen.is_set():
                    time.sleep(0.01)
                    continue
                for key, _ in sel.select(0.05):
                    try:
                        if key.data == "tcp":
                            data = client.recv(4096)
                            if not data:
                                return
                            data = self._unanswered.sub(b"", data)
                            port.write(b"".join(manager.filter(data)))
                        elif waiting := port.in_waiting:
                            client.sendall(b"".join(manager.escape(port.read(waiting))))
                    except OSError:
                        return

    def drop_client(self) -> None:
        """Close the client's connection (the server restarts); the next client is served."""
        client = self._client
        if client is not None:
            with contextlib.suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)

    def freeze(self) -> None:
        """Answer nothing and pass nothing on, the connection left open (a hung server)."""
        self._frozen.set()

    def thaw(self) -> None:
        self._frozen.clear()

    def stall(self) -> None:
        """Leave the connection open and silent for good; serve the next one."""
        self._stalled.set()

    def go_away(self) -> None:
        """Close the connection and stop listening: the server is down. Idempotent."""
        self._stop.set()
        self.drop_client()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None
        if self._listener is not None:
            self._listener.close()
            self._listener = None

    def come_back(self) -> None:
        """Listen on the same TCP port again, after ``go_away``."""
        if self._listener is not None:
            raise ValueError("the server is still there")
        self._frozen.clear()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._start()

    def close(self) -> None:
        self._frozen.clear()
        self.go_away()
        for hung in self._hung:
            hung.close()
        self._hung.clear()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


_HOLDER_CODE = """\
import fcntl, os, sys, termios
fd = os.open(sys.argv[1], os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
if sys.argv[2] == "1":
    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
if sys.argv[3] == "1":
    fcntl.ioctl(fd, termios.TIOCEXCL)
print("ready", flush=True)
sys.stdin.read()
"""


@contextmanager
def held_by_subprocess(
    path: str, *, flock: bool = False, tiocexcl: bool = False, program: str = sys.executable
) -> Iterator[subprocess.Popen[str]]:
    """Another Python process that has ``path`` open (with ``flock``: exclusively locked, as
    pyserial's ``exclusive=True`` does; with ``tiocexcl``: in exclusive mode, which makes the
    kernel refuse any other open but root's, as gpsd does) until the block ends. ``program``
    is the interpreter's path as the process runs it, the first word of its command line (a
    link to it named as the daemon the process stands for: ``agetty``, ``ModemManager``)."""
    flags = ["1" if flock else "0", "1" if tiocexcl else "0"]
    proc: subprocess.Popen[str] = popen(
        [program, "-c", _HOLDER_CODE, path, *flags],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if line.strip() != "ready":
            raise RuntimeError(f"holder process failed to open {path}")
        yield proc
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()


def run_in_child(prepare: Callable[[], None], func: Callable[[], str]) -> str:
    """Run ``prepare`` (what the child gives up: its user, its access) then ``func`` in a
    forked child and return ``func``'s result, or ``"TypeName: message"`` of what either
    raised."""
    read_end, write_end = os.pipe()
    pid = os.fork()
    if pid == 0:  # child: never returns into the test runner
        try:
            os.close(read_end)
            try:
                prepare()
                result = func()
            except BaseException as exc:
                result = f"{type(exc).__name__}: {exc}"
            os.write(write_end, result.encode())
        finally:
            os._exit(0)
    os.close(write_end)
    chunks = []
    while chunk := os.read(read_end, 65536):
        chunks.append(chunk)
    os.close(read_end)
    os.waitpid(pid, 0)
    return b"".join(chunks).decode()


def run_as_user(uid: int, func: Callable[[], str]) -> str:
    """Run ``func`` in a forked child whose user and group ids are ``uid`` (the caller must be
    root) and return its result, or ``"TypeName: message"`` of what it raised.

    The child may be unable to read the interpreter's library (one under root's home, mode
    0700): what ``func`` imports must be imported before the fork. The ASCII codec, which
    sensord reads ``/proc`` with, is looked up here, whatever ran in this process before."""
    codecs.lookup("ascii")

    def become() -> None:
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)

    return run_in_child(become, func)
