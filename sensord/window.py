"""The window stage: statistics over a sliding window, an append per reading.

The window holds the last ``size`` readings and, with ``time_s``, only those at most
``time_s`` seconds older than the newest one. ``process`` emits every reading as
``WindowStats`` (count, mean, min, max, population standard deviation over the window
including it); ``last`` is the statistics of the newest reading published.

How it stays cheap:

* per reading: the value is appended to a ``deque`` bounded to ``size``, which drops the
  oldest at C speed; a time window also appends the time and drops from the front what fell
  out of its horizon. Nothing else is done per reading, so a channel read hundreds of times a
  second costs an append each time.
* per read of the statistics: they are computed from the values the window holds (min,
  max, an exactly rounded sum, then the squared deviations from the mean), once per
  published change: ``last`` keeps what it computed until the window changes. The daemon
  reads them when ``/metrics`` or ``/status`` is asked for, so their cost follows the
  scrapes, not the readings (about 8 us for a window of 60 values here).

The mean is the exactly rounded sum over the count, the standard deviation the root of the
mean squared deviation from it (two passes: no rounding residue carried from readings that
left). Beyond that the stage never raises: a mean whose sum overflows is computed from
scaled values, and a standard deviation whose squared deviations overflow (magnitudes beyond
about ``1e154``) reads ``inf``.

Readers on other threads: the reader thread changes a window only between ``_begin`` (an odd
sequence number) and ``_publish``/``_end`` (even again); ``last`` copies the values and the
newest reading while the number is even and unchanged, so it always describes one batch's
end, never a batch half taken.
"""

from __future__ import annotations

import itertools
import math
import time
from collections import deque
from collections.abc import Iterable, Iterator, Sequence

from sensord.stage import StepCounters, StepTimer, timed_step
from sensord.types import Reading, WindowStats

__all__ = ["MAX_WINDOW_SIZE", "Window", "window_stats"]

MAX_WINDOW_SIZE = 10_000


def window_stats(reading: Reading, values: Sequence[float]) -> WindowStats:
    """The statistics of ``values`` (at least one), with ``reading`` (the newest) as theirs:
    count, min and max exact; the mean from an exactly rounded sum, the population stddev
    from the squared deviations from that mean (two passes)."""
    n = len(values)
    lo = min(values)
    hi = max(values)
    if lo == hi:  # every value equal: exact answers, no rounding residue
        return WindowStats(reading, n, lo, lo, hi, 0.0)
    try:
        mean = math.fsum(values) / n
    except (OverflowError, ValueError):  # ValueError: +inf and -inf among the values
        mean = math.inf
    if not math.isfinite(mean) and math.isfinite(lo) and math.isfinite(hi):
        # the sum overflowed: sum the values scaled by 2**-k <= 1/n
        k = n.bit_length()
        mean = math.ldexp(math.fsum([math.ldexp(x, -k) for x in values]) / n, k)
    # a sum of squares, none negative: no cancellation, so a plain sum is accurate to n ulps;
    # a square beyond the float range makes it inf
    m2 = sum([(x - mean) * (x - mean) for x in values])
    stddev = math.sqrt(m2 / n) if m2 > 0.0 else 0.0
    return WindowStats(reading, n, mean, lo, hi, stddev)


class Window(StepCounters):
    step = "window"
    drop_reasons = ()

    def __init__(self, size: int, time_s: float | None = None) -> None:
        super().__init__()
        if not 1 <= size <= MAX_WINDOW_SIZE:
            raise ValueError(f"window size must be in [1, {MAX_WINDOW_SIZE}], got {size}")
        if time_s is not None and not time_s > 0:
            raise ValueError(f"window time_s must be > 0, got {time_s}")
        self.size = size
        self.time_s = time_s
        # the deques are made once and cleared by reset(), so that a bound append stays valid
        self._values: deque[float] = deque(maxlen=size)
        self._times: deque[float] = deque(maxlen=size)  # a time window's, beside _values
        self._seq = 0  # odd while the reader thread changes the window
        self._reading: Reading | None = None
        self._cached: tuple[int, WindowStats | None] = (0, None)

    def reset(self) -> None:
        """Forget every reading (the counters of the step are kept)."""
        self._begin()
        self._values.clear()
        self._times.clear()
        self._reading = None
        self._end()

    def __len__(self) -> int:
        return len(self._values)

    @property
    def last(self) -> WindowStats | None:
        """The statistics of the newest reading published (None before the first, and after
        ``reset``), computed on first use after each change; any thread."""
        seq, stats = self._cached
        if seq == self._seq:
            return stats
        for _ in range(1000):
            seq = self._seq
            if seq & 1:  # a batch is being taken on the reader thread
                time.sleep(0)
                continue
            reading = self._reading
            values = list(self._values)  # one C-level copy
            if self._seq == seq:
                break
        else:
            raise RuntimeError("the window kept changing while it was being read")
        stats = self._compute(reading, values) if reading is not None and values else None
        self._cached = (seq, stats)
        return stats

    def _compute(self, reading: Reading, values: Sequence[float]) -> WindowStats:
        """The statistics of ``values`` with ``reading`` as the newest (every computation of
        them goes through here)."""
        return window_stats(reading, values)

    # -- the per-reading work (the reader thread) ----------------------------------------------
    def _begin(self) -> None:
        """The window starts to change: ``last`` waits until ``_publish`` or ``_end``."""
        self._seq |= 1

    def _end(self) -> None:
        """The window holds a whole batch again (or is unchanged)."""
        if self._seq & 1:
            self._seq += 1

    def _publish(self, reading: Reading) -> None:
        """``reading``, the last one taken, is the newest: ``last`` describes it from now on."""
        self._reading = reading
        self._end()

    def _add(self, value: float, at_s: float) -> None:
        """Take one value, read at monotonic time ``at_s`` (between ``_begin`` and
        ``_publish``)."""
        self._values.append(value)
        if self.time_s is not None:
            self._times.append(at_s)
            self._evict_older_than(at_s - self.time_s)

    def _take(self, values: list[float], at_s: float) -> None:
        """Take ``values``, all read at monotonic time ``at_s``, as ``_add`` of each in turn
        would (between ``_begin`` and ``_publish``)."""
        self._values.extend(values)
        if self.time_s is not None:
            self._times.extend(itertools.repeat(at_s, len(values)))
            self._evict_older_than(at_s - self.time_s)

    def _evict_older_than(self, horizon: float) -> None:
        """A time window drops from the front the readings older than ``horizon`` (the newest
        is never older: ``time_s`` is positive)."""
        times, values = self._times, self._values
        while times[0] < horizon:
            times.popleft()
            values.popleft()

    def _put(self, value: float, reading: Reading) -> None:
        """``reading`` (with ``value`` its value, counted in by the caller) taken, published
        and counted out: one reading's whole change. A failure is counted as ``error``."""
        self._seq |= 1
        try:
            self._add(value, reading.monotonic_s)
            self._reading = reading
        except Exception:
            self.dropped["error"] += 1  # inside the window when it raised
            raise
        finally:
            self._seq += 1
        self.records_out += 1

    def _stats(self, reading: Reading) -> WindowStats:
        """The statistics of the window as it stands, with ``reading`` as the newest (the
        reader thread); kept for ``last``."""
        stats = self._compute(reading, self._values)
        self._cached = (self._seq, stats)
        return stats

    @timed_step
    def process(self, stream: Iterable[Reading]) -> Iterator[WindowStats]:
        n_in = n_out = 0
        begin, add, publish, stats_of = self._begin, self._add, self._publish, self._stats
        raised = False
        try:
            for r in stream:
                n_in += 1
                begin()
                add(r.value, r.monotonic_s)
                publish(r)  # before the yield: the window is whole while the consumer runs
                s = stats_of(r)
                n_out += 1
                yield s
        except Exception:
            raised = True
            raise
        finally:
            self._end()
            self.settle(n_in, n_out, raised)

    def absorb(self, stream: Iterable[Reading], timer: StepTimer | None = None) -> None:
        """Take every reading of ``stream`` like :meth:`process`, without a ``WindowStats``
        per reading: the same state, counters and ``last``. ``Chain.drain`` uses it when the
        window is the chain's last stage, whose output is discarded. With ``timer``, the
        readings it samples are timed from when the window receives them until it has taken
        them, as ``process`` times them."""
        n_in = n_out = 0
        add = self._add
        taken: Reading | None = None
        raised = False
        countdown = every = 0
        observe = None
        if timer is not None:
            countdown, every, observe = timer.countdown, timer.every, timer.observe
        clock = time.perf_counter
        self._begin()
        try:
            for r in stream:
                n_in += 1
                if observe is not None:
                    countdown -= 1
                    if not countdown:
                        countdown = every
                        started = clock()
                        add(r.value, r.monotonic_s)
                        observe(clock() - started)
                        n_out += 1
                        taken = r
                        continue
                add(r.value, r.monotonic_s)
                n_out += 1
                taken = r
        except Exception:
            raised = True
            raise
        finally:
            if timer is not None:
                timer.countdown = countdown
            if taken is not None:
                self._publish(taken)
            else:
                self._end()
            self.settle(n_in, n_out, raised)
