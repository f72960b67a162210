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

With ``--compare`` the audit compares instead what sensord publishes from each capture with
what gpsd 3.27.5 decoded from it: the capture's ``.log.chk``, gpsd's output of its regression
run, each sentence gpsd read echoed and followed by the JSON reports it made of it (TPV, SKY,
GST, ATT). The readings and gpsd's values are matched by fix time: each belongs to the epoch of
the last sentence before it that carries a UTC time (GGA, RMC, GLL, GNS, GST, ZDA), as sensord
and gpsd each saw them, a sentence of those types without a time (a receiver without a fix)
beginning an epoch of its own when its epoch has had one of its type (:class:`Epochs`); every
sensord reading is compared with gpsd's value after a sentence of the reading's own type in
that epoch, else with any of gpsd's in the epoch (see :func:`compare` and
:func:`counterparts` for the fields, units and tolerances). A field read more than once in an
epoch is printed apart: duplicates (the same value each time) and disagreements, and how many
of them have more readings than the epoch's sentences give (sensord's own repeats, not a
receiver's sentence sent twice). The decoder's
host clock is the capture's ``# Date`` (``clock_offset`` and the week-rollover rule). Each
capture prints its counts, the fields that differ with their first examples, the readings
gpsd has no value for in their epoch and gpsd's values no reading has; the last lines sum the
captures by field, each field that differs with why (:data:`WHY_DIFFERENT`).

With ``--summary`` beside ``--compare`` the captures' own lines give way to the readings that
differ, sensord's only and gpsd's only, each by field with the captures they come from: the
classes to tell apart, sensord's, gpsd's or a naming difference (docs/testing.md).

Usage: .venv/bin/python scripts/nmea_audit.py [--compare [--summary]] GPSD_SOURCE/test/daemon
    [CAPTURE.log ...]
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

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
#: A capture's date in its header (``# Date: 2019-04-12``).
CAPTURE_DATE = re.compile(rb"^# Date *[:=] *(\d{4}-\d{2}-\d{2})\b", re.M)
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
    #: Each frame and the readings it gave, those an error kept too, in the order they came.
    readings: list[tuple[bytes, list[tuple[str, float]]]] = field(default_factory=list)


def read(data: bytes, sizes: list[int], wall_clock: float = 0.0) -> Read:
    """``data`` through a fresh framer, in reads of ``sizes`` (cycled), and a decoder of every
    NMEA field whose host clock reads ``wall_clock``."""
    spec = FormatSpec("nmea", tuple((name, name) for name in NMEA_FIELDS))
    codec = codec_for("nmea")
    framer = codec.framer(spec, b"\n", 512)
    parse = codec.sensor_decoder(spec, lambda: wall_clock)
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
            readings = parse(frame)
        except ParseError as exc:
            out.readings.append((frame, list(exc.kept)))
            out.errors[exc.reason] += 1
            kept = f" ({len(exc.kept)} of its readings kept)" if exc.kept else ""
            out.rejected.setdefault(frame, f"{exc.reason}: {exc.detail}{kept}")
            continue
        out.taken[frame] += 1
        out.readings.append((frame, readings))
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


# -- the readings against gpsd's decodes (--compare) ---------------------------------------------

#: A sentence type that carries the fix's UTC time of day -> the index of that field: the
#: epoch a reading belongs to is the time of the last of these before it.
TIMED = {"GGA": 1, "RMC": 1, "GNS": 1, "GST": 1, "ZDA": 1, "GLL": 5}
#: gpsd's gnssid of each constellation sensord names and of the SBAS (gpsd's gps.h).
GNSSID = {"gps": 0, "sbas": 1, "galileo": 2, "beidou": 3, "qzss": 5, "glonass": 6, "navic": 7}
KNOT_MPS = 1852.0 / 3600.0


@dataclass(frozen=True)
class Counterpart:
    """The gpsd value a sensord channel is compared with: ``key`` (``TPV.lat``, or a figure
    of SKY's satellite list such as ``SKY.in_view_gps``), sensord's value times ``scale`` in
    gpsd's unit, equal within ``tolerance`` (gpsd's unit): half the last digit gpsd prints,
    and a little more for the float arithmetic of either side."""

    key: str
    scale: float = 1.0
    tolerance: float = 1e-9


def counterparts() -> dict[str, Counterpart]:
    """sensord's NMEA field -> its gpsd counterpart. gpsd 3.27.5 prints latitude and longitude
    to 9 decimals (degrees), altitudes to 4 (metres), speed (m/s), DOPs to 2, the GST figures
    to 3, a time to the millisecond; a count is exact."""
    found: dict[str, Counterpart] = {}
    for sentence in ("GGA", "RMC", "GLL", "GNS"):
        found[f"{sentence}.latitude"] = Counterpart("TPV.lat", 1.0, 6e-10)
        found[f"{sentence}.longitude"] = Counterpart("TPV.lon", 1.0, 6e-10)
    for sentence in ("GGA", "GNS"):
        found[f"{sentence}.altitude"] = Counterpart("TPV.altMSL", 1.0, 6e-5)
        found[f"{sentence}.hdop"] = Counterpart("SKY.hdop", 1.0, 6e-3)
    # GNS's satellites in use have none: gpsd reads them only to tell a 3D fix from a 2D one
    found["GGA.satellites"] = Counterpart("SKY.uSat", 1.0, 0.0)
    found["GGA.fix_quality"] = Counterpart("TPV.status")
    found["RMC.speed"] = Counterpart("TPV.speed", KNOT_MPS, 6e-4)
    found["VTG.speed_knots"] = Counterpart("TPV.speed", KNOT_MPS, 6e-4)
    # gpsd reads VTG's knots, not its km/h: the two fields as a receiver rounds them (to one
    # decimal, as many do) agree to 0.05 km/h and 0.05 knots, 0.04 m/s
    rounded = 0.05 / 3.6 + 0.05 * KNOT_MPS + 6e-4
    found["VTG.speed_kmh"] = Counterpart("TPV.speed", 1.0 / 3.6, rounded)
    found["RMC.course"] = Counterpart("TPV.track", 1.0, 6e-5)
    found["VTG.course"] = Counterpart("TPV.track", 1.0, 6e-5)
    found["RMC.clock_offset"] = Counterpart("TPV.time", 1.0, 6e-4)
    found["ZDA.clock_offset"] = Counterpart("TPV.time", 1.0, 6e-4)
    found["GSA.fix_mode"] = Counterpart("TPV.mode", 1.0, 0.0)
    found["GSA.satellites_used"] = Counterpart("SKY.uSat", 1.0, 0.0)
    for dop in ("pdop", "hdop", "vdop"):
        found[f"GSA.{dop}"] = Counterpart(f"SKY.{dop}", 1.0, 6e-3)
    for name, key in (
        ("rms", "rms"),
        ("error_major", "major"),
        ("error_minor", "minor"),
        ("error_orientation", "orient"),
        ("latitude_error", "lat"),
        ("longitude_error", "lon"),
        ("altitude_error", "alt"),
    ):
        found[f"GST.{name}"] = Counterpart(f"GST.{key}", 1.0, 6e-4)
    # the marine sentences gpsd reads: headings and rate of turn (ATT), depth, the relative
    # wind (MWV's of reference R) and the true wind over ground (MWD: gpsd's wanglet is its
    # direction, not MWV's true angle off the bow) in TPV; degrees, degrees a minute and metres
    # as sensord's, gpsd's wind speeds in m/s to one decimal
    for name, key in (
        ("HDT.heading", "ATT.heading"),
        ("THS.heading", "ATT.heading"),
        ("ROT.rate", "ATT.rot"),
        ("DBT.depth", "TPV.depth"),
        ("DPT.depth", "TPV.depth"),
        ("MWV.wind_angle", "TPV.wangler"),
        ("MWD.wind_direction", "TPV.wanglet"),
        ("MWD.wind_direction_magnetic", "TPV.wanglem"),
    ):
        found[name] = Counterpart(key, 1.0, 6e-3)
    found["MWV.wind_speed_mps"] = Counterpart("TPV.wspeedr", 1.0, 0.05 + 6e-4)
    found["MWD.wind_speed_mps"] = Counterpart("TPV.wspeedt", 1.0, 0.05 + 6e-4)
    for constellation in GNSSID:
        for stat in ("in_view", "snr_mean", "snr_max"):
            tolerance = 0.0 if stat == "in_view" else 1e-6
            key = f"SKY.{stat}_{constellation}"
            found[f"GSV.{stat}_{constellation}"] = Counterpart(key, 1.0, tolerance)
        if constellation != "sbas":
            found[f"GSA.used_{constellation}"] = Counterpart(f"SKY.used_{constellation}")
    return {name: part for name, part in found.items() if name in NMEA_FIELDS}


#: sensord field -> why its readings differ from gpsd's in gpsd 3.27.5's captures: where the
#: standard's text (as receiver manuals quote it) has sensord read the sentence as written and
#: gpsd publish a value of its own making, but for some GSV fields (a signal a ZED-F9R adds
#: in mid-stream), a difference of sensord's. ``--compare`` prints it beside the field's
#: totals.
WHY_DIFFERENT = {
    "GSA.fix_mode": "GSA's own mode field (1 no fix, 2 2D, 3 3D); gpsd's TPV mode is its own, "
    "3D from a GGA with an altitude and 4 satellites or more, no fix from one with fewer than 3",
    "GSA.satellites_used": "gpsd's uSat is the last GGA's count when a GGA set it last: 12 at "
    "most (GGA's 00-12) and one constellation's on receivers with a GGA per talker",
    "GGA.satellites": "gpsd's uSat is the epoch's last GGA's count: a SiRFstarV's or Telit "
    "PLS83's GGA of its second talker counts that constellation only (sensord reads the first)",
    "GGA.hdop": "gpsd drops a DOP of 99 or more; the standard's HDOP runs to 99.9 and sensord "
    "reads it (jl-micro-jlt.log, a GGA its header calls non-standard, writes 99.0)",
    "GSA.pdop": "gpsd ignores the DOPs of a GSA of 24 satellites (CH-4701) and prints its own",
    "GSA.hdop": "gpsd ignores the DOPs of a GSA of 24 satellites (CH-4701) and prints its own",
    "GSA.vdop": "gpsd ignores the DOPs of a GSA of 24 satellites (CH-4701) and prints its own",
    "RMC.clock_offset": "gpsd dates captures of 2007 to 2015 1024 weeks late (its week-rollover "
    "guess from its own build date); sensord's host clock is the capture's # Date",
    "ZDA.clock_offset": "gpsd dates captures of 2007 to 2015 1024 weeks late; the header of "
    "gp-320fw-2019-04-07-coldboot.log says 2010, too early for its 1999 ZDA to be a rollover",
    "VTG.speed_kmh": "gpsd reads VTG's knots, never its km/h field, which some receivers write "
    "apart from the knots; and see VTG.speed_knots",
    "VTG.speed_knots": "a multiplexer's stream (bundg_zeus_9.log) whose VTG and RMC come after "
    "gpsd reported the epoch: gpsd's speed is its own, from the change of position",
    "RMC.speed": "a multiplexer's stream (bundg_zeus_9.log) whose RMC comes after gpsd "
    "reported the epoch: gpsd's speed is its own, from the change of position",
    "RMC.course": "as RMC.speed: gpsd's track is its own, from the change of position",
    "VTG.course": "as RMC.speed: gpsd's track is its own, from the change of position",
    "GGA.altitude": "gpsd takes the altitude of a proprietary sentence over GGA's (Garmin's "
    "$PGRMZ in feet, Ashtech's $PASHR)",
}
for name in ("latitude", "longitude"):
    for sentence in ("GGA", "RMC"):
        WHY_DIFFERENT[f"{sentence}.{name}"] = (
            "a receiver that writes GGA and RMC of one epoch with positions apart (other "
            "decimals, or a multiplexer's two sources): gpsd reported the epoch after the other"
        )
for constellation in GNSSID:
    for stat in ("in_view", "snr_mean", "snr_max"):
        WHY_DIFFERENT[f"GSV.{stat}_{constellation}"] = (
            "gpsd starting some captures with a sky of no satellite; gpsd reporting no sky "
            "for a GSV group that lists none (eXplorist210.log before its first fix: 0 in view, "
            "gpsd's next report 12); gpsd's sky cleared within "
            "st-teseo-liv4f.log's last epoch, short of its E5a group's satellites; gpsd reading "
            "a GSV entry without satellite number one field on (quectel-eg25-g.log 19:15:32.98: "
            "the elevation as a number, the signal ID as an SNR, a satellite at 1 dB-Hz); "
            "a signal ublox-zed-f9r.log adds in mid-stream (GPS 04 under signal ID 0 at "
            "23:14:17, GLONASS 85 on L2 OF at 23:14:23): sensord's one reading of the epoch "
            "comes at the groups its epochs have had, the new group counted from the next"
        )
    WHY_DIFFERENT[f"GSA.used_{constellation}"] = (
        "gpsd marks a satellite used only if the epoch's GSV lists it with an SNR above 0; "
        "GSA lists the satellites used in the solution whatever their GSV entry"
    )


#: GGA's fix quality -> gpsd's TPV status (gpsd's gps.h STATUS_*, as its processGGA sets it):
#: 1 GPS, 2 DGPS, 3 PPS_FIX (9), 4 RTK_FIX (3), 5 RTK_FLT (4), 6 DR (5), 7 TIME (7), 8 SIM.
GGA_STATUS = {0.0: 0.0, 1.0: 1.0, 2.0: 2.0, 3.0: 9.0, 4.0: 3.0, 5.0: 4.0, 6.0: 5.0, 7.0: 7.0}
GGA_STATUS[8.0] = 8.0
#: A TPV without status: gpsd prints none for 0 (unknown) and 1 (GPS fix).
STATUS_0_OR_1 = -1.0
#: Fields read once per sentence whose gpsd counterpart sums an epoch's sentences: each GSA
#: lists the satellites of its constellation (or signal), gpsd's uSat after the epoch's last
#: GSA counts those of every GSA of the epoch.
SUMMED = frozenset({"GSA.satellites_used"})


def epoch_of(sentence: bytes) -> tuple[str, float | None]:
    """The sentence type of an NMEA sentence, and its UTC time of day in seconds when it is of
    a type of :data:`TIMED` and its time field reads as one."""
    text = sentence.decode("latin-1").strip()
    body = text[1:].split("*", 1)[0]
    fields = body.split(",")
    kind = fields[0][2:] if len(fields[0]) == 5 else fields[0]
    at = TIMED.get(kind)
    if at is None or at >= len(fields):
        return kind, None
    clock = fields[at]
    if len(clock) < 6 or not clock[:6].isdigit():
        return kind, None
    try:
        seconds = float(clock[4:])
    except ValueError:
        return kind, None
    return kind, round(int(clock[:2]) * 3600 + int(clock[2:4]) * 60 + seconds, 3)


#: An epoch: the UTC time of day of its timed sentences (None before the first), and how many
#: epochs without a time have begun since that time (0 for the timed epoch itself).
Epoch = tuple[float | None, int]
#: (epoch, key or field) -> the values in the order they came, each with the sentence type
#: of the sentence after which it came.
Values = dict[tuple[Epoch, str], list[tuple[str, float]]]


class Epochs:
    """The epoch of each sentence of a stream, sensord's frames or gpsd's echoes alike: a
    sentence of :data:`TIMED` with a time begins the epoch of that time; one whose time field
    is empty (a receiver without a fix: ``$GPGGA,,,,,,0,,,,,,,,*66``, gpsd's capture
    quectel.log after 02:20:38) begins an epoch of its own when the epoch under way has had a
    timed sentence of its type already, each such epoch numbered after the last time."""

    def __init__(self) -> None:
        self.epoch: Epoch = (None, 0)
        #: the sentence types of TIMED the epoch under way has had
        self._had: set[str] = set()

    def step(self, sentence: bytes) -> str:
        """The sentence type of ``sentence``, :attr:`epoch` moved on to the one it begins."""
        kind, time_of_day = epoch_of(sentence)
        if kind not in TIMED:
            return kind
        if time_of_day is not None:
            if self.epoch != (time_of_day, 0):
                self.epoch = (time_of_day, 0)
                self._had = set()
            self._had.add(kind)
        elif kind in self._had:
            self.epoch = (self.epoch[0], self.epoch[1] + 1)
            self._had = {kind}
        else:
            self._had.add(kind)
        return kind


def sky_figures(satellites: list[dict[str, Any]]) -> dict[str, float]:
    """SKY's satellite list as sensord's GSV and GSA channels count it: per constellation, the
    distinct satellites (gnssid and svid: gpsd lists one entry per signal), those used, and
    the mean and the largest of their SNRs above 0, each satellite at its best."""
    best: dict[tuple[int, int], float] = {}
    used: set[tuple[int, int]] = set()
    for sat in satellites:
        key = (int(sat.get("gnssid", 0)), int(sat.get("svid", sat.get("PRN", 0))))
        best[key] = max(best.get(key, 0.0), float(sat.get("ss", 0.0) or 0.0))
        if sat.get("used"):
            used.add(key)
    figures: dict[str, float] = {}
    for name, gnssid in GNSSID.items():
        snrs = [ss for (g, _), ss in best.items() if g == gnssid]
        figures[f"in_view_{name}"] = float(len(snrs))
        figures[f"used_{name}"] = float(sum(1 for g, _ in used if g == gnssid))
        heard = [ss for ss in snrs if ss > 0]
        if heard:
            figures[f"snr_mean_{name}"] = sum(heard) / len(heard)
            figures[f"snr_max_{name}"] = max(heard)
    return figures


def iso_seconds(text: str) -> float | None:
    """Unix seconds of gpsd's ``2016-02-03T13:15:19.000Z``."""
    try:
        moment = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
    except ValueError:
        return None
    return moment.timestamp()


def gpsd_values(chk: bytes, sentences: set[bytes]) -> Values:
    """gpsd's decodes in its ``.log.chk``: each JSON report's values by the epoch of the last
    sentence gpsd echoed before it (the reports of a sentence follow its echo). A line gpsd
    writes that is none of the capture's ``sentences`` is its own, made from a binary packet
    (``$GPRMC,,V,,S,,W,,,,,*35`` after a u-blox UBX packet): the reports after it, up to the
    next sentence of the capture, are of that packet, which sensord does not read."""
    values: Values = {}
    epochs = Epochs()
    after: str | None = ""
    for raw in chk.splitlines():
        line = raw.strip()
        if line[:1] in (b"$", b"!"):
            if line not in sentences:
                after = None
                continue
            after = epochs.step(line)
            continue
        epoch = epochs.epoch
        if not line.startswith(b"{") or after is None:
            continue
        try:
            report = json.loads(line)
        except ValueError:
            continue
        kind = report.get("class")
        if kind not in ("TPV", "SKY", "GST", "ATT"):
            continue
        for key, given in report.items():
            value = iso_seconds(str(given)) if key == "time" and kind == "TPV" else given
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            values.setdefault((epoch, f"{kind}.{key}"), []).append((after, float(value)))
        if kind == "TPV" and "status" not in report:
            values.setdefault((epoch, "TPV.status"), []).append((after, STATUS_0_OR_1))
        if kind == "SKY" and isinstance(report.get("satellites"), list):
            for key, value in sky_figures(report["satellites"]).items():
                values.setdefault((epoch, f"SKY.{key}"), []).append((after, value))
    return values


def capture_clock(path: Path) -> float:
    """The host's clock while the capture at ``path`` was recorded, as its ``# Date:`` header
    line gives it (noon UTC of that day), for the decoder's ``clock_offset`` and its
    week-rollover rule; 0 (1970) when the capture names no date."""
    found = CAPTURE_DATE.search(path.read_bytes())
    try:
        day = datetime.strptime(found.group(1).decode(), "%Y-%m-%d") if found else None
    except ValueError:  # a date no calendar has (``2019-02-29``)
        day = None
    return day.replace(tzinfo=UTC).timestamp() + 43200.0 if day else 0.0


#: (epoch, sentence type) -> how many times the epoch's sentences give a field of the type its
#: readings: each sentence, but for GSV (the times the epoch has a group of one talker and
#: signal ID) and GSA's ``used_`` fields (``GSA.used``: the epoch's runs of GSA, one reading
#: each).
Sent = Counter[tuple[Epoch, str]]


def sensord_values(out: Read, wall_clock: float, sentences: set[bytes]) -> tuple[Values, Sent]:
    """The readings of ``out`` by epoch: a reading of the frame's own sentence type belongs to
    the epoch the frame is in, one that another frame closed (a GSV group, a run of GSA)
    to the epoch before it. A ``clock_offset`` reading, the receiver's UTC minus the host's
    clock (``wall_clock``), is given as that UTC. The epochs move on at the frames that are
    intact ``sentences``, as gpsd's echoes of them move :func:`gpsd_values`' on. With them,
    how many times each epoch's sentences give each sentence type's readings (:data:`Sent`)."""
    values: Values = {}
    epochs = Epochs()
    given: Sent = Counter()
    groups: Counter[tuple[Epoch, str]] = Counter()
    last = ""
    for frame, readings in out.readings:
        before = epochs.epoch
        text = frame.strip()
        kind = epochs.step(text) if text in sentences else epoch_of(text)[0]
        epoch = epochs.epoch
        if before != epoch:
            groups.clear()
        if kind == "GSV":
            fields = text.partition(b"*")[0].split(b",")
            if fields[2:3] == [b"1"]:  # a group begins: its talker and signal ID's
                signal = fields[-1] if (len(fields) - 4) % 4 == 1 else b""
                key = (epoch, (text[1:3] + b"," + signal).decode("latin-1"))
                groups[key] += 1
                given[(epoch, "GSV")] = max(given[(epoch, "GSV")], groups[key])
        elif kind == "GSA":
            if last != "GSA":  # a run of GSA begins
                given[(epoch, "GSA.used")] += 1
            given[(epoch, kind)] += 1
        else:
            given[(epoch, kind)] += 1
        last = kind
        for channel, value in readings:
            sentence = channel.partition(".")[0]
            at = epoch if sentence == kind else before
            utc = value + wall_clock if channel.endswith(".clock_offset") else value
            values.setdefault((at, channel), []).append((sentence, utc))
    return values, given


def sent_times(given: Sent, epoch: Epoch, name: str) -> int:
    """How many readings of field ``name`` the sentences of ``epoch`` give (see :data:`Sent`):
    a reading more is sensord's own."""
    sentence = name.partition(".")[0]
    if name.startswith("GSA.used_"):
        sentence = "GSA.used"
    return given[(epoch, sentence)]


@dataclass
class Comparison:
    """What :func:`compare` found in one capture, by sensord field and gpsd key."""

    equal: Counter[str] = field(default_factory=Counter)
    differ: Counter[str] = field(default_factory=Counter)
    #: sensord field -> its first few differences
    examples: dict[str, list[str]] = field(default_factory=dict)
    #: sensord readings in epochs where gpsd gives its counterpart no value
    sensord_only: Counter[str] = field(default_factory=Counter)
    #: sensord readings of a field that has no gpsd counterpart
    no_counterpart: Counter[str] = field(default_factory=Counter)
    #: gpsd values of a counterpart key in epochs where no sensord field of it has a reading
    gpsd_only: Counter[str] = field(default_factory=Counter)
    gpsd_examples: dict[str, list[str]] = field(default_factory=dict)
    #: (sensord field, why) -> its readings of :attr:`sensord_only`, by :func:`why_sensord_only`
    sensord_only_why: Counter[tuple[str, str]] = field(default_factory=Counter)
    #: (gpsd key, why) -> its values of :attr:`gpsd_only`, by :func:`why_gpsd_only`
    gpsd_only_why: Counter[tuple[str, str]] = field(default_factory=Counter)
    #: sensord field -> its epochs of more than one reading (but for :data:`SUMMED`) whose
    #: readings are all the same value
    duplicates: Counter[str] = field(default_factory=Counter)
    #: sensord field -> its epochs of more than one reading whose readings are not all the same
    disagreements: Counter[str] = field(default_factory=Counter)
    #: sensord field -> those of its epochs of more than one reading (duplicates or
    #: disagreements) with more readings than the epoch's sentences give (:func:`sent_times`):
    #: sensord's own repeats, not a receiver's repeated sentences
    beyond: Counter[str] = field(default_factory=Counter)
    #: sensord field -> its first few epochs of more than one reading
    repeat_examples: dict[str, list[str]] = field(default_factory=dict)

    def add(self, other: Comparison) -> None:
        """Adds the counts of ``other`` (another capture's) to these."""
        for name in (
            "equal",
            "differ",
            "sensord_only",
            "no_counterpart",
            "gpsd_only",
            "sensord_only_why",
            "gpsd_only_why",
            "duplicates",
            "disagreements",
            "beyond",
        ):
            getattr(self, name).update(getattr(other, name))


def clock(epoch: Epoch) -> str:
    """``epoch`` as its time of day, ``+n`` for the ``n``-th epoch without a time after it."""
    time_of_day, untimed = epoch
    after = f" +{untimed}" if untimed else ""
    if time_of_day is None:
        return f"(no time yet){after}"
    hours, rest = divmod(time_of_day, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{int(hours):02d}:{int(minutes):02d}:{seconds:06.3f}{after}"


def compare(
    ours: Values, theirs: Values, parts: Mapping[str, Counterpart], given: Sent | None = None
) -> Comparison:
    """Every reading of each sensord field in an epoch (the sum of its readings, for
    :data:`SUMMED`) against gpsd's value of its counterpart in the same epoch: the epoch's last
    reading against gpsd's last report after a sentence of the field's own type when there is
    one (gpsd reports after each sentence, and a later sentence may change the value), an
    earlier reading against any of those reports, else any of gpsd's reports in the epoch
    (each holds whichever sentence set the value last). A field read more than once in an
    epoch is counted apart, as duplicates (the same value each time) or disagreements, and as
    sensord's own when the epoch's sentences (``given``, :func:`sent_times`) give fewer."""
    found = Comparison()
    covered: set[tuple[Epoch, str]] = set()
    reported = {(epoch, key.partition(".")[0]) for epoch, key in theirs}
    read = {(epoch, name.partition(".")[0]) for epoch, name in ours}
    for (epoch, name), readings in ours.items():
        if len(readings) > 1 and name not in SUMMED:
            repeated(found, epoch, name, readings, given)
        part = parts.get(name)
        if part is None:
            found.no_counterpart[name] += len(readings)
            continue
        covered.add((epoch, part.key))
        gpsd = theirs.get((epoch, part.key))
        if not gpsd:
            found.sensord_only[name] += len(readings)
            why = why_sensord_only(
                readings, part.key, (epoch, part.key.partition(".")[0]) in reported
            )
            found.sensord_only_why[name, why] += len(readings)
            shown = found.examples.setdefault(f"only {name}", [])
            if len(shown) < 2:
                shown.append(f"{clock(epoch)} sensord {readings[-1][1]!r}")
            continue
        mine: list[float] = [v for _, v in readings]
        if name in SUMMED:
            mine = [sum(mine)]
        for at, value in enumerate(mine):
            last = at == len(mine) - 1
            compare_reading(found, epoch, name, value=value, part=part, gpsd=gpsd, last=last)
    keys = {part.key for part in parts.values()}
    for (epoch, key), values in theirs.items():
        if key not in keys or (epoch, key) in covered:
            continue
        if key.startswith("SKY.") and key.rpartition("_")[2] in GNSSID and not values[-1][1]:
            continue  # a constellation of no satellite: no GSV group, no reading
        found.gpsd_only[key] += 1
        types = sorted({n.partition(".")[0] for n, p in parts.items() if p.key == key})
        found.gpsd_only_why[key, why_gpsd_only(types, [(epoch, t) in read for t in types])] += 1
        shown = found.gpsd_examples.setdefault(key, [])
        if len(shown) < 2:
            shown.append(f"{clock(epoch)} gpsd {values[-1][1]!r}")
    return found


def why_sensord_only(readings: list[tuple[str, float]], key: str, reported: bool) -> str:
    """Why sensord's ``readings`` of a field in an epoch have no gpsd value of its
    counterpart ``key``: gpsd made no report of the key's class (TPV, SKY, ...) in the epoch
    (``reported`` false: gpsd reports a sky only after a GSV group, a fix only with a time),
    or a report without the key (a SKY without its satellite list: none in view); and
    whether every reading is 0 (no satellite used or in view, as the sentences say)."""
    kind = key.partition(".")[0]
    where = f"gpsd's {kind} without it" if reported else f"no gpsd {kind} that epoch"
    return f"0, {where}" if all(v == 0 for _, v in readings) else where


def why_gpsd_only(types: list[str], read: list[bool]) -> str:
    """Why gpsd's value in an epoch has no sensord reading of a field of its counterpart,
    the fields of sentence ``types``: sensord read no sentence of them in the epoch (the
    receiver sent none, or gpsd's value is its own making), or read them (``read``, one a
    type) and no field the value's counterpart."""
    named = "/".join(types)
    if any(read):
        return f"sensord read {named} that epoch, not this field"
    return f"sensord read no {named} that epoch"


def compare_reading(
    found: Comparison,
    epoch: Epoch,
    name: str,
    *,
    value: float,
    part: Counterpart,
    gpsd: list[tuple[str, float]],
    last: bool,
) -> None:
    """Counts in ``found`` sensord's reading ``value`` of field ``name`` in ``epoch`` equal to
    gpsd's value of its counterpart there or differing: the epoch's ``last`` reading is
    compared with gpsd's last report after a sentence of the field's own type, an earlier
    one with any of those reports, else with any of gpsd's reports in the epoch (see
    :func:`compare`)."""
    sentence = name.partition(".")[0]
    mine = value * part.scale
    if name == "GGA.fix_quality":
        mine = GGA_STATUS.get(value, -2.0)
        gpsd = [(a, mine if e == STATUS_0_OR_1 and mine in (0.0, 1.0) else e) for a, e in gpsd]
    own = [expected for after, expected in gpsd if after == sentence]
    # gpsd's reports after another sentence of the epoch hold whichever sentence set the
    # value last: any of them may be this one's
    candidates = (own[-1:] if last else own) or [expected for _, expected in gpsd]
    slack = part.tolerance + 1e-12 * abs(mine)
    if any(abs(mine - expected) <= slack for expected in candidates):
        found.equal[name] += 1
        return
    found.differ[name] += 1
    shown = found.examples.setdefault(name, [])
    if len(shown) < 3:
        theirs = repr(own[-1]) if own else f"{gpsd[-1][1]!r} (after {gpsd[-1][0] or 'no'} sentence)"
        shown.append(f"{clock(epoch)} sensord {value!r} -> {mine:.9g}, gpsd {theirs}")


def repeated(
    found: Comparison,
    epoch: Epoch,
    name: str,
    readings: list[tuple[str, float]],
    given: Sent | None,
) -> None:
    """Counts in ``found`` field ``name``'s ``readings`` of ``epoch``, more than one: a
    duplicate or a disagreement, and sensord's own when the epoch's sentences give fewer."""
    values = [v for _, v in readings]
    same = all(v == values[0] for v in values)
    (found.duplicates if same else found.disagreements)[name] += 1
    times = sent_times(given, epoch, name) if given is not None else len(values)
    own = len(values) > times
    if own:
        found.beyond[name] += 1
    shown = found.repeat_examples.setdefault(name, [])
    if len(shown) < 2 or (own and not any("sensord's" in s for s in shown)):
        whose = f"sensord's: its sentences give {times}" if own else f"its sentences give {times}"
        shown.append(f"{clock(epoch)} {', '.join(f'{v:g}' for v in values[:6])} ({whose})")


def compare_capture(path: Path, parts: Mapping[str, Counterpart]) -> Comparison | None:
    """:func:`compare` of the capture at ``path`` with gpsd's decodes of it, its ``.chk``
    beside it; None when it has none."""
    chk = path.with_name(path.name + ".chk")
    if not chk.exists():
        return None
    data = sent(path)
    wall_clock = capture_clock(path)
    sentences = set(intact(data))
    ours, given = sensord_values(read(data, [4095], wall_clock), wall_clock, sentences)
    return compare(ours, gpsd_values(chk.read_bytes(), sentences), parts, given)


def comparison_lines(name: str, found: Comparison) -> list[str]:
    """The lines --compare prints for one capture: its counts, then each field that differs
    with its first examples, each sensord field read where gpsd has no value that epoch, each
    gpsd key that no sensord reading of that epoch has, and each field read more than once in
    an epoch."""
    equal, differ = found.equal.total(), found.differ.total()
    lines = [
        f"{name}: compared {equal + differ}, equal {equal}, differ {differ}; sensord only "
        f"{found.sensord_only.total()} (and {found.no_counterpart.total()} of fields gpsd "
        f"has none of); gpsd only {found.gpsd_only.total()}"
        + (f"; {repeats(found)}" if found.duplicates or found.disagreements else "")
    ]
    for key, n in sorted(found.differ.items()):
        examples = "; ".join(found.examples[key])
        lines.append(f"  differ {key} x{n} of {n + found.equal[key]}: {examples}")
    for key, n in sorted(found.sensord_only.items()):
        lines.append(f"  sensord only {key} x{n}: " + "; ".join(found.examples[f"only {key}"]))
    for key, n in sorted(found.gpsd_only.items()):
        lines.append(f"  gpsd only {key} x{n}: " + "; ".join(found.gpsd_examples[key]))
    for key in sorted(set(found.duplicates) | set(found.disagreements)):
        lines.append(
            f"  read more than once {key}: {found.duplicates[key]} duplicates, "
            f"{found.disagreements[key]} disagreements, {found.beyond[key]} sensord's own: "
            + "; ".join(found.repeat_examples[key])
        )
    return lines


def repeats(found: Comparison) -> str:
    """The epochs of a field read more than once that ``found`` counts, in words."""
    return (
        f"read more than once in an epoch {found.duplicates.total()} duplicates, "
        f"{found.disagreements.total()} disagreements, {found.beyond.total()} of them more "
        "than the epoch's sentences give"
    )


#: The classes of ``--summary``: each one's name, the counts of a capture's
#: :class:`Comparison` it takes, and those of their reasons (None: none).
CLASSES = (
    ("differ", "differ", None),
    ("sensord only", "sensord_only", "sensord_only_why"),
    ("gpsd only", "gpsd_only", "gpsd_only_why"),
)
#: The captures ``--summary`` names for a field, most first.
SUMMARY_CAPTURES = 6


def summary_lines(by_capture: dict[str, Comparison]) -> list[str]:
    """The lines of ``--summary``: for each of :data:`CLASSES` its total over the captures
    of ``by_capture``, then each field of it, most first, with its count and the captures
    it comes from (their counts, the :data:`SUMMARY_CAPTURES` with most, and how many
    more), and under a field of sensord's or gpsd's only, why (:func:`why_sensord_only`,
    :func:`why_gpsd_only`), most first."""
    lines: list[str] = []
    for title, attribute, why in CLASSES:
        fields: dict[str, Counter[str]] = {}
        for name, found in by_capture.items():
            for key, n in getattr(found, attribute).items():
                fields.setdefault(key, Counter())[name] += n
        total = sum(counts.total() for counts in fields.values())
        lines.append(f"{title}: {total}")
        for key, counts in sorted(fields.items(), key=lambda item: (-item[1].total(), item[0])):
            named = counts.most_common(SUMMARY_CAPTURES)
            more = len(counts) - len(named)
            lines.append(
                f"  {key} {counts.total()}: "
                + ", ".join(f"{name} {n}" for name, n in named)
                + (f" and {more} more" if more else "")
            )
            if why is not None:
                reasons: Counter[str] = Counter()
                for found in by_capture.values():
                    for (other, reason), n in getattr(found, why).items():
                        if other == key:
                            reasons[reason] += n
                lines += [f"    {reason}: {n}" for reason, n in reasons.most_common()]
    return lines


def compare_all(folder: Path, names: list[str], summary: bool = False) -> None:
    """Prints :func:`comparison_lines` for each capture that has gpsd's decodes (with
    ``summary``, :func:`summary_lines` in their place), and the totals by sensord field."""
    parts = counterparts()
    total = Comparison()
    by_capture: dict[str, Comparison] = {}
    captures = 0
    #: captures of which sensord compares no reading (binary protocols), and gpsd's values
    #: there
    unread = unread_gpsd = 0
    for name in names:
        found = compare_capture(folder / name, parts)
        if found is None:
            print(f"{name}: no {name}.chk beside it, not compared")
            continue
        captures += 1
        if summary:
            by_capture[name] = found
        else:
            for line in comparison_lines(name, found):
                print(line)
        if not (found.equal or found.differ or found.sensord_only):
            unread += 1
            unread_gpsd += found.gpsd_only.total()
        total.add(found)
    for line in summary_lines(by_capture) if summary else []:
        print(line)
    equal, differ = total.equal.total(), total.differ.total()
    print(
        f"{captures} captures compared: {equal + differ} readings compared, {equal} equal, "
        f"{differ} differ; {total.sensord_only.total()} sensord only, "
        f"{total.gpsd_only.total()} gpsd only ({unread_gpsd} of them in the {unread} captures "
        f"sensord reads nothing of), {total.no_counterpart.total()} of fields gpsd has none of; "
        + repeats(total)
    )
    for key in sorted(set(total.equal) | set(total.differ)):
        why = WHY_DIFFERENT.get(key, "") if total.differ[key] else ""
        print(
            f"  {key}: {total.equal[key]} equal, {total.differ[key]} differ"
            + (f": {why}" if why else "")
        )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("daemon", type=Path, help="gpsd's test/daemon directory")
    parser.add_argument("captures", nargs="*", help="capture file names (default: every *.log)")
    parser.add_argument(
        "--compare",
        action="store_true",
        help="compare sensord's readings with gpsd's decodes in each capture's .chk",
    )
    parser.add_argument(
        "--summary",
        action="store_true",
        help="with --compare: in place of each capture's lines, the readings that differ, "
        "sensord's only and gpsd's only by field, each with the captures they come from",
    )
    args = parser.parse_args()
    if args.summary and not args.compare:
        parser.error("--summary goes with --compare")
    names = args.captures or sorted(path.name for path in args.daemon.glob("*.log"))
    if not names:
        print(
            f"{args.daemon}: no *.log capture in it; give gpsd's test/daemon directory "
            "(GPSD_SOURCE/test/daemon), not the source's top",
            file=sys.stderr,
        )
        return 2
    if args.compare:
        compare_all(args.daemon, names, summary=args.summary)
        return 0
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
