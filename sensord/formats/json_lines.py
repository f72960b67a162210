"""``format = "json"``: one JSON object per frame.

A channel's ``field`` is a dotted path (``"a.b.c"``); a component made of digits indexes a list
when the value there is a list. A key that holds a point itself (Tasmota's ``"PM2.5"``) is found
too: where a component is no key of its object, it is tried joined with the next ones
(``SDS0X1.PM2.5`` reads ``{"SDS0X1":{"PM2.5":4.9}}``). A JSON number is the value; a string is
read as the text of a number is in the other line formats (``"21.5"``, as sketches that format
their numbers send them; ``parse.units``, ``parse.invalid`` and the channel's ``states`` apply);
a bool, an object or a list at the path raises ``syntax``, whatever the channel's ``states``;
``null`` means the channel is absent. ``NaN``, ``Infinity``
and integers beyond the float range are ``nonfinite``, and so are a bare ``nan``, ``inf`` or
``-inf``, which JSON has no token for but sketches that print their JSON themselves send for a
reading that failed (C's printf and Arduino's ``Print`` print a failed float so:
``{"t":nan,"h":45.00}``); such a value, a string of ``parse.invalid`` or a number that one of
its entries is (``-127`` marks ``-127`` and ``-127.0``) or one of the channel's
``not_available`` fails alone and the document's other
channels are read. Text before the object (a console's time and topic, as
Tasmota's serial log prints ``18:55:09 MQT: tele/tasmota/SENSOR = {...}``) is skipped up to the
object's first ``{``.
An object that holds none of the channels' paths, not even as ``null``, is another message
of the device's (Tasmota's ``STATE`` beside its ``SENSOR``): it decodes to ``[]``, as a kv
line of no configured key does.

The encoder writes compact JSON and creates the objects and lists a path goes through (list
indexes up to 1000); paths that conflict (``a`` and ``a.b``) make ``encoder`` raise ValueError.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from sensord.errors import ParseError
from sensord.formats.base import Codec, Decoder, DecoderCounts, Encoder, FormatSpec
from sensord.formats.text import (
    DECIMALS,
    NOT_READ,
    SCPI_INFINITY,
    check_common,
    decode_text,
    field_failed,
    field_states,
    kept_readings,
    marked_numbers,
    no_channels,
    text_framer,
    unique_fields,
    value_readers,
)

__all__ = ["CODEC"]


def check(spec: FormatSpec) -> list[tuple[str, str]]:
    problems = check_common(spec)
    for i, (_, field) in enumerate(spec.fields):
        if not field or "" in field.split("."):
            problems.append((f"channels[{i}].field", f"bad JSON path {field!r}"))
    return problems


_MISSING = object()

#: A bare ``nan``, ``inf`` or ``-inf`` (any case) where a JSON value starts.
_BARE_NONFINITE = re.compile(r"-?(?:nan|inf)(?![\w.])", re.IGNORECASE)
#: A JSON string (to be left as it is, cut short or not), or a bare non-finite value outside one.
_STRING_OR_BARE_NONFINITE = re.compile(
    r'"(?:[^"\\]|\\.)*"?|(?<![\w.])(-?)(nan|inf)(?![\w.])', re.IGNORECASE | re.DOTALL
)


def _json_nonfinite(match: re.Match[str]) -> str:
    """A bare non-finite value as the token Python's JSON reads (``NaN``, ``Infinity``); a
    string as it is."""
    if match.group(2) is None:
        return match.group(0)
    if match.group(2).lower() == "nan":
        return "NaN"  # printf's "-nan" is a NaN too
    return match.group(1) + "Infinity"


def _loads(text: str) -> object:
    """The JSON document of ``text``; one whose values include a bare ``nan``, ``inf`` or
    ``-inf`` is read with them as ``NaN`` and ``Infinity``. Raises ValueError or RecursionError
    for text that is no JSON either way. One pass over the text each (the string alternative
    takes a string whole, or to the end of the text when it is cut short)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        if _BARE_NONFINITE.match(text, exc.pos) is None:
            raise
    return json.loads(_STRING_OR_BARE_NONFINITE.sub(_json_nonfinite, text))


def _after_prefix(text: str) -> object:
    """The JSON object that ends ``text`` after some other text (a console's time and topic:
    Tasmota's ``18:55:09 MQT: tele/tasmota/SENSOR = {...}``); ParseError ``syntax`` when there
    is none."""
    start = text.find("{")
    if start > 0 and text.rstrip().endswith("}"):
        try:
            return _loads(text[start:])
        except (ValueError, RecursionError):
            pass
    raise ParseError("syntax", "not valid JSON")


def _is_index(part: str) -> bool:
    return part.isascii() and part.isdigit()


def _json_path(field: str) -> tuple[tuple[str, int | None], ...]:
    return tuple((part, int(part) if _is_index(part) else None) for part in field.split("."))


def _dotted(node: object, path: tuple[tuple[str, int | None], ...], start: int) -> object:
    """The value at ``path[start:]`` under ``node`` when keys may hold a point: in an
    object, the key of one component or, failing that, of it joined with the next ones by
    points (``PM2.5``); ``_MISSING`` when there is none."""
    if start == len(path):
        return node
    if type(node) is list:
        index = path[start][1]
        if index is None or index >= len(node):
            return _MISSING
        return _dotted(node[index], path, start + 1)
    if type(node) is not dict:
        return _MISSING
    key = path[start][0]
    for end in range(start + 1, len(path) + 1):
        if end > start + 1:
            key += "." + path[end - 1][0]
        child = node.get(key, _MISSING)
        if child is not _MISSING:
            found = _dotted(child, path, end)
            if found is not _MISSING:
                return found
    return _MISSING


def _holds_none(document: dict[Any, Any], paths: list[tuple[tuple[str, int | None], ...]]) -> bool:
    """Whether ``document`` holds nothing, not even ``null``, at any of ``paths``."""
    return all(_dotted(document, path, 0) is _MISSING for path in paths)


def decoder(spec: FormatSpec) -> Decoder:
    return counted_decoder(spec, DecoderCounts())


def counted_decoder(spec: FormatSpec, counts: DecoderCounts) -> Decoder:
    """The decoder; an object that holds none of the channels' paths is another message of
    the device's (Tasmota's STATE beside its SENSOR), no reading and no error, counted in
    ``counts.unread`` (and kept as ``counts.unread_frame``)."""
    readers = value_readers(spec)
    marked = marked_numbers(spec)  # a JSON number among them is marked as its text would be
    absent = dict(spec.channel_not_available)
    # a JSON number among a channel's not_available is marked too, in the same one lookup
    targets = [
        (channel, _json_path(field), readers[field], marked.union(absent.get(channel, ())))
        for channel, field in spec.fields
    ]
    encoding = spec.encoding
    loads = _loads
    paths = [path for _, path, _, _ in targets]

    def parse_json(frame: bytes) -> list[tuple[str, float]]:
        text = decode_text(frame, encoding)
        try:
            document = loads(text)
        except (ValueError, RecursionError):
            document = _after_prefix(text)
        if type(document) is not dict:
            raise ParseError("syntax", "not a JSON object")
        readings: list[tuple[str, float]] = []
        failed: ParseError | None = None
        for channel, path, read, marked_here in targets:
            node: object = document
            for key, index in path:
                if type(node) is dict:
                    node = node.get(key, _MISSING)
                elif type(node) is list and index is not None and index < len(node):
                    node = node[index]
                else:
                    node = _MISSING
                    break
            if node is _MISSING and len(path) > 1:
                node = _dotted(document, path, 0)
            if node is _MISSING or node is None:
                continue
            if type(node) is float or type(node) is int:
                try:
                    value = float(node)
                except OverflowError:
                    beyond = ParseError("nonfinite", f"{channel}: integer beyond float range")
                    failed = field_failed(beyond, failed, (channel,))
                    continue
                if value in marked_here:
                    named = ParseError(
                        "invalid",
                        f"{channel}: {node!r} marks the value invalid"
                        if value in marked
                        else f"{channel}: {node!r} is one of its not_available",
                    )
                    failed = field_failed(named, failed, (channel,))
                    continue
            elif type(node) is str:
                try:
                    value = read(node)
                except ParseError as exc:
                    if exc.reason not in NOT_READ:
                        raise ParseError(exc.reason, f"{channel}: {exc.detail}") from None
                    named = type(exc)(exc.reason, f"{channel}: {exc.detail}")
                    failed = field_failed(named, failed, (channel,))
                    continue
            else:
                raise ParseError("syntax", f"{channel}: not a number")
            if not -SCPI_INFINITY < value < SCPI_INFINITY:  # as text formats read numbers
                failed = field_failed(ParseError("nonfinite", channel), failed, (channel,))
                continue
            readings.append((channel, value))
        readings = kept_readings(readings, failed)
        if not readings:
            if _holds_none(document, paths):
                counts.unread += 1
                counts.unread_frame = frame
                return []
            raise no_channels()
        return readings

    return parse_json


_JSON_MAX_INDEX = 1000


def _json_set(root: dict[str, Any], parts: list[str], value: float | str) -> None:
    """Store ``value`` (a number, or a state's word) at the dotted path ``parts``, creating objects
    and lists on the way."""
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


def encoder(spec: FormatSpec) -> Encoder:
    paths = [(field, field.split(".")) for field in unique_fields(spec)]
    encoding = spec.encoding

    def encode_json(values: Mapping[str, float], t_s: float) -> list[bytes]:
        document: dict[str, Any] = {}
        for field, parts in paths:
            value = values.get(field)
            if value is not None:
                _json_set(document, parts, round(value, DECIMALS))
        return [json.dumps(document, separators=(",", ":")).encode(encoding)]

    # Conflicting paths (``a`` and ``a.b``) fail here, once, rather than per frame.
    encode_json(dict.fromkeys((field for field, _ in paths), 0.0), 0.0)
    states = field_states(spec)
    if not states:
        return encode_json
    printers = [(field, parts, states.get(field)) for field, parts in paths]

    def encode_json_states(values: Mapping[str, float], t_s: float) -> list[bytes]:
        document: dict[str, Any] = {}
        for field, parts, state in printers:
            value = values.get(field)
            if value is not None:
                _json_set(
                    document, parts, round(value, DECIMALS) if state is None else state(value)[0]
                )
        return [json.dumps(document, separators=(",", ":")).encode(encoding)]

    return encode_json_states


CODEC = Codec("json", check, decoder, encoder, text_framer, counted_decoder=counted_decoder)
