"""sensord.normalize: the affine transform, unit conversions, min-max scaling and clamping."""

from __future__ import annotations

import itertools
import math
import re
from fractions import Fraction

import pytest
from harness.chain import normalized
from hypothesis import given, settings
from hypothesis import strategies as st

from sensord.normalize import Normalize
from sensord.pipeline import Chain
from sensord.types import Reading
from sensord.units import UNITS, conversion, unit_dimension
from sensord.window import Window


def convert(value: float, from_unit: str, to_unit: str) -> float:
    a, b = conversion(from_unit, to_unit)
    return value * a + b


EPS_TOL = 1e-12  # a few hundred ulps: the composed a*x + b rounds differently than step by step


def reading(value: float, i: int = 0) -> Reading:
    return Reading("mast", "wind", value, 10.0 + i, 1_700_000_000.0 + i)


# Inputs near the subnormal range lose digits when a conversion divides them (1 hPa = 1e-3
# bar); that is the float format, not the transform, so they stay out of the properties.
values = st.floats(min_value=-1e6, max_value=1e6).filter(lambda v: v == 0 or abs(v) > 1e-200)
scales = st.one_of(
    st.floats(min_value=1e-3, max_value=1e3), st.floats(min_value=-1e3, max_value=-1e-3)
)
offsets = st.floats(min_value=-1e3, max_value=1e3)
units = st.sampled_from(sorted(UNITS))


@st.composite
def unit_pairs(draw: st.DrawFn) -> tuple[str, str]:
    first = draw(units)
    same = sorted(u for u in UNITS if unit_dimension(u) == unit_dimension(first))
    return first, draw(st.sampled_from(same))


def stepwise(
    x: float,
    scale: float,
    offset: float,
    pair: tuple[str, str] | None,
    limits: tuple[float, float] | None,
) -> tuple[float, float]:
    """The transform one step at a time, and a bound on the magnitudes the rounding error
    is relative to (so the tolerance follows the conditioning of the inputs)."""
    y = scale * x + offset
    size = abs(scale * x) + abs(offset)
    if pair is not None:
        factor = UNITS[pair[0]][1] / UNITS[pair[1]][1]
        y = convert(y, *pair)
        size = size * abs(factor) + abs(convert(0.0, *pair))
    if limits is not None:
        lo, hi = limits
        y = (y - lo) / (hi - lo)
        size = (size + abs(lo)) / (hi - lo)
    return y, size


@settings(max_examples=200, deadline=None)
@given(x=values, scale=scales, offset=offsets)
def test_scale_and_offset_is_the_affine_formula(x: float, scale: float, offset: float) -> None:
    stage = Normalize(scale, offset=offset)
    assert (stage.a / stage.d, stage.b) == (scale, offset)
    if stage.d == 1.0:
        assert normalized(stage, x) == x * scale + offset
    else:  # a scale of 1 / n divides by n
        assert stage.a == 1.0
        assert stage.d == round(1.0 / scale)
        assert normalized(stage, x) == (x + stage.bd) / stage.d
        assert stage.bd == float(Fraction(repr(offset)) * int(stage.d))


@pytest.mark.parametrize(
    ("raw", "scale", "offset", "shown"),
    [
        (2301.0, 0.1, 0.0, 230.1),  # a PZEM's voltage in tenths of a volt
        (68.0, 0.1, 0.0, 6.8),  # a soil sensor's pH
        (95.0, 0.01, 0.0, 0.95),  # a power factor in hundredths
        (1007.0, 0.001, 0.0, 1.007),
        (12345.0, 0.001, 0.0, 12.345),  # a VE.Direct voltage in mV
        (-205.0, 0.1, 0.0, -20.5),
        (73.0, -0.1, 0.0, -7.3),
        # a Deye inverter's temperatures, (raw - 1000) / 10 (kellerza/sunsynk's TempSensor)
        (1253.0, 0.1, -100.0, 25.3),
        (1001.0, 0.1, -100.0, 0.1),
        (586.0, 0.1, -100.0, -41.4),
        (2981.0, 0.1, -273.1, 25.0),  # tenths of a kelvin, in degrees Celsius
        (4125.0, 0.01, 0.25, 41.5),
        (29815.0, 0.01, -273.15, 25.0),  # hundredths of a kelvin, in degrees Celsius
        (-3.0, 0.01, -273.15, -273.18),
    ],
)
def test_a_decimal_scale_gives_the_value_as_the_device_shows_it(
    raw: float, scale: float, offset: float, shown: float
) -> None:
    assert normalized(Normalize(scale, offset=offset), raw) == shown
    chain = Chain.build(scale=scale, offset=offset)  # the fused loop of a chunk's values
    chain.drain_values([raw], "s", "c", 1.0, 1.0)
    window = chain.stages[-1]
    assert isinstance(window, Window)
    assert window.last is not None
    assert window.last.reading.value == shown
    chain.drain_value(raw, "s", "c", 2.0, 2.0)  # one binary frame's value
    assert window.last.reading.value == shown


@given(
    raw=st.integers(-(10**9), 10**9),
    digits=st.integers(1, 4),
    offset_units=st.integers(-(10**6), 10**6),
)
def test_a_decimal_scale_and_offset_give_the_nearest_float_of_the_decimal(
    raw: int, digits: int, offset_units: int
) -> None:
    """``raw * 10**-digits + offset`` with an offset of that many decimals is the float
    nearest the exact decimal (273.15 at a scale of 0.01 too, whose float times 100 is
    27314.999999999996), whatever the path (the stage, a chunk's fused loop, one frame's
    value)."""
    n = 10**digits
    offset = offset_units / n  # as the configuration's decimal reads
    exact = float(Fraction(raw, n) + Fraction(offset_units, n))
    assert normalized(Normalize(1 / n, offset=offset), float(raw)) == exact
    chain = Chain.build(scale=1 / n, offset=offset)
    window = chain.stages[-1]
    assert isinstance(window, Window)
    chain.drain_values([float(raw)], "s", "c", 1.0, 1.0)
    assert window.last is not None
    assert window.last.reading.value == exact
    chain.drain_value(float(raw), "s", "c", 2.0, 2.0)
    assert window.last.reading.value == exact


@settings(max_examples=200, deadline=None)
@given(
    x=values,
    scale=scales,
    offset=offsets,
    pair=st.one_of(st.none(), unit_pairs()),
    limits=st.one_of(
        st.none(),
        st.tuples(st.floats(-1e4, 1e4), st.floats(1e-2, 1e4)).map(lambda t: (t[0], t[0] + t[1])),
    ),
)
def test_the_composed_transform_equals_the_steps(
    x: float,
    scale: float,
    offset: float,
    pair: tuple[str, str] | None,
    limits: tuple[float, float] | None,
) -> None:
    stage = Normalize(
        scale,
        offset=offset,
        from_unit=pair[0] if pair else None,
        to_unit=pair[1] if pair else None,
        range_min=limits[0] if limits else None,
        range_max=limits[1] if limits else None,
    )
    expected, size = stepwise(x, scale, offset, pair, limits)
    assert math.isclose(normalized(stage, x), expected, rel_tol=EPS_TOL, abs_tol=EPS_TOL * size)
    # the stage does the same arithmetic on every reading
    (out,) = stage.process([reading(x)])
    assert out.value == normalized(stage, x)


@pytest.mark.parametrize(
    ("value", "from_unit", "to_unit", "expected"),
    [
        (100.0, "celsius", "fahrenheit", 212.0),
        (0.0, "celsius", "fahrenheit", 32.0),
        (-40.0, "celsius", "fahrenheit", -40.0),
        (212.0, "fahrenheit", "celsius", 100.0),
        (0.0, "celsius", "kelvin", 273.15),
        (0.0, "kelvin", "celsius", -273.15),
        (32.0, "fahrenheit", "kelvin", 273.15),
        (1.0, "knot", "m/s", 1852.0 / 3600.0),
        (1.0, "m/s", "knot", 3600.0 / 1852.0),
        (36.0, "km/h", "m/s", 10.0),
        (1.0, "mph", "m/s", 0.44704),
        (1.0, "bar", "pa", 100_000.0),
        (1013.25, "hpa", "mbar", 1013.25),
        (1.0, "kpa", "hpa", 10.0),
        (1.0, "ft", "m", 0.3048),
        (12.0, "in", "ft", 1.0),
        (1.0, "nmi", "km", 1.852),
        (50.0, "percent", "fraction", 0.5),
        (1500.0, "mv", "v", 1.5),
        (7.0, "m", "m", 7.0),
    ],
)
def test_known_conversions(value: float, from_unit: str, to_unit: str, expected: float) -> None:
    assert convert(value, from_unit, to_unit) == pytest.approx(expected, rel=1e-12, abs=1e-12)
    stage = Normalize(from_unit=from_unit, to_unit=to_unit)
    assert normalized(stage, value) == pytest.approx(expected, rel=1e-12, abs=1e-12)


@settings(max_examples=200, deadline=None)
@given(x=values, pair=unit_pairs())
def test_conversions_round_trip(x: float, pair: tuple[str, str]) -> None:
    there = convert(x, *pair)
    back = convert(there, pair[1], pair[0])
    # kelvin <-> celsius adds 273.15: the error is relative to that offset, not to x alone
    size = abs(x) + abs(convert(0.0, *pair)) + abs(there)
    assert math.isclose(back, x, rel_tol=EPS_TOL, abs_tol=EPS_TOL * size)


@settings(max_examples=100, deadline=None)
@given(x=st.floats(-500, 5000), via=st.sampled_from(["celsius", "fahrenheit", "kelvin"]))
def test_temperature_round_trips_through_every_scale(x: float, via: str) -> None:
    c_to_f = convert(x, "celsius", "fahrenheit")
    f_to_k = convert(c_to_f, "fahrenheit", via)
    back = convert(f_to_k, via, "celsius")
    assert math.isclose(back, x, rel_tol=EPS_TOL, abs_tol=1e-9)


@pytest.mark.parametrize(("a", "b"), [("celsius", "pa"), ("knot", "m"), ("percent", "v")])
def test_conversion_across_dimensions_is_rejected(a: str, b: str) -> None:
    with pytest.raises(ValueError, match=f"cannot convert .*\\({a}\\) to .*\\({b}\\)"):
        convert(1.0, a, b)
    with pytest.raises(ValueError, match="cannot convert"):
        Normalize(from_unit=a, to_unit=b)


@settings(max_examples=200, deadline=None)
@given(
    lo=st.floats(-1e4, 1e4),
    width=st.floats(1e-2, 1e4),
    scale=scales,
    offset=offsets,
)
def test_min_max_maps_the_range_onto_zero_and_one(
    lo: float, width: float, scale: float, offset: float
) -> None:
    hi = lo + width
    assert lo < hi
    stage = Normalize(range_min=lo, range_max=hi)
    tol = EPS_TOL * (abs(lo) + abs(hi)) / (hi - lo)
    assert math.isclose(normalized(stage, lo), 0.0, abs_tol=tol)
    assert math.isclose(normalized(stage, hi), 1.0, rel_tol=EPS_TOL, abs_tol=tol)
    assert math.isclose(normalized(stage, (lo + hi) / 2), 0.5, rel_tol=EPS_TOL, abs_tol=tol)
    # with scale/offset first: the raw value that becomes lo maps to 0
    scaled = Normalize(scale, offset=offset, range_min=lo, range_max=hi)
    raw_lo, raw_hi = (lo - offset) / scale, (hi - offset) / scale
    size = (abs(lo) + abs(hi) + abs(offset)) / (hi - lo)
    assert math.isclose(normalized(scaled, raw_lo), 0.0, abs_tol=1e-11 * size)
    assert math.isclose(normalized(scaled, raw_hi), 1.0, rel_tol=1e-11, abs_tol=1e-11 * size)


def test_min_max_of_a_typical_range_is_exact() -> None:
    stage = Normalize(range_min=0.0, range_max=100.0)
    assert [normalized(stage, v) for v in (0.0, 25.0, 100.0, 150.0, -50.0)] == [
        0.0,
        0.25,
        1.0,
        1.5,
        -0.5,
    ]


def test_clamp_limits_the_result_to_the_unit_interval() -> None:
    stage = Normalize(range_min=-40.0, range_max=60.0, clamp=True)
    assert normalized(stage, -1e9) == 0.0
    assert normalized(stage, -40.0) == 0.0
    assert normalized(stage, 10.0) == 0.5
    assert normalized(stage, 60.0) == 1.0
    assert normalized(stage, 1e9) == 1.0
    out = [r.value for r in stage.process([reading(v) for v in (-100.0, 10.0, 100.0)])]
    assert out == [0.0, 0.5, 1.0]


def test_unit_conversion_then_min_max_with_clamp() -> None:
    # Fahrenheit readings scaled so that 0 C -> 0 and 100 C -> 1
    stage = Normalize(
        from_unit="fahrenheit", to_unit="celsius", range_min=0.0, range_max=100.0, clamp=True
    )
    assert normalized(stage, 32.0) == pytest.approx(0.0, abs=1e-12)
    assert normalized(stage, 212.0) == pytest.approx(1.0)
    assert normalized(stage, 122.0) == pytest.approx(0.5)
    assert normalized(stage, -100.0) == 0.0
    assert normalized(stage, 500.0) == 1.0


@settings(max_examples=200, deadline=None)
@given(x=values, lo=st.floats(-1e3, 1e3), width=st.floats(1e-1, 1e3))
def test_clamped_output_is_always_in_the_unit_interval(x: float, lo: float, width: float) -> None:
    stage = Normalize(range_min=lo, range_max=lo + width, clamp=True)
    unclamped = normalized(Normalize(range_min=lo, range_max=lo + width), x)
    y = normalized(stage, x)
    assert 0.0 <= y <= 1.0
    assert y == min(1.0, max(0.0, unclamped))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scale": 0.0}, "scale must not be 0"),
        ({"from_unit": "celsius"}, "from_unit and to_unit go together"),
        ({"to_unit": "kelvin"}, "from_unit and to_unit go together"),
        ({"range_min": 0.0}, "range_min < range_max are both needed"),
        ({"range_min": 1.0, "range_max": 1.0}, "range_min < range_max are both needed"),
        ({"range_min": 2.0, "range_max": 1.0}, "range_min < range_max are both needed"),
        ({"clamp": True}, "clamp needs range_min and range_max"),
    ],
)
def test_invalid_parameters_are_rejected(kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=f"^{re.escape(message)}$"):
        Normalize(**kwargs)  # type: ignore[arg-type]


def test_unknown_unit_is_a_key_error() -> None:
    with pytest.raises(KeyError):
        Normalize(from_unit="furlong", to_unit="m")


@pytest.mark.parametrize("clamp", [False, True])
def test_process_makes_new_readings_and_never_drops(clamp: bool) -> None:
    stage = Normalize(2.0, offset=1.0, range_min=0.0, range_max=10.0, clamp=clamp)
    batch = [reading(v, i) for i, v in enumerate([-3.0, 0.0, 2.0, 4.5, 100.0, math.nan])]
    out = list(stage.process(batch))
    assert len(out) == len(batch)
    for before, after in zip(batch, out, strict=True):
        assert after is not before
        assert (after.sensor, after.channel, after.monotonic_s, after.wall_s) == (
            before.sensor,
            before.channel,
            before.monotonic_s,
            before.wall_s,
        )
    assert [r.value for r in out[:5]] == [normalized(stage, r.value) for r in batch[:5]]
    assert math.isnan(out[5].value)  # filtering is the filter's job
    assert stage.records_in == stage.records_out == len(batch)
    assert stage.dropped == {"nonfinite": 0, "error": 0}
    assert not stage.may_overflow  # no finite input can leave the float range here
    assert batch[0].value == -3.0  # the input readings are left alone


@settings(max_examples=100, deadline=None)
@given(
    xs=st.lists(values, max_size=50),
    cuts=st.lists(st.integers(min_value=0, max_value=50), max_size=6),
    clamp=st.booleans(),
)
def test_batches_give_the_same_output_as_one_call(
    xs: list[float], cuts: list[int], clamp: bool
) -> None:
    batch = [reading(x, i) for i, x in enumerate(xs)]
    whole = list(
        Normalize(3.0, offset=-2.0, range_min=-10.0, range_max=10.0, clamp=clamp).process(batch)
    )
    stage = Normalize(3.0, offset=-2.0, range_min=-10.0, range_max=10.0, clamp=clamp)
    out: list[Reading] = []
    bounds = sorted({0, len(batch), *(min(c, len(batch)) for c in cuts)})
    for start, stop in itertools.pairwise(bounds):
        out.extend(stage.process(batch[start:stop]))
    assert out == whole
    assert stage.records_in == stage.records_out == len(xs)


def test_a_record_the_stage_fails_on_is_counted_as_error() -> None:
    stage = Normalize(2.0)
    bad = Reading("mast", "wind", None, 0.0, 0.0)  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        list(stage.process([reading(1.0), bad, reading(2.0)]))
    assert (stage.records_in, stage.records_out) == (2, 1)
    assert stage.dropped == {"nonfinite": 0, "error": 1}


def test_results_beyond_the_float_range_are_dropped_as_nonfinite() -> None:
    stage = Normalize(10.0)
    assert stage.may_overflow
    out = list(stage.process([reading(v, i) for i, v in enumerate([1.0, 1e308, -1e308, 2.0])]))
    assert [r.value for r in out] == [10.0, 20.0]
    assert stage.dropped == {"nonfinite": 2, "error": 0}
    assert stage.records_in == stage.records_out + 2


def test_input_bound_skips_the_overflow_check_when_it_cannot_happen() -> None:
    assert not Normalize(10.0, input_bound=1e6).may_overflow
    assert Normalize(10.0, input_bound=1e308).may_overflow
    assert not Normalize(1e300, range_min=0.0, range_max=1.0, clamp=True).may_overflow


def test_transforms_outside_the_float_range_are_refused() -> None:
    with pytest.raises(ValueError, match="outside the float range"):
        Normalize(1e308, from_unit="km", to_unit="mm")
    with pytest.raises(ValueError, match="outside the float range"):
        Normalize(1.0, range_min=-1e308, range_max=1e308)


@pytest.mark.parametrize(
    "stage",
    [
        Normalize(2.0),  # the plain path
        Normalize(2.0, range_min=0.0, range_max=10.0, clamp=True),  # the clamping path
        Normalize(1e300),  # the path that checks for overflow
    ],
    ids=["plain", "clamp", "overflow-checked"],
)
def test_every_path_keeps_the_reading_s_identity_and_times(stage: Normalize) -> None:
    readings = [Reading("tank", "level", float(i), 100.0 + i, 1.7e9 + i) for i in range(3)]
    out = list(stage.process(readings))
    assert [(r.sensor, r.channel, r.monotonic_s, r.wall_s) for r in out] == [
        (r.sensor, r.channel, r.monotonic_s, r.wall_s) for r in readings
    ]
    assert [r.value for r in out] == [normalized(stage, r.value) for r in readings]


def test_overflow_check_covers_a_large_offset() -> None:
    # |a| * bound alone is finite, the offset takes the sum past the float range
    stage = Normalize(1.0, offset=1e308, input_bound=1e308)
    assert stage.may_overflow
    out = list(stage.process([Reading("s", "v", 1e308, 0.0, 0.0), Reading("s", "v", -1e308, 1, 1)]))
    assert [r.value for r in out] == [0.0]
    assert stage.dropped == {"nonfinite": 1, "error": 0}


@pytest.mark.parametrize("scale", [1e-310, 5e-324])
def test_a_scale_too_small_to_invert_is_a_multiplier(scale: float) -> None:
    """``1 / scale`` beyond the float range: no division, and no crash building the stage."""
    stage = Normalize(scale)
    assert (stage.a, stage.d) == (scale, 1.0)
    assert normalized(stage, 1e300) == 1e300 * scale


def test_an_offset_beyond_what_its_product_can_hold_builds_a_stage_that_drops() -> None:
    """An offset of 1e308 at a scale of 0.1: the offset times the divisor is beyond the
    float range, the stage is built all the same, and its results are dropped as
    nonfinite."""
    stage = Normalize(0.1, offset=1e308)
    assert stage.may_overflow
    assert list(stage.process([reading(1.0)])) == []
    assert stage.dropped["nonfinite"] == 1
