"""The decoder of binary frames: a frame's bytes read as its channels' values (each field's
raw number at its offset, ``raw * scale + bias``; of its kind's fields when the spec has kinds;
the fields a length field leaves out not in that frame), a field's ``not_available`` values
and a status byte that says the values are not valid told as ``invalid``, a frame sent while
the device boots read as one without values; and what raw values a field's type holds
(``field_value_problem``, which the configuration checks ``not_available`` against). The
sensor also asks the status and boot checks of a frame of its own (``status_check``,
``boot_check``)."""

from __future__ import annotations

import dataclasses
import math
import operator
import struct
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sensord.errors import NotMeasuredError, ParseError
from sensord.formats.base import (
    FLOAT32_MAX,
    Decoder,
    FieldSpec,
    FormatSpec,
    FrameSpec,
    float32_decimal,
)
from sensord.formats.frame_keys import FIELD_TYPES
from sensord.formats.frames_layout import (
    counted_tail,
    frame_length,
    in_frames_of,
    kinds_of,
    length_base,
    of_kind,
)
from sensord.units import decimal_product, whole_divisor

__all__ = [
    "boot_check",
    "decoder",
    "field_value_problem",
    "status_check",
    "status_ok_shown",
]


def _rows(spec: FormatSpec) -> dict[str, FieldSpec]:
    assert spec.frame is not None  # check() makes sure it is
    return {field.name: field for field in spec.frame.fields}


def _unpacker(row: FieldSpec) -> Callable[[bytes, int], tuple[Any, ...]]:
    """How ``row``'s raw value is read, as ``struct``'s ``unpack_from`` gives it (a 1-tuple):
    of a bit field, its bits of the number read."""
    unpack = struct.Struct(FIELD_TYPES[row.type]).unpack_from
    if row.bit is None:
        return unpack
    shift, mask = row.bit, (1 << row.bits) - 1
    return lambda data, offset: ((unpack(data, offset)[0] >> shift) & mask,)


def _value_unpacker(row: FieldSpec) -> Callable[[bytes, int], tuple[Any, ...]]:
    """:func:`_unpacker`, a float32 read as the shortest decimal that is the same float32
    (an SPS30's PM2.5 16.1, not the 16.100000381469727 its bits are as a float64), as a
    Modbus float32 register is."""
    unpack = _unpacker(row)
    if not row.type.startswith("f32"):
        return unpack
    return lambda data, offset: (float32_decimal(unpack(data, offset)[0]),)


def _affine(scale: float, bias: float) -> tuple[float, bool, float]:
    """``(factor, divide, addend)`` of ``raw * scale + bias``: for a scale of 0.1, 10, True
    and ``bias * 10``, read as ``(raw + addend) / 10``, which gives 123.6 for 1236 where
    multiplying by 0.1 gives 123.60000000000001 (and 20.3 for 2934 at scale 0.1, bias -273.1,
    where the sum of the products gives 20.299999999999955); else ``scale``, False, ``bias``."""
    _, divisor = whole_divisor(scale)
    if divisor == 1.0:
        return scale, False, bias
    return divisor, True, decimal_product(bias, divisor)  # (a negative scale's sign with it)


def _whole_integers(
    spec: FormatSpec, rows: Mapping[str, FieldSpec]
) -> tuple[Callable[[bytes], tuple[int, ...]], tuple[str, ...]] | None:
    """For channels that all read integers as they are (scale 1, bias 0) in one byte order:
    one ``struct`` format that unpacks their raw values in the channels' order, and the
    channel names. ``float(raw)`` is then the value (``raw * 1.0 + 0.0``, always finite).
    None for any other table."""
    used = [rows[name] for _, name in spec.fields]
    orders = {FIELD_TYPES[f.type][0] for f in used if struct.calcsize(FIELD_TYPES[f.type]) > 1}
    if len(orders) > 1 or any(
        FIELD_TYPES[f.type][1] == "f" or f.scale != 1.0 or f.bias != 0.0 or f.bit is not None
        for f in used
    ):
        return None
    distinct = sorted({f.name: f for f in used}.values(), key=lambda f: f.offset)
    parts = [orders.pop() if orders else ">"]
    at = 0
    for f in distinct:
        if f.offset < at:  # fields that share bytes: read one by one
            return None
        parts.append(f"{f.offset - at}x{FIELD_TYPES[f.type][1]}")
        at = f.offset + struct.calcsize(FIELD_TYPES[f.type])
    unpack = struct.Struct("".join(parts)).unpack_from
    index = {f.name: i for i, f in enumerate(distinct)}
    picks = tuple(index[name] for _, name in spec.fields)
    names = tuple(channel for channel, _ in spec.fields)
    if picks == tuple(range(len(distinct))):
        return unpack, names
    pick = operator.itemgetter(*picks)
    if len(picks) == 1:
        return (lambda data: (pick(unpack(data)),)), names
    return (lambda data: pick(unpack(data))), names


def decoder(spec: FormatSpec) -> Decoder:
    """The values of a frame: of its kind's fields when the spec has ``kind_offset`` (a frame
    of a kind no field names gives those of the fields of every kind, if any)."""
    frame = spec.frame
    assert frame is not None  # check() makes sure it is
    kinds = kinds_of(frame)
    if not kinds:
        return _decoder(spec)
    rows = _rows(spec)

    def spec_of(kind: bytes | None) -> FormatSpec:
        fields = tuple((c, name) for c, name in spec.fields if in_frames_of(rows[name], kind))
        return dataclasses.replace(spec, frame=of_kind(frame, kind), fields=fields)

    by_kind = {kind: _decoder(spec_of(kind)) for kind in kinds}
    other = _decoder(spec_of(None))
    lo = frame.kind_offset
    assert lo is not None  # kinds_of gives none without it
    # the kinds' ends, the longest first: a frame is of the longest kind whose bytes it holds
    ends = sorted({lo + len(kind) for kind in kinds}, reverse=True)
    if len(ends) == 1:
        hi = ends[0]

        def decode_kind(data: bytes) -> list[tuple[str, float]]:
            return by_kind.get(data[lo:hi], other)(data)

        return decode_kind

    def decode_longest(data: bytes) -> list[tuple[str, float]]:
        for end in ends:
            decode = by_kind.get(data[lo:end])
            if decode is not None:
                return decode(data)
        return other(data)

    return decode_longest


def _decoder(spec: FormatSpec) -> Decoder:
    frame = spec.frame
    assert frame is not None
    rows = _rows(spec)
    readers = tuple(
        (
            channel,
            _value_unpacker(rows[name]),
            rows[name].offset,
            *_affine(rows[name].scale, rows[name].bias),
        )
        for channel, name in spec.fields
    )
    start = frame.start
    fixed = frame.length
    length_field = (
        (frame.length_offset, frame.length_offset + frame.length_size, frame.length_byteorder)
        if frame.length_size
        else None
    )
    after = length_base(frame)
    whole = _whole_integers(spec, rows)
    reply = frame.reply_length if frame.reply_length is not None else -1
    # the bytes after those a length field counts (its length_adjust: a checksum, an end
    # marker) hold no field: a field there is not in that frame (an LD2410's engineering
    # values, at offsets where its shorter basic frame has its end marker)
    trailer = counted_tail(frame)
    ends = tuple(
        rows[name].offset + struct.calcsize(FIELD_TYPES[rows[name].type]) for _, name in spec.fields
    )
    reach = max(ends, default=0) if trailer else 0
    minimum = frame_length(frame)
    furthest = max(
        ((end, name) for end, (_, name) in zip(ends, spec.fields, strict=True)), default=None
    )
    takes = (
        ""
        if furthest is None
        else f" (its last field, {furthest[1]!r}, ends at byte {furthest[0]})"
    )

    def decode_frame(data: bytes) -> list[tuple[str, float]]:
        n = len(data)
        if not data.startswith(start) or n < minimum or (fixed is not None and n != fixed):
            if n == reply and data.startswith(start):
                return []  # a reply to a command: no values
            if n < minimum and data.startswith(start):
                raise ParseError(
                    "syntax",
                    f"a {n}-byte frame, shorter than the {minimum} bytes its layout takes{takes}",
                )
            raise ParseError("syntax", f"not a frame of this spec ({n} bytes)")
        if length_field is not None:
            lo, hi, order = length_field
            if int.from_bytes(data[lo:hi], order) + after != n:  # type: ignore[arg-type]
                raise ParseError("syntax", "the length field does not match the frame")
        if reach > n - trailer:
            return _counted_fields(data, n - trailer, readers, ends, trailer)
        if whole is not None:
            unpack_all, names = whole
            return list(zip(names, map(float, unpack_all(data)), strict=True))
        out = []
        for channel, unpack, offset, factor, divide, addend in readers:
            raw = unpack(data, offset)[0]
            value = (raw + addend) / factor if divide else raw * factor + addend
            if not math.isfinite(value):
                raise ParseError("nonfinite", f"{channel} is {value}")
            out.append((channel, value))
        return out

    decode = _with_status(spec, frame, _with_unavailable(spec, rows, decode_frame))
    booting = boot_check(frame)
    if booting is None:
        return decode

    def decode_frame_or_boot(data: bytes) -> list[tuple[str, float]]:
        if booting(data) and data.startswith(start):
            return []  # sent while the device boots: no values
        return decode(data)

    return decode_frame_or_boot


_Reader = tuple[str, Callable[[bytes, int], tuple[Any, ...]], int, float, bool, float]


def _counted_fields(
    data: bytes, limit: int, readers: Sequence[_Reader], ends: Sequence[int], trailer: int
) -> list[tuple[str, float]]:
    """The values of the fields that end at ``limit`` at the latest (the bytes a length field
    counts, before the ``trailer`` it leaves out); the others are not in this frame.
    ParseError ``syntax`` when none is, telling how to count bytes it leaves out before
    those it counts."""
    out = []
    for (channel, unpack, offset, factor, divide, addend), end in zip(readers, ends, strict=True):
        if end > limit:
            continue
        raw = unpack(data, offset)[0]
        value = (raw + addend) / factor if divide else raw * factor + addend
        if not math.isfinite(value):
            raise ParseError("nonfinite", f"{channel} is {value}")
        out.append((channel, value))
    if not out:
        raise ParseError(
            "syntax",
            f"the length field counts none of the fields' bytes: it leaves out the last "
            f"{trailer} (its length_adjust), which hold no field; if some of the bytes it leaves "
            'out come before those it counts (an STX), give length_counts = "frame" and '
            "length_adjust the frame's length less the length field's value",
        )
    return out


def field_value_problem(type_: str, value: float) -> str | None:
    """What keeps ``value`` from being a raw value of a field of ``type_`` (None: nothing):
    an integer type holds integers in its range."""
    fmt = FIELD_TYPES[type_]
    if fmt[1] == "f":
        if math.isfinite(value) and abs(value) > FLOAT32_MAX:
            return f"a {type_} holds at most ±{FLOAT32_MAX:.7g}, got {value!r}"
        return None
    if not float(value).is_integer():
        return f"a {type_} holds integers, got {value:g}"
    bits = 8 * struct.calcsize(fmt)
    lo, hi = (0, 2**bits - 1) if fmt[1].isupper() else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    if not lo <= value <= hi:
        return f"a {type_} holds {lo}..{hi}, got {int(value)}"
    return None


def _with_unavailable(spec: FormatSpec, rows: Mapping[str, FieldSpec], decode: Decoder) -> Decoder:
    """``decode``, with the fields whose raw value is one of their ``not_available`` values
    left out: a parse error ``invalid`` names them and keeps the frame's other values. As
    ``decode`` when no field read has any."""
    checks = [
        (channel, name, _unpacker(row), row.offset, values)
        for channel, name in spec.fields
        if (values := _raw_values(row := rows[name]))
    ]
    if not checks:
        return decode

    def decode_available(data: bytes) -> list[tuple[str, float]]:
        pairs = decode(data)
        read = {channel for channel, _ in pairs}
        missing = {
            channel: name
            for channel, name, unpack, offset, values in checks
            if channel in read and unpack(data, offset)[0] in values
        }
        if not missing:
            return pairs
        kept = [(channel, value) for channel, value in pairs if channel not in missing]
        names = ", ".join(dict.fromkeys(missing.values()))
        raise NotMeasuredError("invalid", f"not available: {names}", kept, tuple(missing))

    return decode_available


def _raw_values(row: FieldSpec) -> frozenset[int | float]:
    """A field's ``not_available`` values as its type reads them: a float32's as the
    float32 nearest (``-999.9`` is read as -999.9000244140625)."""
    fmt = FIELD_TYPES[row.type]
    if fmt[1] != "f":
        return frozenset(row.not_available)
    packer = struct.Struct(fmt)
    return frozenset(
        packer.unpack(packer.pack(value))[0]
        for value in row.not_available
        if not abs(value) > FLOAT32_MAX  # (refused by check)
    )


def _with_status(spec: FormatSpec, frame: FrameSpec, decode: Decoder) -> Decoder:
    """``decode``, after the check of the frame's status byte, if the spec has one: a frame
    (or a reply that holds the byte) whose device says its values are not valid is a parse
    error ``invalid`` naming the status."""
    refused = status_check(frame)
    if refused is None:
        return decode
    at, mask = frame.status_offset, frame.status_mask
    valid = status_ok_shown(frame)
    channels = tuple(channel for channel, _ in spec.fields)
    masked = "" if mask == 0xFF else f" (masked 0x{mask:02X})"

    def decode_valid(data: bytes) -> list[tuple[str, float]]:
        status = refused(data)
        if status is not None:
            raise ParseError(
                "invalid",
                f"the device reports status 0x{status:02X} at byte {at}{masked}; its "
                f"values are valid with {valid}",
                (),
                channels,
            )
        return decode(data)

    return decode_valid


def status_ok_shown(frame: FrameSpec, form: str = "0x{:02X}", sep: str = ", ") -> str:
    """The values of the status byte (masked) with which a frame's values are valid, each
    written as ``form``: ``0x00, 0x40``; or, when they are most of the values the mask lets
    through, those that are not: ``any but 0x01``."""
    ok = frozenset(frame.status_ok)
    masked = [value for value in range(256) if value & frame.status_mask == value]
    if 2 * len(ok) > len(masked):
        return "any but " + sep.join(form.format(value) for value in masked if value not in ok)
    return sep.join(form.format(value) for value in frame.status_ok)


def status_check(frame: FrameSpec) -> Callable[[bytes], int | None] | None:
    """The check of a frame's status byte (None for a spec without ``status_offset``): the
    status byte, as it came, of a frame whose device says its values are not valid (its
    masked byte none of ``status_ok``); None for a frame whose status says they are, or that
    does not hold the byte."""
    at = frame.status_offset
    if at is None:
        return None
    start, mask, ok = frame.start, frame.status_mask, frozenset(frame.status_ok)

    def refused(data: bytes) -> int | None:
        if len(data) > at and (data[at] & mask) not in ok and data.startswith(start):
            return data[at]
        return None

    return refused


def boot_check(frame: FrameSpec) -> Callable[[bytes], bool] | None:
    """Whether a frame is one the device sends while it boots (its ``boot_bytes`` at
    ``boot_offset``, the bits of ``boot_mask`` only); None for a spec without boot bytes."""
    marker = frame.boot_bytes
    if not marker:
        return None
    offset = frame.boot_offset
    if not frame.boot_mask:

        def booting(data: bytes) -> bool:
            return data.startswith(marker, offset)

        return booting
    end = offset + len(marker)
    mask = int.from_bytes(frame.boot_mask, "big")
    wanted = int.from_bytes(marker, "big") & mask

    def booting_masked(data: bytes) -> bool:
        return len(data) >= end and int.from_bytes(data[offset:end], "big") & mask == wanted

    return booting_masked
