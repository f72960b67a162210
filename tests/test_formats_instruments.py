"""Line formats against what real instruments print, configured as the README says.

Each excerpt names its device and source. A sensor table is loaded by the real config loader,
and its frames cut and decoded by the framer and decoder the daemon builds from it.
"""

from __future__ import annotations

import csv
import io
import re
import string
import time
from typing import Any

import pytest
from harness.common import wait_for
from harness.config import Outcome, channel_toml, decoded_frames, sensor_toml
from harness.daemon import StartDaemon
from harness.pty import PtyPair
from harness.scrape import Scrape
from hypothesis import given, settings
from hypothesis import strategies as st
from test_formats_blocks import hint_after_repeats, readme_toml_blocks

from sensord.config import Config, parse_config
from sensord.config_sensor import SensorConfig
from sensord.errors import ConfigError, ParseError
from sensord.formats import codec_for


def decode_stream(table: str, data: bytes) -> list[Outcome]:
    """Each frame of ``data`` through the sensor's framer and decoder."""
    return decoded_frames(parse_config(table).sensors[0], data)


# Vaisala WXT536 in ASCII automatic mode, captured through a serial server (public repository
# dwkennedy/wxt536, file test.out); the "dud line" is in the capture.
WXT536 = (
    b"0R1,Dn=160D,Dm=182D,Dx=197D,Sn=3.0M,Sm=4.1M,Sx=5.8M\r\n"
    b"dud line\r\n"
    b"0R3,Rc=0.01M,Rd=10s,Ri=0.6M,Hc=0.0M,Hd=0s,Hi=0.0M\r\n"
    b"0R5,Th=16.0C,Vh=14.1N,Vs=14.3V,Vr=3.621V\r\n"
    b"0R2,Ta=16.1C,Ua=79.3P,Pa=959.7H\r\n"
)
# WXT530 series user guide, table "Data validation": on a wind measurement failure "both the
# speed and direction units are replaced by a # sign"; the PTU values likewise.
WXT_WIND_FAILED = b"0R1,Dn=000#,Dm=106#,Dx=182#,Sn=0.1#,Sm=0.1#,Sx=0.1#\r\n"
WXT_PTU_FAILED = b"0R2,Ta=16.1#,Ua=79.3P,Pa=959.7H\r\n"
# WXT520 user guide, "Automatic mode": the same station set to Fahrenheit.
WXT_FAHRENHEIT = b"0R2,Ta=74.6F,Ua=14.7P,Pa=1012.9H\r\n"

WXT_TABLE = sensor_toml(
    "wxt",
    "sim://wxt",
    "kv",
    'terminator = "\\r\\n"\nparse = { units = ["D", "M", "C", "P", "H"], invalid = ["#"] }',
    [
        channel_toml("wind_direction_deg", field="Dm"),
        channel_toml("wind_speed_mps", field="Sm"),
        channel_toml("air_temperature_celsius", field="Ta"),
        channel_toml("pressure_hpa", field="Pa"),
    ],
)


def test_a_weather_station_s_values_with_their_units_are_read_exactly() -> None:
    assert decode_stream(WXT_TABLE, WXT536) == [
        [("wind_direction_deg", 182.0), ("wind_speed_mps", 4.1)],
        ("syntax", []),  # the dud line: counted, not fatal
        [],  # rain: none of the configured keys, not meant for this sensor
        [],  # supervisor
        [("air_temperature_celsius", 16.1), ("pressure_hpa", 959.7)],
    ]


def test_a_weather_station_s_invalid_marks_drop_only_their_values() -> None:
    assert decode_stream(
        WXT_TABLE, WXT_WIND_FAILED + WXT_PTU_FAILED + b"0R1,Dm=027D,Sm=#M\r\n"
    ) == [
        ("invalid", []),
        ("invalid", [("pressure_hpa", 959.7)]),
        ("invalid", [("wind_direction_deg", 27.0)]),
    ]


def test_a_weather_station_s_unit_not_configured_drops_its_value_only() -> None:
    # Fahrenheit read as Celsius would be wrong silently: the value is rejected, naming the
    # unit, and the pressure beside it is read
    [(reason, kept)] = decode_stream(WXT_TABLE, WXT_FAHRENHEIT)
    assert (reason, kept) == ("invalid", [("pressure_hpa", 1012.9)])
    with pytest.raises(ParseError, match=r"'74.6F': its unit 'F' is none of parse.units"):
        decode_stream_raising(WXT_TABLE, WXT_FAHRENHEIT)


def decode_stream_raising(table: str, data: bytes) -> None:
    """The frames of ``data`` through the sensor's decoder, its first ParseError raised."""
    sensor = parse_config(table).sensors[0]
    spec = sensor.format_spec()
    codec = codec_for(spec.format)
    decode = codec.decoder(spec)
    for frame in codec.framer(spec, sensor.terminator, sensor.max_frame_bytes).feed(data):
        decode(frame)


# WXT530 series user guide, "Composite data message" (aR0) with the heating voltage Vh, whose
# letter is the heater's state: N off, V on at 50 %, W on at 100 %, F on at 50 % for
# a failing sensor. F is Fahrenheit for a temperature.
WXT_COMPOSITE = (
    b"0R0,Dm=027D,Sm=0.1M,Ta=23.6C,Ua=14.2P,Pa=1026.6H,Th=23.8C,Vh=12.0N\r\n"
    b"0R0,Dm=031D,Sm=0.3M,Ta=23.7C,Ua=14.1P,Pa=1026.5H,Th=24.0C,Vh=11.9F\r\n"
    b"0R0,Dm=033D,Sm=0.2M,Ta=74.7F,Ua=14.1P,Pa=1026.5H,Th=24.1C,Vh=11.9W\r\n"
)
WXT_COMPOSITE_TABLE = sensor_toml(
    "wxt",
    "sim://wxt",
    "kv",
    'terminator = "\\r\\n"\nparse = { units = ["D", "M", "P", "H"], invalid = ["#"] }',
    [
        channel_toml("wind_direction_deg", field="Dm"),
        channel_toml("air_temperature_celsius", field="Ta") + '  units = ["C"]\n',
        channel_toml("heater_temperature_celsius", field="Th") + '  units = ["C"]\n',
        channel_toml("pressure_hpa", field="Pa"),
        channel_toml("heater_volts", field="Vh") + '  units = ["N", "V", "W", "F"]\n',
    ],
)


def test_a_channel_s_own_units_tell_a_heater_s_status_from_fahrenheit() -> None:
    outcomes = decode_stream(WXT_COMPOSITE_TABLE, WXT_COMPOSITE)
    assert outcomes[:2] == [
        [
            ("wind_direction_deg", 27.0),
            ("air_temperature_celsius", 23.6),
            ("pressure_hpa", 1026.6),
            ("heater_temperature_celsius", 23.8),
            ("heater_volts", 12.0),
        ],
        [
            ("wind_direction_deg", 31.0),
            ("air_temperature_celsius", 23.7),
            ("pressure_hpa", 1026.5),
            ("heater_temperature_celsius", 24.0),
            ("heater_volts", 11.9),
        ],
    ]
    # the station switched to Fahrenheit: its temperature fails alone, the rest is read
    assert outcomes[2] == (
        "invalid",
        [
            ("wind_direction_deg", 33.0),
            ("pressure_hpa", 1026.5),
            ("heater_temperature_celsius", 24.1),
            ("heater_volts", 11.9),
        ],
    )
    with pytest.raises(
        ParseError,
        match=r"'74.7F': its unit 'F' is none of the units of channel "
        r"'air_temperature_celsius' \(C\)",
    ):
        decode_stream_raising(WXT_COMPOSITE_TABLE, WXT_COMPOSITE[-70:])


def test_a_sensor_whose_every_value_has_another_unit_is_pointed_at_the_units() -> None:
    def station(port: str) -> SensorConfig:
        table = WXT_COMPOSITE_TABLE.replace('"sim://wxt"', f'"{port}"')
        return parse_config(table).sensors[0]

    fahrenheit = b"0R0,Ta=74.7F,Th=75.1F\r\n"
    hint = hint_after_repeats(station, fahrenheit)
    assert hint is not None
    assert hint.startswith("frames come, but every one is rejected (invalid "), hint
    assert "check the units the device sends against the channels' units (and parse.units" in hint
    # values the device marks as not measured are no such sign: no hint
    assert hint_after_repeats(station, b"0R0,Ta=74.7#,Th=75.1#\r\n") is None


def test_with_the_heater_s_letters_in_parse_units_fahrenheit_would_pass_as_celsius() -> None:
    # what a channel's units are for: the same letters for the whole sensor read 74.7 F as C
    shared = (
        WXT_COMPOSITE_TABLE.replace('  units = ["C"]\n', "")
        .replace('  units = ["N", "V", "W", "F"]\n', "")
        .replace(
            'units = ["D", "M", "P", "H"]', 'units = ["D", "M", "P", "H", "C", "N", "V", "W", "F"]'
        )
    )
    assert ("air_temperature_celsius", 74.7) in decode_stream(shared, WXT_COMPOSITE)[2]


@pytest.mark.parametrize(
    ("text", "outcome"),
    [
        (b"23.4C", [("t", 23.4), ("h", 45.0)]),
        (b"23.4 C", [("t", 23.4), ("h", 45.0)]),
        (b"23.4", [("t", 23.4), ("h", 45.0)]),  # a unit may be left out
        (b"23.4 degF", ("invalid", [("h", 45.0)])),
        (b"23.4%", ("invalid", [("h", 45.0)])),
        (b"23.4\xc2\xb0C", ("syntax", [])),  # "°C" ends in "C": list "°C" to read it
        (b"23.4.5", ("syntax", [])),  # damage: the frame fails
        (b"23.4c", ("syntax", [])),  # one bit of C changed on the line
        (b"23.tC", ("syntax", [])),  # a digit changed into a letter, the unit after it
        (b"23.4 degC", ("syntax", [])),  # ends in its unit: not another unit
        (b"2x3.4C", ("syntax", [])),
        (b"23.4C5", ("syntax", [])),
    ],
)
def test_a_value_after_its_unit_or_another_in_every_text_format(
    text: bytes, outcome: Outcome
) -> None:
    for fmt, extra, line in [
        ("kv", "", b"T=" + text + b",H=45.0%"),
        ("csv", "", text + b",45.0%"),
        ("json", "", b'{"T": "' + text + b'", "H": "45.0%"}'),
        (
            "value",
            "parse = { pattern = 'T=(?P<T>.+) H=(?P<H>\\S+)', example = 'T=1.0C H=2.0%' }",
            b"T=" + text + b" H=45.0%",
        ),
    ]:
        fields = ("0", "1") if fmt == "csv" else ("T", "H")
        table = sensor_toml(
            "s",
            "sim://s",
            fmt,
            extra,
            [
                channel_toml("t", field=fields[0]) + '  units = ["C"]\n',
                channel_toml("h", field=fields[1]) + '  units = ["%"]\n',
            ],
        )
        got = decode_stream(table, line + b"\n")
        assert got == [outcome], (fmt, got)


# -- lines run together ---------------------------------------------------------------------------


def glued(lines: list[bytes]) -> list[tuple[bytes, bytes, int, int]]:
    """Each line ``a`` run into each ``b`` (``a`` itself too, as a device of one kind of line
    sends it) at every joint: ``a`` cut after its byte ``i - 1`` (its line end lost, and with
    it the rest of ``a`` when ``i`` is short of its end) and ``b`` from its byte ``j`` (the
    bytes before it lost), but none that is one of ``lines`` whole."""
    return [
        (a, b, i, j)
        for a in lines
        for b in lines
        for i in range(1, len(a) + 1)
        for j in range(len(b))
        if a[:i] + b[j:] not in lines
    ]


def kv_cells(line: str, pair_separator: str) -> list[tuple[int, str]]:
    """The cells of a kv line, each with the offset it starts at."""
    cells, at = [], 0
    for cell in line.split(pair_separator):
        cells.append((at, cell))
        at += len(cell) + len(pair_separator)
    return cells


def key_at(line: str, at: int, separators: tuple[str, str]) -> str | None:
    """The key of the pair of ``line`` that the character at ``at`` belongs to; None for a
    pair separator or a cell without the key-value separator."""
    pair_separator, kv_separator = separators
    for start, cell in kv_cells(line, pair_separator):
        if start <= at < start + len(cell):
            key, separator, _ = cell.partition(kv_separator)
            return key.strip() if separator else None
    return None


def values_of(line: str, separators: tuple[str, str]) -> dict[str, set[float]]:
    """The numbers of the pairs of a device's line, by key: the leading number of each value
    (its unit letters aside)."""
    pair_separator, kv_separator = separators
    found: dict[str, set[float]] = {}
    for _, cell in kv_cells(line, pair_separator):
        key, _, text = cell.partition(kv_separator)
        number = re.match(r"\s*[+-]?[0-9.]+", text)
        if number is not None:
            found.setdefault(key.strip(), set()).add(float(number[0]))
    return found


def shows_it(line: str, keys: set[str], separators: tuple[str, str]) -> bool:
    """Whether a line run into another shows it: a configured key twice, or a configured key
    and the key-value separator inside another pair's value."""
    pair_separator, kv_separator = separators
    inside = re.compile(
        "|".join(rf"{re.escape(key)}\s*{re.escape(kv_separator)}" for key in keys)
    ).search
    seen: list[str] = []
    for _, cell in kv_cells(line, pair_separator):
        key, separator, text = cell.partition(kv_separator)
        if separator:
            if inside(text):
                return True
            seen.append(key.strip())
    configured = [key for key in seen if key in keys]
    return len(configured) != len(set(configured))


def assert_run_together_lines_read_safely(
    table: str, lines: list[bytes], separators: tuple[str, str] = (",", "=")
) -> None:
    """``lines`` (a device's, without their line ends) run into each other at every joint
    (:func:`glued`), each followed by a line of the device, through the sensor's framer and
    decoder, the stream cut into chunks of several sizes: a run-together line that shows it
    (:func:`shows_it`) is rejected as ``syntax`` with nothing kept; one whose joint is inside
    pairs no channel reads publishes each value under its own key, as ``a`` or ``b`` holds
    it; the line after it is read whole, and every chunking gives the same."""
    sensor = parse_config(table).sensors[0]
    spec = sensor.format_spec()
    codec = codec_for(spec.format)
    fields = dict(spec.fields)
    keys = set(fields.values())
    cases = glued(lines)
    after = lines[0] + b"\r\n"
    stream = b"".join(a[:i] + b[j:] + b"\r\n" + after for a, b, i, j in cases)
    [intact] = decoded_frames(sensor, after)
    by_chunking = []
    for size in (len(stream), 61, 7):
        decode = codec.sensor_decoder(spec, time.time)
        framer = codec.framer(spec, sensor.terminator, sensor.max_frame_bytes)
        outcomes: list[Outcome] = []
        for at in range(0, len(stream), size):
            for frame in framer.feed(stream[at : at + size]):
                try:
                    outcomes.append(decode(frame))
                except ParseError as exc:
                    outcomes.append((exc.reason, exc.kept))
        by_chunking.append(outcomes)
    outcomes = by_chunking[0]
    assert all(each == outcomes for each in by_chunking)
    assert outcomes[1::2] == [intact] * len(cases)
    for (a, b, i, j), outcome in zip(cases, outcomes[::2], strict=True):
        frame = a[:i] + b[j:]
        if shows_it(frame.decode(), keys, separators):
            assert outcome == ("syntax", []), (frame, outcome)
            continue
        joint = {key_at(a.decode(), i - 1, separators), key_at(b.decode(), j, separators)}
        if joint & keys:
            continue  # a value the joint cut, read as another: only a check of the line tells
        published = outcome if isinstance(outcome, list) else outcome[1]
        truth = [values_of(a.decode(), separators), values_of(b.decode(), separators)]
        for channel, value in published:
            assert any(value in each.get(fields[channel], ()) for each in truth), (
                frame,
                channel,
                value,
            )


#: The station with each channel's own unit letter: a value of another key that the joint of
#: two lines puts after a channel's key (``0R5,T`` and ``a=79.3P``, the humidity's) is counted
#: ``invalid``, where with the units shared it would be read as a temperature.
WXT_OWN_UNITS_TABLE = sensor_toml(
    "wxt",
    "sim://wxt",
    "kv",
    'terminator = "\\r\\n"\nparse = { invalid = ["#"] }',
    [
        channel_toml("wind_direction_deg", field="Dm") + '  units = ["D"]\n',
        channel_toml("wind_speed_mps", field="Sm") + '  units = ["M"]\n',
        channel_toml("air_temperature_celsius", field="Ta") + '  units = ["C"]\n',
        channel_toml("pressure_hpa", field="Pa") + '  units = ["H"]\n',
    ],
)


@pytest.mark.parametrize(
    ("table", "lines"),
    [
        (WXT_OWN_UNITS_TABLE, [line for line in WXT536.splitlines() if line != b"dud line"]),
        (WXT_COMPOSITE_TABLE, WXT_COMPOSITE.splitlines()[:2]),
    ],
    ids=["messages", "composite"],
)
def test_a_weather_station_s_lines_run_together_are_rejected_when_they_show_it(
    table: str, lines: list[bytes]
) -> None:
    """Its lines run into each other at every joint: ``0R1,...,Sm=4.1M,Sx=5.8M`` and the next
    line's ``0R1,...``, with its line end and any bytes around it lost."""
    assert_run_together_lines_read_safely(table, lines)


def decoded_in_chunks(table: str, data: bytes, size: int) -> list[Outcome]:
    """:func:`decode_stream` of ``data`` fed to the framer ``size`` bytes at a time."""
    sensor = parse_config(table).sensors[0]
    spec = sensor.format_spec()
    codec = codec_for(spec.format)
    decode = codec.sensor_decoder(spec, time.time)
    framer = codec.framer(spec, sensor.terminator, sensor.max_frame_bytes)
    outcomes: list[Outcome] = []
    for at in range(0, len(data), size):
        for frame in framer.feed(data[at : at + size]):
            try:
                outcomes.append(decode(frame))
            except ParseError as exc:
                outcomes.append((exc.reason, exc.kept))
    return outcomes


@pytest.mark.parametrize("left", [b"\r", b"\n"], ids=["lf-lost", "cr-lost"])
def test_a_weather_station_s_line_end_that_lost_one_byte_rejects_the_line_it_makes(
    left: bytes,
) -> None:
    """Each line end of the capture in turn loses its LF or its CR: the two lines it joined
    are one line with the CR or LF inside, rejected whole, and the others are read."""
    lines = WXT536.split(b"\r\n")[:-1]
    intact = decode_stream(WXT_TABLE, WXT536)
    for lost in range(len(lines) - 1):
        data = b"".join(line + (left if k == lost else b"\r\n") for k, line in enumerate(lines))
        expected = [*intact[:lost], ("syntax", []), *intact[lost + 2 :]]
        for size in (len(data), 7, 1):
            assert decoded_in_chunks(WXT_TABLE, data, size) == expected, (lost, size)


# WXT530 series user guide M211840EN, "Automatic mode": the example with CRC, each line ended
# in SDI-12's three-character CRC and its message letter in lower case.
WXT_CRC = [
    b"0r1,Sn=0.1M,Sm=0.1M,Sx=0.1MGOG",
    b"0r2,Ta=22.7C,Ua=55.5P,Pa=1004.7H@Fn",
    b"0r3,Rc=0.00M,Rd=0s,Ri=0.0MIlm",
    b"0r5,Th=25.0C,Vh=10.6#,Vs=10.8V,Vr=3.369VO]T",
]


def test_a_weather_station_s_lines_with_crc_run_together_are_each_rejected() -> None:
    """The README's station in its mode with CRC: its lines read, and each of them run into
    each at every joint, in chunks of several sizes, rejected with nothing read."""
    [table] = [
        block
        for block in readme_toml_blocks()
        if 'checksum = "sdi12"' in block and 'field = "Dm"' in block
    ]
    assert decode_stream(table, b"\r\n".join(WXT_CRC) + b"\r\n") == [
        [("wind_speed_mps", 0.1)],
        [("air_temperature_celsius", 22.7), ("pressure_hpa", 1004.7)],
        [],
        [],
    ]
    stream = b"".join(a[:i] + b[j:] + b"\r\n" for a, b, i, j in glued(WXT_CRC))
    sensor = parse_config(table).sensors[0]
    spec = sensor.format_spec()
    codec = codec_for(spec.format)
    for size in (len(stream), 61, 7):
        decode = codec.sensor_decoder(spec, time.time)
        framer = codec.framer(spec, sensor.terminator, sensor.max_frame_bytes)
        reasons: set[str] = set()
        frames = 0
        for at in range(0, len(stream), size):
            for frame in framer.feed(stream[at : at + size]):
                frames += 1
                with pytest.raises(ParseError) as raised:
                    decode(frame)
                assert raised.value.kept == [], frame
                reasons.add(raised.value.reason)
        assert frames == len(glued(WXT_CRC))
        assert reasons == {"checksum", "no_checksum"}


def test_without_units_a_weather_station_gives_nothing_but_rejected_lines() -> None:
    plain = WXT_TABLE.replace('parse = { units = ["D", "M", "C", "P", "H"], invalid = ["#"] }', "")
    assert {o[0] for o in decode_stream(plain, WXT536) if isinstance(o, tuple)} == {"syntax"}


# Arduino sketches print a float that failed as "nan" (Print::printFloat); a DHT sketch that
# prints CSV rows sends it for a reading the sensor did not give.
ARDUINO_CSV = b"Starting...\r\nhumidity,temperature\r\n45.00,23.00\r\nnan,23.10\r\nnan,nan\r\n"


def test_a_nan_column_drops_only_its_value() -> None:
    table = sensor_toml(
        "dht",
        "sim://dht",
        "csv",
        'parse = { columns = ["humidity", "temperature"], header = true }',
        [
            channel_toml("humidity_percent", field="humidity"),
            channel_toml("t", field="temperature"),
        ],
    )
    assert decode_stream(table, ARDUINO_CSV) == [
        ("syntax", []),  # the banner
        [],  # the header
        [("humidity_percent", 45.0), ("t", 23.0)],
        ("nonfinite", [("t", 23.1)]),
        ("nonfinite", []),
    ]


def test_a_sketch_s_messages_are_ignored_by_the_capital_letter_they_start_with() -> None:
    # the sketch's rows start with a digit or "nan", its messages ("Starting...") with a
    # capital: a regex that needs one character, so sensord check takes it
    table = sensor_toml(
        "dht",
        "sim://dht",
        "csv",
        'parse = { columns = ["humidity", "temperature"], header = true, ignore = [\'^[A-Z]\'] }',
        [
            channel_toml("humidity_percent", field="humidity"),
            channel_toml("t", field="temperature"),
        ],
    )
    assert decode_stream(table, ARDUINO_CSV) == [
        [],  # the banner: ignored, no longer rejected
        [],  # the header
        [("humidity_percent", 45.0), ("t", 23.0)],
        ("nonfinite", [("t", 23.1)]),
        ("nonfinite", []),
    ]


def test_an_arduino_overflow_drops_only_its_value() -> None:
    """Arduino's ``Print::printFloat`` prints ``ovf`` for a float beyond +-4294967040 (a
    counter or a sum run away, a division by a tiny number): that value is ``nonfinite``, as
    ``inf`` is, and the line's other values are read."""
    table = sensor_toml(
        "flow",
        "sim://flow",
        "csv",
        'parse = { columns = ["litres", "rate"] }',
        [channel_toml("litres", field="litres"), channel_toml("rate", field="rate")],
    )
    assert decode_stream(table, b"ovf,1.25\r\n12.50,ovf\r\n12.50, ovf \r\novfx,1\r\n") == [
        ("nonfinite", [("rate", 1.25)]),
        ("nonfinite", [("litres", 12.5)]),
        ("nonfinite", [("litres", 12.5)]),
        ("syntax", []),
    ]
    value = sensor_toml("v", "sim://v", "value", "", [channel_toml("v")])
    assert decode_stream(value, b"ovf\n2.5\n") == [("nonfinite", []), [("v", 2.5)]]


def test_a_csv_row_that_lacks_a_named_column_is_rejected_not_read_shifted() -> None:
    """An EZO-EC circuit prints ``EC,TDS,SAL,SG``; with TDS switched off (``O,TDS,0``) its rows
    have three cells, and read by the named columns its salinity would pass for TDS. A row of
    another width than the named columns is ``syntax``; a trailing delimiter's empty cell is
    no column; with indexes alone, any width is read."""
    table = sensor_toml(
        "ec",
        "sim://ec",
        "csv",
        'terminator = "\\r"\nparse = { columns = ["ec", "tds", "sal", "sg"] }',
        [channel_toml("ec_us_cm", field="ec"), channel_toml("tds_ppm", field="tds")],
    )
    assert decode_stream(
        table, b"1413,707,0.71,1.000\r1413,0.71,1.000\r1413,707,0.71,1.000,\r"
    ) == [
        [("ec_us_cm", 1413.0), ("tds_ppm", 707.0)],
        ("syntax", []),
        [("ec_us_cm", 1413.0), ("tds_ppm", 707.0)],
    ]
    sensor = parse_config(table).sensors[0]
    decode = codec_for("csv").decoder(sensor.format_spec())
    with pytest.raises(ParseError, match=r"3 cells where parse\.columns names 4"):
        decode(b"1413,0.71,1.000")
    by_index = (
        table.replace('columns = ["ec", "tds", "sal", "sg"]', 'delimiter = ","')
        .replace('field = "tds"', 'field = "1"')
        .replace('field = "ec"', 'field = "0"')
    )
    assert decode_stream(by_index, b"1413,0.71,1.000\r1413\r") == [
        [("ec_us_cm", 1413.0), ("tds_ppm", 0.71)],
        [("ec_us_cm", 1413.0)],
    ]


def test_a_pattern_of_zero_padded_numbers_passes_check_and_reads_a_windsonic() -> None:
    """A Gill WindSonic prints its speed zero-padded (``002.74``) between STX and ETX, a status
    and a checksum; a pattern that takes exactly that, and only with status 00, passed for a
    line the simulator printed unpadded (``2.74``) and was refused. The simulator now prints
    each number in its example's shape, and the sensor reads the real lines: direction absent
    in calm air, a line with a fault status counted invalid (lines from Gill's WindSonic
    manual and the lsst-ts ts_ess_common WindSonic notes)."""
    table = sensor_toml(
        "wind",
        "sim://wind",
        "value",
        'terminator = "\\r\\n"\n'
        "parse = { pattern = '^\\x02Q,(?:(?P<dir>\\d{3})?,(?P<speed>\\d{3}\\.\\d\\d),M,00|"
        "[^,]*,[^,]*,M,\\d\\d),\\x03[0-9A-F]{2}$', "
        'example = "\\u0002Q,229,002.74,M,00,\\u000316" }',
        [
            channel_toml("wind_direction_degrees", field="dir"),
            channel_toml("wind_speed_meters_per_second", field="speed"),
        ],
    )
    data = (
        b"\x02Q,229,002.74,M,00,\x0316\r\n"
        b"\x02Q,,000.03,M,00,\x032D\r\n"
        b"\x02Q,349,000.06,M,04,\x0313\r\n"
    )
    assert decode_stream(table, data) == [
        [("wind_direction_degrees", 229.0), ("wind_speed_meters_per_second", 2.74)],
        [("wind_speed_meters_per_second", 0.03)],
        ("invalid", []),
    ]


#: Sensirion's SCD4x Arduino example: its reading, and what it prints when a read fails
SCD4X_LINE = b"Co2:612\tTemperature:23.40\tHumidity:45.21\r\n"
SCD4X_ERROR = b"Error trying to execute readMeasurement(): Not enough data received\r\n"


def scd4x_on(port: str) -> SensorConfig:
    return parse_config(
        sensor_toml(
            "co2",
            port,
            "kv",
            'terminator = "\\r\\n"\nstale_after_s = 5\n'
            'parse = { pair_separator = "\\t", kv_separator = ":" }',
            [channel_toml("co2_ppm", field="Co2"), channel_toml("humidity", field="Humidity")],
        )
    ).sensors[0]


def test_a_kv_device_that_sends_only_its_error_text_is_pointed_at() -> None:
    """Pairs none of whose keys a channel reads are no error (a device's other messages), but
    when none but those come for the stale timeout, the sensor is up with no reading: the hint
    says so and quotes the last. A stream that also holds the channels' keys has no hint."""
    hint = hint_after_repeats(scd4x_on, SCD4X_ERROR)
    assert hint is not None
    assert hint.startswith("frames come, but none holds a key a channel reads ("), hint
    assert "the last: 'Error trying to execute readMeasurement(): Not enough data r" in hint
    assert "check the channels' field against the keys the device sends" in hint
    assert hint_after_repeats(scd4x_on, SCD4X_ERROR + SCD4X_LINE) is None


def test_kv_keys_whose_values_a_blank_split_off_are_named() -> None:
    """A Vaisala HMP155 prints ``RH= 40.5 %RH T= 22.9 'C``: read with blanks as the pair
    separator, its keys have no value, and the rejection says so (it said "no configured
    channel", with both keys in the line)."""
    table = sensor_toml(
        "hmp",
        "sim://hmp",
        "kv",
        'parse = { pair_separator = " ", kv_separator = "=" }',
        [channel_toml("rh", field="RH"), channel_toml("t", field="T")],
    )
    sensor = parse_config(table).sensors[0]
    decode = codec_for("kv").decoder(sensor.format_spec())
    with pytest.raises(ParseError) as raised:
        decode(b"RH= 40.5 %RH T= 22.9 'C")
    assert (raised.value.reason, raised.value.detail) == (
        "syntax",
        "the keys RH, T have no value (a blank after '=' splits it off when it is the pair "
        "separator)",
    )
    assert decode(b"RH=40.5 T=") == [("rh", 40.5)]  # one empty value: that channel absent


def test_an_ezo_rtd_as_the_readme_reads_it() -> None:
    """The README's EZO-RTD: readings, its acknowledgements and state messages ignored, its
    no-probe value invalid, its faults counted (Atlas Scientific's EZO-RTD datasheet: ``*OK``,
    ``*ER``, ``*OV``, ``*UV``, ``*RS``, ``*RE``, ``*SL``, ``*WA``; -1023 with no probe)."""
    table = sensor_toml(
        "water_temperature",
        "sim://rtd",
        "value",
        'terminator = "\\r"\n'
        "parse = { ignore = ['^\\*(OK|RS|RE|SL|WA|DONE)$'], invalid = [\"-1023.000\"] }",
        [channel_toml("temperature_celsius")],
    )
    data = b"25.104\r*OK\r*RE\r-1023.000\r*ER\r*OV\r*UV\r25.2\r"
    assert decode_stream(table, data) == [
        [("temperature_celsius", 25.104)],
        [],  # *OK: ignored
        [],  # *RE
        ("invalid", []),
        ("syntax", []),
        ("syntax", []),
        ("syntax", []),
        [("temperature_celsius", 25.2)],
    ]


#: A SCPI multimeter (Keysight 34461A, Siglent SDM3055, Rigol DM3058) answering
#: ``MEAS:VOLT:DC?``: a reading, an overload (``+9.9E37``, SCPI's infinity), a negative one, a
#: reading that is no number (``9.91E37``), as instruments print them
SCPI_ANSWERS = b"+1.23456789E+00\n+9.90000000E+37\n-9.90000000E+37\n9.91E37\n-2.5E-03\n"


@pytest.mark.parametrize("parse", ["", 'parse = { invalid = ["ERR"] }'])
def test_a_scpi_overload_is_no_reading(parse: str) -> None:
    """A multimeter polled with ``MEAS:VOLT:DC?`` answers an overload with 9.9E37 (SCPI's
    infinity), which it never measures: read like ``inf``, counted ``nonfinite``, never
    published as a voltage; the readings around it are. The same on the plain-number fast
    path and through ``parse.invalid``'s reader."""
    table = sensor_toml(
        "dmm",
        "sim://dmm",
        "value",
        'poll = { request = "MEAS:VOLT:DC?\\n", interval_s = 1 }\n' + parse,
        [channel_toml("volts")],
    )
    assert decode_stream(table, SCPI_ANSWERS) == [
        [("volts", 1.23456789)],
        ("nonfinite", []),
        ("nonfinite", []),
        ("nonfinite", []),
        [("volts", -0.0025)],
    ]
    # a value just below SCPI's infinity is a number
    assert decode_stream(table, b"9.89E37\n") == [[("volts", 9.89e37)]]


def test_json_after_a_console_s_time_and_topic_is_read() -> None:
    """Tasmota's serial log prints its telemetry after the time and the MQTT topic (Tasmota's
    docs, "Commands" and "JSON Status Responses"): the object is read; text that ends in no
    object stays ``syntax``."""
    table = sensor_toml("plug", "sim://plug", "json", "", [channel_toml("a0", field="ANALOG.A0")])
    assert decode_stream(
        table,
        b'18:55:09.123 MQT: tele/tasmota_1A2B3C/SENSOR = {"Time":"2021-01-31T18:55:09",'
        b'"ANALOG":{"A0":512}}\r\n'
        b'{"ANALOG":{"A0":513}}\r\n'
        b'18:55:10.001 MQT: tele/tasmota_1A2B3C/SENSOR = {"ANALOG":{"A0":5\r\n'
        b"18:55:11 CMD: Grp 0, Cmnd 1, Idx 1, Len 6, Data 1\r\n",
    ) == [[("a0", 512.0)], [("a0", 513.0)], ("syntax", []), ("syntax", [])]


def test_a_json_number_at_scpi_s_infinity_is_dropped_as_a_quoted_one_is() -> None:
    table = sensor_toml(
        "j", "sim://j", "json", "", [channel_toml("v", field="v"), channel_toml("w", field="w")]
    )
    assert decode_stream(
        table, b'{"v": 9.9E37, "w": 1}\n{"v": "9.9E37", "w": 2}\n{"v": -1e38, "w": 3}\n'
    ) == [
        ("nonfinite", [("w", 1.0)]),
        ("nonfinite", [("w", 2.0)]),
        ("nonfinite", [("w", 3.0)]),
    ]


@pytest.mark.parametrize("example", ["V=12.5e3 I=2.5e3", "V=+123.456E-06 I=+1.5E+00"])
def test_an_example_in_exponent_notation_simulates_lines_that_read_back(example: str) -> None:
    """Every significant digit of the example's mantissa is printed (12.5e3 is 1.25e+04, not
    1.2e+04), so the line the simulator makes of the example reads back as its values."""
    table = sensor_toml(
        "s",
        "sim://s",
        "value",
        f"parse = {{ pattern = 'V=(?P<v>\\S+) I=(?P<i>\\S+)', example = \"{example}\" }}",
        [channel_toml("v"), channel_toml("i")],
    )
    parse_config(table)  # check passes


def test_a_scpi_overload_in_a_csv_row_drops_only_its_value() -> None:
    """A counter logging two channels per line: the overloaded one fails alone."""
    table = sensor_toml(
        "counter",
        "sim://counter",
        "csv",
        'parse = { columns = ["a", "b"] }',
        [channel_toml("a", field="a"), channel_toml("b", field="b")],
    )
    assert decode_stream(table, b"1.5E+03,+9.9E+37\n") == [("nonfinite", [("a", 1500.0)])]


def test_a_nan_pair_drops_only_its_value() -> None:
    table = sensor_toml(
        "dht", "sim://dht", "kv", "", [channel_toml("t", field="T"), channel_toml("h", field="H")]
    )
    assert decode_stream(table, b"T=23.4,H=45\nT=nan,H=46\n") == [
        [("t", 23.4), ("h", 45.0)],
        ("nonfinite", [("h", 46.0)]),
    ]


# Mettler Toledo MT-SICS reference manual, commands S and SI: "S S <weight> <unit>" is a
# stable weight, "S D" a dynamic (unstable) one, "S I" a command the balance cannot execute
# now, "S +" and "S -" overload and underload.
MT_SICS = b"S S     100.00 g\r\nS D     100.01 g\r\nS I\r\nS +\r\nS -\r\nS S      -0.37 g\r\n"


def test_a_balance_s_unstable_and_overload_lines_are_invalid_not_weights() -> None:
    table = sensor_toml(
        "balance",
        "sim://balance",
        "value",
        "terminator = \"\\r\\n\"\nparse = { pattern = '^S (?:S +(\\S+) g|D .*|I|\\+|-)$' }",
        [channel_toml("mass_g")],
    )
    assert decode_stream(table, MT_SICS + b"ES\r\n") == [
        [("mass_g", 100.0)],
        ("invalid", []),
        ("invalid", []),
        ("invalid", []),
        ("invalid", []),
        [("mass_g", -0.37)],
        ("syntax", []),  # MT-SICS "ES": a syntax error reply, no line of the pattern
    ]


# A&D and Ohaus balances in stream mode: header ST (stable), US (unstable), OL (overload),
# a signed zero-padded value, then the unit.
AND_BALANCE = b"ST,+00012.34  g\r\nUS,+00012.35  g\r\nOL,+9999999 g\r\nST,-00000.02  g\r\n"


def test_a_stream_balance_s_status_header_is_expressed_by_the_pattern() -> None:
    table = sensor_toml(
        "balance",
        "sim://balance",
        "value",
        "terminator = \"\\r\\n\"\nparse = { pattern = '^(?:ST,(\\S+) +g|US,.*|OL,.*)$' }",
        [channel_toml("mass_g")],
    )
    assert decode_stream(table, AND_BALANCE) == [
        [("mass_g", 12.34)],
        ("invalid", []),
        ("invalid", []),
        [("mass_g", -0.02)],
    ]


# Atlas Scientific EZO circuits in UART mode end every line with CR alone; at power-up they
# send *RS and *RE, and answer commands with *OK or *ER.
ATLAS_EZO_PH = b"*RS\r*RE\r7.00\r*OK\r6.99\r*ER\r7.01\r"


def test_an_ezo_circuit_s_replies_are_counted_and_its_readings_kept() -> None:
    table = sensor_toml("ph", "sim://ph", "value", 'terminator = "\\r"', [channel_toml("ph")])
    outcomes = decode_stream(table, ATLAS_EZO_PH)
    assert [o for o in outcomes if isinstance(o, list)] == [
        [("ph", 7.0)],
        [("ph", 6.99)],
        [("ph", 7.01)],
    ]
    assert [o for o in outcomes if isinstance(o, tuple)] == [("syntax", [])] * 4


def test_invalid_texts_of_a_plain_value() -> None:
    table = sensor_toml(
        "probe",
        "sim://probe",
        "value",
        'parse = { invalid = ["---", "-", "ERR"] }',
        [channel_toml("v")],
    )
    assert decode_stream(table, b"+0012.34\n---\n-\nERR\n-1.5\n23.4C\n") == [
        [("v", 12.34)],
        ("invalid", []),
        ("invalid", []),
        ("invalid", []),
        [("v", -1.5)],
        ("syntax", []),
    ]


def test_units_glued_or_spaced_after_a_value() -> None:
    table = sensor_toml(
        "probe",
        "sim://probe",
        "value",
        'parse = { units = ["hPa", "Pa", "kg"] }',
        [channel_toml("v")],
    )
    assert decode_stream(table, b"1013.2hPa\n101320 Pa\n+0012.34kg\n12.3\n12.3 g\n") == [
        [("v", 1013.2)],
        [("v", 101320.0)],
        [("v", 12.34)],
        [("v", 12.3)],
        ("invalid", []),  # another unit: the value is not read as one of these
    ]


def test_a_unit_that_ends_another_is_not_cut_from_it() -> None:
    # a distance sketch that prints centimetres, with the units of one that prints metres:
    # "cm" is cut whole, not "m" leaving "87.5c"
    table = sensor_toml(
        "range", "sim://range", "value", 'parse = { units = ["m", "cm"] }', [channel_toml("v")]
    )
    assert decode_stream(table, b"87.5cm\n87.5 cm\n1.25m\n") == [
        [("v", 87.5)],
        [("v", 87.5)],
        [("v", 1.25)],
    ]


def test_an_invalid_text_is_read_before_its_unit_glued_or_spaced() -> None:
    # a panel meter shows "----" for an open probe, and prints its unit after it all the same
    table = sensor_toml(
        "meter",
        "sim://meter",
        "value",
        'parse = { units = ["C"], invalid = ["----"] }',
        [channel_toml("v")],
    )
    assert decode_stream(table, b"23.4 C\n---- C\n----C\n") == [
        [("v", 23.4)],
        ("invalid", []),
        ("invalid", []),
    ]


# ESP32 and Arduino sketches that build JSON with ArduinoJson often store a formatted
# String(value, 1), which serialises as a JSON string.
def test_json_numbers_sent_as_strings_are_read() -> None:
    table = sensor_toml(
        "esp",
        "sim://esp",
        "json",
        'parse = { invalid = ["ERR"] }',
        [channel_toml("t", field="env.t"), channel_toml("h", field="env.h")],
    )
    assert decode_stream(
        table,
        b'{"env":{"t":"23.4","h":45}}\n{"env":{"t":"ERR","h":46}}\n{"env":{"t":NaN,"h":47}}\n'
        b'{"env":{"t":"warm","h":48}}\n{"env":{"t":23.5,"h\n',
    ) == [
        [("t", 23.4), ("h", 45.0)],
        ("invalid", [("h", 46.0)]),
        ("nonfinite", [("h", 47.0)]),
        ("syntax", []),
        ("syntax", []),  # cut short by a reset
    ]


@pytest.mark.parametrize(
    ("fmt", "parse", "key", "words"),
    [
        (
            "nmea",
            'parse = { units = ["M"] }',
            "sensors[0].parse.units",
            "not used by format 'nmea'",
        ),
        (
            "kv",
            'parse = { units = ["1x"] }',
            "sensors[0].parse.units",
            "read as part of the number",
        ),
        (
            "kv",
            'parse = { units = ["C"], invalid = ["C"] }',
            "sensors[0].parse.units",
            "in parse.invalid",
        ),
        (
            "kv",
            'parse = { invalid = ["a,b"] }',
            "sensors[0].parse.invalid",
            "contains the pair_separator",
        ),
        (
            "csv",
            'parse = { invalid = ["-;-"], delimiter = ";" }',
            "sensors[0].parse.invalid",
            "contains the delimiter",
        ),
        (
            # pairs separated by spaces: "T=21.5 deg C" would be cut before "C"
            "kv",
            'parse = { pair_separator = " ", units = ["deg C"] }',
            "sensors[0].parse.units",
            "'deg C' contains the pair_separator",
        ),
        ("kv", 'parse = { invalid = [" #"] }', "sensors[0].parse.invalid", "surrounding spaces"),
    ],
)
def test_units_and_invalid_texts_are_checked(fmt: str, parse: str, key: str, words: str) -> None:
    field = "GGA.altitude" if fmt == "nmea" else "0"
    table = sensor_toml("s", "sim://s", fmt, parse, [channel_toml("v", field=field)])
    with pytest.raises(ConfigError) as info:
        parse_config(table)
    assert any(p.startswith(key) and words in p for p in info.value.problems), info.value.problems


@pytest.mark.parametrize(
    ("fmt", "field", "extra", "units", "words"),
    [
        ("nmea", "GGA.altitude", "", '["M"]', "only an XDR channel takes units"),
        ("nmea", "XDR.STNP", "", '["B,P"]', "must be the text of a quadruple's unit field"),
        ("value", "v", "", '["1u"]', "'1u' would read as part of the number"),
        ("value", "v", 'parse = { invalid = ["#"] }', '["#"]', "'#' is in parse.invalid too"),
        ("kv", "T", 'parse = { pair_separator = " " }', '["deg C"]', "contains the pair_separator"),
        ("csv", "0", "", '["a,b"]', "'a,b' contains the delimiter"),
        ("kv", "T", "", '[" C"]', "must be text without surrounding spaces"),
    ],
)
def test_a_channel_s_units_are_checked_as_parse_units_are(
    fmt: str, field: str, extra: str, units: str, words: str
) -> None:
    channel = channel_toml("v", field=field) + f"  units = {units}\n"
    with pytest.raises(ConfigError) as info:
        parse_config(sensor_toml("s", "sim://s", fmt, extra, [channel]))
    problems = info.value.problems
    assert any(words in p for p in problems), problems
    assert all(p.startswith("sensors[0].channels[0].units: ") for p in problems), problems


def test_channels_of_one_field_need_the_same_units() -> None:
    channels = [
        channel_toml("celsius", field="T") + '  units = ["C"]\n',
        channel_toml("raw", field="T"),
        channel_toml("again", field="T") + '  units = ["C"]\n',
    ]
    with pytest.raises(ConfigError) as info:
        parse_config(sensor_toml("s", "sim://s", "kv", 'parse = { units = ["F"] }', channels))
    assert info.value.problems == [
        "sensors[0].channels[1].units: channel 'celsius' reads the same field with the units C: "
        "a field is read once, so give both the same units"
    ]


@pytest.mark.parametrize("decimal", [".", ","])
def test_a_unit_is_refused_when_its_first_character_would_carry_on_the_number(
    decimal: str,
) -> None:
    """A digit, a sign, a point or the decimal mark after a number reads as part of it: a unit
    that starts with one is refused; one that starts with any other character is taken."""
    for first in string.digits + string.ascii_letters + string.punctuation:
        unit = first + "u"
        sensor: dict[str, Any] = {"name": "s", "port": "sim://s", "format": "value"}
        sensor |= {"channels": [{"name": "v"}], "parse": {"units": [unit], "decimal": decimal}}
        errors: list[str] = []
        Config.load({"sensors": [sensor]}, "", errors)
        if first in "0123456789+-." or first == decimal:
            assert errors == [f"sensors[0].parse.units: {unit!r} would read as part of the number"]
        else:
            assert errors == [], unit


@pytest.mark.slow
def test_a_weather_station_on_a_pty_through_the_daemon(
    pty_pair: PtyPair, start_daemon: StartDaemon
) -> None:
    table = WXT_TABLE.replace('"sim://wxt"', f'"{pty_pair.path}"')
    daemon = start_daemon(config=table)
    daemon.wait_http()
    daemon.wait_up_settled(["wxt"], timeout_s=10)
    pty_pair.write(WXT536 + WXT_WIND_FAILED + WXT_PTU_FAILED)
    daemon.wait_frames({"wxt": 7})
    samples = daemon.scrape()

    def reading(channel: str) -> float:
        return samples.value("sensord_reading_value", sensor="wxt", channel=channel)

    # the station's last wind and temperature values are marked "#", not measured: those
    # channels have no current value, and the time of the last value read stays
    for channel in ("wind_direction_deg", "wind_speed_mps", "air_temperature_celsius"):
        with pytest.raises(KeyError):
            reading(channel)
        assert samples.value("sensord_reading_timestamp_seconds", sensor="wxt", channel=channel)
    assert reading("pressure_hpa") == 959.7  # the last 0R2's, kept beside its invalid Ta
    status = daemon.status()["sensors"]["wxt"]["channels"]
    assert status["wind_speed_mps"]["available"] is False
    assert status["wind_speed_mps"]["value"] is None
    assert status["pressure_hpa"] == {**status["pressure_hpa"], "available": True, "value": 959.7}
    errors = {
        reason: samples.value("sensord_parse_errors_total", sensor="wxt", reason=reason)
        for reason in ("syntax", "invalid")
    }
    assert errors == {"syntax": 1, "invalid": 2}
    assert samples.value("sensord_frames_ignored_total", sensor="wxt") == 2
    assert samples.value("sensord_window_samples", sensor="wxt", channel="pressure_hpa") == 2
    # the temperature's window holds the one value read, not published while it is "#"
    assert not samples.has(
        "sensord_window_samples", sensor="wxt", channel="air_temperature_celsius"
    )
    assert daemon.alive()


# A decimal comma: instruments and panel meters set to a German or French locale print 23,4,
# and with a comma in the number they separate fields with ";". Data loggers that read generic
# serial sensors offer the setting for this reason (YDOC ML-x17 data logger manual, 4.19.3
# "Generic ASCII": "Decimal symbol: ... a dot or a comma", separator "comma, semi-colon or
# tab"). The line below is of that shape: label;value pairs, semicolon separated.
DECIMAL_COMMA_LINES = b"T;23,4;H;45,1\r\nT;-0,5;H;100\r\nT;23.4;H;45,1\r\nT;1,2,3;H;45,1\r\n"


def decimal_comma_table(fmt: str, parse: str, fields: tuple[str, str]) -> str:
    return sensor_toml(
        "meter",
        "sim://meter",
        fmt,
        f'terminator = "\\r\\n"\nparse = {{ decimal = ",", {parse} }}',
        [channel_toml("t", field=fields[0]), channel_toml("h", field=fields[1])],
    )


def test_a_decimal_comma_is_read_in_semicolon_separated_cells() -> None:
    table = decimal_comma_table("csv", 'delimiter = ";"', ("1", "3"))
    assert decode_stream(table, DECIMAL_COMMA_LINES) == [
        [("t", 23.4), ("h", 45.1)],
        [("t", -0.5), ("h", 100.0)],
        ("syntax", []),  # a point where the comma belongs: another locale, not 23.4 or 234
        ("syntax", []),
    ]


def test_a_decimal_comma_is_read_in_pairs_units_and_json_strings() -> None:
    kv = decimal_comma_table("kv", 'pair_separator = ";", units = ["C", "%"]', ("T", "H"))
    assert decode_stream(kv, b"T=23,4C;H=45,1 %\r\nT=23,4F;H=45,1%\r\nT=23,4,5C;H=4,5%\r\n") == [
        [("t", 23.4), ("h", 45.1)],
        ("invalid", [("h", 45.1)]),  # another unit: that value alone
        ("syntax", []),  # a second decimal comma: damage
    ]
    as_json = decimal_comma_table("json", 'invalid = ["---"]', ("t", "h"))
    assert decode_stream(as_json, b'{"t": "23,4", "h": 45.1}\r\n{"t": "---", "h": "4,5"}\r\n') == [
        [("t", 23.4), ("h", 45.1)],
        ("invalid", [("h", 4.5)]),
    ]


def test_a_plain_value_with_a_decimal_comma() -> None:
    table = sensor_toml(
        "meter", "sim://meter", "value", 'parse = { decimal = "," }', [channel_toml("v")]
    )
    assert decode_stream(table, b"23,4\n+0012,50\n-7\n23.4\nnan\n") == [
        [("v", 23.4)],
        [("v", 12.5)],
        [("v", -7.0)],
        ("syntax", []),
        ("nonfinite", []),
    ]


@pytest.mark.parametrize(
    ("fmt", "parse", "field", "words"),
    [
        ("csv", 'decimal = ","', "0", "is the delimiter too"),
        ("kv", 'decimal = ","', "T", "is the pair_separator too"),
        ("nmea", 'decimal = ","', "GGA.altitude", "not used by format 'nmea'"),
        ("value", 'decimal = ";"', "v", "must be one of"),
    ],
)
def test_a_decimal_mark_that_cannot_work_is_refused(
    fmt: str, parse: str, field: str, words: str
) -> None:
    table = sensor_toml(
        "s", "sim://s", fmt, f"parse = {{ {parse} }}", [channel_toml("v", field=field)]
    )
    with pytest.raises(ConfigError) as info:
        parse_config(table)
    assert any(
        p.startswith("sensors[0].parse.decimal") and words in p for p in info.value.problems
    ), info.value.problems


def test_a_decimal_comma_beside_a_comma_kv_separator_is_accepted() -> None:
    table = decimal_comma_table("kv", 'pair_separator = ";", kv_separator = ","', ("T", "H"))
    assert decode_stream(table, b"T,23,4;H,45,1\r\n") == [[("t", 23.4), ("h", 45.1)]]


# Quoted cells that hold the delimiter. Racoman's Catalyst Alarmware 2.0 help, "Comma Delimited
# Text Format": every field quoted, "commas are used to delimit the fields", and the example
# line's time stamp and status hold commas; its third field is the reading alone.
ALARMWARE = (
    b'" Fri Aug 06, 1999 10:40:14"," Breaker #0965 reading is 220 Amps "," 220 ",'
    b'" HIGH SETPOINT ALARM, ACKNOWLEDGED "," by Jim Brown"\r\n'
)
ALARMWARE_TABLE = sensor_toml(
    "breaker",
    "sim://breaker",
    "csv",
    'terminator = "\\r\\n"',
    [channel_toml("breaker_current_amps", field="2")],
)
# A HOBOware CSV export as the Midvatten QGIS plugin's importer reads it (jkall/qgis-midvatten-
# plugin, tools/tests/test_import_hobologger.py): a quoted plot title, a header whose quoted
# names hold commas, then rows with the time unquoted ("fm": a Swedish AM) and the events'
# columns empty.
HOBO = (
    '"Plot Title: temp"\n'
    '"#","Date Time, GMT+01:00","Temp, °C (LGR S/N: 1234, SEN S/N: 1234, LBL: Rb1)",'
    '"Coupler Detached (LGR S/N: 1234)","Coupler Attached (LGR S/N: 1234)",'
    '"Stopped (LGR S/N: 1234)","End Of File (LGR S/N: 1234)"\n'
    "1,07/19/18 10:00:00 fm,4.558,Logged,,,\n"
    "2,07/19/18 11:00:00 fm,4.402,,,,\n"
).encode()
HOBO_COLUMNS = (
    "#",
    "Date Time, GMT+01:00",
    "Temp, °C (LGR S/N: 1234, SEN S/N: 1234, LBL: Rb1)",
    "Coupler Detached (LGR S/N: 1234)",
    "Coupler Attached (LGR S/N: 1234)",
    "Stopped (LGR S/N: 1234)",
    "End Of File (LGR S/N: 1234)",
)
HOBO_TABLE = sensor_toml(
    "hobo",
    "sim://hobo",
    "csv",
    "parse = { header = true, ignore = ['^\"Plot Title: '], columns = ["
    + ", ".join(f'"{name}"' for name in HOBO_COLUMNS)
    + "] }",
    [channel_toml("water_temperature_celsius", field=HOBO_COLUMNS[2])],
)


def test_quoted_cells_that_hold_the_delimiter_leave_the_columns_in_place() -> None:
    assert decode_stream(ALARMWARE_TABLE, ALARMWARE) == [[("breaker_current_amps", 220.0)]]
    assert decode_stream(HOBO_TABLE, HOBO) == [
        [],  # the plot title: ignored
        [],  # the header
        [("water_temperature_celsius", 4.558)],
        [("water_temperature_celsius", 4.402)],
    ]


def test_a_line_whose_quote_is_not_closed_is_rejected_and_the_lines_around_it_read() -> None:
    """A line cut short after a quote opened (a replug, a buffer overrun) is ``syntax``, not
    cells shifted into the wrong columns."""
    cut = b'" Fri Aug 06, 1999 10:41:14"," Breaker #0965 reading is 2\r\n'
    assert decode_stream(ALARMWARE_TABLE, ALARMWARE + cut + ALARMWARE) == [
        [("breaker_current_amps", 220.0)],
        ("syntax", []),
        [("breaker_current_amps", 220.0)],
    ]


#: Texts a logger may quote in a cell: commas, quotes and spaces among others, no line end or NUL.
NOTES = st.text(st.characters(codec="utf-8", exclude_characters="\r\n\x00"))
VALUES = st.floats(-1e6, 1e6, allow_nan=False)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(NOTES, VALUES, VALUES), min_size=1, max_size=6), st.data())
def test_good_rows_around_an_unclosed_quote_are_read_as_they_would_be_alone(
    rows: list[tuple[str, float, float]], data: st.DataObject
) -> None:
    table = sensor_toml(
        "logger",
        "sim://logger",
        "csv",
        "",
        [channel_toml("a", field="1"), channel_toml("b", field="2")],
    )
    lines = []
    for note, a, b in rows:
        out = io.StringIO()
        csv.writer(out, lineterminator="\n").writerow([note, repr(a), repr(b)])
        lines.append(out.getvalue().encode())
    good = [[("a", a), ("b", b)] for _, a, b in rows]
    at = data.draw(st.integers(0, len(lines)))
    bad = b'"' + data.draw(NOTES).replace('"', "").encode() + b",1.5,2.5\n"
    outcomes = decode_stream(table, b"".join([*lines[:at], bad, *lines[at:]]))
    assert outcomes == [*good[:at], ("syntax", []), *good[at:]]


# The DHT sensor library's example sketch (adafruit/DHT-sensor-library,
# examples/DHTtester/DHTtester.ino): a banner, then every two seconds one line of five numbers,
# or a failure line. The sketch's source is UTF-8, so "°" is sent as C2 B0.
DHT_TESTER = (
    "DHTxx test!\r\n"
    "Humidity: 45.00%  Temperature: 23.00°C 73.40°F  Heat index: 23.06°C 73.50°F\r\n"
    "Failed to read from DHT sensor!\r\n"
    "Humidity: 44.90%  Temperature: 23.10°C 73.58°F  Heat index: 23.15°C 73.67°F\r\n"
).encode()
DHT_LINE = "Humidity: 45.00%  Temperature: 23.00°C 73.40°F  Heat index: 23.06°C 73.50°F"
DHT_PATTERN = (
    r"^(?:Humidity: (?P<humidity_percent>\S+)%  Temperature: (?P<temperature_celsius>\S+)°C "
    r"\S+°F  Heat index: (?P<heat_index_celsius>\S+)°C \S+°F|Failed to read from DHT sensor!)$"
)


def dht_table(pattern: str = DHT_PATTERN, *names: str) -> str:
    channels = names or ("humidity_percent", "temperature_celsius", "heat_index_celsius")
    return sensor_toml(
        "dht",
        "sim://dht",
        "value",
        f"terminator = \"\\r\\n\"\nparse = {{ pattern = '{pattern}', example = '{DHT_LINE}' }}",
        [channel_toml(name) for name in channels],
    )


def test_a_line_of_several_numbers_gives_one_channel_per_named_group() -> None:
    assert decode_stream(dht_table(), DHT_TESTER) == [
        ("syntax", []),  # the banner
        [("humidity_percent", 45.0), ("temperature_celsius", 23.0), ("heat_index_celsius", 23.06)],
        ("invalid", []),  # the failure line: an alternative of the pattern without groups
        [("humidity_percent", 44.9), ("temperature_celsius", 23.1), ("heat_index_celsius", 23.15)],
    ]


@pytest.mark.parametrize("left", [b"\r", b"\n"], ids=["lf-lost", "cr-lost"])
def test_a_pattern_s_line_joined_to_the_next_by_a_line_end_that_lost_a_byte_is_rejected(
    left: bytes,
) -> None:
    """A line of the MT-SICS balance or of the DHT sketch whose CR LF lost one byte runs into
    the next with the CR or LF between them. The balance's pattern took its dynamic line and
    the stable weight after it for one dynamic line (``D .*`` spans the CR: ``invalid``, the
    weight lost uncounted); the DHT's pattern, unanchored, found the first line's numbers and
    lost the second's uncounted. The CR or LF inside rejects the line as ``syntax``, and the
    line after it is read, in every chunking."""
    dht_unanchored = (
        r"Humidity: (?P<humidity_percent>\S+)%  Temperature: (?P<temperature_celsius>\S+)°C"
    )
    balance = sensor_toml(
        "balance",
        "sim://balance",
        "value",
        "terminator = \"\\r\\n\"\nparse = { pattern = '^S (?:S +(\\S+) g|D .*|I|\\+|-)$' }",
        [channel_toml("mass_g")],
    )
    dht_lines = DHT_TESTER.split(b"\r\n")
    for table, first, second in (
        (balance, b"S D     100.01 g", b"S S     100.00 g\r\n"),
        (
            dht_table(dht_unanchored, "humidity_percent", "temperature_celsius"),
            dht_lines[1],
            dht_lines[3] + b"\r\n",
        ),
    ):
        [read] = decode_stream(table, second)
        data = first + left + second + second
        for size in (len(data), 7, 1):
            assert decoded_in_chunks(table, data, size) == [("syntax", []), read], (table, size)


#: Line ends that leave a CR or an LF at a line's start or end once the terminator is cut:
#: a sketch that prints "\\r\\n" with println (CR CR LF), a device that ends its lines LF CR,
#: and CR LF read with ``terminator = "\\r"``.
ODD_LINE_ENDS = [("\\n", b"\r\r\n"), ("\\n", b"\n\r"), ("\\r", b"\r\n")]


@pytest.mark.parametrize(("terminator", "line_end"), ODD_LINE_ENDS)
def test_anchored_patterns_hold_at_the_line_s_ends_whatever_they_are(
    terminator: str, line_end: bytes
) -> None:
    balance = sensor_toml(
        "balance",
        "sim://balance",
        "value",
        f"terminator = \"{terminator}\"\nparse = {{ pattern = '^S (?:S +(\\S+) g|D .*|I|\\+|-)$' }}",
        [channel_toml("mass_g")],
    )
    clean = decode_stream(
        balance.replace(f'terminator = "{terminator}"', 'terminator = "\\r\\n"'), MT_SICS
    )
    odd = MT_SICS.replace(b"\r\n", line_end)
    assert clean[0] == [("mass_g", 100.0)]
    assert clean[-1] == [("mass_g", -0.37)]
    assert decode_stream(balance, odd) == clean
    dht = dht_table().replace('terminator = "\\r\\n"', f'terminator = "{terminator}"')
    assert decode_stream(dht, DHT_TESTER.replace(b"\r\n", line_end)) == decode_stream(
        dht_table(), DHT_TESTER
    )


@pytest.mark.parametrize(("terminator", "line_end"), ODD_LINE_ENDS)
def test_anchored_ignore_regexes_hold_at_the_line_s_ends_whatever_they_are(
    terminator: str, line_end: bytes
) -> None:
    table = sensor_toml(
        "dht",
        "sim://dht",
        "csv",
        f'terminator = "{terminator}"\n'
        'parse = { columns = ["humidity", "temperature"], header = true, '
        "ignore = ['^Starting\\.\\.\\.$'] }",
        [
            channel_toml("humidity_percent", field="humidity"),
            channel_toml("t", field="temperature"),
        ],
    )
    restarted = ARDUINO_CSV + b"Starting...\r\n45.10,23.20\r\n"  # the board reset
    assert decode_stream(table, restarted.replace(b"\r\n", line_end)) == [
        [],  # the banner, ignored
        [],  # the header
        [("humidity_percent", 45.0), ("t", 23.0)],
        ("nonfinite", [("t", 23.1)]),
        ("nonfinite", []),
        [],  # the banner again, after a line end
        [("humidity_percent", 45.1), ("t", 23.2)],
    ]


@pytest.mark.parametrize(
    ("parse", "key"),
    [
        ("pattern = '^T=(\\S+)\\r$'", "parse.pattern"),
        ("pattern = '\\nT=(\\S+)'", "parse.pattern"),
        ("ignore = ['^OK\\r']", "parse.ignore[0]"),
    ],
)
def test_a_regex_that_needs_a_line_end_is_refused(parse: str, key: str) -> None:
    """A regex that needs the CR or LF the lines no longer have at their ends could never
    match: ``sensord check`` says so, naming it, rather than every line being rejected."""
    table = sensor_toml("t", "sim://t", "value", f"parse = {{ {parse} }}", [channel_toml("v")])
    with pytest.raises(ConfigError) as refused:
        parse_config(table)
    [line] = refused.value.lines
    assert line.startswith(f"sensors[0].{key} (sensor 't'): "), line
    assert "needs a CR or LF at its start or end" in line
    # a set without them, or an optional CR, is fine
    for fine in ("pattern = '^T=([^\\r\\n]+)$'", "pattern = '^T=(\\S+)\\r?$'"):
        parse_config(
            sensor_toml("t", "sim://t", "value", f"parse = {{ {fine} }}", [channel_toml("v")])
        )


def test_named_groups_read_units_invalid_marks_and_absent_values() -> None:
    pattern = r"H: (?P<h>[^ ]*) T: (?P<t>\S+)(?: P: (?P<p>\S+))?"
    table = sensor_toml(
        "probe",
        "sim://probe",
        "value",
        f"parse = {{ pattern = '{pattern}', example = 'H: 45,1% T: 23,4C P: 1013hPa', "
        'units = ["%", "C", "hPa"], invalid = ["---"], decimal = "," }',
        [channel_toml("h"), channel_toml("t"), channel_toml("p")],
    )
    assert decode_stream(
        table, b"H: 45,1% T: 23,4C P: 1013hPa\nH: --- T: 23,5C\nH:  T: 23,6C\nH: 4.5 T: 1\n"
    ) == [
        [("h", 45.1), ("t", 23.4), ("p", 1013.0)],
        ("invalid", [("t", 23.5)]),  # p's group took no part: absent, not an error
        [("t", 23.6)],  # h's group is empty: absent
        ("syntax", []),  # a decimal point where the comma belongs
    ]


def test_a_single_unnamed_group_reads_as_before() -> None:
    table = sensor_toml(
        "probe", "sim://probe", "value", "parse = { pattern = 'T=(\\S+) C' }", [channel_toml("x")]
    )
    assert decode_stream(table, b"T=21.5 C\nT= C\nH=1\n") == [
        [("x", 21.5)],
        ("syntax", []),
        ("syntax", []),
    ]


@pytest.mark.parametrize(
    ("table", "key", "words"),
    [
        (
            dht_table(DHT_PATTERN, "humidity_percent", "temperature_celsius", "dew_point"),
            "sensors[0].channels[2].field",
            "'dew_point' names no group of parse.pattern (its named groups: humidity_percent,",
        ),
        (
            dht_table(DHT_PATTERN, "humidity_percent", "temperature_celsius"),
            "sensors[0].parse.pattern",
            "group 'heat_index_celsius' is read by no channel",
        ),
        (
            dht_table().replace(f", example = '{DHT_LINE}'", ""),
            "sensors[0].parse.example",
            "is needed with named groups",
        ),
        (
            dht_table(r"(?P<humidity_percent>4(?P<temperature_celsius>5)\.00)", *("x", "y")),
            "sensors[0].channels[0].field",
            "'x' names no group",
        ),
        (
            dht_table(r"(?P<a>4(?P<b>5)\.00)", "a", "b"),
            "sensors[0].parse.pattern",
            "groups 'a' and 'b' overlap",
        ),
        (
            dht_table(r"Humidity: (?P<a>\S+)%  Temperature: (?P<b>\S+)", "a", "b"),
            "sensors[0].parse.example",
            "group 'b' captures '23.00°C' in",
        ),
        (
            # a sign that must stand apart: the simulator prints it at the digits
            sensor_toml(
                "s",
                "sim://s",
                "value",
                "parse = { pattern = 'T=(?P<t>[+-] +\\d+\\.\\d) H=(?P<h>\\S+)', "
                "example = 'T=+  12.5 H=45' }",
                [channel_toml("t"), channel_toml("h")],
            ),
            "sensors[0].parse.pattern",
            "does not read the simulator's line 'T=+12.5 H=45'",
        ),
        (
            dht_table(r"Humidity: (\S+)% (?P<a>)", "t", "h"),
            "sensors[0].channels[0].field",
            "'t' names no group",
        ),
        (
            sensor_toml("s", "sim://s", "value", "", [channel_toml("a"), channel_toml("b")]),
            "sensors[0].channels[1].field",
            "unless parse.pattern has a named group for each channel",
        ),
    ],
)
def test_named_groups_and_channels_must_agree(table: str, key: str, words: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(table)
    assert any(p.startswith(key) and words in p for p in info.value.problems), info.value.problems


@pytest.mark.slow
def test_a_dht_sketch_on_a_pty_through_the_daemon(
    pty_pair: PtyPair, start_daemon: StartDaemon
) -> None:
    daemon = start_daemon(config=dht_table().replace('"sim://dht"', f'"{pty_pair.path}"'))
    daemon.wait_http()
    daemon.wait_up_settled(["dht"], timeout_s=10)
    pty_pair.write(DHT_TESTER)
    daemon.wait_frames({"dht": 4})
    # the frames are counted as they are cut, their readings published once the chunk went
    # through the stages: a scrape in between (another thread took the interpreter) has none
    scraped: list[Scrape] = []

    def published() -> bool:
        scraped[:] = [daemon.scrape()]
        return (
            scraped[0].get("sensord_window_samples", 0, sensor="dht", channel="heat_index_celsius")
            == 2
        )

    wait_for(published, 5, "the DHT lines' readings published")
    samples = scraped[0]

    def reading(channel: str) -> float:
        return samples.value("sensord_reading_value", sensor="dht", channel=channel)

    assert reading("humidity_percent") == 44.9
    assert reading("temperature_celsius") == 23.1
    assert reading("heat_index_celsius") == 23.15
    errors = {
        reason: samples.value("sensord_parse_errors_total", sensor="dht", reason=reason)
        for reason in ("syntax", "invalid")
    }
    assert errors == {"syntax": 1, "invalid": 1}
    assert samples.value("sensord_window_samples", sensor="dht", channel="humidity_percent") == 2
    assert daemon.alive()


# NUL padding. A firmware that writes a fixed char buffer whole (Serial.write(buf, sizeof buf),
# the mistake discussed in raomin/ESPAltherma pull request 63: "Sizeof will return 5 and send
# the ending 0x00") sends the unused bytes of the buffer as NUL before its line end; the
# AsciiMassage library for Arduino ended each message with "\n" and then a 0 byte
# (SofaPirate/AsciiMassage issue 4), so the NUL starts the next line.
FIXED_BUFFER = b"23.5\x00\x00\x00\r\n23.6\x00\x00\x00\r\n"
NUL_AFTER_LINE = b"23.7\r\n\x0023.8\r\n\x00"
# On Linux a line held low (a device that lost power or was unplugged mid-line) reads as a NUL
# too (a BREAK, with IGNBRK and BRKINT clear, as pyserial leaves them): "123.4" cut after "12".
CUT_BY_A_BREAK = b"12\x00\r\n"


def padded_framing(nul_padding: bool, data: bytes) -> tuple[list[Outcome], int]:
    table = sensor_toml(
        "logger",
        "sim://logger",
        "value",
        f'terminator = "\\r\\n"\nparse = {{ nul_padding = {str(nul_padding).lower()} }}',
        [channel_toml("v")],
    )
    sensor = parse_config(table).sensors[0]
    framer = codec_for("value").framer(sensor.format_spec(), b"\r\n", 512)
    framer.feed(data)
    return decode_stream(table, data), framer.skipped_bytes


def test_nul_padding_is_read_only_when_the_device_is_said_to_pad() -> None:
    data = FIXED_BUFFER + NUL_AFTER_LINE
    assert padded_framing(False, data) == (
        [("encoding", []), ("encoding", []), [("v", 23.7)], ("encoding", [])],
        0,
    )
    padded = [[("v", 23.5)], [("v", 23.6)], [("v", 23.7)], [("v", 23.8)]]
    assert padded_framing(True, data) == (padded, 3 + 3 + 1)  # the last NUL is still pending


def test_a_line_cut_by_a_break_is_an_encoding_error_by_default() -> None:
    assert padded_framing(False, CUT_BY_A_BREAK) == ([("encoding", [])], 0)
    assert padded_framing(True, CUT_BY_A_BREAK) == ([[("v", 12.0)]], 1)  # what padding costs


def test_nul_padding_is_refused_where_no_line_framer_reads() -> None:
    table = sensor_toml(
        "gps",
        "sim://gps",
        "nmea",
        "parse = { nul_padding = true }",
        [channel_toml("alt", field="GGA.altitude")],
    )
    with pytest.raises(ConfigError) as info:
        parse_config(table)
    assert info.value.problems == ["sensors[0].parse.nul_padding: is not used by format 'nmea'"], (
        info.value.problems
    )


@pytest.mark.parametrize(
    ("parse", "key"),
    [
        ({"units": ["ug"]}, "parse.units"),
        ({"invalid": ["ERR"]}, "parse.invalid"),
        ({"decimal": ","}, "parse.decimal"),
        ({"nul_padding": True}, "parse.nul_padding"),
    ],
)
def test_text_value_options_are_refused_by_binary_formats(parse: dict[str, Any], key: str) -> None:
    """A PMS5003 (frames) and a Modbus meter read binary values: a text option set on them
    would do nothing, so check names it."""
    sensors: list[dict[str, Any]] = [
        {"name": "air", "port": "sim://air", "preset": "pms5003", "parse": parse},
        {
            "name": "meter",
            "port": "sim://meter",
            "format": "modbus",
            "modbus": {"unit": 1},
            "registers": [{"name": "v", "table": "input", "address": 0}],
            "channels": [{"name": "v"}],
            "parse": parse,
        },
    ]
    errors: list[str] = []
    assert Config.load({"sensors": sensors}, "", errors) is None
    assert errors == [
        f"sensors[0].{key}: is not used by format 'frames'",
        f"sensors[1].{key}: is not used by format 'modbus'",
    ], errors


def test_a_text_parse_table_on_a_binary_format_is_named_key_by_key_and_not_judged() -> None:
    """A text sensor's parse table copied onto a PMS5003: each key it sets is named as not
    used, and none is checked as if it were read ("0.1L", the volume of air the sensor's
    particle counts are per, would read as part of a number after one)."""
    parse = {
        "units": ["0.1L"],
        "invalid": ["---"],
        "decimal": ",",
        "nul_padding": True,
        "ignore": ["^x"],
    }
    sensor = {"name": "air", "port": "sim://air", "preset": "pms5003", "parse": parse}
    errors: list[str] = []
    assert Config.load({"sensors": [sensor]}, "", errors) is None
    assert sorted(errors) == sorted(
        f"sensors[0].parse.{key}: is not used by format 'frames'" for key in parse
    )


# Sartorius balances in SBI mode print the sign in a column of its own, the digits right-aligned
# after it ("Pos 1: + / - / space, Pos 2: space, Pos 3-10: weight value", the SBI manual as
# quoted in GraysonBellamy/sartoriuslib, docs/sbi_data_output.md; numat/sartorius, driver.py,
# reads them with float(response[6:16].replace(' ', ''))). With the 6-character ID code, live
# autoprint output of an MSE balance (sartoriuslib, tests/unit/protocol/sbi/test_parser.py):
# the unit is left blank while the weight is not stable.
SARTORIUS_SBI = (
    b"N     +    0.031    \r\n"  # unstable: no unit
    b"N     +    0.006 g  \r\n"
    b"N     -   12.345 g  \r\n"  # a tare below zero
    b"N          0.000 g  \r\n"  # the sign column blank at zero
    b"Stat     Cal.Int.\r\n"
)
SARTORIUS_PATTERN = "'^(?:N +([+-]? *[0-9.]+) g|N +[+-]? *[0-9.]+|Stat .*) *$'"


def test_a_balance_that_prints_its_sign_apart_from_the_digits_is_read_with_the_sign() -> None:
    table = sensor_toml(
        "balance",
        "sim://balance",
        "value",
        f'terminator = "\\r\\n"\nparse = {{ pattern = {SARTORIUS_PATTERN} }}',
        [channel_toml("mass_g")],
    )
    assert decode_stream(table, SARTORIUS_SBI) == [
        ("invalid", []),
        [("mass_g", 0.006)],
        [("mass_g", -12.345)],
        [("mass_g", 0.0)],
        ("invalid", []),
    ]


def test_a_sign_apart_from_its_digits_is_read_in_every_line_format() -> None:
    # sartoriuslib's own SBI parser test: b"-   12.345 mg \r\n" (16-character format, no ID)
    value = sensor_toml("s", "sim://s", "value", 'parse = { units = ["mg"] }', [channel_toml("v")])
    assert decode_stream(value, b"-   12.345 mg \r\n+     0.00\r\n") == [
        [("v", -12.345)],
        [("v", 0.0)],
    ]
    csv = sensor_toml("s", "sim://s", "csv", "", [channel_toml("v", field="1")])
    assert decode_stream(csv, b"N,-   12.345\n") == [[("v", -12.345)]]
    # a sign with nothing after it, or another sign, is still no number
    assert decode_stream(value, b"-   \n- -1\n+ mg\n") == [("syntax", [])] * 3


# Sketches that print their JSON themselves print a failed float as Arduino's Print::printFloat
# does, "nan" (fred881215/learning-N, protocol/mqtt_0507/sensor/sensor.ino:
# Serial.print("{\"Humidity\":"); Serial.print(humidity); ...), and so did Tasmota for an
# unplugged DHT11 (arendst/Tasmota issue 4147:
# {"Time":"2018-10-23T23:47:58","DHT11":{"Temperature":nan,"Humidity":nan},"TempUnit":"C"}).
# JSON has no such token; the value is dropped as nonfinite, as in the other formats.
def test_json_with_a_bare_nan_drops_only_that_value() -> None:
    table = sensor_toml(
        "dht",
        "sim://dht",
        "json",
        "",
        [channel_toml("t", field="DHT11.Temperature"), channel_toml("h", field="DHT11.Humidity")],
    )
    assert decode_stream(
        table,
        b'{"Time":"2018-10-23T23:47:58","DHT11":{"Temperature":nan,"Humidity":nan},'
        b'"TempUnit":"C"}\n'
        b'{"DHT11":{"Temperature":nan,"Humidity":45.00}}\n'
        b'{"DHT11":{"Temperature":-inf, "Humidity":inf}}\n'
        b'{"DHT11":{"Temperature":23.10,"Humidity":-nan}}\n'
        b'{"note":"nan, inf","DHT11":{"Temperature":nan,"Humidity":46}}\n'
        b'{"DHT11":{"Temperature":nan,"Humidity":46}\n'  # cut short: still no JSON
        b'{"DHT11":{"Temperature":nano,"Humidity":46}}\n',
    ) == [
        ("nonfinite", []),
        ("nonfinite", [("h", 45.0)]),
        ("nonfinite", []),
        ("nonfinite", [("t", 23.1)]),
        ("nonfinite", [("h", 46.0)]),
        ("syntax", []),
        ("syntax", []),
    ]


def test_an_example_with_a_sign_apart_from_its_digits_simulates_lines_that_read_back() -> None:
    # the simulator prints each channel's value in place of the example's signed number
    table = sensor_toml(
        "balance",
        "sim://balance",
        "value",
        "parse = { pattern = '^N +(?P<mass_g>[+-]? *[0-9.]+) g +T +(?P<celsius>[+-]? *[0-9.]+)$', "
        'example = "N     -   12.345 g  T +  21.5" }',
        [channel_toml("mass_g"), channel_toml("celsius")],
    )
    spec = parse_config(table).sensors[0].format_spec()
    codec = codec_for(spec.format)
    [line] = codec.encoder(spec)({"mass_g": -1.5, "celsius": 20.25}, 0.0)
    assert line == b"N     -1.500 g  T +20.2"  # the example's explicit + kept
    assert decode_stream(table, line + b"\n") == [[("mass_g", -1.5), ("celsius", 20.2)]]


def unavailable_of(table: str, data: bytes) -> list[tuple[str, tuple[str, ...]]]:
    """Each rejected frame of ``data``'s reason and the channels it names as not measured."""
    sensor = parse_config(table).sensors[0]
    spec = sensor.format_spec()
    codec = codec_for(spec.format)
    decode = codec.sensor_decoder(spec, time.time)
    out = []
    for frame in codec.framer(spec, sensor.terminator, sensor.max_frame_bytes).feed(data):
        try:
            decode(frame)
        except ParseError as exc:
            out.append((exc.reason, exc.unavailable))
    return out


@pytest.mark.parametrize(
    ("fmt", "parse", "fields", "data", "expected"),
    [
        # a WXT's wind sensor failed: every wind value marked, the channels read from them
        ("kv", 'units = ["D", "M"], invalid = ["#"]', ("Dm", "Sm"), WXT_WIND_FAILED, ("a", "b")),
        ("csv", 'invalid = ["ERR"]', ("0", "1"), b"ERR,ERR\n1,ERR\n", ("a", "b")),
        ("json", 'invalid = ["ERR"]', ("t", "h"), b'{"t":"ERR","h":NaN}\n', ("a", "b")),
        ("value", 'invalid = ["----"]', ("1",), b"----\n", ("a",)),
        (
            "value",
            "pattern = '^(?:T=(?P<t>\\S+)|ERR) H=(?P<h>\\S+)$', invalid = ['nan'], "
            "example = 'T=1.0 H=2.0'",
            ("t", "h"),
            b"T=nan H=nan\n",
            ("a", "b"),
        ),
    ],
)
def test_a_value_marked_as_not_measured_names_its_channel(
    fmt: str, parse: str, fields: tuple[str, ...], data: bytes, expected: tuple[str, ...]
) -> None:
    """The channels of the fields the device marked as not measured are named, so that they
    have no current value (``ParseError.unavailable``); the other failures name none."""
    names = ("a", "b")[: len(fields)]
    table = sensor_toml(
        "dev",
        "sim://dev",
        fmt,
        f"parse = {{ {parse} }}",
        [channel_toml(name, field=field) for name, field in zip(names, fields, strict=True)],
    )
    found = unavailable_of(table, data)
    assert found[0][1] == expected, found
    if fmt == "csv":
        assert found[1] == ("invalid", ("b",))
    # damage is no statement of the device's
    assert all(not u for r, u in unavailable_of(table, b"\x00\xff{[\n") if r != "invalid")
