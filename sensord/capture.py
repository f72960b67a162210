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
budget, in a buffer of exactly that budget and two tables: adding chunks copies their bytes
round the buffer, over the oldest, and appends to the tables, a few C-level steps; the
tables' entries of chunks no longer held are dropped in one step once they hold half as
many again as the ring's chunk limit; nothing is done per byte or per reading. In the
daemon, a chunk reaches its port's ring through the reader's :class:`CaptureJournal`, which
gives every ring its chunks of many loop passes at once.
"""

from __future__ import annotations

import array
import bisect
import contextlib
import datetime
import itertools
import re
import struct
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

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
    "CaptureJournal",
    "CaptureRing",
    "CaptureWriter",
    "Record",
    "capture_files",
    "capture_header",
    "capture_stamp",
    "describe_serial",
    "encode_capture",
    "format_timeline",
    "next_capture_path",
    "parse_capture",
    "read_capture",
    "write_capture_file",
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
    if magic != MAGIC or not re.fullmatch(r"[0-9]+", version.strip()):  # not "²" (isdigit)
        raise CaptureError(f"not a sensord capture (first line {lines[0][:40]!r})")
    if int(version) < 1:
        raise CaptureError(f"capture format version {int(version)} does not exist (1 is the first)")
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


def capture_stamp(wall_s: float) -> str:
    """The time in a capture file's name: the wall clock's UTC time to the second."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(wall_s))


def capture_files(directory: Path, sensor: str) -> list[tuple[str, int, Path]]:
    """The capture files of ``sensor`` in ``directory`` (SIGUSR1's, ``sensord capture``'s), as
    (stamp, number, path), oldest first: by the wall clock's time in the name, and within one
    second by the number (``NAME-...Z.cap`` first, then ``-2``, ``-3``... up to ``-10`` and on)."""
    mine = re.compile(re.escape(sensor) + r"-(\d{8}T\d{6}Z)(?:-(\d+))?\.cap")
    found = []
    for p in directory.iterdir():
        match = mine.fullmatch(p.name)
        if match is not None:
            found.append((match[1], int(match[2] or 1), p))
    return sorted(found)


def next_capture_path(
    directory: Path, sensor: str, stamp: str, others: list[tuple[str, int, Path]]
) -> Path:
    """The name of ``sensor``'s next capture file in ``directory`` at ``stamp``, beside its
    files ``others`` (:func:`capture_files`): numbered after the highest of that second's
    (another capture within the second), so that it sorts after every one of them also when
    the oldest were removed."""
    numbers = [number for at, number, _ in others if at == stamp]
    if not numbers:
        return directory / f"{sensor}-{stamp}.cap"
    return directory / f"{sensor}-{stamp}-{max(numbers) + 1}.cap"


def write_capture_file(path: Path, data: bytes) -> None:
    """Write ``data`` as the file ``path``, whole or not at all: into ``NAME.part`` beside it,
    then renamed; a write that fails (a full disk) removes the part and raises OSError."""
    partial = path.with_name(path.name + ".part")
    try:
        partial.write_bytes(data)
        partial.replace(path)
    except OSError:
        with contextlib.suppress(OSError):
            partial.unlink(missing_ok=True)
        raise


def read_capture(path: str) -> Capture:
    """Read the capture file at ``path`` (OSError when it cannot be read, CaptureError)."""
    with open(path, "rb") as f:
        return parse_capture(f.read())


def capture_header(path: str) -> dict[str, str]:
    """The header of the capture file at ``path``, read from its first bytes only; empty when
    the file cannot be read or is no capture (its replay says why when it opens)."""
    try:
        with open(path, "rb") as f:
            head = f.read(_MAX_HEADER_BYTES)
        end = head.find(b"\n\n")
        return parse_capture(head if end < 0 else head[: end + 2]).header
    except (OSError, CaptureError):
        return {}


# -- the ring ------------------------------------------------------------------------------------


#: The ring holds at most ``max_bytes // ENTRY_COST_BYTES`` chunks (16 at least), so its bytes
#: are all kept while a port's reads average at least this many bytes; a port read a few bytes
#: at a time keeps its most recent chunks, 16 bytes of table per chunk.
ENTRY_COST_BYTES = 64


class CaptureRing:
    """The most recent chunks of one port: at most ``max_bytes`` of their bytes (0: keeps
    nothing) and at most ``max_bytes // ENTRY_COST_BYTES`` chunks (16 at least).

    The bytes go round one buffer of exactly ``max_bytes``, allocated when the first of them
    comes: a write copies them in place after the newest (in two pieces where it wraps), over
    the oldest, so a ring takes its budget and no more, and nothing in it is moved or
    allocated again while its port runs. Each chunk's arrival time and where it ends (its
    offset in every byte the ring was given) go to two arrays beside it: a few C-level steps
    per chunk, nothing per byte. A chunk is held while all its bytes are among the
    ``max_bytes`` written last; a chunk larger than the ring keeps its tail. The tables run
    up to half as much again as the chunks a ring holds; then ``_cut`` finds the oldest chunk
    still held by bisection and drops the entries before it in one step. Sent chunks are few
    (requests, set-up commands): their ends are kept in a list of their own, so a received
    chunk costs nothing to mark.

    Writes (``rx``, ``rx_many``, ``tx``) and ``resize`` run on the reader thread; ``entries``
    may be called from any thread. Every change runs inside a sequence number that is odd
    while it works and moves on every time; ``entries`` copies the tables and the buffer,
    each in one C-level step, and copies again when the number changed meanwhile.
    """

    __slots__ = (
        "_base",
        "_buf",
        "_ends",
        "_entry_limit",
        "_max_entries",
        "_seq",
        "_times",
        "_total",
        "_tx_ends",
        "max_bytes",
    )

    def __init__(self, max_bytes: int) -> None:
        if max_bytes < 0:
            raise ValueError(f"max_bytes must not be negative, got {max_bytes}")
        self.max_bytes = max_bytes
        self._max_entries = max(16, max_bytes // ENTRY_COST_BYTES) if max_bytes else 0
        self._entry_limit = self._max_entries + self._max_entries // 2
        self._buf = bytearray()
        self._total = 0  # every byte the ring was given; the buffer holds the last max_bytes
        self._base = 0  # where the tables' oldest chunk starts, in every byte given
        self._times = array.array("d")
        self._ends = array.array("q")  # where each chunk ends, in every byte given
        self._tx_ends: list[int] = []  # the ends of the sent chunks
        self._seq = 0

    def _write(self, data: bytes) -> None:
        """Copy ``data`` (its tail, when it is longer than the ring) after the newest bytes,
        over the oldest. The caller holds ``_seq`` odd."""
        size = self.max_bytes
        buf = self._buf
        if not buf:
            self._buf = buf = bytearray(size)
        count = len(data)
        total = self._total + count
        self._total = total
        if count >= size:  # the whole ring: its tail, ending where the offsets say
            view = memoryview(data)[count - size :]
            at = total % size
            buf[at:] = view[: size - at]
            buf[:at] = view[size - at :]
            return
        at = (total - count) % size
        end = at + count
        if end <= size:
            buf[at:end] = data
        else:
            view = memoryview(data)
            split = size - at
            buf[at:] = view[:split]
            buf[: count - split] = view[split:]

    def rx(self, now: float, chunk: bytes) -> None:
        """A chunk read from the device at monotonic time ``now``."""
        if self.max_bytes and chunk:
            self._seq += 1
            try:
                self._write(chunk)
                self._times.append(now)
                ends = self._ends
                ends.append(self._total)
                if len(ends) > self._entry_limit:
                    self._cut()
            finally:
                self._seq += 1

    def rx_many(self, times: list[float], chunks: list[bytes]) -> None:
        """Chunks read from the device, oldest first, each at its monotonic time in ``times``:
        what ``rx`` of each in turn gives, in a few C-level steps for all of them."""
        if not self.max_bytes:
            return
        if not all(chunks):  # an empty read is no chunk
            kept = [(now, chunk) for now, chunk in zip(times, chunks, strict=True) if chunk]
            times, chunks = [now for now, _ in kept], [chunk for _, chunk in kept]
            if not chunks:
                return
        self._seq += 1
        try:
            start = self._total
            self._write(b"".join(chunks))
            self._times.fromlist(times)
            ends = self._ends
            ends.extend(
                itertools.islice(itertools.accumulate(map(len, chunks), initial=start), 1, None)
            )
            if len(ends) > self._entry_limit:
                self._cut()
        finally:
            self._seq += 1

    def tx(self, now: float, data: bytes) -> None:
        """Bytes written to the device (a poll request, set-up commands). ``now`` may be the
        time of the loop pass, earlier than a chunk read in that pass: the record then takes
        the chunk's time, so the ring's times never go back."""
        if self.max_bytes and data:
            self._seq += 1
            try:
                self._write(data)
                times = self._times
                times.append(max(now, times[-1]) if times else now)
                end = self._total
                self._tx_ends.append(end)
                self._ends.append(end)
                if len(self._ends) > self._entry_limit:
                    self._cut()
            finally:
                self._seq += 1

    @staticmethod
    def _held_from(
        ends: Sequence[int], base: int, max_bytes: int, max_entries: int
    ) -> tuple[int, int]:
        """The index in ``ends`` of the oldest chunk a ring of ``max_bytes`` and
        ``max_entries`` holds, and the offset its held bytes start at (beyond its start when
        it is a chunk larger than the ring, cut to its tail)."""
        count = len(ends)
        if not count:
            return 0, base
        threshold = ends[-1] - max_bytes  # a chunk is held if it starts at or after this
        # the first chunk whose start (its predecessor's end) reaches the threshold; the newest
        # one (cut to its tail) when it alone is longer than the ring
        first = 0 if base >= threshold else min(bisect.bisect_left(ends, threshold) + 1, count - 1)
        first = max(first, count - max_entries)
        start = ends[first - 1] if first else base
        return first, max(start, threshold)

    def _cut(self) -> None:
        """Drop the table entries of every chunk the ring no longer holds. The caller holds
        ``_seq`` odd."""
        first, start = self._held_from(self._ends, self._base, self.max_bytes, self._max_entries)
        del self._ends[:first]
        del self._times[:first]
        del self._tx_ends[: bisect.bisect_right(self._tx_ends, start)]
        self._base = start

    def resize(self, max_bytes: int) -> None:
        """Hold at most ``max_bytes`` from now on, keeping the newest chunks that fit. The
        kept chunks are written into a new ring first, which then takes this one's place in
        a few assignments: a reader on another thread never waits on the copy."""
        if max_bytes < 0:
            raise ValueError(f"max_bytes must not be negative, got {max_bytes}")
        if max_bytes == self.max_bytes:
            return
        fresh = CaptureRing(max_bytes)
        if max_bytes:
            for now, direction, data in self.entries():
                (fresh.tx if direction == TX else fresh.rx)(now, data)
        self._seq += 1
        try:
            for name in self.__slots__:
                if name != "_seq":
                    setattr(self, name, getattr(fresh, name))
        finally:
            self._seq += 1

    def entries(self) -> tuple[tuple[float, str, bytes], ...]:
        """``(monotonic time, direction, bytes)`` of every chunk held, oldest first."""
        for _ in range(1000):
            seq = self._seq
            if seq & 1:  # a write or a resize is under way on the reader thread
                time.sleep(0)
                continue
            max_bytes, max_entries = self.max_bytes, self._max_entries
            ends = self._ends.tolist()
            tx_ends = set(self._tx_ends)
            times = self._times.tolist()
            buf = bytes(self._buf)
            base, total = self._base, self._total
            if self._seq == seq:
                break
        else:
            raise RuntimeError("the capture ring kept changing while it was being copied")
        if not ends:
            return ()
        first, start = self._held_from(ends, base, max_bytes, max_entries)
        at = total % max_bytes
        buf = buf[at:] + buf[:at]  # oldest first: every byte given from total - max_bytes
        origin = total - max_bytes
        out: list[tuple[float, str, bytes]] = []
        for now, end in zip(times[first:], ends[first:], strict=True):
            out.append((now, TX if end in tx_ends else RX, buf[start - origin : end - origin]))
            start = end
        return tuple(out)

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


class CaptureJournal:
    """The chunks of many rings since the last ``flush``, in one list.

    The reader loop reads one chunk from each of many ports in a pass, and every port's ring
    lies cold in the caches by the time its next chunk comes: writing each chunk into its ring
    at once costs more in cache misses than in work. A sensor hands its chunk to the journal
    instead (``add((ring, chunk, now))``, one C-level extend of a list the loop keeps warm),
    and ``flush`` gives each ring its chunks of many passes in one ``rx_many``. The reader
    flushes at its housekeeping (about once a second), whenever the journal holds
    ``flush_chunks`` chunks or a pass read a large chunk, before anything reads or resizes a
    ring, and when it stops; ``flush`` runs on the reader's thread (or, one at a time, on
    any thread while no loop runs). ``add`` may be called from any thread.
    """

    __slots__ = ("_items", "_lock", "add", "flush_chunks")

    def __init__(self, flush_chunks: int = 1024) -> None:
        self._items: list[Any] = []  # a ring, a chunk, its time; the next ring, ...
        #: one flush at a time: a capture asked from another thread while no loop runs (at
        #: shutdown) may flush while the thread that stops the reader does
        self._lock = threading.Lock()
        #: ``add((ring, chunk, now))``: ``chunk`` (not empty) for ``ring``, read at ``now``
        self.add = self._items.extend
        #: how many chunks the journal holds before the reader flushes it at a pass's end
        self.flush_chunks = flush_chunks

    def __len__(self) -> int:
        """The chunks held."""
        return len(self._items) // 3

    @property
    def due(self) -> bool:
        """True once the journal holds ``flush_chunks`` chunks."""
        return len(self._items) >= 3 * self.flush_chunks

    def flush(self) -> None:
        """Give every ring the chunks the journal holds for it, in the order they came."""
        if not self._items:
            return
        with self._lock:
            self._flush()

    def _flush(self) -> None:
        items = self._items[:]  # a chunk added meanwhile stays for the next flush
        del self._items[: len(items)]
        groups: dict[CaptureRing, tuple[list[float], list[bytes]]] = {}
        it = iter(items)
        for ring, chunk, now in zip(it, it, it, strict=True):
            group = groups.get(ring)
            if group is None:
                group = groups[ring] = ([], [])
            group[0].append(now)
            group[1].append(chunk)
        for ring, (times, chunks) in groups.items():
            ring.rx_many(times, chunks)


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
