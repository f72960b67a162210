"""Exception hierarchy, and the exit codes the commands share. Every error sensord raises
on purpose derives from SensordError.

Each pickles whole (type, message and attributes), as an error raised in another process
must: ``multiprocessing`` and ``concurrent.futures`` pass it so."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence

__all__ = [
    "ACK_ERROR_REASONS",
    "EXIT_INVALID",
    "EXIT_OK",
    "EXIT_USAGE",
    "ConfigError",
    "OtherUnitError",
    "ParseError",
    "PortCloseError",
    "Problem",
    "SensordError",
    "SourceBrokenError",
    "SourceError",
    "SourceUnavailableError",
    "StatusFaultError",
]

#: Exit codes of sensord's commands: success; an invalid configuration, a failed check or a
#: command that could not do what it was asked; wrong usage. (3, the daemon could not start,
#: is ``sensord.service.EXIT_HTTP``; 4, a worker of another build, ``sensord.cli_run``'s.)
EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2

#: The fixed set of reasons a frame or reading is rejected. Metric label values come from here.
PARSE_ERROR_REASONS = (
    "syntax",
    "checksum",
    "encoding",
    "overlong",
    "truncated",
    "no_checksum",
    "nonfinite",
    "range",
    "invalid",
)

#: Why a set-up command counts as not acknowledged (the label values of its counter).
ACK_ERROR_REASONS = ("missing", "wrong")


class SensordError(Exception):
    """Base class of all sensord errors."""


class Problem(str):
    """One configuration problem, ``key.path: message``, that keeps its key path and message
    apart: a quoted key in the path may hold ``": "`` itself (``sensors[0]."a: b"``), so
    what reads the key path (``ConfigError``'s labels) takes ``key``, never a split of the
    text."""

    key: str
    message: str

    def __new__(cls, key: str, message: str) -> Problem:
        problem = super().__new__(cls, f"{key}: {message}")
        problem.key = key
        problem.message = message
        return problem

    def __reduce__(self) -> tuple[type[Problem], tuple[str, str]]:
        # pickled by its arguments: the default passes the text alone
        return type(self), (self.key, self.message)


class ConfigError(SensordError):
    """The configuration is invalid. ``problems`` holds one ``key.path: message`` line per error
    (a ``Problem``, which keeps the two apart, or text, whose key path ends at its first ``": "``).

    ``labels`` names what a key path is in (``{"sensors[1]": "sensor 'meter'"}``): ``lines``
    (and the message) show each problem with the label of its key path after the path,
    ``sensors[1].unit (sensor 'meter'): unknown key``, and after each other labelled path
    its message names (``already used by sensors[0] (sensor 'boiler')``); ``problems`` keep
    the bare key paths.
    """

    def __init__(
        self, problems: Sequence[str], source: str = "", labels: Mapping[str, str] | None = None
    ) -> None:
        self.problems = list(problems)
        self.source = source
        self.labels = dict(labels or {})
        self.lines = list(map(_labeller(self.labels), self.problems))
        where = f"{source}: " if source else ""
        if len(self.lines) == 1:
            text = f"{where}{self.lines[0]}"
        else:
            lines = "\n".join(f"  {p}" for p in self.lines)
            text = f"{where}{len(self.lines)} configuration errors:\n{lines}"
        super().__init__(text)

    def __reduce__(self) -> tuple[type[ConfigError], tuple[list[str], str, dict[str, str]]]:
        # pickled by its arguments: the default (the message as the only argument) would make
        # each character of the message a problem
        return type(self), (self.problems, self.source, self.labels)


def _labeller(labels: Mapping[str, str]) -> Callable[[str], str]:
    """What shows a problem (``key.path: message``) with the labels of the key paths in it."""
    # any key path: the longest labelled prefix of each is looked up (one pattern for all)
    pattern = re.compile(r"(?<![\w.])\w+(?:\.\w+|\[\d+\])*")

    def labelled(problem: str) -> str:
        if not labels:
            return problem
        if isinstance(problem, Problem):
            key, message = problem.key, problem.message
        else:
            key, sep, message = problem.partition(": ")
            if not sep:
                return problem
        own = _label_of(key, labels)

        def label(match: re.Match[str]) -> str:
            other = _label_of(match[0], labels)
            return match[0] if other is None or other == own else f"{match[0]} ({other})"

        message = pattern.sub(label, message)
        return f"{key} ({own}): {message}" if own is not None else f"{key}: {message}"

    return labelled


def _label_of(key: str, labels: Mapping[str, str]) -> str | None:
    """The label of the longest prefix of ``key`` that has one."""
    return next((labels[p] for p in _prefixes(key) if p in labels), None)


def _prefixes(key: str) -> list[str]:
    """``a[1].b.c`` -> ``a[1].b.c``, ``a[1].b``, ``a[1]``, ``a``: the longest first."""
    cuts = [i for i, ch in enumerate(key) if ch in ".["]
    return [key, *(key[:i] for i in reversed(cuts) if i)]


class SourceError(SensordError):
    """A sensor source could not be opened or read.

    ``summary`` tells one failure from another (``log.RepeatedError`` decides by it whether
    a failure is news). With ``describe``, the full message is found out only when it is
    first asked for (``str()``): ``describe()`` returns it (without the ``sensor '...'``
    prefix), and may take a while (the processes holding a port are searched for in
    ``/proc``), so a failure that is counted but not logged does not pay for it. Without
    ``describe`` the message is ``summary``.
    """

    def __init__(
        self, sensor: str, message: str, *, describe: Callable[[], str] | None = None
    ) -> None:
        self.sensor = sensor
        self.summary = f"{_named(sensor)}: {message}"
        self._describe = describe
        self._text: str | None = None if describe is not None else self.summary
        super().__init__(self.summary)

    def __reduce__(self) -> tuple[type[SourceError], tuple[str, str], dict[str, object]]:
        # pickled with its full message found out (``describe`` may be a closure, which does
        # not pickle), by its arguments: the default passes the message alone
        message = self.summary.removeprefix(f"{_named(self.sensor)}: ")
        return type(self), (self.sensor, message), {"_text": str(self), "_describe": None}

    @property
    def described(self) -> bool:
        """The full message is known: ``str()`` costs nothing."""
        return self._text is not None

    def __str__(self) -> str:
        if self._text is None:
            assert self._describe is not None
            try:
                text = f"{_named(self.sensor)}: {self._describe()}"
            except Exception as exc:  # the error itself must stay reportable
                text = f"{self.summary} (its details could not be found: {exc!r})"
            self._text, self._describe = text, None
        return self._text


def _named(sensor: str) -> str:
    """How an error names what failed: ``sensor 'boiler'``, or for the port a Modbus bus's
    devices share (keyed ``bus:PORT``), ``bus PORT``."""
    port = sensor.removeprefix("bus:")
    return f"bus {port}" if port != sensor else f"sensor {sensor!r}"


class SourceUnavailableError(SourceError):
    """The device is absent or cannot be opened now; retrying later may succeed."""


class SourceRefusedError(SourceUnavailableError):
    """The server took the connection and said why it does not serve it (a serial server's
    refusal line: ser2net's "Device open failure", "Port already in use"): no refusal for a
    moment, as a reopen refused right after the server ended a connection may be."""


class SourceBrokenError(SourceError):
    """The device was open and failed while in use (unplug, I/O error)."""


class PortCloseError(SensordError):
    """A port was disconnected (closed, down for the reason it was lost, its reopen
    scheduled) but its source's close raised: the ``__cause__``. Nothing is left to
    disconnect again."""


class ParseError(SensordError):
    """A frame could not be turned into readings. ``reason`` is one of PARSE_ERROR_REASONS."""

    def __init__(
        self,
        reason: str,
        detail: str = "",
        kept: Sequence[tuple[str, float]] = (),
        unavailable: Sequence[str] = (),
    ) -> None:
        if reason not in PARSE_ERROR_REASONS:
            raise ValueError(f"unknown parse error reason {reason!r}")
        self.reason = reason
        self.detail = detail
        #: ``(channel, value)`` of the frame's other fields, read soundly: a frame whose
        #: integrity is checked (a checksum that holds) and one of whose fields is malformed
        #: still gives the others; the error is counted all the same
        self.kept = list(kept)
        #: the channels this frame leaves without a current value, as the device sent it: a
        #: value it marked as not measured (a ``not_available`` value, an invalid marker or
        #: ``nan``, a status that says its values are not valid) or gave in another unit;
        #: they have none until a reading comes again
        self.unavailable = tuple(unavailable)
        super().__init__(f"{reason}: {detail}" if detail else reason)

    def __reduce__(
        self,
    ) -> tuple[type[ParseError], tuple[str, str, list[tuple[str, float]], tuple[str, ...]]]:
        # pickled by its arguments: the default passes the message alone, no reason
        return type(self), (self.reason, self.detail, self.kept, self.unavailable)


class NotMeasuredError(ParseError):
    """Values ``invalid`` because the device sent what it sends for "no value" in their
    fields (a frame field's ``not_available``): the frame itself is sound, and a run of such
    frames is the device saying so, not a frame rejected whole."""


class StatusFaultError(NotMeasuredError):
    """Values ``invalid`` because a status the device sends with them says they are not
    valid (a Modbus value's ``status_register``: a Senseair S8's meter status with an error
    bit set): a device that reports a fault, which a sensor's hint tells once it lasts.
    ``faulty`` are the channels of ``unavailable`` its status withholds (the others hold
    their "not available" value), and ``fault`` what the status says of them."""

    def __init__(  # noqa: PLR0917 (ParseError's arguments and two of its own)
        self,
        reason: str,
        detail: str = "",
        kept: Sequence[tuple[str, float]] = (),
        unavailable: Sequence[str] = (),
        faulty: Sequence[str] = (),
        fault: str = "",
    ) -> None:
        super().__init__(reason, detail, kept, unavailable)
        self.faulty = tuple(faulty)
        self.fault = fault

    def __reduce__(  # type: ignore[override]
        self,
    ) -> tuple[
        type[StatusFaultError],
        tuple[str, str, list[tuple[str, float]], tuple[str, ...], tuple[str, ...], str],
    ]:
        return type(self), (
            self.reason,
            self.detail,
            self.kept,
            self.unavailable,
            self.faulty,
            self.fault,
        )


class OtherUnitError(ParseError):
    """A value ``invalid`` because the device followed it with a unit other than its field's
    (``74.6F`` where the unit is ``C``): unlike a value the device marked as not measured, a
    frame whose every value is so points at the device's settings (a sensor's hint says so)."""
