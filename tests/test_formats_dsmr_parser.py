"""``format = "dsmr"`` on the telegrams ndokter/dsmr_parser tests with (the telegrams and
their origin are in :mod:`harness.dsmr_parser_telegrams`): each is the bytes dsmr_parser's
tests check, and a CRC written without its leading zeros, as a heat meter's P1 link writes
it, is read when its value holds.
"""

from __future__ import annotations

import re

from harness.dsmr_parser_telegrams import TELEGRAMS, UNPADDED_CRC
from test_blocks import take
from test_formats_blocks import counts, crc16_arc, latest, runtime
from test_formats_dsmr import meter

#: A line's code (and F group) at its start.
CODE = re.compile(rb"^(\d{1,3}-\d{1,3}:\d{1,3}\.\d{1,3}\.\d{1,3}(?:\*\d{1,3})?)\(", re.MULTILINE)


def test_every_telegram_is_the_bytes_dsmr_parser_s_tests_check() -> None:
    """Each CRC holds over the bytes from ``/`` to ``!`` (the heat meter's written without its
    leading zero); the telegrams without one are DSMR 2.2 and 3 and EasyMeter's."""
    unchecked = set()
    for name, telegram in TELEGRAMS.items():
        body = telegram[: telegram.index(b"\r\n!") + 3]
        check = telegram[len(body) :].split(b"\r\n")[0]
        if check:
            assert int(check, 16) == crc16_arc(body), name
        else:
            unchecked.add(name)
    assert unchecked == {"v2_2", "v3", "esy5q3db1024", "esy5q3da1004"}


def test_a_crc_written_without_its_leading_zero_is_read() -> None:
    """The heat meter link's ``!B9F`` is 0x0B9F, which holds: the telegram is read, however
    chunked. Its digits changed (``!B9E``) or one of them lost (``!B9``, ``!9F``) fail:
    ``truncated``, as a CRC cut short is, each of its lines counted."""
    lines, counted = take("dsmr", UNPADDED_CRC)
    assert len(lines) == len(CODE.findall(UNPADDED_CRC))
    assert counted["rejected"] == {}
    for size in (1, 3, 7):
        assert take("dsmr", UNPADDED_CRC, [size]) == (lines, counted)
    for damaged in (b"!B9E", b"!B9", b"!9F"):
        _, counted = take("dsmr", UNPADDED_CRC.replace(b"!B9F", damaged))
        assert counted["rejected"] == {"truncated": len(lines)}, damaged


def test_a_heat_meter_whose_crc_has_no_leading_zero_publishes_its_reading() -> None:
    rt = runtime(meter(("heat_gj", "0-1:24.2.1")))
    rt.feed(UNPADDED_CRC + UNPADDED_CRC.replace(b"(240.860*GJ)", b"(240.861*GJ)"))
    assert latest(rt) == {"heat_gj": 240.86}  # the second's CRC fails: not read
    assert counts(rt)["errors"] == {"truncated": len(CODE.findall(UNPADDED_CRC))}
