"""Steps of the wall clock: a host without a real-time clock boots with the last time it saved
(hours to months behind) and NTP then steps it forward; a wrong server or a ``date`` steps it
back. The monotonic clock goes on unstepped. Every duration and age sensord reports is
measured on the monotonic clock; the wall clock only dates a moment when it is shown, as it
reads then."""

from __future__ import annotations

from pathlib import Path

from harness.config import channel_toml, sensor_toml, write_atomically

from sensord.config import load_config, parse_config
from sensord.daemon import Daemon
from sensord.sensor import SensorRuntime

DAY_S = 86400.0


class Clocks:
    """A host's two clocks, moved by hand: ``pass_s`` moves both, ``step_s`` the wall clock
    alone (what NTP or ``date`` does)."""

    def __init__(self) -> None:
        self.mono = 5000.0
        self.wall = 1_700_000_000.0  # a boot with the time saved months before

    def monotonic(self) -> float:
        return self.mono

    def time(self) -> float:
        return self.wall

    def pass_s(self, seconds: float) -> None:
        self.mono += seconds
        self.wall += seconds

    def step_s(self, seconds: float) -> None:
        self.wall += seconds


def test_uptime_and_the_last_reload_time_survive_steps_of_the_wall_clock(tmp_path: Path) -> None:
    """``uptime_s`` counts the seconds the process ran whatever the wall clock does (it read
    30 days after NTP stepped the clock forward, and a negative time after a step back), and
    ``sensord_config_last_reload_success_timestamp_seconds`` dates the reload on the wall
    clock as it reads now (it stayed months behind after NTP set the clock)."""
    config = tmp_path / "sensord.toml"
    write_atomically(config, sensor_toml("a", "sim://a"))
    clocks = Clocks()
    daemon = Daemon(
        load_config(config),
        config_path=config,
        environ={},
        clock=clocks.monotonic,
        wall_clock=clocks.time,
    )

    def reload_timestamp() -> float | None:
        return daemon.metrics.registry.get_sample_value(
            "sensord_config_last_reload_success_timestamp_seconds"
        )

    try:
        clocks.pass_s(10.0)
        assert daemon.status()["uptime_s"] == 10.0
        assert reload_timestamp() == clocks.wall - 10.0

        clocks.step_s(30 * DAY_S)  # NTP sets the clock after the boot
        clocks.pass_s(5.0)
        assert daemon.status()["uptime_s"] == 15.0
        assert reload_timestamp() == clocks.wall - 15.0

        write_atomically(config, sensor_toml("a", "sim://a", rate_hz=20))
        assert daemon.reload() is True
        reloaded_at = clocks.wall
        assert reload_timestamp() == reloaded_at

        clocks.step_s(-3600.0)  # a wrong time server steps it an hour back
        clocks.pass_s(2.0)
        assert daemon.status()["uptime_s"] == 17.0
        assert reload_timestamp() == clocks.wall - 2.0 == reloaded_at - 3600.0
    finally:
        daemon.reader.close()


def test_a_sensor_s_ages_and_window_ignore_a_step_and_its_readings_take_the_new_time() -> None:
    """The ages in ``/status`` (state, last frame, last error), staleness and the time window
    run on the monotonic clock; a reading is dated on the wall clock when it is read."""
    text = sensor_toml(
        "s",
        "sim://s",
        extra="stale_after_s = 5",
        channels=channel_toml("v") + "[sensors.channels.window]\nsize = 100\ntime_s = 10\n",
    )
    clocks = Clocks()
    runtime = SensorRuntime(
        parse_config(text).sensors[0], clock=clocks.monotonic, wall_clock=clocks.time
    )
    assert runtime.try_open()
    try:
        runtime.last_error = "an error before the step"
        for value in (b"1\n", b"2\n"):
            clocks.pass_s(1.0)
            runtime.feed(value)
            runtime.tick(clocks.mono)

        clocks.step_s(30 * DAY_S)
        clocks.pass_s(1.0)
        runtime.feed(b"3\n")
        runtime.tick(clocks.mono)
        snapshot = runtime.snapshot()
        assert runtime.state == "up"
        assert snapshot.state_age_s == 3.0
        assert snapshot.last_frame_age_s == 0.0
        assert snapshot.last_error_age_s == 3.0
        [channel] = snapshot.channels
        assert channel.stats is not None
        assert channel.stats.count == 3  # no reading left the 10 s window
        assert channel.stats.reading.wall_s == clocks.wall

        clocks.step_s(-3600.0)
        clocks.pass_s(4.0)
        runtime.tick(clocks.mono)
        assert runtime.state == "up"  # 4 s without a frame: not stale yet
        clocks.pass_s(2.0)
        runtime.tick(clocks.mono)
        assert runtime.state == "stale"
        assert runtime.snapshot().last_frame_age_s == 6.0
    finally:
        runtime.stop()


def test_a_capture_written_after_a_step_back_is_kept(tmp_path: Path) -> None:
    """SIGUSR1's capture files are named by the wall clock and the oldest names are removed
    past ``keep_files``: after the clock was stepped back, the file just written has the
    oldest name of all, and it stays; the oldest of the others go."""
    captures = tmp_path / "captures"
    captures.mkdir()
    before_step = [f"s-202606{day:02d}T120000Z.cap" for day in range(1, 6)]
    for name in before_step:
        (captures / name).write_bytes(b"")
    config = tmp_path / "sensord.toml"
    write_atomically(
        config,
        f'[capture]\ndirectory = "{captures}"\nkeep_files = 3\n' + sensor_toml("s", "sim://s"),
    )
    clocks = Clocks()  # 2023-11-14: months before the files' names
    daemon = Daemon(
        load_config(config),
        config_path=config,
        environ={},
        clock=clocks.monotonic,
        wall_clock=clocks.time,
    )
    runtime = daemon._make_runtime(daemon.config.sensors[0])
    daemon.reader.add(runtime)
    daemon._refresh_runtimes()
    try:
        runtime.feed(b"1\n")
        daemon.write_captures()
    finally:
        daemon.reader.close()
    written = captures / "s-20231114T221320Z.cap"
    assert sorted(p.name for p in captures.iterdir()) == [written.name, *before_step[-2:]]
    assert written.stat().st_size > 0
