"""What more than one command uses: a configuration that does not load told, the line speeds
devices use (``sensord check``'s note on ``serial.baudrate``, ``sensord record``'s on
``--baudrate``), and how often a sensor's frames come (``sensord check`` and ``sensord
ports`` weigh an adapter's latency timer against it)."""

from __future__ import annotations

import sys

import serial

from sensord.config_sensor import SensorConfig
from sensord.errors import ConfigError
from sensord.names import closest

__all__ = ["USUAL_BAUDRATES", "frame_rate_hz", "print_config_error", "usual_rate_hint"]


def print_config_error(exc: ConfigError) -> None:
    print(f"sensord: invalid configuration: {exc}", file=sys.stderr)


#: Line speeds serial devices use: the rates pyserial lists (POSIX's and Linux's), and the
#: others devices are built for (MIDI's 31250, DMX's 250000, an ESP8266's boot output 74880).
USUAL_BAUDRATES = frozenset(serial.Serial.BAUDRATES) | {
    14_400,
    28_800,
    31_250,
    56_000,
    74_880,
    128_000,
    250_000,
    256_000,
}


def usual_rate_hint(rate: int) -> str:
    """ "; did you mean 9600?": the usual line speed most like ``rate``, if one is."""
    close = closest(str(rate), [str(r) for r in sorted(USUAL_BAUDRATES)])
    return f"; did you mean {close}?" if close else ""


def frame_rate_hz(sensor: SensorConfig) -> float:
    """How often a sensor's frames come: its polls, or its sampling rate."""
    return 1.0 / sensor.poll.interval_s if sensor.poll is not None else sensor.sampling_rate_hz
