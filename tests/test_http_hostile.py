"""Hostile HTTP clients against the real daemon over real sockets.

The daemon runs as a subprocess with sim:// sensors, JSON logs on a captured stderr and debug
logging on (so the fault lines are written too). Clients connect from several loopback source
addresses (127.0.0.2, 127.0.0.3, ...: all of 127/8 is local), so the per-address cap can be
seen working. After every test the daemon's stderr holds only JSON lines, its fds and threads
are back to where they were, and every pipeline's step accounting is exact.
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import re
import resource
import signal
import socket
import ssl
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from harness.balance import assert_sensor_steps
from harness.common import REPO, free_port, wait_for
from harness.scrape import Scrape, quick_value
from harness.spawn import popen
from harness.tls import self_signed
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytestmark = pytest.mark.slow

ATTACKER, SCRAPER, PROBER, FUZZER = "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5"
HEADER_TIMEOUT_S = 1.0
REQUEST_TIMEOUT_S = 4.0
PER_CLIENT = 8
SENSORS = [f"s{i:02d}" for i in range(24)]
STATUS_LINE = re.compile(rb"HTTP/1\.[01] [1-5]\d\d ")


def _config(tls: tuple[str, str] | None = None) -> str:
    text = (
        "[http]\n"
        f"header_timeout_s = {HEADER_TIMEOUT_S}\n"
        f"request_timeout_s = {REQUEST_TIMEOUT_S}\n"
        "max_request_bytes = 4096\n"
        "max_connections = 64\n"
        f"max_connections_per_client = {PER_CLIENT}\n"
    )
    if tls is not None:
        text += f'tls_cert_file = "{tls[0]}"\ntls_key_file = "{tls[1]}"\n'
    for name in SENSORS:
        # several channels per sensor make /metrics large (mid-response disconnects)
        text += (
            f'[[sensors]]\nname = "{name}"\nport = "sim://{name}"\nformat = "kv"\n'
            "sampling_rate_hz = 20\n"
        )
        for channel in ("a", "b", "c", "d"):
            text += f'  [[sensors.channels]]\n  name = "{channel}"\n'
    return text


class Daemon:
    """``sensord run`` with stdout and stderr captured to files of their own."""

    def __init__(self, tmp: Path, tls: tuple[str, str] | None = None) -> None:
        self.port = free_port()
        self.tls = tls
        config = tmp / "sensord.toml"
        config.write_text(_config(tls))
        self.stderr_path, self.stdout_path = tmp / "stderr", tmp / "stdout"
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        for name in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "JOURNAL_STREAM"):
            env.pop(name, None)
        cmd = [sys.executable, "-m", "sensord", "run", "--config", str(config)]
        cmd += ["--port", str(self.port), "--log-format", "json", "--log-level", "debug"]
        with self.stderr_path.open("wb") as err, self.stdout_path.open("wb") as out:
            self.proc = popen(cmd, stdout=out, stderr=err, env=env, cwd=REPO)
        self.context: ssl.SSLContext | None = None
        if tls is not None:
            self.context = ssl.create_default_context(cafile=tls[0])
        wait_for(self._ready, 20.0, "sensord /healthz")

    def _ready(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"sensord exited: {self.stderr_path.read_text()}")
        try:
            return self.get("/healthz", source="127.0.0.1")[0] == 200
        except (OSError, http.client.HTTPException):
            return False

    def get(self, path: str, source: str = SCRAPER, timeout_s: float = 5.0) -> tuple[int, bytes]:
        conn: http.client.HTTPConnection
        if self.context is not None:
            conn = http.client.HTTPSConnection(
                "127.0.0.1", self.port, timeout=timeout_s, source_address=(source, 0),
                context=self.context,
            )  # fmt: skip
        else:
            conn = http.client.HTTPConnection(
                "127.0.0.1", self.port, timeout=timeout_s, source_address=(source, 0)
            )
        try:
            conn.request("GET", path)
            response = conn.getresponse()
            return response.status, response.read()
        finally:
            conn.close()

    def metrics(self) -> Scrape:
        status, body = self.get("/metrics", source="127.0.0.1")
        assert status == 200
        return Scrape(body.decode())

    def http_counts(self) -> dict[str, float]:
        samples = self.metrics()
        counts = {
            reason: samples.value("sensord_http_client_errors_total", reason=reason)
            for reason in ("disconnect", "header_timeout", "timeout", "malformed", "tls")
        }
        for reason in ("client_limit", "server_limit"):
            counts[reason] = samples.value("sensord_http_connections_rejected_total", reason=reason)
        counts["open"] = samples.value("sensord_http_connections")
        return counts

    def fds(self) -> int:
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def threads(self) -> int:
        return len(os.listdir(f"/proc/{self.proc.pid}/task"))

    def stderr_lines(self) -> list[str]:
        return self.stderr_path.read_text(errors="replace").splitlines()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def connect(daemon: Daemon, source: str, timeout_s: float = 5.0) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind((source, 0))
    sock.settimeout(timeout_s)
    sock.connect(("127.0.0.1", daemon.port))
    return sock


def read_until_closed(sock: socket.socket, timeout_s: float = 10.0) -> bytes:
    """Everything the server sends until it closes (or resets) the connection."""
    deadline = time.monotonic() + timeout_s
    data = b""
    while (left := deadline - time.monotonic()) > 0:
        sock.settimeout(left)
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            return data
        if not chunk:
            return data
        data += chunk
    raise AssertionError(f"connection still open after {timeout_s}s; got {data[:200]!r}")


def exchange(daemon: Daemon, payload: bytes, source: str = PROBER) -> bytes:
    """Send ``payload``, close our sending side, return the whole answer."""
    with connect(daemon, source) as sock:
        try:
            sock.sendall(payload)
            sock.shutdown(socket.SHUT_WR)
        except OSError:
            pass  # the server answered and closed before taking everything
        return read_until_closed(sock)


def assert_json_lines(daemon: Daemon) -> None:
    for line in daemon.stderr_lines():
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            raise AssertionError(f"stderr line is not JSON: {line!r}") from None
        assert isinstance(record, dict), line
    assert daemon.stdout_path.read_bytes() == b""


def assert_settled(daemon: Daemon, fds: int, threads: int) -> None:
    """Connections closed, fds and threads back to the baseline, stderr only JSON lines,
    every step's accounting exact."""

    def settled() -> bool:
        return daemon.fds() == fds and daemon.threads() == threads

    deadline_s = 2 * REQUEST_TIMEOUT_S + 10.0
    try:
        wait_for(settled, deadline_s, "fds and threads back to baseline", interval_s=0.1)
    except AssertionError:
        raise AssertionError(
            f"fds {daemon.fds()} (baseline {fds}), threads {daemon.threads()} (baseline {threads})"
        ) from None
    assert daemon.http_counts()["open"] <= 1  # the scrape that asks
    samples = daemon.metrics()
    for name in SENSORS:
        # simulated sensors: their range drops are not known, but nothing raised or went uncounted
        assert_sensor_steps(samples, name, unknown=("range", "nonfinite"))
    assert daemon.proc.poll() is None
    assert_json_lines(daemon)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    d = Daemon(tmp_path_factory.mktemp("hostile"))
    try:
        # every sensor delivering before baselines are taken
        wait_for(
            lambda: all(s["state"] == "up" for s in _status(d)["sensors"].values()),
            20.0,
            "every sensor up",
        )
        yield d
    finally:
        d.stop()
    assert d.proc.returncode == 0
    assert_json_lines(d)


def _status(d: Daemon) -> dict[str, Any]:
    status, body = d.get("/status", source="127.0.0.1")
    assert status == 200
    data: dict[str, Any] = json.loads(body)
    return data


def quiet_baseline(daemon: Daemon) -> tuple[int, int]:
    """The daemon's fds and threads once no HTTP connection is open (the same counts three
    times in half a second: the thread of the last scrape has ended)."""
    wait_for(lambda: daemon.http_counts()["open"] <= 1, 20.0, "no HTTP connection open")
    seen = [(daemon.fds(), daemon.threads())]

    def stable() -> bool:
        seen.append((daemon.fds(), daemon.threads()))
        return len(seen) >= 3 and seen[-1] == seen[-2] == seen[-3]

    wait_for(stable, 20.0, "steady fds and threads", interval_s=0.25)
    return seen[-1]


@pytest.fixture
def baseline(daemon: Daemon) -> Iterator[Daemon]:
    fds, threads = quiet_baseline(daemon)
    yield daemon
    assert_settled(daemon, fds, threads)


# -- fair slots ------------------------------------------------------------------------------


class Trickler:
    """``count`` connections from ``source`` that send a request line, then a header byte
    now and then, never finishing; a connection the server closes is opened again."""

    def __init__(self, daemon: Daemon, source: str, count: int, round_s: float) -> None:
        self.daemon, self.source, self.count, self.round_s = daemon, source, count, round_s
        self.socks: list[socket.socket | None] = [None] * count
        self.opened = 0
        self.closed_by_server = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, name="trickler")

    def __enter__(self) -> Trickler:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.thread.join(timeout=30)
        assert not self.thread.is_alive()
        for sock in self.socks:
            if sock is not None:
                sock.close()

    def _open(self) -> socket.socket | None:
        try:
            sock = connect(self.daemon, self.source, timeout_s=2.0)
            sock.sendall(b"GET /metrics HTTP/1.1\r\n")
        except OSError:
            return None
        sock.setblocking(False)
        self.opened += 1
        return sock

    @staticmethod
    def _still_open(sock: socket.socket) -> bool:
        """Send one more header byte unless the server answered (503) or closed."""
        try:
            sock.recv(4096, socket.MSG_PEEK)
        except BlockingIOError:
            pass  # nothing from the server: still waiting for our headers
        except OSError:
            return False
        else:
            return False
        try:
            sock.send(b"X")
        except OSError:
            return False
        return True

    def _run(self) -> None:
        while not self.stop.is_set():
            for i, sock in enumerate(self.socks):
                if self.stop.is_set():
                    return
                if sock is not None:
                    if self._still_open(sock):
                        continue
                    sock.close()
                    self.closed_by_server += 1
                self.socks[i] = self._open()
            self.stop.wait(self.round_s)


def test_trickling_flood_from_one_address_never_blocks_a_scraper(baseline: Daemon) -> None:
    daemon = baseline
    before = daemon.http_counts()
    latencies: list[float] = []
    with Trickler(daemon, ATTACKER, 300, round_s=0.25) as attack:
        wait_for(lambda: attack.opened >= 300, 30.0, "300 trickling connections")
        # scrape every 100 ms across several header deadlines of the attacker's connections
        until = time.monotonic() + 3 * HEADER_TIMEOUT_S + 1.0
        while time.monotonic() < until:
            started = time.monotonic()
            status, body = daemon.get("/metrics", source=SCRAPER, timeout_s=5.0)
            latencies.append(time.monotonic() - started)
            assert status == 200
            assert b"sensord_frames_total" in body
            assert daemon.get("/healthz", source=PROBER)[0] == 200
            time.sleep(max(0.0, 0.1 - (time.monotonic() - started)))
        during = daemon.http_counts()
    print(f"scrapes under 300 trickling connections: n={len(latencies)}, "
          f"max={max(latencies):.3f}s, mean={sum(latencies) / len(latencies):.3f}s")  # fmt: skip
    assert max(latencies) < 1.0, latencies
    assert len(latencies) >= 10
    # the attacker got its share and no more, held it until the header deadline, and was
    # refused past it; nothing else was refused
    assert during["client_limit"] - before["client_limit"] >= 300 - PER_CLIENT
    assert during["server_limit"] == before["server_limit"]
    assert during["header_timeout"] - before["header_timeout"] >= 2 * PER_CLIENT
    assert attack.closed_by_server >= 300


def test_one_address_at_its_cap_leaves_the_others_their_slots(baseline: Daemon) -> None:
    daemon = baseline
    before = daemon.http_counts()
    held = [connect(daemon, ATTACKER) for _ in range(PER_CLIENT)]
    try:
        wait_for(
            lambda: daemon.http_counts()["open"] >= PER_CLIENT + 1,
            10.0,
            "the attacker's connections accepted",
        )
        answer = exchange(daemon, b"GET /healthz HTTP/1.1\r\n\r\n", source=ATTACKER)
        assert answer.startswith(b"HTTP/1.1 503 ")
        for source in (SCRAPER, PROBER, FUZZER):
            assert daemon.get("/healthz", source=source)[0] == 200
        # a held connection that never sends a request line is closed at the header deadline
        started = time.monotonic()
        for sock in held:
            assert read_until_closed(sock, timeout_s=HEADER_TIMEOUT_S + 5.0) == b""
        assert time.monotonic() - started < HEADER_TIMEOUT_S + 5.0
    finally:
        for sock in held:
            sock.close()
    after = daemon.http_counts()
    assert after["client_limit"] - before["client_limit"] == 1
    assert after["header_timeout"] - before["header_timeout"] == PER_CLIENT
    assert exchange(daemon, b"GET /healthz HTTP/1.1\r\n\r\n", source=ATTACKER).startswith(
        b"HTTP/1.1 200 "
    )


def _cpu_s(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def test_out_of_descriptors_the_accepting_thread_pauses_instead_of_spinning(
    baseline: Daemon,
) -> None:
    daemon = baseline
    pid = daemon.proc.pid
    soft, hard = resource.prlimit(pid, resource.RLIMIT_NOFILE)
    sockets: list[socket.socket] = []
    window_s = 0.6 * HEADER_TIMEOUT_S
    cpu = _cpu_s(pid)
    time.sleep(window_s)
    idle = _cpu_s(pid) - cpu  # the sensors' own share
    try:
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (daemon.fds() + 2, hard))
        # two connections get descriptors; the others wait in the queue while accept fails
        for source in (ATTACKER, SCRAPER, PROBER, FUZZER):
            sockets += [connect(daemon, source) for _ in range(2)]
        cpu, started = _cpu_s(pid), time.monotonic()
        time.sleep(window_s)
        spent, elapsed = _cpu_s(pid) - cpu, time.monotonic() - started
        # a loop that spins on the failing accept burns a third of a core or more
        assert spent - idle < 0.15 * elapsed, (spent, idle, elapsed)
    finally:
        resource.prlimit(pid, resource.RLIMIT_NOFILE, (soft, hard))
    # with descriptors again, every queued connection is served: a request line that never
    # ends is closed at the header deadline
    for sock in sockets:
        assert read_until_closed(sock, timeout_s=HEADER_TIMEOUT_S + 10.0) == b""
        sock.close()
    assert any('"http cannot accept connections"' in line for line in daemon.stderr_lines())


# -- clients that go away ----------------------------------------------------------------------


def test_clients_that_hang_up_are_counted_and_never_print_a_traceback(baseline: Daemon) -> None:
    daemon = baseline
    before = daemon.http_counts()
    rounds = 5
    for _ in range(rounds):
        with connect(daemon, PROBER) as sock:  # after the request line
            sock.sendall(b"GET /metrics HTTP/1.1\r\n")
        with connect(daemon, PROBER) as sock:  # in the middle of the headers
            sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nAccept: text/pl")
    # in the middle of a large response: a small receive window, a few bytes read, then a reset
    for _ in range(rounds):
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.bind((PROBER, 0))
        sock.settimeout(5)
        sock.connect(("127.0.0.1", daemon.port))
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        assert sock.recv(16).startswith(b"HTTP/1.1 200")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        sock.close()
    wait_for(
        lambda: daemon.http_counts()["disconnect"] - before["disconnect"] >= 3 * rounds,
        10.0,
        "every hang-up counted",
    )
    after = daemon.http_counts()
    assert after["disconnect"] - before["disconnect"] == 3 * rounds
    for reason in ("header_timeout", "timeout", "malformed", "tls"):
        assert after[reason] == before[reason], reason
    faults = [json.loads(line) for line in daemon.stderr_lines() if '"http client fault"' in line]
    assert any(f["reason"] == "disconnect" for f in faults)
    # rate-limited: one line per reason and minute, however many faults
    assert len([f for f in faults if f["reason"] == "disconnect"]) <= 2


# -- malformed requests ------------------------------------------------------------------------

MALFORMED = [
    (b"GET /metrics\r\n\r\n", 400),  # HTTP/0.9
    (b"GET /metrics HTTP/0.9\r\n\r\n", 400),
    (b"garbage\r\n\r\n", 400),
    (b"GET /metrics HTTP/1.x\r\n\r\n", 400),
    (b"GET /metrics FTP/1.0\r\n\r\n", 400),
    (b"GET /metrics HTTP/9.9\r\n\r\n", 505),
    (b"BREW /metrics HTTP/1.1\r\n\r\n", 501),
    (b"GET /metrics?" + b"q" * 5000 + b" HTTP/1.1\r\n\r\n", 414),
    (b"GET /metrics HTTP/1.1\r\nX-Big: " + b"y" * 5000 + b"\r\n\r\n", 431),
    (b"GET /metrics HTTP/1.1\r\n" + b"X-A: b\r\n" * 120 + b"\r\n", 431),
    (
        b"GET /metrics HTTP/1.1\r\n" + (b"X-Many: " + b"0123456789" * 4 + b"\r\n") * 99 + b"\r\n",
        431,
    ),
]


@pytest.mark.parametrize(("payload", "code"), MALFORMED, ids=lambda v: repr(v)[:30])
def test_malformed_requests_get_a_status_line_and_no_body_of_ours(
    baseline: Daemon, payload: bytes, code: int
) -> None:
    daemon = baseline
    before = daemon.http_counts()
    answer = exchange(daemon, payload)
    assert answer.startswith(f"HTTP/1.1 {code} ".encode()), answer[:200]
    head, _, body = answer.partition(b"\r\n\r\n")
    assert b"Connection: close" in head
    assert b"sensord_" not in body
    assert b"y" * 100 not in body
    assert b"q" * 100 not in body
    after = daemon.http_counts()
    assert after["malformed"] - before["malformed"] == 1


def test_pipelined_requests_are_answered_in_order(baseline: Daemon) -> None:
    daemon = baseline
    payload = (
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
        b"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /status HTTP/1.1\r\nHost: x\r\n\r\n"
        b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"  # after Connection: close: not answered
    )
    with connect(daemon, PROBER) as sock:
        sock.sendall(payload)
        stream = sock.makefile("rb")
        answers = []
        for method in ("GET", "HEAD", "GET", "GET"):
            response = http.client.HTTPResponse(_Reader(stream), method=method)  # type: ignore[arg-type]
            response.begin()
            answers.append((response.status, response.getheader("Content-Type"), response.read()))
        assert stream.read() == b""
    assert [a[0] for a in answers] == [200, 200, 200, 404]
    assert answers[0][2].startswith(b"ok")
    assert answers[1][1] is not None
    assert answers[1][1].startswith("text/plain")
    assert answers[1][2] == b""
    assert json.loads(answers[2][2])["sensors"].keys() == set(SENSORS)
    # a bad request in the middle of a pipeline ends it there
    answer = exchange(
        daemon,
        b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nnonsense\r\n\r\nGET /healthz HTTP/1.1\r\n\r\n",
    )
    assert STATUS_LINE.findall(answer) == [b"HTTP/1.1 200 ", b"HTTP/1.1 400 "]


class _Reader:
    """A socket stand-in whose makefile() is one shared stream, for pipelined responses."""

    def __init__(self, stream: Any) -> None:
        self.stream = stream

    def makefile(self, *args: Any, **kwargs: Any) -> Any:
        return self

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)

    def close(self) -> None:
        """A response closes its stream when read; the next one still needs it."""


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    prefix=st.sampled_from([b"", b"GET ", b"GET /metrics ", b"GET / HTTP/1.1\r\n"]),
    noise=st.binary(max_size=600),
    end=st.sampled_from([b"", b"\r\n", b"\r\n\r\n", b"\n\n"]),
)
def test_random_bytes_never_get_an_answer_without_a_status_line(
    baseline: Daemon, prefix: bytes, noise: bytes, end: bytes
) -> None:
    answer = exchange(baseline, prefix + noise + end, source=FUZZER)
    assert answer == b"" or STATUS_LINE.match(answer), answer[:200]
    assert b"sensord_frames_total" not in answer


# -- TLS -----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def tls_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    tmp = tmp_path_factory.mktemp("hostile-tls")
    cert, key = self_signed(tmp)
    d = Daemon(tmp, tls=(str(cert), str(key)))
    try:
        yield d
    finally:
        d.stop()
    assert d.proc.returncode == 0
    assert_json_lines(d)


def test_tls_server_receiving_plain_http_and_garbage_handshakes(tls_daemon: Daemon) -> None:
    daemon = tls_daemon
    fds, threads = quiet_baseline(daemon)
    before = daemon.http_counts()
    garbage = [
        b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n",  # plain HTTP
        b"GET /metrics\r\n\r\n",
        b"\x16\x03\x01\x00\x05hello",  # a TLS record header, then nonsense
        b"\x16\x03\x03\xff\xff" + bytes(range(256)) * 4,
        bytes(range(256)),
    ]
    for payload in garbage:
        answer = exchange(daemon, payload)
        assert b"sensord_" not in answer
        assert not answer.startswith(b"HTTP/")
    silent = [connect(daemon, ATTACKER) for _ in range(PER_CLIENT + 3)]
    try:
        # the attacker's share is taken by connections that never start a handshake; the
        # excess is closed at once, and a real client from another address gets through
        status, body = daemon.get("/metrics", source=SCRAPER)
        assert status == 200
        assert b"sensord_frames_total" in body
        for sock in silent:
            assert read_until_closed(sock, timeout_s=HEADER_TIMEOUT_S + 5.0) == b""
    finally:
        for sock in silent:
            sock.close()
    after = daemon.http_counts()
    assert after["tls"] - before["tls"] == len(garbage)
    assert after["header_timeout"] - before["header_timeout"] == PER_CLIENT
    assert after["client_limit"] - before["client_limit"] == 3
    assert_settled(daemon, fds, threads)


# -- the --workers primary reports its own HTTP counts -----------------------------------------


def test_workers_primary_reports_its_own_http_counts(tmp_path: Path) -> None:
    config = tmp_path / "sensord.toml"
    config.write_text(
        "[http]\nmax_connections_per_client = 2\nheader_timeout_s = 10.0\n"
        + "".join(
            f'[[sensors]]\nname = "w{i}"\nport = "sim://w{i}"\nformat = "value"\n'
            '  [[sensors.channels]]\n  name = "v"\n'
            for i in range(4)
        )
    )
    port = free_port()
    cmd = [sys.executable, "-m", "sensord", "run", "--workers", "2", "--config", str(config)]
    cmd += ["--port", str(port), "--log-format", "json"]
    # the primary's own server is limited by [http]; its workers' servers are not
    stderr = tmp_path / "stderr"
    with stderr.open("wb") as err:
        proc = popen(cmd, stdout=err, stderr=err, cwd=REPO)
    try:
        # a connection's thread frees its slot after the client has read the answer: the
        # next scrape from the same address may find it still held, and the address's two
        # slots taken. Each scrape comes from an address of its own, so none is refused.
        sources = itertools.count()

        def scrape() -> str:
            n = next(sources)
            source = f"127.0.{1 + n // 250}.{1 + n % 250}"
            conn = http.client.HTTPConnection(
                "127.0.0.1", port, timeout=5, source_address=(source, 0)
            )
            try:
                conn.request("GET", "/metrics")
                return conn.getresponse().read().decode()
            finally:
                conn.close()

        def workers_up() -> bool:
            try:
                samples = Scrape(scrape())
            except OSError:
                return False
            return all(
                samples.get("sensord_worker_up", 0.0, worker=str(i)) == 1.0 for i in range(2)
            )

        wait_for(workers_up, 30.0, "both workers up")
        held = []
        for _ in range(2):
            sock = socket.socket()
            sock.bind((ATTACKER, 0))
            sock.connect(("127.0.0.1", port))
            held.append(sock)
        try:
            with socket.socket() as third:
                third.bind((ATTACKER, 0))
                third.settimeout(5)
                third.connect(("127.0.0.1", port))
                assert third.recv(1024).startswith(b"HTTP/1.1 503 ")
            # from other addresses, each fetching from both workers; a scrape may count the
            # one before it too, whose slot is not freed yet: scraped every half second until
            # one counts the two held connections and itself
            texts: list[str] = []

            def held_and_itself() -> bool:
                texts.append(scrape())
                return quick_value(texts[-1], "sensord_http_connections") == 3

            wait_for(held_and_itself, 10.0, "a scrape that counts the held connections", 0.5)
            text = texts[-1]
        finally:
            for sock in held:
                sock.close()
        assert text.count("# TYPE sensord_http_requests_total counter") == 1
        samples = Scrape(text)
        assert samples.value("sensord_http_requests_total", code="200") >= 2
        assert not [
            s for s in samples.series("sensord_http_requests_total") if "worker" in s.labels
        ]
        assert all(
            "worker" not in s.labels for s in samples.samples if s.name.startswith("sensord_http_")
        )
        assert samples.value("sensord_http_connections_rejected_total", reason="client_limit") == 1
        assert samples.value("sensord_http_connections") == 3
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)
    assert proc.returncode == 0
    for line in stderr.read_text().splitlines():
        json.loads(line)
