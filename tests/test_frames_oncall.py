"""What an operator on call reads when a binary-frame sensor gives nothing: a device that
hears and sends nothing (TX and RX crossed, unpowered, a PMS with its SET pin low, an SDS011
left in query mode), a clone that answers its polls and ignores its set-up commands, a
sensor of a neighbouring model read with the wrong preset, and an SDS011 left on a working
period by another program. The devices are responders on real ptys; the first tests run the
real daemon and read its ``/status`` and logs."""

from __future__ import annotations

import os
import select
import threading
import time
from collections.abc import Callable, Iterator, MutableMapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from harness.common import wait_for
from harness.daemon import DaemonProcess, StartDaemon
from harness.pty import PtyPair
from structlog.testing import capture_logs
from test_clock_steps import libfaketime

from sensord.config import parse_config
from sensord.dialogue import IGNORED_COMMAND_HINT, NOTHING_CAME_HINT
from sensord.formats.presets import FITTING_FRAMES, PresetDevice, preset_hint, silent_hint
from sensord.sensor import SensorRuntime
from sensord.sources.base import Source


def pms_frame(value: int) -> bytes:
    """A PMS5003 data frame: 13 data words, the 16-bit sum of the 30 bytes before it."""
    body = b"\x42\x4d\x00\x1c" + b"".join(v.to_bytes(2, "big") for v in [value] * 12 + [0])
    return body + (sum(body) % 65536).to_bytes(2, "big")


def sds011_frame(value: int) -> bytes:
    """An SDS011 data frame: PM2.5 and PM10 in tenths, the device id, the sum, AB."""
    body = value.to_bytes(2, "little") * 2 + b"\xa1\x60"
    return b"\xaa\xc0" + body + bytes([sum(body) % 256]) + b"\xab"


def mhz19_reply(ppm: int) -> bytes:
    body = bytes([0x86, ppm >> 8, ppm & 0xFF, 62, 0, 0, 0])
    return b"\xff" + body + bytes([-sum(body) % 256])


class Responder:
    """A device on a pty master. ``frame``: one data frame, sent every ``period_s`` while
    ``streams`` (None: never on its own). ``answer``: what it writes back for the bytes
    written to it (None: it hears nothing, as with TX and RX crossed)."""

    def __init__(
        self,
        pair: PtyPair,
        *,
        frame: Callable[[], bytes] | None = None,
        period_s: float = 0.5,
        answer: Callable[[bytes], bytes] | None = None,
    ) -> None:
        assert pair.master_fd is not None
        self.fd = pair.master_fd
        self.frame = frame
        self.period_s = period_s
        self.answer = answer
        self.heard = b""
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        next_at = time.monotonic() + self.period_s
        while not self._stop.is_set():
            ready, _, _ = select.select([self.fd], [], [], 0.02)
            try:
                if ready:
                    data = os.read(self.fd, 1024)
                    if self.answer is not None:
                        self.heard += data
                        out = self.answer(data)
                        if out:
                            os.write(self.fd, out)
                if self.frame is not None and time.monotonic() >= next_at:
                    os.write(self.fd, self.frame())
                    next_at += self.period_s
            except OSError:
                return

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


def reads_only(preset: str, frame: Callable[[], bytes]) -> Callable[[bytes], bytes]:
    """A clone that answers the preset's read request with a data frame and ignores every
    other command (no acknowledgement)."""
    device = PresetDevice(preset)

    def answer(data: bytes) -> bytes:
        return b"".join(frame() for reply in device.receive(data) if reply is None)

    return answer


@contextmanager
def responders(count: int) -> Iterator[list[PtyPair]]:
    pairs = [PtyPair() for _ in range(count)]
    try:
        yield pairs
    finally:
        for pair in pairs:
            pair.close()


SENSOR = """
[[sensors]]
name = "{name}"
port = "{port}"
simulate = "never"
warmup_s = 0
stale_after_s = 3
{table}
"""


@pytest.mark.slow
def test_the_daemon_names_the_causes_of_silent_and_mismatched_binary_sensors(
    tmp_path: Path,
) -> None:
    tables = {
        # TX and RX crossed: the PMS hears its set-up command no more than it sends
        "pms_deaf": ('preset = "pms5003"\nsetup = ["active_mode"]', {}),
        # an SDS011 left in query mode by another program: it hears, and sends nothing
        "sds_quiet": ('preset = "sds011"', {}),
        # an MH-Z19 clone that answers its polls, and not abc_off
        "co2_clone": (
            'preset = "mhz19"\nsetup = ["abc_off"]\npoll = { interval_s = 0.5 }',
            {"answer": reads_only("mhz19", lambda: mhz19_reply(650))},
        ),
        # neighbouring models read with the wrong preset
        "sds_as_pms": ('preset = "pms5003"', {"frame": lambda: sds011_frame(123)}),
        "pms_as_sds": ('preset = "sds011"', {"frame": lambda: pms_frame(7)}),
    }
    with responders(len(tables)) as pairs:
        config = "".join(
            SENSOR.format(name=name, port=pair.path, table=table)
            for (name, (table, _)), pair in zip(tables.items(), pairs, strict=True)
        )
        devices = [
            Responder(pair, **kwargs)  # type: ignore[arg-type]
            for (_, kwargs), pair in zip(tables.values(), pairs, strict=True)
        ]
        daemon = DaemonProcess(config=config, tmp_path=tmp_path)
        try:
            daemon.wait_http()

            def hints() -> dict[str, str | None]:
                return {name: s["hint"] for name, s in daemon.status()["sensors"].items()}

            wait_for(
                lambda: all(hints()[name] for name in tables if name != "co2_clone"),
                20,
                "a stale hint for each sensor that gives nothing",
            )
            wait_for(
                lambda: bool(
                    daemon.events("set-up commands ignored: the device answers, but not them")
                ),
                20,
                "the clone's ignored set-up command named",
            )
            got = hints()
            status = daemon.status()["sensors"]
        finally:
            for device in devices:
                device.stop()
            assert daemon.stop() == 0
    # silent: the wiring, and the model's own ways of saying nothing
    deaf = got["pms_deaf"]
    assert deaf is not None
    assert deaf.startswith("no bytes came: check the wiring (the device's TX to the adapter's RX")
    assert "a wrong baud rate would still bring bytes" in deaf
    assert "its set-up commands got no reply either (active_mode)" in deaf
    assert "SET pin is low" in deaf
    quiet = got["sds_quiet"]
    assert quiet is not None
    assert "got no reply either" not in quiet  # it has no set-up
    assert "left asleep or in query mode by another program" in quiet
    # the clone: missing, then known to answer polls and ignore the command
    assert status["co2_clone"]["state"] == "up"
    assert status["co2_clone"]["setup_ack_errors"] == {"missing": 1, "wrong": 0}
    missing = {
        (e["sensor"], e["command"]): e["hint"]
        for e in daemon.events("set-up command not acknowledged")
    }
    assert missing == {
        ("pms_deaf", "active_mode"): NOTHING_CAME_HINT,
        ("co2_clone", "abc_off"): NOTHING_CAME_HINT,  # not polled yet: no byte came
    }
    [ignored] = daemon.events("set-up commands ignored: the device answers, but not them")
    assert (ignored["sensor"], ignored["commands"], ignored["hint"]) == (
        "co2_clone",
        ["abc_off"],
        IGNORED_COMMAND_HINT,
    )
    # the wrong preset: the one that reads the frames that came
    assert got["sds_as_pms"] is not None
    assert got["sds_as_pms"].endswith(
        'preset "sds011" reads the 10-byte frames starting aa c0 in the bytes (their checksums '
        "good)"
    )
    assert got["pms_as_sds"] is not None
    assert 'presets "pms5003", "pms7003", "pmsa003"' in got["pms_as_sds"]


def test_a_pms_that_sends_but_ignores_its_set_up_is_told_from_a_deaf_one() -> None:
    """A streaming PMS clone that never acknowledges active_mode: its bytes came, so the
    missing acknowledgement's warning says the device ignores the command at once."""
    text = (
        '[[sensors]]\nname = "s"\nport = "{port}"\npreset = "pms5003"\nwarmup_s = 0\n'
        'setup = ["active_mode"]\n'
    )
    clock = Clock()
    with PtyPair() as pair:
        device = Responder(pair, frame=lambda: pms_frame(5), period_s=0.02)
        config = parse_config(text.format(port=pair.path)).sensors[0]
        runtime = SensorRuntime(config, clock=clock, wall_clock=clock)
        try:
            assert runtime.try_open()
            with capture_logs() as logs:
                end = clock.now + 10.0
                while runtime.setup_ack_errors["missing"] == 0 and clock.now < end:
                    source = runtime.source
                    assert source is not None
                    deliver_some(runtime, source)  # a frame or more each 0.2 s of its clock
                    runtime.tick(clock.now)
                    clock.now += 0.2
        finally:
            device.stop()
            runtime.stop()
    [line] = [e for e in logs if e["event"] == "set-up command not acknowledged"]
    assert line["hint"] == IGNORED_COMMAND_HINT
    assert not [e for e in logs if e["event"].startswith("set-up commands ignored")]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def sds011_on_a_period(
    pauses: list[float], setup: str = ""
) -> tuple[str | None, list[MutableMapping[str, Any]]]:
    """An SDS011 sensor on a real pty whose device sends a frame, then one after each of
    ``pauses`` (the sensor ticked, and so stale, halfway through each): its stale hint
    after the last frame, and the log events."""
    text = '[[sensors]]\nname = "s"\nport = "{port}"\npreset = "sds011"\nwarmup_s = 0\n' + setup
    clock = Clock()
    with PtyPair() as pair, capture_logs() as logs:
        config = parse_config(text.format(port=pair.path)).sensors[0]
        runtime = SensorRuntime(config, clock=clock, wall_clock=clock)
        assert runtime.try_open()
        try:
            deliver(runtime, pair, sds011_frame(100))
            for pause in pauses:
                clock.now += pause / 2
                runtime.tick(clock.now)
                assert runtime.state == "stale"
                clock.now += pause / 2
                deliver(runtime, pair, sds011_frame(100))
            clock.now += pauses[-1] / 2
            runtime.tick(clock.now)
            assert runtime.state == "stale"
            hint = runtime.stale_hint
        finally:
            runtime.stop()
    return hint, logs


def deliver_some(runtime: SensorRuntime, source: Source) -> None:
    """What the device has sent, fed as the reader loop reads it: at least one byte."""
    got = b""
    deadline = time.monotonic() + 2.0
    while not got and time.monotonic() < deadline:
        got = source.read()
        if not got:
            time.sleep(0.001)
    assert got
    runtime.feed(got)


def feed_answer(runtime: SensorRuntime, source: Source) -> None:
    """What the device has sent, fed as the reader loop reads it, up to the answer to the
    poll request the last tick wrote, if it wrote one."""
    dialogue = runtime.dialogue
    assert dialogue is not None
    deadline = time.monotonic() + 2.0
    runtime.feed(source.read())
    while dialogue.awaiting_response and time.monotonic() < deadline:
        time.sleep(0.001)
        runtime.feed(source.read())
    assert not dialogue.awaiting_response


def deliver(runtime: SensorRuntime, pair: PtyPair, data: bytes) -> None:
    """``data`` written on the device's side of ``pair`` and fed as the reader loop reads it."""
    pair.write(data)
    source = runtime.source
    assert source is not None
    got = 0
    deadline = time.monotonic() + 2.0
    while got < len(data) and time.monotonic() < deadline:
        chunk = source.read()
        got += len(chunk)
        if chunk:
            runtime.feed(chunk)
    assert got == len(data)


def test_an_sds011_left_on_a_working_period_is_named_after_two_like_pauses() -> None:
    stale_hint, logs = sds011_on_a_period([1800.4, 1799.6])
    ups = [e for e in logs if e.get("state") == "up" and e.get("previous") == "stale"]
    assert [e.get("pause_s") for e in ups] == [1800.4, 1799.6]
    assert "hint" not in ups[0]  # one pause is no period yet
    hint = ups[1]["hint"]
    assert hint.startswith("frames come once every 1800 s, two pauses running")
    assert "an SDS011 on a working period of 30 minutes" in hint
    assert 'setup = ["working_period=30"] expects that' in hint
    # while it waits for the next frame, /status says so instead of "no bytes came"
    assert stale_hint == hint


def test_pauses_that_differ_are_no_period() -> None:
    stale_hint, logs = sds011_on_a_period([1800.0, 600.0])
    ups = [e for e in logs if e.get("state") == "up" and e.get("previous") == "stale"]
    assert [e.get("pause_s") for e in ups] == [1800.0, 600.0]
    assert not [e for e in ups if "hint" in e]
    assert stale_hint is not None
    assert stale_hint.startswith("no bytes came")


def test_a_period_that_is_no_whole_minute_names_no_working_period() -> None:
    _, logs = sds011_on_a_period([95.0, 95.0], setup="stale_after_s = 10\n")
    [*_, up] = [e for e in logs if e.get("state") == "up" and e.get("previous") == "stale"]
    assert up["hint"].startswith("frames come once every 95 s, two pauses running")
    assert "SDS011" not in up["hint"]


def test_the_preset_hint_needs_whole_frames_with_good_checksums() -> None:
    sds = sds011_frame(42)
    assert FITTING_FRAMES == 2
    assert preset_hint("pms5003", sds) is None  # one frame may be noise
    assert preset_hint("pms5003", sds * 2) is not None
    broken = sds[:-2] + bytes([sds[-2] ^ 1]) + sds[-1:]
    assert preset_hint("pms5003", broken * 5) is None
    assert preset_hint("sds011", sds * 5) is None  # its own frames: no other preset
    # a sensor without a preset (a frame spec, or another format) is pointed at one too
    hint = preset_hint(None, pms_frame(3) * 2)
    assert hint is not None
    assert hint.startswith('presets "pms5003", "pms7003"')
    assert preset_hint(None, mhz19_reply(500) * 2) == (
        'preset "mhz19" reads the 9-byte frames starting ff 86 in the bytes (their checksums good)'
    )


def test_a_pms3003_is_not_told_to_take_commands() -> None:
    hint = silent_hint("pms3003")
    assert hint is not None
    assert "SET pin" in hint
    assert "setup" not in hint
    assert silent_hint(None) is None


def test_a_clone_ignoring_its_set_up_on_a_port_that_reconnects_is_named_once_a_minute() -> None:
    """An MH-Z19 clone that answers its polls and ignores abc_off, on a port opened again
    every 13 s (a flapping adapter): each connect counts the command missing, and that the
    device ignores it is logged once a minute, with the connects held back meanwhile."""
    text = (
        '[[sensors]]\nname = "co2"\nport = "{port}"\npreset = "mhz19"\nwarmup_s = 0\n'
        'setup = ["abc_off"]\npoll = {{ interval_s = 0.5 }}\n'
    )
    clock = Clock()
    with PtyPair() as pair, capture_logs() as logs:
        device = Responder(pair, answer=reads_only("mhz19", lambda: mhz19_reply(650)))
        config = parse_config(text.format(port=pair.path)).sensors[0]
        runtime = SensorRuntime(config, clock=clock, wall_clock=clock)
        try:
            for _ in range(6):
                assert runtime.try_open()
                for _ in range(120):
                    clock.now += 0.1
                    runtime.tick(clock.now)
                    source = runtime.source
                    assert source is not None
                    feed_answer(runtime, source)
                runtime.close_source()
                clock.now += 1.0
            errors = runtime.setup_ack_errors
        finally:
            device.stop()
            runtime.stop()
    assert errors == {"missing": 6, "wrong": 0}
    ignored = [e for e in logs if e["event"].startswith("set-up commands ignored")]
    told = [(e["commands"], e["suppressed"]) for e in ignored]
    assert told == [(["abc_off"], 0), (["abc_off"], 4)], ignored


@pytest.mark.slow
def test_a_dead_polled_device_is_not_warned_of_every_minute_for_as_long_as_it_stays_dead(
    start_daemon: StartDaemon, pty_pair: PtyPair
) -> None:
    """A device polled every 5 s that never answers, for 40 minutes of the daemon's clock
    (sped up 480 times by libfaketime): its first unanswered polls are a warning, then the
    sensor goes stale with a hint that names the poll, and stays so; the hourly reminder
    tells it goes on (README, Logging). Not a ``no response to poll request`` warning a
    minute on top (43,000 lines in a month); sensord_poll_timeouts_total counts every one."""
    daemon = start_daemon(
        config=(
            f'[[sensors]]\nname = "dead"\nport = "{pty_pair.path}"\nformat = "value"\n'
            'poll = { request = "R\\r\\n", interval_s = 5 }\nchannels = [{ name = "v" }]\n'
        ),
        env={"LD_PRELOAD": libfaketime(), "FAKETIME": "+0 x480"},
    )
    daemon.wait_http()
    stop = threading.Event()

    def drain() -> None:  # the device hears the requests and never answers
        while not stop.is_set():
            if pty_pair.read(4096, 0.1) == b"" and pty_pair.master_fd is None:
                return

    thread = threading.Thread(target=drain, daemon=True)
    thread.start()
    try:
        wait_for(
            lambda: daemon.scrape().get("sensord_poll_timeouts_total", 0.0, sensor="dead") >= 400,
            30.0,
            "400 polls unanswered",
            0.2,
        )
        assert daemon.stop(30.0) == 0
    finally:
        stop.set()
        thread.join(5.0)
    [stale] = [e for e in daemon.events("sensor state") if e["state"] == "stale"]
    assert "polled" in stale["hint"]
    warned = daemon.events("no response to poll request")
    assert 1 <= len(warned) <= 3, [(e["timestamp"], e["suppressed"]) for e in warned]
