"""``format = "frames"``: binary frames described by a frame spec (``[sensors.frame]``).

A frame begins with ``start`` bytes. Its length is fixed (``length``) or read from a length
field (``length_offset``, ``length_size`` of 1, 2 or 4 bytes, ``length_byteorder``, and what it
counts: ``length_counts = "frame"`` for the whole frame, ``"after"`` for the bytes after the
field), plus ``length_adjust`` (the bytes the field does not count, such as a checksum after
the counted bytes); with both, only frames of exactly ``length`` bytes are accepted. Of a
field that counts the bytes after it, the last ``length_adjust`` bytes hold no field: a field
that reaches into them is not in that frame (a device that sends a short and a long kind of
frame, an LD2410's basic and engineering reports), and its channel gets no value from it. With
a length field, frames of ``reply_length`` (a device's replies to commands; shorter than any data
frame when no fixed ``length`` is given) are accepted too, as frames without values. An ``end``
byte, if any, is the last byte (``end_bytes``, the last bytes: an LD2410's F8 F7 F6 F5, all
checked; the checksum is then last before them by default). A checksum of kind ``checksum``
covers ``checksum_start`` up to ``checksum_end`` (exclusive; by default up to the checksum)
and sits at ``checksum_offset``
(by default the last bytes before the end byte, if any). Negative positions count from the end
of the frame. The field table maps names to numbers: ``raw * scale + bias`` read at ``offset``
as ``type``; a channel's ``field`` names a row.

With ``kind_offset``, the device sends several kinds of frame, each laid out its own way (a
JBD's basic information and cell voltages, a Daly's data ids): a field's ``kind`` is bytes,
and the field is read only from the frames that hold them at ``kind_offset``, a field without
one from every frame; a field of several kinds is read from the frames of each (a Seeed
MR24HPC1 reports presence unasked as ``80 01`` and answers its query as ``80 81``). Kinds
may be of different lengths (a Daly's data id ``90``, and ``95 08 01``, the data id, its
length and the number of the first of its cell voltage frames): a frame is of the longest
kind whose bytes it holds; a frame of a kind no field names gives those of every frame alone
(none: a frame without values). Fields of different kinds may share bytes. The framer cuts
frames as short as the spec's header, checksum and end bytes allow; a frame shorter than its
own kind's fields is a parse error ``syntax``. The encoder writes a frame of each kind, in
the order the field table first names the kinds, a field of several kinds in the frames of
each.

A field with ``bit`` (and ``bits``, 1 by default) is a bit field: those bits of the unsigned
number its type reads, then ``raw * scale + bias``; bit fields of one number (offset and
type) share its bytes on bits apart, and a field may read the whole number beside them. The
encoder writes a whole number before the bit fields of it, each keeping the bits it does not
write, and takes a bit field's value modulo its range (a simulated flag comes and goes).

The checksum kinds (``frame.checksum``) are listed in :mod:`sensord.formats.frames_checksums`.

With ``escape`` (HDLC-style byte stuffing, as Sensirion's SHDLC and XBee API frames use it),
the framer first reads each escape byte and the byte after it as that byte XOR 0x20, keeping
an escape byte at the end of a chunk until the next chunk, and then cuts frames from the
unstuffed stream. The first start byte and the end byte are delimiters, never escaped: an
escape byte before one is dropped (a skipped byte) and the delimiter kept, so a stray escape
byte costs no frame. Every position, length and checksum of the spec is one of the unstuffed
frame, and the skipped bytes are counted in the unstuffed stream. The encoder stuffs the escape
byte, the first start byte and the end byte wherever they occur after the first byte and
before the end byte.

:class:`FrameFramer` finds frames in a byte stream: it looks for the start bytes, reads the
length, waits for the whole candidate (never more than ``max_frame_bytes``), and accepts it
only when its length, end byte and checksum hold. A rejected candidate costs one byte: the
search goes on from the byte after its start, so a valid frame that begins inside a rejected
candidate (a PMS checksum byte ``0x42`` looks like a start byte) is never skipped; a candidate
that stray start bytes begin holds back the frames inside it until it is complete or its length
is refused, so at most ``max_frame_bytes`` later. When the end bytes are the first start
bytes (SHDLC's ``7E ... 7E``), a frame that lost its end byte ends, checksum good, with the
next frame's first byte: when no start bytes follow an accepted frame, its end bytes are also
tried as the first bytes of the next (held, as any candidate, until it is complete), so the
frame after it is read (and HDLC frames that share one flag, as ISO/IEC 13239 allows, are
each read, a flag byte in one's data or check sequence being its own unless it begins a
frame that ends before that one); that candidate is a guess, and when it is no frame, no
rejection is counted and its bytes are searched as any others. Counters:
``frames``, ``overlong`` (a length field beyond ``max_frame_bytes``), ``rejected`` by reason
(``checksum``; ``syntax`` for a length that cannot hold the layout or a wrong end byte) and
``skipped_bytes`` (every byte that is in no accepted frame and no longer pending). The output
never depends on how the stream was chunked.

A polled sensor's reply cannot begin before its request: when a request is written, the
sensor drops the pending bytes (``drop_pending``, counted in ``skipped_bytes``), so a candidate
that garbage began (start bytes and a length within the bound, or an 8-bit checksum that holds
by chance over garbage and the reply's first bytes) neither holds the replies back nor takes
the start of one.

With ``boot_bytes`` (and ``boot_offset``, 0 by default), a frame that holds those bytes at that
offset is one the device sends while it boots (an MH-Z19 answers its read request with 15000 at
bytes 6..7 then): the decoder reads it as a frame without values, and the sensor
(:func:`~sensord.formats.frames_decode.boot_check`) takes it as a restart of the device.
``boot_mask``, one byte to each boot byte, compares only the bits it sets (``FE`` over a status
byte takes 0 and 1).

With ``status_offset`` (``status_mask``, ``status_ok``), the device says by one byte of a frame
whether its values are valid (an SPS30's state, a CM1106's status bits): the framer cuts such a
frame as any other, and the decoder raises ``ParseError("invalid")`` naming the status for one
whose masked byte is none of ``status_ok``
(:func:`~sensord.formats.frames_decode.status_check`, by which a polled sensor also tells which
request the device refuses); the encoder writes the first of them.

The decoder checks the frame's start bytes and length (the framer has checked the checksum);
the encoder writes a frame of the spec's length (the smallest the layout allows when only a
length field gives it, and long enough that the bytes the length field counts hold every
field) with zeros where no field is written.

The codec's parts are modules by job. This one holds the framer (:class:`FrameFramer`, with
``cut_example``, ``announced_length`` and ``frame_check``, which cut and test frames as it
does) and :data:`CODEC`, which puts the parts together; :mod:`~sensord.formats.frames_check`
checks a spec; :mod:`~sensord.formats.frames_decode` reads a frame's values, its status and
boot bytes; :mod:`~sensord.formats.frames_encode` writes frames for the simulator;
:mod:`~sensord.formats.frames_layout` says where a spec's parts sit and how long its frames
are, for all of them; :mod:`~sensord.formats.frames_checksums` and
:mod:`~sensord.formats.frames_stuffing` hold the checksum kinds and the byte stuffing. Each
imports only from those after it in this list, and the check, the decoder and the encoder
not from each other (an import-linter contract in ``pyproject.toml``).
"""

from __future__ import annotations

import collections
import functools
import itertools
import operator
import struct
import zlib
from collections.abc import Callable, Mapping, Sequence

from sensord.formats.base import (
    Codec,
    FormatSpec,
    FrameSpec,
    looks_like_text,
)
from sensord.formats.frames_check import check
from sensord.formats.frames_checksums import CHECKSUMS, checksum
from sensord.formats.frames_decode import decoder
from sensord.formats.frames_encode import encoder
from sensord.formats.frames_layout import (
    Layout,
    checked_whole,
    checksum_at,
    end_width,
    frame_length,
    length_base,
    smallest_frame,
)
from sensord.formats.frames_stuffing import STUFF_XOR, unstuff

__all__ = [
    "CODEC",
    "PRESET_REJECTED_ADVICE",
    "RUN_LIMIT",
    "FrameFramer",
    "announced_length",
    "cut_example",
    "frame_check",
]


#: The longest run of frames that one bulk pass checks (see ``_Run``); a longer run takes
#: several passes. It bounds the size of the cached ``struct`` formats.
RUN_LIMIT = 64

#: How many frame lengths a framer keeps a ``_Run`` for (one, unless a length field gives them).
_RUN_LENGTHS = 8


@functools.lru_cache(maxsize=1024)
def _structs(order: str, unit: str, r: int) -> struct.Struct:
    """The ``struct`` format ``unit`` repeated ``r`` times, compiled once for every framer."""
    return struct.Struct(order + unit * r)


def _sums(
    mask: int, complement: Callable[[int], int] | None
) -> Callable[[Sequence[bytes]], tuple[int, ...]]:
    """The sum checksums of many covers, each computed in C: the ``A`` half of Adler-32
    started at 0 is the sum of the bytes modulo 65521, which is the plain sum for a cover of
    at most 256 bytes (256 * 255 < 65521); the ``B`` half sits above bit 16, so masking to 8 or
    16 bits (after ``complement``: negating for the two's complement, inverting for the one's)
    leaves the sum's low bits."""
    adler32 = zlib.adler32
    zeros = itertools.repeat(0)
    masks = itertools.repeat(mask)
    if complement is not None:
        return lambda covers: tuple(
            map(operator.and_, map(complement, map(adler32, covers, zeros)), masks)
        )
    return lambda covers: tuple(map(operator.and_, map(adler32, covers, zeros), masks))


def _bulk_checksum(kind: str, cover_length: int) -> Callable[[Sequence[bytes]], tuple[int, ...]]:
    """The checksums of kind ``kind`` of many covers of ``cover_length`` bytes, as the ints
    they are stored as."""
    function = CHECKSUMS[kind][0]
    if kind in _SUM_MASKS and cover_length <= 256:
        mask, complement = _SUM_MASKS[kind]
        return _sums(mask, complement)
    return lambda covers: tuple(map(function, covers))


#: Sum checksum kinds -> (mask, complement applied before masking) for ``_sums``.
_SUM_MASKS: Mapping[str, tuple[int, Callable[[int], int] | None]] = {
    "sum8": (0xFF, None),
    "sum16be": (0xFFFF, None),
    "sum16le": (0xFFFF, None),
    "twos8": (0xFF, operator.neg),
    "twos16be": (0xFFFF, operator.neg),
    "twos16le": (0xFFFF, operator.neg),
    "ones8": (0xFF, operator.invert),
}


class _Run:
    """How a run of back-to-back ``n``-byte candidates is checked in bulk.

    What the candidate-by-candidate search looks at is taken in C for the whole run: the first
    start byte of each candidate as one column of every ``n``-th byte; the header (start bytes
    and a length field right after them), the covered bytes and stored checksums, and the
    frames, each with one ``struct`` format repeated for the run's length; any other fixed
    byte (a length field further on, the end byte) as a column; the checksums of all covers
    by one C-level ``map``.
    """

    __slots__ = (
        "_check",
        "_checks",
        "_cover_first",
        "_first",
        "_fixed",
        "_frame",
        "_frames",
        "_head",
        "_heads",
        "_order",
        "_sums",
        "header",
        "n",
    )

    def __init__(self, frame: FrameSpec, n: int) -> None:
        self.n = n
        self._first = frame.start[:1]
        fixed: list[tuple[int, bytes]] = [(0, frame.start)]
        if frame.length_size:
            value = (n - length_base(frame)).to_bytes(frame.length_size, frame.length_byteorder)  # type: ignore[arg-type]
            fixed.append((frame.length_offset, value))
        if frame.end_bytes:
            fixed.append((n - end_width(frame), frame.end_bytes))
        fixed.sort()
        #: the fixed bytes a candidate begins with (the start bytes, and the length field when
        #: it follows them)
        self.header = frame.start
        if len(fixed) > 1 and fixed[1][0] == len(frame.start):
            self.header += fixed[1][1]
        #: every fixed byte after the header, as (offset, the byte)
        self._fixed = tuple(
            (offset + i, value[i : i + 1])
            for offset, value in fixed
            for i in range(len(value))
            if offset + i >= len(self.header)
        )
        self._head = f"{len(self.header)}s{n - len(self.header)}x"
        self._frame = f"{n}s"
        layout = Layout(frame, n)
        lo, hi = layout.cover
        _, width, order = CHECKSUMS[frame.checksum]
        code = "B" if width == 1 else "H"
        self._cover_first = lo < layout.sum_at
        if self._cover_first:
            fields = [(lo, f"{hi - lo}s"), (layout.sum_at, code)]
        else:
            fields = [(layout.sum_at, code), (lo, f"{hi - lo}s")]
        self._order = "<" if order == "little" else ">"
        self._check = _unit_codes(fields, n, width, hi - lo)
        self._sums = _bulk_checksum(frame.checksum, hi - lo)
        #: the compiled formats by run length (index r), filled as runs of that length come
        self._heads: list[struct.Struct | None] = [None] * (RUN_LIMIT + 1)
        self._checks: list[struct.Struct | None] = [None] * (RUN_LIMIT + 1)
        self._frames: list[struct.Struct | None] = [None] * (RUN_LIMIT + 1)

    def take(self, data: bytes, pos: int, frames: list[bytes]) -> int:
        """How many frames follow each other from ``pos`` (where the start bytes are), up to
        ``RUN_LIMIT``; they are added to ``frames``. 0 when the candidate at ``pos`` is not a
        frame or not complete."""
        n = self.n
        whole = min((len(data) - pos) // n, RUN_LIMIT)
        # the candidates back to back from here that begin with the first start byte
        column = data[pos : pos + whole * n : n]
        r = whole - len(column.lstrip(self._first))
        if not r:
            return 0
        # the leading candidates whose every fixed byte holds: the header of each, then any
        # other fixed byte one byte column at a time
        header = self.header
        if len(header) > 1:
            heads = (self._heads[r] or self._compile(r)[0]).unpack_from(data, pos)
            if heads.count(header) != r:
                r = next(i for i, head in enumerate(heads) if head != header)
                if not r:
                    return 0
        for offset, byte in self._fixed:
            at = pos + offset
            column = data[at : at + r * n : n]
            r -= len(column.lstrip(byte))
            if not r:
                return 0
        checks = (self._checks[r] or self._compile(r)[1]).unpack_from(data, pos)
        if self._cover_first:
            covers, stored = checks[0::2], checks[1::2]
        else:
            covers, stored = checks[1::2], checks[0::2]
        sums = self._sums(covers)
        if sums != stored:
            r = next(i for i in range(r) if sums[i] != stored[i])
            if not r:
                return 0
        frames += (self._frames[r] or self._compile(r)[2]).unpack_from(data, pos)
        return r

    def _compile(self, r: int) -> tuple[struct.Struct, struct.Struct, struct.Struct]:
        """The formats of a run of ``r`` candidates, compiled at the first such run."""
        heads = self._heads[r] = _structs("<", self._head, r)
        checks = self._checks[r] = _structs(self._order, self._check, r)
        cut = self._frames[r] = _structs("<", self._frame, r)
        return heads, checks, cut


def _run_of(frame: FrameSpec, n: int) -> _Run | None:
    """The bulk check of ``n``-byte frames, or None when the length field cannot say ``n``
    (no candidate of that length is ever a frame then)."""
    if frame.length_size and not 0 <= n - length_base(frame) < 1 << (8 * frame.length_size):
        return None
    if not checked_whole(frame, n):
        return None  # a length no frame has (smallest_frame is longer)
    return _Run(frame, n)


def _unit_codes(fields: list[tuple[int, str]], n: int, width: int, cover: int) -> str:
    """A ``struct`` format of one ``n``-byte unit with the cover (``cover`` bytes, code
    ``Ns``) and the stored checksum (``width`` bytes, code B or H) at their offsets."""
    parts = []
    at = 0
    for offset, code in fields:
        parts.append(f"{offset - at}x{code}")
        at = offset + (cover if code.endswith("s") else width)
    parts.append(f"{n - at}x")
    return "".join(parts)


class FrameFramer:
    """Cuts a byte stream into the frames of a frame spec; see the module docstring.

    Two paths give the same frames and counters. Candidate by candidate (``feed``): find the
    start bytes, read the length (``_length``), test the candidate (``_check``), accept it or
    move one byte on. In bulk (``_Run``, when the spec has a checksum): from a candidate, the
    run of back-to-back candidates of its length is checked at once and its valid prefix
    accepted, which is what the candidate-by-candidate search does with a valid frame (accept
    it, find the next start bytes right after it); the first candidate the run does not take
    goes the other way. ``runs=False`` keeps to the first path (the tests compare the two).
    """

    __slots__ = (
        "_after",
        "_buffer",
        "_cover",
        "_end",
        "_escape",
        "_escaped",
        "_fixed",
        "_flags",
        "_frame",
        "_last",
        "_length_after",
        "_length_field",
        "_min_length",
        "_reply",
        "_run",
        "_runs",
        "_shared",
        "_start",
        "_sum",
        "_sum_at",
        "_sum_width",
        "frames",
        "ignored",
        "lenient",
        "max_frame_bytes",
        "overlong",
        "rejected",
        "rejected_advice",
        "rejections",
        "skipped_bytes",
    )

    def __init__(self, frame: FrameSpec, max_frame_bytes: int, *, runs: bool = True) -> None:
        self._frame = frame
        self._start = frame.start
        self._fixed = frame.length
        self._length_field = (
            (frame.length_offset, frame.length_offset + frame.length_size, frame.length_byteorder)
            if frame.length_size
            else None
        )
        self._length_after = length_base(frame)
        self._min_length = smallest_frame(frame)
        #: the length of the device's replies to commands (-1: none)
        self._reply = frame.reply_length if frame.reply_length is not None else -1
        if self._min_length > max_frame_bytes:
            raise ValueError(f"max_frame_bytes {max_frame_bytes} cannot hold a frame")
        self._end = frame.end_bytes or None
        self._escape = frame.escape
        #: the last chunk ended with the escape byte: the next chunk's first byte is escaped
        self._escaped = False
        #: the delimiters that byte stuffing never escapes: an escape byte before one is dropped
        self._flags = frame.start[:1] + (bytes([frame.end]) if frame.end is not None else b"")
        end = frame.end_bytes
        #: how many of the start bytes a frame's end bytes are (SHDLC's 7E ... 7E), 0 when they
        #: are not: a frame that lost its end bytes ends with the next frame's first bytes
        self._shared = len(end) if end and frame.start.startswith(end) else 0
        #: the pending bytes follow such end bytes of an accepted frame, which may also be the
        #: first bytes of the frame they begin (not decided until they make a start or not)
        self._after = False
        self._sum = CHECKSUMS[frame.checksum][0] if frame.checksum in CHECKSUMS else None
        self._sum_at = checksum_at(frame)
        self._sum_width = (
            CHECKSUMS[frame.checksum][1:] if frame.checksum in CHECKSUMS else (0, "big")
        )
        self._cover = (frame.checksum_start, frame.checksum_end)
        bulk = runs and self._sum is not None
        #: how a run of frames is checked in bulk: of the fixed length, or per length that a
        #: length field gives (None: no bulk path)
        self._run = _run_of(frame, frame.length) if bulk and frame.length is not None else None
        self._runs: dict[int, _Run | None] | None = {} if bulk and frame.length is None else None
        self.max_frame_bytes = max_frame_bytes
        self.frames = 0
        self.overlong = 0
        self.skipped_bytes = 0
        self.rejected: dict[str, int] = {"checksum": 0, "syntax": 0}
        #: the candidates counted in ``rejected`` and ``overlong``, and the last of each
        #: reason: the bytes it was in, where it began and its length (< 0: why its length
        #: field gives none), told of by ``last_rejected`` only when the sensor logs it (see
        #: ``sensord.rejects``): a rejection costs the framer no more than this
        self.rejections = 0
        self._last: dict[str, tuple[bytes, int, int]] = {}
        self.ignored = 0
        #: the bytes at the front of the stream not framed yet whose candidates, when
        #: rejected, are skipped bytes and no parse error: the tail of a frame that the
        #: port's open cut (the sensor sets it for the first bytes after an open)
        self.lenient = 0
        self._buffer = b""
        #: what the stale hint says to do when candidates come and every one is rejected: a
        #: frame spec of the user's own may be wrong; a preset's is the sensor's, so its frames
        #: are damaged (``PRESET_REJECTED_ADVICE``, which the sensor sets)
        self.rejected_advice = "check the frame spec's length and checksum"

    def reset(self) -> None:
        """Forget the pending bytes (after a reconnect: a device unplugged while it sent a
        frame), counted in ``skipped_bytes``. Counters are kept."""
        self.drop_pending()
        self.lenient = 0

    def drop_pending(self) -> None:
        """See :meth:`sensord.formats.base.Framer.drop_pending`."""
        if self._buffer or self._escaped:  # the bytes a lenient start covered are gone
            self.lenient = 0
        self.skipped_bytes += len(self._buffer) + self._escaped
        self._buffer = b""
        self._escaped = False
        self._after = False

    def ends_frame(self, tail: bytes) -> int:
        """How many first bytes of ``tail`` end the pending bytes as one whole frame (its start
        bytes, its length, end bytes and checksum), the frame ``feed`` of them returns; 0 when
        none do, and for byte stuffing and for pending bytes after a frame's shared end bytes,
        which ``feed`` alone decides."""
        if self._escape is not None or self._after:
            return 0
        data = self._buffer + tail
        size = len(data)
        if not data.startswith(self._start):
            return 0
        n = self._length(data, 0, size)
        pending = len(self._buffer)
        if n <= pending or n > size or self._check(data[:n], n) is not None:
            return 0
        return n - pending

    def flush(self) -> list[bytes]:
        """See :meth:`sensord.formats.base.Framer.flush`: the pending candidate, which has not
        all come, costs its first byte and the search goes on after it, until nothing is
        pending; one that the end bytes of the frame before it begin costs none (they are
        that frame's), and the search goes on from the pending bytes."""
        frames: list[bytes] = []
        self.skipped_bytes += self._escaped  # an escape byte that escapes nothing
        self._escaped = False
        escape = self._escape
        self._escape = None  # the pending bytes are unstuffed already
        try:
            while self._buffer or self._after:
                if self._after:  # the end bytes before the pending bytes begin no frame
                    self._after = False
                    rest = self._buffer
                else:
                    rest = self._buffer[1:]
                    self.skipped_bytes += 1
                self._buffer = b""
                frames += self.feed(rest)
        finally:
            self._escape = escape
        return frames

    def no_frame_hint(self, data: bytes) -> str:
        """See :meth:`sensord.formats.base.Framer.no_frame_hint`."""
        if self._escape is not None:
            data = unstuff(data, self._escape, self._flags)[0]
        start = self._start.hex(" ")
        if self._start not in data:
            lines = [line.strip() for line in data.splitlines() if line.strip()]
            if len(lines) >= 2 and looks_like_text(data):
                return (
                    f"no frame start ({start}) in the bytes, which are lines of text (the "
                    f"last: {lines[-1][:40].decode('ascii', 'replace')!r}): the device sends "
                    "text, not these frames; check its output mode (a sensor set to a text or "
                    "another output format), or read it with a text format"
                )
            return (
                f"no frame start ({start}) in the bytes: check the serial settings (baudrate, "
                "parity) and the preset or frame spec"
            )
        announced = announced_length(self._frame, data)
        if announced is not None and not self._takes(announced):
            if self._fixed is not None:
                takes = f"{self._fixed}-byte frames"
            else:
                takes = f"frames of {self._min_length} to {self.max_frame_bytes} bytes"
            return (
                f"candidates starting {start} announce {announced}-byte frames in their length "
                f"field, and the frame spec reads {takes}: check the frame spec's length, or the "
                "preset"
            )
        cut = self._cut_short(data)
        if cut is not None:
            return cut
        rejected = ", ".join(f"{n} {reason}" for reason, n in sorted(self.rejected.items()) if n)
        if self.overlong:
            rejected += f"{', ' if rejected else ''}{self.overlong} overlong"
        candidates = f"candidates starting {start}" if start else "the bytes"
        return (
            f"{candidates} gave no frame (rejected since the sensor started: "
            f"{rejected or 'none'}): {self.rejected_advice}"
        )

    def last_rejected(self, reason: str) -> tuple[str, bytes]:
        """The last candidate rejected for ``reason`` (one of ``rejected``, or "overlong"):
        why, as a line for the log, and its bytes."""
        data, pos, n = self._last[reason]
        if n < 0:  # its length field gives no frame
            assert self._length_field is not None
            lo, hi, order = self._length_field
            said = int.from_bytes(data[pos + lo : pos + hi], order) + self._length_after  # type: ignore[arg-type]
            what = (
                "more than max_frame_bytes"
                if n == _OVERLONG
                else "the length of no frame of the spec"
            )
            return f"its length field says {said} bytes, {what}", data[pos : pos + hi]
        frame = data[pos : pos + n]
        if reason == "syntax":
            assert self._end is not None
            end = frame[-len(self._end) :].hex(" ").upper()
            why = f"ends {end}, not frame.end {self._end.hex(' ').upper()}"
        else:
            layout = Layout(self._frame, n)
            lo, hi = layout.cover
            width = self._sum_width[0]
            got = frame[layout.sum_at : layout.sum_at + width].hex(" ").upper()
            want = checksum(self._frame.checksum, frame[lo:hi]).hex(" ").upper()
            why = (
                f"holds the checksum {got} at byte {layout.sum_at}, and "
                f"{self._frame.checksum} over bytes {lo} to {hi - 1} gives {want}"
            )
        return why, frame

    def _cut_short(self, data: bytes) -> str | None:
        """The hint for bytes whose first candidate has not all come: the device stopped in
        the middle of a frame (its supply cut, its cable pulled), which no damage on the line
        explains. Start bytes again inside that candidate are a new frame (a device begins
        with one when it restarts): the first stopped there, and what is said of the bytes
        after the last start bytes is said of that frame. None when the first candidate is
        whole."""
        start = self._start
        pos = data.find(start) if start else -1
        if pos < 0:
            return None
        size = len(data)
        n = self._length(data, pos, size)
        if n < 0 or (n and size - pos >= n):
            return None
        of = f" of its {n}" if n else ""
        began = f"a frame began ({start.hex(' ')}) and stopped after"
        again = data.find(start, pos + 1)
        if again < 0:
            return (
                f"{began} {size - pos}{of} bytes, and nothing came after it: the device "
                "stopped sending in the middle of a frame (its power cut or sagging, its cable "
                "pulled), or it restarted and is silent since"
            )
        times = data.count(start, again)
        last = data.rfind(start)
        m = self._length(data, last, size)
        restarted = (
            f"{began} {again - pos}{of} bytes, where a new frame began ("
            f"{f'{times} times; ' if times > 1 else ''}the device restarted in the middle of a "
            "frame: its power cut or sagging); the last"
        )
        if m > 0 and size - last >= m:
            return (
                f"{restarted} is whole, and waits until the {n} bytes of the first have come: "
                "the bytes of a frame cut short hold the frames after them back so long"
            )
        of = f" of its {m}" if m > 0 else ""
        return (
            f"{restarted} stopped after {size - last}{of} bytes, and nothing came after it: "
            "the device stopped sending again, or is silent since it restarted"
        )

    def _takes(self, n: int) -> bool:
        """Whether a length field that gives ``n`` bytes may start a frame (or a reply)."""
        if n == self._reply:
            return True
        if n > self.max_frame_bytes:
            return False
        return n == self._fixed if self._fixed is not None else n >= self._min_length

    def _check(self, frame: bytes, n: int) -> str | None:
        """Why a complete candidate of ``n`` bytes is not a frame (a reason), or None."""
        if self._end is not None and not frame.endswith(self._end):
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

    def _length(self, data: bytes, pos: int, size: int) -> int:
        """The length of the candidate at ``pos``: > 0 a length to test, 0 not known yet (the
        length field is incomplete), :data:`_OVERLONG` or :data:`_NO_LENGTH` refused (the
        candidate costs one byte; ``feed`` counts it)."""
        n = self._fixed
        field = self._length_field
        if field is None:
            assert n is not None
            return n
        lo, hi, order = field
        if size - pos < hi:
            return 0
        given = int.from_bytes(data[pos + lo : pos + hi], order) + self._length_after  # type: ignore[arg-type]
        if given > self.max_frame_bytes:
            return _OVERLONG
        if given < self._min_length or (n is not None and given != n):
            if given == self._reply:
                return given  # a reply to a command: a frame of its own length
            return _NO_LENGTH
        return given

    def _borrowed(self, data: bytes, at: int, found: int, size: int) -> int:
        """The length of the frame at ``at`` whose first bytes are the end bytes of the frame
        before it, the next start bytes after them at ``found`` (< 0: none yet): > 0 the
        frame's, 0 not decided until more bytes come, -1 none. Such a candidate is a guess:
        its rejection is not counted, and it is no frame when start bytes inside it begin a
        frame that ends before it (noise after a frame, then the next one), so it never holds
        back a frame that begins inside it. Start bytes inside it that begin no such frame
        are its own bytes, and the next start bytes are looked for after them: those whose
        length field gives no frame (a 7E in the data of an HDLC frame that shares its opening
        flag with the frame before it); those whose candidate, whole before this one, is no
        frame (7E 00 03 00 00 in an SPS30 frame's data, a reply's start and length, its
        checksum or end byte wrong), which it waits for; and those whose candidate ends where
        this one does or past it (a check sequence 7E A1 before the end flag, read as a
        length of 384 bytes), which could not be whole before this one is. Start bytes whose
        length field reaches past the candidate's end (a check sequence byte 7E right before
        the end flag) leave it to the candidate's own bytes."""
        start = self._start
        if not data.startswith(start, at):
            # the bytes up to the end may still become the start bytes
            return 0 if size - at < len(start) and start.startswith(data[at:]) else -1
        n = self._length(data, at, size)
        if n < 0:
            return -1
        if not n:
            return 0  # the next candidate's length field has not all come either
        shared = self._shared
        head = self._length_field[1] if self._length_field is not None else 0
        while found >= 0 and at + n > found + shared:
            if found + head > at + n:
                # its length field reaches past the candidate (a checksum byte that is a start
                # byte): the candidate's own bytes decide, once they have all come
                if at + n > size:
                    return 0
                break
            m = self._length(data, found, size)
            if not m:
                return 0  # its length field has not all come
            if 0 < m < at + n - found:
                # a candidate that ends inside this one, whole before it: when it is a frame,
                # this one is none; when it is none, the next start bytes are looked for
                if found + m > size:
                    return 0
                if self._check(data[found : found + m], m) is None:
                    return -1
            found = data.find(start, found + 1)
        if found < 0:  # the next start bytes may still begin where the bytes end
            found = size
            for j in range(max(at + shared, size - len(start) + 1), size):
                if start.startswith(data[j:]):
                    found = j
                    break
            if at + n > min(size, found + shared):
                return 0
        return n if self._check(data[at : at + n], n) is None else -1

    def _unstuff(self, chunk: bytes) -> bytes:
        """``chunk`` unstuffed, its first byte escaped when the last chunk ended with the
        escape byte."""
        assert self._escape is not None
        head = b""
        if self._escaped:
            self._escaped = False
            if chunk[0] in self._flags:
                self.skipped_bytes += 1
            else:
                head = bytes([chunk[0] ^ STUFF_XOR])
                chunk = chunk[1:]
        body, self._escaped, dropped = unstuff(chunk, self._escape, self._flags)
        self.skipped_bytes += dropped
        return head + body if head else body

    def feed(self, chunk: bytes) -> list[bytes]:
        """Add ``chunk`` to the stream and return the frames it completed."""
        if self._escape is not None and chunk:
            chunk = self._unstuff(bytes(chunk))
        data = self._buffer + chunk if self._buffer else bytes(chunk)
        start = self._start
        pos = 0
        lenient = self.lenient
        shared = self._shared
        if shared and self._after:
            self._after = False
            if not data.startswith(start):
                # the end bytes before the pending bytes, put back: a frame may begin with them
                data = start[:shared] + data
                pos = shared
                if lenient:
                    lenient += shared
        find = data.find
        startswith = data.startswith
        run = self._run
        runs = self._runs
        size = len(data)
        frames: list[bytes] = []
        skipped = 0
        # the position after the first byte of the last candidate rejected
        tried = -1
        while True:
            found = find(start, pos)
            if found != pos:
                if shared and pos >= shared and pos != tried:
                    # no start right after a frame whose end bytes begin the start: they may
                    # be the start of a frame whose own end bytes were lost before them
                    if pos == size:  # nothing after them yet
                        self._after = True
                        break
                    n = self._borrowed(data, pos - shared, found, size)
                    if n > 0:
                        frames.append(data[pos - shared : pos - shared + n])
                        pos += n - shared
                        continue
                    if not n:  # not decided yet
                        self._after = True
                        break
                if found < 0:
                    # keep only what may be the first bytes of a start sequence
                    keep = max(pos, size - len(start) + 1)
                    skipped += keep - pos
                    pos = keep
                    break
                skipped += found - pos
                pos = found
            if run is not None and startswith(run.header, pos):
                taken = run.take(data, pos, frames)
                if taken:
                    pos += taken * run.n
                    continue
            n = self._length(data, pos, size)
            if n < 0:
                if pos >= lenient:
                    if n == _OVERLONG:
                        self.overlong += 1
                        self._last["overlong"] = (data, pos, n)
                    else:
                        self.rejected["syntax"] += 1
                        self._last["syntax"] = (data, pos, n)
                    self.rejections += 1
                pos += 1
                skipped += 1
                tried = pos
                continue
            if not n or size - pos < n:
                break  # the candidate is not complete yet
            if runs is not None and n != self._reply:
                if n in runs:
                    by_length = runs[n]
                else:
                    if len(runs) >= _RUN_LENGTHS:  # lengths from a length field: keep a few
                        runs.clear()
                    by_length = runs[n] = _run_of(self._frame, n)
                if by_length is not None:
                    taken = by_length.take(data, pos, frames)
                    if taken:
                        pos += taken * n
                        continue
            frame = data[pos : pos + n]
            reason = self._check(frame, n)
            if reason is not None:
                if pos >= lenient:
                    self.rejected[reason] += 1
                    self._last[reason] = (data, pos, n)
                    self.rejections += 1
                pos += 1
                skipped += 1
                tried = pos
                continue
            frames.append(frame)
            pos += n
        self._buffer = data[pos:]
        if lenient:
            self.lenient = max(0, lenient - pos)
        self.skipped_bytes += skipped
        self.frames += len(frames)
        return frames


#: What ``FrameFramer._length`` gives for a candidate whose length field is past the bound,
#: and for one whose length no frame of the spec has.
_OVERLONG, _NO_LENGTH = -1, -2


def cut_example(
    frame: FrameSpec, example: bytes, max_frame_bytes: int
) -> tuple[bytes | None, str | None]:
    """``example`` (one frame as a datasheet or a capture gives it, byte-stuffed as on the
    wire) cut as the daemon's framer cuts frames: the frame its decoder reads (unstuffed),
    or None and what keeps it from being one whole frame of the spec (the start bytes, the
    length, the checksum, with what the spec's rule gives, or the end byte)."""
    framer = FrameFramer(frame, max_frame_bytes, runs=False)
    frames = framer.feed(example) + framer.flush()
    if len(frames) == 1 and not framer.skipped_bytes:
        return frames[0], None
    return None, _example_problem(frame, example, framer)


def _example_problem(frame: FrameSpec, example: bytes, framer: FrameFramer) -> str:
    """Why ``framer`` (which took ``example``) cut no one whole frame of it."""
    flags = frame.start[:1] + (bytes([frame.end]) if frame.end is not None else b"")
    data = unstuff(example, frame.escape, flags)[0] if frame.escape is not None else example
    n = len(data)
    if not data.startswith(frame.start):
        return f"does not begin with the start bytes {frame.start.hex(' ').upper()}"
    if frame.length is not None and n not in {frame.length, frame.reply_length}:
        return f"is {n} bytes long, and frame.length is {frame.length}"
    if frame.length_size:
        lo, hi = frame.length_offset, frame.length_offset + frame.length_size
        if n >= hi:
            said = int.from_bytes(data[lo:hi], frame.length_byteorder) + length_base(frame)  # type: ignore[arg-type]
            if said != n:
                return (
                    f"is {n} bytes long, and its length field ({data[lo:hi].hex(' ').upper()} at "
                    f"{lo}, with length_counts and length_adjust) says {said}"
                )
    if frame.end_bytes and not data.endswith(frame.end_bytes):
        ends = data[-end_width(frame) :].hex(" ").upper()
        return f"ends {ends}, not frame.end {frame.end_bytes.hex(' ').upper()}"
    if frame.checksum in CHECKSUMS and framer.rejected["checksum"]:
        layout = Layout(frame, n)
        lo, hi = layout.cover
        want = checksum(frame.checksum, data[lo:hi])
        got = data[layout.sum_at : layout.sum_at + len(want)]
        return (
            f"holds the checksum {got.hex(' ').upper()} at byte {layout.sum_at}, and "
            f"{frame.checksum} over bytes {lo} to {hi - 1} gives {want.hex(' ').upper()}: "
            "check frame.checksum and the range it covers"
        )
    return f"is not cut as one frame of the spec ({n} bytes: check its length and layout)"


def announced_length(frame: FrameSpec, data: bytes) -> int | None:
    """The frame length that the length fields of most candidates in ``data`` (bytes that
    begin with ``frame``'s start bytes) give, when at least two of them give it; None without
    such a majority, or for a spec without a length field. What a device's frames say of
    their own length, whatever the spec accepts."""
    if not frame.length_size:
        return None
    lo, hi = frame.length_offset, frame.length_offset + frame.length_size
    after = length_base(frame)
    order = frame.length_byteorder
    lengths: collections.Counter[int] = collections.Counter()
    pos = data.find(frame.start)
    while pos >= 0 and pos + hi <= len(data):
        lengths[int.from_bytes(data[pos + lo : pos + hi], order) + after] += 1  # type: ignore[arg-type]
        pos = data.find(frame.start, pos + 1)
    if not lengths:
        return None
    n, count = lengths.most_common(1)[0]
    return n if count >= 2 and 2 * count > lengths.total() else None


def frame_check(frame: FrameSpec) -> Callable[[bytes], bool]:
    """Whether bytes are one whole frame of a fixed-length spec: its start bytes, its length,
    its end byte and its checksum (the framer's test of a candidate)."""
    n = frame_length(frame)
    start = frame.start
    check = FrameFramer(frame, n)._check

    def holds(data: bytes) -> bool:
        return len(data) == n and data.startswith(start) and check(data, n) is None

    return holds


#: ``FrameFramer.rejected_advice`` for a sensor read with a preset's own frame spec: frames
#: that hold another known checksum are a clone's (``clone_checksum_hint`` says so first), so
#: these are damaged on the way.
PRESET_REJECTED_ADVICE = (
    "the sensor's frames are damaged on the way: check the cable (its length, the ground "
    "shared with the adapter) and the sensor's supply"
)


def framer(spec: FormatSpec, terminator: bytes, max_frame_bytes: int) -> FrameFramer:
    """The ``framer`` of frames: binary frames have no terminator, so it is not used."""
    del terminator
    assert spec.frame is not None  # check() makes sure it is
    return FrameFramer(spec.frame, max_frame_bytes)


CODEC = Codec("frames", check, decoder, encoder, framer, binary=True)
