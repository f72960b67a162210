"""sensord.pipeline: stage composition, exact per-step accounting, and PipelineContext."""

from __future__ import annotations

import itertools
import math
from collections.abc import Generator, Iterator, Mapping, Sequence
from decimal import Decimal
from typing import Any

import pytest
from harness.balance import StepCounts, assert_steps, stage_steps
from harness.chain import MiniRun, process, run
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from sensord.errors import SourceUnavailableError
from sensord.export import make_step_histogram, step_timer
from sensord.filter import ThresholdFilter
from sensord.normalize import Normalize
from sensord.pipeline import Chain, PipelineContext
from sensord.sources.base import Source
from sensord.stage import StepCounters
from sensord.types import Reading, WindowStats
from sensord.window import Window


def reading(value: Any, i: int = 0) -> Reading:
    return Reading("boiler", "temperature", value, float(i), 1_700_000_000.0 + i)


def readings(values: list[Any], start: int = 0) -> list[Reading]:
    return [reading(v, i) for i, v in enumerate(values, start)]


def build(**kw: Any) -> Chain:
    params: dict[str, Any] = {"filter_min": 0.0, "filter_max": 100.0, "window_size": 4}
    params.update(kw)
    return Chain.build(**params)


def filtered(values: Sequence[Any]) -> tuple[list[Any], dict[str, int]]:
    """The values ``build()``'s filter (bounds 0..100) keeps, and its drops by reason."""
    kept = [v for v in values if 0.0 <= v <= 100.0]
    nonfinite = sum(1 for v in values if not math.isfinite(v))
    return kept, {"range": len(values) - len(kept) - nonfinite, "nonfinite": nonfinite}


def assert_filtered_chain(steps: dict[str, StepCounts], values: Sequence[Any]) -> None:
    """The filter took ``values`` and dropped what lies outside its bounds; the records it
    passed went through normalize and the window with no drop."""
    kept, drops = filtered(values)
    assert_steps(
        steps,
        records_in={"filter": len(values), "normalize": len(kept), "window": len(kept)},
        dropped={"filter": drops},
    )


def counts(chain: Chain) -> list[tuple[int, int, dict[str, int]]]:
    return [(s.records_in, s.records_out, dict(s.dropped)) for s in chain.stages]


class ReadingSource(Source):
    """A real Source (open/close lifecycle of sensord.sources.base) that yields readings."""

    def __init__(
        self, values: list[Any], *, fail_open: bool = False, fail_close: bool = False
    ) -> None:
        super().__init__("boiler", "test://readings")
        self.values = values
        self.fail_open = fail_open
        self.fail_close = fail_close
        self.opens = 0
        self.closes: list[bool] = []  # was_open of each close

    def _open(self) -> None:
        if self.fail_open:
            raise SourceUnavailableError(self.sensor, "no such device")
        self.opens += 1

    def _close(self, was_open: bool) -> None:
        self.closes.append(was_open)
        if self.fail_close:
            raise OSError("close failed")

    def read(self) -> bytes:
        return b""

    def __iter__(self) -> Iterator[Reading]:
        assert self.is_open, "iterated before it was opened"
        return iter(readings(self.values))


class Recorder:
    """A context manager that records whether it was closed and with which exception."""

    def __init__(self, log: list[str], name: str, fail: BaseException | None = None) -> None:
        self.log = log
        self.name = name
        self.fail = fail

    def __enter__(self) -> Recorder:
        self.log.append(f"enter {self.name}")
        return self

    def __exit__(self, exc_type: type[BaseException] | None, *rest: object) -> None:
        self.log.append(f"exit {self.name} {exc_type.__name__ if exc_type else None}")
        if self.fail is not None:
            raise self.fail


# -- Chain ---------------------------------------------------------------------------------------


def test_build_orders_filter_normalize_window() -> None:
    chain = build(scale=2.0, window_size=7, window_time_s=3.0)
    assert [type(s) for s in chain.stages] == [ThresholdFilter, Normalize, Window]
    assert [s.step for s in chain.stages] == ["filter", "normalize", "window"]
    assert chain.window is chain.stages[2]
    assert chain.window.size == 7
    assert chain.window.time_s == 3.0


def test_a_chain_needs_a_stage_and_may_lack_a_window() -> None:
    with pytest.raises(ValueError, match="at least one stage"):
        Chain([])
    assert Chain([ThresholdFilter()]).window is None


def test_process_is_lazy() -> None:
    chain = build()
    pulled: list[int] = []

    def source() -> Iterator[Reading]:
        for i in range(3):
            pulled.append(i)
            yield reading(1.0, i)

    out = process(chain, source())
    assert pulled == []
    next(out)
    assert pulled == [0]


def test_run_and_drain_deliver_everything_and_keep_the_window() -> None:
    values = [10.0, 200.0, 20.0, math.nan, 30.0, 40.0, 50.0]
    chain = build(scale=0.5)
    got: list[WindowStats] = []
    run(chain, readings(values), got.append)
    assert [s.reading.value for s in got] == [5.0, 10.0, 15.0, 20.0, 25.0]
    assert [s.count for s in got] == [1, 2, 3, 4, 4]
    assert got[-1].mean == pytest.approx(17.5)
    drained = build(scale=0.5)
    drained.drain(readings(values))
    assert drained.window is not None
    assert drained.window.last == got[-1]
    assert counts(drained) == counts(chain)
    assert chain.dropped_total == 2


@settings(max_examples=150, deadline=None)
@given(
    values=st.lists(
        st.one_of(st.floats(-50, 150), st.sampled_from([math.nan, math.inf, -1e300])),
        max_size=80,
    ),
    cuts=st.lists(st.integers(min_value=0, max_value=80), max_size=10),
    window_size=st.integers(min_value=1, max_value=12),
    time_s=st.one_of(st.none(), st.floats(0.5, 20)),
)
def test_a_stream_cut_into_batches_gives_the_same_output_as_one_call(
    values: list[float], cuts: list[int], window_size: int, time_s: float | None
) -> None:
    batch = readings(values)
    kw = {
        "scale": 1.8,
        "offset": 32.0,
        "range_min": 0.0,
        "range_max": 250.0,
        "clamp": True,
        "window_size": window_size,
        "window_time_s": time_s,
    }
    whole_chain = build(**kw)
    whole = list(process(whole_chain, batch))
    chain = build(**kw)
    out: list[WindowStats] = []
    bounds = sorted({0, len(batch), *(min(c, len(batch)) for c in cuts)})
    for start, stop in itertools.pairwise(bounds):
        run(chain, batch[start:stop], out.append)
    assert out == whole
    assert counts(chain) == counts(whole_chain)
    # clamped normalization never overflows: only the filter drops
    assert_filtered_chain(stage_steps(chain.stages), values)


@settings(max_examples=100, deadline=None)
@given(
    values=st.lists(st.one_of(st.floats(-50, 150), st.just(math.nan)), max_size=40),
    take=st.integers(min_value=0, max_value=40),
)
def test_in_equals_out_plus_dropped_when_the_consumer_stops_early(
    values: list[float], take: int
) -> None:
    chain = build()
    out = process(chain, readings(values))
    assert isinstance(out, Generator)
    got = list(itertools.islice(out, take))
    out.close()
    # whatever the filter pulled before the consumer stopped is accounted for by reason
    pulled = chain.stages[0].records_in
    assert_filtered_chain(stage_steps(chain.stages), values[:pulled])
    assert chain.stages[-1].records_out == len(got)
    # the filter pulled exactly what it needed: nothing after the last delivered record
    kept = [i for i, v in enumerate(values) if 0.0 <= v <= 100.0]
    if take == 0:
        assert chain.stages[0].records_in == 0
    elif len(kept) >= take:
        assert chain.stages[0].records_in == kept[take - 1] + 1
    else:
        assert chain.stages[0].records_in == len(values)


def test_early_stop_counts_exactly() -> None:
    chain = build()
    out = process(chain, readings([1.0, 500.0, 2.0, math.nan, 3.0, 4.0]))
    assert isinstance(out, Generator)
    assert [s.reading.value for s in itertools.islice(out, 2)] == [1.0, 2.0]
    out.close()
    assert counts(chain) == [
        (3, 2, {"range": 1, "nonfinite": 0, "error": 0}),
        (2, 2, {"nonfinite": 0, "error": 0}),
        (2, 2, {"error": 0}),
    ]


@pytest.mark.parametrize("timed", [False, True], ids=["plain", "timed"])
@pytest.mark.parametrize("method", ["run", "drain"])
def test_a_raising_stage_is_counted_as_error_and_every_step_is_settled_at_once(
    method: str, timed: bool
) -> None:
    # Decimal passes the filter's comparisons but Decimal * float raises in normalize
    chain = build()
    if timed:
        histogram = make_step_histogram(CollectorRegistry())
        chain.instrument(lambda step: step_timer(histogram, step, 2))
    batch = readings([1.0, 500.0, 2.0, Decimal(3), 4.0, 5.0])

    def push() -> None:
        if method == "run":
            run(chain, batch, lambda _: None)
        else:
            chain.drain(batch)

    with pytest.raises(TypeError) as info:
        push()
    # asserted while the exception and its traceback (which holds the failed stage's frame and
    # with it the generators upstream of it) are still alive: no reliance on garbage collection
    assert info.tb is not None
    assert counts(chain) == [
        (4, 3, {"range": 1, "nonfinite": 0, "error": 0}),
        (3, 2, {"nonfinite": 0, "error": 1}),
        (2, 2, {"error": 0}),
    ]
    if timed:  # each stage's sampling countdown was saved: 4, 3 and 2 records went in
        assert [s.timer.countdown for s in chain.stages if s.timer] == [2, 1, 2]


def test_counts_are_settled_while_the_stage_error_is_being_handled() -> None:
    chain = build()
    try:
        chain.drain(readings([1.0, 500.0, 2.0, Decimal(3), 4.0]))
    except TypeError:
        # a supervisor logs and resets here, with the traceback alive
        assert counts(chain)[0] == (4, 3, {"range": 1, "nonfinite": 0, "error": 0})
        # 500.0 out of range; Decimal(3) inside normalize when it raised
        assert_steps(
            stage_steps(chain.stages),
            records_in={"filter": 4, "normalize": 3, "window": 2},
            dropped={"filter": {"range": 1}, "normalize": {"error": 1}},
        )
    else:  # pragma: no cover
        pytest.fail("the stage did not raise")


def test_a_raising_sink_leaves_every_step_balanced() -> None:
    chain = build()
    seen: list[WindowStats] = []

    def sink(stats: WindowStats) -> None:
        seen.append(stats)
        if len(seen) == 2:
            raise RuntimeError("sink full")

    with pytest.raises(RuntimeError, match="sink full"):
        run(chain, readings([1.0, 2.0, 300.0, 3.0, 4.0]), sink)
    assert counts(chain) == [
        (2, 2, {"range": 0, "nonfinite": 0, "error": 0}),
        (2, 2, {"nonfinite": 0, "error": 0}),
        (2, 2, {"error": 0}),
    ]
    run(chain, readings([5.0]), seen.append)  # the chain goes on with its state
    assert seen[-1].count == 3


# -- PipelineContext -----------------------------------------------------------------------------


def summaries(logs: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    return [e for e in logs if e["event"] == "pipeline finished"]


def test_normal_end_closes_the_source_and_logs_one_summary() -> None:
    source = ReadingSource([1.0, 500.0, 2.0, math.nan, 3.0])
    out: list[WindowStats] = []
    mini = MiniRun("boiler")
    with capture_logs() as logs, mini.ctx as ctx:
        delivered = mini.run(source, build().stages, out.append)
        assert source.is_open
    assert delivered == 3 == len(out)
    assert not source.is_open
    assert (source.opens, source.closes) == (1, [True])
    (summary,) = summaries(logs)
    assert summary["log_level"] == "info"
    assert summary["pipeline"] == "boiler"
    assert summary["records"] == 3
    assert summary["dropped"] == 2
    assert summary["outcome"] == "completed" == ctx.outcome
    assert isinstance(summary["elapsed_s"], float)
    assert 0.0 <= summary["elapsed_s"] < 5.0
    assert "error" not in summary


class Boom(Exception):
    pass


def explode_on_3() -> StepCounters:
    class Exploder(StepCounters):
        step = "exploder"

        def process(self, stream: Any) -> Iterator[Any]:
            n_in = n_out = 0
            raised = False
            try:
                for x in stream:
                    n_in += 1
                    if x.reading.value == 3.0:
                        raise Boom("stage failed")
                    n_out += 1
                    yield x
            except Exception:
                raised = True
                raise
            finally:
                self.settle(n_in, n_out, raised)

    return Exploder()


@pytest.mark.parametrize("where", ["stage", "sink", "interrupt", "source-open"])
def test_every_exit_path_closes_the_source_and_never_suppresses(where: str) -> None:
    fail_open = where == "source-open"
    source = ReadingSource([1.0, 2.0, 500.0, 3.0, 4.0], fail_open=fail_open)
    stages = [*build().stages, explode_on_3()]
    delivered: list[Any] = []

    def sink(item: Any) -> None:
        if where == "sink" and len(delivered) == 1:
            raise Boom("sink failed")
        if where == "interrupt" and len(delivered) == 1:
            raise KeyboardInterrupt
        delivered.append(item)

    expected: type[BaseException] = {
        "stage": Boom,
        "sink": Boom,
        "interrupt": KeyboardInterrupt,
        "source-open": SourceUnavailableError,
    }[where]
    mini = MiniRun("boiler")
    ctx = mini.ctx
    with capture_logs() as logs, pytest.raises(expected), ctx:
        mini.run(source, stages, sink)
    assert not source.is_open
    assert source.closes == ([] if fail_open else [True])  # entered only when open succeeded
    (summary,) = summaries(logs)
    assert summary["log_level"] == "error"
    assert summary["outcome"] == ctx.outcome
    assert ctx.outcome == ("interrupted" if where == "interrupt" else "failed")
    assert summary["records"] == len(delivered) == mini.delivered
    assert summary["dropped"] == sum(s.dropped_total for s in stages)
    assert summary["error_type"] == expected.__name__
    steps = stage_steps(stages)
    if where == "source-open":  # nothing ran
        assert_steps(steps, records_in=dict.fromkeys(steps, 0))
    elif where == "stage":
        # 500.0 out of range; 3.0 inside the exploder when it raised
        assert_steps(
            steps,
            records_in={"filter": 4, "normalize": 3, "window": 3, "exploder": 3},
            dropped={"filter": {"range": 1}, "exploder": {"error": 1}},
        )
        assert summary["dropped"] == 2
    else:  # the sink stopped the run at the second record: each step passed two, dropped none
        assert_steps(steps, records_in=dict.fromkeys(steps, 2))


def test_resources_close_in_reverse_order_and_close_errors_do_not_mask_the_error() -> None:
    log: list[str] = []
    ctx = PipelineContext("p")

    def failing_run() -> None:
        with ctx:
            ctx.enter(Recorder(log, "a"))
            ctx.enter(Recorder(log, "b", fail=OSError("b will not close")))
            ctx.callback(log.append, "callback")
            raise Boom("stage failed")

    with capture_logs() as logs, pytest.raises(Boom, match="stage failed") as info:
        failing_run()
    # ExitStack hands each exit the exception in flight: "a" sees b's close error, chained
    assert log == ["enter a", "enter b", "callback", "exit b Boom", "exit a OSError"]
    assert isinstance(info.value, Boom)
    (summary,) = summaries(logs)
    assert summary["outcome"] == "failed"
    assert (summary["error"], summary["error_type"]) == ("stage failed", "Boom")
    close_lines = [e for e in logs if e["event"] == "closing a resource failed"]
    assert len(close_lines) == 1
    assert "b will not close" in close_lines[0]["error"]


def test_a_close_error_after_a_clean_run_is_raised_and_the_rest_still_close() -> None:
    log: list[str] = []
    source = ReadingSource([1.0], fail_close=True)
    mini = MiniRun("p")
    ctx = mini.ctx

    def clean_run() -> None:
        with ctx:
            ctx.enter(Recorder(log, "first"))
            mini.run(source, build().stages, lambda _: None)

    with capture_logs() as logs, pytest.raises(OSError, match="close failed"):
        clean_run()
    assert log == ["enter first", "exit first OSError"]
    assert source.closes == [True]
    (summary,) = summaries(logs)
    assert summary["outcome"] == "failed" == ctx.outcome
    assert "closing failed" in summary["error"]
    assert summary["records"] == 1


def test_keyboard_interrupt_during_close_is_not_swallowed_either() -> None:
    log: list[str] = []
    ctx = PipelineContext("p")
    with capture_logs(), pytest.raises(KeyboardInterrupt), ctx:
        ctx.enter(Recorder(log, "x", fail=KeyboardInterrupt()))
    assert log == ["enter x", "exit x None"]


def test_a_resource_that_suppresses_cannot_make_the_context_swallow() -> None:
    class Swallower:
        def __enter__(self) -> None:
            return None

        def __exit__(self, *exc: object) -> bool:
            return True

    ctx = PipelineContext("p")

    def failing_run() -> None:
        with ctx:
            ctx.enter(Swallower())
            raise Boom("must surface")

    with capture_logs(), pytest.raises(Boom):
        failing_run()


def test_several_runs_share_one_context_and_one_summary() -> None:
    first = ReadingSource([1.0, 2.0])
    second = ReadingSource([3.0, 900.0])
    mini = MiniRun("p")
    with capture_logs() as logs, mini.ctx:
        assert mini.run(first, build().stages, lambda _: None) == 2
        assert mini.run(second, build().stages, lambda _: None) == 1
        assert first.is_open
        assert second.is_open
    assert not first.is_open
    assert not second.is_open
    (summary,) = summaries(logs)
    assert (summary["records"], summary["dropped"]) == (3, 1)


def test_a_context_without_counts_logs_the_summary_without_them() -> None:
    with capture_logs() as logs, PipelineContext("bare") as ctx:
        ctx.callback(lambda: None)
    (summary,) = summaries(logs)
    assert "records" not in summary
    assert "dropped" not in summary
    assert summary["outcome"] == "completed" == ctx.outcome
