"""A sensor that goes stale says what came meanwhile: no bytes at all, or bytes that hold no
frame, and the likely cause (a terminator, the serial settings, the frame spec), from its
capture ring. Each case on a real pty, as a device would send it."""

from __future__ import annotations

import time
from typing import Any

import pytest
from harness.pty import PtyPair
from structlog.testing import capture_logs

from sensord.config import parse_config
from sensord.sensor import SensorRuntime


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


VALUE = 'format = "value"\n[[sensors.channels]]\nname = "v"\n'
PMS = 'preset = "pms5003"\n'


def stale_event(pair: PtyPair, table: str, sent: bytes, *, ring: bool = True) -> dict[str, Any]:
    """The ``sensor state`` event of a sensor reading ``pair`` that got ``sent`` and then
    stayed silent past its ``stale_after_s``."""
    text = f'[[sensors]]\nname = "s"\nport = "{pair.path}"\nstale_after_s = 2\n{table}'
    config = parse_config(text).sensors[0]
    clock = Clock()
    runtime = SensorRuntime(
        config, clock=clock, wall_clock=clock, capture_ring_bytes=4096 if ring else 0
    )
    assert runtime.try_open()
    source = runtime.source
    assert source is not None
    try:
        pair.write(sent)
        got = 0
        deadline = time.monotonic() + 2.0
        while got < len(sent) and time.monotonic() < deadline:
            chunk = source.read()  # non-blocking, as the reader loop reads it
            got += len(chunk)
            if chunk:
                runtime.feed(chunk)
        assert got == len(sent)
        with capture_logs() as logs:
            clock.now += 3.0
            runtime.tick(clock.now)
        assert runtime.state == "stale"
        [event] = [e for e in logs if e.get("state") == "stale"]
        return dict(event)
    finally:
        runtime.stop()


def test_a_device_ending_its_lines_in_cr_only_is_told_which_terminator_to_set() -> None:
    with PtyPair() as pair:
        event = stale_event(pair, VALUE, b"21.5\r21.6\r21.7\r")
    assert event["bytes_since_frame"] == 15
    assert event["first_bytes"] == "21.5\\r21.6\\r21.7\\r"
    assert event["hint"] == 'the lines end in CR only: set terminator = "\\r" for this sensor'


def test_bytes_at_the_wrong_baudrate_point_at_the_serial_settings() -> None:
    garbage = bytes([0x80, 0xF8, 0x00, 0xFE, 0x78, 0x86, 0xE0, 0x1E]) * 4  # 9600 read at 38400
    with PtyPair() as pair:
        event = stale_event(pair, VALUE, garbage)
    assert event["bytes_since_frame"] == 32
    assert "serial settings (baudrate" in event["hint"]


def test_text_without_the_terminator_names_the_terminator() -> None:
    with PtyPair() as pair:
        event = stale_event(pair, VALUE.replace('"value"', '"value"\nterminator = ";"'), b"1\n2\n")
    assert event["hint"] == "no terminator b';' in the bytes: check the sensor's terminator"


def test_a_binary_sensor_without_its_start_bytes_points_at_settings_and_spec() -> None:
    with PtyPair() as pair:
        event = stale_event(pair, PMS, bytes(range(0x50, 0x90)))
    assert event["hint"].startswith("no frame start (42 4d) in the bytes")


def test_a_silent_device_is_told_apart_from_a_garbled_one() -> None:
    with PtyPair() as pair:
        event = stale_event(pair, VALUE, b"")
    assert event["bytes_since_frame"] == 0
    assert "no bytes came" in event["hint"]
    assert "first_bytes" not in event


@pytest.mark.parametrize("sent", [b"21.5\r21.6\r", b""])
def test_without_a_capture_ring_the_stale_event_says_only_how_long(sent: bytes) -> None:
    with PtyPair() as pair:
        event = stale_event(pair, VALUE, sent, ring=False)
    assert "hint" not in event
    assert event["silent_for_s"] == 3.0
