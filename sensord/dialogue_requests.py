"""What each of a sensor's poll requests gets back since its port opened (``PollRequests``).

A device polled with several requests in turn (a BMS asked for several data ids, an SPS30 for
its measurement and its status register) may leave one unanswered while it answers the others
(a request its firmware does not serve, or one with a mistake in it), or refuse one (answer it
only with frames whose status byte the spec's check rejects) while it takes the others. Each
request's count of such polls in a row, since when, and the status it last got back, are
kept here; one left unanswered or refused :data:`UNANSWERED_HINT_POLLS` times in a row while
the device answers another is told in ``/status`` (``hints``). A request the device never
answered since the port opened, while it answered another, says nothing of the device's
supply (``ever_answered``: ``Dialogue`` leaves it out of its count of silent polls); one it
took before and refuses now tells a device restarted behind the open port, idle
(``refuses_what_it_took``).

``Dialogue`` writes the requests and tells this of each poll's outcome once, as the next poll
goes out (``answered``, ``unanswered``); it counts the refused frames of the poll under way
itself.
"""

from __future__ import annotations

from sensord.log import shown

__all__ = ["UNANSWERED_HINT_POLLS", "PollRequests"]

#: How many times in a row one of several poll requests goes unanswered, or is refused, while
#: the device answers another, before ``/status`` tells of it (``PollRequests.hints``).
UNANSWERED_HINT_POLLS = 3


class PollRequests:
    """See the module docstring."""

    def __init__(self, requests: tuple[bytes, ...], *, binary: bool) -> None:
        #: the requests, shown as a datasheet writes them (in hex for a binary protocol)
        self._requests = requests
        self._binary = binary
        count = len(requests)
        #: of each request, how many times in a row it went unanswered, since when; the polls
        #: answered since the open, and their count when each request was last found
        #: unanswered or answered: a request left unanswered while no other was either is an
        #: outage of the device, not a request it does not serve
        self._unanswered_in_row = [0] * count
        self._unanswered_since = [0.0] * count
        self._answered_polls = 0
        self._answered_at = [0] * count
        #: the same of requests refused (answered only with frames whose status byte the
        #: spec's check rejects), with the status each last got back, and the polls answered
        #: with a frame the device did not refuse
        self._refused_in_row = [0] * count
        self._refused_since = [0.0] * count
        self._refused_status = [0] * count
        self._taken_polls = 0
        self._taken_at = [0] * count
        #: of each request, whether the device took it (answered it with a frame it did not
        #: refuse) since the port opened: its firmware has the command
        self._ever_taken = [False] * count
        #: of each request, whether a frame answered it since the port opened
        self.ever_answered = [False] * count
        #: whether the device refuses a request :data:`UNANSWERED_HINT_POLLS` times in a row
        #: that it took before since the port opened, while it answers another: a device
        #: power-cycled behind the open port, idle until its set-up starts it again (kept as
        #: the counts change, read at every tick: ``Dialogue.refuses_what_it_took``)
        self.refuses_what_it_took = False

    def forget(self) -> None:
        """The port opened: nothing counted unanswered or refused, nothing answered."""
        count = len(self._requests)
        self._unanswered_in_row = [0] * count
        self._answered_polls = 0
        self._answered_at = [0] * count
        self._refused_in_row = [0] * count
        self._taken_polls = 0
        self._taken_at = [0] * count
        self._ever_taken = [False] * count
        self.ever_answered = [False] * count
        self.refuses_what_it_took = False

    def shown(self, turn: int) -> str:
        """The request of ``turn`` as a log line or hint shows it."""
        return shown(self._requests[turn], binary=self._binary)

    def answered(self, turn: int, frames: int, refusals: int, status: int, now: float) -> None:
        """The request of ``turn`` was answered by ``now`` with ``frames`` frames, ``refusals``
        of them refused, the last refused one with ``status``: refused when every frame is
        one the device refused, one more time in a row when another request got an answer
        it did not refuse since this one was last asked; none of them counted when none did
        (every frame refused: the sensor's hint of rejected frames tells of it). Taken, its
        count starts afresh."""
        self._unanswered_in_row[turn] = 0
        self._answered_polls += 1
        self._answered_at[turn] = self._answered_polls
        self.ever_answered[turn] = True
        counts = self._refused_in_row
        if not refusals or refusals < frames:
            counts[turn] = 0
            self._taken_polls += 1
            self._taken_at[turn] = self._taken_polls
            self._ever_taken[turn] = True
            if self.refuses_what_it_took:  # this one may have been the one refused
                self.refuses_what_it_took = any(
                    count >= UNANSWERED_HINT_POLLS and taken
                    for count, taken in zip(counts, self._ever_taken, strict=True)
                )
            return
        if self._taken_polls == self._taken_at[turn]:
            counts[:] = [0] * len(counts)
            self.refuses_what_it_took = False
            return
        self._taken_at[turn] = self._taken_polls
        if not counts[turn]:
            self._refused_since[turn] = now
        counts[turn] += 1
        self._refused_status[turn] = status
        if counts[turn] >= UNANSWERED_HINT_POLLS and self._ever_taken[turn]:
            self.refuses_what_it_took = True

    def unanswered(self, turn: int, now: float) -> None:
        """The request of ``turn`` went unanswered at ``now``: one more time in a row when
        another was answered since it was last asked; none of them counted when none was
        (an outage: the stale hint tells of it)."""
        counts = self._unanswered_in_row
        if self._answered_polls == self._answered_at[turn]:
            counts[:] = [0] * len(counts)
            return
        self._answered_at[turn] = self._answered_polls
        if not counts[turn]:
            self._unanswered_since[turn] = now
        counts[turn] += 1

    def hints(self, now: float) -> list[str]:
        """Of several requests, one the device left unanswered :data:`UNANSWERED_HINT_POLLS`
        times in a row or more while it answers another, or refused as many times while it
        answers another with a frame it does not refuse: which, how often and for how long,
        and the status a refused one got back (see ``Dialogue.request_hint``); none of one
        request."""
        hints: list[str] = []
        counts = self._unanswered_in_row
        if len(counts) < 2:
            return hints
        if min(counts) < UNANSWERED_HINT_POLLS:
            told = [
                f"{self.shown(turn)} ({count} times in a row, for "
                f"{max(0.0, now - self._unanswered_since[turn]):.0f} s)"
                for turn, count in enumerate(counts)
                if count >= UNANSWERED_HINT_POLLS
            ]
            if told:
                hints.append(
                    f"the device answers poll requests, but not {'; '.join(told)}: the values "
                    "of that reply never come; check the request against the device's manual "
                    "(sensord capture shows what it answers)"
                )
        # a request the device took before on this connection is one its firmware has: it
        # refuses it in the state it is in now (restarted behind the open port, idle)
        for before in (False, True):
            refused = [
                f"{self.shown(turn)} with status 0x{self._refused_status[turn]:02X} ({count} "
                f"times in a row, for {max(0.0, now - self._refused_since[turn]):.0f} s)"
                for turn, count in enumerate(self._refused_in_row)
                if count >= UNANSWERED_HINT_POLLS and self._ever_taken[turn] == before
            ]
            if refused and before:
                hints.append(
                    f"the device answers poll requests, but refuses {'; '.join(refused)}, "
                    "though it answered it before since the port opened: the device may have "
                    "restarted or left the state its set-up put it in (the status says why); "
                    "check its power and its set-up (sensord capture shows what it answers)"
                )
            elif refused:
                hints.append(
                    f"the device answers poll requests, but refuses {'; '.join(refused)}: its "
                    "firmware may not support the command; drop the request from "
                    "poll.request, or check its command bytes against the device's datasheet "
                    "(sensord capture shows what it answers)"
                )
        return hints
