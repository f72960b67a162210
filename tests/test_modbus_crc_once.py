"""An RTU answer's CRC is computed once: by the bus's first look at a piece that is the answer
whole (``Request.answers``), or by the link that takes it out of pieces (``ModbusLink.feed``),
whose mark tells a CRC sent high byte first (``ModbusLink.swapped_frame``); the bus does not
compute it again over the frame the link took out. A damaged answer is still ``crc``, and a
device whose firmware swaps its CRC's bytes is still read.

An FTDI adapter hands an answer over in pieces cut anywhere (what its latency timer gathered,
FTDI AN232B-04; pymodbus-dev/pymodbus#880); the CRC high byte first is a Marstek Venus E's
(evcc-io/evcc#18653) and a UUMotor SVD48V's (stephane/libmodbus#812).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from harness.calls import calls_of
from harness.pty import PtyPair
from harness.replay import counts, replay_counts
from test_modbus import device
from test_modbus_line import HandBus, read_reply, read_request

from sensord.formats.crc import crc16_modbus
from sensord.formats.modbus import crc16
from sensord.formats.modbus_pymodbus import pymodbus_parts

FOUR = [{"name": f"r{i}", "table": "holding", "address": i} for i in range(4)]
WORDS = [1000, 2000, 3000, 4000]


def swapped(frame: bytes) -> bytes:
    """``frame`` with its CRC high byte first."""
    return frame[:-2] + crc16(frame[:-2]).to_bytes(2, "big")


def polls(hand: HandBus, answer: bytes) -> Iterator[tuple[int, list[int]]]:
    """Unit 1 read once a second, its ``answer`` handed over whole and then cut at each byte
    in two pieces 16 ms apart, the line silent 64 ms after the last: ``(cut, the CRCs
    computed while its pieces were read)``, cut 0 for the answer whole."""
    at = 100.0
    for cut in range(len(answer)):
        assert hand.tick(at) == read_request(1, 0, 4), cut
        pieces = [answer[:cut], answer[cut:]] if cut else [answer]
        with calls_of(crc16_modbus, pymodbus_parts().framer_rtu.compute_CRC) as count:
            for k, piece in enumerate(pieces):
                hand.receive(at + 0.02 + 0.016 * k, piece, look=False)
        # the line's silence after the answer: a spoilt one ends its exchange as ``crc``
        assert hand.tick(at + 0.1) == b"", cut
        yield cut, count
        at += 1.0


def test_an_answer_s_crc_is_computed_once_whole_or_in_pieces(pty_pair: PtyPair) -> None:
    """A sound answer, whole in one piece or cut at any byte: read, its CRC computed once.
    (Fails on the bus that checked again the CRC of an answer the link took out of pieces:
    2 == 1 at every cut.)"""
    hand = HandBus(pty_pair, device("a", "", 1, FOUR, interval_s=1.0, timeout_s=0.2))
    try:
        answer = read_reply(1, WORDS)
        for cut, count in polls(hand, answer):
            assert count == [1], cut
            assert hand.bus.in_flight is None, cut
        counters = hand.counters("a")
        assert (counters.transactions, counters.timeouts) == (len(answer), 0)
        assert counters.errors == dict.fromkeys(counters.errors, 0)
        assert hand.values("a") == {
            f"r{i}": (w, w, len(answer)) for i, w in enumerate(map(float, WORDS))
        }
    finally:
        hand.close()


def test_a_damaged_answer_is_crc_whole_or_in_pieces(pty_pair: PtyPair) -> None:
    """An answer one of whose register bytes the line damaged (its CRC does not hold), whole
    or cut at any byte: counted ``crc`` once the line has been silent after it, no value
    read, no timeout."""
    hand = HandBus(pty_pair, device("a", "", 1, FOUR, interval_s=1.0, timeout_s=0.2))
    try:
        sound = read_reply(1, WORDS)
        damaged = sound[:5] + bytes([sound[5] ^ 0x10]) + sound[6:]
        for cut, _ in polls(hand, damaged):
            assert hand.bus.in_flight is None, cut
            assert hand.counters("a").errors["crc"] == cut + 1, cut
        counters = hand.counters("a")
        assert (counters.transactions, counters.timeouts) == (0, 0)
        assert hand.values("a") == dict.fromkeys((f"r{i}" for i in range(4)), None)
    finally:
        hand.close()


def test_a_device_that_swaps_its_crc_is_read_whole_or_in_pieces(pty_pair: PtyPair) -> None:
    """A device whose answers carry their CRC high byte first, whole or cut at any byte: each
    read, its CRC computed no more than the link's search needs (the standard CRC, then the
    swapped one: 2), no error counted."""
    hand = HandBus(pty_pair, device("a", "", 1, FOUR, interval_s=1.0, timeout_s=0.2))
    try:
        answer = swapped(read_reply(1, WORDS))
        for cut, count in polls(hand, answer):
            assert hand.bus.in_flight is None, cut
            assert count[0] <= 2, (cut, count)
        counters = hand.counters("a")
        assert (counters.transactions, counters.timeouts) == (len(answer), 0)
        assert counters.errors == dict.fromkeys(counters.errors, 0)
        assert hand.values("a")["r3"] == (4000.0, 4000.0, len(answer))
    finally:
        hand.close()


def test_a_capture_of_a_device_that_swaps_its_crc_replays_to_the_values_read(
    pty_pair: PtyPair, tmp_path: Path
) -> None:
    """A device whose answers carry their CRC high byte first is read live, each answer's
    exchange in its capture; the capture replayed (``replay://``, the codec's decoder of an
    exchange) gives the frames and readings of the live run, no ``checksum`` error. (Fails on
    the decoder that checks the standard CRC alone: every exchange a checksum error, 0
    readings.)"""
    table = device("a", "", 1, FOUR, interval_s=1.0, timeout_s=0.2)
    hand = HandBus(pty_pair, table)
    try:
        answer = swapped(read_reply(1, WORDS))
        for cut, _ in polls(hand, answer):
            assert hand.bus.in_flight is None, cut
        runtime = hand.runtimes["a"]
        path = tmp_path / "a.cap"
        path.write_bytes(runtime.capture.capture({"sensor": "a", "format": "modbus"}))
        live = counts(runtime.snapshot().as_json())
    finally:
        hand.close()
    assert (live["frames"], live["readings"]) == (len(answer), 4 * len(answer))
    replayed = replay_counts({k: v for k, v in table.items() if k != "port"}, path)
    assert replayed == live
