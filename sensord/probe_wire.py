"""The wire side of ``sensord modbus read`` (:mod:`sensord.probe`): a request's answer awaited
as the daemon's bus awaits it (an RTU answer begun within the timeout read whole; over Modbus
TCP the answer to the request's transaction id, an earlier request's late answer told apart),
and a device drained after a timeout as the bus drains it, its late answers kept with how
late they came.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import select
import sys
import time

from sensord.formats.modbus import (
    EXCEPTION_BYTES,
    ModbusLink,
    Request,
    Response,
    exception_named,
)
from sensord.formats.modbus_plan import Read
from sensord.formats.modbus_pymodbus import FUNCTION_CODES
from sensord.modbus_state import BUSY_CODES, GATEWAY_CODES
from sensord.modbus_timing import (
    ARRIVAL_SLACK_S,
    LATE_DRAIN_TIMEOUTS,
    LINE_BUSY_LIMIT_S,
    LINE_QUIET_GAP_S,
    char_s,
    silence_s,
)
from sensord.reply_starts import NO_UNITS, ReplyStarts
from sensord.serial_settings import SerialSettings
from sensord.sources.serial_port import SerialSource

__all__ = [
    "PROBE_DRAIN_LIMIT_S",
    "PROBE_TRANSACTION_ID",
    "LateAnswers",
    "OtherUnits",
    "await_response",
    "broadcast_answerers",
    "drain_after_timeout",
    "drain_limit_s",
    "miscount_told",
    "told_by_unit",
]


#: The Modbus TCP transaction id of the probe's one request.
PROBE_TRANSACTION_ID = 1

#: The shortest limit of the probe's wait for a late answer after a timeout, in seconds
#: (:func:`drain_limit_s`): a few polls of another master at a second's interval.
PROBE_DRAIN_LIMIT_S = 3.0


@dataclasses.dataclass
class LateAnswers:
    """The answers to the probe's read that came after its timeout (late answers): how long
    after its request the latest of them came, and the last of them that is not a busy one
    (None: none came). A busy answer (0x05, 0x06) is kept apart, for the caller to take as
    the answer of its request and ask it again (:meth:`busy_answer`)."""

    after_s: float = 0.0
    response: Response | None = None
    #: whether any late answer came, a busy one included
    came: bool = False
    #: the last busy answer that came late and that the caller has not taken
    busy: Response | None = None
    #: when each request of the read went out, by transaction id (over Modbus TCP an answer
    #: to an earlier one names it)
    sent_at: dict[int, float] = dataclasses.field(default_factory=dict)
    #: when the last late answer over Modbus TCP came: a gateway that serves one request at a
    #: time asks the device the next one only then, so that one's answer is as late as the
    #: device from then on, not from its request
    answered_at: float = float("-inf")
    #: the gateway's last 0x0A or 0x0B that came late over Modbus TCP (after the probe's
    #: timeout), with its transaction id (None: none came)
    exception: Response | None = None
    #: the last late answer whose byte count is wrong (:func:`miscount_told`), None: none
    miscounted: Response | None = None

    def took(self, response: Response, after_s: float) -> None:
        """``response`` came ``after_s`` after its request, past the timeout."""
        self.after_s = max(self.after_s, after_s)
        self.came = True
        if response.exception_code in BUSY_CODES:
            self.busy = response
        else:
            self.response = response

    def busy_answer(self) -> Response | None:
        """The busy answer that came late since the last call (None: none)."""
        busy, self.busy = self.busy, None
        return busy


@dataclasses.dataclass
class OtherUnits:
    """The frames of other unit ids (valid CRCs: another master's exchanges on an RTU line, or
    devices that send on their own) that came while the probe waited for the answer to a
    request, before its timeout, and for a late answer after it, counted by unit id: told in
    one line per request (:meth:`summary`), not one line per frame."""

    #: this request's frames before its timeout, by unit id
    before: collections.Counter[int] = dataclasses.field(default_factory=collections.Counter)
    #: this request's frames in the wait for a late answer after its timeout, by unit id
    after: collections.Counter[int] = dataclasses.field(default_factory=collections.Counter)
    #: the frames of every request of the read, by unit id: other devices that the line
    #: carries at the probe's settings
    seen: collections.Counter[int] = dataclasses.field(default_factory=collections.Counter)
    #: a read at unit 0 (``modbus.broadcast_reads``): the sound answers to it of every request
    #: of the read, in time or late, by the unit id they came with (their first is the one
    #: taken); two unit ids are two devices answering reads at the broadcast address
    answered: collections.Counter[int] = dataclasses.field(default_factory=collections.Counter)
    #: when the last answer taken so came (monotonic): the probe waited on after it
    taken_at: float = float("-inf")

    def count(self, unit: int, *, late: bool) -> None:
        """A frame of ``unit`` came, after the timeout (``late``) or before it."""
        (self.after if late else self.before)[unit] += 1
        self.seen[unit] += 1

    def summary(self) -> str | None:
        """The line that tells this request's frames of other unit ids, by unit id, and the
        waits they came in (None: none came); the next request's are counted afresh."""
        both = self.before + self.after
        if not both:
            return None
        waits = [
            wait
            for wait, counted in (("the answer", self.before), ("a late answer", self.after))
            if counted
        ]
        self.before.clear()
        self.after.clear()
        total = sum(both.values())
        return (
            f"skipped {total} frame{'s' if total > 1 else ''} of other unit ids while waiting "
            f"for {' and then for '.join(waits)} (another master's exchanges, or devices that "
            f"send on their own): {told_by_unit(both)}"
        )


def told_by_unit(frames: collections.Counter[int]) -> str:
    """``frames``, counted by unit id, as the probe tells them: ``4 of unit 2, 2 of unit 3``."""
    return ", ".join(f"{n} of unit {unit}" for unit, n in sorted(frames.items()))


def drain_after_timeout(
    source: SerialSource,
    link: ModbusLink,
    args: argparse.Namespace,
    function: int,
    late: LateAnswers,
    *,
    sent_at: float,
    settings: SerialSettings,
    received: bytearray,
    others: OtherUnits,
    slack_s: float = ARRIVAL_SLACK_S,
) -> None:
    """Wait, after the request sent at ``sent_at`` timed out (RTU), as the daemon's bus waits
    before it asks that device again (``Bus._drain``, ``Bus._unasked``): until the unit has
    been quiet for the timeout, from now or, once an answer of its came late (``late``), from
    when one as late can have come (at most :data:`LATE_DRAIN_TIMEOUTS` timeouts after the
    request), each frame of the unit starting that wait again; and until the line has been
    quiet for its silence and the device's gap (``args.gap``) after the timeout, and for its
    silence after the last bytes that came and the rest of the frame they begin (with
    ``slack_s`` for an adapter that hands that rest over late: the port's,
    :func:`sensord.port_slack.port_slack`), unless those bytes have kept it busy for
    :data:`LINE_BUSY_LIMIT_S`. The answer of the unit to the read that comes meanwhile is a
    late one, taken into ``late`` with how long after ``sent_at`` it came; its other frames
    are named on stderr and skipped, and those of other unit ids (another master's
    exchanges) are counted by unit id into ``others``, which the
    caller tells in one line.

    The probe's wait has an end where the bus's has none (frames of the unit that keep
    coming, another master asking it, hold the device as long as they come): it lasts at
    most :func:`drain_limit_s` after the timeout, or as long as the wait the unit's known
    lateness gives before any frame comes, when that is longer; a wait that frames of the
    unit kept going until then is said on stderr to be cut short, and one that other bytes
    kept from the line's silence until then, or past the line-busy limit, is said so too,
    naming the unit ids of the frames among them. The bytes read go to ``received`` too."""
    timeout_s = args.timeout
    silence, char = silence_s(settings), char_s(settings)
    exact = function in (FUNCTION_CODES["holding"], FUNCTION_CODES["input"])
    # the late answer's first bytes: no frame is taken out of its registers while it comes
    awaited = bytes((args.unit, function, 2 * args.count if exact else (args.count + 7) // 8))
    answerers = broadcast_answerers(args)
    start = now = time.monotonic()
    drain_until = max(now, sent_at + min(late.after_s, LATE_DRAIN_TIMEOUTS * timeout_s))
    drain_until += timeout_s
    quiet_until = now + silence + args.gap
    last = max(drain_until, quiet_until, now + drain_limit_s(timeout_s))
    busy_since = heard_at = float("-inf")
    # until when the bytes that came past the line-busy limit would have kept the line
    unheld_until = float("-inf")
    fd = source.fileno()
    own = 0  # the frames of the unit that came
    while (now := time.monotonic()) < (end := min(max(drain_until, quiet_until), last)):
        chunk = _read_by(source, fd, end)
        if not chunk:
            continue
        received += chunk
        now = time.monotonic()
        for response in link.feed(chunk, awaited):
            if answerers and _answers_broadcast(response, answerers, function, args.count, exact):
                # a late answer of the device's own unit id to a read at unit 0
                own += 1
                drain_until = now + timeout_s
                others.answered[response.unit] += 1
                late.took(response, now - sent_at)
                continue
            if response.unit != args.unit:
                others.count(response.unit, late=True)
                continue
            own += 1
            drain_until = now + timeout_s
            code = response.exception_code
            if response.function_code == function and code in GATEWAY_CODES:
                # a gateway's word that the device did not answer: no answer of the device's
                print(
                    f"skipped a late answer to an earlier request: {exception_named(code)}",
                    file=sys.stderr,
                )
            elif response.function_code == function and _answers_read(response, args.count, exact):
                if answerers and not code:
                    others.answered[response.unit] += 1
                late.took(response, now - sent_at)
            else:
                why = f"unit {response.unit}, function {response.function_code}"
                if response.function_code == function:
                    if miscount_told(response, args.count, exact) is not None:
                        late.miscounted = response  # the device's answer, told at the end
                        continue
                    why = f"{len(response.words)} values, not {args.count}"
                print(f"skipped a frame that is not the answer: {why}", file=sys.stderr)
        if now - heard_at > LINE_QUIET_GAP_S:  # a run of bytes begins
            busy_since = now
        heard_at = now
        rest = link.awaited_bytes()
        busy_until = now + silence + rest * char
        if rest:
            # the rest of a frame begun (a late answer in pieces): an adapter hands it over
            # up to its latency timer after the line carried it, as the wait for an answer
            # in time has it (``ReplyStarts``)
            busy_until += slack_s
        if now - busy_since <= LINE_BUSY_LIMIT_S:
            quiet_until = max(quiet_until, busy_until)
        else:
            unheld_until = busy_until
    if drain_until > last:
        came = f"{own} frames of its came in the wait, each" if own > 1 else "a frame of its came"
        print(
            f"stopped waiting for a late answer {last - start:.2f} s after the timeout, the "
            f"probe's limit, before unit {args.unit} had been quiet for the timeout: {came} "
            "starting it again (another master asking it, or a device that sends on its own); "
            "a request sent now may meet a late one",
            file=sys.stderr,
        )
    elif quiet_until > last:
        # bytes that nobody asked for kept the line from its silence until the limit
        _tell_line_busy(last - start, "the probe's limit", others)
    elif unheld_until > end:
        # they kept it so for the line-busy limit, and came on past it
        limit = (
            f"the line-busy limit ({LINE_BUSY_LIMIT_S:g} s of bytes without the line's silence, "
            "past which the daemon's requests go out anyway)"
        )
        _tell_line_busy(end - start, limit, others)


def _tell_line_busy(after_s: float, limit: str, others: OtherUnits) -> None:
    """Say that the wait for a late answer stopped ``after_s`` after the timeout, at
    ``limit``, while bytes nobody asked for still came: the unit ids of the frames among
    them (``others.after``), else that they make no frame."""
    units = sorted(others.after)
    carried = (
        f"frames of unit{'s' if len(units) > 1 else ''} {', '.join(map(str, units))}"
        if units
        else "bytes that make no frame"
    )
    print(
        f"stopped waiting for a late answer {after_s:.2f} s after the timeout, {limit}, while "
        f"the line still carried {carried} (another master's exchanges, or devices that send "
        "on their own): a request sent now may collide with them; probe when the line is quiet",
        file=sys.stderr,
    )


def drain_limit_s(timeout_s: float) -> float:
    """How long after a timeout of ``timeout_s`` the probe waits at most for the device to
    be quiet (:func:`drain_after_timeout`) while frames of its keep coming: the longer of
    :data:`PROBE_DRAIN_LIMIT_S` and two timeouts, at most :data:`LATE_DRAIN_TIMEOUTS`
    timeouts. A device never late is quiet one timeout after its timeout: the limit takes a
    frame of its at the end of that wait and the timeout after it, and at short timeouts a
    few seconds of frames (another master's poll cycle). ``--timeout 60 --retries 5`` waits
    so at most 2 minutes after each of its 6 requests, 12 in all, not the 4 timeouts after
    each (24 minutes) of the bus's longest drain."""
    return min(max(PROBE_DRAIN_LIMIT_S, 2 * timeout_s), LATE_DRAIN_TIMEOUTS * timeout_s)


def _read_by(source: SerialSource, fd: int | None, end: float) -> bytes:
    """What came by ``end`` (monotonic), read once: on a port with a descriptor once it is
    readable, on one without (``rfc2217://``, ``loop://``) with a read timeout of the time
    left, so that a wait ends on time, not up to the port's timeout after it."""
    left = max(0.0, end - time.monotonic())
    if fd is not None:
        select.select([fd], [], [], left)
        return source.read()
    return source.read_within(left)


def broadcast_answerers(args: argparse.Namespace) -> frozenset[int]:
    """The unit ids whose answers to a read at unit 0 (``modbus.broadcast_reads``) are taken
    as the device's, as the daemon's bus takes them (``StrayFrames._answers_broadcast``): a device
    that answers such reads with its own unit id. Any unit id that no other device of
    ``--sensor``'s bus has (``args.bus_units``); none for a read at another unit id."""
    if args.unit != 0:
        return NO_UNITS
    return frozenset(range(1, 256)).difference(args.bus_units)


def _answers_broadcast(
    response: Response, answerers: frozenset[int], function: int, count: int, exact: bool
) -> bool:
    """Whether ``response``, of another unit id, is the answer to a read at unit 0 of
    ``count`` values of ``function``: of one of ``answerers``, with those values or an
    exception (the device refuses the read, as the bus takes it:
    ``StrayFrames._answers_broadcast``)."""
    return (
        response.unit in answerers
        and response.function_code == function
        and _answers_read(response, count, exact)
    )


def _answers_read(response: Response, count: int, exact: bool) -> bool:
    """Whether ``response`` answers a read of ``count`` values: an exception, or as many
    registers (``exact``), or bits padded to a whole byte."""
    n = len(response.words)
    return bool(response.exception_code) or n == count or (not exact and n > count)


def miscount_told(response: Response, count: int, exact: bool) -> str | None:
    """What the RTU answer ``response`` to a read of ``count`` registers (``exact``; else
    coils or discrete inputs) is when its byte count is not the one its length and the read
    have: the device's answer, as long as the read's and its CRC right, whose firmware writes
    the count wrongly (``ModbusLink`` cuts it at the read's length). None for any other
    frame. Its values are not read, and the text says which count it sent, which was
    expected, and what that points to."""
    frame = response.frame
    expected = len(frame) - EXCEPTION_BYTES
    if response.exception_code or expected < 0 or frame[2] == expected:
        return None
    sent = frame[2]
    if sent == count:
        cause = (
            f"it counts {'registers' if exact else 'bits'}, not bytes (the firmware fills the "
            "byte count with the read's count, as yaacov/node-modbus-serial pull request 236 "
            "discusses of a slave)"
        )
    elif (sent ^ expected).bit_count() == 1:
        flipped = "set" if sent > expected else "cleared"
        cause = (
            f"0x{sent:02X} is 0x{expected:02X} with one bit {flipped} "
            "(as the 0x4A for 0x0A of esphome/issues issue 2893): the firmware sets the count "
            "wrongly and computes its CRC over it"
        )
    else:
        cause = "the firmware writes the count wrongly"
    return (
        f"the device's answer, its byte count {sent} where {expected} was expected (its length "
        f"is the read's and its CRC holds): {cause}; its values are not read (a firmware "
        "update, or a read of another register count the device counts right, may help)"
    )


def await_response(
    source: SerialSource,
    link: ModbusLink,
    args: argparse.Namespace,
    function: int,
    received: bytearray | None = None,
    *,
    quiet: bool = False,
    transaction_id: int = PROBE_TRANSACTION_ID,
    late: LateAnswers | None = None,
    settings: SerialSettings | None = None,
    others: OtherUnits | None = None,
    timeout_s: float | None = None,
    slack_s: float = ARRIVAL_SLACK_S,
) -> tuple[Response | None, Response | None]:
    """The first response from ``args.unit`` to ``function`` with ``args.count`` values (or
    an exception) within ``timeout_s`` (None: ``args.timeout``), and the last one of that
    unit and function that had another number of values (None: none came). Every other frame
    on the line (a stale answer, another function's) is named on stderr and skipped, but on
    RTU those of other unit ids (another master's exchanges on a busy bus), which are counted
    by unit id into ``others`` (when given) for the caller to tell in one line. The bytes
    read go to ``received`` too, when given. ``quiet``: nothing is printed.

    Over Modbus TCP the answer is the one to ``transaction_id``; one to an earlier request
    of the probe, which timed out, comes from a gateway that serves one request at a time,
    and the one in flight waits behind it, its timeout starting again: the gateway's 0x0A or
    0x0B tells of that request only (``late.exception``: no answer of the device's), and the
    device's answer, its values or its exception (0x02, a busy one), is a late answer, as on
    RTU (:func:`drain_after_timeout`), taken into ``late`` with how long after that request,
    or after the late answer before it (the gateway asked the device only then), it came
    (``late.sent_at``, ``late.answered_at``; without ``late``, values are taken for the
    answer and an exception is skipped).

    On RTU, with the line's ``settings``, an answer that begins within the timeout is read
    whole, as the daemon's bus reads it (``Bus._arriving``): the wait covers the rest of its
    frame at the line's character time, the silence and ``slack_s``, the time the port's
    adapter may hold that rest (:func:`sensord.port_slack.port_slack`; 125 registers take
    266 ms at 9600 baud),
    so that it is not cut off by the timeout and then told as a late answer. Only bytes that
    can begin it do so (:class:`~sensord.reply_starts.ReplyStarts`): those after the line's
    silence or right after a sound frame in the same read (``ModbusLink.after_frame``: an
    adapter hands two frames a silence apart over in one piece), not inside another frame. A
    refusal with no code byte (the unit id and the function code with 0x80, then a right CRC:
    ``ModbusLink.holds_codeless_exception``) is
    the answer once the line has been silent after it, as the bus takes it (``Bus._arriving``).

    A read at unit 0 (``modbus.broadcast_reads``) goes to every device of the line, and each
    that answers such reads answers it: with ``others`` given, the first sound answer (of unit
    0, or of a unit id in :func:`broadcast_answerers`) is taken, and the rest of the timeout
    is waited out all the same, every sound answer counted by its unit id into
    ``others.answered``, so that a second device answering is told (two unit ids there), not
    left unread on the line."""
    if timeout_s is None:
        timeout_s = args.timeout
    deadline = time.monotonic() + timeout_s
    fd = source.fileno()
    tcp = link.transport == "tcp"
    exact = function in (FUNCTION_CODES["holding"], FUNCTION_CODES["input"])
    # the answer's first bytes: no frame is taken out of its registers while it comes
    count = 2 * args.count if exact else (args.count + 7) // 8
    awaited = b"" if tcp else bytes((args.unit, function, count))
    # a read at unit 0 that a device answers with its own unit id (``broadcast_answerers``)
    answerers = NO_UNITS if tcp else broadcast_answerers(args)
    starts: ReplyStarts | None = None
    if settings is not None and not tcp:
        table = next(t for t, code in FUNCTION_CODES.items() if code == function)
        expected = Request(args.unit, Read(table, 0, args.count, ()), "rtu", {})
        starts = ReplyStarts(
            expected,
            char_s(settings),
            silence_s(settings),
            time.monotonic(),
            answerers,
            slack_s=slack_s,
        )
    arriving = float("-inf")  # until when the rest of an answer begun may come
    # a refusal with no code byte (``ModbusLink.holds_codeless_exception``), taken once the
    # line has been silent after it, as the daemon's bus takes it
    refused = b"" if tcp else bytes((args.unit, function | 0x80))
    codeless = False
    miscounted = None
    # a read at unit 0: its first sound answer, taken once the timeout has been waited out
    taken: Response | None = None
    while time.monotonic() < (end := arriving if codeless else max(deadline, arriving)):
        chunk = _read_by(source, fd, end)
        if received is not None:
            received += chunk
        responses = link.feed(chunk, awaited)
        if starts is not None and chunk:
            arriving = starts.heard(chunk, time.monotonic(), link.pending_bytes, link.after_frame)
            codeless = link.holds_codeless_exception(refused)
        for response in responses:
            # over TCP the transaction id names the exchange: some devices answer with unit
            # 0 or 255 whatever was asked
            earlier = tcp and PROBE_TRANSACTION_ID <= response.transaction_id < transaction_id
            code = response.exception_code
            if (
                earlier
                and code
                and response.function_code == function
                and (late is None or code in GATEWAY_CODES)
            ):
                deadline = time.monotonic() + timeout_s
                if late is not None:
                    late.answered_at = time.monotonic()
                    late.exception = response
                if not quiet:
                    print(
                        "skipped a late answer to an earlier request (transaction "
                        f"{response.transaction_id}): {exception_named(code)}",
                        file=sys.stderr,
                    )
                continue
            if (
                earlier
                and late is not None
                and response.function_code == function
                and _answers_read(response, args.count, exact)
            ):
                now = time.monotonic()
                asked_at = max(late.sent_at[response.transaction_id], late.answered_at)
                late.took(response, now - asked_at)
                late.answered_at = now
                deadline = now + timeout_s
                continue
            if not tcp and response.unit != args.unit:
                if answerers and _answers_broadcast(
                    response, answerers, function, args.count, exact
                ):
                    if others is None:
                        return response, None
                    others.answered[response.unit] += 1
                    if taken is None:
                        taken, others.taken_at = response, time.monotonic()
                    continue
                if others is not None:
                    others.count(response.unit, late=False)
                continue
            ours = response.transaction_id == transaction_id or earlier if tcp else True
            if tcp and ours and response.unit != args.unit and not quiet:
                print(
                    f"the answer comes from unit {response.unit}, not {args.unit} (matched by "
                    "its transaction id)",
                    file=sys.stderr,
                )
            if ours and (tcp or response.unit == args.unit) and response.function_code == function:
                # registers come whole, bits padded to a whole byte
                if _answers_read(response, args.count, exact):
                    if not (answerers and others is not None and not code):
                        return response, None
                    others.answered[response.unit] += 1  # a device's answer at unit 0
                    if taken is None:
                        taken, others.taken_at = response, time.monotonic()
                    continue
                miscounted = response
                if not tcp and miscount_told(response, args.count, exact) is not None:
                    return None, response  # the device's answer, its count wrong (told after)
                why = f"{len(response.words)} values, not {args.count}"
            else:
                why = f"unit {response.unit}, function {response.function_code}"
                if tcp:
                    why += f", transaction {response.transaction_id}"
            if not quiet:
                print(f"skipped a frame that is not the answer: {why}", file=sys.stderr)
    if taken is not None:
        return taken, None
    if refused and (codeless_refusal := link.codeless_exception(refused)) is not None:
        return codeless_refusal, None
    return None, miscounted
