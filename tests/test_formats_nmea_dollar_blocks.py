"""Binary messages that begin with ``$`` in an NMEA stream: Hemisphere ``$BIN`` messages and
Septentrio SBF blocks (``dollar_binary_blocks.hex``: $BIN messages of RTKLIB's Crescent
capture ``cres_20080526.bin``, SBF blocks of SparkFun's SBF parser test; each with its
origin), read through the framer as the sensor reads them. Each is taken out by its length
and its check, as UBX and RTCM 3 frames are, its bytes counted in ``skipped_bytes``; one
whose check fails is bytes, and no sentence after it is lost."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st
from test_formats_nmea_receivers import stream
from test_formats_nmea_stream_edges import decoded_in_pieces, hex_messages, run

from sensord.formats.base import FormatSpec
from sensord.formats.nmea_framer import NmeaFramer, checksum

BLOCKS = hex_messages("dollar_binary_blocks.hex")
BIN = [block for block in BLOCKS if block.startswith(b"$BIN")]
SBF = [block for block in BLOCKS if block.startswith(b"$@")]
#: u-blox UBX frames of gpsd's ZED-F9P capture ublox-zed-f9p_hpg1.11.log.
UBX = [m for m in hex_messages("ublox_zed_f9p_hpg111_ubx.hex") if m.startswith(b"\xb5\x62")]
#: The ZED-F9P's NMEA output (gpsd's capture ublox-zed-f9p-nmea.log), each with its CR LF:
#: a GN receiver's epochs, GSA runs of four constellations.
LINES = [line + b"\r\n" for line in stream("ublox_zed_f9p.nmea").split(b"\r\n") if line]
SENTENCES = [line[:-2] for line in LINES]


def test_the_fixture_holds_whole_real_blocks() -> None:
    """Seven ``$BIN`` messages (block IDs 1, 96, 97, 99, 80, 95, 93), whose data holds
    ``$``, ``!``, ``*``, CR and LF, each with its sum and CR LF; two SBF blocks, each with its
    length and CRC."""
    assert [block[4] for block in BIN] == [1, 96, 97, 99, 80, 95, 93]
    for block in BIN:
        length = int.from_bytes(block[6:8], "little")
        assert len(block) == length + 12
        assert sum(block[8:-4]) & 0xFFFF == int.from_bytes(block[-4:-2], "little")
        assert block.endswith(b"\r\n")
    assert all(byte in b"".join(block[8:-4] for block in BIN) for byte in b"$!*\r\n")
    assert len(SBF) == 2
    for block in SBF:
        assert len(block) == int.from_bytes(block[6:8], "little")
        assert crc_ccitt(block[4:]) == int.from_bytes(block[2:4], "little")


def crc_ccitt(data: bytes) -> int:
    """CRC-16-CCITT from 0, bit by bit (as SBF's reference guide gives it)."""
    crc = 0
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = (crc << 1 ^ 0x1021 if crc & 0x8000 else crc << 1) & 0xFFFF
    return crc


def test_bin_messages_between_sentences_are_taken_out_at_any_chunking() -> None:
    """A Hemisphere receiver's ``$BIN`` messages between its sentences, each right before a
    sentence, no line end between them: at every chunk size the frames are the sentences,
    the messages' bytes are skipped, none is ``overlong``. Before, the line framer cut each
    message at the CR and LF bytes of its data and at its own CR LF, and the pieces came out
    as frames (RTKLIB's whole capture: 2155 rejected frames for its 1882 messages)."""
    data = b"".join(BIN[at % len(BIN)] + line for at, line in enumerate(LINES))
    for size in [*range(1, 20), 64, 511, len(data)]:
        cut, frames = run(data, [size])
        assert frames == SENTENCES, size
        assert (cut.frames, cut.overlong) == (len(SENTENCES), 0), size
        taken = sum(len(BIN[at % len(BIN)]) for at in range(len(LINES)))
        assert cut.skipped_bytes == taken, size


def test_a_gn_receivers_readings_are_whole_with_bin_messages_between_its_sentences() -> None:
    """The ZED-F9P's epochs (GSA runs of four constellations) with a ``$BIN`` message before
    every sentence read as they do without them: no parse error, the same readings,
    ``used_<constellation>`` included. A rejected frame inside or before a GSA run marked
    the run as possibly damaged and withheld its ``used_`` readings."""
    fields = ("GSA.used_gps", "GSA.used_glonass", "GSA.used_galileo", "GGA.latitude")
    spec = FormatSpec("nmea", tuple((field, field) for field in fields))
    plain = decoded_in_pieces(b"".join(LINES), spec)
    assert plain[0] == []
    assert {name for name, _ in plain[1]} == set(fields)
    mixed = b"".join(BIN[at % len(BIN)] + line for at, line in enumerate(LINES))
    assert decoded_in_pieces(mixed, spec) == plain


def test_sbf_blocks_between_sentences_and_last_are_taken_out() -> None:
    """A Septentrio receiver's SBF blocks between its sentences and after its last one, at
    every chunk size: the frames are the sentences and the blocks' bytes are skipped, as
    blocks taken out by their length and CRC. (These two real blocks hold no CR, LF, ``*``
    or second ``$``: the line framer alone drops them as noise before the next ``$``, with
    the same count; an SBF block whose bytes hold a CR or LF would be cut into frames.)"""
    data = b"".join(SBF[at % 2] + line for at, line in enumerate(LINES)) + SBF[0] + SBF[1]
    blocks = sum(len(SBF[at % 2]) for at in range(len(LINES))) + len(SBF[0]) + len(SBF[1])
    for size in [*range(1, 20), 64, 511, len(data)]:
        cut, frames = run(data, [size])
        assert frames == SENTENCES, size
        assert cut.skipped_bytes == blocks, size


def test_a_block_whose_check_fails_is_bytes() -> None:
    """A ``$BIN`` message with one data byte changed (its sum fails) and an SBF block with
    one body byte changed (its CRC fails), each between two sentences: neither is taken
    out; its bytes go on as text (the ``$BIN``'s pieces frames for the decoder to reject,
    the SBF block's dropped as noise before the next ``$``), both sentences are read, and
    a port that sends only such blocks is not named as sending them."""
    for block, at in ((BIN[2], 20), (SBF[1], 40)):
        damaged = block[:at] + bytes((block[at] ^ 0x01,)) + block[at + 1 :]
        cut, frames = run(LINES[0] + damaged + LINES[1], [])
        assert [f for f in frames if f in SENTENCES] == SENTENCES[:2]
        assert "binary messages" in NmeaFramer().no_frame_hint(block)
        assert "binary messages" not in NmeaFramer().no_frame_hint(damaged)
    cut, frames = run(LINES[0] + BIN[2][:20] + b"\x00" + BIN[2][21:] + LINES[1], [])
    assert len(frames) > 2
    assert cut.skipped_bytes < len(BIN[2])


def test_a_port_of_bin_or_sbf_output_alone_is_named_in_the_hint() -> None:
    """A port that sends ``$BIN`` messages or SBF blocks and no sentence: the hint names
    them, as it names UBX and RTCM 3 output."""
    framer = NmeaFramer()
    assert "Hemisphere $BIN" in framer.no_frame_hint(b"".join(BIN))
    assert "Septentrio SBF" in framer.no_frame_hint(b"".join(SBF * 3))
    both = framer.no_frame_hint(b"".join(BIN + SBF))
    assert "Hemisphere $BIN and Septentrio SBF" in both
    assert "NMEA" in both


REAL_BLOCKS = BIN + SBF + UBX


def reads_exactly_the_sentences(
    blocks: list[bytes], order: list[tuple[int, int, bool]], sizes: list[int]
) -> None:
    """Each ``(block, sentence, line end)`` of ``order``: that real block, then that sentence
    glued to it, with its CR LF or without, read in pieces of ``sizes``: the frames are
    exactly the sentences, and the skipped bytes exactly the blocks'."""
    data = b""
    expected: list[bytes] = []
    taken = 0
    for block, sentence, line_end in order:
        data += blocks[block] + SENTENCES[sentence] + (b"\r\n" if line_end else b"")
        expected.append(SENTENCES[sentence])
        taken += len(blocks[block])
    cut, frames = run(data, sizes)
    assert frames == expected
    assert cut.skipped_bytes == taken


def interleavings(blocks: int, most: int) -> st.SearchStrategy[list[tuple[int, int, bool]]]:
    """Orders for :func:`reads_exactly_the_sentences`: one to ``most`` of ``(block, sentence,
    line end)``, of ``blocks`` real blocks and the real sentences."""
    return st.lists(
        st.tuples(
            st.sampled_from(range(blocks)),
            st.sampled_from(range(len(SENTENCES))),
            st.booleans(),
        ),
        min_size=1,
        max_size=most,
    )


#: The sizes of the reads a stream is cut into: one to six, of 1 to 400 bytes.
READ_SIZES = st.lists(st.integers(1, 400), min_size=1, max_size=6)


@settings(max_examples=150, deadline=None)
@given(
    order=interleavings(len(REAL_BLOCKS), 12),
    sizes=READ_SIZES,
)
def test_any_interleaving_of_real_sentences_and_blocks_reads_exactly_the_sentences(
    order: list[tuple[int, int, bool]], sizes: list[int]
) -> None:
    """Any sequence of real blocks (``$BIN``, SBF, UBX) and real sentences, each sentence
    right after a block with or without its CR LF, read in pieces of any sizes: the frames
    are exactly the sentences, and the skipped bytes exactly the blocks'."""
    reads_exactly_the_sentences(REAL_BLOCKS, order, sizes)


@st.composite
def damaged_copies(draw: st.DrawFn, blocks: list[bytes]) -> bytes:
    """One of the real ``blocks`` damaged on the line: a byte changed, or cut short."""
    block = draw(st.sampled_from(blocks))
    if draw(st.booleans()):
        at = draw(st.integers(0, len(block) - 1))
        byte = draw(st.integers(0, 255).filter(lambda b: b != block[at]))
        return block[:at] + bytes((byte,)) + block[at + 1 :]
    return block[: draw(st.integers(1, len(block) - 1))]


def keeps_the_sentences_around(
    damaged: bytes, first: int, sizes: list[int]
) -> tuple[list[bytes], list[bytes]]:
    """``damaged`` between the sentence ``first`` of :data:`LINES` and the seven after it, the
    first of those glued to it, read in pieces of ``sizes``: every sentence, before and after,
    is read, in order. The frames read, and those sentences."""
    before = LINES[first]
    after = LINES[first + 1 : first + 8]
    expected = [line[:-2] for line in [before, *after]]
    _, frames = run(before + damaged + b"".join(after), sizes)
    assert [frame for frame in frames if frame in expected] == expected
    return frames, expected


def assert_no_checked_sentence_besides(frames: list[bytes], expected: list[bytes]) -> None:
    """What ``frames`` hold besides ``expected`` (the damaged bytes) is never a sentence whose
    checksum holds: a start character, a body, ``*`` and the XOR of the body in two hex
    digits. Two bytes after the ``*`` that are no hex digits are no checksum."""
    for frame in frames:
        if frame in expected or frame[:1] not in (b"$", b"!") or frame[-3:-2] != b"*":
            continue
        digits = frame[-2:]
        if re.fullmatch(rb"[0-9A-Fa-f]{2}", digits) is not None:
            assert checksum(frame[1:-3]) != int(digits, 16), frame


@settings(max_examples=300, deadline=None)
@given(
    damaged=damaged_copies(BIN + SBF),
    first=st.integers(0, len(SENTENCES) - 8),
    sizes=st.lists(st.integers(1, 300), min_size=1, max_size=4),
)
def test_a_damaged_block_never_swallows_a_following_sentence(
    damaged: bytes, first: int, sizes: list[int]
) -> None:
    """A real block damaged on the line (a byte changed, or cut short), between two
    sentences, the sentence after it glued to it: every sentence, before and after, is read,
    in order, at any chunking; what the damaged block's bytes give besides is never a
    sentence whose checksum holds."""
    assert_no_checked_sentence_besides(*keeps_the_sentences_around(damaged, first, sizes))
