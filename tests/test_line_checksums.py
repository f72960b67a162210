"""``parse.checksum``: a checksum at the end of each line, checked before the line is read and
taken off it (``sensord.formats.line_checksums``).

Where the lines come from:

* SDI-12's CRC: the SDI-12 specification 1.4, section 4.4.12.3, prints the replies ``0+3.14OqZ``,
  ``0+3.14+2.718+1.414Ipz``, ``0+1.11+2.22+3.33+4.44+5.55+6.66I]q`` and ``0+7.77+8.88+9.99IvW``
  (two ``aD`` replies of one measurement) and ``0+3.14+2.718IWO``, and section 4.4.8.1 the
  address alone with its CRC, ``0AP@``; Vaisala's WMT700 User Guide (M211095EN-H, SDI-12
  ``aMC!``) the reply ``1+2.7+85.2-0.2-2.7+770.5CAH``; Vaisala's WXT530 User Guide
  (M211840EN, "Polling with CRC") the commands with their CRC ``0r1Goe``, ``0r2Gje``,
  ``0r3Kid``, ``0r5Kcd``, ``0r0Kld`` and ``0rBVT``, and the reply to a wrong CRC
  ``0tX,Use chksum GoeIU~`` (whose own CRC covers the ``Goe`` it quotes). CRC-16/ARC's
  catalogued check value, 0xBB3D for ``123456789``, encodes as ``Kl}``.
* NMEA's XOR: the GGA sentence of the NMEA 0183 primers (``*47``; Dale DePriest's "NMEA
  data" page), Garmin's ``$PGRME`` (estimated position errors in metres) and an AIS
  ``!AIVDM`` sentence, the fixtures of ``tests/test_formats.py``, whose checksums are verified.
* R. M. Young's ASCII output (85000-90 manual, section 5.3.2: ``a www.w ddd ss*cc`` and CR,
  "the exclusive-or of all characters up to the asterisk"): the lines are built by that rule
  with :func:`reference_xor`, as the manual prints no line with its checksum.
"""

from __future__ import annotations

import operator
import re
import time
import tomllib
from collections.abc import Callable
from functools import reduce
from typing import Any

import pytest
from harness.common import wait_for
from harness.config import Outcome, decoded_frames, load_sensors
from harness.daemon import StartDaemon
from harness.pty import PtyPair
from harness.wire import uart_received
from hypothesis import given, settings
from hypothesis import strategies as st
from test_formats_blocks import README, readme_toml_blocks
from test_stale_hints import Clock, deliver

from sensord.cli import main
from sensord.config import Config
from sensord.config_sensor import SensorConfig
from sensord.errors import PARSE_ERROR_REASONS, ParseError
from sensord.formats import codec_for
from sensord.formats.base import FormatSpec, checking
from sensord.formats.line_checksums import (
    LINE_CHECKSUMS,
    checked_line,
    checked_slowly,
    holding_kind,
    sdi12_crc,
    seal,
    xor8,
)
from sensord.sensor import SensorRuntime
from sensord.signals import SimulationSpec
from sensord.sources.simulated import SimulatedDevice

SDI12_SPEC = [
    b"0+3.14OqZ",
    b"0+3.14+2.718+1.414Ipz",
    b"0+1.11+2.22+3.33+4.44+5.55+6.66I]q",
    b"0+7.77+8.88+9.99IvW",
    b"0+3.14+2.718IWO",
    b"0AP@",
]
WMT700_SDI12 = b"1+2.7+85.2-0.2-2.7+770.5CAH"
WXT530_COMMANDS = [b"0r1Goe", b"0r2Gje", b"0r3Kid", b"0r5Kcd", b"0r0Kld", b"0rBVT"]
WXT530_WRONG_CRC = b"0tX,Use chksum GoeIU~"

GGA = b"$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47"
PGRME = b"$PGRME,15.0,M,45.0,M,25.0,M*1C"
AIS = b"!AIVDM,1,1,,B,177KQJ5000G?tO`K>RA1wUbN0TKH,0*5C"


def reference_xor(data: bytes) -> int:
    """The XOR of the bytes of ``data``, one at a time."""
    return reduce(operator.xor, data, 0)


def reference_sdi12(data: bytes) -> bytes:
    """SDI-12 1.4 section 4.4.12.1 and 4.4.12.2 as written: the CRC bit by bit (initial value
    0, each byte XORed in low, shifted right eight times, XORed with 0xA001 after each shift
    that drops a 1), then 6 bits a character ORed with 0x40."""
    crc = 0
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return bytes((0x40 | crc >> 12, 0x40 | (crc >> 6) & 0x3F, 0x40 | crc & 0x3F))


def line_check(kind: str) -> Callable[[bytes], bytes]:
    """The check of ``kind`` as the sensor's decoder makes it: the line without its checksum,
    or the ParseError of why its check fails."""
    checked = checked_line(kind)

    def check(frame: bytes) -> bytes:
        line = checked(frame)
        return line if line is not None else checked_slowly(kind, frame)

    return check


def rmy(line: bytes) -> bytes:
    """An R. M. Young ASCII line with its checksum, by the manual's rule."""
    return line + b"*%02X" % reference_xor(line)


# -- the kinds on published lines -----------------------------------------------------------------


@pytest.mark.parametrize("line", [*SDI12_SPEC, WMT700_SDI12, *WXT530_COMMANDS, WXT530_WRONG_CRC])
def test_the_sdi12_crc_of_published_lines_holds_and_is_taken_off(line: bytes) -> None:
    assert line_check("sdi12")(line) == line[:-3]
    assert sdi12_crc(line[:-3]) == reference_sdi12(line[:-3]) == line[-3:]
    assert seal("sdi12", line[:-3]) == line


def test_the_sdi12_crc_is_crc16_arc_with_its_check_value() -> None:
    assert sdi12_crc(b"123456789") == b"Kl}"  # 0xBB3D: 0x4B, 0x40 | 0x2C, 0x40 | 0x3D


@pytest.mark.parametrize("line", [GGA, PGRME, AIS])
def test_an_nmea_checksum_covers_the_bytes_between_the_start_character_and_the_star(
    line: bytes,
) -> None:
    assert line_check("nmea")(line) == line[:-3]
    assert seal("nmea", line[:-3]) == line
    with pytest.raises(ParseError) as raised:
        line_check("xor")(line)  # the '$' is not XORed: as 'xor' has it, the check fails
    assert raised.value.reason == "checksum"
    assert "parse.checksum = 'nmea'" in raised.value.detail


def test_an_rmy_checksum_covers_the_line_from_its_first_byte() -> None:
    line = rmy(b"0 003.6 327 00")
    assert line == b"0 003.6 327 00*0D"
    assert line_check("xor")(line) == b"0 003.6 327 00"
    assert seal("xor", b"0 003.6 327 00") == line
    with pytest.raises(ParseError) as raised:
        line_check("nmea")(line)
    assert (raised.value.reason, raised.value.detail) == (
        "checksum",
        "no '$' or '!' at the start of the line; its checksum holds as parse.checksum = "
        "'xor' has it",
    )


@pytest.mark.parametrize(
    ("kind", "line", "reason"),
    [
        ("sdi12", b"0+3.15OqZ", "checksum"),  # a digit changed on the bus
        ("sdi12", b"0+3.14OqY", "checksum"),  # a CRC character changed
        ("sdi12", b"0+3.14", "no_checksum"),  # asked with aM!, not aMC!
        ("sdi12", b"00013", "no_checksum"),  # the atttn reply carries none
        ("sdi12", b"OqZ", "no_checksum"),  # a CRC of no line
        ("sdi12", b"0+3.14Oq", "truncated"),  # its CRC's last character lost
        ("sdi12", b"0+3.1Oq", "no_checksum"),  # two letters, not the CRC of what they end
        ("xor", b"0 003.7 327 00*0D", "checksum"),
        ("xor", b"0 003.6 327 00*0d", None),  # lower case hex
        ("xor", b"0 003.6 327 00", "no_checksum"),
        ("xor", b"0 003.6 327 00*0", "truncated"),  # cut within its checksum
        ("xor", b"0 003.6 327 00*", "truncated"),
        ("xor", b"0 003.6 327 00*0G", "syntax"),
        ("nmea", PGRME.replace(b"15.0", b"16.0"), "checksum"),
        ("nmea", b"%" + PGRME[1:], "syntax"),  # its '$' changed: no start character
        ("nmea", PGRME[1:], "checksum"),  # its '$' lost: the XOR of the whole line holds
        ("nmea", PGRME[:-2], "truncated"),
        ("nmea", PGRME[:-3], "no_checksum"),
    ],
)
def test_a_line_whose_check_fails_is_rejected_by_reason(
    kind: str, line: bytes, reason: str | None
) -> None:
    check = line_check(kind)
    if reason is None:
        assert check(line) == line[:-3]
        return
    with pytest.raises(ParseError) as raised:
        check(line)
    assert raised.value.reason == reason


@pytest.mark.parametrize("kind", LINE_CHECKSUMS)
def test_the_line_ends_the_terminator_left_are_no_part_of_the_line(kind: str) -> None:
    """A line read with ``terminator = "\\r"`` from a device that ends its lines CR LF keeps
    the LF at its start; one read with ``"\\n"`` from a device that ends them LF CR, the CR."""
    line = seal(kind, b"$SD,1.5" if kind == "nmea" else b"0+1.5")
    for framed in (b"\n" + line, line + b"\r", b"\r" + line + b"\r"):
        assert line_check(kind)(framed) == line[:-3]


@pytest.mark.parametrize("kind", LINE_CHECKSUMS)
def test_spaces_and_tabs_after_the_checksum_are_no_part_of_the_line(kind: str) -> None:
    """A device that pads its lines with spaces (or a tab) after the checksum: the line is
    checked and read as without them, as ``format = "nmea"`` reads a sentence so padded; a
    line so padded whose check fails is told by why it fails, not as one without checksum."""
    line = seal(kind, b"$SD,1.5" if kind == "nmea" else b"0+1.5")
    for framed in (line + b" ", line + b"   ", line + b"\t", line + b" \r", b"\n" + line + b" "):
        assert line_check(kind)(framed) == line[:-3]
    damaged = line.replace(b"1.5", b"1.6")
    with pytest.raises(ParseError) as raised:
        line_check(kind)(damaged + b"  ")
    assert raised.value.reason == "checksum"


@pytest.mark.parametrize("kind", LINE_CHECKSUMS)
def test_nul_padding_after_the_checksum_is_no_part_of_the_line(kind: str) -> None:
    """NULs after the checksum (a serial line's fill characters, which ``format = "nmea"``
    drops too) are padding as spaces are: the line is read, where it was rejected as
    ``encoding`` (a NUL is no text) though its check holds."""
    sensor = load_sensors(
        {
            "name": "padded",
            "port": "sim://padded",
            "format": "csv",
            "parse": {"checksum": kind},
            "channels": [{"name": "v", "field": "1"}],
        }
    ).sensors[0]
    line = seal(kind, b"$SD,1.5" if kind == "nmea" else b"0,1.5")
    assert decoded_frames(sensor, line + b"\x00\r\n" + line + b"\x00\x00 \x00\r\n") == [
        [("v", 1.5)],
        [("v", 1.5)],
    ]
    damaged = line.replace(b"1.5", b"1.6")
    assert decoded_frames(sensor, damaged + b"\x00\r\n") == [("checksum", [])]


@pytest.mark.parametrize(
    ("after", "shown"), [(b"\x03", "'\\x03'"), (b" OK", "' OK'"), (b"X", "'X'")]
)
def test_other_bytes_after_the_checksum_are_named_in_the_rejection(
    after: bytes, shown: str
) -> None:
    """A ``*hh`` followed by more than padding (an ETX, a token) leaves the line without a
    checksum at its end; the detail names the ``*hh`` and what follows it, which "no '*hh' at
    the end of the line" alone hides from an operator who sees the device send one."""
    line = rmy(b"0 003.6 327 00")
    with pytest.raises(ParseError) as raised:
        line_check("xor")(line + after)
    assert (raised.value.reason, raised.value.detail) == (
        "no_checksum",
        f"no '*hh' at the end of the line; {line[-3:].decode()!r} is followed by {shown}, "
        "where only the line end, spaces, tabs or NULs may follow a checksum",
    )
    with pytest.raises(ParseError) as plain:
        line_check("xor")(b"0 003.6 327 00")
    assert plain.value.detail == "no '*hh' at the end of the line"


@pytest.mark.parametrize(
    ("line", "shown"), [(b"*00", "'*00'"), (b"*4F", "'*4F'"), (b"\n*00\r", "'*00'")]
)
def test_a_line_that_is_only_its_checksum_is_syntax_not_a_mismatch(line: bytes, shown: str) -> None:
    """``*hh`` alone (its line lost, or a device's empty record): no line to read, told as
    such, where a mismatch was said even of ``*00``, the XOR of no bytes."""
    with pytest.raises(ParseError) as raised:
        line_check("xor")(line)
    assert (raised.value.reason, raised.value.detail) == (
        "syntax",
        f"no line before its checksum {shown}",
    )


def test_a_line_with_the_checksum_of_another_kind_names_it() -> None:
    with pytest.raises(ParseError) as raised:
        line_check("sdi12")(rmy(b"0 003.6 327 00"))
    assert raised.value.reason == "no_checksum"
    assert raised.value.detail.endswith("its checksum holds as parse.checksum = 'xor' has it")
    assert holding_kind(b"0+3.14OqZ") == "sdi12"
    assert holding_kind(PGRME) == "nmea"
    assert holding_kind(b"0+3.14") is None


# -- the implementations against straightforward ones ---------------------------------------------


@settings(max_examples=500, deadline=None)
@given(data=st.one_of(st.binary(max_size=100), st.binary(min_size=200, max_size=1200)))
def test_xor8_is_the_xor_of_the_bytes(data: bytes) -> None:
    """Short lines by a loop, longer ones by bit counts, the longest in pieces: all the
    XOR a byte at a time gives."""
    assert xor8(data) == reference_xor(data)


@settings(max_examples=300, deadline=None)
@given(data=st.binary(max_size=300))
def test_the_sdi12_crc_is_the_specification_s_bit_by_bit(data: bytes) -> None:
    assert sdi12_crc(data) == reference_sdi12(data)


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(LINE_CHECKSUMS),
    body=st.binary(min_size=1, max_size=120).filter(lambda b: b"\r" not in b and b"\n" not in b),
)
def test_a_sealed_line_checks_and_any_one_byte_changed_before_its_checksum_does_not(
    kind: str, body: bytes
) -> None:
    line = seal(kind, b"$" + body if kind == "nmea" else body)
    check = line_check(kind)
    assert check(line) == line[:-3]
    start = 1 if kind == "nmea" else 0
    for at in range(start, len(line) - 3):
        for flip in (0x01, 0x20, 0x80):
            changed = bytearray(line)
            changed[at] ^= flip
            if bytes(changed).strip(b"\r\n") != bytes(changed):
                continue  # a line end made of it: the line is another
            with pytest.raises(ParseError):
                check(bytes(changed))


# -- through the sensor's framer and decoder ------------------------------------------------------

#: The README's Vaisala WXT520/530 whose heater's status letters are its own units.
WXT_PLAIN: dict[str, Any] = {
    **tomllib.loads(next(b for b in readme_toml_blocks() if "heater_volts" in b))["sensors"][0],
    "port": "sim://wxt",
}
#: The same, polled with CRC (0r0Kld): its composite message with its CRC.
WXT: dict[str, Any] = {**WXT_PLAIN, "parse": {**WXT_PLAIN["parse"], "checksum": "sdi12"}}
#: Garmin's PGRME read as csv: its three position errors, checked as NMEA.
PGRME_TABLE: dict[str, Any] = {
    "name": "errors",
    "port": "sim://gps",
    "format": "csv",
    "parse": {"checksum": "nmea"},
    "channels": [
        {"name": "hpe_m", "field": "1"},
        {"name": "vpe_m", "field": "3"},
        {"name": "epe_m", "field": "5"},
    ],
}


def decoded(table: dict[str, Any], data: bytes) -> list[Outcome]:
    """Each line of ``data`` through the framer and decoder the daemon builds for ``table``:
    its readings, or the reason it failed and the readings kept."""
    return decoded_frames(load_sensors(table).sensors[0], data)


def test_a_wxt_polled_with_crc_reads_its_message_as_without_the_crc() -> None:
    message = b"0R0,Dm=027D,Sm=0.1M,Ta=23.6C,Ua=14.2P,Pa=1026.6H,Th=23.8C,Vh=12.0N"
    plain = WXT_PLAIN
    [read] = decoded(plain, message + b"\r\n")
    assert decoded(WXT, message + sdi12_crc(message) + b"\r\n") == [read]
    assert read == [
        ("air_temperature_celsius", 23.6),
        ("pressure_hpa", 1026.6),
        ("heater_volts", 12.0),
    ]
    # without the CRC key, the CRC is read as the last value's unit
    [(reason, kept)] = decoded(plain, message + sdi12_crc(message) + b"\r\n")
    assert reason == "invalid"
    assert ("heater_volts", 12.0) not in kept
    assert decoded(WXT, message + b"\r\n") == [("no_checksum", [])]


def test_a_proprietary_nmea_sentence_read_as_csv_is_checked() -> None:
    assert decoded(PGRME_TABLE, PGRME + b"\r\n" + PGRME.replace(b"45.0", b"46.0") + b"\r\n") == [
        [("hpe_m", 15.0), ("vpe_m", 45.0), ("epe_m", 25.0)],
        ("checksum", []),
    ]


# -- good lines with damaged ones among them ------------------------------------------------------

#: A sensor of one value per line with each kind of checksum.
STREAMED: dict[str, dict[str, Any]] = {
    kind: {
        "name": f"value_{kind}",
        "port": "sim://s",
        "format": "value",
        "parse": {"checksum": kind},
        "channels": [{"name": "v"}],
    }
    for kind in ("xor", "sdi12")
} | {
    "nmea": {
        "name": "value_nmea",
        "port": "sim://s",
        "format": "value",
        "parse": {"checksum": "nmea", "pattern": r"^\$SDVAL,(\S+)$", "example": "$SDVAL,1.500"},
        "channels": [{"name": "v"}],
    }
}


def good_line(kind: str, value: float) -> bytes:
    text = f"{value:.3f}".encode()
    return seal(kind, b"$SDVAL," + text if kind == "nmea" else text)


@st.composite
def streams(draw: st.DrawFn) -> tuple[str, list[float], bytes, int]:
    """A kind, the values of its good lines, the stream (good lines and damaged ones in any
    order, each ended CR LF) and how many damaged lines it holds."""
    kind = draw(st.sampled_from(LINE_CHECKSUMS))
    values: list[float] = []
    pieces: list[bytes] = []
    damaged = 0
    for _ in range(draw(st.integers(0, 25))):
        value = draw(st.integers(-99999, 99999)) / 1000
        line = good_line(kind, value)
        what = draw(st.integers(0, 4))
        if what == 0:  # a byte before its checksum changed (never into a line end)
            start = 1 if kind == "nmea" else 0
            at = draw(st.integers(start, len(line) - 4))
            byte = draw(st.sampled_from([b for b in range(1, 256) if b not in (13, 10, line[at])]))
            line = line[:at] + bytes([byte]) + line[at + 1 :]
        elif what == 1:  # cut short, its end lost
            line = line[: draw(st.integers(1, len(line) - 1))]
        elif what == 2:  # without its checksum
            line = line[:-3]
        elif what == 3:  # noise: bytes that are no UTF-8
            line = (
                draw(st.binary(min_size=1, max_size=20)).replace(b"\r", b"").replace(b"\n", b"")
                + b"\xff"
            )
        else:
            values.append(value)
            pieces.append(line + b"\r\n")
            continue
        damaged += 1
        pieces.append(line + b"\r\n")
    return kind, values, b"".join(pieces), damaged


@settings(max_examples=300, deadline=None)
@given(stream=streams())
def test_the_good_lines_among_damaged_ones_give_exactly_their_values(
    stream: tuple[str, list[float], bytes, int],
) -> None:
    kind, values, data, damaged = stream
    outcomes = decoded(STREAMED[kind], data)
    read = [pairs[0][1] for pairs in outcomes if isinstance(pairs, list)]
    assert read == values
    rejected = [reason for reason, _ in (o for o in outcomes if isinstance(o, tuple))]
    assert len(rejected) == damaged
    assert set(rejected) <= {"checksum", "no_checksum", "truncated", "syntax", "encoding"}


#: A weather transmitter's lines of two pairs, each ended in its XOR (``xor``), CR LF.
CLIMATE_XOR: dict[str, Any] = {
    "name": "climate",
    "port": "sim://climate",
    "format": "kv",
    "stale_after_s": 2,
    "parse": {"checksum": "xor"},
    "channels": [{"name": "t", "field": "T"}, {"name": "rh", "field": "RH"}],
}


def test_lines_that_are_no_text_and_end_in_no_checksum_are_encoding_as_without_the_key() -> None:
    """A device at 19200 baud read at 9600 sends garbage that holds line ends and no
    ``*hh``: each line is rejected as ``encoding``, as the format rejects it without
    ``parse.checksum``, not as a line the device sends without its checksum; so is a line
    cut short by a NUL (a device that lost power). A damaged line whose checksum is there
    is still ``checksum``."""
    good = seal("xor", b"T=21.5,RH=40.2") + b"\r\n"
    garbage = uart_received(good * 40, 19200, 9600, gap_chars=0.3)
    outcomes = decoded(CLIMATE_XOR, garbage)
    assert outcomes
    assert {o[0] for o in outcomes if isinstance(o, tuple)} == {"encoding"}
    plain = {**CLIMATE_XOR, "parse": {}}
    assert [o[0] for o in decoded(plain, garbage) if isinstance(o, tuple)] == [
        o[0] for o in outcomes if isinstance(o, tuple)
    ]
    assert decoded(
        CLIMATE_XOR,
        b"T=21.5,RH=4\x00\r\n" + good.replace(b"21.5", b"2\xff.5") + b"\xff\xfe\r\n" + good,
    ) == [("encoding", []), ("checksum", []), ("encoding", []), [("t", 21.5), ("rh", 40.2)]]


def test_a_device_at_another_baud_rate_with_checksum_is_pointed_at_the_serial_settings() -> None:
    """The ``/status`` hint of a sensor with ``parse.checksum`` whose every line is garbage
    of a wrong line speed names the serial settings, not the device's output mode."""
    good = seal("xor", b"T=21.5,RH=40.2") + b"\r\n"
    garbage = uart_received(good * 4, 19200, 9600, gap_chars=0.3)
    assert b"\n" in garbage
    clock = Clock()
    with PtyPair() as pair:
        config = load_sensors({**CLIMATE_XOR, "port": pair.path}).sensors[0]
        runtime = SensorRuntime(config, clock=clock, wall_clock=clock)
        assert runtime.try_open()
        try:
            for _ in range(5):
                clock.now += 1.0
                deliver(runtime, pair, garbage)
                runtime.tick(clock.now)
            hint = runtime.snapshot().hint
        finally:
            runtime.stop()
    assert hint is not None
    assert hint.startswith("frames come, but every one is rejected (encoding "), hint
    assert hint.endswith(
        "so no reading: check the serial settings (baudrate, bytesize, parity, stopbits) "
        "against the device's, or line noise (RS-485: A and B swapped, termination)"
    )


# -- what it costs, and what the sensor builds ----------------------------------------------------


def test_a_sensor_without_checksum_gets_the_format_s_decoder_itself() -> None:
    spec = FormatSpec("value", (("v", "v"),))
    decode = codec_for("value").decoder(spec)
    assert checking(spec, decode) is decode
    batch = codec_for("value").batch_decoder
    assert batch is not None
    assert batch(spec) is not None
    assert batch(FormatSpec("value", (("v", "v"),), checksum="xor")) is None


def test_no_checksum_is_a_reason_of_the_metric() -> None:
    assert "no_checksum" in PARSE_ERROR_REASONS


# -- the configuration ---------------------------------------------------------------------------


def load_errors(table: dict[str, Any]) -> list[str]:
    errors: list[str] = []
    assert Config.load({"sensors": [table]}, "", errors) is None
    return errors


def test_an_unknown_kind_is_refused_with_the_closest() -> None:
    table = {**STREAMED["xor"], "parse": {"checksum": "xro"}}
    assert load_errors(table) == [
        "sensors[0].parse.checksum: must be one of 'nmea', 'xor', 'sdi12', got 'xro'; "
        "did you mean 'xor'?"
    ]
    table["parse"]["checksum"] = "SDI-12"
    assert load_errors(table)[0].endswith("did you mean 'sdi12'?")


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            {**STREAMED["xor"], "parse": {"checksum": "xor", "block": "gill"}},
            "sensors[0].parse.checksum: checks a checksum at the end of each line, and "
            "parse.block = 'gill' one over each whole block: a device sends one or the other "
            "(a Gill anemometer's XOR after ETX is parse.block = 'gill'); leave one out",
        ),
        (
            {
                "name": "gps",
                "port": "sim://gps",
                "format": "nmea",
                "parse": {"checksum": "nmea"},
                "channels": [{"name": "lat", "field": "GGA.lat"}],
            },
            "sensors[0].parse.checksum: format 'nmea' checks each sentence's '*hh' itself: "
            "leave parse.checksum out",
        ),
        (
            {
                "name": "pms",
                "port": "sim://pms",
                "preset": "pms5003",
                "parse": {"checksum": "xor"},
            },
            "sensors[0].parse.checksum: a binary frame's checksum is frame.checksum (or its "
            "preset's): leave parse.checksum out",
        ),
        (
            {
                "name": "meter",
                "port": "sim://meter",
                "format": "modbus",
                "modbus": {"unit": 1},
                "registers": [{"name": "v", "table": "input", "address": 0}],
                "parse": {"checksum": "sdi12"},
                "channels": [{"name": "v"}],
            },
            "sensors[0].parse.checksum: a Modbus RTU frame's CRC is always checked: leave "
            "parse.checksum out",
        ),
        (
            {
                **STREAMED["nmea"],
                "parse": {**STREAMED["nmea"]["parse"], "example": "$SDVAL,1.500*4A"},
            },
            "sensors[0].parse.example: '$SDVAL,1.500*4A' ends in its checksum, which each "
            "line loses before parse.pattern reads it: give the line without it "
            "('$SDVAL,1.500'); the simulator appends it",
        ),
        (
            {**STREAMED["nmea"], "parse": {"checksum": "nmea"}},
            "sensors[0].parse.checksum: 'nmea' reads lines that begin with '$' or '!', and "
            "without parse.pattern a line is a bare number: give the pattern that finds the "
            "number in the line",
        ),
        (
            {
                **STREAMED["nmea"],
                "parse": {**STREAMED["nmea"]["parse"], "example": "SDVAL,1.500"},
            },
            "sensors[0].parse.example: 'SDVAL,1.500': a line of parse.checksum = 'nmea' "
            "begins with '$' or '!'",
        ),
        (
            {**PGRME_TABLE, "channels": [{"name": "talker", "field": "0"}]},
            "sensors[0].channels[0].field: with parse.checksum = 'nmea' cell 0 is the '$' and "
            "the line's address ($PAMWV), no value",
        ),
        (
            {
                "name": "p1",
                "port": "sim://p1",
                "format": "dsmr",
                "parse": {"checksum": "xor"},
                "channels": [{"name": "kwh", "field": "1-0:1.8.1"}],
            },
            "sensors[0].parse.checksum: format 'dsmr' checks each telegram's CRC itself: leave "
            "parse.checksum out",
        ),
        (
            {
                **PGRME_TABLE,
                "parse": {"checksum": "nmea", "columns": ["id", "hpe"], "header": True},
                "channels": [{"name": "hpe_m", "field": "hpe"}],
            },
            "sensors[0].parse.header: is not read with parse.checksum = 'nmea', whose every "
            "line begins with '$' and an address",
        ),
        (
            # reads a line's digits and separators from their ASCII bytes, but not '%', which
            # a checked line may hold (a utf-16 encoding is refused by parse.encoding already)
            {**STREAMED["xor"], "parse": {"checksum": "xor", "encoding": "cp864"}},
            "sensors[0].parse.checksum: is checked on the line's bytes as ASCII ('*', hex "
            "digits, SDI-12's CRC characters), which encoding 'cp864' does not write one "
            "byte each: no line would pass it",
        ),
    ],
    ids=[
        "block",
        "nmea",
        "frames",
        "modbus",
        "example",
        "bare",
        "start",
        "cell0",
        "dsmr",
        "header",
        "encoding",
    ],
)
def test_a_combination_that_makes_no_sense_is_refused(table: dict[str, Any], message: str) -> None:
    assert message in load_errors(table)


def csv_logger(kind: str, columns: list[str], ignore: list[str]) -> SensorConfig:
    """A csv logger with a header line, whose lines end in a checksum of ``kind``."""
    return load_sensors(
        {
            "name": "logger",
            "port": "sim://logger",
            "format": "csv",
            "parse": {"checksum": kind, "columns": columns, "header": True, "ignore": ignore},
            "channels": [{"name": "t", "field": columns[1]}, {"name": "rh", "field": columns[2]}],
        }
    ).sensors[0]


@pytest.mark.parametrize("ignore", [[], ["^#"]], ids=["plain", "ignore"])
@pytest.mark.parametrize("kind", ["xor", "sdi12"])
def test_a_csv_header_line_without_a_checksum_is_read_as_the_header(
    kind: str, ignore: list[str]
) -> None:
    """A csv device that sends its column names without the checksum of its records: the
    header line is no record, and is read as the header as a sealed one is, not rejected on
    every connect. A record without its checksum still is, and so are a line of the header's
    names with another cell (no header) and a sealed header damaged."""
    sensor = csv_logger(kind, ["time", "t", "rh"], ignore)
    header = b"time,t,rh"
    sent = [header, b"time, t, rh,", seal(kind, header), seal(kind, b"12:00,21.5,40")]
    sent += [
        b"12:00,21.5,40",
        b"time,t,rh,x",
        seal(kind, b"time,t,rH")[:-3] + seal(kind, header)[-3:],
    ]
    assert decoded_frames(sensor, b"".join(line + b"\r\n" for line in sent)) == [
        [],
        [],
        [],
        [("t", 21.5), ("rh", 40.0)],
        ("no_checksum", []),
        ("no_checksum", []),
        ("checksum", []),
    ]
    # an SDI-12 header whose last three characters could be a CRC (HUM: @ to O, then @ to DEL)
    upper = csv_logger(kind, ["time", "T", "HUM"], ignore)
    assert decoded_frames(upper, b"time,T,HUM\r\n") == [[]]


# -- the simulator -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "table",
    [
        WXT,
        PGRME_TABLE,
        STREAMED["nmea"],
        {
            "name": "kv_nmea",
            "port": "sim://k",
            "format": "kv",
            "parse": {"checksum": "nmea"},
            "channels": [{"name": "t", "field": "T"}, {"name": "rh", "field": "RH"}],
        },
        {
            "name": "json_nmea",
            "port": "sim://j",
            "format": "json",
            "parse": {"checksum": "nmea"},
            "channels": [{"name": "t", "field": "a.t"}],
        },
        {
            "name": "logger",
            "port": "sim://l",
            "format": "csv",
            "parse": {"checksum": "sdi12", "columns": ["time", "t", "rh"], "header": True},
            "channels": [{"name": "t"}, {"name": "rh"}],
        },
    ],
    ids=lambda table: table["name"],
)
def test_the_simulated_device_sends_checked_lines_and_its_damaged_ones_fail_their_check(
    table: dict[str, Any],
) -> None:
    simulated_lines_read(table)


def simulated_lines_read(table: dict[str, Any]) -> None:
    """200 s of the simulated device of ``table``, a third of its lines damaged, through the
    sensor's framer and decoder: each line it sent whole gives every channel a value, each
    damaged one is rejected as ``checksum``, each header line is read as one."""
    sensor = load_sensors(table).sensors[0]
    spec = sensor.format_spec()
    device = SimulatedDevice(
        spec, {}, 1.0, sensor.terminator, SimulationSpec(seed=5, garbage_rate=0.3), 0.0
    )
    data = b"".join(device.bytes_due(float(t)) for t in range(1, 201))
    codec = codec_for(spec.format)
    decode = codec.sensor_decoder(spec, time.time)
    lines = codec.framer(spec, sensor.terminator, sensor.max_frame_bytes).feed(data)
    assert device.garbage_written > 30
    read: list[set[str]] = []
    rejected: list[str] = []
    headers = 0
    for line in lines:
        try:
            pairs = decode(line)
        except ParseError as exc:
            rejected.append(exc.reason)
            continue
        if pairs:
            read.append({channel for channel, _ in pairs})
        else:
            headers += 1
    assert read == [{c.name for c in sensor.channels}] * device.frames_written
    assert rejected == ["checksum"] * device.garbage_written
    assert headers == device.headers_written


# -- the README's instruments --------------------------------------------------------------------

#: The README's R. M. Young anemometer in its ASCII output.
ANEMOMETER: dict[str, Any] = {**README["anemometer"], "port": "sim://anemometer"}
#: The README's TEROS 12 asked with aMC!.
SOIL: dict[str, Any] = {**README["soil_west"], "port": "sim://soil"}


def test_the_readme_anemometer_reads_checked_lines_and_rejects_the_others() -> None:
    good = rmy(b"0 003.6 327 00")
    assert decoded(
        ANEMOMETER,
        good
        + b"\r"
        + good.replace(b"003.6", b"008.6")  # a digit changed on the wire
        + b"\r"
        + b"0 003.6 327 00\r"  # no checksum: another output mode
        + rmy(b"0 000.0 000 10")  # the sensor could not measure
        + b"\r"
        + rmy(b"0 012.4 005 00")
        + b"\r\n",  # a line end the terminator leaves
    ) == [
        [("wind_speed_mps", 3.6), ("wind_direction_deg", 327.0)],
        ("checksum", []),
        ("no_checksum", []),
        ("invalid", []),
        [("wind_speed_mps", 12.4), ("wind_direction_deg", 5.0)],
    ]


def test_the_readme_soil_sensor_asked_with_amc_reads_its_crc_lines() -> None:
    """The aMC! reply and the service request carry no CRC and are ignored; the data line is
    read without its CRC; one changed on the bus is rejected; the address alone with its CRC
    (a 0D0! too early) is ignored as the address alone is; a data line without CRC is
    ``no_checksum``."""
    assert decoded(
        SOIL,
        b"".join(
            line + b"\r\n"
            for line in (
                b"00013",
                b"0",
                b"0+1846.16+22.3+1JI{",
                b"0+1846.16+22.8+1JI{",
                b"0AP@",
                b"0+1846.16+22.3+1",
            )
        ),
    ) == [
        [],
        [],
        [
            ("water_content_m3_m3", 1846.16),  # raw counts: normalize comes after
            ("soil_temperature_celsius", 22.3),
            ("bulk_ec_us_per_cm", 1.0),
        ],
        ("checksum", []),
        [],
        ("no_checksum", []),
    ]


@pytest.mark.parametrize("table", [ANEMOMETER, SOIL], ids=lambda table: table["name"])
def test_the_readme_s_simulated_instruments_send_checked_lines(table: dict[str, Any]) -> None:
    simulated_lines_read(table)


def test_check_notes_an_example_that_ends_in_a_checksum_no_key_checks(
    tmp_path: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    block = next(b for b in readme_toml_blocks() if 'name = "anemometer"' in b)
    assert 'example = "0 003.6 027 00"' in block
    # the same anemometer configured without the key: its pattern takes the checksum too
    unchecked = (
        block.replace('checksum = "xor", ', "")
        .replace(r"\d{3}) 00|\S+ \S+ \d\d)$", r"\d{3}) 00\*\w\w|\S+ \S+ \d\d\*\w\w)$")
        .replace('example = "0 003.6 027 00"', 'example = "0 003.6 027 00*0E"')
    )
    path = tmp_path / "sensord.toml"
    for text, noted in ((block, False), (unchecked, True)):
        path.write_text(text)
        assert main(["check", "--no-devices", str(path)]) == 0
        out = capsys.readouterr().out
        assert ("checksum=xor" in out) is not noted, out
        assert (
            "note: parse.example '0 003.6 027 00*0E' ends in a checksum that holds as "
            'parse.checksum = "xor" has it' in out
        ) is noted, out


@pytest.mark.slow
def test_an_anemometer_on_a_pty_through_the_daemon(
    pty_pair: PtyPair, start_daemon: StartDaemon
) -> None:
    """The README's anemometer on a pty: the daemon publishes the checked lines' values,
    counts the damaged line as ``checksum`` and the one without checksum as ``no_checksum``,
    and reads the lines around them."""
    block = next(b for b in readme_toml_blocks() if 'name = "anemometer"' in b)
    daemon = start_daemon(config=re.sub(r'port = "[^"]*"', f'port = "{pty_pair.path}"', block))
    daemon.wait_http()
    daemon.wait_up_settled(["anemometer"], timeout_s=10)
    first, last = rmy(b"0 003.6 327 00"), rmy(b"0 004.1 331 00")
    damaged = first.replace(b"327", b"321")
    pty_pair.write(b"\r".join([first, damaged, b"0 003.9 329 00", last]) + b"\r")
    daemon.wait_frames({"anemometer": 4})
    samples = daemon.scrape()

    def value(name: str, **labels: str) -> float:
        return samples.value(name, sensor="anemometer", **labels)

    assert value("sensord_reading_value", channel="wind_speed_mps") == 4.1
    assert value("sensord_reading_value", channel="wind_direction_deg") == 331.0
    assert value("sensord_window_samples", channel="wind_speed_mps") == 2
    assert value("sensord_parse_errors_total", reason="checksum") == 1
    assert value("sensord_parse_errors_total", reason="no_checksum") == 1
    assert value("sensord_frames_total") == 4
    assert daemon.alive()
    wait_for(lambda: len(daemon.events("frame rejected")) >= 2, 5, "the lines of the rejections")
    rejected = daemon.events("frame rejected")
    assert {e["reason"] for e in rejected} == {"checksum", "no_checksum"}
