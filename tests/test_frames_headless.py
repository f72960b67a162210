"""Frames without start bytes (``frame.start = ''``): a reply that is nothing but its value.

A GQ GMC-300/320 Geiger counter answers ``<GETCPM>>`` with the counts per minute as two
bytes, big-endian, and nothing else (GQ-RFC1201, "GQ Geiger Counter Communication Protocol";
a GMC-500 or 600 with four). Each reply is read from the first byte after the request, since
a poll drops what an earlier reply left; a stray byte shifts one reply at most.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from harness.pty import PtyPair
from test_frames_commands import Clock, sensor_config, tick_through

from sensord.cli import main
from sensord.config import Config
from sensord.sensor import SensorRuntime

GETCPM = b"<GETCPM>>"


def geiger(port: str, *, width: int = 2, **frame: object) -> dict[str, object]:
    return {
        "port": port,
        "format": "frames",
        "simulate": "never",
        "poll": {"request": "<GETCPM>>", "interval_s": 1.0},
        "frame": {
            k: v
            for k, v in {
                "start": "",
                "length": width,
                "fields": [
                    {"name": "cpm", "offset": 0, "type": "u16be" if width == 2 else "u32be"}
                ],
                **frame,
            }.items()
            if v is not None
        },
        "channels": [{"name": "counts_per_minute", "field": "cpm"}],
    }


class Gmc:
    """A GMC counter: each ``<GETCPM>>`` answered with the next count, ``width`` bytes; the
    answers listed in ``noise`` (by number) are preceded by one stray byte."""

    def __init__(self, counts: list[int], width: int = 2, noise: frozenset[int] = frozenset()):
        self.counts = counts
        self.width = width
        self.noise = noise
        self.asked = 0

    def __call__(self, written: bytes) -> bytes:
        if written != GETCPM:
            return b""
        n = self.asked
        self.asked += 1
        reply = self.counts[n % len(self.counts)].to_bytes(self.width, "big")
        return (b"\x55" if n in self.noise else b"") + reply


def published(width: int, noise: frozenset[int]) -> list[float]:
    clock = Clock()
    counts = [18, 21, 300, 19, 0x3C3C, 17]
    with PtyPair() as pair:
        rt = SensorRuntime(
            sensor_config(geiger(pair.path, width=width)),
            clock=clock,
            wall_clock=clock,
            rng=random.Random(1),
        )
        assert rt.try_open()
        values: list[float] = []
        seen = 0
        device = Gmc(counts, width, noise)
        start = clock.now
        for second in range(len(counts)):
            tick_through(rt, pair, clock, device, start + second + 0.5)
            [stats] = [c.stats for c in rt.snapshot().channels]
            if stats is not None and stats.count != seen:
                seen = stats.count
                values.append(stats.reading.value)
        rt.stop()
    return values


@pytest.mark.parametrize("width", [2, 4])
def test_each_reply_is_read_from_the_first_byte_after_its_request(width: int) -> None:
    assert published(width, frozenset()) == [18, 21, 300, 19, 0x3C3C, 17]


def test_a_stray_byte_shifts_one_reply_and_the_next_poll_aligns_again() -> None:
    """A byte of noise before the third reply makes it read as 0x5501 (the noise and its
    first byte), its last byte left over; the next request drops that, and the fourth reply
    is read right."""
    values = published(2, frozenset({2}))
    assert values[:2] == [18, 21]
    assert values[2] == 0x5501
    assert values[3:] == [19, 0x3C3C, 17]


def errors(table: dict[str, object]) -> str:
    found: list[str] = []
    Config.load({"sensors": [{"name": "g", **table}]}, "", found)
    return "\n".join(found)


def test_empty_start_bytes_need_a_poll_or_a_silence_and_a_length() -> None:
    streaming = geiger("/dev/ttyUSB0")
    del streaming["poll"]
    assert "empty start bytes need a poll" in errors(streaming)
    assert errors(geiger("/dev/ttyUSB0")) == ""
    silent = geiger("/dev/ttyUSB0", silence_s=0.2)
    del silent["poll"]
    assert errors(silent) == ""
    no_length = geiger("/dev/ttyUSB0", length_offset=0, length_size=1, length=None)
    assert "empty start bytes need a fixed length" in errors(no_length)
    stuffed = geiger("/dev/ttyUSB0", escape=0x7D)
    assert "byte stuffing needs start bytes" in errors(stuffed)


def test_check_shows_a_frame_without_start_bytes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "sensord.toml"
    path.write_text(
        f"""
[[sensors]]
name = "geiger"
port = "{tmp_path / "absent"}"
format = "frames"
poll = {{ request = '<GETCPM>>', interval_s = 1 }}
frame = {{ start = '', length = 2, fields = [{{ name = "cpm", offset = 0, type = "u16be" }}] }}
channels = [{{ name = "counts_per_minute", field = "cpm" }}]
"""
    )
    assert main(["check", str(path)]) == 0
    assert "frame: no start bytes (each frame from the first byte after a poll), 2 bytes" in (
        capsys.readouterr().out
    )
