"""Simulated sensors: the bytes a device would send, at its sampling rate.

A :class:`SimulatedDevice` produces frames in the sensor's configured format (see
:mod:`sensord.parse`), each followed by the configured terminator, so framing and parsing run
exactly as they do for a real device. :class:`SimulatedSource` exposes a device as a timed
:class:`~sensord.sources.base.Source` for the reader.

Each field's value follows a :class:`SignalSpec`::

    center + amplitude * sin(2 pi t / period_s) + drift_per_s * t + gauss(0, noise)

with ``t`` the seconds since the device's ``start_s``. A :class:`SimulationSpec` adds faults,
all drawn from random generators seeded with ``seed``, so the byte stream is a function of the
seed and the frame times alone (not of when or how often ``bytes_due`` is called, within the
catch-up limit below):

* ``spike_rate``: the fraction of frames in which one field carries a spike, a value at least
  20 times the larger of ``amplitude``, ``noise`` and 1 away from the signal's baseline.
* ``garbage_rate``: the fraction of frames replaced by a line of random bytes (never containing a
  terminator byte; always containing the byte 0xFF, which is never valid UTF-8).
* ``dropout_rate``: the probability, checked at each whole second, that the device falls silent
  for ``dropout_s`` seconds. A csv device with a header line sends it again after a dropout, as a
  device does after a restart; it also sends it before its first frame.

Catch-up: frame ``k`` is due at ``start_s + k / sampling_rate_hz``. When ``bytes_due`` is called
after a long pause (the process was stopped, the port closed), frames due more than
:data:`CATCH_UP_S` seconds before ``now_s`` are skipped and counted in ``frames_skipped``; at most
that much backlog is ever produced in one call. Opening a :class:`SimulatedSource` skips every
frame due before the open, as bytes sent to a closed port are lost.

The value format with a ``pattern`` builds its text from the pattern itself: literals are kept,
character classes and repeats get a minimal example, and the capturing group gets the number.
When the group cannot express a number (for example ``(\\d+)`` and a negative value), the plain
number is sent instead, as a device that misbehaves would.
"""

from __future__ import annotations

import json
import math
import random
import re
import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import reduce
from operator import xor
from typing import Any

from sensord.errors import SourceBrokenError
from sensord.parse import FormatSpec, check_spec
from sensord.sources.base import Source

with warnings.catch_warnings():
    # The regex parser is only reachable through these deprecated aliases.
    warnings.simplefilter("ignore", DeprecationWarning)
    import sre_constants
    import sre_parse

__all__ = [
    "CATCH_UP_S",
    "DEFAULT_SIGNAL",
    "Encoder",
    "SignalSpec",
    "SimulatedDevice",
    "SimulatedSource",
    "SimulationSpec",
    "encode_frames",
    "header_frame",
    "make_encoder",
]

#: The most backlog, in seconds of frames, that one ``bytes_due`` call produces.
CATCH_UP_S = 10.0


@dataclass(frozen=True, slots=True)
class SignalSpec:
    """The shape of one simulated field over time (see the module docstring)."""

    center: float
    amplitude: float
    period_s: float
    noise: float
    drift_per_s: float

    def __post_init__(self) -> None:
        for name in ("center", "amplitude", "period_s", "noise", "drift_per_s"):
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"{name} must be finite")
        if self.period_s <= 0.0:
            raise ValueError(f"period_s must be positive, got {self.period_s}")
        if self.noise < 0.0:
            raise ValueError(f"noise must not be negative, got {self.noise}")

    def baseline(self, t_s: float) -> float:
        """The noiseless value at ``t_s`` seconds after the start."""
        phase = 2.0 * math.pi * t_s / self.period_s
        return self.center + self.amplitude * math.sin(phase) + self.drift_per_s * t_s


@dataclass(frozen=True, slots=True)
class SimulationSpec:
    """Seed and fault rates of a simulated device (see the module docstring)."""

    seed: int = 0
    spike_rate: float = 0.0
    garbage_rate: float = 0.0
    dropout_rate: float = 0.0
    dropout_s: float = 5.0

    def __post_init__(self) -> None:
        for name in ("spike_rate", "garbage_rate", "dropout_rate"):
            rate = getattr(self, name)
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be in [0, 1], got {rate}")
        if not (math.isfinite(self.dropout_s) and self.dropout_s > 0.0):
            raise ValueError(f"dropout_s must be positive, got {self.dropout_s}")


#: The signal of a field that has no SignalSpec of its own and no entry in the NMEA defaults.
DEFAULT_SIGNAL = SignalSpec(center=20.0, amplitude=5.0, period_s=60.0, noise=0.1, drift_per_s=0.0)

_NMEA_DEFAULT_SIGNALS = {
    "GGA.fix_quality": SignalSpec(1.0, 0.0, 60.0, 0.0, 0.0),
    "GGA.satellites": SignalSpec(9.0, 2.0, 300.0, 0.0, 0.0),
    "GGA.hdop": SignalSpec(0.9, 0.2, 120.0, 0.02, 0.0),
    "GGA.altitude": SignalSpec(545.4, 2.0, 600.0, 0.3, 0.0),
    "GGA.latitude": SignalSpec(48.1173, 0.001, 600.0, 0.00001, 0.0),
    "GGA.longitude": SignalSpec(11.5167, 0.001, 600.0, 0.00001, 0.0),
    "RMC.latitude": SignalSpec(48.1173, 0.001, 600.0, 0.00001, 0.0),
    "RMC.longitude": SignalSpec(11.5167, 0.001, 600.0, 0.00001, 0.0),
    "RMC.speed": SignalSpec(5.0, 2.0, 120.0, 0.1, 0.0),
    "RMC.course": SignalSpec(84.0, 20.0, 300.0, 0.5, 0.0),
    "MTW.temperature": SignalSpec(14.0, 1.0, 900.0, 0.05, 0.0),
    "MWV.wind_angle": SignalSpec(180.0, 60.0, 120.0, 2.0, 0.0),
    "MWV.wind_speed": SignalSpec(10.0, 4.0, 60.0, 0.5, 0.0),
    "MWV.wind_speed_mps": SignalSpec(5.0, 2.0, 60.0, 0.3, 0.0),
    "DPT.depth": SignalSpec(12.0, 3.0, 300.0, 0.1, 0.0),
    "DBT.depth": SignalSpec(12.0, 3.0, 300.0, 0.1, 0.0),
    "HDT.heading": SignalSpec(90.0, 20.0, 300.0, 0.5, 0.0),
}


# -- encoders ------------------------------------------------------------------------------------

#: Builds the frames (without terminator) for field values at ``t_s`` seconds of the day.
Encoder = Callable[[Mapping[str, float], float], list[bytes]]

#: Decimals of the numbers a simulated device prints.
_DECIMALS = 3


def _text(value: float) -> str:
    return f"{value:.{_DECIMALS}f}"


def _unique_fields(spec: FormatSpec) -> list[str]:
    return list(dict.fromkeys(field for _, field in spec.fields))


def _value_encoder(spec: FormatSpec) -> Encoder:
    field = spec.fields[0][1]
    encoding = spec.encoding
    if spec.pattern is None:

        def encode_value(values: Mapping[str, float], t_s: float) -> list[bytes]:
            value = values.get(field)
            return [] if value is None else [_text(value).encode(encoding)]

        return encode_value

    pattern = re.compile(spec.pattern)
    template = _regex_template(spec.pattern)

    def encode_matched_value(values: Mapping[str, float], t_s: float) -> list[bytes]:
        value = values.get(field)
        if value is None:
            return []
        number = _text(value)
        if template is not None:
            text = template[0] + number + template[1]
            match = pattern.search(text)
            if match is not None and match.group(1) == number:
                return [text.encode(encoding)]
        return [number.encode(encoding)]

    return encode_matched_value


def _kv_encoder(spec: FormatSpec) -> Encoder:
    fields = _unique_fields(spec)
    pair_separator = spec.pair_separator
    kv_separator = spec.kv_separator
    encoding = spec.encoding

    def encode_kv(values: Mapping[str, float], t_s: float) -> list[bytes]:
        pairs = [f"{f}{kv_separator}{_text(values[f])}" for f in fields if f in values]
        return [pair_separator.join(pairs).encode(encoding)]

    return encode_kv


def _csv_encoder(spec: FormatSpec) -> Encoder:
    targets: list[tuple[str, int]] = []
    for field in _unique_fields(spec):
        index = spec.columns.index(field) if field in spec.columns else int(field)
        targets.append((field, index))
    width = len(spec.columns) or max(index for _, index in targets) + 1
    delimiter = spec.delimiter
    encoding = spec.encoding

    def encode_csv(values: Mapping[str, float], t_s: float) -> list[bytes]:
        cells = ["0"] * width
        for field, index in targets:
            value = values.get(field)
            cells[index] = "" if value is None else _text(value)
        return [delimiter.join(cells).encode(encoding)]

    return encode_csv


_JSON_MAX_INDEX = 1000


def _is_index(part: str) -> bool:
    return part.isascii() and part.isdigit()


def _json_set(root: dict[str, Any], parts: list[str], value: float) -> None:
    """Store ``value`` at the dotted path ``parts``, creating objects and lists on the way."""
    node: dict[str, Any] | list[Any] = root
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        child: Any
        if isinstance(node, dict):
            if last:
                if isinstance(node.get(part), dict | list):
                    raise ValueError(f"JSON path {'.'.join(parts)!r} conflicts with another")
                node[part] = value
                return
            child = node.get(part)
            if child is None:
                child = [] if _is_index(parts[i + 1]) else {}
                node[part] = child
        else:
            if not _is_index(part):
                raise ValueError(f"JSON path {'.'.join(parts)!r} conflicts with another")
            if int(part) > _JSON_MAX_INDEX:
                raise ValueError(f"JSON path {'.'.join(parts)!r}: list index above 1000")
            index = int(part)
            node.extend([None] * (index + 1 - len(node)))
            if last:
                if isinstance(node[index], dict | list):
                    raise ValueError(f"JSON path {'.'.join(parts)!r} conflicts with another")
                node[index] = value
                return
            child = node[index]
            if child is None:
                child = [] if _is_index(parts[i + 1]) else {}
                node[index] = child
        if not isinstance(child, dict | list):
            raise ValueError(f"JSON path {'.'.join(parts)!r} conflicts with another")
        node = child


def _json_encoder(spec: FormatSpec) -> Encoder:
    paths = [(field, field.split(".")) for field in _unique_fields(spec)]
    encoding = spec.encoding

    def encode_json(values: Mapping[str, float], t_s: float) -> list[bytes]:
        document: dict[str, Any] = {}
        for field, parts in paths:
            value = values.get(field)
            if value is not None:
                _json_set(document, parts, round(value, _DECIMALS))
        return [json.dumps(document, separators=(",", ":")).encode(encoding)]

    # Conflicting paths (``a`` and ``a.b``) fail here, once, rather than per frame.
    encode_json(dict.fromkeys((field for field, _ in paths), 0.0), 0.0)
    return encode_json


# NMEA ------------------------------------------------------------------------------------------

_TALKERS = {"GGA": "GP", "RMC": "GP", "HDT": "HE", "XDR": "YX"}
_XDR_PER_SENTENCE = 4
_KNOTS_MPS = 1852.0 / 3600.0


def _sentence(body: str) -> bytes:
    checksum = reduce(xor, body.encode("ascii"), 0)
    return f"${body}*{checksum:02X}".encode("ascii")


def _coordinate(value: float, degree_digits: int, positive: str, negative: str) -> tuple[str, str]:
    """``(d)ddmm.mmmmm`` text and hemisphere for decimal degrees."""
    magnitude = abs(value)
    degrees = int(magnitude)
    minutes = round((magnitude - degrees) * 60.0, 5)
    if minutes >= 60.0:
        degrees += 1
        minutes -= 60.0
    return f"{degrees:0{degree_digits}d}{minutes:08.5f}", negative if value < 0 else positive


def _clock(t_s: float) -> str:
    seconds = t_s % 86400.0
    hours, rest = divmod(seconds, 3600.0)
    minutes, seconds = divmod(rest, 60.0)
    return f"{int(hours):02d}{int(minutes):02d}{seconds:05.2f}"


class _NmeaValues:
    """Field values of one sentence type: the requested ones, else a plausible default."""

    __slots__ = ("_sentence", "_values")

    def __init__(self, sentence: str, values: Mapping[str, float]) -> None:
        self._sentence = sentence
        self._values = values

    def number(self, name: str, default: float | None) -> str:
        value = self._values.get(f"{self._sentence}.{name}", default)
        return "" if value is None else _text(value)

    def integer(self, name: str, default: int, digits: int) -> str:
        value = self._values.get(f"{self._sentence}.{name}", default)
        return f"{round(value):0{digits}d}"

    def coordinate(self, name: str, default: float) -> tuple[str, str]:
        value = self._values.get(f"{self._sentence}.{name}", default)
        if name == "latitude":
            return _coordinate(value, 2, "N", "S")
        return _coordinate(value, 3, "E", "W")


def _gga(v: _NmeaValues, t_s: float) -> list[str]:
    lat, ns = v.coordinate("latitude", 48.1173)
    lon, ew = v.coordinate("longitude", 11.5167)
    fix = v.integer("fix_quality", 1, 1)
    sats = v.integer("satellites", 8, 2)
    hdop = v.number("hdop", 0.9)
    alt = v.number("altitude", 545.4)
    return [f"GGA,{_clock(t_s)},{lat},{ns},{lon},{ew},{fix},{sats},{hdop},{alt},M,46.9,M,,"]


def _rmc(v: _NmeaValues, t_s: float) -> list[str]:
    lat, ns = v.coordinate("latitude", 48.1173)
    lon, ew = v.coordinate("longitude", 11.5167)
    speed = v.number("speed", 0.0)
    course = v.number("course", 0.0)
    return [f"RMC,{_clock(t_s)},A,{lat},{ns},{lon},{ew},{speed},{course},010125,,,A"]


def _mtw(v: _NmeaValues, t_s: float) -> list[str]:
    return [f"MTW,{v.number('temperature', 14.0)},C"]


def _dpt(v: _NmeaValues, t_s: float) -> list[str]:
    return [f"DPT,{v.number('depth', 12.0)},0.000"]


def _hdt(v: _NmeaValues, t_s: float) -> list[str]:
    return [f"HDT,{v.number('heading', 90.0)},T"]


def _make_mwv(fields: list[str]) -> Callable[[Mapping[str, float], float], list[str]]:
    # Metres per second when only the converted speed is asked for, so it needs no conversion.
    in_mps = "MWV.wind_speed_mps" in fields and "MWV.wind_speed" not in fields

    def mwv(values: Mapping[str, float], t_s: float) -> list[str]:
        angle = _text(values.get("MWV.wind_angle", 180.0))
        if in_mps:
            speed = values.get("MWV.wind_speed_mps", 5.0)
            return [f"MWV,{angle},R,{_text(speed)},M,A"]
        speed = values.get("MWV.wind_speed", values.get("MWV.wind_speed_mps", 5.0) / _KNOTS_MPS)
        return [f"MWV,{angle},R,{_text(speed)},N,A"]

    return mwv


def _dbt(values: Mapping[str, float], t_s: float) -> list[str]:
    metres = values.get("DBT.depth", 12.0)
    return [f"DBT,{_text(metres / 0.3048)},f,{_text(metres)},M,{_text(metres / 1.8288)},F"]


def _make_xdr(fields: list[str]) -> Callable[[Mapping[str, float], float], list[str]]:
    names = [field[4:] for field in fields if field.startswith("XDR.")]

    def xdr(values: Mapping[str, float], t_s: float) -> list[str]:
        quads = [
            f"G,{_text(values[f'XDR.{name}'])},,{name}" for name in names if f"XDR.{name}" in values
        ]
        return [
            "XDR," + ",".join(quads[i : i + _XDR_PER_SENTENCE])
            for i in range(0, len(quads), _XDR_PER_SENTENCE)
        ]

    return xdr


_NMEA_SIMPLE: dict[str, Callable[[_NmeaValues, float], list[str]]] = {
    "GGA": _gga,
    "RMC": _rmc,
    "MTW": _mtw,
    "DPT": _dpt,
    "HDT": _hdt,
}


def _simple_builder(sentence: str) -> Callable[[Mapping[str, float], float], list[str]]:
    simple = _NMEA_SIMPLE[sentence]

    def build(values: Mapping[str, float], t_s: float) -> list[str]:
        return simple(_NmeaValues(sentence, values), t_s)

    return build


def _nmea_encoder(spec: FormatSpec) -> Encoder:
    fields = _unique_fields(spec)
    sentence_types = list(dict.fromkeys(field.split(".", 1)[0] for field in fields))
    builders: list[tuple[str, Callable[[Mapping[str, float], float], list[str]]]] = []
    for sentence in sentence_types:
        talker = _TALKERS.get(sentence, "II")
        if sentence in _NMEA_SIMPLE:
            builders.append((talker, _simple_builder(sentence)))
        elif sentence == "MWV":
            builders.append((talker, _make_mwv(fields)))
        elif sentence == "DBT":
            builders.append((talker, _dbt))
        else:
            builders.append((talker, _make_xdr(fields)))

    def encode_nmea(values: Mapping[str, float], t_s: float) -> list[bytes]:
        return [
            _sentence(talker + body) for talker, build in builders for body in build(values, t_s)
        ]

    return encode_nmea


_ENCODERS: dict[str, Callable[[FormatSpec], Encoder]] = {
    "value": _value_encoder,
    "kv": _kv_encoder,
    "csv": _csv_encoder,
    "json": _json_encoder,
    "nmea": _nmea_encoder,
}


def make_encoder(spec: FormatSpec) -> Encoder:
    """An encoder for ``spec``: field values in, the device's frames (no terminators) out.

    Raises ValueError when the spec has problems (see :func:`sensord.parse.check_spec`) or its
    JSON paths conflict.
    """
    problems = check_spec(spec)
    if problems:
        raise ValueError("; ".join(f"{key}: {message}" for key, message in problems))
    return _ENCODERS[spec.format](spec)


def encode_frames(
    spec: FormatSpec, values: Mapping[str, float], time_of_day_s: float = 0.0
) -> list[bytes]:
    """The frames (without terminators) a device in format ``spec`` sends for ``values``.

    ``values`` maps a field (as named in ``spec.fields``) to its value; values must be finite,
    and fields without a value are left out of the frame. Most formats give one frame (none for
    a value format without its value); NMEA gives one sentence per sentence type the fields
    need (and one XDR sentence per four transducers). ``time_of_day_s`` fills NMEA time fields.
    """
    for field, value in values.items():
        if not math.isfinite(value):
            raise ValueError(f"value of {field!r} is not finite: {value}")
    return make_encoder(spec)(values, time_of_day_s)


def header_frame(spec: FormatSpec) -> bytes | None:
    """The header line of a csv device with ``header = true``; None for every other spec."""
    if spec.format != "csv" or not spec.header:
        return None
    return spec.delimiter.join(spec.columns).encode(spec.encoding)


# -- example text for a regex --------------------------------------------------------------------

_MARK = "\x00"
_MAX_EXAMPLE_CHARS = 1000
_CATEGORY_EXAMPLES = {
    sre_constants.CATEGORY_DIGIT: "0",
    sre_constants.CATEGORY_NOT_DIGIT: "x",
    sre_constants.CATEGORY_SPACE: " ",
    sre_constants.CATEGORY_NOT_SPACE: "x",
    sre_constants.CATEGORY_WORD: "x",
    sre_constants.CATEGORY_NOT_WORD: " ",
}
_CATEGORY_REGEX = {
    sre_constants.CATEGORY_DIGIT: re.compile(r"\d"),
    sre_constants.CATEGORY_NOT_DIGIT: re.compile(r"\D"),
    sre_constants.CATEGORY_SPACE: re.compile(r"\s"),
    sre_constants.CATEGORY_NOT_SPACE: re.compile(r"\S"),
    sre_constants.CATEGORY_WORD: re.compile(r"\w"),
    sre_constants.CATEGORY_NOT_WORD: re.compile(r"\W"),
}
_REPEATS = {
    sre_constants.MAX_REPEAT,
    sre_constants.MIN_REPEAT,
    getattr(sre_constants, "POSSESSIVE_REPEAT", sre_constants.MAX_REPEAT),
}


def _in_set(char: str, items: Any) -> bool:
    for op, av in items:
        if op is sre_constants.LITERAL and chr(av) == char:
            return True
        if op is sre_constants.RANGE and av[0] <= ord(char) <= av[1]:
            return True
        if op is sre_constants.CATEGORY and _CATEGORY_REGEX[av].fullmatch(char):
            return True
    return False


def _set_example(items: Any) -> str:
    if items and items[0][0] is sre_constants.NEGATE:
        for char in "x_0 #~":
            if not _in_set(char, items[1:]):
                return char
        raise ValueError("no example for a negated set")
    op, av = items[0]
    if op is sre_constants.LITERAL:
        return chr(av)
    if op is sre_constants.RANGE:
        return chr(av[0])
    return _CATEGORY_EXAMPLES[av]


def _example(items: Any) -> str:
    """A short text matching the parsed regex ``items``; group 1 becomes ``_MARK``."""
    out: list[str] = []
    for op, av in items:
        if op is sre_constants.LITERAL:
            out.append(chr(av))
        elif op is sre_constants.NOT_LITERAL:
            out.append("y" if chr(av) == "x" else "x")
        elif op is sre_constants.ANY:
            out.append("x")
        elif op is sre_constants.IN:
            out.append(_set_example(av))
        elif op in _REPEATS:
            low, _, sub = av
            text = _example(sub)
            count = max(low, 1) if _MARK in text else low
            if len(text) * count > _MAX_EXAMPLE_CHARS:
                raise ValueError("regex example too long")
            out.append(text * count)
        elif op is sre_constants.SUBPATTERN:
            group, _, _, sub = av
            out.append(_MARK if group == 1 else _example(sub))
        elif op is sre_constants.BRANCH:
            branches = [_example(branch) for branch in av[1]]
            out.append(next((b for b in branches if _MARK in b), branches[0]))
        elif op is getattr(sre_constants, "ATOMIC_GROUP", None):
            out.append(_example(av))
        elif op not in (sre_constants.AT, sre_constants.ASSERT, sre_constants.ASSERT_NOT):
            raise ValueError(f"no example for regex operator {op}")
    return "".join(out)


def _regex_template(pattern: str) -> tuple[str, str] | None:
    """Text before and after the number for a value ``pattern``; None when none was found."""
    try:
        text = _example(sre_parse.parse(pattern))
    except (ValueError, KeyError, IndexError, re.error):
        return None
    if text.count(_MARK) != 1:
        return None
    before, _, after = text.partition(_MARK)
    return before, after


# -- the device ----------------------------------------------------------------------------------


class SimulatedDevice:
    """A device that sends frames in ``spec``'s format at ``sampling_rate_hz``.

    ``signals`` maps a channel name (or a field) to its signal; fields without one use the NMEA
    defaults or :data:`DEFAULT_SIGNAL`. ``start_s`` is on the same clock as the ``now_s`` given
    to :meth:`bytes_due` (the reader uses ``time.monotonic``).

    Counters: ``frames_written`` (data frames; header lines not included), ``garbage_written``,
    ``spikes_written``, ``headers_written``, ``frames_skipped`` (catch-up limit and
    :meth:`skip_until`), ``dropouts`` and ``frames_dropped`` (silent during a dropout).
    """

    def __init__(  # noqa: PLR0917 (the positional order is the documented API)
        self,
        spec: FormatSpec,
        signals: Mapping[str, SignalSpec],
        sampling_rate_hz: float,
        terminator: bytes,
        simulation: SimulationSpec,
        start_s: float,
    ) -> None:
        if not (math.isfinite(sampling_rate_hz) and sampling_rate_hz > 0.0):
            raise ValueError(f"sampling_rate_hz must be positive, got {sampling_rate_hz}")
        if not terminator:
            raise ValueError("terminator must not be empty")
        known = {name for pair in spec.fields for name in pair}
        unknown = sorted(set(signals) - known)
        if unknown:
            raise ValueError(f"signals for unknown channels: {', '.join(unknown)}")
        self.spec = spec
        self.sampling_rate_hz = sampling_rate_hz
        self.terminator = terminator
        self.simulation = simulation
        self.start_s = start_s
        self._encode = make_encoder(spec)
        self._header = header_frame(spec)
        self._header_due = self._header is not None
        signal_of: dict[str, SignalSpec] = {}
        for channel, field in spec.fields:
            if field not in signal_of:
                signal_of[field] = signals.get(
                    channel, signals.get(field, _NMEA_DEFAULT_SIGNALS.get(field, DEFAULT_SIGNAL))
                )
        self._signals = tuple(signal_of.items())
        self._rng = random.Random(simulation.seed)
        self._dropout_rng = random.Random(f"dropout:{simulation.seed}")
        alphabet = bytes(b for b in range(1, 256) if b not in terminator)
        self._garbage_alphabet = alphabet
        self._garbage_marker = next((b for b in (0xFF, 0xFE, 0xC0) if b not in terminator), None)
        self._next_index = 0
        self._next_dropout_check_s = 0
        self._dropout_until_s = -math.inf
        self.frames_written = 0
        self.garbage_written = 0
        self.spikes_written = 0
        self.headers_written = 0
        self.frames_skipped = 0
        self.frames_dropped = 0
        self.dropouts = 0

    def _due_s(self, index: int) -> float:
        return self.start_s + index / self.sampling_rate_hz

    def _first_index_at(self, when_s: float) -> int:
        """The first frame index due at or after ``when_s``."""
        index = max(0, math.ceil((when_s - self.start_s) * self.sampling_rate_hz))
        while index > 0 and self._due_s(index - 1) >= when_s:
            index -= 1
        while self._due_s(index) < when_s:
            index += 1
        return index

    def next_due_s(self) -> float:
        """When the next frame is due (after the current dropout, if one is under way)."""
        index = self._next_index
        if index / self.sampling_rate_hz < self._dropout_until_s:
            index = self._first_index_at(self.start_s + self._dropout_until_s)
        return self._due_s(index)

    def skip_until(self, now_s: float) -> None:
        """Drop every frame due before ``now_s`` unsent (the port was closed meanwhile)."""
        first = self._first_index_at(now_s)
        if first > self._next_index:
            self.frames_skipped += first - self._next_index
            self._next_index = first
            t_s = first / self.sampling_rate_hz
            self._next_dropout_check_s = max(self._next_dropout_check_s, math.ceil(t_s))

    def bytes_due(self, now_s: float) -> bytes:
        """The bytes of every frame due since the last call, each followed by the terminator."""
        if self._due_s(self._next_index) > now_s:
            return b""
        self.skip_until(now_s - CATCH_UP_S)
        last = self._first_index_at(now_s)
        if self._due_s(last) > now_s:
            last -= 1
        rate = self.sampling_rate_hz
        check_dropouts = self.simulation.dropout_rate > 0.0
        out = bytearray()
        for index in range(self._next_index, last + 1):
            t_s = index / rate
            if check_dropouts:
                self._roll_dropouts(t_s)
            if t_s < self._dropout_until_s:
                self.frames_dropped += 1
                continue
            self._emit(t_s, out)
        self._next_index = last + 1
        return bytes(out)

    def _roll_dropouts(self, t_s: float) -> None:
        simulation = self.simulation
        while self._next_dropout_check_s <= t_s:
            second = self._next_dropout_check_s
            self._next_dropout_check_s += 1
            if second < self._dropout_until_s:
                continue
            if self._dropout_rng.random() < simulation.dropout_rate:
                self._dropout_until_s = second + simulation.dropout_s
                self.dropouts += 1
                self._header_due = self._header is not None

    def _emit(self, t_s: float, out: bytearray) -> None:
        terminator = self.terminator
        if self._header_due and self._header is not None:
            out += self._header + terminator
            self._header_due = False
            self.headers_written += 1
        rng = self._rng
        simulation = self.simulation
        if simulation.garbage_rate and rng.random() < simulation.garbage_rate:
            out += self._garbage() + terminator
            self.garbage_written += 1
            return
        values: dict[str, float] = {}
        for field, signal in self._signals:
            value = signal.baseline(t_s)
            if signal.noise:
                value += rng.gauss(0.0, signal.noise)
            values[field] = value
        if simulation.spike_rate and rng.random() < simulation.spike_rate:
            field, signal = self._signals[rng.randrange(len(self._signals))]
            scale = 10.0 * max(abs(signal.amplitude), signal.noise, 1.0)
            offset = scale * rng.uniform(2.0, 4.0)
            values[field] = signal.baseline(t_s) + (offset if rng.random() < 0.5 else -offset)
            self.spikes_written += 1
        frames = self._encode(values, t_s)
        for frame in frames:
            out += frame
            out += terminator
        self.frames_written += len(frames)

    def _garbage(self) -> bytes:
        rng = self._rng
        garbage = bytearray(rng.choices(self._garbage_alphabet, k=rng.randint(4, 40)))
        if self._garbage_marker is not None:
            garbage[rng.randrange(len(garbage))] = self._garbage_marker
        return bytes(garbage)


# -- the source ----------------------------------------------------------------------------------


class SimulatedSource(Source):
    """A timed source reading a :class:`SimulatedDevice`.

    ``next_due()`` is the time of the device's next frame, but never sooner than
    ``min_interval_s`` after the previous read, so fast sensors are read in batches.
    """

    simulated = True

    def __init__(
        self,
        sensor: str,
        url: str,
        device: SimulatedDevice,
        clock: Callable[[], float] = time.monotonic,
        min_interval_s: float = 0.05,
    ) -> None:
        super().__init__(sensor, url)
        if not min_interval_s >= 0.0:
            raise ValueError(f"min_interval_s must not be negative, got {min_interval_s}")
        self.device = device
        self.min_interval_s = min_interval_s
        self._clock = clock
        self._last_read_s = -math.inf

    def _open(self) -> None:
        self.device.skip_until(self._clock())
        self._last_read_s = -math.inf

    def _close(self, was_open: bool) -> None:
        del was_open

    def next_due(self) -> float:
        return max(self.device.next_due_s(), self._last_read_s + self.min_interval_s)

    def read(self) -> bytes:
        if not self.is_open:
            raise SourceBrokenError(self.sensor, "simulated port is closed")
        now_s = self._clock()
        self._last_read_s = now_s
        return self.device.bytes_due(now_s)
