"""Frame specs at the edges of what check allows: a stale hint when the spec's own checksum
holds, kinds that hold the length field, a whole number beside its bit fields."""

from __future__ import annotations

from test_frames_generic import errors, spec_of
from test_frames_kinds import JBD_BITS, with_fields

from sensord.formats import codec_for
from sensord.formats.presets import spec_mistake_hint

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
