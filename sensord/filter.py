"""The filter stage: keep readings inside inclusive bounds, drop non-finite values."""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Iterator

from sensord.stage import StepCounters, timed_step
from sensord.types import Reading

__all__ = ["ThresholdFilter"]

_BIG = sys.float_info.max


class ThresholdFilter(StepCounters):
    """Pass readings with ``min <= value <= max`` (inclusive; None = unbounded).

    NaN and infinities are always dropped, counted under ``nonfinite``; values outside the
    bounds under ``range``.
    """

    step = "filter"
    drop_reasons = ("range", "nonfinite")

    def __init__(self, min: float | None = None, max: float | None = None) -> None:
        super().__init__()
        lo = -_BIG if min is None else float(min)
        hi = _BIG if max is None else float(max)
        if not (math.isfinite(lo) and math.isfinite(hi)) or not lo <= hi:
            raise ValueError(f"filter bounds must be finite with min <= max, got [{lo}, {hi}]")
        self.min, self.max = lo, hi

    @timed_step
    def process(self, stream: Iterable[Reading]) -> Iterator[Reading]:
        # Bounds are always finite, so "lo <= v <= hi" is False for NaN and +-inf: the
        # common path costs one chained comparison; the reason is worked out only on a drop.
        lo, hi = self.min, self.max
        isfinite = math.isfinite
        n_in = n_out = n_range = n_nonfinite = 0
        raised = False
        try:
            for r in stream:
                n_in += 1
                v = r.value
                if lo <= v <= hi:
                    n_out += 1
                    yield r
                elif isfinite(v):
                    n_range += 1
                else:
                    n_nonfinite += 1
        except Exception:
            raised = True
            raise
        finally:
            if n_out == n_in:  # nothing dropped: the cheaper call without keyword counts
                self.settle(n_in, n_out)
            else:
                self.settle(n_in, n_out, raised, range=n_range, nonfinite=n_nonfinite)
