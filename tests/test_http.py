"""The HTTP server on a real socket: paths, limits, basic auth, TLS; config secrets."""

from __future__ import annotations

import base64
import http.client
import os
import socket
import ssl
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from sensord.config import load_config
from sensord.errors import ConfigError
from sensord.http import HttpServer

SENSOR = """
[[sensors]]
name = "probe"
port = "sim://probe"
format = "value"
  [[sensors.channels]]
  name = "t"
"""


def make_server(**kw: Any) -> HttpServer:
    calls: dict[str, int] = {"metrics": 0}

    def render(accept: str | None) -> tuple[bytes, str]:
        calls["metrics"] += 1
        return b"sensord_up 1\n", "text/plain; version=0.0.4; charset=utf-8"

    server = HttpServer(
        "127.0.0.1",
        0,
        render_metrics=render,
        status=lambda: {"state": "running"},
        health=lambda: (True, "ok"),
        **kw,
    )
    server.start()
    return server


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
    assert server.scrapes == 2  # GET and HEAD of /metrics


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
        assert srv.scrapes == 1
    finally:
        srv.close()


def _self_signed(tmp_path: Path) -> tuple[str, str]:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
            "-subj", "/CN=localhost", "-addext", "subjectAltName=IP:127.0.0.1",
            "-keyout", str(key), "-out", str(cert),
        ],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return str(cert), str(key)


def test_tls(tmp_path: Path) -> None:
    cert, key = _self_signed(tmp_path)
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
