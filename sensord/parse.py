"""Frame parsers: one frame of bytes in, ``(channel, value)`` pairs out.

A sensor's wire format is described by a :class:`FormatSpec`; :func:`check_spec` lists what is
wrong with one, and :func:`make_parser` builds a :data:`Parser` for it once (regexes compiled,
column indexes and JSON paths resolved), which is then called for every frame.

A parser returns the readings of one frame or raises :class:`~sensord.errors.ParseError` with one
of these reasons, and never any other exception, whatever the bytes:

``encoding``
    The frame does not decode with ``spec.encoding``, or it contains a NUL byte (line noise or a
    wrong baud rate; NUL never occurs in the text formats handled here). NMEA frames must be
    ASCII.
``nonfinite``
    A configured field holds ``nan``, ``inf``, ``-inf``, a number beyond the float range such as
    ``1e999``, or (JSON) ``NaN``/``Infinity``.
``checksum``
    An NMEA sentence whose ``*hh`` checksum does not match.
``syntax``
    Anything else: a value that is not a number, a frame that is not of the format, or a frame
    that yields none of the configured channels.

Rules shared by every format:

* Numbers are decimal ASCII as Python's ``float()`` reads them, without ``_`` separators;
  surrounding whitespace is ignored.
* An empty value (``T=`` in kv, an empty csv cell, an empty NMEA field, JSON ``null``) means the
  channel is absent from this frame; that is not an error.
* A configured field that is present but not a valid finite number makes the whole frame fail:
  a damaged field is a sign of a damaged frame.
* A frame that yields some of the configured channels returns those. A frame that yields none
  raises ``syntax``, except frames that are not meant for this sensor, which return ``[]``:
  NMEA sentences of a type no channel asks for (and every proprietary ``$P...`` sentence),
  NMEA sentences for us whose fields are all empty or flagged invalid (a GPS without a fix),
  and the csv header line.

Formats and what a channel's ``field`` names:

``value``
    One number per frame. With ``pattern``, ``re.search`` and the pattern's single group
    captures the number. Exactly one channel; its ``field`` is not used.
``kv``
    ``key=value`` pairs split by ``pair_separator``, then at the first ``kv_separator``; keys
    and values are stripped of whitespace and keys are case-sensitive. ``field`` is the key.
    Pairs without a separator and keys not configured are ignored.
``csv``
    Cells split by ``delimiter`` (no quoting). ``field`` is a name from ``columns`` or a 0-based
    column index written as a string (``"2"``). With ``header = true`` a frame whose cells
    equal ``columns`` is the device's header line and returns ``[]``.
``json``
    One JSON object per frame. ``field`` is a dotted path (``"a.b.c"``); a component made of
    digits indexes a list when the value there is a list. Only JSON numbers count: a bool, a
    string (even ``"21.5"``), an object or a list at the path raises ``syntax``.
``nmea``
    NMEA 0183 sentences starting with ``$`` or ``!``, any talker ID. The checksum, when present
    (``*hh``, either case), is verified for every sentence, also for sentence types no channel
    asks for, so that ``checksum`` errors show the state of the line; sentences without one are
    accepted. Known fields (:data:`NMEA_FIELDS`):

    * ``GGA.fix_quality``, ``GGA.satellites``, ``GGA.hdop``, ``GGA.altitude`` (metres above
      mean sea level), ``GGA.latitude``, ``GGA.longitude`` (decimal degrees, south and west
      negative). With fix quality ``0`` (no fix) only ``fix_quality`` and ``satellites`` are
      reported.
    * ``RMC.latitude``, ``RMC.longitude``, ``RMC.speed`` (speed over ground, knots),
      ``RMC.course`` (degrees true). An RMC with status ``V`` (receiver warning: the data is
      not valid) reports nothing.
    * ``MTW.temperature`` (degrees Celsius).
    * ``MWV.wind_angle`` (degrees), ``MWV.wind_speed`` (in the sentence's own unit: km/h, m/s,
      knots or mph as its unit field says), ``MWV.wind_speed_mps`` (converted to m/s). An MWV
      with status ``V`` reports nothing.
    * ``DPT.depth`` (metres below the transducer), ``DBT.depth`` (metres below the transducer;
      from the feet or fathoms field when the metres field is empty).
    * ``HDT.heading`` (degrees true).
    * ``XDR.<name>``: the value of the transducer measurement whose name field equals
      ``<name>`` (XDR carries quadruples of type, value, unit, name).

    Coordinates are converted from ``ddmm.mmmm`` but not range-checked: range checks belong to
    the filter stage.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import reduce
from operator import xor

from sensord.errors import ConfigError, ParseError

__all__ = [
    "FORMATS",
    "NMEA_FIELDS",
    "FormatSpec",
    "Parser",
    "check_spec",
    "make_parser",
]

#: The wire formats a sensor can use.
FORMATS = ("value", "kv", "csv", "json", "nmea")

#: A frame parser: one frame (terminator stripped) in, ``(channel, value)`` pairs out.
Parser = Callable[[bytes], list[tuple[str, float]]]


@dataclass(frozen=True, slots=True)
class FormatSpec:
    """A sensor's wire format. ``fields`` holds ``(channel_name, field)`` pairs."""

    format: str
    fields: tuple[tuple[str, str], ...]
    #: value: a regex with exactly one group capturing the number.
    pattern: str | None = None
    #: kv: separator between pairs and between key and value.
    pair_separator: str = ","
    kv_separator: str = "="
    #: csv: cell delimiter, optional column names, and whether the device sends a header line.
    delimiter: str = ","
    columns: tuple[str, ...] = ()
    header: bool = False
    encoding: str = "utf-8"


# -- shared helpers ------------------------------------------------------------------------------


def _decode(frame: bytes, encoding: str) -> str:
    if 0 in frame:  # NUL; an int's membership test is a memchr, a bytes needle's is not
        raise ParseError("encoding", "NUL byte in frame")
    try:
        return frame.decode(encoding)
    except UnicodeError:
        raise ParseError("encoding", f"not valid {encoding}") from None


def _number(text: str) -> float:
    """A finite float from decimal ASCII text; raises ParseError otherwise."""
    try:
        value = float(text)
    except ValueError:
        raise ParseError("syntax", f"not a number: {text[:40]!r}") from None
    if not math.isfinite(value):
        raise ParseError("nonfinite", f"{text[:40]!r}")
    if "_" in text or not text.isascii():
        raise ParseError("syntax", f"not a number: {text[:40]!r}")
    return value


#: Every byte ``float()`` accepts in a bytes object, except ``_`` (which the parsers reject).
_FLOAT_BYTES = b"0123456789+-.eEiInNfFtTyYaA \t\n\r\x0b\x0c"


def _reads_float_bytes_as_ascii(encoding: str) -> bool:
    """True when ``encoding`` decodes every byte ``float()`` accepts to the same ASCII character
    (utf-8, latin-1, ascii, the Windows code pages, ...), so that ``float(frame)`` on the raw
    bytes reads what ``float(frame.decode(encoding))`` would."""
    try:
        return _FLOAT_BYTES.decode(encoding) == _FLOAT_BYTES.decode("ascii")
    except (UnicodeError, LookupError):
        return False


def _channels_by_field(fields: tuple[tuple[str, str], ...]) -> dict[str, tuple[str, ...]]:
    by_field: dict[str, tuple[str, ...]] = {}
    for channel, field in fields:
        by_field[field] = (*by_field.get(field, ()), channel)
    return by_field


def _no_channels() -> ParseError:
    return ParseError("syntax", "no configured channel in frame")


# -- value ---------------------------------------------------------------------------------------


def _value_parser(spec: FormatSpec) -> Parser:
    channel = spec.fields[0][0]
    encoding = spec.encoding
    if spec.pattern is None and _reads_float_bytes_as_ascii(encoding):

        def parse_ascii_value(frame: bytes) -> list[tuple[str, float]]:
            # float() reads bytes directly (ASCII only, no NUL); only a frame it cannot read
            # as a finite number without "_" takes the slow path, which finds the reason.
            try:
                value = float(frame)
            except ValueError:
                pass
            else:
                if value - value == 0.0 and b"_" not in frame:  # finite
                    return [(channel, value)]
            return [(channel, _number(_decode(frame, encoding)))]

        return parse_ascii_value

    if spec.pattern is None:

        def parse_value(frame: bytes) -> list[tuple[str, float]]:
            return [(channel, _number(_decode(frame, encoding)))]

        return parse_value

    search = re.compile(spec.pattern).search

    def parse_matched_value(frame: bytes) -> list[tuple[str, float]]:
        match = search(_decode(frame, encoding))
        if match is None:
            raise ParseError("syntax", "pattern does not match")
        text = match.group(1)
        if text is None:
            raise ParseError("syntax", "pattern group did not capture")
        return [(channel, _number(text))]

    return parse_matched_value


# -- kv ------------------------------------------------------------------------------------------


def _kv_parser(spec: FormatSpec) -> Parser:
    wanted = _channels_by_field(spec.fields)
    encoding = spec.encoding
    pair_separator = spec.pair_separator
    kv_separator = spec.kv_separator

    def parse_kv(frame: bytes) -> list[tuple[str, float]]:
        readings: list[tuple[str, float]] = []
        for pair in _decode(frame, encoding).split(pair_separator):
            key, separator, text = pair.partition(kv_separator)
            if not separator:
                continue
            channels = wanted.get(key.strip())
            if channels is None:
                continue
            text = text.strip()
            if not text:
                continue
            value = _number(text)
            readings.extend((channel, value) for channel in channels)
        if not readings:
            raise _no_channels()
        return readings

    return parse_kv


# -- csv -----------------------------------------------------------------------------------------


def _column_index(field: str, columns: tuple[str, ...]) -> int | None:
    if field in columns:
        return columns.index(field)
    if field.isascii() and field.isdigit():
        index = int(field)
        if not columns or index < len(columns):
            return index
    return None


def _csv_parser(spec: FormatSpec) -> Parser:
    targets: list[tuple[int, str]] = []
    for channel, field in spec.fields:
        index = _column_index(field, spec.columns)
        if index is None:  # excluded by check_spec
            raise ValueError(f"unknown csv field {field!r}")
        targets.append((index, channel))
    encoding = spec.encoding
    delimiter = spec.delimiter
    header = list(spec.columns) if spec.header else None

    def parse_csv(frame: bytes) -> list[tuple[str, float]]:
        cells = _decode(frame, encoding).split(delimiter)
        count = len(cells)
        if (
            header is not None
            and count == len(header)
            and cells[0].strip() == header[0]
            and [cell.strip() for cell in cells] == header
        ):
            return []
        readings: list[tuple[str, float]] = []
        for index, channel in targets:
            if index < count:
                text = cells[index].strip()
                if text:
                    readings.append((channel, _number(text)))
        if not readings:
            raise _no_channels()
        return readings

    return parse_csv


# -- json ----------------------------------------------------------------------------------------

_MISSING = object()


def _json_path(field: str) -> tuple[tuple[str, int | None], ...]:
    return tuple(
        (part, int(part) if part.isascii() and part.isdigit() else None)
        for part in field.split(".")
    )


def _json_parser(spec: FormatSpec) -> Parser:
    targets = [(channel, _json_path(field)) for channel, field in spec.fields]
    encoding = spec.encoding
    loads = json.loads

    def parse_json(frame: bytes) -> list[tuple[str, float]]:
        try:
            document = loads(_decode(frame, encoding))
        except (ValueError, RecursionError):
            raise ParseError("syntax", "not valid JSON") from None
        if type(document) is not dict:
            raise ParseError("syntax", "not a JSON object")
        readings: list[tuple[str, float]] = []
        for channel, path in targets:
            node: object = document
            for key, index in path:
                if type(node) is dict:
                    node = node.get(key, _MISSING)
                elif type(node) is list and index is not None and index < len(node):
                    node = node[index]
                else:
                    node = _MISSING
                    break
            if node is _MISSING or node is None:
                continue
            if type(node) is float:
                value = node
            elif type(node) is int:
                try:
                    value = float(node)
                except OverflowError:
                    raise ParseError(
                        "nonfinite", f"{channel}: integer beyond float range"
                    ) from None
            else:
                raise ParseError("syntax", f"{channel}: not a number")
            if not math.isfinite(value):
                raise ParseError("nonfinite", channel)
            readings.append((channel, value))
        if not readings:
            raise _no_channels()
        return readings

    return parse_json


# -- nmea ----------------------------------------------------------------------------------------

#: Reads one value from the comma-split fields of a sentence (index 0 is the address);
#: None when the value is absent.
_Getter = Callable[[list[str]], float | None]


_KNOTS_MPS = 1852.0 / 3600.0
_WIND_UNIT_MPS = {"M": 1.0, "K": 1.0 / 3.6, "N": _KNOTS_MPS, "S": 1609.344 / 3600.0}


def _field(fields: list[str], index: int) -> str:
    return fields[index] if index < len(fields) else ""


def _plain(index: int) -> _Getter:
    def get(fields: list[str]) -> float | None:
        text = _field(fields, index)
        return _number(text) if text else None

    return get


def _coordinate(index: int, positive: str, negative: str) -> _Getter:
    """Decimal degrees from ``(d)ddmm.mmmm`` and a hemisphere field after it."""

    def get(fields: list[str]) -> float | None:
        text = _field(fields, index)
        if not text:
            return None
        raw = _number(text)
        hemisphere = _field(fields, index + 1)
        if raw < 0.0 or hemisphere not in (positive, negative):
            raise ParseError("syntax", f"bad coordinate {text!r} {hemisphere!r}")
        degrees = raw // 100.0
        minutes = raw - degrees * 100.0
        if minutes >= 60.0:
            raise ParseError("syntax", f"bad coordinate minutes {text!r}")
        value = degrees + minutes / 60.0
        return -value if hemisphere == negative else value

    return get


def _with_fix(getter: _Getter) -> _Getter:
    """GGA: the value only while the fix quality is not 0 (no fix)."""

    def get(fields: list[str]) -> float | None:
        return None if _field(fields, 6) == "0" else getter(fields)

    return get


def _dbt_depth(fields: list[str]) -> float | None:
    for index, metres_per_unit in ((3, 1.0), (1, 0.3048), (5, 1.8288)):
        text = _field(fields, index)
        if text:
            return _number(text) * metres_per_unit
    return None


def _wind_speed_mps(fields: list[str]) -> float | None:
    text = _field(fields, 3)
    if not text:
        return None
    factor = _WIND_UNIT_MPS.get(_field(fields, 4))
    if factor is None:
        raise ParseError("syntax", f"unknown wind speed unit {_field(fields, 4)[:8]!r}")
    return _number(text) * factor


def _xdr(name: str) -> _Getter:
    def get(fields: list[str]) -> float | None:
        # Quadruples (type, value, unit, name) start at field 1: names at 4, 8, 12, ...
        for index in range(4, len(fields), 4):
            if fields[index] == name:
                text = fields[index - 2]
                return _number(text) if text else None
        return None

    return get


_NMEA_GETTERS: dict[str, tuple[str, _Getter]] = {
    "GGA.fix_quality": ("GGA", _plain(6)),
    "GGA.satellites": ("GGA", _plain(7)),
    "GGA.hdop": ("GGA", _with_fix(_plain(8))),
    "GGA.altitude": ("GGA", _with_fix(_plain(9))),
    "GGA.latitude": ("GGA", _with_fix(_coordinate(2, "N", "S"))),
    "GGA.longitude": ("GGA", _with_fix(_coordinate(4, "E", "W"))),
    "RMC.latitude": ("RMC", _coordinate(3, "N", "S")),
    "RMC.longitude": ("RMC", _coordinate(5, "E", "W")),
    "RMC.speed": ("RMC", _plain(7)),
    "RMC.course": ("RMC", _plain(8)),
    "MTW.temperature": ("MTW", _plain(1)),
    "MWV.wind_angle": ("MWV", _plain(1)),
    "MWV.wind_speed": ("MWV", _plain(3)),
    "MWV.wind_speed_mps": ("MWV", _wind_speed_mps),
    "DPT.depth": ("DPT", _plain(1)),
    "DBT.depth": ("DBT", _dbt_depth),
    "HDT.heading": ("HDT", _plain(1)),
}

#: The NMEA field names a channel can use, besides ``XDR.<name>``.
NMEA_FIELDS = tuple(_NMEA_GETTERS)

#: Sentence types whose status field can mark the whole sentence invalid.
_NMEA_VALID: dict[str, Callable[[list[str]], bool]] = {
    "RMC": lambda fields: _field(fields, 2) == "A",
    "MWV": lambda fields: _field(fields, 5) != "V",
}


def _nmea_getter(field: str) -> tuple[str, _Getter] | None:
    known = _NMEA_GETTERS.get(field)
    if known is not None:
        return known
    if field.startswith("XDR.") and _valid_xdr_name(field[4:]):
        return "XDR", _xdr(field[4:])
    return None


def _valid_xdr_name(name: str) -> bool:
    return bool(name) and name.isascii() and not any(c in name for c in ",*$!\r\n")


def _nmea_parser(spec: FormatSpec) -> Parser:
    wanted: dict[str, list[tuple[str, _Getter]]] = {}
    for channel, field in spec.fields:
        found = _nmea_getter(field)
        if found is None:  # excluded by check_spec
            raise ValueError(f"unknown NMEA field {field!r}")
        sentence, getter = found
        wanted.setdefault(sentence, []).append((channel, getter))
    encoding = spec.encoding
    valid = _NMEA_VALID

    def parse_nmea(frame: bytes) -> list[tuple[str, float]]:
        text = _decode(frame, encoding).strip()
        if not text.isascii():
            raise ParseError("encoding", "NMEA sentences are ASCII")
        if not text or text[0] not in "$!":
            raise ParseError("syntax", "not an NMEA sentence")
        star = text.find("*")
        if star < 0:
            body = text[1:]
        else:
            body = text[1:star]
            given = text[star + 1 :].encode()
            if len(given) != 2 or not given.isalnum():  # int() below takes any 2 letters too
                raise ParseError("syntax", "bad NMEA checksum field")
            try:
                expected = int(given, 16)
            except ValueError:
                raise ParseError("syntax", "bad NMEA checksum field") from None
            if reduce(xor, body.encode(), 0) != expected:
                raise ParseError("checksum", f"NMEA checksum mismatch, sentence says {given!r}")
        fields = body.split(",")
        address = fields[0]
        if address[:1] == "P":
            return []
        if len(address) != 5 or not address.isalnum():
            raise ParseError("syntax", f"bad NMEA address {address[:8]!r}")
        sentence = address[2:]
        getters = wanted.get(sentence)
        if getters is None:
            return []
        is_valid = valid.get(sentence)
        if is_valid is not None and not is_valid(fields):
            return []
        readings: list[tuple[str, float]] = []
        for channel, getter in getters:
            value = getter(fields)
            if value is not None:
                readings.append((channel, value))
        return readings

    return parse_nmea


# -- spec checks and construction ----------------------------------------------------------------


def check_spec(spec: FormatSpec) -> list[tuple[str, str]]:
    """Problems with ``spec`` as ``(key, message)`` pairs; empty when the spec is usable.

    Keys: ``format``, ``channels``, ``parse.pattern``, ``parse.pair_separator``,
    ``parse.kv_separator``, ``parse.delimiter``, ``parse.columns``, ``parse.encoding`` and
    ``channels[i].field`` (``i`` is the index in ``spec.fields``).
    """
    problems: list[tuple[str, str]] = []
    if spec.format not in FORMATS:
        problems.append(("format", f"must be one of {', '.join(FORMATS)}; got {spec.format!r}"))
        return problems
    try:
        b"a".decode(spec.encoding)
    except UnicodeError:
        pass
    except LookupError:
        problems.append(("parse.encoding", f"unknown text encoding {spec.encoding!r}"))
    if not spec.fields:
        problems.append(("channels", "at least one channel is needed"))
    check = _FORMAT_CHECKS[spec.format]
    check(spec, problems)
    return problems


def _check_value(spec: FormatSpec, problems: list[tuple[str, str]]) -> None:
    for i in range(1, len(spec.fields)):
        problems.append((f"channels[{i}].field", "format 'value' takes exactly one channel"))
    if spec.pattern is None:
        return
    try:
        groups = re.compile(spec.pattern).groups
    except (re.error, OverflowError, RecursionError, ValueError) as exc:
        # re.compile raises more than re.error: OverflowError for a{99999999999},
        # RecursionError for very deep nesting
        problems.append(("parse.pattern", f"not a valid regular expression: {exc}"))
        return
    if groups != 1:
        problems.append(
            ("parse.pattern", f"needs exactly one group capturing the number; has {groups}")
        )


def _check_kv(spec: FormatSpec, problems: list[tuple[str, str]]) -> None:
    if not spec.pair_separator:
        problems.append(("parse.pair_separator", "must not be empty"))
    if not spec.kv_separator:
        problems.append(("parse.kv_separator", "must not be empty"))
    elif spec.kv_separator == spec.pair_separator:
        problems.append(("parse.kv_separator", "must differ from pair_separator"))
    for i, (_, field) in enumerate(spec.fields):
        if not field.strip():
            problems.append((f"channels[{i}].field", "must name a key"))
        elif field != field.strip():
            problems.append((f"channels[{i}].field", "keys are matched without surrounding spaces"))


def _check_csv(spec: FormatSpec, problems: list[tuple[str, str]]) -> None:
    if not spec.delimiter:
        problems.append(("parse.delimiter", "must not be empty"))
    columns = spec.columns
    if len(set(columns)) != len(columns):
        problems.append(("parse.columns", "column names must be unique"))
    for name in columns:
        if not name.strip() or name != name.strip():
            problems.append(("parse.columns", f"bad column name {name!r}"))
        elif spec.delimiter and spec.delimiter in name:
            problems.append(("parse.columns", f"column name {name!r} contains the delimiter"))
    if spec.header and not columns:
        problems.append(("parse.columns", "header = true needs the column names"))
    for i, (_, field) in enumerate(spec.fields):
        if _column_index(field, columns) is not None:
            continue
        if columns:
            message = f"{field!r} is not one of the columns ({', '.join(columns)})"
        else:
            message = f"{field!r} is not a 0-based column index (no columns are named)"
        problems.append((f"channels[{i}].field", message))


def _check_json(spec: FormatSpec, problems: list[tuple[str, str]]) -> None:
    for i, (_, field) in enumerate(spec.fields):
        if not field or "" in field.split("."):
            problems.append((f"channels[{i}].field", f"bad JSON path {field!r}"))


def _check_nmea(spec: FormatSpec, problems: list[tuple[str, str]]) -> None:
    for i, (_, field) in enumerate(spec.fields):
        if _nmea_getter(field) is None:
            known = ", ".join(NMEA_FIELDS)
            problems.append(
                (
                    f"channels[{i}].field",
                    f"unknown NMEA field {field!r}; known: {known}, XDR.<name>",
                )
            )


_FORMAT_CHECKS: dict[str, Callable[[FormatSpec, list[tuple[str, str]]], None]] = {
    "value": _check_value,
    "kv": _check_kv,
    "csv": _check_csv,
    "json": _check_json,
    "nmea": _check_nmea,
}

_FORMAT_PARSERS: dict[str, Callable[[FormatSpec], Parser]] = {
    "value": _value_parser,
    "kv": _kv_parser,
    "csv": _csv_parser,
    "json": _json_parser,
    "nmea": _nmea_parser,
}


def make_parser(spec: FormatSpec) -> Parser:
    """Build the parser for ``spec``. Raises ConfigError when :func:`check_spec` finds problems."""
    problems = check_spec(spec)
    if problems:
        raise ConfigError([f"{key}: {message}" for key, message in problems])
    return _FORMAT_PARSERS[spec.format](spec)
