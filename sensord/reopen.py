"""When a port that failed is tried again, and which of its failed opens are logged.

A sensor's own port (``sensord.sensor``) and a bus's (``sensord.bus``) share these: the
watch of a device path while its port waits for its backoff (``ReopenWatch``: tried within
:data:`DEVICE_WATCH_S` of the path's return), how long a port lasts before it proves itself
(:data:`PROVEN_AFTER_S`), and the failed opens, logged when their error is news, else at
doubling intervals (``OpenFailures``).
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable

from sensord.address import PortAddress
from sensord.errors import SourceError
from sensord.log import RepeatedError
from sensord.retry import Retry

__all__ = [
    "DEVICE_WATCH_S",
    "PROVEN_AFTER_S",
    "OpenFailures",
    "ReopenWatch",
    "as_source_error",
    "device_absent",
    "device_file",
]

#: A port that breaks sooner than this after it opened, and before it gave a reading, did not
#: prove itself: its reopen backoff goes on growing instead of starting over at the initial
#: delay (a serial server that accepts and hangs up at once, a device that fails right after
#: every open), so a flapping port is not reopened and logged twice a second for ever.
PROVEN_AFTER_S = 30.0

#: How often the daemon looks for the device path of a sensor simulated because that path
#: was absent at start (gpsd reopens a lost device every 2 s): an adapter that enumerates
#: after sensord started (a USB hub slow at boot, one plugged in later) is read from then on.
#: A port whose device path is gone (unplugged, its by-id link removed) is tried again within
#: as long at most, whatever its backoff: a try at a path that is not there costs a stat and
#: a listing of its directory, and a device back from a hub's brown-out is read within this
#: of its return (``ReopenWatch``).
DEVICE_WATCH_S = 2.0


def device_absent(address: PortAddress) -> bool:
    """Whether ``address`` is a device path that does not exist now (an adapter unplugged,
    its by-id link removed)."""
    return address.is_device and device_file(address) is None


def device_file(address: PortAddress) -> tuple[int, int] | None:
    """The file the device path ``address`` leads to now, as ``(st_dev, st_ino)``: a node
    the kernel makes anew (an adapter replugged, as the same ttyUSBn or another) is another
    file. None when the path does not lead to one (gone, a dangling link, its directory
    gone)."""
    try:
        found = os.stat(address.text)
    except OSError:
        return None
    return found.st_dev, found.st_ino


class ReopenWatch:
    """When the port on a device path is opened again after a failure, beyond its backoff.

    While the path is gone the next try is within :data:`DEVICE_WATCH_S`. A USB adapter's
    port hangs up before its node and udev's by-id link are removed, so a port lost with its
    path still there may be one whose device is going: its backoff holds, and the path is
    looked at every :data:`DEVICE_WATCH_S` meanwhile (a stat): once it is gone or leads to
    another file (the device back already), the port is tried then. A path that stays as it
    was (a device that hangs up or refuses with its node in place) waits for its backoff. A
    try asked for before its look, or after its time was moved (a device added to the bus
    opens it at once), is a try."""

    __slots__ = ("_address", "_held_until", "_look_at", "_seen", "absent")

    def __init__(self, address: PortAddress) -> None:
        self._address = address
        #: the file the path led to at the last failure
        self._seen: tuple[int, int] | None = None
        #: when the backoff of the last failure ends while the path is looked at, and when
        #: the next look is due; -inf: none
        self._held_until = -math.inf
        self._look_at = -math.inf
        #: whether the path was gone at the last failure
        self.absent = False

    def failed(self, retry: Retry, now: float) -> float:
        """Count a failure at ``now`` in ``retry`` and schedule the next try (the next look
        while the backoff holds): the backoff's delay, ``DEVICE_WATCH_S`` at most while the
        path is gone."""
        self._held_until = -math.inf
        if not self._address.is_device:
            self.absent = False
            return retry.failed(now)
        seen = self._seen = device_file(self._address)
        self.absent = seen is None
        delay = retry.failed(now, DEVICE_WATCH_S if self.absent else math.inf)
        if not self.absent and delay > DEVICE_WATCH_S:
            self._held_until = now + delay
            self._look_at = retry.next_at = now + DEVICE_WATCH_S
        return delay

    def held(self, retry: Retry, now: float) -> bool:
        """At a try at ``now``: True, with the next look scheduled in ``retry``, when it is
        the look ``retry`` was scheduled for, the backoff holds, and the path leads to the
        file it led to at the failure."""
        if retry.next_at != self._look_at or not self._look_at <= now < self._held_until:
            return False
        if device_file(self._address) != self._seen:
            return False
        self._look_at = retry.next_at = min(self._held_until, now + DEVICE_WATCH_S)
        return True

    def replaced(self) -> bool:
        """Whether the path, there at the last failure, leads to another file now: the
        device was replugged since, its path gone for a moment between two looks."""
        seen = self._seen
        return seen is not None and device_file(self._address) not in (None, seen)


def as_source_error(sensor: str, exc: Exception) -> SourceError:
    """``exc`` itself when it is a SourceError; otherwise one that describes it, so that an
    unexpected failure while opening one sensor's port is retried like any other."""
    if isinstance(exc, SourceError):
        return exc
    return SourceError(sensor, f"opening failed unexpectedly: {exc!r}")


class OpenFailures:
    """The failed opens of one port: which are logged, and the text that stands for each.

    A failure is logged when its error's ``summary`` was not seen since the port was last
    open, otherwise at doubling intervals (``log.RepeatedError``). Only a logged failure asks
    for the error's full message, which may take a search of ``/proc`` (the processes holding
    the port); a failure held back reuses the full message of the last logged one with the
    same summary (what ``/status`` shows as ``last_error``), or shows the summary."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._repeated = RepeatedError(clock=clock)
        #: summary -> full message, for the last few summaries logged
        self._texts: dict[str, str] = {}
        #: the summaries logged while the sensor's state flaps (``news_while_flapping``)
        self._flapping_told: set[str] = set()

    def failed(self, exc: SourceError) -> tuple[int | None, str]:
        """``(held, text)``: ``held`` is None when the failure is not to be logged, else how
        many were held back since the last one logged; ``text`` is its message."""
        held = self._repeated.check(exc.summary)
        if held is None and not exc.described:
            return None, self._texts.get(exc.summary, exc.summary)
        text = str(exc)
        self._texts.pop(exc.summary, None)
        self._texts[exc.summary] = text
        if len(self._texts) > RepeatedError.MAX_TEXTS:
            del self._texts[next(iter(self._texts))]
        return held, text

    def hung_up(self, text: str) -> int | None:
        """A connection the server ended at once (``text``), as good as a refused open: None
        when it is not to be logged, else how many failures were held back since the last
        one logged (as for ``failed``)."""
        return self._repeated.check(text)

    def reset(self) -> None:
        """The port opened: the next failure is news."""
        self._repeated.reset()
        self._texts.clear()

    def news_while_flapping(self, exc: SourceError) -> bool:
        """While the sensor's state flaps, its failed opens are held back with its changes,
        but for one whose error this flapping has not shown (a port that keeps dropping off,
        then is held by another process): True for it, once (at most ``MAX_TEXTS`` of them)."""
        told = self._flapping_told
        if exc.summary in told or len(told) >= RepeatedError.MAX_TEXTS:
            return False
        told.add(exc.summary)
        return True

    def flapping_over(self) -> None:
        """The sensor's state keeps one again: the errors of its next flapping are news."""
        self._flapping_told.clear()
