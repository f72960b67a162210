"""Damage on the line in a receiver's NMEA stream: one byte changed, or one line cut short (a
UART overrun that lost its end, with or without its line end). The sentences are the
simulator's (the codec's encoder, values drawn as tests/test_formats_roundtrip.py draws
them), or receivers' own (tests/fixtures/nmea), epoch after epoch, through the framer and the
decoder as a sensor reads them."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_formats_nmea_receivers import stream
from test_formats_roundtrip import field_values

from sensord.errors import ParseError
from sensord.formats import codec_for
from sensord.formats.base import FormatSpec
from sensord.formats.nmea_framer import checksum

#: A GNSS receiver's usual output: GGA, RMC, one GSA per constellation, GSV groups, GLL, VTG
#: and ZDA.
FIELDS = (
    "GGA.altitude",
    "GGA.latitude",
    "GGA.satellites",
    "GGA.hdop",
    "RMC.speed",
    "RMC.longitude",
    "RMC.clock_offset",
    "GSA.pdop",
    "GSA.vdop",
    "GSA.used_gps",
    "GSA.used_glonass",
    "GSA.used_galileo",
    "GSV.in_view_gps",
    "GSV.snr_max_gps",
    "GSV.in_view_glonass",
    "GLL.latitude",
    "VTG.speed_kmh",
    "ZDA.clock_offset",
)
SPEC = FormatSpec("nmea", tuple((field, field) for field in FIELDS))
#: Counts the encoder writes as whole numbers of satellites.
COUNTS = {"GSA.used_glonass", "GSA.used_galileo", "GSV.in_view_gps", "GSV.in_view_glonass"}
#: The first epoch's time of day, in seconds; each epoch is a second later.
START_S = 3600.25


def values(field: str) -> st.SearchStrategy[float]:
    if field in COUNTS:
        return st.integers(min_value=0, max_value=12).map(float)
    return field_values(field)


#: The fields the encoder is given values of: not the clock offsets, which would set its
#: receiver's clock from the host's (the epochs are a second apart from :data:`START_S`).
DRAWN = tuple(field for field in FIELDS if not field.endswith(".clock_offset"))


#: The strategy of each of :data:`DRAWN`, made once: hypothesis checks a strategy at its
#: first draw, which made afresh at each draw costs more than the draw.
DRAWN_VALUES = {field: values(field) for field in DRAWN}
ENCODE = codec_for("nmea").encoder(SPEC)


@st.composite
def epochs(draw: st.DrawFn) -> list[list[bytes]]:
    """The lines of two to four epochs, each ended by CR LF."""
    made: list[list[bytes]] = []
    for epoch in range(draw(st.integers(min_value=2, max_value=4), label="epochs")):
        drawn = {field: draw(strategy, label=field) for field, strategy in DRAWN_VALUES.items()}
        made.append([line + b"\r\n" for line in ENCODE(drawn, START_S + epoch)])
    return made


@dataclass(frozen=True)
class Damage:
    """One line's damage: byte ``at`` replaced by ``byte``, or (``byte`` None) the line cut at
    ``at``, its line end kept or lost with the rest."""

    epoch: int
    line: int
    at: int
    byte: int | None
    keeps_end: bool

    def apply(self, lines: list[bytes]) -> list[bytes]:
        damaged = list(lines)
        line = damaged[self.line]
        if self.byte is None:
            damaged[self.line] = line[: self.at] + (b"\r\n" if self.keeps_end else b"")
        else:
            damaged[self.line] = line[: self.at] + bytes((self.byte,)) + line[self.at + 1 :]
        return damaged


@st.composite
def damage(draw: st.DrawFn, stream: list[list[bytes]]) -> Damage:
    epoch = draw(st.integers(min_value=0, max_value=len(stream) - 1), label="epoch")
    index = draw(st.integers(min_value=0, max_value=len(stream[epoch]) - 1), label="line")
    line = stream[epoch][index]
    if draw(st.booleans(), label="cut"):
        at = draw(st.integers(min_value=1, max_value=len(line) - 3), label="cut at")
        return Damage(epoch, index, at, None, draw(st.booleans(), label="keeps its end"))
    at = draw(st.integers(min_value=0, max_value=len(line) - 1), label="byte at")
    byte = draw(st.integers(min_value=0, max_value=255).filter(lambda b: b != line[at]))
    return Damage(epoch, index, at, byte, True)


#: A reading: the epoch whose bytes gave it, channel and value.
Reading = tuple[int, str, float]


def read(stream: list[list[bytes]], spec: FormatSpec = SPEC) -> list[Reading]:
    """Every reading of ``stream`` fed epoch by epoch to a decoder of ``spec``, as a sensor
    publishes them: those a rejected frame keeps too (``ParseError.kept``). Any other
    exception fails the test."""
    codec = codec_for("nmea")
    framer = codec.framer(spec, b"\n", 512)
    parse = codec.sensor_decoder(spec, lambda: 0.0)
    readings: list[Reading] = []
    chunks = [b"".join(lines) for lines in stream]
    for epoch, chunk in enumerate(chunks):
        for frame in framer.feed(chunk):
            try:
                pairs = parse(frame)
            except ParseError as exc:
                pairs = exc.kept
            readings += [(epoch, channel, value) for channel, value in pairs]
    return readings


def is_subsequence(part: list[float], whole: list[float]) -> bool:
    rest = iter(whole)
    return all(any(value == other for other in rest) for value in part)


@settings(max_examples=500, deadline=None)
@given(st.data())
def test_one_damaged_byte_or_cut_line_costs_its_sentence_only(data: st.DataObject) -> None:
    """The decoder never raises but ``ParseError``; no reading that the damaged sentence gives
    differs from the undamaged stream's (each channel's readings are a part of those, in
    order); the sentences of the other epochs are read as they were (the damaged epoch's line
    may reach the decoder with the next epoch's bytes, when its line end was lost)."""
    stream = data.draw(epochs(), label="stream")
    hit = data.draw(damage(stream), label="damage")
    damaged = [hit.apply(lines) if k == hit.epoch else lines for k, lines in enumerate(stream)]
    sound, got = read(stream), read(damaged)
    near = {hit.epoch, hit.epoch + 1}
    assert [r for r in got if r[0] not in near] == [r for r in sound if r[0] not in near]
    for channel in {channel for _, channel, _ in sound + got}:
        mine = [value for _, ch, value in got if ch == channel]
        theirs = [value for _, ch, value in sound if ch == channel]
        assert is_subsequence(mine, theirs), (channel, mine, theirs)
        after = [value for k, ch, value in sound if ch == channel and k == hit.epoch + 1]
        around = [value for k, ch, value in got if ch == channel and k in near]
        assert len(around) >= len(after), channel


def parse_errors(stream: list[list[bytes]], spec: FormatSpec = SPEC) -> list[tuple[str, bytes]]:
    """The parse errors of ``stream`` fed epoch by epoch to a decoder of ``spec``: each one's
    reason and frame."""
    codec = codec_for("nmea")
    framer = codec.framer(spec, b"\n", 512)
    parse = codec.sensor_decoder(spec, lambda: 0.0)
    found: list[tuple[str, bytes]] = []
    for lines in stream:
        for frame in framer.feed(b"".join(lines)):
            try:
                parse(frame)
            except ParseError as exc:
                found.append((exc.reason, frame))
    return found


@settings(max_examples=500, deadline=None)
@given(st.data())
def test_one_damaged_byte_or_cut_line_is_one_parse_error_at_most(data: st.DataObject) -> None:
    """A sentence lost on the line is counted once (or not at all, its bytes skipped by the
    framer): not again at the sentences of its GSV group after it, nor at the next group's
    first. Operators alert on parse errors: one damaged line is one."""
    stream = data.draw(epochs(), label="stream")
    hit = data.draw(damage(stream), label="damage")
    damaged = [hit.apply(lines) if k == hit.epoch else lines for k, lines in enumerate(stream)]
    assert parse_errors(stream) == []
    found = parse_errors(damaged)
    assert len(found) <= 1, found


def test_a_lost_sentence_of_an_unknown_talker_is_counted_once_across_other_talkers() -> None:
    """The last sentence of a GLONASS group loses its talker (``$0LGSV``, a checksum error):
    the next epoch's GPS group, which is whole, does not take that loss for its own, so the
    GLONASS group it cut is not counted again when the next GLONASS group begins (found by
    the property above)."""
    gga = b"$GPGGA,010000.250,0000.00000,N,01131.00200,E,1,00,1.000,0.000,M,46.9,M,,*50\r\n"
    whole = [b"$GPGSV,1,1,00*79\r\n", b"$GLGSV,1,1,00*65\r\n"]
    glonass = [
        b"$GLGSV,3,1,09,65,05,000,45,66,22,047,37,67,39,094,37,68,56,141,37*61\r\n",
        b"$GLGSV,3,2,09,69,73,188,37,70,05,235,37,71,22,282,37,72,39,329,37*68\r\n",
        b"$0LGSV,3,3,09,73,56,016,37*58\r\n",  # "G" damaged into "0"
    ]
    stream = [[gga, *whole], [b"$GPGSV,1,1,00*79\r\n", *glonass], [gga, *whole]]
    assert parse_errors(stream) == [("checksum", glonass[2].rstrip())]
    # a sentence lost for good (a whole GLONASS group of one, its talker damaged) leaves no
    # loss pending for ever: a GLONASS group cut two epochs later is counted
    cut = [glonass[0], glonass[1]]
    stream = [[gga, *whole], [whole[0], b"$0LGSV,1,1,00*65\r\n"], [gga, *whole], [*cut], whole]
    assert [reason for reason, _ in parse_errors(stream)] == ["checksum", "truncated"]


@pytest.mark.parametrize("number", [0, 1, 2])
@pytest.mark.parametrize("kind", [b"GSA", b"GST"])
def test_a_gsv_sentence_whose_type_is_damaged_into_another_is_counted_once(
    number: int, kind: bytes
) -> None:
    """A GSV sentence whose sentence type one damaged byte turns into another known one
    (``$GLGSA`` for ``$GLGSV``: a checksum error) is the lost sentence of its group, which is
    not counted again as cut when the group's next sentence, or the next group, comes (found
    by the property above). A GSA's own fields (its first is A or M) are never a GSV's."""
    gga = b"$GPGGA,010000.250,0000.00000,N,01131.00200,E,1,00,1.000,0.000,M,46.9,M,,*50\r\n"
    whole = [b"$GPGSV,1,1,00*79\r\n", b"$GLGSV,1,1,00*65\r\n"]
    glonass = [
        b"$GLGSV,3,1,09,65,05,000,45,66,22,047,37,67,39,094,37,68,56,141,37*61\r\n",
        b"$GLGSV,3,2,09,69,73,188,37,70,05,235,37,71,22,282,37,72,39,329,37*68\r\n",
        b"$GLGSV,3,3,09,73,56,016,37*58\r\n",
    ]
    damaged = list(glonass)
    damaged[number] = damaged[number].replace(b"GSV", kind)
    stream = [[gga, *whole], [whole[0], *damaged], [gga, *whole], [gga, whole[0], *glonass]]
    assert parse_errors(stream) == [("checksum", damaged[number].rstrip())]
    gsa = b"$GLGSA,A,3,65,66,67,68,,,,,,,,,1.5,0.9,1.2*2A\r\n"  # its checksum wrong
    stream = [[gga, *whole], [whole[0], glonass[0], gsa, *glonass[1:]], [gga, *whole]]
    assert parse_errors(stream) == [("checksum", gsa.rstrip())]


def receiver_epochs(name: str) -> list[list[bytes]]:
    """The lines of a receiver's fixture (``tests/fixtures/nmea``), each ended by CR LF, cut
    into epochs, each beginning at an RMC."""
    epochs: list[list[bytes]] = []
    for line in stream(name).splitlines(keepends=True):
        if line[3:6] == b"RMC" or not epochs:
            epochs.append([])
        epochs[-1].append(line)
    return epochs


def test_a_dropout_across_two_gsv_groups_is_counted_at_each_group_it_cut() -> None:
    """A UART overrun in a ZED-F9P's second epoch loses the end of GPS's L2 group and the
    start of GLONASS's L1 group, both of three sentences: GLONASS's sentence 2 after it is
    out of its group, never taken as the next sentence of the GPS group that waits for its
    sentence 2 (another talker's); the GPS group is counted when the next epoch's L2 group
    begins."""
    epochs = receiver_epochs("ublox_zed_f9p.nmea")
    lines = epochs[1]
    start = lines.index(b"$GPGSV,3,2,12,16,11,248,,20,52,273,,21,80,232,,24,07,045,,6*63\r\n")
    end = lines.index(b"$GLGSV,3,1,10,65,53,144,,66,58,305,32,67,06,313,,72,09,137,,1*7A\r\n")
    assert parse_errors(epochs) == []
    found = parse_errors([epochs[0], lines[:start] + lines[end + 1 :], epochs[2]])
    assert [(reason, frame[:14]) for reason, frame in found] == [
        ("truncated", b"$GLGSV,3,2,10,"),
        ("truncated", b"$GPGSV,3,1,12,"),
    ]


def test_a_gsv_sentence_of_an_unknown_talker_is_one_loss_and_the_next_is_another() -> None:
    """A Teseo LIV3F's GPS and GLONASS groups: the last sentence of the GPS group loses its
    talker (``$0PGSV``, a checksum error); the GLONASS group after it, whole, does not take
    that loss for its own, nor does it end the wait for the GPS group that shows it, cut
    when the next epoch's begins: one error. The first sentence of the GLONASS group losing
    its talker is found lost at its sentence 2, out of its group; GLONASS's sentence 3 lost
    without a trace after it is another loss, counted when the next GLONASS group cuts the
    group: two errors."""
    epoch = receiver_epochs("st_teseo_liv3f.nmea")[0]
    gps_last = epoch.index(b"$GPGSV,4,4,13,44,33,219,36,,,,,,,,,,,,*44\r\n")
    glonass = epoch.index(
        b"$GLGSV,3,1,10,88,50,302,42,78,48,277,43,87,40,047,31,72,31,092,25*63\r\n"
    )
    assert parse_errors([epoch, epoch]) == []
    damaged = [*epoch]
    damaged[gps_last] = b"$0P" + epoch[gps_last][3:]
    found = parse_errors([epoch, damaged, epoch])
    assert found == [("checksum", damaged[gps_last].rstrip())]
    damaged = [*epoch]
    damaged[glonass] = b"$0L" + epoch[glonass][3:]
    del damaged[glonass + 2]
    found = parse_errors([epoch, damaged, epoch])
    assert [(reason, frame[:14]) for reason, frame in found] == [
        ("checksum", b"$0LGSV,3,1,10,"),
        ("truncated", b"$GLGSV,3,1,10,"),
    ]


@pytest.mark.parametrize(
    "damage",
    [
        lambda line: line.replace(b",31,", b",37,"),  # its checksum fails
        lambda line: b"$0P" + line[3:],  # its talker damaged: of an unknown talker
    ],
    ids=["checksum", "talker"],
)
def test_the_last_sentence_of_a_signals_gsv_group_lost_is_one_error(
    damage: Callable[[bytes], bytes],
) -> None:
    """A ZED-F9P's GPS L1 group loses its last sentence in its second epoch: one error. The
    L2 group after it, of the same talker, is whole and does not show the loss, which shows
    when the next epoch's L1 group cuts the group that waits: no group cut counted again."""
    epochs = receiver_epochs("ublox_zed_f9p.nmea")
    lines = [*epochs[1]]
    last = lines.index(b"$GPGSV,3,3,12,26,04,276,,27,15,218,31,29,24,004,12,30,00,159,,1*68\r\n")
    lines[last] = damage(lines[last])
    assert parse_errors([epochs[0], lines, epochs[2]]) == [("checksum", lines[last].rstrip())]


def zed_gga_gsv_epochs() -> list[list[bytes]]:
    """A ZED-F9P's fixture epochs as the receiver sends them with its message list set to GGA
    and GSV, and the GGA of the epoch after them."""
    epochs = [
        [line for line in lines if line[3:6] in (b"GGA", b"GSV")]
        for lines in receiver_epochs("ublox_zed_f9p.nmea")
    ]
    body = b"GNGGA,003959.00,4552.65403,S,17030.00672,E,1,12,0.71,14.2,M,1.8,M,,"
    epochs.append([b"$%s*%02X\r\n" % (body, checksum(body))])
    return epochs


def channel_values(readings: list[Reading], channel: str) -> list[tuple[int, float]]:
    """The values of ``channel`` among ``readings``, each with the epoch that gave it."""
    return [(k, value) for k, ch, value in readings if ch == channel]


def test_a_dropout_after_a_port_opened_mid_b1i_group_is_counted_at_each_group_it_cut() -> None:
    """A port opened after a ZED-F9P's BeiDou B1I ``3,1`` (signal ID 1): its ``3,2`` and ``3,3``
    are the end of the group under way, ignored, and the B2I group (empty signal ID) begins
    the talker's groups. A dropout takes B2I's ``3,3`` and the next epoch's lines up to its
    B1I ``3,1``. No group of signal ID 1 has begun yet, but the B1I ``3,2`` after the
    dropout does not continue the B2I group, which waits for a later sentence (3 of 3): it
    is out of its group, and the B2I group is counted when the next B2I ``3,1`` cuts it, one
    error for each group the dropout cut. From the next epoch on, BeiDou's readings are
    those of the stream without the dropout."""
    epochs = receiver_epochs("ublox_zed_f9p.nmea")

    def at(epoch: int, head: bytes, signal: bytes) -> int:
        lines = epochs[epoch]
        return next(
            i for i, line in enumerate(lines) if line.startswith(head) and signal + b"*" in line
        )

    opened = at(0, b"$GBGSV,3,1,", b",1") + 1
    start, end = at(0, b"$GBGSV,3,3,", b","), at(1, b"$GBGSV,3,1,", b",1")
    sound = [epochs[0][opened:], *epochs[1:]]
    damaged = [epochs[0][opened:start], epochs[1][end + 1 :], *epochs[2:]]
    fields = ("GSV.in_view_beidou", "GSV.snr_mean_beidou")
    spec = FormatSpec("nmea", tuple((field, field) for field in fields))
    assert parse_errors(sound, spec) == []
    found = parse_errors(damaged, spec)
    assert [(reason, frame[:11]) for reason, frame in found] == [
        ("truncated", b"$GBGSV,3,2,"),
        ("truncated", b"$GBGSV,3,1,"),
    ]
    got = read(damaged, spec)
    for channel in fields:
        expected = [(k, v) for k, v in channel_values(read(sound, spec), channel) if k > 1]
        assert expected
        assert [(k, v) for k, v in channel_values(got, channel) if k > 1] == expected, channel


def test_a_zed_f9p_epoch_joined_to_the_first_merges_no_group_across_them() -> None:
    """A ZED-F9P sending GGA and GSV whose second epoch's GGA, the frame that ends the first
    epoch, fails its checksum. In the first epoch each constellation's L1 group gave its
    reading and its second signal's group taught that its epochs have two groups; nothing
    marks the second epoch's start, and its L1 group is no epoch's first that the port
    opened after (that rule holds only for groups read before the stream's first frame of
    another kind): it begins the next epoch. No reading merges the first epoch's second
    group with the second epoch's L1 group (whose SNRs differ), nor is the second epoch's
    L2 group read alone at the third epoch's GGA (GPS's L2 SNRs reach 29 dB-Hz, L1's 34):
    every epoch's readings are those of the intact stream, at the same frames."""
    epochs = zed_gga_gsv_epochs()
    lines = [*epochs[1]]
    assert lines[0].startswith(b"$GNGGA,003957.00,")
    lines[0] = lines[0][:-3] + b"F\r\n"  # its checksum fails
    damaged = [epochs[0], lines, *epochs[2:]]
    assert [reason for reason, _ in parse_errors(damaged)] == ["checksum"]
    sound, got = read(epochs), read(damaged)
    # the first epoch's at the second's GGA: its groups held to the epoch's end
    assert channel_values(sound, "GSV.snr_max_gps") == [(1, 34.0), (1, 34.0), (2, 34.0)]
    for channel in ("GSV.in_view_gps", "GSV.snr_max_gps", "GSV.in_view_glonass"):
        assert channel_values(got, channel) == channel_values(sound, channel), channel


@pytest.mark.parametrize(
    "damage",
    [
        lambda line: line[:-3] + b"F\r\n",  # its checksum fails
        lambda line: b"$0N" + line[3:],  # its talker damaged, its sentence type readable
    ],
    ids=["checksum", "talker"],
)
def test_a_port_opened_after_the_l1_group_whose_first_gga_is_lost_merges_the_next_epoch(
    damage: Callable[[bytes], bytes],
) -> None:
    """A ZED-F9P sending GGA and GSV, its port opened after the first epoch's GPS L1 group:
    the L2 group is the talker's first, read as sent. The GGA after it, the stream's first
    frame of another kind, is lost on the line, its sentence type readable: a frame of
    another kind came all the same, so the next epoch's L1 group, which teaches the talker's
    second signal, is its epoch's first, and that epoch gives its reading of both groups at
    its L2 group, as the stream that lost nothing does. Not its L2 group alone at the third
    epoch's GGA (GPS's L2 SNRs reach 29 dB-Hz, L1's 34), and no reading for the second
    epoch."""
    epochs = zed_gga_gsv_epochs()
    assert epochs[0][4].startswith(b"$GPGSV,3,1,12,05,06,110,,10,24,284,,13,37,124,,")  # L2
    opened = [epochs[0][4:], *epochs[1:]]
    lines = [*opened[1]]
    assert lines[0].startswith(b"$GNGGA,003957.00,")
    lines[0] = damage(lines[0])
    damaged = [opened[0], lines, *opened[2:]]
    assert [reason for reason, _ in parse_errors(damaged)] == ["checksum"]
    sound, got = read(opened), read(damaged)
    assert channel_values(sound, "GSV.snr_max_gps") == [(0, 29.0), (1, 34.0), (2, 34.0)]
    for channel in ("GSV.in_view_gps", "GSV.snr_max_gps", "GSV.in_view_glonass"):
        assert channel_values(got, channel) == channel_values(sound, channel), channel


@pytest.mark.parametrize(
    ("damage", "reasons"),
    [
        (lambda line: b"$GNG0A" + line[6:], ["checksum"]),  # its sentence type damaged
        (lambda line: line[:30], []),  # its end lost: glued to the next line, skipped bytes
    ],
    ids=["type", "without a trace"],
)
def test_a_port_opened_after_the_l1_group_whose_first_gga_is_lost_unseen_reads_both_groups(
    damage: Callable[[bytes], bytes], reasons: list[str]
) -> None:
    """As above, but the GGA after the first L2 group is lost with its sentence type
    damaged (it may have been a GSV sentence) or without a trace: nothing shows a frame of
    another kind between the L2 group and the next epoch's L1 group, and the next L2 group
    is taken for the start of another epoch. At the third epoch's GGA, the stream's first
    frame of another kind, that epoch, short of its L1 group, is joined by the L1 group read
    before it: the second epoch's reading is of both groups (12 satellites, 34 dB-Hz at
    most), one frame late, not of the L2 group alone (29 dB-Hz at most)."""
    epochs = zed_gga_gsv_epochs()
    opened = [epochs[0][4:], *epochs[1:]]
    lines = [*opened[1]]
    assert lines[0].startswith(b"$GNGGA,003957.00,")
    lines[0] = damage(lines[0])
    damaged = [opened[0], lines, *opened[2:]]
    assert [reason for reason, _ in parse_errors(damaged)] == reasons
    sound, got = read(opened), read(damaged)
    for channel in ("GSV.in_view_gps", "GSV.snr_max_gps"):
        intact = channel_values(sound, channel)
        assert [k for k, _ in intact] == [0, 1, 2]
        late = [(2 if k == 1 else k, value) for k, value in intact]
        assert channel_values(got, channel) == late, channel
    assert channel_values(got, "GSV.in_view_glonass") == channel_values(
        sound, "GSV.in_view_glonass"
    )


@pytest.mark.parametrize("group", [1, 4], ids=["L1", "L2"])
def test_a_gsv_group_that_lost_a_sentence_costs_its_own_epochs_reading_only(group: int) -> None:
    """A ZED-F9P sending GGA and GSV whose second epoch's GPS L1 or L2 group loses its second
    sentence: that epoch gives no GPS reading, and the GGA after it ends it whole, the lost
    group's talker and signal with it: the third epoch's L2 group is its second group, not
    the start of another epoch (which would give the L1 group's reading alone, then the L2
    group's alone at the next GGA)."""
    epochs = zed_gga_gsv_epochs()
    damaged = [[*lines] for lines in epochs]
    at = group + 1
    assert damaged[1][at].startswith(b"$GPGSV,3,2,12,")
    damaged[1][at] = damaged[1][at][:-3] + b"F\r\n"  # its checksum fails
    assert [reason for reason, _ in parse_errors(damaged)] == ["checksum"]
    sound, got = read(epochs), read(damaged)
    for channel in ("GSV.in_view_gps", "GSV.snr_max_gps"):
        intact = channel_values(sound, channel)
        # the first epoch's at the second's GGA (its groups held to the epoch's end)
        assert [k for k, _ in intact] == [1, 1, 2]
        assert channel_values(got, channel) == [intact[0], intact[2]], channel


def test_a_gsv_group_that_lost_a_sentence_in_a_stream_of_gsv_alone_costs_one_reading() -> None:
    """A ZED-F9P whose message list is set to GSV alone, its GPS L1 and L2 groups (its
    fixture's epochs, sent twice): the second epoch's L2 group loses its second sentence.
    That epoch gives no GPS reading; the next L1 group begins the next epoch, and once the
    L2 signal has given a whole group again its loss is behind it: every later epoch gives
    its reading of both groups at its L2 group, as the intact stream does (not the L1 group's
    alone there, nor the L2 group's with the next epoch's L1 group)."""
    gps = [
        [line for line in lines if line.startswith(b"$GPGSV")]
        for lines in receiver_epochs("ublox_zed_f9p.nmea")
    ]
    epochs = gps + gps
    damaged = [[*lines] for lines in epochs]
    assert damaged[1][4].startswith(b"$GPGSV,3,2,12,")
    damaged[1][4] = damaged[1][4][:-3] + b"F\r\n"  # its checksum fails
    spec = FormatSpec("nmea", tuple((f, f) for f in ("GSV.in_view_gps", "GSV.snr_mean_gps")))

    def placed(stream: list[list[bytes]]) -> list[tuple[int, int, str, float]]:
        parse = codec_for("nmea").decoder(spec)
        got: list[tuple[int, int, str, float]] = []
        for k, lines in enumerate(stream):
            for at, line in enumerate(lines):
                if line == damaged[1][4]:
                    with pytest.raises(ParseError, match="checksum mismatch"):
                        parse(line.rstrip())
                    continue
                got += [(k, at, channel, value) for channel, value in parse(line.rstrip())]
        return got

    intact = placed(epochs)
    assert [(k, at) for k, at, _, _ in intact[2:]] == [(k, 5) for k in range(1, 6) for _ in "ab"]
    assert placed(damaged) == [reading for reading in intact if reading[0] != 1]


@pytest.mark.parametrize(
    ("lost", "without_trace"),
    [(2, False), (3, False), (3, True)],
    ids=["sentence 2", "last sentence", "last sentence without a trace"],
)
def test_three_damages_in_a_row_merge_no_two_epochs_gsv_groups(
    lost: int, without_trace: bool
) -> None:
    """A ZED-F9P sending GGA and GSV (its fixture's epochs, the second and third sent again
    after the third) loses, in a row, the GGA that ends its second epoch, a sentence of the
    third epoch's GPS L1 group (its checksum fails, or its line is lost whole), and the GGA
    that ends the third epoch. That L1 group gives nothing, and its L2 group begins an epoch
    (the second epoch had its L2 group); the fourth epoch's L1 group then does not join that
    L2 group, as a group of an epoch that had none of its signal would: the epoch had one,
    which lost a sentence (or was cut by the next one's sentence 1, when it lost its last).
    The fourth epoch's groups are merged at its L2 group, and no L2 group is read alone at
    the next GGA: GPS's readings are the intact stream's but for the third epoch's, which
    it lost."""
    first, second, third, after = zed_gga_gsv_epochs()
    epochs = [first, second, third, [*second], [*third], after]
    damaged = [[*lines] for lines in epochs]
    assert damaged[2][lost].startswith(b"$GPGSV,3,%d,12," % (lost,))
    for k, at in ((2, 0), (2, lost), (3, 0)):  # two GGA and the GPS L1 sentence
        damaged[k][at] = damaged[k][at][:-3] + b"F\r\n"  # its checksum fails
    reasons = ["checksum"] * 3
    if without_trace:
        del damaged[2][lost]
        reasons[1:] = ["checksum", "truncated"]  # the group cut by the next one's sentence 1
    assert [reason for reason, _ in parse_errors(damaged)] == reasons
    sound, got = read(epochs), read(damaged)
    for channel in ("GSV.in_view_gps", "GSV.snr_max_gps"):
        intact = channel_values(sound, channel)
        # the first epoch's at the second's GGA (its groups held to the epoch's end)
        assert [k for k, _ in intact] == [1, 1, 2, 3, 4]
        assert channel_values(got, channel) == [*intact[:2], *intact[3:]], channel
    assert channel_values(got, "GSV.in_view_glonass") == channel_values(
        sound, "GSV.in_view_glonass"
    )


def test_a_zed_f9p_epoch_joined_to_the_last_and_short_of_its_l1_group_gives_no_gps_reading() -> (
    None
):
    """A ZED-F9P whose message list is set to GGA and GSV: in its third epoch the GGA, the one
    frame between two epochs' GSV groups, fails its checksum, and the GPS L1 group loses its
    second sentence. Nothing marks the epochs' boundary: GPS's third epoch begins at its L2
    group (a talker and signal the epoch has had), whose SNRs reach 29 dB-Hz where L1's
    reach 34. That epoch lost the L1 group's sentence: it gives no GPS reading at the next
    epoch's GGA, and GLONASS's readings are those of the intact stream."""
    epochs = [
        [line for line in lines if line[3:6] in (b"GGA", b"GSV")]
        for lines in receiver_epochs("ublox_zed_f9p.nmea")
    ]
    body = b"GNGGA,003959.00,4552.65403,S,17030.00672,E,1,12,0.71,14.2,M,1.8,M,,"
    epochs.append([b"$%s*%02X\r\n" % (body, checksum(body))])  # the next epoch's GGA
    lines = [*epochs[2]]
    second = lines.index(
        b"$GPGSV,3,2,12,16,11,248,11,20,52,273,34,21,80,232,30,24,07,045,,1*60\r\n"
    )
    assert lines[0].startswith(b"$GNGGA,003958.00,")
    for at in (0, second):
        lines[at] = lines[at][:-3] + b"F\r\n"  # its checksum fails
    damaged = [*epochs[:2], lines, epochs[3]]
    assert [reason for reason, _ in parse_errors(damaged)] == ["checksum", "checksum"]
    sound, got = read(epochs), read(damaged)

    def values(readings: list[Reading], channel: str) -> list[tuple[int, float]]:
        return [(k, value) for k, ch, value in readings if ch == channel]

    # the first epoch's at the second's GGA (its groups held to the epoch's end)
    assert values(sound, "GSV.snr_max_gps") == [(1, 34.0), (1, 34.0), (2, 34.0)]
    assert values(got, "GSV.snr_max_gps") == [(1, 34.0), (1, 34.0)]
    assert values(got, "GSV.in_view_gps") == [(1, 12.0), (1, 12.0)]
    assert values(got, "GSV.in_view_glonass") == values(sound, "GSV.in_view_glonass")


def test_an_epoch_without_the_first_constellations_groups_still_ends_the_others() -> None:
    """A ZED-F9P's third epoch without its GPS groups and BeiDou's B2I group, dropped whole
    before they reached the line (a receiver whose output outgrows its port's baud rate
    drops messages whole), no byte of them on the line: GPS, whose groups came first in
    every epoch before, gets no reading that epoch; GLONASS and Galileo get theirs at their
    second group as ever, and BeiDou, short of a group, its B1I reading at the epoch's end,
    the GLL after the groups (10 satellites, 35 dB-Hz at most)."""
    epochs = receiver_epochs("ublox_zed_f9p.nmea")
    third = [
        line
        for line in epochs[2]
        if not line.startswith(b"$GPGSV") and not (line.startswith(b"$GBGSV") and b",*" in line)
    ]
    assert len(third) == len(epochs[2]) - 9
    fields = ("GSV.in_view_gps", "GSV.in_view_glonass", "GSV.in_view_beidou", "GSV.snr_max_beidou")
    spec = FormatSpec("nmea", tuple((field, field) for field in fields))
    parse = codec_for("nmea").sensor_decoder(spec, lambda: 0.0)
    for line in epochs[0] + epochs[1]:
        parse(line.rstrip())
    got = [(line[:6], parse(line.rstrip())) for line in third]
    assert [(kind, pairs) for kind, pairs in got if pairs] == [
        (b"$GLGSV", [("GSV.in_view_glonass", 10.0)]),
        (b"$GNGLL", [("GSV.in_view_beidou", 10.0), ("GSV.snr_max_beidou", 35.0)]),
    ]


def test_a_gsv_stream_s_groups_that_lost_a_sentence_each_begin_their_next_epoch() -> None:
    """A ZED-F9P's GSV sentences alone (a receiver set to send GSV alone, nothing between its
    epochs): its second epoch loses a sentence of its GPS L1 group, then one of its GLONASS
    L1 group (checksums that fail). Neither constellation gets a reading that epoch. Each
    lost group was its epoch's: the third epoch's GPS L1 group begins GPS's next epoch,
    though GLONASS's loss came after GPS's, and GPS's reading comes at that epoch's L2
    group, of its own two groups, not at its L1 group merged with the second epoch's L2
    group; GLONASS's likewise at its L2 group."""
    epochs = [
        [line.rstrip() for line in epoch if line[3:6] == b"GSV"]
        for epoch in receiver_epochs("ublox_zed_f9p.nmea")
    ]
    lost = (
        b"$GPGSV,3,2,12,16,11,248,07,20,52,273,34,21,80,232,30,24,07,045,,1*67",
        b"$GLGSV,3,2,10,73,06,174,,74,05,132,,81,64,223,35,82,13,214,33,1*7F",
    )
    assert all(line in epochs[1] for line in lost)
    spec = FormatSpec("nmea", (("gps", "GSV.in_view_gps"), ("glonass", "GSV.in_view_glonass")))
    parse = codec_for("nmea").sensor_decoder(spec, lambda: 0.0)
    for line in epochs[0]:
        parse(line)
    for line in epochs[1]:
        if line in lost:
            with pytest.raises(ParseError) as caught:
                parse(line[:-1] + b"0")
            assert caught.value.reason == "checksum"
        else:
            assert parse(line) == []
    got = [(line[-5:], parse(line)) for line in epochs[2]]
    assert [(end, pairs) for end, pairs in got if pairs] == [
        (b",6*65", [("gps", 12.0)]),  # the last sentence of GPS's L2 group
        (b",3*70", [("glonass", 10.0)]),  # of GLONASS's L2 group
    ]


@pytest.mark.parametrize("epoch", [0, 1], ids=["first epoch", "mid-stream"])
def test_an_lc79d_gsv_group_that_lost_its_second_sentence_is_one_error(epoch: int) -> None:
    """A Quectel LC79D's fixture sent twice (four epochs): one epoch's ``$GPGSV,3,2`` is lost
    without a trace. Its ``3,3`` after it carries signal ID 8, which the group's first
    sentences lack (the receiver's L5 entries): it is the group that waits for its sentence
    2, which lost it, and is counted once, out of its group; that group does not wait on to
    be counted again as cut by the next epoch's ``$GPGSV,3,1``. GPS's readings are those of
    the intact stream but for that epoch's (after a loss in the first epoch, the next is
    read over the talker's signals as the intact stream reads it: 7 satellites; the intact
    stream's first epoch gives none, its group teaching the talker's signals within it)."""
    lines = stream("quectel_lc79d.nmea").splitlines(keepends=True) * 2
    epochs: list[list[bytes]] = []
    for line in lines:
        if line.startswith(b"$GPGGA"):
            epochs.append([])
        epochs[-1].append(line)
    assert len(epochs) == 4
    damaged = [[*lines] for lines in epochs]
    assert damaged[epoch][2].startswith(b"$GPGSV,3,2,10,")
    del damaged[epoch][2]
    assert parse_errors(epochs) == []
    found = parse_errors(damaged)
    assert [(reason, frame[:14]) for reason, frame in found] == [("truncated", b"$GPGSV,3,3,10,")]
    sound, got = read(epochs), read(damaged)
    intact = channel_values(sound, "GSV.in_view_gps")
    assert intact == [(1, 7.0), (2, 7.0), (3, 7.0)]
    for channel in ("GSV.in_view_gps", "GSV.snr_max_gps"):
        expected = [(k, v) for k, v in channel_values(sound, channel) if k != epoch]
        assert channel_values(got, channel) == expected, channel


@pytest.mark.parametrize(
    ("first", "last", "cut"),
    [
        (
            (1, b"$GPGSV,3,2,12,16,11,248,07,20,52,273,34,21,80,232,30,24,07,045,,1*67\r\n"),
            (1, b"$GPGSV,3,1,12,05,06,110,,10,24,284,,13,37,124,,15,63,083,,6*63\r\n"),
            b"$GPGSV",
        ),
        (
            (0, b"$GBGSV,3,2,10,10,00,282,,12,66,330,,13,23,233,,19,28,123,,*4E\r\n"),
            (1, b"$GBGSV,3,1,10,01,29,321,,03,12,292,,04,37,345,,08,49,229,27,1*7D\r\n"),
            b"$GBGSV",
        ),
    ],
    ids=["GPS L2 after L1", "BeiDou B1I after B2I"],
)
def test_a_zed_f9p_sentence_after_a_lost_sentence_1_joins_no_other_signals_group(
    first: tuple[int, bytes], last: tuple[int, bytes], cut: bytes
) -> None:
    """A ZED-F9P sends a group per signal, those of a constellation of as many sentences. A
    dropout (lines lost without a trace) takes the end of one signal's group and the
    sentence 1 of the next group of the same talker: GPS's L1 ``3,2`` and ``3,3`` and L2
    ``3,1``; or from BeiDou's B2I group (empty signal ID) ``3,2`` on to the next epoch's B1I
    ``3,1``. The sentence 2 after it, of the other signal, is out of its group (counted),
    not the continuation of the group that waits for its sentence 2, which would give a
    reading of one signal's sentence 1 and the other's sentences 2 and 3 and count no
    loss; the group that waits is counted when the next group of its signal cuts it. GPS's
    readings are the intact stream's but for the epoch of the dropout: a BeiDou sentence
    lost costs GPS nothing."""
    epochs = receiver_epochs("ublox_zed_f9p.nmea")
    start = epochs[first[0]].index(first[1])
    end = epochs[last[0]].index(last[1])
    if first[0] == last[0]:
        lines = epochs[first[0]]
        damaged = [*epochs[: first[0]], lines[:start] + lines[end + 1 :], *epochs[first[0] + 1 :]]
    else:
        damaged = [epochs[0][:start], epochs[1][end + 1 :], epochs[2]]
    fields = ("GSV.in_view_gps", "GSV.snr_mean_gps", "GSV.in_view_beidou", "GSV.snr_mean_beidou")
    spec = FormatSpec("nmea", tuple((field, field) for field in fields))
    assert parse_errors(epochs, spec) == []
    found = parse_errors(damaged, spec)
    assert [(reason, frame[:11]) for reason, frame in found] == [
        ("truncated", cut + b",3,2,"),
        ("truncated", cut + b",3,1,"),
    ]
    sound, got = read(epochs, spec), read(damaged, spec)
    for channel in ("GSV.in_view_gps", "GSV.snr_mean_gps"):
        expected = [(k, v) for k, v in channel_values(sound, channel) if k != 1]
        if first[0] != last[0]:
            # the dropout from the first epoch into the second takes the frames that end the
            # first: its GPS reading, held to its end, comes at the second's end, the loss
            # BeiDou's (the GPS groups after the first epoch's are lost unseen)
            expected[0] = (1, expected[0][1])
        assert channel_values(got, channel) == expected, channel


def with_bad_checksum(line: bytes) -> bytes:
    """``line`` with the last digit of its checksum changed: its checksum fails."""
    end = line.rindex(b"*") + 2
    digit = b"0" if line[end : end + 1] != b"0" else b"1"
    return line[:end] + digit + line[end + 1 :]


def test_two_gsv_sentences_of_a_talker_failing_their_checksum_in_a_row_are_two_errors() -> None:
    """A ZED-F9P's epoch 0 BeiDou B2I ``3,3`` and epoch 1 B1I ``3,1``, the talker's next GSV
    sentence, both fail their checksum: two errors. The B1I ``3,2`` after them shows the
    second loss, the next B2I ``3,1``, which cuts the B2I group that waits, the first: no
    group cut counted again."""
    epochs = receiver_epochs("ublox_zed_f9p.nmea")
    b2i_last = epochs[0].index(b"$GBGSV,3,3,10,21,41,301,,22,82,135,,*4F\r\n")
    b1i_first = epochs[1].index(
        b"$GBGSV,3,1,10,01,29,321,,03,12,292,,04,37,345,,08,49,229,27,1*7D\r\n"
    )
    damaged = [[*lines] for lines in epochs]
    damaged[0][b2i_last] = with_bad_checksum(damaged[0][b2i_last])
    damaged[1][b1i_first] = with_bad_checksum(damaged[1][b1i_first])
    fields = ("GSV.in_view_beidou", "GSV.snr_mean_beidou")
    spec = FormatSpec("nmea", tuple((field, field) for field in fields))
    assert parse_errors(epochs, spec) == []
    assert parse_errors(damaged, spec) == [
        ("checksum", damaged[0][b2i_last].rstrip()),
        ("checksum", damaged[1][b1i_first].rstrip()),
    ]


def beidou_line(epochs: list[list[bytes]], epoch: int, number_: int, b1i: bool) -> int:
    """The index in ``epochs[epoch]`` of a ZED-F9P's BeiDou GSV sentence ``number_`` of 3, of
    its B1I group (signal ID 1) or of its B2I group (signal ID empty)."""
    head, end = b"$GBGSV,3,%d," % number_, b",1*" if b1i else b",*"
    return next(i for i, line in enumerate(epochs[epoch]) if line.startswith(head) and end in line)


@pytest.mark.parametrize(
    ("rejected", "deleted", "shown"),
    [
        (((0, 3, False), (1, 1, True)), (1, 3, True), (2, 1, True)),
        (((1, 2, True), (1, 3, True)), (2, 2, True), (2, 3, True)),
    ],
    ids=["two groups in a row", "one group"],
)
def test_two_gsv_sentences_of_a_talker_rejected_leave_its_next_loss_counted(
    rejected: tuple[tuple[int, int, bool], ...],
    deleted: tuple[int, int, bool],
    shown: tuple[int, int, bool],
) -> None:
    """A ZED-F9P's BeiDou GSV sentences: two fail their checksum, the B2I ``3,3`` of one epoch
    and the B1I ``3,1`` of the next (two groups, each showing one loss), or the B1I ``3,2``
    and ``3,3`` of one epoch (one group, cut once by the next B1I ``3,1``). A B1I sentence
    lost without a trace after them is a third loss, counted where it shows (the next B1I
    ``3,1`` cuts the group that waits for its ``3,3``; the next B1I ``3,3`` is out of its
    group): neither rejected sentence is taken for it."""
    epochs = receiver_epochs("ublox_zed_f9p.nmea")
    damaged = [[*lines] for lines in epochs]
    for epoch, number_, b1i in rejected:
        index = beidou_line(epochs, epoch, number_, b1i)
        damaged[epoch][index] = with_bad_checksum(damaged[epoch][index])
    epoch, number_, b1i = deleted
    gone = damaged[epoch].pop(beidou_line(epochs, epoch, number_, b1i))
    epoch, number_, b1i = shown
    cut = epochs[epoch][beidou_line(epochs, epoch, number_, b1i)]
    fields = ("GSV.in_view_beidou", "GSV.snr_mean_beidou")
    spec = FormatSpec("nmea", tuple((field, field) for field in fields))
    assert parse_errors(epochs, spec) == []
    found = parse_errors(damaged, spec)
    assert gone not in damaged[deleted[0]]
    assert [reason for reason, _ in found] == ["checksum", "checksum", "truncated"], found
    assert found[2][1] == cut.rstrip()


#: Receivers' fixtures of GSV groups: of several signals (ZED-F9P), with the signal ID changed
#: within a group (LC79D), NMEA 4.0 with ``GN`` GSA (Teseo), NMEA 4.10 of one signal (M8).
GSV_RECEIVERS = ("ublox_zed_f9p.nmea", "quectel_lc79d.nmea", "st_teseo_liv3f.nmea", "ublox_m8.nmea")
#: Every GSV channel: no talker's groups left unread.
GSV_SPEC = FormatSpec(
    "nmea",
    tuple(
        (f"{statistic}_{name}", f"GSV.{statistic}_{name}")
        for name in ("gps", "glonass", "galileo", "beidou", "qzss", "sbas")
        for statistic in ("in_view", "snr_mean", "snr_max")
    ),
)


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_two_sentences_lost_are_each_counted_once_at_most(data: st.DataObject) -> None:
    """A receiver's fixture sent three times, its port opened at any of its lines; any two
    lines lost (often two of one talker, near each other): with a trace, their checksum
    failing (a byte of their checksum or of their talker changed: a sentence of an unknown
    talker), or deleted (lost without a trace, its bytes skipped). Each GSV sentence with a
    trace is one error, at its frame; one deleted is counted once at most: once for each
    group the loss cuts, which a group of one sentence deleted whole, or two sentences of
    one group, cut less often than they are lost. So the errors at GSV frames are the GSV
    sentences with a trace, plus at most the GSV sentences deleted."""
    name = data.draw(st.sampled_from(GSV_RECEIVERS), label="receiver")
    lines = stream(name).splitlines(keepends=True)
    opened = data.draw(st.integers(min_value=0, max_value=len(lines) - 1), label="opened at")
    sent = (lines * 3)[opened:]
    assert parse_errors([sent], GSV_SPEC) == []
    first = data.draw(st.integers(min_value=0, max_value=len(sent) - 1), label="first lost")
    # the other: any line, or often one of the next lines of the first's talker, which lose
    # two sentences of a group, of two groups of a signal, or of two signals in a row
    talker = sent[first][1:3]
    following = [k for k in range(first + 1, len(sent)) if sent[k][1:3] == talker][:4]
    anywhere = st.integers(min_value=0, max_value=len(sent) - 1).filter(lambda k: k != first)
    other = st.sampled_from(following) | anywhere if following else anywhere
    at = [first, data.draw(other, label="other lost")]
    kinds = st.sampled_from(("checksum", "talker", "deleted"))
    damages = data.draw(st.lists(kinds, min_size=2, max_size=2), label="damages")
    damaged = [*sent]
    traced = deleted = 0
    for index, kind in sorted(zip(at, damages, strict=True), reverse=True):
        line = sent[index]
        gsv = line[3:6] == b"GSV"
        if kind == "checksum":
            damaged[index] = with_bad_checksum(line)
        elif kind == "talker":  # "$GP" made "$0P"
            damaged[index] = line[:1] + b"0" + line[2:]
        else:
            del damaged[index]
        traced += gsv and kind != "deleted"
        deleted += gsv and kind == "deleted"
    found = [frame for _, frame in parse_errors([damaged], GSV_SPEC) if frame[3:6] == b"GSV"]
    assert traced <= len(found) <= traced + deleted, found


def test_a_gsv_sentence_of_an_unknown_talker_and_another_talkers_are_two_errors() -> None:
    """A Quectel LC79D's Galileo ``2,2`` loses its talker (``$0AGSV``, a checksum error), and
    the next epoch's GPS ``3,1`` fails its checksum: two errors. GPS's ``3,2`` shows GPS's
    own loss, and its ``3,3`` (signal ID 8) goes on with the group that lost it, showing
    none: the unknown talker's loss waits on for the next Galileo ``2,1``, which cuts the
    Galileo group that lost it, no group cut counted again."""
    lines = stream("quectel_lc79d.nmea").splitlines(keepends=True) * 2
    galileo_last = lines.index(b"$GAGSV,2,2,04,102,,,40,103,,,29,1*7F\r\n")
    gps_first = lines.index(b"$GPGSV,3,1,10,02,25,260,40,04,15,092,27,05,,,14,06,12,215,45*43\r\n")
    assert galileo_last < gps_first
    damaged = [*lines]
    damaged[galileo_last] = b"$0" + lines[galileo_last][2:]
    damaged[gps_first] = with_bad_checksum(lines[gps_first])
    assert parse_errors([lines], GSV_SPEC) == []
    assert parse_errors([damaged], GSV_SPEC) == [
        ("checksum", damaged[galileo_last].rstrip()),
        ("checksum", damaged[gps_first].rstrip()),
    ]


def test_the_last_gsv_sentences_of_two_talkers_losing_their_talker_are_two_errors() -> None:
    """A Teseo LIV3F's GPS ``4,4`` and GLONASS ``3,3`` of one epoch both lose their talker
    (``$0PGSV``, ``$0LGSV``: two losses of an unknown talker, counted as checksum errors):
    two errors. The next epoch's GPS ``4,1`` cuts the GPS group and shows one of the two
    losses, its GLONASS ``3,1`` cuts the GLONASS group and shows the other: no group cut
    counted again."""
    epoch = receiver_epochs("st_teseo_liv3f.nmea")[0]
    gps_last = epoch.index(b"$GPGSV,4,4,13,44,33,219,36,,,,,,,,,,,,*44\r\n")
    glonass_last = epoch.index(b"$GLGSV,3,3,10,86,06,069,25,81,06,268,29,,,,,,,,*6C\r\n")
    damaged = [*epoch]
    damaged[gps_last] = b"$0P" + epoch[gps_last][3:]
    damaged[glonass_last] = b"$0L" + epoch[glonass_last][3:]
    assert parse_errors([epoch, epoch, epoch]) == []
    assert parse_errors([epoch, damaged, epoch, epoch]) == [
        ("checksum", damaged[gps_last].rstrip()),
        ("checksum", damaged[glonass_last].rstrip()),
    ]


def test_a_gsv_sentence_whose_address_is_damaged_and_a_later_loss_are_two_errors() -> None:
    """A Teseo LIV3F epoch whose GPS ``4,2`` has the comma after its address damaged
    (``$GPGSV-``: one bit flipped, a checksum error whose talker is unknown) and whose
    GLONASS ``3,2`` is lost without a trace (a line cut within its ``$``). The GPS ``4,3``
    after the damaged sentence, out of its group, shows its loss; the GLONASS ``3,3``, out of
    its group, is another loss, counted: two errors for the two sentences lost, the damaged
    sentence not taken for the loss of every talker whose group was under way besides."""
    epoch = receiver_epochs("st_teseo_liv3f.nmea")[0]
    gps_second = epoch.index(
        b"$GPGSV,4,2,13,19,39,099,31,25,28,311,24,05,19,197,43,17,15,108,27*7E\r\n"
    )
    glonass_second = epoch.index(
        b"$GLGSV,3,2,10,77,27,203,36,71,20,036,34,79,18,331,37,65,12,145,26*64\r\n"
    )
    damaged = [*epoch]
    damaged[gps_second] = epoch[gps_second].replace(b"GSV,", b"GSV-", 1)
    del damaged[glonass_second]
    assert parse_errors([epoch, epoch, epoch]) == []
    assert parse_errors([epoch, damaged, epoch, epoch]) == [
        ("checksum", damaged[gps_second].rstrip()),
        ("truncated", epoch[glonass_second + 1].rstrip()),
    ]


#: The readings of each constellation's satellites in view, and the BeiDou ones' SNRs.
IN_VIEW = FormatSpec(
    "nmea",
    tuple(
        (field, field)
        for field in (
            "GSV.in_view_gps",
            "GSV.in_view_glonass",
            "GSV.in_view_galileo",
            "GSV.in_view_beidou",
            "GSV.snr_mean_beidou",
        )
    ),
)


@pytest.mark.parametrize(
    ("name", "last"),
    [
        ("ublox_zed_f9p.nmea", b"$GBGSV,3,3,10,21,41,301,35,22,82,135,1"),  # B1I, signal ID 1
        ("ublox_zed_f9p.nmea", b"$GBGSV,3,3,10,21,41,301,,22,82,135,,*"),  # B2I, its ID empty
        ("skytraq_px1172rh.nmea", b"$GBGSV,3,3,10,06,04,315,,09,04,334,,1*"),  # B1I alone
        ("ublox_zed_f9r.nmea", b"$GBGSV,2,2,06,33,01,113,,60,02,104,,0*"),  # signal ID 0
    ],
    ids=["zed-f9p B1I", "zed-f9p B2I", "px1172rh B1I", "zed-f9r signal 0"],
)
@pytest.mark.parametrize("end", ["never sent", "damaged"])
def test_a_beidou_gsv_group_that_never_ends_gives_no_beidou_reading(
    name: str, last: bytes, end: str
) -> None:
    """A receiver's stream of one other sentence and then GSV alone (a message list set to
    GSV, its first GGA or RMC read), whose BeiDou group of one signal never ends: its last
    sentence lost on the line every epoch, or never sent (a receiver whose count field says
    one more sentence than it sends). gpsd (driver_nmea0183.c ``processGSV``) reports a
    satellite view only at a group's last sentence, ``part == await``, and so reports no
    such group by itself. No BeiDou reading comes, in 40 epochs: each would be of the group's
    sentences so far, short of the satellites of the one that never came (10 listed, 8
    read), or of the other signal's group alone. Each epoch costs one error, at the
    sentence lost (``checksum``) or at the next epoch's sentence 1 that cuts the group
    (``truncated``), and the other constellations give one reading an epoch, as the intact
    stream does."""
    epochs = receiver_epochs(name)
    first = next(line for line in epochs[0] if line[3:6] != b"GSV")
    gsv = [[line for line in lines if line[3:6] == b"GSV"] for lines in epochs]
    gsv = [lines for lines in gsv if lines]  # the epochs that send GSV
    assert all(any(line.startswith(last) for line in lines) for lines in gsv)

    def ending(lines: list[bytes]) -> list[bytes]:
        if end == "never sent":
            return [line for line in lines if not line.startswith(last)]
        return [
            line[:-4] + b"00\r\n" if line.startswith(last) else line for line in lines
        ]  # its checksum fails

    stream = [[first]] + [ending(gsv[k % len(gsv)]) for k in range(40)]
    intact = [[first]] + [gsv[k % len(gsv)] for k in range(40)]
    got = read(stream, IN_VIEW)
    assert [r for r in got if r[1].endswith("beidou")] == []
    sound = read(intact, IN_VIEW)
    # the intact stream's BeiDou readings: one an epoch, but where the ZED-F9R's capture,
    # sent again from its start, goes back to an epoch of fewer signals
    assert len({k for k, channel, _ in sound if channel == "GSV.in_view_beidou"}) >= 35
    # the ZED-F9R's GPS and GLONASS groups of signal ID 0 come and go: an epoch short of
    # one gives its reading at its end, a BeiDou sentence lost in it costing it nothing
    for constellation in ("gps", "glonass", "galileo"):
        channel = f"GSV.in_view_{constellation}"
        mine = [(k, value) for k, c, value in got if c == channel]
        assert mine == [(k, value) for k, c, value in sound if c == channel], channel
        assert len({k for k, _ in mine}) >= 35, channel  # as BeiDou's intact readings
    reasons = [reason for reason, _ in parse_errors(stream, IN_VIEW)]
    if end == "damaged":
        assert reasons == ["checksum"] * 40
    else:  # the first epoch's group cut by the second's sentence 1, and so on
        assert reasons == ["truncated"] * 39
