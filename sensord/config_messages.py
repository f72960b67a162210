"""A configuration problem told where the file has it.

A TOML syntax error gets the text of the line it names and, for the usual slips, a hint: a
key given twice (a second sensor or channel whose header was left out), ``True`` or ``NaN``
in capitals, ``.5``, a decimal comma, a bare word that needs quotes, a backslash in a path.
A validation problem of a file that is valid TOML is told with the header that made it so:
sensors written as an inline array without channels, ``[sensors]`` in single brackets, a
misspelt table (``[[sensor]]``). A sensor's problems are ordered by its place in the file and
named by its name. A password is never shown.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from typing import Any

from sensord.config_checks import Config
from sensord.config_sensor import SensorConfig
from sensord.config_tables import _NAME
from sensord.errors import Problem
from sensord.schema import Schema
from sensord.schema_fields import Field, Section, SectionList, SectionOrStrList

__all__ = [
    "_TABLE_HEADER",
    "_has_header",
    "_inline_channels",
    "_misnamed_tables",
    "_quoted_line",
    "_sensor_index",
    "_sensor_labels",
    "_sensors_table",
]

_SENSOR_PATH = re.compile(r"sensors\[(\d+)\]")

#: The problem of a sensor without channels, whose text names the header to add.
_NO_CHANNELS = re.compile(r"sensors\[\d+\]\.channels")


def _has_header(text: str, name: str) -> bool:
    """Whether ``text`` has a table header whose first key is ``name`` (``[[sensors]]``,
    ``[sensors.serial]``)."""
    return any(
        (header := _HEADER.match(line)) is not None and header[2] == name
        for line in text.split("\n")
    )


def _inline_channels(problem: str) -> str:
    """``problem``, or for a sensor without channels in a file whose sensors are an inline
    array (``sensors = [{ ... }]``), after which TOML takes no ``[[sensors.channels]]``
    table: the problem told to write them in the sensor's inline table."""
    if not (
        isinstance(problem, Problem)
        and _NO_CHANNELS.fullmatch(problem.key)
        and problem.message.startswith("required key is missing")
    ):
        return problem
    return Problem(
        problem.key,
        "required key is missing: the sensors are an inline array, so each sensor's channels "
        "go in its inline table, one for each value the device sends, with its name: "
        'channels = [{ name = "temperature_celsius" }]',
    )


#: A table header's brackets and the first key of its name (``[[sensor.channels]]``: ``[[``,
#: ``sensor``); a quoted first key is left alone.
_HEADER = re.compile(r"[ \t]*(\[\[?)[ \t]*([A-Za-z0-9_-]+)[ \t]*[.\]]")


def _sensors_table(problem: str, text: str) -> str:
    """``problem``, or for ``sensors`` made a table where it is an array of tables, the
    problem with the header that made it so: ``[sensors]`` in single brackets, or a sensor's
    own table (``[[sensors.channels]]``, ``[sensors.serial]``) with no ``[[sensors]]`` header
    above it (one misspelt, ``[[sensor]]``), and where that header belongs."""
    if not (
        isinstance(problem, Problem)
        and problem.key == "sensors"
        and problem.message.endswith("got table")
    ):
        return problem
    for number, line in enumerate(text.split("\n"), 1):
        header = _HEADER.match(line)
        if header is None or header[2] != "sensors":
            continue
        shown = line.strip()[:120]
        if header[1] == "[" and re.fullmatch(r"\[\s*sensors\s*\]", line.split("#")[0].strip()):
            fix = "write it [[sensors]], in double brackets: each sensor is one entry of the array"
        else:
            fix = (
                f"{shown} belongs below the [[sensors]] header of its sensor, and there is none "
                "above it"
            )
        return Problem("sensors", f"{problem.message} (line {number}: {shown}): {fix}")
    return problem


def _misnamed_tables(text: str) -> dict[str, str]:
    """The tables of ``text`` whose first key is no key of the file but the misspelling of
    one, each with its problem, which names the line of its first header and the header the
    key takes: ``sensor (line 1: [[sensor]]): unknown table; did you mean [[sensors]]?``. A
    loaded file's "unknown key" says less: not where, nor that ``[[sensors]]`` is an array."""
    found: dict[str, str] = {}
    for number, line in enumerate(text.split("\n"), 1):
        header = _HEADER.match(line)
        if header is None or header[2] in Config._fields or header[2] in found:
            continue
        meant = Config._meant_for(header[2])
        if meant is None or "." in meant:
            continue
        brackets = "[[" if isinstance(Config._fields[meant], SectionList) else "["
        shown = f"{brackets}{meant}{brackets.replace('[', ']')}"
        found[header[2]] = (
            f"{header[2]} (line {number}: {line.strip()[:120]}): unknown table; "
            f"did you mean {shown}?"
        )
    return found


def _sensor_index(problem: str) -> int:
    """The index of the sensor whose key path ``problem`` names (-1 for the other tables),
    by which a file's problems are told in the order of its sensors: a sensor's problems
    with other sensors (a name or port taken) come with its own, after them."""
    found = _SENSOR_PATH.match(problem)
    return int(found[1]) if found else -1


#: Keys whose values an error message never shows.
_SECRET_KEYS = ("basic_auth_password",)


def _quoted_line(text: str, message: str) -> str:
    """``: LINE`` with the text of the line a TOML error's ``(at line N, column M)`` names (the
    place the parser stopped at, where the mistake usually is), or nothing."""
    found = re.search(r"\(at line (\d+), column \d+\)$", message)
    lines = text.split("\n")  # as TOML counts lines: not at the other separators of splitlines
    if found is None or not 1 <= int(found[1]) <= len(lines):
        return ""
    line = lines[int(found[1]) - 1].strip()
    if not line:
        return ""
    if any(key in line for key in _SECRET_KEYS):
        # the message goes to stderr and, on a reload, to the journal
        key = line.partition("=")[0].strip()
        line = f"{key} = (the value is not shown: it is a password)"
    hint = ""
    key, equals, value = (part.strip() for part in line.partition("="))
    bare = value.split(" #")[0].strip()  # the value without a comment after it
    if line.startswith("[[") and message.startswith("Cannot overwrite a value"):
        name = line.strip("[] ")
        hint = (
            f" ({name} is already a table or a value above, as a [{name}] or a "
            f"[[{name}.KEY]] before the first [[{name}]] makes it: write each entry of the "
            f"array as [[{name}]])"
        )
    elif not line.startswith("[") and equals and message.startswith("Cannot overwrite a value"):
        # a quoted key names the key its text does: "name" = is name =
        hint = _twice_hint(lines, int(found[1]) - 1, _UNQUOTED_KEY.sub(r"\2", key))
    elif equals and message.startswith("Invalid value") and bare.lower() in _LOWER_CASE_VALUES:
        hint = f" (TOML writes {bare.lower()} in lower case: {key} = {bare.lower()})"
    elif equals and message.startswith("Invalid value") and _NO_LEADING_DIGIT.fullmatch(bare):
        sign, digits = bare.partition(".")[::2]
        hint = f" (a number takes a digit before its decimal point: {key} = {sign}0.{digits})"
    elif equals and message.startswith("Invalid value") and _BARE_TEXT.match(value):
        hint = f' (a text goes in quotes: {key} = "{bare}")'
    elif message.startswith("Unescaped '\\'"):
        hint = r" (write a backslash as \\, or the text in single quotes: 'C:\path')"
    elif re.search(r",\s*}", line) and message.startswith("Invalid initial character"):
        hint = " (an inline table takes no comma after its last key)"
    elif equals and re.fullmatch(r"[+-]?[0-9]+,[0-9]+", bare):
        hint = f" (a number takes a decimal point: {key} = {bare.replace(',', '.')})"
    elif message.startswith("Expected '=' after a key") and (
        inline := _INLINE_DECIMAL_COMMA.search(line)
    ):
        hint = f" (a number takes a decimal point: {inline[1]} = {inline[2]}.{inline[3]})"
    return f": {line[:120]}{hint}"


#: A key in quotes whose text is a bare key (``"name"``, ``'name'``): that key, group 2.
_UNQUOTED_KEY = re.compile(r"""^(["'])([A-Za-z0-9_-]+)\1$""")
#: A line that sets a key, and its key, group 2 (a bare one or one in quotes whose text is a
#: bare key: a dotted key is no table's own).
_KEY_LINE = re.compile(r"""[ \t]*(["']?)([A-Za-z0-9_-]+)\1[ \t]*=""")
#: A table header's dotted name (``sensors.channels`` of ``[[sensors.channels]]  # pumps``).
_HEADER_NAME = re.compile(r"[ \t]*\[\[?([^\]#]*)\]")


def _twice_hint(lines: list[str], index: int, key: str) -> str:
    """What to do about ``key``, given again on line ``index`` (0-based) of ``lines`` in the
    table it was given in already. A key a sensor's table has, given again in a sensor's
    table, or in one of its tables among keys only a sensor's table takes (``port`` under
    ``[[sensors.channels]]``), is likely the first key of a second sensor copied in without
    its ``[[sensors]]`` header: keeping one would lose that sensor. The line named is the one
    of the key, or above it the first of the keys only a sensor's table takes right before
    it (``port`` above ``name`` under ``[[sensors.channels]]``). Otherwise a key of an entry
    of an array of tables, given again in such an entry (``name`` under
    ``[[sensors.channels]]``), is likely the first key of a second entry whose header was left
    out (:func:`_entry_twice_hint`)."""
    header = next(
        (found for line in reversed(lines[:index]) if (found := _HEADER_NAME.match(line))),
        None,
    )
    path = [part.strip().strip("\"'") for part in (header[1] if header else "").split(".")]
    twice = (
        header is not None
        and header[0].lstrip().startswith("[[")
        and _entry_twice_hint(path, key, _entry_start(lines, index, key) + 1)
    ) or f" ({key} is given twice in its table: keep one)"
    if path[0] != "sensors" or key not in SensorConfig._fields:
        return twice
    start = index
    if len(path) > 1:
        inner = SensorConfig._fields.get(path[1])
        if not isinstance(inner, Section | SectionList | SectionOrStrList):
            return twice
        taken = inner.schema._fields if len(path) == 2 else {}  # a deeper table: none of them
        only_sensor = set(SensorConfig._fields) - set(taken)
        after = lines[
            index : next(
                (i for i in range(index + 1, len(lines)) if _TABLE_HEADER.match(lines[i])),
                len(lines),
            )
        ]
        while (
            start > 0 and (found := _KEY_LINE.match(lines[start - 1])) and found[2] in only_sensor
        ):
            start -= 1
        keys = [found[2] for line in after if (found := _KEY_LINE.match(line))]
        if start == index and not any(k in only_sensor for k in keys):
            return twice
    return (
        f" ({key} is given twice in one table: if line {start + 1} begins a second sensor, it "
        f"needs a [[sensors]] header above it; otherwise keep one {key})"
    )


#: A line with nothing for TOML: blank, or a comment (a line of a file with CR LF line ends
#: ends in its CR).
_EMPTY_LINE = re.compile(r"[ \t\r]*(?:#.*)?")


def _entry_start(lines: list[str], index: int, key: str) -> int:
    """Where a second entry of an array of tables likely begins (0-based), its header left
    out, given that its ``key`` on line ``index`` is the first key given twice: the first of
    the lines right above it when a blank line or a comment parts them from the first
    entry's ``key`` (``scale`` above ``name`` in ``name, field, (blank), scale, name``) and
    they are keys and values of their own, the line of ``key`` itself when nothing parts
    them. The lines above may set dotted or quoted keys and values written over several
    lines (an array), which TOML itself reads."""
    start = index
    while (
        start > 0
        and not _EMPTY_LINE.fullmatch(lines[start - 1])
        and not _TABLE_HEADER.match(lines[start - 1])
    ):
        start -= 1
    if start in (index, 0) or not _EMPTY_LINE.fullmatch(lines[start - 1]):
        return index
    try:
        # (the lines keep a CRLF file's CR: each ends in CR LF again)
        above = tomllib.loads("\n".join(lines[start:index]) + "\n")
    except tomllib.TOMLDecodeError:  # the lines begin inside a value: whose they are is unknown
        return index
    return index if key in above else start


def _entry_twice_hint(path: list[str], key: str, line: int) -> str:
    """What to do about ``key``, given again on line ``line`` under the header of an array of
    tables (``[[sensors.channels]]``: ``path``, its dotted name) when it is a key of the
    array's entries: name the header a second entry needs (a second channel written under
    the first one's header). "" when ``path`` names no array of tables or ``key`` is none of
    its entries' keys."""
    schema: type[Schema] = Config
    field: Field[Any] | None = None
    for part in path:
        field = schema._fields.get(part)
        if not isinstance(field, Section | SectionList | SectionOrStrList):
            return ""
        schema = field.schema
    if not isinstance(field, SectionList | SectionOrStrList) or key not in schema._fields:
        return ""
    name = ".".join(path)
    entry = path[-1][:-1] if path[-1].endswith("s") else "entry"  # channels: a channel
    return (
        f" ({key} is given twice in one [[{name}]] table: if line {line} begins a second "
        f"{entry}, it needs a [[{name}]] header line above it; otherwise keep one {key})"
    )


#: The values TOML spells in lower case only, written otherwise (``True``, ``NaN``): no text
#: to put in quotes.
_LOWER_CASE_VALUES = frozenset(
    sign + word for sign in ("", "+", "-") for word in ("inf", "nan")
) | {"true", "false"}
#: A number without a digit before its decimal point (``.5``), which TOML does not take.
_NO_LEADING_DIGIT = re.compile(r"[+-]?\.[0-9][0-9_]*(?:[eE][+-]?[0-9_]+)?")
#: A number with a decimal comma in an inline table (``{ timeout_s = 0,5 }``): its key (group
#: 1) and the digits around the comma (groups 2 and 3), which the parser reads as a number and
#: then a key without ``=``; digits followed by ``=`` are a key, and stay unmatched.
_INLINE_DECIMAL_COMMA = re.compile(r"([A-Za-z0-9_-]+)\s*=\s*([+-]?[0-9]+),([0-9]+)\s*(?=[,}\]]|$)")
#: A value written bare that TOML takes for no value (a word, a path): a text not quoted.
_BARE_TEXT = re.compile(r"(?!(?:true|false|inf|nan)\b)[A-Za-z/._~]")


def _sensor_labels(data: Mapping[str, Any]) -> dict[str, str]:
    """``{"sensors[1]": "sensor 'meter'"}`` for each sensor table with a valid name: an
    error in a file of many sensors names the sensor, not only its place in the file."""
    sensors = data.get("sensors")
    if not isinstance(sensors, list):
        return {}
    return {
        f"sensors[{i}]": f"sensor {sensor['name']!r}"
        for i, sensor in enumerate(sensors)
        if isinstance(sensor, Mapping)
        and isinstance(sensor.get("name"), str)
        and re.fullmatch(_NAME, sensor["name"])
    }


#: A table's header line (``[http]``, ``[[sensors]]``).
_TABLE_HEADER = re.compile(r"\s*\[")
