"""CRC-16/MODBUS, by a 256-entry table: the checksum of Modbus RTU frames and one of the
checksum kinds of the frame spec."""

from __future__ import annotations

__all__ = ["crc16_modbus"]


def _table() -> tuple[int, ...]:
    """CRC-16/MODBUS (reflected polynomial 0xA001) of every byte value."""
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_TABLE = _table()


def crc16_modbus(data: bytes) -> int:
    """CRC-16/MODBUS of ``data``. An RTU frame carries its CRC low byte first, so the CRC over
    a whole frame whose CRC is right is 0."""
    crc = 0xFFFF
    table = _TABLE
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc
