"""SkyTraq binary messages in an NMEA stream (``binary_protocols.hex``: messages of gpsd's
capture ``skytraq-bin.log``, a SkyTraq receiver's binary output, each with its origin), read
through the framer as the sensor reads them. Each is taken out by its length (past 87 bytes,
one that its message ID has) and its check (the XOR of its payload and CR LF), its bytes
counted in ``skipped_bytes``; one whose check fails is bytes."""

from __future__ import annotations

from functools import reduce
from operator import xor

from hypothesis import given, settings
from hypothesis import strategies as st
from test_formats_nmea_dollar_blocks import (
    LINES,
    READ_SIZES,
    SENTENCES,
    damaged_copies,
    interleavings,
    keeps_the_sentences_around,
    reads_exactly_the_sentences,
)
from test_formats_nmea_stream_edges import decoded_in_pieces, hex_messages, run

from sensord.formats.base import FormatSpec
from sensord.formats.nmea_framer import NmeaFramer

SKYTRAQ = [m for m in hex_messages("binary_protocols.hex") if m.startswith(b"\xa0\xa1")]


def test_the_fixture_holds_whole_real_messages() -> None:
    """Three messages: a satellite and channel status (0xDE, 3 bytes and 10 for each of its 7
    satellites) and two GPS subframes (0xE0, 33 bytes), each with the XOR of its payload and
    CR LF; the status message's payload holds a ``!``."""
    assert [(m[4], int.from_bytes(m[2:4], "big")) for m in SKYTRAQ] == [
        (0xDE, 3 + 10 * 7),
        (0xE0, 33),
        (0xE0, 33),
    ]
    for message in SKYTRAQ:
        length = int.from_bytes(message[2:4], "big")
        assert len(message) == 4 + length + 3
        assert reduce(xor, message[4:-3], 0) == message[-3]
        assert message.endswith(b"\r\n")
    assert b"!" in SKYTRAQ[0][4:-3]


def test_messages_between_sentences_are_taken_out_at_any_chunking() -> None:
    """A SkyTraq message right before each sentence, no line end between them: at every
    chunk size the frames are the sentences and the messages' bytes are skipped. Before, the
    line framer ended a line at each message's CR LF, and the piece from the ``!`` in the
    status message's payload came out as a frame."""
    data = b"".join(SKYTRAQ[at % len(SKYTRAQ)] + line for at, line in enumerate(LINES))
    taken = sum(len(SKYTRAQ[at % len(SKYTRAQ)]) for at in range(len(LINES)))
    for size in [*range(1, 20), 64, 511, len(data)]:
        cut, frames = run(data, [size])
        assert frames == SENTENCES, size
        assert (cut.frames, cut.overlong, cut.skipped_bytes) == (len(SENTENCES), 0, taken), size


def test_a_gn_receivers_readings_are_whole_with_skytraq_messages_between_its_sentences() -> None:
    """The ZED-F9P's epochs (GSA runs of four constellations) with a SkyTraq message before
    every sentence read as they do without them: no parse error and the same readings,
    ``used_`` ones included. Before, each message's pieces were frames the decoder rejected,
    and a rejected frame before or inside a GSA run withheld the run's ``used_`` readings."""
    fields = ("GSA.used_gps", "GSA.used_glonass", "GSA.used_galileo", "GGA.latitude")
    spec = FormatSpec("nmea", tuple((field, field) for field in fields))
    plain = decoded_in_pieces(b"".join(LINES), spec)
    assert plain[0] == []
    assert {name for name, _ in plain[1]} == set(fields)
    mixed = b"".join(SKYTRAQ[at % len(SKYTRAQ)] + line for at, line in enumerate(LINES))
    assert decoded_in_pieces(mixed, spec) == plain


def test_a_message_whose_check_fails_is_bytes() -> None:
    """A message with one byte of its payload changed, with its line end cut short, or with
    a payload length past 87 bytes its message ID never has (60 NUL bytes more, its XOR
    unchanged): none is taken out, the sentences around it are read, and a port that sends
    only such messages is not named as sending them."""
    message = SKYTRAQ[1]
    flipped = message[:20] + bytes((message[20] ^ 0x01,)) + message[21:]
    no_lf = message[:-1] + b"\x00"
    longer = message[:3] + bytes((message[3] + 60,)) + message[4:-3] + bytes(60) + message[-3:]
    assert "SkyTraq" in NmeaFramer().no_frame_hint(message * 3)
    for damaged in (flipped, no_lf, longer):
        _, frames = run(LINES[0] + damaged + LINES[1], [])
        assert [f for f in frames if f in SENTENCES] == SENTENCES[:2]
        assert "SkyTraq" not in NmeaFramer().no_frame_hint(damaged * 3)


@settings(max_examples=150, deadline=None)
@given(
    order=interleavings(len(SKYTRAQ), 10),
    sizes=READ_SIZES,
)
def test_any_interleaving_of_real_sentences_and_messages_reads_exactly_the_sentences(
    order: list[tuple[int, int, bool]], sizes: list[int]
) -> None:
    """Any sequence of real SkyTraq messages and real sentences, each sentence right after a
    message with or without its CR LF, read in pieces of any sizes: the frames are exactly the
    sentences, the skipped bytes exactly the messages'."""
    reads_exactly_the_sentences(SKYTRAQ, order, sizes)


@settings(max_examples=200, deadline=None)
@given(
    damaged=damaged_copies(SKYTRAQ),
    first=st.integers(0, len(SENTENCES) - 8),
    sizes=st.lists(st.integers(1, 300), min_size=1, max_size=4),
)
def test_a_damaged_message_never_swallows_a_following_sentence(
    damaged: bytes, first: int, sizes: list[int]
) -> None:
    """A real message damaged on the line, between two sentences, the sentence after it
    glued to it: every sentence, before and after, is read, in order, at any chunking."""
    keeps_the_sentences_around(damaged, first, sizes)


def skytraq_message(payload: bytes) -> bytes:
    """``payload`` (message ID and body) as a SkyTraq binary message: ``A0 A1``, its length,
    the payload, its XOR and CR LF."""
    return (
        b"\xa0\xa1"
        + len(payload).to_bytes(2, "big")
        + payload
        + bytes((reduce(xor, payload, 0),))
        + b"\r\n"
    )


def navigation_data() -> bytes:
    """A Navigation Data Message (0xA8, 59 bytes; SkyTraq AN0003, its answer to a query or
    its periodic binary output, whose ID no public decoder takes): a 3D fix of 9 satellites,
    week 2300, 36.00 s into it (3600, in 0.01 s: ``10 0E``), 24.7847 N 121.0082 E (Hsinchu),
    110.24 m above the ellipsoid, 90.12 m MSL, GDOP 1.8 to TDOP 0.9, ECEF in cm, at rest. Its
    bytes hold a ``$``, 0x24, in the DOPs' 0.36."""
    body = bytes((0xA8, 3, 9)) + (2300).to_bytes(2, "big") + (3600).to_bytes(4, "big")
    body += (247_847_000).to_bytes(4, "big", signed=True)
    body += (1_210_082_000).to_bytes(4, "big", signed=True)
    body += (11_024).to_bytes(4, "big") + (9_012).to_bytes(4, "big")
    body += b"".join(dop.to_bytes(2, "big") for dop in (180, 150, 36, 120, 90))
    ecef = (-297_019_900, 497_480_500, 265_708_100, 0, 0, 0)
    body += b"".join(value.to_bytes(4, "big", signed=True) for value in ecef)
    assert len(body) == 59
    return body


def test_a_short_message_of_an_id_no_decoder_takes_costs_only_its_own_bytes() -> None:
    """A Venus receiver answers a query between its sentences with a message no public
    decoder reads (a Navigation Data Message, 0xA8, its payload holding a ``$``; a software
    CRC, 0x81; a position update rate, 0x86): each is taken out by its XOR and CR LF, at any
    chunking, the frames exactly the sentences. As bytes, the ``$`` piece up to the
    message's own CR LF was a frame for the decoder to reject."""
    messages = [
        skytraq_message(navigation_data()),
        skytraq_message(b"\x81\x01\x9a\x24"),
        skytraq_message(b"\x86\x01"),
    ]
    assert all(b"$" in message for message in messages[:2])
    data = b"".join(messages[at % 3] + line for at, line in enumerate(LINES[:9]))
    taken = sum(len(messages[at % 3]) for at in range(9))
    for size in [*range(1, 12), 64, len(data)]:
        cut, frames = run(data, [size])
        assert frames == SENTENCES[:9], size
        assert cut.skipped_bytes == taken, size
