"""A sensor that is up because frames come, every one of which is rejected, says why no reading
comes: a device read at the wrong line speed whose garbage happens to hold the terminator. On a
real pty with the running daemon; the garbage is what a UART at the wrong settings receives."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from harness.common import wait_for
from harness.daemon import StartDaemon
from harness.pty import PtyPair
from harness.wire import uart_received
from structlog.testing import capture_logs
from test_clock_steps import libfaketime
from test_stale_hints import PMS_FRAME, Clock, deliver

from sensord.config import parse_config
from sensord.formats import frames
from sensord.rejects import REJECT_WARNINGS
from sensord.sensor import SensorRuntime
from sensord.sources.base import Source

LINE = b"T=21.5,RH=40.2\r\n"
CONFIG = """[[sensors]]
name = "climate"
port = "{port}"
format = "kv"
stale_after_s = 2
channels = [
  {{ name = "temperature_celsius", field = "T" }}, {{ name = "humidity_percent", field = "RH" }},
]
"""


@contextmanager
def device(pair: PtyPair, sends: list[bytes]) -> Iterator[None]:
    """A device writing ``sends[0]`` every 0.2 s until the test's end (the test may replace
    it)."""
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(0.2):
            pair.write(sends[0])

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


@pytest.mark.slow
def test_a_device_at_another_baud_rate_whose_garbage_holds_line_ends_is_pointed_at_the_serial_settings(
    start_daemon: StartDaemon, pty_pair: PtyPair
) -> None:
    garbage = uart_received(LINE * 4, 19200, 9600, gap_chars=0.3)  # the device sends at 19200
    assert b"\n" in garbage  # lines come: the sensor is up, no frame is ever good
    # the hint comes after stale_after_s of rejected frames: 1 s, five of the device's lines
    config = CONFIG.format(port=pty_pair.path).replace("stale_after_s = 2", "stale_after_s = 1")
    daemon = start_daemon(config=config)
    sends = [garbage]
    with device(pty_pair, sends):
        daemon.wait_http()
        wait_for(lambda: daemon.status()["sensors"]["climate"]["hint"] is not None, 10, "a hint")
        climate = daemon.status()["sensors"]["climate"]
        assert climate["state"] == "up"
        assert climate["hint"].startswith("frames come, but every one is rejected (encoding ")
        assert climate["hint"].endswith(
            "so no reading: check the serial settings (baudrate, bytesize, parity, stopbits) "
            "against the device's, or line noise (RS-485: A and B swapped, termination)"
        )
        wait_for(
            lambda: bool(daemon.events("no reading: every frame rejected")), 5, "the hint's line"
        )
        [event] = daemon.events("no reading: every frame rejected")
        assert event["sensor"] == "climate"
        assert event["port"] == pty_pair.path
        assert event["hint"] == climate["hint"]

        sends[0] = LINE  # the line speed set right: readings, and the hint goes
        wait_for(lambda: daemon.status()["sensors"]["climate"]["hint"] is None, 10, "no hint")
        assert daemon.status()["sensors"]["climate"]["state"] == "up"
        time.sleep(1.5)  # more than stale_after_s of good lines: the warning is not repeated
        assert len(daemon.events("no reading: every frame rejected")) == 1


@pytest.mark.slow
def test_a_healthy_device_with_a_rejected_line_now_and_then_gets_no_hint(
    start_daemon: StartDaemon, pty_pair: PtyPair
) -> None:
    # rejected and good lines for twice stale_after_s (1 s): no spell of rejections as long
    config = CONFIG.format(port=pty_pair.path).replace("stale_after_s = 2", "stale_after_s = 1")
    daemon = start_daemon(config=config)
    with device(pty_pair, [LINE + b"T=2\x001.5\r\n"]):  # a good line, and one hit by noise
        daemon.wait_http()
        daemon.wait_state("up", timeout_s=10)
        time.sleep(2)
        climate = daemon.status()["sensors"]["climate"]
    assert climate["parse_errors"]["encoding"] > 5
    assert climate["hint"] is None
    assert daemon.events("no reading: every frame rejected") == []


def test_a_few_rejected_lines_an_hour_for_days_are_summed_up_hourly_not_warned_of(
    pty_pair: PtyPair,
) -> None:
    """A line that brings three bad frames an hour among its good ones, for two days: the
    first rejections are warnings (with what comes next), then an info line an hour sums
    them up by reason, instead of a warning for each (they come more than a minute apart,
    past the rate limit); the counter counts every one. When they come every minute for an
    hour, ten times as often, that is a warning again, once."""
    config = parse_config(
        f'[[sensors]]\nname = "climate"\nport = "{pty_pair.path}"\nformat = "kv"\n'
        "stale_after_s = 600\n"
        'channels = [{ name = "t", field = "T" }, { name = "rh", field = "RH" }]\n'
    ).sensors[0]
    clock = Clock()
    runtime = SensorRuntime(config, clock=clock, wall_clock=clock)
    assert runtime.try_open()
    bad = 0

    def minute(rejected: bool) -> None:
        nonlocal bad
        clock.now += 60.0
        deliver(runtime, pty_pair, b"garbage\r\n" if rejected else LINE)
        bad += rejected
        runtime.tick(clock.now)

    try:
        with capture_logs() as logs:
            for n in range(48 * 60):
                minute(n % 20 == 0)
        events = [e["event"] for e in logs]
        warnings = [e for e in logs if e["event"] == "frame rejected"]
        assert len(warnings) == 3
        assert warnings[0]["reason"] == "syntax"
        assert "summed up once an hour" in warnings[-1]["next"]
        summaries = [e for e in logs if e["event"] == "frames rejected"]
        assert len(summaries) >= 46
        assert all(e["log_level"] == "info" and e["rejected"] == {"syntax": 3} for e in summaries)
        assert summaries[0]["frames"] == 60
        assert "frames rejected more often" not in events
        assert len(logs) == len(warnings) + len(summaries)
        assert runtime.parse_errors["syntax"] == bad

        with capture_logs() as logs:
            for _ in range(60):
                minute(True)
        [rise] = [e for e in logs if e["event"] == "frames rejected more often"]
        assert rise["log_level"] == "warning"
        assert rise["rejected"] == {"syntax": 30}
        assert rise["rejected_before"] == 3
        assert runtime.parse_errors["syntax"] == bad
    finally:
        runtime.stop()


def test_the_hint_counts_every_frame_rejected_since_the_last_reading(pty_pair: PtyPair) -> None:
    """The hint says how many frames were rejected in how long since the last reading: the
    rejections before the first housekeeping tick of that spell count too, so its count is
    that of the frames the device sent in the time it names (and of ``sensord status``'s
    REJECTED column for a device that never gave a reading)."""
    config = parse_config(CONFIG.format(port=pty_pair.path)).sensors[0]
    clock = Clock()
    runtime = SensorRuntime(config, clock=clock, wall_clock=clock)
    assert runtime.try_open()
    try:
        clock.now += 1.0
        deliver(runtime, pty_pair, LINE)
        runtime.tick(clock.now)  # a reading: the spell of rejections starts after it
        with capture_logs() as logs:
            for _ in range(4):  # 3 garbage lines a second, for 4 s (stale_after_s = 2)
                clock.now += 1.0
                deliver(runtime, pty_pair, b"\xff\xfe\r\n" * 3)
                runtime.tick(clock.now)
        [event] = [e for e in logs if e["event"] == "no reading: every frame rejected"]
        assert event["rejected"] == {"encoding": 9}  # told at the third tick: 3 s, 9 frames
        assert event["hint"].startswith(
            "frames come, but every one is rejected (encoding 9 in 3.0 s)"
        )
        hint = runtime.rejects.hint
        assert hint is not None
        assert "(encoding 12 in 4.0 s)" in hint  # the next tick's count, in /status
    finally:
        runtime.stop()


def test_the_end_of_a_spell_told_as_no_reading_is_logged(pty_pair: PtyPair) -> None:
    """A ``no reading`` warning is followed, once readings come again (the serial settings
    set right), by an info line that says so and how long the spell lasted: the sensor stays
    ``up`` throughout, so no state line tells it, and a journal that ends at the warning would
    read as a sensor still without readings. A spell whose warning was not logged ends
    unlogged."""
    config = parse_config(CONFIG.format(port=pty_pair.path)).sensors[0]
    clock = Clock()
    runtime = SensorRuntime(config, clock=clock, wall_clock=clock)
    assert runtime.try_open()

    def second(data: bytes) -> None:
        clock.now += 1.0
        deliver(runtime, pty_pair, data)
        runtime.tick(clock.now)

    try:
        second(LINE)
        with capture_logs() as logs:
            for _ in range(5):
                second(b"\xff\xfe\r\n")
            second(LINE)
            second(LINE)
        events = [e["event"] for e in logs if e["event"] != "frame rejected"]
        assert events == ["no reading: every frame rejected", "readings again"]
        [again] = [e for e in logs if e["event"] == "readings again"]
        assert again["log_level"] == "info"
        assert again["after"] == "no reading: every frame rejected"
        assert again["for_s"] == 6  # from the last reading before the spell to the first after
        assert runtime.rejects.hint is None
        with capture_logs() as logs:
            second(b"\xff\xfe\r\n")  # a spell shorter than stale_after_s: no warning, no end
            second(LINE)
        assert [e["event"] for e in logs if e["event"] != "frame rejected"] == []
    finally:
        runtime.stop()


@pytest.mark.slow
def test_the_log_s_counts_of_rejected_frames_add_up_to_the_metric(
    start_daemon: StartDaemon, pty_pair: PtyPair
) -> None:
    """The daemon (its clock sped up 960 times by libfaketime) reads a device that sends a
    line that is no number and one that is no UTF-8 about every 5 s for six minutes, and a
    ``nan`` line from the third minute on, then falls silent. The rejections the log tells
    of (each ``frame rejected`` line, its ``suppressed``, and the hour's ``frames rejected``)
    add up, per reason, to sensord_parse_errors_total: the ones of a reason held back by the
    rate limit when the hourly summing-up begins are not lost, and a reason first logged
    after it began is not told twice."""
    daemon = start_daemon(
        config=(
            f'[[sensors]]\nname = "junk"\nport = "{pty_pair.path}"\nformat = "value"\n'
            'stale_after_s = 86400\nchannels = [{ name = "v" }]\n'
        ),
        env={"LD_PRELOAD": libfaketime(), "FAKETIME": "+0 x960"},
    )
    daemon.wait_http()
    daemon.wait_state("up", ["junk"])
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < 0.375:  # six minutes of the daemon's time
        pty_pair.write(b"garbage\n\xff\xfe\n" + (b"nan\n" if elapsed > 0.125 else b""))
        time.sleep(0.005)
    wait_for(lambda: bool(daemon.events("frames rejected")), 30.0, "the hour's summary", 0.2)
    metrics = daemon.scrape()
    assert daemon.stop(30.0) == 0
    told = dict.fromkeys(("syntax", "encoding", "nonfinite"), 0)
    for event in daemon.events("frame rejected"):
        told[event["reason"]] += 1 + event["suppressed"]
    for event in daemon.events("frames rejected"):
        for reason, n in event["rejected"].items():
            told[reason] += n
    counted = {
        reason: metrics.value("sensord_parse_errors_total", sensor="junk", reason=reason)
        for reason in told
    }
    assert told == counted, [r for r in daemon.log_records() if "rejected" in r.get("msg", "")]


def test_garbage_that_parses_now_and_then_is_told_at_doubling_intervals(
    pty_pair: PtyPair,
) -> None:
    """A device at a wrong line speed whose garbage parses now and then (or one that sends
    garbage for a while every minute): every run of rejected frames longer than
    ``stale_after`` set the hint and logged the warning, thousands a day. The hint still
    follows each run; the warning comes for the first, then at intervals that double to an
    hour, with how many were held back."""
    config = parse_config(
        f'[[sensors]]\nname = "climate"\nport = "{pty_pair.path}"\nformat = "kv"\n'
        "stale_after_s = 5\n"
        'channels = [{ name = "t", field = "T" }, { name = "rh", field = "RH" }]\n'
    ).sensors[0]
    clock = Clock()
    runtime = SensorRuntime(config, clock=clock, wall_clock=clock)
    assert runtime.try_open()
    hinted = 0
    try:
        with capture_logs() as logs:
            for _ in range(100):  # 100 runs of 7 s of garbage, then one good line: 800 s
                for _ in range(7):
                    clock.now += 1.0
                    deliver(runtime, pty_pair, b"garbage\r\n")
                    runtime.tick(clock.now)
                hinted += runtime.snapshot().hint is not None
                clock.now += 1.0
                deliver(runtime, pty_pair, LINE)
                runtime.tick(clock.now)
                assert runtime.snapshot().hint is None
        told = [e for e in logs if e["event"] == "no reading: every frame rejected"]
    finally:
        runtime.stop()
    assert hinted == 100
    # the first run's, then one 60, 120 and 240 s after the one before: 4 in 800 s, not 100
    assert len(told) == 4
    assert "suppressed" not in told[0]
    assert sum(e.get("suppressed", 0) for e in told) + len(told) <= 100
    assert told[-1]["suppressed"] > 0


def test_the_hint_of_a_run_of_rejected_frames_keeps_its_counts_up_to_date(
    pty_pair: PtyPair,
) -> None:
    """The ``/status`` hint of a run of rejected frames counts the whole run so far, not the
    frames up to the first tick past the stale timeout; the warning is logged once."""
    config = parse_config(
        CONFIG.format(port=pty_pair.path).replace("stale_after_s = 2", "stale_after_s = 10")
    ).sensors[0]
    clock = Clock()
    runtime = SensorRuntime(config, clock=clock, wall_clock=clock)
    assert runtime.try_open()
    hints = []
    try:
        with capture_logs() as logs:
            for second in range(1, 61):
                clock.now += 1.0
                deliver(runtime, pty_pair, b"garbage\r\n")
                runtime.tick(clock.now)
                if second in (20, 60):
                    hints.append(runtime.snapshot().hint)
        told = [e for e in logs if e["event"] == "no reading: every frame rejected"]
    finally:
        runtime.stop()
    assert len(told) == 1
    first, last = hints
    assert first is not None
    assert last is not None
    assert "(syntax 20 in 20.0 s)" in first, first
    assert "(syntax 60 in 60.0 s)" in last, last


def test_binary_frames_the_framer_rejects_are_logged_with_the_frame_and_why(
    pty_pair: PtyPair,
) -> None:
    """A PMS5003 whose cable spoils a frame now and then: the frame whose checksum does not
    hold is a ``frame rejected`` warning, in hex, with the checksum it holds and the one it
    should, as a frame the parser rejects is; the frames around it are read. Those the rate
    limit holds back are told as ``suppressed`` by the next line, so the lines add up to the
    metric."""
    config = parse_config(
        f'[[sensors]]\nname = "pm"\nport = "{pty_pair.path}"\npreset = "pms5003"\nwarmup_s = 0\n'
    ).sensors[0]
    clock = Clock()
    runtime = SensorRuntime(config, clock=clock, wall_clock=clock)
    assert runtime.try_open()
    broken = PMS_FRAME[:-1] + bytes([PMS_FRAME[-1] ^ 1])
    try:
        with capture_logs() as logs:
            clock.now += 1.0
            deliver(runtime, pty_pair, PMS_FRAME + broken + PMS_FRAME)
            clock.now += 1.0
            deliver(runtime, pty_pair, broken + broken + PMS_FRAME)
            clock.now += 61.0
            deliver(runtime, pty_pair, broken + PMS_FRAME)
        snapshot = runtime.snapshot()
    finally:
        runtime.stop()
    assert snapshot.frames == 4
    assert snapshot.parse_errors["checksum"] == 4
    rejected = [e for e in logs if e["event"] == "frame rejected"]
    assert [(e["reason"], e["suppressed"], e["log_level"]) for e in rejected] == [
        ("checksum", 0, "warning"),
        ("checksum", 2, "warning"),
    ]
    assert rejected[0]["frame"] == broken.hex(" ").upper()
    assert rejected[0]["detail"] == (
        f"holds the checksum {broken[-2:].hex(' ').upper()} at byte 30, and sum16be over bytes "
        f"0 to 29 gives {PMS_FRAME[-2:].hex(' ').upper()}"
    )


def test_a_candidate_the_framer_rejects_costs_it_no_text_of_why(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Noise on a line brings thousands of rejected candidates an hour, each in the reader's
    loop: the framer only notes where the last of each reason is, and why is worked out when
    a line tells of it (``last_rejected``), never for the others."""
    config = parse_config(
        '[[sensors]]\nname = "pm"\nport = "sim://pm"\npreset = "pms5003"\n'
    ).sensors[0]
    framer = frames.framer(config.format_spec(), b"\n", config.max_frame_bytes)
    broken = PMS_FRAME[:-1] + bytes([PMS_FRAME[-1] ^ 1])
    garbage = bytes.fromhex("42 4D 00 99 A5")  # a length field the preset refuses

    def worked_out(*args: object) -> bytes:
        raise AssertionError("why a candidate was rejected, worked out as it was")

    monkeypatch.setattr(frames, "checksum", worked_out)
    for _ in range(50):
        assert framer.feed(broken + garbage + PMS_FRAME) == [PMS_FRAME]
    assert framer.rejected == {"checksum": 50, "syntax": 50}
    assert framer.rejections == 100
    monkeypatch.undo()
    why, frame = framer.last_rejected("checksum")
    assert frame == broken
    assert why.startswith(f"holds the checksum {broken[-2:].hex(' ').upper()} at byte 30")
    why, frame = framer.last_rejected("syntax")
    assert frame == garbage[:4]
    assert why == "its length field says 157 bytes, the length of no frame of the spec"


def test_rejected_candidates_summed_up_are_not_told_of_one_by_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Once the framer's rejections of a reason are summed up hourly, a chunk that brings
    more of them asks the framer nothing: they are counted, and the summary tells of them."""
    config = parse_config(
        '[[sensors]]\nname = "pm"\nport = "sim://pm"\npreset = "pms5003"\nwarmup_s = 0\n'
    ).sensors[0]
    clock = Clock()
    runtime = SensorRuntime(config, clock=clock, wall_clock=clock)
    broken = PMS_FRAME[:-1] + bytes([PMS_FRAME[-1] ^ 1])
    with capture_logs() as logs:
        for _ in range(REJECT_WARNINGS):
            clock.now += 61.0
            runtime.feed(broken + broken + PMS_FRAME)
        assert runtime.rejects.period is not None

        def asked(framer: frames.FrameFramer, reason: str) -> tuple[str, bytes]:
            raise AssertionError("asked why, with nothing to tell")

        monkeypatch.setattr(frames.FrameFramer, "last_rejected", asked)
        for _ in range(10):
            clock.now += 1.0
            runtime.feed(broken + broken + broken + PMS_FRAME)
    rejected = [e for e in logs if e["event"] == "frame rejected"]
    assert [e["suppressed"] for e in rejected] == [0, 1, 1]
    assert runtime.snapshot().parse_errors["checksum"] == 2 * REJECT_WARNINGS + 30


class _EndedPort(Source):
    """A port with nothing more to give (a replay at the end of its capture)."""

    def __init__(self, sensor: str) -> None:
        super().__init__(sensor, "/dev/ttyENDED")

    def _open(self) -> None:
        pass

    def _close(self, was_open: bool) -> None:
        pass

    def fileno(self) -> int | None:
        return None

    def read(self) -> bytes:
        return b""


def test_candidates_the_framer_rejects_as_it_gives_what_it_holds_are_logged() -> None:
    """At the end of a replay the framer gives the frames of the bytes it held: a candidate
    it rejects then is logged as one it rejects as bytes come, not left untold."""
    config = parse_config(
        '[[sensors]]\nname = "pm"\nport = "sim://pm"\npreset = "pms5003"\nwarmup_s = 0\n'
    ).sensors[0]
    clock = Clock()
    runtime = SensorRuntime(config, clock=clock, wall_clock=clock)
    port = _EndedPort("pm")
    port.open()
    runtime.opened(port)
    # a frame cut short, and in its bytes a start whose length field the preset refuses
    held = bytes.fromhex("42 4D 00 1C") + bytes(10) + bytes.fromhex("42 4D 00 99") + bytes(5)
    with capture_logs() as logs:
        clock.now += 5.0  # no tail of a frame the open cut
        runtime.feed(held)
        assert runtime.framer.rejected["syntax"] == 0  # the cut frame's bytes may come yet
        port.finished = True
        clock.now += 1.0
        runtime.tick(clock.now)
    runtime.stop()
    assert runtime.framer.rejected["syntax"] == 1
    rejected = [e for e in logs if e["event"] == "frame rejected"]
    assert [(e["reason"], e["frame"]) for e in rejected] == [("syntax", "42 4D 00 99")]
