"""``format = "value"``: the numbers of a line of text, one per channel.

Without ``parse.pattern`` the whole frame is the number. With it, ``re.search`` finds it in the
frame (without the CRs and LFs at its ends, so ``^`` and ``$`` hold at a line's ends whatever
its line end), in one of two forms:

* **One group, one channel** (``T=(\\S+) C``): the group captures the number, whatever its name;
  the channel's ``field`` is not used. A frame the pattern matches without its group (an
  alternative of the pattern that holds none) is one the device marks as holding no valid
  value, such as a balance's unstable or overload line, and is ``invalid``.
* **Named groups** (``Humidity: (?P<humidity>\\S+)%  Temperature: (?P<celsius>\\S+)°C``), for a
  line that carries several numbers: each channel's ``field`` names the group that holds its
  number (by default its name; several channels may name one group), and every
  named group is read by some channel; unnamed groups are only grouping. A group that takes no
  part in the match, or captures only spaces, leaves its channel out of that frame, as an empty
  value does in the other text formats; a match in which no channel's group takes part is
  ``invalid``, as above.

``parse.units``, ``parse.invalid``, ``parse.decimal`` and a channel's ``states`` and
``not_available`` apply to each group's text as to any value (``sensord.formats.text``); a
value marked invalid fails alone and the frame's others are read. A frame the pattern does
not match is ``syntax``.

A CR or LF inside a line a pattern reads (not at its ends, and not one the pattern names, as
the character or ``\\r``, ``\\n``) is what is left of a line end one byte of which was lost,
joining two lines: the line is ``syntax``, as in kv and csv. Searched, it would give the first
line's numbers (or the last's, with ``$``) and lose the other line uncounted, or, where
``.*`` spans the CR, be taken whole for one line of the device's (a balance's dynamic line
and the stable weight after it read as one ``invalid`` line). Without a pattern such a line
is no number, ``syntax`` already.

The simulator sends the bare number, or with a pattern and ``parse.example`` (one frame as the
device sends it, which the pattern must match) the example with the text of the pattern's group
replaced by the number, printed in the shape of the example's (as many decimals, zero padding,
a sign, an exponent: a device's fixed display format, as a MaxBotix's ``R0765``). A
single-group pattern without an example simulates as the bare number. Named groups need an
example: each channel's value replaces its group's number, printed likewise, with the text
after the number kept; ``check`` makes sure the pattern reads that line back. A channel with
``states`` is sent as the word of the state nearest its value; where the example shows a
number in its group, as that state's number in the example's shape.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable, Mapping

from sensord.errors import ParseError
from sensord.formats.base import BatchDecoder, Codec, Decoder, Encoder, FormatSpec, regex_text
from sensord.formats.line_checksums import holding_kind
from sensord.formats.text import (
    SCPI_INFINITY,
    StateOf,
    channels_by_field,
    check_common,
    checked_regex,
    decode_text,
    field_failed,
    field_states,
    kept_readings,
    line_end_inside,
    no_channels,
    not_measured,
    number_text,
    reads_float_bytes_as_ascii,
    text_framer,
    unique_fields,
    value_readers,
)

__all__ = ["CODEC"]


def _named(spec: FormatSpec, pattern: re.Pattern[str]) -> bool:
    """True when the pattern's named groups carry the channels, one group per channel's
    ``field``: a pattern with named groups, unless it has one group and the sensor one channel
    (the single-group form, whose channel reads that group whatever its name)."""
    return bool(pattern.groupindex) and not (pattern.groups == 1 and len(spec.fields) == 1)


def check(spec: FormatSpec) -> list[tuple[str, str]]:
    problems = check_common(spec, uses_example=spec.pattern is not None)
    problems.extend(_nmea_line_problems(spec))
    compiled = None
    if spec.pattern is not None:
        compiled, problem = checked_regex(spec.pattern)
        if problem is not None:
            problems.append(("parse.pattern", problem))
    if compiled is not None and _named(spec, compiled):
        problems.extend(_check_named(compiled, spec, ready=not problems))
        return problems
    for i in range(1, len(spec.fields)):
        problems.append(
            (
                f"channels[{i}].field",
                "format 'value' takes exactly one channel, unless parse.pattern has a named "
                "group for each channel's field: (?P<field>...)",
            )
        )
    if compiled is None:
        return problems
    if compiled.groups != 1:
        problems.append(
            (
                "parse.pattern",
                f"needs exactly one group capturing the number, or a named group (?P<field>...) "
                f"for each channel; has {compiled.groups}",
            )
        )
    elif spec.more_examples:
        problems.append(
            (
                "parse.example",
                "several lines are for a pattern with a named group per channel, each line "
                "holding some of them; with one group give one line",
            )
        )
    elif spec.example is not None:
        problems.extend(_check_example(compiled, spec.example, spec))
    return problems


def _nmea_line_problems(spec: FormatSpec) -> list[tuple[str, str]]:
    """With ``parse.checksum = "nmea"`` each line begins with ``$`` or ``!``: a pattern finds
    the number in it, and an example, which the simulator sends, begins so too."""
    if spec.checksum != "nmea":
        return []
    if spec.pattern is None:
        return [
            (
                "parse.checksum",
                "'nmea' reads lines that begin with '$' or '!', and without parse.pattern a "
                "line is a bare number: give the pattern that finds the number in the line",
            )
        ]
    if spec.example is None:
        return [
            (
                "parse.example",
                "is needed with parse.checksum = 'nmea': a line as the device sends it, "
                "without its '*hh', beginning with '$' or '!' (the simulator sends it)",
            )
        ]
    for example in (spec.example, *spec.more_examples):
        if not example.startswith(("$", "!")):
            return [
                (
                    "parse.example",
                    f"{example!r}: a line of parse.checksum = 'nmea' begins with '$' or '!'",
                )
            ]
    return []


def _check_named(
    pattern: re.Pattern[str], spec: FormatSpec, *, ready: bool
) -> list[tuple[str, str]]:
    """The problems of a pattern whose named groups carry the channels; its example is
    checked (and simulated once) only when the rest of the spec is ``ready``."""
    groups = pattern.groupindex
    problems: list[tuple[str, str]] = []
    for i, (_, field) in enumerate(spec.fields):
        if field not in groups:
            problems.append(
                (
                    f"channels[{i}].field",
                    f"{field!r} names no group of parse.pattern (its named groups: "
                    f"{', '.join(groups)})",
                )
            )
    fields = {field for _, field in spec.fields}
    for name in groups:
        if name not in fields:
            problems.append(
                (
                    "parse.pattern",
                    f"group {name!r} is read by no channel: give a channel field = {name!r}, "
                    "or write the group as (?:...)",
                )
            )
    if spec.example is None:
        problems.append(
            (
                "parse.example",
                "is needed with named groups: one line as the device sends it, which the "
                "simulator sends with each channel's value in its group",
            )
        )
    elif not problems and ready:
        problems.extend(_check_named_example(pattern, (spec.example, *spec.more_examples), spec))
    return problems


def _check_example(
    pattern: re.Pattern[str], example: str, spec: FormatSpec
) -> list[tuple[str, str]]:
    problem = _example_text_problem(example, spec.encoding)
    if problem is not None:
        return [problem]
    match = pattern.search(example)
    if match is None or match.group(1) is None:
        return [("parse.example", f"parse.pattern does not find a number in {example!r}")]
    try:
        value_readers(spec)[spec.fields[0][1]](match.group(1))
    except ParseError:
        return [
            (
                "parse.example",
                f"parse.pattern captures {match.group(1)!r} in {example!r}, which is not a number",
            )
        ]
    return []


def _example_text_problem(example: str, encoding: str) -> tuple[str, str] | None:
    if any(c in example for c in "\r\n\0"):
        return ("parse.example", "must be one frame: no line breaks or NUL")
    try:
        example.encode(encoding)
    except UnicodeError:
        return ("parse.example", f"cannot be written in the encoding {encoding!r}")
    except LookupError:
        pass  # an unknown encoding is reported as parse.encoding
    return None


def _check_named_example(
    pattern: re.Pattern[str], examples: tuple[str, ...], spec: FormatSpec
) -> list[tuple[str, str]]:
    """The examples (one line, or one of each kind the device sends) must each be matched,
    hold a number in each channel's group in one of them at least (in every group of a
    single line), the groups must not overlap, and the lines the simulator makes of the
    examples' own values must read back as them."""
    readers = value_readers(spec)
    values: dict[str, float] = {}
    #: each line's own numbers
    lines: list[tuple[str, dict[str, float]]] = []
    for example in examples:
        problem = _example_text_problem(example, spec.encoding)
        if problem is not None:
            return [problem]
        match = pattern.search(example)
        if match is None:
            return [("parse.example", f"parse.pattern does not match {example!r}")]
        found: dict[str, float] = {}
        for name in unique_fields(spec):
            text = match.group(name)
            if text is None or not text.strip():
                if len(examples) == 1:
                    return [("parse.example", f"group {name!r} finds no number in {example!r}")]
                continue
            try:
                found[name] = readers[name](text)
            except ParseError:
                return [
                    (
                        "parse.example",
                        f"group {name!r} captures {text!r} in {example!r}, which is not a number",
                    )
                ]
        spans = sorted((match.start(name), match.end(name), name) for name in found)
        for (_, end, first), (start, _, second) in itertools.pairwise(spans):
            if start < end:
                return [
                    ("parse.pattern", f"groups {first!r} and {second!r} overlap in {example!r}")
                ]
        if not found:  # len(examples) > 1: one line would have returned above
            return [
                (
                    "parse.example",
                    f"{example!r} holds no group's number: give the lines that carry "
                    "readings, and name a line that carries none in parse.ignore",
                )
            ]
        for name, value in found.items():
            values.setdefault(name, value)
        lines.append((example, found))
    missing = [name for name in unique_fields(spec) if name not in values]
    if missing:
        return [
            (
                "parse.example",
                f"group {missing[0]!r} finds no number in any of its lines: give a line of "
                "each kind the device sends",
            )
        ]
    if len(examples) > 1:
        return _check_lines_read_back(spec, pattern, values, lines)
    [line] = encoder(spec)(values, 0.0)
    try:
        readings = decoder(spec)(line)
    except ParseError as exc:
        readings = [] if exc.reason == "syntax" else exc.kept
    wanted = sorted((channel, values[field]) for channel, field in spec.fields)
    if sorted(readings) != wanted:
        return [
            (
                "parse.pattern",
                f"does not read the simulator's line {line.decode(spec.encoding)!r} made "
                f"from the example as it is (the values {values}): let each group take "
                "the numbers a device of this kind may print",
            )
        ]
    return []


def _check_lines_read_back(
    spec: FormatSpec,
    pattern: re.Pattern[str],
    values: Mapping[str, float],
    lines: list[tuple[str, dict[str, float]]],
) -> list[tuple[str, str]]:
    """The line the simulator makes of each example, with that example's own numbers (a
    group several lines hold may be printed in another shape in each), reads back as them."""
    decode = decoder(spec)
    for example, found in lines:
        [line] = _named_encoder(spec, pattern, example)({**values, **found}, 0.0)
        try:
            got = decode(line)
        except ParseError as exc:
            got = [] if exc.reason == "syntax" else exc.kept
        wanted = sorted((channel, found[field]) for channel, field in spec.fields if field in found)
        if sorted(got) != wanted:
            return [
                (
                    "parse.pattern",
                    f"does not read the simulator's line {line.decode(spec.encoding)!r} made "
                    f"from the example {example!r} as it is (the values {found}): let each "
                    "group take the numbers a device of this kind may print",
                )
            ]
    return []


def _reads_plain_floats(spec: FormatSpec) -> bool:
    """True when a frame that ``float()`` reads is that number: no pattern around it, an
    ASCII-compatible encoding, a decimal point (with a decimal comma ``23.4`` is no number),
    no ``parse.invalid`` text (which may look like a number) and no ``not_available`` number
    of the channel. (A ``states`` text is no number ``float()`` reads: ``check`` makes sure.)"""
    return (
        spec.pattern is None
        and not spec.invalid
        and not spec.channel_not_available
        and spec.decimal == "."
        and reads_float_bytes_as_ascii(spec.encoding)
    )


def decoder(spec: FormatSpec) -> Decoder:
    channel, field = spec.fields[0]
    encoding = spec.encoding
    read = value_readers(spec)[field]
    if _reads_plain_floats(spec):
        low, high = -SCPI_INFINITY, SCPI_INFINITY

        def parse_ascii_value(frame: bytes) -> list[tuple[str, float]]:
            # float() reads bytes directly (ASCII only, no NUL); only a frame it cannot read
            # as a number without "_" below SCPI's infinity (so finite) takes the slow path,
            # which finds the reason.
            try:
                value = float(frame)
            except ValueError:
                pass
            else:
                if low < value < high and b"_" not in frame:
                    return [(channel, value)]
            try:
                return [(channel, read(decode_text(frame, encoding)))]
            except ParseError as exc:
                raise not_measured(exc, (channel,)) from None

        return parse_ascii_value

    if spec.pattern is None:

        def parse_value(frame: bytes) -> list[tuple[str, float]]:
            try:
                return [(channel, read(decode_text(frame, encoding)))]
            except ParseError as exc:
                raise not_measured(exc, (channel,)) from None

        return parse_value

    compiled = re.compile(spec.pattern)
    search = compiled.search
    if _named(spec, compiled):
        return _named_decoder(spec, compiled)

    checksum = spec.checksum
    line_ends = _line_ends_unnamed(spec.pattern)

    def parse_matched_value(frame: bytes) -> list[tuple[str, float]]:
        text = decode_text(frame, encoding)
        if ("\r" in text or "\n" in text) and (
            run_together := line_end_inside(text, line_ends)
        ) is not None:
            raise run_together
        match = search(regex_text(text))
        if match is None:
            raise _unmatched(frame, checksum)
        text = match.group(1)
        if text is None:
            raise ParseError("invalid", "pattern matched without its group", (), (channel,))
        try:
            return [(channel, read(text))]
        except ParseError as exc:
            raise not_measured(exc, (channel,)) from None

    return parse_matched_value


def _line_ends_unnamed(pattern: str) -> tuple[str, ...]:
    """The line ends, CR and LF, that ``pattern`` does not name (as the character or an
    escape of it, ``\\r``, ``\\x0d``, ``\\015``, ``\\u000d`` and LF's): inside a line, one
    of them is what is left of a line end one byte of which was lost
    (:func:`sensord.formats.text.line_end_inside`); a pattern that names one reads lines that
    hold it."""
    return tuple(
        end
        for end, escapes in (("\r", _CR_ESCAPES), ("\n", _LF_ESCAPES))
        if end not in pattern and escapes.search(pattern) is None
    )


#: How a pattern names CR and LF by an escape (``_line_ends_unnamed``).
_CR_ESCAPES = re.compile(r"\\(?:r|x0[dD]|015|u000[dD])")
_LF_ESCAPES = re.compile(r"\\(?:n|x0[aA]|012|u000[aA])")


def _unmatched(frame: bytes, checksum: str | None) -> ParseError:
    """The rejection of ``frame``, which ``parse.pattern`` does not match: one that ends in a
    checksum whose check holds, of a sensor whose ``parse.checksum`` (``checksum``) names
    none, says which (an SDI-12 sensor asked with ``aMC!``, which ends its data lines in a
    CRC: ``parse.checksum = "sdi12"`` checks it and takes it off before the pattern sees the
    line). Only a rejected line is looked at."""
    kind = None if checksum is not None else holding_kind(frame.strip(b"\r\n"))
    if kind is None:
        return ParseError("syntax", "pattern does not match")
    return ParseError(
        "syntax",
        f"pattern does not match; the line ends in a checksum that holds as parse.checksum = "
        f"{kind!r} has it, which takes it off before the pattern sees the line",
    )


def _named_decoder(spec: FormatSpec, pattern: re.Pattern[str]) -> Decoder:
    """The channels of each named group, read from one match of the pattern."""
    search = pattern.search
    encoding = spec.encoding
    readers = value_readers(spec)
    targets = [
        (pattern.groupindex[field], channels, readers[field])
        for field, channels in channels_by_field(spec.fields).items()
    ]

    checksum = spec.checksum
    line_ends = _line_ends_unnamed(pattern.pattern)

    def parse_named_values(frame: bytes) -> list[tuple[str, float]]:
        text = decode_text(frame, encoding)
        if ("\r" in text or "\n" in text) and (
            run_together := line_end_inside(text, line_ends)
        ) is not None:
            raise run_together
        match = search(regex_text(text))
        if match is None:
            raise _unmatched(frame, checksum)
        readings: list[tuple[str, float]] = []
        took_part = False
        failed: ParseError | None = None
        for index, channels, read in targets:
            text = match.group(index)
            if text is None:
                continue
            took_part = True
            if not text.strip():
                continue
            try:
                value = read(text)
            except ParseError as exc:
                failed = field_failed(exc, failed, channels)
                continue
            readings.extend((channel, value) for channel in channels)
        readings = kept_readings(readings, failed)
        if not readings:
            if not took_part:
                raise ParseError("invalid", "pattern matched without its groups")
            raise no_channels()
        return readings

    return parse_named_values


def batch_decoder(spec: FormatSpec) -> BatchDecoder | None:
    """``float`` mapped over a whole list of frames (C-level), for the specs the per-frame
    fast path reads (no pattern, an ASCII-compatible encoding, a decimal point) without
    ``parse.ignore`` and ``parse.checksum``: None when any
    frame is not a finite number without ``_`` below SCPI's infinity (or the values' hypotenuse
    reaches it), and the per-frame decoder then finds which and why."""
    if not _reads_plain_floats(spec) or spec.ignore or spec.checksum is not None:
        # an ignored line may be a number; a checked line is read without its checksum: each
        # frame goes through the sensor's decoder
        return None

    hypot = math.hypot

    def values_of(frames: list[bytes]) -> list[float] | None:
        try:
            values = list(map(float, frames))
        except ValueError:
            return None
        # their hypotenuse is at least the largest magnitude, and NaN or infinite with any
        # value that is: below SCPI's infinity, every value is a finite number (one C pass)
        if not hypot(*values) < SCPI_INFINITY or b"_" in b"".join(frames):
            return None
        return values

    return values_of


def encoder(spec: FormatSpec) -> Encoder:
    if spec.pattern is not None and spec.example is not None:
        compiled = re.compile(spec.pattern)
        if _named(spec, compiled):
            if not spec.more_examples:
                return _named_encoder(spec, compiled, spec.example)
            lines = [
                _named_encoder(spec, compiled, example)
                for example in (spec.example, *spec.more_examples)
            ]
            return lambda values, t_s: [line for encode in lines for line in encode(values, t_s)]
    field = spec.fields[0][1]
    encoding = spec.encoding
    decimal = spec.decimal
    before = after = ""
    printed: Callable[[float], str] = lambda value: number_text(value, decimal)  # noqa: E731
    shown: str | None = None  # the example's text of the group
    if spec.pattern is not None and spec.example is not None:
        match = re.compile(spec.pattern).search(spec.example)
        if match is not None and match.group(1) is not None:  # check() makes sure it is
            before, after = spec.example[: match.start(1)], spec.example[match.end(1) :]
            shown = match.group(1)
            printed = _printer(shown, decimal)  # in the example's shape
    state = field_states(spec).get(field)
    if state is not None:
        printed = _state_printer(state, _words(spec, field), shown, printed)

    def encode_value(values: Mapping[str, float], t_s: float) -> list[bytes]:
        value = values.get(field)
        if value is None:
            return []
        return [f"{before}{printed(value)}{after}".encode(encoding)]

    return encode_value


def _printer(text: str, decimal: str) -> Callable[[float], str]:
    """How a value is printed in place of ``text``, a group's number in the example, in its
    shape, as a device with a fixed display format prints it: as many decimals, an explicit
    ``+``, zeros padding it to its width (a Gill WindSonic's ``002.74``), an exponent (a SCPI
    meter's ``+1.23456789E+00``), and the text after the number (a unit) kept."""
    # a sign may stand apart from the digits (``-   12.345``), as the decoder reads it
    number = re.match(
        rf"\s*([+-][ \t]*)?([0-9]*)(?:{re.escape(decimal)}([0-9]*))?([eE][+-]?[0-9]+)?", text
    )
    assert number is not None  # the pattern matches the empty text too
    sign, digits, fraction, exponent = number.groups()
    decimals = len(fraction or "")
    plus = "+" if sign is not None and sign.strip() == "+" else ""
    if exponent is not None:  # as many significant digits (``12.5e3``, ``+123.456E-06``)
        digits_kept = decimals + max(len(digits.lstrip("0")) - 1, 0)
        form = f"{plus}.{digits_kept}{'E' if 'E' in exponent else 'e'}"
    elif len(digits) > 1 and digits.startswith("0") and (sign is None or sign == sign.strip()):
        width = len(sign or "") + len(digits) + (decimals + 1 if decimals else 0)
        form = f"{plus}0{width}.{decimals}f"
    else:
        form = f"{plus}.{decimals}f"
    head = text[: len(text) - len(text.lstrip())]
    tail = text[number.end() :]

    def print_value(value: float) -> str:
        printed = format(value, form)
        return head + (printed if decimal == "." else printed.replace(".", decimal)) + tail

    return print_value


def _words(spec: FormatSpec, field: str) -> frozenset[str]:
    """The words of the ``states`` of the channels that read ``field``."""
    states = dict(spec.channel_states)
    return frozenset(
        text
        for channel, name in spec.fields
        if name == field
        for text, _ in states.get(channel, ())
    )


def _state_printer(
    state: StateOf, words: frozenset[str], shown: str | None, printed: Callable[[float], str]
) -> Callable[[float], str]:
    """How a value of a field with ``states`` is printed in place of ``shown``, its group's
    text in the example (None: without one): the word of the nearest state, with the spaces
    around ``shown`` kept; where the example shows a number and no word, that state's number
    as ``printed`` prints a number there (in the example's shape), as a device that writes its
    states' numbers does."""
    if shown is None:
        return lambda value: state(value)[0]
    if shown.strip() not in words:
        return lambda value: printed(state(value)[1])
    head = shown[: len(shown) - len(shown.lstrip())]
    tail = shown[len(shown.rstrip()) :]
    return lambda value: head + state(value)[0] + tail


def _named_encoder(spec: FormatSpec, pattern: re.Pattern[str], example: str) -> Encoder:
    """The example with each channel's group it holds replaced by its value."""
    encoding = spec.encoding
    match = pattern.search(example)
    if match is None:  # check() makes sure it is not
        raise ValueError(f"parse.pattern does not match the example {example!r}")
    pieces: list[tuple[str, str, Callable[[float], str]]] = []
    at = 0
    held = [name for name in unique_fields(spec) if (match.group(name) or "").strip()]
    states = field_states(spec)
    for start, end, field in sorted((match.start(name), match.end(name), name) for name in held):
        shown = example[start:end]
        print_value = _printer(shown, spec.decimal)
        state = states.get(field)
        if state is not None:
            print_value = _state_printer(state, _words(spec, field), shown, print_value)
        pieces.append((example[at:start], field, print_value))
        at = end
    rest = example[at:]

    def encode_named_values(values: Mapping[str, float], t_s: float) -> list[bytes]:
        parts: list[str] = []
        for before, field, print_value in pieces:
            value = values.get(field)
            if value is None:
                return []
            parts += (before, print_value(value))
        parts.append(rest)
        return ["".join(parts).encode(encoding)]

    return encode_named_values


CODEC = Codec("value", check, decoder, encoder, text_framer, batch_decoder=batch_decoder)
