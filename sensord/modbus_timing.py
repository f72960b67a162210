"""The timing of a Modbus serial line: the time one character takes at a port's settings
(:func:`char_s`), and the silence between frames (:func:`silence_s`: 3.5 character times,
:data:`FAST_SILENCE_S` above 19200 baud). The bus (:mod:`sensord.bus`) times its exchanges
with them, ``sensord modbus read`` (:mod:`sensord.probe`) its request; a reply on its way
is read until :data:`ARRIVAL_SLACK_S` after the rest of it can have come."""

from __future__ import annotations

from sensord.serial_settings import SerialSettings

__all__ = ["ARRIVAL_SLACK_S", "FAST_SILENCE_S", "char_s", "silence_s"]

#: The silence between frames above 19200 baud (the Modbus serial line specification fixes it
#: there instead of scaling it further down).
FAST_SILENCE_S = 0.00175

#: How much later than its time on the wire the rest of a reply that is arriving may be read:
#: a USB adapter holds what it received up to its latency timer (16 ms by default on FTDI
#: chips) and a serial server sends it in packets; 50 ms covers both on a loaded host.
ARRIVAL_SLACK_S = 0.05


def char_s(settings: SerialSettings) -> float:
    """The time one character takes on the line at ``settings`` (start bit, data bits,
    parity bit, stop bits)."""
    bits = 1 + settings.bytesize + (0 if settings.parity == "N" else 1) + settings.stopbits
    return bits / settings.baudrate


def silence_s(settings: SerialSettings) -> float:
    """3.5 character times at ``settings``, :data:`FAST_SILENCE_S` above 19200 baud."""
    if settings.baudrate > 19_200:
        return FAST_SILENCE_S
    return 3.5 * char_s(settings)
