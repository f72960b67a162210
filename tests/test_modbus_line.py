"""Modbus RTU on the line: what the bus does with answers that come late, slowly, spoilt or
while nothing was asked, and how a refused merged read is split.

Most tests drive a ``Bus`` on a pty by hand on a clock the test moves (:class:`HandBus`): the
test's end of the pty plays the devices, so every byte and every instant is the test's
choice. The others read real pymodbus servers behind a relay that holds their answers back.
"""

from __future__ import annotations

import contextlib
import itertools
import queue
import re
import struct
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, Protocol

import pytest
from harness.collector import RuntimesView
from harness.common import wait_for
from harness.config import load_sensors as load
from harness.modbus import ModbusServer, PtyRelay, read_all, rtu_frame, run_reader_until
from harness.pty import PtyPair
from structlog.testing import capture_logs
from test_modbus import ANOTHER_MASTER_AT_1, device, latest

from sensord.bus import Bus
from sensord.export import MetricsRegistry
from sensord.formats.base import RegisterSpec
from sensord.formats.modbus_plan import Read, plan, split, splits
from sensord.modbus_state import ModbusCounters
from sensord.ports import SYS_ROOT
from sensord.reader import Reader
from sensord.sensor import SensorRuntime


def float32(value: float) -> list[int]:
    """The two registers of a big-endian float32."""
    high, low = struct.unpack(">HH", struct.pack(">f", value))
    return [high, low]


def read_reply(unit: int, words: list[int], function: int = 3) -> bytes:
    """The RTU answer of ``unit`` to a register read: ``words``, with their byte count."""
    data = b"".join(w.to_bytes(2, "big") for w in words)
    return rtu_frame(bytes([unit, function, len(data)]) + data)


def read_request(unit: int, address: int, count: int, function: int = 3) -> bytes:
    return rtu_frame(bytes([unit, function]) + struct.pack(">HH", address, count))


class HandLine(Protocol):
    """The far end of a bus's port, where a test plays its devices (a :class:`PtyPair`'s
    master, or a serial server's serial side): ``path`` is what the bus opens."""

    path: str

    def write(self, data: bytes) -> None: ...

    def read(self, size: int, timeout_s: float = 2.0) -> bytes: ...


class HandBus:
    """A bus on ``pty`` whose devices the test plays at the pty's other end, on a clock that
    stands still until the test moves it (``at``); the bus reads its adapter's facts (an FTDI
    latency timer) from the sysfs at ``sys_root``."""

    def __init__(self, pty: HandLine, *tables: dict[str, Any], sys_root: str = SYS_ROOT) -> None:
        self.pty = pty
        self.now = 100.0
        config = load(*({**t, "port": pty.path} for t in tables))
        self.runtimes = {s.name: SensorRuntime(s, clock=self.clock) for s in config.sensors}
        self.bus = Bus("bus:" + pty.path, config.sensors[0], clock=self.clock, sys_root=sys_root)
        for runtime in self.runtimes.values():
            self.bus.add(runtime)
        assert self.bus.try_open()
        #: the exchange in flight at the last look: its request was read then
        self._looked: object = None

    def clock(self) -> float:
        return self.now

    def counters(self, name: str) -> ModbusCounters:
        counters = self.runtimes[name].modbus
        assert counters is not None
        return counters

    def tick(self, at: float) -> bytes:
        """Move the clock to ``at``, run the bus's timers and return what it wrote."""
        self.now = at
        self.bus.tick(at)
        return self.sent()

    def sent(self) -> bytes:
        """What the bus wrote since the last look (a request: 8 bytes, more for a write of
        function 15 or 16): nothing when no exchange is in flight (the bus writes a request
        as it starts one, and only then: an exchange looked at before is only looked at
        again for bytes already there)."""
        flight = self.bus.in_flight
        if flight is None:
            return b""
        started, self._looked = flight is not self._looked, flight
        size = len(flight.request)
        data = self.pty.read(size, timeout_s=0.05 if started else 0.001)
        assert len(data) in (0, size), data.hex()
        return data

    def receive(self, at: float, data: bytes, *, look: bool = True) -> bytes:
        """The devices send ``data`` at ``at``: the bus reads it (as the reader hands it
        over, in the chunks the pty gives) and whatever it wrote in return is returned
        (unless ``look`` is False: nothing is looked for, and b"" returned)."""
        self.now = at
        self.pty.write(data)
        source = self.bus.source
        assert source is not None
        got = 0
        deadline = time.monotonic() + 2.0
        while got < len(data) and time.monotonic() < deadline:
            chunk = source.read()
            if chunk:
                got += len(chunk)
                self.bus.feed(chunk)
            else:
                time.sleep(0.002)
        assert got == len(data)
        return self.sent() if look else b""

    def values(self, name: str) -> dict[str, tuple[float, float, int] | None]:
        """Each channel's window: (min, max, count), None before its first reading."""
        return {
            ch.name: None if ch.stats is None else (ch.stats.min, ch.stats.max, ch.stats.count)
            for ch in self.runtimes[name].snapshot().channels
        }

    def close(self) -> None:
        self.bus.stop()


METER = [
    {"name": "voltage", "table": "holding", "address": 0, "type": "float32"},
    {"name": "energy", "table": "holding", "address": 100, "type": "float32"},
]

#: The meter's answers to its voltage and energy reads: one length, a float32 each
VOLTAGE, ENERGY = read_reply(1, float32(230.0)), read_reply(1, float32(5000.0))


def meter_bus(pty: HandLine) -> HandBus:
    """The meter (unit 1, :data:`METER`) alone on the bus, polled every 0.5 s, its reads'
    timeout 0.3 s."""
    return HandBus(pty, device("meter", "", 1, METER, interval_s=0.5, timeout_s=0.3))


def energy_read_timed_out(hand: HandBus) -> None:
    """The meter's first poll at 100.0: its voltage read answered at 100.01 (230.0), its
    energy read asked at 100.015 and timed out at 100.33, its answer owed."""
    assert hand.tick(100.0) == read_request(1, 0, 2)
    assert hand.receive(100.01, VOLTAGE) == b""
    assert hand.tick(100.015) == read_request(1, 100, 2)
    assert hand.tick(100.33) == b""


# -- late answers ----------------------------------------------------------------------------


def test_a_late_answer_is_not_taken_for_the_next_read_of_its_device(pty_pair: PtyPair) -> None:
    """A meter's voltage and energy reads have replies of one length (a float32 each). The
    energy read times out and its answer comes when the meter's next poll is due: the meter
    is not asked again until it has been quiet for its timeout, so that answer is counted as
    late and dropped, and the voltage read that follows gets its own answer. Another unit is
    polled meanwhile."""
    hand = HandBus(
        pty_pair,
        device("meter", "", 1, METER, interval_s=0.5, timeout_s=0.3),
        device("other", "", 2, [{"name": "a", "table": "holding", "address": 0}], interval_s=5.0),
    )
    try:
        assert hand.tick(100.0) == read_request(1, 0, 2)
        assert hand.receive(100.01, read_reply(1, float32(230.0))) == b""
        assert hand.tick(100.015) == read_request(1, 100, 2)
        assert hand.tick(100.4) == b""  # the energy read timed out; the line is quiet
        assert hand.tick(100.41) == read_request(2, 0, 1)  # the other unit meanwhile
        assert hand.receive(100.42, read_reply(2, [7])) == b""
        assert hand.tick(100.5) == b""  # the meter's next poll is due: it still drains
        assert hand.receive(100.51, read_reply(1, float32(123456.0))) == b""
        assert hand.counters("meter").errors["late"] == 1
        assert hand.tick(100.8) == b""  # quiet for 0.3 s since its late answer: not yet
        assert hand.tick(100.811) == read_request(1, 0, 2)
        assert hand.receive(100.82, read_reply(1, float32(231.0))) == b""
        assert hand.tick(100.83) == read_request(1, 100, 2)
        assert hand.receive(100.84, read_reply(1, float32(5000.0))) == b""
        assert hand.values("meter") == {
            "voltage": (230.0, 231.0, 2),
            "energy": (5000.0, 5000.0, 1),
        }
        assert latest(hand.runtimes["other"]) == {"a": 7.0}
        counters = hand.counters("meter")
        assert (counters.timeouts, counters.transactions) == (1, 3)
        assert counters.errors == {**dict.fromkeys(counters.errors, 0), "late": 1}
    finally:
        hand.close()


def test_a_late_answer_later_than_the_drain_is_not_taken_for_another_read_of_its_shape(
    pty_pair: PtyPair,
) -> None:
    """The meter's energy read times out and its answer comes later than the drain after it
    (a loaded host: tests/test_modbus_oncall.py's second master once saw energy read as
    230.0), while the voltage read of the next poll is in flight. An RTU frame names no
    register and both answers are a float32: the frame is the late answer of the energy
    read still owed, which the meter answers before the voltage read, counted ``late``, and
    the voltage read takes the frame after it, never the energy's 5000.0."""
    hand = meter_bus(pty_pair)
    try:
        energy_read_timed_out(hand)  # drained until 100.63
        assert hand.tick(100.64) == read_request(1, 0, 2)
        assert hand.receive(100.65, ENERGY) == b""  # the energy read's answer, 0.635 s late
        assert hand.values("meter")["voltage"] == (230.0, 230.0, 1)
        assert hand.receive(100.66, VOLTAGE) == b""
        assert hand.tick(100.665) == b""  # drained for a timeout after the late answer
        assert hand.tick(100.96) == read_request(1, 100, 2)
        assert hand.receive(100.97, ENERGY) == b""
        assert hand.values("meter") == {
            "voltage": (230.0, 230.0, 2),
            "energy": (5000.0, 5000.0, 1),
        }
        counters = hand.counters("meter")
        assert (counters.timeouts, counters.transactions) == (1, 3)
        assert counters.errors == {**dict.fromkeys(counters.errors, 0), "late": 1}
    finally:
        hand.close()


def test_a_read_asked_again_waits_for_the_late_answer_of_its_first_request(
    pty_pair: PtyPair,
) -> None:
    """The meter's voltage read times out and is asked again after the drain; the answer of
    the first request comes then (0.63 s late) and the meter answers the second right after
    it. The first frame is the voltage's either way; the energy read is not asked until the
    latest the second can come (4 timeouts after its request), so the second is taken for
    the late answer it is (``late``), not for the energy read's (230.0 as energy, before)."""
    hand = meter_bus(pty_pair)
    try:
        assert hand.tick(100.0) == read_request(1, 0, 2)
        assert hand.tick(100.31) == b""  # timed out; drained until 100.61
        assert hand.tick(100.62) == read_request(1, 0, 2)
        assert hand.receive(100.63, VOLTAGE) == b""  # the first request's answer
        assert hand.tick(100.635) == b""  # the energy read waits for the second's
        assert hand.receive(100.64, VOLTAGE) == b""
        assert hand.counters("meter").errors["late"] == 1
        assert hand.tick(100.93) == b""  # drained for a timeout after that late answer
        assert hand.tick(100.945) == read_request(1, 100, 2)
        assert hand.receive(100.95, ENERGY) == b""
        assert hand.values("meter") == {
            "voltage": (230.0, 230.0, 1),
            "energy": (5000.0, 5000.0, 1),
        }
        counters = hand.counters("meter")
        assert counters.errors == {**dict.fromkeys(counters.errors, 0), "late": 1}
    finally:
        hand.close()


def test_a_read_lost_by_the_device_costs_one_reading_of_another_read_of_its_shape(
    pty_pair: PtyPair,
) -> None:
    """The meter never answers one energy read (lost in a collision with another master's
    request). The next poll's voltage answer fits the energy read still owed and is taken
    for its late answer: the voltage read waits a timeout for another, gets none, and owes
    nothing, since the one frame answered one of the two. One voltage reading is lost; none
    is ever 5000.0, and the poll after reads both."""
    hand = meter_bus(pty_pair)
    try:
        energy_read_timed_out(hand)  # lost: never answered
        assert hand.tick(100.64) == read_request(1, 0, 2)
        assert hand.receive(100.65, VOLTAGE) == b""  # taken for the energy read's
        assert hand.tick(100.94) == b""  # waits a whole timeout from that frame
        assert hand.tick(100.96) == b""  # timed out, owing nothing
        counters = hand.counters("meter")
        assert (counters.timeouts, counters.errors["late"]) == (2, 1)
        assert hand.values("meter") == {"voltage": (230.0, 230.0, 1), "energy": None}
        polled = [at for at in (101.5, 101.6, 101.7, 101.8) if hand.tick(at)]
        at = polled[0]  # once drained, as after any timeout
        assert hand.receive(at + 0.01, VOLTAGE) == b""
        assert hand.tick(at + 0.015) == read_request(1, 100, 2)
        assert hand.receive(at + 0.02, ENERGY) == b""
        assert hand.values("meter") == {
            "voltage": (230.0, 230.0, 2),
            "energy": (5000.0, 5000.0, 1),
        }
        assert hand.counters("meter").timeouts == 2
    finally:
        hand.close()


@pytest.mark.parametrize("between", [False, True])
def test_a_late_answer_with_more_values_than_asked_is_late(
    pty_pair: PtyPair, between: bool
) -> None:
    """A server that answers a 16-bit read with the 32-bit value whole (ESPHome's
    ``modbus_controller`` server, esphome#10021: byte count 4 for a read of 1) has two such
    reads; the second times out and its answer comes before the next request (``between``),
    or during the next poll's first read. It fits the request owed by its function code and the length the device answers that read
    with: it is ``late``, and the first read never takes the second's value."""
    registers = [
        {"name": "a", "table": "holding", "address": 10},
        {"name": "b", "table": "holding", "address": 20},
    ]
    hand = HandBus(pty_pair, device("m", "", 1, registers, interval_s=0.5, timeout_s=0.3))
    a, b = read_reply(1, [10, 9]), read_reply(1, [20, 9])

    def next_request(start: float) -> tuple[float, bytes]:
        for k in range(1, 200):
            at = round(start + k * 0.005, 3)
            if sent := hand.tick(at):
                return at, sent
        raise AssertionError("no request")

    try:
        at = 99.995
        for _ in range(3):  # two whole polls, and the third's first read
            at, sent = next_request(at)
            assert sent == read_request(1, 10, 1)
            hand.receive(at + 0.005, a, look=False)
            at, sent = next_request(at)
            assert sent == read_request(1, 20, 1)
            if _ < 2:
                hand.receive(at + 0.005, b, look=False)
        assert hand.values("m") == {
            "a": (10.0, 10.0, 2),
            "b": (20.0, 20.0, 1),
        }  # (the first: `length`)
        if between:  # its late answer comes before the next request
            assert hand.tick(round(at + 0.32, 3)) == b""  # timed out
            assert hand.receive(round(at + 0.33, 3), b) == b""
            counters = hand.counters("m")
            assert (counters.errors["late"], counters.errors["unasked"]) == (1, 0)
            return
        at, sent = next_request(at)  # after its timeout and the drain
        assert sent == read_request(1, 10, 1)
        assert hand.receive(at + 0.005, b) == b""  # the second read's late answer
        assert hand.receive(at + 0.01, a) == b""
        # never 20.0; its own answer after a frame of the device besides the answers starts
        # the run of long answers again (``DeviceReads.long``), and is read from the next on
        assert hand.values("m")["a"] == (10.0, 10.0, 2)
        counters = hand.counters("m")
        assert (counters.errors["late"], counters.errors["unasked"]) == (1, 0)
    finally:
        hand.close()


def test_a_reconnect_leaves_no_answer_owed(pty_pair: PtyPair) -> None:
    """The meter's energy read times out and the port is lost and opened again: the answers
    of the old connection's requests are not owed on the new one. Its first voltage read
    there takes its answer (not taken for the energy read's late answer), and a frame of its
    unit id after it is one nobody asked for, ``unasked``, not ``late``."""
    hand = meter_bus(pty_pair)
    try:
        energy_read_timed_out(hand)
        hand.bus.disconnect("device disconnected")
        hand.now = 100.35
        assert hand.bus.try_open()
        at = next(t / 100 for t in range(10036, 10200) if hand.tick(t / 100))
        assert at < 101.0  # (within 4 timeouts of the energy read's request)
        assert hand.receive(at + 0.01, read_reply(1, float32(231.0))) == b""
        assert hand.values("meter")["voltage"] == (230.0, 231.0, 2)
        assert hand.receive(at + 0.012, VOLTAGE) == b""
        counters = hand.counters("meter")
        assert (counters.errors["late"], counters.errors["unasked"]) == (0, 1)
    finally:
        hand.close()


def test_a_late_answer_waiting_when_the_next_poll_is_due_is_read_before_it_goes(
    pty_pair: PtyPair,
) -> None:
    """The reader loop, held up (a loaded host), comes back after a meter's drain has ended
    and its next poll is due, with the late answer of its timed-out energy read waiting in
    the port: that answer is read before the voltage read goes out, never taken as the
    voltage's (the two replies have one length). The reader's timer pass and reads run on a
    clock the test moves, as the loop would run them."""
    now = [100.0]

    def clock() -> float:
        return now[0]

    config = load(device("meter", pty_pair.path, 1, METER, interval_s=0.5, timeout_s=0.3))
    runtime = SensorRuntime(config.sensors[0], clock=clock)
    reader = Reader([runtime], clock=clock)

    def timers(at: float) -> bytes:
        now[0] = at
        reader._service_timers(at)
        return pty_pair.read(8, timeout_s=0.05)

    def device_sends(at: float, data: bytes) -> None:
        now[0] = at
        pty_pair.write(data)
        # in the port for its reader (or the timer pass) to take: what loop_reads waits on
        wait_for(lambda: pty_pair.queued_bytes() >= len(data), 1.0, "the bytes in the port", 0.002)

    def loop_reads(at: float) -> None:
        now[0] = at
        (bus,) = reader._buses.values()
        source = bus.source
        assert source is not None
        deadline = time.monotonic() + 1.0
        while pty_pair.queued_bytes() and time.monotonic() < deadline:
            chunk = source.read()
            if chunk:
                bus.feed(chunk)
                due = bus.next_deadline()  # as the loop has it after a chunk
                if due is not None and due < bus.timers_at:
                    bus.timers_at = due
            else:
                time.sleep(0.01)

    try:
        assert timers(100.0) == read_request(1, 0, 2)
        device_sends(100.01, read_reply(1, float32(230.0)))
        loop_reads(100.01)
        assert timers(100.015) == read_request(1, 100, 2)
        assert timers(100.4) == b""  # the energy read timed out; its drain goes on
        device_sends(100.6, read_reply(1, float32(123456.0)))  # late, the loop held up
        # past the drain, the next poll due, the loop back: the answer waiting is read first
        assert timers(100.75) == b""
        loop_reads(100.75)
        # the meter asked once the line has been quiet for its timeout since that answer
        assert timers(101.06) == read_request(1, 0, 2)
        device_sends(101.07, read_reply(1, float32(231.0)))
        loop_reads(101.07)
        modbus = runtime.modbus
        assert modbus is not None
        assert modbus.errors["late"] + modbus.errors["unasked"] == 1, modbus.errors
        voltage = {ch.name: ch.stats for ch in runtime.snapshot().channels}["voltage"]
        assert voltage is not None
        assert voltage.max == 231.0  # never the energy's 123456
    finally:
        reader.close()


def test_a_late_answer_during_another_units_exchange_is_counted_for_its_device(
    pty_pair: PtyPair,
) -> None:
    """Unit 1's answer after its timeout arrives in the middle of unit 2's exchange: it is
    counted as late for unit 1 (not as a frame from a wrong unit for unit 2), unit 2 gets
    its own answer, and unit 1 waits another timeout of quiet before it is asked again."""
    one = [{"name": "a", "table": "holding", "address": 0}]
    two = [{"name": "b", "table": "holding", "address": 0}]
    hand = HandBus(
        pty_pair,
        device("one", "", 1, one, interval_s=0.3, timeout_s=0.2),
        device("two", "", 2, two, interval_s=5.0, timeout_s=0.2),
    )
    try:
        assert hand.tick(100.0) == read_request(1, 0, 1)
        assert hand.tick(100.25) == b""  # timed out
        assert hand.tick(100.26) == read_request(2, 0, 1)
        assert hand.receive(100.27, read_reply(1, [11]) + read_reply(2, [22])[:3]) == b""
        assert hand.receive(100.271, read_reply(2, [22])[3:]) == b""
        assert latest(hand.runtimes["one"]) == {"a": None}
        assert latest(hand.runtimes["two"]) == {"b": 22.0}
        assert hand.counters("one").errors["late"] == 1
        assert hand.counters("two").errors["unit"] == 0
        assert hand.tick(100.469) == b""
        assert hand.tick(100.47) == read_request(1, 0, 1)
    finally:
        hand.close()


def test_a_device_late_now_and_then_has_each_late_answer_counted_not_taken(
    pty_pair: PtyPair,
) -> None:
    """A device (0.3 s timeout, polled every 0.1 s) whose answers come 0.9 s after their
    request now and then, with 200 answers in time between: after each of its timeouts once
    the first such answer came, it is not asked again before such an answer could have come
    (1.2 s after the request), so its late answer (4) is counted ``late`` each time, never
    taken for its next read's (5)."""
    hand = HandBus(
        pty_pair,
        device(
            "one",
            "",
            1,
            [{"name": "a", "table": "holding", "address": 0}],
            interval_s=0.1,
            timeout_s=0.3,
        ),
    )
    request = read_request(1, 0, 1)

    def answer(at: float, n: int) -> float:
        """``n`` polls answered in time from ``at``; when the next is due."""
        for _ in range(n):
            assert hand.tick(at) == request
            assert hand.receive(at + 0.01, read_reply(1, [5])) == b""
            at = round(at + 0.1, 3)
        return at

    def late_answer(sent: float) -> float:
        """The request sent at ``sent`` times out and its answer comes 0.9 s after it: how
        long after it the next request goes (answered in time when it goes after 0.9 s)."""
        assert hand.tick(sent) == request
        assert hand.tick(round(sent + 0.35, 3)) == b""  # timed out
        for step in range(36, 200):
            if step == 90 and hand.bus.in_flight is None:
                assert hand.receive(round(sent + 0.9, 3), read_reply(1, [4])) == b""
            if hand.tick(round(sent + step * 0.01, 3)) == request:
                if step < 90:  # asked again before the late answer came
                    hand.receive(round(sent + 0.9, 3), read_reply(1, [4]), look=False)
                else:
                    answered = round(sent + step * 0.01 + 0.01, 3)
                    assert hand.receive(answered, read_reply(1, [5])) == b""
                return round(step * 0.01, 3)
        raise AssertionError("never asked again")

    try:
        assert hand.tick(100.0) == request
        assert hand.tick(100.35) == b""  # timed out
        assert hand.receive(100.9, read_reply(1, [4])) == b""  # its lateness learnt
        at = answer(101.3, 200)
        for spell in range(2, 5):
            asked_after_s = late_answer(at)
            assert hand.counters("one").errors["late"] == spell
            assert hand.values("one")["a"] == (5.0, 5.0, 60)  # (the window's last 60)
            assert asked_after_s == 1.2
            at = answer(round(at + 1.4, 3), 200)
        assert hand.counters("one").timeouts == 4
    finally:
        hand.close()


@pytest.mark.slow
@contextlib.contextmanager
def slow_meter(
    energy_s: float, *, interval_s: float, timeout_s: float, others_s: float = 0.1
) -> Iterator[tuple[dict[str, Any], Callable[[int], Callable[[Reader], bool]]]]:
    """A real meter (pymodbus's serial server behind a relay) whose energy answers take
    ``energy_s`` and its others ``others_s``: its sensor table (``METER``, polled every
    ``interval_s`` with ``timeout_s``) and a condition of ``n`` answers counted late."""

    def turnaround_s(reply: bytes) -> float:
        return energy_s if struct.pack(">f", 123456.0) in reply else others_s

    def late(n: int) -> Callable[[Reader], bool]:
        def enough(reader: Reader) -> bool:
            counters = reader.sensors["meter"].modbus
            return counters is not None and counters.errors["late"] >= n

        return enough

    with (
        PtyRelay(delay_s=turnaround_s) as relay,
        ModbusServer([1], "serial", relay.far.path) as server,
    ):
        server.set(1, "holding", 0, float32(230.0))
        server.set(1, "holding", 100, float32(123456.0))
        table = device(
            "meter", relay.near.path, 1, METER, interval_s=interval_s, timeout_s=timeout_s
        )
        table["serial"] = {"baudrate": 115200}
        yield table, late


def test_a_slow_meter_s_late_answers_never_become_another_read_s_values() -> None:
    """A real meter (pymodbus's serial server) whose answers take 0.1 s, its energy read's
    0.6 s: longer than the 0.4 s timeout, so every energy read times out and its answer comes
    when, polled every 0.7 s, the meter's next voltage read would be under way. The voltage
    is read right every time; the energy answers are counted as late. (The device is not
    asked again until it has been quiet for its timeout, 0.2 s after the late answer comes:
    the margin a relay thread delayed by a loaded host has.)"""

    with (
        slow_meter(0.6, interval_s=0.7, timeout_s=0.4) as (table, enough),
        read_all(load(table), enough(3)) as reader,
    ):
        runtime = reader.sensors["meter"]
        [voltage, energy] = runtime.snapshot().channels
        assert voltage.stats is not None
        assert (voltage.stats.min, voltage.stats.max) == (230.0, 230.0)
        assert voltage.stats.count >= 3
        assert energy.stats is None
        assert runtime.modbus is not None
        assert runtime.modbus.timeouts >= 3


@pytest.mark.slow
def test_a_meter_that_answers_at_over_twice_its_timeout_is_drained_as_long_as_it_takes() -> None:
    """A real meter (pymodbus's serial server) whose energy answers take 0.8 s, over twice its
    0.3 s timeout, asked each read again once (``retries = 1``): the drain of its timeout
    alone (0.3 s after it) ends before the answer comes, so the answer to each energy read
    that timed out was taken for the retry's, and every poll read energy from the answer to
    the request before. Once one of its answers came late, the drain after each timeout
    lasts until an answer as late can have come: the later ones are counted as late, never
    read. (The first one, before any came late, is no different from an answer in time.)"""

    with slow_meter(0.8, interval_s=1.5, timeout_s=0.3, others_s=0.02) as (table, enough):
        table["modbus"]["retries"] = 1
        with read_all(load(table), enough(5), timeout_s=20.0) as reader:
            runtime = reader.sensors["meter"]
            [voltage, energy] = runtime.snapshot().channels
            assert voltage.stats is not None
            assert (voltage.stats.min, voltage.stats.max) == (230.0, 230.0)
            assert voltage.stats.count >= 3
            assert energy.stats is None or energy.stats.count == 1
            assert runtime.modbus is not None
            assert runtime.modbus.timeouts >= 5


@pytest.mark.slow
def test_a_refusal_after_the_timeout_counts_by_its_code_and_as_late() -> None:
    """A real device (pymodbus's serial server) refuses a read of a register outside its map
    with exception 0x02, and its answers reach sensord 0.3 s after the request, past its
    0.2 s timeout (a device slow to refuse, or a gateway's 0x0B after sensord gave up: the
    budulinek/arduino-modbus-rtu-tcp-gateway issue 35 and RichiH/modbus_exporter issue 69
    report such exceptions); unit 1 answers in time. Each late refusal counts by its code in
    sensord_modbus_exceptions_total as well as ``late``, once each (the exceptions equal the
    late answers), ``/status`` shows the code, and the late answer's line names it. No
    refused read is kept for it (a late RTU answer names no read), nor is it logged as a
    refusal in time (``exception response``)."""
    with (
        PtyRelay(delay_s=lambda reply: 0.3 if reply[:1] == b"\x02" else 0.0) as relay,
        ModbusServer([1, 2], "serial", relay.far.path) as server,
    ):
        server.set(1, "holding", 0, [11])
        prompt = device("u1", relay.near.path, 1, [{"name": "v", "table": "holding", "address": 0}])
        refusing = device(
            "u2",
            relay.near.path,
            2,
            [{"name": "w", "table": "holding", "address": 1500}],
            interval_s=0.2,
            timeout_s=0.2,
        )
        prompt["modbus"].update(interval_s=0.2, timeout_s=0.2)

        def two_late(reader: Reader) -> bool:
            modbus = reader.sensors["u2"].modbus
            return modbus is not None and modbus.errors["late"] >= 2

        with capture_logs() as logs, read_all(load(prompt, refusing), two_late) as reader:
            runtime = reader.sensors["u2"]
            counters = runtime.modbus
            assert counters is not None
            late = counters.errors["late"]
            assert counters.exceptions == {2: late}, (counters.exceptions, counters.errors)
            assert counters.errors["unasked"] == 0
            assert counters.refused == {}
            snapshot = runtime.snapshot()
            assert snapshot.modbus is not None
            assert snapshot.modbus.as_json()["exceptions"] == {"2": late}
            value = MetricsRegistry(RuntimesView([runtime]), "0", 0).registry.get_sample_value
            assert value("sensord_modbus_exceptions_total", {"sensor": "u2", "code": "2"}) == late
            assert value("sensord_modbus_errors_total", {"sensor": "u2", "reason": "late"}) == late
            other = reader.sensors["u1"].modbus
            assert other is not None
            assert other.exceptions == {}
            assert other.transactions >= 2
    told = [e for e in logs if e["event"] == "answer after the timeout"]
    assert told
    assert (told[0]["sensor"], told[0]["code"], told[0]["meaning"]) == (
        "u2",
        2,
        "illegal data address",
    )
    # the whole line, but for how late this one came (0.3 s and the machine's delays)
    hint = re.sub(r"at least \d+\.\d\d s", "at least 0.40 s", told[0]["hint"])
    assert hint == LATE_EXCEPTION_HINTS[2], told[0]["hint"]
    assert not [e for e in logs if e["event"] == "exception response"]


#: What the line of a late exception says, by code: a refusal (0x02) or a busy answer (0x06),
#: 0.40 s after its request (``test_an_exception_nobody_asked_for_is_unasked_not_counted_by_code``).
LATE_EXCEPTION_HINTS = {
    2: "the device answered a request with exception 0x02 (illegal data address) after "
    "modbus.timeout_s (this one came at least 0.40 s after its request), so which read it "
    "refuses is not known: raise modbus.timeout_s; in time, a refusal is logged with the "
    'registers of its read ("exception response")',
    6: "the device answered a request with exception 0x06 (server device busy) after "
    "modbus.timeout_s (this one came at least 0.40 s after its request), so which read it "
    "refuses is not known: raise modbus.timeout_s; in time, a busy answer is asked again "
    "(modbus.busy_wait_s later)",
}


@pytest.mark.parametrize("code", sorted(LATE_EXCEPTION_HINTS))
def test_an_exception_nobody_asked_for_is_unasked_not_counted_by_code(
    pty_pair: PtyPair, code: int
) -> None:
    """A meter's read is answered in time; then a frame of its unit id comes while none of its
    requests awaits an answer: its exception 0x02 to another master's read (a PLC reading a
    register the meter does not map), or 0x06 (busy). It answers no request of sensord's:
    counted ``unasked``, logged as a frame nobody asked for, and not in the meter's
    exceptions, which would otherwise tell of a refusal of a read sensord never made. A late
    exception of the meter's, after one of its reads timed out, counts by its code (and
    ``late``), and its line names the exception, that the read it refuses is not known, and
    to raise the timeout."""
    hand = HandBus(pty_pair, device("m", "", 1, METER[:1], interval_s=1.0, timeout_s=0.3))
    refusal = rtu_frame(bytes([1, 0x83, code]))
    try:
        with capture_logs() as logs:
            assert hand.tick(100.0) == read_request(1, 0, 2)
            assert hand.receive(100.01, read_reply(1, float32(230.0))) == b""
            assert hand.receive(100.2, refusal) == b""  # another master's, not late
            counters = hand.counters("m")
            assert (counters.errors["unasked"], counters.errors["late"]) == (1, 0)
            assert counters.exceptions == {}
            assert hand.tick(101.0) == read_request(1, 0, 2)
            assert hand.tick(101.31) == b""  # timed out
            assert hand.receive(101.4, refusal) == b""  # its own answer, late
            assert (counters.errors["unasked"], counters.errors["late"]) == (1, 1)
            assert counters.exceptions == {code: 1}
    finally:
        hand.close()
    events = [e["event"] for e in logs]
    assert events.count("frame of the device's unit id nobody asked for") == 1
    [late] = [e for e in logs if e["event"] == "answer after the timeout"]
    assert (late["code"], late["hint"]) == (code, LATE_EXCEPTION_HINTS[code])


# -- bytes that nobody asked for -------------------------------------------------------------


def test_no_request_goes_out_while_a_late_answer_is_still_on_the_line(pty_pair: PtyPair) -> None:
    """Unit 1's answer of 60 registers (125 bytes, 130 ms at 9600 baud) starts arriving after
    its timeout. RS-485 is half duplex: the request to unit 2 waits until the rest of that
    frame can have come and the line has been silent after it, instead of going out (and
    colliding with it) as soon as the first bytes are read."""
    sixty = [{"name": f"r{i}", "table": "holding", "address": i} for i in range(60)]
    hand = HandBus(
        pty_pair,
        device("one", "", 1, sixty, interval_s=1.0, timeout_s=0.2),
        device("two", "", 2, [{"name": "b", "table": "holding", "address": 0}]),
    )
    late = read_reply(1, list(range(60)))
    assert len(late) == 125
    char_s = 10 / 9600
    try:
        assert hand.tick(100.0) == read_request(1, 0, 60)
        assert hand.tick(100.25) == b""  # timed out
        assert hand.receive(100.255, late[:10]) == b""  # was: unit 2's request, at once
        rest_s = 115 * char_s + hand.bus.silence_s
        assert hand.tick(100.255 + rest_s - 0.001) == b""
        assert hand.receive(100.255 + 115 * char_s, late[10:]) == b""
        assert hand.counters("one").errors["late"] == 1
        assert hand.tick(100.255 + rest_s + 0.0001) == read_request(2, 0, 1)
    finally:
        hand.close()


def test_noise_with_nothing_in_flight_holds_the_next_request_for_the_silence(
    pty_pair: PtyPair,
) -> None:
    """Bytes that begin no frame delay the next request by the silence between frames after
    the last of them, each time more arrive."""
    hand = HandBus(
        pty_pair,
        device("one", "", 1, [{"name": "a", "table": "holding", "address": 0}], interval_s=1.0),
    )
    silence_s = hand.bus.silence_s
    try:
        assert hand.tick(100.0) == read_request(1, 0, 1)
        assert hand.receive(100.01, read_reply(1, [5])) == b""
        assert hand.receive(100.99, b"\xff\x00") == b""
        assert hand.receive(100.999, b"\xff") == b""
        assert hand.tick(100.999 + silence_s - 0.0005) == b""
        assert hand.tick(100.999 + silence_s + 0.0001) == read_request(1, 0, 1)
    finally:
        hand.close()


# -- slow lines ------------------------------------------------------------------------------

#: 125 holding registers: a 255-byte reply, 266 ms on the wire at 9600 baud.
WIDE = [{"name": f"r{i}", "table": "holding", "address": i} for i in range(125)]
CHAR_9600_S = 10 / 9600


def test_a_long_reply_that_starts_within_the_timeout_is_read_whole(pty_pair: PtyPair) -> None:
    """At 9600 baud, a device that takes 0.3 s to start its 255-byte answer sends its last
    byte 0.566 s after the request, past the 0.5 s timeout: the deadline covers the rest of
    a frame that began within it, so the values are read."""
    hand = HandBus(pty_pair, device("m", "", 1, WIDE, interval_s=5.0, timeout_s=0.5))
    reply = read_reply(1, list(range(125)))
    assert len(reply) == 255
    try:
        assert hand.tick(100.0) == read_request(1, 0, 125)
        assert hand.receive(100.3, reply[:20]) == b""
        assert hand.tick(100.55) == b""
        assert hand.bus.in_flight is not None
        assert hand.receive(100.3 + 255 * CHAR_9600_S, reply[20:]) == b""
        assert latest(hand.runtimes["m"]) == {f"r{i}": float(i) for i in range(125)}
        counters = hand.counters("m")
        assert (counters.timeouts, counters.transactions) == (0, 1)
        assert counters.errors == dict.fromkeys(counters.errors, 0)
    finally:
        hand.close()


def test_the_timeout_starts_after_the_request_is_on_the_wire_and_a_cut_reply_is_truncated(
    pty_pair: PtyPair,
) -> None:
    """The timeout runs from the end of the request's 8 bytes on the wire (8.3 ms at 9600
    baud); a reply that began and stopped short times out once its rest could have come, and
    is counted as truncated, not as a CRC error."""
    hand = HandBus(pty_pair, device("m", "", 1, WIDE, interval_s=5.0, timeout_s=0.5))
    reply = read_reply(1, list(range(125)))
    try:
        assert hand.tick(100.0) == read_request(1, 0, 125)
        assert hand.tick(100.5 + 8 * CHAR_9600_S - 0.0005) == b""
        assert hand.bus.in_flight is not None
        assert hand.tick(100.5 + 8 * CHAR_9600_S) == b""
        assert hand.bus.in_flight is None
        assert hand.counters("m").timeouts == 1

        assert hand.tick(105.0) == read_request(1, 0, 125)
        assert hand.receive(105.4, reply[:100]) == b""
        rest_s = 155 * CHAR_9600_S + hand.bus.silence_s
        assert hand.tick(105.4 + rest_s) == b""
        assert hand.bus.in_flight is not None  # the rest may still come: a USB adapter's pace
        assert hand.tick(105.4 + rest_s + 0.06) == b""
        assert hand.bus.in_flight is None
        counters = hand.counters("m")
        assert counters.timeouts == 2
        assert counters.errors == {**dict.fromkeys(counters.errors, 0), "truncated": 1}
        assert latest(hand.runtimes["m"])["r0"] is None
    finally:
        hand.close()


@pytest.mark.slow
def test_a_meter_on_a_slow_line_is_read_past_its_timeout() -> None:
    """A real device (pymodbus's serial server) behind a relay that passes its answers 0.3 s
    late and at 9600 baud's pace: its 125 registers take 0.566 s to arrive, past the 0.5 s
    timeout, and are read every time."""
    with (
        PtyRelay(delay_s=lambda reply: 0.3, char_s=CHAR_9600_S) as relay,
        ModbusServer([1], "serial", relay.far.path) as server,
    ):
        server.set(1, "holding", 0, list(range(1000, 1125)))
        table = device("m", relay.near.path, 1, WIDE, interval_s=0.2, timeout_s=0.5)
        table["serial"] = {"baudrate": 9600}

        def two(reader: Reader) -> bool:
            counters = reader.sensors["m"].modbus
            return counters is not None and counters.transactions + counters.timeouts >= 2

        with read_all(load(table), two) as reader:
            runtime = reader.sensors["m"]
            assert latest(runtime) == {f"r{i}": float(1000 + i) for i in range(125)}
            assert runtime.modbus is not None
            assert runtime.modbus.timeouts == 0
            assert runtime.modbus.errors == dict.fromkeys(runtime.modbus.errors, 0)


def test_bytes_that_cannot_begin_the_reply_leave_its_timeout_as_it_is(pty_pair: PtyPair) -> None:
    """At 9600 baud, a read of 125 registers (its answer begins 01 03 FA and takes 266 ms)
    with a 0.2 s timeout; before it ends, bytes that begin like the answer but cannot be its
    start: a frame of unit 2 in two pieces 10 ms apart whose second begins 01 03 FA after a
    pause that looks like the line's silence, inside that frame, whose CRC closes; a lone
    0x01 after a pause, which the next byte shows to be no answer's start; and the first six
    bytes of an answer of unit 2 that breaks off, a byte per character time, the last 0x01
    with no silence before it. The request times out 0.2 s after it was on the wire, a plain
    timeout: no answer of unit 1 began, none was cut off (``truncated``) or spoilt
    (``crc``)."""
    hand = HandBus(pty_pair, device("m", "", 1, WIDE, interval_s=5.0, timeout_s=0.2))
    char = CHAR_9600_S
    inside = rtu_frame(bytes([2, 3, 6, 0, 0, 1, 3, 0xFA, 0]))
    timeout_at = 100.0 + 8 * char + 0.2
    try:
        assert hand.tick(100.0) == read_request(1, 0, 125)
        hand.receive(100.10, inside[:5])
        hand.receive(100.11, inside[5:])
        hand.receive(100.13, b"\x01")
        hand.receive(100.13 + char, b"\x06")
        for i, byte in enumerate([2, 3, 0xFA, 0, 0, 1]):
            hand.receive(100.16 + i * char, bytes([byte]))
        assert hand.tick(timeout_at - 0.0005) == b""
        assert hand.bus.in_flight is not None
        assert hand.tick(timeout_at) == b""
        assert hand.bus.in_flight is None
        counters = hand.counters("m")
        assert (counters.timeouts, counters.transactions) == (1, 0)
        assert counters.errors == {**dict.fromkeys(counters.errors, 0), "unit": 1}
    finally:
        hand.close()


def test_an_answer_begun_after_other_units_bytes_within_the_timeout_is_read_whole(
    pty_pair: PtyPair,
) -> None:
    """Another master's bytes a character time apart, many of them 0x01, for most of a 0.2 s
    timeout at 9600 baud; after the line's silence, 0.19 s after the request, the 255-byte
    answer of unit 1 begins: it is read whole, its last byte 0.27 s after its first, past the
    timeout."""
    hand = HandBus(pty_pair, device("m", "", 1, WIDE, interval_s=5.0, timeout_s=0.2))
    char = CHAR_9600_S
    reply = read_reply(1, list(range(125)))
    stream = b"".join(ANOTHER_MASTER_AT_1 * 4)
    try:
        assert hand.tick(100.0) == read_request(1, 0, 125)
        for i, byte in enumerate(stream):
            hand.receive(100.02 + i * char, bytes([byte]), look=False)
        assert 100.02 + len(stream) * char < 100.18
        hand.receive(100.19, reply[:20])
        assert hand.tick(100.19 + 250 * char) == b""
        assert hand.bus.in_flight is not None
        hand.receive(100.19 + 255 * char, reply[20:])
        assert latest(hand.runtimes["m"]) == {f"r{i}": float(i) for i in range(125)}
        counters = hand.counters("m")
        assert (counters.timeouts, counters.transactions) == (0, 1)
    finally:
        hand.close()


@contextlib.contextmanager
def another_master(
    relay: PtyRelay, starts: queue.Queue[float], bytes_at: list[tuple[float, int]]
) -> Iterator[None]:
    """A thread that sends sensord, on ``relay``'s line, each byte of ``bytes_at`` (another
    master's exchanges) as long after each time put in ``starts`` as it says; it stops when
    the block ends."""
    stop = threading.Event()

    def send() -> None:
        while not stop.is_set():
            try:
                start = starts.get(timeout=0.02)
            except queue.Empty:
                continue
            for at, byte in bytes_at:
                if stop.wait(max(0.0, start + at - time.monotonic())):
                    return
                relay.near.write(bytes([byte]))

    thread = threading.Thread(target=send, name="another-master", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(5.0)


@pytest.mark.slow
def test_a_dead_device_s_timeout_holds_while_other_units_bytes_carry_its_unit_id(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another master's exchanges with units 2 and 3 (many of their bytes 0x01, unit 1's id,
    none followed by 0x03) on a 9600-baud line while each request of unit 1 goes unanswered
    (the relay drops it): from 20 ms after it, 3 rounds of their 4 frames, each byte a
    character time after the one before and 5 ms of silence between frames, 0.15 s in all.
    None of their bytes begins unit 1's answer (125 registers: 266 ms on the line), so its
    0.2 s timeout is not drawn out by them: each of its exchanges ends 0.2 s after the request
    was on the wire (it lasted 0.49 s when the unit id among their bytes was taken for the
    start of the answer), and unit 4 on the same line is read at its 0.3 s interval
    throughout, none of its polls missed."""
    char = CHAR_9600_S
    bytes_at: list[tuple[float, int]] = []
    at = 0.02
    for frame in ANOTHER_MASTER_AT_1 * 3:
        for byte in frame:
            bytes_at.append((at, byte))
            at += char
        at += 0.005
    assert at < 0.2
    asked: list[tuple[float, int]] = []
    starts: queue.Queue[float] = queue.Queue()

    def line(request: bytes) -> bytes | None:
        now = time.monotonic()
        asked.append((now, request[0]))
        if request[0] == 1:
            starts.put(now)
            return b""  # lost on its way to unit 1
        return None

    with (
        PtyRelay(answer=line) as relay,
        ModbusServer([1, 4], "serial", relay.far.path) as server,
        another_master(relay, starts, bytes_at),
    ):
        server.set(4, "holding", 0, [44])
        dead = device("dead", relay.near.path, 1, WIDE, interval_s=1.0, timeout_s=0.2)
        live = device(
            "live",
            relay.near.path,
            4,
            [{"name": "v", "table": "holding", "address": 0}],
            interval_s=0.3,
            timeout_s=0.2,
        )
        for table in (dead, live):
            table["serial"] = {"baudrate": 9600}
        reader = Reader([SensorRuntime(s) for s in load(dead, live).sensors])
        with contextlib.closing(reader):
            (bus,) = reader._buses.values()
            ended: list[float] = []  # when each exchange of unit 1 timed out
            timed_out = bus._timed_out

            def noted(flight: Any, now: float) -> None:
                ended.append(time.monotonic())
                timed_out(flight, now)

            monkeypatch.setattr(bus, "_timed_out", noted)
            run_reader_until(reader, lambda: len(ended) >= 4, 10.0)
            live_counters = reader.sensors["live"].modbus
            assert live_counters is not None
            live_errors = (live_counters.timeouts, live_counters.polls_missed)
            live_values = latest(reader.sensors["live"])
    dead_asked = [t for t, unit in asked if unit == 1]
    taken = [round(end - start, 3) for start, end in zip(dead_asked, ended, strict=False)]
    assert all(0.2 <= each < 0.2 + 8 * char + 0.05 for each in taken), taken
    live_asked = [t for t, unit in asked if unit == 4]
    intervals = [round(b - a, 3) for a, b in itertools.pairwise(live_asked)]
    assert len(intervals) >= 5
    assert all(each < 0.3 + 0.05 for each in intervals), intervals
    assert live_errors == (0, 0)
    assert live_values == {"v": 44.0}


@pytest.mark.slow
def test_a_device_whose_answers_all_come_late_says_to_raise_its_timeout() -> None:
    """Two real devices (pymodbus's serial server) on a 9600 baud line whose answers come at
    its pace: unit 2 answers every request, whole and sound, 0.3 s after it, past its 0.2 s
    timeout. It goes stale, then down, and both its stale hint and its reason say to raise
    ``modbus.timeout_s``: its unit id, baud rate and wiring are right, since its late answers
    arrive and check out (the reason told to check those, as for a device that never
    answers, and the hint called the late answers spoilt). Unit 1 is read throughout."""
    with (
        PtyRelay(
            delay_s=lambda reply: 0.3 if reply[:1] == b"\x02" else 0.0, char_s=CHAR_9600_S
        ) as relay,
        ModbusServer([1, 2], "serial", relay.far.path) as server,
    ):
        server.set(1, "holding", 0, [11])
        server.set(2, "holding", 0, [22])
        tables = []
        for unit in (1, 2):
            table = device(
                f"u{unit}",
                relay.near.path,
                unit,
                [{"name": "v", "table": "holding", "address": 0}],
                interval_s=0.2,
                timeout_s=0.2,
            )
            table["serial"] = {"baudrate": 9600}
            table["stale_after_s"] = 0.5
            tables.append(table)
        stale_hints: list[str | None] = []

        def late_one_down(reader: Reader) -> bool:
            late = reader.sensors["u2"]
            if late.state == "stale" and not stale_hints:
                stale_hints.append(late.stale_hint)
            return late.modbus is not None and late.modbus.down

        with read_all(load(*tables), late_one_down) as reader:
            [hint] = stale_hints
            assert hint is not None
            assert "came after modbus.timeout_s: raise it" in hint, hint
            assert "spoilt" not in hint, hint
            assert "unit id" not in hint, hint
            late = reader.sensors["u2"]
            assert late.modbus is not None
            assert late.modbus.errors["late"] >= 2
            assert late.modbus.transactions == 0
            assert late.last_error is not None
            assert late.last_error.startswith("no response to 3 requests in a row: "), (
                late.last_error
            )
            assert "modbus.timeout_s" in late.last_error, late.last_error
            assert "unit id" not in late.last_error, late.last_error
            prompt = reader.sensors["u1"]
            assert prompt.modbus is not None
            assert prompt.modbus.transactions >= 3
            assert prompt.modbus.timeouts == 0
            assert latest(prompt) == {"v": 11.0}


def test_a_device_that_answered_late_once_and_then_not_at_all_is_not_told_to_wait_longer(
    pty_pair: PtyPair,
) -> None:
    """A meter's answer comes after its timeout once; then it answers nothing more (it was
    unplugged). Its requests after that got no late answer either, so the reason it goes
    down with is that of a device that does not answer (unit id, line, wiring), not to raise
    its timeout: that hint holds while its answers keep coming late."""
    hand = HandBus(pty_pair, device("m", "", 1, METER[:1], interval_s=1.0, timeout_s=0.3))
    try:
        assert hand.tick(100.0) == read_request(1, 0, 2)
        hand.tick(100.31)  # timed out
        hand.receive(100.4, read_reply(1, float32(230.0)))  # its answer, late
        at = 100.4
        while not hand.counters("m").down and at < 120.0:
            at += 0.1
            hand.tick(at)
        assert hand.counters("m").down
        assert hand.counters("m").errors["late"] == 1
        reason = hand.runtimes["m"].last_error
        assert reason.startswith("no response to 3 requests in a row: "), reason
        assert "check the unit id" in reason, reason
        assert "modbus.timeout_s" not in reason, reason
    finally:
        hand.close()


def test_polls_a_busy_device_delays_by_its_own_busy_answers_are_not_counted_as_missed(
    pty_pair: PtyPair,
) -> None:
    """A meter answers its first read busy (exception 06) three times, asked again
    ``busy_wait_s`` later each time, which takes its poll past two of its intervals. The
    line was free meanwhile: the device made its poll late, not the bus, so no poll counts
    as missed (whose hint is about the line's time) and no warning says the bus had none."""
    hand = HandBus(
        pty_pair,
        device("m", "", 1, METER, interval_s=0.5, timeout_s=0.2, busy_wait_s=0.4),
    )
    busy = rtu_frame(bytes([1, 0x83, 6]))
    try:
        with capture_logs() as logs:
            at = 100.0
            assert hand.tick(at) == read_request(1, 0, 2)
            for _ in range(3):
                assert hand.receive(at + 0.01, busy) == b""
                at += 0.45
                assert hand.tick(at) == read_request(1, 0, 2)
            hand.receive(at + 0.01, read_reply(1, float32(230.0)))
            at += 0.05
            assert hand.tick(at) == read_request(1, 100, 2)
            hand.receive(at + 0.01, read_reply(1, float32(5.0)))
            at += 0.05
            assert hand.tick(at) == read_request(1, 0, 2)  # its next poll, at once
            assert at > 100.0 + 2 * 0.5
            hand.receive(at + 0.01, read_reply(1, float32(231.0)))
        counters = hand.counters("m")
        assert counters.exceptions == {6: 3}
        assert counters.polls_missed == 0
        assert not [e for e in logs if e["event"].startswith("polls missed")]
    finally:
        hand.close()


# -- spoilt answers --------------------------------------------------------------------------


def spoilt(frame: bytes) -> bytes:
    """``frame`` with its last CRC byte hit by noise."""
    return frame[:-1] + bytes([frame[-1] ^ 0xFF])


def test_an_answer_with_a_bad_crc_ends_its_exchange_after_the_silence(pty_pair: PtyPair) -> None:
    """Three polls in a row whose first answer comes whole with a wrong CRC: each exchange
    ends as a CRC error once the line has been silent after it, the poll's other read goes
    on, and the device, which answered every time, is neither timed out nor taken down (it
    was: a timeout each, and down after three)."""
    registers = [
        {"name": "a", "table": "holding", "address": 0},
        {"name": "b", "table": "holding", "address": 10},
    ]
    hand = HandBus(pty_pair, device("m", "", 1, registers, interval_s=1.0, timeout_s=0.5))
    silence_s = hand.bus.silence_s
    try:
        for poll in range(3):
            at = 100.0 + poll
            assert hand.tick(at) == read_request(1, 0, 1)
            assert hand.receive(at + 0.01, spoilt(read_reply(1, [42]))) == b""
            assert hand.tick(at + 0.01 + silence_s - 0.0005) == b""
            assert hand.bus.in_flight is not None
            assert hand.tick(at + 0.01 + silence_s + 0.0001) == read_request(1, 10, 1)
            assert hand.receive(at + 0.02, read_reply(1, [poll])) == b""
        counters = hand.counters("m")
        assert counters.errors == {**dict.fromkeys(counters.errors, 0), "crc": 3}
        assert (counters.timeouts, counters.transactions, counters.down) == (0, 3, False)
        assert hand.runtimes["m"].state == "up"
        assert latest(hand.runtimes["m"]) == {"a": None, "b": 2.0}
    finally:
        hand.close()


def test_an_answer_behind_a_spoilt_frame_within_the_silence_is_still_taken(
    pty_pair: PtyPair,
) -> None:
    """A spoilt frame of the reply's length, then the good answer before the line fell
    silent: the good answer is the exchange's."""
    hand = HandBus(
        pty_pair,
        device("m", "", 1, [{"name": "a", "table": "holding", "address": 0}], interval_s=1.0),
    )
    try:
        assert hand.tick(100.0) == read_request(1, 0, 1)
        assert hand.receive(100.01, spoilt(read_reply(1, [41]))) == b""
        assert hand.receive(100.011, read_reply(1, [42])) == b""
        assert latest(hand.runtimes["m"]) == {"a": 42.0}
        counters = hand.counters("m")
        assert (counters.transactions, counters.timeouts, counters.errors["crc"]) == (1, 0, 0)
    finally:
        hand.close()


# -- refused merged reads --------------------------------------------------------------------


def float32_block(prefix: str, first: int, values: int) -> list[dict[str, Any]]:
    """``values`` float32 registers from holding ``first`` on, with no gap between them."""
    return [
        {"name": f"{prefix}{i}", "table": "holding", "address": first + 2 * i, "type": "float32"}
        for i in range(values)
    ]


def spans(reads: tuple[Read, ...]) -> list[tuple[int, int]]:
    return [(read.address, read.count) for read in reads]


def test_a_refused_read_splits_at_its_gaps_then_in_halves_then_per_value() -> None:
    """Two runs of 20 float32 with a gap of 2 registers: the merged read splits into the two
    runs; a run refused again splits into halves at a value's start, and a read of two
    values into one read each; a read of one value does not split."""
    two_runs = float32_block("a", 0, 20) + float32_block("b", 42, 20)
    spec = load(device("m", "/dev/ttyUSB0", 1, two_runs, max_gap=2)).sensors[0]
    modbus = spec.format_spec().modbus
    assert modbus is not None
    [merged] = plan(modbus)
    assert (merged.address, merged.count) == (0, 82)
    runs = split(merged)
    assert spans(runs) == [(0, 40), (42, 40)]
    assert spans(split(runs[0])) == [(0, 20), (20, 20)]
    assert spans(split(split(runs[0])[0])) == [(0, 10), (10, 10)]
    mixed = Read.of(
        "holding",
        (
            RegisterSpec("w", "holding", 0, "float64"),
            RegisterSpec("x", "holding", 4, "uint16"),
            RegisterSpec("y", "holding", 5, "uint16"),
        ),
    )
    assert spans(split(mixed)) == [(0, 4), (4, 2)]  # at the first value from register 3 on
    assert spans(split(split(mixed)[1])) == [(4, 1), (5, 1)]
    assert split(split(mixed)[0]) == ()
    every = {(read.address, read.count) for read in splits(merged)}
    assert {(2 * i, 2) for i in range(20)} | {(42 + 2 * i, 2) for i in range(20)} <= every


@pytest.mark.slow
def test_a_device_that_does_not_map_a_gap_costs_a_read_per_run() -> None:
    """The reviewer's meter: two blocks of 20 float32 two registers apart, read as one with
    ``max_gap = 2``, from a device whose firmware does not map the gap (exception 02 for any
    read that touches it): two reads a poll from then on (was: 40)."""

    def firmware(request: bytes) -> bytes | None:
        address, count = struct.unpack(">HH", request[2:6])
        if request[1] == 3 and address < 42 and address + count > 40:
            return rtu_frame(bytes([request[0], 0x83, 2]))
        return None

    registers = float32_block("a", 0, 20) + float32_block("b", 42, 20)
    with (
        PtyRelay(answer=firmware) as relay,
        ModbusServer([1], "serial", relay.far.path) as server,
    ):
        for i in range(20):
            server.set(1, "holding", 2 * i, float32(float(i)))
            server.set(1, "holding", 42 + 2 * i, float32(100.0 + i))
        table = device("m", relay.near.path, 1, registers, interval_s=0.05, max_gap=2)
        table["serial"] = {"baudrate": 115200}

        def all_read(reader: Reader) -> bool:
            return None not in latest(reader.sensors["m"]).values()

        with read_all(load(table), all_read) as reader:
            counters = reader.sensors["m"].modbus
            assert counters is not None
            assert (counters.reads, counters.splits, counters.exceptions) == (2, 1, {2: 1})
            assert latest(reader.sensors["m"]) == {
                **{f"a{i}": float(i) for i in range(20)},
                **{f"b{i}": 100.0 + i for i in range(20)},
            }


@pytest.mark.slow
def test_a_device_that_takes_few_registers_a_read_gets_halves_not_single_values() -> None:
    """Firmware that takes at most 8 registers a read (exception 03 above) and a run of 10
    float32 (20 registers): halves of 10 registers, refused in turn, then halves of those
    (6 and 4 registers) are read: 4 reads a poll, not 10."""

    def firmware(request: bytes) -> bytes | None:
        if request[1] == 3 and struct.unpack(">H", request[4:6])[0] > 8:
            return rtu_frame(bytes([request[0], 0x83, 3]))
        return None

    with (
        PtyRelay(answer=firmware) as relay,
        ModbusServer([1], "serial", relay.far.path) as server,
    ):
        for i in range(10):
            server.set(1, "holding", 2 * i, float32(float(i)))
        table = device("m", relay.near.path, 1, float32_block("v", 0, 10), interval_s=0.05)
        table["serial"] = {"baudrate": 115200}

        def all_read(reader: Reader) -> bool:
            return None not in latest(reader.sensors["m"]).values()

        with read_all(load(table), all_read) as reader:
            counters = reader.sensors["m"].modbus
            assert counters is not None
            assert (counters.reads, counters.splits, counters.exceptions) == (4, 3, {3: 3})
            assert latest(reader.sensors["m"]) == {f"v{i}": float(i) for i in range(10)}


@pytest.mark.parametrize("max_registers", [125, 50])
def test_a_meter_that_answers_02_to_long_reads_is_told_to_set_max_registers(
    max_registers: int,
) -> None:
    """Some Eastron SDM meters answer exception 02 (illegal data address) to a read of more
    than 50 registers although their manual allows 80 (openWB core pull request 2890). 40
    values one register apart, merged with ``max_gap = 1`` into one read of 79 registers, are
    split into a read per value, and the split's line says that a device that answers 02 to
    long reads is read in fewer requests with ``modbus.max_registers``; with
    ``max_registers = 50`` the meter is read in 2 requests a poll and refuses none."""

    def firmware(request: bytes) -> bytes | None:
        if request[1] == 4 and struct.unpack(">H", request[4:6])[0] > 50:
            return rtu_frame(bytes([request[0], 0x84, 2]))
        return None

    with (
        PtyRelay(answer=firmware) as relay,
        ModbusServer([1], "serial", relay.far.path) as server,
    ):
        server.set(1, "input", 0, list(range(80)))
        registers = [{"name": f"v{i}", "table": "input", "address": i} for i in range(0, 80, 2)]
        table = device(
            "sdm",
            relay.near.path,
            1,
            registers,
            interval_s=0.05,
            max_gap=1,
            max_registers=max_registers,
        )
        table["serial"] = {"baudrate": 115200}

        def all_read(reader: Reader) -> bool:
            return None not in latest(reader.sensors["sdm"]).values()

        with capture_logs() as logs, read_all(load(table), all_read) as reader:
            counters = reader.sensors["sdm"].modbus
            assert counters is not None
            assert latest(reader.sensors["sdm"]) == {f"v{i}": float(i) for i in range(0, 80, 2)}
            splits = [e for e in logs if e["event"] == "device refused a merged read; split it"]
            if max_registers == 125:
                assert (counters.reads, counters.exceptions) == (40, {2: 1})
                [split_line] = splits
                assert "modbus.max_registers" in split_line["hint"]
                assert "fewer requests than these 40" in split_line["hint"]
                # the code as the manual writes it; the structured field keeps the number
                assert "answers exception 0x02 to a read longer" in split_line["hint"]
                assert split_line["code"] == 2
            else:
                assert (counters.reads, counters.exceptions, splits) == (2, {}, [])


def test_a_serial_server_that_cuts_long_answers_has_the_read_split() -> None:
    """A serial server that passes at most 4 registers of an RTU answer and drops the rest
    (a USR-W610 cuts answers of more than 8 registers) in front of a device read as one
    merged read of 6 registers: cut at the same length twice running, the read is split in
    halves of 3, and every value is read."""

    def cut(reply: bytes) -> bytes:
        return reply[: 3 + 8] if len(reply) > 3 + 8 + 2 else reply

    with (
        PtyRelay(mangle=cut) as relay,
        ModbusServer([1], "serial", relay.far.path) as server,
    ):
        server.set(1, "holding", 0, [10, 11, 12, 13, 14, 15])
        registers = [{"name": f"v{i}", "table": "holding", "address": i} for i in range(6)]
        table = device("m", relay.near.path, 1, registers, interval_s=0.05, timeout_s=0.1)
        table["serial"] = {"baudrate": 115200}

        def all_read(reader: Reader) -> bool:
            return None not in latest(reader.sensors["m"]).values()

        with read_all(load(table), all_read) as reader:
            counters = reader.sensors["m"].modbus
            assert counters is not None
            assert (counters.reads, counters.splits) == (2, 1)
            assert (counters.timeouts, counters.errors["truncated"]) == (2, 2)
            assert latest(reader.sensors["m"]) == {f"v{i}": 10.0 + i for i in range(6)}


def test_a_down_device_whose_answers_are_spoilt_is_retried_at_its_backoff(
    pty_pair: PtyPair,
) -> None:
    """A device that went down (no answer), then answers every request with a wrong CRC: it
    stays down and gets a request at its backoff, not at every gap of the bus, while the
    healthy device keeps its interval."""
    tables = [
        device(name, "", unit, [{"name": "v", "table": "holding", "address": 0}], timeout_s=0.2)
        for name, unit in (("a", 1), ("b", 2))
    ]
    hand = HandBus(pty_pair, *tables)
    a = hand.counters("a")
    sent_to_a = 0
    try:
        at = 100.0
        while at < 112.0:
            request = hand.tick(at)
            if request[:1] == b"\x02":
                hand.receive(at + 0.005, read_reply(2, [5]))
            elif request[:1] == b"\x01":
                sent_to_a += 1
                if at >= 105.0:  # powered up again, every answer spoilt
                    hand.receive(at + 0.005, spoilt(read_reply(1, [7])))
            due = hand.bus.next_deadline()  # the bus's timers: the next time it acts
            assert due is not None
            at = max(round(at + 0.001, 6), due)
        assert a.down
        assert a.errors["crc"] >= 1
        # down after 3 timeouts within 5 s (at 102.2 s), then a jittered backoff (0.5 s up to
        # 2 s here): a few requests a second at most, never one every 10 ms gap. Full jitter
        # draws each delay from zero up: 12 or 13 requests in all are the most likely, more
        # than 20 come in 1 run of 5,000 and more than 22 in under 1 of 50,000 (10^6 draws of
        # this schedule: each try after a timeout waits 0.2 s at least, one after a spoilt
        # answer 9 ms); a backoff held at its first 0.5 s makes 25 to 51, none makes hundreds
        assert sent_to_a <= 22, sent_to_a
        assert hand.counters("b").transactions >= 11
    finally:
        hand.close()


def test_bytes_nobody_asked_for_hold_the_line_for_a_second_at_most(pty_pair: PtyPair) -> None:
    """Noise every 5 ms, with nothing in flight (another master, a device sending on its own):
    each burst holds the next request for the silence after it, but after a second of them
    requests go out between them, and the log says why (before, none went out at all)."""
    hand = HandBus(
        pty_pair,
        device("m", "", 1, [{"name": "a", "table": "holding", "address": 0}], timeout_s=0.2),
    )
    assert hand.tick(100.0) == read_request(1, 0, 1)
    hand.receive(100.01, read_reply(1, [5]))
    first_request_at = None
    try:
        with capture_logs() as logs:
            at = 100.5
            while at < 103.0 and first_request_at is None:
                hand.now = at
                hand.bus.feed(b"\x00\xff")  # as the reader hands the bytes over
                hand.now = at + 0.001
                hand.bus.tick(hand.now)
                if pty_pair.read(8, timeout_s=0.001):
                    first_request_at = at
                at = round(at + 0.005, 6)
        assert first_request_at is not None  # the poll due at 101.0 went out, late
        assert 101.4 <= first_request_at <= 101.6  # after a second of noise
        [warning] = [e for e in logs if e["event"].startswith("line busy")]
        assert warning["for_s"] > 1.0
    finally:
        hand.close()


def test_another_master_s_bytes_keep_a_left_exchange_one_drain_longer_at_most(
    pty_pair: PtyPair,
) -> None:
    """A reload changes a meter while its request awaits an answer that never comes, and
    another master polls a unit of its own every 20 ms meanwhile, on and on. The left
    exchange is awaited one drain (the meter's timeout) past the time its late answer could
    have come at most, however long those bytes go on: after that a frame of the meter's
    unit id is no answer of the left meter's, but one nobody asked for, counted ``unasked``
    for the meter that replaced it. (Each of the other master's frames that begins while the
    left exchange is awaited keeps it awaited for the rest of that frame, and the next frame
    begins before that rest is over.)"""

    def meter(address: int) -> dict[str, Any]:
        registers = [{"name": "v", "table": "holding", "address": address}]
        table = device("m", pty_pair.path, 2, registers, timeout_s=0.2, interval_s=30.0)
        return {**table, "serial": {"baudrate": 115200}}  # a longest frame takes 22 ms

    hand = HandBus(pty_pair, meter(0))
    try:
        assert hand.tick(100.0) == read_request(2, 0, 1)
        # the reload: the meter reads another register, its request still in flight
        runtime = SensorRuntime(load(meter(1)).sensors[0], clock=hand.clock)
        hand.bus.remove("m")
        hand.bus.add(runtime)
        hand.runtimes["m"] = runtime
        [left] = hand.bus.left.kept
        limit = left.late_until + left.timeout_s
        other = [read_request(7, 0, 1), read_reply(7, [5])]
        at, step = 100.0, 0
        while at < limit + 1.0:
            at, step = round(at + 0.02, 6), step + 1
            if hand.tick(at):  # the replacement's first poll (it is polled every 30 s)
                assert hand.receive(at + 0.002, read_reply(2, [21])) == b""
            hand.receive(at + 0.005, other[step % 2], look=False)
            assert all(each.late_until <= limit for each in hand.bus.left.kept), at
        assert hand.counters("m").transactions == 1
        assert hand.bus.in_flight is None
        # the other master asks the meter's unit id too
        hand.receive(at + 0.01, read_reply(2, [99, 98]), look=False)
        assert hand.counters("m").errors["unasked"] == 1
    finally:
        hand.close()


def reload_meter_at_9600(hand: HandBus, path: str) -> float:
    """A reload changes the meter ``m`` (unit 2, its timeout 0.2 s, 9600 baud) of ``hand`` to
    read another register while its request is in flight; the time its late answer may come
    until (its left exchange's ``late_until``)."""
    runtime = SensorRuntime(load(meter_at_9600(path, 1)).sensors[0], clock=hand.clock)
    hand.bus.remove("m")
    hand.bus.add(runtime)
    hand.runtimes["m"] = runtime
    [left] = hand.bus.left.kept
    return left.late_until


def meter_at_9600(path: str, address: int) -> dict[str, Any]:
    registers = [{"name": "v", "table": "holding", "address": address}]
    table = device("m", path, 2, registers, timeout_s=0.2, interval_s=30.0)
    return {**table, "serial": {"baudrate": 9600}}  # a 45-byte reply takes 52 ms


def test_a_left_answer_that_ends_after_its_time_holds_the_replacement_for_its_drain(
    pty_pair: PtyPair,
) -> None:
    """The late answer of a meter a reload changed begins 3 ms before the last time it may
    come and its rest comes 40 ms after: it is the left meter's, and the meter that replaced
    it is asked once the drain after that answer's end is over (the timeout, 0.2 s), as after
    an answer that came whole before that time, not at once."""
    hand = HandBus(pty_pair, meter_at_9600(pty_pair.path, 0))
    try:
        assert hand.tick(100.0) == read_request(2, 0, 1)
        late_until = reload_meter_at_9600(hand, pty_pair.path)
        reply = read_reply(2, list(range(20)))
        hand.receive(late_until - 0.003, reply[:4], look=False)
        end = late_until + 0.04
        hand.receive(end, reply[4:], look=False)
        assert hand.bus.left.kept == []  # the left meter's answer
        at = end
        while not hand.tick(at):
            at = round(at + 0.005, 6)
        assert end + 0.2 <= at < end + 0.21, at - end
        assert hand.receive(at + 0.01, read_reply(2, [21])) == b""
        assert hand.values("m") == {"v": (21.0, 21.0, 1)}
        assert hand.counters("m").errors == dict.fromkeys(hand.counters("m").errors, 0)
    finally:
        hand.close()


def test_a_replacement_is_not_asked_while_a_frame_keeps_the_left_answer_awaited(
    pty_pair: PtyPair,
) -> None:
    """Another master's frame begins 3 ms before the last time the late answer of a meter a
    reload changed may come, and ends 40 ms after: the left exchange is awaited for the rest
    of it, and the meter that replaced it is not asked before that is over. So a frame of
    its unit id after its own exchange (the other master asks that unit too) is one nobody
    asked for, counted ``unasked`` for it, not taken for the left meter's answer."""
    hand = HandBus(pty_pair, meter_at_9600(pty_pair.path, 0))
    try:
        assert hand.tick(100.0) == read_request(2, 0, 1)
        late_until = reload_meter_at_9600(hand, pty_pair.path)
        other = read_reply(7, list(range(20)))
        hand.receive(late_until - 0.003, other[:4], look=False)
        end = late_until + 0.04
        hand.receive(end, other[4:], look=False)
        at = end
        while not hand.tick(at):
            at = round(at + 0.005, 6)
        assert all(left.late_until < at for left in hand.bus.left.kept), at - end
        assert hand.receive(at + 0.002, read_reply(2, [21])) == b""
        hand.receive(at + 0.01, read_reply(2, [99]), look=False)
        counters = hand.counters("m")
        assert (counters.transactions, counters.errors["unasked"]) == (1, 1)
        assert hand.values("m") == {"v": (21.0, 21.0, 1)}
    finally:
        hand.close()


@pytest.mark.parametrize(
    ("answer", "told"),
    [
        (
            None,
            "no response to 3 requests in a row: check the unit id (modbus.unit = 1), the baud "
            "rate",
        ),
        # a device at another baud rate: fewer bytes than its answer, none of them a frame
        (
            lambda request: bytes((b * 7 + 3) & 0xFF for b in read_reply(1, [7])[:4]),
            "no response to 3 requests in a row: bytes came that make no answer: check the "
            "baud rate and parity",
        ),
        # a device whose address is 9, which answers with it whatever was asked
        (
            lambda request: read_reply(9, [7]),
            "no response to 3 requests in a row: a frame of unit id 9 came in each of these "
            "exchanges, and no device of this bus has that unit id: if it is this device's "
            "address, set modbus.unit = 9",
        ),
    ],
    ids=["silent", "garbled", "other-unit"],
)
def test_a_device_that_goes_down_says_what_to_check(
    pty_pair: PtyPair, answer: Any, told: str
) -> None:
    """A device that never answers (a wrong unit id, A and B swapped), one whose answers
    are bytes that make no frame (a wrong baud rate) and one that answers with another unit
    id (its address is not the one configured: edgex device-modbus-go issue 147) go down
    with a reason that says what to check or set; that is all an operator sees, since a
    device down within its first polls never goes stale and so gets no stale hint."""
    tables = [device("a", "", 1, [{"name": "v", "table": "holding", "address": 0}], timeout_s=0.2)]
    hand = HandBus(pty_pair, *tables)
    try:
        at = 100.0
        while at < 104.0 and not hand.counters("a").down:
            request = hand.tick(at)
            if request and answer is not None:
                hand.receive(at + 0.005, answer(request))
            due = hand.bus.next_deadline()
            assert due is not None
            at = max(round(at + 0.001, 6), due)
        assert hand.counters("a").down
        last_error = hand.runtimes["a"].last_error
        assert last_error is not None
        assert last_error.startswith(told), last_error
    finally:
        hand.close()


def test_a_silent_device_alone_on_its_bus_is_told_its_configured_unit_id(
    pty_pair: PtyPair,
) -> None:
    """A device at unit 7 that never answers, alone on its bus, goes down with a reason that
    names the unit id to check against the device's address (``modbus.unit = 7``), and the
    stale hint of its unanswered requests names it too: the operator sees which value the
    daemon asked with, not only that the unit id may be wrong."""
    registers = [{"name": "v", "table": "holding", "address": 0}]
    hand = HandBus(pty_pair, device("a", "", 7, registers, timeout_s=0.2))
    counters = hand.counters("a")
    mark = counters.mark()
    try:
        at = 100.0
        while at < 104.0 and not counters.down:
            hand.tick(at)
            due = hand.bus.next_deadline()
            assert due is not None
            at = max(round(at + 0.001, 6), due)
        assert counters.down
        assert hand.runtimes["a"].last_error == (
            "no response to 3 requests in a row: check the unit id (modbus.unit = 7), the "
            "baud rate and parity, and the wiring (A and B swapped, termination)"
        )
        assert counters.hint_since(mark, "a") == (
            "3 requests went unanswered: check the unit id (modbus.unit = 7), the baud rate "
            "and parity, and the wiring (A and B swapped, termination)"
        )
    finally:
        hand.close()


def test_each_refused_register_is_named_in_the_log(pty_pair: PtyPair) -> None:
    """Two registers of a device that it does not map, read apart, both answered with
    exception 02 at every poll while the rest of the device reads fine: the log names each
    of them (not only the first refused read) with what the exception means, once a minute."""
    registers = [
        {"name": "voltage", "table": "holding", "address": 0},
        {"name": "typo_a", "table": "holding", "address": 500},
        {"name": "typo_b", "table": "holding", "address": 600},
    ]
    hand = HandBus(pty_pair, device("a", "", 1, registers, timeout_s=0.2))
    try:
        with capture_logs() as logs:
            at = 100.0
            while at < 103.5:
                request = hand.tick(at)
                if request[2:4] == b"\x00\x00":
                    hand.receive(at + 0.005, read_reply(1, [230]))
                elif request:
                    hand.receive(at + 0.005, rtu_frame(bytes([1, 0x83, 0x02])))
                due = hand.bus.next_deadline()
                assert due is not None
                at = max(round(at + 0.001, 6), due)
        refused = [e for e in logs if e["event"] == "exception response"]
        assert [e["registers"] for e in refused] == [["typo_a"], ["typo_b"]], refused
        assert {e["meaning"] for e in refused} == {"illegal data address"}
        assert all("does not map these registers" in e["hint"] for e in refused)
        assert hand.values("a")["voltage"] == (230.0, 230.0, 4)
    finally:
        hand.close()


def test_reads_refused_at_every_poll_log_once_then_an_hourly_summary(pty_pair: PtyPair) -> None:
    """A device that refuses ten configured reads at every poll (exception 02, a map that
    does not hold them) for six hours, its voltage read answered all along: each refused read
    is logged once when its refusals start, with the hint, then the device's refusals are
    summed up once an hour with their counts, not one line a minute per read (14,400 a day);
    sensord_modbus_exceptions_total counts every one. A read refused with another code is
    logged again, and one answered again says so."""
    registers = [{"name": "voltage", "table": "holding", "address": 0}] + [
        {"name": f"typo_{i}", "table": "holding", "address": 500 + 100 * i} for i in range(10)
    ]
    interval_s = 120.0
    polls_an_hour = 30
    hand = HandBus(pty_pair, device("a", "", 1, registers, interval_s=interval_s, timeout_s=0.2))
    codes = dict.fromkeys(range(10), 2)

    def poll(at: float) -> None:
        """One poll from ``at``: the voltage read answered, the others refused."""
        request = hand.tick(at)
        while request:
            address = int.from_bytes(request[2:4], "big")
            code = 0 if address == 0 else codes[(address - 500) // 100]
            reply = rtu_frame(bytes([1, 0x83, code])) if code else read_reply(1, [230])
            at = round(at + 0.005, 6)
            hand.receive(at, reply, look=False)
            at = round(at + 0.005, 6)
            request = hand.tick(at)

    try:
        hours = 6
        with capture_logs() as logs:
            for n in range(hours * polls_an_hour):
                poll(100.0 + interval_s * n)
        refused = [e for e in logs if e["event"] == "exception response"]
        assert [e["registers"] for e in refused] == [[f"typo_{i}"] for i in range(10)]
        assert all("does not map these registers" in e["hint"] for e in refused)
        summaries = [e for e in logs if e["event"] == "exception responses unchanged"]
        assert len(summaries) == hours - 1  # one an hour after the first (at 1 h, ..., 5 h)
        assert all(e["log_level"] == "warning" for e in summaries)
        first = summaries[0]
        assert [r["registers"] for r in first["reads"]] == [[f"typo_{i}"] for i in range(10)]
        assert {r["code"] for r in first["reads"]} == {2}
        # told when the first refusal after the hour came: the other reads' refusals of that
        # poll are in the next summary
        assert [r["suppressed"] for r in first["reads"]] == [polls_an_hour] + [
            polls_an_hour - 1
        ] * 9
        assert first["reads"][0]["for_s"] == 3600
        assert [e["suppressed"] for e in summaries[1:]] == [10 * polls_an_hour] * (hours - 2)
        assert len(logs) == 10 + hours - 1, [e["event"] for e in logs]
        assert hand.counters("a").exceptions == {2: 10 * hours * polls_an_hour}
        voltage = hand.values("a")["voltage"]
        assert voltage is not None
        assert voltage[:2] == (230.0, 230.0)

        codes[3] = 4  # one read refused with another code, one answered again
        codes[7] = 0
        at = 100.0 + interval_s * hours * polls_an_hour
        with capture_logs() as logs:
            poll(at)
            poll(at + interval_s)
        [changed] = [e for e in logs if e["event"] == "exception response"]
        assert (changed["registers"], changed["code"], changed["previous_code"]) == (
            ["typo_3"],
            4,
            2,
        )
        [answered] = [e for e in logs if e["event"] == "read answered again"]
        assert answered["registers"] == ["typo_7"]
        assert answered["code"] == 2
        assert answered["refused_for_s"] == pytest.approx(hours * 3600.0, abs=1.0)
        assert answered["log_level"] == "info"
        # the sixth hour's summary came in the first of these polls, before the changes
        assert [e["event"] for e in logs] == [
            "exception responses unchanged",
            "exception response",
            "read answered again",
        ]
    finally:
        hand.close()


def test_a_device_whose_bus_cannot_open_is_not_said_to_be_polled(tmp_path: Path) -> None:
    """/status of a device whose bus's port is gone says the bus is closed, not polling; it
    is polling once the port is open (and down only when quarantined)."""
    with PtyPair() as pair:
        table = device("meter", str(tmp_path / "ttyGONE"), 1, [{"name": "v", "ref": "30001"}])
        table["simulate"] = "never"
        (config,) = load(table).sensors
        reader = Reader()
        runtime = SensorRuntime(config)
        reader.add(runtime)
        try:
            reader.run(until=lambda: runtime.open_failures > 0)
            assert runtime.state != "up"
            modbus = runtime.snapshot().modbus
            assert modbus is not None
            assert modbus.device == "bus closed"
            assert runtime.snapshot().as_json()["modbus"]["device"] == "bus closed"
            (tmp_path / "ttyGONE").symlink_to(pair.path)
            reader.run(until=lambda: runtime.state == "up")
            modbus = runtime.snapshot().modbus
            assert modbus is not None
            assert modbus.device == "polling"
        finally:
            reader.close()


def bus_toml(port: str, units: dict[str, int]) -> str:
    """Devices named by ``units`` (name -> unit id) on one RTU bus at ``port``, each reading
    input register 0."""
    return "".join(
        f'[[sensors]]\nname = "{name}"\nport = "{port}"\nformat = "modbus"\n'
        f"modbus = {{ unit = {unit}, interval_s = 0.2, timeout_s = 0.15 }}\n"
        'registers = [{ name = "v", table = "input", address = 0 }]\n'
        'channels = [{ name = "v" }]\n'
        for name, unit in units.items()
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("silent", "told"),
    [
        # a wrong unit id: the meter at unit 1 answers, nothing at 2
        (
            [2],
            "no response to 3 requests in a row: the bus's other devices answered meanwhile, "
            "so the line, its settings and its wiring work: check the unit id (modbus.unit = "
            "2) against the device's address, and that the device is powered and connected "
            "to the bus",
        ),
        # the line itself is dead (unplugged, A and B swapped): nobody answers
        (
            [1, 2],
            "no response to 3 requests in a row: check the unit id (modbus.unit = 2), the baud "
            "rate",
        ),
    ],
    ids=["wrong-unit", "dead-line"],
)
def test_a_device_silent_while_the_others_on_its_bus_answer_is_pointed_at_its_unit_id(
    start_daemon: Any, silent: list[int], told: str
) -> None:
    with (
        PtyRelay(silent_units=silent) as relay,
        ModbusServer([1], "serial", relay.far.path) as server,
    ):
        server.set(1, "input", 0, [230])
        daemon = start_daemon(config=bus_toml(relay.near.path, {"meter": 1, "other": 2}))
        daemon.wait_http()
        daemon.wait_state("down", ["other"], timeout_s=10)

        def downs() -> list[dict[str, Any]]:
            return [
                e
                for e in daemon.events("sensor state")
                if e["sensor"] == "other" and e["state"] == "down"
            ]

        wait_for(lambda: bool(downs()), 5, "the line of the device down")
        [event] = downs()[:1]
        assert event["error"].startswith(told), event["error"]
        assert daemon.status()["sensors"]["other"]["last_error"] == event["error"]


def refusing_poll(hand: HandBus, at: float, code: int, function: int = 3) -> float:
    """One poll of a device of one register from ``at``: refused with ``code`` (0: answered;
    ``function``: the read's function code). Returns the time after it."""
    request = hand.tick(at)
    while request:
        reply = rtu_frame(bytes([1, 0x80 | function, code])) if code else read_reply(1, [230])
        at = round(at + 0.005, 6)
        hand.receive(at, reply, look=False)
        at = round(at + 0.005, 6)
        request = hand.tick(at)
    return at


def test_a_read_of_a_table_the_device_does_not_serve_says_which_table_to_check(
    pty_pair: PtyPair,
) -> None:
    """A device that keeps its measurements in input registers only answers a holding
    register read with exception 01, illegal function (a SenseAir S8 read at "40004" instead
    of IR4, a Systemair gateway read with function 04 instead of 03): the log line names the
    register, the function code and what to check, the register's table."""
    registers = [{"name": "co2", "table": "holding", "address": 3}]
    hand = HandBus(pty_pair, device("a", "", 1, registers, interval_s=10.0, timeout_s=0.2))
    try:
        with capture_logs() as logs:
            refusing_poll(hand, 100.0, 1)
        [line] = [e for e in logs if e["event"] == "exception response"]
        assert (line["code"], line["meaning"], line["registers"]) == (
            1,
            "illegal function",
            ["co2"],
        )
        assert "function 03, which reads holding registers" in line["hint"]
        assert "check the table of these values" in line["hint"]
        assert "input registers, refs 3xxxx, are read with function 04" in line["hint"]
        assert hand.counters("a").exceptions == {1: 1}
    finally:
        hand.close()


def test_a_coil_read_the_device_does_not_serve_speaks_of_coils_not_registers(
    pty_pair: PtyPair,
) -> None:
    """A device that does not serve function 01 answers a coil read with exception 01: the
    hint names coils and the functions of the bit tables, not registers."""
    registers = [{"name": "relay", "table": "coil", "address": 3}]
    hand = HandBus(pty_pair, device("a", "", 1, registers, interval_s=10.0, timeout_s=0.2))
    try:
        with capture_logs() as logs:
            refusing_poll(hand, 100.0, 1, function=1)
        [line] = [e for e in logs if e["event"] == "exception response"]
        assert (line["code"], line["registers"]) == (1, ["relay"])
        assert "function 01, which reads coils" in line["hint"]
        assert "coils, refs 0xxxx, are read with function 01" in line["hint"]
        assert "input registers" not in line["hint"]
        assert "holding" not in line["hint"]
        assert hand.counters("a").exceptions == {1: 1}
    finally:
        hand.close()


def test_a_read_told_of_only_in_a_summary_says_when_it_is_answered_again(
    pty_pair: PtyPair,
) -> None:
    """A read refused and answered by turns, then refused again within the minute (its start
    held back by the rate limit) and for over an hour: the hourly summary tells of it, the
    refusal the rate limit held back included, so its answer afterwards is logged too (``read
    answered again``), with the refusals since."""
    registers = [{"name": "typo", "table": "holding", "address": 500}]
    hand = HandBus(pty_pair, device("a", "", 1, registers, interval_s=10.0, timeout_s=0.2))
    try:
        with capture_logs() as logs:
            refusing_poll(hand, 100.0, 2)
            refusing_poll(hand, 110.0, 0)
            n = 0
            while 120.0 + 10.0 * n < 120.0 + 3700.0:
                refusing_poll(hand, 120.0 + 10.0 * n, 2)
                n += 1
            refusing_poll(hand, 120.0 + 10.0 * n, 0)
        told = [e for e in logs if "exception" in e["event"] or "answered" in e["event"]]
        assert [e["event"] for e in told] == [
            "exception response",
            "read answered again",
            "exception responses unchanged",
            "read answered again",
        ], told
        summary, answered = told[2:]
        assert answered["code"] == 2
        assert summary["suppressed"] + answered["suppressed"] == n
    finally:
        hand.close()


def test_a_changed_exception_code_tells_how_many_of_the_old_one_were_held_back(
    pty_pair: PtyPair,
) -> None:
    """A read refused with 02 at six polls, then with 04: the line of the new code says how
    many refusals with 02 came after the line that told of them (``previous_suppressed``),
    so the log's counts add up to the device's exceptions."""
    registers = [{"name": "typo", "table": "holding", "address": 500}]
    hand = HandBus(pty_pair, device("a", "", 1, registers, interval_s=10.0, timeout_s=0.2))
    try:
        with capture_logs() as logs:
            for n in range(6):
                refusing_poll(hand, 100.0 + 10.0 * n, 2)
            refusing_poll(hand, 160.0, 4)
        told = [e for e in logs if e["event"] == "exception response"]
        assert [(e["code"], e.get("previous_code")) for e in told] == [(2, None), (4, 2)]
        assert told[1]["previous_suppressed"] == 5
        assert hand.counters("a").exceptions == {2: 6, 4: 1}
    finally:
        hand.close()


def test_the_split_of_a_refused_read_tells_the_refusals_held_back_before_it(
    pty_pair: PtyPair,
) -> None:
    """A merged read refused with 04 at four polls, then with 02, which splits it: the line
    of the split says how many refusals came after the one logged (``suppressed``) and their
    code (``previous_code``)."""
    registers = [
        {"name": "typo_a", "table": "holding", "address": 500},
        {"name": "typo_b", "table": "holding", "address": 501},
    ]
    hand = HandBus(pty_pair, device("a", "", 1, registers, interval_s=10.0, timeout_s=0.2))
    try:
        with capture_logs() as logs:
            for n in range(4):
                refusing_poll(hand, 100.0 + 10.0 * n, 4)
            refusing_poll(hand, 140.0, 2)
        [split_line] = [e for e in logs if e["event"] == "device refused a merged read; split it"]
        assert (split_line["code"], split_line["previous_code"]) == (2, 4)
        assert split_line["suppressed"] == 3
        assert hand.counters("a").exceptions == {4: 4, 2: 3}
    finally:
        hand.close()


def test_refusals_held_back_before_a_read_stays_answered_are_told_of(pty_pair: PtyPair) -> None:
    """A read refused (logged), answered, refused at two polls within the minute (held back
    by the rate limit of its lines), then answered for good: once that limit lets a line
    through, ``read answered again`` tells of the two, so the log's counts add up to
    sensord_modbus_exceptions_total."""
    registers = [{"name": "typo", "table": "holding", "address": 500}]
    hand = HandBus(pty_pair, device("a", "", 1, registers, interval_s=10.0, timeout_s=0.2))
    try:
        with capture_logs() as logs:
            for n, code in enumerate([2, 0, 2, 2, 0, 0, 0, 0, 0, 0, 0, 0]):
                refusing_poll(hand, 100.0 + 10.0 * n, code)
        told = 0
        for event in logs:
            if event["event"] == "exception response":
                told += 1 + event["suppressed"]
            elif event["event"] == "read answered again":
                told += event["suppressed"]
        assert hand.counters("a").exceptions == {2: 3}
        assert told == 3, logs
        answered = [e for e in logs if e["event"] == "read answered again"]
        assert [e["suppressed"] for e in answered] == [0, 2]
        assert answered[1]["refused_for_s"] == pytest.approx(20.0, abs=0.1)
    finally:
        hand.close()


# -- devices that lose requests ------------------------------------------------------------------


def play_sleeper_and_meter(hand: HandBus, start: float, end: float) -> tuple[list[float], int]:
    """Run ``hand``'s bus from ``start`` to ``end`` (injected time) with its two devices played
    by hand: unit 1, the "sleeper", sleeps when nothing was asked of it for 2 s and loses the
    request that wakes it, and answers each read with its address + 1; unit 2, the "meter",
    answers 7. The times of the meter's polls, and how many ticks found the sleeper down."""
    last_asked = float("-inf")
    meter_polls: list[float] = []
    went_down = 0
    at = start
    while at < end:
        request = hand.tick(at)
        if request[:1] == b"\x01":
            awake, last_asked = at - last_asked < 2.0, at
            if awake:
                address = int.from_bytes(request[2:4], "big")
                hand.receive(at + 0.01, read_reply(1, [address + 1]))
        elif request:
            meter_polls.append(at)
            hand.receive(at + 0.01, read_reply(2, [7]))
        went_down += hand.counters("sleeper").down
        due = hand.bus.next_deadline()
        assert due is not None
        at = max(round(at + 0.001, 6), due)
    return meter_polls, went_down


@pytest.mark.parametrize("retries", [0, 1])
def test_a_device_that_loses_the_request_that_wakes_it_is_read_at_every_poll_with_a_retry(
    pty_pair: PtyPair, retries: int
) -> None:
    """A device that sleeps when nothing was asked of it for 2 s and loses the request that
    wakes it (battery-powered sensors and BMSs whose UART wakes on the first byte; the first
    read of every update timing out, libzbxmodbus issue 27) is polled every 10 s with two
    reads, beside a meter polled every second. Without ``retries`` the first read of every
    poll times out and ends the poll: the device goes down every three polls and its down
    reason sends the operator to its power supply, which the hint now says need not be the
    cause. With ``modbus.retries = 1`` the lost read is asked again once the device has been
    quiet for its timeout, in a gap of the meter's polls: both values are read at every poll,
    the device never goes down, and the meter misses no poll. Without, the poll stops at the
    unanswered read (its second read's answer is of the same length, so a late answer to the
    first would pass for it), and the device goes down every three polls, its down reason
    pointing at the retry."""
    sleeper = [
        {"name": "a", "table": "holding", "address": 0},
        {"name": "b", "table": "holding", "address": 10},
    ]
    hand = HandBus(
        pty_pair,
        device("sleeper", "", 1, sleeper, interval_s=10.0, timeout_s=0.3, retries=retries),
        device("meter", "", 2, [{"name": "v", "table": "holding", "address": 0}]),
    )
    try:
        with capture_logs() as logs:
            meter_polls, went_down = play_sleeper_and_meter(hand, 100.0, 160.0)
        sleeper_counts = hand.counters("sleeper")
        assert sleeper_counts.timeouts == 6  # the first request of each of its polls
        if retries:
            assert sleeper_counts.transactions == 12  # both reads of all 6 polls
            assert not went_down
            assert hand.values("sleeper") == {"a": (1.0, 1.0, 6), "b": (11.0, 11.0, 6)}
        else:
            assert sleeper_counts.transactions < 6
            assert went_down
            down = [e for e in logs if e["event"] == "sensor state" and e["state"] == "down"]
            assert "modbus.retries = 1" in down[-1]["error"]
        assert len(meter_polls) == 60
        # each meter poll goes when due, or after the sleeper's first request of a poll that
        # was due with it times out (a device that answered its last poll goes first): its
        # retry waits for a gap
        late = [round(at - (100.0 + i), 3) for i, at in enumerate(meter_polls)]
        assert max(late) < 0.32, late
        assert sum(x > 0.02 for x in late) <= 6, late
        assert hand.counters("meter").polls_missed == 0
    finally:
        hand.close()


def test_a_dead_device_with_retries_costs_its_tries_once_per_backoff_period(
    pty_pair: PtyPair,
) -> None:
    """A dead device with ``modbus.retries = 2`` beside a meter polled every second goes down
    after 3 timeouts in a row, and its retries wait for its backoff: each attempt there asks
    its read 3 times, and the backoff (1 s, doubling to 8 s) grows once an attempt, not once
    a try, so it reaches its cap after as many attempts as without retries. The meter keeps
    its interval throughout."""
    dead = device(
        "dead",
        "",
        1,
        [{"name": "v", "table": "holding", "address": 0}],
        timeout_s=0.3,
        retries=2,
    )
    meter = device("meter", "", 2, [{"name": "v", "table": "holding", "address": 0}])
    dead["reconnect"] = meter["reconnect"] = {"initial_delay_s": 1.0, "max_delay_s": 8.0}
    hand = HandBus(pty_pair, dead, meter)
    meter_polls: list[float] = []
    attempts: list[int] = []  # the dead device's tries in each of its polls
    try:
        at = 100.0
        while at < 190.0:
            request = hand.tick(at)
            if request[:1] == b"\x01":
                if hand.bus.devices["dead"].retried == 0:
                    attempts.append(0)
                attempts[-1] += 1
            elif request:
                meter_polls.append(at)
                hand.receive(at + 0.01, read_reply(2, [7]))
            due = hand.bus.next_deadline()
            assert due is not None
            at = max(round(at + 0.001, 6), due)
        dead_device = hand.bus.devices["dead"]
        assert hand.counters("dead").down
        assert attempts[0] == 3  # down after its first poll's tries
        done = attempts[:-1] if dead_device.pending else attempts
        assert set(done) == {3}, attempts
        assert dead_device.retry.failures == len(done)
        # 90 s of backoff periods averaging at least half of 1, 2, 4, 8, 8, ... s
        assert 8 <= len(attempts) <= 30, attempts
        assert hand.counters("dead").timeouts == sum(attempts)
        late = [round(at - (100.0 + i), 3) for i, at in enumerate(meter_polls)]
        assert len(meter_polls) == 90
        assert max(late) < 0.32, late
        assert hand.counters("meter").polls_missed == 0
    finally:
        hand.close()


@pytest.mark.parametrize(
    ("polls_answered", "frames", "told"),
    [
        # another master's meter at unit 9 answers in the last timed-out exchange only
        (0, {3: read_reply(9, [7])}, "no response to 3 requests in a row: check the unit id"),
        # another master reads two registers of its meter at unit 9 during every exchange
        (
            0,
            {n: read_reply(9, [7, 8]) for n in range(1, 4)},
            "no response to 3 requests in a row: check the unit id",
        ),
        # the device answered twice under its unit id, then lost power while another master
        # read its own meter at unit 9 as the device is read, during every exchange
        (
            2,
            {n: read_reply(9, [7]) for n in range(3, 6)},
            "no response to 3 requests in a row: it has answered 2 of its requests",
        ),
    ],
    ids=["once", "other-reads", "answered-before"],
)
def test_another_master_s_frames_do_not_tell_a_device_to_change_its_unit_id(
    pty_pair: PtyPair, polls_answered: int, frames: dict[int, bytes], told: str
) -> None:
    """A frame of a unit id no device of the bus has tells a device that goes down to set
    ``modbus.unit`` to it only when it is what a device with that address answering the
    device's requests sends: a frame like the answer (its function code and length) in each
    of the exchanges that timed out, from a device that never answered under its unit id.
    Another master's traffic on the line (a frame in one exchange of the three, frames of
    another length, frames while a device that answered before is silent) leaves the
    reason what it is without it."""
    tables = [device("a", "", 1, [{"name": "v", "table": "holding", "address": 0}], timeout_s=0.2)]
    hand = HandBus(pty_pair, *tables)
    try:
        at = 100.0
        exchanges = 0
        while at < 110.0 and not hand.counters("a").down:
            request = hand.tick(at)
            if request:
                exchanges += 1
                if exchanges <= polls_answered:
                    hand.receive(at + 0.005, read_reply(1, [5]))
                elif exchanges in frames:
                    hand.receive(at + 0.05, frames[exchanges])
            due = hand.bus.next_deadline()
            assert due is not None
            at = max(round(at + 0.001, 6), due)
        assert hand.counters("a").down
        assert hand.counters("a").errors["unit"] == len(frames)
        last_error = hand.runtimes["a"].last_error
        assert last_error is not None
        assert last_error.startswith(told), last_error
        assert "modbus.unit = 9" not in last_error
    finally:
        hand.close()


@pytest.mark.parametrize("retries", [0, 1])
def test_a_device_that_loses_the_request_that_wakes_it_is_asked_again_beside_a_fast_meter(
    pty_pair: PtyPair, retries: int
) -> None:
    """A device that sleeps when nothing was asked of it for 2 s and loses the request that
    wakes it, with a timeout of 0.3 s, beside a meter polled every 0.25 s: no gap between the
    meter's polls fits its timeout. With ``modbus.retries = 1`` its retry goes once it has
    been quiet for its timeout all the same, as the first request of its poll did, not a whole
    interval (10 s) later, when it sleeps again: both its values are read at every poll and it
    never goes down. The meter misses at most a poll at each of the device's polls, for the
    timeout of its first request, which is longer than the meter's interval; the retry
    costs it none."""
    sleeper = [
        {"name": "a", "table": "holding", "address": 0},
        {"name": "b", "table": "holding", "address": 10},
    ]
    hand = HandBus(
        pty_pair,
        device("sleeper", "", 1, sleeper, interval_s=10.0, timeout_s=0.3, retries=retries),
        device("meter", "", 2, [{"name": "v", "table": "holding", "address": 0}], interval_s=0.25),
    )
    try:
        meter_polls, went_down = play_sleeper_and_meter(hand, 100.0, 160.0)
        sleeper_counts = hand.counters("sleeper")
        if retries:
            assert sleeper_counts.timeouts == 6  # the first request of each of its polls
            assert sleeper_counts.transactions == 12  # both reads of all 6 polls
            assert not went_down
            assert hand.values("sleeper") == {"a": (1.0, 1.0, 6), "b": (11.0, 11.0, 6)}
        else:
            assert sleeper_counts.transactions < 6
            assert went_down
        assert hand.counters("meter").polls_missed <= 6
        assert len(meter_polls) + hand.counters("meter").polls_missed == 240
    finally:
        hand.close()


def test_a_device_that_pauses_inside_its_answers_has_its_read_kept_whole(
    pty_pair: PtyPair,
) -> None:
    """A device that pauses inside its answers to a merged read, at the same byte each time,
    for longer than its timeout, and answers its other read in time: the rest of each of
    those answers comes late, and the read is not split. An answer whose rest came late shows
    that it was cut off by the device's pause, not by a serial server that passes only so
    much of an answer, also when the device answered another read since."""
    registers = [{"name": "status", "table": "holding", "address": 0}] + [
        {"name": f"v{i}", "table": "holding", "address": 100 + i} for i in range(4)
    ]
    hand = HandBus(pty_pair, device("a", "", 1, registers, interval_s=1.0, timeout_s=0.1))
    reply = read_reply(1, [10, 11, 12, 13])
    cuts = 0
    rest_at = float("inf")
    try:
        with capture_logs() as logs:
            at = 100.0
            while cuts < 6 or rest_at < float("inf"):
                if at >= rest_at:
                    hand.receive(at, reply[7:], look=False)
                    rest_at = float("inf")
                request = hand.tick(at)
                if request[2:4] == b"\x00\x00":
                    hand.receive(at + 0.01, read_reply(1, [1]), look=False)
                elif request and cuts < 6:
                    hand.receive(at + 0.01, reply[:7], look=False)
                    rest_at = at + 0.3
                    cuts += 1
                due = hand.bus.next_deadline()
                assert due is not None
                at = max(round(at + 0.001, 6), min(due, rest_at))
        counters = hand.counters("a")
        assert (counters.timeouts, counters.errors["truncated"]) == (6, 6)
        assert counters.errors["late"] == 6
        assert (counters.splits, counters.reads) == (0, 2)
        assert hand.values("a")["status"] == (1.0, 1.0, 6)
        assert not [e for e in logs if "cut off" in e["event"]]
    finally:
        hand.close()


def meter_and_dead_unit(pty_pair: PtyPair) -> HandBus:
    """A bus of a meter (unit 1, ``METER``) and a device of one register (unit 2, "other"),
    each polled every 0.5 s."""
    return HandBus(
        pty_pair,
        device("meter", "", 1, METER, interval_s=0.5, timeout_s=0.2),
        device("other", "", 2, [{"name": "a", "table": "holding", "address": 0}], interval_s=0.5),
    )


def noise_until_down(hand: HandBus, noise: bytes) -> float:
    """Tick ``meter_and_dead_unit``'s bus from 100 s on its clock, the meter answering 230 V
    and unit 2 sending ``noise`` for each request, until unit 2 is down (10 s at most); the
    clock then."""
    other = hand.runtimes["other"]
    at = 100.0
    while other.state != "down" and at < 110.0:
        request = hand.tick(at)
        at = round(at + 0.01, 6)
        if request[:1] == b"\x01":
            hand.receive(at, read_reply(1, float32(230.0)), look=False)
        elif request[:1] == b"\x02":
            hand.receive(at, noise, look=False)
    return at


def test_noise_in_a_dead_device_s_exchanges_is_not_taken_for_wrong_line_settings(
    pty_pair: PtyPair,
) -> None:
    """A bus of two meters, the one at unit 2 dead, and noise on the line (a motor starting
    nearby) in its exchanges: the meter at unit 1 answers meanwhile, so the line's settings
    are right, and the dead meter's down reason names the noise and its unit id, never the
    baud rate and parity."""
    hand = meter_and_dead_unit(pty_pair)
    other = hand.runtimes["other"]
    try:
        noise_until_down(hand, b"\x00\xf8\x3c")  # noise, no answer
        assert other.state == "down"
        assert hand.runtimes["meter"].state == "up"
        error = other.last_error
    finally:
        hand.close()
    assert error.startswith(
        "no response to 3 requests in a row: bytes came that make no answer: noise on the line "
        "(check the bus's termination and biasing); the bus's other devices answered "
        "meanwhile, so the line, its settings and its wiring work: check the unit id "
        "(modbus.unit = 2)"
    ), error
    assert "baud rate" not in error


def test_noise_in_a_dead_device_s_exchanges_is_its_timeouts_not_crc_errors(
    pty_pair: PtyPair,
) -> None:
    """Noise on the line in each exchange of a dead meter (unit 2) while unit 1 answers: each
    exchange is a timeout and its noise the bus's skipped bytes (counted to the meter in
    flight), not a spoilt answer of that meter, so its counters and stale hint say "no
    answer", not "CRC errors". A frame like its answer (its unit id, function code and byte
    count) with a CRC that does not match is still ``crc``."""
    hand = meter_and_dead_unit(pty_pair)
    other = hand.runtimes["other"]
    counters = hand.counters("other")
    mark = counters.mark()
    noise = b"\x00\xf8\x3c"
    try:
        at = noise_until_down(hand, noise)
        assert other.state == "down"
        assert counters.timeouts == 3
        assert counters.errors == dict.fromkeys(counters.errors, 0)
        assert other.snapshot().skipped_bytes == 3 * len(noise)
        assert counters.hint_since(mark, "other") == (
            "3 requests went unanswered: check the unit id (modbus.unit = 2), the baud rate "
            "and parity, and the wiring (A and B swapped, termination)"
        )
        # its backoff's attempt gets a frame of its answer's shape with a spoilt CRC
        while counters.errors["crc"] == 0 and at < 120.0:
            request = hand.tick(at)
            at = round(at + 0.01, 6)
            if request[:1] == b"\x01":
                hand.receive(at, read_reply(1, float32(230.0)), look=False)
            elif request[:1] == b"\x02":
                hand.receive(at, spoilt(read_reply(2, [5])), look=False)
        assert counters.errors == {**dict.fromkeys(counters.errors, 0), "crc": 1}
        assert counters.timeouts == 3
    finally:
        hand.close()
