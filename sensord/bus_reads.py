"""What a Modbus device's answers, refusals and silences make of its reads and set-up writes
on its bus (:mod:`sensord.bus`): :class:`DeviceReads`. A read gone unanswered is asked again
(``retries``; the poll's first read once more after the others, ``_second_chance``), a device
is down after :data:`DOWN_AFTER_TIMEOUTS` in a row, with the reason to check
(``_down_why``); a merged read is split when the device refuses it, answers it short or cut
off twice running, leaves it unanswered while it answers others, or answers its probe but
not it; a long answer's first values are read once two running are as long; a set-up write
is taken, refused or given up."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from structlog.typing import FilteringBoundLogger

from sensord.bus_device import _Device
from sensord.formats.modbus import EXCEPTION_NAMES, Request, Response, WriteRequest
from sensord.formats.modbus_plan import Read, first_piece, split
from sensord.log import RateLimiter
from sensord.modbus_state import (
    SILENT_READ_ADVICE,
    SILENT_READ_POLLS,
    SPLIT_AFTER_REFUSALS,
    SPLIT_ALONE_S,
    WAKE_LOST_ADVICE,
    SilentRead,
    for_sensor,
    naming_unit,
)

__all__ = [
    "ACKNOWLEDGE_CODE",
    "ANSWERED_BEFORE_HINT",
    "BUSY_CODE",
    "DOWN_AFTER_TIMEOUTS",
    "ECHO_NO_ANSWER_HINT",
    "LATE_REFUSAL_HINT",
    "LATE_WRITE_HINT",
    "NOISE_HINT",
    "NO_ANSWER_HINT",
    "OTHERS_ANSWER_HINT",
    "PROBE_MISSES",
    "REFUSED_FOR_GOOD_S",
    "REFUSED_READ_EVERY_S",
    "SPOILT_ANSWER_HINT",
    "WRITE_BUSY_HINT",
    "WRITE_POLLS",
    "WRITE_REFUSED_HINT",
    "DeviceReads",
]

#: Timeouts in a row after which a device is quarantined (polled only after a backoff).
DOWN_AFTER_TIMEOUTS = 3

#: Exception 0x06 (server device busy) and 0x05 (acknowledge: taken, still being worked on).
BUSY_CODE, ACKNOWLEDGE_CODE = 6, 5
#: Polls in a row at which a set-up write goes unanswered or is answered busy (its retries
#: used up each time) before it is given up until the next open or return.
WRITE_POLLS = 3

#: A read of values that cannot be read apart (one register, a value and its scale factor)
#: that the device refuses as outside its map (exception 0x02 or 0x03) goes at most once per
#: this long, at the first poll due then: at polls faster than that its refusals would take
#: the line's time from the answers (40 refusals in 10 s at 0.25 s polls), while a device
#: polled once a second or less often is still asked at each poll, and one that maps the
#: register after a restart is read again within it (``DeviceReads.refused_alone``).
REFUSED_READ_EVERY_S = 1.0

#: A read refused so (:data:`REFUSED_READ_EVERY_S`) for this long running is taken for outside
#: the device's map, as wb-mqtt-serial takes a register answered ILLEGAL_DATA_ADDRESS out of
#: its polling (wirenboard/wb-mqtt-serial pull request 1178): its wait doubles at each
#: refusal, up to ``[sensors.reconnect]`` ``max_delay_s`` (a down device's longest backoff),
#: so it costs a request that often and is still read once the device maps it.
REFUSED_FOR_GOOD_S = 60.0

#: Times in a row a device that answers the read of its first read's first value leaves its
#: first read unanswered whole before that read is split (``DeviceReads.unanswered``): once may
#: be an answer lost to noise.
PROBE_MISSES = 2

#: What a set-up write the device refuses, or echoes otherwise, says to check.
WRITE_REFUSED_HINT = (
    "check the write's table, address, value and function against the device's manual "
    "(some devices take function 16 only: modbus.setup's function = 16); it is written "
    "again when the bus opens again or the device comes back"
)

#: What a set-up write answered busy (0x06) at :data:`WRITE_POLLS` polls running says: not
#: the write's table or value, but a device kept busy.
WRITE_BUSY_HINT = (
    f"the device answered busy at {WRITE_POLLS} polls running, each after modbus.busy_retries "
    "tries, and the write is given up: it is busy with other work (another master, its own "
    "measurement cycle, a start-up that lasts); it is written again when the bus opens again "
    "or the device comes back, and a longer modbus.busy_wait_s may find it free"
)

#: What a set-up write that went unanswered (its retries used up at :data:`WRITE_POLLS` polls)
#: says when the device answers its other requests: its unit id, the line's settings and its
#: wiring are right, and the write itself is what the device does not answer (the text
#: follows what came for it; :data:`WRITE_REFUSED_HINT` follows it).
WRITE_IGNORED_HINT = (
    "the device answers its other requests ({answered} so far), so its unit id, the line's "
    "settings and the wiring are right: it leaves this write unanswered (a register it does "
    "not take or keeps read-only, or a function it does not take, refused without an "
    "answer), answers it after modbus.timeout_s (a device that stores the value first), or "
    "needs a pause before a write (modbus.gap_s keeps the line quiet after each exchange)"
)

#: What a set-up write that went unanswered in time at :data:`WRITE_POLLS` polls says when an
#: answer of its came after its timeout (counted ``late``, logged as ``answer after the
#: timeout``): a device answers a write once it holds the value (the Modbus application
#: protocol: the normal response to 05 and 06 is "an echo of the request, returned after the
#: register contents have been written"; 15 and 16 answer with address and count), so the
#: write is taken, not given up as unanswered.
#: What a set-up write whose refusals came after modbus.timeout_s says after the hint of
#: its refusal: they were late answers, and the write was asked again meanwhile.
LATE_REFUSAL_HINT = (
    "its refusals came after modbus.timeout_s (counted late, logged as 'answer after the "
    "timeout'), so it was asked again at each poll until given up"
)

LATE_WRITE_HINT = (
    "its answers to this write came after modbus.timeout_s (counted late, logged as 'answer "
    "after the timeout'), and a device answers a write once it holds the value: the write is "
    "taken and not written again before the bus opens again or the device comes back; raise "
    "modbus.timeout_s (a device that stores the value before it answers takes longer to "
    "answer a write than a read)"
)

#: What to check when an RTU device's requests time out with only each request's echo on the
#: line (the text follows "no response to N requests in a row: "): the echo is no answer,
#: nor noise that tells of the line's settings.
ECHO_NO_ANSWER_HINT = (
    "only the request came back, as sent (the adapter hears its own transmission: set "
    "serial = { local_echo = true }), and no answer after it: check the unit id, the baud "
    "rate and parity, and the wiring (A and B swapped, termination)"
)

#: What came for a set-up write whose request alone came back (:data:`ECHO_NO_ANSWER_HINT`),
#: said before :data:`WRITE_IGNORED_HINT` where the device answers its other requests.
ECHO_ALONE = "only the request came back, as sent (the adapter's echo), and no answer after it"

#: What to check when a device's requests time out with nothing on the line for them, by
#: transport (the text follows "no response to N requests in a row: ").
NO_ANSWER_HINT = {
    "rtu": "check the unit id, the baud rate and parity, and the wiring (A and B swapped, "
    "termination)",
    "tcp": "check the unit id, and that the gateway reaches the device",
}

#: What to check when an RTU device's requests time out with nothing on the line for them
#: while the bus's other devices answered meanwhile: the line, its settings and its wiring
#: work (a Modbus TCP gateway may serve several lines, so this is said on RTU only).
OTHERS_ANSWER_HINT = (
    "the bus's other devices answered meanwhile, so the line, its settings and its wiring "
    "work: check the unit id (modbus.unit = {unit}) against the device's address, and that "
    "the device is powered and connected to the bus"
)

#: What an RTU device's requests that time out with bytes on the line that make no answer
#: say while the bus's other devices answered meanwhile: those bytes are noise, not a sign
#: of wrong line settings (the device's own hint follows).
NOISE_HINT = (
    "bytes came that make no answer: noise on the line (check the bus's termination and biasing)"
)

#: What to check when a device that has answered before (since sensord started) stops
#: answering with nothing on the line for it: its unit id and the line's settings were right
#: (the text follows "no response to N requests in a row: ").
ANSWERED_BEFORE_HINT = (
    "it has answered {answered} of its requests, so its unit id and the line's settings are "
    "right: check its power supply (a device that restarts after a brown-out is silent for "
    "a few seconds, and its counters may start again from 0) and its connection to the bus; "
    "a device that answers again as soon as it is asked again, and goes down after a few "
    "polls each time, loses the first request after a pause (it sleeps between polls): set "
    "modbus.retries = 1"
)

#: What to check when a device's requests time out with bytes on the line that make no
#: answer: a frame cut off, or bytes whose CRC matches nothing (a wrong baud rate or parity).
SPOILT_ANSWER_HINT = {
    "rtu": "bytes came that make no answer: check the baud rate and parity, and the bus's "
    "termination and biasing",
    # a Modbus TCP connection carries no line noise: bytes that make no frame (a protocol id
    # that is not 0, an impossible length field) come from something that is no Modbus TCP
    # server, or one that serves RTU frames over TCP
    "tcp": "bytes came that make no Modbus TCP answer: the gateway or device does not speak "
    "Modbus TCP on this port (RTU frames over TCP are read with socket://HOST:PORT), or "
    "another service listens there",
}


def _read_fields(device: _Device, read: Read) -> dict[str, Any]:
    """The fields of a log line about one read of a device: its sensor, table, address and
    count."""
    return {
        "sensor": device.sensor.name,
        "table": read.table,
        "address": read.address,
        "count": read.count,
    }


class DeviceReads:
    """What the answers, refusals and silences of the devices of one bus (``devices``, the
    bus's own dict) make of their reads and set-up writes; logged with the bus's ``log``,
    rate-limited by its ``errors``."""

    def __init__(
        self,
        transport: str,
        devices: dict[str, _Device],
        log: FilteringBoundLogger,
        errors: RateLimiter,
        clock: Callable[[], float],
    ) -> None:
        self.transport = transport
        self.devices = devices
        self.log = log
        self._errors = errors
        self._clock = clock
        #: the ``set-up write taken`` lines (each write's fields) of writes answered with
        #: their request's own bytes while the device's answer may still follow them (an
        #: adapter's echo comes first: ``LineEcho.copy_of_write``), told by ``tell_taken`` or
        #: dropped for the exception that answers the write after its echo
        #: (``refused_after_echo``), or when that copy was the echo (``unanswered_after_echo``)
        self._taken_untold: list[tuple[Request, dict[str, Any]]] = []

    def unanswered(self, device: _Device, now: float, why: str, expected: Request) -> None:
        """The device did not answer ``expected`` (``why``: what the gateway said instead, or
        what to check when the request timed out): it is asked again, up to its ``retries``
        times, as a device whose request went unanswered is (in a gap its timeout fits, on RTU
        once it has been quiet for its timeout: see ``Bus._drain``), a quarantined one too; else
        the rest of its poll waits for the next one. After :data:`DOWN_AFTER_TIMEOUTS` in a row
        it is down, and its retries wait for its backoff: each attempt there is a poll that asks
        a read that goes unanswered again up to ``retries`` times, and the backoff grows once an
        attempt, when its last try goes unanswered."""
        again = device.retried < device.retries
        if expected.write:
            # asked again as a read is; then given up until the next open or return: a
            # device that does not echo a write may still answer its reads (nor is it down
            # for that), and a write sent at every poll would rewrite its memory each time
            if again:
                device.retried += 1
                device.pending.insert(0, expected)
                return
            device.retried = 0
            self._write_unanswered(device, expected, why)
            return
        if not again and device.probe_answered and expected is device.reads[0]:
            device.probe_answered = False
            device.probe_misses += 1
            if device.probe_misses < PROBE_MISSES:  # once may be a lost answer: probe again
                piece = first_piece(expected.read)
                if piece is not None:
                    device.probe = device.request(piece)
                    device.pending.insert(0, device.probe)
                    self._timed_out_once_more(device)
                    return
            elif self._probed(device):
                return
        #: a read the device is known to leave unanswered while it answers others: its
        #: timeout is no sign that it stopped answering (see below)
        expected_silence = False
        if again:
            device.retried += 1
            device.pending.insert(0, expected)
        elif device.timeouts_in_row > device.retried:
            device.pending.clear()
        else:
            # the device answered the request before this read (its timeouts in a row are
            # this read's own tries): the poll's other reads are asked still, as a device that
            # does not answer one read (a register it does not map) answers them, unless a
            # late answer could pass for the next one's; a device that stopped answering stops
            # its poll at the next timeout, and is down at the third in a row as before. The
            # read is counted as one the device leaves unanswered (``_silent``).
            if not self._may_go_on(device, expected):
                device.pending.clear()
            device.retried = 0
            silent = device.counters.silent.get(expected)
            ignored = silent is not None and silent.count >= SILENT_READ_POLLS and not silent.first
            expected_silence = silent is not None or expected is device.second_chance
            if not ignored and self._second_chance(device, expected):
                pass  # told of once it goes unanswered again
            elif not expected.write:  # a write goes unanswered again at the next poll, or not
                awake = ignored or expected is device.second_chance
                self._silent(device, now, expected, awake=awake)
        self._timed_out_once_more(device)
        if expected_silence:
            # a read left unanswered at an earlier poll while the device answered others, or
            # the poll's first read unanswered again after the others were answered: a read
            # the device ignores, no sign that it stopped answering; the next request, if
            # unanswered, is not taken for a second timeout in a row (the device is down at
            # the third of those as before, its polls paced as a device that answers)
            device.timeouts_in_row = 0
        if device.counters.down:
            if not again:
                device.retry.failed(now)
            why = self._down_why(device, why)
            if why != device.down_why:
                # still down, for another reason (a gateway that answered 0x0B now answers
                # 0x0A): /status and the hourly reminder say the one that holds now
                device.down_why = why
                device.sensor.device_down_again(
                    f"no response to {device.timeouts_in_row} requests in a row: {why}",
                    self._errors.check(f"down-why:{device.sensor.name}"),
                )
            return
        if device.timeouts_in_row >= DOWN_AFTER_TIMEOUTS:
            device.pending.clear()  # its first attempt waits for its backoff
            device.counters.down = True
            delay = device.retry.failed(now)
            reason = f"no response to {device.timeouts_in_row} requests in a row"
            why = device.down_why = self._down_why(device, why)
            device.sensor.device_down(f"{reason}: {why}", delay)

    def _timed_out_once_more(self, device: _Device) -> None:
        """One more of the device's requests in a row went unanswered: at the first, what
        the bus's other devices had answered by then is noted (``_down_why``)."""
        device.timeouts_in_row += 1
        if device.timeouts_in_row == 1:
            device.others_answered_at_timeout = self._answers_of_others(device)

    def _answers_of_others(self, device: _Device) -> int:
        """The answers the bus's devices other than ``device`` have given so far (read only
        when ``device`` times out)."""
        return sum(d.counters.transactions for d in self.devices.values() if d is not device)

    def _down_why(self, device: _Device, why: str) -> str:
        """What to check for ``device``, down after requests that went unanswered, the last
        for ``why`` (its ``modbus.unit`` named where it tells to check the unit id)."""
        return naming_unit(self._down_hint(device, why), device.unit)

    def _down_hint(self, device: _Device, why: str) -> str:
        """What to check for ``device``, down after requests that went unanswered, the last
        for ``why``: a device that answered before, or whose bus's other devices answered
        meanwhile (RTU), is told more than the transport's general hint."""
        if why == NO_ANSWER_HINT[self.transport] and device.counters.transactions:
            return ANSWERED_BEFORE_HINT.format(answered=device.counters.transactions)
        if (
            self.transport == "rtu"
            and why == NO_ANSWER_HINT["rtu"]
            and self._answers_of_others(device) > device.others_answered_at_timeout
        ):
            return OTHERS_ANSWER_HINT.format(unit=device.unit)
        if (
            self.transport == "rtu"
            and why == SPOILT_ANSWER_HINT["rtu"]
            and self._answers_of_others(device) > device.others_answered_at_timeout
        ):
            # the bytes are noise (or another master's): the line's settings are right, and
            # the device itself is silent
            silent = (
                ANSWERED_BEFORE_HINT.format(answered=device.counters.transactions)
                if device.counters.transactions
                else OTHERS_ANSWER_HINT.format(unit=device.unit)
            )
            return f"{NOISE_HINT}; {silent}"
        return why

    def _probed(self, device: _Device) -> bool:
        """The device answered the read of its first read's first value (its probe, while
        it was down) and then left its first read unanswered whole: a read longer than it
        takes (an SDM72 answers no read of more than 60 registers at all), which is split
        now, as one it refuses is. False when it cannot be split."""
        device.probe_misses = 0
        expected = device.reads[0]
        parts = self.split(device, expected)
        if parts is None:
            return False
        self._timed_out_once_more(device)
        read = expected.read
        self.log.warning(
            "device does not answer a merged read; split it",
            **_read_fields(device, read),
            reads=[(part.read.address, part.read.count) for part in parts],
            hint=(
                f"it answers a read of its first value, never this one of {read.count} "
                "registers: a device that takes fewer registers a read does not answer a "
                "longer one at all; set modbus.max_registers to what its manual gives (or "
                "modbus.max_gap), to read in fewer requests"
            ),
        )
        return True

    def _second_chance(self, device: _Device, expected: Request) -> bool:
        """Whether the poll's first read, gone unanswered, is asked again after the poll's
        other reads (but those the device left unanswered at earlier polls): a device that
        sleeps between polls loses the request that wakes it and answers it then; one that
        answers the others but not it again is awake, and ignores the read (one longer than
        it takes, which is split then: ``_silent``). Not for a device with ``retries``, which
        asked it again at once, nor for a read it is known to ignore so."""
        if (
            not device.reads
            or expected is not device.reads[0]
            or device.retries
            or device.second_chance is not None
            or not device.pending
        ):
            return False
        device.second_chance = expected
        # after the reads the device answers, before those it is known to leave unanswered
        # (``_Device.start_poll``: one of them whose timeout stopped the poll would keep it unasked)
        silent = device.counters.silent
        at = next((i for i, r in enumerate(device.pending) if r in silent), len(device.pending))
        device.pending.insert(at, expected)
        return True

    def woken(self, device: _Device, again: bool) -> None:
        """The poll's first read was answered, ``again``: only when asked again after the
        poll's others (see ``_second_chance``). At :data:`SILENT_READ_POLLS` polls in a row
        so, told once: the device loses the request that wakes it."""
        if not again:
            device.woken_polls = 0
            return
        device.woken_polls += 1
        if device.woken_polls == SILENT_READ_POLLS:
            read = device.reads[0].read
            self.log.info(
                "device answers the first read of a poll only when asked again",
                **_read_fields(device, read),
                polls=device.woken_polls,
                hint="a device that sleeps between polls loses the request that wakes it: its "
                "values come all the same, at the cost of a timeout a poll; modbus.retries = 1 "
                "asks it again at once instead",
            )

    def _may_go_on(self, device: _Device, expected: Request) -> bool:
        """Whether the poll may go on to the device's next read after ``expected`` went
        unanswered: on RTU an answer to ``expected`` that comes late, after the line has
        been quiet for the timeout, would be taken for the next read's answer if it were of
        the same length (the same unit and function), so the poll stops then, as it does for
        a device that stopped answering. Modbus TCP tells answers apart by transaction id."""
        if self.transport == "tcp" or not device.pending:
            return True
        return device.pending[0].size != expected.size

    def _silent(self, device: _Device, now: float, expected: Request, *, awake: bool) -> None:
        """The device left ``expected`` unanswered, its request before answered: counted for
        the read when the device answered other requests since the read's last timeout
        (a device that answers nothing counts none). At :data:`SILENT_READ_POLLS` polls in a
        row a read of several values is split, as a read refused with exception 0x02 is, and
        one of a single value is told of in ``/status`` (``refused_hint``). ``awake``: the
        poll's first read, unanswered again after the device answered the poll's others."""
        counters = device.counters
        silent = counters.silent.get(expected)
        if silent is None:
            counters.silent[expected] = SilentRead(now, counters.transactions, last=now)
            return
        silent.last = now
        if counters.transactions == silent.answered:  # nothing answered since: no evidence
            return
        silent.count += 1
        silent.answered = counters.transactions
        if silent.count < SILENT_READ_POLLS:
            return
        # the first read of a poll may be lost by a device that sleeps between polls and
        # wakes on the request: it is not split for that (its parts would be lost in turn)
        first = (
            bool(device.reads) and device.reads[0] == expected and not device.retries and not awake
        )
        silent.first = first
        parts = None if first else self.split(device, expected)
        read = expected.read
        fields: dict[str, Any] = {**_read_fields(device, read), "polls": silent.count}
        if parts is None:
            if silent.count == SILENT_READ_POLLS:
                self.log.warning(
                    "device does not answer a read",
                    **fields,
                    registers=[register.name for register in read.registers],
                    hint=for_sensor(
                        f"it answers other reads at every poll, not this one: {SILENT_READ_ADVICE}"
                        + (f"; or {WAKE_LOST_ADVICE}" if first else ""),
                        device.sensor.name,
                    ),
                )
            return
        del counters.silent[expected]
        self.log.warning(
            "device does not answer a merged read; split it",
            **fields,
            reads=[(part.read.address, part.read.count) for part in parts],
            hint=for_sensor(
                f"it answers other reads at every poll, not this one of {read.count} "
                f"registers: {SILENT_READ_ADVICE}; set modbus.max_gap or "
                "modbus.max_registers so that reads stay within what it answers",
                device.sensor.name,
            ),
        )

    def written(
        self, device: _Device, expected: Request, code: int, frame: bytes, *, copy: bool = False
    ) -> None:
        """The device answered its set-up write ``expected``: taken when it echoed the
        write, else refused (an exception, counted by code) or not echoed as sent; either
        way not asked again before the bus opens again or the device comes back (a write it
        refuses is refused again), and logged. Still busy (0x06) after its busy retries (a
        device just powered up), it is asked again at the next poll, that busy answer
        counted as each busy answer is, up to :data:`WRITE_POLLS` polls in a row.

        ``copy``: ``frame`` is the request's own bytes on an RTU line whose adapter may echo
        (``serial.local_echo`` off), where the device's own answer, its copy of the write or
        its exception, may follow them (``LineEcho.copy_of_write``): the write is taken now, as
        ever, and its line waits until the bus knows (``tell_taken``, at the device's copy,
        at another frame or once its timeout has passed), or is dropped for the refusal's
        (``refused_after_echo``) or when that copy turns out to have been the adapter's echo
        (``unanswered_after_echo``), so that such a write is logged once, as what it was."""
        if code == BUSY_CODE and self._write_again(device, expected):
            device.refusals.busy(code, self._clock())
            return
        self._write_answered(device, expected, code, frame, copy=copy)

    def tell_taken(self, expected: Request | None = None) -> None:
        """Log the ``set-up write taken`` lines that waited for what followed the writes'
        answers (``written``'s ``copy``), if any: nothing refused the writes. ``expected``:
        that write's line only (its device's answer came after its echo)."""
        if expected is not None:
            fields = self._untold(expected)
            if fields is not None:
                self.log.info("set-up write taken", **fields)
            return
        untold, self._taken_untold = self._taken_untold, []
        for _, fields in untold:
            self.log.info("set-up write taken", **fields)

    def refused_after_echo(
        self, device: _Device, expected: Request, response: Response, polls: int
    ) -> None:
        """The device answered its set-up write ``expected`` with an exception (``response``)
        after the adapter's echo of the request had been taken for its answer (RTU with
        ``serial.local_echo`` off, functions 05 and 06, which the device answers with the
        request's bytes: ``LineEcho.copy_of_write``): the write's answer is the exception, counted
        by code and logged as a refusal is; busy (0x06), the write is asked again at the next
        poll (counted as each busy answer is), up to :data:`WRITE_POLLS` polls in a row
        (``polls``: those before this one, which taking the echo cleared); 0x05 (acknowledge)
        says it was taken, as the echo did (counted, as every exception is). The ``set-up
        write taken`` line that waited for it (``written``'s ``copy``) is not logged: the
        exception is the write's answer, logged as such (0x05: that line, acknowledged)."""
        code = response.exception_code
        fields = self._untold(expected)  # the echo's line: not its answer
        if code == ACKNOWLEDGE_CODE:
            _count(device, code)
            if fields is not None:
                self.log.info("set-up write taken", **fields, acknowledged=True)
            return
        if polls:
            device.write_polls[expected] = polls
        if code == BUSY_CODE and self._write_again(device, expected):
            device.refusals.busy(code, self._clock())
            if expected not in device.unwritten:
                device.unwritten.insert(0, expected)
            return
        self._write_answered(device, expected, code, response.frame)

    def unanswered_after_echo(
        self, device: _Device, expected: Request, polls: int, why: str
    ) -> None:
        """The set-up write ``expected``, taken at its request's own bytes (``written``'s
        ``copy``), had no second copy of them, and the line turned out to echo
        (``LineEcho.copy_settled``): those bytes were the adapter's echo, and the device did not
        answer. The ``set-up write taken`` line that waited is dropped, and the write is
        unanswered (``why``: the echo alone came), as one whose echo alone came on a line
        known to echo is: asked again at the next poll, up to :data:`WRITE_POLLS` polls in a
        row (``polls``: those before this one, which taking the echo cleared), then logged."""
        self._untold(expected)
        if polls:
            device.write_polls[expected] = polls
        if expected not in device.unwritten:
            device.unwritten = [w for w in device.writes if w is expected or w in device.unwritten]
        self._write_unanswered(device, expected, why)

    def unknown_at_close(
        self, device: _Device, expected: Request, polls: int, *, gone: bool
    ) -> None:
        """The set-up write ``expected``, taken at its request's own bytes (``written``'s
        ``copy``), was not settled when the port closed (``LineEcho.copies_unknown``): whether
        those bytes were the device's answer or the adapter's echo is not known. The
        ``set-up write taken`` line that waited is dropped, and the write is asked again at
        the device's next poll after the reopen, its polls in a row (``polls``: those before
        this one, which taking the copy cleared) as they were: neither an answer nor a miss.
        Of a device that left the bus (``gone``), only the line is dropped."""
        self._untold(expected)
        if gone:
            return
        if polls:
            device.write_polls[expected] = polls
        if expected not in device.unwritten:
            device.unwritten = [w for w in device.writes if w is expected or w in device.unwritten]

    def forget_taken(self, expected: Request) -> None:
        """Drop the waiting ``set-up write taken`` line of ``expected`` (``written``'s
        ``copy``), untold: its device left the bus, and that copy turned out to be the
        adapter's echo (``LineEcho.copy_settled``)."""
        self._untold(expected)

    def _untold(self, expected: Request) -> dict[str, Any] | None:
        """The waiting ``set-up write taken`` line of ``expected`` (its fields), taken out;
        None when none waits."""
        for at, (write, fields) in enumerate(self._taken_untold):
            if write is expected:
                del self._taken_untold[at]
                return fields
        return None

    def _write_answered(
        self, device: _Device, expected: Request, code: int, frame: bytes, *, copy: bool = False
    ) -> None:
        """``written``, once the write is not asked again for a busy answer: an exception
        counted by code, 0x05 (acknowledge: taken, still being worked on) too; ``copy``: the
        line of a write taken waits (see ``written``)."""
        assert isinstance(expected, WriteRequest)
        fields: dict[str, Any] = {"sensor": device.sensor.name, "write": expected.described()}
        device.write_polls.pop(expected, None)
        device.late_writes.discard(expected)
        device.late_refusals.pop(expected, None)
        if expected in device.unwritten:
            device.unwritten.remove(expected)
        if code:
            _count(device, code)
        if code == ACKNOWLEDGE_CODE:
            self.log.info("set-up write taken", **fields, acknowledged=True)
            return
        if code:
            held = self._errors.check(f"write:{device.sensor.name}:{expected.described()}")
            if held is not None:
                self.log.warning(
                    "device refused a set-up write",
                    **fields,
                    code=code,
                    meaning=EXCEPTION_NAMES.get(code, "not standard"),
                    hint=WRITE_BUSY_HINT if code == BUSY_CODE else WRITE_REFUSED_HINT,
                    suppressed=held,
                )
            return
        # (over Modbus TCP its transaction id was matched already: the echo is checked)
        if not expected.answers(frame, 0 if expected.rtu else int.from_bytes(frame[:2])):
            device.counters.errors["length"] += 1
            held = self._errors.check(f"write:{device.sensor.name}:{expected.described()}")
            if held is not None:
                self.log.warning(
                    "set-up write not echoed as sent",
                    **fields,
                    answer=frame.hex(" "),
                    hint=WRITE_REFUSED_HINT,
                    suppressed=held,
                )
            return
        if copy:
            self._taken_untold.append((expected, fields))
            return
        self.log.info("set-up write taken", **fields)

    def _write_again(self, device: _Device, expected: Request) -> bool:
        """The set-up write ``expected`` did not get through at this poll (unanswered, or
        busy): True when it is asked again at the next, as it is at :data:`WRITE_POLLS`
        polls in a row, after which it is given up."""
        polls = device.write_polls[expected] = device.write_polls.get(expected, 0) + 1
        return polls < WRITE_POLLS

    def _write_unanswered(self, device: _Device, expected: Request, why: str) -> None:
        """A set-up write went unanswered (its retries used up): asked again at the next
        poll, at most :data:`WRITE_POLLS` polls in a row; then not before the next open or
        return, and logged: as unanswered, or as taken when an answer of its came after its
        timeout meanwhile (:data:`LATE_WRITE_HINT`)."""
        if self._write_again(device, expected):
            return
        device.write_polls.pop(expected, None)
        if expected in device.unwritten:
            device.unwritten.remove(expected)
        late = expected in device.late_writes
        device.late_writes.discard(expected)
        refused = device.late_refusals.pop(expected, 0)
        assert isinstance(expected, WriteRequest)
        if late:  # its answers came, after the timeout: the device holds the value
            self.log.warning(
                "set-up write taken",
                sensor=device.sensor.name,
                write=expected.described(),
                late=True,
                hint=LATE_WRITE_HINT,
            )
            return
        held = self._errors.check(f"write:{device.sensor.name}:{expected.described()}")
        if held is not None and refused:  # its last answer, after the timeout, refused it
            self.log.warning(
                "device refused a set-up write",
                sensor=device.sensor.name,
                write=expected.described(),
                code=refused,
                meaning=EXCEPTION_NAMES.get(refused, "not standard"),
                late=True,
                hint=f"{WRITE_BUSY_HINT if refused == BUSY_CODE else WRITE_REFUSED_HINT}; "
                f"{LATE_REFUSAL_HINT}",
                suppressed=held,
            )
        elif held is not None:
            self.log.warning(
                "set-up write unanswered",
                sensor=device.sensor.name,
                write=expected.described(),
                hint=f"{self._write_unanswered_why(device, why)}; {WRITE_REFUSED_HINT}",
                suppressed=held,
            )

    def _write_unanswered_why(self, device: _Device, why: str) -> str:
        """What to check for a set-up write of ``device`` that went unanswered, the last time
        for ``why``: where that tells to check the unit id, the line's settings or the
        wiring while the device answers its other requests (they are right), what is left
        (:data:`WRITE_IGNORED_HINT`); else ``why``, its ``modbus.unit`` named."""
        answered = device.counters.transactions
        if not answered or why not in (ECHO_NO_ANSWER_HINT, NO_ANSWER_HINT[self.transport]):
            return naming_unit(why, device.unit)
        ignored = WRITE_IGNORED_HINT.format(answered=answered)
        return f"{ECHO_ALONE}: {ignored}" if why == ECHO_NO_ANSWER_HINT else ignored

    def split_refused(self, device: _Device, expected: Request, answered_before: bool) -> bool:
        """Whether ``expected``, refused with exception 0x02 or 0x03, is split now: at once when
        the device never answered it (a register it does not map, a count it does not take),
        else when it refused it at :data:`SPLIT_AFTER_REFUSALS` polls in a row (a device
        restarting, or a gateway whose module is away, refuses for a while what it reads
        otherwise; split, its reads would stay split for good)."""
        if not answered_before:
            return True
        now = self._clock()
        refused, sound_before, since = device.refused_in_row.get(
            expected, (0, device.sound_answers, now)
        )
        device.refused_in_row[expected] = (refused + 1, sound_before, since)
        if refused + 1 < SPLIT_AFTER_REFUSALS:
            return False
        # a device (or a gateway's module) away refuses every read alike: one that answers
        # its other reads meanwhile is present, and its map what changed; one that refuses
        # its every read for SPLIT_ALONE_S has changed its map too, most likely
        return device.sound_answers > sound_before or now - since >= SPLIT_ALONE_S

    def refused_alone(self, device: _Device, expected: Request, now: float) -> None:
        """The device refused ``expected``, a read of values that cannot be read apart, with
        exception 0x02 or 0x03 (outside its map): asked again at the first poll due
        :data:`REFUSED_READ_EVERY_S` after the poll that asked it, and, once refused so for
        :data:`REFUSED_FOR_GOOD_S` running, after a wait that doubles at each refusal up to
        ``[sensors.reconnect]`` ``max_delay_s``, which is logged once then when that is
        longer than the device's interval (the registers named, and their config keys);
        answered, it is asked at every poll again (``answered``)."""
        since, _, wait_s = device.refused_alone.get(expected, (now, 0.0, 0.0))
        if now - since < REFUSED_FOR_GOOD_S:
            wait_s = REFUSED_READ_EVERY_S
        else:
            if wait_s <= REFUSED_READ_EVERY_S and device.retry.backoff.max_s > device.interval_s:
                # (asked less often than polled after this: told once)
                self._tell_refused_for_good(device, expected, now - since)
            wait_s = max(REFUSED_READ_EVERY_S, min(2 * wait_s, device.retry.backoff.max_s))
        device.refused_alone[expected] = (since, device.poll_due + wait_s, wait_s)
        refusal = device.counters.refused.get(expected)
        if refusal is not None:  # (what ``/status`` tells of it)
            refusal.every_s = wait_s if wait_s > device.interval_s else 0.0

    def _tell_refused_for_good(self, device: _Device, expected: Request, for_s: float) -> None:
        read = expected.read
        names = [register.name for register in read.registers]
        configured = [register.name for register in device.sensor.config.registers]
        self.log.warning(
            "read refused for a minute; asked less often",
            **_read_fields(device, read),
            registers=names,
            keys=[
                f"registers[{configured.index(name)}]" if name in configured else name
                for name in names
            ],
            for_s=round(for_s, 1),
            every_s=device.retry.backoff.max_s,
            hint=(
                "the device refuses this read as outside its map: check each register's table "
                "and address against its manual, or remove it; it is asked again after a "
                "wait that doubles up to [sensors.reconnect] max_delay_s, and at every poll "
                "once answered"
            ),
        )

    def answered(self, device: _Device, expected: Request) -> None:
        """The device answered ``expected``: a read it refused as outside its map
        (``refused_alone``) goes at every poll again."""
        device.refused_alone.pop(expected, None)

    def at_every_poll(self, device: _Device) -> None:
        """The reads ``device`` refused as outside its map (``refused_alone``) go at every poll
        again, and ``/status`` says so: its port opened, or it answered after it was down
        (it may have restarted with another map)."""
        device.refused_alone.clear()
        for refusal in device.counters.refused.values():
            refusal.every_s = 0.0

    def split(self, device: _Device, expected: Request) -> list[Request] | None:
        """Split ``expected``, a read of several values that the device refused, into the
        reads :func:`~sensord.formats.modbus_plan.split` gives, for this poll and the ones after
        it; None when it cannot be split (one value, values read together such as a value
        and its scale factor, or a read split already). The split's line tells of the read's
        refusals, which end with it
        (:meth:`~sensord.refusals.DeviceRefusals.told_at_split`)."""
        if expected not in device.reads:
            return None
        reads = split(expected.read)
        if not reads:
            return None
        parts = [device.request(part) for part in reads]
        at = device.reads.index(expected)
        device.reads[at : at + 1] = parts
        device.pending[0:0] = parts
        device.counters.splits += 1
        device.counters.reads = len(device.reads)
        return parts

    def short(self, device: _Device, expected: Request, size: int, *, cut: bool = False) -> None:
        """The device answered ``expected`` with a sound frame that holds fewer bytes than the
        read asks for (a firmware that caps a read at fewer registers than the 125 Modbus
        allows answers with what it takes instead of exception 0x03), or with an answer ``cut``
        off after ``size`` bytes (see ``Bus._cut``): the read is split as for an exception 0x03, and
        the log names the counts. Only when its answer before was as short too: on RTU a
        frame of the device's unit id that another master asked for (a read of fewer
        registers) may come during the exchange and be taken for its answer, and once is no
        reason to split the read for as long as the bus runs."""
        key = -size if cut else size
        if device.short.get(expected) != key:
            device.short[expected] = key
            return
        del device.short[expected]
        parts = self.split(device, expected)
        if parts is None:
            return
        read = expected.read
        told = device.refusals.told_at_split(expected)
        if cut:
            self.log.warning(
                "device's answers to a merged read are cut off; split it",
                **_read_fields(device, read),
                reply_bytes=expected.size,
                received_bytes=size,
                reads=[(part.read.address, part.read.count) for part in parts],
                hint=(
                    f"its answers to {read.count} registers stop after {size} of their "
                    f"{expected.size} bytes twice running: a gateway or serial server that "
                    "passes only so much of an answer, or a device that takes fewer "
                    "registers a read; set modbus.max_registers to what gets through, to "
                    "read in fewer requests"
                ),
                **told,
            )
            return
        data = expected.head[-1]  # the reply's byte count, its last byte
        self.log.warning(
            "device answered a merged read with fewer values; split it",
            **_read_fields(device, read),
            data_bytes=data,
            answered_bytes=size - (expected.size - data),
            reads=[(part.read.address, part.read.count) for part in parts],
            hint=(
                f"the device takes fewer than {read.count} registers a read: set "
                "modbus.max_registers to what its manual gives, to read in fewer requests"
            ),
            **told,
        )

    def long(self, device: _Device, expected: Request, response: Response, others: bool) -> bool:
        """The device answered ``expected`` with a sound read reply of more values than asked
        for, its byte count matching its length: a Modbus server that answers a 32-bit value
        whole to a read of its first register (ESPHome's ``modbus_controller`` server) or
        firmware that answers a fixed block. The values asked for come first in it, at the
        offsets of a reply of the right length. True when they are to be read: its answer
        before was as long too, with no other frame of the device between them
        (``StrayFrames.late``:
        on RTU another master's read of the same unit may be answered while this one is in
        flight and be taken for its answer, the device's own answer following it); the first
        time it is read the log says so. ``others``: bytes nobody asked for came during the
        exchange or shortly before it (``Bus._heard_others``), as another master's request
        does before its answer: such an answer is never read, and the run starts again (when
        the device's own answers are lost, a PLC's longer answers to its own reads come one
        after the other, each as long as the one before)."""
        size = len(response.frame)
        if response.function_code != expected.read.function_code:
            return False
        if others:
            device.long.pop(expected, None)
            return False
        if device.long.get(expected) != size:
            device.long[expected] = size
            return False
        if expected not in device.long_read:
            device.long_read.add(expected)
            read = expected.read
            data = expected.head[-1]  # the byte count of a reply of the right length
            self.log.warning(
                "device answers a read with more values than asked for; the first are read",
                sensor=device.sensor.name,
                unit=device.unit,
                table=read.table,
                address=read.address,
                count=read.count,
                data_bytes=data,
                answered_bytes=data + size - expected.size,
                hint=(
                    f"its answers to a read of {read.count} hold {size - expected.size} bytes "
                    "more twice running; the values at the addresses asked for come first. A "
                    "server that answers a 32-bit value whole (ESPHome) does so when a read "
                    "ends inside one: give such a value its 32-bit type, which reads both of "
                    "its registers"
                ),
            )
        return True


def _count(device: _Device, code: int) -> None:
    """The device answered a set-up write with exception ``code``: counted by code."""
    exceptions = device.counters.exceptions
    exceptions[code] = exceptions.get(code, 0) + 1
