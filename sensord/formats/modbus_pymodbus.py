"""The parts of pymodbus the Modbus codec uses, imported when the first Modbus device (or
command) needs them, and the function code that reads each table.

The codec's other modules (:mod:`sensord.formats.modbus`, :mod:`sensord.formats.modbus_values`,
:mod:`sensord.formats.modbus_device`) take pymodbus's classes from :func:`pymodbus_parts` only,
so that a daemon with no Modbus device loads no pymodbus.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

if TYPE_CHECKING:
    from pymodbus.client.mixin import ModbusClientMixin
    from pymodbus.framer import FramerRTU, FramerSocket
    from pymodbus.pdu import DecodePDU, ExceptionResponse

from sensord.formats.modbus_keys import VALUE_TYPES

__all__ = ["FUNCTION_CODES", "PymodbusParts", "pymodbus_parts"]


#: Table -> the function code that reads it (the Modbus specification's).
FUNCTION_CODES: Mapping[str, int] = {"holding": 3, "input": 4, "coil": 1, "discrete": 2}


class PymodbusParts(NamedTuple):
    """The parts of pymodbus the Modbus codec uses."""

    mixin: type[ModbusClientMixin[Any]]
    framer_rtu: type[FramerRTU]
    framer_socket: type[FramerSocket]
    decode_pdu: type[DecodePDU]
    exception_response: type[ExceptionResponse]
    #: table -> (request class, response class)
    messages: Mapping[str, tuple[Any, Any]]
    #: value type -> pymodbus's data type (its struct code and register count)
    datatypes: Mapping[str, Any]
    #: function code -> the request class of a write
    writes: Mapping[int, Any]
    #: what a PDU's ``decode`` raises for bytes it cannot decode (as ``DecodePDU.decode``
    #: takes them)
    decode_errors: tuple[type[Exception], ...]


@functools.cache
def pymodbus_parts() -> PymodbusParts:
    """pymodbus's parts, imported when the first Modbus device (or command) needs them.

    pymodbus brings asyncio's server and client machinery with it: about 6 MiB of memory that a
    daemon with no Modbus device does not load (``tests/test_modbus_lazy.py``).
    """
    import struct  # noqa: PLC0415

    from pymodbus.client.mixin import ModbusClientMixin  # noqa: PLC0415 - loaded on first use
    from pymodbus.exceptions import ModbusException  # noqa: PLC0415
    from pymodbus.framer import FramerRTU, FramerSocket  # noqa: PLC0415
    from pymodbus.pdu import DecodePDU, ExceptionResponse  # noqa: PLC0415
    from pymodbus.pdu.bit_message import (  # noqa: PLC0415
        ReadCoilsRequest,
        ReadCoilsResponse,
        ReadDiscreteInputsRequest,
        ReadDiscreteInputsResponse,
        WriteMultipleCoilsRequest,
        WriteSingleCoilRequest,
    )
    from pymodbus.pdu.register_message import (  # noqa: PLC0415
        ReadHoldingRegistersRequest,
        ReadHoldingRegistersResponse,
        ReadInputRegistersRequest,
        ReadInputRegistersResponse,
        WriteMultipleRegistersRequest,
        WriteSingleRegisterRequest,
    )

    return PymodbusParts(
        mixin=ModbusClientMixin,
        framer_rtu=FramerRTU,
        framer_socket=FramerSocket,
        decode_pdu=DecodePDU,
        exception_response=ExceptionResponse,
        messages={
            "holding": (ReadHoldingRegistersRequest, ReadHoldingRegistersResponse),
            "input": (ReadInputRegistersRequest, ReadInputRegistersResponse),
            "coil": (ReadCoilsRequest, ReadCoilsResponse),
            "discrete": (ReadDiscreteInputsRequest, ReadDiscreteInputsResponse),
        },
        datatypes={
            name: getattr(ModbusClientMixin.DATATYPE, name.upper())
            for name in VALUE_TYPES
            if name != "bool"
        },
        writes={
            5: WriteSingleCoilRequest,
            6: WriteSingleRegisterRequest,
            15: WriteMultipleCoilsRequest,
            16: WriteMultipleRegistersRequest,
        },
        decode_errors=(ModbusException, ValueError, IndexError, struct.error),
    )
