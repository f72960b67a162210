"""A 15-second soak of the real daemon (scripts/soak): no leak, no lost line or frame, no
crash."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

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


@pytest.mark.slow
def test_15_second_soak_passes_with_every_line_accounted_for() -> None:
    result = subprocess.run(
        [str(REPO / "scripts" / "soak"), "--duration", "15", "--interval", "1.5", "--warmup", "4"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        cwd=REPO,
    )
    report = result.stdout + result.stderr
    assert result.returncode == 0, report
    rows = table_rows(result.stdout)
    assert len(rows) >= 6, report  # a sample every 1.5 s (fewer when the host is busy)
    assert all(row["unacct"] == "0" for row in rows), report
    assert int(rows[-1]["pty_lines"]) > 1000, report
    assert int(rows[-1]["frames"]) > int(rows[-1]["pty_lines"]), report  # simulated ones too
    assert int(rows[-1]["pms_frm"]) > 500, report  # the PMS5003s on ptys
    transactions = [int(row["bus_tx"]) for row in rows]  # the Modbus bus's live devices
    assert transactions[0] > 0, report
    assert transactions == sorted(set(transactions)), report
    assert "unaccounted lines: 0" in result.stdout
    assert result.stdout.rstrip().endswith("PASS"), report
