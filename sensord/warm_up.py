"""A sensor's warm-up: until when the readings of a device just powered, restarted or woken are
read and not published (``warmup_s``), and the hold of the first answers of a run of a device
polled on a working period (``run_began``, an SDS011 in query mode).

``WarmUp`` keeps when the warm-up under way ends (``until``: the sensor compares each chunk's
time with it), whether the next open may find the device just powered (``may_be_cold``), and
what tells whether a silence warms up again (the readings taken and the time when the last
warm-up began, whether a silence began it). The sensor asks it at each open (``opened``), when
a reload replaces the sensor on the same port (``carry``), when the device may have been
powered or woken behind the open port (``again``), when a run of a polled device begins
(``run_began``), when the device is told on its working period (``on_working_period``) and at
its tick (``check``: a warm-up over is logged). It counts the frames read while warming up
(``frames``: whole frames that publish nothing prove a connection as readings do).

It reads its sensor (the configuration's ``warmup_s``, the open source, the readings taken so
far) only through ``WarmingSensor``, held weakly: a sensor removed at a reload is freed with its
last reference.
"""

from __future__ import annotations

import math
import weakref
from typing import Protocol

from structlog.typing import FilteringBoundLogger

from sensord.config_sensor import SensorConfig
from sensord.log import StateChanges
from sensord.sources.base import Source

__all__ = ["WarmUp", "WarmingSensor"]


class WarmingSensor(Protocol):
    """What ``WarmUp`` reads of its sensor (``SensorRuntime``)."""

    @property
    def config(self) -> SensorConfig:
        """The sensor's configuration (its ``warmup_s``)."""
        ...

    @property
    def source(self) -> Source | None:
        """The open port, None while it is closed."""
        ...

    def _readings_in(self) -> int:
        """Readings taken into the channels' first stages so far."""
        ...


class WarmUp:
    """See the module docstring."""

    def __init__(
        self, sensor: WarmingSensor, log: FilteringBoundLogger, changes: StateChanges
    ) -> None:
        # held weakly: the sensor owns its warm-up
        self._sensor: WarmingSensor = weakref.proxy(sensor)
        self._log = log
        #: the sensor's state lines (``sensord.flapping``): while its state flaps, the lines of
        #: a warm-up are held back with its changes
        self._changes = changes
        #: until when the device warms up after its port opened, or after it restarted or
        #: was woken behind the open port (``warmup_s``), and whether the next open may find
        #: it just powered
        self.until = -math.inf
        self.may_be_cold = True
        #: the hold under way is the first answers of a run of a device polled on a working
        #: period (``run_began``), not a warm-up: its end is not logged; and when it began
        self.quiet = False
        self.quiet_began = -math.inf
        #: the ``warmup_s`` of the sensor a reload replaced with this one on the same port
        #: (``carry``), until the open that follows (None: no such reload)
        self._before_s: float | None = None
        #: the readings taken when the last warm-up started (none are taken during it), and
        #: when it started
        self.readings_at = 0
        self.began = -math.inf
        #: frames read while warming up (whole frames that publish nothing), and their count
        #: when the port last opened: such frames prove the connection as readings do
        self.frames = 0
        self.frames_at_open = 0
        #: the warm-up under way (or the last) began when a polled device answered again
        #: after a silence: another such silence warms up again only once a reading was
        #: published since (``SensorRuntime._silence_ended``)
        self.by_silence = False

    def opened(self, source: Source, now: float) -> None:
        """A port opened: when the device may have just been powered (the first open of the
        run, or the device path was gone since the last open: unplugged), its values are not
        published for ``warmup_s``. A reopen after a read error or a reload that changed the
        sensor (:meth:`carry`), with the device present all along, does not warm up
        again, and a warm-up under way goes on to its end (``warmup_s`` after its start at
        most), as does the hold of a run's first answers (``run_began``: the device's fan
        spins up whatever the port does), quietly (``warmup_s`` after the run's first answer at
        most); ``warmup_s = 0`` ends either, and a
        simulated or replayed port never warms up. A reload that changed ``warmup_s`` moves
        the end of either to the new ``warmup_s`` after its start (a run's hold:
        :data:`sensord.dialogue.RUN_SETTLE_S` at most), later or sooner, at once when that is
        past: the table tells how long the device's readings are unsettled after its power-up
        or its fan's start, which the reload did not move; logged (``_tell_moved``) when
        the end moved (a run's hold between two ``warmup_s`` past its cap stays)."""
        warmup_s = self._sensor.config.warmup_s
        quiet, self.quiet = self.quiet, False
        before_s, self._before_s = self._before_s, None
        moved = before_s is not None and before_s != warmup_s and now < self.until
        if not warmup_s or source.simulated:
            self.until = -math.inf
            if moved and not source.simulated:
                self._tell_moved(now, now, before_s, quiet=quiet)
                if not quiet:  # over at once: ``check`` logs ``warmed up``
                    self.until = now
        elif self.may_be_cold:
            self.until = now + warmup_s
            self.readings_at = self._sensor._readings_in()
            self.began = now
            self.by_silence = False
            if self._changes.flapping:  # once a minute, its state line tells it opened
                self._changes.hold()
            else:
                self._log.info(
                    "warming up: readings are published after warmup_s", warmup_s=warmup_s
                )
        elif now < self.until:
            if quiet:  # a run's first answers held (``run_began``) go on being held, quietly
                from sensord.dialogue import RUN_SETTLE_S  # noqa: PLC0415  (a polled SDS011's only)

                self.quiet = True
                end = self.quiet_began + min(RUN_SETTLE_S, warmup_s)
            else:
                end = self.began + warmup_s
            if moved and end != self.until:
                self._tell_moved(now, end, before_s, quiet=quiet)
                self.until = end
            else:
                self.until = min(self.until, end)
        else:
            self.until = -math.inf
        self.may_be_cold = False

    def _tell_moved(self, now: float, end: float, before_s: float | None, *, quiet: bool) -> None:
        """A reload changed ``warmup_s`` (from ``before_s``) during a warm-up, or the hold of
        a run's first answers (``quiet``), which now ends at ``end`` (at ``now``: at once)."""
        self._log.info(
            "warm-up moved: warmup_s changed by the reload",
            warmup_s=self._sensor.config.warmup_s,
            warmup_s_before=before_s,
            held="a run's first answers (its fan spinning up)" if quiet else "the warm-up",
            left_s=round(max(0.0, end - now), 3),
        )

    def carry(self, before: WarmUp, warmup_s_before: float) -> None:
        """A reload replaced the sensor of ``before`` (whose ``warmup_s`` was
        ``warmup_s_before``) with this one on the same port, read from the same device,
        powered all along unless its path went away: a warm-up under way goes on, and so
        does the hold of a run's first answers (``run_began``), quietly, to the end the new
        ``warmup_s`` gives it when it changed (``opened``)."""
        self.may_be_cold = before.may_be_cold
        self.until = before.until
        self.began = before.began
        self.by_silence = before.by_silence
        self.quiet = before.quiet
        self.quiet_began = before.quiet_began
        self._before_s = warmup_s_before

    def again(self, now: float, why: str | None, **told: float | None) -> None:
        """The device may have just been powered or woken at ``now``, its port open all
        along: its readings are published ``warmup_s`` after it (a simulated or replayed
        port never warms up). A warm-up that starts is logged as at an open, with ``why``
        and the fields of ``told`` (None: the caller logs it)."""
        warmup_s = self._sensor.config.warmup_s
        source = self._sensor.source
        if not warmup_s or source is None or source.simulated:
            return
        starts = now >= self.until or self.quiet
        self.quiet = False
        self.until = max(self.until, now + warmup_s)
        self.readings_at = self._sensor._readings_in()
        self.began = now
        self.by_silence = False
        if starts and why is not None:
            self._log.info(
                "warming up: readings are published after warmup_s",
                warmup_s=warmup_s,
                why=why,
                **told,
            )

    def run_began(self, now: float) -> None:
        """See :meth:`sensord.dialogue.DialoguePort.run_began`: the answers of the run's first
        :data:`sensord.dialogue.RUN_SETTLE_S` are held as a warm-up's are, quietly (one a
        working period would log twice a period), for ``warmup_s`` when that is shorter: no
        warm-up of the sensor lasts longer than its table allows."""
        source = self._sensor.source
        if source is None or source.simulated or now < self.until:
            return
        from sensord.dialogue import RUN_SETTLE_S  # noqa: PLC0415  (a polled SDS011's only)

        self.until = now + min(RUN_SETTLE_S, self._sensor.config.warmup_s)
        self.quiet = True
        self.quiet_began = now

    def on_working_period(self, now: float) -> None:
        """See :meth:`sensord.dialogue.DialoguePort.on_working_period`: a device on a working
        period (an SDS011) sends each frame after its fan ran for 30 s, the first after a
        power-up too, so a warm-up under way ends: it would drop a measurement, and the
        next comes a whole period later. A device found on another setting and set to it
        warms up to the end (the frames it sent before it took the setting may be those
        of a fan spinning up). The hold of a run's first answers (``run_began``) goes on: the
        run's fan spins up whatever the setting."""
        if now >= self.until or self.quiet:
            return
        self.until = -math.inf
        if self._changes.flapping:
            self._changes.hold()
        else:
            self._log.info(
                "warmed up: readings are published",
                warmup_s=self._sensor.config.warmup_s,
                why="the device is on its working period: each frame follows its fan's run",
            )

    def check(self, now: float) -> None:
        """The sensor's tick at ``now``: a warm-up whose time is over ends, logged once
        (frames check the time themselves); the end of a run's hold is not logged."""
        if now >= self.until > -math.inf:
            self.until = -math.inf
            if self.quiet:  # a run's first answers held: not logged
                self.quiet = False
            elif self._changes.flapping:
                self._changes.hold()
            else:
                self._log.info(
                    "warmed up: readings are published", warmup_s=self._sensor.config.warmup_s
                )
