"""What every part of the harness shares: its error, polling waits and free TCP ports."""

from __future__ import annotations

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


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on at the moment of the call."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port
