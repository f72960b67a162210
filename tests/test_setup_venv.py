"""scripts/setup-venv (which the README's two commands run first) with a Python too old for
sensord: it says so and what to do before pip does, and a venv an older Python made (a host
upgraded from Debian 11, a venv left from an earlier try) is made again, not reused."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from harness.common import REPO

SETUP = REPO / "scripts" / "setup-venv"

#: A Python 3.9 as far as the script can tell: its version, and the check that fails.
OLD_PYTHON = """#!/bin/sh
if [ "$1" = "--version" ]; then echo "Python 3.9.18"; exit 0; fi
exit 1
"""


def fake_python(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(OLD_PYTHON)
    path.chmod(0o755)
    return path


def setup(venv: Path, python: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SENSORD_VENV": str(venv), "PYTHON": python}
    return subprocess.run(
        [str(SETUP)], capture_output=True, text=True, timeout=60, env=env, check=False
    )


def test_a_python_older_than_3_11_is_refused_saying_what_to_set(tmp_path: Path) -> None:
    old = fake_python(tmp_path / "bin" / "python3.9")
    venv = tmp_path / "venv"
    done = setup(venv, str(old))
    assert done.returncode == 1
    assert f"{old} is Python 3.9.18; sensord needs Python 3.11 or later" in done.stderr
    assert "set PYTHON=/path/to/python3.11" in done.stderr
    assert not venv.exists()


def test_a_venv_an_older_python_made_is_made_again(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    fake_python(venv / "bin" / "python")
    (venv / ".sensord-installed").touch()  # as if installed: the stamp alone is no reason
    old = fake_python(tmp_path / "bin" / "python3.9")
    done = setup(venv, str(old))
    assert f"{venv} was made by Python 3.9.18; sensord needs 3.11 or later" in done.stderr
    assert not venv.exists()  # removed, and not made again by the old Python either
    assert done.returncode == 1
    assert f"{old} is Python 3.9.18" in done.stderr


def test_a_python_that_is_not_there_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "python3.11"
    done = setup(tmp_path / "venv", str(missing))
    assert done.returncode == 1
    assert f"no {missing} found" in done.stderr


def test_a_venv_whose_python_is_gone_is_made_again(tmp_path: Path) -> None:
    """A distribution upgrade that removed the venv's interpreter leaves ``bin/python`` a
    dangling link: the venv is made again, not reused."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    (venv / "bin" / "python").symlink_to(tmp_path / "python3.9-removed")
    old = fake_python(tmp_path / "bin" / "python3.9")
    done = setup(venv, str(old))
    assert f"{venv} was made by a Python that no longer runs" in done.stderr
    assert not venv.exists()
    assert done.returncode == 1  # and the stand-in is refused in turn
