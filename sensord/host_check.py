"""What ``sensord check`` finds on the host beside the devices: settings that validate and
then fail when the daemon runs them here.

* ``[http] listen`` an address this host does not have (now): ``sensord run`` exits 3, and
  under ``Restart=on-failure`` retries until the address comes up (a DHCP lease at boot);
* ``[capture] directory`` that cannot be written (a read-only or immutable directory, or one
  outside what the installed unit's ``ProtectSystem=strict`` leaves writable): SIGUSR1 writes
  nothing;
* a device the installed unit's ``DeviceAllow=`` does not name (see :mod:`sensord.unit_file`):
  its open is refused under the service.

Each is a warning: the file may be meant for another host or another time (the address up
later, the directory made by the install), so none of them fails the check.
"""

from __future__ import annotations

import errno
import os
import socket
import stat
import tempfile

from sensord.config import Config
from sensord.port_access import (
    SERVICE_USER,
    as_service_user,
    char_device_groups,
    group_name,
    user_name,
)
from sensord.unit_file import UnitSandbox

__all__ = ["capture_directory_warning", "listen_warning", "unit_device_warning"]

#: Addresses every host has: what binds them is told by the daemon itself (a port in use).
_ANY = {"", "0.0.0.0", "::", "*"}


def listen_warning(listen: str) -> str | None:
    """Why ``[http] listen`` cannot be served on this host now, or None. Each address the name
    gives is bound at an ephemeral port and let go, as the server would bind it."""
    if listen in _ANY:
        return None
    try:
        infos = socket.getaddrinfo(listen, 0, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        return (
            f"http.listen {listen!r} does not resolve here ({exc.strerror}): sensord run "
            "cannot serve /metrics until it does"
        )
    refused: list[str] = []
    for family, kind, proto, _, address in infos:
        try:
            probe = socket.socket(family, kind, proto)
        except OSError:  # a family this host has not (IPv6 on a host booted without it)
            refused.append(str(address[0]))
            continue
        with probe:
            try:
                probe.bind((address[0], 0, *address[2:]))
            except OSError as exc:
                if exc.errno != errno.EADDRNOTAVAIL:
                    return None  # bindable in principle; the daemon tells its own error
                refused.append(str(address[0]))
                continue
            return None
    resolved = sorted(set(refused))
    shown = repr(listen) if resolved == [listen] else f"{listen!r} ({', '.join(resolved)})"
    return (
        f"http.listen {shown} is no address of this host now: sensord run exits 3 until it "
        "is (under systemd it is restarted and serves once the address is up, such as a DHCP "
        "lease at boot); use the host's address, "
        "127.0.0.1, or 0.0.0.0 for every address"
    )


def capture_directory_warning(
    config: Config, unit: UnitSandbox | None, service_user: str = SERVICE_USER
) -> str | None:
    """Why SIGUSR1 could not write into ``[capture] directory``, or None (also when it is
    not set). Tried as this process: a file made and removed in the directory, or, when it
    does not exist yet, its nearest existing parent writable (SIGUSR1 creates it); run as
    root, as the service's ``service_user`` too (:func:`sensord.port_access.as_service_user`);
    and against the installed unit's ``ProtectSystem=``."""
    directory = config.capture.directory
    if directory is None:
        return None
    path = os.path.realpath(directory)
    problem = _write_problem(str(directory), path)
    if (
        problem is None
        and as_service_user(lambda: _write_problem("", path) is None, service_user) is False
    ):
        st = os.stat(path if os.path.exists(path) else _existing_parent(path))
        problem = (
            f"capture.directory {str(directory)!r} cannot be written by user {service_user}, "
            f"whom the service runs as ({user_name(st.st_uid)}:{group_name(st.st_gid)} "
            f"{stat.filemode(st.st_mode)}), though root may: SIGUSR1 would write no capture; "
            f"use /var/lib/sensord/captures, or give the directory to {service_user}"
        )
    if unit is not None and unit.refuses_writes(path):
        return (
            f"capture.directory {str(directory)!r} is read-only under {unit.path} "
            f"(ProtectSystem={unit.protect_system}): SIGUSR1 would write no capture; use a "
            "directory under /var/lib/sensord (its StateDirectory=), such as "
            "/var/lib/sensord/captures, or add ReadWritePaths= with 'systemctl edit sensord'"
        )
    return problem


def _existing_parent(path: str) -> str:
    parent = os.path.dirname(path)
    while parent != "/" and not os.path.exists(parent):
        parent = os.path.dirname(parent)
    return parent


def _write_problem(directory: str, path: str) -> str | None:
    """Why this process could not write a capture into ``path`` (resolved; ``directory`` as
    configured), or None."""
    if os.path.isdir(path):
        try:
            with tempfile.TemporaryFile(dir=path):
                pass
        except OSError as exc:
            return (
                f"capture.directory {directory!r} cannot be written ({exc.strerror}): "
                "SIGUSR1 would write no capture"
            )
        return None
    if os.path.exists(path):
        return f"capture.directory {directory!r} is not a directory"
    parent = _existing_parent(path)
    if not os.access(parent, os.W_OK | os.X_OK):
        return (
            f"capture.directory {directory!r} does not exist and {parent} cannot be "
            "written to create it: SIGUSR1 would write no capture"
        )
    return None


def unit_device_warning(unit: UnitSandbox, name: str, port: str) -> str | None:
    """Why the installed unit's device policy refuses sensor ``name``'s device ``port``, or
    None (also for a path that is no character device)."""
    real = os.path.realpath(port)
    try:
        st = os.stat(real)
    except OSError:
        return None
    if not stat.S_ISCHR(st.st_mode):
        return None
    groups = char_device_groups(os.major(st.st_rdev))
    if not unit.refuses_device(real, groups):
        return None
    allow = " ".join(f"DeviceAllow=char-{group} rw" for group in groups) or (
        f"DeviceAllow={real} rw"
    )
    shown = f"{port} ({real})" if real != port else port
    named = f"device group {', '.join(groups)}" if groups else "its device"
    return (
        f"device {name}: {shown}, {named}, is not among the devices {unit.path} lets "
        f"sensord open (its DeviceAllow= lines): under the service its open is refused; add "
        f"{allow} with 'systemctl edit sensord' and restart it"
    )
