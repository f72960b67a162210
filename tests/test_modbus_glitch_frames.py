"""Runs of bytes 00 and FF on a Modbus RTU line whose CRC holds: line noise, not frames.

An RS-485 line whose driver switches or that floats unbiased puts bytes 00 and FF on it
(stephane/libmodbus issue 14: zero bytes before an answer; home-assistant/core issue 69742:
three zero bytes from an RS-485 dongle; esphome/issues issue 2906: ``Modbus received Byte 255
(0Xff)`` on the line around a request). CRC-16/MODBUS of ``FF FF 00`` is 0, so the run ``FF FF
00 00 00`` has the shape of a sound exception response: unit 255, function byte FF (an
exception to function 0x7F), code 0. No device sent it: only a device's answer carries a
function code from 0x80 up, a device answers with its own address (the Modbus over Serial Line
specification v1.02, 2.2: 1 to 247; 0 is the broadcast, which no device answers; 248 to 255
are reserved), and code 0 is no exception code, to a function sensord never sends. Its bytes
are skipped bytes of the line, never a refusal, a late answer or a frame of another master;
and what follows them in the same batch is read. An exception from a device's address to a
function sensord does not send (another master's exchange) is still a frame."""

from __future__ import annotations

import itertools

import pytest
from harness.modbus import rtu_frame
from harness.pty import PtyPair
from hypothesis import example, given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs
from test_modbus import device
from test_modbus_line import HandBus, read_reply, read_request

from sensord.formats.modbus import NO_EXCEPTION_CODE, ModbusLink, crc16

#: The run of glitch bytes whose CRC holds.
GLITCH = b"\xff\xff\x00\x00\x00"

A = [{"name": "a", "table": "holding", "address": 0}]


def test_the_glitch_run_s_crc_holds() -> None:
    """The premise: the five bytes are a sound RTU frame by their CRC."""
    assert crc16(GLITCH) == 0


def runs() -> list[bytes]:
    """Every run of one to eight bytes 00 and FF."""
    return [bytes(r) for n in range(1, 9) for r in itertools.product((0x00, 0xFF), repeat=n)]


def test_no_run_of_00_and_ff_bytes_is_a_frame_and_the_answer_after_it_is_read() -> None:
    """Each run of bytes 00 and FF up to 8 (``FF FF 00 00 00`` among them), then unit 1's
    answer, in one batch and in two cut after the run: the answer is the one frame, and every
    byte of the run is skipped once the answer is taken out (the link's framing, as the bus
    sets it up with a device at unit 1)."""
    answer = read_reply(1, [9])
    found = []
    for run in runs():
        for batches in ([run + answer], [run, answer]):
            link = ModbusLink("rtu")
            link.units = frozenset({1})
            frames = [r.frame for chunk in batches for r in link.feed(chunk)]
            assert frames == [answer], (run.hex(" "), [f.hex(" ") for f in frames])
            assert (link.skipped_bytes, link.pending_bytes) == (len(run), 0)
        found.append(run)
    assert GLITCH in found


def test_a_glitch_run_before_an_answer_is_skipped_not_another_unit_s_frame(
    pty_pair: PtyPair,
) -> None:
    """Unit 1's answer comes behind the glitch run in one batch: the answer is read, nothing
    is counted against the device (before, the run was a frame of unit 255 in its exchange,
    counted ``unit``), and the run's five bytes are its skipped bytes."""
    hand = HandBus(pty_pair, device("m", "", 1, A, interval_s=1.0, timeout_s=0.3))
    try:
        assert hand.tick(100.0) == read_request(1, 0, 1)
        hand.receive(100.01, GLITCH + read_reply(1, [9]), look=False)
        assert hand.bus.in_flight is None
        assert hand.values("m")["a"] == (9.0, 9.0, 1)
        counters = hand.counters("m")
        assert counters.errors == dict.fromkeys(counters.errors, 0)
        assert (counters.transactions, counters.timeouts) == (1, 0)
        assert hand.runtimes["m"].bus_skipped_bytes == len(GLITCH)
    finally:
        hand.close()


def test_a_glitch_run_is_no_answer_of_a_device_read_at_unit_255(pty_pair: PtyPair) -> None:
    """A device read at 255, a reserved address some devices answer at (the configuration
    takes 248 to 255: ``modbus_keys.LONE_UNITS``). The glitch run comes while its requests
    are all answered: no frame nobody asked for (before: ``unasked``, and a warning of another
    master). Its next read times out, the run comes, then its real late answer: the run is
    no late refusal under code 256 (before: ``late`` and exception 256, and the real answer
    then ``unasked``, one frame off); the real answer is its late answer, counted once."""
    hand = HandBus(pty_pair, device("s", "", 255, A, interval_s=1.0, timeout_s=0.3))
    try:
        with capture_logs() as logs:
            assert hand.tick(100.0) == read_request(255, 0, 1)
            hand.receive(100.01, read_reply(255, [9]), look=False)
            hand.receive(100.2, GLITCH, look=False)
            counters = hand.counters("s")
            assert counters.errors == dict.fromkeys(counters.errors, 0)
            assert hand.tick(101.0) == read_request(255, 0, 1)
            assert hand.tick(101.31) == b""  # timed out: its answer is owed
            hand.receive(101.35, GLITCH, look=False)
            assert (counters.errors["late"], counters.exceptions) == (0, {})
            hand.receive(101.4, read_reply(255, [10]), look=False)
            assert counters.exceptions == {}
            assert {k: n for k, n in counters.errors.items() if n} == {"late": 1}
            assert hand.runtimes["s"].bus_skipped_bytes == 2 * len(GLITCH)
        events = [e["event"] for e in logs]
        assert "frame of the device's unit id nobody asked for" not in events
        assert events.count("answer after the timeout") == 1
    finally:
        hand.close()


@pytest.mark.parametrize(
    ("frame", "a_frame"),
    [
        # another master asks unit 7 for its identification (function 0x2B), refused 0x01:
        # a device's address, an exception code: a frame of that master's exchange
        (rtu_frame(bytes([7, 0xAB, 0x01])), True),
        # the same from the broadcast address and from a reserved one no device has: no
        # device answers there
        (rtu_frame(bytes([0, 0x83, 0x02])), False),
        (rtu_frame(bytes([250, 0x83, 0x02])), False),
        # code 0 to a function sensord never sends (0x2B), from a device's address
        (rtu_frame(bytes([7, 0xAB, 0x00])), False),
    ],
    ids=["other-master", "unit-0", "unit-250", "code-0"],
)
def test_an_exception_no_device_sent_is_noise_and_another_master_s_is_a_frame(
    pty_pair: PtyPair, frame: bytes, a_frame: bool
) -> None:
    """An exception-shaped frame with a right CRC during unit 1's exchange, before its
    answer: from a device's address to a function sensord does not send, it is another
    master's frame, counted ``unit`` for the device in flight as any frame of another unit
    id; one no device can have sent is skipped bytes, counted against nothing."""
    hand = HandBus(pty_pair, device("m", "", 1, A, interval_s=1.0, timeout_s=0.3))
    try:
        assert hand.tick(100.0) == read_request(1, 0, 1)
        hand.receive(100.01, frame + read_reply(1, [9]), look=False)
        assert hand.values("m")["a"] == (9.0, 9.0, 1)
        counters = hand.counters("m")
        assert {k: n for k, n in counters.errors.items() if n} == ({"unit": 1} if a_frame else {})
        assert hand.runtimes["m"].bus_skipped_bytes == (0 if a_frame else len(frame))
    finally:
        hand.close()


#: A run of the line's bytes before an answer: none, or one to three bytes 00 and FF in any
#: mix (stephane/libmodbus issue 14, pyhys/minimalmodbus issue 61: zero bytes before the
#: answer; home-assistant/core issue 69742: three from an RS-485 dongle).
LINE_RUN = st.lists(st.sampled_from([0x00, 0xFF]), max_size=3).map(bytes)


@settings(max_examples=120, deadline=None)
@given(
    unit=st.integers(min_value=1, max_value=255),
    code=st.integers(min_value=0, max_value=255),
    before=LINE_RUN,
    cut=st.integers(min_value=0, max_value=8),
)
# a device at 255 refusing with code 0 (the bytes FF 83 00 and their CRC), behind FF bytes
@example(unit=255, code=0, before=b"\xff\xff", cut=0)
@example(unit=248, code=0, before=b"\x00", cut=3)
def test_every_refusal_a_device_of_the_bus_sends_is_its_answer(
    unit: int, code: int, before: bytes, cut: int
) -> None:
    """A device read at ``unit`` (1 to 247, or a reserved 248 to 255 the configuration takes:
    ``modbus_keys.LONE_UNITS``) refuses its read with exception ``code`` (0: a refusal with
    no code, counted under 256), behind a run of the line's bytes, in two batches cut at
    ``cut``. The noise rule (an exception no device can have sent) never takes it: the
    exchange ends at once with that exception counted, nothing else counted but the run's
    bytes skipped."""
    refusal = rtu_frame(bytes([unit, 0x83, code]))
    stream = before + refusal
    with PtyPair() as pair:
        hand = HandBus(pair, device("d", "", unit, A, interval_s=1.0, timeout_s=0.3))
        try:
            assert hand.tick(100.0) == read_request(unit, 0, 1)
            pieces = [stream[:cut], stream[cut:]] if 0 < cut < len(stream) else [stream]
            for k, piece in enumerate(pieces):
                hand.receive(100.01 + k / 1000, piece, look=False)
            counters = hand.counters("d")
            assert hand.bus.in_flight is None
            assert counters.exceptions == {code or NO_EXCEPTION_CODE: 1}
            assert {k: n for k, n in counters.errors.items() if n} == {}
            assert hand.runtimes["d"].bus_skipped_bytes == len(before)
        finally:
            hand.close()
