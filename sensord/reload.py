"""``sensord reload``: have the running daemon reload its configuration, and wait for the
outcome, as ``ExecReload=`` of ``sensord.service`` runs it (``systemctl reload sensord``).

A signal alone (``kill -HUP``) returns at once, before the file is read, and succeeds
whatever becomes of the reload. This command reads the daemon's ``/status`` first: its pid
and ``config_reloads_begun``, the reloads it has begun. Then it sends SIGHUP and reads
``/status`` again until ``config_reloads`` (the reloads whose outcome is set; a ``--workers``
primary counts one once its workers have applied it) passes that number: a reload that began
after the first read has read the file as it was then, and its outcome is the last one. Two
reloads asked for at once may be one: two SIGHUPs that come together are one to the process,
and a reload that began after both reads the file for both.

The exit code is 0 when the reload applied, :data:`EXIT_NOT_APPLIED` when it did not (an
invalid file: the errors with their key paths, as ``sensord check`` names them) or applied in
part (the sections that run as before: the operator who edited them sees a failure),
:data:`EXIT_NO_DAEMON` when no daemon answers (or not the process asked for, or it stopped
before the outcome), :data:`EXIT_NO_OUTCOME` when the outcome is not known within the
timeout (the reload may still apply).
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeGuard

from sensord.client import at_path, fetch, local_url
from sensord.config import HttpConfig
from sensord.errors import EXIT_INVALID, EXIT_OK
from sensord.service import DEMO_CONFIG_LABEL, KEPT_SETTINGS

__all__ = [
    "EXIT_NOT_APPLIED",
    "EXIT_NO_DAEMON",
    "EXIT_NO_OUTCOME",
    "reload_daemon",
]

#: The reload did not apply, or applied in part.
EXIT_NOT_APPLIED = EXIT_INVALID
#: No daemon answers at the address, it is not the process asked for, or it stopped before
#: the reload's outcome was known.
EXIT_NO_DAEMON = 3
#: The reload's outcome was not known within the timeout.
EXIT_NO_OUTCOME = 4

#: The first pause between two reads of ``/status``, doubled up to the longest.
FIRST_POLL_S = 0.01
LONGEST_POLL_S = 0.2


def reload_daemon(
    http: HttpConfig,
    url: str | None,
    *,
    pid: int | None,
    timeout_s: float,
    runs_config: Callable[[int], str | None],
    config_path: Path | None = None,
) -> int:
    """Reload the daemon ``http`` describes (or at ``url``) and print the outcome; the exit
    code (see the module docstring). ``pid``: the process that must answer (systemd's
    ``$MAINPID``), else the one that does. ``runs_config(pid)``: the configuration file that
    process runs when it is a ``sensord run``, else None: no other process is signalled;
    one that runs another file than ``config_path`` gets a note."""
    deadline = time.monotonic() + timeout_s
    target = local_url(http, "/status") if url is None else at_path(url, "/status")
    before, problem = _status(http, target, deadline)
    if before is None:
        asked = "" if pid is None else f" (pid {pid}{'' if _exists(pid) else ': no such process'})"
        print(f"sensord: no daemon to reload{asked}: {problem}", file=sys.stderr)
        if pid is not None and _exists(pid):
            print(
                f"sensord: pid {pid} runs: when the file's [http] (listen, port, TLS) is not "
                "what it serves, as after an edit of [http], give its running address with "
                "--url, or restart it to apply the edit (systemctl restart sensord)",
                file=sys.stderr,
            )
        return EXIT_NO_DAEMON
    answering = before.get("pid")
    if not _count(answering):
        print(f"sensord: {target}: not sensord's /status (no pid)", file=sys.stderr)
        return EXIT_NO_DAEMON
    if pid is not None and answering != pid:
        print(
            f"sensord: the daemon at {target} is pid {answering}, not {pid}: another daemon; "
            "give the file of the one to reload with -c, or its address with --url",
            file=sys.stderr,
        )
        return EXIT_NO_DAEMON
    if before.get("config") == DEMO_CONFIG_LABEL:
        print(
            f"sensord: the daemon (pid {answering}) runs the built-in demo: it has no "
            "configuration file to reload; start it with --config FILE",
            file=sys.stderr,
        )
        return EXIT_NOT_APPLIED
    running = runs_config(answering)
    if running is None:
        print(
            f"sensord: pid {answering}, which {target} names, is not a sensord run this host "
            "can see (a daemon in another container or on another host): it is not signalled",
            file=sys.stderr,
        )
        return EXIT_NO_DAEMON
    if config_path is not None and running != os.path.realpath(config_path):
        print(
            f"sensord: note: the daemon (pid {answering}) runs {running}: the reload reads "
            f"that file, not {config_path}",
            file=sys.stderr,
        )
    begun = before.get("config_reloads_begun", before.get("config_reloads"))
    if not _count(begun):
        print(f"sensord: {target}: not sensord's /status", file=sys.stderr)
        return EXIT_NO_DAEMON
    try:
        os.kill(answering, signal.SIGHUP)
    except ProcessLookupError:
        print(f"sensord: the daemon (pid {answering}) is gone", file=sys.stderr)
        return EXIT_NO_DAEMON
    except PermissionError:
        print(
            f"sensord: not allowed to signal the daemon (pid {answering}): run this as its "
            "user (sensord) or root",
            file=sys.stderr,
        )
        return EXIT_NOT_APPLIED
    pause = FIRST_POLL_S
    while True:
        time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
        pause = min(pause * 2, LONGEST_POLL_S)
        after, problem = _status(http, target, deadline)
        if after is not None and after.get("pid") != answering:
            print(
                f"sensord: the daemon at {target} is pid {after.get('pid')} now, not "
                f"{answering}: it restarted before the reload's outcome was known",
                file=sys.stderr,
            )
            return EXIT_NO_DAEMON
        if after is not None:
            done = after.get("config_reloads")
            if _count(done) and done > begun:
                return _outcome(after, answering)
        elif not _exists(answering):
            print(
                f"sensord: the daemon (pid {answering}) stopped before the reload's outcome "
                f"was known: {problem}",
                file=sys.stderr,
            )
            return EXIT_NO_DAEMON
        if time.monotonic() >= deadline:
            why = "" if after is not None else f" (the last attempt: {problem})"
            print(
                f"sensord: no outcome of the reload within {timeout_s:g} s{why}; it may still "
                f"apply: 'sensord status' shows the last reload's outcome (the daemon is pid "
                f"{answering})",
                file=sys.stderr,
            )
            return EXIT_NO_OUTCOME


def _outcome(status: dict[str, Any], pid: int) -> int:
    """Print the last reload's outcome from ``status``; the exit code."""
    sensors = status.get("sensors")
    count = len(sensors) if isinstance(sensors, dict) else 0
    if status.get("config_last_reload_successful") is True:
        print(
            f"sensord: configuration reloaded (pid {pid}, {status.get('config')}): "
            f"{count} sensor{'s' if count != 1 else ''}"
        )
        return EXIT_OK
    errors = status.get("config_last_reload_errors")
    lines = [str(e) for e in errors] if isinstance(errors, list) and errors else ["(see the log)"]
    if all(line.endswith(KEPT_SETTINGS) for line in lines):
        head = "reload applied in part; these run as before until a reload applies them"
    else:
        head = "reload failed"
    print(f"sensord: {head} (pid {pid}, {status.get('config')}):", file=sys.stderr)
    for line in lines:
        print(f"  {line}", file=sys.stderr)
    return EXIT_NOT_APPLIED


def _status(http: HttpConfig, target: str, deadline: float) -> tuple[dict[str, Any] | None, str]:
    """``/status`` as a dict, or (None, why not), waiting until ``deadline`` at most (and a
    tenth of a second at least)."""
    body, problem = fetch(http, target, timeout_s=max(0.1, deadline - time.monotonic()))
    if problem:
        return None, problem
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("sensors"), dict):
        return None, f"{target}: not sensord's /status"
    return data, ""


def _count(value: object) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _exists(pid: int) -> bool:
    """Whether process ``pid`` exists (one of another user's counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
