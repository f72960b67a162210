"""One read model: /status and /metrics render the same sensor snapshot, so every counter
agrees between them, also while the sensors deliver as fast as they can."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from harness.common import HarnessError, wait_for
from harness.config import sensor_toml
from harness.daemon import DaemonProcess, running
from prometheus_client.parser import text_string_to_metric_families

from sensord.config import parse_config
from sensord.sensor import SensorRuntime
from sensord.snapshot import SensorSnapshot

#: How long the daemon may take to show what its sensors deliver every 50 ms: a fail-safe
#: for a host whose load holds the daemon back for seconds, not a speed the test asserts.
MOVED_WITHIN_S = 60.0

#: /status counter of a sensor -> the counter family on /metrics
SENSOR_COUNTERS = {
    "frames": "sensord_frames",
    "bytes_read": "sensord_read_bytes",
    "skipped_bytes": "sensord_skipped_bytes",
    "reconnects": "sensord_serial_reconnects",
    "open_failures": "sensord_serial_open_failures",
    "ignored_frames": "sensord_frames_ignored",
    "unchecked_frames": "sensord_frames_unchecked",
    "poll_timeouts": "sensord_poll_timeouts",
    "setup_reruns": "sensord_setup_reruns",
    "pipeline_errors": "sensord_pipeline_errors",
}

#: a Modbus device's /status counter (under "modbus") -> the counter family on /metrics
MODBUS_COUNTERS = {
    "transactions": "sensord_modbus_transactions",
    "timeouts": "sensord_modbus_timeouts",
    "split_reads": "sensord_modbus_split_reads",
    "polls_missed": "sensord_modbus_polls_missed",
}

#: a simulated Modbus device, polled every 50 ms
MODBUS_DEVICE = """
[[sensors]]
name = "meter"
port = "sim://line"
format = "modbus"
serial = { baudrate = 115200 }
modbus = { unit = 7, interval_s = 0.05 }
registers = [{ name = "v", ref = "30001", type = "float32" }]
channels = [{ name = "v" }]
"""


def counters_from_metrics(text: str) -> dict[tuple[str, ...], float]:
    """Every per-sensor counter sample, keyed like ``counters_from_status``."""
    out: dict[tuple[str, ...], float] = {}
    by_family = {family: key for key, family in SENSOR_COUNTERS.items()}
    modbus_family = {family: key for key, family in MODBUS_COUNTERS.items()}
    for family in text_string_to_metric_families(text):
        if family.type != "counter":
            continue
        for s in family.samples:
            if not s.name.endswith("_total") or "sensor" not in s.labels:
                continue
            sensor = s.labels["sensor"]
            if family.name in by_family:
                out[(sensor, by_family[family.name])] = s.value
            elif family.name in modbus_family:
                out[(sensor, "modbus", modbus_family[family.name])] = s.value
            elif family.name == "sensord_modbus_errors":
                out[(sensor, "modbus", "errors", s.labels["reason"])] = s.value
            elif family.name == "sensord_modbus_exceptions":
                out[(sensor, "modbus", "exceptions", s.labels["code"])] = s.value
            elif family.name == "sensord_parse_errors":
                out[(sensor, "parse_errors", s.labels["reason"])] = s.value
            elif family.name == "sensord_setup_ack_errors":
                out[(sensor, "setup_ack_errors", s.labels["reason"])] = s.value
            elif family.name == "sensord_step_records_in":
                out[(sensor, "step", s.labels["step"], "in")] = s.value
            elif family.name == "sensord_step_records_out":
                out[(sensor, "step", s.labels["step"], "out")] = s.value
            elif family.name == "sensord_serial_line_errors":
                out[(sensor, "line_errors", s.labels["kind"])] = s.value
            elif family.name == "sensord_step_dropped":
                key = (sensor, "step", s.labels["step"], "dropped", s.labels["reason"])
                out[key] = s.value
            else:
                raise AssertionError(f"a per-sensor counter /status does not show: {family.name}")
    return out


def counters_from_status(status: dict[str, Any]) -> dict[tuple[str, ...], float]:
    out: dict[tuple[str, ...], float] = {}
    for sensor, entry in status["sensors"].items():
        for key in SENSOR_COUNTERS:
            out[(sensor, key)] = entry[key]
        for reason, n in entry["parse_errors"].items():
            out[(sensor, "parse_errors", reason)] = n
        for reason, n in entry["setup_ack_errors"].items():
            out[(sensor, "setup_ack_errors", reason)] = n
        for kind, n in (entry["line_errors"] or {}).items():
            out[(sensor, "line_errors", kind)] = n
        modbus = entry.get("modbus")
        if modbus is not None:
            for key in MODBUS_COUNTERS:
                out[(sensor, "modbus", key)] = modbus[key]
            for reason, n in modbus["errors"].items():
                out[(sensor, "modbus", "errors", reason)] = n
            for code, n in modbus["exceptions"].items():
                out[(sensor, "modbus", "exceptions", code)] = n
        for step, counts in entry["steps"].items():
            out[(sensor, "step", step, "in")] = counts["in"]
            out[(sensor, "step", step, "out")] = counts["out"]
            for reason, n in counts["dropped"].items():
                out[(sensor, "step", step, "dropped", reason)] = n
    return out


def frames_past(
    daemon: DaemonProcess, counters: dict[tuple[str, ...], float], timeout_s: float
) -> dict[tuple[str, ...], float]:
    """The counters of the first /metrics scrape in which a sensor's frames are past
    ``counters``' (the sensors moved since they were taken); HarnessError after ``timeout_s``,
    a fail-safe: the sensors deliver every 50 ms on a steady host."""
    deadline = time.monotonic() + timeout_s
    while True:
        scraped = counters_from_metrics(daemon.metrics_text())
        if any(key[1] == "frames" and scraped[key] > counters[key] for key in counters):
            return scraped
        if time.monotonic() > deadline:
            raise HarnessError(f"no sensor's frames moved in {timeout_s} s: not under load")
        time.sleep(0.01)


@pytest.mark.slow
def test_status_and_metrics_agree_on_every_counter_under_load(tmp_path: Path) -> None:
    """/status, read between two /metrics scrapes, shows every counter between the two, while
    the sensors deliver: the second scrape is the first in which a sensor's frames are past
    what /status showed, however long a loaded host takes to get there."""
    noisy = (
        "[sensors.simulation]\nseed = 3\nspike_rate = 0.05\ngarbage_rate = 0.05\n"
        '[[sensors.channels]]\nname = "v"\n[sensors.channels.filter]\nmin = 0\nmax = 60\n'
    )
    config = MODBUS_DEVICE + "".join(
        sensor_toml(f"s{i}", f"sim://s{i}", channels=noisy, rate_hz=2000) for i in range(6)
    )
    path = tmp_path / "sensord.toml"
    path.write_text(config)
    with running(["--config", str(path)], tmp_path=tmp_path) as daemon:
        wait_for(
            lambda: all(
                s["parse_errors"]["range"] > 0
                and s["parse_errors"]["syntax"] + s["parse_errors"]["encoding"] > 0
                for s in daemon.status()["sensors"].values()
                if "modbus" not in s
            ),
            MOVED_WITHIN_S,
            "range drops and garbage on every sensor",
        )
        for _ in range(5):
            before = counters_from_metrics(daemon.metrics_text())
            status = counters_from_status(daemon.status())
            assert set(before) == set(status)
            after = frames_past(daemon, status, MOVED_WITHIN_S)
            assert set(after) == set(status)
            assert ("meter", "modbus", "errors", "crc") in status
            behind = {k: (before[k], v) for k, v in status.items() if v < before[k]}
            ahead = {k: (v, after[k]) for k, v in status.items() if v > after[k]}
            assert not behind, f"/status behind the /metrics scraped before it: {behind}"
            assert not ahead, f"/status ahead of the /metrics scraped after it: {ahead}"


def test_a_snapshot_is_never_taken_inside_a_chunk() -> None:
    """A snapshot asked for (on another thread) while the reader thread takes a chunk waits
    until the chunk is taken: it never counts the chunk's frames without their readings."""
    config = parse_config(
        '[[sensors]]\nname = "t"\nport = "sim://t"\nformat = "value"\nchannels = [{ name = "v" }]\n'
    ).sensors[0]
    runtime = SensorRuntime(config, clock=lambda: 5.0, wall_clock=lambda: 1.7e9)
    runtime.state = "up"
    taken: list[SensorSnapshot] = []
    asker = threading.Thread(target=lambda: taken.append(runtime.snapshot()))
    drain = runtime._drain

    def drain_while_asked(now: float, wall: float) -> None:
        # the chunk's frames are counted, its readings not yet published: ask now
        assert runtime.framer.frames == 2
        asker.start()
        asker.join(0.2)
        assert asker.is_alive()  # it waits for the chunk
        drain(now, wall)

    runtime._drain = drain_while_asked  # type: ignore[method-assign]
    runtime.feed(b"1.5\n2.5\n")
    asker.join(5)
    (snapshot,) = taken
    assert snapshot.frames == 2
    (channel,) = snapshot.channels
    assert channel.stats is not None
    assert (channel.stats.count, channel.stats.reading.value) == (2, 2.5)


class _Changing(int):
    """A count whose formatting lets the reader thread run: it changes ``changed`` then, as
    the reader thread may between two steps of a snapshot's read on another thread."""

    change: Callable[[], None]

    def __new__(cls, value: int, change: Callable[[], None]) -> _Changing:
        made = super().__new__(cls, value)
        made.change = change
        return made

    def __format__(self, spec: str) -> str:
        self.change()
        return super().__format__(spec)

    def __lt__(self, other: object) -> bool:
        self.change()
        return int(self) < other  # type: ignore[operator]


def test_a_snapshot_read_while_the_reader_thread_changes_the_hints_tables() -> None:
    """The channels every reading of which the filter drops, and the values a status
    withholds, change at the reader thread's housekeeping and exchanges, not inside a chunk:
    a snapshot (an HTTP thread's /metrics or /status) read while they change still reads,
    where iterating them as they change raised ``dictionary changed size during
    iteration`` (a scrape answered 500) or took the least of no values."""
    config = parse_config(
        '[[sensors]]\nname = "t"\nport = "sim://t"\nformat = "kv"\n'
        'channels = [{ name = "a" }, { name = "b" }]\n'
    ).sensors[0]
    runtime = SensorRuntime(config, clock=lambda: 50.0, wall_clock=lambda: 1.7e9)
    runtime.state = "up"

    def filter_changes() -> None:
        runtime._filter_watch.filtered.pop("a", None)
        runtime._filter_watch.filtered["b"] = (3, 9.0)

    runtime._filter_watch.filtered["a"] = (_Changing(5, filter_changes), 10.0)
    hint = runtime.snapshot().hint
    assert hint is not None
    assert "a (5 in 10 s)" in hint

    runtime._filter_watch.filtered.clear()
    faults = runtime._withheld.faults
    faults["b"] = 2.0
    faults["a"] = _Changing(1, faults.clear)  # a frame: back to normal
    hint = runtime.snapshot().hint
    assert hint is not None
    assert "the device reports a fault" in hint


def test_a_snapshot_asked_as_a_sensor_goes_stale_waits_for_its_hint() -> None:
    """A sensor goes stale at the reader thread's tick, which sets the state and then the hint
    that says why: a snapshot asked for on another thread meanwhile waits for both, so that
    ``/status`` never shows the stale sensor without its hint."""
    config = parse_config(
        '[[sensors]]\nname = "t"\nport = "sim://t"\nformat = "value"\nstale_after_s = 2\n'
        'channels = [{ name = "v" }]\n'
    ).sensors[0]
    clock = [5.0]
    runtime = SensorRuntime(config, clock=lambda: clock[0], wall_clock=lambda: 1.7e9)
    assert runtime.try_open()
    try:
        assert runtime.state == "up"
        taken: list[SensorSnapshot] = []
        asker = threading.Thread(target=lambda: taken.append(runtime.snapshot()))
        note_hint = runtime._note_hint

        def hint_while_asked(silence: dict[str, Any], now: float) -> None:
            # stale, its hint not noted yet: ask now
            assert runtime.state == "stale"
            asker.start()
            asker.join(0.2)
            assert asker.is_alive()  # it waits for the hint
            note_hint(silence, now)

        runtime._note_hint = hint_while_asked  # type: ignore[method-assign]
        clock[0] += 3.0  # silent past stale_after_s
        runtime.tick(clock[0])
        asker.join(5)
        (snapshot,) = taken
        assert snapshot.state == "stale"
        assert snapshot.hint is not None
        assert snapshot.hint.startswith("no bytes came from the simulated device")
    finally:
        runtime.stop()
