"""sensord.log and sensord.log_output: output format resolution, the rate limiter, and the
configured JSON output."""

from __future__ import annotations

import ast
import contextlib
import fcntl
import io
import json
import logging
import os
import re
import select
import socket
import subprocess
import sys
import threading
import time
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import pytest
import serial
import structlog
from harness.common import REPO, refuse_threads
from harness.config import sensor_toml
from harness.daemon import StartDaemon
from harness.pty import pty_numbers_held
from harness.spawn import popen
from pymodbus.pdu import DecodePDU

from sensord import log as sensord_log
from sensord import log_output
from sensord.log import (
    LEVELS,
    RateLimiter,
    RepeatedError,
    configure,
    info_at_debug_for,
    resolve_format,
)
from sensord.log_output import (
    DROPPED_MESSAGE,
    ENDED_MESSAGE,
    THREAD_FAILED_MESSAGE,
    UNRAISABLE_MESSAGE,
    dropped_lines,
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 500.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def terminal() -> Iterator[TextIO]:
    """The slave side of a real pseudo-terminal, opened as a text stream (isatty() is True)."""
    with pty_numbers_held():
        master, slave = os.openpty()
    stream = open(slave, "w", encoding="utf-8")  # noqa: SIM115 - closed by the fixture
    try:
        yield stream
    finally:
        stream.close()
        os.close(master)


@pytest.fixture
def no_journal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("JOURNAL_STREAM", raising=False)


# -- resolve_format ------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_an_explicit_format_is_kept(fmt: str, terminal: TextIO) -> None:
    assert resolve_format(fmt, terminal) == fmt
    assert resolve_format(fmt, io.StringIO()) == fmt


@pytest.mark.usefixtures("no_journal")
def test_auto_is_console_on_a_terminal(terminal: TextIO) -> None:
    assert terminal.isatty()
    assert resolve_format("auto", terminal) == "console"


@pytest.mark.usefixtures("no_journal")
def test_auto_is_json_when_not_a_terminal(tmp_path: os.PathLike[str]) -> None:
    assert resolve_format("auto", io.StringIO()) == "json"
    read_fd, write_fd = os.pipe()
    with open(write_fd, "w") as pipe:
        assert resolve_format("auto", pipe) == "json"
    os.close(read_fd)
    with open(os.path.join(tmp_path, "log"), "w") as file:
        assert resolve_format("auto", file) == "json"


def test_auto_is_json_under_journald_even_on_a_terminal(
    terminal: TextIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOURNAL_STREAM", "8:12345")
    assert resolve_format("auto", terminal) == "json"


@pytest.mark.usefixtures("no_journal")
def test_an_empty_journal_stream_does_not_count(
    terminal: TextIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JOURNAL_STREAM", "")
    assert resolve_format("auto", terminal) == "console"


@pytest.mark.usefixtures("no_journal")
def test_auto_is_json_for_a_closed_stream_or_one_without_isatty() -> None:
    closed = io.StringIO()
    closed.close()
    assert resolve_format("auto", closed) == "json"  # isatty() raises ValueError

    class NoTty:
        def write(self, text: str) -> int:
            return len(text)

    assert resolve_format("auto", NoTty()) == "json"  # type: ignore[arg-type]


# -- RateLimiter ---------------------------------------------------------------------------------


def test_first_event_passes_then_repeats_are_held_for_the_interval() -> None:
    clock = FakeClock()
    limiter = RateLimiter(interval_s=10.0, clock=clock)
    assert limiter.check("parse:syntax") == 0
    clock.now += 3.0
    assert limiter.check("parse:syntax") is None
    clock.now += 6.9
    assert limiter.check("parse:syntax") is None
    clock.now += 0.1  # exactly interval_s after the one that passed
    assert limiter.check("parse:syntax") == 2
    assert limiter.check("parse:syntax") is None


def test_the_interval_runs_from_the_last_event_let_through() -> None:
    clock = FakeClock()
    limiter = RateLimiter(interval_s=5.0, clock=clock)
    results = []
    for _ in range(13):  # one event per second
        results.append(limiter.check("k"))
        clock.now += 1.0
    assert results == [0, None, None, None, None, 4, None, None, None, None, 4, None, None]


def test_keys_are_independent() -> None:
    clock = FakeClock()
    limiter = RateLimiter(interval_s=60.0, clock=clock)
    assert limiter.check("a") == 0
    assert limiter.check("b") == 0
    assert limiter.check("a") is None
    assert limiter.check("a") is None
    assert limiter.check("b") is None
    clock.now += 60.0
    assert limiter.check("a") == 2
    assert limiter.check("b") == 1


def test_zero_interval_lets_everything_through() -> None:
    limiter = RateLimiter(interval_s=0.0, clock=FakeClock())
    assert [limiter.check("k") for _ in range(3)] == [0, 0, 0]


# -- RepeatedError -------------------------------------------------------------------------------


def test_a_repeated_error_passes_at_doubling_intervals_and_a_new_one_at_once() -> None:
    clock = FakeClock()
    errors = RepeatedError(first_s=10.0, max_s=40.0, clock=clock)
    passed = []
    for second in range(200):
        clock.now = float(second)
        if errors.check("gone") is not None:
            passed.append(second)
    assert passed == [0, 10, 30, 70, 110, 150, 190]  # 10, 20, 40, then the cap
    # news: at once, in the middle of an interval, with the 9 held back since second 190
    assert errors.check("refused") == 9
    assert errors.check("refused") is None
    assert errors.check("gone") is None  # seen before: its interval runs on


def test_past_max_texts_a_new_text_waits_like_a_repeat() -> None:
    clock = FakeClock()
    errors = RepeatedError(first_s=10.0, clock=clock)
    texts = [f"held by pid {n}" for n in range(RepeatedError.MAX_TEXTS + 3)]
    results = [errors.check(text) for text in texts]
    assert results[: RepeatedError.MAX_TEXTS] == [0] * RepeatedError.MAX_TEXTS
    assert results[RepeatedError.MAX_TEXTS :] == [None, None, None]
    errors.reset()
    assert errors.check("held by pid 99") == 0


# -- configure -----------------------------------------------------------------------------------


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        structlog.reset_defaults()
        root.handlers[:] = handlers
        root.setLevel(level)


@pytest.mark.usefixtures("restore_logging", "no_journal")
def test_json_lines_with_level_message_and_a_utc_timestamp() -> None:
    out = io.StringIO()
    assert configure("info", "auto", out) == "json"
    logger = structlog.get_logger("sensord.test")
    logger.debug("hidden")
    logger.info("port opened", sensor="boiler", port="/dev/ttyUSB0")
    logger.warning("frame rejected", suppressed=3)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2
    first, second = (json.loads(line) for line in lines)
    assert first["msg"] == "port opened"
    assert first["level"] == "info"
    assert (first["sensor"], first["port"]) == ("boiler", "/dev/ttyUSB0")
    assert (second["level"], second["suppressed"]) == ("warning", 3)
    stamp = datetime.fromisoformat(first["timestamp"].replace("Z", "+00:00"))
    assert stamp.utcoffset() is not None
    assert stamp.utcoffset() == UTC.utcoffset(None)
    assert abs((datetime.now(UTC) - stamp).total_seconds()) < 60


@pytest.mark.usefixtures("restore_logging")
def test_console_format_and_level_filtering(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    out = io.StringIO()
    assert configure("warning", "console", out) == "console"
    logger = structlog.get_logger("sensord.test")
    logger.info("quiet")
    logger.error("port down", sensor="boiler")
    text = out.getvalue()
    assert "quiet" not in text
    assert "port down" in text
    assert "sensor=boiler" in text
    assert "\x1b[" not in text  # NO_COLOR


@pytest.mark.usefixtures("restore_logging", "no_journal")
def test_standard_logging_goes_to_the_same_stream() -> None:
    out = io.StringIO()
    configure("debug", "json", out)
    logging.getLogger("some.library").warning("from the %s module", "logging")
    [record] = [json.loads(line) for line in out.getvalue().splitlines()]
    assert record["msg"] == "from the logging module"
    assert record["level"] == "warning"
    assert record["logger"] == "some.library"
    assert record["timestamp"].endswith("Z")


@pytest.mark.usefixtures("restore_logging", "no_journal")
def test_a_library_traceback_is_one_json_line() -> None:
    """A library's error with its traceback (a pymodbus error logged with exc_info) is one
    JSON object under journald like sensord's own, not a text line and then the
    traceback's lines, each one a journal entry of its own that no JSON reader parses."""
    out = io.StringIO()
    configure("info", "json", out)
    try:
        raise ValueError("bad frame")
    except ValueError:
        logging.getLogger("pymodbus.logging").exception("decoding failed\nsecond line")
    [record] = [json.loads(line) for line in out.getvalue().splitlines()]
    assert record["msg"] == "decoding failed\nsecond line"
    assert record["level"] == "error"
    [exception] = record["exception"]
    assert exception["exc_type"] == "ValueError"
    # no frame's local variables (a config's password may be one); older structlog
    # releases write the key with null
    assert exception["frames"][0].get("locals") is None


@pytest.mark.usefixtures("restore_logging", "no_journal")
def test_a_library_line_on_the_console_reads_like_sensords_own() -> None:
    out = io.StringIO()
    configure("info", "console", out)
    logging.getLogger("some.library").warning("from the logging module")
    line = out.getvalue()
    assert "[warning  ] from the logging module" in line
    assert "some.library" in line


@pytest.mark.usefixtures("restore_logging", "no_journal")
def test_pymodbus_warnings_per_frame_stay_out_of_the_log() -> None:
    """pymodbus warns of every reply it cannot decode; the bus counts and rate-limits those
    itself, so only pymodbus's errors reach the stream."""
    pymodbus = logging.getLogger("pymodbus")
    level = pymodbus.level
    try:
        out = io.StringIO()
        configure("debug", "json", out)
        decoder = DecodePDU(False)  # a client's: it decodes responses
        for _ in range(3):
            assert decoder.decode(b"\x41\x00") is None  # an unknown function code
        assert "Unable to decode" not in out.getvalue()
        logging.getLogger("pymodbus.logging").error("a pymodbus error")
        assert "a pymodbus error" in out.getvalue()
    finally:
        pymodbus.setLevel(level)


def test_levels_are_the_standard_ones() -> None:
    assert LEVELS == {
        "debug": logging.DEBUG,
        "info": logging.INFO,
        "warning": logging.WARNING,
        "error": logging.ERROR,
    }


_WRITER = """
import sys
from sensord.log import configure
import structlog
configure("info", "json", queued=sys.argv[3] == "queued")
log = structlog.get_logger("t")
for i in range(int(sys.argv[1])):
    log.info("record", writer=sys.argv[2], i=i, padding="x" * 200)
"""


@pytest.mark.parametrize("output", ["direct", "queued"])
def test_processes_sharing_one_stream_never_split_a_record(tmp_path: Path, output: str) -> None:
    # the workers of --workers N share the primary's stderr (a journald stream under systemd):
    # each record must reach it in one write, or two processes' records interleave mid-line;
    # queued (sensord run), every record is written by the time the process has exited
    out = tmp_path / "shared.log"
    count = 3000
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    with out.open("wb") as shared:
        procs = [
            popen(
                [sys.executable, "-c", _WRITER, str(count), name, output],
                stderr=shared,
                env=env,
            )
            for name in ("a", "b", "c")
        ]
        for proc in procs:
            assert proc.wait(60) == 0
    lines = out.read_text().splitlines()
    records = [json.loads(line) for line in lines]  # raises on a split or merged record
    for name in ("a", "b", "c"):
        assert [r["i"] for r in records if r["writer"] == name] == list(range(count))


def test_a_stream_whose_reader_is_gone_drops_records_instead_of_raising() -> None:
    read_end, write_end = os.pipe()
    stream = open(write_end, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    try:
        configure("info", "json", stream)
        log = structlog.get_logger("t")
        log.info("before")
        assert json.loads(os.read(read_end, 65536))["msg"] == "before"
        os.close(read_end)  # the reader goes away: writes now fail with EPIPE
        for _ in range(3):
            log.error("into a broken pipe", detail="x" * 10_000)
        stream.close()  # and a closed stream
        log.warning("into a closed stream")
    finally:
        configure("info", "json", io.StringIO())
        with contextlib.suppress(OSError):
            stream.close()


_FULL_FILE = """
import os, resource, signal
import structlog
from sensord import log, log_output

signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
log.configure("info", "json", queued=True)  # stderr: the file
logger = structlog.get_logger("t")


def written():
    assert log_output._Queues.current.drain(1.0, 5.0)


logger.info("before")
written()
_, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
resource.setrlimit(resource.RLIMIT_FSIZE, (os.fstat(2).st_size + 100, hard))  # the disk fills
for i in range(5):
    logger.info("record", i=i, padding="x" * 200)
written()
print(log_output.dropped_lines(), flush=True)
resource.setrlimit(resource.RLIMIT_FSIZE, (hard, hard))  # room again
logger.info("after")
written()
"""


def test_records_whose_write_failed_are_told_of_once_the_stream_takes_writes_again(
    tmp_path: Path,
) -> None:
    """A file stream that refuses writes for a while (a full disk; here the file size limit,
    past which a write fails with EFBIG): the records logged meanwhile are dropped and
    counted, and once the stream takes writes again one line tells how many, on a line of
    its own after the record the failure cut short, before the next record."""
    path = tmp_path / "log"
    with path.open("wb") as stderr:
        done = subprocess.run(
            [sys.executable, "-c", _FULL_FILE],
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            timeout=30,
            check=False,
        )
    text = path.read_text()
    assert done.returncode == 0, text
    assert done.stdout.split() == ["5"]
    before, cut, told, after, end = text.split("\n")
    assert json.loads(before)["msg"] == "before"
    assert len(cut) == 100  # the file's room: the first record, in part
    assert json.loads(told) == {
        "dropped": 5,
        "cut": True,
        "level": "warning",
        "timestamp": json.loads(told)["timestamp"],
        "msg": DROPPED_MESSAGE,
    }
    assert json.loads(after)["msg"] == "after"
    assert end == ""


F_SETPIPE_SZ = 1031  # fcntl.F_SETPIPE_SZ, named there from Python 3.10 on Linux


def _stalled_pipe() -> tuple[int, int]:
    """A pipe of one page (the least the kernel makes), that nothing reads yet."""
    read_end, write_end = os.pipe()
    fcntl.fcntl(write_end, F_SETPIPE_SZ, 4096)
    return read_end, write_end


def _read_until(read_end: int, needle: bytes, timeout_s: float = 10.0) -> bytes:
    received = b""
    deadline = time.monotonic() + timeout_s
    while needle not in received:
        left = deadline - time.monotonic()
        assert left > 0, f"no {needle!r} within {timeout_s}s: {received[-300:]!r}"
        if select.select([read_end], [], [], left)[0]:
            received += os.read(read_end, 65536)
    return received


_CONSOLE_I = re.compile(r"record\s.*\bi=(\d+)")
_CONSOLE_DROPPED = re.compile(r"log lines dropped: .*\bdropped=(\d+)")


def _parsed(fmt: str, line: str) -> tuple[str, int]:
    """("record", i), ("dropped", count) or ("after", 0) from one line of ``fmt``."""
    if fmt == "json":
        record = json.loads(line)
        if record["msg"] == DROPPED_MESSAGE:
            assert record["level"] == "warning"
            return "dropped", record["dropped"]
        return record["msg"], record.get("i", 0)
    if found := _CONSOLE_DROPPED.search(line):
        assert "warning" in line
        return "dropped", int(found[1])
    if found := _CONSOLE_I.search(line):
        return "record", int(found[1])
    assert " after" in line, line
    return "after", 0


@pytest.mark.usefixtures("restore_logging", "no_journal")
@pytest.mark.parametrize("fmt", ["json", "console"])
def test_a_stalled_stream_never_blocks_a_log_call_and_the_dropped_lines_are_told(
    fmt: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``sensord run``'s queued output on a stream nobody reads (journald stalled): a log
    call returns at once all the same; past the queue's limit records are dropped and
    counted; read again, the stream gets every record queued, in order, then one line that
    says how many were dropped, then the records logged since."""
    monkeypatch.setenv("NO_COLOR", "1")
    read_end, write_end = _stalled_pipe()
    stream = open(write_end, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    padding = "x" * 200
    count = log_output.QUEUE_LIMIT_CHARS // len(padding) * 2
    before = dropped_lines()
    try:
        configure("info", fmt, stream, queued=True)
        log = structlog.get_logger("t")
        logged = threading.Event()

        def log_much() -> None:
            for i in range(count):
                log.info("record", i=i, padding=padding)
            logged.set()

        threading.Thread(target=log_much, daemon=True).start()
        assert logged.wait(10.0), "a log call blocked on the stalled stream"
        dropped = dropped_lines() - before
        assert 0 < dropped < count
        received = _read_until(read_end, b"log lines dropped")
        while select.select([read_end], [], [], 0.5)[0]:  # the rest of the queue
            received += os.read(read_end, 65536)
        log.info("after")  # the stream takes lines again: this one is queued
        received += _read_until(read_end, b"after")
        lines = [_parsed(fmt, line) for line in received.decode().splitlines()]
        assert lines[-1] == ("after", 0)
        # every record in order, each run of dropped ones told of in its place
        expected, told = 0, 0
        for kind, value in lines[:-1]:
            if kind == "dropped":
                assert value > 0
                expected += value
                told += value
            else:
                assert (kind, value) == ("record", expected)
                expected += 1
        assert (expected, told) == (count, dropped)
        assert lines[-2][0] == "dropped"  # the queue was full as the logging ended
    finally:
        with contextlib.suppress(OSError):  # a log call blocked in its write returns
            while select.select([read_end], [], [], 0.5)[0] and os.read(read_end, 65536):
                pass
        configure("info", "json", io.StringIO())
        stream.close()
        os.close(read_end)


@pytest.mark.usefixtures("restore_logging", "no_journal")
def test_the_line_of_dropped_records_names_the_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    """The workers of ``--workers`` share one stream: the line that tells of a worker's
    dropped records carries its ``worker``, as its other lines do, though the writer thread
    renders it."""
    monkeypatch.setattr(log_output, "QUEUE_LIMIT_CHARS", 4096)
    read_end, write_end = _stalled_pipe()
    stream = open(write_end, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    structlog.contextvars.bind_contextvars(worker=1)
    try:
        configure("info", "json", stream, queued=True)
        log = structlog.get_logger("t")
        for i in range(200):  # 50 KiB: the pipe and the queue take 8
            log.info("record", i=i, padding="x" * 200)
        received = _read_until(read_end, DROPPED_MESSAGE.encode() + b'"}\n')
        records = [json.loads(line) for line in received.decode().splitlines()]
        told = [r for r in records if r["msg"] == DROPPED_MESSAGE]
        assert told
        assert [r["worker"] for r in told] == [1] * len(told)
        assert {r["worker"] for r in records} == {1}
    finally:
        structlog.contextvars.clear_contextvars()
        with contextlib.suppress(OSError):
            while select.select([read_end], [], [], 0.2)[0] and os.read(read_end, 65536):
                pass
        configure("info", "json", io.StringIO())
        stream.close()
        os.close(read_end)


@pytest.mark.usefixtures("restore_logging", "no_journal")
def test_a_non_blocking_stream_that_is_full_for_a_moment_gets_every_record_whole() -> None:
    """A descriptor that another process sharing it made non-blocking (a terminal, a
    container's log pipe) refuses writes while full: the writer waits for it as for a
    blocking one, and no record is dropped or cut."""
    read_end, write_end = _stalled_pipe()
    os.set_blocking(write_end, False)
    stream = open(write_end, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    count = 100  # 30 KiB: the pipe takes 4 KiB, the queue holds the rest
    before = dropped_lines()
    try:
        configure("info", "json", stream, queued=True)
        log = structlog.get_logger("t")
        for i in range(count):
            log.info("record", i=i, padding="x" * 300)
        log.info("last", padding="y" * 5000)  # longer than a write the pipe takes at once
        time.sleep(0.3)  # the writer meets the full pipe
        received = _read_until(read_end, b'"last"}\n', 3.0)  # the end of the last record
        records = [json.loads(line) for line in received.decode().splitlines()]
        assert [r.get("i") for r in records] == [*range(count), None]
        assert records[-1]["padding"] == "y" * 5000
        assert dropped_lines() == before
    finally:
        configure("info", "json", io.StringIO())
        stream.close()
        os.close(read_end)


_STALLED_EXIT = """
import structlog
from sensord.log import configure
configure("info", "json", queued=True)
log = structlog.get_logger("t")
for i in range(1000):
    log.info("record", i=i, padding="x" * 200)
"""


def test_a_process_whose_log_stream_is_stalled_still_exits_at_once() -> None:
    """The end of a process waits for its queued records half a second at most (and a fifth
    for the writer to stop): a stream that takes nothing (journald hung) never holds up a
    stop, and the writer thread given up on does not keep the interpreter from exiting
    cleanly. The records it did not write are told of by one last line, which the stream
    (full to the last few bytes of its page) takes without waiting."""
    read_end, write_end = _stalled_pipe()
    try:
        started = time.monotonic()
        proc = popen([sys.executable, "-c", _STALLED_EXIT], stderr=write_end)
        os.close(write_end)
        try:
            code = proc.wait(10.0)
        finally:
            proc.kill()
        assert code == 0
        assert time.monotonic() - started < 5.0  # the interpreter's start, and 0.5 s
        text = b""
        while chunk := os.read(read_end, 65536):
            text += chunk
        *records, told = [json.loads(line) for line in text.decode().splitlines()]
        assert [r["i"] for r in records] == list(range(len(records)))
        assert 0 < len(records) < 1000
        assert (told["msg"], told["level"]) == (DROPPED_MESSAGE, "warning")
        assert told["dropped"] == 1000 - len(records)
        assert "cut" not in told
    finally:
        os.close(read_end)


_ENDED_WITH_A_FULL_QUEUE = """
import atexit
import structlog
import sensord.log_output
from sensord.log import configure
sensord.log_output.QUEUE_LIMIT_CHARS = 16384
configure("info", "json", queued=True)
log = structlog.get_logger("t")
for i in range(1000):  # 250 KB: the stream (a page) and the queue behind it are full
    log.info("record", i=i, padding="x" * 200)
# run before the end's wait for the queued records: the stream is read from then on
atexit.register(lambda: print("ending", flush=True))
raise RuntimeError("the loop failed")
"""


def test_the_exception_that_ends_a_run_is_logged_though_the_queue_is_full() -> None:
    """The stream took nothing for long (journald stalled) and the queue behind it is full
    when an exception ends the process: its record is queued all the same, so that once the
    stream takes writes again it tells why the process ended, after the line that tells of
    the records dropped."""
    read_end, write_end = _stalled_pipe()
    try:
        proc = popen(
            [sys.executable, "-c", _ENDED_WITH_A_FULL_QUEUE],
            stderr=write_end,
            stdout=subprocess.PIPE,
        )
        os.close(write_end)
        try:
            assert proc.stdout is not None
            assert proc.stdout.readline() == b"ending\n"
            text = b""
            while chunk := os.read(read_end, 65536):
                text += chunk
            assert proc.wait(10.0) == 1
        finally:
            proc.kill()
        *lines, ended = [json.loads(line) for line in text.decode().splitlines()]
        assert (ended["msg"], ended["level"]) == (ENDED_MESSAGE, "error")
        served = [line["i"] for line in lines if line["msg"] == "record"]
        assert served == sorted(served)
        told = [line["dropped"] for line in lines if line["msg"] == DROPPED_MESSAGE]
        assert sum(told) == 1000 - len(served)
        assert lines[-1]["msg"] == DROPPED_MESSAGE
        assert ended["exception"][0]["exc_value"] == "the loop failed"
    finally:
        os.close(read_end)


def _wakeups(thread: threading.Thread) -> int:
    """How many times ``thread`` has slept and woken up (its voluntary context switches)."""
    status = Path(f"/proc/self/task/{thread.native_id}/status").read_text()
    (line,) = [line for line in status.splitlines() if line.startswith("voluntary_ctxt")]
    return int(line.split()[1])


@pytest.mark.usefixtures("restore_logging", "no_journal")
def test_a_writer_waits_for_a_stream_that_takes_nothing_without_waking() -> None:
    """A stream that takes nothing for days (a container's log pipe nobody reads, journald
    hung): the writer thread sleeps until it takes writes again, as a blocking write would,
    instead of waking every few milliseconds for as long; the end of the process still
    gives up on it at once, and the writer stops."""
    read_end, write_end = _stalled_pipe()
    stream = open(write_end, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    try:
        others = set(threading.enumerate())
        configure("info", "json", stream, queued=True)
        (writer,) = [t for t in threading.enumerate() if t not in others]
        log = structlog.get_logger("t")
        for i in range(100):  # 25 KB: the pipe's page is full
            log.info("record", i=i, padding="x" * 200)
        time.sleep(0.3)  # the writer meets the full pipe
        before = _wakeups(writer)
        time.sleep(1.0)
        assert _wakeups(writer) - before <= 2
        started = time.monotonic()
        configure("info", "json", io.StringIO())
        assert time.monotonic() - started < 1.0
        writer.join(0.5)
        assert not writer.is_alive()
    finally:
        configure("info", "json", io.StringIO())
        stream.close()
        os.close(read_end)


_CUT_AT_EXIT = """
import structlog
import sensord.log_output
from sensord.log import configure
sensord.log_output.EXIT_FLUSH_LIMIT_S = 1.0
configure("info", "json", queued=True)
log = structlog.get_logger("t")
for i in range(55):  # 10 KB, then records longer than the stream takes in the end's second
    log.info("record", i=i, padding="x" * (200 if i < 50 else 200_000))
"""


def test_a_record_the_end_gives_up_on_midway_is_ended_and_told_of() -> None:
    """A stream that takes 40 KiB a second, with records of 200 KB queued as the process
    ends: the end gives up on it within its bound, amid the first of them; that record's
    line is ended there, and one last line says how many were not written, the cut one among
    them (``cut``), so the next line on the stream (another worker's) is never glued to it."""
    read_end, write_end = _stalled_pipe()
    received = bytearray()
    try:
        started = time.monotonic()
        proc = popen([sys.executable, "-c", _CUT_AT_EXIT], stderr=write_end)
        os.close(write_end)
        while chunk := os.read(read_end, 4096):  # a page every 0.1 s
            received += chunk
            time.sleep(0.1)
        assert proc.wait(5.0) == 0
        assert time.monotonic() - started < 5.0  # the interpreter's start, and 1 s
    finally:
        proc.kill()
        os.close(read_end)
    assert received.endswith(b"\n")
    *lines, cut, last = bytes(received).decode().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["i"] for r in records] == list(range(len(records)))
    assert len(records) == 50
    assert cut.startswith('{"i": 50, "padding": "xxx')
    told = json.loads(last)
    assert (told["msg"], told["cut"]) == (DROPPED_MESSAGE, True)
    assert told["dropped"] == 5


@pytest.mark.usefixtures("restore_logging", "no_journal")
def test_the_end_waits_for_a_slow_stream_while_it_takes_lines_up_to_a_bound(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The queued output ended (as the process ends) with 230 KiB queued for a stream that
    takes a page every 0.1 s: the records are waited for past ``EXIT_FLUSH_S`` while the
    stream takes them, up to ``EXIT_FLUSH_LIMIT_S``; what was written is whole and in order,
    and the last line says how many were not."""
    monkeypatch.setattr(log_output, "EXIT_FLUSH_LIMIT_S", 1.5)
    read_end, write_end = _stalled_pipe()
    stream = open(write_end, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    received = bytearray()
    reading = threading.Event()
    reading.set()

    def read_slowly() -> None:
        while reading.is_set():
            time.sleep(0.1)
            if select.select([read_end], [], [], 0)[0]:
                received.extend(os.read(read_end, 4096))

    reader = threading.Thread(target=read_slowly)
    try:
        configure("info", "json", stream, queued=True)
        log = structlog.get_logger("t")
        for i in range(1000):
            log.info("record", i=i, padding="x" * 200)
        reader.start()
        started = time.monotonic()
        configure("info", "json", io.StringIO())
        elapsed = time.monotonic() - started
        reading.clear()
        reader.join()
        while select.select([read_end], [], [], 0)[0]:  # what the stream holds still
            received += os.read(read_end, 65536)
        assert 1.2 < elapsed < 2.0
        *records, told = [json.loads(line) for line in bytes(received).decode().splitlines()]
        assert len(records) > 50  # at 40 KiB a second: more than half a second's
        assert [r["i"] for r in records] == list(range(len(records)))
        # the end gave up: the last line tells of the records it did not write
        assert (told["msg"], told["dropped"]) == (DROPPED_MESSAGE, 1000 - len(records))
    finally:
        reading.clear()
        with contextlib.suppress(OSError):  # the writer thread left in its write returns
            while select.select([read_end], [], [], 0.5)[0] and os.read(read_end, 65536):
                pass
        stream.close()
        os.close(read_end)


@pytest.mark.usefixtures("restore_logging", "no_journal")
def test_a_worker_s_lines_logged_in_other_threads_name_the_worker() -> None:
    """The workers of ``--workers`` share one stream, and a worker binds its ``worker`` as
    logging is configured, in its main thread: the lines of its other threads (a library's
    through the standard logging module among them), a warning given there and the record of
    a thread that an exception ended name the worker too, as the main thread's do."""
    read_end, write_end = os.pipe()
    stream = open(write_end, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    structlog.contextvars.bind_contextvars(worker=2)
    try:
        configure("info", "json", stream, queued=True)

        def fails() -> None:
            structlog.get_logger("t").info("in a thread")
            logging.getLogger("library").warning("a library's line")
            warnings.warn("an old way of doing it", UserWarning, stacklevel=1)
            raise RuntimeError("the thread failed")

        thread = threading.Thread(target=fails, name="fails")
        thread.start()
        thread.join()
        structlog.get_logger("t").info("after")
        received = _read_until(read_end, b'"after"}\n')
        records = [json.loads(line) for line in received.decode().splitlines()]
        assert [(r["msg"], r.get("worker")) for r in records] == [
            ("in a thread", 2),
            ("a library's line", 2),
            ("an old way of doing it", 2),
            (THREAD_FAILED_MESSAGE, 2),
            ("after", 2),
        ]
    finally:
        structlog.contextvars.clear_contextvars()
        configure("info", "json", io.StringIO())
        stream.close()
        os.close(read_end)


@pytest.mark.usefixtures("restore_logging", "no_journal")
@pytest.mark.parametrize("writer", [True, False], ids=["writer", "no-writer-thread"])
def test_a_thread_s_exception_and_a_warning_are_records_of_the_run_s_log(
    writer: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``sensord run``'s log: a thread's uncaught exception is an error record (the thread's
    name, its context, the traceback as a field), a warning a warning record, in order with
    the lines around them, through the writer thread or, where none could be started, written
    directly; configured for a tool again, Python reports them itself."""
    refused = [] if writer else refuse_threads(monkeypatch, "sensord-log")
    hooks = (threading.excepthook, warnings.showwarning)
    read_end, write_end = os.pipe()
    stream = open(write_end, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    try:
        configure("info", "json", stream, queued=True)
        assert refused == ([] if writer else ["sensord-log"])
        log = structlog.get_logger("t")

        def fails() -> None:
            structlog.contextvars.bind_contextvars(sensor="boiler")
            log.info("before")
            warnings.warn("an old way of doing it", UserWarning, stacklevel=1)
            raise RuntimeError("the thread failed")

        thread = threading.Thread(target=fails, name="fails")
        thread.start()
        thread.join()
        log.info("after")
        received = _read_until(read_end, b'"after"}\n')
        records = [json.loads(line) for line in received.decode().splitlines()]
        assert [(r["level"], r["msg"]) for r in records] == [
            ("info", "before"),
            ("warning", "an old way of doing it"),
            ("error", THREAD_FAILED_MESSAGE),
            ("info", "after"),
        ]
        warned, failed = records[1:3]
        assert (warned["category"], warned["filename"]) == ("UserWarning", __file__)
        assert (failed["thread"], failed["sensor"]) == ("fails", "boiler")
        (exception,) = failed["exception"]
        assert exception["exc_value"] == "the thread failed"
        assert exception["frames"][-1]["name"] == "fails"
        configure("info", "json", io.StringIO())
        assert (threading.excepthook, warnings.showwarning) == hooks
    finally:
        configure("info", "json", io.StringIO())
        stream.close()
        os.close(read_end)


class _RaisesAsItGoes:
    """An object whose ``__del__`` raises: Python cannot raise that, it reports it."""

    def __del__(self) -> None:
        raise KeyError("a finalizer failed")


@pytest.mark.usefixtures("restore_logging", "no_journal")
def test_an_exception_python_cannot_raise_is_a_record_of_the_run_s_log() -> None:
    """``sensord run``'s log: an exception in a ``__del__`` (``sys.unraisablehook``) is an
    error record (where it was ignored, the thread, the traceback as a field) in order with
    the lines around them, not text printed amid them; configured for a tool again, Python
    reports it itself."""
    hook = sys.unraisablehook
    read_end, write_end = os.pipe()
    stream = open(write_end, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    try:
        configure("info", "json", stream, queued=True)
        log = structlog.get_logger("t")
        log.info("before")
        _RaisesAsItGoes()
        log.info("after")
        received = _read_until(read_end, b'"after"}\n')
        records = [json.loads(line) for line in received.decode().splitlines()]
        assert [(r["level"], r["msg"]) for r in records] == [
            ("info", "before"),
            ("error", UNRAISABLE_MESSAGE),
            ("info", "after"),
        ]
        ignored = records[1]
        assert ignored["where"].startswith("Exception ignored in: <function _RaisesAsItGoes")
        assert ignored["thread"] == threading.current_thread().name
        (exception,) = ignored["exception"]
        assert (exception["exc_type"], exception["frames"][-1]["name"]) == ("KeyError", "__del__")
        configure("info", "json", io.StringIO())
        assert sys.unraisablehook == hook
    finally:
        configure("info", "json", io.StringIO())
        stream.close()
        os.close(read_end)


_FAILS_AT_EXIT = """
import sys
import structlog
from sensord import log

class RaisesAsItGoes:
    def __del__(self):
        raise KeyError("a finalizer failed at exit")

log.configure("info", "json", sys.stderr, queued=True)
kept = RaisesAsItGoes()  # freed as the interpreter clears the module, after atexit
structlog.get_logger("t").info("last line")
"""


def test_an_exception_python_cannot_raise_at_exit_is_still_told() -> None:
    """An exception in a ``__del__`` as the interpreter tears the modules down, after the
    writer thread wrote the last lines and ended: Python reports it on the stream, after
    them, rather than queuing it for a thread that is gone."""
    done = subprocess.run(
        [sys.executable, "-c", _FAILS_AT_EXIT],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    first, *rest = done.stderr.splitlines()
    assert json.loads(first)["msg"] == "last line"
    assert rest, "nothing told after the last line"
    assert rest[0].startswith("Exception ignored in: <function RaisesAsItGoes.__del__ at ")
    assert rest[-1] == "KeyError: 'a finalizer failed at exit'"


_FINALIZERS_REPORT = """
import faulthandler, gc, socket, sys, threading, time, warnings
import structlog
from sensord import log, log_output

faulthandler.dump_traceback_later(15.0, exit=True)  # hung: where, and exit 1

class RaisesAsItGoes:
    def __del__(self):
        raise KeyError("a finalizer failed")

log.configure("info", "json", sys.stderr, queued=True)
warnings.simplefilter("always", ResourceWarning)

def leaves_garbage():
    # cycles that only the collector frees: it runs their finalizers where it runs, amid a
    # record the main thread writes among other places; a count of them, not a time, so a
    # loaded machine makes as many
    for _ in range(300):
        cycle = [socket.socket() if sys.argv[1] == "warning" else RaisesAsItGoes()]
        cycle.append(cycle)
        time.sleep(0.0001)

thread = threading.Thread(target=leaves_garbage, name="leaves-garbage")
thread.start()
gc.set_threshold(5)  # the collector runs often: many chances to run amid a record
logger = structlog.get_logger("t")
queued = log_output._Queues.current
while thread.is_alive():
    logger.info("record")
    # a quarter of what the queue holds ahead of the stream at most: a loaded machine writes
    # slowly, and the records it dropped would take reports with them (and the end, which
    # waits EXIT_FLUSH_LIMIT_S for the stream, would leave the last ones and "done" unwritten)
    while queued._chars > log_output.QUEUE_LIMIT_CHARS // 4:
        time.sleep(0.001)
thread.join()
gc.set_threshold(700)
logger.info("done")
"""


@pytest.mark.parametrize("kind", ["warning", "unraisable"])
def test_a_finalizer_that_reports_amid_a_record_does_not_hang_the_log(
    kind: str, tmp_path: Path
) -> None:
    """A finalizer the garbage collector runs amid a record's write (an unclosed socket's
    ``ResourceWarning``, a ``__del__`` that raises), reported through ``sensord run``'s log:
    its record is queued with the others, the thread that was writing goes on (it waited
    for a lock it held itself, forever, and so did every thread that logged after it)."""
    log_path = tmp_path / "stderr.log"
    with log_path.open("wb") as stderr:
        proc = popen([sys.executable, "-c", _FINALIZERS_REPORT, kind], cwd=REPO, stderr=stderr)
        try:
            ended = proc.wait(30.0)
        finally:
            proc.kill()
    text = log_path.read_text(encoding="utf-8", errors="replace")
    told_by_python = [line for line in text.splitlines() if not line.startswith("{")]
    assert ended == 0, "hung or failed:\n" + "\n".join(told_by_python[-40:])
    # (what the collector frees as the interpreter ends, after the last line, Python tells)
    lines, done, _ = text.partition('"msg": "done"}\n')
    assert done
    records = [json.loads(line) for line in lines.splitlines()[:-1]]
    told = [r for r in records if r["msg"] != "record"]  # none dropped
    if kind == "warning":
        assert {r.get("category") for r in told} == {"ResourceWarning"}
    else:
        assert {r["msg"] for r in told} == {UNRAISABLE_MESSAGE}
    assert len(told) > 100


_SERVE_RAISES = """
import structlog
from sensord import daemon
def _serve(self):
    password = "hunter2"  # a frame's local: never in a log line
    for i in range(300):  # queued as the exception ends the process
        structlog.get_logger("t").info("serving", i=i)
    raise RuntimeError("the loop failed")
daemon.Daemon.serve = _serve
"""


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_a_run_that_an_exception_ends_logs_it_as_a_record_after_its_last_lines(
    start_daemon: StartDaemon, fmt: str
) -> None:
    """The exception that ends ``sensord run`` (a bug in its main thread) is an error record of
    its log, after the lines logged before it: under journald one JSON object with the
    traceback as a field (the interpreter would print the traceback's lines one by one), on
    a terminal as readable as the console's other tracebacks, neither with the frames' local
    variables; the process exits 1."""
    daemon = start_daemon(
        ["--log-format", fmt],
        config=sensor_toml("crash", "sim://crash", rate_hz=5),
        python_prelude=_SERVE_RAISES,
        env={"NO_COLOR": "1"},
    )
    assert daemon.proc.wait(20.0) == 1
    text = daemon.log_text()
    assert "hunter2" not in text  # the frames' local variables are left out, as they may be secrets
    if fmt == "console":
        ended = text.index(ENDED_MESSAGE)
        assert text.index("pipeline finished") < ended
        assert "Traceback (most recent call last)" in text[ended:]
        assert text.rstrip().endswith("RuntimeError: the loop failed")
        return
    records = [json.loads(line) for line in text.splitlines()]  # every line one record
    assert [r["i"] for r in records if r["msg"] == "serving"] == list(range(300))
    (finished,) = [r for r in records if r["msg"] == "pipeline finished"]
    assert finished["outcome"] == "failed"
    assert finished["error"] == "the loop failed"
    ended_record = records[-1]
    assert (ended_record["msg"], ended_record["level"]) == (ENDED_MESSAGE, "error")
    (exception,) = ended_record["exception"]
    assert (exception["exc_type"], exception["exc_value"]) == ("RuntimeError", "the loop failed")
    assert exception["frames"][-1]["name"] == "_serve"


#: A console exception formatter that shows each frame's local variables, as structlog's
#: default is when better-exceptions is installed and rich is not.
_FORMATTER_WITH_LOCALS = """
import traceback
import structlog.dev

def _with_locals(sio, exc_info):
    sio.write("".join(traceback.TracebackException(*exc_info, capture_locals=True).format()))

structlog.dev.default_exception_formatter = _with_locals
"""


def test_a_console_traceback_leaves_out_locals_whatever_formatter_structlog_defaults_to(
    start_daemon: StartDaemon,
) -> None:
    """A structlog whose default console formatter shows the frames' local variables
    (better-exceptions installed without rich) does not get to: the console writes the
    plain traceback, without them."""
    daemon = start_daemon(
        ["--log-format", "console"],
        config=sensor_toml("crash", "sim://crash", rate_hz=5),
        python_prelude=_FORMATTER_WITH_LOCALS + _SERVE_RAISES,
        env={"NO_COLOR": "1"},
    )
    assert daemon.proc.wait(20.0) == 1
    text = daemon.log_text()
    assert "Traceback (most recent call last)" in text
    assert text.rstrip().endswith("RuntimeError: the loop failed")
    assert "hunter2" not in text


@pytest.mark.usefixtures("restore_logging", "no_journal")
def test_configured_again_the_run_logs_its_exception_once(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sys, "excepthook", sys.__excepthook__)
    read_end, write_end = os.pipe()
    stream = open(write_end, "w", encoding="utf-8")  # noqa: SIM115 - closed below
    try:
        configure("info", "json", stream, queued=True)
        configure("warning", "json", stream, queued=True)
        sys.excepthook(RuntimeError, RuntimeError("the loop failed"), None)
        received = _read_until(read_end, b"\n", 5.0)
        assert [json.loads(line)["msg"] for line in received.decode().splitlines()] == [
            ENDED_MESSAGE
        ]
        assert capsys.readouterr().err == ""
    finally:
        configure("info", "json", io.StringIO())
        stream.close()
        os.close(read_end)


def test_json_tracebacks_carry_frames_but_not_local_variables() -> None:
    out = io.StringIO()
    configure("info", "json", out)

    def fetch(password: str) -> None:
        authorization = f"Basic {password}"
        raise ConnectionResetError(f"reset after sending {len(authorization)} bytes")

    try:
        fetch("hunter2-secret")
    except ConnectionResetError:
        structlog.get_logger("t").exception("fetch failed")
    record = json.loads(out.getvalue())
    frames = record["exception"][0]["frames"]
    assert frames[-1]["name"] == "fetch"
    assert record["exception"][0]["exc_value"] == "reset after sending 20 bytes"
    assert "hunter2" not in out.getvalue()


def test_no_log_call_passes_a_key_the_console_renderer_takes_as_a_traceback() -> None:
    """structlog's console renderer prints an ``exception`` value (and ``exc_info``'s) as a
    traceback on lines of its own, without its key: a log call's fields never use that key
    for a value of sensord's (a Modbus exception code's meaning is ``meaning``)."""
    reserved = {"exception", "stack"}
    found = []
    for path in sorted((REPO / "sensord").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.Call)
                and isinstance(node.func, ast.Attribute)
                and node.func.attr in {"debug", "info", "warning", "error", "critical", "msg"}
            ):
                found += [
                    f"{path.relative_to(REPO)}:{node.lineno} {kw.arg}="
                    for kw in node.keywords
                    if kw.arg in reserved
                ]
    assert found == []


@pytest.mark.usefixtures("restore_logging", "no_journal")
@pytest.mark.parametrize("level", ["info", "debug"])
def test_info_lines_go_at_debug_level_for_the_time_asked(
    level: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``info_at_debug_for`` (a worker restarted in a loop, as it starts): its info lines are
    left out at level info and logged as debug at level debug, its warnings logged as ever,
    and once the time is over its info lines are logged as info again."""
    monkeypatch.setattr(sensord_log._INFO_AT_DEBUG, "until", 0.0)
    out = io.StringIO()
    configure(level, "json", out)
    logger = structlog.get_logger("sensord.test")
    info_at_debug_for(0.3)
    logger.info("sensord worker started")
    logger.warning("device absent")
    time.sleep(0.35)
    logger.info("sensor state")
    records = [(r["level"], r["msg"]) for r in map(json.loads, out.getvalue().splitlines())]
    quiet = [("debug", "sensord worker started")] if level == "debug" else []
    assert records == [*quiet, ("warning", "device absent"), ("info", "sensor state")]


@pytest.mark.usefixtures("restore_logging", "no_journal")
def test_a_library_s_info_line_while_info_goes_at_debug_is_logged_not_raised(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A library's info line through the standard logging module while ``info_at_debug_for``
    holds (a worker restarted in a loop, as it starts): pyserial's ``socket://`` port with
    ``?logging=info`` tells at its open that it ignores the port settings. The open succeeds
    and the line is logged as the library sent it; sensord's own info line is left out."""
    monkeypatch.setattr(sensord_log._INFO_AT_DEBUG, "until", 0.0)
    out = io.StringIO()
    configure("info", "json", out)
    info_at_debug_for(30.0)
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        opened = serial.serial_for_url(f"socket://127.0.0.1:{port}?logging=info", timeout=0)
        opened.close()
    structlog.get_logger("sensord.test").info("sensor state")
    records = [(r["level"], r["msg"]) for r in map(json.loads, out.getvalue().splitlines())]
    assert ("info", "ignored port configuration change") in records
    assert all(msg != "sensor state" for _, msg in records)
