"""sensord.filter: inclusive bounds, non-finite values, exact drop accounting."""

from __future__ import annotations

import itertools
import math
import sys
from collections.abc import Generator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sensord.filter import ThresholdFilter
from sensord.types import Reading

BIG = sys.float_info.max


def reading(value: float, i: int = 0) -> Reading:
    return Reading("boiler", "temperature", value, float(i), 1_700_000_000.0 + i)


def readings(values: list[float]) -> list[Reading]:
    return [reading(v, i) for i, v in enumerate(values)]


any_values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([math.nan, math.inf, -math.inf, 0.0, -0.0, BIG, -BIG]),
)
bounds = st.one_of(st.none(), st.floats(min_value=-1e6, max_value=1e6))


@st.composite
def ordered_bounds(draw: st.DrawFn) -> tuple[float | None, float | None]:
    lo, hi = draw(bounds), draw(bounds)
    if lo is not None and hi is not None and lo > hi:
        lo, hi = hi, lo
    return lo, hi


@settings(max_examples=200, deadline=None)
@given(values=st.lists(any_values, max_size=60), limits=ordered_bounds())
def test_keeps_exactly_the_finite_values_inside_inclusive_bounds_in_order(
    values: list[float], limits: tuple[float | None, float | None]
) -> None:
    lo, hi = limits
    stage = ThresholdFilter(lo, hi)
    batch = readings(values)
    out = list(stage.process(batch))

    def inside(v: float) -> bool:
        return math.isfinite(v) and (lo is None or v >= lo) and (hi is None or v <= hi)  # inclusive

    expected = [r for r in batch if inside(r.value)]
    assert len(out) == len(expected)
    assert all(a is b for a, b in zip(out, expected, strict=True))  # same objects, same order
    nonfinite = sum(not math.isfinite(v) for v in values)
    assert stage.dropped == {
        "range": len(values) - len(expected) - nonfinite,
        "nonfinite": nonfinite,
        "error": 0,
    }
    assert stage.records_in == len(values)
    assert stage.records_out == len(expected)
    assert stage.records_in == stage.records_out + sum(stage.dropped.values())
    assert stage.dropped_total == len(values) - len(expected)


def test_bounds_are_inclusive() -> None:
    stage = ThresholdFilter(-10.0, 10.0)
    values = [
        -10.0,
        10.0,
        math.nextafter(-10.0, -math.inf),
        math.nextafter(10.0, math.inf),
        0.0,
        math.nextafter(-10.0, 0.0),
    ]
    out = [r.value for r in stage.process(readings(values))]
    assert out == [-10.0, 10.0, 0.0, math.nextafter(-10.0, 0.0)]
    assert stage.dropped == {"range": 2, "nonfinite": 0, "error": 0}


def test_equal_bounds_keep_only_that_value() -> None:
    stage = ThresholdFilter(5, 5)
    out = [r.value for r in stage.process(readings([4.999, 5.0, 5.001, 5]))]
    assert out == [5.0, 5.0]


def test_non_finite_values_are_dropped_as_nonfinite_even_without_bounds() -> None:
    stage = ThresholdFilter()
    values = [math.nan, BIG, math.inf, -BIG, -math.inf, float("nan"), 1e-320]
    out = [r.value for r in stage.process(readings(values))]
    assert out == [BIG, -BIG, 1e-320]
    assert stage.dropped == {"range": 0, "nonfinite": 4, "error": 0}


def test_one_sided_bounds() -> None:
    low_only = ThresholdFilter(min=0.0)
    assert [r.value for r in low_only.process(readings([-1.0, 0.0, BIG]))] == [0.0, BIG]
    high_only = ThresholdFilter(max=0.0)
    assert [r.value for r in high_only.process(readings([-BIG, 0.0, 1e-300]))] == [-BIG, 0.0]
    assert low_only.dropped["range"] == high_only.dropped["range"] == 1


@pytest.mark.parametrize(
    ("lo", "hi"),
    [
        (1.0, 0.0),
        (math.nan, 1.0),
        (0.0, math.nan),
        (-math.inf, 0.0),
        (0.0, math.inf),
        (1e309, None),
    ],
)
def test_invalid_bounds_are_rejected(lo: float | None, hi: float | None) -> None:
    with pytest.raises(ValueError, match="filter bounds must be finite with min <= max"):
        ThresholdFilter(lo, hi)


@settings(max_examples=200, deadline=None)
@given(
    values=st.lists(any_values, max_size=60),
    cuts=st.lists(st.integers(min_value=0, max_value=60), max_size=8),
    limits=ordered_bounds(),
)
def test_batches_give_the_same_output_and_counts_as_one_call(
    values: list[float], cuts: list[int], limits: tuple[float | None, float | None]
) -> None:
    batch = readings(values)
    whole_stage = ThresholdFilter(*limits)
    whole = list(whole_stage.process(batch))
    stage = ThresholdFilter(*limits)
    out: list[Reading] = []
    bounds_ = sorted({0, len(batch), *(min(c, len(batch)) for c in cuts)})
    for start, stop in itertools.pairwise(bounds_):
        out.extend(stage.process(batch[start:stop]))
    assert out == whole
    assert stage.dropped == whole_stage.dropped
    assert (stage.records_in, stage.records_out) == (
        whole_stage.records_in,
        whole_stage.records_out,
    )


def test_counts_are_settled_when_the_consumer_stops_early() -> None:
    stage = ThresholdFilter(0, 10)
    gen = stage.process(readings([1.0, 50.0, math.nan, 2.0, 3.0, 4.0]))
    assert isinstance(gen, Generator)
    assert next(gen).value == 1.0
    assert next(gen).value == 2.0
    gen.close()
    # 4 records entered, 2 left, 2 were dropped; the last two were never pulled
    assert (stage.records_in, stage.records_out) == (4, 2)
    assert stage.dropped == {"range": 1, "nonfinite": 1, "error": 0}


def test_a_record_the_stage_fails_on_is_counted_as_error() -> None:
    stage = ThresholdFilter(0, 10)
    bad = Reading("boiler", "temperature", "7", 0.0, 0.0)  # type: ignore[arg-type]
    gen = stage.process([reading(1.0), bad, reading(2.0)])
    assert next(gen).value == 1.0
    with pytest.raises(TypeError):
        next(gen)
    assert (stage.records_in, stage.records_out) == (2, 1)
    assert stage.dropped == {"range": 0, "nonfinite": 0, "error": 1}
    assert stage.records_in == stage.records_out + stage.dropped_total


def test_an_upstream_error_is_not_counted_by_the_filter() -> None:
    def upstream() -> object:
        yield reading(1.0)
        raise OSError("device gone")

    stage = ThresholdFilter()
    with pytest.raises(OSError, match="device gone"):
        list(stage.process(upstream()))  # type: ignore[arg-type]
    assert (stage.records_in, stage.records_out, stage.dropped_total) == (1, 1, 0)
