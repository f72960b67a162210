"""The captures in tests/captures/ are regression fixtures: each ``NAME.cap`` is replayed
through ``replay://`` with the sensor of its sidecar ``NAME.toml`` (``[sensor]``: a
``[[sensors]]`` table without ``port``), and must produce the counts of the sidecar's
``[expect]`` table (frames, ignored_frames, unchecked_frames when not 0, readings, passed,
parse_errors by reason).

A bug report becomes a test by dropping its capture and a sidecar in the folder.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from harness.replay import replay_counts

from sensord.capture import read_capture

CAPTURES = Path(__file__).parent / "captures"
FILES = sorted(CAPTURES.glob("*.cap"))


def test_every_capture_has_a_sidecar_and_there_are_some() -> None:
    assert len(FILES) >= 8
    assert sorted(p.stem for p in CAPTURES.glob("*.toml")) == sorted(p.stem for p in FILES)


@pytest.mark.parametrize("capture", FILES, ids=lambda p: p.stem)
def test_a_capture_replays_to_its_expected_counts(capture: Path) -> None:
    sidecar = tomllib.loads(capture.with_suffix(".toml").read_text())
    expect = sidecar["expect"]
    got = replay_counts(sidecar["sensor"], capture)
    want = {
        "frames": expect["frames"],
        "ignored_frames": expect.get("ignored_frames", 0),
        "unchecked_frames": expect.get("unchecked_frames", 0),
        "readings": expect["readings"],
        "passed": expect["passed"],
        "parse_errors": expect.get("parse_errors", {}),
    }
    assert got == want
    assert read_capture(str(capture)).truncated == expect.get("truncated", False)
