"""Composing stages, and ``PipelineContext``: the owner of every resource of a run.

A ``Chain`` is the filter -> normalize -> window stages of one channel. ``chain.drain(batch)``
composes the stages' generators lazily over one chunk's readings and runs them to the end;
because stages keep their state between calls, a stream cut into batches gives the same
result as one long stream. ``chain.drain_values(values, ...)`` takes the values of one chunk
that share one timestamp and, for the chain ``build`` makes, runs the three stages in one loop
with the same results (see its docstring).

``PipelineContext`` is a context manager around a run of the daemon (``sensord.service``):
every resource entered with ``enter()`` (the HTTP server, the reader that owns every source,
the notifier, the workers) or registered with ``callback()`` is closed on every exit path
(SIGTERM, an exception, KeyboardInterrupt); it logs one summary line (records, drops,
elapsed, outcome) and never swallows the exception.
"""

from __future__ import annotations

import math
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
from sensord.types import Reading
from sensord.window import Window

__all__ = ["Chain", "PipelineContext"]

T = TypeVar("T")
_SIZED = (list, tuple)
_ProcessFunction = Callable[[Any, Iterable[Any]], Iterator[Any]]
#: filter, normalize, window; the filter's bounds; normalize's a, d, bd, clamp, may_overflow;
#: the window's _take
_Fused = tuple[
    ThresholdFilter,
    Normalize,
    Window,
    float,
    float,
    float,
    float,
    float,
    bool,
    bool,
    Callable[[list[float], float], None],
]

log = structlog.get_logger("sensord.pipeline")


#: a due count no stage reaches in a batch (a one-digit int): the stage takes no sample
_NEVER = (1 << 30) - 1

#: ``_DISCARD.extend(iterator)`` runs an iterator to its end at C speed and keeps nothing.
_DISCARD: deque[Any] = deque(maxlen=0)


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
        #: a window at the end takes an untimed batch whole (``Window.absorb``): ``drain``
        #: discards the statistics of every reading but the last
        last = self.stages[-1]
        self._absorber: Window | None = last if isinstance(last, Window) else None
        #: the stages of the chain ``build`` makes, which ``drain_values`` runs in one loop,
        #: with what it uses of them (they do not change after construction)
        self._fused: _Fused | None = None
        if len(self.stages) == 3:
            flt, norm, win = self.stages
            if type(flt) is ThresholdFilter and type(norm) is Normalize and type(win) is Window:
                self._fused = (
                    *(flt, norm, win),
                    *(flt.min, flt.max, norm.a, norm.d, norm.bd, norm.clamp, norm.may_overflow),
                    win._take,
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

    def drain(self, batch: Iterable[Any]) -> None:
        """Push one batch through every stage and discard the output (the stages keep their
        state: the window's ``last`` statistics and every counter).

        A list batch that holds an instrumented stage's next sample is cut at it: the records
        before the sample go through untimed as one part, the record that some stage samples
        goes through alone (timed by that stage), and the rest is cut again the same way. So
        a sample costs one record's timed pass instead of the whole batch's, and the records
        sampled are the same as when every batch runs timed (each stage counts its own input:
        a part shorter than every stage's countdown is sampled by none).
        """
        if not isinstance(batch, list) or not batch:
            self._drain_part(batch)
            return
        timers = [stage.timer for stage in self.stages if stage.timer is not None]
        if not timers:
            self._drain_part(batch)
            return
        start, size = 0, len(batch)
        while start < size:
            first = min(timer.countdown for timer in timers)
            if first > size - start:
                self._drain_part(batch[start:] if start else batch)
                return
            stop = start + (first - 1 if first > 1 else 1)
            self._drain_part(batch[start:stop])
            start = stop

    def _drain_part(self, batch: Iterable[Any]) -> None:
        """``drain`` of one part: every stage as one generator over it (see ``drain``).

        The daemon calls this for every chunk, so it skips what it can: a stage without a
        timer runs its undecorated generator directly, and so does an instrumented stage whose
        next sample lies beyond a list batch (its countdown exceeds the batch's length, and it
        receives at most that many records); its countdown then moves on by the records it
        counted. The samples are the same as with always-timed processing. A window at the end
        of the chain takes the batch through ``Window.absorb``, timing the records it samples
        itself: its state, counters and ``last`` are those ``process`` leaves, without the
        statistics of every reading that would be discarded here.
        """
        size = len(batch) if isinstance(batch, _SIZED) else -1
        stream: Iterable[Any] = batch
        generators: list[Iterator[Any]] = []
        untimed_runs: list[tuple[StepCounters, StepTimer, int]] | None = None
        absorber = self._absorber
        absorb_timer: StepTimer | None = None
        for stage, untimed in self._steps:
            timer = stage.timer
            sampled = timer is not None and not timer.countdown > size >= 0
            if stage is absorber:  # the last stage: its output is discarded
                absorb_timer = timer if sampled else None
                if timer is not None and not sampled:
                    untimed_runs = untimed_runs or []
                    untimed_runs.append((stage, timer, stage.records_in))
                break
            if untimed is None or sampled:
                stream = stage.process(stream)
            else:
                if timer is not None:
                    untimed_runs = untimed_runs or []
                    untimed_runs.append((stage, timer, stage.records_in))
                stream = untimed(stage, stream)
            generators.append(stream)
        try:
            if absorber is not None:
                absorber.absorb(stream, absorb_timer)
            else:
                _DISCARD.extend(stream)
        except BaseException:
            _close_all(generators)
            raise
        finally:
            if untimed_runs is not None:
                for stage, timer, counted_before in untimed_runs:
                    timer.countdown -= stage.records_in - counted_before

    def drain_values(
        self,
        values: Sequence[float],
        sensor: str,
        channel: str,
        monotonic_s: float,
        wall_s: float,
    ) -> None:
        """``drain([Reading(sensor, channel, v, monotonic_s, wall_s) for v in values])``: the
        readings of one channel's chunk, which share the chunk's timestamps.

        For the chain ``build`` makes, the filter, normalize and window run in one loop over
        the values, each value through every stage before the next one enters, as through the
        lazy generators: the same counters (``error`` included when the filter or normalize
        raises), the same window state and ``last``, the same countdowns and the same records
        sampled, with no generator and no ``Reading`` per value except the one the window
        publishes. A frame of a binary sensor feeds many channels with one reading each; this
        keeps the cost of such a one-reading batch near the work itself.

        The loop runs the values in parts that no stage samples (a part ends before the first
        value some stage's countdown could reach), and takes a value that a stage may sample
        alone: each stage counts it in and, when its countdown runs out, is timed around its
        own work on it (the filter's test, normalize's arithmetic, the window's append) and
        starts its countdown over. What normalize passes on is kept in a list that the window
        takes in one step at the end, or before its own sample so that it takes every value in
        order. When the window raises, the values of the step it failed on are counted as its
        ``error`` and the values after them are not taken (``drain`` hands it one value at a
        time and stops at the first). Other chains take the readings through ``drain``.
        """
        fused = self._fused
        if fused is None:
            self.drain([Reading(sensor, channel, v, monotonic_s, wall_s) for v in values])
            return
        flt, norm, win, lo, hi, a, d, bd, clamp, overflow, take = fused
        ft, nt, wt = flt.timer, norm.timer, win.timer
        # each stage's count of records in at which it takes its next sample
        f_due = _NEVER if ft is None else ft.countdown
        n_due = _NEVER if nt is None else nt.countdown
        w_due = _NEVER if wt is None else wt.countdown
        n = len(values)
        f_in = f_out = 0
        n_range = n_nonfinite = n_overflow = 0
        taken: list[float] = []  # what normalize passed on and the window has not taken yet
        keep = taken.append
        sent = 0  # what normalize passed on and the window was given (taken or failed)
        w_ok = 0  # what the window took
        last_y = 0.0  # the last value the window took
        window_error: Exception | None = None
        raised = False
        i = 0
        try:
            while i < n:
                # values that no stage can sample: each of them adds at most one record to
                # every stage's count
                if f_due > n and n_due > n and w_due > n:  # none in the rest of the batch
                    gap = n
                else:
                    gap = f_due - f_in
                    room = n_due - f_out
                    if room < gap:
                        gap = room
                    room = w_due - sent - len(taken)
                    if room < gap:
                        gap = room
                    gap = gap - 1 if gap > 0 else 0  # a countdown below 1 samples nothing
                if gap:
                    part = values if gap >= n and not i else values[i : i + gap]
                    i += gap
                    for v in part:
                        f_in += 1
                        if lo <= v <= hi:
                            f_out += 1
                            y = (v * a + bd) / d
                            if clamp:
                                y = 0.0 if y < 0.0 else 1.0 if y > 1.0 else y
                            elif overflow and y - y != 0.0:  # the result left the float range
                                n_overflow += 1
                                continue
                            keep(y)
                        elif math.isfinite(v):
                            n_range += 1
                        else:
                            n_nonfinite += 1
                    continue
                # one value, which a stage samples when its count reaches its due
                v = values[i]
                i += 1
                f_in += 1
                started = 0.0
                if f_in == f_due:
                    assert ft is not None
                    f_due += ft.every
                    started = time.perf_counter()
                passed = lo <= v <= hi
                if passed:
                    f_out += 1
                elif math.isfinite(v):
                    n_range += 1
                else:
                    n_nonfinite += 1
                if started:
                    assert ft is not None
                    ft.observe(time.perf_counter() - started)
                if not passed:
                    continue
                started = 0.0
                if f_out == n_due:
                    assert nt is not None
                    n_due += nt.every
                    started = time.perf_counter()
                y = (v * a + bd) / d
                dropped = False
                if clamp:
                    y = 0.0 if y < 0.0 else 1.0 if y > 1.0 else y
                elif overflow and y - y != 0.0:
                    n_overflow += 1
                    dropped = True
                if started:
                    assert nt is not None
                    nt.observe(time.perf_counter() - started)
                if dropped:
                    continue
                if sent + len(taken) + 1 != w_due:
                    keep(y)
                    continue
                assert wt is not None
                w_due += wt.every
                win._begin()
                flush = taken  # the values before it go first, in order
                taken = []
                keep = taken.append
                sent += len(flush) + 1
                try:
                    if flush:
                        take(flush, monotonic_s)
                        w_ok += len(flush)
                        last_y = flush[-1]
                    started = time.perf_counter()
                    take([y], monotonic_s)
                    wt.observe(time.perf_counter() - started)
                    w_ok += 1
                    last_y = y
                except Exception as exc:  # counted as the window's, raised below
                    window_error = exc
                    break
        except Exception:
            raised = True
            raise
        finally:
            # as Window.absorb: every value normalize passed on (also when a stage failed on a
            # later one), the last published
            n_out = sent  # what normalize passed on
            if taken and window_error is None:
                n_out += len(taken)
                win._begin()
                try:
                    take(taken, monotonic_s)
                except Exception as exc:  # counted as the window's, raised below
                    window_error = exc
                else:
                    w_ok += len(taken)
                    last_y = taken[-1]
            if w_ok:
                win._publish(Reading(sensor, channel, last_y, monotonic_s, wall_s))
            elif n_out:
                win._end()
            if raised or window_error is not None or n_range or n_nonfinite or n_overflow:
                flt.settle(f_in, f_out, raised, range=n_range, nonfinite=n_nonfinite)
                norm.settle(f_out, n_out, raised, nonfinite=n_overflow)
                win.settle(n_out, w_ok, raised or window_error is not None)
            else:  # no drop: what settle() does, without three calls
                flt.records_in += f_in
                flt.records_out += f_out
                norm.records_in += f_out
                norm.records_out += n_out
                win.records_in += n_out
                win.records_out += w_ok
            if ft is not None:
                ft.countdown = f_due - f_in
            if nt is not None:
                nt.countdown = n_due - f_out
            if wt is not None:
                wt.countdown = w_due - n_out
            if window_error is not None:
                raise window_error

    def drain_value(
        self, value: float, sensor: str, channel: str, monotonic_s: float, wall_s: float
    ) -> None:
        """``drain_values([value], ...)``, for the batch of one reading a binary frame gives
        each of its channels. A float the three stages pass without drop or timing sample goes
        through them here without a loop; anything else goes through ``drain_values``."""
        fused = self._fused
        if fused is not None and type(value) is float:
            flt, norm, win, lo, hi, a, d, bd, clamp, overflow, _ = fused
            ft, nt, wt = flt.timer, norm.timer, win.timer
            if (
                lo <= value <= hi
                and (ft is None or ft.countdown > 1)
                and (nt is None or nt.countdown > 1)
                and (wt is None or wt.countdown > 1)
            ):
                y = (value * a + bd) / d
                if clamp:
                    y = 0.0 if y < 0.0 else 1.0 if y > 1.0 else y
                if not overflow or y - y == 0.0:
                    flt.records_in += 1
                    flt.records_out += 1
                    norm.records_in += 1
                    norm.records_out += 1
                    win.records_in += 1
                    if ft is not None:
                        ft.countdown -= 1
                    if nt is not None:
                        nt.countdown -= 1
                    if wt is not None:
                        wt.countdown -= 1
                    win._put(y, Reading(sensor, channel, y, monotonic_s, wall_s))
                    return
        self.drain_values([value], sensor, channel, monotonic_s, wall_s)

    @property
    def window(self) -> Window | None:
        last = self.stages[-1]
        return last if isinstance(last, Window) else None

    @property
    def dropped_total(self) -> int:
        return sum(stage.dropped_total for stage in self.stages)


class PipelineContext:
    """Owns the resources of one run: see the module docstring.

    ``counts`` returns ``(records, dropped)`` for the summary line: the records that entered
    the stages and those the stages dropped, read when the context exits (None: the run has
    no stages of its own, and the line leaves them out).
    """

    def __init__(
        self,
        name: str = "pipeline",
        counts: Callable[[], tuple[int, int] | None] | None = None,
    ) -> None:
        self.name = name
        self.elapsed_s = 0.0
        self.outcome = "not started"
        self._counts = counts
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
        ended_by = exc if exc is not None else close_error
        if ended_by is None:
            self.outcome = "completed"
        elif isinstance(ended_by, KeyboardInterrupt | SystemExit | GeneratorExit):
            self.outcome = "interrupted"
        else:
            self.outcome = "failed"
        fields: dict[str, Any] = {"pipeline": self.name}
        counted = self._counts() if self._counts is not None else None
        if counted is not None:
            fields["records"], fields["dropped"] = counted
        fields["elapsed_s"] = round(self.elapsed_s, 6)
        fields["outcome"] = self.outcome
        if exc is not None:
            # what happened in words, and the exception's type beside it
            kind = type(exc).__name__
            log.error("pipeline finished", error=str(exc) or kind, error_type=kind, **fields)
        elif close_error is not None:
            log.error("pipeline finished", error=f"closing failed: {close_error!r}", **fields)
        else:
            log.info("pipeline finished", **fields)
        if close_error is not None:
            if exc is None:
                raise close_error
            log.error("closing a resource failed", pipeline=self.name, error=repr(close_error))
        return False
