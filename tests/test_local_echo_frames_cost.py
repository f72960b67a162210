"""What a write's first chunk on a line known to echo costs to look through
(``LineEcho._echo_begins``): where the echo begins after one or two sound frames is found in work
linear in the chunk, and the same place as by trying each split of each prefix."""

from __future__ import annotations

import time

from harness.modbus import rtu_frame
from hypothesis import example, given, settings
from hypothesis import strategies as st

from sensord import bus_echo
from sensord.bus_echo import (
    GLITCH_BYTES,
    GLITCH_MAX,
    MIN_FRAME_BYTES,
    LineEcho,
    _crc_states,
    _frame_split,
)
from sensord.formats.modbus import MAX_FRAME_BYTES, crc16


def sound_frames_by_every_split(data: bytes) -> bool:
    """Whether ``data`` is one sound RTU frame, or two: each split tried, the CRC of each
    side computed afresh (quadratic in ``data``)."""
    if not crc16(data):
        return True
    return any(
        not crc16(data[:end]) and not crc16(data[end:])
        for end in range(MIN_FRAME_BYTES, len(data) - MIN_FRAME_BYTES + 1)
    )


def glitched_frames_by_every_split(data: bytes) -> bool:
    """Whether ``data`` is one sound RTU frame, or two with up to ``GLITCH_MAX`` glitch bytes
    between them: each split and each count of glitch bytes tried, the CRC of each side
    computed afresh (quadratic in ``data``)."""
    if not crc16(data):
        return True
    return any(
        not crc16(data[:end])
        and all(byte in GLITCH_BYTES for byte in data[end : end + glitch])
        and len(data) - end - glitch >= MIN_FRAME_BYTES
        and not crc16(data[end + glitch :])
        for end in range(MIN_FRAME_BYTES, len(data) - MIN_FRAME_BYTES + 1)
        for glitch in range(GLITCH_MAX + 1)
    )


def echo_begins_by_every_split(request: bytes, chunk: bytes) -> int:
    """``LineEcho._echo_begins`` with each place's prefix, less up to ``GLITCH_MAX`` glitch
    bytes before the place, tried by :func:`glitched_frames_by_every_split` (cubic in
    ``chunk``)."""
    begins = chunk.find(request[:1], MIN_FRAME_BYTES)
    while 0 < begins <= 2 * MAX_FRAME_BYTES:
        if request.startswith(chunk[begins : begins + len(request)]) and any(
            glitched_frames_by_every_split(chunk[: begins - glitch])
            for glitch in range(GLITCH_MAX + 1)
            if begins - glitch >= MIN_FRAME_BYTES
            and all(byte in GLITCH_BYTES for byte in chunk[begins - glitch : begins])
        ):
            return begins
        begins = chunk.find(request[:1], begins + 1)
    return -1


#: Device 3's set-up write (06, holding 55 = 8), as it is sent.
WRITE = rtu_frame(bytes.fromhex("03 06 00 37 00 08"))

_FRAME = st.binary(min_size=MIN_FRAME_BYTES - 2, max_size=40).map(rtu_frame)
_PIECE = st.one_of(
    _FRAME,
    _FRAME.map(lambda frame: frame[:-1] + bytes([frame[-1] ^ 1])),  # its CRC wrong
    st.binary(max_size=12),
    st.sampled_from([WRITE, WRITE[:1], WRITE[:3], b"\x00", b"\xff", b"\x03"]),
)
_CHUNKS = st.lists(_PIECE, max_size=12).map(b"".join)


@settings(max_examples=400)
@given(chunk=_CHUNKS)
def test_one_or_two_sound_frames_are_told_as_every_split_tells_them(chunk: bytes) -> None:
    states = _crc_states(chunk)
    split = _frame_split(states, len(chunk))
    assert (split >= 0) == sound_frames_by_every_split(chunk)
    if split > 0:
        assert not crc16(chunk[:split])
        assert not crc16(chunk[split:])
    for end in range(len(chunk) + 1):
        assert (_frame_split(states, end) >= 0) == sound_frames_by_every_split(chunk[:end])


#: Another master's read of unit 5 and unit 5's answer, a glitch byte FF, and the write's echo.
_GLITCHED = rtu_frame(bytes.fromhex("05 04 10 00 00 01")) + rtu_frame(
    bytes.fromhex("05 04 02 00 07")
)
_GLITCHED += b"\xff" + WRITE

#: The same with a glitch byte FF between the master's read and unit 5's answer too.
_GLITCHED_BETWEEN = _GLITCHED[:8] + b"\xff" + _GLITCHED[8:]


@settings(max_examples=400)
@given(chunk=_CHUNKS, request=st.sampled_from([WRITE, rtu_frame(bytes.fromhex("00 06 00 01"))]))
@example(chunk=_GLITCHED, request=WRITE)
@example(chunk=_GLITCHED_BETWEEN, request=WRITE)
def test_the_echo_begins_where_every_split_finds_it(chunk: bytes, request: bytes) -> None:
    assert LineEcho._echo_begins(request, chunk) == echo_begins_by_every_split(request, chunk)


def test_a_crafted_first_chunk_costs_linear_work() -> None:
    """525-byte first chunks of a write's exchange (what one read can hold on a loaded
    adapter), crafted to hold the write's echo at every place where it could begin, none of
    them after sound frames (a stray byte before them): trying each split of each prefix
    cost 0.16 s of CPU on the first; the place is found (none) in well under 2 ms a chunk
    (about 0.1 ms here)."""
    chunks = [
        b"\x01" + WRITE * 65 + WRITE[:4],
        b"\x01" + (WRITE[:1] + b"\x06") * 262,
        b"\x01" + WRITE[:1] * 524,
        bytes(525),
    ]
    for chunk in chunks:
        assert LineEcho._echo_begins(WRITE, chunk) == echo_begins_by_every_split(WRITE, chunk)
    started = time.process_time()
    for _ in range(20):
        for chunk in chunks:
            LineEcho._echo_begins(WRITE, chunk)
    per_chunk_s = (time.process_time() - started) / (20 * len(chunks))
    assert per_chunk_s < 0.002, per_chunk_s


def test_frames_at_the_ends_and_of_the_longest_size_are_told_as_every_split_tells_them() -> None:
    """The inputs the random chunks seldom hold: none, one byte, a frame of
    :data:`~sensord.formats.modbus.MAX_FRAME_BYTES` alone or before or after a short one, and
    two of that size (all that ``_echo_begins`` and ``_came_before`` look at): each told as
    every split tells it, and two frames split where the second begins."""
    longest = rtu_frame((bytes(range(256)) * 2)[: MAX_FRAME_BYTES - 2])
    assert len(longest) == MAX_FRAME_BYTES
    short = rtu_frame(bytes.fromhex("01 83 02"))
    cases = {
        b"": -1,
        b"\x01": -1,
        longest: 0,
        short + longest: len(short),
        longest + short: MAX_FRAME_BYTES,
        longest + longest: MAX_FRAME_BYTES,
        longest + longest[:-1]: -1,
        b"\x00" + longest + longest[1:]: -1,
    }
    for chunk, split in cases.items():
        assert _frame_split(_crc_states(chunk), len(chunk)) == split, (len(chunk), split)
        assert (split >= 0) == sound_frames_by_every_split(chunk)


def test_the_zero_runs_table_is_built_once_for_two_frames_and_never_grows() -> None:
    """The table of zero runs holds each length up to two frames' MAX_FRAME_BYTES, each with
    a CRC of its own, and a longer input (none reaches ``_frame_split`` from the bus) leaves
    it as it is. (It was extended to every length asked for, one entry a byte.)"""
    assert len(bus_echo._ZERO_RUN_LENGTHS) == 2 * MAX_FRAME_BYTES + 1
    chunk = bytes(4000)
    assert _frame_split(_crc_states(chunk), len(chunk)) == -1
    assert len(bus_echo._ZERO_RUN_LENGTHS) == 2 * MAX_FRAME_BYTES + 1
