"""A set-up write's refusal that comes after the bus settled the write's one copy as the
adapter's echo, on an RTU line that echoes (``serial.local_echo`` off).

On a port just opened the line's echo is not known: a write of function 06 whose request
comes back as sent is taken for the time being (an 06's answer is its request's bytes), and
settled by what the line shows next (``LineEcho.copy_settled``). A read that comes back whole
tells that the line echoes: the 06's copy was the echo, and the write unanswered (a timeout).
A meter that stores the register in EEPROM before it answers may refuse the write 100 ms or
more after it (the 120 ms of the refusal in
``test_local_echo.test_a_first_write_refused_after_the_next_writes_16_echoes_is_not_taken``),
after the write's window has passed or another frame on the line settled it. That refusal is
the write's late answer: counted ``late`` and by its code, the write refused. A device answers
its requests in order (the Modbus serial line protocol: a server handles one request at a
time), so one that answered a request sent after the write in time no longer owes the write's
answer, and a refusal after that answers no request of the bus's (another master's write).

The responder at the pty's far end echoes each request 0.5 ms after it and answers like the
device: in order, a read 3 ms after its request (or after the answer before it), the 06
refused with exception 02 (illegal data address) 120 ms after it."""

from __future__ import annotations

import pytest
from harness.modbus import rtu_frame
from harness.pty import PtyPair
from structlog.testing import capture_logs
from test_local_echo import echo_table, write_lines
from test_modbus_line import HandBus, read_reply, read_request

#: Device 2's set-up write: holding 54 = 7, function 06.
SETUP_06 = [{"table": "holding", "address": 54, "value": 7, "function": 6}]
WRITE = rtu_frame(bytes.fromhex("02 06 00 36 00 07"))
REFUSAL = rtu_frame(bytes.fromhex("02 86 02"))
READ = read_request(2, 0, 1)
#: Another master's exchange with unit 9 (a read and its answer), heard 50 ms after the write.
OTHER_MASTER = read_request(9, 0, 1) + read_reply(9, [1])


def play(hand: HandBus, until: float, *, other_master: bool, in_order: bool) -> list[bytes]:
    """Run ``hand``'s bus from 100.0 to ``until`` in 1 ms steps against the responder of the
    module docstring (``in_order`` False: the device answers its read at once, and a refusal
    of an 06 comes 120 ms after the first write all the same: another master's write
    refused). The requests sent, in order."""
    sent: list[bytes] = []
    later: list[tuple[float, bytes]] = []
    free_at = 0.0  # when the device has answered all it was asked
    at = 100.0
    while at < until:
        request = hand.tick(at)
        if request:
            sent.append(request)
            later.append((at + 0.0005, request))  # the adapter's echo
            if request == WRITE and (in_order or len(sent) == 1):
                free_at = max(at, free_at) + 0.12
                later.append((free_at, REFUSAL))
            elif request == READ:
                answer_at = (max(at, free_at) if in_order else at) + 0.003
                free_at = max(free_at, answer_at) if in_order else free_at
                later.append((answer_at, read_reply(2, [9])))
            if other_master and len(sent) == 1:
                later.append((at + 0.05, OTHER_MASTER))
            later.sort()
        while later and later[0][0] <= at + 1e-9:
            _, data = later.pop(0)
            hand.receive(at, data, look=False)
        at = round(at + 0.001, 3)
    return sent


@pytest.mark.parametrize(
    ("timeout_s", "other_master", "until", "expected"),
    [
        # the write's window (its timeout after its copy) passes at 101 ms: settled, no
        # exchange in flight; the read sent at 3 ms times out at 103 ms, and its answer
        # comes after the refusal: two late answers. The 06 is refused 120 ms after it at
        # each poll, past its timeout: late each time, and given up after three polls, logged
        # refused with its code
        (0.1, False, 103.5, (7, {"late": 4}, {2: 3}, 3, True)),
        # another master's exchange at 50 ms settles the copy while the device's read is in
        # flight; the refusal comes during that read, which is answered in time after it. At
        # the next poll the write is refused in time, its echo dropped
        (0.2, True, 101.2, (4, {"late": 1, "unit": 1}, {2: 2}, 3, None)),
    ],
    ids=["window-passed", "settled-by-another-frame"],
)
def test_a_refusal_of_a_write_settled_as_echoed_is_its_late_answer(
    pty_pair: PtyPair,
    timeout_s: float,
    other_master: bool,
    until: float,
    expected: tuple[int, dict[str, int], dict[int, int], int, bool | None],
) -> None:
    """The 06's copy is settled as the adapter's echo (a timeout), then the device's refusal
    of it comes: counted ``late`` and by its code (02), held for the write, no frame nobody
    asked for nor one of another function; the read's value is kept. (Before this, the
    refusal was counted ``unasked``, its code nowhere, and the late answer of the read after
    it ``unasked`` too; during the read, it was counted ``function``.)"""
    table = echo_table("", 2, "w", setup=SETUP_06, timeout_s=timeout_s)
    hand = HandBus(pty_pair, table)
    try:
        with capture_logs() as logs:
            sent = play(hand, until, other_master=other_master, in_order=True)
        requests, errors, exceptions, transactions, late = expected
        counters = hand.counters("w")
        assert len(sent) == requests
        assert sent[:2] == [WRITE, READ]
        assert {k: n for k, n in counters.errors.items() if n} == errors
        assert counters.exceptions == exceptions
        assert counters.transactions == transactions
        refused = [e for e in logs if e["event"] == "device refused a set-up write"]
        assert [(e["code"], e.get("late")) for e in refused] == [(2, late)]
        assert write_lines(logs) == [("device refused a set-up write", 2)]
        assert "frame of the device's unit id nobody asked for" not in [e["event"] for e in logs]
        assert hand.values("w")["a"] is not None
    finally:
        hand.close()


def test_a_refusal_after_the_device_answered_a_later_request_in_time_is_unasked(
    pty_pair: PtyPair,
) -> None:
    """The device answers its read 3 ms after it, in time, after the 06's copy was settled as
    the adapter's echo (by the read's echo and answer): a device answers its requests in
    order, so the refusal of an 06 that comes 120 ms after the write answers no request of
    the bus's (another master's write, refused): counted ``unasked``, not by its code, and the
    write asked again at the next poll (left unanswered there: the device refuses no more)."""
    table = echo_table("", 2, "w", setup=SETUP_06, timeout_s=0.2)
    hand = HandBus(pty_pair, table)
    try:
        with capture_logs() as logs:
            sent = play(hand, 100.5, other_master=False, in_order=False)
        counters = hand.counters("w")
        assert sent == [WRITE, READ]
        assert {k: n for k, n in counters.errors.items() if n} == {"unasked": 1}
        assert counters.exceptions == {}
        assert [e["event"] for e in logs].count(
            "frame of the device's unit id nobody asked for"
        ) == 1
    finally:
        hand.close()
