"""Where an RTU reply can have begun in the bytes a line carries after its request, and until
when the rest of it may come: the bus (``Bus._arriving``) and ``sensord modbus read``
(:func:`sensord.probe_wire.await_response`) read a reply begun within the request's timeout
whole, and only bytes that can begin it draw their wait out (:class:`ReplyStarts`)."""

from __future__ import annotations

from sensord.formats.modbus import EXCEPTION_BYTES, LINE_BYTE_VALUES, LINE_BYTES, Request
from sensord.modbus_timing import ARRIVAL_SLACK_S

__all__ = ["LINE_BYTES", "NONE", "NO_UNITS", "ReplyStarts"]

#: No time: no reply can have begun (what :meth:`ReplyStarts.heard` returns then).
NONE = float("-inf")

#: No unit id besides the request's answers it (:attr:`ReplyStarts.units` of a read).
NO_UNITS: frozenset[int] = frozenset()


class ReplyStarts:
    """Where in the bytes an RTU line carries after a request the reply to it can have begun,
    and until when the rest of it may come. An RTU frame begins after the line's silence (3.5
    character times without a byte): the bytes that come after a quiet that long, from the
    request on, can begin the reply, those in the middle of a run of bytes cannot (on a busy
    line other units' frames hold the unit's id among their bytes, one a character time after
    the other), nor can those inside a frame that can be the reply and has not all come. Such
    a start holds while the bytes from it are those the reply begins with (its unit id,
    function code and byte count, or its unit id and the exception function code:
    :meth:`Request.reply_begun <sensord.formats.modbus.Request.reply_begun>`) and the link
    has not framed past it: a frame whose CRC closes over it (another unit's, read in pieces
    whose pauses looked like silence) or bytes skipped as noise are no reply's start. A
    start whose frame came whole is done with (:attr:`whole_at`): when it was not taken as
    the reply, its CRC does not match. Up to :data:`LINE_BYTES` bytes 0x00 or 0xFF after the
    silence that do not begin the reply are no frame's, but the line's (an RS-485
    transceiver that turns the line around, a line that is not biased, reads a byte as it
    switches): the reply may begin after them, with no silence between.

    A read at unit 0 (``modbus.broadcast_reads``) may be answered by a device with its own
    unit id (``StrayFrames._answers_broadcast``): the bytes of one of ``units`` after the silence,
    then the read's function code and byte count, or its exception function code, begin its
    reply too. An ordinary read has no such ``units``.

    The cost of a chunk is kept to those that matter: one that follows no silence while no
    start holds is only counted, and a start's first bytes are looked at once, until they
    tell whether it begins like the reply and how long that is; no byte is kept after."""

    __slots__ = (
        "after",
        "char",
        "expected",
        "head_bytes",
        "heard_at",
        "recent",
        "silence",
        "size",
        "starts",
        "total",
        "units",
        "whole_at",
    )

    def __init__(
        self,
        expected: Request,
        char: float,
        silence: float,
        heard_at: float,
        units: frozenset[int] = NO_UNITS,
        *,
        slack_s: float = ARRIVAL_SLACK_S,
    ) -> None:
        self.expected = expected
        #: the unit ids besides the request's whose frames can be its reply (a read at unit 0
        #: answered with the device's own unit id), none for an ordinary read
        self.units = units
        #: how many first bytes of a frame tell whether it begins the reply
        self.head_bytes = len(expected.head)
        self.size = expected.size
        self.char = char
        self.silence = silence
        #: how long after a reply's last byte can have come it may still be read (``slack_s``:
        #: the time the port's adapter may hold it, see ``sensord.modbus_timing``)
        self.after = silence + slack_s
        #: when the line last carried a byte (the request, or ``-inf``: whatever comes first
        #: after the request can begin the reply)
        self.heard_at = heard_at
        #: how many bytes came since the request
        self.total = 0
        #: the possible starts: where each is, counted in those bytes, the length of the
        #: frame it begins (0 while too few bytes from it have come to tell), and how many
        #: of the line's bytes (:data:`LINE_BYTES`) it was moved past
        self.starts: list[list[int]] = []
        #: the last bytes before the next chunk, from the first start whose length is not told
        #: yet on (fewer than the head's)
        self.recent = b""
        #: when the last frame that began like the reply came whole (``-inf``: none did)
        self.whole_at = NONE

    def heard(self, chunk: bytes, now: float, pending: int, after_frame: bool = False) -> float:
        """``chunk`` came at ``now``, and ``pending`` bytes of the line are not yet framed by
        the link (``after_frame``: they begin right after a frame whose CRC holds that the link
        took out of this chunk): until when the rest of a reply they begin may come (``-inf``:
        none). A frame can begin right after a sound frame as after a silence: an adapter
        hands two frames a silence apart over in one piece (an FTDI chip what its latency
        timer gathered), so a late answer and the reply after it come as one run of bytes."""
        before = self.total
        total = self.total = before + len(chunk)
        framed = total - pending  # the link took the bytes before this, or skipped them
        starts = self.starts
        # a frame like the reply is coming (the reply in pieces): none begins inside it
        if len(starts) == 1 and starts[0][1]:
            self.heard_at = now
            at, size, _ = starts[0]
            missing = at + size - total
            if missing > 0 and at >= framed:
                return now + missing * self.char + self.after
        elif now - self.heard_at >= self.silence and not any(start[1] for start in starts):
            starts.append([before, 0, 0])
        if after_frame and pending and framed >= before and all(s[0] != framed for s in starts):
            starts.append([framed, 0, 0])
        self.heard_at = now
        if not starts:
            return NONE
        data = b""
        kept = []
        told = True
        until = NONE
        # (an ordinary read's starts are told by its request alone)
        begun = self._begun if self.units else self.expected.reply_begun
        for start in starts:
            at, size, moved = start
            if not size:
                if not data:
                    data = self.recent + chunk
                offset = at - (before - len(self.recent))
                first = data[offset : offset + self.head_bytes]
                size = begun(first)
                while not size and first[0] in LINE_BYTE_VALUES and moved < LINE_BYTES:
                    # the line's byte, not the reply's: the reply may begin after it
                    at += 1
                    offset += 1
                    moved += 1
                    first = data[offset : offset + self.head_bytes]
                    size = begun(first)
                start[0], start[2] = at, moved
                if not size:  # the bytes from there are not the reply's
                    continue
                if size > 0:
                    start[1] = size
                else:
                    size = self.size
                    told = False
            missing = at + size - total
            if missing <= 0:  # whole, and taken by the link or not: done with
                self.whole_at = now
                continue
            if at < framed:
                continue
            kept.append(start)
            until = max(until, now + missing * self.char + self.after)
        self.starts = kept
        self.recent = b"" if told else data[1 - self.head_bytes :]
        return until

    def _begun(self, first: bytes) -> int:
        """The length of the reply that ``first`` begins, as :meth:`Request.reply_begun
        <sensord.formats.modbus.Request.reply_begun>` tells it; for a unit id of
        :attr:`units`, that of the reply with values or of an exception (0: none, -1: too few
        bytes)."""
        size = self.expected.reply_begun(first)
        if size or first[0] not in self.units:
            return size
        if first[1:2] == self.expected.exception_head[1:]:  # its refusal of the read
            return EXCEPTION_BYTES
        head = self.expected.head[1:]
        rest = first[1:]
        if len(rest) >= len(head):
            return self.size if rest.startswith(head) else 0
        return -1 if head.startswith(rest) else 0

    def begun_bytes(self) -> int:
        """How many bytes of the reply came from its first possible start on (0: none)."""
        return self.total - self.starts[0][0] if self.starts else 0
