"""The HTTP server: ``/metrics``, ``/healthz``, ``/status``, ``/capture``; nothing else.

``/capture?sensor=NAME`` answers a sensor's recent raw bytes as a capture file
(``sensord.capture``) to clients on a loopback address only (403 for others), behind the same
TLS and basic authentication as the rest: the raw bytes of a line may carry more than its
readings, so they are not served to the network.

Optionally HTTPS (a certificate and key, which a reload may replace for the connections
accepted after it: one kept alive from before is closed at its next request, unanswered when
it is plain and TLS is on; the TLS handshake runs on the connection's own thread, so a slow
client cannot hold up the accept loop) and HTTP basic authentication on every path but
``/healthz`` (so liveness probes need no credentials).

It runs on threads of its own and only reads the daemon's counters, so a slow or stuck client
never blocks a pipeline. Clients are bounded:

* in number: at most ``http.max_connections`` connections in all and
  ``http.max_connections_per_client`` from one client address; past either a connection gets
  ``503`` at once (TLS connections are closed), so one address holding its share never locks
  out the scraper or a health check from another;
* in time: the request line and headers (and the TLS handshake) must arrive within
  ``http.header_timeout_s``, and the whole exchange must end within ``http.request_timeout_s``;
  the same deadline closes an idle keep-alive connection;
* in size: ``http.max_request_bytes`` for the request line and headers together.

What a client gets wrong or breaks off (a disconnect, a reset, a timeout, a malformed request,
a failed TLS handshake) ends its connection quietly: it is counted
(``sensord_http_client_errors_total{reason}``) and logged at debug level, at most once a
minute per reason; a refused connection likewise at warning level. Nothing here writes to
stderr except through structlog. The accepting thread sleeps until a connection (or
``close()``) arrives, so an idle daemon's HTTP side never wakes up.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import errno
import hmac
import http.client
import io
import ipaddress
import json
import os
import select
import socket
import ssl
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import structlog
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from sensord.config_tables import HttpConfig
from sensord.log import RateLimiter

__all__ = [
    "CLIENT_ERRORS",
    "HTTP_FAMILIES",
    "REJECTIONS",
    "RELOADS_BEGUN_HEADER",
    "RELOADS_HEADER",
    "HttpCollector",
    "HttpServer",
    "HttpThreadError",
    "credentials",
    "serve",
    "tls_context",
    "tls_files",
]

log = structlog.get_logger("sensord.http")

#: The reasons of ``sensord_http_client_errors_total``: the client went away mid-request or
#: mid-response (``disconnect``), its request head or TLS handshake did not arrive within
#: ``header_timeout_s`` (``header_timeout``), the exchange outlasted ``request_timeout_s``
#: (``timeout``), the request was refused as invalid (``malformed``: 400, 414, 431, 501, 505),
#: the TLS handshake failed (``tls``).
CLIENT_ERRORS = ("disconnect", "header_timeout", "timeout", "malformed", "tls")
#: The reasons of ``sensord_http_connections_rejected_total``: the client's address already
#: held ``max_connections_per_client`` connections, or the server ``max_connections``.
REJECTIONS = ("client_limit", "server_limit")
#: The families of HttpCollector, as a text exposition names them (counters without _total).
HTTP_FAMILIES = (
    "sensord_http_requests",
    "sensord_http_client_errors",
    "sensord_http_connections_rejected",
    "sensord_http_connections",
)
#: The headers of ``/healthz`` that count the reloads whose outcome is set and those begun
#: (``/status`` ``config_reloads`` and ``config_reloads_begun``): ``sensord reload`` waits on
#: them for a daemon whose credentials are not yet the file's, which ``/status`` refuses.
RELOADS_HEADER = "Sensord-Config-Reloads"
RELOADS_BEGUN_HEADER = "Sensord-Config-Reloads-Begun"
#: Seconds between two log lines of one kind of client fault.
LOG_INTERVAL_S = 60.0
#: Seconds the accepting thread pauses when the process is out of descriptors or memory.
ACCEPT_PAUSE_S = 0.1

_OUT_OF_RESOURCES = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})

_MALFORMED = frozenset({400, 414, 431, 501, 505})
_REJECT_503 = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"

INDEX = b"""<!doctype html><html><head><title>sensord</title></head><body>
<h1>sensord</h1><ul>
<li><a href="/metrics">/metrics</a> Prometheus metrics</li>
<li><a href="/status">/status</a> sensors as JSON</li>
<li><a href="/healthz">/healthz</a> liveness</li>
<li>/capture?sensor=NAME a sensor's recent raw bytes (loopback clients only)</li>
</ul></body></html>
"""


class CaptureUnavailableError(Exception):
    """The sensor is configured but its capture cannot be had now (its ``--workers`` worker
    is down, starting or not responding); the message says which and what to do."""


class _ClientClosedError(ConnectionError):
    """The client closed its side in the middle of a request's head."""


class _HeadTooLargeError(http.client.LineTooLong):
    """The request line and headers together exceed ``max_request_bytes``."""

    def __init__(self) -> None:
        http.client.HTTPException.__init__(self, "request head exceeds max_request_bytes")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    # close() never waits for connection threads: each ends by its own deadlines
    block_on_close = False
    allow_reuse_address = True
    # room for a burst of connections while the accepting thread turns the excess away
    request_queue_size = 1024

    def __init__(
        self,
        address: tuple[str, int],
        handler: type[BaseHTTPRequestHandler],
        app: HttpServer,
    ) -> None:
        self.app = app
        self.lock = threading.Lock()
        #: open connections per client address, and in all (guarded by ``lock``)
        self.per_client: dict[str, int] = {}
        self.open = 0
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        super().__init__(address, handler)

    def get_request(self) -> tuple[Any, Any]:
        try:
            request, client_address = super().get_request()
        except OSError as exc:
            if exc.errno in _OUT_OF_RESOURCES:
                # the connection stays queued and the listening socket readable: pause
                # rather than spin until a descriptor is free
                self.app.note_accept_failure(exc)
                time.sleep(ACCEPT_PAUSE_S)
            raise  # socketserver drops the attempt
        # the TLS of the moment it is accepted (a reload may load another), as an SSLSocket's
        # accept() wraps it; the handshake runs on the connection's thread (``_Handler``)
        context = self.app.context
        if context is not None:
            try:
                request = context.wrap_socket(
                    request, server_side=True, do_handshake_on_connect=False
                )
            except BaseException:
                request.close()
                raise
        return request, client_address

    def process_request(self, request: Any, client_address: Any) -> None:
        app = self.app
        host = str(client_address[0])
        with self.lock:
            held = self.per_client.get(host, 0)
            if held >= app.max_connections_per_client:
                reason: str | None = "client_limit"
            elif self.open >= app.max_connections:
                reason = "server_limit"
            else:
                reason = None
                self.per_client[host] = held + 1
                self.open += 1
        if reason is not None:
            self._reject(request, host, reason)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._release(host)
            raise

    def _reject(self, request: Any, host: str, reason: str) -> None:
        app = self.app
        app.note_rejection(reason, host)
        if not isinstance(request, ssl.SSLSocket):
            app.count_response(503)
            # a fresh socket's send buffer is empty: this never blocks the accepting thread
            with contextlib.suppress(OSError):
                request.setblocking(False)
                request.send(_REJECT_503)
        # over TLS a reply needs a handshake with the client: the connection is just closed
        self.shutdown_request(request)

    def _release(self, host: str) -> None:
        with self.lock:
            left = self.per_client[host] - 1
            if left:
                self.per_client[host] = left
            else:
                del self.per_client[host]
            self.open -= 1

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        # socketserver's own, with the slot freed before the socket is closed: a client that
        # saw its connection end and reconnects at once finds the slot free
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self._release(str(client_address[0]))
            self.shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """An exception that escaped the handler: logged through structlog, never printed."""
        self.app.note_unexpected(str(client_address[0]))


class _DeadlineReader(socket.SocketIO):
    """A socket reader whose reads all end by ``deadline`` (monotonic seconds)."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__(sock, "rb")
        self.deadline = float("inf")
        #: bytes received (reset by the handler at the start of each request)
        self.received = 0

    def readinto(self, buffer: Any) -> int | None:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("deadline passed")
        self._sock.settimeout(left)  # type: ignore[attr-defined]
        n = super().readinto(buffer)
        self.received += n or 0
        return n


class _HeadReader(io.BufferedReader):
    """The request stream. ``readline`` spends a byte budget for the request line and headers
    (``_HeadTooLargeError`` past it) and raises ``_ClientClosedError`` for a line cut short
    by the end of the stream, or for the end of the stream where a header line is due."""

    def __init__(self, raw: _DeadlineReader) -> None:
        super().__init__(raw)
        self.budget = 0
        #: True while reading a request line: the end of the stream there is a clean close
        self.at_boundary = True

    def readline(self, size: int | None = -1) -> bytes:
        limit = self.budget + 1
        if size is not None and 0 <= size < limit:
            limit = size
        line = super().readline(limit)
        self.budget -= len(line)
        if self.budget < 0:
            raise _HeadTooLargeError
        if len(line) < limit and not line.endswith(b"\n") and (line or not self.at_boundary):
            raise _ClientClosedError("connection closed in the middle of a request")
        return line


class _DeadlineWriter(io.BufferedIOBase):
    """A socket writer whose writes all end by ``deadline`` (monotonic seconds)."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self._sock = sock
        self.deadline = float("inf")

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("deadline passed")
        self._sock.settimeout(left)
        self._sock.sendall(data)
        return len(data)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"
    server_version = "sensord"
    sys_version = ""
    # an error found before the request's version is known still gets a status line
    default_request_version = "HTTP/1.0"
    error_message_format = "%(code)d %(message)s\n"
    error_content_type = "text/plain; charset=utf-8"

    def setup(self) -> None:
        app = self.server.app
        self.connection = self.request
        self.connection.settimeout(app.request_timeout_s)
        self._reader = _DeadlineReader(self.connection)
        self.rfile = self._head = _HeadReader(self._reader)
        self.wfile = self._writer = _DeadlineWriter(self.connection)
        #: where a timeout or a failure belongs: "tls", "head" (waiting for or reading a
        #: request line and headers) or "response"
        self._phase = "head"
        #: when the wait for the first request head began: at accept, before any handshake
        self._head_started: float | None = time.monotonic()
        #: requests answered on this connection
        self._answered = 0
        #: the TLS context this connection was accepted with (None: plain), and whether the
        #: answer sent closes the connection because a reload loaded another since
        self._context = (
            self.connection.context if isinstance(self.connection, ssl.SSLSocket) else None
        )
        self._tls_replaced = False

    def handle(self) -> None:
        app = self.server.app
        try:
            if isinstance(self.connection, ssl.SSLSocket):
                self._phase = "tls"
                assert self._head_started is not None
                left = self._head_started + app.header_timeout_s - time.monotonic()
                self.connection.settimeout(max(left, 0.001))
                self.connection.do_handshake()
            super().handle()
        except Exception as exc:
            self.close_connection = True
            reason = self._reason(exc)
            if reason == "header_timeout" and self._answered and not self._reader.received:
                return  # a kept-alive connection that stayed idle: closed, not a fault
            app.note_client_error(reason, str(self.client_address[0]), exc)

    def _reason(self, exc: Exception) -> str:
        if isinstance(exc, TimeoutError):
            return "timeout" if self._phase == "response" else "header_timeout"
        if isinstance(exc, OSError):  # resets, broken pipes, TLS errors, _ClientClosedError
            return "tls" if self._phase == "tls" else "disconnect"
        raise exc  # not the client's doing: handle_error logs it

    def handle_one_request(self) -> None:
        app = self.server.app
        self._phase = "head"
        started = self._head_started if self._head_started is not None else time.monotonic()
        self._head_started = None
        self._reader.deadline = started + app.header_timeout_s
        self._writer.deadline = started + app.request_timeout_s
        self._head.budget = app.max_request_bytes
        self._reader.received = 0
        self._head.at_boundary = True
        self.command = ""
        try:
            self.raw_requestline = self._head.readline()
        except _HeadTooLargeError:
            self.requestline, self.request_version = "", self.default_request_version
            self.send_error(HTTPStatus.REQUEST_URI_TOO_LONG)
            return
        self._head.at_boundary = False
        if not self.raw_requestline:
            self.close_connection = True  # closed between requests: a normal end
            return
        if not self.parse_request():
            return
        if self._context is not app.context:
            # a reload loaded other TLS (or none) since this connection was accepted: plain
            # text is not answered once TLS is on (closed unanswered, as by a closed server);
            # over TLS this answer is the last, so the client's next connection gets the new
            self.close_connection = True
            if self._context is None:
                return
            self._tls_replaced = True
        self._phase = "response"
        self._reader.deadline = self._writer.deadline
        method = getattr(self, "do_" + self.command, None)
        if method is None:
            self.send_error(HTTPStatus.NOT_IMPLEMENTED)
            return
        method()
        self._answered += 1

    def parse_request(self) -> bool:
        line = self.raw_requestline.decode("iso-8859-1").rstrip("\r\n")
        if len(line.split()) == 2:
            # HTTP/0.9 has neither status line nor headers: refused rather than answered
            self.requestline, self.close_connection = line, True
            self.request_version = self.default_request_version
            self.send_error(HTTPStatus.BAD_REQUEST)
            return False
        if not super().parse_request():
            if not line.strip():
                # an empty request line gets no reply from the base class
                self.server.app.note_client_error("malformed", str(self.client_address[0]))
            return False
        if not self.request_version.startswith("HTTP/1."):
            self.request_version = self.default_request_version
            self.send_error(HTTPStatus.BAD_REQUEST)
            return False
        return True

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
            self.server.app.note_failed_request(self.path, exc)
            self.send_error(HTTPStatus.INTERNAL_SERVER_ERROR)

    def _serve(self, *, head: bool) -> None:
        app = self.server.app
        path = self.path.split("?", 1)[0]
        if path != "/healthz" and not self._authorized(app):
            self.send_response(HTTPStatus.UNAUTHORIZED)
            self.send_header("WWW-Authenticate", 'Basic realm="sensord", charset="UTF-8"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if path == "/metrics":
            body, content_type = app.render_metrics(self.headers.get("Accept"))
            self._reply(HTTPStatus.OK, content_type, body, head)
        elif path == "/healthz":
            healthy, text = app.health()
            status = HTTPStatus.OK if healthy else HTTPStatus.SERVICE_UNAVAILABLE
            counts: list[tuple[str, str]] = []
            if app.reloads is not None:
                done, begun = app.reloads()
                counts = [(RELOADS_HEADER, str(done)), (RELOADS_BEGUN_HEADER, str(begun))]
            body = text.encode() + b"\n"
            self._reply(status, "text/plain; charset=utf-8", body, head, counts)
        elif path == "/status":
            # compact: json's indenting encoder is pure Python and leaves reference cycles
            # (its recursive closures) for the cyclic collector after every request, which an
            # otherwise quiet daemon may not run for a long time
            body = json.dumps(app.status(), allow_nan=False).encode() + b"\n"
            self._reply(HTTPStatus.OK, "application/json", body, head)
        elif path == "/capture":
            self._capture(app, head)
        elif path == "/":
            self._reply(HTTPStatus.OK, "text/html; charset=utf-8", INDEX, head)
        else:
            self._reply(HTTPStatus.NOT_FOUND, "text/plain; charset=utf-8", b"not found\n", head)

    def _capture(self, app: HttpServer, head: bool) -> None:
        text = "text/plain; charset=utf-8"
        if not _is_loopback(str(self.client_address[0])):
            refusal = (
                b"/capture answers clients on this host (loopback) only: on the host, run "
                b"'sensord capture SENSOR', or send SIGUSR1 (systemctl kill -s USR1 sensord) "
                b"to write every sensor's capture into [capture] directory\n"
            )
            self._reply(HTTPStatus.FORBIDDEN, text, refusal, head)
            return
        names = urllib.parse.parse_qs(self.path.partition("?")[2]).get("sensor", [])
        if len(names) != 1:
            self._reply(HTTPStatus.BAD_REQUEST, text, b"use /capture?sensor=NAME\n", head)
            return
        try:
            body = app.capture(names[0]) if app.capture is not None else None
        except CaptureUnavailableError as exc:
            self._reply(HTTPStatus.SERVICE_UNAVAILABLE, text, f"{exc}\n".encode(), head)
            return
        if body is None:
            self._reply(HTTPStatus.NOT_FOUND, text, b"no such sensor\n", head)
            return
        self._reply(HTTPStatus.OK, "application/octet-stream", body, head)

    def _authorized(self, app: HttpServer) -> bool:
        # read once: a reload may set other credentials (or none) while this request runs
        basic_auth = app.basic_auth
        if basic_auth is None:
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
        want_user, want_password = basic_auth
        # compare both in full every time, so timing does not tell which part was wrong
        user_ok = hmac.compare_digest(user, want_user.encode())
        password_ok = hmac.compare_digest(password, want_password.encode())
        return user_ok and password_ok

    def _reply(
        self,
        status: HTTPStatus,
        content_type: str,
        body: bytes,
        head: bool,
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        if self.server.app.closed:
            # the server was closed while ``body`` was computed, or before: the connection is
            # closed unanswered. A reload that moves [http] closes the old server before it
            # counts the reload, so a /status that shows it counted (its counts are read first)
            # never comes from the address the daemon left: ``sensord reload`` reads an answer
            # there as the daemon still serving there
            self.close_connection = True
            return
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        if not head:
            self.wfile.write(body)

    def send_response(self, code: int, message: str | None = None) -> None:
        self.server.app.count_response(int(code))
        super().send_response(code, message)
        if self._tls_replaced:
            self.send_header("Connection", "close")

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The standard reason phrase only: nothing the client sent is echoed back."""
        del message, explain  # http.server fills them with what the client sent
        self.close_connection = True
        self._tls_replaced = False  # http.server's send_error sends its own Connection: close
        if code in _MALFORMED:
            self.server.app.note_client_error("malformed", str(self.client_address[0]))
        super().send_error(code)

    def version_string(self) -> str:
        return self.server_version

    def log_message(self, format: str, *args: Any) -> None:
        """Access logs are not written (scrapes every few seconds would flood the journal);
        faults are counted and logged by HttpServer."""


class HttpThreadError(RuntimeError):
    """The server's thread could not be started (``Thread.start`` raised RuntimeError: the
    process may start no more threads), told apart from any other RuntimeError."""


class HttpServer:
    """Serves the daemon's endpoints on a background thread.

    Its counters are plain integers (``responses`` by status code, ``client_errors`` and
    ``rejections`` by reason); ``HttpCollector`` turns them into metrics at
    scrape time.
    """

    def __init__(
        self,
        listen: str,
        port: int,
        *,
        render_metrics: Callable[[str | None], tuple[bytes, str]],
        status: Callable[[], dict[str, Any]],
        health: Callable[[], tuple[bool, str]],
        capture: Callable[[str], bytes | None] | None = None,
        reloads: Callable[[], tuple[int, int]] | None = None,
        request_timeout_s: float = 10.0,
        header_timeout_s: float = 5.0,
        max_request_bytes: int = 8192,
        max_connections: int = 64,
        max_connections_per_client: int = 8,
        tls: tuple[str, str] | None = None,
        basic_auth: tuple[str, str] | None = None,
        log_interval_s: float = LOG_INTERVAL_S,
    ) -> None:
        self.listen = listen
        #: the certificate and key files served, and their context, which each connection
        #: accepted takes (``set_tls``: a reload loads others); loaded before the address is
        #: bound, so files that cannot be served leave it free
        self.tls = tls
        self.context = tls_context(tls)
        #: checked at each request: a reload that changes only the credentials sets them here
        self.basic_auth = basic_auth
        self.render_metrics = render_metrics
        self.status = status
        self.health = health
        self.capture = capture
        #: ``(outcomes set, begun)`` of the reloads, told by ``/healthz``'s headers
        self.reloads = reloads
        self.request_timeout_s = request_timeout_s
        #: never longer than request_timeout_s, which bounds the whole exchange
        self.header_timeout_s = min(header_timeout_s, request_timeout_s)
        self.max_request_bytes = max_request_bytes
        self.max_connections = max_connections
        self.max_connections_per_client = max_connections_per_client
        self.responses: dict[int, int] = {}
        self.client_errors = dict.fromkeys(CLIENT_ERRORS, 0)
        self.rejections = dict.fromkeys(REJECTIONS, 0)
        self._counts_lock = threading.Lock()
        self._limiter = RateLimiter(log_interval_s)
        self._server = _Server((listen, port), _Handler, self)  # binds now: errors surface here
        # handle_request() after poll() reported a connection: never wait for another one
        self._server.timeout = 0.0
        self.port: int = self._server.server_address[1]
        self._thread: threading.Thread | None = None
        self._stopping = False
        #: set first thing by ``close()``: a reply computed after it is not sent (``_reply``)
        self.closed = False
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)

    def set_tls(self, tls: tuple[str, str] | None) -> None:
        """Serve ``tls``'s certificate and key (None: plain HTTP) on connections accepted from
        now on; one open before is closed at its next request (``_Handler``). OSError or
        ssl.SSLError, and nothing changed, when they cannot be loaded."""
        context = tls_context(tls)
        self.context, self.tls = context, tls

    # -- counters and the log lines of client faults (called from connection threads) ---------
    @property
    def rejected(self) -> int:
        """Connections refused at once (either limit)."""
        return sum(self.rejections.values())

    @property
    def connections(self) -> int:
        """Connections open now."""
        return self._server.open

    def count_response(self, code: int) -> None:
        with self._counts_lock:
            self.responses[code] = self.responses.get(code, 0) + 1

    def note_client_error(self, reason: str, client: str, exc: BaseException | None = None) -> None:
        with self._counts_lock:
            self.client_errors[reason] += 1
            suppressed = self._limiter.check(reason)
        if suppressed is not None:
            detail = type(exc).__name__ if exc is not None else None
            log.debug(
                "http client fault", reason=reason, client=client, error=detail,
                suppressed=suppressed,
            )  # fmt: skip

    def note_rejection(self, reason: str, client: str) -> None:
        with self._counts_lock:
            self.rejections[reason] += 1
            suppressed = self._limiter.check(reason)
        if suppressed is not None:
            per_client = reason == "client_limit"
            limit = self.max_connections_per_client if per_client else self.max_connections
            log.warning(
                "http connection refused", reason=reason, client=client, limit=limit,
                suppressed=suppressed,
            )  # fmt: skip

    def note_accept_failure(self, exc: OSError) -> None:
        with self._counts_lock:
            suppressed = self._limiter.check("accept")
        if suppressed is not None:
            log.warning(
                "http cannot accept connections", error=exc.strerror, pause_s=ACCEPT_PAUSE_S,
                suppressed=suppressed,
            )  # fmt: skip

    def note_failed_request(self, path: str, exc: Exception) -> None:
        """A request answered 500 (a bug behind an endpoint): logged with its traceback at
        most once a ``log_interval_s``, since a scraper that repeats the request would
        otherwise write one traceback a scrape."""
        with self._counts_lock:
            suppressed = self._limiter.check("request failed")
        if suppressed is not None:
            log.error(
                "request failed", path=path[:200], error=repr(exc), suppressed=suppressed,
                exc_info=exc,
            )  # fmt: skip

    def note_unexpected(self, client: str) -> None:
        """An exception escaped a connection's handler (called from inside ``except``)."""
        with self._counts_lock:
            suppressed = self._limiter.check("unexpected")
        if suppressed is not None:
            log.error("http connection failed", client=client, suppressed=suppressed, exc_info=True)

    def counts(self) -> tuple[dict[int, int], dict[str, int], dict[str, int]]:
        """A consistent copy of (responses, client_errors, rejections)."""
        with self._counts_lock:
            return dict(self.responses), dict(self.client_errors), dict(self.rejections)

    # -- serving -------------------------------------------------------------------------------
    def start(self) -> None:
        thread = threading.Thread(target=self._accept_loop, name="sensord-http", daemon=True)
        try:
            thread.start()  # kept once it runs: ``close`` joins no thread that never started
        except RuntimeError as exc:
            raise HttpThreadError(str(exc)) from exc
        self._thread = thread

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
        """Stop accepting, close the listening socket (idempotent). Open connections end by
        their own deadlines; a request they send is no longer answered (``closed``)."""
        self.closed = True
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


class HttpCollector(Collector):
    """``sensord_http_*`` from the counters of the server ``current()`` returns (None: none).

    A reload that changes ``[http]`` replaces the server; the counts of the one it replaced
    are carried over, so the counters never go back.
    """

    def __init__(self, current: Callable[[], HttpServer | None]) -> None:
        self._current = current
        self._lock = threading.Lock()
        self._seen: HttpServer | None = None
        self._carried: tuple[dict[int, int], dict[str, int], dict[str, int]] = ({}, {}, {})

    def describe(self) -> Iterable[Metric]:
        return []

    def collect(self) -> Iterable[Metric]:
        server = self._current()
        with self._lock:
            if server is not self._seen:
                if self._seen is not None:
                    self._carried = _add_counts(self._carried, self._seen.counts())
                self._seen = server
            counts = self._carried
            if server is not None:
                counts = _add_counts(counts, server.counts())
        responses, errors, rejections = counts
        requests = CounterMetricFamily(
            "sensord_http_requests", "HTTP responses sent, by status code", labels=["code"]
        )
        for code in sorted(responses):
            requests.add_metric([str(code)], responses[code])
        client_errors = CounterMetricFamily(
            "sensord_http_client_errors",
            "HTTP connections a client broke off or got wrong: disconnect, header_timeout, "
            "timeout, malformed, tls",
            labels=["reason"],
        )
        for reason in CLIENT_ERRORS:
            client_errors.add_metric([reason], errors.get(reason, 0))
        rejected = CounterMetricFamily(
            "sensord_http_connections_rejected",
            "HTTP connections refused at once: the client's address or the server was at its "
            "connection limit",
            labels=["reason"],
        )
        for reason in REJECTIONS:
            rejected.add_metric([reason], rejections.get(reason, 0))
        open_now = GaugeMetricFamily("sensord_http_connections", "HTTP connections open now")
        open_now.add_metric([], server.connections if server is not None else 0)
        return [requests, client_errors, rejected, open_now]


def _is_loopback(host: str) -> bool:
    try:
        address = ipaddress.ip_address(host.partition("%")[0])
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def _add_counts(
    a: tuple[dict[int, int], dict[str, int], dict[str, int]],
    b: tuple[dict[int, int], dict[str, int], dict[str, int]],
) -> tuple[dict[int, int], dict[str, int], dict[str, int]]:
    responses = dict(a[0])
    for code, n in b[0].items():
        responses[code] = responses.get(code, 0) + n
    errors = {k: a[1].get(k, 0) + b[1].get(k, 0) for k in CLIENT_ERRORS}
    rejections = {k: a[2].get(k, 0) + b[2].get(k, 0) for k in REJECTIONS}
    return responses, errors, rejections


def tls_context(tls: tuple[str, str] | None) -> ssl.SSLContext | None:
    """The server context of ``(certificate file, key file)``; None for None. OSError or
    ssl.SSLError when they cannot be loaded."""
    if tls is None:
        return None
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    # an empty passphrase: an encrypted key fails here, never prompts on a terminal
    context.load_cert_chain(*tls, password=b"")
    return context


def tls_files(config: HttpConfig) -> tuple[str, str] | None:
    """The ``(certificate file, key file)`` of ``[http]``; None: plain HTTP."""
    if config.tls_cert_file is None or config.tls_key_file is None:
        return None
    return config.tls_cert_file, config.tls_key_file


def credentials(config: HttpConfig) -> tuple[str, str] | None:
    """The ``(username, password)`` that basic authentication of ``[http]`` asks for; None:
    none is asked."""
    if config.basic_auth_username is None or config.basic_auth_password is None:
        return None
    return config.basic_auth_username, config.basic_auth_password


def serve(
    config: HttpConfig,
    listen: str,
    port: int,
    *,
    render_metrics: Callable[[str | None], tuple[bytes, str]],
    status: Callable[[], dict[str, Any]],
    health: Callable[[], tuple[bool, str]],
    capture: Callable[[str], bytes | None] | None = None,
    reloads: Callable[[], tuple[int, int]] | None = None,
) -> HttpServer:
    """Bind with the settings of ``[http]`` (raising OSError on failure) and start serving."""
    server = HttpServer(
        listen,
        port,
        render_metrics=render_metrics,
        status=status,
        health=health,
        capture=capture,
        reloads=reloads,
        request_timeout_s=config.request_timeout_s,
        header_timeout_s=config.header_timeout_s,
        max_request_bytes=config.max_request_bytes,
        max_connections=config.max_connections,
        max_connections_per_client=config.max_connections_per_client,
        tls=tls_files(config),
        basic_auth=credentials(config),
    )
    try:
        server.start()
    except BaseException:
        server.close()
        raise
    return server
