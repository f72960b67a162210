"""The real daemon against a binary request/response sensor on a pty: an MH-Z19 responder
that answers the read request like the device, and sees the set-up commands on every connect."""

from __future__ import annotations

import os
import select
import threading
from pathlib import Path

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
"""


def reply(ppm: int) -> bytes:
    body = bytes([0x86, ppm >> 8, ppm & 0xFF, 62, 0, 0, 0])
    return b"\xff" + body + bytes([-sum(body) % 256])


class Mhz19:
    """A device on a pty master: records every 9-byte command, answers reads with a reply."""

    def __init__(self, pair: PtyPair) -> None:
        assert pair.master_fd is not None
        self.fd = pair.master_fd
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
            while len(pending) >= 9:
                command, pending = pending[:9], pending[9:]
                self.commands.append(command)
                if command == READ:
                    os.write(self.fd, b"\x42" + reply(400 + len(self.commands)))

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
            # the stray 0x42s
            assert samples.value("sensord_skipped_bytes_total", sensor="co2") >= 3
            assert samples.value("sensord_poll_timeouts_total", sensor="co2") == 0
            # unplug and replug: the set-up commands go out again before the first poll
            device.stop()
            linked.unplug()
            fresh = linked.replug()
            device = Mhz19(fresh)
            wait_for(lambda: device.commands.count(READ) >= 1, 10, "polls after the reconnect")
            assert device.commands[:2] == [ABC_OFF, RANGE_5000]
        finally:
            device.stop()
            assert daemon.stop() == 0
