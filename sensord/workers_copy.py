"""The workers' copy of the configuration (``sensord run --workers N``): the text the primary
validated last, which the workers start and reload from, never the file itself.

The copy sits in a private directory of the temporary directory (``COPY_PREFIX``, the
primary's pid and a random part; mode 0700, the file 0600, as it may hold ``[http]``'s
password): made as the primary starts (``make_copy_folder``, after ``remove_orphaned_copies``
removed those of primaries killed outright), written in one rename (``write_copy``), made
again at its own path when a cleanup of the temporary directory removed it
(``copy_path_again``), with the device paths the run read beside it for a reload
(``write_devices_read``), and removed as the primary stops (``remove_copy_folder``).
``sensord.workers.Primary`` says when.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Iterable
from pathlib import Path

import structlog

from sensord.shard import DEVICES_READ_FILE

__all__ = [
    "COPY_PREFIX",
    "copy_path_again",
    "make_copy_folder",
    "remove_copy_folder",
    "remove_orphaned_copies",
    "write_copy",
    "write_devices_read",
]

log = structlog.get_logger("sensord.workers")


#: The start of the name of the directory that holds the workers' copy of the configuration:
#: the primary's pid and a random part follow.
COPY_PREFIX = "sensord-workers-"


#: The copies' directories this process made (:func:`make_copy_folder`): one named for its
#: pid that it did not make is an earlier process's of that pid.
_MADE_HERE: set[str] = set()


def make_copy_folder(tmp: Path) -> Path:
    """A new directory for the workers' copy of the configuration in ``tmp`` (mode 0700),
    named for this process."""
    folder = Path(tempfile.mkdtemp(prefix=f"{COPY_PREFIX}{os.getpid()}-", dir=tmp))
    _MADE_HERE.add(str(folder))
    return folder


def remove_orphaned_copies(tmp: Path) -> list[Path]:
    """Remove the workers' copies of the configuration that primaries killed outright left in
    ``tmp`` (no cleanup ran): this user's directories named for a pid that no sensord runs
    as any more, or for this process's pid that it did not make (a container's primary has
    the same pid at each start). The copy holds the file's ``[http]`` password, if any. The
    removed ones."""
    pattern = re.compile(re.escape(COPY_PREFIX) + r"(\d+)-\w+")
    removed = []
    for entry in tmp.iterdir() if tmp.is_dir() else ():
        match = pattern.fullmatch(entry.name)
        if match is None:
            continue
        try:
            st = entry.lstat()
        except OSError:
            continue
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.geteuid():
            continue
        pid = int(match[1])
        if pid == os.getpid():
            if str(entry) in _MADE_HERE:
                continue
        elif _sensord_runs_as(pid):
            continue
        shutil.rmtree(entry, ignore_errors=True)
        removed.append(entry)
    if removed:
        log.info(
            "removed the configuration copies of primaries that were killed",
            directories=[str(p) for p in removed],
        )
    return removed


def _make_copy_folder_again(folder: Path) -> Path:
    """The directory of the workers' copy made again, after a cleanup of the temporary
    directory removed it: at its own path, which the running workers were started with and
    read again at a reload, unless something holds that name now (never taken over: another
    user may have made a directory of that name since), then a new one."""
    try:
        os.mkdir(folder, 0o700)
    except FileExistsError:
        return make_copy_folder(folder.parent)
    _MADE_HERE.add(str(folder))
    return folder


def _own_folder(folder: Path) -> bool:
    """Whether ``folder`` is there and is a directory of this user (the copy's, as made)."""
    try:
        st = os.lstat(folder)
    except FileNotFoundError:
        return False
    return stat.S_ISDIR(st.st_mode) and st.st_uid == os.geteuid()


def remove_copy_folder(folder: Path) -> None:
    """Remove the directory of the workers' copy this process made, as its primary stops."""
    shutil.rmtree(folder, ignore_errors=True)
    _MADE_HERE.discard(str(folder))


def _sensord_runs_as(pid: int) -> bool:
    """Whether process ``pid`` lives and is a sensord (a pid reused by another program is not)."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return b"sensord" in f.read()
    except OSError:
        return False


def write_copy(copy: Path, text: str) -> None:
    """Replace the workers' copy at ``copy`` with ``text``, in one rename: a worker that reads
    it meanwhile gets the old copy or the new one whole."""
    staging = copy.with_name(copy.name + ".new")
    # readable by this user only, as a file holding [http]'s password must be
    fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
    with open(fd, "w", encoding="utf-8") as out:
        out.write(text)
    staging.replace(copy)


def copy_path_again(copy: Path) -> Path:
    """Where the workers' copy at ``copy`` is written again, before a worker starts and at a
    reload: a cleanup of the temporary directory while the workers ran (systemd-tmpfiles ages
    /tmp's files, a service's ``PrivateTmp=`` ones too, 10 days on many distributions) may
    have removed it, or its directory, which is then made anew at its path (never taken over
    from whoever made one of its name since: a new one then)."""
    folder = copy.parent
    if not _own_folder(folder):
        _MADE_HERE.discard(str(folder))
        copy = _make_copy_folder_again(folder) / copy.name
        log.warning(
            "the workers' copy of the configuration was removed; written again",
            copy=str(copy),
            hint="a cleanup of old files in the temporary directory removed it",
        )
    return copy


def write_devices_read(copy: Path, devices: Iterable[str]) -> None:
    """Write the device paths the run has read (``devices``) beside the workers' copy at
    ``copy``, for the workers to read at the reload that follows (``DEVICES_READ_FILE``)."""
    path = copy.with_name(DEVICES_READ_FILE)
    staging = path.with_name(path.name + ".new")
    try:
        fd = os.open(staging, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, 0o600)
        with open(fd, "w", encoding="utf-8") as out:
            out.write(json.dumps(sorted(devices)))
        staging.replace(path)
    except OSError as exc:
        log.warning(
            "the device paths the run read could not be passed to the workers",
            path=str(path),
            error=repr(exc),
            hint="a sensor this reload moves to another worker reads a simulation while "
            'its device is unplugged (simulate = "auto")',
        )
