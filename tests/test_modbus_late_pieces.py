"""A late answer that comes in a USB adapter's pieces, while no exchange is in flight.

An FTDI adapter hands what the line carried over at its latency timer, 16 ms by default
(FTDI application note AN232B-04), a CH340 in its own packets: the pieces of one answer come
apart by far more than the line's 3.5-character silence. After a device's timeout, its late
answer may begin while no exchange is in flight; the bus holds the line for the rest of that
frame and the time an adapter holds it (``ARRIVAL_SLACK_S``, as the wait for an answer in
flight and ``sensord modbus read`` have it), so that the next request does not go out before
the late answer's last piece has come: RS-485 is half duplex, and that piece would collide
with the request, or be read inside the next exchange.
"""

from __future__ import annotations

from harness.pty import PtyPair
from test_modbus import device
from test_modbus_line import HandBus, read_reply, read_request

from sensord.modbus_timing import ARRIVAL_SLACK_S

ONE = [{"name": "v", "table": "holding", "address": 0}]


def test_the_next_request_waits_for_a_late_answer_s_last_piece(pty_pair: PtyPair) -> None:
    """At 9600 baud unit 1 does not answer within its 0.2 s timeout; 0.5 ms after it, its
    answer begins, and an FTDI adapter hands over 4 of its 7 bytes, the other 3 one latency
    timer (16 ms) later. Unit 2's read, due since the timeout, is not written while the rest
    may come (before: written 9 ms after the first piece, once the line's silence and the 3
    bytes' time had passed, and the last piece of unit 1's answer was lost in unit 2's
    exchange). The late answer is taken whole and counted ``late``; unit 2 is read once the
    line has been silent after its last byte."""
    hand = HandBus(
        pty_pair,
        device("a", "", 1, ONE, interval_s=1.0, timeout_s=0.2),
        device("b", "", 2, ONE, interval_s=1.0, timeout_s=0.2),
    )
    try:
        assert hand.tick(100.0) == read_request(1, 0, 1)
        assert hand.tick(100.209) == b""  # unit 1's timeout (8 bytes' request, then 0.2 s)
        assert hand.bus.in_flight is None
        late = read_reply(1, [7])
        hand.receive(100.2095, late[:4], look=False)
        # the line's silence and the rest's 3 characters have passed, not the adapter's timer
        assert hand.tick(100.2185) == b""
        assert hand.tick(100.2245) == b""  # nor just before the adapter's next piece
        hand.receive(100.2255, late[4:], look=False)
        assert hand.counters("a").errors["late"] == 1
        # the answer whole, the line is quiet after its last byte as after any frame, not
        # for the rest of the adapter's allowance
        assert hand.tick(100.2255 + hand.bus.silence_s + 0.0001) == read_request(2, 0, 1)
        assert 100.2255 + hand.bus.silence_s < 100.2095 + ARRIVAL_SLACK_S
        hand.receive(100.24, read_reply(2, [5]), look=False)
        assert hand.values("b") == {"v": (5.0, 5.0, 1)}
        for name in "ab":
            counters = hand.counters(name)
            assert counters.errors["crc"] == counters.errors["unasked"] == 0
        assert hand.runtimes["b"].bus_skipped_bytes == 0
    finally:
        hand.close()
