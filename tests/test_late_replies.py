"""A set-up command's reply that comes after its wait ended: taken out of the byte stream as a
reply within the wait is, never read as data or counted as noise (``LATE_REPLY_S``).

Device behaviour and bytes:

* An SDS011 left asleep answers its wake command alone (mkfrey/sds011-esp-raw,
  docs/behaviour.md: "Commands sent to the sensor while it is in sleep mode are ignored, except
  for wakeup commands"), so its set-up finds it answering nothing and writes ``work`` once,
  its reply awaited ``ACK_TIMEOUT_S`` (tests/test_frames_commands.py).
* Its reply "typically takes about a second" (timorme/sds011lib, docs/understanding.md), and
  Tasmota's log in arendst/Tasmota issue #9747 (``xsns_20_novasds.ino`` with logging added)
  shows an SDS011's replies missing 150 ms and 250 ms timeouts again and again, the unit
  answering ``work`` with ``AA C5 06 01 01 00 6F 98 0F AB`` (device id 6F 98): the reply used
  here, its sum 0x10F & 0xFF over bytes 2..7.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager
from typing import Any

import pytest
from harness.pty import PtyPair
from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs
from test_frames_commands import (
    SDS011_SETUP,
    SILENT_FIRST_POLL_S,
    Clock,
    DeviceEnd,
    answering,
    pms_frame,
    read_all,
    reading_count,
    sds011_on,
    sds011_query,
    sensor_config,
)
from test_frames_field_quirks import RangeRestartingMhz19

from sensord.dialogue import ACK_TIMEOUT_S, LATE_REPLY_S, SETUP_GAP_S
from sensord.formats.acks import Ack, AckWatch
from sensord.formats.base import FrameSpec
from sensord.formats.presets import PresetDevice, command_ack, command_bytes, command_query
from sensord.sensor import SensorRuntime
from sensord.types import Reading

#: The reply of a real SDS011 to ``work`` (arendst/Tasmota issue #9747).
WORK_REPLY = bytes.fromhex("AA C5 06 01 01 00 6F 98 0F AB")


def sds011_frame(pm2_5: int, pm10: int, device_id: bytes = b"\x6f\x98") -> bytes:
    """An SDS011 data frame (Laser Dust Sensor Control Protocol V1.3): PM2.5 and PM10 in
    tenths of µg/m³, little-endian, the device id, the 8-bit sum of bytes 2..7, ``AB``."""
    body = pm2_5.to_bytes(2, "little") + pm10.to_bytes(2, "little") + device_id
    return b"\xaa\xc0" + body + bytes([sum(body) & 0xFF]) + b"\xab"


@contextmanager
def woken_sds011(
    device: PresetDevice | None = None,
) -> Iterator[tuple[PtyPair, Clock, SensorRuntime, DeviceEnd, float]]:
    """An SDS011 left asleep (``device``, a new one by default) whose set-up ``query_mode,
    working_period=5, work`` ran up to the write of ``work`` (once, the device answering
    nothing): the pty, the clock, the sensor, the device end, and when ``work`` was written.
    The device took it, and has not answered yet."""
    device = PresetDevice("sds011") if device is None else device
    device.asleep = True
    work = command_bytes("sds011", "work")
    clock = Clock()
    with PtyPair() as pair:
        rt = sds011_on(pair, clock, [*SDS011_SETUP, "work"])
        device_end = DeviceEnd(rt, pair)
        start = clock.now
        written = b""
        while written != work:
            due = rt.next_deadline()
            assert due is not None
            assert due <= start + SILENT_FIRST_POLL_S + 1e-6
            clock.now = max(clock.now, due)
            written = device_end.tick(clock.now)
            reply = answering(device)(written) if written != work else b""
            if reply:
                pair.write(reply)
                read_all(rt, len(reply))
        device.receive(work)
        assert not device.asleep
        try:
            yield pair, clock, rt, device_end, clock.now
        finally:
            rt.stop()


@pytest.fixture
def asleep() -> Iterator[tuple[PtyPair, Clock, SensorRuntime, DeviceEnd, float]]:
    """:func:`woken_sds011`, as a fixture."""
    with woken_sds011() as woken:
        yield woken


@pytest.mark.parametrize("first_bytes", [10, 4], ids=["whole", "in two pieces"])
def test_a_wake_reply_after_its_wait_is_taken_out_and_acknowledges_the_command(
    asleep: tuple[PtyPair, Clock, SensorRuntime, DeviceEnd, float], first_bytes: int
) -> None:
    """The woken SDS011 answers ``work`` 50 ms after its wait of ``ACK_TIMEOUT_S`` ended
    (whole, or in two pieces 16 ms apart, as an FTDI adapter's latency timer hands them on),
    and streams a frame a second from then. The reply is no data: nothing of it is skipped
    as noise, the frame after it is read, and ``work`` is acknowledged (not among the
    commands unanswered, which a frame would have the set-up written again for), its
    ``missing`` counted as the wait had it; the late reply is logged."""
    pair, clock, rt, device_end, work_at = asleep
    with capture_logs() as logs:
        clock.now = work_at + ACK_TIMEOUT_S
        assert device_end.tick(clock.now) == b""  # the wait ends: counted missing
        assert rt.setup_ack_errors == {"missing": 3, "wrong": 0}
        clock.now += 0.05
        for piece in (WORK_REPLY[:first_bytes], WORK_REPLY[first_bytes:]):
            if piece:
                pair.write(piece)
                read_all(rt, len(piece))
                clock.now += 0.016
        clock.now = work_at + ACK_TIMEOUT_S + SETUP_GAP_S
        assert device_end.tick(clock.now) == command_bytes("sds011", "query")  # the first poll
        clock.now += 0.1
        frame = sds011_frame(123, 456)
        pair.write(frame)
        read_all(rt, len(frame))
    assert rt.framer.skipped_bytes == 0
    assert rt.framer.frames == 1
    assert reading_count(rt) == 2
    assert sum(rt.parse_errors.values()) == 0
    assert rt.dialogue is not None
    assert rt.dialogue.acknowledged == {"work"}
    assert "work" not in rt.dialogue.unanswered
    assert rt.setup_ack_errors == {"missing": 3, "wrong": 0}
    late = [e for e in logs if e["event"] == "set-up reply came late"]
    assert [(e["command"], e["acknowledges"], e["query"]) for e in late] == [("work", True, False)]


def test_bytes_held_as_a_late_reply_s_first_that_it_never_completes_are_framed(
    asleep: tuple[PtyPair, Clock, SensorRuntime, DeviceEnd, float],
) -> None:
    """Bytes that begin like the late reply (``AA C5 06``) and that nothing completes within
    ``LATE_REPLY_S`` are no reply: once that time is over they go on to the framer, which
    counts them as skipped bytes, and the frames after them are read."""
    pair, clock, rt, device_end, work_at = asleep
    clock.now = work_at + ACK_TIMEOUT_S
    device_end.tick(clock.now)
    clock.now += 0.05
    pair.write(WORK_REPLY[:3])
    read_all(rt, 3)
    assert rt.framer.skipped_bytes == 0  # held: it may be the reply's beginning
    late_end = work_at + ACK_TIMEOUT_S + LATE_REPLY_S
    while (due := rt.next_deadline()) is not None and due <= late_end:
        clock.now = due
        device_end.tick(clock.now)
    frame = sds011_frame(50, 70)
    pair.write(frame)
    read_all(rt, len(frame))
    assert rt.framer.skipped_bytes == 3
    assert rt.framer.frames == 1
    assert rt.dialogue is not None
    assert "work" in rt.dialogue.unanswered


def ack(command: str) -> Ack:
    """The reply that acknowledges the SDS011's ``command``."""
    reply = command_ack("sds011", command)
    assert reply is not None
    return reply


def test_an_expired_watch_takes_a_late_reply_and_the_next_command_s_apart() -> None:
    """The wait for ``work``'s reply ends (``expire``), and ``query_mode`` is written next:
    ``work``'s late reply and ``query_mode``'s, cut across two chunks between data frames,
    are both taken out, the late one told in ``late_found``, the other as found; the data
    frames are left whole. A late reply's first bytes held when nothing is pending any more
    are handed back by ``forget_late``."""
    watch = AckWatch([("work", ack("work"))])
    assert watch.expire() == ["work"]
    watch.expect("query_mode", ack("query_mode"))
    query_reply = bytes.fromhex("AA C5 02 01 01 00 6F 98 0B AB")  # its sum 0x10B & 0xFF
    frames = [sds011_frame(12, 34), sds011_frame(56, 78)]
    stream = frames[0] + WORK_REPLY + query_reply + frames[1]
    cut = len(frames[0]) + 4
    rest, found = watch.feed(stream[:cut])
    assert (rest, found, watch.late_found) == (frames[0], [], [])
    rest, found = watch.feed(stream[cut:])
    assert rest == frames[1]
    assert found == [("query_mode", True)]
    assert watch.late_found == [("work", True, ack("work"))]
    assert not watch.pending
    assert not watch.late

    watch = AckWatch([("work", ack("work"))])
    watch.expire()
    assert watch.feed(WORK_REPLY[:3]) == (b"", [])
    assert watch.forget_late() == WORK_REPLY[:3]
    assert watch.feed(WORK_REPLY) == (WORK_REPLY, [])


# -- the bytes held as a late reply's first, and the time of the frames they end -----------------

#: An MH-Z19B's answer laid out as PyPMS's recording (tests/test_preset_captures.py, ``FF 86``,
#: the CO2, byte 4 ``42``, bytes 5..7 0) with 567 ppm, whose checksum (0x100 minus the sum of
#: bytes 1..7) is ``FF``: the first byte of the ``abc_off`` reply ``FF 79 ...`` as well, which
#: a watch for that reply holds back as its beginning.
MHZ19_ANSWER_ENDING_FF = bytes.fromhex("FF 86 02 37 42 00 00 00 FF")


def mhz19_answer_in_late_second(
    opened: Callable[[SensorRuntime], None] = lambda rt: None,
) -> tuple[Reading, float]:
    """An MH-Z19 clone that takes ``abc_off`` without a reply (tests/test_frames_field_quirks.py)
    is polled 0.1 s after the wait for that reply ended, within the time its late reply is
    watched for, and answers 20 ms later with a checksum ``FF``, held back as the late reply's
    first until the watch ends (``opened`` is given the sensor as its port opened). Returns
    the newest reading once the watch ended, and when the answer came."""
    clock = Clock()
    read = command_bytes("mhz19", "read")
    with PtyPair() as pair:
        table = {"port": pair.path, "preset": "mhz19", "simulate": "never", "warmup_s": 0}
        config = sensor_config({**table, "setup": ["abc_off"]})
        rt = SensorRuntime(config, clock=clock, wall_clock=lambda: clock.now + 5000.0)
        assert rt.try_open()
        opened(rt)
        device_end = DeviceEnd(rt, pair)
        start = clock.now
        while (due := rt.next_deadline()) is not None and not rt.setup_ack_errors["missing"]:
            clock.now = max(clock.now, due)
            device_end.tick(clock.now)  # the clone answers no write of abc_off
        ended = clock.now
        assert ended - start > ACK_TIMEOUT_S
        clock.now = ended + SETUP_GAP_S
        assert device_end.tick(clock.now) == read
        clock.now += 0.02
        answered_at = clock.now
        pair.write(MHZ19_ANSWER_ENDING_FF)
        read_all(rt, len(MHZ19_ANSWER_ENDING_FF))
        while (due := rt.next_deadline()) is not None and due <= ended + LATE_REPLY_S:
            clock.now = max(clock.now, due)
            device_end.tick(clock.now)
        assert clock.now >= ended + LATE_REPLY_S
        (stats,) = [c.stats for c in rt.snapshot().channels if c.name == "co2_ppm"]
        rt.stop()
    assert stats is not None
    return stats.reading, answered_at


def test_an_answer_whose_last_byte_begins_a_late_reply_is_stamped_when_it_came() -> None:
    """The MH-Z19 answer whose last byte the watch for a late reply held back: the reading it
    completes is taken with the time the answer came (monotonic and wall clock), not the
    time the watch ended."""
    reading, answered_at = mhz19_answer_in_late_second()
    assert reading.value == 567.0
    assert reading.monotonic_s == pytest.approx(answered_at, abs=1e-6)
    assert reading.wall_s == pytest.approx(answered_at + 5000.0, abs=1e-6)


def test_bytes_held_back_are_framed_where_a_snapshot_waits() -> None:
    """The held ``FF`` is framed at the watch's end, on a tick, not with a chunk: its frame
    and readings are taken while ``/metrics`` and ``/status`` wait (``SensorRuntime._taking``
    odd, as for a chunk), so a snapshot never counts the frame without its readings."""
    taking: list[bool] = []

    def spied(rt: SensorRuntime) -> None:
        process = rt.process

        def watched(chunk: bytes, now: float, wall: float | None = None) -> None:
            if chunk:
                taking.append(bool(rt._taking & 1))
            process(chunk, now, wall)

        rt.process = watched  # type: ignore[method-assign]

    reading, _ = mhz19_answer_in_late_second(spied)
    assert reading.value == 567.0
    assert taking
    assert all(taking)


#: PyPMS's first recorded PMSx003 frame (tests/test_preset_captures.py) with the 0.5 µm count
#: 195 (``00 C3``) in place of 70: its checksum ``03 42`` ends in the first byte of the PMS
#: replies ``42 4D 00 04 ...``, which a watch for one holds back as its beginning.
PMS_FRAME_ENDING_42 = bytes.fromhex(
    "424d001c00000008000800000008000800d200c3002d001e000000009700 0342"
)


def pms_stream_stamps(setup: list[str]) -> list[tuple[float, ...]]:
    """A PMS clone that streams a frame every 0.8 s (the datasheet's fast pace) and answers
    no command, its port opened with ``setup``: each frame written whole, and 0.4 s later the
    first 10 bytes of the next, for 10 s (the set-up's three writes, the wait of 7 s for
    their reply and the time a late one is watched for). Returns, after each frame's next
    head was read, the time the frame came and the newest reading's two times."""
    clock = Clock()
    got: list[tuple[float, ...]] = []
    with PtyPair() as pair:
        table = {"port": pair.path, "preset": "pms5003", "simulate": "never", "warmup_s": 0}
        config = sensor_config({**table, "setup": setup})
        rt = SensorRuntime(config, clock=clock, wall_clock=lambda: clock.now + 5000.0)
        assert rt.try_open()
        device_end = DeviceEnd(rt, pair)
        start = clock.now
        pieces = [PMS_FRAME_ENDING_42[:10], PMS_FRAME_ENDING_42[10:]]
        for k in range(13):
            for at, piece in ((start + 0.8 * k, pieces[1]), (start + 0.8 * k + 0.4, pieces[0])):
                while (due := rt.next_deadline()) is not None and due <= at:
                    clock.now = max(clock.now, due)
                    device_end.tick(clock.now)
                clock.now = at
                if k or piece is pieces[0]:
                    pair.write(piece)
                    read_all(rt, len(piece))
            if k:
                (stats,) = [c.stats for c in rt.snapshot().channels if c.name == "pm10_ug_m3"]
                assert stats is not None
                reading = stats.reading
                stamps = (start + 0.8 * k, reading.monotonic_s, reading.wall_s)
                got.append(tuple(round(t, 6) for t in stamps))
        assert rt.framer.frames == 12
        assert rt.framer.skipped_bytes == 0
        rt.stop()
    return got


def test_a_streamed_frame_whose_last_byte_begins_a_reply_is_stamped_when_it_came() -> None:
    """A PMS that ignores ``active_mode`` streams on through the wait for its reply and the
    time a late one is watched for, every frame's last byte ``42`` held back as a reply's
    first until the next frame's head comes 0.4 s later: each frame gives its readings with
    the time it came, as the same stream does to a sensor without a set-up."""
    plain = pms_stream_stamps([])
    assert [(came, came, came + 5000.0) for came, _, _ in plain] == plain
    watched = pms_stream_stamps(["active_mode"])
    assert watched == plain


def eventual_replies(command_reply: bytes) -> tuple[SensorRuntime, list[MutableMapping[str, Any]]]:
    """An SDS011 set up with ``query_mode`` that answers its commands "eventually"
    (timorme/sds011lib, docs/understanding.md: in active mode "the device does sometimes,
    eventually respond to these commands"), each reply 4.05 s after the last write of what it
    answers, past the wait of 4 s for it: the query gets its reply late (``AA C5 02 00 01``),
    the setting in force unknown, so the command is written, and gets ``command_reply``
    late. Returns the sensor, stopped, and the log lines."""
    clock = Clock()
    query, command = sds011_query("query_mode"), command_bytes("sds011", "query_mode")
    replies = {
        query: bytes.fromhex("AA C5 02 00 01 00 6F 98 0A AB"),  # its sum 0x10A & 0xFF
        command: command_reply,
    }
    with PtyPair() as pair, capture_logs() as logs:
        rt = sds011_on(pair, clock, ["query_mode"])
        device_end = DeviceEnd(rt, pair)
        start = clock.now
        last: tuple[float, bytes] | None = None
        answered: set[bytes] = set()
        while clock.now < start + 20.0:
            due = rt.next_deadline()
            late = None if last is None else last[0] + 4.05
            if late is not None and last is not None and (due is None or late < due):
                clock.now = late
                reply = replies[last[1]]
                answered.add(last[1])
                last = None
                pair.write(reply)
                read_all(rt, len(reply))
                continue
            assert due is not None
            clock.now = max(clock.now, due)
            written = device_end.tick(clock.now)
            if written in replies and written not in answered:
                last = (clock.now, written)
        rt.stop()
    assert answered == {query, command}
    assert rt.framer.skipped_bytes == 0
    return rt, logs


def test_a_command_s_late_reply_after_its_query_s_late_reply_acknowledges_it() -> None:
    """The SDS011 of :func:`eventual_replies` acknowledges ``query_mode`` late: its late
    reply is the command's, not the query's: ``query_mode`` is acknowledged, and the line
    says so."""
    rt, logs = eventual_replies(bytes.fromhex("AA C5 02 01 01 00 6F 98 0B AB"))  # sum 0x10B
    assert rt.dialogue is not None
    assert rt.dialogue.acknowledged == {"query_mode"}
    assert rt.dialogue.unanswered == []
    assert rt.setup_ack_errors == {"missing": 1, "wrong": 0}
    told = [(e["query"], e["acknowledges"]) for e in logs if e["event"] == "set-up reply came late"]
    assert told == [(True, True), (False, True)]


def test_a_late_reply_that_reports_another_setting_is_counted_wrong() -> None:
    """The SDS011 of :func:`eventual_replies` answers ``query_mode`` late with active mode in
    force (``AA C5 02 01 00``, as a unit that did not take it answers): that is a wrong
    acknowledgement, counted and warned of as one within the wait is, besides the line
    that tells the late reply."""
    rt, logs = eventual_replies(bytes.fromhex("AA C5 02 01 00 00 6F 98 0A AB"))  # sum 0x10A
    assert rt.dialogue is not None
    assert rt.dialogue.acknowledged == set()
    assert rt.dialogue.unanswered == ["query_mode"]
    assert rt.setup_ack_errors == {"missing": 1, "wrong": 1}
    told = [(e["query"], e["acknowledges"]) for e in logs if e["event"] == "set-up reply came late"]
    assert told == [(True, True), (False, False)]
    warned = [
        (e["command"], e["reason"]) for e in logs if e["event"] == "set-up command not acknowledged"
    ]
    assert warned == [("query_mode", "missing"), ("query_mode", "wrong")]


@st.composite
def late_pms_streams(draw: st.DrawFn) -> tuple[bytes, list[int], list[int]]:
    """PMS data frames (``PMS_FRAME_ENDING_42`` among them), garbage without a reply's start
    bytes, a passive mode reply spoilt on the line (its byte 5 lost: its start bytes and no
    reply, whatever follows),
    and the replies to passive mode (watched late) and sleep (pending) between them: (stream,
    where each reply begins, cuts)."""
    frames = [
        PMS_FRAME_ENDING_42 if draw(st.booleans()) else pms_frame(draw(st.integers(0, 999)))
        for _ in range(draw(st.integers(1, 6)))
    ]
    pieces: list[bytes] = list(frames)
    spoilt = PMS_REPLIES["passive_mode"][:5] + PMS_REPLIES["passive_mode"][6:]
    pieces.insert(draw(st.integers(0, len(pieces))), spoilt)
    replies = [PMS_REPLIES["passive_mode"], PMS_REPLIES["sleep"]]
    for reply in replies:
        pieces.insert(draw(st.integers(0, len(pieces))), reply)
    garbage = st.binary(max_size=6).filter(lambda g: b"\x42\x4d\x00\x04" not in g)
    stream, starts = b"", []
    for piece in pieces:
        stream += draw(garbage)
        if piece in replies:
            starts.append(len(stream))
        stream += piece
    cuts = sorted(draw(st.lists(st.integers(0, len(stream)), max_size=14)))
    return stream, starts, cuts


#: The PMS replies (tests/test_frames_commands.py): passive mode and sleep acknowledged.
PMS_REPLIES = {
    "passive_mode": bytes.fromhex("42 4D 00 04 E1 00 01 74"),
    "sleep": bytes.fromhex("42 4D 00 04 E4 00 01 77"),
}


@settings(max_examples=300, deadline=None)
@given(late_pms_streams())
def test_the_bytes_a_watch_hands_on_are_told_apart_by_the_chunk_they_came_with(
    case: tuple[bytes, list[int], list[int]],
) -> None:
    """Whatever the chunks, the first ``earlier`` bytes ``feed`` returns are those that came
    before its chunk (held back as a reply's beginning) and the rest came with it, and
    ``held_anew`` tells whether the bytes it holds back begin in its chunk: what the sensor
    stamps the frames they end with."""
    stream, starts, cuts = case
    in_reply = {p for s in starts for p in range(s, s + 8)}
    kept = [p for p in range(len(stream)) if p not in in_reply]
    passive, sleep = command_ack("pms5003", "passive_mode"), command_ack("pms5003", "sleep")
    assert passive is not None
    assert sleep is not None
    watch = AckWatch([("passive_mode", passive)])
    watch.expire()
    watch.expect("sleep", sleep)
    out = taken = 0
    for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True):
        rest, found = watch.feed(stream[a:b])
        taken += 8 * (len(found) + len(watch.late_found))
        came = kept[out : out + len(rest)]
        assert rest == bytes(stream[p] for p in came)
        assert all(p < a for p in came[: watch.earlier])
        assert all(p >= a for p in came[watch.earlier :])
        out += len(rest)
        held = b - out - taken
        if held:
            assert watch.held_anew == (b - held >= a)
    assert taken == 16
    assert out + len(watch.held) == len(kept)


def test_a_late_reply_cut_by_the_first_poll_is_taken_out_whole(
    asleep: tuple[PtyPair, Clock, SensorRuntime, DeviceEnd, float],
) -> None:
    """The woken SDS011's late reply to ``work`` comes in two pieces 16 ms apart (an FTDI
    adapter's latency timer), its first 4 bytes read just before the first poll goes out
    0.1 s after the wait ended, the rest just after it. Those 4 bytes hold the reply's whole
    start bytes (``AA C5 06``), which no data frame ends with: they stay held through the
    poll, and the reply is taken out whole, ``work`` acknowledged, nothing skipped."""
    pair, clock, rt, device_end, work_at = asleep
    clock.now = work_at + ACK_TIMEOUT_S
    device_end.tick(clock.now)
    clock.now = work_at + ACK_TIMEOUT_S + SETUP_GAP_S - 0.01
    pair.write(WORK_REPLY[:4])
    read_all(rt, 4)
    clock.now = work_at + ACK_TIMEOUT_S + SETUP_GAP_S
    assert device_end.tick(clock.now) == command_bytes("sds011", "query")  # the first poll
    clock.now += 0.006
    pair.write(WORK_REPLY[4:])
    read_all(rt, len(WORK_REPLY) - 4)
    clock.now += 0.1
    frame = sds011_frame(123, 456)
    pair.write(frame)
    read_all(rt, len(frame))
    assert rt.framer.skipped_bytes == 0
    assert rt.framer.frames == 1
    assert rt.dialogue is not None
    assert rt.dialogue.acknowledged == {"work"}
    assert "work" not in rt.dialogue.unanswered


@settings(max_examples=40, deadline=None)
@given(
    cut=st.integers(0, len(WORK_REPLY)),
    answers=st.lists(st.integers(0, 10), min_size=1, max_size=3),
    first_at=st.sampled_from([0.02, 0.05, 0.099]),
)
def test_a_late_reply_cut_anywhere_around_the_first_poll_is_taken_out(
    cut: int, answers: list[int], first_at: float
) -> None:
    """The woken SDS011's late reply to ``work`` (arendst/Tasmota issue #9747's bytes) comes
    in two pieces, the first ``cut`` bytes before the first poll goes out (``first_at``
    seconds after the wait ended), the rest 6 ms after it (an FTDI adapter's latency timer
    cuts a reply anywhere); each poll's answer comes cut in two as well. Wherever the cuts
    fall, the reply is taken out and acknowledges ``work``, every answer is read, and no
    byte is skipped: bytes held as a reply's first when the poll goes out are neither
    handed to the framer as a frame's end nor dropped with its pending bytes."""
    with woken_sds011() as (pair, clock, rt, device_end, work_at):
        clock.now = work_at + ACK_TIMEOUT_S
        device_end.tick(clock.now)
        clock.now += first_at
        if cut:
            pair.write(WORK_REPLY[:cut])
            read_all(rt, cut)
        query = command_bytes("sds011", "query")
        for k, at in enumerate(answers):
            due = rt.next_deadline()
            assert due is not None
            while device_end.tick(max(clock.now, due)) != query:
                clock.now = max(clock.now, due)
                due = rt.next_deadline()
                assert due is not None
            clock.now = max(clock.now, due) + 0.006
            if not k and cut < len(WORK_REPLY):
                pair.write(WORK_REPLY[cut:])
                read_all(rt, len(WORK_REPLY) - cut)
            frame = sds011_frame(100 + k, 200 + k)
            for piece in (frame[:at], frame[at:]):
                if piece:
                    pair.write(piece)
                    read_all(rt, len(piece))
                    clock.now += 0.016
            if not k:
                # its first answer has the set-up written again (the unit slept through it),
                # which this test's unit leaves unanswered
                assert rt.dialogue is not None
                assert rt.dialogue.acknowledged == {"work"}
        assert rt.framer.skipped_bytes == 0
        assert rt.framer.frames == len(answers)
        assert reading_count(rt) == 2 * len(answers)


def test_a_frame_whose_last_byte_begins_a_reply_is_read_as_it_comes() -> None:
    """A frame whose checksum's last byte is a watched reply's first (PyPMS's recorded frame
    made to end in ``42`` while ``passive_mode``'s reply ``42 4D 00 04 E1 ...`` is awaited;
    the MH-Z19 answer ending ``FF`` while ``abc_off``'s late reply ``FF 79 ...`` is watched)
    is whole and valid as its last byte comes: it gives its readings with that chunk, not
    when the next chunk or the watch's end hands the byte on."""
    clock = Clock()
    with PtyPair() as pair:
        table = {"port": pair.path, "preset": "pms5003", "simulate": "never", "warmup_s": 0}
        rt = SensorRuntime(sensor_config({**table, "setup": ["active_mode"]}), clock=clock)
        assert rt.try_open()
        device_end = DeviceEnd(rt, pair)
        due = rt.next_deadline()
        assert due is not None
        clock.now = due
        assert device_end.tick(clock.now) == command_bytes("pms5003", "active_mode")
        clock.now += 0.2
        pair.write(PMS_FRAME_ENDING_42)
        read_all(rt, len(PMS_FRAME_ENDING_42))
        assert rt.framer.frames == 1
        assert reading_count(rt) > 0
        rt.stop()
    readings: list[int] = []

    def watched(rt: SensorRuntime) -> None:
        feed = rt.feed

        def counted(chunk: bytes) -> None:
            feed(chunk)
            if chunk.endswith(MHZ19_ANSWER_ENDING_FF[-1:]):
                readings.append(rt.framer.frames)

        rt.feed = counted  # type: ignore[method-assign]

    reading, _ = mhz19_answer_in_late_second(watched)
    assert reading.value == 567.0
    assert readings == [1]


class LateRangeMhz19(RangeRestartingMhz19):
    """A :class:`RangeRestartingMhz19` (``range=N`` acknowledged, then a restart, as
    ESPEasy's MH-Z19 plugin expects) that is busy for the first two writes of ``range=N``
    and takes the third, its reply and restart coming 4.05 s after it, past the last wait
    of 4 s (its clock ``clock``)."""

    def __init__(self, clock: Clock) -> None:
        super().__init__()
        self.clock = clock
        self.range_seen = 0
        self.later: tuple[float, bytes] | None = None

    def __call__(self, written: bytes) -> bytes:
        if written == command_bytes("mhz19", "range=5000"):
            self.range_seen += 1
            if self.range_seen % 3:
                return b""
            self.later = (self.clock.now + 4.05, written)
            return b""
        return super().__call__(written)

    def due(self) -> bytes:
        """What the device sends at its clock's time, unasked (the late reply)."""
        if self.later is None or self.clock.now < self.later[0]:
            return b""
        written, self.later = self.later[1], None
        return super().__call__(written)


def test_a_range_command_acknowledged_late_restarts_the_mhz19_as_one_in_time_does() -> None:
    """An MH-Z19 with ``setup = ["range=5000", "abc_off"]`` that acknowledges ``range``
    late, 4.05 s after its third write, and restarts: its boot is the range command's
    doing, as after one acknowledged within the wait (and the MH-Z19B's range change
    restarts it: ESPEasy's ``P049_data_struct.cpp`` "case 0x99: // Detection range setting"
    expects the reset). ``abc_off``, which the boot undid, is written again, the range
    command is not: written again, it would restart the device again, for ever. Polled
    before any answer, the device had sent nothing when ``range`` went out, so only its
    reply tells the restart is the command's."""
    clock = Clock()
    table = {
        "preset": "mhz19",
        "simulate": "never",
        "warmup_s": 20,
        "setup": ["range=5000", "abc_off"],
        "poll": {"interval_s": 1},
    }
    device = LateRangeMhz19(clock)
    with PtyPair() as pair, capture_logs() as logs:
        rt = SensorRuntime(sensor_config({**table, "port": pair.path}), clock=clock)
        assert rt.try_open()
        device_end = DeviceEnd(rt, pair)
        end = clock.now + 120.0
        while clock.now < end:
            due = rt.next_deadline()
            due = clock.now + 1.0 if due is None else min(due, clock.now + 1.0)
            if device.later is not None and device.later[0] < due:
                clock.now = device.later[0]
                reply = device.due()
            else:
                clock.now = max(clock.now, due)
                written = device_end.tick(clock.now)
                reply = device(written) if written else b""
            if reply:
                pair.write(reply)
                read_all(rt, len(reply))
        rt.stop()
    assert device.range_seen == 3
    assert not device.abc
    assert rt.dialogue is not None
    assert "range=5000" in rt.dialogue.acknowledged
    reruns = [e["commands"] for e in logs if e["event"] == "sending the set-up commands again"]
    assert reruns == [["abc_off"]]
    late = [
        (e["command"], e["acknowledges"]) for e in logs if e["event"] == "set-up reply came late"
    ]
    assert late == [("range=5000", True)]


def test_a_command_a_re_run_gets_acknowledged_late_is_not_told_ignored() -> None:
    """The woken SDS011 answers ``work`` late and its first poll: it was asleep through the
    connect's set-up, so the set-up runs again, and the commands that run misses are the
    ones it ignores. It answers the settings' queries at once and takes the third write of
    ``work``, its reply 4.05 s after it (timorme/sds011lib, docs/understanding.md: a unit
    "does sometimes, eventually respond"): ``work`` is acknowledged, and the line of
    commands ignored, told once no late reply may come, does not name it. The run is one at
    all because the connect's ``query_mode`` and ``working_period=5``, missed while the unit
    slept, are still owed when ``work``'s late reply acknowledges it."""
    device = PresetDevice("sds011")
    device.asleep = True
    work, query = command_bytes("sds011", "work"), command_bytes("sds011", "query")
    with capture_logs() as logs, woken_sds011(device) as (pair, clock, rt, device_end, work_at):
        clock.now = work_at + ACK_TIMEOUT_S
        device_end.tick(clock.now)
        clock.now += 0.05
        pair.write(WORK_REPLY)
        read_all(rt, len(WORK_REPLY))
        works = 0
        later: float | None = None
        end = clock.now + 40.0
        while clock.now < end:
            due = rt.next_deadline()
            due = clock.now + 1.0 if due is None else min(due, clock.now + 1.0)
            if later is not None and later < due:
                clock.now, later = later, None
                reply = answering(device)(work)
            else:
                clock.now = max(clock.now, due)
                written = device_end.tick(clock.now)
                reply = b""
                if written == work:
                    works += 1
                    if works == 3:
                        later = clock.now + 4.05
                elif written == query:
                    reply = sds011_frame(123, 456)
                elif written:
                    reply = answering(device)(written)
            if reply:
                pair.write(reply)
                read_all(rt, len(reply))
        assert rt.setup_reruns == 1
        assert works == 3
        assert rt.dialogue is not None
        assert rt.dialogue.unanswered == []
    ignored = [e["commands"] for e in logs if e["event"].startswith("set-up commands ignored")]
    assert ignored == []


def test_a_query_s_reply_is_not_taken_for_its_command_s_late_reply() -> None:
    """The wait for ``query_mode``'s reply ended (its late reply watched), and the set-up
    asks for the reporting mode next (the query, ``AA B4 02 00 ...``). The unit answers the
    query with active mode in force, ``AA C5 02 00 00`` (byte 3 ``00``: a query's reply,
    Laser Dust Sensor Control Protocol V1.3; nettigo/namf's ``sds011.cpp`` reads the reply's
    kind so): that is the query's reply, not the command's late one, which would set byte 3
    to ``01``: no wrong acknowledgement of the command."""
    query = command_query("sds011", "query_mode")
    assert query is not None
    watch = AckWatch([("query_mode", ack("query_mode"))])
    watch.expire()
    watch.expect("query_mode", query[1])
    reply = bytes.fromhex("AA C5 02 00 00 00 6F 98 09 AB")  # its sum 0x109 & 0xFF
    assert watch.feed(reply) == (b"", [("query_mode", False)])
    assert watch.late_found == []
    assert watch.late == [("query_mode", (ack("query_mode"),))]


def test_a_reply_every_command_gets_alike_is_the_pending_command_s() -> None:
    """A Honeywell HPMA115 answers every command with ``A5 A5`` (its datasheet's positive
    ACK; README's set-up of ``68 01 20 77``, stop auto-send, and ``68 01 01 96``, start
    measurement). The wait for the first command's reply ended, its late reply watched, and
    the second command is written: the ``A5 A5`` that comes within tens of milliseconds is
    the second's, not the first's late one (a device that ignored the first would have it
    counted taken, and the second written again); a second ``A5 A5`` after it is the
    first's late reply."""
    layout = FrameSpec(start=b"\xa5\xa5", length=2)
    positive = Ack(layout, b"\xa5\xa5")
    watch = AckWatch([("stop_autosend", positive)])
    watch.expire()
    watch.expect("start_measurement", positive)
    assert watch.feed(b"\xa5\xa5") == (b"", [("start_measurement", True)])
    assert watch.late_found == []
    assert watch.feed(b"\xa5\xa5") == (b"", [])
    assert watch.late_found == [("stop_autosend", True, positive)]


def test_a_late_reply_tells_the_time_since_its_own_command_s_wait_ended() -> None:
    """The woken SDS011 answers ``working_period=5`` (``AA C5 08 01 05 00 6F 98 15 AB``, its
    sum 0x115 & 0xFF) late, 50 ms after the wait for ``work``, written after it, ended, and
    then ``work``: each reply is logged with the time since its own command's wait ended,
    ``work``'s 0.05 s and ``working_period=5``'s that and ``work``'s write and wait more, not
    the time since the last wait ended for both."""
    period_reply = bytes.fromhex("AA C5 08 01 05 00 6F 98 15 AB")
    with woken_sds011() as (pair, clock, rt, device_end, work_at), capture_logs() as logs:
        clock.now = work_at + ACK_TIMEOUT_S
        device_end.tick(clock.now)
        clock.now += 0.05
        for reply in (period_reply, WORK_REPLY):
            pair.write(reply)
            read_all(rt, len(reply))
    waited = {
        e["command"]: e["after_wait_s"] for e in logs if e["event"] == "set-up reply came late"
    }
    assert waited["work"] == 0.05
    assert waited["working_period=5"] == round(SETUP_GAP_S + ACK_TIMEOUT_S + 0.05, 3)
