"""A late answer that comes in a USB adapter's pieces, while no exchange is in flight.

An FTDI adapter hands what the line carried over at its latency timer, 16 ms by default
(FTDI application note AN232B-04), a CH340 in its own packets: the pieces of one answer come
apart by far more than the line's 3.5-character silence. After a device's timeout, its late
answer may begin while no exchange is in flight; the bus holds the line for the rest of that
frame and the time an adapter holds it (the port's slack, as the wait for an answer in
flight and ``sensord modbus read`` have it), so that the next request does not go out before
the late answer's last piece has come: RS-485 is half duplex, and that piece would collide
with the request, or be read inside the next exchange.

How long an adapter holds that rest is the port's (``Bus.piece_slack_s``): an FTDI chip's
``latency_timer`` (1 to 255 ms) where sysfs tells it (read from a sysfs tree built in tmp_path
with the kernel's layout, ``test_adapter_facts.fake_adapter``), a serial server's packets over
``socket://``, and the widest spacing seen between the pieces of one sound frame (the bus
learns it from answers read in pieces). pymodbus-dev/pymodbus#880 ("Data is sent in batches
every 16 ms") is the default timer's; FTDI's AN232B-04 ("Adjusting the Receive Buffer Latency
Timer") allows 1 to 255 ms, and converters and udev rules set other values. A frame that never
completes (a unit cut off mid-answer) holds the line no longer than that wait, and a device
path opened again (another adapter plugged in) learns it afresh. The same slack covers the
answers nobody awaits but the bus still reads whole: those of a device a reload removed
(its left exchange, up to its ``late_limit``) and a second device's answer to a read at unit
0 (``Bus._broadcast``).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from harness.config import load_sensors as load
from harness.pty import PtyPair, SymlinkedPty, symlinked_pty
from structlog.testing import capture_logs
from test_adapter_facts import fake_adapter, fake_uart
from test_local_echo import ServedLine
from test_modbus import device, latest
from test_modbus_line import (
    HandBus,
    HandLine,
    meter_at_9600,
    read_reply,
    read_request,
    reload_meter_at_9600,
)

from sensord.modbus_timing import (
    ARRIVAL_SLACK_S,
    NETWORK_SLACK_S,
    PIECE_MARGIN_S,
    UART_TIMEOUT_CHARS,
)
from sensord.sensor import SensorRuntime

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


def ftdi_sysfs(tmp_path: Path, pty: PtyPair, latency_ms: int) -> str:
    """A sysfs tree in which ``pty``'s tty is an FTDI adapter's port whose latency timer is
    ``latency_ms``; its root."""
    fake_adapter(tmp_path, os.path.basename(os.path.realpath(pty.path)), latency_ms=latency_ms)
    return str(tmp_path)


def two_units(line: HandLine, sys_root: str | None = None) -> HandBus:
    """Units 1 and 2 at 9600 baud, one register each, polled every second, 0.2 s timeouts."""
    tables = (
        device("a", "", 1, ONE, interval_s=1.0, timeout_s=0.2),
        device("b", "", 2, ONE, interval_s=1.0, timeout_s=0.2),
    )
    return HandBus(line, *tables) if sys_root is None else HandBus(line, *tables, sys_root=sys_root)


@contextlib.contextmanager
def two_units_on_a_pty() -> Iterator[HandBus]:
    """:func:`two_units` on a pty of their own; the bus is stopped and the pty closed after."""
    with PtyPair() as pty:
        hand = two_units(pty)
        try:
            yield hand
        finally:
            hand.close()


def both_read(hand: HandBus) -> None:
    """The two units' first poll: unit 1 asked at 100.0 and answered at 100.02 (3), unit 2
    asked at 100.03 and answered at 100.05 (4)."""
    assert hand.tick(100.0) == read_request(1, 0, 1)
    hand.receive(100.02, read_reply(1, [3]), look=False)
    assert hand.tick(100.03) == read_request(2, 0, 1)
    hand.receive(100.05, read_reply(2, [4]), look=False)


def unit_1_timed_out(hand: HandBus) -> None:
    """Unit 1 asked at 100.0 and not answered by 100.209, its timeout (its request's 8 bytes
    on the wire, then 0.2 s)."""
    assert hand.tick(100.0) == read_request(1, 0, 1)
    assert hand.tick(100.209) == b""


def late_answer_in_pieces(hand: HandBus, apart_s: float, at: float = 100.0) -> None:
    """Unit 1 does not answer its read at ``at`` within its timeout; its answer's first 4
    bytes come 0.5 ms after it, the other 3 ``apart_s`` later. No request goes out meanwhile;
    the answer is taken whole and counted ``late``, and unit 2's read goes once the line has
    been silent after its last byte, is answered and read."""
    counted = hand.counters("a").errors["late"]
    assert hand.tick(at) == read_request(1, 0, 1)
    assert hand.tick(at + 0.209) == b""  # unit 1's timeout (8 bytes' request, then 0.2 s)
    assert hand.bus.in_flight is None
    late = read_reply(1, [7])
    first = at + 0.2095
    hand.receive(first, late[:4], look=False)
    # unit 2 is due, and waits: one tick a millisecond before the adapter's next piece
    assert hand.tick(first + apart_s - 0.001) == b""
    hand.receive(first + apart_s, late[4:], look=False)
    assert hand.counters("a").errors["late"] == counted + 1
    silent = first + apart_s + hand.bus.silence_s + 0.0001
    assert hand.tick(silent) == read_request(2, 0, 1)
    hand.receive(silent + 0.01, read_reply(2, [5]), look=False)
    assert latest(hand.runtimes["b"])["v"] == 5.0
    for name in "ab":
        counters = hand.counters(name)
        assert counters.errors["crc"] == counters.errors["unasked"] == 0
        assert counters.errors["truncated"] == 0
    assert hand.runtimes["b"].bus_skipped_bytes == 0


@pytest.mark.parametrize("latency_ms", [32, 64])
def test_a_late_answer_in_an_ftdi_s_pieces_its_latency_timer_apart_is_whole(
    pty_pair: PtyPair, tmp_path: Path, latency_ms: int
) -> None:
    """The port is an FTDI adapter whose latency_timer sysfs gives as 32 or 64 ms (a converter
    or udev rule that set it so): the bus reads it at the open, logs it with its file, and a
    late answer whose last piece comes one such timer after its first holds the line until
    it came. (Before: the line was held ARRIVAL_SLACK_S, 50 ms, after the rest's time on the
    wire, whatever the adapter: at 64 ms unit 2's read was written before the last piece, which
    was lost in unit 2's exchange; 32 ms fitted in the 50.)"""
    with capture_logs() as logs:
        hand = two_units(pty_pair, ftdi_sysfs(tmp_path, pty_pair, latency_ms))
    try:
        late_answer_in_pieces(hand, latency_ms / 1000)
        read = [e for e in logs if e["event"] == "adapter's latency timer read"]
        assert [(e["latency_timer_ms"], e["file"].startswith(str(tmp_path))) for e in read] == [
            (latency_ms, True)
        ]
        assert read[0]["file"].endswith("/device/latency_timer")
    finally:
        hand.close()


def test_a_late_answer_in_pieces_as_far_apart_as_the_answers_in_flight_came_is_whole(
    pty_pair: PtyPair,
) -> None:
    """An adapter that sysfs tells nothing of (a converter that buffers, an FTDI chip behind a
    hub whose timer is set to 64 ms elsewhere) hands unit 1's answer in time in two pieces 64
    ms apart: the bus logs the spacing, and at unit 1's next poll its late answer in pieces
    as far apart is taken whole and unit 2's exchange after it is not spoilt. (Before: unit
    2's read went out 57 ms after the first piece, and the last piece was lost in its
    exchange.)"""
    hand = two_units(pty_pair)
    try:
        answer = read_reply(1, [3])
        assert hand.tick(100.0) == read_request(1, 0, 1)
        hand.receive(100.02, answer[:4], look=False)
        with capture_logs() as logs:
            hand.receive(100.084, answer[4:], look=False)
        assert hand.values("a")["v"] == (3.0, 3.0, 1)
        assert hand.tick(100.09) == read_request(2, 0, 1)
        hand.receive(100.1, read_reply(2, [4]), look=False)
        late_answer_in_pieces(hand, 0.064, at=101.0)
        # the 3 bytes of the last piece took 3 ms of the 64 on the wire
        assert [e["pieces_apart_ms"] for e in logs if e["event"].startswith("frames come")] == [
            60.9
        ]
    finally:
        hand.close()


def test_a_late_answer_whose_rest_came_after_the_wait_teaches_the_bus_its_spacing(
    pty_pair: PtyPair,
) -> None:
    """Unit 1's late answer comes in pieces 64 ms apart while no other request is due (unit
    2's first poll waits its connect delay): its rest comes after the wait for it ended, the
    answer is taken whole all the same, and the spacing is learnt and logged. At unit 1's next
    poll its late answer in pieces as far apart holds unit 2's read, due meanwhile (at 101.22),
    until the last piece came. (Before: unit 2's read went out 57 ms after the first piece, and the last
    piece was lost in its exchange.)"""
    hand = HandBus(
        pty_pair,
        device("a", "", 1, ONE, interval_s=1.0, timeout_s=0.2),
        device("b", "", 2, ONE, interval_s=0.5, timeout_s=0.2, connect_delay_s=0.72),
    )
    try:
        assert hand.tick(100.0) == read_request(1, 0, 1)
        assert hand.tick(100.209) == b""
        late = read_reply(1, [6])
        hand.receive(100.2095, late[:4], look=False)
        assert hand.tick(100.27) == b""  # the wait is over; nobody is due
        with capture_logs() as logs:
            hand.receive(100.2735, late[4:], look=False)
        assert hand.counters("a").errors["late"] == 1
        # the 3 bytes of the last piece took 3 ms of the 64 on the wire
        assert [e["pieces_apart_ms"] for e in logs if e["event"].startswith("frames come")] == [
            60.9
        ]
        assert hand.tick(100.72) == read_request(2, 0, 1)
        hand.receive(100.73, read_reply(2, [4]), look=False)
        # unit 1's timeout fits before unit 2's next poll (101.22), which falls in the answer
        late_answer_in_pieces(hand, 0.064, at=101.0)
        assert hand.counters("a").errors["late"] == 2
    finally:
        hand.close()


def test_a_late_answer_in_a_serial_server_s_packets_is_whole() -> None:
    """Over ``socket://`` (RTU through a serial server) the pieces of a frame come as the server
    packs them (its force-transmit time) and TCP delivers them (a second small segment may wait
    for the host's delayed acknowledgement, 40 ms at least on Linux): 80 ms apart, the late
    answer is taken whole. (Before: the adapter's 50 ms, and unit 2's read went out between.)"""
    line = ServedLine()
    hand = two_units(line)
    try:
        late_answer_in_pieces(hand, 0.08)
        assert NETWORK_SLACK_S > 0.08
    finally:
        hand.close()
        line.close()


@pytest.mark.parametrize("latency_ms", [16, 1])
def test_a_frame_that_never_completes_holds_the_line_for_the_ftdi_s_timer_only(
    pty_pair: PtyPair, tmp_path: Path, latency_ms: int
) -> None:
    """Unit 1's late answer is cut off after its first 4 bytes (the unit lost power mid-answer):
    its rest would have come by one FTDI latency timer (16 ms by default, 1 ms with the udev
    rule ``sensord ports`` suggests) after the rest's time on the wire, so unit 2's read goes
    once that and PIECE_MARGIN_S have passed without a byte, not later, and is answered. (Before:
    ARRIVAL_SLACK_S, 50 ms, on every adapter: unit 2's read went 57 ms after the fragment.)"""
    hand = two_units(pty_pair, ftdi_sysfs(tmp_path, pty_pair, latency_ms))
    try:
        assert hand.tick(100.0) == read_request(1, 0, 1)
        assert hand.tick(100.209) == b""
        fragment = read_reply(1, [7])[:4]
        hand.receive(100.2095, fragment, look=False)
        bus = hand.bus
        free = 100.2095 + bus.silence_s + 3 * bus.char_s + latency_ms / 1000 + PIECE_MARGIN_S
        assert free < 100.2095 + ARRIVAL_SLACK_S
        assert hand.tick(free - 0.0005) == b""
        assert hand.tick(free + 0.0005) == read_request(2, 0, 1)
        hand.receive(free + 0.01, read_reply(2, [5]), look=False)
        assert hand.values("b")["v"] == (5.0, 5.0, 1)
        assert hand.counters("b").errors["crc"] == 0
        assert hand.counters("a").errors["late"] == 0  # no answer: 4 bytes skipped
    finally:
        hand.close()


def test_an_answer_begun_at_the_timeout_is_read_whole_over_an_ftdi_s_64_ms(
    pty_pair: PtyPair, tmp_path: Path
) -> None:
    """Unit 1's answer begins just before its timeout and its last piece comes one 64 ms FTDI
    latency timer later: the exchange waits for it (the timer read from sysfs) and takes the
    answer. (Before: the wait for an answer begun ended ARRIVAL_SLACK_S after its rest's time
    on the wire, and the answer was cut off, ``truncated``.)"""
    hand = two_units(pty_pair, ftdi_sysfs(tmp_path, pty_pair, 64))
    try:
        assert hand.tick(100.0) == read_request(1, 0, 1)
        answer = read_reply(1, [9])
        hand.receive(100.207, answer[:4], look=False)
        assert hand.tick(100.27) == b""  # still in flight
        assert hand.bus.in_flight is not None
        hand.receive(100.271, answer[4:], look=False)
        assert hand.values("a")["v"] == (9.0, 9.0, 1)
        assert hand.counters("a").errors["truncated"] == 0
        assert hand.counters("a").timeouts == 0
    finally:
        hand.close()


class ReplugLine:
    """A bus's port behind a stable link (a /dev/serial/by-id name) whose adapter the test
    unplugs and replaces (``SymlinkedPty.replug``): ``path`` is the link, and the test plays
    the devices at the current pty's far end."""

    def __init__(self, linked: SymlinkedPty) -> None:
        self.linked = linked
        self.path = str(linked.link)

    def write(self, data: bytes) -> None:
        self.linked.pty.write(data)

    def read(self, size: int, timeout_s: float = 2.0) -> bytes:
        return self.linked.pty.read(size, timeout_s)


def test_a_replaced_adapter_s_slack_is_its_own_not_the_one_learnt_from_the_adapter_before(
    tmp_path: Path,
) -> None:
    """The bus's port is a by-id link to an adapter sysfs tells nothing of (a converter that
    buffers): unit 1's answer in two pieces 64 ms apart teaches the bus that spacing, less the
    last piece's 3 ms on the wire (65 ms with PIECE_MARGIN_S).
    The adapter is unplugged and an FTDI chip set to 1 ms (the udev rule ``sensord ports``
    suggests) is plugged in behind the same link: at the reopen the bus reads its timer and
    forgets the spacing learnt on the adapter before, so unit 1's late answer cut off after 4
    bytes holds the line for the rest's time, the 1 ms timer and PIECE_MARGIN_S only, and unit
    2's read goes then. (On a variant of ``Bus._adapter_latency`` that keeps the slack learnt
    before the reopen, unit 2's read waits 65 ms past the rest's time: no request at the
    bound.)"""
    sys_root = tmp_path / "sys"
    sys_root.mkdir()
    with symlinked_pty(tmp_path, "usb-Converter-if00-port0") as linked:
        line = ReplugLine(linked)
        hand = two_units(line, str(sys_root))
        try:
            bus = hand.bus
            answer = read_reply(1, [3])
            assert hand.tick(100.0) == read_request(1, 0, 1)
            hand.receive(100.02, answer[:4], look=False)
            hand.receive(100.084, answer[4:], look=False)
            assert hand.values("a")["v"] == (3.0, 3.0, 1)
            assert bus.piece_slack_s == pytest.approx(0.064 - 3 * bus.char_s + PIECE_MARGIN_S)
            bus.disconnect("device disconnected")
            new = linked.replug()
            fake_adapter(sys_root, os.path.basename(new.path), latency_ms=1)
            hand.now = 100.5
            assert bus.try_open()
            assert bus.piece_slack_s == pytest.approx(0.001 + PIECE_MARGIN_S)
            asked = next(at for at in (100.5 + i / 1000 for i in range(2000)) if hand.tick(at))
            assert bus.in_flight is not None
            assert bus.in_flight.device.unit == 1
            timeout = asked + bus.request_wire_s + 0.2
            assert hand.tick(timeout + 0.0005) == b""
            assert bus.in_flight is None
            first = timeout + 0.001
            hand.receive(first, read_reply(1, [7])[:4], look=False)
            free = first + bus.silence_s + 3 * bus.char_s + 0.001 + PIECE_MARGIN_S
            assert hand.tick(free - 0.0005) == b""
            assert hand.tick(free + 0.0005) == read_request(2, 0, 1)
            hand.receive(free + 0.01, read_reply(2, [5]), look=False)
            assert hand.values("b")["v"] == (5.0, 5.0, 1)
        finally:
            hand.close()


def test_the_answer_of_a_device_that_left_in_an_ftdi_s_pieces_is_nobody_s(
    pty_pair: PtyPair, tmp_path: Path
) -> None:
    """A reload changes a meter at 9600 baud while its read is in flight, on a port that is
    an FTDI adapter at 64 ms. The left meter's late answer begins 3 ms before the last time
    it may come (its left exchange's ``late_until``), 4 of its 7 bytes handed over then and
    the other 3 one latency timer later: the answer is the left meter's, nobody's, and the
    meter that replaced it is asked once the drain after that answer is over, its own answer
    read, nothing counted against it. (Before, the left exchange was awaited for the rest of
    a frame begun and ARRIVAL_SLACK_S, 50 ms, whatever the adapter: its time ran out 7 ms
    before the last piece came, and the answer was a frame of the replacement's unit id
    nobody asked for.)"""
    hand = HandBus(
        pty_pair, meter_at_9600(pty_pair.path, 0), sys_root=ftdi_sysfs(tmp_path, pty_pair, 64)
    )
    try:
        assert hand.tick(100.0) == read_request(2, 0, 1)
        late_until = reload_meter_at_9600(hand, pty_pair.path)
        answer = read_reply(2, [20])
        first = late_until - 0.003
        hand.receive(first, answer[:4], look=False)
        end = first + 0.064
        assert end > first + hand.bus.silence_s + 3 * hand.bus.char_s + ARRIVAL_SLACK_S
        hand.receive(end, answer[4:], look=False)
        assert hand.bus.left.kept == []  # the left meter's answer
        at = end
        while not hand.tick(at):
            at = round(at + 0.005, 6)
        assert end + 0.2 <= at < end + 0.21, at - end
        assert hand.receive(at + 0.01, read_reply(2, [21])) == b""
        assert hand.values("m") == {"v": (21.0, 21.0, 1)}
        assert hand.counters("m").errors == dict.fromkeys(hand.counters("m").errors, 0)
    finally:
        hand.close()


def test_a_longest_left_answer_begun_in_its_time_is_awaited_for_the_ftdi_s_last_piece(
    pty_pair: PtyPair, tmp_path: Path
) -> None:
    """A meter at 115200 baud with a 50 ms timeout is changed by a reload while its read is in
    flight, on an FTDI adapter at 64 ms. Its late answer of 125 registers (255 bytes, 22 ms on
    the wire) begins 1 ms before the last time it may come: the adapter hands it over in full
    62-byte packets as the line fills them (FTDI AN232B-04: 64-byte packets, 2 of them status)
    and its last 7 bytes one latency timer after the packet before. The left exchange is
    awaited up to its ``late_limit``, by when a longest frame begun in its time has been read
    whole: the wire time of 256 bytes, the silence and the port's slack (68 ms), so the answer
    is the left meter's, nobody's, not a frame nobody asked for of the meter that replaced it.
    (On the variant whose late limit has ARRIVAL_SLACK_S, 50 ms, the limit ends 5 ms before
    the last piece and the answer is counted ``unasked`` for the replacement.)"""

    def meter(address: int) -> dict[str, Any]:
        registers = [{"name": "v", "table": "holding", "address": address}]
        table = device("m", pty_pair.path, 2, registers, timeout_s=0.05, interval_s=30.0)
        return {**table, "serial": {"baudrate": 115200}}

    hand = HandBus(pty_pair, meter(0), sys_root=ftdi_sysfs(tmp_path, pty_pair, 64))
    try:
        assert hand.tick(100.0) == read_request(2, 0, 1)
        runtime = SensorRuntime(load(meter(1)).sensors[0], clock=hand.clock)
        hand.bus.remove("m")
        hand.bus.add(runtime)
        hand.runtimes["m"] = runtime
        [left] = hand.bus.left.kept
        answer = read_reply(2, list(range(125)))
        assert len(answer) == 255
        first = left.late_until - 0.001
        packet_s = 62 * hand.bus.char_s
        pieces = [(first + i * packet_s, answer[62 * i : 62 * i + 62]) for i in range(4)]
        pieces.append((pieces[-1][0] + 0.064, answer[248:]))
        last = pieces[-1][0]
        # after a longest frame's time (256 bytes and the silence) and ARRIVAL_SLACK_S past
        # the last time the answer may come, before that time and the 64 ms timer's slack
        frame_s = 256 * hand.bus.char_s + hand.bus.silence_s
        assert left.late_until + frame_s + ARRIVAL_SLACK_S < last
        assert last < left.late_until + frame_s + 0.064 + PIECE_MARGIN_S
        for at, piece in pieces:
            hand.receive(at, piece, look=False)
        assert hand.bus.left.kept == []  # the left meter's answer
        counters = hand.counters("m")
        assert counters.errors == dict.fromkeys(counters.errors, 0)
        at = last
        while not hand.tick(at):
            at = round(at + 0.005, 6)
        assert hand.receive(at + 0.002, read_reply(2, [21])) == b""
        assert hand.values("m") == {"v": (21.0, 21.0, 1)}
        assert counters.errors == dict.fromkeys(counters.errors, 0)
    finally:
        hand.close()


def test_a_second_answer_to_a_read_at_unit_0_in_an_ftdi_s_pieces_is_told_as_one(
    pty_pair: PtyPair, tmp_path: Path
) -> None:
    """A BMS read at unit 0 (``broadcast_reads``, libmodbus issue 153: every device that
    answers such reads answers each) on an FTDI adapter at 64 ms: its answer comes, and a
    second device's answer begins 1 ms before the read's timeout is over, its last 3 bytes
    handed over one latency timer after its first 4. It is the second device's answer to
    that read, begun within its timeout and read whole as late as the adapter holds it:
    counted ``unit`` for the BMS and told naming both unit ids. (Before, a second answer was
    looked for until ARRIVAL_SLACK_S, 50 ms, after its time on the wire, whatever the
    adapter: this one was whole 6 ms after that, and went uncounted and untold.)"""
    one = [{"name": "v", "table": "holding", "address": 0}]
    bms = device("bms", "", 0, one, interval_s=1.0, timeout_s=0.3, broadcast_reads=True)
    hand = HandBus(pty_pair, bms, sys_root=ftdi_sysfs(tmp_path, pty_pair, 64))
    try:
        with capture_logs() as logs:
            assert hand.tick(100.0) == read_request(0, 0, 1)
            assert hand.receive(100.02, read_reply(1, [1000])) == b""
            assert hand.values("bms")["v"] == (1000.0, 1000.0, 1)
            bus = hand.bus
            other = read_reply(3, [3000])
            first = 100.0 + bus.request_wire_s + 0.3 - 0.001
            hand.receive(first, other[:4], look=False)
            last = first + 0.064
            assert last > 100.0 + bus.request_wire_s + 0.3 + 7 * bus.char_s + ARRIVAL_SLACK_S
            hand.receive(last, other[4:], look=False)
        counters = hand.counters("bms")
        assert counters.errors == dict.fromkeys(counters.errors, 0) | {"unit": 1}
        told = [e for e in logs if e["event"] == "two devices answered a read at unit 0"]
        assert [(e["answered_as"], e["also_answered"]) for e in told] == [(1, 3)]
    finally:
        hand.close()


def test_a_frame_cut_off_on_a_uart_of_the_board_holds_the_line_for_its_receive_timeout(
    pty_pair: PtyPair, tmp_path: Path
) -> None:
    """The port is the board's 8250 UART (ttyS0 as sysfs shows it: a platform device bound to
    serial8250, no USB device above it): no latency timer holds its bytes, only its FIFO's
    receive timeout (UART_TIMEOUT_CHARS). Unit 1's late answer cut off after 4 bytes holds
    the line for the rest's time, the silence, that timeout and PIECE_MARGIN_S (12 ms at 9600
    baud) and unit 2's read goes then; the bus logs the UART it read. (Before: ARRIVAL_SLACK_S,
    50 ms, on every port sysfs showed no latency timer of: no request at the bound.)"""
    fake_uart(tmp_path, os.path.basename(os.path.realpath(pty_pair.path)), "serial8250")
    with capture_logs() as logs:
        hand = two_units(pty_pair, str(tmp_path))
    try:
        [read] = [e for e in logs if e["event"] == "port is a UART"]
        assert (read["driver"], read["wait_ms"]) == ("serial8250", 12.3)
        assert hand.tick(100.0) == read_request(1, 0, 1)
        assert hand.tick(100.209) == b""
        hand.receive(100.2095, read_reply(1, [7])[:4], look=False)
        bus = hand.bus
        rest = 100.2095 + bus.silence_s + 3 * bus.char_s
        free = rest + UART_TIMEOUT_CHARS * bus.char_s + PIECE_MARGIN_S
        assert free < rest + ARRIVAL_SLACK_S - 0.03
        assert hand.tick(free - 0.0005) == b""
        assert hand.tick(free + 0.0005) == read_request(2, 0, 1)
        hand.receive(free + 0.01, read_reply(2, [5]), look=False)
        assert hand.values("b")["v"] == (5.0, 5.0, 1)
    finally:
        hand.close()


def test_a_uart_s_fifo_pieces_of_an_answer_do_not_raise_its_wait(
    pty_pair: PtyPair, tmp_path: Path
) -> None:
    """The port is the board's 16550A UART (ttyS0, serial8250) at 4800 baud: Linux sets its
    16-byte receive FIFO to hand bytes over at 8 (``uart_config[PORT_16550A]`` in
    drivers/tty/serial/8250/8250_port.c: ``UART_FCR_R_TRIG_10``, rxtrig_bytes 1, 4, 8, 14)
    and the rest once the line has been idle for its character timeout, 4 characters. Unit
    1's 15-byte answer to a read of 5 registers comes in time as 8 bytes, then 7 bytes 11
    character times later (23 ms; the wait for a frame's rest is 8 characters and
    PIECE_MARGIN_S, 20.7 ms): 7 of them are the second piece's time on the wire, and only 4
    the UART's holding. At unit 1's next poll the same answer comes late, after its timeout,
    in the same pieces. Neither raises the wait nor logs pieces apart, and unit 2's read after
    the late answer goes once the line has been silent for the UART's wait. (Before: the
    whole 23 ms was taken for the UART's holding: the wait rose to 26.9 ms and was logged.)"""
    fake_uart(tmp_path, os.path.basename(os.path.realpath(pty_pair.path)), "serial8250")
    five = [{"name": f"r{n}", "table": "holding", "address": n} for n in range(5)]
    tables = (
        {**device("a", "", 1, five, interval_s=1.0, timeout_s=0.2), "serial": {"baudrate": 4800}},
        {**device("b", "", 2, ONE, interval_s=1.0, timeout_s=0.2), "serial": {"baudrate": 4800}},
    )
    with capture_logs() as logs:
        hand = HandBus(pty_pair, *tables, sys_root=str(tmp_path))
    try:
        bus = hand.bus
        char = bus.char_s
        wait = UART_TIMEOUT_CHARS * char + PIECE_MARGIN_S
        assert bus.piece_slack_s == pytest.approx(wait)
        answer = read_reply(1, [10, 11, 12, 13, 14])
        assert len(answer) == 15
        assert hand.tick(100.0) == read_request(1, 0, 5)
        begun = 100.0 + 8 * char + 0.003
        hand.receive(begun + 8 * char, answer[:8], look=False)
        hand.receive(begun + 19 * char, answer[8:], look=False)
        assert 11 * char > wait
        assert hand.values("a")["r4"] == (14.0, 14.0, 1)
        assert bus.piece_slack_s == pytest.approx(wait)
        assert hand.tick(100.3) == read_request(2, 0, 1)
        hand.receive(100.32, read_reply(2, [5]), look=False)
        assert hand.tick(101.0) == read_request(1, 0, 5)
        assert hand.tick(101.23) == b""  # unit 1's timeout
        first = 101.231
        hand.receive(first, answer[:8], look=False)
        hand.receive(first + 11 * char, answer[8:], look=False)
        assert hand.counters("a").errors["late"] == 1
        assert bus.piece_slack_s == pytest.approx(wait)
        assert [e for e in logs if e["event"].startswith("frames come")] == []
        silent = first + 11 * char + bus.silence_s + 0.0005
        assert hand.tick(silent) == read_request(2, 0, 1)
        hand.receive(silent + 0.02, read_reply(2, [6]), look=False)
        assert hand.values("b")["v"] == (5.0, 6.0, 2)
    finally:
        hand.close()


def test_an_ftdi_latency_timer_that_tells_no_timer_is_logged_and_the_port_waits_50_ms(
    pty_pair: PtyPair, tmp_path: Path
) -> None:
    """The port is an FTDI adapter whose latency_timer file holds no timer (junk where a
    value is expected; a file that cannot be read is the same): the bus opens, warns once
    with the file and what it held, and a late answer cut off after 4 bytes holds the line
    for ARRIVAL_SLACK_S past its rest's time. (Before: nothing was logged.)"""
    fake_adapter(tmp_path, os.path.basename(os.path.realpath(pty_pair.path)), latency_ms=None)
    tty = os.path.basename(os.path.realpath(pty_pair.path))
    file = tmp_path / "class" / "tty" / tty / "device" / "latency_timer"
    file.write_text("junk\n")
    with capture_logs() as logs:
        hand = two_units(pty_pair, str(tmp_path))
    try:
        told = [e for e in logs if e["event"].startswith("adapter's latency timer")]
        assert [(e["event"], e["log_level"], e["file"], e["reason"]) for e in told] == [
            (
                "adapter's latency timer not read",
                "warning",
                str(file),
                "'junk' is no timer of 1 to 255 ms",
            )
        ]
        bus = hand.bus
        assert bus.piece_slack_s == ARRIVAL_SLACK_S
        assert hand.tick(100.0) == read_request(1, 0, 1)
        assert hand.tick(100.209) == b""
        hand.receive(100.2095, read_reply(1, [7])[:4], look=False)
        free = 100.2095 + bus.silence_s + 3 * bus.char_s + ARRIVAL_SLACK_S
        assert hand.tick(free - 0.0005) == b""
        assert hand.tick(free + 0.0005) == read_request(2, 0, 1)
    finally:
        hand.close()
