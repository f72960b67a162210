"""``sensord run --workers N``: shard the ports over N worker processes, one /metrics for all.

One Python process reads about a core's worth of lines; past that, the sensors are split over
worker processes. Each worker is an ordinary ``sensord run`` on a shard of the sensors (a
sensor goes to worker ``crc32(name) % N``, so it stays on the same worker across reloads and
keeps its window), serving HTTP on an ephemeral loopback port. The primary process:

* starts the workers with ``NOTIFY_SOCKET`` pointing at a private datagram socket, learns each
  worker's HTTP port from its ``READY=1`` message, tells systemd ``READY=1`` once every worker
  is ready, and pings systemd's watchdog from its own loop while no ready worker is hung;
* kills a worker that stops pinging it (hung) or never becomes ready, and restarts every
  worker that exits, with backoff;
* serves ``/metrics`` by scraping the workers and merging their expositions: per-sensor series
  are unchanged (each sensor lives in one worker); process-wide families (``process_*``,
  ``python_*``, ``sensord_step_duration_seconds``, ``sensord_log_lines_dropped_total``) get a
  ``worker`` label, and the primary's own ``process_*``, ``python_*`` and log lines dropped
  come under ``worker="primary"``; the primary adds
  ``sensord_build_info``, the reload gauges and ``sensord_worker_up{worker}`` (0 for a worker
  whose series are missing from that scrape);
* serves ``/status`` as the union of the workers' sensors;
* validates the config on SIGHUP before forwarding it (an invalid file never reaches the
  workers; one not ready yet gets it once it is), forwards SIGTERM and waits for the workers.

A worker that finds its parent is no longer the primary (which died without stopping it)
shuts down as on SIGTERM within a housekeeping interval, releasing its ports.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import json
import os
import secrets
import selectors
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import structlog

from sensord import __version__
from sensord.config import Config, load_config_text
from sensord.export import (
    LOG_DROPPED,
    LOG_DROPPED_HELP,
    PRIMARY_WORKER_LABEL,
    RESTART_NEEDED_HELP,
    merge_expositions,
    process_registry,
    render_families,
)
from sensord.http import HTTP_FAMILIES, CaptureUnavailableError, HttpCollector
from sensord.log_output import dropped_lines
from sensord.pipeline import PipelineContext
from sensord.retry import Backoff, Retry
from sensord.sdnotify import NotifyListener
from sensord.service import Service, StartError, in_place_settings
from sensord.shard import (
    DEVICES_READ_ENV,
    DEVICES_READ_FIELD,
    HTTP_PORT_FIELD,
    PRIMARY_BUILD_ENV,
    PRIMARY_PID_ENV,
    QUIET_AFTER_RESTARTS,
    RELOADS_FIELD,
    RESTARTS_IN_ROW_ENV,
    STABLE_AFTER_S,
    WORKER_SECRET_ENV,
    WORKER_USER,
    devices_read,
    shard_key,
    shard_of,
    shard_sensors,
    starts_quietly,
)
from sensord.workers_copy import (
    copy_path_again,
    make_copy_folder,
    remove_copy_folder,
    remove_orphaned_copies,
    write_copy,
    write_devices_read,
)

__all__ = ["Primary"]

log = structlog.get_logger("sensord.workers")

#: Families that describe a whole process; they get a ``worker`` label when merged.
PROCESS_WIDE_PREFIXES = ("process_", "python_", "sensord_step_duration_seconds", LOG_DROPPED)
#: Families the primary reports itself; the workers' copies are dropped.
PRIMARY_FAMILIES = (
    "sensord_build_info",
    "sensord_restart_needed",
    "sensord_config_last_reload_successful",
    "sensord_config_last_reload_success_timestamp_seconds",
    *HTTP_FAMILIES,  # a worker's HTTP server only answers the primary
)
STOP_TIMEOUT_S = 5.0
#: The longest the primary's loop sleeps without an event.
MAX_SLEEP_S = 5.0
#: Seconds a worker may take from its start to READY=1 before the primary kills it.
START_TIMEOUT_S = 30.0
#: Seconds the primary waits for a worker's /metrics or /status.
FETCH_TIMEOUT_S = 2.0
#: Seconds between a worker's pings to the primary when systemd has no watchdog.
WORKER_PING_S = 2.0
#: Seconds after which a notification to systemd that its full queue refused goes again (as
#: a process's housekeeping does it; a ping: half a watchdog interval at most).
NOTIFY_RETRY_S = 1.0


@dataclass
class Worker:
    index: int
    proc: subprocess.Popen[bytes] | None = None
    port: int | None = None
    ready: bool = False
    last_ping: float = 0.0
    started_at: float = 0.0
    restarts: int = 0
    #: restarts with backoff (the same policy object as a sensor's reconnect)
    retry: Retry = field(default_factory=lambda: Retry(Backoff(0.5, 30.0)))
    status_line: str = ""
    #: a reload to send with its next READY=1 (it is starting, or applying the one before)
    reload_pending: bool = False
    #: SIGHUP was sent and the READY=1 that ends its reload has not come yet; one at a time,
    #: as two signals that come together are one to the process
    reload_sent: bool = False
    #: SIGHUPs sent to this process: once it tells (``RELOADS_FIELD``) as many reloads
    #: applied, the one sent has ended, though the READY=1 that ended it was lost
    sighups: int = 0
    #: SIGKILL was sent (a hung worker); the loop reaps it when it is gone
    killed: bool = False
    #: not restarted: the package on disk is not the one the primary runs
    refused: bool = False
    #: the copy of the configuration it was started with (``--config``), which it reads again
    #: at a reload
    copy: Path | None = None
    #: SIGTERM was sent to start it on a new copy (its copy's path is another's now): its exit
    #: on that signal is no crash, not counted as a restart and started again at once
    moving: bool = False

    @property
    def alive(self) -> bool:
        proc = self.proc  # read once: the loop thread may clear it meanwhile
        return proc is not None and proc.poll() is None

    @property
    def pid(self) -> int | None:
        proc = self.proc
        return proc.pid if proc is not None else None

    @property
    def reloading(self) -> bool:
        """It runs and has a reload forwarded to it still to apply."""
        return (self.reload_sent or self.reload_pending) and self.alive

    def send_reload(self) -> None:
        """SIGHUP, now or, while it applies the one before, with the READY=1 that ends it."""
        if self.reload_sent:
            self.reload_pending = True
        elif self.proc is not None:
            self.reload_pending = False
            self.reload_sent = True
            self.sighups += 1
            self.proc.send_signal(signal.SIGHUP)


class Primary(Service):
    """Runs and supervises the workers; see the module docstring."""

    wake_signals = (signal.SIGCHLD,)  # a worker's exit wakes the loop to restart it at once

    def __init__(
        self,
        config: Config,
        *,
        workers: int,
        config_path: Path | None,
        config_text: str | None = None,
        listen: str | None,
        port: int | None,
        log_level: str,
        log_format: str,
    ) -> None:
        if workers < 2:
            raise ValueError("--workers needs at least 2 (1 means no workers)")
        super().__init__(config, config_path=config_path, listen=listen, port=port)
        #: [http] and [log] as the primary started with them, with the basic-auth credentials
        #: and TLS files a reload set (``set_in_place``): a reload does not move them
        self._started_config = self.config
        self.count = workers
        self.log_level, self.log_format = log_level, log_format
        #: the text of the configuration validated last (at start, or by a reload); the
        #: workers read a copy of it (``_snapshot``), never the file itself, which may have
        #: been edited since, or broken: a worker restarted after a crash runs what the
        #: others run
        self._config_text = config_text
        if config_path is not None and config_text is None:
            raise ValueError("a config_path needs the config_text it was validated from")
        self._snapshot: Path | None = None
        self._loaded_text = ""
        #: How often each worker pings the primary: as often as the primary pings systemd, or
        #: every WORKER_PING_S without a systemd watchdog (a hung worker is still noticed). A
        #: worker is given the time systemd gives the process: under sensord.service's
        #: WatchdogSec=30 a capture written on SIGUSR1 to a slow SD card, or a large reload,
        #: which hold the worker's loop, do not get a sound worker killed.
        self.worker_ping_s = self.watchdog_interval_s or WORKER_PING_S
        self._stuck_after_s = 2 * self.worker_ping_s + 1.0
        self.workers = [Worker(i) for i in range(workers)]
        self._ready_sent = False
        self._status_sent = ""
        #: reloads whose outcome the workers have still to set (``_settle_reloads``)
        self._reloads_to_count = 0
        #: the last reload was passed on to the workers: their ``config_last_reload_sensors``
        #: tell what it did (after one that did not apply, what the one before did)
        self._reload_forwarded = False
        self._shutting_down = False
        self._next_watchdog = 0.0
        self._selector = selectors.DefaultSelector()
        self._listener = NotifyListener("sensord-primary")
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._selector.register(self._listener.fileno(), selectors.EVENT_READ, "notify")
        self._selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        self.http_metrics = HttpCollector(lambda: self.http)
        self._process_metrics = process_registry()
        self._secret = secrets.token_urlsafe(24)
        #: the device paths the workers have opened (each tells its own) that a sensor of the
        #: running configuration names: a worker started again reads a sensor's device from
        #: its start, not a simulation of it, while the path is absent (unplugged)
        self._devices_read: set[str] = set()
        token = base64.b64encode(f"{WORKER_USER}:{self._secret}".encode()).decode()
        self._authorization = f"Basic {token}"

    # -- workers -------------------------------------------------------------------------------
    def _spawn(self, worker: Worker) -> None:
        cmd = [sys.executable, "-m", "sensord", "run", "--shard", f"{worker.index}/{self.count}"]
        if self._snapshot is not None:
            self._restore_snapshot()
            cmd += ["--config", str(self._snapshot)]
        worker.copy = self._snapshot
        cmd += ["--listen", "127.0.0.1", "--port", "0", "--log-level", self.log_level]
        cmd += ["--log-format", self.log_format]
        env = dict(os.environ)
        env["NOTIFY_SOCKET"] = self._listener.address
        env[PRIMARY_PID_ENV] = str(os.getpid())
        env[WORKER_SECRET_ENV] = self._secret
        env[PRIMARY_BUILD_ENV] = self.build.running.digest
        env[DEVICES_READ_ENV] = json.dumps(sorted(self._devices_read))
        in_row = worker.retry.failures
        env[RESTARTS_IN_ROW_ENV] = str(in_row)
        env.pop("WATCHDOG_PID", None)
        # a worker pings at half its WATCHDOG_USEC
        env["WATCHDOG_USEC"] = str(int(self.worker_ping_s * 2 * 1e6))
        worker.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.DEVNULL)
        worker.port = None
        worker.ready = False
        worker.killed = False
        worker.moving = False
        worker.reload_pending = False  # it reads the current copy as it starts
        worker.reload_sent = False
        worker.sighups = 0
        worker.status_line = ""
        worker.started_at = time.monotonic()
        worker.last_ping = worker.started_at
        # its sensors as the file read now places them (by name, or a bus's port: stable)
        sensors = [s.name for s in shard_sensors(self.config, worker.index, self.count)]
        # at debug level while the worker restarts in a loop, as the worker's own start-up
        started = log.debug if starts_quietly(in_row) else log.info
        started("worker started", worker=worker.index, pid=worker.proc.pid, sensors=sensors)

    def _by_pid(self, pid: int) -> Worker | None:
        for worker in self.workers:
            if worker.proc is not None and worker.proc.pid == pid:
                return worker
        return None

    def _on_notify(self) -> None:
        for pid, fields in self._listener.receive():
            worker = self._by_pid(pid) if pid else None
            if worker is None:
                continue
            now = time.monotonic()
            if DEVICES_READ_FIELD in fields:
                # (a worker still on the configuration before a reload may tell a path of a
                # sensor it removed)
                named = {s.port for s in self.config.sensors}
                self._devices_read.update(devices_read(fields[DEVICES_READ_FIELD]) & named)
            if HTTP_PORT_FIELD in fields:
                with contextlib.suppress(ValueError):
                    worker.port = int(fields[HTTP_PORT_FIELD])
            ready = fields.get("READY") == "1"
            if fields.get("WATCHDOG") == "1":
                # a worker pings only once it has sent READY=1: a ping from one still starting
                # here is from one whose READY=1 a full queue dropped, and ends its start
                ready = ready or (not worker.ready and worker.port is not None)
                worker.last_ping = now
            if ready:
                worker.ready = True
                worker.last_ping = now
            # READY=1 ends its start, or the reload it was sent (it sends no other); a ping
            # that counts that reload applied ends it too: its READY=1 was dropped
            applied = fields.get(RELOADS_FIELD, "")
            if ready or (
                worker.reload_sent and applied.isdigit() and int(applied) >= worker.sighups
            ):
                worker.reload_sent = False
                if worker.reload_pending:
                    worker.send_reload()
            if "STATUS" in fields:
                worker.status_line = fields["STATUS"]

    def _check_workers(self, now: float) -> None:
        for worker in self.workers:
            if worker.alive and not self._shutting_down:
                self._kill_if_hung(worker, now)
            if worker.proc is not None and worker.proc.poll() is not None:
                code = worker.proc.returncode
                worker.proc = None
                worker.ready = False
                moved, worker.moving = worker.moving, False
                if self._shutting_down:
                    continue
                if moved and code in (0, -signal.SIGTERM):
                    # stopped on purpose, as it should: started again at once, on the new copy
                    log.info(
                        "worker stopped to read the new copy of the configuration; starting it",
                        worker=worker.index,
                        copy=str(self._snapshot),
                    )
                else:
                    self._crashed(worker, code, now)
            if worker.proc is None and not self._shutting_down and worker.retry.due(now):
                if self._refuse_spawn(worker, now):
                    continue
                try:
                    self._spawn(worker)
                except OSError as exc:  # fork or exec failed (EAGAIN, TasksMax, ...)
                    self._retry_later(
                        worker, now, "cannot start a worker; retrying", error=str(exc)
                    )
            elif (
                worker.ready and worker.retry.failures and now - worker.started_at > STABLE_AFTER_S
            ):
                if worker.retry.failures >= QUIET_AFTER_RESTARTS:  # its starts were quiet
                    log.info(
                        "worker up after restarts in a row",
                        worker=worker.index,
                        restarts_in_row=worker.retry.failures,
                    )
                worker.retry.succeeded()  # up long enough: the next exit restarts without delay

    def _crashed(self, worker: Worker, code: int, now: float) -> None:
        """``worker`` exited with ``code`` on its own, or was killed: a restart, with backoff."""
        worker.restarts += 1
        # a negative code is the signal that ended it (SIGKILL: the OOM killer, or this
        # primary's own kill of a hung worker); its sensors are out meanwhile
        died: dict[str, Any] = {"code": code}
        if code < 0:
            with contextlib.suppress(ValueError):
                died["signal"] = signal.Signals(-code).name
        died["sensors"] = [s.name for s in shard_sensors(self.config, worker.index, self.count)]
        self._retry_later(worker, now, "worker exited; restarting", **died)

    def _refuse_spawn(self, worker: Worker, now: float) -> bool:
        """True when ``worker`` must not start: a new process would run the files on disk, a
        version other than this primary's (which places the sensors and reads the workers by
        its own rules). Logged once until a start is allowed again; checked again with
        backoff, so a worker starts if the running package is put back."""
        if self.build.differs() is None:
            if worker.refused:
                worker.refused = False
                log.info("the installed package is the running one again", worker=worker.index)
            return False
        worker.retry.failed(now)
        if not worker.refused:
            worker.refused = True
            self.refuse_mixed_build("worker not restarted", worker=worker.index)
        return True

    def _retry_later(self, worker: Worker, now: float, message: str, **fields: Any) -> None:
        """Count a failure of ``worker`` and schedule its next start with backoff."""
        delay = worker.retry.failed(now)
        log.error(
            message,
            worker=worker.index,
            retry_in_s=round(delay, 3),
            restarts_in_row=worker.retry.failures,
            **fields,
        )

    def _kill_if_hung(self, worker: Worker, now: float) -> None:
        """SIGKILL a worker that stopped pinging or never became ready, once; SIGCHLD wakes the
        loop, which restarts it like any worker that exits."""
        if worker.killed:
            return  # still there (uninterruptible sleep): /healthz and the watchdog say so
        if self._stuck(worker, now):
            reason = "worker stopped answering; killing it"
            silent_s = now - worker.last_ping
        elif not worker.ready and now - worker.started_at > START_TIMEOUT_S:
            reason = "worker did not become ready; killing it"
            silent_s = now - worker.started_at
        else:
            return
        assert worker.proc is not None
        log.error(reason, worker=worker.index, pid=worker.proc.pid, silent_s=round(silent_s, 1))
        worker.proc.kill()
        worker.killed = True

    # -- views ---------------------------------------------------------------------------------
    def _fetch(self, worker: Worker, path: str, answered: list[str] | None = None) -> bytes | None:
        """The body of a worker's ``path``, or None: starting, dead, hung or failing, its
        series are left out of this scrape (and worker_up says so). A worker that answered
        with an error status has it (``404 no such sensor``) appended to ``answered``."""
        port = worker.port  # read once: the loop thread may restart the worker meanwhile
        if port is None or not self._healthy(worker, time.monotonic()):
            return None
        request = urllib.request.Request(f"http://127.0.0.1:{port}{path}")
        request.add_unredirected_header("Authorization", self._authorization)
        try:
            with urllib.request.urlopen(request, timeout=FETCH_TIMEOUT_S) as response:
                body: bytes = response.read()
                return body
        except urllib.error.HTTPError as exc:
            if answered is not None:
                text = exc.read(200).decode("utf-8", "replace").strip()
                answered.append(f"{exc.code} {text}".strip())
            return None
        except (OSError, http.client.HTTPException, ValueError):
            return None  # refused, reset, cut short, garbled: all the same to a scrape

    def _placed(self, config: Config, worker: Worker) -> set[str]:
        """The sensors ``config`` places on ``worker``: of what it reports, only these are
        served (a worker that has not applied the reload forwarded to it yet still reads a
        sensor the reload moved to another worker)."""
        return {sensor.name for sensor in shard_sensors(config, worker.index, self.count)}

    def render_metrics(self, accept: str | None) -> tuple[bytes, str]:
        config = self.config  # once: a reload on the loop thread may replace it meanwhile
        texts: list[tuple[str, str]] = []
        for worker in self.workers:
            body = self._fetch(worker, "/metrics")
            if body is not None:
                texts.append((str(worker.index), body.decode()))
        own = self._own_families({int(index) for index, _ in texts})
        placed = {str(w.index): self._placed(config, w) for w in self.workers}
        families = merge_expositions(
            texts,
            PROCESS_WIDE_PREFIXES,
            PRIMARY_FAMILIES,
            own,
            self._process_metrics,
            placed=placed,
        )
        return render_families([*families, *self.http_metrics.collect()], accept)

    def _own_families(
        self, scraped: set[int]
    ) -> list[tuple[str, str, str, list[tuple[dict[str, str], float]]]]:
        """(name, type, help, samples) of what the primary reports itself; ``scraped``: the
        workers whose series this exposition holds."""
        return [
            ("sensord_build_info", "gauge", "sensord version (value is always 1)",
             [({"version": __version__}, 1.0)]),
            ("sensord_restart_needed", "gauge", RESTART_NEEDED_HELP,
             [({}, 1.0 if self.restart_needed else 0.0)]),
            ("sensord_config_last_reload_successful", "gauge",
             "1 if the last configuration load or reload succeeded",
             [({}, 1.0 if self.reload_successful else 0.0)]),
            ("sensord_config_last_reload_success_timestamp_seconds", "gauge",
             "Unix time of the last successful configuration load or reload",
             [({}, self.reload_success_timestamp_s)]),
            ("sensord_worker_up", "gauge",
             "1 when the worker's series are in this scrape (it is ready and answered)",
             [({"worker": str(w.index)}, 1.0 if w.index in scraped else 0.0)
              for w in self.workers]),
            ("sensord_worker_restarts", "counter", "Times a worker process was restarted",
             [({"worker": str(w.index)}, float(w.restarts)) for w in self.workers]),
            (LOG_DROPPED, "counter", LOG_DROPPED_HELP,
             [({"worker": PRIMARY_WORKER_LABEL}, float(dropped_lines()))]),
        ]  # fmt: skip

    def status_body(self) -> dict[str, Any]:
        now = time.monotonic()
        config = self.config  # once: a reload on the loop thread may replace it meanwhile
        sensors: dict[str, Any] = {}
        states: list[str] = []
        reload_errors: list[str] = []
        answers: list[tuple[Worker, dict[str, Any], set[str]]] = []
        home: set[str] = set()  # the sensors reported by the worker they are placed on
        #: what the workers' last reloads did to their sensors
        applied: dict[str, list[str]] = {}
        for worker in self.workers:
            body = self._fetch(worker, "/status")
            data: dict[str, Any] = {}
            if body is not None:
                with contextlib.suppress(ValueError):
                    loaded = json.loads(body)
                    data = loaded if isinstance(loaded, dict) else {}
            placed = self._placed(config, worker)
            answers.append((worker, data, placed))
            if data:
                home.update(name for name in data.get("sensors", {}) if name in placed)
        for worker, data, placed in answers:
            if not data:
                why = self._worker_state(worker)
                states.append(why)
                # its sensors stay listed, as the file places them, with the worker's state,
                # unless another worker reports one (the reload did not apply there)
                for sensor in shard_sensors(config, worker.index, self.count):
                    sensors.setdefault(
                        sensor.name,
                        {"state": f"worker {why}", "up": False, "worker": worker.index},
                    )
                continue
            states.append(data.get("state", "unknown"))
            for name, sensor in data.get("sensors", {}).items():
                # another worker's sensor is shown from here only when that worker does not
                # report it: the reload that moved it did not apply there, or not here yet
                if name in placed or name not in home:
                    sensors[name] = {**sensor, "worker": worker.index}
            told = data.get("config_last_reload_sensors")
            if isinstance(told, dict):
                for key, names in told.items():
                    if isinstance(names, list):
                        applied.setdefault(str(key), []).extend(str(name) for name in names)
            if data.get("config_last_reload_successful") is False:
                # the primary checked the file and passed the reload on: the worker applies it
                failed = data.get("config_last_reload_errors")
                reload_errors += [
                    f"worker {worker.index}: {error}"
                    for error in (failed if isinstance(failed, list) else ["(see its log)"])
                ]
        state = "running" if all(s == "running" for s in states) else "degraded"
        # the primary's own, and those of the workers that answered
        dropped = dropped_lines() + sum(
            n
            for _, data, _ in answers
            if isinstance(n := data.get("log_lines_dropped"), int) and not isinstance(n, bool)
        )
        return {
            "state": "stopping" if self._shutting_down else state,
            "log_lines_dropped": dropped,
            "config_last_reload_successful": self.reload_successful and not reload_errors,
            "config_last_reload_errors": self.reload_errors + reload_errors,
            "config_last_reload_sensors": _merged_reload_sensors(applied)
            if applied and self._reload_forwarded
            else None,
            "workers": [
                {
                    "index": w.index,
                    "pid": w.pid,
                    "ready": w.ready,
                    "responding": w.alive and not self._stuck(w, now),
                    "restarts": w.restarts,
                    "restart_refused": w.refused,
                    "status": w.status_line,
                }
                for w in self.workers
            ],
            "sensors": sensors,
        }

    @staticmethod
    def _worker_state(worker: Worker) -> str:
        """What keeps a worker from answering: down, starting, not responding, or not
        restarted."""
        if worker.refused:
            return "not restarted: restart needed"
        if not worker.alive:
            return "down"
        return "not responding" if worker.ready else "starting"

    def _stuck(self, worker: Worker, now: float) -> bool:
        """True when a ready worker has not pinged for ``_stuck_after_s`` (hung, or stopped by
        a signal); workers ping every ``worker_ping_s``, with or without systemd's watchdog."""
        return worker.ready and now - worker.last_ping > self._stuck_after_s

    def _healthy(self, worker: Worker, now: float) -> bool:
        return worker.alive and worker.ready and not self._stuck(worker, now)

    def health(self) -> tuple[bool, str]:
        now = time.monotonic()
        down = [w.index for w in self.workers if not (w.alive and w.ready)]
        if down:
            return False, f"workers not ready: {down}"
        stuck = [w.index for w in self.workers if self._stuck(w, now)]
        if stuck:
            return False, f"workers not responding: {stuck}"
        return True, f"ok: {self.count} workers"

    # -- run -----------------------------------------------------------------------------------
    @property
    def wakeup_fd(self) -> int:
        return self._wake_w

    def own(self, run: PipelineContext) -> None:
        run.enter(self._listener)
        run.callback(self._close_loop)

    def _close_loop(self) -> None:
        self._selector.close()
        for fd in (self._wake_r, self._wake_w):
            os.close(fd)

    def start(self, run: PipelineContext) -> None:
        if self.config_path is not None:
            # private to this run (mode 0700; under systemd's PrivateTmp, to the service),
            # removed after the workers stopped
            tmp = Path(tempfile.gettempdir())
            remove_orphaned_copies(tmp)
            try:
                self._snapshot = make_copy_folder(tmp) / self.config_path.name
                run.callback(self._remove_snapshot)
                self._write_snapshot()
            except OSError as exc:
                log.error(
                    "cannot write the workers' copy of the configuration",
                    directory=str(tmp),
                    error=exc.strerror or str(exc),
                    hint="the temporary directory ($TMPDIR, else /tmp) must be a directory "
                    "this user can write, with room for the file; or run without --workers",
                )
                raise StartError(f"cannot write the workers' copy in {tmp}: {exc}") from exc
            log.info(
                "workers read the configuration as validated, from a copy",
                config=str(self.config_path),
                copy=str(self._snapshot),
            )
        run.callback(self._stop_workers)
        for worker in self.workers:
            try:
                self._spawn(worker)
            except OSError as exc:  # as at a restart: READY=1 waits for it, under a time limit
                self._retry_later(
                    worker, time.monotonic(), "cannot start a worker; retrying", error=str(exc)
                )

    def started_fields(self) -> dict[str, Any]:
        return {"workers": self.count}

    def serve(self) -> None:
        self._loop()

    def _loop(self) -> None:
        while True:
            timeout = max(0.0, self._next_deadline() - time.monotonic())
            for key, _ in self._selector.select(timeout=timeout):
                if key.data == "notify":
                    self._on_notify()
                else:
                    with contextlib.suppress(BlockingIOError):
                        while os.read(self._wake_r, 4096):
                            pass
            if self.take_signals():
                return
            now = time.monotonic()
            self._check_workers(now)
            self._settle_reloads()
            self._systemd(now)

    def _next_deadline(self) -> float:
        """When the loop must run next even if no datagram or signal wakes it (a worker's exit
        wakes it through SIGCHLD): the next systemd ping, a notification systemd's full queue
        refused, restart, start timeout, hang check or backoff reset; at most MAX_SLEEP_S
        away."""
        now = time.monotonic()
        deadlines = [now + MAX_SLEEP_S]
        if self.watchdog_interval_s is not None:
            deadlines.append(self._next_watchdog)
        if self.notifier.pending:
            deadlines.append(now + NOTIFY_RETRY_S)
        for w in self.workers:
            if w.proc is None:
                deadlines.append(w.retry.next_at)
            elif w.killed:
                continue  # its exit wakes the loop (SIGCHLD)
            elif not w.ready:
                deadlines.append(w.started_at + START_TIMEOUT_S)
            else:
                deadlines.append(w.last_ping + self._stuck_after_s + 0.01)
                if w.retry.failures:
                    deadlines.append(w.started_at + STABLE_AFTER_S + 0.01)
        return min(deadlines)

    def _systemd(self, now: float) -> None:
        # a READY=1, RELOADING=1 or STATUS= a full queue refused goes first, once it frees
        self.notifier.flush()
        all_ready = all(w.ready and w.alive for w in self.workers)
        if all_ready and not self._ready_sent:
            self._ready_sent = True
            self._status_sent = self._status_line(now)
            self.notifier.ready(self._status_sent)
            log.info("ready", workers=self.count)
        elif self._ready_sent and not self._shutting_down:
            line = self._status_line(now)  # systemctl status shows a worker down at once
            if line != self._status_sent:
                self._status_sent = line
                self.notifier.status(line)
        if self.watchdog_interval_s is None or now < self._next_watchdog:
            return
        self._next_watchdog = now + self.watchdog_interval_s
        stuck = [w.index for w in self.workers if self._stuck(w, now)]
        if stuck:  # only a worker SIGKILL could not end yet: let systemd restart everything
            log.error("worker watchdog missed; withholding the ping", workers=stuck)
            return
        if not self.notifier.watchdog():
            # refused (a full queue): again a second on; the next one, an interval on, would
            # come at the watchdog's timeout, counted from the last ping that got through
            self._next_watchdog = now + min(NOTIFY_RETRY_S, self.watchdog_interval_s / 2)

    def reload_begins(self) -> None:
        self._reload_forwarded = False  # set by the reload's ``apply``, when it gets that far
        if self._ready_sent:
            self.notifier.reloading()

    def count_reload(self) -> None:
        self._reloads_to_count += 1

    def reload_ends(self) -> None:
        self._settle_reloads()

    def _settle_reloads(self) -> None:
        """Count the reloads whose outcome is set, and end them with READY=1, once no running
        worker has one forwarded to it still to apply: then each worker's ``/status`` tells
        its outcome (a worker that is down or starting reads the latest copy as it starts; one
        not ready yet gets the reload with its READY=1 and is waited for, until it is killed
        for not becoming ready). Reloads that come while the workers apply one are counted
        with it."""
        if not self._reloads_to_count or any(w.reloading for w in self.workers):
            return
        self.reloads += self._reloads_to_count
        self._reloads_to_count = 0
        if self._ready_sent:
            self._status_sent = self._status_line(time.monotonic())
            self.notifier.ready(self._status_sent)

    def _status_line(self, now: float) -> str:
        """systemd's STATUS=: every worker ready, or which are not and why."""
        not_ready = [
            f"worker {w.index} {self._worker_state(w) if not self._stuck(w, now) else 'hung'}"
            for w in self.workers
            if not self._healthy(w, now)
        ]
        if not not_ready:
            return f"{self.count} workers ready"
        ready = self.count - len(not_ready)
        return f"{ready}/{self.count} workers ready; {', '.join(not_ready)}"

    def capture_file(self, sensor: str) -> bytes | None:
        """The capture of ``sensor`` from the worker that reads it (a Modbus device: the
        worker of its bus, see ``shard_key``); None for a sensor the file does not have."""
        config = next((s for s in self.config.sensors if s.name == sensor), None)
        if config is None:
            return None
        worker = self.workers[shard_of(shard_key(config), self.count)]
        answered: list[str] = []
        query = "/capture?" + urllib.parse.urlencode({"sensor": sensor})
        body = self._fetch(worker, query, answered)
        if answered:  # the worker answered, with an error: its words
            raise CaptureUnavailableError(
                f"sensor {sensor!r} is read by worker {worker.index}, which answered "
                f"{answered[0]} (a reload may be under way there: try again)"
            )
        if body is None:
            raise CaptureUnavailableError(
                f"sensor {sensor!r} is read by worker {worker.index}, which is "
                f"{self._worker_state(worker)}: try again once it is ready ('sensord status' "
                "shows the workers)"
            )
        return body

    def write_captures(self) -> None:
        """SIGUSR1 goes on to every ready worker (before it is ready, it could end it); the
        sensors of the others write no capture, and the log says which."""
        skipped: list[Worker] = []
        for worker in self.workers:
            proc = worker.proc
            if worker.ready and proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGUSR1)
            else:
                skipped.append(worker)
        log.info("capture request forwarded to the workers", workers=self.count - len(skipped))
        if skipped:
            log.warning(
                "capture request not forwarded to workers that are not ready: their sensors "
                "write no capture",
                workers={w.index: self._worker_state(w) for w in skipped},
                sensors=[
                    s.name for w in skipped for s in shard_sensors(self.config, w.index, self.count)
                ],
                hint="send SIGUSR1 again once 'sensord status' shows every worker ready",
            )

    def load_config(self) -> Config:
        assert self.config_path is not None
        config, self._loaded_text = load_config_text(self.config_path)
        return config

    def _write_snapshot(self) -> None:
        """Replace the workers' copy of the configuration with the text validated last
        (``write_copy``)."""
        assert self._snapshot is not None
        assert self._config_text is not None
        write_copy(self._snapshot, self._config_text)

    def _restore_snapshot(self) -> None:
        """The workers' copy written again before a worker starts, and at a reload, its
        directory made anew first when a cleanup of the temporary directory removed it
        (``copy_path_again``)."""
        assert self._snapshot is not None
        self._snapshot = copy_path_again(self._snapshot)
        self._write_snapshot()

    def _write_devices_read(self) -> None:
        """Write the device paths the run has read beside the workers' copy, for the workers
        to read at the reload that follows (``write_devices_read``)."""
        assert self._snapshot is not None
        write_devices_read(self._snapshot, self._devices_read)

    def _remove_snapshot(self) -> None:
        """Remove the directory of the workers' copy, as the primary stops."""
        if self._snapshot is not None:
            remove_copy_folder(self._snapshot.parent)

    def apply(self, new: Config) -> list[str]:
        """Forward a validated configuration to the workers: the copy they read becomes the
        text just validated, then each gets SIGHUP. ``[http]`` runs as it started until a
        restart: changed, it is kept (the reload is applied in part, as when new settings
        cannot be served), so the failed reload tells that the file is not what runs; but
        new basic-auth credentials and TLS files (``set_in_place``) and a certificate or key
        renewed at the paths it runs with (``renew_tls``) are served."""
        if self._snapshot is not None:
            running, self._config_text = self._config_text, self._loaded_text
            try:
                self._restore_snapshot()
            except BaseException:
                # the reload fails (the temporary directory full, say): a worker restarted
                # later runs what the others run, never the text the reload did not apply
                self._config_text = running
                raise
        # a path no sensor names any more is forgotten: a sensor a later reload adds on it
        # starts as a new sensor does, simulated while it is absent (simulate = "auto")
        self._devices_read &= {s.port for s in new.sensors}
        if self._snapshot is not None:
            self._write_devices_read()
        started = self._started_config
        # credentials and TLS: applied on the server that runs, with workers too, also when
        # the rest of [http] changed, which waits for a restart
        taken = in_place_settings(started.http, new.http)
        if self.set_in_place(started.http, taken):
            started = self._started_config = started.replace(http=taken)
        kept = ["http"] if new.http != started.http else []
        # a certificate renewed at the paths it runs with is served at once, as without workers
        renewed = [] if kept else self.renewed_tls_files(started.http)
        if renewed and not self.renew_tls(started.http, renewed):
            kept.append("http")
        if new.http != started.http or new.log != started.log:
            log.warning(
                "[http] and [log] changes apply at the next restart with --workers",
                http=new.http != started.http,
                log=new.log != started.log,
                hint="restart sensord (systemctl restart sensord) to apply them",
            )
        for worker in self.workers:
            # a worker that is not ready may not handle SIGHUP yet (it would end it): it
            # gets the signal with its READY=1
            proc = worker.proc
            if proc is not None and worker.copy != self._snapshot and proc.poll() is None:
                # its copy's path is another's now (its directory was removed, and the name
                # taken since): restarted on the new copy, not told to read what is there
                log.warning(
                    "worker restarted to read the new copy of the configuration",
                    worker=worker.index,
                    copy=str(self._snapshot),
                )
                worker.moving = True
                proc.terminate()
            elif worker.ready and proc is not None and proc.poll() is None:
                worker.send_reload()
            elif proc is not None:
                worker.reload_pending = True
        self._reload_forwarded = True
        log.info("configuration reload forwarded to the workers", workers=self.count)
        return kept

    def _stop_workers(self) -> None:
        self._shutting_down = True
        alive = [w for w in self.workers if w.alive and w.proc is not None]
        for worker in alive:
            assert worker.proc is not None
            worker.proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for worker in alive:
            assert worker.proc is not None
            try:
                worker.proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.error("worker did not stop in time; killing it", worker=worker.index)
                worker.proc.kill()
                worker.proc.wait()


def _merged_reload_sensors(applied: dict[str, list[str]]) -> dict[str, list[str]]:
    """The workers' ``config_last_reload_sensors`` as one: a sensor one worker removed and
    another added (the reload moved it) was restarted, in another process."""
    moved = set(applied.get("added", ())) & set(applied.get("removed", ()))
    merged = {key: sorted(set(names) - moved) for key, names in applied.items()}
    merged["restarted"] = sorted({*merged.get("restarted", ()), *moved})
    return merged
