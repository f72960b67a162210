"""A transceiver's glitch before a request's echo on an adapter that echoes, ``local_echo``
off: a byte 00 or FF (sometimes two or three) that an RS-485 transceiver puts on the line as
it turns around. Captures of it: stephane/libmodbus issue 14 ("the response have some (1 or 2
for now) byte containing zero value"), pyhys/minimalmodbus issue 61 (a response read as ``00
04 83 02 D0 F0``, its leading 00 the glitch), alejoseb/Modbus-STM32-HAL-FreeRTOS issue 21 (a
9-byte answer to an 8-byte request, a zero byte first: "the one character delay between
transmit and receive"), home-assistant/core issue 69742 (three 00 bytes from an RS-485
dongle). The glitch bytes are counted as skipped bytes, the echo after them is dropped as an
echo, and the device's answer after it is read."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from harness.modbus import rtu_frame
from harness.pty import PtyPair
from structlog.testing import capture_logs
from test_local_echo import echo_table, play_echoing_line, write_lines
from test_modbus_line import HandBus, read_reply, read_request

from sensord.bus_echo import GLITCH_MAX
from sensord.bus_hints import GLITCH_HINT

#: Device 2's set-up write (06, holding 54 = 7), as it is sent; its answer is the same bytes.
WRITE = rtu_frame(bytes.fromhex("02 06 00 36 00 07"))

#: The read of device 1 (holding 0, one register) that shows the line echoes.
READ = read_request(1, 0, 1)


def known_to_echo(pty_pair: PtyPair) -> HandBus:
    """Unit 1 read, its request back as sent before its answer (the line is known to echo),
    and unit 2's set-up write sent."""
    setup = [{"table": "holding", "address": 54, "value": 7, "function": 6}]
    hand = HandBus(pty_pair, echo_table("", 1, "m"), echo_table("", 2, "w", setup=setup))
    try:
        assert hand.tick(100.0) == READ
        hand.receive(100.001, READ + read_reply(1, [9]), look=False)
        assert hand.bus._line_echoes
        assert hand.tick(100.01) == WRITE
    except BaseException:
        hand.close()
        raise
    return hand


@pytest.mark.parametrize(
    ("echo", "answer"),
    [
        ([b"\x00" + WRITE], [WRITE]),
        ([b"\xff" + WRITE], [WRITE]),
        ([b"\x00\x00\x00" + WRITE], [WRITE]),
        ([b"\x00", WRITE], [WRITE]),
        ([b"\x00" + WRITE[:3], WRITE[3:]], [WRITE]),
        ([WRITE], [b"\x00" + WRITE]),
        ([b"\x00" + WRITE], [b"\x00", WRITE]),
    ],
    ids=[
        "00-echo",
        "ff-echo",
        "000000-echo",
        "00-read-apart",
        "00-echo-cut",
        "echo-00-answer",
        "00-echo-00-read-apart",
    ],
)
def test_a_write_s_echo_after_glitch_bytes_is_no_answer_and_its_answer_is_taken(
    pty_pair: PtyPair, echo: list[bytes], answer: list[bytes]
) -> None:
    """A line known to echo; unit 2's set-up write (06, whose answer is its own bytes) comes
    back behind glitch bytes (whole, read apart from them, or cut within the echo), and the
    device's answer follows (behind a glitch of its own too). The echo is no answer: the
    write still awaits its answer after it, and is taken at the answer, once; every glitch
    byte and the echo are counted as skipped bytes, and the glitch is logged once. (The echo
    behind a glitch byte was taken for the write's answer, and the real answer after it was
    counted as a frame nobody asked for.)"""
    hand = known_to_echo(pty_pair)
    try:
        with capture_logs() as logs:
            for k, piece in enumerate(echo):
                hand.receive(100.011 + k / 1000, piece, look=False)
            assert hand.bus.in_flight is not None  # the echo is no answer
            assert write_lines(logs) == []
            for k, piece in enumerate(answer):
                hand.receive(100.03 + k / 1000, piece, look=False)
            assert hand.bus.in_flight is None
            assert write_lines(logs) == [("set-up write taken", None)]
        counters = hand.counters("w")
        assert counters.errors == dict.fromkeys(counters.errors, 0)
        assert counters.timeouts == 0
        glitches = sum(piece.count(0) + piece.count(0xFF) for piece in echo + answer)
        glitches -= 2 * WRITE.count(0)  # the zero bytes of the echo and answer themselves
        assert hand.runtimes["w"].snapshot().skipped_bytes == len(WRITE) + glitches
        told = [e for e in logs if e["event"] == "bytes before a request's echo"]
        expected = [GLITCH_HINT] if any(p[0] in (0, 0xFF) for p in echo) else []
        assert [e["hint"] for e in told] == expected
    finally:
        hand.close()


def test_a_silent_unit_s_write_echoed_after_a_glitch_byte_is_unanswered(pty_pair: PtyPair) -> None:
    """The line of :func:`test_a_write_s_echo_after_glitch_bytes_is_no_answer_and_its_answer_is_taken`
    where unit 2 does not answer: only a glitch byte and the echo come. The write times out,
    is not taken, and unit 1 loses nothing. (The echo behind the glitch byte was taken for
    the write's answer, the write logged as taken and never made.)"""
    hand = known_to_echo(pty_pair)
    try:
        with capture_logs() as logs:
            hand.receive(100.011, b"\x00" + WRITE, look=False)
            hand.tick(100.3)
            assert hand.bus.in_flight is None
        assert write_lines(logs) == []
        assert hand.counters("w").timeouts == 1
        assert hand.counters("m").timeouts == 0
    finally:
        hand.close()


@pytest.mark.parametrize("glitch", [b"\x00", b"\xff\xff"], ids=["00", "ffff"])
def test_a_read_s_echo_after_a_glitch_shows_the_line_echoes(
    pty_pair: PtyPair, glitch: bytes
) -> None:
    """An adapter that echoes, ``local_echo`` off, whose first read's echo comes behind glitch
    bytes: the bus knows the line echoes (a set-up write's echo is dropped after it), and
    the read's answer is taken. (The echo was not recognised: the line was not known to
    echo, and the next write's echo was taken for its answer.)"""
    setup = [{"table": "holding", "address": 54, "value": 7, "function": 6}]
    hand = HandBus(pty_pair, echo_table("", 1, "m"), echo_table("", 2, "w", setup=setup))
    try:
        assert hand.tick(100.0) == READ
        hand.receive(100.001, glitch + READ + read_reply(1, [9]), look=False)
        assert hand.bus.in_flight is None
        assert hand.bus._line_echoes
        assert hand.values("m")["a"] == (9.0, 9.0, 1)
        assert hand.runtimes["m"].snapshot().skipped_bytes == len(glitch) + len(READ)
    finally:
        hand.close()


@pytest.mark.parametrize(
    ("unit", "glitch", "apart"),
    [
        (255, b"\x00", 0),
        (255, b"\xff", 0),
        (255, b"\x00\xff", 0),
        (2, b"\xff\x00", 0),
        (255, b"\xff", 1),
        (255, b"\xff", 2),
        (255, b"\x00\xff", 3),
    ],
    ids=[
        "unit-ff-00",
        "unit-ff-ff",
        "unit-ff-00ff",
        "unit-2-ff00",
        "unit-ff-ff-read-apart",
        "unit-ff-ff-echo-ff-read-apart",
        "unit-ff-00ff-echo-ff-read-apart",
    ],
)
def test_a_write_to_unit_ff_after_a_glitch_is_told_by_its_echo(
    pty_pair: PtyPair, unit: int, glitch: bytes, apart: int
) -> None:
    """The line of :func:`known_to_echo` where the written device has unit id 255 (FF, which
    some devices and gateways answer at; sensord takes 1..255 on a serial line): a glitch
    byte 00 or FF before the write's echo is told from the echo's own first byte FF, the
    echo dropped, and the device's answer after it taken, also where the first ``apart``
    bytes of glitch and echo are read apart from the rest (the glitch's FF alone, taken for
    the echo's first byte until the echo's own FF follows it). (A glitch byte before an
    echo that begins with FF was no glitch: the echo was taken for the write's answer, and
    the device's real answer counted as a frame nobody asked for.)"""
    setup = [{"table": "holding", "address": 54, "value": 7, "function": 6}]
    hand = HandBus(pty_pair, echo_table("", 1, "m"), echo_table("", unit, "w", setup=setup))
    write = rtu_frame(bytes([unit]) + bytes.fromhex("06 00 36 00 07"))
    try:
        assert hand.tick(100.0) == READ
        hand.receive(100.001, READ + read_reply(1, [9]), look=False)
        assert hand.tick(100.01) == write
        with capture_logs() as logs:
            pieces = glitch + write
            hand.receive(100.011, pieces[:apart], look=False)
            hand.receive(100.012, pieces[apart:], look=False)
            assert hand.bus.in_flight is not None  # the echo is no answer
            hand.receive(100.03, write, look=False)
            assert hand.bus.in_flight is None
        assert write_lines(logs) == [("set-up write taken", None)]
        assert [e["event"] for e in logs if e["event"] == "bytes before a request's echo"] == [
            "bytes before a request's echo"
        ]
        counters = hand.counters("w")
        assert counters.errors == dict.fromkeys(counters.errors, 0)
        assert hand.runtimes["w"].snapshot().skipped_bytes == len(glitch) + len(write)
    finally:
        hand.close()


def outcome(pty_pair: PtyPair, pieces: list[bytes]) -> tuple[bool, list[tuple[str, Any]], int]:
    """What :func:`known_to_echo`'s write makes of ``pieces`` (each read apart), then the
    device's answer: whether the write still awaited its answer after them, the write's log
    lines, and unit 2's skipped bytes."""
    hand = known_to_echo(pty_pair)
    try:
        with capture_logs() as logs:
            for k, piece in enumerate(pieces):
                hand.receive(100.011 + k / 1000, piece, look=False)
            awaited = hand.bus.in_flight is not None
            hand.receive(100.03, WRITE, look=False)
        return awaited, write_lines(logs), hand.runtimes["w"].snapshot().skipped_bytes
    finally:
        hand.close()


@pytest.mark.parametrize("glitches", [3, 4, 5], ids=["three", "four", "five"])
def test_glitch_bytes_before_a_write_s_echo_are_told_alike_in_one_read_or_apart(
    glitches: int,
) -> None:
    """Up to three glitch bytes before the echo are a transceiver's turnaround, more are
    not (:data:`~sensord.bus_echo.GLITCH_MAX`), whether they come in the echo's read or each in a
    read of its own (an adapter passes bytes on in any batches; at 9600 baud a slow reader
    gets them one by one): the write ends alike. (Read apart, any number of zero bytes were
    each taken for a glitch: four or five in the echo's read had the echo taken for the
    write's answer, read apart the echo dropped.)"""
    zeros = [b"\x00"] * glitches
    with PtyPair() as whole_pair:
        whole = outcome(whole_pair, [b"".join(zeros) + WRITE])
    with PtyPair() as apart_pair:
        apart = outcome(apart_pair, [*zeros, WRITE])
    assert apart == whole
    assert whole[0] == (glitches <= GLITCH_MAX)


def test_an_answer_behind_a_zero_byte_on_a_line_that_does_not_echo_is_no_echo(
    pty_pair: PtyPair,
) -> None:
    """A line that does not echo, whose device's transceiver puts a byte 00 on it before its
    answer (pyhys/minimalmodbus issue 61: ``00 04 83 02 D0 F0``), read apart from the answer,
    whose first bytes are the request's (its unit id and function code): the answer is
    taken, and nothing says a request's echo came behind glitch bytes, once or later.
    (The zero byte alone was taken for a glitch before an echo and logged so.)"""
    hand = HandBus(pty_pair, echo_table("", 1, "m"))
    try:
        with capture_logs() as logs:
            at = 100.0
            for _ in range(3):
                assert hand.tick(at) == READ
                reply = read_reply(1, [9])
                hand.receive(at + 0.001, b"\x00", look=False)
                hand.receive(at + 0.002, reply[:2], look=False)
                hand.receive(at + 0.003, reply[2:], look=False)
                assert hand.bus.in_flight is None
                at += 1.0
        assert not [e for e in logs if e["event"] == "bytes before a request's echo"]
        assert not hand.bus._line_echoes
        assert hand.values("m")["a"] == (9.0, 9.0, 3)
    finally:
        hand.close()


def test_a_silent_unit_s_write_whose_echo_comes_behind_a_glitch_is_told_as_echoed_alone(
    pty_pair: PtyPair,
) -> None:
    """The line of :func:`test_a_silent_unit_s_write_echoed_after_a_glitch_byte_is_unanswered`
    over three polls: each time only a glitch byte and the write's echo come. The write is
    logged as unanswered once, its hint saying that only the request came back, as an echo
    alone with no glitch before it says. (The glitch byte made the exchange's bytes more
    than the echo: the hint spoke of a spoilt answer and line noise.)"""
    setup = [{"table": "holding", "address": 54, "value": 7, "function": 6}]
    hand = HandBus(pty_pair, echo_table("", 1, "m"), echo_table("", 2, "w", setup=setup))
    try:
        with capture_logs() as logs:
            at = 100.0
            writes = 0
            while at < 104.5:
                request = hand.tick(at)
                if request == READ:
                    hand.receive(at + 0.001, READ + read_reply(1, [9]), look=False)
                elif request:  # unit 2's write or read: a glitch byte and its echo alone
                    writes += request == WRITE
                    hand.receive(at + 0.001, b"\x00" + request, look=False)
                at = round(at + 0.01, 6)
        assert writes == 3
        assert write_lines(logs) == [("set-up write unanswered", None)]
        (told,) = [e for e in logs if e["event"] == "set-up write unanswered"]
        assert "only the request came back" in told["hint"], told["hint"]
        assert hand.counters("m").timeouts == 0
    finally:
        hand.close()


#: Another master's read of unit 5 (function 04) and unit 5's answer, as they come on a line
#: that master shares (syssi/esphome-seplos-bms issue 116: a Seplos pack at address 0 polls
#: the packs at 1 and up).
MASTER_EXCHANGE = read_request(5, 0x1000, 1, function=4) + read_reply(5, [7], function=4)


#: Where :func:`test_glitch_bytes_between_another_master_s_exchange_and_a_write_s_echo_are_dropped`
#: puts the glitch bytes: before the echo, in one read with it or apart, or before unit 5's
#: answer too (unit 5's transceiver turning around); and how many times.
_MASTER_GLITCHES: list[tuple[Callable[[bytes, bytes], list[bytes]], int]] = [
    (lambda glitch, echo: [MASTER_EXCHANGE + glitch + echo], 1),
    (lambda glitch, echo: [MASTER_EXCHANGE + glitch + echo[:3], echo[3:]], 1),
    (lambda glitch, echo: [MASTER_EXCHANGE + glitch, echo], 1),
    (lambda glitch, echo: [MASTER_EXCHANGE[:8] + glitch + MASTER_EXCHANGE[8:] + glitch + echo], 2),
    (lambda glitch, echo: [MASTER_EXCHANGE[:8] + glitch + MASTER_EXCHANGE[8:] + glitch, echo], 2),
]


@pytest.mark.parametrize("glitch", [b"\x00", b"\xff", b"\x00\x00\x00"], ids=["00", "ff", "000000"])
@pytest.mark.parametrize(
    ("pieces", "glitches"),
    _MASTER_GLITCHES,
    ids=["one-read", "echo-cut-at-3", "echo-read-apart", "in-exchange", "in-exchange-apart"],
)
def test_glitch_bytes_between_another_master_s_exchange_and_a_write_s_echo_are_dropped(
    pty_pair: PtyPair,
    glitch: bytes,
    pieces: Callable[[bytes, bytes], list[bytes]],
    glitches: int,
) -> None:
    """A line known to echo, shared with another master: that master's read of unit 5 and
    unit 5's answer come just before the bus sends device 3's set-up write (06), and a
    transceiver turning around puts glitch bytes 00 or FF on the line between that answer
    and the write's echo (stephane/libmodbus issue 14, pyhys/minimalmodbus issue 61), and
    unit 5's between the master's request and its answer too (home-assistant/core issue
    69742: zero bytes before a device's answer); the adapter passes them on with the echo
    in one batch (an FTDI chip's latency timer: pymodbus pull request 880), or the echo in
    the next read. The master's two frames came before the write went out, the glitch bytes
    are counted as skipped bytes (and logged as bytes before a request's echo), and the
    echo is dropped, no answer: device 3, which does not answer, times out, is asked again
    and taken then; nothing is counted against it but those skipped bytes (with the
    master's request, which no answer's framing takes). (Glitch bytes there had the
    exchange read as on a line that echoes no more: unit 5's answer counted as another unit
    id's, and the echo taken for the write's answer; FF between the master's two frames
    still did.)"""
    write = rtu_frame(bytes.fromhex("03 06 00 37 00 08"))
    reader = echo_table("", 1, "m")
    other = echo_table("", 3, "w3", setup=[{"table": "holding", "address": 55, "value": 8}])
    hand = HandBus(pty_pair, reader, other)
    try:
        with capture_logs() as logs:
            assert hand.tick(100.0) == READ
            hand.receive(100.001, READ + read_reply(1, [9]), look=False)
            at = 100.002
            while not (request := hand.tick(at)):
                at = round(at + 0.001, 3)
            assert request == write, request
            for k, piece in enumerate(pieces(glitch, write)):
                hand.receive(at + 0.001 * (k + 1), piece, look=False)
            assert hand.bus.in_flight is not None  # the write awaits its answer
            assert write_lines(logs) == []
            skipped = hand.runtimes["w3"].snapshot().skipped_bytes
            assert hand.tick(at + 0.22) == b""  # the write timed out
            counters = hand.counters("w3")
            assert (counters.transactions, counters.timeouts) == (0, 1)
            assert write in play_echoing_line(hand, 102.0, {1, 3})  # asked again, answered
        assert write_lines(logs) == [("set-up write taken", None)]
        assert counters.errors == dict.fromkeys(counters.errors, 0)
        # the master's request (no answer's frame), the glitch bytes and the echo
        assert skipped == len(MASTER_EXCHANGE) - 7 + glitches * len(glitch) + len(write)
        told = [e["hint"] for e in logs if e["event"] == "bytes before a request's echo"]
        assert told == [GLITCH_HINT]
    finally:
        hand.close()


def test_bytes_held_before_a_write_s_echo_are_counted_when_its_exchange_ends(
    pty_pair: PtyPair,
) -> None:
    """A line known to echo, shared with another master: the first batch of device 3's set-up
    write holds the first three bytes of that master's request alone (``05 04 10``: they may
    be frames cut by the adapter's batch, held for the next one, ``LineEcho.write_echo``),
    and nothing more comes (the rest lost, the adapter's echo and device 3 silent). The write
    times out at its timeout, not later, and the three bytes held are counted as skipped
    bytes of device 3, as a partial frame at a timeout is: nothing the line carried goes
    uncounted."""
    write = rtu_frame(bytes.fromhex("03 06 00 37 00 08"))
    reader = echo_table("", 1, "m")
    other = echo_table("", 3, "w3", setup=[{"table": "holding", "address": 55, "value": 8}])
    hand = HandBus(pty_pair, reader, other)
    try:
        assert hand.tick(100.0) == READ
        hand.receive(100.001, READ + read_reply(1, [9]), look=False)
        at = 100.002
        while not (request := hand.tick(at)):
            at = round(at + 0.001, 3)
        assert request == write, request
        hand.receive(at + 0.001, MASTER_EXCHANGE[:3], look=False)
        flight = hand.bus.in_flight
        assert flight is not None
        assert flight.before_echo == MASTER_EXCHANGE[:3]  # held for the next batch
        assert hand.runtimes["w3"].snapshot().skipped_bytes == 0
        assert hand.tick(at + 0.2) == b""  # within its timeout and the request's wire time
        assert hand.bus.in_flight is flight
        hand.tick(at + 0.22)
        assert hand.bus.in_flight is None
        counters = hand.counters("w3")
        assert (counters.transactions, counters.timeouts) == (0, 1)
        assert hand.runtimes["w3"].snapshot().skipped_bytes == 3
    finally:
        hand.close()
