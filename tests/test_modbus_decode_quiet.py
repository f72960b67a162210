"""A frame the link takes out (an answer that came in an adapter's pieces, a late answer) is
decoded into its PDU with pymodbus's parts as pymodbus's ``DecodePDU.decode`` decodes it, but
with no debug message formatted: ``DecodePDU.decode`` formats the PDU (``ModbusPDU.__str__``,
a line with every register) as the argument of ``Log.debug`` for every frame, whatever the
log level, which costs more than the decoding itself for a short answer (pymodbus 3.16: 4.0 us
a frame against 0.8 us for one register, 38 against 32 us for 125).

An FTDI adapter hands an answer over in pieces cut anywhere (what its latency timer gathered,
FTDI AN232B-04; pymodbus-dev/pymodbus#880).
"""

from __future__ import annotations

import struct

from harness.calls import calls_of
from harness.pty import PtyPair
from hypothesis import given, settings
from hypothesis import strategies as st
from pymodbus.pdu.diag_message import ReturnQueryDataResponse
from pymodbus.pdu.mei_message import ReadDeviceInformationResponse
from pymodbus.pdu.other_message import ReportDeviceIdResponse
from pymodbus.pdu.pdu import ModbusPDU
from test_modbus import device
from test_modbus_line import HandBus, read_reply, read_request

from sensord.formats.modbus import ModbusLink, Response, crc16
from sensord.formats.modbus_pymodbus import pymodbus_parts

FOUR = [{"name": f"r{i}", "table": "holding", "address": i} for i in range(4)]
WORDS = [1000, 2000, 3000, 4000]


def test_an_answer_in_pieces_is_read_with_no_pdu_formatted(pty_pair: PtyPair) -> None:
    """Unit 1's answer cut at each byte in two pieces 16 ms apart: read, each value as sent,
    and no PDU formatted for a log message. (Fails with pymodbus's ``DecodePDU.decode``: 1 ==
    0 at cut 1.)"""
    hand = HandBus(pty_pair, device("a", "", 1, FOUR, interval_s=1.0, timeout_s=0.2))
    try:
        answer = read_reply(1, WORDS)
        at = 100.0
        for cut in range(1, len(answer)):
            assert hand.tick(at) == read_request(1, 0, 4), cut
            with calls_of(ModbusPDU.__str__) as count:
                hand.receive(at + 0.02, answer[:cut], look=False)
                hand.receive(at + 0.036, answer[cut:], look=False)
            assert count == [0], cut
            at += 1.0
        counters = hand.counters("a")
        assert (counters.transactions, counters.timeouts) == (len(answer) - 1, 0)
        assert counters.errors == dict.fromkeys(counters.errors, 0)
        assert hand.values("a")["r3"] == (4000.0, 4000.0, len(answer) - 1)
    finally:
        hand.close()


def pymodbus_response(frame: bytes, rtu: bool) -> Response | None:
    """What the link took ``frame`` for when it decoded it with pymodbus's
    ``DecodePDU.decode``: the reference the link's own decoding is held to."""
    decoder = pymodbus_parts().decode_pdu(False)
    unit, pdu_bytes = (frame[0], frame[1:-2]) if rtu else (frame[6], frame[7:])
    pdu = decoder.decode(pdu_bytes)
    if pdu is None:
        return None
    exception = isinstance(pdu, pymodbus_parts().exception_response)
    if exception:
        code, words = int(pdu.exception_code) or 0x100, []
    elif pdu.function_code in (3, 4):
        code, words = 0, list(pdu.registers)
    elif pdu.function_code in (1, 2):
        code, words = 0, [1 if bit else 0 for bit in pdu.bits]
    else:
        code, words = 0, []
    transaction_id = 0 if rtu else frame[0] << 8 | frame[1]
    return Response(unit, transaction_id, int(pdu.function_code) & 0x7F, code, words, frame)


# function codes of answers sensord reads, of others pymodbus knows (diagnostics 0x08 and
# device identification 0x2B with their sub-functions, 0x11, 0x17), exceptions (0x80 none),
# and codes pymodbus does not know
FUNCTIONS = st.sampled_from(
    [
        *(1, 2, 3, 4, 5, 6, 7, 8, 11, 12, 15, 16, 17, 20, 21, 22, 23, 24, 43, 0, 9, 0x41, 0x64),
        *(0x80, 0x81, 0x83, 0x84, 0x86, 0x90, 0xAB, 0xFF),
    ]
)


@settings(max_examples=600, deadline=None)
@given(
    unit=st.integers(0, 255),
    function=FUNCTIONS,
    body=st.binary(max_size=40),
    rtu=st.booleans(),
)
def test_a_frame_is_taken_as_pymodbus_decodes_it(
    unit: int, function: int, body: bytes, rtu: bool
) -> None:
    """Any PDU, sound or not (a byte count past its bytes, a sub-function pymodbus does not
    know, an odd length): the link takes a frame out of it as a response exactly when
    pymodbus's ``DecodePDU.decode`` decodes it, with the same unit, function, exception code
    and values."""
    pdu = bytes((function,)) + body
    if rtu:
        head = bytes((unit,)) + pdu
        frame = head + crc16(head).to_bytes(2, "little")
    else:
        frame = b"\x00\x07\x00\x00" + struct.pack(">H", len(pdu) + 1) + bytes((unit,)) + pdu
    link = ModbusLink("rtu" if rtu else "tcp")
    expected = pymodbus_response(frame, rtu)
    # (the decoding itself, whatever the framing would cut of such bytes)
    got = link._decode(frame)
    assert got == expected


def test_answers_of_functions_sensord_never_sends_are_decoded_with_no_pdu_formatted() -> None:
    """A device's answers to another master on the line (pymodbus's server PDUs): its
    identification (0x2B, sub-function 0x0E), its report of its id (0x11) and a diagnostic's
    echo (0x08, sub-function 0). The link takes each out of two pieces as pymodbus's
    ``DecodePDU.decode`` decodes it, and formats no PDU for a log message. (Fails with
    ``DecodePDU.decode`` for the functions sensord never sends: [1] == [0].)"""
    rtu = pymodbus_parts().framer_rtu(pymodbus_parts().decode_pdu(False))
    identification = {0: b"SENSORD", 1: b"P-42", 2: b"1.02"}
    pdus: list[ModbusPDU] = [
        ReadDeviceInformationResponse(read_code=1, information=identification, dev_id=1),
        ReportDeviceIdResponse(identifier=b"SENSORD", status=True, dev_id=1),
        ReturnQueryDataResponse(message=b"\x12\x34", dev_id=1),
    ]
    link = ModbusLink("rtu")
    for pdu in pdus:
        frame = bytes(rtu.buildFrame(pdu))
        with calls_of(ModbusPDU.__str__) as count:
            taken = link.feed(frame[:3]) + link.feed(frame[3:])
        assert count == [0], pdu.function_code
        assert taken == [pymodbus_response(frame, True)], pdu.function_code
