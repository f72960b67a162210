"""The words, limits and value checks of a Modbus device's configuration keys (``modbus``,
``registers``, ``setup`` writes): what the configuration reads and checks without the codec.

The codec (:mod:`sensord.formats.modbus`) and the pymodbus parts it uses are loaded with the
first Modbus device, at the start or at a reload that adds it; a daemon of line sensors loads
only this module of the Modbus support, to declare and check the keys it does not use.
"""

from __future__ import annotations

import math
import struct
import sys
from collections.abc import Mapping

from sensord.formats.base import FLOAT32_MAX, float32_decimal

__all__ = [
    "BYTE_ORDERS",
    "LONE_UNITS",
    "MAX_BITS",
    "MAX_GAP",
    "MAX_REGISTERS",
    "REGISTER_TABLES",
    "REGISTER_TABLE_SET",
    "SERIAL_UNITS",
    "SIGNS",
    "SUNSPEC_NOT_AVAILABLE",
    "VALUE_TYPES",
    "WIDTHS",
    "WRITE_FUNCTIONS",
    "not_available_bits",
    "not_available_problem",
    "parse_reference",
    "reference_of",
    "reference_read_as_address",
    "written_value_problem",
]

REGISTER_TABLES = ("holding", "input", "coil", "discrete")
VALUE_TYPES = (
    "int16",
    "uint16",
    "int32",
    "uint32",
    "int64",
    "uint64",
    "float32",
    "float64",
    "bool",
)
BYTE_ORDERS = ("big", "little")
#: How a register's bits may carry a sign besides its type's (``RegisterSpec.sign``).
SIGNS = ("twos", "magnitude")

#: SunSpec's "not implemented" value of each integer type, as its registers' bits (a float
#: holds NaN, which is never published anyway).
SUNSPEC_NOT_AVAILABLE: Mapping[str, int] = {
    "int16": 0x8000,
    "uint16": 0xFFFF,
    "int32": 0x8000_0000,
    "uint32": 0xFFFF_FFFF,
    "int64": 0x8000_0000_0000_0000,
    "uint64": 0xFFFF_FFFF_FFFF_FFFF,
}

#: Registers (or bits) a value occupies.
WIDTHS: Mapping[str, int] = {
    "int16": 1,
    "uint16": 1,
    "int32": 2,
    "uint32": 2,
    "int64": 4,
    "uint64": 4,
    "float32": 2,
    "float64": 4,
    "bool": 1,
}

#: The most registers one read may ask for (function codes 3 and 4), and coils or discrete
#: inputs (function codes 1 and 2): the limits of the Modbus specification.
MAX_REGISTERS = 125
MAX_BITS = 2000
#: The largest ``max_gap``: a gap never exceeds what one read can hold.
MAX_GAP = MAX_REGISTERS - 2
#: The most times a read that went unanswered is asked again within a poll
#: (``modbus.retries``, ``sensord modbus read --retries``).
MAX_RETRIES = 5

#: Tables that hold 16-bit registers; the others hold single bits.
REGISTER_TABLE_SET = frozenset({"holding", "input"})

#: Unit ids on a serial line: 1..247 are the devices' own addresses (0 is the broadcast, which
#: no device answers). 248..255 are reserved by the specification, and some devices answer
#: there whatever their own address is: the SenseAir S8 at 254 (0xFE, "any sensor"), the
#: Peacefair PZEM meters at 248 (0xF8, their "general address"). Every device of that kind on
#: the line answers such a request, so a device read there shares its line with devices of
#: other kinds only (``sensord check`` notes it; it cannot tell the kinds apart).
SERIAL_UNITS = range(1, 256)
LONE_UNITS = range(248, 256)

#: Function codes of the writes a device may be set up with, by table: one register or coil,
#: and several.
WRITE_FUNCTIONS: Mapping[str, tuple[int, int]] = {"holding": (6, 16), "coil": (5, 15)}

#: Digits of a ``ref`` before the register number -> table.
_REFERENCE_TABLES = {"0": "coil", "1": "discrete", "3": "input", "4": "holding"}


def parse_reference(ref: str) -> tuple[str, int]:
    """The table and 0-based address of a 1-based reference such as ``"40001"``: its first
    digit is the table (0 coil, 1 discrete input, 3 input register, 4 holding register), the
    other four or five digits the register number counted from 1. ValueError otherwise."""
    if len(ref) not in (5, 6) or not ref.isdigit():
        raise ValueError(f"must be 5 or 6 digits such as '40001', got {ref!r}")
    table = _REFERENCE_TABLES.get(ref[0])
    if table is None:
        raise ValueError(
            "must start with its table's digit (0 coil, 1 discrete input, 3 input register, "
            f"4 holding register), got {ref!r}"
        )
    number = int(ref[1:])
    if not 1 <= number <= 65_536:
        raise ValueError(f"register numbers in a reference run from 1 to 65536, got {ref!r}")
    return table, number - 1


def reference_of(table: str, address: int) -> str:
    """The 1-based reference of ``address`` in ``table`` as device manuals write it, the one
    :func:`parse_reference` reads: ``reference_of("input", 1000)`` is ``"31001"``, six digits
    from register 10000 (``"410000"``)."""
    digit = next(d for d, name in _REFERENCE_TABLES.items() if name == table)
    number = address + 1
    return f"{digit}{number:04d}" if number <= 9999 else f"{digit}{number:05d}"


#: The first digit of a table's 1-based references in device manuals (coils, "0xxxx", are
#: left out: a coil's address cannot be told from its reference by the number)
_REFERENCE_DIGIT = {"discrete": 1, "input": 3, "holding": 4}


def reference_read_as_address(table: str, address: int) -> int | None:
    """The 0-based address that ``address`` would be if it were one of ``table``'s 1-based
    references (``30001``-``39999`` for input registers): a number copied from a manual's
    reference column into ``address``. None when it cannot be one. Some manuals (SMA's) give
    such numbers as addresses, so this is only pointed out. (Six-digit references are above
    the largest address, 65535, which the configuration refuses.)"""
    digit = _REFERENCE_DIGIT.get(table)
    if digit is None or not digit * 10_000 < address < (digit + 1) * 10_000:
        return None
    return address - digit * 10_000 - 1


def not_available_problem(type_: str, value: float) -> str | None:
    """Why ``value`` cannot be a ``not_available`` value of a ``type_`` register, or None: an
    integer type takes integers its registers can hold, read signed or unsigned (an int16's
    0x8000 may be given as 32768 or -32768); a float type any number within its range; a bool
    none."""
    if type_ == "bool":
        return "a bool has no value that means 'not available'"
    if type_.startswith("float"):
        try:
            not_available_bits(type_, value)
        except (OverflowError, struct.error):
            if abs(value) > sys.float_info.max:  # an integer beyond every float
                return f"a {type_} cannot hold an integer of {len(str(abs(int(value))))} digits"
            return f"a {type_} cannot hold {float(value):g}"
        return None
    bits = 16 * WIDTHS[type_]
    if not isinstance(value, int):
        return f"a {type_} holds integers, got {value!r}"
    if not -(2 ** (bits - 1)) <= value < 2**bits:
        return f"a {type_} cannot hold {value} (its {bits} bits, read signed or unsigned)"
    return None


def not_available_bits(type_: str, value: float) -> int | float:
    """A valid ``not_available`` value as :class:`RegisterSpec` keeps it: an integer type's
    registers' bits as an unsigned number, a float type's value at the type's precision (a
    float32's as :func:`float32_decimal` gives it)."""
    if type_ == "float32":  # as a reply's value reads: its shortest decimal
        return float32_decimal(struct.unpack(">f", struct.pack(">f", value))[0])
    if type_ == "float64":
        return float(value)
    return int(value) % (1 << 16 * WIDTHS[type_])


def written_value_problem(type_: str, value: float) -> str | None:
    """What keeps ``value`` from being written as ``type_`` (None: nothing): an integer
    type takes the integers of its range, a float type a finite number."""
    if not math.isfinite(value):
        return f"must be a finite number, got {value}"
    if type_ == "float32" and abs(value) > FLOAT32_MAX:
        return f"a float32 holds at most ±{FLOAT32_MAX:.7g}, got {value:g}"
    if type_.startswith("float"):
        return None
    if not float(value).is_integer():
        return f"a {type_} holds integers, got {value:g}"
    bits = 16 * WIDTHS[type_]
    lo, hi = (
        (0, 2**bits - 1) if type_.startswith("u") else (-(2 ** (bits - 1)), 2 ** (bits - 1) - 1)
    )
    if not lo <= value <= hi:
        return f"a {type_} holds {lo}..{hi}, got {int(value)}"
    return None
