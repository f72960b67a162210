"""The daemon: supervisor of the reader loop, HTTP endpoints, signals and systemd integration.

The reader loop runs on the main thread. Signal handlers only set a flag and wake the loop
(``signal.set_wakeup_fd``), so SIGHUP reloads and SIGTERM shutdowns happen between batches,
never in the middle of one. HTTP runs on threads of its own and only reads counters.

Process states: ``starting`` -> ``running`` / ``degraded`` (some sensor not up) -> ``stopping``.
The systemd watchdog is pinged from the loop's housekeeping, so a loop that hangs (a stage that
never returns) stops the pings and systemd restarts the service.
"""

from __future__ import annotations

import contextlib
import os
import signal
import ssl
import time
from collections.abc import Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import structlog

from sensord import __version__
from sensord.config import Config, HttpConfig, SensorConfig, load_config
from sensord.errors import ConfigError, SourceBrokenError
from sensord.http import HttpCollector, HttpServer, serve
from sensord.metrics import MetricsRegistry
from sensord.reader import Reader
from sensord.sdnotify import Notifier, watchdog_interval_s
from sensord.sensor import SensorRuntime
from sensord.workers import (
    PRIMARY_PID_ENV,
    WORKER_SECRET_ENV,
    shard_config,
    worker_http_config,
)

__all__ = ["Daemon", "run_daemon"]

log = structlog.get_logger("sensord.daemon")

#: Upper bound for the final drain of kernel buffers at shutdown.
DRAIN_LIMIT_S = 1.0


class Daemon:
    """Runs one configuration until SIGTERM/SIGINT; reloads on SIGHUP."""

    def __init__(
        self,
        config: Config,
        *,
        config_path: Path | None = None,
        listen: str | None = None,
        port: int | None = None,
        notifier: Notifier | None = None,
        environ: dict[str, str] | None = None,
        shard: tuple[int, int] | None = None,
    ) -> None:
        self.shard = shard
        env = environ if environ is not None else dict(os.environ)
        #: A worker's HTTP server is the primary's private channel, whatever [http] says
        self._worker_http = worker_http_config(env.get(WORKER_SECRET_ENV)) if shard else None
        if shard is not None:
            config = shard_config(config, *shard, self._worker_http)
        self.config = config
        self.config_path = config_path
        self._listen_override = listen
        self._port_override = port
        self.notifier = notifier if notifier is not None else Notifier()
        self.watchdog_interval_s = watchdog_interval_s(env)
        #: A worker's primary (``--workers``): the worker stops when it is no longer its parent.
        self.primary_pid = _primary_pid(env) if shard is not None else None
        self.state = "starting"
        self.started_at = time.time()
        self.reload_successful = True
        self.reload_success_timestamp_s = time.time()
        self.reloads = 0
        self._runtimes: tuple[SensorRuntime, ...] = ()
        self._pending_signals: list[int] = []
        self._ready_sent = False
        self._next_watchdog = 0.0
        self._last_status = ""
        self._loop_heartbeat = time.monotonic()
        self.exit_code = 0

        self.metrics = MetricsRegistry(self, __version__, config.metrics.step_timing_sample_every)
        self.metrics.registry.register(HttpCollector(lambda: self.http))
        housekeeping = 1.0
        if self.watchdog_interval_s is not None:
            housekeeping = min(housekeeping, self.watchdog_interval_s / 2)
        self.reader = Reader(on_housekeeping=self._housekeeping)
        self.reader.housekeeping_interval_s = housekeeping
        self.reader.batch_interval_s = config.reader.batch_interval_s
        self.http: HttpServer | None = None

    # -- views for metrics and /status ---------------------------------------------------------
    def sensor_runtimes(self) -> Sequence[SensorRuntime]:
        return self._runtimes

    def _refresh_runtimes(self) -> None:
        self._runtimes = tuple(self.reader.sensors.values())

    def process_state(self) -> str:
        if self.state in ("starting", "stopping"):
            return self.state
        active = [s for s in self._runtimes if s.state != "stopped"]
        return "degraded" if any(s.state != "up" for s in active) else "running"

    def status(self) -> dict[str, Any]:
        return {
            "version": __version__,
            "state": self.process_state(),
            "pid": os.getpid(),
            "uptime_s": round(time.time() - self.started_at, 3),
            "config": str(self.config_path) if self.config_path else "<built-in demo>",
            "config_last_reload_successful": self.reload_successful,
            "sensors": {s.name: s.snapshot() for s in self._runtimes},
        }

    def health(self) -> tuple[bool, str]:
        age = time.monotonic() - self._loop_heartbeat
        limit = max(5.0, 5 * self.reader.housekeeping_interval_s)
        if age > limit:
            return False, f"reader loop has not run for {age:.1f}s"
        return True, f"ok: {self.process_state()}"

    def summary_line(self) -> str:
        runtimes = self._runtimes
        up = [s.name for s in runtimes if s.state == "up"]
        not_up = [f"{s.name}={s.state}" for s in runtimes if s.state != "up"]
        frames = sum(s.framer.frames for s in runtimes)
        text = f"{len(up)}/{len(runtimes)} sensors up"
        if not_up:
            text += " (" + ", ".join(not_up[:5]) + (", ..." if len(not_up) > 5 else "") + ")"
        return f"{text}; {frames} frames"

    # -- building sensors ----------------------------------------------------------------------
    def _make_runtime(self, sensor_config: SensorConfig) -> SensorRuntime:
        runtime = SensorRuntime(sensor_config)
        runtime.instrument(self.metrics.timer_for())
        return runtime

    # -- run -----------------------------------------------------------------------------------
    def run(self) -> int:
        """Serve until stopped; returns the process exit code."""
        http_cfg = self.config.http
        listen = self._listen_override or http_cfg.listen
        port = self._port_override if self._port_override is not None else http_cfg.port
        try:
            self.http = self._start_http(listen, port)
        except (OSError, ssl.SSLError) as exc:
            log.error(
                "cannot serve HTTP",
                listen=listen,
                port=port,
                error=exc.strerror or str(exc),
                hint="set [http] port/listen in the config or pass --port/--listen",
            )
            self.reader.close()
            return 3
        for sensor_config in self.config.sensors:
            self.reader.add(self._make_runtime(sensor_config))
        self._refresh_runtimes()
        log.info(
            "sensord started",
            version=__version__,
            pid=os.getpid(),
            url=self.http.url,
            sensors=len(self._runtimes),
            config=str(self.config_path) if self.config_path else "<built-in demo>",
            watchdog_interval_s=self.watchdog_interval_s,
            shard=f"{self.shard[0]}/{self.shard[1]}" if self.shard else None,
        )
        previous = self._install_signals()
        try:
            self.reader.run(until=self._handle_signals)
        finally:
            self._shutdown()
            self._restore_signals(previous)
        return self.exit_code

    def _start_http(self, listen: str, port: int, cfg: HttpConfig | None = None) -> HttpServer:
        """Bind (raising OSError on failure) and start serving."""
        return serve(
            cfg if cfg is not None else self.config.http,
            listen,
            port,
            render_metrics=self.metrics.render,
            status=self.status,
            health=self.health,
        )

    # -- signals -------------------------------------------------------------------------------
    def _install_signals(self) -> dict[int, Any]:
        previous: dict[int, Any] = {}
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            previous[signum] = signal.signal(signum, self._on_signal)
        previous[-1] = signal.set_wakeup_fd(self.reader.wakeup_fd, warn_on_full_buffer=False)
        return previous

    def _restore_signals(self, previous: dict[int, Any]) -> None:
        with contextlib.suppress(ValueError):
            signal.set_wakeup_fd(previous.pop(-1))
        for signum, handler in previous.items():
            with contextlib.suppress(ValueError, TypeError):
                signal.signal(signum, handler)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._pending_signals.append(signum)

    def _handle_signals(self) -> bool:
        """Called by the loop every iteration; True means stop."""
        self._loop_heartbeat = time.monotonic()
        if not self._pending_signals:
            return False
        pending, self._pending_signals = self._pending_signals, []
        stop = False
        for signum in pending:
            if signum == signal.SIGHUP:
                self.reload()
            else:
                log.info("stopping", signal=signal.Signals(signum).name)
                stop = True
        return stop

    def _notify_ready(self, status: str) -> None:
        if self.shard is not None and self.http is not None:
            # a worker tells the primary where its HTTP server is, with every READY=1
            self.notifier.notify(
                "READY=1", f"STATUS={status}", f"X_SENSORD_HTTP_PORT={self.http.port}"
            )
        else:
            self.notifier.ready(status)

    # -- housekeeping (on the loop thread) -----------------------------------------------------
    def _housekeeping(self, now: float) -> None:
        self._loop_heartbeat = now
        if self.primary_pid is not None and os.getppid() != self.primary_pid:
            # the primary died without stopping its workers (SIGKILL, a crash): a worker left
            # running would hold its ports and keep a restarted sensord from opening them
            log.error("the primary process is gone; stopping", primary_pid=self.primary_pid)
            self.primary_pid = None
            self.reader.stop()
            return
        if not self._ready_sent:
            self._ready_sent = True
            self.state = "running"
            self._last_status = self.summary_line()
            self._notify_ready(self._last_status)
            log.info("ready", status=self._last_status)
        else:
            line = self.summary_line()
            if line != self._last_status:
                self._last_status = line
                self.notifier.status(line)
        if self.watchdog_interval_s is not None and now >= self._next_watchdog:
            if self.reader.feeders_alive:
                self.notifier.watchdog()
                self._next_watchdog = now + self.watchdog_interval_s
            else:
                log.error("a port reader thread is stuck; withholding the watchdog ping")

    # -- reload --------------------------------------------------------------------------------
    def reload(self) -> bool:
        """Re-read the configuration; apply it as a diff, or keep the running one on error."""
        self.reloads += 1
        self.notifier.reloading()
        try:
            if self.config_path is None:
                log.warning("reload requested but sensord runs the built-in demo; nothing to read")
                return False
            try:
                new = load_config(self.config_path)
                if self.shard is not None:
                    new = shard_config(new, *self.shard, self._worker_http)
            except ConfigError as exc:
                self.reload_successful = False
                log.error(
                    "reload failed; keeping the running configuration",
                    config=str(self.config_path),
                    errors=exc.problems,
                )
                return False
            except Exception as exc:  # a validator bug must not stop a running daemon
                self.reload_successful = False
                log.error(
                    "reload failed; keeping the running configuration",
                    config=str(self.config_path),
                    errors=[f"unexpected error while loading: {exc!r}"],
                    exc_info=exc,
                )
                return False
            self._apply(new)
            self.reload_successful = True
            self.reload_success_timestamp_s = time.time()
            return True
        finally:
            self._notify_ready(self.summary_line())

    def _apply(self, new: Config) -> None:
        old = self.config
        old_sensors = {s.name: s for s in old.sensors}
        new_sensors = {s.name: s for s in new.sensors}
        removed = [n for n in old_sensors if n not in new_sensors]
        added = [n for n in new_sensors if n not in old_sensors]
        changed = [n for n in new_sensors if n in old_sensors and new_sensors[n] != old_sensors[n]]
        retime = new.metrics != old.metrics
        if retime:
            self.metrics.sample_every = new.metrics.step_timing_sample_every
        for name in removed + changed:
            self.reader.remove(name)
        for name in changed + added:
            self.reader.add(self._make_runtime(new_sensors[name]))
        if retime:
            for runtime in self.reader.sensors.values():
                runtime.instrument(self.metrics.timer_for())
        self.reader.batch_interval_s = new.reader.batch_interval_s
        if new.http != old.http:
            self._restart_http(new)
        if new.log != old.log:
            log.warning("log settings change at the next restart", log=new.log.as_dict())
        self.config = new
        self._refresh_runtimes()
        log.info(
            "configuration reloaded",
            config=str(self.config_path),
            added=added,
            removed=removed,
            restarted=changed,
            unchanged=len(new_sensors) - len(added) - len(changed),
        )

    def _restart_http(self, new: Config) -> None:
        listen = self._listen_override or new.http.listen
        port = self._port_override if self._port_override is not None else new.http.port
        old = self.http
        if old is not None and (listen, port) == (old.listen, old.port):
            old.close()  # same address: the new server cannot bind while the old one holds it
            self.http = None
        try:
            server = self._start_http(listen, port, new.http)
        except (OSError, ssl.SSLError) as exc:
            log.error(
                "cannot serve HTTP with the new settings; keeping the old ones",
                error=str(exc),
                listen=listen,
                port=port,
            )
            if self.http is None and old is not None:
                self.http = self._start_http(old.listen, old.port)
            return
        if self.http is not None:
            self.http.close()
        self.http = server
        log.info("http listening", url=server.url)

    # -- shutdown ------------------------------------------------------------------------------
    def _shutdown(self) -> None:
        self.state = "stopping"
        self.notifier.stopping()
        deadline = time.monotonic() + DRAIN_LIMIT_S
        for runtime in self._runtimes:
            self._drain(runtime, deadline)
        for runtime in self._runtimes:
            log.info(
                "sensor summary",
                sensor=runtime.name,
                state=runtime.state,
                simulated=runtime.simulated,
                frames=runtime.framer.frames,
                readings=sum(ch.chain.stages[0].records_in for ch in runtime.channels.values()),
                parse_errors=sum(runtime.parse_errors.values()) + runtime.framer.overlong,
                reconnects=runtime.reconnects,
            )
        self.reader.close()
        if self.http is not None:
            self.http.close()
        self.notifier.close()
        log.info("sensord stopped", uptime_s=round(time.time() - self.started_at, 3))

    @staticmethod
    def _drain(runtime: SensorRuntime, deadline: float) -> None:
        """Read what the kernel still buffers for an fd-backed port, so it is counted."""
        source = runtime.source
        if source is None or source.fileno() is None:
            return
        while time.monotonic() < deadline:
            try:
                chunk = source.read()
            except SourceBrokenError:
                return
            if not chunk:
                return
            runtime.feed(chunk)
            if runtime.source is None:
                return


def run_daemon(
    config: Config,
    config_path: Path | None,
    *,
    listen: str | None = None,
    port: int | None = None,
) -> int:
    return Daemon(config, config_path=config_path, listen=listen, port=port).run()


def _primary_pid(env: dict[str, str]) -> int | None:
    """The primary's pid that ``--workers`` passes to its workers, or None."""
    try:
        return int(env[PRIMARY_PID_ENV])
    except (KeyError, ValueError):
        return None
