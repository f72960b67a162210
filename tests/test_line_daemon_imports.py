"""A daemon of line sensors loads none of the Modbus and binary-frame support, nor the framer of
lines in checked blocks: their modules come with the first sensor that needs them, at the start
or at the reload that adds it, as pymodbus does (tests/test_modbus_lazy.py). The bench's P6a
row measures the memory of such a daemon.

Each test runs the real daemon, which writes the names of the modules it held when it exited
(after being read, scraped and stopped) to a file.
"""

from __future__ import annotations

import shutil
import signal
import textwrap
from pathlib import Path

from harness.common import REPO, wait_for
from harness.config import SIM_METER_TOML, channel_toml, sensor_toml, write_atomically
from harness.daemon import DaemonProcess, StartDaemon
from harness.pty import PtyPair

from sensord.formats.frame_keys import CHECKSUM_NAMES, PRESET_NAMES
from sensord.formats.frames_checksums import CHECKSUMS
from sensord.formats.presets import PRESETS

#: The Modbus support but the names and checks of its keys (``sensord.formats.modbus_keys``).
MODBUS_MODULES = frozenset(
    {
        "pymodbus",
        "sensord.formats.modbus",
        "sensord.formats.modbus_pymodbus",
        "sensord.formats.modbus_values",
        "sensord.formats.modbus_plan",
        "sensord.formats.modbus_check",
        "sensord.formats.modbus_device",
        "sensord.formats.modbus_getters",
        "sensord.bus",
        "sensord.bus_device",
        "sensord.bus_echo",
        "sensord.bus_hints",
        "sensord.bus_left",
        "sensord.bus_reads",
        "sensord.bus_stray",
        "sensord.modbus_state",
        "sensord.modbus_timing",
        "sensord.refusals",
        "sensord.reply_starts",
        "sensord.sources.simulated_modbus",
    }
)

#: The support of binary frames but the names of its keys (``sensord.formats.frame_keys``):
#: the codec and its parts, the presets, and the acknowledgements and dialogue of set-up
#: commands and polls.
FRAME_MODULES = frozenset(
    {
        "sensord.formats.frames",
        "sensord.formats.frames_check",
        "sensord.formats.frames_checksums",
        "sensord.formats.frames_decode",
        "sensord.formats.frames_encode",
        "sensord.formats.frames_layout",
        "sensord.formats.frames_stuffing",
        "sensord.formats.presets",
        "sensord.formats.acks",
        "sensord.dialogue",
        "sensord.boots",
    }
)

#: The framer of lines in checked blocks (DSMR telegrams, VE.Direct blocks).
BLOCK_MODULES = frozenset({"sensord.formats.blocks"})

#: A simulated particulate sensor (the preset's binary frames, its set-up commands), at ten
#: frames a second.
SIM_PARTICULATES_TOML = """
[[sensors]]
name = "particulates"
port = "sim://particulates"
preset = "pms5003"
setup = ["active_mode"]
sampling_rate_hz = 10
"""

#: A simulated multimeter that sends a reading when asked: a line sensor that is polled.
SIM_POLLED_TOML = sensor_toml(
    "dmm", "sim://dmm", extra='poll = { request = "READ?\\n", interval_s = 0.1 }'
)

#: Writes the names of the modules the daemon holds at its exit to ``$SENSORD_TEST_MODULES``.
HELD_AT_EXIT = textwrap.dedent(
    """
    import atexit, os, sys

    def _write_held(path=os.environ["SENSORD_TEST_MODULES"]):
        with open(path, "w") as out:
            out.write("\\n".join(sorted(sys.modules)))

    atexit.register(_write_held)
    """
)

LINE_SENSORS = (
    sensor_toml("temp", "sim://temp")
    + sensor_toml("pair", "sim://pair", "kv")
    + sensor_toml("row", "sim://row", "csv", channels=channel_toml("v", field="0"))
    + sensor_toml("doc", "sim://doc", "json")
)
LINE_NAMES = ("temp", "pair", "row", "doc")


def _start(start_daemon: StartDaemon, tmp_path: Path, config: str) -> tuple[DaemonProcess, Path]:
    held = tmp_path / "modules"
    daemon = start_daemon(
        config=config, python_prelude=HELD_AT_EXIT, env={"SENSORD_TEST_MODULES": str(held)}
    )
    daemon.wait_http()
    return daemon, held


def _stop(daemon: DaemonProcess, held: Path) -> set[str]:
    """Scrape and ask the status of ``daemon``, stop it; the modules it held."""
    assert daemon.scrape().value("sensord_build_info", version=daemon.status()["version"]) == 1
    assert daemon.stop() == 0
    return set(held.read_text().split("\n"))


def _packages(modules: set[str]) -> set[str]:
    """``modules`` and the top-level packages of them (``pymodbus`` for ``pymodbus.pdu``)."""
    return modules | {name.partition(".")[0] for name in modules}


def test_a_daemon_of_line_sensors_loads_no_modbus_or_frame_module(
    start_daemon: StartDaemon, tmp_path: Path
) -> None:
    daemon, held = _start(start_daemon, tmp_path, LINE_SENSORS)
    daemon.wait_frames(dict.fromkeys(LINE_NAMES, 3))
    modules = _stop(daemon, held)
    assert {"sensord.formats.value", "sensord.formats.kv", "sensord.reader"} <= modules
    assert _packages(modules) & (MODBUS_MODULES | FRAME_MODULES | BLOCK_MODULES) == set()


def test_the_reload_that_adds_the_first_modbus_device_loads_its_modules(
    start_daemon: StartDaemon, tmp_path: Path
) -> None:
    daemon, held = _start(start_daemon, tmp_path, LINE_SENSORS)
    daemon.wait_frames({"temp": 1})
    assert daemon.config_path is not None
    write_atomically(daemon.config_path, LINE_SENSORS + SIM_METER_TOML)
    daemon.signal(signal.SIGHUP)
    wait_for(lambda: "meter" in daemon.status()["sensors"], 10, "the meter added")
    transactions = 'sensord_modbus_transactions_total{sensor="meter"}'
    wait_for(lambda: transactions in daemon.metrics_text(), 10, "the meter's exchanges")
    daemon.wait_frames({"meter": 3, "temp": 3})
    assert daemon.scrape().value("sensord_config_last_reload_successful") == 1
    modules = _stop(daemon, held)
    assert _packages(modules) & MODBUS_MODULES == MODBUS_MODULES


def test_the_reload_that_adds_the_first_frame_sensor_loads_its_modules(
    start_daemon: StartDaemon, tmp_path: Path
) -> None:
    daemon, held = _start(start_daemon, tmp_path, LINE_SENSORS)
    daemon.wait_frames({"temp": 1})
    assert daemon.config_path is not None
    write_atomically(daemon.config_path, LINE_SENSORS + SIM_PARTICULATES_TOML)
    daemon.signal(signal.SIGHUP)
    wait_for(lambda: "particulates" in daemon.status()["sensors"], 10, "the sensor added")
    daemon.wait_frames({"particulates": 3, "temp": 3})
    scrape = daemon.scrape()
    assert scrape.value("sensord_config_last_reload_successful") == 1
    assert scrape.value("sensord_reading_value", sensor="particulates", channel="pm2_5_ug_m3") >= 0
    modules = _stop(daemon, held)
    assert _packages(modules) & FRAME_MODULES == FRAME_MODULES
    assert _packages(modules) & MODBUS_MODULES == set()


def test_the_names_the_configuration_declares_are_the_codec_s() -> None:
    """The checksum and preset names are written out so that the configuration needs neither
    the codec nor the presets."""
    assert tuple(CHECKSUMS) == CHECKSUM_NAMES
    assert tuple(PRESETS) == PRESET_NAMES


def test_a_polled_line_sensor_loads_the_dialogue_without_the_frame_modules(
    start_daemon: StartDaemon, tmp_path: Path
) -> None:
    daemon, held = _start(start_daemon, tmp_path, LINE_SENSORS + SIM_POLLED_TOML)
    daemon.wait_frames({"dmm": 3, "temp": 3})
    assert daemon.status()["sensors"]["dmm"]["poll_timeouts"] == 0
    modules = _stop(daemon, held)
    assert "sensord.dialogue" in modules
    assert _packages(modules) & (MODBUS_MODULES | FRAME_MODULES | BLOCK_MODULES) == {
        "sensord.dialogue"
    }


def test_presets_that_no_longer_load_leave_a_line_sensor_stale_with_its_framer_s_hint(
    start_daemon: StartDaemon, pty_pair: PtyPair, tmp_path: Path
) -> None:
    """The hint of bytes that give no frame loads the presets at the first such hint, which
    may come after pip replaced sensord's files (no reload guards it): presets that do not
    load with the modules the process runs leave their part of the hint out, and the sensor
    goes stale, not down for an error of its timers."""
    package = tmp_path / "installed"
    shutil.copytree(
        REPO / "sensord", package / "sensord", ignore=shutil.ignore_patterns("__pycache__")
    )
    config = sensor_toml("line", pty_pair.path, extra='stale_after_s = 1\nsimulate = "never"')
    daemon = start_daemon(config=config, env={"PYTHONPATH": str(package)}, cwd=tmp_path)
    daemon.wait_http()

    def framed() -> bool:
        pty_pair.write(b"21.5\n")  # the first line after the open may be cut: one at a time
        return daemon.frames().get("line", 0) >= 2

    wait_for(framed, 10, "two lines framed")
    # a newer presets.py that needs what only a newer base.py has
    presets = package / "sensord" / "formats" / "presets.py"
    head, future, rest = presets.read_text().partition("from __future__ import annotations\n")
    presets.write_text(f"{head}{future}from sensord.formats.base import NEWER_NAME\n{rest}")
    garbage = bytes([0x80, 0xF8, 0x00, 0xFE, 0x78, 0x86, 0xE0, 0x1E]) * 4  # 9600 at 38400

    def no_longer_up() -> bool:  # its hint is made as it leaves up: stale, or down
        pty_pair.write(garbage)
        return bool(daemon.status()["sensors"]["line"]["state"] != "up")

    wait_for(no_longer_up, 10, "the sensor no longer up", interval_s=0.2)
    sensor = daemon.status()["sensors"]["line"]
    assert sensor["reconnects"] == 0, sensor.get("last_error")
    assert sensor["state"] == "stale", sensor
    assert "serial settings (baudrate" in sensor["hint"]
    stale = daemon.wait_events("sensor state", state="stale")
    assert len(stale) == 1
    assert stale[0]["recent_bytes"].endswith("\\x86\\xe0\\x1e")
    assert "serial settings (baudrate" in stale[0]["hint"]
    assert daemon.stop() == 0
