"""``sensord run --workers N``: sharding, merged /metrics, supervision, signals."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
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
