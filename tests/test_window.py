"""sensord.window: sliding statistics against a naive recomputation of every window."""

from __future__ import annotations

import itertools
import math
import random
import threading
import time
from collections.abc import Iterator, Sequence

import pytest
from harness.chain import add
from hypothesis import given, settings
from hypothesis import strategies as st

from sensord.pipeline import Chain
from sensord.types import Reading, WindowStats
from sensord.window import MAX_WINDOW_SIZE, Window

# -- the reference -------------------------------------------------------------------------------


def naive_window(
    values: list[float], times: list[float], size: int, time_s: float | None
) -> list[float]:
    """The readings a window of ``size`` / ``time_s`` holds after the last of ``values``."""
    window = list(zip(values[-size:], times[-size:], strict=True))
    if time_s is not None:
        newest = times[-1]
        window = [(v, t) for v, t in window if t >= newest - time_s]
    return [v for v, _ in window]


def naive_stats(window: list[float]) -> tuple[int, float, float, float, float]:
    """count, mean, min, max and population stddev, each computed from scratch (exactly
    rounded sums, two passes)."""
    n = len(window)
    mean = math.fsum(window) / n
    variance = math.fsum((x - mean) * (x - mean) for x in window) / n
    return n, mean, min(window), max(window), math.sqrt(variance)


def assert_matches_naive(
    got: WindowStats, values: list[float], times: list[float], size: int, time_s: float | None
) -> None:
    window = naive_window(values, times, size, time_s)
    count, mean, lo, hi, stddev = naive_stats(window)
    assert got.count == count
    assert got.min == lo
    assert got.max == hi
    # The window computes its statistics as the reference does (exactly rounded sums, two
    # passes), so they agree to rounding: the tolerance only covers a run of equal values,
    # whose mean the window gives exactly and the reference to the last bit of n * x / n.
    scale = max(abs(lo), abs(hi))
    assert math.isclose(got.mean, mean, rel_tol=1e-12, abs_tol=1e-12 * scale), (got.mean, mean)
    assert math.isclose(got.stddev, stddev, rel_tol=1e-12, abs_tol=1e-12 * scale), (
        got.stddev,
        stddev,
    )


def run_and_check(
    stream: list[tuple[float, float]], size: int, time_s: float | None
) -> list[WindowStats]:
    window = Window(size, time_s)
    values: list[float] = []
    times: list[float] = []
    now = 0.0
    out = []
    for value, gap_s in stream:
        now += gap_s
        values.append(value)
        times.append(now)
        stats = add(window, value, now)
        assert_matches_naive(stats, values, times, size, time_s)
        assert len(window) == stats.count
        out.append(stats)
    return out


# -- strategies ----------------------------------------------------------------------------------

# Magnitudes stay within 1e-60..1e60 (or exactly 0): squares of differences then neither
# overflow nor fall into the subnormal range, where the naive reference itself loses digits.
magnitudes = st.floats(min_value=1e-60, max_value=1e60)
finite_values = st.one_of(
    st.just(0.0),
    st.builds(lambda m, negative: -m if negative else m, magnitudes, st.booleans()),
    st.floats(min_value=-1000, max_value=1000).filter(lambda v: v == 0 or abs(v) >= 1e-60),
)
# Adversarial streams are runs: a value repeated, or slightly perturbed, for a while. Runs of
# huge values followed by runs of tiny ones are what cancels digits in a sliding sum.
runs = st.lists(
    st.tuples(
        finite_values,
        st.integers(min_value=1, max_value=40),
        st.sampled_from([0.0, 1e-12, 1e-6, 1e-3]),
    ),
    min_size=1,
    max_size=12,
)
gaps_s = st.one_of(
    st.sampled_from([0.0, 0.0, 0.001, 0.5, 1.0, 10.0]), st.floats(min_value=0, max_value=5)
)
sizes = st.one_of(st.integers(min_value=1, max_value=50), st.sampled_from([1000, MAX_WINDOW_SIZE]))
time_windows_s = st.one_of(st.none(), st.sampled_from([0.001, 1.0, 2.5]), st.floats(0.01, 30))


@st.composite
def run_streams(draw: st.DrawFn) -> list[tuple[float, float]]:
    stream: list[tuple[float, float]] = []
    for value, length, jitter in draw(runs):
        for _ in range(length):
            wobble = draw(st.integers(min_value=-1000, max_value=1000)) / 1000 * jitter
            stream.append((value * (1 + wobble), draw(gaps_s)))
    return stream


# -- properties ----------------------------------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    stream=st.lists(st.tuples(finite_values, gaps_s), min_size=1, max_size=150),
    size=sizes,
    time_s=time_windows_s,
)
def test_random_streams_match_a_naive_recomputation(
    stream: list[tuple[float, float]], size: int, time_s: float | None
) -> None:
    run_and_check(stream, size, time_s)


@settings(max_examples=200, deadline=None)
@given(stream=run_streams(), size=sizes, time_s=time_windows_s)
def test_adversarial_runs_match_a_naive_recomputation(
    stream: list[tuple[float, float]], size: int, time_s: float | None
) -> None:
    run_and_check(stream, size, time_s)


@pytest.mark.parametrize("size", [1, 2, 3, 7, 50])
@pytest.mark.parametrize(
    "pattern",
    [
        # huge values, then tiny ones: the huge ones leave and must not leave residue behind
        [1e15] * 5 + [1e-3, 2e-3, 3e-3] * 30,
        [1e50, -1e50, 1e50] + [7.25] * 60 + [7.25 + 1e-9] * 3 + [7.25] * 60,
        # a constant run: the stddev is exactly 0 and the mean exactly the value
        [0.1] * 200,
        # offsets that cancel most digits of every value
        [1e9 + 0.001 * (i % 7) for i in range(300)],
        # just below the recompute threshold: the big values are 9999 times the others
        [9999.0 if i % 11 == 0 else 1.0 + 1e-7 * (i % 5) for i in range(500)],
        # a decay through many decades: the magnitude keeps falling below its peak
        [10.0 ** (20 - i / 4) for i in range(240)],
        # alternating signs around zero with a mean that is tiny against the values
        [(-1.0) ** i * 1e8 + (i % 3) * 1e-4 for i in range(300)],
    ],
    ids=[
        "huge-then-tiny",
        "spikes-then-constant",
        "constant",
        "offset",
        "near-guard",
        "decay",
        "alt",
    ],
)
def test_handpicked_adversarial_streams(pattern: list[float], size: int) -> None:
    run_and_check([(v, 0.0) for v in pattern], size, None)


def test_a_long_random_stream_through_a_small_window_stays_exact() -> None:
    """Bursts of large values entering and leaving, with time-based evictions, for 6000
    readings: rounding residue must never build up."""
    rng = random.Random(7)
    stream = []
    for i in range(6000):
        if i % 500 < 20:
            value = rng.uniform(-1e12, 1e12)
        else:
            value = 1e3 + rng.gauss(0, 1e-2)
        stream.append((value, rng.choice([0.0, 0.01, 0.2])))
    run_and_check(stream, 37, 3.0)


#: What a device may send for months: values near 1e6 that differ in their last digits, spikes
#: of large magnitude, NaN and infinities, small values.
device_values = st.one_of(
    st.integers(min_value=-1000, max_value=1000).map(lambda k: 1e6 + k * 1e-3),
    st.sampled_from([1e12, -1e12, 3.5e15, 1e60, -1e60, 1e-9]),
    st.sampled_from([math.nan, math.inf, -math.inf]),
    st.floats(min_value=-10, max_value=10),
)


@settings(max_examples=150, deadline=None)
@given(
    batches=st.lists(st.lists(device_values, max_size=40), min_size=1, max_size=80),
    size=st.sampled_from([1, 2, 7, 60, 1000]),
    time_s=st.sampled_from([None, 2.5]),
)
def test_a_chain_s_window_after_long_device_input_matches_a_fresh_computation(
    batches: list[list[float]], size: int, time_s: float | None
) -> None:
    """A chain fed as a sensor feeds it (a batch per chunk: one value through ``drain_value``,
    more through ``drain_values``) publishes, after every batch, the statistics of the values
    that passed computed afresh: no spike, NaN or infinity leaves anything behind once it is
    out of the window (NaN and infinities never enter it)."""
    chain = Chain.build(window_size=size, window_time_s=time_s)
    window = chain.window
    assert window is not None
    values: list[float] = []
    times: list[float] = []
    for i, batch in enumerate(batches):
        now = i * 0.5
        if len(batch) == 1:
            chain.drain_value(batch[0], "s", "c", now, 1.7e9 + now)
        else:
            chain.drain_values(batch, "s", "c", now, 1.7e9 + now)
        passed = [v for v in batch if math.isfinite(v)]
        values += passed
        times += [now] * len(passed)
        stats = window.last
        if not values:
            assert stats is None
            continue
        assert stats is not None
        assert_matches_naive(stats, values, times, size, time_s)
        if passed:
            assert stats.reading.value == passed[-1]


# -- exact cases ---------------------------------------------------------------------------------


def test_population_stddev_of_a_textbook_example() -> None:
    window = Window(8)
    stats = None
    for value in [2.0, 4.0, 4.0, 4.0, 5.0, 5.0, 7.0, 9.0]:
        stats = add(window, value, 0.0)
    assert stats is not None
    assert (stats.count, stats.mean, stats.min, stats.max, stats.stddev) == (8, 5.0, 2, 9, 2.0)


@pytest.mark.parametrize("value", [0.1, -3.7e12, 0.0, 1e-50])
def test_a_constant_run_is_exact(value: float) -> None:
    window = Window(5)
    for v in [1e9, -4.0, 2.5, *[value] * 12]:
        stats = add(window, v, 0.0)
    assert (stats.count, stats.mean, stats.min, stats.max, stats.stddev) == (
        5,
        value,
        value,
        value,
        0.0,
    )


def test_size_evicts_the_oldest() -> None:
    window = Window(3)
    results = [add(window, v, float(i)) for i, v in enumerate([5.0, 1.0, 9.0, 2.0, 3.0])]
    assert [(s.count, s.min, s.max) for s in results] == [
        (1, 5, 5),
        (2, 1, 5),
        (3, 1, 9),
        (3, 1, 9),
        (3, 2, 9),
    ]
    assert results[-1].mean == pytest.approx(14 / 3)


def test_time_horizon_is_inclusive_and_relative_to_the_newest_reading() -> None:
    window = Window(100, time_s=2.0)
    add(window, 1.0, 10.0)
    add(window, 2.0, 11.0)
    assert add(window, 3.0, 12.0).count == 3  # 10.0 >= 12.0 - 2.0: kept
    stats = add(window, 4.0, 12.5)  # 10.0 < 10.5: evicted
    assert (stats.count, stats.min, stats.max) == (3, 2.0, 4.0)


def test_a_long_gap_empties_the_window_but_the_newest_reading() -> None:
    window = Window(10, time_s=1.0)
    for i in range(10):
        add(window, 1e6 * i, i * 0.01)
    stats = add(window, 42.0, 100.0)
    assert (stats.count, stats.mean, stats.min, stats.max, stats.stddev) == (
        1,
        42.0,
        42.0,
        42.0,
        0.0,
    )
    assert len(window) == 1


def test_reset_forgets_readings_but_keeps_counters() -> None:
    window = Window(4)
    list(window.process([Reading("s", "c", 1.0, 0.0, 0.0), Reading("s", "c", 3.0, 0.0, 0.0)]))
    assert len(window) == 2
    assert window.last is not None
    window.reset()
    assert len(window) == 0
    assert window.last is None
    assert window.records_in == window.records_out == 2
    assert add(window, 10.0, 1.0).count == 1


@pytest.mark.parametrize(
    ("size", "time_s", "message"),
    [
        (0, None, "window size must be in [1, 10000], got 0"),
        (10_001, None, "window size must be in [1, 10000], got 10001"),
        (5, 0.0, "window time_s must be > 0, got 0.0"),
        (5, -1.0, "window time_s must be > 0, got -1.0"),
        (5, math.nan, "window time_s must be > 0, got nan"),
    ],
)
def test_invalid_parameters_are_rejected(size: int, time_s: float | None, message: str) -> None:
    with pytest.raises(ValueError, match="^" + message.replace("[", r"\[").replace("]", r"\]")):
        Window(size, time_s)


def test_process_emits_stats_with_the_reading_and_matches_add() -> None:
    readings = [
        Reading("boiler", "t", float(v), float(i), 1000.0 + i)
        for i, v in enumerate([3, 1, 4, 1, 5, 9, 2, 6])
    ]
    via_process = list(Window(3, 4.0).process(readings))
    direct = Window(3, 4.0)
    for reading, stats in zip(readings, via_process, strict=True):
        assert stats.reading is reading
        expected = add(direct, reading.value, reading.monotonic_s)
        assert (stats.count, stats.mean, stats.min, stats.max, stats.stddev) == (
            expected.count,
            expected.mean,
            expected.min,
            expected.max,
            expected.stddev,
        )


@settings(max_examples=100, deadline=None)
@given(
    stream=st.lists(st.tuples(finite_values, gaps_s), min_size=0, max_size=80),
    cuts=st.lists(st.integers(min_value=0, max_value=80), max_size=6),
    size=st.integers(min_value=1, max_value=20),
    time_s=time_windows_s,
)
def test_batches_give_the_same_output_as_one_call(
    stream: list[tuple[float, float]], cuts: list[int], size: int, time_s: float | None
) -> None:
    readings = []
    now = 0.0
    for value, gap in stream:
        now += gap
        readings.append(Reading("s", "c", value, now, now))
    whole = list(Window(size, time_s).process(readings))
    window = Window(size, time_s)
    batched: list[WindowStats] = []
    bounds = sorted({0, len(readings), *(min(c, len(readings)) for c in cuts)})
    for start, stop in itertools.pairwise(bounds):
        batched.extend(window.process(readings[start:stop]))
    assert batched == whole
    assert window.records_in == window.records_out == len(readings)
    assert window.last == (whole[-1] if whole else None)


@settings(max_examples=100, deadline=None)
@given(
    stream=st.lists(st.tuples(finite_values, gaps_s), min_size=0, max_size=80),
    cuts=st.lists(st.integers(min_value=0, max_value=80), max_size=6),
    size=st.integers(min_value=1, max_value=20),
    time_s=time_windows_s,
)
def test_absorbed_batches_leave_the_state_and_last_of_processed_ones(
    stream: list[tuple[float, float]], cuts: list[int], size: int, time_s: float | None
) -> None:
    readings = []
    now = 0.0
    for value, gap in stream:
        now += gap
        readings.append(Reading("s", "c", value, now, now))
    processed, absorbed = Window(size, time_s), Window(size, time_s)
    bounds = sorted({0, len(readings), *(min(c, len(readings)) for c in cuts)})
    for start, stop in itertools.pairwise(bounds):
        list(processed.process(readings[start:stop]))
        absorbed.absorb(readings[start:stop])
        assert absorbed.last == processed.last
    assert (absorbed.records_in, absorbed.records_out) == (len(readings), len(readings))
    # the next reading meets the same window either way
    probe = Reading("s", "c", 1.5, now + 0.5, now + 0.5)
    assert list(absorbed.process([probe])) == list(processed.process([probe]))


def test_absorb_of_a_failing_stream_keeps_what_it_took() -> None:
    def failing() -> Iterator[Reading]:
        yield Reading("s", "c", 1.0, 0.0, 0.0)
        yield Reading("s", "c", 3.0, 1.0, 1.0)
        raise ValueError("upstream")

    window = Window(5)
    with pytest.raises(ValueError, match="upstream"):
        window.absorb(failing())
    assert (window.records_in, window.records_out, window.dropped_total) == (2, 2, 0)
    assert window.last is not None
    assert (window.last.count, window.last.mean, window.last.reading.value) == (2, 2.0, 3.0)


# -- robustness and cost -------------------------------------------------------------------------


def test_values_near_the_float_limit_never_raise_and_the_window_recovers() -> None:
    window = Window(3)
    huge = 1.7e308
    stream = [huge, huge, -huge, huge, -huge, huge, huge, huge, huge, huge, 5.0, 5.0, 6.0]
    results = [add(window, v, 0.0) for v in stream]
    for i, stats in enumerate(results):
        held = stream[max(0, i - 2) : i + 1]
        assert stats.min == min(held)
        assert stats.max == max(held)
        assert math.isfinite(stats.mean)
        assert stats.mean == pytest.approx(math.fsum(x / 4 for x in held) / len(held) * 4)
        # a population stddev far beyond 1e154 overflows the sum of squares: it is reported as
        # inf, never as a silently wrong finite number (nor 0 for a window that varies)
        if min(held) != max(held) and max(map(abs, held)) > 1e154:
            assert stats.stddev == math.inf
    assert results[-1].mean == pytest.approx(16 / 3)
    assert results[-1].stddev == pytest.approx(math.sqrt(2) / 3)


def test_a_nan_in_the_running_sums_is_recomputed_before_the_stats_are_emitted() -> None:
    window = Window(3)
    for value in [1e200, -1e200]:
        add(window, value, 0.0)
    stats = add(window, 1.0, 0.0)  # the window still varies by 2e200
    assert stats.stddev == math.inf
    stats = add(window, 2.0, 0.0)  # [-1e200, 1, 2]
    assert stats.stddev == math.inf
    assert stats.mean == pytest.approx(-1e200 / 3)
    stats = add(window, 3.0, 0.0)
    assert stats.stddev == pytest.approx(math.sqrt(2 / 3))


class CountingWindow(Window):
    """A window that counts the computations of its statistics."""

    computations = 0

    def _compute(self, reading: Reading, values: Sequence[float]) -> WindowStats:
        self.computations += 1
        return super()._compute(reading, values)


def test_taking_readings_computes_no_statistics_and_last_computes_them_once_per_change() -> None:
    window = CountingWindow(100)
    chain_like = [Reading("s", "c", float(i % 7), i * 0.1, i * 0.1) for i in range(20_000)]
    for start in range(0, len(chain_like), 32):
        window.absorb(chain_like[start : start + 32])
    assert window.computations == 0
    first = window.last
    assert first is not None
    assert first.reading is chain_like[-1]
    assert [window.last for _ in range(5)] == [first] * 5
    assert window.computations == 1
    window.absorb([Reading("s", "c", 100.0, 9999.0, 9999.0)])
    stats = window.last
    assert stats is not None
    assert (stats.max, stats.count) == (100.0, 100)
    assert window.computations == 2
    window.reset()
    assert window.last is None
    assert window.computations == 2


def test_values_beyond_the_squared_range_report_infinite_stddev_and_then_recover() -> None:
    rng = random.Random(3)
    window = Window(200)
    n = 5000
    for i in range(n):
        stats = add(window, rng.uniform(-1.0, 1.0) * 1e200, float(i))
        assert stats.stddev == (math.inf if stats.count > 1 else 0.0)
        assert abs(stats.mean) <= 1e200
    for i in range(300):  # back to ordinary values: exact again
        stats = add(window, float(i % 4), float(n + i))
    assert stats.mean == 1.5
    assert stats.stddev == pytest.approx(math.sqrt(1.25))


def test_a_reader_on_another_thread_sees_only_whole_batches() -> None:
    """Each batch fills the window with one value, taken while another thread reads ``last``:
    a batch half taken would show two values (min < max) or a reading that is not the one
    the values end with."""
    window = Window(50)
    stop = threading.Event()
    seen: list[WindowStats] = []

    def read() -> None:
        while not stop.is_set():
            stats = window.last
            if stats is not None:
                seen.append(stats)

    reader = threading.Thread(target=read)
    reader.start()
    try:
        # 3000 batches, and on until the reader has looked a few times while they change (a
        # loaded host may not run it at all during the first 3000)
        deadline = time.monotonic() + 10.0
        i = 0
        while i < 3000 or (len(seen) < 10 and time.monotonic() < deadline):
            window.absorb([Reading("s", "c", float(i), float(i), 0.0)] * 50)
            i += 1
    finally:
        stop.set()
        reader.join()
    assert seen
    for stats in seen:
        assert stats.min == stats.max == stats.mean == stats.reading.value
        assert (stats.count, stats.stddev) == (50, 0.0)


def test_distinct_values_too_close_for_a_squared_deviation_have_stddev_zero() -> None:
    # the squared deviation of 1e-300 and 1.1e-300 underflows to 0: stddev 0, not NaN or 1
    window = Window(3)
    add(window, 1e-300, 0.0)
    stats = add(window, 1.1e-300, 1.0)
    assert (stats.min, stats.max) == (1e-300, 1.1e-300)
    assert stats.stddev == 0.0


def test_recomputation_whose_squared_deviations_overflow_reports_infinite_stddev() -> None:
    # each squared deviation (1.44e308) is finite, their sum is not: the periodic exact
    # recomputation (every 4 * size readings) gives m2 = inf, so stddev reads inf
    window = Window(2)
    for i in range(10):
        stats = add(window, 1.2e154 if i % 2 else -1.2e154, float(i))
    assert (stats.count, stats.mean, stats.stddev) == (2, 0.0, math.inf)
