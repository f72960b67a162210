"""``frame.silence_s``: bytes held across the device's silence between frames are of a frame
cut short, so a frame whose data holds its own start byte and checksum cannot hold the framer on
the wrong byte boundary.

Fixture: a DFRobot A02YYUW sends ``FF H L SUM`` (distance in mm, SUM = FF + H + L mod 256;
DFRobot SEN0311 wiki) ten times a second; at 511 mm that is ``FF 01 FF FF``, and the same four
bytes read one byte later (``FF FF 01 FF``: 65281 mm) pass the same check.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from harness.config import load_sensors
from harness.daemon import StartDaemon
from harness.pty import PtyPair
from test_config_effects import Clock
from test_formats_blocks import readme_toml_blocks
from test_stale_hints import deliver

from sensord.cli import main
from sensord.config import Config
from sensord.sensor import SensorRuntime

AT_511_MM = bytes.fromhex("FF 01 FF FF")


def level(silence_s: float | None) -> dict[str, Any]:
    frame: dict[str, Any] = {
        "start": "\xff",
        "length": 4,
        "checksum": "sum8",
        "fields": [{"name": "distance", "offset": 1, "type": "u16be", "scale": 0.001}],
    }
    if silence_s is not None:
        frame["silence_s"] = silence_s
    return {
        "name": "level",
        "port": "sim://level",
        "format": "frames",
        "frame": frame,
        "channels": [{"name": "distance_meters", "field": "distance"}],
    }


def published(silence_s: float | None, chunks: list[bytes]) -> list[float]:
    """The distances a sensor publishes for ``chunks`` read 100 ms apart."""
    clock = Clock()
    runtime = SensorRuntime(
        load_sensors(level(silence_s)).sensors[0], clock=clock, wall_clock=clock
    )
    values = []
    for chunk in chunks:
        clock.now += 0.1
        runtime.feed(chunk)
        stats = runtime.snapshot().channels[0].stats
        if stats is not None:
            values.append(stats.reading.value)
    return values


# one byte lost once; then the port opened in the middle of a frame
LOST_BYTE = [AT_511_MM, AT_511_MM, AT_511_MM[:3], *[AT_511_MM] * 6]
MID_FRAME = [AT_511_MM[1:], *[AT_511_MM] * 6]


@pytest.mark.parametrize("chunks", [LOST_BYTE, MID_FRAME], ids=["lost byte", "mid frame"])
def test_without_the_silence_the_framer_holds_the_wrong_boundary(chunks: list[bytes]) -> None:
    assert published(None, chunks)[-1] == 65.281


@pytest.mark.parametrize("chunks", [LOST_BYTE, MID_FRAME], ids=["lost byte", "mid frame"])
def test_with_the_silence_the_frame_boundary_is_found_again(chunks: list[bytes]) -> None:
    assert set(published(0.06, chunks)) == {0.511}


def test_a_frame_read_in_two_passes_is_not_cut() -> None:
    """Within the silence a frame's bytes are held as ever: its halves 20 ms apart are read."""
    clock = Clock()
    runtime = SensorRuntime(load_sensors(level(0.06)).sensors[0], clock=clock, wall_clock=clock)
    for _ in range(5):
        clock.now += 0.08
        runtime.feed(AT_511_MM[:1])
        clock.now += 0.02
        runtime.feed(AT_511_MM[1:])
    assert runtime.framer.frames == 5
    assert runtime.framer.skipped_bytes == 0


def test_a_silence_shorter_than_two_reads_is_refused_naming_the_key() -> None:
    errors: list[str] = []
    sensor = level(0.03)
    assert Config.load({"sensors": [sensor]}, "", errors) is None
    assert len(errors) == 1
    assert errors[0].startswith("sensors[0].frame.silence_s: 0.03 s would cut frames")
    assert "a 4-byte frame takes 4.6 ms at 9600 baud" in errors[0]
    assert "give at least 0.055 s" in errors[0]
    errors = []
    reader = {"batch_interval_s": 0.005}
    assert Config.load({"reader": reader, "sensors": [sensor]}, "", errors) is not None, errors


@pytest.mark.slow
def test_an_a02yyuw_on_a_pty_publishes_its_level_after_a_lost_byte(
    pty_pair: PtyPair, start_daemon: StartDaemon
) -> None:
    """The README's A02YYUW spec on a pty, its frames 100 ms apart and one of them cut short:
    every distance published is the level's."""
    block = next(b for b in readme_toml_blocks() if "A02YYUW" in b)
    daemon = start_daemon(config=re.sub(r'port = "[^"]*"', f'port = "{pty_pair.path}"', block))
    daemon.wait_http()
    daemon.wait_up_settled(["level"], timeout_s=10)
    for chunk in [AT_511_MM[:3], *[AT_511_MM] * 12]:
        pty_pair.write(chunk)
        time.sleep(0.1)
    daemon.wait_frames({"level": 10})
    samples = daemon.scrape()
    assert samples.value("sensord_window_max", sensor="level", channel="distance_meters") == 0.511
    assert samples.value("sensord_window_min", sensor="level", channel="distance_meters") == 0.511
    assert daemon.alive()


#: 2815 mm: FF 0A FF and their sum, a frame whose data holds the start byte
AT_2815_MM = bytes.fromhex("FF 0A FF 08")
#: the same with its sum damaged: two candidates rejected (at its two FF bytes)
DAMAGED = bytes.fromhex("FF 0A FF 09")


@contextmanager
def opened_level(
    pair: PtyPair, clock: Clock, silence_s: float | None = None
) -> Iterator[SensorRuntime]:
    """The A02YYUW sensor reading ``pair``, its port opened at ``clock.now``."""
    sensor = load_sensors({**level(silence_s), "port": pair.path}).sensors[0]
    runtime = SensorRuntime(sensor, clock=clock, wall_clock=clock)
    assert runtime.try_open()
    try:
        yield runtime
    finally:
        runtime.close_source()


@pytest.mark.parametrize("silence_s", [None, 0.06])
@pytest.mark.parametrize("cut_at", [1, 2, 3])
def test_a_frame_the_open_cut_is_no_parse_error(cut_at: int, silence_s: float | None) -> None:
    """The port opened while the device sent a frame: its tail, read within CUT_LINE_S of the
    open, may hold a start byte whose candidate fails the check. It is skipped bytes, not a
    parse error (which an alert on parse errors would count after every restart); the
    frames after it are read, and a damaged frame later is a parse error as ever."""
    clock = Clock()
    with PtyPair() as pair, opened_level(pair, clock, silence_s) as runtime:
        clock.now += 0.01  # within CUT_LINE_S of the open
        deliver(runtime, pair, AT_2815_MM[cut_at:] + AT_2815_MM)
        clock.now += 0.1
        deliver(runtime, pair, AT_2815_MM * 3)
        assert runtime.framer.frames == 4
        assert sum(runtime.framer.rejected.values()) == 0
        clock.now += 0.1
        deliver(runtime, pair, DAMAGED + AT_2815_MM)
        assert runtime.framer.rejected["checksum"] == 2
        assert runtime.framer.frames == 5


def test_bytes_that_come_later_after_the_open_are_no_cut_frame() -> None:
    clock = Clock()
    with PtyPair() as pair, opened_level(pair, clock) as runtime:
        clock.now += 0.2  # the device was quiet at the open: its first byte begins a frame
        deliver(runtime, pair, DAMAGED + AT_2815_MM)
        assert runtime.framer.rejected["checksum"] == 2


def pm1006(pm2_5: int) -> bytes:
    """A Cubic PM1006 frame (ESPHome's pm1006.cpp: ``16 11 0B``, PM2.5 at 5..6, the sum of
    all 20 bytes 0 mod 256)."""
    body = bytes.fromhex("16 11 0B 00 00") + pm2_5.to_bytes(2, "big") + bytes(12)
    return body + bytes([-sum(body) & 0xFF])


def vindriktning(silence_s: float | None) -> dict[str, Any]:
    frame: dict[str, Any] = {
        "start": "\x16\x11\x0b",
        "length": 20,
        "checksum": "twos8",
        "fields": [{"name": "pm2_5", "offset": 5, "type": "u16be"}],
    }
    if silence_s is not None:
        frame["silence_s"] = silence_s
    return {
        "name": "vindriktning",
        "port": "sim://vindriktning",
        "format": "frames",
        "stale_after_s": 60,
        "frame": frame,
        "channels": [{"name": "pm2_5_ug_m3", "field": "pm2_5"}],
    }


@pytest.mark.parametrize(("silence_s", "want"), [(None, [22, 0, 22]), (0.5, [22, 22, 22])])
def test_a_pm1006_frame_that_lost_a_byte_of_its_start_value_is_not_read_shifted(
    silence_s: float | None, want: list[float]
) -> None:
    """A PM1006 frame that loses its PM2.5 low byte (22, the value of the next frame's start
    byte, 0x16) is made whole by that start byte and its sum holds: read so, it publishes
    PM2.5 0 and the next frame is lost. With ``silence_s`` (the frames come 2 s apart) the
    held bytes are dropped at the pause and the next frame is read."""
    frame = pm1006(22)
    lost = frame[:6] + frame[7:]
    assert sum(lost + frame[:1]) % 256 == 0  # the shifted candidate passes the check
    clock = Clock()
    runtime = SensorRuntime(
        load_sensors(vindriktning(silence_s)).sensors[0], clock=clock, wall_clock=clock
    )
    values: list[float] = []
    for chunk in [frame, lost, frame, frame]:
        clock.now += 2.0
        runtime.feed(chunk)
        stats = runtime.snapshot().channels[0].stats
        if stats is not None and (not values or stats.count != len(values)):
            values.append(stats.reading.value)
    assert values == want


VINDRIKTNING_TOML = """
[[sensors]]
name = "vindriktning"
port = "{port}"
format = "frames"
frame = {{ start = '\\x16\\x11\\x0b', length = {length}, checksum = "{checksum}"{extra}, fields = [
  {{ name = "pm2_5", offset = 5, type = "u16be" }},
] }}
channels = [{{ name = "pm2_5_ug_m3", field = "pm2_5" }}]
"""


@pytest.mark.parametrize(
    ("spec", "noted"),
    [
        ((20, "twos8", ""), True),
        ((20, "none", ""), True),
        ((20, "twos8", ", silence_s = 0.5"), False),
        ((21, "twos8", ", end = 0xab"), False),
        ((21, "crc16_modbus", ""), False),
    ],
)
def test_check_notes_a_streaming_frame_with_an_8_bit_check_and_no_silence(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], spec: tuple[int, str, str], noted: bool
) -> None:
    length, checksum, extra = spec
    path = tmp_path / "sensord.toml"
    port = tmp_path / "absent"
    path.write_text(
        VINDRIKTNING_TOML.format(port=port, length=length, checksum=checksum, extra=extra)
    )
    assert main(["check", str(path)]) == 0
    assert ("set frame.silence_s shorter" in capsys.readouterr().out) == noted
