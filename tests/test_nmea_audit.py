"""scripts/nmea_audit.py: a folder without gpsd's captures is an error, not an empty table."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "nmea_audit.py"
#: The first GGA of gpsd's capture test/daemon/isync.log (gpsd 3.27.5), a Spectratime iSync.
GGA = b"$GPGGA,131519.00,4153.85990,N,08738.63638,W,2,12,0.95,218.1,M,-33.8,M,,0000*61\r\n"


def audit(folder: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), str(folder)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_folder_without_captures_is_an_error_naming_it(tmp_path: Path) -> None:
    """gpsd's source top (``GPSD_SOURCE``, not its ``test/daemon``) holds no ``*.log``: the
    audit says so and exits 2, where a table of 0 captures would read as a clean run."""
    (tmp_path / "test" / "daemon").mkdir(parents=True)
    (tmp_path / "test" / "daemon" / "isync.log").write_bytes(GGA)
    done = audit(tmp_path)
    assert done.returncode == 2
    assert done.stdout == ""
    assert str(tmp_path) in done.stderr
    assert "test/daemon" in done.stderr


def test_a_capture_whose_sentences_are_all_taken_prints_its_count_only(tmp_path: Path) -> None:
    (tmp_path / "isync.log").write_bytes(b"# Name: a comment line\n" + GGA)
    done = audit(tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "1 captures: 1 intact sentences found, 1 frames taken; 0 intact not taken, 0 taken "
        "without checksum, 0 taken whose checksum no line end follows"
    ]
