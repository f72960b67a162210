"""Read gpsd's regression captures through sensord's NMEA framer and decoder and compare what
they take with the intact sentences an independent scanner finds in the same bytes.

gpsd's source holds ``test/daemon/*.log``: captures of real receivers, NMEA 0183 of many
brands and eras with binary protocols mixed in, each with its origin in its ``#`` header
(``apt-get source gpsd`` unpacks them). For each capture the bytes gpsfake would send (its
``#`` comment lines left out, its ``Delay-Cookie`` bytes taken out) are scanned for intact
sentences: a ``$`` or ``!``, printable ASCII without ``$``, ``!`` or ``*``, ``*`` and two hex
digits that are the XOR of the bytes between, and a line end (LF after any number of CRs) or
the end of the capture. The same bytes go through the framer in reads of several sizes, as a
pty delivers them, and each frame through a decoder of every NMEA field; a frame the decoder
takes without a ParseError is taken. A difference is printed with what sensord made of the
sentence:

* ``missing``: an intact sentence not taken, with the decoder's reason and detail, and how
  many readings the error kept (a field the receiver wrote wrong under a checksum that
  holds); a GSV sentence 1 rejected as "cut before its end" begins the next group, which goes
  on from it: the error counts the group it cut, which lost its end;
* ``extra``: a frame taken that the scanner did not find: a sentence without checksum, or one
  whose checksum holds but that no line end follows (glued to the next sentence, bytes after
  its checksum).

A capture whose frames differ between read sizes is printed as such: framing is
chunking-invariant. The table's last line sums the captures.

Usage: .venv/bin/python scripts/nmea_audit.py GPSD_SOURCE/test/daemon [CAPTURE.log ...]
"""

from __future__ import annotations

import argparse
import random
import re
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from sensord.errors import ParseError  # noqa: E402
from sensord.formats import codec_for  # noqa: E402
from sensord.formats.base import FormatSpec  # noqa: E402
from sensord.formats.nmea_fields import NMEA_FIELDS  # noqa: E402
from sensord.formats.nmea_framer import checksum  # noqa: E402

#: An intact sentence: start character, body, checksum field, line end or the end.
INTACT = re.compile(rb"[$!]([\x20-\x7e]*?)\*([0-9A-Fa-f]{2})(?:\r*\n|\Z)")
#: A byte no sentence body holds.
NOT_IN_BODY = re.compile(rb"[$!*]")
#: A frame that ends in a checksum field.
CHECKED = re.compile(rb"\*[0-9A-Fa-f]{2}\Z")
#: gpsfake's delay cookie: the byte it writes up to and drops (``# Delay-Cookie: | 0.01``).
DELAY_COOKIE = re.compile(rb"^# Delay-Cookie: (\S)", re.M)
#: The read sizes: one byte at a time, a few bytes, a line or so, a pty's buffer.
READ_SIZES = (1, 7, 64, 4095)


def sent(path: Path) -> bytes:
    """The bytes gpsfake sends of the capture at ``path``: its lines but those that begin with
    ``#``, without its delay cookie."""
    data = path.read_bytes()
    cookie = DELAY_COOKIE.search(data)
    kept = b"".join(line for line in data.splitlines(keepends=True) if not line.startswith(b"#"))
    return kept.replace(cookie.group(1), b"") if cookie else kept


def intact(data: bytes) -> list[bytes]:
    """The intact sentences of ``data``, each up to its checksum (see the module)."""
    found: list[bytes] = []
    for start in re.finditer(rb"[$!]", data):
        match = INTACT.match(data, start.start())
        if match is None or NOT_IN_BODY.search(match.group(1)) is not None:
            continue
        if checksum(match.group(1)) == int(match.group(2), 16):
            found.append(match.group()[: match.end(2) - match.start()])
    return found


@dataclass
class Read:
    """What sensord made of a capture at one read size."""

    frames: list[bytes] = field(default_factory=list)
    taken: Counter[bytes] = field(default_factory=Counter)
    #: A frame rejected -> the decoder's reason and detail.
    rejected: dict[bytes, str] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)


def read(data: bytes, sizes: list[int]) -> Read:
    """``data`` through a fresh framer, in reads of ``sizes`` (cycled), and a decoder of every
    NMEA field."""
    spec = FormatSpec("nmea", tuple((name, name) for name in NMEA_FIELDS))
    codec = codec_for("nmea")
    framer = codec.framer(spec, b"\n", 512)
    parse = codec.sensor_decoder(spec, lambda: 0.0)
    out = Read()
    at = 0
    step = 0
    while at < len(data):
        size = sizes[step % len(sizes)]
        out.frames += framer.feed(data[at : at + size])
        at += size
        step += 1
    out.frames += framer.flush()
    for frame in out.frames:
        try:
            parse(frame)
        except ParseError as exc:
            out.errors[exc.reason] += 1
            kept = f" ({len(exc.kept)} of its readings kept)" if exc.kept else ""
            out.rejected.setdefault(frame, f"{exc.reason}: {exc.detail}{kept}")
            continue
        out.taken[frame] += 1
    return out


def audit(path: Path, rng: random.Random) -> tuple[list[str], Counter[str]]:
    """The lines the table prints for the capture at ``path``, and its counts."""
    data = sent(path)
    want = Counter(intact(data))
    sizes = [[size] for size in READ_SIZES] + [[rng.randint(1, 300) for _ in range(64)]]
    reads = [read(data, each) for each in sizes]
    first = reads[0]
    lines: list[str] = []
    if any(other.frames != first.frames for other in reads[1:]):
        lines.append("  frames differ between read sizes")
    missing = want - first.taken
    extra = first.taken - want
    unchecked = Counter({f: n for f, n in extra.items() if CHECKED.search(f) is None})
    unended = extra - unchecked
    for frame, n in missing.items():
        why = first.rejected.get(frame, "no frame")
        lines.append(f"  missing x{n} {frame[:90]!r}: {why}")
    for frame, n in unchecked.items():
        lines.append(f"  extra (no checksum) x{n} {frame[:90]!r}")
    for frame, n in unended.items():
        lines.append(f"  extra (no line end after its checksum) x{n} {frame[:90]!r}")
    counts = Counter(
        captures=1,
        found=sum(want.values()),
        taken=sum(first.taken.values()),
        missing=sum(missing.values()),
        unchecked=sum(unchecked.values()),
        unended=sum(unended.values()),
    )
    if lines:
        errors = ", ".join(f"{reason} {n}" for reason, n in sorted(first.errors.items()))
        head = (
            f"{path.name}: found {counts['found']}, taken {counts['taken']}"
            f" (rejected: {errors or 'none'})"
        )
        lines.insert(0, head)
    return lines, counts


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("daemon", type=Path, help="gpsd's test/daemon directory")
    parser.add_argument("captures", nargs="*", help="capture file names (default: every *.log)")
    args = parser.parse_args()
    names = args.captures or sorted(path.name for path in args.daemon.glob("*.log"))
    if not names:
        print(
            f"{args.daemon}: no *.log capture in it; give gpsd's test/daemon directory "
            "(GPSD_SOURCE/test/daemon), not the source's top",
            file=sys.stderr,
        )
        return 2
    rng = random.Random(96)
    total: Counter[str] = Counter()
    for name in names:
        lines, counts = audit(args.daemon / name, rng)
        total += counts
        for line in lines:
            print(line)
    print(
        f"{total['captures']} captures: {total['found']} intact sentences found, "
        f"{total['taken']} frames taken; {total['missing']} intact not taken, "
        f"{total['unchecked']} taken without checksum, {total['unended']} taken whose checksum "
        "no line end follows"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
