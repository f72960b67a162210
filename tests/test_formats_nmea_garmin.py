"""A Garmin receiver left in its Garmin binary output mode, read as ``format = "nmea"``.

A Garmin GPS 16x, 17, 18, 18x or 19x set to binary output (``$PGRMC1`` field 2, stored in
non-volatile memory, in force after a reset or power cycle; gpsd switches a unit to it) sends
Garmin binary records in place of sentences: DLE, the record ID, the size of its data, the
data, a checksum (the two's complement of the sum of the bytes from the ID on), DLE ETX, each
DLE of size, data and checksum sent twice (GPS 18x and 19x HVS Technical Specifications,
Appendix B; gpsd's packet.c checks them so). A unit moved from a gpsd host keeps sending them.
The records of gpsd's capture ``test/daemon/garmin18x-bin.log`` (``garmin_18x_binary.hex``,
its origin recorded there) hold ``$``, ``!`` and, in two satellite data records, the stuffed
DLE of satellite 16's number before its signal level's low byte ``1C``, which reads as the
start of a TSIP 0x1C report. Each record is taken out by its ID, size byte and checksum, its
bytes counted as skipped, never taken for TSIP."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st
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
from test_formats_nmea_stream_edges import hex_messages, run
from test_formats_nmea_tsip import LASSEN, LAST_FIX, TIMING, TSIP
from test_formats_nmea_tsip_any_length import PACKETS as ANY_LENGTH

from sensord.formats.nmea_framer import NmeaFramer

#: The 58 records of gpsd's capture, in order.
RECORDS = hex_messages("garmin_18x_binary.hex")
CAPTURE = b"".join(RECORDS)


def unstuffed(record: bytes) -> bytes:
    """The ID, size, data and checksum of ``record``, its DLE pairs sent once."""
    return record[1:-2].replace(b"\x10\x10", b"\x10")


def test_the_capture_is_garmin_records_whose_size_and_checksum_hold_and_none_is_read() -> None:
    """The capture's 58 records are satellite data records (0x72, 84 bytes) and position
    records (0x33, 64 bytes), each ending in DLE ETX, its size byte the length of its data
    and the sum of its bytes from the ID on 0 modulo 256; 34 hold a stuffed DLE, two of the
    0x72s a ``10 10 1C`` (the start of a TSIP 0x1C report, whose data may have up to 255
    bytes), and between them ``$`` and ``!``. Read at any chunking they give no frame (before:
    three, each a ``$`` or ``!`` in a record with the records' bytes after it, for the decoder
    to reject), and every byte is skipped (before: 74 bytes of each of those two, from the
    stuffed DLE to the record's DLE ETX, were taken out as a TSIP packet)."""
    assert len(RECORDS) == 58
    assert {(m[1], len(unstuffed(m)) - 3) for m in RECORDS} == {(0x72, 84), (0x33, 64)}
    for record in RECORDS:
        body = unstuffed(record)
        assert body[1] == len(body) - 3
        assert sum(body) % 256 == 0
        assert record[:1] == b"\x10"
        assert record.endswith(b"\x10\x03")
        assert record[1:-2].replace(b"\x10\x10", b"").count(b"\x10") == 0
    assert sum(b"\x10\x10" in m for m in RECORDS) == 34
    assert [n for n, m in enumerate(RECORDS) if b"\x10\x10\x1c" in m] == [2, 4]
    assert b"$" in CAPTURE
    assert b"!" in CAPTURE
    for size in [*range(1, 40), 156, 4096, len(CAPTURE)]:
        cut, frames = run(CAPTURE, [size])
        assert frames == [], size
        assert (cut.skipped_bytes, cut.overlong, cut.ignored) == (len(CAPTURE), 0, 0), size


def test_garmin_records_and_tsip_packets_are_each_told_by_their_own_check() -> None:
    """Every real TSIP packet the tests hold (a Lassen iQ's, a Thunderbolt's built timing
    packets, a Resolution SMT 360's and SMTx's, and those of IDs of any length) is still taken
    for TSIP, a port of them named as sending TSIP, not Garmin, and a port of Garmin records
    and TSIP packets names both; the record IDs (0x28, 0x29, 0x33, 0x34, 0x72) are no TSIP
    report's. A Garmin record whose checksum fails (a data byte changed) or whose size byte
    is not its record's is no record: the port is not named as sending Garmin records."""
    for packet in [*TSIP, LAST_FIX, *TIMING, *ANY_LENGTH]:
        hint = NmeaFramer().no_frame_hint(packet * 3)
        assert "Trimble TSIP" in hint, packet
        assert "Garmin" not in hint, packet
    both = NmeaFramer().no_frame_hint(RECORDS[0] + LASSEN[0] + RECORDS[1])
    assert both == (
        "the device sends Trimble TSIP and Garmin binary messages and no NMEA sentence: "
        "enable NMEA output on this port"
    )
    position = RECORDS[1]
    changed = position[:10] + bytes((position[10] ^ 0x01,)) + position[11:]
    resized = position[:2] + b"\x3f" + position[3:-3] + bytes((position[-3] + 1,)) + b"\x10\x03"
    assert sum(unstuffed(resized)) % 256 == 0
    for damaged in (changed, resized):
        assert "Garmin" not in NmeaFramer().no_frame_hint(damaged * 3)
        _, frames = run(LINES[0] + damaged + LINES[1], [])
        assert [f for f in frames if f in SENTENCES] == SENTENCES[:2]


@settings(max_examples=150, deadline=None)
@given(order=interleavings(len(RECORDS), 12), sizes=READ_SIZES)
def test_any_interleaving_of_real_sentences_and_records_reads_exactly_the_sentences(
    order: list[tuple[int, int, bool]], sizes: list[int]
) -> None:
    """Any sequence of the capture's records and real sentences (a ZED-F9P's), each sentence
    right after a record with or without its CR LF, read in pieces of any sizes: the frames
    are exactly the sentences, the skipped bytes exactly the records'."""
    reads_exactly_the_sentences(RECORDS, order, sizes)


@settings(max_examples=200, deadline=None)
@given(
    damaged=damaged_copies(RECORDS),
    first=st.integers(0, len(SENTENCES) - 8),
    sizes=st.lists(st.integers(1, 300), min_size=1, max_size=4),
)
def test_a_damaged_record_never_swallows_a_following_sentence(
    damaged: bytes, first: int, sizes: list[int]
) -> None:
    """A record damaged on the line (a byte changed, or cut short), between two sentences,
    the sentence after it glued to it: every sentence, before and after, is read, in order,
    at any chunking; what the damaged record's bytes give besides is never a sentence whose
    checksum holds."""
    assert_no_checked_sentence_besides(*keeps_the_sentences_around(damaged, first, sizes))


@settings(max_examples=200, deadline=None)
@given(
    pieces=st.lists(
        st.one_of(
            st.sampled_from(RECORDS),
            st.sampled_from(RECORDS).flatmap(
                lambda r: st.integers(1, len(r) - 1).map(lambda n: r[:n])
            ),
            st.sampled_from(LINES[:12]),
            st.sampled_from([b"\x10", b"\x10\x72", b"\x10\x33\x40", b"\r\n", b"\x10\x03"]),
        ),
        max_size=20,
    ),
    sizes=st.lists(st.integers(1, 60), min_size=1, max_size=8),
)
def test_any_chunking_of_records_and_sentences_gives_the_frames_and_counts_of_the_whole(
    pieces: list[bytes], sizes: list[int]
) -> None:
    """Records whole or cut short, sentences and DLE noise in any order, read in pieces of
    any sizes: the frames and every counter are those of the whole stream read at once."""
    data = b"".join(pieces)
    whole, expected = run(data, [])
    cut, frames = run(data, sizes)
    assert frames == expected
    counters = ("frames", "skipped_bytes", "overlong", "ignored")
    assert [getattr(cut, name) for name in counters] == [getattr(whole, name) for name in counters]
