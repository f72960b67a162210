"""Captures from the real daemon: ``/capture`` over HTTP, ``sensord capture SENSOR``, SIGUSR1,
and the acceptance test: a capture of every sensor of the running demo (every format, and a
polled sensor) replays through ``replay://`` to the same frame and reading counts."""

from __future__ import annotations

import signal
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from harness.common import free_port, wait_for
from harness.daemon import StartDaemon, sensord_cli
from harness.modbus import ModbusServer
from harness.pty import PtyPair
from harness.replay import capture_with_counts, replay_counts

from sensord.capture import RX, TX, parse_capture, read_capture
from sensord.config import parse_config
from sensord.demo import DEMO_CONFIG
from sensord.shard import shard_key, shard_of

pytestmark = pytest.mark.slow


def test_a_capture_of_every_demo_sensor_replays_to_the_same_counts(
    start_daemon: StartDaemon, tmp_path: Path
) -> None:
    # the demo's polled sensor (co2, every 5 s by its preset) polled every second: three
    # frames of it come within 3 s, not 10
    setup = 'preset = "mhz19"\nsetup = ["abc_off"]\n'
    assert DEMO_CONFIG.count(setup) == 1
    config = DEMO_CONFIG.replace(setup, setup + 'poll = { command = "read", interval_s = 1 }\n')
    daemon = start_daemon(config=config)
    daemon.wait_http()
    tables = tomllib.loads(config)["sensors"]
    assert {t["name"] for t in tables} == set(daemon.status()["sensors"])
    # every sensor framed something, and the polled one was polled twice
    daemon.wait_sensors(lambda s: s["frames"] >= 3, None, 20.0, "frames from every sensor")
    wait_for(
        lambda: (
            sum(
                r.direction == TX
                for r in parse_capture(capture_with_counts(daemon, "co2")[0]).records
            )
            >= 2
        ),
        15.0,
        "two polls of co2",
        interval_s=0.5,
    )
    for table in tables:
        name = table["name"]
        body, expected = capture_with_counts(daemon, name)
        path = tmp_path / f"{name}.cap"
        path.write_bytes(body)
        capture = read_capture(str(path))
        assert capture.header["sensor"] == name
        assert capture.header["format"] == table.get("format", "frames")
        assert expected["frames"] >= 3
        assert replay_counts(table, path) == expected, name
    assert daemon.alive()


def test_capture_over_http_by_command_and_on_sigusr1(
    start_daemon: StartDaemon, tmp_path: Path, pty_pair: PtyPair
) -> None:
    port = free_port()
    captures = tmp_path / "captures"
    config = f"""
[http]
port = {port}
[capture]
directory = "{captures}"
ring_bytes = 64
[[sensors]]
name = "dev"
port = "{pty_pair.path}"
format = "value"
  [[sensors.channels]]
  name = "v"
"""
    daemon = start_daemon(config=config, port=port)
    daemon.wait_http()
    daemon.wait_up_settled(["dev"])
    lines = b"".join(b"%d.5\n" % i for i in range(40))
    for i in range(0, len(lines), 20):
        pty_pair.write(lines[i : i + 20])
    daemon.wait_frames({"dev": 40})

    with urllib.request.urlopen(f"{daemon.base_url}/capture?sensor=dev", timeout=5) as reply:
        assert reply.headers["Content-Type"] == "application/octet-stream"
        over_http = parse_capture(reply.read())
    assert over_http.header["port"] == pty_pair.path
    assert over_http.header["serial"] == "9600 8N1"
    rx = b"".join(r.data for r in over_http.records if r.direction == RX)
    assert 0 < len(rx) <= 64
    assert lines.endswith(rx)  # the newest bytes, within the ring's 64
    assert daemon.get("/capture?sensor=nope")[0] == 404

    out = tmp_path / "dev.cap"
    done = sensord_cli("capture", "dev", "-c", str(daemon.config_path), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert read_capture(str(out)).records == over_http.records

    daemon.signal(signal.SIGUSR1)
    wait_for(lambda: bool(list(captures.glob("dev-*.cap"))), 10.0, "the SIGUSR1 capture")
    (written,) = captures.glob("dev-*.cap")
    assert read_capture(str(written)).records == over_http.records
    wait_for(lambda: bool(daemon.events("captures written")), 5.0, "the capture's log line")
    assert daemon.events("captures written")[0]["files"] == [written.name]
    assert daemon.alive()
    assert daemon.stop() == 0


def test_with_workers_the_primary_serves_captures_and_forwards_sigusr1(
    start_daemon: StartDaemon, tmp_path: Path
) -> None:
    captures = tmp_path / "captures"
    sensors = "".join(
        f'[[sensors]]\nname = "s{i}"\nport = "sim://s{i}"\nformat = "value"\n'
        f'sampling_rate_hz = 20\n[[sensors.channels]]\nname = "v"\n'
        for i in range(4)
    )
    config = f'[capture]\ndirectory = "{captures}"\n{sensors}'
    daemon = start_daemon(["--workers", "2"], config=config)
    daemon.wait_http()
    wait_for(lambda: all(w["ready"] for w in daemon.status()["workers"]), 20.0, "workers ready")
    daemon.wait_sensors(lambda s: s["frames"] >= 5, None, 15.0, "frames from every sensor")
    for i in range(4):
        with urllib.request.urlopen(f"{daemon.base_url}/capture?sensor=s{i}", timeout=5) as reply:
            capture = parse_capture(reply.read())
        assert capture.header["sensor"] == f"s{i}"
        assert len(capture.records) >= 5
    assert daemon.get("/capture?sensor=nope")[0] == 404
    daemon.signal(signal.SIGUSR1)
    wait_for(
        lambda: (
            sorted(p.name.split("-")[0] for p in captures.glob("*.cap")) == ["s0", "s1", "s2", "s3"]
        ),
        15.0,
        "a capture of every sensor, written by the workers",
    )
    assert daemon.alive()
    assert all(w["ready"] for w in daemon.status()["workers"])


def test_with_workers_the_capture_of_a_modbus_device_comes_from_the_worker_of_its_bus(
    start_daemon: StartDaemon,
) -> None:
    """The devices of a bus run in the worker of the bus's port, not in the one their own
    name would place them in: the demo's meter (on sim://meter-bus) is in worker 1 of 3,
    its name alone gives worker 2, whose answer was 404 (unknown sensor)."""
    config = DEMO_CONFIG
    parsed = parse_config(config)
    [meter] = [s for s in parsed.sensors if s.name == "meter"]
    assert meter.on_bus
    assert shard_of(shard_key(meter), 3) != shard_of(meter.name, 3)
    daemon = start_daemon(["--workers", "3"], config=config)
    daemon.wait_http()
    wait_for(lambda: all(w["ready"] for w in daemon.status()["workers"]), 30.0, "workers ready")
    daemon.wait_sensors(lambda s: s["frames"] >= 1, ["meter"], 20.0, "the meter's answers")
    try:
        with urllib.request.urlopen(f"{daemon.base_url}/capture?sensor=meter", timeout=5) as reply:
            capture = parse_capture(reply.read())
    except urllib.error.HTTPError as exc:
        raise AssertionError(f"/capture?sensor=meter: {exc.code} {exc.read()!r}") from None
    assert capture.header["sensor"] == "meter"
    assert capture.records  # its exchanges


def test_a_capture_of_a_modbus_tcp_device_replays_to_the_same_counts(
    start_daemon: StartDaemon, tmp_path: Path
) -> None:
    """A device behind a Modbus TCP gateway (a real pymodbus server): its capture holds its
    exchanges in MBAP framing, and the capture's ``port`` header names the gateway's
    ``modbus-tcp://`` URL, so ``replay://`` cuts and decodes them as Modbus TCP (not as RTU,
    which the ``replay://`` URL alone would say) to the counts of the live run."""
    with ModbusServer([1], "tcp") as server:
        server.set(1, "holding", 0, [230, 50])
        table = {
            "name": "meter",
            "format": "modbus",
            "modbus": {"unit": 1, "interval_s": 0.2},
            "registers": [
                {"name": "voltage", "table": "holding", "address": 0},
                {"name": "frequency", "table": "holding", "address": 1},
            ],
            "channels": [{"name": "voltage"}, {"name": "frequency"}],
        }
        daemon = start_daemon(
            config=(
                f'[[sensors]]\nname = "meter"\nport = "{server.url}"\nformat = "modbus"\n'
                "modbus = { unit = 1, interval_s = 0.2 }\n"
                'registers = [{ name = "voltage", table = "holding", address = 0 }, '
                '{ name = "frequency", table = "holding", address = 1 }]\n'
                'channels = [{ name = "voltage" }, { name = "frequency" }]\n'
            )
        )
        daemon.wait_http()
        daemon.wait_sensors(lambda s: s["frames"] >= 5, None, 15.0, "five answered reads")
        body, expected = capture_with_counts(daemon, "meter")
    path = tmp_path / "meter.cap"
    path.write_bytes(body)
    assert read_capture(str(path)).header["port"] == server.url
    assert expected["frames"] >= 5
    assert expected["readings"] == 2 * expected["frames"]
    assert replay_counts(table, path) == expected


def test_an_empty_capture_of_a_modbus_device_says_what_its_capture_leaves_out(
    start_daemon: StartDaemon, tmp_path: Path, pty_pair: PtyPair
) -> None:
    """A Modbus device that never answered has an empty capture (timeouts and exception
    responses are not in it); the command says so instead of giving a size alone."""
    port = free_port()
    config = f"""
[http]
port = {port}
[[sensors]]
name = "meter"
port = "{pty_pair.path}"
format = "modbus"
modbus = {{ unit = 1, interval_s = 0.5, timeout_s = 0.2 }}
registers = [{{ name = "power", ref = "30013", type = "float32" }}]
channels = [{{ name = "power" }}]
"""
    daemon = start_daemon(config=config, port=port)
    daemon.wait_http()
    out = tmp_path / "meter.cap"
    done = sensord_cli("capture", "meter", "-c", str(daemon.config_path), "-o", str(out))
    assert done.returncode == 0, done.stderr
    assert read_capture(str(out)).records == []
    assert "no exchange" in done.stdout
    assert "timeouts and exception responses are not in it" in done.stdout
    assert daemon.stop() == 0
