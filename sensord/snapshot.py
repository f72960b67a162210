"""The read model of a sensor: what ``SensorRuntime.snapshot`` returns at one moment.

Snapshots are plain values, not changed once taken: the HTTP threads render them
(``/status`` through ``SensorSnapshot.as_json``, ``/metrics`` through ``sensord.export``) while
the reader loop goes on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sensord.types import WindowStats

if TYPE_CHECKING:
    from sensord.modbus_state import ModbusSnapshot

__all__ = ["ChannelSnapshot", "SensorSnapshot", "StepSnapshot"]


@dataclass(slots=True)
class StepSnapshot:
    """One step's counters summed over a sensor's channels."""

    records_in: int
    records_out: int
    dropped: dict[str, int]


@dataclass(frozen=True, slots=True)
class ChannelSnapshot:
    name: str
    #: the window's statistics with the latest reading that came through every stage
    stats: WindowStats | None
    #: False while the device marks the channel's value as not measured (no value came
    #: since): its latest reading is not current, and neither it nor the window's statistics
    #: are published
    available: bool = True
    #: what the float register of a channel held (as the read's error names it: ``v_l3 is
    #: nan``) when it has read NaN at every read, from the first: a quantity the device does
    #: not measure; None otherwise
    not_measured: str | None = None


@dataclass(frozen=True, slots=True)
class SensorSnapshot:
    """The read model of one sensor: see ``SensorRuntime.snapshot``."""

    name: str
    state: str
    #: seconds in ``state``
    state_age_s: float
    simulated: bool
    port: str
    format: str
    last_frame_age_s: float | None
    frames: int
    ignored_frames: int
    #: frames read without the integrity check their protocol has (NMEA sentences without
    #: checksum): their readings are unverified
    unchecked_frames: int
    bytes_read: int
    #: bytes the framer dropped to resynchronise on a frame's start (noise on the line,
    #: garbage or rejected candidates between binary frames)
    skipped_bytes: int
    reconnects: int
    #: of them, reopens of a network connection that carried no byte for too long
    silent_reconnects: int
    idle_reopens: int
    open_failures: int
    poll_timeouts: int
    pipeline_errors: int
    #: set-up commands not acknowledged, by reason (missing, wrong): on each connect, and on a
    #: re-run only when acknowledged since last counted
    setup_ack_errors: dict[str, int]
    #: runs of the set-up commands while the port stayed open (stale, or frames unasked)
    setup_reruns: int
    #: frames rejected by the framer or parser, and readings rejected by a stage, by reason
    parse_errors: dict[str, int]
    last_error: str | None
    #: how long ago ``last_error`` happened (None: no error yet)
    last_error_age_s: float | None
    steps: dict[str, StepSnapshot]
    channels: tuple[ChannelSnapshot, ...]
    #: the port's line errors by kind since it was opened (None: no counters from its driver)
    line_errors: dict[str, int] | None = None
    #: why a device port has no line error counters, or None
    line_errors_unsupported: str | None = None
    #: with ``serial.local_echo``: (bytes dropped as echo, expected echoes that did not come)
    local_echo: tuple[int, int] | None = None
    #: a Modbus device's exchanges; None for other formats
    modbus: ModbusSnapshot | None = None
    #: while stale: why no frame comes (the hint of the ``sensor state`` log line, read again
    #: as bytes come); while up with every frame rejected for ``stale_after_s``: the likely
    #: cause (the ``no reading: every frame rejected`` log line); while simulated because its
    #: device path was absent at start: that; else None
    hint: str | None = None
    #: while the device warms up after its port opened (``warmup_s``): the seconds left, in
    #: which its frames are read and publish nothing; else None
    warmup_left_s: float | None = None
    #: the device port open now was found open in another process too (a getty, a terminal
    #: program: ``sensord.shared_port``), for as long as this open lasts
    port_shared: bool = False
    #: another port of this sensord reached the network peer this sensor's port reached (a
    #: gateway named two ways), in this run: the ``two ports reach one peer`` warning
    peer_shared: bool = False

    @property
    def up(self) -> bool:
        return self.state == "up"

    def as_json(self) -> dict[str, Any]:
        """The sensor's entry in ``/status``."""
        channels: dict[str, Any] = {}
        for ch in self.channels:
            stats = ch.stats
            channels[ch.name] = {
                "value": None
                if stats is None or not ch.available
                else _json_number(stats.reading.value),
                "available": ch.available,
                "not_measured": ch.not_measured,
                "timestamp": None if stats is None else stats.reading.wall_s,
                "window": None
                if stats is None or not ch.available
                else {
                    "count": stats.count,
                    "mean": _json_number(stats.mean),
                    "min": _json_number(stats.min),
                    "max": _json_number(stats.max),
                    "stddev": _json_number(stats.stddev),
                },
            }
        age = self.last_frame_age_s
        return {
            "state": self.state,
            "state_for_s": round(self.state_age_s, 3),
            "up": self.up,
            "simulated": self.simulated,
            "port": self.port,
            "format": self.format,
            "last_frame_age_s": None if age is None else round(age, 3),
            "frames": self.frames,
            "bytes_read": self.bytes_read,
            "reconnects": self.reconnects,
            "silent_reconnects": self.silent_reconnects,
            "idle_reopens": self.idle_reopens,
            "open_failures": self.open_failures,
            "parse_errors": dict(self.parse_errors),
            "ignored_frames": self.ignored_frames,
            "unchecked_frames": self.unchecked_frames,
            "skipped_bytes": self.skipped_bytes,
            "poll_timeouts": self.poll_timeouts,
            "pipeline_errors": self.pipeline_errors,
            "setup_ack_errors": dict(self.setup_ack_errors),
            "setup_reruns": self.setup_reruns,
            "last_error": self.last_error,
            "last_error_age_s": None
            if self.last_error_age_s is None
            else round(self.last_error_age_s, 3),
            "hint": self.hint,
            "warmup_left_s": None if self.warmup_left_s is None else round(self.warmup_left_s, 3),
            "line_errors": self.line_errors,
            "line_errors_unsupported": self.line_errors_unsupported,
            "local_echo": None
            if self.local_echo is None
            else {"echoed_bytes": self.local_echo[0], "mismatches": self.local_echo[1]},
            "steps": {
                step: {"in": t.records_in, "out": t.records_out, "dropped": dict(t.dropped)}
                for step, t in self.steps.items()
            },
            "channels": channels,
            **({} if self.modbus is None else {"modbus": self.modbus.as_json()}),
        }


def _json_number(value: float) -> float | str | None:
    """JSON has no NaN or infinities: NaN (no value yet) is null, infinities are strings."""
    if math.isnan(value):
        return None
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return value
