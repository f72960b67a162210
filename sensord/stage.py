"""The base of every pipeline stage: exact record accounting and sampled step timing.

This module imports nothing from Prometheus: a stage counts in plain integers and times into a
plain ``observe(seconds)`` callable. ``sensord.export`` turns the counters into metric families
at scrape time and binds ``observe`` to a histogram child once per stage.

Counting and timing are split by cost:

* every stage counts every record exactly (``StepCounters``), in local variables while a batch
  runs, added to the stage when the batch ends;
* ``@timed_step`` times a *sample* of the records (1 in ``every``, default 64). Timing every
  record would cost most of a stage's throughput; a sample gives the same latency
  distribution at a small fraction.

Accounting is a property of correct code, not something computed into place: a stage books
each record it does not yield under a named reason, and ``error`` only for the records that
were inside it when it raised. A record that leaves a stage uncounted shows as
``records_in != records_out + dropped_total`` (``imbalance``), which tests assert is zero.
"""

from __future__ import annotations

import functools
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator
from typing import Any, ClassVar, TypeVar

__all__ = ["DEFAULT_SAMPLE_EVERY", "StepCounters", "StepTimer", "timed_step"]

DEFAULT_SAMPLE_EVERY = 64


class StepTimer:
    """The sampling state of one instrumented stage: a bound ``observe`` and a countdown."""

    __slots__ = ("countdown", "every", "observe")

    def __init__(self, observe: Callable[[float], None], every: int) -> None:
        if every < 1:
            raise ValueError(f"sample_every must be >= 1, got {every}")
        self.observe = observe
        self.every = every
        self.countdown = every


class StepCounters(ABC):
    """Base of a pipeline stage: exact record accounting, ``in == out + sum(dropped)``.

    ``dropped`` has one entry per reason in ``drop_reasons`` plus ``error``: a record that was
    inside the stage when the stage raised.
    """

    step: ClassVar[str] = "step"
    drop_reasons: ClassVar[tuple[str, ...]] = ()

    def __init__(self) -> None:
        self.records_in = 0
        self.records_out = 0
        self.dropped: dict[str, int] = dict.fromkeys((*self.drop_reasons, "error"), 0)
        self.timer: StepTimer | None = None

    @abstractmethod
    def process(self, stream: Iterable[Any]) -> Iterator[Any]:
        """Transform ``stream`` lazily (a generator); count every record."""

    def instrument(self, timer: StepTimer | None) -> None:
        """Attach (or with None, detach) a latency sampler."""
        self.timer = timer

    def settle(self, n_in: int, n_out: int, raised: bool = False, **drops: int) -> None:
        """Add one batch's counts. With ``raised`` (the stage's generator ended by an
        exception of its own), the records counted in but neither out nor dropped were inside
        the stage when it failed: they are booked as ``error``. Without it nothing is made up:
        a shortfall stays visible as ``imbalance``."""
        self.records_in += n_in
        self.records_out += n_out
        accounted = n_out
        if drops:
            dropped = self.dropped
            for reason, n in drops.items():
                if n:
                    dropped[reason] += n
                    accounted += n
        if raised and accounted < n_in:
            self.dropped["error"] += n_in - accounted

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())

    @property
    def imbalance(self) -> int:
        """Records that entered and neither left nor were counted as dropped: 0 when correct."""
        return self.records_in - self.records_out - self.dropped_total


_P = TypeVar("_P", bound=StepCounters)
_ProcessFn = Callable[[_P, Iterable[Any]], Iterator[Any]]


def timed_step(process: _ProcessFn[_P]) -> _ProcessFn[_P]:
    """Decorate a stage's ``process(self, stream)`` generator method with sampled timing.

    With no timer attached the undecorated generator is returned as is: an uninstrumented
    stage pays one attribute check per batch, nothing per record. With a timer, each sampled
    record is timed from the moment the stage receives it until the stage yields its result
    or asks for the next input (a drop): exclusive of upstream and downstream work.
    """

    @functools.wraps(process)
    def wrapper(self: _P, stream: Iterable[Any]) -> Iterator[Any]:
        timer = self.timer
        if timer is None:
            return process(self, stream)
        return _timed(process, self, stream, timer)

    return wrapper


def _timed(
    process: _ProcessFn[_P], stage: _P, stream: Iterable[Any], timer: StepTimer
) -> Iterator[Any]:
    clock = time.perf_counter
    observe = timer.observe
    every = timer.every
    countdown = timer.countdown
    started = 0.0  # > 0 while a sampled record is inside the stage

    def feed() -> Iterator[Any]:
        nonlocal countdown, started
        for record in stream:
            if started:
                observe(clock() - started)
                started = 0.0
            countdown -= 1
            if not countdown:
                countdown = every
                started = clock()
            yield record

    try:
        for out in process(stage, feed()):
            if started:
                observe(clock() - started)
                started = 0.0
            yield out
        if started:
            observe(clock() - started)
    finally:
        timer.countdown = countdown
