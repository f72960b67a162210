"""The daemon's one-line summary (sd_notify ``STATUS=``, the ``ready`` log line)."""

from __future__ import annotations

from harness.config import sensor_toml

from sensord.config import parse_config
from sensord.daemon import Daemon


def summary(states: list[str], frames: list[int]) -> str:
    config = parse_config("".join(sensor_toml(f"s{i}", f"sim://s{i}") for i in range(len(states))))
    daemon = Daemon(config, environ={})
    try:
        runtimes = daemon._built
        for runtime, state, count in zip(runtimes, states, frames, strict=True):
            runtime.state = state
            runtime.framer.frames = count
        daemon._runtimes = tuple(runtimes)
        return daemon.summary_line()
    finally:
        daemon.reader.close()


def test_all_up() -> None:
    assert summary(["up", "up", "up"], [1, 2, 3]) == "3/3 sensors up; 6 frames"


def test_names_the_sensors_that_are_not_up_in_order() -> None:
    line = summary(["up", "stale", "up", "down"], [5, 0, 7, 0])
    assert line == "2/4 sensors up (s1=stale, s3=down); 12 frames"


def test_names_at_most_five_and_marks_the_rest() -> None:
    five = summary(["stale"] * 5 + ["up"], [0] * 6)
    assert five == "1/6 sensors up (s0=stale, s1=stale, s2=stale, s3=stale, s4=stale); 0 frames"
    many = summary(["up"] + ["down"] * 9, [4] + [0] * 9)
    assert many == "1/10 sensors up (s1=down, s2=down, s3=down, s4=down, s5=down, ...); 4 frames"
