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

import pytest
from harness.modbus import rtu_frame
from harness.pty import PtyPair
from structlog.testing import capture_logs
from test_local_echo import echo_table, write_lines
from test_modbus_line import HandBus, read_reply, read_request

from sensord.bus import GLITCH_HINT

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
