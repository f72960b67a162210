"""The generic frame spec against binary UART sensors that have no preset: each written as the
README teaches, checked by ``sensord check``'s rules, and fed their frames with garbage and in
any chunking through the framer and decoder the daemon builds.

Fixtures and their origins:

* Cubic PM1006 (IKEA VINDRIKTNING): ``16 11 0B 00 00 00 0C 00 00 03 CB 00 00 00 0C 01 00 00
  00 E7`` (PM2.5 12 µg/m³), the sample frame quoted in Tasmota's VINDRIKTNING driver; ``16 11
  0B 00 00 00 0D 00 00 03 C5 00 00 00 23 02 00 00 16 BE`` (PM2.5 13), a frame quoted in a
  user's driver for the same sensor.
* Nova SDS198: ``AA CF 0E 00 10 00 E9 05 0C AB`` and ``AA CF 06 01 01 00 E9 05 F6 AB``, from
  PyPMS's captures of a real SDS198 (tests/captured_data/SDS198.hexdump; PM100 16 and 1).
* Honeywell HPMA115C0: replies to the read command ``68 01 04 93``, ``40 0D 04 00 04 00 07 00
  09 00 17 ...`` from PyPMS's capture of a real sensor (HPMA115C0.hexdump).
* DFRobot A02YYUW: ``FF 07 A1 A7`` (1953 mm), the example in DFRobot's SEN0311 wiki.
* Winsen ZE08-CH2O: the active upload laid out as its datasheet says (``FF 17 04 00``, the
  concentration in ppb, the full range ``07 D0``); the datasheet prints the checksum of its
  example as ``25``, but by its own rule (the two's complement of bytes 1..7) it is ``E9``,
  as the checksum of the ZE07-CO example, also printed ``25``, is ``38``.
* Sensirion SPS30 (SHDLC): three replies to "read measured values" from PyPMS's capture of a
  real SPS30 (SPS30.hexdump), with stuffed bytes (``7D 33``, ``7D 31``, ``7D 5E``); their
  values are PyPMS's (SPS30.csv), rounded as it rounds them. The "start measurement" request
  ``7E 00 00 02 01 03 F9 7E`` is the example of Sensirion's SPS30 datasheet (checksum 0xF9).
* Benewake TFmini-S: frames laid out as its manual says (``59 59``, distance, strength and
  temperature as little-endian u16, the sum of the first 8 bytes), values chosen here.
* Hi-Link HLK-LD2410: a basic report ``F4 F3 F2 F1 0D 00 02 AA 02 51 00 ... 55 00 F8 F7 F6
  F5`` and an engineering one ``F4 F3 F2 F1 23 00 01 AA 03 1E 00 3C ...``, from the tests of
  the aio_ld2410 library (real frames of the radar); the length counts the data, not the
  four end bytes.
"""

from __future__ import annotations

import random
import struct
from fractions import Fraction
from pathlib import Path

import pytest
from harness.pty import PtyPair
from hypothesis import example, given
from hypothesis import strategies as st
from test_formats_blocks import hint_after_repeats, per_block
from test_stale_hints import stale_event

from sensord.cli import main
from sensord.config import parse_config
from sensord.errors import ConfigError, ParseError
from sensord.formats import codec_for
from sensord.formats.base import FieldSpec, FormatSpec, FrameSpec
from sensord.formats.frames import FrameFramer
from sensord.formats.frames_checksums import checksum
from sensord.formats.frames_stuffing import stuff, unstuff

PM1006 = """
[[sensors]]
name = "vindriktning"
port = "/dev/ttyAMA0"
format = "frames"
  [sensors.frame]
  start = '\\x16\\x11\\x0b'
  length = 20
  checksum = "twos8"
  checksum_start = 0
    [[sensors.frame.fields]]
    name = "pm2_5"
    offset = 5
    type = "u16be"
  [[sensors.channels]]
  name = "pm2_5_ug_m3"
  field = "pm2_5"
"""

#: the README's PM1006K row: 16 0D 02, twelve data bytes, a checksum that makes the sum 0
PM1006K = """
[[sensors]]
name = "pm1006k"
port = "/dev/ttyUSB0"
format = "frames"
poll = { request = '\\x11\\x01\\x02\\xec', interval_s = 2 }
  [sensors.frame]
  start = '\\x16\\x0d\\x02'
  length = 16
  checksum = "twos8"
  checksum_start = 0
  fields = [
    { name = "pm2_5", offset = 5, type = "u16be" },
    { name = "pm1", offset = 9, type = "u16be" },
    { name = "pm10", offset = 13, type = "u16be" },
  ]
  [[sensors.channels]]
  name = "pm2_5_ug_m3"
  field = "pm2_5"
  [[sensors.channels]]
  name = "pm1_ug_m3"
  field = "pm1"
  [[sensors.channels]]
  name = "pm10_ug_m3"
  field = "pm10"
"""


def pm1006k(pm2_5: int, pm1: int, pm10: int) -> bytes:
    """A PM1006K reply laid out as Cubic's specification gives it (DF1..DF12 after
    ``16 0D 02``; PM2.5 in DF3-DF4, PM1.0 in DF7-DF8, PM10 in DF11-DF12), as ESPHome's
    ``pm100x`` reads it: no public capture of one was found."""
    data = b"".join(b"\x00\x00" + v.to_bytes(2, "big") for v in (pm2_5, pm1, pm10))
    body = b"\x16\x0d\x02" + data
    return body + bytes([-sum(body) & 0xFF])


def jbd_cells(*millivolts: int) -> bytes:
    """A JBD's reply to its cell voltages request: DD 04, status 0, the data's length, a
    big-endian u16 per cell in mV, the two's complement of the 16-bit sum from the status on,
    77."""
    data = b"".join(mv.to_bytes(2, "big") for mv in millivolts)
    body = bytes([0, len(data)]) + data
    return b"\xdd\x04" + body + (-sum(body) & 0xFFFF).to_bytes(2, "big") + b"\x77"


#: the README's JBD row: DD, the kind (03 basic information, 04 cell voltages), status, a
#: length byte, the data, a 16-bit two's complement sum of status, length and data, 77
JBD = """
[[sensors]]
name = "battery"
port = "/dev/ttyUSB0"
format = "frames"
poll = { request = ['\\xdd\\xa5\\x03\\x00\\xff\\xfd\\x77', '\\xdd\\xa5\\x04\\x00\\xff\\xfc\\x77'], interval_s = 5 }
  [sensors.frame]
  start = '\\xdd'
  kind_offset = 1
  length_offset = 3
  length_size = 1
  length_adjust = 3
  reply_length = 7
  end = 0x77
  checksum = "twos16be"
  checksum_start = 2
  status_offset = 2
  status_ok = [0]
  fields = [
    { name = "voltage", offset = 4, type = "u16be", scale = 0.01, kind = 3 },
    { name = "remaining", offset = 8, type = "u16be", scale = 0.01, kind = 3 },
    { name = "soc", offset = 23, type = "u8", kind = 3 },
    { name = "ntc1", offset = 27, type = "u16be", scale = 0.1, bias = -273.1, kind = 3 },
    { name = "cell1", offset = 4, type = "u16be", scale = 0.001, kind = 4 },
    { name = "cell2", offset = 6, type = "u16be", scale = 0.001, kind = 4 },
    { name = "cell3", offset = 8, type = "u16be", scale = 0.001, kind = 4 },
    { name = "cell4", offset = 10, type = "u16be", scale = 0.001, kind = 4 },
  ]
  [[sensors.channels]]
  name = "voltage_volts"
  field = "voltage"
  [[sensors.channels]]
  name = "remaining_ah"
  field = "remaining"
  [[sensors.channels]]
  name = "soc_percent"
  field = "soc"
  [[sensors.channels]]
  name = "ntc1_celsius"
  field = "ntc1"
  [[sensors.channels]]
  name = "cell1_volts"
  field = "cell1"
  [[sensors.channels]]
  name = "cell2_volts"
  field = "cell2"
  [[sensors.channels]]
  name = "cell3_volts"
  field = "cell3"
  [[sensors.channels]]
  name = "cell4_volts"
  field = "cell4"
"""

SDS198 = """
[[sensors]]
name = "pm100"
port = "/dev/ttyUSB0"
format = "frames"
  [sensors.frame]
  start = '\\xaa\\xcf'
  length = 10
  end = 0xab
  checksum = "sum8"
  checksum_start = 2
    [[sensors.frame.fields]]
    name = "pm100"
    offset = 4
    type = "u16le"
  [[sensors.channels]]
  name = "pm100_ug_m3"
  field = "pm100"
"""

HPMA115 = """
[[sensors]]
name = "hpma"
port = "/dev/ttyUSB0"
format = "frames"
poll = { request = '\\x68\\x01\\x04\\x93', interval_s = 1 }
  [sensors.frame]
  start = '\\x40'
  length_offset = 1
  length_size = 1
  length_adjust = 1         # the length counts the command and data: the checksum follows
  checksum = "twos8"
    [[sensors.frame.fields]]
    name = "pm2_5"
    offset = 5
    type = "u16be"
    [[sensors.frame.fields]]
    name = "pm10"
    offset = 9
    type = "u16be"
  [[sensors.channels]]
  name = "pm2_5_ug_m3"
  field = "pm2_5"
  [[sensors.channels]]
  name = "pm10_ug_m3"
  field = "pm10"
"""

A02YYUW = """
[[sensors]]
name = "level"
port = "/dev/ttyUSB0"
format = "frames"
  [sensors.frame]
  start = '\\xff'
  length = 4
  checksum = "sum8"
    [[sensors.frame.fields]]
    name = "distance"
    offset = 1
    type = "u16be"
    scale = 0.001
  [[sensors.channels]]
  name = "distance_meters"
  field = "distance"
"""

ZE08 = """
[[sensors]]
name = "hcho"
port = "/dev/ttyUSB0"
format = "frames"
  [sensors.frame]
  start = '\\xff\\x17'
  length = 9
  checksum = "twos8"
  checksum_start = 1
    [[sensors.frame.fields]]
    name = "hcho"
    offset = 4
    type = "u16be"
  [[sensors.channels]]
  name = "hcho_ppb"
  field = "hcho"
"""

SPS30 = """
[[sensors]]
name = "sps30"
port = "/dev/ttyUSB0"
format = "frames"
poll = { request = '\\x7e\\x00\\x03\\x00\\xfc\\x7e', interval_s = 1 }
# start measurement: acknowledged with state 00, or 43 by a sensor measuring already
setup = [{ send = "7E 00 00 02 01 03 F9 7E", expect = ["7E 00 00 00 00 FF 7E", "7E 00 00 43 00 BC 7E"], refuse = "7E 00 00" }]
  [sensors.frame]
  start = '\\x7e\\x00\\x03'
  length_offset = 4
  length_size = 1
  length_adjust = 2
  reply_length = 7
  end = 0x7e
  escape = 0x7d
  checksum = "ones8"
  checksum_start = 1
  status_offset = 3         # the state byte: 0, or the error that kept the values back
  status_ok = [0]
    [[sensors.frame.fields]]
    name = "pm2_5"
    offset = 9
    type = "f32be"
    [[sensors.frame.fields]]
    name = "pm10"
    offset = 17
    type = "f32be"
    [[sensors.frame.fields]]
    name = "n0_5"
    offset = 21
    type = "f32be"
    [[sensors.frame.fields]]
    name = "size"
    offset = 41
    type = "f32be"
  [[sensors.channels]]
  name = "pm2_5_ug_m3"
  field = "pm2_5"
  [[sensors.channels]]
  name = "pm10_ug_m3"
  field = "pm10"
  [[sensors.channels]]
  name = "particles_0_5um_per_cm3"
  field = "n0_5"
  [[sensors.channels]]
  name = "typical_particle_size_um"
  field = "size"
"""

TFMINI = """
[[sensors]]
name = "lidar"
port = "/dev/ttyUSB0"
format = "frames"
  [sensors.frame]
  start = '\\x59\\x59'
  length = 9
  checksum = "sum8"
    [[sensors.frame.fields]]
    name = "distance"
    offset = 2
    type = "u16le"
    scale = 0.01
    [[sensors.frame.fields]]
    name = "strength"
    offset = 4
    type = "u16le"
    [[sensors.frame.fields]]
    name = "temperature"
    offset = 6
    type = "u16le"
    scale = 0.125
    bias = -256
  [[sensors.channels]]
  name = "distance_meters"
  field = "distance"
  [[sensors.channels]]
  name = "signal_strength"
  field = "strength"
  [[sensors.channels]]
  name = "temperature_celsius"
  field = "temperature"
"""

#: PyPMS tests/captured_data/SPS30.hexdump, its first three frames as the sensor sent them
SPS30_FRAMES = [
    bytes.fromhex(text)
    for text in (
        "7e 00 03 00 28 40 a7 83 20 41 17 77 bb 41 4a 5f 83 41 54 8d dd 41 d2 83 3e 42 7d 33 fc"
        " 85 42 26 17 22 42 29 a4 d9 42 2a 29 bc 3f 55 b7 e7 9e 7e",
        "7e 00 03 00 28 40 b9 c6 7f 41 03 6c 8b 41 1e 4a e2 41 23 aa 92 42 0c 5b 7c 42 2e fd ba"
        " 42 38 ca b3 42 3a b2 c9 42 3a fd e9 3f 4a 10 25 d6 7e",
        "7e 00 03 00 28 40 df 03 da 41 7d 31 62 ae 41 27 9e 32 41 2c 10 7d 5e 42 30 7d 5e d3 42"
        " 55 c0 4c 42 5e 09 08 42 5f a2 8a 42 5f e4 43 3f 40 fa 1f ff 7e",
    )
]
#: PyPMS tests/captured_data/SPS30.csv: pm25, pm10, n0_5, diam of the same three frames
SPS30_VALUES = [(9.5, 13.3, 26.31, 0.8), (8.2, 10.2, 35.09, 0.8), (9.1, 10.8, 44.12, 0.8)]


def tfmini(distance_cm: int, strength: int, temperature_c: float) -> bytes:
    raw = round((temperature_c + 256) * 8)
    body = b"\x59\x59" + b"".join(v.to_bytes(2, "little") for v in (distance_cm, strength, raw))
    return body + bytes([sum(body) & 0xFF])


def h(text: str) -> bytes:
    return bytes.fromhex(text)


CASES = {
    "pm1006": (
        PM1006,
        [
            (h("16 11 0B 00 00 00 0C 00 00 03 CB 00 00 00 0C 01 00 00 00 E7"), [12.0]),
            (h("16 11 0B 00 00 00 0D 00 00 03 C5 00 00 00 23 02 00 00 16 BE"), [13.0]),
        ],
    ),
    "pm1006k": (
        PM1006K,
        [
            (pm1006k(35, 20, 48), [35.0, 20.0, 48.0]),
            (pm1006k(0x160D, 0x0216, 0x0D02), [5645.0, 534.0, 3330.0]),  # its start bytes
        ],
    ),
    "jbd": (
        JBD,
        [
            # the JBD protocol document's example reply to DD A5 03 00 FF FD 77
            (
                h(
                    "DD 03 00 1B 17 00 00 00 02 D0 03 E8 00 00 20 78 00 00 00 00 00 00 10 48 03"
                    " 0F 02 0B 76 0B 82 FB FF 77"
                ),
                [58.88, 7.2, 72.0, 20.3],
            ),
            # a reply a JBD BMS sent to a public Bluetooth script (its comment's hex)
            (
                h("dd03001b052800001bb22aef0002290a00000000000025410304020b740b6bfc3977"),
                [13.2, 70.9, 65.0, 20.1],
            ),
            # the JBD protocol document's example reply to DD A5 04 00 FF FC 77: 15 cells,
            # of which the spec reads four
            (
                h(
                    "DD 04 00 1E 0F 66 0F 63 0F 63 0F 64 0F 3E 0F 63 0F 37 0F 5B 0F 65 0F 3B"
                    " 0F 63 0F 63 0F 3C 0F 66 0F 3D F9 F9 77"
                ),
                [3.942, 3.939, 3.939, 3.94],
            ),
            # a 4S pack's reply, laid out as the protocol document gives it
            (jbd_cells(3301, 3299, 3305, 3290), [3.301, 3.299, 3.305, 3.29]),
        ],
    ),
    "sds198": (
        SDS198,
        [(h("AA CF 0E 00 10 00 E9 05 0C AB"), [16.0]), (h("AA CF 06 01 01 00 E9 05 F6 AB"), [1.0])],
    ),
    "hpma115c0": (
        HPMA115,
        [
            (h("40 0D 04 00 04 00 07 00 09 00 17 00 00 00 00 84"), [7.0, 23.0]),
            (h("40 0D 04 00 03 00 04 00 04 00 04 00 00 00 00 A0"), [4.0, 4.0]),
        ],
    ),
    "a02yyuw": (A02YYUW, [(h("FF 07 A1 A7"), [1.953])]),
    "ze08": (ZE08, [(h("FF 17 04 00 00 25 07 D0 E9"), [37.0])]),
    "tfmini": (
        TFMINI,
        [
            (tfmini(123, 2000, 35.0), [1.23, 2000.0, 35.0]),
            # start bytes in every field
            (tfmini(0x5959, 0x5959, 0x5959 / 8 - 256), [228.73, 22873.0, 0x5959 / 8 - 256]),
        ],
    ),
}


def spec_of(text: str) -> tuple[FormatSpec, int]:
    config = parse_config(text).sensors[0]
    return config.format_spec(), config.max_frame_bytes


def read_chunked(text: str, stream: bytes, size: int) -> tuple[list[list[float]], FrameFramer]:
    spec, max_frame_bytes = spec_of(text)
    codec = codec_for("frames")
    framer = codec.framer(spec, b"", max_frame_bytes)
    decode = codec.decoder(spec)
    assert isinstance(framer, FrameFramer)
    frames = [f for i in range(0, len(stream), size) for f in framer.feed(stream[i : i + size])]
    return [[value for _, value in decode(f)] for f in frames], framer


@pytest.mark.parametrize("name", sorted(CASES))
def test_frames_of_sensors_without_a_preset_come_out_of_garbage_in_any_chunking(
    name: str,
) -> None:
    text, cases = CASES[name]
    rng = random.Random(name)
    stream = b""
    expected: list[list[float]] = []
    for frame, values in cases:
        # noise, a frame cut short, the start bytes alone, then the frame
        garbage = bytes(rng.randrange(256) for _ in range(5))
        stream += garbage + frame[: len(frame) // 2] + frame[:2] + frame
        expected.append(values)
    for size in (1, 2, 3, 5, len(stream)):
        got, framer = read_chunked(text, stream, size)
        assert got == expected
        assert framer.frames == len(expected)


def test_winsen_datasheet_examples_checksum_is_not_the_rule() -> None:
    """The ZE08-CH2O datasheet's example frame carries 25 where its rule gives E9: such a
    frame is rejected as a checksum error, the frame with E9 is read."""
    got, framer = read_chunked(
        ZE08, h("FF 17 04 00 00 25 07 D0 25") + h("FF 17 04 00 00 25 07 D0 E9"), 4
    )
    assert got == [[37.0]]
    assert framer.rejected["checksum"] == 1


def test_sps30_shdlc_frames_are_unstuffed_in_any_chunking() -> None:
    """The real SPS30's replies, stuffed bytes split across chunks at every point: the values
    PyPMS read from them; one's complement checksum, a length field counting the data only."""
    # a stray escape byte before the first frame's start, which is a delimiter and never
    # escaped: dropped, the frame is read
    stream = b"\x00\x7d" + b"".join(SPS30_FRAMES) + h("7E 00 03 00 00 FC 7E")  # no new data
    for size in range(1, 12):
        got, framer = read_chunked(SPS30, stream, size)
        assert [
            (round(a, 1), round(b, 1), round(c, 2), round(d, 1)) for a, b, c, d in got[:-1]
        ] == SPS30_VALUES
        assert got[-1] == []  # the reply without data
        assert framer.rejected == {"checksum": 0, "syntax": 0}
        assert framer.skipped_bytes == 2


@pytest.mark.parametrize("runs", [True, False])
@pytest.mark.parametrize("lost", range(3))
def test_an_shdlc_frame_that_lost_its_end_byte_costs_no_other_frame(lost: int, runs: bool) -> None:
    """A stream of SPS30 frames, one without its end byte 7E: the start byte after it is its
    end byte as far as its checksum tells, and the next frame begins with that same byte. Every
    frame is read (the one that lost its end byte too: its bytes and checksum are whole), in
    any chunking and on both paths of the framer; no byte is skipped."""
    sent = SPS30_FRAMES * 3
    stream = b"".join(frame[:-1] if i == lost else frame for i, frame in enumerate(sent))
    spec, max_frame_bytes = spec_of(SPS30)
    decode = codec_for("frames").decoder(spec)
    expected = [[value for _, value in decode(unstuff(f, 0x7D, b"\x7e")[0])] for f in sent]
    for size in (1, 2, 3, 7, 50, len(stream)):
        assert spec.frame is not None
        framer = FrameFramer(spec.frame, max_frame_bytes, runs=runs)
        frames = [f for i in range(0, len(stream), size) for f in framer.feed(stream[i : i + size])]
        assert [[value for _, value in decode(f)] for f in frames] == expected
        assert framer.skipped_bytes == 0
        assert framer.rejected == {"checksum": 0, "syntax": 0}


def test_an_shdlc_frame_after_garbage_is_read_once() -> None:
    """Bytes after a frame that begin no frame from its end byte (noise, then a whole frame):
    the guess costs nothing, the noise is skipped and counted, the next frame is read."""
    spec, max_frame_bytes = spec_of(SPS30)
    assert spec.frame is not None
    stream = SPS30_FRAMES[0] + b"\x00\x03\x00\x28\x11" + SPS30_FRAMES[1] + b"\x00\x03"
    for size in (1, 4, len(stream)):
        framer = FrameFramer(spec.frame, max_frame_bytes)
        frames = [f for i in range(0, len(stream), size) for f in framer.feed(stream[i : i + size])]
        assert len(frames) == 2
        assert framer.rejected == {"checksum": 0, "syntax": 0}
        assert framer.skipped_bytes == 5
        assert framer._buffer == b"\x00\x03"  # may follow the end byte as a frame's start
        framer.drop_pending()
        assert framer.skipped_bytes == 7
        assert framer.feed(SPS30_FRAMES[2][1:]) == []  # no frame begins before the request


def sps30_read(stream: bytes, size: int, runs: bool = True) -> tuple[list[bytes], FrameFramer]:
    spec, max_frame_bytes = spec_of(SPS30)
    assert spec.frame is not None
    framer = FrameFramer(spec.frame, max_frame_bytes, runs=runs)
    frames = [f for i in range(0, len(stream), size) for f in framer.feed(stream[i : i + size])]
    return frames, framer


SPS30_READ = [unstuff(frame, 0x7D, b"\x7e")[0] for frame in SPS30_FRAMES]


@pytest.mark.parametrize("runs", [True, False])
def test_a_frame_that_lost_its_end_byte_after_noise_costs_no_frame(runs: bool) -> None:
    """Noise, then an SPS30 frame without its end byte, then two frames: the first ends with
    the second's start byte, which the second is read with; only the noise is skipped."""
    stream = b"\x00\x11" + SPS30_FRAMES[0][:-1] + SPS30_FRAMES[1] + SPS30_FRAMES[2]
    for size in (1, 5, 50, len(stream)):
        frames, framer = sps30_read(stream, size, runs)
        assert frames == SPS30_READ
        assert framer.skipped_bytes == 2


@pytest.mark.parametrize("runs", [True, False])
def test_a_frame_that_lost_its_end_byte_and_the_last_frame_are_read_at_once(runs: bool) -> None:
    """A polled SPS30's reply without its end byte, then the next reply, then silence: both
    are read as soon as the second's end byte has come, not when more bytes come."""
    frames, framer = sps30_read(SPS30_FRAMES[0][:-1] + SPS30_FRAMES[1], 1000, runs)
    assert frames == SPS30_READ[:2]
    assert framer._buffer == b""
    frames, _ = sps30_read(SPS30_FRAMES[0][:-1] + SPS30_FRAMES[1] + SPS30_FRAMES[2], 20, runs)
    assert frames == SPS30_READ


def sps30_holding(at: int, data: bytes) -> bytes:
    """The second SPS30 frame as read (unstuffed), ``data`` at byte ``at`` of its measured
    values, its checksum made again."""
    changed = bytearray(SPS30_READ[1])
    changed[at : at + len(data)] = data
    changed[-2:-1] = checksum("ones8", bytes(changed[1:-2]))
    return bytes(changed)


@pytest.mark.parametrize("runs", [True, False])
@pytest.mark.parametrize("at", [5, 9, 40])
def test_a_frame_with_a_start_and_a_length_in_its_data_after_a_lost_end_byte_is_read(
    at: int, runs: bool
) -> None:
    """An SPS30 frame without its end byte, then a frame whose values hold 7E 00 03 00 28
    (sent 7D 5E 00 03 00 28: the start bytes, a state and the length of a measurement frame),
    then one more: the second frame is taken from the first one's lost end byte, and the
    start bytes in its data begin a candidate that ends past it, which leaves the second
    frame to its own bytes. Every frame is read, no byte skipped and nothing rejected, in any
    chunking, on both paths of the framer."""
    spec, _ = spec_of(SPS30)
    assert spec.frame is not None
    middle = sps30_holding(at, h("7E 00 03 00 28"))
    sent = stuff(spec.frame, middle)
    assert h("7D 5E 00 03 00 28") in sent
    stream = SPS30_FRAMES[0][:-1] + sent + SPS30_FRAMES[2]
    for size in (1, 2, 5, 50, len(stream)):
        frames, framer = sps30_read(stream, size, runs)
        assert frames == [SPS30_READ[0], middle, SPS30_READ[2]]
        assert framer.skipped_bytes == 0
        assert framer.rejected == {"checksum": 0, "syntax": 0}


@pytest.mark.parametrize("runs", [True, False])
@pytest.mark.parametrize(
    ("at", "data"),
    [
        (5, h("7E 00 03 00 00")),
        (9, h("7E 00 03 00 00")),
        (39, h("7E 00 03 00 00")),
        (40, h("7E 00 03 00 00")),
        # its first 6 bytes end with 7E, and their 6th byte is the checksum of a reply of
        # state 7E: only the 7th, not 7E, tells that it is no reply
        (9, h("7E 00 03 7E 00 7E 11")),
    ],
    ids=lambda value: value.hex() if isinstance(value, bytes) else str(value),
)
def test_a_frame_with_a_reply_s_start_in_its_data_after_a_lost_end_byte_is_read(
    at: int, data: bytes, runs: bool
) -> None:
    """As above, the second frame's values holding 7E 00 03 xx 00: the start bytes, a state
    and the length of a reply, a 7-byte candidate that ends inside the frame, and no frame
    (its checksum and end byte are the data's); from byte 40 it ends with the frame, and is
    a whole reply (7E 00 03 00 00 FC 7E: the frame's checksum is FC), which begins after the
    frame and is left to it. The second frame waits for that candidate to be whole and is
    read: every frame is read, no byte skipped and nothing rejected, in any chunking, on both
    paths of the framer."""
    spec, _ = spec_of(SPS30)
    assert spec.frame is not None
    middle = sps30_holding(at, data)
    assert (middle[-7:] == h("7E 00 03 00 00 FC 7E")) == (at == 40)
    stream = SPS30_FRAMES[0][:-1] + stuff(spec.frame, middle) + SPS30_FRAMES[2]
    for size in (1, 2, 5, 50, len(stream)):
        frames, framer = sps30_read(stream, size, runs)
        assert frames == [SPS30_READ[0], middle, SPS30_READ[2]]
        assert framer.skipped_bytes == 0
        assert framer.rejected == {"checksum": 0, "syntax": 0}


@pytest.mark.parametrize("runs", [True, False])
def test_a_reply_inside_a_frame_taken_from_a_lost_end_byte_is_read_at_once(runs: bool) -> None:
    """An SPS30 frame without its end byte, then noise 00 03 00 28 (what follows the lost
    end byte reads as the start and length of a 47-byte frame), then a whole reply 7E 00 03
    00 00 FC 7E inside those 47 bytes: the guess is given up when the reply is whole, and the
    reply is read by the same feed, before the 47 bytes have come; the noise is skipped and
    no rejection is counted."""
    reply = h("7E 00 03 00 00 FC 7E")
    stream = SPS30_FRAMES[0][:-1] + h("7E 00 03 00 28") + reply
    for size in (1, 3, len(stream)):
        frames, framer = sps30_read(stream, size, runs)
        assert frames == [SPS30_READ[0], reply]
        assert framer.skipped_bytes == 4
        assert framer.rejected == {"checksum": 0, "syntax": 0}
        assert framer._buffer == b""


@pytest.mark.parametrize(
    "noise",
    [
        h("00 11 22"),  # no start bytes after the end byte
        h("00 03 00 00 FB"),  # a reply's start and length, a wrong checksum: not a reply
        h("00 03 00 00"),  # a reply's start and length, cut short by the next frame
        h("00 03 00 F0 11"),  # a reply's start and a length past the bytes after it
    ],
)
def test_noise_after_a_frame_is_skipped_at_once_and_not_counted_rejected(noise: bytes) -> None:
    """After an SPS30 frame, noise that its end byte begins no frame with: the noise is
    skipped (no rejection counted: the end byte as a start was a guess), and the frame after
    it is read by the same feed."""
    stream = SPS30_FRAMES[0] + noise + SPS30_FRAMES[1]
    for size in (1, 3, len(stream)):
        frames, framer = sps30_read(stream, size)
        assert frames == SPS30_READ[:2]
        assert framer.skipped_bytes == len(noise)
        assert framer.rejected == {"checksum": 0, "syntax": 0}
        assert framer._buffer == b""


def test_shdlc_checksum_of_the_datasheet_request() -> None:
    request = h("7E 00 00 02 01 03 F9 7E")
    assert checksum("ones8", request[1:-2]) == b"\xf9"


@pytest.mark.parametrize(
    ("data", "expected", "pending"),
    [
        (b"a\x7d\x5eb", b"a\x7eb", False),
        (b"a\x7d\x5d\x7d\x31", b"a\x7d\x11", False),
        (b"a\x7d", b"a", True),
        (b"\x7d\x7d", b"\x5d", False),  # an escape byte escaped by one
        (b"\x7d\x7d\x7d", b"\x5d", True),
        (b"plain", b"plain", False),
    ],
)
def test_unstuff(data: bytes, expected: bytes, pending: bool) -> None:
    assert unstuff(data, 0x7D, b"\x7e") == (expected, pending, 0)


def test_an_escape_byte_before_a_delimiter_is_dropped() -> None:
    assert unstuff(b"a\x7d\x7eb\x7d\x7e", 0x7D, b"\x7e") == (b"a\x7eb\x7e", False, 2)


def test_the_encoder_stuffs_what_the_framer_unstuffs() -> None:
    """A simulated SPS30 frame whose values hold 7E and 7D bytes: sent stuffed, read back."""
    spec, max_frame_bytes = spec_of(SPS30)
    codec = codec_for("frames")
    # 0x427E7D00 and 0x7D7E0000 as floats
    values = {"pm2_5": 63.6220703125, "pm10": 2.1116318e37, "n0_5": 1.0, "size": 0.5}
    [sent] = codec.encoder(spec)(values, 0.0)
    assert sent[0] == sent[-1] == 0x7E
    assert 0x7E not in sent[1:-1]
    framer = codec.framer(spec, b"", max_frame_bytes)
    stream = sent * 3
    frames = [f for i in range(0, len(stream), 5) for f in framer.feed(stream[i : i + 5])]
    decoded = [dict(codec.decoder(spec)(f)) for f in frames]
    assert len(decoded) == 3
    # read as the shortest decimal that is the same float32
    assert decoded[0]["pm2_5_ug_m3"] == 63.62207
    assert struct.pack(">f", 63.62207) == struct.pack(">f", values["pm2_5"])
    assert decoded[0]["pm10_ug_m3"] == pytest.approx(values["pm10"])


def test_a_float32_field_is_read_as_the_decimal_a_person_reads() -> None:
    """An SPS30's PM2.5 of 16.1 is the float32 0x4180CCCD, 16.100000381469727 as a float64:
    published as 16.1, as a Modbus float32 register is; scaled after."""
    spec, _ = spec_of(SPS30)
    frame = bytearray(codec_for("frames").encoder(spec)({"pm2_5": 16.1, "pm10": 2.5}, 0.0)[0])
    [pm2_5] = [v for c, v in codec_for("frames").decoder(spec)(bytes(frame)) if c == "pm2_5_ug_m3"]
    assert pm2_5 == 16.1
    scaled, _ = spec_of(SPS30.replace('type = "f32be"', 'type = "f32be"\n    scale = 10', 1))
    decoded = dict(codec_for("frames").decoder(scaled)(bytes(frame)))
    assert decoded["pm2_5_ug_m3"] == 161.0


def test_a_pending_escape_byte_is_dropped_and_counted() -> None:
    spec, max_frame_bytes = spec_of(SPS30)
    framer = codec_for("frames").framer(spec, b"", max_frame_bytes)
    assert framer.feed(SPS30_FRAMES[0][:27]) == []  # ends with the 7D of 7D 33
    framer.drop_pending()
    assert framer.skipped_bytes == 27  # 26 unstuffed bytes and the escape byte
    # the 33 after it is not read as escaped: the next frame is read whole
    assert len(framer.feed(SPS30_FRAMES[0][27:] + SPS30_FRAMES[1])) == 1


def test_a_flush_counts_a_pending_escape_byte_once_and_keeps_unstuffing() -> None:
    """A replay that ends with an escape byte (an SPS30 frame cut after the 7D of 7D 33): the
    flush skips the frame's 26 unstuffed bytes and the escape byte, after the noise counted
    before it; the frames fed after the flush are unstuffed as before (7D 33 is 13), and
    their first byte is not taken as escaped."""
    spec, max_frame_bytes = spec_of(SPS30)
    assert spec.frame is not None
    framer = FrameFramer(spec.frame, max_frame_bytes)
    assert framer.feed(b"\x00\x11\x22" + SPS30_FRAMES[0][:27]) == []
    assert framer.skipped_bytes == 3
    assert framer.flush() == []
    assert framer.skipped_bytes == 3 + 26 + 1
    assert framer.flush() == []
    assert framer.skipped_bytes == 30
    assert framer.feed(SPS30_FRAMES[0] + SPS30_FRAMES[2]) == [SPS30_READ[0], SPS30_READ[2]]
    assert framer.skipped_bytes == 30


def test_an_escape_byte_at_a_chunk_end_before_a_delimiter_is_counted_with_the_rest() -> None:
    """Noise that ends with an escape byte, then, in the next chunk, a frame's start byte (a
    delimiter, never escaped): the escape byte is one more skipped byte, the noise's count
    kept, and the frame is read."""
    spec, max_frame_bytes = spec_of(SPS30)
    assert spec.frame is not None
    framer = FrameFramer(spec.frame, max_frame_bytes)
    assert framer.feed(b"\x00\x11\x22\x33\x7d") == []
    assert framer.skipped_bytes == 2  # the last two may begin the start bytes
    assert framer.feed(SPS30_FRAMES[1]) == [SPS30_READ[1]]
    assert framer.skipped_bytes == 5


def test_stuff_escapes_the_end_byte_and_the_byte_before_it() -> None:
    """A frame spec with byte stuffing whose end byte (03, ETX) is not its start byte (02,
    STX): the encoder escapes both, and the escape byte, wherever they occur after the first
    byte and before the end byte, the checksum right before the end byte too; the framer
    reads the frame back."""
    frame = FrameSpec(
        start=b"\x02", length=7, end=0x03, escape=0x7D, checksum="sum8", checksum_start=1,
        fields=(FieldSpec("a", 1, "u8"),),
    )  # fmt: skip
    raw = h("02 03 7D 02 81 03 03")  # its sum is 03, an end byte
    assert checksum("sum8", raw[1:5]) == raw[5:6]
    assert stuff(frame, raw) == h("02 7D 23 7D 5D 7D 22 81 7D 23 03")
    assert FrameFramer(frame, 64).feed(stuff(frame, raw)) == [raw]


def test_stuff_escapes_the_last_byte_of_a_frame_without_an_end_byte() -> None:
    """XBee API frames (7E, a length, the data, one's complement checksum; escape 7D): no end
    byte, so the last byte is stuffed as any other, here a checksum of 7D."""
    frame = FrameSpec(
        start=b"\x7e", length_offset=1, length_size=2, length_adjust=1, checksum="ones8",
        checksum_start=3, escape=0x7D, fields=(FieldSpec("api", 3, "u8"),),
    )  # fmt: skip
    raw = h("7E 00 02 80 02 7D")
    assert checksum("ones8", raw[3:5]) == b"\x7d"
    assert stuff(frame, raw) == h("7E 00 02 80 02 7D 5D")
    assert FrameFramer(frame, 64).feed(stuff(frame, raw)) == [raw]


def test_unstuff_without_flags_escapes_every_byte() -> None:
    """Without delimiters to keep (``flags``), the byte after an escape byte is always read
    XORed, whichever it is."""
    assert unstuff(b"\x7d\x5e\x7d\x58\x7d\x7e", 0x7D) == (b"\x7e\x78\x5e", False, 0)


#: An SPS30's reply to "read measured values" while it does not measure: state 0x43, command
#: not allowed in the current state (Sensirion's SPS30 datasheet, SHDLC error codes)
SPS30_NOT_ALLOWED = h("7E 00 03 43 00 B9 7E")


def test_an_sps30_reply_with_an_error_state_is_a_frame_whose_values_are_invalid() -> None:
    """The state byte is the frame's status: a reply with an error state is cut as a frame
    (no skipped bytes, the frames around it read in any chunking), and decoding it is a parse
    error ``invalid`` that names the state."""
    assert checksum("ones8", SPS30_NOT_ALLOWED[1:-2]) == SPS30_NOT_ALLOWED[-2:-1]
    stream = SPS30_FRAMES[0] + SPS30_NOT_ALLOWED + SPS30_FRAMES[1]
    spec, max_frame_bytes = spec_of(SPS30)
    codec = codec_for("frames")
    decode = codec.decoder(spec)
    for size in (1, 3, 7, len(stream)):
        framer = codec.framer(spec, b"", max_frame_bytes)
        frames = [f for i in range(0, len(stream), size) for f in framer.feed(stream[i : i + size])]
        assert len(frames) == 3
        assert framer.skipped_bytes == 0
        assert round(dict(decode(frames[2]))["pm2_5_ug_m3"], 1) == SPS30_VALUES[1][0]
        with pytest.raises(
            ParseError, match="status 0x43 at byte 3; its values are valid with 0x00"
        ) as raised:
            decode(frames[1])
        assert raised.value.reason == "invalid"
    # through a sensor: counted, the good frames' readings kept
    added = per_block(parse_config(SPS30), SPS30_FRAMES[0], SPS30_NOT_ALLOWED, SPS30_FRAMES[1])
    assert [a["errors"] for a in added] == [{}, {"invalid": 1}, {}]
    assert [a["readings"] for a in added] == [4, 0, 4]


def test_an_sps30_that_only_reports_an_error_state_is_pointed_at_the_device() -> None:
    """Frames come and every one holds an error state: no reading, and the sensor's hint
    says that the device marks its values invalid (not to check the wiring)."""
    text = "\n".join(
        line for line in SPS30.splitlines() if not line.startswith(("poll =", "setup ="))
    )
    hint = hint_after_repeats(
        lambda port: parse_config(text.replace("/dev/ttyUSB0", port)).sensors[0],
        SPS30_NOT_ALLOWED,
    )
    assert hint is not None
    assert hint.startswith("frames come, but every one is rejected (invalid "), hint
    assert "check the device, which marks its frames invalid by their status byte" in hint, hint


def test_values_marked_not_measured_elsewhere_give_no_such_hint() -> None:
    """A value the device marks as not measured without a status byte (parse.invalid's
    ``ERR``; a Modbus register's not_available, an inverter asleep at night) is no sign of a
    fault: the count starts afresh, as for a reading."""
    text = """
[[sensors]]
name = "s"
port = "/dev/ttyUSB0"
format = "value"
parse = { invalid = ["ERR"] }
  [[sensors.channels]]
  name = "v"
"""
    assert (
        hint_after_repeats(
            lambda port: parse_config(text.replace("/dev/ttyUSB0", port)).sensors[0], b"ERR\n"
        )
        is None
    )


def table_of(text: str) -> str:
    """The keys of the one sensor of ``text`` after its name and port."""
    lines = text.strip().splitlines()
    return "\n".join(line for line in lines[1:] if not line.startswith(("name =", "port =")))


def ze08(ppb: int) -> bytes:
    """A ZE08-CH2O upload frame (range 2000 ppb) holding ``ppb``, its own checksum."""
    body = b"\x17\x04\x00" + ppb.to_bytes(2, "big") + b"\x07\xd0"
    return b"\xff" + body + bytes([-sum(body) & 0xFF])


@pytest.mark.parametrize(
    ("old", "new", "spec"),
    [
        ("checksum_start = 1", "checksum_start = 0", "twos8 from byte 0"),  # the start byte too
        (
            'checksum = "twos8"',
            'checksum = "sum8"',
            "sum8 from byte 1",
        ),  # the sum, not its negation
    ],
)
def test_a_frame_spec_whose_checksum_is_another_variant_is_told_which_holds(
    old: str, new: str, spec: str
) -> None:
    """A spec of its own with the checksum a byte off, or another kind: the stale hint names
    the variant that holds over every candidate, and the spec with it reads them."""
    frames = b"".join(ze08(ppb) for ppb in (37, 41, 40, 52))
    assert old in ZE08
    with PtyPair() as pair:
        event = stale_event(pair, table_of(ZE08.replace(old, new)), frames)
    assert event["hint"] == (
        f"4 candidates of 9 bytes starting ff 17 came, and none holds the frame spec's checksum "
        f'({spec}): twos8 from byte 1 holds over every one, so checksum = "twos8", '
        "checksum_start = 1 reads them (if the device's datasheet agrees)"
    ), event["hint"]
    got, _ = read_chunked(ZE08, frames, 5)
    assert got == [[37.0], [41.0], [40.0], [52.0]]


def test_a_frame_spec_whose_length_is_not_the_frames_is_told_their_spacing() -> None:
    """PM1006 frames read as 19 bytes long: the start bytes recur every 20."""
    frames = b"".join(
        h(text)
        for text in (
            "16 11 0B 00 00 00 0C 00 00 03 CB 00 00 00 0C 01 00 00 00 E7",
            "16 11 0B 00 00 00 0D 00 00 03 C5 00 00 00 23 02 00 00 16 BE",
        )
    )
    with PtyPair() as pair:
        event = stale_event(
            pair, table_of(PM1006.replace("length = 20", "length = 19")), frames * 2
        )
    assert event["hint"].startswith(
        "the start bytes 16 11 0b recur every 20 bytes (3 of the 3 gaps between them), and the "
        "frame spec reads 19-byte frames: if the device's frames are 20 bytes long, length = 20 "
        "reads them"
    ), event["hint"]


def test_a_start_byte_that_noise_repeats_is_not_taken_for_a_frame_length() -> None:
    """An idle line read at the wrong speed gives runs of FF; with FF as the start byte their
    spacing (1 byte) is no length the layout can hold, and no hint suggests it."""
    text = ZE08.replace("start = '\\xff\\x17'", "start = '\\xff'")
    assert text != ZE08
    noise = bytes([0xFF] * 60 + [0x12, 0xFF, 0xFF, 0x80] * 10)
    with PtyPair() as pair:
        event = stale_event(pair, table_of(text), noise)
    assert "recur every" not in event["hint"], event["hint"]
    assert event["hint"].startswith("candidates starting ff gave no frame"), event["hint"]


def test_damaged_frames_of_a_right_spec_are_not_taken_for_another_variant() -> None:
    """Frames whose data bytes were spoilt on the way hold no variant: the framer's hint."""
    frames = b"".join(
        bytes([b ^ 0x10 if i == 5 else b for i, b in enumerate(ze08(ppb))]) for ppb in (37, 41, 40)
    )
    with PtyPair() as pair:
        event = stale_event(pair, table_of(ZE08), frames)
    assert event["hint"].startswith("candidates starting ff 17 gave no frame"), event["hint"]


#: A Cubic CM1106's reply to its read command: CO2 in bytes 3..4, status bits in byte 5 (bit 0
#: preheating; ESPHome's cm1106 component takes any bit set as no reading), the two's
#: complement checksum last; here read with a mask of bit 0 alone, to test the mask
CM1106 = """
[[sensors]]
name = "co2"
port = "/dev/ttyUSB0"
format = "frames"
poll = { request = '\\x11\\x01\\x01\\xed', interval_s = 2 }
  [sensors.frame]
  start = '\\x16\\x05\\x01'
  length = 8
  checksum = "twos8"
  status_offset = 5
  status_mask = 0x01
  status_ok = [0]
    [[sensors.frame.fields]]
    name = "co2"
    offset = 3
    type = "u16be"
  [[sensors.channels]]
  name = "co2_ppm"
  field = "co2"
"""


def cm1106(ppm: int, status: int) -> bytes:
    body = b"\x16\x05\x01" + ppm.to_bytes(2, "big") + bytes([status, 0])
    return body + bytes([-sum(body) & 0xFF])


@pytest.mark.parametrize(
    ("status", "valid"), [(0x00, True), (0x02, True), (0x01, False), (0x03, False)]
)
def test_a_status_mask_reads_only_the_bits_it_names(status: int, valid: bool) -> None:
    if valid:
        got, _ = read_chunked(CM1106, cm1106(626, status), 3)
        assert got == [[626.0]]
        return
    spec, max_frame_bytes = spec_of(CM1106)
    codec = codec_for("frames")
    [frame] = codec.framer(spec, b"", max_frame_bytes).feed(cm1106(626, status))
    with pytest.raises(ParseError, match=f"status 0x{status:02X} at byte 5 \\(masked 0x01\\)"):
        codec.decoder(spec)(frame)


def test_the_encoder_writes_a_valid_status() -> None:
    """A simulated device's frames carry the first of ``status_ok``, so they read back."""
    text = CM1106.replace("status_ok = [0]", "status_ok = [1]").replace("status_mask = 0x01", "")
    spec, _ = spec_of(text)
    codec = codec_for("frames")
    [sent] = codec.encoder(spec)({"co2": 800.0}, 0.0)
    assert sent[5] == 1
    assert codec.decoder(spec)(sent) == [("co2_ppm", 800.0)]


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("status_offset = 5", "", "sensors[0].frame.status_ok: needs status_offset"),
        ("status_ok = [0]", "", "sensors[0].frame.status_ok: give the values of the status byte"),
        (
            "status_ok = [0]",
            "status_ok = [2]",
            "sensors[0].frame.status_ok: 0x02 has bits outside status_mask 0x01",
        ),
        (
            "status_ok = [0]",
            "status_ok = [256]",
            "sensors[0].frame.status_ok: must be byte values 0..255",
        ),
        (
            "status_offset = 5",
            "status_offset = 8",
            "sensors[0].frame.status_offset: byte 8 is past the 8-byte frame",
        ),
        (
            "status_offset = 5",
            "status_offset = 2",
            "sensors[0].frame.status_offset: bytes [2, 3) overlap the start bytes",
        ),
        (
            "status_offset = 5",
            "status_offset = 7",
            "sensors[0].frame.status_offset: bytes [7, 8) overlap the checksum",
        ),
        (
            "status_offset = 5",
            "status_offset = 4",
            "sensors[0].frame.fields[0].offset: bytes [3, 5) overlap the status byte",
        ),
    ],
)
def test_check_names_the_status_key(old: str, new: str, expected: str) -> None:
    assert old in CM1106
    problems = errors(CM1106.replace(old, new))
    assert any(p.startswith(expected) for p in problems), problems


def errors(text: str) -> list[str]:
    try:
        parse_config(text)
    except ConfigError as exc:
        return exc.problems
    return []


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ("escape = 0x7d", "escape = 0x7e", "sensors[0].frame.escape: 0x7E is the first start byte"),
        (
            "length_size = 1\n",
            "",
            "sensors[0].frame.length_adjust: needs a length field (length_size) to adjust",
        ),
        (
            "length_adjust = 2",
            "length_adjust = 2\n  length = 300",
            "sensors[0].frame.length: a 1-byte length field counting the bytes after it (plus "
            "length_adjust 2) cannot give 293 (at most 255)",
        ),
        (
            "length_adjust = 2",
            "length_adjust = 200",
            "sensors[0].frame.reply_length: 7 is shorter than any frame of this spec: a length "
            "field of 0 gives 205 bytes (the bytes up to the end of the length field and "
            "length_adjust 200)",
        ),
        (
            "reply_length = 7",
            "reply_length = 5",
            "sensors[0].frame.reply_length: 5 is shorter than any frame of this spec: a length "
            "field of 0 gives 7 bytes (the bytes up to the end of the length field and "
            "length_adjust 2)",
        ),
    ],
)
def test_check_names_the_key(old: str, new: str, expected: str) -> None:
    assert old in SPS30
    assert any(p.startswith(expected) for p in errors(SPS30.replace(old, new))), errors(
        SPS30.replace(old, new)
    )


@pytest.mark.parametrize(
    ("old", "new", "key", "escaped"),
    [
        (
            "start = '\\x7e\\x00\\x03'",
            'start = "7E 00 03"',
            "frame.start",
            "\\x7e\\x00\\x03",
        ),
        (
            "request = '\\x7e\\x00\\x03\\x00\\xfc\\x7e'",
            "request = '7e 00 03 00 fc 7e'",
            "poll.request",
            "\\x7e\\x00\\x03\\x00\\xfc\\x7e",
        ),
        (
            "reply_length = 7",
            'reply_length = 7\n  boot_offset = 5\n  boot_bytes = "FF\tFF"',
            "frame.boot_bytes",
            "\\xff\\xff",
        ),
        (
            'send = "7E 00 00 02 01 03 F9 7E"',
            'send_text = "7E 00 00 02 01 03 F9 7E"',
            "setup[0].send_text",
            "\\x7e\\x00\\x00\\x02\\x01\\x03\\xf9\\x7e",
        ),
    ],
)
def test_bytes_written_in_hex_where_escapes_are_read_are_refused_with_the_escapes(
    old: str, new: str, key: str, escaped: str
) -> None:
    """``setup`` takes hex; ``start``, ``boot_bytes`` and ``poll.request`` take text with
    escapes, and would read ``"7E 00"`` as its five characters: the one error names the key
    and the escapes that say what was meant (the frame's own checks, of start bytes it was not
    meant to have, are left out)."""
    assert old in SPS30
    problems = errors(SPS30.replace(old, new))
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"sensors[0].{key}: "), problems
    assert "not as hex" in problems[0]
    assert f"'{escaped}'" in problems[0]
    # what the message offers reads back as the bytes meant
    fixed = SPS30.replace(old, new.replace(new.rsplit("=", 1)[1].strip(), f"'{escaped}'", 1))
    assert errors(fixed) == []


def test_text_that_looks_like_hex_is_a_line_device_s_request_to_write() -> None:
    """A text device's poll may well be ``"01 03"``: only a binary frame's keys are checked."""
    text = """
[[sensors]]
name = "scale"
port = "/dev/ttyUSB0"
format = "value"
poll = { request = "01 03", interval_s = 1 }
  [[sensors.channels]]
  name = "kg"
"""
    assert errors(text) == []
    assert parse_config(text).sensors[0].poll_requests() == (b"01 03",)


@pytest.mark.parametrize("text", [PM1006, SDS198, HPMA115, A02YYUW, ZE08, SPS30, TFMINI, CM1106])
def test_every_spec_here_is_valid(text: str) -> None:
    assert errors(text) == []


LD2410_BASIC = bytes.fromhex("F4 F3 F2 F1 0D 00 02 AA 02 51 00 00 00 00 3B 00 00 55 00 F8 F7 F6 F5")
LD2410_ENGINEERING = bytes.fromhex(
    "F4 F3 F2 F1 23 00 01 AA 03 1E 00 3C 00 00 39 00 00 08 08 3C 22 05 03 03 04 03 06 05 00 00"
    " 39 10 13 06 06 08 04 60 01 55 00 F8 F7 F6 F5"
)
LD2410 = """
[[sensors]]
name = "radar"
port = "sim://radar"
format = "frames"
serial = { baudrate = 256000 }
frame = { start = '\\xf4\\xf3\\xf2\\xf1', length_offset = 4, length_size = 2, length_byteorder = "little", length_adjust = 4, end = 0xf5, fields = [
  { name = "state", offset = 8, type = "u8" },
  { name = "moving_distance", offset = 9, type = "u16le" },
  { name = "gate0_moving_energy", offset = 19, type = "u8" },
] }
channels = [
  { name = "target_state", field = "state" },
  { name = "moving_distance_cm", field = "moving_distance" },
  { name = "gate0_moving_energy_percent", field = "gate0_moving_energy" },
]
"""


@pytest.mark.parametrize("size", [1, 5, 100])
def test_a_field_past_the_bytes_a_length_field_counts_is_not_in_that_frame(size: int) -> None:
    """An LD2410's gate energies come in its engineering frames only: in a basic frame their
    offset holds the end marker (F8), which the length field does not count. The channel is
    left out of the basic frame rather than given 248; the others are read from both."""
    values, framer = read_chunked(LD2410, LD2410_BASIC + LD2410_ENGINEERING, size)
    assert values == [[2.0, 0x51], [3.0, 30.0, 60.0]]
    assert framer.frames == 2
    spec, _ = spec_of(LD2410)
    decode = codec_for("frames").decoder(spec)
    assert decode(LD2410_BASIC) == [("target_state", 2.0), ("moving_distance_cm", 81.0)]


def test_text_lines_where_frames_are_expected_point_at_the_output_mode() -> None:
    """A TF-Luna left in its text output ("PIX" format: ``1.23`` and CR LF) sends well-formed
    bytes without a frame start: the hint says text came, not to check the baud rate."""
    spec, max_frame_bytes = spec_of(TFMINI)
    framer = codec_for("frames").framer(spec, b"", max_frame_bytes)
    text = b"1.23\r\n1.24\r\n1.22\r\n"
    assert framer.feed(text) == []
    hint = framer.no_frame_hint(text)
    assert "lines of text (the last: '1.22')" in hint, hint
    assert "check its output mode" in hint
    noise = bytes(range(128, 160))  # what a wrong baud rate gives
    assert "check the serial settings" in framer.no_frame_hint(noise)


def test_check_notes_a_field_in_the_bytes_a_length_field_does_not_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Such a field is read only from frames long enough that it is counted: ``check`` says
    so for the LD2410's engineering value, and of no other field."""
    path = tmp_path / "radar.toml"
    path.write_text(LD2410)
    assert main(["check", "--no-devices", str(path)]) == 0
    out = capsys.readouterr().out
    assert "note: gate0_moving_energy reach into the last 4 bytes of the smallest frame" in out
    assert "state," not in out.split("note:")[1]


@given(
    raw=st.integers(0, 0xFFFF),
    decimals=st.sampled_from([1, 2, 3]),
    bias_units=st.integers(-400_000, 400_000),
    negative=st.booleans(),
)
def test_a_decimal_scale_and_bias_read_a_field_as_the_decimal_it_is(
    raw: int, decimals: int, bias_units: int, negative: bool
) -> None:
    """A field at scale 0.1 (0.01, 0.001, or their negatives) and a bias of as many decimals
    reads as the nearest float of its exact decimal value (a JBD's NTC at 2934 with scale 0.1
    and bias -273.1 is 20.3, not 20.299999999999955), as ``normalize`` does."""
    scale = (-1 if negative else 1) * float(f"1e-{decimals}")
    bias = float(Fraction(bias_units, 10**decimals))
    field = f'{{ name = "t", offset = 1, type = "u16be", scale = {scale!r}, bias = {bias!r} }}'
    text = (
        '[[sensors]]\nname = "s"\nport = "/dev/ttyUSB0"\nformat = "frames"\n'
        f"frame = {{ start = '\\xaa', length = 3, fields = [{field}] }}\n"
        'channels = [{ name = "t" }]\n'
    )
    spec, _ = spec_of(text)
    [(_, value)] = codec_for("frames").decoder(spec)(b"\xaa" + raw.to_bytes(2, "big"))
    exact = Fraction(raw) * Fraction(repr(scale)) + Fraction(repr(bias))
    assert value == float(exact)


def test_a_jbd_refusal_is_invalid_and_its_spec_checks_clean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A JBD answers a request it refuses with status 0x80 and no data: a 7-byte frame whose
    checksum holds, counted ``invalid`` (the device's state), not damage; ``sensord check``
    finds nothing to say of the README's spec."""
    refusal = h("DD 03 80 00 FF 80 77")
    spec, max_frame_bytes = spec_of(JBD)
    codec = codec_for("frames")
    framer = codec.framer(spec, b"", max_frame_bytes)
    [frame] = framer.feed(b"\x00" + refusal)
    with pytest.raises(ParseError) as caught:
        codec.decoder(spec)(frame)
    assert caught.value.reason == "invalid"
    path = tmp_path / "jbd.toml"
    path.write_text(JBD)
    assert main(["check", "--no-devices", str(path)]) == 0
    out = capsys.readouterr().out
    assert "note" not in out, out


#: a spec whose checksum covers the data alone (checksum_start = 3, after a command byte it
#: does not name), its length byte counting the bytes after it but the checksum
DATA_SUM = """
[[sensors]]
name = "dev"
port = "/dev/ttyUSB0"
format = "frames"
  [sensors.frame]
  start = '\\xaa'
  length_offset = 1
  length_size = 1
  length_adjust = 1
  checksum = "sum8"
  checksum_start = 3
  fields = [
    { name = "a", offset = 3, type = "u16be" },
    { name = "b", offset = 5, type = "u16be" },
  ]
  [[sensors.channels]]
  name = "a"
  field = "a"
  [[sensors.channels]]
  name = "b"
  field = "b"
"""


@pytest.mark.parametrize("size", [1, 3, 100])
def test_a_candidate_too_short_for_the_checksum_s_range_is_no_frame(size: int) -> None:
    """Noise whose length byte announces a frame shorter than the bytes the checksum covers
    (AA 00 00) is refused as a length no frame has, and the frame after it is read."""
    data = bytes([1, 2, 3, 4])
    frame = b"\xaa\x05\x01" + data + bytes([sum(data) & 0xFF])
    got, framer = read_chunked(DATA_SUM, b"\xaa\x00\x00" + frame, size)
    assert got == [[258.0, 772.0]]
    assert framer.frames == 1


def _sps30(data: bytes) -> bytes:
    body = bytes([0, 3, 0, len(data)]) + data
    return b"\x7e" + body + bytes([0xFF - (sum(body) & 0xFF)]) + b"\x7e"


def test_a_frame_shorter_than_the_field_table_is_refused_not_read_as_if_laid_out_like_it() -> None:
    """An SPS30 started in its integer output format sends 27-byte frames of u16 values: the
    README's float spec refuses them (the stale hint names their announced length), and
    never reads floats out of the integers' bytes."""
    floats = _sps30(struct.pack(">10f", 3, 5, 6, 7, 20, 24, 25, 25, 25, 0.6))
    integers = _sps30(struct.pack(">10H", 3, 5, 6, 7, 20, 24, 25, 25, 25, 600))
    got, framer = read_chunked(SPS30, floats + integers + integers, 100)
    assert len(got) == 1
    assert framer.rejected["syntax"] == 2
    assert "announce 27-byte frames" in framer.no_frame_hint(integers * 3)


@given(st.binary(max_size=200), st.integers(1, 20))
@example(b"\xaa\x01\x00\x00", 1)  # 4 bytes, as short as the fields of every kind allow
@example(b"\xaa\x01\x00\x00\xaa\x02\x00\x00\x00", 20)
@example(b"\xaa\x03", 1)  # a frame of its own that takes the next frame's first 4 bytes
def test_no_bytes_make_the_framer_of_a_spec_with_kinds_and_a_late_checksum_range_raise(
    noise: bytes, size: int
) -> None:
    """With kinds, the framer cuts frames shorter than the field table; never one too short
    for the range its checksum covers, whatever the bytes. The frame after the noise is read,
    unless the noise began a frame of its own whose length and checksum hold and which takes
    the frame's first bytes (``AA 03 AA 05 01 01``: the first whole frame is the one read)."""
    text = DATA_SUM.replace("  checksum_start = 3\n", "  checksum_start = 4\n  kind_offset = 2\n")
    text = text.replace('type = "u16be" }', 'type = "u16be", kind = 1 }')
    assert errors(text) == []
    data = bytes([1, 2, 3, 4])
    frame = b"\xaa\x05\x01" + data + bytes([sum(data[1:]) & 0xFF])
    spec, max_frame_bytes = spec_of(text)
    framer = codec_for("frames").framer(spec, b"", max_frame_bytes)
    stream = noise + frame
    frames = [f for i in range(0, len(stream), size) for f in framer.feed(stream[i : i + size])]
    frames += framer.flush()  # what a candidate that noise began holds back
    if frames[-1:] != [frame]:
        [*_, last] = frames
        begins = [i for i in range(len(noise)) if stream.startswith(last, i)]
        assert any(len(noise) < i + len(last) for i in begins), (frames, noise)
        alone = codec_for("frames").framer(spec, b"", max_frame_bytes)
        assert alone.feed(last) + alone.flush() == [last]  # a frame, on its own


@pytest.mark.parametrize("size", [1, 5, 100])
def test_end_bytes_of_several_are_all_checked(size: int) -> None:
    """An LD2410's frames end F8 F7 F6 F5 and carry no checksum: with all four end bytes, a
    candidate whose last byte is F5 but whose other end bytes are not (noise that began
    with the start bytes) is no frame; the real ones are read as with one end byte."""
    # (without the gate energy, which the end bytes of a basic frame would hold)
    one = LD2410.replace('  { name = "gate0_moving_energy", offset = 19, type = "u8" },\n', "")
    one = one.replace(
        '  { name = "gate0_moving_energy_percent", field = "gate0_moving_energy" },\n', ""
    )
    four = one.replace("end = 0xf5", 'end = "F8 F7 F6 F5"')
    assert errors(four) == []
    fake = LD2410_BASIC[:-4] + b"\x00\x00\x00\xf5"
    values, framer = read_chunked(four, fake + LD2410_BASIC + LD2410_ENGINEERING, size)
    assert values == [[2.0, 0x51], [3.0, 30.0]]
    assert framer.rejected["syntax"] == 1
    with_one, _ = read_chunked(one, fake + LD2410_BASIC, size)
    assert len(with_one) == 2  # with F5 alone the fake passes


def test_end_bytes_place_the_checksum_before_them_and_the_encoder_writes_them() -> None:
    """An MR24HPC1's frames end 54 43 after their sum: with end = "54 43" the sum is found
    before both, no checksum_offset needed, and the simulator writes both."""
    text = (
        "[[sensors]]\nname = 'radar'\nport = '/dev/ttyUSB0'\nformat = 'frames'\n"
        "frame = { start = '\\x53\\x59', length_offset = 4, length_size = 2, length_adjust = 3,"
        ' end = "54 43", checksum = "sum8", fields = [{ name = "p", offset = 6, type = "u8" }] }\n'
        "channels = [{ name = 'presence', field = 'p' }]\n"
    )
    assert errors(text) == []
    frame = h("53 59 80 01 00 01 01 2F 54 43")
    spec, _ = spec_of(text)
    assert read_chunked(text, frame, 3)[0] == [[1.0]]
    assert codec_for("frames").encoder(spec)({"p": 1.0}, 0.0) == [
        h("53 59 00 00 00 01 01 AE 54 43")
    ]
    stuffed = text.replace('checksum = "sum8"', 'checksum = "sum8", escape = 0x7d')
    assert any("byte stuffing takes one end byte" in p for p in errors(stuffed))


def test_a_flush_reads_a_frame_with_a_stuffed_escape_byte_that_a_cut_candidate_held_back() -> None:
    """A reply cut short after its length field's place (``7E 00 03 00``: the next reply's
    ``7E`` read as its length), then a whole reply that holds an escaped escape byte (``7D
    5D``), at the end of a replay: the cut candidate waits for bytes that never come, and
    the flush reads the reply behind it with the escape byte as it was sent."""
    spec, max_frame_bytes = spec_of(SPS30)
    assert spec.frame is not None
    reply = h(
        "7E 00 03 00 28 00 00 00 00 44 02 5D E2 00 00 00 00 43 DB E3 5A 43 8C 35 7D 5D 00 00"
        " 00 00 00 00 00 00 00 00 00 00 00 00 00 00 43 36 73 AE D9 7E"
    )
    read = unstuff(reply, 0x7D, b"\x7e")[0]
    assert FrameFramer(spec.frame, max_frame_bytes).feed(reply) == [read]
    framer = FrameFramer(spec.frame, max_frame_bytes)
    assert framer.feed(h("7E 00 03 00") + reply) == []
    assert framer.flush() == [read]
    assert framer.skipped_bytes == 4


def test_a_flush_gives_up_a_frame_begun_by_the_end_byte_before_it_at_no_cost() -> None:
    """At the end of a stream, the bytes after a frame that its end byte would begin a frame
    with, a frame not complete: the end byte is the frame's, so no byte of it is skipped;
    the bytes after it are searched as any others."""
    spec, max_frame_bytes = spec_of(SPS30)
    assert spec.frame is not None
    framer = FrameFramer(spec.frame, max_frame_bytes)
    assert len(framer.feed(SPS30_FRAMES[0] + SPS30_FRAMES[1][1:10])) == 1
    assert framer.skipped_bytes == 0
    assert framer.flush() == []
    assert framer.skipped_bytes == 9
