"""``Chain.drain_values`` gives the results of ``Chain.drain`` over the same readings.

* it runs filter, normalize and window in one loop: the same counters, drops, windows and
  sampling countdowns as ``Chain.drain``, also when a stage raises;
* a sensor that reads binary frames (one reading per channel and frame) ends with the same
  figures as one whose channels take every chunk's readings through ``Chain.drain``.
"""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from test_formats_frames import pms_frame

from sensord.config import parse_config
from sensord.export import make_step_histogram, step_timer
from sensord.pipeline import Chain
from sensord.sensor import SensorRuntime
from sensord.types import Reading
from sensord.window import Window

VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.floats(-200.0, 200.0),
    st.sampled_from([0.0, 100.0, 1e308, -1e308]),
)


@st.composite
def chain_cases(draw: st.DrawFn) -> tuple[dict[str, Any], int | None, list[list[float]]]:
    lo = draw(st.floats(-150.0, 50.0))
    params: dict[str, Any] = {
        "filter_min": draw(st.one_of(st.none(), st.just(lo))),
        "filter_max": draw(st.one_of(st.none(), st.floats(50.0, 1e300))),
        "scale": draw(st.sampled_from([1.0, 0.5, -3.0, 1e300])),
        "offset": draw(st.sampled_from([0.0, 273.15, -1.0])),
        "window_size": draw(st.integers(1, 8)),
        "window_time_s": draw(st.sampled_from([None, 0.5, 3.0])),
    }
    if draw(st.booleans()):
        params.update(range_min=-10.0, range_max=10.0, clamp=draw(st.booleans()))
    every = draw(st.sampled_from([None, 1, 2, 3, 5, 64]))
    batches = draw(st.lists(st.lists(VALUES, max_size=12), max_size=16))
    return params, every, batches


def figures(chain: Chain, registry: CollectorRegistry) -> tuple[Any, ...]:
    window = chain.window
    assert window is not None
    return (
        [(s.records_in, s.records_out, dict(s.dropped)) for s in chain.stages],
        window.last,
        len(window),
        [s.timer.countdown for s in chain.stages if s.timer is not None],
        [
            registry.get_sample_value("sensord_step_duration_seconds_count", {"step": step})
            for step in ("filter", "normalize", "window")
        ],
    )


def built(params: dict[str, Any], every: int | None) -> tuple[Chain, CollectorRegistry]:
    chain = Chain.build(**params)
    registry = CollectorRegistry()
    if every is not None:
        histogram = make_step_histogram(registry)
        chain.instrument(lambda step: step_timer(histogram, step, every))
    return chain, registry


@settings(max_examples=300, deadline=None)
@given(chain_cases())
def test_drain_values_matches_drain(
    case: tuple[dict[str, Any], int | None, list[list[float]]],
) -> None:
    params, every, batches = case
    fused, fused_registry = built(params, every)
    plain, plain_registry = built(params, every)
    for i, values in enumerate(batches):
        if len(values) == 1:
            fused.drain_value(values[0], "s", "c", i * 0.4, 1.7e9 + i)
        else:
            fused.drain_values(values, "s", "c", i * 0.4, 1.7e9 + i)
        plain.drain([Reading("s", "c", v, i * 0.4, 1.7e9 + i) for v in values])
        assert figures(fused, fused_registry) == figures(plain, plain_registry)


@pytest.mark.parametrize("poison_at", [0, 2])
def test_drain_values_counts_a_raising_stage_like_drain(poison_at: int) -> None:
    """Decimal passes the filter but Decimal * float raises in normalize: the same error drop,
    the same counts of the stages around it, the same window."""
    values: list[Any] = [1.0, 500.0, 2.0, 3.0]
    values.insert(poison_at, Decimal(3))
    chains = [Chain.build(filter_min=0.0, filter_max=100.0, window_size=4) for _ in range(2)]
    with pytest.raises(TypeError):
        chains[0].drain_values(values, "s", "c", 0.0, 0.0)
    with pytest.raises(TypeError):
        chains[1].drain([Reading("s", "c", v, 0.0, 0.0) for v in values])
    fused, plain = (
        [(s.records_in, s.records_out, dict(s.dropped)) for s in c.stages] for c in chains
    )
    assert fused == plain
    assert fused[1][2]["error"] == 1
    assert chains[0].window is not None
    assert chains[1].window is not None
    assert chains[0].window.last == chains[1].window.last


class Failing(Exception):
    pass


def failing_chain() -> Chain:
    """A chain whose window holds one reading and raises on the next."""
    chain = Chain.build(filter_min=0.0, filter_max=100.0, window_size=4)
    chain.drain([Reading("s", "c", 5.0, 0.0, 0.0)])

    def fail(value: object, at_s: float) -> None:
        raise Failing

    chain.stages[2]._add = fail  # type: ignore[attr-defined]
    chain.stages[2]._take = fail  # type: ignore[attr-defined]
    return Chain(chain.stages)  # takes the failing _take


@pytest.mark.parametrize("one", [True, False], ids=["drain_value", "drain_values"])
def test_a_window_that_raises_is_counted_like_drain(one: bool) -> None:
    fused, plain = failing_chain(), failing_chain()

    def push() -> None:
        if one:
            fused.drain_value(7.0, "s", "c", 1.0, 1.0)
        else:
            fused.drain_values([7.0], "s", "c", 1.0, 1.0)

    with pytest.raises(Failing):
        push()
    with pytest.raises(Failing):
        plain.drain([Reading("s", "c", 7.0, 1.0, 1.0)])
    counts = [
        [(s.records_in, s.records_out, dict(s.dropped)) for s in c.stages] for c in (fused, plain)
    ]
    assert counts[0] == counts[1]
    assert counts[0][2] == (2, 1, {"error": 1})
    assert fused.window is not None
    assert plain.window is not None
    assert fused.window.last == plain.window.last


@pytest.mark.parametrize("every", [1, 2, 3])
@pytest.mark.parametrize("size", [1, 3, 5])
def test_a_window_that_raises_on_its_timing_sample_keeps_every_stage_balanced(
    every: int, size: int
) -> None:
    """The window fails when it takes the values before its sample, or the sample itself:
    the error reaches the caller, and every value that entered a stage left it or is counted
    as dropped (the window's failures as ``error``)."""
    chain = failing_chain()
    registry = CollectorRegistry()
    histogram = make_step_histogram(registry)
    chain.instrument(lambda step: step_timer(histogram, step, every))
    with pytest.raises(Failing):
        chain.drain_values([7.0 + k for k in range(size)], "s", "c", 1.0, 1.0)
    flt, norm, win = chain.stages
    assert [s.imbalance for s in chain.stages] == [0, 0, 0]
    assert flt.records_in >= 1
    assert norm.records_out == win.records_in  # what normalize passed on reached the window
    assert win.records_out == 1  # the reading failing_chain's window took
    assert win.dropped["error"] == win.records_in - 1 >= 1


def test_a_window_step_interrupted_after_taking_its_values_takes_none_twice() -> None:
    """KeyboardInterrupt in the window's take of the values before its sample, after it took
    them: the batch ends, and the window does not take them again on the way out."""
    chain = Chain.build(filter_min=0.0, filter_max=100.0, window_size=10)
    window = chain.stages[2]
    assert isinstance(window, Window)
    real = window._take
    calls: list[list[float]] = []

    def take(values: list[float], at_s: float) -> None:
        calls.append(list(values))
        real(values, at_s)
        if len(calls) == 1:
            raise KeyboardInterrupt

    window._take = take  # type: ignore[method-assign]
    chain = Chain(chain.stages)  # takes the patched _take
    registry = CollectorRegistry()
    histogram = make_step_histogram(registry)
    chain.instrument(lambda step: step_timer(histogram, step, 3))
    with pytest.raises(KeyboardInterrupt):
        chain.drain_values([1.0, 2.0, 3.0, 4.0], "s", "c", 1.0, 1.0)
    assert calls == [[1.0, 2.0]]
    assert len(window) == 2
    norm = chain.stages[1]
    assert norm.records_out <= norm.records_in


def test_a_frame_sensor_ends_with_the_figures_of_reading_by_reading_drains() -> None:
    """64 frames of a PMS5003 (some out of its channels' filters' range) fed in chunks of 1 to
    5 frames: every step's counters and every channel's window equal those of a sensor whose
    chains take each chunk's readings through Chain.drain (the generators)."""
    config = parse_config(
        '[[sensors]]\nname = "pm"\nport = "sim://pm"\npreset = "pms5003"\n'
        '[[sensors.channels]]\nname = "pm2_5_ug_m3"\nfilter = { max = 1000 }\n'
        '[[sensors.channels]]\nname = "pm10_ug_m3"\nfilter = { min = 100, max = 1200 }\n'
        '[[sensors.channels]]\nname = "particles_0_3um_per_dl"\n'
        "[metrics]\nstep_timing_sample_every = 5\n"
    ).sensors[0]
    registry = CollectorRegistry()
    histogram = make_step_histogram(registry)
    runtimes = [
        SensorRuntime(config, clock=lambda: 5.0, wall_clock=lambda: 1.7e9) for _ in range(2)
    ]
    for runtime in runtimes:
        runtime.instrument(lambda step: step_timer(histogram, step, 5))
        runtime.state = "up"
    for ch in runtimes[1].channels.values():
        ch.chain._fused = None  # drain_values falls back to drain over Readings
    frames = []
    for i in range(64):
        values = [(i * 97 + k * 331) % 1500 for k in range(13)]
        frames.append(pms_frame(values))
    stream = b"".join(frames)
    at = 0
    for size in [1, 3, 5, 2, 4] * 13:
        chunk = stream[at : at + size * 32]
        at += size * 32
        for runtime in runtimes:
            runtime.feed(chunk)
    fused, plain = (runtime.snapshot() for runtime in runtimes)
    assert fused.frames == plain.frames == 64
    assert fused.steps == plain.steps
    assert fused.parse_errors == plain.parse_errors
    assert fused.parse_errors["range"] > 0
    assert fused.channels == plain.channels
    assert all(ch.stats is not None and not math.isnan(ch.stats.mean) for ch in fused.channels)


def test_chains_that_build_does_not_make_take_the_plain_path() -> None:
    chain = Chain.build(window_size=3)
    short = Chain(chain.stages[:2])
    short.drain_values([1.0, 2.0], "s", "c", 0.0, 0.0)
    assert [s.records_in for s in short.stages] == [2, 2]
    reordered = Chain([chain.stages[1], chain.stages[0], chain.stages[2]])
    assert reordered._fused is None
