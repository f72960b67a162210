"""A Modbus device's exchanges as its bus counts them, and their snapshot.

The bus (``sensord.bus``) fills a device's ``ModbusCounters`` with plain integers from the
reader loop; the device's ``SensorRuntime`` keeps them, derives its stale hint from them
(``ModbusCounters.hint_since``) and takes a ``ModbusSnapshot`` of them for its read model,
which ``/status`` and ``/metrics`` render.
"""

from __future__ import annotations

import re
import shlex
from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Any

from sensord.formats.modbus import Request, exception_named
from sensord.formats.modbus_keys import reference_of

__all__ = [
    "MODBUS_ERROR_REASONS",
    "RTT_BUCKETS_S",
    "ModbusCounters",
    "ModbusMark",
    "ModbusSnapshot",
    "Refusal",
    "for_sensor",
]

#: Why an exchange with a Modbus device failed (besides timeouts and exception responses):
#: ``crc`` an answer whose CRC does not match (a frame like the reply, its unit id, function
#: code and byte count: it ends its exchange without a timeout), or over Modbus TCP bytes that
#: came in an exchange that timed out and formed no frame (on RTU such bytes are line noise:
#: the exchange is a timeout, and they are the bus's skipped bytes),
#: ``truncated`` a reply that began and was cut off (counted as a timeout too), ``unit``
#: a frame from another unit id, ``function`` a frame for another function code, ``length`` a
#: response holding fewer values than asked for, ``late`` a response after its timeout (with
#: no exchange in flight, from a device of the bus during another device's exchange, or with a
#: Modbus TCP transaction id already given up), ``unasked`` a frame of the device's unit id
#: while none of its requests awaited an answer (RTU), or a Modbus TCP reply with a
#: transaction id no request was sent with or to a request answered already, ``write`` a
#: request the port did not take.
MODBUS_ERROR_REASONS = (
    "crc",
    "truncated",
    "unit",
    "function",
    "length",
    "late",
    "unasked",
    "write",
)

#: A Modbus device's timeouts, exceptions by code and errors by reason at one moment.
ModbusMark = tuple[int, dict[int, int], dict[str, int], int]

#: Refusals in a row of one read after which ``/status`` tells of it (``refused_hint``).
REFUSED_HINT_COUNT = 2

#: Polls in a row in which a device answers other requests but not one read, after which the
#: read is split (several values) or told of in ``/status`` (``refused_hint``): many devices
#: do not answer a read of registers they do not map, or longer than they take, at all.
SILENT_READ_POLLS = 3

#: Polls in a row at which a read the device answered before is refused with exception 0x02
#: or 0x03 before it is split (one it never answered is split at its first refusal).
SPLIT_AFTER_REFUSALS = 3
#: How long a read the device answered before, and now refuses with 0x02 or 0x03 while it
#: answers no other read (a device with one read), is refused before it is split all the
#: same: a device away for a while refuses every read alike.
SPLIT_ALONE_S = 600.0

#: What a read the device does not answer, while it answers others, says to check.
SILENT_READ_ADVICE = (
    "a device that does not answer a read of registers its map does not hold, or of more "
    "registers than it takes: check the register map's tables and addresses against its "
    "manual (sensord modbus read --sensor NAME probes them), and modbus.max_registers"
)


def for_sensor(advice: str, sensor: str) -> str:
    """``advice`` with the probe command it names written for ``sensor``: ``sensord modbus
    read --sensor NAME`` becomes ``--sensor meter`` (``--sensor 'meter 2'``)."""
    return advice.replace("--sensor NAME", f"--sensor {shlex.quote(sensor)}")


#: What the first read of a poll left unanswered may be besides (``SILENT_READ_ADVICE``).
WAKE_LOST_ADVICE = (
    "a device that sleeps between polls and loses the request that wakes it, the first of "
    "each poll: modbus.retries = 1 asks it again"
)


@dataclass(slots=True)
class SilentRead:
    """A read the device left unanswered at ``count`` polls in a row since ``since`` (the
    bus's clock) while it answered other requests (``answered``: its transactions at the last
    one)."""

    since: float
    answered: int
    count: int = 1
    #: the poll's first read, of a device without retries: it may be lost by a device that
    #: wakes on it (``WAKE_LOST_ADVICE``)
    first: bool = False
    #: when it last went unanswered: the silent reads are asked last in a poll, the one
    #: asked longest ago first (a poll that stops at one leaves the others for the next)
    last: float = 0.0


#: Exception codes that say the device is busy (0x06) or working on it (0x05): the read is asked
#: again, and they are told apart (``sensord.refusals``).
BUSY_CODES = frozenset({0x05, 0x06})

#: A gateway's exceptions that say its device did not answer (0x0A no path, 0x0B no response):
#: counted as timeouts of the device, not as refusals of a read.
GATEWAY_CODES = frozenset({0x0A, 0x0B})

#: The exception codes that are no refusal of a read for ``refused_hint``.
NOT_REFUSALS = BUSY_CODES | GATEWAY_CODES

#: What a read refused with each code says to check (``refused_hint``).
REFUSAL_ADVICE = {
    0x01: "the device does not serve this function: check the register's table (input or "
    "holding registers, coils or discrete inputs) against its manual",
    0x02: "check the register map's tables and addresses against its manual (sensord modbus "
    "read --sensor NAME probes them)",
    0x03: "check the register map's types and counts against its manual (sensord modbus read "
    "--sensor NAME probes them)",
    0x04: "the device reports a failure of its own in serving it (a probe or module of it "
    "missing or broken): check the device",
}
OTHER_REFUSAL_ADVICE = "look the code up in the device's manual"

#: What the exception codes that refuse no read (:data:`NOT_REFUSALS`) say to check
#: (``hint_since``): the device or the gateway in front of it, not the register map.
NOT_REFUSAL_ADVICE = {
    0x05: "the device acknowledged the request without its answer yet: it is asked again",
    0x06: "the device is busy (starting up, or at a long task of its own): it is asked again",
    0x0A: "the gateway has no path to the device: check the gateway's serial port and its "
    "routing of the unit id",
    0x0B: "the device did not answer the gateway: check its unit id, its power and its wiring "
    "to the gateway",
}

#: The words of a hint that tell to check a device's unit id, not followed by its value yet.
_UNIT_CHECK = re.compile(r"check (?:the|its) unit id(?! \(modbus\.unit =)|check modbus\.unit(?! =)")


def naming_unit(text: str, unit: int | None) -> str:
    """``text`` with the configured ``unit`` named wherever it tells to check the unit id
    (``check the unit id (modbus.unit = 7)``, ``check modbus.unit = 7``); as is when
    ``unit`` is None."""
    if unit is None:
        return text

    def named(match: re.Match[str]) -> str:
        words = match.group(0)
        if words.endswith("modbus.unit"):
            return f"{words} = {unit}"
        return f"{words} (modbus.unit = {unit})"

    return _UNIT_CHECK.sub(named, text)


#: Upper bounds of the round-trip-time histogram of Modbus exchanges, seconds.
RTT_BUCKETS_S = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


@dataclass(slots=True)
class Refusal:
    """A read the device answered with exception ``code`` at its last answer, since ``since``
    (the bus's clock): whether that was logged, the refusals since the last line that told of
    it (``held``), all of them since ``since`` (``count``), and the wait after a refusal
    before the read goes again, at the first poll due then, where that is longer than the
    device's interval (``every_s``: a read of values that cannot be read apart refused as
    outside the device's map, ``DeviceReads.refused_alone``; 0: it goes at every poll)."""

    code: int
    since: float
    logged: bool
    held: int = 0
    count: int = 1
    every_s: float = 0.0


@dataclass
class ModbusCounters:
    """A Modbus device's exchanges, counted by the bus that runs them (plain integers)."""

    #: requests answered with a response that was used (values or an exception; not a
    #: gateway's exception 0x0A or 0x0B, which says the device did not answer)
    transactions: int = 0
    timeouts: int = 0
    errors: dict[str, int] = field(default_factory=lambda: dict.fromkeys(MODBUS_ERROR_REASONS, 0))
    #: exception responses by exception code: in time, and after their request's timeout
    #: (counted ``late`` too); not those counted ``unasked``, which answer no request of its
    exceptions: dict[int, int] = field(default_factory=dict)
    #: refused reads split (exception 0x02 or 0x03; a read split in turn counts again)
    splits: int = 0
    #: polls not made because the device fell a whole interval behind (see ``Bus._missed``)
    polls_missed: int = 0
    #: round-trip times: counts per bucket of RTT_BUCKETS_S (the last one: above them all)
    rtt_counts: list[int] = field(default_factory=lambda: [0] * (len(RTT_BUCKETS_S) + 1))
    rtt_sum_s: float = 0.0
    #: Modbus TCP: the replies counted as ``unasked`` that repeat one taken already (a
    #: gateway that sends some replies twice), told apart in the stale hint
    repeated: int = 0
    #: True while the device is quarantined after repeated timeouts
    down: bool = False
    #: the reads of one poll, after merging and splitting
    reads: int = 0
    #: "rtu" (a serial line, or a serial server's TCP connection) or "tcp" (Modbus TCP): what
    #: an unanswered request and a frame nobody asked for say there
    transport: str = "rtu"
    #: the device's ``modbus.unit``, named where a hint tells to check the unit id (None:
    #: not named)
    unit: int | None = None
    #: the reads whose last answer was an exception response, kept by the device's
    #: ``sensord.refusals.DeviceRefusals``
    refused: dict[Request, Refusal] = field(default_factory=dict)
    #: the reads the device leaves unanswered while it answers others (kept by the bus)
    silent: dict[Request, SilentRead] = field(default_factory=dict)

    def observe_rtt(self, seconds: float) -> None:
        self.rtt_sum_s += seconds
        self.rtt_counts[bisect_left(RTT_BUCKETS_S, seconds)] += 1

    def mark(self) -> ModbusMark:
        """What has gone wrong so far, for :meth:`hint_since`."""
        return self.timeouts, dict(self.exceptions), dict(self.errors), self.repeated

    def hint_since(self, mark: ModbusMark, sensor: str) -> str | None:
        """Why no values came since ``mark`` (exceptions, timeouts, answers after their
        timeout, spoilt answers), as a stale hint naming what to check (the probe command
        for ``sensor``); None when nothing went wrong since."""
        timeouts, exceptions, errors, repeated_at = mark
        hints = []
        answered = {
            code: n - exceptions.get(code, 0)
            for code, n in sorted(self.exceptions.items())
            if n > exceptions.get(code, 0)
        }
        if answered:
            codes = ", ".join(
                f"{n} request{'s' if n > 1 else ''} with {exception_named(code)}"
                for code, n in answered.items()
            )
            advice: list[str] = []
            for code in answered:  # each code's own advice; the manual's for the rest
                text = REFUSAL_ADVICE.get(code) or NOT_REFUSAL_ADVICE.get(
                    code, OTHER_REFUSAL_ADVICE
                )
                if text not in advice:
                    advice.append(text)
            hints.append(for_sensor(f"the device answered {codes}: {'; '.join(advice)}", sensor))
        late = self.errors["late"] - errors.get("late", 0)
        unanswered = self.timeouts - timeouts
        if unanswered and late:
            # the answers came, after their timeout: the unit id, the line and the wiring work
            hints.append(
                f"{unanswered} request{'s' if unanswered > 1 else ''} went unanswered in time "
                f"and {late} answer{'s' if late > 1 else ''} came after modbus.timeout_s: "
                "raise it"
            )
        elif unanswered:
            check = (
                # a device that answered before had the right unit id and line settings
                f"that the gateway still reaches the device, and its power (it has answered "
                f"{self.transactions} of its requests, so its unit id was right when it last "
                "answered)"
                if self.transactions and self.transport == "tcp"
                else f"its power supply and its connection (it has answered {self.transactions} "
                "of its requests, so its unit id and the line's settings were right when it "
                "last answered)"
                if self.transactions
                else "the unit id, and that the gateway reaches the device"
                if self.transport == "tcp"
                else "the unit id, the baud rate and parity, and the wiring (A and B swapped, "
                "termination)"
            )
            hints.append(
                f"{unanswered} request{'s' if unanswered > 1 else ''} went unanswered: check "
                f"{check}"
            )
        elif late:
            hints.append(
                f"{late} answer{'s' if late > 1 else ''} came after modbus.timeout_s: raise it"
            )
        unasked = self.errors["unasked"] - errors.get("unasked", 0)
        if unasked and self.transport == "tcp":
            repeated = self.repeated - repeated_at
            foreign = unasked - repeated
            if foreign:
                hints.append(
                    f"{foreign} repl{'ies' if foreign > 1 else 'y'} came with a transaction id "
                    "no request was sent with: the gateway or device does not return the "
                    "request's transaction id, or a gateway shared by several clients mixes up "
                    "their replies"
                )
            if repeated:
                hints.append(
                    f"{repeated} repl{'ies' if repeated > 1 else 'y'} repeated one taken "
                    "already: the gateway repeats some replies, or the network path "
                    "duplicates packets"
                )
        elif unasked:
            hints.append(
                f"{unasked} frame{'s' if unasked > 1 else ''} of its unit id came while none "
                "of its requests awaited an answer: another master polls the line, or two "
                "devices have its unit id"
            )
        short = self.errors["length"] - errors.get("length", 0)
        if short:
            hints.append(
                f"{short} sound answer{'s' if short > 1 else ''} held another number of "
                "values than the read asked for: set modbus.max_registers to what the "
                "device's manual gives a read, or, where a read of a single value is "
                "answered so, check its type (a 32-bit value is 2 registers) and address "
                "against the manual"
            )
        spoilt = {
            reason: n - errors.get(reason, 0)
            for reason, n in self.errors.items()
            if n > errors.get(reason, 0) and reason not in ("late", "unasked", "length")
        }
        if spoilt:
            reasons = ", ".join(f"{reason} {n}" for reason, n in spoilt.items())
            if self.transport == "tcp":
                if "crc" in spoilt:
                    why = (
                        "bytes came that make no Modbus TCP frame, so the gateway or device "
                        "does not speak Modbus TCP on this port (RTU frames over TCP are read "
                        "with socket://HOST:PORT), or another service listens there"
                    )
                elif set(spoilt) == {"truncated"}:
                    why = (
                        "the gateway cut its answers short: check it (its log, its firmware) "
                        "and its link to the device"
                    )
                else:
                    why = (
                        "check the gateway (its log, its firmware), its link to the device, "
                        "and the network to it"
                    )
                hints.append(f"answers were spoilt ({reasons}): {why}")
            else:
                hints.append(
                    f"answers were spoilt ({reasons}): check the baud rate and parity, the "
                    "bus's termination and biasing, and that no two devices have its unit id "
                    "(their answers collide)"
                    + (
                        "; a sound frame of another unit id: another master may poll the line"
                        if "unit" in spoilt
                        else ""
                    )
                )
        return naming_unit("; ".join(hints), self.unit) or None

    def snapshot(self, bus: str, now: float, *, bus_open: bool = True) -> ModbusSnapshot:
        """The counters at ``now``; ``bus_open``: whether the bus's port is open (a device
        whose bus cannot open is not polled)."""
        return ModbusSnapshot(
            bus=bus,
            device="down" if self.down else "polling" if bus_open else "bus closed",
            reads=self.reads,
            transactions=self.transactions,
            timeouts=self.timeouts,
            errors=dict(self.errors),
            exceptions=dict(self.exceptions),
            splits=self.splits,
            polls_missed=self.polls_missed,
            rtt_counts=tuple(self.rtt_counts),
            rtt_sum_s=self.rtt_sum_s,
            refused=tuple(self.refused.items()),
            silent=tuple(
                (request, read.since, read.count, read.first)
                # copied at once: the reader thread may change it while this runs
                for request, read in tuple(self.silent.items())
                if read.count >= SILENT_READ_POLLS
            ),
            at=now,
        )


@dataclass(frozen=True, slots=True)
class ModbusSnapshot:
    """A Modbus device's exchanges at one moment (see ``ModbusCounters``)."""

    #: the port of its bus
    bus: str
    #: "polling"; "down" while quarantined after repeated timeouts; "bus closed" while the
    #: bus's port is not open (the sensor's state says why)
    device: str
    reads: int
    transactions: int
    timeouts: int
    errors: dict[str, int]
    exceptions: dict[int, int]
    splits: int
    polls_missed: int
    rtt_counts: tuple[int, ...]
    rtt_sum_s: float
    #: the reads refused at their last answer, as the bus keeps them (turned into JSON for
    #: ``/status`` only), and the moment of the snapshot (the bus's clock is the sensor's)
    refused: tuple[tuple[Request, Refusal], ...] = ()
    #: the reads of one value the device leaves unanswered at every poll while it answers
    #: others: ``(read, since, polls in a row)``
    silent: tuple[tuple[Request, float, int, bool], ...] = ()
    at: float = 0.0

    def refused_hint(self, sensor: str) -> str | None:
        """While the device refuses a read at every poll (twice in a row or more; not a busy
        answer, which is asked again, nor a gateway's 0x0A or 0x0B, which says the device did not
        answer): the registers it refuses, with the code and for how long, and what the codes
        say to check (the probe command for ``sensor``), for ``/status``; None otherwise."""
        refused = [
            (request, refusal)
            for request, refusal in self.refused
            if refusal.count >= REFUSED_HINT_COUNT and refusal.code not in NOT_REFUSALS
        ]
        silent = self._silent_hint(sensor)
        if not refused:
            return silent
        told = "; ".join(
            f"{', '.join(register.name for register in request.read.registers)} "
            f"({_where(request.read.table, request.read.address)}) with "
            f"{exception_named(refusal.code)} {refusal.count} times in a row, for "
            f"{max(0.0, self.at - refusal.since):.0f} s"
            + (
                f", asked only at the first poll {refusal.every_s:g} s after each refusal, not "
                "at every poll"
                if refusal.every_s
                else ""
            )
            for request, refusal in refused
        )
        advice = dict.fromkeys(
            REFUSAL_ADVICE.get(refusal.code, OTHER_REFUSAL_ADVICE) for _, refusal in refused
        )
        hint = f"the device refuses {told}: their values never come; {'; '.join(advice)}"
        hint = for_sensor(hint, sensor)
        return hint if silent is None else f"{hint}; and {silent}"

    def _silent_hint(self, sensor: str) -> str | None:
        if not self.silent:
            return None
        told = "; ".join(
            f"{', '.join(register.name for register in request.read.registers)} "
            f"({_where(request.read.table, request.read.address)}) at {count} polls in a row, for "
            f"{max(0.0, self.at - since):.0f} s"
            for request, since, count, _ in self.silent
        )
        wake = f"; or {WAKE_LOST_ADVICE}" if any(first for *_, first in self.silent) else ""
        return for_sensor(
            f"the device answers other reads but not {told}: their values never come; "
            f"{SILENT_READ_ADVICE}{wake}",
            sensor,
        )

    def as_json(self) -> dict[str, Any]:
        return {
            "bus": self.bus,
            "device": self.device,
            "reads_per_poll": self.reads,
            "transactions": self.transactions,
            "timeouts": self.timeouts,
            "errors": dict(self.errors),
            "exceptions": {str(code): n for code, n in sorted(self.exceptions.items())},
            "split_reads": self.splits,
            "polls_missed": self.polls_missed,
            "unanswered_reads": [
                {
                    "registers": [register.name for register in request.read.registers],
                    "table": request.read.table,
                    "address": request.read.address,
                    "for_s": round(max(0.0, self.at - since), 3),
                    "polls": count,
                }
                for request, since, count, _ in self.silent
            ],
            "refused_reads": [
                {
                    "registers": [register.name for register in request.read.registers],
                    "table": request.read.table,
                    "address": request.read.address,
                    "code": refusal.code,
                    "for_s": round(max(0.0, self.at - refusal.since), 3),
                    "refusals": refusal.count,
                }
                for request, refusal in self.refused
            ],
        }


def _where(table: str, address: int) -> str:
    """``input 1000, ref 31001``: a read's table and 0-based address, and the reference a
    device manual gives it (what ``sensord check`` accepts as ``ref``)."""
    return f"{table} {address}, ref {reference_of(table, address)}"
