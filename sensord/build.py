"""The sensord installed on disk, against the one this process runs.

``scripts/install`` (pip) replaces the package's files while the daemon keeps running. The
process keeps the code it imported at its start, but whatever it imports or starts later comes
from the new files: pymodbus and sensord's Modbus modules, imported when a reload adds the
first Modbus device, a protocol's module (``sensord.formats``), imported by the first sensor
of its format, and every worker process that the ``--workers`` primary starts after a worker
exits. A new worker under an old primary places the sensors by the new version's rules while
the primary routes by the old ones: sensors read twice or by nobody, with nothing in the logs.

A :class:`Build` is what pip installed for sensord and its runtime dependencies: each one's
version and a digest of its ``RECORD`` (pip's list of the files it installed with their
hashes), so a reinstall of the same version with other files differs too. It is read at the
start (:class:`BuildWatch`) and again, from a handful of small files, before a reload and
before a worker starts; a difference means the process must be restarted, never mixed.
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import metadata

__all__ = ["DISTRIBUTION", "RESTART_COMMAND", "Build", "BuildWatch", "installed_build"]

#: The distribution this process runs.
DISTRIBUTION = "sensord"
#: What the operator runs to load the installed package.
RESTART_COMMAND = "systemctl restart sensord"
#: The name at the start of a requirement (``pymodbus<3.17,>=3.16.1`` -> ``pymodbus``).
_REQUIREMENT_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
#: The version of a distribution that is not installed.
ABSENT = "absent"


@dataclass(frozen=True)
class Build:
    """Distribution name -> version, and one digest of their installed files."""

    versions: Mapping[str, str]
    digest: str

    @property
    def version(self) -> str:
        """sensord's version."""
        return self.versions.get(DISTRIBUTION, ABSENT)

    def describe(self) -> str:
        """``sensord 0.2.0, pymodbus 3.16.1, ...``"""
        return ", ".join(f"{name} {version}" for name, version in self.versions.items())

    def changes(self, installed: Build) -> dict[str, str]:
        """The distributions whose version differs in ``installed``: name -> ``old -> new``."""
        names = dict.fromkeys([*self.versions, *installed.versions])
        return {
            name: f"{self.versions.get(name, ABSENT)} -> {installed.versions.get(name, ABSENT)}"
            for name in names
            if self.versions.get(name) != installed.versions.get(name)
        }

    def restart_message(self, installed: Build) -> str:
        """The line that tells the operator why and how to restart (``self`` runs)."""
        if installed.version != self.version:
            what = f"sensord {installed.version} on disk differs from the running {self.version}"
        elif installed.versions != self.versions:
            changed = ", ".join(
                f"{name} {version}"
                for name, version in installed.versions.items()
                if self.versions.get(name) != version
            )
            what = f"sensord {self.version} on disk now runs with {changed}"
        else:
            what = f"sensord {self.version} was reinstalled with other files"
        return f"{what}: restart it: {RESTART_COMMAND}"


def _record_text(dist: metadata.Distribution) -> str:
    return dist.read_text("RECORD") or dist.read_text("METADATA") or ""


def _requirements(dist: metadata.Distribution) -> list[str]:
    """The names of ``dist``'s runtime requirements (no extras), in its metadata's order."""
    names: list[str] = []
    for requirement in dist.requires or ():
        _, _, marker = requirement.partition(";")
        if "extra" in marker:
            continue
        match = _REQUIREMENT_NAME.match(requirement)
        if match and match.group() not in names:
            names.append(match.group())
    return names


def _search_path() -> list[str]:
    """``sys.path`` without the current directory, which ``python -m sensord`` (a worker, as
    the primary starts it) puts first and the ``sensord`` console script does not: a source
    tree holds the ``sensord.egg-info`` that building it in place leaves, and the primary and
    its workers would each find another distribution there."""
    try:
        here = os.getcwd()
    except OSError:  # the directory was removed
        here = ""
    return [entry for entry in sys.path if entry and os.path.abspath(entry) != here]


def _find(name: str, path: list[str] | None) -> metadata.Distribution | None:
    search = _search_path() if path is None else path
    return next(iter(metadata.distributions(name=name, path=search)), None)


def installed_build(name: str = DISTRIBUTION, path: list[str] | None = None) -> Build:
    """The build of ``name`` and its runtime requirements as installed now, found on ``path``
    (default ``sys.path``) as ``importlib.metadata`` finds them: the first of each name. One
    that is missing (pip is between removing the old files and writing the new ones) reads
    as ``absent``."""
    digest = hashlib.sha256()
    versions: dict[str, str] = {}
    main = _find(name, path)
    names = [name, *(_requirements(main) if main is not None else ())]
    for dist_name in names:
        dist = main if dist_name == name else _find(dist_name, path)
        if dist is None:
            versions[dist_name] = ABSENT
            digest.update(f"{dist_name}\0{ABSENT}\0".encode())
            continue
        version = dist.version
        versions[dist_name] = version
        digest.update(f"{dist_name}\0{version}\0{_record_text(dist)}\0".encode())
    return Build(versions=versions, digest=digest.hexdigest())


#: How old the build that ``/metrics`` and ``/status`` show may be: reading it costs a few
#: milliseconds (the distributions' metadata found on the path, their file lists hashed), too
#: much for every scrape; a reload and a worker's start read it afresh.
SHOWN_MAX_AGE_S = 60.0


class BuildWatch:
    """The build read when the process started (``running``) and the one on disk now."""

    def __init__(
        self,
        read: Callable[[], Build] = installed_build,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._read = read
        self._clock = clock
        self.running = read()
        #: the build last read from disk, and when
        self._shown = (self.running, clock())

    def installed(self) -> Build:
        """The build on disk now (a few small files read)."""
        build = self._read()
        self._shown = (build, self._clock())
        return build

    def shown(self) -> Build:
        """The build on disk as read at most :data:`SHOWN_MAX_AGE_S` ago (for ``/metrics``
        and ``/status``, which are asked often)."""
        build, at = self._shown
        if self._clock() - at >= SHOWN_MAX_AGE_S:
            return self.installed()
        return build

    def differs(self) -> Build | None:
        """The build on disk when it is not the running one, else None."""
        installed = self.installed()
        return None if installed.digest == self.running.digest else installed
