"""``sensord reload``: the real daemon (and a ``--workers`` primary) as a subprocess, the command
as another, over real HTTP and a real SIGHUP. The command returns once the reload's outcome is
set, so the tests read ``/status`` right after it without waiting: a reload that adds 200
sensors takes a tenth of a second and more, in which a command that returned at the signal
(``kill -HUP``) would leave the new sensors not there yet."""

from __future__ import annotations

import base64
import contextlib
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator, Mapping
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from harness.common import REPO, free_port, wait_for
from harness.config import sensor_toml, write_atomically
from harness.daemon import DaemonProcess, StartDaemon
from harness.notify import fill_queue, notify_address_of
from harness.pty import PtyPair
from harness.spawn import popen
from harness.tls import self_signed

from sensord.reload import listening_addresses
from sensord.shard import PRIMARY_PID_ENV

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


def _started(
    start_daemon: StartDaemon, *args: str, env: Mapping[str, str] | None = None
) -> tuple[DaemonProcess, Path]:
    """A daemon of one simulated sensor whose file names its HTTP port, running."""
    port = free_port()
    daemon = start_daemon(
        list(args), config=f"[http]\nport = {port}\n" + _many(1), port=port, env=env
    )
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


def test_a_reload_whose_port_is_absent_says_a_simulation_stands_in(
    start_daemon: StartDaemon, tmp_path: Path
) -> None:
    """A port edited to a path that is not there (mistyped: ``ttyUSBO``) applies, and with the
    default ``simulate = "auto"`` a simulation gives the sensor's readings: the reload says
    so, naming the sensor and the path, as it tells nothing wrong otherwise."""
    daemon, config = _started(start_daemon)
    absent = tmp_path / "ttyUSBO"
    write_atomically(config, config.read_text().replace('"sim://s0"', f'"{absent}"'))

    done = sensord_reload("-c", str(config))

    assert done.returncode == 0, done.stderr
    assert daemon.status()["sensors"]["s0"]["simulated"] is True
    assert done.stderr == (
        f"sensord: note: s0 ({absent}): a simulation, not the device, gives the readings while "
        'the device path is absent (simulate = "auto"); a port mistyped in the file reads so: '
        f"sensord check {config} names it\n"
    )
    # the sim:// ports of a simulation meant as one are no such note
    write_atomically(config, config.read_text().replace(f'"{absent}"', '"sim://s0"'))
    done = sensord_reload("-c", str(config))
    assert (done.returncode, done.stderr) == (0, "")


def test_a_device_simulated_always_is_no_note_of_an_absent_path(
    start_daemon: StartDaemon, pty_pair: PtyPair
) -> None:
    """``simulate = "always"`` simulates a sensor whose device path is there (to try a
    configuration beside the device): the reload tells of no absent path, as ``/status``
    gives it no hint either."""
    daemon, config = _started(start_daemon)
    write_atomically(
        config,
        config.read_text().replace('"sim://s0"', f'"{pty_pair.path}"\nsimulate = "always"'),
    )

    done = sensord_reload("-c", str(config))

    sensor = daemon.status()["sensors"]["s0"]
    assert done.returncode == 0, done.stderr
    assert (sensor["simulated"], sensor["port"], sensor["hint"]) == (True, pty_pair.path, None)
    assert done.stderr == ""


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
    gone = popen([sys.executable, "-c", ""])
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
    """A reload that adds 200 sensors (a tenth of a second and more) takes longer than a
    timeout of a hundredth of a second."""
    daemon, config = _started(start_daemon)
    _add_sensors(config)

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
        popen(
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


#: A ``sitecustomize`` that holds a ``--workers`` worker's reload, once it has read its copy of
#: the file, while the path ``{hold}`` exists: for 2.5 s at most, as a worker held pings the
#: primary no more, and one that has not pinged for 5 s (2 s between pings) is stuck.
_WORKER_RELOAD_HELD = f"""
import os, time
if {PRIMARY_PID_ENV!r} in os.environ:
    import sensord.service
    _read = sensord.service.Service.load_config
    def _held(self):
        config = _read(self)
        until = time.monotonic() + 2.5
        while os.path.exists({{hold!r}}) and time.monotonic() < until:
            time.sleep(0.01)
        return config
    sensord.service.Service.load_config = _held
"""


def test_a_reload_that_comes_while_the_workers_apply_one_is_counted_once_they_apply_it(
    start_daemon: StartDaemon, tmp_path: Path
) -> None:
    """A second SIGHUP while the workers apply the first reload: each worker gets it once it
    has applied the first (two signals in flight would be one to it, and the READY=1 of the
    first would seem to end both), and the primary counts both once the second has applied:
    the first ``/status`` that counts them shows the second file's sensors. The workers'
    first reload is held, once they have read the first file, until the primary has the
    second SIGHUP: a worker quicker than this test (0.3 s apart, measured; a loaded host may
    hold the test up longer) would have applied it before."""
    hold = tmp_path / "hold"
    (tmp_path / "sitecustomize.py").write_text(_WORKER_RELOAD_HELD.format(hold=str(hold)))
    path = os.environ.get("PYTHONPATH")
    env = {"PYTHONPATH": f"{tmp_path}{os.pathsep}{path}" if path else str(tmp_path)}
    daemon, config = _started(start_daemon, "--workers", "2", env=env)
    head = config.read_text().split("[[sensors]]", 1)[0]
    write_atomically(config, head + _many(ADDED))
    hold.touch()
    try:
        daemon.signal(signal.SIGHUP)
        forwarded = "configuration reload forwarded to the workers"
        wait_for(lambda: bool(daemon.events(forwarded)), 10, "the first reload forwarded")
        second = "".join(sensor_toml(f"t{i}", f"sim://t{i}") for i in range(ADDED))
        write_atomically(config, head + second)
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: len(daemon.events(forwarded)) == 2, 10, "the second reload forwarded")
    finally:
        hold.unlink()

    status = daemon.status()
    until = time.monotonic() + 60
    while status["config_reloads"] == 0:
        assert time.monotonic() < until, "the reloads were not counted within 60 s"
        status = daemon.status()

    assert len(daemon.events(forwarded)) == 2
    assert status["config_reloads"] == 2
    assert sorted(status["sensors"]) == sorted(f"t{i}" for i in range(ADDED))
    assert status["config_last_reload_successful"] is True


def test_a_worker_s_ready_lost_on_a_full_notification_queue_still_ends_the_reload(
    start_daemon: StartDaemon,
) -> None:
    """The READY=1 that ends a worker's reload is one datagram on the primary's notification
    socket, which a worker sends without waiting: a queue that is full at that moment (the
    primary held up while the workers send) drops it. The worker's next ping tells the
    primary the reloads it has applied: the reload is counted, and the next one reaches it."""
    daemon, config = _started(start_daemon, "--workers", "2")
    pids = [worker["pid"] for worker in daemon.status()["workers"]]
    address = notify_address_of(pids[0])
    _add_sensors(config)
    senders: list[socket.socket] = []
    for pid in pids:  # the workers take the reload only once the primary's queue is full
        os.kill(pid, signal.SIGSTOP)
    try:
        daemon.signal(signal.SIGHUP)
        forwarded = "configuration reload forwarded to the workers"
        wait_for(lambda: bool(daemon.events(forwarded)), 10, "the reload forwarded")
        os.kill(daemon.pid, signal.SIGSTOP)
        try:
            senders = fill_queue(address)
            for pid in pids:
                os.kill(pid, signal.SIGCONT)
            applied = "configuration reloaded"
            wait_for(lambda: len(daemon.events(applied)) == 2, 10, "both workers' reloads")
        finally:
            os.kill(daemon.pid, signal.SIGCONT)
    finally:
        for pid in pids:
            os.kill(pid, signal.SIGCONT)
        for sender in senders:
            sender.close()

    # a worker pings every 2 s without systemd's watchdog
    wait_for(lambda: daemon.status()["config_reloads"] == 1, 10, "the reload counted")
    assert len(daemon.status()["sensors"]) == ADDED
    assert [worker["pid"] for worker in daemon.status()["workers"]] == pids  # none restarted
    head = config.read_text().split("[[sensors]]", 1)[0]
    write_atomically(config, head + sensor_toml("t0", "sim://t0") + sensor_toml("t1", "sim://t1"))
    done = sensord_reload("-c", str(config), "--pid", str(daemon.pid), "--timeout", "10")
    assert done.returncode == 0, done.stderr
    assert sorted(daemon.status()["sensors"]) == ["t0", "t1"]


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


def _started_at_its_file_s_port(
    start_daemon: StartDaemon, tmp_path: Path, *args: str, http: str = ""
) -> tuple[DaemonProcess, Path]:
    """A daemon of one simulated sensor whose address only the file's ``[http]`` gives (no
    ``--port``, which would hold it across reloads), running. The file is readable by this
    user only: it may hold a password."""
    port = free_port()
    config = tmp_path / "moving.toml"
    config.write_text(f"[http]\nport = {port}\n{http}" + _many(1))
    config.chmod(0o600)
    daemon = start_daemon(["--config", str(config), *args], port=port, port_option=False)
    daemon.wait_http(20)
    if not http:  # else /status asks for its credentials
        wait_for(lambda: daemon.status()["state"] == "running", 20, "the daemon running")
    return daemon, config


def _refused(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) != 0


def test_an_edit_that_moves_the_port_reloads_the_daemon_where_it_serves(
    start_daemon: StartDaemon, tmp_path: Path
) -> None:
    """The unit's command line after an edit of ``[http] port``: the file's new port is not
    served yet, so the daemon (``--pid``) is asked where it listens, and the outcome is read
    at the new port, where the reload moved it."""
    daemon, config = _started_at_its_file_s_port(start_daemon, tmp_path)
    old, new = daemon.port, free_port()
    write_atomically(config, f"[http]\nport = {new}\n" + _many(ADDED))

    done = sensord_reload("-c", str(config), "--pid", str(daemon.pid))

    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        f"sensord: configuration reloaded (pid {daemon.pid}, {config}): {ADDED} sensors; it "
        "serves at the file's [http] address\n"
    )
    assert done.stderr == (
        f"sensord: note: cannot reach the daemon at http://127.0.0.1:{new}/status: [Errno 111] "
        f"Connection refused; pid {daemon.pid} serves at http://127.0.0.1:{old}: asked there\n"
    )
    assert _refused(old)
    daemon.port = new
    status = daemon.status()  # no wait: the reload has applied
    assert len(status["sensors"]) == ADDED
    assert (status["config_reloads"], status["config_last_reload_successful"]) == (1, True)


def test_an_edit_that_moves_the_port_and_is_invalid_elsewhere_fails_at_the_running_port(
    start_daemon: StartDaemon, tmp_path: Path
) -> None:
    daemon, config = _started_at_its_file_s_port(start_daemon, tmp_path)
    old, new = daemon.port, free_port()
    edit = f"[http]\nport = {new}\n" + _many(ADDED)
    write_atomically(config, edit.replace('name = "s3"', 'name = "s3"\nwarmup_s = -1', 1))

    done = sensord_reload("-c", str(config), "--pid", str(daemon.pid))

    assert done.returncode == 1, done.stderr
    lines = done.stderr.splitlines()
    assert f"sensord: reload failed (pid {daemon.pid}, {config}):" in lines
    errors = [line.strip() for line in lines if line.startswith("  ")]
    assert len(errors) == 1, errors
    assert errors[0].startswith("sensors[3].warmup_s (sensor 's3'): "), errors
    assert lines[-1] == (
        f"sensord: the daemon serves at http://127.0.0.1:{old} as before, not at the file's "
        f"address: 'sensord status --url http://127.0.0.1:{old}' reaches it"
    )
    assert _refused(new)
    status = daemon.status()  # at the old port
    assert list(status["sensors"]) == ["s0"]
    assert (status["config_reloads"], status["config_last_reload_successful"]) == (1, False)


def test_a_workers_reload_that_moves_the_port_applies_in_part_at_the_running_port(
    start_daemon: StartDaemon, tmp_path: Path
) -> None:
    """A ``--workers`` primary keeps its ``[http]`` until a restart: the sensors apply, the
    port does not, and the reload counts as applied in part."""
    daemon, config = _started_at_its_file_s_port(start_daemon, tmp_path, "--workers", "2")
    old, new = daemon.port, free_port()
    write_atomically(config, f"[http]\nport = {new}\n" + _many(ADDED))

    done = sensord_reload("-c", str(config), "--pid", str(daemon.pid))

    assert done.returncode == 1, done.stderr
    assert done.stderr.splitlines()[1:] == [
        f"sensord: reload applied in part; these run as before until a reload applies them "
        f"(pid {daemon.pid}, {config}):",
        "  [http] keeps its running settings (see the log)",
        f"sensord: the daemon serves at http://127.0.0.1:{old} as before, not at the file's "
        f"address: 'sensord status --url http://127.0.0.1:{old}' reaches it",
    ]
    assert _refused(new)
    assert len(daemon.status()["sensors"]) == ADDED


def test_without_the_pid_a_moved_port_is_no_daemon_with_how_to_go_on(
    start_daemon: StartDaemon, tmp_path: Path
) -> None:
    daemon, config = _started_at_its_file_s_port(start_daemon, tmp_path)
    new = free_port()
    write_atomically(config, f"[http]\nport = {new}\n" + _many(2))

    done = sensord_reload("-c", str(config))

    assert done.returncode == 3, done.stderr
    assert done.stderr.startswith(
        f"sensord: no daemon to reload: cannot reach the daemon at http://127.0.0.1:{new}/"
    )
    assert "give it with --pid" in done.stderr
    assert "its running address with --url" in done.stderr
    assert daemon.status()["config_reloads_begun"] == 0  # nothing was signalled


def test_a_running_address_given_is_asked_until_the_reload_moves_the_daemon(
    start_daemon: StartDaemon, tmp_path: Path
) -> None:
    """``--url`` of the running address, as the hint without ``--pid`` says: once the reload
    moved the daemon, the outcome is read at the file's address."""
    daemon, config = _started_at_its_file_s_port(start_daemon, tmp_path)
    new = free_port()
    write_atomically(config, f"[http]\nport = {new}\n" + _many(ADDED))

    done = sensord_reload("-c", str(config), "--url", f"127.0.0.1:{daemon.port}", "--timeout", "10")

    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith(f": {ADDED} sensors; it serves at the file's [http] address\n")
    daemon.port = new
    assert len(daemon.status()["sensors"]) == ADDED


def test_the_address_a_reload_left_never_answers_with_the_reload_counted(
    start_daemon: StartDaemon, tmp_path: Path
) -> None:
    """A connection the old address accepted before the reload, whose request is read after
    it: a reply there would show the reload counted where the daemon no longer serves, which
    ``sensord reload`` reads as a reload that did not move it. The request is not answered."""
    daemon, config = _started_at_its_file_s_port(start_daemon, tmp_path)
    old, new = daemon.port, free_port()
    write_atomically(config, f"[http]\nport = {new}\n" + _many(2))
    with socket.create_connection(("127.0.0.1", old), timeout=10) as early:
        early.sendall(b"GET /status HTTP/1.1\r\n")  # the head not complete yet
        # accepted: the scrape's own connection and this one
        wait_for(lambda: daemon.scrape().value("sensord_http_connections") == 2, 5, "it accepted")
        daemon.signal(signal.SIGHUP)
        daemon.port = new
        wait_for(lambda: _reloaded(daemon), 10, "the reload counted at the new address")
        early.sendall(b"Host: 127.0.0.1\r\n\r\n")
        reply = b""
        with contextlib.suppress(ConnectionResetError):
            reply = early.recv(65536)
    assert reply == b""
    assert _refused(old)


def _reloaded(daemon: DaemonProcess) -> bool:
    try:
        return bool(daemon.status()["config_reloads"] == 1)
    except OSError:  # not listening there yet
        return False


def test_an_edit_of_the_password_and_the_port_reloads_the_daemon_that_refuses_the_file_s(
    start_daemon: StartDaemon, tmp_path: Path
) -> None:
    """An edit of the password and the port: where the daemon listens, the file's new
    password is refused, so the reloads are counted on its ``/healthz``, which asks for no
    credentials; the outcome is read with them at the new port, where the reload moved it."""
    daemon, config = _started_at_its_file_s_port(
        start_daemon, tmp_path, http='basic_auth_username = "u"\nbasic_auth_password = "old"\n'
    )
    old, new = daemon.port, free_port()
    edit = f'[http]\nport = {new}\nbasic_auth_username = "u"\nbasic_auth_password = "new"\n'
    write_atomically(config, edit + _many(2))
    config.chmod(0o600)

    done = sensord_reload("-c", str(config), "--pid", str(daemon.pid))

    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        f"sensord: configuration reloaded (pid {daemon.pid}, {config}): 2 sensors; it serves "
        "at the file's [http] address\n"
    )
    assert done.stderr.startswith(
        f"sensord: note: cannot reach the daemon at http://127.0.0.1:{new}/status: "
    )
    assert (
        f"; pid {daemon.pid} refuses the file's [http] credentials at http://127.0.0.1:{old} "
        "(HTTP 401): " in done.stderr
    )
    assert _refused(old)
    daemon.port = new
    token = base64.b64encode(b"u:new").decode()
    code, _, body = daemon.get("/status", {"Authorization": f"Basic {token}"})
    assert code == 200
    assert json.loads(body)["config_last_reload_successful"] is True


def test_an_edit_that_turns_tls_on_and_moves_the_port_reloads_the_daemon(
    start_daemon: StartDaemon, tmp_path: Path
) -> None:
    """Where the daemon listens it serves plain HTTP, which the file no longer names: it is
    asked there without TLS, and after the reload at the file's address, with it."""
    daemon, config = _started_at_its_file_s_port(start_daemon, tmp_path)
    old, new = daemon.port, free_port()
    cert, key = self_signed(tmp_path)
    tls = f'tls_cert_file = "{cert}"\ntls_key_file = "{key}"\n'
    write_atomically(config, f"[http]\nport = {new}\n{tls}" + _many(ADDED))

    done = sensord_reload("-c", str(config), "--pid", str(daemon.pid))

    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith(f": {ADDED} sensors; it serves at the file's [http] address\n")
    assert f"https://127.0.0.1:{new}/status: " in done.stderr
    assert f"; pid {daemon.pid} serves at http://127.0.0.1:{old}: asked there" in done.stderr
    context = ssl.create_default_context(cafile=str(cert))
    url = f"https://127.0.0.1:{new}/status"
    with urllib.request.urlopen(url, timeout=10, context=context) as reply:
        status = json.loads(reply.read())
    assert len(status["sensors"]) == ADDED
    assert status["config_last_reload_successful"] is True


def test_an_edit_that_turns_tls_off_reloads_the_daemon_read_with_the_certificate_it_serves(
    start_daemon: StartDaemon, tmp_path: Path
) -> None:
    """At the same port: the daemon serves HTTPS, which the file no longer names, so it is
    read there with the certificate it serves (it listens there); the notes name no
    certificate file, as the file has none."""
    cert, key = self_signed(tmp_path)
    tls = f'tls_cert_file = "{cert}"\ntls_key_file = "{key}"\n'
    port = free_port()
    config = tmp_path / "tls.toml"
    config.write_text(f"[http]\nport = {port}\n{tls}" + _many(1))
    daemon = start_daemon(["--config", str(config)], port=port, port_option=False)
    context = ssl.create_default_context(cafile=str(cert))
    context.check_hostname = False

    def running() -> bool:
        try:
            with urllib.request.urlopen(
                f"https://127.0.0.1:{port}/status", timeout=10, context=context
            ) as reply:
                return bool(json.loads(reply.read())["state"] == "running")
        except OSError:
            return False

    wait_for(running, 20, "the daemon running over TLS")
    write_atomically(config, f"[http]\nport = {port}\n" + _many(ADDED))

    done = sensord_reload("-c", str(config), "--pid", str(daemon.pid))

    assert done.returncode == 0, done.stderr
    assert done.stdout.endswith(f": {ADDED} sensors; it serves at the file's [http] address\n")
    assert done.stderr.splitlines()[1:] == [
        f"sensord: note: pid {daemon.pid} serves TLS at https://127.0.0.1:{port}, which the "
        f"file's [http] turns off: pid {daemon.pid} listens there, so it was read with the "
        "certificate it serves"
    ]
    status = daemon.status()  # plain HTTP
    assert len(status["sensors"]) == ADDED
    assert status["config_last_reload_successful"] is True


def test_listening_addresses_are_the_process_s_own_listening_sockets() -> None:
    """This process's listening sockets, IPv4 and IPv6 (where the host has ::1), and neither
    end of a connection it holds."""
    with contextlib.ExitStack() as stack:
        four = stack.enter_context(socket.create_server(("127.0.0.1", 0)))
        try:
            six = stack.enter_context(socket.create_server(("::1", 0), family=socket.AF_INET6))
        except OSError:  # a host without IPv6 loopback
            six = None
        client = stack.enter_context(socket.create_connection(four.getsockname()[:2]))
        accepted = stack.enter_context(four.accept()[0])

        found = listening_addresses(os.getpid())

        assert ("127.0.0.1", four.getsockname()[1]) in found
        if six is not None:
            assert ("::1", six.getsockname()[1]) in found
        assert client.getsockname()[1] not in {port for _, port in found}
        assert accepted.getsockname()[1] == four.getsockname()[1]  # the listener's port
        assert found.count(("127.0.0.1", four.getsockname()[1])) == 1


@pytest.mark.parametrize("workers", [[], ["--workers", "2"]], ids=["one-process", "workers"])
def test_a_daemon_started_with_a_relative_path_names_its_file_by_its_absolute_path(
    start_daemon: StartDaemon, tmp_path: Path, workers: list[str]
) -> None:
    """``sensord run -c e.toml``: ``/status`` (and so ``sensord status`` and ``reload``) names
    the file the daemon read by its absolute path, not by a path relative to a directory the
    reader does not know; the commands given the relative path in that directory find the
    daemon and reload it."""
    port = free_port()
    config = tmp_path.resolve() / "e.toml"  # the directory's path as the daemon gets it
    config.write_text(f"[http]\nport = {port}\n" + _many(1))
    # run from tmp_path, the commands import this checkout's sensord as they do from REPO
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}
    daemon = start_daemon(["--config", "e.toml", *workers], port=port, cwd=tmp_path, env=env)
    daemon.wait_http(20)
    wait_for(lambda: daemon.status()["state"] == "running", 20, "the daemon running")
    assert daemon.status()["config"] == str(config)

    def command(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "sensord", *args, "-c", "e.toml"],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=tmp_path,
            env={**os.environ, **env},
            check=False,
        )

    shown = command("status")
    assert shown.stdout.splitlines()[0].endswith(f"  pid {daemon.pid}  config {config}"), shown
    _add_sensors(config)
    done = command("reload")
    assert done.returncode == 0, done.stderr
    assert done.stdout == (
        f"sensord: configuration reloaded (pid {daemon.pid}, {config}): {ADDED} sensors\n"
    )
    assert len(daemon.status()["sensors"]) == ADDED


def test_a_daemon_started_with_dot_dot_in_its_path_names_its_file_without_them(
    start_daemon: StartDaemon, tmp_path: Path
) -> None:
    """``sensord run -c sub/../e.toml``: ``/status`` names the file as ``os.path.abspath``
    writes it, its ``..`` taken out, since that names the same file. After a symlink to a
    directory elsewhere (``link/../e.toml`` names ``elsewhere/../e.toml``, another file than
    ``e.toml`` beside ``link``) the ``..`` is kept: a lexical normalisation would name the
    wrong file, and the resolved path would hide the link the operator gave."""
    port = free_port()
    base = tmp_path.resolve()
    (base / "sub").mkdir()
    (base / "far" / "in").mkdir(parents=True)
    (base / "link").symlink_to(base / "far" / "in")
    config = base / "e.toml"
    config.write_text(f"[http]\nport = {port}\n" + _many(1))
    # beside link, a file of the same name that link/../e.toml does not name
    (base / "far" / "e.toml").write_text(f"[http]\nport = {port}\n" + _many(2))
    env = {"PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))}

    daemon = start_daemon(["--config", "sub/../e.toml"], port=port, cwd=base, env=env)
    daemon.wait_http(20)
    assert daemon.status()["config"] == str(config)
    daemon.stop()

    far = start_daemon(["--config", "link/../e.toml"], port=port, cwd=base, env=env)
    far.wait_http(20)
    status = far.status()
    assert status["config"] == str(base / "link" / ".." / "e.toml")
    assert len(status["sensors"]) == 2  # far/e.toml's, the file the path names
