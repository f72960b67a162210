"""Units of measure that ``normalize`` converts between, by dimension (a leaf module)."""

from __future__ import annotations

import math

__all__ = ["UNITS", "UNIT_WORDS", "affine", "conversion", "unit_dimension"]

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


#: The symbols and other names a config gives these units (lower case; ``C``, ``°F``,
#: ``degC``, ``%``), each to the unit's name here: what a refused unit was meant as.
UNIT_WORDS: dict[str, str] = {
    **dict.fromkeys(("k", "degk"), "kelvin"),
    **dict.fromkeys(("c", "°c", "degc", "deg_c", "degrees_celsius", "centigrade"), "celsius"),
    **dict.fromkeys(("f", "°f", "degf", "deg_f", "degrees_fahrenheit"), "fahrenheit"),
    **dict.fromkeys(("pascal", "pascals"), "pa"),
    **dict.fromkeys(("hectopascal", "hectopascals"), "hpa"),
    **dict.fromkeys(("millibar", "mb"), "mbar"),
    **dict.fromkeys(("kilopascal", "kilopascals"), "kpa"),
    **dict.fromkeys(("mps", "m_s", "meters_per_second", "metres_per_second"), "m/s"),
    **dict.fromkeys(("kmh", "kph", "km_h", "kilometers_per_hour"), "km/h"),
    **dict.fromkeys(("kn", "kt", "kts", "knots"), "knot"),
    **dict.fromkeys(("meter", "meters", "metre", "metres"), "m"),
    **dict.fromkeys(("centimeter", "centimeters", "centimetre", "centimetres"), "cm"),
    **dict.fromkeys(("millimeter", "millimeters", "millimetre", "millimetres"), "mm"),
    **dict.fromkeys(("kilometer", "kilometers", "kilometre", "kilometres"), "km"),
    **dict.fromkeys(("foot", "feet"), "ft"),
    **dict.fromkeys(("inch", "inches"), "in"),
    **dict.fromkeys(("%", "pct", "percentage"), "percent"),
    **dict.fromkeys(("ratio", "fractional"), "fraction"),
    **dict.fromkeys(("volt", "volts"), "v"),
    **dict.fromkeys(("millivolt", "millivolts"), "mv"),
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


def affine(
    scale: float = 1.0,
    *,
    offset: float = 0.0,
    from_unit: str | None = None,
    to_unit: str | None = None,
    range_min: float | None = None,
    range_max: float | None = None,
) -> tuple[float, float]:
    """``(a, b)`` with ``a * x + b`` = min-max scaling of the unit conversion of
    ``scale * x + offset``. Raises ValueError with the reason when the settings make none."""
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
    if not (math.isfinite(a) and math.isfinite(b)) or a == 0:
        raise ValueError(
            "scale, offset, unit conversion and range together give a transform outside "
            f"the float range (value * {a!r} + {b!r})"
        )
    return a, b


def whole_divisor(a: float) -> tuple[float, float]:
    """``a`` as ``(multiplier, divisor)``: ``(1.0, n)`` when ``a`` is ``1 / n`` for a whole
    number ``n`` (a division by ``n`` is rounded once, exactly as the decimal reads: ``2301 /
    10`` is 230.1 where ``2301 * 0.1`` is 230.10000000000002), else ``(a, 1.0)``."""
    if 0.0 < abs(a) < 1.0:
        inverse = 1.0 / a
        if math.isfinite(inverse) and inverse.is_integer() and 1.0 / inverse == a:
            return 1.0, inverse
    return a, 1.0


def decimal_product(b: float, d: float) -> float:
    """``b * d`` for a divisor ``d`` that is a whole number: the float nearest the product of
    ``b`` as its shortest decimal (``273.15 * 100`` is 27315, where the floats' product is
    27314.999999999996), so that an offset of as many decimals as the scale is added
    exactly: ``(x + b * d) / d``."""
    if d == 1.0 or not math.isfinite(b):
        return b * d
    # imported by the first stage with an offset and a decimal scale: fractions brings the
    # decimal module, which a daemon without such a stage does not hold
    from fractions import Fraction  # noqa: PLC0415

    try:
        return float(Fraction(repr(b)) * int(d))
    except OverflowError:  # beyond the float range: a stage drops what it gives
        return b * d
