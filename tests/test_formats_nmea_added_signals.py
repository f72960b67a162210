"""A receiver whose GSV groups of a constellation grow by a signal ID in mid-stream: the epoch
in which the new group comes reads all its groups, as gpsd's SKY of that epoch does, not its
groups before the new one alone."""

from __future__ import annotations

from test_formats_nmea_receivers import stream

from sensord.formats import codec_for
from sensord.formats.base import FormatSpec
from sensord.types import Reading
from sensord.window import Window

FIELDS = (
    "GSV.in_view_gps",
    "GSV.snr_mean_gps",
    "GSV.in_view_glonass",
    "GSV.snr_mean_glonass",
)


def epochs(name: str) -> dict[str, dict[str, list[float]]]:
    """A fixture's GSV readings by the UTC time of the RMC that begins their epoch (the
    ZED-F9R sends RMC first, its GSV groups last), each channel's in the order they came."""
    spec = FormatSpec("nmea", tuple((f, f) for f in FIELDS))
    codec = codec_for("nmea")
    framer = codec.framer(spec, b"\n", 512)
    parse = codec.sensor_decoder(spec, lambda: 0.0)
    data = stream(name)
    frames = [frame for at in range(0, len(data), 7) for frame in framer.feed(data[at : at + 7])]
    by_epoch: dict[str, dict[str, list[float]]] = {}
    epoch = ""
    for frame in frames:
        if frame[3:6] == b"RMC":
            epoch = frame.split(b",")[1].decode()
        for channel, value in parse(frame):  # raises on any loss: the fixture has none
            by_epoch.setdefault(epoch, {}).setdefault(channel, []).append(value)
    return by_epoch


def test_ublox_zed_f9r_groups_of_a_signal_added_give_one_reading_an_epoch() -> None:
    """gpsd's capture test/daemon/ublox-zed-f9r.log (tests/fixtures/nmea/ublox_zed_f9r.nmea).
    At 23:14:17 GPS satellite 04, until then in the L1 C/A group (signal ID 1, the only one
    GPS has sent), comes in a group of signal ID 0 of its own: in view, no signal tracked
    (u-blox ZED-F9P Interface Description, GSV: signalId 0 "All signals", cno "blank when
    not tracking"). The L1 group of 10, read as it came, is the epoch's reading; the group
    of signal ID 0 teaches GPS's second signal ID and gives none, and the epochs after read
    both, 11 satellites, at their second group. At 23:14:23 GLONASS, whose epochs have had
    two groups (L1 OF and signal ID 0's 84 and 86), sends an L2 OF group (signal ID 3) of
    satellite 85 between them: the reading at the second group (L1 and L2, 7 satellites) is
    the epoch's, and the next epoch's comes at the third, of 9.

    One reading of a channel an epoch: a second one, over all the epoch's groups, would
    come after the first had gone out (the short one stays given) and weigh the epoch twice
    in a window's count, mean and minimum, its timestamps a few milliseconds apart."""
    got = epochs("ublox_zed_f9r.nmea")
    assert list(got) == [f"2314{second}.00" for second in range(15, 25)]
    for epoch, channels in got.items():
        assert all(len(values) == 1 for values in channels.values()), (epoch, channels)
    gps = [got[epoch]["GSV.in_view_gps"] for epoch in got]
    assert gps == [[11.0], [11.0], [10.0], *[[11.0]] * 7]
    glonass = [got[epoch]["GSV.in_view_glonass"] for epoch in got]
    assert glonass == [*[[9.0]] * 8, [7.0], [9.0]]
    # gpsd's 23:14:23: 68 at 33, 69 at 28, 70 at 25, 78 at 29, 79 at 25, 80 at 28, 85 at 37
    # (84 and 86, of signal ID 0, without SNR): the reading at the L2 OF group has them all
    assert got["231423.00"]["GSV.snr_mean_glonass"] == [205 / 7]
    # a window over the ten epochs holds ten readings, one an epoch
    window = Window(100)
    at = 0.0
    for epoch in got:
        at += 1.0
        for value in got[epoch]["GSV.in_view_gps"]:
            list(window.process([Reading("zed", "GSV.in_view_gps", value, at, at)]))
    last = window.last
    assert last is not None
    assert (last.count, last.min, last.mean) == (10, 10.0, 10.9)


def test_quectel_eg25g_glonass_entry_without_number_is_no_satellite_as_gpsd_reads_it() -> None:
    """gpsd's capture test/daemon/quectel-eg25-g.log (tests/fixtures/nmea/
    quectel_eg25g_nameless_entry.nmea): at 19:15:32.98 the EG25-G lists GLONASS satellite 69
    without its number, ``$GLGSV,2,2,08,81,11,130,17,68,38,195,16,70,10,331,,,56,279,,1``.
    A GSV satellite is four fields (NMEA 0183: ID, elevation, azimuth, SNR), and an entry
    without ID is no satellite: 6 satellites with an SNR, 113/6 dB-Hz on average, 8 in view
    by the in-view field. gpsd's processGSV (drivers/driver_nmea0183.c, 3.27.5) skips a
    satellite number of 0 by one field only (``nmea_svid = atoi(field[fldnum++]); if (0 ==
    nmea_svid) continue;``) and reads the next four as a satellite: the elevation 56 as its
    number (GLONASS 120, svid 56), 279 as its elevation, the empty SNR as its azimuth and
    the signal ID 1 as its SNR. Its SKY of 19:15:32.98 (quectel-eg25-g.log.chk) so lists a
    satellite 56 at 1 dB-Hz, and its GLONASS mean is 114/7 (16.29): gpsd's, not the
    receiver's. The epoch before, 69 with its number, reads as gpsd reads it: 18.86."""
    spec = FormatSpec("nmea", tuple((f, f) for f in (*FIELDS[2:], "GSV.snr_max_glonass")))
    codec = codec_for("nmea")
    parse = codec.sensor_decoder(spec, lambda: 0.0)
    got: list[list[tuple[str, float]]] = []
    for frame in codec.framer(spec, b"\n", 512).feed(stream("quectel_eg25g_nameless_entry.nmea")):
        readings = parse(frame)  # raises on any loss: the fixture has none
        if readings:
            got.append(readings)
    # 19:15:31.98's, at the GGA after its groups (a talker's first groups held to the
    # epoch's end), then 19:15:32.98's at its GLONASS group's last sentence
    assert got == [
        [
            ("GSV.in_view_glonass", 8.0),
            ("GSV.snr_mean_glonass", 132 / 7),
            ("GSV.snr_max_glonass", 25.0),
        ],
        [
            ("GSV.in_view_glonass", 8.0),
            ("GSV.snr_mean_glonass", 113 / 6),
            ("GSV.snr_max_glonass", 23.0),
        ],
    ]
