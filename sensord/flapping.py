"""Why a sensor's state flaps: its changes, and the downs among them.

A sensor's state lines (``sensord.sensor``) are each change, or once a minute while the
state flaps (``log.StateChanges``). As it begins to flap, the warning that says so tells
why (``StateFlapping.hint``): a port that keeps breaking, a network connection that keeps
being ended (one that never brings a frame, of a device that streams over a connection of
its own), or a device whose frames pause around ``stale_after_s``.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from sensord.log import StateChanges

__all__ = [
    "FLAPPING_CHANGES_PER_DOWN",
    "FLAPPING_CONNECTION_HINT",
    "FLAPPING_FRAMES_HINT",
    "FLAPPING_PORT_HINT",
    "FLAPPING_SILENT_CONNECTION_HINT",
    "StateFlapping",
]

#: A flapping sensor whose port went down at one state change in this many, or more often,
#: within the changes' detection time flaps with its port (up, stale and down again and
#: again: an adapter that drops off while its device is silent), not for its device's
#: pauses around ``stale_after_s`` (up and stale), whatever change made it flap.
FLAPPING_CHANGES_PER_DOWN = 4

#: Why a sensor's port keeps going down and coming back (logged when its state flaps).
FLAPPING_PORT_HINT = (
    "the port keeps breaking and opening again: a loose cable or connector, a failing USB "
    "adapter or hub, or a power supply that sags (the kernel log, journalctl -k, shows the "
    "USB disconnects); sensord_serial_reconnects_total counts them"
)

#: Why a sensor's network connection keeps breaking and being opened again (logged when its
#: state flaps; a ``socket://``, ``rfc2217://`` or ``modbus-tcp://`` port has no cable or USB
#: adapter of its own to blame).
FLAPPING_CONNECTION_HINT = (
    "the connection keeps breaking and opening again: the gateway or serial server ends it "
    "(one that serves a single client drops this one whenever another connects: a second "
    "sensord, a SCADA system or a configuration tool polling it, or another port of this "
    "configuration that names it otherwise, its host name and its address; one with an "
    "inactivity timeout ends each connection that carried nothing for that long: set it "
    "above the device's longest pause between frames, or off), it restarts, or the network "
    "between drops it; sensord_serial_reconnects_total counts them"
)

#: Why a sensor's network connection keeps breaking and being opened again with no frame
#: between the breaks (logged when its state flaps): a server whose inactivity timeout is
#: shorter than ``stale_after_s`` ends each connection its silent device leaves idle before
#: that connection is stale_after_s old, and one that refuses the reconnect for a moment
#: after each close takes the sensor down then; it flaps until ``stale_after_s`` has passed
#: since the first of them opened, and is stale from then on (see ``SensorRuntime.opened``).
FLAPPING_SILENT_CONNECTION_HINT = (
    "the connection keeps breaking and opening again, and none of the connections brought a "
    "frame: a serial server with an inactivity timeout shorter than stale_after_s ends each "
    "connection before the sensor goes stale and refuses the reconnect for a moment, and "
    "the device behind it sends nothing (check its power, its wiring to the server's serial "
    "port and the server's serial settings); or the server ends each connection before the "
    "device sends (one that serves a single client, held by another; its restarts); "
    "sensord_serial_reconnects_total counts them"
)

#: Why a sensor keeps going stale and up again (logged when its state flaps).
FLAPPING_FRAMES_HINT = (
    "the device's frames come with pauses around its stale time ({stale_after_s} s): set "
    "stale_after_s above its longest pause, or find out why it pauses"
)


class StateFlapping:
    """A sensor's state changes (``changes``: each logged, or once a minute while they flap)
    and when it went down (its port lost or not opened) within the changes' detection time,
    with the frames counted then: a flapping sensor that went down at one change in
    :data:`FLAPPING_CHANGES_PER_DOWN` or more often flaps with its port (``hint``)."""

    __slots__ = ("_downs", "changes")

    def __init__(self, clock: Callable[[], float]) -> None:
        self.changes = StateChanges(clock=clock)
        self._downs: deque[tuple[float, int]] = deque()

    def change(self, state: str, at: float, frames: int) -> tuple[int | None, bool]:
        """The state changed to ``state`` at ``at``, with ``frames`` counted then:
        ``(held, began)``, ``held`` as ``StateChanges.change`` gives it (None: the line is
        held back), ``began``: the state begins to flap with this change."""
        changes = self.changes
        flapping = changes.flapping
        held = changes.change()
        downs = self._downs
        if state == "down":
            downs.append((at, frames))
        while downs and downs[0][0] <= at - changes.detect_s:
            downs.popleft()
        return held, changes.flapping and not flapping

    def hint(self, *, stale_after_s: float, network: bool, streams_alone: bool, frames: int) -> str:
        """Why the sensor's state flaps, as it begins to: its port, when it went down at one
        change in :data:`FLAPPING_CHANGES_PER_DOWN` or more often (a port that breaks
        between pauses, an adapter that drops off while its device is silent, flaps through
        stale too, at any change; one lost once, a first open before the server was up,
        leaves the device's pauses to blame); on a ``network`` port its connection, and, for
        a device that streams over a connection of its own (``streams_alone``: idle but for
        what it sends) with no frame since the first of those downs (``frames`` now), a
        connection that never brings one."""
        downs = self._downs
        if FLAPPING_CHANGES_PER_DOWN * len(downs) < self.changes.burst + 1:
            return FLAPPING_FRAMES_HINT.format(stale_after_s=stale_after_s)
        if not network:
            return FLAPPING_PORT_HINT
        if streams_alone and frames == downs[0][1]:
            return FLAPPING_SILENT_CONNECTION_HINT
        return FLAPPING_CONNECTION_HINT
