"""CRCs by 256-entry tables: CRC-16/MODBUS, the checksum of Modbus RTU frames and one of the
checksum kinds of the frame spec; CRC-16/ARC (the same polynomial from 0), a DSMR telegram's,
by a 65536-entry table of two bytes a step (telegrams are long);
CRC-16/XMODEM and CRC-16/IBM-3740 ("CCITT-FALSE"), the CCITT polynomial from 0 and from
0xFFFF (a Davis weather station's LOOP packet has the first), two more kinds of the frame
spec; CRC-16/MCRF4XX and CRC-16/X-25, the CCITT polynomial reflected from 0xFFFF, without and
with a final XOR (a Lufft UMB frame's checksum, and HDLC's frame check sequence), two more;
CRC-24Q, the checksum of RTCM 3 frames.

Tables of two bytes a step (128 KiB each, 15 to 25 ms to build) are built by a DSMR sensor
when it is made, for its telegram's CRC: :func:`prepare_crc16_arc` (CRC-16/ARC's polynomial,
CRC-16/MODBUS's too) and :func:`prepare_crc16_x25` (the reflected CCITT polynomial, for a
Holley DTSD545's telegrams). CRC-16/MODBUS, CRC-16/MCRF4XX and CRC-16/X-25 go two bytes a step
once the table of their polynomial is built, and a byte a step before: they are never what
builds one, so the reader thread, which reads every port, never stalls for a table at a
frame; a process that reads Modbus RTU frames alone (8 to 256 bytes, at most some 1 KB a
second on a 9600-baud line: some 50 us of CRC a second a byte a step) is not given 128 KiB
and a table's build for half of that."""

from __future__ import annotations

import array
import functools
import sys

__all__ = [
    "crc16_arc",
    "crc16_arc_short",
    "crc16_ccitt_false",
    "crc16_mcrf4xx",
    "crc16_modbus",
    "crc16_x25",
    "crc16_xmodem",
    "crc24q",
    "prepare_crc16_arc",
    "prepare_crc16_x25",
]


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


def _by_bytes(data: bytes, crc: int, table: tuple[int, ...]) -> int:
    """The reflected 16-bit CRC of ``data`` from ``crc`` by ``table`` (its polynomial over
    every byte value), a byte a step."""
    for byte in data:
        crc = (crc >> 8) ^ table[(crc ^ byte) & 0xFF]
    return crc


def _by_pairs(data: bytes, crc: int, words: array.array[int], table: tuple[int, ...]) -> int:
    """The same as :func:`_by_bytes`, two bytes a step by ``words``, the table of pairs of
    ``table`` (see :func:`_pair_table`), a last odd byte by ``table``."""
    pairs = array.array("H")
    even = len(data) & ~1
    pairs.frombytes(data[:even])
    if sys.byteorder == "big":  # each pair's first byte in its low byte
        pairs.byteswap()
    for pair in pairs:
        crc = words[crc ^ pair]
    if even != len(data):
        crc = (crc >> 8) ^ table[(crc ^ data[-1]) & 0xFF]
    return crc


def _pair_table(table: tuple[int, ...]) -> array.array[int]:
    """The reflected polynomial of ``table`` over every pair of bytes, the first in the low
    byte of the index: two steps of ``table`` in one look-up, whatever the CRC before them
    (the index is that CRC XOR the pair). 128 KiB as unsigned 16-bit integers (a tuple of the
    same ints would take 2.6 MB for 20 % more speed), 15 to 25 ms to build."""
    words = array.array("H", bytes(2 * 65536))
    for pair in range(65536):
        crc = table[pair & 0xFF]
        words[pair] = (crc >> 8) ^ table[(crc ^ (pair >> 8)) & 0xFF]
    return words


#: :data:`_TABLE`'s table of pairs once :func:`prepare_crc16_arc` built it, for
#: :func:`crc16_modbus`; None before.
_PAIRS: array.array[int] | None = None


def crc16_modbus(data: bytes) -> int:
    """CRC-16/MODBUS of ``data``. An RTU frame carries its CRC low byte first, so the CRC over
    a whole frame whose CRC is right is 0. Two bytes a step once a DSMR sensor built the table
    of its polynomial (CRC-16/ARC's), a byte a step before."""
    words = _PAIRS
    if words is None:
        return _by_bytes(data, 0xFFFF, _TABLE)
    return _by_pairs(data, 0xFFFF, words, _TABLE)


def _table_24q() -> tuple[int, ...]:
    """CRC-24Q (polynomial 0x1864CFB, not reflected) of every byte value in the top byte."""
    table = []
    for byte in range(256):
        crc = byte << 16
        for _ in range(8):
            crc <<= 1
            if crc & 0x1000000:
                crc ^= 0x1864CFB
        table.append(crc)
    return tuple(table)


_TABLE_24Q = _table_24q()


def crc24q(data: bytes) -> int:
    """CRC-24Q of ``data`` (initial value 0, no final XOR), as RTCM 3 computes it over a frame's
    preamble, length and message; the frame carries it in 3 bytes, most significant first."""
    crc = 0
    table = _TABLE_24Q
    for byte in data:
        crc = ((crc << 8) & 0xFFFFFF) ^ table[(crc >> 16) ^ byte]
    return crc


def _table_ccitt() -> tuple[int, ...]:
    """The CCITT polynomial 0x1021 (not reflected) of every byte value in the top byte."""
    table = []
    for byte in range(256):
        crc = byte << 8
        for _ in range(8):
            crc = ((crc << 1) ^ 0x1021 if crc & 0x8000 else crc << 1) & 0xFFFF
        table.append(crc)
    return tuple(table)


_TABLE_CCITT = _table_ccitt()


def _crc16_ccitt(data: bytes, crc: int) -> int:
    table = _TABLE_CCITT
    for byte in data:
        crc = ((crc << 8) & 0xFFFF) ^ table[(crc >> 8) ^ byte]
    return crc


def crc16_xmodem(data: bytes) -> int:
    """CRC-16/XMODEM of ``data`` (polynomial 0x1021, initial value 0, no final XOR): 0x31C3
    for "123456789"; a frame carries it most significant byte first, so the CRC over a
    whole frame whose CRC is right is 0."""
    return _crc16_ccitt(data, 0)


def crc16_ccitt_false(data: bytes) -> int:
    """CRC-16/IBM-3740, often called CRC-16/CCITT-FALSE (polynomial 0x1021, initial value
    0xFFFF, no final XOR): 0x29B1 for "123456789"."""
    return _crc16_ccitt(data, 0xFFFF)


def _table_ccitt_reflected() -> tuple[int, ...]:
    """The CCITT polynomial reflected (0x8408) of every byte value."""
    table = []
    for byte in range(256):
        crc = byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0x8408 if crc & 1 else crc >> 1
        table.append(crc)
    return tuple(table)


_TABLE_CCITT_REFLECTED = _table_ccitt_reflected()


#: :data:`_TABLE_CCITT_REFLECTED`'s table of pairs once :func:`prepare_crc16_x25` built it;
#: None before.
_PAIRS_CCITT_REFLECTED: array.array[int] | None = None


def prepare_crc16_x25() -> None:
    """Build the table of pairs of the reflected CCITT polynomial, by which
    :func:`crc16_x25` and :func:`crc16_mcrf4xx` go two bytes a step from then on: a DSMR
    sensor whose ``parse.crc`` is ``crc16_x25`` (a Holley DTSD545's telegrams, 1 KB a
    second: some 35 us a telegram against 85) does when it is made, so that the one reader
    thread does not stall for it at a frame."""
    global _PAIRS_CCITT_REFLECTED
    _PAIRS_CCITT_REFLECTED = _ccitt_reflected_pairs()


@functools.cache
def _ccitt_reflected_pairs() -> array.array[int]:
    """The reflected CCITT polynomial (0x8408) over every pair of bytes (see
    :func:`_pair_table`), built once a process."""
    return _pair_table(_TABLE_CCITT_REFLECTED)


def crc16_mcrf4xx(data: bytes) -> int:
    """CRC-16/MCRF4XX of ``data`` (polynomial 0x1021 reflected, initial value 0xFFFF, no final
    XOR): 0x6F91 for "123456789". A Lufft UMB frame carries it over its bytes from SOH to
    ETX, low byte first (the VS20k-UMB manual's reply ``01 10 16 F0 01 30 0A 02 23 10 00 59 02
    16 00 00 FA 44 03``: 0x115E, sent ``5E 11``). Two bytes a step once
    :func:`prepare_crc16_x25` built the table of its polynomial, a byte a step before."""
    words = _PAIRS_CCITT_REFLECTED
    if words is None:
        return _by_bytes(data, 0xFFFF, _TABLE_CCITT_REFLECTED)
    return _by_pairs(data, 0xFFFF, words, _TABLE_CCITT_REFLECTED)


def crc16_x25(data: bytes) -> int:
    """CRC-16/X-25 of ``data`` (CRC-16/MCRF4XX with a final XOR of 0xFFFF): 0x906E for
    "123456789"; HDLC's frame check sequence, low byte first, as IEC 62056-46 frames carry
    it (a smart meter's HAN port: a Kamstrup's list over its bytes between the flags), and a
    Holley DTSD545's telegram CRC."""
    return crc16_mcrf4xx(data) ^ 0xFFFF


@functools.cache
def _word_table() -> array.array[int]:
    """CRC-16/MODBUS's polynomial (reflected 0xA001) over every pair of bytes (see
    :func:`_pair_table`). Built once a process, by :func:`prepare_crc16_arc` or on first
    use."""
    return _pair_table(_TABLE)


def prepare_crc16_arc() -> None:
    """Build the table of :func:`crc16_arc` now: a DSMR sensor's framer does when the sensor
    is made, so that its first telegram does not stall the one reader thread, which reads
    every port, for the 15 to 25 ms that the table takes. :func:`crc16_modbus`, of the same
    polynomial, goes two bytes a step from then on too."""
    global _PAIRS
    _PAIRS = _word_table()


def crc16_arc_short(data: bytes) -> int:
    """CRC-16/ARC of ``data`` a byte a step by the 256-entry table: for a short line (an
    SDI-12 line's 30 bytes: 1.35 us), where :func:`crc16_arc`'s 128 KiB table of pairs would
    be built for a few bytes a second."""
    return _by_bytes(data, 0, _TABLE)


def crc16_arc(data: bytes) -> int:
    """CRC-16/ARC of ``data`` (the polynomial of CRC-16/MODBUS, initial value 0, no final
    XOR): a DSMR telegram's CRC, over its bytes from ``/`` to ``!``. Two bytes a step, by
    :func:`_word_table`: about 2.5 times as fast as a byte a step (some 35 us for a 1 KB
    telegram), one to ten telegrams a second on a meter's port."""
    return _by_pairs(data, 0, _word_table(), _TABLE)
