"""Trimble TSIP packets whose ID allows data of many lengths (0x13, 0x1C, 0x47, 0x6C, 0x6D
and the superpackets 0x8F of subcodes other than 8F-AB and 8F-AC) between a receiver's
sentences, damaged on the line. Such a packet has no check but its DLE ETX and a length its
ID allows, up to 255 data bytes: a damaged one, or a DLE and such an ID left of one cut short,
is a candidate that no DLE ETX may end for that many bytes. The sentences it holds meanwhile
must come as a line gives them, in order, a talker's sentence without checksum too. Real
packets of gpsd's captures (``trimble_tsip.hex``, its origins recorded there: a Lassen iQ's
8F-20 and a Resolution SMTx's 0x6D, whose data holds a DLE pair) and packets built field by
field as gpsd's ``drivers/driver_tsip.c`` reads them, labelled as built."""

from __future__ import annotations

import struct

from hypothesis import given, settings
from hypothesis import strategies as st
from test_formats_nmea_dollar_blocks import LINES, SENTENCES
from test_formats_nmea_stream_edges import hex_messages, run
from test_formats_nmea_tsip import tsip

from sensord.formats.nmea_framer import NmeaFramer

#: gpsd's captures: the Lassen iQ's 8F-20 (64 data bytes, an LF in them) and the SMTx's
#: all-in-view satellite selection 0x6D (17 bytes and one a satellite; a DLE pair).
CAPTURED = [
    m for m in hex_messages("trimble_tsip.hex") if m[:3] == b"\x10\x8f\x20" or m[:2] == b"\x10\x6d"
]
#: Built: a parsing error report 0x13 echoing the bytes of a command the receiver could not
#: parse (``1e 10 4b``: a DLE among them); a firmware version report 0x1C-81 (reserved, major 1,
#: minor 19, build 0, 27 October 2019, the product name "ICM SMT 360" as a counted string, as
#: gpsd reads it); a signal level report 0x47 of three satellites, PRN and signal level (a
#: float) each, PRN 16 a DLE; a satellite selection list 0x6C of 18 bytes (mode, PDOP, HDOP,
#: VDOP, TDOP, the count) and six PRNs, PRN 16 a DLE; a superpacket of subcode 0x21 whose
#: length the framer does not know, three floats and a DLE its last data byte.
BUILT = [
    tsip(b"\x13\x1e\x10\x4b"),
    tsip(b"\x1c\x81\x00\x01\x13\x00\x0a\x1b\x07\xe3\x0bICM SMT 360"),
    tsip(
        b"\x47\x03"
        + b"".join(
            struct.pack(">Bf", prn, level) for prn, level in ((5, 43.0), (16, 38.5), (29, 31.25))
        )
    ),
    tsip(
        b"\x6c\x1a"
        + struct.pack(">4f", 1.6, 0.9, 1.3, 0.8)
        + b"\x06"
        + bytes((5, 16, 29, 12, 2, 25))
    ),
    tsip(b"\x8f\x21" + struct.pack(">fff", 2.5, 4.0, 0.5) + b"\x10"),
]
PACKETS = CAPTURED + BUILT


def test_each_packet_between_sentences_is_taken_out() -> None:
    """Each packet whole (five hold a DLE pair), right before a sentence, no line end between
    them: the frames are the sentences and the skipped bytes the packets', at every chunk
    size; a port that sends only one of them is named as sending TSIP, as one whose packets
    are taken out."""
    assert sum(b"\x10\x10" in packet for packet in PACKETS) == 5
    for packet in PACKETS:
        assert "Trimble TSIP" in NmeaFramer().no_frame_hint(packet * 3), packet
    data = b"".join(PACKETS[at % len(PACKETS)] + line for at, line in enumerate(LINES))
    taken = sum(len(PACKETS[at % len(PACKETS)]) for at in range(len(LINES)))
    for size in [*range(1, 30), len(data)]:
        cut, frames = run(data, [size])
        assert frames == SENTENCES, size
        assert (cut.frames, cut.skipped_bytes) == (len(SENTENCES), taken), size


#: The ZED-F9P's sentences as a talker that sends no checksum sends them: each up to its
#: ``*``, with its CR LF.
BARE = [sentence[:-3] for sentence in SENTENCES]


@st.composite
def damaged_streams(draw: st.DrawFn) -> tuple[bytes, list[bytes]]:
    """Sentences (the ZED-F9P's, each with its CR LF or glued to what follows; some without
    checksum, each with its CR LF) with a packet before each, one packet damaged on the line:
    a byte changed or lost, or the packet cut short. The stream and the sentences in it, none
    touched by the damage."""
    count = draw(st.integers(2, 8))
    first = draw(st.integers(0, len(SENTENCES) - count))
    packets = draw(st.lists(st.sampled_from(PACKETS), min_size=count, max_size=count))
    which = draw(st.integers(0, count - 1))
    packet = packets[which]
    at = draw(st.integers(1, len(packet) - 1))
    damage = draw(st.sampled_from(["changed", "lost", "cut"]))
    if damage == "changed":
        bytes_ = st.one_of(st.sampled_from(b"\x10\x03$\r\n"), st.integers(0, 255))
        byte = draw(bytes_.filter(lambda b: b != packet[at]))
        packets[which] = packet[:at] + bytes((byte,)) + packet[at + 1 :]
    else:
        packets[which] = packet[:at] + (packet[at + 1 :] if damage == "lost" else b"")
    data = b""
    sentences: list[bytes] = []
    for number, packet in enumerate(packets):
        bare = draw(st.booleans())
        sentence = (BARE if bare else SENTENCES)[first + number]
        data += packet + sentence + (b"\r\n" if bare or draw(st.booleans()) else b"")
        sentences.append(sentence)
    return data + LINES[0], [*sentences, SENTENCES[0]]


@settings(max_examples=1000, deadline=None)
@given(stream=damaged_streams(), sizes=st.lists(st.integers(1, 200), min_size=1, max_size=4))
def test_a_damaged_packet_of_any_length_costs_no_sentence(
    stream: tuple[bytes, list[bytes]], sizes: list[int]
) -> None:
    """Packets of IDs whose data may have many lengths before each sentence, their data
    holding DLE pairs, one of them damaged (a byte changed or lost, or cut short), read in
    pieces of any sizes: every sentence is read, in order, a sentence without checksum
    included."""
    data, expected = stream
    _, frames = run(data, sizes)
    assert [frame for frame in frames if frame in expected] == expected


@settings(max_examples=300, deadline=None)
@given(stream=damaged_streams(), sizes=st.lists(st.integers(1, 60), min_size=1, max_size=4))
def test_a_damaged_packet_of_any_length_gives_the_frames_and_counts_of_the_whole(
    stream: tuple[bytes, list[bytes]], sizes: list[int]
) -> None:
    """The same streams read in pieces of any sizes: the frames, in order, and every counter
    are those of the stream read at once."""
    data, _ = stream
    whole, expected = run(data, [])
    cut, frames = run(data, sizes)
    assert frames == expected
    counters = ("frames", "skipped_bytes", "overlong", "ignored")
    assert [getattr(cut, name) for name in counters] == [getattr(whole, name) for name in counters]


def test_a_sentence_without_checksum_in_a_false_superpacket_comes_in_its_place() -> None:
    """A packet cut short after its DLE and 0x8F (the rest lost on the line), right before a
    sentence without checksum and its CR LF, then a checked sentence: the 0x8F and the
    sentence's ``$`` read as a superpacket of subcode 0x24, which may have up to 255 data
    bytes, and no DLE ETX comes to end it. At every chunking the sentence without checksum
    comes first, where it stands, as a line gives it, and the candidate's two bytes are
    skipped. Before, it waited inside the candidate while the checked sentence behind it was
    passed on, and came after it (a GSV group's sentence out of place)."""
    bare = BARE[1]
    data = LINES[0] + b"\x10\x8f" + bare + b"\r\n" + LINES[2] + LINES[3]
    expected = [SENTENCES[0], bare, SENTENCES[2], SENTENCES[3]]
    for size in [*range(1, 40), len(data)]:
        cut, frames = run(data, [size])
        assert frames == expected, size
        assert (cut.frames, cut.skipped_bytes) == (4, 2), size
