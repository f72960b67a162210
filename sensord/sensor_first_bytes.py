"""The first bytes a sensor reads after its port opens, which may be the tail of a line or frame
the open cut (``FirstBytes``).

A device sending while its port opens loses what the port held, and the open reads the tail of
what it was sending. Of a streaming text port (:data:`CUT_LINE_FORMATS`) the first line is
dropped when its first bytes come within :data:`CUT_LINE_S` of the open (``line``); of a binary
framer, a rejected candidate in the first bytes then is counted as skipped bytes as far as a
frame's tail may reach (``FrameFramer.lenient``), and of an NMEA framer the first sentence then
is dropped when it carries no checksum (``NmeaFramer.cut_first``) (``frame``). A reply to a
set-up command written at the open ends all of it (``replied``): what follows it is no tail,
while the bytes before it in its chunk are still checked as the first line's (``before_reply``).

The sensor keeps its own two flags, tested once per chunk (``SensorRuntime._after_open``,
``_frames_after_open``): set by ``opened`` and cleared by what ``line`` returns, ``frame`` and
``replied``. It asks ``FirstBytes`` only while one is set, never on the path of later chunks.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sensord.config_sensor import SensorConfig
from sensord.formats.base import FormatSpec, Framer

if TYPE_CHECKING:  # loaded by the sensors that use them
    from sensord.formats.frames import FrameFramer
    from sensord.formats.nmea_framer import NmeaFramer

__all__ = ["CUT_LINE_FORMATS", "CUT_LINE_S", "FirstBytes"]

#: The text formats whose line, cut anywhere, may still read as a line: a streaming device's
#: first line after the port opened is dropped when it began before the open (see
#: ``FirstBytes.line``). NMEA finds its sentences by ``$`` and checks them (its first sentence
#: then is dropped only when it carries no checksum, see ``FirstBytes.frame``), the binary
#: formats by start bytes and checksum, Modbus by its requests; a sensor with ``parse.block``
#: reads only the lines of a block whose start it saw and whose check holds.
CUT_LINE_FORMATS = frozenset({"value", "kv", "csv", "json"})

#: First bytes that arrive within this long of the port's open began before it, as far as can
#: be told: the device was sending a line while the port opened (which drops what it had
#: received), and the open read its tail (``VPV\t32790`` read from its third byte is
#: ``V\t32790``, ``23.5`` from its second ``3.5``). Bytes a device sends then are in the
#: kernel, or a USB adapter's next packet (an FTDI chip sends one every 16 ms by default). A
#: device that stays quiet longer than this after the open begins a line with its first byte.
CUT_LINE_S = 0.05


def _nmea_framer(framer: Framer) -> NmeaFramer | None:
    """``framer`` when it is the NMEA framer (``sensord.formats.nmea_framer``, loaded by
    then)."""
    from sensord.formats.nmea_framer import NmeaFramer  # noqa: PLC0415  (loaded by a sensor of NMEA)

    return framer if isinstance(framer, NmeaFramer) else None


class FirstBytes:
    """See the module docstring."""

    def __init__(
        self,
        config: SensorConfig,
        spec: FormatSpec,
        framer: Framer,
        frame_framer: FrameFramer | None,
    ) -> None:
        self._framer = framer
        #: the line's terminator and longest line (keys a reload that keeps the port open
        #: never changes: ``sensor_channels.retunes_to``)
        self._terminator = config.terminator
        self._max_frame_bytes = config.max_frame_bytes
        #: a device port that streams lines of :data:`CUT_LINE_FORMATS` (a polled device's
        #: reply follows its request), not in checked blocks: its first line after an open
        #: may be cut
        self._cut_lines = (
            spec.format in CUT_LINE_FORMATS and config.poll is None and spec.block is None
        )
        #: while the first line after an open may be dropped, its bytes held until its
        #: terminator comes
        self._cut_tail: bytes | None = None
        #: a binary framer's first bytes after an open (within CUT_LINE_S of it) may be the
        #: tail of a frame the open cut: a candidate among them that is rejected is counted
        #: as skipped bytes, not as a parse error (``FrameFramer.lenient``), as far as a
        #: frame's tail may reach
        self._frame_framer = frame_framer
        self._frame_tail_max = (
            (spec.frame.length or config.max_frame_bytes) - 1
            if frame_framer is not None and spec.frame is not None
            else 0
        )
        #: an NMEA framer, whose first sentence after an open (within CUT_LINE_S of it) may
        #: have been cut at its end by stale bytes (``NmeaFramer.cut_first``); None for the
        #: other formats' framers
        self._sentence_framer = _nmea_framer(framer) if spec.format == "nmea" else None

    def count_cut_tail(self) -> None:
        """The port opens again: a first line cut at the last open, whose terminator never
        came, is counted in ``skipped_bytes``, as the framer's pending line is."""
        if self._cut_tail:
            self._framer.skipped_bytes += len(self._cut_tail)

    def opened(self, simulated: bool) -> tuple[bool, bool]:
        """The port opened (a simulation's with ``simulated``, whose bytes are never cut):
        whether its first line may be cut, and whether its first frames may be (the sensor's
        ``_after_open`` and ``_frames_after_open``)."""
        self._cut_tail = None
        return (
            self._cut_lines and not simulated,
            (self._frame_tail_max > 0 or self._sentence_framer is not None) and not simulated,
        )

    def replied(self) -> None:
        """A reply to the command written at the open came: what follows it is no tail of a
        line or frame the open cut (a CozIR's first reading came after its acknowledgement,
        and was dropped as one). A cut line's bytes before the reply are skipped."""
        if self._sentence_framer is not None:
            self._sentence_framer.cut_first = False
        if self._cut_tail:  # a cut line's bytes before the reply: skipped
            self._framer.skipped_bytes += len(self._cut_tail)
        self._cut_tail = None

    def before_reply(self, data: bytes, at: int, now: float, opened_at: float) -> bytes:
        """``data``, the bytes of a chunk without the reply to the command written at the
        open, which was taken out ``at`` bytes into them, without the first line's bytes
        before it when they are a cut line's (``line``): a cut line's tail whose terminator
        came in the chunk of the reply is skipped as when the two come in chunks of their
        own, not read as a line (`` 00398`` of a CozIR's `` Z 00412 z 00398``)."""
        head, _ = self.line(data[:at], now, opened_at)
        return head + data[at:]

    def line(self, chunk: bytes, now: float, opened_at: float) -> tuple[bytes, bool]:
        """``chunk`` without the bytes of a line that began before the port opened at
        ``opened_at``, and whether the first line is still to come whole or dropped: when the
        first bytes after the open come within :data:`CUT_LINE_S` of it, everything up to the
        first terminator is dropped, counted in ``skipped_bytes``. A device that was quiet
        when the port opened loses nothing.

        The cut line's bytes are held until its terminator comes (counted at the next open
        if it never does, as the framer's pending line is). A first line longer than
        ``max_frame_bytes`` is no tail of a line but too long for one: its bytes go to the
        framer, which counts it ``overlong`` as it would any other (a device whose lines end
        in another terminator than the configured one is told as such, not skipped for
        ever)."""
        held = self._cut_tail
        if held is None:  # the first bytes after the open
            if now - opened_at > CUT_LINE_S:
                return chunk, False
            held = b""
        data = held + chunk if held else chunk
        terminator = self._terminator
        # a line no longer than max_frame_bytes has its terminator begin there at the latest;
        # the bytes held hold none, but may end in its first bytes
        within = self._max_frame_bytes + len(terminator)
        end = data.find(terminator, max(0, len(held) - len(terminator) + 1), within)
        if end < 0 and len(data) < within:  # its terminator may come yet
            self._cut_tail = data
            return b"", True
        self._cut_tail = None
        if end < 0:  # an overlong line: the framer's to count
            return data, False
        end += len(terminator)
        self._framer.skipped_bytes += end
        return data[end:], False

    def frame(self, now: float, opened_at: float) -> None:
        """The first bytes after the port opened at ``opened_at``, read at ``now``: within
        :data:`CUT_LINE_S` of the open they may begin with the tail of a frame the open cut
        (at most a frame's length less one), and the framer counts a candidate that begins
        there and fails its check (a start byte inside the tail's data) as skipped bytes. An
        NMEA framer drops its first sentence then when it carries no checksum, counted as
        skipped bytes (``NmeaFramer.cut_first``): stale bytes that an adapter held may have
        cut it at its end, every field there and the last one shortened."""
        within = now - opened_at <= CUT_LINE_S
        framer = self._frame_framer
        if framer is not None and within:
            framer.lenient = self._frame_tail_max
        sentences = self._sentence_framer
        if sentences is not None:
            sentences.cut_first = within
