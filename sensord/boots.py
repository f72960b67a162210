"""A device's restarts behind its open port, told by the frames it sends only while it boots
(a frame spec's ``boot_bytes``: an MH-Z19's 15000 in bytes 6..7 while it preheats, a PMS's or
an SPS30's own).

``DeviceBoots`` is built for a sensor whose frames can tell a boot (``is_boot``; a sensor of
another format has none). A boot frame (``booted``) starts the device's warm-up again and tells
its dialogue, which holds a set-up re-run back while the device boots; the restart is logged
once, at most once a minute: a warning, or at info level for a device powered with the host
(within ``warmup_s`` of the port's open) and one that restarts on a set-up command of its own
(MH-Z19 ``range``). Once a frame without the boot bytes comes, the set-up commands the restart
undid are written again (``settled``, at the sensor's tick). The sensor asks it when a frame
that publishes nothing comes (while warming up, or one without values), when its dialogue
finds a spoilt answer that is a boot's (``spoilt``), at each open (``opened``) and at its tick.

It reads its sensor (its configuration, its dialogue, the port's open and its last frame)
only through ``BootingSensor``, held weakly: a sensor removed at a reload is freed with its
last reference.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from structlog.typing import FilteringBoundLogger

from sensord.config_sensor import SensorConfig
from sensord.log import RateLimiter

if TYPE_CHECKING:  # loaded by the sensors that use it
    from sensord.dialogue import Dialogue

__all__ = ["BootingSensor", "DeviceBoots"]


class BootingSensor(Protocol):
    """What ``DeviceBoots`` reads of its sensor (``SensorRuntime``)."""

    @property
    def config(self) -> SensorConfig:
        """The sensor's configuration (its ``warmup_s`` and set-up commands)."""
        ...

    @property
    def dialogue(self) -> Dialogue | None:
        """The sensor's set-up commands and polls (None: it has neither)."""
        ...

    @property
    def last_frame_at(self) -> float | None:
        """When this connection's last frame came (None: none yet)."""
        ...

    @property
    def _port_opened_at(self) -> float:
        """When the port last opened."""
        ...


class DeviceBoots:
    """See the module docstring."""

    def __init__(
        self,
        sensor: BootingSensor,
        is_boot: Callable[[bytes], bool],
        *,
        log: FilteringBoundLogger,
        errors: RateLimiter,
        warm_again: Callable[[float, str | None], None],
    ) -> None:
        # held weakly: the sensor owns its boots
        self._sensor: BootingSensor = weakref.proxy(sensor)
        #: what tells a frame the device sends while it boots
        self.is_boot = is_boot
        self._log = log
        self._errors = errors
        #: the sensor's warm-up started again (``WarmUp.again``)
        self._warm_again = warm_again
        #: when the last boot frame came while the set-up is still to be written again after
        #: it (None: no boot pending)
        self._frame_at: float | None = None
        #: the boot pending was the doing of a set-up command (MH-Z19 ``range``)
        self._by_setup = False
        #: whether that frame came within ``warmup_s`` of the port's open (a device powered
        #: with the host boots then)
        self._at_open = False

    def opened(self) -> None:
        """The port opened: the set-up of this connect follows, no boot is pending."""
        self._frame_at = None

    def spoilt(self, frame: bytes, now: float) -> bool:
        """See :meth:`sensord.dialogue.DialoguePort.spoilt_boot`."""
        if not self.is_boot(frame):
            return False
        self.booted(now)
        return True

    def booted(self, now: float) -> None:
        """A frame came at ``now`` that the device sends only while it boots: it restarted
        (power that sagged or was cut, behind a port that stayed open). Its warm-up starts
        again (the readings of a device just powered are published ``warmup_s`` after its
        last such frame), and its set-up commands, which a restart undoes, are written again
        once a frame without the boot bytes comes (``settled``). Logged once a restart,
        at most once a minute: a warning, or at info level within ``warmup_s`` of the port's
        open (a device powered with the host boots then), as is the set-up's run after it."""
        warmup_s = self._sensor.config.warmup_s
        self._warm_again(now, None)
        if self._sensor.dialogue is not None:
            self._sensor.dialogue.booting()
        at_open = now - self._sensor._port_opened_at <= warmup_s
        self._at_open = at_open
        if self._frame_at is None:
            dialogue = self._sensor.dialogue
            self._by_setup = dialogue is not None and dialogue.restarted_by_setup(now)
            held = self._errors.check("booted")
            if held is not None:
                hint = (
                    "it restarts once it took a set-up command (MH-Z19 range); the others, "
                    "which the restart undid, are written again once it is up"
                    if self._by_setup
                    else "a restart the host did not cause: check the sensor's supply and "
                    "wiring (one that sags under the sensor's current peaks restarts it); its "
                    "set-up commands are written again once it is up"
                )
                (self._log.info if at_open or self._by_setup else self._log.warning)(
                    "device restarted: it sent a frame of its boot",
                    warmup_s=warmup_s,
                    setup=self._sensor.config.setup_names(),
                    hint=hint,
                    suppressed=held,
                )
        self._frame_at = now

    def settled(self, now: float) -> None:
        """The sensor's tick at ``now``: when a frame came after the last boot frame, the
        device is up and its set-up is due (not before: a booting device would undo it); the
        boot is over once its dialogue ran the set-up again (or it has none)."""
        dialogue = self._sensor.dialogue
        booted = self._frame_at
        # a frame after the boot's: the device is up, its set-up is due (not before: a booting
        # device would undo it)
        if (
            booted is not None
            and self._sensor.last_frame_at is not None
            and self._sensor.last_frame_at > booted
            and (
                dialogue is None
                or dialogue.rerun(
                    now,
                    "the device restarted",
                    wait=False,
                    expected=self._at_open or self._by_setup,
                    without_restarting=self._by_setup,
                )
            )
        ):
            self._frame_at = None
