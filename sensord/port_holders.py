"""The processes that hold a device open or locked, and the one listening on a TCP port.

Everything here reads ``/proc``: a process's open files (``/proc/PID/fd``, only those of the
processes this user may inspect), the lock table (``/proc/locks``, every process's), the
listening sockets (``/proc/net/tcp``, ``tcp6``) and a unit's control group in
``/sys/fs/cgroup``; nothing is written and no device is opened. ``sensord check`` and a port
that fails to open name the holders of a busy device (``find_holders``, ``search_holders``,
``lock_holders``, ``contending_holders``) with what to do about a program known to take serial
ports (``holder_hint``); the reader searches for the holders of every port due at once, a
slice a tick (``HolderScan``, ``sensord.shared_port``), and a getty's unit by its control
group (``getty_unit``); the service names the program on its HTTP port (``tcp_listeners``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass

__all__ = [
    "CGROUP_ROOT",
    "Holder",
    "HolderScan",
    "contending_holders",
    "find_holders",
    "getty_unit",
    "holder_hint",
    "lock_holders",
    "search_holders",
    "tcp_listeners",
]

_COMMAND_MAX_CHARS = 60


@dataclass(frozen=True, slots=True)
class Holder:
    """A process that has a device open (``locked``: it also holds a file lock on it)."""

    pid: int
    command: str
    locked: bool = False

    def __str__(self) -> str:
        return f"pid {self.pid} ({self.command})"


def _command_of(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            raw = f.read(4096)
    except OSError:
        raw = b""
    text = " ".join(raw.replace(b"\0", b" ").decode(errors="replace").split())
    if not text:
        try:
            with open(f"/proc/{pid}/comm", encoding="utf-8", errors="replace") as f:
                text = f.read().strip()
        except OSError:
            text = "?"
    if len(text) > _COMMAND_MAX_CHARS:
        text = text[: _COMMAND_MAX_CHARS - 3] + "..."
    return text


#: What keeps a program known to take serial ports off one, by its process name: a serial
#: console's getty (``{name}``: the device's), ModemManager, brltty and gpsd.
_HOLDER_HINTS = {
    "getty": "a login prompt (getty) runs on it: turn it off (sudo systemctl disable --now "
    "serial-getty@{name}.service; on a Raspberry Pi, raspi-config, Interface Options, Serial "
    "Port: no login shell)",
    "ModemManager": "ModemManager probes a USB serial device for up to 30 s after it is "
    'plugged in: a udev rule with ENV{{ID_MM_DEVICE_IGNORE}}="1" keeps it off the device',
    "brltty": "brltty takes USB serial adapters (a CH340, a CP210x) for braille displays: "
    "remove it (sudo apt remove brltty) where no braille display is used",
    "gpsd": "gpsd reads it: stop it (sudo systemctl disable --now gpsd.socket gpsd.service), "
    "or take the device out of its DEVICES and its USB hotplug (USBAUTO) in /etc/default/gpsd",
}


def holder_hint(holders: Iterable[Holder], real_path: str) -> str:
    """``; WHAT TO DO`` about the first of ``holders`` that is a program known to take serial
    ports (:data:`_HOLDER_HINTS`, by the process name the kernel keeps: a getty's ends in
    ``getty``), for the device ``real_path``; "" when none is."""
    for holder in holders:
        try:
            with open(f"/proc/{holder.pid}/comm", encoding="utf-8", errors="replace") as f:
                program = f.read().strip()
        except OSError:
            continue
        key = "getty" if program.endswith("getty") else program
        if key in _HOLDER_HINTS:
            return "; " + _HOLDER_HINTS[key].format(name=os.path.basename(real_path))
    return ""


def _open_files() -> Iterator[tuple[int, str]]:
    """``(pid, fd)`` of every open file of the processes this user may inspect, one process
    after the other (``/proc/PID/fd/FD``)."""
    try:
        entries = os.listdir("/proc")
    except OSError:
        return
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            fds = os.listdir(f"/proc/{entry}/fd")
        except OSError:
            continue
        for fd in fds:
            yield int(entry), fd


def _pids_with_open(
    real_path: str, stop_at: float | None = None, clock: Callable[[], float] = time.monotonic
) -> tuple[set[int], bool]:
    """Pids whose ``/proc/PID/fd`` has a link to ``real_path`` (only processes we may
    inspect), and whether every open file was examined: with ``stop_at``, the search ends
    when ``clock()`` reaches it (each file costs a ``readlink``, 16 µs or so: a host with
    20,000 open files takes a third of a second)."""
    pids: set[int] = set()
    for pid, fd in _open_files():
        if stop_at is not None and clock() >= stop_at:
            return pids, False
        if pid in pids:
            continue
        try:
            if os.readlink(f"/proc/{pid}/fd/{fd}") == real_path:
                pids.add(pid)
        except OSError:
            continue
    return pids, True


def _pids_with_lock(real_path: str) -> set[int]:
    """Pids holding a lock on ``real_path`` according to ``/proc/locks`` (readable by anyone)."""
    pids: set[int] = set()
    try:
        st = os.stat(real_path)
        with open("/proc/locks", encoding="ascii", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return pids
    key = f"{os.major(st.st_dev):02x}:{os.minor(st.st_dev):02x}:{st.st_ino}"
    for line in lines:
        # "1: FLOCK  ADVISORY  WRITE 5138 00:1a:3 0 EOF"; waiters carry "->" after the id.
        parts = line.split()
        if len(parts) < 6 or parts[1] == "->":
            continue
        if parts[5] == key and parts[4].lstrip("-").isdigit():
            pid = int(parts[4])
            if pid > 0:
                pids.add(pid)
    return pids


#: A listening socket's state in ``/proc/net/tcp`` (``TCP_LISTEN``).
_TCP_LISTEN = "0A"


def tcp_listeners(port: int) -> list[Holder]:
    """The processes (this user may inspect) with a socket listening on TCP ``port`` of any
    address of this network namespace: the listening sockets' inodes in ``/proc/net/tcp``
    and ``tcp6``, found among the processes' descriptors; for the HTTP port another program
    took."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table, encoding="ascii") as f:
                lines = f.read().splitlines()[1:]
        except OSError:  # a kernel without IPv6
            continue
        for line in lines:
            # sl local_address rem_address st ... inode: the address and port in hex
            fields = line.split()
            listening = len(fields) >= 10 and fields[3] == _TCP_LISTEN
            if listening and int(fields[1].rpartition(":")[2], 16) == port:
                inodes.add(f"socket:[{fields[9]}]")
    pids: set[int] = set()
    if inodes:
        for pid, fd in _open_files():
            if pid in pids:
                continue
            try:
                if os.readlink(f"/proc/{pid}/fd/{fd}") in inodes:
                    pids.add(pid)
            except OSError:
                continue
    return [Holder(pid, _command_of(pid)) for pid in sorted(pids)]


def find_holders(path: str, *, include_self: bool = False) -> list[Holder]:
    """Processes that have ``path`` (resolved through links) open or locked, sorted by pid.

    Open files are found by scanning ``/proc/*/fd``, which shows only the processes this user
    may inspect; file locks come from ``/proc/locks``, which shows every process. The calling
    process is left out unless ``include_self``.
    """
    return search_holders(path, include_self=include_self)[0]


def search_holders(
    path: str,
    *,
    include_self: bool = False,
    time_limit_s: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[list[Holder], bool]:
    """:func:`find_holders`, with the scan of every process's open files ended after
    ``time_limit_s`` (None: no limit); the flag is False when it was ended (then holders
    with the file open but not locked may be missing)."""
    real = os.path.realpath(path)
    stop_at = None if time_limit_s is None else clock() + time_limit_s
    with_open, complete = _pids_with_open(real, stop_at, clock)
    with_lock = _pids_with_lock(real)
    me = os.getpid()
    holders = [
        Holder(pid, _command_of(pid), pid in with_lock)
        for pid in sorted(with_open | with_lock)
        if include_self or pid != me
    ]
    return holders, complete


class HolderScan:
    """One search of every process's open files (``/proc/*/fd``, the processes this user may
    inspect) for the holders of several devices at once, run in slices (``step``) so that no
    call takes longer than it is given: a housekeeping tick of the reader's runs one slice.
    The programs that play a pseudo-terminal's device (they hold its master, found by the
    ``tty-index`` of their ``/dev/ptmx`` descriptor) are noted for ``holders`` to leave out."""

    def __init__(self, paths: Iterable[str]) -> None:
        #: the devices' real paths, and the pids found with each open
        self._open: dict[str, set[int]] = {path: set() for path in paths}
        #: the pseudo-terminals among them by index, and their players' pids
        self._ptys = {
            path.removeprefix("/dev/pts/"): path
            for path in self._open
            if path.startswith("/dev/pts/") and path.removeprefix("/dev/pts/").isdigit()
        }
        self._players: dict[str, set[int]] = {path: set() for path in self._ptys.values()}
        self._walk = _open_files()
        self.done = False

    @property
    def paths(self) -> frozenset[str]:
        return frozenset(self._open)

    def step(self, time_limit_s: float, clock: Callable[[], float] = time.monotonic) -> bool:
        """Search on for at most ``time_limit_s`` (after one file at least); True once every
        open file was examined."""
        if self.done:
            return True
        stop_at = clock() + time_limit_s
        for pid, fd in self._walk:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                target = ""
            found = self._open.get(target)
            if found is not None:
                found.add(pid)
            elif self._ptys and target.endswith("/ptmx"):
                self._note_player(pid, fd)
            if clock() >= stop_at:
                return False
        self.done = True
        return True

    def _note_player(self, pid: int, fd: str) -> None:
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}", encoding="ascii", errors="replace") as f:
                info = f.read()
        except OSError:
            return
        for line in info.splitlines():
            key, _, value = line.partition(":")
            if key == "tty-index" and value.strip() in self._ptys:
                self._players[self._ptys[value.strip()]].add(pid)

    def holders(self, path: str) -> list[Holder]:
        """The processes but this one that hold ``path`` (one of the scan's), open or locked
        (``/proc/locks``, read now), sorted by pid; a pseudo-terminal's player only when it
        locks the device."""
        locked = _pids_with_lock(path)
        players = self._players.get(path, set())
        me = os.getpid()
        return [
            Holder(pid, _command_of(pid), pid in locked)
            for pid in sorted(self._open.get(path, set()) | locked)
            if pid != me and (pid not in players or pid in locked)
        ]


#: Where the control groups are mounted (``unified`` and ``systemd`` below it on a host of
#: the hybrid layout).
CGROUP_ROOT = "/sys/fs/cgroup"

#: The systemd units that run a login prompt on a device, with the slice each runs in.
_GETTY_UNITS = (
    ("system-serial\\x2dgetty.slice", "serial-getty@{name}.service"),
    ("system-getty.slice", "getty@{name}.service"),
)


def getty_unit(real_path: str, cgroup_root: str = CGROUP_ROOT) -> str | None:
    """The systemd unit that runs a login prompt (getty) on the device ``real_path`` now
    (``serial-getty@ttyAMA0.service``), or None: read from the unit's control group, which
    every user may read, where the getty's process itself runs as root and is hidden from the
    service's user (``ProtectProc=invisible``)."""
    name = os.path.basename(real_path)
    for hierarchy in ("", "unified", "systemd"):
        for slice_name, unit_name in _GETTY_UNITS:
            unit = unit_name.format(name=name)
            procs = os.path.join(cgroup_root, hierarchy, "system.slice", slice_name, unit)
            try:
                with open(os.path.join(procs, "cgroup.procs"), encoding="ascii") as f:
                    running = bool(f.read().split())
            except OSError:
                continue
            if running:
                return unit
    return None


def lock_holders(path: str) -> list[Holder]:
    """Processes holding a file lock on ``path`` (resolved through links), this one
    included, sorted by pid: ``/proc/locks`` alone, one short read, where
    :func:`find_holders` examines every open file of every process."""
    return [
        Holder(pid, _command_of(pid), True)
        for pid in sorted(_pids_with_lock(os.path.realpath(path)))
    ]


def contending_holders(real_path: str, everyone: list[Holder] | None = None) -> list[Holder]:
    """The processes but this one that hold the device ``real_path`` (of ``everyone``, its
    holders when already found), leaving out the program that plays a pseudo-terminal's
    device (it holds the master, and may hold the slave too) unless it locks the slave."""
    if everyone is None:
        everyone = find_holders(real_path, include_self=True)
    me = os.getpid()
    players = _pty_masters(real_path)
    return [h for h in everyone if h.pid != me and (h.pid not in players or h.locked)]


def _pty_masters(real_path: str) -> set[int]:
    """Pids that hold the master side of the pseudo-terminal ``real_path`` (``/dev/pts/N``):
    the program playing the device (``sensord simulate``, socat, a test harness), whose own
    hold on the slave side is no conflict. Empty for any other path."""
    prefix = "/dev/pts/"
    index = real_path.removeprefix(prefix)
    if not real_path.startswith(prefix) or not index.isdigit():
        return set()
    pids: set[int] = set()
    for pid, fd in _open_files():
        if pid in pids:
            continue
        # the multiplexer by its device number, however it was opened (/dev/ptmx, or
        # /dev/pts/ptmx where /dev/ptmx is a link to it, as in containers)
        try:
            if os.stat(f"/proc/{pid}/fd/{fd}").st_rdev != _PTMX:
                continue
            with open(f"/proc/{pid}/fdinfo/{fd}", encoding="ascii", errors="replace") as f:
                info = f.read()
        except OSError:
            continue
        if f"tty-index:\t{index}\n" in info:
            pids.add(pid)
    return pids


#: The device number of the pseudo-terminal multiplexer (/dev/ptmx: character 5, 2).
_PTMX = os.makedev(5, 2)
