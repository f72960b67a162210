"""Exception responses as real RTU slaves send them, beyond the codes of the Modbus
application protocol, on a real pty: a code no specification names (worrajak/PICmodbus issue
3: "an exception occurs like 0C"), a code byte 0, and no code byte at all (FxDev/PetitModbus
issue 2: ``0A 81 C7 70``, the slave library's exception with its code left out, CRC right).
Each is the device's refusal of the request: counted by its code (the last two under
:data:`~sensord.formats.modbus.NO_EXCEPTION_CODE`), logged with its meaning, no timeout, no
error, no split; the values of the reads it answers between them are kept."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest
from harness.modbus import rtu_frame
from harness.pty import PtyPair
from structlog.testing import capture_logs
from test_local_echo import write_lines
from test_modbus import device
from test_modbus_line import HandBus, read_reply

from sensord.cli import main
from sensord.formats.modbus import NO_EXCEPTION_CODE

REGS = [
    {"name": "a", "table": "holding", "address": 0},
    {"name": "b", "table": "holding", "address": 1},
]

#: The refusals of a request ``r``: (its frame, the code it is counted under, its meaning).
REFUSALS: dict[str, tuple[Callable[[bytes], bytes], int, str]] = {
    "code-0c": (lambda r: rtu_frame(bytes([r[0], r[1] | 0x80, 0x0C])), 0x0C, "not standard"),
    "code-00": (
        lambda r: rtu_frame(bytes([r[0], r[1] | 0x80, 0x00])),
        NO_EXCEPTION_CODE,
        "no exception code in the response",
    ),
    "no-code": (
        lambda r: rtu_frame(bytes([r[0], r[1] | 0x80])),
        NO_EXCEPTION_CODE,
        "no exception code in the response",
    ),
}


def meter(**modbus: Any) -> dict[str, Any]:
    table = device("m", "", 1, REGS, interval_s=1.0, timeout_s=0.2, **modbus)
    return table | {"serial": {"baudrate": 9600}}


def play(hand: HandBus, polls: int, answer: Callable[[int, bytes], bytes]) -> int:
    """Run ``hand``'s bus for ``polls`` seconds in 5 ms steps; the device sends
    ``answer(n, request)`` 20 ms after its n-th request (at 9600 baud's pace: each byte
    apart). The requests sent."""
    sent = 0
    at = 100.0
    while at < 100.0 + polls:
        request = hand.tick(at)
        if request:
            reply = answer(sent, request)
            for k in range(len(reply)):
                hand.receive(at + 0.02 + k * 0.00104, reply[k : k + 1], look=False)
            sent += 1
        at = round(at + 0.005, 3)
    return sent


@pytest.mark.parametrize("refusal", list(REFUSALS))
def test_a_read_refused_with_an_odd_exception_is_counted_by_that_code(
    pty_pair: PtyPair, refusal: str
) -> None:
    """The meter refuses every other read of its two registers (one request), and answers
    the others. Each refusal is counted by its code, the read not split, no timeout nor
    ``truncated`` nor ``length``; the answered reads' values are kept. (A code byte 0 was
    taken for an answer with no values: ``length``, and the read split into one request a
    register. No code byte was taken for an answer cut off: ``truncated``, a timeout each;
    refused so at every poll, the read was split as one a gateway cuts, and the meter went
    down.)"""
    frame, code, meaning = REFUSALS[refusal]
    hand = HandBus(pty_pair, meter())
    try:
        with capture_logs() as logs:
            sent = play(hand, 4, lambda n, r: frame(r) if n % 2 == 0 else read_reply(1, [5, 6]))
        counters = hand.counters("m")
        assert sent == 4
        assert (counters.transactions, counters.timeouts) == (4, 0)
        assert counters.errors == dict.fromkeys(counters.errors, 0)
        assert counters.exceptions == {code: 2}
        assert counters.splits == 0
        assert not counters.down
        assert hand.values("m") == {"a": (5.0, 5.0, 2), "b": (6.0, 6.0, 2)}
        told = [e for e in logs if e["event"] == "exception response"]
        assert [(e["code"], e["meaning"]) for e in told] == [(code, meaning)]
    finally:
        hand.close()


@pytest.mark.parametrize("refusal", ["code-00", "no-code"])
def test_a_set_up_write_refused_with_no_exception_code_is_told_refused(
    pty_pair: PtyPair, refusal: str
) -> None:
    """A set-up write (06) refused with an exception that carries no code: the write is
    refused (logged with :data:`~sensord.formats.modbus.NO_EXCEPTION_CODE`, not asked
    again), no timeout; the reads go on. (It was taken for the write's copy cut off, a
    timeout, and asked again at each poll, then told unanswered; with a code byte 0, told
    as not echoed as sent.)"""
    frame, code, _ = REFUSALS[refusal]
    setup = [{"table": "holding", "address": 54, "value": 7, "function": 6}]
    hand = HandBus(pty_pair, meter(setup=setup))
    try:
        with capture_logs() as logs:
            sent = play(hand, 4, lambda n, r: frame(r) if r[1] == 6 else read_reply(1, [5, 6]))
        counters = hand.counters("m")
        assert sent == 5  # the write once, the read at each poll
        assert counters.timeouts == 0
        assert counters.errors == dict.fromkeys(counters.errors, 0)
        assert counters.exceptions == {code: 1}
        assert write_lines(logs) == [("device refused a set-up write", code)]
        assert hand.values("m") == {"a": (5.0, 5.0, 4), "b": (6.0, 6.0, 4)}
    finally:
        hand.close()


#: A refusal of a read of input registers at unit 5 with 02 (illegal data address): its CRC's
#: high byte is 00, so its first four bytes ``05 84 02 83`` have a right CRC too, as a
#: refusal with no code byte does (one sound exception in 256 ends so).
CRC_HIGH_00 = rtu_frame(bytes.fromhex("05 84 02"))
#: Unit 240's refusal of a read of holding registers with 04 (server device failure), whose
#: CRC's high byte is 00 too: ``F0 83 04 11 00``.
SOUND_00 = rtu_frame(bytes.fromhex("F0 83 04"))


def test_a_refusal_with_no_code_ends_the_exchange_at_the_line_s_silence(
    pty_pair: PtyPair,
) -> None:
    """With a timeout of 1 s, the meter's refusal with no code byte (20 ms after the read,
    each byte apart at 9600 baud) is taken once the line has been silent after its fourth
    byte (its silence and the arrival slack: well within 100 ms), not at the timeout: the
    read refused, counted under 256, the line free for the next exchange. (It was taken only
    at the timeout, the bus held for the rest of it.)"""
    table = device("m", "", 1, REGS, interval_s=2.0, timeout_s=1.0)
    hand = HandBus(pty_pair, table | {"serial": {"baudrate": 9600}})
    try:
        request = hand.tick(100.0)
        assert request
        refusal = rtu_frame(bytes([1, 0x83]))
        assert len(refusal) == 4
        for k, byte in enumerate(refusal):
            hand.receive(100.02 + k * 0.00104, bytes([byte]), look=False)
        hand.tick(100.1)
        counters = hand.counters("m")
        assert hand.bus.in_flight is None
        assert counters.exceptions == {NO_EXCEPTION_CODE: 1}
        assert (counters.transactions, counters.timeouts) == (1, 0)
        assert counters.errors == dict.fromkeys(counters.errors, 0)
    finally:
        hand.close()


@pytest.mark.parametrize("pause_s", [0.0, 0.03])
def test_a_refusal_whose_first_four_bytes_have_a_right_crc_is_read_whole(
    pty_pair: PtyPair, pause_s: float
) -> None:
    """Unit 5 refuses its read of input registers with 02, ``05 84 02 83 00``, its last byte
    after the others or 30 ms later (a USB adapter's latency timer holds what it received up
    to 16 ms): read whole, counted under 02, not taken for a refusal with no code at its
    first four bytes."""
    regs = [{"name": "a", "table": "input", "address": 0}]
    table = device("m", "", 5, regs, interval_s=2.0, timeout_s=1.0)
    hand = HandBus(pty_pair, table | {"serial": {"baudrate": 9600}})
    try:
        assert hand.tick(100.0)
        for k, byte in enumerate(CRC_HIGH_00[:4]):
            hand.receive(100.02 + k * 0.00104, bytes([byte]), look=False)
        hand.tick(100.03 + pause_s)
        hand.receive(100.03 + pause_s, CRC_HIGH_00[4:], look=False)
        hand.tick(100.2)
        counters = hand.counters("m")
        assert hand.bus.in_flight is None
        assert counters.exceptions == {2: 1}
        assert (counters.transactions, counters.timeouts) == (1, 0)
        assert counters.errors == dict.fromkeys(counters.errors, 0)
    finally:
        hand.close()


@pytest.mark.parametrize("refusal", ["no-code", "crc-high-00"])
def test_the_probe_tells_a_refusal_with_no_code_byte(
    pty_pair: PtyPair, capsys: pytest.CaptureFixture[str], refusal: str
) -> None:
    """``sensord modbus read`` of a meter that refuses the read with no code byte (``01 83``
    and its CRC, 20 ms after the request, each byte apart at 9600 baud) tells the refusal
    as the daemon takes it, once the line has been silent after it, not at its 1 s timeout:
    exit 1, the request sent once. Unit 240's refusal with 04 whose last byte is 00 (its
    first four bytes have a right CRC too: :data:`SOUND_00`) is told with its code. (The probe took the refusal with
    no code for no answer: it drained the line and told the read unanswered.)"""
    unit, frame = (1, rtu_frame(bytes([1, 0x83]))) if refusal == "no-code" else (240, SOUND_00)
    requests = bytearray()

    def meter() -> None:
        requests.extend(pty_pair.read(8, timeout_s=5.0))
        time.sleep(0.02)
        for byte in frame:
            pty_pair.write(bytes([byte]))
            time.sleep(0.00104)
        requests.extend(pty_pair.read(8, timeout_s=1.5))  # a request asked again

    device_side = threading.Thread(target=meter, daemon=True)
    device_side.start()
    read = ["--holding", "0", "--timeout", "1", "--retries", "0", "--baudrate", "9600"]
    started = time.monotonic()
    code = main(["modbus", "read", str(pty_pair.path), "--unit", str(unit), *read])
    took_s = time.monotonic() - started
    device_side.join(5.0)
    captured = capsys.readouterr()
    assert code == 1, captured
    told = "exception with no code" if refusal == "no-code" else "exception 0x04"
    assert f"unit {unit} answered with {told}" in captured.out, captured
    assert "no answer" not in captured.out + captured.err
    assert took_s < 0.8
    assert len(requests) == 8
