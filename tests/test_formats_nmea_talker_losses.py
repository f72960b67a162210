"""A GSV sentence lost or damaged on the line costs its own constellation's readings only,
when its talker is known from its intact parts: receivers' own streams (tests/fixtures/nmea,
each fixture's origin in its header) epoch after epoch, through the framer and the decoder as
a sensor reads them, one sentence of one talker lost (a line dropped whole), cut short (a
UART overrun: the line keeps its ``$GBGSV`` start) or failing its checksum in each epoch."""

from __future__ import annotations

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from test_formats_nmea_damage import Reading, read, receiver_epochs, with_bad_checksum

from sensord.formats.base import FormatSpec
from sensord.formats.nmea_framer import checksum

#: The constellations of the fixtures' talkers, by talker (``BD`` and ``QZ``: the Quectel
#: LC79D's older BeiDou and QZSS talkers).
TALKERS = {
    "GL": "glonass",
    "GA": "galileo",
    "GB": "beidou",
    "BD": "beidou",
    "GQ": "qzss",
    "QZ": "qzss",
}
CONSTELLATIONS = ("gps", "glonass", "galileo", "beidou", "qzss")
SPEC = FormatSpec(
    "nmea",
    tuple(
        (f"GSV.{stat}_{c}", f"GSV.{stat}_{c}")
        for c in CONSTELLATIONS
        for stat in ("in_view", "snr_mean", "snr_max")
    ),
)
#: Receivers of several constellations, each with its own talker: u-blox ZED-F9R (GSV groups
#: of signal ID 0 that come and go) and ZED-F9P (two signals), SkyTraq PX1172RH (two signals),
#: Quectel LC79D (a group's signal ID changed within it), ST Teseo LIV3F (one signal) and
#: LIV4F (talkers interleaved: every constellation's L1 group, then their L5 groups).
RECEIVERS = (
    "ublox_zed_f9r.nmea",
    "ublox_zed_f9p.nmea",
    "skytraq_px1172rh.nmea",
    "quectel_lc79d.nmea",
    "st_teseo_liv3f.nmea",
    "st_teseo_liv4f.nmea",
)
#: Each fixture sent this many times over: the later copies' epochs are steady ones.
COPIES = 3


def talkers(name: str) -> list[str]:
    """The talkers of :data:`TALKERS` whose GSV sentences ``name`` has."""
    lines = [line for epoch in receiver_epochs(name) for line in epoch]
    return [t for t in TALKERS if any(is_gsv(line, t) for line in lines)]


def is_gsv(line: bytes, talker: str) -> bool:
    """Whether ``line`` is a GSV sentence of ``talker`` (after one ``$`` or more: the Teseo
    LIV4F writes each sentence after a doubled one)."""
    return line.lstrip(b"$").startswith(talker.encode() + b"GSV,")


def cases() -> list[tuple[str, str]]:
    return [(name, talker) for name in RECEIVERS for talker in talkers(name)]


def damaged(line: bytes, how: str) -> list[bytes]:
    """The lines the receiver's ``line`` becomes on the line: none (``lost``), its first half
    with a line end (``cut``), or it failing its checksum (``checksum``)."""
    if how == "lost":
        return []
    if how == "cut":
        return [line[: len(line) // 2] + b"\r\n"]
    return [with_bad_checksum(line)]


def hit(epochs: list[list[bytes]], talker: str, how: str) -> list[list[bytes]]:
    """``epochs`` with one GSV sentence of ``talker`` damaged ``how`` in each epoch that has
    one but the first: the second in the second, the third in the third, and so on round
    the talker's sentences of the epoch. The first epoch is where the decoder learns each
    talker's signals: a sentence lost there, its loss not shown before the epoch's end (the
    Teseo LIV4F's BeiDou group cut by its start-up lines), has every talker's next epoch read
    over all its groups at its end."""
    out: list[list[bytes]] = []
    for k, lines in enumerate(epochs):
        mine = [at for at, line in enumerate(lines) if is_gsv(line, talker)]
        if not mine or not k:
            out.append(lines)
            continue
        at = mine[k % len(mine)]
        out.append([*lines[:at], *damaged(lines[at], how), *lines[at + 1 :]])
    return out


def of(readings: list[Reading], constellation: str) -> list[Reading]:
    return [r for r in readings if r[1].endswith("_" + constellation)]


@pytest.mark.parametrize("how", ["lost", "cut", "checksum"])
@pytest.mark.parametrize(("name", "talker"), cases())
def test_a_sentence_of_one_talker_lost_every_epoch_costs_the_others_nothing(
    name: str, talker: str, how: str
) -> None:
    """One GSV sentence of ``talker`` lost, cut short or failing its checksum in every epoch:
    each other constellation reads as on the intact stream, every reading at its epoch, its
    groups whole. gpsd discards a sentence whose checksum fails (``packet.c``, "bad checksum
    in NMEA packet") and reports a satellite view at a group's last sentence
    (``driver_nmea0183.c``, ``processGSV``): a lost sentence keeps no other talker's group
    from its report."""
    epochs = receiver_epochs(name) * COPIES
    sound = read(epochs, SPEC)
    got = read(hit(epochs, talker, how), SPEC)
    own = TALKERS[talker]
    for constellation in CONSTELLATIONS:
        if constellation != own:
            assert of(got, constellation) == of(sound, constellation), constellation
    assert of(sound, own)  # the talker's constellation is read on the intact stream
    assert of(got, own) != of(sound, own)  # and the damage costs it readings


#: The fixtures the property draws from, each sent twice over, cut into epochs at each RMC.
DRAWN = {name: receiver_epochs(name) * 2 for name in RECEIVERS if name != "st_teseo_liv3f.nmea"}
#: Their readings intact.
SOUND = {name: read(epochs, SPEC) for name, epochs in DRAWN.items()}
#: Bytes a flipped bit must not make: a sentence's start and end, which split it into two
#: frames (the second of an unknown talker, which may be any talker's).
FRAMING = b"$!*\r\n"


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_any_one_sentence_of_a_talker_lost_or_damaged_costs_its_own_constellation_only(
    data: st.DataObject,
) -> None:
    """Any one GSV sentence of a talker of its own constellation, past the stream's first
    epoch, dropped whole or with one bit of its body flipped (its checksum then fails; its
    address intact): every other constellation's readings are the intact stream's. (In the
    first epoch a sentence dropped without a trace makes another receiver's stream: the
    Teseo LIV4F's ``$$BDGSV,4,1``, its group cut by the start-up lines, dropped whole leaves an
    epoch that ended whole, of one GPS signal.)"""
    name = data.draw(st.sampled_from(sorted(DRAWN)), label="receiver")
    epochs = DRAWN[name]
    places = [
        (k, at, talker)
        for k, lines in enumerate(epochs)
        if k
        for at, line in enumerate(lines)
        for talker in TALKERS
        if is_gsv(line, talker)
    ]
    k, at, talker = data.draw(st.sampled_from(places), label="sentence")
    line = epochs[k][at]
    start = len(line) - len(line.lstrip(b"$")) + 6  # past the address and its comma
    if data.draw(st.booleans(), label="dropped"):
        changed: list[bytes] = []
    else:
        byte_at = data.draw(st.integers(min_value=start, max_value=len(line) - 3), label="at")
        flipped = line[byte_at] ^ (1 << data.draw(st.integers(0, 6), label="bit"))
        assume(flipped not in FRAMING)
        changed = [line[:byte_at] + bytes([flipped]) + line[byte_at + 1 :]]
    damaged = [*epochs]
    damaged[k] = [*epochs[k][:at], *changed, *epochs[k][at + 1 :]]
    got, sound = read(damaged, SPEC), SOUND[name]
    for constellation in CONSTELLATIONS:
        if constellation != TALKERS[talker]:
            assert of(got, constellation) == of(sound, constellation), constellation


def test_a_sentence_whose_checksum_fails_is_any_talker_s_one_bit_from_its_address() -> None:
    """A ZED-F9R's Galileo group of signal ID 0, ``$GAGSV,1,1,03``, comes in an epoch after
    the E1 and E5b groups; one bit flipped in its address makes it ``$GQGSV``, a QZSS talker
    (``A`` 0x41, ``Q`` 0x51), its checksum failing. The sentence may be Galileo's as well as
    QZSS's: Galileo's epoch, short of its group, gives no reading (it would be short of the
    group's satellites: 9 of 12); the other constellations read as intact."""
    epochs = receiver_epochs("ublox_zed_f9r.nmea")
    line = next(line for line in epochs[3] if line.startswith(b"$GAGSV,1,1,03,"))
    flipped = b"$GQ" + line[3:]  # its checksum, over the address's bytes too, fails
    damaged = [*epochs]
    damaged[3] = [flipped if x == line else x for x in epochs[3]]
    sound, got = read(epochs, SPEC), read(damaged, SPEC)
    assert [k for k, c, _ in of(got, "galileo") if c == "GSV.in_view_galileo"] == [
        k for k, c, _ in of(sound, "galileo") if c == "GSV.in_view_galileo" and k != 3
    ]
    assert (3, "GSV.in_view_galileo", 12.0) in sound
    for constellation in ("gps", "glonass", "beidou"):
        assert of(got, constellation) == of(sound, constellation), constellation


def test_a_talker_s_first_sentence_failing_its_checksum_costs_its_own_constellation_only() -> None:
    """A SkyTraq PX1172RH's first epoch, whose BeiDou group ``$GBGSV,3,1`` is the stream's
    first of the talker and fails its checksum: the talker, one that sends GSV and one bit
    from none of the talkers begun (``GB`` 0x47 0x42; ``GA`` is two bits away), is BeiDou's.
    GPS, GLONASS and Galileo give their first epoch's readings, held to its end, as intact;
    BeiDou none that epoch."""
    epochs = receiver_epochs("skytraq_px1172rh.nmea")
    line = next(line for line in epochs[0] if line.startswith(b"$GBGSV,3,1,"))
    damaged = [[with_bad_checksum(x) if x == line else x for x in epochs[0]], *epochs[1:]]
    sound, got = read(epochs, SPEC), read(damaged, SPEC)
    for constellation in ("gps", "glonass", "galileo"):
        assert [r for r in of(sound, constellation) if r[0] == 0]
        assert of(got, constellation) == of(sound, constellation), constellation
    assert [r for r in of(got, "beidou") if r[0] == 0] == []


def with_quectel_beidou(epochs: list[list[bytes]]) -> list[list[bytes]]:
    """A ZED-F9R's ``epochs`` with BeiDou sent as a Quectel EG25-G sends it: its ``$GBGSV``
    groups left out, and the EG25-G's ``$PQGSV`` group (BeiDou numbered 2 to 30, gpsd's
    capture test/daemon/quectel-eg25-g.log) after its GSV groups, before its ``$GNGST``.
    The stream joins two receivers' sentences, each verbatim: no capture at hand has a talker
    of no constellation of its own beside GPS groups that come and go (the ZED-F9R's of
    signal ID 0, whose epochs short of them give their readings at the epoch's end)."""
    quectel = [
        line
        for epoch in receiver_epochs("quectel_eg25g.nmea")
        for line in epoch
        if line.startswith(b"$PQGSV,")
    ]
    out: list[list[bytes]] = []
    for lines in epochs:
        kept = [line for line in lines if not line.startswith(b"$GBGSV,")]
        at = next((k for k, line in enumerate(kept) if line.startswith(b"$GNGST,")), None)
        out.append(kept if at is None else [*kept[:at], *quectel, *kept[at:]])
    return out


@pytest.mark.parametrize("how", ["lost", "cut", "checksum"])
def test_a_pq_sentence_lost_costs_only_the_constellations_its_groups_have_carried(
    how: str,
) -> None:
    """Quectel's ``$PQGSV`` names no constellation; on an EG25-G its groups carry BeiDou
    alone, and GPS comes under ``$GPGSV``. One ``PQ`` sentence lost, cut short or failing its
    checksum in every epoch withholds BeiDou's readings only: GPS's epochs short of their
    signal-0 group give their readings at the epoch's end as on the intact stream (fails
    while a loss of a talker of no constellation counts against every constellation whose
    own talker sends no groups, GPS among them: 78 to 81 GPS readings of 90)."""
    epochs = with_quectel_beidou(receiver_epochs("ublox_zed_f9r.nmea")) * COPIES
    sound = read(epochs, SPEC)
    out: list[list[bytes]] = []
    for k, lines in enumerate(epochs):
        mine = [at for at, line in enumerate(lines) if line.startswith(b"$PQGSV,")]
        if not mine or not k:
            out.append(lines)
            continue
        at = mine[k % len(mine)]
        out.append([*lines[:at], *damaged(lines[at], how), *lines[at + 1 :]])
    got = read(out, SPEC)
    for constellation in ("gps", "glonass", "galileo"):
        assert of(got, constellation) == of(sound, constellation), constellation
    # one in-view reading an epoch: the EG25-G's PQ group gives its BeiDou satellites no SNR
    assert len(of(sound, "beidou")) == len(epochs)
    assert len(of(got, "beidou")) < len(of(sound, "beidou"))


def under_gp(line: bytes) -> bytes:
    """A ``$GLGSV`` sentence of ``line`` sent under ``GP``, its checksum made anew."""
    body = b"GP" + line[3 : line.rindex(b"*")]
    return b"$" + body + b"*%02X\r\n" % checksum(body)


@pytest.mark.parametrize("how", ["lost", "cut", "checksum"])
def test_a_constellation_whose_own_talker_takes_its_groups_over_from_gp_is_not_gp_s(
    how: str,
) -> None:
    """A u-blox receiver whose CFG-NMEA ``gsvTalkerId`` is 1 (the main talker, here ``GP``)
    sends GLONASS's GSV groups as ``$GPGSV`` (numbered 65-96, as NMEA 4.10 numbers them);
    set to 0 (each constellation's own talker) while sensord reads it, they come as
    ``$GLGSV`` from the next epoch on. The ZED-F9R's stream with GLONASS under ``GP`` in its
    first copy, under ``GL`` after, one ``GP`` sentence lost, cut short or failing its
    checksum in every epoch of the later copies: GLONASS reads as on the intact stream, its
    groups whole (fails while ``GP``'s groups once listing GLONASS count every ``GP`` loss
    against it: GLONASS's epochs short of its L2 OF group withheld)."""
    epochs = receiver_epochs("ublox_zed_f9r.nmea")
    before = [[under_gp(x) if x.startswith(b"$GLGSV,") else x for x in e] for e in epochs]
    after = epochs * (COPIES - 1)
    sound = read([*before, *after], SPEC)
    got = read([*before, *hit(after, "GP", how)], SPEC)
    first = len(before)
    later = [r for r in of(sound, "glonass") if r[0] >= first]
    assert later
    assert [r for r in of(got, "glonass") if r[0] >= first] == later
    assert of(got, "gps") != of(sound, "gps")  # the losses cost GPS readings
