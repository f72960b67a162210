"""Raw captures of a port: the file format, the ring every port keeps, a readable timeline.

The file format (version 1)
---------------------------
A capture is a short UTF-8 text header followed by binary records, so any byte a device sends
is kept exactly.

The header's first line is ``sensord-capture 1`` (the format's version); then ``key: value``
lines; an empty line ends it. sensord writes ``sensord`` (its version), ``sensor``, ``port``,
``serial`` (line settings, ``9600 8N1``), ``format`` (the sensor's wire format) and ``start``
(the UTC wall time of offset 0, ISO 8601). Readers ignore keys they do not know; a file of a
newer version is refused.

Each record is a 13-byte head and the bytes that crossed the line:

====== ====================================================================================
bytes  field
====== ====================================================================================
1      direction: ``R`` (0x52) received from the device, ``T`` (0x54) sent to it
8      offset: microseconds since ``start`` on the monotonic clock, unsigned big-endian
4      length N, unsigned big-endian
N      the bytes, as one read returned them (or as one write sent them)
====== ====================================================================================

A file cut anywhere (a recorder killed, a copy that stopped short) reads up to the cut: a
record whose head is complete keeps the bytes present, a partial head is dropped, and
``Capture.truncated`` says so. A file damaged inside (a record head with an unknown
direction) reads up to the damage, and ``Capture.damaged_at`` gives its byte offset.

The ring
--------
:class:`CaptureRing` keeps a port's most recent chunks with their arrival times, up to a byte
budget. Adding a chunk appends a reference to the chunk the reader already has (no copy) and
drops the oldest chunks past the budget; nothing is done per byte or per reading.
"""

from __future__ import annotations

import datetime
import struct
import time
from collections import deque
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import BinaryIO

from sensord.serial_settings import SerialSettings

__all__ = [
    "DEFAULT_RING_BYTES",
    "ENTRY_COST_BYTES",
    "FORMAT_VERSION",
    "MAGIC",
    "RX",
    "TX",
    "Capture",
    "CaptureError",
    "CaptureRing",
    "CaptureWriter",
    "Record",
    "describe_serial",
    "encode_capture",
    "format_timeline",
    "parse_capture",
    "read_capture",
]

MAGIC = "sensord-capture"
FORMAT_VERSION = 1
RX = "R"
TX = "T"

#: A port's ring by default: 17 s of a 9600-baud line running flat out, minutes to hours of a
#: sensor's usual output; 1 MiB for 64 ports.
DEFAULT_RING_BYTES = 16384

_HEAD = struct.Struct(">cQI")
_MAX_HEADER_BYTES = 65536
_DIRECTIONS = {b"R": RX, b"T": TX}


class CaptureError(ValueError):
    """The bytes are not a capture this sensord can read (the message says why)."""


@dataclass(frozen=True, slots=True)
class Record:
    """One read (``RX``) or write (``TX``), ``offset_s`` seconds after the capture's start."""

    direction: str
    offset_s: float
    data: bytes


@dataclass(slots=True)
class Capture:
    header: dict[str, str]
    records: list[Record] = field(default_factory=list)
    #: the file ended inside a record
    truncated: bool = False
    #: the byte offset of a record head that is not one (the records before it were read)
    damaged_at: int | None = None

    @property
    def rx_bytes(self) -> int:
        return sum(len(r.data) for r in self.records if r.direction == RX)

    @property
    def tx_bytes(self) -> int:
        return sum(len(r.data) for r in self.records if r.direction == TX)


def describe_serial(settings: SerialSettings) -> str:
    """Line settings as one short text: ``9600 8N1``, flow control appended (``rtscts``)."""
    text = f"{settings.baudrate} {settings.bytesize}{settings.parity}{settings.stopbits:g}"
    flags = [name for name in ("xonxoff", "rtscts", "dsrdtr") if getattr(settings, name)]
    return " ".join([text, *flags])


def utc_text(wall_s: float) -> str:
    """``wall_s`` (Unix time) as ``2026-11-30T22:00:00.123456Z``."""
    moment = datetime.datetime.fromtimestamp(wall_s, datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _header_bytes(header: Mapping[str, str]) -> bytes:
    lines = [f"{MAGIC} {FORMAT_VERSION}"]
    for key, value in header.items():
        if not key or ":" in key or "\n" in key:
            raise ValueError(f"invalid header key {key!r}")
        flat = " ".join(str(value).splitlines())
        lines.append(f"{key}: {flat}")
    return ("\n".join(lines) + "\n\n").encode("utf-8")


def _record_bytes(direction: str, offset_s: float, data: bytes) -> bytes:
    if direction not in (RX, TX):
        raise ValueError(f"direction must be {RX!r} or {TX!r}, got {direction!r}")
    micros = max(0, round(offset_s * 1e6))
    return _HEAD.pack(direction.encode("ascii"), micros, len(data)) + data


def encode_capture(header: Mapping[str, str], records: Iterable[Record]) -> bytes:
    """A whole capture file."""
    parts = [_header_bytes(header)]
    parts.extend(_record_bytes(r.direction, r.offset_s, r.data) for r in records)
    return b"".join(parts)


class CaptureWriter:
    """Writes a capture to an open binary file record by record (``sensord record``); each
    record is flushed, so a recorder that is killed leaves a file that reads up to its end."""

    def __init__(self, out: BinaryIO, header: Mapping[str, str]) -> None:
        self._out = out
        out.write(_header_bytes(header))
        out.flush()

    def write(self, direction: str, offset_s: float, data: bytes) -> None:
        self._out.write(_record_bytes(direction, offset_s, data))
        self._out.flush()


def parse_capture(data: bytes) -> Capture:
    """Read a capture from its bytes; CaptureError when the header is not one."""
    end = data.find(b"\n\n", 0, _MAX_HEADER_BYTES)
    if end < 0:
        if data.startswith(MAGIC.encode()) and len(data) < _MAX_HEADER_BYTES:
            end = len(data)  # cut inside the header: a capture without records
        else:
            raise CaptureError(f"not a sensord capture (no '{MAGIC}' header)")
    try:
        lines = data[:end].decode("utf-8").split("\n")
    except UnicodeDecodeError:
        raise CaptureError("the capture header is not UTF-8 text") from None
    magic, _, version = lines[0].partition(" ")
    if magic != MAGIC or not version.strip().isdigit():
        raise CaptureError(f"not a sensord capture (first line {lines[0][:40]!r})")
    if int(version) > FORMAT_VERSION:
        raise CaptureError(
            f"capture format version {int(version)} is newer than this sensord reads "
            f"({FORMAT_VERSION})"
        )
    header: dict[str, str] = {}
    for line in lines[1:]:
        key, sep, value = line.partition(":")
        if sep:
            header[key.strip()] = value.strip()
    capture = Capture(header)
    if end == len(data):
        capture.truncated = not data.endswith(b"\n\n")
        return capture
    pos = end + 2
    size = len(data)
    records = capture.records
    head_size = _HEAD.size
    while pos < size:
        if pos + head_size > size:
            capture.truncated = True
            break
        tag, micros, length = _HEAD.unpack_from(data, pos)
        direction = _DIRECTIONS.get(tag)
        if direction is None:
            capture.damaged_at = pos
            break
        pos += head_size
        chunk = data[pos : pos + length]
        pos += length
        if len(chunk) < length:
            capture.truncated = True
        if chunk:
            records.append(Record(direction, micros / 1e6, chunk))
    return capture


def read_capture(path: str) -> Capture:
    """Read the capture file at ``path`` (OSError when it cannot be read, CaptureError)."""
    with open(path, "rb") as f:
        return parse_capture(f.read())


# -- the ring ------------------------------------------------------------------------------------


#: About what Python spends on one entry of a ring besides its bytes (a 3-tuple, a float, a
#: bytes object's header): a ring holds at most ``max_bytes // ENTRY_COST_BYTES`` chunks, so a
#: port read a few bytes at a time cannot make it cost more than twice its budget.
ENTRY_COST_BYTES = 128


class CaptureRing:
    """The most recent chunks of one port: at most ``max_bytes`` of their bytes (0: keeps
    nothing) and at most ``max_bytes // ENTRY_COST_BYTES`` chunks (16 at least).

    ``rx``/``tx`` run on the reader thread; ``entries`` may be called from any thread (it
    copies the deque in one C-level step, retried if the reader appended meanwhile).
    """

    __slots__ = ("_bytes", "_entries", "_max_entries", "max_bytes")

    def __init__(self, max_bytes: int) -> None:
        self._entries: deque[tuple[float, str, bytes]] = deque()
        self._bytes = 0
        self.max_bytes = 0
        self._max_entries = 0
        self.resize(max_bytes)

    def rx(self, now: float, chunk: bytes) -> None:
        """A chunk read from the device at monotonic time ``now``."""
        if self.max_bytes:
            entries = self._entries
            entries.append((now, RX, chunk))
            self._bytes += len(chunk)
            if self._bytes > self.max_bytes or len(entries) > self._max_entries:
                self._trim()

    def tx(self, now: float, data: bytes) -> None:
        """Bytes written to the device (a poll request, set-up commands)."""
        if self.max_bytes:
            entries = self._entries
            entries.append((now, TX, data))
            self._bytes += len(data)
            if self._bytes > self.max_bytes or len(entries) > self._max_entries:
                self._trim()

    def _trim(self) -> None:
        entries = self._entries
        while len(entries) > self._max_entries:
            self._bytes -= len(entries.popleft()[2])
        while self._bytes > self.max_bytes and len(entries) > 1:
            self._bytes -= len(entries.popleft()[2])
        if self._bytes > self.max_bytes:  # one chunk larger than the ring: keep its tail
            now, direction, chunk = entries.popleft()
            tail = chunk[len(chunk) - self.max_bytes :]
            entries.append((now, direction, tail))
            self._bytes = len(tail)

    def resize(self, max_bytes: int) -> None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes must not be negative, got {max_bytes}")
        self.max_bytes = max_bytes
        self._max_entries = max(16, max_bytes // ENTRY_COST_BYTES)
        if max_bytes == 0:
            self._entries.clear()
            self._bytes = 0
        else:
            self._trim()

    def entries(self) -> tuple[tuple[float, str, bytes], ...]:
        """``(monotonic time, direction, bytes)`` of every chunk held, oldest first."""
        for _ in range(100):
            try:
                return tuple(self._entries)
            except RuntimeError:  # the deque changed during the copy
                continue
        return ()

    def capture(
        self,
        header: Mapping[str, str],
        *,
        clock_s: float | None = None,
        wall_s: float | None = None,
    ) -> bytes:
        """The ring's content as a capture file. ``start`` is the wall time of the oldest
        chunk (computed from the current monotonic ``clock_s`` and wall ``wall_s`` times)."""
        entries = self.entries()
        clock_s = time.monotonic() if clock_s is None else clock_s
        wall_s = time.time() if wall_s is None else wall_s
        first = entries[0][0] if entries else clock_s
        full = {**header, "start": utc_text(wall_s - (clock_s - first))}
        return encode_capture(full, (Record(d, t - first, data) for t, d, data in entries))


# -- the timeline --------------------------------------------------------------------------------

_BYTES_PER_LINE = 16


def _printable(data: bytes) -> str:
    return "".join(chr(b) if 0x20 <= b < 0x7F else "." for b in data)


def format_timeline(capture: Capture) -> Iterator[str]:
    """``sensord capture --show``: the header, then one block per record with its offset,
    direction and length, and the bytes as hex and ASCII, 16 to a line."""
    yield f"{MAGIC} {FORMAT_VERSION}"
    for key, value in capture.header.items():
        yield f"  {key}: {value}"
    rx = sum(1 for r in capture.records if r.direction == RX)
    tx = len(capture.records) - rx
    yield (
        f"  records: {rx} received ({capture.rx_bytes} bytes), {tx} sent "
        f"({capture.tx_bytes} bytes)" + ("; the file is truncated" if capture.truncated else "")
    )
    if capture.damaged_at is not None:
        yield f"  damaged: no record head at byte {capture.damaged_at}; what follows is not shown"
    previous = 0.0
    for record in capture.records:
        arrow = "<- rx" if record.direction == RX else "-> tx"
        gap = record.offset_s - previous
        previous = record.offset_s
        data = record.data
        lead = f"{record.offset_s:12.6f} (+{gap:10.6f}) {arrow} {len(data):5d}"
        for start in range(0, len(data), _BYTES_PER_LINE):
            piece = data[start : start + _BYTES_PER_LINE]
            hex_text = piece.hex(" ").ljust(_BYTES_PER_LINE * 3 - 1)
            yield f"{lead}  {hex_text}  |{_printable(piece)}|"
            lead = " " * len(lead)
