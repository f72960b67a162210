"""scripts/nmea_audit.py: a folder without gpsd's captures is an error, not an empty table; and
``--compare`` finds sensord's readings of a capture equal to gpsd's decodes of it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "nmea_audit.py"
#: Captures of gpsd 3.27.5's test/daemon cut short, each with gpsd's decodes of it (its
#: ``.log.chk``, cut at the same sentence), their origin in their first lines.
GPSD_CAPTURES = Path(__file__).resolve().parent / "fixtures" / "nmea" / "gpsd"
#: The first GGA of gpsd's capture test/daemon/isync.log (gpsd 3.27.5), a Spectratime iSync.
GGA = b"$GPGGA,131519.00,4153.85990,N,08738.63638,W,2,12,0.95,218.1,M,-33.8,M,,0000*61\r\n"


def audit(folder: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), *options, str(folder)],
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


def test_compare_finds_a_furuno_capture_read_as_gpsd_reads_it() -> None:
    """A Furuno GT-88's first two epochs (GGA, RMC, GNS, two GSA, GSV of GPS, GLONASS and
    Galileo, ZDA and proprietary sentences): every reading sensord publishes that gpsd has a
    counterpart of is compared in its epoch, and each equals gpsd's. On sensord before
    ``GGA.satellites`` gave no count for a DGPS fix's ``00``, the second epoch's 0 differed
    from the 11 satellites gpsd counts."""
    done = audit(GPSD_CAPTURES, "--compare")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == (
        "furuno_gl_ga.log: compared 64, equal 64, differ 0; sensord only 0 (and 2 of fields "
        "gpsd has none of); gpsd only 0"
    )
    assert lines[1].startswith("1 captures compared: 64 readings compared, 64 equal, 0 differ")
    compared = dict(line.strip().split(": ", 1) for line in lines[2:])
    # the fix, its time, speed and course, the DOPs, satellites used and in view: each twice
    for field in (
        "GGA.latitude",
        "GGA.altitude",
        "GNS.longitude",
        "RMC.speed",
        "RMC.course",
        "RMC.clock_offset",
        "ZDA.clock_offset",
        "GSA.fix_mode",
        "GSA.pdop",
        "GSA.satellites_used",
        "GSA.used_glonass",
        "GSV.in_view_galileo",
        "GSV.snr_mean_glonass",
    ):
        assert compared[field] == "2 equal, 0 differ", field
