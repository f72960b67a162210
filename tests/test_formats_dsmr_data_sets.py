"""Several data sets on one line of a readout or telegram (IEC 62056-21, 6.5: a data line is
one or more data sets, ``address(value*unit)``).

Each data set is a frame of its own: read under its own code, a damaged one counted and
dropped while the others on its line are read, never a value under another's code.

The captures:

* :data:`UH50`: a Landis+Gyr UH50 (Ultraheat T550) heat meter's readout (``/LUGCUH50``), most of
  its lines of two to five data sets (``6.8(0328.871*GJ)6.26(03329.67*m3)9.21(66153690)``):
  public repository vpathuis/ultraheat (the ultraheat-api library of Home Assistant's
  ``landisgyr_heat_meter`` integration, whose tests read 328.871 GJ and 3329.67 m3 from it),
  file tests/LUGCUH50_dummy_utf8.txt at commit 045e7246a92482eafc7b7f847522e102378b36e4. The
  file holds the lines with LF alone and, after the ``!`` line, the byte ``h``; here each line
  ends in CR LF and the data block is framed by STX, ETX and ``h`` as IEC 62056-21's data
  message is: ``h`` (0x68) is the block check of those bytes (the XOR from after STX to ETX;
  the file's 24 lines make an even number of CRs, so it is the same with LF alone), which
  shows the file's bytes are the meter's.
* ``KAMSTRUP_162``: a Kamstrup 162's DSMR 2.2 telegram (origin in
  ``test_formats_dsmr_bare_end``), read unchecked, its lines joined where a line end was lost.
* ``E350``: a Landis+Gyr E350's readout of one data set a line (origin in
  ``test_formats_dsmr_short_codes``), whose data sets the property test groups on lines.
"""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from test_formats_blocks import counts, latest, runtime
from test_formats_dsmr import meter
from test_formats_dsmr_bare_end import KAMSTRUP_162
from test_formats_dsmr_short_codes import E350, E350_CHANNELS, E350_VALUES, bcc

from sensord.formats import codec_for
from sensord.formats.base import FormatSpec

UH50_LINES = [
    "6.8(0328.871*GJ)6.26(03329.67*m3)9.21(66153690)",
    "6.26*01(03188.07*m3)6.8*01(0314.658*GJ)",
    "F(0)9.20(66153690)6.35(60*m)",
    "6.6(0022.4*kW)6.6*01(0022.4*kW)6.33(000.744*m3ph)9.4(098.5*C&096.1*C)",
    "6.31(0107988*h)6.32(0000005*h)9.22(R)9.6(000&66153690&0&000&66153690&0)",
    "9.7(20000)6.32*01(0000005*h)6.36(01-01&00:00)6.33*01(000.744*m3ph)",
    "6.8.1()6.8.2()6.8.3()6.8.4()6.8.5()",
    "6.8.1*01()6.8.2*01()6.8.3*01()",
    "6.8.4*01()6.8.5*01()",
    "9.4*01(098.5*C&096.1*C)",
    "6.36.1(2018-03-03)6.36.1*01(2018-03-03)",
    "6.36.2(2020-06-23)6.36.2*01(2020-06-23)",
    "6.36.3(2012-02-03)6.36.3*01(2012-02-03)",
    "6.36.4(2017-01-18)6.36.4*01(2017-01-18)",
    "6.36.5()6.36*02(01&00:00)9.36(2022-05-19&19:41:17)9.24(1.5*m3ph)",
    "9.17(0)9.18()9.19()9.25()",
    "9.1(0&1&0&0000&CECV&CECV&1&5.16&5.16&F&101008&040404&08&0)",
    "9.2(&&)9.29()9.31(0028849*h)",
    "9.0.1(00000000)9.0.2(00000000)9.34.1(000.00000*m3)9.34.2(000.00000*m3)",
    "8.26.1(00000000*m3)8.26.2(00000000*m3)",
    "8.26.1*01(00000000*m3)8.26.2*01(00000000*m3)",
    "6.26.1()6.26.4()6.26.5()",
    "6.26.1*01()6.26.4*01()6.26.5*01()0.0(66153690)",
]


def readout(lines: list[str], identification: bytes = b"/LUGCUH50") -> bytes:
    """``lines`` as a data message after ``identification``: STX, each line and CR LF, ``!``,
    CR LF, ETX and the block check."""
    block = b"\x02" + "".join(line + "\r\n" for line in lines).encode("ascii") + b"!\r\n\x03"
    message = identification + b"\r\n" + block + b"\x00"
    return message[:-1] + bytes([bcc(message)])


UH50 = readout(UH50_LINES)

#: The UH50's channels, and what its readout gives them.
UH50_CHANNELS = (
    ("heat_gj", "6.8"),
    ("volume_m3", "6.26"),
    ("volume_last_year_m3", "6.26*1"),
    ("power_kw", "6.6"),
    ("flow_m3ph", "6.33"),
    ("hours", "6.31"),
    ("hours_flowing", "9.31"),
)
UH50_VALUES = {
    "heat_gj": 328.871,
    "volume_m3": 3329.67,
    "volume_last_year_m3": 3188.07,
    "power_kw": 22.4,
    "flow_m3ph": 0.744,
    "hours": 107988.0,
    "hours_flowing": 28849.0,
}


def test_the_uh50_readout_is_the_capture_s_bytes_by_its_block_check() -> None:
    assert UH50.endswith(b"!\r\n\x03h")
    assert sum(line.count(")") for line in UH50_LINES) == 66  # its data sets


def test_every_data_set_of_the_uh50_s_lines_is_read_under_its_own_code() -> None:
    """Two readouts: each channel's value, whichever data set of its line it is; the data
    sets no channel reads are ignored frames, ``F(0)`` (an address of letters alone) too; no
    parse error. A framer that takes a line of data sets as one frame fails it: those that began with a code no
    channel reads are ignored with the values after it (``6.26`` behind ``6.8``, ``6.33``
    behind ``6.6``), those that begin with one a channel reads are ``syntax``."""
    rt = runtime(meter(*UH50_CHANNELS))
    rt.feed(UH50 + UH50)
    assert latest(rt) == UH50_VALUES
    assert counts(rt) == {"frames": 132, "ignored": 118, "readings": 14, "errors": {}}
    assert rt.framer.skipped_bytes == 0


#: The UH50's data sets whose value is a date (its set days, the dates it logs, its clock),
#: each as a channel's field names it: read, each would be ``syntax`` on every readout
UH50_DATES = ("6.36", "6.36*2", "6.36.1", "6.36.4*1", "9.36")


def test_a_channel_on_one_of_the_uh50_s_dates_is_refused_by_check_naming_the_key() -> None:
    """The UH50 writes its set days, the dates it logs and its clock as dates
    (``6.36(01-01&00:00)``, ``6.36.1(2018-03-03)``, ``9.36(2022-05-19&19:41:17)``; the ultraheat
    library reads them as text and a datetime): ``check`` refuses a channel on each, the key
    path naming the channel, the message what the code is; the readout's other channels pass.
    Fails when the fields are taken (each then ``syntax`` on every readout)."""
    for date in UH50_DATES:
        code = date.partition("*")[0]
        assert f"{code}(" in "".join(UH50_LINES) or f"{code}*" in "".join(UH50_LINES), date
    fields = (*UH50_CHANNELS, *((f"date{k}", date) for k, date in enumerate(UH50_DATES)))
    spec = FormatSpec("dsmr", fields)
    refused = codec_for("dsmr").check(spec)
    first = len(UH50_CHANNELS)
    assert [key for key, _ in refused] == [
        f"channels[{first + k}].field" for k in range(len(UH50_DATES))
    ]
    assert {why.split(" is ", 1)[1].split(" (")[0] for _, why in refused} == {
        "a heat meter's set day or a date it logs",
        "a heat meter's date and time",
    }
    assert refused[-1][1].startswith("'9.36' is a heat meter's date and time")
    assert "sensord_reading_timestamp_seconds" in refused[-1][1]
    assert codec_for("dsmr").check(FormatSpec("dsmr", UH50_CHANNELS)) == []


def test_a_damaged_data_set_is_counted_and_dropped_and_the_others_on_its_line_are_read() -> None:
    """The UH50's readout without its ETX and block check (read unchecked), damaged in one data
    set of a line: a value that is no number (``6.26(03329x67*m3)``), and, in another readout,
    the ``)`` before a data set lost (``6.8(0328.871*GJ6.26(...)``, the two run into one):
    that one ``syntax``, its values never read under another code (6.26's is not 6.8's), the
    line's other data sets read (``9.21`` beside them; ``6.8`` beside the first)."""
    unchecked = UH50[: UH50.index(b"\x03")]
    channels = (*UH50_CHANNELS, ("meter_number", "9.21"))
    for damage, lost in (
        ((b"6.26(03329.67*m3)", b"6.26(03329x67*m3)"), ("volume_m3",)),
        ((b"*GJ)6.26(03329", b"*GJ6.26(03329"), ("heat_gj", "volume_m3")),
    ):
        rt = runtime(meter(*channels))
        rt.feed(unchecked.replace(*damage, 1) + UH50)
        snap = counts(rt)
        assert snap["errors"] == {"syntax": 1}, damage
        assert snap["readings"] == 2 * len(channels) - len(lost), damage
        assert latest(rt) == {**UH50_VALUES, "meter_number": 66153690.0}
        values = {}
        for ch in rt.snapshot().channels:
            assert ch.stats is not None
            values[ch.name] = (ch.stats.count, ch.stats.min, ch.stats.max)
        for name in lost:
            assert values[name] == (1, UH50_VALUES[name], UH50_VALUES[name])
        assert values["meter_number"] == (2, 66153690.0, 66153690.0)


def test_a_dsmr_telegram_whose_line_end_was_lost_reads_both_data_sets_of_the_joined_line() -> None:
    """The Kamstrup's DSMR 2.2 telegram (read unchecked) with the CR LF between its tariff 1 and
    tariff 2 lines lost: both are read, each under its own code (main: ``syntax``, both lost).
    Joined lines that a line's damage makes name a code twice (``1-0:1.8.2`` read as
    ``1-0:1.8.1`` on the joined line) are ``syntax``, none of the telegram's lines read, as a
    code twice on lines of their own is; a data set that lost its A-B groups behind another
    (``1-0:1.8.1(...)1.8.2(...)``) is ``syntax`` and the one before it read."""
    channels = (("t1_kwh", "1-0:1.8.1"), ("t2_kwh", "1-0:1.8.2"), ("power_kw", "1-0:1.7.0"))
    whole = {"t1_kwh": 7041.882, "t2_kwh": 2351.565, "power_kw": 0.54}
    joined = KAMSTRUP_162.replace(b"kWh)\r\n1-0:1.8.2", b"kWh)1-0:1.8.2", 1)
    rt = runtime(meter(*channels))
    rt.feed(joined)
    assert latest(rt) == whole
    assert counts(rt)["errors"] == {}
    twice = KAMSTRUP_162.replace(b"kWh)\r\n1-0:1.8.2", b"kWh)1-0:1.8.1", 1)
    rt = runtime(meter(*channels))
    rt.feed(twice + KAMSTRUP_162)
    assert latest(rt) == whole
    data_sets = len([x for x in KAMSTRUP_162.split(b"\r\n")[1:] if x and x != b"!"])
    assert counts(rt)["errors"] == {"syntax": data_sets}
    shortened = KAMSTRUP_162.replace(b"kWh)\r\n1-0:1.8.2", b"kWh)1.8.2", 1)
    rt = runtime(meter(*channels))
    rt.feed(shortened)
    assert latest(rt) == {"t1_kwh": 7041.882, "power_kw": 0.54}
    assert counts(rt)["errors"] == {"syntax": 1}


E350_DATA_SETS = [
    line.decode("ascii")
    for line in E350[E350.index(b"\x02") + 1 : E350.index(b"\r\n!")].split(b"\r\n")
]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=6), min_size=1, max_size=30))
def test_the_e350_s_data_sets_read_the_same_in_any_grouping_on_lines(sizes: list[int]) -> None:
    """The E350's 23 data sets, joined into lines of any sizes (each readout's block check
    its own): the same frames from the framer and the same values as one a line."""
    grouped: list[str] = []
    pos = k = 0
    while pos < len(E350_DATA_SETS):
        size = sizes[min(k, len(sizes) - 1)]
        grouped.append("".join(E350_DATA_SETS[pos : pos + size]))
        pos += size
        k += 1
    data = readout(grouped, b"/LGZ4ZMF100AC.M26")
    config = meter(*E350_CHANNELS)
    frames = codec_for("dsmr").framer(config.sensors[0].format_spec(), b"\r\n", 2100).feed(data)
    assert [f.lstrip(b"\x02").decode() for f in frames] == E350_DATA_SETS
    rt = runtime(config)
    rt.feed(data)
    assert latest(rt) == E350_VALUES
    got: dict[str, Any] = counts(rt)
    assert got["errors"] == {}
    assert got["frames"] == len(E350_DATA_SETS)
