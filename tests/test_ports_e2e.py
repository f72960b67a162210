"""The real daemon against request/response devices and network ports."""

from __future__ import annotations

import math
import os
import select
import socket
import threading
import time
from pathlib import Path

import pytest
from harness.common import wait_for
from harness.config import sensor_toml
from harness.daemon import DaemonProcess
from harness.host_lag import keep_time
from harness.proc import run_delays_s, waited_most_s
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
            # (a loop that polls at each pass makes hundreds a second)
            requests, started = responder.requests, time.monotonic()
            time.sleep(1.2)
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


class IdleTimeoutServer:
    """A serial server on 127.0.0.1 with an inactivity timeout (a Moxa NPort's inactivity
    time) in front of a device that sends a line every ``period_s``, the first
    ``period_s / 2`` after the first connection: it serves one connection at a time, ends it
    once it has carried nothing for ``idle_s``, and drops the lines that come while no
    connection is open (a serial server keeps nothing for a client it does not have). It
    counts the lines ``sent`` and those ``dropped``, and keeps how long the port was left
    without a connection after each end (``gaps_s``), how long meanwhile the host kept a
    thread of the client (``client_pid``, once set) waiting for a CPU at most
    (``gaps_waited_s``), and for each line dropped the gap it fell in (``dropped_in``). Its
    thread keeps its time where the host allows (``harness.host_lag.keep_time``)."""

    def __init__(self, period_s: float, idle_s: float) -> None:
        self.period_s = period_s
        self.idle_s = idle_s
        self.sent = self.dropped = 0
        self.gaps_s: list[float] = []
        self.gaps_waited_s: list[float] = []
        self.dropped_in: list[int] = []
        self.client_pid: int | None = None
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.005)
        self.url = f"socket://127.0.0.1:{self._listener.getsockname()[1]}"
        self._sending = threading.Event()
        self._sending.set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="idle-timeout", daemon=True)

    def __enter__(self) -> IdleTimeoutServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(5)
        self._listener.close()

    def stop_sending(self) -> None:
        """The device sends no more lines."""
        self._sending.clear()

    def _client_waits(self) -> dict[int, float]:
        return {} if self.client_pid is None else run_delays_s(self.client_pid)

    def _serve(self) -> None:
        keep_time()
        client: socket.socket | None = None
        next_line = math.inf
        idle_from = closed_at = 0.0
        waits_at_close: dict[int, float] = {}
        while not self._stop.is_set():
            if client is None:
                try:
                    client, _ = self._listener.accept()
                except TimeoutError:
                    pass
                else:
                    idle_from = time.monotonic()
                    if next_line == math.inf:
                        next_line = idle_from + self.period_s / 2
                    else:
                        self.gaps_s.append(idle_from - closed_at)
                        self.gaps_waited_s.append(
                            waited_most_s(waits_at_close, self._client_waits())
                        )
            else:
                self._stop.wait(0.005)
            now = time.monotonic()
            if now >= next_line and self._sending.is_set():
                next_line += self.period_s
                self.sent += 1
                if client is None:
                    self.dropped += 1
                    self.dropped_in.append(len(self.gaps_s))
                else:
                    client.sendall(b"21.5\n")
                    idle_from = now
            if client is not None and now - idle_from >= self.idle_s:
                client.close()
                client = None
                closed_at = now
                waits_at_close = self._client_waits()
        if client is not None:
            client.close()


def test_a_device_that_sends_rarely_behind_a_server_with_an_idle_timeout_loses_no_line(
    tmp_path: Path,
) -> None:
    """A device that sends a line every 2.5 s behind a serial server that ends each connection
    idle for 0.7 s and drops what the device sends while no connection is open: three ends
    between two lines, each of a connection the server served, none a failure of the port,
    which is opened again at once, its backoff (reconnect's defaults: 0.5 s growing to 30 s)
    at the start each time. Over 12 s no line comes while the port is closed, every line
    the device sent is read, and the port is never left closed for as long as the backoff's
    initial delay. A backoff grown over the ends would keep the port closed for seconds at
    a time, and the lines that came then would be lost. The sensor is up throughout, never
    down for the moment between a connection and the next: its state lines say up once,
    and ``/status`` and every scrape of ``sensord_sensor_up`` say up, with the ends counted
    as reconnects and logged at info."""
    with IdleTimeoutServer(period_s=2.5, idle_s=0.7) as server:
        config = tmp_path / "sensord.toml"
        config.write_text(
            sensor_toml(
                "rare", server.url, extra='simulate = "never"\nstale_after_s = 10', rate_hz=None
            )
        )
        daemon = DaemonProcess(["--config", str(config)], tmp_path=tmp_path)
        server.client_pid = daemon.pid
        try:
            daemon.wait_http()
            daemon.wait_state("up", ["rare"], 10)
            up: list[float] = []
            while server.sent < 5:
                up.append(daemon.scrape().get("sensord_sensor_up", -1.0, sensor="rare"))
                time.sleep(0.05)
            server.stop_sending()
            sent = server.sent
            wait_for(
                lambda: daemon.status()["sensors"]["rare"]["frames"] >= sent - server.dropped,
                5,
                "the lines the server passed on read",
            )
            frames = daemon.status()["sensors"]["rare"]["frames"]
            # each gap shorter than the backoff's initial delay but for the time the host kept
            # a thread of the daemon waiting for a CPU in it, and a line lost only in a gap
            # that wait drew out past that delay (none on a steady host)
            gaps = list(zip(server.gaps_s, server.gaps_waited_s, strict=True))
            drawn_out = [gap >= 0.5 for gap, _ in gaps]
            assert len(gaps) >= 10, gaps
            assert all(gap - waited < 0.5 for gap, waited in gaps), gaps
            lost_in = server.dropped_in
            assert all(i < len(gaps) and drawn_out[i] for i in lost_in), (lost_in, gaps)
            assert frames == sent - server.dropped, (server.dropped, frames, sent)
            assert set(up) == {1.0}, up
            status = daemon.status()["sensors"]["rare"]
            assert status["state"] == "up", status
            assert status["reconnects"] >= 10, status
            states = [e["state"] for e in daemon.events("sensor state") if e["sensor"] == "rare"]
            assert states == ["up"], states
            [ended, *_] = daemon.events("connection ended; reconnecting")
            assert ended["level"] == "info", ended
        finally:
            assert daemon.stop() == 0
