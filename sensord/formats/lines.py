"""The terminator framer that every line protocol shares.

A :class:`LineFramer` cuts a byte stream into frames at a terminator. It keeps at most one
pending partial frame, bounded by ``max_frame_bytes``: a frame that grows past the bound is
dropped (``overlong`` counts it once) and the framer discards bytes up to the next terminator,
then resyncs. The output never depends on how the stream was chunked: any split of the same
bytes into chunks yields the same frames and the same counters.

Rules:

* The terminator is stripped. Empty frames are skipped.
* With the terminator ``b"\\n"``, one trailing ``b"\\r"`` is stripped as well, so devices that
  send ``\\r\\n`` work without configuration.
* A frame is overlong when its bytes before the terminator (a trailing ``\\r`` included) are
  more than ``max_frame_bytes``.
* NUL bytes stay in the frame (the decoders reject it as ``encoding``): on Linux a serial line
  held low, as when a device loses power or is unplugged in the middle of a line, reads as a
  NUL (a BREAK, with IGNBRK and BRKINT clear as pyserial leaves them), so a NUL after the
  digits may be all that shows that a number was cut short. Only a framer made with
  ``strip_nul`` (``parse.nul_padding``, for a device known to pad its lines with NUL) strips
  the NULs at either end of each frame and counts them in ``skipped_bytes``; a frame that is
  nothing but NUL is then no frame.
* Multi-byte terminators may arrive split over two chunks.

Each chunk costs one ``bytes.split`` on the pending bytes plus the chunk; frames are never
scanned byte by byte, and a chunk of short frames without ``\r`` or empty lines is not walked
frame by frame in Python either. At most ``max_frame_bytes + len(terminator) - 1`` bytes are
held back.
"""

from __future__ import annotations

from sensord.formats.base import looks_like_text

__all__ = ["LineFramer"]

#: The line ends a device may send, and their names, for the hint when the configured
#: terminator never comes: the first one found is named.
_LINE_ENDS = ((b"\r\n", "CR LF"), (b"\n", "LF"), (b"\r", "CR only"))


#: A backslash is written twice for TOML and twice again for the escapes a terminator takes.
_TOML_ESCAPES = {0x0D: "\\r", 0x0A: "\\n", 0x09: "\\t", 0x22: '\\"', 0x5C: "\\" * 4}


def _shown(data: bytes) -> str:
    """Bytes as the inside of a TOML basic string that the configuration reads back as them
    (``\\r``, ``\\n``; a byte that is no printable ASCII as ``\\u00XX``, one character
    U+0000..U+00FF a byte)."""
    return "".join(
        _TOML_ESCAPES.get(b) or (chr(b) if 0x20 <= b < 0x7F else f"\\u{b:04X}") for b in data
    )


def _no_frame_longer_than(data: bytes, terminator: bytes, limit: int, step: int) -> bool:
    """True when no frame in ``data`` can be longer than ``limit``; False means "maybe".

    A frame longer than ``limit`` spans a whole window of ``limit - step + 2`` bytes starting
    at some multiple of ``step`` (``step <= limit``), and a window inside a frame holds no
    terminator. So when every such window holds one, no frame is too long. That costs one
    search in C per window (a few per 4 KiB), instead of one length per frame.
    """
    width = limit - step + 2
    find = data.find
    for start in range(0, len(data) - width + 1, step):
        if find(terminator, start, start + width) < 0:
            return False
    return True


class LineFramer:
    """Splits a byte stream into frames; see the module docstring for the rules."""

    __slots__ = (
        "_buffer",
        "_discarding",
        "_keep_tail",
        "_strip_cr",
        "_strip_nul",
        "_window_step",
        "frames",
        "ignored",
        "max_frame_bytes",
        "overlong",
        "rejected",
        "skipped_bytes",
        "terminator",
    )

    def __init__(
        self, terminator: bytes = b"\n", max_frame_bytes: int = 512, *, strip_nul: bool = False
    ) -> None:
        if not isinstance(terminator, bytes) or not terminator:
            raise ValueError("terminator must be a non-empty bytes string")
        if max_frame_bytes < 1:
            raise ValueError(f"max_frame_bytes must be at least 1, got {max_frame_bytes}")
        self.terminator = terminator
        self.max_frame_bytes = max_frame_bytes
        #: Frames returned by feed().
        self.frames = 0
        #: Frames dropped because they were longer than max_frame_bytes.
        self.overlong = 0
        #: Bytes a protocol's framer dropped between frames to resynchronise (this framer
        #: drops bytes with an overlong frame, which ``overlong`` counts), the partial line
        #: pending when a poll request was written (``drop_pending``), when the port is
        #: opened again (``reset``) or that ``flush`` finds pending, and with ``strip_nul``
        #: the NUL padding of frames.
        self.skipped_bytes = 0
        # Line framers resynchronise at the next terminator and reject nothing else.
        self.rejected: dict[str, int] = {}
        # Line framers pass every line on; a block framer drops what is no reading.
        self.ignored = 0
        self._buffer = b""
        self._discarding = False
        # While discarding, only a possible terminator prefix needs to be kept.
        self._keep_tail = len(terminator) - 1
        self._strip_cr = terminator == b"\n"
        self._strip_nul = strip_nul
        self._window_step = max(1, max_frame_bytes // 2)  # see _no_frame_longer_than

    def reset(self) -> None:
        """Forget the pending partial line (after a reconnect: a device unplugged while it
        sent it), counted in ``skipped_bytes`` unless it is the tail of a line counted as
        overlong. Counters are kept."""
        if not self._discarding:
            self.skipped_bytes += len(self._buffer)
        self._forget()

    def _forget(self) -> None:
        """Forget the pending bytes, uncounted."""
        self._buffer = b""
        self._discarding = False

    def drop_pending(self) -> None:
        """See :meth:`sensord.formats.base.Framer.drop_pending`: the partial line is dropped,
        counted in ``skipped_bytes`` as on a reconnect (a line being discarded as overlong
        ends there, its tail not counted again)."""
        LineFramer.reset(self)

    def flush(self) -> list[bytes]:
        """See :meth:`sensord.formats.base.Framer.flush`: a pending partial line is no frame
        (its terminator never came; a number cut short reads as another), and is counted in
        ``skipped_bytes``, unless it is the tail of a line counted as overlong."""
        LineFramer.reset(self)
        return []

    def no_frame_hint(self, data: bytes) -> str:
        """See :meth:`sensord.formats.base.Framer.no_frame_hint`."""
        terminator = self.terminator
        if not looks_like_text(data):
            return (
                "the bytes are not text: check the serial settings (baudrate, bytesize, "
                "parity, stopbits) against the device's, and on RS-485 that A and B are not "
                "swapped"
            )
        if terminator not in data:
            for end, name in _LINE_ENDS:
                if end in data:
                    return (
                        f'the lines end in {name}: set terminator = "{_shown(end)}" for this sensor'
                    )
            return (
                f'no terminator "{_shown(terminator)}" in the bytes: check the sensor\'s terminator'
            )
        if max(map(len, data.split(terminator))) > self.max_frame_bytes:
            return (
                f"lines longer than max_frame_bytes ({self.max_frame_bytes}): raise it, or "
                "check the terminator"
            )
        return "whole lines came but none was a frame (set-up replies, empty lines)"

    def _overlong(self, part: bytes) -> list[bytes]:
        """The frames in ``part``, a line longer than ``max_frame_bytes``: none here (it is
        counted in ``overlong``). A protocol whose frames can be found inside a line
        overrides this."""
        del part
        self.overlong += 1
        return []

    def _overlong_pending(self, rest: bytes) -> tuple[list[bytes], bytes]:
        """The frames that can be taken out of ``rest``, pending bytes without a terminator
        that have grown past ``max_frame_bytes``, and what stays pending: none here (the
        line is dropped up to its terminator). A protocol whose frames can be found inside
        a line overrides this."""
        return [], rest

    def _unpadded(self, frames: list[bytes]) -> list[bytes]:
        """``frames`` without the NUL bytes at either end of each, which count as skipped."""
        kept: list[bytes] = []
        for frame in frames:
            bare = frame.strip(b"\0")
            self.skipped_bytes += len(frame) - len(bare)
            if bare:
                kept.append(bare)
        return kept

    def feed(self, chunk: bytes) -> list[bytes]:
        """Add ``chunk`` to the stream and return the frames it completed."""
        if not chunk:
            return []
        buffer = self._buffer
        data = buffer + chunk if buffer else chunk
        parts = data.split(self.terminator)
        rest = parts.pop()
        limit = self.max_frame_bytes
        frames: list[bytes] = []
        if parts:
            if self._discarding:
                # The first part is the tail of a frame already counted as overlong.
                del parts[0]
                self._discarding = False
            if parts:
                # The common chunk of short frames without "\r" or empty lines is never walked
                # frame by frame in Python: each question below is answered in C.
                step = self._window_step
                if len(data) <= limit:
                    overlong = False  # no frame is longer than all the data
                elif len(parts) * step > 5 * len(data) and _no_frame_longer_than(
                    data, self.terminator, limit, step
                ):
                    overlong = False  # many short frames: a few window searches settle it
                else:
                    overlong = max(map(len, parts)) > limit
                if overlong:
                    kept: list[bytes] = []
                    for part in parts:
                        if len(part) <= limit:
                            kept.append(part)
                        else:
                            kept += self._overlong(part)
                    parts = kept
                if self._strip_cr and b"\r" in data:
                    frames = [f for p in parts if (f := p[:-1] if p[-1:] == b"\r" else p)]
                elif b"" in parts:
                    frames = [p for p in parts if p]
                else:
                    frames = parts
                if self._strip_nul and 0 in data:
                    frames = self._unpadded(frames)
                self.frames += len(frames)
        # The pending bytes may end in the first bytes of a terminator; only what is
        # certainly frame content counts against the limit.
        if not self._discarding and len(rest) > limit + self._keep_tail:
            found, rest = self._overlong_pending(rest)
            if found:
                frames = frames + found
                self.frames += len(found)
        if self._discarding or len(rest) > limit + self._keep_tail:
            if not self._discarding:
                self.overlong += 1
                self._discarding = True
            rest = rest[-self._keep_tail :] if self._keep_tail else b""
        self._buffer = rest
        return frames
