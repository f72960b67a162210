"""What real RS-485 lines, adapters and devices do to a Modbus RTU exchange, as users captured
it: the bytes a transceiver's direction turnaround or an unbiased line puts before an answer,
zero bytes a serial server passes after one, an answer of another table's function, a
request's echo, a device that answers only at unit 0, an answer whose CRC comes high byte
first. Each case names where its capture comes from. The tests drive a ``Bus`` on a pty by hand (:class:`~test_modbus_line.HandBus`:
the test's end of the pty writes the bytes), or read a real pymodbus server behind a relay
that adds what the line adds."""

from __future__ import annotations

import threading
import time
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import pytest
from harness.config import load_sensors as load
from harness.modbus import ModbusServer, PtyRelay, read_all, rtu_frame
from harness.pty import PtyPair
from harness.tcp_relay import TcpRelay
from structlog.testing import capture_logs
from test_modbus import device, latest, load_errors
from test_modbus_line import CHAR_9600_S, WIDE, HandBus, read_reply, read_request

from sensord.cli import main
from sensord.formats.modbus import crc16
from sensord.reader import Reader

#: Bytes a line puts before an answer, right before its first byte with no silence between:
#: one 0x00 (libmodbus issue 14, "1 or 2" zero bytes before a device's answer; pymodbus issue
#: 485, ``RECV: 0x0 0x2 0x3 0x12 ...``; minimalmodbus issue 61, ``00 04 83 02 D0 F0 00`` from a
#: Heru air handler; eModbus issue 308, a 0x00 read as the adapter switches direction), one
#: 0xFF (ESPHome issues 2906, ``Modbus received Byte 255 (0Xff)`` on the line around a
#: request) and two 0x00 (libmodbus issue 14).
LINE_BYTES_BEFORE = [b"\x00", b"\xff", b"\x00\x00"]


def unit_0_told(logs: list[MutableMapping[str, Any]]) -> list[tuple[Any, Any]]:
    """The unit id read and the one answered from, of each line logged that a device answers
    its reads at unit 0."""
    told = [e for e in logs if e["event"].startswith("device answers its reads at unit 0")]
    return [(e["unit"], e["answers_as"]) for e in told]


@pytest.mark.parametrize("before", LINE_BYTES_BEFORE, ids=lambda b: b.hex())
def test_a_long_answer_after_the_line_s_bytes_is_read_past_the_timeout(
    pty_pair: PtyPair, before: bytes
) -> None:
    """At 9600 baud, an answer of 125 registers (255 bytes, 266 ms on the line) begins 0.3 s
    after the request, behind the byte(s) the line made as the device took it: it ends past
    the 0.5 s timeout, and is read whole all the same, as without them. (The answer was cut
    off at the timeout: the byte before it did not begin it, and the bytes after it were
    taken for none of its start.)"""
    hand = HandBus(pty_pair, device("m", "", 1, WIDE, interval_s=5.0, timeout_s=0.5))
    reply = before + read_reply(1, list(range(125)))
    try:
        assert hand.tick(100.0) == read_request(1, 0, 125)
        at = 100.3
        assert hand.receive(at, reply[:20]) == b""
        for cut in range(20, len(reply), 20):
            at += 20 * CHAR_9600_S
            assert hand.tick(at) == b""
            assert hand.bus.in_flight is not None, at
            assert hand.receive(at, reply[cut : cut + 20]) == b""
        assert hand.bus.in_flight is None
        counters = hand.counters("m")
        assert counters.transactions == 1
        assert counters.timeouts == 0
        assert counters.errors == dict.fromkeys(counters.errors, 0)
        assert latest(hand.runtimes["m"]) == {f"r{i}": float(i) for i in range(125)}
        assert hand.runtimes["m"].bus_skipped_bytes == len(before)  # the line's, counted
    finally:
        hand.close()


def test_a_dead_device_s_timeout_is_not_drawn_out_by_the_line_s_bytes(pty_pair: PtyPair) -> None:
    """A 0x00 that the line makes after the request is no start of an answer on its own: when
    the bytes after it begin no answer of the unit (the first bytes of another unit's answer,
    which break off), the request times out at its timeout, a plain timeout, not drawn out
    for an answer of 125 registers (266 ms at 9600 baud)."""
    hand = HandBus(pty_pair, device("m", "", 1, WIDE, interval_s=5.0, timeout_s=0.2))
    other = read_reply(2, [0x0103, 0xFA00, 7])
    timeout_at = 100.0 + 8 * CHAR_9600_S + 0.2
    try:
        assert hand.tick(100.0) == read_request(1, 0, 125)
        assert hand.receive(100.1, b"\x00" + other[:4]) == b""
        assert hand.tick(timeout_at - 0.001) == b""
        assert hand.bus.in_flight is not None
        assert hand.tick(timeout_at + 0.001) == b""
        assert hand.bus.in_flight is None
        counters = hand.counters("m")
        assert counters.timeouts == 1
        assert counters.errors == dict.fromkeys(counters.errors, 0)
    finally:
        hand.close()


@pytest.mark.parametrize("before", LINE_BYTES_BEFORE, ids=lambda b: b.hex())
def test_a_late_answer_after_the_line_s_bytes_keeps_the_line_until_its_end(
    pty_pair: PtyPair, before: bytes
) -> None:
    """At 9600 baud, an answer of 125 registers (255 bytes, 266 ms on the line) comes after
    its timeout, behind the byte(s) the line made (:data:`LINE_BYTES_BEFORE`), its first
    piece 5 bytes long, the rest in pieces 20 character times apart: while it comes no
    request goes out, also to the other device, whose first poll is due meanwhile; that
    request goes once the line has been silent after its last byte, the answer is counted
    late for its device and the other device's exchange is clean. (Taking the line's byte
    for the answer's unit id, its unit id for the function code and its function code for
    the byte count, the bus took it for a frame of 8 bytes and sent the request 3 character
    times after its first piece, into the middle of the answer.)"""
    slow = {"baudrate": 9600}
    meter = device("m", "", 1, WIDE, interval_s=5.0, timeout_s=0.1) | {"serial": slow}
    other = device("o", "", 2, [{"name": "x", "table": "holding", "address": 0}])
    other["modbus"] |= {"interval_s": 5.0, "timeout_s": 0.1, "connect_delay_s": 0.155}
    hand = HandBus(pty_pair, meter, other | {"serial": slow})
    late = before + read_reply(1, list(range(125)))
    silence = 3.5 * CHAR_9600_S
    try:
        assert hand.tick(100.0) == read_request(1, 0, 125)
        assert hand.tick(100.15) == b""  # its timeout passed: the other is not due yet
        assert hand.bus.in_flight is None
        at = 100.15
        assert hand.receive(at, late[:5]) == b""
        for cut in range(5, len(late), 20):
            at += 20 * CHAR_9600_S
            assert hand.tick(at - 10 * CHAR_9600_S) == b"", at  # between two pieces
            assert hand.receive(at, late[cut : cut + 20]) == b""
        end = at
        assert hand.tick(end + silence - 0.0001) == b""
        assert hand.tick(end + silence + 0.0001) == read_request(2, 0, 1)
        hand.receive(end + 0.01, read_reply(2, [5]))
        assert hand.counters("m").errors["late"] == 1
        assert latest(hand.runtimes["o"]) == {"x": 5.0}
        others = hand.counters("o")
        assert others.transactions == 1
        assert others.errors == dict.fromkeys(others.errors, 0)
    finally:
        hand.close()


@pytest.mark.slow
def test_a_meter_whose_line_adds_a_byte_before_each_answer_is_read_on_a_slow_line() -> None:
    """A real device (pymodbus's serial server) behind a relay that puts a 0x00 before each
    of its answers, as an RS-485 transceiver turning the line around does (the captures of
    :data:`LINE_BYTES_BEFORE`), and passes them 0.3 s late at 9600 baud's pace: its 125
    registers end past the 0.5 s timeout, and are read every time."""

    def turnaround(chunk: bytes) -> bytes:
        return b"\x00" + chunk if chunk.startswith(b"\x01\x03\xfa") else chunk

    with (
        PtyRelay(turnaround, delay_s=lambda reply: 0.3, char_s=CHAR_9600_S) as relay,
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
            assert runtime.bus_skipped_bytes >= 2


def test_a_device_that_answers_another_table_s_function_is_told_so() -> None:
    """A device asked for input register 0 (function 4) answers each request with a sound
    frame of its unit id for function 3, holding registers: it is counted as ``function``
    and its reads time out, and its down reason says the device is there and answers
    function 3, not that nothing answered (check the unit id, the baud rate, the wiring).
    A frame of its unit id for function 3 in the last of the three exchanges only (another
    master reading its holding registers) says nothing of it."""
    table = device("m", "", 1, [{"name": "a", "table": "input", "address": 0}])
    table["modbus"] |= {"interval_s": 1.0, "timeout_s": 0.3}
    for every in (True, False):
        with PtyPair() as pair:
            hand = HandBus(pair, table)
            try:
                at = 100.0
                for k in range(3):
                    assert hand.tick(at) == read_request(1, 0, 1, function=4)
                    if every or k == 2:
                        hand.receive(at + 0.02, read_reply(1, [7], function=3))
                    at += 5.0
                    hand.tick(at - 4.0)  # its timeout
                counters = hand.counters("m")
                assert counters.down
                assert counters.timeouts == 3
                assert counters.errors["function"] == (3 if every else 1)
                last_error = hand.runtimes["m"].snapshot().as_json()["last_error"]
                assert isinstance(last_error, str)
                told = 'function code 3 (table "holding")' in last_error
                assert told is every, last_error
                assert ('table = "holding"' in last_error) is every, last_error
                assert ("check the unit id" in last_error) is not every, last_error
            finally:
                hand.close()


#: Frames of unit 1 of function codes that read nothing: 0xFF, which pymodbus takes for an
#: exception of function 0x7F; 0x49, a vendor code (a Sofar inverter's, esphome/esphome pull
#: request 18483, where frames of such codes were cut at a wrong length and the answers
#: after them lost), unknown to pymodbus; 0x11 (report server id) whose byte count, 0xFA,
#: makes it a frame of 255 bytes that never comes whole; 0x41, a user-defined code, alone.
NOTHING_READ = [
    rtu_frame(bytes([1, 0xFF, 0x02])),
    rtu_frame(bytes([1, 0x49, 1, 2, 3])),
    rtu_frame(bytes([1, 0x11, 0xFA, 1, 2])),
    rtu_frame(bytes([1, 0x41])),
]


def test_frames_that_read_nothing_never_cost_the_next_answer(pty_pair: PtyPair) -> None:
    """A frame of each code of :data:`NOTHING_READ` comes before the device's answer, in the
    answer's piece, in a piece of its own, and in a piece of its own after one between two
    exchanges: each answer after it is read, with its own value, none times out. Only the frame of 0xFF is a sound frame
    (of another function code than the read's, counted as ``function`` in an exchange and as
    ``unasked`` between two); the others are skipped bytes."""
    table = device("m", "", 1, [{"name": "a", "table": "holding", "address": 0}])
    table["modbus"] |= {"interval_s": 1.0, "timeout_s": 0.3}
    hand = HandBus(pty_pair, table)
    request = read_request(1, 0, 1)
    try:
        at = 100.0
        value = 0
        for frame in NOTHING_READ:
            for glued, between in ((True, False), (False, False), (False, True)):
                value += 1
                if between:
                    assert hand.receive(at - 0.5, frame) == b""
                assert hand.tick(at) == request
                if glued:
                    hand.receive(at + 0.01, frame + read_reply(1, [value]))
                else:
                    hand.receive(at + 0.01, frame)
                    hand.receive(at + 0.02, read_reply(1, [value]))
                assert hand.bus.in_flight is None, (frame.hex(), glued, between)
                assert latest(hand.runtimes["m"]) == {"a": float(value)}
                at += 1.0
        counters = hand.counters("m")
        assert counters.transactions == 3 * len(NOTHING_READ)
        assert counters.timeouts == 0
        assert counters.errors == dict.fromkeys(counters.errors, 0) | {"function": 3, "unasked": 1}
    finally:
        hand.close()


def test_bytes_after_a_request_s_echo_are_still_told_as_noise(pty_pair: PtyPair) -> None:
    """On an adapter that echoes (``local_echo`` off), a device at another baud rate answers
    each request with bytes that make no frame: the echo comes first, and the down reason
    still says to check the baud rate and parity, not only the echo."""
    table = device("m", "", 1, [{"name": "a", "table": "holding", "address": 0}])
    table["modbus"] |= {"interval_s": 1.0, "timeout_s": 0.3}
    hand = HandBus(pty_pair, table)
    try:
        at = 100.0
        for _ in range(3):
            request = hand.tick(at)
            assert request == read_request(1, 0, 1)
            hand.receive(at + 0.001, request)
            hand.receive(at + 0.02, b"\x7f\xe6\x18\x80\xfe")  # no frame: a garbled answer
            at += 5.0
            hand.tick(at - 4.0)  # its timeout
        assert hand.counters("m").down
        last_error = hand.runtimes["m"].snapshot().as_json()["last_error"]
        assert isinstance(last_error, str)
        assert "check the baud rate and parity" in last_error, last_error
        assert "only the request came back" not in last_error, last_error
    finally:
        hand.close()


def test_rtu_over_tcp_replies_with_trailing_zero_bytes_are_read_for_each_unit() -> None:
    """A serial server (RTU over TCP) that passes three 0x00 after each reply, as a boiler's
    RS-485 dongle did (home-assistant/core issue 69742: "the first 7 bytes form a correct
    message", then ``00 00 00``): two units polled back to back are each read at every poll,
    the zeros counted as skipped bytes and no error, the zeros after one unit's reply never
    spoiling the other's."""
    with (
        ModbusServer([1, 2], "rtu-tcp") as server,
        TcpRelay(server.port, mbap=False) as relay,
    ):
        server.set(1, "input", 0, [11])
        server.set(2, "input", 0, [22])
        relay.mangle = lambda reply: reply + b"\x00\x00\x00"
        url = relay.url("socket")
        tables = []
        for unit in (1, 2):
            table = device(f"u{unit}", url, unit, [{"name": "a", "table": "input", "address": 0}])
            table["modbus"] |= {"interval_s": 0.05, "timeout_s": 0.3}
            tables.append(table)

        def enough(reader: Reader) -> bool:
            return all(
                (c := reader.sensors[f"u{u}"].modbus) is not None and c.transactions >= 20
                for u in (1, 2)
            )

        with read_all(load(*tables), enough) as reader:
            for unit in (1, 2):
                runtime = reader.sensors[f"u{unit}"]
                assert latest(runtime) == {"a": 11.0 * unit}
                counters = runtime.modbus
                assert counters is not None
                assert counters.timeouts == 0
                assert counters.errors == dict.fromkeys(counters.errors, 0)
                assert runtime.bus_skipped_bytes >= 3 * (counters.transactions - 1)


@pytest.mark.slow
def test_the_probe_reads_a_long_answer_behind_the_line_s_byte_whole(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``sensord modbus read`` on the line of
    :func:`test_a_meter_whose_line_adds_a_byte_before_each_answer_is_read_on_a_slow_line`:
    125 registers at 9600 baud behind a 0x00, begun 0.1 s after the request and ending past
    the 0.3 s timeout, are printed with no late answer and no request asked again."""

    def turnaround(chunk: bytes) -> bytes:
        return b"\x00" + chunk if chunk.startswith(b"\x01\x03\xfa") else chunk

    with (
        PtyRelay(turnaround, char_s=CHAR_9600_S, delay_s=lambda _: 0.1) as relay,
        ModbusServer([1], "serial", relay.far.path) as server,
    ):
        server.set(1, "holding", 0, list(range(1000, 1125)))
        probe = ["modbus", "read", relay.near.path, "--unit", "1", "--holding", "0"]
        probe += ["--count", "125", "--baudrate", "9600", "--timeout", "0.3"]
        assert main(probe) == 0, capsys.readouterr().err
        captured = capsys.readouterr()
        assert "      0: 0x03e8   1000\n" in captured.out
        assert "    124: 0x0464   1124\n" in captured.out
        assert "answered" not in captured.err
        assert len(relay.requests) == 8  # one request, no retries


#: A Seplos V3 BMS's pack read as its users' ESPHome logs show it (syssi/esphome-seplos-bms
#: issue 123: ``>>> 00:04:10:00:00:0E:74:DF``): input registers 0x1000..0x100D of unit 0,
#: the only address the BMS answers (issue 242 there: asked at its DIP switch's address 1,
#: it "never replies"; ESPHome refused unit 0 in 2026.8 and took it back with
#: ``allow_broadcast_read``, esphome/esphome pull request 19304).
SEPLOS_PACK_READ = bytes.fromhex("00 04 10 00 00 0E 74 DF")

#: The registers of :data:`SEPLOS_PACK_READ` read as two values, its first and its last.
SEPLOS_READ = [{"name": f"p{i}", "table": "input", "address": 0x1000 + i} for i in range(0, 14, 13)]

#: The 14 words of a pack's answer to :data:`SEPLOS_PACK_READ` in the tests: its first
#: (``p0``) 5321, its last (``p13``) 240.
SEPLOS_WORDS = (5321, 65436, 10000, 28000, 0, 97, 100, 12, 3325, 250, 3330, 3320, 260, 240)


def test_a_device_that_answers_at_unit_0_is_read_with_broadcast_reads(pty_pair: PtyPair) -> None:
    """A BMS that answers reads only at unit 0, the broadcast address, read with
    ``modbus.broadcast_reads``: the request is its users' capture, byte for byte, and its
    answer from unit 0 is read (without the key a serial line refuses unit 0, as a read
    there goes to every device of the line)."""
    registers = [
        {"name": f"p{i}", "table": "input", "address": 0x1000 + i} for i in range(0, 14, 13)
    ]
    table = device("bms", "", 0, registers, interval_s=1.0, max_gap=12, broadcast_reads=True)
    words = list(SEPLOS_WORDS)
    hand = HandBus(pty_pair, table)
    try:
        assert hand.tick(100.0) == SEPLOS_PACK_READ
        assert hand.receive(100.05, read_reply(0, words, function=4)) == b""
        assert hand.bus.in_flight is None
        counters = hand.counters("bms")
        assert counters.transactions == 1
        assert counters.errors == dict.fromkeys(counters.errors, 0)
        assert latest(hand.runtimes["bms"]) == {"p0": 5321.0, "p13": 240.0}
    finally:
        hand.close()


def test_a_device_that_answers_reads_at_unit_0_with_its_own_unit_id_is_read(
    pty_pair: PtyPair,
) -> None:
    """A device read at unit 0 (``modbus.broadcast_reads``) that answers with its own unit id,
    1, as devices do whose answers to a read at 0 pymodbus's client takes whatever their unit
    id for it (pymodbus pull requests 2298, "used to identify device address", and 2845):
    the sound frame of the read's function code and length is its answer, read and said
    once in the log. A frame of a second unit id (3) in its exchange is another device's,
    counted as ``unit``, and its own answer after it is read; a frame of the unit id of the
    meter beside it on the bus (2), before its first answer, is the meter's (counted as
    ``unasked`` there), never the BMS's answer, and the exchange waits on for its answer."""
    registers = [
        {"name": f"p{i}", "table": "input", "address": 0x1000 + i} for i in range(0, 14, 13)
    ]
    bms = device("bms", "", 0, registers, interval_s=1.0, max_gap=12, broadcast_reads=True)
    meter = device("meter", "", 2, [{"name": "a", "table": "holding", "address": 0}])
    meter["modbus"] |= {"interval_s": 1.0, "connect_delay_s": 0.5}
    words = list(SEPLOS_WORDS)
    hand = HandBus(pty_pair, bms, meter)
    try:
        with capture_logs() as logs:
            assert hand.tick(100.0) == SEPLOS_PACK_READ
            hand.receive(100.04, read_reply(2, [0] * 14, function=4))
            assert hand.bus.in_flight is not None
            assert hand.receive(100.05, read_reply(1, words, function=4)) == b""
            assert hand.bus.in_flight is None
            assert latest(hand.runtimes["bms"]) == {"p0": 5321.0, "p13": 240.0}
            # (the meter's frame nobody asked for holds it for its timeout: ``Bus._drain``)
            assert hand.tick(100.6) == read_request(2, 0, 1)
            assert hand.receive(100.62, read_reply(2, [9])) == b""
            assert hand.tick(101.0) == SEPLOS_PACK_READ
            words[0] = 5322
            hand.receive(101.03, read_reply(3, [0] * 14, function=4))
            assert hand.bus.in_flight is not None
            assert hand.receive(101.05, read_reply(1, words, function=4)) == b""
            assert hand.bus.in_flight is None
        assert latest(hand.runtimes["bms"]) == {"p0": 5322.0, "p13": 240.0}
        counters = hand.counters("bms")
        assert counters.transactions == 2
        assert counters.timeouts == 0
        assert counters.errors == dict.fromkeys(counters.errors, 0) | {"unit": 1}
        assert hand.counters("meter").errors["unasked"] == 1
        assert unit_0_told(logs) == [(0, 1)]
    finally:
        hand.close()


def test_a_long_answer_of_the_device_s_own_unit_id_to_a_read_at_unit_0_is_read_whole(
    pty_pair: PtyPair,
) -> None:
    """At 9600 baud, the answer of 125 registers (255 bytes, 266 ms on the line) that a device
    read at unit 0 sends with its own unit id, 1, begins 0.3 s after the request and ends past
    the 0.5 s timeout: it is read whole, as the same answer of unit 0 is, the first time (any
    unit id no device of the bus has can begin it) and once its unit id is known. Bytes that
    begin no answer of the device draw no timeout out: those of the meter beside it (unit 2)
    before its first answer, those of a second unit id (3) after it, each of them beginning
    0.45 s after the request and breaking off: the request times out at its timeout."""
    bms = device("bms", "", 0, WIDE, interval_s=5.0, timeout_s=0.5, broadcast_reads=True)
    meter = device("meter", "", 2, [{"name": "a", "table": "holding", "address": 0}])
    meter["modbus"] |= {"interval_s": 600.0, "connect_delay_s": 60.0}
    hand = HandBus(pty_pair, bms, meter)
    request = read_request(0, 0, 125)
    timeout_s = 8 * CHAR_9600_S + 0.5  # from the request's start, its 8 bytes on the wire

    def answered(at: float, reply: bytes) -> None:
        assert hand.tick(at) == request
        at += 0.3
        assert hand.receive(at, reply[:20]) == b""
        for cut in range(20, len(reply), 20):
            at += 20 * CHAR_9600_S
            assert hand.tick(at) == b""
            assert hand.bus.in_flight is not None, at
            assert hand.receive(at, reply[cut : cut + 20]) == b""
        assert hand.bus.in_flight is None

    def broken_off(at: float, unit: int) -> None:
        assert hand.tick(at) == request
        # (begun so late that its rest would come past the timeout)
        assert hand.receive(at + 0.45, read_reply(unit, list(range(125)))[:30]) == b""
        assert hand.tick(at + timeout_s - 0.001) == b""
        assert hand.bus.in_flight is not None
        assert hand.tick(at + timeout_s + 0.001) == b""
        assert hand.bus.in_flight is None

    try:
        broken_off(100.0, 2)
        answered(105.0, read_reply(1, list(range(125))))
        assert latest(hand.runtimes["bms"]) == {f"r{i}": float(i) for i in range(125)}
        broken_off(110.0, 3)
        answered(115.0, read_reply(1, list(range(1, 126))))
        assert latest(hand.runtimes["bms"]) == {f"r{i}": float(i + 1) for i in range(125)}
        answered(120.0, read_reply(0, list(range(2, 127))))
        assert latest(hand.runtimes["bms"]) == {f"r{i}": float(i + 2) for i in range(125)}
        counters = hand.counters("bms")
        assert (counters.transactions, counters.timeouts) == (3, 2)
        assert hand.counters("meter").transactions == 0
    finally:
        hand.close()


def bms_beside_a_meter(pty_pair: PtyPair) -> HandBus:
    """A bus on ``pty_pair`` reading a BMS at unit 0 (one holding register, its timeout
    0.3 s) and a meter at unit 2 (its timeout 0.1 s, no retries), each once a second."""
    one = [{"name": "v", "table": "holding", "address": 0}]
    bms = device("bms", "", 0, one, interval_s=1.0, timeout_s=0.3, broadcast_reads=True)
    meter = device("meter", "", 2, [{"name": "a", "table": "holding", "address": 0}])
    meter["modbus"] |= {"interval_s": 1.0, "timeout_s": 0.1, "retries": 0}
    return HandBus(pty_pair, bms, meter)


@pytest.mark.parametrize(
    ("first", "second"), [(1, 3), (0, 1), (1, 0)], ids=["own-unit-ids", "0-then-own", "own-then-0"]
)
def test_a_second_device_s_answer_to_a_read_at_unit_0_is_counted_and_told(
    pty_pair: PtyPair, first: int, second: int
) -> None:
    """A read at unit 0 (``broadcast_reads``) goes to every device of the line: two devices
    that answer such reads both answer it (libmodbus issue 153: all slaves answering a
    broadcast collide; pymodbus issue 2571: at unit 0 one cannot know how many devices are
    on the connection). The first answer is read; the second (of another unit id, or unit 0
    after an answer of the device's own unit id) is counted as ``unit`` for the device read
    at unit 0 each time, whether it comes in the same chunk as the first, after it with no
    exchange in flight, or during the meter's exchange that follows (not the meter's
    ``unit``), and logged once a minute naming both unit ids. (It was dropped uncounted
    after the first answer, counted for the meter during its exchange, or, of unit 0, taken
    for a frame nobody asked for.)"""
    one = [{"name": "v", "table": "holding", "address": 0}]
    bms = device("bms", "", 0, one, interval_s=1.0, timeout_s=0.3, broadcast_reads=True)
    meter = device("meter", "", 2, [{"name": "a", "table": "holding", "address": 0}])
    meter["modbus"] |= {"interval_s": 1.0}
    hand = HandBus(pty_pair, bms, meter)
    answer, other = read_reply(first, [1000]), read_reply(second, [3000])
    try:
        with capture_logs() as logs:
            # in one chunk with the answer
            assert hand.tick(100.0) == read_request(0, 0, 1)
            assert hand.receive(100.02, answer + other) == b""
            assert hand.tick(100.03) == read_request(2, 0, 1)
            hand.receive(100.04, read_reply(2, [7]))
            # after the answer, before the next request
            assert hand.tick(101.0) == read_request(0, 0, 1)
            hand.receive(101.02, answer)
            assert hand.receive(101.021, other) == b""
            assert hand.tick(101.03) == read_request(2, 0, 1)
            hand.receive(101.04, read_reply(2, [7]))
            # during the meter's exchange
            assert hand.tick(102.0) == read_request(0, 0, 1)
            hand.receive(102.02, answer)
            assert hand.tick(102.03) == read_request(2, 0, 1)
            hand.receive(102.035, other)
            assert hand.bus.in_flight is not None
            assert hand.receive(102.04, read_reply(2, [7])) == b""
            assert hand.bus.in_flight is None
        assert latest(hand.runtimes["bms"]) == {"v": 1000.0}
        counters = hand.counters("bms")
        assert counters.transactions == 3
        assert counters.errors == dict.fromkeys(counters.errors, 0) | {"unit": 3}
        meter_counters = hand.counters("meter")
        assert meter_counters.transactions == 3
        assert meter_counters.errors == dict.fromkeys(meter_counters.errors, 0)
        told = [e for e in logs if e["event"] == "two devices answered a read at unit 0"]
        assert [(e["unit"], e["answered_as"], e["also_answered"]) for e in told] == [
            (0, first, second)
        ]
        assert f"unit ids {first} and {second} both answered it" in told[0]["hint"]
    finally:
        hand.close()


def test_a_device_that_answers_with_another_unit_id_after_a_read_at_unit_0_is_told_so(
    pty_pair: PtyPair,
) -> None:
    """After the read at unit 0 of a BMS that answers with its own unit id, 1, a meter at
    unit 2 is read alike (one holding register) and answers every read with unit id 3, as a
    device does that answers with its own address whatever was asked (goburrow/modbus issue
    54: "response unit id '1' does not match request '3'"; stephane/modbusino issue 23, a
    request to 0x20 answered from 0x21). Its frame comes in its own exchange, within the
    BMS's read's timeout, at each of three polls: it is the meter's, counted as ``unit`` for
    it, and the meter, down after three timeouts, is told that only frames of unit id 3
    came (set modbus.unit = 3); the BMS is not told of a second device answering its read
    at unit 0. (Each was counted as ``unit`` for the BMS and logged as "two devices answered
    a read at unit 0" naming unit ids 1 and 3, and the meter went down with the hint to
    check its unit id, the baud rate and the wiring.) A frame of the meter's read's shape
    during its exchange once it has answered with its own unit id stays a second device's
    answer (:func:`test_a_second_device_s_answer_to_a_read_at_unit_0_is_counted_and_told`)."""
    hand = bms_beside_a_meter(pty_pair)
    try:
        with capture_logs() as logs:
            for poll in range(3):
                at = 100.0 + poll
                assert hand.tick(at) == read_request(0, 0, 1), poll
                assert hand.receive(at + 0.02, read_reply(1, [1000 + poll])) == b""
                assert hand.tick(at + 0.03) == read_request(2, 0, 1), poll
                assert hand.receive(at + 0.04, read_reply(3, [7])) == b""
                assert hand.bus.in_flight is not None, poll
                assert hand.tick(at + 0.2) == b""
                assert hand.bus.in_flight is None, poll
        assert latest(hand.runtimes["bms"]) == {"v": 1002.0}
        counters = hand.counters("bms")
        assert counters.errors == dict.fromkeys(counters.errors, 0)
        meter_counters = hand.counters("meter")
        assert (meter_counters.timeouts, meter_counters.down) == (3, True)
        assert meter_counters.errors == dict.fromkeys(meter_counters.errors, 0) | {"unit": 3}
        assert not [e for e in logs if e["event"] == "two devices answered a read at unit 0"]
        reason = hand.runtimes["meter"].last_error
        assert reason is not None
        assert "a frame of unit id 3 came in each of these exchanges" in reason, reason
    finally:
        hand.close()


def test_a_second_device_s_answer_at_unit_0_in_a_silent_device_s_exchange_is_told_as_one(
    pty_pair: PtyPair,
) -> None:
    """The BMS and meter of
    :func:`test_a_device_that_answers_with_another_unit_id_after_a_read_at_unit_0_is_told_so`,
    on a line where a second device answers reads at unit 0 too, with its unit id, 7, 40 ms
    after the BMS (two packs that both answer the broadcast address, each at its own pace),
    and the meter is silent (unpowered). The second device's answer comes in the meter's
    exchange, within the BMS's read's timeout, at each poll. The bus cannot tell it from an
    answer of the meter with another unit id: it is counted as the meter's ``unit``, and
    the meter, down, is told both: set modbus.unit = 7 if 7 is its address, else a second
    device answers the BMS's read at unit 0, and the meter answered nothing. (It was told
    only to set modbus.unit = 7: an operator who did would read the second pack as the
    meter.)"""
    hand = bms_beside_a_meter(pty_pair)
    try:
        for poll in range(3):
            at = 100.0 + poll
            assert hand.tick(at) == read_request(0, 0, 1), poll
            assert hand.receive(at + 0.02, read_reply(1, [1000 + poll])) == b""
            assert hand.tick(at + 0.03) == read_request(2, 0, 1), poll
            assert hand.receive(at + 0.06, read_reply(7, [2000 + poll])) == b""
            assert hand.tick(at + 0.2) == b""
            assert hand.bus.in_flight is None, poll
        assert latest(hand.runtimes["bms"]) == {"v": 1002.0}
        counters = hand.counters("bms")
        assert counters.errors == dict.fromkeys(counters.errors, 0)  # counted once: the meter's
        meter_counters = hand.counters("meter")
        assert (meter_counters.timeouts, meter_counters.down) == (3, True)
        assert meter_counters.errors == dict.fromkeys(meter_counters.errors, 0) | {"unit": 3}
        reason = hand.runtimes["meter"].last_error
        assert reason is not None
        assert "a frame of unit id 7 came in each of these exchanges" in reason, reason
        assert "set modbus.unit = 7" in reason, reason
        assert (
            "but they came while a second device's answer to bms's read at unit 0 could still come"
        ) in reason, reason
        assert "if this device's address is not 7, they are such answers, this device" in reason
    finally:
        hand.close()


def test_a_late_answer_of_a_device_read_at_unit_0_is_its_own_not_the_next_device_s(
    pty_pair: PtyPair,
) -> None:
    """A device read at unit 0 (``broadcast_reads``) that answers with its own unit id, 1 (a
    Seplos BMS: pymodbus pull requests 2298 and 2845), answers a read after its timeout: its
    late frame carries unit id 1, which no device of the bus has. It is that device's late
    answer (counted ``late``, an exception by its code too), whether it comes during the
    meter's exchange that follows the timeout or with nothing in flight: not a frame of
    another unit id counted against the meter (``unit``), nor dropped uncounted."""
    one = [{"name": "v", "table": "holding", "address": 0}]
    bms = device("bms", "", 0, one, interval_s=1.0, timeout_s=0.3, broadcast_reads=True)
    meter = device("meter", "", 2, [{"name": "a", "table": "holding", "address": 0}])
    meter["modbus"] |= {"interval_s": 1.0}
    hand = HandBus(pty_pair, bms, meter)
    refusal = rtu_frame(bytes([1, 0x83, 0x06]))  # busy, after the timeout
    try:
        with capture_logs() as logs:
            assert hand.tick(100.0) == read_request(0, 0, 1)
            assert hand.receive(100.02, read_reply(1, [1000])) == b""
            assert hand.tick(100.03) == read_request(2, 0, 1)
            hand.receive(100.04, read_reply(2, [7]))
            # its answer after the timeout, during the meter's exchange
            assert hand.tick(101.0) == read_request(0, 0, 1)
            assert hand.tick(101.31) == b""  # timed out
            assert hand.tick(101.32) == read_request(2, 0, 1)
            assert hand.receive(101.33, refusal) == b""
            assert hand.bus.in_flight is not None
            hand.receive(101.34, read_reply(2, [7]))
            assert hand.bus.in_flight is None
            # and with nothing in flight (the meter, which answered, goes first)
            assert hand.tick(102.0) == read_request(2, 0, 1)
            hand.receive(102.01, read_reply(2, [7]))
            assert hand.tick(102.02) == read_request(0, 0, 1)
            assert hand.tick(102.33) == b""  # timed out
            assert hand.receive(102.331, read_reply(1, [1001])) == b""
        counters = hand.counters("bms")
        assert (counters.timeouts, counters.errors["late"]) == (2, 2)
        assert counters.exceptions == {6: 1}
        assert counters.errors == dict.fromkeys(counters.errors, 0) | {"late": 2}
        meter_counters = hand.counters("meter")
        assert meter_counters.errors == dict.fromkeys(meter_counters.errors, 0)
        late = [e for e in logs if e["event"] == "answer after the timeout"]
        assert [(e["sensor"], e["unit"]) for e in late] == [("bms", 0)]
    finally:
        hand.close()


def test_a_late_answer_right_after_an_answer_at_unit_0_is_no_second_device(
    pty_pair: PtyPair,
) -> None:
    """A device read at unit 0 (``broadcast_reads``) answering with its own unit id, 1, is
    slow: its first read times out, and that read's answer comes during the next read's
    exchange, more than twice its timeout late (before any late answer of its told how late
    they come, its drain is one timeout: ``Bus._drain``), and is taken for that read's. The
    next read's own answer follows at once, of unit id 1 again: the device's answer after its
    timeout, one request behind (counted ``late``), not a second device answering the read at
    unit 0 (no ``two devices answered a read at unit 0`` line naming unit 1 twice, no
    ``unit`` error)."""
    one = [{"name": "v", "table": "holding", "address": 0}]
    bms = device("bms", "", 0, one, interval_s=1.0, timeout_s=0.3, broadcast_reads=True)
    hand = HandBus(pty_pair, bms)
    try:
        with capture_logs() as logs:
            assert hand.tick(100.0) == read_request(0, 0, 1)
            assert hand.receive(100.02, read_reply(1, [1000])) == b""
            assert hand.tick(101.0) == read_request(0, 0, 1)
            assert hand.tick(101.31) == b""  # timed out
            assert hand.tick(102.0) == read_request(0, 0, 1)
            assert hand.receive(102.02, read_reply(1, [1001])) == b""  # the read before's
            assert hand.bus.in_flight is None
            assert hand.receive(102.05, read_reply(1, [1002])) == b""  # this read's, late
        counters = hand.counters("bms")
        assert counters.errors == dict.fromkeys(counters.errors, 0) | {"late": 1}
        assert not [e for e in logs if e["event"] == "two devices answered a read at unit 0"]
    finally:
        hand.close()


def test_a_frame_nobody_asked_for_of_a_device_read_at_unit_0_names_its_unit_id(
    pty_pair: PtyPair,
) -> None:
    """A device read at unit 0 (``broadcast_reads``) that answers with its own unit id, 1,
    has every read answered in time; then a frame of unit id 1 comes while nothing is in
    flight (another master reading the device at its own unit id, as an inverter reads its
    BMS): counted ``unasked`` for it, and its line names unit id 1, the frame's, in its
    field and its hint, not the 0 it is read at, which the frame does not carry."""
    one = [{"name": "v", "table": "holding", "address": 0}]
    bms = device("bms", "", 0, one, interval_s=1.0, timeout_s=0.3, broadcast_reads=True)
    hand = HandBus(pty_pair, bms)
    try:
        with capture_logs() as logs:
            assert hand.tick(100.0) == read_request(0, 0, 1)
            assert hand.receive(100.02, read_reply(1, [1000])) == b""
            assert hand.receive(100.5, read_reply(1, [1001])) == b""  # another master's
        counters = hand.counters("bms")
        assert counters.errors == dict.fromkeys(counters.errors, 0) | {"unasked": 1}
        [told] = [e for e in logs if e["event"] == "frame of the device's unit id nobody asked for"]
        assert (told["sensor"], told["unit"]) == ("bms", 1)
        assert told["hint"].endswith(
            "or two devices have unit id 1 and both answer each request "
            "(their answers collide or come twice)"
        ), told["hint"]
    finally:
        hand.close()


def test_unit_0_is_taken_on_a_serial_line_only_for_reads_and_with_broadcast_reads() -> None:
    one = [{"name": "a", "table": "input", "address": 0}]
    port = "/dev/ttyUSB0"
    assert load_errors(device("bms", port, 0, one, broadcast_reads=True)) == []
    assert load_errors(device("m", port, 1, one, broadcast_reads=True)) == [
        "sensors[0].modbus.broadcast_reads: reads a device at unit 0, the broadcast address; "
        "modbus.unit is 1"
    ]
    setup = [{"table": "holding", "address": 0, "value": 1}]
    assert load_errors(device("bms", port, 0, one, broadcast_reads=True, setup=setup)) == [
        "sensors[0].modbus.setup: a write to unit 0 on a serial line is a broadcast: every "
        "device of the line takes it, and none answers it"
    ]
    # behind Modbus TCP unit 0 is a unit id as any other, and is written as any other
    tcp = "modbus-tcp://127.0.0.1:502"
    assert load_errors(device("gw", tcp, 0, one, setup=setup)) == []


def test_a_device_at_unit_0_on_a_shared_line_is_noted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``sensord check`` takes a device at unit 0 (``broadcast_reads``) beside a device of
    another kind, with a note that every device of the line takes its requests; alone on
    its line, no note."""
    path = tmp_path / "bus.toml"
    bms = (
        '[[sensors]]\nname = "bms"\nport = "/dev/ttyUSB0"\nformat = "modbus"\n'
        "modbus = { unit = 0, broadcast_reads = true }\n"
        'registers = [{ name = "a", table = "input", address = 4096 }]\n'
        'channels = [{ name = "a" }]\n'
    )
    meter = bms.replace('"bms"', '"meter"').replace("unit = 0, broadcast_reads = true", "unit = 1")
    for toml, noted in ((bms, False), (bms + meter, True)):
        path.write_text(toml)
        assert main(["check", "--no-devices", str(path)]) == 0
        out = capsys.readouterr().out
        assert ("note: unit 0 is the broadcast address" in out) is noted, out
        assert ("so meter must be of kinds that do not" in out) is noted, out


@pytest.mark.slow
def test_the_probe_reads_a_device_at_unit_0_of_a_sensor_with_broadcast_reads(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``sensord modbus read --sensor`` of the BMS of
    :func:`test_a_device_that_answers_at_unit_0_is_read_with_broadcast_reads` sends its
    users' request and prints the answer; ``--unit 0`` alone on a serial line is still
    refused, pointing to the key."""
    words = list(SEPLOS_WORDS)

    def bms(request: bytes) -> bytes | None:
        return read_reply(0, words, function=4) if request[0] == 0 else None

    with PtyRelay(answer=bms) as relay:
        config = tmp_path / "sensord.toml"
        config.write_text(
            f'[[sensors]]\nname = "bms"\nport = "{relay.near.path}"\nformat = "modbus"\n'
            "modbus = { unit = 0, broadcast_reads = true }\n"
            'registers = [{ name = "v", table = "input", address = 4096 }]\n'
            'channels = [{ name = "v" }]\n'
        )
        read = ["--input", "0x1000", "--count", "14"]
        assert main(["modbus", "read", "--sensor", "bms", "-c", str(config), *read]) == 0
        out = capsys.readouterr().out
        assert "   4096: 0x14c9   5321\n" in out, out
        assert "   4109: 0x00f0    240\n" in out, out
        assert bytes(relay.requests) == SEPLOS_PACK_READ
        assert main(["modbus", "read", relay.near.path, "--unit", "0", *read]) == 2
        assert "modbus.broadcast_reads = true" in capsys.readouterr().err


@pytest.mark.slow
def test_the_probe_reads_a_long_answer_of_the_device_s_own_unit_id_to_a_read_at_unit_0(
    tmp_path: Path, pty_pair: PtyPair, capsys: pytest.CaptureFixture[str]
) -> None:
    """``sensord modbus read --sensor`` of a device read at unit 0 (``broadcast_reads``) that
    answers with its own unit id, 1, played by hand on a pty at 9600 baud: its answer of 125
    registers, begun 0.1 s after the request and ending past the 0.3 s timeout, is read
    whole and printed, with the unit id it came from, as the daemon's bus reads it
    (:func:`test_a_long_answer_of_the_device_s_own_unit_id_to_a_read_at_unit_0_is_read_whole`),
    not skipped as a frame of another unit id; the request is sent once. A frame of the
    unit id of the meter beside it on its port (2) that came before it, of the read's
    function and length, is the meter's: skipped, never the answer."""
    reply = read_reply(1, list(range(1000, 1125)))
    requests = bytearray()

    def bms() -> None:
        request = pty_pair.read(8, timeout_s=5.0)
        requests.extend(request)
        if request != read_request(0, 0, 125):
            return
        time.sleep(0.03)
        pty_pair.write(read_reply(2, [0] * 125))
        time.sleep(0.07)
        for cut in range(0, len(reply), 20):
            pty_pair.write(reply[cut : cut + 20])
            time.sleep(20 * CHAR_9600_S)
        requests.extend(pty_pair.read(8, timeout_s=1.0))  # a request asked again

    config = tmp_path / "sensord.toml"
    config.write_text(
        f'[[sensors]]\nname = "bms"\nport = "{pty_pair.path}"\nformat = "modbus"\n'
        "serial = { baudrate = 9600 }\n"
        "modbus = { unit = 0, broadcast_reads = true, timeout_s = 0.3 }\n"
        'registers = [{ name = "v", table = "holding", address = 0 }]\n'
        'channels = [{ name = "v" }]\n'
    )
    meter = config.read_text().replace('"bms"', '"meter"')
    meter = meter.replace("unit = 0, broadcast_reads = true", "unit = 2")
    config.write_text(config.read_text() + meter)
    device_side = threading.Thread(target=bms, daemon=True)
    device_side.start()
    read = ["--holding", "0", "--count", "125", "--timeout", "0.3"]
    code = main(["modbus", "read", "--sensor", "bms", "-c", str(config), *read])
    device_side.join(5.0)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert "      0: 0x03e8   1000\n" in captured.out
    assert "    124: 0x0464   1124\n" in captured.out
    assert "answered from unit 1" in captured.err, captured.err
    assert "other unit ids" in captured.err, captured.err
    assert captured.err.count("1 of unit 2") == 1, captured.err
    assert "of unit 1" not in captured.err, captured.err
    assert bytes(requests) == read_request(0, 0, 125)


@pytest.mark.slow
@pytest.mark.parametrize("second", [3, 0], ids=["own-unit-ids", "unit-0-then-own"])
def test_the_probe_tells_a_second_device_that_answers_its_read_at_unit_0(
    tmp_path: Path, pty_pair: PtyPair, capsys: pytest.CaptureFixture[str], second: int
) -> None:
    """A read at unit 0 (``broadcast_reads``) goes to every device of the line: two devices
    that answer such reads both answer it (libmodbus issue 153: all slaves answering a
    broadcast collide; pymodbus issue 2571: at unit 0 one cannot know how many devices,
    real or virtual, are on the connection). Here they answer one after the other, sound:
    unit 1 at 20 ms, then a second device 40 ms later (unit 3, or the first at unit 0 and
    the second with its own unit id, 1). The probe takes the first answer and prints its
    values, then waits out its timeout and names the second answerer with the count of
    each unit id's answers, and exits 1: which device's values came is chance. The request
    is sent once."""
    first_unit, second_unit = (1, 3) if second else (0, 1)
    requests = bytearray()

    def devices() -> None:
        request = pty_pair.read(8, timeout_s=5.0)
        requests.extend(request)
        time.sleep(0.02)
        pty_pair.write(read_reply(first_unit, [1000], function=3))
        time.sleep(0.04)
        pty_pair.write(read_reply(second_unit, [3000], function=3))
        requests.extend(pty_pair.read(8, timeout_s=1.0))  # a request asked again

    config = tmp_path / "sensord.toml"
    config.write_text(
        f'[[sensors]]\nname = "bms"\nport = "{pty_pair.path}"\nformat = "modbus"\n'
        "modbus = { unit = 0, broadcast_reads = true, timeout_s = 0.3 }\n"
        'registers = [{ name = "v", table = "holding", address = 0 }]\n'
        'channels = [{ name = "v" }]\n'
    )
    device_side = threading.Thread(target=devices, daemon=True)
    device_side.start()
    read = ["--holding", "0", "--timeout", "0.3"]
    code = main(["modbus", "read", "--sensor", "bms", "-c", str(config), *read])
    device_side.join(5.0)
    captured = capsys.readouterr()
    assert code == 1, captured.err
    assert "      0: 0x03e8   1000\n" in captured.out, captured.out
    assert "3000" not in captured.out, captured.out
    told = (
        f"unit {second_unit} answered the read at unit 0 too (answers: "
        + ", ".join(f"1 of unit {unit}" for unit in sorted((first_unit, second_unit)))
        + "): more than one device on this line answers reads at the broadcast address, and "
        "their answers collide on the line or come one after the other; the values shown are "
        f"unit {first_unit}'s, whichever came first, and the daemon reads the answers of the "
        "unit id it hears first and counts the others' as unit errors ('two devices answered "
        "a read at unit 0'): give each device a unit id of its own and read it there\n"
    )
    assert told in captured.err, captured.err
    assert ("answered from unit 1" in captured.err) is (first_unit == 1), captured.err
    assert bytes(requests) == read_request(0, 0, 1)


#: A Marstek Venus E battery's exchange as evcc logged it (evcc-io/evcc issue 18653): the
#: read of holding registers 32104..32105 and its answer, whose CRC comes high byte first
#: (``91 8A``; the standard sends ``8A 91``).
MARSTEK_READ = bytes.fromhex("01 03 7d 68 00 02 5d bb")
MARSTEK_ANSWER = bytes.fromhex("01 03 04 00 0b 02 00 91 8a")


@pytest.mark.parametrize("pieces", [1, 3], ids=["whole", "in-pieces"])
def test_a_device_that_sends_its_crc_high_byte_first_is_read(
    pty_pair: PtyPair, pieces: int
) -> None:
    """The Marstek's answers, whole or in pieces: read (721408), logged once as a device
    that swaps its CRC, not counted as ``crc`` with the advice to check the baud rate and
    termination of a line that is fine."""
    registers = [{"name": "a", "table": "holding", "address": 0x7D68, "type": "uint32"}]
    hand = HandBus(pty_pair, device("m", "", 1, registers, interval_s=1.0, timeout_s=0.3))
    try:
        with capture_logs() as logs:
            at = 100.0
            for _ in range(3):
                assert hand.tick(at) == MARSTEK_READ
                step = -(-len(MARSTEK_ANSWER) // pieces)
                for cut in range(0, len(MARSTEK_ANSWER), step):
                    hand.receive(at + 0.02 + cut * 0.001, MARSTEK_ANSWER[cut : cut + step])
                assert hand.bus.in_flight is None
                at += 1.0
        counters = hand.counters("m")
        assert counters.transactions == 3
        assert counters.errors == dict.fromkeys(counters.errors, 0)
        assert latest(hand.runtimes["m"]) == {"a": 0x000B0200}
        told = [e for e in logs if e["event"] == "device sends its CRC high byte first"]
        assert len(told) == 1
    finally:
        hand.close()


def test_a_frame_of_another_unit_with_its_crc_high_byte_first_is_not_taken(
    pty_pair: PtyPair,
) -> None:
    """Only the answer awaited is taken with its CRC's bytes swapped: such a frame of another
    unit before it (another master's exchange) is bytes that make no frame, and the answer
    after it is read."""
    registers = [{"name": "a", "table": "holding", "address": 0x7D68, "type": "uint32"}]
    hand = HandBus(pty_pair, device("m", "", 1, registers, interval_s=1.0, timeout_s=0.3))
    other = bytes([2]) + MARSTEK_ANSWER[1:-2]
    other += (int.from_bytes(rtu_crc(other), "little")).to_bytes(2, "big")
    try:
        assert hand.tick(100.0) == MARSTEK_READ
        hand.receive(100.02, other)
        hand.receive(100.03, MARSTEK_ANSWER[:-2] + rtu_crc(MARSTEK_ANSWER[:-2]))
        assert hand.bus.in_flight is None
        counters = hand.counters("m")
        assert counters.transactions == 1
        assert counters.errors == dict.fromkeys(counters.errors, 0)
        assert hand.runtimes["m"].bus_skipped_bytes == len(other)
    finally:
        hand.close()


def rtu_crc(body: bytes) -> bytes:
    """The CRC of an RTU frame's ``body``, as the standard sends it (low byte first)."""
    return crc16(body).to_bytes(2, "little")


def test_the_probe_reads_an_answer_whose_crc_comes_high_byte_first_and_says_so(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``sensord modbus read`` of the Marstek's registers prints them and says that the
    device swaps its CRC's bytes, which the daemon reads so too."""
    with PtyRelay(answer=lambda request: MARSTEK_ANSWER) as relay:
        probe = ["modbus", "read", relay.near.path, "--unit", "1", "--holding", "32104"]
        assert main([*probe, "--count", "2"]) == 0
        captured = capsys.readouterr()
        assert bytes(relay.requests) == MARSTEK_READ
    assert "  32104: 0x000b     11\n" in captured.out
    assert "  32105: 0x0200    512\n" in captured.out
    assert "the device sends its CRC high byte first" in captured.err


def test_a_refusal_by_the_device_read_at_unit_0_of_its_next_read_is_that_read_s(
    pty_pair: PtyPair,
) -> None:
    """A device read at unit 0 (``broadcast_reads``) that answers with its own unit id (1),
    two reads a poll: it answers the first, and refuses the second (exception 02, a
    register it does not map), as a device refuses any read, with the unit id its answers
    carry, within the first read's timeout. The refusal is the second read's answer:
    counted by its code, the read not timed out, and no second device named (it was taken
    for another device's answer to the first read: counted as ``unit``, logged as "two
    devices answered a read at unit 0" naming unit 1 twice, the read timed out)."""
    reads = [
        {"name": "v", "table": "holding", "address": 0},
        {"name": "w", "table": "holding", "address": 500},
    ]
    bms = device("bms", "", 0, reads, interval_s=1.0, timeout_s=0.3, broadcast_reads=True)
    hand = HandBus(pty_pair, bms)
    refusal = rtu_frame(bytes.fromhex("01 83 02"))
    try:
        with capture_logs() as logs:
            for poll in range(2):
                at = 100.0 + poll
                assert hand.tick(at) == read_request(0, 0, 1)
                assert hand.receive(at + 0.02, read_reply(1, [1000])) == b""
                assert hand.tick(at + 0.03) == read_request(0, 500, 1)
                hand.receive(at + 0.04, refusal)
                assert hand.bus.in_flight is None
        assert latest(hand.runtimes["bms"]) == {"v": 1000.0, "w": None}
        counters = hand.counters("bms")
        assert counters.timeouts == 0
        assert counters.errors == dict.fromkeys(counters.errors, 0)
        assert counters.exceptions == {2: 2}
        assert not [e for e in logs if e["event"] == "two devices answered a read at unit 0"]
    finally:
        hand.close()


def test_a_refusal_before_the_first_answer_of_a_device_read_at_unit_0_is_its_read_s(
    pty_pair: PtyPair,
) -> None:
    """A device read at unit 0 (``broadcast_reads``) that answers with its own unit id, 1
    (pymodbus pull requests 2298 and 2845), refuses its read with exception 02 (a register
    it does not map: a Seplos BMS answers reads of registers it lacks with "illegal data
    address", Louisvdw/dbus-serialbattery issue 923) at its first two polls, before it ever
    answered with values, and answers the third. Each refusal is its read's answer: counted
    by its code, the read not timed out, no frame of another unit id counted, and the unit
    id the device answers with is said once in the log (at its first answer with values: a
    refusal fixes no unit id, see
    :func:`test_another_master_s_refusal_in_a_read_at_unit_0_fixes_no_unit_id`). (Each was
    taken for another device's frame, counted as ``unit``, and the read timed out.)"""
    one = [{"name": "v", "table": "holding", "address": 0}]
    bms = device("bms", "", 0, one, interval_s=1.0, timeout_s=0.3, broadcast_reads=True)
    hand = HandBus(pty_pair, bms)
    refusal = rtu_frame(bytes.fromhex("01 83 02"))
    try:
        with capture_logs() as logs:
            for poll in range(2):
                at = 100.0 + poll
                assert hand.tick(at) == read_request(0, 0, 1)
                assert hand.receive(at + 0.02, refusal) == b""
                assert hand.bus.in_flight is None
            assert hand.tick(102.0) == read_request(0, 0, 1)
            assert hand.receive(102.02, read_reply(1, [1000])) == b""
            assert hand.bus.in_flight is None
        assert latest(hand.runtimes["bms"]) == {"v": 1000.0}
        counters = hand.counters("bms")
        assert counters.timeouts == 0
        assert counters.errors == dict.fromkeys(counters.errors, 0)
        assert counters.exceptions == {2: 2}
        assert counters.transactions == 3
        assert unit_0_told(logs) == [(0, 1)]
    finally:
        hand.close()


#: A Seplos pack at address 0 polls the packs at 1 and up on the RS-485 line itself
#: (syssi/esphome-seplos-bms issue 116; Sleeper85/esphome-yambms issue 223): a second
#: master's exchanges, with the pack read's function code (04), pass on a line sensord reads.
#: Pack 5's refusal of a register it lacks, as a Seplos refuses one
#: (Louisvdw/dbus-serialbattery issue 923).
OTHER_MASTER_REFUSAL = rtu_frame(bytes.fromhex("05 84 02"))


def test_another_master_s_refusal_in_a_read_at_unit_0_fixes_no_unit_id(
    pty_pair: PtyPair,
) -> None:
    """A BMS read at unit 0 (``broadcast_reads``) that answers with its own unit id, 1, on a
    line another master polls: in its first exchange, before its answer, the refusal of
    unit 5 to the other master's read comes (:data:`OTHER_MASTER_REFUSAL`). Taken as the
    read's answer (a refusal of the device's own unit id is: a Seplos refuses a register it
    lacks before it ever answered with values), it fixes no unit id: the BMS's answers of
    unit 1 at the polls after it are read, each in time. (The refusal fixed unit 5: every
    answer of unit 1 was counted as a frame of another unit id, the reads timed out, the BMS
    went down, and no value was read.)"""
    one = [{"name": "p0", "table": "input", "address": 0x1000}]
    bms = device("bms", "", 0, one, interval_s=1.0, broadcast_reads=True)
    hand = HandBus(pty_pair, bms)
    request = read_request(0, 0x1000, 1, function=4)
    try:
        with capture_logs() as logs:
            assert hand.tick(100.0) == request
            assert hand.receive(100.02, OTHER_MASTER_REFUSAL) == b""
            for poll in range(1, 4):
                at = 100.0 + poll
                assert hand.tick(at) == request, poll
                assert hand.receive(at + 0.05, read_reply(1, [5321 + poll], function=4)) == b""
                assert hand.bus.in_flight is None, poll
                assert latest(hand.runtimes["bms"]) == {"p0": 5321.0 + poll}
        counters = hand.counters("bms")
        assert (counters.transactions, counters.timeouts, counters.down) == (4, 0, False)
        assert counters.errors == dict.fromkeys(counters.errors, 0)
        assert counters.exceptions == {2: 1}
        assert unit_0_told(logs) == [(0, 1)]
    finally:
        hand.close()


def seplos_bms(pty_pair: PtyPair, **modbus: Any) -> HandBus:
    """A bus on ``pty_pair`` reading a Seplos BMS at unit 0 (:data:`SEPLOS_READ`, once a
    second, its answers' timeout 0.2 s), with ``modbus``'s other keys."""
    bms = device("bms", "", 0, SEPLOS_READ, interval_s=1.0, max_gap=12, broadcast_reads=True)
    bms["modbus"] |= {"timeout_s": 0.2, **modbus}
    return HandBus(pty_pair, bms)


def test_a_unit_id_taken_from_another_master_s_answer_at_unit_0_is_learned_again_once_down(
    pty_pair: PtyPair,
) -> None:
    """The line of :func:`test_another_master_s_refusal_in_a_read_at_unit_0_fixes_no_unit_id`,
    where the other master reads pack 5 with the very read sensord sends its BMS (the Seplos
    pack at address 0 polls its packs' same registers): pack 5's answer, of the read's
    function code and length, comes first in the BMS's first exchange and is taken, its unit
    id fixed. The BMS's answers of unit 1 are then no answers of its; its reads time out and
    it goes down. Down, it takes the unit id of its next answer again: at its first attempt
    its answer of unit 1 is read and it is up. (It stayed down for good, every answer of its
    counted as ``unit``.)"""
    hand = seplos_bms(pty_pair)
    words = list(SEPLOS_WORDS)
    try:
        assert hand.tick(100.0) == SEPLOS_PACK_READ
        assert hand.receive(100.02, read_reply(5, [7] * 14, function=4)) == b""
        assert hand.bus.in_flight is None
        at = 101.0
        while not hand.counters("bms").down and at < 130.0:
            if hand.tick(at) == SEPLOS_PACK_READ:
                hand.receive(at + 0.05, read_reply(1, words, function=4))
            at = round(at + 0.05, 3)
        assert hand.counters("bms").down
        while hand.counters("bms").down and at < 200.0:
            if hand.tick(at) == SEPLOS_PACK_READ:
                hand.receive(at + 0.05, read_reply(1, words, function=4))
            at = round(at + 0.05, 3)
        assert not hand.counters("bms").down, at
        assert latest(hand.runtimes["bms"]) == {"p0": 5321.0, "p13": 240.0}
    finally:
        hand.close()


def test_a_device_read_at_unit_0_down_for_late_answers_keeps_them_its_own(
    pty_pair: PtyPair,
) -> None:
    """A BMS read at unit 0 that answers with its own unit id, 1, answers in time once, then
    130 ms after each request, past its timeout of 100 ms (a device slower than the timeout
    set for it: stephane/libmodbus issue 776, a Fronius inverter that needs more than
    500 ms). Three reads time out and it goes down; its answer to the third comes after
    that, as late answers do, and so does its answer to its first attempt once down. Each
    of the four is its late answer (counted ``late``), and
    its down reason is that its answers come late (raise modbus.timeout_s), not that it
    answers nothing. A meter at unit 2, read alike, is charged with none of them. (Down, the
    BMS forgot the unit id its answers carry: the third late answer was nobody's, its
    answer after the down not counted, and the reason given at its next timeout told to
    check its power supply and connection.)"""
    one = [{"name": "v", "table": "holding", "address": 0}]
    bms = device("bms", "", 0, one, interval_s=1.0, timeout_s=0.1, broadcast_reads=True)
    bms["modbus"] |= {"retries": 0}
    meter = device("meter", "", 2, [{"name": "a", "table": "holding", "address": 0}])
    meter["modbus"] |= {"interval_s": 1.0, "timeout_s": 0.1}
    hand = HandBus(pty_pair, bms, meter)
    bms_read = read_request(0, 0, 1)
    late_at: list[float] = []
    answered_late = 0
    try:
        with capture_logs() as logs:
            at = 100.0
            while at < 106.0 and answered_late < 4:
                sent = hand.tick(at)
                if sent == bms_read and at < 100.5:
                    hand.receive(at + 0.002, read_reply(1, [1000]), look=False)
                elif sent == bms_read:
                    late_at.append(at + 0.13)
                elif sent == read_request(2, 0, 1):
                    hand.receive(at + 0.003, read_reply(2, [6]), look=False)
                if late_at and at >= late_at[0]:
                    late_at.pop(0)
                    if answered_late == 2:  # the answer to the read that took it down
                        assert hand.counters("bms").down
                    hand.receive(at, read_reply(1, [2000 + answered_late]), look=False)
                    answered_late += 1
                at = round(at + 0.005, 3)
        counters = hand.counters("bms")
        assert counters.down
        assert counters.errors == dict.fromkeys(counters.errors, 0) | {"late": 4}
        reason = hand.runtimes["bms"].last_error
        assert reason is not None
        assert reason.endswith("its answers come after modbus.timeout_s: raise it"), reason
        assert not [e for e in logs if e["event"] == "device still down, for another reason"]
        meter_counters = hand.counters("meter")
        assert meter_counters.errors == dict.fromkeys(meter_counters.errors, 0)
        assert latest(hand.runtimes["bms"]) == {"v": 1000.0}
    finally:
        hand.close()


def test_another_master_s_refusal_ends_no_read_of_a_device_down_at_unit_0(
    pty_pair: PtyPair,
) -> None:
    """The BMS and line of :func:`test_another_master_s_refusal_in_a_read_at_unit_0_fixes_no_unit_id`:
    the BMS answers with its unit id, 1, then is silent for three polls (a restart) and goes
    down. At its first attempt after, pack 5's refusal to the other master's read
    (:data:`OTHER_MASTER_REFUSAL`) comes first, then the BMS's answer. The refusal is not
    the read's answer (of another unit id than the one the BMS's answers carry, it tells no
    unit id: only an answer with values may, while the device is down): the BMS's answer
    is, its value read, it is up, and no exception is counted for it. (Once down, the BMS had
    forgotten its unit id: the refusal was taken as its read's, counted as its exception
    0x02, and its own answer after it counted as a frame of another unit id.)"""
    one = [{"name": "p0", "table": "input", "address": 0x1000}]
    bms = device("bms", "", 0, one, interval_s=1.0, timeout_s=0.1, broadcast_reads=True)
    bms["modbus"] |= {"retries": 0}
    hand = HandBus(pty_pair, bms)
    request = read_request(0, 0x1000, 1, function=4)
    try:
        assert hand.tick(100.0) == request
        hand.receive(100.02, read_reply(1, [5321], function=4), look=False)
        at = 100.05
        while not hand.counters("bms").down and at < 110.0:  # silent: three timeouts
            hand.tick(at)
            at = round(at + 0.005, 3)
        while hand.tick(at) != request and at < 120.0:  # its first attempt once down
            at = round(at + 0.005, 3)
        hand.receive(at + 0.01, OTHER_MASTER_REFUSAL, look=False)
        assert hand.bus.in_flight is not None  # no answer of the BMS's
        hand.receive(at + 0.03, read_reply(1, [5400], function=4), look=False)
        assert hand.bus.in_flight is None
        counters = hand.counters("bms")
        assert (counters.transactions, counters.timeouts, counters.down) == (2, 3, False)
        assert counters.exceptions == {}
        assert counters.errors == dict.fromkeys(counters.errors, 0) | {"unit": 1}
        assert latest(hand.runtimes["bms"]) == {"p0": 5400.0}
    finally:
        hand.close()


def test_another_master_s_answer_gives_no_values_to_a_device_back_at_unit_0(
    pty_pair: PtyPair,
) -> None:
    """The line of :func:`test_a_unit_id_taken_from_another_master_s_answer_at_unit_0_is_learned_again_once_down`,
    the other way round: the BMS, read at unit 0, answers with its unit id, 1, then is off
    for three polls (a restart) and goes down, pack 5's answer to the other master's read
    of the same registers coming in the last of its exchanges. At its first attempt after,
    pack 5's answer comes first again, then the BMS's own. Pack 5's answer is not the
    BMS's: its unit id did not come in each of the exchanges that took the BMS down, as the
    BMS's own answers do when they carry another unit id. The BMS's answer is read, its values its own. (Down, the
    BMS took the first answer of any unit id: pack 5's values were read as the BMS's, its
    unit id taken, and the BMS's own answers refused after it.)"""
    hand = seplos_bms(pty_pair, retries=0)
    words = list(SEPLOS_WORDS)
    try:
        assert hand.tick(100.0) == SEPLOS_PACK_READ
        hand.receive(100.02, read_reply(1, words, function=4), look=False)
        at = 100.05
        asked = 0
        while not hand.counters("bms").down and at < 110.0:  # off: three timeouts
            if hand.tick(at) == SEPLOS_PACK_READ:
                asked += 1
                if asked == 3:  # the other master's exchange with pack 5 within the last
                    hand.receive(at + 0.01, read_reply(5, [7] * 14, function=4), look=False)
            at = round(at + 0.005, 3)
        assert asked == 3
        while hand.tick(at) != SEPLOS_PACK_READ and at < 120.0:  # its first attempt once down
            at = round(at + 0.005, 3)
        hand.receive(at + 0.01, read_reply(5, [7] * 14, function=4), look=False)
        assert hand.bus.in_flight is not None  # no answer of the BMS's
        hand.receive(at + 0.05, read_reply(1, [5400, *words[1:]], function=4), look=False)
        assert hand.bus.in_flight is None
        counters = hand.counters("bms")
        assert (counters.transactions, counters.timeouts, counters.down) == (2, 3, False)
        assert latest(hand.runtimes["bms"]) == {"p0": 5400.0, "p13": 240.0}
        assert hand.values("bms")["p13"] == (240.0, 240.0, 2)  # pack 5's 7 never read
    finally:
        hand.close()


def test_a_unit_id_learned_again_once_down_outlasts_an_answer_lost_on_the_line(
    pty_pair: PtyPair,
) -> None:
    """:func:`test_a_unit_id_taken_from_another_master_s_answer_at_unit_0_is_learned_again_once_down`,
    where the BMS's answer to its second read after the wrong unit id was taken is lost on
    the line (nothing comes in that exchange): its answers of unit 1 come in each of its
    exchanges after that, its attempts once down among them, and once they came in three
    in a row it is read again and up. (A row of frames of one unit id in every timed-out
    exchange, broken once, stayed broken while the device was down: it never came back.)"""
    hand = seplos_bms(pty_pair)
    words = list(SEPLOS_WORDS)
    try:
        assert hand.tick(100.0) == SEPLOS_PACK_READ
        assert hand.receive(100.02, read_reply(5, [7] * 14, function=4)) == b""
        at = 101.0
        reads = 0
        while not hand.counters("bms").transactions > 1 and at < 200.0:
            if hand.tick(at) == SEPLOS_PACK_READ:
                reads += 1
                if reads != 2:  # the second one's answer is lost
                    hand.receive(at + 0.05, read_reply(1, words, function=4))
            at = round(at + 0.05, 3)
        counters = hand.counters("bms")
        assert counters.transactions == 2, at
        assert not counters.down
        assert latest(hand.runtimes["bms"]) == {"p0": 5321.0, "p13": 240.0}
    finally:
        hand.close()


@pytest.mark.parametrize("unit", [1, 0], ids=["own-unit-id", "unit-0"])
@pytest.mark.parametrize("during", [True, False], ids=["in-the-meter-s-exchange", "between"])
def test_a_second_frame_of_the_answer_s_unit_id_after_a_read_at_unit_0_is_no_second_device(
    pty_pair: PtyPair, unit: int, during: bool
) -> None:
    """A device read at unit 0 (``broadcast_reads``) answers with ``unit`` (its own unit id,
    1, as pymodbus pull requests 2298 and 2845 tell of, or 0), every read in time; within
    that read's timeout a second frame of the same unit id, function code and byte count
    comes, during the meter's exchange that follows or before its request: the device
    answered one request twice, or another master asked it (an inverter polling its BMS
    while sensord reads it, as syssi/esphome-seplos-bms issue 116 had a second master on a
    Seplos bus). It is the device's own frame, not a second device answering the read at
    unit 0: counted as ``unasked`` for it and told as a frame of its unit id nobody asked
    for, naming ``unit``; the meter's exchange is not touched. (It was counted as ``unit``
    and logged as "two devices answered a read at unit 0" with ``answered_as`` and
    ``also_answered`` both ``unit``, and a hint naming "unit ids 1 and 1".)"""
    one = [{"name": "v", "table": "holding", "address": 0}]
    bms = device("bms", "", 0, one, interval_s=1.0, timeout_s=0.3, broadcast_reads=True)
    meter = device("meter", "", 2, [{"name": "a", "table": "holding", "address": 0}])
    meter["modbus"] |= {"interval_s": 1.0}
    hand = HandBus(pty_pair, bms, meter)
    try:
        with capture_logs() as logs:
            assert hand.tick(100.0) == read_request(0, 0, 1)
            assert hand.receive(100.02, read_reply(unit, [1000])) == b""
            if during:
                assert hand.tick(100.03) == read_request(2, 0, 1)
                assert hand.receive(100.035, read_reply(unit, [1000])) == b""
                assert hand.bus.in_flight is not None
            else:
                assert hand.receive(100.025, read_reply(unit, [1000])) == b""
                assert hand.tick(100.03) == read_request(2, 0, 1)
            assert hand.receive(100.04, read_reply(2, [7])) == b""
            assert hand.bus.in_flight is None
        assert latest(hand.runtimes["bms"]) == {"v": 1000.0}
        counters = hand.counters("bms")
        assert counters.errors == dict.fromkeys(counters.errors, 0) | {"unasked": 1}
        meter_counters = hand.counters("meter")
        assert meter_counters.transactions == 1
        assert meter_counters.errors == dict.fromkeys(meter_counters.errors, 0)
        assert not [e for e in logs if e["event"] == "two devices answered a read at unit 0"]
        told = [e for e in logs if e["event"] == "frame of the device's unit id nobody asked for"]
        assert [(e["sensor"], e["unit"]) for e in told] == [("bms", unit)]
    finally:
        hand.close()


@pytest.mark.slow
@pytest.mark.parametrize("answers_as", [1, 0], ids=["own-unit-id", "unit-0"])
def test_the_probe_tells_a_refusal_of_the_device_s_own_unit_id_to_a_read_at_unit_0(
    tmp_path: Path, pty_pair: PtyPair, capsys: pytest.CaptureFixture[str], answers_as: int
) -> None:
    """``sensord modbus read --sensor`` of a device read at unit 0 (``broadcast_reads``) that
    answers with its own unit id, 1, and refuses the read (exception 02, as a Seplos BMS
    answers a register it lacks: Louisvdw/dbus-serialbattery issue 923): the refusal is the
    read's answer, told with its code and the unit id it came from, as the daemon's bus
    counts it (:func:`test_a_refusal_before_the_first_answer_of_a_device_read_at_unit_0_is_its_read_s`);
    not skipped as a frame of another unit id with "no response" and the advice to check
    the unit id. The line with the code names unit 1, the refusal's (it named unit 0, the
    address read, while the line below it said unit 1 answered), and what unit 0 is; a
    refusal of unit 0 (a Seplos V3 answers its reads at unit 0 from unit 0:
    :data:`SEPLOS_PACK_READ`) names unit 0 and says the same."""

    def bms() -> None:
        if pty_pair.read(8, timeout_s=5.0) == read_request(0, 0, 1):
            time.sleep(0.02)
            pty_pair.write(rtu_frame(bytes([answers_as, 0x83, 0x02])))

    config = tmp_path / "sensord.toml"
    config.write_text(
        f'[[sensors]]\nname = "bms"\nport = "{pty_pair.path}"\nformat = "modbus"\n'
        "serial = { baudrate = 9600 }\n"
        "modbus = { unit = 0, broadcast_reads = true, timeout_s = 0.3 }\n"
        'registers = [{ name = "v", table = "holding", address = 0 }]\n'
        'channels = [{ name = "v" }]\n'
    )
    device_side = threading.Thread(target=bms, daemon=True)
    device_side.start()
    read = ["--holding", "0", "--timeout", "0.3"]
    code = main(["modbus", "read", "--sensor", "bms", "-c", str(config), *read])
    device_side.join(5.0)
    captured = capsys.readouterr()
    assert code == 1
    told = (
        "unit 1 answered the read at unit 0 (the broadcast address, which this device "
        "answers, with its own unit id)"
        if answers_as
        else "unit 0 (the broadcast address, which this device answers, with unit id 0) answered"
    )
    assert f"{told} with exception 0x02 (illegal data address)\n" in captured.out, captured.out
    assert ("answered from unit 1" in captured.err) is bool(answers_as), captured.err
    assert "no response" not in captured.err, captured.err


@pytest.mark.parametrize("known", [False, True], ids=["first-answer", "unit-id-known"])
def test_a_refusal_of_the_device_s_own_unit_id_begun_in_time_at_unit_0_is_read_whole(
    pty_pair: PtyPair, known: bool
) -> None:
    """At 9600 baud, a device read at unit 0 (``broadcast_reads``) refuses its read with its
    own unit id, 1 (exception 02, 5 bytes, 5 ms on the line), and the refusal begins just
    within the read's timeout and ends after it: it is read whole, as its answer with values
    is (:func:`test_a_long_answer_of_the_device_s_own_unit_id_to_a_read_at_unit_0_is_read_whole`),
    before its first answer with values and once its unit id is known: counted by its code,
    not cut off as ``truncated`` nor timed out."""
    one = [{"name": "v", "table": "holding", "address": 0}]
    bms = device("bms", "", 0, one, interval_s=1.0, timeout_s=0.3, broadcast_reads=True)
    hand = HandBus(pty_pair, bms)
    refusal = rtu_frame(bytes.fromhex("01 83 02"))
    deadline_s = 8 * CHAR_9600_S + 0.3  # from the request's start, its 8 bytes on the wire
    try:
        at = 100.0
        if known:
            assert hand.tick(at) == read_request(0, 0, 1)
            assert hand.receive(at + 0.02, read_reply(1, [1000])) == b""
            at += 1.0
        assert hand.tick(at) == read_request(0, 0, 1)
        assert hand.receive(at + deadline_s - 0.002, refusal[:2]) == b""
        assert hand.tick(at + deadline_s + 0.001) == b""
        assert hand.bus.in_flight is not None
        assert hand.receive(at + deadline_s + 0.002, refusal[2:]) == b""
        assert hand.bus.in_flight is None
        counters = hand.counters("bms")
        assert counters.exceptions == {2: 1}
        assert counters.timeouts == 0
        assert counters.errors == dict.fromkeys(counters.errors, 0)
    finally:
        hand.close()


def garbled_with_swapped_crc(answer: bytes) -> bytes:
    """``answer`` (a register read's, its CRC sound) with its data bytes garbled on the line
    and its CRC bytes come through, where the garbled data make that CRC hold high byte
    first: of the 65536 values two data bytes can take, the one whose CRC is the trailer's
    read high byte first (a chance of 1 in 65536 for any garbling of them)."""
    head, trailer = answer[:3], answer[-2:]
    rest = answer[5:-2]
    for value in range(0x10000):
        body = head + value.to_bytes(2, "big") + rest
        if crc16(body).to_bytes(2, "big") == trailer:
            return body + trailer
    raise AssertionError("no such data bytes")


@pytest.mark.parametrize("pieces", [1, 3], ids=["whole", "in-pieces"])
def test_a_garbled_answer_whose_crc_holds_high_byte_first_by_chance_is_crc(
    pty_pair: PtyPair, pieces: int
) -> None:
    """A device whose answers carry the standard CRC (low byte first) answers a read with its
    data bytes garbled, its CRC bytes intact, and the garbled bytes make that CRC hold high
    byte first: no answer of a device that swaps its CRC (a firmware swaps it in every
    answer or none), but a spoilt one, counted ``crc`` and its values not read; the device
    is not timed out and its next answer is read. (Before: read as a swapping device's
    answer, its garbled value published and the device logged as one that sends its CRC
    high byte first.)"""
    registers = [{"name": "a", "table": "holding", "address": 0x7D68, "type": "uint32"}]
    hand = HandBus(pty_pair, device("m", "", 1, registers, interval_s=1.0, timeout_s=0.3))
    sound = MARSTEK_ANSWER[:-2] + rtu_crc(MARSTEK_ANSWER[:-2])
    garbled = garbled_with_swapped_crc(sound)
    assert crc16(garbled)  # its standard CRC does not hold
    try:
        with capture_logs() as logs:
            assert hand.tick(100.0) == MARSTEK_READ
            hand.receive(100.02, sound)
            assert hand.tick(101.0) == MARSTEK_READ
            step = -(-len(garbled) // pieces)
            for cut in range(0, len(garbled), step):
                hand.receive(101.02 + cut * 0.001, garbled[cut : cut + step], look=False)
            hand.tick(101.03)  # the line silent after it
            assert hand.bus.in_flight is None
            assert hand.tick(102.0) == MARSTEK_READ
            hand.receive(102.02, sound)
        counters = hand.counters("m")
        assert counters.errors == {**dict.fromkeys(counters.errors, 0), "crc": 1}
        assert (counters.transactions, counters.timeouts) == (2, 0)
        assert hand.values("m") == {"a": (0x000B0200, 0x000B0200, 2)}
        assert not [e for e in logs if e["event"] == "device sends its CRC high byte first"]
    finally:
        hand.close()


def test_a_device_whose_answers_come_with_the_crc_swapped_from_some_on_is_read_again(
    pty_pair: PtyPair,
) -> None:
    """A device whose answers carry the standard CRC, until its firmware is updated over the
    air to one that sends it high byte first (a Marstek Venus E: evcc-io/evcc issue 18653,
    its answer 01 03 04 00 0B 02 00 91 8A; its firmware updates itself, ``update_vns``,
    ViperRNMC/marstek_venus_modbus issue 208), or another device takes its unit id. Its
    first two swapped answers are spoilt frames to the bus, counted ``crc``; from the third
    in a row on they are its answers, read, and the log says once that it sends its CRC
    high byte first. (Before: every answer after the change was ``crc`` until sensord was
    restarted.)"""
    registers = [{"name": "a", "table": "holding", "address": 0x7D68, "type": "uint32"}]
    hand = HandBus(pty_pair, device("m", "", 1, registers, interval_s=1.0, timeout_s=0.3))
    sound = MARSTEK_ANSWER[:-2] + rtu_crc(MARSTEK_ANSWER[:-2])
    try:
        with capture_logs() as logs:
            assert hand.tick(100.0) == MARSTEK_READ
            hand.receive(100.02, sound)
            for second in range(1, 5):
                assert hand.tick(100.0 + second) == MARSTEK_READ
                hand.receive(100.02 + second, MARSTEK_ANSWER, look=False)
                hand.tick(100.03 + second)  # the line silent after it
                assert hand.bus.in_flight is None
        counters = hand.counters("m")
        assert counters.errors == {**dict.fromkeys(counters.errors, 0), "crc": 2}
        assert (counters.transactions, counters.timeouts) == (3, 0)
        assert hand.values("m") == {"a": (0x000B0200, 0x000B0200, 3)}
        told = [e for e in logs if e["event"] == "device sends its CRC high byte first"]
        assert len(told) == 1
    finally:
        hand.close()
