"""The reader loop: one thread multiplexes every port.

* Sources with a file descriptor (device paths, pseudo-terminals, ``socket://``) are
  registered with a selector (epoll on Linux); when one is readable the loop reads one chunk
  with a non-blocking ``os.read`` and hands it to the sensor. No thread per port, and never a
  byte-at-a-time ``readline``.
* Timed sources (simulated ports) are read when their next frame is due, or, after a poll or
  set-up command was written to one, when its answer is.
* A source without a selectable descriptor (``rfc2217://``) gets a small thread of its own that
  blocks in ``read()`` and passes the chunks to the loop through a queue
  (``sensord.reader_feeder``); the frames are still
  framed, parsed and processed in the loop thread, so every pipeline runs on one thread. The
  thread of a bus's port wakes the loop through a pipe of its own that ends the batch pause
  (see ``Reader.run``), as a bus's descriptor does.

The loop's unit is a **port**: a sensor that reads a port of its own, or a Modbus bus
(``sensord.bus``), which owns the one port its devices share and schedules their exchanges.
Either is opened, watched, read and reopened the same way.

Opening ports, reopening them with backoff, polling and staleness run from the same loop on
timers, so the loop wakes only for data or for a deadline (at least once a second for
housekeeping). While no port is up and none delivers (every sensor stale or down: a host
whose devices are unplugged or asleep), housekeeping comes every
``idle_housekeeping_interval_s`` instead, and the first data brings the one-second pace back
at once. Other threads ask the loop to do something through ``call_soon``.

The reader owns every thread it starts (network opens, blocking readers): ``close`` stops them
(an RFC 2217 open waiting for its server is abandoned: ``Source.abort_open``)
and joins them, the opens within ``OPEN_JOIN_LIMIT_S`` (a name lookup or a connect left
unanswered cannot be cut short) and the readers within ``JOIN_LIMIT_S``, and what a thread
finishes after that is cleaned up by the thread itself (a source opened after the close is
closed at once). A closed reader never
writes into the wake-up descriptors it closed.
"""

from __future__ import annotations

import contextlib
import math
import os
import queue
import select
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

import structlog

from sensord.capture import CaptureJournal
from sensord.config_sensor import SensorConfig
from sensord.errors import PortCloseError, SourceBrokenError, SourceError
from sensord.log import RateLimiter
from sensord.reader_feeder import ThreadFeeder
from sensord.reader_peers import SharedPeers
from sensord.reopen import as_source_error
from sensord.retry import Retry
from sensord.sensor import SensorRuntime
from sensord.shared_port import SharedPortScan, SharedPortWatch
from sensord.sources.base import Source

if TYPE_CHECKING:  # loaded with the first Modbus device
    from sensord.bus import Bus
    from sensord.bus_left import LeftExchange

__all__ = [
    "BATCH_INTERVAL_S",
    "BUSY_READ_BYTES",
    "HOUSEKEEPING_INTERVAL_S",
    "IDLE_HOUSEKEEPING_INTERVAL_S",
    "NO_THREAD_HINT",
    "Port",
    "Reader",
]

HOUSEKEEPING_INTERVAL_S = 1.0

#: Housekeeping's pace while no port is up and nothing arrives: what is left to do then (a
#: stale sensor's state does not change until data comes, which the loop reads at once) is
#: the watchdog ping, the status line and the line error counters.
IDLE_HOUSEKEEPING_INTERVAL_S = 5.0

#: How long ``close`` waits for the blocking readers together: each blocks for at most its
#: port's read timeout.
JOIN_LIMIT_S = 6.0

#: How long ``close`` waits for the network opens still running after ``abort_open``: an RFC
#: 2217 open ends within 50 ms of it, while a name lookup whose DNS server does not answer, or
#: a TCP connect the peer leaves unanswered (a gateway switched off, or whose connection
#: queue is full), cannot be cut short and would hold a stop for up to pyserial's 5 s connect
#: timeout. Such an open is left to finish on its thread, which closes its source itself.
OPEN_JOIN_LIMIT_S = 0.5

#: While ports keep delivering, the loop polls at most once per this interval, so that each pass
#: reads what gathered meanwhile in one chunk per port (see ``Reader.run``). About the latency
#: that USB serial adapters add anyway (an FTDI chip holds a slow stream for up to 16 ms).
BATCH_INTERVAL_S = 0.02

#: A read at least this large means a port fills its kernel buffer (4 KiB for a tty) fast: the
#: loop then polls again at once instead of waiting out the batch interval.
BUSY_READ_BYTES = 2048

log = structlog.get_logger("sensord.reader")

T = TypeVar("T")

_WAKE = object()


#: How often one port's unexpected failures are logged, with their traceback, at most.
PORT_FAILURE_LOG_S = 60.0

#: What keeps a process from starting a thread, said where a port's thread cannot start.
NO_THREAD_HINT = "(the service's task limit, TasksMax= in systemctl edit sensord, or memory)"


class Port(Protocol):
    """What the loop drives: a ``SensorRuntime`` with a port of its own, or a ``Bus``."""

    name: str
    source: Source | None
    state: str
    opening: bool
    retry: Retry
    #: when the reader's timers next need the port (kept by ``Reader._service_timers``)
    timers_at: float
    #: whether another process has the port open too (searched at housekeeping)
    shared_port: SharedPortWatch

    @property
    def opens_slowly(self) -> bool: ...
    @property
    def read_timeout_s(self) -> float: ...
    @property
    def awaiting_reply(self) -> bool: ...
    def new_source(self) -> Source: ...
    def try_open(self) -> bool: ...
    def open_failed(self, source: Source | None, exc: SourceError) -> None: ...
    def opened(self, source: Source) -> None: ...
    def disconnect(self, reason: str, *, own_fault: bool = False) -> None: ...
    def feed(self, chunk: bytes) -> None: ...
    def tick(self, now: float) -> None: ...
    def next_deadline(self) -> float | None: ...
    def stop(self) -> None: ...


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
        # epoll itself rather than the selectors module: the loop wakes for every chunk, and
        # selectors' per-event key objects cost as much as a small chunk's framing.
        self._epoll = select.epoll()
        self._watched: dict[int, Any] = {}  # fd -> its Port, or _WAKE
        #: the descriptors of the buses' ports: what arrives there ends the batch pause
        self._replies = select.epoll()
        self._reply_fds: set[int] = set()
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        #: the wake-up of the blocking-read threads of buses' ports: watched by the loop as
        #: the other wake-up is, and, as the buses' descriptors are, by the batch pause
        self._reply_wake_r, self._reply_wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._replies.register(self._reply_wake_r, select.EPOLLIN)
        #: the names of the buses whose port is read by a blocking-read thread
        self._bus_feeders: set[str] = set()
        #: guards the wake-up descriptors and ``_closed`` against threads that wake the loop
        self._lock = threading.RLock()
        #: helper threads that open network ports; each removes itself when done
        self._openers: dict[threading.Thread, Source] = {}
        self._watch(self._wake_r, _WAKE)
        self._watch(self._reply_wake_r, _WAKE)
        self._calls: queue.SimpleQueue[Callable[[], None]] = queue.SimpleQueue()
        #: the log lines of ports' unexpected failures, by port (``_port_failed``)
        self._failures = RateLimiter(PORT_FAILURE_LOG_S)
        self._chunks: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._feeders: dict[str, ThreadFeeder[Port]] = {}
        #: feeders told to stop that may still be in a blocking read: joined at close
        self._stopped_feeders: list[ThreadFeeder[Port]] = []
        self._registered: dict[str, int] = {}
        #: every sensor, by name (devices on a bus included)
        self.sensors: dict[str, SensorRuntime] = {}
        #: what the loop opens and reads: sensors with a port of their own, and buses
        self._ports: dict[str, Port] = {}
        self._buses: dict[str, Bus] = {}
        #: the exchanges of devices that left each bus stopped when its last device left (a
        #: reload) whose answers may still come, for a bus built anew on its port
        #: (``Bus.follow``)
        self._left: dict[str, list[LeftExchange]] = {}
        #: the hosts and ports that buses' network connections reached in this run, whatever
        #: bus (a reload builds one anew): a refusal there is no absent gateway (``Bus``)
        self._reached: set[tuple[str, int]] = set()
        self._timed: dict[str, Port] = {}
        #: the peers the ports' connections reached in this run (``sensord.reader_peers``)
        self._peers = SharedPeers(self.sensors, self._buses)
        #: when the ``holding`` under way began (None: none is)
        self._held_since: float | None = None
        self._deadline = 0.0
        #: the next timer pass visits every port, whatever its ``timers_at``
        self._visit_all = True
        self._stop = False
        self._closed = False
        self.on_housekeeping = on_housekeeping
        self.housekeeping_interval_s = HOUSEKEEPING_INTERVAL_S
        self.idle_housekeeping_interval_s = IDLE_HOUSEKEEPING_INTERVAL_S
        self.batch_interval_s = BATCH_INTERVAL_S
        self.last_housekeeping = float("-inf")  # the first pass does housekeeping at once
        #: no port was up at the last housekeeping and nothing has arrived since
        self.idle = False
        self._fed = False  # data arrived since the last housekeeping
        #: the chunks read for the sensors' capture rings since the last flush (see
        #: ``sensord.capture.CaptureJournal``): flushed at housekeeping, at the end of a pass
        #: that read a large chunk or filled it, before a ring is read or resized, at close
        self.journal = CaptureJournal()
        #: the search for other processes that have a port open too (``sensord.shared_port``),
        #: a slice at each housekeeping: its time limit is real time, whatever ``clock``
        self._shared_scan = SharedPortScan()
        #: the thread running ``run`` (None while none does)
        self._loop_thread: int | None = None
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
        key = sensor.bus_key
        port: Port
        if key is None:
            port = self._ports[sensor.name] = sensor
        else:
            bus = self._buses.get(key)
            created = bus is None
            if bus is None:
                from sensord.bus import Bus  # noqa: PLC0415  (loaded with the first Modbus device)

                bus = Bus(
                    key,
                    sensor.config,
                    clock=self._clock,
                    simulated=sensor.simulated,
                    reached=self._reached,
                )
                left = self._left.pop(key, None)
                if left:
                    bus.follow(left)
            bus.add(sensor)  # before the bus is kept: one that raises leaves the reader as it was
            if created:
                self._buses[key] = bus
                self._ports[key] = bus
            port = bus
        self.sensors[sensor.name] = sensor
        self._peers.mark((sensor,))  # a device added to a bus that shares its peer shares it
        sensor.use_journal(self.journal)
        port.retry.next_at = min(port.retry.next_at, self._clock())
        self._wake_timers()

    def retune(self, name: str, config: SensorConfig) -> list[str]:
        """Give sensor ``name`` ``config``, which its ``retunes_to`` accepts, with its port
        open (``SensorRuntime.retune``; its bus, if on one, times silences by its new
        ``stale_after``); the channels that start afresh."""
        sensor = self.sensors[name]
        fresh = sensor.retune(config)
        key = sensor.bus_key
        if key is not None:
            self._buses[key].retuned(sensor)
        self._wake_timers()
        return fresh

    def remove(self, name: str) -> SensorRuntime:
        self._wake_timers()  # a bus that keeps its other devices schedules them anew
        sensor = self.sensors.pop(name)
        sensor.use_journal(None)  # its ring gets what the journal holds for it
        key = sensor.bus_key
        if key is None:
            self._ports.pop(name, None)
            self._detach(sensor)
            self._peers.left(name)
        else:
            bus = self._buses[key]
            bus.remove(name)
            if not bus.devices:  # the last device: the bus closes its port
                del self._buses[key]
                self._ports.pop(key, None)
                self._detach(bus)
                self._peers.left(key)
                bus.stop()
                now = self._clock()
                self._left = {
                    k: left
                    for k, left in self._left.items()
                    if any(each.late_until > now for each in left)
                }
                if any(each.late_until > now for each in bus.left.kept):
                    self._left[key] = bus.left.kept
        sensor.stop()
        return sensor

    @contextlib.contextmanager
    def holding(self) -> Iterator[None]:
        """Run the body on the loop's thread between two of its passes (a reload): the loop
        reads no port meanwhile, and what arrives is read after it. The time it took does not
        count against the answers of devices that left a bus, which its open port held
        meanwhile and the clock alone would show came too late: each is awaited that much
        longer (``Bus.held``). Within another ``holding`` the body is part of that one."""
        if self._held_since is not None:
            yield
            return
        since = self._held_since = self._clock()
        try:
            yield
        finally:
            self._held_since = None
            held_s = self._clock() - since
            for bus in self._buses.values():
                bus.held(held_s)

    def _watch(self, fd: int, data: Any) -> None:
        if fd in self._watched:
            raise ValueError(f"file descriptor {fd} is already watched")
        self._epoll.register(fd, select.EPOLLIN)
        self._watched[fd] = data

    def _attach(self, sensor: Port) -> None:
        source = sensor.source
        assert source is not None
        if source.peer is not None:
            self._peers.reached(sensor.name, source.peer)
        fd = source.fileno()
        if fd is not None:
            self._watch(fd, sensor)
            self._registered[sensor.name] = fd
            if not isinstance(sensor, SensorRuntime):
                self._replies.register(fd, select.EPOLLIN)
                self._reply_fds.add(fd)
        elif source.next_due() is not None:
            self._timed[sensor.name] = sensor
        elif not isinstance(sensor, SensorRuntime):
            self._feeders[sensor.name] = ThreadFeeder(sensor, self._chunks, self._wake_replies)
            self._bus_feeders.add(sensor.name)
        else:
            self._feeders[sensor.name] = ThreadFeeder(sensor, self._chunks, self.wake)

    def _attach_or_disconnect(self, sensor: Port) -> None:
        try:
            self._attach(sensor)
        except (OSError, ValueError) as exc:
            self._disconnect(sensor, f"cannot watch the port: {exc}", own_fault=True)
        except RuntimeError as exc:  # a port without a descriptor gets no reader thread
            self._disconnect(
                sensor,
                f"cannot start the port's reader thread: {exc} {NO_THREAD_HINT}",
                own_fault=True,
            )

    def _open_in_thread(self, sensor: Port) -> None:
        """Open a network port on a helper thread; the result is applied on the loop thread."""
        sensor.opening = True
        try:
            source = sensor.new_source()
        except Exception as exc:
            sensor.opening = False
            self._open_failed(sensor, None, as_source_error(sensor.name, exc))
            return

        def finish(error: SourceError | None) -> None:
            sensor.opening = False
            if (
                self._closed
                or self._ports.get(sensor.name) is not sensor
                or sensor.state == "stopped"
            ):
                # removed or stopped while connecting, or the reader closed: it runs on the
                # opening thread then, while ``close`` stops the sensors on its own
                source.close()
                return
            if error is not None:
                self._open_failed(sensor, source, error)
                return
            try:
                sensor.opened(source)
                self._attach_or_disconnect(sensor)
            except Exception as exc:  # no port's bug is the loop's end, nor a silent port
                if sensor.source is None:  # not taken: closed here
                    source.close()
                self._port_failed(sensor, exc, "taking its connection")
                return
            self.idle = False  # a port up: staleness to watch at the usual pace

        def connect() -> None:
            try:
                try:
                    source.open()
                except Exception as exc:
                    error = as_source_error(sensor.name, exc)
                    self.call_soon(lambda: finish(error))
                else:
                    self.call_soon(lambda: finish(None))
            finally:
                with self._lock:
                    self._openers.pop(threading.current_thread(), None)

        thread = threading.Thread(target=connect, name=f"sensord-open-{sensor.name}", daemon=True)
        with self._lock:
            self._openers[thread] = source
        try:
            thread.start()
        except RuntimeError as exc:  # no thread to be had: the port is retried as if it failed
            with self._lock:
                self._openers.pop(thread, None)
            sensor.opening = False
            self._open_failed(
                sensor,
                source,
                SourceError(
                    sensor.name,
                    f"cannot start a thread to open the port: {exc} {NO_THREAD_HINT}",
                ),
            )

    def _open_failed(self, sensor: Port, source: Source | None, error: SourceError) -> None:
        """Hand ``sensor`` its failure to open ``source``: ``open_failed`` closes the source
        and counts the failure. Its own code raising there is a port failure (see
        ``_port_failed``), the source closed and the failure counted once all the same."""
        failures = sensor.retry.failures
        try:
            sensor.open_failed(source, error)
        except Exception as exc:
            self._port_failed(sensor, exc, "taking its failure to connect", failures)

    def _try_open(self, sensor: Port) -> bool:
        """``sensor.try_open``: True when the port is open. Its ``open_failed`` raising (its
        own code, as it takes a failure to open) is taken as in ``_open_failed``."""
        failures = sensor.retry.failures
        try:
            return sensor.try_open()
        except Exception as exc:
            if sensor.retry.failures == failures:  # not a failure to open taken: the caller's
                raise
            self._port_failed(sensor, exc, "taking its failure to open", failures)
            return False

    def _detach(self, sensor: Port) -> None:
        fd = self._registered.pop(sensor.name, None)
        if fd is not None:
            with contextlib.suppress(KeyError, ValueError, OSError):
                self._epoll.unregister(fd)
            self._watched.pop(fd, None)
            if fd in self._reply_fds:
                self._reply_fds.discard(fd)
                with contextlib.suppress(KeyError, ValueError, OSError):
                    self._replies.unregister(fd)
        self._timed.pop(sensor.name, None)
        self._bus_feeders.discard(sensor.name)
        feeder = self._feeders.pop(sensor.name, None)
        if feeder is not None:
            feeder.stop()
            self._stopped_feeders = [f for f in self._stopped_feeders if f.thread.is_alive()]
            self._stopped_feeders.append(feeder)

    def _disconnect(self, sensor: Port, reason: str, *, own_fault: bool = False) -> None:
        """Close ``sensor``'s port for ``reason``; ``own_fault``: sensord's own failure (the
        port could not be watched, its code raised), never an end its peer made."""
        self._detach(sensor)
        sensor.disconnect(reason, own_fault=own_fault)
        self._wake_timers()

    def _lost(self, sensor: Port, reason: str) -> None:
        """``_disconnect`` of a port that broke as it was read; its close raising there (an
        I/O error, a bug) is that port's failure (see ``_port_failed``), not the loop's end."""
        try:
            self._disconnect(sensor, reason)
        except Exception as exc:
            self._port_failed(sensor, exc, "closing its port")

    def _port_failed(
        self, sensor: Port, exc: Exception, doing: str, failures: int | None = None
    ) -> None:
        """``sensor``'s source, or its own code, raised what no port should while ``doing``
        (a bug, or a simulated device that its configuration breaks): logged with the
        traceback (once a minute per port) and the port closed, to be opened again at its
        backoff, while the other ports go on. Never the loop's end.

        ``failures``: the port's count of failures before the call that raised, when that
        call was its ``open_failed`` (which closes the source it failed to open, then counts
        the failure): a failure it counted before it raised is left to the disconnect here
        to count, so that it grows the backoff once.

        A ``PortCloseError`` is a port disconnected already, for the reason it was lost,
        whose close then raised (logged as the failure): it is not disconnected again, which
        would take it for a port that never opened and replace that reason with its own."""
        if failures is not None and sensor.retry.failures > failures:
            sensor.retry.failures = failures
        closed = isinstance(exc, PortCloseError)
        error = exc.__cause__ if closed and isinstance(exc.__cause__, Exception) else exc
        held = self._failures.check(sensor.name)
        if held is not None:
            log.error(
                "port failed unexpectedly; it is opened again at its backoff",
                sensor=sensor.name,
                during=doing,
                error=repr(error),
                suppressed=held,
                exc_info=error,
            )
        if closed:
            self._detach(sensor)
            self._wake_timers()
            return
        try:
            self._disconnect(sensor, f"unexpected error {doing}: {exc!r}", own_fault=True)
        except Exception as again:  # its close failed too: the port is left to its backoff
            unclosed = again.__cause__ if isinstance(again, PortCloseError) else again
            log.error("port could not be closed", sensor=sensor.name, error=repr(unclosed))
            self._detach(sensor)
            self._wake_timers()

    # -- cross-thread --------------------------------------------------------------------------
    def wake(self) -> None:
        with self._lock:
            if self._closed:
                return
            with contextlib.suppress(BlockingIOError, OSError):
                os.write(self._wake_w, b"\0")

    def _wake_replies(self) -> None:
        """Wake the loop, also from its batch pause: what a bus's port read has come."""
        with self._lock:
            if self._closed:
                return
            with contextlib.suppress(BlockingIOError, OSError):
                os.write(self._reply_wake_w, b"\0")

    def call_soon(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the loop thread at its next iteration (thread-safe). Once the reader is
        closed there is no loop: ``fn`` runs at once on the calling thread."""
        with self._lock:
            if not self._closed:
                self._calls.put(fn)
                with contextlib.suppress(BlockingIOError, OSError):
                    os.write(self._wake_w, b"\0")
                return
        fn()

    def on_loop(self, fn: Callable[[], T], fallback: Callable[[], T], timeout_s: float) -> T:
        """``fn()`` run on the loop's thread (at once when called there, or when no loop
        runs), its result given to the calling thread; ``fallback()`` on the calling thread
        when the loop has not run it within ``timeout_s`` (it is not run later then) or it
        raised."""
        if self._loop_thread is None or self._loop_thread == threading.get_ident():
            return fn()
        done = threading.Event()
        abandoned = threading.Event()
        result: list[T] = []

        def call() -> None:
            try:
                if not abandoned.is_set():  # nobody waits for it any more: no work for a
                    result.append(fn())  # loop that is behind already
            finally:
                done.set()

        self.call_soon(call)
        if done.wait(timeout_s) and result:
            return result[0]
        abandoned.set()
        return fallback()

    def stop(self) -> None:
        """Ask the loop to return (thread-safe; also safe from a signal handler)."""
        self._stop = True
        self.wake()

    @property
    def feeders_alive(self) -> bool:
        """False when a blocking-read thread has not come back from ``read()`` for too long."""
        now = time.monotonic()
        for feeder in self._feeders.values():
            limit = 3 * feeder.sensor.read_timeout_s + 5.0
            if now - feeder.heartbeat > limit:
                return False
        return True

    # -- the loop ------------------------------------------------------------------------------
    def run(self, *, until: Callable[[], bool] | None = None) -> None:
        """Loop until ``stop()`` (or ``until()`` returns True, checked every iteration).

        While ports keep delivering, the loop polls at most once per ``batch_interval_s``:
        after a poll that found data it sleeps out the rest of the interval (never past a
        timer's deadline), so that the next poll reads what gathered meanwhile in one chunk per
        port. Each pass costs a wake-up, a read per port and a batch per channel whatever it
        carries, so this trades at most one interval of latency for far less CPU
        (docs/performance.md). A port that delivers less often is read as soon as data arrives,
        and a read of ``BUSY_READ_BYTES`` or more (a port filling its kernel buffer fast) stops
        the pausing until the ports slow down again. The pause waits on the buses' ports:
        a bus's reply ends it and is read as it comes, so the pause adds nothing to a round
        trip while the other ports stay batched, and a reply already there when the bus's
        timeout comes is read before the bus is ticked (``_read_before_tick``), so it is not
        counted late. So is what the port of a polled sensor holds when its next poll is due
        while the last request awaits its answer (``SensorRuntime.awaiting_reply``): one read
        of that port, at that poll only, and none of a port that is not polled. A bus's port
        without a descriptor (``rfc2217://``) ends the pause through the wake-up of its
        blocking-read thread, and the chunks that thread queued are taken before the bus is
        ticked (a polled sensor's, before its poll is written).
        """
        self._stop = False
        self._loop_thread = threading.get_ident()
        try:
            self._loop(until)
        finally:
            self._loop_thread = None

    def _loop(self, until: Callable[[], bool] | None) -> None:
        poll = self._epoll.poll
        journal = self.journal
        watched = self._watched
        reply_fds = self._reply_fds
        bus_feeders = self._bus_feeders
        await_reply = self._replies.poll
        clock = self._clock
        gathered_at = float("-inf")  # when the last poll that found (only small) chunks began
        while not self._stop and not (until is not None and until()):
            now = clock()
            pause = min(gathered_at + self.batch_interval_s, self._deadline) - now
            if pause > 0:
                # a bus's reply ends the pause: it is read as it comes, so the pause adds
                # nothing to a round trip nor runs an exchange into its timeout
                if reply_fds or bus_feeders:
                    await_reply(pause)
                else:
                    time.sleep(pause)
                now = clock()
            if now >= self._deadline:
                # what the timers do that is due at once (a sensor added by housekeeping)
                # lowers the deadline meanwhile, and keeps it
                self._deadline = float("inf")
                self._deadline = min(self._service_timers(now), self._deadline)
                now = clock()
            timeout = max(0.0, self._deadline - now)
            polled_at = now
            gathered = busy = False
            for fd, _events in poll(timeout):
                sensor = watched.get(fd)
                if sensor is None:  # unwatched by an earlier event of this same batch
                    continue
                if sensor is _WAKE:
                    self._drain_wake()
                    continue
                source = sensor.source
                if source is None:  # closed by an earlier event of this same batch
                    continue
                try:
                    chunk = source.read()
                except SourceBrokenError as exc:
                    self._lost(sensor, str(exc))
                    continue
                except Exception as exc:  # no port's bug is the loop's end
                    self._port_failed(sensor, exc, "reading its port")
                    continue
                if chunk:
                    gathered = True
                    if len(chunk) >= BUSY_READ_BYTES:
                        busy = True
                    try:
                        sensor.feed(chunk)
                    except Exception as exc:
                        self._port_failed(sensor, exc, "taking what it read")
                        continue
                    if sensor.source is None:  # the pipeline failed and closed the source
                        self._detach(sensor)
                        self._wake_timers()
                    due = sensor.next_deadline()  # a bus sends its next request after a reply
                    if due is not None:
                        if due < sensor.timers_at:
                            sensor.timers_at = due
                        if due < self._deadline:
                            self._deadline = due
            if gathered:
                if busy or journal.due:
                    journal.flush()
                gathered_at = float("-inf") if busy else polled_at
                if self.idle:
                    self._wake_from_idle()

    def _read_before_tick(self, sensor: Port, source: Source) -> None:
        """Read what a port waiting for a reply holds before its tick may time the exchange
        out (a bus) or write the next poll request (a polled sensor): a reply that came while
        the loop was busy elsewhere, or paused between passes, is the exchange's, not a late
        one. A port that breaks is disconnected."""
        try:
            chunk = source.read()
            if chunk:
                self._fed = True
                self.idle = False
                sensor.feed(chunk)
        except SourceBrokenError as exc:
            self._disconnect(sensor, str(exc))
            return
        except Exception as exc:
            self._port_failed(sensor, exc, "reading a reply")
            return
        if sensor.source is None:
            self._detach(sensor)

    @property
    def housekeeping_every_s(self) -> float:
        """The housekeeping interval in force: the idle one while ``idle``."""
        return self.idle_housekeeping_interval_s if self.idle else self.housekeeping_interval_s

    def _wake_from_idle(self) -> None:
        """Data arrived while idle: housekeeping at its usual pace again, the next pass one
        usual interval after the last."""
        self.idle = False
        self._fed = True
        self._deadline = min(self._deadline, self.last_housekeeping + self.housekeeping_interval_s)

    def _drain_wake(self) -> None:
        for fd in (self._wake_r, self._reply_wake_r):
            with contextlib.suppress(BlockingIOError, InterruptedError):
                while os.read(fd, 4096):
                    pass
        if self._run_calls():  # a call (an open that finished) may move any port's deadline
            self._wake_timers()
        self._take_chunks()

    def _wake_timers(self) -> None:
        """A timer pass at once, visiting every port (see ``_service_timers``)."""
        self._deadline = 0.0
        self._visit_all = True

    def _take_chunks(self) -> None:
        """Feed what the blocking-read threads have read, and disconnect the sources whose
        thread failed. A chunk may move its port's deadline earlier (a bus's next request
        after a reply): it lowers that port's ``timers_at``, as a chunk read in the loop
        does; a port lost makes the next timer pass visit every port."""
        while True:
            try:
                sensor, source, item, feeder = self._chunks.get_nowait()
            except queue.Empty:
                break
            if feeder is not None:
                feeder.taken()
            if sensor.source is not source:  # stale item from a closed source
                continue
            if isinstance(item, bytes):
                if self.idle:
                    self._wake_from_idle()
                self._fed = True
                try:
                    sensor.feed(item)
                except Exception as exc:
                    self._port_failed(sensor, exc, "taking what it read")
                    continue
                if self.journal.due:
                    self.journal.flush()
                if sensor.source is None:  # the pipeline failed and closed the source
                    self._detach(sensor)
                    self._wake_timers()
                    continue
                due = sensor.next_deadline()
                if due is not None:
                    if due < sensor.timers_at:
                        sensor.timers_at = due
                    if due < self._deadline:
                        self._deadline = due
            elif isinstance(item, SourceError):
                self._lost(sensor, str(item))
            else:
                self._port_failed(sensor, item, "reading its port")

    def _run_calls(self) -> bool:
        """Run the calls other threads asked for; True when there were any."""
        ran = False
        while True:
            try:
                fn = self._calls.get_nowait()
            except queue.Empty:
                return ran
            ran = True
            try:
                fn()
            except Exception as exc:
                log.error("loop call failed", error=repr(exc), exc_info=exc)

    def _service_timers(self, now: float) -> float:
        """Open what is due, read timed sources, poll, check staleness; the next deadline.

        Each port visited keeps the earliest time its timers need it again (``timers_at``):
        a pass that is not housekeeping skips the ports whose time has not come, so that a
        site of hundreds of ports, whose polls make many passes a second, visits each port
        at its own deadlines only. What moves a port's deadline earlier outside a pass is a
        chunk fed to it, read in the loop or by its blocking-read thread (its
        ``next_deadline`` lowers ``timers_at``), or what makes the next pass visit every port
        (``_visit_all``: a port added, disconnected or detached, a call from another
        thread); housekeeping visits every port too."""
        interval = self.housekeeping_every_s
        housekeeping = now - self.last_housekeeping >= interval * 0.999
        visit_all = housekeeping or self._visit_all
        self._visit_all = False
        deadline = now + interval
        up = False
        for sensor in list(self._ports.values()):
            if not visit_all and now < sensor.timers_at:
                if sensor.timers_at < deadline:
                    deadline = sensor.timers_at
                continue
            at = math.inf  # the port's own deadline
            try:
                if housekeeping and sensor.state == "up":
                    up = True
                if sensor.source is None:
                    if sensor.state == "stopped" or sensor.opening:
                        continue
                    if not sensor.retry.due(now):
                        at = min(at, sensor.retry.next_at)
                        continue
                    if sensor.opens_slowly:
                        self._open_in_thread(sensor)
                        if not sensor.opening:  # failed before its thread started
                            at = min(at, sensor.retry.next_at)
                        continue
                    if not self._try_open(sensor):
                        at = min(at, sensor.retry.next_at)
                        continue
                    self._attach_or_disconnect(sensor)
                    if sensor.source is None:
                        continue
                    up = True  # a port up: staleness to watch at the usual pace
                    self.idle = False
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
                            at = min(at, sensor.retry.next_at)  # its reopen
                            continue
                        if chunk:
                            self._fed = True
                            self.idle = False
                            sensor.feed(chunk)
                            if self.journal.due:
                                self.journal.flush()
                            if sensor.source is None:
                                self._detach(sensor)
                                at = min(at, sensor.retry.next_at)
                                continue
                        due = source.next_due()
                    if due is not None:
                        at = min(at, due)
                poll_at = None if housekeeping else sensor.next_deadline()
                if housekeeping or (poll_at is not None and now >= poll_at):
                    if sensor.awaiting_reply:  # a reply already read is the exchange's, not late
                        if sensor.name in self._feeders:
                            self._take_chunks()  # a blocking-read thread may hold it (rfc2217)
                        elif sensor.name in self._registered:
                            self._read_before_tick(sensor, source)
                        if sensor.source is None:  # it broke, or its pipeline closed it
                            at = min(at, sensor.retry.next_at)  # its reopen
                            continue
                    sensor.tick(now)
                    if sensor.source is None:  # a poll write failed
                        self._detach(sensor)
                        at = min(at, sensor.retry.next_at)  # its reopen
                        continue
                    poll_at = sensor.next_deadline()
                    if sensor.name in self._timed:  # a simulated device answers what tick wrote
                        due = sensor.source.next_due()
                        if due is not None:
                            at = min(at, due)
                if poll_at is not None:
                    at = min(at, poll_at)
            except Exception as exc:  # no port's bug is the loop's end
                self._port_failed(sensor, exc, "at its timers (open, poll, staleness)")
                at = min(at, sensor.retry.next_at)
            finally:
                sensor.timers_at = at
                if at < deadline:
                    deadline = at
        if housekeeping:
            self.journal.flush()
            # a slice of the search for other processes on the ports due (sensord.shared_port)
            self._shared_scan.step(port.shared_port for port in self._ports.values())
            self.last_housekeeping = now
            self.idle = not (up or self._fed)
            self._fed = False
            if self.on_housekeeping is not None:
                self.on_housekeeping(now)
        return min(deadline, self.last_housekeeping + self.housekeeping_every_s)

    # -- shutdown ------------------------------------------------------------------------------
    def close(self) -> None:
        """Close every source and the selector, and join every helper thread (within
        ``JOIN_LIMIT_S``). Idempotent. A port whose close raises leaves none of the others,
        nor the selector, open: every one is closed, the failures of the others logged, and
        the first raised once everything is closed."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        failures: list[tuple[str, Exception]] = []  # what failed to close, and how
        try:
            self.journal.flush()  # the rings stay readable after the close
        except Exception as exc:
            failures.append(("the capture journal", exc))
        for port in list(self._ports.values()):
            try:
                self._detach(port)
                port.stop()
            except Exception as exc:
                failures.append((f"port {port.name!r}", exc))
        for sensor in self.sensors.values():
            try:
                sensor.stop()
            except Exception as exc:
                failures.append((f"sensor {sensor.name!r}", exc))
        try:
            self._join_helpers()
        except Exception as exc:
            failures.append(("the helper threads", exc))
        finally:
            self._epoll.close()
            self._replies.close()
            with self._lock:
                for fd in (self._wake_r, self._wake_w, self._reply_wake_r, self._reply_wake_w):
                    with contextlib.suppress(OSError):
                        os.close(fd)
                self._wake_r = self._wake_w = self._reply_wake_r = self._reply_wake_w = -1
        if failures:
            for what, error in failures[1:]:
                log.error("closing the reader failed", closing=what, error=repr(error))
            raise failures[0][1]

    def _join_helpers(self) -> None:
        """Stop and join the helper threads (``close``), and run the calls of the opens that
        finished before the close: their sources are closed."""
        feeders = list(self._feeders.values()) + self._stopped_feeders
        for feeder in feeders:
            feeder.stop()
        with self._lock:
            opening = list(self._openers.items())
        for _, source in opening:
            source.abort_open()  # an RFC 2217 negotiation would wait out its timeouts
        started = time.monotonic()
        openers = [thread for thread, _ in opening]
        readers = [feeder.thread for feeder in feeders]
        for thread in openers:
            thread.join(max(0.0, started + OPEN_JOIN_LIMIT_S - time.monotonic()))
        for thread in readers:
            thread.join(max(0.0, started + JOIN_LIMIT_S - time.monotonic()))
        connecting = [thread.name for thread in openers if thread.is_alive()]
        if connecting:  # a connect to a host that does not answer waits out its timeout
            log.info(
                "network opens still under way at close; each closes its port when done",
                threads=connecting,
            )
        busy = [thread.name for thread in readers if thread.is_alive()]
        if busy:
            log.warning(
                "port reader threads still busy at close; each cleans up after itself",
                threads=busy,
            )
        self._run_calls()  # each call's failure is logged there

    def __enter__(self) -> Reader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
