"""A frame field's ``not_available`` values: what a device sends for "no value".

A Davis Vantage console's LOOP packet (Davis, "Vantage Serial Communication Reference
Manual", section IX.1: 99 bytes from ``LOO``, CRC-16/XMODEM over the whole packet) holds
32767 in the outside temperature and 255 in the outside humidity while the ISS is out of
radio reach, "dashed" on the console: published as readings they are 3276.7 °F and 255 %.
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest
from test_config_effects import Clock

from sensord.cli import main
from sensord.config import parse_config
from sensord.config_sensor import SensorConfig
from sensord.errors import ParseError
from sensord.formats import codec_for
from sensord.formats.crc import crc16_xmodem
from sensord.sensor import SensorRuntime

DAVIS = """
[[sensors]]
name = "vantage"
port = "{port}"
format = "frames"
stale_after_s = 10
  [sensors.frame]
  start = 'LOO'
  length = 99
  checksum = "crc16_xmodem"
    [[sensors.frame.fields]]
    name = "barometer"
    offset = 7
    type = "u16le"
    scale = 0.001
    [[sensors.frame.fields]]
    name = "outside_temperature"
    offset = 12
    type = "i16le"
    scale = 0.1
    not_available = [32767]
    [[sensors.frame.fields]]
    name = "outside_humidity"
    offset = 33
    type = "u8"
    not_available = [255]
  [[sensors.channels]]
  name = "barometer_inhg"
  field = "barometer"
  [[sensors.channels]]
  name = "outside_temperature_fahrenheit"
  field = "outside_temperature"
  [[sensors.channels]]
  name = "outside_humidity_percent"
  field = "outside_humidity"
"""


def loop_packet(temperature: int, humidity: int, barometer: int = 29_921) -> bytes:
    """A LOOP packet: the fields read here, the rest 0, "\\n\\r" at 95..96 and its CRC."""
    packet = bytearray(97)
    packet[0:3] = b"LOO"
    packet[4] = 0  # packet type: LOOP
    struct.pack_into("<H", packet, 7, barometer)
    struct.pack_into("<h", packet, 12, temperature)
    packet[33] = humidity
    packet[95:97] = b"\n\r"
    return bytes(packet) + crc16_xmodem(bytes(packet)).to_bytes(2, "big")


def vantage() -> SensorConfig:
    [sensor] = parse_config(DAVIS.format(port="sim://vantage")).sensors
    return sensor


def runtime() -> SensorRuntime:
    clock = Clock()
    return SensorRuntime(vantage(), clock=clock, wall_clock=clock)


def latest(rt: SensorRuntime) -> dict[str, float | None]:
    return {
        c.name: None if c.stats is None else round(c.stats.reading.value, 3)
        for c in rt.snapshot().channels
    }


def test_a_dashed_value_is_not_published_and_the_packet_s_others_are() -> None:
    rt = runtime()
    rt.feed(loop_packet(723, 45))
    assert latest(rt) == {
        "barometer_inhg": 29.921,
        "outside_temperature_fahrenheit": 72.3,
        "outside_humidity_percent": 45.0,
    }
    assert all(available(rt).values())
    rt.feed(loop_packet(32767, 255, barometer=29_950))  # the ISS out of reach
    assert latest(rt) == {
        "barometer_inhg": 29.95,
        "outside_temperature_fahrenheit": 72.3,
        "outside_humidity_percent": 45.0,
    }
    # the last values read stay in the window, but are no current values
    assert available(rt) == {
        "barometer_inhg": True,
        "outside_temperature_fahrenheit": False,
        "outside_humidity_percent": False,
    }
    assert rt.parse_errors["invalid"] == 1
    rt.feed(loop_packet(-45, 98))  # back: -4.5 °F
    assert latest(rt)["outside_temperature_fahrenheit"] == -4.5
    assert latest(rt)["outside_humidity_percent"] == 98.0
    assert all(available(rt).values())


def available(rt: SensorRuntime) -> dict[str, bool]:
    return {c.name: c.available for c in rt.snapshot().channels}


def test_a_value_marked_and_read_in_one_chunk_is_as_its_last_frame_says() -> None:
    """Frames read in one chunk: the channel is available when its last frame holds a value,
    and not when its last frame marks it as not measured, whatever came before."""
    rt = runtime()
    rt.feed(loop_packet(32767, 45) + loop_packet(700, 46))
    assert available(rt)["outside_temperature_fahrenheit"]
    rt.feed(loop_packet(701, 47) + loop_packet(32767, 48))
    assert not available(rt)["outside_temperature_fahrenheit"]
    assert latest(rt)["outside_temperature_fahrenheit"] == 70.1


def test_a_frame_its_status_byte_marks_invalid_leaves_no_channel_a_current_value() -> None:
    """An SPS30-like status byte that says the values are not valid: none of the frame's
    channels has a current value until a valid frame comes."""
    text = DAVIS.format(port="sim://vantage").replace(
        '  checksum = "crc16_xmodem"',
        '  checksum = "crc16_xmodem"\n  status_offset = 4\n  status_ok = [0]',
    )
    clock = Clock()
    [sensor] = parse_config(text).sensors
    rt = SensorRuntime(sensor, clock=clock, wall_clock=clock)
    rt.feed(loop_packet(700, 46))
    faulty = bytearray(loop_packet(700, 46))
    faulty[4] = 0x43
    faulty[-2:] = crc16_xmodem(bytes(faulty[:-2])).to_bytes(2, "big")
    rt.feed(bytes(faulty))
    assert rt.parse_errors["invalid"] == 1
    assert not any(available(rt).values())
    rt.feed(loop_packet(710, 47))
    assert all(available(rt).values())


def test_the_decoder_names_the_fields_and_keeps_the_others() -> None:
    spec = vantage().format_spec()
    decode = codec_for("frames").decoder(spec)
    with pytest.raises(ParseError) as caught:
        decode(loop_packet(32767, 255))
    assert caught.value.reason == "invalid"
    assert "not available: outside_temperature, outside_humidity" in str(caught.value)
    assert caught.value.kept == [("barometer_inhg", 29.921)]
    assert decode(loop_packet(32766, 254))[1:] == [
        ("outside_temperature_fahrenheit", pytest.approx(3276.6)),
        ("outside_humidity_percent", 254.0),
    ]


@pytest.mark.parametrize(
    ("type_", "value", "problem"),
    [
        ("u8", 256, "a u8 holds 0..255, got 256"),
        ("i16le", 32768, "a i16le holds -32768..32767, got 32768"),
        ("u16be", 1.5, "a u16be holds integers, got 1.5"),
        ("u8", -1, "a u8 holds 0..255, got -1"),
        ("f32le", 1e39, "a f32le holds at most ±3.402823e+38, got 1e+39"),
    ],
)
def test_a_value_the_field_cannot_hold_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], type_: str, value: float, problem: str
) -> None:
    text = DAVIS.format(port=tmp_path / "absent").replace(
        'type = "u8"\n    not_available = [255]', f'type = "{type_}"\n    not_available = [{value}]'
    )
    path = tmp_path / "sensord.toml"
    path.write_text(text)
    assert main(["check", str(path)]) != 0
    assert f"frame.fields[2].not_available (sensor 'vantage'): {problem}" in capsys.readouterr().err


def test_a_float32_field_matches_its_not_available_value_as_the_device_holds_it() -> None:
    """-999.9 is no float32: the device holds -999.9000244140625, which the configured
    -999.9 stands for."""
    table = """
[[sensors]]
name = "probe"
port = "sim://probe"
format = "frames"
  [sensors.frame]
  start = '\\xaa'
  length = 6
  checksum = "sum8"
    [[sensors.frame.fields]]
    name = "t"
    offset = 1
    type = "f32le"
    not_available = [-999.9]
  [[sensors.channels]]
  name = "t"
"""
    [sensor] = parse_config(table).sensors
    decode = codec_for("frames").decoder(sensor.format_spec())

    def frame(value: float) -> bytes:
        body = b"\xaa" + struct.pack("<f", value)
        return body + bytes([sum(body) & 0xFF])

    with pytest.raises(ParseError, match="not available: t"):
        decode(frame(-999.9))
    [(channel, value)] = decode(frame(-999.8))
    assert channel == "t"
    assert value == pytest.approx(-999.8)


def test_fields_not_available_are_no_frame_rejected_by_its_status_byte() -> None:
    """With a status byte in the spec, frames whose every field is not available (a Davis
    probe unplugged) are the device saying so, not frames it marks invalid: no hint, and
    no re-run of the set-up."""
    text = DAVIS.format(port="sim://vantage").replace(
        '  checksum = "crc16_xmodem"',
        '  checksum = "crc16_xmodem"\n  status_offset = 4\n  status_ok = [0]',
    )
    text = text.replace(
        '    [[sensors.frame.fields]]\n    name = "barometer"',
        '    [[sensors.frame.fields]]\n    name = "barometer"\n    not_available = [29921]',
    )
    clock = Clock()
    [sensor] = parse_config(text).sensors
    rt = SensorRuntime(sensor, clock=clock, wall_clock=clock)
    for _ in range(30):
        clock.now += 1.0
        rt.feed(loop_packet(32767, 255))
        rt.rejects.check(clock.now)
    assert rt.parse_errors["invalid"] == 30
    assert rt.rejects.hint is None
    assert not rt.rejects.marked_invalid


def test_a_reading_the_filter_drops_brings_no_value_back() -> None:
    """After a value marked not measured, a reading the channel's filter drops (999.9 °F)
    is no current value: the channel stays without one, and the last value read before the
    outage is not published again as current."""
    text = DAVIS.replace(
        'name = "outside_temperature_fahrenheit"\n  field = "outside_temperature"',
        'name = "outside_temperature_fahrenheit"\n  field = "outside_temperature"\n'
        "  filter = {{ min = -40, max = 150 }}",
    )
    assert text != DAVIS
    [sensor] = parse_config(text.format(port="sim://vantage")).sensors
    clock = Clock()
    rt = SensorRuntime(sensor, clock=clock, wall_clock=clock)
    rt.feed(loop_packet(723, 45))
    rt.feed(loop_packet(32767, 255))
    assert not available(rt)["outside_temperature_fahrenheit"]
    rt.feed(loop_packet(9999, 45))  # dropped by the filter
    assert not available(rt)["outside_temperature_fahrenheit"]
    assert latest(rt)["outside_temperature_fahrenheit"] == 72.3
    # in one chunk: a dropped reading, the mark, a reading that passes
    rt.feed(loop_packet(9999, 45) + loop_packet(32767, 45) + loop_packet(650, 45))
    assert available(rt)["outside_temperature_fahrenheit"]
    assert latest(rt)["outside_temperature_fahrenheit"] == 65.0
    rt.feed(loop_packet(700, 45) + loop_packet(32767, 45) + loop_packet(9999, 45))
    assert not available(rt)["outside_temperature_fahrenheit"]
