"""Stage metrics: exact record counters, sampled step latency, and the Prometheus export.

This is the only module that imports ``prometheus_client``.

Counting and timing are split by cost:

* every stage counts every record exactly in plain integers (``StepCounters``), kept in
  local variables while a batch runs and added to the stage when the batch ends;
* ``@timed_step`` times a *sample* of the records (1 in ``sample_every``, default 64) into the
  ``sensord_step_duration_seconds`` histogram. Timing every record would cost most of a
  stage's throughput; a sample gives the same latency distribution at a small fraction.

The histogram's label child is bound once when a stage is instrumented; nothing is looked up
per record.
"""

from __future__ import annotations

import functools
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import TYPE_CHECKING, Any, ClassVar, Protocol, TypeVar

from prometheus_client import (
    CollectorRegistry,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import choose_encoder
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from sensord.sensor import SensorRuntime

__all__ = [
    "DEFAULT_SAMPLE_EVERY",
    "STEP_DURATION_BUCKETS",
    "MetricsRegistry",
    "SensordCollector",
    "StepCounters",
    "StepTimer",
    "make_step_histogram",
    "merge_expositions",
    "render_families",
    "timed_step",
]

DEFAULT_SAMPLE_EVERY = 64

#: Microsecond-resolution buckets, 1 us .. 100 ms.
STEP_DURATION_BUCKETS = (
    1e-6,
    2.5e-6,
    5e-6,
    1e-5,
    2.5e-5,
    5e-5,
    1e-4,
    2.5e-4,
    5e-4,
    1e-3,
    2.5e-3,
    1e-2,
    1e-1,
)


def make_step_histogram(registry: CollectorRegistry) -> Histogram:
    return Histogram(
        "sensord_step_duration_seconds",
        "Time a pipeline step spends on one record (sampled: 1 record in "
        "metrics.step_timing_sample_every is timed)",
        ["step"],
        buckets=STEP_DURATION_BUCKETS,
        registry=registry,
    )


class StepTimer:
    """The sampling state of one instrumented stage: a bound ``observe`` and a countdown."""

    __slots__ = ("countdown", "every", "observe")

    def __init__(self, observe: Callable[[float], None], every: int) -> None:
        if every < 1:
            raise ValueError(f"sample_every must be >= 1, got {every}")
        self.observe = observe
        self.every = every
        self.countdown = every

    @classmethod
    def for_step(cls, histogram: Histogram, step: str, every: int) -> StepTimer:
        return cls(histogram.labels(step=step).observe, every)


class StepCounters(ABC):
    """Base of a pipeline stage: exact record accounting, ``in == out + sum(dropped)``.

    ``dropped`` has one entry per reason in ``drop_reasons`` plus ``error``: a record that was
    inside the stage when the stage raised.
    """

    step: ClassVar[str] = "step"
    drop_reasons: ClassVar[tuple[str, ...]] = ()

    def __init__(self) -> None:
        self.records_in = 0
        self.records_out = 0
        self.dropped: dict[str, int] = dict.fromkeys((*self.drop_reasons, "error"), 0)
        self.timer: StepTimer | None = None

    @abstractmethod
    def process(self, stream: Iterable[Any]) -> Iterator[Any]:
        """Transform ``stream`` lazily (a generator); count every record."""

    def instrument(self, timer: StepTimer | None) -> None:
        """Attach (or with None, detach) a latency sampler."""
        self.timer = timer

    def settle(self, n_in: int, n_out: int, **drops: int) -> None:
        """Add one batch's counts. A record counted in but neither out nor dropped is an error."""
        self.records_in += n_in
        self.records_out += n_out
        accounted = n_out
        if drops:
            dropped = self.dropped
            for reason, n in drops.items():
                if n:
                    dropped[reason] += n
                    accounted += n
        if accounted != n_in:
            self.dropped["error"] += n_in - accounted

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())


_P = TypeVar("_P", bound=StepCounters)
_ProcessFn = Callable[[_P, Iterable[Any]], Iterator[Any]]


def timed_step(process: _ProcessFn[_P]) -> _ProcessFn[_P]:
    """Decorate a stage's ``process(self, stream)`` generator method with sampled timing.

    With no timer attached the undecorated generator is returned as is: an uninstrumented
    stage pays one attribute check per batch, nothing per record. With a timer, each sampled
    record is timed from the moment the stage receives it until the stage yields its result
    or asks for the next input (a drop): exclusive of upstream and downstream work.
    """

    @functools.wraps(process)
    def wrapper(self: _P, stream: Iterable[Any]) -> Iterator[Any]:
        timer = self.timer
        if timer is None:
            return process(self, stream)
        return _timed(process, self, stream, timer)

    return wrapper


def _timed(
    process: _ProcessFn[_P], stage: _P, stream: Iterable[Any], timer: StepTimer
) -> Iterator[Any]:
    clock = time.perf_counter
    observe = timer.observe
    every = timer.every
    countdown = timer.countdown
    started = 0.0  # > 0 while a sampled record is inside the stage

    def feed() -> Iterator[Any]:
        nonlocal countdown, started
        for record in stream:
            if started:
                observe(clock() - started)
                started = 0.0
            countdown -= 1
            if not countdown:
                countdown = every
                started = clock()
            yield record

    try:
        for out in process(stage, feed()):
            if started:
                observe(clock() - started)
                started = 0.0
            yield out
        if started:
            observe(clock() - started)
    finally:
        timer.countdown = countdown


# -- export ------------------------------------------------------------------------------------


class DaemonView(Protocol):
    """What the collector reads from the running daemon (duck-typed to avoid import cycles)."""

    def sensor_runtimes(self) -> Sequence[SensorRuntime]: ...

    @property
    def reload_successful(self) -> bool: ...

    @property
    def reload_success_timestamp_s(self) -> float: ...


class SensordCollector(Collector):
    """Turns the daemon's plain counters and latest values into metric families at scrape time.

    Everything per sensor or per channel comes from here, so a sensor removed by a reload
    leaves no stale series behind.
    """

    def __init__(self, view: DaemonView, version: str) -> None:
        self._view = view
        self._version = version

    def describe(self) -> Iterable[Metric]:
        return []  # families are dynamic; nothing to check at registration

    def collect(self) -> Iterable[Metric]:
        sensors = self._view.sensor_runtimes()
        build = GaugeMetricFamily(
            "sensord_build_info", "sensord version (value is always 1)", labels=["version"]
        )
        build.add_metric([self._version], 1)
        yield build
        reload_ok = GaugeMetricFamily(
            "sensord_config_last_reload_successful",
            "1 if the last configuration load or reload succeeded",
        )
        reload_ok.add_metric([], 1 if self._view.reload_successful else 0)
        yield reload_ok
        reload_ts = GaugeMetricFamily(
            "sensord_config_last_reload_success_timestamp_seconds",
            "Unix time of the last successful configuration load or reload",
        )
        reload_ts.add_metric([], self._view.reload_success_timestamp_s)
        yield reload_ts

        s = ["sensor"]
        up = GaugeMetricFamily(
            "sensord_sensor_up", "1 if the port is open and frames are fresh", labels=s
        )
        simulated = GaugeMetricFamily(
            "sensord_sensor_simulated", "1 if the sensor reads a simulated port", labels=s
        )
        state = GaugeMetricFamily(
            "sensord_sensor_state",
            "Current state of the sensor (1 for the current one)",
            labels=["sensor", "state"],
        )
        age = GaugeMetricFamily(
            "sensord_sensor_last_frame_age_seconds",
            "Seconds since the last frame (absent before the first frame)",
            labels=s,
        )
        reconnects = CounterMetricFamily(
            "sensord_serial_reconnects", "Times the port was reopened after being lost", labels=s
        )
        open_failures = CounterMetricFamily(
            "sensord_serial_open_failures", "Failed attempts to open the port", labels=s
        )
        frames = CounterMetricFamily("sensord_frames", "Frames cut from the byte stream", labels=s)
        ignored = CounterMetricFamily(
            "sensord_frames_ignored",
            "Frames that carry none of the configured channels (other NMEA sentences, headers)",
            labels=s,
        )
        bytes_read = CounterMetricFamily("sensord_read_bytes", "Bytes read from the port", labels=s)
        parse_errors = CounterMetricFamily(
            "sensord_parse_errors",
            "Frames (syntax, checksum, encoding, overlong) or readings (nonfinite, range) rejected",
            labels=["sensor", "reason"],
        )
        poll_timeouts = CounterMetricFamily(
            "sensord_poll_timeouts", "Poll requests that got no response in time", labels=s
        )
        pipeline_errors = CounterMetricFamily(
            "sensord_pipeline_errors",
            "Unexpected errors while processing frames (a failing stage resets its sensor)",
            labels=s,
        )
        sst = ["sensor", "step"]
        step_in = CounterMetricFamily(
            "sensord_step_records_in", "Records that entered a pipeline step", labels=sst
        )
        step_out = CounterMetricFamily(
            "sensord_step_records_out", "Records that left a pipeline step", labels=sst
        )
        step_dropped = CounterMetricFamily(
            "sensord_step_dropped",
            "Records a pipeline step dropped, by reason",
            labels=["sensor", "step", "reason"],
        )
        sc = ["sensor", "channel"]
        value = GaugeMetricFamily("sensord_reading_value", "Latest normalized reading", labels=sc)
        stamp = GaugeMetricFamily(
            "sensord_reading_timestamp_seconds", "Unix time of the latest reading", labels=sc
        )
        w_mean = GaugeMetricFamily("sensord_window_mean", "Mean over the sliding window", labels=sc)
        w_min = GaugeMetricFamily(
            "sensord_window_min", "Minimum over the sliding window", labels=sc
        )
        w_max = GaugeMetricFamily(
            "sensord_window_max", "Maximum over the sliding window", labels=sc
        )
        w_std = GaugeMetricFamily(
            "sensord_window_stddev",
            "Population standard deviation over the sliding window",
            labels=sc,
        )
        w_n = GaugeMetricFamily(
            "sensord_window_samples", "Readings currently in the sliding window", labels=sc
        )

        now = time.monotonic()
        for sensor in sensors:
            name = sensor.name
            up.add_metric([name], 1 if sensor.state == "up" else 0)
            simulated.add_metric([name], 1 if sensor.simulated else 0)
            for st in _STATES:
                state.add_metric([name, st], 1 if sensor.state == st else 0)
            if sensor.last_frame_at is not None:
                age.add_metric([name], max(0.0, now - sensor.last_frame_at))
            reconnects.add_metric([name], sensor.reconnects)
            open_failures.add_metric([name], sensor.open_failures)
            frames.add_metric([name], sensor.framer.frames)
            ignored.add_metric([name], sensor.ignored)
            bytes_read.add_metric([name], sensor.bytes_read)
            poll_timeouts.add_metric([name], sensor.poll_timeouts)
            pipeline_errors.add_metric([name], sensor.pipeline_errors)
            errors = dict(sensor.parse_errors)
            errors["overlong"] = sensor.framer.overlong
            totals: dict[str, list[int]] = {}
            drops: dict[tuple[str, str], int] = {}
            for ch in sensor.channels.values():
                for stage in ch.chain.stages:
                    t = totals.setdefault(stage.step, [0, 0])
                    t[0] += stage.records_in
                    t[1] += stage.records_out
                    for reason, n in stage.dropped.items():
                        drops[(stage.step, reason)] = drops.get((stage.step, reason), 0) + n
                        if reason in errors:  # range and nonfinite drops of the stages
                            errors[reason] += n
                stats = ch.chain.window.last if ch.chain.window is not None else None
                labels = [name, ch.name]
                if stats is not None:
                    # the window holds the latest reading that came through every stage
                    value.add_metric(labels, stats.reading.value)
                    stamp.add_metric(labels, stats.reading.wall_s)
                    w_mean.add_metric(labels, stats.mean)
                    w_min.add_metric(labels, stats.min)
                    w_max.add_metric(labels, stats.max)
                    w_std.add_metric(labels, stats.stddev)
                    w_n.add_metric(labels, stats.count)
            for reason, n in errors.items():
                parse_errors.add_metric([name, reason], n)
            for step, (n_in, n_out) in totals.items():
                step_in.add_metric([name, step], n_in)
                step_out.add_metric([name, step], n_out)
            for (step, reason), n in drops.items():
                step_dropped.add_metric([name, step, reason], n)
        yield from (
            up, simulated, state, age, reconnects, open_failures, frames, ignored, bytes_read,
            parse_errors, poll_timeouts, pipeline_errors, step_in, step_out, step_dropped,
            value, stamp, w_mean, w_min, w_max, w_std, w_n,
        )  # fmt: skip


_STATES = ("opening", "up", "stale", "down", "stopped")


class MetricsRegistry:
    """The daemon's registry: process metrics, the step histogram and the collector."""

    def __init__(self, view: DaemonView, version: str, sample_every: int) -> None:
        self.registry = CollectorRegistry(auto_describe=False)
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        self.step_histogram = make_step_histogram(self.registry)
        self.sample_every = sample_every
        self.registry.register(SensordCollector(view, version))

    def timer_for(self) -> Callable[[str], StepTimer] | None:
        """A factory of step timers for ``Chain.instrument`` (None when timing is off)."""
        if self.sample_every <= 0:
            return None
        histogram, every = self.step_histogram, self.sample_every
        return lambda step: StepTimer.for_step(histogram, step, every)

    def render(self, accept: str | None) -> tuple[bytes, str]:
        """The exposition for an HTTP ``Accept`` header: OpenMetrics if asked for, else text."""
        encoder, content_type = choose_encoder(accept or "")
        return encoder(self.registry), content_type


# -- merging expositions (sensord run --workers) -----------------------------------------------

OwnFamily = tuple[str, str, str, list[tuple[dict[str, str], float]]]


def merge_expositions(
    texts: Sequence[tuple[str, str]],
    process_wide_prefixes: tuple[str, ...],
    drop: tuple[str, ...],
    own: Sequence[OwnFamily],
) -> list[Metric]:
    """Merge workers' text expositions into one set of families.

    ``texts`` are ``(worker, exposition)`` pairs. Families whose name starts with one of
    ``process_wide_prefixes`` get a ``worker`` label (each process has its own); families named
    in ``drop`` are left out (the caller reports them itself, in ``own``: ``(name, type, help,
    [(labels, value)])``). Everything else is per sensor and is passed through unchanged.
    """
    families: dict[str, Metric] = {}
    for name, kind, documentation, samples in own:
        family = Metric(name, documentation, kind)
        sample_name = name + "_total" if kind == "counter" else name
        for labels, value in samples:
            family.add_sample(sample_name, labels, value)
        families[name] = family
    for worker, text in texts:
        for parsed in text_string_to_metric_families(text):
            if parsed.name in drop:
                continue
            tagged = parsed.name.startswith(process_wide_prefixes)
            merged = families.get(parsed.name)
            if merged is None:
                merged = Metric(parsed.name, parsed.documentation, parsed.type, parsed.unit)
                families[parsed.name] = merged
            for sample in parsed.samples:
                labels = {**sample.labels, "worker": worker} if tagged else sample.labels
                merged.samples.append(sample._replace(labels=labels))
    return list(families.values())


class _Families(Collector):
    def __init__(self, families: Sequence[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return self._families


def render_families(families: Sequence[Metric], accept: str | None) -> tuple[bytes, str]:
    """The exposition of ready-made families for an HTTP ``Accept`` header."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Families(families))
    encoder, content_type = choose_encoder(accept or "")
    return encoder(registry), content_type
