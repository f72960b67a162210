"""sensord.stage: exact step counters and sampled step timing (@timed_step, StepTimer)."""

from __future__ import annotations

import itertools
import math
import types
from collections.abc import Generator, Iterable, Iterator

import pytest
from harness.chain import process
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry, generate_latest

from sensord.export import (
    STEP_DURATION_BUCKETS,
    StepHistogram,
    make_step_histogram,
    step_timer,
)
from sensord.filter import ThresholdFilter
from sensord.normalize import Normalize
from sensord.pipeline import Chain
from sensord.stage import DEFAULT_SAMPLE_EVERY, StepCounters, StepTimer, timed_step
from sensord.types import Reading, WindowStats
from sensord.window import Window

STEPS = ("filter", "normalize", "window")


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def histogram(registry: CollectorRegistry) -> StepHistogram:
    return make_step_histogram(registry)


def samples(registry: CollectorRegistry, step: str) -> float:
    value = registry.get_sample_value("sensord_step_duration_seconds_count", {"step": step})
    return 0.0 if value is None else value


def readings(values: Iterable[float], start: int = 0) -> list[Reading]:
    return [Reading("s", "c", v, float(start + i), 0.0) for i, v in enumerate(values, start)]


def chain(histogram: StepHistogram | None, every: int) -> Chain:
    built = Chain.build(filter_min=0, filter_max=100, scale=0.5, window_size=5)
    if histogram is not None:
        built.instrument(lambda step: step_timer(histogram, step, every))
    return built


def stats_tuple(s: WindowStats) -> tuple[object, ...]:
    return (s.reading, s.count, s.mean, s.min, s.max, s.stddev)


# -- StepCounters --------------------------------------------------------------------------------


class Halver(StepCounters):
    """A test stage: drops odd values ("odd"), raises on negative values."""

    step = "halver"
    drop_reasons = ("odd",)

    @timed_step
    def process(self, stream: Iterable[int]) -> Iterator[int]:
        n_in = n_out = n_odd = 0
        raised = False
        try:
            for x in stream:
                n_in += 1
                if x < 0:
                    raise ValueError(f"negative: {x}")
                if x % 2:
                    n_odd += 1
                    continue
                n_out += 1
                yield x // 2
        except Exception:
            raised = True
            raise
        finally:
            self.settle(n_in, n_out, raised, odd=n_odd)


def test_counters_start_at_zero_with_every_reason_and_error() -> None:
    stage = Halver()
    assert (stage.records_in, stage.records_out) == (0, 0)
    assert stage.dropped == {"odd": 0, "error": 0}
    assert stage.timer is None


def test_settle_adds_batches_and_leaves_an_uncounted_drop_visible() -> None:
    stage = Halver()
    stage.settle(10, 7, odd=3)
    assert stage.imbalance == 0
    stage.settle(5, 1, odd=2)  # 2 records neither out nor dropped, and nothing raised
    assert (stage.records_in, stage.records_out) == (15, 8)
    assert stage.dropped == {"odd": 5, "error": 0}
    assert stage.dropped_total == 5
    assert stage.imbalance == 2


def test_settle_books_the_shortfall_as_error_only_when_the_stage_raised() -> None:
    stage = Halver()
    stage.settle(5, 1, True, odd=2)
    assert stage.dropped == {"odd": 2, "error": 2}
    assert stage.imbalance == 0


def test_a_stage_that_stops_early_at_a_yield_is_balanced() -> None:
    stage = Halver()
    out = stage.process([2, 3, 4, 6])
    assert isinstance(out, Generator)
    assert next(out) == 1
    out.close()  # the consumer stopped: the record it got was counted out
    assert (stage.records_in, stage.records_out, stage.dropped_total) == (1, 1, 0)


def test_a_stage_that_raises_books_the_record_in_flight_as_error() -> None:
    stage = Halver()
    with pytest.raises(ValueError, match="negative"):
        list(stage.process([2, 3, 4, -1, 6]))
    assert (stage.records_in, stage.records_out) == (4, 2)
    assert stage.dropped == {"odd": 1, "error": 1}


# -- StepTimer -----------------------------------------------------------------------------------


@pytest.mark.parametrize("every", [0, -1])
def test_sample_every_must_be_positive(every: int) -> None:
    with pytest.raises(ValueError, match=f"sample_every must be >= 1, got {every}"):
        StepTimer(lambda _: None, every)


def test_the_histogram_has_buckets_from_100_ns(
    registry: CollectorRegistry, histogram: StepHistogram
) -> None:
    assert STEP_DURATION_BUCKETS[0] == 1e-7
    assert STEP_DURATION_BUCKETS[-1] == 0.1
    assert list(STEP_DURATION_BUCKETS) == sorted(STEP_DURATION_BUCKETS)
    assert DEFAULT_SAMPLE_EVERY == 64
    histogram.labels(step="filter").observe(3e-6)
    bucket = registry.get_sample_value(
        "sensord_step_duration_seconds_bucket", {"step": "filter", "le": "5e-06"}
    )
    below = registry.get_sample_value(
        "sensord_step_duration_seconds_bucket", {"step": "filter", "le": "2.5e-06"}
    )
    assert (bucket, below) == (1.0, 0.0)
    histogram.labels(step="normalize").observe(2e-7)  # a fused sample's own work
    fine = registry.get_sample_value(
        "sensord_step_duration_seconds_bucket", {"step": "normalize", "le": "2.5e-07"}
    )
    assert fine == 1.0


def test_for_step_binds_the_label_child_once(
    registry: CollectorRegistry, histogram: StepHistogram
) -> None:
    timer = step_timer(histogram, "window", 4)
    assert (timer.every, timer.countdown) == (4, 4)
    timer.observe(2e-6)
    timer.observe(0.05)
    assert samples(registry, "window") == 2
    assert registry.get_sample_value(
        "sensord_step_duration_seconds_sum", {"step": "window"}
    ) == pytest.approx(0.050002)


# -- @timed_step ---------------------------------------------------------------------------------


def test_an_uninstrumented_stage_returns_the_plain_generator() -> None:
    for stage in (ThresholdFilter(), Normalize(), Window(3), Halver()):
        gen = stage.process([])
        assert isinstance(gen, types.GeneratorType)
        assert gen.gi_code.co_qualname == f"{type(stage).__name__}.process"
    instrumented = ThresholdFilter()
    instrumented.instrument(StepTimer(lambda _: None, 2))
    gen = instrumented.process([])
    assert isinstance(gen, types.GeneratorType)
    assert gen.gi_code.co_qualname == "_timed"
    instrumented.instrument(None)
    gen = instrumented.process([])
    assert isinstance(gen, types.GeneratorType)
    assert gen.gi_code.co_qualname == "ThresholdFilter.process"


@settings(max_examples=100, deadline=None)
@given(
    n=st.integers(min_value=0, max_value=300),
    every=st.one_of(st.integers(min_value=1, max_value=20), st.sampled_from([64, 500])),
)
def test_an_instrumented_chain_samples_floor_n_over_every_and_changes_nothing(
    n: int, every: int
) -> None:
    registry = CollectorRegistry()
    histogram = make_step_histogram(registry)
    batch = readings((i * 7) % 100 for i in range(n))
    plain = [stats_tuple(s) for s in process(chain(None, every), batch)]
    timed_chain = chain(histogram, every)
    timed = [stats_tuple(s) for s in process(timed_chain, batch)]
    assert timed == plain
    for step in STEPS:
        assert samples(registry, step) == n // every
    for stage in timed_chain.stages:
        assert stage.timer is not None
        assert stage.timer.countdown == every - n % every  # the next sample is this far away


@settings(max_examples=100, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=0, max_value=40), max_size=12),
    every=st.integers(min_value=1, max_value=16),
)
def test_the_sampling_countdown_continues_across_batches(sizes: list[int], every: int) -> None:
    registry = CollectorRegistry()
    histogram = make_step_histogram(registry)
    timed_chain = chain(histogram, every)
    plain_chain = chain(None, every)
    start = 0
    for size in sizes:
        batch = readings([float(i % 50) for i in range(size)], start)
        start += size
        got = [stats_tuple(s) for s in process(timed_chain, batch)]
        assert got == [stats_tuple(s) for s in process(plain_chain, batch)]
    for step in STEPS:
        assert samples(registry, step) == start // every


def test_dropped_records_are_timed_too(
    registry: CollectorRegistry, histogram: StepHistogram
) -> None:
    timed_chain = chain(histogram, 4)
    values = [500.0, math.nan, 1.0, -3.0] * 10  # 30 of the 40 are dropped by the filter
    out = list(process(timed_chain, readings(values)))
    assert len(out) == 10
    assert samples(registry, "filter") == 40 // 4
    assert samples(registry, "normalize") == 10 // 4
    assert samples(registry, "window") == 10 // 4


def test_a_sample_dropped_at_the_end_of_the_stream_is_observed(
    registry: CollectorRegistry, histogram: StepHistogram
) -> None:
    stage = ThresholdFilter(0, 1)
    stage.instrument(step_timer(histogram, "filter", 3))
    assert list(stage.process(readings([0.5, 0.5, 99.0]))) == readings([0.5, 0.5])
    assert samples(registry, "filter") == 1


def test_every_one_times_every_record(
    registry: CollectorRegistry, histogram: StepHistogram
) -> None:
    stage = Halver()
    stage.instrument(step_timer(histogram, "halver", 1))
    assert list(stage.process(range(11))) == [0, 1, 2, 3, 4, 5]
    assert samples(registry, "halver") == 11
    total = registry.get_sample_value("sensord_step_duration_seconds_sum", {"step": "halver"})
    assert total is not None
    assert 0.0 <= total < 1.0


def test_an_early_stop_keeps_the_countdown_and_the_counts(
    registry: CollectorRegistry, histogram: StepHistogram
) -> None:
    stage = Halver()
    timer = step_timer(histogram, "halver", 3)
    stage.instrument(timer)
    gen = stage.process(range(0, 100, 2))
    assert isinstance(gen, Generator)
    assert list(itertools.islice(gen, 2)) == [0, 1]
    gen.close()
    assert (stage.records_in, stage.records_out, stage.dropped_total) == (2, 2, 0)
    assert timer.countdown == 1
    assert samples(registry, "halver") == 0
    assert list(stage.process([8, 10, 12, 14])) == [4, 5, 6, 7]
    assert samples(registry, "halver") == 6 // 3
    assert timer.countdown == 3


def test_a_stage_error_under_timing_is_counted_and_the_countdown_kept(
    registry: CollectorRegistry, histogram: StepHistogram
) -> None:
    stage = Halver()
    timer = step_timer(histogram, "halver", 2)
    stage.instrument(timer)
    with pytest.raises(ValueError, match="negative"):
        list(stage.process([2, 4, 5, -1, 8]))
    assert (stage.records_in, stage.records_out) == (4, 2)
    assert stage.dropped == {"odd": 1, "error": 1}
    # records 2 and 4 were sampled; 4 (-1) raised inside the stage and is not observed
    assert samples(registry, "halver") == 1
    assert timer.countdown == 2


def test_timed_and_plain_counts_agree_per_step(
    registry: CollectorRegistry, histogram: StepHistogram
) -> None:
    values = [float(v) for v in range(-20, 150, 3)] + [math.inf, math.nan]
    timed_chain = chain(histogram, 5)
    plain_chain = chain(None, 5)
    timed_chain.drain(readings(values))
    plain_chain.drain(readings(values))
    for timed_stage, plain_stage in zip(timed_chain.stages, plain_chain.stages, strict=True):
        assert timed_stage.records_in == plain_stage.records_in
        assert timed_stage.records_out == plain_stage.records_out
        assert timed_stage.dropped == plain_stage.dropped
        assert timed_stage.records_in == timed_stage.records_out + timed_stage.dropped_total


# -- what the samples and the counters hold ------------------------------------------------------


def test_sampled_durations_are_the_time_a_record_spent_in_the_stage() -> None:
    seen: list[float] = []
    stage = ThresholdFilter(0.0, 10.0)
    stage.instrument(StepTimer(seen.append, 1))
    readings = [Reading("s", "v", float(i), 0.0, 0.0) for i in range(20)]  # 9 are dropped
    assert len(list(stage.process(readings))) == 11
    assert len(seen) == 20
    assert all(0.0 <= d < 0.5 for d in seen), seen


def test_step_histogram_is_described_for_the_exposition() -> None:
    registry = CollectorRegistry()
    make_step_histogram(registry)
    text = generate_latest(registry).decode()
    assert (
        "# HELP sensord_step_duration_seconds Time a pipeline step spends on one record "
        "(sampled: 1 record in metrics.step_timing_sample_every is timed)\n"
    ) in text


class _FailsOnNegative(StepCounters):
    """A stage that raises on a negative value: that record is the one inside it."""

    step = "fails"

    def process(self, stream: Iterable[Reading]) -> Iterator[Reading]:
        n_in = n_out = 0
        raised = False
        try:
            for r in stream:
                n_in += 1
                if r.value < 0:
                    raise ValueError("negative")
                n_out += 1
                yield r
        except Exception:
            raised = True
            raise
        finally:
            self.settle(n_in, n_out, raised)


def test_error_drops_add_up_over_batches() -> None:
    stage = _FailsOnNegative()
    for batch in ([1.0, -1.0, 2.0], [3.0, -2.0]):
        with pytest.raises(ValueError, match="negative"):
            list(stage.process(Reading("s", "v", v, 0.0, 0.0) for v in batch))
    assert (stage.records_in, stage.records_out) == (4, 2)
    assert stage.dropped == {"error": 2}
