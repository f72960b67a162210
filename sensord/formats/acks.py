"""Acknowledgements of set-up commands, and taking them out of a sensor's byte stream.

Some devices answer a set-up command with a reply frame of their own: an SDS011 answers
``AA B4 02 01 01 ...`` (query mode) with ``AA C5 02 01 01 00 <id> <sum> AB``, a PMS5003 answers
passive mode with ``42 4D 00 04 E1 00 01 74``, an MH-Z19 answers ``FF 01 79 ...`` with
``FF 79 ...``. An :class:`Ack` describes the reply one command gets: its layout (a fixed-length
:class:`~sensord.formats.base.FrameSpec` whose ``start`` bytes tell a reply to this command
apart from every other frame, with its checksum and end byte) and the bytes a reply that
acknowledges the command begins with (``echo``). A reply that has the layout but not the echo
(an SDS011 that answers query mode with "active mode") is a wrong acknowledgement; with no
echo (None), every reply of the layout is one: a refusal such as a Honeywell HPMA115's
``96 96``, which has no checksum and shares no byte with its acknowledgement ``A5 A5``.

A command may get one of several replies, each an :class:`Ack` of its own (a set-up command
written as bytes, ``sensord.config_tables.SetupCommandConfig``: each expected reply, whole, and each
refusal). The first reply found of any of them is the command's; where two of them begin at
the same byte, the first of them in the command's order. Replies of two commands that begin
at the same byte are told apart by the bytes after their start: the reply is the command's
whose acknowledgement it shares more first bytes with (an SDS011's ``AA C5 02 00 ...`` answers
the query of its reporting mode, byte 3 ``00``, not the command that sets it, ``01``, whose
late reply may be watched for at the same time), and, as alike, the command's written first,
but for a late reply and a pending one: a device that answers every command alike (an
HPMA115's ``A5 A5``) answers the command just written within tens of milliseconds, and the
late one's reply, if it ever comes, is then taken for the late one (both acknowledged, as
they are the other way round), where taking the first for the late one would leave the
pending command unacknowledged and write it again, and count the late one taken when the
device ignored it.

:class:`AckWatch` follows the acknowledgements of the commands written on one connect. It sits
in front of the sensor's framer while acknowledgements are outstanding: ``feed`` takes every
complete reply it finds out of the chunk and returns the rest, so the framer sees the data
frames as if no reply had been sent, and a reply is neither a parse error nor skipped bytes.
Bytes that may be the beginning of a reply are held back (never more than one reply's length)
until the next chunk completes or refutes it. A candidate whose checksum fails is not a reply:
its bytes go on to the framer, which counts them as it counts any other noise.

The wait for a command's reply may end before the reply comes (an SDS011 answers "about a
second" after a command, and a reply may straddle the end of a wait of 1 s). ``expire`` ends
the wait without ending the watch: the commands whose reply has not come are watched on as
late (``late``), their replies taken out of the chunks as before and told apart
(``late_found``, with the :class:`Ack` each matched: a setting's query and its command share
the command's name), and the bytes held back for one stay held; ``expect`` adds the command
written next to the same watch, whose bytes follow those; ``forget_late`` ends the late watch.
A data frame's last bytes may be held so (a PMS frame whose checksum ends in ``42``, an
MH-Z19 answer whose checksum is ``FF``): ``held`` shows them, and ``take_held`` hands them on
at once when they end a frame whole (the sensor's framer tells). Bytes that end no frame stay
held whatever is written meanwhile: a late reply cut anywhere by an adapter's latency timer,
its first byte before a poll request and the rest after it, is found whole. ``polled`` marks
the bytes held when a poll request went out and the sensor dropped its framer's pending
bytes: when no reply follows, they are dropped too (``before``, the first of them). ``earlier``
tells how many of the bytes ``feed`` returns were held back before its chunk, and
``held_anew`` whether those it holds now begin in its chunk, so that the frames they end are
read with the time they came.

A device may send replies nobody on this connect awaits: an SDS011 answers another program's
commands on the line with ``AA C5 ...`` as it answers the daemon's, and a reply to a set-up
command may come later still than the late watch. ``stray`` (an :class:`Ack` of every such
reply's layout) is watched for as long as the watch lives, after the commands' replies: each
found whole is taken out as a command's is, never skipped bytes, and told in
``stray_found``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from sensord.formats.base import FrameSpec
from sensord.formats.frames import frame_check
from sensord.formats.frames_layout import frame_length

__all__ = ["Ack", "AckWatch"]


@dataclass(frozen=True, slots=True)
class Ack:
    """The reply a device sends to one command; see the module docstring."""

    #: The reply's layout: fixed length, ``start`` the bytes that mark a reply to the command.
    layout: FrameSpec
    #: The first bytes of a reply that acknowledges the command (``layout.start`` and more);
    #: None: every reply of the layout refuses the command.
    echo: bytes | None
    length: int = field(init=False)

    def __post_init__(self) -> None:
        if self.layout.length is None or not self.layout.start:
            raise ValueError("an acknowledgement has a fixed length and start bytes")
        if self.echo is not None and not self.echo.startswith(self.layout.start):
            raise ValueError("an acknowledgement echoes its start bytes")
        object.__setattr__(self, "length", frame_length(self.layout))

    def acknowledges(self, reply: bytes) -> bool:
        """Whether ``reply`` (a whole reply of the layout) acknowledges the command."""
        return self.echo is not None and reply.startswith(self.echo)


class AckWatch:
    """The outstanding acknowledgements of the commands written on one connect.

    ``expected`` holds ``(command, ack)`` in the order the commands were written, ``ack`` one
    :class:`Ack` or the several replies the command may get; two commands with replies of the
    same start bytes are matched in that order, unless the bytes after the start tell them
    apart (see the module docstring).
    """

    __slots__ = (
        "_checks",
        "_fresh",
        "_heads",
        "_held",
        "_polled",
        "before",
        "earlier",
        "held_anew",
        "late",
        "late_found",
        "pending",
        "reply_at",
        "stray",
        "stray_found",
    )

    def __init__(
        self, expected: Sequence[tuple[str, Ack | Sequence[Ack]]], stray: Ack | None = None
    ) -> None:
        #: ``(command, its replies)`` whose reply has not come yet
        self.pending: list[tuple[str, tuple[Ack, ...]]] = [
            (command, (acks,) if isinstance(acks, Ack) else tuple(acks))
            for command, acks in expected
        ]
        self._checks: dict[Ack, Callable[[bytes], bool]] = {
            ack: frame_check(ack.layout) for _, acks in self.pending for ack in acks
        }
        #: the layout of the replies no command watched may have (None: not watched), and
        #: each such reply the last ``feed`` found
        self.stray = stray
        self.stray_found: list[bytes] = []
        #: the first bytes of the stray replies' start bytes, short of all of them
        self._heads: tuple[bytes, ...] = ()
        if stray is not None:
            self._checks[stray] = frame_check(stray.layout)
            start = stray.layout.start
            self._heads = tuple(start[:n] for n in range(1, len(start)))
        self._held = b""
        #: how many of the last bytes held back came with the last chunk
        self._fresh = 0
        #: ``(command, its replies)`` whose wait ended before the reply came (``expire``): a
        #: late reply is taken out of the chunks all the same, and told in ``late_found``
        self.late: list[tuple[str, tuple[Ack, ...]]] = []
        #: ``(command, ok, the reply's Ack)`` for every late reply the last ``feed`` found
        self.late_found: list[tuple[str, bool, Ack]] = []
        #: where in the bytes the last ``feed`` returned its first reply was taken out (None:
        #: it found none): the bytes before it came before the reply
        self.reply_at: int | None = None
        #: how many of the first bytes the last ``feed`` returned were held back before its
        #: chunk came (they came with an earlier chunk), and whether the bytes it holds back
        #: now begin in its chunk (False: with bytes held back before it)
        self.earlier = 0
        self.held_anew = True
        #: how many of the first bytes held back came before a poll request (``polled``), and
        #: how many of the first bytes the last ``feed`` returned did (to be dropped)
        self._polled = 0
        self.before = 0

    @property
    def held(self) -> bytes:
        """The bytes held back as a reply's first."""
        return self._held

    def take_held(self, n: int | None = None) -> bytes:
        """The bytes held back (their first ``n``; None: all), handed on now: they end a data
        frame whole (a PMS checksum ending ``42``), which no reply's first bytes do. Those
        after them stay held, ``held_anew`` telling whether they came with the last chunk."""
        held = self._held
        if n is None:
            n = len(held)
        self._held = held[n:]
        self._polled = max(0, self._polled - n)
        self.held_anew = len(self._held) <= self._fresh
        return held[:n]

    def polled(self) -> None:
        """A poll request went out, and the bytes the framer held were dropped: the bytes held
        back came before it and begin no answer to it. They stay held (the first of a late
        reply cut by the request's write); when no reply follows, ``feed`` tells them apart
        (``before``) for the framer to drop as it dropped its own."""
        self._polled = len(self._held)

    def expect(self, command: str, acks: Ack | Sequence[Ack]) -> None:
        """Watch for the reply of ``command``, written after those watched already."""
        entry = (command, (acks,) if isinstance(acks, Ack) else tuple(acks))
        self.pending.append(entry)
        for ack in entry[1]:
            if ack not in self._checks:
                self._checks[ack] = frame_check(ack.layout)

    def expire(self) -> list[str]:
        """The wait for the pending replies is over: the commands whose reply has not come,
        watched on as late (``late``); the bytes held back stay held."""
        missing = [command for command, _ in self.pending]
        self.late += self.pending
        self.pending = []
        return missing

    def forget_late(self) -> bytes:
        """Stop watching for late replies: the bytes held back when no reply is pending any
        more (to be framed, the first ``before`` of them dropped as bytes before a poll
        request; empty otherwise, the next ``feed`` tells what they are)."""
        self.late = []
        if self.pending or self.stray is not None:
            return b""
        self.before = self._polled
        return self.take_held()

    def feed(self, chunk: bytes) -> tuple[bytes, list[tuple[str, bool]]]:
        """The bytes of ``chunk`` that are no reply (for the framer), and ``(command, ok)`` for
        every reply found, ``ok`` False for a wrong acknowledgement."""
        if not (self._held or self.pending or self.late):
            stray = self.stray
            if stray is None or (
                stray.layout.start not in chunk and not chunk.endswith(self._heads)
            ):
                # no reply begins in the chunk (an SDS011's data frames between its replies,
                # a frame a second for months): the chunk as it came, at the cost of a search
                self.reply_at = None
                if self.late_found:
                    self.late_found = []
                if self.stray_found:
                    self.stray_found = []
                self.earlier = self.before = self._fresh = 0
                self.held_anew = True
                return chunk, []
        old = len(self._held)
        polled = self._polled
        data = self._held + chunk
        self._held = b""
        self._polled = 0
        self.reply_at = None
        self.late_found = []
        self.stray_found = []
        self.earlier = self.before = 0
        self.held_anew = True
        out = bytearray()
        found: list[tuple[str, bool]] = []
        pos = 0
        pending = self.pending
        late = self.late
        stray = self.stray
        while pending or late or stray is not None:
            at, which = -1, -1
            ack: Ack | None = None
            # the late replies first: where a late and a pending reply begin at the same
            # byte, the late one's command was written first (a reply as alike to both is
            # the pending one's, see the module docstring)
            watched = late + pending
            for k, (_, acks) in enumerate(watched):
                for reply in acks:
                    i = data.find(reply.layout.start, pos)
                    if i >= 0 and (at < 0 or i < at):
                        at, which, ack = i, k, reply
                    elif i == at and k != which and ack is not None:
                        alike, best = _alike(data, i, reply), _alike(data, i, ack)
                        if alike > best or (alike == best and which < len(late) <= k):
                            which, ack = k, reply
            if stray is not None:  # the commands' replies first, where one begins as well
                i = data.find(stray.layout.start, pos)
                if i >= 0 and (at < 0 or i < at):
                    at, which, ack = i, -1, stray
            if ack is None:
                break
            if len(data) - at < ack.length:  # the rest of this candidate is still to come
                out += data[pos:at]
                self._held = data[at:]
                self.earlier += max(0, min(at, old) - pos)
                self.before += max(0, min(at, polled) - pos)
                self._polled = max(0, polled - at)
                self.held_anew = at >= old
                self._fresh = min(len(self._held), len(chunk))
                return bytes(out), found
            candidate = data[at : at + ack.length]
            if not self._checks[ack](candidate):  # not a reply: its bytes go on to the framer
                out += data[pos : at + 1]
                self.earlier += max(0, min(at + 1, old) - pos)
                self.before += max(0, min(at + 1, polled) - pos)
                pos = at + 1
                continue
            out += data[pos:at]
            self.earlier += max(0, min(at, old) - pos)
            self.before += max(0, min(at, polled) - pos)
            if self.reply_at is None:
                self.reply_at = len(out)
            pos = at + ack.length
            if which < 0:
                self.stray_found.append(candidate)
                continue
            command = watched[which][0]
            if which < len(late):
                del late[which]
                self.late_found.append((command, ack.acknowledges(candidate), ack))
            else:
                del pending[which - len(late)]
                found.append((command, ack.acknowledges(candidate)))
        rest = data[pos:]
        keep = self._partial(rest) if pending or late or stray is not None else 0
        out += rest[: len(rest) - keep]
        self._held = rest[len(rest) - keep :]
        self.earlier += max(0, min(len(data) - keep, old) - pos)
        self.before += max(0, min(len(data) - keep, polled) - pos)
        self._polled = max(0, polled - (len(data) - keep))
        self.held_anew = len(data) - keep >= old
        self._fresh = min(keep, len(chunk))
        return bytes(out), found

    def _partial(self, rest: bytes) -> int:
        """The length of the longest end of ``rest`` that may begin a watched reply."""
        longest = 0
        watched = [ack for _, acks in self.late + self.pending for ack in acks]
        if self.stray is not None:
            watched.append(self.stray)
        for ack in watched:
            start = ack.layout.start
            for n in range(min(len(start) - 1, len(rest)), longest, -1):
                if rest.endswith(start[:n]):
                    longest = n
                    break
        return longest


def _alike(data: bytes, at: int, ack: Ack) -> int:
    """How many first bytes the reply at ``at`` of ``data`` shares with ``ack``'s echo (its
    start bytes for one without)."""
    echo = ack.layout.start if ack.echo is None else ack.echo
    n = 0
    for a, b in zip(data[at : at + len(echo)], echo, strict=False):
        if a != b:
            break
        n += 1
    return n
