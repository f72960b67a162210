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

import pytest
from harness.modbus import rtu_frame
from harness.pty import PtyPair
from structlog.testing import capture_logs
from test_modbus import device
from test_modbus_line import HandBus, read_reply

from sensord.modbus_state import SPLIT_AFTER_REFUSALS, SPLIT_ALONE_S

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
    unanswered twice running (once may be an answer lost to noise) the read is split and
    logged with the advice to set modbus.max_registers. From then on every value is read
    at every poll."""
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
        # the whole read asked again, the probe and the whole read once more
        assert reads[first_probe + 1 : first_probe + 4] == [(0, 76), (0, 2), (0, 76)]
        after = reads[first_probe + 4 :]
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


GX: list[dict[str, Any]] = [
    {"name": "voltage", "table": "holding", "address": 0},
    {"name": "current", "table": "holding", "address": 1},
    {"name": "power", "table": "holding", "address": 3},
]


def test_a_module_away_for_a_while_leaves_its_read_whole(pty_pair: PtyPair) -> None:
    """A Victron GX whose module is away answers 02 to every read for 5 polls, then serves
    it again: the read it answered before is not split (a device away refuses every read
    alike), the refusal's line says it was answered before, and one request per poll reads
    every value once the module is back."""
    hand = HandBus(pty_pair, device("gx", "", 1, GX, interval_s=1.0, max_gap=1))
    away = {102, 103, 104, 105, 106}

    def gx(address: int, count: int, at: float) -> bytes | None:
        if int(at) in away:
            return rtu_frame(bytes([1, 0x83, 2]))
        return read_reply(1, list(range(count)), 3)

    try:
        with capture_logs() as logs:
            play(hand, gx, 100.0, 107.0)
            asked = play(hand, gx, 107.0, 112.0)
        assert hand.counters("gx").splits == 0
        assert {(a, c) for _, a, c in asked} == {(0, 4)}
        assert hand.values("gx")["power"] == (3.0, 3.0, 7)
        [refusal] = [e for e in logs if e["event"] == "exception response"]
        assert "answered this read before" in refusal["hint"]
    finally:
        hand.close()


def test_a_read_answered_before_is_split_when_refused_while_the_others_are_answered(
    pty_pair: PtyPair,
) -> None:
    """A device whose map changed (a firmware update) refuses one read it answered before
    while it answers its other read: split at three polls running."""
    registers_ = [*GX, {"name": "energy", "table": "holding", "address": 100}]
    hand = HandBus(pty_pair, device("m", "", 1, registers_, interval_s=1.0, max_gap=1))

    def changed(address: int, count: int, at: float) -> bytes | None:
        if at >= 102.0 and count == 4:
            return rtu_frame(bytes([1, 0x83, 2]))
        return read_reply(1, list(range(count)), 3)

    try:
        asked = play(hand, changed, 100.0, 104.5)
        assert hand.counters("m").splits == 1
        refused = [t for t, a, c in asked if c == 4 and t >= 102.0]
        assert len(refused) == SPLIT_AFTER_REFUSALS
        assert (3, 1) in [(a, c) for _, a, c in asked]
    finally:
        hand.close()


def test_one_answer_lost_after_the_probe_does_not_split_the_read(pty_pair: PtyPair) -> None:
    """A meter dead at start that comes back and takes its 76-register read; the first
    whole read after its probe is lost to noise. With retries = 2 that read is asked
    again; it is never split, and no line says to set modbus.max_registers."""
    hand = HandBus(pty_pair, device("sdm72", "", 1, SDM72, interval_s=1.0, max_gap=10, retries=2))
    lost: list[float] = []

    def comes_back(address: int, count: int, at: float) -> bytes | None:
        if at < 120.0:
            return None
        if count == 76 and not lost:
            lost.append(at)  # the one answer noise eats
            return None
        return registers(count)

    try:
        with capture_logs() as logs:
            play(hand, comes_back, 100.0, 130.0)
        assert hand.counters("sdm72").splits == 0
        assert not [e for e in logs if "merged read" in e["event"]]
    finally:
        hand.close()


@pytest.mark.parametrize("retries", [0, 1])
def test_a_lost_answer_and_then_the_read_answered_leaves_it_whole(
    pty_pair: PtyPair, retries: int
) -> None:
    """Without retries, the whole read lost once after the probe is probed again and then
    answered: not split either."""
    hand = HandBus(
        pty_pair, device("sdm72", "", 1, SDM72, interval_s=1.0, max_gap=10, retries=retries)
    )
    lost: list[float] = []

    def comes_back(address: int, count: int, at: float) -> bytes | None:
        if at < 120.0:
            return None
        if count == 76 and len(lost) <= retries:
            lost.append(at)
            return None
        return registers(count)

    try:
        asked = play(hand, comes_back, 100.0, 130.0)
        assert hand.counters("sdm72").splits == 0
        assert [(a, c) for t, a, c in asked if t >= 125.0] == [(0, 76)] * 5
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
        assert "answers exception 0x04 (server device failure) for a while" in refusal["hint"]
        assert "boundary of their register map" not in refusal["hint"]
        assert hand.counters("m").splits == 0
    finally:
        hand.close()


def test_a_device_s_only_read_refused_for_ten_minutes_is_split(pty_pair: PtyPair) -> None:
    """A device with one read, answered before and then refused with 02 at every poll,
    answers no other read to show it is there: its read is split once it has been refused
    for SPLIT_ALONE_S (a device away for a while refuses every read alike, but not for
    that long)."""
    hand = HandBus(pty_pair, device("m", "", 1, GX, interval_s=30.0, max_gap=1))

    def changed(address: int, count: int, at: float) -> bytes | None:
        if at >= 130.0 and count == 4:
            return rtu_frame(bytes([1, 0x83, 2]))
        return read_reply(1, list(range(count)), 3)

    try:
        play(hand, changed, 100.0, 130.0 + SPLIT_ALONE_S - 1.0)
        assert hand.counters("m").splits == 0
        play(hand, changed, 130.0 + SPLIT_ALONE_S - 1.0, 130.0 + SPLIT_ALONE_S + 60.0)
        assert hand.counters("m").splits == 1
    finally:
        hand.close()
