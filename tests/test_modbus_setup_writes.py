"""Set-up writes (``[[sensors.modbus.setup]]``): what a Modbus device is written before it
is read. A Sensirion SCD30 on Modbus (unit 0x61, 19200 baud) measures only once "trigger
continuous measurement" is written: function 06 to holding register 0x0036, which it echoes
(Sensirion's interface description; the Linux driver ``scd30_serial.c`` sends
``61 06 00 36 00 00 60 64``). A fresh sensor, or one stopped, stays idle otherwise.
"""

from __future__ import annotations

import re
import struct
from pathlib import Path
from typing import Any

import pytest
from harness.common import wait_for
from harness.daemon import StartDaemon
from harness.modbus import ModbusServer, rtu_frame
from harness.pty import PtyPair
from structlog.testing import capture_logs
from test_modbus import device, load_errors
from test_modbus_line import HandBus, read_reply, read_request

START = bytes.fromhex("61 06 00 36 00 00 60 64")

SCD30: list[dict[str, Any]] = [
    {"name": "co2", "table": "holding", "address": 0x28, "type": "float32"},
    {"name": "temperature", "table": "holding", "address": 0x2A, "type": "float32"},
    {"name": "humidity", "table": "holding", "address": 0x2C, "type": "float32"},
]


def float32s(*values: float) -> list[int]:
    return [w for v in values for w in struct.unpack(">HH", struct.pack(">f", v))]


def scd30(**modbus: Any) -> dict[str, Any]:
    modbus.setdefault("setup", [{"table": "holding", "address": 0x36, "value": 0}])
    return device("scd30", "", 0x61, SCD30, interval_s=2.0, **modbus)


def test_the_scd30_is_started_before_its_first_read_and_only_then(pty_pair: PtyPair) -> None:
    """The start command goes out first, as the Linux driver sends it; echoed, it is taken
    (logged), the read follows in the same poll, and the next poll only reads."""
    hand = HandBus(pty_pair, scd30())
    readings = read_reply(0x61, float32s(612.5, 21.25, 45.5))
    try:
        with capture_logs() as logs:
            assert hand.tick(100.0) == START
            hand.receive(100.01, START, look=False)
            assert hand.tick(100.02) == read_request(0x61, 0x28, 6)
            hand.receive(100.03, readings, look=False)
            assert hand.tick(102.0) == read_request(0x61, 0x28, 6)
            hand.receive(102.01, readings, look=False)
        assert hand.values("scd30")["co2"] == (612.5, 612.5, 2)
        counters = hand.counters("scd30")
        assert counters.transactions == 3
        assert counters.exceptions == {}
        [taken] = [e for e in logs if e["event"] == "set-up write taken"]
        assert taken["write"] == "holding 54 = [0] (06)"
    finally:
        hand.close()


def test_a_device_that_comes_back_is_set_up_again(pty_pair: PtyPair) -> None:
    """Down after three unanswered polls (it lost power), the device answers a read again:
    its set-up write goes out before its next read."""
    hand = HandBus(pty_pair, scd30())
    readings = read_reply(0x61, float32s(612.5, 21.25, 45.5))
    try:
        assert hand.tick(100.0) == START
        hand.receive(100.01, START, look=False)
        assert hand.tick(100.02) == read_request(0x61, 0x28, 6)
        hand.receive(100.03, readings, look=False)
        at = 102.0
        sent: list[bytes] = []
        while not hand.counters("scd30").down:
            request = hand.tick(at)
            if request:
                sent.append(request)
            at = round(at + 0.05, 6)
        assert set(sent) == {read_request(0x61, 0x28, 6)}
        while not (request := hand.tick(at)):
            at = round(at + 0.05, 6)
        assert request == read_request(0x61, 0x28, 6)
        hand.receive(at + 0.01, readings, look=False)
        assert not hand.counters("scd30").down
        assert hand.tick(at + 0.02) == START  # set up again, before its next read
        hand.receive(at + 0.03, START, look=False)
        assert hand.tick(at + 0.04) == b""  # the poll is over: the next read at its interval
    finally:
        hand.close()


@pytest.mark.parametrize(
    ("code", "meaning"), [(1, "illegal function"), (2, "illegal data address")]
)
def test_a_refused_write_is_logged_counted_and_not_asked_again(
    pty_pair: PtyPair, code: int, meaning: str
) -> None:
    hand = HandBus(pty_pair, scd30())
    readings = read_reply(0x61, float32s(612.5, 21.25, 45.5))
    try:
        with capture_logs() as logs:
            assert hand.tick(100.0) == START
            refused = rtu_frame(bytes([0x61, 0x86, code]))
            hand.receive(100.01, refused, look=False)
            assert hand.tick(100.02) == read_request(0x61, 0x28, 6)
            hand.receive(100.03, readings, look=False)
            assert hand.tick(102.0) == read_request(0x61, 0x28, 6)
        assert hand.counters("scd30").exceptions == {code: 1}
        [refusal] = [e for e in logs if e["event"] == "device refused a set-up write"]
        assert (refusal["code"], refusal["meaning"]) == (code, meaning)
        assert "function = 16" in refusal["hint"]
        assert hand.values("scd30")["co2"] == (612.5, 612.5, 1)
    finally:
        hand.close()


def test_an_echo_of_another_value_is_told(pty_pair: PtyPair) -> None:
    hand = HandBus(pty_pair, scd30())
    try:
        with capture_logs() as logs:
            assert hand.tick(100.0) == START
            other = rtu_frame(bytes.fromhex("61 06 00 36 00 07"))
            hand.receive(100.01, other, look=False)
            assert hand.tick(100.02) == read_request(0x61, 0x28, 6)
        [told] = [e for e in logs if e["event"] == "set-up write not echoed as sent"]
        assert told["answer"] == other.hex(" ")
    finally:
        hand.close()


@pytest.mark.parametrize(
    ("write", "error"),
    [
        ({"table": "coil", "address": 1, "value": 2}, "a coil is written 0 or 1, got 2"),
        ({"table": "holding", "address": 1, "value": -1}, "a uint16 holds 0..65535, got -1"),
        ({"table": "holding", "address": 1, "value": 1.5}, "a uint16 holds integers, got 1.5"),
        (
            {"table": "holding", "address": 1, "value": 1.5, "type": "float32", "function": 6},
            "a holding write of 2 registers takes function 16",
        ),
        (
            {"table": "coil", "address": 1, "value": 1, "function": 16},
            "a coil write of 1 coil takes function 05 or 15",
        ),
        ({"ref": "30001", "value": 1}, "'30001' is in table 'input', which is read, not written"),
        ({"value": 1}, "give either ref, or table and address"),
        ({"table": "input", "address": 1, "value": 1}, "must be one of"),
        (
            {"table": "holding", "address": 1, "value": 1e39, "type": "float32"},
            "a float32 holds at most ±3.402823e+38, got 1e+39",
        ),
    ],
)
def test_a_write_that_cannot_be_made_is_refused_by_check(write: dict[str, Any], error: str) -> None:
    errors = load_errors(scd30(setup=[write]))
    assert any("modbus.setup[0]" in e and error in e for e in errors), errors


def test_a_modbus_sensor_s_byte_setup_points_at_modbus_setup() -> None:
    table = scd30()
    table["setup"] = [{"send": "61 06 00 36 00 00 60 64"}]
    errors = load_errors(table)
    assert any("[[sensors.modbus.setup]]" in e for e in errors), errors


SCD30_TOML = """
[[sensors]]
name = "scd30"
port = "{port}"
format = "modbus"
modbus = {{ unit = 97, interval_s = 0.2, setup = [
  {{ table = "holding", address = 0x36, value = 1013 }},
  {{ table = "holding", address = 0x25, value = 5, function = 16 }},
] }}
registers = [{{ name = "co2", table = "holding", address = 0x28, type = "float32" }}]
channels = [{{ name = "co2_ppm", field = "co2" }}]
"""


@pytest.mark.slow
def test_set_up_writes_reach_a_real_modbus_server(
    tmp_path: Path, start_daemon: StartDaemon
) -> None:
    """Through the real daemon over RTU-over-TCP to a pymodbus server: the start command
    (with an ambient pressure of 1013 mbar) and the measurement interval (with function 16)
    land in the device's registers, and its CO2 is read."""
    with ModbusServer([97], "rtu-tcp") as server:
        server.set(97, "holding", 0x28, float32s(612.5))
        daemon = start_daemon(config=SCD30_TOML.format(port=server.url))
        daemon.wait_http()

        def co2() -> float | None:
            scrape = daemon.scrape()
            labels = {"sensor": "scd30", "channel": "co2_ppm"}
            if not scrape.has("sensord_reading_value", **labels):
                return None
            return scrape.value("sensord_reading_value", **labels)

        wait_for(lambda: co2() == 612.5, 10, "the CO2 reading")
        assert server.get(97, "holding", 0x36) == [1013]
        assert server.get(97, "holding", 0x25) == [5]
        assert daemon.stop() == 0


READ = read_request(0x61, 0x28, 6)
READINGS = read_reply(0x61, float32s(612.5, 21.25, 45.5))


def run(
    hand: HandBus, start: float, end: float, *, writes: bytes | None, reads: bool
) -> list[tuple[float, bytes]]:
    """Play the SCD30 every 50 ms from ``start`` to ``end``: each write answered with
    ``writes`` (None: not at all), each read answered when ``reads``. The requests sent."""
    sent: list[tuple[float, bytes]] = []
    at = start
    while at < end:
        request = hand.tick(at)
        if request:
            sent.append((at, request))
            if request == READ and reads:
                hand.receive(at + 0.005, READINGS, look=False)
            elif request != READ and writes is not None:
                hand.receive(at + 0.005, writes, look=False)
        at = round(at + 0.05, 6)
    return sent


@pytest.mark.parametrize("retries", [0, 2])
def test_a_write_never_echoed_is_given_up_and_the_device_read_all_along(
    pty_pair: PtyPair, retries: int
) -> None:
    """A device that ignores the write (or whose EEPROM takes longer than the timeout)
    answers its reads: the write is asked at 3 polls (with its retries each time), then
    given up with a warning; the device is read at every poll and never down."""
    hand = HandBus(pty_pair, scd30(retries=retries))
    try:
        with capture_logs() as logs:
            sent = run(hand, 100.0, 112.0, writes=None, reads=True)
        assert sum(request == START for _, request in sent) == 3 * (1 + retries)
        assert sent[-1][1] == READ
        assert sum(request == READ for _, request in sent) >= 5
        assert not hand.counters("scd30").down
        [told] = [e for e in logs if e["event"] == "set-up write unanswered"]
        assert told["write"] == "holding 54 = [0] (06)"
    finally:
        hand.close()


@pytest.mark.parametrize("reads", [True, False], ids=["reads-answered", "nothing-answered"])
def test_an_unanswered_write_s_hint_checks_the_line_only_while_nothing_answers(
    pty_pair: PtyPair, reads: bool
) -> None:
    """A device whose reads are answered while it leaves its set-up write unanswered (ioBroker
    issue ioBroker/ioBroker.modbus 77: "Cannot write [5004]: timeout" while "all values which
    are polled are working correct"; Cloud-Automation/node-modbus issue 328: the registers
    change, no answer comes, reads work): the warning says its unit id, the line's settings
    and the wiring are right (its answers so far), and points at the write (a register or
    function refused without an answer, an answer after the timeout, a pause it needs), not
    at the unit id, the baud rate and the wiring (it did, as for a device that answers
    nothing). A device that answered nothing is told to check those."""
    hand = HandBus(pty_pair, scd30(retries=0))
    try:
        with capture_logs() as logs:
            run(hand, 100.0, 160.0, writes=None, reads=reads)
        [told] = [e for e in logs if e["event"] == "set-up write unanswered"]
        answered = hand.counters("scd30").transactions
        assert bool(answered) is reads
        line_checks = (
            "check the unit id (modbus.unit = 97), the baud rate and parity, and the wiring"
        )
        ignored = re.match(
            r"the device answers its other requests \((\d+) so far\), so its unit id, the "
            r"line's settings and the wiring are right: it leaves this write unanswered \(",
            told["hint"],
        )
        if reads:
            assert ignored is not None, told["hint"]
            assert 0 < int(ignored[1]) < answered  # its answers when the warning came
        else:
            assert ignored is None
            assert told["hint"].startswith(line_checks), told["hint"]
        assert (line_checks in told["hint"]) is not reads, told["hint"]
        assert told["hint"].endswith("or the device comes back"), told["hint"]
    finally:
        hand.close()


def answer_writes_late(hand: HandBus, late: list[bytes]) -> int:
    """Run ``hand``'s bus from 100 to 112 s in steps of 50 ms, its reads answered at once and
    the set-up write's n-th request 0.3 s after it by ``late[n]`` (the last of ``late`` for
    any after it): how many times the write was sent."""
    at = 100.0
    due: list[tuple[float, bytes]] = []
    writes = 0
    while at < 112.0:
        request = hand.tick(at)
        if request == READ:
            due.append((at + 0.005, READINGS))
        elif request:
            due.append((at + 0.3, late[min(writes, len(late) - 1)]))
            writes += 1
        for when, data in [d for d in due if d[0] <= at]:
            due.remove((when, data))
            hand.receive(at, data, look=False)
        at = round(at + 0.05, 6)
    return writes


def test_a_write_answered_after_its_timeout_each_time_is_taken_and_told_to_raise_the_timeout(
    pty_pair: PtyPair,
) -> None:
    """A device that stores a written value before it answers (an EEPROM write: the
    test_a_write_never_echoed_is_given_up_and_the_device_read_all_along case's "whose EEPROM
    takes longer than the timeout") echoes its set-up write 0.3 s after the request, past
    its 0.2 s timeout, each time, and answers its reads at once. A device answers a write once
    it holds the value (the Modbus application protocol's normal response to 06: "an echo of
    the request, returned after the register contents have been written"), so after three
    polls the write is taken, not given up as unanswered: logged once as taken (a warning,
    ``late``), its hint saying that its answers came after modbus.timeout_s and to raise it,
    and not written again. (It was logged as ``set-up write unanswered``, the device's
    value taken for missing.)"""
    hand = HandBus(pty_pair, scd30(retries=0, timeout_s=0.2))
    try:
        with capture_logs() as logs:
            writes = answer_writes_late(hand, [START] * 3)
        counters = hand.counters("scd30")
        assert counters.errors["late"] == 3, counters.errors
        assert not [e for e in logs if e["event"] == "set-up write unanswered"]
        [told] = [e for e in logs if e["event"] == "set-up write taken"]
        assert (told["log_level"], told["late"]) == ("warning", True)
        assert told["hint"].startswith(
            "its answers to this write came after modbus.timeout_s (counted late, logged as "
            "'answer after the timeout'), and a device answers a write once it holds the value"
        ), told["hint"]
        assert "raise modbus.timeout_s" in told["hint"]
        assert writes == 3  # three polls, then never again
    finally:
        hand.close()


#: SCD30's refusal of its start command (exception 0x04, server device failure: the Modbus
#: application protocol's "an unrecoverable error occurred while the server was attempting
#: to perform the requested action").
START_REFUSED = rtu_frame(bytes([0x61, 0x86, 0x04]))


@pytest.mark.parametrize(
    ("late", "told", "refusals"),
    [
        ([START_REFUSED] * 3, "device refused a set-up write", 3),
        ([START, START_REFUSED, START_REFUSED], "device refused a set-up write", 2),
        ([START + START_REFUSED] * 3, "device refused a set-up write", 3),
        ([START_REFUSED, START, START], "set-up write taken", 1),
    ],
    ids=["refused", "copy-then-refused", "echo-and-refusal", "refused-then-copy"],
)
def test_a_write_refused_after_its_timeout_is_not_taken(
    pty_pair: PtyPair, late: list[bytes], told: str, refusals: int
) -> None:
    """The device of
    :func:`test_a_write_answered_after_its_timeout_each_time_is_taken_and_told_to_raise_the_timeout`
    whose late answers to its write's three polls (0.3 s after each, past its 0.2 s
    timeout) end with refusals (exception 0x04): its copy of the request at the first poll
    and its refusal at the others (it fails to store the value again), or at each poll the
    request's own bytes, an adapter's echo passed on late as a serial server over a slow
    network does, with the refusal behind them. The write is not taken: its last word is a
    refusal. A copy after the refusals takes it. (A copy of the request after the timeout
    took the write whatever came after it: the refused write was logged as taken and not
    asked again.) Each refusal is counted by its code, one late exchange each poll; the
    refusal behind an echo too, as the device's late answer whose lateness the echo's copy
    counted. (A refusal behind an echo was counted as a frame nobody asked for, ``unasked``,
    its code nowhere.) A write whose last late word was a refusal is logged, once given up,
    as refused with that refusal's code (0x04), its answers late, not as unanswered: the
    device answered it."""
    hand = HandBus(pty_pair, scd30(retries=0, timeout_s=0.2))
    try:
        with capture_logs() as logs:
            writes = answer_writes_late(hand, late)
        assert writes == 3
        lines = [e for e in logs if "set-up write" in e["event"]]
        assert [e["event"] for e in lines] == [told]
        if told == "device refused a set-up write":
            [line] = lines
            assert (line["code"], line["meaning"], line["late"]) == (
                4,
                "server device failure",
                True,
            ), line
            assert line["hint"].startswith("check the write's table"), line["hint"]
        counters = hand.counters("scd30")
        assert counters.errors["late"] == 3
        assert counters.errors["unasked"] == 0
        assert counters.exceptions == {4: refusals}
    finally:
        hand.close()


def test_a_device_back_after_an_outage_is_read_though_it_ignores_its_write(
    pty_pair: PtyPair,
) -> None:
    """Down while its power was off, the device answers reads again and ignores its write:
    while down it is asked no write (its attempts ask its reads), and it comes back."""
    hand = HandBus(pty_pair, scd30())
    try:
        run(hand, 100.0, 104.0, writes=START, reads=True)
        run(hand, 104.0, 112.0, writes=None, reads=False)
        assert hand.counters("scd30").down
        sent = run(hand, 112.0, 130.0, writes=None, reads=True)
        assert not hand.counters("scd30").down
        assert sum(request == READ for _, request in sent) >= 5
    finally:
        hand.close()


def test_a_second_write_and_the_reads_follow_a_write_left_unanswered(pty_pair: PtyPair) -> None:
    second = {"table": "holding", "address": 0x25, "value": 5}
    hand = HandBus(
        pty_pair, scd30(setup=[{"table": "holding", "address": 0x36, "value": 0}, second])
    )
    try:
        sent = run(hand, 100.0, 104.5, writes=None, reads=True)
        requests = [request for _, request in sent]
        assert requests[:3] == [START, rtu_frame(bytes.fromhex("61 06 00 25 00 05")), READ]
        assert not hand.counters("scd30").down
    finally:
        hand.close()


@pytest.mark.parametrize("code", [5, 6])
def test_a_write_answered_busy_at_power_up_is_made_once_the_device_takes_it(
    pty_pair: PtyPair, code: int
) -> None:
    """Busy (06) for half a second after power-up: its busy retries used up, the write is
    asked again at the next poll and taken then. Acknowledged (05: taken, still being
    worked on), it is taken at once."""
    hand = HandBus(pty_pair, scd30())
    busy = rtu_frame(bytes([0x61, 0x86, code]))
    try:
        with capture_logs() as logs:
            at = 100.0
            while at < 106.0:
                request = hand.tick(at)
                if request == START:
                    hand.receive(at + 0.005, START if at >= 100.5 else busy, look=False)
                elif request == READ:
                    hand.receive(at + 0.005, READINGS, look=False)
                at = round(at + 0.05, 6)
        [taken] = [e for e in logs if e["event"] == "set-up write taken"]
        assert taken.get("acknowledged", False) == (code == 5)
        assert not [e for e in logs if e["event"] == "device refused a set-up write"]
    finally:
        hand.close()


#: The hint of a set-up write refused for being answered busy at every poll: not the write's
#: table or value, but the device's other work.
WRITE_BUSY_TOLD = (
    "the device answered busy at 3 polls running, each after modbus.busy_retries tries, and "
    "the write is given up: it is busy with other work (another master, its own measurement "
    "cycle, a start-up that lasts); it is written again when the bus opens again or the "
    "device comes back, and a longer modbus.busy_wait_s may find it free"
)


@pytest.mark.parametrize("busy_until", [102.5, 200.0], ids=["taken", "given up"])
def test_every_busy_answer_to_a_set_up_write_is_counted_once(
    pty_pair: PtyPair, busy_until: float
) -> None:
    """A write answered busy (0x06) at each of its busy retries, poll after poll: every busy
    answer the device sent is counted once in its exceptions, the last of each poll too,
    whether the write is asked again at the next poll (then taken: busy for 2.5 s after
    power-up) or given up after its polls (busy for ever: logged as refused once). (The
    last busy answer of a poll whose write was asked again at the next was not counted.)"""
    hand = HandBus(pty_pair, scd30())
    busy = rtu_frame(bytes([0x61, 0x86, 0x06]))
    sent = 0
    try:
        with capture_logs() as logs:
            at = 100.0
            while at < 108.0:
                request = hand.tick(at)
                if request == START:
                    taken = at >= busy_until
                    sent += not taken
                    hand.receive(at + 0.005, START if taken else busy, look=False)
                elif request == READ:
                    hand.receive(at + 0.005, READINGS, look=False)
                at = round(at + 0.05, 6)
        assert sent == 2 * 4 if busy_until < 200.0 else 3 * 4  # 3 busy retries a poll
        counters = hand.counters("scd30")
        assert counters.exceptions == {6: sent}
        refused = [e for e in logs if e["event"] == "device refused a set-up write"]
        assert [(e["code"], e["hint"]) for e in refused] == (
            [] if busy_until < 200.0 else [(6, WRITE_BUSY_TOLD)]
        )
    finally:
        hand.close()


def test_a_set_up_write_acknowledged_with_0x05_is_taken_and_counted(pty_pair: PtyPair) -> None:
    """The SCD30's start write answered 0x05 (acknowledge: taken, still being worked on): taken
    at once, not asked again, and that exception response counted once by its code, as
    every exception the device sends is."""
    hand = HandBus(pty_pair, scd30())
    try:
        with capture_logs() as logs:
            sent = run(hand, 100.0, 106.0, writes=rtu_frame(bytes([0x61, 0x86, 0x05])), reads=True)
        assert [request for _, request in sent].count(START) == 1
        assert hand.counters("scd30").exceptions == {5: 1}
        [taken] = [e for e in logs if e["event"] == "set-up write taken"]
        assert taken["acknowledged"] is True
    finally:
        hand.close()


def test_a_gateway_s_late_0b_counts_by_code_for_a_read_not_for_a_write(
    pty_pair: PtyPair,
) -> None:
    """Behind a serial server's gateway, the SCD30's set-up write and then its read time out,
    and the gateway's exception 0x0B for each comes after the timeout: both are counted
    ``late``; the read's counts in the exceptions by its code, as one in time does, and the
    write's does not, as one in time does not either (the write is told as unanswered, see
    :func:`test_a_gateway_s_0b_to_a_write_is_no_refused_read`)."""
    hand = HandBus(pty_pair, scd30(timeout_s=0.3))
    try:
        assert hand.tick(100.0) == START
        assert hand.tick(100.31) == b""  # timed out
        hand.receive(100.4, rtu_frame(bytes([0x61, 0x86, 0x0B])), look=False)
        counters = hand.counters("scd30")
        assert (counters.errors["late"], counters.exceptions) == (1, {})
        # the poll's read, once the device is drained (the write is asked at the next poll)
        at = 100.41
        while (request := hand.tick(at)) == b"" and at < 103.0:
            at = round(at + 0.01, 6)
        assert request == READ, (at, request.hex())
        assert hand.tick(at + 0.31) == b""  # timed out
        hand.receive(at + 0.4, rtu_frame(bytes([0x61, 0x83, 0x0B])), look=False)
        assert (counters.errors["late"], counters.exceptions) == (2, {0x0B: 1})
    finally:
        hand.close()


def test_a_gateway_s_0b_to_a_write_is_no_refused_read(pty_pair: PtyPair) -> None:
    hand = HandBus(pty_pair, scd30())
    try:
        assert hand.tick(100.0) == START
        hand.receive(100.01, rtu_frame(bytes([0x61, 0x86, 0x0B])), look=False)
        run(hand, 100.02, 104.5, writes=START, reads=True)
        counters = hand.counters("scd30")
        assert counters.refused == {}
        assert counters.exceptions.get(0x0B, 0) == 0
    finally:
        hand.close()
