"""The notifications the daemon and the ``--workers`` primary send systemd while its queue is
full (a stalled service manager refuses them) arrive once it drains: the start's READY=1,
which systemd waits for until TimeoutStartSec= and then kills the unit, and a reload's, without
which the unit stays ``reloading``."""

from __future__ import annotations

import signal
import socket
from collections.abc import Callable
from pathlib import Path

import pytest
from harness.common import wait_for
from harness.config import sensor_toml, write_atomically
from harness.daemon import DaemonProcess, StartDaemon
from harness.notify import NotifyListener, drain, fill_queue
from harness.pty import PtyPair

pytestmark = pytest.mark.slow


class _StalledManager:
    """systemd's notification socket (``listener``) whose queue a stalled manager lets fill."""

    def __init__(self, listener: NotifyListener) -> None:
        self.listener = listener
        self._senders: list[socket.socket] = []
        self._failed = 0

    def fill(self, daemon: DaemonProcess | None = None) -> None:
        """The queue full, for ``daemon`` (none: one started next) to send into."""
        self._failed = 0 if daemon is None else len(daemon.events("sd_notify_failed"))
        self.listener.messages.clear()
        self._senders = fill_queue(self.listener.address)

    def drain_once(self, daemon: DaemonProcess, done: Callable[[], bool], what: str) -> str:
        """Once ``done`` holds and the daemon has logged a refused send, the queue drained;
        the daemon's READY=1 that arrives then (a datagram it sent while the queue filled, up
        to the last filler, may come before it)."""
        try:
            wait_for(done, 15, what)
            failed = self._failed
            wait_for(lambda: len(daemon.events("sd_notify_failed")) > failed, 5, "a refusal")
        finally:
            self.close()
        assert self.listener.messages == []
        drain(self.listener)
        # the next housekeeping: a second on, 5 s while no port is up
        self.listener.wait_for("READY=1", 7.0)
        return next(m for _, m in self.listener.messages if "READY=1" in m)

    def close(self) -> None:
        senders, self._senders = self._senders, []
        for sender in senders:
            sender.close()


def test_the_daemon_s_ready_a_full_queue_refused_arrives_once_it_drains(
    tmp_path: Path, start_daemon: StartDaemon, notify_listener: NotifyListener, pty_pair: PtyPair
) -> None:
    """READY=1 at the start, and the READY=1 that ends a reload (its RELOADING=1 refused too
    and so replaced), each sent while the queue was full, arrive at the housekeeping after it
    drains. One sensor's device is open and silent, as it may be for as long as its
    stale_after_s (an hour here), and the other's is absent (its port retries), so the status
    line stays the same: no STATUS= line of a later housekeeping carries them. The open port
    keeps housekeeping at its one-second pace."""
    manager = _StalledManager(notify_listener)
    config = tmp_path / "sensord.toml"
    a = sensor_toml("a", pty_pair.path, extra="stale_after_s = 3600")
    b = sensor_toml("b", str(tmp_path / "ttyb"), extra='simulate = "never"')
    write_atomically(config, a)
    manager.fill()
    env = {"NOTIFY_SOCKET": notify_listener.address}
    daemon = start_daemon(["--config", str(config)], env=env)
    try:
        first = manager.drain_once(
            daemon, lambda: bool(daemon.events("ready")), "the daemon's ready line"
        )
        assert first.startswith("READY=1\nSTATUS="), first
        assert "1/1 sensors up" in first

        write_atomically(config, a + b)
        manager.fill(daemon)
        daemon.signal(signal.SIGHUP)
        first = manager.drain_once(
            daemon, lambda: bool(daemon.events("configuration reloaded")), "the reload's line"
        )
        assert first.startswith("READY=1\nSTATUS="), first
        assert "1/2 sensors up (b=" in first  # b opening or down: its device is absent
        # the RELOADING=1 the READY=1 replaced is not sent after the reload
        assert not [m for _, m in notify_listener.messages if "RELOADING=1" in m]
    finally:
        manager.close()
        assert daemon.stop() == 0


def test_the_primary_s_ready_a_full_queue_refused_arrives_once_it_drains(
    tmp_path: Path, start_daemon: StartDaemon, notify_listener: NotifyListener
) -> None:
    """The ``--workers`` primary's READY=1 once its workers are ready, and the one that ends a
    reload once they applied it, sent while systemd's queue was full, arrive once it drains;
    and its watchdog ping (every 30 s under a watchdog of 60 s), refused at the start, goes
    again a second on, not 30 s on."""
    manager = _StalledManager(notify_listener)
    config = tmp_path / "sensord.toml"
    write_atomically(config, sensor_toml("a", "sim://a") + sensor_toml("b", "sim://b"))
    manager.fill()
    env = {"NOTIFY_SOCKET": notify_listener.address, "WATCHDOG_USEC": "60000000"}
    daemon = start_daemon(["--config", str(config), "--workers", "2"], env=env)
    try:
        first = manager.drain_once(
            daemon,
            lambda: any("workers" in r for r in daemon.events("ready")),
            "the primary's ready line",
        )
        assert first == "READY=1\nSTATUS=2 workers ready"
        pinged_at = notify_listener.wait_for("WATCHDOG=1", 3.0)
        assert pinged_at - daemon.started < 30.0

        reloads = daemon.status()["config_reloads"]
        manager.fill(daemon)
        daemon.signal(signal.SIGHUP)
        first = manager.drain_once(
            daemon, lambda: daemon.status()["config_reloads"] > reloads, "the reload's outcome"
        )
        assert first == "READY=1\nSTATUS=2 workers ready"
        assert not [m for _, m in notify_listener.messages if "RELOADING=1" in m]
    finally:
        manager.close()
        assert daemon.stop(timeout_s=10) == 0
