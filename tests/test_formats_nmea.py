"""NMEA 0183 as receivers send it: noise and glued sentences on a line, sentences cut short,
every talker, and the addresses the parser does not use."""

from __future__ import annotations

from functools import reduce
from operator import xor

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sensord.errors import ParseError
from sensord.formats import codec_for
from sensord.formats.base import Decoder, FormatSpec
from sensord.formats.nmea import NmeaFramer

# The GGA and RMC examples of the u-blox 8 / M8 receiver description (UBX-13003221).
UBLOX_GGA = b"$GPGGA,092725.00,4717.11399,N,00833.91590,E,1,08,1.01,499.6,M,48.0,M,,*5B"
UBLOX_RMC = b"$GPRMC,083559.00,A,4717.11437,N,00833.91522,E,0.004,77.52,091202,,,A*57"
# From the issue: a receiver whose output buffer overran.
GSA_NO_FIX = b"$GPGSA,A,1,,,,,,,,,,,,,,,*1E"
RMC_VOID = b"$GPRMC,235949.00,V,,,,,,,050180,,,N*71"


def nmea(body: str) -> bytes:
    """A sentence with a correct checksum."""
    return f"${body}*{reduce(xor, body.encode(), 0):02X}".encode()


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


def test_a_line_without_start_character_reaches_the_decoder_whole() -> None:
    cut = framer()
    assert cut.feed(b"garbage\n") == [b"garbage"]
    assert cut.skipped_bytes == 0
    assert reason(decoder("GGA.altitude"), b"garbage") == "syntax"


def test_noise_between_sentences_yields_exactly_the_sentences() -> None:
    stream = b"$$" + UBLOX_GGA[1:] + b"\r\nr" + UBLOX_RMC + GSA_NO_FIX + b"\x80" + RMC_VOID + b"\n"
    assert framer().feed(stream) == [UBLOX_GGA, UBLOX_RMC, GSA_NO_FIX, RMC_VOID]


SENTENCES = [
    UBLOX_GGA,
    UBLOX_RMC,
    GSA_NO_FIX,
    RMC_VOID,
    nmea("GNGGA,001043.00,4404.14036,N,12118.85961,W,1,12,0.98,1113.0,M,-21.3,M,,"),
    nmea("GLGSV,1,1,03,65,45,123,40,66,30,200,35,81,10,300,"),
    b"!AIVDM,1,1,,B,177KQJ5000G?tO`K>RA1wUbN0TKH,0*5C",
]
#: Noise on the wire: any bytes but the line terminator and the checksum delimiter (noise that
#: holds a whole checksummed sentence is a sentence).
NOISE = st.binary(max_size=12).map(lambda b: b.replace(b"\n", b"").replace(b"*", b""))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(SENTENCES), NOISE, st.sampled_from([b"\r\n", b"\n", b""])),
        min_size=1,
        max_size=12,
    ),
    st.lists(st.integers(min_value=1, max_value=40), max_size=20),
)
def test_any_noise_before_sentences_yields_exactly_the_intact_sentences(
    items: list[tuple[bytes, bytes, bytes]], cuts: list[int]
) -> None:
    stream = b"".join(noise + sentence + end for sentence, noise, end in items) + b"\n"
    cut = framer()
    frames: list[bytes] = []
    at = 0
    for size in cuts:
        frames += cut.feed(stream[at : at + size])
        at += size
    frames += cut.feed(stream[at:])
    sentences = [sentence for sentence, _, _ in items]
    assert frames == sentences
    assert cut.skipped_bytes == sum(len(noise) for _, noise, _ in items)
    parse = decoder("GGA.altitude", "RMC.speed", "GGA.satellites")
    readings = [pair for frame in frames for pair in parse(frame)]
    assert readings == [pair for sentence in sentences for pair in parse(sentence)]


# -- sentences cut short, talkers, addresses -----------------------------------------------------


def test_a_sentence_cut_short_without_checksum_is_truncated() -> None:
    parse = decoder("RMC.speed", "GGA.altitude")
    cut = b"$GNRMC,001053.00,A,4404.14083,N,12118.85886,W,0."
    assert reason(parse, cut) == "truncated"
    assert reason(parse, UBLOX_GGA.split(b",M,")[0]) == "truncated"
    # complete without checksum: read; an NMEA 2.0 RMC has no mode field and is complete
    assert parse(UBLOX_RMC.split(b"*")[0]) == [("RMC.speed", 0.004)]
    assert parse(b"$GPRMC,083559.00,A,4717.11437,N,00833.91522,E,0.004,77.52,091202,,") == [
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
        nmea("SNRSTAT,2,44,41"),
        b"!AIVDM,1,1,,B,177KQJ5000G?tO`K>RA1wUbN0TKH,0*5C",
        b"!AIVDO,1,1,,,B3P7U0P0000D`kWiL3N@A3P5P000,0*31",
    ],
)
def test_proprietary_and_unknown_addresses_are_ignored(frame: bytes) -> None:
    assert decoder("GGA.altitude", "RMC.speed")(frame) == []


def test_short_or_odd_addresses_are_syntax_errors() -> None:
    parse = decoder("GGA.altitude")
    for body in ("GPGG,1", "", "GP-GGA,1", "GP GGA,1"):
        assert reason(parse, nmea(body)) == "syntax"
