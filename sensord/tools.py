"""The field tools around captures: ``sensord record``, ``sensord capture`` (from a running
daemon, or ``--show`` a file) and ``sensord simulate --replay`` (a capture on a pty).

Each function returns the process exit code (0 ok, 1 failed) and prints what went wrong.
"""

from __future__ import annotations

import contextlib
import json
import os
import pty
import secrets
import select
import signal
import sys
import threading
import time
import tty
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import FrameType

from sensord import __version__
from sensord.capture import (
    RX,
    TX,
    CaptureError,
    CaptureWriter,
    describe_serial,
    format_timeline,
    read_capture,
    utc_text,
)
from sensord.client import at_path, credentials_hint, fetch, local_url
from sensord.config_tables import HttpConfig
from sensord.errors import EXIT_INVALID, EXIT_OK, SourceError
from sensord.names import closest
from sensord.serial_settings import SerialSettings
from sensord.sources.replay import ReplaySource
from sensord.sources.serial_port import SerialSource
from sensord.sources.simulated_modbus import TURNAROUND_S, RtuResponder, SimulatedModbusDevice

__all__ = ["capture_url", "fetch_capture", "play_on_pty", "record", "show"]

#: A tool that could not do what it was asked (the reason printed).
EXIT_FAILED = EXIT_INVALID

#: What SourceError puts before the message of the tools' source (named "record")
_PREFIX = "sensor 'record': "


def _fail(message: str) -> int:
    print(f"sensord: {message}", file=sys.stderr)
    return EXIT_FAILED


def show(path: Path) -> int:
    """Print the capture at ``path`` as a timeline."""
    try:
        capture = read_capture(str(path))
    except OSError as exc:
        return _fail(f"cannot read {path}: {exc.strerror or exc}")
    except CaptureError as exc:
        return _fail(f"{path}: {exc}")
    try:
        for line in format_timeline(capture):
            print(line)
    except BrokenPipeError:  # piped into head
        sys.stderr.close()
    return EXIT_OK


def record(
    port: str,
    settings: SerialSettings,
    output: Path,
    *,
    seconds: float | None = None,
    request: bytes = b"",
    interval_s: float = 1.0,
    wire_format: str = "",
    connect_delay_s: float = 0.0,
) -> int:
    """Record what ``port`` receives (and the ``request`` written every ``interval_s``, if
    given, the first ``connect_delay_s`` after the open, as a sensor's ``connect_delay_s``
    holds its first poll back) into the capture file ``output`` until Ctrl-C, SIGTERM or
    ``seconds``. What comes before the first request (a board's start-up lines) is
    recorded too."""
    source = SerialSource("record", port, settings)
    try:
        source.open()
    except SourceError as exc:
        return _fail(str(exc).removeprefix(_PREFIX))
    header = {
        "sensord": __version__,
        "port": port,
        "serial": describe_serial(settings),
        "format": wire_format or "unknown",
        "start": utc_text(time.time()),
    }
    start = time.monotonic()
    received = 0
    status = EXIT_OK
    try:
        with source, open(output, "wb") as out:
            writer = CaptureWriter(out, header)
            print(f"recording {port} ({header['serial']}) into {output}", file=sys.stderr)
            next_request = start + connect_delay_s
            fd = source.fileno()
            while seconds is None or time.monotonic() - start < seconds:
                now = time.monotonic()
                if request and now >= next_request:
                    source.write(request)
                    writer.write(TX, now - start, request)
                    next_request = max(next_request + interval_s, now)
                wait_s = 0.2 if not request else max(0.0, min(0.2, next_request - now))
                if fd is not None and not select.select([fd], [], [], wait_s)[0]:
                    continue
                chunk = source.read()
                if chunk:
                    received += len(chunk)
                    writer.write(RX, time.monotonic() - start, chunk)
    except KeyboardInterrupt:
        pass
    except SourceError as exc:  # the port broke: what was recorded stays readable
        status = _fail(str(exc).removeprefix(_PREFIX))
    except OSError as exc:
        return _fail(f"cannot write {output}: {exc.strerror or exc}")
    print(f"recorded {received} bytes in {time.monotonic() - start:.1f} s", file=sys.stderr)
    return status


def play_on_pty(
    path: Path,
    *,
    link: Path | None = None,
    speed: float = 1.0,
    loop: bool = False,
    seconds: float | None = None,
) -> int:
    """Play the capture at ``path`` on a new pseudo-terminal, as the device did: what another
    program writes to it counts as a request (answered in order, for a conversation). At the
    end of the capture the pty stays open and quiet until Ctrl-C or ``seconds``."""
    source = ReplaySource("replay", f"replay://{path}", str(path), speed=speed, loop=loop)
    try:
        source.open()
    except SourceError as exc:
        return _fail(str(exc).removeprefix("sensor 'replay': "))
    start = time.monotonic()
    written = 0
    with device_pty(link) as (master, tty_path):
        print(f"replaying {path} on {tty_path}", flush=True)
        while seconds is None or time.monotonic() - start < seconds:
            timeout_s = max(0.0, min(source.next_due() - time.monotonic(), 0.5))
            readable, _, _ = select.select([master], [], [], timeout_s)
            if readable:
                try:
                    request = os.read(master, 4096)
                except OSError:
                    request = b""
                if request:
                    source.write(request)
            data = source.read()
            if data:
                os.write(master, data)
                written += len(data)
    source.close()
    print(f"replayed {written} bytes", file=sys.stderr, flush=True)
    return EXIT_OK


class _Stop(Exception):
    """SIGTERM or Ctrl-C while a device plays on a pty."""


def _stop(signum: int, frame: FrameType | None) -> None:
    del signum, frame
    raise _Stop


def link_problem(link: Path) -> str | None:
    """Why ``link`` cannot be the symlink ``device_pty`` makes (and removes on exit), or None:
    it may be a path that does not exist, or a symlink an earlier run left behind (to a pty
    that is gone); anything else there (a link to an open pty, another run's; a device node
    such as /dev/ttyUSB0, udev's by-id link to one, a file, a directory) is someone else's
    and is not replaced."""
    if link.is_symlink():
        target = os.readlink(link)
        if not link.exists():
            return None  # to nothing: an earlier run's, whose pty is gone
        if target.startswith("/dev/pts/"):
            return (
                f"{link} is a link to {target}, a pty that is open: another run may be playing "
                "a device there; stop it, or name a path of its own"
            )
        return (
            f"{link} is a link to {target}, not to a pty: --link makes a new symlink there and "
            "removes it on exit; name a path of its own, such as /tmp/ttySIM0"
        )
    if link.exists():
        kind = (
            "a directory"
            if link.is_dir()
            else "a device node"
            if link.is_char_device() or link.is_block_device()
            else "a file"
        )
        return (
            f"{link} exists ({kind}): --link makes a new symlink there and removes it on exit; "
            "name a path that does not exist, such as /tmp/ttySIM0"
        )
    if not link.parent.is_dir():
        return f"{link}: the directory {link.parent} does not exist"
    return None


@contextlib.contextmanager
def device_pty(link: Path | None) -> Iterator[tuple[int, str]]:
    """A new pseudo-terminal in raw mode for a device to play on: ``(master, tty path)``,
    with ``link`` a symlink to it while it is open. SIGTERM and SIGINT (Ctrl-C) end the block
    quietly, SIGINT even when the shell that started it in the background ignores it (both
    are handled on the main thread only); the pty is closed and the link removed however it
    ends. ``link`` must be free (:func:`link_problem`)."""
    if link is not None:
        problem = link_problem(link)
        if problem is not None:
            raise ValueError(problem)
    master, slave = pty.openpty()
    tty.setraw(slave)
    tty_path = os.ttyname(slave)
    main = threading.current_thread() is threading.main_thread()  # signals go to it only
    previous = (
        {signum: signal.signal(signum, _stop) for signum in (signal.SIGTERM, signal.SIGINT)}
        if main
        else {}
    )
    try:
        if link is not None:
            # made under a name of its own beside the link, then renamed over it in one step:
            # nothing else in that directory is touched
            tmp = link.with_name(f".{link.name}.{secrets.token_hex(6)}")
            tmp.symlink_to(tty_path)
            tmp.replace(link)
            print(f"{link} -> {tty_path}", flush=True)
        with contextlib.suppress(_Stop, KeyboardInterrupt):
            yield master, tty_path
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        os.close(master)
        os.close(slave)
        # removed only while it is still this pty's: another run may have taken the path
        with contextlib.suppress(OSError):
            if link is not None and os.readlink(link) == tty_path:
                link.unlink()


def serve_modbus_on_pty(
    devices: Mapping[int, SimulatedModbusDevice],
    names: Mapping[int, str],
    *,
    link: Path | None = None,
    seconds: float | None = None,
) -> int:
    """Answer Modbus RTU requests written to a new pseudo-terminal as ``devices`` (unit id ->
    device; ``names``: unit id -> sensor) do, until Ctrl-C, SIGTERM or ``seconds``."""
    responder = RtuResponder(devices)
    start = time.monotonic()
    with device_pty(link) as (master, tty_path):
        units = ", ".join(f"unit {unit} ({names[unit]})" for unit in sorted(devices))
        print(f"simulating Modbus RTU devices {units} on {tty_path}", flush=True)
        while seconds is None or time.monotonic() - start < seconds:
            left = 0.5 if seconds is None else seconds - (time.monotonic() - start)
            if not select.select([master], [], [], max(0.0, min(left, 0.5)))[0]:
                continue
            try:
                request = os.read(master, 4096)
            except OSError:
                continue
            for reply in responder.feed(request, time.monotonic()):
                time.sleep(TURNAROUND_S)
                os.write(master, reply)
    print(
        f"answered {responder.answered} of {responder.requests} requests "
        f"({responder.skipped_bytes} bytes that began no request skipped)",
        file=sys.stderr,
        flush=True,
    )
    return EXIT_OK


# -- from a running daemon -----------------------------------------------------------------------


def capture_url(http: HttpConfig, sensor: str) -> str:
    """``/capture?sensor=NAME`` on the daemon that ``http`` describes, over loopback (the
    daemon serves captures to loopback clients only)."""
    return local_url(http, "/capture", {"sensor": sensor})


def _with_sensor(url: str, sensor: str) -> str:
    """``url``, the daemon's address (``http://HOST:PORT``, or ``HOST:PORT``) or its
    ``/capture`` URL, asking for ``sensor``'s capture (any ``sensor`` already in its query is
    replaced; another path, such as ``/metrics``, is replaced by ``/capture``)."""
    parts = urllib.parse.urlsplit(at_path(url, "/capture"))
    query = [
        (key, value)
        for key, value in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
        if key != "sensor"
    ]
    query.append(("sensor", sensor))
    return urllib.parse.urlunsplit(parts._replace(query=urllib.parse.urlencode(query)))


def fetch_capture(http: HttpConfig, sensor: str, url: str | None = None) -> tuple[bytes, str]:
    """The running daemon's capture of ``sensor``: ``(body, "")``, or ``(b"", why not)``
    (see :func:`sensord.client.fetch`); a sensor the daemon does not have is told with the
    name of its own most like it (a mistyped name), from its ``/status``."""
    body, problem = fetch(
        http, capture_url(http, sensor) if url is None else _with_sensor(url, sensor)
    )
    if problem.endswith("HTTP 404 no such sensor"):
        problem += _sensor_meant(http, sensor, url)
    return body, problem + credentials_hint(http, problem)


def _sensor_meant(http: HttpConfig, sensor: str, url: str | None) -> str:
    """``; did you mean 'NAME'?`` for the daemon's sensor most like ``sensor``, else where its
    sensors are listed; "" when its ``/status`` cannot be read."""
    status, problem = fetch(
        http, local_url(http, "/status") if url is None else at_path(url, "/status")
    )
    try:
        names = list(json.loads(status)["sensors"]) if not problem else None
    except (ValueError, KeyError, TypeError):
        names = None
    if not names:
        return ""
    close = closest(sensor, names)
    if close is not None:
        return f"; did you mean {close!r}?"
    return f" ({sensor!r} is none of the daemon's {len(names)} sensors: sensord status lists them)"
