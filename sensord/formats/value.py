"""``format = "value"``: one number per frame.

Without ``parse.pattern`` the whole frame is the number. With it, ``re.search`` and the
pattern's single group capture the number; a frame the pattern matches without its group (an
alternative of the pattern that holds none) is one the device marks as holding no valid value,
such as a balance's unstable or overload line, and is ``invalid``; a frame it does not match is
``syntax``. Exactly one channel; its ``field`` is not used.

The simulator sends the bare number, or with a pattern and ``parse.example`` (one frame as the
device sends it, which the pattern must match) the example with the text of the pattern's group
replaced by the number. A pattern without an example simulates as the bare number.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from sensord.errors import ParseError
from sensord.formats.base import BatchDecoder, Codec, Decoder, Encoder, FormatSpec
from sensord.formats.lines import line_framer
from sensord.formats.text import (
    check_common,
    decode_text,
    number_text,
    reads_float_bytes_as_ascii,
    value_reader,
)

__all__ = ["CODEC"]


def check(spec: FormatSpec) -> list[tuple[str, str]]:
    problems = check_common(spec, uses_example=spec.pattern is not None)
    for i in range(1, len(spec.fields)):
        problems.append((f"channels[{i}].field", "format 'value' takes exactly one channel"))
    if spec.pattern is None:
        return problems
    try:
        compiled = re.compile(spec.pattern)
    except (re.error, OverflowError, RecursionError, ValueError) as exc:
        # re.compile raises more than re.error: OverflowError for a{99999999999},
        # RecursionError for very deep nesting
        problems.append(("parse.pattern", f"not a valid regular expression: {exc}"))
        return problems
    if compiled.groups != 1:
        problems.append(
            (
                "parse.pattern",
                f"needs exactly one group capturing the number; has {compiled.groups}",
            )
        )
    elif spec.example is not None:
        problems.extend(_check_example(compiled, spec.example, spec))
    return problems


def _check_example(
    pattern: re.Pattern[str], example: str, spec: FormatSpec
) -> list[tuple[str, str]]:
    encoding = spec.encoding
    if any(c in example for c in "\r\n\0"):
        return [("parse.example", "must be one frame: no line breaks or NUL")]
    try:
        example.encode(encoding)
    except UnicodeError:
        return [("parse.example", f"cannot be written in the encoding {encoding!r}")]
    except LookupError:
        pass  # an unknown encoding is reported as parse.encoding
    match = pattern.search(example)
    if match is None or match.group(1) is None:
        return [("parse.example", f"parse.pattern does not find a number in {example!r}")]
    try:
        value_reader(spec)(match.group(1))
    except ParseError:
        return [
            (
                "parse.example",
                f"parse.pattern captures {match.group(1)!r} in {example!r}, which is not a number",
            )
        ]
    return []


def _reads_plain_floats(spec: FormatSpec) -> bool:
    """True when a frame that ``float()`` reads is that number: no pattern around it, an
    ASCII-compatible encoding, a decimal point (with a decimal comma ``23.4`` is no number),
    and no ``parse.invalid`` text (which may look like a number)."""
    return (
        spec.pattern is None
        and not spec.invalid
        and spec.decimal == "."
        and reads_float_bytes_as_ascii(spec.encoding)
    )


def decoder(spec: FormatSpec) -> Decoder:
    channel = spec.fields[0][0]
    encoding = spec.encoding
    read = value_reader(spec)
    if _reads_plain_floats(spec):

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
            return [(channel, read(decode_text(frame, encoding)))]

        return parse_ascii_value

    if spec.pattern is None:

        def parse_value(frame: bytes) -> list[tuple[str, float]]:
            return [(channel, read(decode_text(frame, encoding)))]

        return parse_value

    search = re.compile(spec.pattern).search

    def parse_matched_value(frame: bytes) -> list[tuple[str, float]]:
        match = search(decode_text(frame, encoding))
        if match is None:
            raise ParseError("syntax", "pattern does not match")
        text = match.group(1)
        if text is None:
            raise ParseError("invalid", "pattern matched without its group")
        return [(channel, read(text))]

    return parse_matched_value


def batch_decoder(spec: FormatSpec) -> BatchDecoder | None:
    """``float`` mapped over a whole list of frames (C-level), for the specs the per-frame
    fast path reads (no pattern, an ASCII-compatible encoding, a decimal point): None when any
    frame is not a finite number without ``_``, and the per-frame decoder then finds which and
    why."""
    if not _reads_plain_floats(spec):
        return None

    def values_of(frames: list[bytes]) -> list[float] | None:
        try:
            values = list(map(float, frames))
        except ValueError:
            return None
        total = sum(values)
        if total - total != 0.0 or b"_" in b"".join(frames):  # a non-finite value (or sum)
            return None
        return values

    return values_of


def encoder(spec: FormatSpec) -> Encoder:
    field = spec.fields[0][1]
    encoding = spec.encoding
    decimal = spec.decimal
    before = after = ""
    if spec.pattern is not None and spec.example is not None:
        match = re.compile(spec.pattern).search(spec.example)
        if match is not None:  # check() makes sure it is
            before, after = spec.example[: match.start(1)], spec.example[match.end(1) :]

    def encode_value(values: Mapping[str, float], t_s: float) -> list[bytes]:
        value = values.get(field)
        if value is None:
            return []
        return [f"{before}{number_text(value, decimal)}{after}".encode(encoding)]

    return encode_value


CODEC = Codec("value", check, decoder, encoder, line_framer, batch_decoder=batch_decoder)
