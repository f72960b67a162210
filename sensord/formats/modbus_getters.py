"""The getters of a known read's reply: for each value of a
:class:`~sensord.formats.modbus_plan.Read`, a function that takes its number straight from
the reply frame's bytes with ``struct`` (byte and word orders, bit fields, signs, scale
factors), and the checks that leave it out (a SunSpec "not available" pattern, a status
register outside ``status_ok``, a scale factor outside -10..10).
:class:`sensord.formats.modbus.Request` builds them once per read and device; they run at
every poll, so each is a closure over what it needs.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from typing import Any

from sensord.formats.base import RegisterSpec, float32_decimal
from sensord.formats.modbus_keys import REGISTER_TABLE_SET, WIDTHS, not_available_bits
from sensord.formats.modbus_plan import Read
from sensord.formats.modbus_pymodbus import pymodbus_parts
from sensord.formats.modbus_values import SCALE_FACTORS, field_reader, scale

__all__ = [
    "Getter",
    "NotFiniteError",
    "scale_check",
    "scaled_getter",
    "status_check",
    "unavailable_getter",
    "value_getter",
]


Getter = Callable[[bytes], float]


def value_getter(reg: RegisterSpec, read: Read, data_at: int) -> Getter:
    """The number of ``reg`` from a reply frame to ``read`` whose first register (or byte of
    bits) is at ``data_at``: what :func:`~sensord.formats.modbus_values.value_reader` gives
    from pymodbus's registers.

    With both orders big the value's bytes are the big-endian number, with both little the
    little-endian one; with one of them little, swapping the bytes of each register leaves
    the value in the byte order its word order names.
    """
    offset = reg.address - read.address
    if read.table not in REGISTER_TABLE_SET:
        at, mask = data_at + offset // 8, 1 << offset % 8
        return lambda frame: 1.0 if frame[at] & mask else 0.0
    at = data_at + 2 * offset
    if reg.type == "bool":
        return lambda frame: 1.0 if frame[at] or frame[at + 1] else 0.0
    if reg.bit is not None and reg.sign is None:  # (one call less, for every status bit)
        whole = _unsigned_getter(reg, at)
        shift, mask = reg.bit, (1 << reg.bits) - 1
        return lambda frame: float((whole(frame) >> shift) & mask)
    if reg.bit is not None or reg.sign == "magnitude":
        whole, field = _unsigned_getter(reg, at), field_reader(reg)
        return lambda frame: field(whole(frame))
    code = pymodbus_parts().datatypes[reg.type].value[0]  # pymodbus's struct code of the type
    size = 2 * WIDTHS[reg.type]
    if size == 2 or reg.byte_order == reg.word_order:
        unpack_from = struct.Struct(("<" if reg.byte_order == "little" else ">") + code).unpack_from
        if reg.type.startswith("float"):
            return _finite_getter(reg, unpack_from, at, None)
        return lambda frame: float(unpack_from(frame, at)[0])
    get = _swapped_words(reg, code, at)
    if reg.type.startswith("float"):
        return _finite_getter(reg, None, at, get)
    return lambda frame: float(get(frame))


class NotFiniteError(Exception):
    """A float register holds NaN or an infinity: what a device sends for a value it does
    not measure (SunSpec's 0x7FC00000, the quiet NaN of a Vaisala transmitter's value that
    is not available). Raised by the register's getter (rare) and
    turned into ParseError ``nonfinite`` naming the register (``_left_out`` in
    :mod:`sensord.formats.modbus`)."""

    def __init__(self, name: str, value: float) -> None:
        super().__init__(name, value)
        self.text = f"{name} is {value}"


def _finite_getter(
    reg: RegisterSpec,
    unpack_from: Callable[[bytes, int], tuple[Any, ...]] | None,
    at: int,
    swapped: Callable[[bytes], int | float] | None,
) -> Getter:
    """The value of a float register ``reg`` at byte ``at`` of a reply frame, unpacked with
    ``unpack_from`` (or by ``swapped``, for a register whose byte and word orders differ), a
    float32 as :func:`float32_decimal` gives it; :class:`NotFiniteError` when it is not
    finite. (``value - value`` is 0.0 for any finite value: no call for the test.)"""
    name = reg.name
    if swapped is not None:
        if reg.type == "float32":

            def float32_swapped(frame: bytes) -> float:
                value = swapped(frame)
                if value - value:
                    raise NotFiniteError(name, value)
                return float32_decimal(value)

            return float32_swapped

        def float64_swapped(frame: bytes) -> float:
            value = swapped(frame)
            if value - value:
                raise NotFiniteError(name, value)
            return float(value)

        return float64_swapped
    assert unpack_from is not None
    unpack = unpack_from
    if reg.type == "float32":

        def float32(frame: bytes) -> float:
            value: float = unpack(frame, at)[0]
            if value - value:
                raise NotFiniteError(name, value)
            return float32_decimal(value)

        return float32

    def float64(frame: bytes) -> float:
        value: float = unpack(frame, at)[0]
        if value - value:
            raise NotFiniteError(name, value)
        return value

    return float64


def _swapped_words(reg: RegisterSpec, code: str, at: int) -> Callable[[bytes], int | float]:
    """The number of ``struct`` code ``code`` in ``reg``'s registers at byte ``at`` of a reply
    frame, for a register whose byte order and word order differ: swapping the bytes of each
    register leaves the number in the byte order its word order names."""
    size = 2 * WIDTHS[reg.type]
    unpack = struct.Struct(("<" if reg.word_order == "little" else ">") + code).unpack

    def swapped(frame: bytes) -> int | float:
        raw = frame[at : at + size]
        swap = bytearray(size)
        swap[0::2] = raw[1::2]
        swap[1::2] = raw[0::2]
        number: int | float = unpack(swap)[0]
        return number

    return swapped


#: Struct codes of an unsigned number of 2, 4 and 8 bytes.
_UNSIGNED = {2: "H", 4: "I", 8: "Q"}


def unavailable_getter(
    reg: RegisterSpec, read: Read, data_at: int
) -> Callable[[bytes], bool] | None:
    """The test whether a reply frame to ``read`` holds one of ``reg``'s ``not_available``
    values (None when it has none): an integer type's registers compared as unsigned bits,
    in the value's byte and word order; a float type's value."""
    if not reg.not_available or read.table not in REGISTER_TABLE_SET:
        return None
    if reg.type.startswith("float"):
        get = value_getter(reg, read, data_at)
        floats = frozenset(not_available_bits(reg.type, v) for v in reg.not_available)

        def listed(frame: bytes) -> bool:
            try:
                return get(frame) in floats
            except NotFiniteError:  # none of the values listed: the value's getter tells
                return False

        return listed
    bits = frozenset(int(v) for v in reg.not_available)
    get = _unsigned_getter(reg, data_at + 2 * (reg.address - read.address))
    return lambda frame: get(frame) in bits


def _unsigned_getter(reg: RegisterSpec, at: int) -> Callable[[bytes], int]:
    """The registers of ``reg`` at byte ``at`` of a reply frame as an unsigned number, in
    the value's byte and word order."""
    size = 2 * WIDTHS[reg.type]
    code = _UNSIGNED[size]
    if size == 2 or reg.byte_order == reg.word_order:
        unpack_from = struct.Struct(("<" if reg.byte_order == "little" else ">") + code).unpack_from
        return lambda frame: int(unpack_from(frame, at)[0])
    get = _swapped_words(reg, code, at)
    return lambda frame: int(get(frame))


def scale_check(
    reg: RegisterSpec, factor_reg: RegisterSpec, read: Read, data_at: int
) -> Callable[[bytes], str | None]:
    """What keeps a reply frame's value of ``reg`` from being scaled by ``factor_reg``: the
    factor not available, or outside -10..10 (SunSpec's range); None when nothing does."""
    factor = value_getter(factor_reg, read, data_at)
    unavailable = unavailable_getter(factor_reg, read, data_at)
    name = factor_reg.name

    def check(frame: bytes) -> str | None:
        if unavailable is not None and unavailable(frame):
            return f"{reg.name} (its scale factor {name} is not available)"
        value = factor(frame)
        if value not in SCALE_FACTORS:
            return f"{reg.name} (its scale factor {name} is {value:g}, outside -10..10)"
        return None

    return check


def status_check(
    reg: RegisterSpec, status_reg: RegisterSpec, read: Read, data_at: int
) -> Callable[[bytes], str | None]:
    """What keeps a reply frame's value of ``reg`` from being valid by its status register:
    the status not available, or its bits under ``status_mask`` none of ``status_ok``; None
    when nothing does. A whole integer status is compared as its unsigned bits."""
    if read.table in REGISTER_TABLE_SET and status_reg.bit is None and status_reg.type != "bool":
        status = _unsigned_getter(status_reg, data_at + 2 * (status_reg.address - read.address))
    else:
        number = value_getter(status_reg, read, data_at)

        def status(frame: bytes) -> int:
            return int(number(frame))

    unavailable = unavailable_getter(status_reg, read, data_at)
    mask, ok, name = reg.status_mask, frozenset(reg.status_ok), status_reg.name

    def check(frame: bytes) -> str | None:
        if unavailable is not None and unavailable(frame):
            return f"{reg.name} (its status {name} is not available)"
        value = status(frame)
        if mask is not None:
            # the bits that matter alone: the text names one fault however the others change
            # (a counter or a flag in the bits the mask leaves out), and is logged once a fault
            value &= mask
        if value in ok:
            return None
        shown = f"{value:#06x}" if value >= 0 else str(value)
        under = "" if mask is None else f" under mask {mask:#06x}"
        return f"{reg.name} (its status {name} is {shown}{under})"

    return check


def scaled_getter(get: Getter, factor: Getter) -> Getter:
    """``get``'s value scaled by the power of ten ``factor`` gives (checked before)."""
    return lambda frame: scale(get(frame), int(factor(frame)))
