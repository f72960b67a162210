"""The normalization stage: one affine transform per channel.

Scale/offset, a unit conversion and min-max scaling are each affine (``a * x + b``), so the
stage composes them once at construction and does one multiply-add per reading. A factor that
is the inverse of a whole number (a scale of 0.1, 0.001, a range 4000 wide) divides by that
number instead, and its offset is added before that division, ``(x * 1.0 + b * d) / d``
(``b * d`` as the decimals of ``b`` give it):
``2301 / 10`` is 230.1 where ``2301 * 0.1`` is 230.10000000000002, and ``(1253 - 1000) / 10``
is 25.3 where ``1253 / 10 - 100`` is 25.299999999999997, so a register of tenths, with or
without an offset, reads as its device shows it.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Iterator

from sensord.stage import StepCounters, timed_step
from sensord.types import Reading
from sensord.units import affine, decimal_product, whole_divisor

__all__ = ["Normalize"]


class Normalize(StepCounters):
    """``value -> clamp(minmax(convert(scale * value + offset)))``, composed into ``a*x + b``.

    With ``range_min``/``range_max`` the converted value is mapped linearly so that
    ``range_min -> 0`` and ``range_max -> 1``; with ``clamp`` the result is limited to [0, 1].

    A result beyond the float range (``1e308 * 10``) is dropped with reason ``nonfinite``.
    ``input_bound`` is the largest magnitude the stage can receive (the filter's bounds): when
    no input within it can overflow, which is the case for every realistic configuration, the
    stage skips that check.
    """

    step = "normalize"
    drop_reasons = ("nonfinite",)

    def __init__(
        self,
        scale: float = 1.0,
        *,
        offset: float = 0.0,
        from_unit: str | None = None,
        to_unit: str | None = None,
        range_min: float | None = None,
        range_max: float | None = None,
        clamp: bool = False,
        input_bound: float | None = None,
    ) -> None:
        super().__init__()
        if clamp and (range_min is None or range_max is None):
            raise ValueError("clamp needs range_min and range_max")
        a, b = affine(
            scale,
            offset=offset,
            from_unit=from_unit,
            to_unit=to_unit,
            range_min=range_min,
            range_max=range_max,
        )
        #: ``a`` as a multiplier and a divisor (see :func:`~sensord.units.whole_divisor`)
        self.a, self.d = whole_divisor(a)
        self.b, self.clamp = b, clamp
        #: the offset times the divisor, added before the division
        self.bd = decimal_product(b, self.d)
        bound = sys.float_info.max if input_bound is None else abs(input_bound)
        # clamped results are always finite (b is finite); otherwise check only if needed
        self.may_overflow = not clamp and not math.isfinite(abs(self.a) * bound + abs(self.bd))

    @timed_step
    def process(self, stream: Iterable[Reading]) -> Iterator[Reading]:
        a, d, bd = self.a, self.d, self.bd
        n_in = n_out = n_nonfinite = 0
        raised = False
        try:
            if self.may_overflow:
                for r in stream:
                    n_in += 1
                    y = (r.value * a + bd) / d
                    if y - y != 0.0:  # inf - inf is NaN: the result left the float range
                        n_nonfinite += 1
                        continue
                    n_out += 1
                    yield Reading(r.sensor, r.channel, y, r.monotonic_s, r.wall_s)
            elif self.clamp:
                for r in stream:
                    n_in += 1
                    y = (r.value * a + bd) / d
                    y = 0.0 if y < 0.0 else 1.0 if y > 1.0 else y
                    n_out += 1
                    yield Reading(r.sensor, r.channel, y, r.monotonic_s, r.wall_s)
            else:
                for r in stream:
                    n_in += 1
                    y = (r.value * a + bd) / d
                    n_out += 1
                    yield Reading(r.sensor, r.channel, y, r.monotonic_s, r.wall_s)
        except Exception:
            raised = True
            raise
        finally:
            self.settle(n_in, n_out, raised, nonfinite=n_nonfinite)
