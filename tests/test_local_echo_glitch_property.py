"""Glitch bytes where RS-485 transceivers put them as the line turns around, on an adapter
that echoes (``local_echo`` off), at any place and in any chunking: a property.

The glitch bytes are runs of one to three bytes 00 or FF, mixed (stephane/libmodbus issue 14:
"1 or 2 for now" zero bytes before the response; pyhys/minimalmodbus issue 61: ``00 04 83
02 D0 F0``, a zero byte before the answer; home-assistant/core issue 69742: three zero bytes
from an RS-485 dongle; a start bit alone on an idle line reads as FF). They fall before the
echo of the bus's request, between the echo and the device's answer, between another
master's request and its answer and between that answer and the echo (a line that master
shares: syssi/esphome-seplos-bms issue 116). The adapter passes the bytes on in batches cut
anywhere (an FTDI chip's latency timer: pymodbus pull request 880), a glitch at the end of
one batch and the frame in the next. Whatever the places and the cuts: the request's answer
is read (a read's value kept, a write taken once), nothing is counted against the device but
the skipped bytes (the glitch bytes, the echo, the other master's request), and no timeout."""

from __future__ import annotations

from harness.modbus import rtu_frame
from harness.pty import PtyPair
from hypothesis import example, given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs
from test_local_echo import echo_table, write_lines
from test_modbus_line import HandBus, read_reply, read_request

from sensord.bus_echo import GLITCH_MAX

#: Unit 1's read (holding 0, one register) and its answer: 9.
READ = read_request(1, 0, 1)
READ_ANSWER = read_reply(1, [9])
#: Device 2's set-up write (06, holding 54 = 7): its answer is the same bytes.
WRITE = rtu_frame(bytes.fromhex("02 06 00 36 00 07"))
#: Another master's read of unit 5 (function 04) and unit 5's answer.
MASTER_REQUEST = read_request(5, 0x1000, 1, function=4)
MASTER_ANSWER = read_reply(5, [7], function=4)

#: A run of glitch bytes: none, or one to :data:`GLITCH_MAX` bytes 00 and FF in any mix.
GLITCH = st.one_of(
    st.just(b""),
    st.lists(st.sampled_from([0x00, 0xFF]), min_size=1, max_size=GLITCH_MAX).map(bytes),
)
#: Where a stream is cut into the adapter's batches (positions; any order, repeats ignored).
CUTS = st.lists(st.integers(min_value=1, max_value=60), max_size=6)


def batches(data: bytes, cuts: list[int]) -> list[bytes]:
    """``data`` cut at ``cuts`` (positions inside it; others ignored)."""
    places = sorted({c for c in cuts if 0 < c < len(data)})
    return [data[a:b] for a, b in zip([0, *places], [*places, len(data)], strict=True)]


def read_once(hand: HandBus, before: bytes, after: bytes, cuts: list[int], echo: bool) -> None:
    """Unit 1's read: ``before`` (glitch bytes), its echo (unless ``echo`` is False: an
    adapter that does not echo), ``after`` (glitch bytes), its answer, in the batches
    ``cuts`` make."""
    assert hand.tick(100.0) == READ
    stream = before + (READ if echo else b"") + after + READ_ANSWER
    for k, piece in enumerate(batches(stream, cuts)):
        hand.receive(100.001 + k / 10000, piece, look=False)


@settings(max_examples=60)
@given(echo=st.booleans(), before=GLITCH, after=GLITCH, cuts=CUTS)
def test_a_read_s_answer_behind_its_echo_and_glitch_bytes_is_read(
    echo: bool, before: bytes, after: bytes, cuts: list[int]
) -> None:
    """A port just opened: unit 1's read comes back behind glitch bytes, more of them
    between its echo and its answer (on an adapter that does not echo, glitch bytes alone
    before the answer), in any batches. The answer is read (9), the line known to echo when
    it does, and nothing but the skipped bytes (glitch bytes and echo) counted against it."""
    if not echo:
        after = b""  # (one turnaround before the answer: a single run)
    with PtyPair() as pair:
        hand = HandBus(pair, echo_table("", 1, "m"))
        try:
            read_once(hand, before, after, cuts, echo)
            assert hand.bus.in_flight is None
            assert hand.values("m")["a"] == (9.0, 9.0, 1)
            assert hand.bus._line_echoes == echo
            counters = hand.counters("m")
            assert counters.errors == dict.fromkeys(counters.errors, 0)
            assert (counters.transactions, counters.timeouts) == (1, 0)
            skipped = hand.runtimes["m"].snapshot().skipped_bytes
            assert skipped == len(before) + (len(READ) if echo else 0) + len(after)
        finally:
            hand.close()


@settings(max_examples=80)
@given(
    master=st.booleans(),
    in_master=GLITCH,
    before=GLITCH,
    after=GLITCH,
    cuts=CUTS,
)
# the batch cut after the master's request, the next one beginning with a glitch byte before
# unit 5's answer (``_lead_glitch``): one place among the strategy's many, tried every run
@example(master=True, in_master=b"\x00", before=b"", after=b"", cuts=[8])
# glitch bytes before unit 5's answer in one batch and before the echo in the next: two
# turnarounds, each its own run of at most GLITCH_MAX bytes (the echo is no answer)
@example(master=True, in_master=b"\x00" * 3, before=b"\x00" * 3, after=b"", cuts=[8, 18, 29])
def test_a_write_s_answer_behind_glitch_bytes_another_master_and_its_echo_is_taken(
    master: bool, in_master: bytes, before: bytes, after: bytes, cuts: list[int]
) -> None:
    """A line known to echo (unit 1's read came back as sent). Device 2's set-up write (06)
    goes out; before its echo come, when ``master``, another master's exchange with unit 5
    (glitch bytes ``in_master`` between its request and answer), then glitch bytes
    ``before``, the echo, glitch bytes ``after``, the device's answer (the request's bytes),
    in the batches ``cuts`` make. The write is taken once, at its answer, with no timeout and
    no error; device 2's skipped bytes are the glitch bytes, the echo and the master's
    request (unit 5's answer is a frame, of no device of the bus)."""
    stream = MASTER_REQUEST + in_master + MASTER_ANSWER if master else b""
    stream += before + WRITE + after + WRITE
    setup = [{"table": "holding", "address": 54, "value": 7, "function": 6}]
    with PtyPair() as pair:
        hand = HandBus(pair, echo_table("", 1, "m"), echo_table("", 2, "w", setup=setup))
        try:
            assert hand.tick(100.0) == READ
            hand.receive(100.001, READ + READ_ANSWER, look=False)
            assert hand.tick(100.01) == WRITE
            with capture_logs() as logs:
                for k, piece in enumerate(batches(stream, cuts)):
                    hand.receive(100.011 + k / 10000, piece, look=False)
                assert hand.bus.in_flight is None
                assert write_lines(logs) == [("set-up write taken", None)]
            counters = hand.counters("w")
            assert counters.errors == dict.fromkeys(counters.errors, 0)
            assert (counters.transactions, counters.timeouts) == (1, 0)
            skipped = len(before) + len(WRITE) + len(after)
            skipped += len(MASTER_REQUEST) + len(in_master) if master else 0
            assert hand.runtimes["w"].snapshot().skipped_bytes == skipped
            assert hand.counters("m").errors == dict.fromkeys(counters.errors, 0)
        finally:
            hand.close()
