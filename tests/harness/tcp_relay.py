"""A TCP relay on 127.0.0.1 in front of a real server: what gateways and networks do to a
Modbus TCP (or RTU over TCP) connection, made on demand.

sensord connects to the relay (``url``); for each connection the relay opens one to the
server behind it and copies the bytes both ways on one thread. Its knobs, which a test may
change at any time:

* ``hold(reply)``: how much later a reply reaches sensord (a gateway waiting for a device, a
  slow serial server); replies keep their order, so one held back holds back the ones behind
  it, and replies that fall due together go out in one segment;
* ``in_order``: False lets a reply held back go out after the ones behind it (a gateway with
  several serial lines, which serves each line's requests while another line's device is
  still to answer);
* ``byte_gap_s``: replies go out one byte at a time, this far apart;
* ``pieces(reply)``: instead of both, the pieces a reply goes out in, each with how much
  later than the reply it goes (a reply split across segments, its rest after a pause);
* ``mangle(reply)``: the bytes sensord gets instead of a reply (a wrong transaction id,
  protocol id or length);
* ``ignore``: connections are accepted, and what sensord sends never reaches the server;
* ``deaf_after_connect_s``: what sensord sends on a connection sooner than that after it was
  accepted never reaches the server (a Huawei SDongle drops the requests that come before
  it has set up its side of a new connection);
* :meth:`stall`: the connections open now stay open and answer nothing for good (what
  sensord sends on them is taken and dropped), while new ones are served: a gateway whose
  session is stuck until its client connects again;
* ``idle_close_s``: a connection quiet for that long is closed (FIN), as many gateways do;
* ``reply_idle_close_s``: a connection that sent no reply for that long is closed (FIN), also
  while requests come on it: a gateway whose inactivity time counts only what its serial side
  sends, with a device behind it that stopped answering;
* ``close_after_reply``: a connection is closed (FIN) as soon as a reply has gone out on it,
  as a Modbus TCP server that serves one request per connection does;
* ``close_on(request)``: a request for which it is true closes its connection (FIN) instead
  of reaching the server, as a server that ends the connection of a request it does not
  take (a unit id it does not serve) does;
* ``single_client``: a new connection resets the ones open before it (RST), as gateways that
  serve one client at a time do when a second client connects;
* :meth:`reset`: every open connection is reset (RST);
* :meth:`refuse` and :meth:`listen`: the listening socket goes away (connections are refused,
  as while a gateway reboots) and comes back on the same port.

A reply is what one read from the server returns (pymodbus writes each whole); with
``mbap`` (Modbus TCP) the bytes are cut into MBAP frames first, so a reply is one frame.
"""

from __future__ import annotations

import contextlib
import heapq
import itertools
import selectors
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Self

from harness.common import free_port

__all__ = ["TcpRelay"]


@dataclass
class _Connection:
    client: socket.socket
    server: socket.socket
    #: bytes from the server not yet cut into frames (MBAP)
    pending: bytes = b""
    #: bytes for the client still held back: (when, order, bytes)
    later: list[tuple[float, int, bytes]] = field(default_factory=list)
    #: when the last byte held back goes out (replies keep their order)
    line_free: float = 0.0
    last_activity: float = field(default_factory=time.monotonic)
    #: when the last reply went out (or the connection was accepted)
    last_reply: float = field(default_factory=time.monotonic)
    #: stuck for good (see ``TcpRelay.stall``)
    stalled: bool = False
    accepted_at: float = field(default_factory=time.monotonic)


class TcpRelay:
    """See the module docstring. ``server_port`` is the port of the server on 127.0.0.1."""

    def __init__(self, server_port: int, *, mbap: bool = True) -> None:
        self.server_port = server_port
        self.mbap = mbap
        self.port = free_port()
        self.hold: Callable[[bytes], float] | None = None
        self.in_order = True
        self.byte_gap_s = 0.0
        self.pieces: Callable[[bytes], list[tuple[float, bytes]]] | None = None
        self.mangle: Callable[[bytes], bytes] | None = None
        self.ignore = False
        self.deaf_after_connect_s = 0.0
        #: requests dropped because they came too soon after their connection was accepted
        self.dropped_early = 0
        self.idle_close_s: float | None = None
        self.reply_idle_close_s: float | None = None
        #: a request that comes after the connection carried nothing for this long closes it
        #: unanswered: the gateway's idle close crossing the request on the wire
        self.close_on_request_after_s: float | None = None
        #: requests that closed their connection so
        self.closed_on_request = 0
        self.single_client = False
        self.close_after_reply = False
        self.close_on: Callable[[bytes], bool] | None = None
        self.closed_on = 0
        #: connections accepted so far, and requests (bytes) received from sensord
        self.accepted = 0
        self.received = bytearray()
        self._order = itertools.count()
        self._connections: dict[int, _Connection] = {}
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self._calls: list[Callable[[], None]] = []
        self._stop = threading.Event()
        self._selector = selectors.DefaultSelector()
        self._thread = threading.Thread(target=self._run, name="tcp-relay", daemon=True)

    def url(self, scheme: str = "modbus-tcp") -> str:
        return f"{scheme}://127.0.0.1:{self.port}"

    @property
    def open_connections(self) -> int:
        with self._lock:
            return len(self._connections)

    # -- control (any thread) ------------------------------------------------------------------
    def _call(self, fn: Callable[[], None]) -> None:
        done = threading.Event()

        def call() -> None:
            try:
                fn()
            finally:
                done.set()

        with self._lock:
            self._calls.append(call)
        if not done.wait(5.0):
            raise TimeoutError("the relay did not run the call")

    def reset(self) -> None:
        """Reset every open connection (RST to sensord)."""
        self._call(lambda: self._close_all(rst=True))

    def stall(self) -> None:
        """The connections open now answer nothing more, for good; new ones are served."""

        def stick() -> None:
            for conn in self._connections.values():
                conn.stalled = True
                conn.later.clear()

        self._call(stick)

    def refuse(self) -> None:
        """Stop listening (new connections are refused) and reset the open ones."""

        def down() -> None:
            self._close_all(rst=True)
            if self._listener is not None:
                self._selector.unregister(self._listener)
                self._listener.close()
                self._listener = None

        self._call(down)

    def listen(self) -> None:
        """Listen (again) on the same port."""

        def up() -> None:
            if self._listener is None:
                self._open_listener()

        self._call(up)

    # -- the relay thread ----------------------------------------------------------------------
    def _open_listener(self) -> None:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(8)
        listener.setblocking(False)
        self._listener = listener
        self._selector.register(listener, selectors.EVENT_READ, None)

    def _run(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                calls, self._calls = self._calls, []
            for call in calls:
                call()
            wait_s = 0.02
            now = time.monotonic()
            for conn in list(self._connections.values()):
                if conn.later:
                    wait_s = min(wait_s, max(0.0, conn.later[0][0] - now))
            for key, _ in self._selector.select(wait_s):
                if key.data is None:
                    self._accept()
                else:
                    conn, from_client = key.data
                    self._read(conn, from_client)
            now = time.monotonic()
            for conn in list(self._connections.values()):
                self._release(conn, now)
                if self.idle_close_s is not None and now - conn.last_activity > self.idle_close_s:
                    self._close(conn, rst=False)
                reply_idle_s = self.reply_idle_close_s
                if reply_idle_s is not None and now - conn.last_reply > reply_idle_s:
                    self._close(conn, rst=False)
        self._close_all(rst=False)
        if self._listener is not None:
            self._listener.close()
        self._selector.close()

    def _accept(self) -> None:
        assert self._listener is not None
        try:
            client, _ = self._listener.accept()
        except OSError:
            return
        self.accepted += 1
        if self.single_client:
            self._close_all(rst=True)
        try:
            server = socket.create_connection(("127.0.0.1", self.server_port), timeout=2.0)
        except OSError:
            client.close()
            return
        server.setblocking(False)
        client.setblocking(False)
        conn = _Connection(client, server)
        with self._lock:
            self._connections[client.fileno()] = conn
        self._selector.register(client, selectors.EVENT_READ, (conn, True))
        self._selector.register(server, selectors.EVENT_READ, (conn, False))

    def _read(self, conn: _Connection, from_client: bool) -> None:
        sock = conn.client if from_client else conn.server
        try:
            data = sock.recv(4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if not data:
            self._close(conn, rst=False)
            return
        now = time.monotonic()
        crossing = self.close_on_request_after_s
        if from_client and crossing is not None and now - conn.last_activity >= crossing:
            self.received += data
            self.closed_on_request += 1
            self._close(conn, rst=False)
            return
        conn.last_activity = now
        if from_client:
            self.received += data
            if self.close_on is not None and self.close_on(data):
                self.closed_on += 1
                self._close(conn, rst=False)
                return
            if self.ignore or conn.stalled:
                return
            if time.monotonic() - conn.accepted_at < self.deaf_after_connect_s:
                self.dropped_early += 1
                return
            with contextlib.suppress(OSError):
                conn.server.sendall(data)
            return
        if conn.stalled:
            return
        mangle = self.mangle
        for reply in self._replies(conn, data):
            self._schedule(conn, reply if mangle is None else mangle(reply))

    def _replies(self, conn: _Connection, data: bytes) -> list[bytes]:
        if not self.mbap:
            return [data]
        conn.pending += data
        out = []
        while len(conn.pending) >= 6:
            (length,) = struct.unpack(">H", conn.pending[4:6])
            if len(conn.pending) < 6 + length:
                break
            out.append(conn.pending[: 6 + length])
            conn.pending = conn.pending[6 + length :]
        return out

    def _schedule(self, conn: _Connection, reply: bytes) -> None:
        if self.pieces is not None:
            pieces = self.pieces(reply)
        else:
            delay = 0.0 if self.hold is None else self.hold(reply)
            gap = self.byte_gap_s
            if gap <= 0:
                pieces = [(delay, reply)]
            else:
                pieces = [(delay + i * gap, reply[i : i + 1]) for i in range(len(reply))]
        now = time.monotonic()
        for delay, piece in pieces:
            if not self.in_order:
                heapq.heappush(conn.later, (now + delay, next(self._order), piece))
                continue
            at = max(now + delay, conn.line_free)
            heapq.heappush(conn.later, (at, next(self._order), piece))
            conn.line_free = at

    def _release(self, conn: _Connection, now: float) -> None:
        due = bytearray()
        while conn.later and conn.later[0][0] <= now:
            due += heapq.heappop(conn.later)[2]
        if due:
            conn.last_activity = conn.last_reply = now
            try:
                conn.client.sendall(due)
            except OSError:
                self._close(conn, rst=False)
                return
            if self.close_after_reply and not conn.later:
                self._close(conn, rst=False)

    def _close(self, conn: _Connection, *, rst: bool) -> None:
        with self._lock:
            if self._connections.pop(conn.client.fileno(), None) is None:
                return
        for sock in (conn.client, conn.server):
            with contextlib.suppress(KeyError, ValueError):
                self._selector.unregister(sock)
            if rst and sock is conn.client:
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.close()

    def _close_all(self, *, rst: bool) -> None:
        for conn in list(self._connections.values()):
            self._close(conn, rst=rst)

    def start(self) -> Self:
        self._open_listener()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5.0)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
