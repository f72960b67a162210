"""Another process reading a port the daemon has open.

A process that has a serial port open without a lock (a serial console's getty on
``/dev/ttyAMA0`` or ``/dev/ttyS0``, a terminal program) does not stop the daemon's open:
``serial.exclusive`` keeps out the opens that come after the daemon's, not one made before
it, nor root's. The kernel then hands each byte to whichever of the two reads first, so the
sensor's frames go missing or come cut, and the other process may set the port's line
settings under the daemon's (a getty restarted sets its own baud rate). ``sensord check``
names such a holder; the daemon looks once per open of a device port:

* :data:`FIRST_SEARCH_S` after the port's first open in the run (a getty that runs from
  boot; a program that opens a new port for a moment as it appears, ModemManager probing a
  USB adapter, has let it go by then, and the daemon's start is over), and
* at the first sign of trouble after any open: the sensor goes stale, or a frame is rejected
  as damaged (a process that opened the port between two opens of the daemon's); on a
  Modbus bus, a device goes stale, or an answer comes damaged or cut off, or not at all.

The search of every process's open files costs about 16 µs a file, a third of a second on a
host with 20,000 open files: the reader runs it in slices of :data:`SCAN_SLICE_S` in its
housekeeping ticks, one search for every port due at once (:class:`SharedPortScan`), never on
the reading path. A getty's unit is found from its control group as well
(:func:`sensord.port_holders.getty_unit`), which the service's user may read where the getty's
process is hidden from it. What is found is a warning in the log (``port shared with another
process``), naming the holders (pid and command) and how to keep them off the port, and a hint
in ``/status`` (and ``sensord_port_shared``) while it stands. A port whose hint stands is
searched again every :data:`RECHECK_S` (it joins any search that starts before then, so the
flagged ports cost one search a period together): once nobody else has it open (the getty
disabled, the terminal program closed), the hint is cleared, with one info line (``port no
longer shared``), without a reopen. Ports that were never found shared are not searched again.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable, Iterable

import structlog
from structlog.typing import FilteringBoundLogger

from sensord.log import RateLimiter
from sensord.port_holders import CGROUP_ROOT, Holder, HolderScan, getty_unit, holder_hint
from sensord.sources.base import Source
from sensord.sources.serial_port import SerialSource

__all__ = [
    "FIRST_SEARCH_S",
    "RECHECK_S",
    "SCAN_SLICE_S",
    "SharedPortScan",
    "SharedPortWatch",
    "shared_port_text",
]

log = structlog.get_logger("sensord.shared_port")

#: The longest one housekeeping tick spends on the search of open files.
SCAN_SLICE_S = 0.02

#: Seconds between two searches of a port found shared, to see whether the other process is
#: gone (read when a :class:`SharedPortScan` is made).
RECHECK_S = 60.0

#: Seconds from a port's first open in the run, or from its open after that while that search
#: has not run, to that search, unless trouble calls it earlier (read when a
#: :class:`SharedPortScan` is made).
FIRST_SEARCH_S = 60.0


def shared_port_text(
    display: str,
    real_path: str,
    holders: list[Holder],
    unit: str | None,
    *,
    exclusive: bool,
    bus: bool = False,
) -> str:
    """The warning's text: who else has the port ``display`` (the device ``real_path``) open
    (``holders``; ``unit``: the getty unit that runs on it), what that does to the sensor's
    data (``bus``: to the answers of a Modbus bus's devices), and how to stop it."""
    if holders:
        who = ", ".join(str(h) for h in holders)
        if unit is not None:
            who += f" (and {unit})"
    else:
        who = f"{unit}, a login prompt"
    if unit is not None:
        fix = (
            f"; a login prompt runs on it: turn it off (sudo systemctl disable --now {unit}; "
            "on a Raspberry Pi, raspi-config, Interface Options, Serial Port: no login shell)"
        )
    else:
        fix = holder_hint(holders, real_path) or (
            "; stop that process, or have it use another port"
        )
    late = (
        " (serial.exclusive keeps out the opens after sensord's, not one made before it, nor "
        "root's)"
        if exclusive
        else ""
    )
    lost = "the answers of the bus's devices" if bus else "this sensor's frames"
    return (
        f"{display} is open in another process too: {who}; the kernel hands each byte to "
        f"whichever process reads first, so {lost} go missing or come cut, and that process "
        f"may change the port's line settings{late}{fix}"
    )


class SharedPortWatch:
    """Whether another process has the device port of one sensor (or one Modbus bus) open:
    due once after the port's first open and at the first trouble after each open
    (:meth:`trouble`), and again every so often while it is found shared (:meth:`found`'s
    ``recheck_at``); searched by :class:`SharedPortScan`. What is found is kept on the source
    (``SerialSource.shared_hint``), so it goes with the open it was found in."""

    __slots__ = (
        "_bus",
        "_checked",
        "_due",
        "_ever_opened",
        "_first",
        "_first_at",
        "_log",
        "_path",
        "_recheck_at",
        "_scanning",
        "_source",
    )

    def __init__(self, logger: FilteringBoundLogger, *, bus: bool = False) -> None:
        self._log = logger
        #: the port of a Modbus bus (its devices' answers are what is lost), not a sensor's
        self._bus = bus
        #: the open device port watched (None: no device port open)
        self._source: SerialSource | None = None
        self._path = ""
        #: the search of this open was done (or is under way)
        self._checked = False
        self._due = False
        self._ever_opened = False
        #: the search after the port's first open in the run has not run yet; it is due at
        #: ``_first_at`` (inf until :meth:`due` first looks in an open)
        self._first = False
        self._first_at = math.inf
        #: the source a search under way was started for
        self._scanning: SerialSource | None = None
        #: when the port found shared is searched again (inf: never)
        self._recheck_at = math.inf

    def opened(self, source: Source) -> None:
        """``source`` opened: watched when it is a device (a pseudo-terminal too); its search
        is due a while after the first device open of the run (:data:`FIRST_SEARCH_S`), or
        after this open while that search has not run."""
        self._checked = False
        self._scanning = None
        self._recheck_at = math.inf
        self._due = False
        self._first_at = math.inf
        if not isinstance(source, SerialSource) or not source.is_device:
            self._source = None
            return
        self._source = source
        self._path = source.resolved_path or os.path.realpath(source.url)
        if not self._ever_opened:
            self._first = True
        self._ever_opened = True

    @property
    def watching(self) -> bool:
        """A device port is open and not searched yet in this open: :meth:`trouble` counts."""
        return self._source is not None and not self._checked

    def trouble(self) -> None:
        """The port gives trouble (stale, a damaged frame): due unless searched in this open.
        Cheap: called at every tick of a sensor in trouble."""
        if not self._checked and self._source is not None:
            self._due = True

    def due(self, now: float, *, joining: bool = False, first_wait_s: float = 0.0) -> str | None:
        """The real path of the port when a search of it is due at ``now`` (it is then under
        way until :meth:`found`), else None: the search of this open at trouble, or
        ``first_wait_s`` after the first look in the open while the search after the port's
        first open has not run, or the next look at a port found shared; with ``joining`` (a
        search starts for other ports) a port found shared, or waiting for that first search,
        at once, whatever its time."""
        source = self._source
        if source is None or not source.is_open or self._scanning is not None:
            return None
        if not self._checked and (
            self._due or (joining and self._first) or self._first_due(now, first_wait_s)
        ):
            self._due = self._first = False
        elif source.shared_hint is None or not (joining or now >= self._recheck_at):
            return None
        self._checked = True
        self._scanning = source
        return self._path

    def _first_due(self, now: float, wait_s: float) -> bool:
        """Whether the search after the port's first open in the run is due at ``now``:
        ``wait_s`` after the first look in this open."""
        if not self._first:
            return False
        if self._first_at == math.inf:
            self._first_at = now + wait_s
        return now >= self._first_at

    def found(self, holders: list[Holder], unit: str | None, recheck_at: float) -> None:
        """The search started by :meth:`due` found ``holders`` and the getty ``unit`` (None:
        none) on the port: a warning and a hint when either is there (the port is then
        searched again at ``recheck_at``), nothing when the port closed meanwhile. A port
        found shared before and alone now has its hint cleared, with an info line."""
        source, self._scanning = self._scanning, None
        if source is None or source is not self._source or not source.is_open:
            return
        if not holders and unit is None:
            if source.shared_hint is not None:
                source.shared_hint = None
                self._recheck_at = math.inf
                self._log.info("port no longer shared", port=source.display)
            return
        text = shared_port_text(
            source.display,
            self._path,
            holders,
            unit,
            exclusive=source.settings.exclusive,
            bus=self._bus,
        )
        self._recheck_at = recheck_at
        told = source.shared_hint is not None
        source.shared_hint = text  # the holders of now, when another took the place of one
        if told:
            return
        self._log.warning(
            "port shared with another process",
            port=source.display,
            holders=[str(h) for h in holders],
            unit=unit,
            error=text,
        )

    def given_up(self) -> None:
        """The search under way failed: this open's port is not searched again (its hint, if
        one stands, stays)."""
        self._scanning = None
        self._recheck_at = math.inf


class SharedPortScan:
    """The reader's search for the ports due (:meth:`SharedPortWatch.due`): one search of
    every process's open files for all of them, run a slice of ``slice_s`` at each
    :meth:`step` (a housekeeping tick); the ports that come due meanwhile wait for the next.
    A search that starts takes along every port found shared, due or not, each then searched
    again ``recheck_s`` after it ends, and every port whose search after its first open
    (``first_search_s`` after it) has not run."""

    def __init__(
        self,
        *,
        slice_s: float = SCAN_SLICE_S,
        clock: Callable[[], float] = time.monotonic,
        cgroup_root: str = CGROUP_ROOT,
        recheck_s: float | None = None,
        first_search_s: float | None = None,
    ) -> None:
        self._slice_s = slice_s
        self._clock = clock
        self._cgroup_root = cgroup_root
        self._recheck_s = RECHECK_S if recheck_s is None else recheck_s
        self._first_s = FIRST_SEARCH_S if first_search_s is None else first_search_s
        self._scan: HolderScan | None = None
        self._watches: dict[str, list[SharedPortWatch]] = {}
        #: a failed search is logged at most once a minute: one that fails at every open
        #: of a port that is opened again and again (a flapping adapter) fails alike
        self._failures = RateLimiter(60.0, clock)

    @property
    def running(self) -> bool:
        return self._scan is not None

    def step(self, watches: Iterable[SharedPortWatch]) -> None:
        """Start a search when none is under way and a port of ``watches`` is due; search on
        for one slice; hand each watch what was found once the search is done. A search that
        fails is logged (at most once a minute, with a ``suppressed`` count) and given up (its
        ports are not searched again in their open): the reader loop it runs in goes on."""
        try:
            self._step(watches)
        except Exception:
            paths = sorted(self._watches)
            for waiting in self._watches.values():
                for watch in waiting:
                    watch.given_up()
            self._scan, self._watches = None, {}
            held = self._failures.check("search")
            if held is not None:
                log.exception(
                    "search for other processes on the ports failed",
                    ports=paths,
                    hint="a bug: the ports are read as before, not searched again until they "
                    "are opened again; report it with this traceback",
                    suppressed=held,
                )

    def _step(self, watches: Iterable[SharedPortWatch]) -> None:
        if self._scan is None:
            now = self._clock()
            due: dict[str, list[SharedPortWatch]] = {}
            idle: list[SharedPortWatch] = []
            for watch in watches:
                path = watch.due(now, first_wait_s=self._first_s)
                if path is not None:
                    due.setdefault(path, []).append(watch)
                else:
                    idle.append(watch)
            if not due:
                return
            self._watches = due  # before anything that may fail, for step's given_up
            for watch in idle:  # found shared, or not searched yet: the walk costs the same
                path = watch.due(now, joining=True)
                if path is not None:
                    due.setdefault(path, []).append(watch)
            self._scan = HolderScan(due)
        if not self._scan.step(self._slice_s, self._clock):
            return
        recheck_at = self._clock() + self._recheck_s
        for path, waiting in self._watches.items():
            holders = self._scan.holders(path)
            unit = getty_unit(path, self._cgroup_root)
            for watch in waiting:
                watch.found(holders, unit, recheck_at)
        self._scan, self._watches = None, {}
