"""Tests of sensord.formats.lines: frames out of arbitrarily chunked bytes, bounded memory."""

from __future__ import annotations

import tomllib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sensord.formats import FORMATS, codec_for, lines
from sensord.formats.base import FormatSpec
from sensord.formats.lines import LineFramer
from sensord.schema_fields import decode_escapes


def pending(framer: LineFramer) -> int:
    """The bytes the framer holds back while waiting for the rest of a frame."""
    return len(framer._buffer)


def feed_all(framer: LineFramer, chunks: list[bytes]) -> list[bytes]:
    frames: list[bytes] = []
    for chunk in chunks:
        frames.extend(framer.feed(chunk))
    return frames


def reference_frames(
    data: bytes, terminator: bytes, max_frame_bytes: int
) -> tuple[list[bytes], int]:
    """The framing rules applied to the whole stream at once: frames and overlong count."""
    *complete, pending = data.split(terminator)
    frames: list[bytes] = []
    overlong = 0
    for part in complete:
        if len(part) > max_frame_bytes:
            overlong += 1
            continue
        frame = part[:-1] if terminator == b"\n" and part.endswith(b"\r") else part
        if frame:
            frames.append(frame)
    # A pending partial frame is known to be overlong once it is longer than the limit plus a
    # possible terminator prefix at its end.
    if len(pending) > max_frame_bytes + len(terminator) - 1:
        overlong += 1
    return frames, overlong


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(data)) for c in cuts})
    chunks = []
    start = 0
    for point in points:
        chunks.append(data[start:point])
        start = point
    chunks.append(data[start:])
    return chunks


# -- plain cases ---------------------------------------------------------------------------------


def test_splits_lines_and_counts_frames() -> None:
    framer = LineFramer()
    assert framer.feed(b"21.5\n22.0\n") == [b"21.5", b"22.0"]
    assert framer.frames == 2
    assert framer.overlong == 0
    assert pending(framer) == 0


def test_frame_split_over_chunks_is_joined() -> None:
    framer = LineFramer()
    assert framer.feed(b"T=2") == []
    assert pending(framer) == 3
    assert framer.feed(b"1.") == []
    assert framer.feed(b"5\nH=4") == [b"T=21.5"]
    assert framer.feed(b"0\n") == [b"H=40"]
    assert framer.frames == 2


def test_crlf_device_with_newline_terminator() -> None:
    framer = LineFramer(b"\n")
    assert framer.feed(b"a\r\nb\r") == [b"a"]
    assert framer.feed(b"\n\r\n\r\nc\r\n") == [b"b", b"c"]
    assert framer.frames == 3


def test_empty_frames_are_skipped() -> None:
    framer = LineFramer()
    assert framer.feed(b"\n\n\nx\n\n") == [b"x"]
    assert framer.frames == 1


def test_only_one_trailing_cr_is_stripped_and_only_for_newline() -> None:
    assert LineFramer(b"\n").feed(b"a\r\r\n") == [b"a\r"]
    assert LineFramer(b"\x03").feed(b"a\r\x03") == [b"a\r"]


def test_crlf_terminator_split_across_chunks() -> None:
    framer = LineFramer(b"\r\n")
    assert framer.feed(b"abc\r") == []
    assert framer.feed(b"\ndef\r\nx\ry\r") == [b"abc", b"def"]
    assert framer.feed(b"\n") == [b"x\ry"]
    assert framer.frames == 3


def test_etx_terminator() -> None:
    framer = LineFramer(b"\x03")
    assert framer.feed(b"\x0212.5\x03\x0213.0") == [b"\x0212.5"]
    assert framer.feed(b"\x03") == [b"\x0213.0"]


def test_long_terminator_split_in_three() -> None:
    framer = LineFramer(b"<END>")
    assert feed_all(framer, [b"one<E", b"N", b"D>two<END", b">"]) == [b"one", b"two"]


def test_reset_forgets_partial_frame_but_keeps_counters() -> None:
    framer = LineFramer()
    framer.feed(b"a\nhalf-a-fra")
    framer.reset()
    assert pending(framer) == 0
    assert framer.feed(b"me\nb\n") == [b"me", b"b"]
    assert framer.frames == 3


def test_at_the_end_of_the_stream_a_partial_line_is_skipped_bytes_not_a_frame() -> None:
    framer = LineFramer()
    assert framer.feed(b"21.5\r\n22.") == [b"21.5"]
    assert framer.flush() == []  # "22." may be 22.7 cut short
    assert (pending(framer), framer.frames, framer.skipped_bytes) == (0, 1, 3)
    discarding = LineFramer(max_frame_bytes=4)
    discarding.feed(b"0123456789\r")
    assert discarding.flush() == []
    assert (discarding.overlong, discarding.skipped_bytes) == (1, 0)  # counted once, overlong


def test_reset_ends_discarding() -> None:
    framer = LineFramer(max_frame_bytes=4)
    framer.feed(b"0123456789")
    assert framer.overlong == 1
    framer.reset()
    assert framer.feed(b"ok\n") == [b"ok"]


@pytest.mark.parametrize(("terminator", "max_frame_bytes"), [(b"", 10), (b"\n", 0), (b"\n", -1)])
def test_rejects_bad_arguments(terminator: bytes, max_frame_bytes: int) -> None:
    with pytest.raises(ValueError, match=r"terminator|max_frame_bytes"):
        LineFramer(terminator, max_frame_bytes)


# -- overlong frames -----------------------------------------------------------------------------


def test_nul_stays_in_a_frame_unless_the_framer_strips_padding() -> None:
    data = b"23.5\0\0\r\n\x0023.6\r\n\0\0\r\n2\x003\r\n"
    plain = LineFramer(b"\r\n", 16)
    assert plain.feed(data) == [b"23.5\0\0", b"\x0023.6", b"\0\0", b"2\x003"]
    assert plain.skipped_bytes == 0
    padded = LineFramer(b"\r\n", 16, strip_nul=True)
    assert padded.feed(data) == [b"23.5", b"23.6", b"2\x003"]  # a NUL inside stays
    assert (padded.frames, padded.skipped_bytes) == (3, 5)


def test_nul_padding_before_a_cr_is_stripped_with_the_cr() -> None:
    framer = LineFramer(b"\n", 16, strip_nul=True)
    assert framer.feed(b"7.00\0\0\0\r\n\r\n") == [b"7.00"]
    assert framer.skipped_bytes == 3


def test_frame_of_exactly_max_bytes_is_kept_one_more_is_dropped() -> None:
    framer = LineFramer(max_frame_bytes=5)
    assert framer.feed(b"12345\n123456\nok\n") == [b"12345", b"ok"]
    assert framer.overlong == 1
    assert framer.frames == 2


def test_cr_counts_towards_the_limit() -> None:
    framer = LineFramer(max_frame_bytes=5)
    assert framer.feed(b"12345\r\n1234\r\n") == [b"1234"]
    assert framer.overlong == 1


@pytest.mark.parametrize("chunk_size", [1, 7, 64, 511, 512, 513, 4096, 100_000])
def test_ten_kilobyte_line_between_good_lines(chunk_size: int) -> None:
    data = b"first\r\n" + b"x" * 10_000 + b"\r\nsecond\r\n" + b"y" * 600 + b"\r\nthird\r\n"
    framer = LineFramer(b"\n", max_frame_bytes=512)
    frames: list[bytes] = []
    most_pending = 0
    for start in range(0, len(data), chunk_size):
        frames.extend(framer.feed(data[start : start + chunk_size]))
        most_pending = max(most_pending, pending(framer))
    assert frames == [b"first", b"second", b"third"]
    assert framer.overlong == 2
    assert framer.frames == 3
    assert most_pending <= 512


def test_overlong_without_terminator_counted_once_and_resyncs() -> None:
    framer = LineFramer(b"\r\n", max_frame_bytes=8)
    for _ in range(100):
        assert framer.feed(b"zzzzzzzzzzzz\r") == []
        assert pending(framer) <= 1
    assert framer.overlong == 1
    assert framer.feed(b"\ngood\r\n") == [b"good"]
    assert framer.overlong == 1


@pytest.mark.parametrize("drop", ["reset", "drop_pending", "flush"])
def test_the_tail_of_an_overlong_line_dropped_is_not_counted_again_as_skipped(drop: str) -> None:
    """A line counted as overlong is dropped whole: the possible start of its terminator
    still pending (the CR of CR LF) is its byte, not a skipped one, whether the port is
    opened again, a poll request drops the pending bytes, or the stream ends."""
    framer = LineFramer(b"\r\n", max_frame_bytes=8)
    assert framer.feed(b"0123456789ABCDEF\r") == []
    assert (framer.overlong, pending(framer)) == (1, 1)
    getattr(framer, drop)()
    assert (framer.overlong, framer.skipped_bytes, pending(framer)) == (1, 0, 0)
    assert framer.feed(b"good\r\n") == [b"good"]


def test_overlong_partial_then_terminator_in_next_chunk() -> None:
    framer = LineFramer(b"\n", max_frame_bytes=4)
    assert framer.feed(b"ok\n0123") == [b"ok"]
    assert framer.feed(b"4") == []
    assert framer.overlong == 1
    assert framer.feed(b"56\nnext\n") == [b"next"]
    assert framer.overlong == 1


def test_complete_overlong_frames_in_one_chunk() -> None:
    framer = LineFramer(b"\x03", max_frame_bytes=3)
    assert framer.feed(b"aaaa\x03bb\x03cccccc\x03d\x03") == [b"bb", b"d"]
    assert framer.overlong == 2


# -- properties ----------------------------------------------------------------------------------

terminators = st.one_of(
    st.sampled_from([b"\n", b"\r\n", b"\x03", b"aa", b"aba", b"<END>"]),
    st.binary(min_size=1, max_size=3),
)


@st.composite
def streams(draw: st.DrawFn) -> tuple[bytes, bytes, int, list[int]]:
    terminator = draw(terminators)
    pieces = draw(
        st.lists(
            st.one_of(
                st.binary(max_size=30),
                st.sampled_from([terminator, b"\r", b"\r\n", b"a", b"b"]),
            ),
            max_size=40,
        )
    )
    data = b"".join(pieces)
    max_frame_bytes = draw(st.integers(min_value=1, max_value=24))
    cuts = draw(st.lists(st.integers(min_value=0, max_value=max(len(data), 1)), max_size=20))
    return data, terminator, max_frame_bytes, cuts


@settings(max_examples=300, deadline=None)
@given(streams())
def test_any_chunking_gives_the_whole_stream_result(
    stream: tuple[bytes, bytes, int, list[int]],
) -> None:
    data, terminator, max_frame_bytes, cuts = stream
    expected, expected_overlong = reference_frames(data, terminator, max_frame_bytes)

    framer = LineFramer(terminator, max_frame_bytes)
    frames: list[bytes] = []
    for chunk in split_at(data, cuts):
        frames.extend(framer.feed(chunk))
        assert pending(framer) <= max_frame_bytes + len(terminator)

    assert frames == expected
    assert framer.overlong == expected_overlong
    assert framer.frames == len(expected)
    for frame in frames:
        assert frame
        assert terminator not in frame
        assert len(frame) <= max_frame_bytes


@settings(max_examples=200, deadline=None)
@given(streams())
def test_byte_at_a_time_equals_one_chunk(stream: tuple[bytes, bytes, int, list[int]]) -> None:
    data, terminator, max_frame_bytes, _ = stream
    whole = LineFramer(terminator, max_frame_bytes)
    single = LineFramer(terminator, max_frame_bytes)
    one_chunk = whole.feed(data)
    by_byte = feed_all(single, [data[i : i + 1] for i in range(len(data))])
    assert by_byte == one_chunk
    assert (single.frames, single.overlong) == (whole.frames, whole.overlong)


@settings(max_examples=200, deadline=None)
@given(streams(), st.lists(st.integers(min_value=0, max_value=3), max_size=40))
def test_nul_padding_is_stripped_alike_however_the_stream_is_chunked(
    stream: tuple[bytes, bytes, int, list[int]], pads: list[int]
) -> None:
    data, terminator, max_frame_bytes, cuts = stream
    pieces = data.split(terminator)
    padded = terminator.join(
        piece + b"\0" * (pads[i] if i < len(pads) else 0) for i, piece in enumerate(pieces)
    )
    whole = LineFramer(terminator, max_frame_bytes, strip_nul=True)
    chunked = LineFramer(terminator, max_frame_bytes, strip_nul=True)
    one_chunk = whole.feed(padded)
    assert feed_all(chunked, split_at(padded, cuts)) == one_chunk
    assert (chunked.frames, chunked.skipped_bytes) == (whole.frames, whole.skipped_bytes)
    for frame in one_chunk:
        assert frame[:1] != b"\0"
        assert frame[-1:] != b"\0"


def test_every_line_codec_uses_the_terminator_framer() -> None:
    for name in FORMATS:
        if codec_for(name).binary:
            continue  # binary frames bring their own framer (test_formats_frames)
        if codec_for(name).block is not None:
            continue  # lines in checked blocks (test_blocks)
        framer = codec_for(name).framer(FormatSpec(name, (("t", "t"),)), b"\r\n", 16)
        assert isinstance(framer, LineFramer)
        # lines that start with "$", which NMEA needs (it skips a line without one)
        assert framer.feed(b"$1\r\n$2\r") == [b"$1"], name
        assert framer.feed(b"\n$" + b"3" * 16 + b"\r\n") == [b"$2"], name
        assert (framer.frames, framer.overlong) == (2, 1)


@given(st.binary(min_size=1, max_size=8))
def test_a_terminator_is_shown_as_the_toml_that_reads_it_back(terminator: bytes) -> None:
    """The stale hint shows a terminator as a TOML basic string's inside: pasted into the
    configuration, it reads back as the same bytes."""
    shown = lines._shown(terminator)
    assert shown.isascii()
    assert decode_escapes(tomllib.loads(f'terminator = "{shown}"')["terminator"]) == terminator
