"""Exception hierarchy. Every error sensord raises on purpose derives from SensordError."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = [
    "ConfigError",
    "ParseError",
    "SensordError",
    "SourceBrokenError",
    "SourceError",
    "SourceUnavailableError",
]

#: The fixed set of reasons a frame or reading is rejected. Metric label values come from here.
PARSE_ERROR_REASONS = (
    "syntax",
    "checksum",
    "encoding",
    "overlong",
    "truncated",
    "nonfinite",
    "range",
    "invalid",
)


class SensordError(Exception):
    """Base class of all sensord errors."""


class ConfigError(SensordError):
    """The configuration is invalid. ``problems`` holds one ``key.path: message`` line per error."""

    def __init__(self, problems: Sequence[str], source: str = "") -> None:
        self.problems = list(problems)
        self.source = source
        where = f"{source}: " if source else ""
        if len(self.problems) == 1:
            text = f"{where}{self.problems[0]}"
        else:
            lines = "\n".join(f"  {p}" for p in self.problems)
            text = f"{where}{len(self.problems)} configuration errors:\n{lines}"
        super().__init__(text)


class SourceError(SensordError):
    """A sensor source could not be opened or read."""

    def __init__(self, sensor: str, message: str) -> None:
        self.sensor = sensor
        super().__init__(f"sensor {sensor!r}: {message}")


class SourceUnavailableError(SourceError):
    """The device is absent or cannot be opened now; retrying later may succeed."""


class SourceBrokenError(SourceError):
    """The device was open and failed while in use (unplug, I/O error)."""


class ParseError(SensordError):
    """A frame could not be turned into readings. ``reason`` is one of PARSE_ERROR_REASONS."""

    def __init__(
        self, reason: str, detail: str = "", kept: Sequence[tuple[str, float]] = ()
    ) -> None:
        if reason not in PARSE_ERROR_REASONS:
            raise ValueError(f"unknown parse error reason {reason!r}")
        self.reason = reason
        self.detail = detail
        #: ``(channel, value)`` of the frame's other fields, read soundly: a frame whose
        #: integrity is checked (a checksum that holds) and one of whose fields is malformed
        #: still gives the others; the error is counted all the same
        self.kept = list(kept)
        super().__init__(f"{reason}: {detail}" if detail else reason)
