"""The process shell shared by ``sensord run`` (``sensord.daemon.Daemon``) and the ``--workers``
primary (``sensord.workers.Primary``): signals, sd_notify, the HTTP lifecycle, validate-first
reload, the ``/status`` envelope, and the ``PipelineContext`` that owns every resource of the
run.

``Service.run`` enters the resources into one ``PipelineContext``: the HTTP server, the
notifier, what the subclass starts (the reader with every source, or the worker processes) and
the signal handlers. They are closed on every exit path, last opened first, and one summary
line is logged. Signal handlers only record the signal and wake the loop (through
``wakeup_fd``), so a reload or a stop happens between two iterations of the subclass's loop,
never in the middle of one.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import math
import os
import signal
import socket
import ssl
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

import structlog

from sensord import __version__, early_signals
from sensord.build import BuildWatch
from sensord.config import Config, load_config
from sensord.config_tables import HttpConfig
from sensord.errors import ConfigError, SensordError
from sensord.http import HttpServer, HttpThreadError, credentials, serve, tls_files
from sensord.log_output import dropped_lines
from sensord.pipeline import PipelineContext
from sensord.port_holders import tcp_listeners
from sensord.sdnotify import Notifier, watchdog_interval_s

__all__ = [
    "DEMO_CONFIG_LABEL",
    "EXIT_HTTP",
    "KEPT_SETTINGS",
    "Service",
    "StartError",
    "deferred_signals",
    "in_place_settings",
]

log = structlog.get_logger("sensord.service")

#: Exit code when the run cannot start: its HTTP server, or what the service starts
#: (``StartError``).
EXIT_HTTP = 3

#: What keeps a process from starting a thread (``Thread.start`` raises RuntimeError).
NO_THREAD_HINT = (
    "the process may start no more threads (the service's task limit, TasksMax= in "
    "systemctl edit sensord, or memory)"
)

#: How far the Unix time of the last reload, as the wall clock reads now, must move before
#: ``sensord_config_last_reload_success_timestamp_seconds`` shows the new time: a step of the
#: wall clock moves it at once, and a drift of the two clocks once it adds up to this.
WALL_STEP_S = 1.0

#: ``/status``'s ``config`` of a daemon that runs the built-in demo (no file to reload).
DEMO_CONFIG_LABEL = "<built-in demo>"
#: The keys of ``[http]`` a reload applies to the running server (``Service.set_in_place``):
#: the credentials are checked per request, the TLS context taken per connection.
_IN_PLACE = ("basic_auth_username", "basic_auth_password", "tls_cert_file", "tls_key_file")
#: How a reload applied in part names a section that runs as before (``/status``'s
#: ``config_last_reload_errors``).
KEPT_SETTINGS = "keeps its running settings (see the log)"

_STOP_SIGNALS = early_signals.STOP_SIGNALS
_RUN_SIGNALS = early_signals.RUN_SIGNALS


@contextlib.contextmanager
def deferred_signals() -> Iterator[None]:
    """While ``sensord run`` reads its configuration and builds its sensors (half a second and
    more, pymodbus loaded included), the run's signals are held (``sensord.early_signals``:
    from the entry point on when the command started there) instead of taking their default
    action (SIGHUP's and SIGUSR1's end the process without a word), and the ``Service`` that
    then runs takes them as if they came at its start. The handlers in place before are
    restored after, and what no service took is dropped."""
    early_signals.hold()
    try:
        yield
    finally:
        early_signals.drop()


class StartError(SensordError):
    """The run cannot start; the reason has been logged."""


class HttpStartError(StartError):
    """The HTTP server cannot start; the reason has been logged."""


class Service(ABC):
    """See the module docstring. Subclasses fill in the loop and what a config change means."""

    #: The name in the summary line.
    name = "sensord"
    #: Signals besides SIGTERM, SIGINT and SIGHUP that should wake the loop.
    wake_signals: tuple[signal.Signals, ...] = ()

    def __init__(
        self,
        config: Config,
        *,
        config_path: Path | None,
        listen: str | None,
        port: int | None,
        notifier: Notifier | None = None,
        environ: dict[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], float] = time.time,
        build: BuildWatch | None = None,
    ) -> None:
        #: durations (uptime, the age of the last reload) are measured on ``clock``, which a
        #: step of the wall clock (NTP after a boot without a real-time clock, ``date``) leaves
        #: alone; ``wall_clock`` only turns a moment into a Unix time when it is shown
        self._clock = clock
        self._wall_clock = wall_clock
        self.environ = environ if environ is not None else dict(os.environ)
        self._listen_override = listen
        self._port_override = port
        self.config_path = config_path
        self.config = self.effective(config)
        self.notifier = notifier if notifier is not None else Notifier(environ=self.environ)
        self.watchdog_interval_s = watchdog_interval_s(self.environ)
        self.state = "starting"
        self.started_at = clock()
        self.reload_successful = True
        #: why the last reload did not apply (its configuration errors, or what it kept), for
        #: ``/status``; empty after one that did
        self.reload_errors: list[str] = []
        #: when the configuration was last loaded or reloaded successfully, on ``clock``
        self.reload_succeeded_at = self.started_at
        #: the Unix time last shown for ``reload_succeeded_at``: (that moment on ``clock``,
        #: its Unix time)
        self._reload_stamp = (self.started_at, math.nan)
        #: reloads begun, and reloads whose outcome is set (``config_reloads_begun`` and
        #: ``config_reloads`` on ``/status``): ``sensord reload`` reads the first before it
        #: sends SIGHUP and waits until the second passes it: the outcome of a reload that
        #: began after that read, and so read the file as it was then
        self.reloads_begun = 0
        self.reloads = 0
        self.http: HttpServer | None = None
        #: new ``[http]`` settings failed on the running address, and the running ones could
        #: not be served there again: the next reload serves them (``restart_http``)
        self.http_lost = False
        #: the contents (a digest, None: unreadable) of the TLS certificate and key files as
        #: the running server loaded them, by path: a reload that finds other contents at the
        #: same paths (a renewal) serves them (``renew_tls``)
        self._tls_loaded: dict[str, str | None] = {}
        self.exit_code = 0
        self._pending_signals: list[int] = []
        #: the package this process imported at its start, against the one on disk now
        self.build = build if build is not None else BuildWatch()

    @property
    def uptime_s(self) -> float:
        """Seconds since the service was made."""
        return self._clock() - self.started_at

    @property
    def reload_success_timestamp_s(self) -> float:
        """The Unix time of the last successful load or reload, on the wall clock as it reads
        now: a process that started before NTP set the clock (months behind on a host
        without a real-time clock) shows the reload's true time once it is set.

        The two clocks, read one after the other, give a difference that wobbles by a few
        hundred nanoseconds from one call to the next: the time shown last stays until the
        reload's time moves by ``WALL_STEP_S`` (a step of the wall clock, or their drift), so
        the gauge holds one value between reloads (``changes()`` counts reloads, not
        scrapes)."""
        succeeded_at = self.reload_succeeded_at
        now = self._wall_clock() - (self._clock() - succeeded_at)
        shown_at, shown = self._reload_stamp
        if shown_at == succeeded_at and abs(now - shown) < WALL_STEP_S:
            return shown
        self._reload_stamp = (succeeded_at, now)
        return now

    # -- what a subclass provides --------------------------------------------------------------
    @property
    @abstractmethod
    def wakeup_fd(self) -> int:
        """A descriptor the loop watches; a byte written to it wakes the loop."""

    @abstractmethod
    def own(self, run: PipelineContext) -> None:
        """Enter the resources the service made when it was built into ``run`` (first, so that
        they are closed whatever happens next)."""

    @abstractmethod
    def start(self, run: PipelineContext) -> None:
        """Start what the service runs (once HTTP is bound), entering what it opens into
        ``run``. Raises StartError (logged) when the run cannot start."""

    @abstractmethod
    def serve(self) -> None:
        """Loop until ``take_signals`` says stop (or the service decides to stop)."""

    @abstractmethod
    def apply(self, new: Config) -> list[str]:
        """Apply a validated configuration (already passed through ``effective``); what could
        not be applied: ``http`` (the running server stays), ``sensors`` (a sensor that could
        not start, logged; the next reload starts it)."""

    @abstractmethod
    def render_metrics(self, accept: str | None) -> tuple[bytes, str]: ...

    @abstractmethod
    def health(self) -> tuple[bool, str]: ...

    @abstractmethod
    def status_body(self) -> dict[str, Any]:
        """``/status`` without the envelope: ``state`` and what the service serves."""

    def capture_file(self, sensor: str) -> bytes | None:
        """``/capture?sensor=NAME``: the sensor's recent raw bytes as a capture file, or None
        when there is no such sensor. Called on HTTP threads."""
        del sensor
        return None

    def write_captures(self) -> None:
        """SIGUSR1: write the sensors' recent raw bytes as capture files."""
        log.warning("SIGUSR1: this process keeps no captures")

    def counts(self) -> tuple[int, int] | None:
        """``(records, dropped)`` of the run for the summary line; None when the process runs
        no stages itself (the ``--workers`` primary: each worker logs its own)."""
        return None

    @property
    def started_event(self) -> str:
        """The line logged once the process serves: "sensord started", or for a ``--workers``
        worker "sensord worker started" (its URL is the primary's private channel, not the
        site's)."""
        return "sensord started"

    def started_fields(self) -> dict[str, Any]:
        """Extra fields of the started line."""
        return {}

    def reload_begins(self) -> None:
        """Tell the service manager a reload begins (``RELOADING=1``)."""
        self.notifier.reloading()

    def reload_ends(self) -> None:
        """Tell the service manager the reload is over (``READY=1``)."""
        self.notifier.ready()

    def load_config(self) -> Config:
        """Read and validate the configuration file for a reload. Raises ConfigError."""
        assert self.config_path is not None
        return load_config(self.config_path)

    def effective(self, config: Config) -> Config:
        """``config`` as this process runs it: ``--listen``/``--port`` override ``[http]``."""
        if self._listen_override is None and self._port_override is None:
            return config
        http = config.http.replace(
            listen=self._listen_override or config.http.listen,
            port=self._port_override if self._port_override is not None else config.http.port,
        )
        return config.replace(http=http)

    @property
    def restart_needed(self) -> bool:
        """True once the package on disk is not the one this process runs (as read at most
        a minute ago: asked at each scrape)."""
        return self.build.shown().digest != self.build.running.digest

    # -- the run -------------------------------------------------------------------------------
    def run(self) -> int:
        """Serve until stopped; returns the process exit code."""
        try:
            with PipelineContext(self.name, counts=self.counts) as run:
                handlers: dict[int, Any] = {}
                # restored last: a stop signal that comes during the shutdown is only noted,
                # so a second SIGTERM cannot end the process before it has closed everything
                run.callback(self._restore_signals, handlers)
                self.own(run)
                # before /healthz answers: a stop signal during the start (systemctl stop
                # while ports open) is noted and taken by the loop's first iteration, never
                # the default action that ends the process with its ports and workers open
                handlers.update(self._install_signals())
                self.http = self._bind_http(self.config.http)
                run.callback(self._close_http)
                run.enter(self.notifier)
                self.start(run)
                log.info(
                    self.started_event,
                    version=__version__,
                    pid=os.getpid(),
                    url=self.http.url,
                    config=self.config_label,
                    watchdog_interval_s=self.watchdog_interval_s,
                    **self.started_fields(),
                )
                run.callback(self._stopping, handlers)
                self.serve()
        except StartError:
            return EXIT_HTTP
        log.info("sensord stopped", uptime_s=round(self.uptime_s, 3))
        return self.exit_code

    def _stopping(self, handlers: dict[int, Any]) -> None:
        self.state = "stopping"
        if -1 in handlers:  # the loop is over: nothing is to be woken through its descriptor
            with contextlib.suppress(ValueError):
                signal.set_wakeup_fd(handlers.pop(-1))
        self.notifier.stopping()

    @property
    def config_label(self) -> str:
        return str(self.config_path) if self.config_path else DEMO_CONFIG_LABEL

    # -- HTTP ----------------------------------------------------------------------------------
    def _bind_http(self, cfg: HttpConfig) -> HttpServer:
        try:
            return self._start_http(cfg)
        except (OSError, ssl.SSLError, RuntimeError) as exc:
            unexpected = None
            if isinstance(exc, ssl.SSLError):
                hint = "check [http] tls_cert_file and tls_key_file: a PEM certificate and its key"
            elif isinstance(exc, OSError):
                hint = "set [http] port/listen in the config or pass --port/--listen"
                if exc.errno == errno.EADDRINUSE and cfg.port:
                    hint = _port_taken_hint(cfg.port) + hint
                elif exc.errno == errno.EACCES and cfg.port:
                    hint = _privileged_port_hint(cfg.port) + hint
                else:
                    hint = _listen_address_hint(cfg.listen, exc) + hint
            elif isinstance(exc, HttpThreadError):
                hint = f"[http]'s server thread could not start: {NO_THREAD_HINT}"
            else:  # a fault of sensord's or a library's, not of the host: its traceback
                hint, unexpected = "an unexpected error; the traceback is logged with it", exc
            log.error(
                "cannot serve HTTP",
                listen=cfg.listen,
                port=cfg.port,
                error=getattr(exc, "strerror", None) or str(exc),
                hint=hint,
                exc_info=unexpected,
            )
            raise HttpStartError(f"cannot serve HTTP on {cfg.listen}:{cfg.port}: {exc}") from exc

    def _start_http(self, cfg: HttpConfig) -> HttpServer:
        """Bind (raising OSError on failure) and start serving."""
        # read before the server loads them: a renewal written in between is served at the
        # next reload, never taken for the contents that run
        loaded = _tls_contents(cfg)
        server = serve(
            cfg,
            cfg.listen,
            cfg.port,
            render_metrics=self.render_metrics,
            status=self.status,
            health=self.health,
            capture=self.capture_file,
            reloads=self._reload_counts,
        )
        self._tls_loaded = loaded
        return server

    def renewed_tls_files(self, cfg: HttpConfig) -> list[str]:
        """The settings of ``cfg``'s TLS files (``http.tls_cert_file PATH``) whose contents are
        not those the running server loaded: a certificate or key renewed at the same path,
        which a comparison of the settings does not see. Read at a reload only."""
        if self.http is None:
            return []
        now = _tls_contents(cfg)
        return [
            f"http.{key} {path}"
            for key, path in (
                ("tls_cert_file", cfg.tls_cert_file),
                ("tls_key_file", cfg.tls_key_file),
            )
            if path is not None and now[path] != self._tls_loaded.get(path)
        ]

    def renew_tls(self, cfg: HttpConfig, renewed: list[str]) -> bool:
        """Serve the certificate and key renewed at ``cfg``'s paths (``renewed`` names the
        files that changed) on the connections accepted from now on; the listener stays.
        False when they cannot be loaded: the running server keeps the certificate it
        loaded."""
        log.info("tls certificate or key changed; serving the new files", changed=renewed)
        try:
            self._set_tls(cfg)
        except (OSError, ssl.SSLError) as exc:
            log.error(
                "the renewed tls files cannot be served; keeping the running certificate",
                changed=renewed,
                error=str(exc),
                hint="sensord check names what is wrong with them; fix them and reload",
            )
            return False
        return True

    def _serve_renewed_tls(self, cfg: HttpConfig) -> bool:
        """Serve the TLS files of ``cfg`` renewed since the running server loaded them, if
        any (``renew_tls``); False when they cannot be served."""
        renewed = self.renewed_tls_files(cfg)
        return not renewed or self.renew_tls(cfg, renewed)

    def _set_tls(self, cfg: HttpConfig) -> None:
        """Load ``cfg``'s TLS files (or none) into the running server (OSError or
        ssl.SSLError, and nothing changed, when they cannot be)."""
        assert self.http is not None
        # read before the server loads them, as at a start (``_start_http``)
        loaded = _tls_contents(cfg)
        self.http.set_tls(tls_files(cfg))
        self._tls_loaded = loaded

    def _reload_counts(self) -> tuple[int, int]:
        """``(outcomes set, begun)``: ``/healthz``'s count of the reloads (HTTP threads)."""
        return self.reloads, self.reloads_begun

    def set_in_place(self, running: HttpConfig, new: HttpConfig) -> bool | None:
        """Serve ``new``'s basic-auth credentials and TLS files (or none of either) on the
        running server when nothing else of ``[http]`` differs from ``running``, the settings
        it serves: its listener stays; each connection accepted from now on gets the new TLS,
        each request is checked against the new credentials. None when something else differs
        (its address or a limit) or no server runs: a new server is needed
        (``restart_http``). False when the new TLS files cannot be loaded (logged): nothing
        changed."""
        if self.http is None or self.http_lost:
            return None
        if _beyond_in_place(running) != _beyond_in_place(new):
            return None
        if tls_files(new) != tls_files(running):
            try:
                self._set_tls(new)
            except (OSError, ssl.SSLError) as exc:
                log.error(
                    "cannot serve the new tls files; keeping the running settings",
                    tls_cert_file=new.tls_cert_file,
                    tls_key_file=new.tls_key_file,
                    error=str(exc),
                    hint="sensord check names what is wrong with them; fix them and reload",
                )
                return False
            log.info(
                "http tls changed",
                url=self.http.url,
                tls_cert_file=new.tls_cert_file,
                tls_key_file=new.tls_key_file,
            )
        if credentials(new) != credentials(running):
            self.http.basic_auth = credentials(new)
            log.info(
                "http credentials changed",
                basic_auth=new.basic_auth_username is not None,
                username=new.basic_auth_username,
            )
        return True

    def _close_http(self) -> None:
        server, self.http = self.http, None
        if server is not None:
            server.close()

    def restart_http(self, cfg: HttpConfig) -> bool:
        """Serve with new ``[http]`` settings; on failure keep (or restore) the old server and
        return False."""
        old = self.http
        if old is not None and (cfg.listen, cfg.port) == (old.listen, old.port):
            old.close()  # same address: the new server cannot bind while the old one holds it
            self.http = None
        try:
            server = self._start_http(cfg)
        except (OSError, ssl.SSLError, RuntimeError) as exc:
            if self.http is None and old is not None:
                self.http = self._restore_http()
                self.http_lost = self.http is None
            serving = None if self.http is None else self.http.url
            hint = (
                "the file's [http] (http.listen, http.port, TLS) names what the daemon "
                "does not serve: free the address or fix the setting, and reload; until then "
                f"'sensord status --url {serving}' reaches it"
                if serving is not None
                else "the file's [http] (http.listen, http.port, TLS) cannot be served: fix it "
                "and reload"
            )
            if isinstance(exc, OSError) and exc.errno == errno.EADDRINUSE and cfg.port:
                hint = _port_taken_hint(cfg.port) + hint
            elif isinstance(exc, OSError) and exc.errno == errno.EACCES and cfg.port:
                hint = _privileged_port_hint(cfg.port) + hint
            elif isinstance(exc, OSError):
                hint = _listen_address_hint(cfg.listen, exc) + hint
            log.error(
                "cannot serve HTTP with the new settings; keeping the old ones",
                error=str(exc),
                listen=cfg.listen,
                port=cfg.port,
                serving=serving,
                hint=hint,
            )
            return False
        if self.http is not None:
            self.http.close()
        self.http = server
        self.http_lost = False
        log.info("http listening", url=server.url)
        return True

    def _restore_http(self) -> HttpServer | None:
        """The server of the running ``[http]`` settings started again after new ones failed
        on its address; None (logged) when that fails too, and the next reload tries again."""
        try:
            return self._start_http(self.config.http)
        except (OSError, ssl.SSLError, RuntimeError) as exc:
            log.error(
                "cannot serve HTTP with the running settings either; /metrics and /status are "
                "not served until a reload serves them",
                error=str(exc),
                listen=self.config.http.listen,
                port=self.config.http.port,
                hint="free the address or fix [http], and reload",
            )
            return None

    # -- /status -------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        # the counts before the body: a reload counted here has its outcome in the body (the
        # sensors it applied; a --workers primary's body asks the workers, which takes a while)
        reloads, begun = self.reloads, self.reloads_begun
        body = self.status_body()
        installed = self.build.shown()
        return {
            "version": __version__,
            "installed_version": installed.version,
            "restart_needed": installed != self.build.running,
            "state": body.pop("state"),
            "pid": os.getpid(),
            "uptime_s": round(self.uptime_s, 3),
            "config": self.config_label,
            "config_last_reload_successful": self.reload_successful,
            "config_last_reload_errors": self.reload_errors,
            "config_reloads": reloads,
            "config_reloads_begun": begun,
            "log_lines_dropped": dropped_lines(),
            **body,
        }

    # -- signals -------------------------------------------------------------------------------
    def _install_signals(self) -> dict[int, Any]:
        previous: dict[int, Any] = {}
        for signum in _RUN_SIGNALS:
            previous[signum] = signal.signal(signum, self._on_signal)
        # what came before (deferred_signals) is taken as if it came now
        self._pending_signals.extend(early_signals.take())
        for signum in self.wake_signals:
            previous[signum] = signal.signal(signum, _wake_only)
        previous[-1] = signal.set_wakeup_fd(self.wakeup_fd, warn_on_full_buffer=False)
        return previous

    @staticmethod
    def _restore_signals(previous: dict[int, Any]) -> None:
        if -1 in previous:
            with contextlib.suppress(ValueError):
                signal.set_wakeup_fd(previous.pop(-1))
        for signum, handler in previous.items():
            with contextlib.suppress(ValueError, TypeError):  # None: not set from Python
                signal.signal(signum, handler)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        self._pending_signals.append(signum)

    def take_signals(self) -> bool:
        """Handle the signals received since the last call (SIGHUP: reload, SIGUSR1: write
        captures); True: stop. A stop signal among them is taken without the reloads: a
        configuration is not applied to a run that ends at once."""
        if not self._pending_signals:
            return False
        pending, self._pending_signals = self._pending_signals, []
        stop = next((signum for signum in pending if signum in _STOP_SIGNALS), None)
        for signum in pending:
            if signum == signal.SIGHUP and stop is None:
                self.reload()
            elif signum == signal.SIGUSR1:
                self.write_captures()
        if stop is None:
            return False
        log.info("stopping", signal=signal.Signals(stop).name)
        return True

    # -- reload --------------------------------------------------------------------------------
    def reload(self) -> bool:
        """Re-read the configuration file and apply it; on any error keep the running one.
        Counted in ``reloads`` once its outcome is set: ``/status`` (served on another
        thread) never shows a reload counted with the outcome of the one before."""
        self.reloads_begun += 1
        self.reload_begins()
        try:
            if self.config_path is None:
                log.warning("reload requested but sensord runs the built-in demo; nothing to read")
                return False
            if self.refuse_mixed_build("reload refused; keeping the running configuration"):
                self.reload_successful = False
                self.reload_errors = [self.build.running.restart_message(self.build.shown())]
                return False
            try:
                new = self.effective(self.load_config())
            except ConfigError as exc:
                errors = exc.lines
            except Exception as exc:  # a validator bug must not stop a running daemon
                errors = [f"unexpected error while loading: {exc!r}"]
            else:
                try:
                    kept = self.apply(new)
                except Exception as exc:  # nor may a bug in applying it
                    log.error(
                        "reload failed while applying the new configuration",
                        config=str(self.config_path),
                        error=repr(exc),
                        exc_info=exc,
                    )
                    self.reload_successful = False
                    self.reload_errors = [f"unexpected error while applying it: {exc!r}"]
                    return False
                if "http" in kept:  # the rest is applied; [http] runs as before
                    new = new.replace(http=self.config.http)
                if new.log != self.config.log:  # applied at the next restart: it runs as before
                    new = new.replace(log=self.config.log)
                self.config = new
                self.reload_successful = not kept
                self.reload_errors = [f"[{section}] {KEPT_SETTINGS}" for section in kept]
                if kept:
                    log.error(
                        "reload applied in part; these sections keep their running settings",
                        config=str(self.config_path),
                        kept=kept,
                    )
                    return False
                self.reload_succeeded_at = self._clock()
                return True
            self.reload_successful = False
            self.reload_errors = list(errors)
            log.error(
                "reload failed; keeping the running configuration",
                config=str(self.config_path),
                errors=errors,
            )
            return False
        finally:
            self.count_reload()
            self.reload_ends()

    def count_reload(self) -> None:
        """Count a reload whose outcome is set. The ``--workers`` primary counts it once the
        workers it forwarded it to have applied it too."""
        self.reloads += 1

    def refuse_mixed_build(self, event: str, **fields: Any) -> bool:
        """True, after logging ``event`` with the reason, when the package on disk is not the
        one this process runs: what it would import or start now would mix two versions."""
        installed = self.build.differs()
        if installed is None:
            return False
        running = self.build.running
        log.error(
            event,
            reason=running.restart_message(installed),
            running=running.describe(),
            installed=installed.describe(),
            changed=running.changes(installed),
            **fields,
        )
        return True


def _port_taken_hint(port: int) -> str:
    """The start of the hint for an HTTP ``port`` another process listens on: which, and for
    another sensord (one left running in another terminal, or the service), to stop it; ""
    when none can be seen (another user's)."""
    others = [h for h in tcp_listeners(port) if h.pid != os.getpid()]
    if not others:
        return ""
    named = ", ".join(str(h) for h in others)
    if any("sensord" in h.command for h in others):
        return (
            f"port {port} is served by {named}, another sensord: stop it (Ctrl-C where it "
            "runs; systemctl stop sensord for the service), or "
        )
    return f"port {port} is taken by {named}: "


#: The first TCP port a process without CAP_NET_BIND_SERVICE may bind.
UNPRIVILEGED_PORT_START = "/proc/sys/net/ipv4/ip_unprivileged_port_start"


def _privileged_port_hint(port: int) -> str:
    """The start of the hint for an HTTP ``port`` whose bind was refused (EACCES): one below
    the ports any process may bind, which sensord.service, granting no capability, cannot
    bind; "" when the port is not below them (a security policy refused it)."""
    try:
        with open(UNPRIVILEGED_PORT_START, encoding="ascii") as f:
            start = int(f.read())
    except (OSError, ValueError):
        start = 1024
    if port >= start:
        return ""
    return (
        f"port {port} is below {start}, the first port a process without privileges may bind "
        "(net.ipv4.ip_unprivileged_port_start), and sensord.service grants none: use a port "
        f"from {start} on (9808 by default), or a reverse proxy in front; "
    )


def _listen_address_hint(listen: str, exc: OSError) -> str:
    """The start of the hint for a ``listen`` address that cannot be bound because this host
    has no such address (``exc`` EADDRNOTAVAIL) or its name does not resolve; "" for other
    errors."""
    if isinstance(exc, socket.gaierror):
        found = f"{listen} does not resolve here ({exc.strerror})"
    elif exc.errno == errno.EADDRNOTAVAIL:
        found = (
            f"{listen} is no address of this host now (a mistyped address, an interface "
            "down, or a DHCP lease not there yet)"
        )
    else:
        return ""
    return f"{found}: listen on one of its addresses, 127.0.0.1, or 0.0.0.0 for every address; "


def in_place_settings(running: HttpConfig, new: HttpConfig) -> HttpConfig:
    """``running`` with ``new``'s basic-auth credentials and TLS files: the ``[http]`` a
    ``--workers`` primary, which keeps the rest until a restart, serves after a reload to
    ``new``."""
    if _beyond_in_place(running) == _beyond_in_place(new):
        return new
    return running.replace(**{key: getattr(new, key) for key in _IN_PLACE})


def _beyond_in_place(cfg: HttpConfig) -> dict[str, Any]:
    """The settings of ``cfg`` but those a reload sets on the running server: compared as
    values, not by a copy of ``cfg`` with the running ones, which would validate the running
    TLS files again (a reload may name others because they are gone)."""
    return {key: value for key, value in cfg.as_dict().items() if key not in _IN_PLACE}


def _tls_contents(cfg: HttpConfig) -> dict[str, str | None]:
    """The digest of each TLS file of ``cfg`` by path (None: it cannot be read)."""
    contents: dict[str, str | None] = {}
    for path in (cfg.tls_cert_file, cfg.tls_key_file):
        if path is None:
            continue
        try:
            with open(path, "rb") as f:
                contents[path] = hashlib.sha256(f.read()).hexdigest()
        except OSError:
            contents[path] = None
    return contents


def _wake_only(signum: int, frame: FrameType | None) -> None:
    """A Python-level handler, so that the signal writes to the wake-up fd."""
