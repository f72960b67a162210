"""``sensord run --workers N``: sharding, merged /metrics, supervision, signals."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from daemonutil import DaemonProcess, NotifyListener, parse_metrics, sensor_toml, wait_for

from sensord.demo import demo_config
from sensord.metrics import merge_expositions, render_families
from sensord.workers import shard_config, shard_of


def test_shards_partition_the_sensors_stably() -> None:
    config = demo_config()
    names = [s.name for s in config.sensors]
    shards = [shard_config(config, i, 3) for i in range(3)]
    seen = [s.name for shard in shards for s in shard.sensors]
    assert sorted(seen) == sorted(names)
    for i, shard in enumerate(shards):
        assert all(shard_of(s.name, 3) == i for s in shard.sensors)
        assert shard.http == config.http
    assert config.sensors == demo_config().sensors  # the original is untouched


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
    samples = parse_metrics(text)
    assert samples['process_open_fds{worker="0"}'] == 7
    assert samples['process_open_fds{worker="1"}'] == 9
    assert samples['sensord_frames_total{sensor="a"}'] == 5
    assert samples['sensord_frames_total{sensor="b"}'] == 5
    assert samples['sensord_build_info{version="1"}'] == 1
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
            m = daemon.metrics()
            return all(m.get(f'sensord_frames_total{{sensor="{n}"}}', 0) > 0 for n in names)

        wait_for(every_sensor_reads, 10, "frames from every sensor")
        text = daemon.metrics_text()
        promtool = shutil.which("promtool")
        assert promtool
        check = subprocess.run(
            [promtool, "check", "metrics"], input=text, capture_output=True, text=True, check=False
        )
        assert check.returncode == 0, check.stdout + check.stderr
        samples = parse_metrics(text)
        assert samples['sensord_worker_up{worker="0"}'] == 1
        assert samples['sensord_worker_up{worker="1"}'] == 1
        assert 'process_resident_memory_bytes{worker="1"}' in samples
        status = daemon.status()
        assert set(status["sensors"]) == set(names)
        assert {s["worker"] for s in status["sensors"].values()} == {0, 1}
        listener.wait_for("WATCHDOG=1", 5)

        victim = status["workers"][1]["pid"]
        os.kill(victim, signal.SIGKILL)
        wait_for(
            lambda: daemon.metrics().get('sensord_worker_restarts_total{worker="1"}', 0) == 1,
            10,
            "worker 1 restarted",
        )
        wait_for(lambda: daemon.status()["workers"][1]["ready"], 10, "worker 1 ready again")
        assert daemon.status()["workers"][1]["pid"] != victim

        # SIGHUP: an invalid file stays in the primary; a valid one reaches the workers
        config.write_text("[[sensors]]\nname = 'x'\n")
        daemon.signal(signal.SIGHUP)
        wait_for(
            lambda: daemon.metrics()["sensord_config_last_reload_successful"] == 0,
            5,
            "reload rejected",
        )
        config.write_text("".join(sensor_toml(n, f"sim://{n}") for n in [*names, "added"]))
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: "added" in daemon.status()["sensors"], 10, "added sensor")
        assert daemon.metrics()["sensord_config_last_reload_successful"] == 1
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


def test_workers_stop_when_the_primary_is_killed(tmp_path: Path) -> None:
    config = _workers_config(tmp_path)
    daemon = DaemonProcess(["--config", str(config), "--workers", "2"], tmp_path=tmp_path)
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
    finally:
        daemon.kill()


def test_a_hung_worker_withholds_the_watchdog_and_fails_healthz(tmp_path: Path) -> None:
    config = _workers_config(tmp_path)
    listener = NotifyListener(tmp_path)
    daemon = DaemonProcess(
        ["--config", str(config), "--workers", "2"],
        tmp_path=tmp_path,
        env={"NOTIFY_SOCKET": listener.address, "WATCHDOG_USEC": "1000000"},
    )
    victim = 0
    try:
        listener.wait_for("READY=1", 15)
        daemon.wait_http()
        listener.wait_for("WATCHDOG=1", 5)
        victim = daemon.status()["workers"][0]["pid"]
        os.kill(victim, signal.SIGSTOP)
        stopped_at = time.monotonic()
        # the primary pings every 0.5 s and gives a worker 2 x 0.5 + 1 s to ping it
        listener.collect(4.0)
        pings = [at for at, m in listener.messages if "WATCHDOG=1" in m and at > stopped_at]
        assert pings, "the primary stopped pinging before the worker's grace time"
        assert max(pings) - stopped_at < 2.8, "the primary kept pinging for a hung worker"
        assert daemon.get("/healthz")[0] == 503
        assert daemon.metrics()['sensord_worker_up{worker="0"}'] == 0
        assert daemon.events("worker watchdog missed; withholding the ping")
        status = daemon.status()
        assert status["state"] == "degraded"
        assert [w["responding"] for w in status["workers"]] == [False, True]

        os.kill(victim, signal.SIGCONT)
        resumed = len(listener.messages)
        wait_for(
            lambda: any("WATCHDOG=1" in m for m in listener.collect(0.2)[resumed:]),
            5,
            "watchdog pings after the worker continued",
        )
        assert daemon.get("/healthz")[0] == 200
        assert daemon.metrics()['sensord_worker_up{worker="0"}'] == 1
        assert daemon.status()["state"] == "running"
    finally:
        if victim:
            os.kill(victim, signal.SIGCONT)
        code = daemon.stop(timeout_s=10)
        listener.close()
    assert code == 0
