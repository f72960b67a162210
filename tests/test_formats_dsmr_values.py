"""Several values in one data set, ``&`` between them (``address(value*unit&value*unit)``).

A Landis+Gyr UH50 (Ultraheat T550) heat meter writes its maximum flow and return temperatures
in one data set, ``9.4(098.5*C&096.1*C)``, each value with its unit; the same ``&`` joins the
parts of its other compound values (``9.6(000&66153690&0&000&66153690&0)``, a date and a time
``9.36(2022-05-19&19:41:17)``). A field names the first value by the code alone and a later
one by ``&`` and its place (``9.4&2``); the others of the line are read as ever.

The captures:

* ``UH50`` (:mod:`test_formats_dsmr_data_sets`): vpathuis/ultraheat's
  tests/LUGCUH50_dummy_utf8.txt, commit 045e7246a92482eafc7b7f847522e102378b36e4.
* :data:`T550`: a Landis+Gyr T550's readout, the heat in MWh, its temperatures
  ``9.4(108.5*C&088.1*C)``: public repository vpathuis/ultraheat, file
  tests/LGUHT550_dummy_utf8.txt at commit 282d0e8ddad63b8e3439b72b3b009f35a8667edf (the
  ultraheat-api library reads the second value of ``9.4`` as the return temperature by the
  regex ``9.4\\(.*?\\*C&(.*?)\\*C``). Framed as ``UH50`` is: STX, CR LF line ends, ETX and
  the block check computed over them (the file holds the lines alone, LF line ends).

``&`` is the only separator inside a value in these readouts; the other IEC 62056-21
readouts in the tests' captures (a Landis+Gyr E350's, an Itron ACE3000's, a Pafal
20EC3gr's; Kamstrup's DSMR 2.2 telegrams) hold one value per data set, and several
parenthesised groups are read by their own rules (a gas line's time stamp and reading).
"""

from __future__ import annotations

import pytest
from test_blocks import take
from test_formats_blocks import counts, latest, runtime
from test_formats_dsmr import meter
from test_formats_dsmr_data_sets import UH50, readout

from sensord.cli_describe import describe
from sensord.errors import ParseError
from sensord.formats import codec_for
from sensord.formats.base import FormatSpec
from sensord.formats.blocks import envelope

T550_LINES = [
    "6.8(0326.062*MWh)6.26(07939.56*m3)9.21(00073600)",
    "6.26*01(07843.48*m3)6.8*01(0323.272*MWh)",
    "F(0)9.20(66935074)6.35(60*m)",
    "6.6(0028.0*kW)6.6*01(0028.0*kW)6.33(000.840*m3ph)9.4(108.5*C&088.1*C)",
    "6.31(0088324*h)6.32(0000001*h)9.22(R)9.6(000&00073600&0&000&00073600&0)",
    "9.7(20000)6.32*01(0000001*h)6.36(01-01&00:00)6.33*01(000.840*m3ph)",
    "6.8.1()6.8.2()6.8.3()6.8.4()6.8.5()",
    "6.8.1*01()6.8.2*01()6.8.3*01()",
    "6.8.4*01()6.8.5*01()",
    "9.4*01(108.5*C&088.1*C)",
    "6.36.1(2018-09-07)6.36.1*01(2018-09-07)",
    "6.36.2(2013-06-14)6.36.2*01(2013-06-14)",
    "6.36.3(2012-10-03)6.36.3*01(2012-10-03)",
    "6.36.4(2017-11-09)6.36.4*01(2017-11-09)",
    "6.36.5()6.36*02(01&00:00)9.36(2022-06-08&10:06:51)9.24(1.5*m3ph)",
    "9.17(0)9.18()9.19()9.25()",
    "9.1(0&1&0&0017&CECV&CECV&1&5.19&5.19&F&081008&040404&08&0&00&?:)",
    "9.2(&&)9.29()9.31(0059615*h)",
    "9.0.1(00000000)9.0.2(00000000)9.34.1(000.00000*m3)9.34.2(000.00000*m3)",
    "8.26.1(00000000*m3)8.26.2(00000000*m3)",
    "8.26.1*01(00000000*m3)8.26.2*01(00000000*m3)",
    "6.26.1()6.26.4()6.26.5()",
    "6.26.1*01()6.26.4*01()6.26.5*01()0.0(00073600)",
]
T550 = readout(T550_LINES)

#: The channels of both temperatures, now and at the last billing date, and of the owner
#: number that ``9.6`` repeats as its second value.
TEMPERATURES = (
    ("flow_max_c", "9.4"),
    ("return_max_c", "9.4&2"),
    ("flow_max_last_year_c", "9.4*1&1"),
    ("return_max_last_year_c", "9.4*1&2"),
    ("owner_number", "9.6&2"),
    ("volume_m3", "6.26"),
)


@pytest.mark.parametrize(
    ("data", "values"),
    [
        (UH50, (98.5, 96.1, 66153690.0, 3329.67)),
        (T550, (108.5, 88.1, 73600.0, 7939.56)),
    ],
    ids=["uh50", "t550"],
)
def test_each_value_of_a_heat_meter_s_temperatures_is_read_by_its_place(
    data: bytes, values: tuple[float, float, float, float]
) -> None:
    """The flow temperature by ``9.4`` (or ``9.4*1&1``), the return temperature by ``9.4&2``
    (its own unit, ``*C``, not read into the first), the owner number by ``9.6&2``; the other
    data sets of their lines as before, no parse error. It fails where ``9.4&2`` is no field a
    config takes (``check`` refuses it), or where a decoder given it reads nothing of
    ``9.4``'s second value."""
    flow, back, owner, volume = values
    assert codec_for("dsmr").check(FormatSpec("dsmr", TEMPERATURES)) == []
    rt = runtime(meter(*TEMPERATURES))
    rt.feed(data + data)
    assert latest(rt) == {
        "flow_max_c": flow,
        "return_max_c": back,
        "flow_max_last_year_c": flow,
        "return_max_last_year_c": back,
        "owner_number": owner,
        "volume_m3": volume,
    }
    got = counts(rt)
    assert got["errors"] == {}
    assert got["readings"] == 2 * len(TEMPERATURES)
    assert rt.framer.skipped_bytes == 0


def test_a_value_that_is_no_number_fails_for_its_channels_and_the_others_of_its_set_read() -> None:
    """``9.4(098.5*C&09x.1*C)``: the return temperature is ``syntax`` (named, with its place),
    the flow temperature of the same data set read; a place the value does not hold (``&3``)
    is ``syntax`` too, the first value read."""
    decode = codec_for("dsmr").decoder(FormatSpec("dsmr", (("flow", "9.4"), ("back", "9.4&2"))))
    assert decode(b"9.4(098.5*C&096.1*C)") == [("flow", 98.5), ("back", 96.1)]
    with pytest.raises(ParseError) as raised:
        decode(b"9.4(098.5*C&09x.1*C)")
    assert (raised.value.reason, raised.value.kept) == ("syntax", [("flow", 98.5)])
    assert raised.value.detail == "9.4: '09x.1*C' is no number (value 2 of '098.5*C&09x.1*C')"
    third = codec_for("dsmr").decoder(FormatSpec("dsmr", (("flow", "9.4"), ("x", "9.4&3"))))
    with pytest.raises(ParseError) as raised:
        third(b"9.4(098.5*C&096.1*C)")
    assert (raised.value.reason, raised.value.kept) == ("syntax", [("flow", 98.5)])
    assert "holds 2 values ('&' between them), no value 3" in raised.value.detail
    rt = runtime(meter(("flow", "9.4"), ("back", "9.4&2"), ("volume_m3", "6.26")))
    rt.feed(UH50.replace(b"&096.1*C)", b"&09x.1*C)", 1)[: UH50.index(b"\x03")] + UH50)
    assert latest(rt) == {"flow": 98.5, "back": 96.1, "volume_m3": 3329.67}
    got = counts(rt)
    assert (got["readings"], got["errors"]) == (5, {"syntax": 1})


def test_check_takes_a_value_s_place_and_tells_it() -> None:
    """``&1`` to ``&32``; ``&0`` and ``&33`` are refused naming the key; ``sensord check``
    tells the place with the code (``&1`` is the code's first value, told as the code)."""
    spec = FormatSpec("dsmr", (("a", "9.4&0"), ("b", "9.4&33"), ("c", "9.4&32"), ("d", "9.4")))
    refused = codec_for("dsmr").check(spec)
    assert [key for key, _ in refused] == ["channels[0].field", "channels[1].field"]
    assert "('9.4&2' reads 96.1 of '9.4(098.5*C&096.1*C)'); got 0" in refused[0][1]
    shown = describe(meter(("flow", "9.4&1"), ("back", "9.4&2"), ("t", "1-0:1.8.1&2")))
    assert "      codes read: flow 9.4, back 9.4&2, t 1-0:1.8.1&2 or 1.8.1&2" in shown.splitlines()


@pytest.mark.parametrize(
    ("field", "got"),
    [("9.4&100", "got 100"), ("9.4&", "got ''"), ("9.4&x", "got 'x'"), ("9.4*1&2&1", "got '2&1'")],
)
def test_check_tells_a_place_out_of_range_or_no_number_as_a_place(field: str, got: str) -> None:
    """A field whose code is sound and whose place after ``&`` is out of range in three
    digits (``&100``), missing, no number, or two places, is refused naming its key, the
    place's range and what came, not as a field that is no OBIS code (fails with the place
    one or two digits in the field's pattern: "'9.4&100' is no OBIS code")."""
    refused = codec_for("dsmr").check(FormatSpec("dsmr", (("a", "9.4"), ("b", field))))
    assert [key for key, _ in refused] == ["channels[1].field"]
    told = refused[0][1]
    assert told.startswith(f"{field!r}: '&' and the place of a value among those '&' separates")
    assert f"1 to 32 ('9.4&2' reads 96.1 of '9.4(098.5*C&096.1*C)'); {got}" in told


def test_a_code_alone_reads_its_first_value_in_its_own_unit_and_text_with_an_ampersand_is_ignored() -> (
    None
):
    """A channel of the code alone reads the first of its values in that value's own unit:
    ``1500*Wh&2*kWh`` is 1.5 kWh, not 1500 (fails with the ``&`` test left out of the line's
    reading, the first value's unit then read as ``Wh&2*kWh``: 1500.0), the UH50's ``9.6``
    its first, 0. A text message that holds ``&`` (``0-0:96.13.0``, a code no channel may
    read) is ignored as any line of a code no channel reads, and so is the UH50's
    ``9.1(0&1&0&0017&CECV&...)``; an empty place (``9.4(098.5*C&)``) is ``invalid`` for its
    channel (a value the meter does not have, as its ``9.2(&&)``), the first value kept. The
    ``Wh`` line and the text message are written for the
    rule, no captured meter's; the ``9.6`` and ``9.1`` lines are the UH50's."""
    spec = FormatSpec(
        "dsmr", (("e", "1-0:1.8.1"), ("flow", "9.4"), ("back", "9.4&2"), ("n", "9.6"))
    )
    decode = codec_for("dsmr").decoder(spec)
    assert decode(b"1-0:1.8.1(1500*Wh&2*kWh)") == [("e", 1.5)]
    assert decode(b"9.6(000&66153690&0&000&66153690&0)") == [("n", 0.0)]
    assert decode(b"0-0:96.13.0(Tom & Jerry)") == []
    assert decode(b"9.1(0&1&0&0017&CECV&CECV&1&5.19&5.19&F&081008&040404&08&0&00&?:)") == []
    with pytest.raises(ParseError) as raised:
        decode(b"9.4(098.5*C&)")
    assert (raised.value.reason, raised.value.kept) == ("invalid", [("flow", 98.5)])


def test_the_simulator_writes_the_values_of_one_code_in_one_data_set_and_they_read_back() -> None:
    """``9.4`` and ``9.4&2`` make one line, ``9.4(98.500&96.100)``; a place no field names is
    written 0; the telegram, framed and decoded, gives each value back."""
    spec = FormatSpec("dsmr", (("flow", "9.4"), ("x", "9.6&3"), ("back", "9.4&2")))
    codec = codec_for("dsmr")
    lines = codec.encoder(spec)({"9.4": 98.5, "9.4&2": 96.1, "9.6&3": 7.0}, 0.0)
    assert lines == [b"9.4(98.500&96.100)", b"9.6(0&0&7.000)"]
    read, counted = take("dsmr", envelope("dsmr", lines))
    assert counted["rejected"] == {}
    decode = codec.decoder(spec)
    assert sorted(pair for line in read for pair in decode(line)) == [
        ("back", 96.1),
        ("flow", 98.5),
        ("x", 7.0),
    ]
