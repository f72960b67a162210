"""Composing stages, and ``PipelineContext``: the owner of every resource of a run.

A ``Chain`` is the filter -> normalize -> window stages of one channel. ``chain.process(stream)``
composes the stages' generators lazily; nothing moves until the result is iterated. The
daemon pushes each chunk's readings through ``chain.drain(batch)`` (``chain.run(batch, sink)``
hands every output to a sink); because stages keep their state between calls, a stream cut
into batches gives the same output as one long stream.

``PipelineContext`` is a context manager around a run: resources entered with ``enter()`` are
closed on every exit path (normal end, an exception in a stage or sink, KeyboardInterrupt), it
logs one summary line (records, drops, elapsed, outcome) and it never swallows the exception.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import AbstractContextManager, ExitStack
from types import TracebackType
from typing import Any, Literal, Self, TypeVar

import structlog

from sensord.filter import ThresholdFilter
from sensord.normalize import Normalize
from sensord.stage import StepCounters, StepTimer
from sensord.window import Window

__all__ = ["Chain", "PipelineContext"]

T = TypeVar("T")
_SIZED = (list, tuple)
_ProcessFunction = Callable[[Any, Iterable[Any]], Iterator[Any]]
Sink = Callable[[Any], None]

log = structlog.get_logger("sensord.pipeline")


#: ``_DISCARD.extend(iterator)`` runs an iterator to its end at C speed and keeps nothing.
_DISCARD: deque[Any] = deque(maxlen=0)


def _compose(stream: Iterable[Any], stages: Sequence[StepCounters]) -> list[Iterator[Any]]:
    """Each stage's generator over the previous one's output, upstream first."""
    generators: list[Iterator[Any]] = []
    for stage in stages:
        stream = stage.process(stream)
        generators.append(iter(stream))
    return generators


def _close_all(generators: Sequence[Iterator[Any]]) -> None:
    """Close every stage's generator, downstream first, so each stage settles its counters now.

    Closing only the last one is not enough: when a stage raises, the generators upstream of it
    stay suspended (the traceback keeps the failed stage's frame alive) and would settle only
    when the exception is garbage-collected.
    """
    for generator in reversed(generators):
        close = getattr(generator, "close", None)
        if close is not None:
            close()


class Chain:
    """The ordered stages of one channel."""

    def __init__(self, stages: Sequence[StepCounters]) -> None:
        if not stages:
            raise ValueError("a chain needs at least one stage")
        self.stages = tuple(stages)
        # each stage with its process() without @timed_step's wrapper (None if undecorated)
        self._steps: tuple[tuple[StepCounters, _ProcessFunction | None], ...] = tuple(
            (stage, getattr(type(stage).process, "__wrapped__", None)) for stage in self.stages
        )

    @classmethod
    def build(
        cls,
        *,
        filter_min: float | None = None,
        filter_max: float | None = None,
        scale: float = 1.0,
        offset: float = 0.0,
        from_unit: str | None = None,
        to_unit: str | None = None,
        range_min: float | None = None,
        range_max: float | None = None,
        clamp: bool = False,
        window_size: int = 60,
        window_time_s: float | None = None,
    ) -> Chain:
        return cls(
            [
                ThresholdFilter(filter_min, filter_max),
                Normalize(
                    scale,
                    offset=offset,
                    from_unit=from_unit,
                    to_unit=to_unit,
                    range_min=range_min,
                    range_max=range_max,
                    clamp=clamp,
                    input_bound=None
                    if filter_min is None or filter_max is None
                    else max(abs(filter_min), abs(filter_max)),
                ),
                Window(window_size, window_time_s),
            ]
        )

    def instrument(self, timer_for: Callable[[str], StepTimer] | None) -> None:
        """Attach a latency sampler to every stage (``timer_for(step)``), or detach with None."""
        for stage in self.stages:
            stage.instrument(timer_for(stage.step) if timer_for else None)

    def process(self, stream: Iterable[Any]) -> Iterator[Any]:
        for stage in self.stages:
            stream = stage.process(stream)
        return iter(stream)

    def run(self, batch: Iterable[Any], sink: Sink) -> None:
        """Push one batch through every stage into ``sink``."""
        generators = _compose(batch, self.stages)
        try:
            for record in generators[-1]:
                sink(record)
        except BaseException:  # a normal end has already finished every generator
            _close_all(generators)
            raise

    def drain(self, batch: Iterable[Any]) -> None:
        """Push one batch through every stage and discard the output (the stages keep their
        state: the window's ``last`` statistics and every counter).

        The daemon calls this for every chunk, so it skips what it can: a stage without a
        timer runs its undecorated generator directly, and so does an instrumented stage whose
        next sample lies beyond a list batch (its countdown exceeds the batch's length, and it
        receives at most that many records); its countdown then moves on by the records it
        counted. The samples are the same as with always-timed processing.
        """
        size = len(batch) if isinstance(batch, _SIZED) else -1
        stream: Iterable[Any] = batch
        generators: list[Iterator[Any]] = []
        untimed_runs: list[tuple[StepCounters, StepTimer, int]] | None = None
        for stage, untimed in self._steps:
            timer = stage.timer
            if untimed is None or (timer is not None and not timer.countdown > size >= 0):
                stream = stage.process(stream)
            else:
                if timer is not None:
                    untimed_runs = untimed_runs or []
                    untimed_runs.append((stage, timer, stage.records_in))
                stream = untimed(stage, stream)
            generators.append(stream)
        try:
            _DISCARD.extend(stream)
        except BaseException:
            _close_all(generators)
            raise
        finally:
            if untimed_runs is not None:
                for stage, timer, counted_before in untimed_runs:
                    timer.countdown -= stage.records_in - counted_before

    @property
    def window(self) -> Window | None:
        last = self.stages[-1]
        return last if isinstance(last, Window) else None

    @property
    def dropped_total(self) -> int:
        return sum(stage.dropped_total for stage in self.stages)


class PipelineContext:
    """Owns the resources of one pipeline run; see the module docstring."""

    def __init__(self, name: str = "pipeline") -> None:
        self.name = name
        self.records = 0
        self.elapsed_s = 0.0
        self.outcome = "not started"
        self._stages: list[StepCounters] = []
        self._stack = ExitStack()
        self._started = 0.0

    def enter(self, resource: AbstractContextManager[T]) -> T:
        """Enter ``resource`` now and close it when the context exits."""
        return self._stack.enter_context(resource)

    def callback(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        """Call ``fn`` when the context exits (last registered, first called)."""
        self._stack.callback(fn, *args, **kwargs)

    def __enter__(self) -> Self:
        self._started = time.perf_counter()
        self.outcome = "running"
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> Literal[False]:
        close_error: BaseException | None = None
        try:
            self._stack.__exit__(exc_type, exc, tb)
        except BaseException as err:
            close_error = err
        self.elapsed_s = time.perf_counter() - self._started
        dropped = sum(stage.dropped_total for stage in self._stages)
        ended_by = exc if exc is not None else close_error
        if ended_by is None:
            self.outcome = "completed"
        elif isinstance(ended_by, KeyboardInterrupt | SystemExit | GeneratorExit):
            self.outcome = "interrupted"
        else:
            self.outcome = "failed"
        fields = {
            "pipeline": self.name,
            "records": self.records,
            "dropped": dropped,
            "elapsed_s": round(self.elapsed_s, 6),
            "outcome": self.outcome,
        }
        if exc is not None:
            log.error("pipeline finished", error=repr(exc), **fields)
        elif close_error is not None:
            log.error("pipeline finished", error=f"closing failed: {close_error!r}", **fields)
        else:
            log.info("pipeline finished", **fields)
        if close_error is not None:
            if exc is None:
                raise close_error
            log.error("closing a resource failed", pipeline=self.name, error=repr(close_error))
        return False

    def run(self, source: Iterable[Any], stages: Sequence[StepCounters], sink: Sink) -> int:
        """Stream ``source`` through ``stages`` into ``sink``; returns the records delivered.

        If ``source`` is a context manager it is entered here and closed with the context.
        """
        if isinstance(source, AbstractContextManager):
            source = self.enter(source)
        self._stages.extend(stages)
        generators = _compose(source, stages) if stages else [iter(source)]
        delivered = 0
        try:
            for record in generators[-1]:
                sink(record)
                delivered += 1
        finally:
            self.records += delivered
            _close_all(generators)  # settles every stage's counters now, not at garbage collection
        return delivered
