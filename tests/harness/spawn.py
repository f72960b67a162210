"""Every process the harness starts, started so that it ends with the test process.

A test run that is killed (a CI timeout, ``timeout`` around pytest, a pytest-xdist worker
lost) runs no fixture's teardown: what it started would run on, holding ptys, ports and CPU
for the next run. Two things end them instead:

- :func:`popen` starts each process under ``setpriv --pdeathsig`` (util-linux): the kernel
  sends it the signal when the thread that started it ends (prctl(2), ``PR_SET_PDEATHSIG``:
  "the 'parent' in this case is considered to be the thread that created this process").
  Nothing runs in the child between fork and exec (:class:`subprocess.Popen`'s
  ``preexec_fn`` "is NOT SAFE to use in the presence of threads", and a test process runs
  relays, device servers and pyserial's threads), so the prctl is made by ``setpriv`` after
  the exec. A test process that died before it is caught by the ``sh`` that setpriv runs:
  it compares its parent with the test process and exits if the process was orphaned
  meanwhile. The signal is SIGKILL: nothing is left to wait for a graceful stop, which a
  process may also put off (a daemon drains its ports at SIGTERM) or refuse. A start from another thread than the main one, which may end before its
  process should, is made on a thread that lives as long as the test process.
- :class:`Owner` marks the process that runs the tests: every process started from it
  inherits ``SENSORD_TEST_OWNER`` (a token of that process), which ``/proc/PID/environ``
  shows. A guardian process waits for the end of a pipe from the test process and, once it
  ends (however the process died), kills every process that carries the token. That reaches
  what ``PR_SET_PDEATHSIG`` cannot: a process that changed its user (which clears the
  setting: gpsd, started as root, becomes the ``gpsd`` user), the processes a child started
  itself, and those a test started with :mod:`subprocess` directly. At the end of a session
  :meth:`Owner.leftovers` names what is still running.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from harness.common import HarnessError

__all__ = ["OWNER_ENV", "Leftover", "Owner", "carrying", "cmdline", "launch_argv", "popen"]

#: The variable that names the test process a process was started from.
OWNER_ENV = "SENSORD_TEST_OWNER"

#: What ``sh`` runs once ``setpriv`` has set the signal: ``$0`` is the test process's pid,
#: ``$PPID`` the parent of the shell when it started (after the prctl).
_CHECK_PARENT = 'test "$PPID" = "$0" || exit 125; exec "$@"'

#: Each process :func:`popen` started: its pid and the test that was running then.
_STARTED: dict[int, str] = {}

#: The processes :func:`popen` started, by pid: their own :meth:`subprocess.Popen.poll` tells
#: whether they still run while ``/proc/PID/environ`` cannot (it reads as nothing while the
#: process replaces its program: ``setpriv``, then ``sh``, then the program itself).
_CHILDREN: dict[int, subprocess.Popen[Any]] = {}

_spawner: ThreadPoolExecutor | None = None
_spawner_lock = threading.Lock()


def _setpriv() -> str:
    found = shutil.which("setpriv") or shutil.which("setpriv", path="/usr/bin:/bin")
    if found is None:
        raise HarnessError("setpriv (util-linux) is not installed: the harness starts with it")
    return found


def launch_argv(
    argv: Sequence[str],
    *,
    parent_pid: int,
    death_signal: signal.Signals = signal.SIGKILL,
    path: str | None = None,
) -> list[str]:
    """The command that runs ``argv`` with ``death_signal`` due when its parent's starting
    thread ends, if its parent is still ``parent_pid`` once the signal is set (else it exits
    125 and runs nothing). ``argv[0]`` is looked up in ``path`` (PATH), as
    :class:`subprocess.Popen` would: FileNotFoundError when it is not there."""
    program = argv[0]
    if os.sep not in program:
        found = shutil.which(program, path=path if path is not None else os.defpath)
        if found is None:
            raise FileNotFoundError(errno.ENOENT, os.strerror(errno.ENOENT), program)
        program = found
    return [
        _setpriv(),
        f"--pdeathsig={death_signal.name.removeprefix('SIG')}",
        "--",
        "/bin/sh",
        "-c",
        _CHECK_PARENT,
        str(parent_pid),
        program,
        *argv[1:],
    ]


def _start(argv: Sequence[str], kwargs: dict[str, Any]) -> subprocess.Popen[Any]:
    given: Mapping[str, str] | None = kwargs.pop("env", None)
    env = dict(os.environ if given is None else given)
    owner = os.environ.get(OWNER_ENV)
    if owner is not None:
        env[OWNER_ENV] = owner
    command = launch_argv(argv, parent_pid=os.getpid(), path=env.get("PATH"))
    proc: subprocess.Popen[Any] = subprocess.Popen(command, env=env, **kwargs)
    proc.args = list(argv)  # what errors and reprs name: the program, not its launcher
    _STARTED[proc.pid] = os.environ.get("PYTEST_CURRENT_TEST", "").rpartition(" (")[0]
    _CHILDREN[proc.pid] = proc
    return proc


def popen(argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
    """:class:`subprocess.Popen` of ``argv`` (keyword arguments as for it, but for
    ``preexec_fn``, ``shell`` and ``executable``), killed (SIGKILL) when the test process
    ends; see the module docstring."""
    for refused in ("preexec_fn", "shell", "executable"):
        if kwargs.get(refused):
            raise HarnessError(f"harness.spawn.popen takes no {refused}")
    if threading.current_thread() is threading.main_thread():
        return _start(argv, kwargs)
    global _spawner
    with _spawner_lock:
        if _spawner is None:
            # its one thread waits for work until the interpreter exits: the processes it
            # started get their signal then, not when the thread that asked for them ends
            _spawner = ThreadPoolExecutor(1, thread_name_prefix="harness-spawn")
    return _spawner.submit(_start, argv, kwargs).result()


# -- the owner: the test process, its guardian, what is left -----------------------------------

#: The guardian: it ignores the signals a terminal or CI sends a process group, waits for its
#: standard input to end, then kills every process that carries the token (again while a
#: pass finds any: a process may start another meanwhile) but itself.
_GUARDIAN = """\
import os, signal, sys
for s in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(s, signal.SIG_IGN)
mark = sys.argv[1].encode()
while os.read(0, 4096):
    pass
for _ in range(20):
    found = False
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == os.getpid():
            continue
        try:
            with open("/proc/%s/environ" % name, "rb") as f:
                if mark not in f.read().split(b"\\0"):
                    continue
            os.kill(int(name), signal.SIGKILL)
            found = True
        except OSError:
            continue
    if not found:
        break
"""


@dataclass(frozen=True)
class Leftover:
    """A process started from the test process that still runs."""

    pid: int
    cmdline: str
    #: the test that started it through :func:`popen`, "" when another process did
    started_by: str

    def __str__(self) -> str:
        by = f"started by {self.started_by}" if self.started_by else "not started by popen"
        return f"pid {self.pid} ({by}): {self.cmdline}"


def _running(pid: int) -> bool:
    """Whether ``pid`` runs (exists and is no zombie, which holds nothing but its pid)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def carrying(variable: str, value: str, skip: Iterable[int] = ()) -> list[int]:
    """The running processes (no zombies) but ``skip`` whose environment, as they were
    started, holds ``variable=value``."""
    mark = f"{variable}={value}".encode()
    skipped = set(skip)
    found = []
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) in skipped:
            continue
        with (
            contextlib.suppress(OSError),
            open(f"/proc/{name}/environ", "rb") as f,
        ):
            if mark in f.read().split(b"\0") and _running(int(name)):
                found.append(int(name))
    return sorted(found)


def cmdline(pid: int) -> str:
    """The command line of ``pid``, its words joined by spaces ("?" once it ended)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().rstrip(b"\0").replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return "?"


class Owner:
    """This process as the owner of every process started from it from now on: sets
    ``SENSORD_TEST_OWNER`` in its environment and starts the guardian (module docstring)."""

    def __init__(self) -> None:
        self.token = f"{os.getpid()}.{secrets.token_hex(8)}"
        os.environ[OWNER_ENV] = self.token
        # not started by popen: the guardian must outlive this process, not die with it
        self._guardian = subprocess.Popen(
            [sys.executable, "-I", "-S", "-c", _GUARDIAN, f"{OWNER_ENV}={self.token}"],
            stdin=subprocess.PIPE,
            start_new_session=True,  # a terminal's Ctrl-C or a group's kill passes it by
        )

    def leftovers(self, within_s: float = 0.0) -> list[Leftover]:
        """The processes started from this one that still run after up to ``within_s``
        (those that end meanwhile are not left over)."""
        skip = {os.getpid(), self._guardian.pid}
        deadline = time.monotonic() + within_s
        while True:
            children = {pid for pid, proc in _CHILDREN.items() if proc.poll() is None}
            pids = sorted(set(carrying(OWNER_ENV, self.token, skip)) | children - skip)
            if not pids or time.monotonic() >= deadline:
                break
            time.sleep(0.1)
        return [Leftover(pid, cmdline(pid), _STARTED.get(pid, "")) for pid in pids]

    def close(self) -> None:
        """End the guardian, which kills what is left, and wait for it."""
        if self._guardian.stdin is not None:
            self._guardian.stdin.close()
        try:
            self._guardian.wait(10)
        except subprocess.TimeoutExpired:
            self._guardian.kill()
            self._guardian.wait()
        if os.environ.get(OWNER_ENV) == self.token:
            del os.environ[OWNER_ENV]
