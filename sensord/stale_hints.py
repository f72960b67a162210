"""Why a sensor reads no frame: what came since its last frame, and the hint that says why
(``silence_since``). With bytes, the framer's reading of them, and the presets' (a clone's
checksum, a frame spec's mistake, a known device's quirk); without, the port's kind (a
replay's gap, a simulation's pace, a serial server that ends idle connections or is silent),
the wiring to check, the set-up commands that got no reply either, and a known device's
causes of silence. The sensor keeps the hint for ``/status`` and logs it with its state
lines (``SensorRuntime._stale_with_hint``, ``_note_hint``). Also the hint of a polled device
whose answers the line spoils (``SPOILT_ANSWERS_HINT``); a device whose frames come on a period
longer than the stale timeout has its own (``pause_hint``, ``sensord.pauses``).
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

from sensord.capture import RX
from sensord.config_sensor import SensorConfig
from sensord.connection import ENDED_IDLE_HINT, SILENT_REOPEN_STALE_FACTOR
from sensord.formats.base import Framer
from sensord.log import shown
from sensord.sources.base import Source
from sensord.sources.replay import ReplaySource

if TYPE_CHECKING:  # loaded by the sensors that use them
    from sensord.dialogue import Dialogue
    from sensord.modbus_state import ModbusCounters, ModbusMark

__all__ = [
    "SPOILT_ANSWERS_HINT",
    "StaleSensor",
    "silence_since",
]

#: The stale hint of a polled device whose polls since its last frame were answered with its
#: answers spoilt on the line (``Dialogue.powered_through``: an MH-Z19's answers that lost
#: their first byte, a passive PMS's frames that lost a start byte), in place of the framer's
#: reading of the bytes, which would send the operator to the serial settings that read the
#: rest of each answer.
SPOILT_ANSWERS_HINT = (
    "its polls are answered, but the line loses or damages a start byte of each answer (the "
    "rest comes whole, its checksum holding: the poll warnings' spoilt_answer), so no frame "
    "is read; the device is powered: check the cable (its length, the ground shared with the "
    "adapter) and the adapter"
)


@functools.cache
def _presets_load() -> bool:
    """Whether the presets (``sensord.formats.presets``) load, for the hints of bytes that give
    no frame (``silence_since``). A sensor without a preset loads them at its first
    such hint, which no reload guards: pip may have replaced sensord's files since the start
    (``sensord.build``) with ones that do not load beside the modules this process runs. Such
    a hint leaves their part out, and the sensor goes stale with its framer's reading, not down
    for an error of its timers. Tried once: the reader loop does not read the files again at
    every hint."""
    try:
        importlib.import_module("sensord.formats.presets")
    except Exception:  # an ImportError, or a SyntaxError of a file pip is writing
        return False
    return True


def _replay_gap_hint(source: ReplaySource) -> str:
    """Why no bytes came from a replay that is not at its end: the capture's own silence."""
    speed = source.speed
    pace = (
        f"a recorded second takes {1.0 / speed:g} s at replay.speed = {speed:g}"
        if 0.0 < speed < 1.0
        else f"played at replay.speed = {speed:g}"
    )
    return (
        f"no bytes came from the replay of {source.path}: its capture holds none for this "
        f"spell (the device was silent when it was recorded; {pace})"
    )


class StaleSensor(Protocol):
    """What ``silence_since`` reads of a sensor (``SensorRuntime``)."""

    @property
    def name(self) -> str:
        """The sensor's name."""
        ...

    @property
    def config(self) -> SensorConfig:
        """The sensor's configuration."""
        ...

    @property
    def source(self) -> Source | None:
        """The open port, None while it is closed."""
        ...

    @property
    def simulated(self) -> bool:
        """Whether the sensor reads a simulation of its device."""
        ...

    @property
    def framer(self) -> Framer:
        """The sensor's framer, whose reading of bytes that gave no frame is the hint."""
        ...

    @property
    def bytes_read(self) -> int:
        """The bytes read from the port so far."""
        ...

    @property
    def _read_at_frame(self) -> int:
        """``bytes_read`` when the last frame came (or the port opened)."""
        ...

    @property
    def last_frame_at(self) -> float | None:
        """When this connection's last frame came (None: none yet)."""
        ...

    @property
    def _opened_at(self) -> float:
        """Where staleness counts from without a frame: the port's open, or that of the
        first connection since the last frame."""
        ...

    @property
    def _port_opened_at(self) -> float:
        """When the port last opened."""
        ...

    @property
    def _binary(self) -> bool:
        """Whether the protocol's frames are shown in hex."""
        ...

    @property
    def modbus(self) -> ModbusCounters | None:
        """A Modbus device's exchange counters (None for other formats)."""
        ...

    @property
    def _modbus_mark(self) -> ModbusMark | None:
        """The Modbus counters when the last values came (or the bus opened)."""
        ...

    @property
    def dialogue(self) -> Dialogue | None:
        """The set-up commands and polls (None for a device neither set up nor polled)."""
        ...

    @property
    def pause_hint(self) -> str | None:
        """The hint of frames that come on a steady period longer than the stale timeout."""
        ...

    def captured(self) -> tuple[tuple[float, str, bytes], ...]:
        """The capture ring's chunks: when each came, which way, its bytes."""
        ...


def silence_since(sensor: StaleSensor, since: float) -> dict[str, Any]:
    """What came since the last frame (at monotonic time ``since``, or the port's
    opening): how many bytes, the most recent of them as the capture ring holds them, and
    the framer's reading of why they hold no frame."""
    count = sensor.bytes_read - sensor._read_at_frame
    if sensor.source is not None and sensor.source.finished:
        return {"bytes_since_frame": count, "hint": "the replay reached the end of its capture"}
    if not count and sensor.modbus is not None and sensor._modbus_mark is not None:
        why = sensor.modbus.hint_since(sensor._modbus_mark, sensor.name)
        if why is not None:
            return {"bytes_since_frame": 0, "hint": why}
    if not count:
        if isinstance(sensor.source, ReplaySource):
            return {"bytes_since_frame": 0, "hint": _replay_gap_hint(sensor.source)}
        if sensor.simulated:
            pace = (
                f"answers a poll every {sensor.config.poll.interval_s:g} s (poll.interval_s)"
                if sensor.config.poll is not None
                else f"sends a frame every {1.0 / sensor.config.sampling_rate_hz:g} s "
                "(sampling_rate_hz)"
            )
            return {
                "bytes_since_frame": 0,
                "hint": f"no bytes came from the simulated device: it {pace}, and "
                "nothing during a dropout ([sensors.simulation] dropout_rate, dropout_s)",
            }
        if sensor.last_frame_at is None and sensor._opened_at < sensor._port_opened_at:
            # connections before this one, since the last frame, ended with no byte
            # (see ``opened``): a server that ends each idle connection
            return {"bytes_since_frame": 0, "hint": ENDED_IDLE_HINT}
        if sensor.config.address.kind == "network":
            hint = (
                f"no bytes came: check the serial server at {sensor.config.port}, the "
                "network to it, and that the device behind it sends (a server gone "
                "without closing the connection is noticed by TCP keepalive within 25 s; "
                f"a connection silent for {SILENT_REOPEN_STALE_FACTOR} times stale_after_s "
                "is opened again)"
            )
        elif sensor.config.poll is not None:
            # a device that cannot read its request at other line settings answers nothing
            hint = (
                "no bytes came: check the wiring (the device's TX to the adapter's RX, "
                "its RX to TX, a common ground), its power and the port, and the serial "
                "settings (baudrate, parity) against the device's: it is polled, and one "
                "that cannot read the request at other settings answers nothing"
            )
        else:
            hint = (
                "no bytes came: check the wiring (the device's TX to the adapter's RX, "
                "its RX to TX, a common ground), its power and the port, and that the "
                "device sends (a wrong baud rate would still bring bytes)"
            )
        if sensor.config.poll is not None and sensor.config.address.kind == "network":
            hint += " (it is polled: that it answers the request)"
        dialogue = sensor.dialogue
        unanswered: Sequence[str] = () if dialogue is None else dialogue.unanswered
        if unanswered and sensor.last_frame_at is None:
            hint += (
                f"; its set-up commands got no reply either ({', '.join(unanswered)}"
                "): the device hears nothing, or is off or asleep"
            )
            unanswered = ()  # named once
        if sensor.config.preset is not None:  # what keeps a known device silent
            from sensord.formats.presets import silent_hint  # noqa: PLC0415  (loaded by a sensor with a preset)

            causes = silent_hint(
                sensor.config.preset,
                sensor.config.setup_names(),
                () if dialogue is None else dialogue.acknowledged,
                unanswered,
            )
            if causes is not None:
                hint += f"; {causes}"
        if sensor.pause_hint is not None:  # the device's period, not a silent device
            hint = sensor.pause_hint
        return {"bytes_since_frame": 0, "hint": hint}
    # the chunk that gave the last frame came at ``since`` itself: strictly after it
    after = sensor.last_frame_at is not None
    data = b"".join(
        chunk
        for at, way, chunk in sensor.captured()
        if way == RX and (at > since if after else at >= since)
    )[-count:]
    if not data:  # no ring, or one emptied since (a reload)
        return {"bytes_since_frame": count}
    recent = shown(data[-48:], binary=sensor._binary)
    if not _presets_load():  # the framer's reading alone
        return {
            "bytes_since_frame": count,
            "recent_bytes": recent,
            "hint": sensor.framer.no_frame_hint(data),
        }
    # what the presets tell of bytes that give no frame
    from sensord.formats.presets import (  # noqa: PLC0415
        clone_checksum_hint,
        preset_hint,
        spec_mistake_hint,
    )

    config = sensor.config
    frame = config.format_spec().frame
    clone = clone_checksum_hint(config.preset, frame, data)
    if clone is None and config.preset is None:
        clone = spec_mistake_hint(frame, data)
    hint = sensor.framer.no_frame_hint(data) if clone is None else clone
    dialogue = sensor.dialogue
    if dialogue is not None and dialogue.powered_through:
        return {"bytes_since_frame": count, "recent_bytes": recent, "hint": SPOILT_ANSWERS_HINT}
    preset = preset_hint(config.preset, data)
    return {
        "bytes_since_frame": count,
        "recent_bytes": recent,
        "hint": hint if preset is None else f"{hint}; {preset}",
    }
