"""An upgrade in place: pip replaces sensord's files while the old daemon runs.

The daemon runs with a site directory of its own ahead on its path, holding sensord's
installed metadata (``sensord-*.dist-info``: what pip writes last when it installs); a test
"upgrades" it by rewriting that metadata, as pip does, while the process runs the code it
imported at its start. Whatever it imports or starts after that would come from the new
files: it must refuse, say why, and show it on ``/status``.
"""

from __future__ import annotations

import os
import signal
import time
from importlib import metadata
from pathlib import Path

import pytest
from harness.common import REPO, wait_for
from harness.config import SIM_METER_TOML, sensor_toml
from harness.daemon import DaemonProcess, StartDaemon

from sensord import __version__
from sensord.build import SHOWN_MAX_AGE_S, Build, BuildWatch, installed_build


class Site:
    """A site directory with sensord's metadata as pip installed it, and the upgrades of it."""

    def __init__(self, root: Path) -> None:
        self.root = root
        installed = metadata.distribution("sensord")
        # an egg-info (a source tree built in place) has PKG-INFO, of the same form
        self.metadata_text = (
            installed.read_text("METADATA") or installed.read_text("PKG-INFO") or ""
        )
        self.info = root / f"sensord-{__version__}.dist-info"
        self.info.mkdir(parents=True)
        self.install(__version__, "sensord/__init__.py,sha256=first,1\n")

    def install(self, version: str, record: str) -> None:
        """Write the metadata of ``version`` with ``record`` as its list of files."""
        text = self.metadata_text.replace(f"\nVersion: {__version__}\n", f"\nVersion: {version}\n")
        (self.info / "METADATA").write_text(text)
        (self.info / "RECORD").write_text(record)

    def add(self, name: str, version: str) -> None:
        """Install another distribution's metadata (a dependency pip changed)."""
        info = self.root / f"{name}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        (info / "RECORD").write_text(f"{name}/__init__.py,sha256=x,1\n")

    @property
    def cwd(self) -> Path:
        """The daemon's working directory: not the source tree, whose ``sensord.egg-info`` (left
        by a build in place) ``python -m`` would find first, ahead of this site."""
        return self.root.parent

    @property
    def env(self) -> dict[str, str]:
        """The daemon's environment: this site ahead of the tree it runs from."""
        return {"PYTHONPATH": os.pathsep.join([str(self.root), str(REPO)])}


@pytest.fixture
def site(tmp_path: Path) -> Site:
    return Site(tmp_path / "site")


# -- the build read from disk --------------------------------------------------------------------
def test_the_build_names_sensord_and_its_runtime_requirements(site: Site) -> None:
    build = installed_build(path=[str(site.root)])
    # the dependencies are not in this directory: absent, and not the test extras
    assert build.versions == {
        "sensord": __version__,
        "pyserial": "absent",
        "prometheus-client": "absent",
        "structlog": "absent",
        "pymodbus": "absent",
    }
    assert installed_build().versions["pymodbus"] == metadata.version("pymodbus")


def test_each_change_pip_makes_is_a_difference_with_its_own_message(site: Site) -> None:
    path = [str(site.root)]
    watch = BuildWatch(lambda: installed_build(path=path))
    assert watch.differs() is None

    site.install(__version__, "sensord/__init__.py,sha256=second,1\n")
    same_version = watch.differs()
    assert same_version is not None
    assert watch.running.restart_message(same_version) == (
        f"sensord {__version__} was reinstalled with other files: "
        "restart it: systemctl restart sensord"
    )

    site.install(__version__, "sensord/__init__.py,sha256=first,1\n")
    assert watch.differs() is None  # the same files again
    site.add("pymodbus", "3.15.0")
    dependency = watch.differs()
    assert dependency is not None
    assert watch.running.restart_message(dependency) == (
        f"sensord {__version__} on disk now runs with pymodbus 3.15.0: "
        "restart it: systemctl restart sensord"
    )
    assert watch.running.changes(dependency) == {"pymodbus": "absent -> 3.15.0"}

    site.install("9.9.9", "sensord/__init__.py,sha256=third,1\n")
    newer = watch.differs()
    assert newer is not None
    assert watch.running.restart_message(newer) == (
        f"sensord 9.9.9 on disk differs from the running {__version__}: "
        "restart it: systemctl restart sensord"
    )


def test_a_package_pip_has_removed_reads_as_absent(site: Site) -> None:
    watch = BuildWatch(lambda: installed_build(path=[str(site.root)]))
    for path in site.info.iterdir():
        path.unlink()
    site.info.rmdir()
    installed = watch.differs()
    assert isinstance(installed, Build)
    assert installed.version == "absent"


def test_the_current_directory_is_not_where_the_running_package_is_found(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``python -m sensord`` (a worker, as its primary starts it) puts the current directory
    first on its path, the ``sensord`` console script (the primary) does not: started in a
    source tree, which holds the egg-info a build in place leaves, each would find another
    distribution, and every worker start was refused as an upgrade."""
    info = tmp_path / "sensord.egg-info"
    info.mkdir()
    (info / "PKG-INFO").write_text("Metadata-Version: 2.1\nName: sensord\nVersion: 9.9.9\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    assert installed_build().version == __version__


def test_what_scrapes_show_is_read_from_disk_at_most_once_a_minute(site: Site) -> None:
    """/metrics and /status ask at each scrape; reading the build costs milliseconds."""
    reads: list[Build] = []
    now = [0.0]

    def read() -> Build:
        reads.append(installed_build(path=[str(site.root)]))
        return reads[-1]

    watch = BuildWatch(read, clock=lambda: now[0])
    site.install("9.9.9", "sensord/__init__.py,sha256=upgraded,1\n")
    now[0] = SHOWN_MAX_AGE_S - 1
    assert watch.shown().version == __version__  # as read at the start
    assert len(reads) == 1
    now[0] = SHOWN_MAX_AGE_S
    assert watch.shown().version == "9.9.9"
    assert watch.shown().version == "9.9.9"
    assert len(reads) == 2
    # a reload's check reads afresh, and what it read is shown
    site.install("9.9.10", "sensord/__init__.py,sha256=again,1\n")
    assert watch.differs() is not None
    assert watch.shown().version == "9.9.10"
    assert len(reads) == 3


# -- the running daemon ----------------------------------------------------------------------------
def test_a_reload_after_an_upgrade_on_disk_is_refused_and_status_says_so(
    start_daemon: StartDaemon, site: Site
) -> None:
    daemon = start_daemon(config=sensor_toml("temp", "sim://temp"), env=site.env, cwd=site.cwd)
    daemon.wait_http()
    status = daemon.status()
    assert (status["version"], status["installed_version"]) == (__version__, __version__)
    assert status["restart_needed"] is False
    assert daemon.scrape().value("sensord_restart_needed") == 0

    site.install("9.9.9", "sensord/__init__.py,sha256=upgraded,1\n")
    # a reload would load pymodbus from the new files for the added Modbus device
    assert daemon.config_path is not None
    daemon.config_path.write_text(sensor_toml("temp", "sim://temp") + SIM_METER_TOML)
    # the refusal is logged before the reload's outcome is set: /status is read once the
    # reload is counted
    daemon.reload_by_signal()
    wait_for(
        lambda: bool(daemon.events("reload refused; keeping the running configuration")),
        10,
        "the reload refused",
    )
    (refused,) = daemon.events("reload refused; keeping the running configuration")
    assert refused["level"] == "error"
    assert refused["reason"] == (
        f"sensord 9.9.9 on disk differs from the running {__version__}: "
        "restart it: systemctl restart sensord"
    )
    assert refused["changed"] == {"sensord": f"{__version__} -> 9.9.9"}
    status = daemon.status()
    assert set(status["sensors"]) == {"temp"}
    assert status["config_last_reload_successful"] is False
    # the running version still shows, with the one a restart would run (read again by the
    # reload; /status and /metrics show what was read at most SHOWN_MAX_AGE_S ago)
    assert (status["version"], status["installed_version"]) == (__version__, "9.9.9")
    assert status["restart_needed"] is True
    assert daemon.scrape().value("sensord_restart_needed") == 1
    assert daemon.scrape().value("sensord_config_last_reload_successful") == 0
    assert daemon.alive()
    assert daemon.stop() == 0


def test_a_worker_that_imported_another_package_than_its_primary_stops(
    start_daemon: StartDaemon, site: Site
) -> None:
    """pip replaced the files between the primary's look at them and the worker's imports."""
    other = {"SENSORD_PRIMARY_BUILD": "0" * 64}
    daemon = start_daemon(
        ["--shard", "0/1"],
        config=sensor_toml("temp", "sim://temp"),
        env={**site.env, **other},
        cwd=site.cwd,
    )
    assert daemon.proc.wait(15) == 4
    (stopped,) = daemon.events(
        "worker not started: the package on disk is not the one its primary runs"
    )
    assert stopped["hint"] == "restart it: systemctl restart sensord"
    assert stopped["installed"].startswith(f"sensord {__version__}, pyserial ")
    assert not daemon.events("sensord worker started")


@pytest.mark.slow
def test_a_dead_worker_is_not_restarted_from_an_upgrade_on_disk(tmp_path: Path, site: Site) -> None:
    names = [f"s{i}" for i in range(6)]
    config = "".join(sensor_toml(n, f"sim://{n}") for n in names)
    daemon = DaemonProcess(
        ["--workers", "2"],
        tmp_path=tmp_path,
        config=config,
        env=site.env,
        cwd=site.cwd,
        new_session=True,
    )
    try:
        daemon.wait_http(15)
        wait_for(lambda: all(w["ready"] for w in daemon.status()["workers"]), 15, "workers ready")
        status = daemon.status()
        on_worker_1 = {n for n, s in status["sensors"].items() if s["worker"] == 1}
        assert on_worker_1
        victim = status["workers"][1]["pid"]

        site.install("9.9.9", "sensord/__init__.py,sha256=upgraded,1\n")
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: bool(daemon.events("worker not restarted")), 10, "the restart refused")
        time.sleep(1.5)  # past the first retries of its backoff
        (refused,) = daemon.events("worker not restarted")  # logged once
        assert refused["worker"] == 1
        assert refused["reason"] == (
            f"sensord 9.9.9 on disk differs from the running {__version__}: "
            "restart it: systemctl restart sensord"
        )
        assert [r["worker"] for r in daemon.events("worker started")] == [0, 1]
        status = daemon.status()
        assert status["restart_needed"] is True
        restart = [s for s in daemon.scrape().samples if s.name == "sensord_restart_needed"]
        assert [(s.labels, s.value) for s in restart] == [({}, 1)]  # the primary's, once
        assert status["state"] == "degraded"
        worker = status["workers"][1]
        assert (worker["pid"], worker["ready"], worker["restart_refused"]) == (None, False, True)
        for name in on_worker_1:  # still listed, with the reason they are not read
            assert status["sensors"][name]["state"] == "worker not restarted: restart needed"
        assert daemon.get("/healthz")[0] == 503

        # the running package put back: the worker starts again
        site.install(__version__, "sensord/__init__.py,sha256=first,1\n")
        wait_for(lambda: daemon.status()["workers"][1]["ready"], 60, "worker 1 ready again")
        assert daemon.status()["restart_needed"] is False
        assert daemon.scrape().value("sensord_restart_needed") == 0
        assert daemon.stop() == 0
    finally:
        daemon.kill()
