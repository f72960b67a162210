"""A 10-second soak of the real daemon (scripts/soak.py, on the interpreter that runs the
tests): no leak, no lost line or frame, no crash."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from harness.pty import held_by_subprocess

REPO = Path(__file__).resolve().parent.parent


def table_rows(output: str) -> list[dict[str, str]]:
    """The sample rows of the soak's table, by column name."""
    lines = output.splitlines()
    header_at = next(i for i, line in enumerate(lines) if line.split()[:2] == ["t_s", "rss_mib"])
    columns = lines[header_at].split()
    rows = []
    for line in lines[header_at + 1 :]:
        cells = line.split()
        if len(cells) != len(columns):
            break
        rows.append(dict(zip(columns, cells, strict=True)))
    return rows


def soak_command(*args: str) -> list[str]:
    """``scripts/soak.py`` with ``args`` on the interpreter that runs the tests, which runs
    sensord too (``--python``'s default). Not ``scripts/soak``: it makes ``.venv`` first,
    and installs sensord into it, in a clone that has none."""
    return [sys.executable, str(REPO / "scripts" / "soak.py"), *args]


def test_the_soak_runs_on_the_tests_interpreter_and_makes_no_venv() -> None:
    had_venv = (REPO / ".venv").exists()
    result = subprocess.run(
        soak_command("--help"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=REPO,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "--duration" in result.stdout
    assert (REPO / ".venv").exists() == had_venv


@pytest.mark.slow
def test_10_second_soak_passes_with_every_line_accounted_for() -> None:
    result = subprocess.run(
        soak_command("--duration", "10", "--interval", "1", "--warmup", "4"),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=REPO,
    )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    rows = table_rows(result.stdout)
    assert len(rows) >= 5, report  # a sample every 1 s (fewer when the host is busy)
    assert all(row["unacct"] == "0" for row in rows), report
    assert int(rows[-1]["pty_lines"]) > 1000, report
    assert int(rows[-1]["frames"]) > int(rows[-1]["pty_lines"]), report  # simulated ones too
    assert int(rows[-1]["pms_frm"]) > 400, report  # the PMS5003s on ptys
    transactions = [int(row["bus_tx"]) for row in rows]  # the Modbus bus's live devices
    assert transactions[0] > 0, report
    assert transactions == sorted(set(transactions)), report
    assert "unaccounted lines: 0" in result.stdout
    # the daemon runs under the unit's environment (the soak reads it from /proc and fails
    # a run whose daemon lacks it)
    assert "environment: systemd/sensord.service's " in result.stdout, report
    assert "MALLOC_MMAP_THRESHOLD_=131072" in result.stdout, report
    assert result.stdout.rstrip().endswith("PASS"), report


def load_soak() -> ModuleType:
    spec = importlib.util.spec_from_file_location("soak", REPO / "scripts" / "soak.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["soak"] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_a_device_is_unplugged_only_after_its_overlong_line_was_counted(tmp_path: Path) -> None:
    """An overlong line is no frame: a device whose last line was one is drained only once
    the daemon counted its error, or the unplug loses the line the soak counted as written."""
    soak = load_soak()
    device = soak.Device("pty0", soak.WIRES[0], tmp_path / "link")
    try:
        line, reason = next(g for g in soak.garbage_lines(device.wire) if g[1] == "overlong")
        device.send_garbage(line, reason)
        device.state = "draining"
        info = {"frames": 0, "skipped_bytes": 0, "parse_errors": {"overlong": 0}, "reconnects": 0}
        soak.Soak._advance(device, info, now=0.0, down_s=60.0)
        assert device.state == "draining"
        info["parse_errors"] = {"overlong": 1}
        soak.Soak._advance(device, info, now=0.0, down_s=60.0)
        assert device.state == "unplugged"
    finally:
        device.close()


def test_a_replugged_pty_another_process_holds_is_replugged_at_a_new_one(tmp_path: Path) -> None:
    """Another process that holds the pty a device was replugged at (another test's daemon
    reopening a pty path of its own at that number) keeps the soak's daemon out for as long as
    it holds it: once the daemon has had its reopens, the device is replugged at a new pty and
    the holder named; a pty that only the daemon holds is left as it is."""
    soak = load_soak()
    device = soak.FrameDevice("pms0", tmp_path / "link")
    try:
        info = {"reconnects": 0, "state": "down"}
        device.state = "unplugged"
        soak.Soak._advance(device, info, now=0.0, down_s=0.0)
        assert device.state == "plugging"
        taken = device.port.pty.path
        with held_by_subprocess(taken, flock=True) as holder:
            soak.Soak._advance(device, info, now=0.1, down_s=0.0)
            assert device.port.pty.path == taken  # the daemon's reopens come first
            soak.Soak._advance(device, info, now=60.0, down_s=0.0)
            replugged = device.port.pty.path
            assert replugged != taken
            assert os.path.realpath(device.link) == replugged
            assert device.state == "plugging"
            assert len(device.contested) == 1
            assert device.contested[0].startswith(f"pms0: {taken} held by pid {holder.pid} (")
        with held_by_subprocess(replugged, flock=True) as daemon:
            soak.Soak._advance(device, info, now=120.0, down_s=0.0, daemon_pid=daemon.pid)
            assert device.port.pty.path == replugged
        info = {"reconnects": 1, "state": "up"}
        soak.Soak._advance(device, info, now=180.0, down_s=0.0)
        assert device.state == "settling"
        assert len(device.contested) == 1
    finally:
        device.close()


def test_a_count_that_grew_is_told_by_its_changes_not_every_sample() -> None:
    soak = load_soak()
    samples = [(60.0, 24), (65.0, 24), (70.0, 25), (75.0, 25), (80.0, 24)]
    assert soak.growth_steps(samples) == "24 at 60 s, 25 at 70 s, 24 at 80 s (5 samples)"


def test_the_unit_s_environment_is_read_as_systemd_reads_it() -> None:
    unit_environment = load_soak().unit_environment
    text = (
        "[Unit]\nEnvironment=NOT=service\n[Service]\n"
        'Environment=A=1 "B=two words" NOVALUE\n'
        "# Environment=C=commented\n"
        "Environment=A=4 C= \\\n  D=continued\n"
        "[Install]\nEnvironment=NOT=service\n"
    )
    assert unit_environment(text) == {"A": "4", "B": "two words", "C": "", "D": "continued"}
    assert unit_environment("[Service]\nEnvironment=A=1\nEnvironment=\nEnvironment=B=2\n") == {
        "B": "2"
    }
    shipped = unit_environment((REPO / "systemd" / "sensord.service").read_text())
    assert shipped["MALLOC_MMAP_THRESHOLD_"] == "131072"
    assert shipped["PYTHONFAULTHANDLER"] == "1"
