"""The frames a sensor's framer and parser reject, and the journal lines that tell of them.

The sensor (:mod:`sensord.sensor`) cuts frames, parses them and runs its state machine. How
many of its frames were rejected and why, which of that the log has told, and whether every
frame is rejected, is kept here, one :class:`FrameRejects` per sensor, which the sensor calls
once per event:

* a frame or field the parser rejects (:meth:`FrameRejects.rejected`) is counted by reason
  (``parse_errors``, the sensor's ``sensord_parse_errors_total``) and logged as a warning
  (``frame rejected``, ``field rejected``: with the frame), each reason at most once a minute
  (the sensor's rate limit), until :data:`REJECT_WARNINGS` were; from then on the rejections
  of the reasons logged are summed up once per :data:`REJECTS_SUMMARY_S` at info level
  (:meth:`FrameRejects.sum_up`, at the sensor's housekeeping tick: ``frames rejected``, by
  reason, with the frames read meanwhile), and a period that brings
  :data:`REJECTS_RISE_FACTOR` times as many as the one before, and at least
  :data:`REJECTS_RISE_MIN`, is a warning as soon as it does (``frames rejected more often``);
  a reason not logged before is still a warning;
* a Modbus float register that reads NaN from its first read on (a quantity the device does
  not measure) is counted and logged once (:meth:`FrameRejects.not_measured`, ``values not
  measured``), its later reads not at all;
* a fault the device reports by a status (a Modbus value's ``status_register``) is a warning
  the first time its text comes (``device reports a fault``), whatever the limit and the
  summaries hold back (:data:`FAULTS_REMEMBERED`); its repeats are logged as other values
  not available are;
* a sensor that is up, whose frames come and every one of which is rejected whole for one of
  :data:`FRAME_REJECT_CAUSES` for ``stale_after``, so that no reading comes
  (:meth:`FrameRejects.check`, at the sensor's tick), is pointed at the likely cause in
  :attr:`FrameRejects.hint` (``/status`` ``hint``) and logged once (``no reading: every frame
  rejected``), until a frame is not rejected or the sensor's state changes
  (:meth:`FrameRejects.restart`); the lines ``parse.ignore`` names count neither way, and
  when they are every frame, that is the hint (``no reading: every frame ignored by
  parse.ignore``; among the last of them, an SDI-12 sensor's reply of no values to its
  measurement command, ``00000``, is named as such, :func:`sdi12_no_values`); so do frames
  of keys no channel reads (``kv``) and NMEA sentences of a type no channel reads, and when
  none but those come, the hint quotes the last (``no
  reading: no frame holds a key a channel reads``, ``no reading: no sentence of a type a
  channel reads``).

A frame that is not rejected costs nothing here: the check reads the framer's count of the
frames and the count of those rejected whole, which only a rejected frame moves.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from structlog.typing import FilteringBoundLogger

from sensord.errors import NotMeasuredError, OtherUnitError, ParseError, StatusFaultError
from sensord.formats.base import DecoderCounts, Framer
from sensord.log import RateLimiter, RepeatedError, escaped, shown

__all__ = [
    "FAULTS_REMEMBERED",
    "FRAME_REJECT_CAUSES",
    "REJECTS_RISE_FACTOR",
    "REJECTS_RISE_MIN",
    "REJECTS_SUMMARY_S",
    "REJECT_WARNINGS",
    "STATUS_REJECT_CAUSE",
    "FrameRejects",
    "sdi12_no_values",
]

#: Reasons for which the parser rejects a whole frame, and what each usually means: the cause
#: a sensor that is up but whose every frame is rejected is pointed at (``FrameRejects.check``).
FRAME_REJECT_CAUSES = {
    "encoding": "the serial settings (baudrate, bytesize, parity, stopbits) against the "
    "device's, or line noise (RS-485: A and B swapped, termination)",
    "checksum": "the serial settings (baudrate, parity) against the device's, line noise, or a "
    "device whose checksum is another variant than the format's or parse.checksum's (the "
    "'frame rejected' lines name a kind that holds)",
    "syntax": "the sensor's format and fields against what the device sends (the 'frame "
    "rejected' lines show the frames)",
    "truncated": "a cable or adapter that drops bytes, or the serial settings",
    "no_checksum": "the device's output against parse.checksum: its lines come without the "
    "checksum that key names (set the device to send it: an SDI-12 sensor asked with aMC!, "
    "aCC! or aRC0!, a Vaisala WXT polled with a lowercase command, an R. M. Young "
    "anemometer in its ASCII or NMEA output; or leave parse.checksum out, or set it to the "
    "kind the 'frame rejected' lines name)",
}

#: For a frame spec with a status byte (``frame.status_offset``), a frame the device marks
#: invalid there is rejected whole too, and this is what it means. Elsewhere a value marked
#: not measured (``parse.invalid``, a Modbus register's ``not_available``: an inverter asleep
#: at night) starts the count afresh, as a reading does.
STATUS_REJECT_CAUSE = {
    "invalid": "the device, which marks its frames invalid by their status byte (the 'frame "
    "rejected' lines name the status): one not started, warming up or faulty, or one "
    "refusing what it was asked (a JBD battery monitor's status 0x80)",
}

#: A frame none of whose values is read because each is followed by another unit than its
#: field's (``OtherUnitError``) is rejected whole too, and this is what it means.
OTHER_UNIT_CAUSE = (
    "the units the device sends against the channels' units (and parse.units of a text "
    "format; the 'frame rejected' lines name them): a device switched to other units, or "
    "units left out"
)

#: Rejected frames and fields (``frame rejected``, ``field rejected``) are logged as warnings,
#: each reason at most once a minute, until this many were; from then on (a line that brings a
#: few bad frames an hour for months) they are summed up once every
#: :data:`REJECTS_SUMMARY_S` at info level (``frames rejected``, by reason), a reason not
#: seen before is still a warning, and so is a period that brings
#: :data:`REJECTS_RISE_FACTOR` times as many as the one before it, and at least
#: :data:`REJECTS_RISE_MIN` (``frames rejected more often``). Every frame rejected for
#: ``stale_after`` has its own warning (``no reading: every frame rejected``).
REJECT_WARNINGS = 3
REJECTS_SUMMARY_S = 3600.0

#: A fault the device reports by a status (``StatusFaultError``: a Senseair S8's meter
#: status with an error bit set) is a warning the first time its text is seen (``device
#: reports a fault``), whatever the rate limit and the summaries hold back, so that every
#: distinct fault of a device that goes through several reaches the journal; its repeats go
#: the way of other values not available. The texts seen are kept up to this many, the
#: oldest forgotten first.
FAULTS_REMEMBERED = 64
REJECTS_RISE_FACTOR = 10
REJECTS_RISE_MIN = 30


@dataclass(slots=True)
class _RejectPeriod:
    """One period of rejected frames summed up: ``parse_errors`` and the frames when it
    began, when, when it ends, the rejections of the one before, and whether its sharp rise
    (``rise_at`` rejections) was told."""

    errors: dict[str, int]
    #: the sum of ``errors``
    total: int
    frames: int
    since: float
    ends: float
    #: the rejections of the period before (None: this is the first)
    before: int | None
    rose: bool = False

    @property
    def rise_at(self) -> float:
        if self.before is None:  # nothing to compare with
            return math.inf
        return max(REJECTS_RISE_FACTOR * self.before, REJECTS_RISE_MIN)


#: An SDI-12 sensor's reply to a measurement command that announces no values: its address,
#: the seconds until the values are ready and their number, 0 (``atttn``, ``00000``; to a
#: concurrent one ``atttnn``, ``000000``; SDI-12 1.4, sections 4.4.5 and 4.4.8).
_SDI12_NO_VALUES = re.compile(rb"[\r\n]*([0-9A-Za-z])([0-9]{3})(?:0|00)[\r\n]*")

#: An SDI-12 command answered with ``atttn`` (``atttnn``): a measurement (``aM!``, ``aM1!`` to
#: ``aM9!``, with CRC ``aMC!``), a concurrent measurement (``aC!``, ``aCC!``, ``aC1!``...) or
#: a verification (``aV!``), with its address.
_SDI12_MEASURE = re.compile(rb"([0-9A-Za-z])((?:M|C)C?[1-9]?|V)!")


def sdi12_no_values(line: bytes, requests: Sequence[bytes]) -> str | None:
    """Why no reading comes, when ``line`` is an SDI-12 sensor's reply of no values
    (``00000``) to a measurement command among ``requests`` (the sensor's poll) addressed to
    it: the sensor, the command and the reply named, and the commands to ask instead; None
    for any other line."""
    reply = _SDI12_NO_VALUES.fullmatch(line)
    if reply is None:
        return None
    address = reply[1]
    asked = [
        request.decode("ascii")
        for request in requests
        if (command := _SDI12_MEASURE.fullmatch(request)) is not None and command[1] == address
    ]
    if not asked:
        return None
    a = address.decode("ascii")
    said = line.strip(b"\r\n").decode("ascii")
    return (
        f"the SDI-12 sensor at address {a} answers {' and '.join(asked)} with '{said}': "
        f"the sensor reports no values for that measurement (0 values, ready in "
        f"{int(reply[2])} s), so the {a}D0! after it gets the address alone, which "
        f"parse.ignore names as a service request. The sensor does not measure what that "
        f"command asks: poll with the command its manual gives for its values, another "
        f"measurement ({a}M1! to {a}M9!), a concurrent one ({a}C!, its reply '^{a}[0-9]{{5}}$' "
        f"in parse.ignore) or a continuous one ({a}R0!, answered with its values at once, no "
        f"{a}D0!)"
    )


class FrameRejects:
    """The rejected frames of one sensor, and the lines that tell of them, on its log
    (``log``). ``errors`` is the sensor's rate limit of its lines, ``parse_errors`` its count
    of rejections by reason (counted here, exported by the collector), ``framer`` its framer
    (whose ``frames`` are the frames read), ``counts`` what its decoder counts (the frames
    ``parse.ignore`` names among them), ``port`` and ``stale_after_s`` its own."""

    __slots__ = (
        "_base",
        "_binary",
        "_causes",
        "_clock",
        "_counts",
        "_errors",
        "_faults_seen",
        "_framer",
        "_hint_causes",
        "_log",
        "_mark",
        "_parse_errors",
        "_port",
        "_reasons",
        "_requests",
        "_sentences",
        "_stale_after_s",
        "_status_byte",
        "_told",
        "_told_event",
        "_warnings",
        "_whole",
        "hint",
        "marked_invalid",
        "period",
    )

    def __init__(
        self,
        *,
        log: FilteringBoundLogger,
        errors: RateLimiter,
        clock: Callable[[], float],
        framer: Framer,
        counts: DecoderCounts,
        parse_errors: dict[str, int],
        port: str,
        stale_after_s: float,
        status_byte: bool = False,
        binary: bool = False,
        sentences: bool = False,
        requests: Callable[[], Sequence[bytes]] = tuple,
    ) -> None:
        self._log = log
        #: the requests the sensor writes, as its config has them now: the hint of lines all
        #: ignored tells a reply to one of them (:func:`sdi12_no_values`)
        self._requests = requests
        #: the frames of no channel (``counts.unread``) are NMEA sentences of a type no
        #: channel reads, not pairs of keys no channel reads
        self._sentences = sentences
        #: a binary protocol's frames are logged in hex
        self._binary = binary
        #: the reasons of whole rejections and their likely causes: with ``status_byte`` (a
        #: frame spec's status byte) ``invalid`` too
        self._causes = (
            FRAME_REJECT_CAUSES | STATUS_REJECT_CAUSE if status_byte else FRAME_REJECT_CAUSES
        )
        #: what a run of frames rejected whole is pointed at, by reason: ``invalid`` without a
        #: status byte is a run of frames whose every value had another unit
        self._hint_causes = (
            self._causes if status_byte else self._causes | {"invalid": OTHER_UNIT_CAUSE}
        )
        self._errors = errors
        self._clock = clock
        self._framer = framer
        self._counts = counts
        self._parse_errors = parse_errors
        self._port = port
        self._stale_after_s = stale_after_s
        #: while up: why no reading comes although frames do (every frame rejected whole, or
        #: ignored by ``parse.ignore``)
        self.hint: str | None = None
        #: with ``hint``: True when the device marks every frame invalid by its status byte
        #: (an SPS30 that restarted idle answers "not measuring"): its set-up is due again
        self.marked_invalid = False
        self._status_byte = status_byte
        #: frames the parser rejected whole for one of :data:`FRAME_REJECT_CAUSES`, none of
        #: their fields kept (counted on the error path only)
        self._whole = 0
        #: the frames cut, those rejected whole, those ``parse.ignore`` named and those of keys
        #: no channel reads when the count last started afresh, and when
        self._mark: tuple[int, int, int, int, float] = (0, 0, 0, 0, clock())
        #: ``parse_errors`` as they were before the first frame of a run rejected whole (as
        #: its first tick found them, for a run of frames ignored or of keys no channel reads)
        self._base: dict[str, int] | None = None
        #: the "no reading" warnings: the first of each kind, then at intervals that double
        #: to an hour (a device whose garbage now and then parses, or that sends garbage for
        #: a while every minute, would have one for every run, thousands a day)
        self._told = RepeatedError(clock=clock)
        #: the "no reading" warning logged for the run under way, whose end is logged too
        self._told_event: str | None = None
        #: the ``frame rejected`` and ``field rejected`` warnings logged, their reasons, and
        #: once there were REJECT_WARNINGS, the period whose rejections are summed up next
        #: (the sensor's tick calls ``sum_up`` while there is one)
        self._warnings = 0
        self._reasons: set[str] = set()
        self.period: _RejectPeriod | None = None
        #: the texts of the faults the device reported, oldest first (see FAULTS_REMEMBERED)
        self._faults_seen: dict[str, None] = {}

    @property
    def damaged(self) -> int:
        """Frames rejected as damaged so far: those the parser rejected whole for a cause of
        damage, and the binary framer's rejected candidates and overlong frames (a port's
        trouble, for ``sensord.shared_port``). A sum over a few reasons: read at ticks."""
        framer = self._framer
        return self._whole + sum(framer.rejected.values()) + framer.overlong

    def retime(self, stale_after_s: float) -> None:
        """The sensor's ``stale_after`` changed (a reload that kept its port open)."""
        self._stale_after_s = stale_after_s

    def rejected(self, exc: ParseError, frame: bytes) -> None:
        """The parser rejected ``frame`` (``exc``), whole or some of its fields: counted by
        reason, and logged unless its reason is summed up already or its line is held back
        by the rate limit (see :data:`REJECT_WARNINGS`)."""
        if (
            not exc.kept
            and not isinstance(exc, NotMeasuredError)
            and (exc.reason in self._causes or type(exc) is OtherUnitError)
        ):
            if self._whole == self._mark[1]:  # the first since the last reading: the hint's
                self._base = dict(self._parse_errors)  # counts are those from here on
            self._whole += 1
        self._parse_errors[exc.reason] += 1
        if type(exc) is StatusFaultError and exc.fault not in self._faults_seen:
            self._new_fault(exc, frame)
            return
        # one field rejected and the frame's others read, or the whole frame rejected
        fields: dict[str, Any] = {"fields_kept": len(exc.kept)} if exc.kept else {}
        measured = not isinstance(exc, NotMeasuredError)
        self._told_of(exc.reason, exc.detail, frame, measured=measured, **fields)

    def not_measured(self, exc: ParseError, frame: bytes, channels: list[str]) -> None:
        """A read left ``channels`` out (``exc``) whose float registers read NaN from the
        first read on, a quantity the device does not measure: counted once, as the first
        such read, and logged once at info level (``values not measured``); their reads after
        it count nothing (``sensord.sensor``)."""
        self._parse_errors[exc.reason] += 1
        self._log.info(
            "values not measured",
            channels=channels,
            reason=exc.reason,
            detail=exc.detail,
            frame=shown(frame[:80], binary=self._binary),
            hint="their registers read NaN from the first read: the device does not measure "
            "them (a single-phase meter's phases 2 and 3, a value its model does not "
            "implement); counted once, not at every read, until a value came: a NaN after "
            "values is counted at every read",
        )

    def framer_rejected(
        self, reason: str, last: Callable[[], tuple[str, bytes]], count: int = 1
    ) -> None:
        """The framer rejected ``count`` candidates of ``reason`` (binary frames whose
        checksum, end byte or length field does not hold), which it counted itself: told of
        as the parser's rejections are, one by one, with the last (``last()``: why, and its
        bytes), which is not even asked for once the reason is summed up."""
        if self.period is not None and reason in self._reasons:
            return  # summed up by ``sum_up`` (housekeeping): nothing to tell now
        detail, frame = last()
        self._told_of(reason, detail, frame, measured=True)
        if count > 1 and not (self.period is not None and reason in self._reasons):
            # the line just told (or held back) holds back the others of this moment: the
            # rate limit's next line reports them
            self._errors.hold("parse:" + reason, count - 1)

    def _errors_now(self) -> dict[str, int]:
        """The rejections so far by reason, the framer's with the parser's (as the metric
        counts them)."""
        errors = dict(self._parse_errors)
        framer = self._framer
        for reason, n in framer.rejected.items():
            errors[reason] = errors.get(reason, 0) + n
        errors["overlong"] = errors.get("overlong", 0) + framer.overlong
        return errors

    def _told_of(
        self, reason: str, detail: str, frame: bytes, *, measured: bool, **fields: Any
    ) -> None:
        """A rejection of ``reason``, counted: logged unless its reason is summed up already
        or its line is held back by the rate limit (see :data:`REJECT_WARNINGS`)."""
        if self.period is not None and reason in self._reasons:
            return  # summed up by ``sum_up`` (housekeeping)
        held = self._errors.check("parse:" + reason)
        if held is not None:
            self._reasons.add(reason)
            self._warnings += 1
            period = self.period
            if period is not None:
                # a reason first logged while they are summed up: this line tells of its
                # rejections so far, the summary of those after it
                told = self._errors_now().get(reason, 0) - period.errors.get(reason, 0)
                period.errors[reason] = period.errors.get(reason, 0) + told
                period.total += told
            elif self._warnings >= REJECT_WARNINGS:
                period = self.period = self._period_from(self._clock(), None)
                for logged in self._reasons:
                    # those the rate limit held back since the reason's last line: no line
                    # of it comes now, so the first summary tells of them
                    held_back = self._errors.take("parse:" + logged)
                    period.errors[logged] -= held_back
                    period.total -= held_back
                fields["next"] = (
                    "further rejections of these reasons are counted "
                    "(sensord_parse_errors_total) and summed up once an hour at info level "
                    "(frames rejected); a warning again when they come ten times as often"
                )
            # a value the device holds for "not available" (an inverter asleep at night) is
            # its own news, not damage
            (self._log.warning if measured else self._log.info)(
                ("field rejected" if "fields_kept" in fields else "frame rejected")
                if measured
                else "values not available",
                reason=reason,
                detail=detail,
                frame=shown(frame[:80], binary=self._binary),
                suppressed=held,
                **fields,
            )

    def _new_fault(self, exc: StatusFaultError, frame: bytes) -> None:
        """The device reports a fault whose text was not seen before: a warning now. The line
        counts as one of its reason's for the rate limit and reports what that held back."""
        seen = self._faults_seen
        if len(seen) >= FAULTS_REMEMBERED:
            del seen[next(iter(seen))]
        seen[exc.fault] = None
        fields: dict[str, Any] = {"fields_kept": len(exc.kept)} if exc.kept else {}
        held = self._errors.release("parse:" + exc.reason)
        if held:
            fields["suppressed"] = held
        self._log.warning(
            "device reports a fault",
            fault=exc.fault,
            reason=exc.reason,
            detail=exc.detail,
            frame=shown(frame[:80], binary=self._binary),
            **fields,
        )

    def sum_up(self, now: float) -> None:
        """Housekeeping once rejections are summed up (``period`` is not None): a period
        that brings :data:`REJECTS_RISE_FACTOR` times as many as the one before is a warning
        as soon as it does; at its end the period's rejections by reason are logged (none: no
        line), and the next period begins."""
        period = self.period
        if period is None:
            return
        rejected = sum(self._errors_now().values()) - period.total
        if rejected >= period.rise_at and not period.rose:
            period.rose = True
            self._log.warning(
                "frames rejected more often",
                rejected=self._rejected_in(period),
                frames=self._framer.frames - period.frames,
                for_s=round(now - period.since),
                rejected_before=period.before,
                hint=(
                    f"{REJECTS_RISE_FACTOR} times as many rejected frames as in the hour "
                    "before: line noise that grew (a cable, a connector, a motor or "
                    "switching supply near the line), or the device's serial settings changed"
                ),
            )
        if now < period.ends:
            return
        if rejected:
            self._log.info(
                "frames rejected",
                rejected=self._rejected_in(period),
                frames=self._framer.frames - period.frames,
                for_s=round(now - period.since),
            )
        self.period = self._period_from(now, rejected)

    def _period_from(self, now: float, before: int | None) -> _RejectPeriod:
        """A period of rejections summed up that begins at ``now`` (``before``: the
        rejections of the one before it, None for the first)."""
        errors = self._errors_now()
        return _RejectPeriod(
            errors, sum(errors.values()), self._framer.frames, now, now + REJECTS_SUMMARY_S, before
        )

    def _rejected_in(self, period: _RejectPeriod) -> dict[str, int]:
        """The rejections since ``period`` began, by reason (those with any)."""
        base = period.errors
        return {
            reason: n - base.get(reason, 0)
            for reason, n in self._errors_now().items()
            if n != base.get(reason, 0)
        }

    def restart(self, now: float) -> None:
        """The sensor's state changed at ``now``: no hint, and the count of frames all
        rejected starts afresh."""
        self.hint = None
        self.marked_invalid = False
        counts = self._counts
        self._mark = (self._framer.frames, self._whole, counts.ignored, counts.unread, now)
        self._base = None
        self._told_event = None  # the state's line tells what comes next

    def check(self, now: float) -> None:
        """Up, frames coming, and for ``stale_after`` every one of them rejected whole by the
        parser, ignored by ``parse.ignore`` or of keys no channel reads (``kv``), so no
        reading comes: a device read at the wrong line speed or parity whose garbage happens
        to hold the terminator, which keeps the sensor up, an ``ignore`` that names every line
        the device sends, or channels whose fields are none of the device's keys (or a device
        that sends only its error messages). Points at the
        likely cause in ``hint`` (``/status`` ``hint``, its counts those of the whole run so
        far) and logs it once, until a frame is neither (the next runs' warnings come at
        intervals that double to an hour). Read at
        each tick from counters the frames keep anyway: a frame that gives a reading or is
        otherwise ignored (a warm-up, an NMEA sentence without a fix, a value
        marked not measured but by a frame's status byte, a frame rejected with some of its
        fields kept) starts the count
        afresh; a line ``parse.ignore`` names (a block's checksum line) neither starts it
        afresh nor is a rejection. A run whose warning was logged ends with an info line,
        ``readings again``. A healthy sensor's tick costs three counters and two
        comparisons."""
        counts = self._counts
        frames, rejected, ignored, unread = (
            self._framer.frames,
            self._whole,
            counts.ignored,
            counts.unread,
        )
        mark_frames, mark_rejected, mark_ignored, mark_unread, since = self._mark
        if frames - mark_frames != (
            rejected - mark_rejected + ignored - mark_ignored + unread - mark_unread
        ):
            if self._told_event is not None:
                self._log.info("readings again", after=self._told_event, for_s=round(now - since))
                self._told_event = None
            self._mark = (frames, rejected, ignored, unread, now)
            self._base = None
            self.hint = None
            self.marked_invalid = False
            return
        if frames == mark_frames:
            return
        errors = self._parse_errors
        if self._base is None:  # no frame of the run was rejected yet (see ``rejected``)
            self._base = dict(errors)
        if now - since <= self._stale_after_s:
            return
        seconds = round(now - since, 1)
        if rejected == mark_rejected and unread != mark_unread:  # no key a channel reads
            named = (
                f", and {ignored - mark_ignored} that parse.ignore names"
                if ignored != mark_ignored
                else ""
            )
            last = escaped(counts.unread_frame[:60])
            if self._sentences:
                self._tell(
                    "unread",
                    "no reading: no sentence of a type a channel reads",
                    f"sentences come, but none of a type a channel reads ({unread - mark_unread} "
                    f"in {seconds} s; the last: '{last}'), so no reading: check that the port "
                    "carries the sentences the channels' fields name (not the output of an AIS "
                    "receiver or another instrument), that the instrument sending them is on, "
                    "and that they come more often than stale_after_s (sensord capture shows "
                    "the lines)",
                    unread=unread - mark_unread,
                    last=last,
                )
                return
            self._tell(
                "unread",
                "no reading: no frame holds a key a channel reads",
                f"frames come, but none holds a key a channel reads ({unread - mark_unread} in "
                f"{seconds} s{named}; the last: '{last}'), so no reading: check the channels' "
                "field against the keys the device sends, and the device itself when it sends "
                "only messages (sensord capture shows its lines)",
                unread=unread - mark_unread,
                last=last,
            )
            return
        if rejected == mark_rejected:  # every frame ignored by parse.ignore
            requests = self._requests()
            cause = next(
                filter(None, (sdi12_no_values(line, requests) for line in counts.ignored_lines)),
                "check parse.ignore against the lines the device sends (sensord capture shows "
                "them)",
            )
            self._tell(
                "ignored",
                "no reading: every frame ignored by parse.ignore",
                f"frames come, but parse.ignore names every one ({ignored - mark_ignored} in "
                f"{seconds} s), so no reading: {cause}",
                ignored=ignored - mark_ignored,
            )
            return
        base = self._base
        causes = self._hint_causes
        by_reason = {reason: errors[reason] - base[reason] for reason in causes}
        shown = {reason: n for reason, n in by_reason.items() if n}
        if not shown:  # every frame of the run came before its first tick
            shown = {reason: errors[reason] for reason in causes if errors[reason]}
        most = max(shown, key=shown.__getitem__)
        self.marked_invalid = self._status_byte and set(shown) == {"invalid"}
        listed = ", ".join(f"{reason} {n}" for reason, n in shown.items())
        others = [f"the {ignored - mark_ignored} that parse.ignore names"] * (
            ignored != mark_ignored
        ) + [
            f"the {unread - mark_unread} of "
            + ("sentence types" if self._sentences else "keys")
            + " no channel reads"
        ] * (unread != mark_unread)
        named = f" but {' and '.join(others)}" if others else ""
        self._tell(
            "rejected",
            "no reading: every frame rejected",
            f"frames come, but every one is rejected ({listed} in {seconds} s){named}, "
            f"so no reading: check {causes[most]}",
            rejected=shown,
        )

    def _tell(self, kind: str, event: str, hint: str, **fields: Any) -> None:
        """``hint`` is why no reading comes; ``event`` logs it, the first of its ``kind`` in
        a while (``_told``) with ``fields``, once a run: the run's later ticks bring the hint's
        counts up to date, unlogged."""
        told = self.hint is not None
        self.hint = hint
        if told:
            return
        held = self._told.check(kind)
        if held is not None:
            self._told_event = event
            self._log.warning(
                event,
                **fields,
                port=self._port,
                hint=hint,
                **({"suppressed": held} if held else {}),
            )
