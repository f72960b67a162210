"""The bulk path of the frame framer gives the results of the plain path it stands in for.

``FrameFramer`` checks runs of back-to-back candidates in bulk (``_Run``): the same frames and
the same counters as the candidate-by-candidate search (``runs=False``), on any stream
(garbage, truncated and damaged frames, start bytes inside checksums, bogus lengths) cut
anywhere. A table of integer fields read as they are decodes with one ``struct`` format, as
field by field.
"""

from __future__ import annotations

import itertools
import struct
from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_formats_frames import PMS_VALUES, SPECS, frames_of, pms_frame

from sensord.formats.base import FieldSpec, FormatSpec, FrameSpec
from sensord.formats.frame_keys import FIELD_TYPES
from sensord.formats.frames import RUN_LIMIT, FrameFramer
from sensord.formats.frames_check import check
from sensord.formats.frames_checksums import checksum
from sensord.formats.frames_decode import decoder

#: Specs beyond the test_formats_frames ones: a long frame whose sums exceed 16 bits (no
#: Adler-32 shortcut), a checksum before the bytes it covers, a length field with a fixed
#: length counted over the whole frame, a one-byte start that is also a data value, and
#: byte-stuffed frames (SHDLC: the encoder stuffs them, the framer unstuffs the stream before
#: either path cuts it) whose length field counts the data only.
BULK_SPECS = {
    **SPECS,
    "long_sum16le": FrameSpec(
        start=b"\xa5\x5a",
        length=300,
        checksum="sum16le",
        fields=(FieldSpec("v", 2, "u16be"),),
    ),
    "sum_first": FrameSpec(
        start=b"\x10",
        length=8,
        checksum="sum8",
        checksum_offset=1,
        checksum_start=2,
        checksum_end=8,
        fields=(FieldSpec("v", 2, "u16be"),),
    ),
    "shdlc": FrameSpec(
        start=b"\x7e\x00\x03",
        length_offset=4,
        length_size=1,
        length_adjust=2,
        end=0x7E,
        escape=0x7D,
        checksum="ones8",
        checksum_start=1,
        fields=(FieldSpec("v", 5, "u16be"), FieldSpec("w", 7, "u8")),
    ),
    "fixed_and_field": FrameSpec(
        start=b"\x55",
        length=12,
        length_offset=1,
        length_size=1,
        length_counts="frame",
        end=0x0A,
        checksum="twos8",
        checksum_start=1,
        fields=(FieldSpec("v", 2, "i32le"),),
    ),
}

COUNTERS = ("frames", "overlong", "skipped_bytes")


@pytest.mark.parametrize("name", sorted(BULK_SPECS))
def test_the_specs_are_valid(name: str) -> None:
    frame = BULK_SPECS[name]
    fields = tuple((f.name, f.name) for f in frame.fields)
    assert check(FormatSpec("frames", fields, frame=frame)) == []


def outcome(framer: FrameFramer, chunks: list[bytes]) -> tuple[Any, ...]:
    frames = [frame for chunk in chunks for frame in framer.feed(chunk)]
    counters = tuple(getattr(framer, name) for name in COUNTERS)
    return frames, counters, dict(framer.rejected), framer._buffer


def pms_reply(command: bytes) -> bytes:
    body = b"\x42\x4d\x00\x04" + command
    return body + checksum("sum16be", body)


def _pieces(frame: FrameSpec) -> st.SearchStrategy[bytes]:
    """The pieces a stream of ``frame`` is made of (see :func:`bulk_streams`)."""
    valid = frames_of(frame)
    return st.one_of(
        st.lists(valid, min_size=1, max_size=RUN_LIMIT + 3).map(b"".join),
        valid.flatmap(lambda f: st.integers(1, len(f) - 1).map(lambda k: f[:k])),
        st.tuples(valid, st.integers(0, 400), st.integers(1, 255)).map(
            lambda t: (
                t[0][: t[1] % len(t[0])]
                + bytes([t[0][t[1] % len(t[0])] ^ t[2]])
                + t[0][t[1] % len(t[0]) + 1 :]
            )
        ),
        st.binary(max_size=3).map(lambda tail: frame.start + tail),
        st.binary(max_size=8),
        st.sampled_from([b"\x00", b"\xff", frame.start[:1]]),
        # a PMS reply to a command (42 4D 00 04, command, data, sum), for specs that read one
        st.binary(min_size=2, max_size=2).map(pms_reply)
        if frame.reply_length == 8
        else st.just(b""),
    )


#: The pieces of each spec's streams, made once: hypothesis checks a strategy at its first
#: draw, which made afresh at each draw cost more than the framers under test.
PIECES = {name: st.lists(_pieces(frame), max_size=10) for name, frame in BULK_SPECS.items()}


@st.composite
def bulk_streams(draw: st.DrawFn) -> tuple[FrameSpec, bytes, list[int]]:
    """Valid frames, often back to back, with damaged and cut frames, start bytes with and
    without lengths, and noise between them; cut at arbitrary points."""
    name = draw(st.sampled_from(sorted(BULK_SPECS)))
    frame = BULK_SPECS[name]
    stream = b"".join(draw(PIECES[name]))
    cuts = sorted(draw(st.lists(st.integers(0, len(stream)), max_size=8)))
    return frame, stream, cuts


def chunked(stream: bytes, cuts: list[int]) -> list[bytes]:
    bounds = [0, *cuts, len(stream)]
    return [stream[a:b] for a, b in itertools.pairwise(bounds)]


@settings(max_examples=500, deadline=None)
@given(bulk_streams())
def test_bulk_and_candidate_by_candidate_cutting_agree(
    case: tuple[FrameSpec, bytes, list[int]],
) -> None:
    frame, stream, cuts = case
    chunks = chunked(stream, cuts)
    plain = outcome(FrameFramer(frame, 512, runs=False), chunks)
    assert outcome(FrameFramer(frame, 512), chunks) == plain
    # and in one piece: the frames and counters do not depend on the chunking
    assert outcome(FrameFramer(frame, 512), [stream])[:3] == plain[:3]


def test_a_run_ends_at_a_damaged_frame_and_resumes_inside_it() -> None:
    """Back-to-back frames, one with a wrong checksum whose last byte is a start byte: the run
    stops there, the damaged candidate costs one byte, and the frames after it are read."""
    values = list(PMS_VALUES)
    values[12] = 0
    values[12] = (0x42 - sum(pms_frame(values)[:30])) % 256
    trap = pms_frame(values)
    assert trap[-1] == 0x42
    good = pms_frame(PMS_VALUES)
    damaged = trap[:8] + bytes([trap[8] ^ 1]) + trap[9:]
    stream = good * 3 + damaged + good * 70
    frame = SPECS["pms5003"]
    bulk = FrameFramer(frame, 512)
    assert bulk.feed(stream) == [good] * 73
    assert bulk.rejected == {"checksum": 1, "syntax": 0}
    assert bulk.skipped_bytes == 32
    assert (
        outcome(FrameFramer(frame, 512, runs=False), [stream])[1:]
        == outcome(FrameFramer(frame, 512), [stream])[1:]
    )


def test_sums_of_long_covers_are_exact() -> None:
    """A 300-byte frame of 0xFF sums past 16 bits (and past Adler-32's modulus)."""
    frame = BULK_SPECS["long_sum16le"]
    body = frame.start + b"\xff" * 296
    good = body + checksum("sum16le", body)
    framer = FrameFramer(frame, 512)
    assert framer.feed(good * 3) == [good] * 3
    assert framer.feed(body + checksum("sum16le", body[:-1])) == []


def test_a_spec_without_checksum_has_no_bulk_path() -> None:
    frame = replace(SPECS["sds011"], checksum="none")
    assert FrameFramer(frame, 64)._run is None


# -- decoding the integer fields with one struct format -----------------------------------------


@st.composite
def integer_tables(draw: st.DrawFn) -> tuple[FormatSpec, bytes]:
    """A frame spec of integer fields in one byte order (single bytes mixed in), channels
    that read them in any order, some twice, and a frame of random bytes. Fields may share
    bytes (a spec built in code; ``sensord check`` refuses such a table)."""
    order = draw(st.sampled_from(["be", "le"]))
    types = [t for t in FIELD_TYPES if t[0] in "ui" and t[1:] in {"8", f"16{order}", f"32{order}"}]
    fields: list[FieldSpec] = []
    at = end = 2
    for i in range(draw(st.integers(1, 6))):
        kind = draw(st.sampled_from(types))
        at = max(2, at + draw(st.integers(-3, 3)))
        fields.append(FieldSpec(f"f{i}", at, kind))
        at += struct.calcsize(FIELD_TYPES[kind])
        end = max(end, at)
    at = end
    names = [f.name for f in fields]
    chosen = draw(st.lists(st.sampled_from(names), min_size=1, max_size=8))
    frame = FrameSpec(start=b"\xaa\x55", length=at + 1, checksum="sum8", fields=tuple(fields))
    spec = FormatSpec("frames", tuple((f"c{i}_{n}", n) for i, n in enumerate(chosen)), frame=frame)
    body = b"\xaa\x55" + draw(st.binary(min_size=at - 2, max_size=at - 2))
    return spec, body + checksum("sum8", body)


@settings(max_examples=300, deadline=None)
@given(integer_tables())
def test_integer_fields_decode_as_the_field_by_field_reading(
    case: tuple[FormatSpec, bytes],
) -> None:
    spec, data = case
    assert spec.frame is not None
    rows = {f.name: f for f in spec.frame.fields}
    expected = [
        (
            channel,
            struct.unpack_from(FIELD_TYPES[rows[name].type], data, rows[name].offset)[0] * 1.0,
        )
        for channel, name in spec.fields
    ]
    assert decoder(spec)(data) == expected


def test_a_fixed_length_the_length_field_cannot_say_has_no_bulk_path() -> None:
    """300 bytes in a one-byte length field: no candidate is a frame, and the framer (which
    builds its bulk check from the length) still works."""
    frame = FrameSpec(
        start=b"\xaa",
        length=300,
        length_offset=1,
        length_size=1,
        length_counts="frame",
        checksum="sum8",
        fields=(FieldSpec("v", 2, "u8"),),
    )
    framer = FrameFramer(frame, 512)
    assert framer._run is None
    assert framer.feed(b"\xaa\x2c" + bytes(400)) == []
    assert framer.rejected == {"checksum": 0, "syntax": 1}
