"""Another master on the RTU line: its requests, the answers of the devices it asks (some of
them the bus's own), and how long each holds the bus's next request.

RS-485 is half duplex, and a second master (an inverter's energy manager, a PLC, a data
logger) shares the pair: eModbus/eModbus#336 shows a line of many devices carrying another
master's writes of function 16 (``69 10 00 32 00 01 02 00 01 AC 40``). A request's last bytes
are its values and CRC, any bytes at all: read from where they are as the first bytes of a
frame (``00 01 85 8E`` as unit 0's read of 133 bytes) they would hold the bus's next request
for a long frame that never comes. A sound request of the line is a frame of its own, whole
at its CRC, and its address and function code tell what may answer it.

Requests are built by pymodbus's own PDUs and RTU framer, as a pymodbus client on the line
sends them; the answers as a pymodbus server sends them.
"""

from __future__ import annotations

import pytest
from harness.modbus import rtu_frame
from harness.pty import PtyPair
from pymodbus.framer import FramerRTU
from pymodbus.pdu import DecodePDU, ModbusPDU
from pymodbus.pdu.mei_message import ReadDeviceInformationRequest, ReadDeviceInformationResponse
from pymodbus.pdu.register_message import (
    ReadHoldingRegistersRequest,
    ReadInputRegistersRequest,
    WriteMultipleRegistersRequest,
    WriteMultipleRegistersResponse,
    WriteSingleRegisterRequest,
)
from test_modbus import device
from test_modbus_late_pieces import ONE, both_read, two_units_on_a_pty, unit_1_timed_out
from test_modbus_line import HandBus, read_reply, read_request

from sensord.modbus_timing import ARRIVAL_SLACK_S, HEARD_FOR_S


def framed(pdu: ModbusPDU) -> bytes:
    """``pdu`` as pymodbus's RTU framer sends it."""
    return bytes(FramerRTU(DecodePDU(False)).buildFrame(pdu))


#: Requests of another master, each sound, whose last bytes begin, read as a frame's first
#: bytes, a long frame (the bytes the bus held its next request for before: 134 to 254)
OTHER_REQUESTS = {
    # unit 5's holding register 0: its last bytes 00 01 85 8E, unit 0's read of 133 bytes
    "03": framed(ReadHoldingRegistersRequest(address=0, count=1, dev_id=5)),
    # unit 25's 100 input registers from 19: 64 03 FC, unit 100's refusal of 255 bytes
    "04": framed(ReadInputRegistersRequest(address=19, count=100, dev_id=25)),
    # a write of one register: its answer is its request (what the bus takes out as an answer)
    "06": framed(WriteSingleRegisterRequest(address=50, registers=[1], dev_id=0x69)),
    # eModbus/eModbus#336's capture: unit 0x69's register 50 written with 1
    "10": bytes.fromhex("69 10 00 32 00 01 02 00 01 AC 40"),
    "10 of unit 0x6E": bytes.fromhex("6E 10 00 32 00 01 02 00 02 CA 71"),
}


def test_the_captured_write_is_pymodbus_s_own_framing() -> None:
    """The capture of eModbus/eModbus#336 is a sound request of function 16, as pymodbus
    frames it."""
    write = WriteMultipleRegistersRequest(address=50, registers=[1], dev_id=0x69)
    assert framed(write) == OTHER_REQUESTS["10"]


@pytest.mark.parametrize("name", sorted(OTHER_REQUESTS))
@pytest.mark.parametrize("heard_cut", [0, 5, 6, 7])
@pytest.mark.parametrize("cut", [0, 4, 6])
def test_another_master_s_request_holds_the_next_request_no_longer_than_it_lasts(
    name: str, cut: int, heard_cut: int
) -> None:
    """Units 1 and 2 were read; another master's request comes 5 ms before their next polls
    are due, whole in one piece or in two an FTDI latency timer (16 ms) apart (AN232B-04),
    cut after its fourth or its sixth byte (the latency timer cuts wherever it runs out),
    that master heard on the line before (its request 0.5 s earlier, whole or cut anywhere). The polls go once the line has been silent after the request's last byte: a whole request
    begins nothing, and one cut holds the line for the rest of the request its first bytes
    tell (its unit id heard, a read's byte count 0 no answer's), not for the long frame its
    last bytes read as. (Fails before: the poll was held for the rest of that frame, 134 to
    254 bytes at 9600 baud and the adapter's 50 ms: 190 to 315 ms.)"""
    request = OTHER_REQUESTS[name]
    with two_units_on_a_pty() as hand:
        bus = hand.bus
        both_read(hand)
        # the other master's exchange before: its request whole, or in two pieces
        # (``heard_cut``), its rest 16 ms after its first bytes
        if heard_cut:
            hand.receive(100.484, request[:heard_cut], look=False)
        hand.receive(100.5, request[heard_cut:], look=False)
        pieces = 2 if cut else 1
        cut = cut or len(request)
        # (cut: its first bytes when the polls are due, its rest 16 ms later)
        first, last = (100.998, 101.014) if pieces == 2 else (100.995, 100.995)
        hand.receive(first, request[:cut], look=False)
        if pieces == 2:
            # (the rest of the request is on the line: no read goes into it)
            assert hand.tick(first + bus.silence_s + 0.0005) == b""
            hand.receive(last, request[cut:], look=False)
        free = max(101.0, last + bus.silence_s)
        assert hand.tick(free + 0.0005) == read_request(1, 0, 1)
        hand.receive(free + 0.02, read_reply(1, [5]), look=False)
        assert hand.values("a") == {"v": (3.0, 5.0, 2)}
        assert hand.counters("a").timeouts == hand.counters("b").timeouts == 0


def test_a_unit_0_answer_begun_after_a_silence_still_holds_the_next_request() -> None:
    """A read at unit 0 (``broadcast_reads``: a Seplos BMS, every device that answers reads at
    the broadcast address answers each, stephane/libmodbus#153) answered by unit 1, then a
    gateway's second answer for unit 0 (unit id 0) begun after a silence: its first 3 bytes
    ``00 03 02`` in one piece, its rest one FTDI latency timer (16 ms) later. A 0x00 there
    begins a frame while a second answer may come: unit 2's read waits for the rest of that
    answer's 7 bytes and the adapter's 50 ms, and goes once the line has been silent after
    it."""
    with PtyPair() as pty:
        hand = HandBus(
            pty,
            device("a", "", 0, ONE, interval_s=1.0, timeout_s=0.2, broadcast_reads=True),
            device("b", "", 2, ONE, interval_s=1.0, timeout_s=0.2),
        )
        try:
            bus = hand.bus
            assert hand.tick(100.0) == read_request(0, 0, 1)
            hand.receive(100.02, read_reply(1, [3]), look=False)
            assert hand.values("a") == {"v": (3.0, 3.0, 1)}
            second = read_reply(0, [9])
            first = 100.03
            hand.receive(first, second[:3], look=False)
            held = first + bus.silence_s + 4 * bus.char_s
            assert hand.tick(held + 0.0005) == b""
            assert hand.tick(held + ARRIVAL_SLACK_S - 0.0005) == b""
            hand.receive(first + 0.016, second[3:], look=False)
            silent = first + 0.016 + bus.silence_s
            assert hand.tick(silent - 0.0005) == b""
            assert hand.tick(silent + 0.0005) == read_request(2, 0, 1)
        finally:
            hand.close()


#: Answers of unit 1, a device of the bus (which reads it with function 03 only), to another
#: master's requests of other functions, as a pymodbus server sends them
OTHER_ANSWERS = {
    # a write of two registers (an energy manager's set points)
    "10": (
        framed(WriteMultipleRegistersRequest(address=0x21, registers=[1, 1], dev_id=1)),
        framed(WriteMultipleRegistersResponse(address=0x21, count=2, dev_id=1)),
    ),
    # a read of its identification (an inverter's vendor and product code)
    "2B": (
        framed(ReadDeviceInformationRequest(read_code=1, object_id=0, dev_id=1)),
        framed(
            ReadDeviceInformationResponse(
                read_code=1, information={0: b"SENSORD", 1: b"P-42", 2: b"1.02"}, dev_id=1
            )
        ),
    ),
}


@pytest.mark.parametrize("name", sorted(OTHER_ANSWERS))
def test_a_device_s_answer_to_another_master_holds_the_next_request_for_its_rest(
    name: str,
) -> None:
    """Another master asks unit 1, a device of the bus, with a function the bus never sends
    (a write of function 16, a device identification of 0x2B); unit 1's answer begins 5 ms
    before the bus's polls are due, its unit id and function code in one piece, its rest one
    FTDI latency timer (16 ms) later (AN232B-04). The function was heard in that master's
    request: the answer's first bytes begin a frame of the line, and the polls wait for its
    rest. (Fails with the functions of the line's requests left out of what begins a frame
    of a unit of the bus: a function of no request of the bus's held nothing, and unit 1's
    read went into the rest of unit 1's answer; on the tree before, the request's last bytes
    held the poll for a long frame instead.)"""
    request, answer = OTHER_ANSWERS[name]
    with two_units_on_a_pty() as hand:
        bus = hand.bus
        both_read(hand)
        hand.receive(100.99, request, look=False)
        hand.receive(100.995, answer[:2], look=False)
        assert hand.tick(101.0005) == b""
        assert hand.tick(100.995 + 0.015) == b""
        last = 100.995 + 0.016
        hand.receive(last, answer[2:], look=False)
        assert hand.tick(last + bus.silence_s - 0.0005) == b""
        sent = hand.tick(last + bus.silence_s + 0.0005)
        assert sent in {read_request(1, 0, 1), read_request(2, 0, 1)}
        hand.receive(last + 0.03, read_reply(sent[0], [5]), look=False)
        assert hand.values("ab"[sent[0] - 1])["v"] == (3.0 + sent[0] - 1, 5.0, 2)
        # the answer to another master is unit 1's frame nobody asked for, no late one
        counters = hand.counters("a")
        assert (counters.errors["late"], counters.errors["unasked"]) == (0, 1)


def test_a_master_s_addresses_are_forgotten_once_it_left_the_line() -> None:
    """Units 1 and 2 are polled every minute; another master reads unit 0xE1 (no device of
    the bus) once, at 100.5 s, and never again. A lone E1 just before a poll is due
    (4-20ma/ModbusMaster#98, "Invalid Slave 0xE1": noise on an unbiased line) holds the poll
    for the rest of the shortest frame and the adapter's 50 ms while that master may still
    poll: :data:`HEARD_FOR_S` (180 s) at least after it was heard, here 239.5 s. Twice that
    after it, here at 519.5 s, the lone E1 holds the poll for the line's silence alone: a
    master that polls every 1 to 60 s (Home Assistant's modbus ``scan_interval``, 15 s by
    default; a data logger's minute) would have been heard again since. (Fails when heard
    addresses never age: the poll at 520 s was held as the one at 340 s.)"""
    tables = (
        device("a", "", 1, ONE, interval_s=60.0, timeout_s=0.2),
        device("b", "", 2, ONE, interval_s=60.0, timeout_s=0.2),
    )
    with PtyPair() as pty:
        hand = HandBus(pty, *tables)
        try:
            bus = hand.bus

            def answer_polls(sent: bytes, at: float) -> None:
                """Units 1 and 2 answer the poll ``sent`` at ``at`` and the one after it."""
                hand.receive(at + 0.02, read_reply(sent[0], [3]), look=False)
                then = hand.tick(at + 0.03)
                assert then, at
                hand.receive(at + 0.05, read_reply(then[0], [4]), look=False)

            # (the lone bytes come within the time it is heard, and past twice that)
            assert 100.5 + HEARD_FOR_S < 339.999 < 100.5 + 2 * HEARD_FOR_S < 519.999
            answer_polls(hand.tick(100.0), 100.0)
            hand.receive(100.5, read_reply(0xE1, [1]), look=False)
            for polls, due, held in (((160, 220, 280), 340.0, True), ((400, 460), 520.0, False)):
                for at in polls:  # (the bus's ticks age what it heard)
                    answer_polls(hand.tick(float(at)), float(at))
                hand.receive(due - 0.001, b"\xe1", look=False)
                free = due - 0.001 + bus.silence_s + 3 * bus.char_s + ARRIVAL_SLACK_S
                sent = hand.tick(due + 0.01)
                assert (sent == b"") is held, due
                if held:
                    assert hand.tick(free - 0.0005) == b""
                    sent = hand.tick(free + 0.0005)
                assert sent == read_request(1, 0, 1)
                answer_polls(sent, hand.now)
        finally:
            hand.close()


def test_a_late_frame_is_the_answer_of_the_request_whose_function_and_length_it_has() -> None:
    """Unit 1's read of one register times out; right after, another master reads two of its
    registers (a pymodbus client's request) and unit 1 answers it (9 bytes), then its own
    answer comes late (7 bytes), and unit 2's read times out and its refusal comes late
    (exception 02 of function 03). An RTU frame names its unit id, function code and length
    only: unit 1's 9 bytes answer no request of the bus's and are a frame nobody asked for
    (``unasked``), its 7 bytes are the late answer owed, and unit 2's refusal is its late
    answer. (Fails before: unit 1's first frame of its unit id paid the answer owed, counted
    ``late``, and its own late answer was counted ``unasked``.)"""
    with two_units_on_a_pty() as hand:
        bus = hand.bus
        unit_1_timed_out(hand)
        other = framed(ReadHoldingRegistersRequest(address=0x10, count=2, dev_id=1))
        hand.receive(100.2095, other + read_reply(1, [0x1234, 0x5678]), look=False)
        counters = hand.counters("a")
        assert (counters.errors["late"], counters.errors["unasked"]) == (0, 1)
        hand.receive(100.22, read_reply(1, [7]), look=False)
        assert (counters.errors["late"], counters.errors["unasked"]) == (1, 1)
        asked = 100.22 + bus.silence_s + 0.001
        assert hand.tick(asked) == read_request(2, 0, 1)
        assert hand.tick(asked + bus.request_wire_s + 0.2 + 0.001) == b""  # its timeout
        hand.receive(asked + 0.3, rtu_frame(bytes((2, 0x83, 0x02))), look=False)
        counters = hand.counters("b")
        assert (counters.errors["late"], counters.errors["unasked"]) == (1, 0)
        assert counters.exceptions == {2: 1}
