"""The encoder of binary frames, for the simulator: the values given written as the frames a
device sends (a frame of each kind that has one of them; each field's raw value rounded and
clamped to its type, a bit field's bits beside the others of its number), with the start
bytes, the length field, a valid status, the checksum and the end bytes, byte-stuffed when the
spec has an escape byte. The decoder of :mod:`sensord.formats.frames_decode` reads them
back."""

from __future__ import annotations

import dataclasses
import math
import struct
from collections.abc import Callable, Mapping
from typing import Any

from sensord.formats.base import Encoder, FieldSpec, FormatSpec, FrameSpec
from sensord.formats.frame_keys import FIELD_TYPES
from sensord.formats.frames_checksums import CHECKSUMS, checksum
from sensord.formats.frames_layout import (
    Layout,
    encoded_length,
    kind_length,
    kinds_of,
    length_base,
    of_kind,
)
from sensord.formats.frames_stuffing import stuff

__all__ = ["encoder"]


def _packer(field: FieldSpec) -> Callable[[bytearray, float], None]:
    """Writes a value of ``field`` into a frame, rounded and clamped to what the type holds
    (a bit field's bits, the others of the number kept)."""
    fmt = FIELD_TYPES[field.type]
    packer = struct.Struct(fmt)
    offset, scale, bias = field.offset, field.scale, field.bias
    if field.bit is not None:
        shift, mask = field.bit, (1 << field.bits) - 1

        def pack_bits(frame: bytearray, value: float) -> None:
            raw = (value - bias) / scale
            # the simulator's signals wander around 20: taken modulo, a flag comes and goes
            bits = round(raw) % (mask + 1) if math.isfinite(raw) else 0
            whole = packer.unpack_from(frame, offset)[0] & ~(mask << shift)
            packer.pack_into(frame, offset, whole | bits << shift)

        return pack_bits
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


def _encode_frame(frame: FrameSpec, write: Callable[[bytearray], None]) -> bytes:
    """A frame of ``encoded_length(frame)`` bytes: start, length field, what ``write`` puts
    in, checksum and end byte; every other byte is 0."""
    n = encoded_length(frame)
    data = bytearray(n)
    data[: len(frame.start)] = frame.start
    if frame.length_size:
        value = n - length_base(frame)
        data[frame.length_offset : frame.length_offset + frame.length_size] = value.to_bytes(
            frame.length_size,
            frame.length_byteorder,  # type: ignore[arg-type]
        )
    if frame.status_offset is not None and frame.status_ok:
        data[frame.status_offset] = frame.status_ok[0]
    write(data)
    layout = Layout(frame, n)
    if layout.end is not None:
        data[layout.end :] = frame.end_bytes
    if frame.checksum in CHECKSUMS:
        lo, hi = layout.cover
        value_bytes = checksum(frame.checksum, bytes(data[lo:hi]))
        data[layout.sum_at : layout.sum_at + len(value_bytes)] = value_bytes
    return bytes(data)


def encoder(spec: FormatSpec) -> Encoder:
    """A frame of the values given; of a spec with kinds, a frame of each kind that has one
    of them, in the order the field table first names the kinds."""
    frame = spec.frame
    assert frame is not None  # check() makes sure it is
    kinds = kinds_of(frame)
    layouts: list[tuple[FrameSpec, bytes]] = [(frame, b"")]
    if kinds:
        # a kind that holds the length field writes frames of the length it says
        layouts = [
            (
                of_kind(frame, kind)
                if (n := kind_length(frame, kind)) is None
                else dataclasses.replace(of_kind(frame, kind), length=n),
                kind,
            )
            for kind in kinds
        ]
    at = frame.kind_offset or 0
    # a whole number before its bit fields, which keep the bits they do not write
    writers = tuple(
        (
            layout,
            tag,
            tuple(
                (f.name, _packer(f)) for f in sorted(layout.fields, key=lambda f: f.bit is not None)
            ),
        )
        for layout, tag in layouts
    )

    def encode_frames(values: Mapping[str, float], t_s: float) -> list[bytes]:
        del t_s
        out = []
        for layout, tag, packers in writers:
            present = [(pack, values[name]) for name, pack in packers if name in values]
            if not present:
                continue

            def write(data: bytearray, tag: bytes = tag, present: list[Any] = present) -> None:
                data[at : at + len(tag)] = tag
                for pack, value in present:
                    pack(data, value)

            out.append(stuff(layout, _encode_frame(layout, write)))
        return out

    return encode_frames
