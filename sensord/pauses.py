"""Whether a device's frames come on a steady period longer than its sensor's stale timeout:
each frame that ends a stale spell ends a pause, and two pauses running that are alike (within
:data:`STEADY_PAUSE_TOLERANCE`) are the device's period (an SDS011 on a working period another
program set), told in the ``up`` line and kept as the hint of the next stale spell
(``steady_pause_hint``) in place of a silent device's.

``SteadyPauses`` keeps the last such pause, the frame count then and the hint. The sensor asks
it as a frame ends a stale spell (``ended``), as it goes stale (``went_stale``: frames that
came between are a stream, no period) and at each open (``forget``: a period is the same
connection's). It reads its sensor (its framer's count, its stale timeout, its preset and
set-up) only through ``PausingSensor``, held weakly.
"""

from __future__ import annotations

import weakref
from typing import Any, Protocol

from sensord.config_sensor import SensorConfig
from sensord.formats.base import Framer

__all__ = ["STEADY_PAUSE_TOLERANCE", "PausingSensor", "SteadyPauses", "steady_pause_hint"]

#: How much two pauses between frames, each ended by a frame while the sensor was stale, may
#: differ (a fraction of the longer) to count as the device's steady period: an SDS011 on a
#: working period sends within a second or two of it.
STEADY_PAUSE_TOLERANCE = 0.05


def steady_pause_hint(
    pause_s: float, stale_after_s: float, preset: str | None, setup: tuple[str, ...]
) -> str:
    """Why frames come once every ``pause_s``, longer than ``stale_after_s``: the device's
    own period, and for an SDS011 whose set-up sets no working period, the working period it
    was given by another program, when the pause is one (a whole number of minutes, 1..30,
    within :data:`STEADY_PAUSE_TOLERANCE`)."""
    hint = (
        f"frames come once every {pause_s:.0f} s, two pauses running, and stale_after_s is "
        f"{stale_after_s:g} s: set stale_after_s above the device's period, or find out why "
        "it pauses"
    )
    minutes = round(pause_s / 60.0)
    if (
        preset == "sds011"
        and 1 <= minutes <= 30
        and abs(pause_s - 60.0 * minutes) <= STEADY_PAUSE_TOLERANCE * pause_s
    ):
        from sensord.formats.presets import working_period_s  # noqa: PLC0415  (loaded by a sensor with a preset)

        if working_period_s(preset, setup) == 0.0:
            hint += (
                f"; an SDS011 on a working period of {minutes} minutes (another program set "
                "it, and the sensor keeps it through a power cycle) sends one frame every "
                f'{minutes} minutes: setup = ["working_period={minutes}"] expects that, '
                '["working_period=0"] brings back a frame a second'
            )
    return hint


class PausingSensor(Protocol):
    """What ``SteadyPauses`` reads of its sensor (``SensorRuntime``)."""

    @property
    def config(self) -> SensorConfig:
        """The sensor's configuration (its preset and set-up commands)."""
        ...

    @property
    def framer(self) -> Framer:
        """The sensor's framer, whose count of frames tells a stream from a period."""
        ...

    @property
    def _stale_after_s(self) -> float:
        """How long the sensor goes without a frame before it is stale."""
        ...


class SteadyPauses:
    """See the module docstring."""

    def __init__(self, sensor: PausingSensor) -> None:
        # held weakly: the sensor owns its pauses
        self._sensor: PausingSensor = weakref.proxy(sensor)
        #: the last pause between two frames that a frame ended while the sensor was stale,
        #: the frame count then, and the hint while two such pauses running were alike
        self._pause_s: float | None = None
        self._frames_at = 0
        self.hint: str | None = None

    def forget(self) -> None:
        """The port opened: a period is the same connection's."""
        self._pause_s = self.hint = None

    def went_stale(self) -> None:
        """The sensor goes stale: when more than one frame came since the last pause, the
        device streamed, and its pauses are no period."""
        if self._sensor.framer.frames - self._frames_at > 1:  # it streamed: no period
            self._pause_s = self.hint = None

    def ended(self, now: float, previous: float | None) -> dict[str, Any]:
        """A frame came at ``now`` to a stale sensor whose frame before came at ``previous``
        (None: none since the port opened): the pause, for the ``up`` log line, and when it
        is as long as the pause before (within :data:`STEADY_PAUSE_TOLERANCE`), the hint
        that the device sends on a period longer than the stale timeout (an SDS011 on a
        working period), kept for the next stale hint. Runs only on the change from stale."""
        if previous is None:
            return {}
        pause = now - previous
        before, self._pause_s = self._pause_s, pause
        self._frames_at = self._sensor.framer.frames
        fields: dict[str, Any] = {"pause_s": round(pause, 1)}
        if before is None or abs(pause - before) > STEADY_PAUSE_TOLERANCE * max(pause, before):
            self.hint = None
            return fields
        self.hint = steady_pause_hint(
            pause,
            self._sensor._stale_after_s,
            self._sensor.config.preset,
            self._sensor.config.setup_names(),
        )
        fields["hint"] = self.hint
        return fields
