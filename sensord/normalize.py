"""The normalization stage: one affine transform per channel.

Scale/offset, a unit conversion and min-max scaling are each affine (``a * x + b``), so the
stage composes them once at construction and does one multiply-add per reading.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Iterable, Iterator

from sensord.stage import StepCounters, timed_step
from sensord.types import Reading

__all__ = ["UNITS", "Normalize", "convert", "unit_dimension"]

#: unit -> (dimension, factor, offset) such that ``base = value * factor + offset``.
UNITS: dict[str, tuple[str, float, float]] = {
    # temperature, base kelvin
    "kelvin": ("temperature", 1.0, 0.0),
    "celsius": ("temperature", 1.0, 273.15),
    "fahrenheit": ("temperature", 5.0 / 9.0, 273.15 - 32.0 * 5.0 / 9.0),
    # pressure, base pascal
    "pa": ("pressure", 1.0, 0.0),
    "hpa": ("pressure", 100.0, 0.0),
    "mbar": ("pressure", 100.0, 0.0),
    "kpa": ("pressure", 1000.0, 0.0),
    "bar": ("pressure", 100_000.0, 0.0),
    "psi": ("pressure", 6894.757293168361, 0.0),
    "inhg": ("pressure", 3386.388640341, 0.0),
    "mmhg": ("pressure", 133.322387415, 0.0),
    # speed, base metre per second
    "m/s": ("speed", 1.0, 0.0),
    "km/h": ("speed", 1.0 / 3.6, 0.0),
    "knot": ("speed", 1852.0 / 3600.0, 0.0),
    "mph": ("speed", 0.44704, 0.0),
    # length, base metre
    "m": ("length", 1.0, 0.0),
    "cm": ("length", 0.01, 0.0),
    "mm": ("length", 0.001, 0.0),
    "km": ("length", 1000.0, 0.0),
    "ft": ("length", 0.3048, 0.0),
    "in": ("length", 0.0254, 0.0),
    "nmi": ("length", 1852.0, 0.0),
    # ratio, base fraction
    "fraction": ("ratio", 1.0, 0.0),
    "percent": ("ratio", 0.01, 0.0),
    # electric potential, base volt
    "v": ("voltage", 1.0, 0.0),
    "mv": ("voltage", 0.001, 0.0),
}


def unit_dimension(unit: str) -> str:
    return UNITS[unit][0]


def conversion(from_unit: str, to_unit: str) -> tuple[float, float]:
    """``(a, b)`` with ``to = a * from + b``. Raises ValueError across dimensions."""
    dim_a, fa, oa = UNITS[from_unit]
    dim_b, fb, ob = UNITS[to_unit]
    if dim_a != dim_b:
        raise ValueError(f"cannot convert {dim_a} ({from_unit}) to {dim_b} ({to_unit})")
    return fa / fb, (oa - ob) / fb


def convert(value: float, from_unit: str, to_unit: str) -> float:
    a, b = conversion(from_unit, to_unit)
    return value * a + b


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
        if scale == 0:
            raise ValueError("scale must not be 0")
        a, b = scale, offset
        if from_unit is not None or to_unit is not None:
            if from_unit is None or to_unit is None:
                raise ValueError("from_unit and to_unit go together")
            ca, cb = conversion(from_unit, to_unit)
            a, b = a * ca, b * ca + cb
        if range_min is not None or range_max is not None:
            if range_min is None or range_max is None or not range_min < range_max:
                raise ValueError("range_min < range_max are both needed")
            width = range_max - range_min
            a, b = a / width, (b - range_min) / width
        elif clamp:
            raise ValueError("clamp needs range_min and range_max")
        if not (math.isfinite(a) and math.isfinite(b)) or a == 0:
            raise ValueError(
                "scale, offset, unit conversion and range together give a transform outside "
                f"the float range (value * {a!r} + {b!r})"
            )
        self.a, self.b, self.clamp = a, b, clamp
        bound = sys.float_info.max if input_bound is None else abs(input_bound)
        # clamped results are always finite (b is finite); otherwise check only if needed
        self.may_overflow = not clamp and not math.isfinite(abs(a) * bound + abs(b))

    def apply(self, value: float) -> float:
        """The transform of one value (for checks and tests; the stage inlines it)."""
        y = value * self.a + self.b
        if self.clamp:
            y = 0.0 if y < 0.0 else 1.0 if y > 1.0 else y
        return y

    @timed_step
    def process(self, stream: Iterable[Reading]) -> Iterator[Reading]:
        a, b = self.a, self.b
        n_in = n_out = n_nonfinite = 0
        raised = False
        try:
            if self.may_overflow:
                for r in stream:
                    n_in += 1
                    y = r.value * a + b
                    if y - y != 0.0:  # inf - inf is NaN: the result left the float range
                        n_nonfinite += 1
                        continue
                    n_out += 1
                    yield Reading(r.sensor, r.channel, y, r.monotonic_s, r.wall_s)
            elif self.clamp:
                for r in stream:
                    n_in += 1
                    y = r.value * a + b
                    y = 0.0 if y < 0.0 else 1.0 if y > 1.0 else y
                    n_out += 1
                    yield Reading(r.sensor, r.channel, y, r.monotonic_s, r.wall_s)
            else:
                for r in stream:
                    n_in += 1
                    y = r.value * a + b
                    n_out += 1
                    yield Reading(r.sensor, r.channel, y, r.monotonic_s, r.wall_s)
        except Exception:
            raised = True
            raise
        finally:
            self.settle(n_in, n_out, raised, nonfinite=n_nonfinite)
