"""``sensord reload``: the real daemon (and a ``--workers`` primary) as a subprocess, the command
as another, over real HTTP and a real SIGHUP. The command returns once the reload's outcome is
set, so the tests read ``/status`` right after it without waiting: a reload that adds 200
sensors takes a tenth of a second and more, in which a command that returned at the signal
(``kill -HUP``) would leave the new sensors not there yet."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from harness.common import REPO, free_port, wait_for
from harness.config import sensor_toml, write_atomically
from harness.daemon import DaemonProcess, StartDaemon

#: Sensors a reload adds: enough that applying them takes a measurable time.
ADDED = 200


def sensord_reload(*args: str, timeout_s: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "sensord", "reload", *args],
        capture_output=True,
        text=True,
        timeout=timeout_s,
        cwd=REPO,
        check=False,
    )


def _many(count: int) -> str:
    return "".join(sensor_toml(f"s{i}", f"sim://s{i}") for i in range(count))


def _started(start_daemon: StartDaemon, *args: str) -> tuple[DaemonProcess, Path]:
    """A daemon of one simulated sensor whose file names its HTTP port, running."""
    port = free_port()
    daemon = start_daemon(list(args), config=f"[http]\nport = {port}\n" + _many(1), port=port)
    assert daemon.config_path is not None
    daemon.wait_http(20)
    wait_for(lambda: daemon.status()["state"] == "running", 20, "the daemon running")
    return daemon, daemon.config_path


def _add_sensors(config: Path) -> None:
    head = config.read_text().split("[[sensors]]", 1)[0]
    write_atomically(config, head + _many(ADDED))


def test_reload_returns_once_the_new_sensors_run(start_daemon: StartDaemon) -> None:
    daemon, config = _started(start_daemon)
    _add_sensors(config)

    done = sensord_reload("-c", str(config), "--pid", str(daemon.pid))

    status = daemon.status()  # no wait: the reload has applied
    assert done.returncode == 0, done.stderr
    assert len(status["sensors"]) == ADDED
    assert (status["config_reloads"], status["config_last_reload_successful"]) == (1, True)
    assert done.stdout == (
        f"sensord: configuration reloaded (pid {daemon.pid}, {config}): {ADDED} sensors\n"
    )
    # without --pid, the pid /status gives
    done = sensord_reload("-c", str(config))
    assert done.returncode == 0, done.stderr
    assert daemon.status()["config_reloads"] == 2


def test_an_invalid_file_fails_the_reload_with_its_errors_and_the_daemon_runs_on(
    start_daemon: StartDaemon,
) -> None:
    daemon, config = _started(start_daemon)
    _add_sensors(config)
    broken = config.read_text().replace('name = "s1"', 'name = "s1"\nwarmup_s = -1', 1)
    write_atomically(config, broken.replace('name = "s7"', 'name = "s7"\nwindow = 3', 1))

    done = sensord_reload("-c", str(config), "--pid", str(daemon.pid))

    status = daemon.status()
    assert done.returncode == 1, done.stderr
    lines = done.stderr.splitlines()
    assert f"sensord: reload failed (pid {daemon.pid}, {config}):" in lines
    errors = [line.strip() for line in lines if line.startswith("  ")]
    assert any(e.startswith("sensors[1].warmup_s (sensor 's1'): ") for e in errors), errors
    assert any(e.startswith("sensors[7].window (sensor 's7'): ") for e in errors), errors
    # the running configuration stays
    assert daemon.alive()
    assert list(status["sensors"]) == ["s0"]
    assert (status["config_reloads"], status["config_last_reload_successful"]) == (1, False)


def test_an_http_change_the_daemon_cannot_serve_is_a_reload_applied_in_part(
    start_daemon: StartDaemon,
) -> None:
    """A new ``[http] listen`` address this host does not have leaves the running server; the
    sensors are applied. The operator who edited ``[http]`` sees a failure naming it (the
    daemon is asked at its running address: the file's is not served)."""
    daemon, config = _started(start_daemon)
    write_atomically(config, '[http]\nlisten = "192.0.2.1"\n' + _many(ADDED))  # TEST-NET-1

    done = sensord_reload("--url", f"127.0.0.1:{daemon.port}", "--pid", str(daemon.pid))

    status = daemon.status()
    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines()[1:] == ["  [http] keeps its running settings (see the log)"]
    assert done.stderr.startswith("sensord: reload applied in part; ")
    assert len(status["sensors"]) == ADDED


def test_no_daemon_is_its_own_exit_status(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there
    config = tmp_path / "sensord.toml"
    config.write_text(f"[http]\nport = {port}\n" + _many(1))
    gone = subprocess.Popen([sys.executable, "-c", ""])
    gone.wait()

    done = sensord_reload("-c", str(config))
    assert done.returncode == 3, done.stderr
    assert done.stderr.startswith("sensord: no daemon to reload: cannot reach the daemon at ")
    assert f"127.0.0.1:{port}" in done.stderr

    done = sensord_reload("-c", str(config), "--pid", str(gone.pid))
    assert done.returncode == 3, done.stderr
    assert done.stderr.startswith(f"sensord: no daemon to reload (pid {gone.pid}: no such process)")


def test_the_pid_asked_for_must_be_the_daemon_that_answers(start_daemon: StartDaemon) -> None:
    daemon, config = _started(start_daemon)
    other = daemon.pid + 1_000_000  # no process has it

    done = sensord_reload("-c", str(config), "--pid", str(other))

    assert done.returncode == 3, done.stderr
    assert f"is pid {daemon.pid}, not {other}: another daemon" in done.stderr
    assert daemon.status()["config_reloads_begun"] == 0  # nothing was signalled


@pytest.fixture
def status_of_this_process() -> Iterator[int]:
    """An HTTP server whose ``/status`` names this test's own process as the daemon (a daemon
    of another pid namespace, say); its port."""
    body = f'{{"pid": {os.getpid()}, "config": "x.toml", "config_reloads": 0, "sensors": {{}}}}'

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(body.encode())

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


def test_a_pid_that_is_no_sensord_run_is_not_signalled(status_of_this_process: int) -> None:
    hups: list[int] = []
    previous = signal.signal(signal.SIGHUP, lambda signum, frame: hups.append(signum))
    try:
        done = sensord_reload("--url", f"127.0.0.1:{status_of_this_process}")
    finally:
        signal.signal(signal.SIGHUP, previous)
    assert done.returncode == 3, done.stderr
    assert f"pid {os.getpid()}, which " in done.stderr
    assert "is not a sensord run this host can see" in done.stderr
    assert hups == []


def test_no_outcome_within_the_timeout_is_its_own_exit_status(start_daemon: StartDaemon) -> None:
    """A reload that adds 1000 sensors takes longer than a timeout of a hundredth of a
    second."""
    daemon, config = _started(start_daemon)
    head = config.read_text().split("[[sensors]]", 1)[0]
    write_atomically(config, head + _many(1000))

    done = sensord_reload("-c", str(config), "--timeout", "0.01")

    assert done.returncode == 4, done.stderr
    assert done.stderr.startswith("sensord: no outcome of the reload within 0.01 s; it may ")
    wait_for(lambda: daemon.status()["config_reloads"] == 1, 30, "the reload")


def test_a_workers_reload_returns_once_every_worker_runs_the_new_sensors(
    start_daemon: StartDaemon,
) -> None:
    """The primary checks the file and passes the reload on to each worker: it counts the
    reload once every worker has applied it, and ends it with READY=1 only then. Two reloads
    asked for at once each return once the new sensors run."""
    daemon, config = _started(start_daemon, "--workers", "2")
    _add_sensors(config)

    both = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "sensord",
                "reload",
                "-c",
                str(config),
                "--pid",
                str(daemon.pid),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=REPO,
        )
        for _ in range(2)
    ]
    first, second = (proc.communicate(timeout=60) for proc in both)

    status = daemon.status()
    assert [proc.returncode for proc in both] == [0, 0], (first, second)
    # what each saw when the reload was counted: every sensor on a worker
    for out, _ in (first, second):
        assert out.endswith(f"): {ADDED} sensors\n"), out
    assert len(status["sensors"]) == ADDED
    assert {sensor["worker"] for sensor in status["sensors"].values()} == {0, 1}
    assert status["config_last_reload_successful"] is True
    assert 1 <= status["config_reloads"] <= 2
    assert status["config_reloads"] == status["config_reloads_begun"]


def test_a_reload_that_comes_while_the_workers_apply_one_is_counted_once_they_apply_it(
    start_daemon: StartDaemon,
) -> None:
    """A second SIGHUP while the workers apply the first reload: each worker gets it once it
    has applied the first (two signals in flight would be one to it, and the READY=1 of the
    first would seem to end both), and the primary counts both once the second has applied:
    the first ``/status`` that counts them shows the second file's sensors."""
    daemon, config = _started(start_daemon, "--workers", "2")
    head = config.read_text().split("[[sensors]]", 1)[0]
    write_atomically(config, head + _many(1000))
    daemon.signal(signal.SIGHUP)
    forwarded = "configuration reload forwarded to the workers"
    wait_for(lambda: bool(daemon.events(forwarded)), 10, "the first reload forwarded")
    second = "".join(sensor_toml(f"t{i}", f"sim://t{i}") for i in range(ADDED))
    write_atomically(config, head + second)
    daemon.signal(signal.SIGHUP)

    status = daemon.status()
    while status["config_reloads"] == 0:
        status = daemon.status()

    assert len(daemon.events(forwarded)) == 2
    assert status["config_reloads"] == 2
    assert sorted(status["sensors"]) == sorted(f"t{i}" for i in range(ADDED))
    assert status["config_last_reload_successful"] is True


def test_the_unit_s_exec_reload_line_reloads_the_daemon_of_its_exec_start(
    start_daemon: StartDaemon,
) -> None:
    """``ExecReload=`` of ``systemd/sensord.service`` as systemd runs it (``$MAINPID`` the
    daemon's pid), with the installed binary and file of the unit replaced by this checkout's
    and the test's: it returns once the new sensors run."""
    unit = (REPO / "systemd" / "sensord.service").read_text()
    line = next(x for x in unit.splitlines() if x.startswith("ExecReload="))
    argv = line.removeprefix("ExecReload=").split()
    assert argv[0] == "/opt/sensord/venv/bin/sensord"
    daemon, config = _started(start_daemon)
    _add_sensors(config)
    replaced = {"/etc/sensord/sensord.toml": str(config), "$MAINPID": str(daemon.pid)}
    argv = [sys.executable, "-m", "sensord", *(replaced.get(arg, arg) for arg in argv[1:])]

    done = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=REPO, check=False)

    assert done.returncode == 0, done.stderr
    assert len(daemon.status()["sensors"]) == ADDED
