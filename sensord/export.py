"""The Prometheus export: the registry, the step-latency histogram, the collector that renders
sensor snapshots into metric families at scrape time, and the merge of worker expositions.

This is the only module that imports ``prometheus_client``. Stages know nothing of it
(``sensord.stage``): they count in plain integers and time into a plain ``observe`` callable,
which ``MetricsRegistry.timer_for`` binds to a histogram child once per stage.
"""

from __future__ import annotations

import math
import re
from bisect import bisect_left
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol, cast

from prometheus_client import (
    CollectorRegistry,
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
from prometheus_client.openmetrics.exposition import generate_latest as openmetrics_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString as _untyped_go_float

from sensord.log_output import dropped_lines
from sensord.sensor import STATES
from sensord.snapshot import SensorSnapshot
from sensord.stage import StepTimer

if TYPE_CHECKING:  # loaded with the first Modbus device
    from sensord.modbus_state import ModbusSnapshot

__all__ = [
    "PRIMARY_WORKER_LABEL",
    "RESTART_NEEDED_HELP",
    "STEP_DURATION_BUCKETS",
    "Exposition",
    "MetricsRegistry",
    "RestartCollector",
    "SensordCollector",
    "StepDurations",
    "StepHistogram",
    "make_step_histogram",
    "merge_expositions",
    "process_registry",
    "render_families",
    "step_timer",
]

#: Buckets from 100 ns to 100 ms: a sample in a fused batch times a stage's own work on one
#: value (a filter's comparison, a normalize's multiply-add: a few hundred ns with the clock
#: reads), one through the stages' generators a few microseconds.
STEP_DURATION_BUCKETS = (
    1e-7,
    2.5e-7,
    5e-7,
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


class StepDurations:
    """One step's sampled durations: a count per bucket of ``STEP_DURATION_BUCKETS`` (the
    last: above them all) and their sum. ``observe`` runs on the reader thread, without a
    lock: a scrape copies the counts in one step, so its buckets always agree with each other
    and its sum may lag them by the one sample being observed."""

    __slots__ = ("counts", "sum")

    def __init__(self) -> None:
        self.counts = [0] * (len(STEP_DURATION_BUCKETS) + 1)
        self.sum = 0.0

    def observe(self, seconds: float) -> None:
        self.sum += seconds
        self.counts[bisect_left(STEP_DURATION_BUCKETS, seconds)] += 1


class StepHistogram(Collector):
    """``sensord_step_duration_seconds{step}``: each step's :class:`StepDurations`, made into
    a histogram family at scrape time. A sample costs a bisection and two additions, where
    prometheus-client's ``Histogram.observe`` takes two locks (five times as long here)."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self._steps: dict[str, StepDurations] = {}
        if registry is not None:
            registry.register(self)

    def labels(self, step: str) -> StepDurations:
        """The durations of ``step`` (made on first use)."""
        durations = self._steps.get(step)
        if durations is None:
            durations = self._steps.setdefault(step, StepDurations())
        return durations

    def collect(self) -> Iterable[Metric]:
        family = HistogramMetricFamily(
            "sensord_step_duration_seconds",
            "Time a pipeline step spends on one record (sampled: 1 record in "
            "metrics.step_timing_sample_every is timed)",
            labels=["step"],
        )
        for step, durations in sorted(self._steps.items()):
            buckets = _cumulative_buckets(STEP_DURATION_BUCKETS, list(durations.counts))
            family.add_metric([step], buckets, durations.sum)
        yield family


def _cumulative_buckets(bounds: Sequence[float], counts: Sequence[int]) -> list[tuple[str, float]]:
    """A histogram family's ``(le, count)`` buckets from counts per bucket of ``bounds`` (one
    more count at the end: above them all)."""
    buckets: list[tuple[str, float]] = []
    total = 0
    for bound, n in zip(bounds, counts, strict=False):
        total += n
        buckets.append((_go_float(bound), total))
    buckets.append(("+Inf", total + counts[-1]))
    return buckets


def make_step_histogram(registry: CollectorRegistry) -> StepHistogram:
    return StepHistogram(registry)


def step_timer(histogram: StepHistogram, step: str, every: int) -> StepTimer:
    """A sampler for one step whose ``observe`` is the histogram's child for ``step``, bound
    once here and never looked up per record."""
    return StepTimer(histogram.labels(step=step).observe, every)


#: ``sensord_log_lines_dropped_total``: a process-wide counter (with ``--workers``, one a process).
LOG_DROPPED = "sensord_log_lines_dropped"
LOG_DROPPED_HELP = (
    "Log lines this process dropped because the log stream (journald, a pipe) did not take "
    "them: while it stalled and the queue was full, or a write failed"
)

#: ``sensord_restart_needed``: 1 once the package on disk is not the running one.
RESTART_NEEDED_HELP = "1 when the installed sensord package differs from the running one"


class RestartCollector(Collector):
    """``sensord_restart_needed`` from ``needed``, asked at each scrape (it reads a few small
    files: ``sensord.build``)."""

    def __init__(self, needed: Callable[[], bool]) -> None:
        self._needed = needed

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterable[Metric]:
        family = GaugeMetricFamily("sensord_restart_needed", RESTART_NEEDED_HELP)
        family.add_metric([], 1 if self._needed() else 0)
        yield family


class DaemonView(Protocol):
    """What the collector reads from the running process."""

    def sensor_snapshots(self) -> Sequence[SensorSnapshot]: ...

    @property
    def reload_successful(self) -> bool: ...

    @property
    def reload_success_timestamp_s(self) -> float: ...


class RowFamily(Metric):
    """A gauge or counter family of sensord's own, its samples kept as rows of label values
    and a value. ``Exposition`` writes the rows without making a ``Sample`` (and its label
    dict) per row; anything else reading ``samples`` (the encoders, a merge) gets them made on
    first use, the same as ``GaugeMetricFamily`` / ``CounterMetricFamily`` would have held."""

    def __init__(self, name: str, documentation: str, kind: str, labels: Sequence[str]) -> None:
        self._samples: list[Sample] | None = None
        super().__init__(name, documentation, kind)
        self.label_names = tuple(labels)
        #: the name of every sample: a counter's carries ``_total``
        self.sample_name = name + "_total" if kind == "counter" else name
        self.rows: list[tuple[tuple[str, ...], float]] = []

    def add_metric(self, labels: Sequence[str], value: float) -> None:
        self.rows.append((tuple(labels), value))

    @property
    def samples(self) -> list[Sample]:
        if self._samples is None:
            names, sample_name = self.label_names, self.sample_name
            self._samples = [
                Sample(sample_name, dict(zip(names, values, strict=True)), value)
                for values, value in self.rows
            ]
        return self._samples

    @samples.setter
    def samples(self, samples: list[Sample]) -> None:
        self._samples = samples or None


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
        log_dropped = CounterMetricFamily(LOG_DROPPED, LOG_DROPPED_HELP)
        log_dropped.add_metric([], dropped_lines())
        yield log_dropped

        s = ["sensor"]
        up = RowFamily(
            "sensord_sensor_up", "1 if the port is open and frames are fresh", "gauge", s
        )
        simulated = RowFamily(
            "sensord_sensor_simulated", "1 if the sensor reads a simulated port", "gauge", s
        )
        state = RowFamily(
            "sensord_sensor_state",
            "Current state of the sensor (1 for the current one)",
            "gauge",
            ["sensor", "state"],
        )
        age = RowFamily(
            "sensord_sensor_last_frame_age_seconds",
            "Seconds since the last frame (absent before the first frame)",
            "gauge",
            s,
        )
        reconnects = RowFamily(
            "sensord_serial_reconnects",
            "Times the port was reopened after being lost",
            "counter",
            s,
        )
        open_failures = RowFamily(
            "sensord_serial_open_failures", "Failed attempts to open the port", "counter", s
        )
        shared = RowFamily(
            "sensord_port_shared",
            "1 while the device port open now was found open in another process too (a getty, "
            "a terminal program), which takes some of its bytes; found once an open, so it "
            "stays 1 until the port is opened again; the devices of one bus each show their "
            "port's",
            "gauge",
            s,
        )
        peer_shared = RowFamily(
            "sensord_port_peer_shared",
            "1 while another port of sensord reached the network peer this sensor's port "
            "reached, in this run (one gateway named two ways: a host name and its address, "
            "socket:// and modbus-tcp://): two connections to it, which it serves over each "
            "other or takes from each other",
            "gauge",
            s,
        )
        line_errors = RowFamily(
            "sensord_serial_line_errors",
            "Line errors the kernel counted on the port since it was opened (TIOCGICOUNT): "
            "frame, overrun, parity, break, buffer_overrun; on an rfc2217:// port "
            "buffer_overrun only, the bytes dropped while its receive queue was full; the "
            "devices of one bus each show their port's counts; absent when the driver keeps "
            "none",
            "counter",
            ["sensor", "kind"],
        )
        echo_bytes = RowFamily(
            "sensord_serial_echo_bytes",
            "Bytes dropped as the echo of what was written (serial.local_echo); the devices of "
            "one bus each show their port's counts",
            "counter",
            s,
        )
        echo_mismatches = RowFamily(
            "sensord_serial_echo_mismatches",
            "Echoes expected (serial.local_echo) that did not come as written: the bytes read "
            "were passed on as they came; a steady rise means the adapter does not echo",
            "counter",
            s,
        )
        frames = RowFamily("sensord_frames", "Frames cut from the byte stream", "counter", s)
        ignored = RowFamily(
            "sensord_frames_ignored",
            "Frames read without readings: frames that carry none of the configured channels "
            "(other NMEA sentences, headers), a set-up command's reply, frames during warm-up",
            "counter",
            s,
        )
        unchecked = RowFamily(
            "sensord_frames_unchecked",
            "Frames read without the integrity check their protocol has (NMEA sentences "
            "without checksum): their readings are unverified",
            "counter",
            s,
        )
        bytes_read = RowFamily(
            "sensord_read_bytes",
            "Bytes read from the port (a Modbus device: each answered exchange's request and "
            "response, as its capture holds them)",
            "counter",
            s,
        )
        skipped = RowFamily(
            "sensord_skipped_bytes",
            "Bytes dropped to resynchronise on a frame's start (noise before an NMEA '$', "
            "garbage or rejected candidates between binary frames), the partial frame pending "
            "when a poll request is written, on a reconnect or at a replay's end, and lines' "
            "NUL padding",
            "counter",
            s,
        )
        parse_errors = RowFamily(
            "sensord_parse_errors",
            "Frames (syntax, checksum, encoding, overlong, truncated, no_checksum) or readings "
            "(nonfinite, range, invalid) rejected; a checksummed NMEA sentence's malformed "
            "field, its others kept",
            "counter",
            ["sensor", "reason"],
        )
        poll_timeouts = RowFamily(
            "sensord_poll_timeouts", "Poll requests that got no response in time", "counter", s
        )
        ack_errors = RowFamily(
            "sensord_setup_ack_errors",
            "Set-up commands the device did not acknowledge, by reason (missing, wrong)",
            "counter",
            ["sensor", "reason"],
        )
        setup_reruns = RowFamily(
            "sensord_setup_reruns",
            "Runs of the set-up commands while the port stayed open: the sensor went stale, or "
            "a device set up to send only when asked sent frames unasked",
            "counter",
            s,
        )
        pipeline_errors = RowFamily(
            "sensord_pipeline_errors",
            "Unexpected errors while processing frames (a failing stage resets its sensor)",
            "counter",
            s,
        )
        sst = ["sensor", "step"]
        step_in = RowFamily(
            "sensord_step_records_in", "Records that entered a pipeline step", "counter", sst
        )
        step_out = RowFamily(
            "sensord_step_records_out", "Records that left a pipeline step", "counter", sst
        )
        step_dropped = RowFamily(
            "sensord_step_dropped",
            "Records a pipeline step dropped, by reason",
            "counter",
            ["sensor", "step", "reason"],
        )
        sc = ["sensor", "channel"]
        value = RowFamily("sensord_reading_value", "Latest normalized reading", "gauge", sc)
        stamp = RowFamily(
            "sensord_reading_timestamp_seconds", "Unix time of the latest reading", "gauge", sc
        )
        w_mean = RowFamily("sensord_window_mean", "Mean over the sliding window", "gauge", sc)
        w_min = RowFamily("sensord_window_min", "Minimum over the sliding window", "gauge", sc)
        w_max = RowFamily("sensord_window_max", "Maximum over the sliding window", "gauge", sc)
        w_std = RowFamily(
            "sensord_window_stddev",
            "Population standard deviation over the sliding window",
            "gauge",
            sc,
        )
        w_n = RowFamily(
            "sensord_window_samples", "Readings currently in the sliding window", "gauge", sc
        )

        # rows appended directly (RowFamily.add_metric's list-to-tuple per row, about 2900
        # rows a scrape for 64 sensors)
        for snap in sensors:
            name = snap.name
            one = (name,)
            up.rows.append((one, 1 if snap.up else 0))
            simulated.rows.append((one, 1 if snap.simulated else 0))
            current = snap.state
            state.rows.extend(((name, st), 1 if current == st else 0) for st in STATES)
            if snap.last_frame_age_s is not None:
                age.rows.append((one, snap.last_frame_age_s))
            reconnects.rows.append((one, snap.reconnects))
            open_failures.rows.append((one, snap.open_failures))
            shared.rows.append((one, 1 if snap.port_shared else 0))
            peer_shared.rows.append((one, 1 if snap.peer_shared else 0))
            if snap.line_errors is not None:
                for kind, n in snap.line_errors.items():
                    line_errors.rows.append(((name, kind), n))
            if snap.local_echo is not None:
                echo_bytes.rows.append((one, snap.local_echo[0]))
                echo_mismatches.rows.append((one, snap.local_echo[1]))
            frames.rows.append((one, snap.frames))
            ignored.rows.append((one, snap.ignored_frames))
            unchecked.rows.append((one, snap.unchecked_frames))
            bytes_read.rows.append((one, snap.bytes_read))
            skipped.rows.append((one, snap.skipped_bytes))
            poll_timeouts.rows.append((one, snap.poll_timeouts))
            pipeline_errors.rows.append((one, snap.pipeline_errors))
            for reason, n in snap.setup_ack_errors.items():
                ack_errors.rows.append(((name, reason), n))
            setup_reruns.rows.append((one, snap.setup_reruns))
            parse_errors.rows.extend(((name, r), n) for r, n in snap.parse_errors.items())
            for step, totals in snap.steps.items():
                labels = (name, step)
                step_in.rows.append((labels, totals.records_in))
                step_out.rows.append((labels, totals.records_out))
                for reason, n in totals.dropped.items():
                    step_dropped.rows.append(((name, step, reason), n))
            for ch in snap.channels:
                stats = ch.stats
                if stats is None:
                    continue
                labels = (name, ch.name)
                stamp.rows.append((labels, stats.reading.wall_s))
                if not ch.available:
                    # the device marks its value as not measured: no current value, and no
                    # statistics of the readings before (an inverter's evening power at night)
                    continue
                value.rows.append((labels, stats.reading.value))
                w_mean.rows.append((labels, stats.mean))
                w_min.rows.append((labels, stats.min))
                w_max.rows.append((labels, stats.max))
                w_std.rows.append((labels, stats.stddev))
                w_n.rows.append((labels, stats.count))
        yield from (
            up, simulated, state, age, reconnects, open_failures, shared, peer_shared,
            line_errors, echo_bytes, echo_mismatches, frames, ignored, unchecked, skipped,
            bytes_read, parse_errors, poll_timeouts, ack_errors, setup_reruns, pipeline_errors,
            step_in, step_out, step_dropped, value, stamp, w_mean, w_min, w_max, w_std, w_n,
        )  # fmt: skip
        yield from _modbus_families([(s.name, s.modbus) for s in sensors if s.modbus is not None])


def _modbus_families(devices: list[tuple[str, ModbusSnapshot]]) -> Iterable[Metric]:
    """The exchanges of the Modbus devices (absent when there are none)."""
    if not devices:
        return
    from sensord.modbus_state import RTT_BUCKETS_S  # noqa: PLC0415  (loaded with the first Modbus device)

    s = ["sensor"]
    transactions = CounterMetricFamily(
        "sensord_modbus_transactions",
        "Requests answered by the device (a gateway's exception 0x0A or 0x0B is not one)",
        labels=s,
    )
    timeouts = CounterMetricFamily(
        "sensord_modbus_timeouts", "Requests that got no response in time", labels=s
    )
    errors = CounterMetricFamily(
        "sensord_modbus_errors",
        "Frames that did not answer the request in flight (crc, unit, function, length, late; "
        "truncated: an answer cut off, also counted as a timeout), frames of the device's unit "
        "id while none of its requests awaited an answer (unasked) and requests the port did "
        "not take (write)",
        labels=["sensor", "reason"],
    )
    exceptions = CounterMetricFamily(
        "sensord_modbus_exceptions",
        "Exception responses, by exception code (also those after their request's timeout, "
        "which count as late errors too; not frames nobody asked for)",
        labels=["sensor", "code"],
    )
    splits = CounterMetricFamily(
        "sensord_modbus_split_reads",
        "Merged reads split (at their gaps, else in halves) after the device refused them",
        labels=s,
    )
    missed = CounterMetricFamily(
        "sensord_modbus_polls_missed",
        "Polls not made because the device fell a whole interval behind: the bus's exchanges "
        "take more of the line's time than the devices' intervals leave",
        labels=s,
    )
    device_down = GaugeMetricFamily(
        "sensord_modbus_device_down",
        "1 while the device is quarantined after repeated timeouts",
        labels=s,
    )
    rtt = HistogramMetricFamily(
        "sensord_modbus_round_trip_seconds",
        "Time from a request to its response (every exchange the device answered; a "
        "gateway's exception 0x0A or 0x0B, its own timeout, is none)",
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
        missed.add_metric([name], snap.polls_missed)
        device_down.add_metric([name], 1 if snap.device == "down" else 0)
        rtt.add_metric([name], _cumulative_buckets(RTT_BUCKETS_S, snap.rtt_counts), snap.rtt_sum_s)
    yield from (transactions, timeouts, errors, exceptions, splits, missed, device_down, rtt)


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
        return _EXPOSITION.render(self.registry.collect(), accept)


# -- merging expositions (sensord run --workers) -----------------------------------------------

OwnFamily = tuple[str, str, str, list[tuple[dict[str, str], float]]]


PRIMARY_WORKER_LABEL = "primary"


def process_registry() -> CollectorRegistry:
    """A registry of this process's ``process_*`` and ``python_*`` families alone (the
    ``--workers`` primary's own, beside its workers')."""
    registry = CollectorRegistry(auto_describe=False)
    ProcessCollector(registry=registry)
    PlatformCollector(registry=registry)
    return registry


def merge_expositions(
    texts: Sequence[tuple[str, str]],
    process_wide_prefixes: tuple[str, ...],
    drop: tuple[str, ...],
    own: Sequence[OwnFamily],
    own_process: CollectorRegistry | None = None,
    *,
    placed: Mapping[str, Collection[str]] | None = None,
) -> list[Metric]:
    """Merge workers' text expositions into one set of families.

    ``texts`` are ``(worker, exposition)`` pairs. Families whose name starts with one of
    ``process_wide_prefixes`` get a ``worker`` label (each process has its own); families named
    in ``drop`` are left out (the caller reports them itself, in ``own``: ``(name, type, help,
    [(labels, value)])``). Everything else is per sensor and is passed through unchanged.
    ``own_process`` (:func:`process_registry`) adds the caller's own process families under
    ``worker="primary"``. ``placed`` names the sensors each worker reads under the running
    configuration: a worker's series of another sensor are left out when the worker it is
    placed on reports it too (a sensor a reload moved to another worker, which the worker it
    leaves reads until it has applied the reload, so that it is never in one exposition
    twice), and kept when none does (a worker for which the reload did not apply reads it
    as before: its series are the only ones there are).
    """
    families: dict[str, Metric] = {}
    for name, kind, documentation, samples in own:
        family = Metric(name, documentation, kind)
        sample_name = name + "_total" if kind == "counter" else name
        for labels, value in samples:
            family.add_sample(sample_name, labels, value)
        families[name] = family
    parsed_texts: list[tuple[str, Iterable[Metric]]] = [
        (worker, parse_exposition(text)) for worker, text in texts
    ]
    if own_process is not None:
        parsed_texts.append((PRIMARY_WORKER_LABEL, own_process.collect()))
    home: set[str] = set()  # the sensors reported by the worker they are placed on
    if placed is not None:
        parsed_texts = [(worker, list(parsed)) for worker, parsed in parsed_texts]
        for worker, parsed_families in parsed_texts:
            mine = placed.get(worker, ())
            for parsed in parsed_families:
                for sample in parsed.samples:
                    sensor = sample.labels.get("sensor")
                    if sensor is not None and sensor in mine:
                        home.add(sensor)
    for worker, parsed_families in parsed_texts:
        allowed = None if placed is None else placed.get(worker)
        for parsed in parsed_families:
            if parsed.name in drop:
                continue
            tagged = parsed.name.startswith(process_wide_prefixes)
            merged = families.get(parsed.name)
            if merged is None:
                merged = Metric(parsed.name, parsed.documentation, parsed.type, parsed.unit)
                families[parsed.name] = merged
            for sample in parsed.samples:
                if allowed is not None:
                    sensor = sample.labels.get("sensor")
                    if sensor is not None and sensor not in allowed and sensor in home:
                        continue
                labels = {**sample.labels, "worker": worker} if tagged else sample.labels
                merged.samples.append(sample._replace(labels=labels))
    return list(families.values())


#: A sample line as sensord's exposition writes it (``Exposition``): a plain name, labels
#: with plain names and escaped values, one value and no timestamp.
_SAMPLE_LINE = re.compile(r"([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)\Z")
_LABEL_PAIR = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\[\\n"])*)"(?:,|\Z)')
_ESCAPED = re.compile(r'\\[\\n"]')
_HELP_ESCAPED = re.compile(r"\\[\\n]")
_UNESCAPE = {"\\\\": "\\", "\\n": "\n", '\\"': '"'}
#: The sample names a family of each type holds, as prometheus_client's parser allows them.
_FAMILY_SUFFIXES = {
    "counter": ("",),
    "gauge": ("",),
    "summary": ("_count", "_sum", ""),
    "histogram": ("_count", "_sum", "_bucket"),
}


class _NotPlain(Exception):
    """A line of another shape than sensord's exposition writes."""


def _unescape(match: re.Match[str]) -> str:
    return _UNESCAPE[match.group(0)]


def parse_exposition(text: str) -> list[Metric]:
    """The families of a text exposition (format 0.0.4), as prometheus_client's
    ``text_string_to_metric_families`` reads them, sample for sample.

    A worker's exposition is sensord's own (``Exposition``): its lines have one shape, which
    two regular expressions read at a third of the cost of that parser's walk over each
    character (0.22 s against 0.08 s for the 17,500 samples of 300 sensors, on every scrape
    of a ``--workers`` primary). A text with any other line is read by that parser."""
    try:
        return _parse_plain(text)
    except _NotPlain:
        return list(text_string_to_metric_families(text))


def _parse_plain(text: str) -> list[Metric]:
    families: list[Metric] = []
    name, documentation, kind = "", "", "untyped"
    samples: list[Sample] = []
    allowed: tuple[str, ...] = ()

    def build(name: str, documentation: str, kind: str, samples: list[Sample]) -> None:
        if kind == "counter":  # as the parser munges it: the family's name without _total
            if name.endswith("_total"):
                name = name[:-6]
            else:
                samples = [sample._replace(name=sample.name + "_total") for sample in samples]
        family = Metric(name, documentation, kind)
        family.samples = samples
        families.append(family)

    sample_line, label_pairs = _SAMPLE_LINE.match, _LABEL_PAIR.finditer
    for line in text.split("\n"):
        if not line:
            continue
        if line[0] == "#":
            parts = line.split(" ", 3)
            if (
                len(parts) != 4
                or parts[0] != "#"
                or parts[1] not in ("HELP", "TYPE")
                or not _PLAIN_NAME.match(parts[2])
                or parts[3][:1].isspace()
                or line[-1].isspace() != (parts[3] == "")
            ):
                raise _NotPlain
            candidate = parts[2]
            if parts[1] == "HELP":
                if candidate != name:
                    if name:
                        build(name, documentation, kind, samples)
                    name, kind, samples, allowed = candidate, "untyped", [], (candidate,)
                documentation = _HELP_ESCAPED.sub(_unescape, parts[3])
            else:
                if candidate != name:
                    if name:
                        build(name, documentation, kind, samples)
                    name, documentation, samples = candidate, "", []
                kind = parts[3]
                allowed = tuple(name + suffix for suffix in _FAMILY_SUFFIXES.get(kind, ("",)))
            continue
        matched = sample_line(line)
        if matched is None:
            raise _NotPlain
        sample_name, body, number = matched.groups()
        labels: dict[str, str] = {}
        if body:
            end = 0
            for pair in label_pairs(body):
                label, value = pair.groups()
                if pair.start() != end or label in labels or label == "__name__":
                    raise _NotPlain
                labels[label] = _ESCAPED.sub(_unescape, value) if "\\" in value else value
                end = pair.end()
            if end != len(body):
                raise _NotPlain
        if "_" in number:
            raise _NotPlain
        try:
            value_read: float = int(number)
        except ValueError:
            try:
                value_read = float(number)
            except ValueError:
                raise _NotPlain from None
        sample = Sample(sample_name, labels, value_read)
        if sample_name in allowed:
            samples.append(sample)
            continue
        if name:  # a sample of no family announced: a family of its own, as the parser has it
            build(name, documentation, kind, samples)
        name, documentation, kind, samples, allowed = "", "", "untyped", [], ()
        build(sample_name, "", "untyped", [sample])
    if name:
        build(name, documentation, kind, samples)
    return families


class _Families(Collector):
    def __init__(self, families: Sequence[Metric]) -> None:
        self._families = families

    def collect(self) -> Iterable[Metric]:
        return self._families


def render_families(families: Sequence[Metric], accept: str | None) -> tuple[bytes, str]:
    """The exposition of ready-made families for an HTTP ``Accept`` header."""
    return _EXPOSITION.render(families, accept)


# -- the exposition --------------------------------------------------------------------------------

_PLAIN_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
_FAST_TYPES = frozenset({"gauge", "counter", "histogram"})
_MOVED_SUFFIXES = ("_created", "_gsum", "_gcount")


def _escape(text: str) -> str:
    return text.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


_float_to_go_string = cast(Callable[[float], str], _untyped_go_float)


def _go_float(value: float) -> str:
    """``floatToGoString`` (Go's formatting of a float), with its common case first: below 1e6
    (and above -inf) it is ``repr``."""
    number = float(value)
    if -math.inf < number < 1e6:
        return repr(number)
    return _float_to_go_string(number)


class Exposition:
    """Writes metric families in the text format (0.0.4, 1.0.0) or OpenMetrics, chosen by the
    ``Accept`` header as prometheus_client's ``choose_encoder`` chooses, and byte for byte as
    its encoders write them.

    A family of the shapes sensord's collector yields (gauge, counter or histogram samples with
    plain names, without unit, timestamp, exemplar or ``_created`` sample) is formatted here,
    with each label set's text kept from one scrape to the next: the encoders validate and
    escape every label of every sample, about 15 us a sample, which made a scrape of 64 sensors
    cost 50 ms of the loop's CPU. Any other family goes through the encoder itself.
    """

    #: Label sets whose text is kept; past it the memo starts again (sensors renamed by reloads).
    MAX_LABEL_SETS = 65536

    def __init__(self) -> None:
        self._labels: dict[tuple[tuple[str, str], ...], str] = {}
        #: per label names of a RowFamily: label values -> their text (shared by the families
        #: of those label names: one text per label set, not one per label set and family)
        self._row_labels: dict[tuple[str, ...], dict[tuple[str, ...], str]] = {}

    def render(self, families: Iterable[Metric], accept: str | None) -> tuple[bytes, str]:
        encoder, content_type = choose_encoder(accept or "")
        is_openmetrics = getattr(encoder, "func", encoder) is openmetrics_latest
        out: list[str] = []
        for family in families:
            text = self.family(family, is_openmetrics)
            if text is None:
                text = encoder(_Families([family])).decode("utf-8")
                if is_openmetrics:
                    text = text.removesuffix("# EOF\n")
            out.append(text)
        if is_openmetrics:
            out.append("# EOF\n")
        return "".join(out).encode("utf-8"), content_type

    def family(self, family: Metric, is_openmetrics: bool) -> str | None:
        """One family's text, or None when it is not of a shape formatted here."""
        if type(family) is RowFamily:
            return self._rows(family, is_openmetrics)
        kind, name = family.type, family.name
        if family.unit or kind not in _FAST_TYPES or not _PLAIN_NAME.match(name):
            return None
        moved = tuple(name + suffix for suffix in _MOVED_SUFFIXES)
        out = [self._header(family, is_openmetrics)]
        memo = self._labels
        plain_names: set[str] = set()
        for sample in family.samples:
            sample_name = sample.name
            if (
                sample.value is None
                or sample.timestamp is not None
                or sample.exemplar is not None
                or sample.native_histogram is not None
                or sample_name in moved
            ):
                return None
            if sample_name not in plain_names:
                if not _PLAIN_NAME.match(sample_name):
                    return None
                plain_names.add(sample_name)
            if sample.labels:
                key = tuple(sample.labels.items())
                labels = memo.get(key)
                if labels is None:
                    labels = self._label_text(key)
                    if labels is None:
                        return None
                out.append(f"{sample_name}{labels} {_go_float(sample.value)}\n")
            else:
                out.append(f"{sample_name} {_go_float(sample.value)}\n")
        return "".join(out)

    def _rows(self, family: RowFamily, is_openmetrics: bool) -> str | None:
        names = family.label_names
        if not _PLAIN_NAME.match(family.name) or not all(_PLAIN_NAME.match(n) for n in names):
            return None
        out = [self._header(family, is_openmetrics)]
        prefix = family.sample_name
        memo = self._row_labels.get(names)
        if memo is None:
            memo = self._row_labels[names] = {}
        order = sorted(range(len(names)), key=names.__getitem__)
        append, get, inf = out.append, memo.get, math.inf
        for values, value in family.rows:
            labels = get(values)
            if labels is None:
                if len(memo) >= self.MAX_LABEL_SETS:
                    memo.clear()
                labels = memo[values] = (
                    "{" + ",".join(f'{names[i]}="{_escape(values[i])}"' for i in order) + "}"
                    if names
                    else ""
                )
            number = float(value)  # _go_float, inline: this loop runs for every sample
            text = repr(number) if -inf < number < 1e6 else _float_to_go_string(number)
            append(f"{prefix}{labels} {text}\n")
        return "".join(out)

    @staticmethod
    def _header(family: Metric, is_openmetrics: bool) -> str:
        kind, name = family.type, family.name
        header = name + "_total" if kind == "counter" and not is_openmetrics else name
        doc = family.documentation.replace("\\", r"\\").replace("\n", r"\n")
        if is_openmetrics:
            doc = doc.replace('"', r"\"")
        return f"# HELP {header} {doc}\n# TYPE {header} {kind}\n"

    def _label_text(self, key: tuple[tuple[str, str], ...]) -> str | None:
        if any(not _PLAIN_NAME.match(label) for label, _ in key):
            return None
        text = "{" + ",".join(f'{label}="{_escape(value)}"' for label, value in sorted(key)) + "}"
        if len(self._labels) >= self.MAX_LABEL_SETS:
            self._labels.clear()
        self._labels[key] = text
        return text


#: The exposition writer of this process (the memo of label texts is shared by every scrape).
_EXPOSITION = Exposition()
