"""Exception responses as real RTU slaves send them, beyond the codes of the Modbus
application protocol, on a real pty: a code no specification names (worrajak/PICmodbus issue
3: "an exception occurs like 0C"), a code byte 0, and no code byte at all (FxDev/PetitModbus
issue 2: ``0A 81 C7 70``, the slave library's exception with its code left out, CRC right).
Each is the device's refusal of the request: counted by its code (the last two under
:data:`~sensord.formats.modbus.NO_EXCEPTION_CODE`), logged with its meaning, no timeout, no
error, no split; the values of the reads it answers between them are kept."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from harness.modbus import rtu_frame
from harness.pty import PtyPair
from structlog.testing import capture_logs
from test_local_echo import write_lines
from test_modbus import device
from test_modbus_line import HandBus, read_reply

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
