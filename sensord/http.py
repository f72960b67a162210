"""The HTTP server: ``/metrics``, ``/healthz``, ``/status``; nothing else.

Optionally HTTPS (a certificate and key; the TLS handshake runs on the connection's own thread,
so a slow client cannot hold up the accept loop) and HTTP basic authentication on every path
but ``/healthz`` (so liveness probes need no credentials).

It runs on threads of its own and only reads the daemon's counters, so a slow or stuck client
never blocks a pipeline. Connections are bounded in number (``http.max_connections``; past
that a connection gets ``503`` at once), in time (``http.request_timeout_s`` per socket
operation) and in size (``http.max_request_bytes`` for the request line and headers). The
accepting thread sleeps until a connection (or ``close()``) arrives, so an idle daemon's HTTP
side never wakes up.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hmac
import io
import json
import os
import select
import socket
import ssl
import threading
import time
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import structlog

from sensord.config import HttpConfig

__all__ = ["HttpServer", "serve"]

log = structlog.get_logger("sensord.http")

INDEX = b"""<!doctype html><html><head><title>sensord</title></head><body>
<h1>sensord</h1><ul>
<li><a href="/metrics">/metrics</a> Prometheus metrics</li>
<li><a href="/status">/status</a> sensors as JSON</li>
<li><a href="/healthz">/healthz</a> liveness</li>
</ul></body></html>
"""


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        app: HttpServer,
    ) -> None:
        self.app = app
        self.slots = threading.BoundedSemaphore(app.max_connections)
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, handler)
        if app.tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            context.load_cert_chain(*app.tls)
            self.socket = context.wrap_socket(
                self.socket, server_side=True, do_handshake_on_connect=False
            )

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.acquire(blocking=False):
            self.app.rejected += 1
            with contextlib.suppress(OSError):
                request.sendall(
                    b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                    b"Connection: close\r\n\r\n"
                )
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.release()


class _DeadlineSocketIO(socket.SocketIO):
    """A socket reader whose reads all end by ``deadline`` (monotonic seconds)."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(sock, "rb")
        self.deadline = float("inf")

    def readinto(self, buffer: Any) -> int | None:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("request took longer than request_timeout_s")
        self._sock.settimeout(left)  # type: ignore[attr-defined]
        return super().readinto(buffer)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "sensord"
    sys_version = ""

    def setup(self) -> None:
        self.request.settimeout(self.server.app.request_timeout_s)
        super().setup()
        # Reads share one deadline per request, so a client trickling a byte at a time cannot
        # hold a connection slot longer than request_timeout_s.
        self._raw = _DeadlineSocketIO(self.connection)
        self.rfile = io.BufferedReader(self._raw)

    def handle_one_request(self) -> None:
        self._raw.deadline = time.monotonic() + self.server.app.request_timeout_s
        super().handle_one_request()

    def parse_request(self) -> bool:
        requestline: bytes = getattr(self, "raw_requestline", b"")
        if len(requestline) > self.server.app.max_request_bytes:
            self.requestline, self.request_version, self.command = "", "HTTP/1.1", ""
            self.send_error(HTTPStatus.REQUEST_URI_TOO_LONG)
            return False
        return super().parse_request()

    def do_GET(self) -> None:
        self._serve_or_500(head=False)

    def do_HEAD(self) -> None:
        self._serve_or_500(head=True)

    def _serve_or_500(self, *, head: bool) -> None:
        try:
            self._serve(head=head)
        except (OSError, TimeoutError):
            raise  # the client went away or was too slow: the connection closes
        except Exception as exc:
            log.error("request failed", path=self.path[:200], error=repr(exc), exc_info=exc)
            self.send_error(HTTPStatus.INTERNAL_SERVER_ERROR)

    def _serve(self, *, head: bool) -> None:
        app = self.server.app
        header_bytes = sum(len(k) + len(v) + 4 for k, v in self.headers.items())
        if header_bytes > app.max_request_bytes:
            self.send_error(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE)
            return
        path = self.path.split("?", 1)[0]
        if path != "/healthz" and not self._authorized(app):
            self.send_response(HTTPStatus.UNAUTHORIZED)
            self.send_header("WWW-Authenticate", 'Basic realm="sensord", charset="UTF-8"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if path == "/metrics":
            body, content_type = app.render_metrics(self.headers.get("Accept"))
            app.scrapes += 1
            self._reply(HTTPStatus.OK, content_type, body, head)
        elif path == "/healthz":
            healthy, text = app.health()
            status = HTTPStatus.OK if healthy else HTTPStatus.SERVICE_UNAVAILABLE
            self._reply(status, "text/plain; charset=utf-8", text.encode() + b"\n", head)
        elif path == "/status":
            body = json.dumps(app.status(), indent=2, allow_nan=False).encode() + b"\n"
            self._reply(HTTPStatus.OK, "application/json", body, head)
        elif path == "/":
            self._reply(HTTPStatus.OK, "text/html; charset=utf-8", INDEX, head)
        else:
            self._reply(HTTPStatus.NOT_FOUND, "text/plain; charset=utf-8", b"not found\n", head)

    def _authorized(self, app: HttpServer) -> bool:
        if app.basic_auth is None:
            return True
        header = self.headers.get("Authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic":
            return False
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True)
        except (binascii.Error, ValueError):
            return False
        user, _, password = decoded.partition(b":")
        want_user, want_password = app.basic_auth
        # compare both in full every time, so timing does not tell which part was wrong
        user_ok = hmac.compare_digest(user, want_user.encode())
        password_ok = hmac.compare_digest(password, want_password.encode())
        return user_ok and password_ok

    def _reply(self, status: HTTPStatus, content_type: str, body: bytes, head: bool) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        self.close_connection = True
        super().send_error(code, message, explain)

    def log_message(self, format: str, *args: Any) -> None:
        """Access logs are not written (scrapes every few seconds would flood the journal)."""


class HttpServer:
    """Serves the daemon's endpoints on a background thread."""

    def __init__(
        self,
        listen: str,
        port: int,
        *,
        render_metrics: Callable[[str | None], tuple[bytes, str]],
        status: Callable[[], dict[str, Any]],
        health: Callable[[], tuple[bool, str]],
        request_timeout_s: float = 10.0,
        max_request_bytes: int = 8192,
        max_connections: int = 64,
        tls: tuple[str, str] | None = None,
        basic_auth: tuple[str, str] | None = None,
    ) -> None:
        self.listen = listen
        self.tls = tls
        self.basic_auth = basic_auth
        self.render_metrics = render_metrics
        self.status = status
        self.health = health
        self.request_timeout_s = request_timeout_s
        self.max_request_bytes = max_request_bytes
        self.max_connections = max_connections
        self.scrapes = 0
        self.rejected = 0
        self._server = _Server((listen, port), _Handler, self)  # binds now: errors surface here
        # handle_request() after poll() reported a connection: never wait for another one
        self._server.timeout = 0.0
        self.port: int = self._server.server_address[1]
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._accept_loop, name="sensord-http", daemon=True)
        self._thread.start()

    def _accept_loop(self) -> None:
        """Accept connections until ``close()``. Unlike ``serve_forever``, which wakes every
        poll interval to look for a shutdown request, this sleeps in ``poll()`` without a
        timeout on the listening socket and a wake-up pipe."""
        server = self._server
        listening = server.fileno()
        poller = select.poll()
        poller.register(listening, select.POLLIN)
        poller.register(self._wake_r, select.POLLIN)
        while not self._stopping:
            for fd, _events in poller.poll():
                if fd == listening and not self._stopping:
                    server.handle_request()

    def close(self) -> None:
        """Stop accepting, close the listening socket (idempotent)."""
        if self._thread is not None:
            self._stopping = True
            with contextlib.suppress(OSError):
                os.write(self._wake_w, b"\0")
            self._thread.join(timeout=2.0)
            self._thread = None
        self._server.server_close()
        for fd in (self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)
        self._wake_r = self._wake_w = -1

    @property
    def url(self) -> str:
        host = f"[{self.listen}]" if ":" in self.listen else self.listen
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{host}:{self.port}"


def serve(
    config: HttpConfig,
    listen: str,
    port: int,
    *,
    render_metrics: Callable[[str | None], tuple[bytes, str]],
    status: Callable[[], dict[str, Any]],
    health: Callable[[], tuple[bool, str]],
) -> HttpServer:
    """Bind with the settings of ``[http]`` (raising OSError on failure) and start serving."""
    tls = None
    if config.tls_cert_file is not None and config.tls_key_file is not None:
        tls = (config.tls_cert_file, config.tls_key_file)
    auth = None
    if config.basic_auth_username is not None and config.basic_auth_password is not None:
        auth = (config.basic_auth_username, config.basic_auth_password)
    server = HttpServer(
        listen,
        port,
        render_metrics=render_metrics,
        status=status,
        health=health,
        request_timeout_s=config.request_timeout_s,
        max_request_bytes=config.max_request_bytes,
        max_connections=config.max_connections,
        tls=tls,
        basic_auth=auth,
    )
    server.start()
    return server
