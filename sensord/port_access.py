"""Whether a user may open a device, and what to do when it may not: this process's user
(``permission_hint``, for a port whose open was refused) and, for ``sudo sensord check``, the
service's (``SERVICE_USER`` with its ``SERVICE_GROUPS``, judged by the kernel in a child that
takes its ids: ``as_service_user``, ``service_access_problem``); a device policy that refuses
a device its mode allows (sensord.service's ``DeviceAllow=``, by the device groups
``/proc/devices`` names: ``char_device_groups``). Nothing is written and no device is opened
but by the service user's test.
"""

from __future__ import annotations

import contextlib
import grp
import os
import pwd
import stat
from collections.abc import Callable

__all__ = [
    "PROC_DEVICES",
    "SERVICE_GROUPS",
    "SERVICE_USER",
    "as_service_user",
    "can_read_write",
    "char_device_groups",
    "group_name",
    "permission_hint",
    "service_access_problem",
    "user_name",
]


def user_name(uid: int | None = None) -> str:
    """The name of user ``uid`` (default: the one this process runs as), else the number."""
    uid = os.geteuid() if uid is None else uid
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def group_name(gid: int) -> str:
    """The name of group ``gid``, else the number."""
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return str(gid)


#: The user sensord.service runs as, and its supplementary groups (systemd/sensord.service):
#: ``sudo sensord check`` judges a device's permissions for them, not for root.
SERVICE_USER = "sensord"
SERVICE_GROUPS = ("dialout",)


def as_service_user(test: Callable[[], bool], user: str = SERVICE_USER) -> bool | None:
    """Run as root (``sudo sensord check``): ``test`` as the service's ``user`` (with its
    groups and ``SERVICE_GROUPS``) would find it, in a child process that takes the user's
    ids, so the kernel judges it (ACLs and all); None when not run as root, when there is no
    such user (sensord not installed as a service here) or the test could not run."""
    if os.geteuid() != 0:
        return None
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        return None
    groups = set(os.getgrouplist(user, entry.pw_gid))
    for name in SERVICE_GROUPS:
        with contextlib.suppress(KeyError):
            groups.add(grp.getgrnam(name).gr_gid)
    pid = os.fork()
    if pid == 0:  # the child: never returns
        code = 2
        try:
            os.setgroups(sorted(groups))
            os.setgid(entry.pw_gid)
            os.setuid(entry.pw_uid)
            code = 0 if test() else 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    code = os.waitstatus_to_exitcode(status)
    return None if code not in (0, 1) else code == 0


def service_access_problem(path: str, user: str = SERVICE_USER) -> str | None:
    """Run as root (``sudo sensord check``, as the config is readable by root and the service
    only): why the service's ``user`` could not open the device ``path``, which root always
    can (:func:`as_service_user`); None when it can, when not run as root, or when there is
    no such user."""
    if as_service_user(lambda: can_read_write(path), user) is not False:
        return None
    st = os.stat(path)
    owner, group = user_name(st.st_uid), group_name(st.st_gid)
    return (
        f"user {user} (the service's, with groups {', '.join(SERVICE_GROUPS)}) may not read "
        f"and write it ({owner}:{group} {stat.filemode(st.st_mode)}); root may, which is who "
        f"runs this check: add {user} to group {group} (sudo usermod -aG {group} {user}) or "
        "give the device to dialout with a udev rule (systemd/99-sensord.rules)"
    )


#: Where the kernel lists its device groups by major number.
PROC_DEVICES = "/proc/devices"


def char_device_groups(major: int, proc_devices: str = PROC_DEVICES) -> list[str]:
    """The names ``/proc/devices`` gives character-device major number ``major`` (``ttyS``
    shares 4 with ``tty``), as systemd's ``DeviceAllow=char-NAME`` takes them; none when the
    file cannot be read."""
    names: list[str] = []
    try:
        with open(proc_devices, encoding="ascii", errors="replace") as f:
            in_char = False
            for line in f:
                if line.strip() == "Character devices:":
                    in_char = True
                elif not line.strip():
                    in_char = False
                elif in_char:
                    number, _, name = line.strip().partition(" ")
                    if number == str(major) and not name.startswith("/"):
                        names.append(name)
    except OSError:
        return []
    return names


def _policy_hint(path: str, st: os.stat_result, user: str) -> str:
    """The hint for a device whose mode lets ``user`` read and write it but whose open was
    refused all the same: a device policy, which under sensord.service is the unit's
    ``DeviceAllow=`` list."""
    groups = char_device_groups(os.major(st.st_rdev))
    allow = " ".join(f"DeviceAllow=char-{name} rw" for name in groups) or (f"DeviceAllow={path} rw")
    return (
        f"its mode lets user {user} read and write it, so a device policy refuses it: "
        "sensord.service allows only the device groups its DeviceAllow= lines name "
        f"(ttyUSB, ttyACM, ttyAMA, ttyS); for this one add {allow} "
        "with 'systemctl edit sensord' and restart it (else an AppArmor or SELinux policy)"
    )


def permission_hint(path: str) -> str:
    """Plain words on why this user cannot open ``path`` and how to fix it."""
    user = user_name()
    try:
        st = os.stat(path)
    except OSError:
        return (
            f"user {user} may not open it; serial devices usually belong to group dialout: "
            f"sudo usermod -aG dialout {user} (then log in again or restart the service)"
        )
    group, owner = group_name(st.st_gid), user_name(st.st_uid)
    if stat.S_ISCHR(st.st_mode) and can_read_write(path):
        return _policy_hint(path, st, user)
    mode = stat.filemode(st.st_mode)
    fix_group = "dialout" if group in ("root", "tty") or group.isdigit() else group
    return (
        f"user {user} may not read and write it (owner {owner}, group {group}, {mode}); "
        f"add the user to the group that owns the device, usually dialout: "
        f"sudo usermod -aG {fix_group} {user} (then log in again or restart the service)"
    )


def can_read_write(path: str) -> bool:
    """Whether this process may read and write ``path`` (by its effective ids where the
    system can tell by them)."""
    effective = os.access in os.supports_effective_ids
    return os.access(path, os.R_OK | os.W_OK, effective_ids=effective)
