"""Captures of receivers of several brands, written as fixtures from their public documentation
(``tests/fixtures/nmea/*.nmea``, each with its origin in its header), read through the NMEA
framer and decoder as a sensor reads them: every sentence the receiver sent intact is read,
the noise and the damage the fixture describes are counted, nothing else is rejected."""

from __future__ import annotations

import codecs
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from test_formats_nmea import checksummed_anew, nmea

from sensord.errors import PARSE_ERROR_REASONS, ParseError
from sensord.formats import codec_for
from sensord.formats.base import FormatSpec
from sensord.formats.nmea_fields import NMEA_FIELDS

FIXTURES = Path(__file__).parent / "fixtures" / "nmea"

FIELDS = (
    "GGA.fix_quality",
    "GGA.satellites",
    "GGA.hdop",
    "GGA.latitude",
    "GGA.altitude",
    "RMC.speed",
    "RMC.clock_offset",
    "GSA.fix_mode",
    "GSA.hdop",
    "GSA.used_gps",
    "GSA.used_glonass",
    "GSA.used_beidou",
    "GSA.pdop",
    "GSA.vdop",
    "GSV.in_view_gps",
    "GSV.in_view_glonass",
    "GSV.snr_max_gps",
    "GSV.snr_mean_gps",
    "GSV.snr_max_glonass",
    "GSV.in_view_galileo",
    "GSV.snr_max_galileo",
    "GSV.snr_mean_galileo",
    "GSV.in_view_beidou",
    "GSV.in_view_qzss",
    "VTG.speed_kmh",
    "GLL.latitude",
    "ZDA.clock_offset",
    "MWV.wind_angle",
    "MWV.wind_speed_mps",
    "MWV.true_wind_angle",
    "MWV.true_wind_speed_mps",
    "XDR.Barometer",
    "XDR.HEEL",
    "XDR.BARO",
    "DPT.depth",
    "DBT.depth",
    "MTW.temperature",
    "HDT.heading",
)


def stream(name: str) -> bytes:
    """The bytes of a fixture: its lines but the ``#`` header, ``\\xNN`` escapes decoded, each
    ended by CR LF as receivers send them."""
    lines = (FIXTURES / name).read_text().splitlines()
    data = [codecs.escape_decode(line.encode())[0] for line in lines if not line.startswith("#")]
    return b"".join(line + b"\r\n" for line in data)


@dataclass
class Outcome:
    readings: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=lambda: dict.fromkeys(PARSE_ERROR_REASONS, 0))
    ignored: int = 0
    frames: int = 0
    skipped_bytes: int = 0


def read(
    name: str,
    fields: tuple[str, ...] = FIELDS,
    host_s: float = 0.0,
    opened_at: bytes = b"",
    damage: tuple[bytes, bytes] = (b"", b""),
) -> Outcome:
    """A fixture through the framer (cut into 7-byte reads) and a decoder of ``fields`` whose
    host clock stands at ``host_s``: at the Unix epoch, a clock offset reads as the
    receiver's Unix time. With ``opened_at``, the stream starts at the first line that
    begins with it (a port opened there). With ``damage``, the first place where its first
    bytes (whole lines) come reads as the second instead (damage on the line, or a
    sentence the receiver wrote otherwise)."""
    spec = FormatSpec("nmea", tuple((f, f) for f in fields))
    codec = codec_for("nmea")
    framer = codec.framer(spec, b"\n", 512)
    parse = codec.sensor_decoder(spec, lambda: host_s)
    data = stream(name)
    if damage[0]:
        line = b"\n" + damage[0] + b"\r\n"
        assert line in data
        data = data.replace(line, b"\n" + damage[1] + b"\r\n", 1)
    if opened_at:
        data = data[data.index(b"\n" + opened_at) + 1 :]
    outcome = Outcome()
    for at in range(0, len(data), 7):
        for frame in framer.feed(data[at : at + 7]):
            try:
                pairs = parse(frame)
            except ParseError as exc:
                outcome.errors[exc.reason] += 1
                continue
            outcome.ignored += not pairs
            for channel, value in pairs:
                outcome.readings.setdefault(channel, []).append(value)
    outcome.frames = framer.frames
    outcome.skipped_bytes = framer.skipped_bytes
    return outcome


def rejected(outcome: Outcome) -> dict[str, int]:
    return {reason: n for reason, n in outcome.errors.items() if n}


def test_every_fixture_names_its_origin() -> None:
    names = sorted(path.name for path in FIXTURES.glob("*.nmea"))
    assert len(names) >= 6
    for name in names:
        header = (FIXTURES / name).read_text().split("\n$")[0]
        assert "# Origin:" in header, name


def test_ublox_m8_repeated_start_glued_gsa_and_signal_ids() -> None:
    got = read("ublox_m8.nmea")
    assert rejected(got) == {}
    assert got.skipped_bytes == 1  # the second '$' of $$GNRMC
    assert got.frames == 13  # 12 lines, one holding two GSA sentences
    # GSV 1 to 3 of 3 and the GLONASS group, whose readings come with the ZDA after them (a
    # talker's first groups held to the epoch's end), TXT, PUBX
    assert got.ignored == 6
    r = got.readings
    assert r["RMC.speed"] == [0.004]
    assert r["RMC.clock_offset"] == [1039422959.0]  # 2002-12-09 08:35:59 UTC
    assert r["ZDA.clock_offset"] == [1032164830.0]  # 2002-09-16 08:27:10 UTC
    assert r["GGA.altitude"] == [499.6]
    assert r["VTG.speed_kmh"] == [0.008]
    assert r["GLL.latitude"] == [pytest.approx(47 + 17.11364 / 60)]
    assert r["GSA.fix_mode"] == [3.0, 3.0]
    assert r["GSA.used_gps"] == [7.0]  # by system ID 1
    assert r["GSA.used_glonass"] == [3.0]  # by system ID 2
    assert r["GSV.in_view_gps"] == [9.0]
    assert r["GSV.snr_max_gps"] == [45.0]
    assert r["GSV.in_view_glonass"] == [3.0]
    assert r["GSV.snr_max_glonass"] == [40.0]


def test_septentrio_polarx2_sbas_satellites_on_the_gp_talker_are_not_gps() -> None:
    got = read("septentrio_polarx2.nmea")
    assert rejected(got) == {}
    r = got.readings
    # 17 in view: 10 GPS satellites (2-23) and 7 SBAS satellites (33-50), as gpsd reads them
    assert r["GSV.in_view_gps"] == [10.0]
    assert r["GSV.snr_max_gps"] == [45.0]
    assert r["GSA.used_gps"] == [3.0]
    assert r["GGA.satellites"] == [3.0]


def test_spectratime_isync_sbas_satellite_used_in_the_fix_is_not_gps() -> None:
    got = read("spectratime_isync.nmea")
    assert rejected(got) == {}
    assert got.ignored == 6  # PTNTA, GSV 1 to 3 of 4, GST and GBS (no channel asks for them)
    r = got.readings
    # the GSA lists 12 satellites, 51 (EGNOS) among them; the GSV group 12 GPS and 3 SBAS
    assert r["GSA.used_gps"] == [11.0]
    assert r["GGA.satellites"] == [12.0]  # GGA counts every satellite of the fix
    assert r["GSV.in_view_gps"] == [12.0]
    assert r["GSV.snr_max_gps"] == [50.0]


SBAS_IN_VIEW = ("GSV.in_view_gps", "GSV.in_view_sbas", "GSV.snr_max_sbas", "GSV.snr_mean_sbas")


@pytest.mark.parametrize(
    ("name", "gps", "sbas", "snr_max", "snr_mean"),
    [
        # gpsd's polarx2.log.chk: 17 in view; no SBAS satellite tracked (no SNR)
        ("septentrio_polarx2.nmea", 10.0, 7.0, None, None),
        # 15 in view, the GSV in-view field; SBAS 46, 48, 51 at 45, 44, 43 dB-Hz
        ("spectratime_isync.nmea", 12.0, 3.0, 45.0, 44.0),
    ],
)
def test_sbas_satellites_in_view_are_counted_apart_and_add_up_to_gpsds_count(
    name: str, gps: float, sbas: float, snr_max: float | None, snr_mean: float | None
) -> None:
    """The SBAS satellites a GPS receiver lists in its ``$GPGSV`` groups are in view: GSV's
    ``in_view_sbas`` counts them (not ``in_view_gps``), so the ``in_view_`` channels add up to
    the satellites in view gpsd reports (SKY ``nSat``)."""
    got = read(name, SBAS_IN_VIEW)
    assert rejected(got) == {}
    r = got.readings
    assert r["GSV.in_view_gps"] == [gps]
    assert r["GSV.in_view_sbas"] == [sbas]
    assert r.get("GSV.snr_max_sbas") == (None if snr_max is None else [snr_max])
    assert r.get("GSV.snr_mean_sbas") == (None if snr_mean is None else [snr_mean])


def test_mediatek_capture_ending_in_a_cut_sentence() -> None:
    got = read("mediatek_mt3339.nmea")
    assert rejected(got) == {"truncated": 1}
    assert got.skipped_bytes == 0
    r = got.readings
    assert r["RMC.speed"] == [0.03]  # the cut RMC's "0." is never read as speed 0
    assert r["RMC.clock_offset"] == [1146034191.0]  # 2006-04-26 06:49:51 UTC
    assert r["GGA.altitude"] == [39.9]
    assert r["GSA.used_gps"] == [8.0]
    assert r["GSA.hdop"] == [0.95]
    assert r["GSV.in_view_gps"] == [9.0]
    assert r["GSV.snr_max_gps"] == [44.0]
    assert r["VTG.speed_kmh"] == [0.06]


def test_quectel_binary_bytes_before_the_start_and_a_gsa_per_constellation() -> None:
    got = read("quectel_l76.nmea")
    assert rejected(got) == {}
    assert got.skipped_bytes == 2
    r = got.readings
    assert r["RMC.speed"] == [0.19]
    assert r["RMC.clock_offset"] == [1381973837.0]  # 2013-10-17 01:37:17 UTC
    assert r["GSA.used_gps"] == [5.0]  # GPGSA, by talker
    assert r["GSA.used_glonass"] == [3.0]  # GLGSA, by talker
    assert r["GSV.in_view_gps"] == [7.0]
    assert r["GSV.snr_max_gps"] == [44.0]
    assert r["GSV.in_view_glonass"] == [3.0]
    assert r["GSV.snr_max_glonass"] == [31.0]


def test_sirf_stray_character_nmea_2_rmc_and_a_cut_gsv_group() -> None:
    got = read("sirf_nmea.nmea")
    assert rejected(got) == {"truncated": 1}  # the GSV group whose second sentence was lost
    assert got.skipped_bytes == 1
    r = got.readings
    assert r["GGA.altitude"] == [27.0]
    assert r["RMC.speed"] == [0.13]  # NMEA 2.2: no mode field, still complete
    assert r["RMC.clock_offset"] == [pytest.approx(894989549.487)]
    assert r["ZDA.clock_offset"] == [1066155493.0]
    assert r["GSA.used_gps"] == [7.0]
    assert r["GSA.hdop"] == [1.0]
    # two whole groups; the cut one gave nothing
    assert r["GSV.in_view_gps"] == [7.0, 7.0]
    assert r["GSV.snr_max_gps"] == [43.0, 43.0]


def test_garmin_without_fix_and_proprietary_sentences() -> None:
    got = read("garmin.nmea")
    assert rejected(got) == {}
    assert got.ignored == 3  # PGRME, PGRMZ, PGRMM
    r = got.readings
    assert r["GGA.fix_quality"] == [0.0]
    assert "GGA.altitude" not in r
    assert r["GSA.fix_mode"] == [1.0]
    assert "GSA.hdop" not in r
    assert r["GSV.in_view_gps"] == [3.0]
    assert "GSV.snr_max_gps" not in r  # no satellite tracked
    assert r["RMC.speed"] == [0.5]
    assert r["RMC.clock_offset"] == [785285686.0]  # 1994-11-19 22:54:46 UTC


SAAB_R4_FIELDS = (
    "RMC.latitude",
    "RMC.longitude",
    "RMC.speed",
    "RMC.course",
    "RMC.clock_offset",
    "GLL.latitude",
    "VTG.course",
    "ZDA.clock_offset",
    "HDT.heading",
)


def test_saab_r4_rmc_without_the_variations_letter_is_read() -> None:
    """The Saab R4 sends ``...,0.5,3.0,010611,,A``: one of the magnetic variation's two
    fields left out, its mode indicator right after the empty variation. Its checksum holds,
    its position, speed, course and date are each in place: read, as gpsd reads it, not
    rejected as a sentence whose fields a lost comma shifted."""
    got = read("saab_r4.nmea", SAAB_R4_FIELDS)
    assert rejected(got) == {}
    r = got.readings
    assert r["RMC.latitude"] == [pytest.approx(50 + 12.7908 / 60), pytest.approx(50 + 12.7914 / 60)]
    assert r["RMC.longitude"] == [pytest.approx(-(8 + 6.8796 / 60))] * 2
    assert r["RMC.speed"] == [0.5, 0.5]
    assert r["RMC.course"] == [3.0, 3.1]
    assert r["RMC.clock_offset"] == [1306933631.0, 1306933632.0]  # 2011-06-01 13:07:11 UTC
    assert r["ZDA.clock_offset"] == [1306933631.0, 1306933632.0]
    assert r["GLL.latitude"] == r["RMC.latitude"]
    assert r["VTG.course"] == [3.0, 3.1]
    assert r["HDT.heading"] == [4.0, 4.0]


def test_motorola_t805_rmc_with_its_variation_and_no_letter_is_read() -> None:
    """The Motorola T805's SiRF III sends ``...,0.56,344.41,181207,0,A``: a variation of 0
    and no ``E``/``W``, its mode indicator in that field's place. Its fixes are read, and its
    sentences without a fix (``V``, mode ``N``) give nothing and are no error: rejected, every
    second of a receiver without a fix would count as a damaged sentence."""
    got = read("motorola_t805.nmea", SAAB_R4_FIELDS)
    assert rejected(got) == {}
    r = got.readings
    assert r["RMC.speed"] == [0.56, 0.78, 1.25, 0.0, 0.0, 0.0]
    assert r["RMC.course"] == [344.41, 237.93, 21.04]  # none when the receiver leaves it out
    assert r["RMC.latitude"][0] == pytest.approx(48 + 39.9488 / 60)
    assert r["RMC.longitude"][0] == pytest.approx(2 + 14.8863 / 60)
    assert r["RMC.clock_offset"] == [
        pytest.approx(1198013174.879),  # 2007-12-18 21:26:14.879 UTC
        pytest.approx(1198013175.879),
        1198013177.0,
        1198013178.0,
        1198013181.0,  # the fix regained after two seconds without
        1198013182.0,
    ]


@pytest.mark.parametrize(
    "mode",
    [
        "N",  # not valid
        "S",  # simulator mode
    ],
)
def test_saab_r4_layout_rmc_whose_mode_says_no_measurement_reports_nothing(mode: str) -> None:
    sentence = checksummed_anew(
        b"$GPRMC,130711.00,A,5012.790800,N,00806.879600,W,0.5,3.0,010611,,A*6A",
        b",,A",
        f",,{mode}".encode(),
    )
    parse = codec_for("nmea").sensor_decoder(
        FormatSpec("nmea", tuple((f, f) for f in SAAB_R4_FIELDS)), lambda: 0.0
    )
    assert parse(sentence) == []


def test_marine_bus_with_ais_and_unknown_addresses() -> None:
    got = read("marine.nmea")
    assert rejected(got) == {}
    assert got.ignored == 3  # !AIVDM, $GYOACC, $SNRSTAT
    r = got.readings
    assert r["MWV.wind_speed_mps"] == [pytest.approx(0.1 / 3.6)]
    assert r["XDR.Barometer"] == [1.0158]
    assert r["DPT.depth"] == [2.8]
    assert r["DBT.depth"] == [2.4]
    assert r["MTW.temperature"] == [18.5]
    assert r["HDT.heading"] == [274.07]
    assert r["ZDA.clock_offset"] == [1025813730.0]


def test_st_teseo_one_gn_gsa_per_constellation_without_system_id() -> None:
    got = read("st_teseo_liv3f.nmea")
    assert rejected(got) == {}
    assert got.skipped_bytes == 0
    assert got.ignored == 6  # GPGSV 1 to 3 of 4, GLGSV 1 and 2 of 3, PSTMCPU
    r = got.readings
    assert r["GSA.fix_mode"] == [3.0, 3.0, 3.0, 3.0]
    assert r["GSA.hdop"] == [0.6, 0.6, 0.6, 0.6]
    # each $GNGSA counted for the constellation its satellite numbers fall in
    assert r["GSA.used_gps"] == [7.0, 6.0]
    assert r["GSA.used_glonass"] == [8.0, 8.0]
    assert r["GSV.in_view_gps"] == [10.0]  # of the 13 in view, 44, 46 and 48 are SBAS
    assert r["GSV.snr_max_gps"] == [51.0]
    assert r["GSV.in_view_glonass"] == [10.0]
    assert r["GGA.altitude"] == [233.45, 233.53]
    assert r["RMC.clock_offset"] == [1773693293.0, 1773693298.0]  # 2026-03-16 20:34:53 UTC


def test_quectel_eg25g_beidou_on_pq_talker() -> None:
    got = read("quectel_eg25g.nmea")
    assert rejected(got) == {}
    r = got.readings
    assert r["GGA.altitude"] == [-6.7, -14.1]
    assert r["RMC.clock_offset"] == [1662923703.01]  # 2022-09-11 19:15:03.01 UTC
    # $GPGSA, and $GNGSA with system ID 1, list the same three: one reading for the epoch
    assert r["GSA.used_gps"] == [3.0]
    assert r["GSA.used_glonass"] == [5.0]
    assert r["GSV.in_view_gps"] == [10.0]
    assert r["GSV.in_view_glonass"] == [8.0]
    assert r["GSV.in_view_galileo"] == [2.0]
    # $PQGSV: satellites numbered 1-32 on the PQ talker are BeiDou
    assert r["GSV.in_view_beidou"] == [15.0]
    assert "GSV.in_view_qzss" not in r


def test_myguide_gga_with_an_empty_fix_quality_gives_no_position() -> None:
    got = read("typhoon_myguide_3100.nmea")
    assert rejected(got) == {}
    r = got.readings
    # the two GGA without fix quality count their satellites and nothing else
    assert r["GGA.satellites"] == [2.0, 3.0, 4.0]
    assert r["GGA.fix_quality"] == [1.0]
    assert r["GGA.hdop"] == [17.516]
    assert r["GGA.latitude"] == [pytest.approx(56 + 12.9978 / 60)]
    assert r["GGA.altitude"] == [159.072]
    assert r["GSA.hdop"] == [17.516]


def test_sirfstar_v_one_gga_per_constellation_is_read_once() -> None:
    got = read("sirfstar_v.nmea")
    assert rejected(got) == {}
    assert got.ignored == 2  # the two $GLGGA, repeats of the fix of the $GPGGA before them
    r = got.readings
    assert r["GGA.satellites"] == [8.0, 8.0]  # the GPS count, not 8 and 2 in turn
    assert r["GGA.altitude"] == [1123.9, 1123.9]
    assert r["GSA.used_gps"] == [8.0, 8.0]
    assert r["GSA.used_glonass"] == [2.0, 2.0]
    assert r["RMC.clock_offset"] == [1549332575.0, 1549332576.0]  # 2019-02-05 02:09:35 UTC


def test_a_sirf_iii_losing_its_fix_uses_no_satellite_of_either_constellation() -> None:
    """A BU-353 GLONASS (SiRF III, gpsd's capture test/daemon/bu353-glonass.log) sends one
    ``$GNGSA`` per constellation without system ID; after the fix is lost both list no
    satellite. Each epoch without a fix reads 0 satellites used for GPS and for GLONASS, as
    gpsd's SKY of the same epoch says (uSat 0, no satellite used), not the counts of the last
    fix held until they age."""
    got = read("sirf_bu353_glonass_fix_loss.nmea")
    assert rejected(got) == {}
    r = got.readings
    assert r["GGA.fix_quality"] == [1.0, 1.0, 0.0, 0.0]
    assert r["GSA.fix_mode"] == [3.0, 3.0, 3.0, 3.0, 1.0, 1.0, 1.0, 1.0]
    assert r["GSA.used_gps"] == [4.0, 4.0, 0.0, 0.0]
    assert r["GSA.used_glonass"] == [2.0, 2.0, 0.0, 0.0]
    assert r["GSV.in_view_gps"] == [12.0]
    assert r["GSV.in_view_glonass"] == [10.0]


def test_a_sirf_iii_fix_without_glonass_uses_no_glonass_satellite() -> None:
    """The BU-353's second epoch with a fix as the receiver sends it when its fix uses no
    GLONASS satellite: its GLONASS ``$GNGSA`` empty, as it sends it after the fix is lost,
    with the fix's mode 3. The empty sentence names no constellation, but it is the one of
    the constellation the run lists none of: that epoch reads 0 GLONASS satellites used, as
    gpsd counts the satellites the epoch's GSA sentences list, and its 4 GPS ones."""
    glonass = b"$GNGSA,A,3,88,87,,,,,,,,,,,13.09,4.54,12.28*14"
    got = read(
        "sirf_bu353_glonass_fix_loss.nmea",
        damage=(glonass, checksummed_anew(glonass, b"88,87", b",")),
    )
    assert rejected(got) == {}
    r = got.readings
    assert r["GSA.used_gps"] == [4.0, 4.0, 0.0, 0.0]
    assert r["GSA.used_glonass"] == [2.0, 0.0, 0.0, 0.0]


def test_a_ch_4711_losing_its_fix_uses_no_glonass_satellite_though_it_sends_no_glonass_gsa() -> (
    None
):
    """A CH-4711 (gpsd's capture test/daemon/ch-4711.log) sends one ``$GNGSA`` per
    constellation with its fix, and after the loss only ``$GPGSA,A,1`` listing no satellite:
    no fix, so no satellite of either constellation is used. Each epoch without a fix reads
    0 for GPS and for GLONASS, as gpsd's SKY after the loss says (uSat 0), not GLONASS's 4
    of the last fix held until it ages."""
    got = read("ch4711_glonass_fix_loss.nmea")
    assert rejected(got) == {}
    r = got.readings
    assert r["GGA.fix_quality"] == [1.0, 1.0, 0.0, 0.0]
    assert r["GSA.fix_mode"] == [2.0, 2.0, 2.0, 2.0, 1.0, 1.0]
    assert r["GSA.used_gps"] == [2.0, 2.0, 0.0, 0.0]
    assert r["GSA.used_glonass"] == [4.0, 4.0, 0.0, 0.0]


def test_a_bu353_read_from_before_its_first_fix_reads_no_satellite_used() -> None:
    """The BU-353's epochs without a fix as the first a port opened on them reads: its two
    ``$GNGSA,A,1`` name no constellation, and none came before them, yet without a fix no
    satellite of either is used. Each epoch reads 0 for GPS and for GLONASS, as gpsd's SKY
    reports ``uSat`` 0 from a stream's first epoch without a fix on (tests/test_nmea_gpsd.py
    compares the two on such a stream), not nothing until a fix names the constellations."""
    got = read("sirf_bu353_glonass_fix_loss.nmea", opened_at=b"$GPGGA,081420.000")
    assert rejected(got) == {}
    r = got.readings
    assert r["GSA.fix_mode"] == [1.0] * 4
    assert r["GSA.used_gps"] == [0.0, 0.0]
    assert r["GSA.used_glonass"] == [0.0, 0.0]


def test_a_fix_loss_epoch_that_lost_a_gsa_on_the_line_reads_no_zero_used() -> None:
    """The BU-353's first epoch without a fix with its second ``$GNGSA`` damaged on the line
    (a comma lost, its checksum failing): the lost sentence may have listed satellites of
    either constellation, so that epoch reads no satellites used; the next one, whole, reads
    0 for both."""
    gsa_lost = (
        b"$GPGGA,081420.000,,,,,0,0,,,M,,M,,*47\r\n$GNGSA,A,1,,,,,,,,,,,,,,,*00\r\n"
        b"$GNGSA,A,1,,,,,,,,,,,,,,,*00"
    )
    got = read(
        "sirf_bu353_glonass_fix_loss.nmea",
        damage=(gsa_lost, gsa_lost[:-8] + b",,,,*00"),
    )
    assert rejected(got) == {"checksum": 1}
    r = got.readings
    assert r["GSA.used_gps"] == [4.0, 4.0, 0.0]
    assert r["GSA.used_glonass"] == [2.0, 2.0, 0.0]


def test_sirf_trig_gsa_with_a_tdop_in_place_of_the_system_id() -> None:
    got = read("sirf_trig_beidou.nmea")
    assert rejected(got) == {}
    assert got.skipped_bytes == 1  # the space before $GNRMC
    r = got.readings
    assert r["GSA.pdop"] == [5.1, 5.1]
    assert r["GSA.hdop"] == [1.3, 1.3]  # as the GGA of the same fix says
    assert r["GSA.vdop"] == [4.9, 4.9]
    assert r["GGA.hdop"] == [1.3]
    assert r["GSA.used_gps"] == [2.0]  # by the talker: the TDOP is no system ID
    assert r["GSA.used_beidou"] == [3.0]
    assert r["RMC.speed"] == [0.3]


def test_quectel_lc79d_gsv_group_whose_last_sentence_carries_a_signal_id() -> None:
    got = read("quectel_lc79d.nmea")
    assert rejected(got) == {}
    r = got.readings
    # each $GPGSV group of 10: 7 satellites on L1, then 06, 09 and 30 again on L5 (signal 8).
    # The first teaches that the talker's groups carry several signals and gives nothing: its
    # in-view field, 10, counts each satellite and signal (as gpsd counts them), and its 3,1
    # and 3,2 were read before their satellite numbers were kept; the next, 7 satellites in
    # view, 06 at its L1 SNR, 45, not L5's 40
    assert r["GSV.in_view_gps"] == [7.0]
    assert r["GSV.snr_max_gps"] == [49.0]
    assert r["GSV.snr_mean_gps"] == [pytest.approx(246 / 7)]
    # $GAGSV,2,1,04 lists 102 and 103 on E1, $GAGSV,2,2,04 again on E5a (signal 1): the same
    assert r["GSV.in_view_galileo"] == [2.0]
    assert r["GSV.in_view_glonass"] == [6.0, 6.0]
    assert r["GSV.in_view_qzss"] == [1.0, 1.0]
    assert r["GSV.in_view_beidou"] == [1.0]
    # $GPGSA and $GNGSA list the same six: one reading an epoch
    assert r["GSA.used_gps"] == [6.0, 6.0]
    assert r["GSA.used_glonass"] == [5.0, 4.0]


def test_quectel_lc79d_gsv_group_whose_every_sentence_carries_a_signal_id_that_changes() -> None:
    """An LC79D that carries a signal ID on every GSV sentence and changes it within a group
    (its GPS group's ``4,4`` of signal ID 8 after ``4,1`` to ``4,3`` of signal ID 1, its
    Galileo group's ``2,2`` of 1 after ``2,1`` of 6): each sentence continues its group by
    its numbering, none is out of its group or cuts one."""
    got = read("quectel_lc79d_signal_ids.nmea")
    assert rejected(got) == {}
    assert got.frames == 53
    r = got.readings
    # a talker's first whole group teaches its several signals and gives nothing (the first
    # epoch's GPS group began before the capture, so GPS reads at the third epoch only); then
    # one reading an epoch, each satellite once: GPS 01, 03, 04, 09, 17, 19, 21, 22, 31 (12
    # entries with the L5 ones), at their best SNR (01 at 38 on L5, 35 on L1)
    assert r["GSV.in_view_gps"] == [9.0]
    assert r["GSV.snr_max_gps"] == [45.0]
    assert r["GSV.snr_mean_gps"] == [
        pytest.approx((38 + 29 + 45 + 40 + 29 + 12 + 39 + 35 + 18) / 9)
    ]
    assert r["GSV.in_view_galileo"] == [2.0, 2.0]
    assert r["GSV.snr_max_galileo"] == [43.0, 43.0]
    # 103 at 43 on E1 and 39 on E5a, 136 at 40 and 36
    assert r["GSV.snr_mean_galileo"] == [41.5, 41.5]
    assert r["GSV.in_view_glonass"] == [5.0, 5.0, 5.0]
    assert r["GGA.satellites"] == [14.0, 14.0, 14.0]


@pytest.mark.parametrize("lost", [False, True])
def test_an_lc79d_group_whose_4_3_is_lost_costs_one_error_not_two(lost: bool) -> None:
    """The capture's third epoch with its ``$GPGSV,4,3,12`` failing its checksum (a byte
    changed on the line), or lost whole: its ``4,4`` of signal 8, which continued the
    talker's group in the epoch before, ends the group that waits for ``4,3``, so the next
    group's ``4,1`` cuts none. One error, the damaged sentence's or the lost one's at the
    ``4,4``; the group gives nothing, the Galileo groups their readings."""
    lines = stream("quectel_lc79d_signal_ids.nmea").split(b"\r\n")[:-1]
    third = [n for n, line in enumerate(lines) if line.startswith(b"$GPGSV,4,3,12,")][2]
    if lost:
        del lines[third]
    else:
        lines[third] = lines[third].replace(b"*53", b"*54")
    lines += [line for line in lines if line.startswith(b"$GPGSV,4,1,12,")][-1:]
    spec = FormatSpec("nmea", (("gps", "GSV.in_view_gps"), ("galileo", "GSV.in_view_galileo")))
    parse = codec_for("nmea").sensor_decoder(spec, lambda: 0.0)
    errors: list[str] = []
    readings: list[tuple[str, float]] = []
    for frame in lines:
        try:
            readings += parse(frame)
        except ParseError as exc:
            errors.append(exc.reason)
            readings += exc.kept
    assert errors == (["truncated"] if lost else ["checksum"])
    assert readings == [("galileo", 2.0), ("galileo", 2.0)]


def test_quectel_lc79d_gsv_alone_then_its_gga_gives_one_reading_a_group() -> None:
    """The LC79D's GSV sentences alone, its second epoch's again and again (a receiver set to
    send GSV alone), then its GGA, the stream's first frame of another kind (its other
    sentences switched on). Its GPS and Galileo groups change their signal ID within the
    group: each is one epoch's, the talker's next group of that signal ID the next epoch's,
    whose reading it gives at its last sentence (7 GPS satellites, 2 Galileo); the first
    epoch's, which teach the talkers' several signals, give none; the GGA finds no epoch
    short of a group, and gives nothing more."""
    lines = stream("quectel_lc79d.nmea").split(b"\r\n")
    gsv = [line for line in lines if line[3:6] == b"GSV"]
    first, second = gsv[:9], gsv[9:]
    assert first[-1].startswith(b"$GAGSV,2,2,")
    assert second[0].startswith(b"$GPGSV,3,1,")
    gga = next(line for line in lines if line.startswith(b"$GPGGA,115034.00,"))
    spec = FormatSpec("nmea", (("gps", "GSV.in_view_gps"), ("galileo", "GSV.in_view_galileo")))
    parse = codec_for("nmea").sensor_decoder(spec, lambda: 0.0)
    readings = [pair for frame in first for pair in parse(frame)]
    assert readings == []  # 10 and 4 as sent, each satellite and signal: withheld
    for _ in range(3):
        got = [parse(frame) for frame in second]
        assert got == [[], [], [("gps", 7.0)], [], [], [], [], [("galileo", 2.0)]]
    assert parse(gga) == []


def test_an_l5_group_after_an_lc79d_style_group_leaves_its_signal_change_no_loss() -> None:
    """The LC79D's stream (gpsd's capture test/daemon/quectelLC79D.log, the fixture's origin)
    sent three times, each ``$GPGSV,3,3,10,...,8`` followed by a group that begins with signal
    ID 8, the same three satellites' L5 entries as a group of their own
    (``$GPGSV,1,1,03,06,,,40,09,,,27,30,,,39,8``, built from the ``3,3``'s entries, as a
    receiver sends an L5-only group). The talker and signal ``GP``/``8`` has then begun a
    group of its own, and the next epoch's ``3,3`` still continues its ``3,1``/``3,2`` as
    the first epoch's did: no sentence out of its group, no group cut. One GPS reading an
    epoch over both groups, at the L5 group: the 7 distinct satellites, at their best SNR.
    The first epoch gives none: its first group teaches the talker's several signals within
    it (its 10 in view count a satellite once for each signal), and its L5 group, the epoch's
    second, teaches that the epochs have two, giving no reading of its 3 L5 satellites
    alone. The same when the port opened at the L5 group, before any ``3,3`` had continued a
    group: the ``3,3`` lists only satellites of its group, and continues it."""
    l5_group = nmea("GPGSV,1,1,03,06,,,40,09,,,27,30,,,39,8")
    lines = [line for line in stream("quectel_lc79d.nmea").split(b"\r\n") if line]
    epochs = []
    for line in lines * 3:
        epochs.append(line)
        if line.startswith(b"$GPGSV,3,3,"):
            epochs.append(l5_group.rstrip(b"\r\n"))
    fields = ("GSV.in_view_gps", "GSV.snr_max_gps", "GSV.snr_mean_gps")
    spec = FormatSpec("nmea", tuple((f, f) for f in fields))
    parse = codec_for("nmea").sensor_decoder(spec, lambda: 0.0)
    got: dict[str, list[float]] = {}
    for frame in epochs:
        for channel, value in parse(frame):  # raises on a loss counted
            got.setdefault(channel, []).append(value)
    assert got["GSV.in_view_gps"] == [7.0] * 5  # the six epochs' but the first
    assert got["GSV.snr_max_gps"] == [49.0] * 5
    # L1 at 115034: 02 at 40, 04 at 27, 05 at 14, 06 at 45, 07 at 44, 09 at 27, 30 at 49
    assert got["GSV.snr_mean_gps"][-1] == pytest.approx(246 / 7)
    # the port opened at the L5 group: GP/8 began a group of its own before any 3,3
    # continued one; the 3,3 that lists only satellites its group listed continues it all
    # the same. The L5 group read first is as sent (3), then one reading an epoch
    start = epochs.index(l5_group.rstrip(b"\r\n"))
    parse = codec_for("nmea").sensor_decoder(spec, lambda: 0.0)
    got = {}
    for frame in epochs[start:]:
        for channel, value in parse(frame):
            got.setdefault(channel, []).append(value)
    assert got["GSV.in_view_gps"] == [3.0, 7.0, 7.0, 7.0, 7.0, 7.0]
    assert got["GSV.snr_max_gps"] == [40.0, 49.0, 49.0, 49.0, 49.0, 49.0]


@pytest.mark.parametrize("loss", ["unseen", "checksum"])
def test_an_lc79d_opened_at_its_l5_group_whose_next_3_3_is_lost_reads_no_l5_group_alone(
    loss: str,
) -> None:
    """The LC79D's stream (gpsd's capture test/daemon/quectelLC79D.log, the fixture's origin)
    with an L5 group of its own after each ``3,3``, as in the test above, the port opened at
    that L5 group; the next epoch's ``3,3`` (signal 8, the L5 entries that continue the
    ``3,1``/``3,2`` group) is lost, without a trace or failing its checksum. The L5 group
    that follows ends while the talker's ``3,1``/``3,2`` group waits for its ``3,3``: a
    receiver sends a talker's groups one after the other, so that group lost its end in the
    epoch, and the L5 group's reading alone would be of 3 satellites of the epoch's 7 (gpsd,
    which reads all of an epoch's satellites, never reports the L5 group's 3). The epoch
    gives none; the next epoch's ``3,1`` cuts the group (one loss, counted once), and the
    epochs after give 7 satellites at 49 dB-Hz at most, one reading an epoch: at the ``3,3``
    (the L5 group after it, past the most, makes the most groups an epoch two), then at the
    L5 group."""
    l5_group = nmea("GPGSV,1,1,03,06,,,40,09,,,27,30,,,39,8").rstrip(b"\r\n")
    lines = [line for line in stream("quectel_lc79d.nmea").split(b"\r\n") if line]
    epochs = []
    for line in lines * 3:
        epochs.append(line)
        if line.startswith(b"$GPGSV,3,3,"):
            epochs.append(l5_group)
    frames = epochs[epochs.index(l5_group) :]
    lost = next(at for at, line in enumerate(frames) if line.startswith(b"$GPGSV,3,3,"))
    if loss == "unseen":
        del frames[lost]
    else:
        frames[lost] = frames[lost][:-2] + b"00"
    fields = ("GSV.in_view_gps", "GSV.snr_max_gps")
    spec = FormatSpec("nmea", tuple((f, f) for f in fields))
    parse = codec_for("nmea").sensor_decoder(spec, lambda: 0.0)
    got: list[float] = []
    errors: list[str] = []
    for frame in frames:
        try:
            readings = parse(frame)
        except ParseError as exc:
            errors.append(exc.reason)
            continue
        got += [value for channel, value in readings if channel == "GSV.in_view_gps"]
    assert errors == ["truncated" if loss == "unseen" else "checksum"]
    # the L5 group read first is as sent (3); the epoch that lost its 3,3 gives none; each
    # of the four epochs after gives one reading of its 7
    assert got == [3.0, 7.0, 7.0, 7.0, 7.0]


def test_a_zed_f9r_epoch_whose_last_beidou_group_lost_its_end_reads_no_beidou_short_of_it() -> None:
    """gpsd's capture test/daemon/ublox-zed-f9r.log (tests/fixtures/nmea/ublox_zed_f9r.nmea):
    BeiDou sends B1I (signal ID 1, 8 satellites), B2a (signal ID B, the fixture's ``B``) and
    its group of signal ID 0 (6 satellites in view, none tracked), 14 satellites, last of the
    epoch's GSV. At 23:14:17 the ``2,2`` of the signal-0 group is lost without a trace (bytes
    lost on the line), its ``2,1`` waiting when the GST ends the epoch: the epoch is short
    of that group's satellites and gives no BeiDou reading, not the 8 of B1I and B2a. At
    23:14:18 (no B2a group that epoch) the signal-0 group's ``2,1`` cuts the one of 23:14:17
    (the loss counted, truncated) and begins that epoch's own group, not another epoch: no
    reading of its 6 alone; the epoch lost a sentence and is short of B2a, and gives none.
    Each epoch after reads 14."""
    lines = [line for line in stream("ublox_zed_f9r.nmea").split(b"\r\n") if line]
    lost = next(
        at
        for at, line in enumerate(lines)
        if line.startswith(b"$GBGSV,2,2,")
        and b",0*" in line
        and at > lines.index(next(line for line in lines if line.startswith(b"$GNRMC,231417")))
    )
    del lines[lost]
    fields = ("GSV.in_view_beidou", "GSV.in_view_gps")
    spec = FormatSpec("nmea", tuple((f, f) for f in fields))
    parse = codec_for("nmea").sensor_decoder(spec, lambda: 0.0)
    by_epoch: dict[str, list[float]] = {}
    errors: list[str] = []
    epoch = ""
    for line in lines:
        if line.startswith(b"$GNRMC"):
            epoch = line.split(b",")[1].decode()[4:6]
            by_epoch[epoch] = []
        try:
            readings = parse(line)
        except ParseError as exc:
            errors.append(exc.reason)
            continue
        by_epoch[epoch] += [value for channel, value in readings if channel == fields[0]]
    assert errors == ["truncated"]
    assert by_epoch == {
        "15": [14.0],
        "16": [14.0],
        "17": [],
        "18": [],
        **{f"{second}": [14.0] for second in range(19, 25)},
    }


def zed_f9r_beidou_by_epoch(lines: list[bytes]) -> dict[str, list[tuple[str, float]]]:
    """The ZED-F9R's BeiDou in-view readings of ``lines`` by the second of their epoch (from
    its RMC on), each with the sentence type of the frame that gave it."""
    spec = FormatSpec("nmea", (("GSV.in_view_beidou", "GSV.in_view_beidou"),))
    parse = codec_for("nmea").sensor_decoder(spec, lambda: 0.0)
    by_epoch: dict[str, list[tuple[str, float]]] = {}
    epoch = ""
    for line in lines:
        if line.startswith(b"$GNRMC"):
            epoch = line.split(b",")[1].decode()[4:6]
            by_epoch[epoch] = []
        by_epoch[epoch] += [(line[3:6].decode(), value) for _, value in parse(line)]
    return by_epoch


def test_a_zed_f9r_epoch_whose_receiver_left_a_group_out_reads_the_groups_it_sent() -> None:
    """gpsd's capture test/daemon/ublox-zed-f9r.log (tests/fixtures/nmea/ublox_zed_f9r.nmea):
    BeiDou's one-sentence B2a group (signal ID ``B``) comes in every epoch from the capture's
    first, 23:14:08, on; at 23:14:18 the receiver sends none (every sentence of the epoch
    intact, its B1I and signal-0 groups whole; B2a's satellite of 23:14:17, 09, is on B1I
    still), and at 23:14:19 it is back with 20 and 32. A group absent from an epoch is what
    a receiver sends when no satellite is tracked on the signal, so the epoch reads the
    groups that came: 14 satellites at its end (the GST after its GSV), as gpsd's last SKY
    of the epoch counts 14 BeiDou satellites. A one-sentence group lost whole on the line
    leaves the same stream (23:14:17's B2a ``$GBGSV,1,1,01`` dropped: its 09 on B1I, 14
    read at the epoch's end): withholding such an epoch would withhold the receiver's own
    (fails with SatelliteGroups._due giving nothing for an epoch short of its most groups:
    no reading at 23:14:18)."""
    lines = [line for line in stream("ublox_zed_f9r.nmea").split(b"\r\n") if line]
    by_epoch = zed_f9r_beidou_by_epoch(lines)
    # the stream's first epoch, where BeiDou's signals are learnt, is read at its end too
    at_end = [("GST", 14.0)]
    assert by_epoch == {
        **{f"{second}": [("GSV", 14.0)] for second in range(15, 25)},
        "15": at_end,
        "18": at_end,
    }
    dropped = [line for line in lines if not line.startswith(b"$GBGSV,1,1,01,09,22,048,08,B*")]
    assert len(dropped) == len(lines) - 1
    assert zed_f9r_beidou_by_epoch(dropped) == by_epoch | {"17": at_end}


#: The LC79D's GPS sentences at 11:50:33 (gpsd's capture test/daemon/quectelLC79D.log,
#: tests/fixtures/nmea/quectel_lc79d.nmea): its ``3,1``/``3,2`` without signal ID, its
#: ``3,3`` with the L5 entries of 06, 09 and 30 and signal ID 8, the GGA that ends its
#: epoch, and those L5 entries as a group of their own, as an L5-only group is sent.
LC79D_GPS = (
    "GPGSV,3,1,10,02,25,260,39,04,15,092,27,05,,,14,06,12,215,45",
    "GPGSV,3,2,10,07,80,137,44,09,53,089,27,30,55,211,49",
    "GPGSV,3,3,10,06,,,40,09,,,27,30,,,39,8",
    "GPGGA,115033.00,5002.457296,N,01958.828604,E,1,20,0.4,246.0,M,,M,,",
    "GPGSV,1,1,03,06,,,40,09,,,27,30,,,39,8",
)


def gps_epochs(frames: list[bytes]) -> tuple[list[tuple[float, ...]], list[str]]:
    """GPS's in-view and best-SNR readings and the reasons of the errors, frame by frame."""
    spec = FormatSpec("nmea", (("v", "GSV.in_view_gps"), ("s", "GSV.snr_max_gps")))
    parse = codec_for("nmea").sensor_decoder(spec, lambda: 0.0)
    readings: list[tuple[float, ...]] = []
    errors: list[str] = []
    for frame in frames:
        try:
            got = parse(frame)
        except ParseError as exc:
            errors.append(exc.reason)
            continue
        if got:
            readings.append(tuple(value for _, value in got))
    return readings, errors


@pytest.mark.parametrize(
    "last",
    [
        "GPGSV,3,3,10,06,12,215,40,09,53,089,27,30,55,211,39,8",
        "GPGSV,3,3,10,06,,,40,09,,,27,30,,,39,00,,,,8",
    ],
    ids=["L5 entries with their angles", "an entry numbered 00"],
)
def test_an_lc79d_style_3_3_after_an_l5_group_continues_its_group_by_its_satellites(
    last: str,
) -> None:
    """The port opened at the L5-only group (see
    ``test_an_l5_group_after_an_lc79d_style_group_leaves_its_signal_change_no_loss``): the
    ``3,3`` of signal 8 continues its group when the satellites it lists are among the
    group's, read from their number fields alone: an L5 entry that carries its satellite's
    elevation and azimuth (as a ZED-F9P's L2 entries repeat their L1 ones) lists the same
    three satellites, and an entry numbered 00 (an unused entry filled with zeros, which
    gpsd skips) lists none. No error; the L5 group read first as sent, then 7 an epoch."""
    gsv1, gsv2, _, gga, l5 = (nmea(text) for text in LC79D_GPS)
    frames = [l5, gga] + [gsv1, gsv2, nmea(last), l5, gga] * 3
    readings, errors = gps_epochs(frames)
    assert errors == []
    assert readings == [(3.0, 40.0), (7.0, 49.0), (7.0, 49.0), (7.0, 49.0)]


def test_an_lc79d_qzss_2_2_after_its_l5_group_continues_its_group_of_that_satellite() -> None:
    """The LC79D's QZSS 02 on L1 and L5 (``$QZGSV,2,1,02`` and ``2,2,02,...,8`` from 11:50:40
    in gpsd's capture test/daemon/quectelLC79D.log, tests/fixtures/nmea/
    quectel_lc79d_qzss_l5.nmea), with 02's L5 entry also as a group of its own after it
    (``$QZGSV,1,1,01,02,,,09,8``), the port opened at that group: the ``2,2`` lists every
    satellite its group has listed, 02 alone, and continues it as one that lists some of
    them does. One satellite a second, at 02's better SNR (28, on L1), no error."""
    sentences = ("QZGSV,2,1,02,02,05,042,28", "QZGSV,2,2,02,02,,,09,8", "QZGSV,1,1,01,02,,,09,8")
    first, second, l5 = (nmea(text) for text in sentences)
    gga = nmea(LC79D_GPS[3])
    spec = FormatSpec("nmea", (("v", "GSV.in_view_qzss"), ("s", "GSV.snr_max_qzss")))
    parse = codec_for("nmea").sensor_decoder(spec, lambda: 0.0)
    got = [parse(frame) for frame in [l5, gga] + [first, second, l5, gga] * 3]
    assert [reading for reading in got if reading] == [
        [("v", 1.0), ("s", 9.0)],  # the L5 group read first, as sent
        [("v", 1.0), ("s", 28.0)],
        [("v", 1.0), ("s", 28.0)],
        [("v", 1.0), ("s", 28.0)],
    ]


def test_an_lc79d_style_epoch_whose_3_2_fails_its_checksum_is_one_error() -> None:
    """The LC79D's GPS epochs with their L5-only group, from the stream's start: the first
    epoch's ``3,3`` of signal 8 continues its group before ``GP``/8 begins a group of its own,
    so the ``3,3`` goes on continuing its group after a lost ``3,2`` too. An epoch whose
    ``3,2`` fails its checksum is one error, that ``checksum``: the ``3,3`` ends the group
    that lost it, which gives nothing, and the next epoch's ``3,1`` cuts no group."""
    gsv1, gsv2, gsv3, gga, l5 = (nmea(text) for text in LC79D_GPS)
    damaged = gsv2.replace(b",80,137,", b",80,187,")
    assert damaged != gsv2
    epoch = [gsv1, gsv2, gsv3, l5, gga]
    readings, errors = gps_epochs([gga, *epoch, gsv1, damaged, gsv3, l5, gga, *epoch])
    assert errors == ["checksum"]
    assert readings == [(7.0, 49.0)]  # the first withheld, the second lost a sentence


def test_an_lc79d_style_first_group_that_loses_its_3_2_gives_no_reading_of_l5_alone() -> None:
    """The LC79D's GPS epochs with their L5-only group (gpsd's capture
    test/daemon/quectelLC79D.log), the first epoch's ``3,2`` failing its checksum: the group
    that would teach the talker's two signals within it loses a sentence and gives nothing,
    but it still teaches that the epochs have two groups. Its L5 group, the epoch's second,
    gives no reading of its 3 L5 satellites alone; the next epochs read 7 once each, at their
    L5 group. The same with the next epoch damaged too: it gives nothing, and each loss is
    one error, its ``checksum``."""
    gsv1, gsv2, gsv3, gga, l5 = (nmea(text) for text in LC79D_GPS)
    damaged = gsv2.replace(b",80,137,", b",80,187,")
    assert damaged != gsv2
    epoch = [gsv1, gsv2, gsv3, l5, gga]
    lost = [gsv1, damaged, gsv3, l5, gga]
    readings, errors = gps_epochs([gga, *lost, *epoch, *epoch])
    assert errors == ["checksum"]
    assert readings == [(7.0, 49.0), (7.0, 49.0)]
    readings, errors = gps_epochs([gga, *lost, *lost, *epoch])
    assert errors == ["checksum", "checksum"]
    assert readings == [(7.0, 49.0)]


def test_an_lc79d_style_group_after_the_l5_group_that_loses_its_3_2_is_one_error() -> None:
    """The port opened at the LC79D's L5-only group (see
    ``test_an_l5_group_after_an_lc79d_style_group_leaves_its_signal_change_no_loss``), and
    the first ``3,1``/``3,2``/``3,3`` group after it loses its ``3,2`` to a failed checksum:
    the ``3,3`` of signal 8, past the gap, ends the group that began right after the signal's
    own group (it taught the talker's groups without signal ID), no second loss at the next
    epoch's ``3,1``; the same for a later epoch's ``3,2`` lost. The L5 group read first as
    sent, then 7 an epoch whole, none in an epoch that lost a sentence."""
    gsv1, gsv2, gsv3, gga, l5 = (nmea(text) for text in LC79D_GPS)
    damaged = gsv2.replace(b",80,137,", b",80,187,")
    epoch = [gsv1, gsv2, gsv3, l5, gga]
    lost = [gsv1, damaged, gsv3, l5, gga]
    readings, errors = gps_epochs([l5, gga, *lost, *epoch, *lost, *epoch])
    assert errors == ["checksum", "checksum"]
    assert readings == [(3.0, 40.0), (7.0, 49.0), (7.0, 49.0)]


def test_an_lc79d_style_group_whose_l5_entries_take_two_sentences_continues_to_its_end() -> None:
    """An LC79D-style group of 8 GPS satellites on L1 (``4,1``, ``4,2``) and 5 of them on L5,
    whose L5 entries take two sentences of signal ID 8 (``4,3``, ``4,4``): the first of
    them continues the group without signal ID, the second continues it to its end. The
    satellites of the LC79D's ``3,1``/``3,2`` (gpsd's capture test/daemon/quectelLC79D.log)
    with a GPS 25 added, and L5 entries of 04, 06, 09, 25 and 30. The first epoch teaches
    the two signals within its group (no reading), each one after it gives its 8 distinct
    satellites, no error."""
    sentences = (
        "GPGSV,4,1,13,02,25,260,39,04,15,092,27,05,,,14,06,12,215,45",
        "GPGSV,4,2,13,07,80,137,44,09,53,089,27,25,21,301,33,30,55,211,49",
        "GPGSV,4,3,13,04,,,30,06,,,40,09,,,27,25,,,31,8",
        "GPGSV,4,4,13,30,,,39,8",
    )
    epoch = [nmea(text) for text in sentences] + [nmea(LC79D_GPS[3])]
    readings, errors = gps_epochs(epoch * 3)
    assert errors == []
    assert readings == [(8.0, 49.0), (8.0, 49.0)]


def test_an_l5_group_inside_an_lc79d_style_group_is_a_loss_not_a_crash() -> None:
    """Two receivers' streams joined by a multiplexer, one an LC79D-style receiver, the other
    sending the L5-only group: its ``$GPGSV,1,1,03,...,8`` can come between the first's
    ``3,1`` and ``3,2`` before ``GP``/8 ever continued a group. The ``3,3`` of signal 8 then
    finds a group that waits for it whose satellites were read before the talker's several
    signals were known (no number kept): it is out of its group (``truncated``), and the
    epochs after it read as ever."""
    gsv1, gsv2, gsv3, gga, l5 = (nmea(text) for text in LC79D_GPS)
    spec = FormatSpec("nmea", (("v", "GSV.in_view_gps"), ("s", "GSV.snr_max_gps")))
    parse = codec_for("nmea").sensor_decoder(spec, lambda: 0.0)
    for frame in (gga, gsv1, l5, gsv2):
        parse(frame)
    with pytest.raises(ParseError) as caught:
        parse(gsv3)
    assert caught.value.reason == "truncated"
    readings, errors = gps_epochs([gga, gsv1, l5, gsv2, gsv3] + [gga, gsv1, gsv2, gsv3, l5] * 3)
    assert errors[0] == "truncated"
    assert set(errors) == {"truncated"}  # the 3,3 out of its group, and its group cut
    assert readings[-2:] == [(7.0, 49.0), (7.0, 49.0)]


QZSS_L5 = ("GSV.in_view_qzss", "GSV.snr_max_qzss", "GSV.in_view_gps", "GSV.in_view_galileo")


def test_an_lc79d_qzss_group_taking_an_l5_entry_mid_stream_counts_one_satellite() -> None:
    """The LC79D's QZSS satellite 02, one sentence a second on L1 (``$QZGSV,1,1,01``) until its
    L5 signal is tracked too (11:50:40 in gpsd's capture test/daemon/quectelLC79D.log,
    tests/fixtures/nmea/quectel_lc79d_qzss_l5.nmea): ``$QZGSV,2,1,02`` without signal ID, then
    ``2,2,02`` with 02's L5 entry and signal ID 8, 2 in view by the in-view field, which counts
    each satellite and signal. One satellite is in view every second: the group that teaches
    QZSS's two signals gives no reading (its 2 would read as two satellites), the next
    second's, read over the signals, gives 1 at 02's better SNR, 28 (L1; L5 at 9), and so
    does the one-sentence group after it. GPS and Galileo, whose groups carry two signals
    from the first, give none in the first second and their distinct satellites after it
    (7 and 2, not the 10 and 4 of their in-view fields)."""
    got = read("quectel_lc79d_qzss_l5.nmea", QZSS_L5)
    assert rejected(got) == {}
    r = got.readings
    assert r["GSV.in_view_qzss"] == [1.0, 1.0, 1.0]  # 11:50:39, 11:50:41, 11:50:42
    assert r["GSV.snr_max_qzss"] == [28.0, 28.0, 28.0]
    assert r["GSV.in_view_gps"] == [7.0, 7.0, 7.0]
    assert r["GSV.in_view_galileo"] == [2.0, 2.0, 2.0]


def test_skytraq_px1172rh_one_reading_an_epoch_over_its_groups_of_each_signal() -> None:
    """A SkyTraq PX1172RH sends a $GPGSV group for L1 (10 satellites) and one for L2 (4 of
    them), and a $GAGSV group for E1 (10) and one for E5b (5 of them): each constellation
    gets one reading an epoch, of its distinct satellites (10, not 10 and 4 in turn), each at
    its best SNR. The first epoch's groups are held to its end, the GLL after them, which
    gives the readings of each constellation's groups of the epoch, as gpsd's SKY of 00:38:33
    reports them (test/daemon/skytraq-PX1172RH_DS.log.chk: GPS's SNRs at most 50, 46.75 on
    average; Galileo's 51 and 45.8), not of its first signal's alone (47 and 45.5; 46 and
    41.6)."""
    got = read("skytraq_px1172rh.nmea")
    assert rejected(got) == {}
    r = got.readings
    assert r["GSV.in_view_gps"] == [10.0, 10.0, 10.0]
    # L1 at 00:38:36: 25 at 47, 12 at 47, 29 at 44, 05 at 48; L2: 50, 45, 39, 48
    assert r["GSV.snr_max_gps"] == [50.0, 50.0, 50.0]
    assert r["GSV.snr_mean_gps"] == [46.75, (50 + 47 + 44 + 48) / 4, (50 + 46 + 43 + 48) / 4]
    assert r["GSV.in_view_galileo"] == [10.0, 10.0, 10.0]
    # E1 at 00:38:36: 11 at 41, 36 at 42, 25 at 46, 02 at 38, 10 at 42; E5b: 41, 51, 48, 44, 44
    assert r["GSV.snr_max_galileo"] == [51.0, 51.0, 51.0]
    assert r["GSV.snr_mean_galileo"] == [
        pytest.approx(45.8),
        pytest.approx((41 + 51 + 48 + 44 + 44) / 5),
        pytest.approx((41 + 51 + 48 + 44 + 44) / 5),
    ]
    # one group of one signal: as ever
    assert r["GSV.in_view_glonass"] == [8.0, 8.0, 8.0]
    assert r["GSV.snr_max_glonass"] == [43.0, 43.0, 43.0]
    assert r["GSV.in_view_beidou"] == [10.0, 10.0, 10.0]
    # 38 satellites in view; gpsd's SKY of the same epoch says nSat 47, its satellite and
    # signal pairs (test/daemon/skytraq-PX1172RH_DS.log.chk)
    assert sum(r[f"GSV.in_view_{c}"][-1] for c in ("gps", "glonass", "galileo", "beidou")) == 38


def test_skytraq_px1172rh_read_from_between_its_groups_of_two_signals() -> None:
    """The port opened after the $GPGSV L1 group of 00:38:33, at the L2 one: the talker's
    first group is its L2 group, read as sent (4 satellites), and the L1 group of 00:38:36
    teaches its second signal ID; the epoch's reading is of both groups, 10 satellites,
    not of the L2 group alone. Galileo's groups of that epoch come whole, E1 first."""
    got = read("skytraq_px1172rh.nmea", opened_at=b"$GPGSV,1,1,04")
    assert rejected(got) == {}
    r = got.readings
    assert r["GSV.in_view_gps"] == [4.0, 10.0, 10.0]
    assert r["GSV.snr_max_gps"] == [50.0, 50.0, 50.0]
    assert r["GSV.in_view_galileo"] == [10.0, 10.0, 10.0]
    assert r["GSV.in_view_glonass"] == [8.0, 8.0, 8.0]


def test_ublox_zed_f9p_one_reading_an_epoch_over_its_two_bands() -> None:
    """A u-blox ZED-F9P sends every epoch a GSV group per signal of each constellation, the
    same satellites on both bands: one reading an epoch, not one a band; the SNRs are each
    satellite's best (GPS on L2 reaches 29 dB-Hz at most, L1 34; Galileo's E5b 35, E1 32). The
    first epoch's groups are held to its end, the GLL after them: its readings are of both
    bands too, as gpsd's SKY of 00:39:56 reports them (test/daemon/ublox-zed-f9p-nmea.log.chk:
    Galileo's SNRs at most 35, 21.5 on average; E1 alone 32 and 20.5)."""
    got = read("ublox_zed_f9p.nmea")
    assert rejected(got) == {}
    r = got.readings
    assert r["GSV.in_view_gps"] == [12.0, 12.0, 12.0]
    assert r["GSV.snr_max_gps"] == [34.0, 34.0, 34.0]
    # 00:39:57, L1: 05 at 18, 10 at 34, 13 at 29, 15 at 10, 16 at 7, 20 at 34, 21 at 30,
    # 27 at 31 (29 on L2), 29 at 12
    assert r["GSV.snr_mean_gps"][1] == pytest.approx(205 / 9)
    assert r["GSV.in_view_glonass"] == [10.0, 10.0, 10.0]
    assert r["GSV.snr_max_glonass"] == [35.0, 35.0, 35.0]
    assert r["GSV.in_view_galileo"] == [9.0, 9.0, 9.0]
    # 00:39:57: 07 at 11, 12 at 35 (31 on E1), 18 at 32 (31 on E5b), 33 at 9
    assert r["GSV.snr_max_galileo"] == [35.0, 35.0, 35.0]
    # 00:39:56: 07 at 11, 12 at 35 (31 on E1), 18 at 32 (31 on E5b), 33 at 8
    assert r["GSV.snr_mean_galileo"][:2] == [(11 + 35 + 32 + 8) / 4, (11 + 35 + 32 + 9) / 4]
    # B1I with signal ID 1, then B2I with the signal ID field empty: two groups as well
    assert r["GSV.in_view_beidou"] == [10.0, 10.0, 10.0]


def test_trimble_rtk_at_10_hz_every_epochs_gga_is_read() -> None:
    got = read("trimble_rtk_10hz.nmea")
    assert rejected(got) == {}
    assert got.ignored == 0
    # 16 GGA 100 ms apart, 13:28:19.60 to 13:28:21.10, none taken for a stale repeat
    assert got.readings["GGA.altitude"] == [
        *(278.161, 278.161, 279.884, 278.214, 278.254, 278.255, 278.230, 278.188),
        *(278.122, 278.071, 278.020, 277.995, 278.029, 278.001, 278.067, 278.052),
    ]
    assert len(got.readings["RMC.speed"]) == 15


def test_bandg_zeus2_relative_and_true_wind_are_kept_apart() -> None:
    got = read("bandg_zeus2.nmea")
    assert rejected(got) == {}
    # 9 HDG, 2 each of VLW, VHW, MWD: no channel of FIELDS reads them; 2 MTW without a value
    assert got.ignored == 17
    r = got.readings
    # $WIMWV,57.5,R,13.0,N,A then $WIMWV,96.6,T,11.2,N,A: each wind in its own channels
    assert r["MWV.wind_angle"] == [57.5, 73.7]
    assert r["MWV.wind_speed_mps"] == [
        pytest.approx(13.0 * 1852 / 3600),
        pytest.approx(11.1 * 1852 / 3600),
    ]
    assert r["MWV.true_wind_angle"] == [96.6, 94.9]
    assert r["MWV.true_wind_speed_mps"] == [
        pytest.approx(11.2 * 1852 / 3600),
        pytest.approx(11.3 * 1852 / 3600),
    ]
    assert r["XDR.HEEL"] == [-1.0, -3.0]
    assert "XDR.BARO" not in r  # its value field is empty
    assert r["DPT.depth"] == [5.3, 5.4]  # below the transducer, as DBT's
    assert r["DBT.depth"] == [5.4]


def test_bandg_zeus2_depth_and_the_transducers_offset() -> None:
    got = read("bandg_zeus2.nmea", ("DPT.depth", "DPT.offset", "DBT.depth"))
    assert rejected(got) == {}
    r = got.readings
    # $SDDPT,5.3,0.4, and $SDDBT,18.0,f,5.4,M,3.0,F: DPT and DBT give the depth below the
    # transducer; DPT's offset, 0.4 m up to the waterline, gives the depth below the surface
    assert r["DPT.depth"] == [5.3, 5.4]
    assert r["DPT.offset"] == [0.4, 0.4]
    assert r["DBT.depth"] == [5.4]


def test_bandg_zeus2_heading_deviation_and_variation() -> None:
    got = read("bandg_zeus2.nmea", ("HDG.heading", "HDG.deviation", "HDG.variation"))
    assert rejected(got) == {}
    r = got.readings
    # $SDHDG,229.8,,,1.3,E at 5 Hz: the sensor's heading, no deviation, variation 1.3 east
    assert r["HDG.heading"] == [229.8, 230.0, 230.3, 230.6, 230.9, 231.2, 231.8, 231.8, 231.7]
    assert r["HDG.variation"] == [1.3] * 9
    assert "HDG.deviation" not in r  # empty: unknown
    assert got.ignored == 26 - 9  # every sentence but the nine HDG


def test_bandg_zeus2_water_speed_distance_log_and_true_wind_direction() -> None:
    fields = (
        *("MWD.wind_direction", "MWD.wind_direction_magnetic"),
        *("MWD.wind_speed_knots", "MWD.wind_speed_mps"),
        *("VHW.heading", "VHW.heading_magnetic", "VHW.speed_knots", "VHW.speed_kmh"),
        *("VLW.total_distance", "VLW.trip_distance"),
        *("VLW.total_ground_distance", "VLW.trip_ground_distance"),
    )
    got = read("bandg_zeus2.nmea", fields)
    assert rejected(got) == {}
    r = got.readings
    # $WIMWD,328.2,T,326.8,M,11.2,N,5.8,M and $WIMWD,327.8,T,326.4,M,11.3,N,5.8,M
    assert r["MWD.wind_direction"] == [328.2, 327.8]
    assert r["MWD.wind_direction_magnetic"] == [326.8, 326.4]
    assert r["MWD.wind_speed_knots"] == [11.2, 11.3]
    assert r["MWD.wind_speed_mps"] == [5.8, 5.8]  # the instrument's own m/s field
    # $SDVHW,231.3,T,229.9,M,6.6,N,12.3,K and $SDVHW,233.2,T,231.8,M,6.6,N,12.3,K
    assert r["VHW.heading"] == [231.3, 233.2]
    assert r["VHW.heading_magnetic"] == [229.9, 231.8]
    assert r["VHW.speed_knots"] == [6.6, 6.6]
    assert r["VHW.speed_kmh"] == [12.3, 12.3]
    # $SDVLW,,N,545.6,N,1109.4,N,393.6,N twice: no total water distance
    assert "VLW.total_distance" not in r
    assert r["VLW.trip_distance"] == [545.6, 545.6]
    assert r["VLW.total_ground_distance"] == [1109.4, 1109.4]
    assert r["VLW.trip_ground_distance"] == [393.6, 393.6]
    assert got.ignored == 26 - 6


def test_airmar_110wx_mda_with_its_wind_fields_empty_and_xdr_pressure_in_bars() -> None:
    fields = (
        *(f for f in NMEA_FIELDS if f.startswith("MDA.")),
        *("MWV.wind_angle", "XDR.STNP", "XDR.P:STNP", "XDR.WCHR", "XDR.HINX"),
    )
    got = read("airmar_110wx.nmea", fields)
    assert rejected(got) == {}
    assert got.frames == 37
    assert got.ignored == 6  # $PAMTR and the five $PAMTT lines
    r = got.readings
    # $WIMDA,29.8637,I,1.0113,B,21.9,C,,,54.6,,12.3,C,,,,,,,,*7D, its humidity 54.5 at the end
    assert r["MDA.pressure_inhg"] == [29.8637] * 7
    assert r["MDA.pressure_bar"] == [1.0113] * 7
    assert r["MDA.air_temperature"] == [21.9] * 7
    assert r["MDA.relative_humidity"] == [54.6] * 5 + [54.5] * 2
    assert r["MDA.dew_point"] == [12.3] * 7
    empty = (
        *("water_temperature", "absolute_humidity", "wind_direction"),
        *("wind_direction_magnetic", "wind_speed_knots", "wind_speed_mps"),
    )
    assert not [name for name in empty if f"MDA.{name}" in r]
    assert len(r["MWV.wind_angle"]) == 21
    # XDR's value as sent, in its quadruple's unit (here bars), read by channels without units
    assert r["XDR.STNP"] == r["XDR.P:STNP"] == [1.0113] * 3
    assert "XDR.WCHR" not in r
    assert "XDR.HINX" not in r


#: An AirMar instrument's $GPGSV groups, two epochs: sentences 2 and 3 leave the total and
#: in-view fields empty, as NMEA 0183 4.11 recommends for values unchanged within a group.
#: Origin: OpenCPN pull request #2146 ("Read SatsInView from GSV message #1 only", Håkan
#: Svensson, 2020-12-29), its log of an AirMar's sentences at 12:28:02 and 12:28:04, copied
#: verbatim with their checksums.
AIRMAR_GSV = (
    b"$GPGSV,3,1,10,8,13,62,35,13,50,277,39,18,18,324,33,5,53,228,38*48",
    b"$GPGSV,,2,,7,43,71,39,30,73,107,38,27,13,26,34,15,14,289,37*7F",
    b"$GPGSV,,3,,14,33,150,40,28,26,155,37*44",
    b"$GPGSV,3,1,10,8,13,62,35,13,50,277,39,18,18,324,32,5,53,228,38*49",
    b"$GPGSV,,2,,7,43,71,38,30,73,107,38,27,13,26,34,15,14,289,37*7E",
    b"$GPGSV,,3,,14,33,150,40,28,26,155,36*45",
)


def test_airmar_gsv_sentences_after_the_first_without_total_and_in_view() -> None:
    """An AirMar's GSV sentences 2 and 3 carry their sentence number but not the group's
    total or satellites in view: the group they continue gives them (3 sentences, 10 in
    view), and each group is read whole at its sentence 3."""
    spec = FormatSpec("nmea", tuple((f, f) for f in ("GSV.in_view_gps", "GSV.snr_mean_gps")))
    parse = codec_for("nmea").sensor_decoder(spec, lambda: 0.0)
    got = [parse(line) for line in AIRMAR_GSV]
    # SNRs 35, 39, 33, 38, 39, 38, 34, 37, 40, 37; then 32 for 33, 38 for 39, 36 for 37
    first = [("GSV.in_view_gps", 10.0), ("GSV.snr_mean_gps", 37.0)]
    second = [("GSV.in_view_gps", 10.0), ("GSV.snr_mean_gps", pytest.approx(36.7))]
    assert got == [[], [], first, [], [], second]


@pytest.mark.parametrize(
    ("before", "lines", "reasons"),
    [
        ((), AIRMAR_GSV[1:3], []),
        (
            AIRMAR_GSV[:3],
            (AIRMAR_GSV[3][:-1] + b"0", *AIRMAR_GSV[4:]),
            [("checksum", "NMEA checksum mismatch, sentence says b'40'")],
        ),
        (AIRMAR_GSV[:3], AIRMAR_GSV[4:], [("truncated", "GSV sentence 2 out of its group")]),
    ],
    ids=["opened after sentence 1", "sentence 1 rejected", "sentence 1 lost"],
)
def test_airmar_gsv_sentences_without_their_group_are_one_loss_at_most(
    before: tuple[bytes, ...], lines: tuple[bytes, ...], reasons: list[tuple[str, str]]
) -> None:
    """An AirMar's GSV sentences 2 and 3 without total and in-view fields, whose sentence 1
    did not come (no group gives them): the end of the group under way when the port was
    opened, ignored; or, after a whole group, one loss: its sentence 1 rejected (counted under
    its reason) or lost without a trace (counted at sentence 2, out of its group, which the
    error names), not again at sentence 3. They give nothing, and the next group is read
    whole."""
    spec = FormatSpec("nmea", (("in_view", "GSV.in_view_gps"),))
    parse = codec_for("nmea").sensor_decoder(spec, lambda: 0.0)
    given = [pair for line in before for pair in parse(line)]
    assert given == ([("in_view", 10.0)] if before else [])
    found: list[tuple[str, str]] = []
    for line in lines:
        try:
            assert parse(line) == []
        except ParseError as exc:
            found.append((exc.reason, exc.detail))
    assert found == reasons
    assert [parse(line) for line in AIRMAR_GSV[:3]] == [[], [], [("in_view", 10.0)]]


@pytest.mark.parametrize("before", [(), AIRMAR_GSV[:3]], ids=["first", "after a group"])
def test_an_airmar_gsv_sentence_1_without_total_and_in_view_is_a_syntax_error(
    before: tuple[bytes, ...],
) -> None:
    """Only a sentence after the first takes its group's total and in-view fields: an AirMar's
    sentence 1 written as its sentences 2 and 3 (both fields empty) has no group to take them
    from, and is a ``syntax`` error, the stream's first frame too (not the ignored end of a
    group under way), not a sentence out of its group. The group's sentences after it are
    then out of their group, and the next group is read whole."""
    spec = FormatSpec("nmea", (("in_view", "GSV.in_view_gps"),))
    parse = codec_for("nmea").sensor_decoder(spec, lambda: 0.0)
    for line in before:
        parse(line)
    blank = checksummed_anew(AIRMAR_GSV[0], b"GPGSV,3,1,10,", b"GPGSV,,1,,")
    with pytest.raises(ParseError) as caught:
        parse(blank)
    assert (caught.value.reason, caught.value.detail) == ("syntax", "not a whole number: ''")
    for line in AIRMAR_GSV[1:3]:
        assert parse(line) == []
    assert [parse(line) for line in AIRMAR_GSV[3:]] == [[], [], [("in_view", 10.0)]]


def test_skytraq_clock_at_its_power_up_default_gives_no_clock_offset() -> None:
    """Right after power-on a SkyTraq Phoenix dates its ZDA 1980-01-06, GPS week 0, where its
    clock starts before a satellite gives it the time: no clock offset of 42 years, while
    the ZDA and RMC of the PX1172RH with a fix, read with the host's clock 0.5 s ahead of
    them, give theirs."""
    host_s = 1648514312.5  # 2022-03-29 00:38:32.5 UTC
    got = read("skytraq_cold_start.nmea", host_s=host_s)
    assert rejected(got) == {}
    # the start of the first line, up to its second '$': a GGA cut short by the next one's
    assert got.skipped_bytes == len(
        b"0000.00000,E,0,00,0.0,0.0,M,0.0,$GPGGA,000124.000,0000.00000,N,0"
    )
    assert got.frames == 23
    r = got.readings
    assert r["ZDA.clock_offset"] == [-0.5]
    assert r["RMC.clock_offset"] == [-0.5]
    assert r["GGA.fix_quality"] == [0.0, 0.0, 5.0]
    assert r["GSA.used_gps"] == [0.0, 4.0]


def test_skytraq_power_up_default_gives_no_clock_offset_on_a_host_without_clock() -> None:
    """A host without a battery-backed clock starts at the Unix epoch, its receiver at its
    power-up default in GPS week 0, ten years ahead of it: no clock offset from the latter
    either; the ZDA and RMC with a fix give the host's clock 52 years behind, as it is."""
    got = read("skytraq_cold_start.nmea", host_s=42.0)  # 42 s after boot, clock at 1970
    assert rejected(got) == {}
    r = got.readings
    assert r["ZDA.clock_offset"] == [1648514312.0 - 42.0]
    assert r["RMC.clock_offset"] == [1648514312.0 - 42.0]


def test_a_zed_f9p_l2_sentence_after_a_burst_loss_continues_no_l1_group_of_its_size() -> None:
    """The ZED-F9P's first epoch (tests/fixtures/nmea/ublox_zed_f9p.nmea) with a burst of three
    sentences lost on the line: its L1 group's ``$GPGSV,3,2,12`` and ``3,3,12`` (signal ID 1)
    and its L2 group's ``3,1,12`` (signal ID 6). The L2 group's ``3,2,12`` comes while the L1
    group of the same 12 satellites waits for its ``3,2``; it lists satellites 16, 18, 20 and
    21, none of which the L1 group has listed (05, 10, 13, 15), where an LC79D's sentence of
    another signal ID lists the L5 entries of its group's L1 satellites: it is out of its
    group, not that group's continuation. The loss is counted, each group that lost a
    sentence once: the L1 group, cut by the next epoch's ``3,1``, and the L2 group's
    ``3,2``; the epochs after give GPS 12 in view, their L1 and L2 groups apart."""
    lines = stream("ublox_zed_f9p.nmea").split(b"\r\n")[:-1]
    gps = [n for n, line in enumerate(lines) if line.startswith(b"$GPGSV,")]
    assert [lines[n][-5:] for n in gps[:4]] == [b",1*60", b",1*64", b",1*69", b",6*63"]
    del lines[gps[1] : gps[3] + 1]
    spec = FormatSpec("nmea", (("gps", "GSV.in_view_gps"),))
    parse = codec_for("nmea").sensor_decoder(spec, lambda: 0.0)
    errors: list[str] = []
    readings: list[tuple[str, float]] = []
    for frame in lines:
        try:
            readings += parse(frame)
        except ParseError as exc:
            errors.append(f"{exc.reason}: {exc.detail}")
            readings += exc.kept
    assert errors == [
        "truncated: GSV sentence 2 of 3 out of its group",
        "truncated: GSV group of 3 cut before its end",
    ]
    assert readings == [("gps", 12.0)] * 2


def test_a_zed_f9p_l2_sentence_past_a_longer_burst_continues_no_l1_group_either() -> None:
    """The test above with a burst of four: the L2 group's ``3,2,12`` lost too, so its
    ``3,3,12`` comes while the L1 group waits for its ``3,2``, a sentence before it. A
    sentence of another signal ID continues a group past a lost sentence only when it lists
    none but the group's satellites (an LC79D's ``4,4`` of signal 8 after a lost ``4,3``):
    this one lists 26, 27, 29 and 30, none of the L1 group's (05, 10, 13, 15), and is out of
    its group. Each group that lost a sentence is one error."""
    lines = stream("ublox_zed_f9p.nmea").split(b"\r\n")[:-1]
    gps = [n for n, line in enumerate(lines) if line.startswith(b"$GPGSV,")]
    assert lines[gps[5]].startswith(b"$GPGSV,3,3,12,")
    assert lines[gps[5]].endswith(b",6*65")
    del lines[gps[1] : gps[4] + 1]
    spec = FormatSpec("nmea", (("gps", "GSV.in_view_gps"),))
    parse = codec_for("nmea").sensor_decoder(spec, lambda: 0.0)
    errors: list[str] = []
    readings: list[tuple[str, float]] = []
    for frame in lines:
        try:
            readings += parse(frame)
        except ParseError as exc:
            errors.append(f"{exc.reason}: {exc.detail}")
            readings += exc.kept
    assert errors == [
        "truncated: GSV sentence 3 of 3 out of its group",
        "truncated: GSV group of 3 cut before its end",
    ]
    assert readings == [("gps", 12.0)] * 2


@pytest.mark.parametrize("lost", [False, True])
def test_an_lc79d_first_group_whose_4_3_is_lost_before_signal_8_continued_one_is_one_error(
    lost: bool,
) -> None:
    """The capture's first whole GPS group (its second epoch: the capture begins at the first
    epoch's ``4,2``, which is ignored) with its ``$GPGSV,4,3,12`` failing its checksum, or
    lost whole, before any sentence of signal 8 has continued a group: its ``4,4`` of signal
    8, past the lost ``4,3``, lists only satellites its group has listed on L1 (01, 03, 09),
    so it is the group's own, out of it, and ends it; the next epoch's ``4,1`` cuts no group.
    One error, the damaged sentence's or the lost one's at the ``4,4`` (before: a second one,
    ``truncated``, for the group the next ``4,1`` cut). The group gives nothing; each whole
    epoch after it (the capture's third, then its second and third again) reads 9 GPS
    satellites."""
    lines = stream("quectel_lc79d_signal_ids.nmea").split(b"\r\n")[:-1]
    second = [n for n, line in enumerate(lines) if line.startswith(b"$GPGSV,4,3,12,")][1]
    assert lines[second - 2].startswith(b"$GPGSV,4,1,12,")
    assert lines[second + 1].startswith(b"$GPGSV,4,4,12,")
    assert lines[second + 1].endswith(b"8*5D")
    epochs = lines[second - 2 :]  # whole epochs, from the first whole group on
    if lost:
        del lines[second]
    else:
        lines[second] = lines[second].replace(b"*53", b"*54")
    spec = FormatSpec("nmea", (("gps", "GSV.in_view_gps"),))
    parse = codec_for("nmea").sensor_decoder(spec, lambda: 0.0)
    errors: list[str] = []
    readings: list[tuple[str, float]] = []
    for frame in lines + epochs:
        try:
            readings += parse(frame)
        except ParseError as exc:
            errors.append(exc.reason)
            readings += exc.kept
    assert errors == (["truncated"] if lost else ["checksum"])
    assert readings == [("gps", 9.0)] * 3


def test_two_empty_pq_groups_of_an_epoch_read_no_constellation_and_no_loss() -> None:
    """An Android phone's Qualcomm engine sends QZSS's and BeiDou's empty groups each as
    ``$PQGSV,1,1,0,``, one after the other in the epoch: the second is no group restarting
    and no loss, neither names a constellation (no satellite, no system ID), and the other
    talkers' groups read as they came."""
    got = read("android_qualcomm_two_pq_groups.nmea")
    assert rejected(got) == {}
    r = got.readings
    assert r["GSV.in_view_gps"] == [10.0]
    assert r["GSV.in_view_glonass"] == [8.0]
    assert r["GSV.in_view_galileo"] == [0.0]
    assert "GSV.in_view_beidou" not in r
    assert "GSV.in_view_qzss" not in r
    assert r["GGA.fix_quality"] == [0.0]


#: The EG25-G's BeiDou sentence 2 of the first epoch (05:13:47).
EG25G_BEIDOU_2 = b"$PQGSV,4,2,14,02,08,120,,05,18,146,,06,05,099,,08,21,061,,0,4*61"
#: The QZSS group of the first epoch, one sentence.
EG25G_QZSS = b"$PQGSV,1,1,03,02,38,145,33,03,12,131,,07,21,160,24,0,5*56"


def test_a_pq_group_under_system_id_5_is_qzss_beside_the_beidou_group_of_its_epoch() -> None:
    """Quectel's ``$PQGSV`` ends with the signal ID and the system ID (4 BeiDou, 5 QZSS, as
    gpsd reads it): an EG25-G epoch's BeiDou group and QZSS group, both of talker ``PQ``,
    read 14 BeiDou and 3 QZSS satellites each epoch, the QZSS satellites numbered 2, 3 and 7
    by NMEA 4.11 counted for QZSS, never as BeiDou's PRNs."""
    got = read("quectel_eg25g_qzss_system_id.nmea")
    assert rejected(got) == {}
    r = got.readings
    assert r["GSV.in_view_beidou"] == [14.0] * 3
    assert r["GSV.in_view_qzss"] == [3.0] * 3
    assert r["GSV.in_view_gps"] == [12.0] * 3
    assert r["GSV.in_view_glonass"] == [8.0] * 3
    assert r["GSV.in_view_galileo"] == [3.0] * 3
    # a BeiDou sentence lost: one error, that epoch's BeiDou reading alone withheld
    lost = read("quectel_eg25g_qzss_system_id.nmea", damage=(EG25G_BEIDOU_2, b""))
    assert rejected(lost) == {"truncated": 1}
    assert lost.readings["GSV.in_view_beidou"] == [14.0] * 2
    assert lost.readings["GSV.in_view_qzss"] == [3.0] * 3
    assert lost.readings["GSV.in_view_gps"] == [12.0] * 3
    # the QZSS group lost whole, one sentence leaving no trace: that epoch reads no QZSS
    gone = read("quectel_eg25g_qzss_system_id.nmea", damage=(EG25G_QZSS, b""))
    assert rejected(gone) == {}
    assert gone.readings["GSV.in_view_qzss"] == [3.0] * 2
    assert gone.readings["GSV.in_view_beidou"] == [14.0] * 3


#: The BeiDou B1I sentence 2 of the first epoch (05:13:47) in Qualcomm's layout.
LOCSVC_BEIDOU_2 = b"$PQGSV,4,2,14,202,08,120,,205,18,146,,206,05,099,,208,21,061,,1*78"


def test_qualcomm_pq_groups_of_qzss_and_beidou_with_one_signal_id_are_read_apart() -> None:
    """Qualcomm's location service writes QZSS's L1 C/A group and BeiDou's B1I group both as
    ``$PQGSV`` with signal ID 1 (QZSS 193-197, BeiDou 201-235), each followed by its empty
    second-signal group: every epoch reads 3 QZSS and 14 BeiDou satellites once, the second
    group of signal ID 1 no new epoch and no loss; a BeiDou sentence lost withholds that
    epoch's BeiDou reading alone."""
    got = read("qualcomm_locsvc_pq_signals.nmea")
    assert rejected(got) == {}
    r = got.readings
    assert r["GSV.in_view_qzss"] == [3.0] * 3
    assert r["GSV.in_view_beidou"] == [14.0] * 3
    assert r["GSV.in_view_gps"] == [12.0] * 3
    assert r["GSV.in_view_glonass"] == [8.0] * 3
    assert r["GSV.in_view_galileo"] == [3.0] * 3
    lost = read("qualcomm_locsvc_pq_signals.nmea", damage=(LOCSVC_BEIDOU_2, b""))
    assert rejected(lost) == {"truncated": 1}
    assert lost.readings["GSV.in_view_beidou"] == [14.0] * 2
    assert lost.readings["GSV.in_view_qzss"] == [3.0] * 3
    assert lost.readings["GSV.in_view_gps"] == [12.0] * 3
