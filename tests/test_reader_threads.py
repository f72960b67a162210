"""The reader owns its helper threads: closing it joins them (a network open still connecting
after a short wait ends on its own thread and closes its source) and leaves no descriptor
behind, and a closed reader never writes into a descriptor it closed."""

from __future__ import annotations

import contextlib
import gc
import os
import socket
import threading
import time
from collections.abc import Iterator

import pytest
from harness.common import refuse_threads
from structlog.testing import capture_logs

import sensord.reader as reader_module
from sensord.config import parse_config
from sensord.config_sensor import SensorConfig
from sensord.reader import Reader
from sensord.sensor import SensorRuntime


def open_fds() -> set[tuple[str, str]]:
    """This process's descriptors, each with what it is open on (a socket's inode, a file's
    path): a descriptor that another test's leftover closes meanwhile, or whose number is taken
    again, is not mistaken for one left open or one closed."""
    gc.collect()  # another test's objects waiting to be collected still hold theirs
    fds = set()
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):  # closed since the listing
            fds.add((fd, os.readlink(f"/proc/self/fd/{fd}")))
    return fds


def network_sensor(name: str, port: int) -> SensorConfig:
    text = (
        f'[[sensors]]\nname = "{name}"\nport = "socket://127.0.0.1:{port}"\nformat = "value"\n'
        "[sensors.reconnect]\ninitial_delay_s = 0.05\nmax_delay_s = 0.1\n"
        '[[sensors.channels]]\nname = "v"\n'
    )
    return parse_config(text).sensors[0]


@contextlib.contextmanager
def slow_listener(delay_s: float) -> Iterator[tuple[int, threading.Event]]:
    """A TCP listener with a one-connection backlog that accepts one connection every
    ``delay_s`` and holds it open: most connects wait in SYN retries for their turn. Its
    port, and an event that, while set, has it accept at once."""
    server = socket.create_server(("127.0.0.1", 0), backlog=1)
    accepted: list[socket.socket] = []
    stop = threading.Event()
    quick = threading.Event()

    def accept() -> None:
        server.settimeout(0.05)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except (TimeoutError, OSError):
                continue
            accepted.append(conn)
            if not quick.is_set():
                stop.wait(delay_s)

    thread = threading.Thread(target=accept, name="slow-listener")
    thread.start()
    try:
        yield server.getsockname()[1], quick
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        server.close()


@pytest.mark.slow
#: an open that finishes while the reader closes must not raise on its thread either
@pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")
def test_closing_ends_every_open_thread_and_closes_every_source() -> None:
    """Closing waits for the opens in progress for ``OPEN_JOIN_LIMIT_S``; the connects still
    waiting for their turn after it end on their own, each closing its source: no thread, no
    source and no descriptor is left behind."""
    threads_before = threading.active_count()
    fds_before = open_fds()
    readers: list[Reader] = []  # kept alive: a source they leaked would keep its descriptor
    # one accept every 50 ms; the connects that wait finish in bursts as their SYNs are sent
    # again, and the loop takes a burst's opens in one batch before it looks: it stops at the
    # first, and most of the rest are still connecting (at least 30 of 100 in trials here)
    # a cycle whose opens were nearly all over when the loop stopped (a host so loaded that
    # the first connect took seconds) tests nothing of the kind: two cycles must have stopped
    # with at least 10 in progress, within 6
    stopped_connecting: list[int] = []
    with slow_listener(0.05) as (port, quick):
        for cycle in range(6):
            quick.clear()
            if len([n for n in stopped_connecting if n >= 10]) == 2:
                break
            runtimes = [SensorRuntime(network_sensor(f"n{cycle}_{i}", port)) for i in range(100)]
            reader = Reader(runtimes)
            readers.append(reader)
            deadline = time.monotonic() + 10

            def some_open(
                runtimes: list[SensorRuntime] = runtimes, until: float = deadline
            ) -> bool:
                return any(r.source is not None for r in runtimes) or time.monotonic() > until

            reader.run(until=some_open)  # stops while most opens are still connecting
            stopped_connecting.append(sum(r.opening for r in runtimes))
            reader.close()
            assert all(r.state == "stopped" for r in runtimes)
            quick.set()  # the connects left end on their threads all the same, sooner
            deadline = time.monotonic() + 10
            while [t for t in threading.enumerate() if t.name.startswith("sensord-")]:
                assert time.monotonic() < deadline, "open threads still running"
                time.sleep(0.05)
            assert all(r.source is None for r in runtimes)
    assert len([n for n in stopped_connecting if n >= 10]) == 2, stopped_connecting
    # the listener has closed its side of every connection: what is left would be ours
    assert threading.active_count() == threads_before
    assert open_fds() - fds_before == set()


def test_an_open_that_finishes_after_the_close_closes_its_own_source() -> None:
    gate = threading.Event()
    closed: list[bool] = []

    class SlowSource:
        simulated = False
        url = "socket://127.0.0.1:1"

        def open(self) -> None:
            gate.wait(5)

        def abort_open(self) -> None:
            """An open that cannot be abandoned: it ends when the gate opens."""

        def close(self) -> None:
            closed.append(True)

    sensor = SensorRuntime(
        network_sensor("late", 1),
        source_factory=lambda config: SlowSource(),  # type: ignore[arg-type,return-value]
    )
    reader = Reader([sensor])
    reader.run(until=lambda: sensor.opening)
    limit = reader_module.OPEN_JOIN_LIMIT_S
    reader_module.OPEN_JOIN_LIMIT_S = 0.05  # the open outlives the close's wait
    try:
        with capture_logs() as logs:
            reader.close()
    finally:
        reader_module.OPEN_JOIN_LIMIT_S = limit
    assert closed == []
    # a connect still under way is what a stop with an unreachable host does: no warning
    [line] = [e for e in logs if "at close" in e["event"]]
    assert line["event"] == (
        "network opens still under way at close; each closes its port when done"
    )
    assert line["log_level"] == "info"
    assert line["threads"] == ["sensord-open-late"]
    gate.set()
    deadline = time.monotonic() + 5
    while not closed and time.monotonic() < deadline:
        time.sleep(0.01)
    assert closed == [True]
    assert sensor.source is None


def test_a_closed_reader_does_not_write_into_its_old_wakeup_descriptor() -> None:
    reader = Reader()
    old_fd = reader.wakeup_fd
    reader.close()
    # the number is free: let it name the write end of an unrelated pipe
    r, w = os.pipe()
    os.dup2(w, old_fd)
    try:
        reader.wake()
        reader.call_soon(lambda: None)
        reader.stop()
        os.set_blocking(r, False)
        with pytest.raises(BlockingIOError):
            os.read(r, 1)
    finally:
        for fd in (r, w, old_fd):
            os.close(fd)


def test_an_open_that_gets_no_thread_is_retried_as_a_failed_open(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """When the process may start no more threads (a service's TasksMax=, memory), a network
    port's open fails like any other: counted, its reason named, retried with backoff, and the
    loop runs on; once threads can be had again the port opens."""
    with slow_listener(0.0) as (port, _):
        runtime = SensorRuntime(network_sensor("n", port))
        with Reader([runtime]) as reader:
            refused = refuse_threads(monkeypatch, "sensord-open-")
            deadline = time.monotonic() + 0.5
            reader.run(until=lambda: time.monotonic() > deadline)
            assert len(refused) >= 2  # retried with its backoff (0.05-0.1 s here)
            assert runtime.source is None
            assert not runtime.opening
            assert runtime.open_failures == len(refused)
            assert "cannot start a thread to open the port" in (runtime.last_error or "")
            monkeypatch.undo()
            deadline = time.monotonic() + 5
            reader.run(until=lambda: runtime.source is not None or time.monotonic() > deadline)
            assert runtime.source is not None


def test_a_sensor_added_by_housekeeping_opens_at_once() -> None:
    """A sensor that housekeeping adds (the daemon restarting one on its device that came)
    is opened by the next pass of the loop, not one housekeeping interval later."""
    first = SensorRuntime(parse_config(SIM_TOML.format(name="first")).sensors[0])
    later = SensorRuntime(parse_config(SIM_TOML.format(name="later")).sensors[0])
    added: list[float] = []
    reader = Reader([first])
    reader.housekeeping_interval_s = 1.0

    def housekeeping(now: float) -> None:
        if first.source is not None and not added:
            reader.add(later)
            added.append(time.monotonic())

    opened: list[float] = []
    try_open = later.try_open

    def timed_open() -> bool:
        opened.append(time.monotonic())
        return try_open()

    later.try_open = timed_open  # type: ignore[method-assign]
    reader.on_housekeeping = housekeeping
    try:
        deadline = time.monotonic() + 10
        reader.run(until=lambda: later.source is not None or time.monotonic() > deadline)
        assert later.source is not None
        assert opened[0] - added[0] < 0.5  # the next housekeeping is 1 s away
    finally:
        reader.close()


SIM_TOML = (
    '[[sensors]]\nname = "{name}"\nport = "sim://{name}"\nformat = "value"\n'
    'channels = [{{ name = "v" }}]\n'
)
