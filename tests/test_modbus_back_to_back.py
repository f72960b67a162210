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

from harness.pty import PtyPair
from structlog.testing import capture_logs
from test_modbus import device
from test_modbus_late_pieces import two_units
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
        assert hand.tick(100.0) == read_request(1, 0, 1)
        assert hand.tick(100.209) == b""  # unit 1's timeout
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
        assert hand.tick(100.0) == read_request(1, 0, 1)
        assert hand.tick(100.209) == b""
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
