"""A text channel's ``states`` (words a device sends in place of a number) and
``not_available`` (numbers it sends for "no value" in that field alone).

The VE.Direct blocks are the real captures of ``tests/test_formats_blocks.py`` (their origin is
told there): a BMV-702 (``Relay OFF``, ``TTG 942``), a BMV-712 Smart charging (``TTG -1``), a
SmartSolar MPPT (``LOAD ON``) and a BlueSolar MPPT 75/15 at night (``LOAD OFF``).
"""

from __future__ import annotations

import itertools
import tomllib
from pathlib import Path
from typing import Any

import pytest
from harness.config import Outcome, channel_toml, decoded_frames, load_sensors, sensor_toml
from harness.daemon import sensord_cli
from harness.pty import PtyPair
from test_first_line import Clock as PortClock
from test_first_line import send
from test_formats_blocks import (
    BLUESOLAR_75_15,
    BMV702,
    BMV712,
    README,
    SMARTSOLAR,
    Clock,
    counts,
    latest,
    readme_toml_blocks,
    runtime,
    sensor_of,
)

from sensord.config import parse_config
from sensord.demo import DEMO_CONFIG
from sensord.errors import ConfigError
from sensord.formats import codec_for
from sensord.sensor import SensorRuntime

RELAY = "  states = { ON = 1, OFF = 0 }\n"


def decoded(fmt: str, extra: str, channels: list[str], data: bytes) -> list[Outcome]:
    return decoded_frames(
        parse_config(sensor_toml("s", "sim://s", fmt, extra, channels)).sensors[0], data
    )


def problems_of(fmt: str, extra: str, channels: list[str]) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(sensor_toml("s", "sim://s", fmt, extra, channels))
    return info.value.problems


# -- decoding ------------------------------------------------------------------------------------


def test_kv_reads_a_state_as_its_number_and_a_channel_s_not_available_as_invalid() -> None:
    channels = [
        channel_toml("relay") + RELAY,
        channel_toml("ttg") + "  not_available = [-1]\n",
        channel_toml("i"),
    ]
    assert decoded(
        "kv",
        "",
        channels,
        b"relay=ON,ttg=120,i=-1\n"  # -1 is a number in a field without not_available
        b"relay=OFF,ttg=-1,i=-1\n"  # -1 in ttg: no value, the others read
        b"relay=OFF,ttg=-1.0,i=2\n"  # however the device prints it
        b"relay=on,ttg=5,i=3\n"  # a state is matched as written: 'on' is no state
        b"relay=1,ttg=5,i=3\n",  # a number is still read
    ) == [
        [("relay", 1.0), ("ttg", 120.0), ("i", -1.0)],
        ("invalid", [("relay", 0.0), ("i", -1.0)]),
        ("invalid", [("relay", 0.0), ("i", 2.0)]),
        ("syntax", []),
        [("relay", 1.0), ("ttg", 5.0), ("i", 3.0)],
    ]


def test_csv_reads_states_and_not_available_per_column() -> None:
    channels = [
        channel_toml("door", field="0") + "  states = { OPEN = 1, CLOSED = 0 }\n",
        channel_toml("level", field="1") + "  not_available = [9999]\n",
        channel_toml("check", field="2") + "  states = { OK = 0, FAIL = 1 }\n",
    ]
    assert decoded(
        "csv",
        "",
        channels,
        b"OPEN,12.5,OK\n CLOSED , 9999 ,FAIL\nAJAR,1,OK\n9999,9999.00,1\n",
    ) == [
        [("door", 1.0), ("level", 12.5), ("check", 0.0)],
        ("invalid", [("door", 0.0), ("check", 1.0)]),
        ("syntax", []),
        ("invalid", [("door", 9999.0), ("check", 1.0)]),
    ]


def test_json_reads_states_from_strings_and_not_available_from_numbers_and_strings() -> None:
    """A JSON string is looked up; a bool is ``syntax`` as it is without ``states``."""
    channels = [
        channel_toml("relay") + RELAY,
        channel_toml("ttg") + "  not_available = [-1]\n",
    ]
    assert decoded(
        "json",
        "",
        channels,
        b'{"relay":"ON","ttg":-1}\n{"relay":"OFF","ttg":"-1"}\n{"relay":"OFF","ttg":7}\n'
        b'{"relay":true,"ttg":7}\n',
    ) == [
        ("invalid", [("relay", 1.0)]),
        ("invalid", [("relay", 0.0)]),
        [("relay", 0.0), ("ttg", 7.0)],
        ("syntax", []),
    ]


def test_a_value_line_s_not_available_is_invalid_and_leaves_the_fast_paths() -> None:
    """A ``value`` sensor reads plain numbers with ``float()`` on the bytes (per frame and per
    batch): a channel with ``not_available`` does not, or -1 would pass as a number."""
    plain = parse_config(sensor_toml("s", "sim://s")).sensors[0].format_spec()
    table = sensor_toml("s", "sim://s", channels=[channel_toml("v") + "  not_available = [-1]\n"])
    spec = parse_config(table).sensors[0].format_spec()
    codec = codec_for("value")
    assert codec.batch_decoder is not None
    assert codec.batch_decoder(plain) is not None
    assert codec.batch_decoder(spec) is None
    rt = SensorRuntime(parse_config(table).sensors[0], clock=PortClock())
    rt.feed(b"5\n-1\n")
    assert rt.parse_errors["invalid"] == 1
    assert latest(rt) == {"v": 5.0}
    assert [c.available for c in rt.snapshot().channels] == [False]
    states = sensor_toml("s", "sim://s", channels=[channel_toml("v") + RELAY])
    assert decoded_frames(parse_config(states).sensors[0], b"ON\n2.5\nOFF\n") == [
        [("v", 1.0)],
        [("v", 2.5)],
        [("v", 0.0)],
    ]


# -- VE.Direct blocks ----------------------------------------------------------------------------

#: The README's battery with a channel on ``TTG`` (minutes; -1: not discharging) and one on
#: ``Relay`` (``ON``, ``OFF``), as ``with`` adds them.
TIME_TO_GO = {"name": "ttg_min", "field": "TTG", "not_available": [-1]}
RELAY_STATES = {"name": "relay", "field": "Relay", "states": {"ON": 1, "OFF": 0}}


def bmv(*channels: dict[str, Any]) -> SensorRuntime:
    """A runtime of the README's battery's first three channels and ``channels``."""
    table = README["battery"]
    return runtime(sensor_of(table, channels=[*table["channels"][:3], *channels]))


def test_a_bmv_s_relay_is_a_state_and_its_ttg_of_minus_one_no_value() -> None:
    """A BMV-702 discharging (TTG 942) then a BMV-712 charging (TTG -1): the relay's OFF is
    0, the time to go its minutes, then no value, counted ``invalid``, the others read."""
    rt = bmv(TIME_TO_GO, RELAY_STATES)
    rt.feed(BMV702)
    assert latest(rt)["ttg_min"] == 942.0
    assert latest(rt)["relay"] == 0.0
    assert counts(rt)["errors"] == {}
    rt.feed(BMV712)
    assert counts(rt)["errors"] == {"invalid": 1}
    assert {c.name: c.available for c in rt.snapshot().channels} == {
        "battery_voltage_v": True,
        "battery_current_a": True,
        "state_of_charge_percent": True,
        "ttg_min": False,
        "relay": True,
    }
    assert latest(rt)["battery_voltage_v"] == pytest.approx(13.043)
    assert latest(rt)["battery_current_a"] == pytest.approx(3.856)


def test_states_and_not_available_are_their_own_channel_s_only() -> None:
    """The same BMV blocks with ``states`` on the alarm's channel and ``not_available`` on the
    power's: the relay's channel, without ``states``, has each ``Relay`` line rejected as
    ``syntax`` (what ``states`` is for), and the time to go, without ``not_available``, reads
    -1 as -1."""
    rt = bmv(
        {"name": "relay", "field": "Relay"},
        {"name": "alarm", "field": "Alarm", "states": {"ON": 1, "OFF": 0}},
        {"name": "ttg_min", "field": "TTG"},
        {"name": "power_w", "field": "P", "not_available": [-1]},
    )
    rt.feed(BMV702 + BMV712 + b"\r\n")
    assert counts(rt)["errors"] == {"syntax": 3}
    assert "relay" not in latest(rt)
    assert latest(rt)["alarm"] == 0.0
    assert latest(rt)["ttg_min"] == -1.0
    assert latest(rt)["power_w"] == 50.0


@pytest.mark.parametrize(
    ("data", "load"), [(SMARTSOLAR, 1.0), (BLUESOLAR_75_15 + b"\r\n", 0.0)], ids=["on", "off"]
)
def test_an_mppt_s_load_output_reads_as_its_state(data: bytes, load: float) -> None:
    table = README["solar"]
    channels = [
        *table["channels"],
        {"name": "load_on", "field": "LOAD", "states": {"ON": 1, "OFF": 0}},
    ]
    rt = runtime(sensor_of(table, channels=channels))
    rt.feed(data)
    assert latest(rt)["load_on"] == load
    assert counts(rt)["errors"] == {}


# -- sensord check -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "extra", "channel", "problem"),
    [
        (
            "kv",
            "",
            '  states = { "1" = 1 }\n',
            "channels[0].states: '1' reads as the number 1: a state is a text that is no number",
        ),
        (
            "kv",
            'parse = { decimal = "," }',
            '  states = { "1,5" = 1 }\n',
            "channels[0].states: '1,5' reads as the number 1.5",
        ),
        ("csv", "", "  states = { nan = 1 }\n", "channels[0].states: 'nan' is read as nonfinite"),
        (
            "kv",
            'parse = { invalid = ["ERR"] }',
            "  states = { ERR = 1 }\n",
            "channels[0].states: 'ERR' is read as invalid already",
        ),
        ("kv", "", '  states = { "" = 1 }\n', "channels[0].states: a key must be a non-empty text"),
        (
            "kv",
            "",
            '  states = { " ON" = 1 }\n',
            "channels[0].states: key ' ON' has spaces at its ends",
        ),
        (
            "kv",
            "",
            '  states = { ON = "1" }\n',
            "channels[0].states: ON must be a number, got string",
        ),
        ("kv", "", "  states = { ON = nan }\n", "channels[0].states: ON must be a finite number"),
        ("kv", "", '  states = ["ON"]\n', "channels[0].states: must be a table of texts"),
        ("kv", "", '  not_available = ["-1"]\n', "channels[0].not_available: must be a number"),
        (
            "nmea",
            "",
            "  states = { A = 1 }\n",
            "channels[0].states: is not used by format 'nmea'",
        ),
        (
            "modbus",
            'modbus = { unit = 1 }\nregisters = [{ name = "v", table = "input", address = 0 }]',
            "  not_available = [65535]\n",
            "channels[0].not_available: is not used by format 'modbus': a register's values",
        ),
    ],
)
def test_states_and_not_available_are_checked_naming_the_channel(
    fmt: str, extra: str, channel: str, problem: str
) -> None:
    field = "GGA.altitude" if fmt == "nmea" else "v"
    problems = problems_of(fmt, extra, [channel_toml("v", field=field) + channel])
    assert any(p.startswith(f"sensors[0].{problem}") for p in problems), problems


def test_channels_of_one_field_need_the_same_states_and_not_available() -> None:
    channels = [
        channel_toml("relay", field="Relay") + RELAY,
        channel_toml("again", field="Relay") + "  states = { ON = 1 }\n  not_available = [2]\n",
    ]
    assert problems_of("kv", "", channels) == [
        "sensors[0].channels[1].states: channel 'relay' reads the same field with other states: "
        "a field is read once, so give both the same states",
        "sensors[0].channels[1].not_available: channel 'relay' reads the same field with other "
        "not_available: a field is read once, so give both the same not_available",
    ]


def test_sensord_check_names_the_channel_whose_state_is_a_number(tmp_path: Path) -> None:
    path = tmp_path / "relay.toml"
    channel = channel_toml("fan", field="F") + RELAY
    path.write_text(sensor_toml("box", "/dev/ttyUSB0", "kv", "", [channel_toml("t"), channel]))
    assert sensord_cli("check", "--no-devices", str(path)).returncode == 0
    path.write_text(path.read_text().replace("OFF = 0", '"0" = 0'))
    result = sensord_cli("check", "--no-devices", str(path))
    assert result.returncode == 1
    assert (
        f"{path}: sensors[0].channels[1].states (sensor 'box'): '0' reads as the number 0: "
        "a state is a text that is no number"
    ) in result.stderr, result.stderr


def test_states_keep_their_texts_and_numbers_as_written() -> None:
    """The table as the file gives it, its order kept, an integer and a float each as given."""
    table: dict[str, Any] = {
        "name": "s",
        "port": "sim://s",
        "format": "kv",
        "channels": [{"name": "relay", "states": {"ON": 1, "OFF": 0.5}}],
    }
    [channel] = load_sensors(table).sensors[0].channels
    assert channel.states == (("ON", 1), ("OFF", 0.5))


# -- the README's battery ------------------------------------------------------------------------


def test_the_readme_battery_publishes_relay_and_time_to_go_of_real_bmv_blocks() -> None:
    """The README's battery on a BMV-702 (discharging: TTG 942 minutes) then a BMV-712
    (charging: TTG -1): the relay's OFF is 0, the time to go in seconds (-1 is matched before
    normalize), then no value."""
    rt = runtime(sensor_of(README["battery"]))
    rt.feed(BMV702)
    assert latest(rt)["time_to_go_seconds"] == 942 * 60
    assert latest(rt)["relay_closed"] == 0.0
    assert counts(rt)["errors"] == {}
    rt.feed(BMV712)
    assert counts(rt)["errors"] == {"invalid": 1}
    assert {c.name: c.available for c in rt.snapshot().channels} == {
        "battery_voltage_v": True,
        "battery_current_a": True,
        "state_of_charge_percent": True,
        "time_to_go_seconds": False,
        "relay_closed": True,
    }


def test_the_readme_battery_on_a_pty_publishes_the_state_and_counts_ttg_invalid(
    pty_pair: PtyPair,
) -> None:
    """End to end on a real port: the README's battery table as written (on the pty's path),
    its device a pty that sends a BMV-712's blocks (Relay OFF, TTG -1), then a BMV-702's."""
    config = load_sensors({**README["battery"], "port": pty_pair.path, "simulate": "never"})
    clock = PortClock()
    rt = SensorRuntime(config.sensors[0], clock=clock)
    assert rt.try_open()
    try:
        send(rt, pty_pair, BMV712 + b"\r\n")
        snap = rt.snapshot()
        assert snap.parse_errors["invalid"] == 1
        assert {c.name: c.available for c in snap.channels}["time_to_go_seconds"] is False
        assert latest(rt)["relay_closed"] == 0.0
        clock.now += 1.0
        send(rt, pty_pair, BMV702 + b"\r\n")
        assert latest(rt)["time_to_go_seconds"] == 942 * 60
        assert all(c.available for c in rt.snapshot().channels)
        assert rt.snapshot().parse_errors["invalid"] == 1
    finally:
        rt.stop()


def test_sensord_check_names_the_readme_battery_s_relay_state_that_is_a_number(
    tmp_path: Path,
) -> None:
    [block] = [b for b in readme_toml_blocks() if 'name = "battery"' in b]
    path = tmp_path / "victron.toml"
    path.write_text(block)
    assert sensord_cli("check", "--no-devices", str(path)).returncode == 0
    path.write_text(block.replace("OFF = 0", '"0" = 0'))
    result = sensord_cli("check", "--no-devices", str(path))
    assert result.returncode == 1
    assert (
        f"{path}: sensors[0].channels[4].states (sensor 'battery'): '0' reads as the number 0"
    ) in result.stderr, result.stderr


@pytest.mark.parametrize(
    ("fmt", "extra", "where"),
    [
        ("kv", "", 'channels[].not_available), as in channels = [{ name = "v", not_available'),
        (
            "modbus",
            'modbus = { unit = 1 }\nregisters = [{ name = "v", table = "input", address = 0 }]',
            'registers[].not_available), as in registers = [{ name = "v", not_available',
        ),
    ],
)
def test_not_available_in_the_sensor_s_table_is_told_the_entries_of_its_format(
    fmt: str, extra: str, where: str
) -> None:
    """A key that a text channel and a Modbus register both take, written in the sensor's
    table: a Modbus sensor is told its registers, any other its channels."""
    problems = problems_of(fmt, f"not_available = [-1]\n{extra}", [channel_toml("v")])
    assert any(
        p.startswith("sensors[0].not_available: unknown key; 'not_available' belongs in each ")
        and where in p
        for p in problems
    ), problems


# -- simulation ----------------------------------------------------------------------------------

STATE_CHANNEL = {"name": "relay", "field": "relay", "states": {"ON": 1, "OFF": 0}}
NUMBER_CHANNEL = {"name": "v", "field": "v", "signal": {"center": 12.5, "amplitude": 0.5}}

SIMULATED_STATES: dict[str, dict[str, Any]] = {
    "kv": {"format": "kv", "channels": [STATE_CHANNEL, NUMBER_CHANNEL]},
    "csv": {
        "format": "csv",
        "parse": {"columns": ["relay", "v"]},
        "channels": [STATE_CHANNEL, NUMBER_CHANNEL],
    },
    "json": {"format": "json", "channels": [STATE_CHANNEL, NUMBER_CHANNEL]},
    "value": {"format": "value", "channels": [STATE_CHANNEL]},
    "value-pattern": {
        "format": "value",
        "parse": {"pattern": r"^Relay (\S+)$", "example": "Relay ON"},
        "channels": [STATE_CHANNEL],
    },
    "value-named-groups": {
        "format": "value",
        "parse": {"pattern": r"Relay (?P<relay>\S+) V (?P<v>\S+)", "example": "Relay ON V 12.5"},
        "channels": [STATE_CHANNEL, NUMBER_CHANNEL],
    },
    # a device that prints its state's number: the example shows its shape
    "value-pattern-number": {
        "format": "value",
        "parse": {"pattern": r"^Relay ([0-9.]+)$", "example": "Relay 1.0"},
        "channels": [STATE_CHANNEL],
    },
    "kv-block": README["battery"],
}


def simulated_relay(table: dict[str, Any], seconds: float) -> tuple[SensorRuntime, list[float]]:
    """The sensor ``table`` on ``sim://``, sending 2 frames a second, read every 50 ms of
    injected time for ``seconds``: the runtime, and the relay's value after each read that
    gave it a reading (each read takes at most one frame, so each reading it published)."""
    config = sensor_of({"name": "s", "sampling_rate_hz": 2.0, **table})
    clock = Clock()
    rt = SensorRuntime(config.sensors[0], clock=clock, wall_clock=clock)
    assert rt.try_open()
    assert rt.source is not None
    relay = next((c.name for c in config.sensors[0].channels if c.states), None)
    assert relay is not None, "no channel with states"
    published: list[float] = []
    end = clock.now + seconds
    while clock.now < end:
        clock.now += 0.05
        before = counts(rt)["readings"]
        rt.feed(rt.source.read())
        if counts(rt)["readings"] > before and relay in latest(rt):
            published.append(latest(rt)[relay])
    return rt, published


@pytest.mark.parametrize("table", SIMULATED_STATES.values(), ids=SIMULATED_STATES.keys())
def test_a_simulated_state_channel_publishes_its_states_numbers_in_turn(
    table: dict[str, Any],
) -> None:
    """A simulated device writes a channel with ``states`` as the word of the state nearest its
    signal (a number where its example shows one), and its signal goes from the smallest
    state's number to the largest: over two signal periods the channel publishes 1 and 0 in
    turn, and nothing else, with no parse error."""
    rt, published = simulated_relay(table, 120.0)
    assert counts(rt)["errors"] == {}
    assert counts(rt)["frames"] >= 200
    assert len(published) >= 200
    assert set(published) == {0.0, 1.0}
    turns = sum(a != b for a, b in itertools.pairwise(published))
    assert turns >= 3  # the sine crosses 0.5 at 30, 60 and 90 s; noise may add a few


def test_a_simulated_state_channel_with_a_signal_of_its_own_writes_the_nearest_state() -> None:
    """A signal given to a channel with ``states`` is used as given: of three states, a signal
    around 1.8 writes HIGH (2) mostly, MID (1) at its low points, never LOW (0)."""
    states = {"name": "level", "field": "level", "states": {"LOW": 0, "MID": 1, "HIGH": 2}}
    signal = {"center": 1.8, "amplitude": 0.4, "noise": 0.0, "period_s": 20.0}
    rt, published = simulated_relay(
        {"format": "kv", "channels": [{**states, "signal": signal}]}, 40.0
    )
    assert counts(rt)["errors"] == {}
    assert set(published) == {1.0, 2.0}
    assert published.count(2.0) > published.count(1.0)


@pytest.mark.parametrize(
    ("fmt", "line"),
    [("kv", b"level=MID,v=0.400"), ("csv", b"MID,0.400"), ("json", b'{"level":"MID","v":0.4}')],
)
def test_the_encoder_writes_the_word_of_the_nearest_state(fmt: str, line: bytes) -> None:
    states = {"name": "level", "field": "level", "states": {"LOW": 0, "MID": 1, "HIGH": 2}}
    table: dict[str, Any] = {"name": "s", "format": fmt, "channels": [states, {"name": "v"}]}
    if fmt == "csv":
        table["parse"] = {"columns": ["level", "v"]}
    spec = sensor_of(table).sensors[0].format_spec()
    encode = codec_for(fmt).encoder(spec)
    assert encode({"level": 0.6, "v": 0.4}, 0.0) == [line]
    words = [encode({"level": x, "v": 0.4}, 0.0)[0] for x in (-7.0, 0.5, 1.49, 1.51, 99.0)]
    for word, expected in zip(words, ["LOW", "LOW", "MID", "HIGH", "HIGH"], strict=True):
        assert expected.encode() in word


def test_the_encoder_writes_the_first_word_of_a_state_s_number() -> None:
    """Of several words for one number (a device that sends ``ON`` and, from an older firmware,
    ``On``), the simulator writes the first one listed."""
    relay = {"name": "relay", "states": {"ON": 1, "On": 1, "OFF": 0, "Off": 0}}
    spec = sensor_of({"name": "s", "format": "kv", "channels": [relay]}).sensors[0].format_spec()
    encode = codec_for("kv").encoder(spec)
    assert [encode({"relay": x}, 0.0) for x in (0.9, 0.1)] == [[b"relay=ON"], [b"relay=OFF"]]


def test_the_demo_s_rain_sensor_sends_its_states() -> None:
    """The built-in demo's weather station writes its rain channel as WET and DRY, read as 1
    and 0 with no parse error: the demo runs the states' decode path."""
    [weather] = [s for s in tomllib.loads(DEMO_CONFIG)["sensors"] if s["name"] == "weather"]
    rt, published = simulated_relay(weather, 600.0)
    assert counts(rt)["errors"] == {}
    assert set(published) == {0.0, 1.0}
