"""A value of the configuration file as a message of ``sensord.schema_fields`` or
``sensord.schema`` tells it.

A value is shown as the file wrote it: its TOML type's name (:func:`type_name`), the value
(:func:`fmt`, :func:`as_written`: a float with its decimal point), an array or a table as
TOML writes it inline, shortened when long (:func:`toml_value`), a key bare or in quotes
(:func:`key_text`). A value written the wrong way gets the hint of how to write it: a
number or boolean in quotes (:func:`unquoted`, also a number with the unit its key's name
implies: ``"5s"`` for a key in seconds), a whole number with a decimal point where an integer
is asked for (:func:`whole_float`).
"""

from __future__ import annotations

import json
import math
import re
import tomllib
from collections.abc import Mapping

__all__ = [
    "as_written",
    "fmt",
    "got",
    "key_text",
    "read_bare",
    "toml_value",
    "type_name",
    "unquoted",
    "whole_float",
]


def type_name(value: object) -> str:
    return {
        bool: "boolean",
        int: "integer",
        float: "float",
        str: "string",
        list: "array",
        dict: "table",
    }.get(type(value), type(value).__name__)


def fmt(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(value) if isinstance(value, str) else str(value)


def got(value: object) -> str:
    """``value`` after "got" in a message of a value of the wrong type: its type and the value
    as written, an array as TOML writes it inline, shortened when long (``got integer 9600``,
    ``got array [10]``); a table by its type alone, as one its headers made would be shown
    otherwise than it is written."""
    if isinstance(value, Mapping):
        return type_name(value)
    shown = toml_value(value) if isinstance(value, list) else as_written(value)
    return f"{type_name(value)} {shown}"


def as_written(value: object) -> str:
    """``value`` as the file wrote it, for an error that names its type: a float with its
    decimal point (``got float 9600.0``, where ``got float 9600`` would hide what is
    wrong with it), anything else as :func:`fmt` writes it."""
    return repr(value) if isinstance(value, float) else fmt(value)


def whole_float(value: object, name: str = "") -> str:
    """`` (write it without a decimal point: bytesize = 8)`` for a float that is a whole number
    (``8.0``), where an integer is asked for; the key is named when ``name`` is given."""
    if not isinstance(value, float) or not value.is_integer() or abs(value) >= 1e15:
        return ""
    key = f"{name} = " if name else ""
    return f" (write it without a decimal point: {key}{int(value)})"


def unquoted(value: object, kind: type, name: str = "") -> str:
    """`` (write it without quotes: baudrate = 9600)`` for a string that TOML reads as a value
    of ``kind`` when written without its quotes (``"9600"`` for an integer, ``"true"`` for a
    boolean, not ``".5"``, which is no TOML number): TOML reads a quoted value as text. A
    number with a unit that the key ``name`` implies (``"5s"``, ``"500ms"`` for a key in
    seconds) is told as the number to write (:func:`_without_unit`). The key is named when
    ``name`` is given."""
    if not isinstance(value, str):
        return ""
    read = read_bare(value)
    if kind is bool:
        ok = isinstance(read, bool)
    elif isinstance(read, bool) or not isinstance(read, int | float):
        ok = False
    else:
        ok = (kind is float or isinstance(read, int)) and math.isfinite(read)
    key = f"{name} = " if name else ""
    if ok:
        return f" (write it without quotes: {key}{value.strip()})"
    if kind is bool or not name:
        return ""
    return _without_unit(value, kind, name)


#: The units a number of a key may be written with in quotes, by the ending of the key's
#: name, and what one of each is in the key's own unit (a decimal's text: the hint computes
#: with ``decimal``, imported only when one is given, as a mistake is rare).
_UNITS_OF_KEY: dict[str, tuple[str, dict[str, str]]] = {
    "_s": ("seconds", {"s": "1", "ms": "0.001"}),
    "_hz": ("hertz", {"hz": "1"}),
}

#: A number and its unit, as written in quotes: ``5s``, ``500 ms``, ``0.5s``.
_NUMBER_AND_UNIT = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*([a-z]+)\s*", re.ASCII | re.IGNORECASE)


def _without_unit(value: str, kind: type, name: str) -> str:
    """`` (write the number of seconds without quotes or unit: timeout_s = 0.5)`` for a
    quoted number with a unit that the key ``name`` implies by its ending (``_s``: seconds,
    written ``s`` or ``ms``); ``""`` for any other text, and for a value an integer key
    cannot take."""
    match = _NUMBER_AND_UNIT.fullmatch(value)
    ending = next((end for end in _UNITS_OF_KEY if name.endswith(end)), None)
    if match is None or ending is None:
        return ""
    what, units = _UNITS_OF_KEY[ending]
    factor = units.get(match.group(2).lower())
    if factor is None:
        return ""
    from decimal import Decimal  # noqa: PLC0415

    number = Decimal(match.group(1)) * Decimal(factor)
    if kind is int and number != number.to_integral_value():
        return ""
    text = format(number.normalize(), "f")
    return f" (write the number of {what} without quotes or unit: {name} = {text})"


def read_bare(text: str) -> object:
    """What TOML reads ``text`` (stripped) as, written as a bare value: a number or a
    boolean; None for anything else."""
    text = text.strip()
    if not _BARE_VALUE.fullmatch(text):  # one value: no comment, no second key
        return None
    try:
        return tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        return None


#: What may be a TOML number or boolean: letters, digits, ``+-._``.
_BARE_VALUE = re.compile(r"[\w+.\-]+", re.ASCII)


#: A key TOML takes without quotes.
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def key_text(key: str) -> str:
    """``key`` as a key path shows it: bare, or in quotes as TOML writes it when it is no bare
    key (``""``, ``"a.b"``, ``"tür"``), so that an empty key or one with a dot is still seen
    as one key."""
    if _BARE_KEY.fullmatch(key):
        return key
    return json.dumps(key, ensure_ascii=False)


#: The longest table or array an example shows as written: a longer one is ``{ ... }`` or
#: ``[...]``.
_EXAMPLE_VALUE_CHARS = 40


def toml_value(value: object) -> str:
    """``value`` (as TOML parsed it) written as TOML writes it inline, for an example (a long
    table or array shortened: ``_EXAMPLE_VALUE_CHARS``). A number's ``str`` is TOML's (``1e+20``,
    ``-inf``, ``nan``)."""
    if isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, str):
        text = json.dumps(value, ensure_ascii=False)
    elif isinstance(value, Mapping):
        inner = ", ".join(f"{key_text(str(k))} = {toml_value(v)}" for k, v in value.items())
        text = f"{{ {inner} }}" if inner else "{}"
        if len(text) > _EXAMPLE_VALUE_CHARS:
            text = "{ ... }"
    elif isinstance(value, list):
        text = f"[{', '.join(toml_value(v) for v in value)}]"
        if len(text) > _EXAMPLE_VALUE_CHARS:
            text = "[...]"
    else:
        text = str(value)
    return text
