"""Captures: the file format, the ring, the timeline, replay through ``replay://`` and the
command-line tools (``capture --show``, ``record``, ``simulate --replay``) on real ptys."""

from __future__ import annotations

import contextlib
import io
import os
import resource
import shutil
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from harness.common import up_settled, wait_for
from harness.pty import PtyPair, pty_numbers_held, run_as_user, wait_readable
from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs

from sensord import cli
from sensord.capture import (
    DEFAULT_RING_BYTES,
    ENTRY_COST_BYTES,
    RX,
    TX,
    CaptureError,
    CaptureJournal,
    CaptureRing,
    Record,
    encode_capture,
    format_timeline,
    parse_capture,
    read_capture,
)
from sensord.config import Config, parse_config
from sensord.daemon import CAPTURE_WAIT_S, Daemon, _capture_of
from sensord.errors import ConfigError, SourceUnavailableError
from sensord.http import HttpServer
from sensord.reader import Reader
from sensord.sensor import SensorRuntime
from sensord.serial_settings import SerialSettings
from sensord.sources.replay import ReplaySource
from sensord.tools import record

HEADER = {"sensord": "1.2.3", "sensor": "s", "port": "/dev/ttyUSB0", "serial": "9600 8N1"}
EVERY_BYTE = bytes(range(256))


class Clock:
    def __init__(self, now: float = 100.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def sample_records() -> list[Record]:
    return [
        Record(RX, 0.0, b"21.5\n"),
        Record(TX, 0.25, b"READ?\r\n"),
        Record(RX, 0.5, EVERY_BYTE),
        Record(RX, 1.75, b"\n\x00\xff"),
    ]


# -- the format ------------------------------------------------------------------------------------


def test_a_capture_reads_back_exactly_every_byte_and_offset() -> None:
    data = encode_capture(HEADER, sample_records())
    capture = parse_capture(data)
    assert capture.header == HEADER
    assert capture.records == sample_records()
    assert not capture.truncated
    assert data.startswith(b"sensord-capture 1\nsensord: 1.2.3\n")


def test_a_capture_cut_anywhere_reads_up_to_the_cut() -> None:
    records = sample_records()
    data = encode_capture(HEADER, records)
    full = b"".join(r.data for r in records)
    header_end = data.index(b"\n\n") + 2
    boundaries = {header_end}
    end = header_end
    for r in records:
        end += 13 + len(r.data)
        boundaries.add(end)
    seen = 0
    for cut in range(header_end, len(data)):
        capture = parse_capture(data[:cut])
        got = b"".join(r.data for r in capture.records)
        assert full.startswith(got), cut
        assert len(got) >= seen, f"cut at {cut} lost bytes an earlier cut kept"
        seen = len(got)
        assert capture.truncated == (cut not in boundaries), cut
    assert seen == len(full) - 1  # the last cut leaves one byte out
    assert parse_capture(data[: header_end - 5]).records == []


def test_what_is_not_a_capture_is_refused_with_a_reason() -> None:
    with pytest.raises(CaptureError, match="not a sensord capture"):
        parse_capture(b"21.5\n22.0\n" * 10)
    with pytest.raises(CaptureError, match="version 2 is newer"):
        parse_capture(b"sensord-capture 2\n\n")
    with pytest.raises(CaptureError, match=r"version 0 does not exist \(1 is the first\)"):
        parse_capture(b"sensord-capture 0\n\n")
    with pytest.raises(CaptureError, match="not a sensord capture"):  # a digit to isdigit()
        parse_capture("sensord-capture \u00b2\n\n".encode())


def test_a_capture_damaged_inside_reads_up_to_the_damage() -> None:
    records = [Record(RX, 0.0, b"1\n"), Record(RX, 1.0, b"2\n"), Record(RX, 2.0, b"3\n")]
    data = bytearray(encode_capture(HEADER, records))
    second = data.index(b"\n\n") + 2 + 13 + 2
    data[second] = ord("Q")
    capture = parse_capture(bytes(data))
    assert capture.records == records[:1]
    assert capture.damaged_at == second
    assert not capture.truncated
    assert f"damaged: no record head at byte {second}" in "\n".join(format_timeline(capture))


def test_the_timeline_shows_offsets_directions_hex_and_ascii() -> None:
    capture = parse_capture(encode_capture(HEADER, sample_records()))
    lines = list(format_timeline(capture))
    text = "\n".join(lines)
    assert "port: /dev/ttyUSB0" in text
    assert "records: 3 received (264 bytes), 1 sent (7 bytes)" in text
    tx = next(line for line in lines if "-> tx" in line)
    assert "0.250000" in tx
    assert "52 45 41 44 3f 0d 0a" in tx
    assert "|READ?..|" in tx
    # 256 bytes: 16 lines of hex, the printable ones shown as themselves
    every = [line for line in lines if "|" in line and " 40 41 42 " in line]
    assert every
    assert every[0].endswith("|@ABCDEFGHIJKLMNO|")


# -- the ring --------------------------------------------------------------------------------------


def test_a_write_timed_before_the_last_read_takes_the_reads_time() -> None:
    """The loop writes a poll at the time of its pass, which may be before a chunk it read
    in the same pass: the capture's times never go back (no negative gap in a timeline)."""
    ring = CaptureRing(100)
    ring.rx(5.0, b"21.5\n")
    ring.tx(4.9, b"MEAS?\n")
    ring.tx(6.0, b"MEAS?\n")
    assert [(at, way) for at, way, _ in ring.entries()] == [(5.0, RX), (5.0, TX), (6.0, TX)]


def test_the_ring_keeps_the_latest_chunks_within_its_budget() -> None:
    ring = CaptureRing(10)
    for i in range(6):
        ring.rx(float(i), b"%d\n" % i)
    ring.tx(6.0, b"RD")
    assert sum(len(chunk) for _, _, chunk in ring.entries()) <= 10
    assert ring.entries() == (
        (2.0, RX, b"2\n"),
        (3.0, RX, b"3\n"),
        (4.0, RX, b"4\n"),
        (5.0, RX, b"5\n"),
        (6.0, TX, b"RD"),
    )
    ring.rx(7.0, b"0123456789ABCDEF")  # larger than the ring: its tail stays
    assert ring.entries() == ((7.0, RX, b"6789ABCDEF"),)
    ring.resize(4)
    assert ring.entries() == ((7.0, RX, b"CDEF"),)
    ring.resize(0)
    ring.rx(8.0, b"x")
    assert ring.entries() == ()


def _ring_model(
    max_bytes: int, writes: list[tuple[float, str, bytes]]
) -> tuple[tuple[float, str, bytes], ...]:
    """What a ring of ``max_bytes`` holds after ``writes``, by its definition: the newest
    chunks (at most the table's count) whose bytes are all among the last ``max_bytes``
    written, a chunk larger than the ring cut to its tail."""
    if max_bytes == 0:
        return ()
    max_entries = max(16, max_bytes // ENTRY_COST_BYTES)
    chunks = [(t, d, data[-max_bytes:]) for t, d, data in writes if data]
    held: list[tuple[float, str, bytes]] = []
    total = 0
    for entry in reversed(chunks[-max_entries:]):
        total += len(entry[2])
        if total > max_bytes:
            break
        held.append(entry)
    return tuple(reversed(held))


_WRITES = st.lists(st.tuples(st.sampled_from([RX, TX]), st.binary(max_size=80)), max_size=120)


@settings(max_examples=300, deadline=None)
@given(max_bytes=st.integers(min_value=0, max_value=300), writes=_WRITES)
def test_a_ring_holds_what_its_definition_says(
    max_bytes: int, writes: list[tuple[str, bytes]]
) -> None:
    ring = CaptureRing(max_bytes)
    timed = [(float(i), d, data) for i, (d, data) in enumerate(writes)]
    for now, direction, data in timed:
        (ring.rx if direction == RX else ring.tx)(now, data)
    assert ring.entries() == _ring_model(max_bytes, timed)


@settings(max_examples=200, deadline=None)
@given(
    first=st.integers(min_value=0, max_value=300),
    second=st.integers(min_value=0, max_value=300),
    writes=_WRITES,
    more=_WRITES,
)
def test_a_resized_ring_keeps_what_fits_and_goes_on(
    first: int, second: int, writes: list[tuple[str, bytes]], more: list[tuple[str, bytes]]
) -> None:
    ring = CaptureRing(first)
    timed = [(float(i), d, data) for i, (d, data) in enumerate(writes + more)]
    for now, direction, data in timed[: len(writes)]:
        (ring.rx if direction == RX else ring.tx)(now, data)
    ring.resize(second)
    kept = _ring_model(second, list(_ring_model(first, timed[: len(writes)])))
    assert ring.entries() == kept
    for now, direction, data in timed[len(writes) :]:
        (ring.rx if direction == RX else ring.tx)(now, data)
    assert ring.entries() == _ring_model(second, [*kept, *timed[len(writes) :]])


def _chunk(i: int) -> bytes:
    return bytes([i % 251]) * (1 + i % 97)


@pytest.mark.parametrize("resizing", [False, True])
def test_a_ring_read_from_another_thread_sees_only_whole_chunks(resizing: bool) -> None:
    """Another thread's copies hold whole chunks, newest last, each the chunk written at its
    time, also while the writer resizes the ring between 1000 and 300 bytes."""
    ring = CaptureRing(1000)
    stop = threading.Event()

    def write() -> None:
        i = 0
        while not stop.is_set():
            i += 1
            ring.rx(float(i), _chunk(i))
            if resizing and i % 50 == 0:
                ring.resize(300 if ring.max_bytes == 1000 else 1000)

    writer = threading.Thread(target=write)
    writer.start()
    try:
        seen = 0
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            entries = ring.entries()
            assert sum(len(chunk) for _, _, chunk in entries) <= 1000
            times = [now for now, _, _ in entries]
            assert times == sorted(set(times))
            for now, direction, chunk in entries:
                assert direction == RX
                assert chunk == _chunk(int(now))
                seen += 1
    finally:
        stop.set()
        writer.join()
    assert seen > 0


_RING_SIZES = st.sampled_from([0, 1, 2, 16, 63, 64, 65, 128, 1024, 1280, 2048])
_CHUNK_SIZES = st.sampled_from([0, 1, 2, 3, 15, 16, 63, 64, 65, 127, 128, 129, 1024, 1300])
_RING_STEPS = st.lists(
    st.one_of(
        st.tuples(st.sampled_from(["rx", "tx"]), _CHUNK_SIZES),
        st.tuples(st.just("rx_many"), st.lists(_CHUNK_SIZES, max_size=40)),
        st.tuples(st.just("resize"), _RING_SIZES),
    ),
    max_size=60,
)


@settings(max_examples=1000, deadline=None)
@given(first=_RING_SIZES, steps=_RING_STEPS)
def test_a_ring_written_and_resized_in_any_order_holds_what_its_definition_says(
    first: int, steps: list[tuple[str, Any]]
) -> None:
    """``rx``, ``tx``, ``rx_many`` and resizes (to 0 and back, up and down while the bytes
    wrap) in any order, with chunks of the ring's size, one byte either side of it and many
    times it: after every step the ring holds its definition's chunks. No byte written is 0,
    so bytes of the buffer that were never written cannot pass for written ones."""
    ring = CaptureRing(first)
    max_bytes = first
    held: list[tuple[float, str, bytes]] = []
    written = 0
    now = 0.0

    def fresh(size: int) -> bytes:
        nonlocal written
        data = bytes((written + k) % 255 + 1 for k in range(size))
        written += size
        return data

    for what, arg in steps:
        if what == "resize":
            ring.resize(arg)
            max_bytes = arg
            new: list[tuple[float, str, bytes]] = []
        elif what == "rx_many":
            times = [now + 1 + k for k in range(len(arg))]
            now += len(arg)
            chunks = [fresh(size) for size in arg]
            ring.rx_many(times, chunks)
            new = [(t, RX, chunk) for t, chunk in zip(times, chunks, strict=True)]
        else:
            now += 1
            data = fresh(arg)
            (ring.rx if what == "rx" else ring.tx)(now, data)
            new = [(now, RX if what == "rx" else TX, data)]
        held = list(_ring_model(max_bytes, [*held, *new]))
        assert ring.entries() == tuple(held), (what, arg)


def _numbered(i: int) -> bytes:
    """Chunk ``i``: from 1 byte to many times a ring's size, no byte 0."""
    return bytes((i + k) % 255 + 1 for k in range(1 + (i * 37) % 2500))


def test_a_ring_read_from_another_thread_sees_only_written_bytes_of_every_write() -> None:
    """Another thread's copies hold the bytes written at each time (the oldest chunk may be
    cut to its tail), also while the writer sends, hands over many chunks at once, writes
    chunks larger than the ring and resizes it, to 0 among others."""
    ring = CaptureRing(1000)
    stop = threading.Event()
    failed: list[BaseException] = []
    sent: set[float] = set()

    def write() -> None:
        sizes = [1000, 64, 0, 2000, 999, 1001]
        i = 0
        try:
            while not stop.is_set():
                i += 1
                if i % 7 == 0:
                    ring.rx_many([float(i), i + 1.0, i + 2.0], [_numbered(i + k) for k in range(3)])
                    i += 2
                elif i % 5 == 0:
                    sent.add(float(i))
                    ring.tx(float(i), _numbered(i))
                else:
                    ring.rx(float(i), _numbered(i))
                if i % 97 == 0:
                    ring.resize(sizes[i // 97 % len(sizes)])
        except BaseException as exc:
            failed.append(exc)

    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # the threads take turns as often as they can
    writer = threading.Thread(target=write)
    writer.start()
    try:
        seen = 0
        deadline = time.monotonic() + 1.0
        while time.monotonic() < deadline:
            entries = ring.entries()
            assert sum(len(chunk) for _, _, chunk in entries) <= 2000
            for k, (now, direction, chunk) in enumerate(entries):
                whole = _numbered(int(now))
                assert chunk == whole if k else whole.endswith(chunk)
                assert direction == (TX if now in sent else RX)
                seen += 1
    finally:
        stop.set()
        writer.join()
        sys.setswitchinterval(switch)
    assert not failed
    assert seen > 0


def test_a_ring_takes_its_budget_and_its_table_and_no_more() -> None:
    """The bytes stay in one buffer of exactly ``max_bytes``, allocated at the first byte and
    given up at a resize to 0; the table holds at most half as much again as the chunks the
    ring holds, however the ring is written."""
    ring = CaptureRing(4096)
    assert len(ring._buf) == 0  # a port that never sent a byte
    buffer = None
    for i in range(3000):
        size = (1, 7, 64, 4095, 4096, 4097, 9000)[i % 7]
        if i % 11 == 0:
            ring.tx(float(i), b"q" * size)
        elif i % 13 == 0:
            ring.rx_many([float(i), float(i)], [b"a" * size, b"b"])
        else:
            ring.rx(float(i), b"r" * size)
        buffer = buffer or ring._buf
        assert ring._buf is buffer  # written in place, never grown or moved
        assert sys.getsizeof(ring._buf) <= 4096 + 64
        assert len(ring._ends) == len(ring._times) <= 64 + 32
        assert len(ring._tx_ends) <= len(ring._ends)
    ring.resize(100)
    assert len(ring._buf) == 100
    assert len(ring._ends) <= 16 + 8
    ring.resize(0)
    assert len(ring._buf) == 0
    assert ring.entries() == ()


def test_a_ring_writes_a_capture_with_offsets_from_its_oldest_chunk() -> None:
    ring = CaptureRing(1000)
    ring.rx(50.0, b"a")
    ring.tx(50.5, b"q")
    ring.rx(52.0, b"b")
    data = ring.capture({"sensor": "s"}, clock_s=60.0, wall_s=1_800_000_000.0)
    capture = parse_capture(data)
    assert capture.records == [Record(RX, 0.0, b"a"), Record(TX, 0.5, b"q"), Record(RX, 2.0, b"b")]
    # the oldest chunk arrived 10 s before the wall time given
    assert capture.header["start"] == "2027-01-15T07:59:50.000000Z"


# -- replay ----------------------------------------------------------------------------------------


def write_capture(path: Path, records: list[Record]) -> Path:
    path.write_bytes(encode_capture(HEADER, records))
    return path


def replay(path: Path, clock: Clock, **kw: Any) -> ReplaySource:
    source = ReplaySource("s", f"replay://{path}", str(path), clock=clock, **kw)
    source.open()
    return source


def test_replay_plays_at_the_recorded_pace_scaled_by_speed(tmp_path: Path) -> None:
    path = write_capture(
        tmp_path / "c.cap",
        [Record(RX, 0.0, b"1\n"), Record(RX, 1.0, b"2\n"), Record(RX, 3.0, b"3")],
    )
    clock = Clock()
    source = replay(path, clock, speed=2.0)
    assert source.read() == b"1\n"
    assert source.next_due() == pytest.approx(100.5)
    clock.now = 100.4
    assert source.read() == b""
    clock.now = 100.5
    assert source.read() == b"2\n"
    assert not source.finished
    clock.now = 101.5
    assert source.read() == b"3"
    assert source.finished
    assert source.next_due() == float("inf")
    clock.now = 200.0
    assert source.read() == b""


def test_replay_at_speed_0_makes_everything_due_at_once(tmp_path: Path) -> None:
    path = write_capture(tmp_path / "c.cap", [Record(RX, 5.0 * i, b"%d\n" % i) for i in range(5)])
    source = replay(path, Clock(), speed=0.0)
    assert source.read() == b"0\n1\n2\n3\n4\n"
    assert source.finished


def test_replay_loops_keeping_the_mean_record_interval(tmp_path: Path) -> None:
    path = write_capture(tmp_path / "c.cap", [Record(RX, 0.0, b"a"), Record(RX, 2.0, b"b")])
    clock = Clock()
    source = replay(path, clock, loop=True)
    assert source.read() == b"a"
    clock.now = 102.0
    assert source.read() == b"b"
    assert source.next_due() == pytest.approx(104.0)  # one mean interval (2 s) later
    clock.now = 104.0
    assert source.read() == b"a"
    assert not source.finished


def test_a_conversation_answers_each_request_in_order(tmp_path: Path) -> None:
    path = write_capture(
        tmp_path / "c.cap",
        [
            Record(RX, 0.0, b"HELLO\n"),
            Record(TX, 1.0, b"R1"),
            Record(RX, 1.2, b"first\n"),
            Record(TX, 6.0, b"R2"),
            Record(RX, 6.1, b"sec"),
            Record(RX, 6.3, b"ond\n"),
        ],
    )
    clock = Clock()
    source = replay(path, clock)
    assert source.read() == b"HELLO\n"
    clock.now = 500.0  # nothing comes without a request, however long it waits
    assert source.read() == b""
    assert source.next_due() == float("inf")
    source.write(b"anything")
    assert source.next_due() == pytest.approx(500.2)
    clock.now = 500.2
    assert source.read() == b"first\n"
    source.write(b"R2")
    clock.now = 500.31
    assert source.read() == b"sec"
    clock.now = 500.45
    assert source.read() == b""
    clock.now = 500.51
    assert source.read() == b"ond\n"
    assert source.finished
    source.write(b"R3")  # no recorded answer left: nothing more comes
    clock.now = 600.0
    assert (source.read(), source.next_due()) == (b"", float("inf"))


MHZ19_READ = bytes.fromhex("ff0186000000000079")


def mhz19_answer(ppm: int) -> bytes:
    body = bytes([0xFF, 0x86, ppm >> 8, ppm & 0xFF, 0x3E, 0, 0, 0])
    return body + bytes([(-sum(body[1:])) & 0xFF])


def mhz19_conversation(path: Path, polls: int, interval_s: float) -> Path:
    """``polls`` reads of an MH-Z19 every ``interval_s``, each answered 50 ms later."""
    records = []
    for i in range(polls):
        records.append(Record(TX, i * interval_s, MHZ19_READ))
        records.append(Record(RX, i * interval_s + 0.05, mhz19_answer(400 + i)))
    return write_capture(path, records)


def test_a_polled_capture_at_speed_0_is_asked_as_fast_as_it_answers(tmp_path: Path) -> None:
    """40 polls recorded 5 s apart play in well under a second through the real reader loop,
    every answer read and none counted as a timeout, and the finished replay is polled at the
    configured interval again, not in a busy loop."""
    path = mhz19_conversation(tmp_path / "co2.cap", 40, 5.0)
    table = {"name": "co2", "port": f"replay://{path}", "preset": "mhz19", "replay": {"speed": 0}}
    errors: list[str] = []
    config = Config.load({"sensors": [table]}, "", errors)
    assert config is not None, errors
    runtime = SensorRuntime(config.sensors[0])
    polls: list[bytes] = []
    with Reader([runtime]) as reader:
        started = time.monotonic()

        def played_out() -> bool:
            source = runtime.source
            return (source is not None and source.finished) or time.monotonic() - started > 10

        reader.run(until=played_out)
        took = time.monotonic() - started
        source = runtime.source
        assert source is not None
        write = source.write

        def counted(data: bytes) -> None:
            polls.append(data)
            write(data)

        source.write = counted  # type: ignore[method-assign]
        after = time.monotonic()
        reader.run(until=lambda: time.monotonic() - after > 0.3)
    assert took < 2.0  # 195 s recorded
    snap = runtime.snapshot()
    assert snap.frames == 40
    assert runtime.poll_timeouts == 0
    assert snap.channels[0].stats is not None
    assert snap.channels[0].stats.reading.value == 439.0
    assert polls == []  # the preset's 5 s interval again


def test_a_replays_polls_follow_its_speed(tmp_path: Path) -> None:
    conversation = replay(mhz19_conversation(tmp_path / "c.cap", 3, 5.0), Clock(), speed=4.0)
    assert conversation.poll_interval_s(5.0) == pytest.approx(1.25)
    at_once = replay(tmp_path / "c.cap", Clock(), speed=0.0)
    assert at_once.poll_interval_s(5.0) == 0.0
    for _ in range(3):
        at_once.write(MHZ19_READ)
        at_once.read()
    assert at_once.finished
    assert at_once.poll_interval_s(5.0) == 5.0  # played out: no hurry
    looping = replay(tmp_path / "c.cap", Clock(), speed=0.0, loop=True)
    assert looping.poll_interval_s(5.0) == looping.min_interval_s > 0
    lines = write_capture(tmp_path / "l.cap", [Record(RX, 0.0, b"1\n")])
    assert replay(lines, Clock(), speed=4.0).poll_interval_s(5.0) == 5.0  # nothing to answer


def test_a_missing_or_foreign_file_leaves_the_port_unavailable(tmp_path: Path) -> None:
    (tmp_path / "plain.txt").write_text("21.5\n")
    for name, reason in (("absent.cap", "cannot read capture"), ("plain.txt", "not a sensord")):
        source = ReplaySource("s", "replay://x", str(tmp_path / name))
        with pytest.raises(SourceUnavailableError, match=reason):
            source.open()
        source.close()


def sensor_config(port: str, **extra: Any) -> Config:
    data = {
        "sensors": [
            {
                "name": "s",
                "port": port,
                "format": "value",
                "channels": [{"name": "v", "filter": {"min": 0, "max": 100}}],
                **extra,
            }
        ]
    }
    errors: list[str] = []
    config = Config.load(data, "", errors)
    assert config is not None, errors
    return config


def test_a_replay_port_goes_through_the_real_framing_and_parsing(tmp_path: Path) -> None:
    # frames split across records, a garbage line, an out-of-range value, a truncated end
    records = [
        Record(RX, 0.0, b"21"),
        Record(RX, 0.1, b".5\n22.0\nxx\n"),
        Record(RX, 0.2, b"500\n23.25\n"),
        Record(RX, 0.3, b"24.0\n"),
    ]
    data = encode_capture(HEADER, records)
    path = tmp_path / "c.cap"
    path.write_bytes(data[:-3])  # cut inside the last record: "24" arrives, without its end
    clock = Clock()
    config = sensor_config(f"replay://{path}", replay={"speed": 0})
    runtime = SensorRuntime(config.sensors[0], clock=clock, wall_clock=clock)
    assert runtime.try_open()
    assert runtime.simulated
    assert runtime.source is not None
    runtime.feed(runtime.source.read())
    snap = runtime.snapshot()
    assert snap.frames == 5
    assert snap.parse_errors["syntax"] == 1
    assert snap.parse_errors["range"] == 1
    assert snap.steps["window"].records_in == 3
    assert snap.channels[0].stats is not None
    assert snap.channels[0].stats.reading.value == 23.25


def test_a_replay_port_must_name_an_absolute_path() -> None:
    text = '[[sensors]]\nname = "s"\nport = "replay://relative/file.cap"\nformat = "value"\n'
    text += '[[sensors.channels]]\nname = "v"\n'
    with pytest.raises(
        ConfigError, match=r"sensors\[0\]\.port \(sensor 's'\): .*replay:///ABSOLUTE/PATH"
    ):
        parse_config(text)


# -- the command line ------------------------------------------------------------------------------


def test_capture_show_prints_the_timeline(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write_capture(tmp_path / "c.cap", sample_records())
    assert cli.main(["capture", "--show", str(path)]) == 0
    out = capsys.readouterr().out
    assert "-> tx" in out
    assert "|READ?..|" in out
    assert cli.main(["capture", "--show", str(tmp_path / "absent.cap")]) == 1
    assert "cannot read" in capsys.readouterr().err


def test_record_captures_what_a_device_sends_and_the_requests(tmp_path: Path) -> None:
    out = tmp_path / "rec.cap"
    with PtyPair() as pair:
        done: list[int] = []
        thread = threading.Thread(
            target=lambda: done.append(
                record(
                    pair.path,
                    SerialSettings(baudrate=19200, parity="E"),
                    out,
                    seconds=1.5,
                    request=b"Q\r",
                    interval_s=0.5,
                )
            )
        )
        thread.start()
        assert pair.read(2, timeout_s=5.0) == b"Q\r"
        pair.write(b"A1\n")
        time.sleep(0.1)
        pair.write(b"\x00\xffA2\n")
        thread.join(10.0)
    assert done == [0]
    capture = read_capture(str(out))
    assert capture.header["port"] == pair.path
    assert capture.header["serial"] == "19200 8E1"
    rx = b"".join(r.data for r in capture.records if r.direction == RX)
    assert rx == b"A1\n\x00\xffA2\n"
    requests = [r for r in capture.records if r.direction == TX]
    assert len(requests) >= 2
    assert all(r.data == b"Q\r" for r in requests)
    offsets = [r.offset_s for r in capture.records]
    assert offsets == sorted(offsets)


def test_simulate_replay_plays_a_capture_on_a_pty(tmp_path: Path) -> None:
    path = write_capture(
        tmp_path / "c.cap",
        [Record(RX, 0.0, b"hi\n"), Record(TX, 0.1, b"?"), Record(RX, 0.2, b"answer\n")],
    )
    link = tmp_path / "ttyREPLAY"
    thread = threading.Thread(
        target=cli.main,
        args=(["simulate", "--replay", str(path), "--link", str(link), "--seconds", "4"],),
    )
    with pty_numbers_held():
        thread.start()
        wait_for(link.exists, 5.0, "the replay's pty link")
    try:
        fd = os.open(link, os.O_RDWR | os.O_NOCTTY)
        try:
            assert wait_readable(fd, 3.0)
            assert os.read(fd, 100) == b"hi\n"
            assert not wait_readable(fd, 0.4)  # the answer waits for a request
            os.write(fd, b"?")
            assert wait_readable(fd, 3.0)
            assert os.read(fd, 100) == b"answer\n"
        finally:
            os.close(fd)
    finally:
        thread.join(10.0)
    assert not link.exists()


def usage_error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    """What ``sensord ARGV`` prints on stderr, after checking it exits 2 as a usage error."""
    with pytest.raises(SystemExit) as exited:
        cli.main(argv)
    assert exited.value.code == 2, argv
    return " ".join(capsys.readouterr().err.split())  # argparse wraps its usage lines


def test_record_takes_parity_in_either_case_and_names_the_letter_of_a_word(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--parity`` took N, E, O, M, S in upper case only (``--parity e``: invalid choice):
    either case records, and a word for a parity (``even``) is refused with its letter, as
    ``serial.parity`` refuses it in the config file; ``--help`` says so."""
    out = tmp_path / "p.cap"
    with PtyPair() as pair:
        argv = ["record", pair.path, "-o", str(out), "--seconds", "0.2"]
        for parity in ("e", "o", "N"):
            assert cli.main([*argv, "--parity", parity]) == 0, parity
            assert out.exists()
            out.unlink()
        err = usage_error([*argv, "--parity", "even"], capsys)
        assert err.endswith(
            "sensord record: error: argument --parity: must be one of N, E, O, M, S (in "
            "either case), got 'even'; did you mean E?"
        ), err
        assert not out.exists()
    with pytest.raises(SystemExit):
        cli.main(["record", "--help"])
    assert "parity: N, E, O, M or S, in either case" in " ".join(capsys.readouterr().out.split())


def test_record_refuses_interval_s_without_a_request_and_labels_its_format(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``--interval-s`` without ``--request`` was ignored (the capture made, exit 0);
    ``--format`` only labels the header."""
    out = tmp_path / "r.cap"
    with PtyPair() as pair:
        argv = ["record", pair.path, "-o", str(out), "--seconds", "0.3"]
        err = usage_error([*argv, "--interval-s", "2"], capsys)
        assert err.startswith("usage: sensord record "), err
        assert (
            "sensord record: error: --interval-s is the time between the writes of --request: "
            "give --request TEXT too (without it, record only listens)"
        ) in err
        assert not out.exists()
        assert cli.main(argv) == 0
        assert read_capture(str(out)).header["format"] == "unknown"
        capsys.readouterr()
        for bad in ("0", "-1", "nan"):  # a usage error as any other, not a bare line
            err = usage_error([*argv, "--request", "Q", "--interval-s", bad], capsys)
            assert err.startswith("usage: sensord record "), err
            assert err.endswith(
                "error: argument --interval-s: must be a number of seconds above 0, got "
                f"{float(bad):g}"
            ), err
        # a line speed that is likely a typo is pointed out, as 'sensord check' does
        assert cli.main([*argv, "--baudrate", "11520"]) == 0
        assert capsys.readouterr().err.startswith(
            "sensord: note: --baudrate 11520 is not a usual line speed; did you mean 115200?\n"
        )
        assert cli.main([*argv, "--request", "Q", "--interval-s", "0.1", "--format", "nmea"]) == 0
    capture = read_capture(str(out))
    assert capture.header["format"] == "nmea"
    assert len([r for r in capture.records if r.direction == TX]) >= 2


#: What Dr. Liu's SDI-12 USB adapter (an Arduino board that the open restarts) prints once it
#: has started, its maker's page says some 2.5 s after the open; the README's SDI-12 section.
ADAPTER_STARTED = b"SDI-12 USB adapter ready\r\n"


def test_record_holds_its_first_request_back_for_the_connect_delay(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A device that the open restarts takes no command while it boots: ``--connect-delay``
    holds the first ``--request`` back that long after the open, as a sensor's
    ``connect_delay_s`` holds its first poll, and what the device sends meanwhile (its
    start-up line) is recorded before the request. Without ``--request`` it is a usage error,
    and so is a delay outside a sensor's range."""
    out = tmp_path / "delay.cap"
    with PtyPair() as pair:
        argv = ["record", pair.path, "-o", str(out), "--seconds", "2.5"]
        done: list[int] = []
        thread = threading.Thread(
            target=lambda: done.append(
                cli.main([*argv, "--request", "0M!", "--interval-s", "5", "--connect-delay", "1.2"])
            )
        )
        thread.start()
        wait_for(out.exists, 5.0, "the capture file, made once the port is open")
        opened = time.monotonic()
        pair.write(ADAPTER_STARTED)
        assert pair.read(3, timeout_s=5.0) == b"0M!"
        asked = time.monotonic() - opened
        thread.join(10.0)
        assert done == [0]
        capsys.readouterr()
        assert asked > 1.0, asked
        for extra, why in (
            (["--connect-delay", "2"], "--connect-delay holds the first --request back"),
            (["--request", "0M!", "--connect-delay", "-1"], "must be a number of seconds in [0, "),
            (["--request", "0M!", "--connect-delay", "61"], "in [0, 60], got 61"),
            (["--request", "0M!", "--connect-delay", "nan"], "in [0, 60], got nan"),
        ):
            assert why in usage_error([*argv, *extra], capsys), extra
    records = read_capture(str(out)).records
    assert [(r.direction, r.data) for r in records][:2] == [(RX, ADAPTER_STARTED), (TX, b"0M!")]
    assert records[1].offset_s >= 1.2
    with pytest.raises(SystemExit):
        cli.main(["record", "--help"])
    assert "as a sensor's connect_delay_s holds its first poll back" in " ".join(
        capsys.readouterr().out.split()
    )


def test_record_refuses_line_settings_for_a_socket_port(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A ``socket://`` port is a plain TCP connection: ``--baudrate`` and the other line
    settings were ignored silently (the capture made at the server's speed, exit 0). They are
    a usage error there, and recording such a port without them works."""
    out = tmp_path / "s.cap"
    server = socket.create_server(("127.0.0.1", 0))
    host, port = server.getsockname()
    sent = b"21.5\r\n21.6\r\n"

    def serve() -> None:
        with server:
            conn, _ = server.accept()
            with conn:
                conn.sendall(sent)
                time.sleep(0.5)

    url = f"socket://{host}:{port}"
    argv = ["record", url, "-o", str(out), "--seconds", "0.3"]
    for options, named in {
        ("--baudrate", "115200"): "--baudrate",
        ("--parity", "E", "--rtscts"): "--parity, --rtscts",
    }.items():
        err = usage_error([*argv, *options], capsys)
        assert err.startswith("usage: sensord record "), err
        assert err.endswith(
            f"sensord record: error: {named}: a socket:// port is a plain TCP connection to a "
            "serial server, which sets its device's line in its own configuration; set it "
            "there, or record rfc2217://HOST:PORT to have these settings sent to the server"
        ), err
    assert not out.exists()
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    assert cli.main(argv) == 0
    thread.join(5)
    capture = read_capture(str(out))
    assert b"".join(r.data for r in capture.records if r.direction == RX) == sent


@pytest.mark.parametrize("scheme", ["modbus-tcp", "MODBUS-TCP"])
def test_record_refuses_line_settings_for_a_modbus_tcp_port(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], scheme: str
) -> None:
    """A ``modbus-tcp://`` port is opened as the ``socket://`` of its host and port: a plain
    TCP connection, whose line settings the gateway sets. ``--baudrate`` there was ignored
    silently, as it was for ``socket://``; it is a usage error too, before any connection."""
    out = tmp_path / "m.cap"
    argv = ["record", f"{scheme}://127.0.0.1:1", "-o", str(out), "--baudrate", "19200"]
    err = usage_error([*argv, "--parity", "E"], capsys)
    assert err.endswith(
        "sensord record: error: --baudrate, --parity: a modbus-tcp:// port is a plain TCP "
        "connection to a Modbus TCP gateway or device, which sets its serial line, if it has "
        "one, in its own configuration; set it there"
    ), err
    assert not out.exists()


def test_simulate_replay_refuses_the_options_of_a_simulated_sensor(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``-c``, ``--sensor`` and ``--rate`` were ignored by ``--replay``, which played the
    capture all the same."""
    path = write_capture(tmp_path / "c.cap", sample_records())
    config = tmp_path / "sensord.toml"
    config.write_text('[[sensors]]\nname = "s"\nport = "sim://s"\nformat = "value"\n')
    replay = ["simulate", "--replay", str(path), "--seconds", "0.2"]
    for options, why in {
        ("-c", str(config)): "-c applies to a simulated sensor, not to --replay, which plays "
        "the capture's bytes whatever the config says",
        ("--sensor", "s"): "--sensor applies to a simulated sensor, not to --replay, which "
        "plays the capture's bytes whatever the config says",
        ("--rate", "5"): "--rate applies to a simulated sensor, not to --replay, which plays "
        "at the capture's pace (--speed)",
        ("--stdout",): "--stdout applies to a simulated sensor, not to --replay, which plays "
        "on a pty (a polled capture answers the requests written to it)",
    }.items():
        err = usage_error([*replay, *options], capsys)
        assert err.startswith("usage: sensord simulate "), err
        assert err.endswith(f"sensord simulate: error: {why}"), err
    assert cli.main([*replay, "--speed", "0", "--loop"]) == 0
    assert "replaying" in capsys.readouterr().out


def test_capture_without_a_sensor_prints_its_own_usage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``sensord capture`` with no SENSOR printed the usage of ``sensord``; ``--show`` with
    the options of a fetch ignored them."""
    err = usage_error(["capture"], capsys)
    assert err.startswith("usage: sensord capture [-h] [--show FILE]"), err
    assert err.endswith(
        "sensord capture: error: give the SENSOR whose bytes to fetch, or --show FILE"
    )
    path = write_capture(tmp_path / "c.cap", sample_records())
    err = usage_error(["capture", "s", "--show", str(path), "-o", "x.cap"], capsys)
    assert err.endswith(
        "sensord capture: error: --show prints a capture file; SENSOR and -o are for fetching "
        "one from the daemon"
    ), err


def test_check_reads_the_capture_of_a_replay_port(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    capture = write_capture(tmp_path / "c.cap", sample_records())
    config = tmp_path / "sensord.toml"
    table = '[[sensors]]\nname = "s"\nport = "replay://{}"\nformat = "value"\n'
    table += '[[sensors.channels]]\nname = "v"\n'
    config.write_text(table.format(capture))
    assert cli.main(["check", str(config)]) == 0
    assert f"device s: replays {capture} (4 records)" in capsys.readouterr().out
    config.write_text(table.format(tmp_path / "absent.cap"))
    assert cli.main(["check", str(config)]) == 1
    assert "cannot replay" in capsys.readouterr().out


def test_a_replay_speed_at_which_a_recorded_second_outlasts_a_day_is_refused() -> None:
    """A recorded second in more than a day (the longest stale_after_s) stalls any capture
    whose bytes came a second apart: the speed is refused, naming the key; 0 and 1/86400
    are taken."""
    table = '[[sensors]]\nname = "s"\nport = "replay:///var/lib/sensord/s.cap"\n'
    table += 'format = "value"\nreplay = {{ speed = {} }}\n[[sensors.channels]]\nname = "v"\n'
    for speed in ("0", "1.1575e-5"):
        assert parse_config(table.format(speed)).sensors[0].replay.speed == float(speed)
    with pytest.raises(ConfigError) as caught:
        parse_config(table.format("1e-6"))
    assert caught.value.problems == [
        "sensors[0].replay.speed: must be 0 (as fast as the loop reads) or at least 1/86400 (a "
        "recorded second in a day, the longest stale_after_s), got 1e-06: a recorded second "
        "would take 11.6 days, so the replay stalls and its sensor stays stale"
    ]


def test_check_notes_a_replay_speed_that_stretches_a_wait_past_the_stale_time(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The boiler's capture (tests/captures/demo-boiler.cap, taken from the running demo over
    /capture: a line every 0.2 s, 0.201 s at most) played at 0.05 waits 4 s at most, within
    the sensor's stale time of 5 s; at 0.01 it waits 20 s, and ``sensord check`` says so,
    with the stale time or the speed that keeps the sensor up."""
    capture = Path(__file__).parent / "captures" / "demo-boiler.cap"
    config = tmp_path / "sensord.toml"
    table = f'[[sensors]]\nname = "boiler"\nport = "replay://{capture}"\nformat = "value"\n'
    table += 'replay = {{ speed = {} }}\n[[sensors.channels]]\nname = "t"\n'
    notes = {}
    for speed in ("1", "0.05", "0.01"):
        config.write_text(table.format(speed))
        assert cli.main(["check", str(config)]) == 0
        out = capsys.readouterr().out
        notes[speed] = [line for line in out.splitlines() if "note:" in line]
    assert notes == {
        "1": [],
        "0.05": [],
        "0.01": [
            "  note: sensors[0].replay.speed (sensor 'boiler'): 0.01 plays the capture's "
            "longest wait for bytes, 0.201 s (up to 4.4 s into it), in 20.08 s, longer than "
            "the sensor's stale time (5 s): the sensor goes stale in it; give "
            "stale_after_s = 21 or more, or a speed of at least 0.0402"
        ],
    }


def test_a_reload_resizes_every_ring() -> None:
    config = sensor_config("sim://s")
    daemon = Daemon(config, environ={})
    runtime = daemon._make_runtime(config.sensors[0])
    daemon.reader.add(runtime)
    try:
        runtime.feed(b"1\n" * 100)
        assert runtime.capture.max_bytes == DEFAULT_RING_BYTES
        daemon.apply(config.replace(capture=config.capture.replace(ring_bytes=10)))
        assert daemon.reader.sensors["s"] is runtime  # not restarted: only its ring shrank
        assert sum(len(chunk) for _, _, chunk in runtime.capture.entries()) == 10
    finally:
        daemon.reader.close()


def test_a_capture_that_ends_with_an_unanswered_request_finishes(tmp_path: Path) -> None:
    path = write_capture(
        tmp_path / "c.cap", [Record(TX, 0.0, b"Q"), Record(RX, 0.1, b"a\n"), Record(TX, 5.0, b"Q")]
    )
    clock = Clock()
    source = replay(path, clock, speed=0.0)
    source.write(b"Q")
    assert source.read() == b"a\n"
    assert not source.finished  # a second request is recorded
    source.write(b"Q")
    assert source.finished


def test_the_capture_settings_are_checked_with_their_key_paths() -> None:
    sensor = '[[sensors]]\nname = "s"\nport = "sim://s"\nformat = "value"\n'
    sensor += '[[sensors.channels]]\nname = "v"\n'
    with pytest.raises(ConfigError) as caught:
        parse_config(f'[capture]\ndirectory = "captures"\nring_bytes = 5000000\n{sensor}')
    assert sorted(caught.value.problems) == [
        "capture.directory: must be an absolute path (a service runs in /), got 'captures'",
        "capture.ring_bytes: must be in [0, 4194304], got 5000000",
    ]


@pytest.mark.parametrize(
    ("directory", "where"),
    [
        ("/", "a system directory"),
        ("//", "a system directory"),
        ("/var/lib/sensord/../..", "a system directory"),
        ("/var/lib/", "a system directory"),
        ("/etc", "a system directory"),
        ("/usr/local/captures", "in the system directory /usr"),
        ("/proc/self", "in the system directory /proc"),
        ("/boot/captures", "in the system directory /boot"),
    ],
)
def test_a_capture_directory_that_is_or_lies_in_a_system_directory_is_refused(
    directory: str, where: str
) -> None:
    sensor = '[[sensors]]\nname = "s"\nport = "sim://s"\nformat = "value"\n'
    sensor += '[[sensors.channels]]\nname = "v"\n'
    with pytest.raises(ConfigError) as caught:
        parse_config(f'[capture]\ndirectory = "{directory}"\n{sensor}')
    assert caught.value.problems == [
        f"capture.directory: {directory!r} is {where}, no place for captures: the packaged "
        "unit lets the service write only in /var/lib/sensord (its StateDirectory=), its "
        "private /tmp and what a ReadWritePaths= added with 'systemctl edit sensord' names, "
        "and a daemon run as root would write among the system's own files; use a directory "
        "of its own, such as /var/lib/sensord/captures"
    ]


@pytest.mark.parametrize(
    "directory",
    [
        "/var/lib/sensord",
        "/var/lib/sensord/captures",
        "/srv/sensord",
        "/home/op/captures",
        "/tmp",
        "/tmp/captures",
        "/mnt/usb/captures",
        "/mnt",
        "/srv",
        "/etcetera/captures",
    ],
)
def test_a_capture_directory_of_its_own_is_taken(directory: str) -> None:
    sensor = '[[sensors]]\nname = "s"\nport = "sim://s"\nformat = "value"\n'
    sensor += '[[sensors.channels]]\nname = "v"\n'
    config = parse_config(f'[capture]\ndirectory = "{directory}"\n{sensor}')
    assert config.capture.directory == directory


def test_a_polled_sensors_ring_holds_its_requests_and_the_answers(pty_pair: PtyPair) -> None:
    clock = Clock()
    config = sensor_config(pty_pair.path, poll={"request": "R?\\r", "interval_s": 1.0})
    runtime = SensorRuntime(config.sensors[0], clock=clock, wall_clock=clock)
    assert runtime.try_open()
    source = runtime.source
    assert source is not None
    runtime.tick(clock.now)
    assert pty_pair.read(3) == b"R?\r"
    clock.now += 0.2
    pty_pair.write(b"21.5\n")
    deadline = time.monotonic() + 2.0
    while runtime.framer.frames == 0 and time.monotonic() < deadline:
        chunk = source.read()  # non-blocking, as the reader loop reads it
        if chunk:
            runtime.feed(chunk)
    assert runtime.capture.entries() == ((100.0, TX, b"R?\r"), (100.2, RX, b"21.5\n"))
    runtime.stop()


def test_a_ring_of_tiny_chunks_is_bounded_in_chunks_too() -> None:
    ring = CaptureRing(64 * ENTRY_COST_BYTES)  # room for 4096 bytes, in at most 64 chunks
    for i in range(1000):
        ring.rx(float(i), b"x")
    entries = ring.entries()
    assert len(entries) == 64
    assert entries[0][0] == 936.0  # the newest 64
    small = CaptureRing(100)  # a small ring still keeps 16 chunks
    for i in range(20):
        small.rx(float(i), b"y")
    assert len(small.entries()) == 16


# -- the journal -----------------------------------------------------------------------------------

_JOURNALED = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=2),  # which ring
        st.sampled_from(["rx", "tx", "flush"]),
        st.binary(max_size=60),
    ),
    max_size=150,
)


@settings(max_examples=300, deadline=None)
@given(max_bytes=st.integers(min_value=0, max_value=300), steps=_JOURNALED)
def test_rings_fed_through_a_journal_hold_what_rings_fed_directly_hold(
    max_bytes: int, steps: list[tuple[int, str, bytes]]
) -> None:
    """Chunks for three rings through one journal, flushed at any points (and before every
    sent chunk, as a sensor does), leave each ring as ``rx``/``tx`` straight into it would."""
    journal = CaptureJournal()
    journaled = [CaptureRing(max_bytes) for _ in range(3)]
    direct = [CaptureRing(max_bytes) for _ in range(3)]
    for i, (which, what, data) in enumerate(steps):
        now = float(i)
        if what == "flush":
            journal.flush()
        elif what == "rx":
            journal.add((journaled[which], data, now))
            direct[which].rx(now, data)
        else:
            journal.flush()
            journaled[which].tx(now, data)
            direct[which].tx(now, data)
    journal.flush()
    assert len(journal) == 0
    assert [ring.entries() for ring in journaled] == [ring.entries() for ring in direct]


def test_a_journal_is_due_once_it_holds_its_flush_count() -> None:
    journal = CaptureJournal(flush_chunks=3)
    ring = CaptureRing(100)
    for i in range(3):
        assert not journal.due
        journal.add((ring, b"x", float(i)))
    assert journal.due
    assert len(journal) == 3
    assert ring.entries() == ()  # nothing reaches the ring before the flush
    journal.flush()
    assert not journal.due
    assert ring.entries() == ((0.0, RX, b"x"), (1.0, RX, b"x"), (2.0, RX, b"x"))


def test_a_sensor_in_a_reader_fills_its_ring_through_the_journal() -> None:
    """A sensor of a reader hands its chunks to the reader's journal; what reads its ring
    (``captured``), a sent request, a resize and removal from the reader flush it first, so
    nothing is lost or out of order; a ring of 0 bytes skips the journal."""
    clock = Clock()
    runtime = SensorRuntime(sensor_config("sim://s").sensors[0], clock=clock, wall_clock=clock)
    reader = Reader([runtime], clock=clock)
    try:
        runtime.feed(b"1.5\n")
        assert len(reader.journal) == 1
        assert runtime.capture.entries() == ()
        assert runtime.captured() == ((100.0, RX, b"1.5\n"),)
        clock.now += 1
        runtime.feed(b"2.5\n")
        runtime.resize_capture(4)
        assert runtime.capture.entries() == ((101.0, RX, b"2.5\n"),)
        runtime.resize_capture(0)
        runtime.feed(b"3.5\n")
        assert len(reader.journal) == 0
        assert runtime.captured() == ()
        runtime.resize_capture(100)
        runtime.feed(b"4.5\n")
        reader.remove("s")
        assert len(reader.journal) == 0
        assert runtime.capture.entries()[-1] == (101.0, RX, b"4.5\n")
        runtime.feed(b"5.5\n")  # out of the reader: straight into its ring
        assert runtime.capture.entries()[-1] == (101.0, RX, b"5.5\n")
    finally:
        reader.close()


def test_a_capture_asked_from_another_thread_is_made_on_the_loop_with_the_journal(
    pty_pair: PtyPair,
) -> None:
    """``/capture`` comes from an HTTP thread: the loop makes the capture on its own thread,
    after the journal's flush, so it holds the newest chunk although the housekeeping that
    would flush it is an hour away; a loop that does not get to it in time answers what the
    ring held."""
    config = sensor_config(pty_pair.path)
    daemon = Daemon(config, environ={})
    runtime = daemon._make_runtime(config.sensors[0])
    daemon.reader.add(runtime)
    daemon._runtimes = (runtime,)
    daemon.reader.housekeeping_interval_s = 3600.0
    daemon.reader.idle_housekeeping_interval_s = 3600.0
    stop = threading.Event()
    loop = threading.Thread(target=daemon.reader.run, kwargs={"until": stop.is_set})
    loop.start()
    try:
        wait_for(lambda: up_settled(runtime), 5.0, "the pty open", 0.005)
        pty_pair.write(b"21.5\n")
        wait_for(lambda: runtime.framer.frames == 1, 5.0, "the frame")
        assert runtime.capture.entries() == ()  # still in the journal
        data = daemon.capture_file("s")
        assert data is not None
        assert [r.data for r in parse_capture(data).records] == [b"21.5\n"]

        # a loop that does not get to it in time: what the ring holds, at once after the
        # wait, and the call it gave up on is not run later
        pty_pair.write(b"22.5\n")
        wait_for(lambda: runtime.framer.frames == 2, 5.0, "the second frame")
        blocked = threading.Event()

        def busy() -> None:  # the loop is busy for a while
            blocked.wait(10.0)

        daemon.reader.call_soon(busy)
        started = time.monotonic()
        data = daemon.capture_file("s")
        waited = time.monotonic() - started
        blocked.set()
        assert data is not None
        assert [r.data for r in parse_capture(data).records] == [b"21.5\n"]  # the ring alone
        assert CAPTURE_WAIT_S <= waited < CAPTURE_WAIT_S + 1.0
        on_loop = daemon.reader.on_loop(
            lambda: (threading.get_ident(), runtime.capture.entries()), lambda: (0, ()), 5.0
        )
        assert on_loop[0] == loop.ident
        assert [chunk for _, _, chunk in on_loop[1]] == [b"21.5\n"]  # no late flush ran
        data = daemon.capture_file("s")
        assert data is not None
        assert [r.data for r in parse_capture(data).records] == [b"21.5\n", b"22.5\n"]
        assert daemon.capture_file("nope") is None
    finally:
        stop.set()
        daemon.reader.wake()
        loop.join(5.0)
        daemon.reader.close()
    # no loop runs: the call runs at once on the calling thread
    assert daemon.reader.on_loop(threading.get_ident, lambda: 0, 0.1) == threading.get_ident()


def test_a_polled_sensor_in_a_reader_keeps_its_ring_in_wire_order(pty_pair: PtyPair) -> None:
    """The answers wait in the reader's journal while the next request is written: the
    request flushes them first, so the ring holds request, answer, request, answer."""
    clock = Clock()
    config = sensor_config(pty_pair.path, poll={"request": "R?\\r", "interval_s": 1.0})
    runtime = SensorRuntime(config.sensors[0], clock=clock, wall_clock=clock)
    reader = Reader([runtime], clock=clock)
    try:
        assert runtime.try_open()
        source = runtime.source
        assert source is not None
        for i in range(2):
            runtime.tick(clock.now)
            assert pty_pair.read(3) == b"R?\r"
            clock.now += 0.2
            pty_pair.write(b"2%d.5\n" % i)
            deadline = time.monotonic() + 2.0
            while runtime.framer.frames == i and time.monotonic() < deadline:
                chunk = source.read()  # non-blocking, as the reader loop reads it
                if chunk:
                    runtime.feed(chunk)
            clock.now += 0.8
        assert len(reader.journal) == 1  # the second answer
        assert runtime.captured() == (
            (100.0, TX, b"R?\r"),
            (100.2, RX, b"20.5\n"),
            (101.0, TX, b"R?\r"),
            (101.2, RX, b"21.5\n"),
        )
    finally:
        reader.close()


def test_sigusr1_without_a_capture_directory_says_what_to_set() -> None:
    """SIGUSR1 on a config that sets no ``[capture] directory`` (the example's, commented
    out) writes nothing and says which key to set, and where the service may write."""
    config = parse_config(
        '[[sensors]]\nname = "s"\nport = "sim://s"\nformat = "value"\nchannels = [{ name = "v" }]\n'
    )
    daemon = Daemon(config, environ={})
    try:
        with capture_logs() as logs:
            daemon.write_captures()
    finally:
        daemon.reader.close()
    (warning,) = [e for e in logs if e["log_level"] == "warning"]
    assert warning["event"] == "SIGUSR1: no captures written: [capture] directory is not set"
    assert 'directory = "/var/lib/sensord/captures"' in warning["hint"]


def test_sigusr1_on_a_full_disk_leaves_no_partial_file_and_names_what_was_written(
    tmp_path: Path,
) -> None:
    """A capture cut short by a full file system (here the file size limit, which fails a
    write past it as a full disk does) leaves nothing of itself, and the sensors after it are
    still written; the error names the sensor that failed and the files written; the next
    SIGUSR1 with room writes all."""
    sensors = "".join(
        f'[[sensors]]\nname = "{name}"\nport = "sim://{name}"\nformat = "value"\n'
        'channels = [{ name = "v" }]\n'
        for name in ("small", "large", "tiny")
    )
    config = parse_config(f'[capture]\ndirectory = "{tmp_path}"\n{sensors}')
    daemon = Daemon(config, environ={})
    try:
        small, large, tiny = daemon._runtimes
        small.capture.rx(0.0, b"1.0\n")
        large.capture.rx(0.0, b"2.0\n" * 2048)
        tiny.capture.rx(0.0, b"3.0\n")
        limit = len(_capture_of(small)) + 1024
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, hard))
        try:
            with capture_logs() as logs:
                daemon.write_captures()
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        left = sorted(p.name for p in tmp_path.iterdir())
        assert [name.split("-")[0] for name in left] == ["small", "tiny"]
        assert all(name.endswith(".cap") for name in left)
        (error,) = [e for e in logs if e["log_level"] == "error"]
        assert error["event"] == "cannot write captures"
        assert error["sensors"] == ["large"]
        assert error["error"]
        assert sorted(error["files"]) == left
        assert not [e for e in logs if e["event"] == "captures written"]
        daemon.write_captures()
        assert len([p for p in tmp_path.iterdir() if p.name.startswith("large-")]) == 1
        assert not [p for p in tmp_path.iterdir() if not p.name.endswith(".cap")]
    finally:
        daemon.reader.close()


def test_capture_command_on_a_full_disk_leaves_no_cut_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``sensord capture SENSOR -o FILE`` whose write fails (a full file system; here the file
    size limit, which fails a write past it as a full disk does) exits non-zero and leaves no
    FILE, neither empty nor cut short, nor a temporary file beside it."""
    ring = CaptureRing(1 << 16)
    ring.rx(0.0, b"2.0\n" * 2048)
    body = ring.capture({"sensor": "s"})
    server = HttpServer(
        "127.0.0.1",
        0,
        render_metrics=lambda accept: (b"", "text/plain"),
        status=dict,
        health=lambda: (True, "ok"),
        capture=lambda name: body if name == "s" else None,
    )
    server.start()
    out = tmp_path / "s.cap"
    argv = ["capture", "s", "--url", server.url, "-o", str(out)]
    try:
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        resource.setrlimit(resource.RLIMIT_FSIZE, (len(body) // 2, hard))
        try:
            code = cli.main(argv)
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
        assert code != 0
        assert f"cannot write {out}" in capsys.readouterr().err
        assert list(tmp_path.iterdir()) == []
        assert cli.main(argv) == 0
    finally:
        server.close()
    assert out.read_bytes() == body
    assert list(tmp_path.iterdir()) == [out]


def test_capture_command_without_output_keeps_every_capture_of_one_second(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """``sensord capture SENSOR`` with no ``-o`` names its file ``SENSOR-TIME.cap`` in the
    current directory; a second capture within the same second is ``SENSOR-TIME-2.cap``, not
    written over the first."""
    bodies = iter([b"first", b"second", b"third"])
    server = HttpServer(
        "127.0.0.1",
        0,
        render_metrics=lambda accept: (b"", "text/plain"),
        status=dict,
        health=lambda: (True, "ok"),
        capture=lambda name: next(bodies),
    )
    server.start()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(time, "time", lambda: 1_700_000_000.5)  # one second for all three
    try:
        for _ in range(3):
            assert cli.main(["capture", "s", "--url", server.url]) == 0
    finally:
        server.close()
    files = sorted(tmp_path.iterdir(), key=lambda p: p.name)
    assert [p.name for p in files] == [
        "s-20231114T221320Z-2.cap",
        "s-20231114T221320Z-3.cap",
        "s-20231114T221320Z.cap",
    ]
    assert [(tmp_path / n).read_bytes() for n in (files[2].name, files[0].name, files[1].name)] == [
        b"first",
        b"second",
        b"third",
    ]
    assert "s-20231114T221320Z-3.cap: 5 bytes" in capsys.readouterr().out


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run the command as another user")
def test_capture_command_in_a_directory_it_cannot_list_says_it_cannot_write() -> None:
    """``sensord capture SENSOR`` with no ``-o``, run by a user who may write the current
    directory but not list it (where it looks for the captures of the same second): an error
    that says the capture cannot be written, exit 1, no traceback."""
    server = HttpServer(
        "127.0.0.1",
        0,
        render_metrics=lambda accept: (b"", "text/plain"),
        status=dict,
        health=lambda: (True, "ok"),
        capture=lambda name: b"body",
    )
    server.start()
    # below /tmp directly: pytest's own directories are closed to other users
    reachable = Path(tempfile.mkdtemp(prefix="sensord-capture-"))
    reachable.chmod(0o755)
    unlisted = reachable / "unlisted"
    unlisted.mkdir(mode=0o300)
    os.chown(unlisted, 65534, 65534)

    def capture() -> str:
        os.chdir(unlisted)
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            code = cli.main(["capture", "s", "--url", server.url])
        return f"{code} {err.getvalue()}"

    try:
        result = run_as_user(65534, capture)
    finally:
        server.close()
        shutil.rmtree(reachable)
    assert result.startswith("1 sensord: cannot write the capture in the current directory: ")
    assert "Permission denied" in result


def test_a_recorded_conversation_is_refused_by_a_replayed_modbus_device(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A capture made by ``sensord record --request`` of a Modbus port holds its requests:
    replayed, each answer waits for the sensor's next request, and a replayed Modbus device
    (on no bus) writes none, so it stood ``up`` reading nothing, with no word of why. ``check``
    and the open now say so and how to play it instead; a daemon's capture of the device
    (its exchanges, no request) replays as before."""
    request = bytes.fromhex("010400000002")
    reply = bytes.fromhex("0104044148f5c3")
    path = tmp_path / "bus.cap"
    path.write_bytes(
        encode_capture(
            {"port": "/dev/ttyUSB0"},
            [Record(TX, 0.0, request), Record(RX, 0.01, reply)] * 3,
        )
    )
    config_path = tmp_path / "sensord.toml"
    config_path.write_text(
        f'[[sensors]]\nname = "meter"\nport = "replay://{path}"\nformat = "modbus"\n'
        "modbus = { unit = 1 }\n"
        '[[sensors.registers]]\nname = "v"\ntable = "input"\naddress = 0\ntype = "float32"\n'
        '[[sensors.channels]]\nname = "v"\n'
    )
    why = (
        f"{path} holds requests (made by 'sensord record --request'): its answers play only as "
        "each request is written, and a replayed Modbus device writes none"
    )
    assert cli.main(["check", str(config_path)]) == 1
    out = " ".join(capsys.readouterr().out.split())
    assert why in out
    assert f"'sensord simulate --replay {path} --link /tmp/ttyREPLAY'" in out
    sensor = SensorRuntime(parse_config(config_path.read_text()).sensors[0])
    assert not sensor.try_open()
    assert why in sensor.last_error
    # the same bytes without the requests: a stream of replies, played as recorded
    path.write_bytes(encode_capture({"port": "/dev/ttyUSB0"}, [Record(RX, 0.0, reply)]))
    assert cli.main(["check", str(config_path)]) == 0
    assert sensor.try_open()
    sensor.close_source()
