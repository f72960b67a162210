"""What a device on a bus refuses or answers busy, and the journal lines that tell of it.

The bus (:mod:`sensord.bus`) runs the exchanges and decides what each answer means for its
schedule: a busy answer is asked again, a refused merged read is split. What the device
refused, since when and how often, and which of it the log has told, is kept here, one
:class:`DeviceRefusals` per device, which the bus calls once per event with its clock's
``now``:

* an exception response (:meth:`DeviceRefusals.exception`) is counted by code; a read refused
  with one code at every poll is logged when that starts (``exception response``), summed up
  once per :data:`REFUSALS_SUMMARY_S` (``exception responses unchanged``), and logged again
  when its code changes (``previous_code``, ``previous_suppressed``) or it is answered
  (:meth:`DeviceRefusals.answered`: ``read answered again``). A start is logged at most once
  a minute per read and code (the bus's rate limit); the refusals that limit held back are
  handed to the next line of their read and code with ``RateLimiter.hold`` and ``release``,
  and those of a read answered meanwhile are told by its ``read answered again`` line once
  the limit lets one through (:meth:`DeviceRefusals.tell_untold`), so that the log's counts
  add up to the exceptions;
* a refused merged read that the bus splits is told by the split's line, with the refusals of
  that read not told before (:meth:`DeviceRefusals.told_at_split`, also for a read split for
  its short answers);
* a device that answers busy (exception 0x06 or 0x05) in :data:`BUSY_POLLS_LOGGED` polls running
  is logged then (``device busy at every poll; its reads are asked again``), summed up once
  per :data:`REFUSALS_SUMMARY_S` while it stays so (``device still busy``), and logged when a
  poll has no busy answer (``device no longer busy``); the odd busy answer is only counted.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from structlog.typing import FilteringBoundLogger

from sensord.formats.modbus import EXCEPTION_NAMES, Request, exception_named
from sensord.formats.modbus_plan import Read
from sensord.log import RateLimiter
from sensord.modbus_state import (
    SPLIT_AFTER_REFUSALS,
    SPLIT_ALONE_S,
    ModbusCounters,
    Refusal,
    for_sensor,
)
from sensord.sensor import SensorRuntime

__all__ = ["BUSY_POLLS_LOGGED", "REFUSALS_SUMMARY_S", "DeviceRefusals"]

#: A read that a device keeps refusing with one exception code is logged when the refusals
#: start (``exception response``, with the hint) and when the code changes or the read is
#: answered again (``read answered again``); meanwhile its device's refusals are summed up
#: once per this long (``exception responses unchanged``, with how many came). A device that
#: refuses ten reads at every poll would otherwise log ten lines a minute for as long as it runs.
#: A device busy at every poll is summed up as often (``device still busy``).
REFUSALS_SUMMARY_S = 3600.0

#: The hint of a refusal of a read the device answered before, by code: not its register
#: map, which has not changed, but a state of the device that passes.
ANSWERED_BEFORE_REFUSAL: Mapping[int, str] = {
    2: "the device answered this read before: a device restarting, or a gateway whose "
    "module is away, refuses for a while what it maps; the read is split only if it is "
    f"refused at {SPLIT_AFTER_REFUSALS} polls running while its other reads are answered, "
    f"or for {SPLIT_ALONE_S / 60:g} minutes",
    3: "the device answered this read before: a device restarting refuses for a while "
    f"what it takes; the read is split only if it is refused at {SPLIT_AFTER_REFUSALS} "
    f"polls running while its other reads are answered, or for {SPLIT_ALONE_S / 60:g} "
    "minutes",
    4: "the device answered this read before: a device restarting, or failing inside, "
    f"answers {exception_named(4)} for a while; if it lasts, check the device",
}

#: A device that answers busy in this many polls running is logged; the odd busy answer,
#: asked again and answered, is worth no line (see :meth:`DeviceRefusals.busy`).
BUSY_POLLS_LOGGED = 5


class DeviceRefusals:
    """The refused reads and busy spells of one device on a bus, and the lines that tell of
    them: on its sensor's log, and the split lines on the bus's (``bus_log``). ``errors`` is
    the bus's rate limit of its lines, which the lines of a refusal's start share."""

    __slots__ = (
        "_bus_log",
        "_counters",
        "_errors",
        "_name",
        "_sensor_log",
        "busy_in_poll",
        "busy_log_after",
        "busy_logged",
        "busy_polls",
        "busy_since",
        "busy_summary_at",
        "busy_untold",
        "refusals_summary_at",
        "refused",
        "untold",
    )

    def __init__(
        self, sensor: SensorRuntime, errors: RateLimiter, bus_log: FilteringBoundLogger
    ) -> None:
        assert sensor.modbus is not None
        self._name = sensor.name
        self._sensor_log = sensor.log
        self._counters: ModbusCounters = sensor.modbus
        self._errors = errors
        self._bus_log = bus_log
        #: polls running that got a busy answer asked again (the poll in hand included when
        #: ``busy_in_poll``), the busy answers asked again that no line told of yet, whether
        #: the run was logged, since when, and when it is next summed up (see ``busy``)
        self.busy_polls = 0
        self.busy_in_poll = False
        self.busy_untold = 0
        self.busy_logged = False
        self.busy_since = 0.0
        self.busy_summary_at = float("inf")
        #: no spell of busy polls is logged before then (a minute after the last one ended)
        self.busy_log_after = float("-inf")
        #: the reads whose last answer was an exception response (see REFUSALS_SUMMARY_S;
        #: the counters' own, which ``/status`` shows)
        self.refused: dict[Request, Refusal] = self._counters.refused
        self.refused.clear()
        #: reads answered again whose refusals no line told of (the rate limit of their
        #: lines held them back), with when they were answered: told of by a ``read answered
        #: again`` line once that limit lets one through, unless refused again before
        self.untold: dict[Request, tuple[Refusal, float]] = {}
        #: when the refusals are next summed up
        self.refusals_summary_at = float("inf")

    def _key(self, code: int, read: Read) -> str:
        """The rate limit's key of the ``exception response`` lines of ``read`` and ``code``."""
        return f"exception:{self._name}:{code}:{read.table}:{read.address}:{read.count}"

    # -- busy answers -----------------------------------------------------------------------------
    def busy(self, code: int, now: float) -> None:
        """The device answered busy (exception ``code``) and is asked again: counted, and
        logged once it has done so in :data:`BUSY_POLLS_LOGGED` polls running (with the busy
        answers not told of before, the odd ones of earlier polls included), then summed up
        once every :data:`REFUSALS_SUMMARY_S` while it goes on (see ``poll_over`` for its
        end). A spell that starts within a minute of the end of the last one logged is told
        of by the next line only (a device busy by turns logs two lines a minute at most)."""
        exceptions = self._counters.exceptions
        exceptions[code] = exceptions.get(code, 0) + 1
        self.busy_untold += 1
        if not self.busy_in_poll:
            self.busy_in_poll = True
            self.busy_polls += 1
        if self.busy_logged:
            if now >= self.busy_summary_at:
                self.busy_summary_at = now + REFUSALS_SUMMARY_S
                self._sensor_log.warning(
                    "device still busy",
                    code=code,
                    polls=self.busy_polls,
                    for_s=round(now - self.busy_since),
                    suppressed=self.busy_untold,
                )
                self.busy_untold = 0
            return
        if self.busy_polls < BUSY_POLLS_LOGGED or now < self.busy_log_after:
            return
        self.busy_logged = True
        self.busy_since = now
        self.busy_summary_at = now + REFUSALS_SUMMARY_S
        self._sensor_log.warning(
            "device busy at every poll; its reads are asked again",
            code=code,
            meaning=EXCEPTION_NAMES.get(code, "not standard"),
            polls=self.busy_polls,
            suppressed=self.busy_untold - 1,
            hint=(
                "the device answers that it is busy and gives its values only when asked "
                "again (modbus.busy_wait_s later): it may be busy with other work (another "
                "master, its own measurement cycle); a longer modbus.interval_s or "
                "modbus.busy_wait_s may find it free"
            ),
        )
        self.busy_untold = 0

    def poll_over(self, now: float) -> None:
        """The poll before the device's next one ended, in a run of busy polls (the bus
        calls it while ``busy_polls``): one without a busy answer ends the run, logged when
        the run was (with the busy answers since its last line); those of a run not logged go
        to the next busy line."""
        if self.busy_in_poll:
            self.busy_in_poll = False
            return
        if self.busy_logged:
            self._sensor_log.info(
                "device no longer busy",
                busy_for_s=round(now - self.busy_since),
                suppressed=self.busy_untold,
            )
            self.busy_untold = 0
            self.busy_logged = False
            self.busy_summary_at = float("inf")
            self.busy_log_after = now + self._errors.interval_s
        self.busy_polls = 0

    # -- refused reads ----------------------------------------------------------------------------
    def told_at_split(self, expected: Request) -> dict[str, Any]:
        """``expected`` was split: its refusal is over, and the fields of the split's line
        that tell of its refusals not told of before (``suppressed``: those since its last
        line, its refusal's, and those the rate limit of its lines holds, since the read has
        no line after its split), and the code of its last refusal (``previous_code``)."""
        refusal = self.refused.pop(expected, None)
        read = expected.read
        held = sum(self._errors.take(self._key(code, read)) for code in self._counters.exceptions)
        if refusal is None:
            return {"suppressed": held}
        return {"suppressed": held + refusal.held, "previous_code": refusal.code}

    def exception(
        self,
        expected: Request,
        code: int,
        now: float,
        parts: list[Request] | None,
        *,
        answered_before: bool = False,
    ) -> None:
        """The device answered ``expected`` with exception ``code``: counted, and logged as
        the line of its split into ``parts`` when the bus split the read for it, else as the
        start or the change of its refusal (at most once a minute per read and code: a read
        that is refused and answered by turns), each refused register named, or summed up
        with the device's other refusals once per :data:`REFUSALS_SUMMARY_S` while it stays
        refused with that code. A read the device ``answered_before`` is not told to be
        outside its map: the device refuses it for a while (restarting, a gateway's module
        away)."""
        if self.untold:  # refused again: its next line tells of the refusals before
            self.untold.pop(expected, None)
        exceptions = self._counters.exceptions
        exceptions[code] = exceptions.get(code, 0) + 1
        read = expected.read
        if parts is not None:
            told = self.told_at_split(expected)
            if code == 3:
                told["hint"] = (
                    f"the device may take fewer than {read.count} registers a read: set "
                    "modbus.max_registers to what its manual gives, to read in fewer requests"
                )
            elif code == 2 and len(parts) > 2:
                told["hint"] = (
                    "the device does not map a register between these values, or it answers "
                    "exception 0x02 to a read longer than it takes (some energy meters above 50 "
                    "registers): then set modbus.max_registers to what it takes, to read in "
                    f"fewer requests than these {len(parts)}"
                )
            self._bus_log.warning(
                "device refused a merged read; split it",
                sensor=self._name,
                code=code,
                table=read.table,
                address=read.address,
                count=read.count,
                reads=[(part.read.address, part.read.count) for part in parts],
                **told,
            )
            return
        refused = self.refused
        refusal = refused.get(expected)
        if refusal is not None and refusal.code == code:  # the read is still refused
            refusal.held += 1
            refusal.count += 1
            if now >= self.refusals_summary_at:
                self._unchanged(now)
            return
        # a refusal starts, or its code changes: logged at most once a minute per read and
        # code (a read that is refused and answered by turns), each refused register named
        held = self._errors.check(self._key(code, read))
        if not refused:
            self.refusals_summary_at = now + REFUSALS_SUMMARY_S
        refused[expected] = Refusal(code, now, held is not None)
        if held is None:
            if refusal is not None:  # the old code's held back refusals go to its next line
                self._errors.hold(self._key(refusal.code, read), refusal.held)
            return
        fields: dict[str, Any] = {}
        if refusal is not None:
            fields["previous_code"] = refusal.code
            fields["previous_suppressed"] = refusal.held
        if answered_before and code in ANSWERED_BEFORE_REFUSAL:
            fields["hint"] = ANSWERED_BEFORE_REFUSAL[code]
        elif code == 2:
            fields["hint"] = for_sensor(
                "the device does not map these registers: check their table and address "
                "against its manual (sensord modbus read --sensor NAME probes them)",
                self._name,
            )
        elif code == 1:
            if read.table in ("holding", "input"):
                what = f"{read.table} registers"
                tables = (
                    "input registers, refs 3xxxx, are read with function 04, holding registers, "
                    "refs 4xxxx, with 03; many devices keep their measurements in one of them only"
                )
            else:
                what = "coils" if read.table == "coil" else "discrete inputs"
                tables = (
                    "coils, refs 0xxxx, are read with function 01, discrete inputs, refs 1xxxx, "
                    "with 02; some devices keep their flags in registers instead"
                )
            fields["hint"] = (
                f"the device does not take function {read.function_code:02d}, which reads "
                f"{what}: check the table of these values against its manual ({tables})"
            )
        elif code == 4 and len(read.registers) > 1:
            fields["hint"] = for_sensor(
                "some devices answer exception 0x04 to a read across a boundary of their register "
                "map: when each of these registers reads alone (sensord modbus read "
                "--sensor NAME), read them apart with modbus.max_gap = 0 or a smaller "
                "modbus.max_registers",
                self._name,
            )
        self._sensor_log.warning(
            "exception response",
            code=code,
            meaning=EXCEPTION_NAMES.get(code, "not standard"),
            registers=[register.name for register in read.registers],
            table=read.table,
            address=read.address,
            count=read.count,
            suppressed=held,
            **fields,
        )

    def _unchanged(self, now: float) -> None:
        """The reads the device still refuses as it did, each with its code, since when, and
        the refusals since they were last told of (``suppressed``: their sum). A read told of
        here has its answer logged (``read answered again``) even when its start was held
        back by the rate limit, and the refusals that rate limit held back are told of here
        (the read's next line may be that answer, which tells none of them)."""
        self.refusals_summary_at = now + REFUSALS_SUMMARY_S
        reads = []
        held = 0
        for request, refusal in self.refused.items():
            read = request.read
            if not refusal.logged:
                refusal.held += self._errors.take(self._key(refusal.code, read))
            reads.append(
                {
                    "registers": [register.name for register in read.registers],
                    "table": read.table,
                    "address": read.address,
                    "count": read.count,
                    "code": refusal.code,
                    "for_s": round(now - refusal.since),
                    "suppressed": refusal.held,
                }
            )
            held += refusal.held
            refusal.held = 0
            refusal.logged = True  # told of: its answer is logged too
        self._sensor_log.warning("exception responses unchanged", reads=reads, suppressed=held)

    def answered(self, expected: Request, now: float) -> None:
        """``expected`` was answered (the bus calls it while ``refused`` holds a read): when
        the device refused it at its last answer, logged when its refusal was; otherwise its
        refusals are handed to the rate limit of its code's lines, and logged with those that
        limit holds as soon as it lets a line through (now, or in ``tell_untold``), so that
        the log's counts add up to the exceptions also when the read stays answered."""
        refusal = self.refused.pop(expected, None)
        if refusal is None:
            return
        if not refusal.logged:  # told of with those the rate limit of its lines holds
            key = self._key(refusal.code, expected.read)
            self._errors.hold(key, refusal.held)
            refusal.held = 0
            told = self._errors.release(key)
            if told is None:  # told of once the limit lets a line through (``tell_untold``)
                self.untold[expected] = (refusal, now)
                return
            refusal.held = told
        self._answered_again(expected, refusal, now)

    def _answered_again(self, expected: Request, refusal: Refusal, answered_at: float) -> None:
        read = expected.read
        self._sensor_log.info(
            "read answered again",
            registers=[register.name for register in read.registers],
            table=read.table,
            address=read.address,
            count=read.count,
            code=refusal.code,
            refused_for_s=round(answered_at - refusal.since, 3),
            suppressed=refusal.held,
        )

    def tell_untold(self, *, last: bool = False) -> None:
        """The reads answered again while the rate limit of their lines held their refusals
        back: each logged (``read answered again``, with those refusals) once that limit lets
        a line through, unless a line of its code told of them meanwhile; each at once when
        ``last`` (the bus stops, or the device leaves it)."""
        if not self.untold:
            return
        for expected, (refusal, answered_at) in list(self.untold.items()):
            key = self._key(refusal.code, expected.read)
            told = self._errors.take(key) if last else self._errors.release(key)
            if told is None:
                continue
            del self.untold[expected]
            if told:
                refusal.held = told
                self._answered_again(expected, refusal, answered_at)
