"""Configuration errors as an operator with a file of many sensors meets them: each names the
key path and the sensor, and a sensor's independent mistakes are reported in one run."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from harness.daemon import sensord_cli

from sensord.config import parse_config
from sensord.config_sensor import SensorConfig
from sensord.errors import ConfigError


def sensor(name: str, port: str, extra: str = "", channel: str = "v") -> str:
    return (
        f'\n[[sensors]]\nname = "{name}"\nport = "{port}"\nformat = "value"\n{extra}'
        f'\n  [[sensors.channels]]\n  name = "{channel}"\n'
    )


MODBUS = """
[[sensors]]
name = "pump"
port = "sim://bus"
format = "modbus"
{extra}
  [[sensors.registers]]
  name = "flow"
  ref = "40001"
  [[sensors.channels]]
  name = "{channel}"
"""

#: a PMS sensor whose poll table has a wrong key and whose set-up misspells a command
AIR = """
[[sensors]]
name = "air"
port = "sim://air"
preset = "pms5003"
setup = ["pasive_mode"]
poll = { interval = 60 }
"""


def error_of(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "site.toml")
    return info.value


# -- the sensor is named after the key path ------------------------------------------------------


def test_an_error_names_the_sensor_after_its_key_path() -> None:
    text = sensor("boiler", "sim://boiler") + sensor("meter", "sim://meter", "unit = 'kWh'")
    error = error_of(text)
    # problems keep the bare key paths, for programs
    assert error.problems == [
        "sensors[1].unit: unknown key (known: name, port, simulate, preset, format, "
        "sampling_rate_hz, stale_after_s, warmup_s, warmup_after_silence, terminator, "
        "max_frame_bytes, serial, poll, setup, connect_delay_s, reconnect, replay, parse, "
        "frame, modbus, registers, simulation, channels)"
    ]
    assert error.lines == [
        error.problems[0].replace("sensors[1].unit:", "sensors[1].unit (sensor 'meter'):")
    ]
    assert str(error) == f"site.toml: {error.lines[0]}"


def test_nested_modbus_paths_name_their_sensor() -> None:
    text = (
        sensor("boiler", "sim://boiler")
        + MODBUS.format(extra="", channel="flow").replace(
            'ref = "40001"', 'ref = "40001"\n  tpye = "float32"'
        )
        + MODBUS.format(extra="", channel="flw")
        .replace("pump", "fan")
        .replace("sim://bus", "sim://bus2")
    )
    assert error_of(text).lines == [
        "sensors[1].registers[0].tpye (sensor 'pump'): unknown key; did you mean 'type'? "
        "(known: name, table, address, ref, type, byte_order, word_order, not_available, bit, bits, sign, "
        "scale_register, status_register, status_mask, status_ok)",
        "sensors[2].channels[0].field (sensor 'fan'): no register is named 'flw'; did you mean 'flow'?",
        "sensors[2].registers[0].name (sensor 'fan'): no channel reads 'flow'",
    ]


def test_other_sensors_a_message_refers_to_are_named_too() -> None:
    text = (
        sensor("boiler", "/dev/ttyUSB0")
        + sensor("boiler", "sim://b")
        + sensor("meter", "/dev/ttyUSB0")
    )
    assert error_of(text).lines == [
        # the sensor referred to has this one's name: that is the error, and is not repeated
        "sensors[1].name (sensor 'boiler'): 'boiler' is already used by sensors[0]",
        "sensors[2].port (sensor 'meter'): '/dev/ttyUSB0' is already used by sensors[0] "
        "(sensor 'boiler') (two sensors cannot share one port: give each sensor the port of its "
        "own device, or read the values one device sends as channels of one sensor)",
    ]


@pytest.mark.parametrize(
    ("first", "second", "what"),
    [
        (
            "socket://ser2net.lan:4001",
            "socket://SER2NET.lan:4001/",
            "'socket://SER2NET.lan:4001/' names the peer of sensors[0], written "
            "'socket://ser2net.lan:4001': each way of writing it opens a connection of its own",
        ),
        (
            "rfc2217://ser2net.lan:4001",
            "socket://ser2net.lan:4001",
            "'socket://ser2net.lan:4001' speaks the serial bytes as they are to the host and "
            "port that sensors[0] speaks RFC 2217 (telnet) to, as 'rfc2217://ser2net.lan:4001': "
            "a port of a serial server speaks one of them, so the other gets no answer",
        ),
    ],
)
def test_two_sensors_on_one_serial_server_port_written_two_ways_are_told_to_part(
    first: str, second: str, what: str
) -> None:
    """Two sensors of their own (no Modbus bus) on one serial server's port, written two
    ways: the config said to write the port the same way, and that Modbus devices share
    a connection as a bus. Written the same way, two sensors that are no Modbus devices are
    refused all the same (one port, one sensor): the fix that works is the one for two
    sensors on one port."""
    text = sensor("a", first) + sensor("b", second)
    assert error_of(text).problems == [
        f"sensors[1].port: {what}; two sensors cannot share one port: give each sensor the "
        "port of its own device, or read the values one device sends as channels of one sensor"
    ]
    # written the same way: refused, as two sensors on one port are
    assert error_of(sensor("a", first) + sensor("b", first)).problems == [
        f"sensors[1].port: {first!r} is already used by sensors[0] (two sensors cannot share "
        "one port: give each sensor the port of its own device, or read the values one device "
        "sends as channels of one sensor)"
    ]


@pytest.mark.parametrize("key", ["a: b", "sensors[0]: x", ": "])
def test_a_quoted_key_holding_a_colon_and_space_is_named_whole_before_its_sensor(key: str) -> None:
    """A key path ends where the schema says, not at the first ``": "`` of its text: the
    sensor's name goes after the whole quoted key."""
    error = error_of(sensor("boiler", "sim://boiler", f'"{key}" = 1'))
    message = (
        "unknown key (known: name, port, simulate, preset, format, sampling_rate_hz, "
        "stale_after_s, warmup_s, warmup_after_silence, terminator, max_frame_bytes, serial, "
        "poll, setup, connect_delay_s, reconnect, replay, parse, frame, modbus, registers, "
        "simulation, channels)"
    )
    assert error.lines == [f"sensors[0].\"{key}\" (sensor 'boiler'): {message}"]
    assert error.problems == [f'sensors[0]."{key}": {message}']


def test_a_sensor_without_a_usable_name_is_named_by_its_place_alone() -> None:
    text = sensor("has space", "sim://a", "baudrate = 9600")
    text += "\n[[sensors]]\nport = 'sim://b'\nformat = 'value'\nchannels = [{ name = 'v' }]\n"
    assert error_of(text).lines == [
        "sensors[0].baudrate: unknown key; did you mean 'serial.baudrate'? (known: name, port, "
        "simulate, preset, format, sampling_rate_hz, stale_after_s, warmup_s, "
        "warmup_after_silence, terminator, max_frame_bytes, serial, poll, setup, "
        "connect_delay_s, reconnect, replay, parse, frame, modbus, registers, simulation, "
        "channels)",
        "sensors[0].name: must be 1-64 letters, digits, '_', '.', '-' (not starting with '.' "
        "or '-'), got 'has space'",
        "sensors[1].name: required key is missing",
    ]


@pytest.mark.parametrize(
    ("written", "key", "meant"),
    [
        ('device = "/dev/ttyUSB1"', "device", "port"),
        ('path = "/dev/ttyUSB1"', "path", "port"),
        ("baud = 9600", "baud", "serial.baudrate"),
        ("Baud_Rate = 9600", "Baud_Rate", "serial.baudrate"),
        ('protocol = "value"', "protocol", "format"),
        ("serial = { baud = 9600 }", "serial.baud", "baudrate"),
        ("serial = { data_bits = 7 }", "serial.data_bits", "bytesize"),
        ("modbus = { slave = 2 }", "modbus.slave", "unit"),
        ("modbus = { slave_id = 2 }", "modbus.slave_id", "unit"),
        ("modbus = { device_id = 2 }", "modbus.device_id", "unit"),
    ],
)
def test_a_key_another_tool_names_so_points_at_sensord_s(
    written: str, key: str, meant: str
) -> None:
    """The names Home Assistant, Telegraf or pyserial's own examples give a setting (a device,
    a baud rate) are pointed at the key sensord reads, not refused as unknown alone."""
    [first, *_] = error_of(sensor("probe", "sim://probe", written)).lines
    assert first.startswith(
        f"sensors[0].{key} (sensor 'probe'): unknown key; did you mean {meant!r}?"
    ), first


@pytest.mark.parametrize(
    ("written", "path", "meant"),
    [
        ('[http]\nbind = "0.0.0.0"', "http.bind", "listen"),
        ('[http]\nhost = "0.0.0.0"', "http.host", "listen"),
        ("[http]\nlisten_port = 9100", "http.listen_port", "port"),
        ("  window = { seconds = 60 }", "sensors[0].channels[0].window.seconds", "time_s"),
        (
            "  [sensors.channels.window]\n  duration_s = 60",
            "sensors[0].channels[0].window.duration_s",
            "time_s",
        ),
        ("  window = { samples = 10 }", "sensors[0].channels[0].window.samples", "size"),
    ],
)
def test_a_word_of_other_tools_for_an_address_or_a_window_points_at_sensord_s(
    written: str, path: str, meant: str
) -> None:
    """An HTTP server's ``bind`` or ``host`` and a window's ``seconds`` are spelt like no
    key of their tables, so no close spelling points at ``listen`` or ``time_s``."""
    [problem] = error_of(sensor("probe", "sim://probe") + written + "\n").problems
    assert problem.startswith(f"{path}: unknown key; did you mean {meant!r}? (known: "), problem


MODBUS_2_5S = "modbus = { unit = 1, interval_s = 2.5 }"


@pytest.mark.parametrize(("stale", "refused"), [(2, True), (2.5, True), (3, False)])
def test_a_modbus_device_stale_before_its_next_answer_is_refused(
    stale: float, *, refused: bool
) -> None:
    """A Modbus device answers once a poll and sends nothing unasked: a ``stale_after_s`` no
    longer than its poll interval would make it stale between every two answers."""
    text = MODBUS.format(extra=f"{MODBUS_2_5S}\nstale_after_s = {stale}", channel="flow")
    problems = [line for line in _problems(text) if "stale_after_s" in line]
    assert problems == (
        [
            f"sensors[0].stale_after_s (sensor 'pump'): {stale:g} s is no longer than "
            "modbus.interval_s (2.5 s), so the device would be stale between every two "
            "answers: make it longer (without it: 7.5 s)"
        ]
        if refused
        else []
    )


def _problems(text: str) -> list[str]:
    try:
        parse_config(text)
    except ConfigError as exc:
        return list(exc.lines)
    return []


def test_a_sensor_stale_between_frames_at_its_pace_is_a_note_of_check(
    tmp_path: Path,
) -> None:
    """A device may send faster than ``sampling_rate_hz`` says, or stream besides its polls,
    so a short ``stale_after_s`` is pointed out by ``sensord check``, not refused."""
    path = tmp_path / "site.toml"
    path.write_text(sensor("slow", "sim://slow", "sampling_rate_hz = 0.1\nstale_after_s = 2"))
    result = sensord_cli("check", "--no-devices", str(path))
    assert result.returncode == 0, result.stderr
    assert (
        "note: stale_after_s 2 s is no longer than the 10 s between two frames at "
        "sampling_rate_hz 0.1: if the device sends at that pace, the sensor is stale between "
        "every two frames"
    ) in result.stdout
    path.write_text(sensor("slow", "sim://slow", "sampling_rate_hz = 0.1\nstale_after_s = 11"))
    assert "note: stale_after_s" not in sensord_cli("check", "--no-devices", str(path)).stdout
    # a polled device: its polls' pace, unless it streams faster besides (a keep-alive poll)
    polled = "sampling_rate_hz = 0.01\npoll = { request = 'R\\r\\n', interval_s = 5 }\n"
    path.write_text(sensor("slow", "sim://slow", f"{polled}stale_after_s = 2"))
    assert (
        "note: stale_after_s 2 s is no longer than the 5 s between two frames at "
        "sampling_rate_hz 0.01 or poll.interval_s"
    ) in sensord_cli("check", "--no-devices", str(path)).stdout
    keep_alive = "sampling_rate_hz = 1\npoll = { request = 'K\\r\\n', interval_s = 60 }\n"
    path.write_text(sensor("lidar", "sim://lidar", f"{keep_alive}stale_after_s = 3"))
    checked = sensord_cli("check", "--no-devices", str(path))
    assert checked.returncode == 0, checked.stderr
    assert "note: stale_after_s" not in checked.stdout


def pms_sensor(preset: str, extra: str) -> str:
    return f'\n[[sensors]]\nname = "dust"\nport = "sim://dust"\npreset = "{preset}"\n{extra}\n'


#: What ``sensord check`` says of a streaming PMS5003 whose ``stale_after_s`` is no longer
#: than its stable mode's 2.3 s, and of one shorter than twice that.
PMS_STALE_BETWEEN_FRAMES = (
    "note: stale_after_s 2 s is shorter than twice the 2.3 s between two frames that a "
    "pms5003 sends in active mode when the air changes little (its datasheet's stable mode): "
    "the sensor is stale between two frames of a working device in steady air, and each "
    "frame after such a spell warms it up again (warmup_after_silence): nearly every reading "
    "is held back; leave stale_after_s out (5 s) or make it 4.6 s or more"
)
PMS_SPOILT_SPELL_SILENT = (
    "note: stale_after_s 4 s is shorter than twice the 2.3 s between two frames that a "
    "pms5003 sends in active mode when the air changes little (its datasheet's stable mode): "
    "a spell of frames whose start bytes the line spoils, which keep coming at that pace, "
    "leaves no byte for half the stale time and is taken for a silence: the sensor warms up "
    "again though the device never stopped; leave stale_after_s out (5 s) or make it 4.6 s "
    "or more"
)


def test_a_pms_stale_sooner_than_twice_its_stable_mode_interval_is_a_note_of_check(
    tmp_path: Path,
) -> None:
    """A PMS in active mode sends a frame every 2.3 s while the air changes little (the
    PMS5003/7003/A003 datasheets' stable mode; 200 to 800 ms in fast mode): ``sensord
    check`` tells a ``stale_after_s`` shorter than twice that, naming the key, the interval
    and what it costs, and offers the default it would have without it; 4.6 s and more, the
    default (5 s), a PMS whose set-up leaves it passive (polled), and other presets are not
    told so."""
    path = tmp_path / "site.toml"
    path.write_text(pms_sensor("pms5003", "stale_after_s = 2"))
    checked = sensord_cli("check", "--no-devices", str(path))
    assert checked.returncode == 0, checked.stderr
    assert f"      {PMS_STALE_BETWEEN_FRAMES}\n" in checked.stdout

    def note(preset: str, extra: str) -> str | None:
        (dust,) = parse_config(pms_sensor(preset, extra)).sensors
        return dust.stale_note()

    assert f"note: {note('pms5003', 'stale_after_s = 4')}" == PMS_SPOILT_SPELL_SILENT
    assert f"note: {note('pms5003', 'stale_after_s = 2.3')}" == PMS_STALE_BETWEEN_FRAMES.replace(
        "stale_after_s 2 s", "stale_after_s 2.3 s"
    )
    assert "2.3 s between two frames that a pms5003st" in str(
        note("pms5003st", "stale_after_s = 3")
    )
    # a PMS3003 has no stable mode (nor passive mode): its datasheet's data update time
    assert (
        "twice the 2 s between two frames that a pms3003 sends at most (its datasheet's data"
        in str(note("pms3003", "stale_after_s = 3.9"))
    )
    for fine in ("stale_after_s = 4.6", "stale_after_s = 60", ""):
        assert note("pms7003", fine) is None
    assert note("pms3003", "stale_after_s = 4") is None
    passive = 'setup = ["passive_mode"]\npoll = { command = "read", interval_s = 1 }'
    assert note("pms5003", f"{passive}\nstale_after_s = 2") is None
    assert note("pms5003", 'setup = ["passive_mode", "active_mode"]\nstale_after_s = 2')
    assert note("sds011", "stale_after_s = 2") is None
    # the default it offers is the sensor's own: three frames at a slower sampling_rate_hz
    assert "leave stale_after_s out (15 s) or make it 4.6 s or more" in str(
        note("pms5003", "sampling_rate_hz = 0.2\nstale_after_s = 2")
    )
    # a sensor that does not warm up again after a silence: only the staleness is told
    for quiet in ("warmup_after_silence = false", "warmup_s = 0"):
        assert note("pms5003", f"{quiet}\nstale_after_s = 4") is None
        assert note("pms5003", f"{quiet}\nstale_after_s = 2") == (
            "stale_after_s 2 s is shorter than twice the 2.3 s between two frames that a "
            "pms5003 sends in active mode when the air changes little (its datasheet's stable "
            "mode): the sensor is stale between two frames of a working device in steady air; "
            "leave stale_after_s out (5 s) or make it 4.6 s or more"
        )


@pytest.mark.parametrize("command", [["check"], ["run", "-c"]])
def test_check_and_run_print_the_sensor_of_each_error(tmp_path: Path, command: list[str]) -> None:
    path = tmp_path / "site.toml"
    path.write_text(
        "".join(sensor(f"s{i}", f"sim://s{i}") for i in range(19))
        + sensor("meter", "sim://meter", "sampling_rate_hz = 'fast'")
    )
    result = sensord_cli(*command, str(path))
    assert result.returncode == 1
    assert result.stderr == (
        f"sensord: invalid configuration: {path}: sensors[19].sampling_rate_hz "
        "(sensor 'meter'): must be a number, got string 'fast'\n"
    )


# -- a sub-table's error does not hide the sensor's other mistakes -------------------------------


def test_the_errors_of_a_file_of_many_sensors_are_each_labelled_with_their_sensors() -> None:
    """A file of 1024 sensors (the most) with four errors each: every problem names its own
    sensor and the one its message refers to (one pattern serves all labels, so a reload of
    such a file labels its errors in linear time)."""
    labels = {f"sensors[{i}]": f"sensor 's{i}'" for i in range(1024)}
    problems = [
        f"sensors[{i % 1024}].port: '/dev/ttyUSB0' is already used by sensors[{(i + 1) % 1024}]"
        for i in range(4096)
    ]
    error = ConfigError(problems, "site.toml", labels)
    assert error.lines[5] == (
        "sensors[5].port (sensor 's5'): '/dev/ttyUSB0' is already used by sensors[6] (sensor 's6')"
    )
    assert error.lines[4095] == (
        "sensors[1023].port (sensor 's1023'): '/dev/ttyUSB0' is already used by sensors[0] "
        "(sensor 's0')"
    )
    assert all(line.count("(sensor 's") == 2 for line in error.lines)


def test_a_poll_table_error_does_not_hide_a_misspelt_setup_command() -> None:
    assert error_of(AIR).problems == [
        # one line for the misspelt key: "interval_s: required key is missing" would say it again
        "sensors[0].poll.interval: unknown key; did you mean 'interval_s'? "
        "(known: request, command, interval_s)",
        "sensors[0].setup[0]: pms5003 has no command 'pasive_mode'; did you "
        "mean 'passive_mode'? (it has passive_mode, active_mode, read, sleep, wakeup)",
    ]


@pytest.mark.parametrize(
    ("preset", "told"),
    [
        (
            'preset = "sds011"',
            "sds011 has no command 'read'; it has query_mode, active_mode, query, "
            "working_period, sleep, work",
        ),
        ('format = "value"\nchannels = [{ name = "v" }]', "commands by name need a preset"),
    ],
)
def test_a_poll_command_in_error_beside_a_connect_delay_is_told_once(
    preset: str, told: str
) -> None:
    """A sensor's stale time counts its poll's requests: of a poll whose command the preset
    does not have (or a sensor without a preset), there are none to count, and the check of
    ``connect_delay_s`` against the stale time is not made, so the command's error is told
    alone rather than the check raising."""
    text = (
        f'[[sensors]]\nname = "dust"\nport = "sim://dust"\n{preset}\n'
        'connect_delay_s = 1.0\npoll = { command = "read", interval_s = 5 }\n'
    )
    assert error_of(text).problems == [f"sensors[0].poll.command: {told}"]


@pytest.mark.parametrize("command", [["check"], ["run", "-c"]])
def test_a_channel_s_key_in_its_sensor_s_table_is_told_to_go_in_each_channel(
    tmp_path: Path, command: list[str]
) -> None:
    """``window``, ``filter`` or ``normalize`` (or a key of one of them) written one level too
    high, in the sensor's table, is told where it belongs, with an entry of ``channels`` that
    holds it as written, named as the sensor's first channel is."""
    path = tmp_path / "site.toml"
    path.write_text(
        sensor("pump", "sim://pump")
        + sensor(
            "tank",
            "sim://tank",
            'window = { size = 10 }\nfilter = { min = 0, max = 400 }\nscale = 0.1\nfield = "lvl"',
            channel="level",
        )
    )
    result = sensord_cli(*command, str(path))
    assert result.returncode == 1
    lines = [line.partition(" (known:")[0] for line in result.stderr.splitlines()[1:]]
    example = 'as in channels = [{ name = "level", '
    assert lines == [
        "  sensors[1].window (sensor 'tank'): unknown key; 'window' belongs in each entry of "
        f"channels (channels[].window), {example}window = {{ size = 10 }} }}]",
        "  sensors[1].filter (sensor 'tank'): unknown key; 'filter' belongs in each entry of "
        f"channels (channels[].filter), {example}filter = {{ min = 0, max = 400 }} }}]",
        "  sensors[1].scale (sensor 'tank'): unknown key; 'scale' belongs in each entry of "
        f"channels (channels[].normalize.scale), {example}normalize = {{ scale = 0.1 }} }}]",
        "  sensors[1].field (sensor 'tank'): unknown key; 'field' belongs in each entry of "
        f'channels (channels[].field), {example}field = "lvl" }}]',
    ], result.stderr


def test_a_channel_s_key_is_told_so_before_a_key_of_a_close_spelling() -> None:
    """``signal`` is spelt close to ``serial`` and ``drift_per_s`` to ``registers``: written
    in the sensor's table, they are keys of its channels all the same; a key that a table of
    the sensor takes (``units``: ``parse.units``) keeps its hint."""
    text = sensor("fan", "sim://fan", "signal = { period_s = 10 }\ndrift_per_s = 0.5\nunits = []")
    assert [p.partition(" (known:")[0] for p in error_of(text).problems] == [
        "sensors[0].signal: unknown key; 'signal' belongs in each entry of channels "
        '(channels[].signal), as in channels = [{ name = "v", signal = { period_s = 10 } }]',
        "sensors[0].drift_per_s: unknown key; 'drift_per_s' belongs in each entry of channels "
        '(channels[].signal.drift_per_s), as in channels = [{ name = "v", signal = { '
        "drift_per_s = 0.5 } }]",
        "sensors[0].units: unknown key; did you mean 'parse.units'?",
    ]
    # no channel given: the example names the key a channel must have
    text = (
        '[[sensors]]\nname = "fan"\nport = "sim://fan"\nformat = "value"\nwindow = { size = 5 }\n'
    )
    assert error_of(text).problems[0].partition(" (known:")[0] == (
        "sensors[0].window: unknown key; 'window' belongs in each entry of channels "
        "(channels[].window), as in channels = [{ name = ..., window = { size = 5 } }]"
    )


def test_a_register_s_key_in_the_sensor_s_table_or_above_it_is_told_where_it_belongs() -> None:
    """A Modbus register's keys written in the device's table, where a register map of one
    register is easily written, are told to go in each register, named as the first one is;
    one that the device's ``modbus`` table also takes for every register (``word_order``) is
    told both. Above the first ``[[sensors]]``, the header to write it below."""
    device = (
        '[[sensors]]\nname = "meter"\nport = "/dev/ttyUSB0"\nformat = "modbus"\n'
        "modbus = { unit = 1 }\n"
    )
    rest = (
        '[[sensors.registers]]\nname = "voltage"\ntable = "input"\naddress = 0\n'
        '[[sensors.channels]]\nname = "voltage"\n'
    )
    text = device + 'type = "float32"\nword_order = "little"\n' + rest
    assert [p.partition(" (known:")[0] for p in error_of(text).problems] == [
        "sensors[0].type: unknown key; 'type' belongs in each entry of "
        'registers (registers[].type), as in registers = [{ name = "voltage", type = '
        '"float32" }]',
        "sensors[0].word_order: unknown key; 'word_order' belongs in each "
        'entry of registers (registers[].word_order), as in registers = [{ name = "voltage", '
        'word_order = "little" }], or for every entry in modbus = { word_order = "little" }',
    ]
    assert error_of("address = 3\n" + device + rest).problems[0].partition(" (known:")[0] == (
        "address: unknown key; 'address' is a key of each register "
        "(sensors[].registers[].address), not of the top level: write it below the "
        "[[sensors.registers]] header of each register it is meant for, as address = 3"
    )


@pytest.mark.parametrize(
    ("port", "where"), [("/dev/ttyS0 ", "end"), (" /dev/ttyS0", "start"), ("/dev/ttyS0\t", "end")]
)
def test_a_port_with_white_space_around_it_is_refused_naming_the_path_meant(
    port: str, where: str
) -> None:
    """A space copied along with a device path: the path does not exist, and with the
    default ``simulate = "auto"`` a simulation would stand in for the device that is there,
    while the error (``/dev/ttyS0  does not exist``) shows no difference from the path
    meant."""
    text = sensor("boiler", port.replace("\t", "\\t"))
    assert error_of(text).problems == [
        f"sensors[0].port: has white space at its {where}, got {port!r}; did you mean '/dev/ttyS0'?"
    ]


@pytest.mark.parametrize(
    ("written", "meant"),
    [
        ("C", "celsius"),
        ("°F", "fahrenheit"),
        ("degC", "celsius"),
        ("K", "kelvin"),
        ("%", "percent"),
        ("kts", "knot"),
        ("feet", "ft"),
        ("pascal", "pa"),
    ],
)
def test_a_unit_written_as_its_symbol_is_pointed_at_the_name_normalize_takes(
    written: str, meant: str
) -> None:
    """normalize's units are names (``celsius``); a symbol or another usual spelling of one
    is answered with that name, not only with the list of every unit."""
    text = sensor("boiler", "sim://boiler") + (
        f'  normalize = {{ from_unit = "{written}", to_unit = "{meant}" }}\n'
    )
    [problem] = error_of(text).problems
    assert problem.startswith("sensors[0].channels[0].normalize.from_unit: must be one of ")
    assert problem.endswith(f", got {written!r}; did you mean {meant!r}?"), problem


@pytest.mark.parametrize("key", ["unit", "unit_of_measurement"])
def test_a_channel_s_unit_label_is_told_where_its_unit_goes_not_pointed_at_units(key: str) -> None:
    """``unit = "degC"`` in a channel, as a dashboard's tools label a value, is spelt close to
    ``units``, which lists the texts a device writes after its numbers: taking that advice
    (``units = ["degC"]``) labels nothing. The error says where a unit goes instead."""
    text = sensor("boiler", "sim://boiler") + f'  {key} = "degC"\n'
    [problem] = error_of(text).problems
    assert problem.partition(" (known:")[0] == (
        f"sensors[0].channels[0].{key}: unknown key; sensord has no unit label: a channel's "
        "unit goes in its name (temperature_celsius), normalize's from_unit and to_unit "
        "convert it, and units lists the unit texts the device writes after its numbers "
        '(units = ["C"])'
    )


@pytest.mark.parametrize(
    ("written", "key", "shown"),
    [("unit = 3", "unit", "3"), ("slave_id = 3", "slave_id", "3"), ('slave = "3"', "slave", "N")],
)
def test_a_unit_id_in_a_modbus_channel_is_pointed_at_the_device_s_unit(
    written: str, key: str, shown: str
) -> None:
    """A number as a Modbus sensor's channel's ``unit`` is the device's unit id meant, not a
    unit label: the error names the key it goes in (and what other tools call the unit id
    is told the same), not where a channel's unit label goes."""
    text = MODBUS.format(extra="", channel="flow") + f"  {written}\n"
    [problem] = error_of(text).problems
    assert problem.partition(" (known:")[0] == (
        f"sensors[0].channels[0].{key}: unknown key; a Modbus device's unit id is its "
        f"sensor's, not a channel's: sensors[0].modbus.unit ([sensors.modbus] unit = {shown})"
    )


@pytest.mark.parametrize(
    ("text", "told"),
    [
        # a text is a unit label, also in a Modbus sensor's channel
        (MODBUS.format(extra="", channel="flow") + '  unit = "m3/h"\n', "sensord has no unit "),
        # a number in another sensor's channel: there is no unit id
        (sensor("boiler", "sim://boiler") + "  unit = 3\n", "sensord has no unit label"),
    ],
    ids=["modbus-label", "value-number"],
)
def test_a_channel_s_unit_that_is_no_modbus_unit_id_is_told_where_a_unit_goes(
    text: str, told: str
) -> None:
    [problem] = error_of(text).problems
    assert problem.startswith(f"sensors[0].channels[0].unit: unknown key; {told}"), problem


def test_an_unknown_key_of_a_nested_table_is_pointed_there() -> None:
    text = sensor("meter", "sim://meter", "baudrate = 9600") + sensor("boiler", "sim://boiler")
    text += "  scale = 0.1\n"  # of the channel
    assert [p.partition(" (known:")[0] for p in error_of(text).problems] == [
        "sensors[0].baudrate: unknown key; did you mean 'serial.baudrate'?",
        "sensors[1].channels[0].scale: unknown key; did you mean 'normalize.scale'?",
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            '[[sensors]]\nname = "a"\nport = "sim://a"\nformat = "kv"\n'
            'channels = ["temperature", { name = "humidity" }]\n',
            "sensors[0].channels[0]: must be a table, got string 'temperature' "
            '(an entry is a table with its name: { name = "temperature" })',
        ),
        (
            'sensors = ["boiler"]\n',
            "sensors[0]: must be a table, got string 'boiler' "
            '(an entry is a table with its name: { name = "boiler" })',
        ),
    ],
)
def test_an_entry_written_as_its_name_alone_is_shown_as_a_table(text: str, problem: str) -> None:
    """``channels = ["temperature"]`` reads naturally but TOML's entries of such an array
    are tables: the text is shown, and the table it would be."""
    assert problem in error_of(text).problems


def test_a_wrongly_typed_serial_table_does_not_hide_a_channel_without_its_register() -> None:
    assert error_of(MODBUS.format(extra='serial = "9600"', channel="flw")).problems == [
        "sensors[0].serial: must be a table, got string '9600'",
        "sensors[0].channels[0].field: no register is named 'flw'; did you mean 'flow'?",
        "sensors[0].registers[0].name: no channel reads 'flow'",
    ]


def test_a_channel_reading_no_register_is_shown_the_registers_there_are() -> None:
    text = MODBUS.format(extra="", channel="pressure")
    assert error_of(text).problems == [
        "sensors[0].channels[0].field: no register is named 'pressure' (the registers: flow)",
        "sensors[0].registers[0].name: no channel reads 'flow'",
    ]


def test_a_wrongly_typed_modbus_table_does_not_hide_a_misspelt_register_name() -> None:
    text = MODBUS.format(extra="modbus = 7", channel="flw")
    assert error_of(text).problems == [
        "sensors[0].modbus: must be a table, got integer 7",
        "sensors[0].channels[0].field: no register is named 'flw'; did you mean 'flow'?",
        "sensors[0].registers[0].name: no channel reads 'flow'",
    ]


@pytest.mark.parametrize(
    ("modbus", "problem"),
    [
        ("unit = 300", "sensors[0].modbus.unit: must be in [0, 255], got 300"),
        ("unitt = 3", "sensors[0].modbus.unitt: unknown key; did you mean 'unit'?"),
        (
            "unit = 1, interval_s = 0",
            "sensors[0].modbus.interval_s: must be in [0.01, 86400], got 0",
        ),
        (
            'unit = 1, byte_order = "middle"',
            "sensors[0].modbus.byte_order: must be one of 'big', 'little', got 'middle'",
        ),
        ("unit = 1, max_gap = -1", "sensors[0].modbus.max_gap: must be in [0, 123], got -1"),
        ("unit = 1, setup = 3", "sensors[0].modbus.setup: must be an array of tables"),
    ],
)
def test_a_modbus_table_key_in_error_is_told_and_read_by_no_check(
    modbus: str, problem: str
) -> None:
    """The device table is kept as far as it loaded, for the bus's checks of its unit id: the
    sensor's own checks that read a key of it that failed to load (its unit id on a serial
    line, its interval against ``stale_after_s``, its orders and set-up writes for the codec)
    are left out, as for a key of the sensor's own, and the error is the key's alone."""
    text = MODBUS.format(
        extra=f"modbus = {{ {modbus} }}\nstale_after_s = 5", channel="flow"
    ).replace("sim://bus", "/dev/ttyUSB9")
    (found,) = error_of(text).problems
    assert found.startswith(problem), found


def test_a_frame_table_error_does_not_hide_a_duplicate_channel() -> None:
    text = """
[[sensors]]
name = "scale"
port = "sim://scale"
format = "frames"
frame = { start = '\\x02', length = 8, checksm = "xor", fields = [{ name = "w", offset = 1, type = "u16be" }] }
channels = [{ name = "w" }, { name = "w" }]
"""
    found = error_of(text).problems
    assert found[0].startswith("sensors[0].frame.checksm: unknown key; did you mean 'checksum'?")
    assert found[1:] == ["sensors[0].channels[1].name: 'w' is already used by channels[0]"]


@pytest.mark.parametrize(
    ("extra", "first"),
    [
        # a misspelt poll: "no poll asks it" would only follow from the typo
        (
            'setup = ["query_mode"]\npol = { command = "query", interval_s = 2 }',
            "sensors[0].pol: unknown key; did you mean 'poll'?",
        ),
        # a poll that is wrong: the same
        (
            'setup = ["query_mode"]\npoll = { command = "query", interval_s = 0 }',
            "sensors[0].poll.interval_s: must be in [0.01, 86400], got 0",
        ),
        # a frame of the preset's that is wrong: no check against the frame follows
        ('frame = "pms"', "sensors[0].frame: must be a table, got string"),
        # an unknown key meant for no key anyone can tell: no cross-check is relied on
        ('setup = ["query_mode"]\nquerry = true', "sensors[0].querry: unknown key (known:"),
        # the preset read with another format: its set-up bytes are not "for format 'frames'"
        (
            'format = "value"\nsetup = [{ send = "AA B4 06 01 00" }]',
            "sensors[0].format: preset 'sds011' is read with format 'frames'",
        ),
    ],
)
def test_no_error_that_only_follows_from_the_first_is_reported(extra: str, first: str) -> None:
    text = f'[[sensors]]\nname = "dust"\nport = "sim://dust"\npreset = "sds011"\n{extra}\n'
    found = error_of(text).problems
    assert len(found) == 1, found
    assert found[0].startswith(first), found


def test_a_field_that_failed_is_not_read_by_any_check() -> None:
    """Every check of a sensor that reads a field which failed to load is left out, whichever
    field it is: a check that reads it meets ``UnloadedFieldError``, on which ``run_checks``
    leaves it out."""
    text = MODBUS.format(extra="", channel="flow").replace('port = "sim://bus"', "port = 5")
    assert error_of(text).problems == [
        'sensors[0].port: must be a string, got integer 5 (written as port = "/dev/ttyUSB0": a '
        "device path or a URL (socket://HOST:PORT), as text)"
    ]


# -- what an operator writes wrong, and the fix the message suggests -----------------------------


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        (
            'serial = { baudrate = "9600" }',
            "sensors[0].serial.baudrate: must be an integer, got string '9600' (write it without "
            "quotes: baudrate = 9600)",
        ),
        (
            'sampling_rate_hz = "0.5"',
            "sensors[0].sampling_rate_hz: must be a number, got string '0.5' (write it without "
            "quotes: sampling_rate_hz = 0.5)",
        ),
        (
            'serial = { rs485 = "true" }',
            "sensors[0].serial.rs485: must be true or false, got string 'true' (write it without "
            "quotes: rs485 = true)",
        ),
        (
            'sampling_rate_hz = "fast"',
            "sensors[0].sampling_rate_hz: must be a number, got string 'fast'",
        ),
    ],
)
def test_a_quoted_number_or_boolean_is_told_to_lose_its_quotes(extra: str, problem: str) -> None:
    assert error_of(sensor("meter", "sim://meter", extra)).problems == [problem]


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        (
            'serial = { parity = "none" }',
            "sensors[0].serial.parity: must be one of 'N', 'E', 'O', 'M', 'S' (in either case), "
            "got 'none'; did you mean 'N'?",
        ),
        (
            'serial = { parity = "Even" }',
            "sensors[0].serial.parity: must be one of 'N', 'E', 'O', 'M', 'S' (in either case), "
            "got 'Even'; did you mean 'E'?",
        ),
        (
            'serial = { parity = "x" }',
            "sensors[0].serial.parity: must be one of 'N', 'E', 'O', 'M', 'S' (in either case), "
            "got 'x'",
        ),
        (
            'serial = { stopbits = "1" }',
            "sensors[0].serial.stopbits: must be one of 1, 1.5, 2, got string '1' (write it "
            "without quotes: stopbits = 1)",
        ),
        (
            'serial = { bytesize = "8" }',
            "sensors[0].serial.bytesize: must be one of 5, 6, 7, 8, got string '8' (write it "
            "without quotes: bytesize = 8)",
        ),
        (
            'serial = { bytesize = "eight" }',
            "sensors[0].serial.bytesize: must be one of 5, 6, 7, 8, got string 'eight'",
        ),
    ],
)
def test_a_choice_written_another_way_is_pointed_to_the_choice(extra: str, problem: str) -> None:
    assert error_of(sensor("meter", "sim://meter", extra)).problems == [problem]


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        (
            "serial = { bytesize = 8.0 }",
            "sensors[0].serial.bytesize: must be one of 5, 6, 7, 8, got float 8.0 (write it "
            "without a decimal point: bytesize = 8)",
        ),
        (
            "serial = { baudrate = 9600.0 }",
            "sensors[0].serial.baudrate: must be an integer, got float 9600.0 (write it without a "
            "decimal point: baudrate = 9600)",
        ),
        (
            "serial = { baudrate = 9600.5 }",
            "sensors[0].serial.baudrate: must be an integer, got float 9600.5",
        ),
    ],
)
def test_a_whole_number_written_with_a_decimal_point_is_told_to_lose_it(
    extra: str, problem: str
) -> None:
    assert error_of(sensor("meter", "sim://meter", extra)).problems == [problem]


def test_a_port_written_as_a_number_is_told_how_a_port_is_written() -> None:
    """``port = 3`` (a COM port's number, a ttyUSB's): "5" in quotes is no port either, so
    the message shows one as it is written."""
    text = sensor("meter", "sim://meter").replace('port = "sim://meter"', "port = 3")
    assert error_of(text).problems == [
        'sensors[0].port: must be a string, got integer 3 (written as port = "/dev/ttyUSB0": a '
        "device path or a URL (socket://HOST:PORT), as text)"
    ]


@pytest.mark.parametrize("written", ["e", "E"])
def test_a_parity_letter_is_taken_in_either_case_as_on_the_command_line(written: str) -> None:
    """``--parity e`` is taken; so is ``parity = "e"`` in the file, stored as the letter is
    written in the list (the line settings, a bus's comparison of its devices' lines)."""
    config = parse_config(sensor("meter", "sim://meter", f'serial = {{ parity = "{written}" }}'))
    assert config.sensors[0].serial.parity == "E"
    assert config.sensors[0].serial.settings().parity == "E"
    bus = MODBUS.format(extra='serial = { parity = "e" }', channel="flow") + MODBUS.replace(
        "pump", "tank"
    ).format(extra=f'serial = {{ parity = "{written}" }}\nmodbus = {{ unit = 2 }}', channel="flow")
    assert [s.serial.parity for s in parse_config(bus).sensors] == ["E", "E"]


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        (
            'modbus = { unit = 1, interval_s = "5s" }',
            "sensors[0].modbus.interval_s: must be a number, got string '5s' (write the number "
            "of seconds without quotes or unit: interval_s = 5)",
        ),
        (
            'modbus = { unit = 1, timeout_s = "500ms" }',
            "sensors[0].modbus.timeout_s: must be a number, got string '500ms' (write the "
            "number of seconds without quotes or unit: timeout_s = 0.5)",
        ),
        (
            'modbus = { unit = 1, timeout_s = "1.5 S" }',
            "sensors[0].modbus.timeout_s: must be a number, got string '1.5 S' (write the "
            "number of seconds without quotes or unit: timeout_s = 1.5)",
        ),
        (
            'serial = { baudrate = "9600" }',
            "sensors[0].serial.baudrate: must be an integer, got string '9600' (write it without "
            "quotes: baudrate = 9600)",
        ),
        # a unit the key's name does not imply, or no number: no value to write is told
        (
            'modbus = { unit = 1, timeout_s = "2min" }',
            "sensors[0].modbus.timeout_s: must be a number, got string '2min'",
        ),
        (
            'serial = { baudrate = "9600ms" }',
            "sensors[0].serial.baudrate: must be an integer, got string '9600ms'",
        ),
        (
            'modbus = { unit = 1, interval_s = "s" }',
            "sensors[0].modbus.interval_s: must be a number, got string 's'",
        ),
    ],
)
def test_a_quoted_number_with_a_unit_is_told_the_value_to_write(extra: str, problem: str) -> None:
    """A number written in quotes with the unit its key's name implies (``interval_s = "5s"``,
    ``timeout_s = "500ms"``) is still refused, with the value to write in the key's own unit
    (``interval_s = 5``, ``timeout_s = 0.5``), as a quoted number is told to lose its
    quotes (``baudrate = 9600``)."""
    text = MODBUS.format(extra=extra, channel="flow") if "modbus" in extra else None
    if text is None:
        text = sensor("meter", "sim://meter", extra)
    assert error_of(text).problems == [problem]


def test_a_frame_field_past_the_frame_says_where_it_ends() -> None:
    text = """
[[sensors]]
name = "scale"
port = "sim://scale"
format = "frames"
frame = { start = '\\x02', length = 8, fields = [{ name = "w", offset = 7, type = "u16be" }] }
channels = [{ name = "w" }]
"""
    assert error_of(text).problems == [
        "sensors[0].frame.fields[0].offset: 'w' (a 2-byte u16be at offset 7) ends at byte 9, "
        "past the 8-byte frame"
    ]


def test_registers_that_overlap_name_the_key_written_and_the_registers_a_value_takes() -> None:
    """A float32 takes two registers: the next value's reference, one on from the first, is
    the key at fault (not an address the file does not hold), and the value it overlaps is
    named with the registers it takes."""
    text = MODBUS.format(extra="", channel="flow").replace(
        'ref = "40001"',
        'ref = "40001"\n  type = "float32"\n  [[sensors.registers]]\n  name = "head"\n'
        '  ref = "40002"\n  [[sensors.registers]]\n  name = "temp"\n  table = "holding"\n'
        "  address = 1",
    )
    text += '  [[sensors.channels]]\n  name = "head"\n  [[sensors.channels]]\n  name = "temp"\n'
    assert error_of(text).problems == [
        "sensors[0].registers[1].ref: holding address 1 is already read by registers[0] "
        "('flow', a float32 at holding addresses 0-1)",
        "sensors[0].registers[2].address: holding address 1 is already read by registers[0] "
        "('flow', a float32 at holding addresses 0-1)",
    ]


def test_a_register_reference_written_as_a_number_is_told_to_be_quoted() -> None:
    text = MODBUS.format(extra="", channel="flow").replace('ref = "40001"', "ref = 40001")
    assert error_of(text).problems == [
        "sensors[0].registers[0].ref: must be a string, got integer 40001 (write it in quotes: "
        '"40001")'
    ]


@pytest.mark.parametrize("value", [".5", "5.", "017", "\u0661\u0662", "1 # rate"])
def test_a_quoted_number_is_not_told_to_lose_its_quotes_when_toml_reads_no_number_then(
    value: str,
) -> None:
    # Python reads these as numbers, TOML does not: without the quotes, the file is not TOML
    for key in ("sampling_rate_hz", "max_frame_bytes"):
        (problem,) = error_of(sensor("boiler", "sim://b", f'{key} = "{value}"')).problems
        assert "quotes" not in problem, problem


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (
            '"0x8"',
            "must be one of 5, 6, 7, 8, got string '0x8' (write it without quotes: bytesize = 0x8)",
        ),
        ('"8."', "must be one of 5, 6, 7, 8, got string '8.'"),
    ],
)
def test_a_quoted_number_choice_is_judged_as_toml_reads_it(value: str, problem: str) -> None:
    text = sensor("boiler", "sim://b", f"serial = {{ bytesize = {value} }}")
    assert error_of(text).problems == [f"sensors[0].serial.bytesize: {problem}"]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        # "4001" is no port either: quotes are not the fix
        (sensor("boiler", "4001").replace('"4001"', "4001"), "sensors[0].port: must be a string"),
        ("[capture]\ndirectory = 7\n", "capture.directory: must be a string"),
        (sensor("-1", "sim://x").replace('"-1"', "-1"), "sensors[0].name: must be a string"),
    ],
)
def test_a_number_is_not_told_to_be_quoted_when_the_quoted_text_is_refused_too(
    text: str, problem: str
) -> None:
    if not text.startswith("\n[[sensors]]"):
        text += sensor("boiler", "sim://boiler")
    (found,) = error_of(text).problems
    assert found.startswith(problem), found
    assert "quotes" not in found, found


@pytest.mark.parametrize(
    ("port", "problem"),
    [
        # a misspelt URL was read as a device path, which a sensor with simulate = "auto"
        # never finds, and is simulated for good
        (
            "sim:/boiler",
            "is not a device path or a URL, got 'sim:/boiler'; did you mean 'sim://boiler'?",
        ),
        (
            "socket:10.0.0.5:4001",
            "is not a device path or a URL, got 'socket:10.0.0.5:4001'; did you mean "
            "'socket://10.0.0.5:4001'?",
        ),
        (
            "replay:/var/lib/boiler.cap",
            "is not a device path or a URL, got 'replay:/var/lib/boiler.cap'; did you mean "
            "'replay:///var/lib/boiler.cap'?",
        ),
        # a service runs in /: a relative path names no device
        (
            "ttyUSB0",
            "must be an absolute device path (/dev/ttyUSB0, /dev/serial/by-id/...) or a URL "
            "(sim://NAME, socket://HOST:PORT, ...), got 'ttyUSB0'",
        ),
    ],
)
def test_a_port_that_is_neither_a_device_path_nor_a_url_is_refused(port: str, problem: str) -> None:
    assert error_of(sensor("boiler", port)).problems == [f"sensors[0].port: {problem}"]


@pytest.mark.parametrize("port", ["socket:plc", "rfc2217:/10.0.0.5", "modbus-tcp:plc"])
def test_a_misspelt_network_url_without_a_port_is_told_the_form_not_another_wrong_url(
    port: str,
) -> None:
    scheme = port.partition(":")[0]
    assert error_of(sensor("boiler", port)).problems == [
        f"sensors[0].port: is not a device path or a URL, got {port!r}; write it "
        f"{scheme}://HOST:PORT"
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            '[[sensors]]\nname = "pump\nport = "sim://bus"\n',
            "not valid TOML: Illegal character '\\n' (at line 2, column 13): name = \"pump",
        ),
        (
            '[sensors]\nname = "a"\n[[sensors]]\nname = "b"\n',
            "not valid TOML: Cannot overwrite a value (at line 3, column 10): [[sensors]] "
            "(sensors is already a table or a value above, as a [sensors] or a [[sensors.KEY]] "
            "before the first [[sensors]] makes it: write each entry of the array as "
            "[[sensors]])",
        ),
        (
            "[http\nport = 1\n",
            "not valid TOML: Expected ']' at the end of a table declaration "
            "(at line 1, column 6): [http",
        ),
    ],
)
def test_a_toml_syntax_error_shows_its_line(text: str, problem: str) -> None:
    assert error_of(text).problems == [problem]


@pytest.mark.parametrize(
    ("line", "told"),
    [
        ("port = /dev/ttyUSB0  # the boiler", 'a text goes in quotes: port = "/dev/ttyUSB0"'),
        ("format = value", 'a text goes in quotes: format = "value"'),
        (
            'name = "b"',
            "name is given twice in one table: if line 3 begins a second sensor, it needs a "
            "[[sensors]] header above it; otherwise keep one name",
        ),
        ("serial = { baudrate = 9600, }", "an inline table takes no comma after its last key"),
        ('port = "C:\\dev"', "write a backslash as \\\\, or the text in single quotes: 'C:\\path'"),
        ("sampling_rate_hz = 0,5", "a number takes a decimal point: sampling_rate_hz = 0.5"),
        # in an inline table the parser reads the digits after the comma as the next key
        (
            "serial = { baudrate = 9600, timeout_s = 0,5 }",
            "a number takes a decimal point: timeout_s = 0.5",
        ),
        (
            'channels = [{ name = "t", filter = { min = -2,5, max = 40 } }]',
            "a number takes a decimal point: min = -2.5",
        ),
        # no text to quote: a boolean or number TOML spells otherwise
        ("log_frames = True", "TOML writes true in lower case: log_frames = true"),
        ("filter_max = -Inf", "TOML writes -inf in lower case: filter_max = -inf"),
        (
            "sampling_rate_hz = .5",
            "a number takes a digit before its decimal point: sampling_rate_hz = 0.5",
        ),
        ("offset = -.25e1", "a number takes a digit before its decimal point: offset = -0.25e1"),
    ],
)
def test_a_toml_syntax_error_an_operator_makes_is_told_how_to_write_it(
    line: str, told: str
) -> None:
    """The TOML parser's words (``Invalid value``, ``Cannot overwrite a value``) name the
    place but not the mistake: a text without quotes, a key given twice, a comma the inline
    table does not take, a Windows-style backslash, a decimal comma."""
    [problem] = error_of(f'[[sensors]]\nname = "a"\n{line}\n').problems
    assert problem.startswith("not valid TOML: "), problem
    assert problem.endswith(f": {line} ({told})"), problem


#: Two sensors copied into one file, the second's [[sensors]] header left out: its keys run
#: on in the first sensor's last table.
BOILER = '[[sensors]]\nname = "boiler"\nport = "sim://boiler"\nformat = "value"\n'
METER = '\n# the meter\nname = "meter"\nport = "sim://meter"\nformat = "value"\n'


@pytest.mark.parametrize(
    ("text", "line", "key"),
    [
        (BOILER + '  [[sensors.channels]]\n  name = "v"\n' + METER, 9, "name"),
        (BOILER + 'channels = [{ name = "v" }]\n' + METER, 8, "name"),
        # the keys of the second sensor before its name are none of a channel's: the line
        # named is the first of them
        (
            BOILER + '  [[sensors.channels]]\n  name = "v"\n\nport = "sim://meter"\n'
            'format = "value"\nname = "meter"\n',
            8,
            "name",
        ),
        # keys in quotes, as some generators of TOML write every key
        (
            BOILER + '  [[sensors.channels]]\n  name = "v"\n' + METER.replace("name =", '"name" ='),
            9,
            "name",
        ),
        (
            BOILER + '  [[sensors.channels]]\n  name = "v"\n\n"port" = "sim://meter"\n'
            '\'format\' = "value"\nname = "meter"\n',
            8,
            "name",
        ),
    ],
    ids=["after-a-channel", "after-the-sensor-s-keys", "name-not-first", "quoted", "quoted-above"],
)
def test_a_second_sensor_without_its_header_is_told_the_header_not_to_keep_one_key(
    text: str, line: int, key: str
) -> None:
    """Two sensors copied into one file without the second's ``[[sensors]]`` header give the
    TOML parser a key twice in one table (its name): keeping one, the usual advice for a key
    given twice, would lose a sensor. The line where the second sensor begins is named."""
    [problem] = error_of(text).problems
    assert problem.startswith("not valid TOML: Cannot overwrite a value (at line "), problem
    assert problem.endswith(
        f"({key} is given twice in one table: if line {line} begins a second sensor, it needs "
        f"a [[sensors]] header above it; otherwise keep one {key})"
    ), problem


@pytest.mark.parametrize(
    "text",
    [
        "[http]\nport = 9100\nport = 9101\n",
        sensor(
            "boiler", "sim://boiler", "  [sensors.serial]\n  baudrate = 9600\n  baudrate = 19200"
        ),
        # a table of a channel's, no array of tables: no second entry begins there
        sensor("boiler", "sim://boiler")
        + "  [sensors.channels.window]\n  size = 10\n  size = 20\n",
        # no key of a channel's
        sensor("boiler", "sim://boiler") + "  bogus = 1\n  bogus = 2\n",
    ],
    ids=["http", "serial", "channel-window", "no-channel-key"],
)
def test_a_key_given_twice_outside_a_sensor_s_keys_is_told_to_keep_one(text: str) -> None:
    [problem] = error_of(text).problems
    assert problem.endswith(" is given twice in its table: keep one)"), problem


@pytest.mark.parametrize(
    ("text", "line", "key", "header", "entry"),
    [
        # a channel's keys alone: no second sensor begins there, a second channel may
        (
            sensor("boiler", "sim://boiler") + '  name = "w"\n',
            9,
            "name",
            "sensors.channels",
            "channel",
        ),
        (
            sensor("boiler", "sim://boiler") + "  'name' = \"w\"\n",
            9,
            "name",
            "sensors.channels",
            "channel",
        ),
        (
            sensor("boiler", "sim://boiler")
            + '  field = "T"\n  window = { size = 10 }\n\n  field = "P"\n  name = "p"\n',
            12,
            "field",
            "sensors.channels",
            "channel",
        ),
        (
            MODBUS.format(extra="", channel="flow").replace(
                '  ref = "40001"\n', '  ref = "40001"\n\n  name = "level"\n  ref = "40002"\n'
            ),
            11,
            "name",
            "sensors.registers",
            "register",
        ),
        (
            MODBUS.format(
                extra='  [[sensors.modbus.setup]]\n  ref = "40100"\n  value = 1\n'
                '  ref = "40101"\n  value = 0\n',
                channel="flow",
            ),
            9,
            "ref",
            "sensors.modbus.setup",
            "entry",
        ),
    ],
    ids=["channel-name", "channel-name-quoted", "channel-field", "register", "modbus-setup"],
)
def test_an_entry_s_key_given_twice_is_told_the_header_a_second_entry_needs(
    text: str, line: int, key: str, header: str, entry: str
) -> None:
    """The keys of a second channel (register, write) written under the first one's header,
    its own ``[[sensors.channels]]`` line left out, give the TOML parser a key twice in one
    table: keeping one, the usual advice for a key given twice, would lose that channel. The
    header it needs is named, with the line the key given again is on."""
    [problem] = error_of(text).problems
    assert problem.startswith(f"not valid TOML: Cannot overwrite a value (at line {line}, "), (
        problem
    )
    assert problem.endswith(
        f"({key} is given twice in one [[{header}]] table: if line {line} begins a second "
        f"{entry}, it needs a [[{header}]] header line above it; otherwise keep one {key})"
    ), problem


@pytest.mark.parametrize(
    ("tail", "crlf", "error_line", "hint_line"),
    [
        # a blank line parts the second channel from the first: it begins at its first key
        ('  field = "T"\n\n  scale = 2\n  name = "p"\n', False, 12, 11),
        ('  field = "T"\n  # pressure\n  scale = 2\n  unit = "bar"\n  name = "p"\n', False, 13, 11),
        # nothing parts them: the scale may be the first channel's, the line of the key is named
        ('  field = "T"\n  scale = 2\n  name = "p"\n', False, 11, 11),
        # the same file with the line ends an editor on Windows writes
        ('  field = "T"\n\n  scale = 2\n  name = "p"\n', True, 12, 11),
        ('  field = "T"\n  \n  scale = 2\n  name = "p"\n', True, 12, 11),
        # a value written over several lines above the key given twice
        (
            '  field = "T"\n\n  scale = 2\n  ignore = [\n    "^#",\n    "^$",\n  ]\n  name = "p"\n',
            False,
            16,
            11,
        ),
        # a dotted key, and a quoted one
        ('  field = "T"\n\n  filter.min = 0\n  scale = 2\n  name = "p"\n', False, 13, 11),
        ('  field = "T"\n\n  "scale" = 2\n  name = "p"\n', False, 12, 11),
        # a blank line right above the key given twice: it begins the second channel
        ('  field = "T"\n\n  scale = 2\n\n  name = "p"\n', True, 13, 13),
    ],
    ids=[
        "blank-line",
        "comment",
        "no-parting",
        "crlf",
        "crlf-spaces",
        "multi-line-array",
        "dotted-key",
        "quoted-key",
        "blank-above",
    ],
)
def test_the_second_entry_is_found_in_toml_as_people_write_it(
    tail: str, crlf: bool, error_line: int, hint_line: int
) -> None:
    """A second channel whose first key is not the one given twice (``scale`` above
    ``name``): the line named is where it begins when a blank line or a comment parts it
    from the first, since adding the header above the key given twice would leave the keys
    above it to the first channel. It is found in a file with CR LF line ends, past a value
    written over several lines, and below dotted and quoted keys, as in a file with none of
    them."""
    text = sensor("boiler", "sim://boiler") + tail
    [problem] = error_of(text.replace("\n", "\r\n") if crlf else text).problems
    assert problem.startswith(f"not valid TOML: Cannot overwrite a value (at line {error_line}, ")
    assert problem.endswith(
        f"(name is given twice in one [[sensors.channels]] table: if line {hint_line} begins a "
        "second channel, it needs a [[sensors.channels]] header line above it; otherwise keep "
        "one name)"
    ), problem


def test_the_first_entry_under_a_comment_is_not_taken_for_the_second() -> None:
    """A comment under the header parts the first channel's own keys from it: those keys
    hold the key given twice, so they are the first channel's, and the line named is the
    key's."""
    text = sensor("boiler", "sim://boiler").replace(
        "[[sensors.channels]]\n", "[[sensors.channels]]\n  # the boiler's temperature\n"
    )
    [problem] = error_of(text + '  field = "T"\n  name = "p"\n').problems
    assert problem.startswith("not valid TOML: Cannot overwrite a value (at line 11, ")
    assert "if line 11 begins a second channel" in problem, problem


#: The first sensor's table misnamed [[sensor]]: its [[sensors.channels]] makes "sensors" a
#: table, so the TOML parser stops at the [[sensors]] of the next sensor.
MISNAMED_FIRST = (
    '[[sensor]]\nname = "boiler"\nport = "sim://boiler"\nformat = "value"\n'
    '  [[sensors.channels]]\n  name = "v"\n'
) + sensor("meter", "sim://meter")


@pytest.mark.parametrize(
    ("text", "problems"),
    [
        (
            MISNAMED_FIRST,
            [
                "sensor (line 1: [[sensor]]): unknown table; did you mean [[sensors]]?",
                "not valid TOML: Cannot overwrite a value (at line 8, column 10): [[sensors]] "
                "(sensors is already a table or a value above, as a [sensors] or a "
                "[[sensors.KEY]] before the first [[sensors]] makes it: write each entry of the "
                "array as [[sensors]])",
            ],
        ),
        (
            '# boiler room\n[[sensor]]\nname = "boiler"\nport = "sim://boiler"\n'
            + sensor("meter", "sim://meter"),
            ["sensor (line 2: [[sensor]]): unknown table; did you mean [[sensors]]?"],
        ),
        (
            '[[sensor]]\nname = "boiler"\n  [[sensor.channels]]\n  name = "v"\n',
            ["sensor (line 1: [[sensor]]): unknown table; did you mean [[sensors]]?"],
        ),
        (
            "[htttp]\nport = 9100\n" + sensor("boiler", "sim://boiler"),
            ["htttp (line 1: [htttp]): unknown table; did you mean [http]?"],
        ),
        (
            MISNAMED_FIRST.split("\n[[sensors]]")[0],
            [
                "sensor (line 1: [[sensor]]): unknown table; did you mean [[sensors]]?",
                "sensors: must be an array of tables ([[sensors]]), got table (line 5: "
                "[[sensors.channels]]): [[sensors.channels]] belongs below the [[sensors]] "
                "header of its sensor, and there is none above it",
            ],
        ),
        (
            '[sensors]\nname = "boiler"\nport = "sim://boiler"\nformat = "value"\n',
            [
                "sensors: must be an array of tables ([[sensors]]), got table (line 1: "
                "[sensors]): write it [[sensors]], in double brackets: each sensor is one entry "
                "of the array"
            ],
        ),
    ],
    ids=["toml-error-below", "loaded", "only-sensor", "http", "its-channels-below", "single"],
)
def test_a_misnamed_table_is_named_with_its_line_and_the_header_meant(
    tmp_path: Path, text: str, problems: list[str]
) -> None:
    path = tmp_path / "site.toml"
    path.write_text(text)
    result = sensord_cli("check", str(path))
    assert (result.returncode, result.stdout) == (1, "")
    if len(problems) == 1:
        shown = problems[0]
    else:
        shown = f"{len(problems)} configuration errors:\n" + "".join(f"  {p}\n" for p in problems)
        shown = shown.rstrip("\n")
    assert result.stderr == f"sensord: invalid configuration: {path}: {shown}\n"


@pytest.mark.parametrize("separator", ["\u2028", "\u2029", "\x85"])
def test_a_toml_syntax_error_quotes_its_line_past_a_line_separator_in_a_comment(
    separator: str,
) -> None:
    # TOML counts lines by "\n" only; a comment may hold other line separators
    text = f"# boiler room {separator} east wall\n[http\nport = 1\n"
    assert error_of(text).problems == [
        "not valid TOML: Expected ']' at the end of a table declaration "
        "(at line 2, column 6): [http"
    ]


@pytest.mark.parametrize(
    "line",
    [
        "basic_auth_password = s3cr3t-word",
        'basic_auth_password = "s3cr3t-word',
        'basic_auth_password = "s3cr3t-word" x',
        'http = { basic_auth_username = "u", basic_auth_password = s3cr3t-word }',
    ],
)
def test_a_toml_syntax_error_on_a_password_line_does_not_show_the_password(line: str) -> None:
    # the message goes to stderr and, on a reload, to the journal
    text = ("[http]\nbasic_auth_username = 'u'\n" if line.startswith("basic") else "") + line
    (problem,) = error_of(text + "\n" + sensor("boiler", "sim://boiler")).problems
    assert problem.startswith("not valid TOML: ")
    assert "s3cr3t" not in problem
    assert problem.endswith(" = (the value is not shown: it is a password)")


@pytest.mark.parametrize("value", ["12345678", "12345678.5", "[12345678]", "{ a = 12345678 }"])
def test_a_password_of_another_type_is_refused_without_showing_it(value: str) -> None:
    text = f'[http]\nbasic_auth_username = "u"\nbasic_auth_password = {value}\n'
    (problem,) = error_of(text + sensor("boiler", "sim://boiler")).problems
    assert problem.startswith("http.basic_auth_password: must be a string, got "), problem
    assert "12345678" not in problem, problem


@pytest.mark.parametrize("command", [["check"], ["run", "-c"]])
def test_a_toml_syntax_error_exits_1_without_a_traceback(
    tmp_path: Path, command: list[str]
) -> None:
    path = tmp_path / "site.toml"
    path.write_text(sensor("boiler", "sim://boiler") + 'format "kv"\n')
    result = sensord_cli(*command, str(path))
    assert (result.returncode, result.stdout) == (1, "")
    assert result.stderr == (
        f"sensord: invalid configuration: {path}: not valid TOML: Expected '=' after a key in a "
        'key/value pair (at line 9, column 8): format "kv"\n'
    )


def test_two_sensors_on_one_port_are_reported_when_another_sensor_has_errors() -> None:
    text = (
        sensor("boiler", "/dev/ttyUSB0")
        + MODBUS.format(extra="", channel="flow").replace('ref = "40001"', 'ref = "4001"')
        + sensor("scale", "/dev/ttyUSB0")
    )
    assert error_of(text).lines == [
        "sensors[1].registers[0].ref (sensor 'pump'): must be 5 or 6 digits such as '40001', "
        "got '4001'",
        "sensors[2].port (sensor 'scale'): '/dev/ttyUSB0' is already used by sensors[0] "
        "(sensor 'boiler') (two sensors cannot share one port: give each sensor the port of its "
        "own device, or read the values one device sends as channels of one sensor)",
    ]


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        (
            "50001",
            "must start with its table's digit (0 coil, 1 discrete input, 3 input register, "
            "4 holding register), got '50001'",
        ),
        ("4001", "must be 5 or 6 digits such as '40001', got '4001'"),
        ("40000", "register numbers in a reference run from 1 to 65536, got '40000'"),
    ],
)
def test_a_reference_is_refused_saying_what_is_wrong_with_it(ref: str, message: str) -> None:
    """A five-digit reference with a table digit no table has is told about that digit, not
    that it should have five digits."""
    text = MODBUS.format(extra="", channel="flow").replace('ref = "40001"', f'ref = "{ref}"')
    assert error_of(text).lines == [f"sensors[0].registers[0].ref (sensor 'pump'): {message}"]


def test_a_sensor_on_a_taken_port_is_told_so_with_its_other_errors() -> None:
    """Its port and format loaded: the port it shares is told beside its misspelt key, not
    after that is fixed; a sensor whose format did not load is not judged by its port."""
    text = (
        sensor("boiler", "/dev/ttyUSB0")
        + sensor("scale", "/dev/ttyUSB0", "sampling_rate_hz = 0")
        + sensor("pump", "/dev/ttyUSB0").replace('format = "value"', 'format = "modbsu"')
    )
    assert error_of(text).problems == [
        "sensors[1].sampling_rate_hz: must be greater than 0, got 0",
        "sensors[1].port: '/dev/ttyUSB0' is already used by sensors[0] (two sensors cannot "
        "share one port: give each sensor the port of its own device, or read the values one "
        "device sends as channels of one sensor)",
        "sensors[2].format: must be one of 'value', 'kv', 'csv', 'json', 'nmea', 'frames', "
        "'modbus', 'dsmr', got 'modbsu'; did you mean 'modbus'?",
    ]


def test_each_sensor_of_a_file_with_errors_is_loaded_and_checked_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The sensors on one port are found among those that loaded, not by loading each again."""
    checked: list[str] = []
    checks = SensorConfig._checks

    def counted(self: SensorConfig) -> tuple[Callable[[], list[tuple[str, str]]], ...]:
        checked.append(self.name)
        return checks(self)

    monkeypatch.setattr(SensorConfig, "_checks", counted)
    text = (
        sensor("boiler", "/dev/ttyUSB0")
        + sensor("meter", "sim://meter", "sampling_rate_hz = 0")
        + sensor("scale", "/dev/ttyUSB0")
    )
    assert error_of(text).problems == [
        "sensors[1].sampling_rate_hz: must be greater than 0, got 0",
        "sensors[2].port: '/dev/ttyUSB0' is already used by sensors[0] (two sensors cannot "
        "share one port: give each sensor the port of its own device, or read the values one "
        "device sends as channels of one sensor)",
    ]
    assert checked == ["boiler", "meter", "scale"]


def test_a_sensor_that_is_no_table_does_not_hide_two_others_on_one_port() -> None:
    table = (
        "{{ name = '{}', port = '/dev/ttyUSB0', format = 'value', channels = [{{ name = 'v' }}] }}"
    )
    text = f"sensors = [1, {table.format('boiler')}, {table.format('scale')}]\n"
    assert error_of(text).problems == [
        "sensors[0]: must be a table, got integer 1",
        "sensors[2].port: '/dev/ttyUSB0' is already used by sensors[1] (two sensors cannot "
        "share one port: give each sensor the port of its own device, or read the values one "
        "device sends as channels of one sensor)",
    ]


def test_an_unknown_top_level_key_does_not_hide_two_sensors_of_one_name() -> None:
    """A key meant for who knows what may be meant for any key the file does not give, not
    for the sensors it gives."""
    text = "colour = 1\n" + sensor("boiler", "sim://a") + sensor("boiler", "sim://b")
    assert error_of(text).problems == [
        "colour: unknown key (known: http, capture, log, metrics, reader, sensors)",
        "sensors[1].name: 'boiler' is already used by sensors[0]",
    ]


def test_the_problems_of_a_file_are_in_the_order_of_its_sensors() -> None:
    """A sensor's name or port taken by another is told with that sensor's own problems, not
    after those of every sensor below it."""
    text = (
        '[http]\nport = "x"\n'
        + sensor("boiler", "/dev/ttyUSB0")
        + sensor("boiler", "sim://b", "warmup_s = -1")
        + sensor("meter", "/dev/ttyUSB0")
        + sensor("scale", "sim://scale", "sampling_rate_hz = 0")
    )
    assert error_of(text).problems == [
        "http.port: must be an integer, got string 'x'",
        "sensors[1].warmup_s: must be in [0, 3600], got -1",
        "sensors[1].name: 'boiler' is already used by sensors[0]",
        "sensors[2].port: '/dev/ttyUSB0' is already used by sensors[0] (two sensors cannot "
        "share one port: give each sensor the port of its own device, or read the values one "
        "device sends as channels of one sensor)",
        "sensors[3].sampling_rate_hz: must be greater than 0, got 0",
    ]


def test_two_modbus_devices_of_one_unit_are_reported_when_http_has_an_error() -> None:
    pump = MODBUS.format(extra="modbus = { unit = 3 }", channel="flow")
    text = '[http]\nport = "9808"\n' + pump + pump.replace('"pump"', '"fan"')
    assert error_of(text).problems == [
        "http.port: must be an integer, got string '9808' (write it without quotes: port = 9808)",
        "sensors[1].modbus.unit: 3 is already used by sensors[0] on sim://bus"
        ": each device on a port answers at its own unit id; set modbus.unit to the address this "
        "device is set to (by its DIP switches, its menu or its address register), or, when "
        "both sensors read one device, put their registers in one sensor",
    ]


def test_an_ipv6_listen_address_with_a_port_is_told_the_address_without_brackets() -> None:
    text = '[http]\nlisten = "[::1]:9808"\n' + sensor("boiler", "sim://boiler")
    assert error_of(text).problems == [
        "http.listen: must be an IP address or host name, got '[::1]:9808'; the port goes in "
        'port: listen = "::1", port = 9808'
    ]
    parse_config('[http]\nlisten = "::1"\nport = 9808\n' + sensor("boiler", "sim://boiler"))


def test_a_listen_address_with_a_port_is_told_where_the_port_goes() -> None:
    text = '[http]\nlisten = "0.0.0.0:9808"\n' + sensor("boiler", "sim://boiler")
    assert error_of(text).problems == [
        "http.listen: must be an IP address or host name, got '0.0.0.0:9808'; the port goes in "
        'port: listen = "0.0.0.0", port = 9808'
    ]


@pytest.mark.parametrize(
    ("header", "path"),
    [
        ("[sensors.serial]\nbaudrate = 19200", "serial"),
        ('[[sensors.channels]]\nname = "t"', "channels[0]"),
    ],
)
def test_a_sensor_key_written_after_a_table_header_is_told_to_move_above_it(
    header: str, path: str
) -> None:
    text = f'[[sensors]]\nname = "boiler"\n{header}\nport = "/dev/ttyUSB0"\nformat = "kv"\n'
    if path == "serial":
        text += '[[sensors.channels]]\nname = "t"\n'
    table = header.partition("\n")[0]
    assert error_of(text).lines == [
        f"sensors[0].{path}.{key} (sensor 'boiler'): unknown key; {key!r} is a key of "
        f"sensors[0], but the keys after a {table} header belong to that table: write it above "
        "the first table header of sensors[0]"
        for key in ("port", "format")
    ]


def test_a_sensor_key_given_again_after_a_table_header_is_told_so() -> None:
    """``serial = { ... }`` appended at the end of a sensor's table to change its line speed
    lands in its last channel: not a misspelt ``signal``, but a second ``serial`` of the
    sensor, which has one already."""
    text = sensor("boiler", "/dev/ttyUSB0", "serial = { baudrate = 9600 }")
    text += "  serial = { baudrate = 19200 }\n"
    assert error_of(text).lines == [
        "sensors[0].channels[0].serial (sensor 'boiler'): unknown key; 'serial' is a key of "
        "sensors[0], but the keys after a [[sensors.channels]] header belong to that table: "
        "sensors[0] has it above already: keep one, above the first table header of sensors[0]"
    ]


@pytest.mark.parametrize(
    ("tables", "path"),
    [
        # above the second [[sensors.channels]], it would be the first channel's
        ('[[sensors.channels]]\nname = "t"\n[[sensors.channels]]\nname = "p"', "channels[1]"),
        # above [[sensors.channels]], it would be the serial table's
        ('[sensors.serial]\nbaudrate = 9600\n[[sensors.channels]]\nname = "t"', "channels[0]"),
    ],
)
def test_a_key_after_a_later_table_header_is_told_to_move_above_the_first(
    tables: str, path: str
) -> None:
    text = f'[[sensors]]\nname = "boiler"\nport = "sim://boiler"\n{tables}\nformat = "kv"\n'
    (line,) = error_of(text).lines
    assert line.startswith(f"sensors[0].{path}.format (sensor 'boiler'): unknown key; "), line
    assert line.endswith(": write it above the first table header of sensors[0]"), line
    moved = text.replace('\nformat = "kv"', "").replace(tables, f'format = "kv"\n{tables}')
    assert parse_config(moved).sensors[0].format == "kv"


# -- a register map whose entries do not all load ------------------------------------------------

INVERTER = """
[[sensors]]
name = "inverter"
port = "sim://bus"
format = "modbus"
registers = [
  {{ name = "w", table = "holding", address = 83, type = "int16", scale_register = "w_sf" }},
  {entry},
  {{ name = "w_sf", table = "holding", address = 84 {factor} }},
  {{ name = "state", table = "holding", address = 90, bit = 3, bits = 4 }},
  {{ name = "fault", table = "holding", address = 90, bit = 5, bits = 4 }},
]
channels = [{{ name = "w" }}, {{ name = "hz" }}, {{ name = "state" }}, {{ name = "fault" }}]
"""


def test_an_entry_in_error_does_not_hide_the_map_s_own_mistakes_named_as_in_the_file() -> None:
    """A key copied from another tool into one entry is told beside the mistakes of the map
    that the other entries make (bits that overlap, a factor of an unsigned type), each
    entry named by its place in the file, not in the map checked without the entry."""
    text = INVERTER.format(
        entry='{ name = "hz", table = "holding", address = 85, scale = 0.01 }', factor=""
    )
    found = error_of(text).problems
    assert found[0].startswith("sensors[0].registers[1].scale: unknown key; a register is read")
    assert found[1:] == [
        "sensors[0].registers[4].bit: its bits 5..8 overlap the bits 3..6 of registers[3] "
        "('state', a uint16 at holding address 90): bits 5..6 in both",
        "sensors[0].registers[0].scale_register: 'w_sf' is a uint16; a scale factor is a signed "
        "integer (SunSpec's sunssf is an int16, whose -2 a uint16 reads as 65534): give it "
        'type = "int16"',
    ]


@pytest.mark.parametrize(
    ("factor", "first"),
    [
        # the factor's own entry has the error: its value is checked with it once it loads
        (', type = "int16", scale = 1', "sensors[0].registers[2].scale: unknown key"),
        (', type = "in16"', "sensors[0].registers[2].type: must be one of"),
    ],
)
def test_a_factor_in_error_leaves_its_value_unjudged_and_the_rest_checked(
    factor: str, first: str
) -> None:
    text = INVERTER.format(entry='{ name = "hz", table = "holding", address = 85 }', factor=factor)
    found = error_of(text).problems
    assert found[0].startswith(first), found
    assert found[1:] == [
        "sensors[0].registers[4].bit: its bits 5..8 overlap the bits 3..6 of registers[3] "
        "('state', a uint16 at holding address 90): bits 5..6 in both",
    ]


@pytest.mark.parametrize(
    ("entry", "first"),
    [
        ('"hz"', "sensors[0].registers[1]: must be a table, got string"),
        ('{ name = "w", table = "holding", address = 85, typ = "int16" }', "sensors[0].registers"),
        ('{ name = 85, table = "holding", address = 85 }', "sensors[0].registers[1].name: must be"),
    ],
)
def test_an_entry_that_is_no_table_or_has_no_name_is_told_with_the_map_s_mistakes(
    entry: str, first: str
) -> None:
    """An entry whose name failed cannot be the channel's register nor the factor asked for:
    no "no register is named" follows from it; one named twice is told so."""
    text = INVERTER.format(entry=entry, factor="")
    found = error_of(text).problems
    assert found[0].startswith(first), found
    assert (
        "sensors[0].registers[4].bit: its bits 5..8 overlap the bits 3..6 of registers[3]"
        in found[-2]
    )
    assert not any("no register is named" in p or "no channel reads" in p for p in found), found
    if "typ" in entry:
        assert "sensors[0].registers[1].name: 'w' is already used by registers[0]" in found


def test_a_misspelt_key_of_another_tool_is_told_what_sensord_does_instead() -> None:
    text = MODBUS.format(extra="", channel="flow").replace(
        'ref = "40001"', 'ref = "40001"\n  scael = 0.1'
    )
    [problem] = error_of(text).problems
    assert problem.startswith(
        "sensors[0].registers[0].scael: unknown key; 'scale'? a register is read as the device "
        "holds it: scale it in its channel, normalize = { scale = 0.1 }"
    )


def test_sign_twos_on_a_whole_value_names_the_signed_type_of_its_width() -> None:
    text = MODBUS.format(extra="", channel="flow").replace(
        'ref = "40001"', 'ref = "40001"\n  type = "uint32"\n  sign = "twos"'
    )
    [problem] = error_of(text).problems
    assert '(type = "int32")' in problem


def test_a_register_error_does_not_hide_two_devices_of_one_unit_id_on_a_bus() -> None:
    meter = """
[[sensors]]
name = "{name}"
port = "/dev/ttyUSB0"
format = "modbus"
serial = {{ baudrate = {baudrate} }}
modbus = {{ unit = 1 }}
registers = [{{ name = "p", table = "holding", address = {address} }}]
channels = [{{ name = "p" }}]
"""
    text = meter.format(name="main", baudrate=9600, address=0) + meter.format(
        name="hvac", baudrate=19200, address=70000
    )
    assert error_of(text).problems == [
        "sensors[1].registers[0].address: must be in [0, 65535], got 70000",
        "sensors[1].serial.baudrate: 19200 differs from 9600, the serial.baudrate of "
        "sensors[0], which opens the same bus /dev/ttyUSB0: the devices of a bus share its "
        "settings",
        "sensors[1].modbus.unit: 1 is already used by sensors[0] on /dev/ttyUSB0"
        ": each device on a port answers at its own unit id; set modbus.unit to the address this "
        "device is set to (by its DIP switches, its menu or its address register), or, when "
        "both sensors read one device, put their registers in one sensor",
    ]


def test_a_bus_whose_first_device_has_a_bad_setting_compares_its_other_devices() -> None:
    meter = """
[[sensors]]
name = "{name}"
port = "/dev/ttyUSB0"
format = "modbus"
serial = {{ baudrate = {baudrate} }}
modbus = {{ unit = {unit} }}
registers = [{{ name = "p", table = "holding", address = 0 }}]
channels = [{{ name = "p" }}]
"""
    text = (
        meter.format(name="main", baudrate='"fast"', unit=1)
        + meter.format(name="hvac", baudrate=9600, unit=2)
        + meter.format(name="pump", baudrate=19200, unit=3)
    )
    assert error_of(text).problems == [
        "sensors[0].serial.baudrate: must be an integer, got string 'fast'",
        "sensors[2].serial.baudrate: 19200 differs from 9600, the serial.baudrate of "
        "sensors[1], which opens the same bus /dev/ttyUSB0: the devices of a bus share its "
        "settings",
    ]


KNOWN = " (known: http, capture, log, metrics, reader, sensors)"


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        (
            'format = "value"',
            "format: unknown key; 'format' is a key of each sensor (sensors[].format), not of "
            "the top level: write it below the [[sensors]] header of each sensor it is meant "
            'for, as format = "value"',
        ),
        (
            "baudrate = 9600",
            "baudrate: unknown key; 'baudrate' is a key of each sensor "
            "(sensors[].serial.baudrate), not of the top level: write it below the [[sensors]] "
            "header of each sensor it is meant for, as serial = { baudrate = 9600 }",
        ),
        (
            "baud = 9600",
            "baud: unknown key; 'baud' stands for 'serial.baudrate', a key of each sensor "
            "(sensors[].serial.baudrate), not of the top level: write it below the [[sensors]] "
            "header of each sensor it is meant for, as serial = { baudrate = 9600 }",
        ),
        (
            "scale = 0.1",
            "scale: unknown key; 'scale' is a key of each channel "
            "(sensors[].channels[].normalize.scale), not of the top level: write it below the "
            "[[sensors.channels]] header of each channel it is meant for, as "
            "normalize = { scale = 0.1 }",
        ),
        # a key of one of the file's own tables with a value it takes, which a sensor's key
        # takes too: both
        (
            'format = "json"',
            "format: unknown key; did you mean 'log.format', or the key of each sensor "
            "(sensors[].format)? That one goes below the [[sensors]] header of each sensor it "
            'is meant for, as format = "json"',
        ),
        # one only that table's key takes: that table's
        ('level = "debug"', "level: unknown key; did you mean 'log.level'?"),
        ("port = 9100", "port: unknown key; did you mean 'http.port'?"),
        # one of the type that table's key takes, out of its range, and no sensor's port (a
        # text): that table's, not a sensor's told to take a number it refuses
        ("port = 70000", "port: unknown key; did you mean 'http.port'?"),
    ],
    ids=[
        "format",
        "baudrate",
        "synonym",
        "channel-key",
        "log-or-sensor-format",
        "log-level",
        "http-port",
        "http-port-out-of-range",
    ],
)
def test_a_sensor_s_key_above_the_first_sensor_is_told_to_go_below_its_header(
    line: str, problem: str
) -> None:
    """A sensor's key written above the first ``[[sensors]]`` header is a key of the top
    level, which has none of a sensor's: the error names the header it goes below and how it
    is written there, not a key of the file's own tables that takes no such value (``format =
    "value"`` is no ``log.format``)."""
    text = f"{line}\n" + sensor("boiler", "sim://boiler")
    assert error_of(text).problems[0] == problem + KNOWN


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            sensor("boiler", "sim://boiler").replace("[[sensors.channels]]", "[sensors.channels]"),
            "sensors[0].channels: must be an array of tables ([[sensors.channels]]), got table",
        ),
        (
            sensor("boiler", "sim://boiler") + sensor("meter", "sim://meter", "registers = 1"),
            "sensors[1].registers: must be an array of tables ([[sensors.registers]]), got integer 1",
        ),
    ],
    ids=["channels-in-single-brackets", "second-sensor-s-registers"],
)
def test_an_array_of_tables_given_otherwise_is_told_its_header_as_written(
    text: str, problem: str
) -> None:
    """A sensor's ``[sensors.channels]`` written in single brackets (one table, not an array
    of them) is told the header it takes as a file writes it, ``[[sensors.channels]]``, not
    with the sensor's place in the file, which no header holds."""
    assert error_of(text).problems == [problem]
