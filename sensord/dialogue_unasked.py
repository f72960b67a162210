"""Whether a polled device that its set-up leaves sending only when asked sends unasked
(``UnaskedFrames``): a PMS set to passive mode, an SDS011 set to query mode.

Such a device streams again when it is powered anew (a PMS, in its default active mode), when
its set-up was lost, or when it never took the command (a clone): its frames then come
between its polls, or drift past them, and its set-up is to run again. Two things tell it:

* it streamed on through the wait for the reply of the command that should have quieted it
  (``streamed``, told by ``streams_on``; a frame before the first poll after the set-up may
  tell it, while ``stream_watch`` holds the time that poll waits until); and
* the frames between its polls (``frames_came``, as frames come, and ``polled``, as each poll
  ends its interval): more than one, or one that answered no poll, in two poll intervals
  running, told apart from the late replies of polls whose answers had not come and from a
  PMS's answers late now and then (see the docstrings of those two and of
  ``sensord.dialogue``).

``Dialogue`` builds one for such a device only, and tells it of its set-up's runs
(``opened``, ``run_begins``, ``run_ended``, ``written``); this asks the dialogue for a re-run
(``AskingDialogue``) and tells the sensor when a PMS streams anew (``UnaskedPort``). On the
path of each answer the dialogue judges a frame alone that answers its poll in time, the
usual answer, itself (``asked_at``, ``judges_late``, ``answer_within_s``, ``timely``), and
calls ``frames_came`` for the rest.
"""

from __future__ import annotations

import math
import weakref
from typing import Protocol

from structlog.typing import FilteringBoundLogger

from sensord.formats.base import Framer
from sensord.log import RateLimiter

__all__ = [
    "ANSWER_WITHIN_S",
    "DRIFTS_RUNNING",
    "FAST_POLLS_S",
    "LATE_ANSWER_WITHIN_S",
    "STREAM_SLACK_S",
    "TAKEN_WITHIN_S",
    "AskingDialogue",
    "UnaskedFrames",
    "UnaskedPort",
]

#: How long after its read request a frame of a PMS set to passive mode may come and still be
#: its answer (half the poll interval, when that is shorter): it answers at once as a rule
#: (its 32 bytes take 33 ms at 9600 baud), and now and then later (fu-hsi/PMS issue #5: a
#: PMS7003's answers missed a 1 s timeout once in eight, never a 2 s one, so at polls 2 s
#: apart two or three such answers come running now and then), so a later frame is one it
#: streams, or such a late answer: what follows tells which (see ``UnaskedFrames.polled``).
#: Not of an SDS011, whose answer to a query takes "about a second" (timorme/sds011lib's
#: docs/understanding.md).
ANSWER_WITHIN_S = 1.0

#: How long after its request an answer that comes late may still come: a PMS7003's answers
#: missed a 1 s timeout once in eight, never a 2 s one (fu-hsi/PMS issue #5). Polled faster,
#: a device may be as many answers behind as requests went out in that time, each coming
#: after the next request as the late reply of one before it (``UnaskedFrames.frames_came``); of
#: the requests whose answers have not come, those older than that but the last are not
#: answered any more.
LATE_ANSWER_WITHIN_S = 2.0

#: Polled faster than this, half the poll interval (how late a PMS's answer may come and still
#: be taken for one, :data:`ANSWER_WITHIN_S`) is within the delays a healthy unit's answers
#: have on a busy host or adapter (0 to 200 ms), so an answer later than that followed by a
#: poll whose answer was lost looks like a frame streamed past the polls (``UnaskedFrames.polled``).
#: One between two lost stands alone between polls left without a byte, as every frame of a
#: stream two poll intervals apart or slower does, and counts at once: on a line that loses
#: one answer in five, half the answers late, one poll in fifty (every 10 s at 0.2 s polls),
#: one in 800 at one lost in twenty. That sets a healthy unit up again as often as the
#: re-runs' wait allows; the re-run's line and ``request_hint`` say so, and advise this pace.
FAST_POLLS_S = 0.5

#: How many drifts past the polls, each within as many poll intervals of the one before as a
#: PMS's slowest stream leaves between two frames, tell a stream at polls faster than
#: :data:`FAST_POLLS_S`, when each is one a late answer followed by a lost one could leave
#: (``UnaskedFrames.polled``): a stream between one and two poll intervals apart (the fast mode
#: of a PMS, 0.2 to 0.8 s between frames by its data manuals) drifts past the polls every
#: P / (P - I) intervals, each time alike, while a healthy unit's lost answers come at
#: random (one in twenty lost and half its answers late, in two hundred seconds of polls
#: every 0.2 s, brings about twenty-five such drifts, never six running so).
DRIFTS_RUNNING = 6

#: How long after the last write of the set-up command that leaves an SDS011 sending only when
#: asked (``query_mode``), its reply awaited in vain (4 s after the third write), a frame may
#: come from a unit that took the command: a later one tells that it streams on
#: (``UnaskedFrames.streamed``). It takes a command at its measuring cycle, a frame a second in
#: active reporting, its reply "typically" about a second after the write (timorme/sds011lib,
#: docs/understanding.md), so one that took it may send two frames after the write, the one
#: of its cycle just before it took it among them, while its stream puts two in the 2 s after
#: these. Of a PMS (``passive_mode``) a frame later than :data:`ANSWER_WITHIN_S` after that
#: write tells it: it sends one every 0.2 to 2.3 s "depending on the change of values" (its
#: data manual; RIOT-OS/RIOT PR #16209), so in its stable mode as few as one may come in those
#: 4 s, while the frames one that took the command had begun or its adapter held, two of them
#: at times, come at once.
TAKEN_WITHIN_S = 2.0

#: How much later than the slowest pace of its stream (a PMS's 2.3 s,
#: ``sensord.formats.presets.stream_interval_s``) the next frame of a device left streaming may
#: be read: its own clock a percent or two off (50 ms in 2.3 s), an FTDI adapter's latency
#: timer (16 ms by default) and a loaded host's read. Also how long after the latest a PMS
#: takes a command (:data:`LATE_ANSWER_WITHIN_S`) a frame of its stream it had begun, or its
#: adapter held, may still be read (``UnaskedFrames.streamed``).
STREAM_SLACK_S = 0.2

#: Why a polled device that streamed through the wait for the reply of the command that leaves
#: it sending only when asked is told (``UnaskedFrames.streams_on``).
STREAMS_ON_HINT = (
    "the device sent frames after the command's last write, and no reply to it: it ignores "
    "the command (PMS clones and some PMSA003 firmware take no passive_mode or read) and "
    "streams at its own pace, so its polls answer nothing and its readings come as it sends "
    "them; to read it as it streams, drop the sensor's poll table and the command from its "
    "setup; if it should take it, check that the adapter's TX reaches the sensor's RX (a "
    "unit just powered or woken from sleep may ignore commands a while and take them at the "
    "set-up that follows)"
)

#: Why a PMS polled faster than :data:`FAST_POLLS_S` was set up again for late frames that
#: seemed streamed past its polls (``Dialogue.request_hint``).
FAST_POLLS_HINT = (
    "at polls faster than every 0.5 s, an answer later than half the interval between two "
    "answers lost on the line (a lossy RS-485 or USB link: poll_timeouts) leaves a frame alone "
    "between two polls without a byte, as a stream two poll intervals apart or slower does, "
    "and a PMS may be warmed up again for it (at the first such re-run of a spell, unless it "
    "warms up already); poll it every 0.5 s or slower (poll.interval_s: it "
    "renews its readings every 0.2 to 2.3 s), or, if it does stream, check its supply"
)


class UnaskedPort(Protocol):
    """What ``UnaskedFrames`` needs of the sensor (``sensord.dialogue.DialoguePort``)."""

    @property
    def framer(self) -> Framer:
        """The sensor's framer: its frame count."""
        ...

    @property
    def log(self) -> FilteringBoundLogger:
        """The sensor's logger."""
        ...

    @property
    def last_frame_at(self) -> float | None:
        """When the last frame came on this connection (None: none yet)."""
        ...

    def streams_anew(self, now: float) -> None:
        """The device, set to send only when asked, was found streaming at ``now``, as it
        does once powered anew (a PMS): it may have just been powered, and warms up again."""
        ...


class AskingDialogue(Protocol):
    """What ``UnaskedFrames`` needs of the ``Dialogue`` that owns it."""

    #: the wait after the set-up run that ends next before another may start, and the
    #: sensor's ``stale_after``, where it starts over
    rerun_wait: float
    stale_after_s: float

    def rerun(self, now: float, why: str) -> bool:
        """Run the set-up again at ``now`` for ``why``, when the wait allows."""
        ...


class UnaskedFrames:
    """See the module docstring."""

    def __init__(
        self,
        port: UnaskedPort,
        dialogue: AskingDialogue,
        *,
        errors: RateLimiter,
        interval_s: float,
        poll_request: str,
        command: str,
        powered_when_streaming: bool,
        stream_s: float | None,
    ) -> None:
        # held weakly: the dialogue owns this, and the sensor the dialogue
        self._port: UnaskedPort = weakref.proxy(port)
        self._dialogue: AskingDialogue = weakref.proxy(dialogue)
        self._errors = errors
        #: the poll interval, the first poll request as logged, and the set-up command that
        #: leaves the device sending only when asked
        self._interval_s = interval_s
        self._poll_request = poll_request
        self._command = command
        #: the framer's frame count and the time at the last set-up write (``written``), and
        #: when the device was found streaming through the wait for that command's reply, its
        #: set-up to run again once the wait after the run allows (None: it was not;
        #: ``streams_on``)
        self._frames_at_write = 0
        self._written_at = 0.0
        self.streamed_at: float | None = None
        #: the set-ups of this spell that found it streaming on (since it last answered only
        #: its polls for a whole wait, or came back after a silence): told while few, then
        #: the 4th, 8th, 16th ..., as the re-runs they bring are
        self.streamed_finds = 0
        #: how many poll intervals running with no frame sent unasked end a stretch of
        #: intervals with such frames: as many as a stream at the device's slowest pace
        #: leaves between two of its frames, and one more (1: two such intervals count
        #: together only when they follow each other)
        self._gap_polls = 1 if stream_s is None else max(1, math.ceil(stream_s / interval_s - 1e-9))
        #: a device that streams only once powered anew (a PMS): found streaming, it warms up
        #: again (``UnaskedPort.streams_anew``)
        self._powered_when_streaming = powered_when_streaming
        #: its answers come within :data:`ANSWER_WITHIN_S` as a rule (a PMS's), so a later
        #: frame counts as one sent unasked (``frames_came``)
        self.judges_late = powered_when_streaming
        #: the longest time between two frames of its stream, by its datasheet (None: not
        #: known), and, while the first poll after its set-up waits for it, when a frame that
        #: comes before it tells that the device streams on (None: no such wait; ``streamed``)
        self._stream_s = stream_s
        self.stream_watch: float | None = None
        #: such a device was found streaming, and has not answered only its polls for a
        #: whole re-run wait since: it warmed up for it, and does not again
        self._streaming_told = False
        #: the poll intervals running that brought frames sent unasked, and when the last such
        #: interval ended
        self._unasked = 0
        self._unasked_at = -math.inf
        #: when the last poll request was written (-inf: none since the last set-up run
        #: began; a set-up query of a stored setting is none: its reply answers it, never a
        #: data frame, so it is owed no frame), and a frame came unasked since
        #: (``frames_came``)
        self.asked_at = -math.inf
        self._unasked_frame = False
        #: when the polls were written whose answers had not come when the last interval
        #: ended (of the last :data:`LATE_ANSWER_WITHIN_S`, and the last of them), and how
        #: many of their late replies may still come in the interval under way, past its
        #: poll's answer
        self._owed_at: list[float] = []
        self._owed_left = 0
        #: the frames of the interval under way taken for the late reply of the poll before
        #: it (one at most), and the intervals running since the last with frames sent
        #: unasked
        self._late_replies = 0
        self._quiet_polls = 0
        #: a poll left without a byte after intervals whose one frame came late, judged with
        #: the interval after it (``polled``)
        self._drift_held = False
        #: polled faster than :data:`FAST_POLLS_S`: a drift counts at once only when its late
        #: frame stood alone between polls left without a byte, others once they run
        #: (``polled``); whether the interval before the last was left so, whether the one
        #: before the late frames held was, the drifts running and the intervals since the
        #: last of them
        self._fast_polls = interval_s < FAST_POLLS_S
        #: the re-runs such late frames brought since the device last answered only its polls
        #: for a whole re-run wait, and when the first of them was (``fast_polls_hint``)
        self._fast_reruns = 0
        self._fast_reruns_since = 0.0
        self._was_empty = False
        self._empty_before_late = False
        self._drifts = 0
        self._since_drift = self._drift_gap = 0
        #: of a PMS: its poll's one frame came later than :data:`ANSWER_WITHIN_S` after it, and
        #: the poll intervals running that brought such a frame and nothing else, held until
        #: what follows tells a late answer from a frame streamed (``polled``)
        self._late_frame = False
        self._late_held = 0
        #: of a PMS: the last poll was answered in time by a frame alone, and since when each
        #: poll was so answered (None: the last was not)
        self.timely = False
        self._answered_since: float | None = None
        #: how late after its poll a PMS's answer may come and still be taken for one
        self.answer_within_s = min(ANSWER_WITHIN_S, interval_s / 2)

    def _judge_afresh(self) -> None:
        """Frames between polls are judged from the next poll on, nothing held."""
        self._unasked = 0
        self._unasked_frame = self._late_frame = self._drift_held = False
        self._was_empty = self._empty_before_late = False
        self._owed_at.clear()
        self._owed_left = 0
        self._late_held = self._late_replies = self._quiet_polls = 0
        self.timely, self._answered_since = False, None
        self._drifts = self._since_drift = self._drift_gap = 0

    def opened(self) -> None:
        """The port opened: nothing found streaming, no request written since."""
        self._judge_afresh()
        self._streaming_told = False
        self.streamed_at = self.stream_watch = None
        self.asked_at = -math.inf

    def run_begins(self) -> None:
        """A set-up run begins while the port stays open: its own wait tells whether the
        device streams on, and frames are judged again from the first poll after it."""
        self.streamed_at = self.stream_watch = None
        self.asked_at = -math.inf

    def run_ended(self) -> None:
        """The set-up run is over: frames between polls count from here."""
        self._judge_afresh()

    def written(self, frames: int, now: float) -> None:
        """A set-up command (or a setting's query) was written at ``now``, the framer's count
        at ``frames``."""
        self._frames_at_write = frames
        self._written_at = now

    def fast_polls_hint(self, now: float) -> str | None:
        """Of a PMS polled faster than :data:`FAST_POLLS_S`, the re-runs that late frames
        brought since it last answered only its polls for a whole re-run wait, with why
        (:data:`FAST_POLLS_HINT`: a lossy line at such a pace looks so); None when there were
        none."""
        if not self._fast_reruns:
            return None
        return (
            f"set up again {self._fast_reruns} times in "
            f"{max(0.0, now - self._fast_reruns_since):.0f} s for frames that seemed "
            f"streamed past its polls: {FAST_POLLS_HINT}"
        )

    def streamed(self, now: float) -> bool | float:
        """Whether the device streamed on after the last write of the command that leaves it
        sending only when asked, its reply awaited in vain until ``now``: True when it did,
        False when it did not, or, when what came so far cannot tell, the time until which
        the first poll waits, a frame before it telling that it streams on.

        Of an SDS011, a frame later than :data:`TAKEN_WITHIN_S` after that write tells it (one
        that took the command at its cycle, about a second after the write, sends none after
        that, while its stream of a frame a second puts two in the 2 s after it).

        Of a PMS, no frame later than :data:`ANSWER_WITHIN_S` after it is one that took the
        command: the frames it had begun or an adapter held come at once. A PMS may take the
        command later than that, up to :data:`LATE_ANSWER_WITHIN_S` (fu-hsi/PMS issue #5: a
        PMS7003's answers missed a 1 s timeout once in eight, never a 2 s one), and its
        stream, a frame every 2.3 s at most in its stable mode, may put one frame in that
        time; a stream goes on, a frame at most 2.3 s (:data:`STREAM_SLACK_S` more) after the
        one before. So a frame later than that latest take (:data:`STREAM_SLACK_S` more)
        tells a stream; a last frame more than a stream's slowest interval before ``now``
        tells frames that stopped, a unit that took the command late; and one between the
        two (1.5 to 2.2 s after the write, at the wait of 4 s after it), which a clone in its
        stable mode leaves as well, is told by its next frame: the first poll waits for it, a
        stream's slowest interval and :data:`STREAM_SLACK_S` after that last frame at most
        (0.7 s past the end of the wait at most)."""
        last = self._port.last_frame_at
        written = self._written_at
        if not self.judges_late:
            return last is not None and last > written + TAKEN_WITHIN_S
        if last is None or last <= written + ANSWER_WITHIN_S:
            return False
        stream_s = self._stream_s
        if stream_s is None or last > written + LATE_ANSWER_WITHIN_S + STREAM_SLACK_S:
            return True
        until = last + stream_s + STREAM_SLACK_S
        return False if now >= until else until

    def streams_on(self, now: float) -> None:
        """The set-up command that leaves the polled device sending only when asked got no
        reply to its last write, and frames came after that write that tell a stream
        (``streamed``): the device streams on, having ignored it (a clone that takes no
        command, streaming a frame a second as its polls go out a second apart, answers each
        poll interval with one frame, which the polls alone tell only once its frames drift
        past them). Logged at once, at most once a minute, with the poll; the set-up runs
        again (``setup_reruns``) once the wait after this run allows, at the end of a poll
        interval, and each such run that finds it streaming on is told so again while they
        are few, then the 4th, 8th, 16th ... of the spell (a clone streaming for a month is
        set up again every ``dialogue.RERUN_MAX_WAIT_S``: a few dozen lines, not 8,000), those
        not told counted in ``suppressed``."""
        self.streamed_at = self._unasked_at = now  # the re-runs' wait doubles from here
        self.streamed_finds += 1
        found = self.streamed_finds
        if found > 3 and found & (found - 1):
            self._errors.hold("streams-on")
            return
        held = self._errors.check("streams-on")
        if held is None:
            return
        self._port.log.warning(
            "the device streams unasked: it did not take the set-up command that makes it "
            "answer only its polls",
            command=self._command,
            frames=self._port.framer.frames - self._frames_at_write,
            since_write_s=round(now - self._written_at, 3),
            poll_interval_s=self._interval_s,
            poll_request=self._poll_request,
            hint=STREAMS_ON_HINT,
            suppressed=held,
        )

    def frames_came(self, asked: bool, count: int, now: float) -> None:
        """``count`` frames came at ``now``, polled since the last set-up run (``asked``:
        the last poll awaited its answer; ``Dialogue.frames_came`` judges a frame alone that
        answers its poll in time, the usual answer, itself, and tells this the rest). A
        frame that came when no request awaited its answer (the poll had its answer already)
        was sent unasked: its poll interval counts as one in which the device streams
        (``polled``), however few frames it holds (a PMS streams a frame every 2.3 s in its
        stable mode, one every 0.2 to 0.8 s in its fast mode, by its data manual, so polls
        every 2 s see one frame or none in most intervals). Of a PMS, one later than
        :data:`ANSWER_WITHIN_S` after its request may be one sent unasked, or its answer
        late now and then, which what follows tells (``polled``). A frame past the poll's
        answer is the late reply of a poll before whose answer had not come (of those of the
        last :data:`LATE_ANSWER_WITHIN_S`, and the last of them), one such frame for each,
        and no frame sent unasked: a PMS's answers come past the next poll now and then,
        polls running too, each one answer behind. Each frame answers the oldest poll owed,
        so a device that answered every poll since would stay as many behind for ever; once
        each poll of a PMS was answered in time by a frame alone for
        :data:`LATE_ANSWER_WITHIN_S` (``polled``), the polls before are owed no more but the
        last: no answer comes later than that, and answers queued behind a late one come
        back to back as it catches up, not one a poll for seconds. A PMS powered anew after
        a silence answers its polls at once and streams besides: its streamed frames would
        otherwise pass for the late replies of the silence's last 2 s of polls for as many
        frames (nine at 0.2 s polls, its fan's first ten seconds published). A PMS warms up
        again at the first frame after a poll's answer that is none of those: it streams
        after any power-up, and the frames its fan sends as it spins up are those
        (``DialoguePort.streams_anew``; once, as ``polled`` tells); a late frame alone waits
        for the re-run."""
        if asked and count == 1:  # one late, the poll's answer alone
            self._late_frame = True  # streamed, or an answer late now and then
            return
        # a poll before whose answer had not come: one frame past this poll's answer may be
        # its late reply, no frame sent unasked (one for each such poll)
        excused = min(self._owed_left, count - asked)
        self._owed_left -= excused
        self._late_replies += excused
        if count - asked <= excused:
            return
        self._unasked_frame = True
        if self._powered_when_streaming and not self._streaming_told:
            self._streaming_told = True
            self._port.streams_anew(now)

    def polled(self, got: int, now: float, *, heard: bool) -> None:
        """A poll request was written at ``now``, ending the poll interval before it, in
        which ``got`` frames came (``heard``: bytes came), from a device whose set-up leaves
        it sending only when asked. The polls whose answers have not come are owed (those of
        the last :data:`LATE_ANSWER_WITHIN_S`, and the last of them), each frame answering
        the oldest; once each poll was answered in time by a frame alone for that long, only
        the last. Then: more than one, or one sent unasked (``frames_came``; the late reply
        of the poll before is neither), in two intervals running, or with fewer than
        ``_gap_polls`` between them (a PMS polled faster than it streams in its stable mode,
        each poll answered, leaves intervals between its frames that hold only the answer),
        is a device that streams again (a PMS powered anew, in its default mode, or whose
        set-up was lost; an SDS011 that another program switched to active reporting: it
        keeps its mode through a power cut), set up again; a PMS warms up again the first
        time (its fan may be spinning up), and not again until it answered only its polls
        for a whole wait (one that never takes the set-up would never publish). One in each
        for a whole wait after the last such interval starts the wait over. An interval
        whose one frame came late (a PMS's, ``frames_came``) is held: it counts, with those
        held before it, once an interval with frames sent unasked follows, or a poll left
        without a byte (``heard``: bytes came since the request; frames streamed at the
        device's own pace, slower than the polls, come later in each interval until one
        comes after the next poll), and at once after such an interval; an answer in time,
        or one spoilt on the line, drops them (a PMS answers late now and then, several
        polls running too, each answer before the next poll). A poll left without a byte is
        judged with the interval after it: one whose second frame was the late reply of that
        poll tells an answer late past its poll, and drops the late ones held. Polled faster
        than :data:`FAST_POLLS_S`, where a late answer followed by a lost one leaves the
        same drift, a drift counts at once only when its late frame stood alone between two
        polls left without a byte (a stream two intervals apart or slower leaves each frame
        so; a healthy unit's answers fill the intervals around a lost one), and otherwise
        once :data:`DRIFTS_RUNNING` came, each within ``_gap_polls`` of the one before and
        as far from it as that one from its own before, give or take an interval (a stream
        between one and two intervals apart drifts past the polls at its own steady beat; a
        healthy unit's lost answers come at random)."""
        asked_at, self.asked_at = self.asked_at, now
        owed = self._owed_at
        if asked_at != -math.inf:  # the poll whose interval ends now
            owed.append(asked_at)
        del owed[:got]  # each frame answers the oldest poll not answered yet
        # an answer older than that does not come, but the last poll's may still come
        # with the next one's (a busy adapter or host delivers them together)
        while len(owed) > 1 and owed[0] + LATE_ANSWER_WITHIN_S <= now:
            del owed[0]
        # each poll answered in time by a frame alone for LATE_ANSWER_WITHIN_S: the
        # device answers in step, and the polls before are owed no more but the last
        # (answers queued behind a late one come back to back as it catches up)
        timely, self.timely = self.timely, False
        if not timely:
            self._answered_since = None
        elif self._answered_since is None:
            self._answered_since = asked_at
        elif now - self._answered_since >= LATE_ANSWER_WITHIN_S:
            del owed[:-1]
        self._owed_left = len(owed)
        unasked, self._unasked_frame = self._unasked_frame, False
        late, self._late_frame = self._late_frame, False
        # the late reply of the poll before is no second frame of this one
        replies, self._late_replies = self._late_replies, 0
        # frames streamed at the device's own pace, slower than the polls, come later in each
        # interval until one comes after the next poll, which it leaves without a byte (an
        # answer spoilt on the line brings bytes: the device answered); so does an answer
        # late past the next poll, whose reply then comes with that poll's answer: a poll so
        # left is judged with the interval after it, a stream when that held no late reply
        empty = got == 0 and not heard
        was_empty, self._was_empty = self._was_empty, empty
        self._since_drift += 1
        drifted = self._drift_held and not replies
        if drifted and self._fast_polls and not (self._late_held == 1 and self._empty_before_late):
            # polled faster than FAST_POLLS_S, a late answer followed by a lost one looks so:
            # one late frame alone between polls left without a byte is a stream at two
            # intervals or slower, the rest a stream between one and two once they run
            since, gap = self._since_drift, self._drift_gap
            runs = since <= self._gap_polls and (self._drifts < 2 or abs(since - gap) <= 1)
            self._drifts = self._drifts + 1 if runs else 1
            self._drift_gap, self._since_drift = since, 0
            if self._drifts < DRIFTS_RUNNING:
                drifted = False
                self._late_held = 0
        if self._drift_held and replies:  # late answers, the last past its poll
            self._late_held = 0
        self._drift_held = False
        if not drifted and got == 0 and not heard and self._late_held > 0:
            self._drift_held = True
        else:
            got -= replies
            if got > 1 or unasked or drifted or (late and self._unasked > 0):
                # the intervals since the last with frames sent unasked (none: they follow each
                # other, or the late frames held between them count as sent unasked)
                apart = self._quiet_polls if self._unasked and not self._late_held else 0
                self._unasked += 1 + self._late_held
                self._late_held = self._quiet_polls = 0
                self._unasked_at = now
                if self._unasked >= 2:
                    if not apart:
                        why = (
                            f"{got} frames came between two polls, twice running: it sends unasked"
                            if got > 1
                            else "frames came that answered no poll, in two poll intervals "
                            "running: it sends unasked"
                        )
                    else:  # polled faster than it streams
                        why = (
                            "frames came that answered no poll, in two poll intervals with "
                            f"{apart} between them, no more than its stream leaves between two "
                            "frames: it sends unasked"
                        )
                    # polled faster than FAST_POLLS_S, a healthy unit's late answer between two
                    # lost on the line leaves what such a stream leaves: the line says so
                    lossy = self._fast_polls and got <= 1 and not unasked
                    if lossy:
                        why += (
                            f"; or, polled every {self._interval_s:g} s, faster than "
                            f"{FAST_POLLS_S:g} s, an answer later than "
                            f"{self.answer_within_s:g} s between two lost on the line: poll "
                            f"every {FAST_POLLS_S:g} s or slower if the device answers all along"
                        )
                    if self._dialogue.rerun(now, why) and lossy:
                        if not self._fast_reruns:
                            self._fast_reruns_since = now
                        self._fast_reruns += 1
                    if self._powered_when_streaming and not self._streaming_told:
                        self._streaming_told = True
                        self._port.streams_anew(now)
            else:
                self._quiet_polls += 1
                if self._quiet_polls >= self._gap_polls:
                    self._unasked = 0
                if late and not self._late_held:
                    self._empty_before_late = was_empty
                self._late_held = self._late_held + 1 if late else 0
                # (not when found streaming through its set-up: its re-run is due)
                if (
                    got == 1
                    and now - self._unasked_at >= self._dialogue.rerun_wait
                    and self.streamed_at is None
                ):
                    dialogue = self._dialogue  # answered only its polls for a whole wait
                    dialogue.rerun_wait = dialogue.stale_after_s
                    self._streaming_told = False
                    self.streamed_finds = self._fast_reruns = 0
        if self.streamed_at is not None:  # found streaming through the set-up
            self._dialogue.rerun(
                now,
                "frames came after the last write of the set-up command that makes it "
                "answer only its polls, and no reply to it: it sends unasked",
            )
