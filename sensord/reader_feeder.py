"""The blocking reads of a port without a selectable descriptor (``rfc2217://``), on a
thread of its own.

A :class:`ThreadFeeder` blocks in its source's ``read()`` (at most the port's read timeout)
and queues each chunk, with its port and source, for the reader loop, which frames, parses
and processes it on the loop's thread, so every pipeline runs on one thread; a read that
raises is queued the same way, and ends the thread. It queues at most
:data:`FEEDER_QUEUED_CHUNKS` chunks the loop has not taken, then waits for the loop to take
one (``taken``): a port that delivers faster than its sensor takes its data then fills its
own receive queue, which has a bound. Its ``heartbeat`` tells the reader whether it is stuck
in a read; the reader owns the thread, stops it and joins it.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable
from typing import Any, Generic, Protocol, TypeVar

from sensord.sources.base import Source

__all__ = ["FEEDER_QUEUED_CHUNKS", "FedPort", "ThreadFeeder"]

#: The most chunks a blocking-read thread queues for the loop before it waits for the loop
#: to take them (64 KiB of 4 KiB chunks): a port that delivers faster than its sensor
#: takes its data then fills its own receive queue, which has a bound (an ``rfc2217://``
#: port's drops and counts what does not fit), rather than this one.
FEEDER_QUEUED_CHUNKS = 16


class FedPort(Protocol):
    """What a feeder reads for: the reader's port (``reader.Port``), by its name and source."""

    name: str
    source: Source | None


P = TypeVar("P", bound=FedPort)


class ThreadFeeder(Generic[P]):
    """Blocking reads of one source without a selectable fd, on a thread of its own. It
    queues at most :data:`FEEDER_QUEUED_CHUNKS` chunks the loop has not taken (``taken``
    makes room)."""

    def __init__(self, sensor: P, out: queue.SimpleQueue[Any], wake: Callable[[], None]):
        self.sensor = sensor
        self.source = sensor.source
        self._out = out
        self._wake = wake
        self.stopping = threading.Event()
        self.heartbeat = time.monotonic()
        self._room = threading.Semaphore(FEEDER_QUEUED_CHUNKS)
        self.thread = threading.Thread(
            target=self._run, name=f"sensord-read-{sensor.name}", daemon=True
        )
        self.thread.start()

    def _run(self) -> None:
        source = self.source
        assert source is not None
        while not self.stopping.is_set():
            self.heartbeat = time.monotonic()
            try:
                chunk = source.read()
            except Exception as exc:  # a SourceError, or a bug: the loop tells them apart
                if not self.stopping.is_set():
                    self._out.put((self.sensor, self.source, exc, None))
                    self._wake()
                return
            if chunk:
                while not self._room.acquire(timeout=0.5):
                    if self.stopping.is_set():
                        return
                    self.heartbeat = time.monotonic()  # waiting for the loop: not stuck
                self._out.put((self.sensor, self.source, chunk, self))
                self._wake()

    def taken(self) -> None:
        """The loop took one of this thread's chunks."""
        self._room.release()

    def stop(self) -> None:
        self.stopping.set()
