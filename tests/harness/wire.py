"""Bytes a device sends."""

from __future__ import annotations

from functools import reduce
from operator import xor


def nmea(body: str) -> bytes:
    """The NMEA 0183 sentence ``$body*CS`` (CS: the XOR of the body's bytes), no line end."""
    return f"${body}*{reduce(xor, body.encode(), 0):02X}".encode()
