"""Write tests/captures/demo-*.cap from the running demo, each with its sidecar.

Runs ``sensord run`` with the built-in demo, waits until every sensor framed a few frames and
the polled one (co2) was polled at least twice, then fetches each sensor's ``/capture`` and
writes it with a sidecar: the sensor's table from the demo, and under ``[expect]`` the counts
the daemon's ``/status`` showed at the moment of the capture (read before and after it, and
equal). One more fixture is a truncated capture: a later capture of ``boiler`` cut inside the
first record the earlier capture did not have, before any frame that record would complete,
so the counts of the earlier capture are what it must replay to.

Usage: .venv/bin/python scripts/capture_fixtures.py [--seconds S]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import tomllib
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests"))

from harness.daemon import running  # noqa: E402
from harness.replay import capture_with_counts  # noqa: E402

from sensord.capture import RX, TX, parse_capture  # noqa: E402
from sensord.demo import DEMO_CONFIG  # noqa: E402

OUT = REPO / "tests" / "captures"
HEAD_BYTES = 13


def sensor_table_toml(name: str) -> str:
    """The demo's ``[[sensors]]`` table of ``name`` as a sidecar's ``[sensor]`` (no port)."""
    for block in DEMO_CONFIG.split("[[sensors]]\n")[1:]:
        if f'name = "{name}"\n' in block:
            lines = [line for line in block.strip().splitlines() if not line.startswith("port =")]
            text = "\n".join(lines).replace("[[sensors.channels]]", "[[sensor.channels]]")
            return f"[sensor]\n{text}\n"
    raise KeyError(name)


def expect_toml(counts: dict[str, Any], truncated: bool = False) -> str:
    errors = ", ".join(f"{k} = {v}" for k, v in sorted(counts["parse_errors"].items()))
    lines = [
        "[expect]",
        f"frames = {counts['frames']}",
        f"ignored_frames = {counts['ignored_frames']}",
        *([f"unchecked_frames = {n}"] if (n := counts["unchecked_frames"]) else []),
        f"readings = {counts['readings']}",
        f"passed = {counts['passed']}",
        f"parse_errors = {{ {errors} }}" if errors else "parse_errors = {}",
    ]
    if truncated:
        lines.append("truncated = true")
    return "\n".join(lines) + "\n"


def write_fixture(stem: str, body: bytes, comment: str, table: str, expect: str) -> None:
    (OUT / f"{stem}.cap").write_bytes(body)
    (OUT / f"{stem}.toml").write_text(f"{comment}\n{table}\n{expect}")
    capture = parse_capture(body)
    rx = sum(r.direction == RX for r in capture.records)
    tx = sum(r.direction == TX for r in capture.records)
    print(f"{stem}: {len(body)} bytes, {rx} received and {tx} sent records", file=sys.stderr)


def truncated_cut(earlier: bytes, later: bytes) -> int:
    """Where to cut ``later`` (a capture that continues ``earlier``): inside the first record
    ``earlier`` lacks, before the first line end of its bytes."""
    first = parse_capture(earlier)
    end = later.index(b"\n\n") + 2 + sum(HEAD_BYTES + len(r.data) for r in first.records)
    following = later[end + HEAD_BYTES :]
    newline = following.find(b"\n")
    keep = max(0, (newline if newline >= 0 else len(following)) // 2)
    return end + HEAD_BYTES + keep


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=12.0, help="how long the demo runs")
    args = parser.parse_args()
    names = [s["name"] for s in tomllib.loads(DEMO_CONFIG)["sensors"]]
    OUT.mkdir(exist_ok=True)
    with (
        tempfile.TemporaryDirectory() as tmp,
        running(config=DEMO_CONFIG, tmp_path=Path(tmp)) as daemon,
    ):
        daemon.wait_http()
        time.sleep(args.seconds)
        comment = (
            "# captured from the running demo over /capture; [expect] is what /status showed then"
        )
        earlier, earlier_counts = capture_with_counts(daemon, "boiler")
        for name in names:
            body, counts = capture_with_counts(daemon, name)
            write_fixture(
                f"demo-{name}", body, comment, sensor_table_toml(name), expect_toml(counts)
            )
        time.sleep(2.0)
        later, _ = capture_with_counts(daemon, "boiler")
    cut = truncated_cut(earlier, later)
    comment = (
        "# a later capture of the demo's boiler, cut inside the first record an earlier capture\n"
        "# did not have (before any frame it completes); [expect] is /status at the earlier one"
    )
    write_fixture(
        "demo-boiler-truncated",
        later[:cut],
        comment,
        sensor_table_toml("boiler"),
        expect_toml(earlier_counts, truncated=True),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
