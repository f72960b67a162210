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
* An SDS011's device id (bytes 6 and 7 of its frames) is any two bytes its maker wrote
  (Control Protocol V1.3: "ID byte 1", "ID byte 2"; a command to id ``FF FF`` reaches every
  unit): ``AA C5`` and ``xx AA`` are ids as any other, and put a reply's start bytes into
  the frames' last bytes.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable

import pytest
from harness.calls import calls_of
from harness.pty import PtyPair
from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs
from test_frames_commands import Clock, DeviceEnd, read_all, reading_count, sds011_on
from test_late_replies import WORK_REPLY, sds011_frame, woken_sds011

from sensord.dialogue import ACK_TIMEOUT_S, LATE_REPLY_S, SETUP_TRIES, Dialogue
from sensord.formats.acks import AckWatch
from sensord.formats.presets import command_bytes
from sensord.sensor import SensorRuntime

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
        write_in_pieces(pair, rt, clock, stream)
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


@pytest.mark.parametrize("first", [0, 3], ids=["whole after it", "begun within it"])
def test_a_set_up_reply_later_than_its_late_watch_is_no_noise(first: int) -> None:
    """An SDS011 that answers ``work`` "eventually": 2.5 s after the wait for its last write
    ended, past the time a late reply is watched for, or with its ``first`` bytes within
    that time, held as a reply's first when it ends, the rest after it. The reply is taken
    out as one nobody awaits (counted, told), not skipped as noise, and the frame after it
    is read; ``work`` stays unanswered (nothing says the reply was that write's)."""
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
        if first:
            clock.now += 0.5
            pair.write(WORK_REPLY[:first])
            read_all(rt, first)
        while (due := rt.next_deadline()) is not None and due <= ended + LATE_REPLY_S + 0.5:
            clock.now = max(clock.now, due)
            device_end.tick(clock.now)
        clock.now = ended + ACK_TIMEOUT_S + 1.5
        for piece in (WORK_REPLY[first:3], WORK_REPLY[3:], sds011_frame(70, 80)):
            if piece:
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


def test_a_frame_ending_in_a_reply_s_start_is_read_with_the_chunk_it_ends_in() -> None:
    """An SDS011 whose device id is ``AA C5``, its frames' last four bytes a reply's start
    bytes, its checksum and ``AB``. A frame comes with the next frame's first three bytes in
    one chunk (a reader that fell behind), the rest in the next, a second later: the first
    frame is read with the chunk that ends it and stamped with that chunk's time, not held
    back as a reply's beginning until the next chunk; nothing is skipped or ignored."""
    clock = Clock()
    frames = [sds011_frame(100 + k, 200 + k, b"\xaa\xc5") for k in range(2)]
    stream = frames[0] + frames[1]
    with PtyPair() as pair:
        rt = sds011_on(pair, clock, [])
        rt.feed(stream[:13])
        assert rt.framer.frames == 1
        assert rt.last_frame_at == clock.now
        clock.now += 1.0
        rt.feed(stream[13:])
        snapshot = rt.snapshot()
        rt.stop()
    assert rt.framer.frames == 2
    assert rt.last_frame_at == clock.now
    assert rt.framer.skipped_bytes == 0
    assert snapshot.ignored_frames == 0


#: The replies another program's commands get from a unit on the line.
UNASKED = (WORK_REPLY, PERIOD_REPLY, MODE_REPLY)


def write_in_pieces(pair: PtyPair, rt: SensorRuntime, clock: Clock, stream: bytes) -> None:
    """Write ``stream`` to the sensor's pty in 7-byte pieces 10 ms apart, each read as it
    comes: a line's replies and frames cut across reads."""
    for a in range(0, len(stream), 7):
        piece = stream[a : a + 7]
        clock.now += 0.01
        pair.write(piece)
        read_all(rt, len(piece))


def after_noise(
    draw: st.DrawFn, pieces: list[bytes], replies: tuple[bytes, ...]
) -> tuple[bytes, bytes, list[int]]:
    """``pieces`` and a last frame of the test unit, each after noise without ``AA``: (the
    stream, the stream without the pieces that are ``replies``, where each other piece
    ends in the stream)."""
    noise = st.binary(max_size=5).filter(lambda g: b"\xaa" not in g)
    stream, without, ends = b"", b"", []
    for piece in [*pieces, sds011_frame(1, 2)]:
        noisy = draw(noise)
        stream += noisy + piece
        without += noisy
        if piece not in replies:
            without += piece
            ends.append(len(stream) - 1)
    return stream, without, ends


@st.composite
def shared_lines(draw: st.DrawFn) -> tuple[bytes, bytes, list[int], int, list[int]]:
    """SDS011 frames (PM values over the unit's whole range, ids of the test unit and ids
    whose bytes begin a reply), unasked replies between them, noise without ``AA`` (the
    first byte of every frame and reply) before each, and a last frame of the test unit:
    (the stream, the stream without the replies, where chunks are cut, the replies, where
    each frame ends)."""
    ids = st.sampled_from([b"\x6f\x98", b"\xaa\xc5", b"\xab\xaa", b"\x01\xaa"])
    pieces = [
        sds011_frame(draw(st.integers(0, 9999)), draw(st.integers(0, 9999)), draw(ids))
        for _ in range(draw(st.integers(1, 6)))
    ]
    replies = draw(st.integers(0, 3))
    for _ in range(replies):
        pieces.insert(draw(st.integers(0, len(pieces))), draw(st.sampled_from(UNASKED)))
    stream, without, ends = after_noise(draw, pieces, UNASKED)
    cuts = sorted(set(draw(st.lists(st.integers(1, len(stream) - 1), max_size=12))))
    return stream, without, cuts, replies, ends


def feed_cut(
    rt: SensorRuntime, clock: Clock, stream: bytes, cuts: list[int], at: Callable[[int], float]
) -> list[float]:
    """``stream`` fed to ``rt`` cut at ``cuts``, chunk k at time ``at(k)`` on ``clock``: the
    time each frame it read was stamped with."""
    stamps: list[float] = []
    process = rt.process

    def stamped(chunk: bytes, now: float, wall: float | None = None) -> None:
        before = rt.framer.frames
        process(chunk, now, wall)
        stamps.extend([now] * (rt.framer.frames - before))

    rt.process = stamped  # type: ignore[method-assign]
    for k, (a, b) in enumerate(zip([0, *cuts], [*cuts, len(stream)], strict=True)):
        clock.now = at(k)
        rt.feed(stream[a:b])
    return stamps


def read_cut(stream: bytes, cuts: list[int]) -> tuple[int, int, int, int, list[float]]:
    """The frames, readings, skipped bytes and ignored frames of an SDS011 fed ``stream``
    cut at ``cuts``, chunk k at time k, and the time each frame was stamped with."""
    clock = Clock(0.0)
    with PtyPair() as pair:
        rt = sds011_on(pair, clock, [])
        stamps = feed_cut(rt, clock, stream, cuts, float)
        snapshot = rt.snapshot()
        rt.stop()
    frames, skipped = rt.framer.frames, rt.framer.skipped_bytes
    return frames, reading_count(rt), skipped, snapshot.ignored_frames, stamps


@settings(max_examples=150, deadline=None)
@given(shared_lines())
def test_unasked_replies_leave_every_frame_as_the_line_without_them_would(
    case: tuple[bytes, bytes, list[int], int, list[int]],
) -> None:
    """Whatever the chunks, an SDS011 line with unasked replies reads the frames, readings
    and skipped bytes of the same line without them, counts each reply ignored, and stamps
    each frame with the time of the chunk its last byte came with."""
    stream, without, cuts, replies, ends = case
    frames, readings, skipped, ignored, stamps = read_cut(stream, cuts)
    alone = read_cut(without, [])
    assert (frames, readings, skipped) == alone[:3]
    assert ignored == replies
    assert stamps == [float(bisect.bisect_right(cuts, end)) for end in ends]


def test_frames_between_replies_cost_the_watch_a_search_alone() -> None:
    """An SDS011 in active mode sends a frame a second for months, each read whole or cut in
    two by the adapter, and no reply: the watch for unasked replies finds no reply's start
    bytes in a chunk and hands it on as it came, without the search for a reply's first
    bytes at its end or the watch's upkeep a reply needs (about 3.5 us a chunk on this
    machine, a frame's own framing and decoding about 7)."""
    clock = Clock()
    frames = [sds011_frame(100 + k, 200 + k) for k in range(20)]
    with PtyPair() as pair:
        rt = sds011_on(pair, clock, [])
        with calls_of(AckWatch._partial, Dialogue._watch) as count:
            for k, frame in enumerate(frames):
                clock.now += 1.0
                for piece in (frame,) if k % 2 else (frame[:4], frame[4:]):
                    rt.feed(piece)
        rt.stop()
    assert rt.framer.frames == len(frames)
    assert count == [0]


@pytest.mark.parametrize("cut", [1, 5], ids=["its first byte held", "five bytes framed"])
def test_a_frame_cut_by_a_poll_costs_its_bytes_wherever_the_cut_falls(cut: int) -> None:
    """An SDS011 polled in query mode that sends a frame of its own between two polls (left
    in active mode by another program), the poll's write cutting it after ``cut`` bytes. No
    answer begins before its request: the frame's bytes are skipped whether its first byte
    was held as a reply's (``AA``, an unasked reply's first) or framed, and the answers to
    both polls are read."""
    clock = Clock()
    query = command_bytes("sds011", "query")
    stray = sds011_frame(77, 88)
    with PtyPair() as pair:
        rt = sds011_on(pair, clock, [])
        device_end = DeviceEnd(rt, pair)
        for k in range(2):
            while True:
                due = rt.next_deadline()
                assert due is not None
                clock.now = max(clock.now, due)
                if device_end.tick(clock.now) == query:
                    break
            for piece in ([stray[cut:]] if k else []) + [sds011_frame(100 + k, 200 + k)]:
                clock.now += 0.02
                pair.write(piece)
                read_all(rt, len(piece))
            if not k:
                clock.now += 0.5
                pair.write(stray[:cut])
                read_all(rt, cut)
        rt.stop()
    assert rt.framer.frames == 2
    assert reading_count(rt) == 4
    assert rt.framer.skipped_bytes == len(stray)


@st.composite
def late_lines(draw: st.DrawFn) -> tuple[bytes, bytes, list[int], bool, int, list[int]]:
    """SDS011 frames (ids of the test unit and ids whose bytes begin a reply), the late reply
    to ``work`` or none, replies to another program's query of the reporting mode, noise
    without ``AA`` before each, and a last frame of the test unit: (the stream, the stream
    without the replies, where chunks are cut, whether ``work``'s reply came, how many
    others did, where each frame ends)."""
    ids = st.sampled_from([b"\x6f\x98", b"\xaa\xc5", b"\x01\xaa"])
    pieces = [
        sds011_frame(draw(st.integers(0, 9999)), draw(st.integers(0, 9999)), draw(ids))
        for _ in range(draw(st.integers(1, 5)))
    ]
    late = draw(st.booleans())
    if late:
        pieces.insert(draw(st.integers(0, len(pieces))), WORK_REPLY)
    others = draw(st.integers(0, 2))
    for _ in range(others):
        pieces.insert(draw(st.integers(0, len(pieces))), MODE_REPLY)
    stream, without, ends = after_noise(draw, pieces, (WORK_REPLY, MODE_REPLY))
    cuts = sorted(set(draw(st.lists(st.integers(1, len(stream) - 1), max_size=10))))
    return stream, without, cuts, late, others, ends


@settings(max_examples=100, deadline=None)
@given(late_lines())
def test_a_late_reply_among_unasked_ones_leaves_every_frame_as_the_line_without_them(
    case: tuple[bytes, bytes, list[int], bool, int, list[int]],
) -> None:
    """The woken SDS011 (``work`` written, its wait over, its reply watched as late) sends
    frames, perhaps ``work``'s late reply, and replies to another program's queries, cut
    anywhere within a second: the frames, readings and skipped bytes are those of the line
    without the replies, each frame stamped with the time of the chunk it ends in; the late
    reply acknowledges ``work``, and the others are ignored frames."""
    stream, without, cuts, late, others, ends = case
    with woken_sds011() as (_, clock, rt, device_end, work_at):
        clock.now = work_at + ACK_TIMEOUT_S
        device_end.tick(clock.now)
        before = (rt.framer.frames, reading_count(rt), rt.framer.skipped_bytes)
        base = clock.now
        stamps = feed_cut(rt, clock, stream, cuts, lambda k: base + 0.01 * (k + 1))
        after = (rt.framer.frames, reading_count(rt), rt.framer.skipped_bytes)
        ignored = rt.snapshot().ignored_frames
        assert rt.dialogue is not None
        acknowledged = set(rt.dialogue.acknowledged)
    assert tuple(b - a for a, b in zip(before, after, strict=True)) == read_cut(without, [])[:3]
    assert ignored == others
    assert acknowledged == ({"work"} if late else set())
    assert stamps == [base + 0.01 * (bisect.bisect_right(cuts, end) + 1) for end in ends]
