"""The sandbox of the installed ``sensord.service``, as ``sensord check`` judges a config by it.

Under the packaged unit the daemon may open only the character devices its ``DeviceAllow=``
lines name, besides the pseudo devices and pseudo-terminals (``DevicePolicy=closed``), and
write only where ``ProtectSystem=strict`` leaves it writable (its ``StateDirectory=``,
``ReadWritePaths=`` and the like). A config that names a device of another group (an RS-485
HAT's ``/dev/ttySC0``, an Exar adapter's ``ttyXRUSB0``) or a capture directory elsewhere
passes every other check, then fails once the service runs it:
the open is refused, the capture is not written. ``check`` reads the unit and its drop-ins
(:func:`read_unit`) and says so first.

Only what these two questions need is read: the ``[Service]`` section's ``DevicePolicy=``,
``DeviceAllow=``, ``ProtectSystem=``, ``ReadWritePaths=``, the ``*Directory=`` settings that
make a writable directory, and ``PrivateTmp=``. As systemd reads them, a later file overrides
an earlier one (drop-ins in name order after the unit, from every directory of units:
:data:`DROP_IN_ROOTS`), and an empty assignment of a list
setting clears what came before it; words are split at whitespace, a quoted one whole, and a
line that ends in a backslash goes on in the next.
"""

from __future__ import annotations

import fnmatch
import glob
import os
import shlex
from collections.abc import Sequence
from dataclasses import dataclass

__all__ = ["DROP_IN_ROOTS", "UNIT_PATH", "UnitSandbox", "read_unit"]

#: Where ``scripts/install`` puts the unit.
UNIT_PATH = "/etc/systemd/system/sensord.service"

#: The directories of system units whose ``sensord.service.d`` and ``service.d`` hold the
#: unit's drop-ins, the one of most weight first (systemd.unit(5)): ``systemctl
#: set-property`` writes under ``system.control``, ``systemctl edit`` under
#: ``/etc/systemd/system`` (``--runtime``: ``/run/systemd/system``), a package under
#: ``/usr/lib/systemd/system``.
DROP_IN_ROOTS = (
    "/etc/systemd/system.control",
    "/run/systemd/system.control",
    "/run/systemd/transient",
    "/etc/systemd/system",
    "/run/systemd/system",
    "/usr/local/lib/systemd/system",
    "/usr/lib/systemd/system",
    "/lib/systemd/system",
)

#: The ``*Directory=`` settings whose names systemd creates writable, under these roots.
_DIRECTORY_ROOTS = {
    "StateDirectory": "/var/lib",
    "CacheDirectory": "/var/cache",
    "LogsDirectory": "/var/log",
    "RuntimeDirectory": "/run",
}

#: What ``DevicePolicy=closed`` lets every unit open besides its ``DeviceAllow=`` lines, as
#: ``auto`` does once there are such lines (systemd's device cgroup program): the standard
#: pseudo devices, and read and write of the pseudo-terminals (``char-pts``), such as the pty
#: of a serial server (socat) or of ``sensord simulate --link``.
_PSEUDO_DEVICES = (
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
    "/dev/tty",
    "/dev/ptmx",
)
_PSEUDO_TERMINALS = "pts"

#: What ``ProtectSystem=`` makes read-only short of ``strict`` (everything); any spelling of
#: true is read as ``yes``.
_READ_ONLY = {
    "yes": ("/usr", "/boot", "/efi"),
    "full": ("/usr", "/boot", "/efi", "/etc"),
}


@dataclass(frozen=True)
class UnitSandbox:
    """What one unit (``path``, with its drop-ins) lets the service open and write."""

    path: str
    device_policy: str = "auto"
    #: ``DeviceAllow=`` specifiers with read and write access: ``char-ttyUSB`` or a path
    device_allow: tuple[str, ...] = ()
    protect_system: str = "no"
    #: the paths that stay writable under ``ProtectSystem=``
    writable: tuple[str, ...] = ()

    def refuses_device(self, path: str, groups: list[str]) -> bool:
        """Whether the unit's device policy refuses to open the character device ``path``
        (resolved), whose groups ``/proc/devices`` gives
        (``sensord.port_access.char_device_groups``)."""
        if self.device_policy == "auto" and not self.device_allow:
            return False
        if self.device_policy != "strict" and (
            path in _PSEUDO_DEVICES or _PSEUDO_TERMINALS in groups
        ):
            return False
        for allowed in self.device_allow:
            if allowed.startswith("char-"):
                pattern = allowed[len("char-") :]
                if any(fnmatch.fnmatchcase(group, pattern) for group in groups):
                    return False
            elif os.path.realpath(allowed) == path:
                return False
        return True

    def refuses_writes(self, path: str) -> bool:
        """Whether ``ProtectSystem=`` leaves ``path`` (absolute, resolved) read-only."""
        if any(_under(path, place) for place in self.writable):
            return False
        if self.protect_system == "strict":
            return not _under(path, "/dev") and not _under(path, "/proc")
        return any(_under(path, place) for place in _READ_ONLY.get(self.protect_system, ()))


def _under(path: str, place: str) -> bool:
    return path == place or path.startswith(place.rstrip("/") + "/")


def read_unit(
    path: str = UNIT_PATH, drop_in_roots: Sequence[str] | None = None
) -> UnitSandbox | None:
    """The sandbox of the unit at ``path`` and its drop-ins: the ``*.conf`` of its name's
    ``.d`` directory and of ``service.d`` under each of ``drop_in_roots`` (by default
    :data:`DROP_IN_ROOTS` for :data:`UNIT_PATH`, else the unit's own directory), read in the
    order of their names, of one name the one under the first root. None when there is no
    such unit (sensord not installed as a service here) or it cannot be read. A drop-in that
    cannot be read (a symlink left dangling) is passed over."""
    settings: dict[str, list[str]] = {}
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            _read_service_section(f.read(), settings)
    except OSError:
        return None
    if drop_in_roots is None:
        drop_in_roots = DROP_IN_ROOTS if path == UNIT_PATH else (os.path.dirname(path),)
    drop_ins: dict[str, str] = {}
    for root in drop_in_roots:
        for folder in (f"{os.path.basename(path)}.d", "service.d"):
            for name in glob.glob(os.path.join(glob.escape(root), folder, "*.conf")):
                drop_ins.setdefault(os.path.basename(name), name)
    for _, name in sorted(drop_ins.items()):
        try:
            with open(name, encoding="utf-8", errors="replace") as f:
                _read_service_section(f.read(), settings)
        except OSError:
            continue
    allow: list[str] = []
    for value in settings.get("DeviceAllow", []):
        # the specifier (unquoted), then its access after any whitespace
        words = _words(value)
        if not words or len(words) > 2:
            continue
        access = words[1] if len(words) == 2 else "rwm"
        if set(access) <= set("rwm") and "r" in access and "w" in access:
            allow.append(words[0])
    writable = [
        # a second name after a colon is a symlink the service manager makes to the first
        os.path.join(root, name)
        for key, root in _DIRECTORY_ROOTS.items()
        for value in settings.get(key, [])
        for entry in _words(value)
        for name in entry.split(":")[:2]
        if name
    ]
    for value in settings.get("ReadWritePaths", []):
        writable.extend(entry.lstrip("-+") for entry in _words(value))
    private_tmp = _last(settings, "PrivateTmp", "no").lower()
    if private_tmp in _TRUE or private_tmp == "disconnected":
        writable.extend(("/tmp", "/var/tmp"))
    protect_system = _last(settings, "ProtectSystem", "no").lower()
    if protect_system in _TRUE:
        protect_system = "yes"
    return UnitSandbox(
        path=path,
        device_policy=_last(settings, "DevicePolicy", "auto"),
        device_allow=tuple(allow),
        protect_system=protect_system,
        writable=tuple(os.path.realpath(place) for place in writable),
    )


#: The spellings of a true boolean setting (systemd's ``parse_boolean``, without case).
_TRUE = {"1", "yes", "y", "true", "t", "on"}


def _words(value: str) -> list[str]:
    """A setting's words as systemd splits them: at whitespace, a quoted word whole."""
    try:
        return shlex.split(value)
    except ValueError:  # a quote not closed: systemd ignores the line
        return []


def _last(settings: dict[str, list[str]], key: str, default: str) -> str:
    values = settings.get(key)
    return values[-1] if values else default


#: The settings read as lists: an empty assignment clears them.
_LISTS = {"DeviceAllow", "ReadWritePaths", *_DIRECTORY_ROOTS}


def _read_service_section(text: str, settings: dict[str, list[str]]) -> None:
    """Add the ``[Service]`` settings of one unit file's ``text`` to ``settings``: a line
    that ends in a backslash goes on in the next (the comment lines between left out)."""
    section = ""
    continued = ""
    for raw in text.splitlines():
        line = raw.strip()
        if line[:1] in ("#", ";") or (not line and not continued):
            continue  # a comment, also one between continued lines
        if line.endswith("\\"):
            continued += line[:-1] + " "
            continue
        line, continued = (continued + line).strip(), ""
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        if section != "Service" or "=" not in line:
            continue
        key, _, value = line.partition("=")
        key, value = key.strip(), value.strip()
        if key in _LISTS and not value:
            settings[key] = []
        else:
            settings.setdefault(key, []).append(value)
