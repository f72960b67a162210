"""How a sensor's network connection ended, and what that makes of the opens after it.

A serial server in front of a device (``socket://``, ``rfc2217://``; not a bus's connection)
ends connections of its own: an inactivity timeout ends each one left idle, one that serves a
single client ends it when another connects, one that cannot reach its serial port accepts
and hangs up at once. ``ConnectionEnds`` keeps what the sensor (``sensord.sensor``) asks of
them: whether a connection that ends is reopened at once or at the backoff, whether it was
refused, whether a stale sensor stays stale across its reopen, and whether the connection
opened after a refusal has proven itself. ``SilentConnection`` keeps what the sensor's ticks
heard on a connection, for how long it has carried no byte, and the reopens in a row while
no frame comes (for that silence, or after the server ended the connection of a stale
sensor), which it logs.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from structlog.typing import FilteringBoundLogger

from sensord.errors import SourceError, SourceRefusedError
from sensord.log import RateLimiter, log_silent_reconnect

__all__ = [
    "ENDED_IDLE_HINT",
    "ENDED_UP_HINT",
    "HUNG_UP_AT_ONCE_S",
    "SERVED_LONG_S",
    "SILENT_REOPEN_STALE_FACTOR",
    "STALE_REOPEN_REFUSED_S",
    "ConnectionEnds",
    "SilentConnection",
]

#: A sensor on a network port (``socket://``, ``rfc2217://``) that is stale and whose
#: connection has carried no byte at all for this many times its ``stale_after`` has the
#: connection closed and opened again (see ``SensorRuntime._check_silence``): a serial server
#: that hangs while its kernel still acknowledges what is sent keeps the connection open and
#: silent for ever, and TCP keepalive cannot see it. Three times, so that a device that pauses
#: (stale for a while) is not reconnected at once; at the default ``stale_after`` (5 s) a
#: silent connection is opened again after 15 s, before keepalive would end a dead one (25 s).
SILENT_REOPEN_STALE_FACTOR = 3

#: Why no frame comes to a network sensor whose connection the serial server ended while the
#: sensor was stale, with no byte on it since it opened (``/status``
#: ``hint`` and the ``connection ended while stale`` warning; see ``SensorRuntime.disconnect``).
ENDED_IDLE_HINT = (
    "the serial server ended the connection, which brought no byte: a server with an "
    "inactivity timeout (a Moxa NPort's inactivity time) ends each connection left idle, "
    "and the device behind it sends nothing: check the device's power, its wiring to the "
    "server's serial port and the server's serial settings (baudrate, parity) against the "
    "device's"
)

#: Why the serial server ended the network connection of a sensor that is up (logged with
#: ``connection ended; reconnecting``; see ``SensorRuntime.disconnect``).
ENDED_UP_HINT = (
    "the serial server ended the connection: one with an inactivity timeout (a Moxa NPort's "
    "inactivity time) ends each connection that carried nothing for that long, and drops "
    "what the device sends until the new one is open: set it above the device's longest "
    "pause between frames, or off; one that serves a single client ends it whenever another "
    "connects; sensord_serial_reconnects_total counts them"
)

#: How long after its serial server ended the connection of a stale network sensor (or
#: sensord dropped it for its silence) a reopen that fails leaves the sensor stale (see
#: ``SensorRuntime.open_failed``): some servers refuse a new connection for a second or two
#: after they ended one (a Moxa NPort resets its serial port), and a dead device behind one
#: reads as stale across it, not down for a moment at each of its idle closes (which would
#: reset a stale alert's pending time). A server still refusing after this is gone: down;
#: and, after any connection's end, the open that follows such a refusal counts the sensor's
#: staleness afresh, not on from connections before (the server was away, see
#: ``SensorRuntime.opened``).
STALE_REOPEN_REFUSED_S = 10.0

#: A network connection that ends sooner than this after it opened, with no frame, was not
#: served: the server accepts and hangs up at once (a socat or ser2net that cannot open its
#: serial port, one that serves a single client held by another, an ssh or docker forward
#: whose far end is down), as good as a refusal (see ``SensorRuntime.disconnect``): its
#: reopen backoff grows, the staleness goes on across it only within
#: :data:`STALE_REOPEN_REFUSED_S` of the end of a connection the server served, and a sensor
#: it takes down stays down at the next open until that connection has lasted this long or
#: brought a frame. No inactivity timeout is this short: the connections such a timeout ends
#: are opened again at once, with no backoff.
HUNG_UP_AT_ONCE_S = 0.5

#: A network connection the server served (:data:`HUNG_UP_AT_ONCE_S` or longer) and ended
#: this long or longer after its open is opened again at once (see
#: ``SensorRuntime.disconnect``): an inactivity timeout ends connections after seconds to
#: minutes. One that ended sooner is opened again at once only while a frame came within
#: ``SILENT_REOPEN_STALE_FACTOR`` times ``stale_after_s`` (a device that sends between the
#: ends of a server with a sub-second inactivity time); else it waits the backoff, so a
#: server that hangs up just after HUNG_UP_AT_ONCE_S, with nothing behind it, is not
#: reconnected twice a second for ever.
SERVED_LONG_S = 2.0


class ConnectionEnds:
    """The ends of a sensor's connections, and what they make of the opens after them (see
    ``SensorRuntime.disconnect``, ``open_failed`` and ``opened``)."""

    __slots__ = ("closed_at", "hung_up", "kept_up", "proving", "reopening_stale", "server_away")

    def __init__(self) -> None:
        #: the port is being opened again while the sensor is stale (its connection was
        #: silent, or the server ended it): it stays stale until a frame comes; when a network
        #: connection that was served last ended (see :data:`STALE_REOPEN_REFUSED_S`); and
        #: whether an open failed that long after it, or a connection was not served
        #: (:data:`HUNG_UP_AT_ONCE_S`): the server was away, the next open counts staleness
        #: afresh (see ``SensorRuntime.opened``)
        self.reopening_stale = False
        self.closed_at = -math.inf
        self.server_away = False
        #: the last connection ended within :data:`HUNG_UP_AT_ONCE_S` of its open with no
        #: frame and took the sensor down (a refusal: see ``ended``); and, of the connection
        #: opened after it, whether it is to be stale when proven and the fields of that
        #: state line (None: not being proven): it stays down until it has lasted
        #: HUNG_UP_AT_ONCE_S or brought a frame (``SensorRuntime._proven``)
        self.hung_up = False
        self.proving: tuple[bool, dict[str, Any]] | None = None
        #: the sensor was kept up across its server's end of a served connection
        #: (``SensorRuntime._ended_up``): the open after it counts staleness on from the last
        #: frame
        self.kept_up = False

    def open_failed(self, now: float, exc: SourceError) -> bool:
        """An open failed at ``now`` with ``exc``: whether the sensor stays stale. A server
        that refuses for a moment after it ended the connection of a stale sensor: still
        stale, and still at the open that follows; one that refuses longer was away, and one
        that says why it refuses (its device is gone) is down at once."""
        moment = now - self.closed_at < STALE_REOPEN_REFUSED_S and not isinstance(
            exc, SourceRefusedError
        )
        refused_stale = self.reopening_stale and moment
        self.reopening_stale = refused_stale
        self.server_away = self.server_away or not moment
        return refused_stale

    def ended(
        self,
        now: float,
        lasted_s: float,
        *,
        network: bool,
        framed: bool,
        stale: bool,
        framed_lately: bool,
    ) -> tuple[bool, bool, bool]:
        """The connection ends at ``now``, ``lasted_s`` after its open: ``network``, an end
        the server made (a network port's, not a bus's, and not sensord's own failure);
        ``framed``, it brought a frame; ``stale``, the sensor is stale; ``framed_lately``,
        the connections have been without a frame for less than
        :data:`SILENT_REOPEN_STALE_FACTOR` times ``stale_after_s``. ``(refused,
        ended_stale, at_once)``: it ended within :data:`HUNG_UP_AT_ONCE_S` of its open with
        no frame (refused, as an open that fails); the sensor stays stale across the reopen
        (not after a refusal :data:`STALE_REOPEN_REFUSED_S` or longer after the last
        connection that was served ended); it is opened again at once, served and lasting
        :data:`SERVED_LONG_S` or framed lately."""
        refused = network and not framed and lasted_s < HUNG_UP_AT_ONCE_S
        ended_stale = (
            network and stale and not (refused and now - self.closed_at >= STALE_REOPEN_REFUSED_S)
        )
        served = network and lasted_s >= HUNG_UP_AT_ONCE_S
        at_once = served and (lasted_s >= SERVED_LONG_S or framed_lately)
        return refused, ended_stale, at_once

    def closed(
        self, now: float, *, refused: bool, ended_stale: bool, was_open: bool
    ) -> tuple[bool, dict[str, Any]] | None:
        """The connection ``ended`` judged is closed at ``now``: a refusal is as a refused
        open, the server away when it comes :data:`STALE_REOPEN_REFUSED_S` or longer after
        the last connection it served ended; any other end of an open port is the last
        served one's. The proving under way (None: none), which ends with it."""
        self.reopening_stale = False
        proving, self.proving = self.proving, None
        if refused:
            self.server_away = self.server_away or now - self.closed_at >= STALE_REOPEN_REFUSED_S
            self.hung_up = not ended_stale
        elif was_open:
            self.closed_at = now
        return proving


class SilentConnection:
    """What a sensor's ticks heard on its network connection (see
    ``SensorRuntime._check_silence``), and its reopens in a row while stale with no reading
    between them (the first of a spell is logged as a warning)."""

    __slots__ = ("_errors", "_heard_at", "_heard_bytes", "_log", "_spell", "logged")

    def __init__(self, log: FilteringBoundLogger, errors: RateLimiter, at: float) -> None:
        self._log = log
        self._errors = errors
        #: ``bytes_read`` when the silence was last checked, and when it last changed (or the
        #: port opened)
        self._heard_bytes = 0
        self._heard_at = at
        #: reopens in a row while stale (for silence, or after the server ended the
        #: connection) with no reading between them
        self._spell = 0
        #: the last such reopen was logged (its open is logged then too)
        self.logged = False

    def opened(self, bytes_read: int, now: float) -> None:
        """The port opened at ``now``, with ``bytes_read`` read by then."""
        self._heard_bytes = bytes_read
        self._heard_at = now

    def silent_for(
        self, now: float, bytes_read: int, delivered: Callable[[], bool]
    ) -> float | None:
        """How long the connection has carried no byte at ``now``, ``bytes_read`` read by
        then; None when bytes came since the last look, which ends the spell when the
        connection worked (``delivered``: it gave a reading since it opened)."""
        if bytes_read != self._heard_bytes:
            self._heard_bytes = bytes_read
            self._heard_at = now
            if delivered():  # this connection worked
                self._spell = 0
            return None
        return now - self._heard_at

    def reopened(self, hint: str | None, fields: dict[str, Any], *, why: str = "silent") -> int:
        """The connection is opened again while stale, for ``why`` (``log_silent_reconnect``:
        for its silence, or the server ended it): the spell's count, with it; logged with
        ``hint`` and ``fields`` as that spell's reopens are."""
        self._spell += 1
        self.logged = log_silent_reconnect(
            self._log, self._errors, self._spell, hint, fields, why=why
        )
        return self._spell
