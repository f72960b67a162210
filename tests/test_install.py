"""scripts/install into a temporary root: install, install again (idempotent), uninstall.

The repository is copied first (without .venv, .git and build output) so building the wheel
leaves the working tree alone. When the lead's example config systemd/sensord.toml is not in
the tree yet, the copy gets a minimal one: the installer only copies that file.
"""

from __future__ import annotations

import hashlib
import os
import shlex
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from harness.config import sensor_toml

REPO = Path(__file__).resolve().parent.parent
INSTALL = REPO / "scripts" / "install"
_NOT_COPIED = shutil.ignore_patterns(
    ".venv",
    ".venv-*",
    ".git",
    "build",
    "dist",
    "*.egg-info",
    "__pycache__",
    ".mypy_cache",
    ".pytest_cache",
    ".ruff_cache",
    ".hypothesis",
)


def _run_install(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHON": sys.executable, "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    env.pop("VIRTUAL_ENV", None)
    # the installed venv's python reads its own package, not the tree the tests run from (its
    # ``-m sensord`` looks in the working directory first)
    env.pop("PYTHONPATH", None)
    return subprocess.run(
        [str(repo / "scripts" / "install"), *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env=env,
        cwd=repo.parent,
    )


def _snapshot(root: Path) -> dict[str, tuple[str, int, int]]:
    """Content hash, mode and group of every file outside the venv; a link's target."""
    result = {}
    for path in sorted(root.rglob("*")):
        if path.is_symlink():
            result[str(path.relative_to(root))] = (os.readlink(path), 0, 0)
        elif path.is_file() and not path.is_relative_to(root / "opt"):
            info = path.stat()
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            result[str(path.relative_to(root))] = (digest, stat.S_IMODE(info.st_mode), info.st_gid)
    return result


def _gid_of(group_file: Path, name: str) -> int:
    for line in group_file.read_text().splitlines():
        fields = line.split(":")
        if fields[0] == name:
            return int(fields[2])
    raise AssertionError(f"group {name} not in {group_file}")


@pytest.fixture
def repo_copy(tmp_path: Path) -> Path:
    copy = tmp_path / "repo"
    shutil.copytree(REPO, copy, ignore=_NOT_COPIED, symlinks=True)
    example = copy / "systemd" / "sensord.toml"
    if not example.exists():
        example.write_text("# minimal example configuration\n")
    return copy


@pytest.fixture
def target_root(tmp_path: Path) -> Path:
    """A root with a user database, so that the installer creates the user in it."""
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    (root / "etc" / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (root / "etc" / "group").write_text("root:x:0:\ndialout:x:20:\n")
    return root


@pytest.mark.slow
def test_install_twice_then_uninstall(repo_copy: Path, target_root: Path) -> None:
    root = target_root
    unit = root / "etc/systemd/system/sensord.service"
    sysusers = root / "usr/lib/sysusers.d/sensord.conf"
    udev_example = root / "usr/share/sensord/99-sensord.rules"
    config = root / "etc/sensord/sensord.toml"
    venv = root / "opt/sensord/venv"
    sensord_bin = venv / "bin" / "sensord"
    command = root / "usr/local/bin/sensord"

    first = _run_install(repo_copy, "--root", str(root), "--no-systemctl")
    assert first.returncode == 0, first.stdout + first.stderr
    assert unit.read_bytes() == (repo_copy / "systemd/sensord.service").read_bytes()
    assert sysusers.read_bytes() == (repo_copy / "systemd/sensord.sysusers").read_bytes()
    assert udev_example.read_bytes() == (repo_copy / "systemd/99-sensord.rules").read_bytes()
    assert not (root / "etc/udev/rules.d").exists()  # the example is not activated
    assert config.read_bytes() == (repo_copy / "systemd/sensord.toml").read_bytes()
    assert stat.S_IMODE(config.stat().st_mode) == 0o640
    for path in (unit, sysusers, udev_example):
        assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert "sensord:" in (root / "etc/passwd").read_text()
    if os.geteuid() == 0:
        assert config.stat().st_gid == _gid_of(root / "etc/group", "sensord")
    assert "skipped systemctl (--no-systemctl)" in first.stdout
    # the command on PATH names the venv where it runs (the image's /opt/sensord)
    assert os.readlink(command) == "/opt/sensord/venv/bin/sensord"
    assert f"sudo sensord check --config /etc/sensord/sensord.toml   ({command})" in first.stdout
    next_steps = ("systemctl enable --now sensord", "journalctl -u sensord -f", ":9808/metrics")
    for next_step in next_steps:
        assert next_step in first.stdout

    # the scripts name the venv where it runs once the root is the system's (an image)
    assert sensord_bin.read_text().splitlines()[0] == "#!/opt/sensord/venv/bin/python"
    assert str(root) not in (venv / "bin" / "activate").read_text()
    help_run = subprocess.run(
        [str(venv / "bin" / "python"), str(sensord_bin), "--help"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert help_run.returncode == 0, help_run.stderr
    assert "usage:" in help_run.stdout
    pip_show = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "show", "-f", "sensord"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert pip_show.returncode == 0, pip_show.stderr
    assert "Editable project location" not in pip_show.stdout
    assert f"Location: {venv}" in pip_show.stdout

    with config.open("a") as file:
        file.write("# marker: edited by the administrator\n")
    before = _snapshot(root)

    second = _run_install(repo_copy, "--root", str(root), "--no-systemctl")
    assert second.returncode == 0, second.stdout + second.stderr
    assert _snapshot(root) == before
    assert config.read_text().endswith("# marker: edited by the administrator\n")
    assert second.stdout.count("unchanged ") == 4  # the three files and the command's link
    assert f"kept existing {config}" in second.stdout
    assert "installed " not in second.stdout.replace("installed sensord", "")
    assert sensord_bin.exists()

    # a configuration the new package rejects fails the install, which installs all the same
    # and leaves the file as it is. The installed package is made one that cannot read a
    # configuration: the message comes from the new package, installed before the check
    [installed_config] = venv.glob("lib/python3*/site-packages/sensord/config.py")
    installed_config.write_text('raise ImportError("the previous package")\n')
    edited = config.read_text()
    config.write_text("[[sensors]]\nname = 'x'\n")
    rejected = _run_install(repo_copy, "--root", str(root), "--no-systemctl")
    assert rejected.returncode == 1, rejected.stdout + rejected.stderr
    assert f"install: error: the new package rejects {config} (above)" in rejected.stderr
    assert "sensors[0].port (sensor 'x'): required key is missing" in rejected.stdout
    assert installed_config.read_bytes() == (repo_copy / "sensord/config.py").read_bytes()
    assert config.read_text() == "[[sensors]]\nname = 'x'\n"
    config.write_text(edited)

    removed = _run_install(repo_copy, "--uninstall", "--root", str(root), "--no-systemctl")
    assert removed.returncode == 0, removed.stdout + removed.stderr
    for path in (unit, sysusers, udev_example, venv):
        assert not path.exists(), path
    assert not command.is_symlink()
    assert f"removed {command}" in removed.stdout
    assert not (root / "opt/sensord").exists()
    assert config.read_text().endswith("# marker: edited by the administrator\n")
    assert f"kept {root / 'etc/sensord'}" in removed.stdout

    # a sensord command the installer did not make (the administrator's wrapper) is kept
    command.write_text('#!/bin/sh\nexec /srv/sensord/bin/sensord "$@"\n')
    again = _run_install(repo_copy, "--uninstall", "--root", str(root), "--no-systemctl")
    assert again.returncode == 0, again.stdout + again.stderr
    assert config.exists()
    assert f"kept {command} (not this installer's)" in again.stdout
    assert command.read_text().startswith("#!/bin/sh\nexec /srv/sensord")


def test_unknown_argument_is_refused(tmp_path: Path) -> None:
    result = _run_install(REPO, "--root", str(tmp_path), "--frobnicate")
    assert result.returncode != 0
    assert "unknown argument: --frobnicate" in result.stderr
    assert "Usage: scripts/install" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_missing_root_directory_is_refused(tmp_path: Path) -> None:
    result = _run_install(REPO, "--root", str(tmp_path / "absent"), "--no-systemctl")
    assert result.returncode != 0
    assert "does not exist" in result.stderr
    assert not (tmp_path / "absent").exists()


def test_help_describes_the_options() -> None:
    result = _run_install(REPO, "--help")
    assert result.returncode == 0
    for option in ("--uninstall", "--root DIR", "--no-systemctl", "--no-restart"):
        assert option in result.stdout


def test_uninstall_of_an_empty_root_changes_nothing(tmp_path: Path) -> None:
    result = _run_install(REPO, "--uninstall", "--root", str(tmp_path), "--no-systemctl")
    assert result.returncode == 0, result.stderr
    assert "absent " in result.stdout
    assert list(tmp_path.iterdir()) == []


def _run_step(
    tmp_path: Path, step: str, *, cwd: Path | None = None, **variables: str
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """One step of scripts/install, sourced, after setting ``variables``, with a stand-in
    ``systemctl`` that logs its calls and answers ``SYSTEMCTL_ACTIVE`` to ``is-active`` and
    ``SYSTEMCTL_RESTART`` to ``try-restart`` (exit codes), run in ``cwd``; (the run,
    systemctl's calls)."""
    calls = tmp_path / "systemctl-calls"
    calls.write_text("")
    settings = "".join(f"{name}={shlex.quote(value)}\n" for name, value in variables.items())
    # a script that ran its steps when sourced would stop at once on this missing root
    guard = shlex.quote(str(tmp_path / "no-such-root"))
    script = f"""
source {shlex.quote(str(INSTALL))} --root {guard} --no-systemctl
systemctl() {{
    echo "systemctl $*" >>{shlex.quote(str(calls))}
    case "$1" in
    is-active) return "${{SYSTEMCTL_ACTIVE:-0}}" ;;
    try-restart) return "${{SYSTEMCTL_RESTART:-0}}" ;;
    esac
}}
{settings}
{step}
"""
    done = subprocess.run(
        ["bash", "-c", script], capture_output=True, text=True, timeout=60, check=False, cwd=cwd
    )
    return done, calls.read_text().splitlines()


def test_a_running_sensord_is_restarted_on_the_new_package(tmp_path: Path) -> None:
    done, calls = _run_step(tmp_path, "restart_service", restart="yes", config_ok="yes")
    assert done.returncode == 0, done.stderr
    assert calls == [
        "systemctl is-active --quiet sensord.service",
        "systemctl try-restart sensord.service",
    ]
    assert "systemctl try-restart sensord: it runs the new package" in done.stdout


def test_no_restart_leaves_the_running_sensord_and_says_how_to_restart_it(tmp_path: Path) -> None:
    done, calls = _run_step(tmp_path, "restart_service", restart="no", config_ok="yes")
    assert done.returncode == 0, done.stderr
    assert calls == ["systemctl is-active --quiet sensord.service"]
    assert "keeps running the previous package (--no-restart)" in done.stdout
    assert "until: systemctl restart sensord" in done.stdout


def test_a_configuration_the_new_package_rejects_keeps_the_running_sensord(tmp_path: Path) -> None:
    done, calls = _run_step(tmp_path, "restart_service", restart="yes", config_ok="no")
    assert done.returncode == 0, done.stderr
    assert calls == ["systemctl is-active --quiet sensord.service"]
    assert "the new one rejects its configuration" in done.stdout


def test_a_stopped_sensord_is_not_started(tmp_path: Path) -> None:
    done, calls = _run_step(
        tmp_path, "SYSTEMCTL_ACTIVE=3 restart_service", restart="yes", config_ok="yes"
    )
    assert done.returncode == 0, done.stderr
    assert calls == ["systemctl is-active --quiet sensord.service"]
    assert "sensord is not running" in done.stdout


def test_a_restart_that_fails_fails_the_install(tmp_path: Path) -> None:
    done, _ = _run_step(
        tmp_path, "SYSTEMCTL_RESTART=1 restart_service", restart="yes", config_ok="yes"
    )
    assert done.returncode != 0
    assert "did not start again on the new package: journalctl -u sensord -e" in done.stderr


def test_the_configuration_is_checked_with_the_new_package(tmp_path: Path) -> None:
    venv = Path(sys.prefix)  # a venv with sensord: the interpreter of these tests
    config = tmp_path / "sensord.toml"
    config.write_text("[[sensors]]\nname = 'x'\n")
    step = 'check_config; echo "config_ok=$config_ok"'
    done, _ = _run_step(tmp_path, step, venv=str(venv), config=str(config))
    assert done.returncode == 0, done.stderr
    assert "sensors[0].port (sensor 'x'): required key is missing" in done.stdout
    assert f"the new package rejects {config}: fix it before sensord restarts" in done.stdout
    assert done.stdout.endswith("config_ok=no\n")

    config.write_text(sensor_toml("x", "sim://x"))
    done, _ = _run_step(tmp_path, step, venv=str(venv), config=str(config))
    assert f"valid: {config}" in done.stdout
    assert done.stdout.endswith("config_ok=yes\n")

    # run from a checkout (the installer's own directory, or another tree): the check is the
    # venv's package, not the sensord/ of the working directory
    checkout = tmp_path / "checkout"
    (checkout / "sensord").mkdir(parents=True)
    (checkout / "sensord" / "__init__.py").write_text('raise ImportError("the checkout\'s")\n')
    done, _ = _run_step(tmp_path, step, cwd=checkout, venv=str(venv), config=str(config))
    assert "the checkout's" not in done.stdout
    assert f"valid: {config}" in done.stdout
