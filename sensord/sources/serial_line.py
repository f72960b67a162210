"""A serial port's line settings as the configuration's ``serial`` keys name them.

:data:`SETTING_ATTRIBUTES` pairs each key with the pyserial attribute it sets, in the order
they are applied, and :func:`setting_problem` makes the checks pyserial does not (a float or
zero baud rate, a flag that is no boolean). :func:`line_mismatches` tells the keys whose
value an open device's termios settings do not show (a driver adjusts what its hardware
cannot do instead of failing), and :func:`keys_text` writes keys with their values for an
error (``serial.bytesize = 5``).
"""

from __future__ import annotations

import termios
from typing import Any

from serial.serialposix import CMSPAR

from sensord.serial_settings import SerialSettings

__all__ = ["SETTING_ATTRIBUTES", "keys_text", "line_mismatches", "setting_problem"]


#: (config key, pyserial attribute), in the order they are applied.
SETTING_ATTRIBUTES: tuple[tuple[str, str], ...] = (
    ("baudrate", "baudrate"),
    ("bytesize", "bytesize"),
    ("parity", "parity"),
    ("stopbits", "stopbits"),
    ("xonxoff", "xonxoff"),
    ("rtscts", "rtscts"),
    ("dsrdtr", "dsrdtr"),
    ("timeout_s", "timeout"),
    ("exclusive", "exclusive"),
    ("dtr", "dtr"),
    ("rts", "rts"),
)


_FLAGS = frozenset({"xonxoff", "rtscts", "dsrdtr", "exclusive", "dtr", "rts"})


def setting_problem(key: str, value: object) -> str | None:
    """Checks pyserial does not make: it truncates float baud rates, takes 0 (hang up) as a
    baud rate and stores any object as a flag."""
    if key == "baudrate" and (type(value) is not int or value <= 0):
        return f"must be a positive integer, got {value!r}"
    if key in _FLAGS and type(value) is not bool:
        return f"must be true or false, got {value!r}"
    return None


_PARITY_FLAGS = {
    "N": 0,
    "E": termios.PARENB,
    "O": termios.PARENB | termios.PARODD,
    "M": termios.PARENB | termios.PARODD | CMSPAR,
    "S": termios.PARENB | CMSPAR,
}
_CSIZE_FLAGS = {5: termios.CS5, 6: termios.CS6, 7: termios.CS7, 8: termios.CS8}


def line_mismatches(settings: SerialSettings, attributes: list[Any]) -> list[str]:
    """Config keys whose value a port's termios ``attributes`` do not show.

    Drivers adjust what their hardware cannot do instead of failing (no 5-bit bytes, no mark
    parity, a nearby speed) and report the adjusted values. Speeds without a termios constant
    (set through ``BOTHER``) are not compared.
    """
    iflag, _, cflag, _, ispeed, ospeed, _ = attributes
    keys: list[str] = []
    speed = getattr(termios, f"B{settings.baudrate}", None)
    if speed is not None and (ispeed, ospeed) != (speed, speed):
        keys.append("baudrate")
    if cflag & termios.CSIZE != _CSIZE_FLAGS.get(settings.bytesize):
        keys.append("bytesize")
    mask = termios.PARENB if settings.parity == "N" else termios.PARENB | termios.PARODD | CMSPAR
    if cflag & mask != _PARITY_FLAGS.get(settings.parity):
        keys.append("parity")
    if bool(cflag & termios.CSTOPB) != (settings.stopbits != 1):
        keys.append("stopbits")
    if bool(cflag & termios.CRTSCTS) != settings.rtscts:
        keys.append("rtscts")
    if (iflag & (termios.IXON | termios.IXOFF) == termios.IXON | termios.IXOFF) != settings.xonxoff:
        keys.append("xonxoff")
    return keys


def keys_text(settings: SerialSettings, keys: list[str]) -> str:
    """``serial.KEY = value`` of ``settings`` for ``keys``; for no keys, every line setting as
    candidates."""
    shown = keys or [key for key, _ in SETTING_ATTRIBUTES if key not in ("timeout_s", "dtr", "rts")]
    text = ", ".join(f"serial.{key} = {getattr(settings, key)!r}" for key in shown)
    return text if keys else f"one of {text}"
