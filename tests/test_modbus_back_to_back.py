"""Two RTU frames back to back: where the first one ends is known (its function code and byte
count give its length, and its CRC holds there), and the second is read from there, as a
frame after the line's silence is.

An FTDI adapter hands over what the line carried when its latency timer runs out (16 ms by
default; FTDI AN232B-04, "Adjusting the Receive Buffer Latency Timer"): two frames a silence
apart, a late answer of one unit and the answer of the unit asked after it, come in one
read, and the rest of the second one a timer later (pymodbus-dev/pymodbus#880, "Data is sent
in batches every 16 ms"). The bus takes the first out by its CRC; the second begins right
after it, with no silence the host could see between them.
"""

from __future__ import annotations

import itertools

import pytest
from harness.modbus import rtu_frame
from harness.pty import PtyPair
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs
from test_modbus import device
from test_modbus_late_pieces import ONE, two_units, two_units_on_a_pty, unit_1_timed_out
from test_modbus_line import HandBus, read_reply, read_request

from sensord.modbus_timing import ARRIVAL_SLACK_S, PIECE_MARGIN_S


def test_an_answer_begun_right_after_a_late_answer_in_one_piece_is_read_whole(
    pty_pair: PtyPair,
) -> None:
    """Unit 1 does not answer within its 0.2 s timeout; unit 2 is asked. Unit 1's answer
    comes 0.2 s late, and unit 2's answer right after it: the adapter hands unit 1's answer
    and the first 4 bytes of unit 2's over in one piece 8 ms before unit 2's timeout, the
    other 3 bytes one latency timer (16 ms) later, past the timeout. Unit 1's answer is
    counted ``late``; unit 2's is read whole, not timed out. (Before: the start of unit 2's
    answer, which followed no silence, was not taken for a reply begun, its exchange timed
    out at its timeout and its last bytes were skipped.)"""
    hand = two_units(pty_pair)
    try:
        bus = hand.bus
        unit_1_timed_out(hand)
        asked = 100.215
        assert hand.tick(asked) == read_request(2, 0, 1)
        timeout = asked + bus.request_wire_s + 0.2
        late, answer = read_reply(1, [7]), read_reply(2, [5])
        hand.receive(timeout - 0.008, late + answer[:4], look=False)
        assert hand.counters("a").errors["late"] == 1
        assert hand.tick(timeout + 0.001) == b""
        assert bus.in_flight is not None  # the rest of unit 2's answer is awaited
        hand.receive(timeout + 0.008, answer[4:], look=False)
        assert bus.in_flight is None
        assert hand.values("b") == {"v": (5.0, 5.0, 1)}
        counters = hand.counters("b")
        assert (counters.transactions, counters.timeouts) == (1, 0)
        assert counters.errors == dict.fromkeys(counters.errors, 0)
        assert hand.runtimes["b"].bus_skipped_bytes == 0
    finally:
        hand.close()


def test_a_frame_begun_right_after_an_answer_holds_the_next_request_for_its_rest(
    pty_pair: PtyPair,
) -> None:
    """Another master on the line reads unit 9 (no device of the bus): unit 9's answer follows
    unit 1's answer a silence after it, and the adapter hands unit 1's answer and the first 4
    of unit 9's 9 bytes over in one piece, the other 5 one latency timer (16 ms) later. Unit
    1's answer is read; unit 2's read, due at once, is not written before the rest of unit
    9's frame came and the line has been silent after it: RS-485 is half duplex, and the
    request would collide with it. (Before: unit 2's read went out the line's silence after
    unit 1's answer, 12 ms before unit 9's last bytes.)"""
    hand = two_units(pty_pair)
    try:
        bus = hand.bus
        assert hand.tick(100.0) == read_request(1, 0, 1)
        stray = read_reply(9, [0x1234, 0x5678])
        hand.receive(100.02, read_reply(1, [3]) + stray[:4], look=False)
        assert hand.values("a") == {"v": (3.0, 3.0, 1)}
        last = 100.02 + 0.016
        assert hand.tick(100.02 + bus.silence_s + 0.0005) == b""
        assert hand.tick(last - 0.001) == b""
        hand.receive(last, stray[4:], look=False)
        assert hand.tick(last + bus.silence_s + 0.0005) == read_request(2, 0, 1)
        hand.receive(last + 0.02, read_reply(2, [4]), look=False)
        assert hand.values("b") == {"v": (4.0, 4.0, 1)}
        for name in "ab":
            counters = hand.counters(name)
            assert counters.timeouts == counters.errors["crc"] == 0
        assert hand.runtimes["b"].bus_skipped_bytes == 0
    finally:
        hand.close()


def test_a_late_answer_s_spacing_is_learnt_when_a_frame_follows_it_in_its_last_piece(
    pty_pair: PtyPair,
) -> None:
    """Unit 1's late answer comes in two pieces 64 ms apart while no exchange is in flight,
    and its last piece holds the first 4 bytes of another master's frame after it (unit 9's
    answer), which is cut off there (that master's unit lost power). The late answer is whole
    at its last piece, and its spacing (less the 3 bytes' time on the wire) is learnt then:
    the wait for a frame's rest is raised and logged. (Before: the spacing went with the
    frame begun after it, learnt only if that one came whole: never here.)"""
    hand = two_units(pty_pair)
    try:
        bus = hand.bus
        unit_1_timed_out(hand)
        late = read_reply(1, [7])
        hand.receive(100.2095, late[:4], look=False)
        with capture_logs() as logs:
            hand.receive(100.2735, late[4:] + read_reply(9, [1, 2])[:4], look=False)
        assert hand.counters("a").errors["late"] == 1
        assert [e["pieces_apart_ms"] for e in logs if e["event"].startswith("frames come")] == [
            60.9
        ]
        assert abs(bus.piece_slack_s - (0.064 - 3 * bus.char_s + PIECE_MARGIN_S)) < 1e-9
    finally:
        hand.close()


def test_an_answer_whole_after_a_fragment_that_began_like_it_teaches_no_spacing(
    pty_pair: PtyPair,
) -> None:
    """A BMS read at unit 0 (``broadcast_reads``; libmodbus issue 153: every device that
    answers such reads answers each): unit 3's answer begins and is cut off after 4 bytes
    (the two answers collide, and the rest of unit 3's is lost), and unit 1's answer comes
    whole in one piece 100 ms later. The answer is read; the time between the fragment and
    it is no spacing between one frame's pieces, and the wait for a frame's rest stays the
    adapter's 50 ms. (Before: the gap from the fragment to the answer, less the answer's
    time on the wire, raised the wait to 97 ms, logged as frames in pieces.)"""
    one = [{"name": "v", "table": "holding", "address": 0}]
    bms = device("bms", "", 0, one, interval_s=1.0, timeout_s=0.3, broadcast_reads=True)
    hand = HandBus(pty_pair, bms)
    try:
        with capture_logs() as logs:
            assert hand.tick(100.0) == read_request(0, 0, 1)
            hand.receive(100.02, read_reply(3, [3000])[:4], look=False)
            assert hand.bus.in_flight is not None
            hand.receive(100.12, read_reply(1, [1000]), look=False)
        assert hand.values("bms")["v"] == (1000.0, 1000.0, 1)
        assert hand.bus.piece_slack_s == ARRIVAL_SLACK_S
        assert not [e for e in logs if e["event"].startswith("frames come")]
    finally:
        hand.close()


#: Unit 1's four registers of the late answer in ``BACK_TO_BACK`` that holds a frame: the
#: bytes of a whole RTU frame of unit 0x42, CRC and all (a gateway's register buffer of the
#: last frame it passed on, say; any register data holds such a run once in 65536 places)
INNER_FRAME = read_reply(0x42, [1]) + b"\x00"
FOUR_WORDS = [int.from_bytes(INNER_FRAME[at : at + 2], "big") for at in range(0, 8, 2)]
FOUR = [{"name": f"r{i}", "table": "holding", "address": i} for i in range(4)]

#: The frames that come back to back on a line, each sound, in the order the line carries
#: them, where the second one begins, and which device's exchange the second one answers:
#: "b", unit 2's read in flight; None, the second frame comes after the answer to the read in
#: flight, when no exchange is; "late", the frames come when no exchange is in flight.
BACK_TO_BACK = {
    # unit 1's answer 0.2 s late, then unit 2's (pymodbus-dev/pymodbus#2636: "Request 2:
    # Response 1")
    "late then awaited": (read_reply(1, [7]) + read_reply(2, [5]), 7, "b"),
    # the same, unit 1's late answer of four registers holding a whole frame of unit 0x42
    "late holding a frame then awaited": (read_reply(1, FOUR_WORDS) + read_reply(2, [5]), 13, "b"),
    # the echo of unit 2's read on an adapter that hears its own transmission, then its answer
    # (stephane/libmodbus#14; the echo dropped as such, ``sensord.bus_echo``)
    "echo then answer": (read_request(2, 0, 1) + read_reply(2, [5]), 8, "b"),
    # unit 1's answer, then another master's read of unit 9 answered (tests above), whose
    # address the bus heard before
    "answer then stray": (read_reply(1, [3]) + read_reply(9, [0x1234, 0x5678]), 7, None),
    # unit 1's answer 0.2 s late, begun right after its timeout, before unit 2 is asked
    # (a first piece of its unit id alone: ljean/modbus-tk#171, yaacov/node-modbus-serial#277)
    "late before the next read": (read_reply(1, [7]), 7, "late"),
    # a read at unit 0 (``broadcast_reads``, a Seplos BMS) answered by unit 1, then by unit 3
    # too: every device that answers reads at the broadcast address answers each
    # (stephane/libmodbus#153), one right after the other
    "unit 0 read, two answers": (read_reply(1, [3]) + read_reply(3, [9]), 7, None),
    # the same, the second answer a gateway's for unit 0 (unit id 0: a Modbus TCP to RTU
    # gateway that answers for the address it was asked, as ``StrayFrames.second_answer`` takes)
    "unit 0 read, a second answer as unit 0": (read_reply(1, [3]) + read_reply(0, [9]), 7, None),
}


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    scenario=st.sampled_from(sorted(BACK_TO_BACK)),
    cuts=st.lists(st.integers(1, 19), max_size=3, unique=True),
)
def test_sound_frames_back_to_back_are_read_at_every_split(scenario: str, cuts: list[int]) -> None:
    """Sound frames back to back, handed over in pieces an FTDI latency timer (16 ms) apart
    cut at any byte boundaries (an adapter hands over what its timer gathered, AN232B-04;
    pymodbus-dev/pymodbus#880): every sound frame is read, the answer awaited taken with its
    value even when its last piece comes 8 ms past its timeout (its first bytes came in
    time), no error and no timeout of it counted (but ``unit`` for a unit-0 read's second
    answer), and the wait for a frame's rest stays the adapter's (pieces 16 ms apart are
    within it). While the frame begun right after an answer in one piece, a late answer begun
    after the line's silence, or a unit-0 read's second answer has its rest to come, no
    request goes out a silence after a piece: the frame's rest is on the line (its first byte
    alone holds the line for the shortest frame). A late answer whose registers hold a whole
    frame is read whole, the frame inside it not taken out (fails before with a cut at 10 to
    12, after the inner frame and before the answer's end: unit 0x42's frame counted
    ``unit`` in unit 2's exchange, unit 1's late answer lost)."""
    back_to_back(scenario, cuts)


@pytest.mark.parametrize("scenario", ["late then awaited", "late holding a frame then awaited"])
def test_a_late_answer_then_the_awaited_one_are_read_at_every_cut(scenario: str) -> None:
    """The property's late answers followed by the awaited one, cut once at every byte
    boundary, and twice at every pair of boundaries 3 apart (the late answer's head, the
    frame inside it, the awaited answer's head) (fails before for the late answer holding a
    frame, cut at 10, 11 or 12)."""
    size = len(BACK_TO_BACK[scenario][0])
    for cut in range(1, size):
        back_to_back(scenario, [cut])
    for cut in range(1, size - 3):
        back_to_back(scenario, [cut, cut + 3])


def back_to_back(scenario: str, cuts: list[int]) -> None:
    """:func:`test_sound_frames_back_to_back_are_read_at_every_split` of ``scenario``'s frames
    cut at ``cuts``."""
    data, first, answering = BACK_TO_BACK[scenario]
    bounds = [0, *sorted(c for c in cuts if c < len(data)), len(data)]
    pieces = [data[a:b] for a, b in itertools.pairwise(bounds)]
    between = answering == "late"
    broadcast = scenario.startswith("unit 0")
    four = "holding a frame" in scenario
    if between:
        answering, first = None, 0
    with PtyPair() as pty:
        hand = (
            HandBus(
                pty,
                device("a", "", 0, ONE, interval_s=1.0, timeout_s=0.2, broadcast_reads=True),
                device("b", "", 2, ONE, interval_s=1.0, timeout_s=0.2),
            )
            if broadcast
            else HandBus(
                pty,
                device("a", "", 1, FOUR, interval_s=1.0, timeout_s=0.2),
                device("b", "", 2, ONE, interval_s=1.0, timeout_s=0.2),
            )
            if four
            else two_units(pty)
        )
        try:
            bus = hand.bus
            if between:
                unit_1_timed_out(hand)
                last_at = 100.2095 + 0.016 * (len(pieces) - 1)
            elif answering is None:
                if scenario == "answer then stray":  # the other master's last read of unit 9
                    hand.receive(99.0, read_reply(9, [0x1234, 0x5677]), look=False)
                asked = 100.0
                assert hand.tick(asked) == read_request(0 if broadcast else 1, 0, 1)
                last_at = asked + 0.1
            else:
                assert hand.tick(100.0) == read_request(1, 0, 4 if four else 1)
                assert hand.tick(100.209) == b""  # unit 1's timeout
                asked = 100.215
                assert hand.tick(asked) == read_request(2, 0, 1)
                timeout = asked + bus.request_wire_s + 0.2
                # the last piece past the timeout when the answer began in an earlier one
                last_at = timeout + (0.008 if bounds[-2] > first else -0.008)
            at = last_at - 0.016 * (len(pieces) - 1)
            # the first piece of the second frame begins right after the first one
            second_from = max(b for b in bounds if b <= first)
            for end, piece in zip(bounds[1:], pieces, strict=True):
                hand.receive(at, piece, look=False)
                held = between or second_from < first < end or (broadcast and first < end)
                if answering is None and end < len(data) and held:
                    # (a frame of a unit of the bus or one a unit-0 read's answer may come
                    # from, begun after a silence; one begun right after a sound frame in the
                    # same piece)
                    assert hand.tick(at + bus.silence_s + 0.0005) == b"", (end, first)
                at += 0.016
            if answering is None:
                if not between:
                    assert hand.values("a") == {"v": (3.0, 3.0, 1)}
                silent = last_at + bus.silence_s + 0.0005
                assert hand.tick(silent) == read_request(2, 0, 1)
                hand.receive(silent + 0.02, read_reply(2, [5]), look=False)
            assert bus.in_flight is None
            assert hand.values("b") == {"v": (5.0, 5.0, 1)}
            late = hand.counters("a").errors["late"]
            assert late == (1 if scenario.startswith("late") else 0)
            for name in "ab":
                counters = hand.counters(name)
                # (unit 1 timed out before unit 2 was asked)
                timeouts = 1 if name == "a" and (answering or between) else 0
                assert counters.timeouts == timeouts, (name, counters.timeouts)
                errors = {k: v for k, v in counters.errors.items() if v and k != "late"}
                # (the second answer to a read at unit 0 is counted ``unit``)
                assert errors == ({"unit": 1} if broadcast and name == "a" else {}), (
                    name,
                    errors,
                )
                # (an echo is skipped bytes until ``serial.local_echo`` is set, as its
                # warning says)
                skipped = 8 if name == "b" and scenario == "echo then answer" else 0
                assert hand.runtimes[name].bus_skipped_bytes == skipped
            assert bus.piece_slack_s == ARRIVAL_SLACK_S
        finally:
            hand.close()


def test_a_byte_after_an_answer_holds_the_next_request_when_it_is_an_address_of_the_line(
    pty_pair: PtyPair,
) -> None:
    """After unit 1's answer, in the same piece, one byte alone: a 00 of the transceiver's
    direction turnaround (stephane/libmodbus#14, "some (1 or 2 for now) byte containing zero
    value") begins no frame, and unit 2's read goes a silence after the piece; so does an E1
    of noise (4-20ma/ModbusMaster#98, "Invalid Slave 0xE1"), no unit id of the bus nor one
    the line carried before. Unit 2's id, or E1 once another master's frame of unit 225 was
    heard, may begin a frame whose rest the adapter hands over at its next tick: the read
    waits for the rest of the shortest frame (3 bytes) and the adapter's 50 ms, no longer, and
    goes then."""
    cases = (
        (b"\x00", False, 0.0),
        (b"\xe1", False, 0.0),
        (b"\x02", False, ARRIVAL_SLACK_S),
        (b"\xe1", True, ARRIVAL_SLACK_S),
    )
    for glitch, heard, held_s in cases:
        with two_units_on_a_pty() as hand:
            bus = hand.bus
            if heard:  # another master's read of unit 225 answered
                hand.receive(99.0, read_reply(0xE1, [1]), look=False)
            assert hand.tick(100.0) == read_request(1, 0, 1)
            hand.receive(100.02, read_reply(1, [3]) + glitch, look=False)
            assert hand.values("a") == {"v": (3.0, 3.0, 1)}
            free = 100.02 + bus.silence_s + (3 * bus.char_s if held_s else 0.0) + held_s
            assert hand.tick(free - 0.0005) == b"", (glitch, heard)
            assert hand.tick(free + 0.0005) == read_request(2, 0, 1), (glitch, heard)


def test_a_frame_s_first_bytes_alone_after_a_silence_hold_the_next_request_for_its_rest(
    pty_pair: PtyPair,
) -> None:
    """Unit 1 does not answer within its 0.2 s timeout; its answer begins 0.5 ms after it, and
    a read brings its first byte alone, or its unit id and function code (a read returns
    what the port holds when it is woken: one byte of a frame, yaacov/node-modbus-serial#277;
    "periodically ... interprets the first byte (slave id) as a complete packet",
    ljean/modbus-tk#171), the rest one FTDI latency timer (16 ms) later. Unit 2's read, due,
    waits for the rest: its first bytes, a unit id of the bus and a function code it uses,
    begin a frame whose shortest rest and the adapter's 50 ms hold the line, then its length.
    The late answer is counted ``late``, unit 2's read goes a silence after it and is read.
    (Before: unit 2's read went a silence after the first piece, into unit 1's answer.)"""
    for cut in (1, 2):
        with two_units_on_a_pty() as hand:
            bus = hand.bus
            unit_1_timed_out(hand)
            late = read_reply(1, [7])
            first = 100.2095
            hand.receive(first, late[:cut], look=False)
            assert hand.tick(first + bus.silence_s + 0.0005) == b"", cut
            assert hand.tick(first + 0.015) == b"", cut
            hand.receive(first + 0.016, late[cut:], look=False)
            assert hand.counters("a").errors["late"] == 1
            silent = first + 0.016 + bus.silence_s
            assert hand.tick(silent - 0.0005) == b"", cut
            assert hand.tick(silent + 0.0005) == read_request(2, 0, 1), cut
            hand.receive(silent + 0.02, read_reply(2, [5]), look=False)
            assert hand.values("b") == {"v": (5.0, 5.0, 1)}
            counters = hand.counters("b")
            assert (counters.transactions, counters.timeouts) == (1, 0)
            assert counters.errors == dict.fromkeys(counters.errors, 0)


def test_a_lone_byte_after_a_silence_holds_the_next_request_no_longer_than_it_must(
    pty_pair: PtyPair,
) -> None:
    """After unit 1's timeout, one byte comes alone and nothing after it. A byte that is no
    unit id of the bus nor one the line carried before (E1 of noise, 4-20ma/ModbusMaster#98 "Invalid Slave 0xE1"; a 00 or FF
    of a transceiver's turnaround, stephane/libmodbus#14) begins no frame of the line: unit
    2's read goes a silence after it. Unit 1's id alone (its answer cut off after its first
    byte: the unit lost power) holds the read for the rest of the shortest frame (3 bytes)
    and the adapter's 50 ms, no longer."""
    for lone, held_s in ((b"\xe1", 0.0), (b"\x00", 0.0), (b"\xff", 0.0), (b"\x01", 0.05)):
        with two_units_on_a_pty() as hand:
            bus = hand.bus
            assert bus.piece_slack_s == ARRIVAL_SLACK_S
            unit_1_timed_out(hand)
            hand.receive(100.2095, lone, look=False)
            free = 100.2095 + bus.silence_s + (3 * bus.char_s + held_s if held_s else 0.0)
            assert hand.tick(free - 0.0005) == b"", lone
            assert hand.tick(free + 0.0005) == read_request(2, 0, 1), lone


def test_a_byte_in_the_read_after_an_answer_holds_when_it_can_begin_a_frame_of_the_line(
    pty_pair: PtyPair,
) -> None:
    """Unit 1's answer comes in two pieces 16 ms apart (FTDI AN232B-04), the second ending a
    read; the next read, 1 ms later (before the line's silence after the answer is over),
    brings one byte alone, begun where the answer ended. E1 of noise (4-20ma/ModbusMaster#98)
    and a 00 of a turnaround (stephane/libmodbus#14) begin no frame of the line and hold unit
    2's read no longer than the silence after them; unit 2's id (a frame of a unit of the
    bus) holds it for the rest of the shortest frame and the adapter's 50 ms."""
    for lone, held_s in ((b"\xe1", 0.0), (b"\x00", 0.0), (b"\x02", ARRIVAL_SLACK_S)):
        with two_units_on_a_pty() as hand:
            bus = hand.bus
            assert hand.tick(100.0) == read_request(1, 0, 1)
            answer = read_reply(1, [3])
            hand.receive(100.02, answer[:4], look=False)
            hand.receive(100.036, answer[4:], look=False)
            assert hand.values("a") == {"v": (3.0, 3.0, 1)}
            hand.receive(100.037, lone, look=False)
            free = 100.037 + bus.silence_s + (3 * bus.char_s + held_s if held_s else 0.0)
            assert hand.tick(free - 0.0005) == b"", lone
            assert hand.tick(free + 0.0005) == read_request(2, 0, 1), lone


def test_noise_like_a_frame_s_first_bytes_holds_the_bus_once_for_the_shortest_frame(
    pty_pair: PtyPair,
) -> None:
    """After unit 1's timeout, two bytes of noise come alone and nothing after them: 01 03,
    unit 1's id and the function code its reads use (an unbiased line's glitch,
    4-20ma/ModbusMaster#98, can be any byte). They begin a frame of the line, so unit 2's
    read, due, waits for the rest of the shortest frame (2 bytes) and the adapter's 50 ms,
    no longer: it goes then, is answered and read, and its next poll goes at its interval
    from the first, not from the hold. The noise is counted as skipped bytes of unit 1, the
    device asked last."""
    hand = two_units(pty_pair)
    try:
        bus = hand.bus
        unit_1_timed_out(hand)
        hand.receive(100.2095, b"\x01\x03", look=False)
        free = 100.2095 + bus.silence_s + 2 * bus.char_s + ARRIVAL_SLACK_S
        assert hand.tick(free - 0.0005) == b""
        assert hand.tick(free + 0.0005) == read_request(2, 0, 1)
        hand.receive(free + 0.02, read_reply(2, [5]), look=False)
        assert hand.values("b") == {"v": (5.0, 5.0, 1)}
        assert hand.runtimes["a"].bus_skipped_bytes == 2
        # unit 2's next poll: at its interval from when it was due, which the hold did not move
        assert hand.tick(100.999) == b""
        assert hand.tick(101.0) == read_request(2, 0, 1)
    finally:
        hand.close()


def test_a_frame_inside_a_late_answer_in_pieces_adds_no_address_of_the_line(
    pty_pair: PtyPair,
) -> None:
    """Unit 1's four registers hold the bytes of a whole RTU frame of unit 0x42 (a gateway's
    register buffer of the last frame it passed on, say: any register data holds such a run,
    its CRC and all, once in 65536 places). Its answer comes after its timeout, in two pieces
    16 ms apart (FTDI AN232B-04), the first ending after the inner frame's last byte: the
    framing, with no reply awaited, takes the inner frame out of the answer begun. 0x42 is no
    address the line carries: a lone 42 of noise after the line's silence later holds unit
    2's read no longer than the silence, as an E1 does (4-20ma/ModbusMaster#98). (Fails when
    every sound frame's unit id is heard: unit 2's read waited for the rest of the shortest
    frame and the adapter's 50 ms.)"""
    inner = read_reply(0x42, [1]) + b"\x00"
    words = [int.from_bytes(inner[at : at + 2], "big") for at in range(0, 8, 2)]
    four = [{"name": f"r{i}", "table": "holding", "address": i} for i in range(4)]
    hand = HandBus(
        pty_pair,
        device("a", "", 1, four, interval_s=1.0, timeout_s=0.2),
        device("b", "", 2, ONE, interval_s=1.0, timeout_s=0.2),
    )
    try:
        bus = hand.bus
        assert hand.tick(100.0) == read_request(1, 0, 4)
        assert hand.tick(100.209) == b""  # unit 1's timeout
        late = read_reply(1, words)
        hand.receive(100.2095, late[:11], look=False)
        hand.receive(100.2255, late[11:], look=False)
        assert hand.tick(100.2255 + bus.silence_s + 0.06) == read_request(2, 0, 1)
        hand.receive(100.31, read_reply(2, [5]), look=False)
        assert hand.values("b") == {"v": (5.0, 5.0, 1)}
        # the polls due at 101: a lone 42 just before holds them for the silence after it
        assert hand.tick(100.998) == b""
        hand.receive(100.999, b"\x42", look=False)
        free = 100.999 + bus.silence_s
        assert hand.tick(free - 0.0005) == b""
        assert hand.tick(free + 0.0005) in {read_request(1, 0, 4), read_request(2, 0, 1)}
    finally:
        hand.close()


def _write_request(unit: int, words: list[int]) -> bytes:
    """Another master's write of ``words`` to ``unit``'s holding registers from 0x10
    (function 16: address, count, byte count, values)."""
    data = b"".join(w.to_bytes(2, "big") for w in words)
    return rtu_frame(bytes([unit, 16, 0, 0x10, 0, len(words), len(data)]) + data)


@pytest.mark.parametrize(
    "request_",
    [
        # a read of unit 9's registers 0x10-0x11: an answer of its first five bytes (byte
        # count 00) is whole
        read_request(9, 0x10, 2),
        # a write of 20 registers to unit 9, and to unit 1 of the bus (which sensord only
        # reads): an answer of their first bytes is 8 bytes, the request 49
        _write_request(9, list(range(20))),
        _write_request(1, list(range(20))),
    ],
)
def test_another_master_s_request_begun_right_after_an_answer_holds_for_its_whole_length(
    pty_pair: PtyPair, request_: bytes
) -> None:
    """Two masters on one line (eModbus/eModbus#336's capture: another master's requests a
    silence after the answers of sensord's reads): after unit 1's answer, another master's
    request begins a silence later, and an FTDI adapter hands it over in pieces of what the
    line carried in each 16 ms of its latency timer (15 bytes at 9600 baud, AN232B-04), the
    first glued to unit 1's answer. Right after a sound frame a frame begins, whatever unit
    id and function it carries (Modbus over Serial Line V1.02 §2.5.1.1: frames a silence
    apart, each sent whole): unit 2's read, due at once, waits for the request's whole
    length, a request's as much as an answer's, and goes once the line has been silent after
    its last byte. (Before: the read's first five bytes, an answer's whole length, held
    nothing, nor did the write's first 20, past an answer's 8, and unit 2's read went into
    the request.)"""
    hand = two_units(pty_pair)
    try:
        bus = hand.bus
        assert hand.tick(100.0) == read_request(1, 0, 1)
        pieces = [request_[:5]] + [request_[at : at + 15] for at in range(5, len(request_), 15)]
        at = 100.02
        hand.receive(at, read_reply(1, [3]) + pieces[0], look=False)
        assert hand.values("a") == {"v": (3.0, 3.0, 1)}
        for piece in pieces[1:]:
            assert hand.tick(at + 0.015) == b"", pieces.index(piece)
            at += 0.016
            hand.receive(at, piece, look=False)
        assert hand.tick(at + bus.silence_s + 0.0005) == read_request(2, 0, 1)
        hand.receive(at + 0.02, read_reply(2, [4]), look=False)
        assert hand.values("b") == {"v": (4.0, 4.0, 1)}
        for name in "ab":
            counters = hand.counters(name)
            assert counters.timeouts == counters.errors["crc"] == 0
    finally:
        hand.close()
