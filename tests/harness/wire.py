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


def uart_received(
    data: bytes,
    sent_baud: int,
    read_baud: int,
    *,
    inverted: bool = False,
    sent_parity: str = "N",
    read_parity: str = "N",
    gap_chars: float = 0.0,
) -> bytes:
    """What a UART at ``read_baud`` (8 data bits, ``read_parity`` ``"N"`` or ``"E"``, one stop
    bit) receives from a device sending ``data`` at ``sent_baud`` with ``sent_parity``,
    ``gap_chars`` character times of idle line after it, on a line whose levels are
    ``inverted`` (RS-485 A and B swapped). The line is sampled 16 times per bit of the faster
    side, the receiver samples each bit in its middle, and a character with a framing or
    parity error (a break too) is delivered as NUL, as Linux does without ``PARMRK``. A pty has
    no baud rate: this is the garbage a wrong line setting turns a device's bytes into."""
    rate = 16 * max(sent_baud, read_baud)
    per_sent = rate / sent_baud
    line: list[int] = [1] * round(10 * rate / read_baud)  # idle before the first character
    for byte in data:
        bits = [0, *((byte >> i) & 1 for i in range(8))]
        if sent_parity == "E":
            bits.append(bin(byte).count("1") & 1)
        for level in (*bits, 1):
            line.extend([level] * round(per_sent))
    line.extend([1] * round(gap_chars * 10 * per_sent))
    if inverted:
        line = [1 - level for level in line]
    per_read = rate / read_baud
    count = len(line)

    def level_at(start: int, bit: int) -> int:
        at = int(start + (bit + 0.5) * per_read)
        return line[at] if at < count else 1

    received = bytearray()
    i = 1
    while i < count:
        if not (line[i - 1] == 1 and line[i] == 0) or level_at(i, 0) != 0:
            i += 1
            continue
        value = sum(level_at(i, 1 + k) << k for k in range(8))
        stop_bit = 9
        bad = False
        if read_parity == "E":
            bad = level_at(i, 9) != bin(value).count("1") & 1
            stop_bit = 10
        bad = bad or level_at(i, stop_bit) != 1
        received.append(0 if bad else value)
        i = int(i + (stop_bit + 0.5) * per_read)
        while i < count and line[i] == 0:  # after a framing error: wait for the line to rise
            i += 1
    return bytes(received)
