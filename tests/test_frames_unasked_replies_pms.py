"""A PMS's replies to commands that no command of the daemon awaits: taken out of the byte
stream, counted as frames read without readings (``sensord_frames_ignored_total``) and logged
once per kind at info level, never skipped bytes.

Device behaviour and bytes: Plantower's PMS5003, PMS7003 and PMSA003 manuals (appendix II,
"Transport Protocol-Passive Mode") give the replies to "change mode" (``E1``) and "sleep set"
(``E4``) as ``42 4D 00 04``, the command, its data byte and the 16-bit sum of the bytes
before it: ``42 4D 00 04 E1 00 01 74`` for passive mode, ``42 4D 00 04 E4 00 01 77`` for sleep.
A data frame's length field is ``00 1C`` (``00 24`` on a PMS5003ST), never ``00 04``.
"""

from __future__ import annotations

import random

from harness.pty import PtyPair
from structlog.testing import capture_logs
from test_frames_commands import Clock, pms_frame, read_all, reading_count, sensor_config
from test_frames_unasked_replies import write_in_pieces
from test_setup_reruns import Pms5003, pms_passive_on

from sensord.sensor import SensorRuntime

#: The manuals' replies to passive mode and to sleep.
PASSIVE_REPLY = bytes.fromhex("42 4D 00 04 E1 00 01 74")
SLEEP_REPLY = bytes.fromhex("42 4D 00 04 E4 00 01 77")


def test_replies_to_another_program_s_commands_are_counted_and_told_once_per_kind() -> None:
    """A PMS5003 polled with no set-up, whose line another program shares: it sets passive
    mode twice and sleep once, and the replies come between the data frames, cut across
    reads. Every data frame is read and no other, no byte skipped; the three replies are
    frames read without readings, and two lines tell them, one per kind."""
    clock = Clock()
    frames = [pms_frame(k) for k in range(4)]
    stream = (
        frames[0] + PASSIVE_REPLY + frames[1] + SLEEP_REPLY + frames[2] + PASSIVE_REPLY + frames[3]
    )
    poll = {"command": "read", "interval_s": 60.0}  # due after the test's reads
    table = {"preset": "pms5003", "simulate": "never", "warmup_s": 0.0, "poll": poll}
    with PtyPair() as pair, capture_logs() as logs:
        config = sensor_config({**table, "port": pair.path})
        rt = SensorRuntime(config, clock=clock, wall_clock=clock, rng=random.Random(1))
        assert rt.try_open()
        write_in_pieces(pair, rt, clock, stream)
        snapshot = rt.snapshot()
        rt.stop()
    assert rt.framer.skipped_bytes == 0
    assert rt.framer.frames == 4
    assert reading_count(rt) == 4 * 12
    assert snapshot.ignored_frames == 3
    told = [
        (e["kind"], e["reply"]) for e in logs if e["event"] == "reply to a command came unasked"
    ]
    assert told == [
        ("change mode", "42 4D 00 04 E1 00 01 74"),
        ("sleep set", "42 4D 00 04 E4 00 01 77"),
    ]
    assert all(e["log_level"] == "info" for e in logs if e["event"].startswith("reply to"))


def test_another_program_s_replies_between_polls_are_no_frames_sent_unasked() -> None:
    """A PMS5003 in passive mode, polled every 2 s, whose line another program shares: it
    sets passive mode after four polls' answers, and each reply comes between two polls. No
    reply is a frame the device streamed unasked: the set-up is not run again, and each poll
    is answered by the one frame it asked for; the replies are frames read without readings,
    told once."""
    clock = Clock()
    with PtyPair() as pair, capture_logs() as logs:
        rt = pms_passive_on(pair, clock)
        pms = Pms5003(pair, clock)
        start = clock.now
        pms.run(rt, start + 10.0)
        frames_then, sent_then = rt.framer.frames, pms.sent
        for k in range(4):
            pms.run(rt, start + 11.0 + 2 * k)
            pair.write(PASSIVE_REPLY)
            read_all(rt, len(PASSIVE_REPLY))
        pms.run(rt, start + 30.0)
        snapshot = rt.snapshot()
        rt.stop()
    assert rt.setup_reruns == 0
    assert rt.framer.frames - frames_then == pms.sent - sent_then == 10
    assert rt.framer.skipped_bytes == 0
    assert snapshot.ignored_frames == 4
    told = [e["kind"] for e in logs if e["event"] == "reply to a command came unasked"]
    assert told == ["change mode"]
