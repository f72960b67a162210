"""Shared fixtures, built on the harness (tests/harness/)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import structlog
from harness.daemon import DaemonProcess, StartDaemon
from harness.notify import NotifyListener
from harness.pty import PtyPair, SymlinkedPty
from harness.spawn import Owner
from hypothesis import settings

from sensord.reader import IDLE_HOUSEKEEPING_INTERVAL_S
from sensord.sources import serial_errors

# No deadline for a property test's examples: Hypothesis fails an example that takes over
# 200 ms, and on a loaded machine (CI runs the suite on two cores, every test under load) a
# process stalled that long fails a sub-millisecond example. What a property test shows is
# what its examples assert; a test that is about speed measures it itself.
# Examples are drawn afresh at each run, in CI too, so a run may find a counterexample no run
# found before: its report then carries the ``@reproduce_failure`` blob that replays it.
settings.register_profile("sensord", deadline=None, print_blob=True)
settings.load_profile("sensord")


#: How long the processes a session started may take to end once it is over: the workers of a
#: ``--workers`` daemon that was killed see that their primary is gone at their loop's next
#: housekeeping, which an idle worker runs every ``IDLE_HOUSEKEEPING_INTERVAL_S``. A session
#: whose processes are none of these (tests/test_harness_processes.py's run of a test that
#: leaves ``sleep 600``) sets a shorter wait in ``SENSORD_TEST_LEFT_RUNNING_S``.
LEFT_RUNNING_S = float(
    os.environ.get("SENSORD_TEST_LEFT_RUNNING_S", 2 * IDLE_HOUSEKEEPING_INTERVAL_S)
)


@pytest.fixture(scope="session", autouse=True)
def _no_process_left() -> Iterator[None]:
    """Every process the session started from this pytest process is gone at its end: one
    still running after ``LEFT_RUNNING_S`` fails the run (an error at the teardown of the
    process's last test), named by its command line, and is killed. Should the pytest process
    die instead, its guardian kills them (``harness.spawn``)."""
    owner = Owner()
    yield
    left = owner.leftovers(within_s=LEFT_RUNNING_S)
    owner.close()
    if left:
        listed = "\n".join(f"  {leftover}" for leftover in left)
        pytest.fail(
            f"{len(left)} process(es) started by this session still ran at its end "
            f"({LEFT_RUNNING_S} s after it; killed now):\n{listed}",
            pytrace=False,
        )


@pytest.fixture(autouse=True)
def _structlog_defaults(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every test starts from structlog's defaults: a command run in-process (``main``)
    configures logging for the whole process, which would filter the next test's events.
    Nor does a test's configuration cache loggers: ``sensord.log.configure`` has structlog
    cache a module's logger on its first use, and no reset undoes that, so a module logger
    first used while it was in force (a ``SensorRuntime`` built after ``main`` in the same
    test) would keep that command's level and stream for the rest of the worker process, and
    every later test's ``capture_logs`` would miss its events."""
    configure = structlog.configure

    def uncached(**settings: Any) -> None:
        configure(**{**settings, "cache_logger_on_first_use": False})

    monkeypatch.setattr(structlog, "configure", uncached)
    yield
    structlog.reset_defaults()


@pytest.fixture(autouse=True)
def _rfc2217_urls_forgotten() -> None:
    """Each test's RFC 2217 servers are new ones: a URL an earlier test's server negotiated
    at (its port taken again since) is not taken for a server that negotiated before."""
    serial_errors.NEGOTIATED.clear()


@pytest.fixture
def start_daemon(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[StartDaemon]:
    """Starts ``DaemonProcess(args, tmp_path=tmp_path, **kw)``; every daemon it started is
    killed (with its process group) when the test ends, whatever the test did, before the
    test's ``pty_pair`` or ``linked_pty`` is closed: a daemon still running would reopen the
    pty's path, whose number another test's new pty may have got by then, and hold that pty
    (see ``harness.pty.pty_at_path``)."""
    for made_before in ("pty_pair", "linked_pty"):  # and so closed after the daemons
        if made_before in request.fixturenames:
            request.getfixturevalue(made_before)
    started: list[DaemonProcess] = []

    def start(args: tuple[str, ...] | list[str] = (), **kw: Any) -> DaemonProcess:
        daemon = DaemonProcess(args, tmp_path=tmp_path, **kw)
        started.append(daemon)
        return daemon

    yield start
    for daemon in started:
        daemon.kill()


@pytest.fixture
def pty_pair() -> Iterator[PtyPair]:
    """A pseudo-terminal: ``path`` is the port, the master end the device."""
    with PtyPair() as pair:
        yield pair


@pytest.fixture
def linked_pty(tmp_path: Path) -> Iterator[SymlinkedPty]:
    """A pty behind a stable link ``tmp_path/ttySENSOR`` that can be unplugged and replugged."""
    linked = SymlinkedPty(tmp_path / "ttySENSOR")
    try:
        yield linked
    finally:
        linked.close()


@pytest.fixture
def notify_listener(tmp_path: Path) -> Iterator[NotifyListener]:
    """A ``NOTIFY_SOCKET`` at ``tmp_path/notify.sock``."""
    listener = NotifyListener(tmp_path)
    try:
        yield listener
    finally:
        listener.close()
