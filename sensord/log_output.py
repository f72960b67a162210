"""Where the log's records go: the stream written whole, never raising into the code that
logs, and for ``sensord run`` a writer thread of its own with a bounded queue.

``output_for`` gives ``sensord.log.configure`` the output its records are written to: the
stream itself (``_Output``), nothing where the process has no stderr (``_NoStream``), or the
queued output (``_QueuedOutput``), so a log stream that stalls never stalls the reading. Its
records are dropped past ``QUEUE_LIMIT_CHARS`` and counted (``dropped_lines``), told of by one
line in their place (``DROPPED_MESSAGE``); the process's exit waits for what is still queued
(``_Queues``: ``EXIT_FLUSH_S``, ``EXIT_FLUSH_LIMIT_S``). What Python itself reports on stderr
(an exception that ends the process or a thread, one it could not raise, a warning) goes
through the same output, as records (``_Reports``).
"""

from __future__ import annotations

import atexit
import contextlib
import errno
import functools
import os
import select
import stat
import sys
import threading
import time
import warnings
from collections import deque
from collections.abc import Callable
from types import TracebackType
from typing import Any, TextIO, cast

import structlog

__all__ = [
    "DROPPED_MESSAGE",
    "ENDED_MESSAGE",
    "EXIT_FLUSH_LIMIT_S",
    "EXIT_FLUSH_S",
    "QUEUE_LIMIT_CHARS",
    "THREAD_FAILED_MESSAGE",
    "UNRAISABLE_MESSAGE",
    "dropped_lines",
    "output_for",
]


class _Output:
    """The stream structlog writes to, never raising into the caller.

    A log call must not take the daemon down: when the stream fails (a pipe or journald
    stream whose reader went away, a full disk, a closed file) the record is dropped, as
    there is nowhere left to report it; the next record tries again. Each record is written
    whole, under a lock that a record logged amid another's write (by a finalizer the garbage
    collector runs there: ``sensord.log._Writer``) takes again.
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
        # runs there (``sensord.log._Writer``), is queued, not a deadlock of the thread
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


def output_for(stream: TextIO | None, renderer: list[Any], *, queued: bool) -> TextIO:
    """The output the records of ``stream`` go to (None: the process has no stderr), written
    by a writer thread when ``queued`` (``_QueuedOutput``, but for a stream without a
    descriptor), with Python's own reports as records; ``renderer``: the processors that
    render a record, for the line that tells of dropped ones. The output configured before
    is ended (its records written while its stream takes them) when this is another."""
    queue = _queued_output(stream, renderer) if queued and stream is not None else None
    _Queues.replace(queue)
    _Reports.install(queued)
    return cast(
        TextIO,
        queue if queue is not None else _NoStream() if stream is None else _Output(stream),
    )
