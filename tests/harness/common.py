"""What every part of the harness shares: its error, polling waits, free TCP ports and a
serial server that only greets."""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sensord.sensor_first_bytes import CUT_LINE_S

if TYPE_CHECKING:  # the benchmarks import the harness where pytest is not installed
    import pytest

    from sensord.sensor import SensorRuntime

REPO = Path(__file__).resolve().parent.parent.parent


class HarnessError(AssertionError):
    """A harness step could not complete: a wait timed out, a process failed or exited.

    An AssertionError, so that in a test it reads as the test's failure; the bench and the
    soak catch it to report the scenario or sample that could not be measured.
    """


def wait_for(
    predicate: Callable[[], bool], timeout_s: float, what: str, interval_s: float = 0.05
) -> None:
    """Poll ``predicate`` every ``interval_s`` until it is true; HarnessError after
    ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval_s)
    raise HarnessError(f"timed out after {timeout_s}s waiting for {what}")


def up_settled(sensor: Mapping[str, Any] | SensorRuntime) -> bool:
    """Whether ``sensor`` (its ``/status`` entry, or the sensor itself) is up and has been for
    longer than :data:`~sensord.sensor_first_bytes.CUT_LINE_S`: a line its device begins from
    now on is read whole. The first bytes of a streaming text port that come within
    ``CUT_LINE_S`` of its open are taken for the tail of a line begun before the open and
    dropped (``FirstBytes.line``), so a test whose device starts sending once the port is
    open waits for this, not for ``up`` alone. ``state_for_s`` starts over at every change of
    state, a reconnect's too: after a replug (or any reopen), wait for it again."""
    status = sensor if isinstance(sensor, Mapping) else sensor.snapshot().as_json()
    return bool(status["state"] == "up" and status["state_for_s"] > CUT_LINE_S)


def accepted_clients(listener: socket.socket, stop: threading.Event) -> Iterator[socket.socket]:
    """The connections a test server's ``listener`` (with a short timeout set) accepts, until
    ``stop`` is set or the listener is closed."""
    while not stop.is_set():
        try:
            client, _ = listener.accept()
        except TimeoutError:
            continue
        except OSError:  # closed under the server's feet: it is being torn down
            return
        yield client


class GreetingServer:
    """A serial server whose device is gone (ser2net with a ``banner``): it accepts every
    connection, writes ``banner`` on it and passes nothing else on. ``url`` is its
    ``socket://`` URL; ``connections`` the connections it accepted.

    The banner comes ``delay_s`` after the connection: at once by default, so that it
    reaches sensord while pyserial's ``socket://`` open still runs (which would discard it;
    sensord's own ``socket://`` port keeps it)."""

    def __init__(self, banner: bytes, delay_s: float = 0.0) -> None:
        self.banner = banner
        self.delay_s = delay_s
        self.connections: list[socket.socket] = []
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.1)
        self.url = f"socket://127.0.0.1:{self._listener.getsockname()[1]}"
        self._thread = threading.Thread(target=self._serve, daemon=True)

    def __enter__(self) -> GreetingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(2.0)
        self._listener.close()
        for connection in self.connections:
            connection.close()

    def _serve(self) -> None:
        for connection in accepted_clients(self._listener, self._stop):
            self.connections.append(connection)
            threading.Timer(self.delay_s, self._greet, (connection,)).start()

    def _greet(self, connection: socket.socket) -> None:
        with contextlib.suppress(OSError):  # closed when the server stopped
            connection.sendall(self.banner)


#: Each test process hands out ports of its own range, below the kernel's ephemeral ports
#: (32768 and up by default): a port the kernel picks for ``bind(0)`` may be picked again
#: for another process before the first has bound it (a daemon starts for a second or so),
#: and an outgoing connection's source port comes from the ephemeral range too; two
#: processes that both bind one port leave a test talking to the other's server.
_FIRST_PORT = 20000
_LAST_PORT = 32767
#: where this process starts in its range: random, so that two test sessions run at once
#: (a developer's and another's) seldom start on the same port either
_port_offsets = itertools.count(random.randrange(1 << 16))


def _port_range() -> tuple[int, int]:
    """The first port and the size of this process's range: the ports below the ephemeral
    ones shared out among pytest-xdist's workers (``gw3`` is 3 of ``PYTEST_XDIST_WORKER_COUNT``);
    outside a worker (the bench, the soak) the whole of them."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    count = os.environ.get("PYTEST_XDIST_WORKER_COUNT", "")
    index = int(worker[2:]) if worker[2:].isdigit() else 0
    workers = max(1, int(count)) if count.isdigit() else 1
    size = (_LAST_PORT + 1 - _FIRST_PORT) // max(workers, index + 1)
    return _FIRST_PORT + index * size, size


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on at the moment of the call, from this
    process's own range (:func:`_port_range`, used in turn, skipping those that are taken)."""
    base, size = _port_range()
    for _ in range(size):
        port = base + next(_port_offsets) % size
        with socket.socket() as s:  # no SO_REUSEADDR: a port in TIME_WAIT is skipped too
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise HarnessError(f"no free TCP port in {base}-{base + size - 1}")


def refuse_threads(monkeypatch: pytest.MonkeyPatch, prefix: str) -> list[str]:
    """From now until ``monkeypatch`` is undone, starting a thread whose name begins with
    ``prefix`` raises ``RuntimeError("can't start new thread")``, as it does in a process that
    may start no more (a service's ``TasksMax=``, memory); the names refused, as they come."""
    start = threading.Thread.start
    refused: list[str] = []

    def refusing(thread: threading.Thread) -> None:
        if thread.name.startswith(prefix):
            refused.append(thread.name)
            raise RuntimeError("can't start new thread")
        start(thread)

    monkeypatch.setattr(threading.Thread, "start", refusing)
    return refused
