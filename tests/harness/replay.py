"""Replaying a capture through a sensor's real framing, parsing and stages, and the counts it
produced, in the shape ``/status`` reports them (so the two can be compared)."""

from __future__ import annotations

import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from harness.common import HarnessError
from harness.daemon import DaemonProcess
from sensord.config import Config
from sensord.sensor import SensorRuntime
from sensord.sources.replay import ReplaySource

#: The most injected seconds a replay may take (a capture of a minute at speed 0 takes one).
MAX_REPLAY_S = 3600.0


class _Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def replay_counts(sensor_table: dict[str, Any], capture: Path) -> dict[str, Any]:
    """Replay ``capture`` as the port of the ``[[sensors]]`` table given (``port`` and
    ``replay`` are set here: speed 0, no loop) on an injected clock, polling as configured,
    until the capture is played out; the sensor's counts (:func:`counts`)."""
    table = {**sensor_table, "port": f"replay://{capture.resolve()}", "replay": {"speed": 0}}
    errors: list[str] = []
    config = Config.load({"sensors": [table]}, "", errors)
    if config is None:
        raise HarnessError(f"the sensor table is not valid: {errors}")
    clock = _Clock()
    runtime = SensorRuntime(config.sensors[0], clock=clock, wall_clock=clock)
    if not runtime.try_open():
        raise HarnessError(f"cannot replay {capture}: {runtime.last_error}")
    source = runtime.source
    end = clock.now + MAX_REPLAY_S
    assert isinstance(source, ReplaySource)
    while not source.finished:
        if clock.now > end:
            raise HarnessError(f"{capture} did not play out in {MAX_REPLAY_S} s")
        if clock.now >= source.next_due():
            runtime.feed(source.read())
        runtime.tick(clock.now)
        poll_at = runtime.next_deadline()
        due = [source.next_due(), clock.now + 1.0]
        if poll_at is not None:
            due.append(poll_at)
        clock.now = max(clock.now, min(due))
    runtime.stop()
    return counts(runtime.snapshot().as_json())


def counts(status: dict[str, Any]) -> dict[str, Any]:
    """What a capture must reproduce, from a sensor's ``/status`` entry: frames, frames that
    carried no channel, frames read without their protocol's integrity check, readings (into the first stage), readings through every stage, and
    rejected frames and readings by reason."""
    steps = status["steps"]
    first = next(iter(steps.values()), {"in": 0})
    last = list(steps.values())[-1] if steps else {"out": 0}
    return {
        "frames": status["frames"],
        "ignored_frames": status["ignored_frames"],
        "unchecked_frames": status["unchecked_frames"],
        "readings": first["in"],
        "passed": last["out"],
        "parse_errors": {k: v for k, v in status["parse_errors"].items() if v},
    }


def capture_with_counts(
    daemon: DaemonProcess, sensor: str, attempts: int = 50
) -> tuple[bytes, dict[str, Any]]:
    """A sensor's ``/capture`` from a running daemon and its counts at that moment: the counts
    of ``/status`` read before and after the capture, once the two agree (the sensor took no
    chunk meanwhile)."""
    url = f"{daemon.base_url}/capture?{urllib.parse.urlencode({'sensor': sensor})}"
    for _ in range(attempts):
        before = counts(daemon.status()["sensors"][sensor])
        with urllib.request.urlopen(url, timeout=5.0) as response:
            body: bytes = response.read()
        after = counts(daemon.status()["sensors"][sensor])
        if before == after:
            return body, before
    raise HarnessError(f"{sensor} kept taking chunks during {attempts} captures")
