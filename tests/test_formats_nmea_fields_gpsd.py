"""NMEA readings where ``scripts/nmea_audit.py --compare`` found sensord's reading of gpsd's
regression captures apart from gpsd's decode of the same bytes, and the NMEA 0183 field
definitions as receiver manuals quote them say sensord read it wrong. Each capture is a
fixture (``tests/fixtures/nmea/``, its origin in its header) read through the framer and
decoder as a sensor reads them."""

from __future__ import annotations

from test_formats_nmea_receivers import read, rejected

FIELDS = ("GGA.fix_quality", "GGA.satellites", "GGA.hdop", "GSA.satellites_used", "GNS.satellites")


def test_a_garmin_25lp_first_fix_with_00_satellites_in_use_gives_no_count() -> None:
    """GGA's field 7 is the number of satellites in use, 00 to 12 (Garmin's GPS 25LP
    Technical Specification, 4.2.4). Before its first fix the 25LP uses none and says 00, a
    count; at its first fix (quality 1) it still writes 00 while its GSA lists the 3 it uses:
    no fix is had from no satellite, and the 00 is no count. The epoch after, 03."""
    got = read("garmin_25lp.nmea", FIELDS)
    assert rejected(got) == {}
    r = got.readings
    assert r["GGA.fix_quality"] == [0.0, 1.0, 1.0]
    assert r["GGA.satellites"] == [0.0, 3.0]
    assert r["GSA.satellites_used"] == [0.0, 3.0, 3.0]
    assert r["GGA.hdop"] == [3.1, 3.1]


def test_a_furuno_differential_fix_with_00_satellites_in_use_gives_no_count() -> None:
    """A Furuno GT-88 writes 00 in every GGA of its differential fix (quality 2) while its GNS
    of the same epoch counts 11 and its GSA list 6 and 5: ``GGA.satellites`` reads nothing,
    ``GNS.satellites`` 11."""
    got = read("furuno_gl_ga.nmea", FIELDS)
    assert rejected(got) == {}
    r = got.readings
    assert r["GGA.fix_quality"] == [2.0, 2.0]
    assert "GGA.satellites" not in r
    assert r["GNS.satellites"] == [11.0, 11.0]
    assert r["GSA.satellites_used"] == [6.0, 5.0, 6.0, 5.0]
