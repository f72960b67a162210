"""Values of a key that its type takes but that no operator means: each is refused naming the
key, the value and what is allowed, or kept as a setting that means something."""

from __future__ import annotations

import socket
import time

import pytest
from harness.config import decoded_frames, sensor_toml

from sensord.config import parse_config
from sensord.config_tables import HttpConfig, SerialConfig
from sensord.errors import ConfigError
from sensord.http import serve
from sensord.sensor import SensorRuntime
from sensord.sources.serial_port import SerialSource


def problems(text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "site.toml")
    return info.value.problems


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


# -- a sampling rate of a frame in years, or none at all ----------------------------------------


@pytest.mark.parametrize("rate", ["1e-9", "5e-324", "1.1e-5"])
def test_a_sampling_rate_slower_than_a_frame_a_day_is_refused(rate: str) -> None:
    """5e-324 Hz is a frame every infinity seconds: its simulated device failed to open
    (OverflowError) in a daemon whose ``check`` had passed it."""
    assert problems(sensor_toml("kitchen", "sim://kitchen", rate_hz=float(rate))) == [
        "sensors[0].sampling_rate_hz: must be at least 1/86400 (one frame a day, the longest "
        f"stale_after_s), got {float(rate):g}"
    ]


def test_the_slowest_sampling_rate_taken_is_a_frame_a_day_and_its_device_opens() -> None:
    config = parse_config(sensor_toml("kitchen", "sim://kitchen", rate_hz=1 / 86_400))
    clock = Clock()
    runtime = SensorRuntime(config.sensors[0], clock=clock, wall_clock=clock)
    assert runtime.try_open()
    assert runtime.source is not None
    frames = []
    for step_s in (0.0, 86_399.0, 1.5):  # the first frame at the open, the next a day later
        clock.now += step_s
        runtime.feed(runtime.source.read())
        frames.append(runtime.snapshot().frames)
    assert frames == [1, 1, 2]


# -- an empty table that reads as if the key were left out ----------------------------------------


@pytest.mark.parametrize("fmt", ["value", "kv", "csv", "json"])
def test_an_empty_states_table_is_refused_telling_to_leave_it_out(fmt: str) -> None:
    extra = 'parse = { columns = ["v"] }' if fmt == "csv" else ""
    channel = '  [[sensors.channels]]\n  name = "v"\n  states = {}\n'
    assert problems(sensor_toml("relay", "sim://relay", fmt, extra, channel)) == [
        "sensors[0].channels[0].states: must hold at least one text with its number (states = "
        "{ ON = 1, OFF = 0 }), got an empty table; leave states out for a channel of numbers "
        "only"
    ]


def test_a_channel_without_states_and_one_with_them_load_as_before() -> None:
    channels = (
        '  [[sensors.channels]]\n  name = "v"\n'
        '  [[sensors.channels]]\n  name = "relay"\n  states = { ON = 1, OFF = 0 }\n'
    )
    config = parse_config(sensor_toml("s", "sim://s", "kv", "", channels))
    plain, relay = config.sensors[0].channels
    assert plain.states == ()
    assert relay.states == (("ON", 1), ("OFF", 0))
    assert relay.replace(name="relay2").states == relay.states
    assert plain.replace(name="v2").states == ()


def test_an_empty_units_array_of_a_channel_is_refused_as_it_reads_parse_units() -> None:
    """A channel's ``units = []`` read as if left out: the sensor's ``parse.units`` (``C``),
    not "no unit", which an operator writing it over parse.units means."""
    channel = '  [[sensors.channels]]\n  name = "t"\n  units = []\n'
    assert problems(sensor_toml("s", "sim://s", "kv", 'parse = { units = ["C"] }', channel)) == [
        'sensors[0].channels[0].units: must hold at least one unit text (units = ["C"]), got an '
        "empty array; a channel without units of its own reads those of parse.units: leave "
        "units out for that"
    ]


def test_a_channel_s_own_units_and_parse_units_read_as_before() -> None:
    channels = (
        '  [[sensors.channels]]\n  name = "t"\n'
        '  [[sensors.channels]]\n  name = "rh"\n  units = ["%"]\n'
    )
    sensor = parse_config(
        sensor_toml("s", "sim://s", "kv", 'parse = { units = ["C"] }', channels)
    ).sensors[0]
    assert decoded_frames(sensor, b"t=21C,rh=40%\nt=21%,rh=40%\n") == [
        [("t", 21.0), ("rh", 40.0)],
        ("invalid", [("rh", 40.0)]),
    ]
    assert sensor.parse.units == ("C",)
    assert [c.units for c in sensor.channels] == [(), ("%",)]


# -- a wait too short to wait --------------------------------------------------------------------


def test_a_serial_timeout_shorter_than_a_millisecond_is_refused() -> None:
    """A read of a port without a descriptor (``rfc2217://``, ``loop://``) blocks up to
    ``serial.timeout_s`` for a byte: at 1e-9 s it returned at once, and the daemon reading an
    idle ``loop://`` port used 70 % of a core against 8 % at 1 s."""
    assert problems(sensor_toml("s", "loop://", extra="serial = { timeout_s = 1e-9 }")) == [
        "sensors[0].serial.timeout_s: must be in [0.001, 60], got 1e-09"
    ]


def test_a_read_of_an_idle_port_without_a_descriptor_waits_the_shortest_timeout() -> None:
    shortest = SerialConfig.timeout_s.min
    assert shortest is not None
    extra = f"serial = {{ timeout_s = {shortest!r} }}"
    config = parse_config(sensor_toml("s", "loop://", extra=extra))
    with SerialSource("s", "loop://", config.sensors[0].serial.settings()) as source:
        started = time.monotonic()
        for _ in range(20):
            assert source.read() == b""
        assert time.monotonic() - started >= 20 * 0.001


@pytest.mark.parametrize("key", ["request_timeout_s", "header_timeout_s"])
def test_an_http_timeout_shorter_than_a_tenth_of_a_second_is_refused(key: str) -> None:
    """At 1e-9 s the daemon answered no request, not even one from its own host."""
    text = f"[http]\n{key} = 1e-9\n" + sensor_toml("s", "sim://s")
    assert problems(text) == [f"http.{key}: must be in [0.1, 300], got 1e-09"]


def test_a_request_sent_a_moment_after_the_connection_is_served_at_the_shortest_timeouts() -> None:
    """A client across a network sends its request a part of a round trip after the server
    accepted the connection: at the shortest timeouts taken, one 20 ms late is served."""
    shortest = {
        "request_timeout_s": HttpConfig.request_timeout_s.min,
        "header_timeout_s": HttpConfig.header_timeout_s.min,
    }
    assert None not in shortest.values()
    text = "[http]\n" + "".join(f"{k} = {v!r}\n" for k, v in shortest.items())
    cfg = parse_config(text + sensor_toml("s", "sim://s")).http
    srv = serve(
        cfg,
        "127.0.0.1",
        0,
        render_metrics=lambda accept: (b"m 1\n", "text/plain"),
        status=dict,
        health=lambda: (True, "ok"),
    )
    try:
        with socket.create_connection(("127.0.0.1", srv.port), timeout=5) as conn:
            time.sleep(0.02)
            conn.sendall(b"GET /metrics HTTP/1.1\r\nHost: sensord\r\nConnection: close\r\n\r\n")
            answer = b""
            while chunk := conn.recv(4096):
                answer += chunk
    finally:
        srv.close()
    assert answer.startswith(b"HTTP/1.1 200 "), answer
    assert answer.endswith(b"\r\n\r\nm 1\n")


# -- what a message shows ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("extra", "problem"),
    [
        ('name = "  "', "sensors[0].name: must not be empty or white space, got '  '"),
        ('port = "\\t"', "sensors[0].port: must not be empty or white space, got '\\t'"),
        (
            'poll = { command = " ", interval_s = 1 }',
            "sensors[0].poll.command: must not be empty or white space, got ' '",
        ),
        (
            '[[sensors.channels]]\n  name = "w"\n  field = "   "',
            "sensors[0].channels[1].field: must not be empty or white space, got '   '",
        ),
    ],
)
def test_a_key_of_white_space_alone_is_told_with_what_it_holds(extra: str, problem: str) -> None:
    """Spaces or a tab read as nothing in a terminal: the message shows them quoted."""
    text = sensor_toml("s", "sim://s")
    if extra.startswith("[[sensors.channels]]"):
        text += "  " + extra + "\n"
    else:
        text = text.replace('port = "sim://s"', "") if extra.startswith("port") else text
        text = text.replace('name = "s"\n', "") if extra.startswith("name") else text
        text = text.replace("[[sensors]]\n", f"[[sensors]]\n{extra}\n", 1)
    assert problems(text) == [problem]


def test_a_password_of_white_space_alone_is_refused_without_showing_it() -> None:
    text = '[http]\nbasic_auth_username = "ops"\nbasic_auth_password = "   "\n'
    assert problems(text + sensor_toml("s", "sim://s")) == [
        "http.basic_auth_password: must not be empty or white space"
    ]


# -- a parse key of another format ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("fmt", "parse", "problem"),
    [
        (
            "csv",
            'columns = ["v"], pair_separator = ";"',
            "sensors[0].parse.pair_separator: is only used by format 'kv', got ';' with format "
            "'csv'; a csv device's is parse.delimiter",
        ),
        (
            "kv",
            'delimiter = ";"',
            "sensors[0].parse.delimiter: is only used by format 'csv', got ';' with format "
            "'kv'; a kv device's is parse.pair_separator",
        ),
        (
            "csv",
            'columns = ["v"], kv_separator = ":"',
            "sensors[0].parse.kv_separator: is only used by format 'kv', got ':' with format 'csv'",
        ),
        (
            "kv",
            'columns = ["v"]',
            "sensors[0].parse.columns: is only used by format 'csv', got ['v'] with format 'kv'",
        ),
        (
            "json",
            "header = true",
            "sensors[0].parse.header: is only used by format 'csv', got true with format 'json'",
        ),
        (
            "kv",
            'pattern = "v=(\\\\d+)"',
            "sensors[0].parse.pattern: is only used by format 'value', got 'v=(\\\\d+)' with "
            "format 'kv'",
        ),
    ],
)
def test_a_parse_key_only_another_format_reads_is_refused_naming_the_one_meant(
    fmt: str, parse: str, problem: str
) -> None:
    """A csv device's cells split at ";" written as ``pair_separator``: the sensor read its
    lines at "," and every one failed, while ``check`` passed the file."""
    assert problems(sensor_toml("s", "sim://s", fmt, f"parse = {{ {parse} }}")) == [problem]


@pytest.mark.parametrize(
    ("fmt", "parse", "line", "value"),
    [
        ("kv", 'pair_separator = ";", kv_separator = ":"', b"x:1;v:2.5\n", 2.5),
        ("csv", 'columns = ["x", "v"], delimiter = ";"', b"1;2.5\n", 2.5),
        ("csv", 'columns = ["x", "v"], header = true', b"x,v\n1,2.5\n", 2.5),
        ("value", 'pattern = "V=(\\\\S+)"', b"V=2.5\n", 2.5),
        # the defaults written out are taken by any format
        (
            "value",
            'pair_separator = ",", delimiter = ",", columns = [], header = false',
            b"2.5\n",
            2.5,
        ),
    ],
)
def test_a_parse_key_of_the_sensor_s_own_format_is_read(
    fmt: str, parse: str, line: bytes, value: float
) -> None:
    sensor = parse_config(sensor_toml("s", "sim://s", fmt, f"parse = {{ {parse} }}")).sensors[0]
    assert decoded_frames(sensor, line)[-1] == [("v", value)]


# -- a csv delimiter of several blanks -----------------------------------------------------------

# R. M. Young Model 81000 ultrasonic anemometer, manual 81000-90, "Initial checkout": each field
# right-aligned in a column of its own width, a value that grows a digit or a sign with one space
# less before it (tests/test_instruments_manuals.py reads the same lines).
YOUNG_LINES = b"   0.00   0.0   0.0 346.70  25.14\r  12.34 183.2  -4.5 346.10  24.90\r"
YOUNG_PARSE = (
    'terminator = "\\r"\nparse = {{ delimiter = {}, columns = ["speed", "azimuth", '
    '"elevation", "sound_speed", "sonic_temperature"] }}'
)
YOUNG_CHANNELS = (
    '[[sensors.channels]]\nname = "w"\nfield = "speed"\n'
    '[[sensors.channels]]\nname = "t"\nfield = "sonic_temperature"\n'
)


@pytest.mark.parametrize(
    ("delimiter", "problem"),
    [
        (
            '"  "',
            "sensors[0].parse.delimiter: is 2 spaces, got '  ': give one space, delimiter = "
            '" ", which splits at each run of spaces (columns aligned with spaces have one '
            "space less before a value that grows a digit or a sign, which 2 spaces would not "
            "part from the value before it)",
        ),
        (
            '"   "',
            "sensors[0].parse.delimiter: is 3 spaces, got '   ': give one space, delimiter = "
            '" ", which splits at each run of spaces (columns aligned with spaces have one '
            "space less before a value that grows a digit or a sign, which 3 spaces would not "
            "part from the value before it)",
        ),
        (
            '"\\t\\t"',
            "sensors[0].parse.delimiter: is white space of 2 characters, got '\\t\\t': give "
            'one space (it splits at each run of spaces) or one tab, "\\t" (a tab-separated '
            "device writes one between every two cells)",
        ),
        (
            '" \\t"',
            "sensors[0].parse.delimiter: is white space of 2 characters, got ' \\t': give "
            'one space (it splits at each run of spaces) or one tab, "\\t" (a tab-separated '
            "device writes one between every two cells)",
        ),
    ],
)
def test_a_csv_delimiter_of_several_blanks_is_refused_naming_one_space_or_one_tab(
    delimiter: str, problem: str
) -> None:
    """Two spaces, counted between an anemometer's aligned columns, read its first line's
    speed as an empty cell and its elevation and speed of sound as one cell, and its next line
    (one space before ``346.10``) as a syntax error, while ``check`` passed the file."""
    extra = YOUNG_PARSE.format(delimiter)
    assert problems(sensor_toml("s", "sim://s", "csv", extra, YOUNG_CHANNELS)) == [problem]


@pytest.mark.parametrize(
    ("delimiter", "lines"),
    [
        ('" "', YOUNG_LINES),
        ('"\\t"', b"0.00\t0.0\t0.0\t346.70\t25.14\r12.34\t183.2\t-4.5\t346.10\t24.90\r"),
        ('", "', b"0.00, 0.0, 0.0, 346.70, 25.14\r12.34, 183.2, -4.5, 346.10, 24.90\r"),
    ],
)
def test_a_csv_delimiter_of_one_blank_or_with_a_mark_reads_every_line(
    delimiter: str, lines: bytes
) -> None:
    extra = YOUNG_PARSE.format(delimiter)
    sensor = parse_config(sensor_toml("s", "sim://s", "csv", extra, YOUNG_CHANNELS)).sensors[0]
    assert decoded_frames(sensor, lines) == [
        [("w", 0.0), ("t", 25.14)],
        [("w", 12.34), ("t", 24.9)],
    ]


MODBUS = """
[[sensors]]
name = "meter"
port = "sim://bus"
format = "modbus"
{extra}
registers = [{{ name = "v", ref = "30001", type = "float32" }}]
channels = [{{ name = "v" }}]
"""


def test_a_modbus_device_s_sampling_rate_is_refused_pointing_at_its_interval() -> None:
    """``sampling_rate_hz = 5`` on a meter meant five readings a second; its polls came every
    modbus.interval_s (1 s) all the same."""
    assert problems(MODBUS.format(extra="sampling_rate_hz = 5")) == [
        "sensors[0].sampling_rate_hz: is not used by format 'modbus', got 5: a Modbus device "
        "is read every modbus.interval_s (modbus = { interval_s = 0.2 } for 5 a second)"
    ]


def test_a_modbus_device_s_interval_and_a_default_rate_written_out_are_taken() -> None:
    config = parse_config(
        MODBUS.format(extra="sampling_rate_hz = 1.0\nmodbus = { unit = 1, interval_s = 0.2 }")
    )
    assert config.sensors[0].modbus_device.interval_s == 0.2


@pytest.mark.parametrize(
    ("extra", "channel", "problem"),
    [
        (
            "serial = 9600",
            "",
            "sensors[0].serial: must be a table, got integer 9600",
        ),
        (
            "",
            "window = [10]",
            "sensors[0].channels[0].window: must be a table, got array [10]",
        ),
        (
            "",
            'units = "C"',
            "sensors[0].channels[0].units: must be an array of strings, got string 'C' (as an "
            'array: units = ["C"])',
        ),
        (
            'parse = { columns = "time, temp" }',
            "",
            "sensors[0].parse.columns: must be an array of strings, got string 'time, temp' (as "
            'an array: columns = ["time", "temp"])',
        ),
        (
            'setup = [{ send = "41", expect = 79 }]',
            "",
            "sensors[0].setup[0].expect: must be a string of hex bytes or an array of them, got "
            "integer 79",
        ),
    ],
)
def test_a_value_of_the_wrong_type_for_a_table_or_an_array_is_shown(
    extra: str, channel: str, problem: str
) -> None:
    channels = f'  [[sensors.channels]]\n  name = "temp"\n  {channel}\n'
    if "parse" not in extra:
        extra += '\nparse = { columns = ["temp"] }'
    assert problems(sensor_toml("s", "sim://s", "csv", extra, channels)) == [problem]


@pytest.mark.parametrize(
    ("port", "fmt", "problem"),
    [
        (
            "socket://127.0.0.1:0",
            "value",
            "sensors[0].port: names TCP port 0, on which no server is reached, got "
            "'socket://127.0.0.1:0'; give the port the server serves the device on "
            "(socket://127.0.0.1:4001, say)",
        ),
        (
            "rfc2217://[::1]:0",
            "value",
            "sensors[0].port: names TCP port 0, on which no server is reached, got "
            "'rfc2217://[::1]:0'; give the port the server serves the device on "
            "(rfc2217://[::1]:4001, say)",
        ),
        (
            "modbus-tcp://gateway:0",
            "modbus",
            "sensors[0].port: names TCP port 0, on which no server is reached, got "
            "'modbus-tcp://gateway:0'; give the port the server serves the device on "
            "(modbus-tcp://gateway:502, say)",
        ),
    ],
)
def test_a_network_port_at_tcp_port_0_is_refused(port: str, fmt: str, problem: str) -> None:
    """``sensord check`` passed ``socket://127.0.0.1:0`` (a connection refused now, which it
    takes for a server that is down) and the daemon retried it for ever."""
    extra = 'registers = [{ name = "v", ref = "30001" }]' if fmt == "modbus" else ""
    assert problems(sensor_toml("s", port, fmt, extra, rate_hz=None)) == [problem]
