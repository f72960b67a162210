"""The configuration check of a binary frame spec (``[sensors.frame]`` or a preset's, with the
sensor's channels): each key's value, the fields' types, bits and kinds, and the layout at the
smallest length a length field may give (every part inside the frame, none on another's
bytes, the checksum apart from the range it covers, replies, status and boot bytes that a
frame can hold). ``check`` gives each problem with its key (``frame.fields[2].offset``);
the codec of :mod:`sensord.formats.frames` runs it before any other part sees the spec."""

from __future__ import annotations

import dataclasses
import math
import struct

from sensord.formats.base import FieldSpec, FormatSpec, FrameSpec
from sensord.formats.frame_keys import FIELD_TYPES
from sensord.formats.frames_checksums import CHECKSUMS
from sensord.formats.frames_layout import (
    Layout,
    checked_whole,
    checksum_width,
    encoded_length,
    end_width,
    frame_length,
    in_frames_of,
    kind_length,
    kind_width,
    kinds_of,
    length_base,
    of_kind,
    shortest_layout,
)
from sensord.formats.frames_stuffing import STUFF_XOR
from sensord.formats.text import check_value_options
from sensord.names import closest

__all__ = ["check"]


def check(spec: FormatSpec) -> list[tuple[str, str]]:
    frame = spec.frame
    if frame is None:
        return [("frame", "format 'frames' needs a [sensors.frame] table (or a preset)")]
    problems = check_value_options(spec, reads_values=False)
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
        if field.bit is not None and field.type in FIELD_TYPES:
            problems.extend(_check_bits(f"frame.fields[{i}]", field))
    for i, (_, field_name) in enumerate(spec.fields):
        if field_name not in names:
            close = closest(field_name, names, cutoff=0.5)
            hint = f"; did you mean {close!r}?" if close else ""
            problems.append(
                (
                    f"channels[{i}].field",
                    f"{field_name!r} is not a field of the frame (its fields, from the preset "
                    f"or frame.fields: {', '.join(names)}){hint}",
                )
            )
    problems.extend(_check_kinds(frame))
    if problems:
        return problems
    return _check_layout(frame)


def _check_bits(key: str, field: FieldSpec) -> list[tuple[str, str]]:
    """A bit field reads bits of an unsigned integer, inside it."""
    fmt = FIELD_TYPES[field.type]
    if fmt[1] == "f" or fmt[1].islower():
        instead = "u" + field.type[1:] if field.type.startswith("i") else "u16be, u32le, ..."
        return [
            (
                f"{key}.type",
                f"a bit field reads bits of an unsigned integer: {instead} in place of "
                f"{field.type}",
            )
        ]
    width = 8 * struct.calcsize(fmt)
    assert field.bit is not None
    if field.bit + field.bits > width:
        return [
            (
                f"{key}.bit",
                f"bits {field.bit} to {field.bit + field.bits - 1} are past the {width} bits of "
                f"a {field.type}",
            )
        ]
    return []


def _check_kinds(frame: FrameSpec) -> list[tuple[str, str]]:
    """Fields with a ``kind`` need the kind bytes' offset, and that offset a field with a
    kind; a field's kinds are of one byte at least, each named once."""
    problems: list[tuple[str, str]] = []
    kinds = [i for i, field in enumerate(frame.fields) if field.kinds]
    if frame.kind_offset is None:
        problems += [
            (
                f"frame.fields[{i}].kind",
                "needs frame.kind_offset, the byte that says which kind a frame is",
            )
            for i in kinds[:1]
        ]
        return problems
    if not kinds:
        problems.append(
            (
                "frame.kind_offset",
                "no field has a kind: give each field of one kind of frame its kind "
                "(frame.fields[].kind), or leave kind_offset out",
            )
        )
    for i in kinds:
        field = frame.fields[i]
        for j, kind in enumerate(field.kinds):
            if not kind:
                problems.append((_kind_key(i, field, j), "must be at least one byte"))
            elif kind in field.kinds[:j]:
                problems.append(
                    (
                        _kind_key(i, field, j),
                        f"{kind.hex(' ').upper()} is kind[{field.kinds.index(kind)}] already",
                    )
                )
    return problems


def _kind_key(i: int, field: FieldSpec, j: int) -> str:
    """The key of the ``j``-th kind of ``frame.fields[i]``: ``kind`` of a field of one kind,
    ``kind[j]`` of one of several."""
    return f"frame.fields[{i}].kind" + (f"[{j}]" if len(field.kinds) > 1 else "")


def _check_kind_bytes(frame: FrameSpec) -> list[tuple[str, str]]:
    """A kind whose bytes hold the start bytes, the length field or the status byte holds
    what they may: the start bytes, a length the frames of that kind can have, a valid
    status."""
    for i, field in enumerate(frame.fields):
        for j, kind in enumerate(field.kinds):
            problem = _kind_bytes_problem(frame, kind)
            if problem is not None:
                return [(_kind_key(i, field, j), problem)]
    return []


def _kind_bytes_problem(frame: FrameSpec, kind: bytes) -> str | None:
    """What ``kind``'s bytes hold that they may not (None: nothing); see
    ``_check_kind_bytes``."""
    at = frame.kind_offset
    assert at is not None
    shown = kind.hex(" ").upper()
    start = frame.start[at : at + len(kind)]
    if start and kind[: len(start)] != start:
        return (
            f"{shown} holds {kind[: len(start)].hex(' ').upper()} where every frame "
            f"begins {start.hex(' ').upper()}: no frame is of that kind"
        )
    n = kind_length(frame, kind)
    need = frame_length(of_kind(dataclasses.replace(frame, length=None), kind))
    if n == -1:
        return f"{shown} holds a part of the length field: all of it or none"
    if n is not None and (n < need or (frame.length is not None and n != frame.length)):
        return (
            f"{shown} holds the length field, which says {n}-byte frames, and "
            f"the frames of that kind take {max(frame.length or 0, need)}"
        )
    status = frame.status_offset
    if (
        status is not None
        and at <= status < at + len(kind)
        and (kind[status - at] & frame.status_mask) not in frame.status_ok
    ):
        return f"{shown} holds the status byte, and {kind[status - at]:02X} is no valid status"
    return None


def _check_kind_frames(frame: FrameSpec) -> list[tuple[str, str]]:
    """The frames of each kind hold the checksum's range, and no field of a kind lies on
    the bytes by which a longer kind that begins with it is told apart (such a frame would
    be read as the longer kind's)."""
    at = frame.kind_offset
    assert at is not None
    kinds = kinds_of(frame)
    for kind in kinds:
        n = kind_length(frame, kind)
        m = n if n is not None and n > 0 else frame_length(of_kind(frame, kind))
        if frame.length is None and not checked_whole(frame, m):
            return [
                (
                    "frame.kind_offset",
                    f"the frames of kind {kind.hex(' ').upper()} ({m} bytes) cannot hold the "
                    "checksum apart from the range it covers: check checksum_start, "
                    "checksum_end and checksum_offset",
                )
            ]
        for longer in kinds:
            if len(longer) <= len(kind) or not longer.startswith(kind):
                continue
            lo, hi = at + len(kind), at + len(longer)
            for i, field in enumerate(frame.fields):
                end = field.offset + struct.calcsize(FIELD_TYPES[field.type])
                if in_frames_of(field, kind) and field.offset < hi and lo < end:
                    return [
                        (
                            f"frame.fields[{i}].offset",
                            f"{field.name!r} lies on bytes [{lo}, {hi}), by which kind "
                            f"{longer.hex(' ').upper()} is told from "
                            f"{kind.hex(' ').upper()}: a frame of the shorter kind holding "
                            "those bytes would be read as the longer",
                        )
                    ]
    return []


def _check_length(frame: FrameSpec) -> list[tuple[str, str]]:
    problems: list[tuple[str, str]] = []
    if not frame.start:
        # a reply with no start byte (a GQ GMC Geiger counter's two bytes of CPM): each frame
        # begins at the first byte after a poll's request or a silence (``SensorConfig``
        # checks that the sensor has one of them)
        if frame.length is None:
            problems.append(("frame.start", "empty start bytes need a fixed length (frame.length)"))
        if frame.escape is not None:
            problems.append(("frame.escape", "byte stuffing needs start bytes"))
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
    if frame.length_offset and not frame.length_size:
        problems.append(
            (
                "frame.length_offset",
                "is where a length field begins: give its length_size, or leave length_offset out",
            )
        )
    if frame.length_adjust and not frame.length_size:
        problems.append(("frame.length_adjust", "needs a length field (length_size) to adjust"))
    if frame.end is not None and not 0 <= frame.end <= 255:
        problems.append(("frame.end", f"must be a byte value 0..255, got {frame.end}"))
    if len(frame.end_bytes) > 1 and frame.escape is not None:
        problems.append(("frame.end", "byte stuffing takes one end byte, its frames' delimiter"))
    if frame.escape is not None:
        if not 0 <= frame.escape <= 255:
            problems.append(("frame.escape", f"must be a byte value 0..255, got {frame.escape}"))
        elif frame.escape in (frame.start[:1] or b"") or frame.escape == frame.end:
            problems.append(
                (
                    "frame.escape",
                    f"0x{frame.escape:02X} is the first start byte or the end byte, which byte "
                    "stuffing escapes",
                )
            )
        else:
            flags = {*frame.start[:1], *(() if frame.end is None else (frame.end,))}
            clash = next(
                (b for b in sorted({frame.escape, *flags}) if b ^ STUFF_XOR in flags), None
            )
            if clash is not None:
                problems.append(
                    (
                        "frame.escape",
                        f"0x{clash:02X} escaped is 0x{frame.escape:02X} "
                        f"0x{clash ^ STUFF_XOR:02X}, and an escape byte before a delimiter (the "
                        "first start byte or the end byte) is read as a stray one: such frames "
                        "would be cut at it",
                    )
                )
    if frame.boot_offset and not frame.boot_bytes:
        problems.append(
            ("frame.boot_offset", "needs boot_bytes, what the frames sent while booting hold")
        )
    if frame.boot_mask and not frame.boot_bytes:
        problems.append(("frame.boot_mask", "needs boot_bytes, the bytes whose bits it picks"))
    elif frame.boot_mask and len(frame.boot_mask) != len(frame.boot_bytes):
        problems.append(
            (
                "frame.boot_mask",
                f"needs one byte to each of the {len(frame.boot_bytes)} boot_bytes, got "
                f"{len(frame.boot_mask)}",
            )
        )
    problems.extend(_check_status(frame))
    if frame.reply_length is not None:
        if not frame.length_size:
            problems.append(
                ("frame.reply_length", "needs a length field (length_size) to tell replies apart")
            )
        elif frame.reply_length == frame.length:
            problems.append(("frame.reply_length", "is the length of the data frames"))
        elif frame.length is None and frame.reply_length >= shortest_layout(frame):
            problems.append(
                (
                    "frame.reply_length",
                    f"must be shorter than the shortest data frame ({shortest_layout(frame)} "
                    "bytes) "
                    "when the length field gives the frames' length",
                )
            )
    return problems


def _check_status(frame: FrameSpec) -> list[tuple[str, str]]:
    """A status byte needs the values that say a frame is valid, each one the mask lets
    through; those values need the byte."""
    if frame.status_offset is None:
        if frame.status_ok:
            return [("frame.status_ok", "needs status_offset, where the status byte is")]
        if frame.status_mask != 0xFF:
            return [("frame.status_mask", "needs status_offset, where the status byte is")]
        return []
    if not frame.status_ok:
        return [
            (
                "frame.status_ok",
                "give the values of the status byte with which the frame's values are valid "
                "(status_ok = [0], say)",
            )
        ]
    if not 1 <= frame.status_mask <= 255:
        return [("frame.status_mask", f"must be 1..255, got {frame.status_mask}")]
    for value in frame.status_ok:
        if not 0 <= value <= 255:
            return [("frame.status_ok", f"must be byte values 0..255, got {value}")]
        if value & frame.status_mask != value:
            return [
                (
                    "frame.status_ok",
                    f"0x{value:02X} has bits outside status_mask 0x{frame.status_mask:02X}: "
                    "no masked status byte is ever it",
                )
            ]
    return []


def _check_boot_in_start(frame: FrameSpec) -> list[tuple[str, str]]:
    """Boot bytes at the start bytes: other bytes there are in no frame, and the start bytes
    themselves are in every frame (each would be taken for a restart); the bits of
    ``boot_mask`` only, which must compare a bit past the start bytes (a mask of zeros there
    takes every frame for one of the boot)."""
    start, offset, boot = frame.start, frame.boot_offset, frame.boot_bytes
    mask = frame.boot_mask or b"\xff" * len(boot)

    def masked(data: bytes) -> bytes:
        return bytes(byte & bits for byte, bits in zip(data, mask, strict=False))

    def written(data: bytes) -> str:
        return "'" + "".join(f"\\x{byte:02x}" for byte in data) + "'"

    overlap = start[offset : offset + len(boot)]
    if overlap and masked(boot[: len(overlap)]) != masked(overlap):
        return [
            (
                "frame.boot_bytes",
                f"{written(boot)} at byte {offset} is in no frame: the start bytes are "
                f"{written(start)}",
            )
        ]
    if len(overlap) == len(boot):
        return [
            (
                "frame.boot_bytes",
                f"{written(boot)} at byte {offset} is in every frame (the start bytes): "
                "each would be taken for a restart",
            )
        ]
    if len(mask) == len(boot) and not any(mask[len(overlap) :]):
        past = " past the start bytes" if overlap else ""
        return [
            (
                "frame.boot_mask",
                f"{written(mask)} compares no bit{past}: every frame would be taken for one of "
                "the boot, a restart",
            )
        ]
    return []


def _check_layout(frame: FrameSpec) -> list[tuple[str, str]]:
    """Every position inside the frame, and nothing written twice, at the smallest length a
    length field may give (longer frames, the encoder's among them, only move the tail
    apart)."""
    n = frame_length(frame)
    problems: list[tuple[str, str]] = []
    if n < len(frame.start):
        problems.append(("frame.length", f"{n} is shorter than the start bytes"))
        return problems
    if frame.length_size and frame.length_offset + frame.length_size > n:
        problems.append(("frame.length_offset", f"the length field ends past the {n}-byte frame"))
    elif frame.length_size and frame.length is not None:
        base = length_base(frame)
        largest = (1 << (8 * frame.length_size)) - 1
        if not 0 <= n - base <= largest:
            counted = "the bytes after it" if frame.length_counts == "after" else "the whole frame"
            adjust = f" (plus length_adjust {frame.length_adjust})" if frame.length_adjust else ""
            limit = f"at most {largest}" if n > base else "no length is negative"
            problems.append(
                (
                    "frame.length",
                    f"a {frame.length_size}-byte length field counting {counted}{adjust} "
                    f"cannot give {n - base} ({limit}): no {n}-byte frame would ever be "
                    "accepted",
                )
            )
    elif frame.length_size:
        base = length_base(frame)
        largest = (1 << (8 * frame.length_size)) - 1
        whole = encoded_length(frame)
        if whole - base > largest:
            counted = "the bytes after it" if frame.length_counts == "after" else "the whole frame"
            adjust = f" (plus length_adjust {frame.length_adjust})" if frame.length_adjust else ""
            problems.append(
                (
                    "frame.length_size",
                    f"a {frame.length_size}-byte length field counting {counted}{adjust} "
                    f"gives frames of at most {base + largest} bytes, and the fields need "
                    f"{whole}: no frame that holds them would ever be accepted",
                )
            )
    if frame.reply_length is not None:
        problems.extend(_check_reply(frame, frame.reply_length))
    boot_end = frame.boot_offset + len(frame.boot_bytes)
    if frame.boot_bytes and boot_end > n:
        problems.append(
            ("frame.boot_offset", f"the boot bytes end at byte {boot_end}, past the {n}-byte frame")
        )
    elif frame.boot_bytes:
        problems.extend(_check_boot_in_start(frame))
    layout = Layout(frame, n)
    taken: list[tuple[int, int, str]] = [(0, len(frame.start), "the start bytes")]
    if frame.length_size:
        taken.append(
            (frame.length_offset, frame.length_offset + frame.length_size, "the length field")
        )
    if layout.end is not None:
        taken.append((layout.end, n, "the end byte" if layout.end == n - 1 else "the end bytes"))
    if frame.checksum in CHECKSUMS:
        width = checksum_width(frame)
        lo, hi = layout.cover
        if not 0 <= layout.sum_at <= n - width:
            problems.append(("frame.checksum_offset", f"the checksum ends past the {n}-byte frame"))
        elif not 0 <= lo < n:
            problems.append(
                (
                    "frame.checksum_start",
                    f"the covered range [{lo}, {hi}) is not inside the {n}-byte frame",
                )
            )
        elif hi <= lo and frame.checksum_end is None:
            problems.append(
                (
                    "frame.checksum_start",
                    f"the covered range [{lo}, {hi}) is empty: checksum_start must come before "
                    f"the checksum at byte {hi} (or set checksum_end)",
                )
            )
        elif hi <= lo:
            problems.append(
                (
                    "frame.checksum_start",
                    f"the covered range [{lo}, {hi}) is empty: checksum_start "
                    f"({frame.checksum_start}, byte {lo}) must come before checksum_end "
                    f"({frame.checksum_end}, byte {hi})",
                )
            )
        elif hi > n:
            problems.append(
                (
                    "frame.checksum_end",
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
    if frame.status_offset is not None:
        at = frame.status_offset
        if at >= n:
            problems.append(("frame.status_offset", f"byte {at} is past the {n}-byte frame"))
        else:
            problems.extend(_overlap(taken, at, at + 1, "frame.status_offset"))
            taken.append((at, at + 1, "the status byte"))
    kind_at = frame.kind_offset
    if kind_at is not None:
        width = kind_width(frame)
        # a kind may hold the start, length field or status byte (its bytes there are
        # compared as the others: a Daly's 95 08 01 holds its length byte 08), not the
        # checksum or end byte, which no kind can name
        varying = [
            span for span in taken if span[2] in ("the checksum", "the end byte", "the end bytes")
        ]
        if kind_at + width > n:
            problems.append(("frame.kind_offset", f"the kind bytes end past the {n}-byte frame"))
        else:
            problems.extend(_overlap(varying, kind_at, kind_at + width, "frame.kind_offset"))
            problems.extend(_check_kind_bytes(frame))
            if not problems:
                problems.extend(_check_kind_frames(frame))
    #: the fields laid out so far, with their kinds: fields of no kind in common are never in
    #: one frame
    laid: list[tuple[tuple[bytes, ...], tuple[int, int, str, FieldSpec]]] = []
    for i, field in enumerate(frame.fields):
        size = struct.calcsize(FIELD_TYPES[field.type])
        key = f"frame.fields[{i}].offset"
        if field.offset + size > n:
            problems.append(
                (
                    key,
                    f"{field.name!r} (a {size}-byte {field.type} at offset {field.offset}) ends "
                    f"at byte {field.offset + size}, past the {n}-byte frame",
                )
            )
        else:
            # the fields in a frame with this one (fields of no kind in common never are), and
            # those of them that may not share its bytes
            with_it = [
                span
                for kinds, span in laid
                if not kinds or not field.kinds or not set(kinds).isdisjoint(field.kinds)
            ]
            apart = [span for span in with_it if not _bits_apart(span[3], field)]
            clash = next(
                (
                    other
                    for *_, other in apart
                    if (other.offset, other.type) == (field.offset, field.type)
                ),
                None,
            )
            if clash is not None and clash.bit is not None and field.bit is not None:
                problems.append(
                    (
                        f"frame.fields[{i}].bit",
                        f"bits {field.bit} to {field.bit + field.bits - 1} of the {field.type} "
                        f"at {field.offset} share a bit with field {clash.name!r} (bits "
                        f"{clash.bit} to {clash.bit + clash.bits - 1})",
                    )
                )
                continue
            beside = [(lo, hi, what) for lo, hi, what, _ in apart]
            if kind_at is not None:  # the kind bytes of its frames (of every kind's frames)
                width = max(map(len, field.kinds)) if field.kinds else kind_width(frame)
                beside.append((kind_at, kind_at + width, "the kind bytes"))
            problems.extend(_overlap(taken + beside, field.offset, field.offset + size, key))
            laid.append(
                (field.kinds, (field.offset, field.offset + size, f"field {field.name!r}", field))
            )
    return problems


def _bits_apart(one: FieldSpec, other: FieldSpec) -> bool:
    """Whether two fields of one number (offset and type) may share its bytes: bit fields on
    bits apart, or a bit field beside the whole number (a status byte read whole and its
    flags)."""
    if (one.offset, one.type) != (other.offset, other.type) or (
        one.bit is None and other.bit is None
    ):
        return False
    if one.bit is None or other.bit is None:
        return True
    return one.bit + one.bits <= other.bit or other.bit + other.bits <= one.bit


def _check_reply(frame: FrameSpec, n: int) -> list[tuple[str, str]]:
    """A reply of ``n`` bytes holds the start bytes, the length field, the checksum and the
    range it covers, and the end byte, and its length field can say ``n``."""
    key = "frame.reply_length"
    head = max(len(frame.start), frame.length_offset + frame.length_size)
    base = length_base(frame)
    if n < base:
        parts = ["the bytes up to the end of the length field"] * (frame.length_counts == "after")
        parts += [f"length_adjust {frame.length_adjust}"] * bool(frame.length_adjust)
        return [
            (
                key,
                f"{n} is shorter than any frame of this spec: a length field of 0 gives {base} "
                f"bytes ({' and '.join(parts)})",
            )
        ]
    if n - base > (1 << (8 * frame.length_size)) - 1:
        return [(key, f"a {frame.length_size}-byte length field cannot give {n} bytes")]
    layout = Layout(frame, n)
    width = checksum_width(frame)
    lo, hi = layout.cover
    if width and not (head <= layout.sum_at <= n - width - end_width(frame)):
        return [(key, f"the checksum is not inside a {n}-byte reply after its header")]
    if width and not 0 <= lo < hi <= layout.sum_at:
        return [(key, f"the checksum's range [{lo}, {hi}) is not inside a {n}-byte reply")]
    if n < head + width + end_width(frame):
        parts = ["the start bytes", "length field"]
        parts += ["checksum"] * bool(width)
        parts += [f"end byte{'s' * (end_width(frame) > 1)}"] * bool(end_width(frame))
        held = f"{', '.join(parts[:-1])} and {parts[-1]}"
        return [(key, f"{n} byte{'s' * (n != 1)} cannot hold {held}")]
    return []


def _overlap(
    taken: list[tuple[int, int, str]], lo: int, hi: int, key: str
) -> list[tuple[str, str]]:
    for a, b, what in taken:
        if lo < b and a < hi:
            return [(key, f"bytes [{lo}, {hi}) overlap {what} [{a}, {b})")]
    return []
