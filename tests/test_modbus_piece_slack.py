"""The wait for the rest of an RTU frame begun, once pieces of a sound frame raised it, comes
back down when a window of answers brings no such spacing again.

A pause inside one answer is no adapter's holding: Eastron SDM meters and ABB meters are
reported pausing inside their answers now and then (the inter-character gap that
pymodbus-dev/pymodbus#1286 and the "t1.5" threads of pymodbus's issues tell of, a meter
that is writing its energy registers), and a loaded USB host controller hands a piece over
late once. The bus learns such a spacing as it comes (``Bus._pieces_apart``: a late answer
whose rest comes that far apart is taken whole), and looks at it again after
``SLACK_WINDOW_ANSWERS`` answers (``Bus._relax_slack``): with no frame in pieces so far apart
in that window, a frame cut short (a unit that lost power mid-answer) holds the next request
for the adapter's wait again, not for the widest pause the bus ever saw. A spacing seen
again raises the wait at once and doubles the window, so a device that pauses now and then
keeps its wait instead of having it go up and down.
"""

from __future__ import annotations

from harness.pty import PtyPair
from structlog.testing import capture_logs
from test_modbus_late_pieces import two_units
from test_modbus_line import HandBus, read_reply, read_request

from sensord.modbus_timing import ARRIVAL_SLACK_S, PIECE_MARGIN_S, SLACK_WINDOW_ANSWERS

#: how far apart the two pieces of unit 1's answer in pieces come (a meter's pause)
APART_S = 0.064


def answer_in_pieces(hand: HandBus, at: float) -> float:
    """Unit 1's next read from ``at`` on is answered in two pieces :data:`APART_S` apart (unit
    2's meanwhile whole); the clock after the answer."""
    while (sent := hand.tick(at)) != read_request(1, 0, 1):
        if sent:
            hand.receive(at + 0.01, read_reply(sent[0], [1]), look=False)
        at += 0.005
    answer = read_reply(1, [3])
    hand.receive(at + 0.02, answer[:4], look=False)
    hand.receive(at + 0.02 + APART_S, answer[4:], look=False)
    return at + 0.1


def answer_whole(hand: HandBus, at: float, answers: int) -> float:
    """Both units are polled (every second: unit 1 at whole seconds, unit 2 after it) from
    ``at`` until ``answers`` of their reads were answered whole, 10 ms after each request;
    the clock when that is done."""
    now = at
    answered = 0
    while answered < answers:
        sent = hand.tick(now)
        if sent:
            hand.receive(now + 0.01, read_reply(sent[0], [answered % 50]), look=False)
            answered += 1
        now += 0.05
    return now


def cut_short_frees_the_line_at(hand: HandBus, at: float) -> float:
    """Unit 1's read at ``at`` times out and its late answer is cut off after 4 bytes; the
    first time (in steps of 1 ms) unit 2's read goes out after that fragment, less the
    fragment's time."""
    while not hand.tick(at):
        at += 0.001
    bus = hand.bus
    assert bus.in_flight is not None
    assert bus.in_flight.device.unit == 1
    timeout = at + bus.request_wire_s + 0.2
    assert hand.tick(timeout + 0.0005) == b""
    fragment = timeout + 0.001
    hand.receive(fragment, read_reply(1, [7])[:4], look=False)
    now = fragment
    while True:
        now += 0.001
        sent = hand.tick(now)
        if sent:
            assert sent == read_request(2, 0, 1)
            return now - fragment


def test_a_wait_raised_by_one_pause_comes_down_after_a_window_of_whole_answers(
    pty_pair: PtyPair,
) -> None:
    """On an adapter sysfs tells nothing of (50 ms), unit 1's answer comes once in pieces
    64 ms apart: the wait for a frame's rest is raised to that (less the last piece's 3 ms on
    the wire, and PIECE_MARGIN_S), and logged. After SLACK_WINDOW_ANSWERS answers whole it is
    the adapter's 50 ms again, logged with the wait it was; a late answer cut short holds unit
    2's read that long and no longer. (On the code before ``Bus._relax_slack``: the wait stays
    65 ms for as long as the port is open, and unit 2's read waits 65 ms past the fragment's
    rest, not 50.)"""
    hand = two_units(pty_pair)
    try:
        bus = hand.bus
        with capture_logs() as logs:
            now = answer_in_pieces(hand, 100.0)
            raised = 0.064 - 3 * bus.char_s + PIECE_MARGIN_S
            assert abs(bus.piece_slack_s - raised) < 1e-9
            now = answer_whole(hand, now, SLACK_WINDOW_ANSWERS)
            hand.tick(now + 1.0)  # the bus's once-a-second look
        assert bus.piece_slack_s == ARRIVAL_SLACK_S
        lowered = [e for e in logs if e["event"].startswith("frames come in pieces no further")]
        assert [(e["wait_ms"], e["was_ms"], e["pieces_apart_ms"]) for e in lowered] == [
            (50.0, round(raised * 1000, 1), 0.0)
        ]
        held = cut_short_frees_the_line_at(hand, now + 2.0)
        rest = bus.silence_s + 3 * bus.char_s
        assert rest + ARRIVAL_SLACK_S <= held < rest + ARRIVAL_SLACK_S + 0.002
        assert hand.counters("b").errors["crc"] == 0
    finally:
        hand.close()


def test_a_wait_stays_raised_while_its_window_sees_the_pause_again(pty_pair: PtyPair) -> None:
    """A meter that pauses 64 ms inside every answer in 100 keeps the wait it taught: each
    window of SLACK_WINDOW_ANSWERS answers sees the pause, and the wait is never lowered nor
    logged so; the late answer in pieces as far apart is taken whole all along."""
    hand = two_units(pty_pair)
    try:
        bus = hand.bus
        now = 100.0
        with capture_logs() as logs:
            for _ in range(3 * SLACK_WINDOW_ANSWERS // 100):
                now = answer_in_pieces(hand, now)
                now = answer_whole(hand, now, 99)
                hand.tick(now + 1.0)
                now += 1.0
        raised = 0.064 - 3 * bus.char_s + PIECE_MARGIN_S
        assert abs(bus.piece_slack_s - raised) < 1e-9
        assert not [e for e in logs if e["event"].startswith("frames come in pieces no further")]
        assert hand.values("a")["v"] is not None
        assert hand.counters("a").errors["crc"] == hand.counters("a").errors["truncated"] == 0
    finally:
        hand.close()


def test_a_wait_lowered_too_soon_is_raised_again_and_kept_twice_as_long(
    pty_pair: PtyPair,
) -> None:
    """A meter that pauses once in more answers than a window holds: its wait comes down
    after the first window without the pause and goes up again at the next pause (logged
    as at the first), and the window before it may come down again is twice as long: after
    SLACK_WINDOW_ANSWERS more answers it is still raised, after twice as many it comes
    down."""
    hand = two_units(pty_pair)
    try:
        bus = hand.bus
        raised = 0.064 - 3 * bus.char_s + PIECE_MARGIN_S
        now = answer_in_pieces(hand, 100.0)
        now = answer_whole(hand, now, SLACK_WINDOW_ANSWERS)
        hand.tick(now + 1.0)
        assert bus.piece_slack_s == ARRIVAL_SLACK_S
        with capture_logs() as logs:
            now = answer_in_pieces(hand, now)
        assert abs(bus.piece_slack_s - raised) < 1e-9
        assert [e["event"] for e in logs if e["event"].startswith("frames come")] == [
            "frames come in pieces further apart than the wait for their rest"
        ]
        now = answer_whole(hand, now, SLACK_WINDOW_ANSWERS)
        hand.tick(now + 1.0)
        assert abs(bus.piece_slack_s - raised) < 1e-9
        now = answer_whole(hand, now + 1.0, SLACK_WINDOW_ANSWERS)
        hand.tick(now + 1.0)
        assert bus.piece_slack_s == ARRIVAL_SLACK_S
    finally:
        hand.close()
