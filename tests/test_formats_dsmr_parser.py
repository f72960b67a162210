"""``format = "dsmr"`` on every telegram ndokter/dsmr_parser tests with (the telegrams and their
origin are in :mod:`harness.dsmr_parser_telegrams`): each code a user would chart reads the
value dsmr_parser's tests expect of it (test/test_parse_v2_2.py, test_parse_v3.py,
test_parse_v4_2.py, test_parse_v5.py, test_parse_v5_eso_*.py, test_parse_fluvius.py,
test_parse_iskra_ie.py, test_parse_v5_eon_hungary.py, test_parse_msn.py: the number as the
meter writes it), in the units sensord documents (a meter's Wh and W in kWh and kW, as
``sensord.formats.dsmr`` says); a code whose value is text is refused at ``check``, naming the
key; and no telegram, which the meter sent whole, is counted as damaged.

Where sensord reads otherwise than dsmr_parser, it says so here: dsmr_parser reads EasyMeter's
status word ``1-0:96.5.5*255(80)`` as the text "80" (its obis_references.py calls it "Device
state (hexadecimal)"), sensord as the byte 0x80, 128; dsmr_parser keeps the firmware's version
``1-0:0.2.0(02.21)`` as text, as sensord does by refusing a channel on it; a Belgian meter's
peaks of 13 months, ``0-0:98.1.0``, are a list in dsmr_parser and the latest month's peak in
sensord; a line of a time stamp and a number (a gas reading) is the number in both. The
Iskra IE5 telegram of dsmr_parser has a byte 0x02 in its header where the meter sends a
backslash and ``2`` (a Python escape in its test file): both forms are read here.
"""

from __future__ import annotations

import re

import pytest
from harness.dsmr_parser_telegrams import (
    ESO_MAX_3PH,
    ESY5Q3DA1004,
    ISKRA_IE,
    ISKRA_IE_AS_SENT,
    TELEGRAMS,
    UNPADDED_CRC,
    V5_TWO_MBUS,
)
from structlog.testing import capture_logs
from test_blocks import take
from test_formats_blocks import counts, crc16_arc, latest, runtime
from test_formats_dsmr import meter

from sensord.config import Config
from sensord.formats import codec_for
from sensord.formats.base import FormatSpec
from sensord.formats.blocks import BlockFramer

#: For each telegram, the value of each code a user would chart: dsmr_parser's expectation
#: (the number the line holds; in kWh and kW where the meter writes Wh and W; of a line of
#: entries, its latest, as ``sensord.formats.dsmr`` reads it). The time stamp ``0-0:1.0.0``
#: is no value to chart, and the codes of :data:`TEXT` are refused.
EXPECTED: dict[str, dict[str, float]] = {
    "v2_2": {
        "1-0:1.8.1": 1.001,
        "1-0:1.8.2": 1.001,
        "1-0:2.8.1": 1.001,
        "1-0:2.8.2": 1.001,
        "0-0:96.14.0": 1.0,
        "1-0:1.7.0": 1.01,
        "1-0:2.7.0": 0.0,
        "0-0:17.0.0": 999.0,
        "0-0:96.3.10": 1.0,
        "0-1:24.1.0": 3.0,
        "0-1:24.4.0": 1.0,
        "0-1:24.3.0": 1.001,  # on the line after the code's
    },
    "v3": {
        "1-0:1.8.1": 12345.678,
        "1-0:1.8.2": 12345.678,
        "1-0:2.8.1": 12345.678,
        "1-0:2.8.2": 12345.678,
        "0-0:96.14.0": 2.0,
        "1-0:1.7.0": 1.19,
        "1-0:2.7.0": 0.0,
        "0-0:17.0.0": 16.0,
        "0-0:96.3.10": 1.0,
        "0-1:24.1.0": 3.0,
        "0-1:24.4.0": 1.0,
        "0-1:24.3.0": 1.001,  # on the line after the code's
    },
    "v4_2": {
        "1-3:0.2.8": 42.0,
        "1-0:1.8.1": 1581.123,
        "1-0:1.8.2": 1435.706,
        "1-0:2.8.1": 0.0,
        "1-0:2.8.2": 0.0,
        "0-0:96.14.0": 2.0,
        "1-0:1.7.0": 2.027,
        "1-0:2.7.0": 0.0,
        "0-0:96.7.21": 15.0,
        "0-0:96.7.9": 7.0,
        "1-0:32.32.0": 0.0,
        "1-0:52.32.0": 0.0,
        "1-0:72.32.0": 0.0,
        "1-0:32.36.0": 0.0,
        "1-0:52.36.0": 0.0,
        "1-0:72.36.0": 0.0,
        "1-0:31.7.0": 0.0,
        "1-0:51.7.0": 6.0,
        "1-0:71.7.0": 2.0,
        "1-0:21.7.0": 0.17,
        "1-0:22.7.0": 0.0,
        "1-0:41.7.0": 1.247,
        "1-0:42.7.0": 0.0,
        "1-0:61.7.0": 0.209,
        "1-0:62.7.0": 0.0,
        "0-1:24.1.0": 3.0,
        "1-0:99.97.0": 237126.0,  # the latest failure, of 4 January 2000
        "0-1:24.2.1": 981.443,
    },
    "v5": {
        "1-3:0.2.8": 50.0,
        "1-0:1.8.1": 4.426,
        "1-0:1.8.2": 2.399,
        "1-0:2.8.1": 2.444,
        "1-0:2.8.2": 0.0,
        "0-0:96.14.0": 2.0,
        "1-0:1.7.0": 0.244,
        "1-0:2.7.0": 0.0,
        "0-0:96.7.21": 13.0,
        "0-0:96.7.9": 0.0,
        "1-0:32.32.0": 0.0,
        "1-0:52.32.0": 0.0,
        "1-0:72.32.0": 0.0,
        "1-0:32.36.0": 0.0,
        "1-0:52.36.0": 0.0,
        "1-0:72.36.0": 0.0,
        "1-0:32.7.0": 230.0,
        "1-0:52.7.0": 230.0,
        "1-0:72.7.0": 229.0,
        "1-0:31.7.0": 0.48,
        "1-0:51.7.0": 0.44,
        "1-0:71.7.0": 0.86,
        "1-0:21.7.0": 0.07,
        "1-0:41.7.0": 0.032,
        "1-0:61.7.0": 0.142,
        "1-0:22.7.0": 0.0,
        "1-0:42.7.0": 0.0,
        "1-0:62.7.0": 0.0,
        "0-1:24.1.0": 3.0,
        "0-2:24.1.0": 3.0,
        "0-1:24.2.1": 0.107,
    },
    "eso_max_1ph": {
        "1-0:1.8.0": 721.825,
        "1-0:1.8.1": 398.656,
        "1-0:1.8.2": 323.169,
        "1-0:1.8.3": 0.0,
        "1-0:1.8.4": 0.0,
        "1-0:2.8.0": 0.0,
        "1-0:3.8.0": 8.947,
        "1-0:4.8.0": 267.426,
        "1-0:21.7.0": 0.221,
        "1-0:22.7.0": 0.0,
        "1-0:23.7.0": 0.0,
        "1-0:24.7.0": 0.07,
        "1-0:32.7.0": 230.5,
        "1-0:31.7.0": 1.0,
        "1-0:14.7.0": 50.0,
        "1-0:13.7.0": 0.83,
        "1-0:33.7.0": 0.83,
        "0-0:96.7.21": 10.0,
        "1-0:32.32.0": 3.0,
        "1-0:32.36.0": 0.0,
    },
    "eso_max_3ph": {
        "1-0:1.8.0": 7926.0,
        "1-0:1.8.1": 7926.0,
        "1-0:1.8.2": 0.0,
        "1-0:1.8.3": 0.0,
        "1-0:1.8.4": 0.0,
        "1-0:2.8.0": 20183.68,
        "1-0:2.8.1": 20183.68,
        "1-0:2.8.2": 0.0,
        "1-0:2.8.3": 0.0,
        "1-0:2.8.4": 0.0,
        "1-0:3.8.0": 11688.602,
        "1-0:3.8.1": 11688.602,
        "1-0:3.8.2": 0.0,
        "1-0:3.8.3": 0.0,
        "1-0:3.8.4": 0.0,
        "1-0:4.8.0": 1050.043,
        "1-0:4.8.1": 1050.043,
        "1-0:4.8.2": 0.0,
        "1-0:4.8.3": 0.0,
        "1-0:4.8.4": 0.0,
        "1-0:1.7.0": 0.145,
        "1-0:2.7.0": 0.0,
        "1-0:3.7.0": 0.0,
        "1-0:4.7.0": 0.061,
        "1-0:21.7.0": 0.0,
        "1-0:41.7.0": 0.0,
        "1-0:61.7.0": 1.259,
        "1-0:22.7.0": 0.273,
        "1-0:42.7.0": 0.382,
        "1-0:62.7.0": 0.0,
        "1-0:23.7.0": 0.085,
        "1-0:43.7.0": 0.0,
        "1-0:63.7.0": 0.156,
        "1-0:24.7.0": 0.0,
        "1-0:44.7.0": 0.032,
        "1-0:64.7.0": 0.0,
        "1-0:32.7.0": 243.0,
        "1-0:32.24.0": 243.0,
        "1-0:31.7.0": 1.0,
        "1-0:52.7.0": 243.4,
        "1-0:52.24.0": 242.7,
        "1-0:51.7.0": 1.0,
        "1-0:72.7.0": 236.2,
        "1-0:72.24.0": 237.8,
        "1-0:71.7.0": 5.0,
        "1-0:12.7.0": 243.4,
        "1-0:11.7.0": 5.0,
        "1-0:91.7.0": 0.0,
        "1-0:90.7.0": 8.0,
        "1-0:14.7.0": 49.0,
        "1-0:15.7.0": 1.915,
        "1-0:9.7.0": 1.27,
        "1-0:29.7.0": 0.0,
        "1-0:49.7.0": 0.0,
        "1-0:69.7.0": 1.27,
        "1-0:10.7.0": 0.683,
        "1-0:30.7.0": 0.294,
        "1-0:50.7.0": 0.388,
        "1-0:70.7.0": 0.0,
        "1-0:1.24.0": 0.331,
        "1-0:16.24.0": 1.068,
        "1-0:15.24.0": 1.075,
        "1-0:13.7.0": 0.945,
        "1-0:33.7.0": -0.926,
        "1-0:53.7.0": -0.984,
        "1-0:73.7.0": 0.991,
        "1-0:13.3.0": 0.0,
        "1-0:0.8.2": 900.0,
        "1-0:1.4.0": 0.337,
        "1-0:2.4.0": 0.794,
        "1-0:3.4.0": 0.439,
        "1-0:4.4.0": 0.012,
        "1-0:9.4.0": 0.352,
        "1-0:10.4.0": 0.948,
        "0-0:96.7.21": 285.0,
        "1-0:32.33.0": 736.0,
        "1-0:52.33.0": 734.0,
        "1-0:72.33.0": 736.0,
        "1-0:32.34.0": 0.0,
        "1-0:52.34.0": 0.0,
        "1-0:72.34.0": 0.0,
        "1-0:32.37.0": 284.0,
        "1-0:52.37.0": 347.0,
        "1-0:72.37.0": 327.0,
        "1-0:32.38.0": 256.0,
        "1-0:52.38.0": 256.0,
        "1-0:72.38.0": 256.0,
        "1-0:32.32.0": 45.0,
        "1-0:52.32.0": 49.0,
        "1-0:72.32.0": 46.0,
        "1-0:32.36.0": 75.0,
        "1-0:52.36.0": 141.0,
        "1-0:72.36.0": 78.0,
    },
    "eso_extended_1ph": {
        "1-0:1.8.0": 755.487,
        "1-0:1.8.1": 412.878,
        "1-0:1.8.2": 342.609,
        "1-0:1.8.3": 0.0,
        "1-0:1.8.4": 0.0,
        "1-0:2.8.0": 0.0,
        "1-0:3.8.0": 9.344,
        "1-0:4.8.0": 280.264,
        "1-0:1.7.0": 0.145,
        "1-0:2.7.0": 0.0,
        "1-0:3.7.0": 0.0,
        "1-0:4.7.0": 0.061,
        "1-0:21.7.0": 0.145,
        "1-0:22.7.0": 0.0,
        "1-0:23.7.0": 0.0,
        "1-0:24.7.0": 0.061,
        "1-0:32.7.0": 223.2,
        "1-0:31.7.0": 1.0,
        "1-0:14.7.0": 50.0,
        "1-0:13.7.0": 0.616,
        "1-0:33.7.0": 0.616,
        "0-0:96.7.21": 10.0,
        "1-0:32.32.0": 3.0,
        "1-0:32.36.0": 0.0,
    },
    "v5_two_mbus": {
        "1-3:0.2.8": 50.0,
        "1-0:1.8.1": 2130.115,
        "1-0:1.8.2": 245.467,
        "1-0:2.8.1": 0.0,
        "1-0:2.8.2": 0.0,
        "0-0:96.14.0": 1.0,
        "1-0:1.7.0": 0.111,
        "1-0:2.7.0": 0.0,
        "0-0:96.7.21": 5.0,
        "0-0:96.7.9": 3.0,
        "1-0:32.32.0": 1.0,
        "1-0:52.32.0": 1.0,
        "1-0:72.32.0": 192.0,
        "1-0:32.36.0": 1.0,
        "1-0:52.36.0": 1.0,
        "1-0:72.36.0": 1.0,
        "1-0:32.7.0": 229.9,
        "1-0:52.7.0": 229.2,
        "1-0:72.7.0": 222.9,
        "1-0:31.7.0": 0.0,
        "1-0:51.7.0": 0.0,
        "1-0:71.7.0": 1.0,
        "1-0:21.7.0": 0.056,
        "1-0:41.7.0": 0.0,
        "1-0:61.7.0": 0.055,
        "1-0:22.7.0": 0.0,
        "1-0:42.7.0": 0.0,
        "1-0:62.7.0": 0.0,
        "0-1:24.1.0": 3.0,
        "0-2:24.1.0": 3.0,
        "1-0:99.97.0": 2014.0,
        "0-2:24.2.1": 246.138,
    },
    "unpadded_crc": {
        "1-3:0.2.8": 50.0,
        "0-1:24.1.0": 4.0,
        "0-1:24.2.1": 240.86,  # GJ, a heat meter's
    },
    "fluvius_v171": {
        "0-0:96.1.4": 50217.0,
        "1-0:1.8.1": 0.034,
        "1-0:1.8.2": 15.758,
        "1-0:2.8.1": 0.0,
        "1-0:2.8.2": 0.011,
        "1-0:1.4.0": 2.351,
        "0-0:96.14.0": 1.0,
        "1-0:1.7.0": 0.0,
        "1-0:2.7.0": 0.0,
        "1-0:21.7.0": 0.0,
        "1-0:41.7.0": 0.0,
        "1-0:61.7.0": 0.0,
        "1-0:22.7.0": 0.0,
        "1-0:42.7.0": 0.0,
        "1-0:62.7.0": 0.0,
        "1-0:32.7.0": 234.7,
        "1-0:52.7.0": 234.7,
        "1-0:72.7.0": 234.7,
        "1-0:31.7.0": 0.0,
        "1-0:51.7.0": 0.0,
        "1-0:71.7.0": 0.0,
        "0-0:96.3.10": 1.0,
        "0-0:17.0.0": 999.9,
        "1-0:31.4.0": 999.0,
        "0-1:24.1.0": 3.0,
        "0-1:24.4.0": 1.0,
        "0-2:24.1.0": 7.0,
        "1-0:1.6.0": 2.589,
        "0-0:98.1.0": 3.695,  # the latest month's (May 2020) peak
        "0-1:24.2.3": 112.384,
        "0-2:24.2.1": 872.234,
    },
    "fluvius_v171_alt": {
        "0-0:96.1.4": 50217.0,
        "1-0:1.8.1": 301.548,
        "1-0:1.8.2": 270.014,
        "1-0:2.8.1": 0.005,
        "1-0:2.8.2": 0.0,
        "0-0:96.14.0": 1.0,
        "1-0:1.4.0": 0.052,
        "1-0:1.7.0": 0.338,
        "1-0:2.7.0": 0.0,
        "1-0:21.7.0": 0.047,
        "1-0:41.7.0": 0.179,
        "1-0:61.7.0": 0.111,
        "1-0:22.7.0": 0.0,
        "1-0:42.7.0": 0.0,
        "1-0:62.7.0": 0.0,
        "1-0:32.7.0": 232.9,
        "1-0:52.7.0": 228.1,
        "1-0:72.7.0": 228.1,
        "1-0:31.7.0": 0.27,
        "1-0:51.7.0": 0.88,
        "1-0:71.7.0": 0.52,
        "0-0:96.3.10": 1.0,
        "0-0:17.0.0": 999.9,
        "1-0:31.4.0": 999.0,
        "0-1:24.1.0": 3.0,
        "0-1:24.4.0": 1.0,
        "0-2:24.1.0": 7.0,
        "1-0:1.6.0": 3.064,
        "0-0:98.1.0": 4.927,  # the latest month's (November 2023) peak
        "0-1:24.2.3": 92.287,
        "0-2:24.2.1": 8.579,
    },
    "esy5q3db1024": {
        "1-0:1.8.0*255": 52185.7825309,
        "1-0:2.8.0*255": 19949.3221493,
        "1-0:21.7.0*255": 0.74785,
        "1-0:41.7.0*255": 0.73728,
        "1-0:61.7.0*255": 0.63973,
        "1-0:1.7.0*255": 2.12486,
        "1-0:96.5.5*255": 128.0,  # (80): hex digits, 0x80
    },
    "esy5q3da1004": {
        "1-0:1.8.0*255": 32549.5061662,
        "1-0:21.7.0*255": 0.55729,
        "1-0:41.7.0*255": 0.52162,
        "1-0:61.7.0*255": 0.6093,
        "1-0:1.7.0*255": 1.68821,
        "1-0:96.5.5*255": 128.0,  # (80): hex digits, 0x80
    },
    "sagemcom_t210_d_r": {
        "1-3:0.2.8": 50.0,
        "1-0:1.8.0": 6545.766,
        "1-0:1.8.1": 5017.12,
        "1-0:1.8.2": 1528.646,
        "1-0:1.7.0": 0.286,
        "1-0:2.8.0": 0.058,
        "1-0:2.8.1": 0.0,
        "1-0:2.8.2": 0.058,
        "1-0:2.7.0": 0.0,
        "1-0:3.8.0": 0.747,
        "1-0:3.8.1": 0.0,
        "1-0:3.8.2": 0.747,
        "1-0:3.7.0": 0.0,
        "1-0:4.8.0": 3897.726,
        "1-0:4.8.1": 2692.848,
        "1-0:4.8.2": 1204.878,
        "1-0:4.7.0": 0.166,
    },
    "iskra_ie": {
        "1-0:1.8.1": 10.181,
        "1-0:1.8.2": 10.182,
        "1-0:2.8.1": 10.281,
        "1-0:2.8.2": 10.282,
        "0-0:96.14.0": 1.0,
        "1-0:1.7.0": 0.17,
        "1-0:2.7.0": 0.27,
        "1-0:21.7.0": 0.217,
        "1-0:41.7.0": 0.417,
        "1-0:61.7.0": 0.617,
        "1-0:22.7.0": 0.227,
        "1-0:42.7.0": 0.427,
        "1-0:62.7.0": 0.627,
        "1-0:32.7.0": 242.5,
        "1-0:52.7.0": 241.7,
        "1-0:72.7.0": 243.3,
        "1-0:31.7.0": 0.0,
        "1-0:51.7.0": 0.0,
        "1-0:71.7.0": 0.0,
        "0-0:96.3.10": 1.0,
    },
    "luxembourg_smarty": {
        "1-3:0.2.8": 42.0,
        "1-0:1.8.0": 273.764,
        "1-0:2.8.0": 112743.03,
        "1-0:3.8.0": 462.59,
        "1-0:4.8.0": 7109.23,
        "1-0:1.7.0": 0.0,
        "1-0:2.7.0": 0.897,
        "1-0:3.7.0": 0.0,
        "1-0:4.7.0": 0.154,
        "0-0:17.0.0": 27.6,
        "1-0:9.7.0": 0.0,
        "1-0:10.7.0": 0.913,
        "0-0:96.3.10": 1.0,
        "0-1:96.3.10": 0.0,
        "0-2:96.3.10": 0.0,
        "0-0:96.7.21": 1067.0,
        "1-0:32.32.0": 14.0,
        "1-0:52.32.0": 15.0,
        "1-0:72.32.0": 12.0,
        "1-0:32.36.0": 0.0,
        "1-0:52.36.0": 0.0,
        "1-0:72.36.0": 0.0,
        "1-0:32.7.0": 231.0,
        "1-0:52.7.0": 229.0,
        "1-0:72.7.0": 230.0,
        "1-0:31.7.0": 1.0,
        "1-0:51.7.0": 1.0,
        "1-0:71.7.0": 1.0,
        "1-0:21.7.0": 0.0,
        "1-0:41.7.0": 0.0,
        "1-0:61.7.0": 0.0,
        "1-0:22.7.0": 0.319,
        "1-0:42.7.0": 0.3,
        "1-0:62.7.0": 0.277,
        "1-0:23.7.0": 0.0,
        "1-0:43.7.0": 0.0,
        "1-0:63.7.0": 0.0,
        "1-0:24.7.0": 0.046,
        "1-0:44.7.0": 0.065,
        "1-0:64.7.0": 0.041,
        "0-1:24.1.0": 3.0,
        "0-1:24.4.0": 1.0,
        "1-1:31.4.0": -40.0,  # of (040*A)(-040*A), the last
        "0-1:24.2.1": 14239.771,
    },
    "v5_eon_hu": {
        "0-0:96.14.0": 1.0,
        "0-0:96.3.10": 1.0,
        "0-0:17.0.0": 90.0,
        "1-0:1.8.0": 173.64,
        "1-0:1.8.1": 47.719,
        "1-0:1.8.2": 125.921,
        "1-0:1.8.3": 0.0,
        "1-0:1.8.4": 0.0,
        "1-0:2.8.0": 627.177,
        "1-0:2.8.1": 401.829,
        "1-0:2.8.2": 225.348,
        "1-0:2.8.3": 0.0,
        "1-0:2.8.4": 0.0,
        "1-0:3.8.0": 0.123,
        "1-0:4.8.0": 303.131,
        "1-0:5.8.0": 0.668,
        "1-0:6.8.0": 0.071,
        "1-0:7.8.0": 160.487,
        "1-0:8.8.0": 143.346,
        "1-0:15.8.0": 800.817,
        "1-0:32.7.0": 240.4,
        "1-0:52.7.0": 239.1,
        "1-0:72.7.0": 241.2,
        "1-0:31.7.0": 3.0,
        "1-0:51.7.0": 4.0,
        "1-0:71.7.0": 3.0,
        "1-0:13.7.0": 4.556,
        "1-0:33.7.0": 4.591,
        "1-0:53.7.0": 4.542,
        "1-0:73.7.0": 4.552,
        "1-0:14.7.0": 50.0,
        "1-0:1.7.0": 0.0,
        "1-0:2.7.0": 2.601,
        "1-0:5.7.0": 0.0,
        "1-0:6.7.0": 0.0,
        "1-0:7.7.0": 0.504,
        "1-0:8.7.0": 0.0,
        "1-0:31.4.0": 200.0,
        "1-0:51.4.0": 200.0,
        "1-0:71.4.0": 200.0,
        "0-0:98.1.0": 40.777,  # the energy imported by the end of June 2023
    },
}
EXPECTED["iskra_ie_as_sent"] = EXPECTED["iskra_ie"]

#: The codes of each telegram whose value is text: ids, names, messages, a firmware's version
#: and signature. A channel on one is refused at ``check``.
TEXT: dict[str, tuple[str, ...]] = {
    "v2_2": ("0-0:96.1.1", "0-0:96.13.1", "0-0:96.13.0", "0-1:96.1.0"),
    "v3": ("0-0:96.1.1", "0-0:96.13.1", "0-0:96.13.0", "0-1:96.1.0"),
    "v4_2": ("0-0:96.1.1", "0-0:96.13.1", "0-0:96.13.0", "0-1:96.1.0"),
    "v5": ("0-0:96.1.1", "0-0:96.13.0", "0-1:96.1.0", "0-2:96.1.0"),
    "eso_max_1ph": ("0-0:96.13.0", "0-0:96.1.1"),
    "eso_max_3ph": (
        "1-0:0.2.0",
        "1-0:0.2.8",
        "1-1:0.2.0",
        "1-1:0.2.8",
        "0-0:96.13.0",
        "0-0:96.1.1",
    ),
    "eso_extended_1ph": ("0-0:96.13.0", "0-0:96.1.1"),
    "v5_two_mbus": ("0-0:96.1.1", "0-0:96.13.0", "0-1:96.1.0", "0-2:96.1.0"),
    "unpadded_crc": ("0-0:96.1.1", "0-0:96.13.1", "0-0:96.13.0", "0-1:96.1.0"),
    "fluvius_v171": ("0-0:96.1.1", "0-0:96.13.0", "0-1:96.1.1", "0-2:96.1.1"),
    "fluvius_v171_alt": ("0-0:96.1.1", "0-0:96.13.0", "0-1:96.1.1", "0-2:96.1.1"),
    "esy5q3db1024": ("1-0:0.0.0*255", "0-0:96.1.255*255"),
    "esy5q3da1004": ("1-0:0.0.0*255", "0-0:96.1.255*255"),
    "sagemcom_t210_d_r": (),
    "iskra_ie": ("1-0:0.0.0", "0-0:96.1.0", "0-0:96.13.0", "0-1:96.1.1"),
    "iskra_ie_as_sent": ("1-0:0.0.0", "0-0:96.1.0", "0-0:96.13.0", "0-1:96.1.1"),
    "luxembourg_smarty": (
        "0-0:42.0.0",
        "0-0:96.13.0",
        "0-0:96.13.2",
        "0-0:96.13.3",
        "0-0:96.13.4",
        "0-0:96.13.5",
        "0-1:96.1.0",
    ),
    "v5_eon_hu": ("0-0:42.0.0", "0-0:96.1.0", "0-0:96.13.0"),
}

#: A line's code (and F group) at its start.
CODE = re.compile(rb"^(\d{1,3}-\d{1,3}:\d{1,3}\.\d{1,3}\.\d{1,3}(?:\*\d{1,3})?)\(", re.MULTILINE)
#: A line that holds no reading in a telegram whose meter sent it so: an empty power failure
#: log, an M-Bus channel without a device (``(700101010000W)(00000000)``).
NO_READING = {"v5": "1-0:99.97.0", "v5_two_mbus": "0-1:24.2.1"}


def channels_of(values: dict[str, float]) -> list[tuple[str, str]]:
    return [(f"c{k}", field) for k, field in enumerate(values)]


def test_every_telegram_is_the_bytes_dsmr_parser_s_tests_check() -> None:
    """Each CRC holds over the bytes from ``/`` to ``!`` (the heat meter's written without its
    leading zero); the telegrams without one are DSMR 2.2 and 3 and EasyMeter's."""
    unchecked = set()
    for name, telegram in TELEGRAMS.items():
        body = telegram[: telegram.index(b"\r\n!") + 3]
        check = telegram[len(body) :].split(b"\r\n")[0]
        if check:
            assert int(check, 16) == crc16_arc(body), name
        else:
            unchecked.add(name)
    assert unchecked == {"v2_2", "v3", "esy5q3db1024", "esy5q3da1004"}


def test_the_tables_name_every_code_of_every_telegram() -> None:
    """Each code a telegram holds is charted, refused as text, the time stamp, or a line of no
    reading: none is left out of the test."""
    assert set(EXPECTED) == set(TEXT) == set(TELEGRAMS)
    for name, telegram in TELEGRAMS.items():
        codes = {code.decode() for code in CODE.findall(telegram)}
        named = set(EXPECTED[name]) | set(TEXT[name]) | {NO_READING.get(name)}
        assert codes - {"0-0:1.0.0"} == named - {None}, name


@pytest.mark.parametrize("name", TELEGRAMS)
def test_each_code_reads_the_value_dsmr_parser_expects(name: str) -> None:
    """A channel per code: each gets its value, however the telegram is chunked, and nothing is
    counted damaged (a line of no reading is ``invalid``, as the meter meant it)."""
    telegram = TELEGRAMS[name]
    channels = channels_of(EXPECTED[name])
    config = meter(*channels)
    expected = {channel: EXPECTED[name][field] for channel, field in channels}
    for size in (len(telegram), 1, 7):
        rt = runtime(config)
        for at in range(0, len(telegram), size):
            rt.feed(telegram[at : at + size])
        assert latest(rt) == expected
        assert counts(rt)["errors"] == {}
        assert counts(rt)["readings"] == len(expected)


@pytest.mark.parametrize("name", NO_READING)
def test_a_line_the_meter_sent_without_a_reading_is_invalid_and_told(name: str) -> None:
    """A power failure log of no entry, an M-Bus channel with no device: ``invalid``, the
    telegram's other readings kept."""
    config = meter(("x", NO_READING[name]), ("t1", "1-0:1.8.1"))
    rt = runtime(config)
    rt.feed(TELEGRAMS[name])
    assert latest(rt) == {"t1": EXPECTED[name]["1-0:1.8.1"]}
    assert counts(rt)["errors"] == {"invalid": 1}


@pytest.mark.parametrize(
    ("name", "field"), [(name, field) for name, fields in TEXT.items() for field in fields]
)
def test_a_channel_on_a_text_code_is_refused_naming_the_key(name: str, field: str) -> None:
    del name
    sensor = {
        "name": "m",
        "port": "sim://m",
        "format": "dsmr",
        "channels": [{"name": "t1", "field": "1-0:1.8.1"}, {"name": "x", "field": field}],
    }
    errors: list[str] = []
    assert Config.load({"sensors": [sensor]}, "", errors) is None
    [error] = errors
    assert error.startswith(f"sensors[0].channels[1].field: {field!r} is ")
    assert "text, which no channel reads" in error


@pytest.mark.parametrize(
    ("field", "line"),
    [
        ("1-0:0.2.0", b"1-0:0.2.0(02.21)"),  # a Lithuanian ESO meter's, dsmr_parser's "02.21"
        ("1-1:0.2.0", b"1-1:0.2.0(03.02)"),
        ("1-0:0.2.8", b"1-0:0.2.8(1EA43311)"),  # its signature, "1EA43311"
        ("1-0:0.2.0*255", b"1-0:0.2.0*255(ver.03,432F,20170504)"),  # an EasyMeter's
    ],
)
def test_a_firmware_s_version_or_signature_is_refused_not_read(field: str, line: bytes) -> None:
    """``1-0:0.2.0(02.21)`` would read as 2.21 and ``(1EA43311)`` as ``syntax`` on every
    telegram: ``check`` refuses the field, saying what it is; DSMR's own version
    ``1-3:0.2.8`` stays a number."""
    problems = codec_for("dsmr").check(FormatSpec("dsmr", (("x", field),)))
    assert problems == [
        (
            "channels[0].field",
            f"{field!r} is a firmware's version, id or signature: text, which no channel reads "
            "(a channel's value is a number)",
        )
    ]
    assert line.startswith(field.encode())
    assert codec_for("dsmr").check(FormatSpec("dsmr", (("x", "1-3:0.2.8"),))) == []


def test_the_eso_meter_s_firmware_lines_cost_none_of_its_readings() -> None:
    """The lines of a firmware's version and signature, which no channel reads, are ignored
    frames: the readings beside them are all read."""
    rt = runtime(meter(("v", "1-0:72.38.0"), ("sags", "1-0:32.32.0")))
    rt.feed(ESO_MAX_3PH)
    assert latest(rt) == {"v": 256.0, "sags": 45.0}
    assert counts(rt)["errors"] == {}


@pytest.mark.parametrize(
    ("value", "byte"),
    [(b"80", 0x80), (b"82", 0x82), (b"00", 0), (b"A0", 0xA0), (b"a1", 0xA1)],
)
def test_a_status_word_is_read_as_the_byte_its_hex_digits_write(value: bytes, byte: int) -> None:
    """EasyMeter's ``1-0:96.5.5*255(80)`` is a byte of flags (start-up, a phase's outage, an
    error) that the Voltcraft VSM-102's manual (manualshelf.com, its page 31, the same
    telegram's codes) says is "defined as one byte and transmitted in hexadecimal
    presentation": 80 is 128; 82, as EMH and Hager eHZ meters write it in public readers'
    test data, is 130; lower-case digits are read too."""
    telegram = ESY5Q3DA1004.replace(b"96.5.5*255(80)", b"96.5.5*255(" + value + b")")
    rt = runtime(meter(("status", "1-0:96.5.5"), ("kwh", "1-0:1.8.0")))
    rt.feed(telegram)
    assert latest(rt) == {"status": float(byte), "kwh": 32549.5061662}
    assert counts(rt)["errors"] == {}


def test_a_status_word_that_is_no_hex_is_syntax_and_the_telegram_s_rest_is_read() -> None:
    """A status of a letter that is no hex digit (``(q)``, as one eHZ reader's test data has
    it) is no byte: ``syntax``, logged, the energy beside it kept."""
    telegram = ESY5Q3DA1004.replace(b"96.5.5*255(80)", b"96.5.5*255(q)")
    rt = runtime(meter(("status", "1-0:96.5.5*255"), ("kwh", "1-0:1.8.0*255")))
    with capture_logs() as logs:
        rt.feed(telegram)
    assert latest(rt) == {"kwh": 32549.5061662}
    assert counts(rt)["errors"] == {"syntax": 1}
    assert any("'q' is no status word in hex" in str(entry.get("detail")) for entry in logs)


def test_a_simulated_status_word_reads_back() -> None:
    """The simulator writes a status word as the meter does, two hex digits."""
    spec = FormatSpec("dsmr", (("status", "1-0:96.5.5*255"),))
    codec = codec_for("dsmr")
    [line] = codec.encoder(spec)({"1-0:96.5.5*255": 130.0}, 0.0)
    assert line == b"1-0:96.5.5*255(82)"
    assert codec.decoder(spec)(line) == [("status", 130.0)]


#: An eBZ DD3's telegram as jedie/pysmartmeter's tests have it (pysmartmeter/tests/test_parser.py
#: at 82533436c993972a96f5ea5566de2354ceb2ef9d, RAW_TEST_DATA_SMALL): no CRC, every code with
#: ``*255``, a status word of four bytes, ``001C0104`` (Tasmota's smart meter docs: "Statuswort,
#: 4 Byte Information über den Betriebszustand, HEX string").
EBZ_DD3 = (
    b"/EBZ5DD3BZ06ETA_107\r\n\r\n"
    b"1-0:0.0.0*255(1EBZ0100000123)\r\n"
    b"1-0:96.1.0*255(1EBZ0100000123)\r\n"
    b"1-0:1.8.0*255(012345*kWh)\r\n"
    b"1-0:96.5.0*255(001C0104)\r\n"
    b"0-0:96.8.0*255(00017A9F)\r\n"
    b"!\r\n"
)


def test_a_status_word_of_four_bytes_is_read_and_simulated_whole() -> None:
    """An eBZ DD3's ``1-0:96.5.0*255(001C0104)`` reads 0x001C0104; the simulator writes a
    status word of more than one byte with all its digits, so that it reads back whole."""
    rt = runtime(meter(("status", "1-0:96.5.0"), ("kwh", "1-0:1.8.0")))
    rt.feed(EBZ_DD3)
    assert latest(rt) == {"status": float(0x001C0104), "kwh": 12345.0}
    assert counts(rt)["errors"] == {}
    spec = FormatSpec("dsmr", (("status", "1-0:96.5.0*255"),))
    codec = codec_for("dsmr")
    for word in (0x001C0104, 0x80, 0x0, 0xFFFFFFFF):
        [line] = codec.encoder(spec)({"1-0:96.5.0*255": float(word)}, 0.0)
        assert codec.decoder(spec)(line) == [("status", float(word))], line


def test_a_crc_written_without_its_leading_zero_is_read() -> None:
    """The heat meter link's ``!B9F`` is 0x0B9F, which holds: the telegram is read, however
    chunked. Its digits changed (``!B9E``) or one of them lost (``!B9``, ``!9F``) fail:
    ``truncated``, as a CRC cut short is, each of its lines counted."""
    lines, counted = take("dsmr", UNPADDED_CRC)
    assert len(lines) == len(CODE.findall(UNPADDED_CRC))
    assert counted["rejected"] == {}
    for size in (1, 3, 7):
        assert take("dsmr", UNPADDED_CRC, [size]) == (lines, counted)
    for damaged in (b"!B9E", b"!B9", b"!9F"):
        _, counted = take("dsmr", UNPADDED_CRC.replace(b"!B9F", damaged))
        assert counted["rejected"] == {"truncated": len(lines)}, damaged


def test_a_heat_meter_whose_crc_has_no_leading_zero_publishes_its_reading() -> None:
    rt = runtime(meter(("heat_gj", "0-1:24.2.1")))
    rt.feed(UNPADDED_CRC + UNPADDED_CRC.replace(b"(240.860*GJ)", b"(240.861*GJ)"))
    assert latest(rt) == {"heat_gj": 240.86}  # the second's CRC fails: not read
    assert counts(rt)["errors"] == {"truncated": len(CODE.findall(UNPADDED_CRC))}


def test_a_crc_written_without_its_leading_zeros_shows_the_meter_sends_one() -> None:
    """The heat meter link's telegram without its version line, its reading 240.862 GJ: its
    CRC, 0x005D, written ``!5D``, holds, and shows the link sends a CRC, as a 4-digit one
    does. The next telegram, its CRC's digits lost (``!`` alone), is ``truncated``; alone,
    with no version line, it would be read unchecked, as a DSMR 2.2 meter's."""
    telegram = UNPADDED_CRC.replace(b"1-3:0.2.8(50)\r\n", b"").replace(b"240.860", b"240.862")
    body = telegram[: telegram.index(b"\r\n!") + 3]
    assert crc16_arc(body) == 0x5D
    lines, counted = take("dsmr", body + b"\r\n")
    assert (len(lines), counted["rejected"]) == (len(CODE.findall(body)), {})
    read, counted = take("dsmr", body + b"5D\r\n" + body + b"\r\n")
    assert read == lines
    assert counted["rejected"] == {"truncated": len(lines)}


@pytest.mark.parametrize(
    ("name", "kept"),
    [("v4_2", 0), ("v4_2", 2), ("v4_2", 3), ("unpadded_crc", 1), ("unpadded_crc", 2)],
)
def test_a_telegram_cut_in_its_crc_line_by_the_next_one_is_truncated(name: str, kept: int) -> None:
    """A meter sends a telegram every second; one whose end was lost in its CRC line (``!67``
    of Kaifa's ``!6796``, ``!B9`` of the heat meter link's ``!B9F``, their line end lost with
    the rest) is followed by the next telegram's ``/``: ``truncated``, each of its lines
    counted, and the next telegram is read, however chunked. The digits kept hold as the CRC
    only when they are all of it (its line end alone lost: see
    ``test_formats_dsmr_crc_line``); the first digits of a CRC are its value only when it is
    0."""
    telegram = TELEGRAMS[name]
    bang = telegram.index(b"\r\n!") + 2
    cut = telegram[: bang + 1 + kept]
    lines, _ = take("dsmr", telegram)
    for sizes in (None, [1], [3], [7]):
        got, counted = take("dsmr", cut + telegram, sizes)
        assert got == lines, sizes
        assert counted["rejected"] == {"truncated": len(lines)}, sizes
        assert counted["skipped"] == 0, sizes
    framer = BlockFramer("dsmr", 2100)
    framer.feed(cut + telegram)
    digits = cut[bang + 1 :].decode()
    assert framer.last_rejected("truncated")[0] == (
        f"cut short in its CRC line: the next telegram's '/' came after '!{digits}'"
    )


def test_the_iskra_ie_telegram_reads_the_same_with_either_header() -> None:
    """dsmr_parser's form (a byte 0x02 in the header, its CRC over it) and the meter's
    (``\\2``) are one telegram to sensord: the header is no reading."""
    assert b"\x02" in ISKRA_IE
    assert b"\\2" in ISKRA_IE_AS_SENT
    assert take("dsmr", ISKRA_IE)[0] == take("dsmr", ISKRA_IE_AS_SENT)[0]


def test_the_two_m_bus_telegram_reads_the_channel_with_a_device() -> None:
    """dsmr_parser issue #51: a reader of the first gas channel got 0 from
    ``0-1:24.2.1(700101010000W)(00000000)``; sensord gives that channel no reading and the
    second, with the gas meter, its 246.138 m3."""
    rt = runtime(meter(("gas1", "0-1:24.2.1"), ("gas2", "0-2:24.2.1")))
    rt.feed(V5_TWO_MBUS)
    assert latest(rt) == {"gas2": 246.138}
    assert counts(rt)["errors"] == {"invalid": 1}
