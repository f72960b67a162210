"""The configuration file: keys, defaults, every kind of error with its key path."""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import tomllib
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from harness.chain import normalized
from harness.common import free_port, wait_for
from harness.daemon import StartDaemon, sensord_cli
from harness.pty import PtyPair, held_by_subprocess, run_as_user
from harness.spawn import popen
from test_frames_generic import SPS30

from sensord import cli, cli_check, cli_parser, cli_run
from sensord.config import Config, load_config, load_http_config, parse_config
from sensord.demo import DEMO_CONFIG, demo_config
from sensord.errors import ConfigError
from sensord.normalize import Normalize
from sensord.port_holders import contending_holders
from sensord.reader import BATCH_INTERVAL_S
from sensord.sensor import SensorRuntime
from sensord.sensor_source import make_device, make_source

REPO = Path(__file__).resolve().parent.parent

MINIMAL = """
[[sensors]]
name = "probe"
port = "sim://probe"
format = "value"
  [[sensors.channels]]
  name = "t"
"""


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "test.toml")
    return info.value.problems


def test_minimal_config_gets_documented_defaults() -> None:
    config = parse_config(MINIMAL)
    assert config.http.listen == "127.0.0.1"
    assert config.http.port == 9808
    assert config.metrics.step_timing_sample_every == 64
    assert config.reader.batch_interval_s == BATCH_INTERVAL_S
    sensor = config.sensors[0]
    assert sensor.simulate == "auto"
    assert sensor.terminator == b"\n"
    assert sensor.max_frame_bytes == 512
    assert sensor.serial.baudrate == 9600
    assert sensor.serial.exclusive is True
    assert sensor.reconnect.initial_delay_s == 0.5
    assert sensor.reconnect.max_delay_s == 30.0
    assert sensor.poll is None
    channel = sensor.channels[0]
    assert channel.window.size == 60
    assert channel.window.time_s is None
    assert channel.source_field == "t"
    assert sensor.stale_after == 5.0  # at least 5 s


def test_stale_after_follows_slow_sampling_rate() -> None:
    config = parse_config(
        MINIMAL.replace('format = "value"', 'format = "value"\nsampling_rate_hz = 0.1')
    )
    assert config.sensors[0].stale_after == pytest.approx(30.0)


@pytest.mark.parametrize(("requests", "stale"), [('"0R0!"', 15.0), ('["0M!", "0D0!"]', 30.0)])
def test_stale_after_spans_three_rounds_of_a_poll_s_requests(requests: str, stale: float) -> None:
    """Requests written in turn, one a poll interval: the values of one of them (an SDI-12
    sensor's data after its measure command) come once a round."""
    config = parse_config(
        MINIMAL.replace(
            'format = "value"',
            f'format = "value"\npoll = {{ request = {requests}, interval_s = 5 }}',
        )
    )
    assert config.sensors[0].stale_after == pytest.approx(stale)


def test_issue_example_reports_all_four_errors_with_key_paths() -> None:
    text = """
[[sensors]]
name = "a"
port = "sim://a"
format = "value"
sampling_rate_hz = -1
sampling_rat = 3
  [[sensors.channels]]
  name = "x"
  filter = { min = 10, max = 1 }
  window = { size = 0 }
"""
    found = problems(text)
    assert len(found) == 4
    assert any(
        p.startswith("sensors[0].sampling_rat: unknown key; did you mean 'sampling_rate_hz'")
        for p in found
    )
    assert "sensors[0].sampling_rate_hz: must be greater than 0, got -1" in found
    assert "sensors[0].channels[0].filter.min: must be less than max (1), got 10" in found
    assert "sensors[0].channels[0].window.size: must be in [1, 10000], got 0" in found


def test_second_sensor_second_channel_path() -> None:
    text = (
        MINIMAL
        + """
[[sensors]]
name = "other"
port = "sim://other"
format = "kv"
  [[sensors.channels]]
  name = "a"
  [[sensors.channels]]
  name = "b"
  window = { size = 10001 }
"""
    )
    assert problems(text) == [
        "sensors[1].channels[1].window.size: must be in [1, 10000], got 10001"
    ]


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        ('[http]\nport = "80"', "http.port: must be an integer, got string '80'"),
        ("[http]\nport = 70000", "http.port: must be in [0, 65535], got 70000"),
        ('[http]\nlisten = "not a host!"', "http.listen: must be an IP address or host name"),
        (
            '[log]\nlevel = "verbose"',
            "log.level: must be one of 'debug', 'info', 'warning', 'error', got 'verbose'",
        ),
        ('[log]\nformat = "jsno"', "did you mean 'json'?"),
        (
            "[metrics]\nstep_timing_sample_every = -1",
            "metrics.step_timing_sample_every: must be in [0, 1000000], got -1",
        ),
        ("[metrics]\nstep_timing_sample_every = true", "must be an integer, got boolean true"),
        ("[reader]\nbatch_interval_s = -0.01", "reader.batch_interval_s: must be in [0, 1]"),
        ("[reader]\nbatch_interval_s = 2", "reader.batch_interval_s: must be in [0, 1], got 2"),
        ("[reader]\nbatch_interval = 0.1", "did you mean 'batch_interval_s'?"),
    ],
)
def test_top_level_errors(snippet: str, expected: str) -> None:
    found = problems(snippet + "\n" + MINIMAL)
    assert any(expected in p for p in found), found


def test_sensors_must_be_an_array_of_tables() -> None:
    assert problems("sensors = 3") == [
        "sensors: must be an array of tables ([[sensors]]), got integer 3"
    ]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ('name = ""', "sensors[0].name: must not be empty"),
        ('name = "has space"', "sensors[0].name: must be 1-64 letters"),
        ('simulate = "sometimes"', "sensors[0].simulate: must be one of 'auto', 'always', 'never'"),
        (
            'format = "xml"',
            "sensors[0].format: must be one of 'value', 'kv', 'csv', 'json', 'nmea', 'frames', "
            "'modbus', 'dsmr', got 'xml'",
        ),
        ("sampling_rate_hz = 0", "sensors[0].sampling_rate_hz: must be greater than 0, got 0"),
        (
            'sampling_rate_hz = "fast"',
            "sensors[0].sampling_rate_hz: must be a number, got string 'fast'",
        ),
        ("sampling_rate_hz = nan", "sensors[0].sampling_rate_hz: must be a finite number"),
        ("max_frame_bytes = 8", "sensors[0].max_frame_bytes: must be in [16, 1048576], got 8"),
        ('terminator = ""', "sensors[0].terminator: must not be empty"),
        (
            "serial = { baudrate = 9600.5 }",
            "sensors[0].serial.baudrate: must be an integer, got float 9600.5",
        ),
        (
            "serial = { bytesize = 9 }",
            "sensors[0].serial.bytesize: must be one of 5, 6, 7, 8, got 9",
        ),
        (
            'serial = { parity = "X" }',
            "sensors[0].serial.parity: must be one of 'N', 'E', 'O', 'M', 'S' (in either case), "
            "got 'X'",
        ),
        (
            "serial = { stopbits = 3 }",
            "sensors[0].serial.stopbits: must be one of 1, 1.5, 2, got 3",
        ),
        ('serial = { rtscts = "yes" }', "sensors[0].serial.rtscts: must be true or false"),
        (
            "reconnect = { initial_delay_s = 60, max_delay_s = 10 }",
            "sensors[0].reconnect.initial_delay_s: must not exceed max_delay_s (10), got 60",
        ),
        ('poll = { request = "" , interval_s = 1 }', "sensors[0].poll.request: must not be empty"),
        ('poll = { request = "X" }', "sensors[0].poll.interval_s: required key is missing"),
        (
            'parse = { encoding = "klingon" }',
            "sensors[0].parse.encoding: unknown text encoding 'klingon'",
        ),
        (
            "simulation = { spike_rate = 2 }",
            "sensors[0].simulation.spike_rate: must be in [0, 1], got 2",
        ),
        (
            "parse = { example = 'T=21.5 C' }",
            "sensors[0].parse.example: is only used by format 'value' with parse.pattern",
        ),
        (
            "parse = { pattern = 'T=(\\S+) C', example = '21.5' }",
            "sensors[0].parse.example: parse.pattern does not find a number in '21.5'",
        ),
        ("parse = { example = '' }", "sensors[0].parse.example: must not be empty"),
        (
            # "[[" in a set: Python 3.11 warns that later versions read it as a nested set
            "parse = { pattern = 'T=([[0-9.]+)' }",
            "sensors[0].parse.pattern: ambiguous regular expression (Possible nested set at "
            "position 4): later Python versions read it differently; escape",
        ),
    ],
)
def test_sensor_errors(line: str, expected: str) -> None:
    text = MINIMAL.replace('format = "value"', 'format = "value"\n' + line, 1)
    if line.startswith("name ="):
        text = MINIMAL.replace('name = "probe"', line, 1)
    elif line.startswith("format ="):
        text = MINIMAL.replace('format = "value"', line, 1)
    found = problems(text)
    assert any(p.startswith(expected) for p in found), found


@pytest.mark.parametrize("encoding", ["undefined", "utf-16", "utf-32-le", "cp037", "idna"])
def test_an_encoding_that_does_not_read_ascii_from_its_bytes_is_refused(encoding: str) -> None:
    # "undefined" refuses every text: the simulated device failed to write its first line,
    # which ended the daemon's loop
    line = f'parse = {{ encoding = "{encoding}" }}'
    text = MINIMAL.replace('format = "value"', f'format = "value"\n{line}', 1)
    assert problems(text) == [
        f"sensors[0].parse.encoding: {encoding!r} does not read ASCII text from its ASCII "
        "bytes (the lines are cut at their terminator's bytes and read by their ASCII digits "
        "and separators): give an encoding that does, such as 'utf-8' (the default), "
        "'latin-1' or 'cp1252'"
    ]


@pytest.mark.parametrize("encoding", ["latin-1", "cp1252", "shift_jis", "utf-8-sig", "ascii"])
def test_an_encoding_check_accepts_reads_the_simulated_devices_lines(encoding: str) -> None:
    line = f'parse = {{ encoding = "{encoding}" }}'
    config = parse_config(MINIMAL.replace('format = "value"', f'format = "kv"\n{line}', 1))
    (sensor,) = config.sensors
    runtime = SensorRuntime(sensor)
    runtime.feed(make_device(sensor, 0.0).bytes_due(5.0))
    assert runtime.channels["t"].chain.stages[0].records_in >= 4


@pytest.mark.parametrize(
    ("table", "expected"),
    [
        (
            "filter = { min = 5, max = 5 }",
            "sensors[0].channels[0].filter.min: must be less than max (5), got 5",
        ),
        ("normalize = { scale = 0 }", "sensors[0].channels[0].normalize.scale: must not be 0"),
        (
            'normalize = { from_unit = "celsius" }',
            "sensors[0].channels[0].normalize.to_unit: from_unit and to_unit must be given together",
        ),
        (
            'normalize = { from_unit = "celsius", to_unit = "bar" }',
            "sensors[0].channels[0].normalize.to_unit: cannot convert temperature (celsius) to pressure (bar)",
        ),
        ('normalize = { from_unit = "celcius", to_unit = "kelvin" }', "did you mean 'celsius'?"),
        (
            "normalize = { range_min = 1 }",
            "sensors[0].channels[0].normalize.range_max: range_min and range_max must be given together",
        ),
        (
            "normalize = { range_min = 2, range_max = 1 }",
            "sensors[0].channels[0].normalize.range_min: must be less than range_max (1), got 2",
        ),
        (
            "normalize = { clamp = true }",
            "sensors[0].channels[0].normalize.clamp: needs range_min and range_max",
        ),
        (
            "window = { time_s = 0 }",
            "sensors[0].channels[0].window.time_s: must be greater than 0, got 0",
        ),
        (
            "window = { sizes = 3 }",
            "sensors[0].channels[0].window.sizes: unknown key; did you mean 'size'?",
        ),
    ],
)
def test_channel_errors(table: str, expected: str) -> None:
    found = problems(MINIMAL + "  " + table + "\n")
    assert any(p.startswith(expected) or expected in p for p in found), found


def test_duplicate_channel_and_simulated_port_with_never() -> None:
    text = """
[[sensors]]
name = "a"
port = "sim://a"
format = "kv"
simulate = "never"
  [[sensors.channels]]
  name = "x"
  [[sensors.channels]]
  name = "x"
"""
    found = problems(text)
    assert "sensors[0].channels[1].name: 'x' is already used by channels[0]" in found
    assert "sensors[0].simulate: is 'never' but port is a simulated port (sim://a)" in found


def test_cross_sensor_invariants() -> None:
    sensor = """
[[sensors]]
name = "{name}"
port = "{port}"
format = "value"
  [[sensors.channels]]
  name = "x"
"""
    text = (
        sensor.format(name="a", port="/dev/ttyUSB0")
        + sensor.format(name="a", port="sim://a")
        + sensor.format(name="c", port="/dev/ttyUSB0")
    )
    found = problems(text)
    assert found == [
        "sensors[1].name: 'a' is already used by sensors[0]",
        "sensors[2].port: '/dev/ttyUSB0' is already used by sensors[0]"
        " (two sensors cannot share one port: give each sensor the port of its own device, or "
        "read the values one device sends as channels of one sensor)",
    ]


def test_every_error_is_reported_at_once_and_only_what_is_wrong() -> None:
    """A sensor with errors of its own does not hide that its name is taken; a preset name
    with a typo is that error alone, not also the keys the preset would have filled in."""
    text = """
[[sensors]]
name = "a"
port = "sim://a"
format = "value"
channels = [{ name = "v" }, { name = "v" }]

[[sensors]]
name = "a"
port = "sim://b"
preset = "pms500"
"""
    assert problems(text) == [
        "sensors[0].channels[1].name: 'v' is already used by channels[0]",
        "sensors[0].channels[1].field: format 'value' takes exactly one channel, unless "
        "parse.pattern has a named group for each channel's field: (?P<field>...)",
        "sensors[1].preset: must be one of 'pms5003', 'pms7003', 'pmsa003', 'pms5003t', "
        "'pms5003s', 'pms5003st', 'pms3003', 'sds011', 'mhz19', got 'pms500'; did you mean "
        "'pms5003'?",
        "sensors[1].name: 'a' is already used by sensors[0]",
    ]


def test_no_sensors_and_missing_keys() -> None:
    assert problems("") == [
        "sensors: required key is missing: add a [[sensors]] table for each device "
        "('sensord demo-config' prints an example)"
    ]
    assert problems("sensors = []") == ["sensors: needs at least one entry"]
    found = problems("[[sensors]]\nname = 'a'\n")
    assert "sensors[0].port: required key is missing" in found
    assert (
        "sensors[0].format: required key is missing: give the protocol the device speaks, one "
        "of value, kv, csv, json, nmea, frames, modbus, dsmr (a known binary sensor takes a "
        'preset instead: preset = "pms5003")'
    ) in found
    assert (
        "sensors[0].channels: required key is missing: add a [[sensors.channels]] table below "
        "the sensor's keys for each value the device sends, with its name: "
        'name = "temperature_celsius"'
    ) in found


def test_a_sensor_of_an_inline_array_without_channels_is_told_to_write_them_inline() -> None:
    """After an inline ``sensors = [...]``, TOML refuses a ``[[sensors.channels]]`` table:
    the channels are told to go in the sensor's inline table. A file of ``[[sensors]]``
    tables, even one that also names the key inline elsewhere, is told the header."""
    inline = 'sensors = [{ name = "a", port = "sim://a", format = "value" }]\n'
    assert problems(inline) == [
        "sensors[0].channels: required key is missing: the sensors are an inline array, so "
        "each sensor's channels go in its inline table, one for each value the device sends, "
        'with its name: channels = [{ name = "temperature_celsius" }]'
    ]
    tables = '[[sensors]]\nname = "a"\nport = "sim://a"\nformat = "value"\n'
    assert problems(tables) == [
        "sensors[0].channels: required key is missing: add a [[sensors.channels]] table below "
        "the sensor's keys for each value the device sends, with its name: "
        'name = "temperature_celsius"'
    ]


def test_value_format_needs_exactly_one_channel() -> None:
    found = problems(MINIMAL + "  [[sensors.channels]]\n  name = 'u'\n")
    assert any("channels" in p or "format" in p for p in found), found


def test_invalid_toml_names_the_line() -> None:
    found = problems("[[sensors]\nname = 1")
    assert len(found) == 1
    assert found[0].startswith("not valid TOML:")
    assert "line 1" in found[0]


def test_terminator_and_poll_escapes_in_literal_strings() -> None:
    text = MINIMAL.replace(
        'format = "value"',
        "format = \"value\"\nterminator = '\\r\\n'\npoll = { request = 'READ?\\x03', interval_s = 2 }",
    )
    sensor = parse_config(text).sensors[0]
    assert sensor.terminator == b"\r\n"
    assert sensor.poll is not None
    assert sensor.poll.request == (b"READ?\x03",)


def test_assignment_after_load_is_validated() -> None:
    config = parse_config(MINIMAL)
    window = config.sensors[0].channels[0].window
    with pytest.raises(ValueError, match=r"must be in \[1, 10000\], got 0"):
        window.size = 0
    assert window.size == 60


def test_equality_is_by_value() -> None:
    assert parse_config(MINIMAL) == parse_config(MINIMAL)
    changed = parse_config(MINIMAL.replace('name = "t"', 'name = "t"\n  window = { size = 5 }'))
    assert parse_config(MINIMAL).sensors[0] != changed.sensors[0]


def test_load_config_file_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file does not exist"):
        load_config(tmp_path / "missing.toml")
    with pytest.raises(ConfigError, match="is a directory"):
        load_config(tmp_path)
    bad = tmp_path / "latin1.toml"
    bad.write_bytes(b"# caf\xe9\n")
    with pytest.raises(ConfigError, match="not UTF-8"):
        load_config(bad)


def test_example_config_and_demo_are_valid() -> None:
    config = load_config(REPO / "systemd" / "sensord.toml")
    assert isinstance(config, Config)
    assert {s.format for s in demo_config().sensors} == {
        "value",
        "kv",
        "csv",
        "json",
        "nmea",
        "frames",
        "modbus",
    }
    assert {s.preset for s in demo_config().sensors} == {None, "pms5003", "mhz19"}
    assert "[[sensors]]" in DEMO_CONFIG


def test_example_config_shows_the_defaults_it_says_it_shows() -> None:
    """The example says every key shows its default unless its comment says otherwise: the
    daemon-wide sections' keys equal the defaults, and a key of the first sensor (the one
    that shows a sensor's keys) whose value is not the default says so in its comment."""
    path = REPO / "systemd" / "sensord.toml"
    text = path.read_text()
    raw = tomllib.loads(text)
    example = load_config(path)
    first = raw["sensors"][0]
    channel_name = first["channels"][0]["name"]
    defaults = parse_config(
        f'[[sensors]]\nname = "s"\nport = "sim://s"\nformat = "value"\n'
        f'[[sensors.channels]]\nname = "{channel_name}"\n'
    )
    for section in ("http", "log", "metrics", "reader", "capture"):
        for key in raw.get(section, {}):
            shown, default = getattr(example, section), getattr(defaults, section)
            assert getattr(shown, key) == getattr(default, key), f"[{section}] {key}"
    sensor, default_sensor = example.sensors[0], defaults.sensors[0]
    window, default_window = sensor.channels[0].window, default_sensor.channels[0].window
    differing = [
        key
        for key, value in first.items()
        if not isinstance(value, (dict, list))
        and key not in ("name", "port", "format")
        and getattr(sensor, key) != getattr(default_sensor, key)
    ] + [
        key
        for key in first["channels"][0].get("window", {})
        if getattr(window, key) != getattr(default_window, key)
    ]
    assert differing  # the example shows a sensor's own settings too
    block = text[text.index(f'name = "{first["name"]}"') :].split("\n# ---", 1)[0]
    for key in differing:
        line = re.search(rf"^ *{key} = .*$", block, re.MULTILINE)
        assert line is not None, key
        assert "default" in line[0].partition("#")[2], f"{key} is not its default and says not"


def test_check_command_on_example_exits_0(tmp_path: Path) -> None:
    """The example's devices are checked too: its serial adapters are absent and simulated,
    and its Modbus TCP gateway, moved here to a loopback port nothing listens on (the example's
    192.0.2.10 is no host to send to from a test), refuses the connection: a device sensord
    retries while it runs, exit 0."""
    example = (REPO / "systemd" / "sensord.toml").read_text()
    gateway = "modbus-tcp://192.0.2.10:502"
    assert gateway in example
    closed = f"modbus-tcp://127.0.0.1:{free_port()}"
    path = tmp_path / "sensord.toml"
    path.write_text(example.replace(gateway, closed))
    result = sensord_cli("check", str(path))
    assert result.returncode == 0, result.stderr
    assert "configuration is valid" in result.stdout
    for meter in ("meter_main", "meter_heat_pump"):
        assert (
            f"device {meter}: {closed} does not accept a connection now (Connection refused); "
            "sensord retries it while it runs\n"
        ) in result.stdout
    # a polled sensor is described by its poll interval, a preset's by its preset
    assert " format=kv polled every 5 s " in result.stdout
    assert " format=frames preset=pms5003 rate=1 Hz " in result.stdout
    # a frame spec of the file's own is shown in hex, to compare with the datasheet
    assert "      frame: starts 16 11 0b, 20 bytes, twos8 from byte 0\n" in result.stdout


def test_check_shows_a_frame_spec_and_its_poll_in_hex(tmp_path: Path) -> None:
    """An SPS30's spec (length field, end byte, status byte) and the bytes its poll writes,
    as its datasheet writes them."""
    path = tmp_path / "sps30.toml"
    spec = SPS30.replace('port = "/dev/ttyUSB0"', 'port = "sim://sps30"')
    path.write_text(spec.replace("status_ok = [0]", "status_mask = 0x7f\n  status_ok = [0]"))
    result = sensord_cli("check", str(path))
    assert result.returncode == 0, result.stderr
    assert (
        "      frame: starts 7e 00 03, length field at 4 (1 byte: the bytes after it +2), "
        "ones8 from byte 1, ends 7e, status at 3 masked 7f valid 00\n"
        "      poll writes: 7e 00 03 00 fc 7e\n"
    ) in result.stdout, result.stdout


def test_check_command_lists_every_error_and_exits_1(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(
        MINIMAL.replace(
            'format = "value"', 'format = "value"\nsampling_rate_hz = -2\nbaudrate = 9600'
        )
        + "  window = { size = 0 }\n  filter = { min = 3, max = 1 }\n"
    )
    result = sensord_cli("check", str(bad))
    assert result.returncode == 1
    err = result.stderr
    assert "4 configuration errors" in err
    for key in (
        "sensors[0].sampling_rate_hz",
        "sensors[0].baudrate (sensor 'probe'): unknown key; did you mean 'serial.baudrate'?",
        "sensors[0].channels[0].window.size",
        "sensors[0].channels[0].filter.min",
    ):
        assert key in err


def test_check_command_device_problems(tmp_path: Path) -> None:
    cfg = tmp_path / "dev.toml"
    regular = tmp_path / "not-a-tty"
    regular.write_text("x")
    cfg.write_text(
        MINIMAL.replace('"sim://probe"', f'"{regular}"').replace(
            'format = "value"', 'format = "value"\nsimulate = "never"'
        )
    )
    result = sensord_cli("check", str(cfg))
    assert result.returncode == 1
    assert (
        f"{cfg}: sensors[0].port (sensor 'probe'): {regular} is not a character device (it is a "
        "regular file)"
    ) in result.stdout
    assert f"{cfg}: device check failed" in result.stderr


def _help_of(capsys: pytest.CaptureFixture[str], *command: str) -> str:
    """What ``sensord COMMAND --help`` prints, from ``cli.main`` in this process, wrapped at
    80 columns as a command whose output is no terminal has it."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COLUMNS", "80")
        with pytest.raises(SystemExit) as exited:
            cli.main([*command, "--help"])
    assert exited.value.code == 0
    out: str = capsys.readouterr().out
    return out


def test_help_explains_commands(capsys: pytest.CaptureFixture[str]) -> None:
    result = sensord_cli("--help")  # the entry point of the installed command
    assert result.returncode == 0
    for word in ("run", "check", "ports", "simulate", "exit codes", "SIGHUP"):
        assert word in result.stdout
    run_help = _help_of(capsys, "run")
    assert "--config" in run_help
    assert "built-in demo" in run_help
    # every command that reads a config file shows -c in its help
    for command in ("run", "check", "ports", "simulate"):
        assert "-c CONFIG" in _help_of(capsys, command), command


def test_help_says_what_an_option_does_and_its_default(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``--seconds`` said nothing of running until stopped, ``record --format`` neither its
    default nor that it only labels the capture, ``modbus read --count`` not its limits."""

    def help_of(*command: str) -> str:
        # argparse wraps at the terminal's width
        return " ".join(_help_of(capsys, *command).split())

    simulate = help_of("simulate")
    assert "--seconds S stop after this many seconds (default: run until Ctrl-C or SIGTERM)" in (
        simulate
    )
    assert "--rate HZ frames per second the device sends on its own (default: the sensor's " in (
        simulate
    )
    record = help_of("record")
    assert "--seconds S stop after this many seconds (default: record until Ctrl-C or " in record
    assert (
        "a label only: written to the capture's header as 'format: NAME' (default: unknown); it "
        "changes nothing that is recorded, nor how the capture replays"
    ) in record
    assert "--interval-s S with --request: seconds between requests (default 1)" in record
    modbus = help_of("modbus", "read")
    assert (
        "--count N how many registers (1..125) or coils and discrete inputs (1..2000) to read "
        "(default 1)"
    ) in modbus
    assert "--baudrate BAUDRATE serial speed (default: that of --sensor, else 9600)" in modbus


def test_ports_and_check_commands_on_a_pty(tmp_path: Path) -> None:
    with PtyPair() as pair:
        device = pair.path
        cfg = tmp_path / "pty.toml"
        cfg.write_text(MINIMAL.replace('"sim://probe"', f'"{device}"'))
        ports = sensord_cli("ports", "-c", str(cfg))
        assert ports.returncode == 0
        line = next(line for line in ports.stdout.splitlines() if line.startswith(device + " "))
        assert line.rstrip().endswith("probe")
        # this test process plays the device (it holds the pty's master, and its slave): no
        # conflict; another process with the port open is one, named in plain words
        assert sensord_cli("check", str(cfg)).returncode == 0
        with held_by_subprocess(device) as holder:
            check = sensord_cli("check", str(cfg))
        assert check.returncode == 1
        assert f"is held by another process: pid {holder.pid}" in check.stdout


def test_check_of_two_files_is_a_usage_error(tmp_path: Path) -> None:
    """``sensord check a.toml -c b.toml`` checked one of them and said nothing of the other."""
    good = tmp_path / "good.toml"
    good.write_text(MINIMAL)
    bad = tmp_path / "bad.toml"
    bad.write_text(MINIMAL.replace('format = "value"', 'format = "vaule"'))
    result = sensord_cli("check", str(good), "-c", str(bad))
    assert result.returncode == 2
    assert f"check takes one file: {good} or -c {bad}" in result.stderr
    assert result.stderr.startswith("usage: sensord check "), result.stderr  # not sensord's
    assert sensord_cli("check", str(good), "-c", str(good)).returncode == 0


def _check_stdin(text: str, *args: str) -> subprocess.CompletedProcess[str]:
    """``sensord check ARGS`` with ``text`` on its standard input (``cat FILE | sensord
    check -``)."""
    return subprocess.run(
        [sys.executable, "-m", "sensord", "check", *args],
        input=text,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NO_COLOR": "1"},
        check=False,
    )


def test_check_reads_the_file_from_standard_input_named_stdin(tmp_path: Path) -> None:
    """``cat new.toml | sensord check -`` (and ``-c -``) checks what is piped in, a generated
    configuration that is no file yet, and names it ``<stdin>`` in every message."""
    valid = _check_stdin(MINIMAL, "-")
    assert valid.returncode == 0, valid.stderr
    assert valid.stdout.startswith("<stdin>: configuration is valid\n")
    assert "    probe: sim://probe format=value " in valid.stdout

    invalid = _check_stdin(MINIMAL.replace('format = "value"', 'format = "vaule"'), "-c", "-")
    assert invalid.returncode == 1
    assert invalid.stderr.startswith(
        "sensord: invalid configuration: <stdin>: sensors[0].format (sensor 'probe'): "
    ), invalid.stderr
    assert "did you mean 'value'?" in invalid.stderr

    regular = tmp_path / "not-a-tty"
    regular.write_text("x")
    device = _check_stdin(
        MINIMAL.replace('"sim://probe"', f'"{regular}"').replace(
            'format = "value"', 'format = "value"\nsimulate = "never"'
        ),
        "-",
    )
    assert device.returncode == 1
    assert (
        f"<stdin>: sensors[0].port (sensor 'probe'): {regular} is not a character device (it "
        "is a regular file)"
    ) in device.stdout
    assert "<stdin>: device check failed" in device.stderr

    empty = _check_stdin("", "-")
    assert empty.returncode == 1
    assert empty.stderr == (
        "sensord: invalid configuration: <stdin>: standard input is empty: pipe the "
        "configuration in (cat sensord.toml | sensord check -), or name its file\n"
    )


def test_ports_lists_the_ports_when_the_config_is_not_valid(tmp_path: Path) -> None:
    """A file with a mistake (being edited: the port is what is wrong) still has ``sensord
    ports`` list the ports, which tell which port is which; the errors are printed and the
    exit code is 1."""
    with PtyPair() as pair:
        cfg = tmp_path / "typo.toml"
        cfg.write_text(
            MINIMAL.replace('"sim://probe"', f'"{pair.path}"').replace(
                'format = "value"', 'format = "value"\nsampling_rat = 2'
            )
        )
        result = sensord_cli("ports", "-c", str(cfg))
    assert result.returncode == 1
    assert "sensors[0].sampling_rat (sensor 'probe'): unknown key" in result.stderr
    assert f"{cfg} is not valid: the ports are listed without the sensors that use them" in (
        result.stderr
    )
    assert result.stdout.startswith(("DEVICE ", "no serial ports found"))


def test_check_refuses_one_device_named_twice_through_a_link(tmp_path: Path) -> None:
    """A /dev/serial/by-id link and the device it points to are one device: the second
    sensor could never open it (the first holds it exclusively), so ``check`` fails and names
    both sensors' keys and the file."""
    with PtyPair() as pair:
        link = tmp_path / "usb-FTDI_FT232R_A50285BI-if00-port0"
        link.symlink_to(pair.path)
        cfg = tmp_path / "twice.toml"
        cfg.write_text(
            MINIMAL.replace('"sim://probe"', f'"{link}"')
            + MINIMAL.replace('"probe"', '"other"').replace('"sim://probe"', f'"{pair.path}"')
        )
        result = sensord_cli("check", str(cfg))
    assert result.returncode == 1
    assert (
        f"{cfg}: sensors[1].port (sensor 'other'): {pair.path} is the device of sensors[0].port (sensor 'probe', {link}"
        in result.stdout
    )
    assert f"{cfg}: device check failed" in result.stderr


def test_ports_names_configured_devices_that_are_not_there(tmp_path: Path) -> None:
    gone = tmp_path / "ttyGONE"
    cfg = tmp_path / "gone.toml"
    cfg.write_text(MINIMAL.replace('"sim://probe"', f'"{gone}"'))
    result = sensord_cli("ports", "-c", str(cfg))
    assert result.returncode == 0
    assert f"configured devices not on this machine:\n  probe: {gone} does not exist" in (
        result.stdout
    )


def test_parse_example_shapes_the_simulated_frames() -> None:
    with_pattern = MINIMAL.replace(
        'format = "value"', "format = \"value\"\nparse = { pattern = 'T=(\\S+) C' }"
    )
    bare = make_source(parse_config(with_pattern).sensors[0], lambda: 0.0, simulated=True)
    example = with_pattern.replace("C' }", "C', example = '#1 T=0.0 C' }")
    filled = make_source(parse_config(example).sensors[0], lambda: 0.0, simulated=True)
    with bare, filled:
        plain, framed = bare.read(), filled.read()
    assert abs(float(plain) - 20.0) < 2.0  # the bare number of the default signal
    # the example around it, the number with the example's one decimal
    assert framed == b"#1 T=" + b"%.1f" % float(plain) + b" C\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "99999"], "argument --port: must be in [0, 65535], got 99999"),
        (["--port", "abc"], "argument --port: must be a whole number, got 'abc'"),
        (["--listen", "bad host!"], "argument --listen: must be an IP address or host name"),
    ],
)
def test_bad_listen_and_port_options_are_usage_errors(args: list[str], message: str) -> None:
    result = sensord_cli("run", *args)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


# -- load_config's file problems, in this process -----------------------------------------------


def _load_error(path: Path) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        load_config(path)
    return info.value


def test_load_config_names_the_file_and_the_problem(tmp_path: Path) -> None:
    regular = tmp_path / "regular"
    regular.write_text("x")
    cases = {
        tmp_path / "missing.toml": "file does not exist",
        tmp_path: "is a directory, not a file",
        regular / "below-a-file.toml": "cannot read the file: Not a directory",
        Path("/dev/null"): "is not a regular file",
    }
    binary = tmp_path / "binary.toml"
    binary.write_bytes(b'[log]\nlevel = "info"\n\xff\n')
    cases[binary] = "is not UTF-8 text (byte 21)"
    broken = tmp_path / "broken.toml"
    broken.write_text("x = \n")
    for path, problem in cases.items():
        error = _load_error(path)
        assert (error.source, error.problems, str(error)) == (
            str(path),
            [problem],
            f"{path}: {problem}",
        )
    error = _load_error(broken)
    assert error.source == str(broken)
    assert error.problems[0].startswith("not valid TOML: ")


def test_load_config_refuses_a_password_every_user_may_read(tmp_path: Path) -> None:
    path = tmp_path / "sensord.toml"
    path.write_text('[http]\nbasic_auth_username = "u"\nbasic_auth_password = "p"\n' + MINIMAL)
    path.chmod(0o644)
    error = _load_error(path)
    assert error.problems == [
        "http.basic_auth_password: the file holds a password but every user may read it "
        f"(mode 0644); run: chmod o-r {path}"
    ]
    assert error.source == str(path)
    path.chmod(0o640)
    assert load_config(path).http.basic_auth_password == "p"


def test_a_password_every_user_may_read_is_refused_with_the_file_s_other_errors(
    tmp_path: Path,
) -> None:
    """The file mode is reported with the errors of a file that does not load, not only once
    they are fixed; its password is never shown."""
    path = tmp_path / "sensord.toml"
    path.write_text(
        '[http]\nbasic_auth_username = "u"\nbasic_auth_password = "s3cret-pw"\nport = "x"\n'
        + MINIMAL.replace('format = "value"', 'format = "valeu"')
    )
    path.chmod(0o644)
    error = _load_error(path)
    assert error.problems == [
        "http.basic_auth_password: the file holds a password but every user may read it "
        f"(mode 0644); run: chmod o-r {path}",
        "http.port: must be an integer, got string 'x'",
        "sensors[0].format: must be one of 'value', 'kv', 'csv', 'json', 'nmea', 'frames', "
        "'modbus', 'dsmr', got 'valeu'; did you mean 'value'?",
    ]
    assert "s3cret-pw" not in str(error)
    path.chmod(0o640)  # the other errors alone
    assert _load_error(path).problems == error.problems[1:]


# -- what the simulation of a sensor is built from -----------------------------------------------


def _channel(filter_table: str, signal_table: str = "") -> str:
    return MINIMAL + f"  filter = {{ {filter_table} }}\n  signal = {{ {signal_table} }}\n"


@pytest.mark.parametrize(
    ("filter_table", "signal_table", "want"),
    [
        ("min = 10, max = 30", "", (20.0, 5.0, 0.25, 60.0, 0.0)),
        ("min = 10", "", (20.0, 5.0, 0.25, 60.0, 0.0)),
        ("max = 30", "", (20.0, 5.0, 0.25, 60.0, 0.0)),
        ("min = 100", "", (110.0, 5.0, 0.25, 60.0, 0.0)),
        ("max = -100", "", (-110.0, 5.0, 0.25, 60.0, 0.0)),
        ("", "", (20.0, 5.0, 0.25, 60.0, 0.0)),
        ("min = -1e308, max = 1e308", "", (0.0, 5e307, 2.5e306, 60.0, 0.0)),
        ("min = 0, max = 8", "center = 1, amplitude = 2, noise = 0.5", (1.0, 2.0, 0.5, 60.0, 0.0)),
        ("min = 0, max = 8", "period_s = 9, drift_per_s = 0.1", (4.0, 2.0, 0.1, 9.0, 0.1)),
        ("min = 0, max = 8", "amplitude = 0", (4.0, 0.0, 0.0, 60.0, 0.0)),
    ],
)
def test_simulated_signal_follows_the_filter_bounds_unless_given(
    filter_table: str, signal_table: str, want: tuple[float, ...]
) -> None:
    channel = parse_config(_channel(filter_table, signal_table)).sensors[0].channels[0]
    spec = channel.signal_spec()
    assert (spec.center, spec.amplitude, spec.noise, spec.period_s, spec.drift_per_s) == want


def test_simulation_seed_defaults_to_the_sensor_name() -> None:
    sensor = parse_config(MINIMAL).sensors[0]
    assert sensor.simulation_spec().seed == zlib.crc32(b"probe")
    seeded = parse_config(
        MINIMAL.replace('format = "value"', 'format = "value"\nsimulation = { seed = 7 }')
    )
    assert seeded.sensors[0].simulation_spec().seed == 7


def test_simulated_sensors_may_share_a_port_url_devices_may_not() -> None:
    two = MINIMAL + MINIMAL.replace('name = "probe"', 'name = "other"')
    config = parse_config(two)
    assert config.sensor("other").port == config.sensor("probe").port == "sim://probe"
    with pytest.raises(KeyError, match="missing"):
        config.sensor("missing")
    assert problems(two.replace("sim://probe", "/dev/ttyS9")) == [
        "sensors[1].port: '/dev/ttyS9' is already used by sensors[0] (two sensors cannot share "
        "one port: give each sensor the port of its own device, or read the values one device "
        "sends as channels of one sensor)"
    ]


def test_http_settings_that_go_together(tmp_path: Path) -> None:
    pem = tmp_path / "file.pem"
    pem.write_text("x")
    cases = {
        f'tls_cert_file = "{pem}"': [
            "http.tls_key_file: tls_cert_file and tls_key_file must be given together"
        ],
        f'tls_key_file = "{pem}"': [
            "http.tls_cert_file: tls_cert_file and tls_key_file must be given together"
        ],
        f'tls_cert_file = "{tmp_path}/no.pem"\ntls_key_file = "{pem}"': [
            f"http.tls_cert_file: {tmp_path}/no.pem is not a readable file"
        ],
        f'tls_cert_file = "{pem}"\ntls_key_file = "{tmp_path}/no.pem"': [
            f"http.tls_key_file: {tmp_path}/no.pem is not a readable file"
        ],
        'basic_auth_username = "u"': [
            "http.basic_auth_password: basic_auth_username and basic_auth_password must be "
            "given together"
        ],
        'basic_auth_password = "p"': [
            "http.basic_auth_username: basic_auth_username and basic_auth_password must be "
            "given together"
        ],
    }
    for table, want in cases.items():
        assert problems(f"[http]\n{table}\n" + MINIMAL) == want, table


def tls_files(tmp_path: Path) -> dict[str, Path]:
    """A self-signed certificate and its key, another key, the key encrypted with a
    passphrase, and a file that is no PEM at all."""

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=tmp_path)

    ec = ("-pkeyopt", "ec_paramgen_curve:prime256v1")
    openssl("req", "-x509", "-newkey", "ec", *ec, "-nodes", "-days", "2", "-subj", "/CN=x",
            "-keyout", "key.pem", "-out", "cert.pem")  # fmt: skip
    openssl("genpkey", "-algorithm", "EC", *ec, "-out", "other.pem")
    openssl("pkey", "-in", "key.pem", "-aes256", "-passout", "pass:secret", "-out", "enc.pem")
    (tmp_path / "junk.pem").write_text("not a certificate\n")
    return {name: tmp_path / f"{name}.pem" for name in ("cert", "key", "other", "enc", "junk")}


def test_tls_files_the_server_cannot_serve_with_are_refused_naming_the_key(
    tmp_path: Path,
) -> None:
    pem = tls_files(tmp_path)

    def tls(cert: Path, key: Path) -> str:
        return f'[http]\ntls_cert_file = "{cert}"\ntls_key_file = "{key}"\n' + MINIMAL

    assert parse_config(tls(pem["cert"], pem["key"])).http.tls_key_file == str(pem["key"])
    os.chmod(pem["key"], 0o644)  # the private key readable by every user: refused
    assert problems(tls(pem["cert"], pem["key"])) == [
        f"http.tls_key_file: every user may read the private key {pem['key']} (mode 0644); "
        f"run: chmod o-r {pem['key']}"
    ]
    os.chmod(pem["key"], 0o600)
    assert problems(tls(pem["cert"], pem["other"])) == [
        f"http.tls_key_file: {pem['other']} is not the private key of the certificate in "
        f"{pem['cert']}"
    ]
    assert problems(tls(pem["junk"], pem["key"])) == [
        f"http.tls_cert_file: {pem['junk']} holds no PEM certificate (-----BEGIN CERTIFICATE-----)"
    ]
    assert problems(tls(pem["cert"], pem["junk"])) == [
        f"http.tls_key_file: {pem['junk']} holds no PEM private key (-----BEGIN PRIVATE KEY-----)"
    ]
    # refused, not asked for on the terminal (which would hold the start up)
    assert problems(tls(pem["cert"], pem["enc"])) == [
        f"http.tls_key_file: {pem['enc']} is encrypted with a passphrase, which sensord cannot "
        f"be given: store it decrypted (openssl pkey -in {pem['enc']} -out NEW.pem), readable "
        "by the service only"
    ]


def test_a_tls_key_the_daemons_user_cannot_read_is_refused_naming_the_key() -> None:
    """The usual slip under the unit: a key left root's own (0600) while the service runs
    as its own user."""
    if os.geteuid() != 0:
        pytest.skip("needs root to parse as another user")
    # below /tmp directly: pytest's own directories are closed to other users
    reachable = Path(tempfile.mkdtemp(prefix="sensord-tls-"))
    try:
        check_unreadable_key(reachable)
    finally:
        shutil.rmtree(reachable)


def check_unreadable_key(directory: Path) -> None:
    os.chmod(directory, 0o755)
    pem = tls_files(directory)
    os.chmod(pem["cert"], 0o644)
    os.chmod(pem["key"], 0o600)
    text = f'[http]\ntls_cert_file = "{pem["cert"]}"\ntls_key_file = "{pem["key"]}"\n' + MINIMAL

    def parse_as_another_user() -> str:
        try:
            parse_config(text, "test.toml")
        except ConfigError as exc:
            return repr(exc.problems)
        return "parsed"

    assert run_as_user(65534, parse_as_another_user) == repr(
        [f"http.tls_key_file: {pem['key']} is not readable by this user (nobody)"]
    )


def test_normalize_settings_make_the_stage() -> None:
    table = "normalize = { scale = 10, offset = 5, range_min = 0, range_max = 1000, clamp = true }"

    def stage(text: str) -> Normalize:
        built = SensorRuntime(parse_config(MINIMAL + text).sensors[0]).channels["t"].chain
        normalize = built.stages[1]
        assert isinstance(normalize, Normalize)
        return normalize

    clamped = stage(f"  {table}\n")
    # scale 10 over a range 1000 wide: a factor of 0.01, a division by 100
    assert (clamped.a, clamped.d, clamped.b, clamped.clamp) == (1.0, 100.0, 0.005, True)
    assert normalized(clamped, 150.0) == 1.0
    assert stage("  normalize = { scale = 10 }\n").may_overflow
    bounded = "  normalize = { scale = 10 }\n  filter = { min = -1e6, max = 1e6 }\n"
    assert not stage(bounded).may_overflow


def test_load_config_reports_a_file_it_may_not_read(tmp_path: Path) -> None:
    path = tmp_path / "sensord.toml"
    path.write_text(MINIMAL)
    path.chmod(0o600)

    def load_as_another_user() -> str:
        try:
            load_config(path)
        except ConfigError as exc:
            return repr((exc.source, exc.problems, str(exc)))
        return "loaded"

    if os.geteuid() != 0:
        pytest.skip("needs root to run the load as another user")
    try:
        user = pwd.getpwuid(65534).pw_name
    except KeyError:
        user = "uid 65534"
    problem = (
        f"permission denied reading the file as {user}: make it readable by the user sensord "
        "runs as (the service's user sensord: group sensord, mode 640)"
    )
    assert run_as_user(65534, load_as_another_user) == repr(
        (str(path), [problem], f"{path}: {problem}")
    )


@pytest.mark.parametrize(
    "host", ["localhost", "sensors-1.example", "sensors.example", "::1", "10.0.0.1", "box"]
)
def test_listen_accepts_addresses_and_host_names(host: str) -> None:
    assert parse_config(f'[http]\nlisten = "{host}"\n' + MINIMAL).http.listen == host


@pytest.mark.parametrize("host", ["bad_host", "a b", "x.y!"])
def test_listen_rejects_what_is_no_host_name(host: str) -> None:
    assert problems(f'[http]\nlisten = "{host}"\n' + MINIMAL) == [
        f"http.listen: must be an IP address or host name, got {host!r}"
    ]


@pytest.mark.parametrize(
    ("table", "want"),
    [
        ('from_unit = "celsius"', "to_unit: from_unit and to_unit must be given together"),
        ('to_unit = "kelvin"', "from_unit: from_unit and to_unit must be given together"),
        ("range_min = 0", "range_max: range_min and range_max must be given together"),
        ("range_max = 1", "range_min: range_min and range_max must be given together"),
        ("range_min = 1, range_max = 1", "range_min: must be less than range_max (1), got 1"),
        (
            'scale = 1e308, from_unit = "km", to_unit = "mm"',
            "scale: scale, offset, unit conversion and range together give a transform outside "
            "the float range (value * inf + 0.0)",
        ),
    ],
)
def test_normalize_table_problems_name_their_key(table: str, want: str) -> None:
    assert problems(MINIMAL + f"  normalize = {{ {table} }}\n") == [
        f"sensors[0].channels[0].normalize.{want}"
    ]


def test_reconnect_delays_may_be_equal() -> None:
    sensor = parse_config(
        MINIMAL.replace(
            'format = "value"',
            'format = "value"\nreconnect = { initial_delay_s = 1, max_delay_s = 1 }',
        )
    ).sensors[0]
    assert (sensor.reconnect.initial_delay_s, sensor.reconnect.max_delay_s) == (1.0, 1.0)


def test_config_errors_name_their_source() -> None:
    with pytest.raises(ConfigError) as info:
        parse_config("x = \n")
    assert str(info.value).startswith("<config>: not valid TOML: ")
    with pytest.raises(ConfigError) as info:
        parse_config("[log]\nlevel = 'loud'\n" + MINIMAL, "site.toml")
    assert str(info.value) == (
        "site.toml: log.level: must be one of 'debug', 'info', 'warning', 'error', got 'loud'"
    )


def test_check_points_out_a_line_speed_that_is_likely_a_typo(tmp_path: Path) -> None:
    """A rate no device uses, or a preset's device at another rate, gets a note (the file
    stays valid: sensord opens a port at any rate its driver takes); a usual rate, one of the
    odd rates devices are built for, and a network port's rate do not."""
    sensors = [
        ("typo", "/dev/ttyUSB9", 'format = "value"', 960),
        ("pms", "/dev/ttyUSB8", 'preset = "pms5003"', 115200),
        ("esp", "/dev/ttyUSB7", 'format = "value"', 74880),
        ("usual", "/dev/ttyUSB6", 'format = "value"', 19200),
        ("server", "socket://localhost:7000", 'format = "value"', 960),
    ]
    text = ""
    for name, port, kind, rate in sensors:
        text += f'[[sensors]]\nname = "{name}"\nport = "{port}"\n{kind}\n'
        text += f"serial = {{ baudrate = {rate} }}\n"
        if "value" in kind:
            text += 'channels = [{ name = "v" }]\n'
    cfg = tmp_path / "baud.toml"
    cfg.write_text(text)
    result = sensord_cli("check", "--no-devices", str(cfg))
    assert result.returncode == 0, result.stderr
    notes = [line.strip() for line in result.stdout.splitlines() if "note:" in line]
    assert notes == [
        "note: serial.baudrate 960 is not a usual line speed; did you mean 9600?",
        "note: serial.baudrate is 115200, but a pms5003 talks at 9600 baud",
    ]


def test_check_points_out_a_terminator_or_frame_bound_the_format_does_not_read(
    tmp_path: Path,
) -> None:
    """A ``terminator`` given to a sensor whose frames end otherwise (binary frames, Modbus
    answers, DSMR telegrams, a block framer's CR LF lines), and a Modbus device's
    ``max_frame_bytes``, change nothing: a note says so (the file stays valid); a text
    sensor's terminator, which it reads, and the defaults get none."""
    text = """
[[sensors]]
name = "pms"
port = "sim://pms"
preset = "pms5003"
terminator = "\\r\\n"

[[sensors]]
name = "meter"
port = "sim://bus"
format = "modbus"
max_frame_bytes = 1024
terminator = "\\r"
registers = [{ name = "v", table = "holding", address = 0, type = "uint16" }]
channels = [{ name = "v" }]

[[sensors]]
name = "p1"
port = "sim://p1"
format = "dsmr"
terminator = ";"
channels = [{ name = "v", field = "1-0:1.7.0" }]

[[sensors]]
name = "wind"
port = "sim://wind"
format = "value"
terminator = "\\r"
parse = { block = "gill", pattern = '^Q,(?P<v>[0-9.]+)' }
channels = [{ name = "v" }]

[[sensors]]
name = "plain"
port = "sim://plain"
format = "value"
terminator = "\\r"
channels = [{ name = "v" }]

[[sensors]]
name = "meter2"
port = "sim://bus"
format = "modbus"
modbus = { unit = 2 }
registers = [{ name = "v", table = "holding", address = 0, type = "uint16" }]
channels = [{ name = "v" }]
"""
    cfg = tmp_path / "unused.toml"
    cfg.write_text(text)
    result = sensord_cli("check", "--no-devices", str(cfg))
    assert result.returncode == 0, result.stderr
    notes = [line.strip() for line in result.stdout.splitlines() if "note:" in line]
    assert notes == [
        "note: terminator '\\r\\n' is not used by format 'frames' (a binary frame ends by its "
        "length or its end byte)",
        "note: terminator '\\r' is not used by format 'modbus' (an answer ends by its length "
        "and the line's silence)",
        "note: max_frame_bytes 1024 is not used by format 'modbus' (an answer's length is the "
        "protocol's, at most 256 bytes)",
        "note: terminator ';' is not used by format 'dsmr' (a telegram's lines end in CR LF, "
        "the telegram in its CRC line)",
        "note: terminator '\\r' is not used by parse.block = 'gill' (its lines end in CR LF)",
    ]


@pytest.mark.parametrize(
    ("preset", "interval_s", "noted"),
    [
        ("pms5003", 0.3, True),
        ("pms7003", 0.2, True),
        ("pms5003", 0.5, False),
        ("pms5003", 1.0, False),
        ("sds011", 0.3, False),
    ],
)
def test_check_notes_a_pms_polled_faster_than_half_a_second(
    tmp_path: Path, preset: str, interval_s: float, noted: bool
) -> None:
    """A PMS polled faster than every 0.5 s: a late answer between two the line lost looks
    like the stream of a PMS back in active mode after a power cut, and it is set up again,
    and other drifts past the polls are told only once they recur, later; valid, so ``sensord
    check`` passes with a note naming the key, the loss that sets it up again and the pace to
    use. An SDS011
    (queried, it sends nothing unasked) or a PMS polled every 0.5 s or slower: no note."""
    setup = "passive_mode" if preset.startswith("pms") else "query_mode"
    command = "read" if preset.startswith("pms") else "query"
    cfg = tmp_path / "fast.toml"
    cfg.write_text(
        f"""
[[sensors]]
name = "dust"
port = "sim://dust"
preset = "{preset}"
setup = ["{setup}"]
poll = {{ command = "{command}", interval_s = {interval_s} }}
"""
    )
    result = sensord_cli("check", "--no-devices", str(cfg))
    assert result.returncode == 0, result.stderr
    notes = [line.strip() for line in result.stdout.splitlines() if "poll.interval_s" in line]
    expected = [
        f"note: poll.interval_s {interval_s:g} s is shorter than 0.5 s: a {preset} answer later "
        "than half the interval between two answers the line lost looks like a power-cycled "
        "device streaming, and it is set up again and warmed up (one answer in five lost and "
        "half the answers late: one poll in fifty), and a unit streaming in its fast mode is put "
        "back a few seconds later; poll every 0.5 s or slower (it renews its readings every 0.2 "
        "to 2.3 s)"
    ]
    assert notes == (expected if noted else [])


@pytest.mark.parametrize("workers", [[], ["--workers", "2"]])
def test_check_while_the_daemon_runs_the_file_passes_its_held_ports(
    tmp_path: Path, start_daemon: StartDaemon, workers: list[str]
) -> None:
    """``sensord check FILE`` then ``systemctl reload``: the ports the running ``sensord run``
    of that very file holds are its own, which a reload keeps, not a conflict; the same
    port named in another file is still held by another process. With ``--workers`` a
    worker holds it, running a private copy of the file that its primary runs."""
    with PtyPair() as pair:
        config = MINIMAL.replace('"sim://probe"', f'"{pair.path}"')
        daemon = start_daemon(workers, config=config, name="held")
        daemon.wait_http()
        assert daemon.config_path is not None
        wait_for(lambda: daemon.status()["sensors"]["probe"]["state"] == "up", 20, "the sensor up")
        [holder] = [h.pid for h in contending_holders(pair.path)]
        assert (holder == daemon.proc.pid) == (not workers)
        check = sensord_cli("check", str(daemon.config_path))
        assert check.returncode == 0, check.stdout + check.stderr
        assert (
            f"device probe: {pair.path} held by the sensord that runs this file "
            f"(pid {holder}); a reload keeps it open"
        ) in check.stdout
        other = tmp_path / "other.toml"
        other.write_text(config)
        check = sensord_cli("check", str(other))
        assert check.returncode == 1
        assert f"is locked by another process: pid {holder}" in check.stdout
        # stopped before its pty closes: a daemon left retrying the path would open the pty
        # another test then gets with that number
        daemon.stop()


def test_a_command_whose_reader_goes_away_stops_without_a_traceback() -> None:
    """``sensord check FILE | head -1``: the pipe closes before sensord has written; it stops
    quietly with exit 1 instead of printing a BrokenPipeError traceback."""
    proc = popen(
        [
            sys.executable,
            "-m",
            "sensord",
            "check",
            "--no-devices",
            str(REPO / "systemd" / "sensord.toml"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    proc.stdout.close()  # before the interpreter has even imported sensord
    stderr = proc.stderr.read()
    assert proc.wait(60) == 1
    assert "Traceback" not in stderr, stderr


def test_a_broken_pipe_that_is_not_the_output_is_not_hidden(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A BrokenPipeError from anything but the closed output (a socket whose peer went away,
    in the daemon's loop, say) is a fault to see with its traceback, not a quiet exit 1 as
    for ``check FILE | head -1``."""
    ours, theirs = socket.socketpair()
    theirs.close()

    def run(args: Any) -> int:
        ours.sendall(b"x" * 65536)  # the peer is gone: EPIPE
        return 0

    monkeypatch.setattr(cli_run, "cmd_run", run)
    try:
        with pytest.raises(BrokenPipeError):
            cli.main(["run"])
    finally:
        ours.close()


@contextmanager
def sensord_run_lookalike(cwd: Path, options: list[str]) -> Iterator[int]:
    """A process whose command line is an installed ``sensord run`` with ``options``, run
    from ``cwd`` (a script named sensord that only waits); its pid for the block."""
    script = cwd / "sensord"  # the console script's name, as an installed one runs
    script.write_text("import sys, time\nprint('ready', flush=True)\ntime.sleep(30)\n")
    proc = popen(
        [sys.executable, str(script), "run", *options], cwd=cwd, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == "ready\n"
        yield proc.pid
    finally:
        proc.kill()
        proc.wait(10)


@pytest.mark.parametrize(
    "option",
    [
        ["--config", "{other}"],
        ["--config={other}"],
        ["-c", "other.toml"],
        ["-c{other}"],  # argparse's attached short option
        ["--conf", "{other}"],  # an abbreviation argparse takes
        ["--log-level", "debug", "--con={other}"],
    ],
)
def test_the_config_of_a_running_sensord_is_read_as_its_command_line_takes_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, option: list[str]
) -> None:
    """``check`` passes a port held by the sensord that runs the checked file: the file that
    a ``sensord run`` reads is found however its command line gives it, so another sensord's
    file is never taken for the default one."""
    this, other = tmp_path / "this.toml", tmp_path / "other.toml"
    this.write_text("")
    other.write_text("")
    monkeypatch.setattr(cli_parser, "DEFAULT_CONFIG_PATH", this)
    argv = [a.replace("{other}", str(other)) for a in option]
    with sensord_run_lookalike(tmp_path, argv) as pid:
        assert cli_parser.daemon_config_of(pid) == str(other)


def test_a_sensord_of_another_user_running_an_absolute_path_is_recognised(
    tmp_path: Path,
) -> None:
    """An operator's ``sensord check`` as a user that may not read the daemon's working
    directory (the daemon runs as user sensord): a config path given absolute needs none."""
    assert os.getuid() == 0, "the suite runs as root (scripts/test)"
    config = tmp_path / "site.toml"
    config.write_text("")
    os.chmod(tmp_path, 0o755)
    with sensord_run_lookalike(tmp_path, ["--config", str(config)]) as pid:
        seen = run_as_user(65534, lambda: str(cli_parser.daemon_config_of(pid)))
    assert seen == str(config)


def test_check_run_as_root_judges_a_device_for_the_service_user(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``sudo sensord check``: root may open any device, the service's user may not; the
    device is judged for that user (here ``nobody``, standing in for ``sensord``)."""
    assert os.geteuid() == 0, "the suite runs as root (scripts/test)"
    with PtyPair() as pair:
        config = parse_config(MINIMAL.replace('"sim://probe"', f'"{pair.path}"'))
        os.chmod(pair.path, 0o600)
        assert not cli_check.check_devices(config, service_user="nobody")
        out = capsys.readouterr().out
        assert (
            "sensors[0].port (sensor 'probe'): user nobody (the service's, with groups dialout) may"
            in out
        )
        assert "sudo usermod -aG " in out
        os.chmod(pair.path, 0o666)
        assert cli_check.check_devices(config, service_user="nobody")
        assert f"device probe: {pair.path} ok" in capsys.readouterr().out
        # no such user (sensord not installed as a service): root's view stands
        os.chmod(pair.path, 0o600)
        assert cli_check.check_devices(config, service_user="no-such-user-here")


def test_the_http_table_of_a_file_not_valid_toml_is_read_only_when_the_error_is_elsewhere(
    tmp_path: Path,
) -> None:
    """``sensord status``/``reload``/``capture`` ask the daemon the file's ``[http]`` names:
    a syntax error in a sensor's table leaves that table readable, one inside it (or a file
    that may set ``http`` by a top-level key) does not, and a file without ``[http]`` means
    the daemon's defaults."""
    path = tmp_path / "edited.toml"
    broken_sensor = MINIMAL.replace('name = "probe"', 'name = "probe')
    path.write_text("[http]\nport = 9911 # the daemon's\n" + broken_sensor)
    http = load_http_config(path)
    assert http is not None
    assert http.port == 9911
    path.write_text(broken_sensor + "[http]\nport = 9911\n")
    assert load_http_config(path) is not None
    path.write_text(broken_sensor)
    http = load_http_config(path)
    assert http is not None
    assert http.port == 9808
    path.write_text("[http]\nport = 99 11\n" + MINIMAL)
    assert load_http_config(path) is None
    path.write_text("http.port = 9911\n" + broken_sensor)
    assert load_http_config(path) is None
    path.write_text('[http]\nport = 9911\n[[sensors]]\nname = """probe\n')
    assert load_http_config(path) is None  # a string left open: where it ends is not known
