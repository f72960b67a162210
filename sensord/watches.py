"""What a sensor that is up tells its operator of its channels: the channels every reading of
which the filter drops, and those that have had no value.

A sensor that is up, its frames coming, may still publish nothing for a channel: its filter
drops every reading (``filter.min``/``max`` against another unit or range than the
device's, or a device that reports a fault value), or no frame carries its field.
``FilterWatch`` lists and logs the first kind (the ``/status`` hint names them),
``UnreadWatch`` logs the second once. The sensor (``sensord.sensor``) asks them at its
housekeeping and ticks, never per chunk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Protocol

from structlog.typing import FilteringBoundLogger

from sensord.log import RepeatedError

if TYPE_CHECKING:
    from sensord.config_tables import ChannelConfig
    from sensord.pipeline import Chain

__all__ = [
    "FILTERED_HINT",
    "UNREAD_AFTER_S",
    "UNREAD_FRAMES",
    "FilterWatch",
    "UnreadWatch",
    "WatchedChannel",
]

#: What a channel whose every reading its filter drops says to check (``FilterWatch``).
FILTERED_HINT = (
    "check its filter.min and filter.max against the values the device sends (in the "
    "device's units, before normalize), and the device for a fault value"
)

#: How long a sensor publishes (up, past its warm-up), with at least :data:`UNREAD_FRAMES`
#: frames, before a channel that has had no value yet is logged (``UnreadWatch``): long
#: enough for a message a device sends every few minutes.
UNREAD_AFTER_S = 300.0
UNREAD_FRAMES = 10


class WatchedChannel(Protocol):
    """A sensor's channel as the watches read it (``SensorRuntime``'s ``ChannelRuntime``)."""

    @property
    def name(self) -> str: ...

    @property
    def chain(self) -> Chain: ...

    @property
    def unavailable_at(self) -> int: ...


class FilterWatch:
    """Per channel, its filter's readings in and out when they last changed or the sensor
    came up, and since when (``_marks``): a channel whose readings come and are every one
    dropped by its filter for ``stale_after`` is told of. ``filtered``: those channels, with
    the readings their filter dropped meanwhile and for how long (the ``/status`` hint)."""

    __slots__ = ("_log", "_logged", "_marks", "_told", "filtered")

    def __init__(self, log: FilteringBoundLogger, clock: Callable[[], float]) -> None:
        self._log = log
        self._marks: dict[str, tuple[int, int, float]] = {}
        self.filtered: dict[str, tuple[int, float]] = {}
        self._told = RepeatedError(clock=clock)
        #: those of them whose warning was logged: the end of their spell is logged too
        self._logged: set[str] = set()

    def check(
        self, now: float, up: bool, channels: Iterable[WatchedChannel], stale_after_s: float
    ) -> None:
        """Up, readings coming, and for ``stale_after_s`` every one of a channel's dropped by
        its filter (``filter.min``/``max`` against another unit or range than the device's,
        or a device that reports a fault value): the channel is listed for the hint and
        logged (the first of a spell, then at intervals that double to an hour), and the end
        of a spell so logged, ``readings again``."""
        marks, filtered = self._marks, self.filtered
        if not up:
            marks.clear()
            filtered.clear()
            self._logged.clear()
            return
        for ch in channels:
            stages = ch.chain.stages
            if not stages or stages[0].step != "filter":
                continue
            first = stages[0]
            taken, passed = first.records_in, first.records_out
            mark = marks.get(ch.name)
            if mark is None or passed != mark[1]:
                marks[ch.name] = (taken, passed, now)
                spell = filtered.pop(ch.name, None)
                if spell is not None and mark is not None and ch.name in self._logged:
                    self._logged.discard(ch.name)
                    self._log.info(
                        "readings again",
                        channel=ch.name,
                        after="no reading: every reading dropped by the filter",
                        for_s=round(now - mark[2]),
                    )
                continue
            dropped = taken - mark[0]
            if not dropped or now - mark[2] <= stale_after_s:
                continue
            told = ch.name in filtered
            filtered[ch.name] = (dropped, now - mark[2])
            if not told:
                held = self._told.check(ch.name)
                if held is not None:
                    self._logged.add(ch.name)
                    self._log.warning(
                        "no reading: every reading dropped by the filter",
                        channel=ch.name,
                        dropped=dropped,
                        for_s=round(now - mark[2], 1),
                        hint=FILTERED_HINT,
                        **({"suppressed": held} if held else {}),
                    )

    def forget(self, name: str) -> None:
        """The channel ``name``'s chain was replaced or removed (``SensorRuntime.retune``)."""
        self._marks.pop(name, None)
        self.filtered.pop(name, None)
        self._logged.discard(name)


class UnreadWatch:
    """Since when the sensor has published with frames coming, and the frames then, and the
    channels logged as having had no value since (``check``); ``checked``: done for this
    spell of publishing."""

    __slots__ = ("_frames", "_log", "_sensor", "_since", "_told", "checked")

    def __init__(self, log: FilteringBoundLogger, sensor: str) -> None:
        self._log = log
        self._sensor = sensor
        self._since: float | None = None
        self._frames = 0
        self.checked = False
        self._told: set[str] = set()

    def check(
        self,
        now: float,
        publishing: bool,
        frames: int,
        channels: Iterable[WatchedChannel],
        configured: Sequence[ChannelConfig],
    ) -> None:
        """Housekeeping: the channels that have had no value in the :data:`UNREAD_AFTER_S`
        the sensor has published (``publishing``: up, past its warm-up) with frames coming
        (``frames`` so far), and that the device never marked as not measured, each logged
        once at info: no frame carries their field (a Belgian meter's gas on 0-1:24.2.3
        read as 0-1:24.2.1, a sentence the receiver does not send), or the message that does
        comes rarely or on an event (a rain summary), which is why it is no hint."""
        if not publishing:
            self._since, self.checked = None, False
            return
        if self._since is None:
            self._since, self._frames = now, frames
            return
        if now - self._since < UNREAD_AFTER_S or frames - self._frames < UNREAD_FRAMES:
            return
        self.checked = True  # once a spell of publishing: housekeeping stays idle
        unread = [
            ch.name
            for ch in channels
            if ch.unavailable_at < 0
            and ch.chain.stages[0].records_in == 0
            and ch.name not in self._told
        ]
        if not unread:
            return
        self._told.update(unread)
        fields = {c.name: c.source_field for c in configured}
        self._log.info(
            "channel has had no value",
            channels={name: fields.get(name, name) for name in unread},
            for_s=round(now - self._since),
            frames=frames - self._frames,
            hint="no frame carried a value for its field: the device sends no such field, "
            "sends it under another name, or sends it rarely or on an event; compare the "
            f"field with what it sends (sensord capture {self._sensor} -o FILE, then sensord "
            "capture --show FILE)",
        )

    def restart(self) -> None:
        """A channel was added: the channels are watched for a value as at a start."""
        self._since, self.checked = None, False

    def forget(self, name: str) -> None:
        """The channel ``name`` was removed."""
        self._told.discard(name)
