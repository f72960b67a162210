"""The running daemon's HTTP endpoints as sensord's own commands fetch them.

``sensord capture``, ``sensord status`` and ``sensord reload`` ask the daemon that a
configuration describes, over loopback (``/capture`` is served to loopback clients only), with
that configuration's TLS (its own certificate is the one trusted) and basic auth; or the
address given on the command line. ``sensord reload`` alone may read a daemon whose certificate
is not the file's (a renewal it has not loaded yet) without verifying it, once it knows the
process listening there is the daemon (``sensord.reload``).
"""

from __future__ import annotations

import base64
import http.client
import ssl
import urllib.error
import urllib.parse
import urllib.request
from email.message import Message

from sensord.config_tables import HttpConfig

__all__ = [
    "FETCH_TIMEOUT_S",
    "at_path",
    "certificate_refused",
    "credentials_hint",
    "fetch",
    "fetch_headers",
    "local_url",
    "url_at",
]

#: How long a command waits for the daemon's answer.
FETCH_TIMEOUT_S = 10.0
#: What a refused connection most likely means, and what to try.
NOT_LISTENING_HINT = (
    "nothing listens there: is sensord running? (systemctl status sensord); for a daemon on "
    "another address, give its file with -c or its address with --url"
)


def local_url(http: HttpConfig, path: str, query: dict[str, str] | None = None) -> str:
    """``path`` (and ``query``) on the daemon that ``http`` describes, over loopback: a
    daemon listening on every address is asked on 127.0.0.1 (or ::1)."""
    scheme = "https" if http.tls_cert_file else "http"
    text = url_at(scheme, http.listen, http.port, path)
    return f"{text}?{urllib.parse.urlencode(query)}" if query else text


def url_at(scheme: str, listen: str, port: int, path: str) -> str:
    """``path`` on a server listening on ``listen``:``port``, over loopback when it listens
    on every address (127.0.0.1, or ::1)."""
    host = listen
    if host in ("0.0.0.0", "", "localhost"):
        host = "127.0.0.1"
    elif host == "::":
        host = "::1"
    if ":" in host:
        host = f"[{host}]"
    return f"{scheme}://{host}:{port}{path}"


def at_path(url: str, path: str) -> str:
    """``url``, the daemon's address (``http://HOST:PORT``, or ``HOST:PORT``) or one of its
    URLs, with its path replaced by ``path`` unless it ends with it already (a proxy's
    ``/sensord/status``); its query kept."""
    if "://" not in url:
        url = "http://" + url
    parts = urllib.parse.urlsplit(url)
    return urllib.parse.urlunsplit(
        parts if parts.path.endswith(path) else parts._replace(path=path)
    )


def fetch(
    http: HttpConfig,
    target: str,
    timeout_s: float = FETCH_TIMEOUT_S,
    *,
    trust_served: bool = False,
) -> tuple[bytes, str]:
    """The body of ``target``: ``(body, "")``, or ``(b"", why not)`` naming the URL; each
    connect and read waits ``timeout_s`` at most.

    With TLS the daemon's own certificate (``tls_cert_file``) is the one trusted, or with
    ``trust_served`` whichever it serves (for a caller that knows who listens at ``target``);
    basic auth uses the configured credentials.
    """
    request, context = _request(http, target, trust_served)
    try:
        with urllib.request.urlopen(request, timeout=timeout_s, context=context) as reply:
            body: bytes = reply.read()
            return body, ""
    except urllib.error.HTTPError as exc:
        text = exc.read(1000).decode("utf-8", "replace").strip()
        return b"", f"{target}: HTTP {exc.code} {text}".rstrip()
    except (OSError, ValueError) as exc:
        return b"", _unreachable(target, exc)


def fetch_headers(
    http: HttpConfig, target: str, timeout_s: float, *, trust_served: bool = False
) -> tuple[Message | None, str]:
    """The headers of ``target``'s answer, whatever its status (``/healthz`` answers 503 while
    the daemon's reader loop stalls), as :func:`fetch` asks it; ``(None, why not)`` when none
    came."""
    request, context = _request(http, target, trust_served)
    try:
        with urllib.request.urlopen(request, timeout=timeout_s, context=context) as reply:
            reply.read()
            return reply.headers, ""
    except urllib.error.HTTPError as exc:
        return exc.headers, ""
    except (OSError, ValueError) as exc:
        return None, _unreachable(target, exc)


def _request(
    http: HttpConfig, target: str, trust_served: bool
) -> tuple[urllib.request.Request, ssl.SSLContext | None]:
    """The request of ``target`` with ``http``'s credentials, and its TLS context (see
    :func:`fetch`)."""
    request = urllib.request.Request(target)
    if http.basic_auth_username is not None and http.basic_auth_password is not None:
        token = f"{http.basic_auth_username}:{http.basic_auth_password}".encode()
        request.add_unredirected_header(
            "Authorization", "Basic " + base64.b64encode(token).decode()
        )
    context = None
    if target.startswith("https:") and trust_served:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    elif target.startswith("https:"):
        context = ssl.create_default_context(cafile=http.tls_cert_file)
        context.check_hostname = False  # loopback: the pinned certificate is what is checked
        # the certificate is a trust anchor by itself, so one a CA issued verifies without it
        context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    return request, context


#: What TLS says of an answer that is no TLS record (a plain HTTP server's), by OpenSSL version.
_NOT_TLS_REASONS = frozenset(
    {"WRONG_VERSION_NUMBER", "PACKET_LENGTH_TOO_LONG", "RECORD_LAYER_FAILURE"}
)


def _unreachable(target: str, exc: OSError | ValueError) -> str:
    reason = getattr(exc, "reason", None) or exc
    text = f"cannot reach the daemon at {target}: {reason}"
    if isinstance(reason, ConnectionRefusedError):
        text += f" ({NOT_LISTENING_HINT})"
    elif (
        target.startswith("https:")
        and isinstance(reason, ssl.SSLError)
        and reason.reason in _NOT_TLS_REASONS
    ):
        text += f" (no TLS is served there: ask {'http' + target.removeprefix('https')})"
    elif target.startswith("http:") and isinstance(reason, http.client.RemoteDisconnected):
        text += (
            " (a daemon that serves TLS there ends a plain HTTP connection so: ask "
            f"{'https' + target.removeprefix('http')})"
        )
    return text


def credentials_hint(http: HttpConfig, problem: str) -> str:
    """For :func:`fetch`'s ``problem`` that is the daemon's refusal of the credentials (HTTP
    401), where they come from: the file given with -c, when ``http`` (the file's, or none)
    has none; else that the daemon asks for those it runs with until a reload. "" for other
    problems."""
    if not problem.partition(": HTTP ")[2].startswith("401"):  # a proxy's 401 has a body
        return ""
    if http.basic_auth_username is None:
        return (
            " (the daemon asks for basic-auth credentials, which its file's [http] holds: give "
            "the file with -c, with sudo for /etc/sensord/sensord.toml, which only root and "
            "group sensord may read)"
        )
    return (
        " (the daemon refuses the file's [http] credentials: it asks for those it started "
        "with or last reloaded, until a reload applies the file's: sensord reload)"
    )


def certificate_refused(problem: str) -> bool:
    """Whether :func:`fetch`'s ``problem`` is a certificate that did not verify against
    ``tls_cert_file`` (another certificate than the file's, or one that expired)."""
    return "CERTIFICATE_VERIFY_FAILED" in problem
