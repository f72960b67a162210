"""What every part of the harness shares: its error, polling waits, free TCP ports and a
serial server that only greets."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

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


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on at the moment of the call."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port
