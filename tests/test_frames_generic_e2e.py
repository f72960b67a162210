"""The real daemon reading sensors without a preset from their frame specs, on ptys, with
/metrics over HTTP: a TFmini-S LiDAR streaming 1000 frames a second with noise and damaged
frames, and a Sensirion SPS30 answering polls with its byte-stuffed SHDLC replies (the frames
of a real sensor; see tests/test_frames_generic.py for their origins)."""

from __future__ import annotations

import os
import select
import threading
import time
from pathlib import Path

import pytest
from harness.common import wait_for
from harness.daemon import DaemonProcess
from harness.pty import PtyPair, ptys, symlinked_pty
from test_frames_generic import SPS30, SPS30_FRAMES, SPS30_VALUES, TFMINI, spec_of, tfmini

from sensord.formats import codec_for
from sensord.formats.frames import FrameFramer

pytestmark = pytest.mark.slow

READ_REQUEST = bytes.fromhex("7E 00 03 00 FC 7E")
START = bytes.fromhex("7E 00 00 02 01 03 F9 7E")
STARTED = bytes.fromhex("7E 00 00 00 00 FF 7E")
MEASURING_ALREADY = bytes.fromhex("7E 00 00 43 00 BC 7E")
COMMANDS = (START, READ_REQUEST)


def config(tfmini_port: str, sps30_port: str) -> str:
    lidar = TFMINI.replace('"/dev/ttyUSB0"', f'"{tfmini_port}"')
    lidar = lidar.replace('format = "frames"', 'format = "frames"\nsimulate = "never"')
    sps30 = SPS30.replace('"/dev/ttyUSB0"', f'"{sps30_port}"').replace(
        "interval_s = 1", "interval_s = 0.2"
    )
    sps30 = sps30.replace('format = "frames"', 'format = "frames"\nsimulate = "never"')
    return lidar + sps30


class Sps30:
    """An SPS30 on a pty master. Powered up, it is idle and answers no read request until it
    gets the start command, which it acknowledges (state 00; 43 when it measures already, as
    tests/test_frames_setup_bytes.py records); measuring, it answers each read request with
    the next captured reply, a stray escape byte before every other one. ``commands`` holds
    every command it read, in order."""

    def __init__(self, pair: PtyPair) -> None:
        assert pair.master_fd is not None
        self.fd = pair.master_fd
        self.requests = 0
        self.measuring = False
        self.commands: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        pending = b""
        while not self._stop.is_set():
            ready, _, _ = select.select([self.fd], [], [], 0.05)
            if not ready:
                continue
            try:
                pending += os.read(self.fd, 1024)
            except OSError:
                return
            while found := [(pending.find(c), c) for c in COMMANDS if c in pending]:
                at, command = min(found)
                pending = pending[at + len(command) :]
                self.commands.append(command)
                if command == START:
                    os.write(self.fd, MEASURING_ALREADY if self.measuring else STARTED)
                    self.measuring = True
                elif self.measuring:
                    reply = SPS30_FRAMES[self.requests % len(SPS30_FRAMES)]
                    os.write(self.fd, (b"\x7d" if self.requests % 2 else b"") + reply)
                    self.requests += 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


def test_a_fast_lidar_and_a_polled_sps30(tmp_path: Path) -> None:
    with ptys(2) as (lidar, particles):
        path = tmp_path / "sensord.toml"
        path.write_text(config(lidar.path, particles.path))
        device = Sps30(particles)
        daemon = DaemonProcess(["--config", str(path)], tmp_path=tmp_path)
        try:
            daemon.wait_http()
            # 2000 frames at 1000 a second, 10 every 10 ms; two bursts have noise (with the
            # start bytes) and a frame with a damaged byte before them
            bursts = []
            for burst in range(200):
                data = b""
                if burst % 100 == 50:
                    bad = bytearray(tfmini(999, 1, 20.0))
                    bad[3] ^= 0x10
                    data += b"\x59\x00\x59\x59\x01" + bytes(bad)
                for i in range(10):
                    data += tfmini(100 + burst, 1000 + i, 25.0 + burst / 8)
                bursts.append(data)
            for data in bursts:
                lidar.write(data)
                time.sleep(0.01)
            # what the framer makes of the whole stream (any chunking gives the same)
            spec, max_frame_bytes = spec_of(TFMINI)
            framer = codec_for("frames").framer(spec, b"", max_frame_bytes)
            assert isinstance(framer, FrameFramer)
            sent = len(framer.feed(b"".join(bursts)))
            assert sent == 2000
            wait_for(
                lambda: daemon.scrape().get("sensord_frames_total", 0, sensor="lidar") >= sent,
                10,
                "every lidar frame read",
            )
            wait_for(lambda: device.requests >= 6, 10, "six polls answered")
            wait_for(
                lambda: daemon.scrape().get("sensord_frames_total", 0, sensor="sps30") >= 6,
                5,
                "six SPS30 replies read",
            )
            samples = daemon.scrape()
            assert samples.value("sensord_frames_total", sensor="lidar") == sent
            assert (
                samples.value("sensord_parse_errors_total", sensor="lidar", reason="checksum")
                == framer.rejected["checksum"]
                > 0
            )
            assert (
                samples.value("sensord_skipped_bytes_total", sensor="lidar")
                == framer.skipped_bytes
                == 2 * (5 + 9)
            )
            assert (
                samples.value("sensord_reading_value", sensor="lidar", channel="distance_meters")
                == 2.99
            )
            assert (
                samples.value(
                    "sensord_reading_value", sensor="lidar", channel="temperature_celsius"
                )
                == 25.0 + 199 / 8
            )
            for reason in ("checksum", "syntax"):
                assert (
                    samples.get("sensord_parse_errors_total", 0, sensor="sps30", reason=reason) == 0
                )
            pm2_5 = samples.value("sensord_reading_value", sensor="sps30", channel="pm2_5_ug_m3")
            assert round(pm2_5, 1) in {values[0] for values in SPS30_VALUES}
            status = daemon.status()["sensors"]["sps30"]
            # the stray escape bytes, dropped before a delimiter; nothing else
            assert status["skipped_bytes"] <= device.requests // 2 + 1
            assert status["poll_timeouts"] == 0
        finally:
            device.stop()
            assert daemon.stop() == 0


def test_an_sps30_is_started_on_every_connect(tmp_path: Path) -> None:
    """The SPS30 measures only once started: the daemon writes the start command before its
    first poll, and again after the sensor was unplugged and plugged in again (powered anew,
    idle); the acknowledgements are counted nowhere as errors or skipped bytes."""
    with symlinked_pty(tmp_path) as linked:
        path = tmp_path / "sensord.toml"
        text = SPS30.replace('"/dev/ttyUSB0"', f'"{linked.link}"')
        text = text.replace("interval_s = 1", "interval_s = 0.2")
        path.write_text(text.replace('format = "frames"', 'format = "frames"\nsimulate = "never"'))
        device = Sps30(linked.pty)
        daemon = DaemonProcess(["--config", str(path)], tmp_path=tmp_path)
        try:
            daemon.wait_http()
            wait_for(lambda: device.requests >= 3, 10, "three polls answered")
            assert device.commands[:2] == [START, READ_REQUEST]
            assert device.commands.count(START) == 1
            device.stop()
            linked.unplug()
            fresh = linked.replug()
            device = Sps30(fresh)
            wait_for(lambda: device.requests >= 3, 15, "polls answered after the reconnect")
            assert device.commands[:2] == [START, READ_REQUEST]
            assert device.commands.count(START) == 1
            wait_for(
                lambda: daemon.scrape().get("sensord_frames_total", 0, sensor="sps30") >= 6,
                5,
                "six replies read",
            )
            samples = daemon.scrape()
            assert samples.value("sensord_serial_reconnects_total", sensor="sps30") == 1
            for reason in ("missing", "wrong"):
                assert (
                    samples.value("sensord_setup_ack_errors_total", sensor="sps30", reason=reason)
                    == 0
                )
            status = daemon.status()["sensors"]["sps30"]
            assert not any(status["parse_errors"].values())
            # the stray escape bytes only: the acknowledgements were taken out of the stream
            assert status["skipped_bytes"] <= status["frames"] // 2 + 2
        finally:
            device.stop()
            assert daemon.stop() == 0


def test_an_sps30_power_cycled_while_its_port_stays_open_is_started_again(tmp_path: Path) -> None:
    """The SPS30 has its own supply behind an adapter that stays plugged in: power-cycled, it
    is idle and answers no read request while the port stays open. The daemon finds it stale
    (2 s here, ten polls), writes the start command again and reads its replies again;
    /metrics counts one re-run and no acknowledgement error."""
    with ptys(1) as (particles,):
        path = tmp_path / "sensord.toml"
        text = SPS30.replace('"/dev/ttyUSB0"', f'"{particles.path}"')
        text = text.replace("interval_s = 1", "interval_s = 0.2")
        text = text.replace('format = "frames"', 'format = "frames"\nstale_after_s = 2')
        path.write_text(text.replace('format = "frames"', 'format = "frames"\nsimulate = "never"'))
        device = Sps30(particles)
        daemon = DaemonProcess(["--config", str(path)], tmp_path=tmp_path)
        try:
            daemon.wait_http()
            wait_for(lambda: device.requests >= 3, 10, "three polls answered")
            device.measuring = False  # powered anew: idle, the port still open
            answered = device.requests
            # stale only until the start command's re-run brings answers (a poll or two): read
            # from the log, which keeps it, not from /status, where a loaded host's polls of
            # it can fall before and after it
            daemon.wait_events("sensor state", timeout_s=10, sensor="sps30", state="stale")
            wait_for(lambda: device.requests >= answered + 3, 15, "polls answered again")
            assert device.commands.count(START) == 2
            wait_for(lambda: daemon.status()["sensors"]["sps30"]["state"] == "up", 5, "up again")
            samples = daemon.scrape()
            assert samples.value("sensord_setup_reruns_total", sensor="sps30") == 1
            assert samples.value("sensord_serial_reconnects_total", sensor="sps30") == 0
            for reason in ("missing", "wrong"):
                assert (
                    samples.value("sensord_setup_ack_errors_total", sensor="sps30", reason=reason)
                    == 0
                )
            assert daemon.status()["sensors"]["sps30"]["setup_reruns"] == 1
        finally:
            device.stop()
            assert daemon.stop() == 0
