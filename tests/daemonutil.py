"""Run the real daemon as a subprocess: start, scrape over HTTP, signal, stop, read its logs."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Self

REPO = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def parse_metrics(text: str) -> dict[str, float]:
    """``{'name{labels}': value}`` for every sample line of a text exposition."""
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        key, _, value = line.rpartition(" ")
        samples[key] = float(value)
    return samples


def wait_for(
    predicate: Callable[[], bool], timeout_s: float, what: str, interval_s: float = 0.05
) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")


class DaemonProcess:
    """``sensord run`` in a subprocess with JSON logs captured to a file."""

    def __init__(
        self,
        args: Sequence[str] = (),
        *,
        tmp_path: Path,
        env: dict[str, str] | None = None,
        python_prelude: str | None = None,
        port: int | None = None,
        command_prefix: Sequence[str] = (),
    ) -> None:
        self.port = port if port is not None else free_port()
        self.log_path = tmp_path / f"sensord-{self.port}.log"
        full_env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        for inherited in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM"):
            full_env.pop(inherited, None)
        full_env.update(env or {})
        argv = ["run", "--port", str(self.port), "--log-format", "json", *args]
        if python_prelude is None:
            cmd = [sys.executable, "-m", "sensord", *argv]
        else:
            code = (
                f"{python_prelude}\nfrom sensord.cli import main\nraise SystemExit(main({argv!r}))"
            )
            cmd = [sys.executable, "-c", code]
        cmd = [*command_prefix, *cmd]
        self._log = self.log_path.open("wb")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            cmd, stdout=self._log, stderr=subprocess.STDOUT, env=full_env, cwd=REPO
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def get(self, path: str, headers: dict[str, str] | None = None) -> tuple[int, str, str]:
        request = urllib.request.Request(self.base_url + path, headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                body = response.read().decode()
                return response.status, response.headers.get("Content-Type", ""), body
        except urllib.error.HTTPError as exc:
            return exc.code, exc.headers.get("Content-Type", ""), exc.read().decode()

    def metrics_text(self) -> str:
        return self.get("/metrics")[2]

    def metrics(self) -> dict[str, float]:
        return parse_metrics(self.metrics_text())

    def status(self) -> dict[str, Any]:
        data: dict[str, Any] = json.loads(self.get("/status")[2])
        return data

    def wait_http(self, timeout_s: float = 10.0) -> None:
        def ready() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(
                    f"sensord exited early ({self.proc.returncode}):\n{self.log_text()}"
                )
            try:
                return self.get("/healthz")[0] == 200
            except OSError:
                return False

        wait_for(ready, timeout_s, "sensord /healthz")

    def signal(self, signum: int) -> None:
        self.proc.send_signal(signum)

    def stop(self, timeout_s: float = 10.0) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout_s)
        finally:
            self._log.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=10)
        self._log.close()

    def log_text(self) -> str:
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

    def events(self, msg: str) -> list[dict[str, Any]]:
        return [r for r in self.log_records() if r.get("msg") == msg]

    def fd_count(self) -> int:
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def thread_count(self) -> int:
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("Threads:"):
                    return int(line.split()[1])
        raise AssertionError("no Threads line")

    def rss_kib(self) -> int:
        """The daemon's resident set size in KiB (VmRSS)."""
        return _proc_status_field(self.proc.pid, "VmRSS")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.kill()


def _proc_status_field(pid: int, field: str) -> int:
    """The first number of a ``/proc/PID/status`` line such as ``VmRSS:  1234 kB``."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise AssertionError(f"no {field} line in /proc/{pid}/status")


_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def labels_of(key: str) -> tuple[str, dict[str, str]]:
    """``('name', {'label': 'value'})`` of a sample key returned by :func:`parse_metrics`."""
    name, _, rest = key.partition("{")
    return name, dict(_LABEL.findall(rest))


def sample(samples: dict[str, float], name: str, **labels: str) -> float:
    """The value of the sample ``name`` with exactly ``labels`` (label order does not matter);
    raises KeyError when there is none."""
    for key, value in samples.items():
        if key.startswith(name) and labels_of(key) == (name, labels):
            return value
    raise KeyError(f"{name}{labels}")


def step_imbalances(samples: dict[str, float], sensor: str) -> dict[str, tuple[float, float]]:
    """Steps of ``sensor`` where ``records_in != records_out + sum(dropped)``, as
    ``{step: (records_in, records_out + dropped)}``; raises AssertionError when the sensor has
    no step series at all."""
    totals: dict[str, list[float]] = {}
    for key, value in samples.items():
        name, labels = labels_of(key)
        if labels.get("sensor") != sensor or "step" not in labels:
            continue
        entry = totals.setdefault(labels["step"], [0.0, 0.0])
        if name == "sensord_step_records_in_total":
            entry[0] += value
        elif name in ("sensord_step_records_out_total", "sensord_step_dropped_total"):
            entry[1] += value
    if not totals:
        raise AssertionError(f"no step series for sensor {sensor!r}")
    return {step: (n_in, n_acc) for step, (n_in, n_acc) in totals.items() if n_in != n_acc}


@contextmanager
def running(args: Sequence[str] = (), **kw: Any) -> Iterator[DaemonProcess]:
    daemon = DaemonProcess(args, **kw)
    try:
        daemon.wait_http()
        yield daemon
    finally:
        daemon.kill()


def sensor_toml(
    name: str, port: str, fmt: str = "value", extra: str = "", channels: str = ""
) -> str:
    body = channels or '  [[sensors.channels]]\n  name = "v"\n'
    return (
        f'[[sensors]]\nname = "{name}"\nport = "{port}"\nformat = "{fmt}"\n'
        f"sampling_rate_hz = 10\n{extra}\n{body}"
    )


class NotifyListener:
    """A real ``NOTIFY_SOCKET``: a Unix datagram socket at a path or an abstract address."""

    def __init__(self, tmp_path: Path, *, abstract: bool = False) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        if abstract:
            name = f"sensord-test-{os.getpid()}-{time.monotonic_ns()}"
            self.sock.bind("\0" + name)
            self.address = "@" + name
        else:
            path = tmp_path / "notify.sock"
            self.sock.bind(str(path))
            self.address = str(path)
        self.messages: list[tuple[float, str]] = []

    def collect(self, timeout_s: float) -> list[str]:
        """Receive for up to ``timeout_s``; returns everything received so far."""
        deadline = time.monotonic() + timeout_s
        while (left := deadline - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                break
            self.messages.append((time.monotonic(), data.decode()))
        return [m for _, m in self.messages]

    def wait_for(self, needle: str, timeout_s: float) -> float:
        """Receive until a datagram contains ``needle``; returns its arrival time."""
        deadline = time.monotonic() + timeout_s
        for at, message in self.messages:
            if needle in message:
                return at
        while (left := deadline - time.monotonic()) > 0:
            self.sock.settimeout(left)
            try:
                data = self.sock.recv(65536)
            except TimeoutError:
                break
            at = time.monotonic()
            self.messages.append((at, data.decode()))
            if needle in data.decode():
                return at
        raise AssertionError(f"no {needle!r} datagram within {timeout_s}s: {self.messages}")

    def close(self) -> None:
        self.sock.close()
