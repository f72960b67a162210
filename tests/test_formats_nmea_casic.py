"""CASIC binary messages of a ZHONGKEWEI (AT6558) receiver, such as an ATGM336H, in its NMEA
stream, read through the framer as the sensor reads them. No capture of one is public; each
message here is built field by field as the CASIC protocol specification V4.2.0.3 lays it out
("CSIP Packet Structure", NAV-PV, NAV-TIMEUTC, TIM-TP; jclark/casictool's English text of it,
its checksum as receivers compute it). Each is taken out by its length and checksum, its
bytes counted in ``skipped_bytes``; one whose checksum fails is bytes."""

from __future__ import annotations

import struct

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
from test_formats_nmea_stream_edges import run

from sensord.formats.nmea_framer import NmeaFramer


def casic(message_class: int, message_id: int, payload: bytes) -> bytes:
    """A CASIC message: ``BA CE``, the payload's length, class, ID, payload, and its checksum,
    ``(id << 24) + (class << 16) + len`` plus each little-endian word of the payload."""
    length = len(payload)
    total = (message_id << 24) + (message_class << 16) + length
    total += sum(struct.unpack(f"<{length // 4}I", payload))
    header = b"\xba\xce" + struct.pack("<HBB", length, message_class, message_id)
    return header + payload + struct.pack("<I", total & 0xFFFFFFFF)


#: NAV-PV (01 03, 80 bytes): run time, position and velocity valid (3D), GPS and BDS, 9
#: satellites (5 GPS, 4 BDS), PDOP 1.6, 116.3913 E 39.9071 N, 52.5 m, geoid separation -9.0,
#: accuracies, at rest, heading 36.0 (``42 10 00 00``).
NAV_PV = casic(
    0x01,
    0x03,
    struct.pack(
        "<IBBBBBBBBfddffffffffffff",
        1_000_036,
        7,
        7,
        3,
        9,
        5,
        4,
        0,
        0,
        1.6,
        116.3913,
        39.9071,
        52.5,
        -9.0,
        4.0,
        9.0,
        0.0,
        0.0,
        0.0,
        0.0,
        0.0,
        36.0,
        0.25,
        100.0,
    ),
)
#: NAV-TIMEUTC (01 10, 24 bytes): 2024-10-13 10:36:36 UTC, valid, GPS time, date valid: its
#: month ``0A`` is an LF, its day ``0D`` a CR, its seconds ``24`` a ``$``.
NAV_TIMEUTC = casic(
    0x01,
    0x10,
    struct.pack("<IffHBBBBBBBBBB", 1_000_010, 1e-9, 0.0, 2024, 10, 13, 10, 36, 36, 7, 0, 1, 0, 0),
)
#: TIM-TP (02 00, 24 bytes): run time, time pulse at 10 s into GPS week 2336, quantization
#: error, valid.
TIM_TP = casic(0x02, 0x00, struct.pack("<IfdHbBBBH", 1_000_000, 2.5e-9, 10.0, 2336, 18, 7, 0, 0, 0))
CASIC = [NAV_PV, NAV_TIMEUTC, TIM_TP]


def test_the_messages_are_laid_out_as_the_specification_writes_them() -> None:
    """Payload lengths 80, 24 and 24 (multiples of 4), each message 10 bytes more; their
    bytes hold ``$``, CR and LF, which the line framer alone cut into frames."""
    assert [len(m) - 10 for m in CASIC] == [80, 24, 24]
    assert all(m[:2] == b"\xba\xce" for m in CASIC)
    assert all(struct.unpack_from("<H", m, 2)[0] == len(m) - 10 for m in CASIC)
    assert all(byte in NAV_TIMEUTC[6:-4] for byte in b"$\r\n")


def test_messages_between_sentences_are_taken_out_at_any_chunking() -> None:
    """A CASIC message right before each sentence, no line end between them: at every chunk
    size the frames are the sentences and the messages' bytes are skipped. Before, the line
    framer cut the messages at the LF in their payload and the ``$`` piece of one glued onto
    the next sentence."""
    data = b"".join(CASIC[at % len(CASIC)] + line for at, line in enumerate(LINES))
    taken = sum(len(CASIC[at % len(CASIC)]) for at in range(len(LINES)))
    for size in [*range(1, 16), 64, 511, len(data)]:
        cut, frames = run(data, [size])
        assert frames == SENTENCES, size
        assert (cut.frames, cut.overlong, cut.skipped_bytes) == (len(SENTENCES), 0, taken), size


def test_a_message_whose_check_fails_is_bytes() -> None:
    """A message with one payload byte changed, one whose checksum has class and ID in the
    order the specification's Chinese text gives (``class << 24``), and one whose class no
    message has (0x04): none is taken out, the sentences around it are read, and a port that
    sends only such messages is not named as sending CASIC; whole messages are."""
    flipped = NAV_PV[:20] + bytes((NAV_PV[20] ^ 0x01,)) + NAV_PV[21:]
    payload = NAV_TIMEUTC[6:-4]
    swapped = NAV_TIMEUTC[:-4] + struct.pack(
        "<I", ((0x01 << 24) + (0x10 << 16) + 24 + sum(struct.unpack("<6I", payload))) & 0xFFFFFFFF
    )
    other_class = casic(0x04, 0x00, payload)
    assert "CASIC" in NmeaFramer().no_frame_hint(b"".join(CASIC))
    for damaged in (flipped, swapped, other_class):
        _, frames = run(LINES[0] + damaged + LINES[1], [])
        assert [f for f in frames if f in SENTENCES] == SENTENCES[:2]
        assert "CASIC" not in NmeaFramer().no_frame_hint(damaged * 3)


@settings(max_examples=150, deadline=None)
@given(
    order=interleavings(len(CASIC), 12),
    sizes=READ_SIZES,
)
def test_any_interleaving_of_real_sentences_and_messages_reads_exactly_the_sentences(
    order: list[tuple[int, int, bool]], sizes: list[int]
) -> None:
    """Any sequence of CASIC messages and real sentences, each sentence right after a message
    with or without its CR LF, read in pieces of any sizes: the frames are exactly the
    sentences, the skipped bytes exactly the messages'."""
    reads_exactly_the_sentences(CASIC, order, sizes)


@settings(max_examples=200, deadline=None)
@given(
    damaged=damaged_copies(CASIC),
    first=st.integers(0, len(SENTENCES) - 8),
    sizes=st.lists(st.integers(1, 300), min_size=1, max_size=4),
)
def test_a_damaged_message_never_swallows_a_following_sentence(
    damaged: bytes, first: int, sizes: list[int]
) -> None:
    """A message damaged on the line (a byte changed, or cut short) between two sentences,
    the sentence after it glued to it: every sentence, before and after, is read, in order,
    at any chunking."""
    keeps_the_sentences_around(damaged, first, sizes)
