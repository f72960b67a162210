"""``scripts/bench`` runs from a venv of sensord's runtime dependencies only (so that the
daemons it measures import what an installed daemon imports): the bench and the harness
parts it uses must import without the test tools."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent

#: Import the bench as ``scripts/bench`` runs it, with the test tools made unimportable.
PROBE = """
import sys
for tool in ("pytest", "hypothesis", "_pytest", "pytest_mock", "xdist"):
    sys.modules[tool] = None  # an import of it raises ImportError, as where it is absent
sys.path[:0] = ["tests", "scripts"]
import bench
print("imported", bench.__name__)
"""


def test_the_bench_imports_without_the_test_tools() -> None:
    run = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO, capture_output=True, text=True, check=False
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout == "imported bench\n"
