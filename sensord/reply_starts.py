"""Where an RTU reply can have begun in the bytes a line carries after its request, and until
when the rest of it may come: the bus (``Bus._arriving``) and ``sensord modbus read``
(:func:`sensord.probe_wire.await_response`) read a reply begun within the request's timeout
whole, and only bytes that can begin it draw their wait out (:class:`ReplyStarts`)."""

from __future__ import annotations

from sensord.formats.modbus import Request
from sensord.modbus_timing import ARRIVAL_SLACK_S

__all__ = ["ReplyStarts"]


class ReplyStarts:
    """Where in the bytes an RTU line carries after a request the reply to it can have begun,
    and until when the rest of it may come. An RTU frame begins after the line's silence (3.5
    character times without a byte): the bytes that come after a quiet that long, from the
    request on, can begin the reply, those in the middle of a run of bytes cannot (on a busy
    line other units' frames hold the unit's id among their bytes, one a character time after
    the other). Such a start holds while the bytes from it are those the reply begins with
    (:meth:`Request.reply_in <sensord.formats.modbus.Request.reply_in>`) and the link has not
    framed past it: a frame whose CRC closes over it (another unit's, read in pieces whose
    pauses looked like silence) or bytes skipped as noise are no reply's start, nor is one
    whose frame came whole any longer.

    A chunk that follows no silence while no start holds costs a comparison: the bytes of
    a busy line that can begin nothing are not looked at."""

    __slots__ = ("char", "expected", "heard_at", "silence", "starts", "tail", "total")

    def __init__(self, expected: Request, char: float, silence: float, heard_at: float) -> None:
        self.expected = expected
        self.char = char
        self.silence = silence
        #: when the line last carried a byte (the request, or ``-inf``: whatever comes first
        #: after the request can begin the reply)
        self.heard_at = heard_at
        #: how many bytes came since the request
        self.total = 0
        #: where the possible starts are, counted in those bytes
        self.starts: list[int] = []
        #: the bytes from the first possible start on (all of them from ``total - len``)
        self.tail = bytearray()

    def heard(self, chunk: bytes, now: float, pending: int) -> float:
        """``chunk`` came at ``now``, and ``pending`` bytes of the line are not yet framed by
        the link: until when the rest of a reply they begin may come (``-inf``: none)."""
        if now - self.heard_at < self.silence and not self.starts:
            self.heard_at = now
            self.total += len(chunk)
            return float("-inf")
        if now - self.heard_at >= self.silence:
            self.starts.append(self.total)
        self.heard_at = now
        self.total += len(chunk)
        self.tail += chunk
        framed = self.total - pending  # the link took the bytes before this, or skipped them
        tail_at = self.total - len(self.tail)
        kept = []
        until = float("-inf")
        for at in self.starts:
            start, size = self.expected.reply_in(bytes(self.tail[at - tail_at :]))
            if start != 0:  # the bytes from there are not the reply's
                continue
            missing = at + size - self.total
            if missing <= 0:  # whole, and taken by the link or not: done with
                continue
            if at < framed:
                continue
            kept.append(at)
            until = max(until, now + missing * self.char + self.silence + ARRIVAL_SLACK_S)
        self.starts = kept
        del self.tail[: (kept[0] if kept else self.total) - tail_at]
        return until
