"""A reload that changes only what a sensor does with its data (``stale_after_s``, a channel's
``filter``, ``normalize`` or ``window``, a channel added or removed) takes it with the port
open: opening a serial port again raises DTR (an Arduino resets and boots for 2 s), loses a
partial line, writes the set-up commands again and starts the counters over. Any other key
(the port's serial settings, the format and its parse keys, polls, set-up, the simulation)
still restarts the sensor.

The port's termios show whether it was opened again: pyserial sets the configured speed at
each open, so a speed the test sets on its own descriptor of the pty after the open stays
only while the daemon keeps its port."""

from __future__ import annotations

import signal
import subprocess
import sys
import termios
from pathlib import Path
from typing import Any

import pytest
from harness.common import REPO, free_port, wait_for
from harness.config import (
    SIM_METER_TOML,
    channel_toml,
    load_sensors,
    sensor_toml,
    write_atomically,
)
from harness.daemon import DaemonProcess, StartDaemon
from harness.modbus import daemon_in_process
from harness.pty import PtyPair
from structlog.testing import capture_logs
from test_config_effects import Clock
from test_frames_commands import read_all

from sensord.config import parse_config
from sensord.config_sensor import SensorConfig
from sensord.sensor import SensorRuntime
from sensord.workers import _merged_reload_sensors


def probe_toml(port: str, *, stale_after_s: float = 5.0, extra: str = "", channels: str) -> str:
    return (
        f'[[sensors]]\nname = "probe"\nport = "{port}"\nformat = "kv"\nsimulate = "never"\n'
        f"stale_after_s = {stale_after_s}\n{extra}\n{channels}"
    )


BEFORE = (
    '[[sensors.channels]]\nname = "a"\nfilter = { min = 0.0, max = 100.0 }\n'
    '[[sensors.channels]]\nname = "b"\n'
    '[[sensors.channels]]\nname = "t"\nwindow = { size = 10 }\n'
)
#: a's normalize changed, b removed, c added, t as it was
AFTER = (
    '[[sensors.channels]]\nname = "a"\nfilter = { min = 0.0, max = 100.0 }\n'
    "normalize = { scale = 2.0 }\n"
    '[[sensors.channels]]\nname = "c"\n'
    '[[sensors.channels]]\nname = "t"\nwindow = { size = 10 }\n'
)


def _speed(pair: PtyPair) -> int:
    assert pair.slave_fd is not None
    return int(termios.tcgetattr(pair.slave_fd)[4])


def _mark_speed(pair: PtyPair, speed: int) -> None:
    """Set the port's speed from the test's own descriptor: an open by the daemon sets the
    configured one again."""
    assert pair.slave_fd is not None
    attrs = termios.tcgetattr(pair.slave_fd)
    attrs[4] = attrs[5] = speed
    termios.tcsetattr(pair.slave_fd, termios.TCSANOW, attrs)


def _started(tmp_path: Path, pair: PtyPair, text: str) -> DaemonProcess:
    daemon = DaemonProcess([], tmp_path=tmp_path, config=text)
    daemon.wait_http()
    daemon.wait_up_settled(["probe"])
    pair.write(b"a=1,b=2,t=3\n" * 5)
    daemon.wait_frames({"probe": 5})
    assert _speed(pair) == termios.B9600  # the configured speed, set by the daemon's open
    _mark_speed(pair, termios.B1200)
    return daemon


def _reload(daemon: DaemonProcess, text: str) -> dict[str, Any]:
    assert daemon.config_path is not None
    reloads = len(daemon.events("configuration reloaded"))
    write_atomically(daemon.config_path, text)
    daemon.signal(signal.SIGHUP)
    wait_for(
        lambda: len(daemon.events("configuration reloaded")) > reloads, 10, "the reload applied"
    )
    return daemon.events("configuration reloaded")[-1]


def test_a_reload_of_channels_and_stale_after_keeps_the_port_open(tmp_path: Path) -> None:
    pair = PtyPair()
    daemon = _started(tmp_path, pair, probe_toml(pair.path, channels=BEFORE))
    try:
        before = daemon.status()["sensors"]["probe"]
        pair.write(b"a=4")  # half a line when the reload comes
        event = _reload(daemon, probe_toml(pair.path, stale_after_s=7.5, channels=AFTER))
        pair.write(b"2,c=7\nc=8\n")
        wait_for(
            lambda: (
                daemon.scrape().get("sensord_reading_value", 0, sensor="probe", channel="c") == 8
            ),
            5,
            "c read",
        )
        status = daemon.status()
        scrape = daemon.scrape()
        speed = _speed(pair)
    finally:
        assert daemon.stop() == 0
        pair.close()
    assert speed == termios.B1200  # never opened again
    probe = status["sensors"]["probe"]
    # the line cut by the reload is read whole, through the new pipeline: a is scaled
    assert scrape.value("sensord_reading_value", sensor="probe", channel="a") == 84.0
    assert not scrape.has("sensord_reading_value", sensor="probe", channel="b")
    assert not scrape.has("sensord_window_samples", sensor="probe", channel="b")
    # counters and state go on: 5 frames before, 2 after
    assert probe["frames"] == before["frames"] + 2 == 7
    assert probe["state"] == "up"
    assert probe["state_for_s"] > before["state_for_s"]
    assert probe["reconnects"] == 0
    assert scrape.value("sensord_step_records_in_total", sensor="probe", step="filter") == 18
    # a changed channel's window starts afresh, an unchanged one's goes on
    windows = {name: channel["window"]["count"] for name, channel in probe["channels"].items()}
    assert windows == {"a": 1, "c": 2, "t": 5}
    assert (event["updated"], event["restarted"], event["unchanged"]) == (["probe"], [], 0)
    assert status["config_last_reload_sensors"] == {
        "added": [],
        "removed": [],
        "restarted": [],
        "updated": ["probe"],
    }


def test_a_reload_of_a_serial_setting_still_opens_the_port_again(tmp_path: Path) -> None:
    pair = PtyPair()
    daemon = _started(tmp_path, pair, probe_toml(pair.path, channels=BEFORE))
    try:
        event = _reload(
            daemon,
            probe_toml(
                pair.path, stale_after_s=7.5, extra="serial.baudrate = 19200", channels=AFTER
            ),
        )
        wait_for(lambda: _speed(pair) == termios.B19200, 5, "the port opened at 19200 baud")
        status = daemon.status()
    finally:
        assert daemon.stop() == 0
        pair.close()
    assert (event["updated"], event["restarted"]) == ([], ["probe"])
    assert status["config_last_reload_sensors"]["restarted"] == ["probe"]


SENSOR: dict[str, Any] = {
    "name": "probe",
    "port": "/dev/ttyUSB0",
    "format": "kv",
    "simulate": "never",
    "stale_after_s": 5.0,
    "poll": {"request": ["?\r\n"], "interval_s": 1.0},
    "channels": [
        {"name": "a", "filter": {"min": 0.0, "max": 100.0}, "window": {"size": 10}},
        {"name": "b", "field": "bb"},
    ],
}


def _edited(**changes: Any) -> SensorConfig:
    table = {**SENSOR, **changes}
    return load_sensors(table).sensors[0]


def _channels(*changes: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {**channel, **change} for channel, change in zip(SENSOR["channels"], changes, strict=True)
    ]


IN_PLACE = {
    "stale_after_s": _edited(stale_after_s=9.0),
    "filter": _edited(channels=_channels({"filter": {"min": 1.0}}, {})),
    "normalize": _edited(channels=_channels({}, {"normalize": {"scale": 0.1}})),
    "window": _edited(channels=_channels({"window": {"size": 20, "time_s": 60.0}}, {})),
    "channel removed": _edited(channels=SENSOR["channels"][:1]),
    "channel added": _edited(channels=[*SENSOR["channels"], {"name": "c"}]),
    "channels reordered": _edited(channels=SENSOR["channels"][::-1]),
}
RESTART = {
    "port": _edited(port="/dev/ttyUSB1"),
    "serial": _edited(serial={"baudrate": 19200}),
    "format": _edited(format="json"),
    "parse": _edited(parse={"pair_separator": ";"}),
    "terminator": _edited(terminator="\r\n"),
    "poll": _edited(poll={"request": ["!\r\n"], "interval_s": 1.0}),
    "setup": _edited(setup=[{"send_text": "go\r\n"}]),
    "warmup_s": _edited(warmup_s=2.0),
    "reconnect": _edited(reconnect={"initial_delay_s": 1.0}),
    "sampling_rate_hz": _edited(sampling_rate_hz=2.0),
    "simulation": _edited(simulation={"seed": 3}),
    "channel field": _edited(channels=_channels({"field": "aa"}, {})),
    "channel signal": _edited(channels=_channels({"signal": {"center": 3.0}}, {})),
}


@pytest.mark.parametrize("edit", IN_PLACE)
def test_what_only_shapes_the_data_is_taken_in_place(edit: str) -> None:
    runtime = SensorRuntime(_edited())
    assert runtime.retunes_to(IN_PLACE[edit])


@pytest.mark.parametrize("edit", RESTART)
def test_what_touches_the_port_or_the_reading_restarts(edit: str) -> None:
    runtime = SensorRuntime(_edited())
    assert not runtime.retunes_to(RESTART[edit])


def test_channels_of_a_simulation_restart_it() -> None:
    """A simulation sends the channels' fields: one added or removed restarts it, and so does
    a filter its signal follows (a filter of a channel whose signal is given does not)."""
    sim = {"port": "sim://probe", "simulate": "auto"}
    given = _channels({"signal": {"center": 50.0, "amplitude": 10.0}}, {})
    runtime = SensorRuntime(_edited(**sim, channels=given))
    assert runtime.simulated
    assert not runtime.retunes_to(_edited(**sim, channels=given[:1]))
    filtered = [{**given[0], "filter": {"min": 1.0}}, given[1]]
    assert runtime.retunes_to(_edited(**sim, channels=filtered))
    # b's signal is the default's, centred on its filter's bounds
    assert not runtime.retunes_to(
        _edited(**sim, channels=[given[0], {"name": "b", "field": "bb", "filter": {"min": 1.0}}])
    )


def test_a_filter_a_simulated_signal_follows_restarts_the_simulation(tmp_path: Path) -> None:
    """A channel without a ``signal`` is simulated around its filter's bounds: a reload that
    moves them restarts the simulation on the new bounds, as a start with the file does,
    instead of sending the old signal into a filter that drops all of it."""

    def sim(bounds: tuple[float, float]) -> str:
        return sensor_toml("probe", "sim://probe", "kv", channels=channel_toml("v", bounds=bounds))

    daemon = DaemonProcess([], tmp_path=tmp_path, config=sim((0.0, 100.0)))
    try:
        daemon.wait_http()
        daemon.wait_state("up")
        event = _reload(daemon, sim((1000.0, 1100.0)))
        wait_for(
            lambda: (
                1000.0
                <= daemon.scrape().get("sensord_reading_value", 0, sensor="probe", channel="v")
                <= 1100.0
            ),
            5,
            "a reading within the new bounds",
        )
    finally:
        assert daemon.stop() == 0
    assert (event["updated"], event["restarted"]) == ([], ["probe"])


def test_a_stale_after_taken_in_place_times_the_next_silence() -> None:
    clock = Clock()
    config = load_sensors(
        {
            "name": "s",
            "port": "sim://s",
            "format": "kv",
            "stale_after_s": 10.0,
            "channels": [{"name": "a"}],
        }
    ).sensors[0]
    runtime = SensorRuntime(config, clock=clock, wall_clock=clock)
    assert runtime.try_open()
    clock.now += 1.0
    runtime.feed(b"a=1\n")
    runtime.tick(clock.now)
    assert runtime.state == "up"
    runtime.retune(config.replace(stale_after_s=2.0))
    clock.now += 3.0
    runtime.tick(clock.now)
    assert runtime.state == "stale"
    assert runtime.source is not None
    assert runtime.snapshot().frames == 1


def test_a_modbus_device_takes_a_window_and_stale_after_with_its_bus_open() -> None:
    """A bus times its silences by its devices' ``stale_after``: the one taken in place."""
    daemon = daemon_in_process(parse_config(SIM_METER_TOML))
    try:
        meter = daemon.reader.sensors["meter"]
        edited = SIM_METER_TOML.replace(
            'channels = [{ name = "v" }]',
            'stale_after_s = 30.0\nchannels = [{ name = "v", window = { size = 7 } }]',
        )
        daemon.apply(parse_config(edited))
        assert daemon.reader.sensors["meter"] is meter
        assert daemon.reload_sensors is not None
        assert daemon.reload_sensors["updated"] == ["meter"]
        [bus] = daemon.reader._buses.values()
        assert bus.devices["meter"].stale_after_s == 30.0
        window = meter.channels["v"].chain.window
        assert window is not None
        assert window.size == 7
    finally:
        daemon.reader.close()


def _sensord_reload(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sensord", "reload", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=REPO,
        check=False,
    )


def test_sensord_reload_names_the_sensors_updated_and_restarted(tmp_path: Path) -> None:
    kept, changed = sensor_toml("kept", "sim://kept"), sensor_toml("changed", "sim://changed")
    daemon = DaemonProcess([], tmp_path=tmp_path, config=kept + changed)
    assert daemon.config_path is not None
    try:
        daemon.wait_http()
        daemon.wait_state("up")
        write_atomically(
            daemon.config_path,
            kept.replace('name = "v"', 'name = "v"\n  window = { size = 5 }')
            + changed.replace("sampling_rate_hz = 10", "sampling_rate_hz = 5"),
        )
        done = _sensord_reload("-c", str(daemon.config_path), "--url", daemon.base_url)
    finally:
        assert daemon.stop() == 0
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1:] == [
        "sensord: updated in place (port kept open): kept; restarted (port opened again): changed"
    ]


def test_a_primary_names_the_sensors_its_workers_updated_and_restarted(
    start_daemon: StartDaemon,
) -> None:
    port = free_port()
    sensors = [sensor_toml(f"s{i}", f"sim://s{i}") for i in range(4)]
    daemon = start_daemon(
        ["--workers", "2"], config=f"[http]\nport = {port}\n" + "".join(sensors), port=port
    )
    assert daemon.config_path is not None
    daemon.wait_http(20)
    wait_for(lambda: daemon.status()["state"] == "running", 20, "the workers running")
    sensors[0] = sensors[0].replace('name = "v"', 'name = "v"\n  window = { size = 5 }')
    sensors[1] = sensors[1].replace("sampling_rate_hz = 10", "sampling_rate_hz = 5")
    write_atomically(daemon.config_path, f"[http]\nport = {port}\n" + "".join(sensors))
    done = _sensord_reload("-c", str(daemon.config_path), "--pid", str(daemon.pid))
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1:] == [
        "sensord: updated in place (port kept open): s0; restarted (port opened again): s1"
    ]
    assert daemon.status()["config_last_reload_sensors"] == {
        "added": [],
        "removed": [],
        "restarted": ["s1"],
        "updated": ["s0"],
    }
    # a reload that does not apply changes no sensor: the workers' lists are of the one before
    write_atomically(daemon.config_path, f"[http]\nport = {port}\n[[sensors]]\nname = 1\n")
    done = _sensord_reload("-c", str(daemon.config_path), "--pid", str(daemon.pid))
    assert done.returncode == 1, done.stdout
    status = daemon.status()
    assert status["config_last_reload_successful"] is False
    assert status["config_last_reload_sensors"] is None


def test_a_primary_tells_the_sensors_its_workers_changed() -> None:
    """A sensor a reload moved from one worker to another was restarted in another process."""
    merged = _merged_reload_sensors(
        {"added": ["moved", "new"], "removed": ["moved"], "restarted": ["r"], "updated": ["u"]}
    )
    assert merged == {
        "added": ["new"],
        "removed": [],
        "restarted": ["moved", "r"],
        "updated": ["u"],
    }


def test_a_channel_added_in_place_that_gets_no_value_is_told(pty_pair: PtyPair) -> None:
    """A channel a reload adds with the port open, whose key the device does not send (spelt
    otherwise), is logged as one that has had no value once the sensor has published five
    minutes since, as after a start: the sensor had published five minutes before it."""
    table: dict[str, Any] = {
        "name": "probe",
        "port": pty_pair.path,
        "format": "kv",
        "simulate": "never",
        "stale_after_s": 30.0,
        "channels": [{"name": "t"}],
    }
    config = load_sensors(table).sensors[0]
    added = [{"name": "t"}, {"name": "humidity", "field": "humidty"}]
    edited = load_sensors({**table, "channels": added}).sensors[0]
    line = b"t=21.5,humidity=40\n"
    clock = Clock()
    runtime = SensorRuntime(config, clock=clock, wall_clock=clock)
    assert runtime.try_open()
    told_at: list[int] = []
    try:
        with capture_logs() as logs:
            for second in range(700):
                if second == 350:
                    assert runtime.retunes_to(edited)
                    runtime.retune(edited)
                if second % 5 == 0:
                    pty_pair.write(line)
                    read_all(runtime, len(line))
                clock.now += 1.0
                runtime.tick(clock.now)
                runtime.remind(clock.now)
                if not told_at and any(e["event"] == "channel has had no value" for e in logs):
                    told_at.append(second)
    finally:
        runtime.stop()
    assert runtime.reconnects == 0
    [told] = [e for e in logs if e["event"] == "channel has had no value"]
    assert told["channels"] == {"humidity": "humidty"}
    assert 650 <= told_at[0] < 700
