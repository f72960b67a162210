"""The first write of function 15 or 16 on an RTU line not yet known to echo.

An adapter without echo suppression (a cheap RS-485 adapter with ``serial.local_echo`` off, a
two-wire line that hears itself) sends each request back as sent. A write of function 15 or
16 is answered with its request's first 6 bytes and a CRC of their own (Modbus Application
Protocol v1.1b3, 6.11 and 6.12), so its echo begins as the answer does, and its first 8 bytes
are as long as the answer, their CRC wrong. On a port just opened, before any read showed the
echo, those bytes are the request's own (the bus knows what it wrote: ``LineEcho.read_echo``),
counted as the skipped bytes an echo is, not as a spoilt answer (``crc``, the device's
fault): the device that answers after them is read, one that answers nothing times out with
the echo named. An FTDI adapter hands the bytes over at its 16 ms latency timer, so the echo
may come in two pieces either side of the answer's length.
"""

from __future__ import annotations

import pytest
from harness.modbus import rtu_frame
from harness.pty import PtyPair
from test_local_echo import echo_table
from test_modbus_line import HandBus

#: unit 2's set-up: holding 54 = 7 (function 16), coil 54 on (function 15)
SETUPS = {
    16: [{"table": "holding", "address": 54, "value": 7, "function": 16}],
    15: [{"table": "coil", "address": 54, "value": 1, "function": 15}],
}


@pytest.mark.parametrize("function", [15, 16])
@pytest.mark.parametrize("cut", [0, 8, 4], ids=["whole", "at-8", "at-4"])
def test_the_first_write_s_echo_alone_is_its_request_not_a_spoilt_answer(
    pty_pair: PtyPair, function: int, cut: int
) -> None:
    """The write is the first request after the open; its echo alone comes back (whole, or
    in two pieces 16 ms apart cut at the answer's length or before it), and the device
    answers nothing: the write times out, its echo's bytes skipped, and no ``crc`` is counted (before: ``crc`` 1 and no timeout once the line
    fell silent after the echo's first 8 bytes)."""
    hand = HandBus(pty_pair, echo_table("", 2, "w", setup=SETUPS[function], timeout_s=0.2))
    try:
        write = hand.tick(100.0)
        assert write[:2] == bytes([2, function])
        pieces = [write[:cut], write[cut:]] if cut else [write]
        for k, piece in enumerate(pieces):
            hand.receive(100.005 + k * 0.016, piece, look=False)
            hand.tick(100.005 + k * 0.016 + 0.01)  # the line's silence after each piece
        assert hand.bus.in_flight is not None
        hand.tick(100.3)
        counters = hand.counters("w")
        assert {k: n for k, n in counters.errors.items() if n} == {}
        assert (counters.transactions, counters.timeouts) == (0, 1)
        assert hand.runtimes["w"].snapshot().skipped_bytes == len(write)
    finally:
        hand.close()


@pytest.mark.parametrize("function", [15, 16])
def test_the_first_write_answered_after_its_echo_in_pieces_is_taken(
    pty_pair: PtyPair, function: int
) -> None:
    """The same echo in two pieces cut at the answer's length, and the device's answer 30 ms
    after the request: the write is answered, nothing counted but the echo's skipped bytes."""
    hand = HandBus(pty_pair, echo_table("", 2, "w", setup=SETUPS[function], timeout_s=0.2))
    try:
        write = hand.tick(100.0)
        hand.receive(100.005, write[:8], look=False)
        hand.tick(100.015)
        hand.receive(100.021, write[8:], look=False)
        hand.tick(100.028)
        hand.receive(100.03, rtu_frame(write[:6]), look=False)
        assert hand.bus.in_flight is None
        counters = hand.counters("w")
        assert {k: n for k, n in counters.errors.items() if n} == {}
        assert (counters.transactions, counters.timeouts) == (1, 0)
        assert hand.runtimes["w"].snapshot().skipped_bytes == len(write)
    finally:
        hand.close()
