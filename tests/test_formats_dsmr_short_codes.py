"""Short OBIS codes without A-B, as IEC 62056-21 meters write them in their data readouts.

IEC 62056-61's reduced codes leave out the value groups A and B (and E, and F), and write
C groups 96 to 99 as the letters C, F, L and P: ``1.8.1(042951.721*kWh)``, ``32.7(241*V)``,
``C.7.0(0008)``, ``F.F(00)``. ``format = "dsmr"`` reads them: a channel's field may be
written as the meter writes the code, and a short code C.D.E of an electricity quantity (C 1
to 92) is the meter's own ``1-0:`` code, so that a field ``1-0:1.8.1`` reads a readout's
``1.8.1`` line and a field ``1.8.1`` a DSMR meter's ``1-0:1.8.1``; a short code of no medium
of its own (C 0, 93 to 99, a letter) or without its E group is read only as it is written.
The first line of a readout's data block begins with STX, which is not the code's; the ETX
and block check after the ``!`` line are the readout's (its block check is checked: see
``test_formats_dsmr_short_cut``).

The Kamstrup meters' DSMR 2.2 telegrams of the public captures (nielsbasjes/dsmr-tools'
tests, in ``test_formats_dsmr_bare_end``; plaatsoft/plaatenergy's, in
``test_formats_dsmr_meters``) write the whole codes (``1-0:1.8.1``); the short codes are the
readouts' of IEC 62056-21 meters:

* :data:`E350`: a Landis+Gyr E350 (``/LGZ4ZMF100AC.M26``), its answer to ``/?!`` and ACK
  ``000`` read through its optical port: public repository saliWd/strommesser, file
  pico_w/main_measure.py, the meter's answer that ``uart_ir_e350`` returns when it
  simulates the IR head (the project's _div/notes.md: 300 baud, 7E1, the sign-on and ACK
  from the volkszaehler.org wiki's E350 page), the data block from its STX to its ETX and
  block check.
* :data:`ACE3000`: an Itron ACE3000 type 260 (``/ACE0\\3k260V01.18``): public repository
  Apollon77/smartmeter-obis, file test/testSerialRequestResponseD0ModeE.js, its
  identification and data message (whose tests read ``F.F`` as 97.97 and ``1.8.0(000285.4*kWh)``
  as 285.4).
"""

from __future__ import annotations

from harness.pty import PtyPair
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from test_blocks import take
from test_first_line import Clock as PortClock
from test_first_line import send
from test_first_line import sensor as sensor_on
from test_formats_blocks import README, counts, decode_lines, latest, runtime, sensor_of
from test_formats_dsmr import meter

from sensord.cli_describe import describe
from sensord.config import Config
from sensord.formats import codec_for
from sensord.formats.base import FormatSpec
from sensord.formats.blocks import envelope

E350 = (
    b"/LGZ4ZMF100AC.M26\r\n\x02F.F(00)\r\n0.0(          120858)\r\nC.1.0(13647123)\r\n"
    b"C.1.1(        )\r\n1.8.1(042951.721*kWh)\r\n1.8.2(018609.568*kWh)\r\n"
    b"2.8.1(000000.302*kWh)\r\n2.8.2(000010.188*kWh)\r\n1.8.0(061561.289*kWh)\r\n"
    b"2.8.0(000010.490*kWh)\r\n15.8.0(061571.780*kWh)\r\nC.7.0(0008)\r\n32.7(241*V)\r\n"
    b"52.7(243*V)\r\n72.7(242*V)\r\n31.7(000.35*A)\r\n51.7(000.52*A)\r\n71.7(000.47*A)\r\n"
    b"82.8.1(0000)\r\n82.8.2(0000)\r\n0.2.0(M26)\r\nC.5.0(0401)\r\n!\r\n\x03\x01"
)

ACE3000 = (
    b"/ACE0\\3k260V01.18\r\n\x02F.F(00)\r\nC.1(1234567890123456)\r\nC.5.0(00)\r\n"
    b"1.8.0(000285.4*kWh)\r\n2.8.0(000120.1*kWh)\r\n!\r\n"
)


def bcc(block: bytes) -> int:
    """IEC 62056-21's block check character: the XOR of the bytes after STX up to ETX."""
    check = 0
    for byte in block[block.index(b"\x02") + 1 : block.index(b"\x03") + 1]:
        check ^= byte
    return check


def rechecked(readout: bytes) -> bytes:
    """``readout`` (ended in ETX and its block check) with the block check its bytes give, as
    the meter would write it for those values."""
    return readout[:-1] + bytes([bcc(readout)])


#: The E350's channels: its codes written as a DSMR meter's (``1-0:1.8.1``) and as the meter
#: writes them.
E350_CHANNELS = (
    ("imported_t1_kwh", "1-0:1.8.1"),
    ("imported_t2_kwh", "1.8.2"),
    ("exported_kwh", "1-0:2.8.0"),
    ("voltage_l1_v", "32.7"),
    ("current_l3_a", "71.7"),
    ("power_failures", "C.7.0"),
    ("status", "C.5.0"),
    ("error_register", "F.F"),
)

E350_VALUES = {
    "imported_t1_kwh": 42951.721,
    "imported_t2_kwh": 18609.568,
    "exported_kwh": 10.49,
    "voltage_l1_v": 241.0,
    "current_l3_a": 0.47,
    "power_failures": 8.0,
    "status": 0x0401,
    "error_register": 0.0,
}


def test_the_e350_readout_gives_each_code_through_the_framer_and_decoder() -> None:
    """Each channel's code, whichever way its field is written; the lines no channel reads
    (the id ``0.0(          120858)``, the firmware ``0.2.0(M26)``) are ignored, the ETX
    and block check after each ``!`` line the readout's: no parse error, no byte skipped."""
    rt = runtime(meter(*E350_CHANNELS))
    rt.feed(E350 + E350)
    assert latest(rt) == E350_VALUES
    assert counts(rt) == {
        "frames": 44,
        "ignored": 28,
        "readings": 16,
        "errors": {},
    }
    assert rt.framer.skipped_bytes == 0  # each ETX and block check is its readout's


def test_the_readme_s_e350_sensor_reads_the_e350_s_readout() -> None:
    rt = runtime(sensor_of(README["e350_readout"]))
    rt.feed(E350)
    assert latest(rt) == {
        "imported_t1_kwh": 42951.721,
        "imported_t2_kwh": 18609.568,
        "voltage_l1_v": 241.0,
        "power_failures": 8.0,
    }
    assert counts(rt)["errors"] == {}


def test_the_data_block_s_stx_is_not_the_first_code_s() -> None:
    """``\\x02F.F(00)`` is the line of ``F.F``: read by a channel of it; the framer passes the
    STX on, as it is a byte of the line."""
    config = meter(("error_register", "F.F"), ("imported_kwh", "1.8.0"))
    outcomes = decode_lines(config, ACE3000 + ACE3000)
    assert outcomes[0] == (b"\x02F.F(00)", [("error_register", 0.0)])
    assert (b"1.8.0(000285.4*kWh)", [("imported_kwh", 285.4)]) in outcomes
    assert [reason for _, reason in outcomes if isinstance(reason, str)] == []


def test_a_whole_field_reads_a_short_line_and_a_short_field_a_whole_line() -> None:
    """``1-0:1.8.0`` reads the ACE3000's ``1.8.0``; ``1.8.1`` reads a DSMR meter's
    ``1-0:1.8.1``, both its own line and that line's F group ``*255``."""
    rt = runtime(meter(("imported_kwh", "1-0:1.8.0"), ("exported_kwh", "2.8.0")))
    rt.feed(ACE3000 + ACE3000)  # without ETX, the first read unchecked as the second comes
    assert latest(rt) == {"imported_kwh": 285.4, "exported_kwh": 120.1}
    spec = FormatSpec("dsmr", (("t1", "1.8.1"),))
    decode = codec_for("dsmr").decoder(spec)
    assert decode(b"1-0:1.8.1(000004.426*kWh)") == [("t1", 4.426)]
    assert decode(b"1-0:1.8.1*255(000004.426*kWh)") == [("t1", 4.426)]
    assert decode(b"1.8.1*01(000003.100*kWh)") == []  # another billing period's


def test_a_short_code_of_no_medium_of_its_own_is_read_only_as_written() -> None:
    """``C.7.0`` is no ``0-0:96.7.0`` nor ``1-0:96.7.0`` (which A it is, a readout does not
    say); ``32.7`` (no E group) is no ``1-0:32.7.0``; ``0.9.1`` no ``1-0:0.9.1``."""
    line_of = {"0-0:96.7.0": b"C.7.0(0008)", "1-0:32.7.0": b"32.7(241*V)"}
    for field, line in line_of.items():
        decode = codec_for("dsmr").decoder(FormatSpec("dsmr", (("x", field),)))
        assert decode(line) == [], field
    decode = codec_for("dsmr").decoder(FormatSpec("dsmr", (("x", "32.7"),)))
    assert decode(b"1-0:32.7.0(230.1*V)") == []
    assert decode(b"32.7(241*V)") == [("x", 241.0)]


def problems(*fields: str) -> list[tuple[str, str]]:
    spec = FormatSpec("dsmr", tuple((f"c{i}", field) for i, field in enumerate(fields)))
    return codec_for("dsmr").check(spec)


def test_check_takes_short_codes_and_refuses_those_of_text_or_time() -> None:
    """The E350's and ACE3000's numbers are taken; their ids (``0.0``, ``C.1.0``, ``C.1``:
    96.1), firmware (``0.2.0``: 0.2) and the time and date (``0.9.1``, ``0.9.2``) are refused
    naming the key; a field that is neither code is refused saying both forms."""
    assert problems("1.8.1", "32.7", "C.7.0", "F.F", "C.5.0", "1.8.0*3", "L.1.0") == []
    refused = problems("0.0", "C.1.0", "C.1", "0.2.0", "0.9.1", "0.9.2", "1.8.x")
    assert [key for key, _ in refused] == [f"channels[{i}].field" for i in range(7)]
    assert "an electricity id" in refused[0][1]
    assert "a device id" in refused[1][1]
    assert "a device id" in refused[2][1]
    assert "a firmware's version" in refused[3][1]
    assert "the meter's local time or date" in refused[4][1]
    assert "the meter's local time or date" in refused[5][1]
    assert refused[6][1] == (
        "'1.8.x' is no OBIS code, such as '1-0:1.8.1', nor a short code as an IEC 62056-21 "
        "meter writes it, such as '1.8.1', '32.7' or 'C.7.0'"
    )


def test_a_config_of_a_text_short_code_fails_to_load_naming_the_key() -> None:
    errors: list[str] = []
    table = {"name": "m", "port": "sim://m", "format": "dsmr"}
    channels = [{"name": "meter_id", "field": "C.1.0"}]
    assert Config.load({"sensors": [table | {"channels": channels}]}, "", errors) is None
    assert [error.partition(":")[0] for error in errors] == ["sensors[0].channels[0].field"]


def test_sensord_check_tells_the_codes_each_channel_reads() -> None:
    """A whole code of an electricity quantity, and a short one, read lines of both forms;
    the others only as written."""
    shown = describe(meter(*E350_CHANNELS, ("imported_d3_kwh", "1-0:1.8.0*3")))
    assert (
        "      codes read: imported_t1_kwh 1-0:1.8.1 or 1.8.1, imported_t2_kwh 1-0:1.8.2 or "
        "1.8.2, exported_kwh 1-0:2.8.0 or 2.8.0, voltage_l1_v 32.7, current_l3_a 71.7, "
        "power_failures C.7.0, status C.5.0, error_register F.F, imported_d3_kwh 1-0:1.8.0*3 "
        "or 1.8.0*3"
    ) in shown.splitlines()
    shown = describe(meter(("gas_m3", "0-1:24.2.1"), ("t1", "1-0:1.8.1*255")))
    assert "      codes read: gas_m3 0-1:24.2.1, t1 1-0:1.8.1 or 1.8.1" in shown.splitlines()


def test_the_simulator_writes_short_fields_as_written_and_they_read_back() -> None:
    """The encoder writes ``code(value)`` per field as the field is written; its telegram,
    framed and decoded, gives each value back."""
    spec = FormatSpec("dsmr", (("t1", "1.8.1"), ("v1", "32.7"), ("fails", "C.7.0")))
    codec = codec_for("dsmr")
    lines = codec.encoder(spec)({"1.8.1": 12.5, "32.7": 230.25, "C.7.0": 3.0}, 0.0)
    assert lines == [b"1.8.1(12.500)", b"32.7(230.250)", b"C.7.0(3.000)"]
    read, counted = take("dsmr", envelope("dsmr", lines))
    assert counted["rejected"] == {}
    decode = codec.decoder(spec)
    assert [pair for line in read for pair in decode(line)] == [
        ("t1", 12.5),
        ("v1", 230.25),
        ("fails", 3.0),
    ]


@settings(max_examples=200, deadline=None)
@given(
    st.integers(min_value=0, max_value=99),
    st.integers(min_value=0, max_value=99),
    st.integers(min_value=0, max_value=255),
    st.integers(min_value=0, max_value=999999),
)
def test_a_short_code_reads_as_its_whole_code_exactly_for_an_electricity_quantity(
    c: int, d: int, e: int, value: int
) -> None:
    """Any short code C.D.E (but a status word's, 96.5, whose value is hex): a field of
    ``1-0:C.D.E`` reads its line, and a field of C.D.E the line ``1-0:C.D.E``, exactly when C
    is 1 to 92; each field reads a line of its own form always, with its value."""
    assume((c, d) != (96, 5))
    code = f"{c}.{d}.{e}"
    electricity = 1 <= c <= 92
    short_line = f"{code}({value}.5*kWh)".encode()
    whole_line = f"1-0:{code}({value}.5*kWh)".encode()
    read = [("x", value + 0.5)]
    short = codec_for("dsmr").decoder(FormatSpec("dsmr", (("x", code),)))
    whole = codec_for("dsmr").decoder(FormatSpec("dsmr", (("x", f"1-0:{code}"),)))
    assert short(short_line) == read
    assert whole(whole_line) == read
    assert whole(short_line) == (read if electricity else [])
    assert short(whole_line) == (read if electricity else [])


E350_SENSOR = """
format = "dsmr"
serial = { baudrate = 300, bytesize = 7, parity = "E" }
stale_after_s = 30
channels = [
  { name = "imported_t1_kwh", field = "1-0:1.8.1" }, { name = "voltage_l1_v", field = "32.7" },
  { name = "power_failures", field = "C.7.0" },
]
"""


def test_the_e350_s_readouts_on_a_pty_publish_their_readings(pty_pair: PtyPair) -> None:
    """Two readouts on a real pty, the second with more energy: each channel's latest value,
    two readings each, and no parse error."""
    clock = PortClock()
    later = rechecked(E350.replace(b"1.8.1(042951.721*kWh)", b"1.8.1(042952.004*kWh)"))
    with sensor_on(pty_pair, clock, E350_SENSOR) as opened:
        clock.now += 0.001
        send(opened, pty_pair, E350[:100])
        send(opened, pty_pair, E350[100:] + later)
        assert latest(opened) == {
            "imported_t1_kwh": 42952.004,
            "voltage_l1_v": 241.0,
            "power_failures": 8.0,
        }
        snap = opened.snapshot()
        assert sum(snap.parse_errors.values()) == 0
        [energy] = [ch for ch in snap.channels if ch.name == "imported_t1_kwh"]
        assert energy.stats is not None
        assert energy.stats.count == 2
