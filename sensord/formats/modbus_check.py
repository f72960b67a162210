"""The check of a Modbus device's register map (``format = "modbus"``'s ``check``): types that
fit their table and the address space, no two values in the same registers but bit fields of
one value, bit fields and signs their type can hold, scale factors and status registers that
name a value of the same table and are read in one request with the values they speak of.
Each problem names its key (``registers[2].bit``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

from sensord.formats.base import FormatSpec, ModbusSpec, RegisterSpec
from sensord.formats.modbus_keys import REGISTER_TABLE_SET, REGISTER_TABLES, WIDTHS
from sensord.formats.modbus_plan import end_of, pieces_of, read_limit
from sensord.formats.text import check_value_options

__all__ = ["check"]


def check(spec: FormatSpec) -> list[tuple[str, str]]:
    """The register map: types that fit their table and the address space, no two values in
    the same registers (but bit fields of the same registers, and the whole value they are
    fields of), bit fields within their type, and scale factors that can be read with their
    values."""
    modbus = spec.modbus
    if modbus is None:
        return [("registers", "format 'modbus' needs a register map")]
    problems = check_value_options(spec, reads_values=False)
    taken: dict[tuple[str, int], list[int]] = {}
    registers = modbus.registers
    for i, reg in enumerate(registers):
        key = f"registers[{i}]"
        if reg.table not in REGISTER_TABLE_SET and reg.type != "bool":
            problems.append(
                (
                    f"{key}.type",
                    f"a {reg.table} holds one bit: the type must be bool, got {reg.type!r}",
                )
            )
            continue
        width = WIDTHS[reg.type]
        if reg.address + width > 65_536:
            problems.append(
                (
                    f"{key}.address",
                    f"a {reg.type} at {reg.address} runs past the last address 65535",
                )
            )
            continue
        problem = _bit_problem(reg)
        if problem is not None:
            problems.append((f"{key}.{problem[0]}", problem[1]))
            continue
        clash = _first_clash(reg, registers, taken)
        if clash is not None:
            problems.append((f"{key}.{clash[0]}", clash[1]))
        for at in range(reg.address, reg.address + width):
            taken.setdefault((reg.table, at), []).append(i)
    joins = _scale_problems(modbus) + _status_problems(modbus)
    problems.extend(joins or _piece_problems(modbus))
    return problems


def _bit_problem(reg: RegisterSpec) -> tuple[str, str] | None:
    """What is wrong with ``reg``'s bit field or sign: a type that has no bits to take, bits
    past its last, or a sign where none can be."""
    if reg.sign is not None:
        if reg.type in ("bool", "float32", "float64"):
            return ("sign", f"a {reg.type} has no sign of that kind: sign reads an integer")
        if reg.bit is None and reg.sign == "twos":
            signed = f"int{16 * WIDTHS[reg.type]}"
            return (
                "sign",
                "a whole value is read as its type says: an int type is two's complement "
                f'(type = "{signed}"); sign = "twos" reads a bit field so',
            )
        if reg.bit is not None and reg.bits == 1:
            return ("sign", "a field of one bit has no room for a sign and a value: give bits")
    if reg.bit is None:
        return None
    if reg.type in ("bool", "float32", "float64"):
        return ("bit", f"a bit field is read from an integer type, not {reg.type}")
    size = 16 * WIDTHS[reg.type]
    if reg.bit + reg.bits > size:
        last = "bit" if reg.bits == 1 else f"bits {reg.bit}..{reg.bit + reg.bits - 1}"
        return (
            "bits" if reg.bits > 1 else "bit",
            f"a {reg.type} has bits 0..{size - 1}, got {last}"
            + ("" if reg.bits > 1 else f" {reg.bit}"),
        )
    return None


def _first_clash(
    reg: RegisterSpec,
    registers: Sequence[RegisterSpec],
    taken: Mapping[tuple[str, int], Sequence[int]],
) -> tuple[str, str] | None:
    """The key and message of the first value before ``reg`` (``taken``: the indexes of the
    values that read each address) that ``reg`` may not share registers with."""
    for at in range(reg.address, reg.address + WIDTHS[reg.type]):
        for j in taken.get((reg.table, at), ()):
            clash = _clash(reg, registers[j])
            if clash is None:
                continue
            other = f"registers[{j}] ({_span(registers[j])})"
            if clash == "bits":
                mine, theirs = _bit_span(reg), _bit_span(registers[j])
                lo = max(reg.bit or 0, registers[j].bit or 0)  # (both bit fields: a bits clash)
                hi = min((reg.bit or 0) + reg.bits, (registers[j].bit or 0) + registers[j].bits) - 1
                shared = f"bit {lo}" if lo == hi else f"bits {lo}..{hi}"
                verb = "overlaps" if reg.bits == 1 else "overlap"
                return ("bit", f"its {mine} {verb} the {theirs} of {other}: {shared} in both")
            return ("address", f"{reg.table} address {at} is already read by {other}")
    return None


def _bit_span(reg: RegisterSpec) -> str:
    """A bit field's bits as ``check`` names them: ``bit 3``, ``bits 0..3``."""
    assert reg.bit is not None
    return f"bit {reg.bit}" if reg.bits == 1 else f"bits {reg.bit}..{reg.bit + reg.bits - 1}"


def _clash(reg: RegisterSpec, other: RegisterSpec) -> str | None:
    """Why ``reg`` may not read registers that ``other`` reads: ``"address"`` when the two
    are not fields of the same registers (or one the whole value of the other's field),
    ``"bits"`` when they are fields with bits in common; None when they may."""
    same = (reg.address, WIDTHS[reg.type], reg.byte_order, reg.word_order) == (
        other.address,
        WIDTHS[other.type],
        other.byte_order,
        other.word_order,
    )
    if not same or (reg.bit is None and other.bit is None):
        return "address"
    if reg.bit is None or other.bit is None:
        return None
    if reg.bit < other.bit + other.bits and other.bit < reg.bit + reg.bits:
        return "bits"
    return None


def _joined(
    modbus: ModbusSpec, key: str, read_with: str, advice: str = ""
) -> Iterator[tuple[int, RegisterSpec, RegisterSpec | tuple[str, str]]]:
    """Each value of the map that names another in ``key`` (``scale_register``,
    ``status_register``): its index, itself, and the value it names, or the problem when it
    names none or one of another table (``read_with``: why the two share a table; ``advice``
    after it)."""
    by_name = {reg.name: reg for reg in modbus.registers}
    for i, reg in enumerate(modbus.registers):
        name = getattr(reg, key)
        if name is None:
            continue
        where = f"registers[{i}].{key}"
        other = by_name.get(name)
        if other is None or other is reg:
            yield i, reg, (where, f"no other register is named {name!r}")
        elif other.table != reg.table:
            yield (
                i,
                reg,
                (
                    where,
                    f"{name!r} is {'an' if other.table == 'input' else 'a'} {other.table} value; "
                    f"{read_with}, from the same table ({reg.table}){advice}",
                ),
            )
        else:
            yield i, reg, other


def _scale_problems(modbus: ModbusSpec) -> list[tuple[str, str]]:
    """Scale factors that name no value of the map, are no integer, or cannot be read in
    the same request as the value they scale."""
    problems: list[tuple[str, str]] = []
    for i, reg, factor in _joined(
        modbus, "scale_register", "a scale factor is read with its value"
    ):
        key, name = f"registers[{i}].scale_register", reg.scale_register
        if isinstance(factor, tuple):
            problems.append(factor)
        elif factor.type not in ("int16", "int32") or factor.bit is not None:
            problems.append(
                (
                    key,
                    f"{name!r} is a {factor.type}{' bit field' if factor.bit is not None else ''}"
                    "; a scale factor is a signed integer (SunSpec's sunssf is an int16, "
                    'whose -2 a uint16 reads as 65534): give it type = "int16"',
                )
            )
        elif factor.scale_register is not None:
            problems.append((key, f"{name!r} has a scale factor of its own"))
        elif reg.type == "bool":
            problems.append((key, "a bool is not scaled"))
    return problems


def _status_problems(modbus: ModbusSpec) -> list[tuple[str, str]]:
    """Status registers that name no other value of the map, are no integer, are in
    another table than the value they speak of, have a status of their own or a sign, or
    cannot hold a value of ``status_ok``."""
    problems: list[tuple[str, str]] = []
    read_with = "a status is read with the value it speaks of"
    advice = ": give the value's status a register of its table, or leave status_register out"
    for i, reg, status in _joined(modbus, "status_register", read_with, advice):
        key, name = f"registers[{i}].status_register", reg.status_register
        if isinstance(status, tuple):
            problems.append(status)
        elif status.type.startswith("float"):
            problems.append(
                (key, f"{name!r} is a {status.type}; a status is an integer (uint16, a bit field)")
            )
        elif status.status_register is not None:
            problems.append((key, f"{name!r} has a status register of its own"))
        elif status.sign is not None:
            # a signed bit field reads -1 where status_ok (integers >= 0) names its bits
            problems.append(
                (
                    key,
                    f"{name!r} has a sign; a status is compared as its unsigned bits: leave "
                    "its sign out",
                )
            )
        else:
            bits, what = _status_width(status)
            beyond = next((v for v in reg.status_ok if v >> bits), None)
            if beyond is not None:
                problems.append(
                    (
                        f"registers[{i}].status_ok",
                        f"{beyond:#x} is more than {name!r}, {what}, holds (at most "
                        f"{(1 << bits) - 1:#x}): the value would never be published",
                    )
                )
    return problems


def _status_width(status: RegisterSpec) -> tuple[int, str]:
    """The bits a status register's value has (as
    :func:`~sensord.formats.modbus_getters.status_check` reads it), and what it is, for a
    message."""
    if status.table not in REGISTER_TABLE_SET:
        return 1, "a coil" if status.table == "coil" else "a discrete input"
    if status.type == "bool":
        return 1, "a bool"
    if status.bit is not None:
        return status.bits, f"a {status.bits}-bit field"
    return 16 * WIDTHS[status.type], f"a {status.type}"


#: What a read of each table counts, for a message.
_UNITS_OF_TABLE = {
    "holding": "registers",
    "input": "registers",
    "coil": "coils",
    "discrete": "discrete inputs",
}


def _piece_problems(modbus: ModbusSpec) -> list[tuple[str, str]]:
    """Values read in one request with their scale factors or status registers
    (:func:`~sensord.formats.modbus_plan.pieces_of`) that take more registers (or coils, or
    discrete inputs) than one read may."""
    problems: list[tuple[str, str]] = []
    for table in REGISTER_TABLES:
        for piece in pieces_of([r for r in modbus.registers if r.table == table]):
            start, end = piece[0].address, end_of(piece)
            if len(piece) > 1 and end - start > read_limit(table, modbus):
                names = ", ".join(repr(r.name) for r in piece)
                joined = next(
                    (r for r in piece if r.scale_register is not None or r.status_register),
                    None,
                )
                if joined is None:  # bit fields of one value: that value's own width
                    continue
                key = "scale_register" if joined.scale_register is not None else "status_register"
                units = _UNITS_OF_TABLE[table]
                way_out = (
                    ""
                    if key == "scale_register"
                    else "; a status this far from its value cannot gate it: leave "
                    "status_register out and read the status as a channel of its own"
                )
                problems.append(
                    (
                        f"registers[{modbus.registers.index(joined)}].{key}",
                        f"{names} are read in one request, and take {end - start} {units} "
                        f"({table} {start}-{end - 1}): more than one read takes "
                        f"({read_limit(table, modbus)}){way_out}",
                    )
                )
    return problems


def _span(reg: RegisterSpec) -> str:
    """What a register map's value takes: ``'voltage', a float32 at input addresses 0-1``;
    a value of more than one register is the overlap an operator most often overlooks."""
    last = reg.address + WIDTHS[reg.type] - 1
    at = f"address {reg.address}" if last == reg.address else f"addresses {reg.address}-{last}"
    return f"{reg.name!r}, a {reg.type} at {reg.table} {at}"
