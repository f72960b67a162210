"""Tests of sensord.signals and sensord.sources.simulated: the device model and its source."""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from harness.common import wait_for
from harness.daemon import DaemonProcess
from harness.pty import pty_numbers_held

from sensord.cli import main
from sensord.config import Config
from sensord.errors import ParseError, SourceBrokenError
from sensord.formats import codec_for
from sensord.formats.base import FormatSpec, Framer
from sensord.formats.lines import LineFramer
from sensord.signals import SignalSpec, SimulationSpec
from sensord.sources.base import Source
from sensord.sources.simulated import (
    CATCH_UP_S,
    DEFAULT_SIGNAL,
    MAX_READ_BYTES,
    SimulatedDevice,
    SimulatedSource,
)
from sensord.tools import device_pty

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
    parser = codec_for(spec.format).decoder(spec)
    results: list[object] = []
    for frame in LineFramer(terminator, 512).feed(data):
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
    with pytest.raises(ValueError, match=r"parse\.kv_separator: must not be empty"):
        device(FormatSpec("kv", (("temp", "T"),), kv_separator=""), signals={})


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


def test_a_read_of_a_device_faster_than_its_reader_is_bounded_and_the_rest_stays_due() -> None:
    """A device at 20 kHz read after 2 s owes 40001 lines: one read gives the lines of at most
    MAX_READ_BYTES (and the one that crossed them), the next reads go on where it ended, and
    together they are the bytes that reads every millisecond give, none skipped."""
    fast = device(rate_hz=20_000.0)
    chunks = []
    while chunk := fast.bytes_due(2.0):
        all_but_its_last_line = chunk[: chunk.rindex(b"\n", 0, len(chunk) - 1) + 1]
        assert len(all_but_its_last_line) < MAX_READ_BYTES
        chunks.append(chunk)
    assert len(chunks) > 5
    assert fast.frames_skipped == 0
    assert fast.frames_written == 40_001
    steady = device(rate_hz=20_000.0)
    assert b"".join(chunks) == b"".join(steady.bytes_due(i / 1000) for i in range(2001))


def test_nmea_device_sends_one_sentence_per_type() -> None:
    spec = FormatSpec("nmea", (("alt", "GGA.altitude"), ("sog", "RMC.speed"), ("t", "XDR.Air")))
    altitude = SignalSpec(center=545.4, amplitude=2.0, period_s=600.0, noise=0.3, drift_per_s=0.0)
    dev = device(spec, signals={"alt": altitude}, rate_hz=1.0, terminator=b"\r\n")
    results = parse_stream(spec, dev.bytes_due(9.0), b"\r\n")
    assert dev.frames_written == 30
    assert len(results) == 30
    channels = [channel for result in results if isinstance(result, list) for channel, _ in result]
    assert channels == ["alt", "sog", "t"] * 10
    altitudes = [v for r in results if isinstance(r, list) for c, v in r if c == "alt"]
    assert all(540 < value < 551 for value in altitudes)
    # the fields without a signal of their own follow the default signal
    speeds = [v for r in results if isinstance(r, list) for c, v in r if c == "sog"]
    assert all(abs(value - DEFAULT_SIGNAL.center) <= 6.0 for value in speeds)
    assert len(set(speeds)) == 10


def test_nmea_device_sends_gsa_and_gsv_groups_of_a_consistent_constellation() -> None:
    spec = FormatSpec(
        "nmea",
        (
            ("fix", "GSA.fix_mode"),
            ("used", "GSA.used_gps"),
            ("gps", "GSV.in_view_gps"),
            ("glo", "GSV.in_view_glonass"),
            ("snr", "GSV.snr_max_glonass"),
            ("zda", "ZDA.clock_offset"),
        ),
    )
    flat = SignalSpec(center=0.0, amplitude=0.0, period_s=60.0, noise=0.0, drift_per_s=0.0)
    signals = {
        "fix": SignalSpec(3.0, 0.0, 60.0, 0.0, 0.0),
        "used": SignalSpec(7.0, 0.0, 60.0, 0.0, 0.0),
        "gps": SignalSpec(9.0, 0.0, 60.0, 0.0, 0.0),
        "glo": SignalSpec(5.0, 0.0, 60.0, 0.0, 0.0),
        "snr": SignalSpec(41.0, 0.0, 60.0, 0.0, 0.0),
        "zda": flat,
    }
    dev = device(spec, signals=signals, rate_hz=1.0, terminator=b"\r\n")
    data = dev.bytes_due(2.0)
    sentences = data.split(b"\r\n")[:-1]
    gps = [s for s in sentences if s.startswith(b"$GPGSV,")]
    glonass = [s for s in sentences if s.startswith(b"$GLGSV,")]
    assert len(gps) == 3 * 3
    assert len(glonass) == 2 * 3
    assert gps[0].startswith(b"$GPGSV,3,1,09,01,")
    assert gps[2].startswith(b"$GPGSV,3,3,09,09,")
    glonass_numbers = {
        int(fields[i])
        for fields in (sentence.split(b",") for sentence in glonass)
        for i in range(4, len(fields) - 1, 4)
    }
    assert glonass_numbers == {65, 66, 67, 68, 69}  # GLONASS satellites number from 65
    parse = codec_for("nmea").decoder(spec)
    readings = [pair for frame in sentences for pair in parse(frame)]
    by_channel: dict[str, list[float]] = {}
    for channel, value in readings:
        by_channel.setdefault(channel, []).append(value)
    assert by_channel["fix"] == [3.0] * 3
    assert by_channel["used"] == [7.0] * 3
    assert by_channel["gps"] == [9.0] * 3
    assert by_channel["glo"] == [5.0] * 3
    assert by_channel["snr"] == [41.0] * 3
    assert all(abs(offset) < 0.05 for offset in by_channel["zda"])


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


def test_value_device_with_an_example_sends_the_example() -> None:
    spec = FormatSpec("value", (("t", "T"),), pattern=r"T=(\S+) C", example="#1 T=0.00 C")
    dev = device(spec, signals={"t": FLAT})
    assert dev.bytes_due(0.15) == b"#1 T=20.00 C\n#1 T=20.00 C\n"  # the example's shape
    assert parse_stream(spec, dev.bytes_due(1.0)) == [[("t", 20.0)]] * 9  # 0.2 s ... 1.0 s


def test_a_device_of_several_numbers_per_line_fills_every_channel_s_group() -> None:
    spec = FormatSpec(
        "value",
        (("humidity", "h"), ("celsius", "t"), ("dew", "t")),
        pattern=r"^Humidity: (?P<h>\S+)%  Temperature: (?P<t>\S+)°C",
        example="Humidity: 45.00%  Temperature: 23.00°C 73.40°F",
    )
    dev = device(spec, signals={"humidity": WAVE, "celsius": FLAT})
    frames = parse_stream(spec, dev.bytes_due(2.0))
    assert len(frames) == 21
    for frame in frames:
        assert isinstance(frame, list)
        assert [channel for channel, _ in frame] == ["humidity", "celsius", "dew"]
        assert frame[1][1] == frame[2][1] == 20.0  # two decimals, as the example's
    assert dev.bytes_due(2.1).endswith(b"\xc2\xb0C 73.40\xc2\xb0F\n")


@pytest.mark.slow
def test_a_daemon_with_a_simulated_receiver_at_100_khz_stops_at_once(tmp_path: Path) -> None:
    """An NMEA receiver simulated at sampling_rate_hz's bound, 100 kHz, is more than the
    daemon reads and parses: its backlog reaches CATCH_UP_S, and a read that produced all of
    it (some 800,000 sentences) would hold the loop, and a SIGTERM with it, for up to half a
    minute. A read gives at most MAX_READ_BYTES, so the daemon stops within 5 s (well inside
    systemd's stop timeout; some 0.2 s here)."""
    config = """
[[sensors]]
name = "gps"
port = "sim://gps"
format = "nmea"
sampling_rate_hz = 100000.0
channels = [{ name = "altitude_m", field = "GGA.altitude" }, { name = "speed", field = "RMC.speed" },
            { name = "satellites", field = "GSV.in_view_gps" }]
"""
    daemon = DaemonProcess(tmp_path=tmp_path, config=config)
    try:
        daemon.wait_http(timeout_s=30)
        wait_for(
            lambda: daemon.scrape().get("sensord_frames_total", 0.0, sensor="gps") > 100_000,
            30.0,
            "100,000 frames of the receiver",
        )
        # the receiver writes more than the loop parses: by its 100,000th frame its backlog
        # is far more than one read of MAX_READ_BYTES gives (a read that gave all of
        # it would have held the loop before the frames got that far)
        took_s, code = daemon.stop_timed(timeout_s=60.0)
    finally:
        daemon.kill()
    assert code == 0
    assert took_s < 5.0, took_s
    assert not [r for r in daemon.log_records() if r["level"] == "error"]


def test_simulate_command_reports_what_the_device_wrote(tmp_path: Path) -> None:
    config = tmp_path / "sensord.toml"
    config.write_text(
        '[[sensors]]\nname = "noisy"\nport = "sim://noisy"\nformat = "csv"\n'
        'parse = { columns = ["a", "b"], header = true }\n'
        "simulation = { seed = 3, garbage_rate = 0.2, spike_rate = 0.2 }\n"
        '  [[sensors.channels]]\n  name = "a"\n'
    )
    command = ["simulate", "-c", str(config), "--stdout", "--seconds", "1", "--rate", "200"]
    result = subprocess.run(
        [sys.executable, "-m", "sensord", *command],
        capture_output=True,
        timeout=60,
        check=True,
    )
    summary = re.fullmatch(
        rb"simulated sensor 'noisy' wrote (\d+) frames \((\d+) with a spike\), (\d+) garbage "
        rb"lines and (\d+) header lines, 0 command replies; 0 dropouts silenced 0 frames and "
        rb"0 answers; \d+ frames skipped while paused\n",
        result.stderr,
    )
    assert summary is not None, result.stderr
    frames, spikes, garbage, headers = map(int, summary.groups())
    assert headers == 1
    assert 0 < spikes < frames
    assert 0 < garbage < frames
    spec = FormatSpec("csv", (("a", "a"),), columns=("a", "b"), header=True)
    results = parse_stream(spec, result.stdout)
    assert len(results) == frames + garbage + headers
    assert results.count("encoding") == garbage
    assert results.count([]) == headers


def test_simulate_refuses_options_its_device_would_ignore(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """Options that changed nothing (``--speed`` and ``--loop`` without ``--replay``, ``--link``
    with ``--stdout``, ``--rate`` of a polled device, ``--rate 0``) are usage errors."""
    config = tmp_path / "sensord.toml"
    config.write_text(
        '[[sensors]]\nname = "meter"\nport = "sim://p"\nformat = "value"\n'
        "poll = { request = 'R\\r', interval_s = 1 }\nchannels = [{ name = \"v\" }]\n"
        '[[sensors]]\nname = "free"\nport = "sim://f"\nformat = "value"\n'
        'channels = [{ name = "v" }]\n'
    )
    simulate = ["simulate", "-c", str(config), "--seconds", "0.2"]
    for options, why in {
        ("--speed", "2"): "--speed applies to --replay (times the capture's pace); a simulated "
        "sensor sends at its sampling rate (--rate)",
        ("--loop",): "--loop applies to --replay (start the capture over at its end); a "
        "simulated sensor sends until it is stopped",
        ("--stdout", "--link", str(tmp_path / "tty")): "--link names the pty; with --stdout "
        "there is none",
        ("--rate", "5"): "--rate applies to a device that sends on its own; sensor 'meter' is "
        "polled: it answers each request with one frame",
    }.items():
        with pytest.raises(SystemExit) as exited:
            main([*simulate, *options])
        assert exited.value.code == 2, options
        err = " ".join(capfd.readouterr().err.split())
        assert err.startswith("usage: sensord simulate "), err
        assert err.endswith(f"sensord simulate: error: {why}"), err
    assert main([*simulate, "--sensor", "free", "--rate", "0"]) == 2
    assert capfd.readouterr().err == "sensord: --rate must be a finite number > 0, got 0\n"
    assert main([*simulate, "--sensor", "free", "--rate", "50"]) == 0
    assert "simulating sensor 'free' (value, 50 Hz)" in capfd.readouterr().out
    for seconds in ("0", "-1", "nan"):  # would stop before a frame is sent
        with pytest.raises(SystemExit) as exited:
            main(["simulate", "-c", str(config), "--sensor", "free", "--seconds", seconds])
        assert exited.value.code == 2
        assert (
            capfd.readouterr()
            .err.rstrip()
            .endswith(
                "error: argument --seconds: must be above 0 (leave --seconds out to run until "
                f"stopped), got {seconds}"
            )
        )


def test_simulate_of_a_mistyped_sensor_names_the_one_meant(
    capfd: pytest.CaptureFixture[str],
) -> None:
    """``--sensor`` of a name the config does not have is told the closest, as ``sensord
    capture`` tells a mistyped sensor, and the names there are."""
    assert main(["simulate", "--sensor", "boilr", "--seconds", "0.2"]) == 1
    err = capfd.readouterr().err
    assert err.startswith("sensord: no sensor 'boilr' in the config; did you mean 'boiler'? "), err
    assert main(["simulate", "--sensor", "zzz", "--seconds", "0.2"]) == 1
    err = capfd.readouterr().err
    assert err.startswith("sensord: no sensor 'zzz' in the config (have: boiler, "), err


def test_simulate_link_replaces_nothing_but_its_own_links(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    """``--link`` never takes the place of a device node, a link to a device, a file or a
    directory (``simulate --link /dev/ttyUSB0`` would have removed the device node); a link an
    earlier run left (to a pty, or to nothing) is taken over; on exit the link is removed only
    while it is still this run's."""
    config_file = tmp_path / "sensord.toml"
    config_file.write_text("[http]\n")
    to_device = tmp_path / "by-id-link"
    to_device.symlink_to("/dev/null")
    (tmp_path / "dir").mkdir()
    simulate = ["simulate", "--seconds", "0.2", "--link"]
    for path, why in {
        to_device: f"{to_device} is a link to /dev/null, not to a pty",
        config_file: f"{config_file} exists (a file)",
        tmp_path / "dir": f"{tmp_path / 'dir'} exists (a directory)",
        tmp_path / "none" / "tty": f"{tmp_path / 'none' / 'tty'}: the directory "
        f"{tmp_path / 'none'} does not exist",
    }.items():
        with pytest.raises(SystemExit) as exited:
            main([*simulate, str(path)])
        assert exited.value.code == 2, path
        assert f"error: argument --link: {why}" in capfd.readouterr().err, path
    assert config_file.read_text() == "[http]\n"
    assert os.readlink(to_device) == "/dev/null"
    assert (tmp_path / "dir").is_dir()
    devnull = Path("/dev/null")
    with pytest.raises(SystemExit):
        main([*simulate, str(devnull)])
    assert "/dev/null exists (a device node)" in capfd.readouterr().err
    assert devnull.is_char_device()
    with pty_numbers_held():  # the ptys these runs make, as every pty of the suite
        for left in ("/dev/pts/4093", str(tmp_path / "gone")):  # earlier runs', to ptys gone
            link = tmp_path / "tty"
            link.unlink(missing_ok=True)
            link.symlink_to(left)
            assert main([*simulate, str(link)]) == 0
            assert f"{link} -> /dev/pts/" in capfd.readouterr().out
            assert not link.is_symlink()  # removed on exit
        # a file beside the link is not touched (the link is made under a name of its own)
        beside = tmp_path / "tty.tmp"
        beside.write_text("someone's\n")
        assert main([*simulate, str(tmp_path / "tty")]) == 0
        assert beside.read_text() == "someone's\n"
        # a link to a pty another run plays on is refused
        with device_pty(tmp_path / "busy") as (_, tty_path):
            with pytest.raises(SystemExit):
                main([*simulate, str(tmp_path / "busy")])
            assert f"is a link to {tty_path}, a pty that is open" in capfd.readouterr().err
            assert os.readlink(tmp_path / "busy") == tty_path
        # a link another run made meanwhile at the same path stays
        link = tmp_path / "taken"
        with device_pty(link) as (_, tty_path):
            assert os.readlink(link) == tty_path
            link.unlink()
            link.symlink_to("/dev/pts/4094")
        assert os.readlink(link) == "/dev/pts/4094"


def test_simulate_says_a_preset_sensor_reading_its_pty_warms_up_first(tmp_path: Path) -> None:
    config = tmp_path / "sensord.toml"
    config.write_text('[[sensors]]\nname = "air"\nport = "sim://air"\npreset = "pms5003"\n')
    command = ["simulate", "-c", str(config), "--seconds", "0.3", "--link", str(tmp_path / "tty")]
    with pty_numbers_held():
        result = subprocess.run(
            [sys.executable, "-m", "sensord", *command], capture_output=True, timeout=60, check=True
        )
    assert b"as 'air' drops the first 30 s of frames (warmup_s)" in result.stderr
    assert b"warmup_s = 0 in a copy of its [[sensors]] table skips that" in result.stderr


# -- the particulate presets' simulated air ------------------------------------------------------


def preset_stream(table: dict[str, Any], seconds: int) -> tuple[SimulatedDevice, Framer, bytes]:
    """The simulated device of the preset sensor ``table``, a framer of its frames, and the
    bytes it sends in ``seconds`` seconds (one frame a second)."""
    errors: list[str] = []
    config = Config.load({"sensors": [{"name": "air", "port": "sim://air", **table}]}, "", errors)
    assert config is not None, errors
    sensor = config.sensors[0]
    spec = sensor.format_spec()
    device = SimulatedDevice(
        spec, sensor.signal_specs(), 1.0, sensor.terminator, sensor.simulation_spec(), 0.0
    )
    framer = codec_for("frames").framer(spec, sensor.terminator, sensor.max_frame_bytes)
    return device, framer, b"".join(device.bytes_due(t + 0.5) for t in range(seconds))


@pytest.mark.parametrize("preset", ["pms5003", "pmsa003", "sds011"])
def test_a_simulated_particulate_sensor_reads_air_a_real_one_could(preset: str) -> None:
    """PM1.0 <= PM2.5 <= PM10 in every frame, the particle counts fall with the size, and the
    values are a room's (tens of µg/m³), not the middle of the sensor's range."""
    device, framer, stream = preset_stream({"preset": preset}, 300)
    decode = codec_for("frames").decoder(device.spec)
    frames = framer.feed(stream)
    assert len(frames) == 300
    for frame in frames:
        values = dict(decode(frame))
        for kind in ("", "standard_"):  # atmospheric and CF=1
            if f"pm1_0_{kind}ug_m3" in values:
                pm1, pm2_5, pm10 = (
                    values[f"pm{size}_{kind}ug_m3"] for size in ("1_0", "2_5", "10")
                )
                assert pm1 <= pm2_5 <= pm10 < 50.0
        assert 0.0 < values["pm2_5_ug_m3"] < values["pm10_ug_m3"] < 50.0
        counts = [value for name, value in values.items() if name.startswith("particles_")]
        assert counts == sorted(counts, reverse=True)


@pytest.mark.parametrize("preset", ["pms5003", "sds011", "mhz19"])
def test_a_binary_device_damages_frames_as_a_serial_line_does(preset: str) -> None:
    """Garbage on a binary device is noise, false starts, bit errors and cut frames: the
    framer rejects candidates by checksum and still finds every intact frame."""
    table = {"preset": preset, "simulation": {"seed": 3, "garbage_rate": 0.3}}
    device, framer, stream = preset_stream(table, 400)
    frames = framer.feed(stream)
    assert device.garbage_written > 80
    assert framer.rejected["checksum"] > 10
    assert len(frames) == device.frames_written == 400 - device.garbage_written
