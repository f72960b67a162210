"""Frames checked by the reflected CCITT CRCs: a Lufft UMB weather sensor's replies
(``crc16_mcrf4xx``) and a smart meter's HAN-port HDLC frames (``crc16_x25``).

Origins of the frames:

* UMB: the reply of a Lufft VS20k-UMB visibility sensor to an online data request, printed
  in its user manual (V2.3, section 10.1.4): channel 601 (``59 02``), a float (type ``16``),
  2000.0 m, CRC ``5E 11``. The other replies here are laid out alike, their CRCs computed.
* HAN: two 10-second lists of a three-phase Kamstrup Omnipower (228-byte HDLC frames
  ``7E A0 E2 ... 7E``, IEC 62056-46, DLMS/COSEM data in a fixed order): one from the tests
  of a public Norwegian HAN decoder (2020-11-08, 3889 W), one from amshan's tests (a Swedish
  meter's list, 2022-01-24: 826 W, IL1 2.37 A, UL1 232 V, as amshan decodes it).
"""

from __future__ import annotations

import dataclasses
import random
import struct
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_frames_generic import read_chunked, spec_of

from sensord.cli import main
from sensord.config import parse_config
from sensord.errors import ParseError
from sensord.formats import codec_for
from sensord.formats.base import FrameSpec
from sensord.formats.crc import crc16_mcrf4xx, crc16_x25
from sensord.formats.frames import FrameFramer

# -- Lufft UMB -----------------------------------------------------------------------------------

UMB = """
[[sensors]]
name = "ws"
port = "/dev/ttyUSB0"
format = "frames"
serial = { baudrate = 19200 }
poll = { request = ['\\x01\\x10\\x01\\x70\\x01\\xf0\\x04\\x02\\x23\\x10\\x64\\x00\\x03\\x61\\xd9\\x04', '\\x01\\x10\\x01\\x70\\x01\\xf0\\x04\\x02\\x23\\x10\\x59\\x02\\x03\\x00\\x93\\x04'], interval_s = 1 }
  [sensors.frame]
  start = '\\x01\\x10'
  length_offset = 6
  length_size = 1
  length_counts = "frame"   # it counts the payload between STX and ETX: the frame is 12
  length_adjust = 12        # bytes more (SOH to STX, ETX, the CRC and EOT)
  end = 0x04
  checksum = "crc16_mcrf4xx"
  status_offset = 10
  status_ok = [0]
  kind_offset = 11          # the channel number, low byte first
  kind_size = 2
  examples = ["01 10 16 F0 01 30 0A 02 23 10 00 59 02 16 00 00 FA 44 03 5E 11 04"]
    [[sensors.frame.fields]]
    name = "air_temperature"
    offset = 14
    type = "f32le"
    kind = "64 00"          # channel 100
    [[sensors.frame.fields]]
    name = "visibility"
    offset = 14
    type = "f32le"
    kind = "59 02"          # channel 601
  [[sensors.channels]]
  name = "air_temperature_celsius"
  field = "air_temperature"
  [[sensors.channels]]
  name = "visibility_metres"
  field = "visibility"
"""

#: The VS20k-UMB manual's reply: channel 601, visibility 2000.0 m.
MANUAL_REPLY = bytes.fromhex("01 10 16 F0 01 30 0A 02 23 10 00 59 02 16 00 00 FA 44 03 5E 11 04")


def umb_frame(body: bytes) -> bytes:
    """A UMB frame from its SOH to its ETX: its CRC (low byte first) and EOT after it."""
    return body + crc16_mcrf4xx(body).to_bytes(2, "little") + b"\x04"


def umb_reply(channel: int, value: float, status: int = 0) -> bytes:
    """A weather sensor's (class 7, device 1) reply to the master (0xF001): a float value."""
    payload = bytes((0x23, 0x10, status)) + struct.pack("<HBf", channel, 0x16, value)
    head = b"\x01\x10" + struct.pack("<HHB", 0xF001, 0x7001, len(payload)) + b"\x02"
    return umb_frame(head + payload + b"\x03")


def umb_request(channel: int) -> bytes:
    """The master's online data request (command 23h, version 10h) for ``channel``."""
    payload = bytes((0x23, 0x10)) + struct.pack("<H", channel)
    return umb_frame(
        b"\x01\x10" + struct.pack("<HHB", 0x7001, 0xF001, 4) + b"\x02" + payload + b"\x03"
    )


def test_the_umb_spec_s_poll_requests_are_the_protocol_s() -> None:
    """The requests in the spec, written out by hand, are those the protocol builds (the
    CRC of channel 100's, 0xD961, as the UMB protocol's own example gives it)."""
    assert umb_frame(MANUAL_REPLY[:-3]) == MANUAL_REPLY
    assert umb_request(100)[-3:] == bytes.fromhex("61 D9 04")
    assert parse_config(UMB).sensors[0].poll_requests() == (umb_request(100), umb_request(601))


def test_umb_replies_are_read_by_channel_out_of_noise_in_any_chunking() -> None:
    rng = random.Random(601)
    replies = [umb_reply(100, 21.5), MANUAL_REPLY, umb_reply(100, -3.25)]
    stream = b""
    for reply in replies:
        stream += bytes(rng.randrange(256) for _ in range(7)) + reply[:9] + reply
    for size in (1, 2, 3, 7, len(stream)):
        got, framer = read_chunked(UMB, stream, size)
        assert got == [[21.5], [2000.0], [-3.25]]
        assert framer.frames == 3


def test_a_umb_reply_with_a_status_other_than_ok_marks_its_value_invalid() -> None:
    spec, _ = spec_of(UMB)
    decode = codec_for("frames").decoder(spec)
    with pytest.raises(ParseError) as caught:
        decode(umb_reply(601, 0.0, status=0x28))
    assert caught.value.reason == "invalid"
    assert "status 0x28 at byte 10" in caught.value.detail


def test_check_reads_the_manual_s_umb_reply(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "sensord.toml"
    path.write_text(UMB)
    assert main(["check", str(path)]) == 0
    out = capsys.readouterr().out
    assert "crc16_mcrf4xx from byte 0" in out
    assert "example 1: visibility_metres 2000" in out


def test_a_length_field_that_leaves_out_a_byte_before_those_it_counts_is_told(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Counting the bytes after the length field, a UMB frame's STX (before its payload) and
    its ETX, CRC and EOT (after it) are five bytes left out; taken for five at the end, they
    leave the value outside the counted bytes: check says what to write instead."""
    path = tmp_path / "sensord.toml"
    path.write_text(
        UMB.replace('length_counts = "frame"', 'length_counts = "after"').replace(
            "length_adjust = 12", "length_adjust = 5"
        )
    )
    assert main(["check", str(path)]) != 0
    err = capsys.readouterr().err
    assert "the length field counts none of the fields' bytes: it leaves out the last 5" in err
    assert 'give length_counts = "frame"' in err


def test_the_simulated_umb_sensor_s_frames_read_back() -> None:
    spec, _ = spec_of(UMB)
    frames = codec_for("frames").encoder(spec)({"air_temperature": 12.5, "visibility": 1500.0}, 0.0)
    decode = codec_for("frames").decoder(spec)
    assert sorted(v for f in frames for v in decode(f)) == [
        ("air_temperature_celsius", 12.5),
        ("visibility_metres", 1500.0),
    ]


# -- a smart meter's HAN port (HDLC, IEC 62056-46) -----------------------------------------------

HAN = """
[[sensors]]
name = "meter"
port = "/dev/ttyUSB0"
format = "frames"
serial = { baudrate = 2400, parity = "E" }
  [sensors.frame]
  start = '\\x7e'
  length_offset = 1         # frame format A, then the 11-bit length between the flags:
  length_size = 2           # 0xA0E2 - 0xA000 + 2 flags = 228 bytes
  length_counts = "frame"
  length_adjust = -40958
  end = 0x7e
  checksum = "crc16_x25"
  checksum_start = 1
    [[sensors.frame.fields]]
    name = "power_import"
    offset = 110
    type = "u32be"
    [[sensors.frame.fields]]
    name = "power_export"
    offset = 123
    type = "u32be"
    [[sensors.frame.fields]]
    name = "current_l1"
    offset = 162
    type = "u32be"
    scale = 0.01
    [[sensors.frame.fields]]
    name = "voltage_l1"
    offset = 201
    type = "u16be"
  [[sensors.channels]]
  name = "power_import_watts"
  field = "power_import"
  [[sensors.channels]]
  name = "power_export_watts"
  field = "power_export"
  [[sensors.channels]]
  name = "current_l1_amperes"
  field = "current_l1"
  [[sensors.channels]]
  name = "voltage_l1_volts"
  field = "voltage_l1"
"""

KAMSTRUP_NO = bytes.fromhex(
    "7EA0E22B2113239AE6E7000F000000000C07E40B0807152C0AFF80000002190A0E4B616D73747275705F5630"
    "30303109060101000005FF0A103537303635363732373936373531343509060101600101FF0A123638343131"
    "3231424E32343331303130343009060101010700FF0600000F3109060101020700FF06000000000906010103"
    "0700FF060000000009060101040700FF06000001FA090601011F0700FF06000005EA09060101330700FF0600"
    "00011109060101470700FF060000057D09060101200700FF1200EC09060101340700FF1200EA090601014807"
    "00FF1200EB45917E"
)
KAMSTRUP_SE = bytes.fromhex(
    "7EA0E22B2113239AE6E7000F000000000C07E6011801123A32FF80000002190A0E4B616D73747275705F5630"
    "30303109060101000005FF0A103537303635363733323635393034303709060101600101FF0A123638343131"
    "3338424E32343531303130393009060101010700FF060000033A09060101020700FF06000000000906010103"
    "0700FF060000006809060101040700FF06000000B0090601011F0700FF06000000ED09060101330700FF0600"
    "00005909060101470700FF060000004B09060101200700FF1200E809060101340700FF1200E9090601014807"
    "00FF1200EC84467E"
)
LISTS = [KAMSTRUP_NO, KAMSTRUP_SE]
VALUES = [[3889.0, 0.0, 15.14, 236.0], [826.0, 0.0, 2.37, 232.0]]


def test_the_two_lists_are_whole_hdlc_frames() -> None:
    for frame in LISTS:
        assert len(frame) == 228
        assert crc16_x25(frame[1:-3]).to_bytes(2, "little") == frame[-3:-1]
        assert crc16_x25(frame[1:6]).to_bytes(2, "little") == frame[6:8]  # the header's


def test_a_kamstrup_list_is_read_out_of_noise_in_any_chunking() -> None:
    """Each list after noise, a list cut short, and a flag alone (a meter's closing flag
    before the next frame's opening one)."""
    rng = random.Random(62056)
    stream = b""
    for frame in LISTS:
        stream += bytes(rng.randrange(256) for _ in range(9)) + frame[:100] + b"\x7e" + frame
    for size in (1, 3, 64, len(stream)):
        got, framer = read_chunked(HAN, stream, size)
        assert [[round(v, 2) for v in values] for values in got] == VALUES
        assert framer.frames == 2


def test_lists_that_share_one_flag_are_each_read() -> None:
    """HDLC (ISO/IEC 13239) lets one flag close a frame and open the next: lists sent with one
    flag between them are each read, no byte skipped, in any chunking."""
    stream = LISTS[0] + LISTS[1][1:] + LISTS[0][1:]
    for size in (1, 3, 64, len(stream)):
        got, framer = read_chunked(HAN, stream, size)
        assert [[round(v, 2) for v in values] for values in got] == [*VALUES, VALUES[0]]
        assert framer.skipped_bytes == 0


def with_flag_byte(frame: bytes, at: int) -> bytes:
    """``frame`` with its byte at ``at`` (past the header and its check sequence) set to 7E,
    the flag, as a value byte may be in an HDLC frame, and its frame check sequence made
    again."""
    changed = bytearray(frame)
    changed[at] = 0x7E
    changed[-3:-1] = crc16_x25(bytes(changed[1:-3])).to_bytes(2, "little")
    return bytes(changed)


@settings(max_examples=60, deadline=None)
@given(
    at=st.integers(8, 224),
    which=st.sampled_from(LISTS),
    size=st.integers(1, 97),
    runs=st.booleans(),
)
def test_a_list_that_shares_a_flag_is_read_with_a_flag_byte_in_its_data(
    at: int, which: bytes, size: int, runs: bool
) -> None:
    """Lists that share one flag, the middle one holding 7E in its data (a power of 894 W is
    00 00 03 7E): a frame only its length field delimits, so the 7E begins no frame (what
    follows it gives no frame length), and each list is read, no byte skipped, in any
    chunking, on both paths of the framer."""
    middle = with_flag_byte(which, at)
    stream = LISTS[0] + middle[1:] + LISTS[1][1:]
    spec, max_frame_bytes = spec_of(HAN)
    assert spec.frame is not None
    framer = FrameFramer(spec.frame, max_frame_bytes, runs=runs)
    frames = [f for i in range(0, len(stream), size) for f in framer.feed(stream[i : i + size])]
    assert frames == [LISTS[0], middle, LISTS[1]]
    assert framer.skipped_bytes == 0
    assert framer.rejected == {"checksum": 0, "syntax": 0}


def han_frame(fixed: bool) -> tuple[FrameSpec, int]:
    """The meter's frame spec and frame bound; with ``fixed``, its lists' length of 228 bytes
    given in place of the length field (a meter that sends one kind of list), so that every
    7E begins a 228-byte candidate."""
    spec, max_frame_bytes = spec_of(HAN)
    assert spec.frame is not None
    if not fixed:
        return spec.frame, max_frame_bytes
    frame = dataclasses.replace(
        spec.frame, length=228, length_offset=0, length_size=0, length_adjust=0
    )
    assert codec_for("frames").check(dataclasses.replace(spec, frame=frame)) == []
    return frame, max_frame_bytes


@settings(max_examples=100, deadline=None)
@given(
    at=st.integers(8, 220),
    flags=st.integers(1, 3),
    length=st.integers(0xA000, 0xA1FF),
    which=st.sampled_from(LISTS),
    fixed=st.booleans(),
    size=st.integers(1, 97),
    runs=st.booleans(),
)
def test_a_list_that_shares_a_flag_is_read_with_flags_and_a_length_in_its_data(
    *, at: int, flags: int, length: int, which: bytes, fixed: bool, size: int, runs: bool
) -> None:
    """Lists that share one flag, the middle one holding one to three 7E and then two bytes
    that read as frame format A and a length (a meter's energy register 00 7E 7E A1, 8290
    kWh): start bytes whose length field gives a frame length (up to 512 bytes) begin a
    candidate that ends past the list, or that ends inside it and is no frame; each list is
    read, no byte skipped and nothing rejected, in any chunking, on both paths of the framer,
    with the meter's length field and with its lists' fixed length."""
    changed = bytearray(which)
    changed[at : at + flags + 2] = b"\x7e" * flags + length.to_bytes(2, "big")
    changed[-3:-1] = crc16_x25(bytes(changed[1:-3])).to_bytes(2, "little")
    middle = bytes(changed)
    stream = LISTS[0] + middle[1:] + LISTS[1][1:]
    frame, max_frame_bytes = han_frame(fixed)
    framer = FrameFramer(frame, max_frame_bytes, runs=runs)
    frames = [f for i in range(0, len(stream), size) for f in framer.feed(stream[i : i + size])]
    assert frames == [LISTS[0], middle, LISTS[1]]
    assert framer.skipped_bytes == 0
    assert framer.rejected == {"checksum": 0, "syntax": 0}


@pytest.mark.parametrize("runs", [True, False])
def test_a_list_after_noise_and_an_idle_flag_is_read_when_it_has_come(runs: bool) -> None:
    """A list, noise A1 05 (after the list's end flag, frame format A and a length of 263
    bytes), an idle flag, and the next list with its own opening flag: the idle flag begins
    no frame (7E A0 gives no length), the next list ends inside the 263 bytes, and it is read
    by the feed that brings its end flag, in any chunking; only the noise and the idle flag
    are skipped."""
    stream = LISTS[0] + bytes.fromhex("A1 05 7E") + LISTS[1]
    frame, max_frame_bytes = han_frame(fixed=False)
    for size in (1, 2, 3, 100, len(stream)):
        framer = FrameFramer(frame, max_frame_bytes, runs=runs)
        frames = [f for i in range(0, len(stream), size) for f in framer.feed(stream[i : i + size])]
        assert frames == LISTS
        assert framer.skipped_bytes == 3


@pytest.mark.parametrize("runs", [True, False])
def test_a_list_whose_check_sequence_ends_with_a_flag_byte_is_read_at_its_end_flag(
    runs: bool,
) -> None:
    """The last of lists that share one flag, its power 1000 W (00 00 03 E8), so its frame
    check sequence is C4 7E: the 7E before its end flag begins no frame inside it, its length
    field being past its end; the list is read by the feed that brings its end flag, in any
    chunking, and nothing is left to a flush."""
    changed = bytearray(LISTS[1])
    changed[113] = 0xE8
    changed[-3:-1] = crc16_x25(bytes(changed[1:-3])).to_bytes(2, "little")
    last = bytes(changed)
    assert last[-3:] == b"\xc4\x7e\x7e"
    stream = LISTS[0] + last[1:]
    spec, max_frame_bytes = spec_of(HAN)
    assert spec.frame is not None
    for size in (1, 2, 3, 100, len(stream)):
        framer = FrameFramer(spec.frame, max_frame_bytes, runs=runs)
        frames = [f for i in range(0, len(stream), size) for f in framer.feed(stream[i : i + size])]
        assert frames == [LISTS[0], last]
        assert framer.flush() == []
        assert framer.skipped_bytes == 0


#: The power and reactive power imported (W, var) with which a list laid out as
#: KAMSTRUP_SE has the frame check sequence 7E A0, 7E A1, 7E A2 or 7E A3 (by its second byte):
#: a flag, then what reads as frame format A and a length of 128, 384, 640 or 896 bytes.
FLAG_IN_CHECK_SEQUENCE = {0xA0: (853, 5), 0xA1: (882, 41), 0xA2: (844, 17), 0xA3: (828, 113)}


def with_power(frame: bytes, power: int, reactive: int) -> bytes:
    """``frame`` (a Kamstrup list) with its active and reactive power import set, and its
    frame check sequence made again."""
    changed = bytearray(frame)
    changed[110:114] = power.to_bytes(4, "big")
    changed[136:140] = reactive.to_bytes(4, "big")
    changed[-3:-1] = crc16_x25(bytes(changed[1:-3])).to_bytes(2, "little")
    return bytes(changed)


@pytest.mark.parametrize("runs", [True, False])
@pytest.mark.parametrize("second", sorted(FLAG_IN_CHECK_SEQUENCE), ids="7E-{:02X}".format)
def test_a_list_whose_check_sequence_reads_as_a_flag_and_a_length_is_read(
    second: int, runs: bool
) -> None:
    """Lists that share one flag, the middle one's frame check sequence 7E A0 to 7E A3: its
    7E, the byte after it and the end flag read as start bytes with a length field, whose
    candidate ends past the list. That candidate could not be whole before the list is, and
    the list's own bytes decide: each list is read, no byte skipped and nothing rejected, in
    any chunking, on both paths of the framer. The spec reads the power import alone (lists
    of 117 bytes or more) and takes frames of up to 1024 bytes, so that each of the four
    lengths is one a frame may have."""
    middle = with_power(KAMSTRUP_SE, *FLAG_IN_CHECK_SEQUENCE[second])
    assert middle[-3:] == bytes([0x7E, second, 0x7E])
    spec, _ = spec_of(HAN)
    assert spec.frame is not None
    frame = dataclasses.replace(spec.frame, fields=spec.frame.fields[:1])
    stream = LISTS[0] + middle[1:] + LISTS[1][1:]
    for size in (1, 2, 3, 100, len(stream)):
        framer = FrameFramer(frame, 1024, runs=runs)
        frames = [f for i in range(0, len(stream), size) for f in framer.feed(stream[i : i + size])]
        assert frames == [LISTS[0], middle, LISTS[1]]
        assert framer.flush() == []
        assert framer.skipped_bytes == 0
        assert framer.rejected == {"checksum": 0, "syntax": 0}


def test_the_meter_s_spec_reads_a_list_whose_check_sequence_says_384_bytes() -> None:
    """The meter's spec (frames of up to 512 bytes): a list of 882 W whose check sequence is
    7E A1, a length of 384 bytes, between lists that share its flags, is read with its
    values."""
    middle = with_power(KAMSTRUP_SE, *FLAG_IN_CHECK_SEQUENCE[0xA1])
    stream = LISTS[0] + middle[1:] + LISTS[1][1:]
    for size in (1, 64, len(stream)):
        got, framer = read_chunked(HAN, stream, size)
        assert [[round(v, 2) for v in values] for values in got] == [
            VALUES[0],
            [882.0, 0.0, 2.37, 232.0],
            VALUES[1],
        ]
        assert framer.skipped_bytes == 0


@pytest.mark.parametrize("runs", [True, False])
def test_a_list_whose_data_reads_as_a_shorter_frame_is_read(runs: bool) -> None:
    """Lists that share one flag, the middle one's long-invoke-id 7E A0 D2 00 (a meter that
    counts its lists there): a flag, frame format A and a length of 212 bytes, a candidate
    that ends inside the list, and no frame (its check sequence is the list's data). The list
    waits for that candidate and is read: each list is read, no byte skipped and nothing
    rejected, in any chunking, on both paths of the framer."""
    changed = bytearray(KAMSTRUP_SE)
    assert changed[11:16] == bytes.fromhex("0F 00 00 00 00")  # data-notification, its id
    changed[12:16] = bytes.fromhex("7E A0 D2 00")
    changed[-3:-1] = crc16_x25(bytes(changed[1:-3])).to_bytes(2, "little")
    middle = bytes(changed)
    spec, max_frame_bytes = spec_of(HAN)
    assert spec.frame is not None
    stream = LISTS[0] + middle[1:] + LISTS[1][1:]
    for size in (1, 2, 3, 100, len(stream)):
        framer = FrameFramer(spec.frame, max_frame_bytes, runs=runs)
        frames = [f for i in range(0, len(stream), size) for f in framer.feed(stream[i : i + size])]
        assert frames == [LISTS[0], middle, LISTS[1]]
        assert framer.flush() == []
        assert framer.skipped_bytes == 0
        assert framer.rejected == {"checksum": 0, "syntax": 0}


@settings(max_examples=60, deadline=None)
@given(garbage=st.lists(st.binary(max_size=40), min_size=3, max_size=3), size=st.integers(1, 97))
def test_noise_between_the_lists_never_costs_one(garbage: list[bytes], size: int) -> None:
    """Noise with flags and bogus lengths in it (a length below the format's 0xA000 is a
    negative frame length) never costs a whole list behind it."""
    stream = garbage[0] + LISTS[0] + garbage[1] + LISTS[1] + garbage[2]
    got, _ = read_chunked(HAN, stream, size)
    assert [[round(v, 2) for v in values] for values in got][-2:] == VALUES


def test_the_simulated_meter_s_frames_read_back() -> None:
    spec, _ = spec_of(HAN)
    values = {"power_import": 1234.0, "power_export": 0.0, "current_l1": 5.5, "voltage_l1": 231.0}
    [frame] = codec_for("frames").encoder(spec)(values, 0.0)
    assert dict(codec_for("frames").decoder(spec)(frame)) == {
        "power_import_watts": 1234.0,
        "power_export_watts": 0.0,
        "current_l1_amperes": 5.5,
        "voltage_l1_volts": 231.0,
    }
