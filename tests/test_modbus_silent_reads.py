"""Reads a Modbus device leaves unanswered while it answers others: many cheap devices give no
exception for registers they do not map, or for reads longer than they take, but no answer at
all (Telegraf issue 8151 on an SDM630's 40-value limit: "other sensors simply drop you an error
or just don't answer"). Played on a real pty with the test as the device, on a clock that
stands still until the test moves it.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from harness.pty import PtyPair
from structlog.testing import capture_logs
from test_modbus import device
from test_modbus_line import HandBus, read_reply

from sensord.modbus_state import SILENT_READ_POLLS

#: A meter's register map: a status, and values at 100, 101 and 104 (one read with max_gap 2).
METER: list[dict[str, Any]] = [
    {"name": "status", "table": "holding", "address": 0},
    *({"name": f"v{a}", "table": "holding", "address": a} for a in (100, 101, 104)),
]

#: What the device holds: register -> value.
HOLDING = {0: 7, 1: 8, 100: 100, 101: 101, 104: 104, 110: 110}


def play(hand: HandBus, answers: Callable[[int, int], bool], until: float) -> list[tuple[int, int]]:
    """Play the devices until ``until``: each request of unit 1 for which ``answers(address,
    count)`` holds is answered with the registers of HOLDING (0 for the others), the rest
    left unanswered. Returns the reads asked, in order."""
    asked: list[tuple[int, int]] = []
    at = 100.0
    while at < until:
        request = hand.tick(at)
        if request:
            address, count = struct.unpack(">HH", request[2:6])
            asked.append((address, count))
            if answers(address, count):
                words = [HOLDING.get(address + i, 0) for i in range(count)]
                hand.receive(at + 0.01, read_reply(1, words), look=False)
        due = hand.bus.next_deadline()
        assert due is not None
        at = max(round(at + 0.001, 6), due)
    return asked


def test_a_read_of_one_register_the_device_never_answers_is_told_and_the_others_are_read(
    pty_pair: PtyPair,
) -> None:
    """An XY-MD02-like device that answers its temperature and humidity but not a register
    it does not map (no exception 02: no answer at all): its other values come at every poll,
    the device stays up, and after three polls the log and ``/status`` name the read."""
    registers = [
        {"name": "temperature", "table": "holding", "address": 0},
        {"name": "humidity", "table": "holding", "address": 1},
        {"name": "dewpoint", "table": "holding", "address": 110},
    ]
    hand = HandBus(pty_pair, device("th", "", 1, registers, interval_s=1.0, timeout_s=0.1))
    try:
        with capture_logs() as logs:
            asked = play(hand, lambda address, count: address != 110, 105.5)
        assert asked.count((0, 2)) == asked.count((110, 1)) == 6  # asked at every poll
        assert hand.values("th")["temperature"] == (7.0, 7.0, 6)
        assert hand.values("th")["dewpoint"] is None
        counters = hand.counters("th")
        assert not counters.down
        [told] = [e for e in logs if e["event"] == "device does not answer a read"]
        assert (told["address"], told["registers"], told["polls"]) == (110, ["dewpoint"], 3)
        assert "retries" not in told["hint"]  # not the first read of the poll
        hint = hand.runtimes["th"].snapshot().hint
        assert hint is not None
        assert hint.startswith(
            "the device answers other reads but not dewpoint (holding 110, ref 40111) at 6 polls in a row"
        ), hint
        status = hand.runtimes["th"].snapshot().modbus
        assert status is not None
        assert [r["registers"] for r in status.as_json()["unanswered_reads"]] == [["dewpoint"]]
    finally:
        hand.close()


def test_a_merged_read_the_device_never_answers_is_split_and_its_values_come(
    pty_pair: PtyPair,
) -> None:
    """A meter that answers no read of more than 3 registers (it takes fewer a read, and
    says nothing): the merged read of 100..104 goes unanswered while the read of 0 is
    answered; at the third poll it is split, and its values come from then on."""
    registers = METER
    table = device("meter", "", 1, registers, interval_s=1.0, timeout_s=0.1, max_gap=2)
    hand = HandBus(pty_pair, table)
    try:
        with capture_logs() as logs:
            asked = play(hand, lambda address, count: count <= 3, 106.5)
        merged = asked.count((100, 5))
        assert merged == SILENT_READ_POLLS
        [split] = [
            e for e in logs if e["event"] == "device does not answer a merged read; split it"
        ]
        assert (split["address"], split["count"], split["reads"]) == (100, 5, [(100, 2), (104, 1)])
        assert "modbus.max_registers" in split["hint"]
        values = hand.values("meter")
        assert values["v101"] is not None
        assert values["v101"][:2] == (101.0, 101.0)
        assert values["v104"] is not None
        assert values["v104"][2] >= 3
        assert hand.runtimes["meter"].snapshot().hint is None  # every value comes now
        assert hand.counters("meter").splits == 1
    finally:
        hand.close()


def test_a_device_that_answers_nothing_has_no_read_split(pty_pair: PtyPair) -> None:
    """A dead device: no read of it is held for one it ignores, however often it goes
    unanswered (it answered no other request meanwhile); it goes down as before."""
    registers = METER
    table = device("dead", "", 1, registers, interval_s=1.0, timeout_s=0.1, max_gap=2)
    hand = HandBus(pty_pair, table)
    try:
        with capture_logs() as logs:
            play(hand, lambda address, count: False, 110.0)
        assert hand.counters("dead").down
        assert hand.counters("dead").splits == 0
        assert not [e for e in logs if "does not answer" in e["event"]]
    finally:
        hand.close()


def test_a_device_that_streams_text_lines_is_told_so_not_to_check_the_baud_rate(
    pty_pair: PtyPair,
) -> None:
    """An XY-MD02 left in its "ordinary protocol" streams ``+025.3,056.7`` lines and answers
    no Modbus request: the down reason says lines of text came, quoting the last, wherever
    the lines fall against the requests (during an exchange, between them)."""
    registers = [{"name": "temperature", "table": "holding", "address": 0}]
    hand = HandBus(pty_pair, device("th", "", 1, registers, interval_s=1.0, timeout_s=0.1))
    try:
        with capture_logs() as logs:
            at = 100.0
            line_at = 100.05
            while at < 106.0:
                if at >= line_at:
                    hand.receive(at, b"+025.3,056.7\r\n", look=False)
                    line_at += 0.7  # its own pace, not the polls'
                hand.tick(at)
                due = hand.bus.next_deadline()
                assert due is not None
                at = max(round(at + 0.001, 6), min(due, line_at))
        down = [e for e in logs if e["event"] == "sensor state" and e["state"] == "down"]
        assert down, [e["event"] for e in logs]
        assert (
            "lines of text came, not Modbus answers (the last: '+025.3,056.7')" in down[0]["error"]
        )
        assert "check the baud rate" not in down[0]["error"]
    finally:
        hand.close()


def test_a_late_answer_is_not_taken_for_the_next_read_of_its_length(pty_pair: PtyPair) -> None:
    """The device answers the read of register 0 after its timeout (250 ms against 100 ms),
    and reads register 100 in time. The next read is of the same length, so a late answer
    could pass for its own: the poll stops at the timeout, as before, and register 100 is
    never published with register 0's value."""
    registers = [
        {"name": "b", "table": "holding", "address": 0},
        {"name": "c", "table": "holding", "address": 100},
    ]
    hand = HandBus(pty_pair, device("dev", "", 1, registers, interval_s=1.0, timeout_s=0.1))
    try:
        at, sent_b, asked = 100.0, -1.0, []
        while at < 103.5:
            request = hand.tick(at)
            if request:
                address = struct.unpack(">H", request[2:4])[0]
                asked.append(address)
                if address == 0:
                    sent_b = at
                elif at < sent_b + 0.25:  # the late answer comes while this read is asked
                    hand.receive(sent_b + 0.25, read_reply(1, [1111]), look=False)
                elif hand.bus.in_flight is not None:
                    hand.receive(at + 0.01, read_reply(1, [2222]), look=False)
            due = hand.bus.next_deadline()
            assert due is not None
            at = max(round(at + 0.001, 6), due)
        assert 100 not in asked
        assert hand.values("dev")["c"] is None
    finally:
        hand.close()


def test_with_retries_a_read_left_unanswered_lets_the_poll_go_on_and_is_told(
    pty_pair: PtyPair,
) -> None:
    """``retries = 1``: the read of an unmapped 32-bit value is asked twice, then the poll
    goes on (the next read's answer is of another length) and its value comes; after three
    polls the read is named, without the advice to set retries."""
    registers = [
        {"name": "t", "table": "holding", "address": 0},
        {"name": "unmapped", "table": "holding", "address": 50, "type": "uint32"},
        {"name": "h", "table": "holding", "address": 100},
    ]
    table = device("th", "", 1, registers, interval_s=1.0, timeout_s=0.1, retries=1)
    hand = HandBus(pty_pair, table)
    try:
        asked = play(hand, lambda address, count: address != 50, 105.5)
        assert asked.count((50, 2)) == 2 * asked.count((100, 1))  # asked again once a poll
        values = hand.values("th")
        assert values["h"] is not None
        assert values["h"][2] == asked.count((100, 1))
        hint = hand.runtimes["th"].snapshot().hint
        assert hint is not None
        assert hint.startswith(
            "the device answers other reads but not unmapped (holding 50, ref 40051)"
        )
        assert "retries" not in hint
    finally:
        hand.close()


def test_a_read_left_unanswered_before_one_of_its_length_is_asked_last_from_then_on(
    pty_pair: PtyPair,
) -> None:
    """The unanswered read is followed by one of the same length: the poll stops there (a
    late answer could pass for it). From the next poll on the read is asked last, so the
    value after it comes at every poll but the first; the read is named all the same, and
    the first read of a poll keeps its place."""
    registers = [
        {"name": "t", "table": "holding", "address": 0},
        {"name": "unmapped", "table": "holding", "address": 50},
        {"name": "h", "table": "holding", "address": 100},
    ]
    hand = HandBus(pty_pair, device("th", "", 1, registers, interval_s=1.0, timeout_s=0.1))
    try:
        with capture_logs() as logs:
            asked = play(hand, lambda address, count: address != 50, 105.5)
        polls = asked.count((0, 1))
        assert polls == 6
        assert asked[:5] == [(0, 1), (50, 1), (0, 1), (100, 1), (50, 1)]
        assert asked.count((50, 1)) == polls
        values = hand.values("th")
        assert values["t"] == (7.0, 7.0, polls)
        assert values["h"] == (100.0, 100.0, polls - 1)
        [told] = [e for e in logs if e["event"] == "device does not answer a read"]
        assert told["address"] == 50
        assert not hand.counters("th").down
    finally:
        hand.close()


def test_a_first_read_left_unanswered_keeps_its_place(pty_pair: PtyPair) -> None:
    """A device that loses the first request of each poll (it wakes on it): the read is
    not moved, so it is the one told of with the advice for such a device, and the reads
    after it are asked as before."""
    registers = [
        {"name": "t", "table": "holding", "address": 0},
        {"name": "u", "table": "holding", "address": 50, "type": "uint32"},
        {"name": "h", "table": "holding", "address": 100},
    ]
    hand = HandBus(pty_pair, device("th", "", 1, registers, interval_s=1.0, timeout_s=0.1))
    try:
        asked = play(hand, lambda address, count: address != 0, 105.5)
        firsts = [asked[i + 1] for i in range(len(asked) - 1) if asked[i] == (100, 1)]
        assert firsts, asked
        assert set(firsts) == {(0, 1)}, asked
        assert hand.values("th")["h"] is not None
    finally:
        hand.close()


def test_a_first_read_longer_than_the_device_takes_is_split_once_it_answers_the_others(
    pty_pair: PtyPair,
) -> None:
    """A device (or gateway) that answers no read of more than 64 registers, not even with
    an exception, while the merged first read of each poll asks 100: asked again after the
    poll's other read, it is left unanswered again although the device answered that one,
    so the device is awake and ignores the read, which is split as any other silent read:
    its values come."""
    registers = [
        {"name": "pv", "table": "holding", "address": 0},
        {"name": "power", "table": "holding", "address": 99},
        {"name": "temperature", "table": "holding", "address": 500},
    ]
    table = device("inv", "", 1, registers, interval_s=1.0, timeout_s=0.1)
    table["modbus"]["max_gap"] = 100
    hand = HandBus(pty_pair, table)
    try:
        with capture_logs() as logs:
            asked = play(hand, lambda address, count: count <= 64, 107.5)
        assert asked[:3] == [(0, 100), (500, 1), (0, 100)]  # asked again after the other
        [split] = [
            e for e in logs if e["event"] == "device does not answer a merged read; split it"
        ]
        assert split["polls"] == 3
        assert all(count <= 64 for _, count in asked[asked.index((0, 100), 5) + 1 :][-6:])
        values = hand.values("inv")
        assert values["pv"] is not None
        assert values["power"] is not None
        assert values["temperature"] is not None
        assert values["temperature"][2] == 8  # one a poll
        assert not hand.counters("inv").down
    finally:
        hand.close()


def test_a_device_that_loses_the_request_that_wakes_it_is_read_at_every_poll(
    pty_pair: PtyPair,
) -> None:
    """A device that sleeps between polls and loses the first request after a silence:
    the poll's first read, asked again after the others, is answered, so its values come
    at every poll, and the log says once why each poll costs a timeout."""
    registers = [
        {"name": "t", "table": "holding", "address": 0},
        {"name": "h", "table": "holding", "address": 100, "type": "uint32"},
    ]
    hand = HandBus(pty_pair, device("th", "", 1, registers, interval_s=1.0, timeout_s=0.1))
    last = [0.0]

    def awake(address: int, count: int) -> bool:
        now = hand.now
        asleep = now - last[0] > 0.5
        last[0] = now
        return not asleep

    try:
        with capture_logs() as logs:
            asked = play(hand, awake, 105.5)
        assert asked[:3] == [(0, 1), (100, 2), (0, 1)]
        values = hand.values("th")
        assert values["t"] == (7.0, 7.0, 6)  # at every poll
        assert values["h"] is not None
        [told] = [e for e in logs if e["event"].startswith("device answers the first read")]
        assert told["polls"] == 3
        assert not [e for e in logs if e["event"] == "device does not answer a read"]
        assert hand.runtimes["th"].snapshot().hint is None
    finally:
        hand.close()


def test_a_read_lost_once_behind_an_ignored_read_of_its_length_is_asked_again(
    pty_pair: PtyPair,
) -> None:
    """The device ignores register 50 (one value) and loses one answer to register 200
    (one value, the same reply length) once. Both are then asked after the poll's others,
    the one asked longest ago first: 50's timeout stops the poll before 200 at most once,
    and 200 is read again at the next poll."""
    registers = [
        {"name": "a", "table": "holding", "address": 0},
        {"name": "unmapped", "table": "holding", "address": 50},
        {"name": "b", "table": "holding", "address": 100, "type": "uint32"},
        {"name": "c", "table": "holding", "address": 200},
    ]
    hand = HandBus(pty_pair, device("th", "", 1, registers, interval_s=1.0, timeout_s=0.1))
    lost = [False]

    def answers(address: int, count: int) -> bool:
        if address == 200 and not lost[0]:
            lost[0] = True
            return False
        return address != 50

    try:
        asked = play(hand, answers, 110.5)
        polls = asked.count((0, 1))
        assert polls == 11
        assert asked.count((200, 1)) >= polls - 1, asked
        values = hand.values("th")
        assert values["c"] is not None
        assert values["c"][2] >= polls - 2
    finally:
        hand.close()


def test_a_sleepy_device_that_ignores_a_register_stays_up(pty_pair: PtyPair) -> None:
    """A device that loses the request that wakes it and ignores register 150: the poll
    that ends on 150's timeout is no first timeout of a run, so the next poll's lost first
    request does not stop it, and the device is never taken down."""
    registers = [
        {"name": "a", "table": "holding", "address": 0},
        {"name": "b", "table": "holding", "address": 100, "type": "uint32"},
        {"name": "unmapped", "table": "holding", "address": 150},
        {"name": "d", "table": "holding", "address": 300, "type": "uint32"},
    ]
    hand = HandBus(pty_pair, device("th", "", 1, registers, interval_s=1.0, timeout_s=0.1))
    last = [0.0]

    def answers(address: int, count: int) -> bool:
        asleep = hand.now - last[0] > 0.5
        last[0] = hand.now
        return not asleep and address != 150

    try:
        with capture_logs() as logs:
            play(hand, answers, 110.5)
        assert not [e for e in logs if e.get("state") == "down"]
        values = hand.values("th")
        assert values["d"] is not None
        assert values["d"][2] >= 10
        assert values["a"] is not None
        assert values["a"][2] >= 10
    finally:
        hand.close()


def test_a_device_with_an_ignored_read_keeps_its_poll_rate_beside_a_fast_one(
    pty_pair: PtyPair,
) -> None:
    """A device polled every second that ignores one register, beside one polled every
    0.12 s: its polls end on that read's timeout, which is no sign that it stopped
    answering, so it is polled at its interval, not only in gaps its timeout fits."""
    slow = device(
        "slow",
        "",
        1,
        [
            {"name": "a", "table": "holding", "address": 0},
            {"name": "unmapped", "table": "holding", "address": 150},
            {"name": "b", "table": "holding", "address": 300, "type": "uint32"},
        ],
        interval_s=1.0,
        timeout_s=0.1,
    )
    fast = device(
        "fast",
        "",
        2,
        [{"name": "f", "table": "holding", "address": 0}],
        interval_s=0.12,
        timeout_s=0.1,
    )
    hand = HandBus(pty_pair, slow, fast)
    asked: list[tuple[int, int, int]] = []
    at = 100.0
    try:
        while at < 120.5:
            request = hand.tick(at)
            if request:
                unit = request[0]
                address, count = struct.unpack(">HH", request[2:6])
                asked.append((unit, address, count))
                if not (unit == 1 and address == 150):
                    words = [HOLDING.get(address + i, 0) for i in range(count)]
                    hand.receive(at + 0.01, read_reply(unit, words), look=False)
            due = hand.bus.next_deadline()
            assert due is not None
            at = max(round(at + 0.001, 6), due)
        polls = asked.count((1, 0, 1))
        missed = hand.counters("slow").polls_missed
        assert polls + missed >= 19, (polls, missed)
        assert polls >= 15, (polls, missed)
    finally:
        hand.close()


def test_a_first_read_known_to_be_ignored_costs_one_timeout_a_poll(pty_pair: PtyPair) -> None:
    """The device ignores register 0, the poll's first read, while it answers the others:
    asked again after them at the first polls, and once that is told, asked once a poll,
    one timeout a poll as any read it ignores."""
    registers = [
        {"name": "unmapped", "table": "holding", "address": 0},
        {"name": "b", "table": "holding", "address": 100, "type": "uint32"},
        {"name": "c", "table": "holding", "address": 200},
    ]
    hand = HandBus(pty_pair, device("th", "", 1, registers, interval_s=1.0, timeout_s=0.1))
    try:
        asked = play(hand, lambda address, count: address != 0, 115.5)
        polls = asked.count((100, 2))
        assert polls == 16
        assert hand.counters("th").timeouts <= polls + 3
        assert asked[-3:] == [(0, 1), (100, 2), (200, 1)]
    finally:
        hand.close()
