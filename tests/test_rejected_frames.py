"""A sensor that is up because frames come, every one of which is rejected, says why no reading
comes: a device read at the wrong line speed whose garbage happens to hold the terminator. On a
real pty with the running daemon; the garbage is what a UART at the wrong settings receives."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from harness.common import wait_for
from harness.daemon import StartDaemon
from harness.pty import PtyPair
from harness.wire import uart_received

LINE = b"T=21.5,RH=40.2\r\n"
CONFIG = """[[sensors]]
name = "climate"
port = "{port}"
format = "kv"
stale_after_s = 2
channels = [
  {{ name = "temperature_celsius", field = "T" }}, {{ name = "humidity_percent", field = "RH" }},
]
"""


@contextmanager
def device(pair: PtyPair, sends: list[bytes]) -> Iterator[None]:
    """A device writing ``sends[0]`` every 0.2 s until the test's end (the test may replace
    it)."""
    stop = threading.Event()

    def run() -> None:
        while not stop.wait(0.2):
            pair.write(sends[0])

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


@pytest.mark.slow
def test_a_device_at_another_baud_rate_whose_garbage_holds_line_ends_is_pointed_at_the_serial_settings(
    start_daemon: StartDaemon, pty_pair: PtyPair
) -> None:
    garbage = uart_received(LINE * 4, 19200, 9600, gap_chars=0.3)  # the device sends at 19200
    assert b"\n" in garbage  # lines come: the sensor is up, no frame is ever good
    daemon = start_daemon(config=CONFIG.format(port=pty_pair.path))
    sends = [garbage]
    with device(pty_pair, sends):
        daemon.wait_http()
        wait_for(lambda: daemon.status()["sensors"]["climate"]["hint"] is not None, 10, "a hint")
        climate = daemon.status()["sensors"]["climate"]
        assert climate["state"] == "up"
        assert climate["hint"].startswith("frames come, but every one is rejected (encoding ")
        assert climate["hint"].endswith(
            "so no reading: check the serial settings (baudrate, bytesize, parity, stopbits) "
            "against the device's, or line noise (RS-485: A and B swapped, termination)"
        )
        [event] = daemon.events("no reading: every frame rejected")
        assert event["sensor"] == "climate"
        assert event["port"] == pty_pair.path
        assert event["hint"] == climate["hint"]

        sends[0] = LINE  # the line speed set right: readings, and the hint goes
        wait_for(lambda: daemon.status()["sensors"]["climate"]["hint"] is None, 10, "no hint")
        assert daemon.status()["sensors"]["climate"]["state"] == "up"
        time.sleep(3)  # more than stale_after_s of good lines: the warning is not repeated
        assert len(daemon.events("no reading: every frame rejected")) == 1


@pytest.mark.slow
def test_a_healthy_device_with_a_rejected_line_now_and_then_gets_no_hint(
    start_daemon: StartDaemon, pty_pair: PtyPair
) -> None:
    daemon = start_daemon(config=CONFIG.format(port=pty_pair.path))
    with device(pty_pair, [LINE + b"T=2\x001.5\r\n"]):  # a good line, and one hit by noise
        daemon.wait_http()
        daemon.wait_state("up", timeout_s=10)
        time.sleep(4)
        climate = daemon.status()["sensors"]["climate"]
    assert climate["parse_errors"]["encoding"] > 5
    assert climate["hint"] is None
    assert daemon.events("no reading: every frame rejected") == []
