"""Trimble TSIP packets in an NMEA stream, read through the framer as the sensor reads them:
real packets of a Lassen iQ (``binary_protocols.hex``: gpsd's capture
``test/daemon/trimble-lassen_iq.log``, its origin recorded there) and a Thunderbolt's timing
packets 8F-AB and 8F-AC, built field by field as gpsd's ``drivers/driver_tsip.c`` reads them.
Each packet (DLE, ID, data with every DLE sent twice, DLE ETX) is taken out by its ID and the
length of its data, its bytes counted in ``skipped_bytes``; one whose stuffing or length
fails is bytes, and no sentence around it is lost."""

from __future__ import annotations

import math
import struct

from hypothesis import given, settings
from hypothesis import strategies as st
from test_formats_nmea import ubx
from test_formats_nmea_dollar_blocks import (
    LINES,
    READ_SIZES,
    SENTENCES,
    assert_no_checked_sentence_besides,
    damaged_copies,
    interleavings,
    keeps_the_sentences_around,
    reads_exactly_the_sentences,
)
from test_formats_nmea_stream_edges import decoded_in_pieces, hex_messages, run

from sensord.formats.base import FormatSpec
from sensord.formats.nmea_framer import NmeaFramer

#: The Lassen iQ's all-in-view satellite selection (0x6D) and two satellite tracking status
#: reports (0x5C), as gpsd's capture holds them.
LASSEN = [m for m in hex_messages("binary_protocols.hex") if m[:2] in (b"\x10\x6d", b"\x10\x5c")]


def tsip(data: bytes) -> bytes:
    """``data`` (the packet ID, then its data) as a TSIP packet: DLE, every DLE in it sent
    twice, DLE ETX."""
    return b"\x10" + data.replace(b"\x10", b"\x10\x10") + b"\x10\x03"


#: A Thunderbolt's primary timing packet 8F-AB (17 bytes: subcode, time of week in seconds,
#: week, UTC offset, timing flags, seconds, minutes, hours, day, month, year): GPS week 2064
#: (``08 10``, a DLE sent twice), 2019-08-03 12:00:10 UTC (seconds ``0A``, an LF), UTC
#: offset 18 s.
PRIMARY = tsip(b"\x8f" + struct.pack(">BIHhB5BH", 0xAB, 561628, 2064, 18, 3, 10, 0, 12, 3, 8, 2019))
#: Its supplemental timing packet 8F-AC (68 bytes: subcode, receiver, disciplining and
#: survey modes, holdover, alarms, decoding status and activity, PPS fields, PPS and clock
#: offset, DAC value and voltage, temperature, latitude and longitude in radians, altitude,
#: quantization error, reserved): DAC value ``80 24`` (a ``$``), 36.0 degrees C (``42 10 00
#: 00``, a DLE), 52.3731 N 4.8922 E, 14.5 m.
SUPPLEMENTAL = tsip(
    b"\x8f"
    + struct.pack(
        ">BBBBIHHBBBBffIffdddfI",
        0xAC,
        0,
        0,
        100,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        1.25,
        87.5,
        0x8024,
        0.5,
        36.0,
        math.radians(52.3731),
        math.radians(4.8922),
        14.5,
        0.0,
        0,
    )
)
TSIP = [*LASSEN, PRIMARY, SUPPLEMENTAL]
#: A Lassen iQ's 8F-20 (last fix with extra information), a superpacket of a subcode whose
#: length the framer does not know, so that it may have up to 255 data bytes, as gpsd's
#: capture holds it (``trimble_tsip.hex``, its origin recorded there): an LF its second data
#: byte.
LAST_FIX = hex_messages("trimble_tsip.hex")[0]
#: Resolution SMT 360 and SMTx packets as gpsd's captures hold them (``trimble_tsip.hex``):
#: 8F-AB and 8F-AC timing packets, 0x6D and 0x5C; their data hold ``$``, ``!``, CR, LF and
#: DLE pairs.
TIMING = hex_messages("trimble_tsip.hex")[1:]


def unstuffed(packet: bytes) -> bytes:
    """The ID and data of ``packet``, its DLE pairs sent once."""
    return packet[1:-2].replace(b"\x10\x10", b"\x10")


def test_the_packets_are_whole_tsip_packets_that_hold_line_bytes() -> None:
    """The Lassen iQ's 0x6D (17 bytes and one for each of the 5 satellites its first byte's
    high nibble counts) and 0x5C (24 bytes), the Thunderbolt's 8F-AB (17) and 8F-AC (68):
    each ends in DLE ETX, each DLE of its data sent twice; between them their data holds
    ``$``, ``!`` and LF, which the line framer alone cut into frames."""
    assert [(unstuffed(m)[0], len(unstuffed(m)) - 1) for m in TSIP] == [
        (0x6D, 17 + 5),
        (0x5C, 24),
        (0x5C, 24),
        (0x8F, 17),
        (0x8F, 68),
    ]
    assert unstuffed(LASSEN[0])[1] >> 4 == 5
    for packet in TSIP:
        assert packet[:1] == b"\x10"
        assert packet.endswith(b"\x10\x03")
        assert packet[1:-2].replace(b"\x10\x10", b"").count(b"\x10") == 0
    assert b"\x10\x10" in PRIMARY
    assert b"\x10\x10" in SUPPLEMENTAL
    assert all(byte in b"".join(unstuffed(m) for m in TSIP) for byte in b"$!\n")


def test_packets_between_sentences_are_taken_out_at_any_chunking() -> None:
    """A TSIP packet right before each sentence, no line end between them: at every chunk
    size the frames are the sentences and the packets' bytes are skipped. Before, the line
    framer cut the packets at the LF in their data, and the piece from a ``!`` or ``$`` in
    them glued onto the next sentence or came out as a frame of its own."""
    data = b"".join(TSIP[at % len(TSIP)] + line for at, line in enumerate(LINES))
    taken = sum(len(TSIP[at % len(TSIP)]) for at in range(len(LINES)))
    for size in [*range(1, 24), 64, 511, len(data)]:
        cut, frames = run(data, [size])
        assert frames == SENTENCES, size
        assert (cut.frames, cut.overlong, cut.skipped_bytes) == (len(SENTENCES), 0, taken), size


def test_a_gn_receivers_readings_are_whole_with_tsip_packets_between_its_sentences() -> None:
    """The ZED-F9P's epochs (GSA runs of four constellations) with a TSIP packet before
    every sentence read as they do without them: no parse error and the same readings."""
    fields = ("GSA.used_gps", "GSA.used_glonass", "GSA.used_galileo", "GGA.latitude")
    spec = FormatSpec("nmea", tuple((field, field) for field in fields))
    plain = decoded_in_pieces(b"".join(LINES), spec)
    assert plain[0] == []
    mixed = b"".join(TSIP[at % len(TSIP)] + line for at, line in enumerate(LINES))
    assert decoded_in_pieces(mixed, spec) == plain


def test_a_packet_whose_stuffing_or_length_fails_is_bytes() -> None:
    """A packet with a lone DLE in its data (a DLE of a pair lost), one with a byte more or
    less than its ID has, the byte more a DLE too, an 8F-AB whose last data byte is a DLE and
    one of the three DLEs before its ETX lost (its data a DLE pair and ``03``, no DLE ETX), and
    one whose ID no receiver sends (0x44): none is taken out, the sentences around it are read,
    and a port that sends only such packets is not named as sending TSIP; the whole packets
    are."""
    lone = SUPPLEMENTAL.replace(b"\x10\x10", b"\x10", 1)
    longer = PRIMARY[:-2] + b"\x00\x10\x03"
    longer_by_a_dle = PRIMARY[:-2] + b"\x10\x10\x10\x03"
    etx_dle_lost = PRIMARY[:-3] + b"\x10\x10\x03"
    shorter = SUPPLEMENTAL[:10] + SUPPLEMENTAL[11:]
    other = b"\x10\x44" + PRIMARY[2:]
    assert "Trimble TSIP" in NmeaFramer().no_frame_hint(b"".join(TSIP))
    for damaged in (lone, longer, longer_by_a_dle, etx_dle_lost, shorter, other):
        cut, frames = run(LINES[0] + damaged + LINES[1], [])
        assert [f for f in frames if f in SENTENCES] == SENTENCES[:2]
        assert cut.skipped_bytes > 0
        assert "Trimble TSIP" not in NmeaFramer().no_frame_hint(damaged * 3)


def test_a_dle_before_a_sentence_holds_nothing_back() -> None:
    """A DLE glitch right before a sentence's ``$``, or in place of it (``10 47 50``: a
    signal level report, 0x47, whose count, the ``P`` of ``GPGSV``, would claim 80
    satellites, 401 bytes): neither begins a packet, so the sentence after it without
    checksum (a talker that sends none) comes out with the bytes that end it, not after a
    packet's worth of later bytes."""
    bare = b"$GPTXT,01,01,02,ANTENNA OK"
    for glitch in (b"\x10" + LINES[0], b"\x10" + LINES[0][1:]):
        framer = NmeaFramer()
        frames = framer.feed(glitch + bare + b"\r\n")
        assert frames[-1] == bare
        assert framer.flush() == []


@settings(max_examples=150, deadline=None)
@given(
    order=interleavings(len(TSIP), 12),
    sizes=READ_SIZES,
)
def test_any_interleaving_of_real_sentences_and_packets_reads_exactly_the_sentences(
    order: list[tuple[int, int, bool]], sizes: list[int]
) -> None:
    """Any sequence of TSIP packets and real sentences, each sentence right after a packet
    with or without its CR LF, read in pieces of any sizes: the frames are exactly the
    sentences, the skipped bytes exactly the packets'."""
    reads_exactly_the_sentences(TSIP, order, sizes)


@settings(max_examples=200, deadline=None)
@given(
    damaged=damaged_copies(TSIP),
    first=st.integers(0, len(SENTENCES) - 8),
    sizes=st.lists(st.integers(1, 300), min_size=1, max_size=4),
)
def test_a_damaged_packet_never_swallows_a_following_sentence(
    damaged: bytes, first: int, sizes: list[int]
) -> None:
    """A packet damaged on the line (a byte changed, or cut short), between two sentences,
    the sentence after it glued to it: every sentence, before and after, is read, in order,
    at any chunking; what the damaged packet's bytes give besides is never a sentence whose
    checksum holds."""
    assert_no_checked_sentence_besides(*keeps_the_sentences_around(damaged, first, sizes))


#: Bytes that may come between sentences: a sentence, a packet or the first bytes of one,
#: a DLE with an ID and what follows, a line end.
PIECES = st.one_of(
    st.sampled_from(SENTENCES[:12]),
    st.sampled_from(TSIP),
    st.sampled_from(TSIP).flatmap(lambda p: st.integers(1, len(p) - 1).map(lambda n: p[:n])),
    st.tuples(
        st.sampled_from([b"\x10", b"\x10\x8f", b"\x10\x8f\xab", b"\x10\x47\x02", b"\x10\x6d"]),
        st.binary(max_size=30),
    ).map(b"".join),
    st.sampled_from([b"\r\n", b"\n", b"\r", b"$", b"\x10\x03", b"\x10\x10"]),
)


@settings(max_examples=300, deadline=None)
@given(
    pieces=st.lists(PIECES, max_size=25),
    sizes=st.lists(st.integers(1, 40), min_size=1, max_size=10),
    terminator=st.sampled_from([b"\n", b"\r\n"]),
)
def test_any_chunking_of_packets_and_noise_gives_the_frames_and_counts_of_the_whole(
    pieces: list[bytes], sizes: list[int], terminator: bytes
) -> None:
    """Sentences, TSIP packets whole or cut short and DLE noise in any order, read in pieces
    of any sizes: the frames and every counter are those of the whole stream read at once,
    a DLE held at the end of a piece included."""
    data = b"".join(pieces)
    whole = NmeaFramer(terminator)
    frames = whole.feed(data) + whole.flush()
    cut = NmeaFramer(terminator)
    got: list[bytes] = []
    at = 0
    for size in sizes * (len(data) // sum(sizes) + 1):
        got += cut.feed(data[at : at + size])
        at += size
    got += cut.flush()
    assert got == frames
    counters = ("frames", "skipped_bytes", "overlong", "ignored")
    assert [getattr(cut, name) for name in counters] == [getattr(whole, name) for name in counters]


def test_a_sentence_glued_to_a_packet_inside_a_waiting_candidate_comes_whole() -> None:
    """A UBX frame cut short (a NAV-SAT of which 50 of 308 bytes came) claims the bytes after
    it, among them a sentence whose line end was lost, the 8F-AB right after its checksum,
    and the next sentence: both sentences come out as they come, the packet is taken out,
    and only the cut frame's and the packet's bytes are skipped, at any chunking."""
    cut_short = ubx(0x01, 0x35, bytes(300))[:50]
    data = LINES[0] + cut_short + SENTENCES[1] + PRIMARY + LINES[2] + LINES[3]
    for size in [*range(1, 12), 64, len(data)]:
        cut, frames = run(data, [size])
        assert frames == SENTENCES[:4], size
        assert cut.skipped_bytes == len(cut_short) + len(PRIMARY), size


def test_a_packet_cut_short_before_sentences_gives_the_frames_of_the_whole_at_any_chunking() -> (
    None
):
    """A sentence cut short (its tail lost), then the Lassen iQ's 8F-20 cut short after 20 bytes
    (the rest lost on the line; its LF ends the cut sentence's line), whole sentences, and the
    next packet, whose DLE and ID show the cut one to be no packet: at every chunk size the
    frames, in order, and every counter are those of the stream read at once, the sentences
    read and the cut sentence given as a damaged frame for the decoder to reject. Before, the
    stream read at once took the cut packet for no candidate at all (its lone DLE, 128 bytes
    on, was in) and gave the damaged frame before the sentences, while a chunk that ended
    after a sentence, with the candidate still waiting, passed that sentence on first."""
    damaged = LINES[0][:30]
    data = damaged + LAST_FIX[:20] + LINES[1] + LINES[2] + LASSEN[1] + LINES[3]
    whole = NmeaFramer()
    expected = whole.feed(data) + whole.flush()
    assert [f for f in expected if f in SENTENCES] == SENTENCES[1:4]
    assert [f for f in expected if f not in SENTENCES] == [damaged + LAST_FIX[:3]]
    counters = ("frames", "skipped_bytes", "overlong", "ignored")
    for size in range(1, len(data) + 1):
        cut, frames = run(data, [size])
        assert frames == expected, size
        assert [getattr(cut, n) for n in counters] == [getattr(whole, n) for n in counters], size


def test_a_packet_between_a_sentences_cr_and_lf_counts_the_same_at_any_chunking() -> None:
    """With the terminator CR LF, a Lassen iQ packet taken out between a sentence's CR and LF:
    the line goes on after it as if the packet were not there, so its CR LF ends it and no
    byte of it is skipped, at every chunking, a CR that ends a chunk before the packet's DLE
    included. Before, that CR ended the pending line at the packet's first byte and was
    counted as skipped, and the LF after the packet as a line's noise: 2 bytes more than the
    whole stream read at once (the case Hypothesis found for the chunking property test)."""
    sentence = LINES[1][:-2]
    data = sentence + b"\r" + LASSEN[0] + b"\n" + LINES[2]
    counters = ("frames", "skipped_bytes", "overlong", "ignored")
    whole = NmeaFramer(b"\r\n")
    assert whole.feed(data) + whole.flush() == [sentence, SENTENCES[2]]
    expected = [2, len(LASSEN[0]), 0, 0]
    assert [getattr(whole, n) for n in counters] == expected
    for first in range(1, len(data)):
        for second in (first + 1, len(data)):
            cut = NmeaFramer(b"\r\n")
            frames = cut.feed(data[:first]) + cut.feed(data[first:second])
            frames += cut.feed(data[second:]) + cut.flush()
            assert frames == [sentence, SENTENCES[2]], (first, second)
            assert [getattr(cut, n) for n in counters] == expected, (first, second)


def test_a_timing_receivers_real_packets_between_sentences_are_taken_out_at_any_chunking() -> None:
    """Resolution SMT 360 and SMTx packets as sent (gpsd's captures): the 8F-AB has 17 data
    bytes and the 8F-AC 68, the lengths the framer takes them with, a DLE pair counted once;
    each right before a sentence, no line end between them, at every chunk size: the frames
    are the sentences, every packet's bytes are skipped."""
    lengths = {(unstuffed(m)[0], unstuffed(m)[1]): len(unstuffed(m)) - 1 for m in TIMING}
    assert lengths[(0x8F, 0xAB)] == 17
    assert lengths[(0x8F, 0xAC)] == 68
    assert sum(b"\x10\x10" in m for m in TIMING) >= 5
    data = b"".join(TIMING[at % len(TIMING)] + line for at, line in enumerate(LINES))
    taken = sum(len(TIMING[at % len(TIMING)]) for at in range(len(LINES)))
    for size in [*range(1, 80), 511, len(data)]:
        cut, frames = run(data, [size])
        assert frames == SENTENCES, size
        assert (cut.frames, cut.overlong, cut.skipped_bytes) == (len(SENTENCES), 0, taken), size
