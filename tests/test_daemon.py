"""The real daemon as a subprocess: demo run, /metrics, promtool, sd_notify, signals, ptys."""

from __future__ import annotations

import itertools
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from harness.common import wait_for
from harness.config import sensor_toml, write_atomically
from harness.daemon import BareImport, DaemonProcess, StartDaemon, running
from harness.notify import NotifyListener
from harness.pty import PtyPair, SymlinkedPty
from harness.scrape import Scrape, metrics_read_by_rules
from harness.spawn import popen

from sensord.config import Config, load_config
from sensord.daemon import Daemon

pytestmark = pytest.mark.slow

DEMO_SENSORS = ("boiler", "weather", "power", "air", "gps", "particulates", "co2", "meter")


def test_demo_serves_every_sensor_within_2s_and_passes_promtool(tmp_path: Path) -> None:
    daemon = DaemonProcess(tmp_path=tmp_path)
    bare = BareImport()
    try:
        daemon.wait_http(timeout_s=30)

        def all_have_readings() -> bool:
            m = daemon.scrape()
            return all(m.has("sensord_reading_value", sensor=s) for s in DEMO_SENSORS)

        wait_for(all_have_readings, 30.0, "a reading from every demo sensor")
        served_s = time.monotonic() - daemon.started
        # the interpreter's start included: 1.5 s, or more where the host's load slows a bare
        # import beside it (the 2 s are the demo sensors' own pace)
        start_s = bare.allowance_s(1.5)
        assert served_s < 2.0 + start_s, (served_s, start_s)
        text = daemon.metrics_text()
        samples = Scrape(text)
        for sensor in DEMO_SENSORS:
            assert samples.value("sensord_sensor_up", sensor=sensor) == 1
            assert samples.value("sensord_sensor_simulated", sensor=sensor) == 1
            assert samples.value("sensord_frames_total", sensor=sensor) >= 1
        assert samples.value("sensord_build_info", version="0.1.0") == 1
        promtool = shutil.which("promtool")
        assert promtool, "promtool is required (scripts/test installs Debian's prometheus)"
        check = subprocess.run(
            [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
        )
        assert check.returncode == 0, check.stdout + check.stderr

        status, ctype, body = daemon.get(
            "/metrics", {"Accept": "application/openmetrics-text; version=1.0.0"}
        )
        assert status == 200
        assert ctype.startswith("application/openmetrics-text")
        assert body.rstrip().endswith("# EOF")

        first = daemon.events(
            "no configuration file: running the built-in demo of simulated sensors"
        )
        assert first, daemon.log_text()
        assert daemon.log_records()[0]["msg"] == first[0]["msg"]
    finally:
        assert daemon.stop() == 0


def test_status_agrees_with_metrics_and_unknown_paths_404(tmp_path: Path) -> None:
    with running(tmp_path=tmp_path) as daemon:
        wait_for(lambda: daemon.status()["sensors"]["power"]["frames"] > 5, 5, "power frames")
        status = daemon.status()
        samples = daemon.scrape()
        assert set(status["sensors"]) == set(DEMO_SENSORS)
        assert status["state"] in ("running", "degraded")
        for name, sensor in status["sensors"].items():
            assert samples.value("sensord_sensor_up", sensor=name) == (1 if sensor["up"] else 0)
            frames = samples.value("sensord_frames_total", sensor=name)
            # both read the same counter; the scrape came later, so it can only be larger
            assert frames >= sensor["frames"]
            assert frames - sensor["frames"] <= 20
            for channel, data in sensor["channels"].items():
                if data["window"] is None:
                    continue
                window_samples = samples.value(
                    "sensord_window_samples", channel=channel, sensor=name
                )
                assert window_samples >= data["window"]["count"]
        meter = status["sensors"]["meter"]["modbus"]
        assert meter["bus"] == "sim://meter-bus"
        assert meter["reads_per_poll"] == 3
        transactions = samples.value("sensord_modbus_transactions_total", sensor="meter")
        assert 0 <= transactions - meter["transactions"] <= 6
        assert samples.value("sensord_modbus_round_trip_seconds_count", sensor="meter") == (
            transactions
        )
        # the Modbus metrics the monitoring rules read, which the demo's meter exports (its
        # exceptions by code only once one came)
        read_by_rules = {
            n
            for n in metrics_read_by_rules()
            if n.startswith("sensord_modbus_") and n != "sensord_modbus_exceptions_total"
        }
        assert read_by_rules, "the rules read Modbus metrics"
        assert {n for n in read_by_rules if not samples.has(n, sensor="meter")} == set()
        assert daemon.get("/nope")[0] == 404
        assert daemon.get("/healthz")[0] == 200
        assert daemon.get("/")[0] == 200


@pytest.mark.parametrize("abstract", [False, True], ids=["path", "abstract"])
def test_ready_then_watchdog_pings(
    tmp_path: Path, abstract: bool, start_daemon: StartDaemon
) -> None:
    listener = NotifyListener(tmp_path, abstract=abstract)
    env = {"NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": "1000000"}
    daemon = start_daemon(env=env)
    bare = BareImport()
    try:
        ready_at = listener.wait_for("READY=1", 30.0)
        # 3 s, or more where the host's load slows a bare import beside it
        start_s = bare.allowance_s(3.0)
        assert ready_at - daemon.started < start_s, start_s
        ready = next(m for _, m in listener.messages if "READY=1" in m)
        assert "STATUS=" in ready
        assert "sensors up" in ready
        first = listener.wait_for("WATCHDOG=1", 3.0)

        def pings() -> list[float]:
            return [at for at, m in listener.messages if m == "WATCHDOG=1" and at >= first]

        until = time.monotonic() + 7.0  # six pings, every 0.5 s for WATCHDOG_USEC=1 s
        while len(pings()) < 6 and time.monotonic() < until:
            listener.collect(0.05)
        assert len(pings()) >= 6
        gaps = [b - a for a, b in itertools.pairwise(pings())]
        # systemd kills a service that does not ping within WATCHDOG_USEC: every gap must be
        # shorter than that (pinging at half of it leaves half a second for a slow loop)
        assert max(gaps) < 1.0
        # and they come at half of it, which a ping every interval would only just miss (its
        # gaps 1.002-1.004 s here): the median of five gaps tells the two apart whatever two
        # slow passes add
        assert statistics.median(gaps) < 0.65, gaps
        daemon.signal(signal.SIGTERM)
        listener.wait_for("STOPPING=1", 5.0)
        # that SIGTERM ends it: a second one, once the handlers are restored, would kill it
        daemon.proc.wait(10)
        assert daemon.stop() == 0
    finally:
        listener.close()


#: The 40th reading of the demo (within a couple of seconds of the start) hangs in a stage for
#: an hour; the file named by ``STALL_MARK`` is created as it starts to.
STALL_PRELUDE = """
import os, time, threading
import sensord.window as w
_original = w.Window._add
_calls = [0]
def _add(self, *args):
    _calls[0] += 1
    if _calls[0] == 40:
        open(os.environ["STALL_MARK"], "w").close()
        time.sleep(3600)  # a stage that never returns
    return _original(self, *args)
w.Window._add = _add
"""


def test_stalled_pipeline_stops_watchdog_pings_and_healthz(
    tmp_path: Path, start_daemon: StartDaemon, notify_listener: NotifyListener
) -> None:
    listener = notify_listener
    mark = tmp_path / "stalled"
    env = {"NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": "1000000", "STALL_MARK": str(mark)}
    daemon = start_daemon(env=env, python_prelude=STALL_PRELUDE)
    listener.wait_for("WATCHDOG=1", 5.0)
    # the loop hangs; its housekeeping, which pings, comes no more
    wait_for(mark.exists, 10.0, "the stage to hang")
    listener.collect(0.1)
    last_ping = max(at for at, m in listener.messages if m == "WATCHDOG=1")
    listener.collect(3.0)
    later = [at for at, m in listener.messages if m == "WATCHDOG=1" and at > last_ping]
    assert later == []
    assert time.monotonic() - last_ping > 2.5
    # /healthz fails once the loop has not run for 5 s (Daemon.health)
    wait_for(lambda: daemon.get("/healthz")[0] == 503, 5.0, "/healthz to fail")
    status, _, body = daemon.get("/healthz")
    assert status == 503
    assert "has not run" in body


def slow_start_prelude(signals: int) -> str:
    """The daemon's start held once its HTTP server serves, as a slow start (ports that take
    long to open, many sensors) holds it between /healthz answering and the loop, until the
    ``signals`` signals the test sends have come (noted by the run's handlers, for the loop's
    first iteration to take). The test reads and signals while it is held: a hold that ended
    before that (1 s did, for a test held up as long on a loaded host) would start the run
    first: it waits for the signals alone (30 s at most, for a test that fails before it
    sends them)."""
    return f"""
import time
import sensord.daemon as d
_original = d.Daemon.start
def _start(self, run):
    deadline = time.monotonic() + 30.0
    while len(self._pending_signals) < {signals} and time.monotonic() < deadline:
        time.sleep(0.01)
    return _original(self, run)
d.Daemon.start = _start
"""


def test_sigterm_while_the_daemon_starts_stops_it_cleanly(start_daemon: StartDaemon) -> None:
    """While the daemon starts, ``/status`` lists every configured sensor (``opening``), and a
    SIGTERM that comes once /healthz answers but before the reader loop runs (systemctl stop
    during a slow start) is taken as a stop like any other: exit code 0, the ports closed and
    the stop logged, never the default action that ends the process by the signal."""
    daemon = start_daemon(python_prelude=slow_start_prelude(signals=1))
    daemon.wait_http()
    status = daemon.status()
    assert status["state"] == "starting"
    # every configured sensor is listed from the first answer, each still opening
    assert sorted(status["sensors"]) == sorted(DEMO_SENSORS)
    assert {s["state"] for s in status["sensors"].values()} == {"opening"}
    assert daemon.stop() == 0
    assert daemon.events("sensord stopped")


def _starting_with_its_file_edited(
    tmp_path: Path, start_daemon: StartDaemon, listener: NotifyListener, signals: int
) -> DaemonProcess:
    """A daemon of sensor ``a`` that starts slowly (until the test's ``signals`` signals came),
    notifying ``listener``: its HTTP answers while it starts, and its file then has sensor
    ``b`` too."""
    config = tmp_path / "sensord.toml"
    write_atomically(config, sensor_toml("a", "sim://a"))
    daemon = start_daemon(
        ["--config", str(config)],
        env={"NOTIFY_SOCKET": listener.address},
        python_prelude=slow_start_prelude(signals),
    )
    daemon.wait_http()
    write_atomically(config, sensor_toml("a", "sim://a") + sensor_toml("b", "sim://b"))
    return daemon


def test_a_stop_signal_with_a_sighup_stops_without_reloading(
    tmp_path: Path, start_daemon: StartDaemon, notify_listener: NotifyListener
) -> None:
    """SIGTERM and SIGHUP noted together (systemctl reload, then stop, during a slow start):
    the daemon stops, exit code 0, without a reload first: no sensor of the edited file is
    started, and the service manager is told STOPPING=1, never RELOADING=1 or READY=1."""
    listener = notify_listener
    daemon = _starting_with_its_file_edited(tmp_path, start_daemon, listener, signals=2)
    daemon.signal(signal.SIGTERM)
    daemon.signal(signal.SIGHUP)
    assert daemon.proc.wait(10) == 0
    assert daemon.events("stopping")[0]["signal"] == "SIGTERM"
    assert not daemon.events("configuration reloaded")
    assert {r["sensor"] for r in daemon.events("sensor summary")} == {"a"}
    assert daemon.events("sensord stopped")
    messages = listener.collect(0.2)
    assert messages == ["STOPPING=1"]


def test_sighup_during_the_start_reloads_before_the_first_ready(
    tmp_path: Path, start_daemon: StartDaemon, notify_listener: NotifyListener
) -> None:
    """A SIGHUP while the daemon starts (the file edited after it was read) is applied by the
    loop's first iteration, and the service manager hears of the start once: one READY=1,
    with the sensors of the reloaded file, and no RELOADING=1 before it."""
    listener = notify_listener
    daemon = _starting_with_its_file_edited(tmp_path, start_daemon, listener, signals=1)
    try:
        daemon.signal(signal.SIGHUP)
        listener.wait_for("READY=1", 5.0)
        wait_for(lambda: bool(daemon.events("configuration reloaded")), 5, "the reload's line")
        assert daemon.events("configuration reloaded")[0]["added"] == ["b"]
        messages = listener.collect(0.5)
        assert not [m for m in messages if "RELOADING=1" in m]
        ready = [m for m in messages if "READY=1" in m]
        assert len(ready) == 1
        assert "/2 sensors up" in ready[0]
    finally:
        assert daemon.stop() == 0


#: The daemon's sensors built slowly, after a line that says so: the time a start with many
#: sensors, or pymodbus to load, spends before the run's signal handlers are in place. It
#: ends once the test's two signals were held (``sensord.early_signals``), or after 30 s: a
#: build held for a fixed second let signals of a test held up that long on a loaded host
#: come after the handlers, and the test passed without showing what it is about.
SLOW_BUILD_PRELUDE = """
import sys, time
import sensord.daemon as d
from sensord import early_signals
_original = d.Daemon.__init__
def _init(self, *args, **kw):
    print("building the sensors", flush=True)
    deadline = time.monotonic() + 30.0
    while len(early_signals._noted) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    _original(self, *args, **kw)
d.Daemon.__init__ = _init
"""


def test_signals_while_the_sensors_are_built_are_taken_once_the_run_starts(
    start_daemon: StartDaemon,
) -> None:
    """A SIGHUP and a SIGUSR1 that come while ``sensord run`` reads its configuration and
    builds its sensors, before the run handles signals, do not end the process (their default
    action): the run takes them as it starts (one reload, captures written), then runs on."""
    daemon = start_daemon(python_prelude=SLOW_BUILD_PRELUDE)
    wait_for(lambda: "building the sensors" in daemon.log_text(), 10, "the build")
    daemon.proc.send_signal(signal.SIGHUP)
    daemon.proc.send_signal(signal.SIGUSR1)
    daemon.wait_http()
    wait_for(lambda: daemon.status()["config_reloads"] == 1, 5, "the reload")
    # the loop's first pass takes the held signals before its housekeeping marks the run
    # started: /status may be read in between, on another thread
    wait_for(lambda: daemon.status()["state"] in ("running", "degraded"), 10, "the run to start")
    assert daemon.stop() == 0
    assert daemon.events("sensord stopped")


def slow_import_prelude(module: str, line: str, signals: int = 1) -> str:
    """A prelude after which importing ``module`` waits, after ``line`` on stdout, until
    ``signals`` signals were held (``sensord.early_signals``), all of them during the import;
    30 s at most, which signals that are not held leave it. A fixed second let the signal of a
    test held up that long on a loaded host come after the import: a ``sensord check`` or
    ``--help`` had ended by then (exit 0), and a run took it as any signal of a run."""
    return f"""
import importlib.abc, sys, time
def _held():
    return len(getattr(sys.modules.get("sensord.early_signals"), "_noted", ()))
class _Slow(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name == {module!r}:
            print({line!r}, flush=True)
            deadline = time.monotonic() + 30.0
            while _held() < {signals} and time.monotonic() < deadline:
                time.sleep(0.01)
        return None
sys.meta_path.insert(0, _Slow())
"""


#: Importing the command line module lasts until the test's signal is held: the time Python
#: spends importing sensord and its libraries before ``sensord run`` even parses its arguments
#: (a fifth of a second here, more on a slow SD card).
SLOW_IMPORT_PRELUDE = slow_import_prelude("sensord.cli", "importing the command line")


def test_signals_while_python_imports_sensord_are_taken_once_the_run_starts(
    start_daemon: StartDaemon,
) -> None:
    """A SIGHUP and a SIGUSR1 that come while Python still imports sensord's modules, before
    the command line is parsed, do not end the process: the entry point holds them from its
    first line and the run takes them as it starts (one reload; the demo's answer to a
    capture request, which has no capture directory), then runs on."""
    prelude = slow_import_prelude("sensord.cli", "importing the command line", signals=2)
    daemon = start_daemon(python_prelude=prelude)
    wait_for(lambda: "importing the command line" in daemon.log_text(), 10, "the import")
    daemon.proc.send_signal(signal.SIGHUP)
    daemon.proc.send_signal(signal.SIGUSR1)
    daemon.wait_http()
    wait_for(lambda: daemon.status()["config_reloads"] == 1, 5, "the reload")
    wait_for(
        lambda: any("no captures written" in r.get("msg", "") for r in daemon.log_records()),
        5,
        "the capture request's answer",
    )
    # the loop's first pass takes the held signals before its housekeeping marks the run
    # started: /status may be read in between, on another thread
    wait_for(lambda: daemon.status()["state"] in ("running", "degraded"), 10, "the run to start")
    assert daemon.stop() == 0


def test_a_sigterm_while_python_imports_sensord_stops_the_run_cleanly(
    start_daemon: StartDaemon,
) -> None:
    """A SIGTERM during the imports (systemd stopping a unit it just started) is a clean stop
    with the run's shutdown, exit code 0, not a death by the signal."""
    daemon = start_daemon(python_prelude=SLOW_IMPORT_PRELUDE)
    wait_for(lambda: "importing the command line" in daemon.log_text(), 10, "the import")
    daemon.proc.send_signal(signal.SIGTERM)
    assert daemon.proc.wait(15) == 0
    assert daemon.events("stopping")[0]["signal"] == "SIGTERM"
    assert daemon.events("sensord stopped")


#: Importing the run's module lasts until the test's signal is held: ``sensord.cli`` imports it,
#: and with it the daemon's modules, once the command line is parsed and names ``run``.
SLOW_RUN_IMPORT_PRELUDE = slow_import_prelude("sensord.cli_run", "importing the run")


def test_a_sighup_while_the_run_imports_the_daemon_is_taken_once_the_run_starts(
    start_daemon: StartDaemon,
) -> None:
    """A SIGHUP that comes after the command line is parsed, while the run's module imports
    the daemon's, is held as one that comes while the command line module is imported: a
    reload once the run starts, not the end of the process."""
    daemon = start_daemon(python_prelude=SLOW_RUN_IMPORT_PRELUDE)
    wait_for(lambda: "importing the run" in daemon.log_text(), 10, "the import")
    daemon.proc.send_signal(signal.SIGHUP)
    daemon.wait_http()
    wait_for(lambda: daemon.status()["config_reloads"] == 1, 5, "the reload")
    assert daemon.stop() == 0


#: Importing importlib.metadata (which reads sensord's version) lasts until the test's signal
#: is held: a few tens of milliseconds on this machine, more on a slow SD card.
SLOW_METADATA_PRELUDE = slow_import_prelude("importlib.metadata", "importing importlib.metadata")


def test_a_sighup_while_the_package_is_imported_is_taken_once_the_run_starts(
    start_daemon: StartDaemon,
) -> None:
    """Importing the ``sensord`` package, which the entry point's module is part of, looks
    nothing up: sensord's version is read once the run's signals are held, so a SIGHUP while
    it is read is a reload, not the end of the process."""
    daemon = start_daemon(python_prelude=SLOW_METADATA_PRELUDE)
    wait_for(lambda: "importing importlib.metadata" in daemon.log_text(), 10, "the import")
    daemon.proc.send_signal(signal.SIGHUP)
    daemon.wait_http()
    wait_for(lambda: daemon.status()["config_reloads"] == 1, 5, "the reload")
    assert daemon.stop() == 0


def signalled_while_importing(
    argv: list[str], signum: signal.Signals, *, ignored: bool = False
) -> tuple[int, bytes]:
    """The exit code and stderr of ``sensord ARGV`` sent ``signum`` while Python imports its
    command line module (``SLOW_IMPORT_PRELUDE``), started with ``signum``'s default action
    (whatever the test runner's: ``nohup`` ignores SIGHUP) or, if ``ignored``, ignoring it."""
    disposition = "SIG_IGN" if ignored else "SIG_DFL"
    code = (
        f"import signal\nsignal.signal({int(signum)}, signal.{disposition})\n"
        f"{SLOW_IMPORT_PRELUDE}\nfrom sensord.launch import main\nraise SystemExit(main({argv!r}))"
    )
    proc = popen([sys.executable, "-c", code], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"importing the command line\n"
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return proc.returncode, err


@pytest.mark.parametrize(
    ("signum", "returncode"),
    [(signal.SIGTERM, -signal.SIGTERM), (signal.SIGHUP, -signal.SIGHUP)],
)
def test_a_signal_while_python_imports_sensord_reaches_a_command_other_than_run(
    tmp_path: Path, signum: signal.Signals, returncode: int
) -> None:
    """The entry point holds the run's signals before it knows the command: any other command
    (here ``sensord check``) gets them as soon as it knows it is not a run, with their usual
    action, so a SIGTERM or SIGHUP still ends it."""
    config = tmp_path / "sensord.toml"
    config.write_text(sensor_toml("a", "sim://a"))
    code, err = signalled_while_importing(["check", str(config)], signum)
    assert code == returncode, err
    assert b"Traceback" not in err


def test_a_sighup_ignored_when_sensord_started_stays_ignored_for_a_command_other_than_run(
    tmp_path: Path,
) -> None:
    """Started under ``nohup`` (SIGHUP ignored), ``sensord check`` keeps that: a SIGHUP held
    while Python imported sensord is handed back to the ignoring action, and the check runs to
    its end."""
    config = tmp_path / "sensord.toml"
    config.write_text(sensor_toml("a", "sim://a"))
    code, err = signalled_while_importing(["check", str(config)], signal.SIGHUP, ignored=True)
    assert code == 0, err


@pytest.mark.parametrize("argv", [["--help"], ["--version"], ["check", "--no-such-option"]])
def test_a_sigterm_while_python_imports_sensord_ends_help_and_usage_errors(
    argv: list[str],
) -> None:
    """``--help``, ``--version`` and a usage error are no run either: a SIGTERM held while
    Python imported sensord ends the process as its default action does, not exit 0 or 2."""
    code, err = signalled_while_importing(argv, signal.SIGTERM)
    assert code == -signal.SIGTERM, err


def test_sighup_invalid_then_valid_config(
    tmp_path: Path, start_daemon: StartDaemon, notify_listener: NotifyListener
) -> None:
    config = tmp_path / "sensord.toml"
    keep = sensor_toml("keep", "sim://keep")
    write_atomically(config, keep + sensor_toml("gone", "sim://gone"))
    listener = notify_listener
    daemon = start_daemon(["--config", str(config)], env={"NOTIFY_SOCKET": listener.address})
    try:
        daemon.wait_http()
        wait_for(lambda: daemon.status()["sensors"]["keep"]["frames"] >= 5, 5, "keep frames")

        write_atomically(config, keep + "[[sensors]]\nname = 'broken'\n")
        daemon.signal(signal.SIGHUP)
        wait_for(
            lambda: daemon.scrape().value("sensord_config_last_reload_successful") == 0,
            5,
            "reload failure",
        )
        # the gauge may be scraped before the log line is read from the daemon's output
        event = "reload failed; keeping the running configuration"
        wait_for(lambda: bool(daemon.events(event)), 5, "the reload failure's log line")
        failed = daemon.events(event)
        assert "sensors[1].port (sensor 'broken'): required key is missing" in failed[0]["errors"]
        assert set(daemon.status()["sensors"]) == {"keep", "gone"}
        listener.wait_for("RELOADING=1", 2.0)
        reloading = next(m for _, m in listener.messages if "RELOADING=1" in m)
        assert "MONOTONIC_USEC=" in reloading

        frames_before = daemon.status()["sensors"]["keep"]["frames"]
        write_atomically(config, keep + sensor_toml("new", "sim://new"))
        daemon.signal(signal.SIGHUP)
        wait_for(
            lambda: daemon.scrape().value("sensord_config_last_reload_successful") == 1,
            5,
            "reload",
        )
        wait_for(lambda: "new" in daemon.status()["sensors"], 5, "new sensor")
        status = daemon.status()
        assert set(status["sensors"]) == {"keep", "new"}
        # the unchanged sensor kept its counters (it was not restarted)
        assert status["sensors"]["keep"]["frames"] >= frames_before
        assert "gone" not in daemon.scrape().sensors()
        wait_for(lambda: bool(daemon.events("configuration reloaded")), 5, "the reload's line")
        reloaded = daemon.events("configuration reloaded")
        assert reloaded[-1]["added"] == ["new"]
        assert reloaded[-1]["removed"] == ["gone"]
        assert reloaded[-1]["unchanged"] == 1
    finally:
        assert daemon.stop() == 0


def test_pty_sensor_delivers_readings_and_survives_unplug_replug(
    tmp_path: Path, linked_pty: SymlinkedPty
) -> None:
    link = linked_pty
    config = tmp_path / "sensord.toml"
    write_atomically(
        config,
        sensor_toml(
            "probe",
            str(link.link),
            extra='simulate = "never"\nreconnect = { initial_delay_s = 0.05, max_delay_s = 0.2 }',
        ),
    )
    daemon = DaemonProcess(["--config", str(config)], tmp_path=tmp_path)
    try:
        daemon.wait_http()
        daemon.wait_up_settled(["probe"])  # its first line is read whole
        link.pty.write(b"1.5\n2.5\ngarbage\n3.5\n")
        wait_for(lambda: daemon.status()["sensors"]["probe"]["frames"] == 4, 5, "4 frames")
        samples = daemon.scrape()
        assert samples.value("sensord_reading_value", channel="v", sensor="probe") == 3.5
        mean = samples.value("sensord_window_mean", channel="v", sensor="probe")
        assert mean == pytest.approx(2.5)
        assert samples.value("sensord_parse_errors_total", reason="syntax", sensor="probe") == 1
        assert samples.value("sensord_sensor_simulated", sensor="probe") == 0

        link.unplug()
        wait_for(lambda: daemon.status()["sensors"]["probe"]["state"] == "down", 5, "probe down")
        assert daemon.scrape().value("sensord_sensor_up", sensor="probe") == 0
        down = daemon.status()["sensors"]["probe"]
        assert down["last_error"]
        assert 0 <= down["last_error_age_s"] < 5
        link.replug()
        wait_for(lambda: daemon.status()["sensors"]["probe"]["up"], 5, "probe up again")
        time.sleep(0.2)
        # up again: the error is kept, with its age, so that it is not read as a current one
        up = daemon.status()["sensors"]["probe"]
        assert up["last_error"]
        # it happened before the sensor came up (the last failed open), 0.2 s ago or more
        assert up["last_error_age_s"] >= up["state_for_s"] >= 0.2, up
        link.pty.write(b"10\n")
        wait_for(
            lambda: (
                daemon.scrape().value("sensord_reading_value", channel="v", sensor="probe") == 10
            ),
            5,
            "reading after replug",
        )
        assert daemon.scrape().value("sensord_serial_reconnects_total", sensor="probe") == 1

        def states() -> list[str]:
            return [r["state"] for r in daemon.events("sensor state") if r.get("sensor") == "probe"]

        wait_for(lambda: len(states()) >= 3, 5, "the state lines of the replug")
        assert states()[:3] == ["up", "down", "up"]
    finally:
        assert daemon.stop() == 0


def test_sigterm_during_full_rate_burst_exits_0_within_5s(tmp_path: Path) -> None:
    ptys = [PtyPair() for _ in range(4)]
    config = tmp_path / "sensord.toml"
    write_atomically(
        config,
        "".join(
            sensor_toml(f"p{i}", p.path, extra='simulate = "never"') for i, p in enumerate(ptys)
        ),
    )
    daemon = DaemonProcess(["--config", str(config)], tmp_path=tmp_path)
    writer: subprocess.Popen[bytes] | None = None
    try:
        daemon.wait_http()
        wait_for(
            lambda: all(s["up"] for s in daemon.status()["sensors"].values()), 5, "all ptys up"
        )
        # the baseline once no HTTP connection of the status polls above is still closing
        fds_before = daemon.settled_fd_count()
        # a writer process floods every pty master as fast as the kernel takes it
        code = (
            "import os, sys, time\n"
            "fds = [int(a) for a in sys.argv[1:]]\n"
            "line = b'12.5\\n' * 200\n"
            "end = time.monotonic() + 20\n"
            "while time.monotonic() < end:\n"
            "    for fd in fds:\n"
            "        try: os.write(fd, line)\n"
            "        except OSError: raise SystemExit(0)\n"
        )
        masters = [p.master_fd for p in ptys if p.master_fd is not None]
        writer = popen([sys.executable, "-c", code, *map(str, masters)], pass_fds=masters)
        wait_for(
            lambda: sum(s["frames"] for s in daemon.status()["sensors"].values()) > 5000,
            10,
            "burst under way",
        )
        # an HTTP connection of the status poll may still be closing
        wait_for(lambda: daemon.fd_count() <= fds_before, 5, "fd count back at its baseline")
        sent = time.monotonic()
        daemon.signal(signal.SIGTERM)
        code_ = daemon.proc.wait(timeout=5)
        elapsed = time.monotonic() - sent
        assert code_ == 0
        assert elapsed < 5.0
        summaries = {r["sensor"]: r for r in daemon.events("sensor summary")}
        assert set(summaries) == {"p0", "p1", "p2", "p3"}
        assert all(r["frames"] > 0 for r in summaries.values())
        # the run's PipelineContext closed everything and logged one line for the whole run
        (run,) = daemon.events("pipeline finished")
        assert (run["pipeline"], run["outcome"]) == ("sensord", "completed")
        assert run["records"] == sum(r["readings"] for r in summaries.values()) > 0
        assert not daemon.events("records left a stage uncounted")
        assert daemon.events("sensord stopped")
    finally:
        if writer is not None:
            writer.kill()
            writer.wait()
        daemon.kill()
        for p in ptys:
            p.close()


def test_http_port_in_use_exits_3_with_a_clear_message(tmp_path: Path) -> None:
    with running(tmp_path=tmp_path) as first:
        second = DaemonProcess(tmp_path=tmp_path, port=first.port)
        code = second.proc.wait(timeout=15)
        assert code == 3
        failed = second.events("cannot serve HTTP")
        assert failed
        assert failed[0]["port"] == first.port
        # the sensord left running in another terminal (or the service) is named
        assert failed[0]["hint"].startswith(f"port {first.port} is served by pid {first.pid} ("), (
            failed[0]["hint"]
        )
        assert ", another sensord: stop it (Ctrl-C where it runs; " in failed[0]["hint"]
        assert failed[0]["hint"].endswith(
            "set [http] port/listen in the config or pass --port/--listen"
        )
        # the run's line says it in words, not as a Python repr
        (run,) = second.events("pipeline finished")
        assert (run["outcome"], run["error_type"]) == ("failed", "HttpStartError")
        assert run["error"].startswith(f"cannot serve HTTP on 127.0.0.1:{first.port}: "), run
        second.kill()


def test_http_port_another_program_holds_names_it(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as other:
        port = other.getsockname()[1]
        daemon = DaemonProcess(tmp_path=tmp_path, port=port)
        assert daemon.proc.wait(timeout=15) == 3
        [failed] = daemon.events("cannot serve HTTP")
        assert failed["hint"].startswith(f"port {port} is taken by pid {os.getpid()} ("), failed
        assert "another sensord" not in failed["hint"]
        daemon.kill()


@pytest.mark.parametrize(
    ("listen", "told"),
    [
        # 192.0.2.1 (TEST-NET-1) is no address of this host
        ("192.0.2.1", "192.0.2.1 is no address of this host now"),
        ("sensord-nowhere.invalid", "sensord-nowhere.invalid does not resolve here"),
    ],
)
def test_http_listen_address_this_host_has_not_exits_3_naming_it(
    tmp_path: Path, listen: str, told: str
) -> None:
    """The kernel's words (``Cannot assign requested address``, ``Name or service not
    known``) do not say that the address is the mistake, nor what to listen on instead."""
    daemon = DaemonProcess(["--listen", listen], tmp_path=tmp_path)
    assert daemon.proc.wait(timeout=15) == 3
    [failed] = daemon.events("cannot serve HTTP")
    assert failed["listen"] == listen
    assert failed["hint"].startswith(f"{told} (")
    assert "127.0.0.1, or 0.0.0.0 for every address; " in failed["hint"], failed
    assert failed["hint"].endswith("set [http] port/listen in the config or pass --port/--listen")
    daemon.kill()


def test_http_port_below_the_unprivileged_ones_exits_3_saying_so(tmp_path: Path) -> None:
    """``port = 443`` (TLS's) without the privilege to bind it, as under sensord.service,
    which grants none: the kernel's ``Permission denied`` does not say that the port is the
    mistake. Root runs the daemon without CAP_NET_BIND_SERVICE, as the service does."""
    start = int(Path("/proc/sys/net/ipv4/ip_unprivileged_port_start").read_text())
    if start == 0:
        pytest.skip("every port may be bound without privileges on this host")
    prefix = ["setpriv", "--bounding-set=-net_bind_service", "--inh-caps=-net_bind_service"]
    daemon = DaemonProcess(
        tmp_path=tmp_path, port=1, command_prefix=prefix if os.geteuid() == 0 else ()
    )
    assert daemon.proc.wait(timeout=15) == 3
    [failed] = daemon.events("cannot serve HTTP")
    assert failed["error"] == "Permission denied"
    assert failed["hint"].startswith(
        f"port 1 is below {start}, the first port a process without privileges may bind "
        "(net.ipv4.ip_unprivileged_port_start), and sensord.service grants none: use a port "
        f"from {start} on (9808 by default), or a reverse proxy in front; "
    ), failed
    daemon.kill()


def test_explicit_missing_config_is_an_error_not_the_demo(tmp_path: Path) -> None:
    daemon = DaemonProcess(["--config", str(tmp_path / "nope.toml")], tmp_path=tmp_path)
    assert daemon.proc.wait(timeout=15) == 1
    assert "file does not exist" in daemon.log_text()
    daemon.kill()


def test_no_fd_leak_over_reconnects(tmp_path: Path, linked_pty: SymlinkedPty) -> None:
    link = linked_pty
    config = tmp_path / "sensord.toml"
    write_atomically(
        config,
        sensor_toml(
            "leak",
            str(link.link),
            extra='simulate = "never"\nreconnect = { initial_delay_s = 0.02, max_delay_s = 0.1 }',
        ),
    )
    with running(["--config", str(config)], tmp_path=tmp_path) as daemon:
        wait_for(lambda: daemon.status()["sensors"]["leak"]["up"], 5, "up")
        # Counted apart: the sockets include the HTTP connection of the /status request just
        # answered, which the server may or may not have closed yet when they are counted.
        files, sockets = _fds_by_kind(daemon.proc.pid)
        # the loop's search of /proc for other processes on the port, once after its first
        # open (sensord.shared_port), holds a directory open for a moment: the files at rest
        files = min(files, _files_at_rest(daemon.proc.pid))
        threads = daemon.thread_count()
        for _ in range(20):  # each state looked for every 10 ms: it comes within tens of ms
            link.unplug()
            wait_for(lambda: not daemon.status()["sensors"]["leak"]["up"], 5, "down", 0.01)
            link.replug()
            wait_for(lambda: daemon.status()["sensors"]["leak"]["up"], 5, "up", 0.01)
        assert daemon.scrape().value("sensord_serial_reconnects_total", sensor="leak") == 20
        # the port, its pipes and the selector are closed and reopened on the loop thread
        # before the sensor reports "up": their count is exact
        assert _fds_by_kind(daemon.proc.pid)[0] == files
        # at most the one HTTP connection of the last request is still open
        wait_for(lambda: _fds_by_kind(daemon.proc.pid)[1] <= sockets, 5, "sockets closed")
        assert daemon.thread_count() <= threads + 1  # an HTTP request thread may be alive


def _files_at_rest(pid: int) -> int:
    """The fewest descriptors that are not sockets ``pid`` holds in five looks 50 ms apart: a
    descriptor held for a moment (a directory of /proc being listed) is left out."""
    counts = []
    for _ in range(5):
        time.sleep(0.05)
        counts.append(_fds_by_kind(pid)[0])
    return min(counts)


def _fds_by_kind(pid: int) -> tuple[int, int]:
    """(descriptors that are not sockets, sockets) a process holds."""
    targets = []
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            targets.append(os.readlink(fd))
        except FileNotFoundError:  # closed while listed
            continue
    sockets = sum(1 for t in targets if t.startswith("socket:"))
    return len(targets) - sockets, sockets


def _frame_counts_while_streaming(
    daemon: DaemonProcess, port: PtyPair, seconds: float, samples: int = 0
) -> list[tuple[float, int]]:
    """Write a line every 5 ms and read the sensor's frame counter from /status every 20 ms
    meanwhile, for ``seconds`` or until ``samples`` counts (at most ten times as long); the
    counts seen, each with the time its answer came."""
    done = threading.Event()

    def stream() -> None:
        while not done.wait(0.005):
            port.write(b"1.5\n")

    writer = threading.Thread(target=stream)
    writer.start()
    counts: list[tuple[float, int]] = []
    try:
        start = time.monotonic()
        while (elapsed := time.monotonic() - start) < seconds or (
            len(counts) < samples and elapsed < 10 * seconds
        ):
            count = daemon.status()["sensors"]["probe"]["frames"]
            counts.append((time.monotonic(), count))
            time.sleep(0.02)
    finally:
        done.set()
        writer.join()
    return counts


def _changed_between_close_reads(counts: list[tuple[float, int]]) -> tuple[int, int]:
    """(pairs of consecutive counts read less than 0.25 s apart, of which the count moved)."""
    close = [(a, b) for a, b in itertools.pairwise(counts) if b[0] - a[0] < 0.25]
    return len(close), sum(1 for a, b in close if b[1] != a[1])


def test_reader_batch_interval_comes_from_the_config_and_reloads(tmp_path: Path) -> None:
    port = PtyPair()
    config = tmp_path / "sensord.toml"
    probe = sensor_toml("probe", port.path, extra='simulate = "never"')
    write_atomically(config, "[reader]\nbatch_interval_s = 0.5\n" + probe)
    daemon = DaemonProcess(["--config", str(config)], tmp_path=tmp_path)
    try:
        daemon.wait_http()
        wait_for(lambda: daemon.status()["sensors"]["probe"]["up"], 5, "probe up")
        batched = _frame_counts_while_streaming(daemon, port, 1.0, samples=20)
        write_atomically(config, "[reader]\nbatch_interval_s = 0\n" + probe)
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: bool(daemon.events("configuration reloaded")), 5, "reload")
        unbatched = _frame_counts_while_streaming(daemon, port, 1.0, samples=20)
    finally:
        assert daemon.stop() == 0
        port.close()
    # read every 0.5 s (and when the loop's timers run): the counter moves a few times a
    # second, by about 100 lines each (3 or 4 values a second, measured), so of two counts
    # read less than 0.25 s apart at most about half differ; without batching it moves
    # between nearly every two requests. Judged on close pairs, so a slow /status (fewer,
    # wider-spaced requests on a loaded host) does not read as batching.
    spell = batched[-1][0] - batched[0][0]
    assert len({c for _, c in batched}) <= 4 * spell + 2, batched
    assert max(b[1] - a[1] for a, b in itertools.pairwise(batched)) >= 50, batched
    close, moved = _changed_between_close_reads(batched)
    assert close >= 10, batched
    assert moved <= 0.6 * close, batched
    close, moved = _changed_between_close_reads(unbatched)
    assert close >= 10, unbatched
    assert moved >= 0.75 * close, unbatched


def test_status_counts_a_reload_once_its_outcome_is_known(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``/status`` (served on the HTTP thread) counted a reload as it began, with the
    outcome of the one before until it ended: a reader that waited for the count saw a
    reload of a broken file as successful. The count now comes with the outcome. The reload
    is held in its file read here (a wait the real one has only by chance)."""
    path = tmp_path / "sensord.toml"
    path.write_text(sensor_toml("s", "sim://s"))
    daemon = Daemon(load_config(path), config_path=path, environ={})
    reading, go_on = threading.Event(), threading.Event()
    read = daemon.load_config

    def held() -> Config:
        reading.set()
        assert go_on.wait(10)
        return read()

    monkeypatch.setattr(daemon, "load_config", held)
    try:
        path.write_text("[[sensors]]\nname = 'x'\n")  # broken
        reloading = threading.Thread(target=daemon.reload)
        reloading.start()
        assert reading.wait(10)
        during = daemon.status()
        go_on.set()
        reloading.join(10)
        after = daemon.status()
    finally:
        daemon.reader.close()
    assert (during["config_reloads"], during["config_last_reload_successful"]) == (0, True)
    assert (after["config_reloads"], after["config_last_reload_successful"]) == (1, False)
