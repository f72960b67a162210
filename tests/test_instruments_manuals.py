"""Instruments read as their manuals print their serial output, configured from the README.

Each excerpt names its device and the manual or page its lines come from; the noise around
them (line ends, a line cut short by a replug, error texts) is of the kinds the manuals
describe. Lines go through the framer and decoder the daemon builds from the configuration,
and two of the instruments through the daemon on a pseudo-terminal.
"""

from __future__ import annotations

import time

from sensord.config import parse_config
from sensord.errors import ParseError
from sensord.formats import codec_for

#: What a frame gave: its readings, or ``(reason, readings kept)`` when it failed.
Outcome = list[tuple[str, float]] | tuple[str, list[tuple[str, float]]]


def decode_stream(table: str, data: bytes) -> list[Outcome]:
    """Each frame of ``data`` through the sensor's framer and decoder."""
    sensor = parse_config(table).sensors[0]
    spec = sensor.format_spec()
    codec = codec_for(spec.format)
    decode = codec.sensor_decoder(spec, time.time)
    framer = codec.framer(spec, sensor.terminator, sensor.max_frame_bytes)
    outcomes: list[Outcome] = []
    for frame in framer.feed(data):
        try:
            outcomes.append(decode(frame))
        except ParseError as exc:
            outcomes.append((exc.reason, exc.kept))
    return outcomes


# R. M. Young Model 81000 ultrasonic anemometer, manual 81000-90, "Initial checkout": at power
# up it prints four lines a second of speed (m/s), azimuth (deg), elevation (deg), speed of
# sound (m/s) and sonic temperature (degC), "0.00 0.0 0.0 346.70 25.14", each field right-
# aligned in a column of its own width and the line ended with CR. A value that grows a digit
# or a sign (a wind of 12.34 m/s, an elevation of -4.5) takes one space less before it.
YOUNG_81000 = (
    b"   0.00   0.0   0.0 346.70  25.14\r"
    b"   0.00   0.0   0.0 346.68  25.11\r"
    b"  12.34 183.2  -4.5 346.10  24.90\r"
)
YOUNG_TABLE = """
[[sensors]]
name = "sonic"
port = "/dev/ttyUSB0"
format = "csv"
terminator = "\\r"
serial = { baudrate = 38400 }
parse = { delimiter = " " }
channels = [
  { name = "wind_speed_mps", field = "0" }, { name = "wind_direction_deg", field = "1" },
  { name = "sonic_temperature_celsius", field = "4" },
]
"""


def test_columns_aligned_with_spaces_are_read_whatever_the_width_of_each_value() -> None:
    assert decode_stream(YOUNG_TABLE, YOUNG_81000) == [
        [
            ("wind_speed_mps", 0.0),
            ("wind_direction_deg", 0.0),
            ("sonic_temperature_celsius", 25.14),
        ],
        [
            ("wind_speed_mps", 0.0),
            ("wind_direction_deg", 0.0),
            ("sonic_temperature_celsius", 25.11),
        ],
        [
            ("wind_speed_mps", 12.34),
            ("wind_direction_deg", 183.2),
            ("sonic_temperature_celsius", 24.9),
        ],
    ]


# The R. M. Young meteorological station of R/V Marcus G. Langseth (cruise MGL0910 data
# documentation, "RM Young Meteorological Station Data"): 22 space-aligned columns, a value
# the station lacks printed as "*****" in its column.
YOUNG_STATION = (
    b" 12.6  13.2  12.6  16.9   1 335   2   0.0   0.0   0.0   0.0 355 355   0 -11.9 -23.8"
    b" *****   7.3  8  4  9 1006.9\r\n"
)
STATION_TABLE = """
[[sensors]]
name = "ship_met"
port = "/dev/ttyUSB1"
format = "csv"
terminator = "\\r\\n"
parse = { delimiter = " ", invalid = ["*****"] }
channels = [
  { name = "wind_speed_knots", field = "0" }, { name = "air_temperature_celsius", field = "14" },
  { name = "temperature_low_celsius", field = "16" }, { name = "pressure_hpa", field = "21" },
]
"""


def test_a_station_s_missing_column_is_invalid_and_the_others_are_read_in_place() -> None:
    assert decode_stream(STATION_TABLE, YOUNG_STATION) == [
        (
            "invalid",
            [
                ("wind_speed_knots", 12.6),
                ("air_temperature_celsius", -11.9),
                ("pressure_hpa", 1006.9),
            ],
        )
    ]
