"""An SDS011's replies to commands that no command of the daemon awaits: taken out of the byte
stream, counted as frames read without readings (``sensord_frames_ignored_total``) and logged
once per kind at info level, never skipped bytes.

Device behaviour and bytes:

* The SDS011 answers every command with ``AA C5``, the command's id, its bytes, the device id,
  the 8-bit sum of bytes 2..7 and ``AB`` (Laser Dust Sensor Control Protocol V1.3); readers
  that share its line meet them between its data packets (nettigo/namf's ``sds011.cpp`` reads
  both and names the replies' kinds "Reporting mode", "Sleep/work", "Working period", "FW
  version").
* Its replies come "eventually" in active mode, after data frames (timorme/sds011lib,
  docs/understanding.md), later than any wait for them; arendst/Tasmota issue #9747 logs a
  unit answering ``work`` with ``AA C5 06 01 01 00 6F 98 0F AB`` past 150 and 250 ms
  timeouts.
"""

from __future__ import annotations

from harness.pty import PtyPair
from structlog.testing import capture_logs
from test_frames_commands import Clock, DeviceEnd, read_all, reading_count, sds011_on
from test_late_replies import WORK_REPLY, sds011_frame

from sensord.dialogue import ACK_TIMEOUT_S, LATE_REPLY_S, SETUP_TRIES
from sensord.formats.presets import command_bytes

#: Replies of the unit of Tasmota issue #9747 (device id 6F 98) to another program's query of
#: its working period (``08``, 0: query, 5 minutes) and of its reporting mode (``02``, query
#: mode), their sums over bytes 2..7.
PERIOD_REPLY = bytes.fromhex("AA C5 08 00 05 00 6F 98 14 AB")
MODE_REPLY = bytes.fromhex("AA C5 02 00 01 00 6F 98 0A AB")


def test_replies_to_another_program_s_commands_are_counted_and_told_once_per_kind() -> None:
    """An SDS011 polled with no set-up, whose line another program shares: it asks the unit
    for its working period twice and its reporting mode once, and the replies come between
    the data frames, cut across reads. Every data frame is read, no byte skipped; the three
    replies are frames read without readings, and two lines tell them, one per kind."""
    clock = Clock()
    frames = [sds011_frame(100 + k, 200 + k) for k in range(4)]
    stream = (
        frames[0] + PERIOD_REPLY + frames[1] + MODE_REPLY + frames[2] + PERIOD_REPLY + frames[3]
    )
    with PtyPair() as pair, capture_logs() as logs:
        rt = sds011_on(pair, clock, [])
        for a in range(0, len(stream), 7):
            piece = stream[a : a + 7]
            clock.now += 0.01
            pair.write(piece)
            read_all(rt, len(piece))
        snapshot = rt.snapshot()
        rt.stop()
    assert rt.framer.skipped_bytes == 0
    assert rt.framer.frames == 4
    assert reading_count(rt) == 8
    assert snapshot.ignored_frames == 3
    told = [
        (e["kind"], e["reply"]) for e in logs if e["event"] == "reply to a command came unasked"
    ]
    assert told == [
        ("working period", "AA C5 08 00 05 00 6F 98 14 AB"),
        ("data reporting mode", "AA C5 02 00 01 00 6F 98 0A AB"),
    ]
    assert all(e["log_level"] == "info" for e in logs if e["event"].startswith("reply to"))


def test_a_set_up_reply_later_than_its_late_watch_is_no_noise() -> None:
    """An SDS011 that answers ``work`` "eventually": 2.5 s after the wait for its last write
    ended, past the time a late reply is watched for. The reply is taken out as one nobody
    awaits (counted, told), not skipped as noise, and the frame after it is read; ``work``
    stays unanswered (nothing says the reply was that write's)."""
    clock = Clock()
    work = command_bytes("sds011", "work")
    with PtyPair() as pair, capture_logs() as logs:
        rt = sds011_on(pair, clock, ["work"])
        device_end = DeviceEnd(rt, pair)
        writes = 0
        while writes < SETUP_TRIES or rt.setup_ack_errors["missing"] == 0:
            due = rt.next_deadline()
            assert due is not None
            clock.now = max(clock.now, due)
            frame = sds011_frame(50 + writes, 60 + writes)
            if device_end.tick(clock.now) == work:
                writes += 1
                pair.write(frame)  # the unit streams on
                read_all(rt, len(frame))
        ended = clock.now
        while (due := rt.next_deadline()) is not None and due <= ended + LATE_REPLY_S + 0.5:
            clock.now = max(clock.now, due)
            device_end.tick(clock.now)
        clock.now = ended + ACK_TIMEOUT_S + 1.5
        for piece in (WORK_REPLY[:3], WORK_REPLY[3:], sds011_frame(70, 80)):
            pair.write(piece)
            read_all(rt, len(piece))
        snapshot = rt.snapshot()
        rt.stop()
    assert rt.framer.skipped_bytes == 0
    assert rt.framer.frames == SETUP_TRIES + 1
    assert snapshot.ignored_frames == 1
    assert rt.dialogue is not None
    assert rt.dialogue.unanswered == ["work"]
    told = [e["kind"] for e in logs if e["event"] == "reply to a command came unasked"]
    assert told == ["sleep and work"]
