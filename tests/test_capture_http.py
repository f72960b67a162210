"""``/capture?sensor=NAME`` on the real HTTP server: loopback clients only, the same basic
auth as every other path, and ``sensord capture SENSOR``'s client (``tools.fetch_capture``)."""

from __future__ import annotations

import http.client
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from test_config_effects import make_certificates

from sensord.config_tables import HttpConfig
from sensord.http import HttpServer, _is_loopback, serve
from sensord.overview import status
from sensord.tools import capture_url, fetch_capture

BODY = b"sensord-capture 1\nsensor: a\n\nR\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01\xff"


def capture_of(name: str) -> bytes | None:
    return BODY if name == "a" else None


@contextmanager
def server(cfg: HttpConfig, listen: str = "127.0.0.1") -> Iterator[HttpServer]:
    srv = serve(
        cfg,
        listen,
        0,
        render_metrics=lambda accept: (b"m 1\n", "text/plain"),
        status=lambda: {},
        health=lambda: (True, "ok"),
        capture=capture_of,
    )
    try:
        yield srv
    finally:
        srv.close()


def get(host: str, port: int, path: str, source: str | None = None) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(
        host, port, timeout=5, source_address=(source, 0) if source else None
    )
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def test_capture_answers_the_named_sensor_and_refuses_the_rest() -> None:
    with server(HttpConfig()) as srv:
        assert get("127.0.0.1", srv.port, "/capture?sensor=a") == (200, BODY)
        assert get("127.0.0.1", srv.port, "/capture?sensor=b") == (404, b"no such sensor\n")
        assert get("127.0.0.1", srv.port, "/capture")[0] == 400
        assert get("127.0.0.1", srv.port, "/capture?sensor=a&sensor=b")[0] == 400
        assert srv.responses == {200: 1, 404: 1, 400: 2}


def test_loopback_addresses() -> None:
    assert all(_is_loopback(a) for a in ("127.0.0.1", "127.0.0.2", "::1", "::ffff:127.0.0.1"))
    assert not any(_is_loopback(a) for a in ("10.0.0.1", "::ffff:10.0.0.1", "2001:db8::1", "x"))


def _own_address() -> str | None:
    """This host's address on its default route, if it has one besides loopback."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))  # a UDP connect sends nothing
        except OSError:
            return None
        address: str = s.getsockname()[0]
    return None if _is_loopback(address) else address


def test_capture_is_refused_to_a_client_that_is_not_on_loopback() -> None:
    address = _own_address()
    if address is None:
        pytest.skip("this host has no address besides loopback")
    with server(HttpConfig(listen="0.0.0.0"), listen="0.0.0.0") as srv:
        status, body = get(address, srv.port, "/capture?sensor=a", source=address)
        assert status == 403
        assert b"loopback" in body
        assert b"sensord capture SENSOR" in body  # what to do instead
        assert b"SIGUSR1" in body
        assert get(address, srv.port, "/metrics", source=address)[0] == 200
        assert get("127.0.0.1", srv.port, "/capture?sensor=a")[0] == 200


def test_the_capture_command_uses_the_configured_credentials() -> None:
    cfg = HttpConfig(basic_auth_username="admin", basic_auth_password="pw")
    with server(cfg) as srv:
        http_cfg = cfg.replace(port=srv.port)
        assert get("127.0.0.1", srv.port, "/capture?sensor=a")[0] == 401
        assert fetch_capture(http_cfg, "a") == (BODY, "")
        wrong = http_cfg.replace(basic_auth_password="nope")
        body, problem = fetch_capture(wrong, "a")
        assert body == b""
        assert "HTTP 401" in problem
        body, problem = fetch_capture(http_cfg, "b")
        assert "HTTP 404 no such sensor" in problem


def test_a_refusal_of_credentials_says_where_they_come_from(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``sensord status --url`` (as the README gives it, for a user who may not read the
    service's file) and ``sensord capture`` of a daemon with basic auth: a bare "HTTP 401"
    does not say that the credentials come from the file given with -c; with the file's
    credentials refused, that the daemon asks for those it runs with until a reload."""
    cfg = HttpConfig(basic_auth_username="admin", basic_auth_password="pw")
    with server(cfg) as srv:
        url = f"http://127.0.0.1:{srv.port}"
        body, problem = fetch_capture(HttpConfig(), "a", url=url)
        assert body == b""
        assert problem == (
            f"{url}/capture?sensor=a: HTTP 401 (the daemon asks for basic-auth credentials, "
            "which its file's [http] holds: give the file with -c, with sudo for "
            "/etc/sensord/sensord.toml, which only root and group sensord may read)"
        )
        assert status(HttpConfig(), url) == 1
        assert capsys.readouterr().err == (
            f"sensord: {url}/status: HTTP 401 (the daemon asks for basic-auth credentials, "
            "which its file's [http] holds: give the file with -c, with sudo for "
            "/etc/sensord/sensord.toml, which only root and group sensord may read)\n"
        )
        wrong = cfg.replace(port=srv.port, basic_auth_password="edited")
        assert status(wrong) == 1
        assert capsys.readouterr().err == (
            f"sensord: {url}/status: HTTP 401 (the daemon refuses the file's [http] "
            "credentials: it asks for those it started with or last reloaded, until a reload "
            "applies the file's: sensord reload)\n"
        )


def test_a_given_url_asks_for_the_named_sensor() -> None:
    """``sensord capture SENSOR --url URL``: the daemon's address or its /capture URL, and
    the capture asked for is always SENSOR's."""
    with server(HttpConfig()) as srv:
        base = f"http://127.0.0.1:{srv.port}"
        http_cfg = HttpConfig(port=1)  # the configured address is not where the daemon is
        assert fetch_capture(http_cfg, "a", url=base) == (BODY, "")
        assert fetch_capture(http_cfg, "a", url=base + "/capture") == (BODY, "")
        assert fetch_capture(http_cfg, "a", url=base + "/capture?sensor=b") == (BODY, "")
        assert fetch_capture(http_cfg, "a", url=base + "/metrics") == (BODY, "")
        assert fetch_capture(http_cfg, "a", url=f"127.0.0.1:{srv.port}") == (BODY, "")
        body, problem = fetch_capture(http_cfg, "b", url=base + "/capture?sensor=a")
        assert body == b""
        assert "sensor=b" in problem
        assert "HTTP 404 no such sensor" in problem


def test_the_capture_url_reaches_a_daemon_on_every_address_over_loopback() -> None:
    assert capture_url(HttpConfig(listen="0.0.0.0", port=9), "a b") == (
        "http://127.0.0.1:9/capture?sensor=a+b"
    )
    assert capture_url(HttpConfig(listen="::", port=9), "a").startswith("http://[::1]:9/")


def test_an_unreachable_daemon_is_reported_not_raised() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: the connection is refused
        body, problem = fetch_capture(HttpConfig(port=port), "a")
    assert body == b""
    assert "cannot reach the daemon" in problem


def test_a_url_of_the_wrong_scheme_is_told_the_scheme_the_daemon_serves(tmp_path: Path) -> None:
    """``--url https://...`` of a daemon that serves plain HTTP (one whose file got TLS after
    its start, not reloaded yet), and ``--url http://...`` of one that serves TLS: TLS's
    ``WRONG_VERSION_NUMBER`` and a connection ended without an answer say neither."""
    with server(HttpConfig()) as srv:
        body, problem = fetch_capture(HttpConfig(), "a", url=f"https://127.0.0.1:{srv.port}")
    assert body == b""
    assert problem.startswith(f"cannot reach the daemon at https://127.0.0.1:{srv.port}/capture")
    assert problem.endswith(
        f" (no TLS is served there: ask http://127.0.0.1:{srv.port}/capture?sensor=a)"
    ), problem
    make_certificates(tmp_path)
    cfg = HttpConfig(
        tls_cert_file=str(tmp_path / "alpha.crt"), tls_key_file=str(tmp_path / "shared.key")
    )
    with server(cfg) as srv:
        body, problem = fetch_capture(cfg, "a", url=f"http://127.0.0.1:{srv.port}")
    assert body == b""
    assert problem.endswith(
        " (a daemon that serves TLS there ends a plain HTTP connection so: ask "
        f"https://127.0.0.1:{srv.port}/capture?sensor=a)"
    ), problem


def test_the_capture_command_trusts_the_daemons_own_certificate(tmp_path: Path) -> None:
    make_certificates(tmp_path)
    cfg = HttpConfig(
        tls_cert_file=str(tmp_path / "alpha.crt"), tls_key_file=str(tmp_path / "shared.key")
    )
    with server(cfg) as srv:
        http_cfg = cfg.replace(port=srv.port)
        assert capture_url(http_cfg, "a").startswith("https://127.0.0.1:")
        assert fetch_capture(http_cfg, "a") == (BODY, "")
        # another certificate than the one the daemon serves is not trusted
        other = http_cfg.replace(tls_cert_file=str(tmp_path / "beta.crt"))
        body, problem = fetch_capture(other, "a")
        assert body == b""
        assert "CERTIFICATE_VERIFY_FAILED" in problem


def test_the_capture_command_trusts_a_certificate_a_ca_issued(tmp_path: Path) -> None:
    """A site's certificate is usually issued by its CA (the one Prometheus's
    tls_config.ca_file names), not self-signed; pinned as the only trust anchor, it is
    trusted without the CA."""

    def openssl(*args: str) -> None:
        subprocess.run(["openssl", *args], check=True, capture_output=True, cwd=tmp_path)

    ec = ("-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes")
    openssl("req", "-x509", *ec, "-days", "2", "-subj", "/CN=Site CA",
            "-keyout", "ca.key", "-out", "ca.crt")  # fmt: skip
    openssl("req", *ec, "-subj", "/CN=sensors1.example.net",
            "-keyout", "site.key", "-out", "site.csr")  # fmt: skip
    openssl("x509", "-req", "-in", "site.csr", "-CA", "ca.crt", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-out", "site.crt")  # fmt: skip
    cfg = HttpConfig(
        tls_cert_file=str(tmp_path / "site.crt"), tls_key_file=str(tmp_path / "site.key")
    )
    with server(cfg) as srv:
        assert fetch_capture(cfg.replace(port=srv.port), "a") == (BODY, "")
