"""The epoch-level satellite state of ``format = "nmea"``: the GSV groups and the GSA runs
that span sentences, and the constellation of a satellite by its talker, system ID and number.

:class:`SatelliteGroups` reads GSV as whole groups of sentences (``GSV.in_view_...``,
``GSV.snr_mean_...``, ``GSV.snr_max_...``), :class:`UsedSatellites` reads GSA's
``used_<constellation>`` over the GSA sentences of an epoch. The decoder of
:mod:`sensord.formats.nmea` keeps one of each per sensor and feeds them its sentences; the
sentence table (:data:`~sensord.formats.nmea_fields.SENTENCES`) and its slots are in
:mod:`sensord.formats.nmea_fields`. The slots take :data:`CONSTELLATIONS` and :data:`SBAS`
from here, and their getters take :func:`field` (a sentence's field by index), which the NMEA
modules read sentences with, and the decoder and the GSA slot :func:`garbled_satellite_number`,
which finds a GSA's satellite number that is no whole number (:meth:`SatelliteGroups.feed`
checks those of a GSV): the other NMEA modules import this one, never the other way round.
"""

from __future__ import annotations

import re
from collections.abc import Container

from sensord.errors import ParseError
from sensord.formats.base import Decoder
from sensord.formats.text import number

__all__ = [
    "CONSTELLATIONS",
    "SBAS",
    "SatelliteGroups",
    "UsedSatellites",
    "field",
    "garbled_satellite_number",
]


def field(fields: list[str], index: int) -> str:
    """Field ``index`` of a sentence's comma-split fields (0 is the address); empty past its
    last field."""
    return fields[index] if index < len(fields) else ""


#: Constellation -> its talker ID and its NMEA 4.10 system ID.
CONSTELLATIONS: dict[str, tuple[str, int]] = {
    "gps": ("GP", 1),
    "glonass": ("GL", 2),
    "galileo": ("GA", 3),
    "beidou": ("GB", 4),
    "qzss": ("GQ", 5),
    "navic": ("GI", 6),
}
#: The satellites of the SBAS (WAAS, EGNOS, MSAS, GAGAN, SDCM: geostationary, sending GPS-like
#: signals with corrections) by their number in a sentence, 33-64 (NMEA) or 120-158 (PRN).
#: They are of no constellation here, GSV's ``<statistic>_sbas`` aside (:func:`_in_view_kind`).
_SBAS_IDS = frozenset((*range(33, 65), *range(120, 159)))
#: GSV's name of the SBAS satellites in its ``in_view_``, ``snr_mean_`` and ``snr_max_``
#: channels.
SBAS = "sbas"
#: Talker ID -> constellation (``BD`` and ``QZ`` are the older BeiDou and QZSS talkers).
_TALKER_CONSTELLATION = {talker: name for name, (talker, _) in CONSTELLATIONS.items()} | {
    "BD": "beidou",
    "QZ": "qzss",
}
#: System ID field text -> constellation.
_SYSTEM_CONSTELLATION = {str(system): name for name, (_, system) in CONSTELLATIONS.items()}
#: Satellite number ranges -> constellation, for sentences whose talker names none (``GN``)
#: and that carry no system ID: the NMEA 2.x to 4.0 numbering as gpsd's ``nmeaid_to_prn()``
#: reads it (drivers/driver_nmea0183.c): 1-32 GPS, 65-96 GLONASS, 193-199 QZSS (193-197 in the
#: standard, u-blox up to 199), 201-237 BeiDou (some SiRF), 301-356 Galileo, 401-437 BeiDou.
#: SBAS (33-64, 120-158; GSV counts them apart, see :func:`_in_view_kind`) and IMES (173-182)
#: belong to none of the constellations here.
_ID_RANGES = (
    (1, 32, "gps"),
    (65, 96, "glonass"),
    (193, 199, "qzss"),
    (201, 237, "beidou"),
    (301, 356, "galileo"),
    (401, 437, "beidou"),
)
#: Talkers whose satellites are all of their own constellation, whatever their numbers.
#: ``GP`` is not one of them: GPS sentences (talker ``GP``, or system ID 1) number the
#: satellites of the systems that ride on GPS's numbering in the ranges above too: SBAS at
#: 33-64 in every NMEA version (gpsd's capture test/daemon/polarx2.log, a Septentrio PolarRx2:
#: ``$GPGSV`` groups of 10 GPS and 7 SBAS satellites), QZSS at 193-197 on u-blox receivers
#: (u-blox ZED-F9P Interface Description, appendix "Satellite numbering": NMEA 4.1 extended
#: numbering, QZSS under system ID 1), and every constellation on a u-blox receiver whose
#: main talker ID is set to ``GP``.
_OWN_TALKERS = {talker: name for talker, name in _TALKER_CONSTELLATION.items() if name != "gps"}
#: Constellation -> the talkers of :data:`_OWN_TALKERS` that are its own.
_CONSTELLATION_TALKERS = {
    name: tuple(t for t, n in _OWN_TALKERS.items() if n == name) for name in _OWN_TALKERS.values()
}
#: Talkers that name no constellation and whose satellites numbered 1 to :data:`_LOW_LAST`
#: are not GPS or SBAS: Quectel's ``PQGSA``/``PQGSV`` carry BeiDou numbered from 1 by its
#: PRN, C01 to C63 (gpsd's ``nmeaid_to_prn()``: "Quectel EC25 & EC21 use PQxxx for BeiDou";
#: gpsd's capture test/daemon/quectel-eg25-g.log has ``$PQGSV`` groups of 15 satellites
#: numbered 2 to 30; BeiDou-3's satellites are numbered past 32), or QZSS numbered 193-199.
_LOW_IDS = {"PQ": "beidou"}
#: The system ID field that Quectel writes after a ``$PQGSV`` sentence's signal ID -> the
#: constellation of the group's satellites: gpsd's NMEA driver (drivers/driver_nmea0183.c,
#: processGSV) reads it, "4 for BeiDou, or 5 for QZSS", and numbers QZSS under 5 from 1 as
#: NMEA 4.11 does (nmeaid_to_prn), where QZSS's satellites 1 to 10 would read as BeiDou's PRNs
#: on ``PQ`` (an EG25-G's BeiDou group and QZSS group of one epoch; its ``$PQGSA`` carries the
#: same system IDs).
_GSV_SYSTEMS = {str(CONSTELLATIONS[name][1]): name for name in ("beidou", "qzss")}
#: The last satellite number of a talker of :data:`_LOW_IDS` that is its constellation's:
#: BeiDou's last PRN.
_LOW_LAST = 63
#: The talkers that send GSV: those of a constellation, ``GN`` (GLONASS alone on some
#: receivers) and those of :data:`_LOW_IDS`.
_GSV_TALKERS = frozenset((*_TALKER_CONSTELLATION, "GN", *_LOW_IDS))
#: Satellite number -> constellation, by :data:`_ID_RANGES` (None: no constellation).
_ID_CONSTELLATION: list[str | None] = [
    next((name for first, last, name in _ID_RANGES if first <= number_ <= last), None)
    for number_ in range(_ID_RANGES[-1][1] + 1)
]


def _id_constellation(text: str, talker: str) -> str | None:
    """The constellation of a satellite number field by its range (:data:`_ID_RANGES`, and
    :data:`_LOW_IDS` for 1 to :data:`_LOW_LAST` of ``talker``); None for an empty field,
    SBAS, IMES and numbers outside every range."""
    if not text.isdigit():
        return None
    number_ = int(text)
    found = _ID_CONSTELLATION[number_] if number_ < len(_ID_CONSTELLATION) else None
    if found == "gps" or (found is None and 0 < number_ <= _LOW_LAST):
        return _LOW_IDS.get(talker, found)
    return found


def _in_view_kind(text: str, talker: str) -> str | None:
    """The constellation of a GSV satellite number field of a talker that names none (``GP``,
    ``GN``, Quectel's ``PQ``), as :func:`_id_constellation` reads it, or :data:`SBAS` for an
    SBAS number (:data:`_SBAS_IDS`; not on a talker of :data:`_LOW_IDS`, whose numbers are
    another constellation's): GSV counts the SBAS satellites in view apart, as gpsd's SKY
    ``nSat`` counts them with the others."""
    found = _id_constellation(text, talker)
    if found is None and talker not in _LOW_IDS and text.isdigit() and int(text) in _SBAS_IDS:
        return SBAS
    return found


#: The last QZSS PRN (IS-QZSS: 193-202), the last number of QZSS under system ID 1.
_QZSS_LAST = 202


def _gps_system_constellation(text: str, talker: str) -> str | None:
    """The constellation of a satellite number field of a sentence with system ID 1 (GPS): as
    u-blox numbers them there (ZED-F9P Interface Description, appendix "Satellite numbering"),
    SBAS (33-64, 120-158) for none, QZSS at 193-202 (QZSS's PRNs, IS-QZSS; u-blox 193-197,
    Nordic's nRF91 193-202; QZS-3 is 199), any other number GPS."""
    del talker
    if text.isdigit():
        number_ = int(text)
        if number_ in _SBAS_IDS:
            return None
        if 193 <= number_ <= _QZSS_LAST:
            return "qzss"
    return "gps"


# A satellite number field of GSA or GSV lists no satellite when ``text.lstrip("0")`` is
# empty: empty, as the standard writes an unused field, or zeros of any width (``0``, ``00``,
# ``0000``), the number 0, which no satellite has (some encoders fill the unused fields with
# zeros; gpsd's ``processGSA`` and ``processGSV`` skip a field whose ``atoi()`` is 0). The
# test is written out where the fields are read (a method call, no function call a field).


def _used_by_constellation(fields: list[str], ids_at: int, system_at: int) -> dict[str, list[str]]:
    """The satellites a GSA sentence lists (its twelve fields from ``ids_at``, and those past
    the system ID at ``system_at`` that :func:`~sensord.formats.nmea_layouts.gsa_of_twelve` moved
    there), their number fields by constellation: all of them for the constellation of its
    system ID field (NMEA 4.10), else of its talker. A GPS sentence gives each satellite the
    constellation its number falls in, SBAS none: with system ID 1 by
    :func:`_gps_system_constellation`, on talker ``GP`` without one by
    :func:`_id_constellation`, as a sentence whose talker names no constellation does (``GN``
    before NMEA 4.10, Quectel's ``PQ``; see :data:`_OWN_TALKERS`). A GPS sentence that lists
    no satellite of any constellation (none at all, or SBAS only) lists none for GPS; any
    other such sentence names no constellation."""
    ids = [text for text in fields[ids_at : ids_at + 12] if text.lstrip("0")]
    ids += fields[system_at + 1 :]
    system = field(fields, system_at)
    talker = fields[0][:2]
    if system and "." not in system:  # with a point: a DOP (SiRF TriG's TDOP), no system ID
        own = _SYSTEM_CONSTELLATION.get(system)
        if own is None:
            return {}
        constellation_of = _gps_system_constellation
    else:
        own = _TALKER_CONSTELLATION.get(talker)
        constellation_of = _id_constellation
    if own is not None and own != "gps":
        return {own: ids}
    listed: dict[str, list[str]] = {}
    for text in ids:
        constellation = constellation_of(text, talker)
        if constellation is not None:
            mine = listed.get(constellation)
            if mine is None:
                listed[constellation] = [text]
            else:
                mine.append(text)
    if own is not None and not listed:
        listed[own] = []
    return listed


def garbled_satellite_number(fields: list[str]) -> str | None:
    """The first satellite number field of a GSA sentence (in the standard's layout, see
    :func:`~sensord.formats.nmea_layouts.gsa_of_twelve`: its twelve fields from
    :data:`_GSA_IDS_AT` and those past its system ID) that is no whole number (digits only;
    an empty one lists no satellite), or None. Read, such a field (``1A``, ``+3``, `` 7``)
    would count a satellite that is none, or leave one out unseen: without checksum it is
    damage on the line, with its checksum holding the receiver sent no satellite number
    there (the checksum proves only that the bytes arrived as sent). The decoder counts it as
    ``syntax`` either way, as :meth:`SatelliteGroups.feed` does a GSV's."""
    for at in range(_GSA_IDS_AT, len(fields)):
        text = fields[at]
        if text and not text.isdigit() and not _GSA_IDS_AT + 12 <= at <= _GSA_SYSTEM_AT:
            return text
    return None


def _whole(text: str) -> int:
    if not text.isdigit():
        raise ParseError("syntax", f"not a whole number: {text[:8]!r}")
    return int(text)


def _snr_error(fields: list[str], ends: int, error: ParseError) -> ParseError:
    """The error of a GSV sentence whose SNR field, among its satellites' up to ``ends``,
    :func:`~sensord.formats.text.number` rejected with ``error``: its reason, and which
    satellite's SNR is no number (the advice of ``error`` is a text line's, a unit to list in
    ``parse.units``, which a GSV field never has)."""
    for at in range(7, ends, 4):
        text = fields[at]
        if text and fields[at - 3].lstrip("0"):
            try:
                number(text)
            except ParseError:
                satellite = fields[at - 3]
                return ParseError(
                    error.reason, f"GSV SNR of satellite {satellite} not a number: {text[:8]!r}"
                )
    return error


#: A GSV elevation or azimuth as receivers write them: whole degrees (``05``, ``083``), a minus
#: sign before an elevation below the horizon (Inertial Sense's GSV, which printed them until
#: its pull request #602 left those satellites out), a decimal fraction (a Quectel BG96's
#: ``05,13.4,30.9,26.8``, AeroRust/nmea's src/sentences/gsv.rs). An empty field is a satellite
#: not located yet (a Quectel LC79D's ``05,,,14``, a u-blox M8's ``23,,,28``).
_ANGLE = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")
#: Each GSV angle's offset from its satellite number field, name and range of degrees: an
#: elevation from -90 (the nadir) to 90, an azimuth from 0 to 360 (360 is north, a direction
#: rounded up from 359.5).
_ANGLES = ((1, "elevation", -90.0, 90.0), (2, "azimuth", 0.0, 360.0))


def _damaged_angle(fields: list[str], ends: int) -> str | None:
    """The error detail of a GSV sentence without checksum whose elevation or azimuth field,
    among its satellites' up to ``ends``, is damage on the line: no number as a receiver
    writes one (:data:`_ANGLE`), or past its range (:data:`_ANGLES`); None when each is
    empty or one a receiver may send. Neither angle feeds a channel: they are looked at only
    to tell damage, in a sentence that no checksum guards."""
    for at in range(4, ends, 4):
        for offset, name, low, high in _ANGLES:
            text = fields[at + offset]
            if text and (_ANGLE.fullmatch(text) is None or not low <= float(text) <= high):
                return (
                    f"GSV {name} of satellite {fields[at][:8]} not one a receiver sends (a "
                    f"number of degrees from {low:g} to {high:g}): {text[:8]!r}"
                )
    return None


#: The fields of a GSV sentence after its address: the group's size, the sentence's number
#: and the satellites in view (one or two digits each), then up to four satellites of four
#: fields (the ID, elevation, azimuth and SNR: digits or empty), and NMEA 4.10's signal ID.
_GSV_BODY = re.compile(
    rb"\d{1,2},\d{1,2},\d{1,2}(?:,\d{0,3}(?:,-?\d{0,3}){2},\d{0,3}){0,4}(?:,[0-9A-F]?)?"
)


def _listed(fields: list[str], ends: int) -> set[str]:
    """The satellite numbers, without leading zeros, that a GSV sentence of ``fields`` lists in
    its whole quadruples (up to ``ends``); an entry numbered 0 or without number is none."""
    return {fields[at].lstrip("0") for at in range(4, ends, 4) if fields[at].lstrip("0")}


def _gsv_shaped(frame: bytes) -> bool:
    """Whether ``frame``'s fields, up to its ``*``, are a GSV sentence's, whatever its address
    says: a GSV whose sentence type a damaged byte made another known one (``$GPGSA`` for
    ``$GPGSV``; a GSA, GST or other sentence has no such fields: a GSA's first is A or M)."""
    body = frame.lstrip()[7:].partition(b"*")[0]
    return _GSV_BODY.fullmatch(body) is not None


#: GSV groups waiting for their next sentence, at most: one per talker and signal of a
#: receiver (seven constellations of up to a few signals each), with room to spare.
_PENDING_GROUPS = 32
#: A satellite a GSV group lists: its constellation (None: unknown) and its SNR (None: not
#: tracked).
_Satellite = tuple[str | None, float | None]
#: A GSV group under way (see :class:`SatelliteGroups`): its sentences, the next sentence's
#: number, its satellites so far (None: none to give, a sentence of it lost), their number
#: fields when it is read with the epoch's other groups (its talker's groups carry several
#: signal IDs; else None), the signal ID of its talker's groups before it when it is the
#: first of another (:data:`_SEVERAL` when it taught them within it, its reading withheld;
#: else None), and its satellites in view (its last sentence's field).
_Pending = tuple[int, int, list[_Satellite] | None, list[str] | None, str | None, int]


def _kinds(own: str | None, seen: list[_Satellite]) -> list[str | None]:
    """The constellations a GSV group of talker constellation ``own`` (None: none) gives
    readings of, by its satellites ``seen`` (see :meth:`SatelliteGroups._readings`): its
    talker's own, else those its satellites fall in, and GPS's for a ``GP`` group without a
    satellite of any constellation."""
    if own is not None and own != "gps":
        return [own]
    kinds = list(dict.fromkeys(c for c, _ in seen))
    if own is not None and all(c in (None, SBAS) for c in kinds):
        kinds.insert(0, own)  # none listed, or SBAS only: GPS's group, none in view
    return kinds


#: The epochs in a row, each short of a constellation's GSV groups (see
#: :class:`SatelliteGroups`) or of its GSA sentences (see :class:`UsedSatellites`), that make
#: the most of them any one of these had its most (:func:`_short_of_most`): a band the
#: receiver no longer sends (reconfigured, or its last satellite on it lost for good) holds the
#: constellation's readings to the epoch's end only so long, while one left out of an epoch or
#: two (a satellite at the edge of tracking on it) keeps its place.
_SHORT_EPOCHS = 5


def _short_of_most(
    most: dict[str, int], short: dict[str, tuple[int, int]], constellation: str, count: int
) -> bool:
    """Whether an epoch that lost nothing on the line, with ``count`` GSV groups or GSA
    sentences of ``constellation``, had fewer than its most (``most``, absent: 1), its reading
    then due at the epoch's end. ``short`` holds, by constellation, the epochs in a row so far
    that had fewer, and the most of them one of these had: an epoch that had as many or more
    ends the row, and the :data:`_SHORT_EPOCHS`-th in a row makes the most of them one had the
    constellation's most."""
    if count >= most.get(constellation, 1):
        if short:
            short.pop(constellation, None)
        return False
    epochs, fewer = short.get(constellation, (0, 0))
    if epochs + 1 < _SHORT_EPOCHS:
        short[constellation] = (epochs + 1, max(fewer, count))
    else:
        short.pop(constellation, None)
        most[constellation] = max(fewer, count)
    return True


#: A GSV group's talker and signal ID.
_Key = tuple[str, str]
#: A group of an epoch (see :attr:`SatelliteGroups._groups`): its talker and signal ID, its
#: satellites and their number fields.
_Group = tuple[_Key, list[_Satellite], list[str]]
#: In :attr:`SatelliteGroups.epoch`: the GSV sentences lost since the last frame of another
#: kind (or the stream's start), of any talker (``SatelliteGroups._losses`` has whose);
#: absent, none.
_LOST = ""
#: The talkers of a GSV sentence lost whose address is unknown (see
#: ``SatelliteGroups._losses``): any talker's.
_ANY = ("",)
#: In ``SatelliteGroups._begun``: the talker's groups carry several signal IDs.
_SEVERAL = "*"
#: In :attr:`SatelliteGroups.epoch` from the start until the first frame of another kind than
#: GSV: while it is there, the stream may be of GSV alone.
_UNFRAMED = "-"
#: In :attr:`SatelliteGroups.epoch` while a talker's first group is held (see
#: :meth:`SatelliteGroups._hold`): the frame of another kind that ends the epoch gives its
#: readings.
_HELD = "+"
#: A talker's first group held (see :meth:`SatelliteGroups._hold`): its key, its satellites,
#: their number fields, and its readings by constellation, as a group of one signal gives them.
_Held = tuple[_Key, list[_Satellite], list[str], dict[str, list[tuple[str, float]]]]
#: The satellites of the group before the one that teaches its talker's second signal ID, in
#: the teaching group's epoch (see :meth:`SatelliteGroups._epoch_readings`), when that group
#: came before the stream's first frame of another kind and the teaching one after: its
#: readings were given, and it may be of the epoch before (else an empty list of its own
#: stands for it). Never filled.
_GIVEN: list[_Satellite] = []


class SatelliteGroups:
    """GSV read as whole groups, per talker and signal ID: the sentences of a group are
    collected in order, and only a complete group gives readings, on its last sentence
    (``in_view_<constellation>``, and ``snr_mean_...``/``snr_max_...`` over the satellites
    with an SNR), one reading of a constellation an epoch when it has a group per signal
    (below). The sentences before the last give none (ignored frames).

    A group is its talker's constellation's. A talker that names none (``GN``, which some
    receivers send for GLONASS alone; Quectel's ``PQ``) and GPS's ``GP``, whose groups carry
    SBAS satellites too (:data:`_OWN_TALKERS`), give each satellite the constellation its
    number falls in, or SBAS (:func:`_in_view_kind`): a group whose numbered satellites all
    fall in one constellation, or are all SBAS, is that one's group (``in_view`` from its
    in-view field); any other group gives each constellation, and the SBAS, its own satellites
    (``in_view``: how many of them the group lists), and leaves out those of none (IMES,
    numbers out of every range). A ``GP`` group without a satellite of any constellation
    (none listed, or SBAS only) is GPS's too: GPS has none in view. So the ``in_view_``
    channels, ``in_view_sbas`` among them, add up to the satellites in view that gpsd's SKY
    ``nSat`` counts (gpsd's capture polarx2.log, a Septentrio PolarRx2: ``$GPGSV`` groups of
    17, 10 GPS and 7 SBAS satellites). On a receiver of several signals gpsd counts each
    satellite once per signal (its capture skytraq-PX1172RH_DS.log: ``nSat`` 47 where its
    groups list 38 distinct satellites), these channels each satellite once.

    A sentence with a signal ID that the sentences before it in its group lack continues the
    group of its talker without signal ID that waits for its number, or for a number before
    it (the sentences between were lost, one loss), unless a group of the talker has begun
    with that signal ID: a group of one signal never continues another signal's group (see
    :meth:`_continued`), but for a signal ID whose sentence has continued such a group, at
    the sentence it waited for or past a lost one (an LC79D-style ``3,3`` of signal 8
    followed by an L5 group of its own), for the very sentence the group waits for that
    lists only satellites the group has listed, and for a sentence past a lost one of the
    group that began right after a group of that signal ID (it taught the talker's groups
    without signal ID). The group so continued is its sentence 1's, without signal ID. So is
    a group whose every sentence carries a signal ID, changed within it (an LC79D's
    ``$GPGSV,4,4,12`` of signal 8 after its ``4,1`` to ``4,3`` of signal 1): a sentence of a
    signal ID that has begun no group of the talker, or has continued one, continues the
    group of another signal ID that waits for it, its very number, total and in-view count,
    or for a number before it, the sentences between lost, listing none but the group's
    satellites (see :meth:`_signalled`).

    A sentence after the first whose total and in-view fields are both empty (an AirMar's
    ``$GPGSV,,2,,``, as NMEA 0183 4.11 recommends for values unchanged within a group; OpenCPN
    pull request #2146) has its group's, of the group of its talker and signal ID that waits;
    when none waits, it gives nothing and its group's size is unknown (see :meth:`_unplaced`).

    A group cut short is never half-used: a sentence that does not continue its group (number
    2 of 3 without number 1) is rejected as ``truncated``, and so is a number 1 that starts a
    new group while the previous one of the same talker and signal waits for its end (the new
    group goes on from it; a one-sentence group in that place gives its readings with the
    error, as ``ParseError.kept``). Before a talker's first sentence number 1, its sentences
    are the end of the group under way when the stream started (the port was opened in the
    middle of it): they are ignored, not counted, as nothing was lost on the line.

    A lost sentence is counted once: one that the decoder rejected (a ``checksum`` that fails,
    cut short, ``syntax``, ...: see :meth:`rejected`) was counted under its reason, so the
    sentence of its talker that comes next and does not continue the group is no second loss;
    while the talker's next sentences are whole ones of its groups of other signal IDs (a
    ZED-F9P's L2 group after the L1 group that lost its last sentence), so is the next sentence
    of the group that waits, the next epoch's sentence 1 that cuts it. Each rejected sentence
    is shown once so: two of a talker rejected in a row (a ZED-F9P's BeiDou B2I ``3,3`` and the
    next epoch's B1I ``3,1``) are shown by two such sentences (the B1I ``3,2``, then the B2I
    ``3,1`` that cuts the B2I group), two of one group by the one sentence that cuts it (as
    many are kept as the talker's other groups wait); a loss after them is counted where it
    shows. Its group gives nothing
    and is not counted again: a sentence after the gap goes on with it to its end, a sentence 1
    starts the next group. So does a sentence out of its group, counted: a sentence lost without
    a trace (a line cut within its ``$``, its bytes skipped by the framer) is counted at the
    sentence after it, not at each one after it.

    A receiver that tracks several signals of a constellation (NMEA 4.10: GPS L1 C/A and L5,
    Galileo E1 and E5a) sends one group per signal, each listing the satellites tracked on
    that signal, most of them on the others too (gpsd's capture
    test/daemon/skytraq-PX1172RH_DS.log, a SkyTraq PX1172RH: ``$GPGSV`` groups of 10
    satellites on L1, signal ID 1, and 4 of them on L2, signal ID 6). Once a talker has begun
    a group of another signal ID than its first's, the readings of its constellations are of
    their epoch: ``in_view`` counts the distinct satellite numbers their groups of the epoch
    list, and ``snr_mean`` and ``snr_max`` take each satellite's best SNR among its signals (a
    satellite tracked at 40 dB-Hz on L1 and 30 on L5 is one satellite received at 40), as
    u-blox's UBX-NAV-SAT reports one entry a satellite beside UBX-NAV-SIG's one a signal. A
    group that lists satellites again under another signal ID within its own numbering
    (:meth:`_continued`) teaches the same of its talker (see below for its reading). The groups
    are
    merged as :class:`UsedSatellites` merges an epoch's GSA sentences: the GSV groups between
    two frames of another kind (:meth:`close`), of distinct talkers and signal IDs, are one
    epoch, and a constellation's reading is given

    * at its group number ``n`` of the epoch, ``n`` being the most groups of it one epoch,
      one that lost a GSV sentence too, has had so far (1 until an epoch has had more;
      lowered by epochs short of it, below): a receiver of two signals gets the merged
      readings at the second group. An epoch's groups are whole (a group that lost a
      sentence is none of them) and each of another talker or signal ID (a group of one the
      epoch has had begins the next, so two epochs joined by the frame between them lost on
      the line are two): one that lost a sentence has only groups the receiver sent, one a
      talker and signal ID, unlike a GSA run, whose sentences carry no signal ID (see
      :meth:`UsedSatellites._close`);
    * else at the epoch's end, with the readings of the frame after it (:meth:`close`), when
      the epoch had fewer groups of the constellation than ``n`` (a signal with no satellite
      left, whose group the receiver leaves out), but not when a GSV sentence was lost in the
      epoch that may be of the constellation's groups (:meth:`_lost_in`: its talker's, or an
      unknown talker's), their merge short of satellites: its last reading ages; a sentence
      of another constellation's talker lost costs it nothing (a ZED-F9R's BeiDou sentence
      lost every epoch, its GPS and GLONASS groups of signal ID 0 coming and going; a
      sentence whose checksum fails is any talker's one bit from its address, see
      :meth:`_suspects`). :data:`_SHORT_EPOCHS` epochs in a row with fewer
      that lost none (a band the receiver no longer sends; an epoch with fewer that lost a
      sentence neither counts in the row nor ends it, see :meth:`_due`) make the most
      groups one of them had ``n``: the readings come at their group again, not at each
      epoch's end, and a sentence lost after that group costs them nothing; the first epoch
      in which the band is back gives the reading at its group ``n``, without the groups
      after it (the band's, when the receiver sends it last), and raises ``n``.

    A constellation's reading is given once an epoch. A group past the ``n``-th raises ``n``
    for the epochs after and gives none: the epoch's reading has gone out, and a second one
    over all its groups (gpsd's capture ublox-zed-f9r.log: an L2 OF group of GLONASS
    satellite 85 at 23:14:23 between the L1 OF group and the group of signal ID 0, 7
    satellites at the second group, 9 over the three) would count the epoch twice in a
    window's count, mean and minimum, the short reading still among them.

    No reading comes at the ``n``-th group while a group of its talker with another signal ID,
    begun in the epoch, waits for a sentence (:meth:`_waits`): that group lost its end, and
    the reading would be short of its satellites; nor at the epoch's end for an epoch short of
    its most groups while a group of its talker begun in it waits (gpsd's capture
    ublox-zed-f9r.log with the ``2,2`` of BeiDou's signal-0 group, the epoch's last, lost: 8
    satellites of 14), whether a frame of another kind ends it (:meth:`close`) or, in a stream
    of GSV alone after such a frame, the next epoch's group of a talker and signal ID it has
    had (:meth:`_epoch_readings`). The group of that key that cuts it in the next epoch is that
    epoch's own (:meth:`_unended_group`), not the start of another: its satellites alone
    would be a reading short of the epoch's other groups (6 of 14).

    A group that teaches its talker's several signal IDs within it (a sentence with a signal
    ID continues it, :meth:`_continued`: a Quectel LC79D's ``$GPGSV,3,1,10`` and ``3,2``
    without signal ID, its ``3,3`` with the L5 entries of three of their satellites and signal
    ID 8) gives no reading: its in-view field counts a satellite once for each signal (10 for
    the LC79D's 7), and its sentences before the one with the signal ID were read before the
    talker's satellite numbers were kept, so its distinct satellites are unknown. It is its
    epoch's first group all the same: a group of another signal ID after it in the epoch (an
    L5 group of its own, ``$GPGSV,1,1,03,...,8``) is the second and teaches that the epochs
    have two, giving no reading of one signal's satellites alone. The constellation's first
    reading is its next epoch's, at its ``n``-th group: one epoch withheld, once a talker.
    Such a group that loses a sentence gives nothing, and is none of its epoch's whole
    groups, but it still teaches that the epochs have two (:meth:`_taught_lost`), as does a
    group that loses a sentence and is the first of its talker's of another signal ID: the
    group of the other signal after it in the epoch (the LC79D's L5 group) is its only whole
    one and gives no reading of that signal's satellites alone, nor does the epoch, which
    lost a sentence, at its end.

    The group that teaches a talker's second signal ID is its epoch's second and gives no
    reading (the first gave its own), nor does a group past the ``n``-th; but when the
    talker's groups before it came before the stream's first frame of another kind (read,
    or rejected with its sentence type readable: a GGA whose checksum fails), and it
    after, and the talker's group of that first signal ID comes after it in the same epoch,
    the teaching group was the epoch's first (the port was opened after the epoch's first
    group, and the group read before was the last epoch's), and the two are the epoch's
    groups. When that frame was lost unseen (without a trace, or its sentence type
    damaged: it may have been a GSV sentence), the talker's next group of the first signal
    ID begins the next epoch, and the first frame of another kind finds that epoch short
    of the teaching group's signal: the groups of the epoch before it of the signals it is
    short of join it then, and the epoch's reading is of them all, at that frame
    (:meth:`_joined`), not of its groups after the teaching one alone. A talker whose
    groups before the teaching one came after such a frame had them in the teaching group's
    epoch: its next group of the first signal ID begins the next
    epoch, even when the frame that ended the teaching group's epoch was lost on the line
    (read as the epoch's second group, it would merge two epochs' groups, and the next
    epoch's second group, left alone, would give a short reading at that epoch's end). A
    group of a talker and signal ID that the epoch has had already begins the
    constellation's next epoch (a stream of GSV alone, in which no frame
    of another kind ends one, or two epochs whose frames between them were lost on the
    line), and so does one of a talker and signal ID whose group lost a sentence in the
    epoch (it was the epoch's group, though it gives nothing), or whose group its sentence 1
    cut: otherwise the next epoch's group of that signal would join the epoch's others,
    one epoch's satellites merged with another's. Without such a frame, a GSV sentence lost
    after the constellation's epoch had its ``n`` groups is the next epoch's too: it may be
    of that epoch's first group (a Teseo's L1 group, its antenna report before it lost), the
    epoch then short of it, with its L5 group alone (2 satellites of 10); one lost while the
    epoch was short of its groups is that epoch's only (the group it is short of may be the
    one that lost it). A talker whose groups carry one signal ID has each group read as it
    comes, the decoder's frames of another kind never calling :meth:`close` for it, once one
    of its epochs has ended whole.

    A talker's first group with a signal ID after the stream's first frame of another kind
    cannot tell whether groups of other signal IDs follow in its epoch (:meth:`_hold`): it is
    held. A group of the talker with another signal ID in the epoch takes it into the epoch's
    groups, and the epoch's reading of its constellation is due at the epoch's end (the frame
    of another kind after the groups, or a group of a talker and signal ID the epoch has had),
    over all its groups, as gpsd's SKY of the epoch reports them (a ZED-F9P's Galileo at
    00:39:56 in gpsd's capture ublox-zed-f9p-nmea.log: 35 dB-Hz at most on E5b, 32 on E1),
    unless a GSV sentence was lost after them (it may be of a third signal's group). Else its
    own readings are due at that end, or at the talker's next sentence 1 of the same signal ID.
    Another talker's group ends no talker's groups: an ST Teseo LIV4F sends every
    constellation's L1 group, then every constellation's L5 group (gpsd's capture
    st-teseo-liv4f.log). A talker whose epoch so held ended with a GSV sentence of it (or of
    an unknown talker) lost, or with a group of any talker under way or a sentence rejected
    whose loss no sentence of its talker has shown, has its next epoch's first group held
    again (its start-up lines cut the Teseo's first epoch before its L5 groups). The first
    epoch's readings so come at most one burst of GSV later than a later epoch's, once: at
    the frame after the groups, which on a receiver whose GSV are the epoch's last (a
    Quectel EG25-G) is the next epoch's first."""

    __slots__ = (
        "_anonymous",
        "_begun",
        "_begun_unframed",
        "_carried",
        "_channels",
        "_continuing",
        "_counted",
        "_first",
        "_groups",
        "_held",
        "_listed",
        "_losses",
        "_lost",
        "_lost_keys",
        "_most",
        "_opening",
        "_pending",
        "_read_at_end",
        "_short",
        "_undecided",
        "_unended",
        "_unframed_epochs",
        "epoch",
    )

    def __init__(self, channels: dict[str, list[tuple[str, str]]]) -> None:
        #: constellation -> (statistic, channel) pairs
        self._channels = channels
        #: (talker, signal ID) -> sentences in the group, the next sentence's number, and its
        #: satellites so far: constellation (None: unknown) and SNR (None: not tracked); None
        #: for a group that lost a sentence counted already, which gives nothing at its end
        self._pending: dict[tuple[str, str], _Pending] = {}
        #: Talker -> the GSV sentences of it rejected (see :meth:`rejected`) that no sentence
        #: of it has shown yet: each sentence of the talker that does not continue its group
        #: shows one of them, no second loss; one that shows none leaves as many of them as
        #: other groups of the talker wait (each may be one's, shown when it is cut), none
        #: when no other group waits. "" for the sentences whose talker is unknown, one less
        #: at each GSV sentence of any talker that does not continue its group (the loss is
        #: that one's) and shows no loss of its own talker's (one that continues a group
        #: that lost a sentence shows none), none once every talker in :attr:`_anonymous` has
        #: begun a group whole since.
        self._lost: dict[str, int] = {}
        #: While "" is in ``_lost``: the talkers yet to begin a new group whole (a sentence 1
        #: that cuts none) before "" lapses: a one-sentence group lost leaves no group cut.
        self._anonymous: set[str] = set()
        #: Whether :meth:`feed` raised the last error, counting a group cut itself.
        self._counted = False
        #: The talkers and signal IDs (not empty) of which a group has begun: a sentence of
        #: one of them continues no group of its talker without signal ID (see
        #: :meth:`_continued`). At most :data:`_PENDING_GROUPS`, cleared past them.
        self._opening: set[_Key] = set()
        #: The talkers and signal IDs (not empty) of which a sentence has continued a group of
        #: its talker without signal ID, at the sentence its group waited for or past a lost
        #: one: they continue such groups whatever groups of their own begin (see
        #: :meth:`_continued`). At most :data:`_PENDING_GROUPS`, cleared past them.
        self._continuing: set[_Key] = set()
        #: The talkers and signal IDs (not empty) of the pending groups -> the satellite
        #: numbers, without leading zeros, that the group has listed: a sentence of another
        #: signal ID continues it listing none but them (see :meth:`_signalled`). The entry
        #: of a key whose group waits no more is left, and set anew by its next group's
        #: sentence 1; past :data:`_PENDING_GROUPS` the keys of no pending group are dropped.
        self._listed: dict[_Key, set[str]] = {}
        #: The talkers whose sentence 1 of a group has come: before it, the sentences of the
        #: group under way when the stream started are ignored (nothing was lost); each with
        #: the signal ID of its groups, :data:`_SEVERAL` once they have carried two.
        self._begun: dict[str, str] = {}
        #: The talkers of :attr:`_begun` at the stream's first frame of another kind (see
        #: :meth:`close`): their groups before it may be of the epoch before the teaching
        #: group's (see :meth:`_epoch_readings`).
        self._begun_unframed: frozenset[str] = frozenset()
        #: Talker of no constellation of its own (``GP``, ``GN``, Quectel's ``PQ``: see
        #: :data:`_OWN_TALKERS`) -> the constellations its whole GSV groups have listed
        #: satellites of (``GP``'s: GPS from its first), SBAS and None among them: what its
        #: groups carry on this receiver, which a loss of its sentences may cost
        #: (:meth:`_may_give`), but for a constellation whose own talker began its first group
        #: since: a u-blox receiver whose CFG-NMEA ``gsvTalkerId`` is set from the main talker
        #: (every constellation's groups under ``GP``) to each constellation's own sends
        #: GLONASS's under ``GL`` from then on. At most :data:`_PENDING_GROUPS` talkers.
        self._carried: dict[str, set[str | None]] = {}
        #: The epoch under way of the constellations read over their epoch's groups (of a
        #: talker of several signal IDs, see :attr:`_begun`): constellation -> the value of
        #: :data:`_LOST` whose losses are not its epoch's (0 from the frame of another kind
        #: before it; those up to its epoch's last group, once it has its most groups: a
        #: loss after that may be the next epoch's, see :meth:`_epoch_readings`), its epoch
        #: having lost a GSV sentence when :data:`_LOST` is past it; :data:`_LOST`, the GSV
        #: sentences lost; :data:`_UNFRAMED` until the first frame of another kind. Empty
        #: between epochs, and on a receiver of one signal: the decoder calls :meth:`close`
        #: at a frame of another kind while it is not.
        self.epoch: dict[str, int] = {_UNFRAMED: 0}
        #: Talker ("": unknown, any) -> the value of :data:`_LOST` in :attr:`epoch` at its
        #: last GSV sentence lost: the losses of an epoch are its constellations' when they
        #: may be of their groups (:meth:`_lost_in`). Emptied with :attr:`epoch`.
        self._losses: dict[str, int] = {}
        #: constellation -> its groups of the epoch under way, their keys and satellites; the
        #: first group of the epoch that teaches a talker's several signal IDs has no
        #: satellites here (its readings were given).
        self._groups: dict[str, list[_Group]] = {}
        #: The talkers and signal IDs of the groups that lost a sentence (ended without it, or
        #: cut by the next group's sentence 1) since the last frame of another kind, each
        #: with the value of :data:`_LOST` in :attr:`epoch` then: a group that a
        #: constellation's epoch has had when that is past the constellation's value there,
        #: a loss of its epoch (see :meth:`_epoch_readings`). At most :data:`_PENDING_GROUPS`
        #: (a stream of GSV alone keeps them, one a talker and signal ID; a new one past them
        #: clears them).
        self._lost_keys: dict[_Key, int] = {}
        #: constellation -> the most groups of it one epoch has had (absent: 1), or, after
        #: :data:`_SHORT_EPOCHS` epochs in a row short of it, the most of those
        self._most: dict[str, int] = {}
        #: constellation -> the epochs in a row short of its most groups, and the most groups
        #: of it one of them had (see :meth:`_due`)
        self._short: dict[str, tuple[int, int]] = {}
        #: constellation -> its groups of the last epoch that a group of a talker and signal
        #: ID it had ended while no frame of another kind had come yet (see :meth:`close`)
        self._unframed_epochs: dict[str, list[_Group]] = {}
        #: Talker -> the key of its first group under way, when it carries a signal ID and
        #: the stream's first frame of another kind has come: held at its end (:meth:`_hold`).
        self._first: dict[str, _Key] = {}
        #: Talker -> its first group, held (:meth:`_hold`); at most :data:`_PENDING_GROUPS`.
        self._held: dict[str, _Held] = {}
        #: The constellations whose epoch under way is their talker's first of several signal
        #: IDs: its reading is due at the epoch's end, over all its groups (:meth:`_due`).
        self._read_at_end: set[str] = set()
        #: The talkers whose groups have carried one signal ID, and whose epochs since the
        #: stream's first frame of another kind have not ended whole (a GSV sentence lost,
        #: or a group under way at the frame: the groups of their other signals may be
        #: missing): their next group is held as a talker's first is.
        self._undecided: set[str] = set()
        #: The groups under way at the last frame of another kind (:meth:`close`), each as
        #: :attr:`_pending` held it then: groups of an epoch before, which lost a sentence
        #: (see :meth:`_waits`).
        self._unended: list[_Pending] = []

    def feed(self, fields: list[str], unchecked: bool = False) -> list[tuple[str, float]]:
        """The readings of a GSV sentence (see the class). A satellite number field that is
        no whole number rejects it (``syntax``), its checksum holding or not (see
        :func:`garbled_satellite_number`): its group is read whole or not at all; so does an
        SNR field that is no number, its satellite named (:func:`_snr_error`), and, in a
        sentence ``unchecked`` (without checksum), an elevation or azimuth that no receiver
        sends (:func:`_damaged_angle`). A sentence after the first without total and in-view
        fields takes those of the group that waits for it."""
        talker = fields[0][:2]
        lost = self._lost
        marked = lost.get(talker, 0)  # the talker's rejected sentences not shown yet
        # whether a sentence lost before this one has been counted
        counted = bool(lost) and (marked > 0 or "" in lost)
        own = _OWN_TALKERS.get(talker)
        if own is not None and own not in self._channels:
            lost.pop(talker, None)
            return []
        number_ = _whole(field(fields, 2))
        satellites = len(fields) - 4
        after = satellites % 4  # the fields after the last whole quadruple
        signal = fields[-1] if after == 1 else ""
        if len(signal) > 1:  # NMEA 4.10's signal ID is one hex digit
            raise ParseError("syntax", f"GSV signal ID {signal[:8]!r}")
        named = own  # the constellation of every satellite of the sentence, when one is named
        if after == 2 and own is None:  # Quectel's signal ID and system ID (:data:`_GSV_SYSTEMS`)
            named = _GSV_SYSTEMS.get(fields[-1])
        key = (talker, signal)
        if number_ > 1 and not field(fields, 1) and not field(fields, 3):
            # the total and in-view fields left out after sentence 1 (AirMar): its group's
            waiting = self._pending.get(key)
            if waiting is None:
                return self._unplaced(talker, number_, counted)
            total, in_view = waiting[0], waiting[5]
        else:
            total, in_view = _whole(field(fields, 1)), _whole(field(fields, 3))
        if not 1 <= number_ <= total:
            raise ParseError("syntax", f"GSV sentence {number_} of {total}")
        ends = 4 + satellites - after  # SNRs at 7, 11, ...: whole quadruples only
        for at in range(4, ends, 4):
            text = fields[at]
            if text and not text.isdigit():
                raise ParseError("syntax", f"GSV satellite number {text[:8]!r}")
        try:
            seen = [
                (
                    named or _in_view_kind(fields[at - 3], talker),
                    (number(fields[at]) or None) if fields[at] else None,
                )
                for at in range(7, ends, 4)
                # an entry without a number, or numbered 0, is no satellite (gpsd skips it)
                if fields[at - 3].lstrip("0")
            ]
        except ParseError as exc:
            raise _snr_error(fields, ends, exc) from None
        if unchecked:
            damaged = _damaged_angle(fields, ends)
            if damaged is not None:
                raise ParseError("syntax", damaged)
        pending = self._pending.pop(key, None)
        numbers: list[str] | None = None  # of a group read with the epoch's other groups
        taught: str | None = None  # the signal ID of the talker's groups before this one's
        released: list[tuple[str, float]] = []  # the held group's readings, now due
        if number_ > 1 and pending is None:
            continued = self._continued(key, (total, in_view), number_, fields, ends)
            if continued is not None:  # its groups are read with the epoch's from the next on
                key, pending = continued  # the group's key, by its sentence 1
                self._begun[talker] = _SEVERAL
                if pending[3] is None or self._first.get(talker) == key:
                    # it teaches them: its reading withheld (see the class)
                    self._first.pop(talker, None)
                    pending = (pending[0], pending[1], pending[2], None, _SEVERAL, pending[5])
        group: list[_Satellite] | None = seen
        cut = ""  # the group cut, to count
        if number_ > 1:
            if pending is None or pending[:2] != (total, number_):
                if pending is None and talker not in self._begun:
                    lost.pop(talker, None)
                    return []  # the end of the group under way when the stream started
                if not counted:
                    cut = f"GSV sentence {number_} of {total} out of its group"
                group = None  # after the sentence lost: the group goes on, to give nothing
                self._lose((talker,))
                if pending is not None:  # a group that teaches its talker's signals still does
                    taught = pending[4]
            else:
                group = None if pending[2] is None else pending[2] + seen
                numbers = pending[3]
                taught = pending[4]
        else:
            if signal and key not in self._opening:
                if len(self._opening) >= _PENDING_GROUPS:
                    self._opening.clear()  # of damaged talkers, without checksum
                self._opening.add(key)
            known = self._begun.get(talker)
            first = known is None
            if first:
                self._begun[talker] = known = signal
                if own is not None and self._carried:
                    # its constellation's satellites are its groups' from now on
                    for carried in self._carried.values():
                        carried.discard(own)
            elif self._undecided and talker in self._undecided:  # its first group since the frame
                self._undecided.discard(talker)
                first = known == signal
            if first:
                if signal and _UNFRAMED not in self.epoch and len(self._held) < _PENDING_GROUPS:
                    # its talker's first group: held until the next sentence 1 of the talker
                    # or the epoch's end tells whether groups of other signal IDs follow
                    self._first[talker] = key
                    numbers = []
            elif self._first:
                self._first.pop(talker, None)  # the first group ended, or this one cut it
            if known != signal:  # the talker's groups carry several signal IDs
                if known != _SEVERAL:
                    taught = known
                    self._begun[talker] = _SEVERAL
                numbers = []
            if self._held and talker in self._held and taught is None:
                # a group of the held group's signal ID (the next epoch's: its reading is
                # due), or of a third after a second whose group was cut (held no more)
                held = self._held.pop(talker)
                if known == signal:
                    released = [r for rs in held[3].values() for r in rs]
        if numbers is not None:
            numbers = numbers + [
                fields[at - 3] for at in range(7, ends, 4) if fields[at - 3].lstrip("0")
            ]
        readings = released
        if number_ == 1 and pending is not None and not self._unended_group(pending):
            self._lost_group(key, 1)  # the group it cuts, with the loss counted below
        if number_ < total:
            if len(self._pending) >= _PENDING_GROUPS:  # the oldest is cut: counted when it ends
                del self._pending[next(iter(self._pending))]
            self._pending[key] = (total, number_ + 1, group, numbers, taught, in_view)
            if key[1]:  # what it has listed, for a sentence of another signal ID
                listed = self._listed
                if key not in listed and len(listed) >= _PENDING_GROUPS:
                    self._listed = listed = {k: v for k, v in listed.items() if k in self._pending}
                mine = _listed(fields, ends)
                listed[key] = mine | listed[key] if number_ > 1 and key in listed else mine
        elif group is not None:
            if own is None:
                self._carry(talker, group)
            own = named or _TALKER_CONSTELLATION.get(talker)
            if numbers is None and taught != _SEVERAL:
                readings += self._readings(own, group, in_view)
            elif self._first and self._first.get(talker) == key:
                assert numbers is not None
                self._hold(key, own, group, numbers, in_view)
            else:
                readings += self._readings(own, group, in_view, (key, numbers, taught))
                if taught is not None and self._held:
                    # what the teaching group did not take: the held group's own readings
                    untaken = self._held.pop(talker, None)
                    if untaken is not None:
                        readings += [r for rs in untaken[3].values() for r in rs]
        else:
            self._lost_group(key, 0)  # a group that lost a sentence, counted
            if self._first and self._first.get(talker) == key:
                del self._first[talker]
            if taught is not None:
                self._taught_lost(named or _TALKER_CONSTELLATION.get(talker), seen)
                if self._held:
                    self._held.pop(talker, None)  # its talker's first epoch lost a sentence
        if number_ == 1 and pending is not None:
            self._lose((talker,))
            if not counted:
                # the cut group is the error; a one-sentence group that cut it is whole
                cut = f"GSV group of {pending[0]} cut before its end"
        if number_ == 1:
            whole = pending is None  # cuts no group
        else:
            whole = pending is not None and pending[:2] == (total, number_)
        if "" in lost:
            if not whole:  # it shows a loss: of its talker's counted ones first
                if not marked:
                    self._unmark("")  # this talker's group lost the unknown sentence
            elif number_ == 1:
                self._anonymous.discard(talker)
                if not self._anonymous:
                    del lost[""]
        if counted:
            if whole:
                # the losses counted (one at least, of an unknown talker's) may be of the
                # talker's groups of other signal IDs that wait, each showing one at its next
                # sentence: no second loss
                others = sum(1 for k in self._pending if k[0] == talker and k != key)
                left = min(marked or 1, others)
            else:
                left = max(marked - 1, 0)  # the one this sentence shows
            if left:
                lost[talker] = left
            else:
                lost.pop(talker, None)
        if cut:
            self._counted = True
            raise ParseError("truncated", cut, kept=readings)
        return readings

    def _unplaced(self, talker: str, number_: int, counted: bool) -> list[tuple[str, float]]:
        """The readings of GSV sentence ``number_`` of ``talker`` without its total and in-view
        fields, as an AirMar sends its sentences after the first, when no group of its talker
        and signal ID waits for it: none. Before the talker's first sentence 1 it is the end
        of the group under way when the stream started (ignored); after a loss of the talker
        counted already (its sentence 1 rejected), it is that loss; else its sentence 1 was
        lost unseen, and it is out of its group (``truncated``). Its group's size unknown, the
        talker's next sentence that shows the loss is no second one."""
        if talker not in self._begun:
            self._lost.pop(talker, None)
            return []
        # it shows a loss of the talker counted, and the talker's next sentence shows its
        # group's: as many counted losses left, one at least
        self._lost.setdefault(talker, 1)
        if counted:
            return []
        self._lose((talker,))
        self._counted = True
        raise ParseError("truncated", f"GSV sentence {number_} out of its group")

    def rejected(self, frame: bytes, sentence_types: Container[str]) -> None:
        """Note a frame that the decoder rejected, counted under its reason, other than for a
        group cut (:meth:`feed`'s own ``truncated``): when it may be a GSV sentence (its
        address is one, or is damaged: no address of a known sentence type, or another
        known one before a GSV's fields), the next GSV
        sentence of its talker (of any talker, its address damaged) that does not continue
        its group is no second loss. One whose sentence type is readable and another known
        one is a frame of another kind all the same: before the stream's first one read, it
        is that first frame (see :meth:`_framed`). Only rejected frames take this path.
        ``sentence_types`` are the known sentence types (the decoder's
        :data:`~sensord.formats.nmea_fields.SENTENCES`)."""
        if self._counted:
            self._counted = False
            return
        head = frame.lstrip()[1:7]
        if len(head) == 6 and head[5:] == b"," and head[:5].isalnum():
            kind = head[2:5].decode("ascii")
            if kind == "GSV" or (kind in sentence_types and _gsv_shaped(frame)):
                # its talker's, or another's whose address a flipped bit made it
                talker = head[:2].decode("ascii")
                self._lose(self._suspects(talker))
                if talker in self._begun:
                    self._mark(talker)
                else:
                    self._lose_unknown()
                return
            if kind in sentence_types:
                if _UNFRAMED in self.epoch:  # the stream's first frame of another kind, lost
                    self._framed()
                return
        self._lose(_ANY)  # one loss, of any talker's group: not one of each group under way
        self._lose_unknown()

    def _framed(self) -> None:
        """The stream's first frame of another kind than GSV has come (read, or rejected with
        its sentence type readable): the stream is not of GSV alone, and the talkers begun
        so far had their groups before it (see :meth:`_epoch_readings`)."""
        del self.epoch[_UNFRAMED]
        self._begun_unframed = frozenset(self._begun)
        self._undecided = {talker for talker, signal in self._begun.items() if signal != _SEVERAL}
        self._unframed_epochs.clear()

    def _joined(
        self, constellation: str, groups: list[_Group], before: list[_Group]
    ) -> list[tuple[str, float]] | None:
        """The readings of ``constellation``'s epoch of ``groups`` at the stream's first
        frame of another kind, when the epoch is short of its most groups and was begun by a
        group of a talker and signal ID that the epoch ``before`` it had (no frame of another
        kind came between them, so only their talkers and signal IDs told the epochs apart):
        its groups joined by those of ``before`` of the talkers and signal IDs it is short
        of, when they make its most and the epoch lost no GSV sentence; else None, the
        readings then those :meth:`_due` gives. A receiver sends its groups in the same
        order every epoch, and the frame of another kind comes after its last group: the
        groups of ``before`` it is short of are its own, which came first (a ZED-F9P whose
        port opened after an epoch's L1 group, the GGA after that epoch lost unseen: the next
        epoch's L1 group follows the L2 group read first, and that epoch's L2 group, a signal
        the epoch had, begins another)."""
        most = self._most.get(constellation, 1)
        if len(groups) >= most:
            return None
        if self._lost_in(constellation):
            return None
        keys = {key for key, _, _ in groups}
        joined = [group for group in before if group[0] not in keys] + groups
        if len(joined) < most:
            return None
        return self._merged(constellation, joined)

    def _lose(self, talkers: tuple[str, ...]) -> None:
        """A GSV sentence of one of ``talkers`` (:data:`_ANY`: of any) was lost in the epoch
        under way (counted): see :attr:`epoch` and ``_losses``."""
        epoch = self.epoch
        at = epoch[_LOST] = epoch.get(_LOST, 0) + 1
        losses = self._losses
        for talker in talkers:
            losses[talker] = at

    def _suspects(self, talker: str) -> tuple[str, ...]:
        """The talkers whose GSV sentence, rejected (its checksum failed, or a field is
        damaged), reads ``talker`` in its address: ``talker`` itself, and each talker begun
        whose ID is one bit away from it (``GQ`` from ``GP`` and ``GA``, ``GN`` from ``GL``):
        a bit flipped on the line may be in the address as in any other byte, and gpsd's
        packet lexer (``packet.c``: "bad checksum in NMEA packet") discards such a sentence
        as a ``BAD_PACKET``, its address with its other fields. A talker
        ID that no GSV sentence has carried is a talker's all the same when it is one that
        sends GSV (:data:`_GSV_TALKERS`: the stream's first group of the talker may be the
        one damaged, a PX1172RH's ``$GBGSV,3,1`` failing its checksum), else that of an
        unknown talker (:data:`_ANY`)."""
        if talker not in self._begun and talker not in _GSV_TALKERS:
            return _ANY
        code = talker.encode("ascii", "replace")
        suspects = [talker]
        for other in self._begun:
            theirs = other.encode("ascii", "replace")
            if len(theirs) == len(code) and other != talker:
                flipped = sum(bin(a ^ b).count("1") for a, b in zip(code, theirs, strict=True))
                if flipped == 1:
                    suspects.append(other)
        return tuple(suspects)

    def _carry(self, talker: str, group: list[_Satellite]) -> None:
        """A whole group of ``talker``, of no constellation of its own, listed the satellites
        ``group``: see :attr:`_carried`."""
        carried = self._carried.get(talker)
        if carried is None:
            if len(self._carried) >= _PENDING_GROUPS:
                self._carried.clear()  # of damaged talkers, without checksum
            gps = _TALKER_CONSTELLATION.get(talker)
            carried = self._carried[talker] = set() if gps is None else {gps}
        carried.update([c for c, _ in group])

    def _may_give(self, talker: str, constellation: str) -> bool:
        """Whether a group of ``talker`` ("": unknown) may list satellites of
        ``constellation``: a talker of its own constellation (:data:`_OWN_TALKERS`) lists
        that one's alone. A talker that names none, or ``GP`` (SBAS and QZSS ride on GPS's
        numbering, every constellation on a u-blox receiver whose main talker is ``GP``),
        lists those its whole groups have listed on this receiver (:attr:`_carried`): a Quectel
        EG25-G's ``$PQGSV`` BeiDou alone, never GPS, whose satellites are its ``$GPGSV``'s
        (gpsd's capture test/daemon/quectel-eg25-g.log), a SkyTraq's ``$GPGSV`` GPS, SBAS and
        QZSS (skytraq-dgps.log), never BeiDou, whose are its ``$BDGSV``'s. Before a whole
        group of it has been read, it lists any but those whose own talker has begun
        groups (their satellites are that talker's: a ZED-F9R's GLONASS ones under ``GL``,
        never under ``GP``)."""
        if not talker:
            return True
        own = _OWN_TALKERS.get(talker)
        if own is not None:
            return own == constellation
        carried = self._carried.get(talker)
        if carried is not None:
            return constellation in carried
        talkers = _CONSTELLATION_TALKERS.get(constellation)
        begun = self._begun
        return talkers is None or not any(t in begun for t in talkers)

    def _lost_in(self, constellation: str) -> bool:
        """Whether the epoch under way of ``constellation`` lost a GSV sentence that may be
        of its groups: one of a talker that may list its satellites (:meth:`_may_give`), or
        of an unknown talker, after the value of :data:`_LOST` its epoch began at (see
        :attr:`epoch`). A sentence of another constellation's talker lost costs it nothing:
        its groups are whole."""
        losses = self._losses
        if not losses:
            return False
        since = self.epoch[constellation]
        return any(
            at > since and self._may_give(talker, constellation) for talker, at in losses.items()
        )

    def _lost_group(self, key: _Key, uncounted: int) -> None:
        """The group of ``key`` lost a sentence, counted but for ``uncounted`` losses: see
        ``_lost_keys``."""
        lost_keys = self._lost_keys
        if len(lost_keys) >= _PENDING_GROUPS and key not in lost_keys:
            lost_keys.clear()  # of damaged talkers, without checksum: the oldest are stale
        lost_keys[key] = self.epoch.get(_LOST, 0) + uncounted

    def _lose_unknown(self) -> None:
        """A GSV sentence of an unknown talker was lost (counted): see ``_lost``."""
        self._mark("")
        self._anonymous = set(self._begun)

    def _mark(self, talker: str) -> None:
        """A GSV sentence of ``talker`` ("": unknown) was lost, counted: see ``_lost``."""
        self._lost[talker] = self._lost.get(talker, 0) + 1

    def _unmark(self, talker: str) -> None:
        """A sentence of ``talker`` ("": any) showed one of its losses counted: see
        ``_lost``."""
        left = self._lost[talker] - 1
        if left:
            self._lost[talker] = left
        else:
            del self._lost[talker]

    def _continued(
        self, key: _Key, sizes: tuple[int, int], number_: int, fields: list[str], ends: int
    ) -> tuple[_Key, _Pending] | None:
        """The group of ``key``'s talker without signal ID that waits for sentence ``number_``
        of ``total`` (the first of ``sizes``, the sentence's total and in-view fields), or for
        a sentence before it, taken out of the pending groups with its key, when ``key`` has a
        signal ID that began none of the talker's groups (:attr:`_opening`); else the group of
        the talker with another signal ID that waits for this very sentence (see
        :meth:`_signalled`); else None. A receiver may change the signal ID within one
        group: a Quectel LC79D (L1 and L5) sends ``$GPGSV,3,1,10`` and ``3,2,10`` without
        signal ID, then ``3,3,10`` with the L5 entries of three satellites and signal ID 8
        (gpsd's capture test/daemon/quectelLC79D.log), one group of 10 by its numbering.
        Waiting for a sentence before ``number_``, the group lost the sentences between (the
        LC79D's ``3,3`` after its ``3,1``): it is the sentence's own, which is out of it, and
        does not wait on to be cut by the next group's sentence 1 and counted again.

        Groups of two signal IDs are never joined but by :meth:`_signalled`, for a signal ID
        that has begun no group of the talker: a receiver that sends a group per signal
        (a u-blox ZED-F9P's GPS L1 and L2 groups, of three sentences each) begins each with
        its signal ID, and the next sentence of a group whose sentence 1 was lost unseen is
        out of its group, not the continuation of another signal's group that waits for the
        same number (its first sentence's satellites and SNRs read with the other signal's).
        Nor is a group with a signal ID continued by a sentence without one: the ZED-F9P's
        BeiDou B2I groups carry an empty signal ID, after its B1I groups (signal ID 1).

        But a signal ID whose sentence has continued a group without signal ID, at the
        sentence that group waited for or past a lost one (:attr:`_continuing`: the LC79D's
        ``3,3`` after its ``3,2`` failed its checksum), goes on continuing such groups
        once groups of its own have begun: a receiver may send a group that changes its
        signal ID within it and then a group that begins with that signal ID (an LC79D-style
        ``$GPGSV,3,3,10,...,8`` then an L5-only ``$GPGSV,1,1,03,...,8``), and the next
        epoch's ``3,3`` of signal 8 continues its group as the first one did, no loss. A
        stream that begins with such a group of its own, before any continuation has taught
        the signal ID, has the sentence (of ``fields``, its satellites' up to ``ends``)
        continue the group all the same when it is the very sentence the group waits for and
        lists only satellites the group has listed already (the LC79D's L5 entries of 06, 09
        and 30, listed on L1 in its ``3,1`` and ``3,2``): a group lists each of its
        satellites once a signal, and a ZED-F9P's B1I ``3,2`` lists other satellites than
        the B2I ``3,1`` before it. Past a lost sentence (whose satellites are unknown) such a
        sentence continues the group when the group began right after a group of the
        sentence's signal ID, teaching the talker's groups without one (the port opened at
        the LC79D's L5 group, the next ``3,2`` lost): the LC79D's ``3,3`` follows that group
        within its epoch, while a ZED-F9P's B1I sentence finds its B2I group that taught
        waiting only when that group lost its end and the next epoch's B1I sentence 1 was
        lost too."""
        talker, signal = key
        if not signal:
            return None
        total = sizes[0]
        unsignalled = (talker, "")
        waiting = self._pending.get(unsignalled)
        if waiting is None:
            return self._signalled(key, sizes, number_, _listed(fields, ends))
        if waiting[0] != total or waiting[1] > number_:
            return None
        if key in self._opening and key not in self._continuing:
            before = waiting[3]
            if waiting[1] != number_:
                if waiting[4] != signal:  # past a gap: only the group that taught the signal
                    return None
            elif before is None:
                return None
            else:
                listed = _listed(fields, ends)
                if not listed or not listed <= {text.lstrip("0") for text in before}:
                    return None
        if key not in self._continuing:
            if len(self._continuing) >= _PENDING_GROUPS:
                self._continuing.clear()  # of damaged talkers, without checksum
            self._continuing.add(key)
        return unsignalled, self._pending.pop(unsignalled)

    def _signalled(
        self, key: _Key, sizes: tuple[int, int], number_: int, listed: set[str]
    ) -> tuple[_Key, _Pending] | None:
        """The group of ``key``'s talker with another signal ID that waits for this very
        sentence, number ``number_`` of the total and in-view fields ``sizes``, taken out of
        the pending groups with its key, when ``key``'s signal ID began none of the talker's
        groups (:attr:`_opening`) or has continued one before (:attr:`_continuing`); else
        None; the sentence lists satellites (``listed``), each one the group has listed. A
        Quectel LC79D may carry a signal ID on every sentence of a group and change
        it within the group: ``$GPGSV,4,1,12`` to ``4,3,12`` with signal ID 1 (L1 C/A), then
        ``4,4,12`` with the L5 entries of three of their satellites and signal ID 8, and
        ``$GAGSV,2,1,04`` with signal ID 6 then ``2,2,04`` with signal ID 1 (gpsd's capture
        test/daemon/quectelLC79D-1.log, submitted 2020-11-30, gpsd 3.22), one group by its
        numbering, as gpsd reads it. It continues one that waits for a sentence before its
        own too: the sentences between were lost (the LC79D's ``4,4`` of signal 8 after its
        ``4,3`` failed its checksum, in its first group as in a later one), and the group, out
        of it, does not wait on to be cut by the next group's sentence 1 and counted again. A
        signal ID that has begun a group of its own (a ZED-F9P's L2 groups)
        continues none: its sentence after a lost sentence 1 is out of its group, not the next
        of an L1 group that waits for the same number. Nor does the first sentence of a signal
        ID that lists a satellite the group has not listed: the LC79D's sentence of another
        signal ID lists the L5 (or E1) entries of satellites its group listed on L1 (or E5a),
        where a ZED-F9P's L2 ``$GPGSV,3,2,12`` after a burst lost its L1 group's ``3,2`` and
        ``3,3`` and its L2 group's ``3,1`` (before the L2 signal began a group) lists the next
        of the same 12 satellites, which the L1 group waits to list: it is out of its group,
        and the loss is counted."""
        talker, signal = key
        taught = key in self._continuing
        if (key in self._opening and not taught) or not listed:
            return None
        for waited, waiting in self._pending.items():
            if (
                waited[0] == talker
                and waited[1]
                and waited[1] != signal
                and waiting[1] <= number_
                and (waiting[0], waiting[5]) == sizes
                and listed <= self._listed.get(waited, listed)
            ):
                break
        else:
            return None
        if key not in self._continuing:
            if len(self._continuing) >= _PENDING_GROUPS:
                self._continuing.clear()  # of damaged talkers, without checksum
            self._continuing.add(key)
        return waited, self._pending.pop(waited)

    def _taught_lost(self, own: str | None, seen: list[_Satellite]) -> None:
        """A group that taught its talker's several signal IDs (within it, or as the first of
        another signal ID) lost a sentence: it gives nothing, but its constellations (of talker
        constellation ``own``, by its last sentence's satellites ``seen``) have two groups an
        epoch at least, as its reading whole would have taught (:meth:`_epoch_readings`). The
        group of another signal ID after it in its epoch (an LC79D-style group's L5 group of
        its own) is the epoch's first whole one, which gives no reading of its signal's
        satellites alone, and the epoch that lost a sentence gives none at its end."""
        for constellation in _kinds(own, seen):
            if constellation is not None and constellation in self._channels:
                self._most.setdefault(constellation, 2)

    def _hold(
        self, key: _Key, own: str | None, seen: list[_Satellite], numbers: list[str], in_view: int
    ) -> None:
        """Hold the first group of talker ``key[0]`` (its key, talker constellation ``own``,
        satellites ``seen``, their number fields ``numbers`` and in-view field): its readings
        as a group of one signal gives them are due at the talker's next sentence 1 of the
        same signal ID, or at the epoch's end (:meth:`close`), and a group of another signal ID
        of the talker in the epoch (:meth:`_epoch_readings`) takes it into its epoch's groups
        instead, whose reading is then due at the epoch's end, over them all. The talker's
        first epoch cannot tell at its first group whether the groups of other signals follow
        (a ZED-F9P's GPS L2 group after its L1 group; a Teseo LIV4F's L5 groups after every
        constellation's L1 group, other talkers' between), and a reading of the first group
        alone would be of one signal's satellites and SNRs."""
        talker = key[0]
        del self._first[talker]
        alone = self._readings(own, seen, in_view)
        by_constellation: dict[str, list[tuple[str, float]]] = {}
        for constellation in _kinds(own, seen):
            wanted = None if constellation is None else self._channels.get(constellation)
            if wanted is not None:
                assert constellation is not None
                mine = {channel for _, channel in wanted}
                by_constellation[constellation] = [r for r in alone if r[0] in mine]
        self._held[talker] = (key, seen, numbers, by_constellation)
        self.epoch[_HELD] = 0

    def _readings(
        self,
        own: str | None,
        seen: list[_Satellite],
        in_view: int,
        merged: tuple[_Key, list[str] | None, str | None] | None = None,
    ) -> list[tuple[str, float]]:
        """The readings of a whole group of talker constellation ``own`` (None: none): its
        satellites ``seen`` (each of ``own`` unless the talker is ``GP`` or names none) and its
        in-view field; for a group ``merged`` with its epoch's others, its talker and signal
        ID, its satellites' number fields, and the signal ID of its talker's groups before it
        when it is the first of another (see :meth:`_epoch_readings`), its epoch's; for one
        that taught its talker's several signal IDs within it (its number fields None), none,
        its epoch's first group all the same (see the class)."""
        kinds = _kinds(own, seen)
        readings: list[tuple[str, float]] = []
        for constellation in kinds:
            wanted = None if constellation is None else self._channels.get(constellation)
            if wanted is None:
                continue
            if merged is not None:
                assert constellation is not None  # the channels name constellations only
                key, numbers, taught = merged
                if numbers is None:  # the group that taught them: a place in its epoch only
                    readings += self._epoch_readings(constellation, (key, [], []), None, True)
                else:
                    readings += self._epoch_readings(constellation, (key, seen, numbers), taught)
                continue
            mine = [snr for c, snr in seen if c == constellation]
            snrs = [snr for snr in mine if snr is not None]
            stats = {"in_view": float(in_view if len(kinds) == 1 else len(mine))}
            if snrs:
                stats["snr_mean"] = sum(snrs) / len(snrs)
                stats["snr_max"] = max(snrs)
            readings += [(ch, stats[stat]) for stat, ch in wanted if stat in stats]
        return readings

    def _epoch_readings(
        self, constellation: str, group: _Group, taught: str | None, withheld: bool = False
    ) -> list[tuple[str, float]]:
        """The readings of ``constellation`` that its ``group`` gives to its epoch: those of
        the epoch at its ``n``-th group (see the class), but for a group ``withheld``, which
        taught its talker's several signal IDs within it (its satellites not given, and not
        known by number), and takes its place in its epoch only. A group that is the first of its
        talker's of another signal ID than ``taught`` is the epoch's second: its first one
        gave the readings. It is the epoch's first when the group of ``taught`` comes after
        it in its epoch, its talker's groups before it having come before the stream's first
        frame of another kind and it after (:data:`_GIVEN` marks the group before it then);
        else the group of ``taught`` that comes next begins the next epoch."""
        epoch = self.epoch
        key = group[0]
        if taught is not None and constellation not in self._most:
            self._most[constellation] = 2
            held = self._held.get(key[0])
            if held is not None and held[3].pop(constellation, None) is not None:
                # the talker's first group, held: the epoch's reading is due at its end
                self._groups[constellation] = [(held[0], held[1], held[2]), group]
                self._read_at_end.add(constellation)
            else:
                before = _GIVEN if key[0] in self._begun_unframed else []
                self._groups[constellation] = [((key[0], taught), before, []), group]
            epoch[constellation] = epoch.get(_LOST, 0)  # its most groups
            return []
        readings: list[tuple[str, float]] = []
        groups = self._groups.get(constellation)
        if constellation not in epoch or groups is None:
            epoch[constellation] = 0
            groups = self._groups[constellation] = []
        elif groups[0][1] is _GIVEN and groups[0][0] == key:
            del groups[0]  # the teaching group was the epoch's first: see the class
        elif self._lost_keys.get(key, 0) > epoch[constellation] or any(
            k == key for k, _, _ in groups
        ):
            # no frame of another kind: the next epoch
            short = len(groups) < self._most.get(constellation, 1)
            if self._waits(key):
                # a group of its talker begun in the epoch waits: it lost its end, and the
                # epoch's groups are short of its satellites (as at close)
                self._read_at_end.discard(constellation)
            else:
                readings = self._due(constellation, groups)
            if short:  # the sentences lost may be of its group left out: the epoch's only
                epoch[constellation] = epoch.get(_LOST, 0)
            if _UNFRAMED in epoch:
                self._unframed_epochs[constellation] = groups
            groups = self._groups[constellation] = []
        groups.append(group)
        most = self._most.get(constellation, 1)
        if len(groups) >= most:  # whole: a sentence lost from here on may be the next epoch's
            epoch[constellation] = epoch.get(_LOST, 0)
            if len(groups) == most:
                if not withheld and not self._waits(key):
                    readings += self._merged(constellation, groups)
            else:
                self._most[constellation] = len(groups)
        return readings

    def _waits(self, key: _Key) -> bool:
        """Whether a group of ``key``'s talker with another signal ID waits for a sentence
        while the group of ``key`` ends, begun in the epoch (not one of :attr:`_unended`): a
        receiver sends a talker's groups one after the other, so that group lost its next
        sentence in the epoch (unseen so far, counted when the next group of its key cuts
        it). Never in a stream of GSV alone, whose epochs no frame tells apart. An LC79D
        whose port opened at its L5 group, which the next epoch's ``3,3`` of signal 8 did not
        reach: its ``3,1``/``3,2`` group waits at the L5 group, whose reading alone would be
        of 3 satellites of 7."""
        if _UNFRAMED in self.epoch:  # no frame of another kind has told the epochs apart
            return False
        talker = key[0]
        unended = self._unended
        return any(
            other[0] == talker and other != key and not any(group is u for u in unended)
            for other, group in self._pending.items()
        )

    def _unended_group(self, pending: _Pending) -> bool:
        """Whether ``pending`` is one of :attr:`_unended`: a group of an epoch before, a frame
        of another kind since, whose lost end is that epoch's (the group of its key that cuts
        it is the epoch's own, not the next epoch's)."""
        unended = self._unended
        return bool(unended) and any(pending is u for u in unended)

    def _merged(self, constellation: str, groups: list[_Group]) -> list[tuple[str, float]]:
        """The readings of ``constellation`` over its ``groups`` of an epoch: its distinct
        satellite numbers, each with its best SNR."""
        best: dict[str, float | None] = {}
        for _, seen, numbers in groups:
            for (c, snr), text in zip(seen, numbers, strict=True):
                if c != constellation:
                    continue
                satellite = text.lstrip("0")
                before = best.get(satellite)
                if before is None or (snr is not None and snr > before):
                    best[satellite] = snr
        snrs = [snr for snr in best.values() if snr is not None]
        stats = {"in_view": float(len(best))}
        if snrs:
            stats["snr_mean"] = sum(snrs) / len(snrs)
            stats["snr_max"] = max(snrs)
        return [(ch, stats[stat]) for stat, ch in self._channels[constellation] if stat in stats]

    def _due(self, constellation: str, groups: list[_Group]) -> list[tuple[str, float]]:
        """The readings of ``constellation`` due at the end of its epoch of ``groups``: merged,
        when the epoch had fewer groups of it than its most and lost no GSV sentence. The
        :data:`_SHORT_EPOCHS`-th such epoch in a row makes the most groups one of them had
        the constellation's most (:func:`_short_of_most`); an epoch that lost a sentence tells
        nothing, but one with its most groups, which lost none after them, ends the row."""
        if self._read_at_end and constellation in self._read_at_end:
            self._read_at_end.discard(constellation)
            if self._lost_in(constellation):
                return []
            return self._merged(constellation, groups)
        if self._lost_in(constellation) or not _short_of_most(
            self._most, self._short, constellation, len(groups)
        ):
            return []
        return self._merged(constellation, groups)

    def close(self) -> list[tuple[str, float]]:
        """Ends the epoch under way (the decoder calls it at a frame of another kind than GSV
        while :attr:`epoch` is not empty): the readings of the constellations it had fewer
        groups of than their most (see the class)."""
        readings: list[tuple[str, float]] = []
        before = self._unframed_epochs if _UNFRAMED in self.epoch else None
        # the talkers with a group begun in the epoch that waits for a sentence: it lost its
        # end, and their constellations' groups are short of its satellites (see _waits)
        waiting = (
            {key[0] for key, group in self._pending.items() if not self._unended_group(group)}
            if self._pending and before is None
            else None
        )
        for constellation, groups in self._groups.items():
            if constellation not in self.epoch:
                continue
            if waiting and any(key[0] in waiting for key, _, _ in groups):
                continue
            joined = None
            if before and constellation in before:
                joined = self._joined(constellation, groups, before[constellation])
            readings += self._due(constellation, groups) if joined is None else joined
        # a group under way, or a sentence rejected that no sentence of its talker has shown
        # since (it may have begun a group): the frame may have cut the epoch, before the
        # groups of other signals that a receiver may send after other talkers' (a Teseo
        # LIV4F's L5 groups after every constellation's L1 group, its BeiDou group cut by
        # its start-up lines)
        cut = bool(self._pending) or bool(self._lost)
        losses = self._losses
        for talker, (_, _, _, held) in self._held.items():
            # of one signal ID so far, or the group of another not ended: a short epoch's
            readings += [r for rs in held.values() for r in rs]
            lost = bool(losses) and (talker in losses or "" in losses)
            if (cut or lost) and len(self._undecided) < _PENDING_GROUPS:
                self._undecided.add(talker)  # the groups of other signals may have been lost
        if self._first and len(self._undecided) < _PENDING_GROUPS:
            self._undecided.update(self._first)  # a first group under way: the same
        self._held.clear()
        self._read_at_end.clear()
        if self._pending or self._unended:
            self._unended = list(self._pending.values())
        if _UNFRAMED in self.epoch:  # the stream's first frame of another kind
            self._framed()
        self.epoch.clear()
        self._losses.clear()
        self._lost_keys.clear()
        return readings


#: The GSA sentences one run holds at most (see :class:`UsedSatellites`): more than a receiver
#: sends in an epoch (seven constellations of up to four signals each). A longer run is cut,
#: so that a stream of nothing but GSA holds no more than these sentences' satellites.
_RUN_SENTENCES = 32
#: The most GSA sentences of one constellation an epoch has: a receiver of three signals that
#: uses up to 48 satellites of the constellation on each, twelve a sentence (a BeiDou receiver
#: in Asia sends three sentences a signal). A run with more is no epoch's (a stream of GSA
#: alone after some other frame) and is cut, its sentences read alone from then on.
_SIGNALS_PER_RUN = 12
#: Where GSA's mode field is (1 no fix, 2 2D, 3 3D), where its satellite number fields
#: start, and its system ID field (the address is 0).
_GSA_MODE_AT = 2
_GSA_IDS_AT = 3
_GSA_SYSTEM_AT = 18


class UsedSatellites:
    """GSA's ``used_<constellation>``: the satellites the receiver lists as used in its fix,
    for each constellation, over the GSA sentences of one epoch.

    A receiver that tracks several signals of a constellation may send one GSA per signal, each
    with its own satellites: an ST Teseo LIV4F sends, for GPS L1 and then L5,
    ``$GNGSA,A,3,27,08,07,15,,,,,,,,,2.0,1.4,1.4,1`` and
    ``$GNGSA,A,3,27,08,,,,,,,,,,,2.0,1.4,1.4,1`` (gpsd's capture
    test/daemon/st-teseo-liv4f.log), and GSA (NMEA 4.11) carries a system ID but no signal ID.
    Quectel's EG25-G and LC79D send a ``$GPGSA`` and a ``$GNGSA`` with the same GPS
    satellites. The fix uses them all: the count is of the distinct satellite numbers the
    constellation's sentences of the epoch list (4 above, as gpsd reports it), and the
    constellation's channels get one reading per epoch.

    An epoch's GSA sentences follow each other: a run is the GSA sentences between two frames
    of another kind (any frame the decoder is given and does not read as a GSA: another
    sentence, a proprietary one, a line it rejects; not a sentence rejected before it was read
    as a GSA, unless its address names another type, see :meth:`wrap`). In a run the
    sentences of a constellation are merged, and its reading is given

    * at its sentence number ``n``, ``n`` being the most sentences of the constellation one run
      that lost nothing on the line has had so far (1 until such a run has had more; lowered
      by runs short of it, below; a run that may have lost a GSA raises it only with the run
      before it, which may have lost one too, see :meth:`_close`): a receiver that sends one
      GSA per constellation gets each sentence's count at that sentence, as it comes; one
      that sends two gets the union at the second;
    * else when the run ends, with the readings of the frame after it, when the run had fewer
      sentences of the constellation than ``n`` (a receiver that left one out), but not when
      the run may have lost a GSA to damage on the line (the lost one may be of the
      constellation's sentences, their union short of satellites: its last reading ages; see
      :meth:`_close`). :data:`_SHORT_EPOCHS` runs in a row with fewer that lost none (a band
      the receiver no longer sends; a damaged or cut run neither counts in the row nor ends
      it) make the most sentences one of them had ``n``: the readings come at their sentence
      again, not at the frame after the run, and a GSA lost after that sentence costs them
      nothing; the first run in which the band is back gives the reading at its sentence
      ``n``, without the sentences after it (the band's, when the receiver sends it last, as
      the Teseo its L5), and raises ``n`` when it lost nothing (else the first run with the
      band that lost nothing does).

    A sentence that names no constellation (talker ``GN`` or Quectel's ``PQ`` without system
    ID: NMEA 4.0 and earlier) and lists no satellite tells no constellation by itself: it is
    one whose list is empty of a receiver that sends one such sentence per constellation (a
    SiRF III's ``$GNGSA``, GPS's then GLONASS's). A run that lost nothing and holds one gives,
    when it ends, 0 for each constellation that such sentences of earlier runs listed
    satellites of and that no sentence of the run lists: the fix uses none of them (after a
    fix loss, every such sentence empty, 0 for all of them at once, as gpsd's ``uSat``).
    Likewise a run that lost nothing whose every sentence reports no fix (mode 1, or an empty
    mode field) and lists no satellite gives 0, when it ends, for each constellation with
    channels that none of its own sentences names: without a fix no satellite is used, and a
    receiver may send a GSA of one talker only once the fix is lost (a CH-4711: ``$GNGSA`` for
    GPS and GLONASS, then ``$GPGSA,A,1`` alone; gpsd's capture test/daemon/ch-4711.log), or
    none that names a constellation before its first fix (a ``$GNGSA,A,1`` without system
    ID): gpsd's ``uSat`` is 0 from the first epoch on, whichever constellations the receiver
    has not named yet. A run in which a sentence reports a fix or lists a satellite
    gives no 0 that way: the fix may use the constellations the run does not name.

    A sentence past the ``n``-th is merged into the run but gives no second reading (the first
    epoch of a receiver of several signals: its reading is of the first sentence). So no
    reading waits for a later epoch, and the last epoch of a stream gives its readings but
    when it has fewer sentences than ``n``.

    A run that follows no frame of another kind (a GSA is the stream's first frame, or the
    run before was cut at :data:`_RUN_SENTENCES`, teaching no number of sentences) reads each
    sentence on its own: in a stream of nothing but GSA (a simulated receiver whose channels
    read only GSA) nothing marks an epoch's end. A run is cut the same way, and its sentences
    read alone from then on, at a sentence of a constellation it has had
    :data:`_SIGNALS_PER_RUN` of already: a stream of GSA alone that some other frame
    preceded (a receiver told to send GSA alone, after its start-up text) loses the readings
    of at most eleven epochs, once. Fix mode, DOPs and
    ``satellites_used`` are read from each sentence, never merged."""

    __slots__ = (
        "_anonymous",
        "_channels",
        "_damaged_before",
        "_empty",
        "_fixless",
        "_last",
        "_lost",
        "_merging",
        "_most",
        "_run",
        "_sentences",
        "_short",
        "_start",
        "frame",
    )

    def __init__(self, channels: dict[str, list[str]]) -> None:
        #: constellation -> its channels
        self._channels = channels
        #: The frames the decoder has been given (see :meth:`wrap`).
        self.frame = 0
        #: The number of the frame last read as a GSA.
        self._last = -1
        #: constellation -> the run's sentences of it, and their satellite number fields: as
        #: the first sentence lists them, then a set of the numbers without leading zeros
        self._run: dict[str, tuple[int, list[str] | set[str]]] = {}
        #: The GSA sentences in the run.
        self._sentences = 0
        #: Whether the run follows a frame of another kind (else each sentence is its own).
        self._merging = False
        #: constellation -> the most sentences of it one run that lost nothing has had, or two
        #: in a row that may have lost a GSA both had (absent: 1), or, after
        #: :data:`_SHORT_EPOCHS` runs in a row short of it, the most of those
        self._most: dict[str, int] = {}
        #: constellation -> the runs in a row short of its most sentences, and the most
        #: sentences of it one of them had (see :meth:`_close`)
        self._short: dict[str, tuple[int, int]] = {}
        #: The number of the frame after which the last sentence damaged on the line came
        #: (see :meth:`wrap`), and of the first frame of the run under way: the damaged
        #: sentence may be one of the run's GSA sentences when it came after the frame before
        #: the run and no later than after the run's last GSA.
        self._lost = -2
        self._start = 0
        #: constellation -> the sentences of it the run before had, when that run may have
        #: lost a GSA (else empty; see :meth:`_close`)
        self._damaged_before: dict[str, int] = {}
        #: The constellations with channels that sentences naming no constellation (see
        #: :func:`_names_no_constellation`) have listed satellites of.
        self._anonymous: set[str] = set()
        #: Whether the run holds a sentence naming no constellation that lists no satellite.
        self._empty = False
        #: The sentences of the run that report no fix and list no satellite.
        self._fixless = 0

    def feed(self, fields: list[str]) -> list[tuple[str, float]]:
        """The readings of a GSA sentence (in the standard's layout, see
        :func:`~sensord.formats.nmea_layouts.gsa_of_twelve`): those of the run it ends first, when
        it starts a run."""
        readings: list[tuple[str, float]] = []
        follows = self._last == self.frame - 1
        if not follows or self._sentences >= _RUN_SENTENCES:
            if self._run or self._empty or self._fixless:  # ended by a frame that raised, or cut
                readings = self._close(learn=not follows)
            self._merging = not follows and self.frame > 1
            self._sentences = 0
            self._start = self.frame
        self._last = self.frame
        self._sentences += 1
        listed = _used_by_constellation(fields, _GSA_IDS_AT, _GSA_SYSTEM_AT)
        if self._merging and any(
            self._run.get(c, (0,))[0] >= _SIGNALS_PER_RUN for c in listed if c in self._run
        ):
            # more sentences of one constellation than an epoch has: a stream of GSA alone
            # after some other frame; each sentence is read alone from here on
            readings += self._close(learn=False)
            self._merging = False
            self._sentences = 1
            self._start = self.frame
        if self._merging:
            named = [c for c in listed if c in self._channels]
            none = not any(t.lstrip("0") for t in _satellite_fields(fields))
            if _names_no_constellation(fields):
                if listed:
                    self._anonymous.update(named)
                elif none:
                    self._empty = True
            if none and field(fields, _GSA_MODE_AT) in ("", "1"):
                self._fixless += 1
        for constellation, ids in listed.items():
            channels = self._channels.get(constellation)
            if channels is None:
                continue
            satellites: list[str] | set[str] = ids
            sentences = 1
            if self._merging:
                entry = self._run.get(constellation)
                if entry is not None:
                    sentences, before = entry[0] + 1, entry[1]
                    merged = before if isinstance(before, set) else {t.lstrip("0") for t in before}
                    merged.update(text.lstrip("0") for text in ids)
                    satellites = merged
                self._run[constellation] = (sentences, satellites)
                if sentences != self._most.get(constellation, 1):
                    continue
            count = float(len(satellites))
            readings += [(channel, count) for channel in channels]
        return readings

    def _close(self, learn: bool = True) -> list[tuple[str, float]]:
        """Ends the run: the readings of the constellations it had fewer sentences of than
        their most, which are still due, but in a run that may have lost a GSA to damage on
        the line (a sentence that failed within or right after it, see :meth:`wrap`): the
        lost sentence may be one of theirs, and the union without it short of satellites the
        fix used (a Teseo's GPS L1 sentence lost, its L5 sentence listing half of them). Those
        constellations get no reading that epoch; their last reading ages.

        A run that lost nothing with more sentences of a constellation than its most makes
        them its most (a band back, a receiver's first run of several signals). A damaged run
        teaches nothing on its own, whatever it has: it may be two epochs' runs, joined by the
        frame of another kind between them lost with its address damaged (it may have been a
        GSA: it ends no run), twice an epoch's sentences, which would hold every epoch's
        reading after it to its run's end; a band back in a damaged run raises the most at the
        first run with it that lost nothing. Two damaged runs in a row raise it to the
        sentences both had: a sentence lost in every epoch (damage at the same place each
        second) leaves no run whole, and a most never learnt would give every epoch's reading
        at its first sentence, short of the others' satellites; two epochs joined twice in a
        row, each run as long, are far rarer, and only hold readings to the run's end. A run
        that lost nothing and had fewer counts toward the :data:`_SHORT_EPOCHS` runs in a row
        that make the most sentences one of them had the constellation's most, and one that
        had as many or more ends the row (:func:`_short_of_most`); a damaged run does neither,
        its count short by the lost sentence or two epochs'. A run that is cut (``learn``
        false) teaches no number of sentences, nor counts in a row."""
        readings: list[tuple[str, float]] = []
        most = self._most
        damaged = self._start - 1 <= self._lost <= self._last
        before, self._damaged_before = self._damaged_before, {}
        for constellation, (sentences, satellites) in self._run.items():
            if damaged:
                if learn:
                    self._damaged_before[constellation] = sentences
                    agreed = min(sentences, before.get(constellation, 0))
                    if agreed > most.get(constellation, 1):
                        most[constellation] = agreed
                continue
            if learn and sentences > most.get(constellation, 1):
                most[constellation] = sentences
            if learn:
                due = _short_of_most(most, self._short, constellation, sentences)
            else:
                due = sentences < most.get(constellation, 1)
            if due:
                count = float(len(satellites))
                readings += [(channel, count) for channel in self._channels[constellation]]
        fixless = 0 < self._fixless == self._sentences
        if (self._empty or fixless) and not damaged:
            for constellation, channels in self._channels.items():
                if constellation not in self._run and (fixless or constellation in self._anonymous):
                    readings += [(channel, 0.0) for channel in channels]
        self._empty = False
        self._fixless = 0
        self._run.clear()
        return readings

    def wrap(self, parse: Decoder, sentence_types: Container[str]) -> Decoder:
        """``parse``, counting the frames it is given and ending the run under way at the
        first frame that is no GSA (with that frame's readings: a frame that raises ends it at
        the next).

        A sentence rejected before it was read as a GSA is not counted, and so ends no run,
        unless its address is intact and of another sentence type (see
        :func:`_other_than_gsa`), whatever its reason: damage that dropped one of an epoch's
        GSA sentences, counted under its reason as ever (a ``checksum`` that fails, bytes lost
        from its end on, ``truncated``, a byte turned non-ASCII, ``encoding``, a checksum field
        or, without checksum, a field that does not parse, ``syntax``), leaves the epoch's
        other GSA sentences one run, whose ``used_<constellation>`` is their union, given once,
        unless the run is short of a constellation's sentences (see :meth:`_close`). A GSA
        whose checksum holds and that has a field the receiver wrote wrong is read (its
        satellites merged) before it raises, and is counted as read, but for a satellite
        number field that is no whole number (:func:`garbled_satellite_number`): it lists
        no satellites to merge, its fix mode and DOPs read, and the run has lost it as it
        would a damaged one. Only frames that raise take this path. ``sentence_types`` are
        the known sentence types (the decoder's :data:`~sensord.formats.nmea_fields.SENTENCES`)."""

        def parse_counting(frame: bytes) -> list[tuple[str, float]]:
            self.frame += 1
            try:
                readings = parse(frame)
            except ParseError:
                if self._last != self.frame and not _other_than_gsa(frame, sentence_types):
                    self.frame -= 1
                    self._lost = self.frame
                raise
            if (self._run or self._empty or self._fixless) and self._last != self.frame:
                return readings + self._close()
            return readings

        return parse_counting


def _satellite_fields(fields: list[str]) -> list[str]:
    """A GSA sentence's satellite number fields: its twelve, and those past its system ID."""
    return fields[_GSA_IDS_AT : _GSA_IDS_AT + 12] + fields[_GSA_SYSTEM_AT + 1 :]


def _names_no_constellation(fields: list[str]) -> bool:
    """Whether a GSA sentence names no constellation: no system ID (an empty field, or a DOP
    in its place, see :func:`_used_by_constellation`) and a talker of none (``GN``, ``PQ``)."""
    system = field(fields, _GSA_SYSTEM_AT)
    return (not system or "." in system) and fields[0][:2] not in _TALKER_CONSTELLATION


def _other_than_gsa(frame: bytes, sentence_types: Container[str]) -> bool:
    """Whether a sentence damaged on the line is of another type than GSA by its address:
    five letters and digits after the start character, then a comma, ending in a sentence
    type of ``sentence_types`` (the decoder's :data:`~sensord.formats.nmea_fields.SENTENCES`) other
    than ``GSA``. Damage elsewhere in the sentence leaves the address readable: a damaged GGA
    or RMC between two epochs' GSA sentences still ends the first epoch's run. A damaged
    address tells nothing, and ends no run; nor does one whose type names none (``GN6SA``: a
    GSA's letter changed)."""
    head = frame.lstrip()[1:7]
    if len(head) != 6 or head[5:] != b"," or not head[:5].isalnum() or head[2:5] == b"GSA":
        return False
    return head[2:5].decode("ascii") in sentence_types
