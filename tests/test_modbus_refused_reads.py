"""A read of one value that the device refuses as outside its map (exception 0x02): asked at
most once a second, and after a minute of refusals at a wait that doubles up to the
reconnect backoff's longest, logged once with its registers' names and config keys; answered, it is
read at every poll again. wb-mqtt-serial takes such a register out of its polling
(wirenboard/wb-mqtt-serial pull request 1178); Home Assistant and Telegraf ask it at every
scan (home-assistant/core issue 91682, influxdata/telegraf issue 13630: an SMA inverter's
"Exception Response(131, 3, IllegalAddress)" at every one)."""

from __future__ import annotations

import time
from typing import Any

from harness.config import load_sensors as load
from harness.modbus import ModbusServer, read_all, rtu_frame
from harness.pty import PtyPair
from structlog.testing import capture_logs
from test_modbus import device, latest
from test_modbus_line import HandBus, read_reply

from sensord.bus_reads import REFUSED_FOR_GOOD_S

#: A meter's voltage (holding 0), and a register its map does not hold (holding 500): each
#: read alone (they are not adjacent).
REGISTERS = [
    {"name": "voltage", "table": "holding", "address": 0},
    {"name": "typo", "table": "holding", "address": 500},
]


def meter(interval_s: float) -> dict[str, Any]:
    table = device("m", "", 1, REGISTERS, interval_s=interval_s, timeout_s=0.1)
    table["reconnect"] = {"initial_delay_s": 0.5, "max_delay_s": 30.0}
    return table


def play(hand: HandBus, start: float, until: float, step_s: float, mapped: bool) -> int:
    """The meter at the pty's end from ``start`` to ``until`` (in ``step_s`` steps): each
    request answered 5 ms after it, holding 500 refused (exception 02) unless ``mapped``. The
    reads of holding 500 asked."""
    asked = 0
    at = start
    while at < until:
        request = hand.tick(at)
        while request:
            at = round(at + 0.005, 6)
            if request[2:4] == (500).to_bytes(2, "big"):
                asked += 1
                reply = read_reply(1, [42]) if mapped else rtu_frame(bytes([1, 0x83, 2]))
            else:
                reply = read_reply(1, [230])
            hand.receive(at, reply, look=False)
            request = hand.tick(at)
        at = round(at + step_s, 6)
    return asked


def test_a_lone_read_refused_at_fast_polls_is_asked_once_a_second_then_less_often(
    pty_pair: PtyPair,
) -> None:
    """A meter polled every 0.25 s whose map does not hold one configured register: its read
    is asked once a second, not at every poll (40 refusals in 10 s), while the voltage is
    read at every poll; refused for a minute, it is logged once, naming the register and its
    config key, and asked at a wait that doubles up to 30 s (the reconnect backoff's
    longest); once the device maps it (a firmware that holds it after a restart), it is read
    at the next time it is asked, and at every poll after."""
    hand = HandBus(pty_pair, meter(0.25))
    try:
        with capture_logs() as logs:
            asked = play(hand, 100.0, 110.0, 0.01, mapped=False)
            assert 9 <= asked <= 11, asked
            voltage = hand.values("m")["voltage"]
            assert voltage is not None
            assert voltage[2] >= 39  # every poll
            assert not [
                e for e in logs if e["event"] == "read refused for a minute; asked less often"
            ]
            asked += play(hand, 110.0, 100.0 + REFUSED_FOR_GOOD_S + 180.0, 0.05, mapped=False)
            [told] = [
                e for e in logs if e["event"] == "read refused for a minute; asked less often"
            ]
            # the registers by name, as every other line about a read names them, and their
            # config keys (the registers were named by their keys, with a field of their own
            # for the names)
            assert told["registers"] == ["typo"]
            assert told["keys"] == ["registers[1]"]
            assert "names" not in told
            assert told["every_s"] == 30.0
            # once a second for a minute, then after 2, 4, 8, 16 s and every 30 s
            assert 65 <= asked <= 72, asked
            assert hand.counters("m").exceptions == {2: asked}
            later = play(hand, 340.0, 400.0, 0.05, mapped=True)
            typo = hand.values("m")["typo"]
            assert typo is not None
            assert typo[0] == 42.0
            assert later >= 60 * 4 - 30 * 4 - 4  # every poll once answered
    finally:
        hand.close()


def test_a_lone_read_refused_at_polls_a_second_apart_is_asked_at_each(pty_pair: PtyPair) -> None:
    """The meter polled once a second: its refused read is asked at every poll for the first
    minute, as before."""
    hand = HandBus(pty_pair, meter(1.0))
    try:
        assert play(hand, 100.0, 120.0, 0.01, mapped=False) == 20
    finally:
        hand.close()


def test_a_real_device_s_unmapped_register_is_asked_once_a_second() -> None:
    """Pymodbus's server (1000 registers mapped) read every 0.05 s over Modbus TCP, one
    configured register beyond its map (holding 1500, refused with exception 02): in 2 s its
    read is refused about twice (at every poll, 40 times, before), the voltage read at every
    poll."""
    registers = [
        {"name": "voltage", "table": "holding", "address": 0},
        {"name": "typo", "table": "holding", "address": 1500},
    ]
    with ModbusServer([1], "tcp") as server:
        server.set(1, "holding", 0, [230])
        config = load(device("m", server.url, 1, registers, interval_s=0.05))
        started = time.monotonic()
        with read_all(config, lambda _: time.monotonic() - started > 2.0) as reader:
            counters = reader.sensors["m"].modbus
            assert counters is not None
            assert 1 <= counters.exceptions.get(2, 0) <= 4, counters.exceptions
            assert counters.transactions >= 20
            assert latest(reader.sensors["m"])["voltage"] == 230.0


def test_a_lone_read_refused_at_polls_0_4_s_apart_waits_a_whole_second(pty_pair: PtyPair) -> None:
    """The meter polled every 0.4 s: its refused read goes at the first poll due a second or
    more after the one that asked it (every 1.2 s: 9 times in 10 s), never at the poll due
    0.8 s after it, as the README says ("at most once a second, at the first poll due
    then"). (A poll due within half an interval of that second asked it: every 0.8 s, 13
    times in 10 s.)"""
    hand = HandBus(pty_pair, meter(0.4))
    try:
        asked = play(hand, 100.0, 110.0, 0.01, mapped=False)
        assert 8 <= asked <= 10, asked
    finally:
        hand.close()


def test_status_tells_that_a_refused_read_is_asked_less_often(pty_pair: PtyPair) -> None:
    """The meter polled every 0.25 s, holding 500 refused at each ask: ``/status``'s hint
    for the refused register says that its read goes only at the first poll a second after
    each refusal, then, refused for a minute, 30 s after (the wait doubles up to the
    reconnect backoff's longest), not at every poll: its value comes that much later once
    the device maps it. Answered, the hint is gone. A meter polled once a second, whose read
    is asked at every poll for the first minute, is told nothing of it. (The hint said only
    that the values never come, as of a read asked at every poll.)"""
    hand = HandBus(pty_pair, meter(0.25))
    try:
        play(hand, 100.0, 110.0, 0.01, mapped=False)
        hint = hand.runtimes["m"].snapshot().hint
        assert hint is not None
        assert "typo (holding 500, ref 40501) with exception 0x02" in hint, hint
        assert "asked only at the first poll 1 s after each refusal, not at every poll" in hint
        play(hand, 110.0, 100.0 + REFUSED_FOR_GOOD_S + 180.0, 0.05, mapped=False)
        hint = hand.runtimes["m"].snapshot().hint
        assert hint is not None
        assert "asked only at the first poll 30 s after each refusal, not at every poll" in hint
        play(hand, 340.0, 400.0, 0.05, mapped=True)
        assert hand.runtimes["m"].snapshot().hint is None
    finally:
        hand.close()
    with PtyPair() as other:
        every_second = HandBus(other, meter(1.0))
        try:
            play(every_second, 100.0, 120.0, 0.01, mapped=False)
            hint = every_second.runtimes["m"].snapshot().hint
            assert hint is not None
            assert "typo (holding 500, ref 40501)" in hint, hint
            assert "after each refusal" not in hint, hint
        finally:
            every_second.close()
