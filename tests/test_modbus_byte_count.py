"""A Modbus RTU answer as long as its read asks, with a right CRC, whose byte count is wrong.

The byte count is inside the CRC, so a device whose firmware writes it wrongly sends a frame
whose CRC holds: esphome/issues issue 2893 logs a device at unit 247 that answered a read of 5
registers with ``F7 03 4A ...`` (0x4A bytes where the read's answer holds 0x0A), the CRC
holding; yaacov/node-modbus-serial pull request 236 discusses a slave implementation that
fills the field with the register count, not the bytes. Such an answer is the device's, of the
read's length: counted ``length`` (the answer is not the read's: sensord_modbus_errors_total's
reason for a reply of the wrong length or count), never ``crc`` or a timeout, logged naming the
device, the count it sent and the one expected; its values are not read (the count that is
wrong says nothing of which bytes are right, and the esphome device's next answer, of the right
length, failed its CRC). The device answered: the next poll goes as ever and its sound answer
is read."""

from __future__ import annotations

import pytest
from harness.modbus import rtu_frame
from harness.pty import PtyPair
from structlog.testing import capture_logs
from test_modbus import device
from test_modbus_line import HandBus, read_reply, read_request

#: Unit 1's two registers (holding 0 and 1), read together: 4 bytes of values.
TWO = [
    {"name": "a", "table": "holding", "address": 0},
    {"name": "b", "table": "holding", "address": 1},
]


@pytest.mark.parametrize(
    ("count", "cut"),
    [
        (2, 0),  # the count in registers, not bytes (2 for 4 bytes), in one piece
        (2, 5),  # the same in two pieces, the first shorter than its count says
        (2, 7),  # cut where its own count ends it: no sound frame there, the rest to come
        (0x44, 0),  # a count with a bit set that should not be (0x04 | 0x40)
    ],
    ids=["registers", "registers-in-pieces", "registers-cut-at-its-count", "bit-set"],
)
def test_an_answer_whose_byte_count_is_wrong_is_length_not_crc(
    pty_pair: PtyPair, count: int, cut: int
) -> None:
    """Unit 1 answers its read of two registers with 9 bytes, its values 9 and 10, a right
    CRC, and byte count ``count`` (4 expected): the exchange ends at once, counted ``length``
    (before: no frame was found, the bytes were skipped noise and the read timed out), the
    values are not read, and one warning names the device, the count sent and the one
    expected. The next poll's answer, sound, is read."""
    hand = HandBus(pty_pair, device("m", "", 1, TWO, interval_s=1.0, timeout_s=0.3))
    answer = rtu_frame(bytes([1, 3, count, 0, 9, 0, 10]))
    assert len(answer) == len(read_reply(1, [9, 10]))
    try:
        with capture_logs() as logs:
            assert hand.tick(100.0) == read_request(1, 0, 2)
            pieces = [answer[:cut], answer[cut:]] if cut else [answer]
            for k, piece in enumerate(pieces):
                hand.receive(100.01 + k / 1000, piece, look=False)
            assert hand.bus.in_flight is None  # answered: no wait for the timeout
            counters = hand.counters("m")
            assert {k: n for k, n in counters.errors.items() if n} == {"length": 1}
            assert (counters.transactions, counters.timeouts) == (1, 0)
            assert hand.values("m") == {"a": None, "b": None}
            assert hand.runtimes["m"].bus_skipped_bytes == 0
            assert hand.tick(101.0) == read_request(1, 0, 2)
            hand.receive(101.01, read_reply(1, [11, 12]), look=False)
            assert hand.values("m") == {"a": (11.0, 11.0, 1), "b": (12.0, 12.0, 1)}
            assert {k: n for k, n in counters.errors.items() if n} == {"length": 1}
        told = [e for e in logs if e["event"] == "answer's byte count does not match its read"]
        assert [(e["sensor"], e["unit"], e["byte_count"], e["expected"]) for e in told] == [
            ("m", 1, count, 4)
        ]
    finally:
        hand.close()


def test_a_sound_short_answer_in_pieces_is_still_short() -> None:
    """The reply's own count of 2 bytes (one value where two were asked) with its CRC right
    for those: a sound frame that answers short, taken as such when its bytes end before the
    read's length (``DeviceReads.short``), not held for bytes that never come."""
    with PtyPair() as pair:
        hand = HandBus(pair, device("m", "", 1, TWO, interval_s=1.0, timeout_s=0.3))
        try:
            assert hand.tick(100.0) == read_request(1, 0, 2)
            short = read_reply(1, [9])
            hand.receive(100.01, short[:4], look=False)
            hand.receive(100.011, short[4:], look=False)
            assert hand.bus.in_flight is None
            counters = hand.counters("m")
            assert {k: n for k, n in counters.errors.items() if n} == {"length": 1}
            assert counters.timeouts == 0
        finally:
            hand.close()


#: Unit 1's coils 0 to 23, read together: 3 bytes of values, an answer of 8 bytes, as long as
#: the read's request (Modbus Application Protocol v1.1b3, 6.1: a request of function 01 is
#: 5 bytes of PDU, its response 2 bytes and one byte per 8 coils; RTU adds the unit id and CRC).
COILS = [{"name": f"c{k}", "table": "coil", "address": k, "type": "bool"} for k in range(24)]


def test_the_echo_of_a_read_as_long_as_its_answer_is_not_a_miscounted_answer(
    pty_pair: PtyPair,
) -> None:
    """On an adapter that echoes (``serial.local_echo`` off), the read of 24 coils comes back
    as sent: 8 bytes of unit 1 and function 01 with a right CRC and a third byte (the address's
    high byte, 0) that is not the answer's byte count (3). It is the request's echo, skipped,
    and the device's answer after it is read; no `length` error, no frame nobody asked for.
    (Before: the echo was cut as the answer with a wrong count, counted `length`, and the
    device's answer then counted `unasked`.)"""
    hand = HandBus(pty_pair, device("m", "", 1, COILS, interval_s=1.0, timeout_s=0.3))
    try:
        request = hand.tick(100.0)
        assert request == rtu_frame(bytes([1, 1, 0, 0, 0, 24]))
        hand.receive(100.005, request, look=False)
        assert hand.bus.in_flight is not None
        hand.receive(100.02, rtu_frame(bytes([1, 1, 3, 0x05, 0, 0x80])), look=False)
        counters = hand.counters("m")
        assert {k: n for k, n in counters.errors.items() if n} == {}
        assert (counters.transactions, counters.timeouts) == (1, 0)
        values = hand.values("m")
        assert [k for k in range(24) if values[f"c{k}"] == (1.0, 1.0, 1)] == [0, 2, 23]
    finally:
        hand.close()


@pytest.mark.parametrize("line", [b"\x00\x00", b"\x00\x00\x00"], ids=["two", "three"])
def test_a_sound_short_answer_with_the_line_s_zero_bytes_after_it_is_short(
    pty_pair: PtyPair, line: bytes
) -> None:
    """The sound answer of one register where two were asked (7 bytes), in one batch with the
    zero bytes a transceiver leaves as it releases the line (home-assistant/core issue 69742:
    three zero bytes from an RS-485 dongle): CRC-16/MODBUS stays 0 over zero bytes after a
    frame whose CRC holds, so its first 9 bytes, the read's length, have a CRC that holds too.
    It is the short answer it is (``DeviceReads.short``), not an answer whose byte count is
    wrong (before: taken as one, its count 2 where 4 was expected, and logged so)."""
    hand = HandBus(pty_pair, device("m", "", 1, TWO, interval_s=1.0, timeout_s=0.3))
    try:
        with capture_logs() as logs:
            assert hand.tick(100.0) == read_request(1, 0, 2)
            hand.receive(100.01, read_reply(1, [9]) + line, look=False)
            assert hand.bus.in_flight is None
            counters = hand.counters("m")
            assert {k: n for k, n in counters.errors.items() if n} == {"length": 1}
        events = [e["event"] for e in logs]
        assert "answer's byte count does not match its read" not in events
        assert list(hand.bus.devices["m"].short.values()) == [7]  # (split at the second)
    finally:
        hand.close()
