"""``format = "dsmr"`` on the telegrams ndokter/dsmr_parser tests with (the telegrams and
their origin are in :mod:`harness.dsmr_parser_telegrams`): each is the bytes dsmr_parser's
tests check, and a CRC written without its leading zeros, as a heat meter's P1 link writes
it, is read when its value holds; a firmware's version or signature, text, is refused at
``check``; a status word, ``1-0:96.5.5*255(80)``, is read as the byte its hex digits write.
"""

from __future__ import annotations

import re

import pytest
from harness.dsmr_parser_telegrams import ESO_MAX_3PH, ESY5Q3DA1004, TELEGRAMS, UNPADDED_CRC
from structlog.testing import capture_logs
from test_blocks import take
from test_formats_blocks import counts, crc16_arc, latest, runtime
from test_formats_dsmr import meter

from sensord.formats import codec_for
from sensord.formats.base import FormatSpec

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


@pytest.mark.parametrize(
    ("field", "line"),
    [
        ("1-0:0.2.0", b"1-0:0.2.0(02.21)"),  # a Lithuanian ESO meter's, dsmr_parser's "02.21"
        ("1-1:0.2.0", b"1-1:0.2.0(03.02)"),
        ("1-0:0.2.8", b"1-0:0.2.8(1EA43311)"),  # its signature, "1EA43311"
        ("1-0:0.2.0*255", b"1-0:0.2.0*255(ver.03,432F,20170504)"),  # an EasyMeter's
    ],
)
def test_a_firmware_s_version_or_signature_is_refused_not_read(field: str, line: bytes) -> None:
    """``1-0:0.2.0(02.21)`` would read as 2.21 and ``(1EA43311)`` as ``syntax`` on every
    telegram: ``check`` refuses the field, saying what it is; DSMR's own version
    ``1-3:0.2.8`` stays a number."""
    problems = codec_for("dsmr").check(FormatSpec("dsmr", (("x", field),)))
    assert problems == [
        (
            "channels[0].field",
            f"{field!r} is a firmware's version, id or signature: text, which no channel reads "
            "(a channel's value is a number)",
        )
    ]
    assert line.startswith(field.encode())
    assert codec_for("dsmr").check(FormatSpec("dsmr", (("x", "1-3:0.2.8"),))) == []


def test_the_eso_meter_s_firmware_lines_cost_none_of_its_readings() -> None:
    """The lines of a firmware's version and signature, which no channel reads, are ignored
    frames: the readings beside them are all read."""
    rt = runtime(meter(("v", "1-0:72.38.0"), ("sags", "1-0:32.32.0")))
    rt.feed(ESO_MAX_3PH)
    assert latest(rt) == {"v": 256.0, "sags": 45.0}
    assert counts(rt)["errors"] == {}


@pytest.mark.parametrize(
    ("value", "byte"),
    [(b"80", 0x80), (b"82", 0x82), (b"00", 0), (b"A0", 0xA0), (b"a1", 0xA1)],
)
def test_a_status_word_is_read_as_the_byte_its_hex_digits_write(value: bytes, byte: int) -> None:
    """EasyMeter's ``1-0:96.5.5*255(80)`` is a byte of flags (start-up, a phase's outage, an
    error) that the Voltcraft VSM-102's manual (manualshelf.com, its page 31, the same
    telegram's codes) says is "defined as one byte and transmitted in hexadecimal
    presentation": 80 is 128; 82, as EMH and Hager eHZ meters write it in public readers'
    test data, is 130; lower-case digits are read too."""
    telegram = ESY5Q3DA1004.replace(b"96.5.5*255(80)", b"96.5.5*255(" + value + b")")
    rt = runtime(meter(("status", "1-0:96.5.5"), ("kwh", "1-0:1.8.0")))
    rt.feed(telegram)
    assert latest(rt) == {"status": float(byte), "kwh": 32549.5061662}
    assert counts(rt)["errors"] == {}


def test_a_status_word_that_is_no_hex_is_syntax_and_the_telegram_s_rest_is_read() -> None:
    """A status of a letter that is no hex digit (``(q)``, as one eHZ reader's test data has
    it) is no byte: ``syntax``, logged, the energy beside it kept."""
    telegram = ESY5Q3DA1004.replace(b"96.5.5*255(80)", b"96.5.5*255(q)")
    rt = runtime(meter(("status", "1-0:96.5.5*255"), ("kwh", "1-0:1.8.0*255")))
    with capture_logs() as logs:
        rt.feed(telegram)
    assert latest(rt) == {"kwh": 32549.5061662}
    assert counts(rt)["errors"] == {"syntax": 1}
    assert any("'q' is no status word in hex" in str(entry.get("detail")) for entry in logs)


def test_a_simulated_status_word_reads_back() -> None:
    """The simulator writes a status word as the meter does, two hex digits."""
    spec = FormatSpec("dsmr", (("status", "1-0:96.5.5*255"),))
    codec = codec_for("dsmr")
    [line] = codec.encoder(spec)({"1-0:96.5.5*255": 130.0}, 0.0)
    assert line == b"1-0:96.5.5*255(82)"
    assert codec.decoder(spec)(line) == [("status", 130.0)]
