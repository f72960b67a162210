"""A receiver's first epoch of GSV groups, one group per signal (NMEA 4.10's signal ID as the
last field): its talkers' first groups are held to the epoch's end, whose readings are of
all the epoch's groups, as every later epoch's are, never of the first signal's alone."""

from __future__ import annotations

from functools import reduce
from operator import xor

from hypothesis import given
from hypothesis import strategies as st
from test_formats_nmea_receivers import read, rejected

from sensord.errors import ParseError
from sensord.formats import codec_for
from sensord.formats.base import FormatSpec

CONSTELLATIONS = {"GP": "gps", "GL": "glonass", "GA": "galileo", "GB": "beidou"}
#: Each talker's satellite numbers (NMEA 4.10: GLONASS 65-96, the others by their PRN).
NUMBERS = {"GP": range(1, 33), "GL": range(65, 97), "GA": range(1, 37), "GB": range(1, 64)}
FIELDS = tuple(
    f"GSV.{statistic}_{constellation}"
    for constellation in CONSTELLATIONS.values()
    for statistic in ("in_view", "snr_max", "snr_mean")
)


def test_st_teseo_liv4f_first_whole_epoch_of_interleaved_talkers() -> None:
    """A Teseo LIV4F sends its L1 groups of GPS, Galileo and BeiDou, then their L5 groups
    (tests/fixtures/nmea/st_teseo_liv4f.nmea): another talker's group ends no talker's
    groups of the epoch. Its start is cut by its start-up lines (BeiDou's first group lost
    its end), so its first whole epoch, 13:58:06, reads at its end, the $PSTMANTENNASTATUS
    after its groups: GPS's 27 at 40 dB-Hz on L5 (34 on L1) and 08 at 38 on L1 (35 on L5),
    9 satellites at 30.22 on average, as gpsd's SKY of 13:58:06 reports them
    (test/daemon/st-teseo-liv4f.log.chk), not L1's 29.56."""
    got = read("st_teseo_liv4f.nmea", FIELDS)
    assert rejected(got) == {"truncated": 1}  # BeiDou's group cut by the start-up lines
    r = got.readings
    # the cut epoch's (at $PSTMVER), then 13:58:06's
    assert r["GSV.in_view_gps"] == [9.0, 9.0]
    assert r["GSV.snr_mean_gps"][1] == (26 + 40 + 23 + 26 + 24 + 21 + 38 + 42 + 32) / 9
    assert r["GSV.snr_max_gps"] == [42.0, 42.0]
    # Galileo's E5a: 24 at 37 (38 on E1), 16 at 42, 25 at 36; 11 on E1 without SNR
    assert r["GSV.in_view_galileo"] == [5.0, 4.0]
    assert r["GSV.snr_mean_galileo"][1] == (38 + 42 + 36) / 3
    # BeiDou's B1 group of 15, then the B2a group of 4 of them, each weaker than on B1
    assert r["GSV.in_view_beidou"] == [15.0]
    assert r["GSV.snr_max_beidou"] == [45.0]


def nmea(body: str) -> bytes:
    return f"${body}*{reduce(xor, body.encode(), 0):02X}\r\n".encode()


def group(talker: str, signal: str, satellites: list[tuple[int, int | None]]) -> list[bytes]:
    """The GSV sentences of ``talker``'s group of ``satellites`` (number, SNR) on ``signal``."""
    total = (len(satellites) + 3) // 4
    sentences = []
    for at in range(total):
        entries = "".join(
            f",{number:02d},45,100,{'' if snr is None else f'{snr:02d}'}"
            for number, snr in satellites[4 * at : 4 * at + 4]
        )
        sentences.append(
            nmea(f"{talker}GSV,{total},{at + 1},{len(satellites):02d}{entries},{signal}")
        )
    return sentences


@st.composite
def epochs(draw: st.DrawFn) -> list[list[bytes]]:
    """One epoch's GSV groups (1 to 3 signals a talker, each listing some of the talker's
    satellites with SNRs of their own), in the order of a ZED-F9P (each talker's groups in a
    row) or of a Teseo (each talker's first signal, then each talker's second, ...)."""
    talkers = draw(st.lists(st.sampled_from(sorted(CONSTELLATIONS)), min_size=1, unique=True))
    per_talker: list[list[list[bytes]]] = []
    for talker in talkers:
        numbers = draw(
            st.lists(st.sampled_from(list(NUMBERS[talker])), min_size=1, max_size=12, unique=True)
        )
        signals = draw(st.lists(st.sampled_from("12345678"), min_size=1, max_size=3, unique=True))
        groups = []
        for signal in signals:
            listed = draw(
                st.lists(st.sampled_from(numbers), min_size=1, max_size=len(numbers), unique=True)
            )
            snrs = draw(
                st.lists(
                    st.none() | st.integers(min_value=1, max_value=60),
                    min_size=len(listed),
                    max_size=len(listed),
                )
            )
            groups.append(group(talker, signal, list(zip(listed, snrs, strict=True))))
        per_talker.append(groups)
    if draw(st.booleans(), label="interleaved"):
        depth = max(len(groups) for groups in per_talker)
        order = [groups[k] for k in range(depth) for groups in per_talker if k < len(groups)]
    else:
        order = [g for groups in per_talker for g in groups]
    return order


GGA = "GPGGA,0039{:02d}.00,4552.65403,S,17030.00668,E,1,12,0.64,14.2,M,1.8,M,,"
GLL = nmea("GNGLL,4552.65403,S,17030.00668,E,003956.00,A,A")


@given(epochs())
def test_the_first_epoch_reads_as_the_same_epoch_later(order: list[list[bytes]]) -> None:
    """The same epoch of GSV groups sent three times, each after a GGA and before a GLL: the
    first epoch gives each channel one reading, the value each later epoch gives last, at
    whichever order its talkers' groups of several signals come (a first epoch read at its
    first signal's groups gives fewer satellites in view, or other SNRs)."""
    spec = FormatSpec("nmea", tuple((f, f) for f in FIELDS))
    parse = codec_for("nmea").sensor_decoder(spec, lambda: 0.0)
    by_epoch: list[dict[str, list[float]]] = []
    for epoch in range(3):
        by_epoch.append({})
        lines = [nmea(GGA.format(56 + epoch)), *(s for g in order for s in g), GLL]
        for line in lines:
            try:
                pairs = parse(line.rstrip())
            except ParseError as exc:
                raise AssertionError(f"{line!r}: {exc}") from exc
            for channel, value in pairs:
                by_epoch[-1].setdefault(channel, []).append(value)
    first, second, third = by_epoch
    assert all(len(values) == 1 for values in first.values()), first
    last = {channel: values[-1] for channel, values in third.items()}
    assert {channel: values[0] for channel, values in first.items()} == last
    assert {channel: values[-1] for channel, values in second.items()} == last
