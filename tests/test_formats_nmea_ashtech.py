"""An Ashtech (Magellan, Thales) receiver's binary replies in its NMEA stream, read as
``format = "nmea"``.

An Ashtech receiver answers a ``$PASHQ`` query for raw data, or sends at each epoch what
``$PASHS,RAW`` enabled, as ``$PASHR,``, the message ID and a comma, then a binary structure
of the ID's length whose last bytes are its check, and CR LF (DG16 Reference Manual, "Message
Structure" and "Checksum"; Z-Family Technical Reference Manual, MPC; G12 Reference Manual,
SNV). gpsd's capture ``test/daemon/ac12_binary.log`` (``ashtech_ac12_binary.hex``, its
origin recorded there) holds an AC12's sentences with 12 MCA and 4 PBN replies between them,
whose structures hold CR, LF, ``$`` and ``!``. Each reply is taken out by its ID's length and
its check, its bytes counted as skipped, never a frame for the decoder."""

from __future__ import annotations

import random
import struct
from functools import reduce
from operator import xor

from harness.pty import PtyPair
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
from test_formats_nmea_stream_edges import decoded_in_pieces, hex_messages, run
from test_stale_hints import Clock, deliver

from sensord.config import parse_config
from sensord.formats.base import FormatSpec
from sensord.formats.nmea_framer import NmeaFramer
from sensord.sensor import SensorRuntime

#: The capture's 64 messages, in order: sentences and text replies with their CR LF, and the
#: binary replies.
MESSAGES = hex_messages("ashtech_ac12_binary.hex")
CAPTURE = b"".join(MESSAGES)
REPLIES = [m for m in MESSAGES if m.startswith((b"$PASHR,MCA,", b"$PASHR,PBN,"))]
#: What the capture holds besides the binary replies, each up to its checksum.
TEXT = [m[:-2] for m in MESSAGES if m not in REPLIES]


def words_sum(structure: bytes) -> int:
    """The 16-bit sum of the big-endian words of ``structure``."""
    words: tuple[int, ...] = struct.unpack(f">{len(structure) // 2}H", structure)
    return sum(words) & 0xFFFF


def test_the_fixture_holds_whole_real_replies() -> None:
    """12 MCA replies (37 bytes after the header, the last the XOR of the 36 before it) and
    4 PBN replies (56, the last two the sum of the 27 words before them), each ending in CR
    LF; their structures hold CR, LF, ``$`` and ``!``, which a line framer cuts at or starts
    a sentence at. The text between them is 48 checksummed sentences and replies."""
    assert [r[7:10] for r in REPLIES].count(b"MCA") == 12
    assert [r[7:10] for r in REPLIES].count(b"PBN") == 4
    for reply in REPLIES:
        body = reply[11:-2]
        assert reply.endswith(b"\r\n")
        if reply[7:10] == b"MCA":
            assert len(body) == 37
            assert reduce(xor, body[:-1], 0) == body[-1]
        else:
            assert len(body) == 56
            assert words_sum(body[:-2]) == int.from_bytes(body[-2:], "big")
    structures = b"".join(r[11:-2] for r in REPLIES)
    assert all(byte in structures for byte in b"\r\n$!")
    assert len(TEXT) == 48
    assert all(line[-3:-2] == b"*" for line in TEXT)


def test_the_capture_reads_its_sentences_and_skips_its_replies_at_any_chunking() -> None:
    """The capture, at every read size: the frames are its 48 sentences and text replies,
    the binary replies' bytes are skipped, nothing is overlong. Before, the replies' pieces
    went to the decoder: 16 ``encoding`` errors, and two pieces cut at an LF in an MCA's
    structure (``$PASHR,MCA,`` and its first three bytes) taken as proprietary sentences."""
    replies = sum(map(len, REPLIES))
    for size in [*range(1, 24), 64, 511, len(CAPTURE)]:
        cut, frames = run(CAPTURE, [size])
        assert frames == TEXT, size
        assert (cut.frames, cut.skipped_bytes, cut.overlong) == (48, replies, 0), size


def test_the_capture_through_framer_and_decoder_has_no_parse_error() -> None:
    """Through the framer and a decoder of the AC12's fields: no parse error (before:
    ``encoding`` 16, one for each reply), and the readings those of the capture without its
    replies."""
    fields = ("GGA.latitude", "GGA.altitude", "GSA.pdop", "GSV.in_view_gps")
    spec = FormatSpec("nmea", tuple((field, field) for field in fields))
    errors, readings = decoded_in_pieces(CAPTURE, spec)
    assert errors == []
    plain = b"".join(m for m in MESSAGES if m not in REPLIES)
    assert decoded_in_pieces(plain, spec) == ([], readings)
    assert {name for name, _ in readings} == set(fields)


def test_a_reply_whose_check_fails_is_bytes_and_the_sentences_around_it_are_read() -> None:
    """An MCA with one structure byte changed (its XOR fails) and a PBN with one changed (its
    sum fails), each between two sentences: neither is taken out (its bytes go on as text,
    frames the decoder rejects), both sentences are read; a port of such replies alone is
    not named as sending Ashtech replies."""
    for reply in (REPLIES[0], REPLIES[3]):
        assert reply[7:10] in (b"MCA", b"PBN")
        damaged = reply[:20] + bytes((reply[20] ^ 0x01,)) + reply[21:]
        cut, frames = run(LINES[0] + damaged + LINES[1], [])
        assert [f for f in frames if f in SENTENCES] == SENTENCES[:2]
        assert cut.skipped_bytes < len(damaged)
        assert "Ashtech" in NmeaFramer().no_frame_hint(reply * 3)
        assert "Ashtech" not in NmeaFramer().no_frame_hint(damaged * 3)


def test_a_reply_cut_short_does_not_hold_or_swallow_the_sentences_after_it() -> None:
    """Each reply cut after each of its bytes from its header on (bytes lost on the line),
    the capture's next sentences right after it: those sentences are all read, in order, at
    once and one byte at a time."""
    for reply in REPLIES[:2] + REPLIES[3:4]:
        for end in range(11, len(reply) - 1):
            data = LINES[0] + reply[:end] + b"".join(LINES[1:6])
            for sizes in ([], [1]):
                _, frames = run(data, sizes)
                assert [f for f in frames if f in SENTENCES] == SENTENCES[:6], (end, sizes)


def test_a_text_reply_of_a_binary_messages_id_is_read_as_a_line() -> None:
    """A receiver set to ASCII output sends the same IDs as text (``$PASHR,MPC,`` and its
    comma-separated fields, a decimal checksum and no ``*``: Z-Family manual, MPC Message
    Structure, ASCII Format): no binary reply's check holds on it, and its line is a frame, as
    without the binary replies known; the sentences around it are read."""
    text = b"$PASHR,MPC,00417,09,02,45,089,10," + b"0," * 26 + b"123\r\n"
    _, frames = run(LINES[0] + text + LINES[1], [])
    assert frames == [SENTENCES[0], text[:-2], SENTENCES[1]]


def built(ident: bytes, fill: random.Random, length: int, *, comma: bool = False) -> bytes:
    """A reply of ``ident`` with a structure of ``length`` bytes from ``fill`` and its check
    as the manuals give it: MCA and MPC a bytewise XOR (with ``comma``: the header's last
    comma in it, as the Z-Family manual words MPC's), the others the 16-bit sum of their
    big-endian words."""
    body = bytes(
        fill.randrange(256) for _ in range(length - (1 if ident in (b"MCA", b"MPC") else 2))
    )
    if ident in (b"MCA", b"MPC"):
        body += bytes((reduce(xor, body, 0x2C if comma else 0),))
    else:
        body += words_sum(body).to_bytes(2, "big")
    return b"$PASHR," + ident + b"," + body + b"\r\n"


def test_each_binary_reply_is_taken_by_its_ids_length_and_check() -> None:
    """MPC (95 bytes, XOR from the sequence tag, or from the header's comma), SNV (132),
    ATT (48) and PBN (56), sums of words, and MCA (37), built as the manuals lay them out with
    bytes of every value, between sentences: each is taken out; one byte of its structure
    changed, it is not, and the sentences around it are read either way. (Before, none was
    taken out.)"""
    fill = random.Random(5)
    for ident, length in ((b"MCA", 37), (b"MPC", 95), (b"PBN", 56), (b"SNV", 132), (b"ATT", 48)):
        for comma in (False, True) if ident == b"MPC" else (False,):
            for _ in range(20):
                reply = built(ident, fill, length, comma=comma)
                cut, frames = run(LINES[0] + reply + LINES[1], [7])
                assert frames == SENTENCES[:2], ident
                assert cut.skipped_bytes == len(reply), ident
                at = fill.randrange(11, len(reply) - 2)
                damaged = reply[:at] + bytes((reply[at] ^ 0x40,)) + reply[at + 1 :]
                cut, frames = run(LINES[0] + damaged + LINES[1], [7])
                assert [f for f in frames if f in SENTENCES] == SENTENCES[:2], ident
                assert cut.skipped_bytes < len(damaged), ident
    # an MCA whose XOR takes the header's comma in is no MCA: the AC12's hold without it
    reply = built(b"MCA", random.Random(1), 37, comma=True)
    assert run(LINES[0] + reply + LINES[1], [])[0].skipped_bytes < len(reply)


@settings(max_examples=150, deadline=None)
@given(order=interleavings(len(REPLIES), 12), sizes=READ_SIZES)
def test_any_interleaving_of_real_sentences_and_replies_reads_exactly_the_sentences(
    order: list[tuple[int, int, bool]], sizes: list[int]
) -> None:
    """Any sequence of the capture's binary replies and real sentences (a ZED-F9P's), each
    sentence right after a reply with or without its CR LF, read in pieces of any sizes: the
    frames are exactly the sentences, the skipped bytes exactly the replies'."""
    reads_exactly_the_sentences(REPLIES, order, sizes)


@settings(max_examples=200, deadline=None)
@given(
    damaged=damaged_copies(REPLIES),
    first=st.integers(0, len(SENTENCES) - 8),
    sizes=st.lists(st.integers(1, 300), min_size=1, max_size=4),
)
def test_a_damaged_reply_never_swallows_a_following_sentence(
    damaged: bytes, first: int, sizes: list[int]
) -> None:
    """A reply damaged on the line (a byte changed, or cut short), between two sentences,
    the sentence after it glued to it: every sentence, before and after, is read, in order,
    at any chunking; what the damaged reply's bytes give besides is never a sentence whose
    checksum holds."""
    assert_no_checked_sentence_besides(*keeps_the_sentences_around(damaged, first, sizes))


@settings(max_examples=200, deadline=None)
@given(
    pieces=st.lists(
        st.one_of(
            st.sampled_from(REPLIES),
            st.sampled_from(REPLIES).flatmap(
                lambda r: st.integers(1, len(r) - 1).map(lambda n: r[:n])
            ),
            st.sampled_from(MESSAGES),
            st.sampled_from([b"$", b"$PASH", b"$PASHR,MC", b"$PASHR,PBN,", b"\r\n"]),
        ),
        max_size=20,
    ),
    sizes=st.lists(st.integers(1, 60), min_size=1, max_size=8),
)
def test_any_chunking_of_replies_and_sentences_gives_the_frames_and_counts_of_the_whole(
    pieces: list[bytes], sizes: list[int]
) -> None:
    """Replies whole or cut short, the capture's messages and pieces of headers in any order,
    read in pieces of any sizes (a header split anywhere between two reads): the frames and
    every counter are those of the whole stream read at once."""
    data = b"".join(pieces)
    whole, expected = run(data, [])
    cut, frames = run(data, sizes)
    assert frames == expected
    counters = ("frames", "skipped_bytes", "overlong", "ignored")
    assert [getattr(cut, name) for name in counters] == [getattr(whole, name) for name in counters]


def test_the_capture_on_a_real_pty_gives_readings_and_no_parse_error() -> None:
    """An NMEA sensor on a pty whose device sends the capture an epoch at a time, as the
    AC12 does: every reply's bytes are counted as skipped, no parse error, the GGA's
    latitude read at each epoch."""
    text = (
        '[[sensors]]\nname = "ac12"\nport = "{path}"\nformat = "nmea"\n'
        'simulate = "never"\n'
        '[[sensors.channels]]\nname = "lat"\nfield = "GGA.latitude"\n'
    )
    clock = Clock()
    epochs = CAPTURE.split(b"$GPZDA")
    with PtyPair() as pair:
        runtime = SensorRuntime(
            parse_config(text.format(path=pair.path)).sensors[0],
            clock=clock,
            wall_clock=clock,
            rng=random.Random(1),
        )
        assert runtime.try_open()
        try:
            for n, epoch in enumerate(epochs):
                clock.now += 1.0
                deliver(runtime, pair, (b"$GPZDA" if n else b"") + epoch)
                runtime.tick(clock.now)
            snapshot = runtime.snapshot()
        finally:
            runtime.stop()
    assert runtime.framer.skipped_bytes == sum(map(len, REPLIES))
    assert sum(runtime.parse_errors.values()) == 0
    assert runtime.framer.frames == len(TEXT)
    assert snapshot.state == "up"
