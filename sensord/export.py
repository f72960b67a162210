"""The Prometheus export: the registry, the step-latency histogram, the collector that renders
sensor snapshots into metric families at scrape time, and the merge of worker expositions.

This is the only module that imports ``prometheus_client``. Stages know nothing of it
(``sensord.stage``): they count in plain integers and time into a plain ``observe`` callable,
which ``MetricsRegistry.timer_for`` binds to a histogram child once per stage.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from prometheus_client import (
    CollectorRegistry,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from sensord.sensor import RTT_BUCKETS_S, STATES, ModbusSnapshot, SensorSnapshot
from sensord.stage import StepTimer

__all__ = [
    "STEP_DURATION_BUCKETS",
    "MetricsRegistry",
    "SensordCollector",
    "make_step_histogram",
    "merge_expositions",
    "render_families",
    "step_timer",
]

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


def step_timer(histogram: Histogram, step: str, every: int) -> StepTimer:
    """A sampler for one step whose ``observe`` is the histogram's child for ``step``, bound
    once here and never looked up per record."""
    return StepTimer(histogram.labels(step=step).observe, every)


class DaemonView(Protocol):
    """What the collector reads from the running process."""

    def sensor_snapshots(self) -> Sequence[SensorSnapshot]: ...

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
        sensors = self._view.sensor_snapshots()
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
        line_errors = CounterMetricFamily(
            "sensord_serial_line_errors",
            "Line errors the kernel counted on the port since it was opened (TIOCGICOUNT): "
            "frame, overrun, parity, break, buffer_overrun; absent when the driver keeps none",
            labels=["sensor", "kind"],
        )
        frames = CounterMetricFamily("sensord_frames", "Frames cut from the byte stream", labels=s)
        ignored = CounterMetricFamily(
            "sensord_frames_ignored",
            "Frames that carry none of the configured channels (other NMEA sentences, headers)",
            labels=s,
        )
        bytes_read = CounterMetricFamily("sensord_read_bytes", "Bytes read from the port", labels=s)
        skipped = CounterMetricFamily(
            "sensord_skipped_bytes",
            "Bytes dropped to resynchronise on a frame's start (noise before an NMEA '$', "
            "garbage or rejected candidates between binary frames)",
            labels=s,
        )
        parse_errors = CounterMetricFamily(
            "sensord_parse_errors",
            "Frames (syntax, checksum, encoding, overlong, truncated) or readings (nonfinite, "
            "range) rejected",
            labels=["sensor", "reason"],
        )
        poll_timeouts = CounterMetricFamily(
            "sensord_poll_timeouts", "Poll requests that got no response in time", labels=s
        )
        ack_errors = CounterMetricFamily(
            "sensord_setup_ack_errors",
            "Set-up commands the device did not acknowledge, by reason (missing, wrong)",
            labels=["sensor", "reason"],
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

        for snap in sensors:
            name = snap.name
            up.add_metric([name], 1 if snap.up else 0)
            simulated.add_metric([name], 1 if snap.simulated else 0)
            for st in STATES:
                state.add_metric([name, st], 1 if snap.state == st else 0)
            if snap.last_frame_age_s is not None:
                age.add_metric([name], snap.last_frame_age_s)
            reconnects.add_metric([name], snap.reconnects)
            open_failures.add_metric([name], snap.open_failures)
            if snap.line_errors is not None:
                for kind, n in snap.line_errors.items():
                    line_errors.add_metric([name, kind], n)
            frames.add_metric([name], snap.frames)
            ignored.add_metric([name], snap.ignored_frames)
            bytes_read.add_metric([name], snap.bytes_read)
            skipped.add_metric([name], snap.skipped_bytes)
            poll_timeouts.add_metric([name], snap.poll_timeouts)
            pipeline_errors.add_metric([name], snap.pipeline_errors)
            for reason, n in snap.setup_ack_errors.items():
                ack_errors.add_metric([name, reason], n)
            for reason, n in snap.parse_errors.items():
                parse_errors.add_metric([name, reason], n)
            for step, totals in snap.steps.items():
                step_in.add_metric([name, step], totals.records_in)
                step_out.add_metric([name, step], totals.records_out)
                for reason, n in totals.dropped.items():
                    step_dropped.add_metric([name, step, reason], n)
            for ch in snap.channels:
                stats = ch.stats
                if stats is None:
                    continue
                labels = [name, ch.name]
                value.add_metric(labels, stats.reading.value)
                stamp.add_metric(labels, stats.reading.wall_s)
                w_mean.add_metric(labels, stats.mean)
                w_min.add_metric(labels, stats.min)
                w_max.add_metric(labels, stats.max)
                w_std.add_metric(labels, stats.stddev)
                w_n.add_metric(labels, stats.count)
        yield from (
            up, simulated, state, age, reconnects, open_failures, line_errors, frames, ignored,
            skipped, bytes_read, parse_errors, poll_timeouts, ack_errors, pipeline_errors, step_in,
            step_out,
            step_dropped,
            value, stamp, w_mean, w_min, w_max, w_std, w_n,
        )  # fmt: skip
        yield from _modbus_families([(s.name, s.modbus) for s in sensors if s.modbus is not None])


def _modbus_families(devices: list[tuple[str, ModbusSnapshot]]) -> Iterable[Metric]:
    """The exchanges of the Modbus devices (absent when there are none)."""
    if not devices:
        return
    s = ["sensor"]
    transactions = CounterMetricFamily(
        "sensord_modbus_transactions", "Requests answered by the device", labels=s
    )
    timeouts = CounterMetricFamily(
        "sensord_modbus_timeouts", "Requests that got no response in time", labels=s
    )
    errors = CounterMetricFamily(
        "sensord_modbus_errors",
        "Frames that did not answer the request in flight (crc, unit, function, length, late) "
        "and requests the port did not take (write)",
        labels=["sensor", "reason"],
    )
    exceptions = CounterMetricFamily(
        "sensord_modbus_exceptions",
        "Exception responses, by exception code",
        labels=["sensor", "code"],
    )
    splits = CounterMetricFamily(
        "sensord_modbus_split_reads",
        "Merged reads split into one read per value after the device refused them",
        labels=s,
    )
    device_down = GaugeMetricFamily(
        "sensord_modbus_device_down",
        "1 while the device is quarantined after repeated timeouts",
        labels=s,
    )
    rtt = HistogramMetricFamily(
        "sensord_modbus_round_trip_seconds",
        "Time from a request to its response (every exchange)",
        labels=s,
    )
    for name, snap in devices:
        transactions.add_metric([name], snap.transactions)
        timeouts.add_metric([name], snap.timeouts)
        for reason, n in snap.errors.items():
            errors.add_metric([name, reason], n)
        for code, n in sorted(snap.exceptions.items()):
            exceptions.add_metric([name, str(code)], n)
        splits.add_metric([name], snap.splits)
        device_down.add_metric([name], 1 if snap.device == "down" else 0)
        buckets: list[tuple[str, float]] = []
        total = 0
        for bound, n in zip(RTT_BUCKETS_S, snap.rtt_counts, strict=False):
            total += n
            buckets.append((repr(bound), total))
        total += snap.rtt_counts[-1]
        buckets.append(("+Inf", total))
        rtt.add_metric([name], buckets, snap.rtt_sum_s)
    yield from (transactions, timeouts, errors, exceptions, splits, device_down, rtt)


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
        return lambda step: step_timer(histogram, step, every)

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
