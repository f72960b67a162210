"""What ``sensord modbus read`` (:mod:`sensord.probe`) prints of an answer: the registers raw
and decoded as every type in all four byte/word orders, with notes on the values a device
holds for one it does not measure.
"""

from __future__ import annotations

import math
import struct
from typing import Literal

from sensord.formats.base import RegisterSpec
from sensord.formats.modbus_keys import (
    BYTE_ORDERS,
    SUNSPEC_NOT_AVAILABLE,
    WIDTHS,
)
from sensord.formats.modbus_plan import Read

__all__ = ["format_read", "whole_number"]


def format_read(table: str, address: int, words: list[int]) -> str:
    if table in ("coil", "discrete"):
        bits = " ".join(str(b) for b in words)
        return f"{table} {address}..{address + len(words) - 1}: {bits}"
    lines = [f"{table} registers from {address} (ref {_ref(table, address)}):"]
    for i, word in enumerate(words):
        lines.append(f"  {address + i:5d}: 0x{word:04x} {word:6d}")
    lines.append("decoded from the first register on (byte_order/word_order):")
    orders = [(b, w) for b in BYTE_ORDERS for w in BYTE_ORDERS]
    header = "".join(f"{f'{b}/{w}':>24}" for b, w in orders)
    lines.append(f"  {'type':8}{header}")
    for type_, width in WIDTHS.items():
        if type_ == "bool" or width > len(words):
            continue
        cells = []
        for byte_order, word_order in orders:
            spec = RegisterSpec("v", table, address, type_, byte_order, word_order)
            [(_, value)] = Read.of(table, (spec,)).values(words[:width])
            if type_.startswith("float"):
                digits = 7 if type_ == "float32" else 15
                cells.append(f"{value:>24.{digits}g}")
            else:  # exact: a 64-bit integer past 2**53 has no float of its own
                whole = whole_number(words[:width], type_, byte_order, word_order)
                cells.append(f"{whole:>24d}")
        lines.append(f"  {type_:8}" + "".join(cells))
    lines += _not_available_notes(words)
    return "\n".join(lines)


def _not_available_notes(words: list[int]) -> list[str]:
    """What the registers ``words`` hold from the first on, in the standard orders (big/big),
    that devices hold for a value they do not measure: SunSpec's "not implemented" integer
    values, which the daemon publishes unless told, and a float's NaN, which it never does."""
    marked = [
        f"{type_} ({bits:#x})"
        for type_, bits in SUNSPEC_NOT_AVAILABLE.items()
        if WIDTHS[type_] <= len(words)
        and whole_number(words[: WIDTHS[type_]], f"uint{16 * WIDTHS[type_]}", "big", "big") == bits
    ]
    notes = []
    if marked:
        notes.append(
            f'note: big/big holds SunSpec\'s "not implemented" value of {", ".join(marked)}: a '
            "device's value for one it does not measure, which the daemon publishes as a "
            "reading unless the register's not_available (or modbus.sunspec_not_available) "
            "names it"
        )
    nan = [
        type_
        for type_, fmt in (("float32", ">f"), ("float64", ">d"))
        if WIDTHS[type_] <= len(words)
        and math.isnan(
            struct.unpack(fmt, b"".join(w.to_bytes(2, "big") for w in words[: WIDTHS[type_]]))[0]
        )
    ]
    if nan:
        notes.append(
            f"note: big/big holds a NaN as {' and '.join(nan)}: a device's value for one it "
            "does not measure (SunSpec's 0x7fc00000), which the daemon never publishes "
            "(nonfinite)"
        )
    return notes


def whole_number(words: list[int], type_: str, byte_order: str, word_order: str) -> int:
    """The integer of type ``type_`` that the registers ``words`` hold in these orders."""
    ordered = words if word_order == "big" else words[::-1]
    within: Literal["big", "little"] = "big" if byte_order == "big" else "little"
    data = b"".join(word.to_bytes(2, within) for word in ordered)
    return int.from_bytes(data, "big", signed=type_.startswith("int"))


def _ref(table: str, address: int) -> str:
    prefix = "4" if table == "holding" else "3"
    digits = 4 if address < 9999 else 5
    return f"{prefix}{address + 1:0{digits}d}"
