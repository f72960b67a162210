"""``sensord run --workers N``: sharding, merged /metrics, supervision, signals."""

from __future__ import annotations

import base64
import contextlib
import http.server
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from harness.common import wait_for
from harness.config import sensor_toml
from harness.daemon import DaemonProcess, StartDaemon
from harness.notify import NotifyListener, fill_queue, notify_address_of
from harness.pty import SymlinkedPty
from harness.scrape import Scrape
from harness.spawn import popen

from sensord import workers, workers_copy
from sensord.config import Config, parse_config
from sensord.demo import demo_config
from sensord.export import merge_expositions, render_families
from sensord.http import CaptureUnavailableError
from sensord.log import configure as configure_logging
from sensord.reopen import DEVICE_WATCH_S
from sensord.service import EXIT_HTTP
from sensord.shard import shard_key, shard_of, shard_sensors
from sensord.workers import Primary


def test_shards_partition_the_sensors_stably() -> None:
    config = demo_config()
    names = [s.name for s in config.sensors]
    shards = [shard_sensors(config, i, 3) for i in range(3)]
    seen = [s.name for shard in shards for s in shard]
    assert sorted(seen) == sorted(names)
    for i, shard in enumerate(shards):
        assert all(shard_of(shard_key(s), 3) == i for s in shard)
    assert shard_sensors(config, 0, 1) == config.sensors


def test_merge_labels_process_wide_families_and_keeps_sensor_series() -> None:
    worker_text = (
        "# HELP process_open_fds Number of open file descriptors.\n"
        "# TYPE process_open_fds gauge\nprocess_open_fds {fds}\n"
        "# HELP sensord_frames_total Frames\n# TYPE sensord_frames_total counter\n"
        'sensord_frames_total{{sensor="{sensor}"}} 5.0\n'
        "# HELP sensord_build_info v\n# TYPE sensord_build_info gauge\n"
        'sensord_build_info{{version="x"}} 1.0\n'
    )
    families = merge_expositions(
        [
            ("0", worker_text.format(fds=7, sensor="a")),
            ("1", worker_text.format(fds=9, sensor="b")),
        ],
        ("process_",),
        ("sensord_build_info",),
        [("sensord_build_info", "gauge", "v", [({"version": "1"}, 1.0)])],
    )
    text = render_families(families, None)[0].decode()
    samples = Scrape(text)
    assert samples.value("process_open_fds", worker="0") == 7
    assert samples.value("process_open_fds", worker="1") == 9
    assert samples.value("sensord_frames_total", sensor="a") == 5
    assert samples.value("sensord_frames_total", sensor="b") == 5
    assert samples.value("sensord_build_info", version="1") == 1
    assert 'version="x"' not in text
    assert text.count("# TYPE sensord_frames_total counter") == 1


@pytest.mark.slow
def test_two_workers_serve_one_metrics_and_restart_a_dead_worker(tmp_path: Path) -> None:
    config = tmp_path / "sensord.toml"
    names = [f"s{i}" for i in range(6)]
    config.write_text("".join(sensor_toml(n, f"sim://{n}") for n in names))
    listener = NotifyListener(tmp_path)
    daemon = DaemonProcess(
        ["--config", str(config), "--workers", "2"],
        tmp_path=tmp_path,
        env={"NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": "2000000"},
    )
    try:
        listener.wait_for("READY=1", 15)
        daemon.wait_http()

        def every_sensor_reads() -> bool:
            m = daemon.scrape()
            return all(m.get("sensord_frames_total", 0, sensor=n) > 0 for n in names)

        wait_for(every_sensor_reads, 10, "frames from every sensor")
        text = daemon.metrics_text()
        promtool = shutil.which("promtool")
        assert promtool
        check = subprocess.run(
            [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
        )
        assert check.returncode == 0, check.stdout + check.stderr
        samples = Scrape(text)
        assert samples.value("sensord_worker_up", worker="0") == 1
        assert samples.value("sensord_worker_up", worker="1") == 1
        assert samples.has("process_resident_memory_bytes", worker="1")
        # the primary's own process, beside its workers' (it started before them)
        assert samples.value("process_resident_memory_bytes", worker="primary") > 0
        started = {
            w: samples.value("process_start_time_seconds", worker=w) for w in ("primary", "0", "1")
        }
        assert started["primary"] <= min(started["0"], started["1"])
        assert samples.has("python_info", worker="primary")
        status = daemon.status()
        assert set(status["sensors"]) == set(names)
        assert {s["worker"] for s in status["sensors"].values()} == {0, 1}
        # the primary's log says where each sensor runs, as /status does
        placed = {r["worker"]: r["sensors"] for r in daemon.events("worker started")}
        assert placed == {
            w: sorted(n for n, s in status["sensors"].items() if s["worker"] == w) for w in (0, 1)
        }
        listener.wait_for("WATCHDOG=1", 5)

        victim = status["workers"][1]["pid"]
        os.kill(victim, signal.SIGKILL)
        wait_for(
            lambda: daemon.scrape().get("sensord_worker_restarts_total", 0, worker="1") == 1,
            10,
            "worker 1 restarted",
        )
        wait_for(lambda: daemon.status()["workers"][1]["ready"], 10, "worker 1 ready again")
        assert daemon.status()["workers"][1]["pid"] != victim
        # the log names the signal that ended it and the sensors that were out meanwhile
        wait_for(lambda: bool(daemon.events("worker exited; restarting")), 5, "the exit's line")
        (exited,) = daemon.events("worker exited; restarting")
        assert (exited["worker"], exited["code"], exited["signal"]) == (1, -9, "SIGKILL")
        assert exited["sensors"] == placed[1]
        # systemctl status shows the worker's restart, then every worker ready again
        down = listener.wait_for("STATUS=1/2 workers ready; worker 1 ", 5)
        (message,) = [m for at, m in listener.messages if at == down]
        assert message.split("\n")[0] in (
            "STATUS=1/2 workers ready; worker 1 down",
            "STATUS=1/2 workers ready; worker 1 starting",
        )
        wait_for(
            lambda: any(
                at > down and m == "STATUS=2 workers ready"
                for at, m in (listener.collect(0.1), listener.messages)[1]
            ),
            5,
            "STATUS=2 workers ready after the restart",
        )

        # SIGHUP: an invalid file stays in the primary; a valid one reaches the workers
        config.write_text("[[sensors]]\nname = 'x'\n")
        daemon.signal(signal.SIGHUP)
        wait_for(
            lambda: daemon.scrape().value("sensord_config_last_reload_successful") == 0,
            5,
            "reload rejected",
        )
        config.write_text("".join(sensor_toml(n, f"sim://{n}") for n in [*names, "added"]))
        # a worker may apply the reload before the primary, which sent it the signal, sets the
        # reload's outcome: the outcome is read once the primary counts the reload
        reloaded = daemon.reload_by_signal(20)
        assert "added" in reloaded["sensors"]
        assert reloaded["config_last_reload_successful"] is True
        assert daemon.scrape().value("sensord_config_last_reload_successful") == 1
        worker_pids = [w["pid"] for w in daemon.status()["workers"]]
    finally:
        code = daemon.stop(timeout_s=10)
        listener.close()
    assert code == 0
    for pid in worker_pids:
        assert (
            not os.path.exists(f"/proc/{pid}")
            or "zombie" in Path(f"/proc/{pid}/status").read_text()
        )


def _gone(pid: int) -> bool:
    try:
        return "zombie" in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return True


def _workers_config(tmp_path: Path, count: int = 6) -> Path:
    config = tmp_path / "sensord.toml"
    config.write_text("".join(sensor_toml(f"s{i}", f"sim://s{i}") for i in range(count)))
    return config


def test_a_copy_named_for_this_very_pid_is_an_earlier_process_s(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a container the primary has the same pid at each start (1, as the entrypoint), and
    its /tmp outlives a kill: a copy named for that pid, which this process has not made yet,
    is the one a killed primary left, not its own, and is removed; the copies of other live
    sensords and this process's own stay."""
    monkeypatch.setattr(workers_copy, "_sensord_runs_as", lambda pid: True)  # as pid 1 would be
    left = tmp_path / f"{workers_copy.COPY_PREFIX}{os.getpid()}-a1b2c3"
    other = tmp_path / f"{workers_copy.COPY_PREFIX}{os.getpid() + 1}-d4e5f6"
    for folder in (left, other):
        folder.mkdir()
        (folder / "sensord.toml").write_text("[http]\n")
    assert workers_copy.remove_orphaned_copies(tmp_path) == [left]
    assert other.is_dir()
    own = workers_copy.make_copy_folder(tmp_path)
    assert own.name.startswith(f"{workers_copy.COPY_PREFIX}{os.getpid()}-")
    assert workers_copy.remove_orphaned_copies(tmp_path) == []
    assert own.is_dir()
    workers_copy.remove_copy_folder(own)
    assert not own.exists()


def test_workers_stop_when_the_primary_is_killed(tmp_path: Path) -> None:
    config = _workers_config(tmp_path)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    env = {"TMPDIR": str(tmp)}
    daemon = DaemonProcess(["--config", str(config), "--workers", "2"], tmp_path=tmp_path, env=env)
    try:
        daemon.wait_http(15)
        wait_for(lambda: all(w["ready"] for w in daemon.status()["workers"]), 15, "workers")
        pids = [w["pid"] for w in daemon.status()["workers"]]
        assert all(not _gone(pid) for pid in pids)
        daemon.proc.kill()  # no chance to stop its workers
        daemon.proc.wait(5)
        wait_for(lambda: all(_gone(pid) for pid in pids), 10, "the orphaned workers to stop")
        gone = daemon.events("the primary process is gone; stopping")
        assert sorted(r["worker"] for r in gone) == [0, 1]
        assert all(r["primary_pid"] == daemon.proc.pid for r in gone)
        # they shut down as on SIGTERM: each sensor's summary is logged
        assert {r["sensor"] for r in daemon.events("sensor summary")} == {f"s{i}" for i in range(6)}
        assert sorted(r["worker"] for r in daemon.events("sensord stopped")) == [0, 1]
        # the copy of the configuration it left (it may hold [http]'s password) is removed by
        # the next primary, which keeps its own
        (copied,) = daemon.events("workers read the configuration as validated, from a copy")
        left = Path(copied["copy"]).parent
        assert left.is_dir()
        assert left.parent == tmp
    finally:
        daemon.kill()
    again = DaemonProcess(["--config", str(config), "--workers", "2"], tmp_path=tmp_path, env=env)
    try:
        again.wait_http(15)
        assert not left.exists()
        (removed,) = again.events("removed the configuration copies of primaries that were killed")
        assert removed["directories"] == [str(left)]
        (copied,) = again.events("workers read the configuration as validated, from a copy")
        assert Path(copied["copy"]).is_file()
    finally:
        assert again.stop(timeout_s=10) == 0
    assert list(tmp.iterdir()) == []  # a primary that stops removes its own


def test_a_hung_worker_is_killed_and_restarted_while_systemd_keeps_its_pings(
    tmp_path: Path,
) -> None:
    config = _workers_config(tmp_path)
    listener = NotifyListener(tmp_path)
    daemon = DaemonProcess(
        ["--config", str(config), "--workers", "2"],
        tmp_path=tmp_path,
        env={"NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": "1000000"},
    )
    victim = 0
    done = threading.Event()
    try:
        listener.wait_for("READY=1", 15)
        daemon.wait_http()
        listener.wait_for("WATCHDOG=1", 5)
        victim = daemon.status()["workers"][0]["pid"]
        receiver = threading.Thread(  # timestamps every datagram as it arrives
            target=lambda: [listener.collect(0.05) for _ in iter(done.is_set, True)]
        )
        receiver.start()
        victims = {n for n, s in daemon.status()["sensors"].items() if s["worker"] == 0}
        assert victims
        os.kill(victim, signal.SIGSTOP)
        stopped_at = time.monotonic()
        # while it hangs (then is killed and starts again), its sensors stay on /status with
        # the worker's state
        seen: set[str] = set()

        def victims_shown_with_the_workers_state() -> bool:
            sensors = daemon.status()["sensors"]
            assert victims <= set(sensors)
            shown = {sensors[n]["state"] for n in victims if not sensors[n]["up"]}
            seen.update(shown)
            return bool(shown) and all(state.startswith("worker ") for state in shown)

        wait_for(victims_shown_with_the_workers_state, 8, "the hung worker's sensors' state")
        assert seen <= {"worker not responding", "worker down", "worker starting"}, seen
        # the primary pings every 0.5 s and gives a worker 2 x 0.5 + 1 s to ping it
        wait_for(
            lambda: daemon.scrape().get("sensord_worker_restarts_total", 0, worker="0") == 1,
            8,
            "the hung worker killed and restarted",
        )
        killed = daemon.wait_events("worker stopped answering; killing it")
        assert [(r["worker"], r["pid"]) for r in killed] == [(0, victim)]
        assert _gone(victim)
        wait_for(lambda: daemon.get("/healthz")[0] == 200, 10, "healthy again")
        status = daemon.status()
        assert status["workers"][0]["pid"] != victim
        assert {s["worker"] for s in status["sensors"].values()} == {0, 1}
        assert daemon.scrape().value("sensord_worker_up", worker="0") == 1
        # the rest of the service stayed up: systemd's watchdog was pinged throughout
        done.set()
        receiver.join()
        pings = [at for at, m in listener.messages if "WATCHDOG=1" in m and at >= stopped_at]
        gaps = [b - a for a, b in zip([stopped_at, *pings], pings, strict=False)]
        assert pings
        assert max(gaps) < 2.5, gaps  # a withheld ping would leave a gap of 3 s and more
    finally:
        done.set()
        with contextlib.suppress(ProcessLookupError):
            os.kill(victim, signal.SIGKILL)
        code = daemon.stop(timeout_s=10)
        listener.close()
    assert code == 0


def test_workers_keep_serving_behind_basic_auth_and_an_http_reload(tmp_path: Path) -> None:
    config = tmp_path / "sensord.toml"
    names = [f"s{i}" for i in range(4)]
    sensors = "".join(sensor_toml(n, f"sim://{n}") for n in names)
    auth = '[http]\nbasic_auth_username = "prom"\nbasic_auth_password = "secret-1"\n'
    config.write_text(auth + sensors)
    config.chmod(0o600)
    daemon = DaemonProcess(["--config", str(config), "--workers", "2"], tmp_path=tmp_path)
    good = {"Authorization": "Basic " + base64.b64encode(b"prom:secret-1").decode()}

    def sensors_in_metrics() -> set[str]:
        status, _, body = daemon.get("/metrics", good)
        assert status == 200
        return Scrape(body).sensors()

    try:
        daemon.wait_http(15)
        wait_for(lambda: sensors_in_metrics() == set(names), 10, "every sensor behind auth")
        assert daemon.get("/metrics")[0] == 401
        # the workers' own servers take neither the site's credentials nor no credentials
        wait_for(
            lambda: len(daemon.events("sensord worker started")) >= 2,
            5,
            "the workers' start lines",
        )
        ports = [int(r["url"].rsplit(":", 1)[1]) for r in daemon.events("sensord worker started")]
        assert len(ports) == 2
        (primary,) = daemon.events("sensord started")  # the site's URL, once
        assert "worker" not in primary
        for port in ports:
            for headers in ({}, good):
                request = urllib.request.Request(
                    f"http://127.0.0.1:{port}/metrics", headers=headers
                )
                with pytest.raises(urllib.error.HTTPError) as refused:
                    urllib.request.urlopen(request, timeout=5)
                assert refused.value.code == 401

        # an [http] change reaches neither the workers' servers nor the primary's until restart
        config.write_text(auth.replace("\n", "\nrequest_timeout_s = 5.0\n", 1) + sensors)
        daemon.signal(signal.SIGHUP)
        wait_for(
            lambda: bool(
                daemon.events("[http] and [log] changes apply at the next restart with --workers")
            ),
            5,
            "the warning",
        )
        wait_for(
            lambda: len(daemon.events("configuration reloaded")) == 2, 10, "both workers reloaded"
        )
        assert sensors_in_metrics() == set(names)
        # the workers may apply the reload before the primary, which sent them the signal,
        # sets its outcome: the outcome is read once the primary counts the reload
        wait_for(
            lambda: json.loads(daemon.get("/status", good)[2])["config_reloads"] == 1,
            10,
            "the reload counted",
        )
        status = json.loads(daemon.get("/status", good)[2])
        assert [w["ready"] for w in status["workers"]] == [True, True]
        # the file is not what runs: the reload counts as applied in part until a restart
        assert status["config_last_reload_successful"] is False
        partly_line = "reload applied in part; these sections keep their running settings"
        wait_for(lambda: bool(daemon.events(partly_line)), 5, "the primary's reload line")
        (partly,) = daemon.events(partly_line)
        assert partly["kept"] == ["http"]
        _, _, body = daemon.get("/metrics", good)
        assert Scrape(body).value("sensord_config_last_reload_successful") == 0.0
    finally:
        code = daemon.stop(timeout_s=10)
    assert code == 0


_FIRST_WORKER_NEVER_READY = """
import os, signal
import sensord.workers as workers
spawn = workers.Primary._spawn
started = []

def spawn_and_stop_the_first(self, worker):
    spawn(self, worker)
    if not started:  # the first worker ever started stays stopped before it is ready,
        os.kill(worker.proc.pid, signal.SIGSTOP)
        worker.started_at -= workers.START_TIMEOUT_S - 1.0  # 1 s from its start timeout
    started.append(worker.proc.pid)

workers.Primary._spawn = spawn_and_stop_the_first
"""


def test_a_worker_that_never_becomes_ready_is_killed_and_restarted(tmp_path: Path) -> None:
    config = _workers_config(tmp_path)
    daemon = DaemonProcess(
        ["--config", str(config), "--workers", "2"],
        tmp_path=tmp_path,
        python_prelude=_FIRST_WORKER_NEVER_READY,
    )
    try:

        def health() -> int:
            try:
                return daemon.get("/healthz")[0]
            except OSError:
                return 0  # not listening yet

        wait_for(lambda: health() == 503, 10, "/healthz 503 while worker 0 is not ready")
        wait_for(lambda: daemon.get("/healthz")[0] == 200, 10, "both workers ready")
        stuck = daemon.wait_events("worker did not become ready; killing it")
        assert [r["worker"] for r in stuck] == [0]
        assert _gone(stuck[0]["pid"])
        status = daemon.status()
        assert [w["restarts"] for w in status["workers"]] == [1, 0]
        assert set(status["sensors"]) == {f"s{i}" for i in range(6)}
    finally:
        code = daemon.stop(timeout_s=10)
    assert code == 0


_WORKERS_HELD_AT_THEIR_START = """
import os, signal
import sensord.workers as workers
spawn = workers.Primary._spawn

def spawn_and_stop(self, worker):
    spawn(self, worker)
    os.kill(worker.proc.pid, signal.SIGSTOP)  # held before it is ready, until the test says

workers.Primary._spawn = spawn_and_stop
"""


@contextlib.contextmanager
def _workers_whose_ready_was_dropped(
    tmp_path: Path, env: dict[str, str]
) -> Iterator[tuple[DaemonProcess, NotifyListener, list[int]]]:
    """A primary of two workers (systemd's socket: the listener) whose notification queue was
    full as each worker sent its first READY=1, running again; and the workers' pids."""
    config = _workers_config(tmp_path)
    listener = NotifyListener(tmp_path)
    daemon = DaemonProcess(
        ["--config", str(config), "--workers", "2"],
        tmp_path=tmp_path,
        env={"NOTIFY_SOCKET": listener.address, **env},
        python_prelude=_WORKERS_HELD_AT_THEIR_START,
    )
    senders: list[socket.socket] = []
    pids: list[int] = []
    try:
        wait_for(lambda: len(daemon.events("worker started")) == 2, 15, "both workers started")
        pids = [record["pid"] for record in daemon.events("worker started")]
        os.kill(daemon.pid, signal.SIGSTOP)
        try:
            senders = fill_queue(notify_address_of(pids[0]))
            for pid in pids:
                os.kill(pid, signal.SIGCONT)
            wait_for(lambda: len(daemon.events("ready")) == 2, 20, "both workers ready")
            failed = daemon.events("sd_notify_failed")  # the READY=1 of each, before "ready"
            assert sorted(r["worker"] for r in failed) == [0, 1], failed
        finally:
            os.kill(daemon.pid, signal.SIGCONT)
        for sender in senders:
            sender.close()
        yield daemon, listener, pids
    finally:
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGCONT)
        with contextlib.suppress(ProcessLookupError):
            os.kill(daemon.pid, signal.SIGCONT)
        for sender in senders:
            sender.close()
        code = daemon.stop(timeout_s=10)
        listener.close()
    assert code == 0


def test_a_worker_whose_ready_a_full_notification_queue_refused_is_ready_at_its_next_housekeeping(
    tmp_path: Path,
) -> None:
    """A worker's READY=1 is one datagram on the primary's notification socket, sent without
    waiting: a queue that is full at that moment (the primary held up while the workers
    start) refuses it. The worker keeps it and sends it again at its next housekeeping, with
    its HTTP port and status line, before its ping: the primary serves its sensors and tells
    systemd READY=1 rather than killing it as stuck 30 s on."""
    with _workers_whose_ready_was_dropped(tmp_path, {}) as (daemon, listener, pids):
        # a worker pings every 2 s without systemd's watchdog
        listener.wait_for("READY=1", 10)
        status = daemon.status()
        assert [(w["pid"], w["ready"], w["restarts"]) for w in status["workers"]] == [
            (pid, True, 0) for pid in pids
        ]
        assert all(w["status"] for w in status["workers"]), status["workers"]  # the ping's
        daemon.wait_up_settled([f"s{i}" for i in range(6)], timeout_s=10)
        scrape = daemon.scrape()
        assert [scrape.value("sensord_worker_up", worker=w) for w in "01"] == [1, 1]
        assert not daemon.events("worker did not become ready; killing it")


_WORKER_PINGS_HEARD = """
import time
import structlog
import sensord.workers as workers
receive = workers.NotifyListener.receive

def receive_and_log(self):
    received = receive(self)
    for pid, fields in received:
        if fields.get("WATCHDOG") == "1":
            structlog.get_logger("test").info("worker ping heard", sender=pid, at=time.monotonic())
    return received

workers.NotifyListener.receive = receive_and_log
"""


def test_a_worker_s_ping_a_full_queue_refused_goes_again_at_its_next_housekeeping(
    tmp_path: Path,
) -> None:
    """Under a watchdog of 8 s a worker pings the primary every 4 s, and its housekeeping
    runs every second. A ping the full queue refused goes again at the next housekeeping,
    not 4 s on with the ping after it: a worker whose pings are refused at each of their
    times would go unheard until the primary kills it as hung. Here the primary's queue is
    filled once each worker's READY=1 and first ping were heard, and drained 1.5 s after the
    second ping was due: the worker is heard again within about a second, where the ping
    after the refused one is 2.5 s away at the soonest."""
    ping_s = 4.0
    listener = NotifyListener(tmp_path)
    daemon = DaemonProcess(
        ["--config", str(_workers_config(tmp_path)), "--workers", "2"],
        tmp_path=tmp_path,
        env={"NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": str(int(2 * ping_s * 1e6))},
        python_prelude=_WORKER_PINGS_HEARD,
    )

    def heard(pid: int, after: float) -> list[float]:
        at = [r["at"] for r in daemon.events("worker ping heard") if r["sender"] == pid]
        return [t for t in at if t > after]

    senders: list[socket.socket] = []
    try:
        listener.wait_for("READY=1", 20)  # every worker ready
        pids = [record["pid"] for record in daemon.events("worker started")]
        wait_for(lambda: all(heard(pid, 0.0) for pid in pids), 5, "each worker's first ping")
        pinged_at = max(heard(pid, 0.0)[0] for pid in pids)
        os.kill(daemon.pid, signal.SIGSTOP)
        try:
            senders = fill_queue(notify_address_of(pids[0]))
            assert not any(heard(pid, pinged_at) for pid in pids)  # no second ping yet
            time.sleep(max(0.0, pinged_at + ping_s + 1.5 - time.monotonic()))  # refused
        finally:
            os.kill(daemon.pid, signal.SIGCONT)
        drained_at = time.monotonic()
        wait_for(lambda: all(heard(pid, drained_at) for pid in pids), 10, "the pings after")
        late = {pid: round(heard(pid, drained_at)[0] - drained_at, 3) for pid in pids}
        assert all(s < 2.0 for s in late.values()), late  # 2.5 s on: the next of each
        status = daemon.status()
        assert [(w["pid"], w["responding"]) for w in status["workers"]] == [
            (pid, True) for pid in pids
        ]
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.kill(daemon.pid, signal.SIGCONT)
        for sender in senders:
            sender.close()
        code = daemon.stop(timeout_s=10)
        listener.close()
    assert code == 0


_WORKER_1_KILLED_WHEN_READY = """
import os, signal, time
import sensord.workers as workers
backoff = workers.Backoff
workers.Backoff = lambda initial_s, cap_s: backoff(0.05, 0.2)  # restarts in a quick row
notified = workers.Primary._on_notify

def kill_worker_1_when_ready(self):
    notified(self)
    worker = self.workers[1]
    if worker.ready and worker.alive:  # as the OOM killer does once it has read its sensors
        time.sleep(0.1)  # (its log line "ready" follows its READY=1)
        os.kill(worker.proc.pid, signal.SIGKILL)
        # dead before the primary looks again, however long its start took: a worker killed
        # but not yet gone would count as up (longer than STABLE_AFTER_S on a loaded machine)
        os.waitid(os.P_PID, worker.proc.pid, os.WEXITED | os.WNOWAIT)

workers.Primary._on_notify = kill_worker_1_when_ready
"""


def test_a_worker_restarted_in_a_loop_logs_its_start_up_once_in_ten_restarts(
    tmp_path: Path,
) -> None:
    """Worker 1 is killed as soon as it is ready, at every start. Its first three starts log
    as any (the primary's ``worker started``, the worker's own start, its sensors' states and
    ``ready``: 6 lines here, with the primary's error line of its exit), then only every
    tenth: the others log their start-up at debug level, and leave the primary's error line
    of each exit (with its restarts in a row), ``sensord_worker_restarts_total`` and
    ``/status`` to show the loop."""
    config = _workers_config(tmp_path)
    daemon = DaemonProcess(
        ["--config", str(config), "--workers", "2"],
        tmp_path=tmp_path,
        python_prelude=_WORKER_1_KILLED_WHEN_READY,
    )
    try:
        wait_for(lambda: len(daemon.events("worker exited; restarting")) >= 12, 60, "12 restarts")
        assert daemon.scrape().value("sensord_worker_restarts_total", worker="1") >= 12
        assert daemon.status()["workers"][1]["restarts"] >= 12
    finally:
        code = daemon.stop(timeout_s=10)
    assert code == 0
    exits = daemon.events("worker exited; restarting")
    assert {e["worker"] for e in exits} == {1}
    assert 12 <= len(exits) < 20  # started at 0 to 19 restarts in a row: 10 is loud
    worker_1 = [r for r in daemon.log_records() if r.get("worker") == 1]
    loud = [r["pid"] for r in daemon.events("worker started") if r["worker"] == 1]
    assert len(loud) == 4  # at 0, 1, 2 and 10 restarts in a row
    assert {r["pid"] for r in daemon.events("sensord worker started") if r["worker"] == 1} == set(
        loud
    )
    own = sorted(
        r["msg"] for r in worker_1 if r["msg"] not in ("worker exited; restarting", "ready")
    )
    sensors = len(shard_sensors(parse_config(config.read_text()), 1, 2))
    per_start = ["sensord worker started", "worker started", *["sensor state"] * sensors]
    assert own == sorted(per_start * 4)
    assert len([r for r in worker_1 if r["msg"] == "ready"]) <= 4
    assert [e["restarts_in_row"] for e in exits] == list(range(1, len(exits) + 1))
    assert {r["level"] for r in worker_1} == {"info", "error"}


def test_a_worker_that_stays_up_after_restarts_in_a_row_is_told(tmp_path: Path) -> None:
    """Worker 1 is killed at its first four starts, and stays up at its fifth: once it has been
    up long enough to count as up again (1 s here), the primary tells the end of the loop its
    quiet starts left out of the log."""
    prelude = _WORKER_1_KILLED_WHEN_READY.replace(
        "if worker.ready and worker.alive:",
        "if worker.ready and worker.alive and worker.restarts < 4:",
    )
    daemon = DaemonProcess(
        ["--config", str(_workers_config(tmp_path)), "--workers", "2"],
        tmp_path=tmp_path,
        python_prelude=f"{prelude}\nworkers.STABLE_AFTER_S = 1.0\n",
    )
    try:
        wait_for(
            lambda: bool(daemon.events("worker up after restarts in a row")),
            30,
            "the loop's end told",
        )
        [up] = daemon.events("worker up after restarts in a row")
        assert (up["worker"], up["restarts_in_row"]) == (1, 4)
        assert daemon.status()["workers"][1]["ready"]
    finally:
        code = daemon.stop(timeout_s=10)
    assert code == 0


def _primary_of_two_sims() -> Primary:
    """A primary of two workers over two simulated sensors, s0 and s1, not started."""
    config = parse_config("".join(sensor_toml(f"s{i}", f"sim://s{i}") for i in range(2)))
    return Primary(
        config, workers=2, config_path=None, listen=None, port=None,
        log_level="info", log_format="json",
    )  # fmt: skip


def test_a_worker_answer_cut_short_leaves_only_that_worker_out(tmp_path: Path) -> None:
    """A worker that dies mid-response (or garbles it) costs the scrape its series, never the
    whole /metrics; the credential never shows in the log."""
    out = io.StringIO()
    configure_logging("info", "json", out)
    primary = _primary_of_two_sims()
    good = b'# TYPE sensord_frames_total counter\nsensord_frames_total{sensor="s0"} 3.0\n'
    answers = [
        b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(good), good),
        b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\ncut short",
        b"garbage instead of a status line\r\n\r\n",
    ]
    servers: list[socket.socket] = []
    idle = popen(["sleep", "30"])  # stands for a live worker process

    def serve(listener: socket.socket, answer: bytes) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = listener.accept()
                with conn:
                    conn.recv(65536)
                    conn.sendall(answer)

    try:
        ports = []
        for answer in answers:
            listener = socket.create_server(("127.0.0.1", 0))
            servers.append(listener)
            ports.append(listener.getsockname()[1])
            threading.Thread(target=serve, args=(listener, answer), daemon=True).start()
        for bad_port in ports[1:]:
            for worker, port in zip(primary.workers, (ports[0], bad_port), strict=True):
                worker.proc = idle
                worker.port, worker.ready, worker.last_ping = port, True, time.monotonic()
            text = primary.render_metrics(None)[0].decode()
            samples = Scrape(text)
            assert samples.value("sensord_frames_total", sensor="s0") == 3
            assert samples.value("sensord_worker_up", worker="0") == 1
            assert samples.value("sensord_worker_up", worker="1") == 0
            # /status answered too: no worker's status could be read, so each sensor is shown
            # with its worker's state
            shown = primary.status()["sensors"]
            assert set(shown) == {"s0", "s1"}
            assert {s["state"] for s in shown.values()} == {"worker not responding"}
        assert primary._secret not in out.getvalue()
    finally:
        idle.kill()
        idle.wait()
        for listener in servers:
            listener.close()
        for worker in primary.workers:
            worker.proc = None
        primary._close_loop()
        primary._listener.close()
        configure_logging("info", "json", io.StringIO())


def test_a_worker_whose_reload_did_not_apply_is_on_the_primary_s_status(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The primary checks the file and passes a reload on; each worker applies it. A worker
    for which it did not apply makes the primary's ``/status`` say so, with the worker's
    reasons (and so ``sensord status`` exit 1), where the primary's own reload succeeded."""
    primary = _primary_of_two_sims()
    answers = {
        0: {"state": "running", "sensors": {}, "config_last_reload_successful": True,
            "config_last_reload_errors": []},
        1: {"state": "running", "sensors": {}, "config_last_reload_successful": False,
            "config_last_reload_errors": ["[sensors] keeps its running settings (see the log)"]},
    }  # fmt: skip
    monkeypatch.setattr(
        primary, "_fetch", lambda worker, path: json.dumps(answers[worker.index]).encode()
    )
    try:
        status = primary.status()
        assert status["config_last_reload_successful"] is False
        assert status["config_last_reload_errors"] == [
            "worker 1: [sensors] keeps its running settings (see the log)"
        ]
        answers[1]["config_last_reload_successful"] = True
        answers[1]["config_last_reload_errors"] = []
        status = primary.status()
        assert status["config_last_reload_successful"] is True
        assert status["config_last_reload_errors"] == []
    finally:
        primary._close_loop()


def _workers_report(
    monkeypatch: pytest.MonkeyPatch, primary: Primary, reports: dict[int, dict[str, float]]
) -> None:
    """Each worker's /status and /metrics, as the primary fetches them, report the frames of
    the sensors ``reports`` gives it (two workers applying a reload at their own moments)."""

    def fetch(worker: workers.Worker, path: str, *_: Any) -> bytes:
        frames = reports[worker.index]
        if path == "/status":
            sensors = {name: {"state": "up", "frames": n} for name, n in frames.items()}
            return json.dumps({"state": "running", "sensors": sensors}).encode()
        rows = "".join(f'sensord_frames_total{{sensor="{n}"}} {v}\n' for n, v in frames.items())
        return f"# TYPE sensord_frames_total counter\n{rows}".encode()

    monkeypatch.setattr(primary, "_fetch", fetch)


def test_a_sensor_two_workers_report_is_served_once_from_the_worker_it_is_placed_on(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A reload that moves a sensor to another worker (a Modbus device to a bus of another
    worker) reaches each worker on its own: until the worker it leaves has applied it, both
    read the sensor. ``/metrics`` serves its series once, never twice in one exposition
    (which Prometheus takes as duplicates and scrape tools reject), and ``/status`` shows it
    from that worker too: the one the running configuration places it on."""
    primary = _primary_of_two_sims()
    home = shard_of("s1", 2)
    reports = {home: {"s1": 2.0}, 1 - home: {"s1": 7.0}}  # the other has not applied it yet
    if shard_of("s0", 2) == home:
        reports[home]["s0"] = 1.0
    else:
        reports[1 - home]["s0"] = 1.0
    _workers_report(monkeypatch, primary, reports)
    try:
        text = primary.render_metrics(None)[0].decode()
        assert text.count('sensord_frames_total{sensor="s1"}') == 1
        samples = Scrape(text)
        assert samples.value("sensord_frames_total", sensor="s1") == 2
        assert samples.value("sensord_frames_total", sensor="s0") == 1
        shown = primary.status()["sensors"]
        assert shown["s1"] == {"state": "up", "frames": 2, "worker": home}
        assert shown["s0"]["frames"] == 1
    finally:
        primary._close_loop()


def test_a_sensor_only_a_worker_it_is_not_placed_on_reports_is_still_served(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A reload moved a sensor to another worker, and did not apply on either (each kept its
    running settings): the worker it was to leave reads it as before, and the one it was to
    move to does not. Its series and its status are served from the worker that reads it,
    instead of being left out of both until a reload applies."""
    primary = _primary_of_two_sims()
    home = shard_of("s1", 2)
    reports: dict[int, dict[str, float]] = {home: {}, 1 - home: {"s1": 7.0}}
    _workers_report(monkeypatch, primary, reports)
    try:
        text = primary.render_metrics(None)[0].decode()
        assert text.count('sensord_frames_total{sensor="s1"}') == 1
        assert Scrape(text).value("sensord_frames_total", sensor="s1") == 7
        shown = primary.status()["sensors"]
        assert shown["s1"] == {"state": "up", "frames": 7, "worker": 1 - home}
    finally:
        primary._close_loop()


#: Workers restarted 0.05 to 0.2 s after an exit (0.5 s up to 30 s as installed), for tests of
#: what a restarted worker runs rather than of when it starts.
_QUICK_RESTARTS = """
import sensord.workers as workers
backoff = workers.Backoff
workers.Backoff = lambda initial_s, cap_s: backoff(0.05, 0.2)
"""


@pytest.mark.slow
def test_a_restarted_worker_runs_what_the_primary_validated_not_the_edited_file(
    tmp_path: Path,
) -> None:
    """A worker restarted after a crash reads the configuration the primary validated last
    (a copy), not the file: one broken since, or edited without a reload, would have made it
    fail for ever, or read a renamed sensor twice beside the other worker. The copy follows a
    reload and goes with the primary."""
    config = _workers_config(tmp_path, 4)
    daemon = DaemonProcess(
        ["--config", str(config), "--workers", "2"],
        tmp_path=tmp_path,
        python_prelude=_QUICK_RESTARTS,
    )
    try:
        daemon.wait_http()
        wait_for(lambda: all(w["ready"] for w in daemon.status()["workers"]), 15, "workers ready")
        copy = _workers_copy(daemon)
        assert copy.read_text() == config.read_text()
        assert oct(copy.parent.stat().st_mode & 0o777) == "0o700"
        names = set(daemon.status()["sensors"])
        for edit in (
            "[[sensors]]\nname = 'x'\n",  # broken, not reloaded
            # renamed, not reloaded
            "".join(sensor_toml(f"t{i}", f"sim://s{i}") for i in range(4)),
        ):
            config.write_text(edit)
            _kill_each_worker(daemon)
            status = daemon.status()
            assert set(status["sensors"]) == names
            assert {s["state"] for s in status["sensors"].values()} == {"up"}
        daemon.signal(signal.SIGHUP)  # the renamed file, valid: now it applies
        wait_for(
            lambda: set(daemon.status()["sensors"]) == {f"t{i}" for i in range(4)},
            15,
            "renamed sensors",
        )
        assert copy.read_text() == config.read_text()
    finally:
        code = daemon.stop(timeout_s=10)
    assert code == 0
    assert not copy.parent.exists()


@pytest.mark.slow
def test_a_worker_that_cannot_be_started_at_the_start_is_retried_and_ready_waits_for_it(
    tmp_path: Path,
) -> None:
    """The first start of a worker fails (its interpreter cannot be run for a moment: a
    fork refused, a virtualenv being replaced): the primary retries it with the backoff of a
    restart, serving meanwhile, and tells systemd READY=1 once every worker is ready,
    rather than ending with a traceback."""
    python = tmp_path / "python"  # absent until the test writes it
    config = _workers_config(tmp_path, 4)
    listener = NotifyListener(tmp_path)
    daemon = DaemonProcess(
        ["--config", str(config), "--workers", "2"],
        tmp_path=tmp_path,
        env={"NOTIFY_SOCKET": listener.address},
        python_prelude=f"import sys\nsys.executable = {str(python)!r}",
    )
    try:
        wait_for(
            lambda: len(daemon.events("cannot start a worker; retrying")) >= 4,
            15,
            "each worker's start failing, and retried",
        )
        failed = daemon.events("cannot start a worker; retrying")
        assert {e["worker"] for e in failed} == {0, 1}
        assert "No such file or directory" in failed[0]["error"]
        assert [w["ready"] for w in daemon.status()["workers"]] == [False, False]  # served
        assert not [m for m in listener.collect(0.2) if "READY=1" in m]
        staged = tmp_path / "python.new"
        staged.write_text(f'#!/bin/sh\nexec {sys.executable} "$@"\n')
        staged.chmod(0o755)
        staged.rename(python)
        listener.wait_for("READY=1", 45)
        assert all(w["ready"] for w in daemon.status()["workers"])
        assert daemon.alive()
    finally:
        code = daemon.stop(timeout_s=10)
        listener.close()
    assert code == 0


def test_a_primary_that_cannot_write_the_workers_copy_exits_naming_the_directory(
    tmp_path: Path,
) -> None:
    """The temporary directory is gone when the primary writes the workers' copy there (it
    was removed after Python first found it): the start fails with exit code 3 and a log
    line naming the directory and what it must be, not a traceback."""
    gone = tmp_path / "gone"
    config = _workers_config(tmp_path, 2)
    daemon = DaemonProcess(
        ["--config", str(config), "--workers", "2"],
        tmp_path=tmp_path,
        python_prelude=f"import tempfile\ntempfile.tempdir = {str(gone)!r}",
    )
    try:
        assert daemon.proc.wait(timeout=30) == EXIT_HTTP
    finally:
        daemon.kill()
    [failed] = daemon.events("cannot write the workers' copy of the configuration")
    assert failed["directory"] == str(gone)
    assert failed["error"] == "No such file or directory"
    assert "$TMPDIR" in failed["hint"]
    assert daemon.uncaught() == []
    assert not daemon.events("worker started")


#: The primary logs ``devices read heard`` with the device paths it holds as read each time a
#: worker's housekeeping (every second) has told it more.
_DEVICES_READ_HEARD = """
import structlog
import sensord.workers as workers
notified = workers.Primary._on_notify

def notified_and_logged(self):
    before = set(self._devices_read)
    notified(self)
    if self._devices_read != before:
        structlog.get_logger("test").info("devices read heard", paths=sorted(self._devices_read))

workers.Primary._on_notify = notified_and_logged
"""


def _wait_primary_heard_read(daemon: DaemonProcess, path: str) -> None:
    """Wait until a worker told the primary it read the device at ``path``."""
    wait_for(
        lambda: any(path in r["paths"] for r in daemon.events("devices read heard")),
        10,
        "the worker telling the primary the device it read",
    )


def _wait_tries_of_the_absent_device(shown: Callable[[], dict[str, Any]]) -> None:
    """Wait until the sensor ``shown`` returns the ``/status`` of has been down for longer
    than ``DEVICE_WATCH_S`` in the worker that runs it (the worker looked for absent devices
    again meanwhile), and has tried its absent device at least four times there: at its
    start, then at reopens of its backoff, jittered and at most ``DEVICE_WATCH_S`` apart
    while the path is gone (measured: the fourth 1.2 s to over 2 s after the start). The
    sensor stayed down waiting for the device at each look, never a simulation with made-up
    readings under its name."""

    def watched() -> bool:
        state = shown()
        assert not state["simulated"], state
        assert state["frames"] == 0, state
        assert state["state"] != "up", state
        return bool(state["open_failures"] >= 4 and state["state_for_s"] > DEVICE_WATCH_S)

    wait_for(watched, 10, "the absent device tried for a device watch", interval_s=0.1)


@pytest.mark.slow
def test_a_worker_restarted_while_a_device_it_read_is_unplugged_waits_for_it(
    start_daemon: StartDaemon, linked_pty: SymlinkedPty, tmp_path: Path
) -> None:
    """With simulate = "auto", a device path absent when a sensor starts is simulated; a
    device unplugged later is waited for. A worker that ends while a device it read is
    unplugged is started again by the primary: its sensor on that device waits for it too
    (down, no made-up readings under its name), and reads it when it is plugged in again."""
    link = linked_pty.link
    config = tmp_path / "sensord.toml"
    config.write_text(sensor_toml("probe", str(link)) + sensor_toml("other", "sim://other"))
    daemon = start_daemon(
        ["--config", str(config), "--workers", "2"], python_prelude=_DEVICES_READ_HEARD
    )
    home = shard_of("probe", 2)

    def probe() -> dict[str, Any]:
        shown: dict[str, Any] = daemon.status()["sensors"]["probe"]
        return shown

    def reads_device() -> bool:
        linked_pty.pty.write(b"21.5\n")
        shown = probe()
        return shown["state"] == "up" and shown["frames"] > 0 and not shown["simulated"]

    try:
        daemon.wait_http(15)  # /healthz answers 200 once every worker is ready
        wait_for(reads_device, 10, "the device read")
        _wait_primary_heard_read(daemon, str(link))  # at its housekeeping (every second)
        linked_pty.unplug(remove_link=True)
        wait_for(lambda: probe()["state"] == "down", 10, "the sensor down")
        before: int = daemon.status()["workers"][home]["pid"]
        os.kill(before, signal.SIGKILL)

        def restarted() -> bool:
            state = daemon.status()["workers"][home]
            return bool(state["ready"]) and state["pid"] != before

        wait_for(restarted, 15, "the worker restarted")
        _wait_tries_of_the_absent_device(probe)
        linked_pty.replug()
        wait_for(reads_device, 15, "the device read again")
        assert not daemon.events("device absent: simulating it")
    finally:
        code = daemon.stop(timeout_s=10)
    assert code == 0


@pytest.mark.slow
def test_a_sensor_a_reload_moves_to_another_worker_while_its_device_is_unplugged_waits_for_it(
    start_daemon: StartDaemon, linked_pty: SymlinkedPty, tmp_path: Path
) -> None:
    """A reload that renames a sensor moves it to the worker its new name places it on. With
    its device unplugged, that worker, which never read the device, waits for it as the worker
    it left would have (the primary passes the run's device paths beside the copy), and reads
    it once it is plugged in again: never a simulation under the device's sensor."""
    link = linked_pty.link
    config = tmp_path / "sensord.toml"
    config.write_text(sensor_toml("probe", str(link)) + sensor_toml("other", "sim://other"))
    daemon = start_daemon(
        ["--config", str(config), "--workers", "2"], python_prelude=_DEVICES_READ_HEARD
    )
    moved = next(
        f"probe{i}" for i in range(100) if shard_of(f"probe{i}", 2) != shard_of("probe", 2)
    )

    def shown(name: str) -> dict[str, Any]:
        state: dict[str, Any] = daemon.status()["sensors"][name]
        return state

    def reads_device(name: str) -> bool:
        linked_pty.pty.write(b"21.5\n")
        state = shown(name)
        return state["state"] == "up" and state["frames"] > 0 and not state["simulated"]

    try:
        daemon.wait_http(15)
        wait_for(lambda: reads_device("probe"), 10, "the device read")
        _wait_primary_heard_read(daemon, str(link))  # at its housekeeping (every second)
        linked_pty.unplug(remove_link=True)
        wait_for(lambda: shown("probe")["state"] == "down", 10, "the sensor down")
        config.write_text(sensor_toml(moved, str(link)) + sensor_toml("other", "sim://other"))
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: moved in daemon.status()["sensors"], 10, "the renamed sensor")
        assert shown(moved)["worker"] != shard_of("probe", 2)
        _wait_tries_of_the_absent_device(lambda: shown(moved))
        linked_pty.replug()
        wait_for(lambda: reads_device(moved), 15, "the device read again")
        assert not daemon.events("device absent: simulating it")
    finally:
        code = daemon.stop(timeout_s=10)
    assert code == 0


@pytest.mark.slow
def test_a_sensor_added_on_the_path_of_a_removed_one_while_it_is_absent_is_simulated(
    start_daemon: StartDaemon, linked_pty: SymlinkedPty, tmp_path: Path
) -> None:
    """A reload removes the sensor of a device a worker read; its device is unplugged; a later
    reload adds another sensor on that path (simulate = "auto"). A new sensor on an absent
    path is simulated, as without workers: the path is no longer among those the run read,
    neither in the worker that read it nor in the primary, so the sensor is simulated there
    and in the worker started in that one's place after it is killed, never left down
    waiting for a device nobody said was there."""
    link = linked_pty.link
    config = tmp_path / "sensord.toml"
    config.write_text(sensor_toml("probe", str(link)) + sensor_toml("other", "sim://other"))
    daemon = start_daemon(
        ["--config", str(config), "--workers", "2"], python_prelude=_DEVICES_READ_HEARD
    )
    home = shard_of("probe", 2)
    newcomer = next(f"new{i}" for i in range(100) if shard_of(f"new{i}", 2) == home)

    def shown(name: str) -> dict[str, Any]:
        state: dict[str, Any] = daemon.status()["sensors"].get(name, {})
        return state

    def reads_device() -> bool:
        linked_pty.pty.write(b"21.5\n")
        state = shown("probe")
        return state["state"] == "up" and state["frames"] > 0 and not state["simulated"]

    def simulated() -> bool:
        state = shown(newcomer)
        return bool(state.get("simulated")) and state["frames"] > 0

    try:
        daemon.wait_http(15)
        wait_for(reads_device, 10, "the device read")
        _wait_primary_heard_read(daemon, str(link))  # at its housekeeping (every second)
        config.write_text(sensor_toml("other", "sim://other"))
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: not shown("probe"), 10, "the sensor removed")
        linked_pty.unplug(remove_link=True)
        config.write_text(sensor_toml(newcomer, str(link)) + sensor_toml("other", "sim://other"))
        daemon.signal(signal.SIGHUP)
        wait_for(simulated, 10, "the sensor added on the absent path simulated")
        before: int = daemon.status()["workers"][home]["pid"]
        os.kill(before, signal.SIGKILL)

        def restarted() -> bool:
            state = daemon.status()["workers"][home]
            return bool(state["ready"]) and state["pid"] != before

        wait_for(restarted, 15, "the worker restarted")
        wait_for(simulated, 10, "the sensor simulated in the restarted worker")
    finally:
        code = daemon.stop(timeout_s=10)
    assert code == 0


def _kill_each_worker(daemon: DaemonProcess) -> None:
    """SIGKILL each of two workers in turn, and wait until the primary has it restarted."""
    for worker in (0, 1):
        before: int = daemon.status()["workers"][worker]["pid"]
        os.kill(before, signal.SIGKILL)

        def restarted(w: int = worker, b: int = before) -> bool:
            state = daemon.status()["workers"][w]
            return bool(state["ready"]) and state["pid"] != b

        wait_for(restarted, 15, f"worker {worker} restarted and ready")


def _workers_on_own_tmp(
    tmp_path: Path, python_prelude: str | None = None
) -> tuple[Path, Path, DaemonProcess]:
    """A daemon with two workers over four sensors whose temporary directory is its own
    (``tmp_path / "tmp"``), started and its workers ready: that directory, the configuration
    file and the daemon (stop it when done)."""
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    config = _workers_config(tmp_path, 4)
    daemon = DaemonProcess(
        ["--config", str(config), "--workers", "2"],
        tmp_path=tmp_path,
        env={"TMPDIR": str(tmp)},
        python_prelude=python_prelude,
    )
    try:
        daemon.wait_http()
        wait_for(lambda: all(w["ready"] for w in daemon.status()["workers"]), 15, "workers ready")
    except BaseException:
        daemon.stop(timeout_s=10)
        raise
    return tmp, config, daemon


def _workers_copy(daemon: DaemonProcess) -> Path:
    """The workers' copy of the configuration, as the primary logged it."""
    event = daemon.events("workers read the configuration as validated, from a copy")[0]
    return Path(event["copy"])


def test_a_worker_restarts_after_the_temporary_directory_s_cleanup_removed_the_copy(
    tmp_path: Path,
) -> None:
    """The copy sits in the temporary directory, whose cleanup (systemd-tmpfiles ages /tmp's
    files, a service's PrivateTmp= ones too, 10 days on many distributions) may remove it,
    and its directory, while the workers run: a worker that crashes after that is started
    on a copy written again, not left failing for good on a file that is gone."""
    tmp, config, daemon = _workers_on_own_tmp(tmp_path, _QUICK_RESTARTS)
    try:
        copy = _workers_copy(daemon)
        names = set(daemon.status()["sensors"])
        for removed in (copy, copy.parent):
            shutil.rmtree(removed) if removed.is_dir() else removed.unlink()
            config.write_text("[[sensors]]\nname = 'x'\n")  # edited since: not what runs
            _kill_each_worker(daemon)
            assert set(daemon.status()["sensors"]) == names
        copies = list(tmp.iterdir())
        assert len(copies) == 1
        assert oct(copies[0].stat().st_mode & 0o777) == "0o700"
    finally:
        code = daemon.stop(timeout_s=10)
    assert code == 0
    assert not list(tmp.iterdir())


def _primary_with_copy(tmp_path: Path, text: str) -> Primary:
    """A primary whose copy of ``text`` sits in ``tmp_path / "tmp"``, as ``start`` writes it."""
    path = tmp_path / "sensord.toml"
    path.write_text(text)
    primary = Primary(
        parse_config(text), workers=2, config_path=path, config_text=text, listen=None,
        port=None, log_level="info", log_format="json",
    )  # fmt: skip
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    primary._snapshot = workers_copy.make_copy_folder(tmp) / path.name
    primary._write_snapshot()
    return primary


def test_a_reload_after_the_temporary_directory_s_cleanup_writes_the_copy_where_workers_read_it(
    tmp_path: Path,
) -> None:
    """A cleanup of the temporary directory removed the copy and its directory: a reload
    writes it again at its own path, which the running workers read at SIGHUP (they were
    started with it), instead of failing on the directory that is gone."""
    text = "".join(sensor_toml(f"s{i}", f"sim://s{i}") for i in range(2))
    primary = _primary_with_copy(tmp_path, text)
    try:
        copy = primary._snapshot
        assert copy is not None
        shutil.rmtree(copy.parent)
        new = "".join(sensor_toml(f"t{i}", f"sim://s{i}") for i in range(2))
        primary._loaded_text = new
        assert primary.apply(parse_config(new)) == []
        assert primary._snapshot == copy
        assert copy.read_text() == new
        assert oct(copy.parent.stat().st_mode & 0o777) == "0o700"
        # a worker that crashes after another cleanup starts on that same path
        shutil.rmtree(copy.parent)
        primary._restore_snapshot()
        assert primary._snapshot == copy
        assert copy.read_text() == new
    finally:
        primary._remove_snapshot()
        primary._close_loop()
        primary._listener.close()


def test_a_copy_whose_name_another_took_is_written_anew_and_its_readers_restarted(
    tmp_path: Path,
) -> None:
    """The copy's directory is gone and something else holds its name now (another user's
    directory, a file): the copy goes to a new directory, never into that, and a reload
    restarts the workers that run on the old path rather than have them read what is there."""
    text = "".join(sensor_toml(f"s{i}", f"sim://s{i}") for i in range(2))
    primary = _primary_with_copy(tmp_path, text)
    idle = popen(["sleep", "30"])  # stands for a live worker process
    try:
        copy = primary._snapshot
        assert copy is not None
        for worker in primary.workers:
            worker.proc, worker.ready, worker.copy = idle, True, copy
        shutil.rmtree(copy.parent)
        copy.parent.write_text("not ours")
        primary._loaded_text = text
        assert primary.apply(parse_config(text)) == []
        assert primary._snapshot is not None
        assert primary._snapshot.parent != copy.parent
        assert primary._snapshot.read_text() == text
        assert copy.parent.read_text() == "not ours"
        assert idle.wait(timeout=5) == -signal.SIGTERM  # not SIGHUP: restarted on the new copy
    finally:
        idle.kill()
        idle.wait()
        for worker in primary.workers:
            worker.proc = None
        primary._remove_snapshot()
        primary._close_loop()
        primary._listener.close()


@pytest.mark.slow
def test_workers_moved_to_a_new_copy_are_not_counted_as_restarts(tmp_path: Path) -> None:
    """A reload that finds the copy's directory gone and its name taken stops the workers to
    start them on a new copy: logged as that, started again at once, and neither counted as
    restarts nor backed off as crashes are."""
    _, _, daemon = _workers_on_own_tmp(tmp_path)
    try:
        copy = _workers_copy(daemon)
        pids = [w["pid"] for w in daemon.status()["workers"]]
        shutil.rmtree(copy.parent)
        copy.parent.write_text("not ours")
        daemon.signal(signal.SIGHUP)

        def moved() -> bool:
            shown = daemon.status()["workers"]
            return all(w["ready"] and w["pid"] not in pids for w in shown)

        wait_for(moved, 15, "both workers started again on the new copy")
        assert [w["restarts"] for w in daemon.status()["workers"]] == [0, 0]
        scrape = daemon.scrape()
        assert [scrape.get("sensord_worker_restarts_total", -1, worker=w) for w in "01"] == [0, 0]
        assert not daemon.events("worker exited; restarting")
        started = daemon.events(
            "worker stopped to read the new copy of the configuration; starting it"
        )
        assert sorted(e["worker"] for e in started) == [0, 1]
        assert copy.parent.read_text() == "not ours"
    finally:
        code = daemon.stop(timeout_s=10)
    assert code == 0


def test_a_reload_whose_copy_cannot_be_written_leaves_a_restarted_worker_on_the_running_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The workers' copy cannot be written at a reload (the temporary directory full): the
    reload fails and the workers run on as they were, and a worker restarted later (a crash)
    is started on the configuration that runs, never on the one that failed to apply."""
    text = "".join(sensor_toml(f"s{i}", f"sim://s{i}") for i in range(2))
    primary = _primary_with_copy(tmp_path, text)
    try:
        copy = primary._snapshot
        assert copy is not None
        assert primary.config_path is not None
        new = "".join(sensor_toml(f"t{i}", f"sim://s{i}") for i in range(2))
        primary.config_path.write_text(new)
        write = primary._write_snapshot

        def full() -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(primary, "_write_snapshot", full)
        assert primary.reload() is False
        assert [s.name for s in primary.config.sensors] == ["s0", "s1"]
        monkeypatch.setattr(primary, "_write_snapshot", write)
        primary._restore_snapshot()  # as a worker's restart writes it
        assert copy.read_text() == text
    finally:
        primary._remove_snapshot()
        primary._close_loop()
        primary._listener.close()


def test_workers_beyond_two_per_cpu_are_a_usage_error(tmp_path: Path) -> None:
    too_many = 2 * (os.cpu_count() or 1) + 1
    result = subprocess.run(
        [sys.executable, "-m", "sensord", "run", "--workers", str(too_many)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert result.stderr.startswith(f"sensord: --workers {too_many} is more than {too_many - 1}")


@pytest.mark.slow
def test_a_capture_from_a_worker_that_cannot_answer_says_which_worker_and_why(
    tmp_path: Path,
) -> None:
    """``sensord capture`` of a configured sensor whose worker is stopped answers 503 naming
    the worker and its state (it said "no such sensor"); once the worker is back, the
    capture comes."""
    config = _workers_config(tmp_path)
    daemon = DaemonProcess(["--config", str(config), "--workers", "2"], tmp_path=tmp_path)
    try:
        daemon.wait_http()
        wait_for(lambda: all(w["ready"] for w in daemon.status()["workers"]), 15, "workers ready")
        status = daemon.status()
        victim = next(n for n, s in status["sensors"].items() if s["worker"] == 1)
        pid = status["workers"][1]["pid"]
        capture = [sys.executable, "-m", "sensord", "capture", victim, "--url", daemon.base_url]
        os.kill(pid, signal.SIGSTOP)
        try:
            result = subprocess.run(
                [*capture, "-o", str(tmp_path / "x.cap")],
                capture_output=True,
                text=True,
                timeout=60,
                check=False,
            )
        finally:
            os.kill(pid, signal.SIGCONT)
        assert result.returncode == 1
        assert (
            f"HTTP 503 sensor {victim!r} is read by worker 1, which is not responding: try "
            "again once it is ready ('sensord status' shows the workers)"
        ) in result.stderr
        assert "no such sensor" not in result.stderr
        assert not (tmp_path / "x.cap").exists()
        wait_for(lambda: daemon.status()["workers"][1]["responding"], 15, "worker 1 back")
        out = tmp_path / "y.cap"
        done = subprocess.run(
            [*capture, "-o", str(out)], capture_output=True, text=True, timeout=60, check=False
        )
        assert done.returncode == 0, done.stderr
        assert out.read_bytes().startswith(b"sensord-capture")
    finally:
        code = daemon.stop(timeout_s=10)
    assert code == 0


def test_sigusr1_names_the_sensors_of_workers_it_could_not_reach() -> None:
    """SIGUSR1 goes to ready workers only; the sensors of the others write no capture, and
    the primary's log says which (it said it was forwarded to every worker)."""
    out = io.StringIO()
    configure_logging("info", "json", out)
    with primary_of(6) as (config, primary, live):
        primary.workers[0].proc, primary.workers[0].ready = live, True
        primary.write_captures()  # worker 1 never started: down
        records = [json.loads(line) for line in out.getvalue().splitlines()]
        forwarded = next(r for r in records if r["msg"].startswith("capture request forwarded"))
        assert forwarded["workers"] == 1
        skipped = next(r for r in records if r["msg"].startswith("capture request not"))
        assert skipped["level"] == "warning"
        assert skipped["workers"] == {"1": "down"}
        assert skipped["sensors"] == [s.name for s in shard_sensors(config, 1, 2)]
        assert skipped["sensors"]


def test_a_capture_a_ready_worker_refuses_is_told_with_the_worker_s_answer() -> None:
    """A ready, pinging worker that answers the capture with an error (404 while a reload
    moves the sensor, 500): the primary passes its answer on, not "not responding"."""

    class Refusing(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(404)
            self.end_headers()
            self.wfile.write(b"no such sensor\n")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        with primary_of(2) as (config, primary, live):
            worker = primary.workers[shard_of(shard_key(config.sensors[0]), 2)]
            worker.proc, worker.port, worker.ready = live, server.server_address[1], True
            worker.last_ping = time.monotonic()
            with pytest.raises(CaptureUnavailableError) as refused:
                primary.capture_file("s0")
            assert str(refused.value) == (
                f"sensor 's0' is read by worker {worker.index}, which answered 404 no such "
                "sensor (a reload may be under way there: try again)"
            )
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def primary_of(sensors: int) -> Iterator[tuple[Config, Primary, subprocess.Popen[bytes]]]:
    """A primary of two workers over ``sensors`` simulated sensors, in this process and not
    started, with a process that stands for a live worker; everything closed after, and the
    log configured back to its default."""
    config = parse_config("".join(sensor_toml(f"s{i}", f"sim://s{i}") for i in range(sensors)))
    primary = Primary(
        config, workers=2, config_path=None, listen=None, port=None,
        log_level="info", log_format="json",
    )  # fmt: skip
    live = popen(["sleep", "30"])
    try:
        yield config, primary, live
    finally:
        live.kill()
        live.wait()
        for worker in primary.workers:
            worker.proc = None
        primary._close_loop()
        primary._listener.close()
        configure_logging("info", "json", io.StringIO())
