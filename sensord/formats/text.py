"""What the text protocols (value, kv, csv, json, nmea) share.

Decoding rules common to all of them:

``encoding``
    The frame does not decode with ``spec.encoding``, or it contains a NUL byte (line noise, a
    wrong baud rate, or a line cut short by a device that lost power: see
    ``sensord.formats.lines``; NUL never occurs in these text formats, and the padding of a
    device configured with ``parse.nul_padding`` is stripped before decoding).
``nonfinite``
    A configured field holds ``nan``, ``inf``, ``-inf``, a number beyond the float range such
    as ``1e999``, Arduino's ``ovf``, or a number of magnitude 9.9E37 or more, which SCPI
    instruments (multimeters, counters, source meters) send for an overload (``+9.9E37``,
    ``-9.9E37``: infinity) and a reading that is no number (``9.91E37``).
``invalid``
    A configured field holds one of ``parse.invalid``, the texts the device sends for a value it
    could not measure, or one of its channels' ``not_available`` numbers (value, kv, csv,
    json).
``syntax``
    A value that is not a number, a frame that is not of the format, or a frame that yields none
    of the configured channels (except frames that are not meant for this sensor, which decode
    to ``[]``).

* Numbers are decimal ASCII as Python's ``float()`` reads them, without ``_`` separators;
  surrounding whitespace is ignored, and so are spaces between a sign and the digits
  (``-   12.345``, as Sartorius balances print the sign in a column of its own). With
  ``parse.units``, one of those texts may follow the number (``1013.2hPa``, ``23.4 C``); no
  other text may.
* With ``parse.decimal = ","`` the decimal mark is a comma (``23,4``, as instruments set to a
  German or French locale print it) and a point in a value is ``syntax``: there are no
  thousands separators to tell apart, and a device switched to another locale is noticed.
* In VE.Direct blocks (``parse.block = "vedirect"``) a value of ``0x`` and up to 8 hex digits
  is the whole number it writes (``PID``, ``OR``: :func:`hex_or_number`), as Victron's protocol
  document writes its hex fields; a decimal value is read as anywhere else, at the same cost.
  Encoders write the fields a device writes in hex so (:data:`VE_DIRECT_HEX_FIELDS`).
* A channel's own ``units`` replace ``parse.units`` for its field: a weather station's
  temperature in ``C`` and its heater's status letters ``N``, ``V``, ``W`` and ``F``, where ``F``
  would be Fahrenheit for the temperature. Several channels of one field list the same units.
* A value is invalid when it is one of ``parse.invalid`` (``ERR``), or is a number followed by
  one instead of its unit (``236#``), or is one followed by a unit of ``parse.units`` (``#M``).
  An entry that is a number marks that number however it is printed: ``-127`` marks
  ``-127.00`` too, as a DS18B20 sketch prints the probe's "disconnected".
* A field with units whose number is followed by another unit (a text with a letter, ``%`` or
  ``°`` and no digit: ``74.6F`` where ``C`` is the field's unit, a station switched to
  Fahrenheit) is ``invalid`` too, naming the text and the units: it fails alone, as a value the
  device marked does, and the frame's other fields are read. A text that is a unit in another
  case (``c``) or ends in one (``tC``, a digit changed into a letter) is damage, ``syntax``;
  the rejection of a unit in another case names the unit listed, since a unit listed in
  another case than the device's (``HPA`` for ``hPa``) rejects every frame so.
* A channel's ``states`` name the words its field may hold in place of a number (``ON``,
  ``OFF``), each with the number it reads as; the stripped text is looked up as written, and a
  word that is none of them is ``syntax`` as before. A channel's ``not_available`` numbers
  (a VE.Direct ``TTG`` of -1) are ``invalid`` in its field alone, where a number of
  ``parse.invalid`` is in every field. A field whose channels have neither is read by the
  plain reader (:func:`value_readers`), with no lookup added per value.
* An empty value means the channel is absent from this frame; that is not an error.
* A configured field that is present but not a number makes the whole frame fail: a damaged
  field is a sign of a damaged frame. A field the device itself marks as holding no value
  (``nonfinite``, ``invalid``) fails alone: it is counted, and the frame's other fields are
  read (``ParseError.kept``).
* A rejection's detail (the ``frame rejected`` journal line shows it beside the frame) quotes
  the text in question up to its first 40 characters.

Encoders print numbers with :data:`DECIMALS` decimals and the configured decimal mark, as a
device with a fixed display precision does. A field with ``states`` is printed as the word of
the state whose number is nearest the value (:func:`field_states`), as the device writes it;
the encoder of a sensor without ``states`` prints every field as a number, as it always did.
"""

from __future__ import annotations

import bisect
import contextlib
import itertools
import math
import re
import warnings
from collections.abc import Callable, Iterable, Sequence

from sensord.errors import OtherUnitError, ParseError
from sensord.formats.base import BLOCK_KINDS, DSMR_CRCS, FormatSpec
from sensord.formats.line_checksums import LINE_CHECKSUMS, checked_line
from sensord.formats.lines import LineFramer

__all__ = [
    "DECIMALS",
    "DECIMAL_MARKS",
    "NOT_READ",
    "StateOf",
    "ValueReader",
    "channel_reader",
    "channels_by_field",
    "check_common",
    "check_separator",
    "check_value_options",
    "checked_regex",
    "crc_problem",
    "decode_text",
    "field_failed",
    "field_printers",
    "field_states",
    "hex_or_number",
    "hex_text",
    "kept_readings",
    "line_end_inside",
    "line_ends_apart_from",
    "marked_numbers",
    "nearest_state",
    "no_channels",
    "number",
    "number_text",
    "reads_float_bytes_as_ascii",
    "text_framer",
    "unique_fields",
    "value_reader",
    "value_readers",
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


def line_ends_apart_from(*separators: str) -> tuple[str, ...]:
    """The line end characters, CR and LF, that none of ``separators`` holds: inside a line,
    one of them is what is left of a line end one byte of which was lost."""
    return tuple(end for end in "\r\n" if not any(end in separator for separator in separators))


def line_end_inside(line: str, ends: tuple[str, ...]) -> ParseError | None:
    """The ``syntax`` error of a line with one of ``ends`` inside it (not at its ends, where a
    terminator may leave a CR or LF): two lines run together, a byte of the line end between
    them lost (``...,Sx=5.8M``, CR, ``0R2,Ta=16.1C,...``: a CR LF whose LF was lost); None
    for a line without."""
    start = len(line) - len(line.lstrip("\r\n"))
    core = line[start:].rstrip("\r\n")
    for end in ends:
        if end in core:
            return ParseError(
                "syntax",
                f"{end!r} inside the line, at {start + core.index(end)}: two lines run together "
                "(a byte of the line end lost)",
            )
    return None


#: A sign apart from the digits after it (``-   12.345``), as balances that print the sign in a
#: column of its own do: the spaces between them (ASCII, as around a number) go.
_SPACED_SIGN = re.compile(r"[ \t\n\r\x0b\x0c]*([+-])[ \t]+(?=[0-9.])")


#: What Arduino's ``Serial.print`` of a float beyond +-4294967040 prints (``Print::printFloat``):
#: a value the board could not show, read like ``inf``.
ARDUINO_OVERFLOW = "ovf"

#: SCPI's infinity (IEEE 488.2 and SCPI 1999, "Numeric Elements"): ``9.9E37`` for an overload,
#: ``-9.9E37`` for a negative one, ``9.91E37`` for not-a-number. No instrument measures such a
#: magnitude, so a value at or beyond it is read like ``inf``.
SCPI_INFINITY = 9.9e37


#: A number followed by a short text that is no number, as a unit the config does not list
#: (``23.0 C``, ``1013.2hPa``): told as such when the field is rejected. A hexadecimal number
#: (``0xFF``) is none: its unit listed, it would read as 0.
_NUMBER_AND_UNIT = re.compile(
    r"(?![ \t]*[+-]?0[xX])[ \t]*[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[ \t]*"
    r"([^\s\d.,;:=+\-\"'][^\s\d\"']{0,7})[ \t]*"
)


#: How :func:`number` tells a number followed by a unit, before the unit to list: said only
#: of a field without units (a field with some reads what follows its number as they say).
_UNIT_ADVICE = ", a number and a unit: list the unit in parse.units: "


def number(text: str) -> float:
    """A finite float from decimal ASCII text; raises ParseError otherwise."""
    try:
        value = float(text)
    except ValueError:
        spaced = _SPACED_SIGN.match(text)
        if spaced is not None:
            return number(spaced.group(1) + text[spaced.end() :])
        if text.strip() == ARDUINO_OVERFLOW:
            raise ParseError(
                "nonfinite", "'ovf': a float beyond the range Arduino prints"
            ) from None
        unit = _NUMBER_AND_UNIT.fullmatch(text)
        if unit is not None:
            raise ParseError(
                "syntax",
                f'not a number: {text[:40]!r}{_UNIT_ADVICE}parse = {{ units = ["{unit[1]}"] }}',
            ) from None
        raise ParseError("syntax", f"not a number: {text[:40]!r}") from None
    # before the finite test: "1_0e999" or a non-ASCII digit or space around "nan" is no
    # number (syntax, the frame fails), not a value the device marked (nonfinite)
    if "_" in text or not text.isascii():
        raise ParseError("syntax", f"not a number: {text[:40]!r}")
    if not -SCPI_INFINITY < value < SCPI_INFINITY:
        if math.isfinite(value):
            raise ParseError(
                "nonfinite", f"{text[:40]!r}: SCPI's overload or not-a-number (9.9E37 and up)"
            )
        raise ParseError("nonfinite", f"{text[:40]!r}")
    return value


#: A whole number written in hex after ``0x``, as VE.Direct writes its product ID and off
#: reason (``0xA053``, ``0x00000001``): at most 8 digits, the 32 bits of the widest such field.
_HEX_WHOLE_NUMBER = re.compile(r"[ \t\n\r\x0b\x0c]*0[xX]([0-9A-Fa-f]{1,8})[ \t\n\r\x0b\x0c]*")


def hex_or_number(text: str) -> float:
    """:func:`number`, and a whole number written in hex after ``0x`` (:data:`_HEX_WHOLE_NUMBER`)
    as that number: the values of a VE.Direct block (``parse.block = "vedirect"``), whose
    hex fields say so by their ``0x``. A decimal value takes the steps :func:`number` takes;
    a text ``float()`` refuses is looked at as hex, and when it is none :func:`number` tells
    why it is no number."""
    try:
        value = float(text)
    except ValueError:
        written = _HEX_WHOLE_NUMBER.fullmatch(text)
        if written is None:
            return number(text)  # raises its ParseError
        return float(int(written[1], 16))
    if "_" in text or not text.isascii() or not -SCPI_INFINITY < value < SCPI_INFINITY:
        return number(text)  # raises its ParseError
    return value


#: The VE.Direct fields a device writes in hex (Victron's "VE.Direct Protocol": ``PID``, the
#: product ID, ``0x203`` to ``0xA389``, and ``OR``, the off reason, ``0x00000001`` for "no
#: input power"), with how many digits it writes at least: how a simulated device writes them.
VE_DIRECT_HEX_FIELDS = {"PID": 1, "OR": 8}

#: The largest number a VE.Direct hex field holds (32 bits).
_HEX_FIELD_MAX = 0xFFFFFFFF


#: A field's text in, its finite value out; raises ParseError ``syntax``, ``nonfinite`` or
#: ``invalid``.
ValueReader = Callable[[str], float]

#: The reasons for which one field fails alone and the frame's other fields are still read.
NOT_READ = frozenset({"nonfinite", "invalid"})

#: The decimal marks ``parse.decimal`` may name.
DECIMAL_MARKS = (".", ",")


def _leading_number(decimal: str) -> re.Pattern[str]:
    """The number at the start of a field's text, for a marker in place of its unit
    (``236#``)."""
    mark = re.escape(decimal)
    return re.compile(rf"[+-]?(?:[0-9]+{mark}?[0-9]*|{mark}[0-9]+)(?:[eE][+-]?[0-9]+)?")


def _comma_number(text: str) -> float:
    """:func:`number` of a text whose decimal mark is a comma: a point in it is ``syntax``."""
    if "." in text:
        raise ParseError("syntax", f"not a number with decimal comma: {text[:40]!r}")
    return number(text.replace(",", "."))


def field_failed(exc: ParseError, first: ParseError | None, channels: Sequence[str]) -> ParseError:
    """The first failed field of a frame, after ``exc`` in the field of ``channels``: a value
    the device marked as not measured (``NOT_READ``) fails alone, the frame's other fields
    are read on, and the error names every such field's channels (``unavailable``); any
    other failure is the whole frame's, and is raised."""
    if exc.reason not in NOT_READ:
        raise exc
    held = first or exc
    return type(held)(
        held.reason, held.detail, unavailable=(*(first.unavailable if first else ()), *channels)
    )


def not_measured(exc: ParseError, channels: Sequence[str]) -> ParseError:
    """``exc``, naming ``channels`` as not measured when its reason says the device marked
    the value so (``NOT_READ``)."""
    if exc.reason not in NOT_READ:
        return exc
    return type(exc)(exc.reason, exc.detail, exc.kept, channels)


def kept_readings(
    readings: list[tuple[str, float]], failed: ParseError | None
) -> list[tuple[str, float]]:
    """``readings``, or, when a field failed alone, its ParseError carrying them
    (``ParseError.kept``)."""
    if failed is not None:
        raise type(failed)(failed.reason, failed.detail, readings, failed.unavailable)
    return readings


def value_reader(
    spec: FormatSpec, units: tuple[str, ...] | None = None, owner: str = "parse.units"
) -> ValueReader:
    """How a field's text becomes a value under ``parse.decimal``, ``parse.units`` (or the
    field's own ``units``, which ``owner`` names in a rejection) and ``parse.invalid``:
    :func:`number` itself when the decimal mark is a point and neither of the others is
    set (:func:`hex_or_number` in VE.Direct blocks)."""
    markers = frozenset(spec.invalid)
    marked = marked_numbers(spec)
    own = spec.units if units is None else units
    texts = sorted(filter(None, own), key=len, reverse=True)  # "hPa" before "Pa"
    listed = ", ".join(own)
    folded = [unit.casefold() for unit in texts]
    to_number = _plain_reader(spec)
    if not markers and not texts:
        return to_number
    leading_number = _leading_number(spec.decimal)

    def invalid(text: str) -> ParseError:
        return ParseError("invalid", f"{text[:40]!r} marks the value invalid")

    def read_value(text: str) -> float:
        text = text.strip()
        if text in markers:
            raise invalid(text)
        bare = text
        for unit in texts:
            if text.endswith(unit):
                bare = text[: -len(unit)].rstrip()
                break
        if bare in markers:
            raise invalid(text)
        try:
            value = to_number(bare)
        except ParseError as exc:
            if exc.reason == "syntax" and markers:
                lead = leading_number.match(bare)
                if lead is not None and bare[lead.end() :].strip() in markers:
                    raise invalid(text) from None
            if exc.reason == "syntax" and texts:
                lead = leading_number.match(text)
                rest = text[lead.end() :].strip() if lead is not None else ""
                if _unit_like(rest) and not _damaged_unit(rest, folded):
                    raise OtherUnitError(
                        "invalid",
                        f"{text[:40]!r}: its unit {rest[:20]!r} is none of {owner} ({listed})",
                    ) from None
                if _UNIT_ADVICE in exc.detail:
                    # a listed unit damaged (tC, c for C) or the start of a unit that ends in
                    # one listed (degC for C): not a unit to list
                    detail = exc.detail.partition(_UNIT_ADVICE)[0]
                    if rest.casefold() in folded:  # also a unit listed in the wrong case
                        unit = texts[folded.index(rest.casefold())]
                        detail += (
                            f" ({rest[:20]!r} is {unit!r} of {owner} in another case: a unit "
                            "is matched as written)"
                        )
                    raise ParseError("syntax", detail) from None
            raise
        if value in marked:
            raise invalid(text)
        return value

    return read_value


def _plain_reader(spec: FormatSpec) -> ValueReader:
    """How a value of ``spec`` is read as a number: :func:`number`; :func:`_comma_number`
    with ``parse.decimal = ","``; :func:`hex_or_number` in VE.Direct blocks."""
    if spec.decimal == ",":
        return _comma_number
    return hex_or_number if spec.block == "vedirect" else number


def marked_numbers(spec: FormatSpec) -> frozenset[float]:
    """The numbers among ``parse.invalid`` (``-9999``, ``-127``), read with the decimal mark of
    ``parse.decimal``: such an entry marks its number however the device prints it
    (``-9999.0``, ``-9.999e3``, a JSON number), where a text entry (``ERR``) marks itself."""
    to_number = _comma_number if spec.decimal == "," else number
    found: set[float] = set()
    for text in spec.invalid:
        with contextlib.suppress(ParseError):
            found.add(to_number(text.strip()))
    return frozenset(found)


def _unit_like(text: str) -> bool:
    """True when ``text``, after a number, reads as a unit (``F``, ``degC``, ``%RH``): a
    letter, ``%`` or ``°`` in it, and no digit (``23.4.5``, ``1O.5`` are damage)."""
    return any(c.isalpha() or c in "%°" for c in text) and not any(c.isdigit() for c in text)


def _damaged_unit(text: str, folded: list[str]) -> bool:
    """True when ``text``, read after a number as another unit, is more likely a damaged
    field: one of the units in another case (``c`` for ``C``: one bit on the line), or one
    that ends in a unit (``tC``: a digit of the number changed into a letter)."""
    text = text.casefold()
    return any(text == unit or text.endswith(unit) for unit in folded)


def value_readers(spec: FormatSpec) -> dict[str, ValueReader]:
    """:func:`value_reader` of each field: under its channels' own ``units`` where they have
    them, else under ``parse.units``; with their ``states`` and ``not_available``
    (:func:`channel_reader`) where they have either, and the plain reader otherwise."""
    default = value_reader(spec)
    own = dict(spec.channel_units)
    states = dict(spec.channel_states)
    absent = dict(spec.channel_not_available)
    readers: dict[str, ValueReader] = {}
    for channel, field in spec.fields:
        if field in readers:
            continue  # a field is read once: the config check makes its channels agree
        read = (
            value_reader(spec, own[channel], f"the units of channel {channel!r}")
            if channel in own
            else default
        )
        if channel in states or channel in absent:
            read = channel_reader(read, states.get(channel, ()), absent.get(channel, ()), channel)
        readers[field] = read
    return readers


def channel_reader(
    read: ValueReader,
    states: Iterable[tuple[str, float]],
    not_available: Iterable[float],
    channel: str,
) -> ValueReader:
    """``read`` with the ``states`` and ``not_available`` of ``channel``: a text (stripped)
    that is a state reads as its number; any other is read by ``read``, and a number among
    ``not_available`` raises ParseError ``invalid``."""
    numbers = {text: float(value) for text, value in states}
    marked = frozenset(not_available)
    state = numbers.get

    def read_state(text: str) -> float:
        value = state(text.strip())
        if value is not None:
            return value
        value = read(text)
        if value in marked:
            raise ParseError(
                "invalid", f"{text.strip()[:40]!r} is one of the not_available of {channel!r}"
            )
        return value

    return read_state


#: The state a simulated device writes for a value: its word and its number.
StateOf = Callable[[float], tuple[str, float]]


def nearest_state(states: Iterable[tuple[str, float]]) -> StateOf:
    """The state of ``states`` whose number is nearest a value (of two as near, the one of the
    smaller number; of several words for one number, the first): what a simulated device
    writes for that value in a field with ``states``, as the device writes only its states."""
    words: dict[float, str] = {}
    for text, value in states:
        words.setdefault(float(value), text)
    numbers = sorted(words)
    if not numbers:
        raise ValueError("no states")
    # the values at which the nearest state changes, halfway between two numbers
    cuts = [low / 2 + high / 2 for low, high in itertools.pairwise(numbers)]
    chosen = [(words[value], value) for value in numbers]
    return lambda value: chosen[bisect.bisect_left(cuts, value)]


def field_states(spec: FormatSpec) -> dict[str, StateOf]:
    """:func:`nearest_state` of each field whose channels have ``states`` (the channels of one
    field give the same: the config check makes them agree); the other fields are not in it."""
    states = dict(spec.channel_states)
    found: dict[str, StateOf] = {}
    for channel, field in spec.fields:
        if channel in states and field not in found:
            found[field] = nearest_state(states[channel])
    return found


def field_printers(spec: FormatSpec) -> dict[str, Callable[[float], str]]:
    """How an encoder prints each field's value: the word of its nearest state for a field
    whose channels have ``states`` (:func:`field_states`); in VE.Direct blocks, a field the
    device writes in hex (:data:`VE_DIRECT_HEX_FIELDS`) as :func:`hex_text`; else
    :func:`number_text`."""
    decimal = spec.decimal
    states = field_states(spec)
    hex_fields = VE_DIRECT_HEX_FIELDS if spec.block == "vedirect" else {}

    def as_number(value: float) -> str:
        return number_text(value, decimal)

    def as_word(state: StateOf) -> Callable[[float], str]:
        return lambda value: state(value)[0]

    def as_hex(digits: int) -> Callable[[float], str]:
        return lambda value: hex_text(value, digits)

    return {
        field: as_word(states[field])
        if field in states
        else as_hex(hex_fields[field])
        if field in hex_fields
        else as_number
        for _, field in spec.fields
    }


def hex_text(value: float, digits: int) -> str:
    """``value`` as a VE.Direct device writes a hex field: ``0x`` and at least ``digits``
    upper case hex digits of the whole number nearest it, within 0 and 0xFFFFFFFF."""
    whole = round(min(max(value, 0.0), _HEX_FIELD_MAX))
    return f"0x{whole:0{digits}X}"


def number_text(value: float, decimal: str = ".") -> str:
    """``value`` as an encoder prints it, with the decimal mark ``decimal``."""
    text = f"{value:.{DECIMALS}f}"
    return text if decimal == "." else text.replace(".", decimal)


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


def check_common(
    spec: FormatSpec, *, uses_example: bool = False, reads_values: bool = True
) -> list[tuple[str, str]]:
    """The problems every text protocol checks: a known encoding, at least one channel, no
    ``parse.example`` unless the protocol ``uses_example``, and ``parse.units``,
    ``parse.invalid``, ``parse.decimal`` and ``parse.ignore`` that a protocol that
    ``reads_values`` with :func:`value_reader` can use (and none but the default for one that
    does not)."""
    problems = check_value_options(spec, reads_values=reads_values)
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
    if reads_values:
        problems.extend(_ignore_problems(spec))
        problems.extend(_checked_example_problems(spec))
    return problems


def _checked_example_problems(spec: FormatSpec) -> list[tuple[str, str]]:
    """``parse.example`` with ``parse.checksum``: the lines as the pattern reads them, without
    their checksum, which the simulator appends (an example that ends in a checksum of the
    kind that holds is one copied with it)."""
    if spec.checksum not in LINE_CHECKSUMS or spec.example is None:
        return []
    checked = checked_line(spec.checksum)
    for example in (spec.example, *spec.more_examples):
        try:
            line = example.encode(spec.encoding)
        except (UnicodeError, LookupError):
            continue  # told as parse.example's or parse.encoding's own problem
        bare = checked(line)
        if bare is not None:
            return [
                (
                    "parse.example",
                    f"{example!r} ends in its checksum, which each line loses before "
                    "parse.pattern reads it: give the line without it "
                    f"({bare.decode(spec.encoding)!r}); the simulator appends it",
                )
            ]
    return []


#: A CR or LF (written as such or as an escape) that a regex needs at its start or end:
#: it cannot match the lines the regexes see, whose CRs and LFs at the ends are taken off
#: (``sensord.formats.base.regex_text``).
_LINE_END_AT_EDGE = re.compile(r"\A\^?(?:\\[rn]|[\r\n])|(?<!\\)(?:\\[rn]|[\r\n])\$?\Z")


def checked_regex(regex: str) -> tuple[re.Pattern[str] | None, str | None]:
    """``regex`` compiled, or None and why it cannot be used: not a valid regular expression,
    one whose meaning changes in later Python versions (``[[`` or ``--`` inside a set), one
    that later versions refuse (a group number of other than ASCII digits, ``(?(+1)...)``),
    or one that needs a CR or LF at its start or end, which the line it is tried on does not
    have."""
    if _LINE_END_AT_EDGE.search(regex):
        return None, (
            f"{regex!r} needs a CR or LF at its start or end, and the lines it is tried on are "
            "without theirs: leave it out (anchor with '^' and '$')"
        )
    try:
        with warnings.catch_warnings():
            # re warns of a construct whose meaning changes in later Pythons ("[[", "--" in
            # a set: FutureWarning) or that they refuse (DeprecationWarning)
            warnings.simplefilter("error")
            return re.compile(regex), None
    except FutureWarning as exc:
        return None, (
            f"ambiguous regular expression ({exc}): later Python versions read it "
            "differently; escape a '[', '-', '&', '~' or '|' meant literally inside "
            "a set, as '\\['"
        )
    except Warning as exc:
        return None, f"not a valid regular expression in later Python versions: {exc}"
    except (re.error, OverflowError, RecursionError, ValueError) as exc:
        # re.compile raises more than re.error: OverflowError for a{99999999999},
        # RecursionError for very deep nesting
        return None, f"not a valid regular expression: {exc}"


def _ignore_problems(spec: FormatSpec) -> list[tuple[str, str]]:
    """``parse.ignore``: regexes that compile, that match at least one character (one that
    matches an empty text may be found in any line), and that leave the lines of
    ``parse.example`` read."""
    problems: list[tuple[str, str]] = []
    for k, regex in enumerate(spec.ignore):
        key = f"parse.ignore[{k}]"
        compiled, problem = checked_regex(regex)
        if compiled is None:
            problems.append((key, str(problem)))
        elif compiled.search("") is not None:
            problems.append(
                (
                    key,
                    f"{regex!r} matches an empty text, so it may be found in any line (a "
                    "stray '|', a '.*' alone): make it match at least one character",
                )
            )
        elif spec.example is not None and (
            found := next(
                (
                    example
                    for example in (spec.example, *spec.more_examples)
                    if compiled.search(example) is not None
                ),
                None,
            )
        ):
            problems.append(
                (
                    key,
                    f"{regex!r} is found in parse.example {found!r}: the lines the "
                    "pattern reads would be ignored",
                )
            )
    return problems


def check_separator(
    spec: FormatSpec, key: str, separator: str, split: str
) -> list[tuple[str, str]]:
    """The value options a frame's ``separator`` (``parse.<key>``) would cut: unit and invalid
    texts that contain it, and a decimal mark that is it (``split``: what a value such as
    23,4 would become)."""
    problems: list[tuple[str, str]] = []
    own = dict(spec.channel_units)
    texts_by_option = [("parse.units", spec.units), ("parse.invalid", spec.invalid)]
    texts_by_option += [
        (f"channels[{i}].units", own[channel])
        for i, (channel, _) in enumerate(spec.fields)
        if channel in own
    ]
    for option, texts in texts_by_option:
        for text in texts:
            if separator and separator in text:
                problems.append((option, f"{text!r} contains the {key}"))
    if spec.decimal == separator:
        problems.append(
            (
                "parse.decimal",
                f"{spec.decimal!r} is the {key} too: {split}; set another parse.{key}",
            )
        )
    return problems


def check_value_options(spec: FormatSpec, *, reads_values: bool) -> list[tuple[str, str]]:
    """The problems of ``parse.units``, ``parse.invalid``, ``parse.decimal``,
    ``parse.nul_padding``, ``parse.ignore``, ``parse.block`` and ``parse.checksum``: usable by
    a protocol that ``reads_values`` (a text protocol that reads numbers with
    :func:`value_reader`), and refused, left unset, by any other."""
    problems: list[tuple[str, str]] = []
    if spec.decimal not in DECIMAL_MARKS:
        problems.append(("parse.decimal", f"must be '.' or ',', got {spec.decimal!r}"))
    elif spec.decimal != "." and not reads_values:
        problems.append(("parse.decimal", f"is not used by format {spec.format!r}"))
    if spec.nul_padding and not reads_values:
        problems.append(("parse.nul_padding", f"is not used by format {spec.format!r}"))
    if spec.ignore and not reads_values:
        problems.append(("parse.ignore", f"is not used by format {spec.format!r}"))
    if spec.block is not None and not reads_values:
        problems.append(("parse.block", f"is not used by format {spec.format!r}"))
    elif spec.block is not None and spec.block not in BLOCK_KINDS:
        problems.append(
            ("parse.block", f"must be one of {', '.join(BLOCK_KINDS)}; got {spec.block!r}")
        )
    problems.extend(_checksum_problems(spec, reads_values=reads_values))
    if spec.crc is not None and (spec.block != "dsmr" or spec.crc not in DSMR_CRCS):
        problems.append(("parse.crc", crc_problem(spec)))
    for key, texts in (("parse.units", spec.units), ("parse.invalid", spec.invalid)):
        if texts and not reads_values:
            problems.append((key, f"is not used by format {spec.format!r}"))
            continue
        for text in texts:
            if not text or text != text.strip():
                problems.append((key, f"{text!r}: must be text without surrounding spaces"))
    for unit in spec.units if reads_values else ():
        problems.extend(_unit_problems("parse.units", unit, spec))
    problems.extend(_channel_units_problems(spec, reads_values=reads_values))
    problems.extend(_channel_states_problems(spec, reads_values=reads_values))
    return problems


def crc_problem(spec: FormatSpec) -> str:
    """What ``parse.crc`` is told without DSMR telegrams to check (``spec.block`` is not
    ``"dsmr"``), or with a value that is none of :data:`DSMR_CRCS`. With format ``frames``
    it names ``frame.checksum``: the check of a binary frame, whose kinds hold a
    ``crc16_x25`` too (a HAN port's HDLC frames)."""
    if spec.block == "dsmr" or spec.format == "dsmr":
        return f"must be one of {', '.join(DSMR_CRCS)}; got {spec.crc!r}"
    if spec.block is not None:
        return (
            f"chooses a DSMR telegram's CRC; parse.block = {spec.block!r} has a check of its "
            "own: leave parse.crc out"
        )
    if spec.format == "frames":
        return (
            "chooses the CRC of a DSMR telegram, not of a binary frame: a binary frame's "
            "checksum is frame.checksum (or its preset's; a HAN port's HDLC frames: "
            "frame.checksum = 'crc16_x25'): leave parse.crc out"
        )
    return (
        "chooses the CRC of a DSMR telegram: it needs format = 'dsmr' or parse.block = "
        f"'dsmr', not format {spec.format!r} alone"
    )


#: What ``parse.checksum`` is told with a format that checks its frames itself.
_CHECKED_BY_FORMAT = {
    "nmea": "format 'nmea' checks each sentence's '*hh' itself: leave parse.checksum out",
    "dsmr": "format 'dsmr' checks each telegram's CRC itself: leave parse.checksum out",
    "frames": "a binary frame's checksum is frame.checksum (or its preset's): leave "
    "parse.checksum out",
    "modbus": "a Modbus RTU frame's CRC is always checked: leave parse.checksum out",
}


def _checksum_problems(spec: FormatSpec, *, reads_values: bool) -> list[tuple[str, str]]:
    """``parse.checksum``: a kind of :data:`LINE_CHECKSUMS`, for a protocol that
    ``reads_values`` (a line format; the others check their frames themselves), and not with
    ``parse.block`` (a check over whole blocks)."""
    kind = spec.checksum
    if kind is None:
        return []
    if not reads_values:
        message = _CHECKED_BY_FORMAT.get(spec.format, f"is not used by format {spec.format!r}")
        return [("parse.checksum", message)]
    if kind not in LINE_CHECKSUMS:
        return [("parse.checksum", f"must be one of {', '.join(LINE_CHECKSUMS)}; got {kind!r}")]
    if spec.block is not None:
        return [
            (
                "parse.checksum",
                "checks a checksum at the end of each line, and parse.block = "
                f"{spec.block!r} one over each whole block: a device sends one or the other (a "
                "Gill anemometer's XOR after ETX is parse.block = 'gill'); leave one out",
            )
        ]
    if not _one_byte_ascii(spec.encoding):
        return [
            (
                "parse.checksum",
                f"is checked on the line's bytes as ASCII ('*', hex digits, SDI-12's CRC "
                f"characters), which encoding {spec.encoding!r} does not write one byte "
                "each: no line would pass it",
            )
        ]
    return []


#: The characters a line checksum is written in (``parse.checksum``).
_CHECKSUM_CHARACTERS = "".join(map(chr, range(0x20, 0x7F)))


def _one_byte_ascii(encoding: str) -> bool:
    """Whether ``encoding`` writes every printable ASCII character as its one ASCII byte."""
    try:
        return _CHECKSUM_CHARACTERS.encode(encoding) == _CHECKSUM_CHARACTERS.encode("ascii")
    except (UnicodeError, LookupError):
        return False


def _unit_problems(key: str, unit: str, spec: FormatSpec) -> list[tuple[str, str]]:
    if unit[0] in "0123456789.+-" or unit[0] == spec.decimal:
        return [(key, f"{unit!r} would read as part of the number")]
    if unit in spec.invalid:
        return [(key, f"{unit!r} is in parse.invalid too")]
    return []


def _channel_units_problems(spec: FormatSpec, *, reads_values: bool) -> list[tuple[str, str]]:
    """A channel's ``units``: read by a protocol that ``reads_values``, each as ``parse.units``
    would be, and the same for every channel of one field (a field is read once)."""
    own = dict(spec.channel_units)
    problems: list[tuple[str, str]] = []
    first: dict[str, tuple[str, tuple[str, ...]]] = {}
    for i, (channel, field) in enumerate(spec.fields):
        units = own.get(channel, ())
        key = f"channels[{i}].units"
        if units and not reads_values:
            problems.append((key, f"is not used by format {spec.format!r}"))
            continue
        for unit in units:
            if not unit or unit != unit.strip():
                problems.append((key, f"{unit!r}: must be text without surrounding spaces"))
            else:
                problems.extend(_unit_problems(key, unit, spec))
        other, theirs = first.setdefault(field, (channel, units))
        if other != channel and set(theirs) != set(units):
            problems.append(
                (
                    key,
                    f"channel {other!r} reads the same field with "
                    + (f"the units {', '.join(theirs)}" if theirs else "parse.units")
                    + ": a field is read once, so give both the same units",
                )
            )
    return problems


#: Where a binary or Modbus sensor's values marked "no value" are listed, told to a channel's
#: ``not_available`` there.
_NOT_AVAILABLE_ELSEWHERE = {
    "frames": "a frame field's raw values that mean no value are its own not_available "
    "(sensors.frame.fields[].not_available)",
    "modbus": "a register's values that mean no value are its own not_available "
    "(sensors.registers[].not_available)",
}


def _channel_states_problems(spec: FormatSpec, *, reads_values: bool) -> list[tuple[str, str]]:
    """A channel's ``states`` and ``not_available``: used by a protocol that ``reads_values``;
    a state's text is one that the field's number reader rejects as ``syntax`` (a text that
    reads as a number, or as ``nonfinite`` or ``invalid``, would be read two ways); channels of
    one field give the same of each (a field is read once)."""
    states = dict(spec.channel_states)
    absent = dict(spec.channel_not_available)
    units = dict(spec.channel_units)
    problems: list[tuple[str, str]] = []
    first: dict[str, tuple[str, tuple[tuple[str, float], ...], tuple[float, ...]]] = {}
    for i, (channel, field) in enumerate(spec.fields):
        own_states, own_absent = states.get(channel, ()), absent.get(channel, ())
        if not reads_values:
            if own_states:
                problems.append((f"channels[{i}].states", f"is not used by format {spec.format!r}"))
            if own_absent:
                elsewhere = _NOT_AVAILABLE_ELSEWHERE.get(spec.format)
                problems.append(
                    (
                        f"channels[{i}].not_available",
                        f"is not used by format {spec.format!r}"
                        + (f": {elsewhere}" if elsewhere else ""),
                    )
                )
            continue
        if own_states:
            read = value_reader(spec, units.get(channel))
            for text, _ in own_states:
                problem = _state_text_problem(read, text)
                if problem is not None:
                    problems.append((f"channels[{i}].states", problem))
        other, theirs, their_absent = first.setdefault(field, (channel, own_states, own_absent))
        if other == channel:
            continue
        for key, mine, others in (
            ("states", dict(own_states), dict(theirs)),
            ("not_available", set(own_absent), set(their_absent)),
        ):
            if mine != others:
                problems.append(
                    (
                        f"channels[{i}].{key}",
                        f"channel {other!r} reads the same field with other {key}: a field "
                        f"is read once, so give both the same {key}",
                    )
                )
    return problems


def _state_text_problem(read: ValueReader, text: str) -> str | None:
    """Why ``text`` cannot be a state of a field that ``read`` reads, or None."""
    try:
        value = read(text)
    except ParseError as exc:
        if exc.reason == "syntax":
            return None
        return (
            f"{text!r} is read as {exc.reason} already ({exc.detail}): a state is a text "
            "that is no number"
        )
    return (
        f"{text!r} reads as the number {value:g}: a state is a text that is no number (a "
        "number that means no value goes in not_available)"
    )


def text_framer(spec: FormatSpec, terminator: bytes, max_frame_bytes: int) -> LineFramer:
    """The ``framer`` of every text protocol: frames end at the configured terminator, and
    ``parse.nul_padding`` strips the NULs at their ends; with ``parse.block``, the lines of
    the blocks whose check holds (:mod:`sensord.formats.blocks`)."""
    if spec.block is not None:
        from sensord.formats.blocks import BlockFramer  # noqa: PLC0415  (loaded by a sensor of blocks)

        return BlockFramer(spec.block, max_frame_bytes, strip_nul=spec.nul_padding, crc=spec.crc)
    return LineFramer(terminator, max_frame_bytes, strip_nul=spec.nul_padding)
