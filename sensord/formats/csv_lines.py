"""``format = "csv"``: delimited cells, one record per frame.

Cells are split by ``parse.delimiter``. A cell may be quoted in double quotes, as RFC 4180
has it: the text inside the quotes is the cell's, delimiters included, and ``""`` in it is one
quote (``"2004-11-11 15:03:45"``, ``"NAN"``, as Campbell Scientific loggers write their TOA5
records; ``"Date Time, GMT-04:00"``, a name in the header of a HOBOware export; ``""`` is an
empty cell). Spaces and tabs around the quotes are not the cell's. A quote inside a cell that
does not begin with one is that cell's text (an inch mark, ``12"``), as Python's csv module
reads it. A line with a quote that is not closed or text after a cell's closing quote is
``syntax``: its cells cannot be told apart, and reading them by index would read the wrong
ones. A line without a quote is split at each delimiter and nothing more.

A delimiter of one space splits at each run of spaces, and the spaces (and CRs and LFs) at a
line's ends make no cells: an instrument that prints its values right-aligned in columns
(``   0.00   0.0  25.14``) puts fewer spaces before a value that grows a digit or a sign, so
the cells of one column would otherwise move from one line to the next. A channel's ``field``
is a name from ``parse.columns`` or a 0-based column index written as a string (``"2"``).
With ``parse.header = true`` the device sends the column names as a header line before its
first record (and after a restart); a frame whose cells equal ``parse.columns`` (a trailing
delimiter's empty cell aside, as in a record) decodes to ``[]``.

Named columns are the device's layout: a record of another number of cells (a trailing
delimiter's empty cell aside) is ``syntax``, since a column the device left out (an output
switched off) or added would shift the others and read each value as another column's. With
indexes alone, a record may have any number of cells, and a channel whose column a record
lacks is absent from it: a row that ran into the next with its whole line end lost is read as
the first, the second lost uncounted. Named columns check the width of rows whose channels
read them by index too.

A CR or LF inside a line (not at its ends, and not the delimiter) is what is left of a line
end one byte of which was lost, joining two rows: the line is ``syntax``, as two rows run
together are when their cells are more than the named columns; read by index alone, the first
row's cells would be read and the second row lost uncounted.
"""

from __future__ import annotations

from collections.abc import Mapping

from sensord.errors import ParseError
from sensord.formats.base import Codec, Decoder, Encoder, FormatSpec
from sensord.formats.text import (
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

__all__ = ["CODEC", "quoted_cells"]

#: What may stand around a quoted cell's quotes without being its text: spaces and tabs, and the
#: CR or LF a terminator left at a line's end.
_AROUND_QUOTES = " \t\r\n"


def quoted_cells(text: str, delimiter: str, aligned: bool = False) -> list[str]:
    """The cells of a line that holds a double quote (RFC 4180): a cell quoted whole is the
    text inside its quotes, delimiters included, with ``""`` read as one quote. ``aligned``:
    the delimiter is one space, split at runs of spaces outside quotes, and the CRs and LFs
    at the line's ends are no cell; a quote inside a cell that does not begin with one is
    its text. Raises ParseError ``syntax`` for a quote that is not closed and text after a
    closing quote."""
    if aligned:
        text = text.strip("\r\n")
    parts = text.split(delimiter)
    cells: list[str] = []
    count = len(parts)
    i = 0
    while i < count:
        part = parts[i]
        i += 1
        if '"' not in part:
            if part or not aligned:
                cells.append(part)
            continue
        if not part.lstrip(_AROUND_QUOTES).startswith('"'):
            # a quote inside an unquoted cell is its text (an inch mark, ``12"``), as the
            # csv module reads it: only a cell that begins with one is quoted
            cells.append(part)
            continue
        cell = part
        while cell.count('"') % 2:  # its closing quote is after a delimiter
            if i == count:
                raise ParseError(
                    "syntax",
                    f"the quote that opens column {len(cells)} is not closed: {cell[:40]!r}",
                )
            cell += delimiter + parts[i]
            i += 1
        quoted = cell.strip(_AROUND_QUOTES)
        inner = quoted[1:-1]
        if not quoted.endswith('"') or '"' in inner.replace('""', ""):
            raise ParseError(
                "syntax",
                f"column {len(cells)} is quoted but holds a quote that is neither closing "
                f"nor doubled: {quoted[:40]!r}",
            )
        cells.append(inner.replace('""', '"'))
    return cells


def _column_index(field: str, columns: tuple[str, ...]) -> int | None:
    if field in columns:
        return columns.index(field)
    if field.isascii() and field.isdigit():
        index = int(field)
        if not columns or index < len(columns):
            return index
    return None


def _index(field: str, columns: tuple[str, ...]) -> int:
    index = _column_index(field, columns)
    if index is None:  # excluded by check()
        raise ValueError(f"unknown csv field {field!r}")
    return index


def check(spec: FormatSpec) -> list[tuple[str, str]]:
    problems = check_common(spec)
    if not spec.delimiter:
        problems.append(("parse.delimiter", "must not be empty"))
    elif '"' in spec.delimiter:
        problems.append(("parse.delimiter", "must not hold '\"', which quotes a cell"))
    columns = spec.columns
    if len(set(columns)) != len(columns):
        problems.append(("parse.columns", "column names must be unique"))
    for name in columns:
        if not name.strip() or name != name.strip():
            problems.append(("parse.columns", f"bad column name {name!r}"))
    problems.extend(
        check_separator(
            spec,
            "delimiter",
            spec.delimiter,
            f"a value 23{spec.decimal}4 would be two cells (instruments with a decimal comma "
            "use ';')",
        )
    )
    if spec.header and not columns:
        problems.append(("parse.columns", "header = true needs the column names"))
    if spec.header and spec.checksum == "nmea":
        problems.append(
            (
                "parse.header",
                "is not read with parse.checksum = 'nmea', whose every line begins with '$' "
                "and an address",
            )
        )
    for i, (_, field) in enumerate(spec.fields):
        index = _column_index(field, columns)
        if index == 0 and spec.checksum == "nmea":
            problems.append(
                (
                    f"channels[{i}].field",
                    "with parse.checksum = 'nmea' cell 0 is the '$' and the line's address "
                    "($PAMWV), no value",
                )
            )
        if index is not None:
            continue
        if columns:
            message = f"{field!r} is not one of the columns ({', '.join(columns)})"
        else:
            message = f"{field!r} is not a 0-based column index (no columns are named)"
        problems.append((f"channels[{i}].field", message))
    return problems


def decoder(spec: FormatSpec) -> Decoder:
    readers = value_readers(spec)
    targets = [
        (_index(field, spec.columns), channel, readers[field]) for channel, field in spec.fields
    ]
    encoding = spec.encoding
    delimiter = spec.delimiter
    header = list(spec.columns) if spec.header else None
    width = len(spec.columns)  # 0: no columns named, any number of cells
    aligned = delimiter == " "  # columns aligned with runs of spaces
    line_ends = line_ends_apart_from(delimiter)

    def parse_csv(frame: bytes) -> list[tuple[str, float]]:
        text = decode_text(frame, encoding)
        if ("\r" in text or "\n" in text) and (
            run_together := line_end_inside(text, line_ends)
        ) is not None:
            raise run_together
        if '"' in text:
            cells = quoted_cells(text, delimiter, aligned)
        elif aligned:  # a CR or LF the terminator left at an end is no column either
            cells = [cell for cell in text.strip("\r\n").split(delimiter) if cell]
        else:
            cells = text.split(delimiter)
        count = len(cells)
        # a trailing delimiter's empty cell is no column, in the header as in a record
        trailing = count == width + 1 and not cells[-1].strip()
        if (
            header is not None
            and (count == width or trailing)
            and cells[0].strip() == header[0]
            and [cell.strip() for cell in cells[:width]] == header
        ):
            return []
        if count != width and width and not trailing:
            raise ParseError(
                "syntax",
                f"{count} cells where parse.columns names {width}: a column left out or "
                "added would shift the others (name every column the device sends, or read "
                "the channels by 0-based index without columns)",
            )
        readings: list[tuple[str, float]] = []
        failed: ParseError | None = None
        for index, channel, read in targets:
            if index < count:
                text = cells[index].strip()
                if text:
                    try:
                        readings.append((channel, read(text)))
                    except ParseError as exc:
                        failed = field_failed(exc, failed, (channel,))
        readings = kept_readings(readings, failed)
        if not readings:
            raise no_channels()
        return readings

    return parse_csv


def encoder(spec: FormatSpec) -> Encoder:
    targets = [(field, _index(field, spec.columns)) for field in unique_fields(spec)]
    width = len(spec.columns) or max(index for _, index in targets) + 1
    delimiter = spec.delimiter
    encoding = spec.encoding

    printed = field_printers(spec)
    printers = [(field, index, printed[field]) for field, index in targets]

    def encode_csv(values: Mapping[str, float], t_s: float) -> list[bytes]:
        cells = ["0"] * width
        for field, index, printed in printers:
            value = values.get(field)
            cells[index] = "" if value is None else printed(value)
        return [delimiter.join(cells).encode(encoding)]

    return encode_csv


def header(spec: FormatSpec) -> bytes | None:
    """The column names, when the device sends a header line: a name that holds the delimiter
    or a quote quoted, as a HOBOware export quotes ``"Date Time, GMT-04:00"``."""
    if not spec.header:
        return None
    delimiter = spec.delimiter
    return delimiter.join(_header_cell(name, delimiter) for name in spec.columns).encode(
        spec.encoding
    )


def _header_cell(name: str, delimiter: str) -> str:
    if delimiter in name or '"' in name:
        return '"' + name.replace('"', '""') + '"'
    return name


CODEC = Codec("csv", check, decoder, encoder, text_framer, header)
