"""sensord's NMEA decoder against gpsd, the reference NMEA 0183 reader, on the same bytes.

gpsd reads a receiver's stream from a real pseudo-terminal (tests/harness/gpsd.py) and reports
each epoch (TPV: position, altitude, speed, course; SKY: satellites used and in view, DOPs);
sensord's framer and decoder read the very same bytes as a sensor reads them. Every epoch gpsd
reports must read the same in sensord, and an epoch whose sentences the line damaged must be
left out or read the same by both: what one reader takes from a stream, the other takes too.
The streams move (position, altitude, speed, course and the satellites change every epoch) in
both hemispheres, intact and damaged.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from harness.gpsd import GpsdPeer, with_checksum
from harness.pty import PtyPair

from sensord.errors import ParseError
from sensord.formats import codec_for
from sensord.formats.base import FormatSpec

pytestmark = pytest.mark.slow

FIELDS = (
    "GGA.latitude",
    "GGA.longitude",
    "GGA.altitude",
    "GGA.satellites",
    "RMC.latitude",
    "RMC.longitude",
    "RMC.speed",
    "RMC.course",
    "VTG.speed_knots",
    "GSA.fix_mode",
    "GSA.pdop",
    "GSA.hdop",
    "GSA.vdop",
    "GSA.used_gps",
    "GSV.in_view_gps",
)

KNOT_MPS = 1852.0 / 3600.0


def _angle(degrees: float, width: int, hemispheres: tuple[str, str]) -> str:
    """``ddmm.mmmmm`` (``dddmm.mmmmm`` with ``width`` 3) and its hemisphere letter."""
    letter = hemispheres[degrees < 0]
    whole, fraction = divmod(abs(degrees), 1.0)
    return f"{int(whole):0{width}d}{fraction * 60.0:08.5f},{letter}"


def _sentence(text: str) -> bytes:
    return with_checksum(f"${text}*XX\r\n".encode())


def epoch(t: int, south_west: bool) -> list[bytes]:
    """The sentences of epoch ``t`` of a receiver moving at 12:00:00 + ``t`` s, in the
    order a u-blox or Quectel module sends them: GGA, RMC, VTG, GSA, GSV."""
    sign = -1.0 if south_west else 1.0
    lat = sign * (48.1173 + 0.000137 * t)
    lon = sign * (11.5167 + 0.000211 * t)
    clock = f"12{t // 60:02d}{t % 60:02d}.00"
    used = [1 + (k * 3 + t) % 32 for k in range(5 + t % 6)]
    extra = [1 + (k * 3 + t) % 32 for k in range(len(used), len(used) + 3)]
    in_view = used + extra
    alt = 120.5 + 0.7 * t
    speed = 5.0 + 0.31 * (t % 7)
    course = (13.7 * t) % 360.0
    pdop, hdop, vdop = 1.6 + 0.1 * (t % 3), 0.9 + 0.05 * (t % 4), 1.3
    lat_text = _angle(lat, 2, ("N", "S"))
    lon_text = _angle(lon, 3, ("E", "W"))
    out = [
        _sentence(
            f"GPGGA,{clock},{lat_text},{lon_text},1,{len(used):02d},{hdop:.2f},{alt:.1f},M,46.9,M,,"
        ),
        _sentence(f"GPRMC,{clock},A,{lat_text},{lon_text},{speed:.3f},{course:.2f},031226,,,A"),
        _sentence(f"GPVTG,{course:.2f},T,,M,{speed:.3f},N,{speed * 1.852:.3f},K,A"),
        _sentence(
            "GPGSA,A,3,"
            + ",".join([f"{prn:02d}" for prn in used] + [""] * (12 - len(used)))
            + f",{pdop:.2f},{hdop:.2f},{vdop:.2f}"
        ),
    ]
    groups = [in_view[k : k + 4] for k in range(0, len(in_view), 4)]
    for number, group in enumerate(groups, 1):
        sats = ",".join(
            f"{prn:02d},{20 + prn},{(prn * 37) % 360:03d},{30 + prn % 15}" for prn in group
        )
        out.append(_sentence(f"GPGSV,{len(groups)},{number},{len(in_view):02d},{sats}"))
    return out


def is_damaged(t: int) -> bool:
    """Whether :func:`damaged` spoils a sentence of epoch ``t``."""
    return t % 5 == 2 or t % 7 == 3


def damaged(sentences: list[bytes], t: int) -> list[bytes]:
    """Epoch ``t``'s sentences as a noisy line delivers some of them: in every fifth epoch a
    byte of the GGA changed (its checksum fails), in every seventh the RMC cut off in the
    middle (the line lost its end)."""
    out = list(sentences)
    if t % 5 == 2:
        gga = bytearray(out[0])
        gga[20] ^= 0x01
        out[0] = bytes(gga)
    if t % 7 == 3:
        out[1] = out[1][: len(out[1]) // 2]
    return out


def stream(epochs: int, *, south_west: bool = False, damage: bool = False) -> bytes:
    parts: list[bytes] = []
    for t in range(epochs):
        sentences = epoch(t, south_west)
        parts += damaged(sentences, t) if damage else sentences
    # one more epoch's GGA: gpsd reports an epoch when the next one begins
    parts.append(epoch(epochs, south_west)[0])
    return b"".join(parts)


@dataclass
class SensordEpochs:
    """What sensord read, by the epoch's time (``hhmmss.ss``) of the GGA or RMC it came in,
    or of the last such sentence for the sentences without time (VTG, GSA, GSV)."""

    values: dict[str, dict[str, float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    skipped_bytes: int = 0


def read_with_sensord(data: bytes, channels: tuple[str, ...] = FIELDS) -> SensordEpochs:
    spec = FormatSpec("nmea", tuple((f, f) for f in channels))
    codec = codec_for("nmea")
    framer = codec.framer(spec, b"\n", 512)
    parse = codec.sensor_decoder(spec, lambda: 0.0)
    out = SensordEpochs()
    clock = ""
    for at in range(0, len(data), 64):
        for frame in framer.feed(data[at : at + 64]):
            fields = frame.split(b",")
            if fields[0][3:6] in (b"GGA", b"RMC") and len(fields) > 1:
                clock = fields[1].decode()
            try:
                pairs = parse(frame)
            except ParseError as exc:
                out.errors[exc.reason] = out.errors.get(exc.reason, 0) + 1
                continue
            for channel, value in pairs:
                out.values.setdefault(clock, {})[channel] = value
    out.skipped_bytes = framer.skipped_bytes
    return out


def gpsd_fixes(reports: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """gpsd's TPV reports by ``hhmmss.ss``: the last of each epoch (gpsd reports an epoch
    again as its later sentences complete it)."""
    return {_clock(r): r for r in reports if r.get("class") == "TPV" and "time" in r}


def _clock(tpv: dict[str, Any]) -> str:
    """``2026-12-03T12:00:05.000Z`` -> ``120005.00``."""
    hms = str(tpv["time"])[11:22]
    return f"{hms[0:2]}{hms[3:5]}{hms[6:11]}".replace(".000", ".00")[:9]


def compare_fix(gpsd: dict[str, Any], ours: dict[str, float]) -> list[str]:
    """The quantities of gpsd's TPV for an epoch that sensord read otherwise."""
    problems: list[str] = []

    def same(name: str, theirs: float, mine: float | None, tolerance: float) -> None:
        if mine is None or not math.isclose(theirs, mine, abs_tol=tolerance):
            problems.append(f"{name}: gpsd {theirs}, sensord {mine}")

    if gpsd.get("mode", 0) >= 2 and "lat" in gpsd:
        same("latitude", gpsd["lat"], ours.get("GGA.latitude", ours.get("RMC.latitude")), 1e-8)
        same("longitude", gpsd["lon"], ours.get("GGA.longitude", ours.get("RMC.longitude")), 1e-8)
    if "altMSL" in gpsd:
        same("altitude", gpsd["altMSL"], ours.get("GGA.altitude"), 1e-3)
    if "speed" in gpsd:
        knots = ours.get("RMC.speed", ours.get("VTG.speed_knots"))
        same("speed", gpsd["speed"], None if knots is None else knots * KNOT_MPS, 1e-3)
    if "track" in gpsd:
        same("course", gpsd["track"], ours.get("RMC.course"), 1e-6)
    return problems


SKY = ("uSat", "nSat", "pdop", "hdop", "vdop")
SKY_FIELDS = ("GSA.used_gps", "GSV.in_view_gps", "GSA.pdop", "GSA.hdop", "GSA.vdop")


def gpsd_skies(reports: list[dict[str, Any]]) -> list[tuple[float | None, ...]]:
    """gpsd's SKY reports in order: satellites used and in view, PDOP, HDOP, VDOP."""
    return [tuple(r.get(k) for k in SKY) for r in reports if r.get("class") == "SKY"]


@pytest.mark.parametrize(
    ("south_west", "damage"),
    [(False, False), (True, False), (False, True)],
    ids=["north-east", "south-west", "damaged"],
)
def test_every_epoch_gpsd_reports_reads_the_same_in_sensord(
    tmp_path: Path, south_west: bool, damage: bool
) -> None:
    epochs = 40
    data = stream(epochs, south_west=south_west, damage=damage)
    with PtyPair() as port, GpsdPeer(port, tmp_path) as gpsd:
        reports = gpsd.play(data)
    ours = read_with_sensord(data)
    clocks = [f"12{t // 60:02d}{t % 60:02d}.00" for t in range(epochs)]
    intact = [c for t, c in enumerate(clocks) if not (damage and is_damaged(t))]
    fixes = gpsd_fixes(reports)
    # every intact epoch's fix: reported by gpsd, read the same by sensord
    assert set(intact) <= set(fixes), f"gpsd reported {sorted(fixes)}"
    differences = {
        clock: problems
        for clock in intact
        if (problems := compare_fix(fixes[clock], ours.values.get(clock, {})))
    }
    assert differences == {}
    # every epoch's satellites and DOPs (GSA and GSV, which the damage spares), in order
    skies = [tuple(ours.values.get(c, {}).get(f) for f in SKY_FIELDS) for c in clocks]
    assert gpsd_skies(reports) == skies
    if damage:
        # each changed GGA fails its checksum; each cut RMC is skipped up to the start of
        # the VTG glued to it, which is read
        changed = len([t for t in range(epochs) if t % 5 == 2])
        cut = sum(len(epoch(t, south_west)[1]) // 2 for t in range(epochs) if t % 7 == 3)
        assert ours.errors == {"checksum": changed}
        assert ours.skipped_bytes == cut
    else:
        assert ours.errors == {}
        assert ours.skipped_bytes == 0


def gn_epoch(t: int, fix: bool) -> list[bytes]:
    """Epoch ``t`` of a GPS and GLONASS receiver of NMEA 4.0 (a SiRF III such as the BU-353,
    gpsd's capture bu353-glonass.log): a ``$GNGSA`` per constellation, without system ID,
    each naming its constellation only by the satellites it lists; before its first fix, both
    list none (mode 1) while the GSV sentences already show satellites in view."""
    clock = f"1200{t:02d}.00"
    if not fix:
        return [
            _sentence(f"GPGGA,{clock},,,,,0,00,99.99,,,,,,"),
            _sentence(f"GPRMC,{clock},V,,,,,,,031226,,,N"),
            _sentence("GNGSA,A,1,,,,,,,,,,,,,99.99,99.99,99.99"),
            _sentence("GNGSA,A,1,,,,,,,,,,,,,99.99,99.99,99.99"),
            _sentence("GPGSV,1,1,02,05,40,100,,12,30,200,"),
            _sentence("GLGSV,1,1,01,70,20,300,"),
        ]
    return [
        _sentence(f"GPGGA,{clock},4807.03800,N,01131.00000,E,1,06,1.0,545.4,M,46.9,M,,"),
        _sentence(f"GPRMC,{clock},A,4807.03800,N,01131.00000,E,0.0,0.0,031226,,,A"),
        _sentence("GNGSA,A,3,05,12,15,,,,,,,,,,1.8,1.0,1.5"),
        _sentence("GNGSA,A,3,70,71,72,,,,,,,,,,1.8,1.0,1.5"),
        _sentence("GPGSV,1,1,03,05,40,100,40,12,30,200,38,15,50,150,41"),
        _sentence("GLGSV,1,1,03,70,20,300,35,71,60,010,36,72,45,090,33"),
    ]


def used_by_constellation(sky: dict[str, Any]) -> tuple[int, int]:
    """The satellites a gpsd SKY report marks used: GPS (PRN 1-32), GLONASS (65-96)."""
    used = [s["PRN"] for s in sky.get("satellites", []) if s.get("used")]
    return sum(1 <= prn <= 32 for prn in used), sum(65 <= prn <= 96 for prn in used)


def test_a_capture_that_starts_without_a_fix_reads_no_satellite_used_as_gpsd(
    tmp_path: Path,
) -> None:
    """A GN receiver whose stream starts before its first fix: gpsd reports 0 satellites used
    (``uSat`` 0, every satellite in view unused) from the first epoch on, though no GSA has
    named a constellation yet; sensord reads 0 for ``used_gps`` and ``used_glonass`` in each
    of those epochs, then what the fix uses, as gpsd does."""
    without_fix, with_fix = 4, 4
    data = (
        b"".join(b"".join(gn_epoch(t, t >= without_fix)) for t in range(without_fix + with_fix))
        + gn_epoch(without_fix + with_fix, True)[0]
    )
    with PtyPair() as port, GpsdPeer(port, tmp_path) as gpsd:
        reports = gpsd.play(data)
    sky_reports = [r for r in reports if r.get("class") == "SKY"]
    skies = [(r["uSat"], *used_by_constellation(r)) for r in sky_reports]
    fields = ("GSA.used_gps", "GSA.used_glonass")
    ours = read_with_sensord(data, fields)
    assert ours.errors == {}
    epochs = [
        tuple(ours.values.get(f"1200{t:02d}.00", {}).get(f) for f in fields)
        for t in range(without_fix + with_fix)
    ]
    assert epochs == [(0, 0)] * without_fix + [(3, 3)] * with_fix
    # gpsd's reports (uSat, GPS used, GLONASS used), each state once in order: no satellite
    # used, then the fix's
    states = [sky for at, sky in enumerate(skies) if not at or skies[at - 1] != sky]
    assert states == [(0, 0, 0), (6, 3, 3)]
