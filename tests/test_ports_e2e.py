"""The real daemon against request/response devices and network ports."""

from __future__ import annotations

import os
import select
import threading
import time
from pathlib import Path

import pytest
from harness.common import wait_for
from harness.config import sensor_toml
from harness.daemon import DaemonProcess
from harness.pty import PtyPair, TcpPtyRelay

pytestmark = pytest.mark.slow

POLLED = """
[[sensors]]
name = "tank"
port = "{port}"
format = "kv"
simulate = "never"
terminator = "\\r\\n"
parse = {{ pair_separator = ";" }}
poll = {{ request = 'MEAS?\\r\\n', interval_s = 0.2 }}
  [[sensors.channels]]
  name = "level"
  field = "lvl"
"""


class Responder:
    """A request/response device on a pty master: answers ``MEAS?\\r\\n`` while ``answering``."""

    def __init__(self, pair: PtyPair) -> None:
        assert pair.master_fd is not None
        self.fd = pair.master_fd
        self.answering = True
        self.requests = 0
        self.answers = 0
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
            while b"MEAS?\r\n" in pending:
                _, _, pending = pending.partition(b"MEAS?\r\n")
                self.requests += 1
                if self.answering:
                    self.answers += 1
                    os.write(self.fd, f"lvl={self.answers};unit=mm\r\n".encode())

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)


def test_polled_sensor_gets_answers_and_counts_timeouts(tmp_path: Path) -> None:
    with PtyPair() as pair:
        responder = Responder(pair)
        config = tmp_path / "sensord.toml"
        config.write_text(POLLED.format(port=pair.path))
        daemon = DaemonProcess(["--config", str(config)], tmp_path=tmp_path)
        try:
            daemon.wait_http()
            wait_for(lambda: responder.answers >= 5, 5, "five answered polls")
            wait_for(
                lambda: daemon.scrape().value("sensord_frames_total", sensor="tank") >= 5,
                5,
                "frames",
            )
            samples = daemon.scrape()
            assert samples.value("sensord_reading_value", channel="level", sensor="tank") >= 4
            assert samples.value("sensord_poll_timeouts_total", sensor="tank") == 0
            responder.answering = False
            wait_for(
                lambda: daemon.scrape().value("sensord_poll_timeouts_total", sensor="tank") >= 3,
                5,
                "poll timeouts",
            )
            assert daemon.status()["sensors"]["tank"]["poll_timeouts"] >= 3
            # polls keep going at the configured interval (0.2 s): neither faster nor slower
            requests, started = responder.requests, time.monotonic()
            time.sleep(2.0)
            polls = responder.requests - requests
            elapsed = time.monotonic() - started
            assert elapsed / 0.2 / 2 <= polls <= elapsed / 0.2 + 2, (polls, elapsed)
        finally:
            responder.stop()
            assert daemon.stop() == 0


def test_socket_url_through_a_tcp_relay(tmp_path: Path) -> None:
    with PtyPair() as pair, TcpPtyRelay(pair) as relay:
        config = tmp_path / "sensord.toml"
        config.write_text(sensor_toml("remote", relay.url, extra='simulate = "never"'))
        daemon = DaemonProcess(["--config", str(config)], tmp_path=tmp_path)
        try:
            daemon.wait_http()
            daemon.wait_up_settled(["remote"], 10)  # its first line is read whole
            pair.write(b"1\n2\n3\n")
            wait_for(
                lambda: daemon.scrape().value("sensord_frames_total", sensor="remote") == 3,
                5,
                "three frames over TCP",
            )
            assert daemon.scrape().value("sensord_reading_value", channel="v", sensor="remote") == 3
            pair.close_master()  # the relay hangs up the TCP connection

            def went_down() -> bool:
                # from the log, not /status: the relay still listens, so the first retry
                # (full jitter, possibly within milliseconds) may reconnect between two polls
                states = daemon.events("sensor state")
                return any(r["sensor"] == "remote" and r["state"] == "down" for r in states)

            wait_for(went_down, 5, "down")
        finally:
            assert daemon.stop() == 0


def test_unreachable_network_port_does_not_stall_other_sensors(tmp_path: Path) -> None:
    # a TCP port that accepts nothing: connect is refused; the simulated sensor keeps going
    config = tmp_path / "sensord.toml"
    config.write_text(
        sensor_toml("remote", "socket://127.0.0.1:9", extra='simulate = "never"')
        + sensor_toml("local", "sim://local")
    )
    daemon = DaemonProcess(["--config", str(config)], tmp_path=tmp_path)
    try:
        daemon.wait_http()
        wait_for(
            lambda: (
                daemon.scrape().value("sensord_serial_open_failures_total", sensor="remote") >= 2
            ),
            10,
            "open failures counted",
        )
        # the first retry may come within milliseconds: give the 10 Hz sensor time for frames
        wait_for(lambda: daemon.status()["sensors"]["local"]["frames"] >= 3, 5, "local frames")
        status = daemon.status()["sensors"]
        assert status["remote"]["state"] == "down"
        assert "refused" in (status["remote"]["last_error"] or "").lower()
        assert status["local"]["up"]
        assert status["local"]["frames"] >= 3
    finally:
        assert daemon.stop() == 0
