"""``format = "modbus"``: Modbus RTU and Modbus TCP devices, read by request and response.

pymodbus provides the protocol: the request and response PDUs, RTU framing with its CRC and
MBAP framing for TCP (``FramerRTU``, ``FramerSocket``), the decoding of exception responses,
and the conversion between registers and values (``convert_from_registers``). The codec adds
what a poller needs on top of it, in modules of one job each, each importing only the ones
after it in this list (an import-linter contract):

* :mod:`sensord.formats.modbus_device`: a simulated RTU device answering from its register
  map, over this module;
* this module: the **exchange** that the bus scheduler (:mod:`sensord.bus`) runs, the requests
  and responses, the link and ``CODEC`` (below);
* :mod:`sensord.formats.modbus_check`: the check of a device's **register map**; and
  :mod:`sensord.formats.modbus_getters`: the getters that take each value of a known reply
  from its bytes, with its not-available, status and scale-factor checks;
* :mod:`sensord.formats.modbus_plan`: the map planned into as few **reads** as the protocol
  allows (:func:`~sensord.formats.modbus_plan.plan`): values of one table whose registers lie
  at most ``max_gap`` apart share a read of at most 125 registers (``max_registers`` for
  devices that take fewer; 2000 coils or discrete inputs). A device that rejects a merged read
  with exception 0x02 (illegal data address: a gap it does not map) or 0x03 (illegal data
  value: a count above what its firmware takes) has that read split
  (:func:`~sensord.formats.modbus_plan.split`): first into the runs of adjacent values the
  merge joined across gaps, then a run refused again in halves, down to one read per value
  only where every larger read is refused. A value and its scale factor, and the fields of one
  register, are never parted (:func:`~sensord.formats.modbus_plan.pieces_of`);
* :mod:`sensord.formats.modbus_values`: how a value's registers become its number and back:
  **byte order** per value (pymodbus converts with the high byte of each register first, the
  standard; a device that swaps them is read by swapping each register's bytes first),
  **word order** (pymodbus's ``word_order``, applied to one value's registers at a time),
  **bit fields** (``bit``, ``bits``) and **scale factors** (``scale_register``: SunSpec's
  ``W_SF``, the power of ten a value is multiplied by);
* :mod:`sensord.formats.modbus_pymodbus`: the parts of pymodbus the codec uses, imported by
  the first Modbus device; and :mod:`sensord.formats.modbus_keys`: the names and checks of
  the configuration's keys, which the configuration imports alone.

A :class:`ModbusLink` builds each read's request frame and cuts the response frames from the
port's byte stream, and :meth:`~sensord.formats.modbus_plan.Read.values` turns a response's
registers into ``(field, value)`` pairs. The **known reply** of each read (:class:`Request`,
built once per read and device) holds its request frame, the length and first bytes its reply
must have, and a decoder of the reply's values. The bus checks a reply that arrives whole
against it (length, unit, function code, byte count, CRC-16/MODBUS from a 256-entry table) and
decodes the values with ``struct`` straight from the frame's bytes. That is pymodbus's work
done by hand, because pymodbus's path costs ten to fifteen times as much per reply and this is
the one thing a bus does at every poll: finding the frame, looking up the PDU class, computing
the CRC bit by bit, building PDU and ``Response`` objects, formatting each PDU as text for a
debug line that is not emitted, and the conversion of registers through byte lists (figures in
docs/performance.md, "P10: a Modbus transaction"). Everything else (a reply cut into pieces or
behind noise, exception responses, other function codes, the request frames themselves, the
probe command and the simulated devices) goes through pymodbus, and a property test holds the
hand decoder to pymodbus's results.

What a sensor receives is one **exchange frame** per answered read: the request frame followed
by the response frame, exactly as they went over the wire. The codec's decoder turns one into
the values of that read, and its encoder makes the exchange frames of every read from values
(the round trip the tests run). The sensor's framer takes each chunk the bus hands over as one
exchange frame.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pymodbus.framer import FramerRTU, FramerSocket
    from pymodbus.pdu import ModbusPDU

from sensord.errors import NotMeasuredError, ParseError, StatusFaultError
from sensord.formats import modbus_check
from sensord.formats.base import Codec, Decoder, Encoder, FormatSpec, ModbusSpec, WriteSpec
from sensord.formats.crc import crc16_modbus
from sensord.formats.modbus_getters import (
    Getter,
    NotFiniteError,
    scale_check,
    scaled_getter,
    status_check,
    unavailable_getter,
    value_getter,
)
from sensord.formats.modbus_keys import REGISTER_TABLE_SET
from sensord.formats.modbus_plan import Read, plan, splits
from sensord.formats.modbus_pymodbus import FUNCTION_CODES, pymodbus_parts

__all__ = [
    "CODEC",
    "EXCEPTION_NAMES",
    "LINE_BYTES",
    "LINE_BYTE_VALUES",
    "MAX_FRAME_BYTES",
    "NO_EXCEPTION_CODE",
    "REQUEST_BYTES",
    "RTU_MIN_BYTES",
    "WRITE_CODES",
    "ExchangeFramer",
    "ModbusLink",
    "Request",
    "Response",
    "WriteRequest",
    "crc16",
    "crc_swapped",
    "exception_named",
    "response_frame",
]


#: The standard exception codes (the label values of the exception counter come from here;
#: anything else is counted as "other").
EXCEPTION_NAMES: Mapping[int, str] = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge",
    6: "server device busy",
    8: "memory parity error",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
    0x100: "no exception code in the response",
}

#: The code an exception response is counted under when it carries none: its code byte 0 (no
#: code of the Modbus application protocol), or no code byte at all, an RTU frame of the unit
#: id, the function code with 0x80 and a right CRC alone (FxDev/PetitModbus issue 2: ``0A 81
#: C7 70`` from a slave library that leaves the code out). Outside a byte's range, so that it
#: is no code a device can send, and never 0, which means no exception.
NO_EXCEPTION_CODE = 0x100


def exception_named(code: int) -> str:
    """Exception ``code`` as the Modbus specification and device manuals write it, in hex
    with its name: ``exception 0x0B (gateway target device failed to respond)``. Every text
    for people names a code so (the probe's output, log hints, ``/status`` hints and down
    reasons); the exception counter's ``code`` label and the log lines' ``code`` field keep
    the decimal number. An exception response that carries no code
    (:data:`NO_EXCEPTION_CODE`) is told as such, with no number a manual would list:
    ``exception with no code (its code byte 0 or left out)``."""
    if code == NO_EXCEPTION_CODE:
        return "exception with no code (its code byte 0 or left out)"
    return f"exception 0x{code:02X} ({EXCEPTION_NAMES.get(code, 'not a standard exception')})"


#: The request frame's length: RTU (unit, PDU of 5 bytes, CRC) and MBAP (7-byte header, PDU).
REQUEST_BYTES = {"rtu": 8, "tcp": 12}
#: The shortest RTU frame (unit, function code, CRC), an MBAP header with the unit id, and
#: the longest frame of either (RTU: 256 bytes; MBAP: 7 + 253).
RTU_MIN_BYTES = 4
#: The first bytes of an RTU frame that tell its length: a read response's unit id, function
#: code and byte count.
_LENGTH_BYTES = 3
#: An RTU exception response: unit id, function code | 0x80, exception code, CRC.
EXCEPTION_BYTES = 5
#: The byte count of a read reply as long as an RTU request (8 bytes: a read of 17 to 24 coils
#: or discrete inputs): 8 bytes of the read's unit id and function code with a right CRC and
#: another count are as much the read's request (its echo on a line that hears itself,
#: another master's read) as a reply whose count is wrong, so none is taken for the reply
_REQUEST_COUNT = REQUEST_BYTES["rtu"] - EXCEPTION_BYTES
MBAP_HEADER_BYTES = 7
#: A Modbus TCP exception response (MBAP header, function code | 0x80, exception code), and
#: the head of a read response (the same, with the byte count in place of the code).
MBAP_EXCEPTION_BYTES = 9
MAX_FRAME_BYTES = 260
#: The most data bytes a read's answer carries: 125 registers or 2000 coils (the Modbus
#: application protocol, 6.1 to 6.4: byte counts 2 x N up to 250, N / 8 up to 250)
_MOST_READ_BYTES = 250

#: How many bytes 0x00 or 0xFF after the line's silence a reply may follow without a silence
#: of its own: what a transceiver's direction turnaround or an unbiased line makes of the
#: moment the device starts to drive the line (one or two in the captures of libmodbus
#: issue 14, pymodbus issue 485, minimalmodbus issue 61 and eModbus issue 308).
LINE_BYTES = 4

#: The values such a byte has: the line held low (a break read as 0x00) or a start bit's
#: glitch on a line idle high (0xFF).
LINE_BYTE_VALUES = (0x00, 0xFF)
#: each such byte on its own, and all of them (what ``bytes.strip`` takes)
_LINE_BYTES = tuple(bytes((value,)) for value in LINE_BYTE_VALUES)
_LINE_BYTE_CHARS = bytes(LINE_BYTE_VALUES)
#: the line's bytes where an answer of unit id 0 may begin (``unit_0`` of
#: :meth:`ModbusLink.after_frame_rest`): 0xFF alone
_UNIT_0_LINE_CHARS = b"\xff"


# -- an RTU frame's CRC --------------------------------------------------------------------------


#: CRC-16/MODBUS of ``data`` (``sensord.formats.crc``). An RTU frame carries its CRC low byte
#: first, so the CRC over a whole frame whose CRC is right is 0. (The function itself, not a
#: call around it: it is computed once for every answer read.)
crc16: Callable[[bytes], int] = crc16_modbus


def crc_swapped(frame: bytes) -> bool:
    """True when the RTU ``frame`` ends in the CRC of the bytes before it high byte first,
    where the standard puts the low byte first: what the firmware of some devices sends (a
    Marstek Venus E battery: evcc-io/evcc issue 18653; a UUMotor SVD48V drive: libmodbus
    issue 812), whose answers are whole all the same."""
    return crc16(frame[:-2]).to_bytes(2, "big") == frame[-2:]


class Request:
    """One read of one device, built once and sent at every poll: the request frame (built by
    pymodbus), what the reply to it must look like (its length and first bytes), and the
    decoder of the reply's values into ``(channel, value)`` pairs for the channels that read
    them (``channels_of``: field -> channels).

    ``frame`` is the whole RTU request, or the Modbus TCP request after its transaction id
    (:meth:`with_transaction`); ``pdu`` its function code, address and count.
    """

    __slots__ = ("exception_head", "frame", "head", "pairs", "pdu", "read", "rtu", "size", "unit")

    #: a read (:class:`WriteRequest` is a write)
    write = False

    def __init__(
        self,
        unit: int,
        read: Read,
        transport: str,
        channels_of: Mapping[str, Sequence[str]],
    ) -> None:
        self.read = read
        self.unit = unit
        self.rtu = transport == "rtu"
        function = read.function_code
        data = 2 * read.count if read.table in REGISTER_TABLE_SET else (read.count + 7) // 8
        frame = ModbusLink(transport).request(unit, read)
        #: the first bytes of an exception response to it (RTU)
        self.exception_head = bytes((unit, function | 0x80))
        if self.rtu:
            self.frame = frame
            self.pdu = frame[1:6]
            self.head = bytes((unit, function, data))
            self.size = 5 + data
            data_at = 3
        else:
            self.frame = frame[2:]
            self.pdu = frame[7:12]
            # the unit id is not part of it: over TCP the transaction id names the exchange,
            # and some devices answer with unit 0 or 255 whatever was asked
            self.head = b"\0\0" + (3 + data).to_bytes(2, "big") + bytes((function, data))
            self.size = MBAP_HEADER_BYTES + 2 + data
            data_at = MBAP_HEADER_BYTES + 2
        by_name = {reg.name: reg for reg in read.registers}
        getters: list[tuple[str, Getter]] = []
        #: ``(value, why it is not read, whether its status says so)`` of the values a reply
        #: may leave unread
        checks: list[tuple[str, Callable[[bytes], str | None], bool]] = []
        for reg in read.registers:
            if not channels_of.get(reg.name):
                continue
            get = value_getter(reg, read, data_at)
            # a status first: a device that reports a fault may write its "not available"
            # value too, and the status tells why
            status_reg = by_name.get(reg.status_register or "")
            if status_reg is not None:
                checks.append((reg.name, status_check(reg, status_reg, read, data_at), True))
            unavailable = unavailable_getter(reg, read, data_at)
            if unavailable is not None:
                checks.append((reg.name, _named(reg.name, unavailable), False))
            factor_reg = by_name.get(reg.scale_register or "")
            if factor_reg is not None:
                checks.append((reg.name, scale_check(reg, factor_reg, read, data_at), False))
                get = scaled_getter(get, value_getter(factor_reg, read, data_at))
            getters.extend((channel, get) for channel in channels_of[reg.name])
        #: ``(channel, value)`` for each channel reading a value of a reply frame that
        #: :meth:`answers` accepts (or one as long whose header pymodbus checked); a value
        #: the device marks as not available (``not_available``), or whose scale factor is,
        #: or whose status register says it is not valid, is left out, and then ParseError
        #: ``invalid`` holds the others (``kept``)
        self.pairs: Callable[[bytes], list[tuple[str, float]]]
        self.pairs = _pairs(getters, checks, channels_of)

    def reply_begun(self, first: bytes) -> int:
        """The length of the RTU reply to this request that ``first``, the first bytes of a
        frame (up to the head's length), begin: its unit id, function code and byte count
        (:attr:`head`), or its unit id and the exception function code; 0 when they begin no
        such reply, -1 when too few have come to tell."""
        if first[:2] == self.exception_head:
            return EXCEPTION_BYTES
        if len(first) >= len(self.head):
            return self.size if first.startswith(self.head) else 0
        return -1 if self.head.startswith(first) else 0

    def with_transaction(self, transaction_id: int) -> bytes:
        """The request frame to send: a Modbus TCP request with its transaction id."""
        return self.frame if self.rtu else transaction_id.to_bytes(2, "big") + self.frame

    def answers(self, frame: bytes, transaction_id: int = 0) -> bool:
        """True when ``frame`` is, whole, the reply to this request with its values: the
        expected length, function code and byte count, and the unit id and a right CRC (RTU)
        or the request's transaction id and protocol id 0 (Modbus TCP: its length field need
        only be a possible one, as some gateways fill it in wrongly; the frame's length is
        the reply's)."""
        if len(frame) != self.size:
            return False
        if self.rtu:
            return frame.startswith(self.head) and crc16(frame) == 0
        return (
            _mbap_of(frame, transaction_id)
            and 2 <= (frame[4] << 8 | frame[5]) <= MAX_FRAME_BYTES  # as ModbusLink checks it
            and frame[7:9] == self.head[4:]
        )

    def fits(self, frame: bytes, transaction_id: int = 0) -> bool:
        """:meth:`answers` of a frame the link took out (:meth:`ModbusLink.feed`), whose CRC
        it checked: the reply's length and first bytes (RTU), its CRC not computed again, or
        all that :meth:`answers` checks (Modbus TCP, which has no CRC)."""
        if not self.rtu:
            return self.answers(frame, transaction_id)
        return len(frame) == self.size and frame.startswith(self.head)


def _named(name: str, unavailable: Callable[[bytes], bool]) -> Callable[[bytes], str | None]:
    return lambda frame: name if unavailable(frame) else None


def _mbap_of(frame: bytes, transaction_id: int) -> bool:
    """Whether a Modbus TCP frame has the transaction id and protocol id 0 of a request."""
    return (frame[0] << 8 | frame[1]) == transaction_id and frame[2:4] == b"\0\0"


_Checks = list[tuple[str, Callable[[bytes], str | None], bool]]


def _pairs(
    getters: list[tuple[str, Getter]], checks: _Checks, channels_of: Mapping[str, Sequence[str]]
) -> Callable[[bytes], list[tuple[str, float]]]:
    """:attr:`Request.pairs` of a read whose channels read ``getters``: every value, or, for
    a read with ``not_available`` values, scale factors or status registers, those that the
    ``checks`` do not leave out (:func:`_checked_pairs`). A float register that is not
    finite leaves its channels out too (:func:`_left_out`)."""
    if checks:
        return _checked_pairs(getters, checks, channels_of)
    if len(getters) == 1:
        [(channel, get)] = getters

        def one(frame: bytes) -> list[tuple[str, float]]:
            try:
                return [(channel, get(frame))]
            except NotFiniteError:
                raise _left_out(getters, frame, {}, [], channels_of) from None

        return one

    def every(frame: bytes) -> list[tuple[str, float]]:
        try:
            return [(channel, get(frame)) for channel, get in getters]
        except NotFiniteError:
            raise _left_out(getters, frame, {}, [], channels_of) from None

    return every


def _checked_pairs(
    getters: list[tuple[str, Getter]], checks: _Checks, channels_of: Mapping[str, Sequence[str]]
) -> Callable[[bytes], list[tuple[str, float]]]:
    """:attr:`Request.pairs` of a read with ``not_available`` values, scale factors or status
    registers: the channels of a value that holds one, whose factor is not available or
    whose status says it is not valid get nothing, and ParseError ``invalid`` names those
    values and keeps the others' pairs (:class:`~sensord.errors.StatusFaultError` when a
    status left one out: the device reports a fault)."""

    def pairs(frame: bytes) -> list[tuple[str, float]]:
        missing: dict[str, str] = {}
        faults: list[str] = []
        for name, check, status in checks:
            if name not in missing and (why := check(frame)) is not None:
                missing[name] = why
                if status:
                    faults.append(name)
        if not missing:
            try:
                return [(channel, get(frame)) for channel, get in getters]
            except NotFiniteError:
                pass
        raise _left_out(getters, frame, missing, faults, channels_of)

    return pairs


def _left_out(
    getters: list[tuple[str, Getter]],
    frame: bytes,
    missing: Mapping[str, str],
    faults: Sequence[str],
    channels_of: Mapping[str, Sequence[str]],
) -> NotMeasuredError:
    """The error of a reply frame some of whose values are not read: those ``missing``
    names (why each is left out), and the float registers that are not finite. It keeps the
    other channels' pairs and names the channels left out: ``invalid`` when a value is
    missing (:class:`~sensord.errors.StatusFaultError` when a status left one out: the
    device reports a fault), else ``nonfinite``."""
    left_out = {channel for name in missing for channel in channels_of[name]}
    kept: list[tuple[str, float]] = []
    #: what each float register that is not finite holds (a register read by several
    #: channels named once)
    nonfinite: dict[str, None] = {}
    for channel, get in getters:
        if channel not in left_out:
            try:
                kept.append((channel, get(frame)))
            except NotFiniteError as exc:
                nonfinite[exc.text] = None
                left_out.add(channel)
    unavailable = tuple(sorted(left_out))
    whys = [*missing.values(), *nonfinite]
    if not missing:
        return NotMeasuredError("nonfinite", ", ".join(whys), kept, unavailable)
    why = "not available: " + ", ".join(whys)
    if faults:  # the device reports a fault (a sensor's hint tells it once it lasts)
        faulty = sorted({channel for name in faults for channel in channels_of[name]})
        fault = ", ".join(missing[name] for name in faults)
        return StatusFaultError("invalid", why, kept, unavailable, tuple(faulty), fault)
    return NotMeasuredError("invalid", why, kept, unavailable)


class WriteRequest(Request):
    """A set-up write of one device (:class:`~sensord.formats.base.WriteSpec`), sent as a
    read is and answered by the device's echo: function 05 and 06 echo the request whole, 15
    and 16 its address and count. Its ``read`` is the written span with the write's function
    code; it has no values (``pairs``)."""

    __slots__ = ("echo", "spec")

    #: a write: the bus checks its answer, and hands no values on
    write = True

    def __init__(self, unit: int, spec: WriteSpec, transport: str) -> None:
        self.spec = spec
        self.unit = unit
        self.rtu = transport == "rtu"
        self.read = Read(spec.table, spec.address, len(spec.words), (), function=spec.function)
        frame = ModbusLink(transport).write(unit, spec)
        pdu = frame[1:-2] if self.rtu else frame[MBAP_HEADER_BYTES:]
        #: the answer's PDU: the request's first 5 bytes (all of 05's and 06's)
        self.echo = pdu[:5]
        self.pdu = self.echo
        self.exception_head = bytes((unit, spec.function | 0x80))
        if self.rtu:
            self.frame = frame
            self.head = bytes((unit,)) + self.echo
            self.size = 3 + len(self.echo)
        else:
            self.frame = frame[2:]
            self.head = b"\0\0\0\x06" + self.echo[:1]
            self.size = MBAP_HEADER_BYTES + len(self.echo)
        self.pairs = _no_values

    def answers(self, frame: bytes, transaction_id: int = 0) -> bool:
        """True when ``frame`` is the device's echo of this write, whole (RTU: with its unit
        id and a right CRC; Modbus TCP: the request's transaction id and protocol id 0)."""
        if len(frame) != self.size:
            return False
        if self.rtu:
            return frame.startswith(self.head) and crc16(frame) == 0
        return _mbap_of(frame, transaction_id) and frame[MBAP_HEADER_BYTES:] == self.echo

    def described(self) -> str:
        """The write as ``sensord check`` and the log show it: ``holding 54 = [0] (06)``."""
        spec = self.spec
        return f"{spec.table} {spec.address} = {list(spec.words)} ({spec.function:02d})"


def _no_values(frame: bytes) -> list[tuple[str, float]]:
    del frame
    return []


# -- the wire ------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Response:
    """A response frame cut from the port's byte stream."""

    unit: int
    transaction_id: int
    function_code: int
    #: the exception code of an exception response, else 0
    exception_code: int
    #: the registers or bits of a read response
    words: list[int]
    #: the frame as received
    frame: bytes


class ModbusLink:
    """The framing of one port: RTU (CRC) or MBAP (Modbus TCP).

    ``request(unit, read, transaction_id)`` is a read's request frame (pymodbus's PDU and
    framer); ``feed(chunk)`` adds bytes received and returns the response frames they
    complete. Bytes that form no valid frame (a CRC that does not match, noise) are skipped and
    counted in ``skipped_bytes``; the frames after them are still found.

    The RTU search is sensord's, over pymodbus's parts (the PDU class of a function code, its
    frame size, the PDU decoder) and sensord's CRC (:func:`crc16`): pymodbus's own
    ``FramerRTU.decode`` takes everything buffered once it found a frame or a CRC failed, as
    a client expecting exactly one reply per read can; on a bus a late reply and the awaited
    one may arrive together, and the awaited one must survive.
    """

    def __init__(self, transport: str) -> None:
        if transport not in REQUEST_BYTES:
            raise ValueError(f"unknown Modbus transport {transport!r}")
        self.transport = transport
        pymodbus = pymodbus_parts()
        self._decoder = pymodbus.decode_pdu(False)
        #: the requests' decoder (a server's): the length of another master's request
        self._requests = pymodbus.decode_pdu(True)
        self._framer: FramerRTU | FramerSocket = (
            pymodbus.framer_rtu(self._decoder)
            if transport == "rtu"
            else pymodbus.framer_socket(self._decoder)
        )
        self._buffer = b""
        self.skipped_bytes = 0
        #: RTU: the unit ids of the devices on the line that the framing knows of (a bus's
        #: devices), so that an exception from a broadcast or reserved address none of them
        #: has is no frame (:func:`_no_device_sent`); None: any unit id may answer (a probe)
        self.units: frozenset[int] | None = None
        #: RTU: the function codes of the requests the bus sends (``Bus`` sets them), whose
        #: answers and refusals a frame of one of :attr:`units` may begin with
        #: (:meth:`start_rest`); None: any function code pymodbus knows
        self.functions: frozenset[int] | None = None
        #: RTU: the request sent last (``Bus`` sets it), whose echo an adapter may send back
        self.asked = b""
        #: 1 at each unit id a sound frame :meth:`feed` took out carried: the addresses the
        #: line's masters and devices use, another master's among them (not of a frame found
        #: inside one of the line begun before it and still incomplete, :attr:`_inside_begun`),
        #: since the last :meth:`age_heard`; and those heard between the two before it
        self._heard = bytearray(256)
        self._heard_before = bytearray(256)
        #: 1 at each function code (without 0x80) of a sound request of the line that
        #: :meth:`feed` took out (another master's reads and writes, which the devices of the
        #: bus answer too), the same way
        self._functions_heard = bytearray(128)
        self._functions_heard_before = bytearray(128)
        #: whether the frame :meth:`_next_rtu` found last is a request (another master's, or
        #: the echo of one of the bus's), no response
        self._request_found = False
        #: whether the frame :meth:`_next_rtu` found last lies after the start of a frame of
        #: the line still incomplete (:meth:`_begins_frame`): a late answer's registers, cut
        #: by an adapter's pieces, may hold a whole frame, CRC and all, of any unit id
        self._inside_begun = False
        #: MBAP frames whose length field did not match their PDU (cut by the PDU)
        self.wrong_lengths = 0
        #: the bytes received that form no frame yet begin where the last frame that
        #: :meth:`feed` took out ended (in the chunk it took it out of, or an earlier one the
        #: frame begun then goes on from), no byte skipped between: right after a sound frame,
        #: where the next frame can begin however soon after it the port handed it over (an
        #: FTDI adapter hands frames a silence apart over in one piece, AN232B-04)
        self.after_frame = False
        #: the last frame :meth:`feed` took out by its CRC high byte first (the reply awaited
        #: only, :func:`crc_swapped`): the very ``frame`` of its :class:`Response`, so that
        #: whether an answer's CRC came swapped is known without computing it again
        self.swapped_frame: bytes | None = None

    def request(self, unit: int, read: Read, transaction_id: int = 0) -> bytes:
        request_class, _ = pymodbus_parts().messages[read.table]
        pdu = request_class(
            address=read.address, count=read.count, dev_id=unit, transaction_id=transaction_id
        )
        return bytes(self._framer.buildFrame(pdu))

    def write(self, unit: int, spec: WriteSpec, transaction_id: int = 0) -> bytes:
        """The request frame of a set-up write (pymodbus's write PDUs)."""
        write_class = pymodbus_parts().writes[spec.function]
        kw: dict[str, Any] = (
            {"registers": list(spec.words)}
            if spec.table == "holding"
            else {"bits": [bool(w) for w in spec.words]}
        )
        pdu = write_class(address=spec.address, dev_id=unit, transaction_id=transaction_id, **kw)
        return bytes(self._framer.buildFrame(pdu))

    @property
    def pending_bytes(self) -> int:
        """Bytes received that do not yet form a frame."""
        return len(self._buffer)

    def pending_transaction_id(self) -> int | None:
        """The transaction id of the MBAP frame that the bytes received begin (Modbus TCP),
        once its first two bytes have come; else None."""
        buffer = self._buffer
        if self.transport != "tcp" or len(buffer) < 2:
            return None
        return buffer[0] << 8 | buffer[1]

    def awaited_bytes(self) -> int:
        """How many bytes of the RTU frame that the bytes received begin are still to come,
        once its length is known from its function code (and byte count); else 0. Bytes
        received that begin with the line's bytes (up to :data:`LINE_BYTES` bytes 0x00 or
        0xFF, which a reply may follow with no silence between) may begin a frame after them
        too: the most bytes still to come of any of those frames (a line byte read as the
        unit id makes the reply's unit id its function code, and its function code its byte
        count, and the length of a long reply that short)."""
        buffer = self._buffer
        if self.transport != "rtu":
            return 0
        awaited = self._awaited_from(buffer)
        line_bytes = 0
        while line_bytes < LINE_BYTES and buffer[line_bytes : line_bytes + 1] in _LINE_BYTES:
            line_bytes += 1
            awaited = max(awaited, self._awaited_from(buffer[line_bytes:]))
        return awaited

    def after_frame_rest(self, unit_0: bool = False) -> int:
        """How many bytes of the RTU frame begun right after a sound frame (:attr:`after_frame`)
        are still to come: from its first three bytes on, the most its length can still need,
        answer or request of any unit id and function (:meth:`awaited_bytes`,
        :meth:`_told_rest`; another master's request after an answer is 8 bytes or more where
        an answer of its first bytes would be 5): a frame begins there, whatever it is
        (Modbus over Serial Line V1.02 §2.5.1.1: frames a silence apart, each sent whole);
        before that (its unit id alone, or with its function code), the rest of the shortest
        RTU frame (:data:`RTU_MIN_BYTES`) when they begin like a frame of the line
        (:meth:`_begins_frame`: a unit id of the bus or one a sound frame carried before),
        after the line's bytes of a direction turnaround, 0x00 or 0xFF, which begin no frame
        of their own (``unit_0``: a 0x00 may be the unit id of an answer to a read at unit 0 as
        a gateway sends it for unit 0, and begins one); 0 when no frame begun so."""
        buffer = self._buffer
        if not self.after_frame or not buffer:
            return 0
        if len(buffer) >= _LENGTH_BYTES:
            rest = self.awaited_bytes()
            # (a frame begins here, of any unit id and function: the longest it can be)
            line_bytes = 0
            while len(buffer) - line_bytes >= _LENGTH_BYTES:
                rest = max(rest, self._told_rest(buffer[line_bytes:]))
                if line_bytes == LINE_BYTES or buffer[line_bytes] not in LINE_BYTE_VALUES:
                    break
                line_bytes += 1
            return rest
        # (the line's bytes of a turnaround may come before the frame)
        first = buffer.lstrip(_UNIT_0_LINE_CHARS if unit_0 else _LINE_BYTE_CHARS)
        if not first or not self._begins_frame(first, unit_0):
            return 0
        return RTU_MIN_BYTES - len(first)

    def start_rest(self, unit_0: bool = False) -> int:
        """How many bytes of the RTU frame that the bytes received begin are still to come,
        wherever they came from (after the line's silence, after noise, after another master's
        request whose last bytes begin no frame): from the first place whose bytes begin like
        a frame of this line (:meth:`_begins_frame`: a unit id of :attr:`units`, then a
        function code of :attr:`functions` or one heard in the line's requests, or its
        exception; or a unit id a sound frame carried before), the rest of the longest frame
        its first bytes can be (:meth:`_told_rest`), or of the shortest RTU frame
        (:data:`RTU_MIN_BYTES`) while they are fewer than three; else 0: bytes that begin no
        frame of the line (a byte that is no unit id of it, the line's 0x00 and 0xFF, but a
        0x00 while ``unit_0``, as :meth:`after_frame_rest` takes it; the last bytes of a
        request, say ``00 01 85 8E``, read as a unit id 0 and a byte count of 133) hold
        nothing."""
        buffer = self._buffer
        size = len(buffer)
        if not size or self.transport != "rtu":
            return 0
        for at in range(size):
            if not self._begins_frame(buffer[at : at + 2], unit_0):
                continue
            if size - at < _LENGTH_BYTES:
                return RTU_MIN_BYTES - (size - at)
            rest = self._told_rest(buffer[at:])
            if rest:
                return rest
        return 0

    def _told_rest(self, first: bytes) -> int:
        """How many bytes are still to come of the RTU frame whose first three bytes or more
        ``first`` is, at most. A read's: its answer's when its byte count is one an answer
        can have (1 to :data:`_MOST_READ_BYTES`, even for registers), else its request's 8
        bytes (another master's read has its address's high byte there: 0 below address
        256, no answer's count). Another function's: the longer of the answer and the
        request it can be, as pymodbus sizes them (a write of several values is answered in
        8 bytes and asked in 9 and its byte count); one more byte while pymodbus cannot tell
        the length from the bytes so far (a device identification's objects, 0x2B). 0 when it
        is whole or can be no frame."""
        got = len(first)
        function = first[1]
        if function in _READ_FUNCTIONS:
            count = first[2]
            possible = 0 < count <= _MOST_READ_BYTES and (function < 3 or not count % 2)
            return max(0, (EXCEPTION_BYTES + count if possible else REQUEST_BYTES["rtu"]) - got)
        size = 0
        for decoder in (self._decoder, self._requests):
            pdu_class = decoder.lookupPduClass(first)
            if pdu_class is None:
                continue
            try:
                told = pdu_class.calculateRtuFrameSize(first)
            except Exception:  # pymodbus reads past short or odd bytes: no length
                continue
            size = max(size, told)
        if size > MAX_FRAME_BYTES:  # (pymodbus's length of one it cannot tell yet)
            return 1
        return max(0, size - got)

    def age_heard(self) -> None:
        """The unit ids and function codes heard since the call before this one are heard
        until the next; those heard before it are forgotten (a master that left the line
        holds no noise byte of its addresses after that: ``Bus`` calls it every
        :data:`~sensord.modbus_timing.HEARD_FOR_S`)."""
        self._heard_before = self._heard
        self._heard = bytearray(256)
        self._functions_heard_before = self._functions_heard
        self._functions_heard = bytearray(128)

    def _begins_frame(self, first: bytes, unit_0: bool) -> bool:
        """Whether ``first`` (one or two bytes) begins a frame of this line: a unit id of
        :attr:`units` (any when they hold 0, a read at unit 0 that any unit answers, or are
        None) or one a sound frame carried before (another master's address), not the line's
        0x00 or 0xFF (0x00 begins one while ``unit_0``), then a function code of
        :attr:`functions`, or of a request of the line heard (another master's, which the
        devices of the bus answer too), or its exception (for another master's address, or when
        they are None, any pymodbus knows)."""
        unit = first[0]
        units = self.units
        own = units is None or unit in units or 0 in units
        gateway_0 = unit_0 and not unit  # (an answer for unit 0 that carries unit id 0)
        heard = self._heard[unit] or self._heard_before[unit]
        if not gateway_0 and (unit in LINE_BYTE_VALUES or not (own or heard)):
            return False
        if len(first) == 1:
            return True
        function = first[1] & 0x7F
        functions = self.functions
        if functions is not None and own:
            # (a device of the bus answers another master's requests too)
            return bool(
                function in functions
                or self._functions_heard[function]
                or self._functions_heard_before[function]
            )
        return self._decoder.lookupPduClass(bytes((unit, function, 0, 0, 0, 0))) is not None

    def _awaited_from(self, buffer: bytes) -> int:
        """How many bytes of the RTU frame that ``buffer`` begins are still to come, once its
        length is known (a read response's from its first three bytes: unit id, function code
        and byte count); else 0."""
        if len(buffer) < _LENGTH_BYTES:
            return 0
        pdu_class = self._decoder.lookupPduClass(buffer)
        if pdu_class is None:
            return 0
        try:
            size = pdu_class.calculateRtuFrameSize(buffer)
        except Exception:  # pymodbus reads past short or odd bytes (IndexError): no length
            return 0
        return max(0, min(size, MAX_FRAME_BYTES) - len(buffer))

    def dropped(self, count: int) -> None:
        """``count`` bytes received were taken out of the stream before it (a request's
        echo): counted as skipped."""
        self.skipped_bytes += count

    def reset(self) -> None:
        """Drop a partial frame (at the end of an exchange); counted as skipped."""
        self.skipped_bytes += len(self._buffer)
        self._buffer = b""
        self.after_frame = False

    def holds_codeless_exception(self, head: bytes) -> bool:
        """Whether the bytes received that form no frame are an RTU exception response with
        no code byte: ``head`` (the unit id and the function code with 0x80), then a right
        CRC (:data:`NO_EXCEPTION_CODE`). Only the line's silence after them tells it from a
        sound exception whose last byte is still to come: one in 256 of those (its CRC's
        high byte 00) has a right CRC over its first four bytes too."""
        frame = self._buffer
        return (
            len(frame) == RTU_MIN_BYTES
            and self.transport == "rtu"
            and frame.startswith(head)
            and not crc16(frame)
        )

    def codeless_exception(self, head: bytes) -> Response | None:
        """The bytes received that form no frame, when they are an RTU exception response
        with no code byte (``holds_codeless_exception``), taken out as that response; else
        None and nothing taken. Only once the line has been silent after them: five bytes
        that begin so are a sound exception whose last byte is still to come until then."""
        if not self.holds_codeless_exception(head):
            return None
        frame = self._buffer
        self._buffer = b""
        return Response(frame[0], 0, frame[1] & 0x7F, NO_EXCEPTION_CODE, [], frame)

    def feed(
        self, chunk: bytes, awaited: bytes = b"", owed: tuple[bytes, ...] = ()
    ) -> list[Response]:
        """The response frames that ``chunk`` completes. ``awaited``: the first bytes of the
        RTU reply an exchange in flight awaits (:attr:`Request.head`); while a frame that
        begins with them is coming, no frame is looked for inside it (its registers may
        hold the bytes of a whole frame, CRC and all, which would be taken out of it). So
        too for ``owed``, the first bytes of the answers to requests that timed out, which
        may still come late."""
        data = self._buffer + chunk
        out: list[Response] = []
        at = 0
        last_end = -1
        while True:
            if self.transport == "rtu":
                start, frame = self._next_rtu(data, at, awaited, owed)
            else:
                start, frame = self._next_mbap(data, at)
            self.skipped_bytes += start - at
            if frame is None:
                break
            if self._request_found:  # (a request: bytes of no answer, skipped whole)
                self._request_found = False
                self.skipped_bytes += len(frame)
                if not self._inside_begun:
                    self._heard[frame[0]] = 1
                    self._functions_heard[frame[1]] = 1
                at = last_end = start + len(frame)
                continue
            response = (
                _miscounted(frame)
                if len(awaited) == _LENGTH_BYTES
                and frame[2] != awaited[2]
                and len(frame) == EXCEPTION_BYTES + awaited[2]
                and frame.startswith(awaited[:2])
                else self._decode(frame)
            )
            if response is None or (
                # (an exception that no device sent: line noise whose CRC happens to hold)
                response.exception_code
                and self.transport == "rtu"
                and _no_device_sent(frame, self.units)
            ):  # no PDU: its first byte is skipped, and the search goes on
                self.skipped_bytes += 1
                at = start + 1
                continue
            out.append(response)
            if not self._inside_begun:
                self._heard[response.unit] = 1
            at = last_end = start + len(frame)
        # (bytes that only add to the frame begun keep telling where it began)
        self.after_frame = start == last_end or (last_end < 0 and not start and self.after_frame)
        rest = data[start:]
        if len(rest) > MAX_FRAME_BYTES:  # an impossible candidate: give up on its start
            self.skipped_bytes += len(rest) - MAX_FRAME_BYTES
            rest = rest[-MAX_FRAME_BYTES:]
        self._buffer = rest
        return out

    def _next_rtu(
        self, data: bytes, at: int, awaited: bytes = b"", owed: tuple[bytes, ...] = ()
    ) -> tuple[int, bytes | None]:
        """The first frame with a valid CRC from ``at`` on: ``(its start, frame)``; or
        ``(where undecided bytes begin, None)`` when more bytes are needed. A candidate still
        incomplete does not hide a complete frame after it (noise can look like the start of
        a long frame), but for one that begins with ``awaited``, the reply coming: the
        frames after its start wait until it is whole and its CRC is checked. The first
        bytes of a request (another master's, cut by an adapter's pieces anywhere) are kept
        until its length has come, so that it is taken out whole and its unit id and function
        code heard."""
        end = len(data)
        waiting: int | None = None
        self._inside_begun = False
        # a read's reply (its unit id, function code and byte count): one whose byte count is
        # wrong is cut at the reply's length (``_miscounted``), but for a reply as long as a
        # request (:data:`_REQUEST_COUNT`)
        counted = len(awaited) == _LENGTH_BYTES and awaited[2] != _REQUEST_COUNT
        while end - at >= RTU_MIN_BYTES:
            miscount = counted and data[at + 2] != awaited[2] and data.startswith(awaited[:2], at)
            if miscount:
                full = EXCEPTION_BYTES + awaited[2]
                # the read's reply as the last bytes received (but for line bytes after it: a
                # device's answer ends its exchange), not, say, a request's echo before it
                if end - at >= full and not data[at + full :].strip(_LINE_BYTE_CHARS):
                    # (not a sound frame its own count cuts, the line's zero bytes after it:
                    # a CRC that holds stays 0 over bytes 00)
                    own = EXCEPTION_BYTES + data[at + 2]
                    if not crc16(data[at : at + full]) and (
                        own >= full or crc16(data[at : at + own])
                    ):
                        return at, data[at : at + full]
                    miscount = False
            candidate = data[at:]
            pdu_class = self._decoder.lookupPduClass(candidate)
            size = 0
            if pdu_class is not None:
                try:
                    size = pdu_class.calculateRtuFrameSize(candidate)
                except Exception:  # a framing error, or pymodbus reading past odd bytes
                    pdu_class = None
            if pdu_class is not None and size <= MAX_FRAME_BYTES:
                if not size or end - at < size:  # its length, or its bytes, still to come
                    if waiting is None:
                        waiting = at
                    if (awaited and data.startswith(awaited, at)) or (
                        owed and data.startswith(owed, at)
                    ):
                        break  # the reply coming: nothing is taken out of its bytes
                else:
                    frame = data[at : at + size]
                    # one CRC a candidate (sensord's table, 2 to 6 times pymodbus's speed),
                    # checked against its last two bytes in the standard's order and swapped
                    crc = crc16(frame[:-2])
                    if crc == frame[-2] | frame[-1] << 8:
                        self._inside_begun = waiting is not None and self._begins_frame(
                            data[waiting : waiting + 2], unit_0=False
                        )
                        return at, frame
                    if (
                        crc == frame[-2] << 8 | frame[-1]
                        and awaited
                        and data.startswith(awaited, at)
                    ):
                        self.swapped_frame = frame
                        return at, frame  # the reply coming, its CRC high byte first
                    if (
                        miscount
                        and end - at < full
                        and not (
                            self.asked and self.asked.startswith(data[at : at + len(self.asked)])
                        )
                    ):
                        # not a frame as long as its count says, nor the echo of the request:
                        # the reply whose count is wrong, whose rest may still come
                        waiting = at if waiting is None else waiting
                        break
            size = self._request_size(data, at)
            if size > end - at:  # a request's first bytes, its rest to come: kept whole
                if waiting is None:
                    waiting = at
            elif size and not crc16(data[at : at + size]):
                self._request_found = True
                # (``waiting`` may be this very place, begun as an answer)
                self._inside_begun = (
                    waiting is not None
                    and waiting < at
                    and self._begins_frame(data[waiting : waiting + 2], unit_0=False)
                )
                return at, data[at : at + size]
            at += 1
        return (at if waiting is None else waiting), None

    def _request_size(self, data: bytes, at: int) -> int:
        """The length of the RTU request (another master's, or the echo of one of the bus's)
        whose first bytes are at ``at``, as pymodbus's server-side decoder sizes it (a read's
        8 bytes, a write of several values' 9 and its byte count, a device identification's
        7), for a function the answers' decoder gives no frame of that length (reads, 15
        and 16, 0x2B; a write of one value's answer is its request); 0 when it is none or
        its length is not told yet."""
        function = data[at + 1]
        if function & 0x80 or function in _ECHOED_FUNCTIONS:
            return 0
        candidate = data[at : at + _LONGEST_REQUEST_HEAD]
        request = self._requests.lookupPduClass(candidate)
        if request is None:
            return 0
        try:
            size = int(request.calculateRtuFrameSize(data[at:]))
        except Exception:  # pymodbus reads past short or odd bytes: no length
            return 0
        return size if RTU_MIN_BYTES <= size <= MAX_FRAME_BYTES else 0

    def _next_mbap(self, data: bytes, at: int) -> tuple[int, bytes | None]:
        """The next MBAP frame from ``at``: ``(its start, frame)``, or ``(where undecided
        bytes begin, None)`` when more bytes are needed. Bytes that cannot begin a header (a
        protocol id that is not 0, a length field out of range, a frame cut longer than
        :data:`MAX_FRAME_BYTES`: garbage a gateway sends before a reply, a stray byte between
        replies) are skipped one at a time up to the next place that can, so a reply behind
        them in the same chunk is read, and no candidate is held past the bound.

        A read response or an exception response is as long as its PDU says (function code
        and byte count, or the two bytes of an exception), whatever its length field says:
        some gateways fill that in wrongly (one more than the bytes that follow, or 4 on an
        exception), and a frame cut by it would wait for bytes that never come, or take the
        first bytes of the next reply. Other frames are cut by the length field."""
        end = len(data)
        while True:
            if end - at < MBAP_EXCEPTION_BYTES:  # the shortest reply
                return self._mbap_start(data, at), None
            length = data[at + 4] << 8 | data[at + 5]
            if data[at + 2] == 0 == data[at + 3] and 2 <= length <= MAX_FRAME_BYTES:
                size = MBAP_HEADER_BYTES - 1 + length
                function = data[at + MBAP_HEADER_BYTES]
                by_pdu = size
                if function & 0x80:
                    by_pdu = MBAP_EXCEPTION_BYTES
                elif function in _READ_FUNCTIONS:
                    by_pdu = MBAP_EXCEPTION_BYTES + data[at + MBAP_HEADER_BYTES + 1]
                if by_pdu <= MAX_FRAME_BYTES:
                    break
            at += 1
        if end - at < by_pdu:
            return at, None
        if by_pdu != size:
            self.wrong_lengths += 1
        return at, data[at : at + by_pdu]

    @staticmethod
    def _mbap_start(data: bytes, at: int) -> int:
        """Where the bytes from ``at`` that can still begin an MBAP header begin: those whose
        protocol id (or length field) has come and is impossible are skipped."""
        end = len(data)
        while end - at >= 4 and (
            data[at + 2]
            or data[at + 3]
            or (end - at >= 6 and not 2 <= (data[at + 4] << 8 | data[at + 5]) <= MAX_FRAME_BYTES)
        ):
            at += 1
        return at

    def _decode(self, frame: bytes) -> Response | None:
        if self.transport == "rtu":
            unit, transaction_id, data = frame[0], 0, frame[:-2]
        else:
            unit = frame[6]
            transaction_id = int.from_bytes(frame[0:2], "big")
            data = frame[6:]
        pdu = self._pdu(data)
        if pdu is None:
            return None
        pdu.dev_id = unit
        pdu.transaction_id = transaction_id
        return _response(pdu, frame)

    def _pdu(self, data: bytes) -> ModbusPDU | None:
        """The PDU of ``data``, a unit id and the PDU after it, as pymodbus's
        ``DecodePDU.decode`` decodes it. That formats the PDU (``ModbusPDU.__str__``, every
        register) for its debug message of every frame, whatever the log level, at more than
        the decoding's own cost: every frame is decoded here by the class of its function code
        and sub-function (``lookupPduClass``; a sub-function pymodbus has no class of by its
        function's own class, as ``DecodePDU.decode`` falls back to it), exception responses
        by pymodbus's, None for bytes it cannot decode, as ``DecodePDU.decode`` takes them
        (answers to another master's requests of any function go through here too)."""
        function = data[1]
        pymodbus = pymodbus_parts()
        if function & 0x80:
            if function == 0x80:  # (an exception to function 0: no PDU to pymodbus)
                return None
            pdu: ModbusPDU = pymodbus.exception_response(function & 0x7F)
        else:
            decoder = self._decoder
            try:
                pdu_class = decoder.lookupPduClass(data)
            except pymodbus.decode_errors:  # (a sub-function's bytes missing)
                pdu_class = None
            if pdu_class is None:
                pdu_class = decoder.pdu_table.get(function, (None, None))[decoder.pdu_inx]
                if pdu_class is None:
                    return None
            pdu = pdu_class()
        try:
            pdu.decode(data[2:])
        except pymodbus.decode_errors:
            return None
        return pdu


#: The functions whose answer is their request whole (a write of one coil or register), taken
#: out as an answer
_ECHOED_FUNCTIONS = frozenset({5, 6})
#: The bytes of a request that pymodbus's server-side decoder looks up its class by
_LONGEST_REQUEST_HEAD = 8

#: The function codes of the requests sensord sends: reads (01 to 04) and set-up writes (05,
#: 06, 15, 16); an exception with no code to another function answers none of them
_ASKED_FUNCTIONS = frozenset({1, 2, 3, 4, 5, 6, 15, 16})

#: The unit ids from 248 up: reserved by the Modbus over serial line specification (v1.02,
#: 2.2: 1 to 247 are the devices' own addresses, 0 the broadcast), and answered at only by
#: devices that take such an address as their "any device" address (``modbus_keys.LONE_UNITS``)
_RESERVED_UNITS = 248


def _no_device_sent(frame: bytes, units: frozenset[int] | None) -> bool:
    """Whether the RTU exception response ``frame`` (its CRC right) was sent by no device:
    bytes of the line whose CRC holds by chance or by their pattern, line noise. A master
    never sends a function code from 0x80 up (requests carry 1 to 127), so only a device's
    answer can be an exception, and a device answers with its own address: never with 0, the
    broadcast (the specification: a broadcast is not answered), nor from 248 up (reserved)
    unless a device of the line (``units``, None when they are not known) is read there.
    Nor is an exception with code 0, no exception code, to a function sensord never sends:
    sensord takes code 0 only as a device's refusal of its own request
    (:data:`NO_EXCEPTION_CODE`). (An exception to function 0, its function byte 0x80, is no
    PDU to pymodbus's decoder, and skipped as such.) The run of glitch bytes ``FF FF 00 00
    00`` (an RS-485 line that floats or a driver switching, read as bytes FF and 00) is one:
    its CRC holds (CRC-16/MODBUS of ``FF FF 00`` is 0), and it reads as unit 255's exception
    0 to function 0x7F; of the runs of bytes 00 and FF, it is the one the framing cuts as a
    frame."""
    unit, function = frame[0], frame[1]
    if not frame[2] and (function & 0x7F) not in _ASKED_FUNCTIONS:
        return True
    if units is None or unit in units or (unit and 0 in units):
        return False  # (a device read at unit 0 answers with the unit id it has)
    return not unit or unit >= _RESERVED_UNITS


def _miscounted(frame: bytes) -> Response:
    """The RTU reply ``frame`` to a read, of the reply's length and with a right CRC, whose
    byte count is not the read's: the device's answer all the same (the byte count is inside
    the CRC: a firmware that writes it wrongly, as the 0x4A for a read of 5 registers in
    esphome/issues issue 2893 whose CRC held), which the bus counts as ``length``
    (``Bus._answered``). Its values are not read: a count that is wrong tells nothing of the
    bytes after it."""
    return Response(frame[0], 0, frame[1], 0, [], frame)


def _response(pdu: ModbusPDU, frame: bytes) -> Response:
    if isinstance(pdu, pymodbus_parts().exception_response):
        return Response(
            int(pdu.dev_id),
            int(pdu.transaction_id),
            int(pdu.function_code) & 0x7F,
            int(pdu.exception_code) or NO_EXCEPTION_CODE,
            [],
            frame,
        )
    if pdu.function_code in (FUNCTION_CODES["holding"], FUNCTION_CODES["input"]):
        words = list(pdu.registers)
    elif pdu.function_code in (FUNCTION_CODES["coil"], FUNCTION_CODES["discrete"]):
        words = [1 if bit else 0 for bit in pdu.bits]
    else:  # a write's answer: what it wrote, not values
        words = []
    return Response(
        int(pdu.dev_id), int(pdu.transaction_id), int(pdu.function_code), 0, list(words), frame
    )


def response_frame(spec: ModbusSpec, read: Read, words: list[int], transaction_id: int) -> bytes:
    """The response frame of a device answering ``read`` with ``words``."""
    pymodbus = pymodbus_parts()
    _, response_class = pymodbus.messages[read.table]
    if read.table in REGISTER_TABLE_SET:
        pdu = response_class(registers=words, dev_id=spec.unit, transaction_id=transaction_id)
    else:
        pdu = response_class(
            bits=[bool(b) for b in words], dev_id=spec.unit, transaction_id=transaction_id
        )
    framer = (
        pymodbus.framer_rtu(pymodbus.decode_pdu(True))
        if spec.transport == "rtu"
        else pymodbus.framer_socket(pymodbus.decode_pdu(True))
    )
    return bytes(framer.buildFrame(pdu))


# -- the codec -----------------------------------------------------------------------------------


def _requests_by_pdu(spec: FormatSpec) -> dict[bytes, Request]:
    """Every read the bus may send for the device of ``spec`` (merged, and split after an
    exception 0x02 or 0x03, down to one read per value), by the request's PDU (function code,
    address, count)."""
    modbus = spec.modbus
    assert modbus is not None
    channels_of: dict[str, list[str]] = {}
    for channel, name in spec.fields:
        channels_of.setdefault(name, []).append(channel)
    out: dict[bytes, Request] = {}
    for read in plan(modbus):
        for candidate in splits(read):
            request = Request(modbus.unit, candidate, modbus.transport, channels_of)
            out.setdefault(request.pdu, request)
    return out


def decoder(spec: FormatSpec) -> Decoder:
    """An exchange frame (request frame, then response frame) -> the values of its read, for
    each channel that reads them. The response is checked and decoded as the bus does it
    (:class:`Request`), so a replayed exchange gives what the live one gave: its CRC the
    standard one or, as the bus reads a device whose firmware swaps it
    (``Bus._swaps_crc``), high byte first (:func:`crc_swapped`; a capture holds the
    exchanges the bus read only)."""
    modbus = spec.modbus
    assert modbus is not None
    requests = _requests_by_pdu(spec)
    rtu = modbus.transport == "rtu"
    request_bytes = REQUEST_BYTES[modbus.transport]
    pdu_at = 1 if rtu else MBAP_HEADER_BYTES
    body_at = 1 if rtu else MBAP_HEADER_BYTES

    def decode(frame: bytes) -> list[tuple[str, float]]:
        if len(frame) < request_bytes + RTU_MIN_BYTES + 1:
            raise ParseError("truncated", f"{len(frame)} bytes hold no response")
        request = requests.get(frame[pdu_at : pdu_at + 5])
        if request is None:
            raise ParseError(
                "syntax", f"not a read of this device's map: {frame[pdu_at : pdu_at + 5].hex()}"
            )
        response = frame[request_bytes:]
        if rtu:
            if crc16(response) != 0 and not crc_swapped(response):
                raise ParseError("checksum", "the response's CRC does not match")
        elif response[2:4] != b"\0\0" or not 2 <= int.from_bytes(response[4:6]) <= MAX_FRAME_BYTES:
            raise ParseError("syntax", "not an MBAP frame")  # a wrong length is read (ModbusLink)
        read = request.read
        if len(response) < body_at + 2:
            raise ParseError("truncated", f"{len(response)} bytes hold no read response")
        # over Modbus TCP the request's transaction id, or 0 from a device that answers so
        # (``StrayFrames._note_zero_id``)
        ours = (
            response[body_at - 1] == request.unit if rtu else response[:2] in (frame[:2], b"\0\0")
        )
        if not ours:
            raise ParseError("syntax", "the response is not from the unit asked")
        if response[body_at] != read.function_code:
            raise ParseError("syntax", f"not a {read.table} read response")
        # a longer answer whose byte count holds has the values asked for first (the bus
        # reads such answers of a device that gives them twice running: ``DeviceReads.long``)
        extra = len(response) - request.size
        if extra < 0 or response[body_at + 1] != request.head[-1] + extra:
            raise ParseError("truncated", f"{len(response)} bytes answer a read of {read.count}")
        return request.pairs(response)

    return decode


def encoder(spec: FormatSpec) -> Encoder:
    """Values by field -> the exchange frame of every read of the device."""
    modbus = spec.modbus
    assert modbus is not None
    reads = plan(modbus)
    link = ModbusLink(modbus.transport)

    def encode(values: Mapping[str, float], time_of_day_s: float) -> list[bytes]:
        del time_of_day_s
        return [
            link.request(modbus.unit, read) + response_frame(modbus, read, read.words(values), 0)
            for read in reads
        ]

    return encode


WRITE_CODES = frozenset({5, 6, 15, 16})

#: Function codes of the reads a Modbus sensor makes (coils, discrete inputs, holding and
#: input registers): the only requests an exchange frame can start with.
_READ_FUNCTIONS = frozenset({1, 2, 3, 4})


class ExchangeFramer:
    """A Modbus sensor's framer: exchange frames (a read request, then its response), as the
    bus hands them (one per chunk) or a ``replay://`` capture plays them back to back.

    Each exchange is cut by the lengths the protocol gives: an RTU read request is 8 bytes and
    its response 5 bytes plus its byte count; a Modbus TCP request is 12 bytes and its response
    9 bytes plus its byte count (9 for an exception; not its MBAP length field). A byte that
    cannot start an exchange (not a read request, or a response that does not follow it) is
    skipped and counted; the decoder checks the CRC or the MBAP header of each frame cut.
    """

    def __init__(self, transport: str) -> None:
        self.rtu = transport == "rtu"
        self.frames = 0
        self.overlong = 0
        self.skipped_bytes = 0
        self.rejected: dict[str, int] = {}
        self.ignored = 0
        self._pending = b""

    def no_frame_hint(self, data: bytes) -> str:
        """See :meth:`sensord.formats.base.Framer.no_frame_hint`."""
        return "no whole Modbus exchange in the bytes: check the capture's transport"

    def feed(self, chunk: bytes) -> list[bytes]:
        if not chunk:
            return []
        data = self._pending + chunk if self._pending else bytes(chunk)
        if not self._pending and self._size(data, 0) == len(data):
            self.frames += 1  # the bus's case: one whole exchange
            return [data]
        frames: list[bytes] = []
        at = 0
        while True:
            size = self._size(data, at)
            if size is None:  # the exchange is not complete yet
                break
            if size == 0:
                at += 1
                self.skipped_bytes += 1
                continue
            frames.append(data[at : at + size])
            at += size
        self._pending = data[at:]
        self.frames += len(frames)
        return frames

    def _size(self, data: bytes, at: int) -> int | None:
        """The length of the exchange frame at ``at``, 0 when none starts there, None when its
        bytes have not all arrived."""
        left = len(data) - at
        if self.rtu:
            if left < 2:
                return None
            if data[at + 1] not in _READ_FUNCTIONS:
                return 0
            if left < 11:
                return None
            unit, function = data[at], data[at + 1]
            if data[at + 8] != unit or data[at + 9] & 0x7F != function:
                return 0
            # an exception response holds its code and CRC; a read response its byte count
            size = 8 + 5 if data[at + 9] & 0x80 else 8 + 5 + data[at + 10]
        else:
            if left < 12:
                return None
            request = data[at : at + 12]
            if (
                request[2:4] != b"\0\0"
                or request[4:6] != b"\0\x06"
                or request[7] not in (_READ_FUNCTIONS)
            ):
                return 0
            if left < 12 + MBAP_EXCEPTION_BYTES:
                return None
            response = data[at + 12 : at + 12 + MBAP_EXCEPTION_BYTES]
            if response[:2] not in (request[:2], b"\0\0") or response[2:4] != b"\0\0":
                return 0  # not the request's transaction id, nor 0 (StrayFrames._note_zero_id)
            # as long as its PDU says, as the bus cut it (see ModbusLink._next_mbap)
            size = 12 + MBAP_EXCEPTION_BYTES + (0 if response[7] & 0x80 else response[8])
        return size if left >= size else None

    def reset(self) -> None:
        """Forget a partial exchange (the port was reopened), counted in ``skipped_bytes``."""
        self.drop_pending()

    def drop_pending(self) -> None:
        """See :meth:`sensord.formats.base.Framer.drop_pending`."""
        self.skipped_bytes += len(self._pending)
        self._pending = b""

    def flush(self) -> list[bytes]:
        """See :meth:`sensord.formats.base.Framer.flush`: the pending exchange, which has not
        all come, costs its first byte and the search goes on after it, until nothing is
        pending."""
        frames: list[bytes] = []
        while self._pending:
            rest = self._pending[1:]
            self._pending = b""
            self.skipped_bytes += 1
            frames += self.feed(rest)
        return frames


def framer(spec: FormatSpec, terminator: bytes, max_frame_bytes: int) -> ExchangeFramer:
    del terminator, max_frame_bytes
    modbus = spec.modbus
    assert modbus is not None
    return ExchangeFramer(modbus.transport)


CODEC = Codec(
    name="modbus",
    check=modbus_check.check,
    decoder=decoder,
    encoder=encoder,
    framer=framer,
    binary=True,
)
