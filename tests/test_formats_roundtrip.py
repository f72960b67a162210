"""Every codec's decoder reads back what its encoder writes.

* Round trip: for every registered format, ``decoder(encoder(values))`` gives each channel its
  value, within half a unit in the last place the encoder prints (three decimals).
* Framing: a stream of encoded frames, cut into arbitrary chunks, comes out of the codec's
  framer as exactly the encoded frames.
* Damage: encoded frames with bytes changed, cut or inserted make a decoder return readings or
  raise ParseError, nothing else.
"""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sensord.errors import ParseError
from sensord.formats import FORMATS, codec_for
from sensord.formats.base import FormatSpec
from sensord.formats.blocks import envelope
from sensord.formats.nmea_fields import NMEA_FIELDS

#: Half a unit in the third decimal, plus room for the binary representation of the text.
TOLERANCE = 5e-4 + 1e-9

#: Fields read back only approximately (tests/test_formats_nmea.py): the clock offset (the time
#: to the hundredth of a second, and the host clock runs on), GSV's statistics (whole dB-Hz),
#: the satellites used in GSA sentences of constellations other than GPS (one GSA each), and
#: GSA's count of all satellites used, which the GPS sentence writes as ``used_gps``.
NMEA_APPROXIMATE = {
    *(f for f in NMEA_FIELDS if f.endswith(".clock_offset") or f.startswith("GSV.")),
    *(f for f in NMEA_FIELDS if f.startswith("GSA.used_") and f != "GSA.used_gps"),
    "GSA.satellites_used",
}
#: The converted wind speeds: they follow the speed in the sentence's own unit (see the last
#: spec).
NMEA_CONVERTED = {"MWV.wind_speed_mps", "MWV.true_wind_speed_mps"}
#: Every NMEA field but the converted wind speeds and the approximate ones, and five
#: transducers: two XDR sentences.
NMEA_ALL = (
    *(f for f in NMEA_FIELDS if f not in NMEA_CONVERTED and f not in NMEA_APPROXIMATE),
    *("XDR.T0", "XDR.T1", "XDR.T2", "XDR.T3", "XDR.Barometer"),
)

SPECS = [
    FormatSpec("value", (("t", "T"),)),
    FormatSpec(
        "value", (("t", "T"),), pattern=r"^T[=:]\s*(\S+)\s*(?:C|degC)$", example="T=1.000 C"
    ),
    FormatSpec("value", (("t", "T"),), pattern=r"<([^>]*)>", example="[7] <21.500> ok"),
    FormatSpec("kv", (("t", "T"), ("h", "H"))),
    FormatSpec("kv", (("t", "T"), ("h", "H"), ("t2", "T")), pair_separator="; ", kv_separator=":"),
    FormatSpec("csv", (("t", "T"), ("h", "H")), columns=("time", "T", "H"), header=True),
    FormatSpec("csv", (("t", "3"), ("h", "1")), delimiter="\t"),
    FormatSpec("json", (("x", "a.b"), ("y", "list.1.v"), ("z", "T"))),
    FormatSpec("nmea", tuple((f, f) for f in NMEA_ALL)),
    FormatSpec("nmea", (("w", "MWV.wind_speed_mps"), ("d", "DBT.depth"))),
    FormatSpec("nmea", (("w", "MWV.true_wind_speed_mps"), ("a", "MWV.true_wind_angle"))),
    FormatSpec(
        "nmea",
        (("p", "XDR.P:STNP"), ("t", "XDR.AirTemp"), ("h", "XDR.Humidity")),
        channel_units=(("p", ("B", "P")), ("t", ("C",))),
    ),
    FormatSpec("dsmr", (("t1", "1-0:1.8.1"), ("p", "1-0:1.7.0"), ("t1b", "1-0:1.8.1"))),
    FormatSpec("dsmr", (("t", "1-0:1.8.0*255"), ("p", "1-0:1.7.0"), ("b", "1-0:1.8.0*03"))),
]


def test_every_format_has_round_trip_specs() -> None:
    """Every line protocol; binary frames have their own round trips (test_formats_frames)."""
    assert {spec.format for spec in SPECS} == {f for f in FORMATS if not codec_for(f).binary}
    for spec in SPECS:
        assert codec_for(spec.format).check(spec) == [], spec


plain = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
#: NMEA fields printed as whole numbers (fix quality 0, 7 manual input and 8 simulator mode
#: would hide the position fields; with a fix of quality 1 to 5, 0 satellites in use is no
#: count).
WHOLE = {
    "GGA.fix_quality": st.integers(min_value=1, max_value=6),
    "GGA.satellites": st.integers(min_value=1, max_value=24),
    "GSA.fix_mode": st.integers(min_value=2, max_value=3),
    "GSA.used_gps": st.integers(min_value=0, max_value=12),
    "GNS.satellites": st.integers(min_value=0, max_value=99),
}
#: DOPs: 0 is no DOP (a receiver that computes none writes it), and the encoder prints three
#: decimals.
DOPS = st.floats(min_value=0.001, max_value=99.99)
DOP_FIELDS = {"GGA.hdop", "GSA.pdop", "GSA.hdop", "GSA.vdop", "GNS.hdop"}
COORDINATES = {
    "latitude": st.floats(min_value=-89.9, max_value=89.9),
    "longitude": st.floats(min_value=-179.9, max_value=179.9),
}


def field_values(field: str) -> st.SearchStrategy[float]:
    if field in WHOLE:
        return WHOLE[field].map(float)
    if field in DOP_FIELDS:
        return DOPS
    return COORDINATES.get(field.partition(".")[2], plain)


@st.composite
def spec_and_values(draw: st.DrawFn) -> tuple[FormatSpec, dict[str, float]]:
    spec = draw(st.sampled_from(SPECS))
    fields = dict.fromkeys(field for _, field in spec.fields)
    values = {field: draw(field_values(field), label=field) for field in fields}
    return spec, values


def decode_all(spec: FormatSpec, frames: list[bytes]) -> dict[str, float]:
    decoder = codec_for(spec.format).decoder(spec)
    readings: dict[str, float] = {}
    for frame in frames:
        for channel, value in decoder(frame):
            assert channel not in readings, f"{channel} decoded twice"
            readings[channel] = value
    return readings


@settings(max_examples=400, deadline=None)
@given(spec_and_values(), st.floats(min_value=0.0, max_value=86_399.99))
def test_decoder_reads_back_what_the_encoder_writes(
    case: tuple[FormatSpec, dict[str, float]], time_of_day_s: float
) -> None:
    spec, values = case
    frames = codec_for(spec.format).encoder(spec)(values, time_of_day_s)
    assert frames
    for frame in frames:
        assert b"\n" not in frame
        assert b"\r" not in frame
    readings = decode_all(spec, frames)
    expected = {channel: values[field] for channel, field in spec.fields}
    assert readings.keys() == expected.keys()
    for channel, value in expected.items():
        assert readings[channel] == pytest.approx(value, abs=TOLERANCE, rel=1e-12), channel


def test_round_trip_fails_for_a_wrong_value() -> None:
    """The comparison above can fail: a value off by a unit in the third decimal is caught."""
    spec = SPECS[3]
    [frame] = codec_for("kv").encoder(spec)({"T": 1.0, "H": 2.0}, 0.0)
    readings = decode_all(spec, [frame.replace(b"1.000", b"1.001")])
    assert readings["t"] != pytest.approx(1.0, abs=TOLERANCE, rel=1e-12)


@settings(max_examples=200, deadline=None)
@given(
    st.lists(spec_and_values(), min_size=1, max_size=8),
    st.sampled_from([b"\n", b"\r\n", b"\x03"]),
    st.lists(st.integers(min_value=0, max_value=4000), max_size=10),
)
def test_framer_returns_the_encoded_frames_whatever_the_chunking(
    cases: list[tuple[FormatSpec, dict[str, float]]], terminator: bytes, cuts: list[int]
) -> None:
    spec = cases[0][0]
    codec = codec_for(spec.format)
    encode = codec.encoder(spec)
    header = codec.header(spec)
    frames = [] if header is None else [header]
    stream = b"".join(frame + terminator for frame in frames)
    for t_s, (_, values) in enumerate(cases):
        # the values of later cases are drawn for their own specs: keep the ones this spec has
        own = {field: values.get(field, 1.5) for _, field in spec.fields}
        sample = encode(own, float(t_s))
        frames += sample
        if codec.block is None:
            stream += b"".join(frame + terminator for frame in sample)
        else:  # a sample's lines in one block, as the simulator sends them
            stream += envelope(codec.block, sample)
    framer = codec.framer(spec, terminator, 512)
    got: list[bytes] = []
    start = 0
    for point in [*sorted({min(cut, len(stream)) for cut in cuts}), len(stream)]:
        got += framer.feed(stream[start:point])
        start = point
    assert got == frames
    assert (framer.frames, framer.overlong) == (len(frames), 0)


@settings(max_examples=400, deadline=None)
@given(spec_and_values(), st.data())
def test_damaged_frames_give_readings_or_parse_error(
    case: tuple[FormatSpec, dict[str, float]], data: st.DataObject
) -> None:
    spec, values = case
    codec = codec_for(spec.format)
    decoder = codec.decoder(spec)
    for frame in codec.encoder(spec)(values, 0.0):
        damaged = bytearray(frame)
        for _ in range(data.draw(st.integers(min_value=1, max_value=4), label="edits")):
            at = data.draw(st.integers(min_value=0, max_value=len(damaged)), label="at")
            edit = data.draw(st.sampled_from(["replace", "delete", "insert", "cut"]), label="edit")
            byte = data.draw(st.sampled_from([0, 0x2C, 0x2A, 0x2E, 0x2D, 0xFF, 0x7B, 0x30]))
            if edit == "cut":
                del damaged[at:]
            elif edit == "insert":
                damaged.insert(at, byte)
            elif at < len(damaged):
                if edit == "delete":
                    del damaged[at]
                else:
                    damaged[at] = byte
        try:
            readings = decoder(bytes(damaged))
        except ParseError:
            continue
        channels = {channel for channel, _ in spec.fields}
        for channel, value in readings:
            assert channel in channels
            assert type(value) is float
            assert math.isfinite(value)
