"""NovAtel OEM, Unicore and SiRF binary messages in an NMEA stream (``oem_unicore_binary.hex``:
NovAtel OEMV logs of RTKLIB's capture ``oemv_200911218.gps``, a Unicore message of SparkFun's
parser test; ``binary_protocols.hex``: SiRF messages of gpsd's capture ``sirfstarv.log``;
each with its origin), read through the framer as the sensor reads them. Each is taken out
by its length and its check (NovAtel's and Unicore's CRC-32, SiRF's 15-bit sum and
``B0 B3``), its bytes counted in ``skipped_bytes``; one whose check fails is bytes."""

from __future__ import annotations

from zlib import crc32

import pytest
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
from test_formats_nmea_receivers import stream
from test_formats_nmea_stream_edges import decoded_in_pieces, hex_messages, run

from sensord.formats.base import FormatSpec
from sensord.formats.nmea_framer import NmeaFramer

MESSAGES = hex_messages("oem_unicore_binary.hex")
NOVATEL = [m for m in MESSAGES if m.startswith(b"\xaa\x44\x12")]
UNICORE = [m for m in MESSAGES if m.startswith(b"\xaa\x44\xb5")]
SIRF = [m for m in hex_messages("binary_protocols.hex") if m.startswith(b"\xa0\xa2")]
ALL = NOVATEL + UNICORE + SIRF


def oem_crc(data: bytes) -> int:
    """NovAtel's CRC-32: the reflected polynomial 0xEDB88320 from 0, no final XOR."""
    return crc32(data, 0xFFFFFFFF) ^ 0xFFFFFFFF


def test_the_fixtures_hold_whole_real_messages() -> None:
    """Three NovAtel logs (BESTPOS, RAWEPHEM, RANGECMP) and a Unicore message, each with its
    CRC-32; three SiRF messages, each with its sum and ``B0 B3``."""
    assert [int.from_bytes(m[4:6], "little") for m in NOVATEL] == [42, 41, 140]
    for m in NOVATEL:
        assert len(m) == m[3] + int.from_bytes(m[8:10], "little") + 4
        assert oem_crc(m[:-4]) == int.from_bytes(m[-4:], "little")
    assert len(UNICORE) == 1
    for m in UNICORE:
        assert len(m) == 24 + int.from_bytes(m[6:8], "little") + 4
        assert oem_crc(m[:-4]) == int.from_bytes(m[-4:], "little")
    assert len(SIRF) == 3
    for m in SIRF:
        length = int.from_bytes(m[2:4], "big")
        assert len(m) == length + 8
        assert sum(m[4:-4]) & 0x7FFF == int.from_bytes(m[-4:-2], "big")
        assert m.endswith(b"\xb0\xb3")


def test_messages_between_sentences_are_taken_out_at_any_chunking() -> None:
    """NovAtel, Unicore and SiRF messages each right before a sentence, no line end between
    them: at every chunk size the frames are the sentences and the messages' bytes are
    skipped. Before, the line framer cut the NovAtel logs and the SiRF messages at their CR
    and LF bytes, and the pieces from a ``$`` or ``!`` in them came out as frames (RTKLIB's
    whole OEMV capture: 923 rejected frames for its 318 logs; gpsd's SiRFstar V capture: 107
    for its 495 messages)."""
    data = b"".join(ALL[at % len(ALL)] + line for at, line in enumerate(LINES))
    taken = sum(len(ALL[at % len(ALL)]) for at in range(len(LINES)))
    for size in [*range(1, 20), 64, 511, len(data)]:
        cut, frames = run(data, [size])
        assert frames == SENTENCES, size
        assert (cut.frames, cut.overlong, cut.skipped_bytes) == (len(SENTENCES), 0, taken), size


def test_a_bu353_reads_every_reading_with_sirf_messages_after_its_lines() -> None:
    """The BU-353 GLONASS's epochs (SiRF III, a GSA run of two constellations, gpsd's
    capture bu353-glonass.log) with a SiRF binary message after every line read as they do
    without them: no parse error and the same readings, ``used_`` ones included (a rejected
    frame before a GSA run withheld its ``used_`` readings)."""
    lines = [line + b"\r\n" for line in stream("sirf_bu353_glonass_fix_loss.nmea").split(b"\r\n")]
    lines = [line for line in lines if line != b"\r\n"]
    fields = ("GSA.used_gps", "GSA.used_glonass", "GGA.latitude", "GSV.in_view_glonass")
    spec = FormatSpec("nmea", tuple((field, field) for field in fields))
    plain = decoded_in_pieces(b"".join(lines), spec)
    assert plain[0] == []
    assert {name for name, _ in plain[1]} == set(fields)
    mixed = b"".join(line + SIRF[at % len(SIRF)] for at, line in enumerate(lines))
    assert decoded_in_pieces(mixed, spec) == plain


def test_a_message_whose_check_fails_is_bytes() -> None:
    """A NovAtel log, a SiRF message and a Unicore message with one byte changed: none is
    taken out, both sentences around it are read, and a port that sends only such messages
    is not named as sending them."""
    for message, at in ((NOVATEL[0], 40), (SIRF[2], 30), (UNICORE[0], 60)):
        damaged = message[:at] + bytes((message[at] ^ 0x01,)) + message[at + 1 :]
        _, frames = run(LINES[0] + damaged + LINES[1], [])
        assert [f for f in frames if f in SENTENCES] == SENTENCES[:2]
        assert "binary messages" in NmeaFramer().no_frame_hint(message * 2)
        assert "binary messages" not in NmeaFramer().no_frame_hint(damaged * 2)


def test_a_port_of_novatel_unicore_or_sirf_output_alone_is_named_in_the_hint() -> None:
    framer = NmeaFramer()
    assert "NovAtel" in framer.no_frame_hint(b"".join(NOVATEL))
    assert "Unicore" in framer.no_frame_hint(b"".join(UNICORE * 3))
    assert "SiRF" in framer.no_frame_hint(b"".join(SIRF))


@settings(max_examples=150, deadline=None)
@given(
    order=interleavings(len(ALL), 10),
    sizes=READ_SIZES,
)
def test_any_interleaving_of_real_sentences_and_messages_reads_exactly_the_sentences(
    order: list[tuple[int, int, bool]], sizes: list[int]
) -> None:
    """Any sequence of real NovAtel, Unicore and SiRF messages and real sentences, each
    sentence right after a message with or without its CR LF, read in pieces of any sizes:
    the frames are exactly the sentences, the skipped bytes exactly the messages'."""
    reads_exactly_the_sentences(ALL, order, sizes)


@settings(max_examples=300, deadline=None)
@given(
    damaged=damaged_copies(ALL),
    first=st.integers(0, len(SENTENCES) - 8),
    sizes=st.lists(st.integers(1, 300), min_size=1, max_size=4),
)
def test_a_damaged_message_never_swallows_a_following_sentence(
    damaged: bytes, first: int, sizes: list[int]
) -> None:
    """A real message damaged on the line, between two sentences, the sentence after it
    glued to it: every sentence, before and after, is read, in order, at any chunking."""
    keeps_the_sentences_around(damaged, first, sizes)


def unicore_header(idle: int, message_id: int, length: int, time_ref: int, ms: int = 0) -> bytes:
    """A Unicore header (Unicore's user manual, "Binary Message Header Structure"): sync
    bytes, CPU idle time, message ID and length, time reference, then the time status (FINE,
    160), week 2300, ``ms``, the reserved word, version, 18 leap seconds, 1 ms delay."""
    head = b"\xaa\x44\xb5" + bytes((idle,)) + message_id.to_bytes(2, "little")
    week = (2300).to_bytes(2, "little") + ms.to_bytes(4, "little")
    time_fields = bytes((time_ref, 160)) + week + bytes(4)
    return head + length.to_bytes(2, "little") + time_fields + b"\x00\x12\x01\x00"


#: Line noise that starts like a NovAtel, SiRF, SkyTraq, UBX, RTCM 3 or Unicore message or an
#: SBF block, its length field claiming up to 9216 bytes: a header no real message has (a SiRF
#: payload past 1023 bytes, a NovAtel header length other than 28, a SkyTraq message ID or
#: length no public decoder takes, a UBX class no receiver sends, an RTCM 3 message number
#: outside 1001-1399 and 4001-4095, an SBF block number outside 4000-6015, a Unicore CPU idle
#: time past 100, time reference past 1 or time of week past the week), which would
#: hold the sentences after it for up to 19 s at 4800 baud.
LEAD_INS = [
    b"\xa0\xa2\x04\x00",  # SiRF, 1024 bytes
    b"\xa0\xa2\x1f\xff",  # SiRF, 8191 bytes
    b"\xa0\xa2\x80\x40",  # SiRF, the top bit of its 15-bit length set
    b"\xaa\x44\x12\x00\x2a\x00\x02\xbe\x00\x20",  # NovAtel, header length 0, 8192 bytes
    b"\xaa\x44\x12\x1b\x2a\x00\x02\xbe\x00\x04",  # NovAtel, header length 27, 1024 bytes
    b"$BIN\x01\x01\x40\x00",  # $BIN, block ID 257, 64 bytes
    b"\xb5\x62\x00\x07\x00\x24",  # UBX, class 00, 9216 bytes
    b"\xb5\x62\xf0\x00\x00\x04",  # UBX, class F0 (CFG-MSG's name of NMEA output), 1024 bytes
    b"\xb5\x62\x2a\x01\x10\x00",  # UBX, class 2A (after NAV2), 16 bytes
    b"\xd3\x03\xff",  # RTCM 3, 1023 bytes, the sentence's "$P" its message number 581
    b"\xd3\x02\x00\x3e\x80",  # RTCM 3, 512 bytes, message number 1000
    b"\xd3\x00\x40\xfa\x00",  # RTCM 3, 64 bytes, message number 4000
    b"$@\x00\x00\x00\x00\x00\x24",  # SBF, block number 0, 9216 bytes
    b"$@\x00\x00\x9f\x0f\x00\x04",  # SBF, block number 3999, 1024 bytes
    b"$@\x00\x00\x80\x17\x00\x04",  # SBF, block number 6016, 1024 bytes
    b"$@\x00\x00\xff\xff\x00\x04",  # SBF, block number 8191 (revision 7), 1024 bytes
    # Unicore, BESTNAV (2118) and 8192 bytes: a CPU idle time of 101 (GPS time), then time
    # reference 2; then message ID 3117 and 1024 bytes at 604,800,000 ms, a week's length
    unicore_header(101, 2118, 0x2000, 0),
    unicore_header(50, 2118, 0x2000, 2),
    unicore_header(50, 3117, 0x0400, 0, ms=604_800_000),
    # SkyTraq: channel status (0xDE) of 8192 bytes, not 3 + 10 a satellite; extended raw
    # measurements (0xE5) of 4096 bytes, not 14 + 31 a signal; message ID 0x42, 4096 bytes
    b"\xa0\xa1\x20\x00\xde",
    b"\xa0\xa1\x10\x00\xe5",
    b"\xa0\xa1\x10\x00\x42",
]


@pytest.mark.parametrize("read_alone", [False, True])
@pytest.mark.parametrize("lead_in", LEAD_INS)
@settings(max_examples=5, deadline=None)
@given(st.integers(min_value=0, max_value=30))
def test_a_lead_in_with_no_real_header_holds_no_sentence_without_checksum(
    lead_in: bytes, read_alone: bool, at: int
) -> None:
    """A talker without checksums (the Airmar 110WX's ``$PAMTT`` lines, and its sentences
    with their checksums cut off as an NMEA 0183 1.5 talker sends them): after line noise
    that looks like the start of a binary message but whose header no real one has, each
    sentence comes out of the read that ends its line, as without the noise, also when the
    noise came in a read of its own (an RTCM 3 message number comes with the next one)."""
    lines = [
        line.split(b"*")[0] + b"\r\n"
        for line in stream("airmar_110wx.nmea").split(b"\r\n")
        if line.startswith(b"$")
    ]
    at %= len(lines)
    framer = NmeaFramer()
    for number, line in enumerate(lines):
        chunk = line
        if number == at and read_alone:
            assert framer.feed(lead_in) == []
        elif number == at:
            chunk = lead_in + line
        assert framer.feed(chunk) == [line[:-2]], (number, at)
    assert framer.flush() == []
    assert framer.skipped_bytes == len(lead_in)


def test_noise_before_a_lead_in_is_skipped_when_its_candidate_fails() -> None:
    """Noise with a ``$`` on a talker's line, then noise that starts like a SiRF message
    (64 bytes claimed) and sentences: the sentences come out as their bytes come, and when
    the candidate fails, its bytes and the noise before it are skipped, as without the
    lead-in, whose sentence's ``$`` ends the noise's piece: no frame of noise for the
    decoder to reject, whether the claimed length comes or the stream ends first, whatever
    the chunking and with lines ending in CR CR LF too (the second CR and the LF, outside a
    sentence's span, end a line of their own). A line whose last piece is a whole sentence,
    its line end lost, still gives that sentence."""
    sentences = [
        line
        for line in stream("airmar_110wx.nmea").split(b"\r\n")
        if line.startswith(b"$") and b"*" in line
    ][:6]
    for end in (b"\r\n", b"\r\r\n"):
        lines = [sentence + end for sentence in sentences]
        for noise in (b"$\x17", b"\x03$GPG", b"\x03$GPGGA,1*"):
            for count in (1, len(lines)):  # the stream ends in the candidate, or after it
                data = noise + b"\xa0\xa2\x00\x40" + b"".join(lines[:count])
                for size in (1, 7, len(data)):
                    framer = NmeaFramer()
                    frames = [
                        f
                        for at in range(0, len(data), size)
                        for f in framer.feed(data[at : at + size])
                    ]
                    frames += framer.flush()
                    assert frames == sentences[:count], (end, noise, count, size)
                    assert framer.skipped_bytes == len(noise) + 4, (end, noise, count, size)
                    assert (framer.frames, framer.overlong) == (count, 0)
    glued = sentences[0] + b"\xa0\xa2\x00\x40" + b"".join(s + b"\r\n" for s in sentences[1:])
    framer = NmeaFramer()
    assert framer.feed(glued) + framer.flush() == sentences
    assert framer.skipped_bytes == 4
    # a sentence with a byte flipped by line noise, glued to the next one inside the
    # candidate, is a frame for the decoder to reject, as it is without the lead-in
    damaged = sentences[1].replace(b"A", b"\xc1", 1)
    assert damaged != sentences[1]
    rest = b"".join(s + b"\r\n" for s in sentences[2:])
    framer = NmeaFramer()
    frames = framer.feed(b"\xa0\xa2\x01\x00" + damaged + rest) + framer.flush()
    assert sorted(frames) == sorted([damaged, *sentences[2:]])
    assert (framer.frames, framer.skipped_bytes) == (len(frames), 4)


def test_a_unicore_message_at_the_bounds_of_its_header_is_taken_out() -> None:
    """The real Unicore message with the highest CPU idle time (100) and BDS time (time
    reference 1), its CRC made again: taken out between two sentences, as it is with its own
    header, and named in the hint of a port that sends only such messages (a message taken
    for noise is skipped as well, but not named)."""
    message = bytearray(UNICORE[0][:-4])
    message[3], message[8] = 100, 1
    message += oem_crc(bytes(message)).to_bytes(4, "little")
    cut, frames = run(LINES[0] + message + LINES[1], [])
    assert frames == SENTENCES[:2]
    assert cut.skipped_bytes == len(message)
    assert "Unicore" in NmeaFramer().no_frame_hint(bytes(message) * 3)


def test_a_sentence_glued_to_noise_before_a_lead_in_comes_before_the_sentences_after_it() -> None:
    """A sentence whose line end was lost, glued to line noise that a ``$`` begins and that
    holds a SiRF lead-in claiming 768 bytes (a candidate that waits, the sentences after it
    passed on from inside it as they come): the glued sentence, which the noise's ``$``
    ended, comes before them, in the order of the line, at any chunking. Before, it waited
    in the pending line behind the noise and came after the candidate's sentences (or only
    at the stream's end)."""
    noise = b"$" + bytes(10) + b"\xa0\xa2\x03\x00" + bytes(20)
    data = LINES[0] + SENTENCES[1] + noise + b"".join(LINES[2:6])
    for size in (1, 7, 64, len(data)):
        cut, frames = run(data, [size])
        assert frames == SENTENCES[:6], size
        assert (cut.frames, cut.overlong, cut.skipped_bytes) == (6, 0, len(noise)), size


#: Message IDs no list of the framer's sources holds: pyunigps numbers its UNI_MSGIDS 1 to 79
#: in sequence (unitypes_core.py, placeholders for the actual IDs), so the
#: IDs of UNILOGLIST, KSXT, HEADINGSTATUS, the PPP-B2b and E6 blocks and later logs are not
#: public; a receiver with newer firmware sends such messages all the same.
UNLISTED_IDS = (25, 59, 2000, 3117)


def unicore_message(message_id: int, body: bytes, ms: int = 4000) -> bytes:
    """The header of SparkFun's real Unicore message (BESTNAV, GPS time, time status 201) with
    ``message_id``, ``ms`` as its time of week and the length of ``body``, then ``body`` and
    the CRC-32 over both."""
    head = bytearray(UNICORE[0][:24])
    head[4:6] = message_id.to_bytes(2, "little")
    head[6:8] = len(body).to_bytes(2, "little")
    head[12:16] = ms.to_bytes(4, "little")
    message = bytes(head) + body
    return message + oem_crc(message).to_bytes(4, "little")


@pytest.mark.parametrize("message_id", UNLISTED_IDS)
def test_a_unicore_message_of_an_unlisted_id_costs_only_its_own_bytes(message_id: int) -> None:
    """A Unicore message whose ID no source lists, its CRC-32 holding, between sentences, the
    sentence after it glued to it: its body the bytes of the real NovAtel RANGECMP log of
    RTKLIB's capture (Unicore's compressed observations, OBSVMCMP, take NovAtel's layout),
    which hold ``$``, ``!``, CR and LF. At every chunking the frames are exactly the
    sentences, no piece of the body for the decoder to reject, the message's bytes are
    skipped, and a port that sends only such messages is named Unicore in the hint."""
    body = NOVATEL[2][28:-4]
    assert all(byte in body for byte in b"$!\r\n")
    message = unicore_message(message_id, body)
    data = LINES[0] + message + SENTENCES[1] + b"\r\n" + message + LINES[2]
    for size in (1, 7, 64, 300, len(data)):
        cut, frames = run(data, [size])
        assert frames == SENTENCES[:3], size
        assert cut.skipped_bytes == 2 * len(message), size
    assert "Unicore" in NmeaFramer().no_frame_hint(message * 3)


def test_a_unicore_time_of_week_within_the_week_is_taken_out() -> None:
    """The last millisecond of a GPS week, 604,799,999, is a Unicore header's time of week;
    604,800,000 (see :data:`LEAD_INS`) is none."""
    message = unicore_message(2000, NOVATEL[0][28:-4], ms=604_799_999)
    cut, frames = run(LINES[0] + message + LINES[1], [])
    assert frames == SENTENCES[:2]
    assert cut.skipped_bytes == len(message)
