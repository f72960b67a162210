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

A daemon that does not answer at the address the file's ``[http]`` gives (an edit of
``[http]`` that a reload is to apply, or ``--listen``/``--port``) is found from its pid
(``--pid``, systemd's ``$MAINPID``): the TCP addresses it listens on, read from ``/proc``, and
of those the one whose ``/status`` names that pid. After the signal it is asked there until it
no longer answers there, then at the file's address: a reload that applied the new ``[http]``
closed the one and serves at the other; one that did not (an invalid file, an ``[http]`` that
cannot be served, a ``--workers`` primary, which keeps its address until a restart) answers
where it was. The file's TLS and credentials are used at both (TLS tried on and off where it
listens, as an edit may turn it on or off). Where that pid refuses the file's credentials
(HTTP 401 at a loopback address it listens on: an edit of them), the reloads are counted on
its ``/healthz``, which asks for none (its ``Sensord-Config-Reloads`` headers), and the
outcome read with the file's credentials once the count passed: a reload that applied the
file's ``[http]`` set them; one that did not fails without its reason, which only the
daemon's log and ``/status`` hold. When nothing of the file's reads the running daemon's
``/status``, nothing is signalled, and each address tried is named with what it answered.

With TLS the daemon's certificate is verified against the file's ``tls_cert_file``. A
certificate renewed at that path (a new key, a self-signed one replaced) is not the one the
daemon serves until the reload has loaded it: when the served one does not verify and
``--pid`` names the process, a loopback address it listens on (read from ``/proc``, as above)
is read without verifying the certificate: the listening socket is that process's, so the
certificate would prove nothing more. Without ``--pid`` nothing unverified is read (the
credentials are not sent to whoever listens there). After the reload the command tells
whether the daemon serves the file's certificate now.

The exit code is 0 when the reload applied, :data:`EXIT_NOT_APPLIED` when it did not (an
invalid file: the errors with their key paths, as ``sensord check`` names them) or applied in
part (the sections that run as before: the operator who edited them sees a failure),
:data:`EXIT_NO_DAEMON` when no daemon answers (or not the process asked for, or it stopped
before the outcome), :data:`EXIT_NO_OUTCOME` when the outcome is not known within the
timeout (the reload may still apply).
"""

from __future__ import annotations

import ipaddress
import json
import os
import signal
import socket
import struct
import sys
import time
import urllib.parse
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeGuard

from sensord.client import (
    NOT_LISTENING_HINT,
    at_path,
    certificate_refused,
    fetch,
    fetch_headers,
    local_url,
    url_at,
)
from sensord.config_tables import HttpConfig
from sensord.errors import EXIT_INVALID, EXIT_OK
from sensord.http import RELOADS_BEGUN_HEADER, RELOADS_HEADER
from sensord.service import DEMO_CONFIG_LABEL, KEPT_SETTINGS

__all__ = [
    "EXIT_NOT_APPLIED",
    "EXIT_NO_DAEMON",
    "EXIT_NO_OUTCOME",
    "listening_addresses",
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
#: The state of a listening socket in ``/proc/net/tcp`` (``TCP_LISTEN``, in hex).
_TCP_LISTEN = "0A"


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
    one that runs another file than ``config_path`` gets a note.

    When ``pid`` is a ``sensord run`` that does not answer at that address (an edit of
    ``[http]`` since it started, or ``--listen``/``--port``), it is asked where it listens
    (:func:`listening_addresses`). The outcome is read where the daemon answers after the
    reload: at the file's address once the reload moved it there, else where it was asked."""
    deadline = time.monotonic() + timeout_s
    #: the file's address: where a reload that applies its [http] serves
    in_file = local_url(http, "/status")
    target = in_file if url is None else at_path(url, "/status")
    #: the addresses whose last read trusted the certificate served there (``_status``)
    unverified: set[str] = set()
    before, problem = _status(http, target, deadline, pid, unverified)
    #: where the daemon answered before the signal
    asked_at = target
    found_where_it_listens = False
    if (
        pid is not None
        and (before is None or before.get("pid") != pid)
        and runs_config(pid) is not None
    ):
        if before is not None:
            problem = f"{target} is pid {before.get('pid')}, not {pid}"
        found, tried, refused = _serving(http, pid, deadline, unverified)
        if found is None:
            counts = None if refused is None else _reload_counts(http, refused, deadline, pid)
            if refused is None or counts is None:
                return _not_found(pid, problem, tried)
            return _reload_refused(
                http,
                refused,
                pid,
                begun=counts[1],
                deadline=deadline,
                timeout_s=timeout_s,
                unverified=unverified,
                note=_short(problem),
            )
        asked_at, before = found
        found_where_it_listens = True
        print(
            f"sensord: note: {_short(problem)}; pid {pid} serves at {_base(asked_at)}: asked there",
            file=sys.stderr,
        )
    if before is None:
        asked = "" if pid is None else f" (pid {pid}{'' if _exists(pid) else ': no such process'})"
        print(f"sensord: no daemon to reload{asked}: {problem}", file=sys.stderr)
        if pid is None:
            print(
                "sensord: a daemon that runs with another [http] than the file's (after an "
                "edit of [http], or started with --listen/--port) is found from its pid: give "
                "it with --pid (systemctl show -p MainPID --value sensord), or its running "
                "address with --url",
                file=sys.stderr,
            )
            if certificate_refused(problem):
                print(
                    f"sensord: its certificate does not verify against [http] tls_cert_file "
                    f"{http.tls_cert_file} (renewed there and not loaded yet, or expired): "
                    "with --pid it is read with the certificate it serves",
                    file=sys.stderr,
                )
        elif _exists(pid):
            print(
                f"sensord: pid {pid} is no sensord run this user can see: it is not signalled",
                file=sys.stderr,
            )
        return EXIT_NO_DAEMON
    answering = before.get("pid")
    if not _count(answering):
        print(f"sensord: {asked_at}: not sensord's /status (no pid)", file=sys.stderr)
        return EXIT_NO_DAEMON
    if pid is not None and answering != pid:
        print(
            f"sensord: the daemon at {asked_at} is pid {answering}, not {pid}: another daemon; "
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
            f"sensord: pid {answering}, which {asked_at} names, is not a sensord run this "
            "host can see (a daemon in another container or on another host, or one of "
            "another user's that /proc hides, as its hidepid= option does): it is not "
            "signalled",
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
        print(f"sensord: {asked_at}: not sensord's /status", file=sys.stderr)
        return EXIT_NO_DAEMON
    #: the daemon served another certificate than the file's before the reload
    renewal = asked_at in unverified
    if renewal and http.tls_cert_file is None:
        print(
            f"sensord: note: pid {answering} serves TLS at {_base(asked_at)}, which the file's "
            f"[http] turns off: pid {answering} listens there, so it was read with the "
            "certificate it serves",
            file=sys.stderr,
        )
    elif renewal:
        print(
            f"sensord: note: the certificate pid {answering} serves at {_base(asked_at)} does "
            f"not verify against [http] tls_cert_file {http.tls_cert_file} (renewed there and "
            f"not loaded yet, or expired): pid {answering} listens there, so it was read with "
            "the certificate it serves",
            file=sys.stderr,
        )
    failed = _signal(answering)
    if failed is not None:
        return failed
    pause = FIRST_POLL_S
    while True:
        time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
        pause = min(pause * 2, LONGEST_POLL_S)
        after, problem = _status(http, asked_at, deadline, answering, unverified)
        where = asked_at
        if after is not None and after.get("pid") != answering:
            print(
                f"sensord: the daemon at {asked_at} is pid {after.get('pid')} now, not "
                f"{answering}: it restarted before the reload's outcome was known",
                file=sys.stderr,
            )
            return EXIT_NO_DAEMON
        if after is None and in_file != asked_at and _exists(answering):
            # gone from where it was asked: a reload that applied the file's [http] serves
            # there (asked only now: an address this host does not have may not answer soon)
            moved, moved_problem = _status(http, in_file, deadline, answering, unverified)
            if moved is not None and moved.get("pid") == answering:
                after, where = moved, in_file
            else:
                problem += f"; {moved_problem or f'{in_file} is pid {_pid_of(moved)}'}"
        if after is not None:
            done = after.get("config_reloads")
            if _count(done) and done > begun:
                if found_where_it_listens and where == asked_at and in_file != asked_at:
                    # the outcome can come over a connection accepted before the reload
                    # changed the daemon's [http] (its TLS is taken at accept): the file's
                    # address tells whether the daemon serves there now
                    moved, _ = _status(http, in_file, deadline, answering, unverified)
                    if moved is not None and moved.get("pid") == answering:
                        after, where = moved, in_file
                code = _outcome(after, answering, moved=where != asked_at)
                if renewal or where in unverified:
                    _tell_certificate(http, where, deadline)
                if found_where_it_listens and where == asked_at:
                    print(
                        f"sensord: the daemon serves at {_base(where)} as before, not at the "
                        f"file's address: 'sensord status --url {_base(where)}' reaches it",
                        file=sys.stderr,
                    )
                return code
        elif not _exists(answering):
            print(
                f"sensord: the daemon (pid {answering}) stopped before the reload's outcome "
                f"was known: {problem}",
                file=sys.stderr,
            )
            return EXIT_NO_DAEMON
        if time.monotonic() >= deadline:
            why = "" if after is not None else f" (the last attempt: {problem})"
            return _no_outcome(timeout_s, why, answering)


def _signal(pid: int) -> int | None:
    """Send SIGHUP to ``pid``; None, or the exit code when it could not be sent (printed)."""
    try:
        os.kill(pid, signal.SIGHUP)
    except ProcessLookupError:
        print(f"sensord: the daemon (pid {pid}) is gone", file=sys.stderr)
        return EXIT_NO_DAEMON
    except PermissionError:
        print(
            f"sensord: not allowed to signal the daemon (pid {pid}): run this as its "
            "user (sensord) or root",
            file=sys.stderr,
        )
        return EXIT_NOT_APPLIED
    return None


def _no_outcome(timeout_s: float, why: str, pid: int) -> int:
    print(
        f"sensord: no outcome of the reload within {timeout_s:g} s{why}; it may still "
        f"apply: 'sensord status' shows the last reload's outcome (the daemon is pid "
        f"{pid})",
        file=sys.stderr,
    )
    return EXIT_NO_OUTCOME


def _reload_refused(
    http: HttpConfig,
    where: str,
    pid: int,
    *,
    begun: int,
    deadline: float,
    timeout_s: float,
    unverified: set[str],
    note: str,
) -> int:
    """Reload ``pid``, which refuses the file's credentials at ``where`` (a loopback address it
    listens on) and had begun ``begun`` reloads: its ``/healthz``, which asks for none, counts
    them (``_reload_counts``). Once the count passes ``begun`` the outcome is read at
    ``where`` with the file's credentials, which the reload set if it applied the file's
    ``[http]``; one that moved the daemon is read at the file's address. The exit code."""
    elsewhere = "" if note.startswith(f"{where}: ") else f"{note}; "
    print(
        f"sensord: note: {elsewhere}pid {pid} refuses the file's [http] credentials at "
        f"{_base(where)} (HTTP 401): it asks for those it runs with until the reload applies "
        "the file's; the reload is followed on its /healthz, which asks for none",
        file=sys.stderr,
    )
    failed = _signal(pid)
    if failed is not None:
        return failed
    in_file = local_url(http, "/status")
    pause = FIRST_POLL_S
    problem = ""
    while True:
        time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
        pause = min(pause * 2, LONGEST_POLL_S)
        counts = _reload_counts(http, where, deadline, pid)
        if counts is not None and counts[0] > begun:
            after, problem = _status(http, where, deadline, pid, unverified)
            if after is not None and after.get("pid") == pid:
                code = _outcome(after, pid)
                if where in unverified:
                    _tell_certificate(http, where, deadline)
                return code
            if _credentials_refused(problem):
                print(
                    f"sensord: reload failed (pid {pid}): it did not apply the file's [http], "
                    f"and asks for other credentials than the file's ({problem}), so its "
                    "/status, which names why, cannot be read with them: its log names it "
                    "(journalctl -u sensord), and 'sensord check' the errors of the file",
                    file=sys.stderr,
                )
                return EXIT_NOT_APPLIED
        elif counts is None:
            # gone from there: a reload that applied the file's [http] serves at its address
            moved, problem = _status(http, in_file, deadline, pid, unverified)
            done = None if moved is None else moved.get("config_reloads")
            if moved is not None and moved.get("pid") == pid and _count(done) and done > begun:
                code = _outcome(moved, pid, moved=True)
                if in_file in unverified:
                    _tell_certificate(http, in_file, deadline)
                return code
            if not _exists(pid):
                print(
                    f"sensord: the daemon (pid {pid}) stopped before the reload's outcome was "
                    "known",
                    file=sys.stderr,
                )
                return EXIT_NO_DAEMON
        if time.monotonic() >= deadline:
            return _no_outcome(timeout_s, f" (the last attempt: {problem})" if problem else "", pid)


def _credentials_refused(problem: str) -> bool:
    """Whether :func:`fetch`'s ``problem`` is the daemon's refusal of the credentials."""
    return problem.partition(": HTTP ")[2].startswith("401")


def _reload_counts(
    http: HttpConfig, status_url: str, deadline: float, pid: int
) -> tuple[int, int] | None:
    """``(outcomes set, begun)`` of the reloads of the daemon at ``status_url``, from its
    ``/healthz`` headers, which need no credentials; its certificate is read unverified only
    when ``pid`` listens there (``_listens_at``). None when it does not answer with them (a
    daemon of a version before them, or not at that address any more)."""
    target = _base(status_url) + "/healthz"
    headers, problem = fetch_headers(http, target, max(0.1, deadline - time.monotonic()))
    if headers is None and certificate_refused(problem) and _listens_at(pid, target):
        timeout_s = max(0.1, deadline - time.monotonic())
        headers, problem = fetch_headers(http, target, timeout_s, trust_served=True)
    if headers is None:
        return None
    done, begun = headers.get(RELOADS_HEADER, ""), headers.get(RELOADS_BEGUN_HEADER, "")
    if not (done.isdigit() and begun.isdigit()):
        return None
    return int(done), int(begun)


def listening_addresses(pid: int) -> list[tuple[str, int]]:
    """The TCP addresses process ``pid`` listens on, ``(host, port)``: the socket inodes of
    its descriptors (``/proc/PID/fd``) matched against the listening sockets of its network
    namespace (``/proc/PID/net/tcp`` and ``tcp6``). Reading the descriptors takes the
    process's own user (or root); OSError otherwise, or when the process is gone."""
    fds = f"/proc/{pid}/fd"
    inodes: set[str] = set()
    for fd in os.listdir(fds):
        try:
            link = os.readlink(f"{fds}/{fd}")
        except OSError:  # closed since the listing
            continue
        if link.startswith("socket:["):
            inodes.add(link[len("socket:[") : -1])
    found: list[tuple[str, int]] = []
    for table, family in (("tcp", socket.AF_INET), ("tcp6", socket.AF_INET6)):
        try:
            with open(f"/proc/{pid}/net/{table}", encoding="ascii") as f:
                lines = f.read().splitlines()[1:]
        except FileNotFoundError:  # a kernel without IPv6
            continue
        for line in lines:
            # sl local_address rem_address st tx_queue:rx_queue tr:tm->when retrnsmt uid
            # timeout inode ...; the address in hex, 32-bit words in host byte order
            fields = line.split()
            if len(fields) < 10 or fields[3] != _TCP_LISTEN or fields[9] not in inodes:
                continue
            host, _, port = fields[1].partition(":")
            packed = b"".join(
                struct.pack("=I", int(host[i : i + 8], 16)) for i in range(0, len(host), 8)
            )
            found.append((socket.inet_ntop(family, packed), int(port, 16)))
    return found


def _serving(
    http: HttpConfig, pid: int, deadline: float, unverified: set[str]
) -> tuple[tuple[str, dict[str, Any]] | None, list[str], str | None]:
    """Where ``pid`` serves its ``/status``, and that ``/status``: one of the addresses it
    listens on, asked with the file's TLS (and then without, or the other way round: an edit
    may have turned TLS on or off) and credentials. None, and what each attempt met, when
    none answers as ``pid``; and then the first loopback address where the file's
    credentials were refused (an edit of them), else None."""
    try:
        addresses = listening_addresses(pid)
    except OSError as exc:
        return (
            None,
            [
                f"where pid {pid} listens cannot be read (/proc/{pid}/fd: "
                f"{exc.strerror or exc}): run this as its user (sensord) or root"
            ],
            None,
        )
    if not addresses:
        return None, [f"pid {pid} listens on no TCP address"], None
    schemes = ("https", "http") if http.tls_cert_file else ("http", "https")
    tried: list[str] = []
    refused: str | None = None
    for host, port in addresses:
        for scheme in schemes:
            where = url_at(scheme, host, port, "/status")
            status, problem = _status(http, where, deadline, pid, unverified)
            if status is not None and status.get("pid") == pid:
                return (where, status), tried, None
            tried.append(_short(problem) or f"{where} is pid {_pid_of(status)}")
            if refused is None and _credentials_refused(problem) and _listens_at(pid, where):
                refused = where
    return None, tried, refused


def _not_found(pid: int, problem: str, tried: list[str]) -> int:
    """Print that ``pid``'s ``/status`` is at neither the file's address nor where it
    listens; the exit code."""
    print(f"sensord: no daemon to reload (pid {pid}): {_short(problem)}", file=sys.stderr)
    print(
        f"sensord: pid {pid} is a sensord run, but its /status could not be read where it "
        "listens either (the file's [http] TLS or credentials may not be those it runs "
        "with); it is not signalled:",
        file=sys.stderr,
    )
    for line in tried:
        print(f"  {line}", file=sys.stderr)
    print(
        "sensord: restart it to apply the file (systemctl restart sensord)",
        file=sys.stderr,
    )
    return EXIT_NO_DAEMON


def _short(problem: str) -> str:
    """``problem`` without the hint a refused connection gets (where to look for the daemon):
    for an address where the daemon was looked for already."""
    return problem.removesuffix(f" ({NOT_LISTENING_HINT})")


def _pid_of(status: dict[str, Any] | None) -> object:
    return None if status is None else status.get("pid")


def _base(status_url: str) -> str:
    """The daemon's address in its ``/status`` URL."""
    return status_url.removesuffix("/status")


def _outcome(status: dict[str, Any], pid: int, *, moved: bool = False) -> int:
    """Print the last reload's outcome from ``status`` (``moved``: read at the address the
    reload moved the daemon to); the exit code."""
    sensors = status.get("sensors")
    count = len(sensors) if isinstance(sensors, dict) else 0
    if status.get("config_last_reload_successful") is True:
        where = "; it serves at the file's [http] address" if moved else ""
        print(
            f"sensord: configuration reloaded (pid {pid}, {status.get('config')}): "
            f"{count} sensor{'s' if count != 1 else ''}{where}"
        )
        changed = _changed_sensors(status.get("config_last_reload_sensors"))
        if changed:
            print(f"sensord: {changed}")
        standing_in = _simulated_devices(sensors if isinstance(sensors, dict) else {})
        if standing_in:
            print(
                f"sensord: note: {', '.join(standing_in)}: a simulation, not the device, gives "
                'the readings while the device path is absent (simulate = "auto"); a port '
                f"mistyped in the file reads so: sensord check {status.get('config')} names it",
                file=sys.stderr,
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


def _changed_sensors(applied: object) -> str:
    """The sensors whose edit the reload applied, from ``/status``
    ``config_last_reload_sensors``: ``updated in place (port kept open): a, b; restarted
    (port opened again): c``; "" when it changed none (but added or removed some)."""
    if not isinstance(applied, dict):
        return ""
    parts = []
    for key, what in (
        ("updated", "updated in place (port kept open)"),
        ("restarted", "restarted (port opened again)"),
    ):
        names = applied.get(key)
        if isinstance(names, list) and names:
            parts.append(f"{what}: {', '.join(str(name) for name in names)}")
    return "; ".join(parts)


def _simulated_devices(sensors: dict[str, Any]) -> list[str]:
    """The sensors of ``/status`` whose readings a simulation gives in place of a device path
    absent when they started (``NAME (PATH)``): after a reload that changed a port, its new
    path mistyped, the sensor publishes simulated readings, not its device's. A path that is
    there is none of them: ``simulate = "always"`` simulates a device present, and under
    ``"auto"`` the daemon reads the device once it finds the path."""
    return [
        f"{name} ({port})"
        for name, sensor in sorted(sensors.items())
        if isinstance(sensor, dict)
        and sensor.get("simulated") is True
        and (port := str(sensor.get("port", ""))).startswith("/")
        and not os.path.exists(port)
    ]


def _tell_certificate(http: HttpConfig, target: str, deadline: float) -> None:
    """Tell whether the daemon at ``target`` serves a certificate that verifies against
    ``tls_cert_file`` after the reload: read once more, as the reads before may have met the
    listener the reload replaced. Nothing when the file's ``[http]`` has no TLS."""
    if http.tls_cert_file is None:
        return
    _, problem = fetch(http, target, timeout_s=max(0.1, deadline - time.monotonic()))
    if certificate_refused(problem):
        print(
            f"sensord: the daemon still serves a certificate that does not verify against "
            f"[http] tls_cert_file {http.tls_cert_file}: clients that trust only the file's "
            "reject it",
            file=sys.stderr,
        )
    elif not problem:
        print(
            f"sensord: note: the daemon serves the certificate of [http] tls_cert_file "
            f"{http.tls_cert_file} now",
            file=sys.stderr,
        )


def _status(
    http: HttpConfig,
    target: str,
    deadline: float,
    served_by: int | None = None,
    unverified: set[str] | None = None,
) -> tuple[dict[str, Any] | None, str]:
    """``/status`` as a dict, or (None, why not), waiting until ``deadline`` at most (and a
    tenth of a second at least). A certificate that does not verify against the file's is
    trusted when ``target`` is a loopback address process ``served_by`` listens on; such a read
    is noted in ``unverified`` (and a verified one removes ``target`` from it)."""
    body, problem = fetch(http, target, timeout_s=max(0.1, deadline - time.monotonic()))
    trusted = False
    if (
        problem
        and served_by is not None
        and certificate_refused(problem)
        and _listens_at(served_by, target)
    ):
        timeout_s = max(0.1, deadline - time.monotonic())
        body, problem = fetch(http, target, timeout_s=timeout_s, trust_served=True)
        trusted = True
    if problem:
        return None, problem
    if unverified is not None:
        if trusted:
            unverified.add(target)
        else:
            unverified.discard(target)
    try:
        data = json.loads(body)
    except ValueError:
        data = None
    if not isinstance(data, dict) or not isinstance(data.get("sensors"), dict):
        return None, f"{target}: not sensord's /status"
    return data, ""


def _listens_at(pid: int, target: str) -> bool:
    """Whether ``target``'s host is a loopback address on which process ``pid`` listens at
    ``target``'s port (on that address or on every address)."""
    parts = urllib.parse.urlsplit(target)
    try:
        host = ipaddress.ip_address(parts.hostname or "")
        port = parts.port
        addresses = listening_addresses(pid)
    except (ValueError, OSError):
        return False
    if not host.is_loopback:
        return False
    wildcard = "::" if host.version == 6 else "0.0.0.0"
    return any(
        listening_port == port and listening in (str(host), wildcard, "::")
        for listening, listening_port in addresses
    )


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
