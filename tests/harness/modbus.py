"""Real Modbus devices for tests: pymodbus servers on a thread of their own.

:class:`ModbusServer` runs pymodbus's ``ModbusTcpServer`` (Modbus TCP, or RTU framing over TCP
for ``socket://`` ports) or ``ModbusSerialServer`` (RTU on a serial port) in an asyncio loop on
a thread, with one datastore per unit id; the test writes register values into that datastore
(``set``) and reads what the server answered.

:class:`PtyRelay` joins two pseudo-terminals the way an RS-485 line joins a master and its
devices: sensord opens ``near.path``, the serial server opens ``far.path``, and a thread copies
the bytes between the two masters. ``mangle`` sees every chunk from the devices to sensord and
returns what sensord gets (drop a frame, corrupt a CRC, hold it back), for the fault cases;
``delay_s`` says how much later each chunk reaches sensord (a device's turnaround, an answer
after its timeout), the relay going on meanwhile, and with ``char_s`` the bytes reach it one
character time apart, as on a slow line (a pty has no baud rate); a request to one of
``silent_units`` never
reaches the devices, as with a unit that is dead (the serial server would answer for an
unknown unit id with an exception instead of staying silent). ``unplug`` closes sensord's end
as a USB adapter pulled out does, and ``replug`` gives it a new one (another pty, another
path), the devices' end and the server staying as they are.

:class:`TcpGateway` is a Modbus TCP gateway in front of an RTU line (a relay's ``near`` end):
it turns each MBAP request into an RTU request, waits for the device's reply up to its own
timeout, and answers the TCP client with the reply or, as gateways do, with exception 0B
(gateway target device failed to respond) when the device stayed silent.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import itertools
import os
import selectors
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any, Self

from pymodbus.framer import FramerRTU, FramerType
from pymodbus.server import ModbusSerialServer, ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from harness.common import HarnessError, accepted_clients, free_port
from harness.host_lag import keep_time
from harness.pty import PtyPair
from sensord.config import Config
from sensord.daemon import Daemon
from sensord.reader import Reader
from sensord.sensor import SensorRuntime

__all__ = ["FUNCTION_OF_TABLE", "ModbusServer", "PtyRelay", "TcpGateway", "rtu_frame"]

#: Table -> the function code pymodbus's datastore is addressed with.
FUNCTION_OF_TABLE = {"coil": 1, "discrete": 2, "holding": 3, "input": 4}

#: Registers (and bits) in each table of each unit's datastore.
STORE_SIZE = 1000


def _device(unit: int, first_address: int | Mapping[str, int] = 0) -> SimDevice:
    """A device with STORE_SIZE coils, discrete inputs, holding and input registers from
    ``first_address`` (one for every table, or each table's); a read outside them is
    answered with exception 02."""

    def first(table: str) -> int:
        return first_address if isinstance(first_address, int) else first_address[table]

    def bits(table: str) -> list[SimData]:
        return [SimData(first(table), values=[False] * STORE_SIZE, datatype=DataType.BITS)]

    def registers(table: str) -> list[SimData]:
        return [SimData(first(table), values=[0] * STORE_SIZE, datatype=DataType.REGISTERS)]

    return SimDevice(
        unit,
        simdata=(bits("coil"), bits("discrete"), registers("holding"), registers("input")),
    )


#: Ports a TCP Modbus server tries before its start fails.
LISTEN_TRIES = 5


class ModbusServer:
    """A pymodbus server answering for ``units``; ``kind`` is ``"tcp"`` (MBAP), ``"rtu-tcp"``
    (RTU frames over TCP) or ``"serial"`` (RTU on the serial port ``path``). Each unit maps
    STORE_SIZE addresses from ``first_address`` (devices whose manuals put registers at
    30775, say), or each table from its own (``{"holding": 0x9000, "input": 0x3100, ...}``)."""

    def __init__(
        self,
        units: Iterable[int],
        kind: str = "tcp",
        path: str = "",
        first_address: int | Mapping[str, int] = 0,
    ) -> None:
        self.kind = kind
        self.devices = [_device(unit, first_address) for unit in units]
        self.port = free_port()
        self.path = path
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: Any = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="modbus-server", daemon=True)

    @property
    def url(self) -> str:
        """The port sensord names for this server."""
        if self.kind == "tcp":
            return f"modbus-tcp://127.0.0.1:{self.port}"
        if self.kind == "rtu-tcp":
            return f"socket://127.0.0.1:{self.port}"
        raise ValueError("a serial server has no URL: sensord opens the relay's near end")

    def set(self, unit: int, table: str, address: int, values: list[int]) -> None:
        """Write ``values`` into the datastore of ``unit`` from 0-based ``address`` on (on
        the server's loop; the server must be running)."""
        loop, server = self._loop, self._server
        assert loop is not None
        assert server is not None
        stored: list[int] | list[bool] = values
        if table in ("coil", "discrete"):
            stored = [bool(v) for v in values]
        future = asyncio.run_coroutine_threadsafe(
            server.context.async_setValues(unit, FUNCTION_OF_TABLE[table], address, stored), loop
        )
        if future.result(5.0) is not None:
            raise HarnessError(f"the server refused {table} {address}: {values}")

    def get(self, unit: int, table: str, address: int, count: int = 1) -> list[int]:
        """The values of ``unit``'s datastore from 0-based ``address`` on (what a client
        wrote there, say)."""
        loop, server = self._loop, self._server
        assert loop is not None
        assert server is not None
        future = asyncio.run_coroutine_threadsafe(
            server.context.async_getValues(unit, FUNCTION_OF_TABLE[table], address, count), loop
        )
        values = future.result(5.0)
        if not isinstance(values, list):
            raise HarnessError(f"the server refused to give {table} {address}+{count}: {values}")
        return [int(v) for v in values]

    def _run(self) -> None:
        keep_time()
        try:
            asyncio.run(self._main())
        except BaseException as exc:  # reported by start()
            self._error = exc
            self._ready.set()

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        if self.kind == "serial":
            self._server = ModbusSerialServer(
                self.devices,
                framer=FramerType.RTU,
                port=self.path,
                baudrate=115200,
                ignore_missing_devices=True,  # a unit id nobody has gets no answer
            )
            if not await self._server.listen():
                raise HarnessError(f"the Modbus server could not open {self.path}")
        else:
            # a port free when it was chosen may be taken before the server binds it (another
            # process's connection): another free port then, before anyone was told of it
            framer = FramerType.SOCKET if self.kind == "tcp" else FramerType.RTU
            for _ in range(LISTEN_TRIES):
                self._server = ModbusTcpServer(
                    self.devices,
                    framer=framer,
                    address=("127.0.0.1", self.port),
                    ignore_missing_devices=True,
                )
                if await self._server.listen():
                    break
                self.port = free_port()
            else:
                raise HarnessError(f"the Modbus server could not listen on {LISTEN_TRIES} ports")
        self._ready.set()
        await self._server.serving

    def start(self) -> Self:
        self._thread.start()
        if not self._ready.wait(10.0) or self._error is not None:
            raise HarnessError(f"the Modbus server did not start: {self._error!r}")
        return self

    def stop(self) -> None:
        loop, server = self._loop, self._server
        if loop is not None and server is not None and self._thread.is_alive():
            future = asyncio.run_coroutine_threadsafe(server.shutdown(), loop)
            with contextlib.suppress(Exception):
                future.result(5.0)
        self._thread.join(5.0)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class PtyRelay:
    """Two pseudo-terminals joined by a thread (see the module docstring)."""

    def __init__(
        self,
        mangle: Callable[[bytes], bytes] | None = None,
        silent_units: Iterable[int] = (),
        *,
        echo: bool = False,
        answer: Callable[[bytes], bytes | None] | None = None,
        delay_s: Callable[[bytes], float] | None = None,
        char_s: float = 0.0,
    ) -> None:
        self.near = PtyPair()
        self.far = PtyPair()
        self.mangle = mangle
        self.delay_s = delay_s
        self.char_s = char_s
        #: bytes for sensord still held back: (when, order, bytes, when the request before
        #: them came)
        self._later: list[tuple[float, int, bytes, float]] = []
        #: when the last request came from sensord
        self._asked_at = 0.0
        #: the longest time from a request's arrival to the delivery of bytes held back after
        #: it (the device's own turnaround included, and what a loaded host adds to it)
        self.held_answer_s = 0.0
        self._order = itertools.count()
        #: when the last byte held back reaches sensord (one line: bytes keep their order)
        self._line_free = 0.0
        self.silent_units = frozenset(silent_units)
        #: a request for which this returns bytes is answered with them by the relay itself
        #: and never reaches the server (a device's firmware refusing what the server takes)
        self.answer = answer
        #: send every request back to sensord as it goes out, as an RS-485 adapter that
        #: hears its own transmission does
        self.echo = echo
        #: bytes sensord sent, as the devices saw them
        self.requests = bytearray()
        #: every byte the device sent, as it sent them (before ``mangle`` and delays)
        self.answers = bytearray()
        #: for each request the devices answered, how long after the relay read it the first
        #: bytes of the answer came from them: the server's own turnaround, and how long a
        #: loaded host held the relay and the server (threads of the test's process) back
        self.turnarounds_s: list[float] = []
        self._awaited = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pty-relay", daemon=True)

    def start(self) -> Self:
        self._thread.start()
        return self

    def unplug(self) -> None:
        """Close sensord's end (``near``) entirely: sensord reads end of file or EIO. The
        relay stops until ``replug``; what the devices send meanwhile waits in their pty."""
        self._stop.set()
        self._thread.join(5.0)
        self.near.close()

    def replug(self) -> str:
        """A new pty as sensord's end, and the relay going again; its path. What the devices
        sent while it was unplugged, and what was held back for sensord, is dropped: it went
        out on a line that nobody listened to."""
        self.near = PtyPair()
        self._later.clear()
        self._line_free = 0.0
        far = self.far.master_fd
        assert far is not None
        os.set_blocking(far, False)
        with contextlib.suppress(BlockingIOError, OSError):
            while os.read(far, 4096):
                pass
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="pty-relay", daemon=True)
        self._thread.start()
        return self.near.path

    def _run(self) -> None:
        keep_time()
        near, far = self.near.master_fd, self.far.master_fd
        assert near is not None
        assert far is not None
        os.set_blocking(near, False)
        os.set_blocking(far, False)
        with selectors.DefaultSelector() as sel:
            sel.register(near, selectors.EVENT_READ, far)
            sel.register(far, selectors.EVENT_READ, near)
            while not self._stop.is_set():
                wait_s = 0.05
                if self._later:
                    wait_s = min(wait_s, max(0.0, self._later[0][0] - time.monotonic()))
                for key, _ in sel.select(wait_s):
                    try:
                        data = os.read(key.fd, 4096)
                    except BlockingIOError:
                        continue
                    except OSError:
                        # EIO: nobody holds the pty's other end (sensord closed its port); the
                        # master stays readable, and the relay, ahead of the host's other work
                        # (``keep_time``), waits a moment rather than spin on it
                        self._stop.wait(0.001)
                        continue
                    if not data:
                        continue
                    if key.fd == near:
                        self.requests += data
                        self._asked_at = time.monotonic()
                        self._awaited = True
                        if self.echo:
                            with contextlib.suppress(OSError):
                                os.write(near, data)
                        if data[0] in self.silent_units:
                            continue
                        own = None if self.answer is None else self.answer(data)
                        if own is not None:
                            with contextlib.suppress(OSError):
                                os.write(near, own)
                            continue
                    else:
                        self.answers += data
                        if self._awaited:
                            self._awaited = False
                            self.turnarounds_s.append(time.monotonic() - self._asked_at)
                        if self.mangle is not None:
                            data = self.mangle(data)
                        delay = self.delay_s(data) if self.delay_s is not None and data else 0.0
                        if data and (delay > 0 or self.char_s > 0):
                            self._hold(data, delay)
                            continue
                    if data:
                        with contextlib.suppress(OSError):
                            os.write(key.data, data)
                self._release(near)

    def _hold(self, data: bytes, delay_s: float) -> None:
        """Hold ``data`` back for ``delay_s``, after what is held already, each byte one
        ``char_s`` after the one before."""
        at = max(time.monotonic() + delay_s, self._line_free)
        if self.char_s <= 0:
            heapq.heappush(self._later, (at, next(self._order), data, self._asked_at))
            self._line_free = at
            return
        for i in range(len(data)):
            held = (at + i * self.char_s, next(self._order), data[i : i + 1], self._asked_at)
            heapq.heappush(self._later, held)
        self._line_free = at + len(data) * self.char_s

    def _release(self, near: int) -> None:
        """Send sensord the bytes held back whose time has come."""
        now = time.monotonic()
        due = bytearray()
        while self._later and self._later[0][0] <= now:
            _, _, data, asked_at = heapq.heappop(self._later)
            due += data
            self.held_answer_s = max(self.held_answer_s, now - asked_at)
        if due:
            with contextlib.suppress(OSError):
                os.write(near, due)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5.0)
        self.near.close()
        self.far.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def rtu_frame(body: bytes) -> bytes:
    """``body`` (unit id and PDU) with its CRC: an RTU frame."""
    return body + FramerRTU.compute_CRC(body).to_bytes(2, "big")


def _rtu_reply_length(request: bytes, head: bytes) -> int:
    """The length of the RTU reply to a read ``request`` (unit, function, address, count)
    whose first bytes are ``head``."""
    if len(head) >= 2 and head[1] & 0x80:
        return 5  # unit, function | 0x80, code, CRC
    function, count = request[1], int.from_bytes(request[4:6], "big")
    if function in (1, 2):
        return 5 + (count + 7) // 8
    return 5 + 2 * count


class TcpGateway:
    """A Modbus TCP to RTU gateway on 127.0.0.1 (see the module docstring): one client at a
    time, one request at a time, as a small gateway serves them."""

    def __init__(
        self, line_path: str, timeout_s: float = 0.2, answer_as: int | None = None
    ) -> None:
        self.line_path = line_path
        self.timeout_s = timeout_s
        #: the unit id of every answer, whatever was asked (None: the device's), as devices
        #: and gateways that answer with unit 0 or 255 do
        self.answer_as = answer_as
        self.port = free_port()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._listener.settimeout(0.05)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tcp-gateway", daemon=True)

    @property
    def url(self) -> str:
        return f"modbus-tcp://127.0.0.1:{self.port}"

    def _run(self) -> None:
        line = os.open(self.line_path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        try:
            for client in accepted_clients(self._listener, self._stop):
                with client:
                    client.settimeout(0.05)
                    self._serve(client, line)
        finally:
            os.close(line)

    def _serve(self, client: socket.socket, line: int) -> None:
        pending = b""
        while not self._stop.is_set():
            try:
                data = client.recv(4096)
            except TimeoutError:
                continue
            except OSError:
                return
            if not data:
                return
            pending += data
            while len(pending) >= 7:
                tid, pid, length = struct.unpack(">HHH", pending[:6])
                if len(pending) < 6 + length:
                    break
                body, pending = pending[6 : 6 + length], pending[6 + length :]
                reply = self._exchange(line, body)
                answer = reply[:-2] if reply else bytes([body[0], body[1] | 0x80, 0x0B])
                if self.answer_as is not None:
                    answer = bytes([self.answer_as]) + answer[1:]
                with contextlib.suppress(OSError):
                    client.sendall(struct.pack(">HHH", tid, pid, len(answer)) + answer)

    def _exchange(self, line: int, body: bytes) -> bytes:
        """The RTU device's whole reply to ``body`` (unit and PDU), or b"" after the timeout."""
        with contextlib.suppress(OSError):
            while os.read(line, 4096):  # drop what a late reply left on the line
                pass
        os.write(line, rtu_frame(body))
        reply = b""
        deadline = time.monotonic() + self.timeout_s
        with selectors.DefaultSelector() as sel:
            sel.register(line, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                if not sel.select(max(0.0, deadline - time.monotonic())):
                    continue
                with contextlib.suppress(BlockingIOError):
                    reply += os.read(line, 4096)
                if len(reply) >= 2 and len(reply) >= _rtu_reply_length(body, reply):
                    return reply
        return b""

    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5.0)
        self._listener.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def daemon_in_process(config: Config) -> Daemon:
    """A daemon of ``config`` built in this process, its sensors in its reader, whose loop the
    test runs on its own thread (``run_reader_until``) and closes (``daemon.reader.close()``)."""
    daemon = Daemon(config, environ={})
    for runtime in daemon._built:
        daemon.reader.add(runtime)
    daemon._refresh_runtimes()
    return daemon


@contextlib.contextmanager
def waking(reader: Any, every_s: float = 0.005) -> Iterator[None]:
    """``reader``'s loop woken every ``every_s`` meanwhile, from another thread: it looks at
    its buses often, not only when bytes come."""
    stop = threading.Event()

    def wake() -> None:
        while not stop.wait(every_s):
            reader.wake()

    waker = threading.Thread(target=wake, name="waker", daemon=True)
    waker.start()
    try:
        yield
    finally:
        stop.set()
        waker.join(5.0)


def run_reader_until(reader: Any, predicate: Callable[[], bool], timeout_s: float) -> None:
    """Run ``reader``'s loop on this thread until ``predicate()`` or ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    reader.run(until=lambda: predicate() or time.monotonic() > deadline)
    if not predicate():
        raise HarnessError(f"not reached within {timeout_s}s")


def read_all(config: Config, done: Callable[[Reader], bool], timeout_s: float = 10.0) -> Reader:
    """A reader over ``config``'s sensors, run on this thread until ``done(reader)`` (the
    caller closes it)."""
    reader = Reader([SensorRuntime(s) for s in config.sensors])
    try:
        run_reader_until(reader, lambda: done(reader), timeout_s)
    except BaseException:
        reader.close()
        raise
    return reader
