"""Where the parts of a binary frame sit (``[sensors.frame]``): a length field's base, the
checksum's width and position, the end bytes, the lengths of a spec's frames (the shortest
that holds its layout, the shortest the framer cuts, those the encoder writes), the positions
resolved for one frame length (:class:`Layout`), and the kinds of frame a field table names
with the fields of each. The configuration check, the framer, the decoder and the encoder of
:mod:`sensord.formats.frames` all reckon with these."""

from __future__ import annotations

import dataclasses
import struct

from sensord.formats.base import FieldSpec, FrameSpec
from sensord.formats.frame_keys import FIELD_TYPES
from sensord.formats.frames_checksums import CHECKSUMS

__all__ = [
    "Layout",
    "checked_whole",
    "checksum_at",
    "checksum_width",
    "counted_tail",
    "encoded_length",
    "end_width",
    "frame_length",
    "in_frames_of",
    "kind_length",
    "kind_lengths",
    "kind_width",
    "kinds_of",
    "length_base",
    "of_kind",
    "shortest_layout",
    "smallest_frame",
]


def length_base(frame: FrameSpec) -> int:
    """What a length field's value is added to for the frame's length: the bytes up to the
    field's end when it counts the bytes after it, and ``length_adjust``."""
    after = frame.length_offset + frame.length_size if frame.length_counts == "after" else 0
    return after + frame.length_adjust


def checksum_width(frame: FrameSpec) -> int:
    return CHECKSUMS[frame.checksum][1] if frame.checksum in CHECKSUMS else 0


def end_width(frame: FrameSpec) -> int:
    """The end bytes' count (0: none)."""
    return len(frame.end_bytes)


def checksum_at(frame: FrameSpec) -> int:
    """Where the checksum sits: as configured, or last before the end bytes."""
    if frame.checksum_offset:
        return frame.checksum_offset
    return -checksum_width(frame) - end_width(frame)


def frame_length(frame: FrameSpec) -> int:
    """The length of a spec's frames: ``length``, or else the smallest frame that holds the
    start bytes, the length field, every field, the status and kind bytes, the checksum and
    the end byte (the encoder's frames may be longer: see ``encoded_length``)."""
    if frame.length is not None:
        return frame.length
    head = max(len(frame.start), frame.length_offset + frame.length_size)
    if frame.status_offset is not None:
        head = max(head, frame.status_offset + 1)
    if frame.kind_offset is not None:
        head = max(head, frame.kind_offset + kind_width(frame))
    for field in frame.fields:
        if field.type in FIELD_TYPES:
            head = max(head, field.offset + struct.calcsize(FIELD_TYPES[field.type]))
    tail = end_width(frame)
    if frame.checksum in CHECKSUMS:
        offset = checksum_at(frame)
        if offset >= 0:
            head = max(head, offset + checksum_width(frame))
        else:
            tail = max(tail, -offset)
    return head + tail


def counted_tail(frame: FrameSpec) -> int:
    """The bytes at the end of a frame that its length field leaves out and that hold no
    field (``length_adjust`` of a field that counts the bytes after it), 0 when none or when
    the frames' length is fixed."""
    if frame.length is None and frame.length_size and frame.length_counts == "after":
        return max(frame.length_adjust, 0)
    return 0


def encoded_length(frame: FrameSpec) -> int:
    """The length of the frames the encoder writes: ``frame_length``, or longer when the
    length field leaves out more bytes at the end than the checksum and end bytes take (a
    checksum the spec does not check): those bytes hold no field (``counted_tail``), so
    the frame is long enough that the bytes the length field counts hold every field; and
    at least as long as a length field of 0 says."""
    n = frame_length(frame)
    if frame.length is None and frame.length_size:
        # a length field gives no length below its base (a field counting the whole frame
        # with a length_adjust past the layout's bytes): the frame is that long at least
        n = max(n, length_base(frame))
    tail = counted_tail(frame)
    if not tail:
        return n
    reach = max(
        (
            field.offset + struct.calcsize(FIELD_TYPES[field.type])
            for field in frame.fields
            if field.type in FIELD_TYPES
        ),
        default=0,
    )
    # the counted bytes begin after the length field: a length of 0 at the least
    return max(n, max(reach, frame.length_offset + frame.length_size) + tail)


def shortest_layout(frame: FrameSpec) -> int:
    """The shortest frame that holds every field of one kind: ``frame_length``, the least
    of the kinds' when the fields come in kinds."""
    kinds = kinds_of(frame)
    if not kinds:
        return frame_length(frame)
    return min(frame_length(of_kind(frame, kind)) for kind in kinds)


def smallest_frame(frame: FrameSpec) -> int:
    """The shortest frame the framer cuts: ``frame_length``; of a spec with kinds, the frame
    that holds the start bytes, length field, kind and status bytes, the checksum over the
    range the spec gives (``check`` makes sure that ``frame_length`` holds one) and the end
    bytes: a frame of a kind no field names (a JBD's version reply) is cut, and one shorter
    than its kind's fields (those of every kind included) is rejected by the decoder, as
    ``syntax``, naming the field it lacks."""
    full = frame_length(frame)
    kinds = kinds_of(frame)
    if not kinds or frame.kind_offset is None:
        return full
    # the kind bytes of the shortest kind, as a one-byte field where they end
    last = FieldSpec("", frame.kind_offset + min(map(len, kinds)) - 1, "u8")
    n = frame_length(dataclasses.replace(frame, fields=(last,)))
    while n < full and not checked_whole(frame, n):
        n += 1
    return n


def checked_whole(frame: FrameSpec, n: int) -> bool:
    """Whether an ``n``-byte frame holds its checksum and a range for it to cover, apart."""
    if frame.checksum not in CHECKSUMS:
        return True
    layout = Layout(frame, n)
    lo, hi = layout.cover
    width = checksum_width(frame)
    return (
        0 <= lo < hi <= n
        and 0 <= layout.sum_at <= n - width
        and (hi <= layout.sum_at or layout.sum_at + width <= lo)
    )


class Layout:
    """The positions of a frame spec resolved for one frame length."""

    __slots__ = ("cover", "end", "sum_at")

    def __init__(self, frame: FrameSpec, n: int) -> None:
        def at(position: int) -> int:
            return position if position >= 0 else n + position

        width = checksum_width(frame)
        self.sum_at = at(checksum_at(frame)) if width else 0
        cover_end = self.sum_at if frame.checksum_end is None else at(frame.checksum_end)
        self.cover = (at(frame.checksum_start), cover_end)
        #: where the end bytes begin (None: none)
        self.end = n - end_width(frame) if frame.end_bytes else None


def in_frames_of(field: FieldSpec, kind: bytes | None) -> bool:
    """Whether ``field`` is in the frames of ``kind`` (None: of a kind no field names): a
    field of no kind is in every frame."""
    return not field.kinds or kind in field.kinds


def kind_width(frame: FrameSpec) -> int:
    """The bytes of the longest kind (0: no kinds)."""
    return max((len(kind) for f in frame.fields for kind in f.kinds), default=0)


def kind_length(frame: FrameSpec, kind: bytes) -> int | None:
    """The length of the frames of ``kind`` when its bytes hold the whole length field (a
    Daly's 95 08 01 holds its length byte 08: 13-byte frames); None when they hold none of
    it."""
    at = frame.kind_offset
    if at is None or not frame.length_size:
        return None
    lo = frame.length_offset - at
    hi = lo + frame.length_size
    if hi <= 0 or lo >= len(kind):
        return None
    if lo < 0 or hi > len(kind):
        return -1  # a part of it: no length (check refuses it)
    return int.from_bytes(kind[lo:hi], frame.length_byteorder) + length_base(frame)  # type: ignore[arg-type]


def kind_lengths(frame: FrameSpec) -> tuple[int, ...]:
    """The lengths that the kinds holding the length field say their frames have."""
    return tuple(
        n for kind in kinds_of(frame) if (n := kind_length(frame, kind)) is not None and n > 0
    )


def kinds_of(frame: FrameSpec) -> tuple[bytes, ...]:
    """The kinds of frame the field table names, in the order it first names them (none for
    a spec of one kind)."""
    if frame.kind_offset is None:
        return ()
    return tuple(dict.fromkeys(kind for f in frame.fields for kind in f.kinds))


def of_kind(frame: FrameSpec, kind: bytes | None) -> FrameSpec:
    """The spec of the frames of ``kind``: its fields (a field of several kinds among them)
    and those of every kind (None: those of every kind alone)."""
    return dataclasses.replace(
        frame, fields=tuple(f for f in frame.fields if in_frames_of(f, kind))
    )
