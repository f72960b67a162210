"""What the text protocols (value, kv, csv, json, nmea) share.

Decoding rules common to all of them:

``encoding``
    The frame does not decode with ``spec.encoding``, or it contains a NUL byte (line noise or a
    wrong baud rate; NUL never occurs in these text formats).
``nonfinite``
    A configured field holds ``nan``, ``inf``, ``-inf`` or a number beyond the float range such
    as ``1e999``.
``syntax``
    A value that is not a number, a frame that is not of the format, or a frame that yields none
    of the configured channels (except frames that are not meant for this sensor, which decode
    to ``[]``).

* Numbers are decimal ASCII as Python's ``float()`` reads them, without ``_`` separators;
  surrounding whitespace is ignored.
* An empty value means the channel is absent from this frame; that is not an error.
* A configured field that is present but not a valid finite number makes the whole frame fail:
  a damaged field is a sign of a damaged frame.

Encoders print numbers with :data:`DECIMALS` decimals, as a device with a fixed display
precision does.
"""

from __future__ import annotations

import math

from sensord.errors import ParseError
from sensord.formats.base import FormatSpec

__all__ = [
    "DECIMALS",
    "channels_by_field",
    "check_common",
    "decode_text",
    "no_channels",
    "number",
    "number_text",
    "reads_float_bytes_as_ascii",
    "unique_fields",
]

#: Decimals of the numbers an encoder prints.
DECIMALS = 3


def decode_text(frame: bytes, encoding: str) -> str:
    """The frame as text; ParseError ``encoding`` when it holds a NUL or does not decode."""
    if 0 in frame:  # NUL; an int's membership test is a memchr, a bytes needle's is not
        raise ParseError("encoding", "NUL byte in frame")
    try:
        return frame.decode(encoding)
    except UnicodeError:
        raise ParseError("encoding", f"not valid {encoding}") from None


def number(text: str) -> float:
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


def number_text(value: float) -> str:
    """``value`` as an encoder prints it."""
    return f"{value:.{DECIMALS}f}"


#: Every byte ``float()`` accepts in a bytes object, except ``_`` (which the decoders reject).
_FLOAT_BYTES = b"0123456789+-.eEiInNfFtTyYaA \t\n\r\x0b\x0c"


def reads_float_bytes_as_ascii(encoding: str) -> bool:
    """True when ``encoding`` decodes every byte ``float()`` accepts to the same ASCII character
    (utf-8, latin-1, ascii, the Windows code pages, ...), so that ``float(frame)`` on the raw
    bytes reads what ``float(frame.decode(encoding))`` would."""
    try:
        return _FLOAT_BYTES.decode(encoding) == _FLOAT_BYTES.decode("ascii")
    except (UnicodeError, LookupError):
        return False


def channels_by_field(fields: tuple[tuple[str, str], ...]) -> dict[str, tuple[str, ...]]:
    """The channels of each field, in configuration order."""
    by_field: dict[str, tuple[str, ...]] = {}
    for channel, field in fields:
        by_field[field] = (*by_field.get(field, ()), channel)
    return by_field


def unique_fields(spec: FormatSpec) -> list[str]:
    """The fields of ``spec`` in configuration order, each once."""
    return list(dict.fromkeys(field for _, field in spec.fields))


def no_channels() -> ParseError:
    return ParseError("syntax", "no configured channel in frame")


def check_common(spec: FormatSpec, *, uses_example: bool = False) -> list[tuple[str, str]]:
    """The problems every text protocol checks: a known encoding, at least one channel, and no
    ``parse.example`` unless the protocol ``uses_example``."""
    problems: list[tuple[str, str]] = []
    try:
        b"a".decode(spec.encoding)
    except UnicodeError:
        pass
    except LookupError:
        problems.append(("parse.encoding", f"unknown text encoding {spec.encoding!r}"))
    if not spec.fields:
        problems.append(("channels", "at least one channel is needed"))
    if spec.example is not None and not uses_example:
        problems.append(("parse.example", "is only used by format 'value' with parse.pattern"))
    return problems
