"""Tests of sensord.sources.simulated: encoders, the simulated device and its source."""

from __future__ import annotations

import math
from collections.abc import Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sensord.errors import ParseError, SourceBrokenError
from sensord.framing import Framer
from sensord.parse import NMEA_FIELDS, FormatSpec, make_parser
from sensord.sources.base import Source
from sensord.sources.simulated import (
    CATCH_UP_S,
    SignalSpec,
    SimulatedDevice,
    SimulatedSource,
    SimulationSpec,
    encode_frames,
    header_frame,
    make_encoder,
)

FLAT = SignalSpec(center=20.0, amplitude=0.0, period_s=60.0, noise=0.0, drift_per_s=0.0)
WAVE = SignalSpec(center=20.0, amplitude=2.0, period_s=10.0, noise=0.05, drift_per_s=0.0)
KV = FormatSpec("kv", (("temp", "T"), ("hum", "H")))


class FakeClock:
    def __init__(self, now_s: float = 0.0) -> None:
        self.now_s = now_s

    def __call__(self) -> float:
        return self.now_s


def device(
    spec: FormatSpec = KV,
    *,
    simulation: SimulationSpec | None = None,
    rate_hz: float = 10.0,
    terminator: bytes = b"\n",
    start_s: float = 0.0,
    signals: Mapping[str, SignalSpec] | None = None,
) -> SimulatedDevice:
    return SimulatedDevice(
        spec,
        {"temp": WAVE, "hum": WAVE} if signals is None else signals,
        rate_hz,
        terminator,
        simulation or SimulationSpec(seed=1),
        start_s,
    )


def run(dev: SimulatedDevice, until_s: float, step_s: float = 1.0) -> bytes:
    """All bytes up to ``until_s``, read every ``step_s`` (within the catch-up limit)."""
    chunks = []
    now_s = dev.start_s
    while now_s < until_s:
        now_s = min(now_s + step_s, until_s)
        chunks.append(dev.bytes_due(now_s))
    return b"".join(chunks)


def parse_stream(spec: FormatSpec, data: bytes, terminator: bytes = b"\n") -> list[object]:
    """Every frame of ``data``: its readings, or the ParseError reason."""
    parser = make_parser(spec)
    results: list[object] = []
    for frame in Framer(terminator, 512).feed(data):
        try:
            results.append(parser(frame))
        except ParseError as exc:
            results.append(exc.reason)
    return results


# -- specs ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"period_s": 0.0},
        {"period_s": -1.0},
        {"noise": -0.1},
        {"center": math.nan},
        {"drift_per_s": math.inf},
    ],
)
def test_signal_spec_rejects_bad_values(kwargs: dict[str, float]) -> None:
    values = {"center": 1.0, "amplitude": 1.0, "period_s": 1.0, "noise": 0.0, "drift_per_s": 0.0}
    values.update(kwargs)
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        SignalSpec(**values)


@pytest.mark.parametrize(
    "kwargs",
    [{"spike_rate": -0.1}, {"garbage_rate": 1.5}, {"dropout_rate": math.nan}, {"dropout_s": 0.0}],
)
def test_simulation_spec_rejects_bad_values(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        SimulationSpec(**kwargs)  # type: ignore[arg-type]


def test_signal_baseline() -> None:
    signal = SignalSpec(center=10.0, amplitude=2.0, period_s=4.0, noise=0.0, drift_per_s=0.5)
    assert signal.baseline(0.0) == 10.0
    assert signal.baseline(1.0) == pytest.approx(10.0 + 2.0 + 0.5)
    assert signal.baseline(3.0) == pytest.approx(10.0 - 2.0 + 1.5)


# -- encoders: round trips -----------------------------------------------------------------------

values_strategy = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)


def assert_round_trip(spec: FormatSpec, values: Mapping[str, float], abs_tol: float) -> None:
    parser = make_parser(spec)
    parsed: dict[str, float] = {}
    for frame in encode_frames(spec, values, time_of_day_s=45_296.5):
        assert b"\n" not in frame
        parsed.update(parser(frame))
    channel_values = {channel: values[field] for channel, field in spec.fields}
    assert parsed.keys() == channel_values.keys()
    for channel, value in channel_values.items():
        assert parsed[channel] == pytest.approx(value, abs=abs_tol, rel=1e-12), channel


@settings(max_examples=100, deadline=None)
@given(values_strategy, values_strategy)
def test_round_trip_value_kv_csv_json(first: float, second: float) -> None:
    values = {"T": first, "H": second}
    assert_round_trip(FormatSpec("value", (("t", "T"),)), values, 5e-4)
    assert_round_trip(KV, values, 5e-4)
    assert_round_trip(
        FormatSpec("kv", (("t", "T"), ("h", "H")), pair_separator="; ", kv_separator=":"),
        values,
        5e-4,
    )
    assert_round_trip(
        FormatSpec("csv", (("t", "T"), ("h", "H")), columns=("time", "T", "H"), header=True),
        values,
        5e-4,
    )
    by_index = FormatSpec("csv", (("t", "3"), ("h", "1")), delimiter="\t")
    assert_round_trip(by_index, {"3": first, "1": second}, 5e-4)
    json_values = {"a.b": first, "list.1.v": second, "T": first}
    json_spec = FormatSpec("json", (("x", "a.b"), ("y", "list.1.v"), ("z", "T")))
    assert_round_trip(json_spec, json_values, 5e-4)


@pytest.mark.parametrize(
    "pattern",
    [
        r"^T[=:]\s*(-?\d+(?:\.\d+)?)\s*(?:C|degC)\b$",
        r"temp\s+(\S+)",
        r"(?P<v>[-+0-9.]+) *°C",
        r"<([^>]*)>",
        r"\[\w+\]\s(.+?)$",
    ],
)
@settings(max_examples=30, deadline=None)
@given(value=values_strategy)
def test_round_trip_value_with_pattern(pattern: str, value: float) -> None:
    spec = FormatSpec("value", (("t", "T"),), pattern=pattern)
    [frame] = encode_frames(spec, {"T": value})
    assert frame != f"{value:.3f}".encode()
    assert_round_trip(spec, {"T": value}, 5e-4)


@pytest.mark.parametrize("pattern", [r"(?=x)(\S+)", r"a{5000}(\S+)", r"(?:(?:a{40}){40})(\S+)"])
def test_value_pattern_without_a_usable_example_sends_the_plain_number(pattern: str) -> None:
    spec = FormatSpec("value", (("t", "T"),), pattern=pattern)
    assert encode_frames(spec, {"T": 1.5}) == [b"1.500"]


def test_value_pattern_that_cannot_express_the_number_sends_the_plain_number() -> None:
    spec = FormatSpec("value", (("t", "T"),), pattern=r"T=([\d.]+)")
    assert encode_frames(spec, {"T": 21.0}) == [b"T=21.000"]
    assert encode_frames(spec, {"T": -3.5}) == [b"-3.500"]


latitudes = st.floats(min_value=-89.9, max_value=89.9)
longitudes = st.floats(min_value=-179.9, max_value=179.9)
magnitudes = st.floats(min_value=0.0, max_value=9999.0)


@settings(max_examples=100, deadline=None)
@given(
    latitudes,
    longitudes,
    magnitudes,
    magnitudes,
    st.integers(min_value=1, max_value=8),
    st.integers(min_value=0, max_value=24),
    st.lists(magnitudes, min_size=5, max_size=5),
)
def test_round_trip_nmea(  # noqa: PLR0917 (one argument per hypothesis strategy)
    latitude: float,
    longitude: float,
    first: float,
    second: float,
    fix: int,
    satellites: int,
    xdr: list[float],
) -> None:
    values = {
        "GGA.latitude": latitude,
        "GGA.longitude": longitude,
        "GGA.altitude": first,
        "GGA.hdop": second,
        "GGA.fix_quality": float(fix),
        "GGA.satellites": float(satellites),
        "RMC.latitude": -latitude,
        "RMC.longitude": -longitude,
        "RMC.speed": first,
        "RMC.course": second,
        "MTW.temperature": -first,
        "MWV.wind_angle": second,
        "MWV.wind_speed": first,
        "DPT.depth": second,
        "DBT.depth": first,
        "HDT.heading": second,
        **{f"XDR.T{i}": value for i, value in enumerate(xdr)},
    }
    spec = FormatSpec("nmea", tuple((field, field) for field in values))
    frames = encode_frames(spec, values)
    # GGA RMC MTW MWV DPT DBT HDT, and two XDR sentences for five transducers.
    assert len(frames) == 9
    # numbers go out with three decimals: half a unit in the last place is the exact bound
    assert_round_trip(spec, values, 5e-4 + 1e-9)


def test_nmea_every_known_field_encodes_and_parses() -> None:
    spec = FormatSpec("nmea", tuple((f, f) for f in NMEA_FIELDS))
    values = dict.fromkeys(NMEA_FIELDS, 3.0)
    values["MWV.wind_speed_mps"] = 3.0 * 1852 / 3600  # derived from wind_speed in knots
    assert_round_trip(spec, values, 5e-4)


def test_nmea_wind_speed_mps_alone_is_sent_in_metres_per_second() -> None:
    spec = FormatSpec("nmea", (("w", "MWV.wind_speed_mps"),))
    [frame] = encode_frames(spec, {"MWV.wind_speed_mps": 7.25})
    assert b",7.250,M,A*" in frame
    assert make_parser(spec)(frame) == [("w", 7.25)]


def test_nmea_sentences_look_like_a_receiver() -> None:
    spec = FormatSpec("nmea", (("a", "GGA.altitude"), ("s", "RMC.speed")))
    gga, rmc = encode_frames(spec, {"GGA.altitude": 545.4, "RMC.speed": 22.4}, 45_296.5)
    assert gga.startswith(b"$GPGGA,123456.50,4807.03800,N,01131.00200,E,1,08,0.900,545.400,M,")
    assert rmc.startswith(b"$GPRMC,123456.50,A,")
    assert gga[-3:-2] == b"*"


def test_csv_header_frame() -> None:
    spec = FormatSpec("csv", (("t", "temp"),), columns=("time", "temp"), delimiter=";", header=True)
    assert header_frame(spec) == b"time;temp"
    assert make_parser(spec)(b"time;temp") == []
    assert header_frame(FormatSpec("csv", (("t", "temp"),), columns=("time", "temp"))) is None
    assert header_frame(KV) is None


def test_missing_values_are_left_out() -> None:
    assert encode_frames(KV, {"T": 1.0}) == [b"T=1.000"]
    assert encode_frames(FormatSpec("value", (("t", "T"),)), {}) == []
    assert encode_frames(FormatSpec("json", (("t", "a.b"), ("u", "c"))), {"c": 2}) == [b'{"c":2}']
    csv = FormatSpec("csv", (("t", "0"), ("h", "2")))
    assert encode_frames(csv, {"2": 5.0}) == [b",0,5.000"]


def test_encoder_errors() -> None:
    with pytest.raises(ValueError, match="not finite"):
        encode_frames(KV, {"T": math.nan})
    with pytest.raises(ValueError, match="conflicts"):
        make_encoder(FormatSpec("json", (("a", "a"), ("b", "a.b"))))
    with pytest.raises(ValueError, match="conflicts"):
        make_encoder(FormatSpec("json", (("a", "a.0"), ("b", "a.b"))))
    with pytest.raises(ValueError, match="above 1000"):
        make_encoder(FormatSpec("json", (("a", "a.1001"),)))
    with pytest.raises(ValueError, match="format"):
        make_encoder(FormatSpec("xml", (("a", "a"),)))


# -- the device ----------------------------------------------------------------------------------


def test_frames_due_follow_the_sampling_rate() -> None:
    dev = device(rate_hz=10.0, start_s=100.0)
    assert dev.bytes_due(99.9) == b""
    assert dev.next_due_s() == 100.0
    data = dev.bytes_due(105.0)  # frames at 100.0, 100.1, ..., 105.0
    assert data.count(b"\n") == 51
    assert dev.frames_written == 51
    assert dev.bytes_due(105.0) == b""
    assert dev.next_due_s() == pytest.approx(105.1)
    assert dev.bytes_due(dev.next_due_s()).count(b"\n") == 1


@pytest.mark.parametrize("rate_hz", [0.5, 3.0, 50.0, 1000.0])
def test_frames_after_n_seconds_is_n_times_rate(rate_hz: float) -> None:
    dev = device(rate_hz=rate_hz)
    now_s = 0.0
    total = 0
    while now_s < 8.0:
        now_s += 0.037
        total += dev.bytes_due(now_s).count(b"\n")
    assert total == math.floor(now_s * rate_hz) + 1
    assert dev.next_due_s() > now_s


def test_same_seed_same_bytes_whatever_the_read_schedule() -> None:
    simulation = SimulationSpec(
        seed=7, spike_rate=0.05, garbage_rate=0.05, dropout_rate=0.3, dropout_s=1.0
    )
    one = device(simulation=simulation)
    two = device(simulation=simulation)
    at_once = one.bytes_due(9.95)
    in_steps = b"".join(two.bytes_due(i * 0.013) for i in range(1, 766))
    assert at_once == in_steps
    assert one.dropouts == two.dropouts > 0
    assert one.garbage_written == two.garbage_written > 0
    assert one.spikes_written == two.spikes_written > 0
    other_seed = device(simulation=SimulationSpec(seed=8)).bytes_due(9.95)
    assert other_seed != at_once


def test_values_follow_the_signal() -> None:
    spec = FormatSpec("value", (("t", "x"),))
    dev = device(spec, signals={"t": WAVE}, rate_hz=4.0)
    readings = parse_stream(spec, dev.bytes_due(10.0))
    assert len(readings) == 41
    for k, reading in enumerate(readings):
        assert isinstance(reading, list)
        [(channel, value)] = reading
        assert channel == "t"
        assert value == pytest.approx(WAVE.baseline(k / 4.0), abs=0.5)


def test_signal_keys_may_be_fields_and_unknown_keys_fail() -> None:
    spec = FormatSpec("value", (("t", "x"),))
    by_field = device(spec, signals={"x": FLAT})
    assert by_field.bytes_due(0.0) == b"20.000\n"
    with pytest.raises(ValueError, match="unknown channels: y"):
        device(spec, signals={"y": FLAT})


def test_device_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="sampling_rate_hz"):
        device(rate_hz=0.0)
    with pytest.raises(ValueError, match="terminator"):
        device(terminator=b"")
    with pytest.raises(ValueError, match="format"):
        device(FormatSpec("xml", (("temp", "T"),)), signals={})


def test_garbage_and_spike_counts_match_rates() -> None:
    simulation = SimulationSpec(seed=3, spike_rate=0.1, garbage_rate=0.1)
    signal = SignalSpec(center=20.0, amplitude=1.0, period_s=30.0, noise=0.05, drift_per_s=0.0)
    dev = device(simulation=simulation, signals={"temp": signal, "hum": signal}, rate_hz=100.0)
    results = parse_stream(KV, run(dev, 30.0))
    total = 3001
    assert len(results) == total == dev.frames_written + dev.garbage_written
    assert 0.07 * total < dev.garbage_written < 0.13 * total
    assert results.count("encoding") == dev.garbage_written
    assert 0.07 * dev.frames_written < dev.spikes_written < 0.13 * dev.frames_written
    far = [
        value
        for result in results
        if isinstance(result, list)
        for _, value in result
        if abs(value - 20.0) > 10 * signal.amplitude
    ]
    assert len(far) == dev.spikes_written
    assert all(abs(value - 20.0) >= 20.0 - signal.amplitude for value in far)


@pytest.mark.parametrize("terminator", [b"\r\n", b"\x03", b"\n"])
def test_garbage_never_contains_the_terminator(terminator: bytes) -> None:
    simulation = SimulationSpec(seed=5, garbage_rate=0.5)
    dev = device(simulation=simulation, terminator=terminator)
    results = parse_stream(KV, run(dev, 60.0), terminator)
    assert len(results) == dev.frames_written + dev.garbage_written == 601
    assert results.count("encoding") == dev.garbage_written > 200


def test_dropouts_silence_the_device_for_dropout_s() -> None:
    simulation = SimulationSpec(seed=11, dropout_rate=0.02, dropout_s=5.0)
    dev = device(simulation=simulation, rate_hz=10.0)
    data = run(dev, 600.0, step_s=7.0)
    assert dev.dropouts >= 3
    assert dev.frames_written + dev.frames_dropped == 6001
    assert data.count(b"\n") == dev.frames_written
    assert (dev.dropouts - 1) * 50 <= dev.frames_dropped <= dev.dropouts * 50


def test_next_due_skips_a_dropout_under_way() -> None:
    dev = device(simulation=SimulationSpec(seed=0, dropout_rate=1.0, dropout_s=2.5), rate_hz=10.0)
    assert dev.bytes_due(0.5) == b""
    assert dev.dropouts == 1
    assert dev.next_due_s() == pytest.approx(2.5)
    assert dev.bytes_due(2.5).count(b"\n") == 1


def test_csv_header_first_and_after_each_dropout() -> None:
    spec = FormatSpec("csv", (("temp", "T"),), columns=("time", "T"), header=True)
    simulation = SimulationSpec(seed=2, dropout_rate=0.05, dropout_s=3.0)
    dev = device(spec, simulation=simulation, signals={"temp": WAVE}, rate_hz=5.0)
    data = run(dev, 300.0)
    assert data.startswith(b"time,T\n")
    assert dev.dropouts >= 3
    assert dev.headers_written == data.count(b"time,T\n")
    assert dev.dropouts <= dev.headers_written <= dev.dropouts + 1
    results = parse_stream(spec, data)
    assert results.count([]) == dev.headers_written
    assert "syntax" not in results


def test_catch_up_is_capped() -> None:
    dev = device(rate_hz=10.0)
    data = dev.bytes_due(1000.0)
    assert data.count(b"\n") == CATCH_UP_S * 10 + 1
    assert dev.frames_skipped == 9900
    assert dev.bytes_due(1000.5).count(b"\n") == 5
    assert dev.frames_skipped == 9900


def test_nmea_device_sends_one_sentence_per_type() -> None:
    spec = FormatSpec("nmea", (("alt", "GGA.altitude"), ("sog", "RMC.speed"), ("t", "XDR.Air")))
    dev = device(spec, signals={}, rate_hz=1.0, terminator=b"\r\n")
    results = parse_stream(spec, dev.bytes_due(9.0), b"\r\n")
    assert dev.frames_written == 30
    assert len(results) == 30
    channels = [channel for result in results if isinstance(result, list) for channel, _ in result]
    assert channels == ["alt", "sog", "t"] * 10
    altitudes = [v for r in results if isinstance(r, list) for c, v in r if c == "alt"]
    assert all(500 < value < 600 for value in altitudes)


# -- the source ----------------------------------------------------------------------------------


def test_source_lifecycle() -> None:
    clock = FakeClock(0.0)
    source = SimulatedSource("s1", "sim://s1", device(), clock=clock)
    assert isinstance(source, Source)
    assert source.simulated is True
    assert source.fileno() is None
    with pytest.raises(SourceBrokenError, match="s1"):
        source.read()
    source.close()  # never opened: fine
    with source:
        assert source.is_open
        clock.now_s = 1.0
        assert source.read().count(b"\n") == 11
        source.write(b"ignored")
    assert not source.is_open
    with pytest.raises(SourceBrokenError):
        source.read()
    source.close()
    assert "closed" in repr(source)


def test_source_open_drops_what_was_due_before() -> None:
    clock = FakeClock(0.0)
    dev = device(rate_hz=10.0)
    source = SimulatedSource("s1", "sim://s1", dev, clock=clock)
    clock.now_s = 3.0
    source.open()
    assert dev.frames_skipped == 30
    assert source.read().count(b"\n") == 1
    source.close()
    clock.now_s = 50.0
    source.open()
    clock.now_s = 50.25
    assert source.read().count(b"\n") == 3
    source.close()


def test_source_next_due_batches_fast_sensors() -> None:
    clock = FakeClock(0.0)
    source = SimulatedSource("fast", "sim://fast", device(rate_hz=1000.0), clock, 0.05)
    with source:
        assert source.next_due() == 0.0
        assert source.read().count(b"\n") == 1
        assert source.next_due() == pytest.approx(0.05)
        clock.now_s = source.next_due()
        assert source.read().count(b"\n") == 50


def test_source_next_due_follows_slow_sensors() -> None:
    clock = FakeClock(0.0)
    source = SimulatedSource("slow", "sim://slow", device(rate_hz=0.5), clock, 0.05)
    with source:
        source.read()
        assert source.next_due() == pytest.approx(2.0)
        clock.now_s = 1.99
        assert source.read() == b""
        assert source.next_due() == pytest.approx(2.04)
