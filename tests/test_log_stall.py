"""A log stream that stops taking writes (journald stalled on a slow SD card, a log pipe whose
reader stopped) while the daemon logs: the readings and the watchdog pings go on, and once
the stream takes writes again one line tells how many log lines were dropped."""

from __future__ import annotations

import fcntl
import itertools
import json
import os
import signal
import socket
import sys
import termios
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from harness.common import wait_for
from harness.config import sensor_toml
from harness.daemon import StartDaemon
from harness.host_lag import HostLag
from harness.notify import NotifyListener

from sensord.log_output import DROPPED_MESSAGE

pytestmark = pytest.mark.slow

#: The simulated sensor's frames go on at its rate while the log stream is stalled.
CONFIG = sensor_toml("sim", "sim://stall", rate_hz=20)
#: The stall watched: the SIGUSR1s fill the stream and the queue within its first second, and
#: go on until its end.
STALL_S = 3.0


def small_queue(tmp_path: Path) -> dict[str, str]:
    """The environment of a daemon (and its workers) whose log queue holds 16 KiB (1 MiB
    as installed), which a few dozen warnings fill: a ``sitecustomize`` sets it as each
    interpreter starts."""
    (tmp_path / "sitecustomize.py").write_text(
        "import sensord.log_output\nsensord.log_output.QUEUE_LIMIT_CHARS = 16384\n"
    )
    path = os.environ.get("PYTHONPATH")
    return {"PYTHONPATH": f"{tmp_path}{os.pathsep}{path}" if path else str(tmp_path)}


class LogStream:
    """A Unix stream socket pair as journald gives a service for its stderr (``daemon_end``,
    with a smaller send buffer than the usual 208 KiB, so that fewer lines fill it: about
    17 KiB of them); the test's end is read by a thread while ``reading`` is set (from the
    start unless ``stalled``), at ``rate`` bytes a second once :meth:`read_slowly` set it (a
    busy journald), else as fast as the lines come."""

    def __init__(self, *, stalled: bool = False) -> None:
        self.ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        theirs.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 32768)  # doubled by the kernel
        self.daemon_end = theirs
        stat = os.fstat(theirs.fileno())
        self.journal_stream = f"{stat.st_dev}:{stat.st_ino}"
        self.reading = threading.Event()
        if not stalled:
            self.reading.set()
        self.rate: float | None = None
        self.received = bytearray()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._read, daemon=True)
        self._thread.start()

    def read_slowly(self, rate: float) -> None:
        """Read ``rate`` bytes a second from now on, in pieces of 1 KiB."""
        self.rate = rate
        self.reading.set()

    def _read(self) -> None:
        paced_since: tuple[float, int] | None = None  # its start, and the bytes before it
        while True:
            self.reading.wait()
            rate = self.rate
            try:
                data = self.ours.recv(65536 if rate is None else 1024)
            except OSError:
                return
            if not data:
                return
            with self._lock:
                self.received += data
                total = len(self.received)
            if rate is not None:
                if paced_since is None:
                    paced_since = (time.monotonic(), total - len(data))
                began, at = paced_since
                time.sleep(max(0.0, began + (total - at) / rate - time.monotonic()))

    def records(self) -> list[dict[str, Any]]:
        """The whole lines received so far, each one JSON record (a split line fails)."""
        with self._lock:
            text = bytes(self.received).decode()
        return [json.loads(line) for line in text.split("\n")[:-1]]

    def unread(self) -> int:
        """The bytes the daemon wrote that the test has not read."""
        queued = fcntl.ioctl(self.ours, termios.FIONREAD, b"\0\0\0\0")
        return int.from_bytes(queued, sys.byteorder)

    def close(self) -> None:
        self.daemon_end.close()
        self.ours.close()


@pytest.mark.parametrize("workers", [1, 2])
def test_a_stalled_log_stream_stops_neither_readings_nor_watchdog(
    tmp_path: Path, start_daemon: StartDaemon, workers: int
) -> None:
    """The stream stops being read, SIGUSR1s (one warning line each, in each worker) fill it
    and the queue behind it: for 3 s the sensor's frames keep coming on ``/metrics`` and the
    watchdog pings keep coming, lines are dropped and counted; read again, the stream gets
    whole lines, one of which tells how many were dropped, and a SIGTERM stops the daemon."""
    stream = LogStream()
    listener = NotifyListener(tmp_path)
    env = {
        "NOTIFY_SOCKET": listener.address,
        "WATCHDOG_USEC": "1000000",
        "JOURNAL_STREAM": stream.journal_stream,
        **small_queue(tmp_path),
    }
    args = ["--workers", str(workers)] if workers > 1 else []
    daemon = start_daemon(
        args,
        config=CONFIG,
        env=env,
        stderr=stream.daemon_end.fileno(),
    )
    try:
        listener.wait_for("READY=1", 15.0)
        wait_for(lambda: daemon.scrape().total("sensord_frames_total") > 0, 10.0, "frames")
        stream.reading.clear()
        time.sleep(0.2)  # the thread's recv in progress returns; nothing is read after it
        stalled_at = time.monotonic()
        frames_before = daemon.scrape().total("sensord_frames_total")

        def logging_much() -> None:
            stop = stalled_at + STALL_S
            while time.monotonic() < stop:
                daemon.signal(signal.SIGUSR1)
                time.sleep(0.005)

        signals = threading.Thread(target=logging_much)
        signals.start()
        frames: list[float] = []
        while time.monotonic() - stalled_at < STALL_S:
            listener.collect(0.5)  # the pings as they come, with their time
            frames.append(daemon.scrape().total("sensord_frames_total"))
        signals.join()
        pings = [at for at, m in listener.messages if m == "WATCHDOG=1" and at >= stalled_at]
        # readings go on through the stall, at the sensor's 20 Hz: never half a second without
        assert frames[-1] - frames_before >= STALL_S * 20 * 0.5, frames
        assert all(b > a for a, b in itertools.pairwise([frames_before, *frames])), frames
        # the watchdog (1 s) is pinged every half second: systemd would not kill it
        assert len(pings) >= 2 * STALL_S - 2, pings
        assert max(b - a for a, b in itertools.pairwise([stalled_at, *pings])) < 1.0
        dropped = daemon.scrape().total("sensord_log_lines_dropped_total")
        assert dropped > 0
        stream.reading.set()

        def told() -> bool:
            told = [r for r in stream.records() if r["msg"] == DROPPED_MESSAGE]
            return sum(int(r["dropped"]) for r in told) == dropped

        wait_for(told, 10.0, "the lines that tell of the dropped ones")
        records = stream.records()
        first_told = next(i for i, r in enumerate(records) if r["msg"] == DROPPED_MESSAGE)
        assert records[first_told]["level"] == "warning"
        if workers > 1:  # a worker's line of its dropped ones names it, as its others do
            told_by = {r.get("worker") for r in records if r["msg"] == DROPPED_MESSAGE}
            assert told_by & {0, 1}, told_by
        assert any(r["msg"].startswith("SIGUSR1") for r in records[:first_told])
        elapsed, code = daemon.stop_timed()
        assert code == 0
        assert elapsed < 2.0
        wait_for(
            lambda: any(r["msg"] == "sensord stopped" for r in stream.records()),
            5.0,
            "the last line",
        )
    finally:
        stream.reading.set()
        listener.close()
        daemon.kill()
        stream.close()


def test_a_stop_while_the_log_stream_is_stalled_exits_at_once(
    tmp_path: Path, start_daemon: StartDaemon
) -> None:
    """SIGTERM while the stream takes nothing: the lines still queued are waited for half a
    second, then the daemon exits 0 (systemd's stop timeout is never reached); what reached
    the stream is whole lines."""
    stream = LogStream()
    daemon = start_daemon(
        config=CONFIG, stderr=stream.daemon_end.fileno(), env=small_queue(tmp_path)
    )
    try:
        daemon.wait_http()
        stream.reading.clear()
        time.sleep(0.2)
        # until lines are dropped: the stream is full, and so is the queue behind it
        for _ in range(50):
            if daemon.scrape().total("sensord_log_lines_dropped_total") > 0:
                break
            for _ in range(20):
                daemon.signal(signal.SIGUSR1)
                time.sleep(0.003)
        assert stream.unread() >= 16384
        assert daemon.scrape().total("sensord_log_lines_dropped_total") > 0
        # the half second the queued lines are waited for, and as long again for the exit,
        # but for the time a loaded host held this process back meanwhile (the daemon's as
        # much, by its look)
        with HostLag() as lag:
            elapsed, code = daemon.stop_timed()
        assert code == 0
        assert elapsed < 1.0 + lag.total_s(), lag
        stream.reading.set()
        wait_for(lambda: stream.unread() == 0, 5.0, "the stream read")
        assert stream.records()  # each one whole JSON
    finally:
        stream.reading.set()
        daemon.kill()
        stream.close()


_THREAD_FAILS = """
import os
import threading
import warnings

import structlog

from sensord import daemon

def _fails() -> None:
    log = structlog.get_logger("t")
    for i in range(300):  # 70 KiB: more than the stream holds
        log.info("before", i=i, padding="x" * 200)
    warnings.warn("an old way of doing it", UserWarning)
    for i in range(100):
        log.info("between", i=i)
    raise RuntimeError("the thread failed")

_serve = daemon.Daemon.serve

def _serve_after_a_thread_failed(self):
    thread = threading.Thread(target=_fails, name="fails")
    thread.start()
    thread.join(2.0)
    structlog.get_logger("t").info("joined", alive=thread.is_alive())
    open(os.environ["JOINED_MARK"], "w").close()  # the test reads the stream from then on
    _serve(self)

daemon.Daemon.serve = _serve_after_a_thread_failed
"""


def test_a_thread_s_exception_and_a_warning_are_records_in_order_with_the_lines(
    start_daemon: StartDaemon, tmp_path: Path
) -> None:
    """A thread of ``sensord run`` that a warning and an uncaught exception end, while the
    stream takes nothing: neither blocks the thread (it ends at once), and read again (slowly,
    as a busy journald: the writer thread writes while they are told), the stream holds whole
    JSON lines only, the warning and the exception as records of their own (its traceback a
    field, as sensord's own tracebacks) among the lines around them, in order."""
    stream = LogStream(stalled=True)
    joined = tmp_path / "joined"
    daemon = start_daemon(
        config=CONFIG,
        stderr=stream.daemon_end.fileno(),
        python_prelude=_THREAD_FAILS,
        env={"JOINED_MARK": str(joined)},
    )
    try:
        daemon.wait_http()
        wait_for(joined.exists, 10.0, "the thread ended, or its join timed out")
        stream.read_slowly(100_000)
        wait_for(lambda: b'"joined"' in stream.received, 10.0, "the line after the join")
        assert daemon.stop() == 0
        wait_for(lambda: b"sensord stopped" in stream.received, 5.0, "the last line")
        lines = bytes(stream.received).decode().splitlines()
        broken = [line for line in lines if not line.startswith("{")]
        assert broken == []
        records = [json.loads(line) for line in lines]
        told = [r for r in records if r.get("logger") == "py.warnings" or "exception" in r]
        assert [r["level"] for r in told] == ["warning", "error"], told
        warned, failed = told
        assert warned["msg"] == "an old way of doing it"
        assert warned["category"] == "UserWarning"
        assert failed["thread"] == "fails"
        (exception,) = failed["exception"]
        assert (exception["exc_type"], exception["exc_value"]) == (
            "RuntimeError",
            "the thread failed",
        )
        assert exception["frames"][-1]["name"] == "_fails"
        order = [
            (r["msg"], r.get("i")) if r["msg"] in ("before", "between") else r["msg"]
            for r in records
            if r["msg"] in ("before", "between", "joined") or r in told
        ]
        assert order == [
            *[("before", i) for i in range(300)],
            warned["msg"],
            *[("between", i) for i in range(100)],
            failed["msg"],
            "joined",
        ]
        (joined,) = [r for r in records if r["msg"] == "joined"]
        assert joined["alive"] is False
    finally:
        stream.reading.set()
        daemon.kill()
        stream.close()


_SERVE_RAISES = """
import structlog
from sensord import daemon
def _serve(self):
    for i in range(300):  # 70 KiB: more than the stream holds
        structlog.get_logger("t").info("serving", i=i, padding="x" * 200)
    raise RuntimeError("the loop failed")
daemon.Daemon.serve = _serve
"""


def test_an_exception_that_ends_the_run_while_the_log_stream_is_stalled_ends_it_at_once(
    start_daemon: StartDaemon,
) -> None:
    """The main thread of ``sensord run`` ends by an exception (a bug) while the stream takes
    nothing: the process exits 1 within the exit's bound all the same, and read again, the
    stream holds whole JSON lines only."""
    stream = LogStream(stalled=True)
    daemon = start_daemon(
        config=CONFIG, stderr=stream.daemon_end.fileno(), python_prelude=_SERVE_RAISES
    )
    try:
        assert daemon.proc.wait(15.0) == 1
        stream.read_slowly(1_000_000)
        wait_for(lambda: stream.unread() == 0, 5.0, "the stream read")
        time.sleep(0.2)
        records = stream.records()
        served = [r["i"] for r in records if r["msg"] == "serving"]
        assert served == list(range(len(served)))
        assert served
    finally:
        stream.reading.set()
        daemon.kill()
        stream.close()


def test_a_stop_while_the_log_stream_is_slow_writes_every_queued_line(
    start_daemon: StartDaemon,
) -> None:
    """SIGTERM with 100 KiB of lines unread (a stream full, the queue behind it) that a busy
    journald takes at about 300 lines a second: the daemon waits for them as long as the
    stream takes them, up to its bound, and the last lines (``sensord stopped``) arrive."""
    stream = LogStream()
    daemon = start_daemon(config=CONFIG, stderr=stream.daemon_end.fileno())
    try:
        daemon.wait_http()
        stream.reading.clear()
        time.sleep(0.2)
        for _ in range(300):  # about 370 bytes each
            daemon.signal(signal.SIGUSR1)
            time.sleep(0.003)
        wait_for(lambda: stream.unread() >= 16384, 5.0, "the stream full")
        time.sleep(0.3)  # and the lines behind it queued
        stream.read_slowly(100_000)
        elapsed, code = daemon.stop_timed()
        assert code == 0
        assert elapsed < 3.5  # EXIT_FLUSH_LIMIT_S, and the interpreter's end
        wait_for(lambda: b"sensord stopped" in stream.received, 5.0, "the last line")
        records = stream.records()
        assert records[-1]["msg"] == "sensord stopped"
    finally:
        stream.reading.set()
        daemon.kill()
        stream.close()
