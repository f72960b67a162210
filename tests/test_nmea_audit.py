"""scripts/nmea_audit.py: a folder without gpsd's captures is an error, not an empty table;
``--compare`` finds sensord's readings of a capture equal to gpsd's decodes of it, and compares
every reading of an epoch, a field read twice in one printed apart."""

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
        "furuno_gl_ga.log: compared 72, equal 72, differ 0; sensord only 0 (and 2 of fields "
        "gpsd has none of); gpsd only 0; read more than once in an epoch 8 duplicates, 0 "
        "disagreements, 0 of them more than the epoch's sentences give"
    )
    # the GT-88's GSA of GPS and GSA of GLONASS each give the epoch's DOPs and fix mode
    assert lines[2] == (
        "  read more than once GSA.hdop: 2 duplicates, 0 disagreements, 0 sensord's own: "
        "12:02:13.000 1.3, 1.3 (its sentences give 2); 12:02:14.000 1.3, 1.3 (its sentences "
        "give 2)"
    )
    totals = next(at for at, line in enumerate(lines) if "captures compared" in line)
    assert lines[totals].startswith("1 captures compared: 72 readings compared, 72 equal, 0 differ")
    compared = dict(line.strip().split(": ", 1) for line in lines[totals + 1 :])
    # the fix, its time, speed and course, the DOPs, satellites used and in view: each twice
    for field in (
        "GGA.latitude",
        "GGA.altitude",
        "GNS.longitude",
        "RMC.speed",
        "RMC.course",
        "RMC.clock_offset",
        "ZDA.clock_offset",
        "GSA.satellites_used",
        "GSA.used_glonass",
        "GSV.in_view_galileo",
        "GSV.snr_mean_glonass",
    ):
        assert compared[field] == "2 equal, 0 differ", field
    for field in ("GSA.fix_mode", "GSA.pdop"):  # two GSA an epoch, each compared
        assert compared[field] == "4 equal, 0 differ", field


#: Captures of gpsd 3.27.5's test/daemon cut short where a field is read more than once in an
#: epoch, each with gpsd's decodes of it, their origin in their first lines: an i.Trek M3 that
#: sends a second GSA after its RMC, which at 04:59:22 says 2D without satellites where the
#: first said 3D with four, and a Quectel EC25 that loses its fix after 02:20:38 and sends
#: GGA and RMC without time for eight epochs.
GPSD_REPEATS = Path(__file__).resolve().parent / "fixtures" / "nmea" / "gpsd_repeats"


def test_compare_reads_every_reading_of_an_epoch_and_tells_repeats_apart() -> None:
    """Every reading of an epoch is compared with gpsd's, not the last alone, and a field read
    twice in an epoch is printed as a disagreement (the i.Trek's two GSA: PDOP 2.9, then 50),
    not as sensord's own, the epoch holding two GSA. The Quectel's GGA and RMC without time
    begin epochs of their own, numbered after the last time, matched with gpsd's reports of
    them: each GGA's fix quality is compared in its epoch. The script before failed both: it
    compared an epoch's last reading only (GSA.pdop 4 equal of 5 readings, no repeat line),
    and bucketed the eight epochs without time into 02:20:38 (GGA.fix_quality 4 equal of 12
    readings)."""
    done = audit(GPSD_REPEATS, "--compare")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert (
        "  read more than once GSA.pdop: 0 duplicates, 1 disagreements, 0 sensord's own: "
        "04:59:22.000 2.9, 50 (its sentences give 2)"
    ) in lines
    assert (
        "  read more than once GSA.used_gps: 0 duplicates, 1 disagreements, 0 sensord's own: "
        "04:59:22.000 4, 0 (its sentences give 2)"
    ) in lines
    totals = next(line for line in lines if "captures compared" in line)
    assert totals.endswith(
        "read more than once in an epoch 0 duplicates, 7 disagreements, 0 of them more than "
        "the epoch's sentences give"
    )
    compared = dict(line.strip().split(": ", 1)[:2] for line in lines[lines.index(totals) + 1 :])
    assert compared["GSA.pdop"] == "5 equal, 0 differ"
    assert compared["GGA.fix_quality"] == "12 equal, 0 differ"
    # gpsd's DOPs of the epochs without time are those it held: sensord reads none there
    assert "  gpsd only SKY.pdop x8: 02:20:38.000 +1 gpsd 1.4; 02:20:38.000 +2 gpsd 1.4" in lines


def test_summary_gives_each_class_by_field_with_its_captures_and_reasons() -> None:
    """``--compare --summary`` prints, in place of each capture's lines, the readings that
    differ, sensord's only and gpsd's only by field, each with the captures it comes from and,
    for those of one side only, why: the i.Trek's GSA reading of 04:59:21, whose epoch's SKY
    has no satellite list (gpsd lists a satellite used only with its GSV entry), and the
    Quectel's DOPs of its epochs without time, which gpsd holds from its last fix while sensord
    reads the GSA there and gives none. Fails on the script before, which has no
    ``--summary`` (exit 2)."""
    done = audit(GPSD_REPEATS, "--compare", "--summary")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert not [line for line in lines if line.startswith(("iTrek.log", "quectel.log"))]
    totals = next(at for at, line in enumerate(lines) if "captures compared" in line)
    summary = lines[:totals]
    assert summary[:6] == [
        "differ: 6",
        "  GSA.fix_mode 3: quectel.log 2, iTrek.log 1",
        "  GSA.used_gps 3: quectel.log 2, iTrek.log 1",
        "sensord only: 1",
        "  GSA.used_gps 1: iTrek.log 1",
        "    gpsd's SKY without it: 1",
    ]
    at = summary.index("gpsd only: 29")
    assert summary[at + 3 : at + 7] == [
        "  SKY.pdop 8: quectel.log 8",
        "    sensord read GSA that epoch, not this field: 7",
        "    sensord read no GSA that epoch: 1",
        "  SKY.vdop 8: quectel.log 8",
    ]
    assert lines[totals].startswith("2 captures compared: 201 readings compared, 195 equal")


def test_summary_without_compare_is_an_error() -> None:
    done = audit(GPSD_REPEATS, "--summary")
    assert done.returncode == 2
    assert "--summary goes with --compare" in done.stderr
