"""``sensord run`` as a subprocess: start, scrape over HTTP, signal, stop, read its logs."""

from __future__ import annotations

import http.client
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

from harness import proc as procfs
from harness.common import REPO, HarnessError, free_port, up_settled, wait_for
from harness.scrape import Scrape
from harness.spawn import popen
from sensord.log_output import THREAD_FAILED_MESSAGE, UNRAISABLE_MESSAGE

#: How long :meth:`DaemonProcess.wait_http` waits for a daemon to serve: a fail-safe, not a
#: start time a test asserts (``test_daemon`` holds the start to a time measured beside it,
#: ``BareImport``). Under a load of about 17 on two cores, a daemon of one simulated sensor
#: took 8.6 s and 12.9 s to serve, one of seven 9.5 s and 10.3 s.
START_WITHIN_S = 60.0

#: Variables of the caller's service manager that must not reach the daemon under test.
INHERITED = ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM")


def http_get(port: int, path: str, timeout_s: float = 10.0) -> tuple[float, bytes]:
    """GET on a new connection to 127.0.0.1; (seconds from connect to the last byte, body).
    HarnessError unless the answer is 200."""
    started = time.perf_counter()
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout_s)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        body = response.read()
    finally:
        conn.close()
    if response.status != 200:
        raise HarnessError(f"GET {path}: HTTP {response.status}")
    return time.perf_counter() - started, body


class BareImport:
    """``python -c "import sensord.cli, sensord.cli_run"`` started now, beside a daemon the test
    starts: how long an interpreter's start and the imports of a run (before it reads its
    configuration) take on this host at this moment, which its load (other tests, other
    processes) slows as much as the daemon's own start. Monotonic time is the host's: the
    child's clock at the end of the import, less ``started``, is that time."""

    def __init__(self, python: str = sys.executable) -> None:
        env = {k: v for k, v in os.environ.items() if k not in INHERITED}
        self.started = time.monotonic()
        self.proc: subprocess.Popen[bytes] = popen(
            [python, "-c", "import sensord.cli, sensord.cli_run, time; print(time.monotonic())"],
            stdout=subprocess.PIPE,
            env=env,
            cwd=REPO,
        )

    def seconds(self, timeout_s: float = 60.0) -> float:
        out, _ = self.proc.communicate(timeout=timeout_s)
        if self.proc.returncode != 0:
            raise HarnessError(f"the import exited {self.proc.returncode}")
        return float(out) - self.started

    def allowance_s(self, idle_s: float) -> float:
        """The seconds a daemon's start begun beside this import may take: ``idle_s`` (what
        an idle host allows it), or twice the import's time where the load made that longer
        (the daemon imports and builds more than these modules, slowed alike)."""
        return max(idle_s, 2 * self.seconds())


class DaemonProcess:
    """``sensord run`` in a subprocess with JSON logs captured to a file.

    ``args`` follow ``run`` (``--port`` and ``--log-format json`` are added). ``config`` is
    written to ``tmp_path/<name>.toml`` and passed with ``--config``. ``python_prelude`` is
    code run in the daemon's interpreter before ``sensord.cli.main`` (fault injection).
    ``new_session`` puts the daemon in a process group of its own, so that :meth:`kill` ends
    its workers with it. ``stderr`` (a descriptor: a pipe or socket the test reads, or stops
    reading) takes the daemon's log stream in place of the file, which then holds its stdout.
    ``port_option=False`` leaves ``--port`` out, so that the file's ``[http]`` gives the
    address (``port`` must be the one it names) and a reload can move it.
    """

    def __init__(
        self,
        args: Sequence[str] = (),
        *,
        tmp_path: Path,
        config: str | None = None,
        name: str | None = None,
        env: Mapping[str, str] | None = None,
        python_prelude: str | None = None,
        port: int | None = None,
        command_prefix: Sequence[str] = (),
        python: str = sys.executable,
        cwd: Path = REPO,
        new_session: bool = False,
        stderr: int | None = None,
        port_option: bool = True,
    ) -> None:
        self.port = port if port is not None else free_port()
        name = name or f"sensord-{self.port}"
        self.log_path = tmp_path / f"{name}.log"
        argv = ["run"]
        if (
            config is not None
            and " x" in (env or {}).get("FAKETIME", "")
            and "[http]" not in config
        ):
            # a clock sped up by libfaketime shortens the HTTP timeouts as much (5 s of header
            # timeout at x240 is 21 ms): a scrape of a loaded machine would be cut off
            config += "\n[http]\nheader_timeout_s = 300\nrequest_timeout_s = 300\n"
        if config is not None:
            self.config_path: Path | None = tmp_path / f"{name}.toml"
            self.config_path.write_text(config)
            argv += ["--config", str(self.config_path)]
        else:
            self.config_path = None
        if port_option:
            argv += ["--port", str(self.port)]
        argv += ["--log-format", "json", *args]
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        for inherited in INHERITED:
            full_env.pop(inherited, None)
        full_env.update(env or {})
        if python_prelude is None:
            cmd = [python, "-m", "sensord", *argv]
        else:
            code = f"{python_prelude}\nfrom sensord.launch import main\nraise SystemExit(main({argv!r}))"
            cmd = [python, "-c", code]
        self._log = self.log_path.open("wb")
        self.started = time.monotonic()
        self.proc: subprocess.Popen[bytes] = popen(
            [*command_prefix, *cmd],
            stdout=self._log,
            stderr=subprocess.STDOUT if stderr is None else stderr,
            env=full_env,
            cwd=cwd,
            start_new_session=new_session,
        )
        self.pid = self.proc.pid

    # -- HTTP ---------------------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(
        self, path: str, headers: Mapping[str, str] | None = None, timeout_s: float = 5.0
    ) -> tuple[int, str, str]:
        """(status, Content-Type, body) of a GET; HTTP errors are answers, not exceptions."""
        request = urllib.request.Request(self.base_url + path, headers=dict(headers or {}))
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as response:
                body = response.read().decode()
                return response.status, response.headers.get("Content-Type", ""), body
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers.get("Content-Type", ""), exc.read().decode()

    def _get_ok(self, path: str) -> str:
        if self.proc.poll() is not None:
            raise HarnessError(f"sensord exited ({self.proc.returncode}); see {self.log_path}")
        code, _, body = self.get(path)
        if code != 200:
            raise HarnessError(f"{path} answered {code}")
        return body

    def metrics_text(self) -> str:
        return self._get_ok("/metrics")

    def scrape(self) -> Scrape:
        """``/metrics`` now, parsed."""
        return Scrape(self.metrics_text())

    def status(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self._get_ok("/status"))
        return data

    def reload_by_signal(self, timeout_s: float = 10.0) -> dict[str, Any]:
        """SIGHUP, as ``kill -HUP`` sends it; ``/status`` once the reload is counted
        (``config_reloads`` one more than before the signal). Its outcome
        (``config_last_reload_successful``, ``..._errors``, ``..._sensors``) is set by then; a
        log line of the reload promises no such thing (``configuration reloaded`` is written
        while the reload still runs, on the loop thread, and ``/status`` is served on another;
        a ``--workers`` primary's outcome is set after its workers got the signal)."""
        reloads = self.status()["config_reloads"]
        self.signal(signal.SIGHUP)
        seen: list[dict[str, Any]] = []

        def counted() -> bool:
            seen.append(self.status())
            return bool(seen[-1]["config_reloads"] > reloads)

        wait_for(counted, timeout_s, f"reload {reloads + 1} counted on /status")
        return seen[-1]

    def wait_http(self, timeout_s: float = START_WITHIN_S) -> None:
        """Wait until ``/healthz`` answers 200; HarnessError with the log if the daemon exits,
        or after ``timeout_s`` (a fail-safe, :data:`START_WITHIN_S`)."""

        def ready() -> bool:
            if self.proc.poll() is not None:
                raise HarnessError(
                    f"sensord exited early ({self.proc.returncode}):\n{self.log_text()[-4000:]}"
                )
            try:
                return self.get("/healthz", timeout_s=1.0)[0] == 200
            except OSError:
                return False

        wait_for(ready, timeout_s, "sensord /healthz")

    # -- sensors, from /status ----------------------------------------------------------------
    def wait_sensors(
        self,
        accept: Callable[[dict[str, Any]], bool],
        names: Sequence[str] | None,
        timeout_s: float,
        what: str,
        interval_s: float = 0.01,
    ) -> None:
        """Wait until ``accept`` holds for the ``/status`` entry of each sensor in ``names``
        (None: every sensor)."""

        def reached() -> bool:
            sensors = self.status()["sensors"]
            chosen = sensors.values() if names is None else [sensors[n] for n in names]
            return all(accept(s) for s in chosen)

        wait_for(reached, timeout_s, what, interval_s)

    def wait_state(
        self,
        state: str,
        names: Sequence[str] | None = None,
        timeout_s: float = 5.0,
        interval_s: float = 0.01,
    ) -> None:
        """Wait until the sensors in ``names`` (None: all) are in ``state``."""
        self.wait_sensors(
            lambda s: s["state"] == state,
            names,
            timeout_s,
            f"{'every sensor' if names is None else ', '.join(names)} {state}",
            interval_s,
        )

    def wait_up_settled(self, names: Sequence[str] | None = None, timeout_s: float = 5.0) -> None:
        """Wait until the sensors in ``names`` (None: all) are up and have been for longer than
        ``CUT_LINE_S`` (:func:`~harness.common.up_settled`): what a device writes from then on
        is read from its first line. Wait again after anything that reopens the port."""
        self.wait_sensors(
            up_settled,
            names,
            timeout_s,
            f"{'every sensor' if names is None else ', '.join(names)} up past its open",
        )

    def frames(self) -> dict[str, int]:
        """Frames counted per sensor, from ``/status``."""
        return {name: s["frames"] for name, s in self.status()["sensors"].items()}

    def wait_frames(
        self,
        expected: Mapping[str, int],
        timeout_s: float = 10.0,
        *,
        exact: bool = False,
        interval_s: float = 0.01,
    ) -> float:
        """Wait until each named sensor counted at least (``exact``: exactly, every sensor
        named) its number of frames; the seconds waited. HarnessError naming the lines not
        framed otherwise."""
        started = time.monotonic()
        wanted = dict(expected)
        while True:
            frames = self.frames()
            if exact:
                done = frames == wanted
            else:
                done = all(frames.get(n, 0) >= want for n, want in wanted.items())
            if done:
                return time.monotonic() - started
            if time.monotonic() - started > timeout_s:
                lost = sum(n - frames.get(name, 0) for name, n in wanted.items())
                raise HarnessError(
                    f"{lost} lines written but not framed within {timeout_s}s: {frames} != {wanted}"
                )
            time.sleep(interval_s)

    # -- the process --------------------------------------------------------------------------
    def alive(self) -> bool:
        return self.proc.poll() is None

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def stop_timed(self, timeout_s: float = 10.0) -> tuple[float, int]:
        """SIGTERM; (seconds until the process exited, exit code). Killed, and HarnessError,
        if it does not exit within ``timeout_s``."""
        started = time.monotonic()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout_s)
        except subprocess.TimeoutExpired:
            procfs.kill_group(self.proc)
            raise HarnessError(f"sensord did not exit within {timeout_s}s of SIGTERM") from None
        finally:
            self._log.close()
        return time.monotonic() - started, code

    def stop(self, timeout_s: float = 10.0) -> int:
        """SIGTERM; the exit code (see :meth:`stop_timed`)."""
        return self.stop_timed(timeout_s)[1]

    def kill(self) -> None:
        """SIGKILL it (and its process group, with ``new_session``) if it still runs."""
        procfs.kill_group(self.proc)
        self._log.close()

    def fd_count(self) -> int:
        return procfs.fd_count(self.pid)

    def settled_fd_count(self, timeout_s: float = 5.0) -> int:
        """The daemon's open descriptors once the count holds for 0.3 s (a connection that
        served a request closes a moment after the reply)."""
        deadline = time.monotonic() + timeout_s
        count = self.fd_count()
        while True:
            time.sleep(0.3)
            now = self.fd_count()
            if now == count or time.monotonic() > deadline:
                return min(now, count)
            count = now

    def thread_count(self) -> int:
        return procfs.status_field(self.pid, "Threads")

    def rss_kib(self) -> int:
        """The daemon's resident set size in KiB (VmRSS)."""
        return procfs.status_field(self.pid, "VmRSS")

    def cpu_s(self) -> float:
        return procfs.cpu_s(self.pid)

    # -- the log ------------------------------------------------------------------------------
    def log_text(self) -> str:
        if not self._log.closed:
            self._log.flush()
        return self.log_path.read_text(errors="replace")

    def log_records(self) -> list[dict[str, Any]]:
        records = []
        for raw in self.log_text().splitlines():
            line = raw.strip()
            if line.startswith("{"):
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:
                    continue
        return records

    def uncaught(self) -> list[str]:
        """The lines of the log that tell of an exception nothing caught: the traceback the
        interpreter prints of one that ended the process, the record ``sensord run`` logs of
        one that ended a thread (``THREAD_FAILED_MESSAGE``) or that Python could not raise
        (``UNRAISABLE_MESSAGE``: in a ``__del__``)."""
        return [
            line
            for line in self.log_text().splitlines()
            if "Traceback" in line or THREAD_FAILED_MESSAGE in line or UNRAISABLE_MESSAGE in line
        ]

    def events(self, msg: str) -> list[dict[str, Any]]:
        """The JSON log records whose ``msg`` is ``msg``."""
        return [r for r in self.log_records() if r.get("msg") == msg]

    def wait_events(
        self, msg: str, count: int = 1, timeout_s: float = 5.0, **fields: Any
    ) -> list[dict[str, Any]]:
        """The JSON log records whose ``msg`` is ``msg`` and whose ``fields`` have the values
        given, once there are ``count`` of them or more. The daemon's log thread writes a
        record after the code that logged it has gone on (``sensord.log``), so what ``/status``
        or ``/metrics`` shows of that code's work may come first: a test that has waited for
        that reads the record with this."""
        found: list[dict[str, Any]] = []

        def written() -> bool:
            found[:] = [
                r
                for r in self.events(msg)
                if all(r.get(key) == value for key, value in fields.items())
            ]
            return len(found) >= count

        wait_for(written, timeout_s, f"{count} {msg!r} line(s) with {fields} in the log")
        return found

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


#: The ``start_daemon`` fixture (tests/conftest.py): DaemonProcess's arguments but ``tmp_path``.
StartDaemon = Callable[..., DaemonProcess]


@contextmanager
def running(args: Sequence[str] = (), **kw: Any) -> Iterator[DaemonProcess]:
    """A :class:`DaemonProcess` serving HTTP for the block, killed after it."""
    daemon = DaemonProcess(args, **kw)
    try:
        daemon.wait_http()
        yield daemon
    finally:
        daemon.kill()


def sensord_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``python -m sensord ARGS`` to the end, its output as text, uncoloured."""
    return subprocess.run(
        [sys.executable, "-m", "sensord", *args],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "NO_COLOR": "1"},
        check=False,
    )
