"""A device that takes reads only so long, and one that refuses for a while what it reads
otherwise. Played on a real pty with the test as the device, on a clock that stands still
until the test moves it.

An Eastron SDM72D-M answers no read of more than 30 values (60 registers) at all: "I see the
TX led flash, but no RX" (esphome issue 4627). A meter read in one merged request of 76
registers then never answers anything, and only a read of fewer registers tells it from a
dead one. A Victron GX answers 02 for a while for a module it served minutes before
(ioBroker.modbus issue 376); a read it answered before is not split at the first such 02.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from harness.modbus import rtu_frame
from harness.pty import PtyPair
from structlog.testing import capture_logs
from test_modbus import device
from test_modbus_line import HandBus, read_reply

from sensord.modbus_state import SPLIT_AFTER_REFUSALS

#: 38 float32 values at addresses 0 to 75: one read of 76 registers.
SDM72: list[dict[str, Any]] = [
    {"name": f"v{a}", "table": "input", "address": a, "type": "float32"} for a in range(0, 76, 2)
]


def play(
    hand: HandBus,
    answer: Callable[[int, int, float], bytes | None],
    start: float,
    until: float,
) -> list[tuple[float, int, int]]:
    """Play unit 1 from ``start`` until ``until``: each request is answered with what
    ``answer(address, count, at)`` gives (None: no answer). Returns the requests, in
    order, with the time each was sent."""
    asked: list[tuple[float, int, int]] = []
    at = start
    while at < until:
        request = hand.tick(at)
        if request:
            address, count = struct.unpack(">HH", request[2:6])
            asked.append((at, address, count))
            reply = answer(address, count, at)
            if reply is not None:
                hand.receive(at + 0.01, reply, look=False)
        due = hand.bus.next_deadline()
        assert due is not None
        at = max(round(at + 0.001, 6), due)
    return asked


def registers(count: int, function: int = 4) -> bytes:
    return read_reply(1, [0x4366, 0x0000] * (count // 2) + [0] * (count % 2), function)


def test_a_meter_that_never_answers_a_read_that_long_is_read_in_smaller_ones(
    pty_pair: PtyPair,
) -> None:
    """The meter answers reads of up to 60 registers, and none longer. Down after three
    unanswered polls of the 76-register read, it is asked for its first value alone at its
    next attempt; answering that, it is asked the whole read again, and when that goes
    unanswered the read is split and logged with the advice to set modbus.max_registers.
    From then on every value is read at every poll."""
    hand = HandBus(pty_pair, device("sdm72", "", 1, SDM72, interval_s=1.0, max_gap=10))

    def sdm72(address: int, count: int, at: float) -> bytes | None:
        return registers(count) if count <= 60 else None

    try:
        with capture_logs() as logs:
            asked = play(hand, sdm72, 100.0, 130.0)
        counters = hand.counters("sdm72")
        assert not counters.down
        assert counters.splits == 1
        reads = [(address, count) for _, address, count in asked]
        first_probe = reads.index((0, 2))
        assert reads[:first_probe] == [(0, 76)] * first_probe
        assert first_probe >= 3  # down after three timeouts in a row
        assert reads[first_probe + 1] == (0, 76)  # the whole read, asked again once
        after = reads[first_probe + 2 :]
        assert (0, 76) not in after
        assert len(after) >= 10
        assert set(after) == {(0, 38), (38, 38)}
        [told] = [e for e in logs if e["event"] == "device does not answer a merged read; split it"]
        assert "modbus.max_registers" in told["hint"]
        assert told["count"] == 76
        values = hand.values("sdm72")
        assert all(v is not None for v in values.values()), values
        assert values["v74"] is not None
        assert values["v74"][0] == 230.0
    finally:
        hand.close()


def test_a_dead_meter_costs_one_request_per_attempt_and_is_not_split_when_it_comes_back(
    pty_pair: PtyPair,
) -> None:
    """A meter dead at start (its breaker off) and back later: while down it is asked its
    first value alone at each attempt (one timeout per attempt, as before); when it answers,
    its whole read is asked and answered, and is not split."""
    hand = HandBus(pty_pair, device("sdm72", "", 1, SDM72, interval_s=1.0, max_gap=10))

    def comes_back(address: int, count: int, at: float) -> bytes | None:
        return registers(count) if at >= 120.0 else None

    try:
        asked = play(hand, comes_back, 100.0, 130.0)
        counters = hand.counters("sdm72")
        assert not counters.down
        assert counters.splits == 0
        down = [(address, count) for at, address, count in asked if at < 120.0]
        assert down[:3] == [(0, 76)] * 3
        assert set(down[3:]) == {(0, 2)}  # one probe per attempt
        up = [(address, count) for at, address, count in asked if at >= 120.0]
        assert up[0] == (0, 2)
        assert set(up[1:]) == {(0, 76)}
        assert len(up) >= 5
    finally:
        hand.close()


def test_a_read_answered_before_is_split_only_when_refused_at_three_polls_running(
    pty_pair: PtyPair,
) -> None:
    """A gateway whose module is away answers 02 for two polls to the read it answered
    before: the read is not split, the refusal's line says it was answered before, and the
    read is answered whole again. Refused at three polls running, it is split."""
    registers_ = [
        {"name": "voltage", "table": "holding", "address": 0},
        {"name": "current", "table": "holding", "address": 1},
        {"name": "power", "table": "holding", "address": 3},
    ]
    hand = HandBus(pty_pair, device("gx", "", 1, registers_, interval_s=1.0, max_gap=1))
    unmapped = rtu_frame(bytes([1, 0x83, 2]))
    refused_at = {102.0, 103.0} | {106.0 + n for n in range(SPLIT_AFTER_REFUSALS)}

    def gx(address: int, count: int, at: float) -> bytes | None:
        if int(at) in refused_at and count == 4:
            return unmapped
        return read_reply(1, list(range(count)), 3)

    try:
        with capture_logs() as logs:
            asked = play(hand, gx, 100.0, 106.0)
            counters = hand.counters("gx")
            assert counters.splits == 0
            assert [count for _, _, count in asked] == [4] * 6
            assert hand.values("gx")["power"] == (3.0, 3.0, 4)
            [refusal] = [e for e in logs if e["event"] == "exception response"]
            assert "answered this read before" in refusal["hint"]
            asked = play(hand, gx, 106.0, 106.0 + SPLIT_AFTER_REFUSALS + 1.5)
        assert counters.splits == 1
        assert [count for _, _, count in asked][:SPLIT_AFTER_REFUSALS] == [4] * 3
        assert (3, 1) in [(a, c) for _, a, c in asked]
    finally:
        hand.close()


def test_a_read_never_answered_is_split_at_its_first_02_as_before(pty_pair: PtyPair) -> None:
    registers_ = [
        {"name": "voltage", "table": "holding", "address": 0},
        {"name": "power", "table": "holding", "address": 3},
    ]
    hand = HandBus(pty_pair, device("m", "", 1, registers_, interval_s=1.0, max_gap=2))

    def gap(address: int, count: int, at: float) -> bytes | None:
        if count == 4:
            return rtu_frame(bytes([1, 0x83, 2]))
        return read_reply(1, list(range(count)), 3)

    try:
        asked = play(hand, gap, 100.0, 101.5)
        assert [(a, c) for _, a, c in asked] == [(0, 4), (0, 1), (3, 1), (0, 1), (3, 1)]
        assert hand.counters("m").splits == 1
    finally:
        hand.close()


def test_a_04_of_a_read_answered_before_is_not_blamed_on_the_register_map(
    pty_pair: PtyPair,
) -> None:
    registers_ = [
        {"name": "voltage", "table": "holding", "address": 0},
        {"name": "power", "table": "holding", "address": 1},
    ]
    hand = HandBus(pty_pair, device("m", "", 1, registers_, interval_s=1.0))

    def restarting(address: int, count: int, at: float) -> bytes | None:
        if 101.0 <= at < 102.0:
            return rtu_frame(bytes([1, 0x83, 4]))
        return read_reply(1, list(range(count)), 3)

    try:
        with capture_logs() as logs:
            play(hand, restarting, 100.0, 102.5)
        [refusal] = [e for e in logs if e["event"] == "exception response"]
        assert refusal["code"] == 4
        assert "restarting" in refusal["hint"]
        assert "boundary of their register map" not in refusal["hint"]
        assert hand.counters("m").splits == 0
    finally:
        hand.close()
