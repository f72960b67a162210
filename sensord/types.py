"""Small value types shared by every stage."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Reading", "WindowStats"]


@dataclass(slots=True)
class Reading:
    """One numeric value of one channel of one sensor.

    ``monotonic_s`` comes from ``time.monotonic()`` (for windows and staleness),
    ``wall_s`` from ``time.time()`` (for the exported timestamp).
    Stages treat readings as immutable: a stage that changes a value makes a new Reading.
    """

    sensor: str
    channel: str
    value: float
    monotonic_s: float
    wall_s: float


@dataclass(slots=True)
class WindowStats:
    """Statistics of a sliding window, emitted by the window stage with each reading."""

    reading: Reading
    count: int
    mean: float
    min: float
    max: float
    stddev: float
