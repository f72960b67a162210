"""The frames on a Modbus bus's line or connection (:mod:`sensord.bus`) that are not the
answer to the exchange in flight, and what each tells: :class:`StrayFrames`. A frame is
matched to the exchange in flight by its unit id and function code, and over Modbus TCP by its
transaction id (with the firmware that answers with transaction id 0 or another unit id; on RTU
a device read at unit 0 may answer with its own unit id): ``StrayFrames.answers``. One that is
not the answer is a device's answer after its timeout (``late``: counted ``late``, its drain
started again, logged with the hint to raise its timeout), a frame of a device's unit id that
no request of its awaits (``unasked``: another master, or two devices of one unit id), a
repeat of a Modbus TCP reply taken already, a reply with a transaction id no request was sent
with (``foreign_between``), a second device's answer to a read at unit 0
(``second_answer``), or a frame of another unit id or function code, counted for the device
in flight and kept for its down reason."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from structlog.typing import FilteringBoundLogger

from sensord.bus_device import _Device, _Exchange
from sensord.bus_hints import (
    FOREIGN_TRANSACTION_HINT,
    GATEWAY_NO_ANSWER,
    REPEATED_REPLY_HINT,
    SECOND_ANSWER_HINT,
    TABLE_OF_FUNCTION,
    UNASKED_FRAME_HINT,
    late_hint,
)
from sensord.bus_left import TRANSACTIONS_KEPT, LeftExchanges
from sensord.bus_reads import ACKNOWLEDGE_CODE, DOWN_AFTER_TIMEOUTS
from sensord.formats.modbus import EXCEPTION_NAMES, Request, Response
from sensord.formats.modbus_keys import WRITE_FUNCTIONS
from sensord.log import RateLimiter
from sensord.modbus_timing import LATE_DRAIN_TIMEOUTS

__all__ = ["StrayBus", "StrayFrames"]

#: The function codes of set-up writes (05, 06, 15, 16).
_WRITE_CODES = frozenset(code for codes in WRITE_FUNCTIONS.values() for code in codes)


class StrayBus(Protocol):
    """What the stray frames read and set of their bus (:class:`~sensord.bus.Bus`): the
    exchange in flight; when the line is free and the plan of the next exchange, which a late
    answer moves; the Modbus TCP transaction ids asked and answered on the connection and the
    last one that timed out; the last read at unit 0 that was answered (``_broadcast``); the
    answers of devices that left the bus (``_left_answer``, ``left_owed_answer``); a
    device's drain (``_drain``); and the answers a device owes (``owes``)."""

    in_flight: _Exchange | None
    quiet_until: float
    _upcoming: tuple[float, _Device | None] | None
    _asked: dict[int, _Device]
    _answered_ids: dict[int, _Device]
    _broadcast: tuple[_Exchange, int, float] | None
    _timed_out_id: int
    left_owed: dict[int, int]

    def _left_answer(self, response: Response) -> bool: ...

    def left_owed_answer(self, response: Response) -> bool: ...

    def _drain(self, device: _Device, now: float) -> None: ...

    def owes(self, device: _Device, request: Request | None) -> None: ...


class StrayFrames:
    """The frames on ``bus``'s line or connection that are not the answer to its exchange in
    flight (see the module docstring); ``transport``, ``devices``, ``left``, ``log``,
    ``errors`` (the rate limit of its log lines) and ``clock`` are the bus's."""

    def __init__(
        self,
        bus: StrayBus,
        *,
        transport: str,
        devices: dict[str, _Device],
        left: LeftExchanges,
        log: FilteringBoundLogger,
        errors: RateLimiter,
        clock: Callable[[], float],
    ) -> None:
        self._bus = bus
        self.transport = transport
        self.devices = devices
        self.left = left
        self.log = log
        self._errors = errors
        self._clock = clock
        #: devices behind Modbus TCP that answer with another unit id (logged once)
        self._other_units: set[str] = set()
        #: devices behind Modbus TCP that answer with transaction id 0 (logged once)
        self._zero_ids: set[str] = set()

    def late(self, response: Response) -> bool:
        """``response`` answers a request of a device of the bus that is not in flight: an
        answer after its timeout. Counted as ``late`` for that device (over Modbus TCP the
        one its transaction id was sent to, on RTU the one with its unit id, or read at unit 0
        and answering with it: ``_device_of``), whose drain starts again (RTU), and logged
        (once a minute per device) with the hint to raise its timeout; False when it answers
        no request of a device of the bus. The answer of a device that left the bus
        (``Bus.left``) is nobody's, and True."""
        if self.left.kept and self._bus._left_answer(response):
            return True
        if self._bus.left_owed and self._bus.left_owed_answer(response):
            return True  # (RTU: the answer a device that left still owed, after its drain)
        transaction_id = response.transaction_id
        device = self._device_of(response)
        if device is None:
            return False
        if device.long:
            # a frame of the device besides the answers: a long one taken for an answer may have
            # been another master's, so the run of long answers starts again
            # (``DeviceReads.long``)
            device.long.clear()
        now = self._clock()
        echoed = False
        if self.transport == "rtu":
            function = response.function_code
            if device.late_writes and response.exception_code and function in _WRITE_CODES:
                # a refusal of a write whose late copy came since its last exchange ended: that
                # copy was the adapter's echo, and this the device's late answer to the write,
                # whose lateness the copy paid and counted
                taken = self._late_write_refused(device, response)
                echoed = taken and device.late_in_row > 0
            if response.exception_code and function in _WRITE_CODES:
                self._note_late_refusal(device, response)
            if not echoed:
                if not device.owed or not self._pays_owed(device, response):
                    # (of a device that owes answers, one that fits none of its requests)
                    self._unasked_frame(device, response.unit, now)
                    return True
                device.owed -= 1
                self._bus.owes(device, None)
            if response.exception_code not in GATEWAY_NO_ANSWER:
                after_s = now - device.timed_out_sent_at
                limit_s = LATE_DRAIN_TIMEOUTS * device.timeout_s
                device.late_s = max(device.late_s, min(after_s, limit_s))
            if response.function_code in _WRITE_CODES:
                # a set-up write's answer (its copy, or address and count) after its timeout
                answered = [w for w in device.writes if w.answers(response.frame, 0)]
                device.late_writes.update(answered)
                for write in answered:  # (its last late word is no refusal)
                    device.late_refusals.pop(write, None)
        code = response.exception_code
        self._count_late(device, code, response.function_code, late=not echoed)
        if device.counters.silent:  # its timeouts are late answers, not reads it ignores
            device.counters.silent.clear()
        if code not in GATEWAY_NO_ANSWER:
            device.late_in_row += 1
        else:
            device.late_gateway_code = response.exception_code
        if device.short:
            # an answer cut off at its timeout whose rest came now was the device's pause,
            # not a gateway that drops the rest (see ``Bus._cut``)
            device.short = {read: size for read, size in device.short.items() if size > 0}
        if (
            self.transport == "tcp"
            and transaction_id == self._bus._timed_out_id
            and not self._bus.in_flight
            and all(now > left.until for left in self.left.kept)
        ):
            # the gateway is done with the request that timed out: the connection is
            # free, unless it serves the request of a device that left next (``Bus.left``)
            self._bus.quiet_until = min(self._bus.quiet_until, now + device.gap_s)
            self._bus._upcoming = None
        self._bus._drain(device, now)
        after_s = now - device.timed_out_sent_at
        self._warn_late(device, late_hint(code, after_s), after_s, code)
        return True

    @staticmethod
    def _late_write_refused(device: _Device, response: Response) -> bool:
        """``response``, after its timeout, is ``device``'s exception to a set-up write of its
        function code (an exception names no register): the copy of the request taken for
        its answer after an earlier timeout (``late_writes``) was the adapter's echo, passed
        on late with the refusal behind it, or the device refuses at a later poll what it
        answered at an earlier one, so no write of that function is taken for its late
        answers (``DeviceReads``'s ``set-up write taken`` with ``late``). An
        acknowledgement (0x05) refuses nothing. True when a write of that function was
        taken so: the exception is the device's late answer to it, which the copy taken
        before it did not pay (``late`` counts it as one, and by its code, not as a frame
        nobody asked for)."""
        function = response.function_code
        taken = [w for w in device.late_writes if w.read.function_code == function]
        if response.exception_code != ACKNOWLEDGE_CODE:
            device.late_writes.difference_update(taken)
        return bool(taken)

    @staticmethod
    def _note_late_refusal(device: _Device, response: Response) -> None:
        """``response``, after its timeout, is ``device``'s exception to a request of a write's
        function code: the refusal of each set-up write of that function not got through yet
        (an exception names no register), held with its code (``late_refusals``) so that the
        write, given up, is told as refused. An acknowledgement (0x05) refuses nothing, and a
        gateway's 0x0A or 0x0B is no word of the device's (the write is told as unanswered)."""
        code = response.exception_code
        if code == ACKNOWLEDGE_CODE or code in GATEWAY_NO_ANSWER:
            return
        function = response.function_code
        for write in device.write_polls:
            if write.read.function_code == function:
                device.late_refusals[write] = code

    @staticmethod
    def _count_late(device: _Device, code: int, function: int, *, late: bool = True) -> None:
        """An answer of ``device`` after its timeout: counted as ``late``, and an exception
        response (``code``, to a request of ``function``) by its code too, as one in time
        is: it answers a request of ``device``'s (its unit id's on RTU while one of its
        requests went unanswered, its transaction id over Modbus TCP), so it is the device's
        word (a gateway's for it, 0x0A or 0x0B), which sensord_modbus_exceptions_total tells;
        but a gateway's 0x0A or 0x0B to a set-up write, which is not counted by code in time
        either (the write is told as unanswered: ``DeviceReads.unanswered``). A frame nobody
        asked for (``unasked``) is not counted by code: it answers no request of sensord's
        (another master's exchange with the device, a second device of its unit id). Not
        counted as ``late`` again (``late`` False): the refusal of a write whose copy of the
        request, taken for its late answer and counted so, was the adapter's echo (one late
        exchange, counted once; ``late``)."""
        counters = device.counters
        if late:
            counters.errors["late"] += 1
        if code and not (code in GATEWAY_NO_ANSWER and function in _WRITE_CODES):
            counters.exceptions[code] = counters.exceptions.get(code, 0) + 1

    def _warn_late(self, device: _Device, hint: str, after_s: float, code: int) -> None:
        """Log ``device``'s answer after its timeout (``after_s`` after the request that
        timed out was sent, at most), once a minute at most; an exception response's
        ``code`` with its meaning (0: an answer with values)."""
        held = self._errors.check(f"late:{device.sensor.name}")
        if held is not None:
            exception = {"code": code, "meaning": EXCEPTION_NAMES.get(code, "not standard")}
            device.sensor.log.warning(
                "answer after the timeout",
                unit=device.unit,
                timeout_s=device.timeout_s,
                answered_after_s=round(after_s, 3),
                **(exception if code else {}),
                hint=hint,
                suppressed=held,
            )

    @staticmethod
    def _pays_owed(device: _Device, response: Response) -> bool:
        """Whether ``response``, a frame of ``device``'s unit id, is the answer to a request
        of its that timed out (``_Device.owed_requests``, the oldest that fits first, taken
        out): the request's function code and the length of its answer (its byte count
        among the first bytes; a write's address and count too; any read answer of its
        function when the device answers that read with more or fewer values, :func:`_fits`),
        or its exception. An RTU
        frame names only its unit id, function code and length, so a frame of the device
        that fits none of them (an answer to another master's read of it, a second device
        at its unit id) is no late answer of its. True, taking nothing, when the requests
        owed are not known (a device that owes more than were kept)."""
        owed = device.owed_requests
        if len(owed) < device.owed:
            return True
        for at, request in enumerate(owed):
            if _fits(device, request, response):
                del owed[at]
                return True
        return False

    def _unasked_frame(self, device: _Device, unit: int, now: float) -> None:
        """A frame of ``device``'s unit id (``unit``: its own, or the one its answers carry
        when it is read at unit 0) on RTU while none of its requests awaits an answer (as
        many late frames of its came as its requests timed out): not a late answer, and no
        reason to raise its timeout. Counted as ``unasked`` and logged (once a minute per
        device) with :data:`UNASKED_FRAME_HINT`, naming ``unit``. The device's drain starts
        again all the same: a frame of its unit id may come during its next exchange too."""
        device.counters.errors["unasked"] += 1
        self._bus._drain(device, now)
        held = self._errors.check(f"unasked:{device.sensor.name}")
        if held is not None:
            device.sensor.log.warning(
                "frame of the device's unit id nobody asked for",
                unit=unit,
                hint=UNASKED_FRAME_HINT.format(unit=unit),
                suppressed=held,
            )

    def _device_of(self, response: Response) -> _Device | None:
        """The device whose request ``response`` answers, among those not answered yet:
        by transaction id over Modbus TCP (taken, so a second reply to it finds none), by
        unit id on RTU: the device's own, or, for a device read at unit 0 that answers with
        its own unit id (``_answers_broadcast``), the one its answers carried (a device of
        that unit id that joined the bus since goes first)."""
        if self.transport == "tcp":
            device = self._bus._asked.pop(response.transaction_id, None)
            if device is not None:
                self.took(response.transaction_id, device)
            return device
        unit = response.unit
        devices = self.devices.values()
        return next((d for d in devices if d.unit == unit), None) or next(
            (d for d in devices if not d.unit and d.answers_as == unit), None
        )

    def took(self, transaction_id: int, device: _Device) -> None:
        """A Modbus TCP reply with ``transaction_id`` was taken for ``device``'s request."""
        answered = self._bus._answered_ids
        answered[transaction_id] = device
        if len(answered) > TRANSACTIONS_KEPT:
            del answered[next(iter(answered))]

    def _repeated(self, response: Response) -> bool:
        """``response`` repeats a Modbus TCP reply taken already (a gateway that sends some
        replies twice, a network that duplicates them): counted as ``unasked`` for the
        device it answered, logged (once a minute per device) as such, and True."""
        device = self._bus._answered_ids.get(response.transaction_id)
        if device is None:
            return False
        self._count_repeated(device, response)
        return True

    def _count_repeated(self, device: _Device, response: Response) -> None:
        """``response`` repeats a reply of ``device`` taken already: counted as ``unasked``
        (and ``repeated``) for it, logged once a minute at most."""
        device.counters.repeated += 1
        self._count_unasked(
            device, "reply to a request answered already", REPEATED_REPLY_HINT, response, {}
        )

    def answers(self, flight: _Exchange, response: Response) -> bool:
        """True when ``response`` answers ``flight``; else the mismatch is counted."""
        errors = flight.device.counters.errors
        if self.transport == "tcp":
            # (a request's transaction id is never 0: they run from 1)
            zero_id = response.transaction_id == 0 and response.unit == flight.device.unit
            late_zero = None if zero_id else self._zero_id_device(response)
            if zero_id:
                self._note_zero_id(flight.device)
            elif late_zero is not None:
                # another device's answer after its timeout: the gateway served it first,
                # so the one in flight waited behind it, as behind any late reply
                if self._zero_id_reply(late_zero, response):
                    deadline = self._clock() + flight.device.timeout_s
                    if deadline > flight.deadline:
                        flight.deadline = deadline
                return False
            elif response.transaction_id != flight.transaction_id:
                if self.late(response):
                    # a gateway serves one request at a time: the one in flight waited
                    # behind the late one, and its own wait begins now
                    deadline = self._clock() + flight.device.timeout_s
                    if deadline > flight.deadline:
                        flight.deadline = deadline
                else:
                    self._foreign(flight, response)
                return False
            if response.unit != flight.device.unit:
                self._note_other_unit(flight.device, response.unit)
        elif response.unit != flight.device.unit:
            if not flight.device.unit and self._answers_broadcast(flight, response):
                return True
            read_at_0 = ""  # the device read at unit 0 whose read it may answer too
            if self._bus._broadcast is not None:
                name = self._bus._broadcast[0].device.sensor.name
                own = self._own_with_other_unit(flight, response)
                if self.second_answer(response, count=not own):
                    if not own:
                        return False
                    read_at_0 = name
            if not self.late(response):
                errors["unit"] += 1
                if response.function_code == flight.read.function_code and (
                    response.exception_code or len(response.frame) == flight.expected.size
                ):
                    flight.device.other_unit = response.unit
                    flight.device.other_unit_at_0 = read_at_0
            return False
        if response.function_code != flight.read.function_code:
            if (
                self.transport == "rtu"
                and flight.device.owed
                and response.exception_code
                and response.function_code in _WRITE_CODES
            ):
                # the device's late refusal of a set-up write whose copy was settled as the
                # adapter's echo (``LineEcho._echo_alone``) or that timed out, come during its
                # next exchange: that write's answer, counted ``late`` and by its code
                self.late(response)
                return False
            errors["function"] += 1
            if (
                self.transport == "rtu"
                and not flight.expected.write
                and response.function_code in TABLE_OF_FUNCTION
            ):
                flight.device.other_function = response.function_code
            return False
        # (a frame that fits a request owed may be its late answer)
        return not (flight.device.owed_requests and self._owed_first(flight, response))

    def _owed_first(self, flight: _Exchange, response: Response) -> bool:
        """Whether ``response``, a frame of the unit id and function code of ``flight`` on
        RTU, is taken for the late answer of a request of the device that timed out before
        it (``_Device.owed_requests``) instead. A device answers its requests in order, and
        an RTU frame names no register:

        - a frame that fits none of the requests owed (their function code and answer's
          length, or an exception of their function) answers a later request: the device is
          done with them (answered, or lost), and owes none any more;
        - one whose oldest request owed that it fits is another read than ``flight``'s (of
          other registers, with an answer of the same shape: a meter's voltage and energy, a
          float32 each) is that read's late answer, which comes before ``flight``'s: counted
          ``late``, and ``flight`` waits for its own answer a whole timeout from now. When
          none comes, the device left one of the two unanswered and the frame answered the
          other: ``flight``'s timeout owes nothing (``Bus._timed_out``), one reading lost and
          none given another's values;
        - one whose oldest request owed that it fits is ``flight``'s own read (asked again
          after its timeout) gives that read's values either way: it is ``flight``'s answer,
          and no request of that answer's shape goes to the device until the latest the
          other can come (:data:`~sensord.modbus_timing.LATE_DRAIN_TIMEOUTS` of its timeouts
          after ``flight``'s request), which then pays the request owed; a device that lost
          that request (one that sleeps and loses the request that wakes it) owes nothing
          once that wait ends (``_Device.owed_settled_until``, ``Bus._owed_hold``).

        An exception names no register and is ``flight``'s; so is a frame later than an
        answer is taken to come at all, ``LATE_DRAIN_TIMEOUTS`` timeouts after the device's
        last request that timed out went out (a read the device ignores owes an answer that
        never comes)."""
        device = flight.device
        code = response.exception_code
        for request in device.owed_requests:
            if _fits(device, request, response):
                break
        else:
            device.owed = 0
            self._bus.owes(device, None)
            return False
        now = self._clock()
        if code or now > device.timed_out_sent_at + LATE_DRAIN_TIMEOUTS * device.timeout_s:
            return False
        if request.frame == flight.expected.frame:
            device.owed_settled_until = flight.sent_at + LATE_DRAIN_TIMEOUTS * device.timeout_s
            return False
        self.late(response)
        flight.paid_owed += 1
        deadline = now + device.timeout_s
        if deadline > flight.deadline:
            flight.deadline = deadline
        return True

    def _answers_broadcast(self, flight: _Exchange, response: Response) -> bool:
        """True when ``response``, of another unit id, answers ``flight``, a read at unit 0
        (``modbus.broadcast_reads``), as a device that answers reads at the broadcast address
        with its own unit id does (pymodbus's client takes an answer of any unit id to a
        request at 0 for that reason: pymodbus pull requests 2298 and 2845): when it is the one
        frame the exchange awaits, sound (its CRC, which the link checked) and of the read's
        function code, byte count and length, or an exception of the read's function code (it
        refuses a read as any device does, also before it ever answered one with values), and
        its unit id is that of no device of the bus (nor of one that left it, whose answers
        are nobody's) and the one the device's answers with values taken so carried before
        (logged at the first). Only an answer with values fixes that unit id: a refusal fits
        any read of its function code, and on a line another master polls (a Seplos pack at
        address 0 polls the packs at 1 and up: syssi/esphome-seplos-bms issue 116) one that
        answers the other master's read would have fixed a unit id the device never answers
        with, and every answer of the device's own unit id been refused from then on. A
        frame of a second unit id is another device's, and counted as ``unit`` as any other
        is; but once the device is down, an answer with values (not a refusal) of the unit id
        whose answers to its reads came in each of its last :data:`DOWN_AFTER_TIMEOUTS`
        exchanges, which timed out (``answered_other_row``, counted at ``Bus._timed_out``), is its
        answer, and that unit id the one taken from then on: one taken from the other
        master's exchange refused all of the device's own answers, which come in each of its
        exchanges, while the other master's exchanges come at their own pace (the first
        answer after a down, taken whatever its unit id, gave a device that had been off the
        values of another pack the other master reads). The unit id taken before is kept
        until then:
        the device's answers after their timeout, the one to the request that took it down
        among them, are its (``_device_of``: counted ``late``, its drain started again, its
        down reason that they come late)."""
        device = flight.device
        expected = flight.expected
        frame = response.frame
        unit = response.unit
        if (
            not (
                (len(frame) == expected.size and frame[1:3] == expected.head[1:3])
                or response.exception_code
            )
            or response.function_code != expected.read.function_code
            or any(other.unit == unit for other in self.devices.values())
            or any(left.unit == unit for left in self.left.kept)
        ):
            return False
        if device.answers_as not in (-1, unit):
            if response.exception_code:
                return False
            if not (
                device.counters.down
                and unit == device.answered_other_row
                and device.answered_other_run >= DOWN_AFTER_TIMEOUTS
            ):
                device.answered_other = unit
                return False
        if device.answers_as != unit and not response.exception_code:
            device.answers_as = unit
            device.sensor.log.info(
                "device answers its reads at unit 0 with its own unit id",
                unit=device.unit,
                answers_as=unit,
                hint=(
                    "its answers are read all the same; a second device that answers reads at "
                    "unit 0 on this line would answer each request too, and their answers collide"
                ),
            )
        return True

    def second_answer(self, response: Response, *, count: bool = True) -> bool:
        """True when ``response``, a frame that answers no exchange in flight, is a second
        device's answer to the last read at unit 0 that was answered (``Bus._broadcast``): of
        the read's function code, sound and of its length or an exception, of unit 0 or a
        unit id no other device of the bus has (nor one that left it), and begun within
        the read's timeout; not one of the unit id the answer taken carried: the device's
        own frame, its late answer while a request of its went unanswered (``owed``), else a
        frame of its unit id nobody asked for (another master that reads it, or an answer
        sent twice), which ``late`` counts and tells as such. The read goes to every device
        of the line: two devices that answer reads at the broadcast address both answer it,
        one after the other or in a collision. Counted as ``unit`` for the device read at unit
        0, whichever exchange is in flight when it comes, and logged (once a minute per
        device) naming the unit ids of both answers (unless ``count`` is False: only whether it
        can be one is told). Only looked at after a read at unit 0 was answered."""
        assert self._bus._broadcast is not None
        flight, first, until = self._bus._broadcast
        if self._clock() > until:
            self._bus._broadcast = None
            return False
        device = flight.device
        expected = flight.expected
        frame = response.frame
        unit = response.unit
        if (
            response.function_code != expected.read.function_code
            or not (
                response.exception_code
                or (len(frame) == expected.size and frame[1:3] == expected.head[1:3])
            )
            or self.devices.get(device.sensor.name) is not device
            or any(other.unit == unit for other in self.devices.values() if other is not device)
            or any(left.unit == unit for left in self.left.kept)
            # of the answer's unit id: the device's own frame, its answer after its timeout
            # while a request of its went unanswered, else one nobody asked for (``late``)
            or unit == first
        ):
            return False
        if not count:
            return True
        device.counters.errors["unit"] += 1
        held = self._errors.check(f"second answer:{device.sensor.name}")
        if held is not None:
            device.sensor.log.warning(
                "two devices answered a read at unit 0",
                unit=device.unit,
                answered_as=first,
                also_answered=unit,
                hint=SECOND_ANSWER_HINT.format(first=first, second=unit),
                suppressed=held,
            )
        return True

    def _own_with_other_unit(self, flight: _Exchange, response: Response) -> bool:
        """Whether ``response``, of another unit id than the device in flight, is more likely
        that device's own answer than a second device's answer to the read at unit 0 before
        it (``second_answer``), where both reads are alike: it fits ``flight``'s read (its
        function code, and its length or an exception), and the device in flight has not
        answered with its unit id yet: a device that answers with its own address whatever
        was asked (:data:`OTHER_UNIT_HINT`) never does, and its every answer carries that
        address. In the exchange of a device that has answered with its unit id, such a
        frame is taken for a second device's answer to the read at unit 0. Taken for the
        device's own, it is noted for its down reason with that read
        (:data:`OTHER_UNIT_AT_0_HINT`): a silent device's exchange may hold a second device's
        answer to it all the same."""
        device = flight.device
        if not device.unit or response.function_code != flight.read.function_code:
            return False
        if not (response.exception_code or len(response.frame) == flight.expected.size):
            return False
        return not device.counters.transactions

    def broadcast_answerers(self, device: _Device) -> frozenset[int]:
        """The unit ids whose frames can answer a read of ``device`` at unit 0 as
        :meth:`_answers_broadcast` takes them: the one its answers carried so far, else any
        that no device of the bus (nor one that left it) has; while it is down, also the one
        it takes instead once that came often enough (``answered_other_row``)."""
        if device.answers_as >= 0:
            row = device.answered_other_row
            if device.counters.down and device.answered_other_run >= DOWN_AFTER_TIMEOUTS:
                return frozenset((device.answers_as, row))
            return frozenset((device.answers_as,))
        taken = {other.unit for other in self.devices.values()}
        taken.update(left.unit for left in self.left.kept)
        return frozenset(range(1, 256)).difference(taken)

    def _foreign(self, flight: _Exchange, response: Response) -> None:
        """A Modbus TCP reply, during ``flight``, whose transaction id no request on the
        connection was sent with (nor did one time out with it): no late answer, since it
        answers nothing sensord asked. Counted as ``unasked`` for the device in flight, which
        the gateway is most likely answering, and logged (once a minute per device) with
        :data:`FOREIGN_TRANSACTION_HINT`, which becomes the device's down reason when its
        requests time out meanwhile. A repeat of a reply taken already is none of these
        (see ``_repeated``)."""
        if self._repeated(response):
            return
        flight.device.foreign_in_row += 1
        self._note_foreign(flight.device, response, {"expected": flight.transaction_id})

    def foreign_between(self, response: Response) -> None:
        """A Modbus TCP reply, while no exchange is in flight, whose transaction id no
        request on the connection was sent with: counted as ``unasked`` and logged as during
        an exchange (with its id only), for the device of its unit id (none: a late answer
        of a device removed meanwhile is nobody's). A repeat of a reply taken already is none
        of these (see ``_repeated``)."""
        zero = self._zero_id_device(response)
        if zero is not None:  # a device that answers with transaction id 0
            self._zero_id_reply(zero, response)
            return
        device = next((d for d in self.devices.values() if d.unit == response.unit), None)
        if self._repeated(response):
            return
        if device is not None:
            self._note_foreign(device, response, {})

    def _note_foreign(self, device: _Device, response: Response, fields: dict[str, int]) -> None:
        self._count_unasked(
            device,
            "reply with a transaction id no request was sent with",
            FOREIGN_TRANSACTION_HINT,
            response,
            fields,
        )

    def _count_unasked(
        self, device: _Device, event: str, hint: str, response: Response, fields: dict[str, int]
    ) -> None:
        """A Modbus TCP reply that answers no request in flight, counted as ``unasked`` for
        ``device`` and logged as ``event`` once a minute per device and event."""
        device.counters.errors["unasked"] += 1
        held = self._errors.check(f"{event}:{device.sensor.name}")
        if held is not None:
            device.sensor.log.warning(
                event,
                unit=device.unit,
                transaction_id=response.transaction_id,
                **fields,
                hint=hint,
                suppressed=held,
            )

    def _note_zero_id(self, device: _Device) -> None:
        """A Modbus TCP reply with transaction id 0 and the unit id of ``device``, whose
        exchange is in flight: sensord never sends transaction id 0 (its ids run from 1), and
        some firmware leaves the field 0 in every reply (pymodbus's client takes such a reply
        for the request in flight too), so it is the answer if it is one of that read
        (logged once per device). The device's answers after their timeout are then told
        apart only by their time (``_late_zero_id``), as on RTU."""
        if device.sensor.name not in self._zero_ids:
            self._zero_ids.add(device.sensor.name)
            self.log.info(
                "device answers with transaction id 0; its replies are taken for the request "
                "in flight",
                sensor=device.sensor.name,
                unit=device.unit,
            )

    def _zero_id_device(self, response: Response) -> _Device | None:
        """The device that answers with transaction id 0 (``_note_zero_id``) whose unit id
        ``response``, with transaction id 0, has; None for any other reply."""
        if response.transaction_id != 0:
            return None
        device = next((d for d in self.devices.values() if d.unit == response.unit), None)
        return device if device is not None and device.sensor.name in self._zero_ids else None

    def _zero_id_reply(self, device: _Device, response: Response) -> bool:
        """``response``, with transaction id 0, from ``device``, which answers so, while none
        of its exchanges is in flight: its answer after its timeout (``_late_zero_id``) when
        a request of its went unanswered that no late reply has paid yet (``owed``), and
        True; else a copy of an answer taken already (a gateway that repeats replies), no
        late answer, counted as ``_repeated`` counts one, and False."""
        if device.owed:
            device.owed -= 1
            self._late_zero_id(device, response)
            return True
        self._count_repeated(device, response)
        return False

    def _late_zero_id(self, device: _Device, response: Response) -> None:
        """A reply with transaction id 0 from ``device``, which answers so, while none of its
        exchanges is in flight (none is, or another device's is): its answer after its
        timeout. Counted as ``late`` (an exception by its code too, ``_count_late``), and no
        request goes out until the connection has been quiet for the device's timeout, each
        such reply starting that wait again, so that a late one is not taken for the next
        request's answer (as on RTU: ``Bus._drain``)."""
        now = self._clock()
        code = response.exception_code
        self._count_late(device, code, response.function_code)
        device.late_in_row += 1
        self._bus.quiet_until = max(self._bus.quiet_until, now + device.timeout_s)
        self._bus._upcoming = None
        after_s = now - device.timed_out_sent_at
        self._warn_late(device, late_hint(code, after_s), after_s, code)

    def _note_other_unit(self, device: _Device, unit: int) -> None:
        """A Modbus TCP reply with the exchange's transaction id but another unit id: the
        transaction id names the exchange, so it is the answer (logged once per device)."""
        if device.sensor.name not in self._other_units:
            self._other_units.add(device.sensor.name)
            self.log.info(
                "device answers with another unit id; its replies are matched by transaction id",
                sensor=device.sensor.name,
                unit=device.unit,
                answers_as=unit,
            )


def _fits(device: _Device, request: Request, response: Response) -> bool:
    """Whether ``response``, a frame of ``device``'s unit id, can answer ``request``: an
    exception of its function code; an answer of its function code and length (its byte
    count among the first bytes; a write's address and count too); or, for a read the
    device answers with more values than asked for (``long_read``, ``long``: ESPHome's
    ``modbus_controller`` server answers a 32-bit value whole) or with fewer (``short``:
    firmware that caps a read), a sound read answer of its function code of any length."""
    function = response.function_code
    if function != request.read.function_code:
        return False
    frame = response.frame
    if response.exception_code or (
        len(frame) == request.size and frame.startswith(request.head[1:], 1)
    ):
        return True
    return request in device.long_read or request in device.long or request in device.short
