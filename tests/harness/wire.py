"""Bytes a device sends, and the pace at which they reach the port."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import reduce
from operator import xor

#: The latency timer of FTDI USB-serial adapters (their driver's default): the chip sends
#: what it has received once that long has passed, or once it holds 62 bytes.
FTDI_LATENCY_S = 0.016
FTDI_PACKET_BYTES = 62


def nmea(body: str) -> bytes:
    """The NMEA 0183 sentence ``$body*CS`` (CS: the XOR of the body's bytes), no line end."""
    return f"${body}*{reduce(xor, body.encode(), 0):02X}".encode()


def char_s(baudrate: int) -> float:
    """One character's time on an 8N1 line (start bit, 8 data bits, stop bit)."""
    return 10 / baudrate


def paced(
    write: Callable[[bytes], None], data: bytes, baudrate: int, packet_s: float = 0.0
) -> None:
    """Write ``data`` as it reaches a serial port at ``baudrate``, blocking until its last
    byte is written: each byte once its character time has passed on the wire, one write
    each (``packet_s`` 0: an on-board UART, or an adapter that passes bytes on as they come),
    or as a USB adapter packs them: every ``packet_s`` (an FTDI chip's latency timer), the
    bytes that have come by then, at most :data:`FTDI_PACKET_BYTES` a packet. A pty has no
    baud rate: without this a whole frame arrives in one read."""
    start = time.monotonic()
    char = char_s(baudrate)
    sent = 0
    while sent < len(data):
        if packet_s > 0:
            tick = (int((time.monotonic() - start) / packet_s) + 1) * packet_s
            time.sleep(max(0.0, start + tick - time.monotonic()))
            arrived = min(len(data), int((time.monotonic() - start) / char))
            upto = min(arrived, sent + FTDI_PACKET_BYTES)
        else:
            time.sleep(max(0.0, start + (sent + 1) * char - time.monotonic()))
            upto = sent + 1
        if upto > sent:
            write(data[sent:upto])
            sent = upto
