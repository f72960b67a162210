"""A simulated Modbus RTU device (:class:`DeviceModel`): the register map of a device
configuration, answering each request frame with the response frame, or the exception, a
device that maps those registers sends. The simulated ports of Modbus sensors
(:mod:`sensord.sources.simulated_modbus`) answer with it.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping

from sensord.formats.base import ModbusSpec
from sensord.formats.modbus import REQUEST_BYTES, RTU_MIN_BYTES, WRITE_CODES, crc16, response_frame
from sensord.formats.modbus_keys import REGISTER_TABLES
from sensord.formats.modbus_plan import Read, end_of, pieces_of
from sensord.formats.modbus_pymodbus import FUNCTION_CODES, pymodbus_parts
from sensord.formats.modbus_values import hold

__all__ = ["DeviceModel"]


class DeviceModel:
    """The register map of a simulated RTU device: ``answer`` turns a request frame into the
    response frame the device sends, from the values of its registers at that moment.

    A request for another unit id, with a wrong CRC or cut short gets no answer (as on a bus);
    a function code other than the four reads gets exception 0x01, a read that touches an
    address outside the map exception 0x02.
    """

    def __init__(self, spec: ModbusSpec) -> None:
        self.spec = spec
        self._decoder = pymodbus_parts().decode_pdu(True)
        #: table -> its values, and the addresses they take
        self._registers = {t: [r for r in spec.registers if r.table == t] for t in REGISTER_TABLES}
        #: the addresses it maps: its values', those between a value and its scale factor (a
        #: SunSpec device maps every register of its models), and the gaps of at most
        #: ``max_gap`` between values, which the configuration says the device maps
        self._mapped = {
            table: _with_gaps(
                {a for piece in pieces_of(regs) for a in range(piece[0].address, end_of(piece))},
                spec.max_gap,
            )
            for table, regs in self._registers.items()
        }
        self._tables = {code: table for table, code in FUNCTION_CODES.items()}

    def answer(self, request: bytes, values: Callable[[], Mapping[str, float]]) -> bytes | None:
        if len(request) < RTU_MIN_BYTES or request[0] != self.spec.unit:
            return None
        if not pymodbus_parts().framer_rtu.check_CRC(
            request[:-2], int.from_bytes(request[-2:], "big")
        ):
            return None
        function_code = request[1]
        if function_code in WRITE_CODES and len(request) >= REQUEST_BYTES["rtu"]:
            # a set-up write: taken, and echoed (its whole request, or address and count)
            body = request[:6]
            return body + crc16(body).to_bytes(2, "little")
        table = self._tables.get(function_code)
        pdu = self._decoder.decode(request[1:-2]) if table is not None else None
        if table is None or pdu is None:
            return self._exception(function_code, 1)
        address, count = int(pdu.address), int(pdu.count)
        asked = range(address, address + count)
        if not asked or not self._mapped[table].issuperset(asked):
            return self._exception(function_code, 2)
        held = hold(self._registers[table], values())
        words = [held.get(a, 0) for a in asked]
        return response_frame(self.spec, Read(table, address, count, ()), words, 0)

    def _exception(self, function_code: int, code: int) -> bytes:
        pymodbus = pymodbus_parts()
        pdu = pymodbus.exception_response(function_code, code, device_id=self.spec.unit)
        return bytes(pymodbus.framer_rtu(self._decoder).buildFrame(pdu))


def _with_gaps(addresses: set[int], max_gap: int) -> set[int]:
    """``addresses`` with every run of at most ``max_gap`` addresses between two of them."""
    filled = set(addresses)
    ordered = sorted(addresses)
    for low, high in itertools.pairwise(ordered):
        if 1 < high - low <= max_gap + 1:
            filled.update(range(low + 1, high))
    return filled
