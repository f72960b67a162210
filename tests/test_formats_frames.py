"""``format = "frames"``: the frame spec, its framer's resynchronisation, the presets.

Fixtures and their origins:

* SDS011: ``AA C0 D4 04 3A 0A A1 60 1D AB``, the example reply in Nova Fitness' "Laser Dust
  Sensor Control Protocol V1.3" (PM2.5 = 0x04D4 / 10 = 123.6, PM10 = 0x0A3A / 10 = 261.8).
* MH-Z19: the read request ``FF 01 86 00 00 00 00 00 79`` from Winsen's MH-Z19B datasheet; the
  reply is laid out as that datasheet's command table says (``FF 86``, CO2 high, low), its
  values chosen here and its checksum computed by hand: 0x100 - (0x86+0x02+0x60+0x47) & 0xFF.
* PMS5003: a 32-byte frame laid out as Plantower's PMS5003 datasheet (2016 v2.3, "Transport
  Protocol - Active Mode") describes it, values chosen here, its sum computed in the test by a
  loop of its own.
* Commands: MH-Z19B datasheet (read ``FF 01 86 .. 79``, detection range 2000 ppm
  ``FF 01 99 00 00 00 07 D0 8F``); SDS011 Laser Dust Sensor Control Protocol V1.3 (set query
  mode, query data); PMS5003 datasheet appendix (passive mode ``42 4D E1 00 00 01 70``,
  passive read ``42 4D E2 00 00 01 71``). The ABC on/off bytes and the SDS011 working period
  of 1 minute are computed here by hand with the datasheets' rules (``FF 01 79 A0 .. E6``,
  ``FF 01 79 00 .. 86``; ``08 01 01`` + FF FF sums to 0x208: ``08``).
* CRC check values of the CRC catalogue ("123456789": CRC-16/MODBUS 0x4B37, CRC-8/SMBUS 0xF4,
  CRC-16/XMODEM 0x31C3, CRC-16/IBM-3740 0x29B1)
  and the Modbus RTU request ``01 03 00 00 00 0A C5 CD`` (read 10 holding registers of unit 1).
"""

from __future__ import annotations

import math
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from test_frames_generic import SPS30, TFMINI, errors, spec_of

from sensord import cli
from sensord.config import load_config, parse_config
from sensord.errors import EXIT_INVALID, ConfigError, ParseError
from sensord.formats import codec_for, frames_checksums
from sensord.formats.base import FieldSpec, FormatSpec, FrameSpec
from sensord.formats.frames import (
    FrameFramer,
    announced_length,
)
from sensord.formats.frames_check import check
from sensord.formats.frames_checksums import checksum
from sensord.formats.frames_decode import status_ok_shown
from sensord.formats.presets import MHZ19_RANGES_HINT, PRESETS
from sensord.sources.simulated import SimulatedDevice

REPO = Path(__file__).resolve().parent.parent
SDS011_DATASHEET = bytes.fromhex("AA C0 D4 04 3A 0A A1 60 1D AB")
MHZ19_REQUEST_DATASHEET = bytes.fromhex("FF 01 86 00 00 00 00 00 79")
MHZ19_REPLY = bytes.fromhex("FF 86 02 60 47 00 00 00 d1")  # 608 ppm, 71 - 40 = 31 °C


def pms_frame(values: list[int]) -> bytes:
    """A PMS5003 frame of 13 data words (the 13th reserved), summed by a loop of its own."""
    body = b"\x42\x4d\x00\x1c" + b"".join(v.to_bytes(2, "big") for v in values)
    total = 0
    for byte in body:
        total += byte
    return body + (total % 65536).to_bytes(2, "big")


PMS_VALUES = [5, 7, 8, 5, 7, 8, 918, 262, 44, 4, 2, 1, 0x9700]


def sensor_spec(preset: str) -> tuple[FormatSpec, int]:
    config = parse_config(
        f'[[sensors]]\nname = "s"\nport = "sim://s"\npreset = "{preset}"\n'
    ).sensors[0]
    return config.format_spec(), config.max_frame_bytes


def read(preset: str, stream: bytes) -> list[list[tuple[str, float]]]:
    spec, max_frame_bytes = sensor_spec(preset)
    codec = codec_for("frames")
    decode = codec.decoder(spec)
    return [decode(f) for f in codec.framer(spec, b"\n", max_frame_bytes).feed(stream)]


# -- fixtures ------------------------------------------------------------------------------------


def test_sds011_datasheet_frame() -> None:
    assert read("sds011", SDS011_DATASHEET) == [[("pm2_5_ug_m3", 123.6), ("pm10_ug_m3", 261.8)]]


def test_mhz19_reply_and_the_computed_request() -> None:
    assert read("mhz19", MHZ19_REPLY) == [[("co2_ppm", 608.0), ("temperature_celsius", 31.0)]]
    config = parse_config('[[sensors]]\nname = "c"\nport = "/dev/ttyUSB0"\npreset = "mhz19"\n')
    assert config.sensors[0].poll_requests() == (MHZ19_REQUEST_DATASHEET,)


def test_an_mhz19_reply_whose_bytes_sum_to_256_has_checksum_00() -> None:
    """The MH-Z19B datasheet's checksum is the 8-bit ``(NOT sum of bytes 1..7) + 1``: 00 when
    the sum is a multiple of 256. ``FF 86 02 3B 3D 00 00 00 00`` (571 ppm, 61 - 40 = 21 °C) is
    such a reply, as sensord's simulated MH-Z19 sends it; the mh-z19 Python package's
    ``checksum()`` gives 00 for it too, while PyPMS 0.8.1 computes ``0x100 - sum % 0x100``
    (0x100, no byte) and rejects it."""
    reply = bytes.fromhex("FF 86 02 3B 3D 00 00 00 00")
    assert sum(reply[1:8]) == 0x100
    assert read("mhz19", reply) == [[("co2_ppm", 571.0), ("temperature_celsius", 21.0)]]
    assert checksum("twos8", reply[1:8]) == b"\x00"


def test_pms5003_frame_gives_the_documented_channels() -> None:
    [readings] = read("pms5003", pms_frame(PMS_VALUES))
    assert readings == [
        ("pm1_0_standard_ug_m3", 5.0),
        ("pm2_5_standard_ug_m3", 7.0),
        ("pm10_standard_ug_m3", 8.0),
        ("pm1_0_ug_m3", 5.0),
        ("pm2_5_ug_m3", 7.0),
        ("pm10_ug_m3", 8.0),
        ("particles_0_3um_per_dl", 918.0),
        ("particles_0_5um_per_dl", 262.0),
        ("particles_1_0um_per_dl", 44.0),
        ("particles_2_5um_per_dl", 4.0),
        ("particles_5_0um_per_dl", 2.0),
        ("particles_10um_per_dl", 1.0),
    ]


@pytest.mark.parametrize(
    ("kind", "data", "expected"),
    [
        ("crc16_modbus", b"123456789", "374b"),
        ("crc16_modbus", bytes.fromhex("01 03 00 00 00 0A"), "c5cd"),
        ("crc8", b"123456789", "f4"),
        ("crc16_xmodem", b"123456789", "31c3"),
        ("crc16_ccitt_false", b"123456789", "29b1"),
        ("crc16_mcrf4xx", b"123456789", "916f"),  # 0x6F91, low byte first
        ("crc16_x25", b"123456789", "6e90"),  # 0x906E
        # a Lufft VS20k-UMB's reply to an online data request (its manual, 10.1.4), SOH to ETX
        (
            "crc16_mcrf4xx",
            bytes.fromhex("01 10 16 F0 01 30 0A 02 23 10 00 59 02 16 00 00 FA 44 03"),
            "5e11",
        ),
        ("sum8", bytes.fromhex("D4 04 3A 0A A1 60"), "1d"),
        ("twos8", bytes.fromhex("01 86 00 00 00 00 00"), "79"),
        ("ones8", bytes.fromhex("00 00 02 01 03"), "f9"),  # SPS30 datasheet: start measurement
        ("xor8", bytes([0x0F, 0xF0, 0x01]), "fe"),
        ("sum16be", bytes([0xFF] * 300), "2ad4"),  # 300 * 255 = 0x12AD4
        ("sum16le", bytes([0xFF] * 300), "d42a"),
    ],
)
def test_checksum_kinds(kind: str, data: bytes, expected: str) -> None:
    assert checksum(kind, data).hex() == expected


def ccitt_bitwise(data: bytes, crc: int) -> int:
    """The CCITT polynomial 0x1021, not reflected, bit by bit from ``crc``."""
    for byte in data:
        crc ^= byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021 if crc & 0x8000 else crc << 1) & 0xFFFF
    return crc


@given(st.binary(max_size=300))
def test_the_ccitt_crcs_are_the_bitwise_ones(data: bytes) -> None:
    assert checksum("crc16_xmodem", data) == ccitt_bitwise(data, 0).to_bytes(2, "big")
    assert checksum("crc16_ccitt_false", data) == ccitt_bitwise(data, 0xFFFF).to_bytes(2, "big")


def test_the_crc8_table_is_the_one_of_crc8_smbus() -> None:
    """The table ``crc8`` reads, built when the module is imported, is CRC-8/SMBUS's (poly
    0x07, not reflected): each entry the remainder of its byte, bit by bit, and the catalogue's
    check value 0xF4 for "123456789" folded through it."""
    table = frames_checksums._crc8_table()
    assert table == frames_checksums._CRC8
    assert len(table) == 256
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x107) if crc & 0x80 else crc << 1
        assert table[byte] == crc, byte
    assert table[:8] == (0x00, 0x07, 0x0E, 0x09, 0x1C, 0x1B, 0x12, 0x15)
    crc = 0
    for byte in b"123456789":
        crc = table[crc ^ byte]
    assert crc == 0xF4


def test_a_packet_with_an_xmodem_crc_is_read_and_one_with_a_changed_byte_is_not() -> None:
    """A Davis Vantage LOOP packet's layout (Vantage Serial Protocol 2.6: "LOO", 99 bytes,
    the barometer in thousandths of inHg at byte 7, CRC-16/XMODEM over the packet, high byte
    first); values chosen here, its CRC computed bit by bit."""
    body = bytearray(97)
    body[0:3] = b"LOO"
    body[7:9] = (29952).to_bytes(2, "little")
    body[95:97] = b"\n\r"
    packet = bytes(body) + ccitt_bitwise(bytes(body), 0).to_bytes(2, "big")
    assert ccitt_bitwise(packet, 0) == 0  # over the whole packet: 0, as the protocol says
    spec = FormatSpec(
        "frames",
        (("barometer_inhg", "barometer"),),
        frame=FrameSpec(
            start=b"LOO",
            length=99,
            checksum="crc16_xmodem",
            fields=(FieldSpec("barometer", 7, "u16le", 0.001),),
        ),
    )
    codec = codec_for("frames")
    framer = codec.framer(spec, b"", 512)
    damaged = packet[:20] + b"\x01" + packet[21:]
    frames = framer.feed(damaged + packet)
    assert [codec.decoder(spec)(frame) for frame in frames] == [[("barometer_inhg", 29.952)]]
    assert framer.rejected.get("checksum") == 1


# -- resynchronisation ---------------------------------------------------------------------------


def pms_framer() -> FrameFramer:
    spec, max_frame_bytes = sensor_spec("pms5003")
    assert spec.frame is not None
    return FrameFramer(spec.frame, max_frame_bytes)


def test_a_frame_inside_a_rejected_candidate_is_found() -> None:
    """A frame lost a byte; the candidate it starts runs 1 byte into the next frame and fails
    its checksum; the next frame, which starts inside it, is still read."""
    good = pms_frame(PMS_VALUES)
    damaged = good[:10] + good[11:]
    framer = pms_framer()
    assert framer.feed(damaged + good) == [good]
    assert framer.rejected == {"checksum": 1, "syntax": 0}
    assert framer.skipped_bytes == len(damaged)


def test_start_bytes_in_data_and_checksum() -> None:
    """A frame with 0x424D particles (the start bytes) and a checksum whose low byte is 0x42,
    after a cut frame: the cut frame's candidate and the start bytes inside it are rejected, and
    every whole frame is read. (A PMS sum cannot be 0x424D: 30 bytes sum to at most 6773.)"""
    values = list(PMS_VALUES)
    values[6] = 0x424D
    values[12] = 0
    values[12] = (0x42 - sum(pms_frame(values)[:30])) % 256
    trap = pms_frame(values)
    assert trap[-1] == 0x42
    assert trap[16:18] == b"\x42\x4d"
    good = pms_frame(PMS_VALUES)
    framer = pms_framer()
    stream = trap + trap[:20] + trap + trap + good
    assert framer.feed(stream) == [trap, trap, trap, good]
    assert framer.skipped_bytes == 20
    assert framer.rejected["checksum"] + framer.rejected["syntax"] == 2  # at 0 and 16 of the cut


def test_a_bogus_length_is_not_waited_for() -> None:
    good = pms_frame(PMS_VALUES)
    framer = pms_framer()
    # 0xFFFF bytes announced: rejected at once, not after 64 KiB
    assert framer.feed(b"\x42\x4d\xff\xff" + good) == [good]
    assert framer.overlong == 1
    # a length within the bound but not the preset's 28: rejected at once too
    assert framer.feed(b"\x42\x4d\x00\x1e" + good) == [good]
    assert framer.rejected["syntax"] == 1
    assert framer.skipped_bytes == 8


#: A PMS5003's reply to passive mode (42 4D 00 04, the command E1, its data byte, the sum).
PMS_PASSIVE_REPLY = bytes.fromhex("42 4D 00 04 E1 00 01 74")


def test_a_reply_to_a_command_is_a_frame_without_values_not_an_error() -> None:
    """A reply that comes when nothing awaits it (late, or to another program's command) is
    cut as a frame and decodes to no values; one with a wrong sum is rejected as noise, and
    the data frames around both are read."""
    good = pms_frame(PMS_VALUES)
    spoilt = PMS_PASSIVE_REPLY[:-1] + b"\x75"
    framer = pms_framer()
    frames = [
        f for piece in (good[:5], good[5:] + PMS_PASSIVE_REPLY[:3]) for f in framer.feed(piece)
    ]
    frames += framer.feed(PMS_PASSIVE_REPLY[3:] + good + spoilt + good)
    assert frames == [good, PMS_PASSIVE_REPLY, good, good]
    assert framer.rejected == {"checksum": 1, "syntax": 0}
    assert framer.skipped_bytes == len(spoilt)
    spec, _ = sensor_spec("pms5003")
    decode = codec_for("frames").decoder(spec)
    assert decode(PMS_PASSIVE_REPLY) == []
    assert len(decode(good)) == 12
    with pytest.raises(
        ParseError, match="a 11-byte frame, shorter than the 32 bytes its layout takes"
    ):
        decode(b"\x42\x4d\x00\x05" + bytes(7))


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"length_size": 0, "length_offset": 0},
            "needs a length field (length_size) to tell replies apart",
        ),
        ({"reply_length": 32}, "is the length of the data frames"),
        ({"reply_length": 5}, "the checksum is not inside a 5-byte reply after its header"),
        ({"reply_length": 70000}, "a 2-byte length field cannot give 70000 bytes"),
        (
            {"length": None, "reply_length": 40},
            "must be shorter than the shortest data frame (30 bytes) when the length field "
            "gives the frames' length",
        ),
    ],
)
def test_a_reply_length_is_checked(changes: dict[str, Any], expected: str) -> None:
    spec, _ = sensor_spec("pms5003")
    assert spec.frame is not None
    frame = replace(spec.frame, **changes)
    assert check(replace(spec, frame=frame)) == [("frame.reply_length", expected)]


def test_a_length_field_without_a_fixed_length_waits_at_most_max_frame_bytes() -> None:
    frame = FrameSpec(
        start=b"\x7e",
        length_offset=1,
        length_size=1,
        length_counts="frame",
        checksum="crc16_modbus",
        checksum_start=1,
        fields=(FieldSpec("v", 2, "i16le"),),
    )
    framer = FrameFramer(frame, 64)
    good = b"\x7e\x06\x05\x00" + checksum("crc16_modbus", b"\x06\x05\x00")
    assert framer.feed(b"\x7e\x30" + b"\x00" * 10 + good) == []  # waiting for 48 bytes
    assert framer.feed(b"\x00" * 36) == [good]  # the 48 bytes failed; the frame inside is read
    assert framer.rejected == {"checksum": 1, "syntax": 0}
    assert framer.feed(b"\x7e\x41" + good) == [good]  # 65 > 64: overlong at once
    assert framer.overlong == 1


def test_at_the_end_of_the_stream_a_frame_behind_a_candidate_that_never_completes_is_read() -> None:
    """``flush``: the candidate waiting for 48 bytes fails at the end of the stream, and the
    whole frame inside it is read; a last partial frame is skipped bytes."""
    frame = FrameSpec(
        start=b"\x7e",
        length_offset=1,
        length_size=1,
        length_counts="frame",
        checksum="crc16_modbus",
        checksum_start=1,
        fields=(FieldSpec("v", 2, "i16le"),),
    )
    framer = FrameFramer(frame, 64)
    good = b"\x7e\x06\x05\x00" + checksum("crc16_modbus", b"\x06\x05\x00")
    assert framer.feed(b"\x7e\x30\x00\x00" + good + good[:3]) == []
    assert framer.flush() == [good]
    assert (framer.frames, framer.skipped_bytes) == (1, 4 + 3)
    assert framer.flush() == []
    assert framer.feed(good) == [good]


def test_reset_forgets_a_partial_frame() -> None:
    good = pms_frame(PMS_VALUES)
    framer = pms_framer()
    assert framer.feed(good[:20]) == []
    framer.reset()
    assert framer.feed(good[20:] + good) == [good]
    assert framer.frames == 1


def test_the_decoder_raises_only_parse_errors() -> None:
    spec, _ = sensor_spec("pms5003")
    decode = codec_for("frames").decoder(spec)
    good = pms_frame(PMS_VALUES)
    for bad in (b"", good[:-1], good + b"\x00", b"\x00" + good[1:], good[:3] + b"\x1d" + good[4:]):
        with pytest.raises(ParseError) as info:
            decode(bad)
        assert info.value.reason == "syntax"


def test_a_nonfinite_float_field_is_rejected() -> None:
    frame = FrameSpec(start=b"\x01", length=5, fields=(FieldSpec("f", 1, "f32le"),))
    spec = FormatSpec("frames", (("f", "f"),), frame=frame)
    decode = codec_for("frames").decoder(spec)
    assert decode(b"\x01\x00\x00\xc0\x3f") == [("f", 1.5)]
    with pytest.raises(ParseError) as info:
        decode(b"\x01\x00\x00\x80\x7f")
    assert info.value.reason == "nonfinite"


# -- property: valid frames through garbage, whatever the chunking -------------------------------

CUSTOM = FrameSpec(
    start=b"\x7e\x7e",
    length_offset=2,
    length_size=2,
    length_byteorder="little",
    length_counts="frame",
    end=0x0D,
    checksum="crc16_modbus",
    checksum_start=2,
    fields=(FieldSpec("a", 4, "i32be"), FieldSpec("b", 8, "f32le")),
)


def preset_frame(name: str) -> FrameSpec:
    frame = sensor_spec(name)[0].frame
    assert frame is not None
    return frame


SPECS = {
    "pms5003": preset_frame("pms5003"),
    "sds011": preset_frame("sds011"),
    "mhz19": preset_frame("mhz19"),
    "custom": CUSTOM,
    "xor8": replace(preset_frame("sds011"), checksum="xor8"),
    "crc8": replace(preset_frame("mhz19"), checksum="crc8"),
    "crc16_xmodem": replace(preset_frame("pms5003"), checksum="crc16_xmodem"),
}


def valid_at(frame: FrameSpec, data: bytes, pos: int) -> int:
    """The length of a valid frame starting at ``pos`` (0: none), by reading the spec
    directly: an oracle independent of the framer's search."""
    if not data.startswith(frame.start, pos):
        return 0
    n = frame.length
    if frame.length_size:
        lo = pos + frame.length_offset
        field = data[lo : lo + frame.length_size]
        if len(field) < frame.length_size:
            return 0
        given = int.from_bytes(field, frame.length_byteorder)  # type: ignore[arg-type]
        given += 0 if frame.length_counts == "frame" else frame.length_offset + frame.length_size
        if (n is not None and given != n) or given < 12 or given > 512:
            return 0
        n = given
    assert n is not None
    candidate = data[pos : pos + n]
    if len(candidate) < n or (frame.end is not None and candidate[-1] != frame.end):
        return 0
    width = len(checksum(frame.checksum, b""))
    at = n - width - (1 if frame.end is not None else 0)
    return (
        n
        if checksum(frame.checksum, candidate[frame.checksum_start : at])
        == candidate[at : at + width]
        else 0
    )


@st.composite
def frames_of(draw: st.DrawFn, frame: FrameSpec) -> bytes:
    """A valid frame; one in four has checksum bytes forced to repeat the start bytes."""
    codec = codec_for("frames")
    spec = FormatSpec("frames", tuple((f.name, f.name) for f in frame.fields), frame=frame)
    values = {f.name: float(draw(st.integers(0, 255), label=f.name)) for f in frame.fields}
    data = codec.encoder(spec)(values, 0.0)[0]
    if frame.checksum in {"sum8", "sum16be"} and draw(st.booleans()):
        # set the first field's low byte so that the sum's last byte is the first start byte
        low = frame.fields[0].offset + (1 if frame.fields[0].type.endswith("be") else 0)
        scratch = bytearray(data)
        scratch[low] = 0
        sum_at = (
            len(data)
            - (2 if frame.checksum == "sum16be" else 1)
            - (1 if frame.end is not None else 0)
        )
        partial = sum(scratch[frame.checksum_start : sum_at])
        scratch[low] = (frame.start[0] - partial) % 256
        width = 2 if frame.checksum == "sum16be" else 1
        scratch[sum_at : sum_at + width] = checksum(
            frame.checksum, bytes(scratch[frame.checksum_start : sum_at])
        )
        data = bytes(scratch)
        assert data[sum_at + width - 1] == frame.start[0]
    return data


@st.composite
def streams(draw: st.DrawFn) -> tuple[FrameSpec, list[bytes], bytes, list[int]]:
    """Valid frames with junk before each and after the last, one closing frame, and zeros."""
    frame = SPECS[draw(st.sampled_from(sorted(SPECS)))]
    frames = draw(st.lists(frames_of(frame), max_size=8))
    closing = draw(frames_of(frame))
    junk = st.lists(
        st.one_of(st.binary(max_size=6), st.just(frame.start), st.sampled_from([b"\x00", b"\xff"])),
        max_size=4,
    ).map(b"".join)
    parts: list[bytes] = []
    garbage_at: list[range] = []
    for data in frames:
        g = draw(junk)
        garbage_at.append(range(sum(map(len, parts)), sum(map(len, parts)) + len(g)))
        parts += [g, data]
    tail = draw(junk)
    garbage_at.append(range(sum(map(len, parts)), sum(map(len, parts)) + len(tail)))
    # a candidate that junk starts holds back the frames inside it until it is complete (at
    # most 512 bytes): zeros after the last frame complete it
    stream = b"".join([*parts, tail, closing, bytes(512)])
    frames.append(closing)
    # garbage that happens to begin a valid frame is a frame: leave such streams out
    assume(not any(valid_at(frame, stream, p) for r in garbage_at for p in r))
    cuts = sorted(draw(st.lists(st.integers(0, len(stream)), max_size=12)))
    return frame, frames, stream, cuts


@settings(max_examples=400, deadline=None)
@given(streams())
def test_valid_frames_come_out_of_any_garbage_and_any_chunking(
    case: tuple[FrameSpec, list[bytes], bytes, list[int]],
) -> None:
    frame, frames, stream, cuts = case
    framer = FrameFramer(frame, 512)
    got: list[bytes] = []
    start = 0
    for point in [*cuts, len(stream)]:
        got += framer.feed(stream[start:point])
        start = point
    assert got == frames
    assert framer.frames == len(frames)
    # everything but the frames is skipped, except what may begin a start sequence
    pending = len(frame.start) - 1
    assert framer.skipped_bytes == len(stream) - sum(map(len, frames)) - pending


def test_the_oracle_can_fail() -> None:
    """The property above compares with an oracle that rejects a damaged frame."""
    good = pms_frame(PMS_VALUES)
    assert valid_at(SPECS["pms5003"], good, 0) == 32
    assert valid_at(SPECS["pms5003"], good[:-1] + b"\x00", 0) == 0


# -- presets -------------------------------------------------------------------------------------


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_preset_round_trips_through_its_decoder(preset: str) -> None:
    spec, max_frame_bytes = sensor_spec(preset)
    codec = codec_for("frames")
    assert codec.check(spec) == []
    assert spec.frame is not None
    scale = {f.name: f.scale for f in spec.frame.fields}
    values = {field: 17.0 + 3 * i for i, (_, field) in enumerate(spec.fields)}
    frames = codec.encoder(spec)(values, 0.0)
    framer = codec.framer(spec, b"\n", max_frame_bytes)
    assert framer.feed(b"".join(frames)) == frames
    decoded = dict(codec.decoder(spec)(frames[0]))
    for channel, field in spec.fields:
        assert decoded[channel] == pytest.approx(values[field], abs=scale[field] / 2)


def test_frame_lengths_of_the_presets() -> None:
    for name, n in (
        ("pms5003", 32),
        ("pms7003", 32),
        ("pmsa003", 32),
        ("sds011", 10),
        ("mhz19", 9),
    ):
        spec = sensor_spec(name)[0]
        [frame] = codec_for("frames").encoder(spec)({spec.fields[0][1]: 1.0}, 0.0)
        assert len(frame) == n


# -- configuration -------------------------------------------------------------------------------

CUSTOM_TOML = """
[[sensors]]
name = "probe"
port = "/dev/ttyUSB0"
format = "frames"
max_frame_bytes = 64
  [sensors.frame]
  start = "\\\\x7e\\\\x7e"
  length_offset = 2
  length_size = 2
  length_byteorder = "little"
  length_counts = "frame"
  end = 0x0D
  checksum = "crc16_modbus"
  checksum_start = 2
    [[sensors.frame.fields]]
    name = "a"
    offset = 4
    type = "i32be"
    [[sensors.frame.fields]]
    name = "b"
    offset = 8
    type = "f32le"
    scale = 0.5
  [[sensors.channels]]
  name = "a"
  [[sensors.channels]]
  name = "b_doubled"
  field = "b"
"""


def config_errors(text: str) -> list[str]:
    try:
        parse_config(text)
    except ConfigError as exc:
        return exc.problems
    return []


def test_a_custom_spec_loads_as_the_frame_spec() -> None:
    spec = parse_config(CUSTOM_TOML).sensors[0].format_spec()
    assert spec.frame is not None
    assert replace(spec.frame, fields=()) == replace(CUSTOM, fields=())
    assert spec.frame.fields == (FieldSpec("a", 4, "i32be"), FieldSpec("b", 8, "f32le", 0.5))
    assert spec.fields == (("a", "a"), ("b_doubled", "b"))


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        (
            'offset = 8\n    type = "f32le"',
            'offset = 2\n    type = "f32le"',
            "sensors[0].frame.fields[1].offset: bytes [2, 6) overlap the length field [2, 4)",
        ),
        (
            'offset = 8\n    type = "f32le"',
            'offset = 6\n    type = "f32le"',
            "sensors[0].frame.fields[1].offset: bytes [6, 10) overlap field 'a' [4, 8)",
        ),
        (
            "checksum_start = 2",
            "checksum_start = 2\n  checksum_end = -1",
            "sensors[0].frame.checksum_end: the covered range includes the checksum itself",
        ),
        (
            "checksum_start = 2",
            "checksum_start = 2\n  checksum_offset = 3",
            "sensors[0].frame.checksum_offset: bytes [3, 5) overlap the length field [2, 4)",
        ),
        (
            "checksum_start = 2",
            "checksum_start = 20",
            "sensors[0].frame.checksum_start: the covered range [20, 12) is not inside the "
            "15-byte frame",
        ),
        (
            "checksum_start = 2",
            "checksum_start = 12",
            "sensors[0].frame.checksum_start: the covered range [12, 12) is empty: "
            "checksum_start must come before the checksum at byte 12 (or set checksum_end)",
        ),
        (
            "checksum_start = 2",
            "checksum_start = 2\n  checksum_end = 2",
            "sensors[0].frame.checksum_start: the covered range [2, 2) is empty: "
            "checksum_start (2, byte 2) must come before checksum_end (2, byte 2)",
        ),
        (
            "checksum_start = 2",
            "checksum_start = 2\n  checksum_end = 16",
            "sensors[0].frame.checksum_end: the covered range [2, 16) is not inside the "
            "15-byte frame",
        ),
        (
            'field = "b"',
            'field = "c"',
            "sensors[0].channels[1].field: 'c' is not a field of the frame (its fields, from the "
            "preset or frame.fields: a, b)",
        ),
        (
            "length_size = 2",
            "length_size = 0",
            "sensors[0].frame.length: give the frame's length or a length field (length_size)",
        ),
        (
            "max_frame_bytes = 64",
            "max_frame_bytes = 16\n  parse = {}",
            "",
        ),
        (
            "length_size = 2",
            "length_size = 2\n  length = 13",
            "sensors[0].frame.fields[1].offset: bytes [8, 12) overlap the checksum [10, 12)",
        ),
        (
            'format = "frames"',
            'format = "csv"',
            "sensors[0].frame: is only used by format 'frames'",
        ),
        (
            "length_size = 2",
            "length_size = 1\n  length = 300",
            "sensors[0].frame.length: a 1-byte length field counting the whole frame cannot "
            "give 300 (at most 255): no 300-byte frame would ever be accepted",
        ),
        (
            'length_size = 2\n  length_byteorder = "little"\n  length_counts = "frame"',
            'length_size = 1\n  length_byteorder = "little"\n  length_counts = "after"\n'
            "  length = 261",
            "sensors[0].frame.length: a 1-byte length field counting the bytes after it cannot "
            "give 258 (at most 255): no 261-byte frame would ever be accepted",
        ),
    ],
)
def test_check_names_the_key_of_every_inconsistency(old: str, new: str, expected: str) -> None:
    assert old in CUSTOM_TOML
    problems = config_errors(CUSTOM_TOML.replace(old, new))
    assert (expected in problems) if expected else problems == []


def test_max_frame_bytes_must_hold_the_frame() -> None:
    text = CUSTOM_TOML.replace("max_frame_bytes = 64", "max_frame_bytes = 16").replace(
        "length_size = 2", "length_size = 2\n  length = 20"
    )
    assert config_errors(text) == [
        "sensors[0].max_frame_bytes: must hold the 20-byte frame, got 16"
    ]


THREE_LINES = '[[sensors]]\nname = "air"\nport = "/dev/ttyUSB0"\npreset = "{}"\n'


def test_three_lines_read_a_preset_sensor() -> None:
    sensor = parse_config(THREE_LINES.format("sds011")).sensors[0]
    assert sensor.format == "frames"
    assert [c.name for c in sensor.channels] == ["pm2_5_ug_m3", "pm10_ug_m3"]
    assert sensor.poll is None
    assert sensor.serial.baudrate == 9600


def test_a_preset_sensor_may_choose_its_own_channels() -> None:
    text = THREE_LINES.format("pms5003") + '[[sensors.channels]]\nname = "pm2_5_ug_m3"\n'
    sensor = parse_config(text).sensors[0]
    assert [c.name for c in sensor.channels] == ["pm2_5_ug_m3"]
    [readings] = read_with(sensor.format_spec(), pms_frame(PMS_VALUES))
    assert readings == [("pm2_5_ug_m3", 7.0)]


def read_with(spec: FormatSpec, stream: bytes) -> list[list[tuple[str, float]]]:
    codec = codec_for("frames")
    decode = codec.decoder(spec)
    return [decode(f) for f in codec.framer(spec, b"\n", 512).feed(stream)]


def test_preset_errors() -> None:
    assert config_errors(THREE_LINES.format("pms9999"))[0].startswith(
        "sensors[0].preset: must be one of"
    )
    # one error, not one per preset channel that the other format cannot read
    for other in ("kv", "value"):
        assert config_errors(THREE_LINES.format("pms5003") + f'format = "{other}"\n') == [
            "sensors[0].format: preset 'pms5003' is read with format 'frames': leave format "
            "out (the preset sets it)"
        ]


# -- simulation ----------------------------------------------------------------------------------


@pytest.mark.parametrize("preset", sorted(PRESETS))
def test_every_preset_simulator_round_trips_through_framer_and_decoder(preset: str) -> None:
    sensor = parse_config(
        THREE_LINES.format(preset) + "simulation = { seed = 7, garbage_rate = 0.2 }\n"
    ).sensors[0]
    spec = sensor.format_spec()
    device = SimulatedDevice(
        spec, sensor.signal_specs(), 1.0, sensor.terminator, sensor.simulation_spec(), 0.0
    )
    stream = b"".join(device.bytes_due(t + 0.5) for t in range(300))
    assert device.garbage_written > 20
    codec = codec_for("frames")
    framer = codec.framer(spec, sensor.terminator, sensor.max_frame_bytes)
    decode = codec.decoder(spec)
    frames = framer.feed(stream) + framer.feed(bytes(64))
    assert len(frames) == device.frames_written == 300 - device.garbage_written
    # the stream is the frames and the garbage, nothing else (no terminator)
    pending = len(spec.frame.start) - 1 if spec.frame else 0
    assert len(stream) + 64 == sum(map(len, frames)) + framer.skipped_bytes + pending
    channels = [c.name for c in sensor.channels]
    for frame in frames:
        assert [channel for channel, _ in decode(frame)] == channels


def test_the_example_config_reads_a_pm1006_frame() -> None:
    """systemd/sensord.toml's custom spec: a PM1006 frame laid out as Cubic's PM1006 datasheet
    says (16 11 0B, PM2.5 in DF3-DF4, all 20 bytes sum to 0), values chosen here."""
    sensor = load_config(REPO / "systemd" / "sensord.toml").sensor("vindriktning")
    body = bytes.fromhex("16 11 0B 00 00 00 2E 00 00 03 3A 00 00 00 1C 01 00 00 00")
    frame = body + bytes([-sum(body) % 256])
    assert sum(frame) % 256 == 0
    assert read_with(sensor.format_spec(), b"\x16\x11" + frame) == [[("pm2_5_ug_m3", 46.0)]]
    assert load_config(REPO / "systemd" / "sensord.toml").sensor("particulates").preset == "pms5003"


# -- commands ------------------------------------------------------------------------------------

SDS_TAIL = "00 00 00 00 00 00 00 00 00 00 FF FF"


@pytest.mark.parametrize(
    ("preset", "command", "expected"),
    [
        ("mhz19", "read", "FF 01 86 00 00 00 00 00 79"),
        ("mhz19", "range=2000", "FF 01 99 00 00 00 07 D0 8F"),
        ("mhz19", "abc_on", "FF 01 79 A0 00 00 00 00 E6"),
        ("mhz19", "abc_off", "FF 01 79 00 00 00 00 00 86"),
        ("sds011", "query_mode", f"AA B4 02 01 01 {SDS_TAIL} 02 AB"),
        ("sds011", "query", f"AA B4 04 00 00 {SDS_TAIL} 02 AB"),
        ("sds011", "working_period=1", f"AA B4 08 01 01 {SDS_TAIL} 08 AB"),
        ("pms5003", "passive_mode", "42 4D E1 00 00 01 70"),
        ("pmsa003", "read", "42 4D E2 00 00 01 71"),
    ],
)
def test_commands_are_the_datasheets_bytes(preset: str, command: str, expected: str) -> None:
    # polled, since query and passive mode need a poll to ask the device
    ask = "query" if preset == "sds011" else "read"
    poll = f'poll = {{ command = "{ask}", interval_s = 2 }}\n'
    text = THREE_LINES.format(preset) + f'setup = ["{command}"]\n' + poll
    [(name, data, _)] = parse_config(text).sensors[0].setup_steps()
    assert (name, data) == (command, bytes.fromhex(expected))


def test_setup_and_poll_commands_in_order() -> None:
    text = (
        THREE_LINES.format("pms5003")
        + 'setup = ["wakeup", "passive_mode"]\npoll = { command = "read", interval_s = 2 }\n'
    )
    sensor = parse_config(text).sensors[0]
    steps = sensor.setup_steps()
    assert [name for name, _, _ in steps] == ["wakeup", "passive_mode"]
    assert [data for _, data, _ in steps] == [
        bytes.fromhex("42 4D E4 00 01 01 74"),
        bytes.fromhex("42 4D E1 00 00 01 70"),
    ]
    # passive mode is acknowledged, wakeup is not
    assert [len(acks) for _, _, acks in steps] == [0, 1]
    assert sensor.poll_requests() == (bytes.fromhex("42 4D E2 00 00 01 71"),)


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (
            'setup = ["range=1500"]',
            f"sensors[0].setup[0]: range: N must be one of 2000, 5000, 10000 ({MHZ19_RANGES_HINT})",
        ),
        ('setup = ["abc_on=1"]', "sensors[0].setup[0]: 'abc_on' takes no number"),
        ('setup = ["range"]', "sensors[0].setup[0]: 'range' needs a number: range=N"),
        (
            'setup = ["x"]',
            "sensors[0].setup[0]: mhz19 has no command 'x'; it has read, abc_on, abc_off, range",
        ),
        (
            'poll = { command = "query", interval_s = 1 }',
            "sensors[0].poll.command: mhz19 has no command 'query'; it has read, abc_on, abc_off, range",
        ),
        (
            'poll = { request = "x", command = "read", interval_s = 1 }',
            "sensors[0].poll.request: give either request or command",
        ),
    ],
)
def test_command_errors_name_their_key(extra: str, expected: str) -> None:
    assert config_errors(THREE_LINES.format("mhz19") + extra + "\n") == [expected]


PMS_ASKED = (
    '"passive_mode" makes the PMS5003 send only when asked, and no poll asks it: add '
    'poll = { command = "read", interval_s = 2 } (any interval), or leave out "passive_mode"'
)
SDS011_ASKED = (
    '"query_mode" makes the SDS011 send only when asked, and no poll asks it: add '
    'poll = { command = "query", interval_s = 2 } (any interval), or leave out "query_mode"'
)


@pytest.mark.parametrize(
    ("preset", "setup", "expected"),
    [
        ("pms5003", '["passive_mode"]', f"sensors[0].setup[0]: {PMS_ASKED}"),
        ("sds011", '["query_mode"]', f"sensors[0].setup[0]: {SDS011_ASKED}"),
        # the last command that sets the reporting mode is the one named
        (
            "pms5003",
            '["passive_mode", "active_mode", "sleep", "passive_mode", "wakeup"]',
            f"sensors[0].setup[3]: {PMS_ASKED}",
        ),
        (
            "pms5003st",
            '["passive_mode"]',
            f"sensors[0].setup[0]: {PMS_ASKED.replace('PMS5003', 'PMS5003ST')}",
        ),
        (
            "sds011",
            '["working_period=0", "query_mode"]',
            f"sensors[0].setup[1]: {SDS011_ASKED}",
        ),
    ],
)
def test_a_set_up_that_makes_the_device_wait_to_be_asked_needs_a_poll(
    preset: str, setup: str, expected: str
) -> None:
    """A PMS in passive mode or an SDS011 in query mode with nothing that asks it would fall
    silent for good after the set-up: the configuration is refused, naming the command and
    the poll that asks (the preset's own command)."""
    text = THREE_LINES.format(preset) + f"setup = {setup}\n"
    assert config_errors(text) == [expected]
    ask = "query" if preset == "sds011" else "read"
    assert config_errors(text + f'poll = {{ command = "{ask}", interval_s = 2 }}\n') == []
    assert config_errors(text + 'poll = { request = "x", interval_s = 2 }\n') == []


@pytest.mark.parametrize(
    ("preset", "setup", "expected"),
    [
        ("pms5003", '["sleep"]', 'setup[0]: "sleep" leaves the PMS5003 asleep'),
        ("pms5003", '["wakeup", "passive_mode", "sleep"]', 'setup[2]: "sleep" leaves'),
        ("sds011", '["sleep", "work", "sleep"]', 'setup[2]: "sleep" leaves the SDS011 asleep'),
    ],
)
def test_a_set_up_that_leaves_the_device_asleep_is_refused(
    preset: str, setup: str, expected: str
) -> None:
    """An asleep device sends nothing, asked or not: a set-up whose last sleep command no
    wake command follows is refused, poll or no poll, naming the wake command."""
    text = THREE_LINES.format(preset) + f"setup = {setup}\n"
    ask = "query" if preset == "sds011" else "read"
    for table in (text, text + f'poll = {{ command = "{ask}", interval_s = 2 }}\n'):
        [error] = config_errors(table)
        assert error.startswith(f"sensors[0].{expected}")
        wake = "work" if preset == "sds011" else "wakeup"
        assert error.endswith(f'add "{wake}" after it, or leave it out')


@pytest.mark.parametrize(
    ("preset", "setup"),
    [
        ("pms5003", '["passive_mode", "active_mode"]'),
        ("pms5003", '["wakeup", "active_mode"]'),
        ("sds011", '["query_mode", "active_mode"]'),
        ("sds011", '["work", "active_mode", "working_period=0"]'),
        ("pms5003", '["sleep", "wakeup"]'),
        ("sds011", '["sleep", "work"]'),
    ],
)
def test_a_set_up_that_ends_streaming_needs_no_poll(preset: str, setup: str) -> None:
    assert config_errors(THREE_LINES.format(preset) + f"setup = {setup}\n") == []


def test_check_refuses_a_device_that_nothing_asks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "sensord.toml"
    text = '[[sensors]]\nname = "pm"\nport = "sim://pm"\npreset = "pms5003"\n'
    config.write_text(text + 'setup = ["passive_mode"]\n')
    assert cli.main(["check", str(config)]) == EXIT_INVALID
    assert f"sensors[0].setup[0] (sensor 'pm'): {PMS_ASKED}" in capsys.readouterr().err
    config.write_text(
        text + 'setup = ["passive_mode"]\npoll = { command = "read", interval_s = 2 }\n'
    )
    assert cli.main(["check", str(config)]) == 0


@pytest.mark.parametrize(
    ("extra", "stale_after"),
    [
        ("", 5.0),
        ('setup = ["working_period=0"]\n', 5.0),
        ('setup = ["working_period=1"]\n', 120.0),
        ('setup = ["work", "working_period=5", "active_mode"]\n', 360.0),
        ('setup = ["working_period=30"]\n', 1860.0),
        # the last working period written is the one in force
        ('setup = ["working_period=5", "working_period=0"]\n', 5.0),
        ('setup = ["working_period=0", "working_period=2"]\n', 180.0),
        # a poll slower than the period keeps its own three intervals
        (
            'setup = ["query_mode", "working_period=1"]\n'
            'poll = { command = "query", interval_s = 100 }\n',
            300.0,
        ),
        # the key, when given, is what the user chose
        ('setup = ["working_period=5"]\nstale_after_s = 10.0\n', 10.0),
    ],
)
def test_an_sds011_working_period_lengthens_the_default_stale_timeout(
    extra: str, stale_after: float
) -> None:
    """An SDS011 with a working period of N minutes sends one frame every N minutes: unless
    ``stale_after_s`` is given, it is stale only after N minutes and a minute more."""
    sensor = parse_config(THREE_LINES.format("sds011") + extra).sensors[0]
    assert sensor.stale_after == stale_after


@pytest.mark.parametrize(
    ("poll", "expected"),
    [
        # the preset's read request, at the sensor's own interval
        ("{ interval_s = 10 }", ((), "read", 10.0)),
        # the sensor's own command, at the preset's interval
        ('{ command = "abc_on" }', ((), "abc_on", 5.0)),
        # a request of its own replaces the preset's command
        ('{ request = "x", interval_s = 1 }', ((b"x",), None, 1.0)),
        ('{ command = "read", interval_s = 2 }', ((), "read", 2.0)),
    ],
)
def test_a_poll_table_is_merged_key_by_key_with_the_presets(
    poll: str, expected: tuple[tuple[bytes, ...], str | None, float]
) -> None:
    sensor = parse_config(THREE_LINES.format("mhz19") + f"poll = {poll}\n").sensors[0]
    assert sensor.poll is not None
    assert (sensor.poll.request, sensor.poll.command, sensor.poll.interval_s) == expected
    if sensor.poll.command == "read":
        assert sensor.poll_requests() == (MHZ19_REQUEST_DATASHEET,)


def test_a_poll_of_a_preset_without_one_is_the_sensors_own() -> None:
    assert config_errors(THREE_LINES.format("pms5003") + "poll = { interval_s = 10 }\n") == [
        "sensors[0].poll.request: give either request or command"
    ]
    assert config_errors(THREE_LINES.format("mhz19") + "poll = 10\n") == [
        "sensors[0].poll: must be a table, got integer 10"
    ]


def test_commands_by_name_need_a_preset() -> None:
    text = CUSTOM_TOML.replace("max_frame_bytes = 64", 'max_frame_bytes = 64\nsetup = ["read"]')
    assert config_errors(text) == ["sensors[0].setup[0]: commands by name need a preset"]


def test_a_framer_refuses_a_bound_that_cannot_hold_a_frame() -> None:
    frame = FrameSpec(start=b"\x01", length=100, fields=(FieldSpec("v", 1, "u8"),))
    with pytest.raises(ValueError, match="max_frame_bytes 64 cannot hold a frame"):
        FrameFramer(frame, 64)
    assert FrameFramer(frame, 100).feed(b"\x01" + bytes(99)) == [b"\x01" + bytes(99)]


def test_a_preset_channel_whose_field_is_misspelt_is_told_the_preset_fields() -> None:
    """A channel of a preset's sensor names a field the preset does not have: the error lists
    the preset's fields (the user wrote no frame.fields table) and the closest one."""
    text = (
        '[[sensors]]\nname = "air"\nport = "sim://air"\npreset = "pms5003"\n'
        '  [[sensors.channels]]\n  name = "pm2_5"\n'
    )
    with pytest.raises(ConfigError) as raised:
        parse_config(text)
    (message,) = raised.value.problems
    assert message.startswith("sensors[0].channels[0].field: 'pm2_5' is not a field of the frame")
    assert "pm10_standard_ug_m3" in message
    assert message.endswith("did you mean 'pm2_5_ug_m3'?")


@pytest.mark.parametrize(
    ("mask", "ok", "shown"),
    [
        (0xFF, (0,), "0x00"),
        (0xFF, (0x40, 0), "0x40, 0x00"),
        (0xFF, (0, *range(2, 256)), "any but 0x01"),
        (0x7F, tuple(v for v in range(128) if v not in (3, 5)), "any but 0x03, 0x05"),
        (0x03, (0, 1), "0x00, 0x01"),  # half of the masked values: named as they are
        (0x03, (0, 1, 3), "any but 0x02"),
    ],
)
def test_the_valid_statuses_are_named_or_the_fewer_invalid_ones(
    mask: int, ok: tuple[int, ...], shown: str
) -> None:
    """A status check is told by its valid values, or, when they are most of those the mask
    lets through (the MH-Z19 preset's: every status but 1), by those that are not."""
    frame = FrameSpec(start=b"\xff", length=4, status_offset=1, status_mask=mask, status_ok=ok)
    assert status_ok_shown(frame) == shown
    assert status_ok_shown(frame, "{:02x}", "/") == shown.replace("0x", "").replace(", ", "/")


# -- what is told of a rejected candidate, and of bytes without a frame -------------------------

#: a device whose frames begin AA 55 and a little-endian 2-byte length of the bytes after it,
#: end FE FD, with a CRC-16/MODBUS from byte 2 before the end bytes
TOLD = """
[[sensors]]
name = "dev"
port = "/dev/ttyUSB0"
format = "frames"
max_frame_bytes = 64
  [sensors.frame]
  start = '\\xaa\\x55'
  length_offset = 2
  length_size = 2
  length_byteorder = "little"
  end = "FE FD"
  checksum = "crc16_modbus"
  checksum_start = 2
  fields = [ { name = "a", offset = 4, type = "u16be" } ]
  [[sensors.channels]]
  name = "a"
"""


def told_frame(payload: bytes, end: bytes = b"\xfe\xfd") -> bytes:
    body = (len(payload) + 4).to_bytes(2, "little") + payload
    return b"\xaa\x55" + body + checksum("crc16_modbus", body) + end


def told_framer() -> FrameFramer:
    config = parse_config(TOLD).sensors[0]
    framer = codec_for("frames").framer(config.format_spec(), b"", config.max_frame_bytes)
    assert isinstance(framer, FrameFramer)
    return framer


def test_a_rejected_candidate_is_told_of_by_its_bytes_and_what_was_wrong() -> None:
    """Each reason's last rejected candidate, after bytes of noise, its line for the log given
    whole: the length its little-endian length field says (plus the 4 bytes up to the field's
    end), the end bytes it has, the checksum it holds and the one its bytes give."""
    good = told_frame(b"\x12\x34")
    assert good.hex(" ") == "aa 55 06 00 12 34 0d db fe fd"
    framer = told_framer()
    assert framer.feed(b"\x00\x01\xaa\x55\x00\x01" + good) == [good]
    assert framer.last_rejected("overlong") == (
        "its length field says 260 bytes, more than max_frame_bytes",
        bytes.fromhex("AA 55 00 01"),
    )
    framer = told_framer()
    assert framer.feed(b"\x03\x00\xaa\x55\x03\x00" + good) == [good]
    assert framer.last_rejected("syntax") == (
        "its length field says 7 bytes, the length of no frame of the spec",
        bytes.fromhex("AA 55 03 00"),
    )
    framer = told_framer()
    wrong_end = told_frame(b"\x56\x78", b"\xfe\xfc")
    assert framer.feed(b"\x06\x00" + wrong_end + good) == [good]
    assert framer.last_rejected("syntax") == ("ends FE FC, not frame.end FE FD", wrong_end)
    framer = told_framer()
    damaged = good[:6] + b"\xab\xcd" + good[8:]
    assert framer.feed(b"\x06\x00" + damaged + good) == [good]
    assert framer.last_rejected("checksum") == (
        "holds the checksum AB CD at byte 6, and crc16_modbus over bytes 2 to 5 gives 0D DB",
        damaged,
    )


SERIAL_HINT = (
    "no frame start (aa 55) in the bytes: check the serial settings (baudrate, parity) and the "
    "preset or frame spec"
)


def test_bytes_without_a_frame_start_are_told_apart_as_text_lines_or_noise() -> None:
    """Two lines of text (the last cut to 40 characters, a Latin-1 degree sign in it shown as
    a replacement character) point at the device's output mode; one line, or noise, at the
    serial settings."""
    framer = told_framer()
    lines = b"1.23\r\n\r\n1.24 \xb0C and a last line longer than forty characters\r\n"
    assert framer.no_frame_hint(lines) == (
        "no frame start (aa 55) in the bytes, which are lines of text (the last: '1.24 \ufffdC "
        "and a last line longer than fort'): the device sends text, not these frames; check "
        "its output mode (a sensor set to a text or another output format), or read it with a "
        "text format"
    )
    assert framer.no_frame_hint(b"1.23\r\n") == SERIAL_HINT
    assert framer.no_frame_hint(bytes(range(128, 160)) + b"\r\n") == SERIAL_HINT


def test_the_hint_for_candidates_that_gave_no_frame_is_given_whole() -> None:
    """Candidates whose length field says one length, for a spec of a range of lengths and for
    one of a fixed length; a frame cut short; the rejections counted since the sensor
    started, none, only overlong ones, or of every reason; and a spec without start bytes."""
    announcing = b"\xaa\x55\x00\x01" * 3
    framer = told_framer()
    assert framer.no_frame_hint(announcing) == (
        "candidates starting aa 55 announce 260-byte frames in their length field, and the frame "
        "spec reads frames of 10 to 64 bytes: check the frame spec's length, or the preset"
    )
    fixed = parse_config(TOLD.replace("  length_offset", "  length = 10\n  length_offset"))
    spec = fixed.sensors[0].format_spec()
    assert codec_for("frames").framer(spec, b"", 64).no_frame_hint(announcing) == (
        "candidates starting aa 55 announce 260-byte frames in their length field, and the frame "
        "spec reads 10-byte frames: check the frame spec's length, or the preset"
    )
    good = told_frame(b"\x12\x34")
    assert framer.no_frame_hint(good[:7]) == (
        "a frame began (aa 55) and stopped after 7 of its 10 bytes, and nothing came after it: "
        "the device stopped sending in the middle of a frame (its power cut or sagging, its "
        "cable pulled), or it restarted and is silent since"
    )
    rejected = "candidates starting aa 55 gave no frame (rejected since the sensor started: {}): "
    advice = "check the frame spec's length and checksum"
    assert framer.no_frame_hint(good) == rejected.format("none") + advice
    framer.feed(b"\xaa\x55\x00\x01" + good)
    assert framer.no_frame_hint(good) == rejected.format("1 overlong") + advice
    damaged = good[:6] + b"\xab\xcd" + good[8:]
    framer.feed(damaged + told_frame(b"\x56\x78", b"\xfe\xfc") + b"\xaa\x55\x03\x00")
    assert framer.no_frame_hint(good) == (
        rejected.format("1 checksum, 2 syntax, 1 overlong") + advice
    )
    startless = TOLD.replace("  start = '\\xaa\\x55'\n", "  start = ''\n  silence_s = 0.1\n")
    startless = startless.replace("  length_offset = 2\n", "  length = 10\n")
    startless = startless.replace('  length_size = 2\n  length_byteorder = "little"\n', "")
    config = parse_config(startless).sensors[0]
    by_silences = codec_for("frames").framer(config.format_spec(), b"", 64)
    assert by_silences.feed(bytes(20)) == []
    assert by_silences.no_frame_hint(bytes(20)) == (
        "the bytes gave no frame (rejected since the sensor started: 11 syntax): " + advice
    )


def test_the_no_frame_hint_reads_byte_stuffed_bytes_as_the_framer_does() -> None:
    """An SPS30's escape byte before a frame delimiter is dropped, not read as an escaped byte:
    the start bytes after it are found, and the hint tells of a frame cut short."""
    spec, max_frame_bytes = spec_of(SPS30)
    framer = codec_for("frames").framer(spec, b"", max_frame_bytes)
    assert framer.no_frame_hint(b"\x7d\x7e\x00\x03\x00") == (
        "a frame began (7e 00 03) and stopped after 4 bytes, and nothing came after it: the "
        "device stopped sending in the middle of a frame (its power cut or sagging, its cable "
        "pulled), or it restarted and is silent since"
    )


#: frames that begin 7E A1 and end 7F, byte-stuffed with the escape byte 7D, a length byte
#: that counts the whole frame and a sum8 before the end byte
STUFFED = """
[[sensors]]
name = "dev"
port = "/dev/ttyUSB0"
format = "frames"
  [sensors.frame]
  start = '\\x7e\\xa1'
  length_offset = 2
  length_size = 1
  length_counts = "frame"
  end = 0x7f
  escape = 0x7d
  checksum = "sum8"
  fields = [ { name = "a", offset = 3, type = "u8" } ]
  [[sensors.channels]]
  name = "a"
"""
CHECK_IT = ": check frame.checksum and the range it covers"


def with_example(text: str, after: str, example: bytes) -> str:
    assert after in text
    return text.replace(after, f'{after}\n  examples = ["{example.hex(" ")}"]', 1)


@pytest.mark.parametrize(
    ("text", "after", "example", "expected"),
    [
        pytest.param(
            TOLD,
            "  checksum_start = 2",
            told_frame(b"\x12\x34") * 2,
            "is 20 bytes long, and its length field (06 00 at 2, with length_counts and "
            "length_adjust) says 10",
            id="two-frames",
        ),
        pytest.param(
            TOLD,
            "  checksum_start = 2",
            b"\x00" + told_frame(b"\x12\x34"),
            "does not begin with the start bytes AA 55",
            id="a-byte-before-a-frame",
        ),
        pytest.param(
            TOLD,
            "  checksum_start = 2",
            bytes.fromhex("AA 55 07 00 12 34 0D DB FE FD"),
            "is 10 bytes long, and its length field (07 00 at 2, with length_counts and "
            "length_adjust) says 11",
            id="little-endian-length",
        ),
        pytest.param(
            TOLD,
            "  checksum_start = 2",
            bytes.fromhex("AA 55 06 00 12 34 0D DB FE FC"),
            "ends FE FC, not frame.end FE FD",
            id="end-bytes",
        ),
        pytest.param(
            TOLD,
            "  checksum_start = 2",
            bytes.fromhex("AA 55 06 00 12 34 AB CD FE FD"),
            "holds the checksum AB CD at byte 6, and crc16_modbus over bytes 2 to 5 gives 0D DB"
            + CHECK_IT,
            id="checksum",
        ),
        pytest.param(
            TOLD,
            "  checksum_start = 2",
            bytes.fromhex("AA 55 03 00 CC FE FD"),
            "is not cut as one frame of the spec (7 bytes: check its length and layout)",
            id="shorter-than-the-fields",
        ),
        pytest.param(
            STUFFED,
            '  checksum = "sum8"',
            bytes.fromhex("7E A1 06 7D A1 00 7F"),
            "holds the checksum 00 at byte 4, and sum8 over bytes 0 to 3 gives A6" + CHECK_IT,
            id="an-escaped-second-start-byte",
        ),
        pytest.param(
            STUFFED,
            '  checksum = "sum8"',
            bytes.fromhex("7E A1 06 01 00 7D 7F"),
            "holds the checksum 00 at byte 4, and sum8 over bytes 0 to 3 gives 26" + CHECK_IT,
            id="an-escape-byte-before-the-end-byte",
        ),
        pytest.param(
            STUFFED.replace("  end = 0x7f\n", ""),
            '  checksum = "sum8"',
            bytes.fromhex("7E A1 05 7D 58 00"),
            "holds the checksum 00 at byte 4, and sum8 over bytes 0 to 3 gives 9C" + CHECK_IT,
            id="an-escaped-byte-without-an-end-byte",
        ),
        pytest.param(
            STUFFED,
            '  checksum = "sum8"',
            bytes.fromhex("7E A1 06"),
            "is 3 bytes long, and its length field (06 at 2, with length_counts and "
            "length_adjust) says 6",
            id="up-to-the-length-field",
        ),
        pytest.param(
            TFMINI,
            '  checksum = "sum8"',
            bytes.fromhex("59 59 01 02 03 04 05 06 07 08"),
            "is 10 bytes long, and frame.length is 9",
            id="fixed-length",
        ),
        pytest.param(
            TFMINI,
            '  checksum = "sum8"',
            bytes.fromhex("59 59 01 02 03 04 05 06 00"),
            "holds the checksum 00 at byte 8, and sum8 over bytes 0 to 7 gives C7" + CHECK_IT,
            id="fixed-length-checksum",
        ),
    ],
)
def test_check_says_why_an_example_is_not_a_frame_whole(
    text: str, after: str, example: bytes, expected: str
) -> None:
    """An example as a datasheet gives it, byte-stuffed as on the wire (7D A1 is A1 ^ 0x20; an
    escape byte before a delimiter is dropped): what keeps it from being one frame of the
    spec, the positions and sums those of its unstuffed bytes."""
    problems = errors(with_example(text, after, example))
    assert problems == [f"sensors[0].frame.examples[0]: {expected}"]


# -- the encoder: every field type and byte order, clamped, bit fields, kinds ---------------------

FIELD_TYPE_SIZES = {
    "u8": 1, "i8": 1, "u16be": 2, "u16le": 2, "i16be": 2, "i16le": 2,
    "u32be": 4, "u32le": 4, "i32be": 4, "i32le": 4, "f32be": 4, "f32le": 4,
}  # fmt: skip


def every_type_spec(scale: float, bias: float) -> FormatSpec:
    """A 36-byte frame (A5, a field of each type in the order above, sum8) read with
    ``raw * scale + bias``."""
    rows, offset = [], 1
    for name, size in FIELD_TYPE_SIZES.items():
        rows.append(
            f"{{ name = '{name}', offset = {offset}, type = '{name}', scale = {scale}, "
            f"bias = {bias} }}"
        )
        offset += size
    channels = "".join(
        f"  [[sensors.channels]]\n  name = 'c_{n}'\n  field = '{n}'\n" for n in FIELD_TYPE_SIZES
    )
    text = (
        "[[sensors]]\nname = 's'\nport = '/dev/ttyUSB0'\nformat = 'frames'\n  [sensors.frame]\n"
        f"  start = '\\xa5'\n  length = {offset + 1}\n  checksum = 'sum8'\n"
        f"  fields = [{', '.join(rows)}]\n{channels}"
    )
    return parse_config(text).sensors[0].format_spec()


def test_the_encoder_writes_every_field_type_in_its_byte_order_and_reads_back() -> None:
    """Each field written as ``(value - bias) / scale``: 139 is raw 258 (01 02) in each type
    and byte order of two or four bytes, 74.5 raw 0x81 in a u8, 9 raw -2 in an i8; what the
    decoder reads of the frame is what was written."""
    spec = every_type_spec(0.5, 10)
    codec = codec_for("frames")
    values = {name: 139.0 for name in FIELD_TYPE_SIZES} | {"u8": 74.5, "i8": 9.0}
    (frame,) = codec.encoder(spec)(values, 0.0)
    body = (
        "81 FE 01 02 02 01 01 02 02 01 00 00 01 02 02 01 00 00 00 00 01 02 02 01 00 00 "
        "43 81 00 00 00 00 81 43"
    )
    assert frame == bytes.fromhex("A5" + body) + bytes([(0xA5 + sum(bytes.fromhex(body))) % 256])
    assert dict(codec.decoder(spec)(frame)) == {f"c_{name}": v for name, v in values.items()}


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param(
            1e39,
            {"u8": 255, "i8": 127, "u16be": 65535, "i16le": 32767, "u32be": 2**32 - 1,
             "i32le": 2**31 - 1, "f32be": 3.4e38},
            id="past-the-top",
        ),
        pytest.param(
            -1e39,
            {"u8": 0, "i8": -128, "u16be": 0, "i16le": -32768, "u32be": 0, "i32le": -(2**31),
             "f32be": -3.4e38},
            id="past-the-bottom",
        ),
        pytest.param(
            200.0,
            {"u8": 200, "i8": 127, "u16be": 200, "i16le": 200, "u32be": 200, "i32le": 200,
             "f32be": 200.0},
            id="past-a-signed-byte",
        ),
        pytest.param(
            -127.0,
            {"u8": 0, "i8": -127, "u16be": 0, "i16le": -127, "u32be": 0, "i32le": -127,
             "f32be": -127.0},
            id="a-negative-signed-byte",
        ),
        pytest.param(
            math.nan,
            {"u8": 0, "i8": 0, "u16be": 0, "i16le": 0, "u32be": 0, "i32le": 0},
            id="not-a-number",
        ),
    ],
)  # fmt: skip
def test_the_encoder_clamps_each_value_to_what_its_type_holds(
    value: float, expected: dict[str, float]
) -> None:
    """A value past a type's range is written as its end (a float32 at ±3.4e38); not a
    number as 0 in an integer."""
    spec = every_type_spec(1.0, 0.0)
    codec = codec_for("frames")
    (frame,) = codec.encoder(spec)(dict.fromkeys(FIELD_TYPE_SIZES, value), 0.0)
    read = dict(codec.decoder(spec)(frame))
    assert {name: read[f"c_{name}"] for name in expected} == expected


BIT_FIELDS = """
[[sensors]]
name = "s"
port = "/dev/ttyUSB0"
format = "frames"
  [sensors.frame]
  start = '\\xa5'
  length = 3
  checksum = "sum8"
  fields = [
    { name = "flags", offset = 1, type = "u8" },
    { name = "b", offset = 1, type = "u8", bit = 4, bits = 2, scale = 0.5 },
  ]
  [[sensors.channels]]
  name = "flags"
  [[sensors.channels]]
  name = "b"
"""


@pytest.mark.parametrize(
    ("value", "byte"),
    [(0.0, 0xCF), (1.5, 0xFF), (2.5, 0xDF), (-0.5, 0xFF), (math.nan, 0xCF)],
)
def test_the_encoder_writes_a_bit_field_s_bits_and_keeps_the_others(
    value: float, byte: int
) -> None:
    """Bits 4 and 5 of a byte written all ones first (``flags`` = 255): ``b`` (raw * 0.5)
    sets them to its raw value modulo 4 (3, 5 and -1 are 3, 1 and 3), not a number to 0, and
    leaves the other bits set."""
    spec, _ = spec_of(BIT_FIELDS)
    (frame,) = codec_for("frames").encoder(spec)({"flags": 255.0, "b": value}, 0.0)
    assert frame == bytes([0xA5, byte, (0xA5 + byte) % 256])


def test_the_encoder_writes_a_frame_of_each_kind_with_a_value_at_kind_offset_0() -> None:
    """Frames without start bytes (cut by silences), their kind their first byte: a frame
    of each kind that has a value, in the field table's order, kind 01 left out when none
    of its values is given."""
    text = """
[[sensors]]
name = "s"
port = "/dev/ttyUSB0"
format = "frames"
  [sensors.frame]
  start = ''
  silence_s = 0.1
  kind_offset = 0
  length = 3
  checksum = "sum8"
  fields = [
    { name = "a", offset = 1, type = "u8", kind = '01' },
    { name = "b", offset = 1, type = "u8", kind = '02' },
  ]
  [[sensors.channels]]
  name = "a"
  [[sensors.channels]]
  name = "b"
"""
    spec, _ = spec_of(text)
    encode = codec_for("frames").encoder(spec)
    assert encode({"b": 7.0}, 0.0) == [bytes.fromhex("02 07 09")]
    assert encode({"a": 5.0, "b": 7.0}, 0.0) == [
        bytes.fromhex("01 05 06"),
        bytes.fromhex("02 07 09"),
    ]


#: a length byte that leaves out the last 3 bytes (two that hold no field in a short frame,
#: and the end byte F5): in a frame of 3 counted bytes, ``far`` (bytes 6 and 7) is not read
COUNTED = """
[[sensors]]
name = "s"
port = "/dev/ttyUSB0"
format = "frames"
  [sensors.frame]
  start = '\\xf4\\xf3'
  length_offset = 2
  length_size = 1
  length_adjust = 3
  end = 0xf5
  fields = [
    { name = "temp", offset = 3, type = "u16be", scale = 0.1, bias = -273.1 },
    { name = "m", offset = 5, type = "u8", scale = 2, bias = 1 },
    { name = "far", offset = 6, type = "u16be" },
  ]
  [[sensors.channels]]
  name = "far"
  [[sensors.channels]]
  name = "temp"
  [[sensors.channels]]
  name = "m"
"""


def test_fields_past_the_bytes_a_length_field_counts_are_left_out_and_the_others_read() -> None:
    """A frame of 3 counted bytes reads ``temp`` (2934 at 0.1 and -273.1: 20.3 as written)
    and ``m`` (5 * 2 + 1), which ends at the last counted byte, though ``far``, named first,
    is not in it; a frame of 5 reads all three."""
    spec, _ = spec_of(COUNTED)
    decode = codec_for("frames").decoder(spec)
    assert decode(bytes.fromhex("F4 F3 03 0B 76 05 F8 F7 F5")) == [("temp", 20.3), ("m", 11.0)]
    assert decode(bytes.fromhex("F4 F3 05 0B 76 05 01 02 F8 F7 F5")) == [
        ("far", 258.0),
        ("temp", 20.3),
        ("m", 11.0),
    ]


def test_a_frame_whose_counted_bytes_hold_no_field_or_a_nan_is_a_parse_error() -> None:
    """Of a float and a byte after it: 4 counted bytes hold the float (NaN: ``nonfinite``);
    3 hold neither, and the error tells how to count bytes left out before the counted."""
    text = COUNTED.split("  fields = [", maxsplit=1)[0] + (
        '  fields = [ { name = "f", offset = 3, type = "f32be" }, '
        '{ name = "g", offset = 7, type = "u8" } ]\n'
        '  [[sensors.channels]]\n  name = "f"\n  [[sensors.channels]]\n  name = "g"\n'
    )
    spec, _ = spec_of(text)
    decode = codec_for("frames").decoder(spec)
    with pytest.raises(ParseError) as nan:
        decode(bytes.fromhex("F4 F3 04 7F C0 00 00 F8 F7 F5"))
    assert (nan.value.reason, nan.value.detail) == ("nonfinite", "f is nan")
    with pytest.raises(ParseError) as none:
        decode(bytes.fromhex("F4 F3 03 7F C0 00 F8 F7 F5"))
    assert (none.value.reason, none.value.detail) == (
        "syntax",
        "the length field counts none of the fields' bytes: it leaves out the last 3 (its "
        "length_adjust), which hold no field; if some of the bytes it leaves out come before "
        'those it counts (an STX), give length_counts = "frame" and length_adjust the '
        "frame's length less the length field's value",
    )


# -- the hint for a frame cut short --------------------------------------------------------------

#: Bytes that begin no frame, before the start bytes: the hint counts from the start bytes.
NOISE = bytes.fromhex("13 00 7F")
#: A PMS5003's 8-byte reply to a command (``42 4D 00 04 E1 00 01 74``, its sum16be last).
PMS_REPLY = bytes.fromhex("42 4D 00 04 E1 00 01 74")
#: An HPMA115C0's reply to "read particle measuring results": start 40, a length field.
HPMA_REPLY = bytes.fromhex("40 05 04 00 07 00 17 99")
HPMA_FRAME = FrameSpec(
    start=b"\x40", length_offset=1, length_size=1, length_adjust=1, checksum="twos8",
    fields=(FieldSpec("pm2_5", 3, "u16be"), FieldSpec("pm10", 5, "u16be")),
)  # fmt: skip

STOPPED = (
    "and nothing came after it: the device stopped sending in the middle of a frame (its power "
    "cut or sagging, its cable pulled), or it restarted and is silent since"
)
RESTARTED = (
    "where a new frame began ({}the device restarted in the middle of a frame: its power cut "
    "or sagging); the last"
)
STOPPED_AGAIN = (
    "and nothing came after it: the device stopped sending again, or is silent since it restarted"
)


def preset_framer(preset: str) -> FrameFramer:
    spec, max_frame_bytes = sensor_spec(preset)
    assert spec.frame is not None
    return FrameFramer(spec.frame, max_frame_bytes)


@pytest.mark.parametrize(
    ("preset", "data", "hint"),
    [
        # noise, then the first 16 bytes of a frame
        (
            "pms5003",
            NOISE + pms_frame(PMS_VALUES)[:16],
            f"a frame began (42 4d) and stopped after 16 of its 32 bytes, {STOPPED}",
        ),
        # its length field has just come: the length is known
        (
            "pms5003",
            NOISE + pms_frame(PMS_VALUES)[:4],
            f"a frame began (42 4d) and stopped after 4 of its 32 bytes, {STOPPED}",
        ),
        # its length field has not all come: no length to name
        (
            "pms5003",
            NOISE + b"\x42\x4d\x00",
            f"a frame began (42 4d) and stopped after 3 bytes, {STOPPED}",
        ),
        (
            "mhz19",
            NOISE + MHZ19_REPLY[:4],
            f"a frame began (ff 86) and stopped after 4 of its 9 bytes, {STOPPED}",
        ),
        # a frame cut short, a new one begun within it (the device restarted) and cut short
        # too: the first stopped where the second began
        (
            "pms5003",
            NOISE + pms_frame(PMS_VALUES)[:10] + pms_frame(PMS_VALUES)[:7],
            "a frame began (42 4d) and stopped after 10 of its 32 bytes, "
            f"{RESTARTED.format('')} stopped after 7 of its 32 bytes, {STOPPED_AGAIN}",
        ),
        # restarted twice; the last cut before its length field
        (
            "pms5003",
            NOISE + pms_frame(PMS_VALUES)[:6] + pms_frame(PMS_VALUES)[:8] + b"\x42\x4d\x00",
            "a frame began (42 4d) and stopped after 6 of its 32 bytes, "
            f"{RESTARTED.format('2 times; ')} stopped after 3 bytes, {STOPPED_AGAIN}",
        ),
        # the last with a length field that gives no frame (noise after its start bytes)
        (
            "pms5003",
            NOISE + pms_frame(PMS_VALUES)[:12] + b"\x42\x4d\xff\xff\x00",
            "a frame began (42 4d) and stopped after 12 of its 32 bytes, "
            f"{RESTARTED.format('')} stopped after 5 bytes, {STOPPED_AGAIN}",
        ),
        # the last whole, to its last byte (a reply): it waits for the first one's length
        (
            "pms5003",
            NOISE + pms_frame(PMS_VALUES)[:10] + PMS_REPLY,
            "a frame began (42 4d) and stopped after 10 of its 32 bytes, "
            f"{RESTARTED.format('')} is whole, and waits until the 32 bytes of the first have "
            "come: the bytes of a frame cut short hold the frames after them back so long",
        ),
    ],
)
def test_a_frame_cut_short_is_told_where_it_stopped(preset: str, data: bytes, hint: str) -> None:
    """The hint for bytes that end in the middle of a frame: where it began and stopped, of
    how many bytes (when its length is known), and what came of the frames begun inside it."""
    framer = preset_framer(preset)
    assert framer.feed(data) == []
    assert framer.no_frame_hint(data) == hint


def test_a_lone_start_byte_before_a_cut_frame_is_a_frame_that_stopped_after_one_byte() -> None:
    """An HPMA115C0 (one start byte, 40): a stray 40, then a reply cut short. The stray byte's
    candidate (its length field the reply's 40: 67 bytes) stopped where the reply began."""
    framer = FrameFramer(HPMA_FRAME, 512)
    data = b"\x40" + HPMA_REPLY[:5]
    assert framer.feed(data) == []
    assert framer.no_frame_hint(data) == (
        f"a frame began (40) and stopped after 1 of its 67 bytes, {RESTARTED.format('')} "
        f"stopped after 5 of its 8 bytes, {STOPPED_AGAIN}"
    )
    assert framer.feed(HPMA_REPLY[5:]) == []  # held back by the 67-byte candidate
    assert framer.flush() == [HPMA_REPLY]


@pytest.mark.parametrize(
    ("preset", "data"),
    [
        # a whole candidate, rejected: its checksum
        ("pms5003", NOISE + pms_frame(PMS_VALUES)[:-1] + b"\x00"),
        ("mhz19", MHZ19_REPLY[:-1] + b"\x00"),
        # start bytes whose length field gives no frame
        ("pms5003", NOISE + b"\x42\x4d\xff\xff\x00\x00"),
    ],
)
def test_candidates_that_are_whole_or_refused_are_not_told_cut_short(
    preset: str, data: bytes
) -> None:
    framer = preset_framer(preset)
    assert framer.feed(data) == []
    hint = framer.no_frame_hint(data)
    assert hint.startswith("candidates starting "), hint
    assert "stopped" not in hint


def test_a_headless_frame_not_all_come_is_not_told_cut_short() -> None:
    """Frames without start bytes (a Geiger counter's two-byte count): one byte of a reply is
    no frame begun, and the hint names no start bytes."""
    framer = FrameFramer(FrameSpec(start=b"", length=2, fields=(FieldSpec("cpm", 0, "u16be"),)), 64)
    assert framer.no_frame_hint(b"\x01") == (
        "the bytes gave no frame (rejected since the sensor started: none): check the frame "
        "spec's length and checksum"
    )


# -- the lengths that candidates announce --------------------------------------------------------


def damaged(frame: bytes) -> bytes:
    """``frame`` with its last byte changed: its checksum (or end byte) no longer holds."""
    return frame[:-1] + bytes([frame[-1] ^ 0x01])


#: A PMS5003ST's 40-byte frame (length field 00 24), sent to a framer of PMS5003 frames.
PMS5003ST_FRAME = b"\x42\x4d\x00\x24" + bytes(34) + b"\x00\xb3"
ANNOUNCE = "candidates starting {} announce {}-byte frames in their length field, and the frame "
ANNOUNCE_END = "spec reads {}: check the frame spec's length, or the preset"


@pytest.mark.parametrize(
    ("data", "announced"),
    [
        # frames of another model, which its length field gives
        (PMS5003ST_FRAME * 3, 40),
        # start bytes and noise: a length past max_frame_bytes
        (b"\x42\x4d\xff\xff\x00\x00" * 3, 65539),
    ],
)
def test_pms5003_candidates_of_a_length_it_never_sends_are_told_so(
    data: bytes, announced: int
) -> None:
    framer = preset_framer("pms5003")
    assert framer.feed(data) == []
    assert framer.no_frame_hint(data) == (
        ANNOUNCE.format("42 4d", announced) + ANNOUNCE_END.format("32-byte frames")
    )


@pytest.mark.parametrize(
    "data",
    [
        # damaged frames of its own length: no length to blame
        damaged(pms_frame(PMS_VALUES)) * 3,
        # damaged replies to commands, of the length the spec reads them at
        damaged(PMS_REPLY) * 3,
    ],
)
def test_pms5003_candidates_of_its_own_lengths_are_not_told_a_wrong_length(data: bytes) -> None:
    framer = preset_framer("pms5003")
    assert framer.feed(data) == []
    assert framer.rejected["checksum"] == 3
    hint = framer.no_frame_hint(data)
    assert hint == (
        "candidates starting 42 4d gave no frame (rejected since the sensor started: 3 checksum): "
        "check the frame spec's length and checksum"
    )


@pytest.mark.parametrize(
    ("length", "takes"), [(7, False), (8, True), (40, True), (64, True), (65, False)]
)
def test_a_length_field_spec_takes_lengths_from_its_smallest_frame_to_max_frame_bytes(
    length: int, takes: bool
) -> None:
    """HPMA115C0 candidates (a length field) that announce ``length`` bytes, cut short or
    damaged: only a length below the spec's smallest frame (8 bytes) or above max_frame_bytes
    (64 here) is told as the frames' fault."""
    head = bytes([0x40, length - 3, 0x04])
    data = (head + bytes(length - 3))[:length] * 2 if length <= 8 else head * 2
    framer = FrameFramer(HPMA_FRAME, 64)
    framer.feed(data)
    hint = framer.no_frame_hint(data)
    wrong = ANNOUNCE.format("40", length) + ANNOUNCE_END.format("frames of 8 to 64 bytes")
    assert (hint == wrong) is not takes, hint


def hpma_frame(length: int) -> bytes:
    """An HPMA115C0-like frame of ``length`` bytes (its length field, zeros, its checksum)."""
    body = bytes([0x40, length - 3, 0x04]) + bytes(length - 4)
    return body + checksum("twos8", body)


@pytest.mark.parametrize("runs", [True, False])
def test_a_frame_of_max_frame_bytes_is_read_and_a_longer_one_is_overlong(runs: bool) -> None:
    """max_frame_bytes is the longest frame read: a frame of that length is one, a length
    field that gives one byte more is counted overlong as soon as it has come, and costs its
    start byte, so the frame after it is read."""
    framer = FrameFramer(HPMA_FRAME, 64, runs=runs)
    assert framer.feed(hpma_frame(64) + hpma_frame(8)) == [hpma_frame(64), hpma_frame(8)]
    assert framer.overlong == 0
    assert framer.feed(hpma_frame(65)[:2]) == []
    assert framer.overlong == 1
    assert framer.skipped_bytes == 2  # its start byte, and its length field
    assert framer.feed(hpma_frame(65)[2:] + hpma_frame(9)) == [hpma_frame(9)]
    assert framer.overlong == 1
    assert framer.skipped_bytes == 65


# -- checksum ranges -----------------------------------------------------------------------------

#: M-Bus long frames (EN 13757-2): 68 L L 68, L bytes from C on, the sum8 of those L bytes,
#: end 16. Both L bytes are the same: the first is the length field, the second and the
#: second 68 are the frame's fixed bytes that the spec does not check.
MBUS_FRAME = FrameSpec(
    start=b"\x68", length_offset=1, length_size=1, length_adjust=4, end=0x16, checksum="sum8",
    checksum_start=4, checksum_end=-2,
    fields=(FieldSpec("c_field", 4, "u8"), FieldSpec("address", 5, "u8")),
)  # fmt: skip


def mbus_frame(address: int, data: bytes) -> bytes:
    counted = bytes([0x08, address, 0x72]) + data  # C (RSP_UD), A, CI
    head = bytes([0x68, len(counted), len(counted), 0x68])
    return head + counted + checksum("sum8", counted) + b"\x16"


@pytest.mark.parametrize("runs", [True, False])
def test_a_checksum_range_given_from_the_end_covers_those_bytes(runs: bool) -> None:
    """Checksum ranges written from the end of the frame: an MH-Z19's bytes 1 to 7 as -8 to
    -1 (fixed length), and an M-Bus frame's bytes from its C field up to the checksum, -2 (a
    length field): every good frame is read, a frame with a byte changed is rejected."""
    mhz19 = FrameSpec(
        start=b"\xff\x86", length=9, checksum="twos8", checksum_start=-8, checksum_end=-1,
        fields=(FieldSpec("co2", 2, "u16be"),),
    )  # fmt: skip
    for frame in (mhz19, MBUS_FRAME):
        problems = check(FormatSpec("frames", (("c", "co2"),), frame=frame))
        assert [key for key, _ in problems if key.startswith("frame")] == []
    for frame, good in (
        (mhz19, [MHZ19_REPLY, bytes.fromhex("FF 86 02 3B 3D 00 00 00 00")]),
        (MBUS_FRAME, [mbus_frame(5, bytes(range(12))), mbus_frame(0xFD, b"\x16" * 8)]),
    ):
        framer = FrameFramer(frame, 255, runs=runs)
        bad = [g[:5] + bytes([g[5] ^ 0x10]) + g[6:] for g in good]
        assert framer.feed(b"".join(good + bad + good)) == good + good
        assert framer.skipped_bytes == len(b"".join(bad))


# -- pending bytes ---------------------------------------------------------------------------


@pytest.mark.parametrize("drop", ["drop_pending", "reset"])
def test_dropping_the_pending_bytes_ends_the_lenient_start(drop: str) -> None:
    """The tail of a frame that the port's open cut is skipped without a rejection
    (``lenient``); when the pending bytes are dropped (a request written, a reconnect), what
    comes next is the device's answer, and a damaged PMS5003 frame in it is a rejection."""
    frame = pms_frame(PMS_VALUES)
    framer = preset_framer("pms5003")
    framer.lenient = 64
    assert framer.feed(frame[:10]) == []
    getattr(framer, drop)()
    assert framer.lenient == 0
    assert framer.skipped_bytes == 10
    assert framer.feed(damaged(frame) + frame) == [frame]
    assert framer.rejected["checksum"] == 1


def test_reset_with_nothing_pending_ends_the_lenient_start() -> None:
    framer = preset_framer("pms5003")
    framer.lenient = 64
    framer.reset()
    assert framer.feed(damaged(pms_frame(PMS_VALUES))) == []
    assert framer.rejected["checksum"] == 1


# -- runs of frames ----------------------------------------------------------------------------


@pytest.mark.parametrize("runs", [True, False])
def test_a_damaged_header_that_the_checksum_cannot_see_is_refused_in_a_run(runs: bool) -> None:
    """PMS5003 frames back to back after a stray byte, the last with its length field 00 1C
    damaged to 00 1D and a data byte one less: its sum16 still holds, and its length is no
    PMS5003 frame's, so it is refused (as syntax) on both paths, wherever its run begins."""
    frames = [pms_frame([v + i for v in PMS_VALUES]) for i in range(4)]
    last = bytearray(frames[3])
    last[3] += 1
    last[5] -= 1
    stream = frames[0] + frames[1] + b"\x42" + frames[2] + bytes(last)
    framer = (
        preset_framer("pms5003")
        if runs
        else FrameFramer(preset_framer("pms5003")._frame, 512, runs=False)
    )
    assert framer.feed(stream) == frames[:3]
    assert framer.rejected == {"checksum": 0, "syntax": 1}


# -- the length that most candidates announce ----------------------------------------------------

#: A u-blox UBX NAV-PVT message: B5 62, class 01, id 07, a 92-byte payload (length 5C 00,
#: little-endian), its 2-byte Fletcher checksum (zeros here: its value does not matter).
UBX_NAV_PVT = b"\xb5\x62\x01\x07\x5c\x00" + bytes(92) + b"\x00\x00"
UBX_FRAME = FrameSpec(
    start=b"\xb5\x62", length_offset=4, length_size=2, length_byteorder="little",
    length_adjust=2, fields=(FieldSpec("id", 3, "u8"),),
)  # fmt: skip


@pytest.mark.parametrize(
    ("frame", "data", "announced"),
    [
        # two frames of the PMS5003ST, then start bytes whose length field is start bytes too,
        # then start bytes cut before their length field: not a third length
        (None, PMS5003ST_FRAME * 2 + b"\x42\x4d\x42\x4d", 40),
        # the second frame's length field ends with the bytes
        (None, PMS5003ST_FRAME + PMS5003ST_FRAME[:4], 40),
        # a stray start byte right before the first frame (one-byte start bytes)
        (HPMA_FRAME, b"\x40" + hpma_frame(70) * 2, 70),
        # a little-endian length field
        (UBX_FRAME, UBX_NAV_PVT * 2, 100),
    ],
)
def test_the_length_most_candidates_announce_is_told(
    frame: FrameSpec | None, data: bytes, announced: int
) -> None:
    """What the stale hint tells of candidates whose length field gives the length of no
    frame the spec reads: the length most of them announce, read as the spec reads it."""
    if frame is None:
        spec, _ = sensor_spec("pms5003")
        assert spec.frame is not None
        frame = spec.frame
    assert announced_length(frame, data) == announced
