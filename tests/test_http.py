"""The HTTP server on a real socket: paths, limits, basic auth, TLS; config secrets; the
``[http]`` keys that bound clients, each with two values; the HTTP collector."""

from __future__ import annotations

import base64
import http.client
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from harness.daemon import StartDaemon
from harness.spawn import popen
from harness.tls import self_signed
from prometheus_client import CollectorRegistry
from structlog.testing import capture_logs

from sensord.config import load_config
from sensord.config_tables import HttpConfig
from sensord.daemon import Daemon
from sensord.errors import ConfigError
from sensord.http import CLIENT_ERRORS, HttpCollector, HttpServer, serve
from sensord.service import EXIT_HTTP

SENSOR = """
[[sensors]]
name = "probe"
port = "sim://probe"
format = "value"
  [[sensors.channels]]
  name = "t"
"""


#: server -> how many times it rendered /metrics
RENDERS: dict[HttpServer, int] = {}


def make_server(**kw: Any) -> HttpServer:
    def render(accept: str | None) -> tuple[bytes, str]:
        RENDERS[made] = RENDERS.get(made, 0) + 1
        return b"sensord_up 1\n", "text/plain; version=0.0.4; charset=utf-8"

    made = HttpServer(
        "127.0.0.1",
        0,
        render_metrics=render,
        status=lambda: {"state": "running"},
        health=lambda: (True, "ok"),
        **kw,
    )
    made.start()
    return made


@pytest.fixture
def server() -> Iterator[HttpServer]:
    srv = make_server(request_timeout_s=0.5, max_connections=4, max_request_bytes=2048)
    yield srv
    srv.close()


def request(
    srv: HttpServer, method: str, path: str, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", srv.port, timeout=5)
    try:
        conn.request(method, path, headers=headers or {})
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read()
    finally:
        conn.close()


def test_paths(server: HttpServer) -> None:
    status, headers, body = request(server, "GET", "/metrics")
    assert status == 200
    assert body == b"sensord_up 1\n"
    assert headers["Content-Type"].startswith("text/plain")
    assert request(server, "GET", "/status")[2].startswith(b"{")
    assert request(server, "GET", "/healthz")[::2] == (200, b"ok\n")
    for path in ("/nope", "/metrics/extra", "/../etc/passwd", "/status.json"):
        assert request(server, "GET", path)[0] == 404
    status, headers, body = request(server, "HEAD", "/metrics")
    assert status == 200
    assert body == b""
    assert headers["Content-Length"] == str(len(b"sensord_up 1\n"))
    assert request(server, "POST", "/metrics")[0] == 501
    assert RENDERS[server] == 2  # GET and HEAD of /metrics


def test_overlong_request_line_is_refused(server: HttpServer) -> None:
    status, _, _ = request(server, "GET", "/metrics?" + "x" * 4096)
    assert status == 414


def test_oversized_headers_are_refused(server: HttpServer) -> None:
    status, _, _ = request(server, "GET", "/metrics", {"X-Big": "y" * 3000})
    assert status == 431


def test_idle_connections_time_out_and_excess_connections_get_503(server: HttpServer) -> None:
    idle = [socket.create_connection(("127.0.0.1", server.port)) for _ in range(4)]
    try:
        time.sleep(0.1)  # the four slots are taken by clients that never send a request
        status, _, _ = request(server, "GET", "/metrics")
        assert status == 503
        assert server.rejected >= 1
        time.sleep(0.8)  # request_timeout_s = 0.5 frees the slots
        for sock in idle:
            sock.settimeout(2)
            assert sock.recv(1024) == b""  # closed by the server
        # each connection's thread frees its slot before it closes the socket: at once
        assert server.connections == 0
        assert request(server, "GET", "/metrics")[0] == 200
    finally:
        for sock in idle:
            sock.close()


def test_basic_auth() -> None:
    srv = make_server(basic_auth=("prom", "s3cret:with colon"))
    try:
        status, headers, _ = request(srv, "GET", "/metrics")
        assert status == 401
        assert headers["WWW-Authenticate"].startswith("Basic")
        good = base64.b64encode(b"prom:s3cret:with colon").decode()
        bad = base64.b64encode(b"prom:wrong").decode()
        assert request(srv, "GET", "/metrics", {"Authorization": f"Basic {good}"})[0] == 200
        assert request(srv, "GET", "/status", {"Authorization": f"Basic {good}"})[0] == 200
        assert request(srv, "GET", "/metrics", {"Authorization": f"Basic {bad}"})[0] == 401
        assert request(srv, "GET", "/metrics", {"Authorization": "Basic !!!"})[0] == 401
        assert request(srv, "GET", "/metrics", {"Authorization": f"Bearer {good}"})[0] == 401
        assert request(srv, "GET", "/healthz")[0] == 200  # liveness needs no credentials
        assert RENDERS[srv] == 1
    finally:
        srv.close()


def test_tls(tmp_path: Path) -> None:
    cert, key = map(str, self_signed(tmp_path))
    srv = make_server(tls=(cert, key))
    try:
        assert srv.url.startswith("https://")
        context = ssl.create_default_context(cafile=cert)
        conn = http.client.HTTPSConnection("127.0.0.1", srv.port, context=context, timeout=5)
        conn.request("GET", "/metrics")
        response = conn.getresponse()
        assert response.status == 200
        assert response.read() == b"sensord_up 1\n"
        conn.close()
        # plain HTTP against the TLS port does not get metrics
        with pytest.raises((http.client.HTTPException, OSError)):
            request(srv, "GET", "/metrics")
    finally:
        srv.close()


def test_config_with_password_must_not_be_world_readable(tmp_path: Path) -> None:
    path = tmp_path / "sensord.toml"
    path.write_text('[http]\nbasic_auth_username = "prom"\nbasic_auth_password = "pw"\n' + SENSOR)
    os.chmod(path, 0o644)
    with pytest.raises(
        ConfigError, match=r"holds a password but every user may read it \(mode 0644\)"
    ):
        load_config(path)
    os.chmod(path, 0o640)
    assert load_config(path).http.basic_auth_password == "pw"
    # without a secret a world-readable file is fine
    plain = tmp_path / "plain.toml"
    plain.write_text(SENSOR)
    os.chmod(plain, 0o644)
    load_config(plain)


def test_tls_and_auth_keys_go_in_pairs(tmp_path: Path) -> None:
    path = tmp_path / "sensord.toml"
    path.write_text(
        f'[http]\ntls_cert_file = "{tmp_path}/missing.pem"\nbasic_auth_username = "u"\n' + SENSOR
    )
    with pytest.raises(ConfigError) as info:
        load_config(path)
    problems = "\n".join(info.value.problems)
    assert "http.tls_key_file: tls_cert_file and tls_key_file must be given together" in problems
    assert "http.tls_cert_file: " in problems
    assert "is not a readable file" in problems
    assert (
        "http.basic_auth_password: basic_auth_username and basic_auth_password must be given together"
        in problems
    )


def _connect_from(source: str, port: int) -> socket.socket:
    sock = socket.socket()
    sock.bind((source, 0))
    sock.settimeout(5)
    sock.connect(("127.0.0.1", port))
    return sock


def _get_from(source: str, port: int, path: str = "/healthz") -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=5, source_address=(source, 0))
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    finally:
        conn.close()


@pytest.mark.parametrize(("per_client", "refused"), [(2, 2), (4, 0)])
def test_max_connections_per_client(per_client: int, refused: int) -> None:
    config = HttpConfig(max_connections=16, max_connections_per_client=per_client)
    srv = serve(
        config, "127.0.0.1", 0, render_metrics=lambda a: (b"", "text/plain"),
        status=dict, health=lambda: (True, "ok"),
    )  # fmt: skip
    idle = [_connect_from("127.0.0.2", srv.port) for _ in range(4)]
    try:
        deadline = time.monotonic() + 10
        while srv.connections + srv.rejected < 4 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert srv.connections == 4 - refused
        assert srv.rejections == {"client_limit": refused, "server_limit": 0}
        # another address has slots of its own
        assert _get_from("127.0.0.3", srv.port) == 200
    finally:
        for sock in idle:
            sock.close()
        srv.close()


@pytest.mark.parametrize("header_timeout_s", [0.3, 3.0])
def test_header_timeout(header_timeout_s: float) -> None:
    config = HttpConfig(header_timeout_s=header_timeout_s, request_timeout_s=10.0)
    srv = serve(
        config, "127.0.0.1", 0, render_metrics=lambda a: (b"", "text/plain"),
        status=dict, health=lambda: (True, "ok"),
    )  # fmt: skip
    try:
        with _connect_from("127.0.0.2", srv.port) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # headers never end
            started = time.monotonic()
            sock.settimeout(1.0)
            if header_timeout_s < 1.0:
                assert sock.recv(1024) == b""  # closed without an answer
                assert time.monotonic() - started < 1.0
            else:
                with pytest.raises(TimeoutError):
                    sock.recv(1024)  # still open after a second
                sock.settimeout(header_timeout_s + 5)
                assert sock.recv(1024) == b""
        assert srv.client_errors["header_timeout"] == 1
    finally:
        srv.close()


def test_header_timeout_is_capped_by_request_timeout() -> None:
    srv = make_server(header_timeout_s=5.0, request_timeout_s=0.5)
    try:
        assert srv.header_timeout_s == 0.5
    finally:
        srv.close()


def test_an_idle_kept_alive_connection_is_closed_quietly() -> None:
    srv = make_server(header_timeout_s=0.3, request_timeout_s=2.0)
    try:
        with _connect_from("127.0.0.2", srv.port) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = b""
            while chunk := sock.recv(1024):  # until closed, once idle for header_timeout_s
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 200 ")
            assert answer.endswith(b"\r\n\r\nok\n")
        assert srv.client_errors == dict.fromkeys(CLIENT_ERRORS, 0)
        assert srv.responses == {200: 1}
    finally:
        srv.close()


def test_a_client_that_does_not_read_its_response_is_cut_off() -> None:
    body = b"x" * (32 << 20)  # more than any socket buffers hold
    srv = HttpServer(
        "127.0.0.1", 0, render_metrics=lambda a: (body, "text/plain"),
        status=dict, health=lambda: (True, "ok"), request_timeout_s=0.5,
    )  # fmt: skip
    srv.start()
    try:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", srv.port))
        with sock:
            sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
            deadline = time.monotonic() + 10
            while srv.client_errors["timeout"] == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
            assert srv.client_errors["timeout"] == 1
    finally:
        srv.close()


def test_collector_keeps_counting_across_a_replaced_server() -> None:
    first, second = make_server(), make_server()
    current = [first]
    registry = CollectorRegistry(auto_describe=False)
    registry.register(HttpCollector(lambda: current[0]))
    try:
        for _ in range(3):
            request(first, "GET", "/healthz")
        request(first, "GET", "/nope")
        assert registry.get_sample_value("sensord_http_requests_total", {"code": "200"}) == 3
        current[0] = second
        first.close()
        request(second, "GET", "/healthz")
        assert registry.get_sample_value("sensord_http_requests_total", {"code": "200"}) == 4
        assert registry.get_sample_value("sensord_http_requests_total", {"code": "404"}) == 1
        value = registry.get_sample_value
        assert value("sensord_http_client_errors_total", {"reason": "malformed"}) == 0
        assert value("sensord_http_connections_rejected_total", {"reason": "client_limit"}) == 0
        deadline = time.monotonic() + 10
        while value("sensord_http_connections") != 0 and time.monotonic() < deadline:
            time.sleep(0.01)  # the connection's thread lets go of it after the answer
        assert value("sensord_http_connections") == 0
    finally:
        second.close()


def test_new_http_keys_are_validated(tmp_path: Path) -> None:
    path = tmp_path / "sensord.toml"
    path.write_text("[http]\nheader_timeout_s = 0\nmax_connections_per_client = 0\n" + SENSOR)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    problems = "\n".join(info.value.problems)
    assert "http.header_timeout_s: must be in [0.1, 300], got 0" in problems
    assert "http.max_connections_per_client: must be in [1, 10000], got 0" in problems


def test_an_endpoint_that_fails_at_every_scrape_logs_one_traceback_a_minute() -> None:
    """A bug behind /metrics answers 500 at every scrape; a scraper every few seconds must
    not write a traceback each time into the journal."""

    def broken(accept: str | None) -> tuple[bytes, str]:
        raise RuntimeError("collector bug")

    srv = HttpServer(
        "127.0.0.1",
        0,
        render_metrics=broken,
        status=lambda: {"state": "running"},
        health=lambda: (True, "ok"),
    )
    srv.start()
    try:
        with capture_logs() as logs:
            for _ in range(20):
                assert request(srv, "GET", "/metrics")[0] == 500
    finally:
        srv.close()
    failed = [e for e in logs if e["event"] == "request failed"]
    assert len(failed) == 1, len(failed)
    assert failed[0]["log_level"] == "error"
    assert failed[0]["path"] == "/metrics"
    assert "collector bug" in failed[0]["error"]
    assert srv.responses[500] == 20


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def test_a_server_whose_certificate_fails_to_load_leaves_its_address_free(tmp_path: Path) -> None:
    """The address is free as the error is raised, not once the exception is gone: the
    server that ran on it is started again while the exception is being handled."""
    garbage = tmp_path / "cert.pem"
    garbage.write_text("not a certificate\n")
    port = _free_port()
    with pytest.raises(ssl.SSLError) as raised:
        make_server_on(port, tls=(str(garbage), str(garbage)))
    assert raised.value is not None  # held: the failed server's frames are still alive
    srv = make_server_on(port)
    try:
        assert request(srv, "GET", "/healthz")[0] == 200
    finally:
        srv.close()


def make_server_on(port: int, **kw: Any) -> HttpServer:
    made = HttpServer(
        "127.0.0.1",
        port,
        render_metrics=lambda accept: (b"", "text/plain"),
        status=lambda: {"state": "running"},
        health=lambda: (True, "ok"),
        **kw,
    )
    made.start()
    return made


def test_new_http_settings_on_a_port_another_process_holds_name_it(tmp_path: Path) -> None:
    """A reload that moves ``[http]`` to a port another program listens on keeps the running
    server, and its line names that program, as a start does."""
    port, taken = _free_port(), _free_port()
    path = tmp_path / "sensord.toml"
    path.write_text(f"[http]\nport = {port}\n" + SENSOR)
    config = load_config(path)
    holder = popen(
        [
            sys.executable,
            "-c",
            f"import socket, sys, time\ns = socket.create_server(('127.0.0.1', {taken}))\n"
            "print('listening', flush=True)\ntime.sleep(60)",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    daemon = Daemon(config, environ={})
    daemon.http = daemon._start_http(daemon.config.http)
    try:
        assert holder.stdout is not None
        assert holder.stdout.readline() == "listening\n"
        with capture_logs() as logs:
            assert daemon.restart_http(config.http.replace(port=taken)) is False
        [failed] = [e for e in logs if e["log_level"] == "error"]
        assert failed["event"] == "cannot serve HTTP with the new settings; keeping the old ones"
        assert failed["hint"].startswith(f"port {taken} is taken by pid {holder.pid} ("), failed
        assert daemon.http is not None
        assert daemon.http.port == port
    finally:
        holder.kill()
        holder.wait()
        daemon._close_http()
        daemon.reader.close()


def test_new_http_settings_that_fail_on_the_running_address_keep_it_served(
    tmp_path: Path,
) -> None:
    """A change of ``[http]`` on the address that runs closes the running server first; when
    the new settings fail (a certificate changed on disk since the check), the running ones
    serve again there, and a reload after a failure to serve them again tries again."""
    port = _free_port()
    path = tmp_path / "sensord.toml"
    path.write_text(f"[http]\nport = {port}\n" + SENSOR)
    config = load_config(path)
    daemon = Daemon(config, environ={})
    daemon.http = daemon._start_http(daemon.config.http)
    try:
        cert, key = map(str, self_signed(tmp_path))
        broken = config.http.replace(tls_cert_file=cert, tls_key_file=key)
        Path(key).write_text(Path(cert).read_text())  # checked, then changed on disk
        with capture_logs() as logs:
            assert daemon.restart_http(broken) is False
        assert daemon.http is not None
        assert daemon.http.port == port
        assert request(daemon.http, "GET", "/healthz")[0] == 200
        assert [e["event"] for e in logs if e["log_level"] == "error"] == [
            "cannot serve HTTP with the new settings; keeping the old ones"
        ]
        # another process takes the address while it is free: the running settings cannot
        # be served again either, and a reload of the same file serves them once it is free
        thief = socket.socket()
        thief.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        start = daemon._start_http

        def taken_meanwhile(cfg: HttpConfig) -> HttpServer:
            if cfg is broken:
                thief.bind(("127.0.0.1", port))
                thief.listen()
            return start(cfg)

        daemon._start_http = taken_meanwhile  # type: ignore[method-assign]
        with capture_logs() as logs:
            assert daemon.restart_http(broken) is False
        assert daemon.http is None
        assert [e["event"] for e in logs if e["log_level"] == "error"] == [
            "cannot serve HTTP with the running settings either; /metrics and /status are "
            "not served until a reload serves them",
            "cannot serve HTTP with the new settings; keeping the old ones",
        ]
        assert daemon.apply(config) == ["http"]  # still taken
        thief.close()
        assert daemon.apply(config) == []
        assert daemon.http is not None
        assert daemon.http.port == port
        assert request(daemon.http, "GET", "/healthz")[0] == 200
        assert daemon.apply(config) == []  # served: nothing to do
    finally:
        daemon._close_http()
        daemon.reader.close()


def test_a_server_whose_thread_cannot_start_leaves_its_address_free(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """No thread to be had (the service's task limit): serve raises that, and the address
    is free at once, so the server that ran there can be started again."""
    start = threading.Thread.start

    def no_thread(thread: threading.Thread) -> None:
        if thread.name == "sensord-http":
            raise RuntimeError("can't start new thread")
        start(thread)

    port = _free_port()
    config = HttpConfig()
    monkeypatch.setattr(threading.Thread, "start", no_thread)
    with pytest.raises(RuntimeError, match="can't start new thread"):
        serve(
            config,
            "127.0.0.1",
            port,
            render_metrics=lambda accept: (b"", "text/plain"),
            status=lambda: {"state": "running"},
            health=lambda: (True, "ok"),
        )
    monkeypatch.setattr(threading.Thread, "start", start)
    srv = make_server_on(port)
    try:
        assert request(srv, "GET", "/healthz")[0] == 200
    finally:
        srv.close()


def test_a_reload_of_unchanged_http_settings_starts_no_server_that_none_lost(
    tmp_path: Path,
) -> None:
    """Only a failed change that left nothing served has a reload serve unchanged ``[http]``
    settings again (``http_lost``): a daemon that serves none of its own accord (embedded,
    or stopping) is not given a server by a reload."""
    path = tmp_path / "sensord.toml"
    path.write_text(f"[http]\nport = {_free_port()}\n" + SENSOR)
    config = load_config(path)
    daemon = Daemon(config, environ={})
    try:
        assert daemon.apply(config) == []
        assert daemon.http is None
    finally:
        daemon._close_http()
        daemon.reader.close()


#: Run before sensord in the daemon's interpreter: every new thread asks for a 4 GiB stack
#: under a 2 GiB address space limit, so that the kernel refuses it (``Thread.start`` raises
#: RuntimeError, as under a service's task limit) while the process itself runs on.
NO_THREADS_PRELUDE = """
import resource, threading
resource.setrlimit(resource.RLIMIT_AS, (2 << 30, resource.getrlimit(resource.RLIMIT_AS)[1]))
threading.stack_size(4 << 30)
"""


def test_a_start_whose_http_thread_cannot_start_exits_naming_http(
    start_daemon: StartDaemon,
) -> None:
    """No thread can be started for the HTTP server at start: the daemon exits with the
    code of an HTTP server that cannot start, its log naming [http] and what limits the
    threads, not with a traceback."""
    daemon = start_daemon(config=SENSOR, python_prelude=NO_THREADS_PRELUDE)
    assert daemon.proc.wait(timeout=30) == EXIT_HTTP
    [failed] = daemon.events("cannot serve HTTP")
    assert failed["error"] == "can't start new thread"
    assert "[http]" in failed["hint"]
    assert "TasksMax=" in failed["hint"]
    assert daemon.uncaught() == []


#: Run before sensord in the daemon's interpreter: binding the HTTP server raises a
#: RuntimeError that no thread limit causes (NotImplementedError, a library's feature the
#: platform lacks).
BIND_NOT_IMPLEMENTED_PRELUDE = """
import sensord.http as http

def bind(self):
    raise NotImplementedError("bind is not implemented here")

http._Server.server_bind = bind
"""


def test_a_start_whose_http_server_fails_otherwise_is_not_told_to_look_at_threads(
    start_daemon: StartDaemon,
) -> None:
    """A RuntimeError from the HTTP server's set-up that is no thread refused (one of its
    subclasses, NotImplementedError): the daemon exits with the code of an HTTP server that
    cannot start, its log line carrying the error and its traceback, and no hint about the
    process's thread limit, which has nothing to do with it."""
    daemon = start_daemon(config=SENSOR, python_prelude=BIND_NOT_IMPLEMENTED_PRELUDE)
    assert daemon.proc.wait(timeout=30) == EXIT_HTTP
    [failed] = daemon.events("cannot serve HTTP")
    assert failed["error"] == "bind is not implemented here"
    assert "TasksMax=" not in failed["hint"]
    assert "thread" not in failed["hint"]
    [exception] = failed["exception"]
    assert exception["exc_type"] == "NotImplementedError"
