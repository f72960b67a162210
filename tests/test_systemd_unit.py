"""systemd/: the unit passes systemd-analyze (verify, offline security), the sysusers file creates
the right user with the real systemd-sysusers, and the udev example is well-formed.

systemd is not running in the test environment; every systemd tool here runs offline.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from harness.pty import pty_numbers_held

from sensord.sdnotify import watchdog_interval_s

REPO = Path(__file__).resolve().parent.parent
UNIT = REPO / "systemd" / "sensord.service"
SYSUSERS = REPO / "systemd" / "sensord.sysusers"
UDEV_RULE = REPO / "systemd" / "99-sensord.rules"

#: Where scripts/install puts the daemon; ExecStart= names it.
INSTALLED_BINARY = "/opt/sensord/venv/bin/sensord"
MAX_EXPOSURE = 2.0


def _tool(name: str) -> str:
    path = shutil.which(name)
    assert path is not None, f"{name} is missing (scripts/test installs the Debian package systemd)"
    return path


def _run(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SYSTEMD_PAGER": "", "SYSTEMD_COLORS": "0", "LC_ALL": "C.UTF-8"}
    return subprocess.run(
        args, capture_output=True, text=True, timeout=60, check=False, input=stdin, env=env
    )


def _unit_entries() -> dict[str, list[tuple[str, str]]]:
    """Sections of the unit as ordered (key, value) lists; keys may repeat, as in systemd."""
    sections: dict[str, list[tuple[str, str]]] = {}
    current: list[tuple[str, str]] | None = None
    for raw in UNIT.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            current = sections.setdefault(line[1:-1], [])
            continue
        assert current is not None, f"setting outside a section: {line!r}"
        assert not line.endswith("\\"), "continuation lines are not used in this unit"
        key, sep, value = line.partition("=")
        assert sep, f"not a key=value line: {line!r}"
        current.append((key.strip(), value.strip()))
    return sections


def _values(section: str, key: str) -> list[str]:
    return [value for k, value in _unit_entries()[section] if k == key]


def _one(section: str, key: str) -> str:
    values = _values(section, key)
    assert len(values) == 1, f"{key}= appears {len(values)} times in [{section}]"
    return values[0]


# -- systemd-analyze -----------------------------------------------------------------------------
def _stand_in_binary() -> str:
    """An existing executable to stand in for the installed daemon during verify."""
    venv_entry_point = Path(sys.executable).with_name("sensord")
    return str(venv_entry_point) if os.access(venv_entry_point, os.X_OK) else sys.executable


def test_unit_verifies_without_any_message(tmp_path: Path) -> None:
    """`systemd-analyze verify` prints nothing for the unit.

    verify checks that the binary of ExecStart= and ExecReload= exists, and /opt/sensord/venv
    exists only after scripts/install. So the unit is verified as a copy in which that one
    path is replaced by an existing executable; the test below shows that this binary is the
    only thing verify misses in the unmodified file. verify does not resolve User=/Group=, so
    the sysusers user need not exist (test_sysusers_creates_a_locked_user_in_dialout covers
    that file instead).
    """
    original = UNIT.read_text()
    assert original.count(INSTALLED_BINARY) == 2
    copy = tmp_path / "sensord.service"
    copy.write_text(original.replace(INSTALLED_BINARY, _stand_in_binary()))
    differing = [
        a
        for a, b in zip(original.splitlines(), copy.read_text().splitlines(), strict=True)
        if a != b
    ]
    assert [line.partition("=")[0] for line in differing] == ["ExecStart", "ExecReload"]

    result = _run(_tool("systemd-analyze"), "verify", str(copy))
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_unmodified_unit_misses_only_the_installed_binary() -> None:
    result = _run(_tool("systemd-analyze"), "verify", str(UNIT))
    messages = [line for line in (result.stdout + result.stderr).splitlines() if line.strip()]
    if Path(INSTALLED_BINARY).exists():
        assert (result.returncode, messages) == (0, [])
    else:
        assert result.returncode != 0
        assert messages, "verify should name the missing ExecStart= binary"
        assert all(INSTALLED_BINARY in line for line in messages), messages


def test_offline_security_exposure_is_low() -> None:
    analyze = _tool("systemd-analyze")
    result = _run(analyze, "security", "--offline=yes", "--no-pager", str(UNIT))
    assert result.returncode == 0, result.stderr
    match = re.search(
        r"Overall exposure level for sensord\.service: (\d+\.\d+)", result.stdout + result.stderr
    )
    assert match is not None, result.stdout
    exposure = float(match.group(1))
    print(f"systemd-analyze security --offline=yes: overall exposure {exposure}")
    assert exposure <= MAX_EXPOSURE, result.stdout

    # --threshold counts in tenths (its default, 100, is the top of the 0.0-10.0 scale).
    threshold = str(round(MAX_EXPOSURE * 10))
    result = _run(analyze, "security", "--offline=yes", f"--threshold={threshold}", str(UNIT))
    assert result.returncode == 0, result.stdout


def test_offline_security_sees_the_device_allow_list() -> None:
    result = _run(_tool("systemd-analyze"), "security", "--offline=yes", str(UNIT))
    device_line = next(
        line for line in result.stdout.splitlines() if line[2:].startswith("DeviceAllow=")
    )
    for group in ("char-ttyUSB:rw", "char-ttyACM:rw", "char-ttyAMA:rw", "char-ttyS:rw"):
        assert group in device_line, device_line


# -- unit contents ---------------------------------------------------------------------------------
def test_unit_runs_the_daemon_as_a_notify_service() -> None:
    assert _one("Service", "Type") == "notify"
    assert _one("Service", "NotifyAccess") == "main"
    assert _one("Service", "ExecStart") == (
        f"{INSTALLED_BINARY} run --config /etc/sensord/sensord.toml --log-format json"
    )
    # the reload waits for its outcome and fails when it did not apply (sensord reload)
    assert _one("Service", "ExecReload") == (
        f"{INSTALLED_BINARY} reload --config /etc/sensord/sensord.toml --pid $MAINPID"
    )
    assert _one("Service", "Restart") == "on-failure"
    assert _one("Service", "RestartSec") == "2"
    assert _one("Service", "TimeoutStartSec") == "30"
    assert _one("Service", "TimeoutStopSec") == "10"
    assert _one("Install", "WantedBy") == "multi-user.target"


def test_watchdog_timeout_gives_a_ping_interval_of_half() -> None:
    watchdog_s = int(_one("Service", "WatchdogSec"))
    assert watchdog_s == 30
    # systemd passes WatchdogSec= to the daemon as WATCHDOG_USEC.
    environ = {"WATCHDOG_USEC": str(watchdog_s * 1_000_000), "WATCHDOG_PID": str(os.getpid())}
    assert watchdog_interval_s(environ) == 15.0


def test_unit_uses_the_sysusers_user_with_serial_device_access() -> None:
    assert _one("Service", "User") == "sensord"
    assert _one("Service", "Group") == "sensord"
    assert _values("Service", "DynamicUser") == []
    assert _one("Service", "SupplementaryGroups") == "dialout"
    assert _one("Service", "PrivateDevices") == "no"
    assert _one("Service", "DevicePolicy") == "closed"
    assert set(_values("Service", "DeviceAllow")) == {
        "char-ttyUSB rw",
        "char-ttyACM rw",
        "char-ttyAMA rw",
        "char-ttyS rw",
    }
    # Device groups resolve only once their driver is loaded; the unit loads them first.
    for module in ("usbserial", "cdc_acm"):
        unit = f"modprobe@{module}.service"
        assert any(unit in v.split() for v in _values("Unit", "Wants")), unit
        assert any(unit in v.split() for v in _values("Unit", "After")), unit


def test_unit_hardening_settings() -> None:
    expected = {
        "ProtectSystem": "strict",
        "ProtectHome": "yes",
        "PrivateTmp": "yes",
        "NoNewPrivileges": "yes",
        "ProtectKernelTunables": "yes",
        "ProtectKernelModules": "yes",
        "ProtectKernelLogs": "yes",
        "ProtectControlGroups": "yes",
        "ProtectClock": "yes",
        "ProtectHostname": "yes",
        "ProtectProc": "invisible",
        "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
        "RestrictNamespaces": "yes",
        "RestrictRealtime": "yes",
        "RestrictSUIDSGID": "yes",
        "LockPersonality": "yes",
        "MemoryDenyWriteExecute": "yes",
        "SystemCallArchitectures": "native",
        "SystemCallErrorNumber": "EPERM",
        "CapabilityBoundingSet": "",
        "AmbientCapabilities": "",
        "UMask": "0077",
        "ConfigurationDirectory": "sensord",
    }
    actual = {key: _one("Service", key) for key in expected}
    assert actual == expected
    assert _values("Service", "SystemCallFilter") == ["@system-service", "~@privileged @resources"]
    environment = " ".join(_values("Service", "Environment")).split()
    assert {
        "PYTHONFAULTHANDLER=1",
        "PYTHONUNBUFFERED=1",
        "MALLOC_MMAP_THRESHOLD_=131072",  # a fixed threshold: no RSS that rises in steps
    } <= set(environment)


def test_installer_and_unit_agree_on_the_paths() -> None:
    install_script = (REPO / "scripts" / "install").read_text()
    assert "/opt/sensord/venv" in install_script
    assert "/etc/systemd/system/sensord.service" in install_script
    for key in ("ExecStart", "ExecReload"):
        config_path = _one("Service", key).split("--config ")[1].split()[0]
        assert config_path == "/etc/sensord/sensord.toml"
    assert "/etc/sensord" in install_script
    assert "sensord.toml" in install_script


# -- MemoryDenyWriteExecute ----------------------------------------------------------------------
_UNDER_MDWE = """
import ctypes, os, sys
PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1
libc = ctypes.CDLL(None, use_errno=True)
if libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
    print("PR_SET_MDWE unsupported:", os.strerror(ctypes.get_errno()))
    sys.exit(3)
import mmap
try:
    mmap.mmap(-1, 4096, prot=mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC)
    sys.exit("W+X mapping was allowed: MDWE is not in force")
except PermissionError:
    pass
import pty, select, urllib.request
import prometheus_client, serial, structlog
from sensord.sdnotify import Notifier
master, slave = pty.openpty()
port = serial.Serial(os.ttyname(slave), 115200, timeout=0)
os.write(master, b"21.5\\n")
select.select([port.fileno()], [], [], 5)
assert os.read(port.fileno(), 64) == b"21.5\\n"
port.close()
registry = prometheus_client.CollectorRegistry()
prometheus_client.ProcessCollector(registry=registry)
server, thread = prometheus_client.start_http_server(0, addr="127.0.0.1", registry=registry)
url = f"http://127.0.0.1:{server.server_port}/metrics"
body = urllib.request.urlopen(url, timeout=5).read()
assert b"process_resident_memory_bytes" in body
server.shutdown()
structlog.get_logger().info("mdwe_check")
Notifier(environ={}).ready()
print("ok")
"""


def test_python_runtime_works_without_writable_executable_memory() -> None:
    """MemoryDenyWriteExecute=yes must not break CPython and the runtime dependencies.

    The kernel's own form of that restriction, prctl(PR_SET_MDWE) (Linux 6.3+), refuses the same
    mappings; a subprocess turns it on, proves it is in force, then imports and exercises pyserial
    (on a pty), prometheus_client (an HTTP scrape), structlog and sdnotify.
    """
    with pty_numbers_held():  # the pty it makes, as every pty of the suite
        result = _run(sys.executable, "-c", _UNDER_MDWE)
    if result.returncode == 3:
        pytest.skip(result.stdout.strip())
    assert (result.returncode, result.stdout.splitlines()[-1:]) == (0, ["ok"]), result.stderr


# -- sysusers ------------------------------------------------------------------------------------
def _digest(root: Path) -> dict[str, str]:
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted((root / "etc").iterdir())
        if path.is_file()
    }


def _records(path: Path) -> dict[str, list[str]]:
    """The colon-separated records of a passwd/group/shadow file, by name."""
    return {line.split(":")[0]: line.split(":") for line in path.read_text().splitlines()}


def test_sysusers_creates_a_locked_user_in_dialout(tmp_path: Path) -> None:
    etc = tmp_path / "etc"
    etc.mkdir()
    (etc / "passwd").write_text("root:x:0:0:root:/root:/bin/bash\n")
    (etc / "group").write_text("root:x:0:\ndialout:x:20:\n")
    sysusers = _tool("systemd-sysusers")
    result = _run(sysusers, f"--root={tmp_path}", "-", stdin=SYSUSERS.read_text())
    assert result.returncode == 0, result.stderr

    users = _records(etc / "passwd")
    groups = _records(etc / "group")
    name, _, uid, gid, _gecos, home, shell = users["sensord"]
    assert int(uid) < 1000  # a system user
    assert groups["sensord"][2] == gid
    assert home == "/"
    assert shell.endswith("/nologin")
    assert "sensord" in groups["dialout"][3].split(",")
    assert groups["dialout"][2] == "20"  # the existing group is kept, not re-created
    shadow = _records(etc / "shadow")
    assert shadow[name][1].startswith("!")  # locked: no login

    before = _digest(tmp_path)
    again = _run(sysusers, f"--root={tmp_path}", "-", stdin=SYSUSERS.read_text())
    assert again.returncode == 0, again.stderr
    assert _digest(tmp_path) == before


# -- udev example --------------------------------------------------------------------------------
_UDEV_PAIR = re.compile(r'\s*([A-Z_]+(?:\{[^}]+\})?)\s*(==|!=|\+=|-=|:=|=)\s*"([^"]*)"\s*(?:,|$)')


def test_udev_example_is_well_formed() -> None:
    rules = [
        line
        for line in UDEV_RULE.read_text().splitlines()
        if line.strip() and not line.lstrip().startswith("#")
    ]
    assert len(rules) == 1
    pairs: list[tuple[str, str, str]] = []
    position = 0
    while position < len(rules[0]):
        match = _UDEV_PAIR.match(rules[0], position)
        assert match is not None, f"cannot parse the rule at: {rules[0][position:]!r}"
        key, op, value = match.groups()
        pairs.append((key, op, value))
        position = match.end()
    keys = {(key, op) for key, op, _ in pairs}
    assert {
        ("SUBSYSTEM", "=="),
        ("ATTRS{idVendor}", "=="),
        ("ATTRS{idProduct}", "=="),
        ("ATTRS{serial}", "=="),
    } <= keys
    assignments = {key: value for key, op, value in pairs if op in ("=", "+=")}
    assert assignments == {"SYMLINK": "sensor-boiler", "GROUP": "dialout", "MODE": "0660"}
    values = dict((key, value) for key, _, value in pairs)
    assert values["SUBSYSTEM"] == "tty"
    assert re.fullmatch(r"[0-9a-f]{4}", values["ATTRS{idVendor}"])
    assert re.fullmatch(r"[0-9a-f]{4}", values["ATTRS{idProduct}"])
