"""``format = "dsmr"``: a smart meter's P1 telegrams read by OBIS code, each telegram only when
its CRC holds. The telegrams are the real ones of ``test_formats_blocks`` (their origin is in
its docstring); each expected value is the one its line shows."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from harness.config import load_sensors
from harness.dsmr_parser_telegrams import SAGEMCOM_T210_D_R
from harness.pty import PtyPair
from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs
from test_blocks import take, telegram_lines
from test_config_effects import Clock
from test_formats_blocks import (
    DSMR5,
    DSMR22,
    DSMR42,
    EASYMETER,
    FLUVIUS,
    README,
    counts,
    crc16_arc,
    latest,
    runtime,
)
from test_frames_commands import read_all

from sensord.config import Config
from sensord.errors import PARSE_ERROR_REASONS, ParseError
from sensord.formats import codec_for
from sensord.formats import crc as crc_module
from sensord.formats.base import FormatSpec
from sensord.formats.line_checksums import checked_line, seal
from sensord.sensor import SensorRuntime
from sensord.signals import SimulationSpec
from sensord.sources.simulated import SimulatedDevice

METER = README["p1_meter"]


def meter(*channels: tuple[str, str]) -> Config:
    return load_sensors(
        {
            "name": "m",
            "port": "sim://m",
            "format": "dsmr",
            "channels": [{"name": name, "field": field} for name, field in channels],
        }
    )


def read(config: Config, data: bytes) -> tuple[dict[str, float], dict[str, Any]]:
    rt = runtime(config)
    rt.feed(data)
    return latest(rt), counts(rt)


@pytest.mark.parametrize(
    ("telegram", "expected"),
    [
        (DSMR5, {"t1": 4.426, "t2": 2.399, "power": 0.244, "l1": 230.0, "gas": 0.107}),
        (DSMR42, {"t1": 1581.123, "t2": 1435.706, "power": 2.027, "l1": 0.0, "gas": 981.443}),
        (FLUVIUS, {"t1": 750.826, "t2": 830.366, "power": 0.921, "l1": 227.3, "gas_be": 0.255}),
        (DSMR22, {"t1": 1.001, "t2": 1.001, "power": 1.01, "gas22": 1.001}),
    ],
    ids=["dsmr5", "dsmr42", "fluvius", "dsmr22"],
)
def test_a_real_telegram_gives_the_value_of_each_code(
    telegram: bytes, expected: dict[str, float]
) -> None:
    """Energy and power with their units, a voltage, and the gas meter's reading after its
    time (DSMR 4 and 5 on ``0-1:24.2.1``, Fluvius on ``0-1:24.2.3``, DSMR 2.2 on the line after
    ``0-1:24.3.0``); no parse error; the codes no channel reads are ignored frames."""
    fields = {
        "t1": "1-0:1.8.1",
        "t2": "1-0:1.8.2",
        "power": "1-0:1.7.0",
        "l1": "1-0:32.7.0" if telegram is not DSMR42 else "1-0:31.7.0",
        "gas": "0-1:24.2.1",
        "gas_be": "0-1:24.2.3",
        "gas22": "0-1:24.3.0",
    }
    config = meter(*((name, fields[name]) for name in expected))
    values, counted = read(config, telegram)
    assert values == pytest.approx(expected)
    lines = len(telegram_lines(telegram))
    assert counted == {
        "frames": lines,
        "ignored": lines - len(expected),  # DSMR 2.2's gas: the line before the reading
        "readings": len(expected),
        "errors": {},
    }


EASYMETER_CHANNELS = (
    ("imported_kwh", "1-0:1.8.0"),
    ("power_kw", "1-0:1.7.0*255"),
    ("power_l1_kw", "1-0:21.7.0"),
)
#: The values the EasyMeter's lines show, its powers in W read in kW.
EASYMETER_VALUES = {
    "imported_kwh": 32549.5061662,
    "power_kw": 1.68821,
    "power_l1_kw": 0.55729,
}


def test_an_easymeter_s_codes_written_with_their_f_group_255_are_read() -> None:
    """An EasyMeter Q3D writes every code with ``*255``: a channel's field names the code with
    or without it. Its telegram has no CRC (it is read unchecked, as a DSMR 2.2 one is); the
    lines its gateway adds after the ``!`` are skipped bytes, not lines."""
    config = meter(*EASYMETER_CHANNELS)
    rt = runtime(config)
    rt.feed(EASYMETER)
    assert latest(rt) == EASYMETER_VALUES
    assert counts(rt) == {"frames": 8, "ignored": 5, "readings": 3, "errors": {}}
    assert rt.framer.skipped_bytes == len(b"  25818685\r\nDE0000000000000000000000000000003\r\n")


def test_an_easymeter_telegram_with_a_crc_is_checked() -> None:
    """The Q3D's telegram given a CRC (computed here: the meter sends none), as a meter that
    writes ``*255`` and a CRC would send it: read; a digit changed in it, rejected."""
    body = EASYMETER[: EASYMETER.index(b"\r\n!") + 3]
    checked = body + b"%04X\r\n" % crc16_arc(body)
    config = meter(*EASYMETER_CHANNELS)
    rt = runtime(config)
    rt.feed(checked)
    rt.feed(checked.replace(b"00032549.5061662", b"00032549.5061663"))
    assert latest(rt) == EASYMETER_VALUES
    assert counts(rt)["errors"] == {"checksum": 8}


@pytest.mark.parametrize(
    ("line", "readings"),
    [
        (b"1-0:1.8.0*255(00032549.5061662*kWh)", [("current", 32549.5061662)]),
        (b"1-0:1.8.0(00032549.5061662*kWh)", [("current", 32549.5061662)]),
        (b"1-0:1.8.0*03(00031000.1*kWh)", [("period3", 31000.1)]),
        (b"1-0:1.8.0*3(00031000.1*kWh)", [("period3", 31000.1)]),
        (b"1-0:1.8.0*1(00030000.1*kWh)", []),  # another billing period: no channel's
        (b"1-0:1.8.0*0255(1*kWh)", None),  # no OBIS line: F has at most 3 digits
    ],
)
def test_the_f_group_255_is_the_current_value_and_another_a_billing_period_s(
    line: bytes, readings: list[tuple[str, float]] | None
) -> None:
    """By IEC 62056-61 an F of 255 is "not used": the code's current value. Another F numbers
    the value at the end of a billing period, another quantity: read only by a channel that
    names that F. The ``*`` inside the parentheses is the unit's, as before."""
    spec = FormatSpec("dsmr", (("current", "1-0:1.8.0*255"), ("period3", "1-0:1.8.0*03")))
    decode = codec_for("dsmr").decoder(spec)
    if readings is not None:
        assert decode(line) == readings
    else:
        with pytest.raises(ParseError) as caught:
            decode(line)
        assert caught.value.reason == "syntax"


def test_a_field_with_or_without_the_f_group_255_names_one_code() -> None:
    """Two channels of one code, one with ``*255``: both read it, whichever the meter writes."""
    spec = FormatSpec("dsmr", (("a", "1-0:1.8.1"), ("b", "1-0:1.8.1*255")))
    assert codec_for("dsmr").check(spec) == []
    decode = codec_for("dsmr").decoder(spec)
    assert decode(b"1-0:1.8.1(000004.426*kWh)") == [("a", 4.426), ("b", 4.426)]
    assert decode(b"1-0:1.8.1*255(000004.426*kWh)") == [("a", 4.426), ("b", 4.426)]


def test_a_simulated_easymeter_writes_the_f_group_its_fields_have() -> None:
    """The simulator writes a field as it is configured; the meter's own decoder reads it."""
    spec = FormatSpec("dsmr", (("e", "1-0:1.8.0*255"), ("p", "1-0:1.7.0")))
    frames = codec_for("dsmr").encoder(spec)({"1-0:1.8.0*255": 12.5, "1-0:1.7.0": 0.25}, 0.0)
    assert frames == [b"1-0:1.8.0*255(12.500)", b"1-0:1.7.0(0.250)"]
    decode = codec_for("dsmr").decoder(spec)
    assert [reading for frame in frames for reading in decode(frame)] == [("e", 12.5), ("p", 0.25)]


def test_a_telegram_whose_crc_fails_gives_no_reading() -> None:
    config = meter(("t1", "1-0:1.8.1"))
    rt = runtime(config)
    rt.feed(DSMR5)
    rt.feed(DSMR5.replace(b"000004.426", b"000004.436"))
    assert latest(rt) == {"t1": 4.426}
    assert counts(rt)["errors"] == {"checksum": len(telegram_lines(DSMR5))}


#: What ``check`` says of a channel on the telegram's time stamp (``{field}`` its field).
TIME_STAMP_REFUSED = (
    "{field!r} is the telegram's date and time (YYMMDDhhmmss and S or W for summer or winter "
    "time: the meter's clock, in its local time), no number a channel reads; the time of a "
    "reading is sensord's as its telegram came: sensord_reading_timestamp_seconds, and the "
    "channel's timestamp in /status"
)


@pytest.mark.parametrize("field", ["0-0:1.0.0", "0-0:1.0.0*255"])
def test_a_channel_on_the_telegram_s_time_stamp_is_refused_naming_the_key(field: str) -> None:
    """``0-0:1.0.0(170102192002W)``, in every DSMR 4 and 5 telegram (the P1 companion
    standard's "Date-time stamp of the P1 message", YYMMDDhhmmssX, as arduino-dsmr's and
    dsmr_parser's field tables name it; both read it as a date, not a number), was ``syntax``
    on every telegram. ``check`` refuses the field, naming the key, what the field is and
    where the time of a reading is."""
    sensor = {
        "name": "m",
        "port": "sim://m",
        "format": "dsmr",
        "channels": [{"name": "t1", "field": "1-0:1.8.1"}, {"name": "time", "field": field}],
    }
    errors: list[str] = []
    assert Config.load({"sensors": [sensor]}, "", errors) is None
    assert errors == ["sensors[0].channels[1].field: " + TIME_STAMP_REFUSED.format(field=field)]
    assert b"\r\n0-0:1.0.0(170102192002W)\r\n" in DSMR5


def test_sensord_check_refuses_the_time_stamp_s_channel_and_says_where_the_time_is(
    tmp_path: Path,
) -> None:
    """What the user reads: ``sensord check`` exits 1, the message naming the key, the sensor
    and what the field is; without the channel the file passes."""
    config = tmp_path / "meter.toml"
    channels = '{ name = "t1", field = "1-0:1.8.1" }'
    config.write_text(
        '[[sensors]]\nname = "p1"\nport = "sim://p1"\nformat = "dsmr"\n'
        f'channels = [{channels}, {{ name = "meter_time", field = "0-0:1.0.0" }}]\n'
    )
    command = [sys.executable, "-m", "sensord", "check", "--no-devices", str(config)]
    env = {**os.environ, "NO_COLOR": "1"}
    refused = subprocess.run(
        command, capture_output=True, text=True, timeout=60, env=env, check=False
    )
    assert refused.returncode == 1
    assert (
        "sensors[0].channels[1].field (sensor 'p1'): "
        + TIME_STAMP_REFUSED.format(field="0-0:1.0.0")
    ) in refused.stderr
    config.write_text(
        config.read_text().replace(', { name = "meter_time", field = "0-0:1.0.0" }', "")
    )
    valid = subprocess.run(
        command, capture_output=True, text=True, timeout=60, env=env, check=False
    )
    assert valid.returncode == 0, valid.stderr


@pytest.mark.parametrize("field", ["0-1:24.2.1", "1-0:1.0.0", "0-0:1.8.0", "0-0:96.1.4"])
def test_codes_beside_the_time_stamp_s_are_no_time_stamp(field: str) -> None:
    """A gas reading (its line's time and value), a code of C.D 1.0 of electricity (A 1), and
    the codes beside it load: only the clock's code, A 0 and C.D 1.0, is the time stamp."""
    assert codec_for("dsmr").check(FormatSpec("dsmr", (("x", field),))) == []


def test_a_power_failure_log_of_no_entry_holds_no_reading_and_is_no_error() -> None:
    """``1-0:99.97.0(0)(0-0:96.7.19)``: a meter that has had no long power failure sends its
    log's count, 0, and the code of its entries, in every telegram; a channel of it has no
    reading, counted ``invalid`` (which the frame-error alert leaves out), not ``syntax``."""
    assert b"\r\n1-0:99.97.0(0)(0-0:96.7.19)\r\n" in DSMR5
    config = meter(("t1", "1-0:1.8.1"), ("x", "1-0:99.97.0"))
    values, counted = read(config, DSMR5)
    assert values == {"t1": 4.426}
    assert counted["errors"] == {"invalid": 1}
    # a count that is not 0 with no entry after it is a cut log: no number, syntax
    body = DSMR5[: DSMR5.index(b"!") + 1].replace(b"99.97.0(0)", b"99.97.0(1)")
    values, counted = read(config, body + b"%04X\r\n" % crc16_arc(body))
    assert values == {"t1": 4.426}
    assert counted["errors"] == {"syntax": 1}


@pytest.mark.parametrize(
    "line",
    [
        b"(00001.001)",  # a continuation with no code before it
        b"1-0:1.8.1",  # no value
        b"1-0:1.8.1(000004.426*kWh",  # its ')' lost, within a telegram read unchecked
        b"1-0:1.8.1(0000\x00.426*kWh)",
        b"hello",
    ],
)
def test_a_line_that_is_no_obis_line_is_rejected(line: bytes) -> None:
    spec = meter(("t1", "1-0:1.8.1")).sensors[0].format_spec()
    decode = codec_for("dsmr").decoder(spec)
    with pytest.raises(ParseError) as caught:
        decode(line)
    assert caught.value.reason in ("syntax", "encoding")


def test_a_value_on_the_next_line_belongs_to_the_code_before_it_only() -> None:
    """DSMR 2.2's gas reading comes on the line after ``0-1:24.3.0(...)(m3)``; a line of
    another code between them ends the wait: the gas value's line was lost, ``truncated``,
    and that line's own reading is kept, not taken for the gas."""
    spec = meter(("gas", "0-1:24.3.0"), ("t1", "1-0:1.8.1")).sensors[0].format_spec()
    decode = codec_for("dsmr").decoder(spec)
    head = b"0-1:24.3.0(090212160000)(00)(60)(1)(0-1:24.2.1)(m3)"
    assert decode(head) == []
    assert decode(b"(00001.001)") == [("gas", 1.001)]
    assert decode(head) == []
    with pytest.raises(ParseError) as caught:
        decode(b"1-0:1.8.1(00001.001*kWh)")
    assert (caught.value.reason, caught.value.kept) == ("truncated", [("t1", 1.001)])
    with pytest.raises(ParseError):
        decode(b"(00001.001)")


@settings(max_examples=300, deadline=None)
@given(
    st.one_of(
        st.binary(max_size=60),
        st.sampled_from([b"1-0:1.8.1(", b"0-1:24.3.0(1)(m3)", b"(", b"1-0:1.8.1(1)("]).flatmap(
            lambda head: st.binary(max_size=30).map(lambda tail: head + tail)
        ),
    )
)
def test_any_line_gives_readings_nothing_or_a_parse_error(line: bytes) -> None:
    spec = meter(("t1", "1-0:1.8.1"), ("gas", "0-1:24.3.0")).sensors[0].format_spec()
    decode = codec_for("dsmr").decoder(spec)
    reason: str | None
    try:
        readings = decode(line)
    except ParseError as exc:
        reason = exc.reason
    else:
        reason = None
        assert {channel for channel, _ in readings} <= {"t1", "gas"}
    assert reason is None or reason in PARSE_ERROR_REASONS


@pytest.mark.parametrize(
    ("table", "key", "message"),
    [
        ({"channels": [{"name": "t1", "field": "1-0:1.8"}]}, "channels[0].field", "no OBIS code"),
        (
            {"channels": [{"name": "t1", "field": "1-0:1.8.1*256"}]},
            "channels[0].field",
            "F group is 0 to 255; write the current value's code without it ('1-0:1.8.1'",
        ),
        ({"channels": [{"name": "t1", "field": "1-0:1.8.1*"}]}, "channels[0].field", "no OBIS"),
        ({"parse": {"block": "vedirect"}}, "parse.block", "block 'dsmr'"),
        ({"parse": {"units": ["*kWh"]}}, "parse.units", "is not used by format 'dsmr'"),
    ],
)
def test_a_meter_config_that_cannot_work_is_refused_naming_the_key(
    table: dict[str, Any], key: str, message: str
) -> None:
    sensor = {
        "name": "m",
        "port": "sim://m",
        "format": "dsmr",
        "channels": [{"name": "t1", "field": "1-0:1.8.1"}],
    } | table
    errors: list[str] = []
    assert Config.load({"sensors": [sensor]}, "", errors) is None
    assert any(e.startswith(f"sensors[0].{key}") and message in e for e in errors), errors


def test_block_dsmr_may_be_said_again() -> None:
    config = load_sensors(
        {
            "name": "m",
            "port": "sim://m",
            "format": "dsmr",
            "parse": {"block": "dsmr"},
            "channels": [{"name": "t1", "field": "1-0:1.8.1"}],
        }
    )
    assert read(config, DSMR5)[0] == {"t1": 4.426}


def test_the_readme_meter_reads_real_telegrams() -> None:
    assert METER["format"] == "dsmr"
    values, counted = read(load_sensors({**METER, "port": "sim://m"}), DSMR5 + DSMR5)
    assert values["imported_t1_kwh"] == 4.426
    assert values["gas_m3"] == 0.107
    assert counted["errors"] == {}


def test_the_simulated_meter_sends_telegrams_that_read_back() -> None:
    """The simulator's telegrams (a CRC that holds, a line per code) read back as the values
    it encoded, to the third decimal; its damaged telegrams give no reading."""
    spec: FormatSpec = meter(("t1", "1-0:1.8.1"), ("p", "1-0:1.7.0")).sensors[0].format_spec()
    device = SimulatedDevice(spec, {}, 1.0, b"\r\n", SimulationSpec(seed=3, garbage_rate=0.2), 0.0)
    data = b"".join(device.bytes_due(float(t)) for t in range(1, 101))
    lines, counted = take("dsmr", data)
    assert len(lines) == device.frames_written > 100
    assert counted["rejected"] or counted["skipped"]
    decode = codec_for("dsmr").decoder(spec)
    readings = [reading for line in lines for reading in decode(line)]
    assert {channel for channel, _ in readings} == {"t1", "p"}


@pytest.mark.parametrize(
    ("line", "detail"),
    [
        (b"hello", "not an OBIS line (code(value)...)"),
        (
            b"0-1:24.2.1(170102192002W170102192002W170102192002W170102192002W)",
            "0-1:24.2.1: '170102192002W170102192002W170102192002W1' is no number",
        ),
    ],
)
def test_a_rejected_line_says_why(line: bytes, detail: str) -> None:
    """The detail the log's ``frame rejected`` shows: the code and at most 40 characters of
    its value (a gas line whose ``)(`` between its time stamps and value were lost)."""
    spec = meter(("gas", "0-1:24.2.1")).sensors[0].format_spec()
    with pytest.raises(ParseError) as caught:
        codec_for("dsmr").decoder(spec)(line)
    assert (caught.value.reason, caught.value.detail) == ("syntax", detail)


@pytest.mark.parametrize("max_frame_bytes", [600, 2100])
def test_a_line_longer_than_max_frame_bytes_is_overlong(max_frame_bytes: int) -> None:
    """A text message of 800 hex digits (812 bytes): read under the README's 2100, overlong
    under 600."""
    spec = meter(("t1", "1-0:1.8.1")).sensors[0].format_spec()
    framer = codec_for("dsmr").framer(spec, b"\n", max_frame_bytes)
    long_line = b"0-0:96.13.0(" + b"41" * 400 + b")"
    body = DSMR5[: DSMR5.index(b"!")] + long_line + b"\r\n!"
    lines = framer.feed(body + b"%04X\r\n" % crc16_arc(body))
    overlong = max_frame_bytes < len(long_line)
    assert (len(lines), framer.overlong) == (len(telegram_lines(DSMR5)) + 1 - overlong, overlong)


def test_a_block_of_another_kind_is_refused_saying_what_dsmr_reads() -> None:
    spec = FormatSpec("dsmr", (("t1", "1-0:1.8.1"),), block="vedirect")
    assert codec_for("dsmr").check(spec) == [
        ("parse.block", "format 'dsmr' reads its telegrams as block 'dsmr'")
    ]


# Sagemcom T210-D-R (Austria), from the dsmr_parser package's test telegrams (ndokter/dsmr_parser,
# test/example_telegrams.py): energy and power in Wh and W. A Sagemcom XS210 (ESMR 5.0) from a
# published DSMR-logger example sketch (equipment ids partly masked as published, CRC DE4A):
# its M-Bus channel 1 has no device, and its gas line holds no time and no reading.
AUSTRIA_T210 = SAGEMCOM_T210_D_R
XS210_NO_GAS = (
    b"/Ene5\\XS210 ESMR 5.0\r\n"
    b"\r\n"
    b"1-3:0.2.8(50)\r\n"
    b"0-0:1.0.0(190508094821S)\r\n"
    b"0-0:96.1.1(4530303437303030123456789134343137)\r\n"
    b"1-0:1.8.1(000769.736*kWh)\r\n"
    b"1-0:1.8.2(000664.646*kWh)\r\n"
    b"1-0:2.8.1(000000.016*kWh)\r\n"
    b"1-0:2.8.2(000000.000*kWh)\r\n"
    b"0-0:96.14.0(0002)\r\n"
    b"1-0:1.7.0(00.037*kW)\r\n"
    b"1-0:2.7.0(00.000*kW)\r\n"
    b"0-0:96.7.21(00204)\r\n"
    b"0-0:96.7.9(00147)\r\n"
    b"1-0:99.97.0(10)(0-0:96.7.19)(190508094303S)(0000055374*s)(190507165813S)(0000007991*s)(190507141021S)(0000000274*s)(190507135954S)(0000000649*s)(190507134811S)(0000083213*s)(190506143928S)(0000090080*s)(190505123501S)(0000073433*s)(190504152603S)(0000003719*s)(190504120844S)(0000337236*s)(190430142638S)(0000165493*s)\r\n"
    b"1-0:32.32.0(00149)\r\n"
    b"1-0:32.36.0(00000)\r\n"
    b"0-0:96.13.0()\r\n"
    b"1-0:32.7.0(231.0*V)\r\n"
    b"1-0:31.7.0(000*A)\r\n"
    b"1-0:21.7.0(00.037*kW)\r\n"
    b"1-0:22.7.0(00.000*kW)\r\n"
    b"0-1:24.1.0(003)\r\n"
    b"0-1:96.1.0(4730303533303987654321373431393137)\r\n"
    b"0-1:24.2.1(632525252525S)(00000.000)\r\n"
    b"!DE4A\r\n"
)


def test_a_meter_that_writes_wh_and_w_is_read_in_kwh_and_kw() -> None:
    """Energy in Wh and power in W (var, varh) are read in DSMR's kWh and kW (kvar, kvarh),
    so one config reads every meter: 6545.766 kWh, not 6545766 under a name ending _kwh."""
    config = meter(
        ("imported_kwh", "1-0:1.8.0"),
        ("power_kw", "1-0:1.7.0"),
        ("reactive_kvarh", "1-0:4.8.0"),
        ("reactive_kvar", "1-0:4.7.0"),
    )
    values, counted = read(config, AUSTRIA_T210)
    assert values == {
        "imported_kwh": 6545.766,
        "power_kw": 0.286,
        "reactive_kvarh": 3897.726,
        "reactive_kvar": 0.166,
    }
    assert counted["errors"] == {}


def test_a_gas_line_without_a_time_holds_no_reading() -> None:
    """An M-Bus channel with no device answering: the XS210 writes
    ``0-1:24.2.1(632525252525S)(00000.000)``. Read, 0 m3 would be a counter reset, and a
    rate() over it a spike of the whole meter reading when the real one comes back: it is
    ``invalid``, and the channel has no current value."""
    config = meter(("imported_t1_kwh", "1-0:1.8.1"), ("gas_m3", "0-1:24.2.1"))
    rt = runtime(config)
    rt.feed(DSMR5)
    rt.feed(XS210_NO_GAS)
    assert latest(rt) == {"imported_t1_kwh": 769.736, "gas_m3": 0.107}
    assert counts(rt)["errors"] == {"invalid": 1}
    available = {c.name: c.available for c in rt.snapshot().channels}
    assert available == {"imported_t1_kwh": True, "gas_m3": False}


#: An Iskra AM550 (ISK5\2M550E-1012) whose gas meter was paired on M-Bus channel 2: channel 1,
#: with no device, gives the time 1970-01-01 (its clock's zero) and a bare 00000000. The lines
#: of dsmrreader/dsmr-reader issue 778, its equipment ids blanked there; the CRC is computed
#: for the lines as they are here.
AM550_GAS_ON_CHANNEL_2 = (
    b"/ISK5\\2M550E-1012\r\n"
    b"\r\n"
    b"1-3:0.2.8(50)\r\n"
    b"0-0:1.0.0(191108145519W)\r\n"
    b"1-0:1.8.1(001043.936*kWh)\r\n"
    b"1-0:1.8.2(000870.706*kWh)\r\n"
    b"0-0:96.14.0(0002)\r\n"
    b"1-0:1.7.0(00.189*kW)\r\n"
    b"1-0:99.97.0(1)(0-0:96.7.19)(190115011853W)(0000000389*s)\r\n"
    b"0-1:24.1.0(003)\r\n"
    b"0-1:96.1.0()\r\n"
    b"0-1:24.2.1(700101010000W)(00000000)\r\n"
    b"0-2:24.1.0(003)\r\n"
    b"0-2:24.2.1(191108145505W)(00241.773*m3)\r\n"
    b"!"
)


def test_an_m_bus_channel_without_a_device_dated_1970_holds_no_reading() -> None:
    """The AM550 writes its empty M-Bus channel 1 as ``(700101010000W)(00000000)``: read, a
    gas channel of ``0-1:24.2.1`` would publish 0 m3, a counter reset (and a spike of the
    whole reading in a rate() once the right channel is configured). A time of 1 January 1970
    is no time, as ``632525252525S`` is: ``invalid``, no value; the gas on channel 2 and a
    power failure logged at a real time are read."""
    config = meter(
        ("gas1_m3", "0-1:24.2.1"),
        ("gas2_m3", "0-2:24.2.1"),
        ("failure_s", "1-0:99.97.0"),
        ("imported_t1_kwh", "1-0:1.8.1"),
    )
    body = AM550_GAS_ON_CHANNEL_2
    rt = runtime(config)
    rt.feed(body + b"%04X\r\n" % crc16_arc(body))
    assert latest(rt) == {"gas2_m3": 241.773, "failure_s": 389.0, "imported_t1_kwh": 1043.936}
    assert counts(rt)["errors"] == {"invalid": 1}
    available = {c.name: c.available for c in rt.snapshot().channels}
    assert available["gas1_m3"] is False


def test_a_channel_whose_code_never_comes_is_logged_once(pty_pair: PtyPair) -> None:
    """A Belgian meter read with the Dutch gas code: its gas is on 0-1:24.2.3, so gas_m3 of
    0-1:24.2.1 never gets a value. Once the meter has published five minutes with telegrams
    coming, one info line names the channel and its code; no hint (a message that comes
    rarely or on an event is no fault), the channels that read are not named, and the
    warm-up of a meter on a real port is waited out first."""
    config = meter(("imported_t1_kwh", "1-0:1.8.1"), ("gas_m3", "0-1:24.2.1"))
    sensor = config.sensors[0].replace(
        port=pty_pair.path, simulate="never", warmup_s=120.0, stale_after_s=30.0
    )
    clock = Clock()
    rt = SensorRuntime(sensor, clock=clock, wall_clock=clock)
    assert rt.try_open()
    told_at: list[int] = []
    try:
        with capture_logs() as logs:
            for second in range(450):
                if second % 10 == 0:  # a DSMR 4 meter's pace
                    pty_pair.write(FLUVIUS)
                    read_all(rt, len(FLUVIUS))
                clock.now += 1.0
                rt.tick(clock.now)
                rt.remind(clock.now)
                told = [e for e in logs if e["event"] == "channel has had no value"]
                if told and not told_at:
                    told_at.append(second)
                assert rt.snapshot().hint is None
    finally:
        rt.stop()
    [told_line] = [e for e in logs if e["event"] == "channel has had no value"]
    assert told_line["channels"] == {"gas_m3": "0-1:24.2.1"}
    assert told_line["log_level"] == "info"
    assert 419 <= told_at[0] <= 422  # 120 s of warm-up, then 300 s
    assert latest(rt) == {"imported_t1_kwh": 750.826}


@pytest.mark.parametrize(
    ("line", "value"),
    [
        (b"1-0:1.8.0(0012643.360*Wh)", 12.64336),
        (b"1-0:1.7.0(000000286*W)", 0.286),
        (b"1-0:1.8.0(000004.426*kWh)", 4.426),
        (b"1-0:1.8.0(-0000001.5*Wh)", -0.0015),
    ],
)
def test_a_value_in_wh_is_the_decimal_it_reads_in_kwh(line: bytes, value: float) -> None:
    spec = FormatSpec("dsmr", (("e", "1-0:1.8.0"), ("p", "1-0:1.7.0")))
    [(_, got)] = codec_for("dsmr").decoder(spec)(line)
    assert got == value


def test_a_dsmr_sensor_builds_its_crc_table_when_made_not_at_its_first_telegram() -> None:
    """The table of CRC-16/ARC, two bytes a step (128 KiB, 15 to 25 ms to build), is built
    when a DSMR sensor is made: its first telegram, read on the one reader thread of every
    port, builds nothing. A sensor of another format builds none, nor does an SDI-12 line's
    check (CRC-16/ARC too, a byte a step over a few bytes)."""
    crc_module._word_table.cache_clear()
    value = load_sensors(
        {"name": "v", "port": "sim://v", "format": "value", "channels": [{"name": "v"}]}
    )
    runtime(value).feed(b"21.5\n")
    sdi12_line = seal("sdi12", b"0+21.5+3")
    assert checked_line("sdi12")(sdi12_line) == b"0+21.5+3"
    assert crc_module._word_table.cache_info().currsize == 0
    rt = runtime(meter(("t1", "1-0:1.8.1")))
    assert crc_module._word_table.cache_info().currsize == 1
    built = crc_module._word_table.cache_info().misses
    rt.feed(DSMR5)
    assert latest(rt) == {"t1": 4.426}
    assert crc_module._word_table.cache_info().misses == built
