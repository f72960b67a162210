"""The hot-path shortcuts give the results of the plain code paths they stand in for.

* the value parser reads ASCII-compatible frames with ``float(bytes)`` and falls back to the
  decoding path for anything else;
* the framer answers "overlong?", "empty frames?" and "``\\r`` to strip?" per chunk in C;
* ``Chain.drain`` runs a stage untimed when its next sample lies beyond the batch;
* the window recognises an evicted value at the front of its min/max queues by identity;
* the HTTP accept thread sleeps until a connection or ``close()``;
* the reader polls at most once per batch interval while data keeps arriving, but reads a port
  that delivers rarely as soon as data arrives.
"""

from __future__ import annotations

import itertools
import math
import os
import threading
import time
import types
from collections.abc import Iterable

import pytest
from harness.chain import add, process
from harness.common import up_settled, wait_for
from harness.pty import PtyPair
from hypothesis import example, given, settings
from hypothesis import strategies as st
from prometheus_client import CollectorRegistry
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    InfoMetricFamily,
    Metric,
    SummaryMetricFamily,
)
from prometheus_client.exposition import choose_encoder
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector
from pytest_mock import MockerFixture

from sensord import export
from sensord.config import parse_config
from sensord.errors import ParseError, SourceBrokenError
from sensord.export import (
    Exposition,
    MetricsRegistry,
    RowFamily,
    make_step_histogram,
    merge_expositions,
    parse_exposition,
    step_timer,
)
from sensord.formats import value
from sensord.formats.base import FormatSpec
from sensord.formats.lines import LineFramer, _no_frame_longer_than
from sensord.formats.text import SCPI_INFINITY, decode_text, number, value_reader
from sensord.http import HttpServer
from sensord.pipeline import Chain
from sensord.reader import BATCH_INTERVAL_S, HOUSEKEEPING_INTERVAL_S, Reader
from sensord.sensor import SensorRuntime
from sensord.snapshot import SensorSnapshot
from sensord.sources.serial_port import SerialSource
from sensord.stage import StepTimer
from sensord.types import Reading
from sensord.window import Window

# -- value parser --------------------------------------------------------------------------------

FLOATISH = list(b"0123456789+-.eEiInNfFtTyYaA _\t\r\n\x00\x0b\x0c\xa0\xc2\xff,x")


def thread_wchan(thread: threading.Thread) -> str:
    """The kernel function ``thread`` sleeps in ("0" while it runs)."""
    with open(f"/proc/self/task/{thread.native_id}/wchan") as f:
        return f.read()


def outcome(parse: object, frame: bytes) -> object:
    try:
        return parse(frame)  # type: ignore[operator]
    except ParseError as exc:
        return exc.reason


@settings(max_examples=300, deadline=None)
@given(
    encoding=st.sampled_from(["utf-8", "latin-1", "ascii", "cp1252", "utf-16", "cp500"]),
    frame=st.one_of(
        st.lists(st.sampled_from(FLOATISH), max_size=14).map(bytes),
        st.binary(max_size=12),
        st.floats().map(lambda f: repr(f).encode()),
    ),
)
def test_value_parser_matches_the_decoding_path(encoding: str, frame: bytes) -> None:
    fast = value.decoder(FormatSpec("value", (("v", "v"),), encoding=encoding))

    def slow(data: bytes) -> list[tuple[str, float]]:
        return [("v", number(decode_text(data, encoding)))]

    assert outcome(fast, frame) == outcome(slow, frame)


_FRAMES = st.lists(
    st.one_of(
        st.lists(st.sampled_from(FLOATISH), min_size=1, max_size=10).map(bytes),
        st.floats().map(lambda f: repr(f).encode()),
        st.sampled_from(
            [b"21.5", b"1e308", b"-1e308", b"1_0", b"nan", b"inf", b" 7 ", b"9.9E37", b"-7e37"]
        ),
    ),
    max_size=12,
)


def _float_reads(frame: bytes) -> bool:
    try:
        float(frame)
    except ValueError:
        return False
    return True


@settings(max_examples=300, deadline=None)
@given(frames=_FRAMES, encoding=st.sampled_from(["utf-8", "latin-1", "ascii"]))
@example(frames=[b"+ 0"], encoding="ascii")
def test_value_batch_decoder_is_the_per_frame_decoder_or_declines(
    frames: list[bytes], encoding: str
) -> None:
    spec = FormatSpec("value", (("v", "v"),), encoding=encoding)
    values_of = value.batch_decoder(spec)
    assert values_of is not None
    parse = value.decoder(spec)
    each = [outcome(parse, frame) for frame in frames]
    values = values_of(frames)
    if values is None:  # declined: some frame is refused, or is a number in a form of the
        # per-frame decoder's own that float() does not read ("+ 0", a sign apart from its
        # digits), or the values' hypotenuse is at or beyond SCPI's infinity (each below it,
        # read by the per-frame decoder)
        assert (
            any(not isinstance(o, list) for o in each)
            or not all(map(_float_reads, frames))
            or not math.hypot(*(o[0][1] for o in each if isinstance(o, list))) < SCPI_INFINITY
        )
    else:
        assert [[("v", v)] for v in values] == each


@settings(max_examples=100, deadline=None)
@given(chunks=st.lists(_FRAMES.map(lambda fs: b"".join(f + b"\n" for f in fs)), max_size=6))
def test_a_sensor_reads_the_same_with_and_without_the_batch_decoder(chunks: list[bytes]) -> None:
    config = parse_config(
        '[[sensors]]\nname = "s"\nport = "/dev/null"\nformat = "value"\nsimulate = "never"\n'
        '[[sensors.channels]]\nname = "t"\nfilter = { min = -1e300, max = 1e300 }\n'
    )

    def at() -> float:
        return 100.0

    batched, framewise = (
        SensorRuntime(config.sensors[0], clock=at, wall_clock=at) for _ in range(2)
    )
    assert batched._values_of is not None
    framewise._values_of = None
    for chunk in chunks:
        batched.feed(chunk)
        framewise.feed(chunk)
    one, other = batched.snapshot(), framewise.snapshot()
    assert one.parse_errors == other.parse_errors
    assert (one.frames, one.ignored_frames) == (other.frames, other.ignored_frames)
    assert one.steps == other.steps
    assert [c.stats for c in one.channels] == [c.stats for c in other.channels]


def test_value_parser_fast_path_only_for_ascii_compatible_encodings() -> None:
    for encoding in ("utf-8", "latin-1", "ascii"):
        parser = value.decoder(FormatSpec("value", (("v", "v"),), encoding=encoding))
        assert parser.__name__ == "parse_ascii_value"
    for encoding in ("utf-16", "utf-7", "cp500"):
        parser = value.decoder(FormatSpec("value", (("v", "v"),), encoding=encoding))
        assert parser.__name__ == "parse_value"


def test_value_fast_paths_stay_with_a_decimal_point_and_leave_with_a_comma() -> None:
    point = FormatSpec("value", (("v", "v"),), decimal=".")
    assert value.decoder(point).__name__ == "parse_ascii_value"
    assert value.batch_decoder(point) is not None
    assert value_reader(point) is number
    comma = FormatSpec("value", (("v", "v"),), decimal=",")
    assert value.decoder(comma).__name__ == "parse_value"
    assert value.batch_decoder(comma) is None  # float() would read 23.4 and refuse 23,4
    assert value.decoder(comma)(b"23,4") == [("v", 23.4)]


# -- framer --------------------------------------------------------------------------------------


def reference(data: bytes, limit: int) -> tuple[list[bytes], int]:
    *complete, pending = data.split(b"\n")
    frames = [p[:-1] if p.endswith(b"\r") else p for p in complete if len(p) <= limit]
    overlong = sum(len(p) > limit for p in complete) + (len(pending) > limit)
    return [f for f in frames if f], overlong


LINES = st.one_of(
    st.sampled_from([b"21.5", b"", b"\r", b"7.25\r", b"x" * 40]),
    st.integers(min_value=0, max_value=90).map(lambda n: b"y" * n),
)


@settings(max_examples=300, deadline=None)
@given(
    lines=st.lists(LINES, max_size=120),
    chunk=st.integers(min_value=1, max_value=700),
    limit=st.integers(min_value=16, max_value=64),
)
def test_long_chunks_of_short_frames_frame_like_the_reference(
    lines: list[bytes], chunk: int, limit: int
) -> None:
    data = b"\n".join(lines) + b"\n"
    framer = LineFramer(b"\n", limit)
    got: list[bytes] = []
    for start in range(0, len(data), chunk):
        got.extend(framer.feed(data[start : start + chunk]))
    assert (got, framer.overlong) == reference(data, limit)
    assert framer.frames == len(got)


@settings(max_examples=300, deadline=None)
@given(
    lengths=st.lists(
        st.one_of(st.integers(min_value=0, max_value=8), st.integers(min_value=0, max_value=700)),
        max_size=400,
    ),
    limit=st.integers(min_value=16, max_value=600),
    terminator=st.sampled_from([b"\n", b"\r\n", b"\x03"]),
)
def test_window_search_never_misses_an_overlong_frame(
    lengths: list[int], limit: int, terminator: bytes
) -> None:
    data = terminator.join(b"z" * n for n in lengths) + terminator
    complete = data.split(terminator)[:-1]
    step = max(1, limit // 2)
    if _no_frame_longer_than(data, terminator, limit, step):
        assert all(len(part) <= limit for part in complete)
    framer = LineFramer(terminator, limit)
    got: list[bytes] = []
    for start in range(0, len(data), 4096):
        got.extend(framer.feed(data[start : start + 4096]))
    assert got == [p for p in complete if 0 < len(p) <= limit]
    assert framer.overlong == sum(len(p) > limit for p in complete)


# -- Chain.drain: untimed stages when no sample can fall in the batch --------------------------


def timed_chain(every: int) -> tuple[Chain, CollectorRegistry]:
    registry = CollectorRegistry()
    histogram = make_step_histogram(registry)
    chain = Chain.build(filter_min=0, filter_max=50, scale=2.0, window_size=7)
    chain.instrument(lambda step: step_timer(histogram, step, every))
    return chain, registry


@settings(max_examples=150, deadline=None)
@given(
    sizes=st.lists(st.integers(min_value=0, max_value=30), max_size=15),
    every=st.integers(min_value=1, max_value=40),
)
def test_drain_samples_like_always_timed_processing(sizes: list[int], every: int) -> None:
    drained, drained_registry = timed_chain(every)
    processed, processed_registry = timed_chain(every)
    start = 0
    for size in sizes:
        batch = [
            Reading("s", "c", float((start + i) % 70), float(start + i), 0.0) for i in range(size)
        ]
        start += size
        drained.drain(batch)
        for _ in process(processed, batch):
            pass
    assert drained.window is not None
    assert processed.window is not None
    assert drained.window.last == processed.window.last  # absorbed batches publish the same
    for a, b in zip(drained.stages, processed.stages, strict=True):
        assert (a.records_in, a.records_out, a.dropped) == (b.records_in, b.records_out, b.dropped)
        assert a.timer is not None
        assert b.timer is not None
        assert a.timer.countdown == b.timer.countdown
        labels = {"step": a.step}
        name = "sensord_step_duration_seconds_count"
        assert drained_registry.get_sample_value(name, labels) == (
            processed_registry.get_sample_value(name, labels)
        )


def test_drain_of_a_non_list_batch_is_timed_as_a_stream() -> None:
    chain, registry = timed_chain(2)
    chain.drain(Reading("s", "c", float(i), float(i), 0.0) for i in range(10))
    assert registry.get_sample_value("sensord_step_duration_seconds_count", {"step": "window"}) == 5


def test_a_batch_holding_a_sample_times_that_record_alone() -> None:
    chain, registry = timed_chain(64)
    window = chain.window
    assert window is not None
    seen: list[tuple[int, bool]] = []
    absorb = type(window).absorb

    def counting_absorb(
        self: Window, stream: Iterable[Reading], timer: StepTimer | None = None
    ) -> None:
        batch = list(stream)
        seen.append((len(batch), timer is not None))
        absorb(self, batch, timer)

    window.absorb = types.MethodType(counting_absorb, window)  # type: ignore[method-assign]
    batch = [Reading("s", "c", 1.0 + i % 3, float(i), 0.0) for i in range(100)]
    chain.drain(batch)  # the 64th record of each stage is its sample
    # the records before the sample, the sampled one alone (the window timing it), the rest
    assert seen == [(63, False), (1, True), (36, False)]
    count = registry.get_sample_value
    for step in ("filter", "normalize", "window"):
        assert count("sensord_step_duration_seconds_count", {"step": step}) == 1
    assert (window.records_in, window.records_out) == (100, 100)


# -- the exposition: label texts kept, shapes it does not know left to the encoders --------------

_LABEL_VALUES = st.text(alphabet=st.characters(codec="utf-8"), max_size=8) | st.sampled_from(
    ['a"b', "back\\slash", "new\nline", "s00", ""]
)
_SAMPLE_VALUES = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(min_value=-(2**60), max_value=2**60),
    st.sampled_from([0.0, -0.0, 999999.0, 1e6, 1234567.0, 1e-7, 0.1, 12.5]),
)


@st.composite
def metric_families(draw: st.DrawFn) -> list[Metric]:
    families: list[Metric] = []
    for index in range(draw(st.integers(min_value=0, max_value=4))):
        kind = draw(
            st.sampled_from(["gauge", "counter", "histogram", "summary", "info", "rows", "rows "])
        )
        name = f"sensord_fam{index}_{draw(st.sampled_from(['a', 'bytes', 'x_y']))}"
        doc = draw(st.text(max_size=12) | st.sampled_from(['say "hi"\\n', "two\nlines", ""]))
        labels = draw(st.lists(st.sampled_from(["sensor", "channel", "state", "z"]), unique=True))
        rows = draw(st.lists(st.tuples(st.lists(_LABEL_VALUES, min_size=len(labels),
                                                max_size=len(labels)), _SAMPLE_VALUES),
                             max_size=4))  # fmt: skip
        if kind == "gauge":
            gauge = GaugeMetricFamily(name, doc, labels=labels)
            for values, value in rows:
                gauge.add_metric(values, value)
            families.append(gauge)
        elif kind == "counter":
            counter = CounterMetricFamily(name, doc, labels=labels)
            for values, value in rows:
                counter.add_metric(values, value)
            families.append(counter)
        elif kind == "histogram":
            histogram = HistogramMetricFamily(name, doc, labels=labels)
            for values, value in rows:
                histogram.add_metric(values, [("0.5", 1), ("+Inf", 3)], value)
            families.append(histogram)
        elif kind.startswith("rows"):  # sensord's own families: rows, samples made on demand
            rows_family = RowFamily(name, doc, "gauge" if kind == "rows" else "counter", labels)
            for values, value in rows:
                rows_family.add_metric(values, value)
            families.append(rows_family)
        elif kind == "summary":  # not a shape the exposition formats itself
            summary = SummaryMetricFamily(name, doc, labels=labels)
            for values, value in rows:
                summary.add_metric(values, 3, value)
            families.append(summary)
        else:
            info = InfoMetricFamily(name, doc, labels=labels)
            for values, _value in rows:
                info.add_metric(values, {"version": "1"})
            families.append(info)
    return families


class _Fixed(Collector):
    def __init__(self, families: list[Metric]) -> None:
        self.families = families

    def collect(self) -> list[Metric]:
        return self.families


ACCEPTS = [
    None,
    "text/plain;version=0.0.4",
    "text/plain;version=1.0.0;escaping=allow-utf-8",
    "application/openmetrics-text;version=1.0.0;escaping=allow-utf-8;q=0.6,"
    "application/openmetrics-text;version=0.0.1;q=0.5,text/plain;version=0.0.4;q=0.3",
    "application/openmetrics-text; version=1.0.0",
]


@settings(max_examples=300, deadline=None)
@given(families=metric_families(), accept=st.sampled_from(ACCEPTS))
def test_exposition_writes_what_the_encoders_write(
    families: list[Metric], accept: str | None
) -> None:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Fixed(families))
    encoder, content_type = choose_encoder(accept or "")
    exposition = Exposition()
    for _ in range(2):  # the second time from the kept label texts
        assert exposition.render(families, accept) == (encoder(registry), content_type)


def test_exposition_of_the_daemons_registry_matches_the_encoders() -> None:
    config = parse_config(
        '[[sensors]]\nname = "probe"\nport = "/dev/null"\nformat = "value"\n'
        'simulate = "never"\n[[sensors.channels]]\nname = "t"\n'
    )
    runtime = SensorRuntime(config.sensors[0])
    runtime.feed(b"21.5\n22.5\nx\n")
    snapshots = [runtime.snapshot()]

    class View:
        reload_successful = True
        reload_success_timestamp_s = 1.0

        def sensor_snapshots(self) -> list[SensorSnapshot]:
            return snapshots

    metrics = MetricsRegistry(View(), "1.2.3", 1)
    runtime.instrument(metrics.timer_for())
    runtime.feed(b"23.5\n")
    snapshots[:] = [runtime.snapshot()]
    families = list(metrics.registry.collect())
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_Fixed(families))
    for accept in ACCEPTS:
        encoder, content_type = choose_encoder(accept or "")
        assert Exposition().render(families, accept) == (encoder(registry), content_type)


def _as_parsed(families: Iterable[Metric]) -> list[tuple[object, ...]]:
    """Families as a parser yields them, comparable with NaN values among them."""
    return [
        (
            family.name,
            family.documentation,
            family.type,
            [
                (s.name, s.labels, "nan" if math.isnan(s.value) else s.value, type(s.value))
                for s in family.samples
            ],
        )
        for family in families
    ]


@settings(max_examples=300, deadline=None)
@given(families=metric_families())
def test_a_workers_exposition_is_read_as_the_parser_reads_it(families: list[Metric]) -> None:
    text = Exposition().render(families, None)[0].decode()
    assert _as_parsed(parse_exposition(text)) == _as_parsed(text_string_to_metric_families(text))


@pytest.mark.parametrize(
    "text",
    [
        'loose{a="1"} 2\n# HELP c d\n# TYPE c gauge\nc +Inf\nother 1e+06\n',
        "# HELP b x\n# TYPE b counter\nb_total 1.5\nb_created 12\n",
        '# HELP e \n# TYPE e gauge\ne{a="",} 1\n# TYPE t untyped\nt 5\n',
        '# HELP h doc\n# TYPE h gauge\nh{a="x\\y"} 1\n',  # an escape no encoder writes
        'y{a="1"} 1 123\n',  # a timestamp
        "x 1_000\n",
        "# HELP d two  spaces \n# TYPE d gauge\nd 1\n",
        '# comment\nw{a="1" } 1\n',
    ],
)
def test_an_exposition_of_another_shape_is_read_as_the_parser_reads_it(text: str) -> None:
    try:
        expected: object = _as_parsed(text_string_to_metric_families(text))
    except ValueError:
        expected = ValueError
    try:
        got: object = _as_parsed(parse_exposition(text))
    except ValueError:
        got = ValueError
    assert got == expected


def test_merging_workers_expositions_leaves_prometheus_clients_parser_alone(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A ``--workers`` primary reads its workers' expositions on every scrape: 17,500
    samples for 300 sensors. Written by sensord, they are read by its own reader of that
    one shape, never walked a character at a time by prometheus_client's parser."""
    config = parse_config(
        "".join(
            f'[[sensors]]\nname = "s{i}"\nport = "/dev/tty{i}"\nformat = "value"\n'
            f'simulate = "never"\n[[sensors.channels]]\nname = "t"\n'
            for i in range(3)
        )
    )
    runtimes = [SensorRuntime(sensor) for sensor in config.sensors]
    for runtime in runtimes:
        runtime.feed(b"21.5\n22.5\nx\n")

    class View:
        reload_successful = True
        reload_success_timestamp_s = 1.0

        def sensor_snapshots(self) -> list[SensorSnapshot]:
            return [runtime.snapshot() for runtime in runtimes]

    texts = [("0", MetricsRegistry(View(), "1.2.3", 1).render(None)[0].decode())]
    parsed: list[str] = []

    def counting(text: str) -> Iterable[Metric]:
        parsed.append(text)
        return text_string_to_metric_families(text)

    monkeypatch.setattr(export, "text_string_to_metric_families", counting)
    families = merge_expositions(texts, ("process_", "python_"), (), [])
    assert parsed == []
    frames = [s for f in families if f.name == "sensord_frames" for s in f.samples]
    assert sorted((s.labels["sensor"], s.value) for s in frames) == [
        ("s0", 3.0),
        ("s1", 3.0),
        ("s2", 3.0),
    ]
    # a text of another shape goes to that parser
    merge_expositions([("0", 'y{a="1"} 1 123\n')], ("process_",), (), [])
    assert parsed == ['y{a="1"} 1 123\n']


# -- window: identity of evicted values ----------------------------------------------------------


@settings(max_examples=200, deadline=None)
@given(
    picks=st.lists(st.integers(min_value=0, max_value=4), min_size=1, max_size=80),
    size=st.integers(min_value=1, max_value=9),
)
def test_window_with_shared_float_objects_matches_naive(picks: list[int], size: int) -> None:
    pool = [1.5, -2.0, 1.5 + 0.0, 3.25, -2.0 * 1.0]  # equal values as distinct objects too
    window = Window(size)
    seen: list[float] = []
    for i, pick in enumerate(picks):
        value = pool[pick]
        stats = add(window, value, float(i))
        seen.append(value)
        recent = seen[-size:]
        assert (stats.count, stats.min, stats.max) == (len(recent), min(recent), max(recent))
        assert stats.mean == pytest.approx(math.fsum(recent) / len(recent), rel=1e-12, abs=1e-12)


# -- HTTP: an idle server does not wake up -------------------------------------------------------


def thread_switches(thread: threading.Thread) -> int:
    """Voluntary and involuntary context switches of ``thread`` so far."""
    with open(f"/proc/self/task/{thread.native_id}/status") as f:
        return sum(int(line.split()[1]) for line in f if "ctxt_switches" in line)


def test_idle_http_thread_sleeps_and_closes_at_once() -> None:
    server = HttpServer(
        "127.0.0.1",
        0,
        render_metrics=lambda accept: (b"up 1\n", "text/plain"),
        status=dict,
        health=lambda: (True, "ok"),
    )
    server.start()
    thread = server._thread
    assert thread is not None
    try:
        # from the moment it blocks in poll() the thread stays asleep however slow the machine
        wait_for(lambda: thread_wchan(thread).startswith("poll"), 10.0, "asleep in poll()")
        before = thread_switches(thread)
        time.sleep(1.2)  # serve_forever(poll_interval=0.5) would wake twice here
        assert thread_switches(thread) == before
    finally:
        started = time.monotonic()
        server.close()
        assert time.monotonic() - started < 0.3


# -- reader: batching under a steady stream, promptness for a rare one ---------------------------


@pytest.fixture
def port(pty_pair: PtyPair) -> tuple[int, str]:
    """The device end and the path of a raw pty (the conftest's ``pty_pair``)."""
    assert pty_pair.master_fd is not None
    return pty_pair.master_fd, pty_pair.path


def pty_sensor(path: str) -> SensorRuntime:
    config = parse_config(
        f"""
[[sensors]]
name = "p"
port = "{path}"
format = "value"
simulate = "never"
  [[sensors.channels]]
  name = "v"
"""
    )
    return SensorRuntime(config.sensors[0])


def open_port(reader: Reader, sensor: SensorRuntime) -> None:
    """One pass of the loop: it opens the port (opening flushes what the pty holds)."""
    reader.wake()
    reader.run(until=lambda: sensor.source is not None)


def test_a_steady_stream_is_read_once_per_batch_interval(port: tuple[int, str]) -> None:
    master, path = port
    sensor = pty_sensor(path)
    passes: list[int] = []
    feed = sensor.feed

    def counting_feed(chunk: bytes) -> None:
        passes.append(len(chunk))
        feed(chunk)

    sensor.feed = counting_feed  # type: ignore[method-assign]
    lines = 200
    writing_s: list[float] = []

    def write() -> None:
        # the device begins once the port is open past CUT_LINE_S: its first line is read
        wait_for(lambda: up_settled(sensor), 5.0, "the port open", 0.002)
        started = time.monotonic()
        for _ in range(lines):  # a line every 2 ms or so
            os.write(master, b"1.5\n")
            time.sleep(0.002)
        writing_s.append(time.monotonic() - started)

    with Reader([sensor]) as reader:
        open_port(reader, sensor)
        writer = threading.Thread(target=write)
        writer.start()
        deadline = time.monotonic() + 5.0
        reader.run(until=lambda: sensor.framer.frames >= lines or time.monotonic() > deadline)
        writer.join()
    assert sensor.framer.frames == lines
    assert sensor.channels["v"].chain.stages[0].records_in == lines
    # one pass per batch interval (and one for the first line), not one per line
    # one pass per batch interval (and one for the first line, one per housekeeping second,
    # one for the tail), not one per line; the bound scales with how long the writing took
    elapsed = writing_s[0]
    assert len(passes) <= elapsed / BATCH_INTERVAL_S + elapsed / HOUSEKEEPING_INTERVAL_S + 3
    assert len(passes) < lines / 2


def test_an_idle_reader_keeps_house_less_often_until_data_comes(port: tuple[int, str]) -> None:
    """With its only sensor stale, the loop's housekeeping comes at the idle pace; the first
    line brings the usual pace back at once, so the sensor is seen stale again on time."""
    master, path = port
    config = parse_config(
        f'[[sensors]]\nname = "p"\nport = "{path}"\nformat = "value"\nsimulate = "never"\n'
        'stale_after_s = 0.2\n  [[sensors.channels]]\n  name = "v"\n'
    )
    sensor = SensorRuntime(config.sensors[0])
    passes: list[tuple[float, bool]] = []
    written: list[float] = []

    def housekeeping(now: float) -> None:
        passes.append((now, reader.idle))
        if reader.idle and len([p for p in passes if p[1]]) == 4 and not written:
            os.write(master, b"2.5\n")  # right after an idle pass: the next is 1 s away
            written.append(time.monotonic())

    with Reader([sensor], on_housekeeping=housekeeping) as reader:
        reader.housekeeping_interval_s = 0.05
        reader.idle_housekeeping_interval_s = 1.0
        open_port(reader, sensor)
        deadline = time.monotonic() + 10.0
        reader.run(until=lambda: bool(written) or time.monotonic() > deadline)
        assert written, "the reader never went idle"
        reader.run(until=lambda: sensor.state == "up" or time.monotonic() > deadline)
        assert time.monotonic() - written[0] < 0.1  # read at once
        assert not reader.idle
        reader.run(until=lambda: sensor.state == "stale" or time.monotonic() > deadline)
        stale_after = time.monotonic() - written[0]
    idle = [at for at, was_idle in passes if was_idle]
    gaps = [b - a for a, b in itertools.pairwise(idle[:4])]
    assert len(gaps) == 3
    assert all(0.9 < gap < 1.3 for gap in gaps)  # the idle pace, not 0.05 s
    assert stale_after < 0.6  # 0.2 s, then the next housekeeping at the usual pace


def test_a_port_lost_by_a_poll_write_while_idle_is_reopened_after_its_backoff(
    port: tuple[int, str], mocker: MockerFixture
) -> None:
    """A polled sensor gone stale lets the loop keep house at the idle pace; when its next
    poll request cannot be written (the driver's EIO: the write is the boundary made to
    fail here), the port is reopened after its backoff (at most 0.05 s), not at the next
    idle housekeeping seconds later."""
    _, path = port
    config = parse_config(
        f'[[sensors]]\nname = "p"\nport = "{path}"\nformat = "value"\nsimulate = "never"\n'
        "stale_after_s = 0.3\npoll = { request = 'R\\n', interval_s = 0.25 }\n"
        "reconnect = { initial_delay_s = 0.05, max_delay_s = 0.1 }\n"
        '  [[sensors.channels]]\n  name = "v"\n'
    )
    sensor = SensorRuntime(config.sensors[0])
    write = SerialSource.try_write
    failed: list[float] = []

    def try_write(self: SerialSource, data: bytes) -> bool:
        if sensor.state == "stale" and not failed:
            failed.append(time.monotonic())
            raise SourceBrokenError("p", "writing failed: Input/output error")
        return write(self, data)

    mocker.patch.object(SerialSource, "try_write", try_write)
    with Reader([sensor]) as reader:
        reader.housekeeping_interval_s = 0.05
        reader.idle_housekeeping_interval_s = 5.0
        deadline = time.monotonic() + 10.0
        reader.run(until=lambda: bool(failed) or time.monotonic() > deadline)
        assert failed, "the poll after the sensor went stale was never written"
        assert reader.idle
        reader.run(until=lambda: sensor.source is not None or time.monotonic() > deadline)
        reopened_after = time.monotonic() - failed[0]
    assert sensor.reconnects == 1
    assert reopened_after < 0.5


def test_a_rare_line_is_read_without_waiting(port: tuple[int, str]) -> None:
    master, path = port
    sensor = pty_sensor(path)
    arrivals: list[float] = []
    feed = sensor.feed

    def timing_feed(chunk: bytes) -> None:
        arrivals.append(time.monotonic())
        feed(chunk)

    sensor.feed = timing_feed  # type: ignore[method-assign]
    sent: list[float] = []

    # a pause of 1 s, lines 1.1 s apart: each comes after the pause its predecessor
    # started has ended; read only at a pause's end it would wait up to 1 s (a pause this
    # long keeps the margin wide of a loaded host's scheduling delays, 0.12 s seen in CI)
    pause_s = 1.0

    def write() -> None:
        for _ in range(3):  # far apart: every line is the first after an idle spell
            time.sleep(1.1)
            sent.append(time.monotonic())
            os.write(master, b"2.5\n")

    with Reader([sensor]) as reader:
        reader.batch_interval_s = pause_s
        open_port(reader, sensor)
        writer = threading.Thread(target=write)
        writer.start()
        deadline = time.monotonic() + 6.0
        reader.run(until=lambda: sensor.framer.frames >= 3 or time.monotonic() > deadline)
        writer.join()
    assert len(arrivals) == 3
    delays = [a - s for a, s in zip(arrivals, sent, strict=True)]
    assert max(delays) < pause_s / 2, delays
