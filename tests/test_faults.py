"""Fault injection against the real daemon on real pseudo-terminals.

Every test runs ``sensord run`` as a subprocess, breaks something (unplugs, locks, permissions,
silence, floods, garbage, a failing stage, signal storms, idle connections) and then checks
what must hold: the daemon is alive and serving, the right counters moved, every pipeline step
balances (``records_in == records_out + sum(dropped)``, exactly) with the drops by reason that
the scenario implies (none where every reading was good, ``error`` only where a stage raised),
and every good line written was counted exactly once.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import os
import pwd
import random
import re
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from harness.balance import assert_sensor_steps
from harness.common import GreetingServer, accepted_clients, up_settled, wait_for
from harness.config import sensor_toml, write_atomically
from harness.daemon import DaemonProcess, StartDaemon, running
from harness.pty import (
    PtyPair,
    SymlinkedPty,
    held_by_subprocess,
    pty_at_path,
    symlinked_pty,
    wait_readable,
)
from harness.scrape import Scrape
from harness.wire import nmea
from structlog.testing import capture_logs
from test_clock_steps import libfaketime

import sensord.reopen as reopen_module
from sensord.config import Config, load_config
from sensord.config_sensor import SensorConfig
from sensord.daemon import Daemon
from sensord.errors import SourceBrokenError, SourceUnavailableError
from sensord.formats.base import ModbusSpec, RegisterSpec
from sensord.reader import Reader
from sensord.sensor import SensorRuntime
from sensord.serial_settings import SerialSettings
from sensord.sources import serial_refusals
from sensord.sources.serial_port import SerialSource
from sensord.sources.simulated_modbus import RtuResponder, SimulatedModbusDevice

pytestmark = pytest.mark.slow

FAST_RECONNECT = 'simulate = "never"\nreconnect = { initial_delay_s = 0.02, max_delay_s = 0.1 }'


def pty_sensor(
    name: str, port: str, extra: str = "", fmt: str = "value", channels: str = ""
) -> str:
    reconnect = FAST_RECONNECT + ("\n" + extra if extra else "")
    return sensor_toml(name, port, fmt, reconnect, channels)


def sim_sensor(name: str, rate_hz: float = 10) -> str:
    return sensor_toml(name, f"sim://{name}", rate_hz=rate_hz)


def assert_no_drops(samples: Scrape, *sensors: str) -> None:
    """Every step of each sensor balances with no drop of any reason: every reading was good
    and nothing raised."""
    for sensor in sensors:
        assert_sensor_steps(samples, sensor)


def every_step(n: int) -> dict[str, int]:
    """``n`` records into each step of the chain."""
    return dict.fromkeys(("filter", "normalize", "window"), n)


def frames(samples: Scrape, sensor: str) -> float:
    return samples.value("sensord_frames_total", sensor=sensor)


def parse_errors(samples: Scrape, sensor: str) -> dict[str, float]:
    return {
        reason: samples.value("sensord_parse_errors_total", sensor=sensor, reason=reason)
        for reason in ("syntax", "checksum", "encoding", "overlong", "nonfinite", "range")
    }


def sensor_state(daemon: DaemonProcess, name: str) -> str:
    state: str = daemon.status()["sensors"][name]["state"]
    return state


def quiet_counts(daemon: DaemonProcess) -> tuple[int, int]:
    """(fds, threads) once no HTTP request thread of an earlier request is left."""
    best = (daemon.fd_count(), daemon.thread_count())
    for _ in range(20):
        time.sleep(0.02)
        now = (daemon.fd_count(), daemon.thread_count())
        best = (min(best[0], now[0]), min(best[1], now[1]))
    return best


# -- unplug / replug ---------------------------------------------------------------------------

CYCLES = 160
LINES_PER_CYCLE = 5
WARM_CYCLES = 110
#: RSS settles slowly while the interpreter's and allocator's caches warm up (structlog, pyserial,
#: the HTTP handler's threads, a simulated sensor alongside): measured +480 KiB over the first 100
#: cycles, about 4 KiB a cycle, then +32 KiB from cycle 100 to 190. The baseline is therefore
#: taken after 110 cycles, and 128 KiB over the 50 cycles after it is 2.6 KiB of growth a
#: cycle. A leak shows in RSS only once it has filled the memory the allocator freed before
#: the baseline: 20 kB held at each open of the port fails the bound (measured: +2.7 MiB), 3 kB
#: held at each open passed it. Descriptors and threads are compared exactly.
RSS_TOLERANCE_KIB = 128
#: Every this many cycles the device writes once the ports are up past CUT_LINE_S, its first
#: line a reading: the others write as soon as the ports are up, behind an empty line.
SETTLED_EVERY = 10


def test_unplug_replug_160_cycles_at_the_same_path_and_through_a_moving_link(
    tmp_path: Path,
) -> None:
    direct = PtyPair()
    path = direct.path
    with symlinked_pty(tmp_path, "usb-FTDI_FT232R_A50285BI-if00-port0") as link:
        config = tmp_path / "sensord.toml"
        write_atomically(
            config,
            pty_sensor("direct", path) + pty_sensor("byid", str(link.link)) + sim_sensor("sim"),
        )
        try:
            with running(["--config", str(config)], tmp_path=tmp_path) as daemon:
                daemon.wait_up_settled(("direct", "byid"), 5)
                baseline: tuple[int, int, int] | None = None
                contested = 0  # cycles in which another process held the pty number a while
                for cycle in range(CYCLES):
                    if cycle == WARM_CYCLES:
                        fds, threads = quiet_counts(daemon)
                        baseline = (fds, threads, daemon.rss_kib())
                    lines = b"".join(f"{cycle}.{j}\n".encode() for j in range(LINES_PER_CYCLE))
                    if cycle % SETTLED_EVERY:
                        # an empty line first: the line a port open within CUT_LINE_S of the
                        # bytes takes for the tail of one it cut, and which the framer drops
                        # as no frame otherwise, so the lines are written once the ports are up
                        lines = b"\n" + lines
                    else:
                        # up for longer than CUT_LINE_S, a quiet device's first line is read:
                        # one lost at a reopen fails the exact counts
                        daemon.wait_up_settled(("direct", "byid"), 5)
                    direct.write(lines)
                    link.pty.write(lines)
                    want = (cycle + 1) * LINES_PER_CYCLE
                    daemon.wait_frames({"direct": want, "byid": want})
                    direct.close_master()
                    link.unplug()
                    # as udev does: the by-id link goes with the device, so that it never
                    # points at a pty number another device gets meanwhile
                    link.link.unlink()
                    daemon.wait_state("down", ("direct", "byid"), 5)
                    direct = pty_at_path(direct)  # closed, and made again at its number
                    contested += direct.contested
                    link.replug()
                    daemon.wait_state("up", ("direct", "byid"), 5)

                assert baseline is not None
                fds, threads = quiet_counts(daemon)
                rss = daemon.rss_kib()
                samples = daemon.scrape()
                total = CYCLES * LINES_PER_CYCLE
                for name in ("direct", "byid"):
                    assert frames(samples, name) == total
                    assert set(parse_errors(samples, name).values()) == {0}
                    reconnects = samples.value("sensord_serial_reconnects_total", sensor=name)
                    # the pty of a process that got the number while it was free (one
                    # outside the suite's pty lock, see pty_at_path), opened at the same
                    # path, is a reconnect to it and one back to ours (the data count above
                    # stays exact whatever)
                    extra = 2 * contested + 2 if name == "direct" else 0
                    assert CYCLES <= reconnects <= CYCLES + extra, (reconnects, contested)
                    assert samples.value("sensord_pipeline_errors_total", sensor=name) == 0
                    assert samples.value("sensord_sensor_up", sensor=name) == 1
                    last = samples.value("sensord_reading_value", sensor=name, channel="v")
                    assert last == float(f"{CYCLES - 1}.{LINES_PER_CYCLE - 1}")
                assert frames(samples, "sim") > 0
                for name in ("direct", "byid"):
                    assert_sensor_steps(samples, name, records_in=every_step(total))
                assert_no_drops(samples, "sim")
                assert (fds, threads) == baseline[:2], (baseline, fds, threads)
                assert rss - baseline[2] <= RSS_TOLERANCE_KIB, (baseline[2], rss)
                assert daemon.uncaught() == []
        finally:
            direct.close()


@pytest.mark.slow
def test_the_last_frame_s_age_goes_on_across_a_reconnect(tmp_path: Path) -> None:
    """A port reopened after an unplug that brings no frame since: the sensor's last frame
    is still the one before (its age in /status and on /metrics goes on growing), not
    "never", which reads as a sensor that never worked (wiring, settings) rather than one
    that stopped; and its alert on the age keeps firing."""
    with symlinked_pty(tmp_path, "usb-FTDI_FT232R_A50285BI-if00-port0") as link:
        config = tmp_path / "sensord.toml"
        write_atomically(config, pty_sensor("byid", str(link.link)))
        with running(["--config", str(config)], tmp_path=tmp_path) as daemon:
            daemon.wait_up_settled(("byid",), 5)
            # the ages are bounded by when the lines were written and framed, and by when
            # /status was asked and answered (the age is rounded to the millisecond): a
            # loaded host's delays, in the test or in the daemon's answers, move both sides
            written_at = time.monotonic()
            link.pty.write(b"1.0\n2.0\n")
            daemon.wait_frames({"byid": 2})
            framed_at = time.monotonic()
            link.unplug()
            link.link.unlink()
            daemon.wait_state("down", ("byid",), 5)
            link.replug()
            wait_for(lambda: daemon.status()["sensors"]["byid"]["reconnects"] == 1, 10, "reopened")
            time.sleep(0.5)
            asked_at = time.monotonic()
            sensor = daemon.status()["sensors"]["byid"]
            answered_at = time.monotonic()
            assert sensor["frames"] == 2
            age = sensor["last_frame_age_s"]
            assert age is not None
            assert asked_at - framed_at - 0.0005 <= age <= answered_at - written_at + 0.0005
            metric = daemon.scrape().value("sensord_sensor_last_frame_age_seconds", sensor="byid")
            assert metric >= age
            written_at = time.monotonic()
            link.pty.write(b"3.0\n")  # a frame on the new connection: its age starts over
            daemon.wait_frames({"byid": 3})
            age = daemon.status()["sensors"]["byid"]["last_frame_age_s"]
            assert age <= time.monotonic() - written_at + 0.0005


# -- a port held by another process -----------------------------------------------------------


def test_port_held_exclusively_by_another_process_is_down_until_released(tmp_path: Path) -> None:
    with PtyPair() as pair:
        config = tmp_path / "sensord.toml"
        write_atomically(config, pty_sensor("held", pair.path) + sim_sensor("sim"))
        holder_cm = held_by_subprocess(pair.path, flock=True)
        holder = holder_cm.__enter__()
        released = False
        try:
            with running(["--config", str(config)], tmp_path=tmp_path) as daemon:
                wait_for(
                    lambda: daemon.status()["sensors"]["held"]["open_failures"] >= 10,
                    5,
                    "10 failed opens",
                )
                status = daemon.status()
                held = status["sensors"]["held"]
                assert held["state"] == "down"
                assert not held["up"]
                assert status["state"] == "degraded"
                assert "is held by another process" in held["last_error"]
                assert f"pid {holder.pid}" in held["last_error"], held["last_error"]
                samples = daemon.scrape()
                assert samples.value("sensord_sensor_up", sensor="held") == 0
                assert samples.value("sensord_sensor_state", sensor="held", state="down") == 1
                assert samples.value("sensord_serial_open_failures_total", sensor="held") >= 10
                assert frames(samples, "held") == 0
                # repeated failures are logged once, not once per attempt
                assert len(daemon.events("open failed")) <= 1
                downs = daemon.wait_events("sensor state", state="down")
                assert len(downs) == 1
                assert "held by another process" in downs[0]["error"]

                holder_cm.__exit__(None, None, None)
                released = True
                daemon.wait_up_settled(("held",), 5)
                pair.write(b"1\n2\n3\n")
                daemon.wait_frames({"held": 3})
                samples = daemon.scrape()
                assert samples.value("sensord_serial_reconnects_total", sensor="held") == 0
                assert_sensor_steps(samples, "held", records_in=every_step(3))
                assert_no_drops(samples, "sim")
                assert daemon.status()["state"] == "running"
        finally:
            if not released:
                holder_cm.__exit__(None, None, None)


# -- permission denied -------------------------------------------------------------------------


@pytest.fixture
def public_dir() -> Iterator[Path]:
    """A directory every user can read (pytest's tmp_path is private to its user)."""
    path = Path(tempfile.mkdtemp(prefix="sensord-faults-"))
    path.chmod(0o755)
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def test_permission_denied_is_reported_and_retried_until_granted(
    tmp_path: Path, public_dir: Path
) -> None:
    """A real EACCES: as root, the daemon runs as ``nobody`` (root passes every mode check)
    on a pty that only root may open; otherwise the device is made unreadable with chmod."""
    with PtyPair() as pair:
        prefix: list[str] = []
        if os.geteuid() == 0:
            nobody = pwd.getpwnam("nobody")
            if shutil.which("setpriv"):
                prefix = ["setpriv", f"--reuid={nobody.pw_uid}", f"--regid={nobody.pw_gid}"]
                prefix += ["--clear-groups", "--"]
            elif shutil.which("runuser"):
                prefix = ["runuser", "-u", "nobody", "--"]
            else:
                pytest.skip("root needs setpriv or runuser to run the daemon as nobody")
            runs = subprocess.run(
                [*prefix, sys.executable, "-c", "import sensord"],
                capture_output=True,
                text=True,
                check=False,
                cwd=public_dir,
            )
            if runs.returncode != 0:
                pytest.fail(
                    f"{sys.executable} cannot run as nobody, which this test needs (a Python "
                    "installed under a directory only root may enter, such as pyenv's under "
                    f"/root): {runs.stderr.strip()}"
                )
            os.chmod(pair.path, 0o600)  # owner root

            def grant() -> None:
                os.chown(pair.path, nobody.pw_uid, -1)

        else:
            os.chmod(pair.path, 0)

            def grant() -> None:
                os.chmod(pair.path, 0o600)

        config = public_dir / "sensord.toml"
        write_atomically(config, pty_sensor("locked", pair.path) + sim_sensor("sim"))
        config.chmod(0o644)
        daemon = DaemonProcess(["--config", str(config)], tmp_path=tmp_path, command_prefix=prefix)
        try:
            daemon.wait_http()
            if prefix:
                assert os.stat(f"/proc/{daemon.proc.pid}").st_uid == nobody.pw_uid
            wait_for(
                lambda: daemon.status()["sensors"]["locked"]["open_failures"] >= 3,
                5,
                "3 failed opens",
            )
            locked = daemon.status()["sensors"]["locked"]
            assert locked["state"] == "down"
            assert f"{pair.path}: permission denied" in locked["last_error"], locked["last_error"]
            assert "usermod" in locked["last_error"]  # the hint says how to fix it
            samples = daemon.scrape()
            assert samples.value("sensord_sensor_up", sensor="locked") == 0
            assert samples.value("sensord_serial_open_failures_total", sensor="locked") >= 3
            daemon.wait_frames({"sim": 1})  # the other sensor runs meanwhile

            grant()
            daemon.wait_up_settled(("locked",), 5)
            pair.write(b"4.5\n5.5\n")
            daemon.wait_frames({"locked": 2})
            samples = daemon.scrape()
            assert samples.value("sensord_reading_value", sensor="locked", channel="v") == 5.5
            assert_sensor_steps(samples, "locked", records_in=every_step(2))
            assert_no_drops(samples, "sim")
        finally:
            assert daemon.stop() == 0


# -- a device that stops sending ---------------------------------------------------------------


def test_silent_device_goes_stale_after_stale_after_s_and_up_when_data_returns(
    tmp_path: Path,
) -> None:
    with PtyPair() as pair:
        config = tmp_path / "sensord.toml"
        write_atomically(config, pty_sensor("quiet", pair.path, "stale_after_s = 1"))
        with running(["--config", str(config)], tmp_path=tmp_path) as daemon:
            daemon.wait_up_settled(("quiet",), 5)
            last_write = time.monotonic()  # the daemon reads the lines after this
            pair.write(b"1\n2\n3\n")
            daemon.wait_frames({"quiet": 3})
            daemon.wait_state("stale", ("quiet",), 5)
            silent_s = time.monotonic() - last_write
            # checked on the loop's housekeeping tick (1 s): stale between 1 s and about 2 s
            assert 1.0 <= silent_s < 4.0, silent_s
            status = daemon.status()
            assert status["state"] == "degraded"
            assert status["sensors"]["quiet"]["last_frame_age_s"] >= 1.0
            samples = daemon.scrape()
            assert samples.value("sensord_sensor_up", sensor="quiet") == 0
            assert samples.value("sensord_sensor_state", sensor="quiet", state="stale") == 1
            assert samples.value("sensord_sensor_last_frame_age_seconds", sensor="quiet") >= 1.0

            pair.write(b"4\n")
            daemon.wait_state("up", ("quiet",), 2)
            daemon.wait_frames({"quiet": 4})
            samples = daemon.scrape()
            assert samples.value("sensord_sensor_up", sensor="quiet") == 1
            assert samples.value("sensord_reading_value", sensor="quiet", channel="v") == 4
            assert samples.value("sensord_window_samples", sensor="quiet", channel="v") == 4
            # staleness is not a disconnect: the port stayed open
            assert samples.value("sensord_serial_reconnects_total", sensor="quiet") == 0
            assert frames(samples, "quiet") == 4
            assert_sensor_steps(samples, "quiet", records_in=every_step(4))

            def states() -> list[str]:
                return [e["state"] for e in daemon.events("sensor state")]

            wait_for(lambda: len(states()) >= 3, 5, "the line of the sensor up again")
            assert states() == ["up", "stale", "up"]


# -- bursts ------------------------------------------------------------------------------------

BURST_LINES = 100_000


def test_bursts_of_100k_lines_on_two_ports_are_counted_exactly(tmp_path: Path) -> None:
    kv_channels = '  [[sensors.channels]]\n  name = "t"\n  [[sensors.channels]]\n  name = "rh"\n'
    with PtyPair() as plain, PtyPair() as pairs:
        config = tmp_path / "sensord.toml"
        write_atomically(
            config,
            pty_sensor("burst", plain.path)
            + pty_sensor("burstkv", pairs.path, fmt="kv", channels=kv_channels)
            + sim_sensor("sim", 50),
        )
        with running(["--config", str(config)], tmp_path=tmp_path) as daemon:
            daemon.wait_up_settled(("burst", "burstkv"), 5)
            daemon.wait_frames({"sim": 1})
            sim_before = daemon.status()["sensors"]["sim"]["frames"]
            plain_data = b"".join(b"%d\n" % i for i in range(BURST_LINES))
            kv_data = b"".join(b"t=%d,rh=%d.5\n" % (i, i % 100) for i in range(BURST_LINES))
            writers = [
                threading.Thread(target=plain.write, args=(plain_data,)),
                threading.Thread(target=pairs.write, args=(kv_data,)),
            ]
            started = time.monotonic()
            for writer in writers:
                writer.start()
            for writer in writers:
                writer.join(30)
            daemon.wait_frames({"burst": BURST_LINES, "burstkv": BURST_LINES}, timeout_s=30)
            elapsed = time.monotonic() - started
            samples = daemon.scrape()
            assert frames(samples, "burst") == BURST_LINES
            assert frames(samples, "burstkv") == BURST_LINES
            for name in ("burst", "burstkv"):
                assert set(parse_errors(samples, name).values()) == {0}, name
                assert samples.value("sensord_pipeline_errors_total", sensor=name) == 0
            last = BURST_LINES - 1
            assert samples.value("sensord_reading_value", sensor="burst", channel="v") == last
            # the default window holds the last 60 readings
            mean = samples.value("sensord_window_mean", sensor="burst", channel="v")
            assert mean == pytest.approx(last - 29.5, rel=1e-12)
            assert samples.value("sensord_window_min", sensor="burst", channel="v") == last - 59
            assert samples.value("sensord_reading_value", sensor="burstkv", channel="rh") == 99.5
            assert_sensor_steps(samples, "burst", records_in=every_step(BURST_LINES))
            assert_sensor_steps(samples, "burstkv", records_in=every_step(2 * BURST_LINES))
            assert_no_drops(samples, "sim")
            # the simulated sensor kept running during the burst
            assert daemon.status()["sensors"]["sim"]["frames"] > sim_before
            assert elapsed < 30, elapsed


# -- garbage between good lines ----------------------------------------------------------------


FILTERED = "  filter = { min = -100, max = 100 }\n"
TWO_CHANNELS = (
    f'  [[sensors.channels]]\n  name = "t"\n{FILTERED}'
    f'  [[sensors.channels]]\n  name = "rh"\n{FILTERED}'
)
JSON_CHANNELS = (
    f'  [[sensors.channels]]\n  name = "t"\n  field = "a.t"\n{FILTERED}'
    f'  [[sensors.channels]]\n  name = "rh"\n  field = "a.rh"\n{FILTERED}'
)


@dataclass(frozen=True)
class Format:
    """A wire format for the garbage test: its config, its good lines and its bad ones."""

    fmt: str
    channels: str
    n_channels: int
    good: str
    nonfinite: bytes
    out_of_range: bytes
    extra: str = ""
    bad_checksum: bytes | None = None
    #: readings the nonfinite line still gives: its other channels' sound values
    nonfinite_keeps: int = 0

    @staticmethod
    def value(i: int) -> float:
        """The first channel's value in good line ``i`` (in the filter's range)."""
        return (i % 50) + (i % 10) / 10

    def good_line(self, i: int) -> bytes:
        text = self.good.format(repr(self.value(i)))
        return nmea(text) if self.fmt == "nmea" else text.encode()

    def skips(self, line: bytes) -> bool:
        """Whether the framer skips a bad line as bytes that hold no frame: an NMEA line
        without a ``$`` or ``!``."""
        return self.fmt == "nmea" and not any(c in line for c in b"$!")

    def padded(self, line: bytes) -> bool:
        """Whether a bad line is a good NMEA sentence with a NUL after its checksum: the framer
        cuts the NUL off (a skipped byte) and the sentence is read."""
        return self.fmt == "nmea" and line.startswith(b"$") and line.endswith(b"\x00")


def padded_per_round(spec: Format) -> int:
    """The bad lines of a round that are read all the same (see :meth:`Format.padded`)."""
    return sum(map(spec.padded, garbage_round(spec)[0]))


FORMATS = {
    "value": Format("value", f'  [[sensors.channels]]\n  name = "v"\n{FILTERED}', 1, "{}",
                    b"nan", b"500"),
    "kv": Format("kv", TWO_CHANNELS, 2, "t={},rh=40", b"t=inf,rh=40", b"t=500,rh=-500",
                 nonfinite_keeps=1),
    "csv": Format("csv", TWO_CHANNELS, 2, "{},40", b"-inf,40", b"500,500",
                  extra='parse = { columns = ["t", "rh"] }', nonfinite_keeps=1),
    "json": Format("json", JSON_CHANNELS, 2, '{{"a": {{"t": {}, "rh": 40}}}}',
                   b'{"a": {"t": NaN, "rh": 40}}', b'{"a": {"t": 1e3, "rh": -1e3}}',
                   nonfinite_keeps=1),
    "nmea": Format("nmea", f'  [[sensors.channels]]\n  name = "t"\n  field = "MTW.temperature"\n{FILTERED}',
                   1, "IIMTW,{},C", nmea("IIMTW,1e999,C"), nmea("IIMTW,500.0,C"),
                   bad_checksum=nmea("IIMTW,21.5,C")[:-2] + b"00"),
}  # fmt: skip

ROUNDS = 40


def garbage_round(spec: Format) -> tuple[list[bytes], dict[str, int]]:
    """One round of bad lines for ``spec`` and the parse error reasons they must count."""
    lines = [
        b"hello world",  # syntax
        b"\x00\x00\x00",  # NUL only
        spec.good_line(7) + b"\x00",  # a good line with a NUL in it
        b"\xff\xfe\xfd garbled",  # not UTF-8
        b"A" * 10_000,  # overlong (max_frame_bytes is 512)
        spec.nonfinite,
        spec.out_of_range,
        b"",  # blank lines are not frames
        b"\r",
    ]
    reasons = {"syntax": 1, "encoding": 3, "overlong": 1, "nonfinite": 1}
    if spec.fmt == "nmea":  # the text, the NUL-only, the garbled and the long line: skipped;
        # so is the NUL after the good line's checksum, which is read
        reasons = {"nonfinite": 1}
    reasons["range"] = spec.n_channels
    if spec.bad_checksum is not None:
        lines.append(spec.bad_checksum)
        reasons["checksum"] = 1
    return lines, reasons


def test_garbage_nul_non_utf8_overlong_and_nonfinite_lines_between_good_lines(
    tmp_path: Path,
) -> None:
    pairs = {name: PtyPair() for name in FORMATS}
    try:
        config = tmp_path / "sensord.toml"
        write_atomically(
            config,
            "".join(
                pty_sensor(name, pairs[name].path, spec.extra, fmt=spec.fmt, channels=spec.channels)
                for name, spec in FORMATS.items()
            ),
        )
        with running(["--config", str(config)], tmp_path=tmp_path) as daemon:
            daemon.wait_up_settled(tuple(FORMATS), 5)
            expected_frames: dict[str, int] = {}
            expected_reasons: dict[str, dict[str, int]] = {}
            expected_skipped: dict[str, int] = {}
            good_lines = 0
            for name, spec in FORMATS.items():
                stream = bytearray()
                reasons = dict.fromkeys(("syntax", "checksum", "encoding", "overlong"), 0)
                reasons |= {"nonfinite": 0, "range": 0}
                good_lines = 0
                bad_frames = 0
                skipped = 0
                for _ in range(ROUNDS):
                    bad, round_reasons = garbage_round(spec)
                    for line in bad:
                        # one good line before each bad one, ending in \n or \r\n
                        ending = b"\r\n" if good_lines % 2 else b"\n"
                        stream += spec.good_line(good_lines) + ending + line + b"\n"
                        good_lines += 1
                        if spec.skips(line):
                            skipped += len(line.rstrip(b"\r"))
                        else:
                            bad_frames += bool(line.strip(b"\r")) and len(line) <= 512
                        skipped += spec.padded(line)
                    for reason, n in round_reasons.items():
                        reasons[reason] += n
                expected_frames[name] = good_lines + bad_frames
                expected_reasons[name] = reasons
                expected_skipped[name] = skipped
                # irregular chunks, so that lines are split across reads
                data = bytes(stream)
                offset = 0
                for k in itertools.count():
                    if offset >= len(data):
                        break
                    size = (1, 7, 300, 4096, 13, 65536)[k % 6]
                    pairs[name].write(data[offset : offset + size])
                    offset += size
            daemon.wait_frames(expected_frames)
            # the frame counter moves before the chunk's readings go through the stages: wait
            # until every good line's readings reached the window (none more are written)
            wait_for(
                lambda: all(
                    daemon.scrape().total(
                        "sensord_step_records_in_total", sensor=name, step="window"
                    )
                    == ROUNDS
                    * (
                        (len(garbage_round(spec)[0]) + padded_per_round(spec)) * spec.n_channels
                        + spec.nonfinite_keeps
                    )
                    for name, spec in FORMATS.items()
                ),
                5,
                "every reading through the window",
            )
            samples = daemon.scrape()
            for name, spec in FORMATS.items():
                good_lines = ROUNDS * len(garbage_round(spec)[0])
                read = good_lines + ROUNDS * padded_per_round(spec)
                assert frames(samples, name) == expected_frames[name], name
                assert parse_errors(samples, name) == expected_reasons[name], name
                skipped_total = samples.value("sensord_skipped_bytes_total", sensor=name)
                assert skipped_total == expected_skipped[name], name
                # every good line's readings went through every step; the out-of-range
                # lines reached the filter and were dropped there
                n = spec.n_channels
                kept = ROUNDS * spec.nonfinite_keeps  # rh=40 beside the nonfinite t
                assert_sensor_steps(
                    samples,
                    name,
                    records_in={
                        "filter": (read + ROUNDS) * n + kept,
                        "normalize": read * n + kept,
                        "window": read * n + kept,
                    },
                    dropped={"filter": {"range": ROUNDS * n}},
                )
                assert samples.value("sensord_pipeline_errors_total", sensor=name) == 0
                channel = "v" if name == "value" else "t"
                value = samples.value("sensord_reading_value", sensor=name, channel=channel)
                assert value == Format.value(good_lines - 1), name
            assert daemon.get("/healthz")[0] == 200
    finally:
        for pair in pairs.values():
            pair.close()


# -- a stage that raises for one sensor --------------------------------------------------------

#: The parser of sensor "bad" turns the reading 13 into a float whose arithmetic raises, so the
#: normalize stage (``value * a + b``) raises from inside, after counting the record in.
POISON_PRELUDE = """
import sensord.sensor as _sensor

class Poison(float):
    def __mul__(self, other):
        raise RuntimeError("injected stage failure")

_init = _sensor.SensorRuntime.__init__

def _patched_init(self, config, **kw):
    _init(self, config, **kw)
    if self.name == "bad":
        new_parser = self._new_parser
        def poisoned_parser():  # the parser is built again at each open
            parse = new_parser()
            def poisoned(frame):
                return [(c, Poison(v) if v == 13.0 else v) for c, v in parse(frame)]
            return poisoned
        self._new_parser = poisoned_parser
        self.parser = poisoned_parser()
        self._values_of = None  # every frame through the poisoned parser

_sensor.SensorRuntime.__init__ = _patched_init
"""


def test_stage_failure_resets_only_its_sensor_with_backoff(tmp_path: Path) -> None:
    with PtyPair() as bad, PtyPair() as good:
        config = tmp_path / "sensord.toml"
        write_atomically(
            config,
            pty_sensor("bad", bad.path) + pty_sensor("good", good.path) + sim_sensor("sim", 50),
        )
        daemon = DaemonProcess(
            ["--config", str(config)], tmp_path=tmp_path, python_prelude=POISON_PRELUDE
        )

        def wait_bad(key: str, want: int) -> None:
            wait_for(lambda: daemon.status()["sensors"]["bad"][key] == want, 5, f"{key} {want}")

        try:
            daemon.wait_http()
            daemon.wait_up_settled(("bad", "good"), 5)
            bad_lines = good_lines = 0
            for failure in range(1, 4):
                bad.write(b"1\n2\n3\n")
                bad_lines += 3
                daemon.wait_frames({"bad": bad_lines + failure - 1})
                sim_before = daemon.status()["sensors"]["sim"]["frames"]
                bad.write(b"13\n")  # alone in its chunk: the stage raises on it
                wait_bad("pipeline_errors", failure)
                # meanwhile the other sensors keep going
                good.write(b"7\n8\n")
                good_lines += 2
                daemon.wait_frames({"good": good_lines, "sim": sim_before + 5})
                # the failed sensor is reopened with backoff and starts over
                wait_bad("reconnects", failure)
                daemon.wait_up_settled(("bad",), 5)
                samples = daemon.scrape()
                # the window was reset: no statistics until the next reading
                assert not samples.has("sensord_window_samples", sensor="bad")
                # each poisoned record was inside normalize when it raised: an error drop
                assert_sensor_steps(samples, "bad", dropped={"normalize": {"error": failure}})
                assert_no_drops(samples, "good", "sim")

            bad.write(b"5\n6\n")
            bad_lines += 2
            daemon.wait_frames({"bad": bad_lines + 3})
            samples = daemon.scrape()
            assert samples.value("sensord_pipeline_errors_total", sensor="bad") == 3
            assert samples.value("sensord_pipeline_errors_total", sensor="good") == 0
            assert samples.value("sensord_pipeline_errors_total", sensor="sim") == 0
            # each poisoned record was inside normalize when it raised: dropped as an error
            assert_sensor_steps(
                samples,
                "bad",
                records_in={
                    "filter": bad_lines + 3,
                    "normalize": bad_lines + 3,
                    "window": bad_lines,
                },
                dropped={"normalize": {"error": 3}},
            )
            assert samples.value("sensord_window_samples", sensor="bad", channel="v") == 2
            assert samples.value("sensord_window_mean", sensor="bad", channel="v") == 5.5
            assert frames(samples, "good") == good_lines
            assert_sensor_steps(samples, "good", records_in=every_step(good_lines))
            assert_no_drops(samples, "sim")
            assert samples.value("sensord_serial_reconnects_total", sensor="good") == 0

            failures = daemon.wait_events("pipeline failed; resetting the sensor", 3)
            assert [e["sensor"] for e in failures] == ["bad"] * 3
            assert all("injected stage failure" in e["error"] for e in failures)
            downs = daemon.wait_events("sensor state", 3, state="down")
            assert [e["sensor"] for e in downs] == ["bad"] * 3
            # reopened after a backoff delay within the configured initial delay
            assert all(0 <= e["retry_in_s"] <= 0.02 for e in downs)
        finally:
            assert daemon.stop() == 0


# -- SIGHUP storms -----------------------------------------------------------------------------


class LineWriter(threading.Thread):
    """Writes numbered lines to a pty at a steady pace until stopped; ``written`` counts them."""

    def __init__(self, pair: PtyPair, interval_s: float = 0.002) -> None:
        super().__init__(daemon=True)
        self.pair = pair
        self.interval_s = interval_s
        self.written = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.pair.write(b"%d\n" % self.written)
            except OSError:  # the test ended early and closed the pty
                return
            self.written += 1
            time.sleep(self.interval_s)

    def stop(self) -> int:
        self.stopping.set()
        self.join(5)
        return self.written


def test_sighup_storm_of_valid_and_invalid_files_loses_no_reading(tmp_path: Path) -> None:
    with PtyPair() as pair:
        steady = pty_sensor("steady", pair.path)
        variants = [
            steady + sim_sensor("sim") + sim_sensor("extra", 5),  # valid
            steady + sim_sensor("sim") + "[[sensors]\nname = ",  # not TOML
            steady + sim_sensor("sim") + sim_sensor("extra", 7) + sim_sensor("added"),  # valid
            steady + sim_sensor("sim") + '[[sensors]]\nname = "broken"\n',  # no port, no format
        ]
        config = tmp_path / "sensord.toml"
        write_atomically(config, variants[0])
        with running(["--config", str(config)], tmp_path=tmp_path) as daemon:
            daemon.wait_up_settled(("steady",), 5)
            daemon.wait_frames({"sim": 3})
            sim_before = daemon.status()["sensors"]["sim"]["frames"]
            writer = LineWriter(pair)
            writer.start()

            def reloads_are(count: int) -> bool:
                return (
                    len(daemon.events("configuration reloaded"))
                    + len(daemon.events("reload failed; keeping the running configuration"))
                    == count
                )

            # back to back: each SIGHUP as soon as the one before is handled (SIGHUPs that
            # come while one is pending are one signal)
            for i in range(20):
                write_atomically(config, variants[(i + 1) % 4])
                daemon.signal(signal.SIGHUP)
                wait_for(functools.partial(reloads_are, i + 1), 10, f"reload {i + 1} handled")
            written = writer.stop()
            write_atomically(config, variants[0])
            daemon.signal(signal.SIGHUP)
            daemon.wait_frames({"steady": written})
            wait_for(functools.partial(reloads_are, 21), 10, "21 reloads handled")
            assert written > 100  # lines came all through the storm
            assert len(daemon.events("reload failed; keeping the running configuration")) == 10
            samples = daemon.scrape()
            assert samples.value("sensord_config_last_reload_successful") == 1
            # every line written during the storm was counted, once
            assert frames(samples, "steady") == written
            assert samples.value("sensord_reading_value", sensor="steady", channel="v") == (
                written - 1
            )
            assert samples.value("sensord_serial_reconnects_total", sensor="steady") == 0
            # unchanged sensors were never restarted: their counters only grew
            assert frames(samples, "sim") > sim_before
            states = [e for e in daemon.events("sensor state") if e["sensor"] in ("steady", "sim")]
            assert [e["state"] for e in states] == ["up", "up"]
            status = daemon.status()
            assert set(status["sensors"]) == {"steady", "sim", "extra"}
            assert_sensor_steps(samples, "steady", records_in=every_step(written))
            assert_no_drops(samples, "sim", "extra")
            assert daemon.get("/healthz")[0] == 200
            assert daemon.uncaught() == []


# -- SIGTERM mid-burst -------------------------------------------------------------------------


class FloodWriter(threading.Thread):
    """Writes fixed-size lines to a pty's master as fast as it takes them (non-blocking), and
    counts the bytes that went in, until stopped or the pty goes away."""

    LINE = b"12.5\n"

    def __init__(self, pair: PtyPair) -> None:
        super().__init__(daemon=True)
        assert pair.master_fd is not None
        self.fd = pair.master_fd
        self.bytes_written = 0
        self.stopping = threading.Event()

    def run(self) -> None:
        block = self.LINE * 400
        os.set_blocking(self.fd, False)
        pending = memoryview(block)
        while not self.stopping.is_set():
            try:
                n = os.write(self.fd, pending)
            except BlockingIOError:
                time.sleep(0.0005)
                continue
            except OSError:
                return
            self.bytes_written += n
            pending = pending[n:] or memoryview(block)

    def stop(self) -> int:
        self.stopping.set()
        self.join(5)
        return self.bytes_written


def unread_bytes(pair: PtyPair) -> int:
    """Drain what is still queued for the port, through the test's own descriptor of it."""
    assert pair.slave_fd is not None
    os.set_blocking(pair.slave_fd, False)
    total = 0
    while wait_readable(pair.slave_fd, 0.2):
        try:
            total += len(os.read(pair.slave_fd, 65536))
        except BlockingIOError:
            continue
    return total


def test_sigterm_mid_burst_exits_0_and_every_line_read_is_counted(tmp_path: Path) -> None:
    pairs = [PtyPair() for _ in range(3)]
    writers: list[FloodWriter] = []
    try:
        names = [f"flood{i}" for i in range(3)]
        config = tmp_path / "sensord.toml"
        write_atomically(
            config,
            "".join(pty_sensor(n, p.path) for n, p in zip(names, pairs, strict=True))
            + sim_sensor("sim", 50),
        )
        daemon = DaemonProcess(["--config", str(config)], tmp_path=tmp_path)
        try:
            daemon.wait_http()
            daemon.wait_up_settled(tuple(names), 5)
            writers = [FloodWriter(p) for p in pairs]
            for writer in writers:
                writer.start()
            # the simulated sensor beside the floods has framed some too (on a loaded host the
            # floods can reach their count before its first timer)
            daemon.wait_frames({**dict.fromkeys(names, 20_000), "sim": 1}, timeout_s=15)
            sent = time.monotonic()
            daemon.signal(signal.SIGTERM)
            code = daemon.proc.wait(timeout=5)
            elapsed = time.monotonic() - sent
            summaries = {e["sensor"]: e for e in daemon.events("sensor summary")}
            stopped = daemon.events("sensord stopped")
            uncaught = daemon.uncaught()
        finally:
            daemon.kill()
        written = [w.stop() for w in writers]
        assert code == 0
        assert elapsed < 5.0
        assert set(summaries) == {*names, "sim"}
        for name, pair, n_bytes in zip(names, pairs, written, strict=True):
            # the daemon read everything but what is still queued; a partial last line read
            # was never a frame
            read = n_bytes - unread_bytes(pair)
            summary = summaries[name]
            assert summary["frames"] == read // len(FloodWriter.LINE), name
            assert summary["readings"] == summary["frames"]
            assert summary["parse_errors"] == 0
            assert summary["state"] == "up"  # its state when the stop began
        assert summaries["sim"]["frames"] > 0
        assert stopped
        assert uncaught == []
    finally:
        for writer in writers:
            writer.stop()
        for pair in pairs:
            pair.close()


# -- a scraper that opens connections and never sends a request ------------------------------

HTTP_LIMITS = "[http]\nmax_connections = 4\nrequest_timeout_s = 1\n"


@contextmanager
def idle_connections(port: int, count: int) -> Iterator[list[socket.socket]]:
    """``count`` TCP connections to ``port`` that never send a byte nor read one."""
    sockets: list[socket.socket] = []
    try:
        for _ in range(count):
            sockets.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        yield sockets
    finally:
        for sock in sockets:
            sock.close()


def timed_scrape(daemon: DaemonProcess, timeout_s: float) -> float:
    """Seconds until a well-behaved client gets a 200 from /metrics (retrying on 503)."""
    started = time.monotonic()

    def scraped() -> bool:
        try:
            return daemon.get("/metrics")[0] == 200
        except OSError:
            return False

    wait_for(scraped, timeout_s, "a /metrics answer", interval_s=0.05)
    return time.monotonic() - started


@contextmanager
def stopping(writer: LineWriter) -> Iterator[LineWriter]:
    try:
        yield writer
    finally:
        writer.stop()


def test_200_idle_connections_neither_stall_pipelines_nor_lock_out_scrapers(
    tmp_path: Path,
) -> None:
    with PtyPair() as pair:
        config = tmp_path / "sensord.toml"
        write_atomically(
            config, HTTP_LIMITS + pty_sensor("steady", pair.path) + sim_sensor("sim", 50)
        )
        with running(["--config", str(config)], tmp_path=tmp_path) as daemon:
            daemon.wait_up_settled(("steady",), 5)
            daemon.wait_frames({"sim": 3})
            fds, threads = quiet_counts(daemon)
            sim_before = daemon.status()["sensors"]["sim"]["frames"]
            writer = LineWriter(pair, interval_s=0.005)
            writer.start()
            with idle_connections(daemon.port, 200) as sockets, stopping(writer):
                opened = time.monotonic()
                # at most max_connections are held, each for request_timeout_s; the rest
                # are turned away at once, so a real scraper gets through within seconds
                assert timed_scrape(daemon, 5.0) < 4.0
                # every idle connection is closed by the server: at once with a 503, or
                # after request_timeout_s (the backlog hands some over late, so allow two)
                for sock in sockets:
                    sock.settimeout(max(0.1, opened + 2.5 - time.monotonic()))
                    data = sock.recv(4096)
                    assert data == b"" or data.startswith(b"HTTP/1.1 503"), data[:80]
                samples = daemon.scrape()
                assert frames(samples, "sim") > sim_before
                assert daemon.get("/healthz")[0] == 200
            written = writer.stop()
            daemon.wait_frames({"steady": written})
            samples = daemon.scrape()
            assert frames(samples, "steady") == written
            assert_sensor_steps(samples, "steady", records_in=every_step(written))
            assert_no_drops(samples, "sim")
            assert quiet_counts(daemon) == (fds, threads)
            assert daemon.proc.poll() is None


class Trickler(threading.Thread):
    """A client that sends a request one byte every ``interval_s`` (never completing it)."""

    def __init__(self, port: int, interval_s: float) -> None:
        super().__init__(daemon=True)
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        self.interval_s = interval_s
        self.stopping = threading.Event()
        self.closed_by_server_after_s: float | None = None

    def run(self) -> None:
        started = time.monotonic()
        request = b"GET /metrics HTTP/1.1\r\nHost: x\r\n" + b"X-Pad: " + b"a" * 4000
        for byte in request:
            if self.stopping.wait(self.interval_s):
                return
            try:
                self.sock.send(bytes([byte]))
            except OSError:
                self.closed_by_server_after_s = time.monotonic() - started
                return

    def stop(self) -> None:
        self.stopping.set()
        self.join(5)
        self.sock.close()


def test_trickling_clients_cannot_hold_connection_slots_past_request_timeout(
    tmp_path: Path,
) -> None:
    config = tmp_path / "sensord.toml"
    write_atomically(config, HTTP_LIMITS + sim_sensor("sim", 50))
    with running(["--config", str(config)], tmp_path=tmp_path) as daemon:
        tricklers = [Trickler(daemon.port, 0.5) for _ in range(4)]  # max_connections
        for trickler in tricklers:
            trickler.start()
        try:
            time.sleep(0.3)
            # with request_timeout_s = 1 every slot is free again within about a second
            assert timed_scrape(daemon, 4.0) < 3.0
        finally:
            for trickler in tricklers:
                trickler.stop()


# -- extreme but finite readings ---------------------------------------------------------------


def test_huge_finite_readings_keep_status_serving(tmp_path: Path) -> None:
    """Readings whose squares leave the float range (9E37, about the largest a text device
    sends, scaled to 9E197): the window's statistics and /status still serve."""
    channels = '  [[sensors.channels]]\n  name = "v"\n  normalize = { scale = 1e160 }\n'
    with PtyPair() as pair:
        config = tmp_path / "sensord.toml"
        write_atomically(
            config, pty_sensor("huge", pair.path, channels=channels) + sim_sensor("sim")
        )
        with running(["--config", str(config)], tmp_path=tmp_path) as daemon:
            daemon.wait_up_settled(("huge",), 5)
            pair.write(b"9e37\n-9e37\n")
            wait_for(lambda: frames(daemon.scrape(), "huge") == 2, 5, "the two readings counted")
            samples = daemon.scrape()
            assert samples.value("sensord_window_stddev", sensor="huge", channel="v") > 0
            try:
                code, _, body = daemon.get("/status")
            except OSError as exc:  # the handler died without an answer
                raise AssertionError(f"/status failed: {exc!r}") from exc
            assert code == 200
            assert "huge" in json.loads(body)["sensors"]
            assert daemon.uncaught() == []


def test_normalize_overflow_is_not_a_pipeline_failure(tmp_path: Path) -> None:
    channels = '  [[sensors.channels]]\n  name = "v"\n  normalize = { scale = 1e275 }\n'
    with PtyPair() as pair:
        config = tmp_path / "sensord.toml"
        write_atomically(config, pty_sensor("scaled", pair.path, channels=channels))
        with running(["--config", str(config)], tmp_path=tmp_path) as daemon:
            daemon.wait_up_settled(("scaled",), 5)
            pair.write(b"1\n9e37\n-9e37\n2\n")
            daemon.wait_frames({"scaled": 4})
            # the four readings are through normalize once its counters settled on them
            wait_for(
                lambda: (
                    daemon.scrape().total(
                        "sensord_step_records_in_total", sensor="scaled", step="normalize"
                    )
                    == 4
                ),
                5,
                "four readings through normalize",
            )
            samples = daemon.scrape()
            assert samples.value("sensord_pipeline_errors_total", sensor="scaled") == 0
            # 9e37 * 1e275 overflows: the two huge readings are dropped as non-finite, counted
            assert_sensor_steps(
                samples,
                "scaled",
                records_in={"filter": 4, "normalize": 4, "window": 2},
                dropped={"normalize": {"nonfinite": 2}},
            )
            assert samples.value("sensord_reading_value", sensor="scaled", channel="v") == 2e275
            assert sensor_state(daemon, "scaled") == "up"


# -- configurations that pass validation or reach a reload -------------------------------------


def test_valid_config_with_extreme_filter_bounds_keeps_running(tmp_path: Path) -> None:
    wide = (
        '[[sensors]]\nname = "wide"\nport = "sim://wide"\nformat = "value"\n'
        '  [[sensors.channels]]\n  name = "v"\n  filter = { min = -1e308, max = 1e308 }\n'
    )
    config = tmp_path / "sensord.toml"
    write_atomically(config, wide + sim_sensor("ok"))
    daemon = DaemonProcess(["--config", str(config)], tmp_path=tmp_path)
    try:
        daemon.wait_http()
        daemon.wait_frames({"ok": 3})
        assert daemon.proc.poll() is None
        assert daemon.uncaught() == []
    finally:
        daemon.kill()


def test_reload_with_a_pattern_the_regex_compiler_cannot_take_keeps_the_old_config(
    tmp_path: Path,
) -> None:
    config = tmp_path / "sensord.toml"
    write_atomically(config, sim_sensor("sim"))
    with running(["--config", str(config)], tmp_path=tmp_path) as daemon:
        daemon.wait_frames({"sim": 1})
        pattern = sensor_toml("pat", "sim://pat", extra='parse = { pattern = "a{99999999999}" }')
        errors = reload_refused(daemon, config, sim_sensor("sim") + pattern)
        assert any("parse.pattern" in problem for problem in errors)
        assert daemon.scrape().value("sensord_config_last_reload_successful") == 0


def reload_refused(daemon: DaemonProcess, config: Path, text: str) -> list[str]:
    """Write ``text`` into the running ``daemon``'s ``config`` and reload it: the errors of
    the refusal, the daemon still running."""
    write_atomically(config, text)
    daemon.signal(signal.SIGHUP)
    wait_for(
        lambda: (
            daemon.proc.poll() is not None
            or bool(daemon.events("reload failed; keeping the running configuration"))
        ),
        5,
        "the reload to be handled",
    )
    assert daemon.proc.poll() is None
    [failed] = daemon.events("reload failed; keeping the running configuration")
    errors: list[str] = failed["errors"]
    return errors


OVERLAPPING_FIELDS = """
[[sensors]]
name = "overlap"
port = "sim://overlap"
format = "frames"
  [sensors.frame]
  start = "\\\\xaa"
  length = 8
  checksum = "sum8"
    [[sensors.frame.fields]]
    name = "b"
    offset = 1
    type = "u32be"
    [[sensors.frame.fields]]
    name = "c"
    offset = 2
    type = "u8"
  [[sensors.channels]]
  name = "b"
  [[sensors.channels]]
  name = "c"
"""


def test_a_frame_spec_whose_fields_overlap_is_refused_and_a_reload_to_it_keeps_running(
    tmp_path: Path,
) -> None:
    config = tmp_path / "sensord.toml"
    write_atomically(config, sim_sensor("sim"))
    with running(["--config", str(config)], tmp_path=tmp_path) as daemon:
        daemon.wait_frames({"sim": 1})
        assert reload_refused(daemon, config, sim_sensor("sim") + OVERLAPPING_FIELDS) == [
            "sensors[1].frame.fields[1].offset (sensor 'overlap'): bytes [2, 3) overlap field 'b' "
            "[1, 5)"
        ]
        frames = daemon.status()["sensors"]["sim"]["frames"]
        daemon.wait_frames({"sim": frames + 1})
        assert daemon.uncaught() == []


def test_a_reload_whose_http_settings_cannot_be_served_applies_the_rest_and_says_so(
    tmp_path: Path,
) -> None:
    config = tmp_path / "sensord.toml"
    write_atomically(config, sim_sensor("a"))
    with running(["--config", str(config)], tmp_path=tmp_path) as daemon:
        daemon.wait_frames({"a": 1})
        # 192.0.2.1 (TEST-NET-1) is no address of this host: the new server cannot bind
        write_atomically(
            config, '[http]\nlisten = "192.0.2.1"\n' + sim_sensor("a") + sim_sensor("b")
        )
        daemon.signal(signal.SIGHUP)
        message = "reload applied in part; these sections keep their running settings"
        wait_for(lambda: bool(daemon.events(message)), 5, "the reload to be handled")
        assert daemon.events(message)[0]["kept"] == ["http"]
        # the error says where the daemon is still served, and how a status reaches it there
        (failed,) = daemon.events("cannot serve HTTP with the new settings; keeping the old ones")
        assert failed["listen"] == "192.0.2.1"
        assert failed["serving"] == daemon.base_url
        assert failed["hint"].startswith("192.0.2.1 is no address of this host now ("), failed
        assert f"sensord status --url {daemon.base_url}" in failed["hint"]
        assert "http.listen" in failed["hint"]
        daemon.wait_frames({"a": 1, "b": 1})  # the sensors were applied, on the old server
        assert daemon.scrape().value("sensord_config_last_reload_successful") == 0
        # the same sensors without the [http] change: nothing is left to apply
        write_atomically(config, sim_sensor("a") + sim_sensor("b"))
        daemon.signal(signal.SIGHUP)
        wait_for(
            lambda: daemon.scrape().value("sensord_config_last_reload_successful") == 1,
            5,
            "the second reload",
        )
        assert daemon.proc.poll() is None


def test_a_log_change_is_told_against_the_settings_the_daemon_runs(tmp_path: Path) -> None:
    """``[log]`` applies at the next restart: a reload that changes it says so, one that sets
    it back to the settings the daemon started with says nothing (they are what runs), and a
    change made again is told again."""
    config = tmp_path / "sensord.toml"
    write_atomically(config, sim_sensor("a"))
    message = "log settings change at the next restart"
    reloaded = "configuration reloaded"
    with running(["--config", str(config)], tmp_path=tmp_path) as daemon:
        daemon.wait_frames({"a": 1})
        for n, (text, told) in enumerate(
            [
                ('[log]\nlevel = "debug"\n' + sim_sensor("a"), 1),
                (sim_sensor("a"), 1),  # back to the running settings: nothing to tell
                ('[log]\nlevel = "debug"\n' + sim_sensor("a"), 2),
            ],
            start=1,
        ):
            write_atomically(config, text)
            daemon.signal(signal.SIGHUP)

            def taken(count: int = n) -> bool:
                return len(daemon.events(reloaded)) >= count

            wait_for(taken, 5, f"reload {n}")
            assert len(daemon.events(message)) == told, n


def test_a_sensor_that_cannot_be_built_on_reload_leaves_the_run_as_it_was(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug that raises while a reloaded sensor is built (as the frame decoder of fields
    that overlapped once did) is a failed reload, not the end of the daemon: the sensors run
    as before. The fault is injected, since no configuration that passes validation is known
    to raise."""
    config = tmp_path / "sensord.toml"
    write_atomically(config, sim_sensor("a"))
    daemon = Daemon(load_config(config), config_path=config, environ={})
    built = daemon._make_runtime

    def make(sensor_config: SensorConfig, ring_bytes: int | None = None) -> SensorRuntime:
        if sensor_config.name == "b":
            raise struct.error("bad char in struct format")
        return built(sensor_config, ring_bytes)

    monkeypatch.setattr(daemon, "_make_runtime", make)
    daemon.reader.add(built(daemon.config.sensors[0]))
    try:
        write_atomically(config, sim_sensor("a", rate_hz=20) + sim_sensor("b"))
        assert daemon.reload() is False
        assert daemon.reload_successful is False
        assert list(daemon.reader.sensors) == ["a"]
        assert daemon.reader.sensors["a"].config.sampling_rate_hz == 10
        assert daemon.config.sensors[0].sampling_rate_hz == 10
    finally:
        daemon.reader.close()


def test_a_sensor_that_cannot_start_on_reload_is_started_by_the_next_reload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug that raises while a built sensor joins the reader fails that sensor alone: the
    rest of the file is applied, the reload counts as failed, and the next reload of the
    same file starts the sensor. The fault is injected, as no known configuration raises."""
    config = tmp_path / "sensord.toml"
    write_atomically(config, sim_sensor("a"))
    daemon = Daemon(load_config(config), config_path=config, environ={})
    daemon.reader.add(daemon._make_runtime(daemon.config.sensors[0]))
    add = daemon.reader.add

    def broken_add(runtime: SensorRuntime) -> None:
        if runtime.name == "b":
            raise RuntimeError("injected")
        add(runtime)

    try:
        write_atomically(config, sim_sensor("a", rate_hz=20) + sim_sensor("b") + sim_sensor("c"))
        monkeypatch.setattr(daemon.reader, "add", broken_add)
        assert daemon.reload() is False
        assert sorted(daemon.reader.sensors) == ["a", "c"]
        assert daemon.reader.sensors["a"].config.sampling_rate_hz == 20
        monkeypatch.setattr(daemon.reader, "add", add)
        assert daemon.reload() is True
        assert sorted(daemon.reader.sensors) == ["a", "b", "c"]
        assert daemon.reload_successful
    finally:
        daemon.reader.close()


# -- a polled device that does not read ------------------------------------------------------


def test_polled_device_that_never_reads_does_not_stall_other_sensors(tmp_path: Path) -> None:
    request = "MEAS?" * 600  # fills the pty's buffer within a few polls
    with PtyPair() as deaf, PtyPair() as steady:
        config = tmp_path / "sensord.toml"
        write_atomically(
            config,
            # stale after an hour, not the default 5 s of a device that never answers: the
            # deaf device is up when the test looks, however long a loaded host made it take
            pty_sensor(
                "deaf",
                deaf.path,
                f'poll = {{ request = "{request}\\n", interval_s = 0.2 }}\nstale_after_s = 3600',
            )
            + pty_sensor("steady", steady.path),
        )
        with running(["--config", str(config)], tmp_path=tmp_path) as daemon:
            daemon.wait_state("up", ("steady",), 5)
            wait_for(  # the deaf device's input is full: a poll found no room
                lambda: bool(daemon.events("device is not reading; poll request not sent")),
                5,
                "the line of the poll not sent",
            )
            # 1 s: five polls of the deaf device, each of them not sent as the one before
            for i in range(10):
                sent = time.monotonic()
                steady.write(b"%d\n" % i)
                daemon.wait_frames({"steady": i + 1})
                latency_s = time.monotonic() - sent
                assert latency_s < 0.5, f"line {i} waited {latency_s:.2f} s"
                time.sleep(0.1)
            # the fault happened: the deaf device stopped taking requests and every poll
            # went unanswered
            deaf_status = daemon.status()["sensors"]["deaf"]
            assert deaf_status["state"] == "up"
            assert deaf_status["poll_timeouts"] >= 5


# -- a port that hangs up as soon as it is opened ------------------------------------------------


@contextmanager
def hanging_up_server(
    greeting: bytes, delay_s: float = 0.02, ready: Callable[[], bool] | None = None
) -> Iterator[tuple[str, list[float]]]:
    """A TCP serial server that writes ``greeting`` to every client ``delay_s`` after it
    accepted it (with ``ready``: once ``ready()`` is true) and hangs up at once (as ser2net
    does with "Port already in use" while an old session lingers): its ``socket://`` URL and
    the times of the connections it accepted."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    accepted: list[float] = []
    stop = threading.Event()

    def serve() -> None:
        for client in accepted_clients(listener, stop):
            accepted.append(time.monotonic())
            with client, contextlib.suppress(OSError):  # the daemon may hang up first
                if ready is None:
                    time.sleep(delay_s)
                else:
                    while not ready() and not stop.is_set():
                        time.sleep(0.002)
                client.sendall(greeting)
                client.shutdown(socket.SHUT_RDWR)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"socket://127.0.0.1:{listener.getsockname()[1]}", accepted
    finally:
        stop.set()
        thread.join(5)
        listener.close()


def deadline_passed(deadline: float) -> Callable[[], bool]:
    return lambda: time.monotonic() > deadline


def ended(deadline: float, accepted: list[float], enough: int | None) -> Callable[[], bool]:
    """Past ``deadline``, or (``enough``) once ``accepted`` holds that many connections."""
    return lambda: time.monotonic() > deadline or (enough is not None and len(accepted) >= enough)


def linked_runtime(
    link: SymlinkedPty, table: dict[str, Any], rng: random.Random | None = None
) -> SensorRuntime:
    """The runtime of the one sensor ``table`` describes (its channel ``v``) on ``link``."""
    errors: list[str] = []
    loaded = Config.load(
        {"sensors": [{**table, "port": str(link.link), "channels": [{"name": "v"}]}]},
        "",
        errors,
    )
    assert loaded is not None, errors
    return SensorRuntime(loaded.sensors[0], rng=rng)


def run_until(reader: Reader, done: Callable[[], bool], limit_s: float = 10.0) -> None:
    """Run ``reader`` until ``done()``, for at most ``limit_s``."""
    deadline = time.monotonic() + limit_s
    reader.run(until=lambda: done() or time.monotonic() > deadline)


def hang_up_leaving_link(link: SymlinkedPty, node: Path) -> None:
    """``link``'s port hangs up while its link still leads to a device node, ``node``: the
    kernel hangs a USB adapter's port up before udev removes its by-id link."""
    staging = link.link.with_name("staging")
    staging.symlink_to(node)
    staging.replace(link.link)
    link.pty.close_master()


def test_a_port_that_hangs_up_at_once_backs_off_and_one_that_delivered_starts_over(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A port that breaks before it gave a reading did not prove itself: its backoff grows
    (initial 0.05 s, up to 2 s) instead of starting over at each successful open, so it is
    not reopened 20 times a second for ever; a port that delivered a reading before it broke
    is reopened after the initial delay again."""
    reconnect = {"initial_delay_s": 0.05, "max_delay_s": 2.0}
    outcomes: dict[bytes, tuple[int, int]] = {}
    runtimes: list[SensorRuntime] = []

    def reading_read_whole() -> bool:
        # the device's reading comes once the connection is up past CUT_LINE_S: sooner, it
        # would be taken for the tail of a line begun before the open and dropped, and the
        # port would not have delivered (the refusal fails the open: it comes at once)
        return up_settled(runtimes[-1])

    # the delivering port holds each connection CUT_LINE_S longer than it did (0.02 s), which
    # about doubles its cycle (0.07 s to 0.13 s here): it runs twice as long for the same count.
    # The flapping port runs its whole time (2 s, at most 12 opens in it); the delivering one ends
    # at its 25th open, the fewest it must reach (within its time only if the backoff starts
    # over), and its failures are read then.
    cases: tuple[tuple[bytes, Callable[[], bool] | None, float, int | None], ...] = (
        (b"Port already in use\r\n", None, 2.0, None),
        (b"21.5\n", reading_read_whole, 6.0, 25),
    )
    for greeting, ready, run_s, enough in cases:
        if ready is not None:
            # the delivering server writes only once the port is up: no refusal can come
            # within the open's wait for one (50 ms of each open, idle time)
            monkeypatch.setattr(serial_refusals, "REFUSAL_WAIT_S", (0.0, 0.0))
        with hanging_up_server(greeting, ready=ready) as (url, accepted):
            table = {"name": "net", "port": url, "format": "value", "reconnect": reconnect}
            errors: list[str] = []
            loaded = Config.load({"sensors": [{**table, "channels": [{"name": "v"}]}]}, "", errors)
            assert loaded is not None, errors
            runtime = SensorRuntime(loaded.sensors[0])
            runtimes.append(runtime)
            with Reader([runtime]) as reader:
                reader.run(until=ended(time.monotonic() + run_s, accepted, enough))
            outcomes[greeting] = (len(accepted), runtime.retry.failures)
    flapping, delivering = outcomes[b"Port already in use\r\n"], outcomes[b"21.5\n"]
    # 0.05, 0.1, 0.2 ... 2 s ceilings, full jitter: 6 to 9 opens in 2 s; a backoff that stops
    # growing at 0.2 s makes 16 to 22
    assert flapping[0] <= 12, flapping
    assert flapping[1] >= 5, flapping
    assert delivering[0] >= 25, delivering  # each reopened within 0.05 s
    assert delivering[1] <= 1, delivering


def test_a_port_that_broke_while_its_device_warmed_up_starts_its_backoff_over(
    tmp_path: Path,
) -> None:
    """A device on a hub that browns out, powered anew at each replug, sends whole frames
    through its warm-up, which publish nothing: that connection worked, and when the hub
    cuts it again (within PROVEN_AFTER_S) the reopen backoff starts over at the initial
    delay instead of growing towards its cap as for a port that gave nothing."""
    reconnect = {"initial_delay_s": 0.05, "max_delay_s": 20.0}
    table = {"name": "pm", "format": "value", "warmup_s": 30.0, "reconnect": reconnect}
    with symlinked_pty(tmp_path, "usb-Plantower_PMS5003-if00-port0") as link:
        runtime = linked_runtime(link, table)
        failures: list[int] = []

        # the first break is the port's first failure; the second comes after a connection
        # that worked while its device warmed up: 2 there if the backoff went on growing (the
        # breaks after it take the same branch of ``disconnect``)
        with capture_logs(), Reader([runtime]) as reader:
            for cycle in range(2):
                run_until(reader, lambda: up_settled(runtime))
                assert up_settled(runtime), runtime.state
                ignored = runtime.ignored
                link.pty.write(b"21.5\n21.6\n")
                run_until(reader, functools.partial(lambda n: runtime.ignored >= n, ignored + 2))
                assert runtime.ignored == ignored + 2  # warming up: read, not published
                link.unplug(remove_link=True)
                run_until(reader, lambda: runtime.state == "down")
                assert runtime.state == "down", cycle
                failures.append(runtime.retry.failures)
                link.replug()
    assert failures == [1, 1]


#: ``DEVICE_WATCH_S`` for the in-process readers below: the same watch at a quarter of its 2 s,
#: so that a test waits for fewer of its looks (each bound below is exact arithmetic on the
#: port's next try, not a race)
WATCH_S = 0.5


@pytest.fixture
def quick_device_watch(monkeypatch: pytest.MonkeyPatch) -> float:
    monkeypatch.setattr(reopen_module, "DEVICE_WATCH_S", WATCH_S)
    return WATCH_S


@pytest.mark.slow
@pytest.mark.usefixtures("quick_device_watch")
def test_a_port_whose_device_path_is_gone_is_looked_for_within_device_watch_s(
    tmp_path: Path,
) -> None:
    """A hub that browns out takes its adapters' by-id links away for a few seconds: while
    the path is gone the port is tried again within DEVICE_WATCH_S whatever its backoff
    (here 60 s), so the device is read within that of its return, not after the backoff
    grown meanwhile."""
    reconnect = {"initial_delay_s": 60.0, "max_delay_s": 60.0}
    table = {"name": "t", "format": "value", "reconnect": reconnect}
    with symlinked_pty(tmp_path, "usb-FTDI_FT232R_A50285BI-if00-port0") as link:
        runtime = linked_runtime(link, table)

        delays: list[float] = []
        with capture_logs(), Reader([runtime]) as reader:
            run_until(reader, lambda: runtime.state == "up")
            link.unplug(remove_link=True)
            run_until(reader, lambda: runtime.state == "down")
            assert runtime.state == "down"
            delays.append(runtime.retry.next_at - time.monotonic())
            # the failed open, its backoff 60 s: held to DEVICE_WATCH_S as the first delay was
            # (a second failure would take the same branch of ``ReopenWatch``)
            for failures in (1,):
                run_until(reader, functools.partial(lambda n: runtime.open_failures >= n, failures))
                assert runtime.open_failures == failures
                delays.append(runtime.retry.next_at - time.monotonic())
            link.replug()
            due_s = runtime.retry.next_at - time.monotonic()
            run_until(reader, lambda: runtime.state == "up")
            assert runtime.state == "up"
    assert max(delays) <= WATCH_S, delays
    assert due_s <= WATCH_S, due_s


class TopOfRange(random.Random):
    """Jitter that always draws the ceiling, so backoff delays are the caps themselves."""

    def uniform(self, a: float, b: float) -> float:
        return b


@pytest.mark.usefixtures("quick_device_watch")
def test_a_port_lost_before_its_device_path_goes_is_reopened_when_the_device_is_back(
    tmp_path: Path,
) -> None:
    """A USB adapter's port hangs up before udev removes its by-id link, so the port is
    lost while its link still leads to a device node; the device is back a moment later
    under a new node. The port is opened within DEVICE_WATCH_S of its loss, not after its
    backoff (here 60 s)."""
    reconnect = {"initial_delay_s": 60.0, "max_delay_s": 60.0}
    table = {"name": "t", "format": "value", "reconnect": reconnect}
    node = tmp_path / "ttyUSB0"  # the node the kernel has not removed yet
    node.write_bytes(b"")
    with symlinked_pty(tmp_path, "usb-FTDI_FT232R_A50285BI-if00-port0") as link:
        runtime = linked_runtime(link, table, rng=TopOfRange())

        with capture_logs(), Reader([runtime]) as reader:
            run_until(reader, lambda: runtime.state == "up")
            assert runtime.state == "up"
            hang_up_leaving_link(link, node)
            run_until(reader, lambda: runtime.state == "down")
            assert runtime.state == "down"
            due_s = runtime.retry.next_at - runtime.state_since
            link.link.unlink()  # udev removes the link
            link.replug()  # and the device is back under a new node
            run_until(reader, lambda: runtime.state == "up")
            assert runtime.state == "up"
            assert runtime.open_failures == 0  # the first try after the loss opened it
    assert due_s <= WATCH_S, due_s


@pytest.mark.usefixtures("quick_device_watch")
def test_a_device_replugged_before_its_path_was_seen_gone_warms_up(tmp_path: Path) -> None:
    """A port lost while its link still leads to the old node (the kernel hangs up the port
    before udev removes the link), the device back under a new node by the first look: the
    device was powered anew, and its readings wait for ``warmup_s`` as after an unplug whose
    path was seen gone."""
    reconnect = {"initial_delay_s": 60.0, "max_delay_s": 60.0}
    table = {"name": "pm", "format": "value", "warmup_s": 1.5, "reconnect": reconnect}
    node = tmp_path / "ttyUSB0"  # the node the kernel has not removed yet
    node.write_bytes(b"")
    with symlinked_pty(tmp_path, "usb-Plantower_PMS5003-if00-port0") as link:
        runtime = linked_runtime(link, table, rng=TopOfRange())

        with capture_logs(), Reader([runtime]) as reader:
            run_until(
                reader, lambda: up_settled(runtime) and runtime.snapshot().warmup_left_s is None
            )
            assert runtime.snapshot().warmup_left_s is None  # warmed up since the start
            hang_up_leaving_link(link, node)
            run_until(reader, lambda: runtime.state == "down")
            assert runtime.state == "down"
            link.replug()  # the device back under a new node before the first look
            run_until(reader, lambda: up_settled(runtime))
            assert up_settled(runtime), runtime.state
            ignored, frames = runtime.ignored, runtime.snapshot().frames
            link.pty.write(b"21.5\n21.6\n")
            run_until(reader, lambda: runtime.snapshot().frames >= frames + 2)
            assert runtime.snapshot().frames == frames + 2
            assert runtime.ignored == ignored + 2  # warming up: read, not published


def hang_up_error(url: str) -> str:
    """The error that reading ``url`` ends in once its server hung up."""
    source = SerialSource("net", url, SerialSettings())
    source.open()
    try:
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            try:
                source.read()
            except SourceBrokenError as exc:
                return str(exc)
            time.sleep(0.01)
        raise AssertionError(f"{url} read on for 5 s")
    finally:
        source.close()


def test_the_one_line_a_connection_carried_before_it_closed_is_quoted_as_either_side_s() -> None:
    """A connection that carried one short line of text and closed is quoted, not said to be
    the server's: a device's one reading before its server went away reads as a refusal of
    a server would. A line that a serial server writes when it refuses a connection
    (ser2net's) fails the open instead, quoted with what it means."""
    with hanging_up_server(b"21.5\n") as (url, _):
        text = hang_up_error(url)
    assert f"{url} hung up (end of file)" in text, text
    assert "'21.5'" in text, text
    assert "the server closed the connection" not in text, text
    assert "or the device's" in text, text
    for greeting in (b"Port already in use\r\n", b"Port already in use\n\r"):  # ser2net 4, 3
        with hanging_up_server(greeting, delay_s=0.0) as (url, _):
            source = SerialSource("net", url, SerialSettings())
            with pytest.raises(SourceUnavailableError) as refused:
                source.open()
        assert str(refused.value) == (
            f"sensor 'net': {url}: the serial server refused the connection: "
            "'Port already in use' (another client holds the port, which the server serves "
            "one at a time unless its max-connections allows more: another program, or an "
            "earlier connection of this host's that the server has not seen end yet)"
        )
        assert not source.is_open


def test_a_connection_that_carried_several_lines_is_not_said_to_have_carried_one() -> None:
    """A serial server that restarts after its device sent a few readings (a slow sensor's
    connection stays under a line's length of text for minutes), closing the connection in
    the middle of a line: the error does not quote the cut-off start of that line as all the
    connection carried, which reads as the server's reason for not serving it."""
    with hanging_up_server(b"23.5\n" * 5 + b"99.") as (url, _):
        text = hang_up_error(url)
    assert text == f"sensor 'net': {url} hung up (end of file)", text


@pytest.mark.parametrize("scheme", ["socket", "modbus-tcp"])
@pytest.mark.parametrize("ending", ["close", "reset"])
def test_a_connection_the_server_ends_at_once_saying_nothing_fails_the_open(
    monkeypatch: pytest.MonkeyPatch, ending: str, scheme: str
) -> None:
    """A serial server that closes or resets a connection as soon as it accepted it, before
    it sent a byte, does not serve it (ser2net being stopped: its listener still accepts
    for a few milliseconds after it closed its clients'): the open fails and says so, so the
    sensor stays down, never up for a moment. The wait for a refusal is made 5 s here: the
    close ends it, not its bound. A reset that comes before the connect is seen to complete
    (the kernel then reports it as the connect's error: from a few opens in a hundred to
    nearly all of them here, with the machine's load) is said the same way: 300 opens, each
    with that error."""
    monkeypatch.setattr(serial_refusals, "REFUSAL_WAIT_S", (5.0, 5.0))
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    stop = threading.Event()

    def serve() -> None:
        for client in accepted_clients(listener, stop):
            if ending == "reset":
                client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            client.close()

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    url = f"{scheme}://127.0.0.1:{listener.getsockname()[1]}"
    texts = set()
    try:
        for _ in range(300):
            source = SerialSource("net", url, SerialSettings())
            started = time.monotonic()
            with pytest.raises(SourceUnavailableError) as ended:
                source.open()
            assert time.monotonic() - started < 2.0
            assert not source.is_open
            texts.add(str(ended.value))
    finally:
        stop.set()
        server.join(5)
        listener.close()
    how = (
        "closed the connection"
        if ending == "close"
        else "ended the connection (Connection reset by peer)"
    )
    said = (
        f"sensor 'net': {url}: the server {how} as soon as it accepted it, saying nothing "
        "(a serial server that is stopping or restarting, or that serves no more clients)"
    )
    if scheme == "modbus-tcp":  # a gateway that serves one client, held by another
        said = (
            f"sensor 'net': {url}: the gateway {how} as soon as it accepted it, saying nothing "
            "(one that serves one client at a time, held by another: a SCADA system, a second "
            "sensord, a configuration tool, another port of this configuration that names it "
            "otherwise, its host name and its address; or one that is stopping or restarting)"
        )
    assert texts == {said}, texts


def test_a_shutdown_ends_the_wait_for_a_serial_server_s_refusal(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A server that sends what may begin a refusal ("P", as "Port already in use" does)
    and keeps the connection open: the open waits for the rest and the close, here up to
    5 s; ``abort_open`` from another thread (the reader's shutdown) ends that wait within
    its 50 ms slices, and the byte is left to be read."""
    monkeypatch.setattr(serial_refusals, "REFUSAL_WAIT_S", (5.0, 5.0))
    listener = socket.create_server(("127.0.0.1", 0))
    held: list[socket.socket] = []

    def serve() -> None:
        client, _ = listener.accept()
        client.sendall(b"P")
        held.append(client)

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    source = SerialSource(
        "net", f"socket://127.0.0.1:{listener.getsockname()[1]}", SerialSettings()
    )
    opened = threading.Event()

    def open_source() -> None:
        source.open()
        opened.set()

    opener = threading.Thread(target=open_source, daemon=True)
    try:
        opener.start()
        time.sleep(0.3)
        assert not opened.is_set()  # waiting for the rest of a refusal
        aborted_at = time.monotonic()
        source.abort_open()
        assert opened.wait(2.0)
        assert time.monotonic() - aborted_at < 0.5
        deadline = time.monotonic() + 2.0
        got = b""
        while not got and time.monotonic() < deadline:
            got = source.read()
        assert got == b"P"
    finally:
        source.close()
        for client in held:
            client.close()
        listener.close()


def test_a_bus_that_hangs_up_before_any_answer_backs_off_and_one_that_answered_starts_over(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The same for a Modbus bus: a serial server that hangs up at once keeps its backoff
    growing; one that answered a request before it hung up is reopened after the first
    delay again."""
    spec = ModbusSpec(1, "rtu", (RegisterSpec("a", "input", 0, "uint16", "big", "big"),))
    outcomes: dict[bool, tuple[int, int]] = {}
    for answers in (False, True):
        if answers:
            # the answering server writes only once asked: no refusal can come within the
            # open's wait for one (50 ms of each open, idle time)
            monkeypatch.setattr(serial_refusals, "REFUSAL_WAIT_S", (0.0, 0.0))
        listener = socket.create_server(("127.0.0.1", 0))
        listener.settimeout(0.05)
        accepted: list[float] = []
        stop = threading.Event()

        def serve(
            listener: socket.socket = listener,
            answers: bool = answers,
            stop: threading.Event = stop,
            accepted: list[float] = accepted,
        ) -> None:
            responder = RtuResponder({1: SimulatedModbusDevice(spec, {}, 1, 0.0)})
            for client in accepted_clients(listener, stop):
                accepted.append(time.monotonic())
                with client:
                    client.settimeout(1.0)
                    if answers:
                        with contextlib.suppress(OSError):
                            for reply in responder.feed(client.recv(256)):
                                client.sendall(reply)
                    client.shutdown(socket.SHUT_RDWR)

        thread = threading.Thread(target=serve, daemon=True)
        thread.start()
        table = {
            "name": "meter",
            "port": f"socket://127.0.0.1:{listener.getsockname()[1]}",
            "format": "modbus",
            "modbus": {"unit": 1, "interval_s": 0.05, "timeout_s": 0.5},
            "registers": [{"name": "a", "table": "input", "address": 0}],
            "channels": [{"name": "a"}],
            "reconnect": {"initial_delay_s": 0.05, "max_delay_s": 2.0},
        }
        errors: list[str] = []
        loaded = Config.load({"sensors": [table]}, "", errors)
        assert loaded is not None, errors
        try:
            # the flapping bus runs its whole time (2 s, at most 12 opens in it); the
            # answering one ends at its 20th open, the fewest it must reach in 3 s
            enough = 20 if answers else None
            run_s = 3.0 if answers else 2.0
            with Reader([SensorRuntime(loaded.sensors[0])]) as reader:
                reader.run(until=ended(time.monotonic() + run_s, accepted, enough))
                (bus,) = reader._buses.values()
                outcomes[answers] = (len(accepted), bus.retry.failures)
        finally:
            stop.set()
            thread.join(5)
            listener.close()
    flapping, answering = outcomes[False], outcomes[True]
    assert flapping[0] <= 12, flapping  # as for the port above
    assert flapping[1] >= 5, flapping
    assert answering[0] >= 20, answering
    assert answering[1] <= 1, answering


def test_a_silent_network_connection_is_reopened_and_a_silent_local_port_is_not() -> None:
    """Two silent sensors (stale_after_s 0.3) beside a simulated one: one on a ``socket://``
    server whose kernel takes the connection and acknowledges what is sent while its program
    never reads nor sends (a serial server that hangs), one on a pty whose device is silent.
    The network connection, without a byte for 3 times stale_after_s, is opened again, and
    again at a growing backoff while it stays silent (a warning, then info lines); the sensor
    stays stale across it, never down. The pty is never reopened: reopening a tty does not
    help and would lose what the line carries."""
    listener = socket.create_server(("127.0.0.1", 0))  # never accepts: its kernel does
    url = f"socket://127.0.0.1:{listener.getsockname()[1]}"
    reconnect = {"initial_delay_s": 0.1, "max_delay_s": 1.0}
    with listener, PtyPair() as pair:
        tables: list[dict[str, object]] = [
            {"name": "remote", "port": url},
            {"name": "local", "port": pair.path},
            {"name": "sim", "port": "sim://sim", "stale_after_s": 5.0},
        ]
        errors: list[str] = []
        loaded = Config.load(
            {
                "sensors": [
                    {
                        "format": "value",
                        "stale_after_s": 0.3,
                        "reconnect": reconnect,
                        "channels": [{"name": "v"}],
                        **table,
                    }
                    for table in tables
                ]
            },
            "",
            errors,
        )
        assert loaded is not None, errors
        remote, local, sim = (SensorRuntime(s) for s in loaded.sensors)
        with capture_logs() as logs, Reader([remote, local, sim]) as reader:
            # the silence is looked for every 0.1 s, not at each second's tick
            reader.housekeeping_interval_s = reader.idle_housekeeping_interval_s = 0.1
            reader.run(until=lambda: remote.state == "stale" and local.state == "stale")
            local_source = local.source
            reader.run(until=deadline_passed(time.monotonic() + 2.5))
            assert local.source is local_source
            assert (local.state, local.reconnects, local.silent_reconnects) == ("stale", 0, 0)
            assert remote.state == "stale"
            assert 2 <= remote.silent_reconnects <= 5, remote.silent_reconnects
            assert remote.reconnects in (remote.silent_reconnects, remote.silent_reconnects - 1)
            assert sim.state == "up"
    silent = [e for e in logs if "silent; reconnecting" in e["event"]]
    assert [(e["sensor"], e["port"]) for e in silent] == [("remote", url)] * len(silent)
    assert [e["log_level"] for e in silent] == ["warning"] + ["info"] * (len(silent) - 1)
    match = re.fullmatch(
        r"no bytes on the connection for (\d+\.\d) s: reconnecting", silent[0]["error"]
    )
    assert match is not None, silent[0]["error"]
    assert 0.9 <= float(match[1]) <= 2.5  # checked at each housekeeping tick (0.1 s here)
    states = [(e["sensor"], e["state"]) for e in logs if e["event"] == "sensor state"]
    assert ("remote", "down") not in states
    assert ("local", "down") not in states


@pytest.mark.slow
def test_a_serial_server_that_hangs_for_hours_is_not_logged_at_each_reopen(
    start_daemon: StartDaemon,
) -> None:
    """The daemon (its clock sped up 480 times by libfaketime) on a ``socket://`` server that
    accepts every connection and never sends: the connection is opened again for its silence
    at the backoff (up to 30 s), about twice a minute for as long as the server hangs. The
    first reopen is a warning, the 2nd, 4th, 8th ... info lines, not two info lines at every
    reopen (6,000 a day); sensord_serial_reconnects_total counts every one."""
    listener = socket.create_server(("127.0.0.1", 0))  # never accepts: its kernel does
    with listener:
        daemon = start_daemon(
            config=sensor_toml(
                "remote",
                f"socket://127.0.0.1:{listener.getsockname()[1]}",
                extra='simulate = "never"',
            ),
            env={"LD_PRELOAD": libfaketime(), "FAKETIME": "+0 x480"},
        )
        daemon.wait_http()
        wait_for(
            lambda: (
                daemon.scrape().get("sensord_serial_reconnects_total", 0.0, sensor="remote") >= 48
            ),
            30.0,
            "48 reopens",
            0.1,
        )
        assert daemon.stop(30.0) == 0
    [first] = daemon.events("connection silent; reconnecting")
    assert first["level"] == "warning"
    still = [e["attempt"] for e in daemon.events("connection still silent; reconnecting")]
    assert still == [2, 4, 8, 16, 32, 64][: len(still)], still
    assert len(daemon.events("connection open again")) == 1 + len(still)


#: What ser2net writes on every connection of a port with a ``banner`` (its default
#: ``\r\nser2net port \p device \d [\B] (\s)\r\n\r\n``, expanded).
SER2NET_BANNER = b"\r\nser2net port 3001 device /dev/ttyUSB0 [9600 N81] (Debian GNU/Linux)\r\n\r\n"


def test_a_serial_server_that_greets_each_connection_then_hangs_is_reconnected_at_a_growing_backoff() -> (
    None
):
    """A serial server that writes its banner on every connection and then passes nothing on
    (the device behind it is gone): the banner is bytes, but no frame, so the connection
    opened again for its silence has not worked: the backoff grows while it stays so, and
    only the first reopen is a warning, as for a server that sends nothing at all."""
    server = GreetingServer(SER2NET_BANNER)
    table = {
        "name": "remote",
        "port": server.url,
        "format": "value",
        "stale_after_s": 0.15,
        "reconnect": {"initial_delay_s": 0.1, "max_delay_s": 1.0},
        "channels": [{"name": "v"}],
    }
    errors: list[str] = []
    loaded = Config.load({"sensors": [table]}, "", errors)
    assert loaded is not None, errors
    remote = SensorRuntime(loaded.sensors[0])
    with server, capture_logs() as logs, Reader([remote]) as reader:
        # the silence is looked for at each housekeeping tick: every 0.1 s, not every second
        # (every 5 s while the reader is idle), so a reopen comes at the backoff's pace
        reader.housekeeping_interval_s = reader.idle_housekeeping_interval_s = 0.1
        reader.run(until=lambda: remote.silent_reconnects >= 4)
        assert remote.state == "stale"
        assert remote.retry.failures >= 4  # grown at each reopen: none worked
    assert remote.bytes_read >= 2 * len(SER2NET_BANNER)  # banners came on the connections
    silent = [e for e in logs if "silent; reconnecting" in e["event"]]
    assert [e["log_level"] for e in silent] == ["warning"] + ["info"] * (len(silent) - 1)


class StickingServer:
    """A serial server on 127.0.0.1 whose device sends a value every 50 ms for ``works_s`` on
    each new connection, after which the server hangs: the connection stays open and carries
    nothing (a session that sticks again soon after each reconnect)."""

    def __init__(self, works_s: float = 0.4) -> None:
        self.works_s = works_s
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.url = f"socket://127.0.0.1:{self._listener.getsockname()[1]}"
        self._stop = threading.Event()
        self._clients: list[socket.socket] = []
        self._thread = threading.Thread(target=self._run, name="sticking-server", daemon=True)

    def _run(self) -> None:
        for client in accepted_clients(self._listener, self._stop):
            self._clients.append(client)  # held open, silent, once its time is up
            until = time.monotonic() + self.works_s
            while time.monotonic() < until and not self._stop.wait(0.05):
                with contextlib.suppress(OSError):
                    client.sendall(b"21.5\n")

    def __enter__(self) -> StickingServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._listener.close()
        self._thread.join(5.0)
        for client in self._clients:
            client.close()


def test_a_serial_server_that_sticks_again_after_each_reconnect_is_warned_of_once_a_minute() -> (
    None
):
    """A ``socket://`` serial server whose session sticks again shortly after each new
    connection (readings come in between, so each reconnect is the first of its spell): the
    warning, and the line of the reopen that follows it, come once a minute, not at every
    reconnect; every one is still counted in silent_reconnects."""
    table = {
        "name": "remote",
        "format": "value",
        "stale_after_s": 0.3,
        "reconnect": {"initial_delay_s": 0.1, "max_delay_s": 1.0},
        "channels": [{"name": "v"}],
    }
    with StickingServer() as server:
        errors: list[str] = []
        loaded = Config.load({"sensors": [{**table, "port": server.url}]}, "", errors)
        assert loaded is not None, errors
        remote = SensorRuntime(loaded.sensors[0])
        with capture_logs() as logs, Reader([remote]) as reader:
            # the silence is looked for every 0.1 s, not every second (see above)
            reader.housekeeping_interval_s = reader.idle_housekeeping_interval_s = 0.1
            # the second reconnect is the one a warning at each would show; a third is the same
            reader.run(until=lambda: remote.silent_reconnects >= 2)
    warned = [e for e in logs if e["event"] == "connection silent; reconnecting"]
    assert len(warned) == 1, warned
    assert warned[0]["suppressed"] == 0
    assert not [e for e in logs if e["event"] == "connection still silent; reconnecting"]
    assert len([e for e in logs if e["event"] == "connection open again"]) == 1  # its reopen
