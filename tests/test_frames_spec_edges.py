"""Frame specs at the edges of what check allows: a stale hint when the spec's own checksum
holds, kinds that hold the length field, a whole number beside its bit fields."""

from __future__ import annotations

import pytest
from test_frames_commands import Clock
from test_frames_generic import (
    LD2410,
    LD2410_BASIC,
    LD2410_ENGINEERING,
    SPS30,
    SPS30_FRAMES,
    SPS30_NOT_ALLOWED,
    errors,
    read_chunked,
    spec_of,
)
from test_frames_kinds import JBD_BITS, latest, with_fields

from sensord.config import parse_config
from sensord.errors import ConfigError, ParseError
from sensord.formats import codec_for
from sensord.formats.frames import FrameFramer
from sensord.formats.frames_layout import smallest_frame
from sensord.formats.presets import spec_mistake_hint
from sensord.sensor import SensorRuntime

# -- the checksum hint, when what fails is not the checksum ---------------------------------------

#: a device with a 1-byte start, a little-endian 2-byte length (its high byte 0 in short
#: frames), a sum8 over the payload (from byte 3) and an end byte 0x0D; the spec is right but
#: for its end byte (0x7F)
WRONG_END = """
[[sensors]]
name = "dev"
port = "/dev/ttyUSB0"
format = "frames"
  [sensors.frame]
  start = '\\x7e'
  length_offset = 1
  length_size = 2
  length_byteorder = "little"
  checksum = "sum8"
  checksum_start = 3
  end = 0x7f
  fields = [ { name = "a", offset = 3, type = "u16be" } ]
  [[sensors.channels]]
  name = "a"
"""


def _wrong_end_frame(payload: bytes) -> bytes:
    n = 3 + len(payload) + 2
    return b"\x7e" + n.to_bytes(2, "little") + payload + bytes([sum(payload) & 0xFF, 0x0D])


def test_no_checksum_hint_when_the_spec_s_own_checksum_holds_over_every_candidate() -> None:
    """Every candidate holds the spec's sum8 from byte 3 (refused for their end byte, not
    their checksum): no checksum is named, though sum8 from byte 2 holds too (the length's
    high byte is 0)."""
    assert errors(WRONG_END) == []
    spec, max_frame_bytes = spec_of(WRONG_END)
    assert spec.frame is not None
    data = b"".join(_wrong_end_frame(bytes([i, 2 * i + 1, 7])) for i in range(1, 6))
    framer = codec_for("frames").framer(spec, b"", max_frame_bytes)
    assert framer.feed(data) == []
    assert framer.rejected["checksum"] == 0  # the spec's checksum holds
    assert spec_mistake_hint(spec.frame, data) is None


# -- a kind that holds the length byte --------------------------------------------------------------

DALY_LENGTH_FIELD = """
[[sensors]]
name = "bms"
port = "/dev/ttyUSB0"
format = "frames"
  [sensors.frame]
  start = '\\xa5\\x01'
  length_offset = 3
  length_size = 1
  length_counts = "after"
  length_adjust = 1
  checksum = "sum8"
  kind_offset = 2
  fields = [
    { name = "cell1", offset = 5, type = "u16be", kind = "95 08 01" },
    { name = "cell2", offset = 7, type = "u16be", kind = "95 08 01" },
    { name = "volt", offset = 4, type = "u16be", kind = "90" },
  ]
  [[sensors.channels]]
  name = "cell1"
  [[sensors.channels]]
  name = "cell2"
  [[sensors.channels]]
  name = "volt"
"""


def test_frames_the_encoder_writes_for_a_kind_holding_the_length_byte_are_read_back() -> None:
    """Kind bytes may hold the length field (a Daly's 95 08 01): the simulated device writes
    the frames of that kind at the length the kind says (13 bytes), which the framer cuts."""
    assert errors(DALY_LENGTH_FIELD) == []
    spec, max_frame_bytes = spec_of(DALY_LENGTH_FIELD)
    codec = codec_for("frames")
    frames = codec.encoder(spec)({"cell1": 3300.0, "cell2": 3301.0, "volt": 500.0}, 0.0)
    framer = codec.framer(spec, b"", max_frame_bytes)
    cut = framer.feed(b"".join(frames)) + framer.flush()
    decode = codec.decoder(spec)
    values = {name: value for frame in cut for name, value in decode(frame)}
    assert values == {"cell1": 3300.0, "cell2": 3301.0, "volt": 500.0}, [f.hex(" ") for f in frames]


def test_check_refuses_a_kind_whose_length_byte_cannot_hold_its_fields() -> None:
    """A kind "95 02 01" on the length byte says 7-byte frames (02 + 5), shorter than the 10
    its fields take (cell2 ends at 9, the sum after it): refused, saying so."""
    text = DALY_LENGTH_FIELD.replace('"95 08 01"', '"95 02 01"')
    assert errors(text) == [
        "sensors[0].frame.fields[0].kind: 95 02 01 holds the length field, which says 7-byte "
        "frames, and the frames of that kind take 10"
    ]


# -- a whole number beside its bit fields ----------------------------------------------------------


def test_check_accepts_a_whole_status_byte_beside_its_bit_fields() -> None:
    """The JBD's MOSFET byte at 24 read whole beside its two flags: valid, and the simulated
    device writes the whole byte before its flags' bits."""
    text = with_fields(JBD_BITS, 'name = "mosfets", offset = 24, type = "u8"')
    assert errors(text) == []
    spec, _ = spec_of(text)
    [frame] = codec_for("frames").encoder(spec)(
        {"mosfets": 0.0, "charging": 1.0, "discharging": 1.0}, 0.0
    )
    assert frame[24] == 0x03


SPS30_CHANNELS = {"pm2_5_ug_m3", "pm10_ug_m3"}


def _sps30_runtime() -> SensorRuntime:
    text = "\n".join(
        line for line in SPS30.splitlines() if not line.startswith(("poll =", "setup ="))
    ).replace('"/dev/ttyUSB0"', '"/dev/ttyUSB0"\nsimulate = "never"\nwarmup_s = 0')
    clock = Clock()
    return SensorRuntime(parse_config(text).sensors[0], clock=clock, wall_clock=clock)


# -- an SPS30 that stopped measuring: its state-43 replies are of reply_length -------------------


def test_an_sps30_error_state_reply_still_marks_its_values_not_measured() -> None:
    spec, _ = spec_of(SPS30)
    decode = codec_for("frames").decoder(spec)
    with pytest.raises(ParseError) as caught:
        decode(SPS30_NOT_ALLOWED)
    assert caught.value.reason == "invalid"
    assert set(caught.value.unavailable) >= SPS30_CHANNELS, caught.value.unavailable


def test_an_sps30_that_stopped_measuring_publishes_no_stale_values_as_current() -> None:
    rt = _sps30_runtime()
    rt.feed(SPS30_FRAMES[0])
    assert set(latest(rt)) >= SPS30_CHANNELS
    for _ in range(5):  # the sensor power-cycled: idle, each poll answered with state 43
        rt.feed(SPS30_NOT_ALLOWED)
    assert rt.parse_errors["invalid"] == 5
    # the sensor is up (frames come): its last values are not published as current
    assert not SPS30_CHANNELS & set(latest(rt)), latest(rt)


# -- the shortest frame of a spec with kinds: its checksum apart from its range -------------------

KINDLESS = """
[[sensors]]
name = "s"
port = "/dev/ttyUSB0"
format = "frames"
frame = { start = '\\xaa', length_offset = 1, length_size = 1, kind_offset = 2, checksum = "sum8", checksum_end = 6, fields = [
  { name = "a", offset = 3, type = "u16be", kind = 1 },
  { name = "b", offset = 3, type = "u8", kind = 2 },
  { name = "c", offset = 8, type = "u8" },
] }
channels = [{ name = "a" }, { name = "b" }, { name = "c" }]
"""


def _candidate(n: int, kind: int) -> bytes:
    data = bytearray(n)
    data[0], data[1], data[2] = 0xAA, n - 2, kind
    data[-1] = sum(data[:6]) & 0xFF
    return bytes(data)


def test_short_candidates_of_a_spec_with_kinds_never_raise_in_the_bulk_path() -> None:
    assert errors(KINDLESS) == []
    spec, max_frame_bytes = spec_of(KINDLESS)
    assert spec.frame is not None
    # candidates of 6 bytes put the checksum (at 5) inside its range (to 6)
    good = _candidate(10, 1)
    stream = _candidate(6, 2) * 3 + good
    slow = FrameFramer(spec.frame, max_frame_bytes, runs=False).feed(stream)
    fast = FrameFramer(spec.frame, max_frame_bytes).feed(stream)
    assert fast == slow
    assert good in fast


# -- the shortest frame of a spec with kinds: its kind bytes ---------------------------------------


def test_the_smallest_frame_of_a_spec_with_kinds_holds_the_kind_bytes() -> None:
    text = """
[[sensors]]
name = "s"
port = "/dev/ttyUSB0"
format = "frames"
frame = { start = '\\xaa', length_offset = 1, length_size = 1, kind_offset = 3, end = 0x77, fields = [
  { name = "a", offset = 4, type = "u8", kind = 1 },
  { name = "b", offset = 4, type = "u16be", kind = 2 },
] }
channels = [{ name = "a" }, { name = "b" }]
"""
    assert errors(text) == []
    spec, max_frame_bytes = spec_of(text)
    assert spec.frame is not None
    # the kind byte at 3, then the end byte: 5 bytes at least
    assert smallest_frame(spec.frame) >= 5, smallest_frame(spec.frame)
    # AA 02 00 77: four bytes of noise, whose kind byte would be the end byte
    assert FrameFramer(spec.frame, max_frame_bytes).feed(bytes.fromhex("AA 02 00 77")) == []


#: the README's LD2410 row: a basic report (02 at byte 6) or an engineering one (01), each
#: laid out its own way, ending F8 F7 F6 F5
LD2410_KINDS = """
[[sensors]]
name = "radar"
port = "/dev/ttyUSB0"
format = "frames"
frame = { start = '\\xf4\\xf3\\xf2\\xf1', length_offset = 4, length_size = 2, length_byteorder = "little", length_adjust = 4, end = "F8 F7 F6 F5", kind_offset = 6, fields = [
  { name = "state", offset = 8, type = "u8" },
  { name = "moving_distance", offset = 9, type = "u16le" },
  { name = "gate0_moving_energy", offset = 19, type = "u8", kind = 1 },
  { name = "gate8_moving_energy", offset = 27, type = "u8", kind = 1 },
  { name = "head", offset = 7, type = "u8", kind = 2 },
] }
channels = [
  { name = "target_state", field = "state" },
  { name = "moving_distance_cm", field = "moving_distance" },
  { name = "gate0_moving_energy_percent", field = "gate0_moving_energy" },
  { name = "gate8_moving_energy_percent", field = "gate8_moving_energy" },
]
"""


def test_an_ld2410_read_by_its_report_type_with_four_end_bytes_reads_both_reports() -> None:
    """The report type at byte 6 as the kind: the basic report's fields from both, the gate
    energies from the engineering report alone, every end byte checked."""
    assert errors(LD2410_KINDS) == []
    values, framer = read_chunked(LD2410_KINDS, LD2410_BASIC + LD2410_ENGINEERING, 5)
    assert framer.frames == 2
    assert values[0] == [2.0, 81.0]
    assert values[1][:3] == [3.0, 30.0, 60.0]


def sensor(frame: str, channels: list[str], max_frame_bytes: int = 512) -> str:
    text = (
        "[[sensors]]\nname = 's'\nport = '/dev/ttyUSB0'\nformat = 'frames'\n"
        f"max_frame_bytes = {max_frame_bytes}\n  [sensors.frame]\n{frame}\n"
    )
    for name in channels:
        text += f"  [[sensors.channels]]\n  name = 'c_{name}'\n  field = '{name}'\n"
    return text


# -- kinds that check refuses ------------------------------------------------------------------

KIND_HOLDS_LENGTH = sensor(
    """  start = '\\xa5'
  kind_offset = 1
  length_offset = 2
  length_size = 1
  checksum = 'sum8'
  fields = [
    { name = 'a', offset = 4, type = 'u8', kind = '90' },
    { name = 'b', offset = 4, type = 'u8', kind = '95 F0' },
  ]""",
    ["a", "b"],
    max_frame_bytes=64,
)


def test_a_kind_that_says_frames_longer_than_max_frame_bytes_is_refused_by_check() -> None:
    """Kind 95 F0 holds the length byte F0: its frames are 240 + 3 bytes, and the framer
    takes at most 64: refused (else every such frame would be overlong, and a kind holding a
    4-byte length field would have the simulator write a frame of up to 4 GiB)."""
    with pytest.raises(ConfigError, match="max_frame_bytes"):
        parse_config(KIND_HOLDS_LENGTH)


PREFIX_KINDS = sensor(
    """  start = '\\xa5'
  length = 8
  checksum = 'sum8'
  kind_offset = 1
  fields = [
    { name = 'a', offset = 2, type = 'u8', kind = '90' },
    { name = 'b', offset = 4, type = 'u16be', kind = '90 01' },
  ]""",
    ["a", "b"],
)


def test_a_field_of_a_short_kind_on_a_longer_kinds_bytes_is_refused_or_read_as_its_own() -> None:
    """Kind 90's field ``a`` sits at byte 2, where kind 90 01 has its second byte: a kind-90
    frame with a = 1 would be read as kind 90 01. Refused."""
    with pytest.raises(ConfigError, match=r"'a' lies on bytes \[2, 3\), by which kind 90 01"):
        parse_config(PREFIX_KINDS)


SHORT_KIND_CHECKSUM = sensor(
    """  start = '\\xa5'
  length_offset = 1
  length_size = 1
  kind_offset = 2
  checksum = 'sum8'
  checksum_end = 8
  fields = [
    { name = 'a', offset = 3, type = 'u8', kind = '01' },
    { name = 'x', offset = 3, type = 'f32be', kind = '02' },
    { name = 'y', offset = 7, type = 'f32be', kind = '02' },
  ]""",
    ["a", "x", "y"],
)


def test_a_kind_whose_frames_cannot_hold_the_checksum_range_is_refused_or_read() -> None:
    """The checksum covers bytes 0..7 (checksum_end = 8): kind 01's 5-byte frames cannot
    hold it. Refused."""
    with pytest.raises(ConfigError, match=r"the frames of kind 01 \(5 bytes\) cannot hold"):
        parse_config(SHORT_KIND_CHECKSUM)


# -- a length field that leaves more bytes uncounted than the checksum and end bytes ----------


def _round_trip(text: str, values: dict[str, float]) -> dict[str, float]:
    """``values`` (by field) written by the simulator's encoder, cut by the framer and read
    back (by channel)."""
    assert errors(text) == []
    spec, max_frame_bytes = spec_of(text)
    codec = codec_for("frames")
    frames = codec.encoder(spec)(values, 0.0)
    framer = codec.framer(spec, b"", max_frame_bytes)
    assert framer.feed(b"".join(frames)) + framer.flush() == frames
    decode = codec.decoder(spec)
    return {channel: value for frame in frames for channel, value in decode(frame)}


def test_a_simulated_ld2410_read_by_its_last_end_byte_sends_its_gate_energy() -> None:
    """With ``end = 0xf5`` (the last of F8 F7 F6 F5) the length field leaves four bytes
    uncounted, of which the spec checks one: the simulated device's frames hold the gate
    energy at 19 where the length field counts it, as an engineering report does."""
    values = {"state": 3.0, "moving_distance": 30.0, "gate0_moving_energy": 60.0}
    assert _round_trip(LD2410, values) == {
        "target_state": 3.0,
        "moving_distance_cm": 30.0,
        "gate0_moving_energy_percent": 60.0,
    }


@pytest.mark.parametrize("extra", [0, 1, 2, 5])
@pytest.mark.parametrize("end", ["", "end = 0x55"])
@pytest.mark.parametrize(("checksum", "width"), [("none", 0), ("sum8", 1), ("crc16_modbus", 2)])
def test_the_encoder_writes_every_field_into_the_bytes_the_length_field_counts(
    checksum: str, width: int, end: str, extra: int
) -> None:
    """A length field that leaves ``extra`` bytes uncounted besides the checksum and end
    byte the spec checks (a u-blox UBX frame's two Fletcher checksum bytes, a checksum
    sensord does not check): those bytes hold no field, so the encoder lays every field out
    before them, and each value written is read back."""
    adjust = width + bool(end) + extra
    text = sensor(
        f"""  start = '\\xb5\\x62'
  length_offset = 4
  length_size = 2
  length_byteorder = 'little'
  length_adjust = {adjust}
  checksum = '{checksum}'
  {end}
  fields = [
    {{ name = 'a', offset = 6, type = 'u16le' }},
    {{ name = 'b', offset = 8, type = 'u8' }},
  ]""",
        ["a", "b"],
    )
    assert _round_trip(text, {"a": 513.0, "b": 7.0}) == {"c_a": 513.0, "c_b": 7.0}


def test_max_frame_bytes_must_hold_the_frames_that_hold_every_field() -> None:
    """The LD2410 read by its last end byte: its smallest frame is 21 bytes, and the gate
    energy is counted only in frames of 24: a bound of 23 would leave it unread."""
    text = LD2410.replace("serial = {", "max_frame_bytes = 23\nserial = {")
    with pytest.raises(
        ConfigError, match=r"max_frame_bytes \(sensor .radar.\): must hold the 24-byte frame"
    ):
        parse_config(text)
    assert errors(LD2410.replace("serial = {", "max_frame_bytes = 24\nserial = {")) == []


@pytest.mark.parametrize("kinds", [False, True])
def test_the_encoder_writes_a_length_field_past_its_adjust_when_the_fields_end_before_it(
    kinds: bool,
) -> None:
    """A length field that counts the whole frame less ``length_adjust = 6``: no frame is
    shorter than 6 bytes, though its fields end at byte 3 (or 5, of a kind): the simulator
    writes frames of 6 bytes (a length of 0) that are read back, where it raised
    OverflowError writing a length of -3."""
    fields = "{ name = 'a', offset = 2, type = 'u8' }"
    if kinds:
        fields = "{ name = 'a', offset = 4, type = 'u8', kind = 0 }"
    text = sensor(
        f"""  start = '\\x1c'
  length_offset = 1
  length_size = 1
  length_counts = 'frame'
  length_adjust = 6
  {"kind_offset = 3" if kinds else ""}
  fields = [{fields}]""",
        ["a"],
    )
    assert _round_trip(text, {"a": 9.0}) == {"c_a": 9.0}


def test_check_refuses_fields_past_the_longest_frame_a_length_field_gives() -> None:
    """A 1-byte length field of the bytes after it gives frames of at most 257 bytes: a
    field at byte 400 is in none of them (the simulator could not write its length either)."""
    text = sensor(
        """  start = '\\x1c'
  length_offset = 1
  length_size = 1
  fields = [{ name = 'a', offset = 400, type = 'u8' }]""",
        ["a"],
    )
    assert errors(text) == [
        "sensors[0].frame.length_size: a 1-byte length field counting the bytes after it "
        "gives frames of at most 257 bytes, and the fields need 401: no frame that holds them "
        "would ever be accepted"
    ]
    assert errors(text.replace("length_size = 1", "length_size = 2")) == []


@pytest.mark.parametrize(
    ("start", "end", "escape", "clash"),
    [
        ("\\x30", "", 0x10, "0x10 escaped is 0x10 0x30"),
        ("\\x7e", "end = 0x5e", 0x7D, "0x5E escaped is 0x7D 0x7E"),
    ],
)
def test_check_refuses_an_escape_whose_escaped_bytes_read_as_a_delimiter(
    start: str, end: str, escape: int, clash: str
) -> None:
    """An escaped escape byte 0x10 is sent 10 30; with the start byte 0x30 the framer reads
    that as a stray escape before a start byte, and a frame that holds 0x10 (its checksum,
    say) is cut there and lost. So is an end byte 0x5E, escaped 7D 7E, with the start byte
    0x7E. Refused, naming the byte; an escape byte 0x7D beside them is not."""

    def spec(escape: int) -> str:
        return sensor(
            f"""  start = '{start}'
  length = 4
  escape = {escape}
  checksum = 'sum8'
  {end}
  fields = [{{ name = 'a', offset = 1, type = 'u8' }}]""",
            ["a"],
        )

    [problem] = errors(spec(escape))
    assert problem.startswith(f"sensors[0].frame.escape: {clash}")
    if not end:
        assert errors(spec(0x7D)) == []


# -- what check says of kinds, whole ---------------------------------------------------------


def _kinds(head: str, *fields: str) -> str:
    """A sensor of the frame keys ``head`` and the fields ``fields``, a channel each."""
    names = [field.split("'")[1] for field in fields]
    rows = "".join(f"    {field},\n" for field in fields)
    return sensor(f"{head}\n  fields = [\n{rows}  ]", names)


AA_BB = "  start = '\\xaa\\xbb'\n  checksum = 'sum8'\n"
STATUS_IN_KIND = AA_BB + "  kind_offset = 2\n  length = 8\n  status_ok = [0]\n"
#: the kind's one byte is the length byte: frames of it + 2 bytes
LENGTH_IN_KIND = (
    "  start = '\\xa5'\n  kind_offset = 1\n  length_offset = 1\n  length_size = 1\n"
    "  checksum = 'sum8'"
)
PREFIX = "  start = '\\xa5'\n  length = 8\n  checksum = 'sum8'\n  kind_offset = 1"
#: kinds of 2 bytes whose second holds the length byte: 12-byte frames (9 + the 3 up to it)
KIND_LENGTH = (
    "  start = '\\xa5'\n  kind_offset = 1\n  length_offset = 2\n  length_size = 1\n"
    "  checksum = 'sum8'\n  checksum_end = 10"
)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param(
            _kinds(
                AA_BB + "  kind_offset = 1\n  length = 6",
                "{ name = 'a', offset = 3, type = 'u8', kind = 'AB CC' }",
            ),
            [
                "sensors[0].frame.fields[0].kind: AB CC holds AB where every frame begins BB: "
                "no frame is of that kind"
            ],
            id="kind-on-other-start-bytes",
        ),
        pytest.param(
            _kinds(
                AA_BB + "  kind_offset = 1\n  length = 6",
                "{ name = 'a', offset = 3, type = 'u8', kind = 'BB 01' }",
            ),
            [],
            id="kind-on-its-start-bytes",
        ),
        pytest.param(
            _kinds(
                AA_BB + "  kind_offset = 2\n  length_offset = 3\n  length_size = 1",
                "{ name = 'a', offset = 4, type = 'u8', kind = '01 02' }",
            ),
            [],
            id="kind-length-exactly-its-fields",
        ),
        pytest.param(
            _kinds(LENGTH_IN_KIND, "{ name = 'a', offset = 2, type = 'u8', kind = '01' }"),
            [
                "sensors[0].frame.fields[0].kind: 01 holds the length field, which says 3-byte "
                "frames, and the frames of that kind take 4"
            ],
            id="kind-of-the-length-byte-too-short",
        ),
        pytest.param(
            _kinds(
                LENGTH_IN_KIND.replace("  kind_offset", "  length = 6\n  kind_offset")
                + "\n  length_counts = 'frame'",
                "{ name = 'a', offset = 2, type = 'u8', kind = '06' }",
                "{ name = 'b', offset = 4, type = 'u32be', kind = '06' }",
            ),
            [
                "sensors[0].frame.fields[0].kind: 06 holds the length field, which says 6-byte "
                "frames, and the frames of that kind take 9",
                "sensors[0].frame.fields[1].offset: 'b' (a 4-byte u32be at offset 4) ends at "
                "byte 8, past the 6-byte frame",
            ],
            id="kind-length-the-fixed-length-too-short-for-its-fields",
        ),
        pytest.param(
            _kinds(LENGTH_IN_KIND, "{ name = 'a', offset = 2, type = 'u8', kind = '02' }"),
            [],
            id="kind-of-the-length-byte",
        ),
        pytest.param(
            _kinds(
                "  start = '\\xa5'\n  kind_offset = 1\n  length_offset = 1\n  length_size = 2\n"
                "  length_byteorder = 'little'\n  checksum = 'sum8'",
                "{ name = 'a', offset = 3, type = 'u8', kind = '0C 00' }",
            ),
            [],
            id="kind-of-a-little-endian-length",
        ),
        pytest.param(
            _kinds(
                STATUS_IN_KIND + "  status_offset = 2",
                "{ name = 'a', offset = 4, type = 'u8', kind = 'A5 01' }",
            ),
            [
                "sensors[0].frame.fields[0].kind: A5 01 holds the status byte, and A5 is no "
                "valid status"
            ],
            id="kind-first-byte-a-bad-status",
        ),
        pytest.param(
            _kinds(
                STATUS_IN_KIND + "  status_offset = 3\n  status_mask = 0x0F",
                "{ name = 'a', offset = 4, type = 'u8', kind = '01 F0' }",
            ),
            [],
            id="kind-status-valid-under-its-mask",
        ),
        pytest.param(
            _kinds(
                STATUS_IN_KIND + "  status_offset = 3\n  status_mask = 0x0F",
                "{ name = 'a', offset = 4, type = 'u8', kind = '01 F5' }",
            ),
            [
                "sensors[0].frame.fields[0].kind: 01 F5 holds the status byte, and F5 is no "
                "valid status"
            ],
            id="kind-status-invalid-under-its-mask",
        ),
        pytest.param(
            _kinds(
                "  start = '\\xa5'\n  length_offset = 1\n  length_size = 1\n  kind_offset = 2\n"
                "  checksum = 'sum8'\n  checksum_end = 8",
                "{ name = 'a', offset = 3, type = 'u8', kind = 'A1' }",
                "{ name = 'x', offset = 3, type = 'f32be', kind = '0B' }",
                "{ name = 'y', offset = 7, type = 'f32be', kind = '0B' }",
            ),
            [
                "sensors[0].frame.kind_offset: the frames of kind A1 (5 bytes) cannot hold the "
                "checksum apart from the range it covers: check checksum_start, checksum_end "
                "and checksum_offset"
            ],
            id="kind-too-short-for-the-checksum-range",
        ),
        pytest.param(
            _kinds(
                KIND_LENGTH,
                "{ name = 'a', offset = 3, type = 'u8', kind = '0C 09' }",
                "{ name = 'y', offset = 3, type = 'f32be', kind = '0D 09' }",
                "{ name = 'z', offset = 7, type = 'f32be', kind = '0D 09' }",
            ),
            [],
            id="kind-length-field-longer-than-its-fields-holds-the-range",
        ),
        pytest.param(
            _kinds(
                PREFIX,
                "{ name = 'a', offset = 2, type = 'u8', kind = 'A0' }",
                "{ name = 'b', offset = 4, type = 'u16be', kind = 'A0 0B' }",
            ),
            [
                "sensors[0].frame.fields[0].offset: 'a' lies on bytes [2, 3), by which kind "
                "A0 0B is told from A0: a frame of the shorter kind holding those bytes would "
                "be read as the longer"
            ],
            id="field-on-a-longer-kinds-bytes",
        ),
        pytest.param(
            _kinds(
                PREFIX,
                "{ name = 'a', offset = 3, type = 'u8', kind = 'A0' }",
                "{ name = 'b', offset = 4, type = 'u16be', kind = 'A0 0B' }",
            ),
            [],
            id="field-right-after-a-longer-kinds-bytes",
        ),
        pytest.param(
            _kinds(
                PREFIX,
                "{ name = 'a', offset = 3, type = 'u8', kind = 'A0' }",
                "{ name = 'b', offset = 2, type = 'u16be', kind = 'A0 0B' }",
            ),
            ["sensors[0].frame.fields[1].offset: bytes [2, 4) overlap the kind bytes [1, 3)"],
            id="field-across-the-end-of-its-kinds-bytes",
        ),
        pytest.param(
            _kinds(
                PREFIX,
                "{ name = 'a', offset = 1, type = 'u8', kind = 'A0' }",
                "{ name = 'b', offset = 4, type = 'u16be', kind = 'A0 0B' }",
            ),
            ["sensors[0].frame.fields[0].offset: bytes [1, 2) overlap the kind bytes [1, 2)"],
            id="field-on-its-kinds-bytes",
        ),
    ],
)
def test_check_says_what_is_wrong_with_kind_bytes_whole(text: str, expected: list[str]) -> None:
    """Kind bytes on the start bytes, the length field or the status byte; kinds whose frames
    cannot hold the checksum's range; a field of a kind on the bytes that tell a longer kind
    from it: each problem, and only it, or none for the spec beside it that is right."""
    assert errors(text) == expected


# -- what check says of a reply length and of a field's values, whole -----------------------

#: 10-byte data frames with a length byte that counts the bytes after it (from byte 2)
REPLIES = "  start = '\\xa5'\n  length = 10\n  length_offset = 1\n  length_size = 1\n  checksum = 'sum8'\n"
#: the same without a checksum, its length byte counting the whole frame, and an end byte
REPLIES_ENDED = (
    "  start = '\\xa5'\n  length = 8\n  length_offset = 1\n  length_size = 1\n"
    "  length_counts = 'frame'\n  end = 0x0d\n"
)
ONE_FIELD = "\n  fields = [ { name = 'a', offset = 2, type = 'u8' } ]"


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        pytest.param(REPLIES + "  reply_length = 257", [], id="the-longest-a-length-byte-gives"),
        pytest.param(
            REPLIES + "  reply_length = 258",
            ["sensors[0].frame.reply_length: a 1-byte length field cannot give 258 bytes"],
            id="longer-than-a-length-byte-gives",
        ),
        pytest.param(
            REPLIES + "  end = 0x0d\n  checksum_offset = 5\n  reply_length = 6",
            [
                "sensors[0].frame.reply_length: the checksum is not inside a 6-byte reply after "
                "its header"
            ],
            id="checksum-on-the-end-byte",
        ),
        pytest.param(
            REPLIES + "  end = 0x0d\n  checksum_offset = 5\n  reply_length = 7",
            [],
            id="checksum-right-before-the-end-byte",
        ),
        pytest.param(
            REPLIES + "  checksum_start = 2\n  checksum_end = -3\n  reply_length = 5",
            [
                "sensors[0].frame.reply_length: the checksum's range [2, 2) is not inside a "
                "5-byte reply"
            ],
            id="empty-checksum-range",
        ),
        pytest.param(
            REPLIES_ENDED + "  reply_length = 2",
            [
                "sensors[0].frame.reply_length: 2 bytes cannot hold the start bytes, length "
                "field and end byte"
            ],
            id="no-room-for-the-end-byte",
        ),
        pytest.param(
            REPLIES_ENDED.replace("end = 0x0d", "end = '0D 0A'") + "  reply_length = 3",
            [
                "sensors[0].frame.reply_length: 3 bytes cannot hold the start bytes, length "
                "field and end bytes"
            ],
            id="no-room-for-the-end-bytes",
        ),
        pytest.param(
            REPLIES_ENDED.replace("  end = 0x0d\n", "") + "  reply_length = 1",
            ["sensors[0].frame.reply_length: 1 byte cannot hold the start bytes and length field"],
            id="no-room-for-the-length-field",
        ),
        pytest.param(REPLIES_ENDED + "  reply_length = 3", [], id="header-and-end-byte"),
    ],
)
def test_check_says_what_a_reply_length_cannot_hold_whole(frame: str, expected: list[str]) -> None:
    """A reply of ``reply_length`` bytes, beside 10-byte (or 8-byte) data frames: the length
    its length byte can give, the checksum's place and range in it, its header and end
    byte."""
    assert errors(sensor(frame + ONE_FIELD, ["a"])) == expected


def test_check_says_the_shortest_kind_s_frames_bound_a_reply_length() -> None:
    """Kind 01's frames are 5 bytes, kind 02's 12: a 7-byte reply would be read as a data
    frame of kind 01."""
    text = _kinds(
        "  start = '\\xa5'\n  kind_offset = 1\n  length_offset = 2\n  length_size = 1\n"
        "  checksum = 'sum8'\n  reply_length = 7",
        "{ name = 'a', offset = 3, type = 'u8', kind = '01' }",
        "{ name = 'b', offset = 3, type = 'u32be', kind = '02' }",
        "{ name = 'c', offset = 7, type = 'u32be', kind = '02' }",
    )
    assert errors(text) == [
        "sensors[0].frame.reply_length: must be shorter than the shortest data frame (5 bytes) "
        "when the length field gives the frames' length"
    ]


EIGHT = "  start = '\\xa5'\n  length = 8\n  checksum = 'sum8'\n"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        pytest.param(
            "{ name = 'a', offset = 1, type = 'f32be', bit = 0 }",
            [
                "sensors[0].frame.fields[0].type: a bit field reads bits of an unsigned integer: "
                "u16be, u32le, ... in place of f32be"
            ],
            id="bit-of-a-float",
        ),
        pytest.param(
            "{ name = 'a', offset = 1, type = 'f32be', "
            "not_available = [3.4028234663852886e38, -3.4028234663852886e38] }",
            [],
            id="the-largest-floats",
        ),
        pytest.param(
            "{ name = 'a', offset = 1, type = 'f32be', not_available = [3.4028235e38] }",
            [
                "sensors[0].frame.fields[0].not_available: a f32be holds at most ±3.402823e+38, "
                "got 3.4028235e+38"
            ],
            id="just-past-the-largest-float",
        ),
        pytest.param(
            "{ name = 'a', offset = 1, type = 'u8', not_available = [0, 255] }, "
            "{ name = 'b', offset = 2, type = 'i8', not_available = [-128, 127] }",
            [],
            id="the-ends-of-integer-ranges",
        ),
        pytest.param(
            "{ name = 'a', offset = 1, type = 'i8', not_available = [-129] }",
            ["sensors[0].frame.fields[0].not_available: a i8 holds -128..127, got -129"],
            id="below-an-integer-range",
        ),
    ],
)
def test_check_says_what_a_field_cannot_be_whole(fields: str, expected: list[str]) -> None:
    """A bit field of a float; ``not_available`` values at and past the ends of what a
    field's type holds."""
    names = [part.split("'")[1] for part in fields.split("name = ")[1:]]
    assert errors(sensor(f"{EIGHT}  fields = [ {fields} ]", names)) == expected


def test_check_refuses_a_length_offset_without_a_length_field() -> None:
    """``length_offset`` without ``length_size`` reads no length: a spec that gives it meant a
    length field, and is told so rather than read as frames of the fixed length."""
    text = _kinds(
        "  start = '\\xa5'\n  length = 8\n  length_offset = 2\n  checksum = 'sum8'",
        "{ name = 'a', offset = 3, type = 'u8' }",
    )
    assert errors(text) == [
        "sensors[0].frame.length_offset: is where a length field begins: give its length_size, "
        "or leave length_offset out"
    ]
    assert errors(text.replace("  length_offset = 2\n", "")) == []
