"""Tests of sensord.formats: the registry, each codec's spec check, decoder and encoder."""

from __future__ import annotations

import csv
import io
import json
import math
import subprocess
import sys
import time
from functools import reduce
from operator import xor
from pathlib import Path

import pytest
from harness.common import REPO
from hypothesis import given, settings
from hypothesis import strategies as st

from sensord.errors import ParseError
from sensord.formats import FORMATS, codec_for
from sensord.formats.base import Decoder, DecoderCounts, FormatSpec
from sensord.formats.csv_lines import quoted_cells
from sensord.formats.kv import counted_decoder as kv_counted_decoder
from sensord.formats.nmea_fields import NMEA_FIELDS, SENTENCES
from sensord.formats.nmea_framer import checksum

# Real-world sentences (checksums verified) and instrument sentences with correct checksums.
GGA = b"$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47"
GGA_SOUTH_WEST = b"$GPGGA,123519,4807.038,S,01131.000,W,1,08,0.9,545.4,M,46.9,M,,*48"
GGA_NO_FIX = b"$GPGGA,002153.000,,,,,0,03,,,M,,M,,*7E"
RMC = b"$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A"
RMC_WARNING = b"$GPRMC,002153.000,V,3342.6618,N,11751.3858,W,0.0,0.0,060626,,,N*6F"
GSV = b"$GPGSV,3,1,11,03,03,111,00,04,15,270,00,06,01,010,00,13,06,292,00*74"
AIS = b"!AIVDM,1,1,,B,177KQJ5000G?tO`K>RA1wUbN0TKH,0*5C"
PROPRIETARY = b"$PGRME,15.0,M,45.0,M,25.0,M*1C"
MTW = b"$IIMTW,18.5,C*1F"
MWV_KMH = b"$WIMWV,214.8,R,0.1,K,A*28"
MWV_KNOTS = b"$WIMWV,045.0,T,12.4,N,A*13"
MWV_INVALID = b"$WIMWV,045.0,T,12.4,N,V*04"
DPT = b"$SDDPT,2.8,-0.7*77"
DBT = b"$SDDBT,7.8,f,2.4,M,1.3,F*0D"
DBT_FEET_ONLY = b"$SDDBT,7.8,f,,M,,F*09"
XDR = b"$YXXDR,C,19.52,C,AirTemp,P,1.0158,B,Barometer,H,45.1,P,Humidity*73"
XDR_EMPTY = b"$IIXDR,C,,C,WaterTemp*37"
HDT = b"$HEHDT,274.07,T*19"


def nmea(body: str) -> bytes:
    """A sentence with a correct checksum."""
    return f"${body}*{reduce(xor, body.encode(), 0):02X}".encode()


def spec_of(fmt: str, *fields: str, **options: object) -> FormatSpec:
    pairs = tuple((f"ch{i}" if fmt != "nmea" else field, field) for i, field in enumerate(fields))
    return FormatSpec(fmt, pairs, **options)  # type: ignore[arg-type]


def problems_of(spec: FormatSpec) -> list[tuple[str, str]]:
    return codec_for(spec.format).check(spec)


def decoder_for(spec: FormatSpec) -> Decoder:
    """The decoder of a spec that its codec's check accepts."""
    assert problems_of(spec) == []
    return codec_for(spec.format).decoder(spec)


def encode(spec: FormatSpec, values: dict[str, float], time_of_day_s: float = 0.0) -> list[bytes]:
    assert problems_of(spec) == []
    return codec_for(spec.format).encoder(spec)(values, time_of_day_s)


def reason(parser: Decoder, frame: bytes) -> str:
    with pytest.raises(ParseError) as info:
        parser(frame)
    return info.value.reason


def kept(parser: Decoder, frame: bytes) -> list[tuple[str, float]]:
    """The readings a frame that fails keeps: its fields read besides the one that failed."""
    with pytest.raises(ParseError) as info:
        parser(frame)
    return info.value.kept


# -- the registry and the checks ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "spec",
    [
        FormatSpec("value", (("t", ""),)),
        FormatSpec("value", (("t", ""),), pattern=r"T=(\S+)"),
        FormatSpec("kv", (("t", "T"), ("h", "H")), pair_separator=";", kv_separator=":"),
        FormatSpec("kv", (("t", "T"), ("h", "H")), pair_separator="\t", kv_separator="\t"),
        FormatSpec("csv", (("t", "temp"),), columns=("time", "temp"), header=True),
        FormatSpec("csv", (("t", "0"), ("h", "7"))),
        FormatSpec("csv", (("t", "1"),), columns=("time", "temp")),
        FormatSpec("json", (("t", "a.b.0.c"),)),
        FormatSpec("nmea", (*((f, f) for f in NMEA_FIELDS), ("x", "XDR.AirTemp"))),
        FormatSpec("value", (("t", ""),), encoding="latin-1"),
        FormatSpec("value", (("t", ""),), pattern=r"T=(\S+) C", example="T=21.5 C"),
    ],
)
def test_valid_specs_have_no_problems(spec: FormatSpec) -> None:
    assert problems_of(spec) == []
    decoder_for(spec)


@pytest.mark.parametrize(
    ("spec", "key", "words"),
    [
        (FormatSpec("value", (("t", ""),), pattern="T=(\\d"), "parse.pattern", "not a valid"),
        (FormatSpec("value", (("t", ""),), pattern=r"T=\d+"), "parse.pattern", "has 0"),
        (FormatSpec("value", (("t", ""),), pattern=r"(T)=(\d+)"), "parse.pattern", "has 2"),
        (FormatSpec("value", (("t", ""), ("u", ""))), "channels[1].field", "exactly one"),
        (FormatSpec("value", ()), "channels", "at least one"),
        (FormatSpec("kv", (("t", "T"),), pair_separator=""), "parse.pair_separator", "empty"),
        (FormatSpec("kv", (("t", "T"),), kv_separator=""), "parse.kv_separator", "empty"),
        (FormatSpec("kv", (("t", "T"), ("h", " "))), "channels[1].field", "key"),
        (FormatSpec("csv", (("t", "0"),), delimiter=""), "parse.delimiter", "empty"),
        (FormatSpec("csv", (("t", "temp"),), columns=("time",)), "channels[0].field", "time"),
        (FormatSpec("csv", (("t", "temp"),)), "channels[0].field", "column index"),
        (FormatSpec("csv", (("t", "-1"),)), "channels[0].field", "column index"),
        (FormatSpec("csv", (("t", "2"),), columns=("a", "b")), "channels[0].field", "columns"),
        (FormatSpec("csv", (("t", "0"),), header=True), "parse.columns", "header"),
        (FormatSpec("csv", (("t", "a"),), columns=("a", "a")), "parse.columns", "unique"),
        (FormatSpec("csv", (("t", "0"),), delimiter='"'), "parse.delimiter", "quotes a cell"),
        (FormatSpec("json", (("t", "a..b"),)), "channels[0].field", "JSON path"),
        (FormatSpec("json", (("t", ""),)), "channels[0].field", "JSON path"),
        (FormatSpec("nmea", (("t", "GGA.altitude"), ("x", "GGA.alt"))), "channels[1].field", "GGA"),
        (FormatSpec("nmea", (("t", "XDR."),)), "channels[0].field", "XDR.<name>"),
        (FormatSpec("nmea", (("t", "XDR.a,b"),)), "channels[0].field", "unknown"),
        (FormatSpec("value", (("t", ""),), encoding="klingon"), "parse.encoding", "klingon"),
        (FormatSpec("value", (("t", ""),), encoding="base64"), "parse.encoding", "base64"),
        (FormatSpec("value", (("t", ""),), example="21.5"), "parse.example", "only used"),
        (FormatSpec("kv", (("t", "T"),), example="T=1"), "parse.example", "only used"),
        (
            FormatSpec("value", (("t", ""),), pattern=r"T=(\S+)", example="H=40"),
            "parse.example",
            "does not find a number in 'H=40'",
        ),
        (
            FormatSpec("value", (("t", ""),), pattern=r"T|(\d+)", example="T"),
            "parse.example",
            "does not find",
        ),
        (
            FormatSpec("value", (("t", ""),), pattern=r"T=(\S+)", example="T=abc"),
            "parse.example",
            "captures 'abc' in 'T=abc', which is not a number",
        ),
        (
            FormatSpec("value", (("t", ""),), pattern=r"T=(\S+)", example="T=1\nT=2"),
            "parse.example",
            "one frame",
        ),
        (
            FormatSpec("value", (("t", ""),), pattern=r"(\S+)", example="21 °C", encoding="ascii"),
            "parse.example",
            "encoding 'ascii'",
        ),
        (
            FormatSpec(
                "value", (("t", ""),), pattern=r"T=(\S+)", example="T=1", more_examples=("T=2",)
            ),
            "parse.example",
            "several lines are for a pattern with a named group per channel",
        ),
        (  # lines of two kinds, but no line holds b
            FormatSpec(
                "value",
                (("a", "a"), ("b", "b")),
                pattern=r"^(?:0(?P<a>\S+)|1(?P<b>\S+))$",
                example="0+1",
                more_examples=("0+2",),
            ),
            "parse.example",
            "group 'b' finds no number in any of its lines",
        ),
        (
            FormatSpec(
                "value",
                (("a", "a"), ("b", "b")),
                pattern=r"^(?:0(?P<a>\S+)|1(?P<b>\S+))$",
                example="0+1",
                more_examples=("2+2",),
            ),
            "parse.example",
            "parse.pattern does not match '2+2'",
        ),
        (
            FormatSpec(
                "value",
                (("a", "a"), ("b", "b")),
                pattern=r"^(?:0(?P<a>\S+)|1(?P<b>\S+))$",
                example="0+1",
                more_examples=("1+2",),
                ignore=("^1",),
            ),
            "parse.ignore[0]",
            "is found in parse.example '1+2'",
        ),
    ],
)
def test_spec_problems_name_their_key(spec: FormatSpec, key: str, words: str) -> None:
    problems = problems_of(spec)
    assert any(k == key and words in message for k, message in problems), problems


@pytest.mark.parametrize(
    ("spec", "problem"),
    [
        (FormatSpec("value", ()), ("channels", "at least one channel is needed")),
        (
            FormatSpec("kv", (("t", "T"),), example="T=1"),
            ("parse.example", "is only used by format 'value' with parse.pattern"),
        ),
        (
            FormatSpec("value", (("t", ""),), decimal=";"),
            ("parse.decimal", "must be '.' or ',', got ';'"),
        ),
    ],
)
def test_a_spec_problem_is_told_in_full(spec: FormatSpec, problem: tuple[str, str]) -> None:
    """What a codec's own check says (the simulator's sources run it too; the config loader
    refuses an empty channel list or another decimal mark before it)."""
    assert problem in problems_of(spec)


def test_every_problem_is_reported_not_only_the_first() -> None:
    spec = FormatSpec(
        "csv", (("t", "x"), ("h", "y")), delimiter="", columns=("a", "a"), encoding="nope"
    )
    keys = {key for key, _ in problems_of(spec)}
    assert keys == {
        "parse.delimiter",
        "parse.columns",
        "parse.encoding",
        "channels[0].field",
        "channels[1].field",
    }


def test_registry() -> None:
    assert FORMATS == ("value", "kv", "csv", "json", "nmea", "frames", "modbus", "dsmr")
    for name in FORMATS:
        assert codec_for(name) is codec_for(name)
        assert codec_for(name).name == name
    with pytest.raises(
        ValueError,
        match=r"must be one of value, kv, csv, json, nmea, frames, modbus, dsmr; got 'xml'",
    ):
        codec_for("xml")


# -- what a rejection tells ----------------------------------------------------------------------


def told(parser: Decoder, frame: bytes) -> tuple[str, str]:
    """The reason and detail of a frame's rejection: the ``frame rejected`` (or ``field
    rejected``) journal line shows them beside the frame."""
    with pytest.raises(ParseError) as info:
        parser(frame)
    return info.value.reason, info.value.detail


PLAIN = FormatSpec("value", (("t", ""),))


@pytest.mark.parametrize(
    ("spec", "frame", "expected"),
    [
        (PLAIN, b"21\x00.5", ("encoding", "NUL byte in frame")),
        (PLAIN, b"\xff21.5", ("encoding", "not valid utf-8")),
        (PLAIN, b"abc", ("syntax", "not a number: 'abc'")),
        (PLAIN, b"1_000", ("syntax", "not a number: '1_000'")),
        (PLAIN, b"nan", ("nonfinite", "'nan'")),
        (
            FormatSpec("value", (("t", ""),), decimal=","),
            b"23.4",
            ("syntax", "not a number with decimal comma: '23.4'"),
        ),
        # a unit after the number that no units key lists: told where it goes
        (
            PLAIN,
            b"23.0 C",
            (
                "syntax",
                "not a number: '23.0 C', a number and a unit: list the unit in parse.units: "
                'parse = { units = ["C"] }',
            ),
        ),
        (
            spec_of("kv", "P"),
            b"P=1013.2hPa",
            (
                "syntax",
                "not a number: '1013.2hPa', a number and a unit: list the unit in parse.units: "
                'parse = { units = ["hPa"] }',
            ),
        ),
        # with units listed, what follows the number is read as they say: a listed unit
        # damaged on the line, no unit to list
        (
            FormatSpec("value", (("t", ""),), units=("C", "%")),
            b"23.4tC",
            ("syntax", "not a number: '23.4t'"),
        ),
        (
            FormatSpec("value", (("t", ""),), units=("C",)),
            b"23.4 degC",
            ("syntax", "not a number: '23.4 deg'"),
        ),
        # a listed unit in another case: damage, or the unit listed in another case than the
        # device writes it, which every frame would show
        (
            FormatSpec("kv", (("t", "T"),), units=("C",), invalid=("ERR",)),
            b"T=23.4c",
            (
                "syntax",
                "not a number: '23.4c' ('c' is 'C' of parse.units in another case: a unit is "
                "matched as written)",
            ),
        ),
        (
            FormatSpec("value", (("p", ""),), units=("HPA", "%")),
            b"1013.2 hPa",
            (
                "syntax",
                "not a number: '1013.2 hPa' ('hPa' is 'HPA' of parse.units in another case: a "
                "unit is matched as written)",
            ),
        ),
        (PLAIN, b"0xFF", ("syntax", "not a number: '0xFF'")),  # hexadecimal: no unit
        (PLAIN, b"23.4.5", ("syntax", "not a number: '23.4.5'")),
        (PLAIN, b"12:30", ("syntax", "not a number: '12:30'")),
        # the configured keys are there, their values empty
        (spec_of("kv", "T", "H"), b"T=,H=", ("syntax", "the keys T, H have no value")),
        # one field fails alone: the frame's other field is kept, the line tells of the one
        (
            FormatSpec("kv", (("t", "T"), ("h", "H")), invalid=("#",)),
            b"T=#,H=45",
            ("invalid", "'#' marks the value invalid"),
        ),
    ],
)
def test_a_rejection_tells_what_in_the_frame_is_wrong(
    spec: FormatSpec, frame: bytes, expected: tuple[str, str]
) -> None:
    assert told(decoder_for(spec), frame) == expected


def test_the_unit_a_rejection_names_is_read_once_listed() -> None:
    """The advice of a number followed by a unit holds: with the unit listed, the line reads."""
    [reading] = decoder_for(FormatSpec("value", (("t", ""),), units=("C",)))(b"23.0 C")
    assert reading[1] == 23.0


#: A line of a device's start-up message, longer than the 40 characters a detail quotes.
BANNER = "TH-100 humidity and temperature probe, firmware 2.4.1"


@pytest.mark.parametrize(
    ("spec", "field", "expected"),
    [
        (PLAIN, BANNER, ("syntax", f"not a number: {BANNER[:40]!r}")),
        # a number float() reads, right-aligned with NO-BREAK SPACEs (0xA0 in Latin-1)
        (
            FormatSpec("value", (("t", ""),), encoding="latin-1"),
            "\u00a0" * 44 + "21.5",
            ("syntax", f"not a number: {chr(0xA0) * 40!r}"),
        ),
        # a number beyond the float range, printed in full
        (PLAIN, "1" + "0" * 400, ("nonfinite", f"{'1' + '0' * 39!r}")),
        (
            FormatSpec("value", (("t", ""),), decimal=","),
            "0.000000000000000000000000000000000000000000125",
            ("syntax", f"not a number with decimal comma: {'0.' + '0' * 38!r}"),
        ),
        # a zero-padded value whose marker took the place of its unit
        (
            FormatSpec("value", (("t", ""),), invalid=("#",)),
            "0" * 44 + "236#",
            ("invalid", f"{'0' * 40!r} marks the value invalid"),
        ),
    ],
)
def test_a_rejection_quotes_the_field_up_to_40_characters(
    spec: FormatSpec, field: str, expected: tuple[str, str]
) -> None:
    """The journal line shows the frame itself beside the detail; the detail quotes the text
    in question only as far as its first 40 characters."""
    assert told(decoder_for(spec), field.encode(spec.encoding)) == expected


# -- value ---------------------------------------------------------------------------------------


def test_value_plain() -> None:
    parse = decoder_for(FormatSpec("value", (("temp", ""),)))
    assert parse(b"21.5") == [("temp", 21.5)]
    assert parse(b"  -3e2 \t") == [("temp", -300.0)]
    assert parse(b"+7") == [("temp", 7.0)]


@pytest.mark.parametrize(
    ("frame", "why"),
    [
        (b"abc", "syntax"),
        (b"", "syntax"),
        (b"   ", "syntax"),
        (b"21.5 C", "syntax"),
        (b"1_000", "syntax"),
        ("\u0663".encode(), "syntax"),  # ARABIC-INDIC DIGIT THREE
        (b"0x10", "syntax"),
        (b"nan", "nonfinite"),
        (b"NaN", "nonfinite"),
        (b"inf", "nonfinite"),
        (b"-Infinity", "nonfinite"),
        (b"1e999", "nonfinite"),
        # no number, though float() reads them as one beyond the range or nan: the frame fails
        (b"1_0e999", "syntax"),
        ("\u00a0nan".encode(), "syntax"),  # NO-BREAK SPACE, as "\u00a021.5" is syntax
        ("\u0663e999".encode(), "syntax"),
        (b"\xff21.5", "encoding"),
        (b"21\x00.5", "encoding"),
        (b"\xc3", "encoding"),
    ],
)
def test_value_errors(frame: bytes, why: str) -> None:
    parse = decoder_for(FormatSpec("value", (("temp", ""),)))
    assert reason(parse, frame) == why


def test_value_with_pattern() -> None:
    parse = decoder_for(FormatSpec("value", (("temp", ""),), pattern=r"T=\s*(\S+)\s*C"))
    assert parse(b"#12 T= 21.25 C ok") == [("temp", 21.25)]
    assert reason(parse, b"H=40") == "syntax"
    assert reason(parse, b"T=abc C") == "syntax"
    assert reason(parse, b"T=nan C") == "nonfinite"


def test_value_pattern_with_optional_group_that_did_not_take_part() -> None:
    # an alternative without the group: the device's line for "no valid value"
    parse = decoder_for(FormatSpec("value", (("temp", ""),), pattern=r"T|(\d+)"))
    assert reason(parse, b"T") == "invalid"
    assert reason(parse, b"x") == "syntax"
    assert parse(b"x42") == [("temp", 42.0)]


def test_value_pattern_s_line_with_a_line_end_inside_is_rejected_unless_it_names_it() -> None:
    """A CR or LF inside a line a pattern reads is what is left of a line end one byte of
    which was lost (the pattern would find the first line's number and lose the second's);
    a pattern that names that line end reads a frame that holds it as the device sends it."""
    one_line = decoder_for(FormatSpec("value", (("temp", ""),), pattern=r"T=\s*(\S+)\s*C"))
    with pytest.raises(ParseError) as raised:
        one_line(b"T= 21.25 C\rT= 21.50 C")
    assert (raised.value.reason, raised.value.detail) == (
        "syntax",
        "'\\r' inside the line, at 10: two lines run together (a byte of the line end lost)",
    )
    assert reason(one_line, b"T= 21.25 C\nT= 21.50 C") == "syntax"
    assert one_line(b"\nT= 21.25 C\r") == [("temp", 21.25)]  # at the ends: a terminator's
    for pattern in (
        r"T=(\S+) C\r\nH=\S+",  # escaped
        "T=(\\S+) C\r\nH=\\S+",  # as such
        r"T=(\S+) C\x0d\x0AH=\S+",  # in hex
        r"T=(\S+) C\015\012H=\S+",  # in octal
        r"T=(\S+) C\u000D\u000aH=\S+",  # as code points
    ):
        two_lines = decoder_for(FormatSpec("value", (("temp", ""),), pattern=pattern))
        assert two_lines(b"T=21.25 C\r\nH=40") == [("temp", 21.25)], pattern


def test_value_with_latin1_encoding() -> None:
    parse = decoder_for(
        FormatSpec("value", (("t", ""),), pattern=r"(\S+)\s*°C", encoding="latin-1")
    )
    assert parse(b"21.5 \xb0C") == [("t", 21.5)]


# -- kv ------------------------------------------------------------------------------------------


def test_kv_basic_and_unknown_keys_ignored() -> None:
    parse = decoder_for(spec_of("kv", "T", "H"))
    assert parse(b"T=21.5,H=40,P=1013") == [("ch0", 21.5), ("ch1", 40.0)]
    assert parse(b" H = 41 , T= 22 ") == [("ch1", 41.0), ("ch0", 22.0)]
    assert parse(b"T=21.5,OK,,P=garbage") == [("ch0", 21.5)]


def test_kv_custom_separators() -> None:
    parse = decoder_for(spec_of("kv", "temp", "rh", pair_separator=";", kv_separator=":"))
    assert parse(b"temp:21.5;rh:40.5;") == [("ch0", 21.5), ("ch1", 40.5)]


def test_kv_labels_and_values_in_cells_of_one_separator() -> None:
    """With ``kv_separator`` the ``pair_separator``, a configured key's value is the cell after
    it; cells that are no configured key (a product and serial number before the first label,
    labels of values no channel reads) are passed over without shifting the pairs."""
    spec = spec_of("kv", "O2[uM]", "T[C]", pair_separator="\t", kv_separator="\t")
    parse = decoder_for(spec)
    line = b"MEASUREMENT\t4330\t83\tO2[uM]\t245.9\tSat[%]\t90.2\tT[C]\t 8.5\t"
    assert parse(line) == [("ch0", 245.9), ("ch1", 8.5)]
    # three cells before the first label, or two: the same pairs
    assert parse(b"4330\t83\tO2[uM]\t245.9\tT[C]\t8.5") == [("ch0", 245.9), ("ch1", 8.5)]
    # a configured key in the last cell has no value; a line of one cell is no pair
    assert parse(b"T[C]\t8.5\tO2[uM]") == [("ch1", 8.5)]
    with pytest.raises(ParseError, match=r"the keys O2\[uM\] have no value$"):
        parse(b"Sat[%]\t90.2\tO2[uM]")
    assert reason(parse, b"StartupInfo 4330 83") == "syntax"
    # cells none of which is a configured key: not meant for this sensor
    counts = DecoderCounts()
    assert kv_counted_decoder(spec, counts)(b"Sat[%]\t90.2\tX\t1") == []
    assert counts.unread == 1
    # the simulator sends what the decoder reads
    assert parse(encode(spec, {"O2[uM]": 245.9, "T[C]": 8.5})[0]) == [("ch0", 245.9), ("ch1", 8.5)]


def test_a_labelled_key_whose_value_is_left_out_has_none_and_the_next_key_keeps_its_own() -> None:
    """A labelled line from which the device left a value out (``O2`` followed straight by
    ``T``): O2 has no value, as with an empty cell, and T reads its own, not taken as O2's."""
    spec = spec_of("kv", "O2", "T", pair_separator="\t", kv_separator="\t")
    parse = decoder_for(spec)
    assert parse(b"O2\tT\t8.5") == [("ch1", 8.5)]
    assert parse(b"O2\tT\t8.5") == parse(b"O2\t\tT\t8.5")
    assert parse(b"MEASUREMENT\t4330\tO2\tT\t8.5\tSat\t90.2") == [("ch1", 8.5)]
    commas = decoder_for(spec_of("kv", "CPS", "CPM", pair_separator=",", kv_separator=","))
    assert commas(b"CPS, CPM, 13") == [("ch1", 13.0)]
    assert commas(b"CPS, 0, CPM, 13") == [("ch0", 0.0), ("ch1", 13.0)]
    # every value left out: the keys have none, as empty cells say
    with pytest.raises(ParseError, match=r"the keys O2, T have no value$"):
        parse(b"O2\tT")
    # a value that is no number and no key is still that key's error
    assert reason(parse, b"O2\tlow\tT\t8.5") == "syntax"


def test_an_invalid_sign_before_a_key_marks_its_value_and_the_others_are_read() -> None:
    """An entry of signs alone right before a configured key (Aanderaa's ``*``) drops that
    key's value as ``invalid``, in pairs and in labelled cells alike."""
    pairs = decoder_for(spec_of("kv", "T", "H", invalid=("*", "#")))
    with pytest.raises(ParseError, match=r"'\*T' marks its value invalid") as caught:
        pairs(b"*T=21.5,H=45")
    assert (caught.value.reason, caught.value.kept, caught.value.unavailable) == (
        "invalid",
        [("ch1", 45.0)],
        ("ch0",),
    )
    assert reason(pairs, b"#T=21.5,*H=45") == "invalid"
    assert kept(pairs, b"#T=21.5,*H=45") == []
    cells = decoder_for(
        spec_of("kv", "O2", "T", pair_separator="\t", kv_separator="\t", invalid=("*",))
    )
    assert kept(cells, b"MEASUREMENT\t4330\t83\t*O2\t0.000\tT\t8.5") == [("ch1", 8.5)]
    # a key configured with the sign in it is read as itself
    own = decoder_for(spec_of("kv", "*T", "T", invalid=("*",)))
    assert own(b"*T=1,T=2") == [("ch0", 1.0), ("ch1", 2.0)]
    # an entry with a letter marks values only: "EC" is a key of its own, not "C" marked
    letters = decoder_for(spec_of("kv", "C", invalid=("E",)))
    assert letters(b"C=21.5,EC=1.2") == [("ch0", 21.5)]
    assert reason(letters, b"C=E") == "invalid"
    # without the entry, a flagged key is no configured key
    plain = decoder_for(spec_of("kv", "T", "H"))
    assert plain(b"*T=21.5,H=45") == [("ch1", 45.0)]


def test_kv_value_containing_kv_separator_is_split_at_the_first() -> None:
    parse = decoder_for(spec_of("kv", "T"))
    assert reason(parse, b"T=1=2") == "syntax"


def test_kv_missing_and_empty_values() -> None:
    parse = decoder_for(spec_of("kv", "T", "H"))
    assert parse(b"T=,H=40") == [("ch1", 40.0)]
    assert reason(parse, b"T=,H=") == "syntax"
    assert parse(b"X=1,Y=2") == []  # pairs, none of them configured: not for this sensor
    assert reason(parse, b"no pairs here") == "syntax"
    assert reason(parse, b"") == "syntax"


def test_kv_keys_are_case_sensitive() -> None:
    parse = decoder_for(spec_of("kv", "T"))
    assert parse(b"t=1") == []
    assert parse(b"T=1") == [("ch0", 1.0)]


def test_kv_bad_values() -> None:
    parse = decoder_for(spec_of("kv", "T", "H"))
    assert reason(parse, b"T=21.5,H=4o") == "syntax"
    assert reason(parse, b"T=21.5,H=nan") == "nonfinite"
    assert kept(parse, b"T=21.5,H=nan") == [("ch0", 21.5)]
    assert reason(parse, b"T=21.5,H=\xe9") == "encoding"


def test_kv_two_channels_on_one_key() -> None:
    parse = decoder_for(FormatSpec("kv", (("raw", "T"), ("calibrated", "T"))))
    assert parse(b"T=3") == [("raw", 3.0), ("calibrated", 3.0)]


def test_kv_lines_run_together_are_rejected_naming_what_shows_it() -> None:
    """A weather station's lines run into each other, their line end lost: a configured key
    twice, or a configured key and its separator inside another pair's value, rejects the
    line, naming it; a value that holds the separator but no configured key is read."""
    parse = decoder_for(
        spec_of("kv", "Dm", "Ta", "Pa", units=("D", "M", "C", "P", "H"), invalid=("#",))
    )

    def rejection(line: bytes) -> tuple[str, str, list[tuple[str, float]]]:
        with pytest.raises(ParseError) as raised:
            parse(line)
        return raised.value.reason, raised.value.detail, raised.value.kept

    # 0R2 cut in its key "Pa", the next 0R2 from its "a=": the temperature read as pressure
    assert rejection(b"0R2,Ta=16.1C,Ua=79.3P,Pa=16.1C,Ua=79.3P,Pa=959.7H") == (
        "syntax",
        "the key 'Pa' twice: two lines run together (a line end lost)",
        [],
    )
    # twice with one of its values empty, or failing alone
    assert rejection(b"0R1,Dn=160D,Dm=,Dn=160D,Dm=182D")[:2] == (
        "syntax",
        "the key 'Dm' twice: two lines run together (a line end lost)",
    )
    assert rejection(b"0R1,Dm=182#,Dm=190D")[0] == "syntax"
    # the next line's pair run into a value no channel reads: Ta would be left out uncounted
    assert rejection(b"0R1,Dm=182D,Sx=5.8MTa=16.1C,Ua=79.3P,Pa=959.7H") == (
        "syntax",
        "'Sx=5.8MTa=16.1C' holds the key 'Ta' and its value: two lines run together (a line "
        "end lost)",
        [],
    )
    assert rejection(b"0R1,Dm=182D,Sx=5.8M Ta =16.1C")[0] == "syntax"
    # a separator in a value with no configured key before it: a value of the device's
    times = decoder_for(spec_of("kv", "T1", kv_separator=":"))
    assert times(b"Time:12:30:00,T1:21.5") == [("ch0", 21.5)]
    assert times(b"Time:12:30:00,AT1:7,T1:21.5") == [("ch0", 21.5)]


def test_kv_line_end_left_inside_a_line_rejects_it() -> None:
    """A CR or LF inside a line is what is left of a line end one byte of which was lost; at
    a line's ends (a terminator that leaves it there) or as a separator, it is none."""
    parse = decoder_for(spec_of("kv", "Dm", "Ta", units=("D", "M", "C")))
    with pytest.raises(ParseError) as raised:
        parse(b"0R1,Dm=182D,Sx=5.8M\r0R2,Ta=16.1C")
    assert (raised.value.reason, raised.value.detail, raised.value.kept) == (
        "syntax",
        "'\\r' inside the line, at 19: two lines run together (a byte of the line end lost)",
        [],
    )
    assert reason(parse, b"\n0R1,Dm=182D,Sx=5.8M\n0R2,Ta=16.1C\r") == "syntax"
    assert parse(b"\n0R1,Dm=182D,Sx=5.8M\r\r") == [("ch0", 182.0)]
    lines = decoder_for(spec_of("kv", "T", "H", pair_separator="\r"))
    assert lines(b"T=21.5\rH=40") == [("ch0", 21.5), ("ch1", 40.0)]


# -- csv -----------------------------------------------------------------------------------------


def test_csv_by_column_name() -> None:
    spec = FormatSpec("csv", (("t", "temp"), ("h", "hum")), columns=("time", "temp", "hum"))
    parse = decoder_for(spec)
    assert parse(b"12:00:01, 21.5 ,40") == [("t", 21.5), ("h", 40.0)]


def test_csv_by_index_and_delimiter() -> None:
    parse = decoder_for(FormatSpec("csv", (("a", "0"), ("c", "2")), delimiter=";"))
    assert parse(b"1;x;3") == [("a", 1.0), ("c", 3.0)]
    assert parse(b"1") == [("a", 1.0)]
    assert parse(b";x;3") == [("c", 3.0)]
    assert reason(parse, b";x;") == "syntax"
    assert reason(parse, b"1;2;three") == "syntax"
    assert reason(parse, b"1;2;inf") == "nonfinite"
    assert kept(parse, b"1;2;inf") == [("a", 1.0)]


def test_csv_header_line_is_ignored_only_with_header_true() -> None:
    columns = ("time", "temp", "hum")
    with_header = decoder_for(FormatSpec("csv", (("t", "temp"),), columns=columns, header=True))
    without = decoder_for(FormatSpec("csv", (("t", "temp"),), columns=columns))
    assert with_header(b"time,temp,hum") == []
    assert with_header(b" time , temp,hum ") == []
    assert reason(with_header, b"time,temp,humidity") == "syntax"
    assert with_header(b"1,2,3") == [("t", 2.0)]
    assert reason(without, b"time,temp,hum") == "syntax"


# -- json ----------------------------------------------------------------------------------------


def test_json_paths() -> None:
    spec = FormatSpec(
        "json", (("t", "env.temp"), ("p", "readings.1.value"), ("top", "n"), ("k", "m.0"))
    )
    parse = decoder_for(spec)
    frame = b'{"env": {"temp": 21.5}, "readings": [{"value": 1}, {"value": 2.5}], "n": 7, '
    frame += b'"m": {"0": 9}}'
    assert parse(frame) == [("t", 21.5), ("p", 2.5), ("top", 7.0), ("k", 9.0)]


def test_json_absent_values() -> None:
    parse_spec = FormatSpec("json", (("t", "a.b"), ("u", "c")))
    parse = decoder_for(parse_spec)
    assert parse(b'{"a": {"b": null}, "c": 1}') == [("u", 1.0)]
    assert parse(b'{"a": 5, "c": 2}') == [("u", 2.0)]
    assert parse(b'{"a": [1, 2], "c": 3}') == [("u", 3.0)]
    # an object of none of the channels' paths is another message of the device's: no
    # reading and no error, counted as a frame of no key a channel reads
    counts = DecoderCounts()
    unread = codec_for("json").sensor_decoder(parse_spec, lambda: 0.0, counts)
    assert parse(b'{"x": 1}') == unread(b'{"x": 1}') == []
    assert parse(b"{}") == unread(b"{}") == []
    assert (counts.unread, counts.unread_frame) == (2, b"{}")
    # one that holds a path, if only as null, holds no reading: syntax
    assert reason(parse, b'{"a": {"b": null}, "c": null}') == "syntax"


@pytest.mark.parametrize(
    ("frame", "why"),
    [
        (b'{"v": true}', "syntax"),
        (b'{"v": "21.5 C"}', "syntax"),
        (b'{"v": {"x": 1}}', "syntax"),
        (b'{"v": [1]}', "syntax"),
        (b'{"v": NaN}', "nonfinite"),
        (b'{"v": Infinity}', "nonfinite"),
        (b'{"v": -Infinity}', "nonfinite"),
        (b'{"v": 1e999}', "nonfinite"),
        (b'{"v": 1' + b"0" * 400 + b"}", "nonfinite"),
        (b"[1, 2]", "syntax"),
        (b"21.5", "syntax"),
        (b'{"v": 1', "syntax"),
        (b"{'v': 1}", "syntax"),
        (b"[" * 100_000 + b"]" * 100_000, "syntax"),
        (b'{"v": 1}\xff', "encoding"),
        (b'{"v": 1}\x00', "encoding"),
    ],
)
def test_json_errors(frame: bytes, why: str) -> None:
    parse = decoder_for(FormatSpec("json", (("v", "v"),)))
    assert reason(parse, frame) == why


# -- nmea ----------------------------------------------------------------------------------------


def test_nmea_gga_real_sentence() -> None:
    spec = spec_of(
        "nmea",
        "GGA.fix_quality",
        "GGA.satellites",
        "GGA.hdop",
        "GGA.altitude",
        "GGA.latitude",
        "GGA.longitude",
    )
    parse = decoder_for(spec)
    readings = dict(parse(GGA))
    assert readings["GGA.fix_quality"] == 1.0
    assert readings["GGA.satellites"] == 8.0
    assert readings["GGA.hdop"] == 0.9
    assert readings["GGA.altitude"] == 545.4
    assert readings["GGA.latitude"] == pytest.approx(48 + 7.038 / 60)
    assert readings["GGA.longitude"] == pytest.approx(11 + 31.0 / 60)

    # a decoder of its own: one decoder ignores a GGA repeating the last GGA's time with a fix
    south_west = dict(decoder_for(spec)(GGA_SOUTH_WEST))
    assert south_west["GGA.latitude"] == pytest.approx(-(48 + 7.038 / 60))
    assert south_west["GGA.longitude"] == pytest.approx(-(11 + 31.0 / 60))


def test_nmea_gga_without_fix_gives_only_fix_quality_and_satellites() -> None:
    parse = decoder_for(spec_of("nmea", "GGA.fix_quality", "GGA.satellites", "GGA.altitude"))
    assert parse(GGA_NO_FIX) == [("GGA.fix_quality", 0.0), ("GGA.satellites", 3.0)]
    only_position = decoder_for(spec_of("nmea", "GGA.latitude", "GGA.altitude"))
    assert only_position(GGA_NO_FIX) == []
    stale = nmea("GPGGA,123519,4807.038,N,01131.000,E,0,00,,545.4,M,,M,,")
    assert only_position(stale) == []


def test_nmea_rmc() -> None:
    parse = decoder_for(spec_of("nmea", "RMC.speed", "RMC.course", "RMC.latitude"))
    readings = dict(parse(RMC))
    assert readings == {
        "RMC.speed": 22.4,
        "RMC.course": 84.4,
        "RMC.latitude": pytest.approx(48.1173),
    }
    assert parse(RMC_WARNING) == []


def test_nmea_any_talker_and_lowercase_checksum() -> None:
    for talker in ("GN", "GL", "GA", "II"):
        # a decoder each: one decoder ignores a GGA repeating the last GGA's fix from another
        # talker (a receiver that sends one GGA per constellation)
        parse = decoder_for(spec_of("nmea", "GGA.altitude"))
        assert parse(nmea(f"{talker}GGA,1,4807.038,N,01131.000,E,1,08,0.9,12.5,M,,M,,")) == [
            ("GGA.altitude", 12.5)
        ]
    assert parse(GGA.replace(b"*47", b"*47")) == [("GGA.altitude", 545.4)]
    rmc_lower = decoder_for(spec_of("nmea", "RMC.speed"))
    assert rmc_lower(RMC.replace(b"*6A", b"*6a")) == [("RMC.speed", 22.4)]


def test_nmea_without_checksum_is_accepted() -> None:
    for sentence in (GGA.split(b"*")[0], GGA + b"\r"):
        parse = decoder_for(spec_of("nmea", "GGA.altitude"))
        assert parse(sentence) == [("GGA.altitude", 545.4)]


def test_nmea_checksum_errors() -> None:
    parse = decoder_for(spec_of("nmea", "GGA.altitude"))
    assert reason(parse, GGA.replace(b"545.4", b"545.5")) == "checksum"
    assert reason(parse, GGA.replace(b"*47", b"*48")) == "checksum"
    # Sentences we do not want are checked too: their errors show the state of the line.
    assert reason(parse, GSV.replace(b"*74", b"*75")) == "checksum"
    assert reason(parse, GGA.replace(b"*47", b"*4")) == "truncated"  # cut in its checksum
    assert reason(parse, GGA.replace(b"*47", b"*4G")) == "syntax"
    assert reason(parse, GGA.replace(b"*47", b"*470")) == "syntax"
    assert reason(parse, GGA.replace(b"*47", b"*+7")) == "syntax"


def test_nmea_sentences_not_for_us_are_ignored() -> None:
    parse = decoder_for(spec_of("nmea", "GGA.altitude"))
    for sentence in (RMC, GSV, AIS, PROPRIETARY, MTW, nmea("PUBX,00,1,2"), b"$PMTK001,604,3"):
        assert parse(sentence) == []


def test_nmea_instrument_sentences() -> None:
    parse = decoder_for(
        spec_of(
            "nmea",
            "MTW.temperature",
            "MWV.wind_angle",
            "MWV.wind_speed",
            "MWV.wind_speed_mps",
            "MWV.true_wind_angle",
            "MWV.true_wind_speed",
            "MWV.true_wind_speed_mps",
            "DPT.depth",
            "DBT.depth",
            "HDT.heading",
        )
    )
    assert parse(MTW) == [("MTW.temperature", 18.5)]
    knots = dict(parse(MWV_KNOTS))  # reference T: the true wind, in its own channels only
    assert knots == {
        "MWV.true_wind_angle": 45.0,
        "MWV.true_wind_speed": 12.4,
        "MWV.true_wind_speed_mps": pytest.approx(12.4 * 1852 / 3600),
    }
    kmh = dict(parse(MWV_KMH))  # reference R: the relative (apparent) wind
    assert kmh == {
        "MWV.wind_angle": 214.8,
        "MWV.wind_speed": 0.1,
        "MWV.wind_speed_mps": pytest.approx(0.1 / 3.6),
    }
    assert parse(MWV_INVALID) == []
    assert parse(DPT) == [("DPT.depth", 2.8)]
    assert parse(DBT) == [("DBT.depth", 2.4)]
    [(channel, depth)] = parse(DBT_FEET_ONLY)
    assert channel == "DBT.depth"
    assert depth == pytest.approx(7.8 * 0.3048)
    assert parse(HDT) == [("HDT.heading", 274.07)]
    assert reason(parse, nmea("WIMWV,10,R,5.0,X,A")) == "syntax"


def test_nmea_heading_turn_and_fix_quality_sentences() -> None:
    fields = (
        "HDM.heading",
        "THS.heading",
        "ROT.rate",
        "GST.rms",
        "GST.error_major",
        "GST.error_minor",
        "GST.error_orientation",
        "GST.latitude_error",
        "GST.longitude_error",
        "GST.altitude_error",
    )
    parse = decoder_for(spec_of("nmea", *fields))
    assert parse(nmea("HCHDM,238.5,M")) == [("HDM.heading", 238.5)]
    assert parse(nmea("GNTHS,77.52,E")) == [("THS.heading", 77.52)]  # estimated: still read
    assert parse(nmea("GNTHS,77.52,V")) == []  # not valid
    assert parse(nmea("GNTHS,77.52,M")) == []  # manual input: no measurement
    assert parse(nmea("GNTHS,77.52,S")) == []  # simulator mode
    assert parse(nmea("TIROT,-2.1,A")) == [("ROT.rate", -2.1)]
    assert parse(nmea("TIROT,35.6,V")) == []
    gst = parse(nmea("GPGST,172814.0,0.006,0.023,0.020,273.6,0.023,0.020,0.031"))
    expected = (0.006, 0.023, 0.020, 273.6, 0.023, 0.020, 0.031)
    assert gst == list(zip(fields[3:], expected, strict=True))
    # a receiver that leaves the error ellipse's fields empty
    assert dict(parse(nmea("GNGST,181141.00,46,,,,4.7,1.9,5.3"))) == {
        "GST.rms": 46.0,
        "GST.latitude_error": 4.7,
        "GST.longitude_error": 1.9,
        "GST.altitude_error": 5.3,
    }
    assert reason(parse, b"$GPGST,172814.0,0.006,0.023") == "truncated"


def test_nmea_xdr_by_name() -> None:
    parse = decoder_for(FormatSpec("nmea", (("press", "XDR.Barometer"), ("air", "XDR.AirTemp"))))
    assert parse(XDR) == [("press", 1.0158), ("air", 19.52)]
    hum = decoder_for(FormatSpec("nmea", (("h", "XDR.Humidity"),)))
    assert hum(XDR) == [("h", 45.1)]
    other = decoder_for(FormatSpec("nmea", (("w", "XDR.WaterTemp"),)))
    assert other(XDR) == []
    assert other(XDR_EMPTY) == []
    assert other(nmea("IIXDR,C,12.25,C,WaterTemp")) == [("w", 12.25)]
    # A name in the value position does not count.
    assert other(nmea("IIXDR,C,WaterTemp,C,Other")) == []


@pytest.mark.parametrize(
    ("frame", "why"),
    [
        (b"GPGGA,123519,4807.038,N", "syntax"),
        (b"", "syntax"),
        (b"$", "truncated"),  # a line cut after its start character
        (nmea(""), "syntax"),
        (nmea("GPGG,1"), "syntax"),
        (nmea("GP-GGA,1"), "syntax"),
        (nmea("GPGGA,1,4807.038,,01131.000,E,1,08,0.9,1,M,,M,,"), "syntax"),
        (nmea("GPGGA,1,4867.038,N,01131.000,E,1,08,0.9,1,M,,M,,"), "syntax"),
        (nmea("GPGGA,1,-4807.038,N,01131.000,E,1,08,0.9,1,M,,M,,"), "syntax"),
        (nmea("GPGGA,1,4807.038,N,01131.000,E,1,08,0.9,abc,M,,M,,"), "syntax"),
        (nmea("GPGGA,1,4807.038,N,01131.000,E,1,08,0.9,nan,M,,M,,"), "nonfinite"),
        ("$GPGGA,1,4807.038,N,01131.000,E,1,08,0.9,1\u00b0,M,,M,,".encode(), "encoding"),
        (GGA.replace(b"545.4", b"545\x004"), "encoding"),
        (b"$GPGGA,1\xff", "encoding"),
    ],
)
def test_nmea_errors(frame: bytes, why: str) -> None:
    parse = decoder_for(spec_of("nmea", "GGA.altitude", "GGA.latitude"))
    assert reason(parse, frame) == why


def test_nmea_short_sentence_gives_what_it_has() -> None:
    parse = decoder_for(spec_of("nmea", "GGA.fix_quality", "GGA.altitude"))
    assert parse(nmea("GPGGA,123519,4807.038,N,01131.000,E,1")) == [("GGA.fix_quality", 1.0)]


# -- nothing but ParseError, whatever comes in ---------------------------------------------------

ALL_SPECS = [
    FormatSpec("value", (("v", ""),)),
    FormatSpec("value", (("v", ""),), pattern=r"T=(\S*)"),
    FormatSpec("value", (("v", ""),), pattern=r"(\d+)?x", encoding="latin-1"),
    FormatSpec("kv", (("t", "T"), ("h", "H"))),
    FormatSpec("kv", (("t", "T"),), pair_separator=" ", kv_separator=":"),
    FormatSpec("kv", (("t", "T"), ("h", "H")), pair_separator=";", kv_separator=";"),
    FormatSpec(
        "kv", (("t", "T"), ("h", "H")), pair_separator="\t", kv_separator="\t", invalid=("*",)
    ),
    FormatSpec("csv", (("a", "0"), ("c", "2"))),
    FormatSpec("csv", (("t", "temp"),), columns=("time", "temp"), header=True, delimiter=";"),
    FormatSpec("csv", (("a", "0"), ("c", "2")), delimiter=" "),
    FormatSpec("json", (("t", "a"), ("u", "b.0.c"), ("w", "0"))),
    FormatSpec("kv", (("t", "T"), ("h", "H")), units=("C", "hPa", "%"), invalid=("#", "-", "E")),
    FormatSpec("csv", (("a", "0"), ("b", "1")), units=("M",), invalid=("---", "nan")),
    FormatSpec("value", (("t", ""),), units=("e", "N"), invalid=("+", "9")),
    FormatSpec("json", (("t", "a"), ("u", "b")), units=("C",), invalid=("ERR",)),
    FormatSpec(
        "nmea",
        (*((f, f) for f in NMEA_FIELDS), ("x", "XDR.A"), ("y", "XDR.B")),
    ),
    FormatSpec("value", (("v", ""),), decimal=","),
    FormatSpec("csv", (("a", "0"), ("b", "1")), delimiter=";", decimal=",", invalid=("-",)),
    FormatSpec("kv", (("t", "T"),), pair_separator=";", decimal=",", units=("C",)),
    FormatSpec(
        "value",
        (("h", "h"), ("t", "t"), ("u", "t")),
        pattern=r"H=(?P<h>\S*)(?: T=(?P<t>[^;]+))?|(;)",
        example="H=1 T=2",
        units=("C",),
        invalid=("-",),
    ),
]
PARSERS = [decoder_for(spec) for spec in ALL_SPECS]
JSON_PARSER = PARSERS[[spec.format for spec in ALL_SPECS].index("json")]
NMEA_PARSER = PARSERS[[spec.format for spec in ALL_SPECS].index("nmea")]


def check_contract(parser: Decoder, frame: bytes) -> None:
    reason = None
    try:
        readings = parser(frame)
    except ParseError as exc:
        reason = exc.reason
        readings = exc.kept
    assert reason in {None, "syntax", "checksum", "encoding", "truncated", "nonfinite", "invalid"}
    assert isinstance(readings, list)
    for channel, value in readings:
        assert isinstance(channel, str)
        assert type(value) is float
        assert math.isfinite(value)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=120))
def test_arbitrary_bytes_raise_only_parse_error(frame: bytes) -> None:
    for parser in PARSERS:
        check_contract(parser, frame)


TEXTY = st.text(alphabet='0123456789.,-+eE=;: TtHhabxnifNIA$*!\t"', max_size=80)


@settings(max_examples=300, deadline=None)
@given(TEXTY)
def test_number_like_text_raises_only_parse_error(text: str) -> None:
    for parser in PARSERS:
        check_contract(parser, text.encode())


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=5),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(st.sampled_from(["a", "b", "c", "0", "x"]), children, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=300, deadline=None)
@given(json_values)
def test_arbitrary_json_raises_only_parse_error(document: object) -> None:
    frame = json.dumps(document).encode()
    check_contract(JSON_PARSER, frame)
    # Integers far beyond the float range are JSON numbers too.
    check_contract(JSON_PARSER, frame.replace(b"1", b"1" + b"9" * 320, 1))


NMEA_FIELD_TEXT = st.text(alphabet="0123456789.-NSEWAVMKTfFCxX", max_size=9)


@settings(max_examples=300, deadline=None)
@given(
    st.sampled_from(
        [
            "GPGGA",
            "GNRMC",
            "IIMTW",
            "WIMWV",
            "SDDPT",
            "SDDBT",
            "YXXDR",
            "HEHDT",
            "GPGST",
            "TIROT",
            "HCHDM",
            "GPTHS",
        ]
    ),
    st.lists(NMEA_FIELD_TEXT | st.sampled_from(["A", "B", "N", "S", "E", "W", "0"]), max_size=16),
    st.booleans(),
)
def test_checksummed_random_sentences_raise_only_parse_error(
    address: str, fields: list[str], with_checksum: bool
) -> None:
    body = ",".join([address, *fields])
    frame = nmea(body) if with_checksum else f"${body}".encode()
    check_contract(NMEA_PARSER, frame)


# -- encoders --------------------------------------------------------------------------------------


def test_value_encoder_prints_three_decimals_or_the_example_s_shape() -> None:
    plain = FormatSpec("value", (("t", "T"),))
    assert encode(plain, {"T": 21.0}) == [b"21.000"]
    assert encode(plain, {}) == []
    bare = FormatSpec("value", (("t", "T"),), pattern=r"T=(\S+) C")
    assert encode(bare, {"T": -3.25}) == [b"-3.250"]
    example = FormatSpec("value", (("t", "T"),), pattern=r"T=(\S+) C", example="#7 T=21.5 C ok")
    [frame] = encode(example, {"T": -3.26})
    assert frame == b"#7 T=-3.3 C ok"  # one decimal, as the example's
    assert decoder_for(example)(frame) == [("t", -3.3)]
    # a MaxBotix rangefinder's four digits, zero-padded as the example's
    ranger = FormatSpec("value", (("d", "d"),), pattern=r"^R(\d{4})$", example="R0300")
    [frame] = encode(ranger, {"d": 765.4})
    assert frame == b"R0765"
    assert decoder_for(ranger)(frame) == [("d", 765.0)]


@pytest.mark.parametrize(
    "spec",
    [
        FormatSpec("value", (("t", "T"),), decimal=","),
        FormatSpec("kv", (("t", "T"), ("h", "H")), pair_separator=";", decimal=","),
        FormatSpec("csv", (("t", "0"), ("h", "1")), delimiter=";", decimal=","),
        FormatSpec("value", (("t", "T"),), pattern=r"T=(\S+) C", example="T=21,500 C", decimal=","),
    ],
)
def test_encoders_print_the_decimal_comma_their_decoders_read(spec: FormatSpec) -> None:
    [frame] = encode(spec, {"T": -3.25, "H": 45.5, "0": -3.25, "1": 45.5})
    assert b"." not in frame
    assert b"-3,250" in frame
    assert [value for _, value in decoder_for(spec)(frame)] == [-3.25, 45.5][: len(spec.fields)]


def test_value_lines_sharing_a_group_each_print_it_in_their_own_shape() -> None:
    """A station whose temperature leads both kinds of its lines, with a decimal in one and
    none in the other: the examples are as the device sends them, so they are taken, and
    each simulated line prints the temperature in its own line's shape."""
    spec = FormatSpec(
        "value",
        (("t", "t"), ("h", "h"), ("p", "p")),
        pattern=r"^(?P<t>\S+) C (?:(?P<h>\S+) %|(?P<p>\S+) hPa)$",
        example="21.5 C 40 %",
        more_examples=("21 C 1013 hPa",),
    )
    assert encode(spec, {"t": 18.25, "h": 55.0, "p": 990.0}) == [b"18.2 C 55 %", b"18 C 990 hPa"]


def test_an_example_line_that_holds_no_group_s_number_is_refused_as_such() -> None:
    """A line the device sends that carries no reading (an acknowledgement) is for
    parse.ignore, and the problem says so, not that the pattern cannot read numbers."""
    spec = FormatSpec(
        "value",
        (("a", "a"), ("b", "b")),
        pattern=r"^(?:A(?P<a>\S+)|B(?P<b>\S+)|OK)$",
        example="A1.5",
        more_examples=("B2", "OK"),
    )
    [(key, message)] = problems_of(spec)
    assert key == "parse.example"
    assert "'OK' holds no group's number" in message, message
    assert "parse.ignore" in message, message


def test_value_example_in_the_sensor_encoding() -> None:
    spec = FormatSpec(
        "value", (("t", "T"),), pattern=r"(\S+) °C", example="21.5 °C", encoding="latin-1"
    )
    assert encode(spec, {"T": 7.0}) == [b"7.0 \xb0C"]


def test_nmea_checksum_is_the_xor_of_the_body() -> None:
    assert checksum(b"GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,") == 0x47
    assert checksum(b"") == 0
    assert GGA.endswith(b"*%02X" % checksum(GGA[1:-3]))


def test_nmea_table_covers_every_field_and_both_directions(still_clock: None) -> None:
    """Every layout in the table is read back from what it writes, field by field."""
    for sentence, layout in SENTENCES.items():
        fields = [f for f in NMEA_FIELDS if f.startswith(f"{sentence}.")]
        if sentence == "XDR":
            fields = ["XDR.Air", "XDR.Water"]
        assert fields, sentence
        spec = FormatSpec("nmea", tuple((f, f) for f in fields))
        values = {f: 2.0 + i for i, f in enumerate(fields)}
        if sentence == "MWV":  # both speeds: the converted one follows the sentence's
            values["MWV.wind_speed_mps"] = values["MWV.wind_speed"] * 1852 / 3600
            values["MWV.true_wind_speed_mps"] = values["MWV.true_wind_speed"] * 1852 / 3600
        frames = encode(spec, values, 45_296.5)
        parse = decoder_for(spec)
        parsed: dict[str, float] = {}
        for frame in frames:
            parsed.update(parse(frame))
        if layout.references:  # the relative wind's sentence, then the true wind's
            assert [frame[7:16].split(b",")[1] for frame in frames] == [b"R", b"T"]
        elif layout.constellations is None:
            assert len(frames) == 1
            assert frames[0].startswith(f"${layout.talker}{sentence},".encode())
        if sentence == "GSA":  # one GSA per constellation, each with its own count
            values["GSA.satellites_used"] = values["GSA.used_navic"]
        assert_nmea_values(parsed, values)


@pytest.fixture
def still_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The host's wall clock held still while a test encodes and parses ``clock_offset``: the
    encoder writes the receiver's time from ``time.time`` and the decoder subtracts it again
    at the frame's arrival, so a host that stalls between the two would count its stall in
    the offset (the encoder and the decoder both read ``time.time`` when called)."""
    now = time.time()
    monkeypatch.setattr(time, "time", lambda: now)


def assert_nmea_values(parsed: dict[str, float], values: dict[str, float]) -> None:
    """``parsed`` holds ``values``: to three decimals, the clock offset to the hundredth of a
    second the time is written with (and the host clock runs on), GSV SNRs to half a dB-Hz."""
    assert parsed.keys() == values.keys()
    for field, value in values.items():
        tolerance = 5e-4
        if field.endswith(".clock_offset"):
            tolerance = 0.02
        elif field.startswith("GSV.snr_"):
            tolerance = 0.5
        assert parsed[field] == pytest.approx(value, abs=tolerance), field


def test_nmea_every_known_field_encodes_and_parses(still_clock: None) -> None:
    spec = FormatSpec("nmea", tuple((f, f) for f in NMEA_FIELDS))
    values = dict.fromkeys(NMEA_FIELDS, 3.0)
    values["MWV.wind_speed_mps"] = 3.0 * 1852 / 3600  # derived from wind_speed in knots
    values["MWV.true_wind_speed_mps"] = 3.0 * 1852 / 3600
    parser = decoder_for(spec)
    parsed: dict[str, float] = {}
    for frame in encode(spec, values):
        parsed.update(parser(frame))
    assert_nmea_values(parsed, values)


def test_nmea_wind_speed_mps_alone_is_sent_in_metres_per_second() -> None:
    spec = FormatSpec("nmea", (("w", "MWV.wind_speed_mps"),))
    [frame] = encode(spec, {"MWV.wind_speed_mps": 7.25})
    assert b",7.250,M,A*" in frame
    assert decoder_for(spec)(frame) == [("w", 7.25)]


def test_nmea_sentences_look_like_a_receiver() -> None:
    spec = FormatSpec("nmea", (("a", "GGA.altitude"), ("s", "RMC.speed")))
    gga, rmc = encode(spec, {"GGA.altitude": 545.4, "RMC.speed": 22.4}, 45_296.5)
    assert gga.startswith(b"$GPGGA,123456.500,4807.03800,N,01131.00200,E,1,08,0.900,545.400,M,")
    assert rmc.startswith(b"$GPRMC,123456.500,A,")
    assert gga[-3:-2] == b"*"


def test_a_simulated_receiver_gives_each_epoch_its_own_time_up_to_1000_hz() -> None:
    """One decoder ignores a GGA that repeats the time of the one before it with a fix: the
    encoder writes the time in milliseconds, so no simulated epoch is taken for a repeat."""
    spec = FormatSpec("nmea", (("a", "GGA.altitude"),))
    parse = decoder_for(spec)
    epochs = [45_296.5 + k / 250 for k in range(10)]  # 250 Hz, 4 ms apart
    frames = [frame for t_s in epochs for frame in encode(spec, {"GGA.altitude": t_s}, t_s)]
    assert len({frame.split(b",")[1] for frame in frames}) == 10
    assert [value for frame in frames for _, value in parse(frame)] == pytest.approx(epochs)


def test_nmea_xdr_carries_four_transducers_per_sentence() -> None:
    names = [f"T{i}" for i in range(6)]
    spec = FormatSpec("nmea", tuple((n, f"XDR.{n}") for n in names))
    first, second = encode(spec, {f"XDR.{n}": float(i) for i, n in enumerate(names)})
    assert first == nmea("YXXDR,G,0.000,,T0,G,1.000,,T1,G,2.000,,T2,G,3.000,,T3")
    assert second == nmea("YXXDR,G,4.000,,T4,G,5.000,,T5")
    assert encode(spec, {}) == []


def test_csv_header() -> None:
    spec = FormatSpec("csv", (("t", "temp"),), columns=("time", "temp"), delimiter=";", header=True)
    assert codec_for("csv").header(spec) == b"time;temp"
    assert decoder_for(spec)(b"time;temp") == []
    no_header = FormatSpec("csv", (("t", "temp"),), columns=("time", "temp"))
    assert codec_for("csv").header(no_header) is None
    for name in ("value", "kv", "json", "nmea"):
        assert codec_for(name).header(spec) is None


def test_missing_values_are_left_out() -> None:
    kv = FormatSpec("kv", (("temp", "T"), ("hum", "H")))
    assert encode(kv, {"T": 1.0}) == [b"T=1.000"]
    assert encode(FormatSpec("json", (("t", "a.b"), ("u", "c"))), {"c": 2}) == [b'{"c":2}']
    csv = FormatSpec("csv", (("t", "0"), ("h", "2")))
    assert encode(csv, {"2": 5.0}) == [b",0,5.000"]


def test_json_encoder_rejects_paths_it_cannot_write() -> None:
    json_codec = codec_for("json")
    with pytest.raises(ValueError, match="conflicts"):
        json_codec.encoder(FormatSpec("json", (("a", "a"), ("b", "a.b"))))
    with pytest.raises(ValueError, match="conflicts"):
        json_codec.encoder(FormatSpec("json", (("a", "a.0"), ("b", "a.b"))))
    with pytest.raises(ValueError, match="above 1000"):
        json_codec.encoder(FormatSpec("json", (("a", "a.1001"),)))


_LOADED_FORMATS = """
import sys
from pathlib import Path

import prometheus_client, serial, structlog  # what these import is theirs, not sensord's

before = set(sys.modules)

import sensord.cli, sensord.cli_run
from sensord.config import load_config
from sensord.sensor import SensorRuntime

config = load_config(Path(sys.argv[1]))
runtimes = [SensorRuntime(s) for s in config.sensors]
print(" ".join(sorted(set(sys.modules) - before)))
"""

#: what only a command of the command line uses
_COMMAND_MODULES = {
    "cli_check",
    "cli_client",
    "cli_describe",
    "cli_ports",
    "cli_record",
    "cli_simulate",
    "demo",
    "overview",
    "probe",
    "reload",
    "tools",
    "workers",
}
#: what only a configuration mistake (difflib: "did you mean") or a stage with an offset and
#: a decimal scale (fractions, and decimal with it) uses
_RARELY_NEEDED = {"difflib", "fractions", "decimal"}
#: the binary protocols' modules, the binary frames' and Modbus's codecs with their parts
#: (``tests/test_line_daemon_imports.py`` runs the daemon)
_BINARY = {
    "frames",
    "frames_check",
    "frames_checksums",
    "frames_decode",
    "frames_encode",
    "frames_layout",
    "frames_stuffing",
    "presets",
    "acks",
    "modbus",
    "modbus_check",
    "modbus_device",
    "modbus_getters",
    "modbus_plan",
    "modbus_pymodbus",
    "modbus_values",
}
#: the NMEA codec's modules: ``nmea.py`` and the parts it imports
_NMEA = {
    "nmea",
    "nmea_encode",
    "nmea_fields",
    "nmea_framer",
    "nmea_layouts",
    "nmea_satellites",
    "nmea_validity",
}


@pytest.mark.parametrize(
    ("fmt", "loaded", "absent"),
    [
        ("value", {"value"}, {*_NMEA, "dsmr", "kv", "csv_lines", "json_lines", *_BINARY}),
        ("nmea", _NMEA, {"dsmr", "kv", "csv_lines", "json_lines", *_BINARY}),
    ],
)
def test_a_protocol_module_is_imported_by_the_first_sensor_that_uses_it(
    tmp_path: Path, fmt: str, loaded: set[str], absent: set[str]
) -> None:
    """The daemon's modules and a configuration of ``value`` sensors leave the NMEA and the
    other line protocols' modules unimported (their code and tables take memory on a small
    host), the modules of the other commands and what only a mistake or a rare stage
    needs; a sensor of a format imports its module."""
    config = tmp_path / "sensord.toml"
    field = '\nfield = "GGA.altitude"' if fmt == "nmea" else ""
    config.write_text(
        f'[[sensors]]\nname = "s"\nport = "sim://s"\nformat = "{fmt}"\n'
        f'[[sensors.channels]]\nname = "c"{field}\n'
    )
    done = subprocess.run(
        [sys.executable, "-c", _LOADED_FORMATS, str(config)],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,  # the tree under test, not the package installed in the environment
    )
    assert done.returncode == 0, done.stderr
    modules = set(done.stdout.split())
    formats = {name.removeprefix("sensord.formats.") for name in modules}
    assert loaded <= formats
    assert not absent & formats
    assert not {f"sensord.{name}" for name in _COMMAND_MODULES} & modules
    assert not _RARELY_NEEDED & modules


@pytest.mark.parametrize(
    ("spec", "frame", "read", "marked"),
    [
        # a TEROS 12's -9999 printed with a decimal, and a number near it that is a value
        (spec_of("value", "t", invalid=("-9999",)), b"-9999.0", {}, True),
        (spec_of("value", "t", invalid=("-9999",)), b"-9999.5", {"t": -9999.5}, False),
        (spec_of("value", "t", invalid=("-9999",)), b"-9.999e3", {}, True),
        # a DS18B20 sketch's "disconnected" as its kv, csv and JSON output print it
        (spec_of("kv", "T", "H", invalid=("-127",)), b"T=-127.00,H=45.0", {"H": 45.0}, True),
        (spec_of("csv", "0", "1", invalid=("-127",)), b"-127.00,45.0", {"1": 45.0}, True),
        (spec_of("json", "t", "h", invalid=("-127",)), b'{"t":-127,"h":45.0}', {"h": 45.0}, True),
        (spec_of("json", "t", "h", invalid=("-127",)), b'{"t":-127.0,"h":45}', {"h": 45.0}, True),
        (spec_of("json", "t", "h", invalid=("-127",)), b'{"t":"-127.00","h":1}', {"h": 1.0}, True),
        (
            spec_of("json", "t", "h", invalid=("-127",)),
            b'{"t":-126.5,"h":1}',
            {"t": -126.5, "h": 1.0},
            False,
        ),
        # with a decimal comma, the entry and the value are read with it
        (
            spec_of("csv", "0", "1", delimiter=";", decimal=",", invalid=("-9999",)),
            b"-9999,00;1,5",
            {"1": 1.5},
            True,
        ),
        # a text entry still marks its text alone
        (spec_of("value", "t", invalid=("ERR",)), b"-127.0", {"t": -127.0}, False),
    ],
)
def test_an_invalid_entry_that_is_a_number_marks_it_however_it_is_printed(
    spec: FormatSpec, frame: bytes, read: dict[str, float], marked: bool
) -> None:
    fields = dict(spec.fields)
    decode = decoder_for(spec)
    try:
        readings = decode(frame)
        failed = None
    except ParseError as exc:
        readings, failed = list(exc.kept), exc
    assert {fields[channel]: value for channel, value in readings} == read
    if marked:
        assert failed is not None
        assert failed.reason == "invalid"
    else:
        assert failed is None


# a Campbell Scientific logger's TOA5 table, as the LoggerNet manual prints one (appendix B,
# "TOA5"): quoted names and timestamps, unquoted numbers; the logger writes a value it could
# not measure as "NAN"
_TOA5_HEADER = b'"TIMESTAMP","RECORD","batt_volt_Min","PTemp"'
_TOA5_SPEC = spec_of(
    "csv",
    "batt_volt_Min",
    "PTemp",
    columns=("TIMESTAMP", "RECORD", "batt_volt_Min", "PTemp"),
    header=True,
)


def test_a_campbell_toa5_table_reads_its_quoted_header_and_cells() -> None:
    decode = decoder_for(_TOA5_SPEC)
    assert decode(_TOA5_HEADER) == []  # the header line, its names quoted
    assert decode(b'"2004-11-11 15:03:45",0,13.7,24.92') == [("ch0", 13.7), ("ch1", 24.92)]
    assert decode(b'"2004-11-11 15:04:00",1,"13.7"," 24.95 "') == [("ch0", 13.7), ("ch1", 24.95)]
    # "NAN" drops its value alone, as NAN unquoted does; "" is an empty cell
    with pytest.raises(ParseError) as caught:
        decode(b'"2004-11-11 15:04:15",2,13.7,"NAN"')
    assert caught.value.reason == "nonfinite"
    assert list(caught.value.kept) == [("ch0", 13.7)]
    assert decode(b'"2004-11-11 15:04:30",3,"",24.98') == [("ch1", 24.98)]
    # a quoted text that is no number is damage, as unquoted
    with pytest.raises(ParseError) as caught:
        decode(b'"2004-11-11 15:04:45",4,"13.x",24.9')
    assert caught.value.reason == "syntax"
    # the units line is no header and no record: syntax, which parse.ignore can name
    with pytest.raises(ParseError) as caught:
        decode(b'"TS","RN","Volts","C"')
    assert caught.value.reason == "syntax"


# -- quoted csv cells: RFC 4180 against the stdlib's csv module ---------------------------------

#: Cell texts as a device may quote them: any character but the CR and LF that end its line.
CELL_TEXT = st.text(st.characters(codec="utf-8", exclude_characters="\r\n"))


@settings(max_examples=400, deadline=None)
@given(
    st.lists(CELL_TEXT, min_size=1, max_size=6),
    st.sampled_from([",", ";", "\t", "|"]),
    st.booleans(),
)
def test_quoted_cells_are_the_stdlib_csv_reader_s(
    row: list[str], delimiter: str, quote_all: bool
) -> None:
    """A line the csv module writes splits into the cells it reads back, quoted or not."""
    out = io.StringIO()
    if quote_all:
        csv.writer(out, delimiter=delimiter, quoting=csv.QUOTE_ALL, lineterminator="").writerow(row)
    else:
        csv.writer(out, delimiter=delimiter, lineterminator="").writerow(row)  # QUOTE_MINIMAL
    line = out.getvalue()
    assert quoted_cells(line, delimiter) == next(csv.reader([line], delimiter=delimiter)) == row


@settings(max_examples=300, deadline=None)
@given(
    st.lists(CELL_TEXT, min_size=1, max_size=6),
    st.lists(st.integers(1, 4), min_size=8, max_size=8),
    st.sampled_from(["", " ", "  \r"]),
)
def test_quoted_cells_aligned_with_runs_of_spaces_are_the_texts_in_quotes(
    row: list[str], runs: list[int], end: str
) -> None:
    """With a delimiter of one space, quoted cells (spaces in them, or empty) keep their text
    whatever the runs of spaces between them and at the line's ends."""
    cells = ['"' + text.replace('"', '""') + '"' for text in row]
    line = " " * runs[0] + "".join(
        cell + " " * run for cell, run in zip(cells, runs[1:], strict=False)
    )
    assert quoted_cells(line + end, " ", aligned=True) == row


@pytest.mark.parametrize(
    ("line", "words"),
    [
        ('"Smith, J,12.3', "the quote that opens column 0 is not closed"),
        ('1,"2024-01-01 12:00:00,12.3', "the quote that opens column 1 is not closed"),
        ('"Smith"J,12.3', "column 0 is quoted but holds a quote that is neither"),
        ('"a"b"c",12.3', "column 0 is quoted but holds a quote that is neither"),
    ],
)
def test_a_line_whose_quotes_do_not_pair_is_syntax_naming_the_column(line: str, words: str) -> None:
    """A quote left open or text after a closing quote: the cells cannot be told apart, so
    the line is rejected rather than read by the wrong indexes."""
    with pytest.raises(ParseError, match=words) as caught:
        quoted_cells(line, ",")
    assert caught.value.reason == "syntax"
    parse = decoder_for(spec_of("csv", "1"))
    assert reason(parse, line.encode()) == "syntax"


@pytest.mark.parametrize(
    ("line", "cells", "column"),
    [
        ('Smith, J",12.3', ["Smith", ' J"', "12.3"], 2),
        ('12",3.5,"a,b"', ['12"', "3.5", "a,b"], 1),
        ('Temp "C",21.5', ['Temp "C"', "21.5"], 1),
    ],
)
def test_a_quote_inside_an_unquoted_cell_is_its_text(
    line: str, cells: list[str], column: int
) -> None:
    """An inch mark or a quoted unit inside a cell that does not begin with a quote: the cell's
    text, as the csv module reads it, so the line and its other columns are still read."""
    assert quoted_cells(line, ",") == cells
    assert cells == next(csv.reader([line]))
    by_index = decoder_for(spec_of("csv", str(column)))
    assert by_index(line.encode()) == [("ch0", float(cells[column]))]


def test_a_quoted_cell_holds_the_delimiter_and_leaves_the_columns_after_it_in_place() -> None:
    by_index = decoder_for(spec_of("csv", "1", "2"))
    assert by_index(b'"Smith, J",12.3,4') == [("ch0", 12.3), ("ch1", 4.0)]
    # a space-delimited logger that quotes its timestamp; its values aligned or not
    aligned = decoder_for(spec_of("csv", "1", "2", delimiter=" "))
    assert aligned(b'"2024-01-01 12:00:00"  21.5   1013.2\r') == [("ch0", 21.5), ("ch1", 1013.2)]
    # a semicolon-delimited logger with a decimal comma that quotes a text holding ";"
    european = decoder_for(spec_of("csv", "2", delimiter=";", decimal=","))
    assert european(b'"01.02.2024 12:00";"Pumpe 2; Zulauf";21,5') == [("ch0", 21.5)]
    # "" inside quotes is one quote; spaces around the quotes are not the cell's
    named = decoder_for(spec_of("csv", "value", columns=("name", "note", "value"), header=True))
    assert named(b'"probe ""A"", left", "x,y" ,7.5') == [("ch0", 7.5)]


def test_a_header_s_quoted_names_may_hold_the_delimiter() -> None:
    """A HOBOware export quotes its column names, some with commas in them; the header line
    is read as the header, and the simulator sends the names so quoted."""
    columns = ("#", "Date Time, GMT+01:00", 'Temp, "C"')
    spec = spec_of("csv", 'Temp, "C"', columns=columns, header=True)
    line = b'"#","Date Time, GMT+01:00","Temp, ""C"""'
    assert decoder_for(spec)(line) == []
    sent = codec_for("csv").header(spec)
    assert sent == b'#,"Date Time, GMT+01:00","Temp, ""C"""'
    assert sent is not None
    assert decoder_for(spec)(sent) == []
    assert decoder_for(spec)(b"1,07/19/18 10:00:00,4.558") == [("ch0", 4.558)]
