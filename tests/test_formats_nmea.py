"""NMEA 0183 as receivers send it: noise and glued sentences on a line, sentences cut short,
every talker, and the addresses the parser does not use."""

from __future__ import annotations

import itertools
import struct
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, date, datetime
from fractions import Fraction
from functools import reduce
from operator import xor
from pathlib import Path
from typing import Any

import pytest
from harness.collector import RuntimesView
from harness.config import channel_toml, sensor_toml
from harness.pty import PtyPair
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs
from test_formats_blocks import hint_after_repeats

from sensord import cli
from sensord.capture import RX, Record, encode_capture
from sensord.config import parse_config
from sensord.config_sensor import SensorConfig
from sensord.errors import ParseError
from sensord.export import SensordCollector
from sensord.formats import codec_for
from sensord.formats import nmea as nmea_module
from sensord.formats.base import Decoder, DecoderCounts, FormatSpec
from sensord.formats.crc import crc24q
from sensord.formats.nmea_fields import NMEA_FIELDS
from sensord.formats.nmea_framer import NmeaFramer
from sensord.formats.nmea_satellites import _PENDING_GROUPS, SatelliteGroups
from sensord.sensor import SensorRuntime

# The GGA and RMC examples of the u-blox 8 / M8 receiver description (UBX-13003221).
UBLOX_GGA = b"$GPGGA,092725.00,4717.11399,N,00833.91590,E,1,08,1.01,499.6,M,48.0,M,,*5B"
UBLOX_RMC = b"$GPRMC,083559.00,A,4717.11437,N,00833.91522,E,0.004,77.52,091202,,,A*57"
# From the issue: a receiver whose output buffer overran.
GSA_NO_FIX = b"$GPGSA,A,1,,,,,,,,,,,,,,,*1E"
RMC_VOID = b"$GPRMC,235949.00,V,,,,,,,050180,,,N*71"


def nmea(body: str) -> bytes:
    """A sentence with a correct checksum."""
    return f"${body}*{reduce(xor, body.encode(), 0):02X}".encode()


#: The GGA of the epoch after UBLOX_GGA's: one decoder ignores a GGA that repeats the time of
#: the last one with a fix (a receiver that goes on sending its last fix).
UBLOX_GGA_NEXT = nmea("GPGGA,092726.00,4717.11399,N,00833.91590,E,1,08,1.01,499.6,M,48.0,M,,")
#: UBLOX_GGA's fix under the talker of a multi-constellation receiver.
UBLOX_GNGGA = nmea("GNGGA,092724.00,4717.11399,N,00833.91590,E,1,08,1.01,499.6,M,48.0,M,,")


def decoder(*fields: str) -> Decoder:
    spec = FormatSpec("nmea", tuple((f, f) for f in fields))
    codec = codec_for("nmea")
    assert codec.check(spec) == []
    return codec.decoder(spec)


def framer() -> NmeaFramer:
    spec = FormatSpec("nmea", (("a", "GGA.altitude"),))
    made = codec_for("nmea").framer(spec, b"\n", 512)
    assert isinstance(made, NmeaFramer)
    return made


def feed_in_pieces(cut: NmeaFramer, stream: bytes, sizes: list[int]) -> list[bytes]:
    """The frames of ``stream`` fed in pieces of ``sizes``, over and over to its end (in one
    piece when ``sizes`` is empty)."""
    frames: list[bytes] = []
    pieces = itertools.cycle(sizes or [len(stream)])
    at = 0
    while at < len(stream):
        size = next(pieces)
        frames += cut.feed(stream[at : at + size])
        at += size
    return frames


def reason(parse: Decoder, frame: bytes) -> str:
    with pytest.raises(ParseError) as caught:
        parse(frame)
    return caught.value.reason


# -- resync inside a line ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("noise", "skipped"),
    [
        (b"$", 1),  # a repeated start character: $$GPGGA
        (b"r", 1),  # one stray character
        (b"\x00\xb5b\x01\x07\xff", 6),  # binary bytes (the start of a UBX message)
        (b"$GPG", 4),  # a sentence cut short by the next one's start
        (b"!AIVD$", 6),
        # an NMEA 4.10 TAG block (source and UNIX time) that a multiplexer writes first
        (b"\\s:GPS1,c:1764930000*47\\", 24),
    ],
)
def test_noise_before_the_start_character_is_skipped_and_counted(
    noise: bytes, skipped: int
) -> None:
    cut = framer()
    assert cut.feed(noise + UBLOX_GGA + b"\r\n" + UBLOX_RMC + b"\r\n") == [UBLOX_GGA, UBLOX_RMC]
    assert cut.skipped_bytes == skipped
    assert cut.frames == 2
    parse = decoder("GGA.altitude")
    assert parse(UBLOX_GGA) == [("GGA.altitude", 499.6)]


def test_clean_lines_pass_unchanged_and_skip_nothing() -> None:
    cut = framer()
    stream = b"".join(s + b"\r\n" for s in (UBLOX_GGA, UBLOX_RMC, GSA_NO_FIX) * 50)
    frames = [f for i in range(0, len(stream), 61) for f in cut.feed(stream[i : i + 61])]
    assert frames == [UBLOX_GGA, UBLOX_RMC, GSA_NO_FIX] * 50
    assert (cut.frames, cut.skipped_bytes) == (150, 0)


def test_two_glued_sentences_are_both_passed_on() -> None:
    cut = framer()
    assert cut.feed(GSA_NO_FIX + RMC_VOID + b"\r\n") == [GSA_NO_FIX, RMC_VOID]
    assert (cut.frames, cut.skipped_bytes) == (2, 0)
    # noise between them is skipped; a bad first sentence is still passed on, to be rejected
    bad = UBLOX_GGA.replace(b"*5B", b"*5C")
    assert cut.feed(bad + b"\xff\xfe" + UBLOX_RMC + b"\n") == [bad, UBLOX_RMC]
    assert (cut.frames, cut.skipped_bytes) == (4, 2)
    parse = decoder("GGA.altitude", "RMC.speed")
    assert reason(parse, bad) == "checksum"
    assert parse(UBLOX_RMC) == [("RMC.speed", 0.004)]


@pytest.mark.parametrize("chunk", [1000, 7, 1], ids=["whole", "7-byte chunks", "bytewise"])
def test_a_line_without_start_character_is_skipped_not_rejected(chunk: int) -> None:
    """A line that holds no sentence (NUL filler, binary bytes, text without ``$``), short or
    past the line limit, is skipped bytes: no frame, no parse error; and a sentence after a
    long run of such bytes without a line break is still read."""
    stream = (
        b"\x00\x00\x00\x00\r\n"  # 4
        + b"garbage\n"  # 7
        + b"\xff" * 600  # 600: a line past the limit (its CR LF ends it)
        + b"\r\n"
        + UBLOX_GGA
        + b"\r\n"
        + b"\xfe" * 700  # 700, then the sentence on the same line
        + UBLOX_RMC
        + b"\r\n"
    )
    cut = framer()
    frames: list[bytes] = []
    for at in range(0, len(stream), chunk):
        frames += cut.feed(stream[at : at + chunk])
    assert frames == [UBLOX_GGA, UBLOX_RMC]
    assert (cut.frames, cut.overlong, cut.skipped_bytes) == (2, 0, 4 + 7 + 600 + 700)
    assert reason(decoder("GGA.altitude"), b"garbage") == "syntax"  # the decoder alone still says


def test_noise_between_sentences_yields_exactly_the_sentences() -> None:
    stream = b"$$" + UBLOX_GGA[1:] + b"\r\nr" + UBLOX_RMC + GSA_NO_FIX + b"\x80" + RMC_VOID + b"\n"
    assert framer().feed(stream) == [UBLOX_GGA, UBLOX_RMC, GSA_NO_FIX, RMC_VOID]


@pytest.mark.parametrize("noise", [b"%", b"X", b"r"])
@pytest.mark.parametrize("line", [0, 1, 2], ids=["first line", "second line", "last line"])
def test_a_stray_character_before_one_sentence_of_a_chunk_of_clean_lines_is_skipped(
    noise: bytes, line: int
) -> None:
    """A chunk of lines of one sentence each, one of which starts with a stray character:
    the sentences come out without it, whichever line it is on, and it is counted."""
    sentences = [UBLOX_GGA, UBLOX_RMC, GSA_NO_FIX]
    stream = b"".join((noise if i == line else b"") + s + b"\r\n" for i, s in enumerate(sentences))
    cut = framer()
    assert cut.feed(stream) == sentences
    assert (cut.frames, cut.overlong, cut.skipped_bytes) == (3, 0, len(noise))


@pytest.mark.parametrize("after", [b"\n", b"\n\n"], ids=["LF", "LF LF"])
def test_line_feeds_after_a_checksum_are_skipped_with_the_terminator_cr_lf(after: bytes) -> None:
    """With the terminator CR LF, a line feed is no line end: LFs between a sentence's
    checksum and its CR LF (a converter that ends lines with LF of its own) are bytes after
    the checksum, skipped, whether the line comes alone or with others."""
    cut = NmeaFramer(b"\r\n")
    assert cut.feed(UBLOX_GGA + after + b"\r\n") == [UBLOX_GGA]
    assert cut.feed(UBLOX_RMC + b"\r\n" + GSA_NO_FIX + after + b"\r\n") == [UBLOX_RMC, GSA_NO_FIX]
    assert (cut.frames, cut.overlong, cut.skipped_bytes) == (3, 0, 2 * len(after))


@pytest.mark.parametrize("after", [b"\x00\x00", b"junk", b" ", b"*47", b"\xff"])
@pytest.mark.parametrize("chunk", [1, 7, None], ids=["bytewise", "7", "whole"])
def test_bytes_after_the_checksum_of_a_lines_last_sentence_are_skipped(
    after: bytes, chunk: int | None
) -> None:
    """NUL padding or garbage after a line's last checksum: the sentence is read, the bytes
    after it are skipped, as they are after a sentence that another follows on its line."""
    stream = (
        UBLOX_GGA + after + b"\r\n"  # a line of one sentence
        + GSA_NO_FIX + UBLOX_RMC + after + b"\r\n"  # the last of two glued sentences
        + UBLOX_GGA_NEXT + after + b"\n"
    )  # fmt: skip
    cut = framer()
    size = chunk or len(stream)
    frames = [f for at in range(0, len(stream), size) for f in cut.feed(stream[at : at + size])]
    assert frames == [UBLOX_GGA, GSA_NO_FIX, UBLOX_RMC, UBLOX_GGA_NEXT]
    assert (cut.frames, cut.overlong, cut.skipped_bytes) == (4, 0, 3 * len(after))
    parse = decoder("GGA.altitude", "RMC.speed")
    assert [pair for frame in frames for pair in parse(frame)] == [
        ("GGA.altitude", 499.6),
        ("RMC.speed", 0.004),
        ("GGA.altitude", 499.6),
    ]


def test_a_last_piece_without_checksum_is_passed_as_it_is() -> None:
    """Only a whole checksummed sentence is cut out of a line's last piece: a piece without
    one (a sentence without checksum, one cut within its checksum, a bad checksum field) goes
    to the decoder as it is, and a wrong checksum stays a checksum error."""
    no_checksum = UBLOX_RMC.split(b"*")[0]
    cut_in_checksum = UBLOX_GGA[:-1]
    bad_field = UBLOX_GGA[:-2] + b"G5"
    wrong = UBLOX_GGA[:-2] + b"5C"
    cut = framer()
    stream = b"\r\n".join([no_checksum, cut_in_checksum, bad_field, wrong + b"\x00"]) + b"\r\n"
    assert cut.feed(stream) == [no_checksum, cut_in_checksum, bad_field, wrong]
    assert cut.skipped_bytes == 1
    parse = decoder("GGA.altitude", "RMC.speed")
    assert parse(no_checksum) == [("RMC.speed", 0.004)]
    assert reason(parse, cut_in_checksum) == "truncated"
    assert reason(parse, bad_field) == "syntax"
    assert reason(parse, wrong) == "checksum"


def test_a_sensor_reads_a_sentence_padded_after_its_checksum_without_parse_errors() -> None:
    config = parse_config(
        '[[sensors]]\nname = "gps"\nport = "sim://gps"\nformat = "nmea"\n'
        '  [[sensors.channels]]\n  name = "alt"\n  field = "GGA.altitude"\n'
    ).sensors[0]
    runtime = SensorRuntime(config)
    runtime.feed(UBLOX_GGA + b"\x00\x00\r\n" + UBLOX_GGA + b"junk\r\n")
    snapshot = runtime.snapshot()
    assert sum(snapshot.parse_errors.values()) == 0
    assert (snapshot.frames, snapshot.skipped_bytes) == (2, 6)
    values = {ch.name: ch.stats.reading.value for ch in snapshot.channels if ch.stats}
    assert values == {"alt": 499.6}


@pytest.mark.parametrize("chunk", [1000, 37, 1], ids=["whole", "37-byte chunks", "bytewise"])
def test_sentences_glued_past_the_line_limit_all_come_through(chunk: int) -> None:
    """Twenty sentences without line breaks, then ten ended by "\r" only (a device whose
    terminator is not the configured one): 1.5 KiB and more without a "\n", far past the
    512-byte line limit; every sentence is passed on, and nothing is skipped: each "\r" ends
    a line."""
    stream = UBLOX_GGA * 20 + (RMC_VOID + b"\r") * 10 + b"\n"
    cut = framer()
    frames: list[bytes] = []
    for at in range(0, len(stream), chunk):
        frames += cut.feed(stream[at : at + chunk])
    assert frames == [UBLOX_GGA] * 20 + [RMC_VOID] * 10
    assert cut.frames == 30
    assert cut.overlong == 0
    assert cut.skipped_bytes == 0


#: Sentences as a receiver sends them, one without checksum (complete: it is read), in eight
#: epochs, each GGA and RMC with its own time (two RMC an epoch, half a second apart).
RECEIVER_SENTENCES = [
    sentence
    for second in range(25, 33)
    for sentence in (
        nmea(f"GPGGA,0927{second}.00,4717.11399,N,00833.91590,E,1,08,1.01,499.6,M,48.0,M,,"),
        nmea(f"GPRMC,0927{second}.00,A,4717.11437,N,00833.91522,E,0.004,77.52,091202,,,A"),
        GSA_NO_FIX,
        RMC_VOID,
        f"$GNRMC,0927{second}.50,A,4717.11437,N,00833.91522,E,0.004,77.52,091202,,,A".encode(),
    )
]


@pytest.mark.parametrize("chunk", [1, 7, 64, None], ids=["bytewise", "7", "64", "whole"])
def test_lines_ended_by_cr_only_come_out_at_once_whatever_the_chunking(chunk: int | None) -> None:
    """A receiver (or converter) that ends its lines with "\r" only, the terminator "\n":
    each sentence comes out as soon as its "\r" is in, none is lost, nothing is skipped."""
    cut = framer()
    for sentence in RECEIVER_SENTENCES:
        data = sentence + b"\r"
        size = chunk or len(data)
        frames = [f for at in range(0, len(data), size) for f in cut.feed(data[at : at + size])]
        assert frames == [sentence]
    assert (cut.frames, cut.overlong, cut.skipped_bytes) == (len(RECEIVER_SENTENCES), 0, 0)
    parse = decoder("GGA.altitude", "RMC.speed")
    epoch = [("GGA.altitude", 499.6), ("RMC.speed", 0.004), ("RMC.speed", 0.004)]
    # the first sentence of the address without checksum is ignored (see
    # test_an_addresss_first_sentence_without_checksum_after_checksums_is_ignored)
    assert [pair for s in RECEIVER_SENTENCES for pair in parse(s)] == epoch[:2] + epoch * 7


@pytest.mark.parametrize("end", [b"\r\n", b"\r\r\n", b"\r"], ids=["CR LF", "CR CR LF", "CR"])
def test_every_line_end_gives_the_same_frames_for_every_chunking(end: bytes) -> None:
    """CR LF, CR CR LF (a converter adding its own CR) and CR alone: the same sentences, the
    same counters, whatever the chunking, a "\r" and its "\n" in two chunks included."""
    stream = b"".join(sentence + end for sentence in RECEIVER_SENTENCES)
    results = set()
    for size in (1, 2, 7, 64, len(stream)):
        cut = framer()
        frames = [f for at in range(0, len(stream), size) for f in cut.feed(stream[at : at + size])]
        results.add((tuple(frames), cut.frames, cut.overlong, cut.skipped_bytes))
    assert results == {(tuple(RECEIVER_SENTENCES), len(RECEIVER_SENTENCES), 0, 0)}


@pytest.mark.parametrize("chunk", [2000, 64, 7, 1])
def test_a_line_past_the_limit_without_a_sentence_is_still_overlong(chunk: int) -> None:
    """A piece too long for a sentence that its line end ends (no start character follows
    it) is overlong, counted once; its bytes are not skipped bytes."""
    stream = (
        b"$" + b"x" * 900 + b"\n" + UBLOX_GGA + b"\n" + b"!" + b"x" * 600 + b"\r\n" + UBLOX_RMC
    ) + b"\r\n"
    cut = framer()
    frames: list[bytes] = []
    for at in range(0, len(stream), chunk):
        frames += cut.feed(stream[at : at + chunk])
    assert frames == [UBLOX_GGA, UBLOX_RMC]
    assert (cut.frames, cut.overlong, cut.skipped_bytes) == (2, 2, 0)


#: Binary bytes such as RTCM3 or UBX payloads hold, but for line ends, start characters,
#: "*" and the UBX sync byte B5: 600 of them, more than max_frame_bytes (512).
BINARY_RUN = (bytes(b for b in range(256) if b not in b"\n\r$!*\xb5") * 3)[:600]


def binary_noise(kind: str) -> bytes:
    """A long binary run without a line end that holds a stray start character early."""
    if kind == "UBX past its cap":  # a RXM-RAWX frame with 4808 bytes of payload: just bytes
        return ubx(0x02, 0x15, (b"$" + BINARY_RUN) * 8)
    if kind == "UBX without its first sync byte":
        return ubx(0x02, 0x15, b"$" + BINARY_RUN)[1:]
    return kind.encode() + BINARY_RUN


@pytest.mark.parametrize("kind", ["$", "!", "UBX past its cap", "UBX without its first sync byte"])
def test_a_sentence_after_a_long_binary_run_with_a_stray_start_is_read(kind: str) -> None:
    """A "$" or "!" inside binary data (RTCM3, a UBX frame past the UBX cap or whose sync byte
    was lost) followed by more than max_frame_bytes without a line end: the framer resyncs at
    the next start character, not at the next line end (the sentence's own), so the sentence
    after the run is read; the run is skipped bytes, not overlong, for every chunking."""
    noise = binary_noise(kind)
    stream = UBLOX_RMC + b"\r\n" + noise + UBLOX_GGA + b"\r\n" + UBLOX_RMC + b"\r\n"
    results = set()
    for size in (1, 7, 64, len(stream)):
        cut = framer()
        frames = [f for at in range(0, len(stream), size) for f in cut.feed(stream[at : at + size])]
        results.add((tuple(frames), cut.frames, cut.overlong, cut.skipped_bytes))
    assert results == {((UBLOX_RMC, UBLOX_GGA, UBLOX_RMC), 3, 0, len(noise))}


@pytest.mark.parametrize("chunk", [1, 7, 64, None], ids=["bytewise", "7", "64", "whole"])
def test_a_sentence_followed_by_a_long_binary_run_is_read_and_so_is_the_next(
    chunk: int | None,
) -> None:
    """Binary bytes after a sentence's checksum, more than max_frame_bytes of them: the
    sentence is read, the bytes are skipped up to the next start character or line end."""
    stream = (
        UBLOX_GGA + BINARY_RUN + UBLOX_RMC + b"\r\n"  # the next sentence on the same line
        + UBLOX_GGA + BINARY_RUN + b"\r\n"  # the line end
        + GSA_NO_FIX + b"\r\n"
    )  # fmt: skip
    cut = framer()
    size = chunk or len(stream)
    frames = [f for at in range(0, len(stream), size) for f in cut.feed(stream[at : at + size])]
    assert frames == [UBLOX_GGA, UBLOX_RMC, UBLOX_GGA, GSA_NO_FIX]
    assert (cut.frames, cut.overlong, cut.skipped_bytes) == (4, 0, 2 * len(BINARY_RUN))


@pytest.mark.parametrize("terminator", [b"\n", b"\r\n"], ids=["LF", "CR LF"])
@pytest.mark.parametrize("how", ["reset", "flush"])
@pytest.mark.parametrize("first", [b"$", UBLOX_GGA], ids=["stray $", "sentence"])
def test_a_piece_being_dropped_is_counted_once_by_a_reset_and_at_the_end(
    terminator: bytes, how: str, first: bytes
) -> None:
    """A reconnect (``reset``, a poll request's ``drop_pending``) or the end of a replay
    (``flush``) in the middle of a piece too long for a sentence: the bytes of it not counted
    yet are skipped bytes, as those of a pending line are; none is counted twice or lost,
    whatever the chunking, and nothing of the piece is left to spoil the next line."""
    stream = UBLOX_RMC + terminator + first + BINARY_RUN
    sentences = [UBLOX_RMC] + ([UBLOX_GGA] if first == UBLOX_GGA else [])
    skipped = len(stream) - len(UBLOX_RMC + terminator) - sum(map(len, sentences[1:]))
    for size in (1, 7, 64, len(stream)):
        cut = NmeaFramer(terminator)
        frames = [f for at in range(0, len(stream), size) for f in cut.feed(stream[at : at + size])]
        if how == "flush":
            frames += cut.flush()
        else:
            cut.reset()
        assert frames == sentences, size
        assert (cut.frames, cut.skipped_bytes, cut.overlong) == (len(sentences), skipped, 0), size
        # a line without a sentence after it is one skipped byte, not the end of the piece
        assert cut.feed(b"x" + terminator + UBLOX_GGA + terminator) == [UBLOX_GGA]
        assert (cut.skipped_bytes, cut.overlong) == (skipped + 1, 0), size


@pytest.mark.parametrize("terminator", [b"\n", b"\r\n"], ids=["LF", "CR LF"])
@pytest.mark.parametrize("extra", [0, 1], ids=["max_frame_bytes", "a byte more"])
def test_a_piece_glued_to_a_sentence_is_a_frame_up_to_max_frame_bytes_however_it_comes(
    terminator: bytes, extra: int
) -> None:
    """A sentence without checksum glued to the one before it, on a framer whose
    max_frame_bytes is NMEA 0183's 82: when the pending bytes pass the limit before the line
    end comes (in a chunk of its own, or its CR LF split), the piece from the last start
    character stays pending while it is at most max_frame_bytes long and is passed on at its
    line end, as in a whole line; a byte longer, it is overlong."""
    limit = 82
    unchecked = (b"$GPTXT,01,01,02,ANTENNA OK" + b" " * limit)[: limit + extra]
    stream = UBLOX_GGA + unchecked + terminator
    glued = len(UBLOX_GGA + unchecked)
    results = set()
    for sizes in ([], [1], [7], [glued, len(terminator)], [glued + 1, 1]):
        cut = NmeaFramer(terminator, limit)
        frames = feed_in_pieces(cut, stream, sizes)
        results.add((tuple(frames), cut.frames, cut.overlong, cut.skipped_bytes))
    if extra:
        assert results == {((UBLOX_GGA,), 1, 1, 0)}
    else:
        assert results == {((UBLOX_GGA, unchecked), 2, 0, 0)}


@pytest.mark.parametrize("sizes", [[], [1], [7], [0]], ids=["whole", "bytewise", "7", "split"])
def test_a_sentence_with_a_noise_burst_past_max_frame_bytes_is_overlong_however_it_comes(
    sizes: list[int],
) -> None:
    """A burst of line noise inside a sentence (600 bytes between two of its fields) makes it
    longer than max_frame_bytes: it is overlong, also when its checksum has come by the time
    the pending bytes pass the limit (the line end in a chunk of its own); the sentences
    around it come through."""
    damaged = UBLOX_GGA[:30] + BINARY_RUN + UBLOX_GGA[30:]
    stream = UBLOX_RMC + b"\r\n" + damaged + b"\r\n" + GSA_NO_FIX + b"\r\n"
    if sizes == [0]:
        sizes = [len(UBLOX_RMC) + 2 + len(damaged), len(stream)]
    cut = framer()
    assert feed_in_pieces(cut, stream, sizes) == [UBLOX_RMC, GSA_NO_FIX]
    assert (cut.frames, cut.overlong, cut.skipped_bytes) == (2, 1, 0)


def pubx_svstatus(satellites: int) -> bytes:
    """A u-blox ``$PUBX,03`` (SVSTATUS: one entry of satellite number, status, azimuth,
    elevation, C/N0 and lock time a satellite, as a u-blox 8 or 9 sends it, BeiDou numbered
    from 201) listing ``satellites`` satellites, with its checksum."""
    entries = []
    for k in range(satellites):
        number_ = 201 + k if k % 3 == 2 else 1 + k
        status = "U-e"[k % 3]
        cno = "" if status == "-" else f"{25 + k % 20:02d}"
        entries.append(
            f"{number_},{status},{k * 37 % 360:03d},{k * 11 % 90:02d},{cno},{k % 65:03d}"
        )
    return nmea(f"PUBX,03,{satellites}," + ",".join(entries))


@pytest.mark.parametrize(
    ("terminator", "line_end"),
    [(b"\n", b"\r\n"), (b"\n", b"\n"), (b"\n", b"\r"), (b"\r\n", b"\r\n")],
    ids=["CR LF", "LF", "CR", "terminator CR LF"],
)
@pytest.mark.parametrize("after_ubx", [False, True], ids=["NMEA", "after a UBX frame"])
def test_a_pubx_svstatus_past_max_frame_bytes_is_ignored_and_costs_no_sentence(
    terminator: bytes, line_end: bytes, after_ubx: bool
) -> None:
    """A u-blox receiver told to send ``$PUBX,03`` lists every satellite it tracks in it: 32
    of them make it longer than max_frame_bytes (512; NMEA 0183's 82 is for the standard's
    sentences). No channel reads a proprietary sentence: whole, its checksum holding, it is
    an ignored frame, not ``overlong`` (a parse error every second), whatever the chunking,
    its line end, a UBX frame before it (UBX-NAV-PVT, taken out as ever) or none, or glued
    to the next sentence, its line end lost; the sentences around it are read. One that a
    damaged byte spoils is ``overlong`` still, and so is one cut before its checksum."""
    pubx = pubx_svstatus(32)
    assert len(pubx) > 512
    before = ubx(0x01, 0x07, bytes(range(92))) if after_ubx else b""

    def cut_all(middle: bytes) -> set[tuple[tuple[bytes, ...], int, int, int, int]]:
        stream = UBLOX_GGA + line_end + before + middle + UBLOX_RMC + line_end
        results = set()
        for sizes in ([], [1], [7], [64], [300], [len(UBLOX_GGA) + 2 + len(pubx), 1]):
            cut = NmeaFramer(terminator)
            frames = feed_in_pieces(cut, stream, sizes)
            results.add((tuple(frames), cut.frames, cut.overlong, cut.ignored, cut.skipped_bytes))
        return results

    around, skipped = (UBLOX_GGA, UBLOX_RMC), len(before)
    assert cut_all(pubx + line_end) == {(around, 2, 0, 1, skipped)}
    assert cut_all(pubx) == {(around, 2, 0, 1, skipped)}  # glued to the next sentence
    damaged = pubx.replace(b",U,", b",u,", 1)
    assert cut_all(damaged + line_end) == {(around, 2, 1, 0, skipped)}
    assert cut_all(pubx[:-3] + line_end) == {(around, 2, 1, 0, skipped)}


@pytest.mark.parametrize("chunk", [1, 7, 64, 0], ids=["bytewise", "7", "64", "whole"])
def test_binary_bytes_past_max_frame_bytes_are_skipped_once_with_the_terminator_cr_lf(
    chunk: int,
) -> None:
    """With the terminator CR LF, binary bytes without a start character or line end, more
    than max_frame_bytes of them (a run of RTCM 3 data whose frame failed its CRC): they are
    skipped as they come but for the last byte, which may be the CR of the line end; each is
    counted once, and the line end after them still ends the line."""
    stream = UBLOX_RMC + b"\r\n" + BINARY_RUN + b"\r\n" + UBLOX_GGA + b"\r\n"
    cut = NmeaFramer(b"\r\n")
    assert feed_in_pieces(cut, stream, [chunk] if chunk else []) == [UBLOX_RMC, UBLOX_GGA]
    assert (cut.frames, cut.overlong, cut.skipped_bytes) == (2, 0, len(BINARY_RUN))


@pytest.mark.parametrize("last", [b"", UBLOX_RMC], ids=["at the line end", "in a sentence"])
@pytest.mark.parametrize("sizes", [[], [1], [7], [0]], ids=["whole", "bytewise", "7", "split"])
def test_a_replay_ending_after_a_dropped_run_of_binary_bytes_gives_every_sentence(
    last: bytes, sizes: list[int]
) -> None:
    """A capture that ends behind a sentence followed by more than max_frame_bytes of binary
    bytes and their line end, or behind the next sentence, which has no line end: ``flush``
    passes on that sentence, the counters are those of the whole stream, and the framer then
    reads on as a new one, whatever the chunking (the line end in a chunk of its own
    included)."""
    stream = UBLOX_GGA + BINARY_RUN + b"\r\n" + last
    if sizes == [0]:
        sizes = [len(UBLOX_GGA + BINARY_RUN), 2, len(last) or 1]
    cut = framer()
    frames = feed_in_pieces(cut, stream, sizes)
    frames += cut.flush()
    sentences = [UBLOX_GGA, last] if last else [UBLOX_GGA]
    assert frames == sentences
    assert (cut.frames, cut.overlong, cut.skipped_bytes) == (len(sentences), 0, len(BINARY_RUN))
    assert cut.feed(b"\x00" + GSA_NO_FIX + b"\r\n") == [GSA_NO_FIX]
    assert (cut.frames, cut.skipped_bytes) == (len(sentences) + 1, len(BINARY_RUN) + 1)


SENTENCES = [
    UBLOX_GGA,
    UBLOX_RMC,
    GSA_NO_FIX,
    RMC_VOID,
    nmea("GNGGA,001043.00,4404.14036,N,12118.85961,W,1,12,0.98,1113.0,M,-21.3,M,,"),
    nmea("GLGSV,1,1,03,65,45,123,40,66,30,200,35,81,10,300,"),
    b"!AIVDM,1,1,,B,177KQJ5000G?tO`K>RA1wUbN0TKH,0*5C",
]
#: Noise on the wire, a few bytes or a long run: any bytes but the line ends ("\n", and "\r",
#: which ends an NMEA line too), the checksum delimiter (noise that holds a whole checksummed
#: sentence is a sentence), the first UBX sync byte and the RTCM 3 preamble (binary frames have
#: tests of their own); or noise that begins like a Hemisphere, Septentrio, NovAtel, Unicore,
#: SiRF, SkyTraq or CASIC binary message, whose random length field may claim the sentences
#: after it (a SkyTraq one of at most 87 bytes whatever its message ID, after ``A0 A1 00``), or
#: like a Trimble TSIP packet, which ends at a DLE ETX the noise may never hold: no noise holds
#: ETX (03), so no DLE ETX comes within a piece of noise or across two (a TSIP report 0x8F,
#: 0x13 or 0x1C has data of any length, and noise that a DLE ETX ended after one of those IDs
#: would be a whole packet, taken out with the line ends in it; see
#: test_a_tsip_superpacket_across_a_line_end_is_taken_whole).
NOISE = st.one_of(
    st.binary(max_size=12),
    # a stray start character in a long binary run (RTCM 3, a UBX frame past the UBX cap)
    st.tuples(st.sampled_from([b"$", b"!"]), st.binary(min_size=520, max_size=900)).map(b"".join),
).map(lambda b: b.translate(None, b"\n\r*\xb5\xd3\x03"))
NOISE = st.one_of(
    NOISE,
    st.tuples(
        st.sampled_from(
            [
                b"$BIN",
                b"$@",
                b"\xaa\x44\x12\x1c",
                b"\xaa\x44\xb5",
                b"\xa0\xa2",
                b"\xa0\xa1",
                b"\xa0\xa1\x00",
                b"\x10",
                b"\x10\x8f",
                b"\x10\x8f\xab",
                b"\x10\x47\x02",
                b"\x10\x6d",
                b"\x10\x41",
                b"\xba\xce",
                b"\xba\xce\x18\x00\x01\x10",
            ]
        ),
        NOISE,
    ).map(b"".join),
)
#: What ends a sentence: a line end of any kind, or nothing (the next one is glued to it).
ENDS = st.sampled_from([b"\r\n", b"\n", b"", b"\r", b"\r\r\n"])
#: Noise after a sentence's checksum, on its line: no start character (which would begin a
#: piece of its own).
AFTER = NOISE.map(lambda b: b.replace(b"$", b"").replace(b"!", b""))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(SENTENCES), NOISE, ENDS, AFTER),
        min_size=1,
        max_size=12,
    ),
    st.lists(st.integers(min_value=1, max_value=40), max_size=20),
)
def test_any_noise_around_sentences_yields_exactly_the_intact_sentences(
    items: list[tuple[bytes, bytes, bytes, bytes]], cuts: list[int]
) -> None:
    """Noise before a sentence, and after its checksum whatever ends it (the next sentence
    glued to it, or a line end), is skipped; the sentences come out whatever the chunking, as
    their bytes come, none from the end of the stream (``flush``), which counts the bytes of
    a binary candidate still waiting there."""
    stream = b"".join(noise + s + after + end for s, noise, end, after in items) + b"\n"
    cut = framer()
    frames = feed_in_pieces(cut, stream, cuts)
    sentences = [sentence for sentence, _, _, _ in items]
    assert frames == sentences
    assert cut.flush() == []
    assert cut.skipped_bytes == sum(len(noise) + len(after) for _, noise, _, after in items)
    parse = decoder("GGA.altitude", "RMC.speed", "GGA.satellites")
    readings = [pair for frame in frames for pair in parse(frame)]
    parse_sent = decoder("GGA.altitude", "RMC.speed", "GGA.satellites")  # its own GGA state
    assert readings == [pair for sentence in sentences for pair in parse_sent(sentence)]


def test_a_tsip_superpacket_across_a_line_end_is_taken_whole() -> None:
    """DLE 8F after a sentence's checksum, its line end, and noise that a DLE ETX ends: a TSIP
    superpacket of a subcode without a length of its own (0D), 166 bytes of data, the CR LF
    its first two, is a whole packet, as gpsd's packet.c passes every 0x8F packet whatever its
    length (its TSIP_RECOGNIZE state); it is taken out, its line end with it, and the
    sentences around it come. The noise of the property above holds no ETX, so that it never
    forms such a packet, whose bytes are no noise."""
    zeros = b"\x00" * 163
    packet = b"\x10\x8f\r\n$" + zeros + b"\x10\x03"
    assert len(packet) == 2 + 166 + 2
    stream = (
        (UBLOX_GGA + b"\r\n") * 5 + UBLOX_GGA + packet + b"\x00" * 355 + UBLOX_GGA + b"\r\n" + b"\n"
    )
    pieces: list[list[int]] = [[], [1], [7, 40], [600]]
    for cuts in pieces:
        cut = framer()
        assert feed_in_pieces(cut, stream, cuts) == [UBLOX_GGA] * 7, cuts
        assert cut.flush() == []
        assert cut.skipped_bytes == len(packet) + 355, cuts
        assert (cut.frames, cut.overlong) == (7, 0), cuts


# -- u-blox UBX frames between sentences ---------------------------------------------------------


def ubx(message_class: int, message_id: int, payload: bytes) -> bytes:
    """A UBX frame, its checksum computed as the u-blox receiver description writes it."""
    body = bytes((message_class, message_id)) + len(payload).to_bytes(2, "little") + payload
    ck_a = ck_b = 0
    for byte in body:
        ck_a = (ck_a + byte) & 0xFF
        ck_b = (ck_b + ck_a) & 0xFF
    return b"\xb5\x62" + body + bytes((ck_a, ck_b))


# UBX-ACK-ACK of a UBX-CFG-MSG (class 0x06, ID 0x01), the reply every u-blox receiver sends to
# a message rate change, as its receiver description prints it.
UBX_ACK = bytes.fromhex("b5620501020006010f38")
# A NAV-PVT-sized frame (class 0x01, ID 0x07, 92 bytes) whose payload holds line feeds, "$",
# "*" and a whole checksummed sentence's text, as binary payloads may.
UBX_PVT = ubx(
    0x01, 0x07, b"\x0a$\x00\r\n" + b"$GPGGA,1*5A\r\n" + bytes(range(0x20, 0x65)) + b"\n$*\xb5b"
)


def test_ubx_frames_between_sentences_are_skipped_whole() -> None:
    assert ubx(0x05, 0x01, b"\x06\x01") == UBX_ACK
    assert len(UBX_PVT) == 8 + 92
    stream = (
        UBLOX_RMC + b"\r\n" + UBX_PVT + UBLOX_GGA + b"\r\n" + UBX_ACK + UBX_PVT + GSA_NO_FIX
    ) + b"\r\n"
    for chunk in (len(stream), 7, 1):
        cut = framer()
        frames = [
            f for at in range(0, len(stream), chunk) for f in cut.feed(stream[at : at + chunk])
        ]
        assert frames == [UBLOX_RMC, UBLOX_GGA, GSA_NO_FIX], chunk
        assert cut.skipped_bytes == 2 * len(UBX_PVT) + len(UBX_ACK)
        assert (cut.frames, cut.overlong) == (3, 0)


def test_a_ubx_frame_failing_its_checksum_is_bytes_to_resync_over() -> None:
    damaged = UBX_ACK[:-1] + b"\x39"
    cut = framer()
    assert cut.feed(damaged + UBLOX_GGA + b"\r\n") == [UBLOX_GGA]
    assert cut.skipped_bytes == len(damaged)
    # a damaged frame whose payload holds a line break and "$": its pieces reach the decoder
    # as any bytes after a "$" at a line's start do
    bad = UBX_PVT[:-2] + bytes((UBX_PVT[-2] ^ 1, UBX_PVT[-1]))
    frames = cut.feed(bad + UBLOX_RMC + b"\r\n")
    assert frames[-1] == UBLOX_RMC
    assert b"$\x00" in frames
    # a sentence with a bad checksum is still a parse error
    assert reason(decoder("GGA.altitude"), UBLOX_GGA.replace(b"*5B", b"*5C")) == "checksum"


def test_sentences_after_a_cut_ubx_frame_come_at_once_and_once() -> None:
    """A frame cut short (a NAV-SAT of 308 bytes of which 50 came) claims more bytes than
    came: the sentences inside its claimed length are passed on as they come, and when that
    many bytes have come and the candidate fails its checksum they are not passed on again."""
    cut_short = ubx(0x01, 0x35, bytes(300))[:50]
    cut = framer()
    stream = UBLOX_RMC + b"\r\n" + cut_short + UBLOX_GGA + b"\r\n"
    assert cut.feed(stream) == [UBLOX_RMC, UBLOX_GGA]
    assert cut.feed((GSA_NO_FIX + b"\r\n") * 4) == [GSA_NO_FIX] * 4
    # the claimed end comes in the 7th GSA, which the line framer passes on
    assert cut.feed((GSA_NO_FIX + b"\r\n") * 4) == [GSA_NO_FIX] * 4
    assert (cut.frames, cut.skipped_bytes) == (10, 50)


#: A UBX-NAV-PVT frame (class 0x01, ID 0x07, 92 bytes) of a 3D fix with 12 satellites, its
#: fields in the order of the u-blox 8 / M8 receiver description; the payload holds no LF and
#: no start character, but one CR (its ground speed, 13 mm/s).
NAV_PVT = ubx(
    0x01,
    0x07,
    struct.pack(
        "<IH6BIi4B4i2I5i2IHB5BihH",
        *(379245000, 2024, 5, 17, 9, 27, 25, 0x37, 25, -123, 3, 0x01, 0xEA, 12),
        *(85265316, 472852433, 545400, 499600, 1200, 1800, -12, 5, 2, 13, 0, 150, 1800000),
        *(120, 0, 0, 0, 0, 0, 0, 0, 0, 0),
    ),
)


def junk(data: bytes) -> int:
    """How many of ``data``'s bytes are skipped bytes when they go to the line framer and hold
    no sentence (a damaged frame's): all but its CRs, each of which ends a line."""
    return len(data) - data.count(b"\r")


def flip_length_bit(frame: bytes, bit: int) -> bytes:
    """``frame`` with bit ``bit`` of its UBX length field flipped."""
    damaged = bytearray(frame)
    damaged[4 + bit // 8] ^= 1 << bit % 8
    return bytes(damaged)


def feed_timed(cut: NmeaFramer, stream: bytes, chunk: int) -> list[tuple[int, bytes]]:
    """The frames of ``stream`` fed in chunks of ``chunk`` bytes, each with the length of
    the stream fed when it came."""
    return [
        (min(at + chunk, len(stream)), frame)
        for at in range(0, len(stream), chunk)
        for frame in cut.feed(stream[at : at + chunk])
    ]


def sentences_with_line_ends(parts: list[bytes]) -> list[tuple[int, bytes]]:
    """The sentences among ``parts`` (those that end in a line break), each with the length of
    the stream up to its line end: the CR of a CR LF, with which the line ends already."""
    sentences: list[tuple[int, bytes]] = []
    at = 0
    for part in parts:
        if part.endswith(b"\n"):
            sentence = part.rstrip(b"\r\n")
            sentences.append((at + len(sentence) + 1, sentence))
        at += len(part)
    return sentences


@pytest.mark.parametrize("bit", [8, 11, 12, 13])
@pytest.mark.parametrize("chunk", [1, 7, 64, 0], ids=["bytewise", "7", "64", "whole"])
def test_sentences_after_a_ubx_frame_with_a_damaged_length_come_at_once(
    bit: int, chunk: int
) -> None:
    """A NAV-PVT whose length field has one bit flipped claims 348, 2140, 4188 or 8284 bytes
    (all within the bound, which RXM-RAWX needs): the GGA and RMC sentences after it come each
    in the chunk that brings its line end (its CR), not once the claimed length is in; the frames
    inside the claimed length are taken out when it has failed."""
    damaged = flip_length_bit(NAV_PVT, bit)
    parts = [damaged]
    for second in range(60):
        time = f"09{27 + second // 60:02d}{second % 60:02d}.00"
        gga = nmea(f"GNGGA,{time},4717.11399,N,00833.91590,E,1,08,1.01,499.6,M,48.0,M,,")
        rmc = nmea(f"GNRMC,{time},A,4717.11437,N,00833.91522,E,0.004,77.52,170524,,,A")
        parts += [gga + b"\r\n", rmc + b"\r\n", UBX_ACK]
    stream = b"".join(parts)
    assert len(stream) > 8 + (92 ^ 1 << bit)
    cut = framer()
    timed = feed_timed(cut, stream, chunk or len(stream))
    expected = sentences_with_line_ends(parts)
    assert [frame for _, frame in timed] == [frame for _, frame in expected]
    for (came_at, _), (line_end, _) in zip(timed, expected, strict=True):
        assert came_at - (chunk or len(stream)) < line_end <= came_at
    assert (cut.frames, cut.overlong) == (120, 0)
    assert cut.skipped_bytes == junk(damaged) + 60 * len(UBX_ACK)


def test_a_ubx_frame_whose_payload_holds_start_characters_and_line_breaks_is_taken_whole() -> None:
    """A valid frame is taken out whole however its bytes come: text in its payload is no
    sentence unless it is a whole one, line end included, with a matching checksum. Such a
    sentence is passed on (its bytes are not the frame's skipped bytes), and the frame is
    still taken out."""
    payload = b"$GPTXT,01*00\r\n\n$\r\n!AB*\n" + UBLOX_GGA[:-1] + b"C\r\n" + bytes(40)
    frame = ubx(0x02, 0x13, payload)
    stream = UBLOX_RMC + b"\r\n" + frame + UBLOX_GGA + b"\r\n"
    for chunk in (1, 7, 64, len(stream)):
        cut = framer()
        frames = [f for _, f in feed_timed(cut, stream, chunk)]
        assert frames == [UBLOX_RMC, UBLOX_GGA], chunk
        assert cut.skipped_bytes == len(frame), chunk
    text = nmea("GPTXT,01,01,02,u-blox AG - www.u-blox.com")
    frame = ubx(0x02, 0x13, b"\x00\n" + text + b"\r\n\x00")
    stream = frame + UBLOX_GGA + b"\r\n"
    for chunk in (1, 7, len(stream)):
        cut = framer()
        assert [f for _, f in feed_timed(cut, stream, chunk)] == [text, UBLOX_GGA], chunk
        assert cut.skipped_bytes == len(frame) - len(text) - 2, chunk


@pytest.mark.parametrize("chunk", [1, 7, 64, 0], ids=["bytewise", "7", "64", "whole"])
def test_a_damaged_ubx_frame_holding_a_cr_is_skipped_whole_with_the_terminator_cr_lf(
    chunk: int,
) -> None:
    """With the terminator CR LF a CR alone ends no line: every byte of a NAV-PVT that fails
    its checksum, the CR in its payload included, is a skipped byte, and the sentences around
    it come through."""
    damaged = NAV_PVT[:-1] + bytes((NAV_PVT[-1] ^ 1,))
    assert b"\r" in damaged
    assert b"\r\n" not in damaged
    stream = UBLOX_RMC + b"\r\n" + damaged + UBLOX_GGA + b"\r\n"
    cut = NmeaFramer(b"\r\n")
    frames = [f for _, f in feed_timed(cut, stream, chunk or len(stream))]
    assert frames == [UBLOX_RMC, UBLOX_GGA]
    assert (cut.frames, cut.overlong, cut.skipped_bytes) == (2, 0, len(damaged))


def rxm_rawx(measurements: int) -> bytes:
    """A UBX-RXM-RAWX frame (class 0x02, ID 0x15) of ``measurements`` 32-byte measurement
    blocks after its 16-byte header, laid out as the u-blox 8 / M8 receiver description
    gives it; its doubles put line feeds and "$" bytes in the payload."""
    header = struct.pack("<dHbBBB2x", 379245.0123, 2313, 18, measurements, 1, 1)
    blocks = b"".join(
        struct.pack(
            "<ddfBBBBHBBBBBx",
            *(2.1e7 + i * 1234.567, 1.1e8 + i * 6487.25, -1234.5 + i),
            *(i % 7, i % 32 + 1, 0, 0, 64500, 30 + i % 20, 3, 2, 5, 7),
        )
        for i in range(measurements)
    )
    return ubx(0x02, 0x15, header + blocks)


@pytest.mark.parametrize("chunk", [1, 7, 64, 0], ids=["bytewise", "7", "64", "whole"])
def test_a_rawx_frame_of_255_measurements_is_taken_whole(chunk: int) -> None:
    """RXM-RAWX grows by 32 bytes a measurement: 8176 payload bytes with 255, past a bound of
    4 KiB, within gpsd's 9216."""
    rawx = rxm_rawx(255)
    assert len(rawx) == 8 + 16 + 32 * 255
    assert b"\n" in rawx
    assert b"$" in rawx
    stream = UBLOX_GGA + b"\r\n" + rawx + UBLOX_RMC + b"\r\n" + rawx + GSA_NO_FIX + b"\r\n"
    cut = framer()
    frames = [f for _, f in feed_timed(cut, stream, chunk or len(stream))]
    assert frames == [UBLOX_GGA, UBLOX_RMC, GSA_NO_FIX]
    assert (cut.frames, cut.skipped_bytes, cut.overlong) == (3, 2 * len(rawx), 0)


#: A NAV-PVT whose length field claims 2140 bytes.
DAMAGED_PVT = flip_length_bit(NAV_PVT, 11)


@pytest.mark.parametrize("chunk", [1, 7, 0], ids=["bytewise", "7", "whole"])
def test_at_the_end_of_the_stream_the_held_bytes_give_their_sentences(chunk: int) -> None:
    """``flush``: a damaged frame that never completes fails. The sentences inside its claimed
    length that were not passed on at once (a sentence without checksum that no checked one
    follows) are passed on, a UBX frame inside it is taken out, and of the pending line, whose
    line end never came, the whole checksummed sentence; the rest is skipped. Nothing is held
    afterwards."""
    unchecked = UBLOX_GGA.split(b"*")[0]
    held = DAMAGED_PVT + UBX_ACK + UBLOX_GGA + b"\r\n" + unchecked + b"\r\n"
    stream = UBLOX_RMC + b"\r\n" + held + b"junk" + GSA_NO_FIX
    cut = framer()
    frames = [f for _, f in feed_timed(cut, stream, chunk or len(stream))]
    assert frames == [UBLOX_RMC, UBLOX_GGA]
    assert cut.flush() == [unchecked, GSA_NO_FIX]
    assert (cut.frames, cut.skipped_bytes) == (4, junk(DAMAGED_PVT) + len(UBX_ACK) + 4)
    assert cut.flush() == []
    assert cut.feed(UBLOX_RMC + b"\r\n") == [UBLOX_RMC]
    assert cut.skipped_bytes == junk(DAMAGED_PVT) + len(UBX_ACK) + 4


def test_reset_counts_the_held_and_pending_bytes_it_drops() -> None:
    """After a reconnect the bytes of a cut line and of a candidate that waited are skipped
    bytes, but for the sentence passed on from it already."""
    cut = framer()
    stream = UBLOX_RMC + b"\r\n$GPGGA,0927" + DAMAGED_PVT + UBLOX_GGA + b"\r\n\x00"
    assert cut.feed(stream) == [UBLOX_RMC, UBLOX_GGA]
    assert cut.skipped_bytes == 0
    cut.reset()
    assert cut.skipped_bytes == len(b"$GPGGA,0927") + len(DAMAGED_PVT) + 1
    assert cut.feed(GSA_NO_FIX + b"\r\n") == [GSA_NO_FIX]
    assert cut.frames == 3


#: What a reconnect (``reset``) or the end of a replay (``flush``) may cut, each after a
#: sentence and its line end: the bytes left over that are not frames.
CUT_BY_RESET = {
    "a line": b"$GPGGA,0927",
    "NUL filler": b"\x00" * 16,
    "a run of binary bytes after a sentence": UBLOX_GGA + BINARY_RUN,
    "a damaged frame": DAMAGED_PVT[:50],
}
#: What a receiver sends after a reconnect: a UBX frame first (the acknowledgement of the
#: configuration sent on connecting), or the tail of the sentence the reconnect cut; then a
#: line of filler, a sentence followed by a run of binary bytes, and a line cut short.
AFTER_RECONNECT = {
    "a UBX frame first": UBX_ACK,
    "a cut sentence first": UBLOX_GGA[40:] + b"\r\n",
}


@pytest.mark.parametrize("first", list(AFTER_RECONNECT))
@pytest.mark.parametrize("cut_off", list(CUT_BY_RESET))
@pytest.mark.parametrize("how", ["reset", "flush"])
def test_after_a_reset_or_a_flush_the_framer_reads_on_as_a_new_one(
    how: str, cut_off: str, first: str
) -> None:
    """The bytes that ``reset`` or ``flush`` cut off are counted once (the whole sentence
    before the binary run passed on at once); then the framer gives the frames and moves its
    counters at the same bytes as a new framer fed the same chunks, up to and including the
    next ``reset``."""
    left = CUT_BY_RESET[cut_off]
    after = (
        AFTER_RECONNECT[first]
        + UBLOX_GGA + b"\r\n"
        + b"\x00" * 8 + b"\r\n"
        + UBLOX_RMC + BINARY_RUN + b"\r\n"
        + GSA_NO_FIX + b"\r\n"
        + b"$GPGGA,09"
    )  # fmt: skip
    passed = [UBLOX_RMC, UBLOX_GGA] if left.startswith(UBLOX_GGA) else [UBLOX_RMC]
    dropped = len(left) - sum(map(len, passed[1:]))
    if how == "flush" and cut_off == "a damaged frame":
        dropped = junk(left)  # its CR ended a line when it went to the line framer
    for size in (len(after), 7, 1):
        used = framer()
        frames = used.feed(UBLOX_RMC + b"\r\n" + left)
        if how == "flush":
            frames += used.flush()
        else:
            used.reset()
        assert frames == passed
        assert (used.frames, used.skipped_bytes, used.overlong) == (len(passed), dropped, 0)
        new = framer()
        for at in range(0, len(after), size):
            chunk = after[at : at + size]
            assert used.feed(chunk) == new.feed(chunk), (size, at)
            counts = (used.frames - len(passed), used.skipped_bytes - dropped, used.overlong)
            assert counts == (new.frames, new.skipped_bytes, new.overlong), (size, at)
        used.reset()
        new.reset()
        counts = (used.frames - len(passed), used.skipped_bytes - dropped, used.overlong)
        assert counts == (new.frames, new.skipped_bytes, new.overlong), size


def test_a_finished_replay_gives_the_sentences_its_framer_held(tmp_path: Path) -> None:
    """A replayed capture that ends behind a damaged UBX frame: once the replay has finished,
    the sensor's next tick gives the sentence without checksum that waited behind it."""
    unchecked = nmea("GPGGA,092726.00,4717.11399,N,00833.91590,E,1,08,1.01,512.3,M,48.0,M,,")
    unchecked = unchecked.split(b"*")[0]
    records = [
        Record(RX, 0.0, UBLOX_GGA.split(b"*")[0] + b"\r\n"),
        Record(RX, 0.5, DAMAGED_PVT + unchecked + b"\r\n"),
    ]
    path = tmp_path / "gps.cap"
    path.write_bytes(encode_capture({"port": "/dev/ttyACM0", "format": "nmea"}, records))
    config = parse_config(
        f'[[sensors]]\nname = "gps"\nport = "replay://{path}"\nformat = "nmea"\n'
        "replay = { speed = 0 }\n"
        '  [[sensors.channels]]\n  name = "alt"\n  field = "GGA.altitude"\n'
    ).sensors[0]
    now = [1000.0]
    runtime = SensorRuntime(config, clock=lambda: now[0], wall_clock=lambda: now[0])
    assert runtime.try_open()
    try:
        source = runtime.source
        assert source is not None
        while not source.finished:
            runtime.feed(source.read())
        assert runtime.snapshot().frames == 1
        now[0] += 1.0
        runtime.tick(now[0])
        snapshot = runtime.snapshot()
        assert (snapshot.frames, snapshot.skipped_bytes) == (2, junk(DAMAGED_PVT))
        assert sum(snapshot.parse_errors.values()) == 0
        values = {ch.name: ch.stats.reading.value for ch in snapshot.channels if ch.stats}
        assert values == {"alt": 512.3}
        runtime.tick(now[0] + 1.0)
        assert runtime.snapshot().frames == 2
    finally:
        runtime.stop()


@pytest.mark.parametrize("first", [b"\xb5", b"\xd3"])
def test_only_a_chunk_holding_a_byte_b5_or_d3_is_searched(
    monkeypatch: pytest.MonkeyPatch, first: bytes
) -> None:
    def searched(self: NmeaFramer, chunk: bytes) -> list[bytes]:
        raise AssertionError(f"searched {chunk!r}")

    cut = framer()
    monkeypatch.setattr(NmeaFramer, "_feed_binary", searched)
    assert cut.feed(b"\x00\xff\xb4\xd2" + UBLOX_GGA + b"\r\n") == [UBLOX_GGA]
    with pytest.raises(AssertionError, match="searched"):
        cut.feed(first + UBLOX_GGA + b"\r\n")


def test_a_sensor_reads_sentences_between_ubx_frames_and_filler_without_parse_errors() -> None:
    config = parse_config(
        '[[sensors]]\nname = "gps"\nport = "sim://gps"\nformat = "nmea"\n'
        '  [[sensors.channels]]\n  name = "alt"\n  field = "GGA.altitude"\n'
    ).sensors[0]
    runtime = SensorRuntime(config)
    runtime.feed(UBX_PVT + UBLOX_GGA + b"\r\n\x00\x00\x00\x00\r\n" + UBX_ACK + UBLOX_GGA + b"\r\n")
    snapshot = runtime.snapshot()
    assert sum(snapshot.parse_errors.values()) == 0
    assert snapshot.frames == 2
    assert snapshot.skipped_bytes == len(UBX_PVT) + 4 + len(UBX_ACK)
    values = {ch.name: ch.stats.reading.value for ch in snapshot.channels if ch.stats}
    assert values == {"alt": 499.6}


def test_the_no_frame_hint_names_ubx_output_without_sentences() -> None:
    assert "UBX" in framer().no_frame_hint(UBX_PVT + UBX_ACK + UBX_PVT[:20])
    assert "serial settings" in framer().no_frame_hint(bytes(range(128, 256)))


#: The UBX message classes receivers send (gpsd 3.22's include/driver_ubx.h; pyubx2's
#: ubxtypes_core.py adds TRK 03, TUN 08, DBG 0C and NAV2 29): a frame of another class is
#: line noise to the framer.
UBX_CLASSES = [0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x08, 0x09, 0x0A, 0x0B, 0x0C, 0x0D]
UBX_CLASSES += [0x10, 0x13, 0x21, 0x27, 0x28, 0x29]


@st.composite
def ubx_frames(draw: st.DrawFn) -> bytes:
    payload = draw(st.binary(max_size=80) | st.sampled_from([b"\n$", b"*00\r\n$GP", b"\xb5b"]))
    return ubx(draw(st.sampled_from(UBX_CLASSES)), draw(st.integers(0, 255)), payload)


#: RTCM 3 message numbers receivers and casters send (RTCM 10403.3; RTKLIB's rtcm3.c): the
#: station, antenna and MSM messages, GLONASS biases, SSR, and proprietary ones (Unicore 4073,
#: Trimble 4094): a message of a number not assigned is line noise to the framer.
RTCM_NUMBERS = [1001, 1005, 1006, 1019, 1033, 1077, 1087, 1097, 1127, 1230, 1263, 4073, 4094]


@st.composite
def rtcm_frames(draw: st.DrawFn) -> bytes:
    """An RTCM 3 frame: a message too short to hold a message number (0 or 1 byte), or an
    assigned number and the rest of the message's first 2 bytes, then any bytes."""
    if draw(st.booleans()):
        return rtcm3(draw(st.binary(max_size=1)))
    number = draw(st.sampled_from(RTCM_NUMBERS)) << 4 | draw(st.integers(0, 15))
    message = draw(st.binary(max_size=80) | st.sampled_from([b"\n$", b"*00\r\n$GP", b"\xd3\x00"]))
    return rtcm3(number.to_bytes(2, "big") + message)


def binary_frames() -> st.SearchStrategy[bytes]:
    return ubx_frames() | rtcm_frames()


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(SENTENCES),
            st.lists(binary_frames(), max_size=2).map(b"".join),
            ENDS,
        ),
        min_size=1,
        max_size=10,
    ),
    st.lists(st.integers(min_value=1, max_value=60), max_size=20),
)
def test_sentences_between_binary_frames_all_come_through_whatever_the_chunking(
    items: list[tuple[bytes, bytes, bytes]], cuts: list[int]
) -> None:
    stream = b"".join(frames + sentence + end for sentence, frames, end in items) + b"\n"
    cut = framer()
    frames = feed_in_pieces(cut, stream, cuts)
    assert frames == [sentence for sentence, _, _ in items]
    assert cut.skipped_bytes == sum(len(binary) for _, binary, _ in items)
    assert cut.overlong == 0


def in_order(frames: list[bytes], sentences: list[bytes]) -> int:
    """How many of ``sentences``, from the first, come in ``frames`` in order (other frames
    between them allowed)."""
    remaining = iter(frames)
    return sum(1 for _ in itertools.takewhile(lambda s: s in remaining, sentences))


#: How a test damages a frame: not at all (None), in its checksum (-1), or in one bit of its
#: length field that makes it claim more bytes than it has: 256 to 2048 more for UBX, 64 to
#: 512 (bits 6 to 9 of its 10) for RTCM 3.
DAMAGE = st.sampled_from([None, -1, 8, 9, 10, 11])


def damaged(frame: bytes, damage: int | None) -> bytes:
    """``frame``, a UBX or RTCM 3 frame, damaged as :data:`DAMAGE` says."""
    if damage is None:
        return frame
    if damage == -1:
        return frame[:-1] + bytes((frame[-1] ^ 0x5A,))
    if frame[0] == 0xD3:
        bit = damage - 2  # of the length's 10 bits, in bytes 1 (high 2) and 2
        wrong = bytearray(frame)
        wrong[2 - bit // 8] ^= 1 << bit % 8
        return bytes(wrong)
    return flip_length_bit(frame, damage)


#: The line ends of receivers: CR LF, LF, CR alone, and CR CR LF (a converter adding a CR).
LINE_ENDS = st.sampled_from([b"\r\n", b"\n", b"\r", b"\r\r\n"])


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(SENTENCES), binary_frames(), DAMAGE, AFTER, LINE_ENDS),
        min_size=1,
        max_size=10,
    ),
    st.lists(st.integers(min_value=1, max_value=60), max_size=20),
)
def test_no_sentence_is_lost_or_late_after_a_damaged_binary_frame(
    items: list[tuple[bytes, bytes, int | None, bytes, bytes]], cuts: list[int]
) -> None:
    """Frames whose checksum fails are bytes: what their payloads hold may come out as frames
    of their own, but every sentence (bytes after its checksum or not, ended by a line end of
    any kind) comes through, in order, in the chunk that brings its line end (its first
    byte), also when a frame's damaged length claims the bytes that follow; and the frames
    and counts do not depend on the chunking."""
    stream = b""
    line_ends: list[int] = []
    for sentence, frame, damage, after, end in items:
        stream += damaged(frame, damage) + sentence + after
        line_ends.append(len(stream) + 1)
        stream += end
    whole = framer()
    expected = whole.feed(stream)
    sentences = [sentence for sentence, _, _, _, _ in items]
    assert in_order(expected, sentences) == len(items), expected
    cut = framer()
    frames: list[bytes] = []
    at = 0
    for size in [*cuts, len(stream)]:
        frames += cut.feed(stream[at : at + size])
        at = min(at + size, len(stream))
        assert in_order(frames, sentences) >= sum(1 for end in line_ends if end <= at), at
    assert frames == expected
    counts = (cut.frames, cut.skipped_bytes, cut.overlong)
    assert counts == (whole.frames, whole.skipped_bytes, whole.overlong)


# -- RTCM 3 frames between sentences -----------------------------------------------------------


def test_crc24q_gives_the_check_values_of_gpsd_and_of_the_crc_catalogue() -> None:
    """gpsd's tests/test_crc.c: the 7 bytes 21 21 22 00 00 00 00 carry the CRC 46 56 4F, and 10
    zero bytes check (a zero CRC over zeros); the CRC catalogue's CRC-24/LTE-A (the same
    polynomial 0x864CFB, initial value 0, no reflection, no final XOR), "123456789": 0xCDE703."""
    assert crc24q(bytes((33, 33, 34, 0, 0, 0, 0))) == 0x46564F
    assert crc24q(bytes(7)) == 0
    assert crc24q(b"123456789") == 0xCDE703


def bits(*fields: tuple[int, int]) -> bytes:
    """Fields given as (width in bits, value), packed most significant bit first, negative
    values in two's complement, padded with zero bits to whole bytes."""
    value = width = 0
    for size, field in fields:
        value = value << size | field & ((1 << size) - 1)
        width += size
    pad = -width % 8
    return (value << pad).to_bytes((width + pad) // 8, "big")


def rtcm3(message: bytes) -> bytes:
    """An RTCM 3 frame of ``message``: preamble D3, 6 zero bits and the 10-bit length, the
    message, and its CRC-24Q over all that, most significant byte first."""
    head = bytes((0xD3, len(message) >> 8, len(message) & 0xFF)) + message
    return head + crc24q(head).to_bytes(3, "big")


#: Message 1005, a reference station's antenna position (ECEF, 0.1 mm units), its data
#: fields in RTCM 10403's order: 152 bits, 19 bytes. Its values put no line break, start
#: character or other frame's first byte in it.
RTCM_1005 = rtcm3(
    bits(
        *((12, 1005), (12, 2004), (6, 0), (1, 1), (1, 1), (1, 0), (1, 0)),
        *((38, 41503871234), (1, 0), (1, 0), (38, 6356205678), (2, 0), (38, 48110001234)),
    )
)
#: A frame of message type 1077 (GPS MSM7, its first 12 bits) whose 300 bytes hold line feeds,
#: "$" and a sentence's text, as observation data may.
RTCM_1077 = rtcm3(
    bits((12, 1077), (12, 2003), (30, 379245000), (10, 0))
    + b"\n$GPGGA,1*5A\r\n\x00$"
    + bytes(i % 256 for i in range(276))
)


def test_rtcm3_frames_between_sentences_are_taken_whole() -> None:
    assert len(RTCM_1005) == 3 + 19 + 3
    assert not set(RTCM_1005[1:]) & set(b"\r\n$!\xb5\xd3")
    assert len(RTCM_1077) == 3 + 300 + 3
    stream = (
        (UBLOX_GGA + b"\r\n" + RTCM_1005 + RTCM_1077 + UBLOX_RMC + b"\r\n" + RTCM_1077)
        + GSA_NO_FIX
        + b"\r\n"
        + UBX_ACK
        + RTCM_1005
    )
    for chunk in (1, 7, 64, len(stream)):
        cut = framer()
        frames = [f for _, f in feed_timed(cut, stream, chunk)]
        assert frames == [UBLOX_GGA, UBLOX_RMC, GSA_NO_FIX], chunk
        rtcm = 2 * len(RTCM_1005) + 2 * len(RTCM_1077)
        assert (cut.frames, cut.skipped_bytes) == (3, rtcm + len(UBX_ACK)), chunk


def test_an_rtcm3_frame_failing_its_crc_is_bytes_and_a_cut_one_holds_no_sentence_back() -> None:
    """A frame whose CRC fails is bytes to resync over; a frame cut short (11 of its 306
    bytes came) claims the bytes of the sentences after it, which are passed on as they come
    and not again when the claimed length is in and its CRC fails: each as soon as its CR is
    in."""
    damaged_crc = RTCM_1005[:-1] + bytes((RTCM_1005[-1] ^ 1,))
    cut = framer()
    assert cut.feed(damaged_crc + UBLOX_GGA + b"\r\n") == [UBLOX_GGA]
    assert cut.skipped_bytes == len(damaged_crc)
    cut = framer()
    stream = RTCM_1077[:11] + (UBLOX_GGA + b"\r\n" + UBLOX_RMC + b"\r\n") * 3
    timed = feed_timed(cut, stream, 1)
    assert [frame for _, frame in timed] == [UBLOX_GGA, UBLOX_RMC] * 3
    line_ends = [at + 1 for at, byte in enumerate(stream) if byte == 0x0D]
    assert [came_at for came_at, _ in timed] == line_ends
    assert cut.skipped_bytes == 11


@pytest.mark.parametrize("end", [b"\r\n", b"\r", b"\r\r\n"], ids=["CR LF", "CR", "CR CR LF"])
def test_sentences_inside_a_cut_frame_come_as_soon_as_their_cr_is_in(end: bytes) -> None:
    """The sentences inside the claimed length of a frame cut short are lines as the line
    framer cuts them: each is passed on as soon as its CR is in, whatever its line end, and
    the frames and counters do not depend on the chunking (an LF after a CR that came last is
    the same line end)."""
    sentences = [UBLOX_GGA, UBLOX_RMC] * 3
    stream = RTCM_1077[:11]
    line_ends: list[int] = []
    for sentence in sentences:
        stream += sentence
        line_ends.append(len(stream) + 1)  # its CR
        stream += end
    assert len(stream) > len(RTCM_1077)  # the claimed length ends before the last sentences
    results = set()
    for chunk in (1, 2, 7, 64, len(stream)):
        cut = framer()
        timed = feed_timed(cut, stream, chunk)
        assert [frame for _, frame in timed] == sentences, chunk
        for came_at, line_end in zip([at for at, _ in timed], line_ends, strict=True):
            assert came_at - chunk < line_end <= came_at, chunk
        results.add((cut.frames, cut.skipped_bytes, cut.overlong))
    assert results == {(6, 11, 0)}


@pytest.mark.parametrize("after", [b"\x00\x00", b"junk", b"*47"])
def test_sentences_inside_a_cut_frame_are_cut_after_their_checksum_too(after: bytes) -> None:
    """Bytes after a sentence's checksum, inside the claimed length of a frame cut short: the
    sentence is passed on as soon as its line end is in, in its place among the others, and
    the bytes after its checksum are skipped bytes, as on a line of its own; the frames and
    counters do not depend on the chunking."""
    sentences = [UBLOX_GGA, UBLOX_RMC, GSA_NO_FIX] * 2
    stream = RTCM_1077[:11]
    line_ends: list[int] = []
    for n, sentence in enumerate(sentences):
        stream += sentence + (after if n % 2 == 0 else b"")
        line_ends.append(len(stream) + 1)
        stream += b"\r\n"
    results = set()
    for chunk in (1, 2, 7, 64, len(stream)):
        cut = framer()
        timed = feed_timed(cut, stream, chunk)
        assert [frame for _, frame in timed] == sentences, chunk
        for came_at, line_end in zip([at for at, _ in timed], line_ends, strict=True):
            assert came_at - chunk < line_end <= came_at, chunk
        results.add((cut.frames, cut.skipped_bytes, cut.overlong))
    assert results == {(6, 11 + 3 * len(after), 0)}


def test_a_sensor_reads_sentences_between_rtcm3_frames_without_parse_errors() -> None:
    config = parse_config(
        '[[sensors]]\nname = "gps"\nport = "sim://gps"\nformat = "nmea"\n'
        '  [[sensors.channels]]\n  name = "alt"\n  field = "GGA.altitude"\n'
    ).sensors[0]
    stream = (RTCM_1005 + RTCM_1077 + UBLOX_GGA + b"\r\n") * 3 + RTCM_1077
    for chunk in (1, 64, len(stream)):
        runtime = SensorRuntime(config)
        with capture_logs() as logs:
            for at in range(0, len(stream), chunk):
                runtime.feed(stream[at : at + chunk])
        snapshot = runtime.snapshot()
        assert sum(snapshot.parse_errors.values()) == 0, chunk
        assert not [e for e in logs if e["log_level"] == "warning"], chunk
        rtcm = len(stream) - 3 * len(UBLOX_GGA + b"\r\n")
        assert (snapshot.frames, snapshot.skipped_bytes) == (3, rtcm), chunk
        values = {ch.name: ch.stats.reading.value for ch in snapshot.channels if ch.stats}
        assert values == {"alt": 499.6}


def test_the_no_frame_hint_names_rtcm3_output_without_sentences() -> None:
    assert "RTCM 3" in framer().no_frame_hint(RTCM_1005 + RTCM_1077 + RTCM_1005[:5])


def test_the_no_frame_hints_for_ubx_and_rtcm3_output_are_given_whole() -> None:
    """The hints name what the device sends and what to set on the receiver."""
    assert framer().no_frame_hint(UBX_PVT + UBX_ACK + RTCM_1005) == (
        "the device sends u-blox UBX binary frames and no NMEA sentence: enable NMEA output on "
        "this port (UBX-CFG-PRT outProtoMask, or CFG-UART1OUTPROT-NMEA)"
    )
    assert framer().no_frame_hint(RTCM_1005 + RTCM_1077 + RTCM_1005[:5]) == (
        "the device sends RTCM 3 correction frames and no NMEA sentence: enable NMEA output on "
        "this port, or read the NMEA port of the receiver"
    )


#: The AIS sentences of an AIS receiver (gpsd's capture test/sample.aivdm and the AIVDO of an
#: own-ship report), each ended by CR LF.
AIS_LINES = [
    b"!AIVDM,1,1,,B,177KQJ5000G?tO`K>RA1wUbN0TKH,0*5C\r\n",
    b"!AIVDM,1,1,,A,13u?etPv2;0n:dDPwUM1U1Cb069D,0*24\r\n",
    b"!AIVDO,1,1,,,B3P7U0P0000D`kWiL3N@A3P5P000,0*31\r\n",
]


@pytest.mark.parametrize("split", [1, 2, 20, 47])
def test_ais_sentences_after_a_ubx_frame_with_a_damaged_length_come_at_once(split: int) -> None:
    """A port that carries a u-blox receiver's UBX frames and an AIS receiver's ``!``
    sentences: a NAV-PVT whose length field has a bit flipped (it claims 1124 bytes) holds a
    ``!`` byte followed by a binary one in its payload, no sentence, and the AIS sentences
    after it come inside its claimed length. A chunk that ends within the first of them
    gives nothing, and the next chunk, which brings its CR, gives them all: the search inside
    the frame resumes at the last start character, that of the sentence not all come yet,
    not past it because an earlier ``!`` is followed by a binary byte."""
    frame = flip_length_bit(ubx(0x01, 0x07, bytes(40) + b"!\x01" + bytes(50)), 10)
    stream = frame + b"".join(AIS_LINES * 4)
    assert len(stream) < 8 + (92 ^ 1 << 10)  # every sentence inside the claimed length
    sentences = [line.rstrip() for line in AIS_LINES * 4]
    assert framer().feed(stream) == sentences
    cut = framer()
    assert cut.feed(stream[: len(frame) + split]) == []
    assert cut.feed(stream[len(frame) + split :]) == sentences
    assert (cut.frames, cut.skipped_bytes) == (12, 0)


def test_a_ubx_frame_whose_checksum_ends_in_a_frames_first_byte_is_taken_once() -> None:
    """A NAV-PVT of a fix 0.37 m east of NAV_PVT's, whose checksum's second byte is ``D3``
    (an RTCM 3 preamble's value), read by itself at the end of a chunk, as a receiver's
    frame comes before the pause after it: the frame is taken out whole, its last byte not
    held back as the start of another frame and counted again with the next chunk."""
    payload = bytearray(NAV_PVT[6:-2])
    payload[24:28] = (85265316 + 49).to_bytes(4, "little", signed=True)  # lon, 1e-7 degrees
    frame = ubx(0x01, 0x07, bytes(payload))
    assert frame[-1] == 0xD3
    cut = framer()
    assert cut.feed(UBLOX_GGA + b"\r\n" + frame) == [UBLOX_GGA]
    assert cut.feed(b"\x00" + UBLOX_RMC + b"\r\n") == [UBLOX_RMC]
    assert (cut.frames, cut.skipped_bytes) == (2, len(frame) + 1)


@pytest.mark.parametrize("chunk", [1, 7, 0], ids=["bytewise", "7", "whole"])
def test_sentences_after_an_rtcm3_frame_that_lost_its_message_come_at_once(chunk: int) -> None:
    """A UART overrun loses an MSM7 (1077) frame's message and CRC after its 3-byte header
    and the 2 bytes that hold its message number, and claims 306 bytes: the GGA right after
    them, inside that length, comes in the chunk that brings its CR, as the sentences after
    it do (the search inside the frame starts after RTCM 3's preamble, not after the 6 bytes
    of UBX's header)."""
    parts = [RTCM_1077[:5], UBLOX_GGA + b"\r\n", UBLOX_RMC + b"\r\n", GSA_NO_FIX + b"\r\n"]
    stream = b"".join(parts)
    assert len(stream) < len(RTCM_1077)
    cut = framer()
    timed = feed_timed(cut, stream, chunk or len(stream))
    expected = sentences_with_line_ends(parts)
    assert [frame for _, frame in timed] == [frame for _, frame in expected]
    for (came_at, _), (line_end, _) in zip(timed, expected, strict=True):
        assert came_at - (chunk or len(stream)) < line_end <= came_at
    assert (cut.frames, cut.skipped_bytes) == (3, 0)
    assert cut.flush() == []
    assert (cut.frames, cut.skipped_bytes) == (3, 5)


def test_a_replay_ending_inside_a_damaged_frame_takes_the_whole_frames_after_it() -> None:
    """A replay that ends inside the claimed length of a NAV-PVT whose length field was
    damaged (it claims 348 bytes), after a GGA and a whole NAV-PVT: at the end of the stream
    the damaged frame fails, and the whole NAV-PVT after it is still taken out (its bytes,
    the CR of its ground speed too, counted as a frame's), not cut into lines."""
    damaged = flip_length_bit(NAV_PVT, 8)
    cut = framer()
    assert cut.feed(damaged + UBLOX_GGA + b"\r\n" + NAV_PVT) == [UBLOX_GGA]
    assert cut.flush() == []
    assert (cut.frames, cut.overlong) == (1, 0)
    assert cut.skipped_bytes == junk(damaged) + len(NAV_PVT)


@pytest.mark.parametrize("cut_at", [1, 2, 3, 5])
def test_a_replay_ending_inside_a_ubx_header_gives_its_bytes_as_skipped(cut_at: int) -> None:
    """A replay that ends within the 6-byte header of a NAV-PVT after a GGA: the end of the
    stream gives the header's bytes that came as skipped bytes, and the framer reads the
    next stream as a new one."""
    cut = framer()
    assert cut.feed(UBLOX_GGA + b"\r\n" + NAV_PVT[:cut_at]) == [UBLOX_GGA]
    assert cut.flush() == []
    assert (cut.frames, cut.skipped_bytes, cut.overlong) == (1, cut_at, 0)
    assert cut.feed(NAV_PVT + UBLOX_RMC + b"\r\n") == [UBLOX_RMC]
    assert (cut.frames, cut.skipped_bytes) == (2, cut_at + len(NAV_PVT))


def test_a_ubx_frame_of_the_capped_length_is_taken_whole() -> None:
    """A UBX frame whose payload is exactly the cap, 9216 bytes (an RXM-RAWX-sized frame
    holding a CR), is taken out whole, its CR too, not cut into lines."""
    frame = ubx(0x02, 0x15, bytes(100) + b"\r" + bytes(9115))
    cut = framer()
    assert cut.feed(UBLOX_GGA + b"\r\n" + frame + UBLOX_RMC + b"\r\n") == [UBLOX_GGA, UBLOX_RMC]
    assert cut.skipped_bytes == len(frame)


@pytest.mark.parametrize("chunk", [1, 7, 0], ids=["bytewise", "7", "whole"])
@pytest.mark.parametrize("length", [82, 83])
def test_a_sentence_inside_a_cut_frame_is_bound_by_max_frame_bytes(chunk: int, length: int) -> None:
    """With ``max_frame_bytes = 82``, NMEA 0183's bound, a u-blox TXT of 82 bytes inside the
    claimed length of an RTCM 3 frame cut short comes in the chunk that brings its CR, as on a
    line of its own; one of 83 bytes is not passed on from inside the frame, and when the
    stream ends the frame's bytes are lines in which it is ``overlong``, as on a line."""
    text = nmea("GPTXT,01,01,02,ANTSTATUS=OK " + "x" * (length - 32))
    assert len(text) == length
    parts = [RTCM_1077[:11], text + b"\r\n", UBLOX_GGA + b"\r\n"]
    stream = b"".join(parts)
    cut = codec_for("nmea").framer(FormatSpec("nmea", (("a", "GGA.altitude"),)), b"\n", 82)
    assert isinstance(cut, NmeaFramer)
    timed = feed_timed(cut, stream, chunk or len(stream))
    expected = [pair for pair in sentences_with_line_ends(parts) if len(pair[1]) <= 82]
    assert [frame for _, frame in timed] == [frame for _, frame in expected]
    for (came_at, _), (line_end, _) in zip(timed, expected, strict=True):
        assert came_at - (chunk or len(stream)) < line_end <= came_at
    assert cut.flush() == []
    assert (cut.overlong, cut.skipped_bytes) == (length - 82, 11)


@pytest.mark.parametrize("byte", [b"\x00", b"\t", b"\x7f"], ids=["NUL", "TAB", "DEL"])
def test_text_with_a_byte_no_sentence_holds_inside_a_ubx_frame_is_no_sentence(byte: bytes) -> None:
    """A UBX frame whose checksum holds and whose payload holds the text of a TXT sentence
    with a NUL, TAB or DEL byte before its ``*`` (binary data next to text), its checksum
    matching and its CR LF after it: printable text alone makes a sentence inside a frame,
    and the frame is taken out whole, no sentence passed on from it."""
    inner = nmea("GPTXT,01,01,02,u-blox AG" + byte.decode("latin-1"))
    frame = ubx(0x02, 0x13, bytes(8) + inner + b"\r\n" + bytes(8))
    stream = UBLOX_RMC + b"\r\n" + frame + UBLOX_GGA + b"\r\n"
    for chunk in (1, 7, len(stream)):
        cut = framer()
        assert [f for _, f in feed_timed(cut, stream, chunk)] == [UBLOX_RMC, UBLOX_GGA], chunk
        assert cut.skipped_bytes == len(frame), chunk


def test_binary_filler_past_max_frame_bytes_adds_to_the_skipped_bytes_before_it() -> None:
    """A run of binary filler without start character, longer than ``max_frame_bytes``, on a
    line of its own after noise that was skipped already: its bytes add to the skipped
    bytes counted before it."""
    cut = framer()
    assert cut.feed(b"junk" + UBLOX_GGA + b"\r\n") == [UBLOX_GGA]
    assert cut.skipped_bytes == 4
    assert cut.feed(b"\x00" * 600 + b"\n" + UBLOX_RMC + b"\r\n") == [UBLOX_RMC]
    assert (cut.skipped_bytes, cut.overlong) == (604, 0)


def test_an_overlong_sentence_padded_after_its_checksum_is_one_overlong_line() -> None:
    """With ``max_frame_bytes = 82``, a TXT of 83 bytes whose checksum NUL padding follows on
    its line: the line is ``overlong``, its padding no skipped bytes of its own, and the GGA
    after it is read."""
    cut = codec_for("nmea").framer(FormatSpec("nmea", (("a", "GGA.altitude"),)), b"\n", 82)
    text = nmea("GPTXT,01,01,02,ANTSTATUS=OK " + "x" * 51)
    assert len(text) == 83
    assert cut.feed(text + b"\x00\x00\r\n" + UBLOX_GGA + b"\r\n") == [UBLOX_GGA]
    assert (cut.frames, cut.overlong, cut.skipped_bytes) == (1, 1, 0)


# -- sentences cut short, talkers, addresses -----------------------------------------------------


def test_a_sentence_cut_short_without_checksum_is_truncated() -> None:
    parse = decoder("RMC.speed", "GGA.altitude")
    cut = b"$GNRMC,001053.00,A,4404.14083,N,12118.85886,W,0."
    assert reason(parse, cut) == "truncated"
    assert reason(parse, UBLOX_GGA.split(b",M,")[0]) == "truncated"
    # complete without checksum: read; an NMEA 2.0 RMC has no mode field and is complete
    assert parse(UBLOX_RMC.split(b"*")[0]) == [("RMC.speed", 0.004)]
    assert parse(b"$GPRMC,083600.00,A,4717.11437,N,00833.91522,E,0.004,77.52,091202,,") == [
        ("RMC.speed", 0.004)
    ]
    # cut short sentences of types no channel asks for are just not used
    assert decoder("GGA.altitude")(cut) == []


@pytest.mark.parametrize(
    "talker", ["GP", "GN", "GL", "GA", "GB", "BD", "GI", "GQ", "QZ", "IN", "HE", "AP", "II", "WI"]
)
def test_every_two_letter_talker_is_read(talker: str) -> None:
    parse = decoder("GGA.altitude")
    body = f"{talker}GGA,092725.00,4717.11399,N,00833.91590,E,1,08,1.01,499.6,M,48.0,M,,"
    assert parse(nmea(body)) == [("GGA.altitude", 499.6)]


@pytest.mark.parametrize(
    "frame",
    [
        b"$PUBX,00,081350.00,4717.113210,N,00833.915187,E,546.589,G3,2.1,2.0,0.007,77.52,0.007,"
        b",0.92,1.19,0.77,9,0,0*5F",
        b"$PMTK001,604,3*32",
        b"$PSRF151,01*0F",
        nmea("GYOACC,1.25"),
        b"$STI,IC,error=4",  # SkyTraq S2525F8-BD-RTK, gpsd's capture skytraq-err.log
        # a SkyTraq Venus 6's start-up text, gpsd's capture venus634lp.log
        b"$SkyTraq,Venus6",
        b"$Kernel,v1.4.23,000006FE,19324205,F,16.367667MHz",
        b"$ver,011023,rev,090210",
        nmea("SNRSTAT,2,44,41"),
        b"!AIVDM,1,1,,B,177KQJ5000G?tO`K>RA1wUbN0TKH,0*5C",
        b"!AIVDO,1,1,,,B3P7U0P0000D`kWiL3N@A3P5P000,0*31",
    ],
)
def test_proprietary_and_unknown_addresses_are_ignored(frame: bytes) -> None:
    assert decoder("GGA.altitude", "RMC.speed")(frame) == []


@pytest.mark.parametrize("cut", [b"$", b"$G", b"$GP", b"$GPGG", b"!AI"])
def test_a_line_cut_within_its_address_is_truncated(cut: bytes) -> None:
    """A sentence cut before its first field, as other sentences cut short, is ``truncated``;
    a short address followed by fields, or with a checksum, is not cut: ``syntax``."""
    parse = decoder("GGA.altitude")
    assert reason(parse, cut) == "truncated"
    assert reason(parse, cut + b",1") == "syntax"
    assert reason(parse, nmea(cut[1:].decode())) == "syntax"


def test_a_sensor_counts_a_line_cut_to_gp_as_truncated() -> None:
    config = parse_config(
        '[[sensors]]\nname = "gps"\nport = "sim://gps"\nformat = "nmea"\n'
        '  [[sensors.channels]]\n  name = "alt"\n  field = "GGA.altitude"\n'
    ).sensors[0]
    runtime = SensorRuntime(config)
    runtime.feed(b"$GP\r\n" + UBLOX_GGA + b"\r\n")
    snapshot = runtime.snapshot()
    assert {r: n for r, n in snapshot.parse_errors.items() if n} == {"truncated": 1}
    assert [ch.stats.reading.value for ch in snapshot.channels if ch.stats] == [499.6]


def test_short_or_odd_addresses_are_syntax_errors() -> None:
    parse = decoder("GGA.altitude")
    for body in ("GPGG,1", "", "GP-GGA,1", "GP GGA,1"):
        assert reason(parse, nmea(body)) == "syntax"


# -- the sentences GNSS users watch --------------------------------------------------------------

# The classic examples of the NMEA 0183 references (gpsd's "NMEA Revealed", SiRF's and
# NovAtel's manuals), checksums as published.
GSA = b"$GPGSA,A,3,04,05,,09,12,,,24,,,,,2.5,1.3,2.1*39"
GSA_410 = b"$GNGSA,A,3,80,71,73,79,69,,,,,,,,1.83,1.09,1.47,2*09"  # NMEA 4.10: system ID 2
VTG = b"$GPVTG,054.7,T,034.4,M,005.5,N,010.2,K*48"
GLL = b"$GPGLL,4916.45,N,12311.12,W,225444,A*31"
ZDA = b"$GPZDA,201530.00,04,07,2002,00,00*60"
GNS = b"$GNGNS,014035.00,4332.69262,S,17235.48549,E,RR,13,0.9,25.63,11.24,,*70"
GSV_GROUP = [
    b"$GPGSV,3,1,11,03,03,111,00,04,15,270,00,06,01,010,00,13,06,292,00*74",
    b"$GPGSV,3,2,11,14,25,170,00,16,57,208,39,18,67,296,40,19,40,246,00*74",
    b"$GPGSV,3,3,11,22,42,067,42,24,14,311,43,27,05,244,00,,,,*4D",
]


def test_gsa_fix_mode_dops_and_satellites_used() -> None:
    parse = decoder(
        "GSA.fix_mode", "GSA.satellites_used", "GSA.pdop", "GSA.hdop", "GSA.vdop", "GSA.used_gps"
    )
    assert dict(parse(GSA)) == {
        "GSA.fix_mode": 3.0,
        "GSA.satellites_used": 5.0,
        "GSA.pdop": 2.5,
        "GSA.hdop": 1.3,
        "GSA.vdop": 2.1,
        "GSA.used_gps": 5.0,  # by talker
    }
    # NMEA 4.10: the system ID names the constellation of a GN sentence
    assert dict(decoder("GSA.used_glonass", "GSA.used_gps")(GSA_410)) == {"GSA.used_glonass": 5.0}
    # without a fix: the mode and the count, no DOPs
    assert parse(GSA_NO_FIX) == [
        ("GSA.fix_mode", 1.0),
        ("GSA.satellites_used", 0.0),
        ("GSA.used_gps", 0.0),
    ]
    # unused satellite fields filled with zeros (pynmeagps writes them so): no satellite has
    # the number 0, they list none
    zeros = nmea("GPGSA,A,3,04,05,09,00,00,00,00,00,00,00,00,0,2.5,1.3,2.1")
    assert dict(decoder("GSA.satellites_used", "GSA.used_gps")(zeros)) == {
        "GSA.satellites_used": 3.0,
        "GSA.used_gps": 3.0,
    }


def test_an_empty_fix_quality_or_fix_mode_is_no_fix() -> None:
    """A null field is no value (NMEA 0183): an empty GGA fix quality or GSA mode is no fix,
    whatever position or DOPs the sentence carries (as the Typhoon MyGuide 3100 sends)."""
    gga = decoder("GGA.fix_quality", "GGA.satellites", "GGA.hdop", "GGA.latitude")
    assert gga(nmea("GPGGA,104958.80,5612.9999,N,00306.7096,W,,2,60.000,160.002,M,,M,,")) == [
        ("GGA.satellites", 2.0)
    ]
    gsa = decoder("GSA.fix_mode", "GSA.hdop", "GSA.satellites_used")
    assert gsa(nmea("GPGSA,A,,29,02,,,,,,,,,,,3.8,3.7,0.8")) == [("GSA.satellites_used", 2.0)]


def test_gga_of_manual_input_or_simulator_mode_gives_no_position_dead_reckoning_does() -> None:
    """GGA's fix qualities 7 (manual input: a position the user entered, a timing receiver's
    fixed position) and 8 (simulator mode) are no measurement: fix quality and satellites
    only, as without a fix. 6 (estimated, dead reckoning) is the receiver's estimate of
    where it is: read, its fix quality telling it apart. The sentences are in the form of
    NovAtel OEM7's GPGGA log (OEM7 Commands and Logs Reference Manual, GPGGA, whose quality
    table lists 6 estimated, 7 manual input, 8 simulator mode), values after its example,
    the quality field set to each value, checksums computed."""
    fields = ("GGA.fix_quality", "GGA.satellites", "GGA.latitude", "GGA.hdop", "GGA.altitude")

    def gga(quality: int) -> bytes:
        return nmea(
            f"GPGGA,202530.00,5109.0262,N,11401.8407,W,{quality},12,0.6,1097.36,M,-17.00,M,18,TSTR"
        )

    position = [
        ("GGA.latitude", pytest.approx(51 + 9.0262 / 60)),
        ("GGA.hdop", 0.6),
        ("GGA.altitude", 1097.36),
    ]
    for quality in (1, 2, 4, 5, 6):
        assert decoder(*fields)(gga(quality)) == [
            ("GGA.fix_quality", float(quality)),
            ("GGA.satellites", 12.0),
            *position,
        ], quality
    for quality in (0, 7, 8):
        assert decoder(*fields)(gga(quality)) == [
            ("GGA.fix_quality", float(quality)),
            ("GGA.satellites", 12.0),
        ], quality
    # a repeated GGA in simulator mode is no stale fix: read again, fix quality and satellites
    parse = decoder(*fields)
    assert parse(gga(8)) == parse(gga(8)) == [("GGA.fix_quality", 8.0), ("GGA.satellites", 12.0)]


def test_gsa_and_vtg_of_a_receiver_in_simulator_mode_give_no_fix_mode_dop_or_speed() -> None:
    """A Garmin in its demo mode sends, between an RMC and a GLL of mode S and a GGA of
    quality 8, a GSA of fix mode 3 with DOPs and a VTG without mode field: a simulated
    epoch, whose GSA gives its satellite counts only (as GGA's satellites are read at quality
    8) and whose VTG nothing. An epoch out of simulator mode has its GSA read whole."""
    fields = (
        "GSA.fix_mode",
        "GSA.satellites_used",
        "GSA.pdop",
        "GSA.hdop",
        "GSA.vdop",
        "GSA.used_gps",
        "VTG.speed_knots",
        "VTG.course",
        "GGA.fix_quality",
    )
    parse = decoder(*fields)
    # gpsd's capture test/daemon/GPSmap-76S.log, a Garmin GPSmap 76S in demo mode
    simulated = [
        b"$GPRMC,125106,V,3854.5087,N,07726.4523,W,0.0,0.0,241011,10.5,W,S*28",
        b"$GPGGA,125106,3854.5087,N,07726.4523,W,8,10,2.0,268.8,M,-33.9,M,,*7F",
        b"$GPGSA,A,3,03,07,08,11,13,16,19,23,24,28,,,3.6,2.0,3.0*3A",
        b"$GPGLL,3854.5087,N,07726.4523,W,125106,V,S*55",
        b"$GPVTG,0.0,T,10.5,M,0.0,N,0.0,K*7A",
    ]
    assert [parse(frame) for frame in simulated] == [
        [],
        [("GGA.fix_quality", 8.0)],
        [("GSA.satellites_used", 10.0), ("GSA.used_gps", 10.0)],
        [],
        [],
    ]
    # gpsd's capture test/daemon/garmin48.log, a Garmin GPS 48 with a fix
    real = [
        b"$GPRMC,225308,A,4527.458,S,16709.165,E,000.0,094.5,060601,024.1,E*6D",
        b"$GPGGA,225308,4527.458,S,16709.165,E,1,05,2.1,14.7,M,1.1,M,,*53",
        b"$GPGSA,A,3,01,,,,13,20,22,,,,28,,3.1,2.1,2.0*3A",
    ]
    assert [parse(frame) for frame in real][1:] == [
        [("GGA.fix_quality", 1.0)],
        [
            ("GSA.fix_mode", 3.0),
            ("GSA.satellites_used", 5.0),
            ("GSA.pdop", 3.1),
            ("GSA.hdop", 2.1),
            ("GSA.vdop", 2.0),
            ("GSA.used_gps", 5.0),
        ],
    ]


def test_a_gns_of_simulator_mode_makes_a_simulated_epoch_as_gga_does() -> None:
    """A receiver that sends GNS instead of GGA (NMEA 4.x receivers may send either), in
    simulator mode: a GNS whose mode indicators hold an ``S`` (for any constellation) makes
    the epoch simulated as a GGA of quality 8 does, so its GSA gives satellite counts only and
    its VTG nothing; a GNS of autonomous fixes ends it."""
    parse = decoder("GSA.fix_mode", "GSA.satellites_used", "GSA.pdop", "VTG.speed_knots")
    gsa = nmea("GNGSA,A,3,03,07,08,11,13,16,19,23,24,28,,,3.6,2.0,3.0,1")
    vtg = nmea("GNVTG,54.7,T,34.4,M,5.5,N,10.2,K")
    for modes in ("SS", "AS", "S"):
        assert (
            parse(nmea(f"GNGNS,125106.00,3854.5087,N,07726.4523,W,{modes},10,2.0,268.8,-33.9,,,V"))
            == []
        )
        assert parse(gsa) == [("GSA.satellites_used", 10.0)]
        assert parse(vtg) == []
    assert parse(nmea("GNGNS,125107.00,3854.5087,N,07726.4523,W,AA,10,2.0,268.8,-33.9,,,V")) == []
    assert parse(gsa) == [
        ("GSA.fix_mode", 3.0),
        ("GSA.satellites_used", 10.0),
        ("GSA.pdop", 3.6),
    ]
    assert parse(vtg) == [("VTG.speed_knots", 5.5)]


def test_a_simulated_epoch_s_sentence_cut_on_the_line_does_not_end_simulator_mode() -> None:
    """A Garmin in demo mode whose GGA or RMC is cut short on the line (its checksum lost
    with its tail, the quality or mode field with it): the damaged sentence tells nothing of
    the mode, so the next GSA still gives its satellite counts only, no fix mode nor DOP."""
    rmc = b"$GPRMC,125106,V,3854.5087,N,07726.4523,W,0.0,0.0,241011,10.5,W,S*28"
    gga = b"$GPGGA,125106,3854.5087,N,07726.4523,W,8,10,2.0,268.8,M,-33.9,M,,*7F"
    gsa = b"$GPGSA,A,3,03,07,08,11,13,16,19,23,24,28,,,3.6,2.0,3.0*3A"
    for cut in (gga[:34], rmc[:50]):
        parse = decoder(
            "GSA.fix_mode", "GSA.satellites_used", "GSA.pdop", "GGA.fix_quality", "RMC.speed"
        )
        assert parse(rmc) == []
        assert parse(gga) == [("GGA.fix_quality", 8.0)]
        with pytest.raises(ParseError) as caught:
            parse(cut)
        assert caught.value.reason == "truncated"
        assert parse(gsa) == [("GSA.satellites_used", 10.0)]


def test_a_dop_of_zero_is_no_dop() -> None:
    """A receiver that computes no DOP may write 0 in place of an empty field, with a 3D fix
    (a Jackson Labs Micro JLT GPSDO, u-blox 8 inside: every GSA ends ``0.00,0.00,0.00``, as
    gpsd's capture test/daemon/jl-micro-jlt.log shows; gpsd reports no DOP from them). No fix
    has a DOP of 0 (it is at least about 0.5 with every satellite of four constellations in
    view): the DOP is unknown, and is not reported; the sentence's other fields are."""
    gsa = decoder("GSA.fix_mode", "GSA.pdop", "GSA.hdop", "GSA.vdop", "GSA.used_gps")
    assert gsa(nmea("GNGSA,A,3,27,9,20,5,4,30,8,7,14,,,,0.00,0.00,0.00")) == [
        ("GSA.fix_mode", 3.0),
        ("GSA.used_gps", 9.0),
    ]
    assert gsa(nmea("GNGSA,A,3,27,9,20,5,,,,,,,,,0.0,0,0.0,1")) == [
        ("GSA.fix_mode", 3.0),
        ("GSA.used_gps", 4.0),
    ]
    hdop = ("GGA.hdop", "GNS.hdop")
    gga = nmea("GNGGA,012238.00,3454.4922,S,13835.7617,E,2,12,0.00,53.3,M,-3.5,M,,")
    gns = nmea("GNGNS,012238.00,3454.4922,S,13835.7617,E,AA,12,0.0,53.3,-3.5,,,V")
    assert decoder(*hdop, "GGA.altitude")(gga) == [("GGA.altitude", 53.3)]
    assert decoder(*hdop, "GNS.altitude")(gns) == [("GNS.altitude", 53.3)]
    # the smallest DOP written is read
    assert decoder("GSA.hdop")(nmea("GNGSA,A,3,27,9,20,5,,,,,,,,,0.9,0.01,0.9")) == [
        ("GSA.hdop", 0.01)
    ]


USED = ("GSA.used_gps", "GSA.used_glonass", "GSA.used_galileo", "GSA.used_beidou", "GSA.used_qzss")


def test_gn_gsa_without_system_id_counts_each_satellite_for_its_constellation() -> None:
    """NMEA 4.0 and earlier: one GN sentence per constellation and no system ID (the u-blox 8
    example above as its NMEA 4.0 output sends it); satellite numbers 65-96 are GLONASS."""
    parse = decoder(*USED, "GSA.satellites_used")
    gps = nmea("GNGSA,A,3,23,29,07,08,09,18,26,,,,,,1.94,1.18,1.54")
    glonass = nmea("GNGSA,A,3,65,67,80,,,,,,,,,,1.94,1.18,1.54")
    assert dict(parse(gps)) == {"GSA.used_gps": 7.0, "GSA.satellites_used": 7.0}
    assert dict(parse(glonass)) == {"GSA.used_glonass": 3.0, "GSA.satellites_used": 3.0}
    # one sentence of several constellations: each satellite counts for its own range, an
    # SBAS satellite (33-64, 120-158) for none
    mixed = nmea("GNGSA,A,3,05,71,193,205,305,405,46,133,,,,,1.5,0.9,1.2")
    assert dict(parse(mixed)) == {
        "GSA.used_gps": 1.0,
        "GSA.used_glonass": 1.0,
        "GSA.used_qzss": 1.0,
        "GSA.used_beidou": 2.0,
        "GSA.used_galileo": 1.0,
        "GSA.satellites_used": 8.0,
    }
    # no satellite listed: no constellation to count for
    assert parse(nmea("GNGSA,A,1,,,,,,,,,,,,,99.99,99.99,99.99")) == [("GSA.satellites_used", 0.0)]
    # a number past every range (BeiDou's last, 437) is of no constellation, as SBAS is
    for past in ("438", "500"):
        got = parse(nmea(f"GNGSA,A,3,05,71,{past},,,,,,,,,,1.5,0.9,1.2"))
        assert dict(got) == {
            "GSA.used_gps": 1.0,
            "GSA.used_glonass": 1.0,
            "GSA.satellites_used": 3.0,
        }
    # a system ID decides over the numbers, and so does a constellation's own talker
    assert dict(parse(nmea("GNGSA,A,3,65,67,,,,,,,,,,,1.9,1.1,1.5,1")))["GSA.used_gps"] == 2.0
    assert dict(parse(nmea("GPGSA,A,3,05,46,,,,,,,,,,,1.9,1.1,1.5")))["GSA.used_gps"] == 1.0


def teseo_epoch(
    second: int, gps_l5: str | None = "27,08,30", beidou_b2a: str = "34,25,38,08"
) -> list[bytes]:
    """One epoch of an ST Teseo LIV4F (L1 and L5) as it sends it: one GSA per signal of each
    constellation, all L1 GSA sentences and then all L5 ones, each with the system ID of its
    constellation and no signal ID, as in gpsd's capture test/daemon/st-teseo-liv4f.log
    (``$GNGSA,A,3,27,08,07,15,,,,,,,,,2.0,1.4,1.4,1*3D`` then
    ``$GNGSA,A,3,27,08,,,,,,,,,,,2.0,1.4,1.4,1*3E``, GPS L1 and L5). Here the L5 sentences of
    GPS (None: left out) and BeiDou list satellites their L1 sentences do not."""
    clock = f"1358{second:02d}.000"
    gsa = [
        "27,08,07",  # GPS L1
        "24,16,25",  # Galileo E1
        "44,34,25,11,19,23,38",  # BeiDou B1
        gps_l5,  # GPS L5
        "24,16,25",  # Galileo E5a
        beidou_b2a,  # BeiDou B2a
    ]
    systems = "134134"
    return [
        nmea(f"GNRMC,{clock},A,4723.00484,N,00045.88150,E,0.5,120.9,210325,,,A,C"),
        nmea(f"GNGGA,{clock},4723.00484,N,00045.88150,E,1,13,1.7,063.64,M,48.3,M,,"),
        *(
            nmea(f"GNGSA,A,3,{ids}{',' * (12 - ids.count(','))}2.5,1.7,1.8,{system}")
            for ids, system in zip(gsa, systems, strict=True)
            if ids is not None
        ),
        nmea("GPGSV,1,1,04,27,64,299,35,08,27,286,38,07,14,316,42,30,05,057,32,1"),
        b"$PSTMANTENNASTATUS,0,0,0,0*51",
    ]


TESEO_USED = ("GSA.used_gps", "GSA.used_galileo", "GSA.used_beidou")


def by_channel(readings: list[list[tuple[str, float]]]) -> dict[str, list[float]]:
    """The values of each channel, in order, over the readings of several frames."""
    values: dict[str, list[float]] = {}
    for frame in readings:
        for channel, value in frame:
            values.setdefault(channel, []).append(value)
    return values


def test_a_gsa_per_signal_gives_one_reading_per_constellation_and_epoch_of_the_union() -> None:
    """A receiver of two signals sends two GSA sentences per constellation and epoch, without
    signal ID: ``used_<constellation>`` is the number of distinct satellites the two list (as
    gpsd reports it), once an epoch, not each sentence's count in turn."""
    parse = decoder(*TESEO_USED, "GSA.pdop", "GSA.fix_mode")
    stream = teseo_epoch(6) + teseo_epoch(7) + teseo_epoch(8)
    readings = [parse(frame) for frame in stream]
    values = by_channel(readings)
    # the first epoch is read before the receiver has shown two GSA per constellation: each
    # constellation's first sentence gives its reading; every later epoch, the union
    assert values["GSA.used_gps"] == [3.0, 4.0, 4.0]
    assert values["GSA.used_galileo"] == [3.0, 3.0, 3.0]
    assert values["GSA.used_beidou"] == [7.0, 8.0, 8.0]
    # given at the constellation's last GSA of the epoch, not later
    assert stream[17] == nmea("GNGSA,A,3,34,25,38,08,,,,,,,,,2.5,1.7,1.8,4")  # epoch 7, B2a
    assert readings[17][-1] == ("GSA.used_beidou", 8.0)
    # the DOPs and the fix mode are each sentence's, as ever
    assert values["GSA.pdop"] == [2.5] * 18
    assert values["GSA.fix_mode"] == [3.0] * 18


def test_the_last_epoch_of_a_stream_ending_after_its_gsa_sentences_gives_its_readings() -> None:
    parse = decoder(*TESEO_USED)
    stream = teseo_epoch(6) + teseo_epoch(7)[:-2]  # ends with BeiDou's B2a GSA
    values = by_channel([parse(frame) for frame in stream])
    assert values == {
        "GSA.used_gps": [3.0, 4.0],
        "GSA.used_galileo": [3.0, 3.0],
        "GSA.used_beidou": [7.0, 8.0],
    }


def damage(sentence: bytes) -> bytes:
    """``sentence`` with one character of its fields changed: its checksum fails."""
    at = sentence.index(b",", 8) + 1
    return sentence[:at] + (b"9" if sentence[at : at + 1] != b"9" else b"8") + sentence[at + 1 :]


#: Damage on the line to a GSA, and the reason it is rejected for: a byte changed (its
#: checksum fails), its end lost with the bytes after it (a UART overrun: the next sentence's
#: start follows within it), a byte turned non-ASCII, a checksum field turned into no hex
#: number, a field garbled in a stream without checksums (nothing tells that damage from a
#: receiver's), a satellite number there garbled into no whole number (a letter, a sign, a
#: space), a letter of its type changed into one that names no sentence type.
GSA_DAMAGE: dict[str, tuple[Callable[[bytes], bytes], str]] = {
    "checksum": (damage, "checksum"),
    "cut short": (lambda s: s[:17], "truncated"),
    "non-ASCII byte": (lambda s: s[:12] + b"\xe9" + s[13:], "encoding"),
    "checksum field": (lambda s: s[:-1] + b"G", "syntax"),
    "field without checksum": (lambda s: s.replace(b",2.5,", b",2.#,"), "syntax"),
    "satellite letter without checksum": (lambda s: s.replace(b",16,", b",1A,"), "syntax"),
    "satellite sign without checksum": (lambda s: s.replace(b",16,", b",+6,"), "syntax"),
    "satellite space without checksum": (lambda s: s.replace(b",16,", b", 6,"), "syntax"),
    "type": (lambda s: s.replace(b"$GNGSA", b"$GN6SA"), "checksum"),  # no sentence type
}


@pytest.mark.parametrize("kind", list(GSA_DAMAGE))
def test_a_gsa_damaged_in_any_way_within_an_epoch_gives_no_short_union(kind: str) -> None:
    """Whatever the reason a GSA is rejected for, when it was one of an epoch's GSA sentences
    the epoch's other GSA sentences stay one run (one reading a constellation, their union),
    and the constellation that lost a sentence gets no reading that epoch: its other
    sentence alone may list fewer satellites than the fix used."""
    change, expected = GSA_DAMAGE[kind]
    parse = decoder(*TESEO_USED, "GSA.pdop")
    stream = teseo_epoch(6) + teseo_epoch(7) + teseo_epoch(8)
    if kind.endswith("without checksum"):
        stream = [sentence.split(b"*")[0] for sentence in stream]
    galileo_e1 = 20 + 3
    assert stream[galileo_e1].startswith(b"$GNGSA,A,3,24,16,25,,,,,,,,,,2.5,1.7,1.8,3")
    stream[galileo_e1] = change(stream[galileo_e1])
    readings: list[list[tuple[str, float]]] = []
    for at, frame in enumerate(stream):
        if at == galileo_e1:
            assert reason(parse, frame) == expected
        else:
            readings.append(parse(frame))
    values = by_channel(readings)
    assert values["GSA.used_gps"] == [3.0, 4.0, 4.0]
    assert values["GSA.used_galileo"] == [3.0, 3.0]
    assert values["GSA.used_beidou"] == [7.0, 8.0, 8.0]


def checksummed_anew(sentence: bytes, old: bytes, new: bytes) -> bytes:
    """``sentence`` (with its checksum) with ``old`` replaced by ``new`` once and its checksum
    computed again: a receiver that wrote ``new`` there."""
    body = sentence[1 : sentence.index(b"*")]
    changed = body.replace(old, new, 1)
    assert changed != body
    return nmea(changed.decode("ascii"))


#: A satellite number field that is no whole number: a letter, a sign, a space.
GARBLED_NUMBERS = {"letter": "1A", "sign": "+6", "space": " 6"}


@pytest.mark.parametrize("garbled", list(GARBLED_NUMBERS.values()), ids=list(GARBLED_NUMBERS))
def test_a_gsa_satellite_number_garbled_under_its_checksum_counts_no_satellite(
    garbled: str,
) -> None:
    """A GSA whose checksum holds and whose satellite number field is no whole number: the
    checksum proves only that the bytes arrived as the receiver sent them, and what it sent
    there is no satellite number. The field written wrong is counted as the same field
    damaged without checksum is (``syntax``, the field named), and as any field written
    wrong under a checksum, its channels get no value (``satellites_used`` and
    ``used_<constellation>``) while the sentence's others are read (fix mode, DOPs). Its
    run is one that lost a GSA: a Teseo LIV4F's Galileo E1 sentence with satellite 16
    garbled gives Galileo no reading that epoch (its E5a sentence alone is no union), GPS
    and BeiDou theirs; the next epoch is read whole."""
    parse = decoder(*TESEO_USED, "GSA.pdop", "GSA.fix_mode", "GSA.satellites_used")
    stream = teseo_epoch(6) + teseo_epoch(7) + teseo_epoch(8)
    galileo_e1 = 10 + 3
    assert stream[galileo_e1] == nmea("GNGSA,A,3,24,16,25,,,,,,,,,,2.5,1.7,1.8,3")
    stream[galileo_e1] = checksummed_anew(stream[galileo_e1], b",16,", f",{garbled},".encode())
    readings: list[list[tuple[str, float]]] = []
    for at, frame in enumerate(stream):
        if at == galileo_e1:
            with pytest.raises(ParseError) as caught:
                parse(frame)
            assert caught.value.reason == "syntax"
            assert caught.value.detail == f"GSA satellite number {garbled!r}"
            assert caught.value.kept == [("GSA.pdop", 2.5), ("GSA.fix_mode", 3.0)]
            readings.append(caught.value.kept)
        else:
            readings.append(parse(frame))
    values = by_channel(readings)
    assert values["GSA.used_gps"] == [3.0, 4.0, 4.0]
    assert values["GSA.used_galileo"] == [3.0, 3.0]
    assert values["GSA.used_beidou"] == [7.0, 8.0, 8.0]
    assert values["GSA.pdop"] == [2.5] * 18
    epoch = [3.0, 3.0, 7.0, 3.0, 3.0, 4.0]
    assert values["GSA.satellites_used"] == [*epoch, *epoch[:1], *epoch[2:], *epoch]


def test_a_run_that_lost_a_gsa_gives_no_reading_short_of_a_constellations_sentences() -> None:
    """An epoch whose BeiDou B1 sentence (7 satellites) fails its checksum has only its B2a
    sentence (4, one of them not on B1) of BeiDou: their union is 8, the B2a sentence alone
    would read 4 as the satellites the fix used. BeiDou gets no reading that epoch, the other
    constellations theirs; the epoch after is read whole. A lost GSA that was its epoch's only
    one leaves the next epoch whole too."""
    parse = decoder(*TESEO_USED)
    stream = teseo_epoch(6) + teseo_epoch(7) + teseo_epoch(8) + teseo_epoch(9)
    beidou_b1 = 20 + 4
    assert stream[beidou_b1] == nmea("GNGSA,A,3,44,34,25,11,19,23,38,,,,,,2.5,1.7,1.8,4")
    stream[beidou_b1] = damage(stream[beidou_b1])
    readings: list[list[tuple[str, float]]] = []
    for at, frame in enumerate(stream):
        if at == beidou_b1:
            assert reason(parse, frame) == "checksum"
        else:
            readings.append(parse(frame))
    values = by_channel(readings)
    assert values["GSA.used_gps"] == [3.0, 4.0, 4.0, 4.0]
    assert values["GSA.used_galileo"] == [3.0, 3.0, 3.0, 3.0]
    assert values["GSA.used_beidou"] == [7.0, 8.0, 8.0]
    # a receiver of one GSA a constellation: a lost GPS sentence between two GGA sentences
    # costs that epoch's GPS reading only
    gps = nmea("GNGSA,A,3,23,29,07,08,09,18,26,,,,,,1.94,1.18,1.54,1")
    glonass = nmea("GNGSA,A,3,65,67,80,,,,,,,,,,1.94,1.18,1.54,2")
    parse = decoder("GSA.used_gps", "GSA.used_glonass")
    got = parse(UBLOX_GGA) + parse(gps) + parse(glonass)
    assert reason(parse, damage(gps)) == "checksum"
    got += parse(UBLOX_GGA_NEXT) + parse(gps) + parse(glonass)
    assert got == [("GSA.used_gps", 7.0), ("GSA.used_glonass", 3.0)] * 2
    # a lost GSA alone between two epochs: the next epoch, which leaves out GPS L5, still
    # gives GPS its L1 reading when its run ends
    parse = decoder(*TESEO_USED)
    lost = damage(nmea("GNGSA,A,3,27,08,07,,,,,,,,,,2.5,1.7,1.8,1"))
    frames = [parse(frame) for frame in teseo_epoch(6) + teseo_epoch(7)]
    assert reason(parse, lost) == "checksum"
    frames += [parse(frame) for frame in teseo_epoch(8, gps_l5=None)]
    assert by_channel(frames)["GSA.used_gps"] == [3.0, 4.0, 3.0]


def test_another_sentence_failing_its_checksum_still_ends_the_gsa_run() -> None:
    """A sentence whose checksum fails but whose address is intact and of another type (here
    the GGA between two epochs' GSA sentences) ends the run as it would read: the epochs stay
    apart. One whose address is damaged too tells nothing and ends none."""
    gps = nmea("GNGSA,A,3,23,29,07,08,09,18,26,,,,,,1.94,1.18,1.54,1")
    glonass = nmea("GNGSA,A,3,65,67,80,,,,,,,,,,1.94,1.18,1.54,2")
    expected = [("GSA.used_gps", 7.0), ("GSA.used_glonass", 3.0)]
    parse = decoder("GSA.used_gps", "GSA.used_glonass")
    got = parse(UBLOX_GGA) + parse(gps) + parse(glonass)
    assert reason(parse, damage(UBLOX_GGA_NEXT)) == "checksum"
    got += parse(gps) + parse(glonass)
    assert got == expected * 2
    # a sentence whose address is damaged as well, between an epoch's two GPS sentences (L1
    # and L5): whatever it was, the run goes on (L5 gives no reading of its own); a run that
    # may have lost a frame teaches no number of sentences on its own, so the first two give
    # L1's at its sentence, and two such runs in a row with two make two the most: the third
    # gives the union at L5
    gps_l5 = nmea("GNGSA,A,3,23,29,30,,,,,,,,,,1.94,1.18,1.54,1")
    parse = decoder("GSA.used_gps")
    values: list[tuple[str, float]] = []
    for _ in range(3):
        values += parse(UBLOX_GGA) + parse(gps)
        assert reason(parse, b"$GNG#A" + damage(gps_l5)[6:]) == "checksum"
        values += parse(gps_l5)
    assert values == [("GSA.used_gps", 7.0)] * 2 + [("GSA.used_gps", 8.0)]


@pytest.mark.parametrize(
    "address",
    [b"$GN\xc7SA,", b"$GNGSV\xac"],
    ids=["a type letter turned non-ASCII", "a burst over type and comma"],
)
def test_a_gsa_whose_address_is_damaged_ends_no_run(address: bytes) -> None:
    """A GSA whose address is damaged (its type's G with the top bit set; a burst that turns
    its ``A,`` into ``V`` and a byte that is no comma) may have been any sentence: it ends
    no run, whatever type its letters name, and the epoch's GPS L1 and L5 sentences around it
    stay one run, the union read at L5 once two runs in a row that may have lost a GSA had
    both."""
    gps = nmea("GNGSA,A,3,23,29,07,08,09,18,26,,,,,,1.94,1.18,1.54,1")
    gps_l5 = nmea("GNGSA,A,3,23,29,30,,,,,,,,,,1.94,1.18,1.54,1")
    parse = decoder("GSA.used_gps")
    values: list[tuple[str, float]] = []
    for _ in range(3):
        values += parse(UBLOX_GGA) + parse(gps)
        assert reason(parse, address + damage(gps_l5)[len(address) :]) == "encoding"
        values += parse(gps_l5)
    assert values == [("GSA.used_gps", 7.0)] * 2 + [("GSA.used_gps", 8.0)]


def test_a_damaged_sentence_after_a_space_is_known_by_its_address_too() -> None:
    """The decoder reads a sentence after a leading space (a frame handed to it as the line
    came), and knows a damaged one there by its address as well: a GGA failing its checksum
    after a space still ends the GSA run before it."""
    gps = nmea("GNGSA,A,3,23,29,07,08,09,18,26,,,,,,1.94,1.18,1.54,1")
    glonass = nmea("GNGSA,A,3,65,67,80,,,,,,,,,,1.94,1.18,1.54,2")
    parse = decoder("GSA.used_gps", "GSA.used_glonass")
    got = parse(b" " + UBLOX_GGA) + parse(gps) + parse(glonass)
    assert reason(parse, b" " + damage(UBLOX_GGA_NEXT)) == "checksum"
    got += parse(gps) + parse(glonass)
    assert got == [("GSA.used_gps", 7.0), ("GSA.used_glonass", 3.0)] * 2


def test_an_epoch_that_leaves_out_a_signals_gsa_gives_its_reading_at_the_next_frame() -> None:
    parse = decoder(*TESEO_USED)
    stream = teseo_epoch(6) + teseo_epoch(7) + teseo_epoch(8, gps_l5=None) + teseo_epoch(9)
    readings = [parse(frame) for frame in stream]
    assert by_channel(readings)["GSA.used_gps"] == [3.0, 4.0, 3.0, 4.0]
    # epoch 8: its GPS L1 sentence, then the epoch's GSV with the reading
    gsv = 20 + 7
    assert stream[gsv].startswith(b"$GPGSV")
    assert readings[gsv] == [("GSA.used_gps", 3.0)]


def placed(
    parse: Decoder, epoch: list[bytes], damaged: int | None = None
) -> list[tuple[int, str, float]]:
    """The readings of ``epoch``'s frames, each with the index of the frame that gave it; the
    frame at ``damaged`` gets a character changed and is rejected, ``checksum``."""
    got: list[tuple[int, str, float]] = []
    for at, frame in enumerate(epoch):
        if at == damaged:
            assert reason(parse, damage(frame)) == "checksum"
        else:
            got += [(at, channel, value) for channel, value in parse(frame)]
    return got


#: Where a Teseo epoch's readings come (:func:`placed`), the constellations' sentences at 2 to
#: 4 (L1, E1, B1) and 5 to 7 (L5, E5a, B2a), its GSV at 8: each at its constellation's last
#: sentence.
TESEO_WHOLE = [(5, "GSA.used_gps", 4.0), (6, "GSA.used_galileo", 3.0), (7, "GSA.used_beidou", 8.0)]
#: An epoch without its GPS L5 sentence, the others at 5 and 6 and its GSV at 7: GPS's reading
#: at the GSV while two sentences are its most, at its L1 sentence once one is.
TESEO_SHORT = [(5, "GSA.used_galileo", 3.0), (6, "GSA.used_beidou", 8.0), (7, "GSA.used_gps", 3.0)]
#: The same epoch once one GPS sentence is the most.
TESEO_ONE_GPS = [(2, "GSA.used_gps", 3.0), *TESEO_SHORT[:2]]


def test_a_band_left_out_of_five_gsa_runs_in_a_row_holds_no_reading_to_the_runs_end() -> None:
    """A Teseo that sends GPS L1 and L5 GSA sentences, then L1 alone (reconfigured, or its
    satellites on L5 lost): a run short of L5 gives GPS its reading at its end, at the GSV
    after it, but the fifth in a row makes one GPS sentence the most, and the reading comes at
    the L1 sentence again. A GSA that fails its checksum after that (Galileo's E1) costs GPS
    nothing; Galileo, its E5a sentence alone, gets no reading, as in any run that may have
    lost one of a constellation's sentences (the union without it may be short of satellites
    the fix used). An epoch or two without L5 keeps two the most; L5 back after five gives
    the reading at the L1 sentence, of L1 alone (3 satellites), the L5 sentence none, and the
    next epoch's is the union at the L5 sentence again."""
    parse = decoder(*TESEO_USED)
    assert placed(parse, teseo_epoch(6)) == [
        (2, "GSA.used_gps", 3.0),
        (3, "GSA.used_galileo", 3.0),
        (4, "GSA.used_beidou", 7.0),
    ]
    assert placed(parse, teseo_epoch(7)) == TESEO_WHOLE
    for second in (8, 9):
        assert placed(parse, teseo_epoch(second, gps_l5=None)) == TESEO_SHORT
    assert placed(parse, teseo_epoch(10)) == TESEO_WHOLE
    for second in range(11, 16):
        assert placed(parse, teseo_epoch(second, gps_l5=None)) == TESEO_SHORT
    assert placed(parse, teseo_epoch(16, gps_l5=None)) == TESEO_ONE_GPS
    galileo_e1 = 3
    got = placed(parse, teseo_epoch(17, gps_l5=None), damaged=galileo_e1)
    assert got == [(2, "GSA.used_gps", 3.0), (6, "GSA.used_beidou", 8.0)]
    assert placed(parse, teseo_epoch(18, gps_l5=None)) == TESEO_ONE_GPS
    assert placed(parse, teseo_epoch(19)) == [(2, "GSA.used_gps", 3.0), *TESEO_WHOLE[1:]]
    assert placed(parse, teseo_epoch(20)) == TESEO_WHOLE


def test_a_gsa_run_that_lost_a_sentence_counts_as_no_run_short_of_a_band() -> None:
    """A run that may have lost a GSA tells nothing of a band left out: its count of a
    constellation's sentences may be short by the lost one. Galileo's E1 sentence failing its
    checksum in five epochs in a row leaves two Galileo sentences the most (a line that
    damages a sentence an epoch lowers none), and an epoch that lost a sentence among those
    without GPS L5 neither ends their row nor adds to it."""
    parse = decoder(*TESEO_USED)
    placed(parse, teseo_epoch(6))
    galileo_e1, beidou_b1 = 3, 4
    for second in range(7, 12):
        got = placed(parse, teseo_epoch(second), damaged=galileo_e1)
        assert got == [(5, "GSA.used_gps", 4.0), (7, "GSA.used_beidou", 8.0)]
    assert placed(parse, teseo_epoch(12)) == TESEO_WHOLE
    for second in range(13, 16):
        assert placed(parse, teseo_epoch(second, gps_l5=None)) == TESEO_SHORT
    got = placed(parse, teseo_epoch(16, gps_l5=None), damaged=beidou_b1)
    assert got == [(5, "GSA.used_galileo", 3.0)]  # the sentence lost may be GPS's or BeiDou's
    for second in (17, 18):
        assert placed(parse, teseo_epoch(second, gps_l5=None)) == TESEO_SHORT
    assert placed(parse, teseo_epoch(19, gps_l5=None)) == TESEO_ONE_GPS


def test_a_cut_gsa_run_counts_as_no_run_short_of_a_band() -> None:
    """A run cut at its 13th GLONASS sentence (no epoch's) gives GPS, of which it had one
    sentence of two, its reading, but is not one of the runs in a row short of GPS L5: the
    fifth is the run after it, and the run after that gives the reading at the L1 sentence."""
    parse = decoder("GSA.used_gps", "GSA.used_glonass")
    l1 = nmea("GNGSA,A,3,27,08,07,,,,,,,,,,2.5,1.7,1.8,1")
    l5 = nmea("GNGSA,A,3,27,08,30,,,,,,,,,,2.5,1.7,1.8,1")
    glonass = nmea("GNGSA,A,3,65,66,,,,,,,,,,,2.5,1.7,1.8,2")
    gps, gps_l1, two = ("GSA.used_gps", 4.0), ("GSA.used_gps", 3.0), ("GSA.used_glonass", 2.0)
    for frame in [UBLOX_GGA, l1, l5, glonass] * 2 + [UBLOX_GGA, l1, glonass] * 4:
        parse(frame)
    cut = [UBLOX_GGA, l1, *[glonass] * 13]
    assert [parse(frame) for frame in cut] == [[gps_l1], [], [two]] + [[]] * 11 + [[gps_l1, two]]
    assert [parse(frame) for frame in (UBLOX_GGA, l1, glonass)] == [[], [], [two]]
    assert [parse(frame) for frame in (UBLOX_GGA, l1, glonass)] == [[gps_l1], [gps_l1], [two]]
    assert [parse(frame) for frame in (UBLOX_GGA, l1, l5, glonass)] == [[], [gps_l1], [], [two]]
    assert [parse(frame) for frame in (UBLOX_GGA, l1, l5, glonass)] == [[], [], [gps], [two]]


def test_two_epochs_gsa_runs_joined_by_a_lost_frame_teach_no_number_of_sentences() -> None:
    """A GGA between two epochs of GPS L1 and L5 GSA sentences, lost with its address damaged
    (it may have been a GSA: it ends no run), joins their runs in one of four GPS sentences,
    which may have lost a GSA and teaches nothing: the second epoch's sentences, the run's
    third and fourth, give no reading, and the runs after it give theirs at the L5
    sentence, as before."""
    parse = decoder("GSA.used_gps")
    l1 = nmea("GNGSA,A,3,23,29,07,08,09,18,26,,,,,,1.94,1.18,1.54,1")
    l5 = nmea("GNGSA,A,3,23,29,30,,,,,,,,,,1.94,1.18,1.54,1")
    union = [("GSA.used_gps", 8.0)]
    for frame in (UBLOX_GGA, l1, l5) * 2:
        parse(frame)
    assert reason(parse, b"$GNG#A" + damage(UBLOX_GGA_NEXT)[6:]) == "checksum"
    assert [parse(frame) for frame in (l1, l5)] == [[], []]
    for _ in range(6):
        assert [parse(frame) for frame in (UBLOX_GGA, l1, l5)] == [[], [], union]


def teseo_gga_gsa(second: int) -> list[bytes]:
    """A Teseo epoch (:func:`teseo_epoch`) of a receiver whose message list is set to GGA and
    GSA: its GGA at 0, the one frame between two epochs' GSA runs, then its GSA sentences,
    L1, E1 and B1 at 1 to 3, L5, E5a and B2a at 4 to 6."""
    return [frame for frame in teseo_epoch(second) if frame[3:6] in (b"GGA", b"GSA")]


#: Where the readings of a :func:`teseo_gga_gsa` epoch come: each at its constellation's last
#: sentence.
TESEO_GGA_WHOLE = [
    (4, "GSA.used_gps", 4.0),
    (5, "GSA.used_galileo", 3.0),
    (6, "GSA.used_beidou", 8.0),
]


def test_teseo_epochs_joined_by_a_lost_gga_give_later_readings_at_their_last_gsa() -> None:
    """A Teseo that sends GGA and GSA alone, its GGA lost with its address damaged (it may
    have been a GSA: it ends no run): epochs 7 and 8 are one run of four sentences of each
    constellation. It may have lost a GSA and teaches no number of sentences: epoch 8, the
    run's third and fourth sentences of each, gives no reading, and every epoch after it
    gives each constellation's at its last sentence, the frame it came at before the
    damage, not at the next epoch's GGA."""
    parse = decoder(*TESEO_USED)
    placed(parse, teseo_gga_gsa(6))
    assert placed(parse, teseo_gga_gsa(7)) == TESEO_GGA_WHOLE
    gga, *gsa = teseo_gga_gsa(8)
    assert reason(parse, b"$GNG#A" + damage(gga)[6:]) == "checksum"
    assert [parse(frame) for frame in gsa] == [[]] * 6
    for second in range(9, 16):
        assert placed(parse, teseo_gga_gsa(second)) == TESEO_GGA_WHOLE


def teseo_band_back_in_a_damaged_run(parse: Decoder) -> None:
    """Feeds ``parse`` two Teseo epochs without GPS L5 (one GPS sentence its most, two of
    Galileo and BeiDou), then one with L5 back whose Galileo E1 sentence fails its checksum:
    a run of more GPS sentences than their most that may have lost a GSA. GPS gives its
    reading at the L1 sentence (one its most), Galileo none (its E5a sentence alone), BeiDou
    its union at B2a."""
    placed(parse, teseo_epoch(6, gps_l5=None))
    assert placed(parse, teseo_epoch(7, gps_l5=None)) == TESEO_ONE_GPS
    galileo_e1 = 3
    got = placed(parse, teseo_epoch(8), damaged=galileo_e1)
    assert got == [(2, "GSA.used_gps", 3.0), (7, "GSA.used_beidou", 8.0)]


def test_a_damaged_gsa_run_with_more_sentences_than_the_most_does_not_raise_it() -> None:
    """The run with GPS L5 back that lost a GSA teaches nothing: one GPS sentence stays the
    most, and the epochs after it without L5 give GPS's reading at the L1 sentence, not at
    the GSV after the run."""
    parse = decoder(*TESEO_USED)
    teseo_band_back_in_a_damaged_run(parse)
    for second in range(9, 12):
        assert placed(parse, teseo_epoch(second, gps_l5=None)) == TESEO_ONE_GPS


def test_the_first_whole_gsa_run_with_a_band_back_raises_the_most() -> None:
    """After the damaged run with GPS L5 back, which teaches nothing, the first run with L5
    that lost nothing gives GPS's reading at the L1 sentence (one the most still) and makes
    two the most: the next run gives the union at the L5 sentence, and the one after it
    without L5 gives GPS's reading at the GSV after it."""
    parse = decoder(*TESEO_USED)
    teseo_band_back_in_a_damaged_run(parse)
    assert placed(parse, teseo_epoch(9)) == [(2, "GSA.used_gps", 3.0), *TESEO_WHOLE[1:]]
    assert placed(parse, teseo_epoch(10)) == TESEO_WHOLE
    assert placed(parse, teseo_epoch(11, gps_l5=None)) == TESEO_SHORT


def test_gsa_runs_that_each_lose_a_sentence_teach_the_number_two_of_them_had() -> None:
    """A Teseo whose BeiDou B1 sentence is rejected in every epoch (damage that comes at the
    same place each second, a sentence of the receiver's that always fails its checksum):
    no run is whole. Two runs in a row that may have lost a GSA with two GPS sentences each
    make two the most (two epochs joined by a lost frame twice in a row, each run as long,
    are far rarer than a sentence lost in each): from the third epoch on GPS's reading is the
    union of L1 and L5 (4) at the L5 sentence, not L1's alone (3) at its own, every epoch."""
    parse = decoder(*TESEO_USED)
    beidou_b1 = 4
    gps = []
    galileo = []
    for second in range(6, 12):
        got = placed(parse, teseo_epoch(second), damaged=beidou_b1)
        gps.append([(at, value) for at, channel, value in got if channel == "GSA.used_gps"])
        galileo += [(at, value) for at, channel, value in got if channel == "GSA.used_galileo"]
    assert gps == [[(2, 3.0)]] * 2 + [[(5, 4.0)]] * 4
    # every constellation of the runs learns it: Galileo's E1 and E5a, at E5a from the third
    assert galileo == [(3, 3.0)] * 2 + [(6, 3.0)] * 4


def three_gps_bands() -> tuple[Decoder, bytes, bytes, bytes]:
    """A decoder of ``GSA.used_gps`` after two epochs of a receiver of GPS L1, L2 and L5 (a
    GSA sentence each, after a GGA), and the three sentences: three is the most."""
    parse = decoder("GSA.used_gps")
    l1 = nmea("GNGSA,A,3,23,29,07,,,,,,,,,,1.94,1.18,1.54,1")
    l2 = nmea("GNGSA,A,3,23,29,30,,,,,,,,,,1.94,1.18,1.54,1")
    l5 = nmea("GNGSA,A,3,23,08,,,,,,,,,,,1.94,1.18,1.54,1")
    for frame in (UBLOX_GGA, l1, l2, l5) * 2:
        parse(frame)
    return parse, l1, l2, l5


def test_five_gsa_runs_short_of_a_band_make_the_most_sentences_of_them_the_most() -> None:
    """A receiver of three GPS signals (L1, L2, L5) that sends L1 and L2 in some runs and L1
    alone in others, five runs in a row: two sentences, the most one of the five had, become
    the most (not the one sentence of the last run), and the next run of L1 and L2 gives
    their union at the L2 sentence."""
    parse, l1, l2, _ = three_gps_bands()
    for run in ([l1, l2], [l1, l2], [l1], [l1], [l1]):
        for frame in (UBLOX_GGA, *run):
            parse(frame)
    assert [parse(frame) for frame in (UBLOX_GGA, l1, l2)] == [
        [("GSA.used_gps", 3.0)],  # the fifth short run's, at its end
        [],
        [("GSA.used_gps", 4.0)],  # L1 and L2: 23, 29, 07, 30
    ]


@pytest.mark.parametrize("sizes", [[], [1], [7], [3, 61, 200]], ids=["whole", "1", "7", "mixed"])
def test_merged_gsa_readings_are_the_same_whatever_the_chunking(sizes: list[int]) -> None:
    parse = decoder(*TESEO_USED)
    stream = b"".join(frame + b"\r\n" for frame in teseo_epoch(6) + teseo_epoch(7))
    frames = feed_in_pieces(framer(), stream, sizes)
    assert by_channel([parse(frame) for frame in frames]) == {
        "GSA.used_gps": [3.0, 4.0],
        "GSA.used_galileo": [3.0, 3.0],
        "GSA.used_beidou": [7.0, 8.0],
    }


def test_one_gsa_per_constellation_gives_each_sentences_count_at_that_sentence() -> None:
    """The receivers that send one GSA per constellation and epoch (u-blox, Quectel L76 with
    system IDs or talkers; a GN sentence without system ID listing GPS and GLONASS together):
    each GSA's readings are those it gives read alone, at that sentence (the
    ``used_<constellation>`` ones after the sentence's others)."""
    fields = (*USED, "GSA.satellites_used", "GSA.hdop")
    parse = decoder(*fields)
    epochs = [
        [
            UBLOX_RMC,
            nmea("GNGSA,A,3,23,29,07,08,09,18,26,,,,,,1.94,1.18,1.54,1"),
            nmea("GNGSA,A,3,65,67,80,,,,,,,,,,1.94,1.18,1.54,2"),
            GSV_GROUP[0],
        ],
        [
            UBLOX_GGA,
            nmea("GPGSA,A,3,14,06,16,31,23,,,,,,,,1.24,0.97,0.77"),
            nmea("GLGSA,A,3,88,79,78,,,,,,,,,,1.24,0.97,0.77"),
        ],
        [UBLOX_GGA_NEXT, nmea("GNGSA,A,3,05,12,71,72,74,46,,,,,,,1.5,0.9,1.2")],
    ]
    for frame in [frame for epoch in epochs for frame in epoch] * 2:
        alone = decoder(*fields)(frame) if b"GSA," in frame else []
        assert sorted(parse(frame)) == sorted(alone)
    assert sorted(alone) == [
        ("GSA.hdop", 0.9),
        ("GSA.satellites_used", 6.0),
        ("GSA.used_glonass", 3.0),
        ("GSA.used_gps", 2.0),
    ]


def test_a_stream_of_gsa_alone_after_another_frame_loses_at_most_eleven_epochs() -> None:
    """A receiver told to send GSA alone (its other output binary, which the framer skips)
    after a start-up text: its runs are no epochs. At the 13th GPS sentence of the run the
    run is cut and each sentence is read alone from then on."""
    parse = decoder("GSA.used_gps", "GSA.used_glonass")
    gps = nmea("GNGSA,A,3,04,05,09,,,,,,,,,,2.5,1.3,2.1,1")
    glonass = nmea("GNGSA,A,3,65,66,,,,,,,,,,,2.5,1.3,2.1,2")
    readings = parse(nmea("GNTXT,01,01,02,u-blox AG"))
    for _ in range(20):
        readings += parse(gps) + parse(glonass)
    got = [name for name, _ in readings]
    assert got.count("GSA.used_gps") >= 9
    assert got.count("GSA.used_glonass") >= 9
    assert set(readings) == {("GSA.used_gps", 3.0), ("GSA.used_glonass", 2.0)}


def test_an_epoch_of_five_gsa_sentences_of_one_constellation_gives_their_union() -> None:
    """Two signals of more than twelve satellites each: five GPS GSA sentences an epoch (12 and
    1 on L1, 12 and 1 on L5, 3 more), read as one epoch's, never cut."""

    def gsa(ids: range | list[int]) -> bytes:
        listed = ",".join(f"{i:02d}" for i in ids) + "," * (12 - len(ids))
        return nmea(f"GNGSA,A,3,{listed},2.5,1.3,2.1,1")

    epoch = [gsa(range(1, 13)), gsa([13]), gsa(range(1, 13)), gsa([13]), gsa([1, 2, 3])]
    parse = decoder("GSA.used_gps")
    values = []
    for _ in range(4):
        values += [v for _, v in parse(UBLOX_GGA_NEXT)]
        for sentence in epoch:
            values += [v for _, v in parse(sentence)]
    # the first epoch reads its first sentence; from the second on, the union of each
    assert values[1:] == [13.0] * 3


def test_gsa_sentences_with_nothing_between_epochs_are_each_read_alone() -> None:
    """A stream of nothing but GSA (a simulated receiver whose channels read only GSA) has no
    sentence that ends an epoch: each sentence gives its own count, as a run that is the
    stream's first does, and a run after another sentence that grows past 12 GSA sentences of
    one constellation (more than an epoch has) is cut, the sentences after it read alone."""
    l1, l5 = (
        nmea("GNGSA,A,3,27,08,07,,,,,,,,,,2.5,1.7,1.8,1"),
        nmea("GNGSA,A,3,27,,,,,,,,,,,,,2.5,1.7,1.8,1"),
    )
    parse = decoder("GSA.used_gps")
    assert [parse(frame) for frame in [l1, l5, l1, l5]] == [
        [("GSA.used_gps", 3.0)],
        [("GSA.used_gps", 1.0)],
        [("GSA.used_gps", 3.0)],
        [("GSA.used_gps", 1.0)],
    ]
    parse = decoder("GSA.used_gps")
    long_run = [UBLOX_GGA] + [
        nmea(f"GNGSA,A,3,{n % 32 + 1:02d},,,,,,,,,,,,2.5,1.7,1.8,1") for n in range(40)
    ]
    values = by_channel([parse(frame) for frame in long_run])["GSA.used_gps"]
    assert values == [1.0] * 29  # the run's first sentence, then the 28 from the cut on
    # a cut run teaches no number of sentences: the next epoch's one GSA gives its reading
    assert parse(UBLOX_GGA_NEXT) == []
    assert parse(l1) == [("GSA.used_gps", 3.0)]


def test_a_cut_gsa_run_gives_no_second_reading_of_a_constellation_it_read_at_its_sentence() -> None:
    """A cut run (13 GLONASS sentences after some other frame, no epoch's) gives at the cut
    the readings of the constellations short of their most only: GPS, one sentence its most,
    gave its reading at that sentence and gets none at the cut."""
    parse = decoder("GSA.used_gps", "GSA.used_glonass")
    l1 = nmea("GNGSA,A,3,27,08,07,,,,,,,,,,2.5,1.7,1.8,1")
    glonass = nmea("GNGSA,A,3,65,66,,,,,,,,,,,2.5,1.7,1.8,2")
    gps, two = ("GSA.used_gps", 3.0), ("GSA.used_glonass", 2.0)
    assert [parse(frame) for frame in (UBLOX_GGA, l1, glonass) * 2] == [[], [gps], [two]] * 2
    cut = [UBLOX_GGA, l1, *[glonass] * 13]
    assert [parse(frame) for frame in cut] == [[], [gps], [two]] + [[]] * 11 + [[two]]


def test_a_gsa_run_short_of_two_constellations_gives_both_readings_at_its_end() -> None:
    """A Teseo epoch that leaves out GPS L5 and Galileo E5a: both constellations get their
    reading at the GSV after the run, BeiDou its union at B2a."""
    parse = decoder(*TESEO_USED)
    placed(parse, teseo_epoch(6))
    assert placed(parse, teseo_epoch(7)) == TESEO_WHOLE
    epoch = teseo_epoch(8, gps_l5=None)
    assert epoch[5] == nmea("GNGSA,A,3,24,16,25,,,,,,,,,,2.5,1.7,1.8,3")  # Galileo E5a
    del epoch[5]
    assert placed(parse, epoch) == [
        (5, "GSA.used_beidou", 8.0),
        (6, "GSA.used_gps", 3.0),
        (6, "GSA.used_galileo", 3.0),
    ]


def test_a_gsa_lost_first_or_last_in_its_run_costs_its_constellations_reading_only() -> None:
    """A Teseo sending GGA and GSA alone (:func:`teseo_gga_gsa`): its GPS L1 sentence, the
    run's first, lost gives GPS no reading (L5 alone, 3 satellites, is short of the 4 the fix
    used), and its BeiDou B2a, the run's last, BeiDou none (B1's 7 of 8), the others theirs.
    The damage after the last GSA of a run is that run's, not the next: the next run, which
    leaves out GPS L5, still gives GPS's L1 reading at its end."""
    parse = decoder(*TESEO_USED)
    placed(parse, teseo_gga_gsa(6))
    assert placed(parse, teseo_gga_gsa(7)) == TESEO_GGA_WHOLE
    gps_l1, beidou_b2a = 1, 6
    assert placed(parse, teseo_gga_gsa(8), damaged=gps_l1) == TESEO_GGA_WHOLE[1:]
    assert placed(parse, teseo_gga_gsa(9), damaged=beidou_b2a) == TESEO_GGA_WHOLE[:2]
    without_l5 = [f for f in teseo_epoch(10, gps_l5=None) if f[3:6] in (b"GGA", b"GSA")]
    assert placed(parse, without_l5) == [(4, "GSA.used_galileo", 3.0), (5, "GSA.used_beidou", 8.0)]
    assert placed(parse, teseo_gga_gsa(11)) == [(0, "GSA.used_gps", 3.0), *TESEO_GGA_WHOLE]


def test_gsa_runs_ended_by_a_gga_failing_its_checksum_teach_their_number_of_sentences() -> None:
    """A Teseo sending GGA and GSA alone whose GGA fails its checksum every epoch (its
    address intact: another sentence, it ends the run at the next GSA): each run still
    teaches two sentences of each constellation, and from the second epoch on each reading
    is the union at the constellation's last sentence."""
    parse = decoder(*TESEO_USED)
    gga = 0
    assert placed(parse, teseo_gga_gsa(6), damaged=gga) == [
        (1, "GSA.used_gps", 3.0),
        (2, "GSA.used_galileo", 3.0),
        (3, "GSA.used_beidou", 7.0),
    ]
    for second in range(7, 10):
        assert placed(parse, teseo_gga_gsa(second), damaged=gga) == TESEO_GGA_WHOLE


def test_a_gsa_band_dropped_after_another_lowers_the_most_each_time() -> None:
    """A receiver of GPS L1, L2 and L5 (three GSA sentences an epoch) reconfigured to send
    L1 and L2, then L1 alone. Two runs that each lost L5's sentence leave three the most;
    the first whole run of two gives its union at its end (the frame after it), and five in
    a row make two the most; five runs of L1 alone right after make one the most, and from
    then on L1's reading comes at its sentence."""
    parse, l1, l2, l5 = three_gps_bands()
    for _ in range(2):
        assert [parse(frame) for frame in (UBLOX_GGA, l1, l2)] == [[], [], []]
        assert reason(parse, damage(l5)) == "checksum"
    assert [parse(frame) for frame in (UBLOX_GGA, l1, l2, l5)] == [
        [],
        [],
        [],
        [("GSA.used_gps", 5.0)],
    ]
    assert [parse(frame) for frame in (UBLOX_GGA, l1, l2, UBLOX_GGA)] == [
        [],
        [],
        [],
        [("GSA.used_gps", 4.0)],
    ]
    for _ in range(4):
        parse(l1)
        parse(l2)
        parse(UBLOX_GGA)
    for _ in range(5):
        assert [parse(frame) for frame in (l1, UBLOX_GGA)] == [[], [("GSA.used_gps", 3.0)]]
    assert [parse(frame) for frame in (l1, UBLOX_GGA)] == [[("GSA.used_gps", 3.0)], []]


def test_a_stream_of_gsa_alone_of_four_constellations_is_cut_at_32_sentences() -> None:
    """A receiver told to send GSA alone after its start-up text, one sentence for each of
    GPS, GLONASS, Galileo and BeiDou an epoch: no constellation reaches twelve sentences in
    the run, which is cut at its 33rd (more than an epoch has): the first four give their
    readings, the next 28 none, and each sentence from the 33rd on its own."""
    channels = ("GSA.used_gps", "GSA.used_glonass", "GSA.used_galileo", "GSA.used_beidou")
    parse = decoder(*channels)
    epoch = [
        nmea("GNGSA,A,3,04,05,09,,,,,,,,,,2.5,1.3,2.1,1"),
        nmea("GNGSA,A,3,65,66,,,,,,,,,,,2.5,1.3,2.1,2"),
        nmea("GNGSA,A,3,24,16,25,11,,,,,,,,,2.5,1.3,2.1,3"),
        nmea("GNGSA,A,3,44,34,25,11,19,,,,,,,,2.5,1.3,2.1,4"),
    ]
    each = [
        [(channel, count)] for channel, count in zip(channels, (3.0, 2.0, 4.0, 5.0), strict=True)
    ]
    assert parse(nmea("GNTXT,01,01,02,u-blox AG")) == []
    got = [parse(frame) for frame in epoch * 10]
    assert got == each + [[]] * 28 + each * 2


def test_a_gn_gsa_gives_each_constellation_it_lists_that_has_channels_its_count() -> None:
    """A GN sentence without system ID listing GPS and GLONASS satellites, on a sensor that
    reads GLONASS's count alone, gives it; and in an epoch of an NMEA 4.0 receiver that
    lists GPS L1 and GLONASS in one GN sentence and GPS L2 in a second, GLONASS gets its
    count at the first sentence though GPS's comes at the second."""
    assert decoder("GSA.used_glonass")(nmea("GNGSA,A,3,05,12,71,72,74,46,,,,,,,1.5,0.9,1.2")) == [
        ("GSA.used_glonass", 3.0)
    ]
    parse = decoder("GSA.used_gps", "GSA.used_glonass")
    l1 = nmea("GNGSA,A,3,05,12,71,72,74,,,,,,,,1.5,0.9,1.2")
    l2 = nmea("GNGSA,A,3,05,12,24,,,,,,,,,,1.5,0.9,1.2")
    gps, glonass = ("GSA.used_gps", 3.0), ("GSA.used_glonass", 3.0)
    assert [parse(frame) for frame in (UBLOX_GGA, l1, l2)] == [
        [],
        [("GSA.used_gps", 2.0), glonass],
        [],
    ]
    for _ in range(3):
        assert [parse(frame) for frame in (UBLOX_GGA, l1, l2)] == [[], [glonass], [gps]]


def test_vtg_gll_gns() -> None:
    assert decoder("VTG.course", "VTG.speed_knots", "VTG.speed_kmh")(VTG) == [
        ("VTG.course", 54.7),
        ("VTG.speed_knots", 5.5),
        ("VTG.speed_kmh", 10.2),
    ]
    assert decoder("VTG.course")(nmea("GPVTG,,T,,M,0.0,N,0.0,K,N")) == []  # mode N: not valid
    gll = dict(decoder("GLL.latitude", "GLL.longitude")(GLL))
    assert gll == {
        "GLL.latitude": pytest.approx(49 + 16.45 / 60),
        "GLL.longitude": pytest.approx(-(123 + 11.12 / 60)),
    }
    assert decoder("GLL.latitude")(GLL.replace(b",A*31", b",V*26")) == []
    fields = ("GNS.latitude", "GNS.longitude", "GNS.satellites", "GNS.hdop", "GNS.altitude")
    gns = dict(decoder(*fields)(GNS))
    assert gns == {
        "GNS.latitude": pytest.approx(-(43 + 32.69262 / 60)),
        "GNS.longitude": pytest.approx(172 + 35.48549 / 60),
        "GNS.satellites": 13.0,
        "GNS.hdop": 0.9,
        "GNS.altitude": 25.63,
    }
    no_fix = nmea("GNGNS,014035.00,4332.69262,S,17235.48549,E,NN,00,,25.63,11.24,,")
    assert decoder(*fields)(no_fix) == [("GNS.satellites", 0.0)]


def test_hdg_deviation_and_variation_are_signed_east_positive() -> None:
    parse = decoder("HDG.heading", "HDG.deviation", "HDG.variation")
    # the layout's example in "NMEA Revealed" (E. S. Raymond, gpsd project): a fluxgate
    # compass with its deviation table and the chart's variation
    assert parse(nmea("HCHDG,98.3,0.0,E,12.6,W")) == [
        ("HDG.heading", 98.3),
        ("HDG.deviation", 0.0),
        ("HDG.variation", -12.6),
    ]
    assert parse(nmea("HCHDG,271.0,2.5,W,,")) == [("HDG.heading", 271.0), ("HDG.deviation", -2.5)]
    with pytest.raises(ParseError) as bad:  # a letter that is no direction: the field is lost
        parse(nmea("HCHDG,98.3,0.0,E,12.6,X"))
    assert bad.value.reason == "syntax"
    assert bad.value.kept == [("HDG.heading", 98.3), ("HDG.deviation", 0.0)]


#: Sentences of a B&G Zeus2 chartplotter: gpsd's capture test/daemon/bundg_zeus_9.log (also in
#: tests/fixtures/nmea/bandg_zeus2.nmea), copied with their checksums.
ZEUS_MWD = b"$WIMWD,328.3,T,326.9,M,11.2,N,5.8,M*61"
ZEUS_DBT = b"$SDDBT,17.5,f,5.3,M,2.9,F*38"
MWD_FIELDS = (
    *("MWD.wind_direction", "MWD.wind_direction_magnetic"),
    *("MWD.wind_speed_knots", "MWD.wind_speed_mps"),
)


def test_mwd_and_dbt_whose_unit_letters_are_out_of_place_are_rejected_whole() -> None:
    """MWD's and DBT's unit letters are fixed: a letter out of place (the B&G's sentences with
    two letters swapped) means fields out of place, each value read from another's, so the
    sentence is rejected whole (``syntax``), its checksum holding or not; read, it would give
    the wind speed in m/s as knots, the depth in feet as metres."""
    mwd, dbt = decoder(*MWD_FIELDS), decoder("DBT.depth")
    assert mwd(ZEUS_MWD) == [
        ("MWD.wind_direction", 328.3),
        ("MWD.wind_direction_magnetic", 326.9),
        ("MWD.wind_speed_knots", 11.2),
        ("MWD.wind_speed_mps", 5.8),
    ]
    assert dbt(ZEUS_DBT) == [("DBT.depth", 5.3)]
    out_of_place = [
        ("WIMWD,328.3,T,326.9,M,5.8,M,11.2,N", "unit 'M' where 'N' belongs"),
        ("WIMWD,328.3,M,326.9,T,11.2,N,5.8,M", "unit 'M' where 'T' belongs"),
        ("WIMWD,328.3,T,326.9,M,11.2,N,5.8,K", "unit 'K' where 'M' belongs"),
        ("WIMWD,328.3,T,326.9,M,11.2,,5.8,M", "unit '' where 'N' belongs"),
        ("WIMWD,328.3,T,326.9,M,,M,5.8,M", "unit 'M' where 'N' belongs"),
        ("SDDBT,17.5,M,5.3,f,2.9,F", "unit 'M' where 'f' belongs"),
        ("SDDBT,12.3,M,3.7,f,2.0,F", "unit 'M' where 'f' belongs"),
        ("SDDBT,17.5,f,5.3,M,2.9,M", "unit 'M' where 'F' belongs"),
        ("SDDBT,17.5,M,5.3,M,2.9,F", "unit 'M' where 'f' belongs"),
        ("SDDBT,,f,5.3,,,F", "unit '' where 'M' belongs"),
    ]
    for body, detail in out_of_place:
        fields = MWD_FIELDS if body.startswith("WIMWD") else ("DBT.depth",)
        # with its checksum, and without (a talker that sends none: a decoder of its own)
        for parse, frame in (
            (mwd if fields == MWD_FIELDS else dbt, nmea(body)),
            (decoder(*fields), f"${body}".encode()),
        ):
            with pytest.raises(ParseError) as caught:
                parse(frame)
            assert caught.value.reason == "syntax", body
            assert caught.value.detail == f"{body[2:5]} fields out of place: {detail}", body
            assert caught.value.kept == []


def test_unit_letters_in_lowercase_are_their_units() -> None:
    """A talker that writes its fixed unit letters in lowercase (``t``, ``m``, ``n``): the
    letter stands for the same unit in either case, so the values are read, as DBT's are."""
    parse = decoder(*MWD_FIELDS)
    assert dict(parse(nmea("WIMWD,328.3,t,326.9,m,11.2,n,5.8,m"))) == {
        "MWD.wind_direction": 328.3,
        "MWD.wind_direction_magnetic": 326.9,
        "MWD.wind_speed_knots": 11.2,
        "MWD.wind_speed_mps": 5.8,
    }
    assert decoder("MTW.temperature")(nmea("YXMTW,15.5,c")) == [("MTW.temperature", 15.5)]
    mwv = decoder("MWV.wind_speed_mps")
    [(_, mps)] = mwv(nmea("WIMWV,270,R,10.0,n,A"))
    assert mps == pytest.approx(10.0 * 1852 / 3600)
    with pytest.raises(ParseError, match="unknown wind speed unit 'x'"):
        mwv(nmea("WIMWV,270,R,10.0,x,A"))


def test_a_water_temperature_in_another_unit_is_refused_not_read_as_celsius() -> None:
    """MTW's temperature is in degrees Celsius, its unit letter ``C`` (an Airmar DST800's
    ``$YXMTW,15.5,C``); a talker that writes Fahrenheit with an ``F`` would otherwise have
    63.5 published as 63.5 degrees Celsius. A temperature without its letter is read."""
    parse = decoder("MTW.temperature")
    assert parse(nmea("YXMTW,15.5,C")) == [("MTW.temperature", 15.5)]
    assert parse(nmea("YXMTW,15.5,")) == [("MTW.temperature", 15.5)]
    assert parse(nmea("YXMTW,,C")) == []
    with pytest.raises(ParseError) as caught:
        parse(nmea("IIMTW,63.5,F"))
    assert (caught.value.reason, caught.value.detail) == ("syntax", "unit 'F' where 'C' belongs")


def test_mwd_and_dbt_take_an_empty_unit_letter_after_an_empty_value() -> None:
    """An instrument that measures in one unit leaves the others' values empty, their letters
    there or not: gpsd's driver_nmea0183.c (processDBT) and marnav's nmea/dbt.hpp note that
    real-world depth sounders send some of DBT's three conversions only (marnav's example:
    ``$SDDBT,,f,22.5,M,,F``), and MWD's layout leaves a direction or speed empty the same way
    (``$WIMWD,,T,123.0,M,,N,,M``). The lowercase ``m`` that kplex's SeaTalk bridge writes for
    metres (stripydog/kplex seatalk.c: ``$IIDBT,%.1f,f,%.1f,m,%.1f,F``) is taken: no other
    DBT unit is an ``m``."""
    mwd, dbt = decoder(*MWD_FIELDS), decoder("DBT.depth")
    assert dbt(nmea("SDDBT,,f,3.7,M,,F")) == [("DBT.depth", 3.7)]
    assert dbt(nmea("SDDBT,,f,22.5,M,,F")) == [("DBT.depth", 22.5)]
    assert dbt(nmea("IIDBT,,,3.7,M,,")) == [("DBT.depth", 3.7)]
    assert dbt(nmea("IIDBT,,f,,M,,F")) == []
    assert dbt(nmea("IIDBT,12.1,f,3.7,m,2.0,F")) == [("DBT.depth", 3.7)]
    # the feet and fathoms letters in the other case: their places tell them apart
    assert dbt(nmea("SDDBT,17.5,F,5.3,M,2.9,f")) == [("DBT.depth", 5.3)]
    [(_, feet)] = dbt(nmea("SDDBT,12.1,f,,,,"))
    assert feet == pytest.approx(12.1 * 0.3048)
    assert mwd(nmea("WIMWD,,T,123.0,M,,N,,M")) == [("MWD.wind_direction_magnetic", 123.0)]
    assert dict(mwd(nmea("WIMWD,,,123.0,M,11.2,N,,"))) == {
        "MWD.wind_direction_magnetic": 123.0,
        "MWD.wind_speed_knots": 11.2,
        "MWD.wind_speed_mps": pytest.approx(11.2 * 1852 / 3600),
    }
    # its last fields left out, in a sentence whose checksum holds
    assert mwd(nmea("WIMWD,,T,123.0,M,,N")) == [("MWD.wind_direction_magnetic", 123.0)]


def test_mwd_speed_from_the_other_unit_and_vlw_of_nmea_2() -> None:
    parse = decoder("MWD.wind_speed_knots", "MWD.wind_speed_mps", "MWD.wind_direction")
    assert dict(parse(nmea("WIMWD,,T,326.8,M,11.2,N,,M"))) == {
        "MWD.wind_speed_knots": 11.2,
        "MWD.wind_speed_mps": pytest.approx(11.2 * 1852 / 3600),
    }
    assert dict(parse(nmea("WIMWD,10.0,T,,M,,N,5.8,M"))) == {
        "MWD.wind_direction": 10.0,
        "MWD.wind_speed_knots": pytest.approx(5.8 * 3600 / 1852),
        "MWD.wind_speed_mps": 5.8,
    }
    # NMEA 2.x: the distances through the water only; without checksum it is complete too
    parse = decoder("VLW.total_distance", "VLW.trip_distance", "VLW.trip_ground_distance")
    short = [("VLW.total_distance", 1092.5), ("VLW.trip_distance", 3.2)]
    assert parse(b"$VWVLW,1092.5,N,3.2,N") == short
    with pytest.raises(ParseError) as cut:
        parse(b"$VWVLW,1092.5,N")
    assert cut.value.reason == "truncated"
    assert parse(nmea("VWVLW,1092.5,N,3.2,N")) == short


def test_an_instrument_bus_that_leaves_fields_empty() -> None:
    """A sailing boat's instruments as logged from its NMEA network (the example data in the
    README of github.com/mpihlak/nmealogger, 2023-09-02): HDG without deviation, VHW with the
    magnetic heading and knots only, VLW of NMEA 2 (water distances only)."""
    parse = decoder(
        *("HDG.heading", "HDG.deviation", "HDG.variation", "VHW.heading"),
        *("VHW.heading_magnetic", "VHW.speed_knots", "VHW.speed_kmh"),
        *("VLW.total_distance", "VLW.trip_distance", "VLW.total_ground_distance"),
    )
    assert parse(b"$IIHDG,097,,,00,E*1C") == [("HDG.heading", 97.0), ("HDG.variation", 0.0)]
    assert parse(b"$IIVHW,,,097,M,00.0,N,,*6A") == [
        ("VHW.heading_magnetic", 97.0),
        ("VHW.speed_knots", 0.0),
    ]
    assert parse(b"$IIVLW,09200,N,000.0,N*58") == [
        ("VLW.total_distance", 9200.0),
        ("VLW.trip_distance", 0.0),
    ]


def test_vwr_and_vwt_of_older_wind_instruments_are_read() -> None:
    """A wind instrument older than MWV (or set to its older output) sends the relative wind
    as VWR and the true wind as VWT, in the layout "NMEA Revealed" gives
    (``$--VWR,x.x,a,x.x,N,x.x,M,x.x,K``): the angle off the bow with ``R`` to starboard or
    ``L`` to port, and the speed in knots, m/s and km/h. A multiplexer passes them with the
    GNSS receiver's sentences; their channels are configured like any other's."""
    fields = ("wind_angle", "wind_speed_knots", "wind_speed_mps", "wind_speed_kmh")
    parse = decoder(*(f"VWR.{f}" for f in fields), *(f"VWT.{f}" for f in fields))
    assert parse(nmea("IIVWR,045.0,L,12.6,N,6.5,M,23.3,K")) == [
        ("VWR.wind_angle", -45.0),
        ("VWR.wind_speed_knots", 12.6),
        ("VWR.wind_speed_mps", 6.5),
        ("VWR.wind_speed_kmh", 23.3),
    ]
    # knots alone: m/s from them; the true wind, to starboard
    assert parse(nmea("IIVWT,132.0,R,15.0,N,,M,,K")) == [
        ("VWT.wind_angle", 132.0),
        ("VWT.wind_speed_knots", 15.0),
        ("VWT.wind_speed_mps", 15.0 * 1852.0 / 3600.0),
    ]
    assert parse(nmea("IIVWR,,,,N,,M,,K")) == []  # no wind measured
    # m/s and knots swapped: fields out of place, never m/s read as knots
    assert reason(parse, nmea("IIVWR,045.0,L,6.5,M,12.6,N,23.3,K")) == "syntax"
    # a side that is neither starboard nor port
    assert reason(parse, nmea("IIVWR,045.0,E,12.6,N,6.5,M,23.3,K")) == "syntax"


def receiver_on(port: str) -> SensorConfig:
    """A GNSS sensor on ``port``, as the README's first NMEA example reads one."""
    channels = [
        channel_toml("altitude_m", field="GGA.altitude"),
        channel_toml("sog_knots", field="RMC.speed"),
    ]
    return parse_config(sensor_toml("gnss", port, "nmea", "", channels)).sensors[0]


#: What the output of a boat's AIS receiver carries: AIS messages and a multiplexer's
#: proprietary status (a ShipModul MiniPlex's $PSMDST).
AIS_PORT = (
    b"!AIVDM,1,1,,B,177KQJ5000G?tO`K>RA1wUbN0TKH,0*5C\r\n"
    + b"!AIVDM,1,1,,A,13u?etPv2;0n:dDPwUM1U1Cb069D,0*24\r\n"
    + nmea("PSMDST,C,0,0,0")
    + b"\r\n"
)


def test_a_port_of_sentences_no_channel_reads_is_pointed_at() -> None:
    """A GNSS sensor configured on the port of an AIS receiver (or another instrument): its
    sentences are no error, and the sensor is up, but no reading ever comes. Once none but
    such sentences came for ``stale_after``, ``/status`` says so and quotes the last (the
    sensor was up without a hint, ``sensord status`` exit 0). The same sentences beside the
    receiver's, as a multiplexer merges them, leave no hint."""
    with capture_logs() as logs:
        hint = hint_after_repeats(receiver_on, AIS_PORT)
    assert hint is not None
    assert hint.startswith("sentences come, but none of a type a channel reads ("), hint
    assert "the last: '$PSMDST,C,0,0,0*7E'" in hint
    assert "not the output of an AIS receiver or another instrument" in hint
    [event] = [e for e in logs if e["event"] == "no reading: no sentence of a type a channel reads"]
    assert event["last"] == "$PSMDST,C,0,0,0*7E"
    assert hint_after_repeats(receiver_on, AIS_PORT + UBLOX_GGA + b"\r\n") is None


def test_dpt_offset_up_to_the_waterline_or_down_to_the_keel() -> None:
    parse = decoder("DPT.depth", "DPT.offset")
    assert parse(nmea("SDDPT,2.8,-0.7")) == [("DPT.depth", 2.8), ("DPT.offset", -0.7)]
    assert parse(nmea("SDDPT,5.3,0.4,")) == [("DPT.depth", 5.3), ("DPT.offset", 0.4)]
    assert parse(nmea("SDDPT,5.3,,100")) == [("DPT.depth", 5.3)]  # no offset given


def test_a_gga_repeating_its_talkers_last_time_with_a_fix_is_a_stale_fix_and_ignored() -> None:
    """A receiver that lost its fix and goes on sending its last GGA unchanged (gpsd's "latch
    mode", for a Trimble Placer 450): the repeats are not read as fresh fixes. A GGA without
    a fix is read whatever its time, and the next time is read again."""
    parse = decoder("GGA.fix_quality", "GGA.satellites", "GGA.altitude")
    # a B&G Zeus2's GGA, time in whole seconds (gpsd's capture bundg_zeus_9.log)
    fix = b"$GPGGA,094736,5251.0094,N,00518.8172,E,1,12,0.60,-4,M,46.8,M,,*4B"
    read = [("GGA.fix_quality", 1.0), ("GGA.satellites", 12.0), ("GGA.altitude", -4.0)]
    assert parse(fix) == read
    assert parse(fix) == []
    assert parse(fix) == []
    lost = nmea("GPGGA,094736,5251.0094,N,00518.8172,E,0,03,,,M,,M,,")
    assert parse(lost) == [("GGA.fix_quality", 0.0), ("GGA.satellites", 3.0)]
    assert parse(lost) == [("GGA.fix_quality", 0.0), ("GGA.satellites", 3.0)]
    assert parse(fix) == []  # still the fix of 09:47:36
    later = nmea("GPGGA,094737,5251.0093,N,00518.8170,E,1,12,0.60,-4,M,46.8,M,,")
    assert parse(later) == read
    # a GGA without time is never a repeat
    no_time = nmea("GPGGA,,5251.0093,N,00518.8170,E,1,12,0.60,-4,M,46.8,M,,")
    assert parse(no_time) == read
    assert parse(no_time) == read


#: Talkers a fix comes under: a receiver's own and those of a multiplexer's other inputs.
TALKERS = st.sampled_from(["GP", "GN", "GA", "GL", "II"])


def test_an_rmc_repeating_the_last_ones_time_under_another_talker_is_ignored() -> None:
    """A receiver that sends each epoch's RMC under two talkers, the same time and values in
    both (a Telit PLS83: ``$GPRMC`` and then ``$GARMC``; sentences in that form, values made
    up, checksums computed): one reading per epoch. An RMC with a new time is read whatever
    its talker, and so is a valid one after a void RMC of the same time."""
    parse = decoder("RMC.speed", "RMC.latitude", "GSV.in_view_gps", "GSV.in_view_galileo")
    values: list[tuple[str, float]] = []
    for second in range(10, 13):
        for talker in ("GP", "GA"):
            values += parse(
                nmea(f"{talker}RMC,1315{second}.00,A,4807.0381,N,01131.0002,E,0.12,,021226,,,A")
            )
        # GSV per constellation, each its own (never merged)
        values += parse(nmea("GPGSV,1,1,02,05,40,083,46,12,22,228,45"))
        values += parse(nmea("GAGSV,1,1,01,04,54,170,44"))
    epoch = [
        ("RMC.speed", 0.12),
        ("RMC.latitude", pytest.approx(48 + 7.0381 / 60)),
        ("GSV.in_view_gps", 2.0),
        ("GSV.in_view_galileo", 1.0),
    ]
    assert values == epoch * 3
    # a void RMC is never the one repeated; a new time is read under any talker
    assert parse(nmea("GPRMC,131513.00,V,,,,,,,021226,,,N")) == []
    valid = nmea("GARMC,131513.00,A,4807.0381,N,01131.0002,E,0.25,,021226,,,A")
    assert dict(parse(valid))["RMC.speed"] == 0.25
    assert parse(nmea("GPRMC,131513.00,A,4807.0381,N,01131.0002,E,0.25,,021226,,,A")) == []
    later = nmea("GNRMC,131514.00,A,4807.0381,N,01131.0002,E,0.3,,021226,,,A")
    assert dict(parse(later))["RMC.speed"] == 0.3


#: A fix's sentence of each type that two receivers merged by a multiplexer send, with the
#: time and the position left to fill in.
MERGED_FIXES = {
    "GGA": "{}GGA,0947{:02d},{},1,12,0.60,-4,M,46.8,M,,",
    "RMC": "{}RMC,1315{:02d}.00,A,{},0.1,,021226,,,A",
    "GLL": "{}GLL,{},1315{:02d}.00,A,A",
}


@pytest.mark.parametrize("sentence", list(MERGED_FIXES))
@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(TALKERS, TALKERS, st.booleans(), st.integers(min_value=1, max_value=3)),
        min_size=1,
        max_size=8,
    )
)
def test_two_receivers_merged_on_one_line_are_both_read_one_receivers_talkers_once(
    sentence: str, epochs: list[tuple[str, str, bool, int]]
) -> None:
    """A marine multiplexer merges two receivers' streams, both synchronised to UTC: each
    second brings two GGA (RMC, GLL) sentences of the same time and different positions,
    under the same talker or two, in either order. Both are read, each time: another position
    is another fix, neither a repeat under another talker nor a latched one. A receiver that
    sends its fix again under another talker (a SiRFstarV's ``$GLGGA`` after its ``$GPGGA``, a
    Telit PLS83's ``$GARMC`` after its ``$GPRMC``) or latched (the same talker) gives one
    reading, its first."""
    parse = decoder(f"{sentence}.latitude")
    masthead = "4807.0381,N,01131.0002,E"  # receiver 1
    cockpit = "4807.0412,N,01131.0047,E"  # receiver 2, a few metres away
    got: list[float] = []
    expected: list[float] = []
    for second, (one, two, swapped, copies) in enumerate(epochs):
        sent = [(one, masthead), (two, cockpit)]
        for talker, position in reversed(sent) if swapped else sent:
            expected.append(48 + float(position[2:9]) / 60)
            for copy in range(copies):  # the same fix again: under another talker, or latched
                repeat = (talker, "GL")[copy % 2]
                if sentence == "GLL":
                    body = MERGED_FIXES[sentence].format(repeat, position, second)
                else:
                    body = MERGED_FIXES[sentence].format(repeat, second, position)
                got += [value for _, value in parse(nmea(body))]
    assert got == pytest.approx(expected)


#: NMEA 0183's mode indicator letters (2.3 and later, and 4.10's P, R, F): whether a position
#: or speed of that mode is a measurement. M (manual input) and S (simulator) are not, as
#: GGA's qualities 7 and 8 are not; E (estimated, dead reckoning) is, as GGA's 6 is.
MODES = {"A": True, "D": True, "E": True, "P": True, "R": True, "F": True}
MODES |= {"N": False, "M": False, "S": False}


@pytest.mark.parametrize("mode", sorted(MODES))
def test_a_position_or_heading_of_manual_input_or_simulator_mode_is_no_measurement(
    mode: str,
) -> None:
    """RMC and GLL with status A and a mode of no measurement (receivers that do not set
    status V in these modes, as the standard has them) give nothing; nor do VTG and THS of
    such a mode; GNS gives its satellites only when any constellation's letter is M or S, or
    all are N. Sentences in the u-blox M8 receiver description's forms, the mode set."""
    measured = MODES[mode]
    rmc = nmea(f"GPRMC,083559.00,A,4717.11437,N,00833.91522,E,0.004,77.52,091202,,,{mode}")
    assert bool(decoder("RMC.latitude", "RMC.speed")(rmc)) is measured
    nav_status = nmea(f"GNRMC,083559.00,A,4717.11437,N,00833.91522,E,0.004,77.52,091202,,,{mode},V")
    assert bool(decoder("RMC.latitude")(nav_status)) is measured  # NMEA 4.10's last field
    gll = nmea(f"GPGLL,4717.11364,N,00833.91565,E,092321.00,A,{mode}")
    assert bool(decoder("GLL.latitude")(gll)) is measured
    vtg = nmea(f"GPVTG,77.52,T,,M,0.004,N,0.008,K,{mode}")
    assert bool(decoder("VTG.course")(vtg)) is measured
    if mode != "N":  # THS's own letter of no validity is V
        assert bool(decoder("THS.heading")(nmea(f"GNTHS,77.52,{mode}"))) is measured
    gns = ("GNS.latitude", "GNS.satellites", "GNS.altitude")
    for letters in (mode * 2, f"{mode}N", f"A{mode}"):
        fix = not {"M", "S"} & set(letters) and letters != "NN"
        sentence = nmea(
            f"GNGNS,091547.00,5114.50897,N,00012.28663,W,{letters},10,0.83,111.1,45.6,,"
        )
        assert [name for name, _ in decoder(*gns)(sentence)] == (
            ["GNS.latitude", "GNS.satellites", "GNS.altitude"] if fix else ["GNS.satellites"]
        ), letters


def test_an_rmc_or_gll_without_mode_indicator_is_read_by_its_status() -> None:
    """NMEA 2.2 and before: no mode indicator field. Status A is a fix."""
    rmc = nmea("GPRMC,225446,A,4916.45,N,12311.12,W,000.5,054.7,191194,020.3,E")
    assert decoder("RMC.speed")(rmc) == [("RMC.speed", 0.5)]
    gll = nmea("GPGLL,4916.45,N,12311.12,W,225444,A")
    assert dict(decoder("GLL.latitude")(gll)) == {"GLL.latitude": pytest.approx(49 + 16.45 / 60)}
    assert decoder("GLL.latitude")(nmea("GPGLL,4916.45,N,12311.12,W,225444,V")) == []


def test_gll_and_zda_repeating_the_last_ones_time_under_another_talker_are_ignored() -> None:
    """GLL and ZDA carry the receiver's one fix or time whatever the talker, as RMC does: one
    sent under two talkers (``$GPGLL`` and ``$GNGLL``, ``$GPZDA`` and ``$GNZDA``, the same
    time) is read once. A GLL of another position at that time is another receiver's (two
    receivers on one multiplexer) and is read; a new time is read under any talker."""
    wall = 1_764_700_000.0
    spec = FormatSpec("nmea", (("lat", "GLL.latitude"), ("clock", "ZDA.clock_offset")))
    parse = nmea_module.timed_decoder(spec, lambda: wall, DecoderCounts())
    got: list[tuple[str, float]] = []
    for second in (10, 11):
        for talker in ("GP", "GN"):
            got += parse(nmea(f"{talker}GLL,4717.11364,N,00833.91565,E,0923{second}.00,A,A"))
            got += parse(nmea(f"{talker}ZDA,0923{second}.00,02,12,2025,00,00"))
        got += parse(nmea(f"GNGLL,4717.11512,N,00833.91704,E,0923{second}.00,A,D"))  # another
    latitude = ("lat", pytest.approx(47 + 17.11364 / 60))
    other = ("lat", pytest.approx(47 + 17.11512 / 60))
    utc = 1_764_667_390.0  # 2025-12-02 09:23:10 UTC
    expected: list[tuple[str, object]] = [
        latitude,
        ("clock", pytest.approx(utc - wall)),
        other,
        latitude,
        ("clock", pytest.approx(utc + 1 - wall)),
        other,
    ]
    assert got == expected


@pytest.mark.parametrize("sentence", ["RMC", "GLL"])
def test_an_rmc_or_gll_latched_under_its_own_talker_is_read_once(sentence: str) -> None:
    """A receiver that lost its fix and goes on sending its last RMC or GLL, time and position
    unchanged, under its own talker: the repeats give no reading, so the channels' last reading
    ages. Another position at that time (a second receiver on a multiplexer, the same talker)
    is read, and so is the next epoch's sentence."""
    parse = decoder(f"{sentence}.latitude")

    def body(clock: str, position: str) -> bytes:
        if sentence == "RMC":
            return nmea(f"GPRMC,{clock},A,{position},0.12,,021226,,,A")
        return nmea(f"GPGLL,{position},{clock},A,A")

    masthead, cockpit = "4807.0381,N,01131.0002,E", "4807.0412,N,01131.0047,E"
    got = [value for _ in range(3) for _, value in parse(body("131510.00", masthead))]
    assert got == [pytest.approx(48 + 7.0381 / 60)]
    assert dict(parse(body("131510.00", cockpit))) == {
        f"{sentence}.latitude": pytest.approx(48 + 7.0412 / 60)
    }
    assert dict(parse(body("131511.00", masthead))) == {
        f"{sentence}.latitude": pytest.approx(48 + 7.0381 / 60)
    }
    # a sentence without time is never a repeat
    untimed = [value for _ in range(2) for _, value in parse(body("", masthead))]
    assert untimed == [pytest.approx(48 + 7.0381 / 60)] * 2


def test_a_zda_repeating_its_own_last_time_is_ignored() -> None:
    """A receiver that repeats its last ZDA under its own talker (no new second since): the
    repeat's clock offset would be the old second against a later host clock. It is ignored;
    the next second's ZDA is read."""
    wall = [1_764_700_000.0]
    spec = FormatSpec("nmea", (("clock", "ZDA.clock_offset"),))
    parse = nmea_module.timed_decoder(spec, lambda: wall[0], DecoderCounts())
    utc = 1_764_667_390.0  # 2025-12-02 09:23:10 UTC
    assert parse(nmea("GPZDA,092310.00,02,12,2025,00,00")) == [("clock", utc - wall[0])]
    wall[0] += 1.0
    assert parse(nmea("GPZDA,092310.00,02,12,2025,00,00")) == []
    assert parse(nmea("GPZDA,092311.00,02,12,2025,00,00")) == [("clock", utc + 1 - wall[0])]
    # a ZDA without time, or of its address alone, is never a repeat (and gives no offset)
    for untimed in ("GPZDA,,,,,,", "GPZDA"):
        assert parse(nmea(untimed)) == []
        assert parse(nmea("GPZDA,092311.00,02,12,2025,00,00")) == [("clock", utc + 1 - wall[0])]
    # the same time of another day is no repeat
    assert parse(nmea("GPZDA,092311.00,03,12,2025,00,00")) == [("clock", utc + 1 + 86400 - wall[0])]


def test_clock_offset_is_receiver_utc_minus_the_host_clock_at_arrival() -> None:
    spec = FormatSpec("nmea", (("zda", "ZDA.clock_offset"), ("rmc", "RMC.clock_offset")))
    zda_utc = 1025813730.0  # 2002-07-04 20:15:30 UTC
    rmc_utc = 1039422959.0  # 2002-12-09 08:35:59 UTC
    host = [zda_utc - 0.25, rmc_utc + 1.5]
    parse = codec_for("nmea").sensor_decoder(spec, lambda: host.pop(0))
    assert parse(ZDA) == [("zda", 0.25)]
    assert parse(UBLOX_RMC) == [("rmc", -1.5)]
    # an RMC without a valid fix, or a ZDA before the receiver knows the time: no offset
    assert parse(RMC_VOID) == []
    assert parse(nmea("GPZDA,,,,,,")) == []
    for bad in (
        "GPZDA,201530.00,31,02,2002,00,00",
        "GPZDA,256030.00,04,07,2002,00,00",
        "GPZDA,201530.00,04,07,02,00,00",
        "GPRMC,083600.00,A,4717.11437,N,00833.91522,E,0.004,77.52,0912,,,A",
        # a date whose digits run past any calendar's: date() raises OverflowError for them
        "GPZDA,201530.00,99999999999999999999,07,2002,00,00",
        "GPRMC,083601.00,A,4717.11437,N,00833.91522,E,0.004,77.52,99999999999999999999,,,A",
    ):
        assert reason(parse, nmea(bad)) == "syntax"


@pytest.mark.parametrize("offset", [1e300, -1e300, 1e12, -1e12])
def test_a_simulated_clock_offset_past_the_dates_an_rmc_holds_is_sent_at_their_end(
    offset: float,
) -> None:
    """A channel's signal may run a clock offset past any date (the middle and a quarter of
    a filter of -1e308 to 1e308): the simulated receiver's clock stops at the first or last
    second whose date gives an offset, instead of the date's OverflowError failing the
    simulated port at every frame. The first second is GPS week 1's: a date before it reads
    as a receiver's power-up default, which gives no offset."""
    spec = FormatSpec("nmea", (("rmc", "RMC.clock_offset"), ("zda", "ZDA.clock_offset")))
    codec = codec_for("nmea")
    frames = codec.encoder(spec)({"RMC.clock_offset": offset, "ZDA.clock_offset": offset}, 0.0)
    host = 1_764_667_390.0  # 2025-12-02 09:23:10 UTC
    parse = codec.sensor_decoder(spec, lambda: host)
    end = (
        datetime(2079, 12, 31, 23, 59, 59, tzinfo=UTC)
        if offset > 0
        else datetime(1980, 1, 13, tzinfo=UTC)
    )
    read = [pair for frame in frames for pair in parse(frame)]
    assert read == [("rmc", end.timestamp() - host), ("zda", end.timestamp() - host)]


def test_a_receiver_with_the_gps_week_rollover_bug_has_its_clock_offset_corrected() -> None:
    """A receiver whose firmware predates the 2019-04-07 rollover of GPS's 10-bit week number
    dates its fixes 1024 weeks early (2025-12-02 as 2006-04-18): its clock offset is read
    with the 1024 weeks added back, as gpsd corrects it, whether the host's clock is right or
    off by days (up to 30); two rollovers behind (firmware from before 1999) likewise. An old date that is
    no whole number of rollovers behind (a replayed capture, a host clock months fast) is read
    as it is."""
    week = 7 * 86400.0
    spec = FormatSpec("nmea", (("zda", "ZDA.clock_offset"), ("rmc", "RMC.clock_offset")))
    host = [0.0]
    parse = codec_for("nmea").sensor_decoder(spec, lambda: host[0])
    real = 1_764_667_390.0  # 2025-12-02 09:23:10 UTC
    seconds = iter(range(50))  # each sentence a second of its own: a repeat is ignored

    def sentence(kind: str, behind: float) -> tuple[bytes, float]:
        """A ZDA or RMC dated ``behind`` seconds early, and the true time it stands for."""
        true = real + next(seconds)
        sent = datetime.fromtimestamp(true - behind, UTC)
        if kind == "zda":
            return nmea(f"GPZDA,{sent:%H%M%S}.00,{sent:%d},{sent:%m},{sent:%Y},00,00"), true
        fix = "A,4717.11437,N,00833.91522,E,0.004,77.52"
        return nmea(f"GPRMC,{sent:%H%M%S}.00,{fix},{sent:%d%m%y},,,A"), true

    assert datetime.fromtimestamp(real - 1024 * week, UTC).date() == date(2006, 4, 18)
    for host_error in (0.25, -3 * 86400.0, 20 * 86400.0):
        for kind in ("zda", "rmc"):
            frame, true = sentence(kind, 1024 * week)
            host[0] = true - host_error
            assert parse(frame) == [(kind, host_error)]
    # two rollovers behind: 1986-09-02 for 2025-12-02
    frame, host[0] = sentence("zda", 2048 * week)
    assert parse(frame) == [("zda", 0.0)]
    # a year behind, or a rollover and 40 days or a year behind (a receiver's made-up date
    # before it knows the time): no rollover, read as sent
    for behind in (365 * 86400.0, 1024 * week + 40 * 86400.0, 1024 * week + 365 * 86400.0):
        frame, host[0] = sentence("zda", behind)
        assert parse(frame) == [("zda", -behind)]


def test_gsv_groups_give_satellites_in_view_and_snr_when_whole() -> None:
    parse = decoder("GSV.in_view_gps", "GSV.snr_mean_gps", "GSV.snr_max_gps", "GSV.in_view_glonass")
    assert parse(GSV_GROUP[0]) == []
    assert parse(GSV_GROUP[1]) == []
    readings = dict(parse(GSV_GROUP[2]))
    # 00 is a satellite in view but not tracked (Garmin, SiRF, Haicom): no SNR, as an empty
    # field; the mean is over the four tracked ones
    assert readings == {
        "GSV.in_view_gps": 11.0,
        "GSV.snr_mean_gps": pytest.approx((39 + 40 + 42 + 43) / 4),
        "GSV.snr_max_gps": 43.0,
    }
    # another constellation's group is assembled apart
    assert parse(nmea("GLGSV,1,1,02,65,45,123,40,66,30,200,")) == [("GSV.in_view_glonass", 2.0)]
    assert parse(b"$GPGSV,1,1,00*79") == [("GSV.in_view_gps", 0.0)]


GSV_FIELDS = tuple(
    f"GSV.{stat}_{c}"
    for c in ("gps", "glonass", "beidou", "qzss")
    for stat in ("in_view", "snr_mean", "snr_max")
)


def test_gsv_of_a_talker_without_constellation_is_read_by_satellite_numbers() -> None:
    parse = decoder(*GSV_FIELDS)
    # GN sent for GLONASS alone: the group is GLONASS's, in view as its field says
    glonass = nmea("GNGSV,1,1,03,65,34,047,31,67,09,320,28,80,44,236,40")
    assert dict(parse(glonass)) == {
        "GSV.in_view_glonass": 3.0,
        "GSV.snr_mean_glonass": pytest.approx(33.0),
        "GSV.snr_max_glonass": 40.0,
    }
    # a group of several constellations over two sentences: each its own satellites; the
    # SBAS satellite (46) counts for none, the empty quadruple for nothing
    assert parse(nmea("GNGSV,2,1,05,05,40,083,46,71,17,308,41,46,07,344,39,12,22,228,45")) == []
    assert dict(parse(nmea("GNGSV,2,2,05,70,10,100,,,,,"))) == {
        "GSV.in_view_gps": 2.0,
        "GSV.snr_mean_gps": pytest.approx(45.5),
        "GSV.snr_max_gps": 46.0,
        "GSV.in_view_glonass": 2.0,
        "GSV.snr_mean_glonass": 41.0,
        "GSV.snr_max_glonass": 41.0,
    }
    # nothing in view: no constellation to report for
    assert parse(nmea("GNGSV,1,1,00")) == []
    # a GN group cut short is counted like any other
    assert parse(nmea("GNGSV,2,1,05,05,40,083,46,71,17,308,41,46,07,344,39,12,22,228,45")) == []
    assert reason(parse, nmea("GNGSV,1,1,01,65,34,047,31")) == "truncated"


def test_sbas_and_qzss_in_gps_sentences_are_not_gps() -> None:
    """GPS sentences number SBAS at 33-64 (and 120-158) and, on u-blox receivers, QZSS at
    193-197 (NMEA 4.1 extended numbering, under system ID 1): neither is a GPS satellite."""
    parse = decoder(*GSV_FIELDS, *USED)
    # NMEA 4.10, u-blox: system ID 1 with SBAS 44 and QZSS 193 among the GPS satellites
    gsa = nmea("GNGSA,A,3,05,12,44,193,24,,,,,,,,1.5,0.9,1.2,1")
    assert dict(parse(gsa)) == {"GSA.used_gps": 3.0, "GSA.used_qzss": 1.0}
    # QZSS's PRNs run to 202 (IS-QZSS; Nordic's nRF91 numbers QZSS 193-202 in its GPS
    # sentences): QZS-3 at 199, and 200 and 202, are QZSS, not GPS
    gsa = nmea("GNGSA,A,3,05,199,195,200,202,12,,,,,,,1.5,0.9,1.2,1")
    assert dict(parse(gsa)) == {"GSA.used_gps": 2.0, "GSA.used_qzss": 4.0}
    # system ID 1 listing SBAS satellites only: no GPS satellite used
    assert parse(nmea("GNGSA,A,3,44,,,,,,,,,,,,1.5,0.9,1.2,1")) == [("GSA.used_gps", 0.0)]
    # NMEA 4.0 and earlier: talker GP, the numbers say which satellite is which
    assert parse(nmea("GPGSA,A,3,05,46,,,,,,,,,,,1.9,1.1,1.5")) == [("GSA.used_gps", 1.0)]
    assert parse(nmea("GPGSA,A,3,46,,,,,,,,,,,,1.9,1.1,1.5")) == [("GSA.used_gps", 0.0)]
    # a u-blox receiver whose main talker ID is GP: one GPGSA per constellation
    assert parse(nmea("GPGSA,A,3,65,67,,,,,,,,,,,1.9,1.1,1.5")) == [("GSA.used_glonass", 2.0)]
    # a GP group: its GPS and its other satellites each counted, SBAS (46) for none
    assert dict(
        parse(nmea("GPGSV,1,1,04,05,40,083,46,46,07,344,39,12,22,228,45,193,58,085,38"))
    ) == {
        "GSV.in_view_gps": 2.0,
        "GSV.snr_mean_gps": pytest.approx(45.5),
        "GSV.snr_max_gps": 46.0,
        "GSV.in_view_qzss": 1.0,
        "GSV.snr_mean_qzss": 38.0,
        "GSV.snr_max_qzss": 38.0,
    }
    # a GP group of SBAS satellites only, or of none, is GPS's: none of it in view
    assert parse(nmea("GPGSV,1,1,01,46,07,344,39")) == [("GSV.in_view_gps", 0.0)]
    assert parse(nmea("GPGSV,1,1,00")) == [("GSV.in_view_gps", 0.0)]


def test_sbas_satellites_in_view_are_counted_apart_as_gpsd_counts_them() -> None:
    """GSV's ``<statistic>_sbas`` channels read the SBAS satellites (33-64, or their PRN
    120-158) that GPS and ``GN`` groups list: the ``in_view_`` channels add up to the
    satellites in view, as gpsd's SKY ``nSat`` counts them. Quectel's ``PQ`` numbers are
    BeiDou's, never SBAS."""
    parse = decoder(*GSV_FIELDS, "GSV.in_view_sbas", "GSV.snr_mean_sbas", "GSV.snr_max_sbas")
    # a GP group of GPS and SBAS satellites (a u-blox 6 with EGNOS 120 and 124 as 33 and 37)
    assert dict(parse(nmea("GPGSV,1,1,04,05,40,083,46,33,30,200,41,12,22,228,45,37,28,190,"))) == {
        "GSV.in_view_gps": 2.0,
        "GSV.snr_mean_gps": pytest.approx(45.5),
        "GSV.snr_max_gps": 46.0,
        "GSV.in_view_sbas": 2.0,
        "GSV.snr_mean_sbas": 41.0,
        "GSV.snr_max_sbas": 41.0,
    }
    # a GP group of SBAS satellites only, numbered by PRN: GPS has none in view, its reading
    # first, as the talker's constellation
    assert parse(nmea("GPGSV,1,1,02,133,30,200,38,138,28,190,36")) == [
        ("GSV.in_view_gps", 0.0),
        ("GSV.in_view_sbas", 2.0),
        ("GSV.snr_mean_sbas", 37.0),
        ("GSV.snr_max_sbas", 38.0),
    ]
    # a GN group of SBAS satellites only: its in-view field
    assert parse(nmea("GNGSV,1,1,01,44,07,344,")) == [("GSV.in_view_sbas", 1.0)]
    # PQ's 33 to 63 are BeiDou's, no SBAS
    assert dict(parse(nmea("PQGSV,1,1,02,05,34,137,30,40,06,045,31,0,4"))) == {
        "GSV.in_view_beidou": 2.0,
        "GSV.snr_mean_beidou": 30.5,
        "GSV.snr_max_beidou": 31.0,
    }


def test_the_encoder_numbers_gps_satellites_within_gps() -> None:
    """The simulator sends at most 32 GPS satellites: 33-64 would be SBAS."""
    spec = FormatSpec("nmea", (("gps", "GSV.in_view_gps"), ("glo", "GSV.in_view_glonass")))
    codec = codec_for("nmea")
    parse = codec.decoder(spec)
    frames = codec.encoder(spec)({"GSV.in_view_gps": 34.0, "GSV.in_view_glonass": 34.0}, 0.0)
    gps = [frame for frame in frames if frame.startswith(b"$GPGSV,")]
    assert gps[-1].startswith(b"$GPGSV,8,8,32,29,")
    assert frames[-1].startswith(b"$GLGSV,9,9,34,97,")
    readings = [pair for frame in frames for pair in parse(frame)]
    assert readings == [("gps", 32.0), ("glo", 34.0)]


def test_the_encoder_keeps_xdr_sentences_within_82_characters() -> None:
    """NMEA 0183 (4.10, section 5.3) allows a sentence at most 82 characters from ``$`` to
    CR LF. Four weather transducers with their names (a station's barometer, air temperature,
    humidity and pitch, values as such a station prints them) do not fit in one XDR sentence,
    so the simulated station sends them over two; a transducer whose quadruple alone is
    longer still goes out, in a sentence of its own."""
    names = ["Barometer", "AirTemp", "Humidity", "Pitch", "Roll", "N" * 80]
    spec = FormatSpec("nmea", tuple((name, f"XDR.{name}") for name in names))
    codec = codec_for("nmea")
    readings_sent = [1013.2, -21.5, 87.3, -2.5, 1.25, 7.0]
    values = dict(zip((f"XDR.{name}" for name in names), readings_sent, strict=True))
    frames = codec.encoder(spec)(values, 0.0)
    assert all(len(frame) + 2 <= 82 for frame in frames[:-1]), frames
    assert frames[-1] == nmea(f"YXXDR,G,7.000,,{'N' * 80}")
    parse = codec.decoder(spec)
    readings = [pair for frame in frames for pair in parse(frame)]
    assert sorted(readings) == sorted(zip(names, readings_sent, strict=True))
    assert len(frames) == 3


def test_quectel_pq_sentences_are_qzss_at_193_and_beidou_below_33() -> None:
    parse = decoder(*GSV_FIELDS, "GSA.used_qzss", "GSA.used_beidou", "GSA.used_gps")
    assert dict(parse(nmea("PQGSV,1,1,01,193,58,085,38"))) == {
        "GSV.in_view_qzss": 1.0,
        "GSV.snr_mean_qzss": 38.0,
        "GSV.snr_max_qzss": 38.0,
    }
    assert parse(nmea("PQGSA,A,3,193,,,,,,,,,,,,1.6,0.9,1.3")) == [("GSA.used_qzss", 1.0)]
    assert dict(parse(nmea("PQGSV,1,1,02,02,20,116,33,07,06,045,,0,4"))) == {
        "GSV.in_view_beidou": 2.0,
        "GSV.snr_mean_beidou": 33.0,
        "GSV.snr_max_beidou": 33.0,
    }
    assert parse(nmea("PQGSA,A,3,02,07,,,,,,,,,,,1.6,0.9,1.3")) == [("GSA.used_beidou", 2.0)]
    # the system ID after the signal ID names the group's constellation: 5 QZSS, numbered from
    # 1 as NMEA 4.11 numbers it (gpsd's nmeaid_to_prn), 4 BeiDou; a group of none in view reads 0
    assert dict(parse(nmea("PQGSV,1,1,02,02,38,145,33,07,21,160,24,0,5"))) == {
        "GSV.in_view_qzss": 2.0,
        "GSV.snr_mean_qzss": 28.5,
        "GSV.snr_max_qzss": 33.0,
    }
    assert parse(nmea("PQGSV,1,1,00,0,5")) == [("GSV.in_view_qzss", 0.0)]
    assert parse(nmea("PQGSV,1,1,01,02,20,116,33,0,4"))[0] == ("GSV.in_view_beidou", 1.0)


def test_quectel_pq_satellites_up_to_63_are_beidou() -> None:
    """BeiDou's PRNs run to 63 (BDS-3's satellites past C32): on Quectel's ``PQ`` talker,
    which numbers BeiDou from 1, 33-63 are BeiDou too, in GSA and GSV, never SBAS."""
    parse = decoder(*GSV_FIELDS, "GSA.used_beidou", "GSA.used_gps", "GSV.in_view_sbas")
    assert parse(nmea("PQGSA,A,3,05,34,59,63,,,,,,,,,1.6,0.9,1.3")) == [("GSA.used_beidou", 4.0)]
    assert dict(parse(nmea("PQGSV,1,1,03,05,34,137,30,40,06,045,31,63,20,116,33,0,4"))) == {
        "GSV.in_view_beidou": 3.0,
        "GSV.snr_mean_beidou": pytest.approx(31.333, abs=1e-3),
        "GSV.snr_max_beidou": 33.0,
    }
    # nor is 0 (a satellite field some receivers fill with zeros): no satellite, as an entry
    # without a number is none, the group BeiDou's alone, in view as its field says
    zero = parse(nmea("PQGSV,1,1,03,05,34,137,30,00,,,,40,06,045,31,0,4"))
    assert zero[0] == ("GSV.in_view_beidou", 3.0)
    assert zero == parse(nmea("PQGSV,1,1,03,05,34,137,30,,,,,40,06,045,31,0,4"))
    # 64 is no BeiDou PRN: of no constellation there, and no SBAS
    assert parse(nmea("PQGSV,1,1,02,05,34,137,30,64,06,045,31")) == [
        ("GSV.in_view_beidou", 1.0),
        ("GSV.snr_mean_beidou", 30.0),
        ("GSV.snr_max_beidou", 30.0),
    ]
    # but under system ID 4 every satellite of the group is BeiDou's, as GSA's system ID makes
    # them and as gpsd counts them
    assert parse(nmea("PQGSV,1,1,02,05,34,137,30,64,06,045,31,0,4"))[0] == (
        "GSV.in_view_beidou",
        2.0,
    )


def test_gsv_groups_of_each_signal_are_assembled_apart_and_merged_by_epoch() -> None:
    """Groups of two signals, their sentences interleaved, are each assembled whole; the
    first epoch gives the readings of its first group (the first begun) and learns from the
    second that its epochs have two, the next gives the epoch's at its second group: 5
    distinct satellites, 01 at its best SNR, 46 on L1 (40 on L2), 12 at 43 on L2 (39 on L1)."""
    parse = decoder("GSV.in_view_gps", "GSV.snr_mean_gps", "GSV.snr_max_gps")
    l1_first = nmea("GPGSV,2,1,05,01,40,083,46,02,17,308,41,12,07,344,39,14,22,228,45,1")
    l1_last = nmea("GPGSV,2,2,05,15,10,100,30,1")
    l2 = nmea("GPGSV,1,1,02,01,40,083,40,12,07,344,43,6")  # NMEA 4.10 signal ID 6: L2 CL
    gga = nmea("GPGGA,092725.00,4717.11399,N,00833.91590,E,1,08,1.01,499.6,M,48.0,M,,")
    assert parse(l1_first) == []
    assert parse(l2) == []  # the epoch's second group: no second reading in the epoch
    assert parse(l1_last) == [
        ("GSV.in_view_gps", 5.0),
        ("GSV.snr_mean_gps", 40.2),
        ("GSV.snr_max_gps", 46.0),
    ]
    assert parse(gga) == []
    assert parse(l1_first) == []
    assert parse(l2) == []  # one group of two
    # 01 at 46, 02 at 41, 12 at 43 (L2; 39 on L1), 14 at 45, 15 at 30
    assert parse(l1_last) == [
        ("GSV.in_view_gps", 5.0),
        ("GSV.snr_mean_gps", 41.0),
        ("GSV.snr_max_gps", 46.0),
    ]


#: A dual-band receiver's GPS groups, L1 C/A (signal ID 1) and L5 (signal ID 7), and the GGA
#: and GLL around them.
DUAL_L1 = nmea("GPGSV,1,1,03,05,40,083,46,12,17,308,41,25,07,344,39,1")
DUAL_L5 = nmea("GPGSV,1,1,02,05,40,083,44,30,22,228,49,7")
DUAL_GLL = nmea("GNGLL,4717.11364,N,00833.91565,E,092321.00,A,A")


def dual_gga(second: int) -> bytes:
    """The dual-band receiver's GGA at 09:27:``second``."""
    return nmea(f"GPGGA,0927{second:02d}.00,4717.11399,N,00833.91590,E,1,08,1.01,499.6,M,48.0,M,,")


def test_a_gp_talkers_groups_of_two_signals_merge_gps_qzss_and_sbas_each_apart() -> None:
    """A u-blox ZED-F9P set to NMEA 4.10 numbers QZSS (193-197) and SBAS (33-64) in its GPS
    groups (ZED-F9P Interface Description, appendix "Satellite numbering"): its ``$GPGSV`` L1
    C/A group (signal ID 1) lists GPS 05 and 12, EGNOS 46 and QZSS 193, its L2 CL group
    (signal ID 6) GPS 05 and 12 and QZSS 193 again. Each constellation's epoch reading is of
    its own satellites only, both read at the L2 group: 2 GPS satellites, not the 4 numbers
    the groups list, and QZSS 193 at its best SNR, 40 on L2. The first epoch's L1 group is
    read as sent, QZSS after the SBAS satellite no channel reads."""
    parse = decoder("GSV.in_view_gps", "GSV.snr_max_gps", "GSV.in_view_qzss", "GSV.snr_max_qzss")
    l1 = nmea("GPGSV,1,1,04,05,40,083,46,12,17,308,41,46,30,200,41,193,58,085,38,1")
    l2 = nmea("GPGSV,1,1,03,05,40,083,33,12,17,308,44,193,58,085,40,6")
    assert parse(l1) == [
        ("GSV.in_view_gps", 2.0),
        ("GSV.snr_max_gps", 46.0),
        ("GSV.in_view_qzss", 1.0),
        ("GSV.snr_max_qzss", 38.0),
    ]
    assert parse(l2) == []  # the second signal ID: the epoch's second group
    assert parse(dual_gga(1)) == []
    for second in (2, 3):
        assert parse(l1) == []
        assert parse(l2) == [
            ("GSV.in_view_gps", 2.0),
            ("GSV.snr_max_gps", 46.0),
            ("GSV.in_view_qzss", 1.0),
            ("GSV.snr_max_qzss", 40.0),
        ]
        assert parse(dual_gga(second)) == []


def test_a_satellite_number_with_or_without_its_leading_zero_is_one_satellite() -> None:
    """Some receivers write satellite numbers without their leading zero (a Jackson Labs
    Micro JLT's u-blox 8 lists ``27,9,20,5`` in its GSA): an epoch's groups merge a satellite
    by its number, ``05`` and ``5`` being one, and ``1`` and ``10`` two."""
    parse = decoder("GSV.in_view_gps", "GSV.snr_mean_gps")
    l1 = nmea("GPGSV,1,1,04,1,40,083,46,5,17,308,41,10,07,344,39,25,22,228,45,1")
    l5 = nmea("GPGSV,1,1,03,01,40,083,44,05,17,308,47,30,22,228,49,7")
    for frame in (l1, l5, dual_gga(1), l1):
        parse(frame)
    # 1 at 46, 5 at 47 (on L5), 10 at 39, 25 at 45 and 30 at 49
    assert parse(l5) == [("GSV.in_view_gps", 5.0), ("GSV.snr_mean_gps", 45.2)]


def test_a_dual_band_epoch_without_its_second_group_gives_its_reading_at_its_end() -> None:
    """Once the epochs have had two GPS groups, an epoch with the L1 group alone (no satellite
    left on L5) gives its reading at the frame after the GSV sentences, in its epoch, not at
    the next epoch's; its readings come with that frame's own."""
    parse = decoder("GSV.in_view_gps", "GSV.snr_max_gps", "GGA.altitude")
    assert parse(DUAL_L1) == [("GSV.in_view_gps", 3.0), ("GSV.snr_max_gps", 46.0)]
    assert parse(DUAL_L5) == []  # the first epoch's reading was its first group's
    assert parse(dual_gga(1)) == [("GGA.altitude", 499.6)]
    assert parse(DUAL_L1) == []
    assert parse(DUAL_L5) == [("GSV.in_view_gps", 4.0), ("GSV.snr_max_gps", 49.0)]
    assert parse(DUAL_GLL) == []  # no channel reads GLL; the epoch gave its reading
    assert parse(dual_gga(2)) == [("GGA.altitude", 499.6)]
    assert parse(DUAL_L1) == []  # one of two
    assert parse(DUAL_GLL) == [("GSV.in_view_gps", 3.0), ("GSV.snr_max_gps", 46.0)]
    assert parse(nmea("PUBX,00")) == []
    assert parse(DUAL_L1) == []
    assert parse(dual_gga(3)) == [
        ("GGA.altitude", 499.6),
        ("GSV.in_view_gps", 3.0),
        ("GSV.snr_max_gps", 46.0),
    ]
    assert parse(DUAL_L1) == []
    assert parse(nmea("PUBX,00")) == [("GSV.in_view_gps", 3.0), ("GSV.snr_max_gps", 46.0)]


def test_a_dual_band_epoch_short_of_a_group_that_lost_a_sentence_gives_nothing() -> None:
    """A GSV sentence lost in an epoch (a checksum that fails) may be of the constellation
    whose epoch is short of a group: its merge would be short of satellites, and it gives
    no reading; the next epoch reads as ever."""
    parse = decoder("GSV.in_view_gps", "GSV.in_view_glonass")
    glonass = nmea("GLGSV,1,1,02,65,40,083,46,66,17,308,41,1")
    for frame in (DUAL_L1, DUAL_L5, DUAL_GLL, DUAL_L1, DUAL_L5, DUAL_GLL):
        parse(frame)
    assert parse(DUAL_L1) == []
    assert reason(parse, DUAL_L5[:-1] + b"0") == "checksum"
    assert parse(glonass) == []  # its talker's first group: held to the epoch's end
    assert parse(DUAL_GLL) == [("GSV.in_view_glonass", 2.0)]
    assert parse(DUAL_L1) == []
    assert parse(DUAL_GLL) == [("GSV.in_view_gps", 3.0)]  # short, nothing lost


def test_a_band_left_out_of_five_epochs_in_a_row_holds_no_reading_to_the_epochs_end() -> None:
    """A receiver that sends GPS L1, L2 and L5 groups, then L1 and L5 alone (reconfigured, or
    its satellites on L2 lost): an epoch short of L2 gives its reading at its end, but the
    fifth in a row makes two GPS groups the epoch's most, and the reading comes at the L5
    group again, which a GSV sentence lost after it in the epoch no longer costs. An epoch or
    two without L2 keeps three the most; L2 back after five gives the reading at its second
    group, of L1 and L2 (3 satellites), the L5 group after it none, and the next epoch's is
    of three groups again."""
    parse = decoder("GSV.in_view_gps", "GSV.in_view_glonass")
    l2 = nmea("GPGSV,1,1,02,05,40,083,38,12,17,308,35,6")
    glonass_damaged = nmea("GLGSV,1,1,02,65,40,083,46,66,17,308,41,1")[:-1] + b"0"
    gps = [("GSV.in_view_gps", 4.0)]
    for frame in (DUAL_L1, l2, DUAL_L5, DUAL_GLL) * 2:
        parse(frame)
    assert [parse(frame) for frame in (DUAL_L1, DUAL_L5, DUAL_GLL)] == [[], [], gps]
    assert [parse(frame) for frame in (DUAL_L1, l2, DUAL_L5, DUAL_GLL)] == [[], [], gps, []]
    for _ in range(5):
        assert [parse(frame) for frame in (DUAL_L1, DUAL_L5, DUAL_GLL)] == [[], [], gps]
    assert [parse(frame) for frame in (DUAL_L1, DUAL_L5)] == [[], gps]
    assert reason(parse, glonass_damaged) == "checksum"
    assert parse(DUAL_GLL) == []
    got = [parse(frame) for frame in (DUAL_L1, l2, DUAL_L5, DUAL_GLL, DUAL_L1, l2, DUAL_L5)]
    assert got == [[], [("GSV.in_view_gps", 3.0)], [], [], [], [], gps]


def test_a_stream_of_gsv_alone_of_two_signals_gives_one_reading_an_epoch() -> None:
    """Without a frame of another kind between epochs, a group of a signal the epoch has had
    begins the next epoch."""
    parse = decoder("GSV.in_view_gps")
    got = [parse(frame) for frame in (DUAL_L1, DUAL_L5) * 4]
    assert got == [[("GSV.in_view_gps", 3.0)], [], *[[], [("GSV.in_view_gps", 4.0)]] * 3]


def test_a_stream_of_gsv_alone_gives_an_epoch_short_of_a_band_at_the_next_epochs_start() -> None:
    """In a stream of GSV alone, an epoch without its L5 group gives its L1 reading at the
    next epoch's first group, but not one that lost a sentence (its L5 group's checksum
    fails); the loss is that epoch's only. The fifth short epoch in a row makes one group
    the most: its reading and the next epoch's come at that epoch's L1 group, and every
    L1 group gives its own from then on."""
    parse = decoder("GSV.in_view_gps")
    l1 = [("GSV.in_view_gps", 3.0)]
    assert [parse(frame) for frame in (DUAL_L1, DUAL_L5, DUAL_L1)] == [l1, [], []]
    assert reason(parse, DUAL_L5[:-1] + b"0") == "checksum"
    assert [parse(frame) for frame in (DUAL_L1, DUAL_L1, DUAL_L5)] == [
        [],  # the epoch that lost its L5 group's sentence: nothing
        l1,  # the one short of its L5 group, nothing lost
        [("GSV.in_view_gps", 4.0)],
    ]
    got = [parse(DUAL_L1) for _ in range(7)]
    assert got == [[], l1, l1, l1, l1, l1 + l1, l1]


def test_a_stream_of_gsv_alone_counts_each_loss_after_an_epoch_short_of_a_band() -> None:
    """In a stream of GSV alone, an epoch short of its L5 group before any loss gives its L1
    reading at the next epoch's first group; the next two epochs each lose their L5 group's
    sentence (its checksum fails): neither gives a reading, the second's loss told from the
    first's, which came before that epoch began; the epoch after them, whole, gives its
    reading at its L5 group."""
    parse = decoder("GSV.in_view_gps")
    l1 = [("GSV.in_view_gps", 3.0)]
    damaged_l5 = DUAL_L5[:-1] + b"0"
    assert [parse(frame) for frame in (DUAL_L1, DUAL_L5, DUAL_L1, DUAL_L1)] == [l1, [], [], l1]
    for _ in range(2):
        assert reason(parse, damaged_l5) == "checksum"
        assert parse(DUAL_L1) == []  # the epoch that lost its L5 group's sentence: nothing
    assert parse(DUAL_L5) == [("GSV.in_view_gps", 4.0)]


def test_a_stream_of_gsv_alone_counts_a_loss_before_an_epochs_last_group_in_that_epoch() -> None:
    """In a stream of GSV alone, a sentence lost before an epoch's L5 group (a GLONASS one
    whose talker is damaged) is that epoch's, which gives its reading at its L5 group as
    ever: the next epoch, short of its L5 group and whole, gives its L1 reading at the
    start of the epoch after it."""
    parse = decoder("GSV.in_view_gps")
    lost = nmea("GLGSV,1,1,02,65,40,083,46,66,17,308,41,1").replace(b"$GL", b"$0L")
    assert [parse(frame) for frame in (DUAL_L1, DUAL_L5, DUAL_L1)] == [
        [("GSV.in_view_gps", 3.0)],
        [],
        [],
    ]
    assert reason(parse, lost) == "checksum"
    got = [parse(frame) for frame in (DUAL_L5, DUAL_L1, DUAL_L1, DUAL_L5)]
    assert got == [
        [("GSV.in_view_gps", 4.0)],
        [],
        [("GSV.in_view_gps", 3.0)],
        [("GSV.in_view_gps", 4.0)],
    ]


def test_a_dual_band_epoch_short_of_a_group_ends_at_a_sentence_read_for_nothing() -> None:
    """A receiver without a fix (its RMC and GLL of status V), or one that repeats its last
    GGA, ends the GSV epoch with a sentence that gives nothing: the epoch short of its L5
    group gives its reading there, in its epoch, not at the next epoch's GSV sentences."""
    parse = decoder("GSV.in_view_gps", "RMC.speed", "GLL.latitude", "GGA.altitude")
    rmc_void = nmea("GPRMC,092725.00,V,,,,,,,290322,,,N")
    gll_void = nmea("GPGLL,,,,,092725.00,V,N")
    for frame in (DUAL_L1, DUAL_L5, rmc_void, DUAL_L1, DUAL_L5, rmc_void):
        parse(frame)
    assert parse(DUAL_L1) == []
    assert parse(rmc_void) == [("GSV.in_view_gps", 3.0)]
    assert parse(DUAL_L1) == []
    assert parse(gll_void) == [("GSV.in_view_gps", 3.0)]
    assert parse(dual_gga(4)) == [("GGA.altitude", 499.6)]
    assert parse(DUAL_L1) == []
    assert parse(dual_gga(4)) == [("GSV.in_view_gps", 3.0)]  # a repeat: the fix ignored
    assert parse(DUAL_L1) == []
    assert parse(DUAL_L5) == [("GSV.in_view_gps", 4.0)]


def test_a_port_opened_between_a_dual_band_epochs_groups_merges_from_its_next_epoch() -> None:
    """A port opened after the L1 group of an epoch: the L5 group is read as sent, and the
    next epoch, whose L1 group is the first of the talker's of another signal, gives the
    reading of its L1 and L5 groups at the L5 group, not of its L5 group alone at its end."""
    parse = decoder("GSV.in_view_gps", "GSV.snr_max_gps", "GGA.altitude")
    assert parse(DUAL_L5) == [("GSV.in_view_gps", 2.0), ("GSV.snr_max_gps", 49.0)]
    assert parse(dual_gga(1)) == [("GGA.altitude", 499.6)]
    assert parse(DUAL_L1) == []
    assert parse(DUAL_L5) == [("GSV.in_view_gps", 4.0), ("GSV.snr_max_gps", 49.0)]
    assert parse(dual_gga(2)) == [("GGA.altitude", 499.6)]
    assert parse(DUAL_L1) == []
    assert parse(DUAL_L5) == [("GSV.in_view_gps", 4.0), ("GSV.snr_max_gps", 49.0)]
    assert parse(dual_gga(3)) == [("GGA.altitude", 499.6)]
    assert parse(DUAL_L1) == []
    assert parse(dual_gga(4)) == [
        ("GGA.altitude", 499.6),
        ("GSV.in_view_gps", 3.0),
        ("GSV.snr_max_gps", 46.0),
    ]


def test_groups_read_alone_after_a_lost_teaching_group_give_no_reading_at_the_first_frame() -> None:
    """A stream of GSV alone until its first GGA (a receiver whose other sentences are
    switched on later), of GPS L1 and L2 groups of two sentences each: the first epoch's two
    groups each lose their second sentence without a trace, each cut by the next epoch's
    group of its signal (counted). The L2 group that would have taught the talker's second
    signal is lost: the next epoch's L1 group gives its reading as the epoch's whole, and so
    does its L2 group, of its own satellites (the epoch's L2 group lost a sentence: the next
    one begins another epoch). The GGA after them, the stream's first frame of another
    kind, gives no third reading of that epoch."""
    parse = decoder("GSV.in_view_gps", "GSV.snr_max_gps")
    l1 = [
        nmea("GPGSV,2,1,05,01,40,083,46,02,17,308,41,12,07,344,39,14,22,228,45,1"),
        nmea("GPGSV,2,2,05,15,10,100,30,1"),
    ]
    l2 = [
        nmea("GPGSV,2,1,05,01,40,083,40,12,07,344,43,02,17,308,30,14,22,228,20,6"),
        nmea("GPGSV,2,2,05,16,10,100,31,6"),
    ]
    assert parse(l1[0]) == []
    assert parse(l2[0]) == []
    assert reason(parse, l1[0]) == "truncated"
    assert parse(l1[1]) == [("GSV.in_view_gps", 5.0), ("GSV.snr_max_gps", 46.0)]
    assert reason(parse, l2[0]) == "truncated"
    assert parse(l2[1]) == [("GSV.in_view_gps", 5.0), ("GSV.snr_max_gps", 43.0)]
    assert parse(dual_gga(1)) == []


def test_a_loss_counted_at_a_cut_is_the_epoch_s_before_the_group_that_cut_it() -> None:
    """A receiver of three GPS signals sending GSV alone (L1 and L2 in two sentences each, L5
    in one), its port opened at an epoch's L2 group, which loses its second sentence without
    a trace (a line cut within its ``$``); the L5 group after it teaches the talker's second
    signal (two groups an epoch, so far). The next epoch's L1 group loses its second sentence
    too. Each lost group is cut by the next group of its signal (counted): that epoch's L2
    group cuts the first's, and its L2 and L5 groups give its reading at L5 (7 satellites);
    the third epoch's L1 group cuts the second's and begins the next epoch. The L2 group's
    loss was counted before the second epoch's reading, so it is none of the third epoch's:
    that epoch's L2 group joins its L1 group, and the reading is at the L2 group, of L1 and
    L2 (6 satellites), not of L2 and L5 at L5; its L5 group makes three the most, and the
    next epochs give the reading of all three (8 satellites) at their L5 group."""
    parse = decoder("GSV.in_view_gps")
    l1 = [
        nmea("GPGSV,2,1,05,01,40,083,46,02,17,308,41,12,07,344,39,14,22,228,45,1"),
        nmea("GPGSV,2,2,05,15,10,100,30,1"),
    ]
    l2 = [
        nmea("GPGSV,2,1,05,01,40,083,40,12,07,344,43,02,17,308,30,14,22,228,20,6"),
        nmea("GPGSV,2,2,05,16,10,100,31,6"),
    ]
    l5 = nmea("GPGSV,1,1,02,05,40,083,44,30,22,228,49,8")
    assert [parse(frame) for frame in (l2[0], l5, l1[0])] == [[], [], []]
    assert reason(parse, l2[0]) == "truncated"
    assert [parse(frame) for frame in (l2[1], l5)] == [[], [("GSV.in_view_gps", 7.0)]]
    assert reason(parse, l1[0]) == "truncated"
    got = [parse(frame) for frame in (l1[1], *l2, l5)]
    assert got == [[], [], [("GSV.in_view_gps", 6.0)], []]
    for _ in range(2):
        got = [parse(frame) for frame in (*l1, *l2, l5)]
        assert got == [[], [], [], [], [("GSV.in_view_gps", 8.0)]]


def test_a_port_opened_after_the_l1_group_of_three_signals_the_gga_after_lost_unseen() -> None:
    """A receiver of three GPS signals (L1, L2, L5; signal IDs 1, 6, 8) whose port opened
    after an epoch's L1 group, the GGA after that epoch lost without a trace: the next
    epoch's L1 group comes right after the first epoch's L5 group, and its L2 group, a
    signal the epoch has had (the first epoch's), is taken for the start of another epoch.
    At the next GGA, the first frame of another kind, that epoch of L2 and L5 is joined by
    the L1 group read before it, not by the first epoch's L5 group (whose satellite 31 the
    second epoch no longer tracks): 4 satellites, not 3 (L2 and L5 alone), nor 5. When that
    epoch lost a GSV sentence, it gives no reading, as any epoch that lost one."""
    parse = decoder("GSV.in_view_gps", "GSV.snr_max_gps")
    l1 = nmea("GPGSV,1,1,03,05,40,083,46,12,17,308,41,25,07,344,39,1")
    l2 = nmea("GPGSV,1,1,02,05,40,083,30,12,17,308,28,6")
    l5 = nmea("GPGSV,1,1,02,05,40,083,44,30,22,228,49,8")
    first_l5 = nmea("GPGSV,1,1,02,30,22,228,47,31,05,140,20,8")
    assert parse(l2) == [("GSV.in_view_gps", 2.0), ("GSV.snr_max_gps", 30.0)]
    assert parse(first_l5) == []  # teaches the talker's second signal
    for group in (l1, l2, l5):
        assert parse(group) == []
    assert parse(dual_gga(2)) == [("GSV.in_view_gps", 4.0), ("GSV.snr_max_gps", 49.0)]
    assert [parse(group) for group in (l1, l2, l5)] == [
        [],
        [],
        [("GSV.in_view_gps", 4.0), ("GSV.snr_max_gps", 49.0)],
    ]
    assert parse(dual_gga(3)) == []
    # a GSV sentence lost in that epoch (it may have been one of its groups'): no reading
    parse = decoder("GSV.in_view_gps", "GSV.snr_max_gps")
    for group in (l2, first_l5, l1, l2):
        parse(group)
    assert reason(parse, nmea("GPGSV,2,2,05,31,05,140,20,8")[:-2] + b"00") == "checksum"
    assert parse(l5) == []
    assert parse(dual_gga(2)) == []


#: One epoch of GSV groups of an ST Teseo LIV4F (L1 and L5), verbatim from gpsd's capture
#: test/daemon/st-teseo-liv4f.log (13:58:08): its GPS L1, Galileo E1 and BeiDou B1 groups,
#: then the L5, E5a and B2a ones, each group's last sentence filled up to four satellites
#: with empty fields, and its proprietary antenna report after them.
TESEO_LIV4F_GSV = [
    b"$GPGSV,3,1,10,16,71,196,25,27,64,299,34,23,44,092,22,26,44,172,25,1*60",
    b"$GPGSV,3,2,10,18,35,054,23,10,33,146,,08,27,286,38,07,14,316,42,1*63",
    b"$GPGSV,3,3,10,15,05,057,32,02,03,235,,,,,,,,,,1*62",
    b"$GAGSV,2,1,05,24,68,279,38,16,43,305,42,10,42,222,,25,20,312,36,7*7F",
    b"$GAGSV,2,2,05,11,15,224,,,,,,,,,,,,,,7*46",
    b"$BDGSV,4,1,13,12,81,342,22,44,61,062,28,34,57,269,41,25,45,271,45,1*7A",
    b"$BDGSV,4,2,13,11,33,259,32,24,32,198,,08,25,032,26,22,20,098,29,1*7B",
    b"$BDGSV,4,3,13,19,15,044,32,23,15,320,39,35,15,073,28,38,11,027,31,1*73",
    b"$BDGSV,4,4,13,43,09,259,35,,,,,,,,,,,,,1*41",
    b"$GPGSV,1,1,02,27,64,299,40,08,27,286,35,,,,,,,,,8*69",
    b"$GAGSV,1,1,03,24,68,279,37,16,43,305,42,25,20,312,36,,,,,1*46",
    b"$BDGSV,1,1,04,34,57,269,35,25,45,271,40,23,15,320,22,38,11,027,23,5*76",
    b"$PSTMANTENNASTATUS,0,0,0,0*51",
]


#: The channels the tests of :data:`TESEO_LIV4F_GSV` read.
TESEO_GSV_FIELDS = (
    "GSV.in_view_gps",
    "GSV.snr_mean_gps",
    "GSV.snr_max_gps",
    "GSV.in_view_galileo",
    "GSV.snr_mean_galileo",
    "GSV.in_view_beidou",
)
#: What :data:`TESEO_LIV4F_GSV` gives: GPS's readings of its L1 group alone, and of its L1 and
#: L5 groups (27 at its L5 SNR, 40), Galileo's of E1 and E5a, BeiDou's of B1 and B2a.
TESEO_GPS_L1 = [
    ("GSV.in_view_gps", 10.0),
    ("GSV.snr_mean_gps", (25 + 34 + 22 + 25 + 23 + 38 + 42 + 32) / 8),
    ("GSV.snr_max_gps", 42.0),
]
TESEO_GPS = [
    ("GSV.in_view_gps", 10.0),
    ("GSV.snr_mean_gps", (25 + 40 + 22 + 25 + 23 + 38 + 42 + 32) / 8),
    ("GSV.snr_max_gps", 42.0),
]
TESEO_GALILEO = [("GSV.in_view_galileo", 5.0), ("GSV.snr_mean_galileo", (38 + 42 + 36) / 3)]
TESEO_BEIDOU = [("GSV.in_view_beidou", 13.0)]
#: The readings of a :data:`TESEO_LIV4F_GSV` epoch after the first, at its L5, E5a and B2a
#: groups.
TESEO_READ = [TESEO_GPS, TESEO_GALILEO, TESEO_BEIDOU]


def test_a_teseo_liv4f_epochs_groups_filled_with_empty_fields_are_merged() -> None:
    """The Teseo LIV4F fills each group's last sentence with empty satellite fields: they
    list no satellite, on a talker of no constellation (``GP``) as on one of its own
    (``GA``), whether a group is read alone or merged with its epoch's others. The first
    epoch gives its first groups' readings; each epoch after it gives GPS's of L1 and L5 at
    its L5 group (27 at its L5 SNR, 40), Galileo's at E5a and BeiDou's at B2a. An epoch
    without the L5 group gives GPS's reading of L1 at its end, with the antenna report,
    while Galileo's and BeiDou's came at their second group as ever."""
    parse = decoder(*TESEO_GSV_FIELDS)
    gps_l1, gps, galileo, beidou = TESEO_GPS_L1, TESEO_GPS, TESEO_GALILEO, TESEO_BEIDOU
    first = [parse(frame) for frame in TESEO_LIV4F_GSV]
    assert first == [[], [], gps_l1, [], galileo, [], [], [], beidou, [], [], [], []]
    for _ in range(2):
        got = [parse(frame) for frame in TESEO_LIV4F_GSV]
        assert got == [*[[]] * 9, gps, galileo, beidou, []]
    without_l5 = [frame for frame in TESEO_LIV4F_GSV if not frame.startswith(b"$GPGSV,1,1")]
    got = [parse(frame) for frame in without_l5]
    assert got == [*[[]] * 9, galileo, beidou, gps_l1]


def test_a_teseo_epoch_joined_to_the_last_and_short_of_its_l1_group_gives_no_gps_reading() -> None:
    """Two damages in a row on a Teseo LIV4F: the antenna report, the one frame between two
    epochs' GSV groups, fails its checksum, and the next epoch's GPS L1 group loses its second
    sentence. Nothing marks the epochs' boundary: GPS's next epoch begins at its L5 group
    (a talker and signal the epoch has had), whose 2 satellites are not the 10 in view. That
    epoch lost the L1 group's sentence: it gives no GPS reading, Galileo's and BeiDou's
    come as ever, and it is no epoch short of a group, five of which in a row would make one
    GPS group the most (every epoch's reading then of L1 alone, at its L1 group)."""
    parse = decoder(*TESEO_GSV_FIELDS)
    *groups, antenna = TESEO_LIV4F_GSV
    antenna_damaged = antenna[:-1] + b"0"
    l1_second_damaged = groups[1][:-1] + b"0"
    whole = [*[[]] * 9, TESEO_GPS, TESEO_GALILEO, TESEO_BEIDOU]
    for frame in TESEO_LIV4F_GSV * 2:
        parse(frame)
    for _ in range(5):
        assert [parse(frame) for frame in groups] == whole
        assert reason(parse, antenna_damaged) == "checksum"
        assert parse(groups[0]) == []
        assert reason(parse, l1_second_damaged) == "checksum"
        got = [parse(frame) for frame in (*groups[2:], antenna)]
        assert got == [*[[]] * 8, TESEO_GALILEO, TESEO_BEIDOU, []]
    for _ in range(2):
        assert [parse(frame) for frame in TESEO_LIV4F_GSV] == [*whole, []]


def test_a_signals_group_that_lists_no_satellite_is_one_of_its_epochs_groups() -> None:
    """A u-blox receiver sends a group for each signal it is set to receive, one of no
    satellite when it tracks none on it (``$GPGSV,1,1,00,6``: nothing on L2 yet): GPS's
    group all the same, which teaches that GPS's epochs have two groups and whose place the
    epoch's reading comes at, of the L1 satellites; so it comes at the L2 group once L2
    lists satellites. The L1 and L2 groups are a ZED-F9P's (gpsd's capture
    test/daemon/ublox-zed-f9p-nmea.log, 00:39:56)."""
    parse = decoder("GSV.in_view_gps", "GSV.snr_max_gps")
    l1 = [
        b"$GPGSV,3,1,12,05,06,110,19,10,24,284,34,13,37,124,29,15,63,083,11,1*60",
        b"$GPGSV,3,2,12,16,11,248,10,20,52,273,34,21,79,231,30,24,07,045,,1*64",
        b"$GPGSV,3,3,12,26,04,276,,27,15,218,31,29,24,004,13,30,00,159,,1*69",
    ]
    l2 = [
        b"$GPGSV,3,1,12,05,06,110,,10,24,284,,13,37,124,,15,63,083,,6*63",
        b"$GPGSV,3,2,12,16,11,248,,20,52,273,,21,79,231,,24,07,045,,6*66",
        b"$GPGSV,3,3,12,26,04,276,,27,15,218,29,29,24,004,,30,00,159,,6*65",
    ]
    none_on_l2 = nmea("GPGSV,1,1,00,6")
    gll = b"$GNGLL,4552.65403,S,17030.00668,E,003956.00,A,A*6C"
    gps = [("GSV.in_view_gps", 12.0), ("GSV.snr_max_gps", 34.0)]
    assert [parse(frame) for frame in (*l1, none_on_l2, gll)] == [[], [], gps, [], []]
    assert [parse(frame) for frame in (*l1, none_on_l2, gll)] == [[], [], [], gps, []]
    assert [parse(frame) for frame in (*l1, *l2, gll)] == [[], [], [], [], [], gps, []]


def test_a_gsv_entry_without_satellite_number_is_no_satellite_alone_or_merged() -> None:
    """gpsd skips a GSV entry whose satellite number reads 0 (``processGSV`` in
    drivers/driver_nmea0183.c: "skip bogus fields"): an entry without a number is no
    satellite. On a talker that names its constellation, as on one that names none, its SNR
    counts in no SNR figure, whether its group is read alone or merged with the epoch's
    others. A ZED-F9P's GLONASS groups, L1 and L2 (signal ID 3), the L1 one with an entry
    of SNR 50 and no number."""
    parse = decoder("GSV.in_view_glonass", "GSV.snr_mean_glonass", "GSV.snr_max_glonass")
    l1 = nmea("GLGSV,1,1,04,65,53,144,30,,58,305,50,81,64,223,35,82,13,214,33,1")
    l2 = nmea("GLGSV,1,1,03,65,53,144,32,81,64,223,34,82,13,214,34,3")
    # read alone (the first epoch): in view as its field says, the SNRs of 65, 81 and 82
    assert parse(l1) == [
        ("GSV.in_view_glonass", 4.0),
        ("GSV.snr_mean_glonass", pytest.approx((30 + 35 + 33) / 3)),
        ("GSV.snr_max_glonass", 35.0),
    ]
    assert parse(l2) == []
    assert parse(UBLOX_GNGGA) == []
    assert parse(l1) == []
    # merged: 65 at 32 (on L2), 81 at 35 and 82 at 34 (on L2)
    assert parse(l2) == [
        ("GSV.in_view_glonass", 3.0),
        ("GSV.snr_mean_glonass", pytest.approx((32 + 35 + 34) / 3)),
        ("GSV.snr_max_glonass", 35.0),
    ]


#: The L1 and second-signal groups of a ZED-F9P's GLONASS (signal IDs 1 and 3) and GPS (1 and
#: 6), cut to three satellites each (gpsd's capture test/daemon/ublox-zed-f9p-nmea.log,
#: 00:39:56), the L1 group with a fourth entry of SNR 50 numbered ``{}``.
ZED_ZERO_ENTRY = {
    "GL": (
        "GLGSV,1,1,04,65,53,144,30,{},58,305,50,81,64,223,35,82,13,214,33,1",
        "GLGSV,1,1,03,65,53,144,32,81,64,223,34,82,13,214,34,3",
    ),
    "GP": (
        "GPGSV,1,1,04,05,06,110,19,{},58,305,50,10,24,284,34,13,37,124,29,1",
        "GPGSV,1,1,03,05,06,110,,10,24,284,,13,37,124,27,6",
    ),
}


@pytest.mark.parametrize("zero", ["00", "0"])
@pytest.mark.parametrize("talker", ["GL", "GP"], ids=["GL, of its own", "GP, by numbers"])
def test_a_gsv_entry_numbered_zero_is_no_satellite_alone_or_merged(talker: str, zero: str) -> None:
    """gpsd skips a GSV entry whose satellite number reads 0 (``processGSV`` in
    drivers/driver_nmea0183.c: ``atoi()`` of the field is 0, "skip bogus fields"): no
    satellite has number 0 (some encoders fill unused entries with zeros). Such an entry is
    read as one without a number on every talker, whether its group is read alone or merged
    with the epoch's others: its SNR in no figure, not counted in view when merged (a
    talker that names its constellation would count it), and on ``GP``, whose satellites
    are each of the constellation their number falls in, no satellite of no constellation
    (which would have its group's in-view count taken from its GPS entries, not from its
    in-view field). The epoch after the first merges the L1 group with the second signal's:
    three satellites, each at its best SNR."""
    name = {"GL": "glonass", "GP": "gps"}[talker]
    fields = [f"GSV.{stat}_{name}" for stat in ("in_view", "snr_mean", "snr_max")]
    l1, second = ZED_ZERO_ENTRY[talker]

    def epochs(number: str) -> list[list[tuple[str, float]]]:
        parse = decoder(*fields)
        frames = [nmea(l1.format(number)), nmea(second), UBLOX_GNGGA]
        return [parse(frame) for frame in frames * 2]

    alone, merged = {
        "GL": ([4.0, (30 + 35 + 33) / 3, 35.0], [3.0, (32 + 35 + 34) / 3, 35.0]),
        "GP": ([4.0, (19 + 34 + 29) / 3, 34.0], [3.0, (19 + 34 + 29) / 3, 34.0]),
    }[talker]
    got = epochs(zero)
    expected: list[list[tuple[str, Any]]] = [
        list(zip(fields, map(pytest.approx, alone), strict=True)),
        [],
        [],
        [],
        list(zip(fields, map(pytest.approx, merged), strict=True)),
        [],
    ]
    assert got == expected
    assert got == epochs("")


def test_gsv_signal_ids_are_one_digit_and_waiting_groups_are_bounded() -> None:
    """A damaged signal ID would open a waiting group of its own for every sentence (a
    receiver whose sentences come without checksum): it is a syntax error, and however many
    groups wait, only the newest few are kept."""
    parse = decoder("GSV.in_view_gps", "GSV.snr_max_gps")
    assert reason(parse, nmea("GPGSV,2,1,05,01,40,083,46,12")) == "syntax"
    groups = SatelliteGroups({"gps": [], "glonass": [], "galileo": []})
    for signal in "0123456789ABCDEF":
        for talker in ("GP", "GL", "GA"):
            assert (
                groups.feed([f"{talker}GSV", "2", "1", "05", "01", "40", "083", "46", signal]) == []
            )
    assert len(groups._pending) == _PENDING_GROUPS
    assert ("GA", "F") in groups._pending  # the newest stay
    assert ("GP", "0") not in groups._pending


def test_the_signals_whose_gsv_groups_lost_a_sentence_are_bounded() -> None:
    """Each group cut by its signal's next sentence 1 is kept as one its epoch has had (see
    ``SatelliteGroups._lost_keys``): in a stream of GSV alone, of talkers and signal IDs
    damaged without checksum, no more than the waiting groups' bound are kept at any time,
    the newest among them."""
    groups = SatelliteGroups({"gps": [], "glonass": [], "galileo": []})
    first = ["05", "01", "40", "083", "46"]
    most = 0
    for signal in "0123456789ABCDEF":
        for talker in ("GP", "GL", "GA"):
            groups.feed([f"{talker}GSV", "2", "1", *first, signal])
            with pytest.raises(ParseError, match="cut before its end"):
                groups.feed([f"{talker}GSV", "2", "1", *first, signal])
            most = max(most, len(groups._lost_keys))
    assert most == _PENDING_GROUPS
    assert 0 < len(groups._lost_keys) <= _PENDING_GROUPS
    assert ("GA", "F") in groups._lost_keys


def test_the_signals_that_began_gsv_groups_are_bounded() -> None:
    """The talkers and signal IDs whose groups have begun (``SatelliteGroups._opening``, whose
    sentences continue no group of another signal ID): in a stream of talkers and signal IDs
    damaged without checksum, no more than the waiting groups' bound are kept at any time,
    the newest among them."""
    groups = SatelliteGroups({"gps": [], "glonass": [], "galileo": []})
    most = 0
    for signal in "0123456789ABCDEF":
        for talker in ("GP", "GL", "GA"):
            groups.feed([f"{talker}GSV", "1", "1", "01", "01", "40", "083", "46", signal])
            most = max(most, len(groups._opening))
    assert most == _PENDING_GROUPS
    assert ("GA", "F") in groups._opening


def test_the_signals_that_continued_gsv_groups_are_bounded() -> None:
    """The talkers and signal IDs of which a sentence continued a group of its talker without
    signal ID (``SatelliteGroups._continuing``, which go on continuing such groups): in a
    stream of talkers and signal IDs damaged without checksum, each sentence 2 of 2 with a
    signal ID after a sentence 1 without one, no more than the waiting groups' bound are
    kept at any time, the newest among them."""
    groups = SatelliteGroups({"gps": [], "glonass": [], "galileo": []})
    most = 0
    for signal in "123456789ABCDEF":
        for talker in ("GP", "GL", "GA"):
            groups.feed([f"{talker}GSV", "2", "1", "02", "01", "40", "083", "46"])
            groups.feed([f"{talker}GSV", "2", "2", "02", "01", "40", "083", "46", signal])
            most = max(most, len(groups._continuing))
    assert most == _PENDING_GROUPS
    assert ("GA", "F") in groups._continuing


def test_a_cut_gsv_group_is_counted_never_half_used() -> None:
    parse = decoder("GSV.in_view_gps", "GSV.snr_max_gps")
    first, second, last = GSV_GROUP
    # the middle sentence lost: the last one is out of its group
    assert parse(first) == []
    assert reason(parse, last) == "truncated"
    # a group cut before its end: the next group's first sentence says so, and goes on
    assert parse(first) == []
    assert parse(second) == []
    assert reason(parse, first) == "truncated"
    assert parse(second) == []
    assert parse(last) == [("GSV.in_view_gps", 11.0), ("GSV.snr_max_gps", 43.0)]
    # a group cut by a one-sentence group: the cut is counted, the whole group read
    assert parse(first) == []
    with pytest.raises(ParseError) as cut:
        parse(nmea("GPGSV,1,1,02,01,40,083,46,02,17,308,41"))
    assert cut.value.reason == "truncated"
    assert cut.value.kept == [("GSV.in_view_gps", 2.0), ("GSV.snr_max_gps", 46.0)]
    # a sentence alone that is not the first of its group
    assert reason(parse, second) == "truncated"
    assert reason(parse, nmea("GPGSV,2,3,11")) == "syntax"


def test_a_rejected_gsv_sentence_says_why() -> None:
    """The detail the log's ``frame rejected`` shows for a GSV sentence: a signal ID of more
    than one digit, at most 8 characters of it (a line without checksums whose last
    satellite's commas were damaged), and so of a satellite number that is no whole number
    (its first satellite's commas damaged), a sentence number past its group's, and of a
    group cut short, how many sentences the cut group has, or which sentence came out of
    its group."""

    def why(parse: Decoder, frame: bytes) -> tuple[str, str]:
        with pytest.raises(ParseError) as caught:
            parse(frame)
        return caught.value.reason, caught.value.detail

    parse = decoder("GSV.in_view_gps")
    damaged = b"$GPGSV,2,1,05,01,40,083,46,12;17;308;41"
    assert why(parse, damaged) == ("syntax", "GSV signal ID '12;17;30'")
    damaged = b"$GPGSV,2,1,05,01;40;083;46,12,17,308,41,14,22,228"
    assert why(parse, damaged) == ("syntax", "GSV satellite number '01;40;08'")
    parse = decoder("GSV.in_view_gps")
    first, _, last = GSV_GROUP
    assert why(parse, nmea("GPGSV,2,3,11")) == ("syntax", "GSV sentence 3 of 2")
    assert parse(first) == []
    assert why(parse, first) == ("truncated", "GSV group of 3 cut before its end")
    assert why(parse, last) == ("truncated", "GSV sentence 3 of 3 out of its group")


def test_a_gsv_elevation_or_azimuth_is_not_checked() -> None:
    """Of a GSV satellite's four fields, its number and its SNR are read (a number that is
    no whole number rejects the sentence, a garbled SNR too); no channel reads its elevation
    or azimuth, and whatever a receiver writes there leaves the sentence read: an elevation
    below the horizon with its sign (gpsd's ``processGSV`` reads it with ``atoi``, sign and
    all), an azimuth with a decimal."""
    parse = decoder("GSV.in_view_gps", "GSV.snr_max_gps")
    below = nmea("GPGSV,1,1,03,05,40,083,46,12,-02,308,41,25,07,344.5,39")
    assert parse(below) == [("GSV.in_view_gps", 3.0), ("GSV.snr_max_gps", 46.0)]
    assert reason(parse, nmea("GPGSV,1,1,02,05,40,083,4A,12,17,308,41")) == "syntax"


@pytest.mark.parametrize("at", [15, 31, 40, 52, 54], ids=lambda at: f"cut at {at}")
def test_a_gsv_line_cut_short_in_a_stream_with_checksums_is_truncated(at: int) -> None:
    """Bytes lost from within a GSV to its line end take its checksum with them: of a talker
    that sends checksums the sentence is ``truncated``, and its group gives nothing, never
    read with the satellites or the SNR digits that were left. The loss is counted once:
    the sentence after it, out of its group, and the next group's first are no more."""
    parse = decoder("GSV.in_view_gps", "GSV.snr_max_gps", "GGA.altitude")
    assert parse(UBLOX_GGA) == [("GGA.altitude", 499.6)]
    first, second, last = GSV_GROUP
    for cut in (1, 2):  # the middle sentence cut, then the last one
        assert parse(first) == []
        group = [first, second, last]
        for position, sentence in enumerate(group[1:], 1):
            if position == cut:
                assert reason(parse, sentence[:at]) == "truncated"
            else:  # before the cut, or after it: the group gives nothing
                assert parse(sentence) == []
    assert parse(first) == []
    assert parse(second) == []
    assert parse(last) == [("GSV.in_view_gps", 11.0), ("GSV.snr_max_gps", 43.0)]


#: A GPS group of four sentences.
GSV_FOUR = [
    nmea("GPGSV,4,1,13,01,40,083,46,02,17,308,41,03,07,344,39,04,22,228,45"),
    nmea("GPGSV,4,2,13,05,40,083,46,06,17,308,41,07,07,344,39,08,22,228,45"),
    nmea("GPGSV,4,3,13,09,40,083,46,10,17,308,41,11,07,344,39,12,22,228,45"),
    nmea("GPGSV,4,4,13,13,40,083,47"),
]
#: What :data:`GSV_FOUR` gives.
GSV_FOUR_READ = [("GSV.in_view_gps", 13.0), ("GSV.snr_max_gps", 47.0)]


@pytest.mark.parametrize(
    "damage",
    [
        lambda line: line[:-1] + (b"0" if line[-1:] != b"0" else b"1"),  # checksum fails
        lambda line: line[:-8],  # cut short
        lambda line: line.replace(b",4,", b",x,", 1),  # a field that does not parse
        lambda line: line.replace(b"$GPGSV", b"$GPG\xd3V"),  # its address damaged
        lambda line: line.replace(b"$GPGSV", b"$GP0SV"),  # its type damaged, checksum fails
        lambda line: line.replace(b"$GPGSV", b"$0PGSV"),  # its talker damaged, checksum fails
    ],
    ids=["checksum", "cut", "field", "address", "type", "talker"],
)
@pytest.mark.parametrize("lost", [0, 1, 3], ids=["first", "second", "last"])
def test_a_gsv_sentence_damaged_on_the_line_is_one_error(
    damage: Callable[[bytes], bytes], lost: int
) -> None:
    """One sentence of a GSV group damaged on the line is one parse error, under its reason:
    its group gives nothing, the sentences after it are no group cut, nor is the next
    group's first when the group lost its last; the next group is read."""
    parse = decoder("GSV.in_view_gps", "GSV.snr_max_gps", "GGA.altitude")
    assert parse(UBLOX_GGA) == [("GGA.altitude", 499.6)]
    assert [pair for line in GSV_FOUR for pair in parse(line)] == GSV_FOUR_READ
    for at, line in enumerate(GSV_FOUR):
        if at == lost:
            with pytest.raises(ParseError):
                parse(damage(line))
        else:
            assert parse(line) == []
    assert [pair for line in GSV_FOUR for pair in parse(line)] == GSV_FOUR_READ
    # a loss of no error (a sentence missing) is counted at the sentence after it, once
    assert parse(GSV_FOUR[0]) == []
    assert reason(parse, GSV_FOUR[2]) == "truncated"
    assert parse(GSV_FOUR[3]) == []
    assert [pair for line in GSV_FOUR for pair in parse(line)] == GSV_FOUR_READ


def test_a_damaged_gsv_sentence_excuses_its_own_talkers_next_loss_and_no_other() -> None:
    """A GSV sentence rejected on the line (its checksum fails) was counted: the next sentence
    of its talker that does not continue its group is no second loss. Another talker's loss
    still counts: the GLONASS group's first sentence lost without a trace after the GPS
    group's damaged last one, the GLONASS second is ``truncated``. After a group cut that
    the decoder counted itself, a sentence damaged on the line is again its group's one
    error."""
    parse = decoder("GSV.in_view_gps", "GSV.snr_max_gps", "GSV.in_view_glonass", "GGA.altitude")
    glonass = [
        nmea("GLGSV,2,1,06,65,53,144,,66,58,305,32,67,06,313,,72,09,137,"),
        nmea("GLGSV,2,2,06,81,64,223,35,82,13,214,33"),
    ]
    assert parse(UBLOX_GGA) == [("GGA.altitude", 499.6)]
    assert [pair for line in GSV_FOUR for pair in parse(line)] == GSV_FOUR_READ
    assert [pair for line in glonass for pair in parse(line)] == [("GSV.in_view_glonass", 6.0)]
    assert parse(UBLOX_GGA_NEXT) == [("GGA.altitude", 499.6)]
    assert [parse(line) for line in GSV_FOUR[:3]] == [[], [], []]
    assert reason(parse, GSV_FOUR[3][:-1] + b"0") == "checksum"
    assert reason(parse, glonass[1]) == "truncated"  # its sentence 1 lost without a trace
    assert parse(GSV_FOUR[0]) == []
    assert reason(parse, GSV_FOUR[1][:-1] + b"0") == "checksum"
    assert [parse(line) for line in GSV_FOUR[2:]] == [[], []]  # after the loss, counted
    assert [pair for line in GSV_FOUR for pair in parse(line)] == GSV_FOUR_READ


@pytest.mark.parametrize(
    "cut",
    [
        b"$GNGSA,A,3,24,16,25,,,,,,,,,,2.5,1.7,1.8",  # its system ID lost: GPS numbers
        b"$GNGSA,A,3,24,16,25,,,,,,,,,,2.5,1.7,1.",  # its VDOP cut: 1.0
    ],
    ids=["system ID lost", "VDOP cut"],
)
def test_a_gsa_line_cut_short_in_a_stream_with_checksums_is_truncated(cut: bytes) -> None:
    """A Galileo GSA that lost its end, checksum and all: of an address (``GNGSA``) that has
    carried checksums it is ``truncated``, never read with its satellites counted by their
    numbers (GPS's, without the system ID) or with the digits left of its last DOP; before,
    as the first sentence without checksum of its address, it is ignored."""
    parse = decoder("GSA.used_gps", "GSA.used_galileo", "GSA.vdop", "GGA.altitude")
    assert parse(UBLOX_GNGGA) == [("GGA.altitude", 499.6)]
    assert parse(cut) == []
    whole = nmea("GNGSA,A,3,24,16,25,,,,,,,,,,2.5,1.7,1.8,3")
    assert parse(whole) == [("GSA.vdop", 1.8), ("GSA.used_galileo", 3.0)]
    assert reason(parse, cut) == "truncated"


def test_gsv_and_gsa_without_checksum_are_read_in_a_stream_without_checksums() -> None:
    """A receiver that sends no checksums: its whole GSV groups and its GSA sentences are
    read, unchecked."""
    counts = DecoderCounts()
    spec = FormatSpec(
        "nmea",
        (("view", "GSV.in_view_gps"), ("snr", "GSV.snr_max_gps"), ("used", "GSA.used_galileo")),
    )
    parse = nmea_module.timed_decoder(spec, lambda: 0.0, counts)
    readings = [pair for sentence in GSV_GROUP for pair in parse(sentence.split(b"*")[0])]
    assert readings == [("view", 11.0), ("snr", 43.0)]
    assert parse(b"$GNGSA,A,3,24,16,25,,,,,,,,,,2.5,1.7,1.8,3") == [("used", 3.0)]
    assert counts.unchecked == 4


def test_a_gsv_that_lost_bytes_in_a_stream_without_checksums_is_a_syntax_error() -> None:
    """A receiver without checksums whose UART dropped bytes from the middle of a GLGSV to
    the middle of the GGA after it: the sentence number field is the GGA's longitude, no
    whole number. Rejected as ``syntax``, the field shown to its first 8 characters."""
    parse = decoder("GSV.in_view_glonass")
    with pytest.raises(ParseError) as caught:
        parse(b"$GLGSV,2,00833.91590,E,1,08,1.01,499.6,M,48.0,M,,")
    assert caught.value.reason == "syntax"
    assert caught.value.detail == "not a whole number: '00833.91'"


@pytest.mark.parametrize("garbled", [b"1A", b"+6", b" 6"], ids=["letter", "sign", "space"])
@pytest.mark.parametrize("lost", [0, 3], ids=["GP, of no constellation", "GA, of its own"])
def test_a_gsv_satellite_number_garbled_without_checksum_is_a_syntax_error(
    garbled: bytes, lost: int
) -> None:
    """In a stream without checksums, a GSV satellite number field that is no whole number
    was damaged on the line: its sentence is rejected as ``syntax``, as a GSA's is (and a
    GSV's garbled SNR), never read with that number as a satellite in view (a talker that
    names its constellation) or left out of its group unseen (one that names none). Its
    group gives nothing, the constellation no reading that epoch. A Teseo LIV4F's GSV epochs
    sent without checksums: its GPS L1 group's first sentence, or Galileo's E1 group's
    first, with satellite 16 garbled."""
    parse = decoder(*TESEO_GSV_FIELDS)
    epoch = [frame.split(b"*")[0] for frame in TESEO_LIV4F_GSV]
    for frame in epoch * 2:
        parse(frame)
    damaged = epoch[lost].replace(b",16,", b"," + garbled + b",", 1)
    assert damaged != epoch[lost]
    got: list[list[tuple[str, float]]] = []
    for at, frame in enumerate(epoch):
        if at == lost:
            assert reason(parse, damaged) == "syntax"
            got.append([])
        else:
            got.append(parse(frame))
    gps, galileo = ([], TESEO_GALILEO) if lost == 0 else (TESEO_GPS, [])
    assert got == [*[[]] * 9, gps, galileo, TESEO_BEIDOU, []]
    assert [parse(frame) for frame in epoch] == [*[[]] * 9, *TESEO_READ, []]


@pytest.mark.parametrize("garbled", list(GARBLED_NUMBERS.values()), ids=list(GARBLED_NUMBERS))
@pytest.mark.parametrize("lost", [0, 3], ids=["GP, of no constellation", "GA, of its own"])
def test_a_gsv_satellite_number_garbled_under_its_checksum_is_a_syntax_error(
    garbled: str, lost: int
) -> None:
    """A GSV whose checksum holds and whose satellite number field is no whole number is
    rejected as the same sentence without checksum is (``syntax``, the field named): what
    the receiver sent there is no satellite number, neither a satellite in view (a talker
    that names its constellation) nor one to leave out unseen (one that names none), and a
    GSV with a field written wrong is rejected whole, as one with a garbled SNR is (its group
    is read whole or not at all). A Teseo LIV4F's GSV epochs with satellite 16 of its GPS L1
    group, or of its Galileo E1 group, garbled: that constellation gets no reading that
    epoch, the others theirs, and the next epoch is read whole."""
    parse = decoder(*TESEO_GSV_FIELDS)
    epoch = [*TESEO_LIV4F_GSV]
    for frame in epoch * 2:
        parse(frame)
    damaged = checksummed_anew(epoch[lost], b",16,", f",{garbled},".encode())
    got: list[list[tuple[str, float]]] = []
    for at, frame in enumerate(epoch):
        if at == lost:
            with pytest.raises(ParseError) as caught:
                parse(damaged)
            assert caught.value.reason == "syntax"
            assert caught.value.detail == f"GSV satellite number {garbled!r}"
            got.append([])
        else:
            got.append(parse(frame))
    gps, galileo = ([], TESEO_GALILEO) if lost == 0 else (TESEO_GPS, [])
    assert got == [*[[]] * 9, gps, galileo, TESEO_BEIDOU, []]
    assert [parse(frame) for frame in epoch] == [*[[]] * 9, *TESEO_READ, []]


@pytest.mark.parametrize("checksum", [True, False], ids=["under its checksum", "without"])
def test_a_gsv_snr_that_is_no_number_is_named_with_its_satellite(checksum: bool) -> None:
    """A GSV whose SNR field is no number (a Teseo LIV4F's GPS L1 sentence, satellite 23's SNR
    ``22`` written ``2A``, its checksum computed anew or the stream without checksums) is
    rejected whole as ``syntax``, its detail naming the GSV field and its satellite, not the
    advice of a text line to list a unit in ``parse.units``, which a GSV field never has. The
    constellation gets no reading that epoch, the others theirs."""
    parse = decoder(*TESEO_GSV_FIELDS)
    epoch = [*TESEO_LIV4F_GSV]
    if not checksum:
        epoch = [frame.split(b"*")[0] for frame in epoch]
    for frame in epoch * 2:
        parse(frame)
    damaged = checksummed_anew(TESEO_LIV4F_GSV[0], b",092,22,", b",092,2A,")
    if not checksum:
        damaged = damaged.split(b"*")[0]
    with pytest.raises(ParseError) as caught:
        parse(damaged)
    assert (caught.value.reason, caught.value.detail) == (
        "syntax",
        "GSV SNR of satellite 23 not a number: '2A'",
    )
    got = [parse(frame) for frame in epoch[1:]]
    assert got == [*[[]] * 8, [], TESEO_GALILEO, TESEO_BEIDOU, []]


#: A ZED-F9P's BeiDou B1I sentence 1 (tests/fixtures/nmea/ublox_zed_f9p.nmea), three
#: satellites without SNR before satellite 08's 27 dB-Hz, and its GLONASS L1 group of
#: ``ZED_ZERO_ENTRY``, its entry numbered ``00``, each without checksum.
ZED_B1I = b"$GBGSV,3,1,10,01,29,321,,03,12,292,,04,37,345,,08,49,229,27,1"
ZED_GL_ZERO = nmea(ZED_ZERO_ENTRY["GL"][0].format("00")).split(b"*")[0]


@pytest.mark.parametrize(
    ("sentence", "old", "new", "detail"),
    [
        (ZED_B1I, b",08,49,229,27,", b",08,4?,229,2?,", "08 not a number: '2?'"),
        (ZED_B1I, b",229,27,", b",229,27????????,", "08 not a number: '27??????'"),
        (ZED_GL_ZERO, b",00,58,305,50,", b",00,58,305,5?,", "82 not a number: '3?'"),
    ],
    ids=["elevation too", "long", "after an entry numbered 00"],
)
def test_a_gsv_snr_damaged_on_the_line_is_named_with_its_satellite(
    sentence: bytes, old: bytes, new: bytes, detail: str
) -> None:
    """A GSV sentence without checksum whose bytes the line damaged is rejected as ``syntax``
    naming the satellite whose SNR is no number: after satellites without SNR (an empty field
    is no SNR to read), where the bytes before the SNR are damaged too (an elevation is no
    SNR), with at most the first eight characters of a long field, and where an entry
    numbered 00 (no satellite) has its SNR damaged too."""
    damaged = sentence.replace(old, new)
    if sentence == ZED_GL_ZERO:
        damaged = damaged.replace(b",82,13,214,33,", b",82,13,214,3?,")
    assert damaged != sentence
    parse = decoder("GSV.in_view_beidou", "GSV.in_view_glonass")
    with pytest.raises(ParseError) as caught:
        parse(damaged)
    assert (caught.value.reason, caught.value.detail) == (
        "syntax",
        f"GSV SNR of satellite {detail}",
    )


#: A Quectel LC79D's QZSS group of one sentence (gpsd's capture test/daemon/quectelLC79D.log,
#: tests/fixtures/nmea/quectel_lc79d.nmea) without its checksum: satellite 02 at elevation
#: 05, azimuth 042, 29 dB-Hz.
LC79D_QZSS = b"$QZGSV,1,1,01,02,05,042,29"
#: Quectel BG96 GSV sentences, with the checksums they came with (AeroRust/nmea's
#: src/sentences/gsv.rs, its tests): elevations, azimuths and SNRs with a decimal fraction,
#: which its docs say the BG96 sends (test_parse_gsv_decimal_satellite_fields), and a GLONASS
#: entry with an SNR but no satellite number, elevation or azimuth ("Captured from a Quectel
#: BG96 while acquiring satellites", test_bg96_missing_satellite_id_preserves_signal_id).
BG96_GSV = (
    b"$GPGSV,6,1,24,05,13.4,30.9,26.8,16,64.7,258.8,32.2,18,67.5,83.0,31.6,08,7.7,279.8,,1*46",
    b"$GLGSV,1,1,01,,,,26.9,1*6A",
)


@pytest.mark.parametrize(
    ("elevation", "azimuth"),
    [
        ("05", "042"),
        ("", ""),
        ("-05", "042"),
        ("5.4", "41.9"),
        ("05", "360"),
        ("90", "000"),
        ("-90", "359"),
    ],
    ids=["as sent", "not located", "below the horizon", "fraction", "360", "zenith", "nadir"],
)
def test_gsv_angles_a_receiver_sends_are_read_without_checksum(
    elevation: str, azimuth: str
) -> None:
    """A GSV sentence without checksum whose elevation and azimuth are what receivers send
    is read: whole degrees, empty fields (a satellite not located yet, the LC79D's
    ``05,,,14``), an elevation below the horizon (Inertial Sense's GSV printed negative ones,
    its pull request #602), a decimal fraction (a Quectel BG96), an azimuth of 360 (north,
    rounded up), and each range's ends. The LC79D's QZSS sentence with those angles."""
    sentence = LC79D_QZSS.replace(b",05,042,", f",{elevation},{azimuth},".encode())
    assert sentence != LC79D_QZSS or elevation == "05"
    parse = decoder("GSV.in_view_qzss", "GSV.snr_max_qzss")
    assert parse(sentence) == [("GSV.in_view_qzss", 1.0), ("GSV.snr_max_qzss", 29.0)]


@pytest.mark.parametrize("checksum", [True, False], ids=["with its checksum", "without"])
def test_a_quectel_bg96s_fractional_angles_are_no_damage(checksum: bool) -> None:
    """A Quectel BG96's GSV sentences, as captured and without their checksums: their
    fractional elevations and azimuths and their entry without satellite number, elevation
    or azimuth are no damage. The GPS sentence 1 of 6 gives nothing yet; the GLONASS group's
    entry is no satellite (no number), its in-view field 1."""
    sentences = BG96_GSV if checksum else tuple(s.split(b"*")[0] for s in BG96_GSV)
    parse = decoder("GSV.in_view_gps", "GSV.in_view_glonass", "GSV.snr_max_glonass")
    assert parse(sentences[0]) == []
    assert parse(sentences[1]) == [("GSV.in_view_glonass", 1.0)]


@pytest.mark.parametrize(
    ("elevation", "azimuth", "detail"),
    [
        ("0A", "042", "elevation of satellite 02 '0A'"),
        ("95", "042", "elevation of satellite 02 '95'"),
        ("-91", "042", "elevation of satellite 02 '-91'"),
        ("0 5", "042", "elevation of satellite 02 '0 5'"),
        ("05", "361", "azimuth of satellite 02 '361'"),
        ("05", "-42", "azimuth of satellite 02 '-42'"),
        ("05", "4.2.1", "azimuth of satellite 02 '4.2.1'"),
        ("05", "+42", "azimuth of satellite 02 '+42'"),
        ("05", "4e1", "azimuth of satellite 02 '4e1'"),
        ("05", "0428", "azimuth of satellite 02 '0428'"),
    ],
    ids=[
        "letter",
        "past the zenith",
        "past the nadir",
        "space",
        "past north",
        "negative azimuth",
        "two points",
        "plus sign",
        "exponent",
        "digit added",
    ],
)
def test_a_gsv_angle_damaged_without_checksum_is_a_syntax_error(
    elevation: str, azimuth: str, detail: str
) -> None:
    """A GSV sentence without checksum whose elevation or azimuth no receiver sends (a letter,
    a space, a value past its range: an elevation beyond 90 either way, an azimuth past 360
    or below 0; text that is no decimal number as receivers write one) was damaged on the
    line: rejected as ``syntax``, naming the field and its satellite, as a damaged SNR is:
    the damage may have reached the fields around it too. Under its checksum the same
    sentence is read: the receiver sent those bytes, and no channel reads the angles. The
    LC79D's QZSS sentence with those angles."""
    sentence = LC79D_QZSS.replace(b",05,042,", f",{elevation},{azimuth},".encode())
    assert sentence != LC79D_QZSS
    parse = decoder("GSV.in_view_qzss", "GSV.snr_max_qzss")
    with pytest.raises(ParseError) as caught:
        parse(sentence)
    name, value = detail.split(" of satellite 02 ")
    degrees = {"elevation": "-90 to 90", "azimuth": "0 to 360"}[name]
    assert (caught.value.reason, caught.value.detail) == (
        "syntax",
        f"GSV {name} of satellite 02 not one a receiver sends (a number of degrees from "
        f"{degrees}): {value}",
    )
    checked = decoder("GSV.in_view_qzss", "GSV.snr_max_qzss")
    read = [("GSV.in_view_qzss", 1.0), ("GSV.snr_max_qzss", 29.0)]
    assert checked(nmea(sentence[1:].decode())) == read


def test_a_damaged_gsv_angle_shows_eight_bytes_of_its_field_and_its_satellite_number() -> None:
    """A line that repeats a byte (a stuck line, a receiver without checksum) can make a GSV
    field of any length: the detail of a damaged angle shows the first 8 bytes of the angle
    and of its satellite number, as that of a damaged satellite number or SNR does. The
    LC79D's QZSS sentence so damaged."""
    cases = [
        (
            b",0222222222,0555555555,042,",
            "elevation of satellite 02222222",
            "-90 to 90",
            "05555555",
        ),
        (b",02,05,0422222222,", "azimuth of satellite 02", "0 to 360", "04222222"),
    ]
    for fields, named, degrees, value in cases:
        sentence = LC79D_QZSS.replace(b",02,05,042,", fields)
        parse = decoder("GSV.in_view_qzss", "GSV.snr_max_qzss")
        with pytest.raises(ParseError) as caught:
            parse(sentence)
        assert (caught.value.reason, caught.value.detail) == (
            "syntax",
            f"GSV {named} not one a receiver sends (a number of degrees from {degrees}): '{value}'",
        )


def test_the_group_under_way_when_the_stream_starts_is_ignored_not_counted() -> None:
    """A port opened while the receiver is in the middle of a GSV group gets that group's last
    sentences first, intact (gpsd's captures quectel-l76k-nmea.log, quectelLC79D-1.log and
    haicom-305N.log begin so): nothing was lost on the line, so they are ignored frames, not
    ``truncated``. Once a talker's first sentence 1 has come, a sentence out of its group is
    a loss again, and counted."""
    parse = decoder("GSV.in_view_gps", "GSV.in_view_glonass")
    gps = [
        nmea("GPGSV,3,1,09,02,20,056,27,07,18,123,25,08,33,041,15,14,79,041,29,1"),
        nmea("GPGSV,3,2,09,15,31,297,21,17,54,166,28,19,24,192,23,20,47,263,22,1"),
        nmea("GPGSV,3,3,09,30,57,127,31,1"),
    ]
    glonass_end = nmea("GLGSV,2,2,06,71,23,216,,72,43,277,,1")
    assert parse(gps[1]) == []
    assert parse(gps[2]) == []
    assert parse(glonass_end) == []  # the first GLONASS sentence seen: still the start
    assert [parse(sentence) for sentence in gps] == [[], [], [("GSV.in_view_gps", 9.0)]]
    # GPS's groups have begun: its sentence 2 without sentence 1 is a loss
    assert reason(parse, gps[1]) == "truncated"
    assert parse(glonass_end) == []  # GLONASS's first group has not begun yet
    assert parse(nmea("GLGSV,1,1,01,71,23,216,30,1")) == [("GSV.in_view_glonass", 1.0)]
    assert reason(parse, glonass_end) == "truncated"


def test_check_names_every_field_and_suggests_a_close_one() -> None:
    check = codec_for("nmea").check
    fields = ("GSA.hdop", "GSV.snr_mean_galileo", "ZDA.clock_offset", "GNS.altitude", "VTG.course")
    assert check(FormatSpec("nmea", tuple((f, f) for f in fields))) == []
    [(key, message)] = check(FormatSpec("nmea", (("a", "GSV.in_veiw_gps"),)))
    assert key == "channels[0].field"
    assert "did you mean 'GSV.in_view_gps'?" in message
    [(_, message)] = check(FormatSpec("nmea", (("a", "GSA.pdpo"),)))
    assert "did you mean 'GSA.pdop'?" in message
    [(_, message)] = check(FormatSpec("nmea", (("a", "GSV.in_view_mars"),)))
    assert "unknown NMEA field 'GSV.in_view_mars'" in message
    # a field name without its sentence: every sentence that has it
    [(_, message)] = check(FormatSpec("nmea", (("a", "satellites"),)))
    assert "did you mean 'GGA.satellites' or 'GNS.satellites'?" in message


# -- through a sensor ----------------------------------------------------------------------------


def test_a_sensor_counts_skipped_bytes_and_truncated_frames_on_metrics_and_status() -> None:
    config = parse_config(
        '[[sensors]]\nname = "gps"\nport = "sim://gps"\nformat = "nmea"\n'
        '  [[sensors.channels]]\n  name = "offset"\n  field = "RMC.clock_offset"\n'
        '  [[sensors.channels]]\n  name = "alt"\n  field = "GGA.altitude"\n'
    ).sensors[0]
    rmc_utc = 1039422959.0  # UBLOX_RMC: 2002-12-09 08:35:59 UTC
    runtime = SensorRuntime(config, wall_clock=lambda: rmc_utc - 0.5)
    runtime.feed(b"\x00\xff$" + UBLOX_GGA + b"\r\n" + UBLOX_RMC + b"$GPGGA,1,2,3\r\n")
    snapshot = runtime.snapshot()
    assert snapshot.skipped_bytes == 3
    assert snapshot.parse_errors["truncated"] == 1
    assert snapshot.frames == 3
    assert snapshot.as_json()["skipped_bytes"] == 3
    values = {ch.name: ch.stats.reading.value for ch in snapshot.channels if ch.stats}
    assert values == {"offset": 0.5, "alt": 499.6}
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SensordCollector(RuntimesView([runtime]), "test"))
    assert registry.get_sample_value("sensord_skipped_bytes_total", {"sensor": "gps"}) == 3.0
    truncated = {"sensor": "gps", "reason": "truncated"}
    assert registry.get_sample_value("sensord_parse_errors_total", truncated) == 1.0


def test_a_reopened_port_joins_no_gsv_group_or_gsa_run_to_those_before_it(
    pty_pair: PtyPair,
) -> None:
    """The decoder starts afresh at each open: a GSV group cut by the port's loss is not
    completed by a later group's end after the reopen (that end is the group under way when
    the new stream started), and a GSA run cut by it is not merged with the next epoch's
    (whose reading would be lost, and every later one held back to the frame after it)."""
    config = parse_config(
        f'[[sensors]]\nname = "gps"\nport = "{pty_pair.path}"\nformat = "nmea"\n'
        '  [[sensors.channels]]\n  name = "in_view"\n  field = "GSV.in_view_gps"\n'
        '  [[sensors.channels]]\n  name = "used"\n  field = "GSA.used_gps"\n'
    ).sensors[0]
    now = [1000.0]
    runtime = SensorRuntime(config, clock=lambda: now[0])

    def counts() -> dict[str, int]:
        return {c.name: c.stats.count if c.stats else 0 for c in runtime.snapshot().channels}

    gsa = [
        nmea("GNGSA,A,3,27,08,07,,,,,,,,,,2.5,1.7,1.8,1"),
        nmea("GNGSA,A,3,11,12,13,14,,,,,,,,,2.5,1.7,1.8,1"),
    ]
    assert runtime.try_open()
    runtime.feed(b"".join(s + b"\r\n" for s in [*GSV_GROUP, UBLOX_GGA, GSV_GROUP[0], gsa[0]]))
    assert counts() == {"in_view": 1, "used": 1}
    runtime.disconnect("unplugged")
    now[0] += 60.0
    assert runtime.try_open()
    runtime.feed(b"".join(s + b"\r\n" for s in [gsa[1], GSV_GROUP[1], GSV_GROUP[2]]))
    assert counts() == {"in_view": 1, "used": 2}
    runtime.feed(b"".join(s + b"\r\n" for s in [UBLOX_GGA, gsa[0]]))
    assert counts() == {"in_view": 1, "used": 3}  # at its sentence, not at the frame after
    assert sum(runtime.snapshot().parse_errors.values()) == 0
    runtime.stop()


def test_sentences_read_without_checksum_are_counted_on_metrics_and_status() -> None:
    """A talker that sends no checksums: its complete sentences are read, and counted as
    unchecked; a checksummed sentence (of another talker), a cut one (``truncated``) and one
    of a type no channel reads are not."""
    config = parse_config(
        '[[sensors]]\nname = "gps"\nport = "sim://gps"\nformat = "nmea"\n'
        '  [[sensors.channels]]\n  name = "alt"\n  field = "GGA.altitude"\n'
        '  [[sensors.channels]]\n  name = "speed"\n  field = "RMC.speed"\n'
    ).sensors[0]
    runtime = SensorRuntime(config)
    unchecked_gga, unchecked_rmc = (
        line.split(b"*")[0].replace(b"$GP", b"$GN") for line in (UBLOX_GGA_NEXT, UBLOX_RMC)
    )
    lines = [unchecked_gga, unchecked_rmc, b"$GPGGA,1,2,3", b"$GPZDA,1,2,3,4", UBLOX_GGA]
    runtime.feed(b"".join(line + b"\r\n" for line in lines))
    snapshot = runtime.snapshot()
    assert snapshot.unchecked_frames == 2
    assert snapshot.as_json()["unchecked_frames"] == 2
    assert {r: n for r, n in snapshot.parse_errors.items() if n} == {"truncated": 1}
    assert snapshot.ignored_frames == 1  # the ZDA
    values = {ch.name: ch.stats.count for ch in snapshot.channels if ch.stats}
    assert values == {"alt": 2, "speed": 1}
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SensordCollector(RuntimesView([runtime]), "test"))
    assert registry.get_sample_value("sensord_frames_unchecked_total", {"sensor": "gps"}) == 2.0


def test_a_decoder_alone_counts_unchecked_sentences_in_the_counts_it_is_given() -> None:
    spec = FormatSpec("nmea", (("alt", "GGA.altitude"),))
    counts = DecoderCounts()
    parse = codec_for("nmea").sensor_decoder(spec, lambda: 0.0, counts)
    assert parse(UBLOX_GGA_NEXT.split(b"*")[0].replace(b"$GP", b"$GN")) == [("alt", 499.6)]
    assert counts.unchecked == 1
    assert parse(UBLOX_GGA) == [("alt", 499.6)]
    assert counts.unchecked == 1
    assert (counts.fixes, counts.no_fixes) == (2, 0)  # the GGAs' fix quality
    # a codec that counts nothing of the kind leaves the counts alone
    value = codec_for("value").sensor_decoder(
        FormatSpec("value", (("v", "v"),)), lambda: 0.0, counts
    )
    assert value(b"21.5") == [("v", 21.5)]
    assert counts == DecoderCounts(unchecked=1, fixes=2, fix_channels=("alt",))


# -- a sound sentence with one field written wrong ------------------------------------------------

# A receiver's firmware bug: an RMC whose checksum holds, with the date "2208-1".
RMC_BAD_DATE = b"$GPRMC,000231.099,A,4829.0005,N,00022.0015,E,0.15,212.28,2208-1,,,A*73"


def test_a_checksummed_sentence_with_a_bad_field_keeps_its_other_fields() -> None:
    parse = decoder("RMC.clock_offset", "RMC.speed", "RMC.latitude")
    with pytest.raises(ParseError) as caught:
        parse(RMC_BAD_DATE)
    assert caught.value.reason == "syntax"
    assert "date" in caught.value.detail
    assert caught.value.kept == [
        ("RMC.speed", 0.15),
        ("RMC.latitude", pytest.approx(48 + 29.0005 / 60)),
    ]
    # a channel that does not read the bad field never sees an error
    assert decoder("RMC.speed")(RMC_BAD_DATE) == [("RMC.speed", 0.15)]
    # without a checksum nothing vouches for the other fields: rejected whole
    with pytest.raises(ParseError) as caught:
        decoder("RMC.clock_offset", "RMC.speed", "RMC.latitude")(RMC_BAD_DATE.split(b"*")[0])
    assert caught.value.reason == "syntax"
    assert caught.value.kept == []


#: A Bad Elf GPS Pro+ (BE-GPS-2300, firmware 2.1.60, MediaTek chipset) rewrites its chipset's
#: sentences and checksums them again; now and then one has lost a comma, its checksum
#: holding: recorded in com-diag-hazer's ISSUES.md ("Bad Elf GPS Pro+ Invalid Message",
#: addenda 1 and 2; github.com/coverclock/com-diag-hazer), copied verbatim. Every field after
#: the lost comma is one place early: the speed field holds the course, the course field the
#: date.
BAD_ELF_RMC_LOST_COMMAS = [
    # "3947.6529N": the comma before the latitude's hemisphere lost (should be 0.01 knots)
    b"$GPRMC,002525.000,A,3947.6529N,10509.2015,W,0.01,68.88,161021,,,D*65",
    # "W0.01": the comma after the longitude's hemisphere lost
    b"$GPRMC,012859.000,A,3947.6540,N,10509.2019,W0.01,125.17,191021,,,D*50",
]

#: The same fault after the coordinates, made from the first sentence above: the comma between
#: speed and course lost (``0.0168.88``), so the course field holds the date and the magnetic
#: variation's ``E``/``W`` field the mode indicator ``D``.
BAD_ELF_RMC_LOST_COMMAS.append(
    nmea("GPRMC,002525.000,A,3947.6529,N,10509.2015,W,0.0168.88,161021,,,D")
)


@pytest.mark.parametrize("sentence", BAD_ELF_RMC_LOST_COMMAS)
def test_a_checksummed_sentence_whose_fields_are_out_of_place_is_rejected_whole(
    sentence: bytes,
) -> None:
    """A hemisphere field that holds no hemisphere letter is no single field written wrong
    (as the date ``2208-1`` above is) but the sign that the fields are out of place: the
    others would be read from their neighbours' places (a speed of 68.88 knots that is the
    course, a course of 161021 degrees that is the date), so none is, whichever a channel
    reads."""
    assert nmea(sentence[1:].split(b"*")[0].decode()) == sentence  # its checksum holds
    for fields in [
        ("RMC.speed", "RMC.course", "RMC.latitude", "RMC.longitude", "RMC.clock_offset"),
        ("RMC.speed",),
        ("RMC.course",),
    ]:
        with pytest.raises(ParseError) as caught:
            decoder(*fields)(sentence)
        assert caught.value.reason == "syntax"
        assert caught.value.kept == []
    # the same fault in the other sentences with a position
    for parse, shifted in [
        (
            decoder("GGA.altitude", "GGA.satellites"),
            nmea("GPGGA,002525.000,3947.6529N,10509.2015,W,2,09,0.9,1608.2,M,-21.5,M,,0000"),
        ),
        (decoder("GLL.longitude"), nmea("GPGLL,3947.6540,N,10509.2019,W002525.000,A,D")),
        (
            decoder("GNS.altitude"),
            nmea("GNGNS,002525.000,3947.6529N,10509.2015,W,DD,09,0.9,1608.2,-21.5,,"),
        ),
    ]:
        assert reason(parse, shifted) == "syntax"
    # the intact sentences of the same receiver, and an empty position, are read
    intact = b"$GPRMC,203410.000,A,3947.6492,N,10509.1907,W,0.05,68.88,131021,,,D*44"
    assert decoder("RMC.speed", "RMC.course")(intact) == [
        ("RMC.speed", 0.05),
        ("RMC.course", 68.88),
    ]
    for variation in ["3.1,E", "12.5,W", ","]:  # a magnetic variation given, or none
        given = nmea(f"GPRMC,203410.000,A,3947.6492,N,10509.1907,W,0.05,68.88,131021,{variation},A")
        assert decoder("RMC.course")(given) == [("RMC.course", 68.88)]
    assert decoder("GGA.satellites")(nmea("GPGGA,,,,,,0,00,,,M,,M,,")) == [("GGA.satellites", 0.0)]


def test_a_sensor_counts_the_bad_field_and_reads_the_rest_of_the_sentence() -> None:
    config = parse_config(
        '[[sensors]]\nname = "gps"\nport = "sim://gps"\nformat = "nmea"\n'
        '  [[sensors.channels]]\n  name = "offset"\n  field = "RMC.clock_offset"\n'
        '  [[sensors.channels]]\n  name = "speed"\n  field = "RMC.speed"\n'
    ).sensors[0]
    runtime = SensorRuntime(config)
    with capture_logs() as logs:
        runtime.feed(RMC_BAD_DATE + b"\r\n")
    snapshot = runtime.snapshot()
    assert snapshot.parse_errors["syntax"] == 1
    values = {ch.name: ch.stats.reading.value for ch in snapshot.channels if ch.stats}
    assert values == {"speed": 0.15}
    [event] = [e for e in logs if e["log_level"] == "warning"]
    assert event["event"] == "field rejected"
    assert event["fields_kept"] == 1


@pytest.mark.parametrize("end", [b"*", b"*7", b"*a"])
def test_a_sentence_cut_in_its_checksum_is_truncated(end: bytes) -> None:
    body = b"$GPBOD,,T,,M,,"
    assert reason(decoder("GGA.altitude"), body + end) == "truncated"
    assert reason(decoder("GGA.altitude"), body + b"*7G") == "syntax"
    assert reason(decoder("GGA.altitude"), body + b"*7A5") == "syntax"


#: A sentence's ``*`` damaged on the line: replaced by another byte (a letter, a field
#: separator, one that is no ASCII or no UTF-8, a NUL), or lost.
STAR_DAMAGE = [b"X", b",", b".", b"\xe9", b"\xaa", b"\x00", b""]


@pytest.mark.parametrize("star", STAR_DAMAGE)
@pytest.mark.parametrize(
    "body",
    [
        "GNGSA,A,3,24,16,25,,,,,,,,,,2.5,1.7,1.8,3",  # the system ID before the checksum
        "GPGSA,A,3,23,29,07,08,09,18,26,,,,,,1.94,1.18,1.54",  # the VDOP before it
    ],
    ids=["system ID", "VDOP"],
)
def test_a_sentence_whose_star_is_damaged_is_a_checksum_error(body: str, star: bytes) -> None:
    """Of an address that has carried checksums, a sentence whose ``*`` was damaged or lost
    (its checksum still holds for the bytes before it) is a checksum error: not a sentence
    without checksum whose last field holds the checksum's digits, nor rejected for its
    field or its encoding. A complete sentence without checksum of an address that carries
    none is still read there."""
    parse = decoder("GSA.vdop", "GSA.used_gps", "GSA.used_galileo", "GGA.altitude")
    unchecked = UBLOX_GGA_NEXT.split(b"*")[0].replace(b"$GP", b"$IN")  # sends no checksum
    assert parse(unchecked) == [("GGA.altitude", 499.6)]
    assert parse(UBLOX_GNGGA) == [("GGA.altitude", 499.6)]
    assert parse(UBLOX_GGA) == [("GGA.altitude", 499.6)]
    assert parse(nmea(body)) != []  # its address carries checksums
    damaged = nmea(body).replace(b"*", star)
    assert reason(parse, damaged) == "checksum"
    later = unchecked.replace(b"092726.00", b"092727.00")
    assert parse(later) == [("GGA.altitude", 499.6)]


def test_checksums_are_known_per_address_in_a_mixed_stream() -> None:
    """A marine multiplexer merges a GNSS receiver that sends checksums (``GP``) with
    instruments that send none (a depth sounder ``SD``, a second receiver ``GL``): the
    addresses without checksums have their sentences read, GSV and GSA too, but for the
    first of each, and one whose last characters happen to be the checksum of the bytes
    before them is no damaged ``*``; a sentence without checksum of an address that has
    carried them is one cut short, whatever its type, never read with its last field
    shortened."""
    counts = DecoderCounts()
    fields = (
        *("GGA.altitude", "GST.altitude_error", "DPT.depth", "DPT.offset"),
        *("GSV.in_view_glonass", "GSA.used_glonass", "MTW.temperature"),
    )
    spec = FormatSpec("nmea", tuple((f, f) for f in fields))
    parse = nmea_module.timed_decoder(spec, lambda: 0.0, counts)
    assert parse(b"$SDDPT,12.5,0.5") == [("DPT.depth", 12.5), ("DPT.offset", 0.5)]
    assert parse(UBLOX_GGA) == [("GGA.altitude", 499.6)]
    glonass = [
        b"$GLGSV,2,1,06,65,23,216,30,66,43,277,31,67,10,100,32,68,70,010,33",
        b"$GLGSV,2,2,06,69,23,216,34,70,43,277,35",
    ]
    assert parse(glonass[0]) == []  # the address's first, after another's checksums: ignored
    assert [parse(line) for line in glonass] == [[], [("GSV.in_view_glonass", 6.0)]]
    assert parse(b"$GLGSA,A,3,65,66,67,,,,,,,,,,2.5,1.7,1.7") == []
    assert parse(b"$GLGSA,A,3,65,66,67,,,,,,,,,,2.5,1.7,1.8") == [("GSA.used_glonass", 3.0)]
    # "79" is the checksum of "SDDPT,12.04,0.5,": a maximum range, not a lost "*"
    assert parse(b"$SDDPT,12.04,0.5,79") == [("DPT.depth", 12.04), ("DPT.offset", 0.5)]
    assert parse(b"$YCMTW,17.4,C") == []
    assert parse(b"$YCMTW,17.5,C") == [("MTW.temperature", 17.5)]
    assert counts.unchecked == 6
    # the receiver's sentences cut within their last field, checksum and all
    gst = nmea("GPGST,172814.0,0.006,0.023,0.020,273.6,0.023,0.020,0.031")
    assert parse(gst) == [("GST.altitude_error", 0.031)]
    assert reason(parse, gst[: gst.index(b"*") - 2]) == "truncated"  # 0.0, 0.031 cut
    assert parse(nmea("GPGSV,1,1,01,12,70,010,33")) == []  # GPS: no channel's
    assert reason(parse, glonass[1].replace(b"$GL", b"$GP")[:-3]) == "truncated"
    # once the sounder sends checksums, a sentence of it without one is cut short too
    assert parse(nmea("SDDPT,12.05,0.5,")) == [("DPT.depth", 12.05), ("DPT.offset", 0.5)]
    assert reason(parse, b"$SDDPT,12.04,0.5,79") == "checksum"  # its "*" lost
    assert reason(parse, b"$SDDPT,12.04,0.") == "truncated"
    assert parse(b"$YCMTW,17.6,C") == [("MTW.temperature", 17.6)]
    assert counts.unchecked == 7


def test_an_addresss_first_sentence_without_checksum_after_checksums_is_ignored() -> None:
    """Once an address has carried checksums, another address's first sentence without one
    may be that address's first sentence cut short, checksum and all (a port opened
    mid-stream, a receiver that starts sending a GSA under ``GN`` when it gets a second
    constellation): it is ignored, neither read nor counted. Its next sentence tells: with a
    checksum, the address carries them; without, it is of an instrument that sends none, or
    a sentence that its receiver sends without one, read from then on."""
    parse = decoder("GSA.vdop", "GGA.altitude", "MTW.temperature")
    assert parse(UBLOX_GGA) == [("GGA.altitude", 499.6)]
    assert parse(b"$GNGSA,A,3,24,16,25,,,,,,,,,,2.5,1.7,1") == []  # VDOP 1.8, cut
    assert parse(nmea("GNGSA,A,3,24,16,25,,,,,,,,,,2.5,1.7,1.8,3")) == [("GSA.vdop", 1.8)]
    assert reason(parse, b"$GNGSA,A,3,24,16,25,,,,,,,,,,2.5,1.7,1") == "truncated"
    assert parse(b"$YCMTW,17.5,C") == []
    assert parse(b"$YCMTW,17.6,C") == [("MTW.temperature", 17.6)]


def test_checksums_are_known_per_address_of_an_nmea_1_5_receiver() -> None:
    """An NMEA 0183 1.5 receiver puts checksums on RMC (mandatory there) and on none of its
    GGA, GSA and GSV, all under ``GP``: each of these is ignored once, as the first sentence
    of its address without checksum, and read from then on, GSV groups too. Its RMC without
    checksum is one cut short, and with its ``*`` damaged a checksum error."""
    counts = DecoderCounts()
    fields = ("RMC.speed", "GGA.altitude", "GSA.vdop", "GSV.in_view_gps")
    spec = FormatSpec("nmea", tuple((f, f) for f in fields))
    parse = nmea_module.timed_decoder(spec, lambda: 0.0, counts)

    def epoch(second: int) -> list[bytes]:
        rmc = f"GPRMC,0835{second:02d}.00,A,4717.11437,N,00833.91522,E,0.004,77.52,091202,,,A"
        gga = f"$GPGGA,0835{second:02d}.00,4717.11399,N,00833.91590,E,1,08,1.01,499.6,M,48.0,M,,"
        return [
            nmea(rmc),
            gga.encode(),
            b"$GPGSA,A,3,24,16,25,,,,,,,,,,2.5,1.7,1.8",
            b"$GPGSV,2,1,05,24,23,216,30,16,43,277,31,25,10,100,32,12,70,010,33",
            b"$GPGSV,2,2,05,29,23,216,34",
        ]

    first = [parse(line) for line in epoch(1)]
    assert first == [[("RMC.speed", 0.004)], [], [], [], []]
    assert counts.unchecked == 1  # the GSV ending a group whose start was ignored
    second = [parse(line) for line in epoch(2)]
    assert second == [
        [("RMC.speed", 0.004)],
        [("GGA.altitude", 499.6)],
        [("GSA.vdop", 1.8)],
        [],
        [("GSV.in_view_gps", 5.0)],
    ]
    assert counts.unchecked == 5
    rmc = epoch(3)[0]
    assert reason(parse, rmc[: rmc.index(b"*")]) == "truncated"
    assert reason(parse, rmc.replace(b"*", b"#")) == "checksum"
    assert reason(parse, epoch(3)[1][:-20]) == "truncated"  # a GGA short of its fields
    assert counts.unchecked == 5


def test_the_addresses_known_to_carry_checksums_are_bounded() -> None:
    """A decoder remembers at most ADDRESSES_KEPT addresses as carrying checksums: past them
    a new address's sentences without checksum are read as a receiver's that sends none (not
    ``truncated``), and one of the addresses remembered still is ``truncated``."""
    parse = decoder("GGA.altitude")

    def gga(talker: str, second: int) -> str:  # each its own time: no repeat of the one before
        time = f"08{second // 60:02d}{second % 60:02d}.00"
        return f"{talker}GGA,{time},4717.11399,N,00833.91590,E,1,08,1.01,499.6,M,48.0,M,,"

    talkers = [a + b for a in "ABCDEFGHIJ" for b in "ABCDEFGHIJ"][: nmea_module.ADDRESSES_KEPT]
    for second, talker in enumerate(talkers):
        assert parse(nmea(gga(talker, second))) == [("GGA.altitude", 499.6)]
    assert reason(parse, ("$" + gga(talkers[-1], 100)).encode()) == "truncated"
    assert parse(nmea(gga("ZZ", 101))) == [("GGA.altitude", 499.6)]
    # a new address's first sentence without checksum, ignored once; its next one is read
    assert parse(("$" + gga("ZZ", 102)).encode()) == []
    assert parse(("$" + gga("ZZ", 103)).encode()) == [("GGA.altitude", 499.6)]


def test_a_gsa_of_more_than_12_satellites_keeps_its_dops_where_they_are() -> None:
    """Receivers with more channels list up to 24 satellites in GSA: the DOPs are the last
    fields (before a system ID), not satellite numbers; every satellite listed counts."""
    parse = decoder("GSA.fix_mode", "GSA.pdop", "GSA.hdop", "GSA.vdop", "GSA.satellites_used")
    ids = ",".join(f"{n:02d}" for n in range(1, 25))
    want = {
        "GSA.fix_mode": 3.0,
        "GSA.pdop": 1.2,
        "GSA.hdop": 0.8,
        "GSA.vdop": 0.9,
        "GSA.satellites_used": 24.0,
    }
    assert dict(parse(nmea(f"GNGSA,A,3,{ids},1.2,0.8,0.9"))) == want
    assert dict(parse(nmea(f"GNGSA,A,3,{ids},1.2,0.8,0.9,1"))) == want  # with a system ID
    thirteen = ",".join(f"{n:02d}" for n in range(1, 14))
    assert dict(parse(nmea(f"GPGSA,A,3,{thirteen},1.2,0.8,0.9"))) == {
        **want,
        "GSA.satellites_used": 13.0,
    }
    # empty fields among the satellites do not count
    assert dict(parse(nmea(f"GPGSA,A,3,{thirteen},,,1.2,0.8,0.9"))) == {
        **want,
        "GSA.satellites_used": 13.0,
    }
    # a standard sentence, full or not, is read as before
    twelve = ",".join(f"{n:02d}" for n in range(1, 13))
    assert dict(parse(nmea(f"GNGSA,A,3,{twelve},1.2,0.8,0.9,1"))) == {
        **want,
        "GSA.satellites_used": 12.0,
    }
    assert dict(parse(nmea("GPGSA,A,3,01,02,,,,,,,,,,,1.2,0.8,0.9"))) == {
        **want,
        "GSA.satellites_used": 2.0,
    }


def test_a_gsa_of_more_than_12_satellites_counts_each_constellation_in_full() -> None:
    """The satellites past the twelfth count for their constellation as the first twelve do:
    by the system ID, by the talker, or (a GN sentence without one) by each number."""
    parse = decoder("GSA.used_gps", "GSA.used_glonass", "GSA.satellites_used")
    gps = ",".join(f"{n:02d}" for n in range(1, 15))  # 14 GPS satellites
    assert dict(parse(nmea(f"GNGSA,A,3,{gps},1.2,0.8,0.9,1"))) == {
        "GSA.used_gps": 14.0,
        "GSA.satellites_used": 14.0,
    }
    assert dict(parse(nmea(f"GPGSA,A,3,{gps},1.2,0.8,0.9"))) == {
        "GSA.used_gps": 14.0,
        "GSA.satellites_used": 14.0,
    }
    # ten GPS and six GLONASS (65-96) in one GN sentence without a system ID
    mixed = ",".join([f"{n:02d}" for n in range(1, 11)] + [str(n) for n in range(65, 71)])
    assert dict(parse(nmea(f"GNGSA,A,3,{mixed},1.2,0.8,0.9"))) == {
        "GSA.used_gps": 10.0,
        "GSA.used_glonass": 6.0,
        "GSA.satellites_used": 16.0,
    }


def test_satellite_fields_of_zeros_list_no_satellite_past_the_twelfth_too() -> None:
    """A satellite number field of zeros, however many (``0000``), lists no satellite, as an
    empty one does, in a GSA's first twelve fields and past them: gpsd's ``processGSA`` reads
    every satellite field of the sentence with ``atoi()`` and skips one below 1, and its
    ``processGSV`` an entry numbered 0. A receiver of more channels than twelve fills the
    fields it does not use as one of twelve does, with nothing or with zeros."""
    parse = decoder("GSA.satellites_used", "GSA.used_gps")
    thirteen = ",".join(f"{n:02d}" for n in range(1, 14))
    zeros = ",".join(["00"] * 11)  # 24 satellite fields in all
    # a GPS sentence of 24 fields without system ID, and a GN one with system ID 1
    for body in (
        f"GPGSA,A,3,{thirteen},{zeros},1.2,0.8,0.9",
        f"GNGSA,A,3,{thirteen},{zeros},1.2,0.8,0.9,1",
    ):
        assert dict(parse(nmea(body))) == {"GSA.satellites_used": 13.0, "GSA.used_gps": 13.0}
    # zeros of every width, before and after the thirteenth satellite, as empty fields are
    twelve = ",".join(f"{n:02d}" for n in range(1, 13))
    mixed = nmea(f"GNGSA,A,3,{twelve},0,13,000,,0000,14,00,1.2,0.8,0.9,1")
    assert dict(parse(mixed)) == {"GSA.satellites_used": 14.0, "GSA.used_gps": 14.0}
    # 0000 among a standard sentence's twelve, with and without system ID
    for body in (
        "GPGSA,A,3,04,05,0000,,,,,,,,,,2.5,1.3,2.1",
        "GNGSA,A,3,04,0000,05,,,,,,,,,,2.5,1.3,2.1,1",
    ):
        assert dict(parse(nmea(body))) == {"GSA.satellites_used": 2.0, "GSA.used_gps": 2.0}
    # a GSV entry numbered 0000 is no satellite: its SNR is in no figure (20 dB-Hz would make
    # the mean 25)
    gsv = decoder("GSV.in_view_glonass", "GSV.snr_mean_glonass", "GSV.snr_max_glonass")
    assert gsv(nmea("GLGSV,1,1,01,65,10,100,30,0000,00,000,20,,,,,,,,")) == [
        ("GSV.in_view_glonass", 1.0),
        ("GSV.snr_mean_glonass", 30.0),
        ("GSV.snr_max_glonass", 30.0),
    ]


def test_a_long_gsa_finds_its_dops_with_integer_dops_or_an_empty_system_id() -> None:
    """The last field of a GSA longer than the standard's is its system ID only when the
    three before it are DOPs: integer DOPs are not read as a satellite and two DOPs, and an
    empty system ID does not shift the DOPs."""
    parse = decoder("GSA.pdop", "GSA.hdop", "GSA.vdop", "GSA.satellites_used")
    ids = ",".join(f"{n:02d}" for n in range(1, 17))
    assert dict(parse(nmea(f"GNGSA,A,3,{ids},2,1,2"))) == {
        "GSA.pdop": 2.0,
        "GSA.hdop": 1.0,
        "GSA.vdop": 2.0,
        "GSA.satellites_used": 16.0,
    }
    want = {"GSA.pdop": 1.5, "GSA.hdop": 0.9, "GSA.vdop": 1.2, "GSA.satellites_used": 16.0}
    assert dict(parse(nmea(f"GNGSA,A,3,{ids},1.5,0.9,1.2,"))) == want
    assert dict(parse(nmea(f"GNGSA,A,3,{ids},1.5,0.9,1.2,F"))) == want


GPS_FIX = (
    '[[sensors]]\nname = "gps"\nport = "sim://gps"\nformat = "nmea"\n'
    '  [[sensors.channels]]\n  name = "alt"\n  field = "GGA.altitude"\n'
    '  [[sensors.channels]]\n  name = "lat"\n  field = "RMC.latitude"\n'
)


def test_a_pubx_svstatus_past_max_frame_bytes_is_an_ignored_frame_of_the_sensor() -> None:
    """Through a sensor: a u-blox's ``$PUBX,03`` of 32 satellites each epoch, between its
    GGA and RMC, counts in ``ignored_frames`` (``sensord_frames_ignored_total``), no parse
    error, and every GGA and RMC is read."""
    now = [100.0]
    runtime = SensorRuntime(parse_config(GPS_FIX).sensors[0], clock=lambda: now[0])
    assert runtime.try_open()
    try:
        for second in range(3):
            now[0] += 1.0
            epoch = (nmea(gga(second)), pubx_svstatus(32), nmea(rmc(second)))
            runtime.feed(b"".join(sentence + b"\r\n" for sentence in epoch))
        snapshot = runtime.snapshot()
    finally:
        runtime.stop()
    assert sum(snapshot.parse_errors.values()) == 0
    assert snapshot.ignored_frames == 3
    assert {c.name: c.stats.count if c.stats else 0 for c in snapshot.channels} == {
        "alt": 3,
        "lat": 3,
    }


def fix_watch(
    epochs: list[list[str]], *, seconds: float = 1.0
) -> tuple[list[tuple[str, str]], list[str | None], list[Any]]:
    """A GPS sensor fed ``epochs`` (the bodies of each epoch's sentences), one every
    ``seconds``, with housekeeping after each: the fix's log lines (event, level), the hint
    after each epoch, and the log records of the fix."""
    now = [100.0]
    runtime = SensorRuntime(parse_config(GPS_FIX).sensors[0], clock=lambda: now[0])
    assert runtime.try_open()
    hints: list[str | None] = []
    try:
        with capture_logs() as logs:
            for epoch in epochs:
                for body in epoch:
                    runtime.feed(nmea(body) + b"\r\n")
                now[0] += seconds
                runtime.remind(now[0])
                hints.append(runtime.snapshot().hint)
    finally:
        runtime.stop()
    records = [e for e in logs if "fix" in e["event"]]
    return [(e["event"], e["log_level"]) for e in records], hints, records


def gga(second: int, quality: str = "1") -> str:
    position = "4807.038,N,01131.000,E" if quality != "0" else ",,,"
    return f"GPGGA,1200{second:02d}.00,{position},{quality},08,0.9,545.4,M,46.9,M,,"


def rmc(second: int, status: str = "A", mode: str = "A") -> str:
    return f"GPRMC,1200{second:02d}.00,{status},4807.038,N,01131.000,E,0.1,84.4,030326,,,{mode}"


def test_a_fix_lost_and_regained_is_logged_and_told_on_status() -> None:
    """A receiver that loses its fix (GGA fix quality 0, RMC status V: an antenna unplugged,
    a car in a garage) keeps sending sentences, so the sensor stays up and only the values of
    a fix stop: after FIX_LOST_AFTER_S without a sentence that says it has a fix the loss is
    logged and the sensor's hint says so (``sensord status`` exits 1) with how long; the fix
    regained is logged with how long it was lost."""
    epochs = [[gga(0), rmc(0)]] + [[gga(s, "0"), rmc(s, "V", "N")] for s in range(1, 13)]
    epochs.append([gga(13), rmc(13)])
    told, hints, records = fix_watch(epochs)
    assert told == [("fix lost", "warning"), ("fix regained", "info")]
    assert hints[:3] == [None, None, None]  # a loss shorter than FIX_LOST_AFTER_S is none
    assert hints[3] is not None
    assert hints[3].startswith("the receiver reports no fix (for 3 s): its position and the")
    assert hints[12] is not None
    assert hints[12].startswith("the receiver reports no fix (for 12 s)")
    assert hints[13] is None
    assert records[-1]["lost_for_s"] == 13.0


def test_a_fix_that_flaps_for_days_is_logged_once_a_minute() -> None:
    """A marginal antenna: the fix comes and goes every 5 s for days. Each loss and each
    return was logged (12 lines a minute, 17,000 a day: journald's rate limit then drops the
    other services' lines too); like a flapping port's state, the changes are logged until
    more than 10 come within 10 minutes, then once a minute with ``suppressed=N``, and when
    the fix has kept its state for a minute that is logged once, with what was held back."""
    cycle = [[gga(s % 60), rmc(s % 60)] for s in range(5)]
    cycle += [[gga(s % 60, "0"), rmc(s % 60, "V", "N")] for s in range(5, 10)]
    steady = [[gga(s % 60), rmc(s % 60)] for s in range(70)]
    told, hints, records = fix_watch(cycle * 60 + steady)  # 10 minutes of flapping
    changes = [e for e in told if e[0] in ("fix lost", "fix regained")]
    assert 10 < len(changes) <= 10 + 10 + 1  # the first 10, then one a minute at most
    assert told[-1] == ("fix steady again", "info")
    last = records[-1]
    assert last["fix"] is True
    assert last["suppressed"] > 0
    held = sum(r.get("suppressed", 0) for r in records)
    assert held + len(changes) == 120  # every change logged or counted
    assert hints[-1] is None


def test_a_fix_sentences_disagree_on_within_an_epoch_is_kept() -> None:
    """Dead reckoning as NMEA 2.3 and later send it (GGA quality 6, RMC status V with mode
    E), and two receivers on a multiplexer, one with a fix and one without: a sentence says
    the receiver has a fix at every epoch, so no fix is lost and no hint comes, whatever the
    order of the sentences and of housekeeping."""
    dead_reckoning = [[rmc(s, "V", "E"), gga(s, "6")] for s in range(8)]
    assert fix_watch(dead_reckoning, seconds=1.0)[:2] == ([], [None] * 8)
    multiplexed = [[gga(s), gga(s, "0")] for s in range(8)]
    assert fix_watch(multiplexed, seconds=0.5)[:2] == ([], [None] * 8)


def test_a_position_entered_by_hand_or_simulated_is_no_fix_lost() -> None:
    """A timing receiver in fixed-position mode (GGA quality 7) and one in simulator mode
    (quality 8, RMC mode S) work as they are set to: their position is no measurement (not
    read), but no fix is lost either."""
    fixed = [[gga(s, "7")] for s in range(6)]
    assert fix_watch(fixed)[:2] == ([], [None] * 6)
    simulating = [[gga(s, "8"), rmc(s, "A", "S")] for s in range(6)]
    assert fix_watch(simulating)[:2] == ([], [None] * 6)


def test_a_receiver_without_a_fix_since_the_open_is_told_at_info() -> None:
    """After a cold start a receiver has no fix for a while: told at info, not as a loss, and
    the hint counts from the port's opening."""
    told, hints, _ = fix_watch([[gga(s, "0")] for s in range(5)])
    assert told == [("receiver reports no fix", "info")]
    assert hints[1] is None
    assert hints[2] is not None
    assert hints[2].startswith("the receiver reports no fix (for 3 s)")


def test_the_fix_of_the_last_connection_is_not_told_after_a_reconnect() -> None:
    """The port reopened (the receiver may have been replaced): its fix is the new
    connection's to tell, and a loss told before is not carried over."""
    now = [100.0]
    runtime = SensorRuntime(parse_config(GPS_FIX).sensors[0], clock=lambda: now[0])
    assert runtime.try_open()
    try:
        for s in range(5):
            runtime.feed(nmea(gga(s, "0")) + b"\r\n")
            now[0] += 1.0
            runtime.remind(now[0])
        assert runtime.snapshot().hint is not None
        runtime.close_source()
        now[0] += 600.0
        assert runtime.try_open()
        assert runtime.snapshot().hint is None
    finally:
        runtime.stop()


def test_a_fix_lost_leaves_its_values_without_a_current_one_and_the_fix_brings_them_back() -> None:
    """Once the fix counts as lost, the last position is no current value (a boat stopped
    in a harbour would show its last speed as now): the fix's channels have none, but GGA's
    fix quality, read without a fix (0), has its reading at once; the fix regained brings
    the position back."""
    text = (
        '[[sensors]]\nname = "gps"\nport = "sim://gps"\nformat = "nmea"\n'
        'channels = [{ name = "lat", field = "RMC.latitude" }, '
        '{ name = "alt", field = "GGA.altitude" }, { name = "quality", field = "GGA.fix_quality" }]\n'
    )
    now = [100.0]
    runtime = SensorRuntime(parse_config(text).sensors[0], clock=lambda: now[0])
    assert runtime.try_open()

    def available() -> dict[str, bool]:
        return {c.name: c.available for c in runtime.snapshot().channels}

    try:
        epochs = [[gga(0), rmc(0)]] + [[gga(s, "0"), rmc(s, "V", "N")] for s in range(1, 6)]
        seen = []
        for epoch in epochs:
            for body in epoch:
                runtime.feed(nmea(body) + b"\r\n")
            now[0] += 1.0
            runtime.remind(now[0])
            seen.append(available())
        assert seen[1] == {"lat": True, "alt": True, "quality": True}  # not lost yet
        assert seen[-1] == {"lat": False, "alt": False, "quality": True}
        latest = {c.name: c.stats for c in runtime.snapshot().channels}
        assert latest["quality"] is not None
        assert latest["quality"].reading.value == 0.0
        runtime.feed(nmea(gga(6)) + b"\r\n" + nmea(rmc(6)) + b"\r\n")
        assert available() == {"lat": True, "alt": True, "quality": True}
    finally:
        runtime.stop()


def test_an_xdr_quadruple_is_read_by_its_type_and_name_or_its_type_alone() -> None:
    """A weather bridge names its temperature (type C) and humidity (type H) quadruples
    alike; ``XDR.<type>:<name>`` reads each, where ``XDR.<name>`` takes the first of the name
    whatever its type. An LCJ CV7 anemometer's temperature quadruple has no name (its
    ``$WIXDR,C,026.0,C,,``), read as ``XDR.C:``."""
    parse = decoder("XDR.C:ENV_OUTAIR_T", "XDR.H:ENV_OUTAIR_T", "XDR.ENV_OUTAIR_T", "XDR.C:")
    assert dict(parse(nmea("IIXDR,C,19.52,C,ENV_OUTAIR_T,H,66.66,P,ENV_OUTAIR_T"))) == {
        "XDR.C:ENV_OUTAIR_T": 19.52,
        "XDR.H:ENV_OUTAIR_T": 66.66,
        "XDR.ENV_OUTAIR_T": 19.52,
    }
    assert dict(parse(nmea("WIXDR,C,026.0,C,"))) == {"XDR.C:": 26.0}
    # the simulator writes each quadruple with its type and name, and reads them back
    spec = FormatSpec("nmea", (("t", "XDR.C:ENV_OUTAIR_T"), ("h", "XDR.H:ENV_OUTAIR_T")))
    codec = codec_for("nmea")
    frames = codec.encoder(spec)({"XDR.C:ENV_OUTAIR_T": 19.5, "XDR.H:ENV_OUTAIR_T": 66.0}, 0.0)
    readings = [pair for frame in frames for pair in codec.decoder(spec)(frame)]
    assert sorted(readings) == [("h", 66.0), ("t", 19.5)]


#: The XDR of tests/fixtures/nmea/marine.nmea (an Airmar weather station's, transcribed from
#: its documentation): air temperature (C), barometer in bars (B) and humidity (P, percent).
AIRMAR_XDR = b"$WIXDR,C,19.52,C,AirTemp,P,1.0158,B,Barometer,H,45.1,P,Humidity*6C"
#: An Airmar 110WX's XDR (tests/fixtures/nmea/airmar_110wx.nmea): wind chill and heat index
#: empty, the station pressure in bars.
AIRMAR_110WX_XDR = b"$YXXDR,C,,C,WCHR,C,,C,WCHT,C,,C,HINX,P,1.0113,B,STNP*49"

XDR_STATION = (
    '[[sensors]]\nname = "wx"\nport = "sim://wx"\nformat = "nmea"\n'
    "channels = [\n"
    '  { name = "air", field = "XDR.AirTemp", units = ["C"] },\n'
    '  { name = "pressure_pa", field = "XDR.Barometer", units = ["P"] },\n'
    '  { name = "humidity", field = "XDR.Humidity" },\n'
    "]\n"
)


def test_an_xdr_channel_with_units_gets_no_value_from_a_quadruple_in_another_unit() -> None:
    """A channel that takes pascals (``units = ["P"]``) from a station that sends bars: its
    quadruple gives it no value, counted as ``invalid`` and logged with the unit found and
    the units taken, and it has no current value from then on; the sentence's other
    quadruples are read, the one whose channel has no ``units`` whatever its unit."""
    runtime = SensorRuntime(parse_config(XDR_STATION).sensors[0])
    with capture_logs() as logs:
        runtime.feed(AIRMAR_XDR + b"\r\n")
    snapshot = runtime.snapshot()
    assert {r: n for r, n in snapshot.parse_errors.items() if n} == {"invalid": 1}
    values = {ch.name: ch.stats.reading.value for ch in snapshot.channels if ch.stats}
    assert values == {"air": 19.52, "humidity": 45.1}
    assert {c.name: c.available for c in snapshot.channels}["pressure_pa"] is False
    [event] = [e for e in logs if e["log_level"] == "warning"]
    assert event["event"] == "field rejected"
    assert event["fields_kept"] == 2
    assert event["detail"] == (
        "XDR 'P,1.0158,B,Barometer': its unit 'B' is none of the units of channel 'pressure_pa' (P)"
    )
    # in pascals, as the channel takes them: read
    runtime.feed(nmea("WIXDR,C,19.6,C,AirTemp,P,101580,P,Barometer") + b"\r\n")
    snapshot = runtime.snapshot()
    values = {ch.name: ch.stats.reading.value for ch in snapshot.channels if ch.stats}
    assert values == {"air": 19.6, "humidity": 45.1, "pressure_pa": 101580.0}
    assert snapshot.parse_errors["invalid"] == 1


def test_a_field_written_wrong_is_counted_before_a_value_in_another_unit() -> None:
    """In a sentence whose checksum holds, one channel's value in another unit and another's
    malformed number: the sentence is counted as ``syntax`` (damage a device sends), not as
    ``invalid``, and the first channel still has no value."""
    parse = codec_for("nmea").decoder(
        FormatSpec("nmea", (("a", "XDR.A"), ("b", "XDR.B")), channel_units=(("a", ("C",)),))
    )
    with pytest.raises(ParseError) as caught:
        parse(nmea("WIXDR,C,20.0,F,A,C,1.2.3,C,B"))
    assert caught.value.reason == "syntax"
    assert caught.value.unavailable == ("a",)


def test_xdr_units_pick_the_quadruples_a_channel_reads() -> None:
    spec = parse_config(XDR_STATION).sensors[0].format_spec()
    parse = codec_for("nmea").decoder(spec)
    with pytest.raises(ParseError) as caught:
        parse(AIRMAR_XDR)
    assert caught.value.reason == "invalid"
    assert caught.value.kept == [("air", 19.52), ("humidity", 45.1)]
    assert caught.value.unavailable == ("pressure_pa",)
    # a sentence without checksum too (of a station that sends none): the value is sound,
    # in another unit
    with pytest.raises(ParseError) as caught:
        codec_for("nmea").decoder(spec)(AIRMAR_XDR.split(b"*")[0])
    assert caught.value.kept == [("air", 19.52), ("humidity", 45.1)]
    # the only quadruple read in another unit, or with none: the sentence gives nothing
    for unit in ("B", ""):
        with pytest.raises(ParseError, match=f"its unit '{unit}' is none") as caught:
            parse(nmea(f"WIXDR,P,1.0158,{unit},Barometer"))
        assert (caught.value.reason, caught.value.kept) == ("invalid", [])
    # an empty value is no value, whatever its unit; a unit taken in another case is another
    assert parse(nmea("WIXDR,C,,F,AirTemp,P,,B,Barometer")) == []
    assert reason(parse, nmea("WIXDR,P,101580,p,Barometer")) == "invalid"
    # the Airmar 110WX's station pressure, by type and name, in bars as the channel takes them
    bars = FormatSpec(
        "nmea",
        (("p", "XDR.P:STNP"), ("chill", "XDR.WCHR")),
        channel_units=(("p", ("B",)), ("chill", ("C",))),
    )
    assert codec_for("nmea").check(bars) == []
    assert codec_for("nmea").decoder(bars)(AIRMAR_110WX_XDR) == [("p", 1.0113)]
    pascals = replace(bars, channel_units=(("p", ("P", "Pa")),))
    with pytest.raises(ParseError, match=r"its unit 'B' is none of .* 'p' \(P, Pa\)"):
        codec_for("nmea").decoder(pascals)(AIRMAR_110WX_XDR)


def test_an_xdr_name_sent_in_two_units_is_read_in_the_unit_a_channel_takes() -> None:
    """A station that sends its pressure under one name twice, in bars and in inches of
    mercury: a channel with units reads the quadruple in one of them, wherever it is, and
    the other channel the other; without units, the first is read as before."""
    spec = FormatSpec(
        "nmea",
        (("bar", "XDR.Barometer"), ("inhg", "XDR.P:Barometer"), ("first", "XDR.Barometer")),
        channel_units=(("bar", ("B",)), ("inhg", ("I",))),
    )
    parse = codec_for("nmea").decoder(spec)
    sentence = nmea("IIXDR,P,29.86,I,Barometer,P,1.0113,B,Barometer")
    assert parse(sentence) == [("bar", 1.0113), ("inhg", 29.86), ("first", 29.86)]
    # one in neither unit: the first of those in another unit is named
    with pytest.raises(ParseError, match=r"'P,101130,P,Barometer': its unit 'P' is none") as caught:
        parse(nmea("IIXDR,P,101130,P,Barometer,P,1.0113,B,Barometer"))
    assert caught.value.kept == [("bar", 1.0113), ("first", 101130.0)]
    assert caught.value.unavailable == ("inhg",)


#: A Vaisala WXT520's XDR with its transducer IDs as names (all 0): air temperature (C),
#: relative humidity (P, percent) and air pressure (H, hectopascals).
WXT520_XDR_BODY = "WIXDR,C,21.0,C,0,H,39.6,P,0,P,1023.6,H,0"


def test_xdr_units_pick_the_quadruple_of_a_repeated_name_in_a_unit_taken() -> None:
    """Quadruples whose names repeat (a WXT520 names them all 0, a station that sends one
    name in bars and in pascals): a channel with ``units`` reads the first of that name in
    a unit it takes, as its units say, not an error for the first of the name in another;
    in none of them, the first with a value is the one told."""
    parse = codec_for("nmea").decoder(
        FormatSpec("nmea", (("pressure", "XDR.0"),), channel_units=(("pressure", ("H",)),))
    )
    assert parse(nmea(WXT520_XDR_BODY)) == [("pressure", 1023.6)]
    pascals = codec_for("nmea").decoder(
        FormatSpec("nmea", (("p", "XDR.P:STNP"),), channel_units=(("p", ("P",)),))
    )
    assert pascals(nmea("WIXDR,P,1.0113,B,STNP,P,101130,P,STNP")) == [("p", 101130.0)]
    # in a unit taken but empty: no value, whatever the others of the name hold
    assert pascals(nmea("WIXDR,P,,P,STNP,P,1.0113,B,STNP")) == []
    with pytest.raises(ParseError, match=r"XDR 'P,1.0113,B,STNP': its unit 'B' is none"):
        pascals(nmea("WIXDR,P,,B,STNP,P,1.0113,B,STNP,P,2.0,K,STNP"))


def test_the_simulator_writes_an_xdr_channel_s_first_unit() -> None:
    spec = parse_config(XDR_STATION).sensors[0].format_spec()
    codec = codec_for("nmea")
    values = {"XDR.AirTemp": 19.5, "XDR.Barometer": 101580.0, "XDR.Humidity": 45.0}
    [frame] = codec.encoder(spec)(values, 0.0)
    assert frame == nmea("YXXDR,G,19.500,C,AirTemp,G,101580.000,P,Barometer,G,45.000,,Humidity")
    assert sorted(codec.decoder(spec)(frame)) == [
        ("air", 19.5),
        ("humidity", 45.0),
        ("pressure_pa", 101580.0),
    ]


def test_sensord_check_refuses_units_on_an_nmea_channel_other_than_xdr(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "sensord.toml"
    config.write_text(XDR_STATION)
    assert cli.main(["check", str(config)]) == 0
    assert "configuration is valid" in capsys.readouterr().out
    config.write_text(XDR_STATION.replace('field = "XDR.AirTemp"', 'field = "MDA.air_temperature"'))
    assert cli.main(["check", str(config)]) == 1
    err = capsys.readouterr().err
    assert "sensors[0].channels[0].units" in err
    assert "only an XDR channel takes units" in err
    assert "'MDA.air_temperature' has its unit fixed by its sentence: leave units out" in err


@pytest.mark.parametrize(
    ("fields", "units", "message"),
    [
        (("XDR.STNP",), (("a", ("B,P",)),), "'B,P': must be the text of a quadruple's unit"),
        (("XDR.STNP",), (("a", (" B",)),), "' B': must be the text of a quadruple's unit"),
        (
            ("XDR.STNP", "XDR.STNP"),
            (("a", ("B",)), ("b", ("P",))),
            "channel 'a' reads the same field with the units B: give both the same units",
        ),
        (
            ("XDR.STNP", "XDR.STNP"),
            (("b", ("P",)),),
            "channel 'a' reads the same field with no units: give both the same units",
        ),
        (("GGA.altitude",), (("a", ("M",)),), "only an XDR channel takes units"),
    ],
)
def test_check_refuses_xdr_units_it_cannot_match(
    fields: tuple[str, ...], units: tuple[tuple[str, tuple[str, ...]], ...], message: str
) -> None:
    channels = tuple(zip("ab", fields, strict=False))
    spec = FormatSpec("nmea", channels, channel_units=units)
    [(key, problem)] = codec_for("nmea").check(spec)
    assert key.endswith(".units")
    assert message in problem


@given(
    degrees=st.integers(0, 89),
    thousandths=st.integers(0, 59_999_999),
    decimals=st.integers(1, 6),
    south=st.booleans(),
)
def test_a_latitude_is_the_decimal_its_degrees_and_minutes_read(
    degrees: int, thousandths: int, decimals: int, south: bool
) -> None:
    """``4807.038`` is 48.1173, not the 48.11729999999999 of degrees + minutes / 60 in
    floats: the degrees are the decimal the text gives, rounded once."""
    minutes = f"{thousandths / 1_000_000:09.6f}"[: 3 + decimals]
    text = f"{degrees:02d}{minutes}"
    parse = decoder("GLL.latitude")
    [(_, value)] = parse(nmea(f"GPGLL,{text},{'S' if south else 'N'},01131.000,E,120000.00,A,A"))
    exact = Fraction(degrees) + Fraction(minutes) / 60
    assert value == float(-exact if south else exact)


# -- MDA: the meteorological composite -----------------------------------------------------------

MDA_FIELDS = tuple(f for f in NMEA_FIELDS if f.startswith("MDA."))
#: An MDA with every field but water temperature and absolute humidity, as an Airmar PB200
#: sends it (values made up, checksum computed).
MDA_FULL = "WIMDA,29.9870,I,1.0154,B,23.4,C,,,45.1,,11.2,C,182.5,T,184.8,M,5.2,N,2.7,M"


def test_mda_reads_each_value_in_its_own_unit() -> None:
    assert list(MDA_FIELDS) == [
        *("MDA.pressure_inhg", "MDA.pressure_bar", "MDA.air_temperature"),
        *("MDA.water_temperature", "MDA.relative_humidity", "MDA.absolute_humidity"),
        *("MDA.dew_point", "MDA.wind_direction", "MDA.wind_direction_magnetic"),
        *("MDA.wind_speed_knots", "MDA.wind_speed_mps"),
    ]
    assert nmea(MDA_FULL).endswith(b"*6B")
    assert dict(decoder(*MDA_FIELDS)(nmea(MDA_FULL))) == {
        "MDA.pressure_inhg": 29.987,
        "MDA.pressure_bar": 1.0154,
        "MDA.air_temperature": 23.4,
        "MDA.relative_humidity": 45.1,
        "MDA.dew_point": 11.2,
        "MDA.wind_direction": 182.5,
        "MDA.wind_direction_magnetic": 184.8,
        "MDA.wind_speed_knots": 5.2,
        "MDA.wind_speed_mps": 2.7,  # the station's own field, not 5.2 kn converted
    }


def test_mda_empty_fields_give_no_value_and_leave_the_others() -> None:
    """Weather stations leave what they do not measure empty, its unit letter too or not. The
    sentences of the Signal K project's MDA tests (github.com/SignalK/nmea0183-signalk,
    test/MDA.ts, checksums as given there): every field empty but the unit letters; the
    pressure in bars only and the wind speed in knots only, values signed; a pressure in
    inches of mercury only and a wind speed in m/s only."""
    parse = decoder(*MDA_FIELDS)
    assert parse(b"$WIMDA,,I,,B,,C,,C,,,,C,,T,,M,,N,,M*04") == []
    signed = b"$WIMDA,,I,+0.985,B,+03.1,C,+5.6,C,40.0,3.0,+3.4,C,90.0,T,85.0,M,10.0,N,,M*1A"
    assert dict(parse(signed)) == {
        "MDA.pressure_inhg": pytest.approx(0.985 / 0.03386389),  # from the bars field
        "MDA.pressure_bar": 0.985,
        "MDA.air_temperature": 3.1,
        "MDA.water_temperature": 5.6,
        "MDA.relative_humidity": 40.0,
        "MDA.absolute_humidity": 3.0,
        "MDA.dew_point": 3.4,
        "MDA.wind_direction": 90.0,
        "MDA.wind_direction_magnetic": 85.0,
        "MDA.wind_speed_knots": 10.0,
        "MDA.wind_speed_mps": pytest.approx(10.0 * 1852 / 3600),  # from the knots field
    }
    inches = b"$WIMDA,29.92,I,,B,+03.1,C,+5.6,C,40.0,3.0,+3.4,C,90.0,T,85.0,M,,N,5.0,M*01"
    values = dict(parse(inches))
    assert values["MDA.pressure_inhg"] == 29.92
    assert values["MDA.pressure_bar"] == pytest.approx(1.0132075, abs=1e-7)
    assert values["MDA.wind_speed_knots"] == pytest.approx(5.0 * 3600 / 1852)
    assert values["MDA.wind_speed_mps"] == 5.0
    # an Airmar 110WX's pressures (tests/fixtures/nmea/airmar_110wx.nmea: 29.8637 I, 1.0113 B)
    # agree to its last digit by the conversion: its bars read from its inches alone
    airmar = nmea("WIMDA,29.8637,I,,B,21.9,C,,,54.6,,12.3,C,,,,,,,,")
    assert dict(parse(airmar))["MDA.pressure_bar"] == pytest.approx(1.0113, abs=5e-5)
    # a channel of an empty field gets no value, never 0, and the others are read
    parse = decoder("MDA.water_temperature", "MDA.wind_direction", "MDA.air_temperature")
    assert parse(nmea(MDA_FULL)) == [("MDA.wind_direction", 182.5), ("MDA.air_temperature", 23.4)]
    assert parse(nmea("WIMDA,29.9870,I,1.0154,B,,C,,,45.1,,11.2,C,,T,,M,5.2,N,2.7,M")) == []


def test_mda_a_wrong_unit_letter_loses_that_value_only() -> None:
    """Each MDA value has its one unit letter (``I``, ``B``, ``C``, ``T``, ``M``, ``N``,
    ``M``): a value followed by another letter, or by none, is a field written wrong, counted
    as ``syntax`` and its channel gets no value, while a sentence whose checksum holds gives
    its other values. Without checksum the sentence may be damaged itself, and is rejected
    whole, as every NMEA sentence with a field that does not read."""
    parse = decoder(*MDA_FIELDS)
    fahrenheit = MDA_FULL.replace("23.4,C", "74.1,F")
    with pytest.raises(ParseError) as caught:
        parse(nmea(fahrenheit))
    assert caught.value.reason == "syntax"
    assert "'F' where 'C' belongs" in caught.value.detail
    kept = dict(caught.value.kept)
    assert "MDA.air_temperature" not in kept
    assert kept["MDA.dew_point"] == 11.2
    assert kept["MDA.pressure_bar"] == 1.0154
    assert len(kept) == 8
    # the bars field in pascal's letter: no bars, inches of mercury from their own field
    with pytest.raises(ParseError) as caught:
        parse(nmea(MDA_FULL.replace("1.0154,B", "1.0154,P")))
    kept = dict(caught.value.kept)
    assert "MDA.pressure_bar" not in kept
    assert kept["MDA.pressure_inhg"] == 29.987
    # a value converted from the other unit's field is checked there: none from a wrong one
    knots_only = MDA_FULL.replace(",2.7,M", ",,M").replace("5.2,N", "5.2,K")
    with pytest.raises(ParseError) as caught:
        decoder("MDA.wind_speed_mps", "MDA.dew_point")(nmea(knots_only))
    assert caught.value.reason == "syntax"
    assert caught.value.kept == [("MDA.dew_point", 11.2)]
    # a value without its unit letter, or a direction with the other reference's letter
    for body in (MDA_FULL.replace("23.4,C", "23.4,"), MDA_FULL.replace("182.5,T", "182.5,M")):
        assert reason(decoder("MDA.air_temperature", "MDA.wind_direction"), nmea(body)) == "syntax"
    # without checksum: the whole sentence
    with pytest.raises(ParseError) as caught:
        decoder(*MDA_FIELDS)(f"${fahrenheit}".encode())
    assert caught.value.reason == "syntax"
    assert caught.value.kept == []
    assert dict(decoder(*MDA_FIELDS)(f"${MDA_FULL}".encode()))["MDA.air_temperature"] == 23.4


def test_mda_checksum_and_a_sentence_cut_short() -> None:
    parse = decoder("MDA.air_temperature")
    assert reason(parse, nmea(MDA_FULL).replace(b"23.4", b"23.5")) == "checksum"
    assert reason(parse, nmea(MDA_FULL)[:-1]) == "truncated"  # cut within its checksum
    # without checksum, short of the standard's 20 fields: cut on the line
    assert reason(parse, b"$WIMDA,29.9870,I,1.0154,B,23.4,C,,,45.1") == "truncated"
    # with a checksum that holds, the fields it has are read
    assert parse(nmea("WIMDA,29.9870,I,1.0154,B,23.4,C")) == [("MDA.air_temperature", 23.4)]


def test_check_accepts_the_mda_fields_and_suggests_one_for_a_misspelling() -> None:
    check = codec_for("nmea").check
    assert check(FormatSpec("nmea", tuple((f, f) for f in MDA_FIELDS))) == []
    [(_, message)] = check(FormatSpec("nmea", (("p", "MDA.pressure_bars"),)))
    assert "did you mean 'MDA.pressure_bar'?" in message
    # a name several sentences have: each of them
    [(_, message)] = check(FormatSpec("nmea", (("d", "wind_direction_magnetic"),)))
    assert "'MWD.wind_direction_magnetic' or 'MDA.wind_direction_magnetic'" in message


def test_the_simulator_writes_mda_with_its_unit_letters() -> None:
    """The encoder writes one MDA of all 20 fields, each unit letter in its place; a value of
    two units that the channels give in one is written in both, converted (numbers with three
    decimals, as the encoder prints every number)."""
    spec = FormatSpec("nmea", (("p", "MDA.pressure_bar"), ("w", "MDA.wind_speed_mps")))
    codec = codec_for("nmea")
    [frame] = codec.encoder(spec)({"MDA.pressure_bar": 1.015, "MDA.wind_speed_mps": 2.7}, 0.0)
    fields = frame.split(b"*")[0].split(b",")
    assert len(fields) == 21
    assert fields[0] == b"$WIMDA"
    units = [fields[i] for i in (2, 4, 6, 8, 12, 14, 16, 18, 20)]
    assert units == [b"I", b"B", b"C", b"C", b"C", b"T", b"M", b"N", b"M"]
    assert float(fields[1]) == pytest.approx(1.015 / 0.03386389, abs=5e-4)
    assert float(fields[17]) == pytest.approx(2.7 * 3600 / 1852, abs=5e-4)
    assert codec.decoder(spec)(frame) == [("p", 1.015), ("w", 2.7)]


def test_sensord_check_accepts_a_weather_station_reading_mda(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "sensord.toml"
    table = '[[sensors]]\nname = "wx"\nport = "sim://wx"\nformat = "nmea"\n'
    channel = '  [[sensors.channels]]\n  name = "{}"\n  field = "{}"\n'
    fields = ("MDA.pressure_bar", "MDA.air_temperature", "MDA.relative_humidity", "XDR.P:STNP")
    config.write_text(table + "".join(channel.format(f"c{i}", f) for i, f in enumerate(fields)))
    assert cli.main(["check", str(config)]) == 0
    assert "configuration is valid" in capsys.readouterr().out
    config.write_text(table + channel.format("p", "MDA.pressure_hpa"))
    assert cli.main(["check", str(config)]) == 1
    err = capsys.readouterr().err
    assert "unknown NMEA field 'MDA.pressure_hpa'" in err
    assert "known: MDA.pressure_inhg, MDA.pressure_bar, MDA.air_temperature" in err


def test_an_unknown_talkers_loss_shown_at_a_group_while_two_of_its_talker_wait_is_one() -> None:
    """A receiver of three GPS signals (L1 and L2 in two sentences each, L5 in one) and
    GLONASS: one epoch's L1 group loses its second sentence without a trace (a line cut
    within its ``$``), and its L2 group's second sentence loses its talker (``$0PGSV``, a
    checksum error, a loss of an unknown talker). The L5 group after them is whole while
    the L1 and L2 groups wait: the unknown talker's one loss may be of either, and is kept
    for the talker once. The next epoch's L1 group, which cuts the L1 group, shows it; its
    L2 group cuts the L2 group, the second loss, counted there: two errors for the two
    sentences lost, not one."""
    parse = decoder("GSV.in_view_gps", "GSV.in_view_glonass")
    l1 = [
        nmea("GPGSV,2,1,05,01,40,083,46,02,17,308,41,12,07,344,39,14,22,228,45,1"),
        nmea("GPGSV,2,2,05,15,10,100,30,1"),
    ]
    l2 = [
        nmea("GPGSV,2,1,05,01,40,083,40,12,07,344,43,02,17,308,30,14,22,228,20,6"),
        nmea("GPGSV,2,2,05,16,10,100,31,6"),
    ]
    l5 = nmea("GPGSV,1,1,02,05,40,083,44,30,22,228,49,8")
    glonass = nmea("GLGSV,1,1,02,65,40,083,46,66,17,308,41,1")
    epoch = [*l1, *l2, l5, glonass, dual_gga(1)]
    for _ in range(2):
        for frame in epoch:
            parse(frame)
    errors: list[str] = []
    damaged = [l1[0], *l2[:1], b"$0P" + l2[1][3:], l5, glonass, dual_gga(2)]
    for frame in [*damaged, *epoch]:
        try:
            parse(frame)
        except ParseError as exc:
            errors.append(exc.reason)
    assert errors == ["checksum", "truncated"]


def test_a_loss_of_a_group_without_total_and_in_view_is_shown_once_across_two_signals() -> None:
    """A receiver of GPS L1 and L5 that leaves the total and in-view fields of its sentences
    after the first empty, as NMEA 0183 4.11 recommends (an AirMar's ``$GPGSV,,2,,``), here
    with signal IDs. In one epoch the L1 group loses its second sentence and the L5 group its
    first, both without a trace (lines cut within their ``$``): the L5 sentence 2, out of its
    group, is the first error. The next epoch's L1 sentence 1, which cuts the L1 group, shows
    that loss (no second error); that epoch's L1 group loses its second sentence too, and the
    third epoch's L1 sentence 1 cuts it: a loss no error has counted, the second error."""
    parse = decoder("GSV.in_view_gps")
    l1 = [
        nmea("GPGSV,2,1,05,01,40,083,46,02,17,308,41,12,07,344,39,14,22,228,45,1"),
        nmea("GPGSV,,2,,15,10,100,30,1"),
    ]
    l5 = [
        nmea("GPGSV,2,1,05,01,40,083,44,12,07,344,43,02,17,308,30,14,22,228,20,8"),
        nmea("GPGSV,,2,,15,10,100,31,8"),
    ]
    epoch = [*l1, *l5, dual_gga(1)]
    assert [parse(frame) for frame in epoch] == [[], [("GSV.in_view_gps", 5.0)], [], [], []]
    assert [parse(frame) for frame in epoch] == [[], [], [], [("GSV.in_view_gps", 5.0)], []]
    errors: list[tuple[str, str]] = []
    lost = [[l1[0], l5[1], dual_gga(2)], [l1[0], *l5, dual_gga(3)], epoch, epoch]
    for frame in [frame for frames in lost for frame in frames]:
        try:
            parse(frame)
        except ParseError as exc:
            errors.append((exc.reason, exc.detail))
    assert errors == [
        ("truncated", "GSV sentence 2 out of its group"),
        ("truncated", "GSV group of 2 cut before its end"),
    ]
