"""A checksum at the end of each line of a text protocol (``parse.checksum``).

Some instruments end every line of text with a check of its bytes; without it, a byte changed
on the line inside a number still reads as a number, only a wrong one. With ``parse.checksum``
a sensor's decoder checks each line before its format reads it (see
:meth:`sensord.formats.base.Codec.sensor_decoder`): a line whose check holds is read without
its checksum characters, so its values read exactly as the line without them would; a line
whose check fails is rejected whole. Kinds:

``nmea``
    ``$`` (or ``!``), the line, ``*`` and two hex digits (either case): the XOR of the bytes
    between the ``$`` and the ``*``, as NMEA 0183 has it. The ``$`` is kept in the line read.
    Sent by instruments whose lines an ``nmea`` sensor does not read: a Vaisala WMT700 in its
    WS425 NMEA extended profile (``$PAMWV,120,R,002.10,M,A*hh``: "8-bit XOR, excluding $ and
    *", WMT700 User Guide M211095EN), other proprietary ``$P`` sentences, and the NMEA
    output of R. M. Young's ultrasonic anemometers ("the exclusive-or of all characters
    between '$' and '*'", 85000-90 and 85106-90 manuals, section 5.3.4), which ``format =
    "nmea"`` also reads.
``xor``
    The line, ``*`` and two hex digits: the XOR of every byte before the ``*``, the first
    included. R. M. Young's ultrasonic anemometers in their ASCII output (85000, 85004,
    85106; ``a www.w ddd ss*cc`` and CR: "the exclusive-or of all characters up to the
    asterisk", 85000-90 and 85106-90 manuals, section 5.3.2).
``sdi12``
    The line and three characters: the CRC-16/ARC of every byte before them (polynomial
    0xA001 reflected, initial value 0), 6 bits each in ``0x40 | bits``, the most significant
    first (SDI-12 specification 1.4, section 4.4.12: the reply to ``aD0!`` after ``aMC!`` or
    ``aCC!``, and to ``aRC0!``, ``0+3.14OqZ``). A Vaisala WXT530 series transmitter sends the
    same CRC after its ASCII replies to a command whose first letter is lowercase
    (``0r0Kld``; WXT530 User Guide M211840EN, "Polling with CRC"), a WMT700 after its SDI-12
    replies (``1+2.7+85.2-0.2-2.7+770.5CAH``, WMT700 User Guide M211095EN).

A Gill anemometer's message (STX, the line, ETX and the XOR of the bytes between them) is not
a line of these kinds: ``parse.block = "gill"`` checks it (:mod:`sensord.formats.blocks`).

A line's check fails for one of these reasons:

* ``checksum``: the checksum is there and does not hold, or an ``nmea`` line without its
  ``$`` ends in the XOR of all its bytes (the detail names another kind whose check holds,
  when one does: a device in another mode than ``parse.checksum`` says);
* ``no_checksum``: the line has no checksum of the kind at its end (no ``*`` before its last
  two characters; for ``sdi12``, last three characters that are no CRC: each from ``@`` to
  DEL, the first at most ``O``): the device does not send it (an SDI-12 sensor asked with
  ``aM!``, a WXT polled in uppercase), or sends another kind;
* ``truncated``: the line ends within its ``*hh`` (``*`` and at most one hex digit), or
  for ``sdi12`` in the first two characters of its CRC, its last one lost (a USB adapter
  that misses the last character of a reply with CRC: Arduino-SDI-12 issue 160);
* ``syntax``: ``*`` and two characters that are not hex digits, a line that is only its
  ``*hh``, or any other ``nmea`` line that does not begin with ``$`` or ``!``.

A sensor's decoder rejects a line that fails for any of these but ``checksum`` and is no text
in its encoding as ``encoding`` instead, as its format does without ``parse.checksum``
(:func:`sensord.formats.base.checking`).

The CRs and LFs at a line's ends (a line end the terminator left: CR LF read with
``terminator = "\\r"``), and the spaces, tabs and NULs after its checksum (a device that pads
its lines, which ``format = "nmea"`` reads past too), are not part of it: a line that has them
is checked without them. No checksum character is one of these. Any other byte after a
``*hh`` (an ETX, a token) leaves the line without a checksum at its end (``no_checksum``), and
the rejection's detail names the ``*hh`` and what follows it.

Cost: a line whose check holds costs one pass over its bytes in Python, and a sensor without
``parse.checksum`` none (its decoder is the format's own). Measured with CPython 3.11 on
x86-64: the XOR of a line shorter than :data:`_LOOP_BELOW` bytes is a loop over its bytes (14
bytes: 0.25 us, where ``functools.reduce(operator.xor, ...)`` takes 0.31 us); of a longer
one, the line read as one integer whose high half is XORed onto its low half until a byte is
left (64 bytes: 0.68 us, the loop 0.84 us, ``reduce`` 0.93 us; 1 KiB: 2.4 us, the loop 11 us).
Eight bit counts of the integer masked to each bit of every byte, and 8-byte words XORed
through a ``memoryview``, were no faster. The CRC is
:func:`~sensord.formats.crc.crc16_arc_short`, the 256-entry table a step a byte (30 bytes:
1.35 us), at SDI-12's 1200 baud a line or two a second at most.
"""

from __future__ import annotations

from collections.abc import Callable

from sensord.errors import ParseError
from sensord.formats.crc import crc16_arc_short

__all__ = [
    "LINE_CHECKSUMS",
    "checked_line",
    "checked_slowly",
    "holding_kind",
    "sdi12_crc",
    "seal",
    "xor8",
]

#: The values of ``parse.checksum``.
LINE_CHECKSUMS = ("nmea", "xor", "sdi12")

_STAR = 0x2A
_DOLLAR, _BANG = 0x24, 0x21
_LINE_ENDS = b"\r\n"
#: What may follow a line's checksum: its line end, and the padding of spaces, tabs and NULs
#: (the fill characters of a serial line, which ``format = "nmea"`` reads past too).
_AFTER_CHECKSUM = b" \t\r\n\x00"

#: Every pair of hex digits, in either case, and its value.
_HEX_PAIRS = {
    f"{a}{b}".encode(): int(f"{a}{b}", 16)
    for a in "0123456789ABCDEFabcdef"
    for b in "0123456789ABCDEFabcdef"
}
_HEX_DIGITS = frozenset(b"0123456789ABCDEFabcdef")

#: Lines shorter than this are XORed a byte at a time; longer ones folded as an integer.
_LOOP_BELOW = 56


def xor8(data: bytes) -> int:
    """The XOR of the bytes of ``data`` (0 for none)."""
    size = len(data)
    if size < _LOOP_BELOW:
        x = 0
        for byte in data:
            x ^= byte
        return x
    # the bytes as one integer, its high half XORed onto its low half until 8 bytes are left:
    # each step keeps the XOR of all the bytes
    x = int.from_bytes(data, "little")
    while size > 8:
        half = size >> 1
        x = (x >> 8 * half) ^ (x & ((1 << 8 * half) - 1))
        size -= half
    x ^= x >> 32
    x ^= x >> 16
    x ^= x >> 8
    return x & 0xFF


def sdi12_crc(data: bytes) -> bytes:
    """The three characters of the SDI-12 CRC of ``data``."""
    crc = crc16_arc_short(data)
    return bytes((0x40 | crc >> 12, 0x40 | (crc >> 6) & 0x3F, 0x40 | crc & 0x3F))


def _nmea_line(frame: bytes) -> bytes | None:
    end = len(frame) - 3
    if end > 0 and frame[end] == _STAR and (frame[0] == _DOLLAR or frame[0] == _BANG):
        expected = _HEX_PAIRS.get(frame[end + 1 :])
        if expected is not None and xor8(frame[1:end]) == expected:
            return frame[:end]
    return None


def _xor_line(frame: bytes) -> bytes | None:
    end = len(frame) - 3
    if end > 0 and frame[end] == _STAR:
        expected = _HEX_PAIRS.get(frame[end + 1 :])
        if expected is not None:
            line = frame[:end]
            if xor8(line) == expected:
                return line
    return None


def _sdi12_line(frame: bytes) -> bytes | None:
    end = len(frame) - 3
    if end > 0:
        first, second, third = frame[end], frame[end + 1], frame[end + 2]
        if first & 0xF0 == 0x40 and second & 0xC0 == 0x40 and third & 0xC0 == 0x40:
            line = frame[:end]
            if crc16_arc_short(line) == (first & 0x0F) << 12 | (second & 0x3F) << 6 | third & 0x3F:
                return line
    return None


_LINES: dict[str, Callable[[bytes], bytes | None]] = {
    "nmea": _nmea_line,
    "xor": _xor_line,
    "sdi12": _sdi12_line,
}


def checked_line(kind: str) -> Callable[[bytes], bytes | None]:
    """The line without its checksum characters when the check of ``kind`` (one of
    :data:`LINE_CHECKSUMS`) holds on it as it came, else None, which
    :func:`checked_slowly` then tells of; ValueError for another kind."""
    try:
        return _LINES[kind]
    except KeyError:
        raise ValueError(
            f"checksum must be one of {', '.join(LINE_CHECKSUMS)}; got {kind!r}"
        ) from None


def holding_kind(line: bytes) -> str | None:
    """The kind whose check holds on ``line``, if any (:data:`LINE_CHECKSUMS` in order)."""
    for kind in LINE_CHECKSUMS:
        if _LINES[kind](line) is not None:
            return kind
    return None


def seal(kind: str, line: bytes) -> bytes:
    """``line`` as a device that sends checksums of ``kind`` sends it: with its checksum
    (for ``nmea``, a line that begins with ``$`` or ``!``)."""
    if kind == "sdi12":
        return line + sdi12_crc(line)
    body = line[1:] if kind == "nmea" else line
    return line + b"*%02X" % xor8(body)


def checked_slowly(kind: str, frame: bytes) -> bytes:
    """``frame``, whose check of ``kind`` did not hold as it came, without its checksum
    characters when the check holds on it without the CRs and LFs at its ends and what may
    follow a checksum at its end (spaces, tabs, NULs); else the ParseError of why it
    fails is raised."""
    line = frame.lstrip(_LINE_ENDS).rstrip(_AFTER_CHECKSUM)
    if line != frame and line:
        found = _LINES[kind](line)
        if found is not None:
            return found
    raise _failed(kind, line)


def _failed(kind: str, line: bytes) -> ParseError:
    """Why the check of ``kind`` fails on ``line`` (without the CRs and LFs at its ends and
    what may follow a checksum at its end)."""
    other = holding_kind(line)
    named = (
        f"; its checksum holds as parse.checksum = {other!r} has it"
        if other is not None and other != kind
        else ""
    )
    if kind == "sdi12":
        end = len(line) - 3
        tail = line[end:] if end > 0 else b""
        if len(tail) < 3 or tail[0] & 0xF0 != 0x40 or any(c & 0xC0 != 0x40 for c in tail):
            if _sdi12_cut(line):
                return ParseError(
                    "truncated",
                    f"line cut in its SDI-12 CRC: it ends in {_quoted(line[-2:])}, the first "
                    f"two of the three characters its bytes make, {_quoted(sdi12_crc(line[:-2]))}",
                )
            return ParseError("no_checksum", f"no SDI-12 CRC at the end of the line{named}")
        return ParseError(
            "checksum",
            f"SDI-12 CRC mismatch: the line says {_quoted(tail)}, its bytes make "
            f"{_quoted(sdi12_crc(line[:end]))}{named}",
        )
    star = line.find(b"*", max(len(line) - 3, 0))
    if star < 0:
        return ParseError("no_checksum", f"no '*hh' at the end of the line{_after(line)}{named}")
    given = line[star + 1 :]
    if len(given) < 2:
        if all(c in _HEX_DIGITS for c in given):
            return ParseError("truncated", f"line cut in its checksum {_quoted(line[star:])}")
        return ParseError("syntax", f"bad checksum field {_quoted(line[star:])}")
    expected = _HEX_PAIRS.get(given)
    if expected is None:
        return ParseError("syntax", f"bad checksum field {_quoted(line[star:])}")
    if star == 0:
        return ParseError("syntax", f"no line before its checksum {_quoted(line)}")
    if kind == "nmea" and line[:1] not in (b"$", b"!"):
        if other is not None:
            return ParseError("checksum", f"no '$' or '!' at the start of the line{named}")
        return ParseError("syntax", "no '$' or '!' at the start of the line")
    computed = xor8(line[1:star] if kind == "nmea" else line[:star])
    return ParseError(
        "checksum",
        f"XOR checksum mismatch: the line says {_quoted(given)}, its bytes make "
        f"'{computed:02X}'{named}",
    )


def _sdi12_cut(line: bytes) -> bool:
    """Whether ``line``, which ends in no SDI-12 CRC, is an SDI-12 sensor's data line (its
    address, then a value's sign) that ends in the first two characters of the CRC of the
    bytes before them: one whose last character, its CRC's third, was lost. Its values end
    in a digit, which no CRC character is, so a data line sent without a CRC never ends so.
    Not told of other lines, whose text may end in letters from ``@`` to DEL (a Vaisala
    WXT's unit letters), nor of one whose last three characters could be a CRC (told as a
    CRC that does not hold): one in 1024 of those, damaged, would end so by chance."""
    return (
        len(line) > 3
        and line[1] in b"+-"
        and line[-2] & 0xF0 == 0x40
        and line[-1] & 0xC0 == 0x40
        and sdi12_crc(line[:-2])[:2] == line[-2:]
    )


def _after(line: bytes) -> str:
    """``; '*hh' is followed by ...`` when ``line``, which ends in no ``*hh``, has one before
    other bytes than may follow a checksum: a device that sends more after it."""
    star = line.rfind(b"*")
    if star <= 0 or _HEX_PAIRS.get(line[star + 1 : star + 3]) is None:
        return ""
    return (
        f"; {_quoted(line[star : star + 3])} is followed by {_quoted(line[star + 3 :][:20])}, "
        "where only the line end, spaces, tabs or NULs may follow a checksum"
    )


def _quoted(text: bytes) -> str:
    """``text`` quoted as a rejection's detail shows it."""
    return repr(text.decode("latin-1"))
