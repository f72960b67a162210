"""``format = "kv"``: ``key=value`` pairs.

Pairs are split by ``parse.pair_separator``, then at the first ``parse.kv_separator`` (which may
therefore be the ``parse.decimal`` mark: ``T,23,4``); keys and values are stripped of whitespace
and keys are case-sensitive. A channel's ``field`` is the key.
Pairs without a separator and keys not configured are ignored; a frame of pairs none of whose
keys is configured is not meant for this sensor (an instrument that sends several kinds of
message, such as a weather station's wind, PTU and supervisor lines) and decodes to ``[]``.

When ``parse.kv_separator`` is ``parse.pair_separator``, labels and values are cells between
the same separators (``CPS, 0, CPM, 13``; an Aanderaa smart sensor's ``MEASUREMENT``, product
and serial number, then each parameter's name and value, all separated by tabs): a cell that
is a configured key has its value in the next cell, and the other cells are passed over, so
cells before the first label or between the pairs shift nothing. A configured key followed by
another (``O2, T, 8.5``: a value left out) has no value, and the next key keeps its own.

An entry of ``parse.invalid`` of signs alone (no letter or digit: ``*``, ``#``) right before a
configured key marks that key's value invalid, and the value is not read: Aanderaa's smart
sensors print ``*`` before a parameter's name when the parameter has an error status (TD 269,
appendix 11: "A '*' will precede the parameter name if an error status related to the
specific parameter occur"). A key that is itself configured is read as itself.

A cell without ``parse.kv_separator`` that is a configured key followed by a number
(``Vrms240.00`` for ``Vrms:240.00``) is a pair whose separator was lost on the line: the line
is rejected as ``syntax`` rather than read without that key's value, uncounted.

A line that ran into the next one (its line end lost, with or without the first bytes of the
next) holds the pairs of two lines, and a pair made of both halves. When that pair is one a
channel reads, its value holds the other line's text and the line fails as ``syntax``, unless
what is left reads as a value (``Dm=1`` and the next line's ``82D``). Wherever the joint fell,
two signs tell such a line, and reject it as ``syntax``:

* a configured key twice (the same message of the device twice, as a device of one kind of
  line always sends): which of its values is this line's cannot be told;
* a configured key and ``parse.kv_separator`` inside another pair's value
  (``Sx=5.8MTa=16.1C``: the next line's pair run into one no channel reads), whose channel
  would be left out of the line uncounted.

A CR or LF inside a line (not at its ends, and neither separator) is what is left of a line
end one byte of which was lost (a CR LF line whose LF was lost: ``Sx=5.8M``, CR, ``0R2,...``):
the line is rejected as ``syntax`` too.

None costs a step per value: the first is one ``dict`` of the readings, the second one count
of the separators in the line, looked into only when a pair holds more than one, the third a
search for each line end in the line. A line that shows none of them is read: a joint between
two pairs, or inside one no channel reads that the next line's head or an unread key's value
continues (``Sx=5.8M0R2,Ta=16.1C``), leaves every other pair as the device sent it, and
nothing in the line tells it from a line of the device's without knowing what the values no
channel reads look like; only a check of the line (``parse.checksum``) does.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from sensord.errors import ParseError
from sensord.formats.base import Codec, Decoder, DecoderCounts, Encoder, FormatSpec
from sensord.formats.text import (
    ValueReader,
    channels_by_field,
    check_common,
    check_separator,
    decode_text,
    field_failed,
    field_printers,
    kept_readings,
    line_end_inside,
    line_ends_apart_from,
    no_channels,
    text_framer,
    unique_fields,
    value_readers,
)

__all__ = ["CODEC"]


def check(spec: FormatSpec) -> list[tuple[str, str]]:
    problems = check_common(spec)
    if not spec.pair_separator:
        problems.append(("parse.pair_separator", "must not be empty"))
    if not spec.kv_separator:
        problems.append(("parse.kv_separator", "must not be empty"))
    for i, (_, field) in enumerate(spec.fields):
        if not field.strip():
            problems.append((f"channels[{i}].field", "must name a key"))
        elif field != field.strip():
            problems.append((f"channels[{i}].field", "keys are matched without surrounding spaces"))
    # the kv_separator may be the decimal mark: a pair is split at its first one only
    problems.extend(
        check_separator(
            spec,
            "pair_separator",
            spec.pair_separator,
            f"T{spec.kv_separator}23{spec.decimal}4 would be split in two",
        )
    )
    return problems


def decoder(spec: FormatSpec) -> Decoder:
    return counted_decoder(spec, DecoderCounts())


def _flag_markers(invalid: tuple[str, ...]) -> list[str]:
    """The entries of ``parse.invalid`` that mark a key they stand right before: signs alone,
    without a letter or digit (``*``), which a letter would leave ambiguous (``E`` before
    ``C`` is the key ``EC``)."""
    return [entry for entry in invalid if not any(c.isalnum() for c in entry)]


def _flagged(flagged: str) -> ValueReader:
    """The reader of a key with a marker before it: its value is invalid, and not read."""

    def read_flagged(text: str) -> float:
        raise ParseError("invalid", f"{flagged[:40]!r} marks its value invalid")

    return read_flagged


def _glued_pair(
    keys: tuple[str, ...], decimal: str
) -> Callable[[str], re.Match[str] | None] | None:
    """The match of a cell without the key-value separator that begins with one of ``keys``
    and a number right after it (spaces and a sign aside): a pair whose separator was lost.
    None without keys."""
    if not keys:
        return None
    alternatives = "|".join(re.escape(key) for key in sorted(keys, key=len, reverse=True))
    return re.compile(rf"\s*(?:{alternatives})\s*[+-]?\s*{re.escape(decimal)}?\d").match


def _run_into(keys: tuple[str, ...], kv_separator: str) -> Callable[[str], str | None]:
    """The key of ``keys`` that, with ``kv_separator`` after it, stands inside a pair's
    value (``5.8MTa=16.1C``: the pair of another line run into it), or None."""

    def key_inside(value: str) -> str | None:
        at = value.find(kv_separator)
        while at >= 0:
            before = value[:at].rstrip()
            for key in keys:
                if before.endswith(key):
                    return key
            at = value.find(kv_separator, at + len(kv_separator))
        return None

    return key_inside


def _key_twice(pairs: list[str], kv_separator: str, keys: Mapping[str, object]) -> str | None:
    """The first of ``keys`` that two of ``pairs`` have, or None."""
    seen: set[str] = set()
    for pair in pairs:
        key, separator, _ = pair.partition(kv_separator)
        key = key.strip()
        if separator and key in keys:
            if key in seen:
                return key
            seen.add(key)
    return None


def counted_decoder(spec: FormatSpec, counts: DecoderCounts) -> Decoder:
    """The decoder; a frame of pairs none of whose keys a channel reads is no reading and no
    error, counted in ``counts.unread`` (and kept as ``counts.unread_frame``)."""
    readers = value_readers(spec)
    wanted = {
        key: (channels, readers[key]) for key, channels in channels_by_field(spec.fields).items()
    }
    for key, (channels, _) in list(wanted.items()):
        for marker in _flag_markers(spec.invalid):
            wanted.setdefault(marker + key, (channels, _flagged(marker + key)))
    encoding = spec.encoding
    pair_separator = spec.pair_separator
    kv_separator = spec.kv_separator
    labelled = kv_separator == pair_separator  # a key's value is the cell after it
    glued = None if labelled else _glued_pair(tuple(wanted), spec.decimal)
    line_ends = line_ends_apart_from(pair_separator, kv_separator)
    # the longest key first: a key that ends another (a, Ta) is named as the longer
    key_inside = _run_into(
        tuple(sorted(channels_by_field(spec.fields), key=len, reverse=True)), kv_separator
    )

    def labelled_pairs(cells: list[str], gapped: bool = False) -> list[str]:
        """The cells of a labelled line as pairs: a configured key joined to the cell after
        it; any other cell a key without a value (or, alone, no pair). ``gapped``: the line
        left a value out (``O2, T, 8.5``): a configured key followed by another has no
        value, and the other keeps its own."""
        if len(cells) < 2:
            return cells
        pairs: list[str] = []
        i, last = 0, len(cells) - 1
        while i <= last:
            cell = cells[i]
            if (
                i < last
                and cell.strip() in wanted
                and not (gapped and cells[i + 1].strip() in wanted)
            ):
                pairs.append(cell + kv_separator + cells[i + 1])
                i += 2
            else:
                pairs.append(cell + kv_separator)
                i += 1
        return pairs

    def parse_kv(frame: bytes, gapped: bool = False) -> list[tuple[str, float]]:
        """The readings of ``frame``; a labelled line one of whose keys is followed by another
        key where its value should be is read again as ``gapped`` (``labelled_pairs``)."""
        readings: list[tuple[str, float]] = []
        empty: list[str] = []  # the configured keys without a value
        paired = 0  # the pairs with a separator
        configured = False
        failed: ParseError | None = None
        line = decode_text(frame, encoding)
        if ("\r" in line or "\n" in line) and (
            run_together := line_end_inside(line, line_ends)
        ) is not None:
            raise run_together
        pairs = line.split(pair_separator)
        if labelled:
            pairs = labelled_pairs(pairs, gapped)
        for pair in pairs:
            key, separator, text = pair.partition(kv_separator)
            if not separator:
                if glued is not None and glued(pair):
                    raise ParseError(
                        "syntax",
                        f"{pair.strip()[:40]!r} is a key and its value without "
                        f"{kv_separator!r} between them",
                    )
                continue
            paired += 1
            target = wanted.get(key.strip())
            if target is None:
                continue
            channels, read = target
            configured = True
            text = text.strip()
            if not text:
                empty.append(key.strip())
                continue
            try:
                value = read(text)
            except ParseError as exc:
                if labelled and not gapped and text in wanted:
                    return parse_kv(frame, gapped=True)  # a key where its value should be
                failed = field_failed(exc, failed, channels)
                continue
            readings.extend((channel, value) for channel in channels)
        # a key read twice gives a channel twice; one whose value was empty or failed alone
        # is looked for only in a line that has such a value
        if (empty or failed is not None or len(dict(readings)) < len(readings)) and (
            twice := _key_twice(pairs, kv_separator, wanted)
        ) is not None:
            raise ParseError(
                "syntax", f"the key {twice!r} twice: two lines run together (a line end lost)"
            )
        if not labelled and line.count(kv_separator) > paired:  # a value holds a separator
            for pair in pairs:
                _, _, text = pair.partition(kv_separator)
                inside = key_inside(text)
                if inside is not None:
                    raise ParseError(
                        "syntax",
                        f"{pair.strip()[:40]!r} holds the key {inside!r} and its value: two "
                        "lines run together (a line end lost)",
                    )
        readings = kept_readings(readings, failed)
        if not readings:
            if paired and not configured:
                counts.unread += 1
                counts.unread_frame = frame
                return []
            if empty:
                raise ParseError(
                    "syntax",
                    f"the keys {', '.join(empty)} have no value (a blank after "
                    f"{kv_separator!r} splits it off when it is the pair separator)"
                    if pair_separator.isspace() and not labelled
                    else f"the keys {', '.join(empty)} have no value",
                )
            raise no_channels()
        return readings

    return parse_kv


def encoder(spec: FormatSpec) -> Encoder:
    fields = unique_fields(spec)
    pair_separator = spec.pair_separator
    kv_separator = spec.kv_separator
    encoding = spec.encoding

    #: a VE.Direct block holds one field a line, as a device sends it
    line_a_pair = spec.block == "vedirect"

    def joined(pairs: list[str]) -> list[bytes]:
        if line_a_pair:
            return [pair.encode(encoding) for pair in pairs]
        return [pair_separator.join(pairs).encode(encoding)]

    printed = field_printers(spec)
    printers = [(f, printed[f]) for f in fields]

    def encode_kv(values: Mapping[str, float], t_s: float) -> list[bytes]:
        return joined(
            [f"{f}{kv_separator}{text(values[f])}" for f, text in printers if f in values]
        )

    return encode_kv


CODEC = Codec("kv", check, decoder, encoder, text_framer, counted_decoder=counted_decoder)
