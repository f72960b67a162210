"""The window stage: statistics over a sliding window, O(1) amortized per reading.

The window holds the last ``size`` readings and, with ``time_s``, only those at most
``time_s`` seconds older than the newest one. Every reading is emitted as ``WindowStats``
(count, mean, min, max, population standard deviation over the window including it).

How it stays O(1):

* mean and variance: Welford's update on insertion and its inverse on eviction;
* min and max: monotonic deques (each value enters and leaves each deque once);
* accuracy: sliding updates accumulate rounding error, and evicting a value far larger than
  the rest cancels digits. The window therefore recomputes mean and variance exactly from its
  values (``math.fsum``, two passes) every ``4 * size`` insertions and whenever the variance or
  the magnitude of the values drops by more than ``1e4`` below its peak since the last
  recomputation (or the running sums became NaN, see below). Each such drop needs the large
  values to leave the window and spans four decades, so the recomputation costs O(1) amortized
  per reading; only a stream that keeps decaying through many decades pays it every few
  readings, and the float range ends that after a few hundred recomputations.

Mean and stddev are accurate relative to the largest magnitude in the window (the tests hold
them to 1e-9 of it against an exact recomputation), as long as squared deviations stay finite
(magnitudes below about ``1e150``). Beyond that the stage still never raises: min and max stay
exact, the mean stays accurate, and ``stddev`` reads ``inf`` while values of that magnitude
are in the window. Values beyond half the float range (about ``9e307``) can overflow the
running mean itself; each such reading then costs a recomputation.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable, Iterator

from sensord.stage import StepCounters, timed_step
from sensord.types import Reading, WindowStats

__all__ = ["MAX_WINDOW_SIZE", "Window"]

MAX_WINDOW_SIZE = 10_000
_CANCELLATION = 1e-4
_OVERFLOW_SCALE = 1e150  # beyond this magnitude squared deviations may overflow


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
        self.reset()

    def reset(self) -> None:
        """Forget every reading (the counters of the step are kept)."""
        self._values: deque[float] = deque()
        self._times: deque[float] = deque()
        # Candidates for the maximum and the minimum, oldest first: a value leaves max_q when a
        # larger one arrives (min_q: a smaller one), so the front is the extreme of the window.
        # Entries are the very float objects in _values, so an evicted value is recognised at
        # the front by identity (which also holds for NaN).
        self._max_q: deque[float] = deque()  # non-increasing
        self._min_q: deque[float] = deque()  # non-decreasing
        self._mean = 0.0
        self._m2 = 0.0
        self._m2_peak = 0.0
        self._scale_peak = 0.0
        self._until_recompute = 4 * self.size
        self.last: WindowStats | None = None

    def __len__(self) -> int:
        return len(self._values)

    # -- the per-reading work ------------------------------------------------------------------
    def _evict_oldest(self) -> None:
        x = self._values.popleft()
        if self._times:
            self._times.popleft()
        if self._max_q[0] is x:
            self._max_q.popleft()
        if self._min_q[0] is x:
            self._min_q.popleft()
        n = len(self._values)
        if n == 0:
            self._mean = self._m2 = 0.0
            return
        d = x - self._mean
        self._mean -= d / n
        self._m2 -= d * (x - self._mean)

    def _add(self, value: float, at_s: float) -> None:
        """Take one value into the window: evictions, the min/max queues, Welford's update
        and, when due, the exact recomputation."""
        # The running state is kept in locals while it changes: attribute traffic is most of
        # the cost of this method.
        values = self._values
        max_q = self._max_q
        min_q = self._min_q
        if self.time_s is not None:
            if len(values) >= self.size:
                self._evict_oldest()
            horizon = at_s - self.time_s
            times = self._times
            while times and times[0] < horizon:
                self._evict_oldest()
            times.append(at_s)
            mean = self._mean
            m2 = self._m2
        else:  # a count window: _evict_oldest inlined
            mean = self._mean
            m2 = self._m2
            n = len(values)
            if n >= self.size:
                x = values.popleft()
                if max_q[0] is x:
                    max_q.popleft()
                if min_q[0] is x:
                    min_q.popleft()
                n -= 1
                if n:
                    d = x - mean
                    mean -= d / n
                    m2 -= d * (x - mean)
                else:
                    mean = m2 = 0.0
        values.append(value)
        while max_q and max_q[-1] < value:
            max_q.pop()
        max_q.append(value)
        while min_q and min_q[-1] > value:
            min_q.pop()
        min_q.append(value)

        # Welford's update
        n = len(values)
        d = value - mean
        mean += d / n
        m2 += d * (value - mean)
        self._mean = mean
        self._m2 = m2

        lo = min_q[0]
        hi = max_q[0]
        scale = hi if hi > -lo else -lo
        until = self._until_recompute - 1
        self._until_recompute = until
        if scale > self._scale_peak:
            self._scale_peak = scale
        if m2 > self._m2_peak:
            self._m2_peak = m2
        if (
            until <= 0
            or not m2 >= _CANCELLATION * self._m2_peak  # also NaN after an overflow
            or scale < _CANCELLATION * self._scale_peak
        ):
            if math.isnan(m2) and math.isfinite(mean) and scale > _OVERFLOW_SCALE and until > 0:
                # inf - inf: a squared deviation beyond the float range left the window while
                # values of that magnitude remain. stddev reads inf until the magnitude falls
                # 1e4-fold or the periodic recomputation runs; recomputing on every such
                # eviction would cost O(size) per reading.
                self._m2 = self._m2_peak = math.inf
            else:
                self._recompute(scale)

    def _publish(self, reading: Reading) -> WindowStats:
        """The statistics of the window as it stands, with ``reading`` (the newest) as theirs;
        they become ``last`` in one assignment, so readers on other threads see one whole
        snapshot."""
        lo = self._min_q[0]
        hi = self._max_q[0]
        n = len(self._values)
        if lo == hi:  # every value equal: exact answers, no rounding residue
            mean, stddev = lo, 0.0
        else:
            m2 = self._m2
            mean = self._mean
            stddev = math.sqrt(m2 / n) if m2 > 0.0 else 0.0
        stats = WindowStats(reading, n, mean, lo, hi, stddev)
        self.last = stats
        return stats

    def _recompute(self, scale: float) -> None:
        values = self._values
        n = len(values)
        try:
            mean = math.fsum(values) / n
        except (OverflowError, ValueError):  # ValueError: +inf and -inf among the values
            mean = math.inf
        if not math.isfinite(mean):  # the sum overflowed: sum the values scaled by 2**-k <= 1/n
            k = n.bit_length()
            mean = math.ldexp(math.fsum([math.ldexp(x, -k) for x in values]) / n, k)
        self._mean = mean
        try:
            self._m2 = math.fsum([(x - mean) * (x - mean) for x in values])
        except OverflowError:
            self._m2 = math.inf
        self._m2_peak = self._m2
        self._scale_peak = scale
        self._until_recompute = 4 * self.size

    @timed_step
    def process(self, stream: Iterable[Reading]) -> Iterator[WindowStats]:
        n_in = n_out = 0
        add = self._add
        publish = self._publish
        raised = False
        try:
            for r in stream:
                n_in += 1
                add(r.value, r.monotonic_s)
                s = publish(r)
                n_out += 1
                yield s
        except Exception:
            raised = True
            raise
        finally:
            self.settle(n_in, n_out, raised)

    def absorb(self, stream: Iterable[Reading]) -> None:
        """Take every reading of ``stream`` like :meth:`process` and publish the statistics of
        the last one only: the same state, counters and ``last`` as running ``process`` to its
        end, without a ``WindowStats`` per reading. ``Chain.drain`` uses it when the window's
        output is discarded and no record of the batch is timed."""
        n_in = n_out = 0
        add = self._add
        taken: Reading | None = None
        raised = False
        try:
            for r in stream:
                n_in += 1
                add(r.value, r.monotonic_s)
                n_out += 1
                taken = r
        except Exception:
            raised = True
            raise
        finally:
            # after a failure inside add() the window is reset by its owner; otherwise (the
            # stream itself failed, or no failure) every reading taken is in the window
            if taken is not None and n_out == n_in:
                self._publish(taken)
            self.settle(n_in, n_out, raised)
