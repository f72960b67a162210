"""An eBZ DD3's time of operation, ``0-0:96.8.0*255(0011A589)``: seconds, in hex digits.

An eBZ DD3 (an "easy Basiszähler") sends a D0 telegram every second without a CRC; its last
line is its time of operation in seconds, 8 hex digits, no unit, as its status word
``1-0:96.5.0*255(001C0104)`` is hex digits too. A channel on it read the digits as a decimal
number, and one that holds a letter (``0011A589``) was ``syntax`` on every telegram.

The value is hex by its code and its form, not by its letters: the meter writes hex digits
whether a letter is among them or not (``00104443``), so reading by letters would make the
count jump by a factor of some 1.6 as letters come and go. A meter that writes the same code
in decimal writes its unit (a Kamstrup 382C's ``96.8.0(0119899*h)``): a value with a unit is
the decimal number it writes.

Origins:

* ``RUN``: public repository pduck27/Smart-Meter-to-MQTT, file test/output.txt at commit
  eb9cf8cb22a0ecc0823cb64a55ac04cb64d679cd, a console capture of an eBZ DD3 2R06
  (``/EBZ5DD32R06ETA_107``) whose README names the line "Time of operation (hex)": its six
  whole telegrams, lines ended in CR LF (the capture shows them one a line), one a second,
  the count from ``0011A589`` to ``0011A58E``.
* ``AHPOHL_EARLIER``, ``AHPOHL_LATER``: public repository ahpohl/smartmeter, files
  resources/d0_packet.log at 11a1d9beeab1fe2be1bea96320db94a280b0ee4e and resources/ebz/d0.log
  at 0fdcc03b302cae4a9121c64bf45e7faa0c41d297, two telegrams of one eBZ DD3 BZ06
  (``/EBZ5DD3BZ06ETA_107``, meter 1EBZ0100507409), whose README comments the line "sensor
  lifetime in secs, 0x". The later one's count, ``00104443``, holds no letter. Read as hex,
  10769 s (3 h) passed between the two, in which the meter counted 1.01175 kWh: 338 W on
  average, between the 259 W and 389 W each shows; read as decimal, the later count would
  be less than the earlier one's 0x101A32 (1055282).
* jedie/pysmartmeter's test data (``EBZ_DD3`` of ``test_formats_dsmr_parser``), which writes
  ``0-0:96.8.0*255(00017A9F)`` with the comment "== 96927sec (time of operation)".
* ``KAMSTRUP_HOURS``: public repository madspeterbach/kamstrup-382C, README.md at
  26ea8a5a8a3f57f77520fcb188c2a64b51839ebe, a Kamstrup 382C's IEC 62056-21 readout, which
  writes ``96.8.0(0119899*h)`` ("in hours. I.e. this meter has been in operation for close to
  14 years": 119899 h is 13.7 years; as hex, 131 years). Its readout writes each code without
  its A-B groups, which sensord's ``dsmr`` does not read; here the line is written with them,
  as a P1 telegram writes its codes, its value as the meter wrote it.
"""

from __future__ import annotations

import pytest
from harness.dsmr_parser_telegrams import crlf
from harness.pty import PtyPair
from hypothesis import given, settings
from hypothesis import strategies as st
from structlog.testing import capture_logs
from test_first_line import Clock as PortClock
from test_first_line import send
from test_first_line import sensor as sensor_on
from test_formats_blocks import counts, latest, runtime
from test_formats_dsmr import meter
from test_formats_dsmr_parser import EBZ_DD3

from sensord.errors import ParseError
from sensord.formats import codec_for
from sensord.formats.base import FormatSpec


def ebz_2r06(count: str, imported: str, exported: str, powers: tuple[str, ...]) -> bytes:
    """A telegram of the eBZ DD3 2R06 of pduck27/Smart-Meter-to-MQTT's capture."""
    total, l1, l2, l3 = powers
    return crlf(
        f"""
/EBZ5DD32R06ETA_107

1-0:0.0.0*255(1EBZ0100961635)
1-0:96.1.0*255(1EBZ0100961635)
1-0:1.8.0*255({imported}*kWh)
1-0:2.8.0*255({exported}*kWh)
1-0:16.7.0*255({total}*W)
1-0:36.7.0*255({l1}*W)
1-0:56.7.0*255({l2}*W)
1-0:76.7.0*255({l3}*W)
1-0:96.5.0*255(001C0104)
0-0:96.8.0*255({count})
!
"""
    )


#: The capture's six whole telegrams, one a second.
RUN = [
    ebz_2r06("0011A589", "000089.46247653", "000006.10581520", ("000336.51", "000130.96", "000159.99", "000045.56")),
    ebz_2r06("0011A58A", "000089.46257008", "000006.10581520", ("000336.81", "000130.62", "000160.49", "000045.70")),
    ebz_2r06("0011A58B", "000089.46266362", "000006.10581520", ("000336.72", "000131.14", "000160.37", "000045.21")),
    ebz_2r06("0011A58C", "000089.46275728", "000006.10581520", ("000337.17", "000130.37", "000160.41", "000046.39")),
    ebz_2r06("0011A58D", "000089.46285103", "000006.10581520", ("000337.50", "000131.14", "000160.42", "000045.94")),
    ebz_2r06("0011A58E", "000089.46294448", "000006.10581520", ("000336.43", "000130.72", "000160.55", "000045.16")),
]  # fmt: skip


def ebz_bz06(count: str, imported: str, powers: tuple[str, ...], volts: tuple[str, ...]) -> bytes:
    """A telegram of the eBZ DD3 BZ06 of ahpohl/smartmeter's logs."""
    total, l1, l2, l3 = powers
    v1, v2, v3 = volts
    return crlf(
        f"""
/EBZ5DD3BZ06ETA_107

1-0:0.0.0*255(1EBZ0100507409)
1-0:96.1.0*255(1EBZ0100507409)
1-0:1.8.0*255({imported}*kWh)
1-0:16.7.0*255({total}*W)
1-0:36.7.0*255({l1}*W)
1-0:56.7.0*255({l2}*W)
1-0:76.7.0*255({l3}*W)
1-0:32.7.0*255({v1}*V)
1-0:52.7.0*255({v2}*V)
1-0:72.7.0*255({v3}*V)
1-0:96.5.0*255(001C0104)
0-0:96.8.0*255({count})
!
"""
    )


AHPOHL_EARLIER = ebz_bz06(
    "00101A32", "000124.24513665", ("000388.64", "000076.82", "000146.97", "000164.85"),
    ("232.4", "231.3", "231.4"),
)  # fmt: skip
AHPOHL_LATER = ebz_bz06(
    "00104443", "000125.25688570", ("000259.20", "000075.18", "000092.34", "000091.68"),
    ("232.4", "231.7", "233.7"),
)  # fmt: skip

KAMSTRUP_HOURS = b"0-0:96.8.0(0119899*h)"

CHANNELS = (("uptime_s", "0-0:96.8.0"), ("imported_kwh", "1-0:1.8.0"), ("status", "1-0:96.5.0"))


def test_the_time_of_operation_counts_one_a_second_in_hex() -> None:
    """Each of the capture's telegrams, a second apart, reads one more second than the one
    before: 0x0011A589 (1156489) to 0x0011A58E; every telegram read whole, nothing counted
    damaged."""
    rt = runtime(meter(*CHANNELS))
    seconds = []
    for telegram in RUN:
        rt.feed(telegram)
        seconds.append(latest(rt)["uptime_s"])
    assert seconds == [float(0x0011A589 + k) for k in range(len(RUN))]
    assert latest(rt) == {
        "uptime_s": 1156494.0,
        "imported_kwh": 89.46294448,
        "status": float(0x001C0104),
    }
    assert counts(rt)["errors"] == {}


def test_a_count_without_a_letter_is_hex_too() -> None:
    """ahpohl/smartmeter's two telegrams of one meter: ``00101A32`` and, 3 h later,
    ``00104443``, which holds no letter: 1055282 s and 1066051 s. The 10769 s between them
    are what the energy counted in them took at the power each telegram shows (1.01175 kWh at
    259 W to 389 W: 2.6 h to 3.9 h); read as decimal, 104443 s, the count would have gone
    back 11 days."""
    rt = runtime(meter(*CHANNELS))
    rt.feed(AHPOHL_EARLIER)
    earlier = latest(rt)
    rt.feed(AHPOHL_LATER)
    later = latest(rt)
    assert (earlier["uptime_s"], later["uptime_s"]) == (1055282.0, 1066051.0)
    assert counts(rt)["errors"] == {}
    energy_kwh = later["imported_kwh"] - earlier["imported_kwh"]
    hours = (later["uptime_s"] - earlier["uptime_s"]) / 3600
    assert energy_kwh / 0.38864 < hours < energy_kwh / 0.25920


def test_pysmartmeter_s_time_of_operation_is_its_seconds() -> None:
    """``0-0:96.8.0*255(00017A9F)``, "== 96927sec (time of operation)" in its test data."""
    rt = runtime(meter(("uptime_s", "0-0:96.8.0*255"), ("kwh", "1-0:1.8.0")))
    rt.feed(EBZ_DD3)
    assert latest(rt) == {"uptime_s": 96927.0, "kwh": 12345.0}
    assert counts(rt)["errors"] == {}


@pytest.mark.parametrize(
    ("line", "value"),
    [
        (KAMSTRUP_HOURS, 119899.0),  # hours, 13.7 years; as hex, 0x119899, 131 years
        (b"0-0:96.8.0(00096927*s)", 96927.0),
        (b"0-0:96.8.0*255(0001.5*h)", 1.5),
    ],
)
def test_a_time_of_operation_written_with_its_unit_is_its_decimal_number(
    line: bytes, value: float
) -> None:
    """A meter that writes the code in decimal writes its unit, as the Kamstrup 382C does:
    the number it writes, in that unit, not hex digits."""
    spec = FormatSpec("dsmr", (("uptime", "0-0:96.8.0"),))
    assert codec_for("dsmr").decoder(spec)(line) == [("uptime", value)]


@pytest.mark.parametrize("value", [b"0011G589", b"0011A5 89", b"0x11A589", b"1.5"])
def test_a_time_of_operation_that_is_no_hex_is_syntax_and_its_neighbours_are_read(
    value: bytes,
) -> None:
    """A count of a byte that is no hex digit (``G``, damaged on the line), or a number
    without a unit that is no hex digits: ``syntax``, logged with the code and the value, and
    the other readings of the telegram kept (an empty value, none, is ``invalid``:
    :mod:`test_formats_dsmr_empty`)."""
    telegram = RUN[0].replace(b"(0011A589)", b"(" + value + b")")
    rt = runtime(meter(*CHANNELS))
    with capture_logs() as logs:
        rt.feed(telegram)
    assert latest(rt) == {"imported_kwh": 89.46247653, "status": float(0x001C0104)}
    assert counts(rt)["errors"] == {"syntax": 1}
    details = [str(entry.get("detail")) for entry in logs if entry["event"] == "frame rejected"]
    assert details == [f"0-0:96.8.0: {value.decode()!r} is no time of operation in hex digits"]


def test_a_decoder_of_no_hex_code_reads_a_hex_count_as_no_number() -> None:
    """The hex reading is the time of operation's (and the status word's): a sensor whose
    channels read neither reads the same digits on another code as the decimal they write,
    or ``syntax`` (the lines of codes no channel reads are not looked at)."""
    spec = FormatSpec("dsmr", (("e", "1-0:1.8.0"),))
    decode = codec_for("dsmr").decoder(spec)
    assert decode(b"1-0:1.8.0(00104443*kWh)") == [("e", 104443.0)]
    assert decode(b"0-0:96.8.0*255(0011A589)") == []
    with pytest.raises(ParseError) as caught:
        decode(b"1-0:1.8.0(0011A589)")
    assert caught.value.reason == "syntax"


@settings(max_examples=200)
@given(st.integers(min_value=0, max_value=0xFFFFFFFF))
def test_a_simulated_time_of_operation_is_written_as_the_meter_writes_it(seconds: int) -> None:
    """The simulator writes the count as an eBZ does, 8 hex digits and no unit, and its
    decoder reads back the seconds."""
    spec = FormatSpec("dsmr", (("uptime", "0-0:96.8.0*255"),))
    codec = codec_for("dsmr")
    [line] = codec.encoder(spec)({"0-0:96.8.0*255": float(seconds)}, 0.0)
    assert line == b"0-0:96.8.0*255(%08X)" % seconds
    assert codec.decoder(spec)(line) == [("uptime", float(seconds))]


def test_an_ebz_meter_on_a_pty_publishes_its_time_of_operation(pty_pair: PtyPair) -> None:
    """The capture's run sent on a real pty, two telegrams in one read and one cut in two
    across reads: the channel's latest value is the last telegram's count, and the window
    holds all six seconds."""
    clock = PortClock()
    channels = ", ".join(f'{{ name = "{name}", field = "{field}" }}' for name, field in CHANNELS)
    with sensor_on(pty_pair, clock, f'format = "dsmr"\nchannels = [{channels}]\n') as opened:
        data = b"".join(RUN)
        clock.now += 0.001
        cut = len(RUN[0]) + len(RUN[1]) + 50
        send(opened, pty_pair, data[:cut])
        send(opened, pty_pair, data[cut:])
        assert latest(opened)["uptime_s"] == 1156494.0
        [uptime] = [ch for ch in opened.snapshot().channels if ch.name == "uptime_s"]
        assert uptime.stats is not None
        assert (uptime.stats.count, uptime.stats.min, uptime.stats.max) == (
            6,
            1156489.0,
            1156494.0,
        )
        assert opened.snapshot().parse_errors["syntax"] == 0
