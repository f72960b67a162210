"""The reads a Modbus device's register map needs, and how a read its device refuses is split.

:func:`plan` merges the values of one table whose registers lie at most ``max_gap`` apart
into reads of at most ``max_registers`` (2000 coils or discrete inputs); :func:`split` gives
the reads to try instead of one the device refused with exception 0x02 or 0x03, and
:func:`splits` every read that splitting can give. A value and its scale factor or status
register, and the bit fields of one register, are never parted (:func:`pieces_of`).
:class:`Read` turns a response's registers into ``(field, value)`` pairs.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from sensord.errors import ParseError
from sensord.formats.base import ModbusSpec, RegisterSpec
from sensord.formats.modbus_keys import (
    MAX_BITS,
    MAX_REGISTERS,
    REGISTER_TABLE_SET,
    REGISTER_TABLES,
    WIDTHS,
)
from sensord.formats.modbus_pymodbus import FUNCTION_CODES
from sensord.formats.modbus_values import SCALE_FACTORS, hold, scale, value_reader

__all__ = ["Read", "end_of", "first_piece", "pieces_of", "plan", "read_limit", "split", "splits"]


@dataclass(frozen=True, slots=True)
class Read:
    """One read request of a device: ``count`` registers (or bits) of ``table`` from
    ``address``, holding the values of ``registers``."""

    table: str
    address: int
    count: int
    registers: tuple[RegisterSpec, ...]
    _readers: tuple[tuple[str, int, int, Callable[[list[int]], float]], ...] = field(
        default=(), compare=False, repr=False
    )

    #: ``(i, j)``: the value at ``i`` of :attr:`registers` is scaled by the one at ``j``
    _scaled: tuple[tuple[int, int], ...] = field(default=(), compare=False, repr=False)
    #: the function code of a write (:class:`~sensord.formats.modbus.WriteRequest`); 0: the
    #: read of ``table``
    function: int = 0

    @classmethod
    def of(cls, table: str, registers: tuple[RegisterSpec, ...]) -> Read:
        """The read of ``registers`` (in address order), from the first one's address."""
        address = registers[0].address
        end = max(r.address + WIDTHS[r.type] for r in registers)
        readers = tuple(
            (r.name, r.address - address, WIDTHS[r.type], value_reader(r)) for r in registers
        )
        at = {r.name: i for i, r in enumerate(registers)}
        scaled = tuple(
            (i, at[r.scale_register])
            for i, r in enumerate(registers)
            if r.scale_register is not None and r.scale_register in at
        )
        return cls(table, address, end - address, registers, readers, scaled)

    @property
    def function_code(self) -> int:
        return self.function or FUNCTION_CODES[self.table]

    def values(self, words: list[int]) -> list[tuple[str, float]]:
        """``(field, value)`` for each value of this read from the response's registers (or
        bits), a value with a scale factor scaled (NaN when the factor is outside -10..10);
        ParseError when the response holds fewer than the read asked for."""
        if len(words) < self.count:
            raise ParseError("truncated", f"{len(words)} of {self.count} {self.table} values")
        values = [(name, read(words[at : at + n])) for name, at, n, read in self._readers]
        for i, j in self._scaled:
            name, value = values[i]
            factor = values[j][1]
            values[i] = (name, scale(value, int(factor)) if factor in SCALE_FACTORS else math.nan)
        return values

    def words(self, values: Mapping[str, float]) -> list[int]:
        """The registers (or bits) a device holding ``values`` answers this read with."""
        held = hold(self.registers, values)
        return [held.get(a, 0) for a in range(self.address, self.address + self.count)]


def read_limit(table: str, spec: ModbusSpec) -> int:
    return min(MAX_REGISTERS, spec.max_registers) if table in REGISTER_TABLE_SET else MAX_BITS


def pieces_of(registers: Sequence[RegisterSpec]) -> list[tuple[RegisterSpec, ...]]:
    """``registers`` (of one table) in the pieces no read may cut, in address order: the
    values that share registers (bit fields of one register), and a value with its scale
    factor (which a SunSpec device may change with the value, so the two are read in one
    request) or its status register (which speaks of the value read with it), each with
    every value joined to it so."""
    parent = list(range(len(registers)))

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    by_name = {reg.name: i for i, reg in enumerate(registers)}
    order = sorted(range(len(registers)), key=lambda i: registers[i].address)
    end, last = -1, -1
    for i in order:
        reg = registers[i]
        if reg.address < end:
            parent[root(i)] = root(last)
        if reg.address + WIDTHS[reg.type] > end:
            end, last = reg.address + WIDTHS[reg.type], i
        for other in (reg.scale_register, reg.status_register):
            if other is not None and other in by_name:
                parent[root(i)] = root(by_name[other])
    pieces: dict[int, list[RegisterSpec]] = {}
    for i in order:
        pieces.setdefault(root(i), []).append(registers[i])
    # pieces whose spans interleave (W and W_SF around Hz and Hz_SF) are one: a read of
    # either would span the other's registers
    merged: list[list[RegisterSpec]] = []
    for piece in sorted(pieces.values(), key=lambda p: p[0].address):
        if merged and piece[0].address < end_of(merged[-1]):
            merged[-1] = sorted([*merged[-1], *piece], key=lambda r: r.address)
        else:
            merged.append(piece)
    return [tuple(piece) for piece in merged]


def end_of(registers: Sequence[RegisterSpec]) -> int:
    return max(reg.address + WIDTHS[reg.type] for reg in registers)


def _read_of(table: str, pieces: Sequence[tuple[RegisterSpec, ...]]) -> Read:
    return Read.of(
        table, tuple(sorted((r for piece in pieces for r in piece), key=lambda r: r.address))
    )


def plan(spec: ModbusSpec) -> tuple[Read, ...]:
    """The reads of a device: per table, values in address order share a read while the
    registers between them number at most ``max_gap`` and the read stays within the limit
    (``max_registers``; a single value wider than that is still one read). A value and its
    scale factor, and values that share registers, are always read together
    (:func:`pieces_of`)."""
    reads: list[Read] = []
    for table in REGISTER_TABLES:
        group: list[tuple[RegisterSpec, ...]] = []
        end = 0
        for piece in pieces_of([r for r in spec.registers if r.table == table]):
            start, piece_end = piece[0].address, end_of(piece)
            if group and (
                start - end > spec.max_gap
                or piece_end - group[0][0].address > read_limit(table, spec)
            ):
                reads.append(_read_of(table, group))
                group = []
            group.append(piece)
            end = piece_end if len(group) == 1 else max(end, piece_end)
        if group:
            reads.append(_read_of(table, group))
    return tuple(reads)


def split(read: Read) -> tuple[Read, ...]:
    """The reads to try instead of ``read``, which its device refused (a register in a gap
    it does not map, or a count its firmware does not take): when ``read`` spans gaps between
    its values, one read per run of adjacent values, since a gap is where an unmapped
    register is most likely; else its two halves, at the first value that starts in its
    second half. A half refused in turn is split again, so a read comes down to one read per
    value only where the device refuses every larger one. A read of one value (or of values
    that are read together, :func:`pieces_of`): none."""
    pieces = pieces_of(read.registers)
    if len(pieces) < 2:
        return ()
    runs: list[list[tuple[RegisterSpec, ...]]] = [[pieces[0]]]
    end = end_of(pieces[0])
    for piece in pieces[1:]:
        if piece[0].address > end:
            runs.append([])
        runs[-1].append(piece)
        end = max(end, end_of(piece))
    if len(runs) == 1:
        middle = read.address + read.count // 2
        at = next((i for i, piece in enumerate(pieces) if piece[0].address >= middle), 0)
        at = min(max(at, 1), len(pieces) - 1)
        runs = [list(pieces[:at]), list(pieces[at:])]
    return tuple(_read_of(read.table, run) for run in runs)


def first_piece(read: Read) -> Read | None:
    """The read of ``read``'s first value alone (with what is read together with it,
    :func:`pieces_of`), the smallest read its device should answer if it answers any; None
    when that is ``read`` itself. :func:`splits` gives it too."""
    pieces = pieces_of(read.registers)
    return None if len(pieces) < 2 else Read.of(read.table, pieces[0])


def splits(read: Read) -> Iterator[Read]:
    """``read`` and every read that splitting it (:func:`split`), again and again, can give."""
    yield read
    for part in split(read):
        yield from splits(part)
