"""A DSMR telegram's CRC line: written without its leading zeros by a meter of the other CRC,
and its line end lost before the next telegram's ``/``.

A CRC of fewer than 4 hex digits whose value holds is the CRC without its leading zeros
(ndokter/dsmr_parser's ``/NWA-WARMTELINK`` telegram, ``!B9F`` for 0x0B9F). One whose value
fails was ``truncated``, even when it holds by the other of the two CRCs a meter may write:
a Holley DTSD545's CRC-16/X-25 (ndokter/dsmr_parser issue #91) written without its leading
zero, or the heat meter link's CRC-16/ARC read with ``parse.crc = "crc16_x25"``. Such a
telegram is rejected as one of 4 digits is, as ``checksum``, saying which CRC holds and which
``parse.crc`` to set, and the hint says so once two came.

A telegram whose CRC digits came and whose CR LF was lost before the next telegram's ``/``
was ``truncated`` however its CRC stood. When the digits hold as its CRC over its bytes, the
telegram came whole but for its line end: it is read, and the next one from its ``/``. The
digits of a CRC cut short hold only when the CRC is 0 (``0`` of ``0000``), when the telegram
is whole too; a telegram damaged and cut so fails, and stays ``truncated``.

The telegrams are the real ones of ndokter/dsmr_parser's tests
(:mod:`harness.dsmr_parser_telegrams`, origins there) and the Holley DTSD545's lines of
``test_formats_dsmr_holley`` (origin there), whose telegrams here end in a CRC computed over
them: their time stamp is moved by a few seconds from the posted one (``220203113815W``) to
ones for which its CRC-16/X-25 has leading zeros, written without them as the heat meter link
writes its CRC (no public capture shows a Holley writing its CRC so; the form is the link's,
the CRC the Holley's).
"""

from __future__ import annotations

from collections.abc import Callable

from harness.dsmr_parser_telegrams import TELEGRAMS, UNPADDED_CRC
from harness.pty import PtyPair
from hypothesis import given, settings
from hypothesis import strategies as st
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


# -- the CRC line's end lost before the next telegram's '/' ----------------------------------


def crc_line(telegram: bytes) -> bytes:
    """What follows the ``!`` of ``telegram`` on its line: its CRC, or nothing."""
    return telegram[telegram.index(b"\r\n!") + 3 :].split(b"\r\n")[0]


#: The real telegrams that end in a CRC (``!6796`` and CR LF).
CHECKED = {name: t for name, t in TELEGRAMS.items() if crc_line(t)}


def crlf_lost(telegram: bytes) -> bytes:
    """``telegram`` without the CR LF after its CRC: the next telegram's ``/`` comes next."""
    assert telegram.endswith(b"\r\n")
    return telegram[:-2]


def damaged(telegram: bytes) -> bytes:
    """``telegram`` with the first digit of its first value changed, as a byte damaged on
    the line: its CRC fails."""
    at = telegram.index(b"(", telegram.index(b"\n")) + 1
    digit = telegram[at] - 0x30
    assert 0 <= digit <= 9
    return telegram[:at] + bytes([0x30 + (digit + 1) % 10]) + telegram[at + 1 :]


def test_every_checked_telegram_has_a_crc_and_a_line_of_readings() -> None:
    assert sorted(set(TELEGRAMS) - set(CHECKED)) == [
        "esy5q3da1004",
        "esy5q3db1024",
        "v2_2",
        "v3",
    ]
    for telegram in CHECKED.values():
        assert telegram.endswith(b"!" + crc_line(telegram) + b"\r\n")
        assert damaged(telegram) != telegram


def test_a_telegram_whose_crc_line_end_was_lost_is_read_with_the_next() -> None:
    """Each real telegram with a CRC, its CR LF lost, then the same telegram whole: both are
    read, nothing rejected or skipped, however chunked."""
    for name, telegram in CHECKED.items():
        data = crlf_lost(telegram) + telegram
        whole, _ = take("dsmr", telegram + telegram)
        for sizes in (None, [1], [3], [7], [len(telegram) - 3, 1]):
            lines, counted = take("dsmr", data, sizes)
            assert lines == whole, (name, sizes)
            assert counted["rejected"] == {}, (name, sizes)
            assert counted["skipped"] == 0, (name, sizes)


def test_the_heat_meter_link_s_short_crc_before_the_next_slash_is_read() -> None:
    """``!B9F`` and the next telegram's ``/``: the CRC written without its leading zero, its
    line end lost, holds: the telegram is read, and shows the link sends a CRC."""
    lines, counted = take("dsmr", crlf_lost(UNPADDED_CRC) + UNPADDED_CRC)
    assert lines == telegram_lines(UNPADDED_CRC) * 2
    assert counted["rejected"] == {}


def lf_lost(telegram: bytes) -> bytes:
    """``telegram`` without the LF after its CRC, its CR kept: one byte lost on the line."""
    assert telegram.endswith(b"\r\n")
    return telegram[:-1]


def test_a_telegram_whose_crc_line_lost_its_lf_alone_is_read_with_the_next() -> None:
    """Each real telegram with a CRC, the LF of its CRC line lost (its CR came), then the same
    telegram whole, and the heat meter link's ``!B9F`` and CR so: both read, nothing
    rejected or skipped, however chunked, as when its CR was lost too."""
    for name, telegram in {**CHECKED, "unpadded_crc": UNPADDED_CRC}.items():
        whole, _ = take("dsmr", telegram + telegram)
        for sizes in (None, [1], [3], [7], [len(telegram) - 2, 1]):
            lines, counted = take("dsmr", lf_lost(telegram) + telegram, sizes)
            assert lines == whole, (name, sizes)
            assert counted["rejected"] == {}, (name, sizes)
            assert counted["skipped"] == 0, (name, sizes)


def test_a_telegram_whose_crc_fails_and_lost_its_lf_is_checksum() -> None:
    """A damaged telegram whose CRC line came but for its LF: its CRC came whole (its CR
    ends it), so the telegram is rejected as one whose line end came: ``checksum``
    (``truncated`` for a CRC of fewer than 4 digits that fails, taken as cut short), the next
    one read; a CRC that holds by the other CRC names the key to set."""
    for name, telegram in CHECKED.items():
        lines, counted = take("dsmr", lf_lost(damaged(telegram)) + telegram)
        assert lines == telegram_lines(telegram), name
        why = "truncated" if len(crc_line(telegram)) < 4 else "checksum"
        assert counted["rejected"] == {why: len(telegram_lines(telegram))}, name
    v4_2 = CHECKED["v4_2"]
    for framer_input in (lf_lost(damaged(v4_2)) + v4_2, damaged(v4_2) + v4_2):
        framer = BlockFramer("dsmr", 2100)
        framer.feed(framer_input)
        assert framer.last_rejected("checksum")[0].startswith(
            "its CRC 6796 does not hold: its bytes give "
        )
    framer = BlockFramer("dsmr", 2100)
    assert framer.feed(lf_lost(SHORT_X25[0]) + SHORT_X25[1]) == []
    assert framer.rejected == {"checksum": 54, "syntax": 0, "truncated": 0}
    assert "set parse.crc = 'crc16_x25'" in framer.last_rejected("checksum")[0]


def test_a_telegram_cut_so_whose_crc_fails_stays_truncated() -> None:
    """A telegram damaged on the line whose CR LF was lost too: ``truncated``, as a CRC line
    cut short by the next telegram is (its digits hold nothing), the next one read."""
    for name, telegram in CHECKED.items():
        lines, counted = take("dsmr", crlf_lost(damaged(telegram)) + telegram)
        assert lines == telegram_lines(telegram), name
        assert counted["rejected"] == {"truncated": len(telegram_lines(telegram))}, name
    framer = BlockFramer("dsmr", 2100)
    v4_2 = CHECKED["v4_2"]
    framer.feed(crlf_lost(damaged(v4_2)) + v4_2)
    assert framer.last_rejected("truncated")[0] == (
        "cut short in its CRC line: the next telegram's '/' came after '!6796'"
    )


#: A telegram's CRC line end as it came: whole, its LF lost, its CR LF lost.
LOSSES: dict[str, Callable[[bytes], bytes]] = {
    "": lambda telegram: telegram,
    "lf": lf_lost,
    "crlf": crlf_lost,
}


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(sorted(CHECKED)), st.booleans(), st.sampled_from(sorted(LOSSES))),
        min_size=1,
        max_size=5,
    ),
    st.lists(st.integers(min_value=1, max_value=400), min_size=1, max_size=8),
)
def test_telegrams_with_lost_crc_line_ends_frame_the_same_however_chunked(
    run: list[tuple[str, bool, str]], sizes: list[int]
) -> None:
    """A run of real telegrams, each maybe damaged and maybe without its CRC line's CR LF or
    its LF alone (the last one sent whole: its end is known only by its line end), fed in
    chunks of any sizes: the lines of each undamaged telegram are read; a damaged one's
    lines are ``checksum`` when its line end or its CR came (``truncated`` when its CRC has
    fewer than 4 digits, as the heat meter link writes it: one that fails is taken as cut
    short) and ``truncated`` when both were lost; the same as fed in one chunk."""
    data = b""
    expected: list[bytes] = []
    rejected = {"checksum": 0, "truncated": 0}
    for k, (name, bad, loss) in enumerate(run):
        telegram = CHECKED[name]
        sent = damaged(telegram) if bad else telegram
        lost = loss if k < len(run) - 1 else ""
        data += LOSSES[lost](sent)
        if bad:  # a CRC of fewer than 4 digits that fails is taken as cut short
            short = len(crc_line(telegram)) < 4
            why = "truncated" if lost == "crlf" or short else "checksum"
            rejected[why] += len(telegram_lines(telegram))
        else:
            expected += telegram_lines(telegram)
    lines, counted = take("dsmr", data, sizes)
    assert lines == expected
    assert counted["rejected"] == {why: n for why, n in rejected.items() if n}
    assert counted["skipped"] == 0
    assert (lines, counted) == take("dsmr", data)


def test_a_meter_whose_crc_line_ends_are_lost_on_a_pty_publishes_every_telegram(
    pty_pair: PtyPair,
) -> None:
    """The Holley's telegrams in CRC-16/X-25 under ``parse.crc``, every other one's CR LF
    lost, sent on a real pty in two reads: every telegram's readings are published, and no
    parse error is counted."""
    clock = PortClock()
    body = HOLLEY_SENSOR + 'parse = { crc = "crc16_x25" }\n'
    second = HOLLEY_X25.replace(b"(000238.20*V)", b"(000238.40*V)")
    second = second[: second.index(b"\r\n!") + 3]
    second += b"%04X\r\n" % crc16_x25(second)
    data = crlf_lost(HOLLEY_X25) + crlf_lost(second) + HOLLEY_X25
    with sensor_on(pty_pair, clock, body) as opened:
        clock.now += 0.001
        send(opened, pty_pair, data[:700])
        send(opened, pty_pair, data[700:])
        snap = opened.snapshot()
        assert snap.parse_errors["checksum"] == snap.parse_errors["truncated"] == 0
        [voltage] = [ch for ch in snap.channels if ch.name == "voltage_l1_v"]
        assert voltage.stats is not None
        assert (voltage.stats.count, voltage.stats.min, voltage.stats.max) == (3, 238.2, 238.4)
        assert latest(opened)["voltage_l1_v"] == 238.2
