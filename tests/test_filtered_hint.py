"""A channel whose readings come and are every one dropped by its filter: a ``filter`` for
another unit or range than the device's (metres against millimetres), or a device that sends a
fault value in place of its reading. The sensor is up and frames come, so neither staleness
nor the rejected-frames hint says anything; this hint does."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import Any

from harness.config import load_sensors
from structlog.testing import capture_logs
from test_config_effects import Clock

from sensord.sensor import SensorRuntime

SENSOR: dict[str, Any] = {
    "name": "level",
    "port": "sim://level",
    "format": "kv",
    "stale_after_s": 5.0,
    "channels": [
        {"name": "distance", "field": "d", "filter": {"min": 0.03, "max": 4.5}},
        {"name": "temperature", "field": "t"},
    ],
}


def run(lines: list[bytes], seconds: int) -> tuple[SensorRuntime, list[MutableMapping[str, Any]]]:
    """The sensor fed ``lines`` in turn, one a second, its tick after each."""
    clock = Clock()
    runtime = SensorRuntime(load_sensors(SENSOR).sensors[0], clock=clock, wall_clock=clock)
    assert runtime.try_open()
    with capture_logs() as logs:
        for second in range(seconds):
            clock.now += 1.0
            runtime.feed(lines[second % len(lines)])
            runtime.tick(clock.now)
    return runtime, logs


def test_a_channel_whose_every_reading_the_filter_drops_is_told() -> None:
    # millimetres where the filter expects metres
    runtime, logs = run([b"d=1953,t=21.5\n"], 12)
    hint = runtime.snapshot().hint
    assert hint is not None
    assert hint.startswith("readings come, but the filter drops every one of distance ("), hint
    assert "check its filter.min and filter.max" in hint
    [told] = [e for e in logs if e["event"] == "no reading: every reading dropped by the filter"]
    assert told["channel"] == "distance"
    assert runtime.snapshot().state == "up"


def test_a_channel_whose_readings_pass_now_and_then_is_not_told() -> None:
    runtime, logs = run([b"d=1953,t=21.5\n", b"d=1953,t=21.5\n", b"d=1.953,t=21.5\n"], 12)
    assert runtime.snapshot().hint is None
    assert not [e for e in logs if "filter" in e["event"]]


def test_the_hint_goes_when_readings_pass_again_and_the_log_says_so() -> None:
    """The sensor stays up throughout: without a line of its own, a journal ending at the
    warning would read as a channel still without readings."""
    clock = Clock()
    runtime = SensorRuntime(load_sensors(SENSOR).sensors[0], clock=clock, wall_clock=clock)
    assert runtime.try_open()
    with capture_logs() as logs:
        for _ in range(8):
            clock.now += 1.0
            runtime.feed(b"d=1953,t=21.5\n")
            runtime.tick(clock.now)
        assert runtime.snapshot().hint is not None
        clock.now += 1.0
        runtime.feed(b"d=1.953,t=21.5\n")
        runtime.tick(clock.now)
        assert runtime.snapshot().hint is None
        for _ in range(3):
            clock.now += 1.0
            runtime.feed(b"d=1.953,t=21.5\n")
            runtime.tick(clock.now)
    [again] = [e for e in logs if e["event"] == "readings again"]
    assert again["log_level"] == "info"
    assert again["channel"] == "distance"
    assert again["after"] == "no reading: every reading dropped by the filter"
    assert again["for_s"] == 8
