"""The reader loop: one thread multiplexes every port.

* Sources with a file descriptor (device paths, pseudo-terminals, ``socket://``) are
  registered with a selector (epoll on Linux); when one is readable the loop reads one chunk
  with a non-blocking ``os.read`` and hands it to the sensor. No thread per port, and never a
  byte-at-a-time ``readline``.
* Timed sources (simulated ports) are read when their next frame is due.
* A source without a selectable descriptor (``rfc2217://``) gets a small thread of its own that
  blocks in ``read()`` and passes the chunks to the loop through a queue; the frames are still
  framed, parsed and processed in the loop thread, so every pipeline runs on one thread.

Opening ports, reopening them with backoff, polling and staleness run from the same loop on
timers, so the loop wakes only for data or for a deadline (at least once a second for
housekeeping). Other threads ask the loop to do something through ``call_soon``.
"""

from __future__ import annotations

import contextlib
import os
import queue
import selectors
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

import structlog

from sensord.errors import SourceBrokenError, SourceError
from sensord.sensor import SensorRuntime

__all__ = ["HOUSEKEEPING_INTERVAL_S", "Reader"]

HOUSEKEEPING_INTERVAL_S = 1.0

log = structlog.get_logger("sensord.reader")

_WAKE = object()


class _ThreadFeeder:
    """Blocking reads of one source without a selectable fd, on a thread of its own."""

    def __init__(
        self, sensor: SensorRuntime, out: queue.SimpleQueue[Any], wake: Callable[[], None]
    ):
        self.sensor = sensor
        self.source = sensor.source
        self._out = out
        self._wake = wake
        self.stopping = threading.Event()
        self.heartbeat = time.monotonic()
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
            except SourceError as exc:
                if not self.stopping.is_set():
                    self._out.put((self.sensor, self.source, exc))
                    self._wake()
                return
            if chunk:
                self._out.put((self.sensor, self.source, chunk))
                self._wake()

    def stop(self) -> None:
        self.stopping.set()


class Reader:
    """Owns the selector and drives every ``SensorRuntime``; see the module docstring."""

    def __init__(
        self,
        sensors: Iterable[SensorRuntime] = (),
        *,
        clock: Callable[[], float] = time.monotonic,
        on_housekeeping: Callable[[float], None] | None = None,
    ) -> None:
        self._clock = clock
        self._selector = selectors.DefaultSelector()
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._selector.register(self._wake_r, selectors.EVENT_READ, _WAKE)
        self._calls: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        self._chunks: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._feeders: dict[str, _ThreadFeeder] = {}
        self._registered: dict[str, int] = {}
        self.sensors: dict[str, SensorRuntime] = {}
        self._timed: dict[str, SensorRuntime] = {}
        self._deadline = 0.0
        self._stop = False
        self._closed = False
        self.on_housekeeping = on_housekeeping
        self.iterations = 0
        self.housekeeping_interval_s = HOUSEKEEPING_INTERVAL_S
        self.last_housekeeping = float("-inf")  # the first pass does housekeeping at once
        for sensor in sensors:
            self.add(sensor)

    @property
    def wakeup_fd(self) -> int:
        """Write a byte here to wake the loop (``signal.set_wakeup_fd`` uses it)."""
        return self._wake_w

    # -- membership ----------------------------------------------------------------------------
    def add(self, sensor: SensorRuntime) -> None:
        if sensor.name in self.sensors:
            raise ValueError(f"sensor {sensor.name!r} is already in the reader")
        self.sensors[sensor.name] = sensor
        sensor.next_open_at = min(sensor.next_open_at, self._clock())
        self._deadline = 0.0

    def remove(self, name: str) -> SensorRuntime:
        sensor = self.sensors.pop(name)
        self._detach(sensor)
        sensor.stop()
        return sensor

    def _attach(self, sensor: SensorRuntime) -> None:
        source = sensor.source
        assert source is not None
        fd = source.fileno()
        if fd is not None:
            self._selector.register(fd, selectors.EVENT_READ, sensor)
            self._registered[sensor.name] = fd
        elif source.next_due() is not None:
            self._timed[sensor.name] = sensor
        else:
            self._feeders[sensor.name] = _ThreadFeeder(sensor, self._chunks, self.wake)

    def _attach_or_disconnect(self, sensor: SensorRuntime) -> None:
        try:
            self._attach(sensor)
        except (OSError, ValueError) as exc:
            self._disconnect(sensor, f"cannot watch the port: {exc}")

    def _open_in_thread(self, sensor: SensorRuntime) -> None:
        """Open a network port on a helper thread; the result is applied on the loop thread."""
        sensor.opening = True
        source = sensor.new_source()

        def finish(error: SourceError | None) -> None:
            sensor.opening = False
            if self.sensors.get(sensor.name) is not sensor or sensor.state == "stopped":
                source.close()  # removed or stopped while connecting
            elif error is not None:
                sensor.open_failed(source, error)
            else:
                sensor.opened(source)
                self._attach_or_disconnect(sensor)

        def connect() -> None:
            try:
                source.open()
            except SourceError as exc:
                error = exc
                self.call_soon(lambda: finish(error))
            else:
                self.call_soon(lambda: finish(None))

        threading.Thread(target=connect, name=f"sensord-open-{sensor.name}", daemon=True).start()

    def _detach(self, sensor: SensorRuntime) -> None:
        fd = self._registered.pop(sensor.name, None)
        if fd is not None:
            with contextlib.suppress(KeyError, ValueError, OSError):
                self._selector.unregister(fd)
        self._timed.pop(sensor.name, None)
        feeder = self._feeders.pop(sensor.name, None)
        if feeder is not None:
            feeder.stop()

    def _disconnect(self, sensor: SensorRuntime, reason: str) -> None:
        self._detach(sensor)
        sensor.disconnect(reason)
        self._deadline = 0.0

    # -- cross-thread --------------------------------------------------------------------------
    def wake(self) -> None:
        with contextlib.suppress(BlockingIOError, OSError):
            os.write(self._wake_w, b"\0")

    def call_soon(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the loop thread at its next iteration (thread-safe)."""
        self._calls.put(fn)
        self.wake()

    def stop(self) -> None:
        """Ask the loop to return (thread-safe; also safe from a signal handler)."""
        self._stop = True
        self.wake()

    @property
    def feeders_alive(self) -> bool:
        """False when a blocking-read thread has not come back from ``read()`` for too long."""
        now = time.monotonic()
        for feeder in self._feeders.values():
            limit = 3 * feeder.sensor.config.serial.timeout_s + 5.0
            if now - feeder.heartbeat > limit:
                return False
        return True

    # -- the loop ------------------------------------------------------------------------------
    def run(self, *, until: Callable[[], bool] | None = None) -> None:
        """Loop until ``stop()`` (or ``until()`` returns True, checked every iteration)."""
        self._stop = False
        select = self._selector.select
        clock = self._clock
        while not self._stop and not (until is not None and until()):
            now = clock()
            if now >= self._deadline:
                self._deadline = self._service_timers(now)
            timeout = max(0.0, self._deadline - clock())
            for key, _mask in select(timeout):
                sensor = key.data
                if sensor is _WAKE:
                    self._drain_wake()
                    continue
                source = sensor.source
                if source is None:  # closed by an earlier event of this same batch
                    continue
                try:
                    chunk = source.read()
                except SourceBrokenError as exc:
                    self._disconnect(sensor, str(exc))
                    continue
                if chunk:
                    sensor.feed(chunk)
                    if sensor.source is None:  # the pipeline failed and closed the source
                        self._detach(sensor)
                        self._deadline = 0.0
            self.iterations += 1

    def _drain_wake(self) -> None:
        with contextlib.suppress(BlockingIOError, InterruptedError):
            while os.read(self._wake_r, 4096):
                pass
        while True:
            try:
                fn = self._calls.get_nowait()
            except queue.Empty:
                break
            try:
                fn()
            except Exception as exc:
                log.error("loop call failed", error=repr(exc), exc_info=exc)
        while True:
            try:
                sensor, source, item = self._chunks.get_nowait()
            except queue.Empty:
                break
            if sensor.source is not source:  # stale item from a closed source
                continue
            if isinstance(item, bytes):
                sensor.feed(item)
                if sensor.source is None:
                    self._detach(sensor)
            else:
                self._disconnect(sensor, str(item))
        self._deadline = 0.0

    def _service_timers(self, now: float) -> float:
        """Open what is due, read timed sources, poll, check staleness; the next deadline."""
        interval = self.housekeeping_interval_s
        deadline = now + interval
        housekeeping = now - self.last_housekeeping >= interval * 0.999
        for sensor in list(self.sensors.values()):
            if sensor.source is None:
                if sensor.state == "stopped" or sensor.opening:
                    continue
                if now < sensor.next_open_at:
                    deadline = min(deadline, sensor.next_open_at)
                    continue
                if sensor.opens_slowly:
                    self._open_in_thread(sensor)
                    continue
                if not sensor.try_open():
                    deadline = min(deadline, sensor.next_open_at)
                    continue
                self._attach_or_disconnect(sensor)
                if sensor.source is None:
                    continue
            source = sensor.source
            if source is None:
                continue
            if sensor.name in self._timed:
                due = source.next_due()
                if due is not None and now >= due:
                    try:
                        chunk = source.read()
                    except SourceBrokenError as exc:
                        self._disconnect(sensor, str(exc))
                        continue
                    if chunk:
                        sensor.feed(chunk)
                        if sensor.source is None:
                            self._detach(sensor)
                            continue
                    due = source.next_due()
                if due is not None:
                    deadline = min(deadline, due)
            poll_at = sensor.next_deadline()
            if housekeeping or (poll_at is not None and now >= poll_at):
                sensor.tick(now)
                if sensor.source is None:  # a poll write failed
                    self._detach(sensor)
                    continue
                poll_at = sensor.next_deadline()
            if poll_at is not None:
                deadline = min(deadline, poll_at)
        if housekeeping:
            self.last_housekeeping = now
            if self.on_housekeeping is not None:
                self.on_housekeeping(now)
        return min(deadline, self.last_housekeeping + interval)

    # -- shutdown ------------------------------------------------------------------------------
    def close(self) -> None:
        """Close every source and the selector. Idempotent."""
        if self._closed:
            return
        self._closed = True
        for sensor in list(self.sensors.values()):
            self._detach(sensor)
            sensor.stop()
        for feeder in list(self._feeders.values()):
            feeder.stop()
        self._selector.close()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
