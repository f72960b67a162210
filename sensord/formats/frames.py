"""``format = "frames"``: binary frames described by a frame spec (``[sensors.frame]``).

A frame begins with ``start`` bytes. Its length is fixed (``length``) or read from a length
field (``length_offset``, ``length_size`` of 1, 2 or 4 bytes, ``length_byteorder``, and what it
counts: ``length_counts = "frame"`` for the whole frame, ``"after"`` for the bytes after the
field); with both, only frames of exactly ``length`` bytes are accepted. An ``end`` byte, if
any, is the last byte. A checksum of kind ``checksum`` covers ``checksum_start`` up to
``checksum_end`` (exclusive; by default up to the checksum) and sits at ``checksum_offset``
(by default the last bytes before the end byte, if any). Negative positions count from the end
of the frame. The field table maps names to numbers: ``raw * scale + bias`` read at ``offset``
as ``type``; a channel's ``field`` names a row.

Checksum kinds (the sums are of the covered bytes):

==============  ===================================================================
sum8            sum modulo 256, one byte
sum16be/le      sum modulo 65536, two bytes big/little-endian
twos8           two's complement of the 8-bit sum (``-sum % 256``), one byte
xor8            xor of the bytes, one byte
crc16_modbus    CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF), low byte first
crc8            CRC-8/SMBUS (poly 0x07, init 0x00), one byte
==============  ===================================================================

:class:`FrameFramer` finds frames in a byte stream: it looks for the start bytes, reads the
length, waits for the whole candidate (never more than ``max_frame_bytes``), and accepts it
only when its length, end byte and checksum hold. A rejected candidate costs one byte: the
search goes on from the byte after its start, so a valid frame that begins inside a rejected
candidate (a PMS checksum byte ``0x42`` looks like a start byte) is never skipped; a candidate
that stray start bytes begin holds back the frames inside it until it is complete or its length
is refused, so at most ``max_frame_bytes`` later. Counters:
``frames``, ``overlong`` (a length field beyond ``max_frame_bytes``), ``rejected`` by reason
(``checksum``; ``syntax`` for a length that cannot hold the layout or a wrong end byte) and
``skipped_bytes`` (every byte that is in no accepted frame and no longer pending). The output
never depends on how the stream was chunked.

The decoder checks the frame's start bytes and length (the framer has checked the checksum);
the encoder writes a frame of the spec's length (the smallest the layout allows when only a
length field gives it) with zeros where no field is written.
"""

from __future__ import annotations

import math
import struct
from collections.abc import Callable, Mapping

from sensord.errors import ParseError
from sensord.formats.base import Codec, Decoder, Encoder, FieldSpec, FormatSpec, FrameSpec

__all__ = [
    "CHECKSUMS",
    "CODEC",
    "FIELD_TYPES",
    "FrameFramer",
    "checksum",
    "encode_frame",
    "frame_check",
    "frame_length",
]

#: Field type -> struct format.
FIELD_TYPES: Mapping[str, str] = {
    "u8": ">B",
    "i8": ">b",
    "u16be": ">H",
    "u16le": "<H",
    "i16be": ">h",
    "i16le": "<h",
    "u32be": ">I",
    "u32le": "<I",
    "i32be": ">i",
    "i32le": "<i",
    "f32be": ">f",
    "f32le": "<f",
}


def _crc16_modbus_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


def _crc8_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
        table.append(crc)
    return tuple(table)


_CRC16 = _crc16_modbus_table()
_CRC8 = _crc8_table()


def _crc16_modbus(data: bytes) -> int:
    crc = 0xFFFF
    table = _CRC16
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc


def _crc8(data: bytes) -> int:
    crc = 0
    table = _CRC8
    for byte in data:
        crc = table[crc ^ byte]
    return crc


def _xor8(data: bytes) -> int:
    value = 0
    for byte in data:
        value ^= byte
    return value


#: Checksum kind -> (function of the covered bytes, width in bytes, byte order).
CHECKSUMS: Mapping[str, tuple[Callable[[bytes], int], int, str]] = {
    "sum8": (lambda data: sum(data) & 0xFF, 1, "big"),
    "sum16be": (lambda data: sum(data) & 0xFFFF, 2, "big"),
    "sum16le": (lambda data: sum(data) & 0xFFFF, 2, "little"),
    "twos8": (lambda data: -sum(data) & 0xFF, 1, "big"),
    "xor8": (_xor8, 1, "big"),
    "crc16_modbus": (_crc16_modbus, 2, "little"),
    "crc8": (_crc8, 1, "big"),
}


def checksum(kind: str, data: bytes) -> bytes:
    """The checksum bytes of kind ``kind`` over ``data``, as they sit in a frame."""
    function, width, order = CHECKSUMS[kind]
    return function(data).to_bytes(width, order)  # type: ignore[arg-type]


def _width(frame: FrameSpec) -> int:
    return CHECKSUMS[frame.checksum][1] if frame.checksum in CHECKSUMS else 0


def _checksum_offset(frame: FrameSpec) -> int:
    """Where the checksum sits: as configured, or last before the end byte."""
    if frame.checksum_offset:
        return frame.checksum_offset
    return -_width(frame) - (1 if frame.end is not None else 0)


def frame_length(frame: FrameSpec) -> int:
    """The length of the frames the encoder writes: ``length``, or else the smallest frame
    that holds the start bytes, the length field, every field, the checksum and the end byte."""
    if frame.length is not None:
        return frame.length
    head = max(len(frame.start), frame.length_offset + frame.length_size)
    for field in frame.fields:
        if field.type in FIELD_TYPES:
            head = max(head, field.offset + struct.calcsize(FIELD_TYPES[field.type]))
    tail = 1 if frame.end is not None else 0
    if frame.checksum in CHECKSUMS:
        offset = _checksum_offset(frame)
        if offset >= 0:
            head = max(head, offset + _width(frame))
        else:
            tail = max(tail, -offset)
    return head + tail


class _Layout:
    """The positions of a frame spec resolved for one frame length."""

    __slots__ = ("cover", "end", "sum_at")

    def __init__(self, frame: FrameSpec, n: int) -> None:
        def at(position: int) -> int:
            return position if position >= 0 else n + position

        width = _width(frame)
        self.sum_at = at(_checksum_offset(frame)) if width else 0
        cover_end = self.sum_at if frame.checksum_end is None else at(frame.checksum_end)
        self.cover = (at(frame.checksum_start), cover_end)
        self.end = n - 1 if frame.end is not None else None


# -- check ---------------------------------------------------------------------------------------


def check(spec: FormatSpec) -> list[tuple[str, str]]:
    frame = spec.frame
    if frame is None:
        return [("frame", "format 'frames' needs a [sensors.frame] table (or a preset)")]
    problems: list[tuple[str, str]] = []
    if not spec.fields:
        problems.append(("channels", "at least one channel is needed"))
    problems.extend(_check_length(frame))
    if frame.checksum != "none" and frame.checksum not in CHECKSUMS:
        known = ", ".join(("none", *CHECKSUMS))
        problems.append(("frame.checksum", f"must be one of {known}; got {frame.checksum!r}"))
    names: dict[str, int] = {}
    for i, field in enumerate(frame.fields):
        if field.name in names:
            problems.append(
                (
                    f"frame.fields[{i}].name",
                    f"{field.name!r} is already frame.fields[{names[field.name]}]",
                )
            )
        names.setdefault(field.name, i)
        if field.type not in FIELD_TYPES:
            known = ", ".join(FIELD_TYPES)
            problems.append(
                (f"frame.fields[{i}].type", f"must be one of {known}; got {field.type!r}")
            )
        if field.offset < 0:
            problems.append(
                (f"frame.fields[{i}].offset", f"must not be negative, got {field.offset}")
            )
        if not (math.isfinite(field.scale) and field.scale != 0.0):
            problems.append((f"frame.fields[{i}].scale", "must be a finite number other than 0"))
    for i, (_, field_name) in enumerate(spec.fields):
        if field_name not in names:
            problems.append(
                (f"channels[{i}].field", f"{field_name!r} is not a name in the frame.fields table")
            )
    if problems:
        return problems
    return _check_layout(frame)


def _check_length(frame: FrameSpec) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if not frame.start:
        problems.append(("frame.start", "must not be empty"))
    if frame.length is None and not frame.length_size:
        problems.append(("frame.length", "give the frame's length or a length field (length_size)"))
    if frame.length is not None and frame.length < 1:
        problems.append(("frame.length", f"must be at least 1, got {frame.length}"))
    if frame.length_size not in {0, 1, 2, 4}:
        problems.append(("frame.length_size", f"must be 0, 1, 2 or 4; got {frame.length_size}"))
    if frame.length_size and frame.length_offset < len(frame.start):
        problems.append(
            ("frame.length_offset", f"must come after the {len(frame.start)} start bytes")
        )
    if frame.length_byteorder not in {"big", "little"}:
        problems.append(("frame.length_byteorder", "must be 'big' or 'little'"))
    if frame.length_counts not in {"frame", "after"}:
        problems.append(("frame.length_counts", "must be 'frame' or 'after'"))
    if frame.end is not None and not 0 <= frame.end <= 255:
        problems.append(("frame.end", f"must be a byte value 0..255, got {frame.end}"))
    return problems


def _check_layout(frame: FrameSpec) -> list[tuple[str, str]]:
    """Every position inside the frame, and nothing written twice, at the encoder's length
    (the smallest length a length field may give: longer frames only move the tail apart)."""
    n = frame_length(frame)
    problems: list[tuple[str, str]] = []
    if n < len(frame.start):
        problems.append(("frame.length", f"{n} is shorter than the start bytes"))
        return problems
    if frame.length_size and frame.length_offset + frame.length_size > n:
        problems.append(("frame.length_offset", f"the length field ends past the {n}-byte frame"))
    layout = _Layout(frame, n)
    taken: list[tuple[int, int, str]] = [(0, len(frame.start), "the start bytes")]
    if frame.length_size:
        taken.append(
            (frame.length_offset, frame.length_offset + frame.length_size, "the length field")
        )
    if layout.end is not None:
        taken.append((layout.end, n, "the end byte"))
    if frame.checksum in CHECKSUMS:
        width = _width(frame)
        lo, hi = layout.cover
        if not 0 <= layout.sum_at <= n - width:
            problems.append(("frame.checksum_offset", f"the checksum ends past the {n}-byte frame"))
        elif not 0 <= lo < hi <= n:
            problems.append(
                (
                    "frame.checksum_start",
                    f"the covered range [{lo}, {hi}) is not inside the {n}-byte frame",
                )
            )
        elif lo < layout.sum_at + width and layout.sum_at < hi:
            problems.append(
                ("frame.checksum_end", "the covered range includes the checksum itself")
            )
        else:
            problems.extend(
                _overlap(taken, layout.sum_at, layout.sum_at + width, "frame.checksum_offset")
            )
            taken.append((layout.sum_at, layout.sum_at + width, "the checksum"))
    for i, field in enumerate(frame.fields):
        size = struct.calcsize(FIELD_TYPES[field.type])
        key = f"frame.fields[{i}].offset"
        if field.offset + size > n:
            problems.append((key, f"{field.name!r} ends past the {n}-byte frame"))
        else:
            problems.extend(_overlap(taken, field.offset, field.offset + size, key))
    return problems


def _overlap(
    taken: list[tuple[int, int, str]], lo: int, hi: int, key: str
) -> list[tuple[str, str]]:
    for a, b, what in taken:
        if lo < b and a < hi:
            return [(key, f"bytes [{lo}, {hi}) overlap {what} [{a}, {b})")]
    return []


# -- the framer ----------------------------------------------------------------------------------


class FrameFramer:
    """Cuts a byte stream into the frames of a frame spec; see the module docstring."""

    __slots__ = (
        "_buffer",
        "_cover",
        "_end",
        "_fixed",
        "_length_after",
        "_length_field",
        "_min_length",
        "_start",
        "_sum",
        "_sum_at",
        "_sum_width",
        "frames",
        "max_frame_bytes",
        "overlong",
        "rejected",
        "skipped_bytes",
    )

    def __init__(self, frame: FrameSpec, max_frame_bytes: int) -> None:
        self._start = frame.start
        self._fixed = frame.length
        self._length_field = (
            (frame.length_offset, frame.length_offset + frame.length_size, frame.length_byteorder)
            if frame.length_size
            else None
        )
        self._length_after = (
            frame.length_offset + frame.length_size if frame.length_counts == "after" else 0
        )
        self._min_length = frame_length(frame)
        if self._min_length > max_frame_bytes:
            raise ValueError(f"max_frame_bytes {max_frame_bytes} cannot hold a frame")
        self._end = frame.end
        self._sum = CHECKSUMS[frame.checksum][0] if frame.checksum in CHECKSUMS else None
        self._sum_at = _checksum_offset(frame)
        self._sum_width = (
            CHECKSUMS[frame.checksum][1:] if frame.checksum in CHECKSUMS else (0, "big")
        )
        self._cover = (frame.checksum_start, frame.checksum_end)
        self.max_frame_bytes = max_frame_bytes
        self.frames = 0
        self.overlong = 0
        self.skipped_bytes = 0
        self.rejected: dict[str, int] = {"checksum": 0, "syntax": 0}
        self._buffer = bytearray()

    def reset(self) -> None:
        """Forget the pending bytes (after a reconnect). Counters are kept."""
        self._buffer.clear()

    def _check(self, frame: bytes, n: int) -> str | None:
        """Why a complete candidate of ``n`` bytes is not a frame (a reason), or None."""
        if self._end is not None and frame[-1] != self._end:
            return "syntax"
        function = self._sum
        if function is None:
            return None
        sum_at = self._sum_at if self._sum_at >= 0 else n + self._sum_at
        lo, hi = self._cover
        lo = lo if lo >= 0 else n + lo
        hi = sum_at if hi is None else (hi if hi >= 0 else n + hi)
        width, order = self._sum_width
        stored = int.from_bytes(frame[sum_at : sum_at + width], order)  # type: ignore[arg-type]
        return None if function(frame[lo:hi]) == stored else "checksum"

    def feed(self, chunk: bytes) -> list[bytes]:
        """Add ``chunk`` to the stream and return the frames it completed."""
        buffer = self._buffer
        buffer += chunk
        start = self._start
        size = len(buffer)
        frames: list[bytes] = []
        pos = 0
        while True:
            found = buffer.find(start, pos)
            if found < 0:
                # keep only what may be the first bytes of a start sequence
                keep = max(pos, size - len(start) + 1)
                self.skipped_bytes += keep - pos
                pos = keep
                break
            self.skipped_bytes += found - pos
            pos = found
            n = self._fixed
            if self._length_field is not None:
                lo, hi, order = self._length_field
                if size - pos < hi:
                    break
                given = int.from_bytes(buffer[pos + lo : pos + hi], order) + self._length_after  # type: ignore[arg-type]
                if given > self.max_frame_bytes:
                    self.overlong += 1
                    pos += 1
                    self.skipped_bytes += 1
                    continue
                if given < self._min_length or (n is not None and given != n):
                    self.rejected["syntax"] += 1
                    pos += 1
                    self.skipped_bytes += 1
                    continue
                n = given
            assert n is not None
            if size - pos < n:
                break
            frame = bytes(buffer[pos : pos + n])
            reason = self._check(frame, n)
            if reason is not None:
                self.rejected[reason] += 1
                pos += 1
                self.skipped_bytes += 1
                continue
            frames.append(frame)
            pos += n
        del buffer[:pos]
        self.frames += len(frames)
        return frames


def frame_check(frame: FrameSpec) -> Callable[[bytes], bool]:
    """Whether bytes are one whole frame of a fixed-length spec: its start bytes, its length,
    its end byte and its checksum (the framer's test of a candidate)."""
    n = frame_length(frame)
    start = frame.start
    check = FrameFramer(frame, n)._check

    def holds(data: bytes) -> bool:
        return len(data) == n and data.startswith(start) and check(data, n) is None

    return holds


def framer(spec: FormatSpec, terminator: bytes, max_frame_bytes: int) -> FrameFramer:
    """The ``framer`` of frames: binary frames have no terminator, so it is not used."""
    del terminator
    assert spec.frame is not None  # check() makes sure it is
    return FrameFramer(spec.frame, max_frame_bytes)


# -- decoder and encoder -------------------------------------------------------------------------


def _rows(spec: FormatSpec) -> dict[str, FieldSpec]:
    assert spec.frame is not None  # check() makes sure it is
    return {field.name: field for field in spec.frame.fields}


def _factor(scale: float) -> tuple[float, bool]:
    """``(factor, divide)``: a scale of 0.1 divides by 10, which gives 123.6 for 1236 where
    multiplying by 0.1 gives 123.60000000000001."""
    inverse = 1.0 / scale
    if abs(scale) < 1.0 and inverse == round(inverse):
        return inverse, True
    return scale, False


def decoder(spec: FormatSpec) -> Decoder:
    frame = spec.frame
    assert frame is not None  # check() makes sure it is
    rows = _rows(spec)
    readers = tuple(
        (
            channel,
            struct.Struct(FIELD_TYPES[rows[name].type]).unpack_from,
            rows[name].offset,
            *_factor(rows[name].scale),
            rows[name].bias,
        )
        for channel, name in spec.fields
    )
    start = frame.start
    fixed = frame.length
    minimum = frame_length(frame)
    length_field = (
        (frame.length_offset, frame.length_offset + frame.length_size, frame.length_byteorder)
        if frame.length_size
        else None
    )
    after = frame.length_offset + frame.length_size if frame.length_counts == "after" else 0

    def decode_frame(data: bytes) -> list[tuple[str, float]]:
        n = len(data)
        if not data.startswith(start) or n < minimum or (fixed is not None and n != fixed):
            raise ParseError("syntax", f"not a frame of this spec ({n} bytes)")
        if length_field is not None:
            lo, hi, order = length_field
            if int.from_bytes(data[lo:hi], order) + after != n:  # type: ignore[arg-type]
                raise ParseError("syntax", "the length field does not match the frame")
        out = []
        for channel, unpack, offset, factor, divide, bias in readers:
            raw = unpack(data, offset)[0]
            value = (raw / factor if divide else raw * factor) + bias
            if not math.isfinite(value):
                raise ParseError("nonfinite", f"{channel} is {value}")
            out.append((channel, value))
        return out

    return decode_frame


def _packer(field: FieldSpec) -> Callable[[bytearray, float], None]:
    """Writes a value of ``field`` into a frame, rounded and clamped to what the type holds."""
    fmt = FIELD_TYPES[field.type]
    packer = struct.Struct(fmt)
    offset, scale, bias = field.offset, field.scale, field.bias
    if fmt[1] == "f":

        def pack_float(frame: bytearray, value: float) -> None:
            raw = (value - bias) / scale
            packer.pack_into(frame, offset, max(-3.4e38, min(3.4e38, raw)))

        return pack_float
    bits = 8 * packer.size
    lo, hi = (
        (-(1 << (bits - 1)), (1 << (bits - 1)) - 1) if fmt[1].islower() else (0, (1 << bits) - 1)
    )

    def pack_int(frame: bytearray, value: float) -> None:
        raw = (value - bias) / scale
        packer.pack_into(frame, offset, max(lo, min(hi, round(raw))) if math.isfinite(raw) else 0)

    return pack_int


def encode_frame(frame: FrameSpec, write: Callable[[bytearray], None]) -> bytes:
    """A frame of ``frame_length(frame)`` bytes: start, length field, what ``write`` puts in,
    checksum and end byte; every other byte is 0."""
    n = frame_length(frame)
    data = bytearray(n)
    data[: len(frame.start)] = frame.start
    if frame.length_size:
        value = n - (
            frame.length_offset + frame.length_size if frame.length_counts == "after" else 0
        )
        data[frame.length_offset : frame.length_offset + frame.length_size] = value.to_bytes(
            frame.length_size,
            frame.length_byteorder,  # type: ignore[arg-type]
        )
    write(data)
    layout = _Layout(frame, n)
    if layout.end is not None and frame.end is not None:
        data[layout.end] = frame.end
    if frame.checksum in CHECKSUMS:
        lo, hi = layout.cover
        value_bytes = checksum(frame.checksum, bytes(data[lo:hi]))
        data[layout.sum_at : layout.sum_at + len(value_bytes)] = value_bytes
    return bytes(data)


def encoder(spec: FormatSpec) -> Encoder:
    frame = spec.frame
    assert frame is not None  # check() makes sure it is
    packers = tuple((name, _packer(field)) for name, field in _rows(spec).items())

    def encode_frames(values: Mapping[str, float], t_s: float) -> list[bytes]:
        del t_s
        present = [(pack, values[name]) for name, pack in packers if name in values]
        if not present:
            return []

        def write(data: bytearray) -> None:
            for pack, value in present:
                pack(data, value)

        return [encode_frame(frame, write)]

    return encode_frames


CODEC = Codec("frames", check, decoder, encoder, framer, binary=True)
