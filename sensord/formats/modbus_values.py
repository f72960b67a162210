"""How a Modbus value's registers (or bits) become its number, and its number the registers a
device holds: the value types, byte and word orders, bit fields and signs of
:class:`~sensord.formats.base.RegisterSpec`, and SunSpec's scale factors.

:func:`value_reader` reads registers as pymodbus gives them (``convert_from_registers``),
:func:`register_words` and :func:`hold` write them for a simulated device; the by-hand
decoder of a reply's bytes is :class:`sensord.formats.modbus.Request`'s.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping, Sequence

from sensord.formats.base import FLOAT32_MAX, RegisterSpec, float32_decimal
from sensord.formats.modbus_keys import REGISTER_TABLE_SET, WIDTHS
from sensord.formats.modbus_pymodbus import pymodbus_parts

__all__ = ["SCALE_FACTORS", "field_reader", "hold", "register_words", "scale", "value_reader"]


@functools.lru_cache(maxsize=1024)
def value_reader(reg: RegisterSpec) -> Callable[[list[int]], float]:
    """The function that turns a value's registers (or bits) into its number."""
    if reg.type == "bool":
        if reg.table in REGISTER_TABLE_SET:
            return lambda words: 1.0 if words[0] else 0.0
        return lambda bits: 1.0 if bits[0] else 0.0
    if reg.bit is not None or reg.sign == "magnitude":
        byte_order, word_order = reg.byte_order, reg.word_order
        field = field_reader(reg)
        return lambda words: field(_unsigned_of(words, byte_order, word_order))
    datatype = pymodbus_parts().datatypes[reg.type]
    word_order = reg.word_order
    convert = pymodbus_parts().mixin.convert_from_registers
    number = float32_decimal if reg.type == "float32" else float
    if reg.byte_order == "little":

        def swapped(words: list[int]) -> float:
            words = [((w & 0xFF) << 8) | (w >> 8) for w in words]
            return number(convert(words, datatype, word_order=word_order))  # type: ignore[arg-type]

        return swapped
    return lambda words: number(convert(words, datatype, word_order=word_order))  # type: ignore[arg-type]


def field_reader(reg: RegisterSpec) -> Callable[[int], float]:
    """The number of ``reg``'s bit field (or of a whole value with a sign of its own) in its
    registers, given as an unsigned number."""
    bits = reg.bits if reg.bit is not None else 16 * WIDTHS[reg.type]
    shift, mask = reg.bit or 0, (1 << bits) - 1
    signed = _signed(reg.sign, bits)
    return lambda whole: signed((whole >> shift) & mask)


def _signed(sign: str | None, bits: int) -> Callable[[int], float]:
    """The number ``bits`` bits stand for as ``sign`` reads them (None: unsigned)."""
    top = 1 << (bits - 1)
    if sign == "twos":
        return lambda raw: float((raw ^ top) - top)
    if sign == "magnitude":
        low = top - 1
        return lambda raw: float(-(raw & low) if raw & top else raw)
    return float


def _bits_of(number: int, bits: int, sign: str | None) -> int:
    """The inverse of :func:`_signed`: ``number``, clamped to what ``bits`` bits hold when
    read as ``sign`` says, as those bits."""
    top = 1 << (bits - 1)
    if sign == "twos":
        return min(max(number, -top), top - 1) & ((1 << bits) - 1)
    if sign == "magnitude":
        magnitude = min(abs(number), top - 1)
        return magnitude | top if number < 0 and magnitude else magnitude
    return min(max(0, number), (1 << bits) - 1)


def _unsigned_of(words: Sequence[int], byte_order: str, word_order: str) -> int:
    """The unsigned integer registers hold in these orders (exact for 64 bits, where a
    float is not)."""
    if word_order == "little":
        words = words[::-1]
    number = 0
    for word in words:
        number = number << 16 | (
            ((word & 0xFF) << 8 | word >> 8) if byte_order == "little" else word
        )
    return number


def _words_of(number: int, width: int, byte_order: str, word_order: str) -> list[int]:
    """The registers of an unsigned integer in these orders (:func:`_unsigned_of`'s inverse)."""
    words = [number >> 16 * (width - 1 - k) & 0xFFFF for k in range(width)]
    if byte_order == "little":
        words = [(w & 0xFF) << 8 | w >> 8 for w in words]
    return words[::-1] if word_order == "little" else words


def register_words(reg: RegisterSpec, value: float) -> list[int]:
    """The registers that hold ``value`` as ``reg``'s type, in its byte and word order."""
    return _value_writer(reg)(value)


@functools.lru_cache(maxsize=1024)
def _value_writer(reg: RegisterSpec) -> Callable[[float], list[int]]:
    """The inverse of :func:`value_reader`: the registers (or bits) a device holds."""
    if reg.type == "bool":
        return lambda value: [1 if value else 0]
    if reg.sign == "magnitude":
        width, orders = WIDTHS[reg.type], (reg.byte_order, reg.word_order)

        def sign_and_magnitude(value: float) -> list[int]:
            number = round(value) if math.isfinite(value) else 0
            return _words_of(_bits_of(number, 16 * width, "magnitude"), width, *orders)

        return sign_and_magnitude
    datatype = pymodbus_parts().datatypes[reg.type]
    integer = not reg.type.startswith("float")
    word_order = reg.word_order
    convert = pymodbus_parts().mixin.convert_to_registers

    float32 = reg.type == "float32"
    bits = 16 * WIDTHS[reg.type]
    lo, hi = (
        (0, 2**bits - 1) if reg.type.startswith("u") else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    )

    def write(value: float) -> list[int]:
        if integer and not math.isfinite(value):
            value = 0.0
        number: float | int = value
        if integer:
            number = min(hi, max(lo, round(value)))
        elif float32 and math.isfinite(value):
            # a simulated device holds a larger value as the largest, as a real one can hold
            # no more
            number = min(FLOAT32_MAX, max(-FLOAT32_MAX, value))
        words = convert(number, datatype, word_order=word_order)  # type: ignore[arg-type]
        if reg.byte_order == "little":
            words = [((w & 0xFF) << 8) | (w >> 8) for w in words]
        return list(words)

    return write


def hold(registers: Sequence[RegisterSpec], values: Mapping[str, float]) -> dict[int, int]:
    """The registers (or bits) by address of a device that holds ``values`` in
    ``registers`` (of one table): a bit field set in the registers it shares with other
    fields, a value with a scale factor held as its number at the power of ten its factor
    holds, chosen as a SunSpec device does (the finest that fits its type: 230.41 V in a
    uint16 is 23041 at -2, 70 kW in an int16 is 7000 at 1). A value that is absent or not
    finite leaves its registers at 0."""
    factors: dict[str, int] = {}
    statuses = _valid_statuses(registers)
    for reg in registers:
        if reg.scale_register is not None:
            # a factor several values share (SunSpec's A_SF of A, AphA, AphB, AphC) fits
            # them all
            need = _factor_for(reg, values.get(reg.name))
            factors[reg.scale_register] = max(factors.get(reg.scale_register, -2), need)
    out: dict[int, int] = {}
    for reg in sorted(registers, key=lambda r: r.bit is not None):  # whole values first
        value = (
            float(factors[reg.name])
            if reg.name in factors
            else float(statuses[reg.name])
            if reg.name in statuses
            else values.get(reg.name)
        )
        if value is None or not math.isfinite(value):
            continue
        if reg.scale_register is not None:
            value = scale(value, -factors[reg.scale_register])
        width = WIDTHS[reg.type]
        if reg.bit is not None:
            mask = ((1 << reg.bits) - 1) << reg.bit
            order = reg.byte_order, reg.word_order
            held = _unsigned_of([out.get(reg.address + k, 0) for k in range(width)], *order)
            field = (_bits_of(round(value), reg.bits, reg.sign) << reg.bit) & mask
            words = _words_of(held & ~mask | field, width, *order)
        elif reg.name in statuses and reg.type != "bool":
            # a status is compared as its unsigned bits: held so, whatever its type's sign
            words = _words_of(round(value), width, reg.byte_order, reg.word_order)
        else:
            words = _value_writer(reg)(value)
        for k, word in enumerate(words):
            out[reg.address + k] = word
    return out


def _valid_statuses(registers: Sequence[RegisterSpec]) -> dict[str, int]:
    """The value a simulated device holds in each status register: the first of the values
    its values are valid under (``status_ok``, in the order they name them) that every value
    naming it takes under its ``status_mask``; the first value's first when none is."""
    takers: dict[str, list[RegisterSpec]] = {}
    for reg in registers:
        if reg.status_register:
            takers.setdefault(reg.status_register, []).append(reg)
    out: dict[str, int] = {}
    for name, regs in takers.items():
        candidates = [v for reg in regs for v in reg.status_ok]
        out[name] = next(
            (
                v
                for v in candidates
                if all(
                    (v if r.status_mask is None else v & r.status_mask) in r.status_ok for r in regs
                )
            ),
            candidates[0],
        )
    return out


def _factor_for(reg: RegisterSpec, value: float | None) -> int:
    """The power of ten a simulated device holds ``value`` of ``reg`` at: the finest from
    -2 on whose number fits the type."""
    if value is None or not math.isfinite(value) or reg.type.startswith("float"):
        return -2
    bits = 16 * WIDTHS[reg.type]
    top = 2**bits - 1 if reg.type.startswith("u") else 2 ** (bits - 1) - 1
    return next((f for f in range(-2, 11) if abs(scale(value, -f)) <= top), 10)


#: The powers of ten a SunSpec scale factor may stand for (-10..10).
SCALE_FACTORS = range(-10, 11)

_POWERS_OF_TEN = {n: 10.0**n for n in range(11)}


def scale(value: float, factor: int) -> float:
    """``value * 10**factor``, a negative ``factor`` as a division: ``2304`` at -1 is 230.4,
    not the 230.40000000000003 a multiplication by 0.1 gives."""
    return value * _POWERS_OF_TEN[factor] if factor >= 0 else value / _POWERS_OF_TEN[-factor]
