"""A known read's reply, checked and decoded by hand (``sensord.formats.modbus.Request``), held
to pymodbus: for random register maps, register values and replies (whole, corrupted, cut,
extended, exceptions, other units, wrong counts), the hand path accepts exactly the
well-formed replies that pymodbus's framing (``ModbusLink``) cuts whole as the answer, and
gives the values that pymodbus's ``convert_from_registers`` gives; the codec's decoder of
exchange frames accepts and decodes the same."""

from __future__ import annotations

import math
import struct
from collections.abc import Callable

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pymodbus.framer import FramerRTU, FramerSocket
from pymodbus.pdu import DecodePDU, ExceptionResponse

from sensord.errors import ParseError
from sensord.formats import codec_for
from sensord.formats.base import FormatSpec, ModbusSpec, RegisterSpec
from sensord.formats.modbus import ModbusLink, Request, crc16, response_frame
from sensord.formats.modbus_keys import WIDTHS
from sensord.formats.modbus_plan import Read, plan
from sensord.probe_format import format_read, whole_number

#: What a decoder gives for a reply: its pairs, or the error that keeps its finite values.
Decoded = list[tuple[str, float]] | ParseError

REGISTER_TYPES = sorted(WIDTHS)
ORDERS = ("big", "little")


@st.composite
def register_maps(draw: st.DrawFn) -> ModbusSpec:
    """A device reading one table: values of random types and orders, with gaps."""
    transport = draw(st.sampled_from(["rtu", "tcp"]))
    table = draw(st.sampled_from(["holding", "input", "coil", "discrete"]))
    bits = table in ("coil", "discrete")
    registers = []
    address = draw(st.integers(0, 1000))
    for i in range(draw(st.integers(1, 6))):
        type_ = "bool" if bits else draw(st.sampled_from(REGISTER_TYPES))
        byte_order, word_order = draw(st.sampled_from(ORDERS)), draw(st.sampled_from(ORDERS))
        registers.append(RegisterSpec(f"v{i}", table, address, type_, byte_order, word_order))
        address += WIDTHS[type_] + draw(st.integers(0, 3))
    return ModbusSpec(draw(st.integers(1, 247)), transport, tuple(registers), max_gap=2)


def pymodbus_pairs(
    spec: ModbusSpec, read: Read, frame: bytes, transaction_id: int
) -> list[tuple[str, float]] | None:
    """What the bus's pymodbus path makes of ``frame`` as the reply to ``read``: the values
    (``Read.values``: pymodbus's conversion), or None when pymodbus's framing does not cut
    ``frame`` whole as a frame, or the frame does not answer the read (unit id on a serial
    line, transaction id over Modbus TCP, function code, exception, count)."""
    bits = read.table in ("coil", "discrete")  # bits come in whole bytes
    link = ModbusLink(spec.transport)
    responses = link.feed(frame)
    if len(responses) != 1 or responses[0].frame != frame or link.pending_bytes:
        return None
    [response] = responses
    if (
        (response.unit != spec.unit and spec.transport == "rtu")
        or response.transaction_id != transaction_id
        or response.function_code != read.function_code
        or response.exception_code
        or not read.count <= len(response.words) < read.count + (8 if bits else 1)
    ):
        return None
    return read.values(response.words)


@st.composite
def replies(draw: st.DrawFn, spec: ModbusSpec, read: Read, transaction_id: int) -> bytes:
    """The reply to ``read`` with random values, whole or spoilt in one of many ways."""
    bits = read.table in ("coil", "discrete")
    words = draw(
        st.lists(
            st.integers(0, 1) if bits else st.integers(0, 0xFFFF),
            min_size=read.count,
            max_size=read.count,
        )
    )
    good = response_frame(spec, read, words, transaction_id)
    how = draw(
        st.sampled_from(
            ["whole", "flip", "cut", "extend", "count", "unit", "transaction", "exception"]
        )
    )
    if how == "flip":
        at = draw(st.integers(0, len(good) - 1))
        return good[:at] + bytes([good[at] ^ draw(st.integers(1, 255))]) + good[at + 1 :]
    if how == "cut":
        return good[: draw(st.integers(0, len(good) - 1))]
    if how == "extend":
        return good + draw(st.binary(min_size=1, max_size=4))
    if how == "count":  # a valid frame with other values than asked for
        other = draw(st.integers(1, read.count + 9).filter(lambda n: n != read.count))
        wrong = Read(read.table, read.address, other, ())
        return response_frame(spec, wrong, [0] * other, transaction_id)
    if how == "unit":  # a valid frame from another unit
        unit = draw(st.integers(1, 247).filter(lambda u: u != spec.unit))
        other_spec = ModbusSpec(unit, spec.transport, spec.registers)
        return response_frame(other_spec, read, words, transaction_id)
    if how == "transaction" and spec.transport == "tcp":  # the answer to another request
        other_id = draw(st.integers(0, 0xFFFF).filter(lambda t: t != transaction_id))
        return response_frame(spec, read, words, other_id)
    if how == "exception":  # a valid exception response
        pdu = ExceptionResponse(read.function_code, draw(st.integers(1, 11)), device_id=spec.unit)
        pdu.transaction_id = transaction_id
        framer = (
            FramerRTU(DecodePDU(True)) if spec.transport == "rtu" else FramerSocket(DecodePDU(True))
        )
        return bytes(framer.buildFrame(pdu))
    return good


def pairs_of(decode: Callable[[bytes], list[tuple[str, float]]], frame: bytes) -> Decoded:
    """What ``decode`` gives for ``frame``: its pairs, or the ParseError ``nonfinite`` of a
    float that is not finite (a float32 or float64 of random bits is often NaN), which keeps
    the others."""
    try:
        return decode(frame)
    except ParseError as exc:
        if exc.reason != "nonfinite":
            raise
        return exc


def outcome(d: Decoded) -> tuple[tuple[tuple[str, float], ...], tuple[str, ...]]:
    """The pairs ``d`` holds and the names it leaves out (none from a list of pairs)."""
    if isinstance(d, ParseError):
        return tuple(d.kept), d.unavailable
    return tuple(d), ()


def same(a: Decoded, b: list[tuple[str, float]]) -> bool:
    """The hand path's ``a`` has the pairs of pymodbus's ``b``: all of them, or those that are
    finite and names the others as not available."""
    if isinstance(a, ParseError):
        finite = [pair for pair in b if math.isfinite(pair[1])]
        others = tuple(sorted(name for name, value in b if not math.isfinite(value)))
        return bool(others) and a.kept == finite and a.unavailable == others
    return a == b and all(math.isfinite(value) for _, value in a)


@given(spec=register_maps(), transaction_id=st.integers(0, 0xFFFF), data=st.data())
def test_the_hand_path_accepts_and_decodes_what_pymodbus_does(
    spec: ModbusSpec, transaction_id: int, data: st.DataObject
) -> None:
    if spec.transport == "rtu":
        transaction_id = 0
    fields = FormatSpec("modbus", tuple((r.name, r.name) for r in spec.registers), modbus=spec)
    decode = codec_for("modbus").decoder(fields)
    for read in plan(spec):
        request = Request(
            spec.unit, read, spec.transport, {r.name: [r.name] for r in spec.registers}
        )
        reply = data.draw(replies(spec, read, transaction_id))
        want = pymodbus_pairs(spec, read, reply, transaction_id)
        accepted = request.answers(reply, transaction_id)
        if accepted:
            assert want is not None
            assert same(pairs_of(request.pairs, reply), want)
        elif want is not None:
            # pymodbus reads the bits of a Modbus TCP reply from its length and skips the
            # byte count: a reply whose count disagrees with its length is all it takes more
            assert not well_formed(spec, reply)
        exchange = request.with_transaction(transaction_id) + reply
        try:
            decoded: Decoded | None = pairs_of(decode, exchange)
        except ParseError:
            decoded = None
        # a Modbus TCP reply with transaction id 0 is the answer to the request whatever its
        # id (a firmware that answers every request so, as the bus takes it: Bus._note_zero_id)
        seen = 0 if spec.transport == "tcp" and reply[:2] == b"\0\0" else transaction_id
        if seen != transaction_id:
            accepted = request.answers(reply, seen)
            want = pymodbus_pairs(spec, read, reply, seen)
        # a sound reply of more values than asked for (``Bus._long``) decodes as the reply
        # of the right length made of its front
        ahead = front(spec, request, reply) if len(reply) > request.size else b""
        longer = well_formed(spec, reply) and request.answers(ahead, seen)
        assert (decoded is not None) == (accepted or longer)
        if decoded is not None and longer:
            assert outcome(decoded) == outcome(pairs_of(request.pairs, ahead))
        elif decoded is not None:
            assert want is not None
            assert same(decoded, want)


def front(spec: ModbusSpec, request: Request, reply: bytes) -> bytes:
    """``reply`` cut to the length of the reply to ``request``: its head, the byte count of
    that reply, the first data bytes, and (RTU) their CRC or (Modbus TCP) its length field."""
    data = request.head[-1]
    if spec.transport == "rtu":
        body = reply[:2] + bytes([data]) + reply[3 : 3 + data]
        return body + crc16(body).to_bytes(2, "little")
    length = (3 + data).to_bytes(2, "big")
    return reply[:4] + length + reply[6:8] + bytes([data]) + reply[9 : 9 + data]


def well_formed(spec: ModbusSpec, reply: bytes) -> bool:
    """True when the byte count of a read reply is the number of data bytes it carries."""
    at = 2 if spec.transport == "rtu" else 8
    tail = 2 if spec.transport == "rtu" else 0
    return len(reply) > at and reply[at] == len(reply) - at - 1 - tail


def test_a_request_is_pymodbus_s_frame_and_its_reply_has_a_known_head() -> None:
    read = Read.of("holding", (RegisterSpec("a", "holding", 0, "uint32"),))
    rtu = Request(1, read, "rtu", {"a": ["a"]})
    # the request of every Modbus reference document: 01 03 0000 0002, CRC C40B
    assert rtu.frame == rtu.with_transaction(9) == bytes.fromhex("010300000002c40b")
    assert (rtu.head, rtu.size) == (bytes.fromhex("010304"), 9)
    tcp = Request(1, read, "tcp", {"a": ["a"]})
    assert tcp.with_transaction(0x0102) == bytes.fromhex("010200000006010300000002")
    assert (tcp.head, tcp.size) == (bytes.fromhex("00000007" + "0304"), 13)  # no unit id


def test_the_crc_of_a_frame_with_its_crc_is_zero() -> None:
    frame = bytes.fromhex("010300000002c40b")
    assert crc16(frame[:-2]) == int.from_bytes(frame[-2:], "little") == 0x0BC4
    assert crc16(frame) == 0
    assert crc16(frame[:-1] + b"\x0c") != 0


def test_a_value_in_mixed_orders_is_its_words_reordered() -> None:
    # 0x11223344 as a device with byte order little, word order big sends it: 22 11 44 33
    reg = RegisterSpec("a", "holding", 0, "uint32", byte_order="little", word_order="big")
    request = Request(1, Read.of("holding", (reg,)), "rtu", {"a": ["a"]})
    body = bytes.fromhex("01030422114433")
    frame = body + crc16(body).to_bytes(2, "little")
    assert request.answers(frame)
    assert request.pairs(frame) == [("a", float(0x11223344))]
    assert struct.unpack(">I", bytes.fromhex("11223344"))[0] == 0x11223344


@given(
    words=st.lists(st.integers(0, 0xFFFF), min_size=4, max_size=4),
    type_=st.sampled_from(["int16", "uint16", "int32", "uint32", "int64", "uint64"]),
    byte_order=st.sampled_from(ORDERS),
    word_order=st.sampled_from(ORDERS),
)
def test_the_probe_prints_the_integers_the_daemon_reads_exactly(
    words: list[int], type_: str, byte_order: str, word_order: str
) -> None:
    """``sensord modbus read`` prints each integer type exactly: what the daemon's decoder
    reads where a float holds it, and the very integer past 2**53."""
    width = WIDTHS[type_]
    spec = RegisterSpec("v", "holding", 0, type_, byte_order, word_order)
    [(_, value)] = Read.of("holding", (spec,)).values(words[:width])
    whole = whole_number(words[:width], type_, byte_order, word_order)
    if abs(whole) <= 2**53:
        assert whole == value
    else:
        assert whole == pytest.approx(value, rel=1e-15)


def test_the_probe_prints_a_64_bit_counter_to_the_last_digit() -> None:
    words = [0x0123, 0x4567, 0x89AB, 0xCDEF]
    out = format_read("holding", 0, words)
    row = next(line for line in out.splitlines() if line.strip().startswith("uint64"))
    assert row.split()[1] == str(0x0123456789ABCDEF)  # big/big; a float reads ...896
    assert row.split()[4] == str(0xEFCDAB8967452301)  # little/little
