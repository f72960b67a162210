"""The codec interface: what a wire protocol provides, and the types it is built from.

A sensor speaks one protocol, named by its ``format`` key. The protocol's :class:`Codec` is the
single place that knows it: which settings make sense (``check``), how a byte stream becomes
frames (``framer``), how a frame becomes ``(channel, value)`` pairs (``decoder``), how values
become the exact frames a device sends (``encoder``, which the simulator uses, so decoder and
encoder are tested against each other) and what a device sends before its first frame
(``header``). Everything a codec builds is built once per sensor, from its :class:`FormatSpec`:
regexes compiled, column indexes and paths resolved, so nothing is looked up per frame.

Contracts:

* ``check(spec)`` lists every problem as ``(key, message)``; the key is a config key path
  relative to the sensor (``parse.pattern``, ``channels[1].field``). The other builders expect
  a spec for which ``check`` returned nothing.
* A :data:`Decoder` returns the readings of one frame, ``[]`` for a frame that is not meant for
  this sensor, or raises :class:`~sensord.errors.ParseError` with a reason, never anything
  else, whatever the bytes. A sensor's decoder (``Codec.sensor_decoder``) checks the checksum
  at the end of each line that ``spec.checksum`` (``parse.checksum``) names and gives the
  protocol's decoder the line without it, and returns ``[]`` for a line in which a regex of
  ``spec.ignore`` (``parse.ignore``) is found, before the protocol's decoder sees it; a sensor
  without either gets the protocol's decoder itself.
* An :data:`Encoder` takes values by field (the ``field`` half of ``spec.fields``) and the
  seconds since midnight, and returns frames without terminator. Fields without a value are
  left out.
* A :class:`Framer` cuts chunks into frames with a bounded buffer, whatever the chunking. Line
  protocols share the terminator framer of :mod:`sensord.formats.lines`; a binary protocol
  brings its own (a start sequence, a length and a checksum; or an RTU silence), which is why
  ``framer`` receives the spec and decides itself what the configured terminator means.
  When a polled sensor writes its request, the framer drops what it holds (``drop_pending``).
  At the end of the stream (a replay at the end of its capture) ``flush`` gives the frames the
  bytes it still holds make; what makes none is counted as skipped.

Modbus is a request/response protocol: its module (:mod:`sensord.formats.modbus`) also gives
the bus scheduler (:mod:`sensord.bus`) the reads a device's register map needs (``plan``) and
the framing of a port (``ModbusLink``: request frames, response frames cut from the byte
stream) and each read's expected reply (``Request``), which the bus checks and decodes; a
sensor then receives each answered read as one exchange frame, request and response, with its
values, and its decoder turns such frames into values when a capture of them is replayed.
Line protocols have none of this: a sensor with a ``[sensors.poll]`` table writes its fixed
request on a timer and reads the replies through the framer like any other frames.
"""

from __future__ import annotations

import contextlib
import math
import re
import struct
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from sensord.errors import ParseError
from sensord.formats.line_checksums import checked_line, checked_slowly

__all__ = [
    "BLOCK_KINDS",
    "DSMR_CRCS",
    "FLOAT32_MAX",
    "BatchDecoder",
    "Codec",
    "Decoder",
    "DecoderCounts",
    "DeviceModel",
    "Encoder",
    "FieldSpec",
    "FormatSpec",
    "FrameSpec",
    "Framer",
    "ModbusSpec",
    "RegisterSpec",
    "checking",
    "float32_decimal",
    "ignoring",
    "no_header",
]

#: The values of ``parse.block`` (:mod:`sensord.formats.blocks`, loaded by a sensor of
#: blocks).
BLOCK_KINDS = ("dsmr", "vedirect", "gill")
#: The values of ``parse.crc``: the CRC of a DSMR telegram, DSMR's own CRC-16/ARC or the
#: CRC-16/X-25 a Holley DTSD545 writes (:mod:`sensord.formats.blocks`).
DSMR_CRCS = ("crc16_arc", "crc16_x25")

#: One frame (terminator stripped) in, ``(channel, value)`` pairs out; raises only ParseError.
Decoder = Callable[[bytes], list[tuple[str, float]]]


@dataclass(slots=True)
class DecoderCounts:
    """What a sensor's decoder counts besides its errors (which it raises), read into the
    sensor's snapshot."""

    #: Frames read without an integrity check that their protocol has: NMEA sentences without
    #: a checksum, complete and of a type a channel reads. Their readings are unverified.
    unchecked: int = 0
    #: Frames ignored because a regex of ``parse.ignore`` was found in them (see
    #: :func:`ignoring`): no reading, and no sign that the device is read right either.
    ignored: int = 0
    #: Sentences in which a receiver said it has a fix, and that it has none (NMEA GGA's fix
    #: quality, RMC's status and mode; a position entered by hand or simulated is neither):
    #: the sensor compares them over time (``sensord.fix.FixWatch.watch``).
    fixes: int = 0
    no_fixes: int = 0
    #: The channels a receiver gives values to only with a fix (a position, a speed, the DOPs
    #: of a GSA): they have no current value once its fix is lost (``FixWatch.watch``); those of
    #: them that still get readings (GGA's fix quality 0) have them again at once.
    fix_channels: tuple[str, ...] = ()
    #: Frames of pairs none of whose keys a channel reads (``kv``: another message of the
    #: device's, or its error text, such as ``Error trying to execute readMeasurement(): ...``),
    #: or NMEA sentences of a type no channel reads (AIS, proprietary, another instrument's),
    #: and the last of them: no reading, and no rejection either.
    unread: int = 0
    unread_frame: bytes = b""
    #: The last lines ``parse.ignore`` named, each once and the latest last, at most
    #: :data:`IGNORED_LINES_KEPT` (:meth:`ignore`): what the sensor's hint quotes when it
    #: names every line.
    ignored_lines: dict[bytes, None] = field(default_factory=dict)

    def ignore(self, line: bytes) -> None:
        """``line`` was ignored (``parse.ignore`` named it): counted and kept in
        ``ignored_lines``."""
        self.ignored += 1
        lines = self.ignored_lines
        lines.pop(line, None)
        lines[line] = None
        if len(lines) > IGNORED_LINES_KEPT:
            del lines[next(iter(lines))]


#: How many of the last lines ``parse.ignore`` named a sensor keeps
#: (``DecoderCounts.ignored_lines``): a polled device's replies to each of its requests.
IGNORED_LINES_KEPT = 4


#: The frames of one chunk in, the one channel's values out (None: decode them one by one).
BatchDecoder = Callable[[list[bytes]], list[float] | None]

#: Values by field and the seconds since midnight in, the frames a device sends out.
Encoder = Callable[[Mapping[str, float], float], list[bytes]]


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One number in a binary frame: ``raw * scale + bias`` read at ``offset`` as ``type``."""

    name: str
    offset: int
    #: u8, i8, u16be, u16le, i16be, i16le, u32be, u32le, i32be, i32le, f32be or f32le.
    type: str
    scale: float = 1.0
    bias: float = 0.0
    #: raw values (as the type reads them, before ``scale`` and ``bias``) the device sends
    #: for "no value": a Davis console's 32767 (dashed) for a sensor out of reach
    not_available: tuple[int | float, ...] = ()
    #: the kinds of frame the field is in, each the bytes such a frame holds at the spec's
    #: ``kind_offset``: a device that sends several kinds of frame lays each out its own way,
    #: and may send one value in frames of several kinds (a report and a query's reply).
    #: Empty: every frame.
    kinds: tuple[bytes, ...] = ()
    #: a bit field: the raw value is ``bits`` bits of the (unsigned) number read, from bit
    #: ``bit`` on (0 is the least significant); None: the whole number
    bit: int | None = None
    bits: int = 1


@dataclass(frozen=True, slots=True)
class FrameSpec:
    """The layout of a binary frame (``format = "frames"``; see :mod:`sensord.formats.frames`).

    Positions are byte offsets from the start of the frame; a negative ``checksum_offset``,
    ``checksum_end`` counts from the end of the frame, as Python's indexes do.
    """

    start: bytes
    #: The fixed length of every frame, or None when a length field gives it.
    length: int | None = None
    length_offset: int = 0
    #: 0: no length field; 1, 2 or 4 bytes.
    length_size: int = 0
    length_byteorder: str = "big"
    #: "frame": the value is the whole frame's length; "after": the bytes after the field.
    length_counts: str = "after"
    #: Added to the length field's value: the bytes it does not count (a checksum after the
    #: counted bytes, say), or minus those it counts beyond the frame.
    length_adjust: int = 0
    #: The last byte of every frame (None: no end byte); with ``end_bytes`` of more than one,
    #: theirs.
    end: int | None = None
    #: The bytes every frame ends with (an LD2410's F8 F7 F6 F5), ``end`` the last of them;
    #: empty: ``end`` alone, if any.
    end_bytes: bytes = b""
    #: none, sum8, sum16be, sum16le, twos8, twos16be, twos16le, ones8, xor8, crc16_modbus,
    #: crc16_xmodem, crc16_ccitt_false, crc16_mcrf4xx, crc16_x25 or crc8.
    checksum: str = "none"
    checksum_start: int = 0
    #: None: up to the checksum.
    checksum_end: int | None = None
    #: 0: the last bytes before the end byte, if any.
    checksum_offset: int = 0
    fields: tuple[FieldSpec, ...] = ()
    #: The length (as the length field gives it) of the frames the device sends in reply to
    #: commands, with the same start bytes and checksum rule: cut and checked like frames,
    #: and read as frames without values. None: no such frames.
    reply_length: int | None = None
    #: The escape byte of HDLC-style byte stuffing (0x7D: ``7D 5E`` stands for 7E): each
    #: escape byte and the byte after it are read as that byte XOR 0x20 before frames are
    #: cut. None: no byte stuffing.
    escape: int | None = None
    #: The bytes at ``boot_offset`` of the frames a device sends while it boots (an MH-Z19's
    #: 15000 at bytes 6..7): read as frames without values; the device has restarted, so its
    #: warm-up starts again and its set-up commands are written again once it is up. Empty:
    #: no such frames.
    boot_bytes: bytes = b""
    boot_offset: int = 0
    #: The bits of each of ``boot_bytes`` that tell a frame of the boot, one mask byte to a
    #: boot byte (an MH-Z19's ``FE FF FF`` over its status byte and bytes 6..7: status 0 or
    #: 1 with 15000). Empty: every bit.
    boot_mask: bytes = b""
    #: The offset of a byte by which the device says whether the frame's values are valid
    #: (an SPS30's state, a CM1106's status): a frame whose byte, masked with
    #: ``status_mask``, is none of ``status_ok`` is a parse error ``invalid``, its values
    #: not read. None: no such byte.
    status_offset: int | None = None
    status_mask: int = 0xFF
    status_ok: tuple[int, ...] = ()
    #: The least silence of the device between two frames, in seconds: bytes held for a frame
    #: when the next bytes come after at least this long are of a frame cut short, and are
    #: dropped (skipped bytes), so that the next frame is searched from its first byte. For a
    #: frame whose data may hold its own start byte and checksum (an A02YYUW's ``FF 01 FF FF``
    #: at 511 mm), after a lost byte the frame boundary is found again. None: no such
    #: silence is known.
    silence_s: float | None = None
    #: The offset of the bytes that say which kind of frame a frame is (a JBD's command, a
    #: Daly's data id): a field with ``kinds`` is read only from the frames that hold the
    #: bytes of one of them there (of kinds of several lengths, the longest that matches).
    #: None: one kind of frame.
    kind_offset: int | None = None

    def __post_init__(self) -> None:
        if self.end is not None and not self.end_bytes:
            object.__setattr__(self, "end_bytes", bytes([self.end]))
        elif self.end is None and self.end_bytes:
            object.__setattr__(self, "end", self.end_bytes[-1])


@dataclass(frozen=True, slots=True)
class RegisterSpec:
    """One value in a Modbus device's register map (see :mod:`sensord.formats.modbus`)."""

    name: str
    #: holding, input, coil or discrete
    table: str
    #: 0-based address of the first register (or coil) of the value
    address: int
    #: int16, uint16, int32, uint32, int64, uint64, float32, float64 or bool
    type: str = "uint16"
    #: "big": the high byte of each register first (the Modbus standard); "little": swapped
    byte_order: str = "big"
    #: "big": the most significant register first; "little": the least significant first
    word_order: str = "big"
    #: what the device holds for "no value": for an integer type, its registers' bits as an
    #: unsigned number (0xFFFF, 0x8000 for an int16's -32768); for a float type, values
    not_available: tuple[int | float, ...] = ()
    #: a bit field: the value is ``bits`` bits of the registers, read as an unsigned number
    #: of the type, from bit ``bit`` on (0 is the least significant); None: the whole value
    bit: int | None = None
    bits: int = 1
    #: how a value's bits carry a sign other than its type says: ``"twos"``, a bit field in
    #: two's complement; ``"magnitude"``, the top bit of the field (or of the registers) the
    #: sign, 1 negative, and the others the magnitude; None: as the type says
    sign: str | None = None
    #: the name of the value in the same map whose number is the power of ten this value is
    #: scaled by (a SunSpec scale factor: ``value * 10**sf``); read in the same request
    scale_register: str | None = None
    #: the name of the value in the same map that says whether this one is valid (a
    #: device's status or error register); read in the same request: this value is not
    #: available unless the status's bits in ``status_mask`` (None: all of them) are one of
    #: ``status_ok``
    status_register: str | None = None
    status_mask: int | None = None
    status_ok: tuple[int, ...] = (0,)


@dataclass(frozen=True, slots=True)
class WriteSpec:
    """A write a Modbus device is given before it is read (``[[sensors.modbus.setup]]``):
    ``words`` (registers, or coils as 0 and 1) from ``address`` of ``table`` (holding or
    coil) with ``function`` (06 or 16 for registers, 05 or 15 for coils)."""

    table: str
    address: int
    words: tuple[int, ...]
    function: int


@dataclass(frozen=True, slots=True)
class ModbusSpec:
    """A Modbus device: its unit id, transport and register map."""

    unit: int
    #: "rtu" (serial line, or a serial line behind ``socket://``) or "tcp" (MBAP framing)
    transport: str
    registers: tuple[RegisterSpec, ...]
    #: registers (or coils) not in the map that a merged read may span between two values
    max_gap: int = 0
    #: the most registers one read asks for (devices whose firmware caps a read below the
    #: protocol's 125)
    max_registers: int = 125
    #: what it is written before it is read, at each open of its bus and when it answers
    #: again after it was down
    setup: tuple[WriteSpec, ...] = ()


@dataclass(frozen=True, slots=True)
class FormatSpec:
    """A sensor's wire format. ``fields`` holds ``(channel_name, field)`` pairs."""

    format: str
    fields: tuple[tuple[str, str], ...]
    #: value: a regex with exactly one group capturing the number.
    pattern: str | None = None
    #: value with a pattern: one frame as the device sends it; the simulator sends it with
    #: the pattern's group replaced by each value.
    example: str | None = None
    #: value with named groups: lines of other kinds the device sends (``parse.example`` as
    #: an array), each holding the numbers of some of the groups
    more_examples: tuple[str, ...] = ()
    #: kv: separator between pairs and between key and value.
    pair_separator: str = ","
    kv_separator: str = "="
    #: csv: cell delimiter, optional column names, and whether the device sends a header line.
    delimiter: str = ","
    columns: tuple[str, ...] = ()
    header: bool = False
    #: value, kv, csv, json: unit texts that may follow a number (``"hPa"`` in ``1013.2hPa``).
    units: tuple[str, ...] = ()
    #: value, kv, csv, json: ``(channel_name, unit_texts)`` of the channels whose own
    #: ``units`` replace ``units`` for their field (a weather station's ``C`` for its
    #: temperature, ``N``/``V``/``W``/``F`` for its heater's status).
    channel_units: tuple[tuple[str, tuple[str, ...]], ...] = ()
    #: value, kv, csv, json: ``(channel_name, ((text, number), ...))`` of the channels whose
    #: field may hold a state in words (``ON``, ``OFF``) in place of a number, and the number
    #: each reads as.
    channel_states: tuple[tuple[str, tuple[tuple[str, float], ...]], ...] = ()
    #: value, kv, csv, json: ``(channel_name, numbers)`` of the channels whose field holds
    #: one of ``numbers`` for "no value" (a VE.Direct ``TTG`` of -1): read as ``invalid``.
    channel_not_available: tuple[tuple[str, tuple[float, ...]], ...] = ()
    #: value, kv, csv, json: texts a device sends for a value it could not measure (``"ERR"``),
    #: alone or in place of the number or of its unit (``236#``, ``#M``); in kv, one of signs
    #: alone also right before a key (``*O2Concentration[uM]``).
    invalid: tuple[str, ...] = ()
    #: value, kv, csv, json: the decimal mark of the numbers a device prints (``"."`` or
    #: ``","``).
    decimal: str = "."
    #: value, kv, csv, json: NUL bytes at either end of a line are padding (the line framer
    #: strips and counts them) rather than the sign of a line cut short.
    nul_padding: bool = False
    encoding: str = "utf-8"
    #: value, kv, csv, json: regexes of the lines a device sends that carry no reading (a
    #: block's header or checksum line): a line in which one is found is ignored, not parsed.
    ignore: tuple[str, ...] = ()
    #: value, kv, csv, json: the kind of checked block the device sends its lines in
    #: (``"dsmr"``, ``"vedirect"``; see :mod:`sensord.formats.blocks`), or None.
    block: str | None = None
    #: dsmr, or value, kv, csv, json with ``block = "dsmr"``: the CRC of each telegram (one of
    #: :data:`DSMR_CRCS`), or None for DSMR's CRC-16/ARC.
    crc: str | None = None
    #: value, kv, csv, json: the kind of checksum at the end of each line (``"nmea"``,
    #: ``"xor"``, ``"sdi12"``; see :mod:`sensord.formats.line_checksums`), or None.
    checksum: str | None = None
    #: frames: the frame layout.
    frame: FrameSpec | None = None
    #: modbus: the device and its register map.
    modbus: ModbusSpec | None = None


class Framer(Protocol):
    """Chunks of bytes in, complete frames out (see the module docstring)."""

    #: Frames returned by ``feed``.
    frames: int
    #: Frames dropped because they were longer than the bound.
    overlong: int
    #: Bytes dropped between frames to resynchronise on a frame's start (noise on the line).
    skipped_bytes: int
    #: Candidate frames rejected by a binary framer, or blocks of lines whose check failed
    #: (``parse.block``), by parse error reason.
    rejected: dict[str, int]
    #: Frames the framer recognised as no reading and dropped (a VE.Direct device's HEX
    #: messages between its text blocks, an NMEA proprietary sentence longer than the bound).
    ignored: int

    def feed(self, chunk: bytes) -> list[bytes]:
        """Add ``chunk`` to the stream and return the frames it completed."""
        ...

    def reset(self) -> None:
        """Forget any partial frame (after a reconnect: a device unplugged while it sent
        it), counted in ``skipped_bytes``; the other counters are kept."""
        ...

    def drop_pending(self) -> None:
        """Drop the bytes held for a frame not complete yet, counted in ``skipped_bytes``: a
        request was just written to the device, and its reply cannot begin before it."""
        ...

    def flush(self) -> list[bytes]:
        """The stream has ended (a replay at the end of its capture): the frames the bytes
        held back for the next chunk still make, as if every frame candidate among them that
        has not all come failed its check; the bytes that make none are counted in
        ``skipped_bytes``. Nothing is held afterwards."""
        ...

    def no_frame_hint(self, data: bytes) -> str:
        """Why ``data``, bytes that arrived and gave no frame, may hold none: one line for an
        operator (wrong terminator, wrong serial settings, wrong frame spec)."""
        ...


def looks_like_text(data: bytes) -> bool:
    """UTF-8, or three bytes in four or more printable ASCII, tab, CR or LF (text with a few
    bytes of another 8-bit encoding, such as a Latin-1 degree sign): what a text protocol
    sends at the right serial settings, and what wrong ones (baudrate, parity) rarely give."""
    text = len(data) - len(data.translate(None, _TEXT_BYTES))
    if text >= 0.75 * len(data):
        return True
    try:
        decoded = data.decode("utf-8")
    except UnicodeDecodeError:
        return False
    shown = sum(1 for c in decoded if c.isprintable() or c in "\t\r\n")
    return shown >= 0.75 * len(decoded)


_TEXT_BYTES = bytes(range(0x20, 0x7F)) + b"\t\r\n"


class DeviceModel(Protocol):
    """The command side of a simulated device: what it does with the bytes written to it.

    ``receive`` returns the device's answers in order: a reply's bytes (an acknowledgement),
    or None for the data frames of one sample, which the simulator encodes like every other
    frame. The device sends data frames of its own at its sampling rate only while
    ``streaming`` is True.
    ``stamp`` makes an encoded data frame the one this device sends: the bytes of its own
    that no field holds (an SDS011's device id) filled in, its checksum still valid.
    """

    @property
    def streaming(self) -> bool: ...

    def receive(self, data: bytes) -> list[bytes | None]: ...

    def stamp(self, frame: bytes) -> bytes: ...


#: What a line's regexes do not see at its ends (:func:`regex_text`).
LINE_ENDS = "\r\n"


def regex_text(text: str) -> str:
    """A line's text as ``parse.pattern`` and ``parse.ignore`` see it: without the CRs and LFs
    at its ends that the framer left, so that ``^`` and ``$`` hold at the line's ends for a
    device that ends its lines ``\\r\\r\\n`` (a CR LF printed after a CR), ``\\n\\r``, or
    ``\\r\\n`` under ``terminator = "\\r"``."""
    return text.strip(LINE_ENDS)


def ignoring(spec: FormatSpec, decode: Decoder, counts: DecoderCounts | None = None) -> Decoder:
    """``decode``, or for a spec with ``ignore`` a decoder that returns ``[]`` (the frame is
    not meant for this sensor) for a frame in which one of its regexes is found, counted in
    ``counts.ignored``, and passes every other frame to ``decode``.

    The regexes see the frame decoded with ``spec.encoding`` whatever its bytes: a byte that is
    not text in that encoding (a VE.Direct block's checksum byte, 0x80 to 0xFF as often as not)
    stands as a lone surrogate, which ``.`` matches, so such a line is ignored rather than
    rejected as ``encoding``; a NUL stays a NUL. A frame the encoding cannot take even so
    (a truncated UTF-16 unit) is matched as Latin-1. CRs and LFs at the text's ends are not
    part of it (:func:`regex_text`).
    """
    if not spec.ignore:
        return decode
    searches = tuple(re.compile(regex).search for regex in spec.ignore)
    encoding = spec.encoding

    def decode_unless_ignored(frame: bytes) -> list[tuple[str, float]]:
        try:
            text = frame.decode(encoding, "surrogateescape")
        except UnicodeError:
            text = frame.decode("latin-1")
        text = regex_text(text)
        for search in searches:
            if search(text) is not None:
                if counts is not None:
                    counts.ignore(frame)
                return []
        return decode(frame)

    return decode_unless_ignored


def checking(
    spec: FormatSpec,
    decode: Decoder,
    counts: DecoderCounts | None = None,
    *,
    headed: bool = False,
) -> Decoder:
    """``decode`` behind :func:`ignoring`, or for a spec with ``checksum`` a decoder that checks
    each line first (:mod:`sensord.formats.line_checksums`) and passes it to ``decode``
    without its checksum characters when the check holds; it raises the check's ParseError
    when it does not.

    With ``ignore``, the regexes see the line without its checksum when its check holds, and
    a line without a checksum as it came (an SDI-12 sensor's ``atttn`` reply and service
    request, which carry none): such a line that one of them names is ignored (counted in
    ``counts.ignored``), not rejected as ``no_checksum``; a line whose checksum is there and
    fails is rejected whatever the regexes say. ``headed``: the device sends a header line
    (``Codec.header``); a line without a checksum that ``decode`` reads as that header whole
    (a csv device's column names) decodes to ``[]``, as it does with one: a header line is no
    record, whether the device seals it or not. A line
    that is no text in ``encoding`` and whose check fails for another reason than a checksum
    that does not hold is rejected as ``encoding``, as ``decode`` rejects it without
    ``checksum`` (see :func:`_not_text`). A spec without ``checksum`` gets :func:`ignoring`
    itself: its lines cost nothing more.
    """
    kind = spec.checksum
    if kind is None:
        return ignoring(spec, decode, counts)
    checked = checked_line(kind)
    encoding = spec.encoding

    def checked_slow(frame: bytes, named: Callable[[bytes], bool] | None) -> bytes | None:
        """``frame`` without its checksum, when ``checked`` did not take it at once; None for
        one without a checksum that ``named`` (``parse.ignore``) names, or that is the
        header line the format reads as such (``parse.header``)."""
        try:
            return checked_slowly(kind, frame)
        except ParseError as exc:
            if exc.reason == "no_checksum" and named is not None and named(frame):
                return None
            # an SDI-12 header whose last three characters could be a CRC fails as checksum
            if exc.reason in _NO_HEADER_CHECK and headed and _is_header(decode, frame):
                return None
            not_text = _not_text(frame, encoding, exc)
            if not_text is None:
                raise
            raise not_text from None

    if not spec.ignore:

        def decode_checked(frame: bytes) -> list[tuple[str, float]]:
            line = checked(frame)
            if line is None:
                line = checked_slow(frame, None)
                if line is None:  # the header line, sent without a checksum
                    return []
            return decode(line)

        return decode_checked

    searches = tuple(re.compile(regex).search for regex in spec.ignore)

    def named(line: bytes) -> bool:
        text = _regex_line(line, encoding)
        for search in searches:
            if search(text) is not None:
                if counts is not None:
                    counts.ignore(line)
                return True
        return False

    def decode_checked_unless_ignored(frame: bytes) -> list[tuple[str, float]]:
        line = checked(frame)
        if line is None:
            line = checked_slow(frame, named)
            if line is None:
                return []
        if named(line):
            return []
        return decode(line)

    return decode_checked_unless_ignored


#: The reasons a header line sent without a checksum fails its check for.
_NO_HEADER_CHECK = ("no_checksum", "checksum")


def _is_header(decode: Decoder, frame: bytes) -> bool:
    """``frame`` is the header line ``decode`` reads as such (to no readings: a csv device's
    column names). Its readings, if any, are not used: the line has no checksum."""
    try:
        return decode(frame) == []
    except ParseError:
        return False


def _not_text(frame: bytes, encoding: str, failed: ParseError) -> ParseError | None:
    """The ``encoding`` rejection of ``frame``, whose check failed (``failed``) for another
    reason than a checksum that does not hold, when it is no text in ``encoding`` (it holds a
    NUL, or does not decode), as the protocol's decoder rejects such a frame; None for any
    other. The garbage of a device read at another line speed ends in no checksum, and is
    the serial settings' to explain, not the device's output mode: the sensor's hint then
    names those (``sensord.rejects``)."""
    if failed.reason == "checksum":
        return None
    if 0 in frame:
        problem = "NUL byte in frame"
    else:
        try:
            frame.decode(encoding)
        except UnicodeError:
            problem = f"not valid {encoding}"
        else:
            return None
    return ParseError("encoding", f"{problem}; {failed.detail}")


def _regex_line(frame: bytes, encoding: str) -> str:
    """``frame`` as the regexes of ``parse.ignore`` see it (see :func:`ignoring`)."""
    try:
        text = frame.decode(encoding, "surrogateescape")
    except UnicodeError:
        text = frame.decode("latin-1")
    return regex_text(text)


def no_header(spec: FormatSpec) -> bytes | None:
    """The ``header`` of a protocol whose devices send nothing before their first frame."""
    del spec
    return None


@dataclass(frozen=True, slots=True)
class Codec:
    """One wire protocol: builders that each take the sensor's :class:`FormatSpec`."""

    #: The ``format`` value that selects this codec.
    name: str
    #: Problems with a spec, as ``(key, message)``; empty when the spec is usable.
    check: Callable[[FormatSpec], list[tuple[str, str]]]
    decoder: Callable[[FormatSpec], Decoder]
    encoder: Callable[[FormatSpec], Encoder]
    #: ``framer(spec, terminator, max_frame_bytes)``: a fresh framer for one sensor.
    framer: Callable[[FormatSpec, bytes, int], Framer]
    #: The frame a device sends before its first one and after a restart, if any.
    header: Callable[[FormatSpec], bytes | None] = no_header
    #: ``timed_decoder(spec, wall_clock, counts)``: for a protocol whose readings depend on
    #: when a frame arrives (NMEA's clock offset), the decoder reading ``wall_clock`` at
    #: arrival; it adds what it counts to ``counts`` (NMEA's unchecked sentences).
    timed_decoder: Callable[[FormatSpec, Callable[[], float], DecoderCounts], Decoder] | None = None
    #: ``counted_decoder(spec, counts)``: for a protocol that counts what it reads in
    #: ``counts`` without a clock (kv's frames of keys no channel reads)
    counted_decoder: Callable[[FormatSpec, DecoderCounts], Decoder] | None = None

    def sensor_decoder(
        self,
        spec: FormatSpec,
        wall_clock: Callable[[], float],
        counts: DecoderCounts | None = None,
    ) -> Decoder:
        """The decoder of one sensor whose host wall clock is ``wall_clock``; it counts in
        ``counts`` (a protocol without ``timed_decoder`` counts no unchecked frames there),
        checks the checksum ``spec.checksum`` names at the end of each line, and ignores the
        frames ``spec.ignore`` names, counted there too (see :func:`checking`)."""
        counts = DecoderCounts() if counts is None else counts
        headed = self.header(spec) is not None
        if self.timed_decoder is not None:
            decode = self.timed_decoder(spec, wall_clock, counts)
        elif self.counted_decoder is not None:
            decode = self.counted_decoder(spec, counts)
        else:
            decode = self.decoder(spec)
        return checking(spec, decode, counts, headed=headed)

    #: ``batch_decoder(spec)``: for a protocol of one channel, the values of a whole list of
    #: frames in one pass, or None from it when some frame needs ``decoder`` (which gives the
    #: reason); None here, or from the builder, when the spec has no such pass.
    batch_decoder: Callable[[FormatSpec], BatchDecoder | None] | None = None
    #: True for protocols whose frames carry no terminator (the simulator sends them as is).
    binary: bool = False
    #: The kind of checked block (:mod:`sensord.formats.blocks`) a protocol's lines always
    #: come in, which the simulator wraps them in; None: ``parse.block`` says.
    block: str | None = None


_FLOAT32_BITS = struct.Struct(">f")

#: The largest finite float32 (its bits 7F 7F FF FF): a float32 field or register holds no
#: larger value.
FLOAT32_MAX: float = _FLOAT32_BITS.unpack(b"\x7f\x7f\xff\xff")[0]


def float32_decimal(value: float) -> float:
    """A float32's value as the shortest decimal that is the same float32: 230.2, which the
    device holds as 230.1999969482421875, and not 230.1999969482422, which its exact value
    gives as a float64. Published and windowed as a person reads the register."""
    if not math.isfinite(value):
        return value
    bits = _FLOAT32_BITS.pack(value)
    for digits in range(1, 9):  # 9 significant digits give back any float32
        shorter = float(f"{value:.{digits}g}")
        with contextlib.suppress(OverflowError):  # rounded up past the largest float32
            if _FLOAT32_BITS.pack(shorter) == bits:
                return shorter
    return float(f"{value:.9g}")
