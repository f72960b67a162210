"""A ``/`` inside a DSMR telegram's line: the next telegram's only before a meter's
identification, else a byte of the telegram.

A ``.`` (0x2E) whose low bit is flipped on the line is a ``/`` (0x2F): the framer took it for
the next telegram's start, and one damaged telegram was two rejections (the half before it
``truncated``, the half from it ``checksum``). A DSMR 2.2 meter writes its text message
(``0-0:96.13.0``) as plain characters, up to 1024 (DSMR 4 writes it in hex), so a ``/`` in a
message (a web address, a date) cut a whole telegram in two. And a port opened inside a
Holley DTSD545's header (``/HLY5/D545-METER``, ndokter/dsmr_parser issue #91) caught the
``/`` of ``/D545-METER`` first, and counted the rest of that telegram as one that failed its
CRC.

The telegrams are the real ones of ``test_formats_dsmr_meters`` and ``test_formats_blocks``
(their origins are in those modules' docstrings): ``REAL_TELEGRAMS``, each with its CRC, and
the Iskra MT382's DSMR 2.2 run (nielsbasjes/dsmr-tools issue #54), whose empty text message
is given a text here.
"""

from __future__ import annotations

import pytest
from harness.pty import PtyPair
from hypothesis import given, settings
from hypothesis import strategies as st
from test_blocks import telegram_lines
from test_first_line import Clock as PortClock
from test_first_line import send
from test_first_line import sensor as sensor_on
from test_formats_blocks import EASYMETER, counts, latest, runtime
from test_formats_dsmr import AUSTRIA_T210, meter
from test_formats_dsmr_field import METERS
from test_formats_dsmr_holley import HOLLEY, HOLLEY_SENSOR, HOLLEY_X25
from test_formats_dsmr_meters import (
    ISKRA_DSMR22_RUN,
    ISKRA_FIRST,
    ISKRA_SECOND,
    REAL_TELEGRAMS,
)

from sensord.formats.blocks import BlockFramer, identification
from sensord.formats.crc import crc16_arc


def framed(data: bytes, size: int | None = None) -> tuple[list[bytes], BlockFramer]:
    """The lines a fresh DSMR framer gives for ``data`` (in chunks of ``size``), and it."""
    framer = BlockFramer("dsmr", 2100)
    if size is None:
        return framer.feed(data), framer
    lines: list[bytes] = []
    for at in range(0, len(data), size):
        lines += framer.feed(data[at : at + size])
    return lines, framer


@pytest.mark.parametrize("k", range(len(REAL_TELEGRAMS)))
def test_a_dot_damaged_into_a_slash_rejects_its_telegram_once(k: int) -> None:
    """Each ``.`` of a real telegram's lines made ``/``, between two whole telegrams: the
    damaged one is one rejection, every line of it ``checksum``, and the two around it are
    read, however chunked."""
    telegram = REAL_TELEGRAMS[k]
    good = telegram_lines(telegram)
    first_line = telegram.index(b"\n") + 1
    dots = [at for at in range(first_line, telegram.index(b"\r\n!")) if telegram[at] == ord(".")]
    assert dots
    for at in dots:
        damaged = telegram[:at] + b"/" + telegram[at + 1 :]
        data = telegram + damaged + telegram
        lines, framer = framed(data)
        where = (at, telegram[at - 12 : at + 8])
        assert lines == good * 2, where
        assert framer.rejections == 1, where
        assert {why: n for why, n in framer.rejected.items() if n} == {"checksum": len(good)}
        assert framer.skipped_bytes == 0, where
        if at == dots[0]:
            for size in (1, 7, 64):
                chunked, by_chunks = framed(data, size)
                assert (chunked, by_chunks.rejected) == (lines, framer.rejected), size


def test_a_dot_damaged_into_a_slash_costs_one_telegram_s_readings() -> None:
    """The sensor reads the telegrams around the damaged one and counts the damaged one's
    lines once, as ``checksum``."""
    telegram = REAL_TELEGRAMS[0]
    damaged = telegram.replace(b"(000002.399*kWh)", b"(000002/399*kWh)")
    rt = runtime(meter(("t1", "1-0:1.8.1"), ("t2", "1-0:1.8.2")))
    rt.feed(telegram + damaged + telegram)
    assert latest(rt) == {"t1": 4.426, "t2": 2.399}
    assert counts(rt)["readings"] == 4
    assert counts(rt)["errors"] == {"checksum": len(telegram_lines(telegram))}


#: Text messages as a DSMR 2.2 meter writes them, in plain characters, each with a ``/``:
#: a web address, a date, a ``/`` before three letters and a digit (no identification: the
#: line ends in the message's ``)``), a message longer than a header line.
MESSAGES = (
    b"Storing? Zie www.example.nl/storingen",
    b"Onderhoud op 12/05 van 08:00 tot 12:00",
    b"Meter /KFM5 vervangen",
    b"Uw nieuwe meter /ISK5 wordt in de komende weken geplaatst, u ontvangt een brief",
    b"/",
)


@pytest.mark.parametrize("message", MESSAGES)
def test_a_slash_in_a_dsmr_2_2_text_message_is_the_message_s(message: bytes) -> None:
    """The Iskra MT382's two telegrams, the first with a text message that holds a ``/``:
    both are read whole, every reading, no rejection, however chunked; no channel reads the
    message, so its line is an ignored frame."""
    first = ISKRA_FIRST.replace(b"0-0:96.13.0()", b"0-0:96.13.0(" + message + b")")
    assert first != ISKRA_FIRST
    data = ISKRA_DSMR22_RUN.replace(ISKRA_FIRST, first)
    assert data.startswith(first)
    lines, framer = framed(data)
    assert lines == telegram_lines(first) + telegram_lines(ISKRA_SECOND)
    assert (framer.rejections, framer.skipped_bytes) == (0, 0)
    for size in (1, 5, 64):
        assert framed(data, size)[0] == lines, size
    rt = runtime(meter(("t2", "1-0:1.8.2"), ("gas", "0-2:24.3.0")))
    rt.feed(data)
    assert latest(rt) == {"t2": 19412.713, "gas": 13376.292}
    assert (counts(rt)["readings"], counts(rt)["errors"]) == (4, {})


def test_a_telegram_cut_mid_line_by_the_next_one_s_identification_is_still_truncated() -> None:
    """A telegram that lost its end inside a line has the next one's ``/`` in that line; an
    identification follows it (``/ISk5\\2MT382-1003``): it begins the next telegram, which is
    read, and the cut one is ``truncated``."""
    cut = ISKRA_FIRST[: ISKRA_FIRST.index(b"(5A4245")]
    data = cut + ISKRA_SECOND
    lines, framer = framed(data)
    assert lines == telegram_lines(ISKRA_SECOND)
    assert {why: n for why, n in framer.rejected.items() if n} == {"truncated": 1}
    for size in (1, 5, 64):
        assert framed(data, size)[0] == lines, size


#: The header line of every meter's telegram in the tests' captures (their origins are in the
#: docstrings of the modules that hold them), a few of each maker: the maker's three letters
#: (``ISk``, ``Ene``: not upper case alone), the baud rate character (``5``, an Aidon's
#: ``9``) and text with spaces, ``\\`` or ``/``. No capture has a space or a digit among the
#: first four bytes after the ``/``: the standard's ``/ XXXZ Ident`` (as ebaauw/homebridge-p1
#: issue 50 quotes it) is typeset so, and a Sagemcom T211's bytes (Beaky2000/esphome-p1mini
#: issue 33) begin ``2F 46 4C 55 35``, ``/FLU5``.
FIELD_TELEGRAMS = tuple(telegram for telegram, _ in METERS.values())
CAPTURED_HEADERS = sorted(
    {t[: t.index(b"\r\n")] for t in (*REAL_TELEGRAMS, *FIELD_TELEGRAMS, ISKRA_FIRST)}
    | {EASYMETER[: EASYMETER.index(b"\r\n")], AUSTRIA_T210[: AUSTRIA_T210.index(b"\r\n")]}
    # a Kamstrup's, as glmnet/Dsmr's test "Can parse a 0 value without a unit" has it
    | {b"/KMP5 ZABF000000000000"}
)


@pytest.mark.parametrize("header", CAPTURED_HEADERS, ids=lambda h: h.decode("latin-1"))
def test_every_captured_header_begins_a_telegram_inside_a_line(header: bytes) -> None:
    """The Iskra's DSMR 2.2 telegram cut inside a line (no CRC: only the header tells where
    the next begins), the next given each captured meter's header line: that telegram is
    read, the cut one ``truncated``, however chunked."""
    second = header + ISKRA_SECOND[ISKRA_SECOND.index(b"\r\n") :]
    data = ISKRA_FIRST[: ISKRA_FIRST.index(b"(5A4245")] + second
    lines, framer = framed(data)
    assert lines == telegram_lines(second)
    assert {why: n for why, n in framer.rejected.items() if n} == {"truncated": 1}
    for size in (1, 5, 64):
        assert framed(data, size)[0] == lines, size


@pytest.mark.parametrize(
    "slash",
    [
        b"/ KFM5KAIFA-METER",  # the standard's typeset "/ XXXZ Ident"
        b"/K1M5KAIFA-METER",  # a digit among the maker's letters
        b"/4.426*kWh",  # a line's '.' damaged into '/', its ')' lost
        b"/12 tot 12:00",  # a DSMR 2.2 text message's date, its ')' lost
    ],
)
def test_a_slash_inside_a_line_before_no_maker_s_letters_begins_no_telegram(slash: bytes) -> None:
    """Inside a line (the Iskra's equipment id line, cut before its value), a ``/`` that no
    three letters and a baud rate character follow is no meter's header: no telegram begins
    there, and the line that holds it is one of the telegram's, however chunked."""
    cut = ISKRA_FIRST[: ISKRA_FIRST.index(b"(5A4245")]
    data = cut + slash + ISKRA_SECOND[ISKRA_SECOND.index(b"\r\n") :]
    assert identification(data, len(cut)) is False
    lines, framer = framed(data)
    assert lines == telegram_lines(data)
    assert b"0-0:96.1.1" + slash in lines
    assert framer.rejections == 0
    for size in (1, 5, 64):
        assert framed(data, size)[0] == lines, size


@pytest.mark.parametrize("lost", range(1, 6))
def test_a_port_opened_inside_a_holley_header_skips_the_telegram_it_caught(lost: int) -> None:
    """The port opened after the first ``lost`` bytes of ``/HLY5/D545-METER``: the ``/`` of
    ``/D545-METER`` begins no telegram (no identification follows it), so the rest of that
    telegram is skipped bytes, no rejection; the next telegram is read, however chunked."""
    data = HOLLEY[lost:] + HOLLEY
    lines, framer = framed(data)
    assert lines == telegram_lines(HOLLEY)
    assert (framer.rejections, framer.skipped_bytes) == (0, len(HOLLEY) - lost)
    for size in (1, 2, 7, 64):
        chunked, by_chunks = framed(data, size)
        assert (chunked, by_chunks.skipped_bytes, by_chunks.rejections) == (
            lines,
            framer.skipped_bytes,
            0,
        )


def test_a_damaged_telegram_whose_identification_came_whole_at_the_open_is_rejected() -> None:
    """The port opened right at the ``/`` of a damaged telegram: its identification is
    whole, so it is the telegram's start, and its CRC failure counts."""
    damaged = HOLLEY.replace(b"3668.743", b"3668.742")
    lines, framer = framed(damaged + HOLLEY)
    assert lines == telegram_lines(HOLLEY)
    assert {why: n for why, n in framer.rejected.items() if n} == {"checksum": 27}


@pytest.mark.parametrize("lost", [1, 5])
def test_a_holley_meter_on_a_pty_opened_inside_its_header_has_no_parse_error(
    pty_pair: PtyPair, lost: int
) -> None:
    """The meter's CRC-16/X-25 telegrams (``parse.crc``) through a real pty, the first caught
    after ``lost`` bytes of its header: the sensor publishes the next one's readings and
    counts no parse error."""
    clock = PortClock()
    with sensor_on(pty_pair, clock, HOLLEY_SENSOR + 'parse = { crc = "crc16_x25" }\n') as opened:
        clock.now += 0.001
        send(opened, pty_pair, HOLLEY_X25[lost:] + HOLLEY_X25)
        assert latest(opened) == {
            "imported_kwh": 3668.743,
            "voltage_l1_v": 238.2,
            "power_factor": 0.999,
        }
        assert sum(opened.snapshot().parse_errors.values()) == 0


#: The Iskra MT382's first telegram (DSMR 2.2, no CRC) with its header line damaged as a line
#: damages one: its LF lost (the CR of the empty line after it follows its CR), a byte of it
#: changed into one that is no text, noise run into it before its line end.
DAMAGED_HEADERS = {
    "lf_lost": ISKRA_FIRST.replace(b"1003\r\n\r\n", b"1003\r\r\n", 1),
    "byte_changed": ISKRA_FIRST.replace(b"MT382", b"MT\xb382", 1),
    "noise_before_cr": ISKRA_FIRST.replace(b"1003\r\n", b"1003\xd4\xb5\xe9\r\n", 1),
}


@pytest.mark.parametrize("name", list(DAMAGED_HEADERS))
@pytest.mark.parametrize("before", [b"", b"\x00\x7f\xe0", b"!\r"])
def test_a_telegram_whose_identification_took_a_damaged_byte_is_read(
    name: str, before: bytes
) -> None:
    """A DSMR 2.2 telegram whose header line took a damaged byte after the maker's letters
    and the baud rate character, at the port's open (its ``/`` the first byte), after line
    noise with no line end, or after a check line that lost its LF: its ``/`` begins it (its
    identification's first bytes came whole, and its line ends within 40 bytes), and it is
    read, as it is after a line end (the header is no reading); so is the one after it, and
    nothing is rejected, however chunked."""
    first = DAMAGED_HEADERS[name]
    assert first != ISKRA_FIRST
    data = before + first + ISKRA_SECOND
    lines, framer = framed(data)
    assert lines == telegram_lines(ISKRA_FIRST) + telegram_lines(ISKRA_SECOND)
    assert (framer.rejections, framer.skipped_bytes) == (0, len(before))
    for size in (1, 3, 64):
        assert framed(data, size)[0] == lines, size


def test_a_failed_telegram_with_a_slash_in_every_line_costs_a_bounded_number_of_crcs() -> None:
    """A telegram whose every ``.`` came as ``/`` (a stuck low data bit on the line), 300
    lines of readings long: one rejection, ``checksum``. Only the ``/`` bytes of the line of
    its last ``/``, within a header line's bytes of its line end, may begin the telegram cut
    short inside it whose CRC holds (a meter's telegram holds no ``/`` after its header
    line): the CRC is computed a few times, not once per ``/`` and CRC (900 times each, 1.3 s
    of the one reader thread's time for this 8 KB telegram measured here, 4 s for one of the
    16 KiB that ``max_block_bytes`` lets a telegram have)."""
    lines = [b"1-0:%d.8.1(0000%02d.426*kWh)\r\n" % (n // 100, n % 100) for n in range(300)]
    text = b"/ISk5\\2MT382-1000\r\n\r\n" + b"".join(lines) + b"!"
    good = REAL_TELEGRAMS[0]
    damaged = text.replace(b".", b"/") + b"%04X\r\n" % crc16_arc(text)
    framer = BlockFramer("dsmr", 2100)
    computed = 0
    crc = framer._crc

    def counted(body: bytes) -> int:
        nonlocal computed
        computed += 1
        return crc(body)

    framer._crc = counted
    assert framer.feed(good + damaged + good) == telegram_lines(good) * 2
    assert {why: n for why, n in framer.rejected.items() if n} == {"checksum": 300}
    assert computed == 2 + 1 + 3  # the whole ones, the damaged one, the last line's three


#: What a stream of telegrams is made of: the real ones with a CRC, a Holley's (a ``/`` in its
#: header), the Iskra MT382's DSMR 2.2 pair, one of them with a text message that holds ``/``
#: before a maker's letters.
STREAM_TELEGRAMS = (
    *REAL_TELEGRAMS,
    HOLLEY,
    ISKRA_FIRST,
    ISKRA_SECOND,
    ISKRA_FIRST.replace(b"0-0:96.13.0()", b"0-0:96.13.0(Meter /KFM5 www.x.nl/storing)"),
)


@st.composite
def damaged_streams(draw: st.DrawFn) -> bytes:
    """Telegrams of :data:`STREAM_TELEGRAMS`, each whole or damaged as a line damages one:
    cut short anywhere, a byte changed, a ``.`` made ``/``, a byte or a line end lost, noise
    run in; the stream opened anywhere (the port's open caught a telegram in its middle)."""
    pieces: list[bytes] = []
    for _ in range(draw(st.integers(1, 4))):
        telegram = draw(st.sampled_from(STREAM_TELEGRAMS))
        at = draw(st.integers(0, len(telegram) - 1))
        damage = draw(st.integers(0, 6))
        if damage == 1:
            telegram = telegram[:at]
        elif damage == 2:
            telegram = (
                telegram[:at]
                + bytes([telegram[at] ^ draw(st.integers(1, 255))])
                + telegram[at + 1 :]
            )
        elif damage == 3:
            telegram = telegram.replace(b".", b"/", draw(st.integers(1, 3)))
        elif damage == 4:
            telegram = telegram[:at] + telegram[at + 1 :]
        elif damage == 5:
            telegram = (
                telegram.replace(b"\n", b"", 1)
                if at % 2
                else telegram[:at] + telegram[at:].replace(b"\r\n", b"\r", 1)
            )
        elif damage == 6:
            telegram = telegram[:at] + draw(st.binary(min_size=1, max_size=12)) + telegram[at:]
        pieces.append(telegram)
    stream = b"".join(pieces)
    return stream[draw(st.integers(0, max(0, len(stream) - 1))) :]


def framer_state(framer: BlockFramer) -> tuple[object, ...]:
    """What a framer counted."""
    return (
        dict(framer.rejected),
        framer.rejections,
        framer.skipped_bytes,
        framer.overlong,
    )


@settings(max_examples=300, deadline=None)
@given(
    data=damaged_streams(),
    sizes=st.lists(st.integers(1, 90), min_size=1, max_size=12),
    bound=st.sampled_from([300, 16384]),
)
def test_damaged_real_telegrams_give_the_same_lines_and_counts_however_chunked(
    data: bytes, sizes: list[int], bound: int
) -> None:
    """Real telegrams damaged as a line damages them, the port opened anywhere: the lines and
    every counter are the same in any chunks as in one, and the framer holds at most
    ``max_block_bytes`` and one chunk (a ``/`` whose identification has not all come is
    held, and decided when its line end has come or 40 bytes have)."""
    whole = BlockFramer("dsmr", 2100, max_block_bytes=bound)
    lines = whole.feed(data)
    chunked = BlockFramer("dsmr", 2100, max_block_bytes=bound)
    got: list[bytes] = []
    at = 0
    turn = 0
    while at < len(data):
        size = sizes[turn % len(sizes)]
        got += chunked.feed(data[at : at + size])
        assert len(chunked._block) <= bound + size
        at += size
        turn += 1
    assert got == lines
    assert framer_state(chunked) == framer_state(whole)
