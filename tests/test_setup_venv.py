"""scripts/setup-venv (which the README's two commands run first) with a Python too old for
sensord: it says so and what to do before pip does, and a venv an older Python made (a host
upgraded from Debian 11, a venv left from an earlier try) is made again, not reused."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
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


def test_run_reads_a_config_file_relative_to_the_directory_it_is_run_in(tmp_path: Path) -> None:
    """``scripts/run -c my.toml`` names the file as the shell it is typed in sees it, also
    when the checkout is elsewhere: run from another directory, the daemon reads that file
    (here one with a mistake, which it names and exits 1 for), not a my.toml of the
    checkout. A checkout of the two scripts whose venv is set up already (the venv's python
    recent, its stamp newer than pyproject.toml), its sensord this checkout's."""
    checkout = tmp_path / "checkout"
    (checkout / "scripts").mkdir(parents=True)
    for name in ("run", "setup-venv"):
        shutil.copy2(REPO / "scripts" / name, checkout / "scripts" / name)
    shutil.copy2(REPO / "pyproject.toml", checkout / "pyproject.toml")
    venv_bin = checkout / ".venv" / "bin"
    venv_bin.mkdir(parents=True)
    (venv_bin / "python").symlink_to(sys.executable)
    sensord = venv_bin / "sensord"
    sensord.write_text(f'#!/bin/sh\nexec {sys.executable} -m sensord "$@"\n')
    sensord.chmod(0o755)
    (checkout / ".venv" / ".sensord-installed").touch()
    here = tmp_path / "here"
    here.mkdir()
    (here / "my.toml").write_text('[[sensors]]\nname = "boiler"\n')
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    done = subprocess.run(
        [str(checkout / "scripts" / "run"), "-c", "my.toml"],
        cwd=here,
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    assert "file does not exist" not in done.stderr
    assert "my.toml: 3 configuration errors:" in done.stderr, done.stderr
    assert "sensors[0].port (sensor 'boiler'): required key is missing" in done.stderr
