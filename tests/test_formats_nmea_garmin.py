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
bytes counted as skipped; a port that sends nothing else is told that the receiver is in
Garmin binary mode and how to switch it back."""

from __future__ import annotations

import random
import re
import time
from collections.abc import MutableMapping
from itertools import accumulate
from typing import Any

from harness.pty import PtyPair
from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs
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
from test_stale_hints import Clock, deliver
from test_text_setup import written

from sensord.config import parse_config
from sensord.formats.nmea_framer import NmeaFramer
from sensord.sensor import SensorRuntime

#: The 58 records of gpsd's capture, in order.
RECORDS = hex_messages("garmin_18x_binary.hex")
CAPTURE = b"".join(RECORDS)
#: The command that switches a Garmin receiver in binary mode back to NMEA, as gpsd's
#: ``garmin_switcher`` (drivers/driver_garmin.c) writes it: a Garmin packet of ID 0x0A
#: (command data), size 2, data ``26 00``, checksum ``CE``.
TO_NMEA = bytes.fromhex("10 0A 02 26 00 CE 10 03")
#: The hint a port gets that sends Garmin binary records and no sentence.
GARMIN_HINT = (
    "the device sends Garmin binary records and no NMEA sentence: the receiver is in Garmin "
    "binary mode, which it keeps over a power cycle (gpsd switches a Garmin to it): switch it "
    "back to NMEA with gpsctl -n on this port, or have sensord write it the bytes that do "
    '(10 0A 02 26 00 CE 10 03) on each connect: setup = [{ send = "10 0A 02 26 00 CE 10 03" }]'
)


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


def test_a_port_of_garmin_records_is_told_the_receiver_is_in_garmin_binary_mode() -> None:
    """The hint names Garmin's binary mode and what switches it back to NMEA (before: "the
    bytes are not text", which sends the operator after the baud rate); not TSIP. The same
    with the bytes starting anywhere in a record, as a capture ring that cut the oldest one
    holds them, or ending anywhere in one, as it holds a record still coming: in the first
    record and in each of those that hold a ``$`` or ``!``, which begins no sentence there
    (without the bytes before the first whole record left out, a cut within one of those
    gave "the bytes are not text" again). The command it names is a Garmin packet whose
    checksum holds: ID 0x0A, size 2, ``26 00``."""
    starts = [0, *accumulate(map(len, RECORDS))]
    marked = [n for n, record in enumerate(RECORDS) if b"$" in record or b"!" in record]
    assert marked == [13, 16, 23, 27, 35]
    for n in (0, *marked):
        for cut in range(starts[n], starts[n + 1]):
            assert NmeaFramer().no_frame_hint(CAPTURE[cut:]) == GARMIN_HINT, cut
            if n:
                assert NmeaFramer().no_frame_hint(CAPTURE[:cut]) == GARMIN_HINT, cut
    body = unstuffed(TO_NMEA)
    assert (TO_NMEA[1], body[1], len(body) - 3, sum(body) % 256) == (0x0A, 2, 2, 0)
    assert TO_NMEA.hex(" ").upper() in GARMIN_HINT


def headless(lost: set[int]) -> bytes:
    """The capture with the first DLE of each record numbered in ``lost`` lost on the line."""
    return b"".join(record[n in lost :] for n, record in enumerate(RECORDS))


def test_a_record_that_lost_its_first_dle_is_named_as_a_garmin_record() -> None:
    """The capture with one record's first DLE lost, as a byte lost on a serial line loses
    it, for each record in turn, and with every record's lost: the port is told it sends
    Garmin records, as with none lost. Before, the record whose bytes then read ``10 1C``
    (the stuffed DLE before satellite 16's signal level, records 2 and 4) had them named a
    TSIP 0x1C report ("Trimble TSIP and Garmin binary messages"), and a record with a ``$``
    or ``!`` in its data (13, 16, 23, 27, 35) had "the bytes are not text". The framer
    passes on no frame of a record without ``$`` or ``!`` either way, its DLE lost or not."""
    for n in range(len(RECORDS)):
        data = headless({n})
        assert NmeaFramer().no_frame_hint(data) == GARMIN_HINT, n
        if b"$" not in RECORDS[n] and b"!" not in RECORDS[n]:
            assert run(data, [7])[1] == [], n
    assert NmeaFramer().no_frame_hint(headless(set(range(len(RECORDS))))) == GARMIN_HINT
    # a TSIP port whose packet follows a record that lost its DLE still names TSIP
    both = NmeaFramer().no_frame_hint(RECORDS[0][1:] + LASSEN[0] + RECORDS[1])
    assert "Trimble TSIP" in both
    assert "Garmin" in both


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


def nmea_sensor(pair: PtyPair, clock: Clock, setup: str = "") -> SensorRuntime:
    """An open NMEA sensor on ``pair`` (``stale_after_s = 2``), with ``setup`` (a TOML line)."""
    text = (
        f'[[sensors]]\nname = "gps"\nport = "{pair.path}"\nformat = "nmea"\n'
        f'simulate = "never"\nstale_after_s = 2\n{setup}\n'
        '[[sensors.channels]]\nname = "lat"\nfield = "GGA.latitude"\n'
    )
    runtime = SensorRuntime(
        parse_config(text).sensors[0], clock=clock, wall_clock=clock, rng=random.Random(1)
    )
    assert runtime.try_open()
    return runtime


def stale_on_a_pty(
    records: list[bytes],
) -> tuple[SensorRuntime, MutableMapping[str, Any], dict[str, Any]]:
    """An NMEA sensor on a pty whose device sends ``records`` two a second, as the receiver
    does, then nothing for 2.5 s: the sensor, its ``sensor state`` line of going stale, and
    its ``/status`` then."""
    clock = Clock()
    with PtyPair() as pair:
        runtime = nmea_sensor(pair, clock)
        try:
            for second in range(0, len(records), 2):
                clock.now += 0.5
                deliver(runtime, pair, records[second] + records[second + 1])
            with capture_logs() as logs:
                clock.now += 2.5
                runtime.tick(clock.now)
            status = runtime.snapshot().as_json()
        finally:
            runtime.stop()
    [event] = [e for e in logs if e.get("state") == "stale"]
    return runtime, event, status


def test_the_hint_reaches_the_log_line_and_status_of_a_sensor_on_a_real_pty() -> None:
    """An NMEA sensor on a pty whose device sends the capture's records a second at a time,
    as the receiver does: it goes stale, and its ``sensor state`` log line and ``/status``
    carry the hint, with the records' bytes counted as skipped and no parse error."""
    runtime, event, status = stale_on_a_pty(RECORDS)
    assert event["bytes_since_frame"] == len(CAPTURE)
    assert event["hint"] == GARMIN_HINT
    assert status["state"] == "stale"
    assert status["hint"] == GARMIN_HINT
    assert runtime.framer.skipped_bytes == len(CAPTURE)
    assert sum(runtime.parse_errors.values()) == 0


def test_records_that_lost_their_first_dle_give_the_garmin_hint_on_a_real_pty() -> None:
    """The sensor of the test above, its device's records 2 and 4 (whose bytes then read as a
    TSIP 0x1C report) and every tenth record without their first DLE: the ``sensor state``
    log line and ``/status`` name Garmin's binary mode and the command that leaves it, not
    TSIP (before: "the device sends Trimble TSIP and Garmin binary messages"); no frame, no
    parse error."""
    lost = {2, 4, *range(0, len(RECORDS), 10)} - {20, 30}  # 20, 30: a "$" or "!" in neither
    records = [record[n in lost :] for n, record in enumerate(RECORDS)]
    runtime, event, status = stale_on_a_pty(records)
    assert event["hint"] == GARMIN_HINT
    assert status["hint"] == GARMIN_HINT
    assert runtime.framer.frames == 0
    assert sum(runtime.parse_errors.values()) == 0


def test_the_set_up_the_hint_gives_writes_the_command_and_the_sentences_after_are_read() -> None:
    """The ``setup`` line the hint gives, in the sensor's table: sensord writes the 8 bytes
    on the device's pty after the open, once (the receiver sends no acknowledgement sensord
    waits for); records still in flight are skipped, and the sentences the receiver sends
    once switched are read."""
    setup = NmeaFramer().no_frame_hint(CAPTURE).rsplit(": ", 1)[1]
    clock = Clock()
    with PtyPair() as pair:
        runtime = nmea_sensor(pair, clock, setup)
        try:
            clock.now += 0.2
            deliver(runtime, pair, RECORDS[0])
            runtime.tick(clock.now)
            time.sleep(0.05)
            assert written(pair) == TO_NMEA
            clock.now += 0.5
            deliver(runtime, pair, RECORDS[1] + RECORDS[2] + b"".join(LINES[:6]))
            runtime.tick(clock.now)
            assert written(pair) == b""
            snapshot = runtime.snapshot()
        finally:
            runtime.stop()
    assert snapshot.state == "up"
    assert runtime.framer.skipped_bytes == len(b"".join(RECORDS[:3]))
    assert sum(runtime.parse_errors.values()) == 0


#: DLE, which begins a record, ends it with ETX and is sent twice within it.
_DLE = 0x10


def changed_within(record: bytes, at: int, byte: int) -> bytes | None:
    """``record`` with its byte ``at`` changed to ``byte`` on the line, when the change keeps
    it a whole record but for its checksum: a byte of its data or its checksum, not a DLE of
    its stuffing, nor made one; else None."""
    if not 3 <= at < len(record) - 2 or byte == record[at] or _DLE in (byte, record[at]):
        return None
    if record[at - 1] == _DLE and record[at - 2] != _DLE:
        return None
    return record[:at] + bytes((byte,)) + record[at + 1 :]


def test_a_record_damaged_within_is_skipped_whole_and_no_byte_of_it_is_a_frame() -> None:
    """Every record of the capture with each byte of its data or checksum changed (its lowest
    bit flipped: a bit error on the line), between two sentences: the record is whole but for
    its checksum (its DLE, ID, size byte, stuffing and DLE ETX where its size puts it), and is
    skipped whole, as gpsd's sniffer drops a packet whose checksum fails: the frames are the
    two sentences, the skipped bytes the record's. Before, its bytes went to the line framer:
    the 26 changes that leave a ``$`` or ``!`` before an LF or CR of the record's data (the
    ``0a 01`` before a satellite record's checksum) with none between gave that piece as a
    frame for the decoder to reject. The same at any read size."""
    framed = 0
    for record in RECORDS:
        for at in range(len(record)):
            damaged = changed_within(record, at, record[at] ^ 0x01)
            if damaged is None:
                continue
            cut, frames = run(LINES[0] + damaged + LINES[1], [])
            assert frames == SENTENCES[:2], (record, at)
            assert cut.skipped_bytes == len(damaged), (record, at)
            if re.search(rb"[$!][^$!\r\n]*[\r\n]", damaged) is not None:
                framed += 1
                for sizes in ([1], [7], [64]):
                    assert run(LINES[0] + damaged + LINES[1], sizes)[1] == SENTENCES[:2]
    assert framed == 26


@st.composite
def records_whole_or_damaged(draw: st.DrawFn) -> bytes:
    """A record of the capture, whole or with a byte of its data or checksum changed."""
    record = draw(st.sampled_from(RECORDS))
    if draw(st.booleans()):
        damaged = changed_within(
            record, draw(st.integers(0, len(record) - 1)), draw(st.integers(0, 255))
        )
        if damaged is not None:
            return damaged
    return record


@settings(max_examples=200, deadline=None)
@given(
    pieces=st.lists(
        st.tuples(records_whole_or_damaged(), st.sampled_from(range(12)), st.booleans()),
        min_size=1,
        max_size=10,
    ),
    sizes=READ_SIZES,
)
def test_sentences_between_records_whole_or_damaged_within_are_exactly_the_frames(
    pieces: list[tuple[bytes, int, bool]], sizes: list[int]
) -> None:
    """Real sentences with the capture's records between them, whole or damaged within (a
    byte of data or checksum changed: only the checksum fails), each sentence right after a
    record with or without its CR LF, read in pieces of any sizes: the frames are exactly the
    sentences, the skipped bytes exactly the records'."""
    data = b"".join(record + SENTENCES[n] + (b"\r\n" if end else b"") for record, n, end in pieces)
    cut, frames = run(data, sizes)
    assert frames == [SENTENCES[n] for _, n, _ in pieces]
    assert cut.skipped_bytes == sum(len(record) for record, _, _ in pieces)
