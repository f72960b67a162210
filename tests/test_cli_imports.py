"""The command line imports a command's module once it names the command (``sensord.cli``):
``--help``, a usage error and every command but ``run`` load neither the daemon (its reader,
its sensors, Prometheus) nor the modules of the other commands. A tool run on a small host
(``sensord check`` before a restart, ``sensord status`` from a timer) costs only what it
uses, and a command's module that does not import cannot break another command.

Each case runs ``python -m sensord`` as the entry point runs it, in an interpreter of its own,
and reads the modules it held at its exit."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from harness.common import REPO

from sensord.demo import DEMO_CONFIG

#: Writes the modules held at exit to ``argv[1]``, then runs ``python -m sensord argv[2:]``.
_HELD_AT_EXIT = """
import atexit, runpy, sys
from pathlib import Path

out = sys.argv[1]
atexit.register(lambda: Path(out).write_text("\\n".join(sorted(sys.modules))))
sys.argv = ["sensord", *sys.argv[2:]]
runpy.run_module("sensord", run_name="__main__", alter_sys=True)
"""

#: The run's own modules: what only ``sensord run`` needs.
_DAEMON = frozenset(
    {
        "sensord.cli_run",
        "sensord.daemon",
        "sensord.reader",
        "sensord.sensor",
        "sensord.warm_up",
        "sensord.pauses",
        "sensord.export",
        "prometheus_client",
    }
)

#: Each command's modules of the command line.
_COMMAND_MODULES = frozenset(
    {
        "sensord.cli_check",
        "sensord.cli_describe",
        "sensord.cli_client",
        "sensord.cli_ports",
        "sensord.cli_record",
        "sensord.cli_simulate",
    }
)


def _held(tmp_path: Path, *args: str) -> set[str]:
    held = tmp_path / "modules"
    done = subprocess.run(
        [sys.executable, "-c", _HELD_AT_EXIT, str(held), *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,  # the tree under test, not the package installed in the environment
        timeout=60,
    )
    assert held.exists(), done.stderr
    return set(held.read_text().split("\n"))


@pytest.mark.parametrize(
    ("args", "own"),
    [
        (("--help",), set()),
        (("check", "--bogus"), set()),  # a usage error
        (("run", "--help"), set()),
        (("check", "--no-devices", "{config}"), {"sensord.cli_check", "sensord.cli_describe"}),
        (("ports", "--config", "{config}"), {"sensord.cli_ports"}),
        (("status", "--config", "{config}"), {"sensord.cli_client"}),
        (("record", "--help"), set()),
        (("demo-config",), set()),
    ],
)
def test_a_command_other_than_run_loads_neither_the_daemon_nor_other_commands(
    tmp_path: Path, args: tuple[str, ...], own: set[str]
) -> None:
    config = tmp_path / "sensord.toml"
    # an address where nothing listens: ``status`` is told at once that no daemon answers
    config.write_text(DEMO_CONFIG.replace("port = 9808", "port = 9", 1))
    modules = _held(tmp_path, *(arg.replace("{config}", str(config)) for arg in args))
    assert "sensord.cli_parser" in modules  # the command line was read
    assert not _DAEMON & modules
    assert _COMMAND_MODULES & modules == own
