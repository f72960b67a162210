"""structlog set-up: JSON lines for journald and files, readable console output on a TTY.

Every line has a UTC ISO-8601 timestamp and a level. ``configure()`` is called once at start-up
(and again when ``--log-level`` or the config's ``[log]`` changes). Code never logs per
reading; repeated errors go through ``RateLimiter``. The daemon's lines go through a writer
thread (``_QueuedOutput``), so a log stream that stalls never stalls the reading.
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import functools
import logging
import os
import select
import stat
import sys
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable, MutableMapping
from types import TracebackType
from typing import Any, TextIO, cast

import structlog

__all__ = [
    "LEVELS",
    "RateLimiter",
    "RepeatedError",
    "StateChanges",
    "configure",
    "dropped_lines",
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


class _Output:
    """The stream structlog writes to, never raising into the caller.

    A log call must not take the daemon down: when the stream fails (a pipe or journald
    stream whose reader went away, a full disk, a closed file) the record is dropped, as
    there is nowhere left to report it; the next record tries again. Each record is written
    whole, under a lock that a record logged amid another's write (by a finalizer the garbage
    collector runs there: :class:`_Writer`) takes again.
    """

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self._lock = threading.RLock()

    def write(self, text: str) -> None:
        with self._lock:
            try:
                self.stream.write(text)
                self.stream.flush()
            except (OSError, ValueError):
                pass

    def flush(self) -> None:
        """Each ``write`` flushes already."""


class _NoStream:
    """The output of a process started with its stderr closed (``sensord run 2>&-``; Python
    then has no ``sys.stderr``): each record is dropped and counted (:func:`dropped_lines`),
    as a write to the closed descriptor fails, and the process goes on without a log."""

    def __init__(self) -> None:
        self._lock = threading.Lock()

    def write(self, text: str) -> None:
        with self._lock:
            _Dropped.count += 1

    def flush(self) -> None:
        """Nothing is held."""


#: The text a log stream that does not take it may hold back, in characters: past it, records
#: are dropped and counted (a few thousand lines; a Pi's journald may stall for minutes).
QUEUE_LIMIT_CHARS = 1 << 20
#: How long the end of the process waits for the records still queued while the stream takes
#: none of them (a stalled stream must not hold up a stop: SIGTERM to exit stays well under a
#: second).
EXIT_FLUSH_S = 0.5
#: The most it waits for them while the stream takes them, slowly (a busy journald taking a few
#: hundred lines a second): well under systemd's stop timeout (``TimeoutStopSec=10``), also
#: with ``--workers``, whose workers end within the primary's 5 s before it waits for its own.
EXIT_FLUSH_LIMIT_S = 3.0
#: How often a wait for the queued records checks that the stream took some.
_PROGRESS_CHECK_S = 0.05
#: The part of the end's wait in which the writer, told to give up on a stream that takes writes
#: slowly, still waits for it: its first third for the rest of the record it is writing (a long
#: traceback), the rest for the line that tells of the records it did not write. A stalled
#: stream is not waited for: that line is tried once.
LAST_LINE_S = 0.3


#: The most a write of several records holds: a pipe takes a write of up to ``PIPE_BUF`` whole,
#: so processes that share the stream (``--workers``) never split each other's records.
WRITE_BYTES = select.PIPE_BUF


#: The errors of a write with ``RWF_NOWAIT`` that say the writes of the stream are to be plain
#: ones: a kernel without it (older ones refuse it for a pipe, or have no ``pwritev2``), and
#: a sandbox that denies ``pwritev2`` (a container's seccomp filter answers EPERM or ENOSYS).
_NO_NOWAIT = frozenset({errno.EOPNOTSUPP, errno.EINVAL, errno.ENOSYS, errno.EPERM})


def _length(item: str | _Gap) -> int:
    return len(item) if type(item) is str else 200


class _Gap:
    """Records dropped at this place of the queue, told of by one line once it is written;
    ``cut``: the record before that line was written in part, and the line begins a new one."""

    __slots__ = ("count", "cut")

    def __init__(self, count: int = 1, *, cut: bool = False) -> None:
        self.count = count
        self.cut = cut


class _Dropped:
    """The records this process dropped because its log stream did not take them."""

    count = 0


class _GaveUp(Exception):
    """The writer stops where it is: the end of the process gave up waiting for the stream.
    ``new`` records queued were not written, and ``told`` records, these and those dropped
    before them, are told of by no line; ``cut``: one of them was written in part."""

    def __init__(self) -> None:
        super().__init__()
        self.new = 0
        self.told = 0
        self.cut = False

    def add(self, item: str | _Gap) -> None:
        """A record (its text) or the records dropped at one place unwritten."""
        if isinstance(item, str):
            self.new += 1
            self.told += 1
        else:
            self.told += item.count
            self.cut = self.cut or item.cut


class _Failed(_GaveUp):
    """A write failed (the reader went away, a full disk): the records are unwritten as when
    the writer gives up, but the writer goes on, and the next record it writes tries the
    stream again, after the line that tells of these (``_QueuedOutput._owed``)."""


#: One record of a write: where its bytes end, and the record it is or the records it tells of.
_Item = tuple[int, str | _Gap]


def dropped_lines() -> int:
    """Log records this process dropped because the log stream did not take them in time (the
    queue held ``QUEUE_LIMIT_CHARS``) or at all (a write error)."""
    return _Dropped.count


class _QueuedOutput:
    """The stream of ``sensord run``: a record is queued for a writer thread of its own, so a
    stream that stops taking writes (journald stalled on a slow SD card, a log pipe whose
    reader stopped) never blocks the thread that logs (the reader loop, its watchdog ping).

    The writer writes each record whole (one ``os.write`` on the stream's descriptor, as
    many as a partial write needs) in the order they came. While the queue holds
    ``QUEUE_LIMIT_CHARS`` a record is dropped and counted (:func:`dropped_lines`), as are
    those of a write that fails (a full disk); once the stream takes records again, a warning
    line says how many were dropped, in their place.
    The descriptor is written as it is: its flags (blocking, shared with the terminal or the
    parent's pipe) are left alone, and when another process made it non-blocking, the writer
    waits for it to take the rest of a record as a blocking write would. A pipe or socket is
    written without blocking all the same, each write on its own (``RWF_NOWAIT``), so that
    the writer knows how far it got when the end of the process gives up on the stream
    (:meth:`close`): it stops at the end of a record, counts those it did not write and tells
    of them in one last line, written if the stream takes it in time.
    """

    def __init__(self, stream: TextIO, fd: int, dropped: Callable[..., str]) -> None:
        self.stream = stream
        self._fd = fd
        self._encoding = getattr(stream, "encoding", None) or "utf-8"
        self._errors = getattr(stream, "errors", None) or "backslashreplace"
        self._dropped_line = dropped
        self._queue: deque[str | _Gap] = deque()
        self._chars = 0
        self._writing = False
        self._closing = False
        self._written = 0  # bytes the stream took: a wait for the queue sees it move
        # the records whose write failed, told of before the next record the writer takes
        self._owed: _Gap | None = None
        # the record of the exception that ends the process is being logged: it is queued
        # past QUEUE_LIMIT_CHARS too, as the last record, which tells why the process ended
        self.ending = False
        # when a writer told to give up stops waiting for the stream (time.monotonic)
        self._give_up_at: float | None = None
        self._stalled = False  # the last drain gave up on a stream that took nothing
        self.gave_up = False
        try:
            mode = os.fstat(fd).st_mode
        except OSError:
            mode = 0
        # a pipe or a socket (journald's) takes a write that never blocks (RWF_NOWAIT; a kernel
        # that refuses it, as older ones do for a pipe, gets blocking writes, as a terminal or
        # a file does, which no reader holds up but for a terminal's Ctrl-S)
        self._nowait = stat.S_ISFIFO(mode) or stat.S_ISSOCK(mode)
        # wakes the writer waiting for a full stream when the end of the process gives up on
        # it (:meth:`close`), so that the wait has no timeout however long the stream stays
        # full (a pipe nobody reads for days); closed as the writer ends
        try:
            self._wake: int | None = os.eventfd(0, os.EFD_CLOEXEC | os.EFD_NONBLOCK)
        except OSError:  # no descriptor to be had: the wait looks every _PROGRESS_CHECK_S
            self._wake = None
        # reentrant: a record logged amid another's write, by a finalizer the garbage collector
        # runs there (:class:`_Writer`), is queued, not a deadlock of the thread
        self._lock = threading.RLock()
        self._queued = threading.Condition(self._lock)
        self._emptied = threading.Condition(self._lock)
        self._thread = self._start()

    def _start(self) -> threading.Thread:
        thread = threading.Thread(target=self._run, name="sensord-log", daemon=True)
        thread.start()
        return thread

    def write(self, text: str) -> None:
        with self._lock:
            if self._chars >= QUEUE_LIMIT_CHARS and not self.ending:
                _Dropped.count += 1
                queue = self._queue
                if queue and type(queue[-1]) is _Gap:
                    queue[-1].count += 1
                else:
                    queue.append(_Gap())
                return
            self._queue.append(text)
            self._chars += len(text)
            self._queued.notify()

    def flush(self) -> None:
        """Records are written by the writer thread; :meth:`close` waits for them."""

    def _run(self) -> None:
        try:
            self._write_queued()
        finally:
            with self._lock:
                wake, self._wake = self._wake, None
            if wake is not None:
                os.close(wake)

    def _write_queued(self) -> None:
        while True:
            texts: list[str | _Gap] = []  # records, and those dropped between
            with self._lock:
                self._writing = False
                while not self._queue:
                    if self._closing:
                        self._emptied.notify_all()
                        return
                    self._emptied.notify_all()
                    self._queued.wait()
                taken = 0
                if self._owed is not None:
                    texts.append(self._owed)
                    taken, self._owed = _length(self._owed), None
                queue = self._queue
                while queue and (not texts or taken + _length(queue[0]) <= WRITE_BYTES):
                    item = queue.popleft()
                    if type(item) is not _Gap:
                        self._chars -= len(cast(str, item))
                    texts.append(item)
                    taken += _length(item)
                self._writing = True
            try:
                self._write_all(texts)
            except _GaveUp as stop:
                if type(stop) is not _Failed or self._give_up_at is not None:
                    self._stop(stop)
                    return
                with self._lock:
                    _Dropped.count += stop.new
                    self._owed = _Gap(stop.told, cut=stop.cut)

    def _gap_line(self, gap: _Gap) -> str:
        """The line that tells of the records ``gap`` dropped, on a line of its own after a
        record cut short."""
        if not gap.cut:
            return self._dropped_line(gap.count)
        return "\n" + self._dropped_line(gap.count, cut=True)

    def _write_all(self, texts: list[str | _Gap]) -> None:
        """Write the records of ``texts`` (a ``_Gap``: the line telling of those dropped), as
        few of them to a write as keep each write within ``WRITE_BYTES``."""
        batch = bytearray()
        items: list[_Item] = []
        for index, text in enumerate(texts):
            line = text if isinstance(text, str) else self._gap_line(text)
            data = line.encode(self._encoding, self._errors)
            if batch and len(batch) + len(data) > WRITE_BYTES:
                self._write_batch(batch, items, texts[index:])
                batch, items = bytearray(), []
            batch += data
            items.append((len(batch), text))
        self._write_batch(batch, items, [])

    def _write_batch(self, data: bytearray, items: list[_Item], rest: list[str | _Gap]) -> None:
        """Write ``data``, the records ``items``; ``rest``, those after them, count among the
        unwritten when the writer gives up or the write fails here."""
        try:
            self._write(data, items)
        except _GaveUp as stop:
            for text in rest:
                stop.add(text)
            raise

    def _write(self, data: bytearray, items: list[_Item]) -> None:
        view = memoryview(data)
        done, end = 0, len(data)
        finishing = failed = False
        try:
            while done < end:
                if not finishing and self._give_up_at is not None:
                    # told to give up: the record in progress is finished, no other begun
                    finishing = True
                    end = next(e for e, _ in items if e >= done) if done else 0
                    continue
                try:
                    taken = self._write_some(view[done:end])
                except BlockingIOError:  # the stream is full (or made non-blocking elsewhere)
                    if not self._wait_writable(LAST_LINE_S * 2 / 3):
                        break
                else:
                    self._written += taken
                    done += taken
        except OSError:  # the reader went away, a full disk, a closed descriptor
            failed = True
        if done < len(data):
            stop, start = _Failed() if failed else _GaveUp(), 0
            for item_end, text in items:
                if item_end > done:
                    stop.add(text)
                    stop.cut = stop.cut or start < done
                start = item_end
            raise stop

    def _write_some(self, view: memoryview) -> int:
        """One write of ``view``, as much of it as the stream takes; a pipe or socket is never
        waited for (BlockingIOError: it is full)."""
        if self._nowait:
            try:
                return os.pwritev(self._fd, [view], -1, os.RWF_NOWAIT)
            except OSError as exc:
                if exc.errno not in _NO_NOWAIT:
                    raise
                self._nowait = False
        return os.write(self._fd, view)

    def _wait_writable(self, before_s: float = 0.0) -> bool:
        """Wait until the descriptor takes a write again, as a blocking one would (a pipe or
        socket that is full for a moment): False when the writer was told to give up and
        its time for that, but ``before_s``, passed first; raises OSError when the stream
        fails instead."""
        poller = select.poll()
        poller.register(self._fd, select.POLLOUT)
        wake = self._wake
        if wake is not None:
            poller.register(wake, select.POLLIN)
        while True:
            give_up_at = self._give_up_at
            wait_s = None if wake is not None else _PROGRESS_CHECK_S
            if give_up_at is not None:
                left = give_up_at - before_s - time.monotonic()
                if left <= 0:
                    return False
                wait_s = left if wait_s is None else min(wait_s, left)
            for fd, events in poller.poll(None if wait_s is None else wait_s * 1000):
                if fd == wake:  # told to give up: the time left for it is looked at again
                    with contextlib.suppress(BlockingIOError):
                        os.eventfd_read(wake)
                    continue
                if events & (select.POLLERR | select.POLLHUP | select.POLLNVAL):
                    raise OSError(errno.EPIPE, "the log stream failed while it was full")
                return True

    def _stop(self, stop: _GaveUp) -> None:
        """End the writer given up on: the records still queued count among those unwritten,
        and one last line tells of them all, on a line of its own after a record cut short
        (``cut``), if the stream takes it before the end's time runs out."""
        with self._lock:
            for item in self._queue:
                stop.add(item)
            self._queue.clear()
            self._chars = 0
            _Dropped.count += stop.new
            self.gave_up = True
            self._writing = False
            self._emptied.notify_all()
        if not stop.told and not stop.cut:
            return
        line = self._gap_line(_Gap(stop.told, cut=stop.cut))
        data = bytearray(line, self._encoding, self._errors)
        view = memoryview(data)
        with contextlib.suppress(OSError):
            while view:
                try:
                    view = view[self._write_some(view) :]
                except BlockingIOError:
                    if not self._wait_writable():
                        break
            if stop.cut and len(view) == len(data):  # no room for the line: the cut ends here
                self._write_some(view[:1])

    def drain(self, idle_s: float, limit_s: float) -> bool:
        """Wait for the records queued so far to be written as long as the stream takes them:
        False when it took none for ``idle_s`` (stalled) or not all of them within ``limit_s``
        (slow)."""
        now = time.monotonic()
        deadline, idle_until, written = now + limit_s, now + idle_s, self._written
        with self._lock:
            while self._queue or self._writing:
                now = time.monotonic()
                if self._written != written:
                    idle_until, written = now + idle_s, self._written
                left = min(deadline, idle_until) - now
                if left <= 0:
                    self._stalled = now >= idle_until
                    return False
                self._emptied.wait(min(left, _PROGRESS_CHECK_S))
        return True

    def close(self, idle_s: float, limit_s: float) -> bool:
        """Write what is queued and end the writer thread, waiting as :meth:`drain` does, the
        last ``LAST_LINE_S`` of ``limit_s`` for the writer to stop (none after ``idle_s``);
        False when the stream did not take it all: the writer stopped (told of what it did
        not write, if it could), or it is left blocked in its write (a terminal's, a daemon
        thread)."""
        deadline = time.monotonic() + limit_s
        with self._lock:
            self._closing = True
            self._queued.notify()
        if not self.drain(idle_s, max(0.0, limit_s - LAST_LINE_S)):
            grace = 0.0 if self._stalled else LAST_LINE_S
            self._give_up_at = time.monotonic() + grace
            with self._lock:
                if self._wake is not None:
                    os.eventfd_write(self._wake, 1)
            self._thread.join(grace + 2 * _PROGRESS_CHECK_S)
            return False
        self._thread.join(max(0.0, deadline - time.monotonic()))
        return not self._thread.is_alive()


#: ``sys.excepthook``'s type.
_ExceptHook = Callable[[type[BaseException], BaseException, TracebackType | None], Any]


class _Queues:
    """The queued output of the process, if ``configure`` made one: ended (its records
    written while the stream takes them, ``EXIT_FLUSH_S`` and ``EXIT_FLUSH_LIMIT_S``) as the
    process exits or when logging is configured again on another output. An exception that
    ends the process (a bug in the main thread) is a record of the log too (:meth:`excepthook`),
    after those logged before it (the pipeline's ``outcome=failed`` line): the interpreter
    would print its traceback straight to the stream, line by line under journald, and wait
    for a stalled stream to take it, forever."""

    current: _QueuedOutput | None = None
    printed_by: _ExceptHook = sys.__excepthook__

    @classmethod
    def replace(cls, output: _QueuedOutput | None) -> None:
        old, cls.current = cls.current, output
        if old is not None and old is not output:
            old.close(EXIT_FLUSH_S, EXIT_FLUSH_LIMIT_S)
        if output is not None and sys.excepthook != cls.excepthook:  # a method: equal, not same
            cls.printed_by, sys.excepthook = sys.excepthook, cls.excepthook

    @classmethod
    def excepthook(
        cls, kind: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        current = cls.current
        if current is None or not current._thread.is_alive():
            cls.printed_by(kind, exc, tb)
            return
        current.ending = True
        try:
            structlog.get_logger("sensord").error(ENDED_MESSAGE, exc_info=(kind, exc, tb))
        except Exception:  # the record could not be rendered: printed as Python does
            cls.printed_by(kind, exc, tb)
        finally:
            current.ending = False

    @classmethod
    def at_exit(cls) -> None:
        """End the queued output as the process exits. What Python reports after it (an
        exception in a ``__del__`` as the interpreter tears the modules down) would be queued
        for a writer thread that ended: Python's own hooks report it, on the stream that took
        every line. A writer thread still in its write or given up on (a stalled stream)
        leaves them queued, as a stalled stream is never written directly."""
        current = cls.current
        cls.replace(None)
        if current is None or not (current._thread.is_alive() or current.gave_up):
            _Reports.install(False)


atexit.register(_Queues.at_exit)

ENDED_MESSAGE = "sensord ended by an uncaught exception"
THREAD_FAILED_MESSAGE = "thread ended by an uncaught exception"
UNRAISABLE_MESSAGE = "exception ignored: Python could not raise it"


class _Reports:
    """What Python itself reports on stderr, as records of ``sensord run``'s log: a thread's
    uncaught exception (``threading.excepthook``) an error record with the thread's name and
    the traceback as a field, an exception Python could not raise (``sys.unraisablehook``: one
    in a ``__del__``, a weakref callback, a generator's ``finally`` as it is collected) an
    error record with where it was ignored and its traceback, a warning
    (``warnings.showwarning``) a warning record. They go through the log's output as its
    other records do: in order with the lines around them, never amid a line the writer
    thread writes, and a stream that stalls blocks neither the thread that failed nor the one
    that warned. Without a writer thread (none to be had) they are written directly, each
    whole. A record the writer thread could not write (its own failure), and a report given
    while one is logged (a renderer's warning), are reported by the hooks they replaced."""

    thread_hook: Callable[[threading.ExceptHookArgs], Any] = threading.excepthook
    unraisable_hook: Callable[[sys.UnraisableHookArgs], Any] = sys.unraisablehook
    show_warning: Callable[..., Any] = warnings.showwarning
    _reporting = threading.local()

    @classmethod
    def install(cls, on: bool) -> None:
        """Report through the log (``on``), or as Python does."""
        ours = threading.excepthook == cls.thread_failed  # methods: equal, not same
        if on and not ours:
            cls.thread_hook, threading.excepthook = threading.excepthook, cls.thread_failed
            cls.unraisable_hook, sys.unraisablehook = sys.unraisablehook, cls.unraisable
            cls.show_warning, warnings.showwarning = warnings.showwarning, cls.warned
        elif not on and ours:
            threading.excepthook = cls.thread_hook
            if sys.unraisablehook == cls.unraisable:
                sys.unraisablehook = cls.unraisable_hook
            if warnings.showwarning == cls.warned:
                warnings.showwarning = cls.show_warning

    @classmethod
    def thread_failed(cls, args: threading.ExceptHookArgs) -> None:
        if args.exc_type is SystemExit:  # a thread's way to end, ignored as Python does
            return
        current = _Queues.current
        writer = current is not None and args.thread is current._thread
        if writer or args.exc_value is None:
            cls.thread_hook(args)
            return
        structlog.get_logger("sensord").error(
            THREAD_FAILED_MESSAGE,
            thread=None if args.thread is None else args.thread.name,
            exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
        )

    @classmethod
    def unraisable(cls, args: sys.UnraisableHookArgs) -> None:
        state = cls._reporting
        if args.exc_value is None or getattr(state, "logging", False):
            cls.unraisable_hook(args)
            return
        where = args.err_msg or "Exception ignored in"
        if args.object is not None:
            try:
                where = f"{where}: {args.object!r}"
            except Exception:  # a broken __repr__: said as Python says it
                where = f"{where}: <object repr() failed>"
        state.logging = True
        try:
            structlog.get_logger("sensord").error(
                UNRAISABLE_MESSAGE,
                where=where,
                thread=threading.current_thread().name,
                exc_info=(args.exc_type, args.exc_value, args.exc_traceback),
            )
        finally:
            state.logging = False

    @classmethod
    def warned(  # noqa: PLR0917 - warnings.showwarning's signature
        cls,
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        state = cls._reporting
        if file is not None or getattr(state, "logging", False):
            cls.show_warning(message, category, filename, lineno, file, line)
            return
        state.logging = True
        try:
            structlog.get_logger("py.warnings").warning(
                str(message),
                logger="py.warnings",
                category=category.__name__,
                filename=filename,
                lineno=lineno,
            )
        finally:
            state.logging = False


def _queued_output(stream: TextIO, renderer: list[Any]) -> _QueuedOutput | None:
    """The queued output for ``stream`` (the one already running when it is for the same
    stream, so records stay in order), or None for a stream without a descriptor (a test's
    ``io.StringIO``): that one is written directly. The line that tells of dropped records
    carries the context bound as logging is configured (a ``--workers`` worker's ``worker``):
    the writer thread has none of its own."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return None
    dropped = functools.partial(_dropped_line, renderer, structlog.contextvars.get_contextvars())
    current = _Queues.current
    if current is not None and current.stream is stream:
        current._dropped_line = dropped
        return current
    try:
        return _QueuedOutput(stream, fd, dropped)
    except RuntimeError:  # no thread to be had (the process's limit): written directly
        return None


def _dropped_line(renderer: list[Any], bound: dict[str, Any], count: int, **fields: Any) -> str:
    """The line that tells of ``count`` records dropped, with the context ``bound`` and
    ``fields``, rendered as the others are."""
    event: Any = {
        **bound,
        "dropped": count,
        **fields,
        "level": "warning",
        "event": DROPPED_MESSAGE,
    }
    for processor in [_TIMESTAMPER, *renderer]:
        event = processor(None, "warning", event)
    return cast(str, event) + "\n"


DROPPED_MESSAGE = "log lines dropped: the log stream did not take them in time"
_TIMESTAMPER = structlog.processors.TimeStamper(fmt="iso", utc=True)


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

    ``queued`` (``sensord run``): records go through a writer thread (``_QueuedOutput``), so a
    stream that stalls never blocks the code that logs, and so do a thread's uncaught
    exception and a warning, as records (``_Reports``); the tools write theirs at once, in
    order with what they print, and Python reports those itself."""
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
    queue = _queued_output(out, renderer) if queued and out is not None else None
    _Queues.replace(queue)
    _Reports.install(queued)
    output = cast(
        TextIO, queue if queue is not None else _NoStream() if out is None else _Output(out)
    )
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
    its newline on the output (:class:`_QueuedOutput`, :class:`_Output`), which keeps records
    whole and in order under a lock of its own. structlog's ``WriteLogger`` holds a lock of
    its own around that write too, one that is not reentrant: a finalizer that the garbage
    collector runs amid the write (of an unclosed socket: a ``ResourceWarning``; a
    ``__del__`` that raises), reported through the log by :class:`_Reports`, would wait for
    it in the thread that holds it, forever, and every thread that logs after it."""

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
