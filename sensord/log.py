"""structlog set-up: JSON lines for journald and files, readable console output on a TTY.

Every line has a UTC ISO-8601 timestamp and a level. ``configure()`` is called once at start-up
(and again when ``--log-level`` or the config's ``[log]`` changes). Code never logs per
reading; repeated errors go through ``RateLimiter``. The daemon's lines go through a writer
thread (``sensord.log_output``), so a log stream that stalls never stalls the reading.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections import deque
from collections.abc import MutableMapping
from typing import Any, TextIO

import structlog

from sensord.log_output import output_for

__all__ = [
    "LEVELS",
    "RateLimiter",
    "RepeatedError",
    "StateChanges",
    "configure",
    "escaped",
    "info_at_debug_for",
    "log_silent_reconnect",
    "resolve_format",
    "shown",
]

LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def resolve_format(fmt: str, stream: TextIO | None) -> str:
    """``auto`` becomes ``console`` on a terminal and ``json`` otherwise (systemd, pipes, no
    stream)."""
    if fmt != "auto":
        return fmt
    if os.environ.get("JOURNAL_STREAM") or stream is None:
        return "json"
    try:
        return "console" if stream.isatty() else "json"
    except (AttributeError, ValueError):
        return "json"


class _Bound:
    """A processor that gives a record the context bound as logging is configured (a
    ``--workers`` worker's ``worker``, in its main thread) where the record lacks it: also a
    record logged in another thread (its HTTP thread, a port's opener, a thread's uncaught
    exception), as context variables do not cross threads. The workers share one stream: each
    line names its worker."""

    def __init__(self, bound: dict[str, Any]) -> None:
        self.bound = bound

    def __call__(
        self, logger: Any, method: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        for key, value in self.bound.items():
            event.setdefault(key, value)
        return event


class _InfoAtDebug:
    """A processor that takes info lines for debug ones until ``until`` (``time.monotonic``):
    dropped, or logged with level ``debug`` where debug lines are (``keep``). sensord's own
    lines only: a library's, through the standard logging module, pass a formatter, where
    ``DropEvent`` would end the logging call (the library's, the caller's) instead of the line.
    """

    def __init__(self) -> None:
        self.until = 0.0
        self.keep = False

    def __call__(
        self, logger: Any, method: str, event: MutableMapping[str, Any]
    ) -> MutableMapping[str, Any]:
        if self.until and event.get("level") == "info":
            if time.monotonic() >= self.until:
                self.until = 0.0
            elif self.keep:
                event["level"] = "debug"
            else:
                raise structlog.DropEvent
        return event


_INFO_AT_DEBUG = _InfoAtDebug()


def info_at_debug_for(seconds: float) -> None:
    """Log the info lines of the next ``seconds`` at debug level: a ``--workers`` worker that
    its primary restarts in a loop starts so (``sensord.shard.starts_quietly``)."""
    _INFO_AT_DEBUG.until = time.monotonic() + seconds


def configure(
    level: str = "info", fmt: str = "auto", stream: TextIO | None = None, *, queued: bool = False
) -> str:
    """Configure structlog; returns the resolved format (``json`` or ``console``).

    ``queued`` (``sensord run``): records go through a writer thread
    (``log_output._QueuedOutput``), so a stream that stalls never blocks the code that logs,
    and so do a thread's uncaught exception and a warning, as records
    (``log_output._Reports``); the tools write theirs at once, in order with what they print,
    and Python reports those itself."""
    out: TextIO | None = stream if stream is not None else sys.stderr
    resolved = resolve_format(fmt, out)
    _INFO_AT_DEBUG.keep = LEVELS[level] <= logging.DEBUG
    bound = structlog.contextvars.get_contextvars()
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        *([_Bound(bound)] if bound else []),
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.StackInfoRenderer(),
    ]
    renderer: list[Any]
    if resolved == "json":
        renderer = [
            # tracebacks as data, without the frames' local variables: they may hold secrets
            # (a password from [http], the workers' credential)
            structlog.processors.ExceptionRenderer(
                structlog.tracebacks.ExceptionDictTransformer(show_locals=False)
            ),
            structlog.processors.EventRenamer("msg"),
            structlog.processors.JSONRenderer(sort_keys=False),
        ]
    else:
        colors = _wants_color(out)
        renderer = [
            structlog.dev.ConsoleRenderer(
                colors=colors, exception_formatter=_console_tracebacks(colors=colors)
            ),
        ]
    output = output_for(out, renderer, queued=queued)
    structlog.configure(
        # (_INFO_AT_DEBUG on sensord's own lines only, not in the standard library's chain)
        processors=[*shared, _INFO_AT_DEBUG, *renderer],
        wrapper_class=structlog.make_filtering_bound_logger(LEVELS[level]),
        # each record whole in one write() (message and newline together; queued, several
        # to a write of at most PIPE_BUF): processes that share the stream (the workers of
        # --workers N, on one journald stream) never split a line
        logger_factory=_WriterFactory(output),
        cache_logger_on_first_use=True,
    )
    # Libraries that use the standard logging module end up on the same stream, rendered as
    # sensord's own lines: one JSON object a record under journald, its traceback a field,
    # never the lines of a traceback one by one
    handler = logging.StreamHandler(output)
    handler.setFormatter(
        structlog.stdlib.ProcessorFormatter(
            foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name],
            processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *renderer],
        )
    )
    logging.basicConfig(
        level=max(LEVELS[level], logging.INFO),
        handlers=[handler],
        force=True,
    )
    # pymodbus decodes the Modbus PDUs and warns of each reply it cannot decode; the bus counts
    # those (sensord_modbus_errors_total) and logs them at a limited rate, so pymodbus's own
    # warnings would repeat them once per frame (a gateway sending garbage floods the log)
    logging.getLogger("pymodbus").setLevel(max(LEVELS[level], logging.ERROR))
    return resolved


class _Writer:
    """The logger structlog hands each rendered record to: one ``write()`` of the record and
    its newline on the output (``log_output``'s ``_QueuedOutput``, ``_Output``), which keeps
    records whole and in order under a lock of its own. structlog's ``WriteLogger`` holds a
    lock of its own around that write too, one that is not reentrant: a finalizer that the
    garbage collector runs amid the write (of an unclosed socket: a ``ResourceWarning``; a
    ``__del__`` that raises), reported through the log by ``log_output._Reports``, would wait
    for it in the thread that holds it, forever, and every thread that logs after it."""

    __slots__ = ("_write",)

    def __init__(self, output: TextIO) -> None:
        self._write = output.write

    def msg(self, message: str) -> None:
        self._write(message + "\n")

    debug = info = warning = error = critical = exception = msg


class _WriterFactory:
    """structlog's ``logger_factory``: a :class:`_Writer` on ``output`` for each logger."""

    def __init__(self, output: TextIO) -> None:
        self._output = output

    def __call__(self, *args: Any) -> _Writer:
        return _Writer(self._output)


def _console_tracebacks(*, colors: bool) -> structlog.typing.ExceptionRenderer:
    """structlog's console tracebacks, without the frames' local variables (they may hold
    secrets, as in JSON): rich, when it is installed, shows them unless told not to; any
    other default (better-exceptions shows them) gives way to the plain traceback."""
    formatter = structlog.dev.default_exception_formatter
    if isinstance(formatter, structlog.dev.RichTracebackFormatter):
        return structlog.dev.RichTracebackFormatter(
            color_system="truecolor" if colors else None, show_locals=False
        )
    return structlog.dev.plain_traceback


def _wants_color(stream: TextIO | None) -> bool:
    if os.environ.get("NO_COLOR") or stream is None:
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class RateLimiter:
    """Let an event through at most once per ``interval_s`` per key; count what was held back.

    ``check(key)`` returns None while the key is suppressed, otherwise the number of events
    suppressed since it last let one through (to be logged as ``suppressed=N``), with those
    handed over by ``hold``.
    """

    def __init__(self, interval_s: float = 60.0, clock: Any = time.monotonic) -> None:
        self.interval_s = interval_s
        self._clock = clock
        self._next: dict[str, float] = {}
        self._held: dict[str, int] = {}

    def check(self, key: str) -> int | None:
        now = self._clock()
        if now < self._next.get(key, float("-inf")):
            self._held[key] = self._held.get(key, 0) + 1
            return None
        self._next[key] = now + self.interval_s
        return self._held.pop(key, 0)

    def hold(self, key: str, count: int = 1) -> None:
        """``count`` events of ``key`` that were not logged elsewhere: the next one let
        through reports them with those it held back itself (``suppressed=N``)."""
        if count:
            self._held[key] = self._held.get(key, 0) + count

    def release(self, key: str) -> int | None:
        """As ``check`` for a line that tells of ``key``'s held-back events without being one
        of them: None while the key is suppressed (nothing is counted), otherwise the events
        held back, and the line counts as the key's for the limit."""
        now = self._clock()
        if now < self._next.get(key, float("-inf")):
            return None
        self._next[key] = now + self.interval_s
        return self._held.pop(key, 0)

    def take(self, key: str) -> int:
        """The events of ``key`` held back so far, handed to a line of another key (whose
        ``suppressed`` then tells of them): ``key``'s next line does not."""
        return self._held.pop(key, 0)


def escaped(data: bytes) -> str:
    """``data`` for a log line, escaped as Python's ``repr`` writes bytes (``\\r``, ``\\x1b``,
    ``\\\\``), so control bytes are shown and never sent to a terminal."""
    return repr(data)[2:-1]


def shown(data: bytes, *, binary: bool) -> str:
    """A frame for a log line: of a binary protocol in hex (``DD 04 80 00``), as a datasheet
    and ``sensord check`` write it; of a text protocol :func:`escaped`."""
    return data.hex(" ").upper() if binary else escaped(data)


#: The lines of :func:`log_silent_reconnect` by why the connection is opened again: the first
#: of a spell, and the later ones.
_RECONNECT_EVENTS = {
    "silent": ("connection silent; reconnecting", "connection still silent; reconnecting"),
    "ended": (
        "connection ended while stale; reconnecting",
        "connection ended again while stale; reconnecting",
    ),
}


def log_silent_reconnect(
    log: Any,
    errors: RateLimiter,
    spell: int,
    hint: str | None,
    fields: dict[str, Any],
    *,
    why: str = "silent",
) -> bool:
    """Log a network port's reconnect while no frame comes, the ``spell``-th in a row, for
    ``why`` (a key of ``_RECONNECT_EVENTS``: sensord dropped the connection for its
    silence, or the server ended it while the sensor was stale): the first of a spell as a
    warning with ``hint``, once a minute at most per ``errors`` and ``why`` (a server that
    sticks again soon after each new connection would have it logged every few seconds;
    the caller counts every one), the later ones of the spell at info, the 2nd, 4th, 8th ...
    (a server that hangs for a month reopened at the backoff, every half minute, leaves a
    few dozen lines, not 170,000: ``attempt`` counts those between, and the sensor's hourly
    reminder shows it goes on). True when a line was logged (the reopen's own line then
    follows it)."""
    first, again = _RECONNECT_EVENTS[why]
    if spell == 1:
        held = errors.check(why)
        if held is None:
            return False
        extra = {} if hint is None else {"hint": hint}
        log.warning(first, **extra, suppressed=held, **fields)
        return True
    if spell & (spell - 1):  # not a power of two
        return False
    log.info(again, attempt=spell, **fields)
    return True


class RepeatedError:
    """One error that may recur for months (a port that cannot be opened): ``check(text)``
    lets it through when ``text`` was not seen since the last ``reset`` (news: a device that
    was missing is now refused), otherwise after intervals that double from ``first_s`` to
    ``max_s``. It returns None while held back, else how many were held back since the last
    one let through (to be logged as ``suppressed=N``). At most ``MAX_TEXTS`` texts count as
    news; past them a text follows the intervals (a pid in each message cannot flood)."""

    MAX_TEXTS = 16

    def __init__(
        self, first_s: float = 60.0, max_s: float = 3600.0, clock: Any = time.monotonic
    ) -> None:
        self.first_s = first_s
        self.max_s = max_s
        self._clock = clock
        self._seen: set[str] = set()
        self._every = first_s
        self._next = float("-inf")
        self._held = 0

    def check(self, text: str) -> int | None:
        now = self._clock()
        news = text not in self._seen and len(self._seen) < self.MAX_TEXTS
        if not news and now < self._next:
            self._held += 1
            return None
        if news:
            self._seen.add(text)
            self._every = self.first_s
        elif self._next != float("-inf"):
            self._every = min(self._every * 2, self.max_s)
        self._next = now + self._every
        held, self._held = self._held, 0
        return held

    def reset(self) -> None:
        """The error is over (the port opened): its next occurrence is news."""
        self._seen.clear()
        self._every = self.first_s
        self._next = float("-inf")
        self._held = 0


class StateChanges:
    """The state changes of one sensor as its log shows them: each one, until more than
    ``burst`` come within ``detect_s`` (a USB adapter that drops off the bus and comes back
    every few seconds for days, a device that pauses around its ``stale_after``; the reopen
    backoff spreads an adapter's drops out to a few a minute, so they are counted over ten
    minutes, not one). The sensor
    flaps then: ``change()`` lets one change through each ``window_s`` (the log still shows,
    hours later, that it goes on) and returns how many were held back since the one before
    (to be logged as ``suppressed=N``). ``settled()``, asked at least every few seconds, ends
    the flapping once no change came for ``window_s``, and returns what was held back since
    the last change logged: the state the sensor kept may be one whose change was held back,
    so it is logged then."""

    def __init__(
        self,
        burst: int = 10,
        window_s: float = 60.0,
        clock: Any = time.monotonic,
        *,
        detect_s: float = 600.0,
    ) -> None:
        self.burst = burst
        self.window_s = window_s
        self.detect_s = detect_s
        self._clock = clock
        self._recent: deque[float] = deque()
        self.flapping = False
        self._held = 0
        self._next = float("-inf")
        self._last = float("-inf")

    def change(self) -> int | None:
        """A state change: None to hold it back, else the number held back before it."""
        now = self._clock()
        self._last = now
        recent = self._recent
        recent.append(now)
        while recent[0] <= now - self.detect_s:
            recent.popleft()
        if not self.flapping:
            if len(recent) <= self.burst:
                return 0
            self.flapping = True
            self._next = now + self.window_s
        elif now >= self._next:
            self._next = now + self.window_s
            held, self._held = self._held, 0
            return held
        self._held += 1
        return None

    def hold(self) -> None:
        """Another line of the flapping sensor held back (a failed open between changes)."""
        self._held += 1

    def settled(self) -> int | None:
        """While flapping, after ``window_s`` without a change: the flapping is over, and the
        number of lines held back since the last one logged; None otherwise."""
        if not self.flapping or self._clock() - self._last < self.window_s:
            return None
        self.flapping = False
        self._recent.clear()
        held, self._held = self._held, 0
        return held
