"""The unit letters of VHW, VLW, VTG, HDT, HDM and GGA, which the standard fixes after each
number: checked as MWD's and DBT's are (tests/test_formats_nmea.py). Sentences of real devices
and the forms instruments and receivers send are read; a sentence whose letters are out of
place, its fields read from their neighbours' places, is rejected whole (``syntax``) and the
stream's other sentences are read."""

from __future__ import annotations

import pytest
from structlog.testing import capture_logs
from test_formats_nmea import decoder, nmea

from sensord.config import parse_config
from sensord.errors import ParseError
from sensord.formats import codec_for
from sensord.formats import nmea as nmea_module
from sensord.formats.base import DecoderCounts, FormatSpec
from sensord.sensor import SensorRuntime

#: Each sentence type's channels.
CHANNELS = {
    "GGA": ("GGA.fix_quality", "GGA.satellites", "GGA.hdop", "GGA.altitude"),
    "VTG": ("VTG.course", "VTG.speed_knots", "VTG.speed_kmh"),
    "VHW": ("VHW.heading", "VHW.heading_magnetic", "VHW.speed_knots", "VHW.speed_kmh"),
    "VLW": (
        *("VLW.total_distance", "VLW.trip_distance"),
        *("VLW.total_ground_distance", "VLW.trip_ground_distance"),
    ),
    "HDT": ("HDT.heading",),
    "HDM": ("HDM.heading",),
}


def read(sentence: bytes) -> dict[str, float]:
    """The readings of ``sentence`` by a decoder of its type's channels."""
    kind = sentence[3:6].decode()
    return dict(decoder(*CHANNELS[kind])(sentence))


#: Sentences of real devices, as they sent them (checksums included), and their readings.
REAL_DEVICES = [
    # gpsd's capture test/daemon/humminbird-M37.log (Humminbird GR16): no geoid separation,
    # nor its letter
    (
        b"$INGGA,194104,4426.1138,N,07140.5536,W,2,10,0.9,267.9,M,,,,*13",
        {"GGA.fix_quality": 2.0, "GGA.satellites": 10.0, "GGA.hdop": 0.9, "GGA.altitude": 267.9},
    ),
    # gpsd's magellan315.log (Magellan 315): a zero-padded altitude
    (
        b"$GPGGA,120824.76,3908.8199,N,00023.0832,W,1,06,2.1,00176,M,,,,*39",
        {"GGA.fix_quality": 1.0, "GGA.satellites": 6.0, "GGA.hdop": 2.1, "GGA.altitude": 176.0},
    ),
    # gpsd's polarx2.log (Septentrio PolaRx2, a 2D fix): no altitude, its letter empty too
    (
        b"$GPGGA,112257.00,3844.24011,N,00908.43828,W,1,03,10.5,,,,,,*72",
        {"GGA.fix_quality": 1.0, "GGA.satellites": 3.0, "GGA.hdop": 10.5},
    ),
    # gpsd's garmin25lp.log (Garmin GPS 25LP, before its fix): the letters after empty numbers
    (
        b"$GPGGA,120317,4221.4394,N,01321.9948,E,0,00,,,M,,M,,*59",
        {"GGA.fix_quality": 0.0, "GGA.satellites": 0.0},
    ),
    # gpsd's myguide-3100.log (Typhoon MyGuide 3100): a geoid separation's letter, no number
    (
        b"$GPGGA,104958.80,5612.9999,N,00306.7096,W,,2,60.000,160.002,M,,M,,*54",
        {"GGA.satellites": 2.0},
    ),
    # gpsd's saab-r4.log (Saab R4 AIS transponder's GPS): a DGPS fix, the last field left out
    (b"$GPGGA,130711,5012.790800,N,00806.879600,W,2,,,,,,,*6A", {"GGA.fix_quality": 2.0}),
    # GPSBabel's pull request 7 ("cannot be parsed"): an altitude without its letter
    (
        b"$GPGGA,092252,5004.6498,N,01958.1196,E,1,,,337,,,,,*6d",
        {"GGA.fix_quality": 1.0, "GGA.altitude": 337.0},
    ),
    # humminbird-M37.log
    (
        b"$INVTG,77.5,T,93.3,M,5.2,N,9.7,K*5B",
        {"VTG.course": 77.5, "VTG.speed_knots": 5.2, "VTG.speed_kmh": 9.7},
    ),
    # the u-blox 8 receiver description's example values (UBX-13003221; the fixture
    # tests/fixtures/nmea/ublox_m8.nmea)
    (
        b"$GNVTG,77.52,T,,M,0.004,N,0.008,K,A*18",
        {"VTG.course": 77.52, "VTG.speed_knots": 0.004, "VTG.speed_kmh": 0.008},
    ),
    # saab-r4.log: the letters of the magnetic course and the km/h left out with them
    (b"$GPVTG,3.0,T,,,0.50,N,,,D*16", {"VTG.course": 3.0, "VTG.speed_knots": 0.5}),
    # gpsd's hp58534a.log (HP/Symmetricom 58534A), which sends no checksums
    (
        b"$GPVTG,318.0,T,341.9,M,000.0,N,0000.1,K,A",
        {"VTG.course": 318.0, "VTG.speed_knots": 0.0, "VTG.speed_kmh": 0.1},
    ),
    # gpsd's bundg_zeus_9.log (B&G Zeus2 chartplotter)
    (
        b"$SDVHW,231.3,T,229.9,M,6.6,N,12.3,K*71",
        {
            "VHW.heading": 231.3,
            "VHW.heading_magnetic": 229.9,
            "VHW.speed_knots": 6.6,
            "VHW.speed_kmh": 12.3,
        },
    ),
    # a sailing boat's instrument bus (the README of github.com/mpihlak/nmealogger): a
    # magnetic heading and knots only, no letters after the numbers left empty
    (b"$IIVHW,,,097,M,00.0,N,,*6A", {"VHW.heading_magnetic": 97.0, "VHW.speed_knots": 0.0}),
    # a log without compass, as SignalK's NMEA 0183 parser tests it (test/VHW.ts): the
    # letters after the numbers left empty
    (b"$IIVHW,,T,,M,06.12,N,11.33,K*50", {"VHW.speed_knots": 6.12, "VHW.speed_kmh": 11.33}),
    # bundg_zeus_9.log: no total through the water
    (
        b"$SDVLW,,N,545.6,N,1109.4,N,393.6,N*44",
        {
            "VLW.trip_distance": 545.6,
            "VLW.total_ground_distance": 1109.4,
            "VLW.trip_ground_distance": 393.6,
        },
    ),
    # mpihlak/nmealogger: a VLW of NMEA 2, water distances only
    (b"$IIVLW,09200,N,000.0,N*58", {"VLW.total_distance": 9200.0, "VLW.trip_distance": 0.0}),
    # saab-r4.log
    (b"$HEHDT,4.0,T*2B", {"HDT.heading": 4.0}),
    # gpsd's pypilot.log (pypilot autopilot)
    (b"$APHDM,218.634,M*39", {"HDM.heading": 218.634}),
]


@pytest.mark.parametrize(("sentence", "readings"), REAL_DEVICES)
def test_real_devices_sentences_are_read(sentence: bytes, readings: dict[str, float]) -> None:
    assert read(sentence) == pytest.approx(readings)


@pytest.mark.parametrize(
    ("body", "readings"),
    [
        # letters in lowercase stand for their units, as MWD's and DBT's do
        (
            "GPVTG,054.7,t,034.4,m,005.5,n,010.2,k,A",
            {"VTG.course": 54.7, "VTG.speed_knots": 5.5, "VTG.speed_kmh": 10.2},
        ),
        (
            "VWVHW,045.0,t,043.5,m,5.5,n,10.2,k",
            {
                "VHW.heading": 45.0,
                "VHW.heading_magnetic": 43.5,
                "VHW.speed_knots": 5.5,
                "VHW.speed_kmh": 10.2,
            },
        ),
        ("IIVLW,1092.5,n,3.2,n", {"VLW.total_distance": 1092.5, "VLW.trip_distance": 3.2}),
        ("HEHDT,274.07,t", {"HDT.heading": 274.07}),
        ("HCHDM,238.5,m", {"HDM.heading": 238.5}),
        (
            "GPGGA,092725.00,4717.11399,N,00833.91590,E,1,08,1.01,499.6,m,48.0,m,,",
            {
                "GGA.fix_quality": 1.0,
                "GGA.satellites": 8.0,
                "GGA.hdop": 1.01,
                "GGA.altitude": 499.6,
            },
        ),
        # empty numbers, with their letters or without
        ("GPVTG,,,,,,,,,", {}),
        ("GPVTG,,T,,M,,N,,K,A", {}),
        ("VWVHW,,,,,5.5,N,,", {"VHW.speed_knots": 5.5}),
        ("IIVLW,,,3.2,N", {"VLW.trip_distance": 3.2}),
        ("HEHDT,,T", {}),
        ("HEHDT,,", {}),
        # a heading without its letter: no field after it to shift
        ("HEHDT,274.07", {"HDT.heading": 274.07}),
        ("HEHDT,274.07,", {"HDT.heading": 274.07}),
        ("HCHDM,238.5,", {"HDM.heading": 238.5}),
        ("GPGGA,,,,,,0,00,,,,,,,", {"GGA.fix_quality": 0.0, "GGA.satellites": 0.0}),
        # GGA's altitude and geoid separation without their letters
        (
            "GPGGA,092725.00,4717.11399,N,00833.91590,E,1,08,1.01,499.6,,48.0,,,",
            {
                "GGA.fix_quality": 1.0,
                "GGA.satellites": 8.0,
                "GGA.hdop": 1.01,
                "GGA.altitude": 499.6,
            },
        ),
        # a VTG of the current layout whose last fields a talker left out: its letters in place
        ("GPVTG,054.7,T,034.4,M", {"VTG.course": 54.7}),
        ("GPVTG,054.7,T,034.4,M,005.5,N", {"VTG.course": 54.7, "VTG.speed_knots": 5.5}),
    ],
)
def test_the_forms_instruments_and_receivers_send_are_read(
    body: str, readings: dict[str, float]
) -> None:
    assert read(nmea(body)) == pytest.approx(readings)


def test_a_vtg_of_the_older_layout_without_letters_is_read_from_its_own_places() -> None:
    """Older versions of NMEA 0183 have VTG carry four numbers without unit letters: true
    course, magnetic course, speed in knots and in km/h ("NMEA Revealed", gpsd's
    www/NMEA.adoc: ``$--VTG,x.x,x,x.x,x.x,*hh``, telling the layouts apart by field 2, the
    ``T`` of the current one). Its speeds are read from their own places, with its checksum
    or without (a complete sentence of a talker that sends none), and with the empty field
    the template shows after the four; read in the current layout it would give its course
    alone. A sentence of neither layout is out of place."""
    readings = {"VTG.course": 54.7, "VTG.speed_knots": 5.5, "VTG.speed_kmh": 10.2}
    assert read(nmea("GPVTG,054.7,034.4,005.5,010.2")) == readings
    assert read(nmea("GPVTG,054.7,034.4,005.5,010.2,")) == readings
    assert read(nmea("GPVTG,054.7,,005.5,010.2")) == readings
    assert read(nmea("GPVTG,,,000.0,000.0")) == {"VTG.speed_knots": 0.0, "VTG.speed_kmh": 0.0}
    counts = DecoderCounts()
    spec = FormatSpec("nmea", tuple((f, f) for f in CHANNELS["VTG"]))
    parse = codec_for("nmea").sensor_decoder(spec, lambda: 0.0, counts)
    assert dict(parse(b"$GPVTG,054.7,034.4,005.5,010.2")) == readings
    assert dict(parse(b"$GPVTG,054.7,034.4,005.5,010.2,")) == readings
    assert counts.unchecked == 2
    # cut short, without checksum: three numbers are no sentence of either layout
    with pytest.raises(ParseError) as cut:
        parse(b"$GPVTG,054.7,034.4,005.5")
    assert cut.value.reason == "truncated"
    # with its checksum, four numbers and a mode indicator, five numbers or three: neither layout
    for body, found in [
        ("GPVTG,054.7,034.4,005.5,010.2,A", "034.4"),
        ("GPVTG,054.7,034.4,005.5,010.2,1.0", "034.4"),
        ("GPVTG,054.7,034.4,005.5", "034.4"),
    ]:
        with pytest.raises(ParseError) as caught:
            read(nmea(body))
        assert caught.value.reason == "syntax"
        assert caught.value.detail == f"VTG fields out of place: unit {found!r} where 'T' belongs"


#: Sentences whose unit letters are out of place, and the first letter found so. Each would
#: be read wrong: the values of one field from another's place, or in another unit.
OUT_OF_PLACE = [
    # a talker that leaves the magnetic course and its M out: knots read the km/h
    ("GPVTG,054.7,T,005.5,N,010.2,K,A", "unit 'N' where 'M' belongs"),
    # a field added (a simulator's extra comma): the knots field empty, the km/h read the knots
    ("GPVTG,0.0,T,,,,13.5,N,,25.0,K,A", "unit '13.5' where 'N' belongs"),
    ("GPVTG,054.7,M,034.4,T,005.5,N,010.2,K,A", "unit 'M' where 'T' belongs"),
    ("GPVTG,054.7,T,034.4,M,010.2,K,005.5,N,A", "unit 'K' where 'N' belongs"),
    ("GPVTG,054.7,T,034.4,M,005.5,,010.2,K,A", "unit '' where 'N' belongs"),
    # the magnetic heading and its M left out: the magnetic heading read the knots
    ("VWVHW,045.0,T,5.5,N,10.2,K", "unit 'N' where 'M' belongs"),
    ("VWVHW,045.0,M,043.5,T,5.5,N,10.2,K", "unit 'M' where 'T' belongs"),
    ("VWVHW,,,,,5.5,K,10.2,N", "unit 'K' where 'N' belongs"),
    # a log that counts kilometres
    ("IIVLW,1092.5,K,3.2,K", "unit 'K' where 'N' belongs"),
    # the total's N lost: the total's letter holds the trip
    ("IIVLW,1092.5,3.2,N", "unit '3.2' where 'N' belongs"),
    ("IIVLW,1092.5,N,3.2,N,1100.0,,11.5,N", "unit '' where 'N' belongs"),
    ("HEHDT,274.07,M", "unit 'M' where 'T' belongs"),
    ("HCHDM,238.5,T", "unit 'T' where 'M' belongs"),
    # the HDOP field lost: the HDOP read the altitude
    (
        "GPGGA,092725.00,4717.11399,N,00833.91590,E,1,08,499.6,M,48.0,M,,",
        "unit '48.0' where 'M' belongs",
    ),
    # a field added before the altitude
    (
        "GPGGA,092725.00,4717.11399,N,00833.91590,E,1,08,1.01,,499.6,M,48.0,M,,",
        "unit '499.6' where 'M' belongs",
    ),
    # an altitude in feet, which would be read as metres
    (
        "GPGGA,092725.00,4717.11399,N,00833.91590,E,1,08,1.01,1639.1,F,157.5,F,,",
        "unit 'F' where 'M' belongs",
    ),
]


@pytest.mark.parametrize(("body", "detail"), OUT_OF_PLACE)
def test_a_sentence_whose_unit_letters_are_out_of_place_is_rejected_whole(
    body: str, detail: str
) -> None:
    """Rejected as MWD's and DBT's are, whatever channel a decoder reads (one whose field
    comes before the letter out of place too), with its checksum or without (a sentence of
    a talker that sends none, when it has the fields of its type)."""
    kind = body[2:5]
    frames = [nmea(body)]
    if body.count(",") >= nmea_module._LEAST_FIELDS[kind]:
        frames.append(f"${body}".encode())
    for frame in frames:
        for fields in (CHANNELS[kind], CHANNELS[kind][:1]):
            with pytest.raises(ParseError) as caught:
                decoder(*fields)(frame)
            assert caught.value.reason == "syntax", frame
            assert caught.value.detail == f"{kind} fields out of place: {detail}"
            assert caught.value.kept == []


def test_a_rejected_sentence_is_counted_and_logged_and_the_others_are_read() -> None:
    """In a receiver's stream, a VTG without its magnetic course and an HDT with the letter
    of a magnetic heading are counted under ``syntax`` and logged as ``frame rejected``, as
    an MWD or DBT out of place is; the sentences around them are read, the epoch's GSA
    sentences too (a rejected sentence of another type ends their run)."""
    config = parse_config(
        '[[sensors]]\nname = "boat"\nport = "sim://boat"\nformat = "nmea"\n'
        '  [[sensors.channels]]\n  name = "alt"\n  field = "GGA.altitude"\n'
        '  [[sensors.channels]]\n  name = "knots"\n  field = "VTG.speed_knots"\n'
        '  [[sensors.channels]]\n  name = "heading"\n  field = "HDT.heading"\n'
        '  [[sensors.channels]]\n  name = "used"\n  field = "GSA.used_gps"\n'
        '  [[sensors.channels]]\n  name = "wind"\n  field = "MWD.wind_speed_knots"\n'
    ).sensors[0]
    runtime = SensorRuntime(config)
    epochs = [
        [
            nmea(f"GPGGA,0927{second}.00,4717.11399,N,00833.91590,E,1,08,1.01,499.6,M,48.0,M,,"),
            nmea("GPGSA,A,3,01,03,06,11,,,,,,,,,2.5,1.7,1.8"),
            nmea(vtg),
            nmea(hdt),
            nmea("WIMWD,328.3,T,326.9,M,11.2,N,5.8,M"),
        ]
        for second, vtg, hdt in [
            (25, "GPVTG,054.7,T,,M,005.5,N,010.2,K,A", "HEHDT,274.07,T"),
            (26, "GPVTG,054.7,T,005.5,N,010.2,K,A", "HEHDT,274.07,M"),
            (27, "GPVTG,054.7,T,,M,005.6,N,010.4,K,A", "HEHDT,274.10,T"),
        ]
    ]
    with capture_logs() as logs:
        runtime.feed(b"".join(s + b"\r\n" for epoch in epochs for s in epoch))
    snapshot = runtime.snapshot()
    assert {reason: n for reason, n in snapshot.parse_errors.items() if n} == {"syntax": 2}
    counts = {ch.name: ch.stats.count for ch in snapshot.channels if ch.stats}
    assert counts == {"alt": 3, "knots": 2, "heading": 2, "used": 3, "wind": 3}
    [event] = [e for e in logs if e["event"] == "frame rejected"]
    assert event["reason"] == "syntax"
    assert event["detail"] == "VTG fields out of place: unit 'N' where 'M' belongs"
    assert "fields_kept" not in event
