"""Instruments read as their manuals print their serial output, configured from the README.

Each excerpt names its device and the manual or page its lines come from; the noise around
them (line ends, a line cut short by a replug, error texts) is of the kinds the manuals
describe. Lines go through the framer and decoder the daemon builds from the configuration,
and two of the instruments through the daemon on a pseudo-terminal.
"""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from harness.common import wait_for
from harness.daemon import StartDaemon
from harness.pty import PtyPair
from test_formats_blocks import hint_after_repeats
from test_formats_instruments import (
    assert_run_together_lines_read_safely,
    decode_stream,
    decode_stream_raising,
    decoded_in_chunks,
)

from sensord.config import parse_config
from sensord.config_sensor import SensorConfig
from sensord.errors import ParseError
from sensord.formats import codec_for
from sensord.formats.base import DecoderCounts

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
parse = { delimiter = " ", columns = ["speed", "azimuth", "elevation", "sound_speed", "sonic_temperature"] }
channels = [
  { name = "wind_speed_mps", field = "speed" }, { name = "wind_direction_deg", field = "azimuth" },
  { name = "sonic_temperature_celsius", field = "sonic_temperature" },
]
"""
#: the three lines' readings
YOUNG_READINGS = [
    [("wind_speed_mps", w), ("wind_direction_deg", d), ("sonic_temperature_celsius", t)]
    for w, d, t in ((0.0, 0.0, 25.14), (0.0, 0.0, 25.11), (12.34, 183.2, 24.9))
]


def test_columns_aligned_with_spaces_are_read_whatever_the_width_of_each_value() -> None:
    # the sensor restarted in the middle of a line (its supply dipped; the adapter stayed):
    # the line's start and the next line are one frame, of 9 cells where 5 are named
    cut = b"   0.00   0.0   0.0 346" + YOUNG_81000
    assert decode_stream(YOUNG_TABLE, cut)[0] == ("syntax", [])
    assert decode_stream(YOUNG_TABLE, YOUNG_81000) == YOUNG_READINGS


def test_aligned_columns_after_a_line_end_the_terminator_left_are_read_in_place() -> None:
    """A device that ends its lines LF CR, read with the default terminator, or CR LF read
    with ``terminator = "\\r"``: each line keeps a CR or LF at its start, no column."""
    for table, data in (
        (YOUNG_TABLE.replace('terminator = "\\r"\n', ""), YOUNG_81000.replace(b"\r", b"\n\r")),
        (YOUNG_TABLE, YOUNG_81000.replace(b"\r", b"\r\n")),
    ):
        assert decode_stream(table, data)[1:] == YOUNG_READINGS[1:]


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


@pytest.mark.parametrize("left", [b"\r", b"\n"], ids=["lf-lost", "cr-lost"])
def test_a_station_s_rows_joined_by_a_line_end_that_lost_a_byte_are_rejected(
    left: bytes,
) -> None:
    """Read by index, the station's row and the next one joined by the CR or LF left of their
    line end would give the first row's columns and lose the second uncounted: the CR or LF
    inside the line rejects it, and the row after it is read."""
    row = YOUNG_STATION.removesuffix(b"\r\n")
    [read] = decode_stream(STATION_TABLE, YOUNG_STATION)
    data = row + left + YOUNG_STATION + YOUNG_STATION
    for size in (len(data), 7, 1):
        assert decoded_in_chunks(STATION_TABLE, data, size) == [("syntax", []), read], size


def test_a_station_s_rows_joined_by_a_line_end_lost_whole_are_caught_by_its_columns() -> None:
    """A line end lost whole joins two rows with nothing between them. Read by index alone (a
    row may have any width), the joined row gives the first row's columns and loses the
    second uncounted; with the station's 22 columns named, its channels still read by index,
    the row of 44 cells is ``syntax`` naming the 22, and the row after it is read."""
    row = YOUNG_STATION.removesuffix(b"\r\n")
    [read] = decode_stream(STATION_TABLE, YOUNG_STATION)
    data = row + YOUNG_STATION + YOUNG_STATION
    assert decode_stream(STATION_TABLE, data) == [read, read]  # the second row lost
    names = ", ".join(f'"c{i}"' for i in range(22))
    named = STATION_TABLE.replace('delimiter = " ",', f'delimiter = " ", columns = [{names}],')
    assert decode_stream(named, YOUNG_STATION) == [read]
    assert decode_stream(named, data) == [("syntax", []), read]
    with pytest.raises(ParseError, match=r"^syntax: 44 cells where parse.columns names 22"):
        decode_stream_raising(named, data)


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


# Vaisala HMP155 humidity and temperature probe (the HMP230/HMP260 family before it prints the
# same): in RUN mode (command R) one line per interval, "RH= 19.4 %RH T= 26.0 'C" (HMP260
# user's guide, FTIME example; the HMP155 user guide, FORM and UNIT commands). A value the
# probe cannot give is printed as "*" characters in its field (FORM modifiers, Vaisala
# MMT162 user's guide: "Outputs the measured value of the parameter, or * characters if
# measured value is not available"); UNIT N switches the output to Fahrenheit ('F).
HMP155 = (
    b"RH= 19.4 %RH T= 26.0 'C\r\n"
    b"RH=***.* %RH T= 26.1 'C\r\n"  # humidity sensor failed: the temperature is still read
    b"RH= 19.8 %RH T= 79.0 'F\r\n"  # UNIT N: the temperature in Fahrenheit, not read
    b"RH= 20.6 %RH T= 2\r\n"  # cut short by a replug, the probe's next line after it
    b"RH=100.0 %RH T= -5.2 'C\r\n"
)
HMP155_TABLE = """
[[sensors]]
name = "hmp155"
port = "/dev/ttyUSB0"
format = "value"
terminator = "\\r\\n"
serial = { baudrate = 4800, bytesize = 7, parity = "E" }
parse = { pattern = '^RH= *(?P<rh>\\S+ %RH) T= *(?P<t>\\S+ \\S+)$', example = "RH= 19.4 %RH T= 26.0 'C", units = ["%RH", "'C"], invalid = ["***.*"] }
channels = [
  { name = "humidity_percent", field = "rh" }, { name = "temperature_celsius", field = "t" },
]
"""


def test_a_humidity_probe_s_values_its_stars_and_its_units() -> None:
    assert decode_stream(HMP155_TABLE, HMP155) == [
        [("humidity_percent", 19.4), ("temperature_celsius", 26.0)],
        ("invalid", [("temperature_celsius", 26.1)]),
        ("invalid", [("humidity_percent", 19.8)]),
        ("syntax", []),  # "T= 2" without its unit: no match, not a temperature of 2
        [("humidity_percent", 100.0), ("temperature_celsius", -5.2)],
    ]


def test_a_humidity_probe_s_configuration_passes_check_and_simulates_lines_it_reads() -> None:
    sensor = parse_config(HMP155_TABLE.replace('"/dev/ttyUSB0"', '"sim://hmp155"')).sensors[0]
    spec = sensor.format_spec()
    codec = codec_for(spec.format)
    line = codec.encoder(spec)({"rh": 45.25, "t": -3.5}, 0.0)[0]
    assert line in {b"RH= 45.2 %RH T= -3.5 'C", b"RH= 45.3 %RH T= -3.5 'C"}
    assert codec.decoder(spec)(line)[1] == ("temperature_celsius", -3.5)


# Aanderaa oxygen optode 4330 (TD 269 operating manual, Smart Sensor Terminal protocol): one
# tab-separated line per sample, a label before each value. Lines of a 4330F at 9600 baud as
# logged by stanleylio's node software (a 4330F before firmware Framework 3, units in "( )",
# a tab after the last value; and after it, units in "[ ]"). Before Framework 3 the optode
# sends "%" when it goes to sleep and "#" when it wakes (TD 269, appendix 11), which end up in
# front of the next line; at power up it announces itself ("StartupInfo ..."). Read by column,
# as here, a "*" before a label (Framework 3, below) is in another cell than its value: a
# Framework 3 sensor is read by its labels instead.
OPTODE = (
    b"MEASUREMENT\t4330F\t829\tO2Concentration(uM)\t263.870\tAirSaturation(%)\t99.293"
    b"\tTemperature(Deg.C)\t23.349\tCalPhase(Deg)\t27.110\tTCPhase(Deg)\t30.200\t\r\n"
    b"%# MEASUREMENT\t4330F\t829\tO2Concentration(uM)\t268.277\tAirSaturation(%)\t96.838"
    b"\tTemperature(Deg.C)\t21.188\tCalPhase(Deg)\t27.767\tTCPhase(Deg)\t29.411\r\n"
    b"StartupInfo 4330 83 Mode AADI Smart Sensor Terminal Protocol RS232 Protocol Version 3"
    b" Config Version 6\r\n"
    b"MEASUREMENT\t4330F\t832\tO2Concentration[uM]\t299.573\tAirSaturation[%]\t111.641"
    b"\tTemperature[Deg.C]\t22.893\tCalPhase[Deg]\t26.866\tTCPhase[Deg]\t28.905\r\n"
)
OPTODE_TABLE = """
[[sensors]]
name = "optode"
port = "/dev/ttyUSB0"
format = "csv"
terminator = "\\r\\n"
parse = { delimiter = "\\t", ignore = ['^StartupInfo '] }
channels = [
  { name = "oxygen_umol_per_l", field = "4" }, { name = "air_saturation_percent", field = "6" },
  { name = "water_temperature_celsius", field = "8" },
]
"""


def test_an_oxygen_optode_s_tab_separated_values_are_read_by_their_column() -> None:
    assert decode_stream(OPTODE_TABLE, OPTODE) == [
        [
            ("oxygen_umol_per_l", 263.87),
            ("air_saturation_percent", 99.293),
            ("water_temperature_celsius", 23.349),
        ],
        [
            ("oxygen_umol_per_l", 268.277),
            ("air_saturation_percent", 96.838),
            ("water_temperature_celsius", 21.188),
        ],
        [],  # StartupInfo: ignored
        [
            ("oxygen_umol_per_l", 299.573),
            ("air_saturation_percent", 111.641),
            ("water_temperature_celsius", 22.893),
        ],
    ]


# The same optode since firmware Framework 3, as its manual describes the line (TD 269, 5.1: "All
# names and numbers are separated by tabulator spacing", the line ended with CR LF; appendix
# 11: units in "[ ]", "A '*' will precede the parameter name if an error status related to the
# specific parameter occur", and a "%" before it sleeps, a "!" when it is ready again, which
# end up before the next line as the "%#" of the lines above). The 4330F's logged line above,
# the same with its oxygen flagged as the manual says, a 4831F's startup notification as
# upsonp/Underway-Data-Processing quotes it (1code_readTSGdata/TSG_optode_SatO2_4.R), and the
# first line again after a sleep.
FW3_LINE = (
    b"MEASUREMENT\t4330F\t832\tO2Concentration[uM]\t299.573\tAirSaturation[%]\t111.641"
    b"\tTemperature[Deg.C]\t22.893\tCalPhase[Deg]\t26.866\tTCPhase[Deg]\t28.905\r\n"
)
OPTODE_FW3 = (
    FW3_LINE
    + FW3_LINE.replace(b"\tO2Concentration", b"\t*O2Concentration")
    + b"StartupInfo\t4831F\t591\tMode\tAADI Smart Sensor Terminal Protocol\tRS232"
    + b"\tProtocol Version\t3\tConfig Version\t12\r\n"
    + b"%! "
    + FW3_LINE
)
#: The README's Aanderaa table.
OPTODE_FW3_TABLE = """
[[sensors]]
name = "optode"
port = "/dev/ttyUSB0"
format = "kv"
terminator = "\\r\\n"
parse = { pair_separator = "\\t", kv_separator = "\\t", invalid = ["*"], ignore = ['^StartupInfo\\b'] }
channels = [
  { name = "oxygen_umol_per_l", field = "O2Concentration[uM]" },
  { name = "air_saturation_percent", field = "AirSaturation[%]" },
  { name = "water_temperature_celsius", field = "Temperature[Deg.C]" },
]
"""


def test_an_oxygen_optode_s_flagged_parameter_is_invalid_and_its_others_are_read() -> None:
    assert decode_stream(OPTODE_FW3_TABLE, OPTODE_FW3) == [
        [
            ("oxygen_umol_per_l", 299.573),
            ("air_saturation_percent", 111.641),
            ("water_temperature_celsius", 22.893),
        ],
        ("invalid", [("air_saturation_percent", 111.641), ("water_temperature_celsius", 22.893)]),
        [],  # StartupInfo: ignored
        [
            ("oxygen_umol_per_l", 299.573),
            ("air_saturation_percent", 111.641),
            ("water_temperature_celsius", 22.893),
        ],
    ]


def test_the_readme_s_optode_table_is_its_aanderaa_example() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert OPTODE_FW3_TABLE.strip() in readme


# MightyOhm Geiger counter kit (firmware geiger.c, 1.00 by Jeff Keyzer; 1.50 by LVA): once a
# second "CPS, #####, CPM, #####, uSv/hr, ###.##, SLOW|FAST|INST" at 9600 8N1, each "\n" sent
# as CR LF; at power up the firmware's name and URL. Above 255 counts a second it reports
# CPS * 60 as CPM, in INST mode.
GEIGER = (
    b"LVA Geiger Counter 1.50\r\n"
    b"http://LVA.bg/products/geiger-counter\r\n"
    b"CPS, 0, CPM, 13, uSv/hr, 0.07, SLOW\r\n"
    b"CPS, 1, CPM, 14, uSv/hr, 0.07, SLOW\r\n"
    b"CPS, 300, CPM, 18000, uSv/hr, 102.60, INST\r\n"
    b"CPS, 1, CPM, 1\r\n"  # cut short by a replug
)
GEIGER_TABLE = """
[[sensors]]
name = "geiger"
port = "/dev/ttyUSB0"
format = "csv"
terminator = "\\r\\n"
parse = { columns = ["cps_label", "cps", "cpm_label", "cpm", "dose_label", "dose", "mode"], ignore = ['^(LVA|mightyohm\\.com) Geiger Counter ', '^http://'] }
channels = [
  { name = "counts_per_minute", field = "cpm" }, { name = "dose_usv_per_hour", field = "dose" },
]
"""


def test_a_geiger_counter_s_rows_are_read_and_a_row_cut_short_is_rejected() -> None:
    assert decode_stream(GEIGER_TABLE, GEIGER) == [
        [],  # the firmware's name and URL: ignored
        [],
        [("counts_per_minute", 13.0), ("dose_usv_per_hour", 0.07)],
        [("counts_per_minute", 14.0), ("dose_usv_per_hour", 0.07)],
        [("counts_per_minute", 18000.0), ("dose_usv_per_hour", 102.6)],
        ("syntax", []),  # 4 of 7 cells: not read as a count of 1
    ]


# The Adafruit BME280 library's example sketch (bme280test.ino) prints a value a line, a
# blank line after each round: "Temperature = 23.45 *C" (" °C" in later versions, as UTF-8),
# "Pressure = 1013.25 hPa", "Approx. Altitude = 100.00 m", "Humidity = 45.00 %"; with no
# sensor on the bus it prints "Could not find a valid BME280 sensor, check wiring, ...",
# and a read that failed prints as "nan" (Arduino's Print::printFloat).
BME280 = (
    "Could not find a valid BME280 sensor, check wiring, address, sensor ID!\r\n"
    "Temperature = 23.45 *C\r\n"
    "Pressure = 1013.25 hPa\r\n"
    "Approx. Altitude = 0.00 m\r\n"
    "Humidity = 45.00 %\r\n"
    "\r\n"
    "Temperature = 23.47 °C\r\n"
    "Pressure = nan hPa\r\n"
    "Humidity = 45.1"  # the rest not yet received
).encode()
BME280_TABLE = """
[[sensors]]
name = "bme280"
port = "/dev/ttyACM0"
format = "kv"
terminator = "\\r\\n"
parse = { kv_separator = "=", units = ["*C", "°C", "hPa", "%"] }
channels = [
  { name = "temperature_celsius", field = "Temperature" }, { name = "pressure_hpa", field = "Pressure" },
  { name = "humidity_percent", field = "Humidity" },
]
"""


def test_an_arduino_sketch_s_key_equals_value_lines_each_give_their_channel() -> None:
    assert decode_stream(BME280_TABLE, BME280) == [
        ("syntax", []),  # no pair: the sketch's message that the sensor is missing
        [("temperature_celsius", 23.45)],
        [("pressure_hpa", 1013.25)],
        [],  # the altitude: no channel reads it
        [("humidity_percent", 45.0)],
        [("temperature_celsius", 23.47)],
        ("nonfinite", []),
    ]


@pytest.mark.slow
def test_a_humidity_probe_on_a_pty_through_the_daemon(
    pty_pair: PtyPair, start_daemon: StartDaemon
) -> None:
    table = HMP155_TABLE.replace('"/dev/ttyUSB0"', f'"{pty_pair.path}"')
    daemon = start_daemon(config=table.replace("[[sensors]]", '[[sensors]]\nsimulate = "never"'))
    daemon.wait_http()
    daemon.wait_up_settled(["hmp155"], timeout_s=10)
    pty_pair.write(HMP155 + b"RH= 21.0 %RH T= 70.1 'F\r\n")
    daemon.wait_frames({"hmp155": 6})
    status = daemon.status()["sensors"]["hmp155"]
    errors = {reason: n for reason, n in status["parse_errors"].items() if n}
    assert errors == {"invalid": 3, "syntax": 1}
    channels = status["channels"]
    # the last line's temperature is in Fahrenheit: no current value; its humidity is read
    assert channels["temperature_celsius"]["available"] is False
    assert channels["humidity_percent"]["value"] == 21.0
    assert channels["humidity_percent"]["window"]["count"] == 4

    # each rejection is logged with its line (the second "invalid" within a minute is held
    # back by the rate limit and counted)
    def logged() -> dict[str, tuple[str, str]]:
        return {
            r["frame"]: (r["msg"], r["reason"])
            for r in daemon.log_records()
            if r.get("sensor") == "hmp155" and "frame" in r
        }

    wait_for(lambda: len(logged()) >= 2, 5, "the lines of the rejections")
    assert logged() == {
        "RH=***.* %RH T= 26.1 'C": ("field rejected", "invalid"),
        "RH= 20.6 %RH T= 2": ("frame rejected", "syntax"),
    }
    assert daemon.alive()


@pytest.mark.slow
def test_an_anemometer_s_aligned_columns_on_a_pty_through_the_daemon(
    pty_pair: PtyPair, start_daemon: StartDaemon
) -> None:
    table = YOUNG_TABLE.replace('"/dev/ttyUSB0"', f'"{pty_pair.path}"')
    daemon = start_daemon(config=table.replace("[[sensors]]", '[[sensors]]\nsimulate = "never"'))
    daemon.wait_http()
    daemon.wait_up_settled(["sonic"], timeout_s=10)
    pty_pair.write(YOUNG_81000)
    daemon.wait_frames({"sonic": 3})
    samples = daemon.scrape()

    def reading(channel: str) -> float:
        return samples.value("sensord_reading_value", sensor="sonic", channel=channel)

    assert reading("wind_speed_mps") == 12.34
    assert reading("wind_direction_deg") == 183.2
    assert reading("sonic_temperature_celsius") == 24.9
    status = daemon.status()["sensors"]["sonic"]
    assert set(status["parse_errors"].values()) == {0}, status["parse_errors"]


# SparkFun OpenLog Artemis, its serial output of the IMU log: a header line of the column
# names, then a row per sample, each ended with a comma and CR LF ("rtcDate,rtcTime,Q6_1,...,
# output_Hz,\r\n" as a ROS driver of it quotes the line; the rows alike).
ARTEMIS = (
    b"rtcDate,rtcTime,aX,aY,aZ,gX,gY,gZ,mX,mY,mZ,imu_degC,output_Hz,\r\n"
    b"01/07/2000,00:00:01.10,-2.44,11.23,1012.70,0.09,-0.69,0.08,-32.10,28.50,-1.05,24.65"
    b",25.117,\r\n"
)
ARTEMIS_TABLE = """
[[sensors]]
name = "artemis"
port = "/dev/ttyUSB0"
format = "csv"
terminator = "\\r\\n"
serial = { baudrate = 115200 }
parse = { header = true, columns = ["rtcDate", "rtcTime", "aX", "aY", "aZ", "gX", "gY", "gZ", "mX", "mY", "mZ", "imu_degC", "output_Hz"] }
channels = [
  { name = "acceleration_z_milli_g", field = "aZ" }, { name = "imu_temperature_celsius", field = "imu_degC" },
]
"""


def test_a_header_line_ended_with_the_delimiter_is_the_header_as_its_rows_are_rows() -> None:
    assert decode_stream(ARTEMIS_TABLE, ARTEMIS) == [
        [],  # the header
        [("acceleration_z_milli_g", 1012.7), ("imu_temperature_celsius", 24.65)],
    ]


# Tasmota with a Nova SDS011 on its serial log (the README reads that log's JSON): the sensor's
# values under keys that hold a point, as xsns_20_novasds.ino writes them,
# ",\"SDS0X1\":{\"PM2.5\":%s,\"PM10\":%s}", and a PMS5003's likewise ("CF2.5", "PM2.5",
# "PB0.3", xsns_18_pms5003.ino).
TASMOTA_SDS011 = (
    b"00:00:48.123 MQT: tele/tasmota_A1B2C3/SENSOR = "
    b'{"Time":"2024-03-01T12:00:48","SDS0X1":{"PM2.5":4.9,"PM10":8.5}}\r\n'
)
TASMOTA_TABLE = """
[[sensors]]
name = "tasmota"
port = "/dev/ttyUSB0"
format = "json"
serial = { baudrate = 115200 }
channels = [
  { name = "pm2_5_ug_m3", field = "SDS0X1.PM2.5" }, { name = "pm10_ug_m3", field = "SDS0X1.PM10" },
]
"""


def test_a_json_key_that_holds_a_point_is_found_by_its_path() -> None:
    assert decode_stream(TASMOTA_TABLE, TASMOTA_SDS011) == [
        [("pm2_5_ug_m3", 4.9), ("pm10_ug_m3", 8.5)]
    ]


# Sea-Bird SBE 37-SM MicroCAT (RS-232 manual, revision 041, OutputFormat=1): "All data is
# separated with a comma and at least one space", the manual's sample
# "24.8339,  0.97795,   -9.262, 07 Jan 2000, 04:51:39" (temperature, conductivity, pressure,
# date, time); the "S>" prompt it prints when it wakes, and a line a wake-up cut short.
SBE37 = (
    b"24.8339,  0.97795,   -9.262, 07 Jan 2000, 04:51:39\r\n"
    b"S>\r\n"
    b"24.8341,  0.97791,   -9.2\r\n"
    b"24.8343,  0.97788,   -9.257, 07 Jan 2000, 04:52:09\r\n"
)
SBE37_TABLE = """
[[sensors]]
name = "microcat"
port = "/dev/ttyUSB0"
format = "csv"
terminator = "\\r\\n"
parse = { columns = ["temperature", "conductivity", "pressure", "date", "time"], ignore = ['^S>$'] }
channels = [
  { name = "water_temperature_celsius", field = "temperature" },
  { name = "conductivity_s_per_m", field = "conductivity" }, { name = "pressure_dbar", field = "pressure" },
]
"""


def test_a_ctd_s_comma_and_spaces_separated_values_and_its_prompt() -> None:
    assert decode_stream(SBE37_TABLE, SBE37) == [
        [
            ("water_temperature_celsius", 24.8339),
            ("conductivity_s_per_m", 0.97795),
            ("pressure_dbar", -9.262),
        ],
        [],  # the prompt: ignored
        ("syntax", []),  # 3 of 5 cells
        [
            ("water_temperature_celsius", 24.8343),
            ("conductivity_s_per_m", 0.97788),
            ("pressure_dbar", -9.257),
        ],
    ]


# OpenEnergyMonitor emonTx V3 with its continuous monitoring firmware (openenergymonitor/
# EmonTxV3CM, src/EmonTxV3CM.ino, "Key:Value format, used by EmonESP & emonhub"): a line each
# datalog period, "MSG:", the message count, ",Vrms:" and the voltage, ",P1:" to ",P4:" the
# powers (W), ",E1:" to ",E4:" the energies (Wh), ",T1:" to ",T3:" the temperatures and
# ",pulse:" the pulse count, each float by Arduino's Serial.print (two decimals). A
# temperature sensor never detected (300.00) is left out of the line; 302 is a sensor that
# read outside -55..125 degC and 304 one that is gone or whose data failed its CRC (emontx-
# 3phase release 1.2.0, "DS18B20 Temp Error Codes"). Before its first line the firmware prints
# its settings, as an emonTx4's start-up shows them in the OpenEnergyMonitor community thread
# "EmonTx4 Configuration by Direct Serial - notes" (emonTx V4 CM V1.5.7).
EMONTX_CM = (
    b"emonTx V4 CM Continuous Monitoring V1.5.7\r\n"
    b"vCal = 807.86\r\n"
    b"RFM69CW  Freq: 433MHz Group: 210 Node: 17 \r\n"
    b"MSG:1,Vrms:240.00,P1:0,P2:0,P3:0,P4:0,E1:0,E2:0,E3:0,E4:0,T1:21.50,T2:302.00,pulse:0\r\n"
    b"MSG:2,Vrms:243.18,P1:1454,P2:-12,P3:0,P4:0,E1:4,E2:0,E3:0,E4:0,T1:304.00,pulse:1\r\n"
)
EMONTX_TABLE = """
[[sensors]]
name = "emontx"
port = "/dev/ttyUSB0"
format = "kv"
terminator = "\\r\\n"
serial = { baudrate = 115200 }
parse = { kv_separator = ":" }
channels = [
  { name = "voltage_v", field = "Vrms" }, { name = "power_1_w", field = "P1" },
  { name = "power_2_w", field = "P2" }, { name = "energy_1_wh", field = "E1" },
  { name = "temperature_1_celsius", field = "T1", not_available = [300, 302, 304] },
  { name = "pulses", field = "pulse" },
]
"""


def test_an_energy_monitor_s_pairs_and_its_temperature_error_codes() -> None:
    assert decode_stream(EMONTX_TABLE, EMONTX_CM) == [
        ("syntax", []),  # the firmware's name and settings: no pair
        ("syntax", []),
        [],  # a pair of no key configured: ignored
        [
            ("voltage_v", 240.0),
            ("power_1_w", 0.0),
            ("power_2_w", 0.0),
            ("energy_1_wh", 0.0),
            ("temperature_1_celsius", 21.5),
            ("pulses", 0.0),
        ],
        (
            "invalid",  # 304: the sensor is gone; the line's other values are read
            [
                ("voltage_v", 243.18),
                ("power_1_w", 1454.0),
                ("power_2_w", -12.0),
                ("energy_1_wh", 4.0),
                ("pulses", 1.0),
            ],
        ),
    ]


EMONTX_GOOD = b"MSG:7,Vrms:241.02,P1:96,P2:0,P3:0,P4:0,E1:9,E2:0,E3:0,E4:0,T1:21.62,pulse:3\r\n"
EMONTX_GOOD_READINGS = [
    ("voltage_v", 241.02),
    ("power_1_w", 96.0),
    ("power_2_w", 0.0),
    ("energy_1_wh", 9.0),
    ("temperature_1_celsius", 21.62),
    ("pulses", 3.0),
]


@pytest.mark.parametrize(
    "damaged",
    [
        # a ":" lost: Vrms would be left out of the line and nothing counted
        b"MSG:6,Vrms241.01,P1:95,P2:0,P3:0,P4:0,E1:9,E2:0,E3:0,E4:0,T1:21.62,pulse:3\r\n",
        b"MSG:6,Vrms:241.01,P195,P2:0,P3:0,P4:0,E1:9,E2:0,E3:0,E4:0,T1:21.62,pulse:3\r\n",
        # a "," lost: two pairs run into one
        b"MSG:6,Vrms:241.01P1:95,P2:0,P3:0,P4:0,E1:9,E2:0,E3:0,E4:0,T1:21.62,pulse:3\r\n",
        # cut short, and the rest of the line glued to the next one
        b"MSG:6,Vrms:241.01,P1:95,P2:0,P3:0,P4:0,E1:9,E2:0,E3:0,E4:0,T1:21.62,pulse:3MSG:7,"
        b"Vrms:241.02,P1:96,P2:0,P3:0,P4:0,E1:9,E2:0,E3:0,E4:0,T1:21.62,pulse:3\r\n",
        b"MSG:6,Vrms:241.01,P1:9MSG:7,Vrms:241.02,P1:96,P2:0,P3:0,P4:0,E1:9,E2:0,E3:0,E4:0,"
        b"T1:21.62,pulse:3\r\n",
    ],
)
def test_an_energy_monitor_s_damaged_line_is_rejected_and_its_neighbours_read(
    damaged: bytes,
) -> None:
    assert decode_stream(EMONTX_TABLE, EMONTX_GOOD + damaged + EMONTX_GOOD) == [
        EMONTX_GOOD_READINGS,
        ("syntax", []),
        EMONTX_GOOD_READINGS,
    ]


# The emonTx V3.4 discrete sampling firmware's serial output as an owner posted it (community
# thread "emonTx v3.4 rms voltage in USA, and raw Tx data units?", firmware V2.80): its
# settings, a header line, then "ct1:-307,ct2:-184,ct3:0,ct4:0,vrms:12249,pulse:0", the
# voltage in hundredths of a volt.
EMONTX_DS = (
    b"emonTx V3.4 Discrete Sampling V2.80\r\n"
    b"CT 1 Cal 90.90\r\n"
    b"CT1 CT2 CT3 CT4 VRMS/BATT PULSE \r\n"
    b"ct1:-307,ct2:-184,ct3:0,ct4:0,vrms:12249,pulse:0\r\n"
)
EMONTX_DS_TABLE = """
[[sensors]]
name = "emontx"
port = "/dev/ttyUSB0"
format = "kv"
terminator = "\\r\\n"
serial = { baudrate = 115200 }
parse = { kv_separator = ":" }
channels = [
  { name = "power_1_w", field = "ct1" }, { name = "power_2_w", field = "ct2" },
  { name = "voltage_v", field = "vrms", normalize = { scale = 0.01 } },
]
"""


def test_an_older_energy_monitor_s_pairs_are_read() -> None:
    assert decode_stream(EMONTX_DS_TABLE, EMONTX_DS) == [
        ("syntax", []),
        ("syntax", []),
        ("syntax", []),
        [("power_1_w", -307.0), ("power_2_w", -184.0), ("voltage_v", 12249.0)],
    ]


# A Campbell Scientific CR1000 logger's TOA5 table (ncasuk/ncas-aws-8-software, AWS-8.py, its
# "Example top few lines of DAT file"): the environment line, the quoted column names, their
# units (with "²") and processing, then a row a minute, the time stamp quoted and the values
# not. A value the logger could not measure is written "NAN" (LoggerNet manual, appendix B).
TOA5 = (
    '"TOA5","CR1000","CR1000","2923","CR1000.Std.26","CPU:YORK3.CR1","15302","Table1"\r\n'
    '"TIMESTAMP","RECORD","WS_ms_S_WVT","WindDir_D1_WVT","BP_mbar_Avg","AirTC_Avg","RH",'
    '"Slr_W_Avg","Slr_kJ_Tot"\r\n'
    '"TS","RN","meters/second","Deg","mbar","Deg C","%","W/m²","kJ/m²"\r\n'
    '"","","WVc","WVc","Avg","Avg","Smp","Avg","Tot"\r\n'
    '"2017-09-14 17:23:00",0,4.785,33.57,1014,26.73,77.77,440.5,77.09\r\n'
    '"2017-09-14 17:24:00",1,5.062,37.94,1014,26.81,"NAN",441.3,132.4\r\n'
    '"2017-09-14 17:25:00",2,4.412,43.33,1014,26.92,78.26,437.7,131.3\r\n'
)
TOA5_TABLE = """
[[sensors]]
name = "aws"
port = "/dev/ttyUSB0"
format = "csv"
terminator = "\\r\\n"
parse = { header = true, columns = ["TIMESTAMP", "RECORD", "WS_ms_S_WVT", "WindDir_D1_WVT", "BP_mbar_Avg", "AirTC_Avg", "RH", "Slr_W_Avg", "Slr_kJ_Tot"], ignore = ['^"TOA5",', '^"TS","RN",', '^"","",'] }
channels = [
  { name = "wind_speed_mps", field = "WS_ms_S_WVT" }, { name = "pressure_hpa", field = "BP_mbar_Avg" },
  { name = "air_temperature_celsius", field = "AirTC_Avg" }, { name = "humidity_percent", field = "RH" },
]
"""
TOA5_ROW_0 = [
    ("wind_speed_mps", 4.785),
    ("pressure_hpa", 1014.0),
    ("air_temperature_celsius", 26.73),
    ("humidity_percent", 77.77),
]
TOA5_ROW_2 = [
    ("wind_speed_mps", 4.412),
    ("pressure_hpa", 1014.0),
    ("air_temperature_celsius", 26.92),
    ("humidity_percent", 78.26),
]


@pytest.mark.parametrize("encoding", ["utf-8", "latin-1"])
def test_a_logger_s_toa5_table_is_read_with_its_header_lines_ignored(encoding: str) -> None:
    # the units line's "²" is one byte, B2, in a file the logger wrote in Latin-1: its
    # ignore regex holds whatever the byte, and the rows are ASCII
    outcomes = decode_stream(TOA5_TABLE, TOA5.encode(encoding))
    assert outcomes == [
        [],  # the environment line: ignored
        [],  # the header: the configured columns
        [],  # units and processing: ignored
        [],
        TOA5_ROW_0,
        (
            "nonfinite",  # "NAN": the humidity alone is dropped
            [
                ("wind_speed_mps", 5.062),
                ("pressure_hpa", 1014.0),
                ("air_temperature_celsius", 26.81),
            ],
        ),
        TOA5_ROW_2,
    ]


@pytest.mark.parametrize(
    "damaged",
    [
        b'"2017-09-14 17:24:00",1,5.062,37.94,1014,26.81,78.12441.3,132.4\r\n',  # a "," lost
        b'"2017-09-14 17:24:00,1,5.062,37.94,1014,26.81,78.12,441.3,132.4\r\n',  # a quote lost
        # cut short, the next row glued to it
        b'"2017-09-14 17:24:00",1,5.062,37.9"2017-09-14 17:25:00",2,4.412,43.33,1014,26.92,'
        b"78.26,437.7,131.3\r\n",
        b'"2017-09-14 17:24:00",1,5.062,37.94,1014,26.81,78.12,441.3,132.4"2017-09-14 17:25:00",'
        b"2,4.412,43.33,1014,26.92,78.26,437.7,131.3\r\n",
    ],
)
def test_a_logger_s_damaged_toa5_row_is_rejected_and_its_neighbours_read(damaged: bytes) -> None:
    rows = TOA5.encode().splitlines(keepends=True)
    stream = b"".join(rows[:5]) + damaged + rows[6]
    assert decode_stream(TOA5_TABLE, stream)[4:] == [TOA5_ROW_0, ("syntax", []), TOA5_ROW_2]


# Sensirion SCD30 CO2 sensor through SparkFun's library example (sparkfun/SparkFun_SCD30_
# Arduino_Library, examples/Example1_BasicReadings/Example1_BasicReadings.ino) at 9600 baud:
# "SCD30 Example" at start, then each second "co2(ppm):", the CO2, " temp(C):" and
# " humidity(%):" with a decimal each, or "No data" while the sensor (a reading every two
# seconds) has none; Serial.println ends the lines with CR LF. Half the lines are "No data":
# named in ignore, they are no frame errors.
SCD30 = b"SCD30 Example\r\nNo data\r\nco2(ppm):412 temp(C):24.3 humidity(%):41.8\r\nNo data\r\n"
SCD30_TABLE = """
[[sensors]]
name = "scd30"
port = "/dev/ttyACM0"
format = "kv"
terminator = "\\r\\n"
serial = { baudrate = 9600 }
parse = { pair_separator = " ", kv_separator = ":", ignore = ['^SCD30 Example$', '^No data$'] }
channels = [
  { name = "co2_ppm", field = "co2(ppm)" }, { name = "temperature_celsius", field = "temp(C)" },
  { name = "humidity_percent", field = "humidity(%)" },
]
"""
SCD30_GOOD = b"co2(ppm):415 temp(C):24.3 humidity(%):41.9\r\n"
SCD30_READINGS = [("co2_ppm", 415.0), ("temperature_celsius", 24.3), ("humidity_percent", 41.9)]


def test_a_co2_sketch_s_pairs_are_read_and_its_no_data_lines_ignored() -> None:
    assert decode_stream(SCD30_TABLE, SCD30) == [
        [],
        [],
        [("co2_ppm", 412.0), ("temperature_celsius", 24.3), ("humidity_percent", 41.8)],
        [],
    ]


@pytest.mark.parametrize(
    "damaged",
    [
        b"co2(ppm):415 temp(C)24.3 humidity(%):41.9\r\n",  # a ":" lost
        b"co2(ppm):415 temp(C):24.3humidity(%):41.9\r\n",  # a " " lost
        b"co2(ppm):415 temp(C):24.3 humidity(%):41." + SCD30_GOOD,  # cut short, glued
        b"co2(ppm):415 temp(C):24.3 humidity(%):41.9No data\r\n",  # a line end lost
    ],
)
def test_a_co2_sketch_s_damaged_line_is_rejected_and_its_neighbours_read(damaged: bytes) -> None:
    assert decode_stream(SCD30_TABLE, SCD30_GOOD + damaged + SCD30_GOOD) == [
        SCD30_READINGS,
        ("syntax", []),
        SCD30_READINGS,
    ]


@pytest.mark.parametrize(
    ("table", "lines", "separators"),
    [
        (EMONTX_TABLE, [EMONTX_GOOD.rstrip(), EMONTX_CM.splitlines()[-1]], (",", ":")),
        (SCD30_TABLE, [SCD30_GOOD.rstrip(), SCD30.splitlines()[2]], (" ", ":")),
    ],
    ids=["emontx", "scd30"],
)
def test_a_device_s_lines_run_together_are_rejected_when_they_show_it(
    table: str, lines: list[bytes], separators: tuple[str, str]
) -> None:
    """A device of one kind of line: the line that runs into the next holds its keys twice,
    wherever the joint falls, unless both halves were cut at the same pair."""
    assert_run_together_lines_read_safely(table, lines, separators)


# Atlas Scientific EZO-HUM humidity circuit with its temperature and dew point outputs on: the
# reading is humidity, temperature, the word "Dew" and the dew point (Atlas-Scientific/
# Ezo_I2c_lib, Examples/I2c_lib_examples/humidity_parsing/humidity_parsing.ino: "the sensor
# outputs the word "DEW" in the string"); in UART mode each line ends in CR, and the circuit
# tells of a reset (*RS, *RE) and answers commands (*OK, *ER), as the other EZO circuits do.
EZO_HUM = (
    b"*RS\r*RE\r"
    b"45.97,24.66,Dew,12.17\r"
    b"*OK\r"
    b"46.01,24.66,Dew,12.19\r"
    b"*ER\r"  # a command refused: counted
    b"46.05,24.67\r"  # O,Dew,0: the dew point switched off, a row of another layout
    b"46.03,24.67,Dew,12.20\r"
)
EZO_HUM_TABLE = """
[[sensors]]
name = "air"
port = "/dev/serial/by-id/usb-FTDI_FT231X_USB_UART_DN05XYZ2-if00-port0"
format = "csv"
terminator = "\\r"
parse = { columns = ["humidity", "temperature", "dew_label", "dew_point"], ignore = ['^\\*(OK|RS|RE|SL|WA|DONE)$'] }
channels = [
  { name = "humidity_percent", field = "humidity" }, { name = "temperature_celsius", field = "temperature" },
  { name = "dew_point_celsius", field = "dew_point" },
]
"""


def ezo_hum(humidity: float, temperature: float, dew_point: float) -> list[tuple[str, float]]:
    return [
        ("humidity_percent", humidity),
        ("temperature_celsius", temperature),
        ("dew_point_celsius", dew_point),
    ]


def test_a_humidity_circuit_s_word_before_its_dew_point_is_a_column() -> None:
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text()
    assert EZO_HUM_TABLE.strip() in readme
    assert decode_stream(EZO_HUM_TABLE, EZO_HUM) == [
        [],
        [],
        ezo_hum(45.97, 24.66, 12.17),
        [],
        ezo_hum(46.01, 24.66, 12.19),
        ("syntax", []),
        ("syntax", []),
        ezo_hum(46.03, 24.67, 12.2),
    ]


@pytest.mark.parametrize(
    "damaged",
    [
        b"46.0124.66,Dew,12.19\r",  # a "," lost
        b"46.01,24.6646.02,24.66,Dew,12.19\r",  # cut short, glued to the next
        b"46.01,24.66,Dew,12.1946.02,24.66,Dew,12.19\r",  # a CR lost
    ],
)
def test_a_humidity_circuit_s_damaged_row_is_rejected_and_its_neighbours_read(
    damaged: bytes,
) -> None:
    good = b"46.03,24.67,Dew,12.20\r"
    assert decode_stream(EZO_HUM_TABLE, good + damaged + good) == [
        ezo_hum(46.03, 24.67, 12.2),
        ("syntax", []),
        ezo_hum(46.03, 24.67, 12.2),
    ]


# Tasmota's serial log on a Sonoff with a DHT11, as an owner posted it (arendst/Tasmota issue
# 4202, "DHT11 in home assistant"): each TelePeriod a STATE message (uptime, supply, Wi-Fi)
# and a SENSOR message, each after the time and the topic, and a line of the console's own.
TASMOTA_DHT11 = (
    b"07:17:22 MQT: kidsbedmain/SENSOR = "
    b'{"Time":"2018-10-29T07:17:22","DHT11":{"Temperature":24.0,"Humidity":41.0},"TempUnit":"C"}'
    b"\r\n"
    b"07:17:32 MQT: kidsbedmain/STATE = "
    b'{"Time":"2018-10-29T07:17:32","Uptime":"0T00:09:34","Vcc":3.143,"POWER":"OFF",'
    b'"Wifi":{"AP":1,"SSId":"TazSpace","RSSI":98,"APMac":"FC:EC:DA:38:8F:04"}}\r\n'
    b"07:17:32 MQT: kidsbedmain/SENSOR = "
    b'{"Time":"2018-10-29T07:17:32","DHT11":{"Temperature":24.1,"Humidity":41.0},"TempUnit":"C"}'
    b"\r\n"
    b"07:17:58 APP: Serial logging disabled\r\n"
)
TASMOTA_DHT11_TABLE = """
[[sensors]]
name = "tasmota"
port = "/dev/ttyUSB0"
format = "json"
serial = { baudrate = 115200 }
channels = [
  { name = "temperature_celsius", field = "DHT11.Temperature" },
  { name = "humidity_percent", field = "DHT11.Humidity" },
]
"""


def test_a_console_s_other_json_messages_are_no_frame_errors() -> None:
    assert decode_stream(TASMOTA_DHT11_TABLE, TASMOTA_DHT11) == [
        [("temperature_celsius", 24.0), ("humidity_percent", 41.0)],
        [],  # STATE: an object of none of the channels' paths, another message
        [("temperature_celsius", 24.1), ("humidity_percent", 41.0)],
        ("syntax", []),  # no JSON at all
    ]


def test_a_console_s_lines_joined_by_a_line_end_that_lost_its_lf_give_no_wrong_reading() -> None:
    """Each line of the console run into the next by its CR LF that lost the LF (one that
    lost the CR still ends the line: the terminator is LF): two objects with a CR between
    them are no JSON (``syntax``, the next SENSOR line read); the console's own line run into
    a SENSOR line is text before that object, which is read whole as it was sent."""
    lines = TASMOTA_DHT11.splitlines()
    sensor = decode_stream(TASMOTA_DHT11_TABLE, lines[0] + b"\r\n")
    outcomes = [
        decode_stream(TASMOTA_DHT11_TABLE, first + b"\r" + second + b"\r\n" + lines[0] + b"\r\n")
        for first, second in itertools.pairwise([*lines, lines[0]])
    ]
    assert outcomes == [
        [("syntax", []), *sensor],  # SENSOR, STATE
        [("syntax", []), *sensor],  # STATE, SENSOR
        [("syntax", []), *sensor],  # SENSOR, the console's line
        [*sensor, *sensor],  # the console's line, SENSOR: its object whole
    ]


def test_a_console_s_other_json_messages_alone_are_pointed_at() -> None:
    sensor = parse_config(TASMOTA_DHT11_TABLE).sensors[0]
    spec = sensor.format_spec()
    counts = DecoderCounts()
    decode = codec_for(spec.format).sensor_decoder(spec, lambda: 0.0, counts)
    state = TASMOTA_DHT11.splitlines()[1]
    assert decode(state) == []
    assert (counts.unread, counts.unread_frame) == (1, state)


def tasmota_dht22_on(port: str) -> SensorConfig:
    """The README's Tasmota sensor with its channels on a DHT22's paths, reading a console
    whose sensor is a DHT11: no object holds a path a channel reads."""
    table = TASMOTA_DHT11_TABLE.replace("DHT11.", "DHT22.").replace('"/dev/ttyUSB0"', f'"{port}"')
    return parse_config(table.replace("[[sensors]]", "[[sensors]]\nstale_after_s = 5")).sensors[0]


def test_a_console_whose_objects_hold_no_channel_s_path_is_pointed_at() -> None:
    sensor_and_state = b"".join(TASMOTA_DHT11.splitlines(keepends=True)[:2])
    hint = hint_after_repeats(tasmota_dht22_on, sensor_and_state)
    assert hint is not None
    assert hint.startswith("frames come, but none holds a key a channel reads ("), hint
    assert "the last: '07:17:32 MQT: kidsbedmain/STATE = " in hint, hint


@pytest.mark.slow
def test_a_console_s_other_json_messages_on_a_pty_through_the_daemon(
    pty_pair: PtyPair, start_daemon: StartDaemon
) -> None:
    table = TASMOTA_DHT11_TABLE.replace('"/dev/ttyUSB0"', f'"{pty_pair.path}"')
    daemon = start_daemon(config=table.replace("[[sensors]]", '[[sensors]]\nsimulate = "never"'))
    daemon.wait_http()
    daemon.wait_up_settled(["tasmota"], timeout_s=10)
    pty_pair.write(TASMOTA_DHT11)
    daemon.wait_frames({"tasmota": 4})
    samples = daemon.scrape()
    assert samples.value("sensord_frames_ignored_total", sensor="tasmota") == 1  # STATE
    assert (
        samples.value("sensord_reading_value", sensor="tasmota", channel="temperature_celsius")
        == 24.1
    )
    status = daemon.status()["sensors"]["tasmota"]
    errors = {reason: n for reason, n in status["parse_errors"].items() if n}
    assert errors == {"syntax": 1}  # the console's own line
    assert daemon.alive()


@pytest.mark.slow
def test_an_energy_monitor_s_lost_separator_on_a_pty_through_the_daemon(
    pty_pair: PtyPair, start_daemon: StartDaemon
) -> None:
    table = EMONTX_TABLE.replace('"/dev/ttyUSB0"', f'"{pty_pair.path}"')
    daemon = start_daemon(config=table.replace("[[sensors]]", '[[sensors]]\nsimulate = "never"'))
    daemon.wait_http()
    daemon.wait_up_settled(["emontx"], timeout_s=10)
    damaged = b"MSG:6,Vrms241.01,P1:95,P2:0,P3:0,P4:0,E1:9,E2:0,E3:0,E4:0,T1:21.62,pulse:3"
    pty_pair.write(EMONTX_GOOD + damaged + b"\r\n" + EMONTX_GOOD)
    daemon.wait_frames({"emontx": 3})
    status = daemon.status()["sensors"]["emontx"]
    errors = {reason: n for reason, n in status["parse_errors"].items() if n}
    assert errors == {"syntax": 1}
    assert status["channels"]["voltage_v"]["window"]["count"] == 2
    assert status["channels"]["power_1_w"]["window"]["count"] == 2  # not 3: the line is out

    def rejected() -> list[str]:
        return [
            r["frame"]
            for r in daemon.log_records()
            if r.get("sensor") == "emontx" and r.get("msg") == "frame rejected"
        ]

    wait_for(lambda: bool(rejected()), 5, "the damaged line's rejection")
    assert rejected() == [damaged.decode()]
    assert daemon.alive()


# A Gill MaxiMet GMX501 in its full ASCII output, three messages as a weather buoy's receiver
# logged them (flyinggorilla/weatherbuoy, testreceiver, its "GMX501 Full data" comment, with the
# station's REPORT and UNITS lines): STX, 38 comma-separated values (a comma after the last),
# ETX and the XOR of the bytes between them; empty cells for the values the station does not
# compute (WCHILL, HEATIDX, USERINF), times and a sun position ("325:-33") among the numbers.
GMX501_COLUMNS = [
    "NODE",
    "DIR",
    "SPEED",
    "CDIR",
    "AVGDIR",
    "AVGSPEED",
    "GDIR",
    "GSPEED",
    "AVGCDIR",
    "WINDSTAT",
    "PRESS",
    "PASL",
    "PSTN",
    "RH",
    "TEMP",
    "DEWPOINT",
    "AH",
    "COMPASSH",
    "SOLARRAD",
    "SOLARHOURS",
    "WCHILL",
    "HEATIDX",
    "AIRDENS",
    "WBTEMP",
    "SUNR",
    "SNOON",
    "SUNS",
    "SUNP",
    "TWIC",
    "TWIN",
    "TWIA",
    "XTILT",
    "YTILT",
    "ZORIENT",
    "USERINF",
    "TIME",
    "VOLT",
    "STATUS",
    "CHECK",
]
GMX501 = [
    b"\x02Q,168,000.02,213,000,000.00,053,000.05,000,0000,0991.1,1046.2,0991.4,035,+023.2,"
    b"+007.1,07.42,045,0000,00.00,,,1.2,+014.2,04:55,11:11,17:27,325:-33,04:22,03:45,03:06,-34,"
    b"+55,+1,,2021-03-27T21:19:31.7,+04.6,0000,\x030F\r\n",
    b"\x02Q,160,000.02,205,000,000.00,053,000.05,000,0000,0991.0,1046.1,0991.3,035,+023.2,"
    b"+007.1,07.40,045,0000,00.00,,,1.2,+014.2,04:55,11:11,17:27,325:-33,04:22,03:45,03:06,-34,"
    b"+55,+1,,2021-03-27T21:19:32.7,+04.6,0000,\x0304\r\n",
    b"\x02Q,156,000.02,201,000,000.00,053,000.05,000,0000,0991.0,1046.1,0991.3,035,+023.2,"
    b"+007.0,07.38,045,0000,00.00,,,1.2,+014.2,04:55,11:11,17:27,325:-33,04:22,03:45,03:06,-34,"
    b"+55,+1,,2021-03-27T21:19:33.7,+04.6,0000,\x030A\r\n",
]
GMX501_TABLE = f"""
[[sensors]]
name = "maximet"
port = "/dev/ttyUSB0"
format = "csv"
serial = {{ baudrate = 19200 }}
parse = {{ block = "gill", columns = [{", ".join(f'"{c}"' for c in GMX501_COLUMNS)}] }}
channels = [
  {{ name = "wind_speed_mps", field = "SPEED" }}, {{ name = "wind_direction_deg", field = "CDIR" }},
  {{ name = "pressure_hpa", field = "PASL" }}, {{ name = "humidity_percent", field = "RH" }},
  {{ name = "air_temperature_celsius", field = "TEMP" }}, {{ name = "supply_volts", field = "VOLT" }},
]
"""


def gmx501(direction: float, pressure: float) -> list[tuple[str, float]]:
    return [
        ("wind_speed_mps", 0.02),
        ("wind_direction_deg", direction),
        ("pressure_hpa", pressure),
        ("humidity_percent", 35.0),
        ("air_temperature_celsius", 23.2),
        ("supply_volts", 4.6),
    ]


def test_a_weather_station_s_checked_csv_messages_are_read_by_their_columns() -> None:
    assert decode_stream(GMX501_TABLE, b"".join(GMX501)) == [
        gmx501(213.0, 1046.2),
        gmx501(205.0, 1046.1),
        gmx501(201.0, 1046.1),
    ]


@pytest.mark.parametrize(
    ("damaged", "why"),
    [
        (GMX501[1].replace(b"0991.0,", b"0991.0", 1), "checksum"),  # a "," lost
        (GMX501[1].replace(b"1046.1", b"1047.1", 1), "checksum"),  # a bit changed
        (GMX501[1][:60], "truncated"),  # cut short by the next message's STX
    ],
)
def test_a_weather_station_s_damaged_message_is_rejected_and_its_neighbours_read(
    damaged: bytes, why: str
) -> None:
    sensor = parse_config(GMX501_TABLE).sensors[0]
    spec = sensor.format_spec()
    framer = codec_for(spec.format).framer(spec, sensor.terminator, sensor.max_frame_bytes)
    decode = codec_for(spec.format).decoder(spec)
    lines = framer.feed(GMX501[0] + damaged + GMX501[2])
    assert [decode(line) for line in lines] == [gmx501(213.0, 1046.2), gmx501(201.0, 1046.1)]
    assert {reason: n for reason, n in framer.rejected.items() if n} == {why: 1}
