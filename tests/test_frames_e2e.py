"""The real daemon against a binary request/response sensor on a pty: an MH-Z19 responder
that answers the read request and acknowledges the set-up commands like the device, and sees
the set-up commands on every connect; and the daemon polling simulated preset devices."""

from __future__ import annotations

import math
import os
import select
import signal
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

import pytest
from harness.common import wait_for
from harness.daemon import DaemonProcess
from harness.pty import PtyPair, symlinked_pty

pytestmark = pytest.mark.slow

READ = bytes.fromhex("FF 01 86 00 00 00 00 00 79")
ABC_OFF = bytes.fromhex("FF 01 79 00 00 00 00 00 86")
RANGE_5000 = bytes.fromhex("FF 01 99 00 00 00 13 88 CB")  # 0x100 - 0x35

CONFIG = """
[[sensors]]
name = "co2"
port = "{port}"
preset = "mhz19"
simulate = "never"
setup = ["abc_off", "range=5000"]
poll = {{ command = "read", interval_s = 0.2 }}
warmup_s = 0  # the preset's 3 minutes: tests/test_frames_commands.py covers the warm-up
"""


def reply(ppm: int) -> bytes:
    body = bytes([0x86, ppm >> 8, ppm & 0xFF, 62, 0, 0, 0])
    return b"\xff" + body + bytes([-sum(body) % 256])


def ack(command: bytes) -> bytes:
    """The MH-Z19's reply to a set command: FF, the command byte, 01, the checksum."""
    body = bytes([command[2], 1, 0, 0, 0, 0, 0])
    return b"\xff" + body + bytes([-sum(body) % 256])


class Mhz19:
    """A device on a pty master: records every 9-byte command, answers reads with a reply
    and the set-up commands with their acknowledgement, but for the first ``ignored[command]``
    writes of a command (a device just powered, or busy). Like the sensor, it misses what
    comes within ``deaf_s`` of the command before (counted in ``missed``)."""

    def __init__(
        self,
        pair: PtyPair,
        *,
        ignored: Mapping[bytes, float] = MappingProxyType({}),
        deaf_s: float = 0.03,
    ) -> None:
        assert pair.master_fd is not None
        self.fd = pair.master_fd
        self.ignored = ignored
        self.deaf_s = deaf_s
        self.missed = 0
        self.commands: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        pending = b""
        busy_until = 0.0
        while not self._stop.is_set():
            ready, _, _ = select.select([self.fd], [], [], 0.05)
            if not ready:
                continue
            try:
                data = os.read(self.fd, 1024)
            except OSError:
                return
            if time.monotonic() < busy_until:
                self.missed += len(data)
                continue
            pending += data
            while len(pending) >= 9:
                command, pending = pending[:9], pending[9:]
                busy_until = time.monotonic() + self.deaf_s
                if pending:  # a command right behind this one: missed
                    self.missed += len(pending)
                    pending = b""
                self.commands.append(command)
                if command == READ:
                    os.write(self.fd, b"\x42" + reply(400 + len(self.commands)))
                elif self.commands.count(command) > self.ignored.get(command, 0):
                    os.write(self.fd, ack(command))

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


def test_setup_on_every_connect_and_polls_answered(tmp_path: Path) -> None:
    with symlinked_pty(tmp_path) as linked:
        device = Mhz19(linked.pty)
        config = tmp_path / "sensord.toml"
        config.write_text(CONFIG.format(port=linked.link))
        daemon = DaemonProcess(["--config", str(config)], tmp_path=tmp_path)
        try:
            daemon.wait_http()
            wait_for(lambda: device.commands.count(READ) >= 3, 5, "three polls")
            assert device.commands[:2] == [ABC_OFF, RANGE_5000]
            assert device.missed == 0  # one command at a time, each after the last's reply
            wait_for(
                lambda: daemon.scrape().get("sensord_frames_total", 0, sensor="co2") >= 3,
                5,
                "three replies read",
            )
            samples = daemon.scrape()
            assert samples.value("sensord_reading_value", channel="co2_ppm", sensor="co2") > 400
            assert (
                samples.value("sensord_reading_value", channel="temperature_celsius", sensor="co2")
                == 22
            )
            # the stray 0x42s, and nothing of the acknowledgements
            reads = samples.value("sensord_frames_total", sensor="co2")
            skipped = samples.value("sensord_skipped_bytes_total", sensor="co2")
            assert reads <= skipped <= reads + 1
            assert samples.value("sensord_poll_timeouts_total", sensor="co2") == 0
            wait_for(lambda: time.monotonic() - daemon.started > 2.5, 5, "the replies' time up")
            samples = daemon.scrape()
            for reason in ("missing", "wrong"):
                errors = samples.value(
                    "sensord_setup_ack_errors_total", sensor="co2", reason=reason
                )
                assert errors == 0
            # unplug and replug a device that ignores the first write of abc_off and never
            # acknowledges range: abc_off goes out twice, range three times, then the polls
            device.stop()
            linked.unplug()
            fresh = linked.replug()
            device = Mhz19(fresh, ignored={ABC_OFF: 1, RANGE_5000: math.inf})
            wait_for(lambda: device.commands.count(READ) >= 1, 15, "polls after the reconnect")
            assert device.commands[:6] == [ABC_OFF, ABC_OFF, *[RANGE_5000] * 3, READ]
            wait_for(
                lambda: (
                    daemon.scrape().get(
                        "sensord_setup_ack_errors_total", 0, sensor="co2", reason="missing"
                    )
                    == 1
                ),
                5,
                "range missed",
            )
            status = daemon.status()["sensors"]["co2"]
            assert status["setup_ack_errors"] == {"missing": 1, "wrong": 0}
            assert status["poll_timeouts"] == 0
            wait_for(lambda: bool(daemon.events("set-up command not acknowledged")), 5, "its line")
            lines = daemon.events("set-up command not acknowledged")
            assert [(e["sensor"], e["command"], e["reason"], e["tries"]) for e in lines] == [
                ("co2", "range=5000", "missing", 3)
            ]
        finally:
            device.stop()
            assert daemon.stop() == 0


WARMING = """
[[sensors]]
name = "co2"
port = "{port}"
preset = "mhz19"
simulate = "never"
poll = {{ command = "read", interval_s = 0.2 }}
warmup_s = {warmup_s}
"""


def test_a_reload_that_changes_a_sensor_does_not_warm_its_device_up_again(
    tmp_path: Path,
) -> None:
    """A SIGHUP that changes a sensor (its ``warmup_s`` here) restarts it on the same port:
    the device was powered all along, so its readings go on without a second warm-up. A
    warm-up under way at a reload goes on to its end (``warmup_s`` after it started)."""
    with symlinked_pty(tmp_path) as linked:
        device = Mhz19(linked.pty)
        config = tmp_path / "sensord.toml"
        config.write_text(WARMING.format(port=linked.link, warmup_s=1))
        daemon = DaemonProcess(["--config", str(config)], tmp_path=tmp_path)

        def readings() -> float:
            return daemon.scrape().get(
                "sensord_reading_timestamp_seconds", 0, sensor="co2", channel="co2_ppm"
            )

        try:
            daemon.wait_http()
            wait_for(
                lambda: bool(daemon.events("warmed up: readings are published")), 5, "warmed up"
            )
            wait_for(lambda: readings() > 0, 5, "readings")
            config.write_text(WARMING.format(port=linked.link, warmup_s=60))
            daemon.signal(signal.SIGHUP)
            wait_for(lambda: bool(daemon.events("configuration reloaded")), 5, "the reload")
            assert daemon.events("configuration reloaded")[0]["restarted"] == ["co2"]
            published = readings()
            wait_for(lambda: readings() > published, 5, "readings after the reload")
            assert daemon.status()["sensors"]["co2"]["warmup_left_s"] is None
            assert len(daemon.events("warming up: readings are published after warmup_s")) == 1
        finally:
            device.stop()
            assert daemon.stop() == 0


STREAMING = """
[[sensors]]
name = "{name}"
port = "{port}"
format = "value"
simulate = "never"
warmup_s = 1.5
channels = [{{ name = "v" }}]
"""


def test_a_reload_that_renames_or_swaps_sensors_does_not_warm_their_open_devices_up_again(
    tmp_path: Path,
) -> None:
    """Only the first open of a device port in the run, or one after its device was gone,
    warms up. A SIGHUP that swaps two sensors' ports (a miswiring fixed) and renames one
    stops them and starts new ones on the same two ports, whose devices streamed all along:
    their readings go on at once, without a second warm-up."""
    with PtyPair() as left, PtyPair() as right:
        stop = threading.Event()

        def stream(pair: PtyPair, base: int) -> None:
            n = 0
            while not stop.is_set():
                try:
                    pair.write(b"%d\n" % (base + n % 100))
                except OSError:
                    return
                n += 1
                time.sleep(0.01)

        writers = [
            threading.Thread(target=stream, args=(pair, base), daemon=True)
            for pair, base in ((left, 1000), (right, 2000))
        ]
        for writer in writers:
            writer.start()
        config = tmp_path / "sensord.toml"
        config.write_text(
            STREAMING.format(name="a", port=left.path) + STREAMING.format(name="b", port=right.path)
        )
        daemon = DaemonProcess(["--config", str(config)], tmp_path=tmp_path)

        def published(sensor: str) -> float:
            return daemon.scrape().get("sensord_reading_value", 0, sensor=sensor, channel="v")

        try:
            daemon.wait_http()
            wait_for(
                lambda: len(daemon.events("warmed up: readings are published")) == 2, 5, "warmed up"
            )
            config.write_text(
                STREAMING.format(name="a", port=right.path)
                + STREAMING.format(name="b2", port=left.path)
            )
            daemon.signal(signal.SIGHUP)
            wait_for(lambda: bool(daemon.events("configuration reloaded")), 5, "the reload")
            reloaded = daemon.events("configuration reloaded")[0]
            assert (reloaded["restarted"], reloaded["added"]) == (["a"], ["b2"])
            # the swapped readings are published well within the 1.5 s warm-up
            wait_for(
                lambda: published("a") >= 2000 and published("b2") >= 1000,
                1.0,
                "readings of the swapped ports",
            )
            sensors = daemon.status()["sensors"]
            assert sensors["a"]["warmup_left_s"] is None
            assert sensors["b2"]["warmup_left_s"] is None
            assert len(daemon.events("warming up: readings are published after warmup_s")) == 2
        finally:
            stop.set()
            assert daemon.stop() == 0


SIMULATED = """
[[sensors]]
name = "particulates"
port = "sim://particulates"
preset = "pms5003"
setup = ["passive_mode"]
poll = { command = "read", interval_s = 0.5 }

[[sensors]]
name = "co2"
port = "sim://co2"
preset = "mhz19"
setup = ["abc_off", "range=5000"]
poll = { command = "read", interval_s = 0.5 }
"""


def test_simulated_presets_are_polled_and_acknowledge_their_set_up(tmp_path: Path) -> None:
    config = tmp_path / "sensord.toml"
    config.write_text(SIMULATED)
    daemon = DaemonProcess(["--config", str(config)], tmp_path=tmp_path)
    try:
        daemon.wait_http()
        wait_for(
            lambda: daemon.status()["sensors"]["co2"]["frames"] >= 5, 10, "five polls answered"
        )
        wait_for(lambda: time.monotonic() - daemon.started > 2.5, 5, "the replies' time up")
        status = daemon.status()["sensors"]
        samples = daemon.scrape()
        for name in ("particulates", "co2"):
            entry = status[name]
            assert entry["simulated"]
            assert entry["setup_ack_errors"] == {"missing": 0, "wrong": 0}
            assert entry["skipped_bytes"] == 0
            assert not any(entry["parse_errors"].values())
            assert entry["poll_timeouts"] == 0
            for reason in ("missing", "wrong"):
                assert (
                    samples.value("sensord_setup_ack_errors_total", sensor=name, reason=reason) == 0
                )
        # polled every 0.5 s, not streaming: at most one frame per poll, plus the PMS5003's
        # first frame before its set-up command
        age = time.monotonic() - daemon.started
        assert status["co2"]["frames"] <= age / 0.5 + 1
        assert status["particulates"]["frames"] <= age / 0.5 + 2
    finally:
        assert daemon.stop() == 0
