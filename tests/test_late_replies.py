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

from collections.abc import Iterator

import pytest
from harness.pty import PtyPair
from structlog.testing import capture_logs
from test_frames_commands import (
    SDS011_SETUP,
    SILENT_FIRST_POLL_S,
    Clock,
    DeviceEnd,
    answering,
    read_all,
    reading_count,
    sds011_on,
)

from sensord.dialogue import ACK_TIMEOUT_S, LATE_REPLY_S, SETUP_GAP_S
from sensord.formats.acks import Ack, AckWatch
from sensord.formats.presets import PresetDevice, command_ack, command_bytes
from sensord.sensor import SensorRuntime

#: The reply of a real SDS011 to ``work`` (arendst/Tasmota issue #9747).
WORK_REPLY = bytes.fromhex("AA C5 06 01 01 00 6F 98 0F AB")


def sds011_frame(pm2_5: int, pm10: int, device_id: bytes = b"\x6f\x98") -> bytes:
    """An SDS011 data frame (Laser Dust Sensor Control Protocol V1.3): PM2.5 and PM10 in
    tenths of µg/m³, little-endian, the device id, the 8-bit sum of bytes 2..7, ``AB``."""
    body = pm2_5.to_bytes(2, "little") + pm10.to_bytes(2, "little") + device_id
    return b"\xaa\xc0" + body + bytes([sum(body) & 0xFF]) + b"\xab"


@pytest.fixture
def asleep() -> Iterator[tuple[PtyPair, Clock, SensorRuntime, DeviceEnd, float]]:
    """An SDS011 left asleep whose set-up ``query_mode, working_period=5, work`` ran up to the
    write of ``work`` (once, the device answering nothing): the pty, the clock, the sensor, the
    device end, and when ``work`` was written. The device took it, and has not answered yet."""
    device = PresetDevice("sds011")
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
    assert watch.late_found == [("work", True)]
    assert not watch.pending
    assert not watch.late

    watch = AckWatch([("work", ack("work"))])
    watch.expire()
    assert watch.feed(WORK_REPLY[:3]) == (b"", [])
    assert watch.forget_late() == WORK_REPLY[:3]
    assert watch.feed(WORK_REPLY) == (WORK_REPLY, [])
