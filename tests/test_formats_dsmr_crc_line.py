"""A DSMR telegram's CRC line written without its leading zeros by a meter of the other CRC.

A CRC of fewer than 4 hex digits whose value holds is the CRC without its leading zeros
(ndokter/dsmr_parser's ``/NWA-WARMTELINK`` telegram, ``!B9F`` for 0x0B9F). One whose value
fails was ``truncated``, even when it holds by the other of the two CRCs a meter may write:
a Holley DTSD545's CRC-16/X-25 (ndokter/dsmr_parser issue #91) written without its leading
zero, or the heat meter link's CRC-16/ARC read with ``parse.crc = "crc16_x25"``. Such a
telegram is rejected as one of 4 digits is, as ``checksum``, saying which CRC holds and which
``parse.crc`` to set, and the hint says so once two came.

The telegrams are the real ones of ndokter/dsmr_parser's tests
(:mod:`harness.dsmr_parser_telegrams`, origins there) and the Holley DTSD545's lines of
``test_formats_dsmr_holley`` (origin there), whose telegrams here end in a CRC computed over
them: their time stamp is moved by a few seconds from the posted one (``220203113815W``) to
ones for which its CRC-16/X-25 has leading zeros, written without them as the heat meter link
writes its CRC (no public capture shows a Holley writing its CRC so; the form is the link's,
the CRC the Holley's).
"""

from __future__ import annotations

from harness.dsmr_parser_telegrams import UNPADDED_CRC
from harness.pty import PtyPair
from structlog.testing import capture_logs
from test_blocks import take, telegram_lines
from test_first_line import Clock as PortClock
from test_first_line import send
from test_first_line import sensor as sensor_on
from test_formats_blocks import latest
from test_formats_dsmr_holley import HOLLEY_SENSOR, HOLLEY_X25, X25_HINT, crc16_x25

from sensord.formats.blocks import BlockFramer
from sensord.formats.crc import crc16_arc


def holley_at(stamp: bytes) -> bytes:
    """The Holley's telegram with the time stamp ``stamp``, its CRC-16/X-25 written without
    its leading zeros."""
    body = HOLLEY_X25[: HOLLEY_X25.index(b"\r\n!") + 3].replace(b"220203113815W", stamp)
    return body + b"%X\r\n" % crc16_x25(body)


#: Two of the meter's telegrams whose CRC-16/X-25 is 0x06D1 and 0x04A1, written ``!6D1`` and
#: ``!4A1``, and one whose CRC is 0x00F0, ``!F0``.
SHORT_X25 = [holley_at(b"220203113855W"), holley_at(b"220203113940W")]
SHORTER_X25 = holley_at(b"220203113844W")

#: What the heat meter link's telegram's CRC-16/X-25 is, as a framer of it reports it.
UNPADDED_X25 = crc16_x25(UNPADDED_CRC[: UNPADDED_CRC.index(b"\r\n!") + 3])


def test_the_short_x25_telegrams_end_in_the_crc_they_are_built_for() -> None:
    assert [t[-6:] for t in SHORT_X25] == [b"!6D1\r\n", b"!4A1\r\n"]
    assert SHORTER_X25.endswith(b"!F0\r\n")
    for telegram in (*SHORT_X25, SHORTER_X25):
        body = telegram[: telegram.index(b"\r\n!") + 3]
        assert crc16_x25(body) == int(telegram[len(body) : -2], 16)
        assert crc16_arc(body) > 0xFFF  # a meter of DSMR's CRC writes 4 digits


def test_a_short_x25_crc_is_rejected_as_checksum_with_the_key_to_set() -> None:
    """Each telegram is ``checksum``, all its lines, and its rejection names the CRC that
    holds, its value with the leading zero, and the key; the hint says so once two came."""
    framer = BlockFramer("dsmr", 2100)
    assert framer.feed(SHORT_X25[0]) == []
    assert framer.rejected == {"checksum": 27, "syntax": 0, "truncated": 0}
    body = SHORT_X25[0][: SHORT_X25[0].index(b"\r\n!") + 3]
    assert framer.last_rejected("checksum")[0] == (
        f"its CRC 6D1 (06D1 without its leading zero) does not hold: its bytes give "
        f"{crc16_arc(body):04X} by CRC-16/ARC, and 06D1 by CRC-16/X-25: the meter writes "
        "CRC-16/X-25; set parse.crc = 'crc16_x25' (a Holley DTSD545 writes it, not DSMR's "
        "CRC-16/ARC)"
    )
    assert "parse.crc" not in framer.no_frame_hint(SHORT_X25[0])
    assert framer.feed(SHORT_X25[1]) == []
    assert framer.no_frame_hint(b"".join(SHORT_X25)) == X25_HINT


def test_a_crc_of_two_digits_that_holds_by_x25_is_told_too() -> None:
    framer = BlockFramer("dsmr", 2100)
    framer.feed(SHORTER_X25)
    detail = framer.last_rejected("checksum")[0]
    assert detail.startswith("its CRC F0 (00F0 without its leading zeros) does not hold")
    assert "and 00F0 by CRC-16/X-25" in detail


def test_with_parse_crc_x25_the_short_crcs_are_read_however_chunked() -> None:
    """The key the hint names reads them: their CRC holds by it."""
    data = b"".join(SHORT_X25) + SHORTER_X25
    lines, counted = take("dsmr", data, crc="crc16_x25")
    assert lines == [line for t in (*SHORT_X25, SHORTER_X25) for line in telegram_lines(t)]
    assert counted["rejected"] == {}
    for size in (1, 3, 7):
        assert take("dsmr", data, [size], crc="crc16_x25") == (lines, counted)


def test_the_heat_meter_link_read_with_parse_crc_x25_is_told_to_leave_it_out() -> None:
    """dsmr_parser's ``/NWA-WARMTELINK`` telegram, ``!B9F`` by CRC-16/ARC, under
    ``parse.crc = "crc16_x25"``: ``checksum`` (not ``truncated``), the key to leave out."""
    framer = BlockFramer("dsmr", 2100, crc="crc16_x25")
    assert framer.feed(UNPADDED_CRC * 2) == []
    assert framer.rejected["checksum"] == 2 * len(telegram_lines(UNPADDED_CRC))
    assert framer.rejected["truncated"] == 0
    assert framer.last_rejected("checksum")[0] == (
        f"its CRC B9F (0B9F without its leading zero) does not hold: its bytes give "
        f"{UNPADDED_X25:04X} by CRC-16/X-25, and 0B9F by CRC-16/ARC: the meter writes "
        "CRC-16/ARC; leave parse.crc out (DSMR's CRC-16/ARC, which this meter writes)"
    )
    assert "leave parse.crc out" in framer.no_frame_hint(UNPADDED_CRC * 2)


def test_a_short_crc_that_holds_by_neither_crc_stays_cut_short() -> None:
    """A short X-25 telegram damaged on the line (a digit of a reading changed): its CRC
    holds by neither, and it is ``truncated``, its CRC cut short for all that is known; no
    hint of another CRC."""
    damaged = SHORT_X25[0].replace(b"(0.999)", b"(0.998)")
    framer = BlockFramer("dsmr", 2100)
    framer.feed(damaged * 2)
    assert framer.rejected == {"checksum": 0, "syntax": 0, "truncated": 54}
    assert framer.last_rejected("truncated")[0] == "its CRC '6D1' is cut short"
    assert "parse.crc" not in framer.no_frame_hint(damaged * 2)


def test_a_holley_meter_with_short_crcs_on_a_pty_is_told_its_key(pty_pair: PtyPair) -> None:
    """The meter's telegrams on a real pty: nothing is read, each ``frame rejected`` warning
    names the CRC that holds and the key, and once the sensor is stale its hint (``/status``)
    says to set ``parse.crc``."""
    clock = PortClock()
    body = HOLLEY_SENSOR + "stale_after_s = 2\n"
    with capture_logs() as logs, sensor_on(pty_pair, clock, body) as opened:
        clock.now += 0.001
        for telegram in SHORT_X25:
            send(opened, pty_pair, telegram)
        clock.now += 3.0
        opened.tick(clock.now)
        assert opened.state == "stale"
        assert opened.snapshot().hint == X25_HINT
        assert latest(opened) == {}
        assert opened.snapshot().parse_errors["checksum"] == 54
    [rejected] = [entry for entry in logs if entry["event"] == "frame rejected"]
    assert rejected["reason"] == "checksum"
    assert "and 06D1 by CRC-16/X-25" in rejected["detail"]
    assert "set parse.crc = 'crc16_x25'" in rejected["detail"]
