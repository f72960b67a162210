"""The daemon: the reader loop over this process's sensors, inside the service shell.

The reader loop runs on the main thread. Signal handlers only set a flag and wake the loop
(see ``sensord.service``), so SIGHUP reloads and SIGTERM shutdowns happen between batches,
never in the middle of one. HTTP runs on threads of its own and only reads snapshots.

Process states: ``starting`` -> ``running`` / ``degraded`` (some sensor not up) -> ``stopping``.
The systemd watchdog is pinged from the loop's housekeeping, so a loop that hangs (a stage that
never returns) stops the pings and systemd restarts the service.

A worker of ``sensord run --workers N`` is a daemon with ``shard=(index, N)``: it reads only
its shard's sensors and serves HTTP on the primary's private loopback channel.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import structlog

from sensord import __version__
from sensord.capture import (
    capture_files,
    capture_stamp,
    describe_serial,
    next_capture_path,
    write_capture_file,
)
from sensord.config import Config
from sensord.config_sensor import SensorConfig
from sensord.errors import SourceBrokenError
from sensord.export import MetricsRegistry, RestartCollector
from sensord.http import HttpCollector
from sensord.pipeline import PipelineContext
from sensord.reader import Reader
from sensord.reopen import DEVICE_WATCH_S
from sensord.sdnotify import Notifier
from sensord.sensor import SensorRuntime
from sensord.sensor_source import wants_simulation
from sensord.service import Service
from sensord.shard import (
    DEVICES_READ_ENV,
    DEVICES_READ_FIELD,
    DEVICES_READ_FILE,
    HTTP_PORT_FIELD,
    PRIMARY_BUILD_ENV,
    RELOADS_FIELD,
    WORKER_SECRET_ENV,
    devices_read,
    primary_pid,
    shard_sensors,
    worker_http_config,
)
from sensord.snapshot import SensorSnapshot

__all__ = ["Daemon"]

log = structlog.get_logger("sensord.daemon")

#: The most a worker's notification of the device paths it opened holds, in bytes of JSON
#: (the primary reads datagrams of up to 4 KiB); more paths go in more notifications.
DEVICES_TOLD_BYTES = 2048
#: Upper bound for the drain of kernel buffers at shutdown, and at a reload of the ports of
#: the sensors of DSMR telegrams it stops (``Daemon._hand_over_telegrams``).
DRAIN_LIMIT_S = 1.0
#: Sensors that are not up named in the summary line (the others are counted).
SUMMARY_NAMES = 5
#: How long a capture requested from another thread (``/capture``) waits for the reader loop
#: to make it from its ring and journal before it is made from the ring alone (well within
#: the primary's wait for a worker's answer, ``sensord.workers.FETCH_TIMEOUT_S``).
CAPTURE_WAIT_S = 1.0


class Daemon(Service):
    """Runs one configuration until SIGTERM/SIGINT; reloads on SIGHUP. ``clock`` and
    ``wall_clock`` are the service's (its uptime and the time of its last reload)."""

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
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.shard = shard
        env = environ if environ is not None else dict(os.environ)
        #: A worker's HTTP server is the primary's private channel, whatever [http] says
        self._worker_http = worker_http_config(env.get(WORKER_SECRET_ENV)) if shard else None
        super().__init__(
            config,
            config_path=config_path,
            listen=listen,
            port=port,
            notifier=notifier,
            environ=env,
            clock=clock,
            wall_clock=wall_clock,
        )
        #: A worker's primary (``--workers``): the worker stops when it is no longer its parent.
        self.primary_pid = primary_pid(env) if shard is not None else None
        #: the digest of the package the primary runs, for a worker
        self.primary_build = env.get(PRIMARY_BUILD_ENV) if shard is not None else None
        #: a worker's device paths the primary has heard opened (it tells each the paths it
        #: opens): this process's, and those the run's workers read before it
        self._devices_told: set[str] = set()
        self._runtimes: tuple[SensorRuntime, ...] = ()
        #: the sensors the last reload added, removed, restarted and updated in place (with
        #: the port open): ``/status`` ``config_last_reload_sensors``; None before a reload
        self.reload_sensors: dict[str, list[str]] | None = None
        self._applied: dict[str, list[str]] | None = None
        self._ring_bytes = self.config.capture.ring_bytes
        self._ready_sent = False
        self._next_watchdog = 0.0
        self._next_device_watch = 0.0
        self._last_status = ""
        self._loop_heartbeat = time.monotonic()

        self.metrics = MetricsRegistry(
            self, __version__, self.config.metrics.step_timing_sample_every
        )
        self.metrics.registry.register(HttpCollector(lambda: self.http))
        self.metrics.registry.register(RestartCollector(lambda: self.restart_needed))
        self.reader = Reader(on_housekeeping=self._housekeeping)
        if self.watchdog_interval_s is not None:  # housekeeping pings: twice per interval
            half = self.watchdog_interval_s / 2
            self.reader.housekeeping_interval_s = min(self.reader.housekeeping_interval_s, half)
            self.reader.idle_housekeeping_interval_s = min(
                self.reader.idle_housekeeping_interval_s, half
            )
        self.reader.batch_interval_s = self.config.reader.batch_interval_s
        #: the configured sensors, built before HTTP is bound (a Modbus device's first one loads
        #: pymodbus, a tenth of a second or more), so that ``start`` hands them to the reader at
        #: once and ``/status`` lists every one from its first answer
        self._built = [self._make_runtime(c) for c in self.own_sensors(self.config)]
        self._runtimes = tuple(self._built)
        if shard is not None:
            # a worker started again (its predecessor ended) while a device the run read is
            # unplugged: that sensor waits for its device, as one unplugged later does
            self._devices_told.update(devices_read(env.get(DEVICES_READ_ENV)))
            for runtime in self._built:
                if runtime.config.port in self._devices_told:
                    runtime.wait_for_device()

    def effective(self, config: Config) -> Config:
        if self._worker_http is not None:
            return config.replace(http=self._worker_http)
        return super().effective(config)

    def own_sensors(self, config: Config) -> Sequence[SensorConfig]:
        """The sensors this process reads: all of them, or a worker's shard."""
        if self.shard is None:
            return config.sensors
        return shard_sensors(config, *self.shard)

    # -- the read model, for metrics and /status -----------------------------------------------
    def sensor_snapshots(self) -> Sequence[SensorSnapshot]:
        return [runtime.snapshot() for runtime in self._runtimes]

    def _refresh_runtimes(self) -> None:
        self._runtimes = tuple(self.reader.sensors.values())

    def render_metrics(self, accept: str | None) -> tuple[bytes, str]:
        return self.metrics.render(accept)

    def process_state(self) -> str:
        if self.state in ("starting", "stopping"):
            return self.state
        active = [s for s in self._runtimes if s.state != "stopped"]
        # a simulation standing in for a device that was absent at start publishes made-up
        # readings under the device's name: not a run that goes as configured
        return "degraded" if any(s.state != "up" or _standing_in(s) for s in active) else "running"

    def status_body(self) -> dict[str, Any]:
        return {
            "state": self.process_state(),
            "config_last_reload_sensors": self.reload_sensors,
            "sensors": {s.name: s.as_json() for s in self.sensor_snapshots()},
        }

    def health(self) -> tuple[bool, str]:
        age = time.monotonic() - self._loop_heartbeat
        limit = max(5.0, 5 * self.reader.housekeeping_every_s)
        if age > limit:
            return False, f"reader loop has not run for {age:.1f}s"
        return True, f"ok: {self.process_state()}"

    def summary_line(self) -> str:
        """``N/M sensors up (NAME=STATE, ...); F frames``, naming at most five sensors that
        are not up. Built at every housekeeping pass: one walk over the sensors."""
        runtimes = self._runtimes
        up = frames = 0
        not_up: list[str] = []
        for runtime in runtimes:
            frames += runtime.framer.frames
            state = runtime.state
            if state == "up":
                up += 1
            elif len(not_up) <= SUMMARY_NAMES:
                not_up.append(f"{runtime.name}={state}")
        text = f"{up}/{len(runtimes)} sensors up"
        if not_up:
            more = ", ..." if len(not_up) > SUMMARY_NAMES else ""
            text += " (" + ", ".join(not_up[:SUMMARY_NAMES]) + more + ")"
        return f"{text}; {frames} frames"

    def counts(self) -> tuple[int, int] | None:
        records = dropped = 0
        for snap in self.sensor_snapshots():
            first = next(iter(snap.steps.values()), None)
            records += 0 if first is None else first.records_in
            dropped += sum(sum(step.dropped.values()) for step in snap.steps.values())
        return records, dropped

    # -- captures ------------------------------------------------------------------------------
    def capture_file(self, sensor: str) -> bytes | None:
        """The capture file of ``sensor``'s ring (None: no such sensor here); any thread. It
        is made on the reader's thread, which first gives the ring the chunks its journal
        holds; if the loop does not get to it within ``CAPTURE_WAIT_S``, it holds what the
        ring held at the last flush."""
        runtime = next((r for r in self._runtimes if r.name == sensor), None)
        if runtime is None:
            return None
        return self.reader.on_loop(
            lambda: _capture_of(runtime),
            lambda: _capture_of(runtime, flushed=False),
            CAPTURE_WAIT_S,
        )

    def write_captures(self) -> None:
        """SIGUSR1: write every sensor's ring into ``[capture] directory``, one file each
        (``NAME-YYYYmmddTHHMMSSZ.cap``, the wall clock's UTC time; ``-2``, ``-3``... before
        ``.cap`` for the later ones of the same second), each complete or absent (written,
        then renamed: a write that fails, on a full disk say, removes what it wrote, and the
        other sensors' files are still tried); of each sensor's files there, the one just
        written and the newest others by name stay, ``keep_files`` in all."""
        directory = self.config.capture.directory
        if directory is None:
            log.warning(
                "SIGUSR1: no captures written: [capture] directory is not set",
                hint='set it, e.g. directory = "/var/lib/sensord/captures" (the state directory '
                "sensord.service gives the daemon), and reload; 'sensord capture SENSOR' "
                "fetches one sensor's recent bytes without it",
            )
            return
        stamp = capture_stamp(self._wall_clock())
        written: list[str] = []
        failed: list[str] = []
        error = ""
        removed = 0
        keep = self.config.capture.keep_files
        try:
            os.makedirs(directory, mode=0o750, exist_ok=True)
        except OSError as exc:
            log.error("cannot write captures", directory=directory, error=exc.strerror or str(exc))
            return
        for runtime in self._runtimes:
            try:
                others = capture_files(Path(directory), runtime.name)
                path = next_capture_path(Path(directory), runtime.name, stamp, others)
                write_capture_file(path, _capture_of(runtime))
                written.append(path.name)
                removed += _prune_captures(others, keep)
            except OSError as exc:  # the write, or the removal of an old file
                failed.append(runtime.name)
                error = error or exc.strerror or str(exc)
        if failed:
            log.error(
                "cannot write captures",
                directory=directory,
                error=error,
                sensors=failed,
                files=written,
                removed_old=removed,
            )
            return
        log.info("captures written", directory=directory, files=written, removed_old=removed)

    # -- building sensors ----------------------------------------------------------------------
    def _make_runtime(
        self, sensor_config: SensorConfig, ring_bytes: int | None = None
    ) -> SensorRuntime:
        """A sensor's runtime, instrumented, with a capture ring of ``ring_bytes`` (default:
        the running configuration's)."""
        runtime = SensorRuntime(
            sensor_config,
            capture_ring_bytes=self._ring_bytes if ring_bytes is None else ring_bytes,
        )
        runtime.instrument(self.metrics.timer_for())
        return runtime

    # -- run -----------------------------------------------------------------------------------
    @property
    def wakeup_fd(self) -> int:
        return self.reader.wakeup_fd

    def own(self, run: PipelineContext) -> None:
        run.enter(self.reader)  # it closes every source

    def start(self, run: PipelineContext) -> None:
        run.callback(self._summarise)
        built, self._built = self._built, []
        for runtime in built:
            self.reader.add(runtime)
        self._refresh_runtimes()

    @property
    def started_event(self) -> str:
        return "sensord started" if self.shard is None else "sensord worker started"

    def started_fields(self) -> dict[str, Any]:
        return {
            "sensors": len(self._runtimes),
            "shard": f"{self.shard[0]}/{self.shard[1]}" if self.shard else None,
        }

    def serve(self) -> None:
        self.reader.run(until=self._until)

    def _until(self) -> bool:
        """Called by the loop every iteration; True means stop."""
        self._loop_heartbeat = time.monotonic()
        return self.take_signals()

    def _summarise(self) -> None:
        """Drain what the kernel still buffers, read a DSMR telegram that it leaves whole at
        its ``!`` (``SensorRuntime.end_whole``: a meter's last telegram, its quiet end not yet
        come), then log one summary line per sensor (before the reader closes the sources)."""
        deadline = time.monotonic() + DRAIN_LIMIT_S
        for runtime in self._runtimes:
            self._drain(runtime, deadline)
            runtime.end_whole()
        for runtime in self._runtimes:
            unaccounted = {
                f"{ch.name}.{stage.step}": stage.imbalance
                for ch in runtime.channels.values()
                for stage in ch.chain.stages
                if stage.imbalance
            }
            if unaccounted:  # a stage let records go without counting them: a bug
                log.error("records left a stage uncounted", sensor=runtime.name, **unaccounted)
        for snap in self.sensor_snapshots():
            first = next(iter(snap.steps.values()), None)
            log.info(
                "sensor summary",
                sensor=snap.name,
                state=snap.state,
                simulated=snap.simulated,
                frames=snap.frames,
                readings=0 if first is None else first.records_in,
                parse_errors=sum(snap.parse_errors.values()),
                reconnects=snap.reconnects,
            )

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

    def _read_line_errors(self) -> None:
        """The kernel's line error counters of every open device port, a bus's for each of
        its devices (once per tick); a driver without them is logged once per sensor and not
        asked again until its port reopens."""
        for runtime in self._runtimes:
            line = runtime.line
            if line.unsupported is not None and line.reported:
                continue
            read = runtime.line_counters()
            if read is None:
                continue
            line.update(read)
            if line.unsupported is not None and not line.reported:
                line.reported = True
                log.info(
                    "no line error counters for this port",
                    sensor=runtime.name,
                    reason=line.unsupported,
                )

    def _notify_ready(self, status: str) -> None:
        if self.shard is not None and self.http is not None:
            # a worker tells the primary where its HTTP server is, with every READY=1
            self.notifier.notify("READY=1", *self._worker_fields(status))
        else:
            self.notifier.ready(status)

    def _worker_fields(self, status: str) -> tuple[str, ...]:
        """What a worker's ``READY=1`` and each of its pings tell the primary: its status line,
        its HTTP port and the reloads it has applied. The primary's queue drops a datagram
        that comes while it is full, so any ping that gets through tells it all again."""
        assert self.http is not None
        return (
            "STATUS=" + " ".join(status.splitlines()),
            f"{HTTP_PORT_FIELD}={self.http.port}",
            f"{RELOADS_FIELD}={self.reloads}",
        )

    def _ping(self) -> bool:
        """``WATCHDOG=1``, a worker's with ``_worker_fields``; False when it was not sent."""
        if self.shard is not None and self.http is not None:
            return self.notifier.notify("WATCHDOG=1", *self._worker_fields(self._last_status))
        return self.notifier.watchdog()

    def reload_begins(self) -> None:
        self.reload_sensors = None  # set by the reload's ``apply``, when it gets that far
        # before the first READY=1 the service manager still waits for the start: a reload
        # then (a SIGHUP during the start) is part of it, and that READY=1 ends both
        if self._ready_sent:
            super().reload_begins()

    def reload_ends(self) -> None:
        if self._ready_sent:
            self._notify_ready(self.summary_line())

    # -- housekeeping (on the loop thread) -----------------------------------------------------
    def _housekeeping(self, now: float) -> None:
        self._loop_heartbeat = now
        self._read_line_errors()
        for runtime in self._runtimes:
            runtime.remind(now)
        if self.primary_pid is not None and os.getppid() != self.primary_pid:
            # the primary died without stopping its workers (SIGKILL, a crash): a worker left
            # running would hold its ports and keep a restarted sensord from opening them
            log.error("the primary process is gone; stopping", primary_pid=self.primary_pid)
            self.primary_pid = None
            self.reader.stop()
            return
        if self.shard is not None:
            self._tell_devices_opened()
        # a READY=1, RELOADING=1 or STATUS= a full queue refused goes first, once it frees
        self.notifier.flush()
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
                # a ping a full queue refused goes again at the next housekeeping, within half
                # an interval: the next one, a whole interval on, may come too late
                if self._ping():
                    self._next_watchdog = now + self.watchdog_interval_s
            else:
                log.error("a port reader thread is stuck; withholding the watchdog ping")
        if now >= self._next_device_watch:
            self._next_device_watch = now + DEVICE_WATCH_S
            self._read_found_devices()

    def _devices_read_by_the_run(self) -> frozenset[str]:
        """The device paths the primary wrote beside this worker's copy of the configuration
        at the reload under way (``DEVICES_READ_FILE``); none when it wrote none."""
        if self.config_path is None:
            return frozenset()
        try:
            text = self.config_path.with_name(DEVICES_READ_FILE).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            return frozenset()
        return devices_read(text)

    def _tell_devices_opened(self) -> None:
        """Tell the primary the device paths this worker has opened since it last told: a
        worker it starts in this one's place reads those devices, never simulations."""
        opened = {
            runtime.config.port
            for runtime in self._runtimes
            if runtime.opened_device
            and runtime.config.port not in self._devices_told
            and runtime.config.address.is_device
        }
        if not opened:
            return
        batches: list[list[str]] = [[]]
        for path in sorted(opened):
            if batches[-1] and len(json.dumps([*batches[-1], path])) > DEVICES_TOLD_BYTES:
                batches.append([])  # datagrams the primary reads whole: a few KiB at most
            batches[-1].append(path)
        for batch in batches:
            if not self.notifier.notify(f"{DEVICES_READ_FIELD}={json.dumps(batch)}"):
                return  # the rest is told at the next housekeeping
            self._devices_told.update(batch)

    def _read_found_devices(self) -> None:
        """Restart on its device each sensor (or Modbus bus) simulated because its device path
        was absent when it started, once that path is there; the other sensors run on."""
        found = [
            runtime.config
            for name, runtime in self.reader.sensors.items()
            if self._device_found(name, runtime.config)
        ]
        if not found:
            return
        for config in found:
            log.info(
                "device present: reading it instead of its simulation",
                sensor=config.name,
                port=config.port,
            )
        try:
            self._apply(self.config, "sensors restarted on their devices")
        except Exception as exc:  # a bug must not stop the loop: the next watch tries again
            log.error(
                "sensors could not be restarted on their devices",
                sensors=[config.name for config in found],
                error=repr(exc),
                exc_info=exc,
            )

    # -- reload --------------------------------------------------------------------------------
    def _device_found(self, name: str, config: SensorConfig) -> bool:
        """True for a sensor that reads a simulation because its device path was absent when
        it started (``simulate = "auto"``) and whose device is there now: housekeeping (or a
        reload) restarts it on the device. A device unplugged after it started is never
        replaced by a simulation, so a sensor that reads a device is not restarted for its
        absence."""
        return (  # the cheap test first: housekeeping asks of every sensor every 2 s
            self.reader.sensors[name].simulated
            and config.address.is_device
            and not wants_simulation(config)
        )

    def _hand_over_telegrams(self, going: list[str], fresh: list[SensorRuntime]) -> None:
        """Before the sensors named in ``going`` that read DSMR telegrams (format dsmr, or
        ``parse.block``) stop for a reload, what the kernel still buffers of their ports is
        read, and a telegram that leaves whole at its ``!`` (its quiet end not yet come) is
        read (``SensorRuntime.end_whole``), as at a stop (``_summarise``): the telegrams of
        both by the sensor of ``fresh`` that reads the same device in the same format
        (``SensorRuntime.hands_over_to``), else by the sensor's own channels."""
        successors = {_device_of(runtime.config): runtime for runtime in fresh}
        deadline = time.monotonic() + DRAIN_LIMIT_S
        for name in going:
            before = self.reader.sensors[name]
            if not before.reads_telegrams:
                continue
            successor = successors.get(_device_of(before.config))
            handing: contextlib.AbstractContextManager[None] = (
                before.handing_over(successor)
                if successor is not None and before.hands_over_to(successor)
                else contextlib.nullcontext()
            )
            with handing:
                self._drain(before, deadline)
                before.end_whole()

    def reload(self) -> bool:
        # the loop reads no port while the reload runs on it: answers that came meanwhile
        # are not late for that (``Reader.holding``)
        with self.reader.holding():
            return super().reload()

    def apply(self, new: Config) -> list[str]:
        self._applied = None
        try:
            return self._apply(new, "configuration reloaded")
        finally:
            self.reload_sensors = self._applied

    def _apply(self, new: Config, event: str) -> list[str]:
        """Apply ``new`` as a diff (see ``apply``), logged as ``event``, the loop held
        meanwhile (``Reader.holding``)."""
        with self.reader.holding():
            return self._apply_held(new, event)

    def _apply_held(self, new: Config, event: str) -> list[str]:
        old = self.config
        # the sensors that run, as they were built (a sensor a reload could not start is not
        # among them, so the next reload starts it)
        old_sensors = {name: runtime.config for name, runtime in self.reader.sensors.items()}
        new_sensors = {s.name: s for s in self.own_sensors(new)}
        removed = [n for n in old_sensors if n not in new_sensors]
        added = [n for n in new_sensors if n not in old_sensors]
        changed = [
            n
            for n in new_sensors
            if n in old_sensors
            and (new_sensors[n] != old_sensors[n] or self._device_found(n, new_sensors[n]))
        ]
        # an edit of only what is done with a sensor's data is taken with its port open:
        # opening a serial port again raises DTR (an Arduino resets), loses a partial line,
        # writes the set-up again and starts the counters over
        updated = [
            n
            for n in changed
            if not self._device_found(n, new_sensors[n])
            and self.reader.sensors[n].retunes_to(new_sensors[n])
        ]
        changed = [n for n in changed if n not in updated]
        retime = new.metrics != old.metrics
        # built before anything changes: a sensor that cannot be built leaves the run as it is
        ring_bytes = new.capture.ring_bytes
        fresh = [self._make_runtime(new_sensors[n], ring_bytes) for n in changed + added]
        # a device open all along is not cold because the sensor reading it was renamed, or
        # moved from or onto its port (two sensors' ports swapped): each new sensor goes on
        # with the warm-up of the one that read its device, else of its own predecessor
        leaving = {
            _device_of(self.reader.sensors[n].config): self.reader.sensors[n]
            for n in removed + changed
        }
        for runtime in fresh:
            before = leaving.get(_device_of(runtime.config))
            if before is None and runtime.name in old_sensors:
                before = self.reader.sensors[runtime.name]
            if before is not None:
                runtime.carry_warm_up(before)
                runtime.carry_device(before)
        if self.shard is not None:
            # a sensor the reload moves here from another worker, whose device is unplugged,
            # waits for it as it did there; a path no sensor names any more is forgotten, as
            # the primary forgets it, so a sensor added on it later starts as a new one
            self._devices_told &= {s.port for s in new.sensors}
            self._devices_told.update(self._devices_read_by_the_run())
            for runtime in fresh:
                if runtime.config.port in self._devices_told:
                    runtime.wait_for_device()
        # a bus reads its device or a simulation as a whole, by the choice of its first device
        # (``Reader.add``): one of its devices that read the device makes the bus read it
        reading = {r.bus_key for r in fresh if r.bus_key is not None and not r.simulated}
        for runtime in fresh:
            if runtime.bus_key in reading:
                runtime.simulated = False
        self._ring_bytes = ring_bytes
        for runtime in self.reader.sensors.values():
            runtime.resize_capture(self._ring_bytes)
        if retime:
            self.metrics.sample_every = new.metrics.step_timing_sample_every
        self._hand_over_telegrams(removed + changed, fresh)
        # what a scrape reads switches to the new sensors before the old ones stop: it shows a
        # changed sensor opening, as after the reload, never the stopped one it replaces
        going = set(removed + changed)
        self._runtimes = tuple(
            [r for r in self._runtimes if r.name not in going and r.name in new_sensors] + fresh
        )
        kept: list[str] = []
        try:
            for name in removed + changed:
                self.reader.remove(name)
            for runtime in fresh:
                try:
                    self.reader.add(runtime)
                except Exception as exc:  # a bug must not leave the other sensors unapplied
                    log.error("sensor could not be started", sensor=runtime.name, error=repr(exc))
                    if "sensors" not in kept:
                        kept.append("sensors")
            for name in updated:
                try:
                    self.reader.retune(name, new_sensors[name])
                except Exception as exc:  # as above; the next reload tries it again
                    log.error("sensor could not be updated", sensor=name, error=repr(exc))
                    if "sensors" not in kept:
                        kept.append("sensors")
            if retime:
                for runtime in self.reader.sensors.values():
                    runtime.instrument(self.metrics.timer_for())
            self.reader.batch_interval_s = new.reader.batch_interval_s
            # credentials and TLS are set on the running server; its address, on a new one
            in_place = self.set_in_place(old.http, new.http)
            if in_place is None:
                if (new.http != old.http or self.http_lost) and not self.restart_http(new.http):
                    kept.append("http")
            elif not in_place or not self._serve_renewed_tls(new.http):
                kept.append("http")
            if new.log != old.log:
                log.warning("log settings change at the next restart", log=new.log.as_dict())
        finally:
            # what the reader runs, also when a step above raised (the reload then fails): a
            # scrape never shows a sensor that was not started, nor hides one that runs on
            self._refresh_runtimes()
        self._applied = {
            "added": added,
            "removed": removed,
            "restarted": changed,
            "updated": updated,
        }
        log.info(
            event,
            config=str(self.config_path),
            added=added,
            removed=removed,
            restarted=changed,
            updated=updated,
            unchanged=len(new_sensors) - len(added) - len(changed) - len(updated),
        )
        return kept


def _standing_in(runtime: SensorRuntime) -> bool:
    """Whether ``runtime`` reads a simulation because its device path was absent at start
    (``simulate = "auto"``), not because its config asks for one."""
    config = runtime.config
    return runtime.simulated and config.simulate == "auto" and config.address.is_device


def _device_of(config: SensorConfig) -> tuple[str, int | None]:
    """The device a sensor reads: its port, a device path resolved through its links
    (``PortAddress.device``: a reload that names ``/dev/ttyUSB0`` by its by-id link, or the
    reverse, names the same device), and on a Modbus bus its unit id."""
    return config.address.device(), config.modbus_unit if config.on_bus else None


def _prune_captures(others: list[tuple[str, int, Path]], keep: int) -> int:
    """Remove a sensor's capture files ``others`` (:func:`~sensord.capture.capture_files`,
    listed before the one just written, which stays) but the newest ``keep - 1``; how many
    were removed. After the clock was stepped back (a wrong time server, ``date``), the file
    just written sorts before the others by name, and is kept all the same."""
    removed = others[: max(0, len(others) - (keep - 1))]
    for _, _, old in removed:
        old.unlink(missing_ok=True)
    return len(removed)


def _capture_of(runtime: SensorRuntime, *, flushed: bool = True) -> bytes:
    """The capture file of ``runtime``'s ring; ``flushed``: with the chunks the reader's
    journal still holds for it (on the reader's thread only)."""
    if flushed:
        runtime.flush_capture()
    config = runtime.config
    header = {
        "sensord": __version__,
        "sensor": runtime.name,
        "port": config.port,
        "serial": describe_serial(config.serial.settings()),
        "format": config.format,
    }
    return runtime.capture.capture(header)
