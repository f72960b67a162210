"""The checksum kinds of binary frames (``frame.checksum``): each kind's function of the
covered bytes, its width and its byte order, and the bytes it puts in a frame.

The kinds (the sums are of the covered bytes):

==============  ===================================================================
sum8            sum modulo 256, one byte
sum16be/le      sum modulo 65536, two bytes big/little-endian
twos8           two's complement of the 8-bit sum (``-sum % 256``), one byte
twos16be/le     two's complement of the 16-bit sum (``-sum % 65536``), two bytes
                big/little-endian: a JBD (Xiaoxiang) battery management system's frames
ones8           one's complement of the 8-bit sum (``0xFF - sum % 256``), one byte
xor8            xor of the bytes, one byte
crc16_modbus    CRC-16/MODBUS (poly 0xA001 reflected, init 0xFFFF), low byte first
crc16_xmodem    CRC-16/XMODEM (poly 0x1021, init 0x0000, not reflected), high byte
                first: a Davis Vantage console's LOOP packets
crc16_ccitt_false
                CRC-16/IBM-3740, "CCITT-FALSE" (poly 0x1021, init 0xFFFF, not
                reflected), high byte first
crc16_mcrf4xx   CRC-16/MCRF4XX (poly 0x1021 reflected, init 0xFFFF), low byte first: a
                Lufft UMB frame's
crc16_x25       CRC-16/X-25 (the same with a final XOR 0xFFFF), low byte first: HDLC's
                frame check sequence (IEC 62056-46, a smart meter's HAN port)
crc8            CRC-8/SMBUS (poly 0x07, init 0x00, not reflected), one byte; not
                Sensirion's CRC-8 (poly 0x31, init 0xFF) nor Maxim's (0x31 reflected)
==============  ===================================================================
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from sensord.formats.crc import (
    crc16_ccitt_false,
    crc16_mcrf4xx,
    crc16_modbus,
    crc16_x25,
    crc16_xmodem,
)

__all__ = ["CHECKSUMS", "checksum"]


def _crc8_table() -> tuple[int, ...]:
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = ((crc << 1) ^ 0x07) & 0xFF if crc & 0x80 else (crc << 1) & 0xFF
        table.append(crc)
    return tuple(table)


_CRC8 = _crc8_table()


def _crc8(data: bytes) -> int:
    crc = 0
    table = _CRC8
    for byte in data:
        crc = table[crc ^ byte]
    return crc


def _xor8(data: bytes) -> int:
    value = 0
    for byte in data:
        value ^= byte
    return value


#: Checksum kind -> (function of the covered bytes, width in bytes, byte order).
CHECKSUMS: Mapping[str, tuple[Callable[[bytes], int], int, str]] = {
    "sum8": (lambda data: sum(data) & 0xFF, 1, "big"),
    "sum16be": (lambda data: sum(data) & 0xFFFF, 2, "big"),
    "sum16le": (lambda data: sum(data) & 0xFFFF, 2, "little"),
    "twos8": (lambda data: -sum(data) & 0xFF, 1, "big"),
    "twos16be": (lambda data: -sum(data) & 0xFFFF, 2, "big"),
    "twos16le": (lambda data: -sum(data) & 0xFFFF, 2, "little"),
    "ones8": (lambda data: ~sum(data) & 0xFF, 1, "big"),
    "xor8": (_xor8, 1, "big"),
    "crc16_modbus": (crc16_modbus, 2, "little"),
    "crc16_xmodem": (crc16_xmodem, 2, "big"),
    "crc16_ccitt_false": (crc16_ccitt_false, 2, "big"),
    "crc16_mcrf4xx": (crc16_mcrf4xx, 2, "little"),
    "crc16_x25": (crc16_x25, 2, "little"),
    "crc8": (_crc8, 1, "big"),
}


def checksum(kind: str, data: bytes) -> bytes:
    """The checksum bytes of kind ``kind`` over ``data``, as they sit in a frame."""
    function, width, order = CHECKSUMS[kind]
    return function(data).to_bytes(width, order)  # type: ignore[arg-type]
