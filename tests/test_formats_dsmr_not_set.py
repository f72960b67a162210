"""``format = "dsmr"`` on the values a meter writes for "not set": no reading, counted
``invalid`` and told, the telegram's other readings kept; and the codes whose value is text,
which no channel reads.

Origins of the lines (the whole telegrams are those of ``test_formats_dsmr_field``, whose
docstring has theirs):

* ``E350_UNSET_CLOCK``: a Landis+Gyr E350 whose clock was never set (public repository
  nielsbasjes/dsmr-tools, TestDsmrParserOnReal.java): its clock ``0-0:1.0.0(000101010000W)``
  and its gas meter's reading ``0-1:24.2.1(000101010000W)(0000000000)``, 1 January 2000 and
  0, no unit; that test reads no gas from it.
* ``KAIFA_42`` (athombv/node-dsmr-parser, dsmr/dsmr-4.2-kfm-1.txt): a Kaifa's power failure
  log of one entry, ``(000101000024W)(2147483647*s)``: 2^31 - 1 s, which dsmr-tools reads as
  a failure that began in 1931 ("PT596523H14M7S").
* dsmrreader/dsmr-reader issue 412, a Kaifa MA304's log ``(170604203937S)(0000006234*s)
  (000101000001W)(2147483647*s)``: a failure of 2017 and the entry not set.
* dsmrreader/dsmr-reader issue 811, a Landis+Gyr meter whose clock shows 2000-01-01 01:00 in
  every telegram: ``(000101010000W)(0000000253*s)(000101010000W)(0000000239*s)``, two
  failures it timed and could not date.
* dsmrreader/dsmr-reader issue 1922, a Landis+Gyr meter of DSMR 5 whose clock was not set:
  ``(000101000000W)(0000002216*s)`` and two more entries of that time.
* glmnet/Dsmr (arduino-dsmr's test "Can parse a 0 value without a unit"): a Kamstrup's
  (``/KMP5 ZABF000000000000``) gas line ``0-1:24.2.1(000101000000W)(00000000.0000)``, which
  that parser reads as 0.
* dsmrreader/dsmr-reader, file
  src/dsmr_datalogger/tests/datalogger/test_fluvius_multiple_gas_devices.py (a Belgian
  Fluvius meter with two gas meters, one of them idle): the idle one's reading,
  ``0-2:24.2.3(230119124005W)(00000.000*m3)``, 0 m3 taken at a time the meter's clock set;
  the test's telegram is its header, clock and gas lines, under a CRC computed over them.
* Equipment ids: ``0-0:96.1.1(4530303334303036383130353136343136)`` (the AM550 of
  ``test_formats_dsmr_field``, hex digits of "E0034006810516416"), a Swiss meter's
  ``0-0:0.0.0(353738303337)`` and ``0-0:96.1.4(50220)`` (ndokter/dsmr_parser,
  test/test_parse_swiss_5s.py), a Hungarian meter's ``0-0:42.0.0`` (test_parse_v5_eon_hungary.py),
  an EasyMeter's ``1-0:0.0.0*255(1336001560)`` and ``0-0:96.1.255*255(1ESY1336001560)``
  (test/example_telegrams.py).
"""

from __future__ import annotations

from typing import Any

import pytest
from structlog.testing import capture_logs
from test_formats_blocks import counts, crc16_arc, latest, runtime
from test_formats_dsmr import meter
from test_formats_dsmr_field import E350_UNSET_CLOCK, KAIFA_42

from sensord.config import Config
from sensord.errors import NotMeasuredError
from sensord.formats import codec_for
from sensord.formats.base import FormatSpec


def availability(rt: Any) -> dict[str, bool]:
    return {c.name: c.available for c in rt.snapshot().channels}


def test_an_e350_whose_clock_was_never_set_gives_no_gas_reading() -> None:
    """Its gas line is ``(000101010000W)(0000000000)``: read, 0 m3 would be a counter reset
    (a rate() spike of the whole reading once the clock is set). Each telegram counts one
    ``invalid``, the gas channel has no current value, the log tells it at info level naming
    the code and why, and the telegram's other readings are read."""
    config = meter(
        ("imported_t1_kwh", "1-0:1.8.1"),
        ("gas_m3", "0-1:24.2.1"),
        ("power_l1_kw", "1-0:21.7.0"),
    )
    rt = runtime(config)
    with capture_logs() as logs:
        rt.feed(E350_UNSET_CLOCK * 3)
    assert latest(rt) == {"imported_t1_kwh": 24.487, "power_l1_kw": 0.004}
    assert counts(rt)["readings"] == 6
    assert counts(rt)["errors"] == {"invalid": 3}
    assert availability(rt) == {"imported_t1_kwh": True, "gas_m3": False, "power_l1_kw": True}
    [told] = [e for e in logs if e["event"] == "values not available"]
    assert (told["log_level"], told["sensor"]) == ("info", "m")
    assert told["reason"] == "invalid"
    assert told["detail"] == (
        "0-1:24.2.1: no reading (its time '000101010000W' is 1 January 2000 and its value 0: "
        "the meter's clock was never set, and nothing was read)"
    )
    assert not [e for e in logs if e["log_level"] in ("warning", "error")]


def test_a_kaifa_power_failure_of_2147483647_s_is_no_duration() -> None:
    """The Kaifa's log holds one entry, its duration 2^31 - 1 s (a failure of 68 years):
    the channel has no reading, ``invalid`` once a telegram; the gas and energy are read."""
    config = meter(
        ("last_failure_s", "1-0:99.97.0"),
        ("gas_m3", "0-1:24.2.1"),
        ("imported_t1_kwh", "1-0:1.8.1"),
    )
    rt = runtime(config)
    rt.feed(KAIFA_42 * 2)
    assert latest(rt) == {"gas_m3": 5359.919, "imported_t1_kwh": 4726.494}
    assert counts(rt)["errors"] == {"invalid": 2}
    assert availability(rt)["last_failure_s"] is False


@pytest.mark.parametrize(
    ("line", "value"),
    [
        # dsmr-reader issue 412: the 2017 failure, the entry not set left out
        (
            b"1-0:99.97.0(2)(0-0:96.7.19)(170604203937S)(0000006234*s)"
            b"(000101000001W)(2147483647*s)",
            6234.0,
        ),
        # dsmr-reader issue 811: failures a meter whose clock was never set timed
        (
            b"1-0:99.97.0(2)(0-0:96.7.19)(000101010000W)(0000000253*s)"
            b"(000101010000W)(0000000239*s)",
            253.0,
        ),
        # dsmr-reader issue 1922: three of one time, the first (newest in DSMR's order)
        (
            b"1-0:99.97.0(3)(0-0:96.7.19)(000101000000W)(0000002216*s)"
            b"(000101000000W)(0000005784*s)(000101000000W)(0000000545*s)",
            2216.0,
        ),
        # arduino-dsmr: a Kamstrup's gas channel of a clock not set
        (b"0-1:24.2.1(000101000000W)(00000000.0000)", None),
        (b"1-0:99.97.0(1)(0-0:96.7.19)(000101000001W)(2147483647*s)", None),
    ],
    ids=["kaifa-412", "unset-clock-811", "unset-clock-1922", "kamstrup-gas", "kaifa-alone"],
)
def test_an_entry_not_set_holds_no_value_and_a_duration_of_an_unset_clock_does(
    line: bytes, value: float | None
) -> None:
    spec = FormatSpec("dsmr", (("x", line[: line.index(b"(")].decode()),))
    decode = codec_for("dsmr").decoder(spec)
    if value is not None:
        assert decode(line) == [("x", value)]
        return
    with pytest.raises(NotMeasuredError) as caught:
        decode(line)
    assert (caught.value.reason, caught.value.unavailable, caught.value.kept) == (
        "invalid",
        ("x",),
        [],
    )


def test_a_reading_of_0_taken_at_a_set_time_is_read() -> None:
    """The Fluvius meter's idle gas meter reads 0 m3 at a time of 2023: a meter that reads
    0 (a gas or water meter installed new, one no gas went through) is read as 0, in every
    telegram, no ``invalid``; only an entry of 1 January 2000, the date of a clock never set,
    whose value is 0 holds none."""
    config = meter(("idle_gas_m3", "0-2:24.2.3"), ("gas_m3", "0-1:24.2.3"))
    line = b"0-2:24.2.3(230119124005W)(00000.000*m3)"
    spec = FormatSpec("dsmr", (("x", "0-2:24.2.3"),))
    assert codec_for("dsmr").decoder(spec)(line) == [("x", 0.0)]
    rt = runtime(config)
    body = (
        b"/FLU5\\253769484_A\r\n\r\n0-0:1.0.0(230119124638W)\r\n"
        b"0-1:24.2.3(230119124616W)(00734.607*m3)\r\n" + line + b"\r\n!"
    )
    rt.feed((body + b"%04X\r\n" % crc16_arc(body)) * 2)
    assert latest(rt) == {"gas_m3": 734.607, "idle_gas_m3": 0.0}
    assert counts(rt)["readings"] == 4
    assert counts(rt)["errors"] == {}


@pytest.mark.parametrize(
    ("field", "what"),
    [
        ("0-0:96.1.1", "a device id"),
        ("0-1:96.1.0", "a device id"),
        ("0-1:96.1.1", "a device id"),  # a Belgian meter's gas meter's
        ("0-0:96.1.255*255", "a device id"),
        ("0-0:0.0.0", "an electricity id"),
        ("1-0:0.0.0*255", "an electricity id"),
        ("0-0:42.0.0", "the COSEM logical device name"),
        ("0-0:96.13.0", "a text message"),
        ("0-0:96.13.1", "a text message"),
    ],
)
def test_a_channel_of_a_code_whose_value_is_text_is_refused_naming_the_key(
    field: str, what: str
) -> None:
    """A meter's equipment id (``0-0:96.1.1(4530303334...)``, hex digits of its serial) reads
    as a number of 34 digits, which a channel would publish; the configuration that names it
    is refused, the message naming the key, the field and what its value is."""
    sensor = {
        "name": "m",
        "port": "sim://m",
        "format": "dsmr",
        "channels": [{"name": "t1", "field": "1-0:1.8.1"}, {"name": "id", "field": field}],
    }
    errors: list[str] = []
    assert Config.load({"sensors": [sensor]}, "", errors) is None
    [error] = errors
    assert error.startswith(f"sensors[0].channels[1].field: {field!r} is {what}")
    assert "text, which no channel reads" in error


@pytest.mark.parametrize(
    "field", ["1-3:0.2.8", "0-0:96.1.4", "0-0:96.14.0", "0-1:24.1.0", "0-0:96.7.21"]
)
def test_codes_that_name_numbers_beside_the_ids_are_read(field: str) -> None:
    """The version (``1-3:0.2.8(42)``, an e-MUCS meter's ``0-0:96.1.4(50217)``), the tariff (``0-0:96.14.0(0002)``), an M-Bus device's
    type (``0-1:24.1.0(003)``) and a count of failures are numbers: their channels load."""
    spec = FormatSpec("dsmr", (("x", field),))
    assert codec_for("dsmr").check(spec) == []
