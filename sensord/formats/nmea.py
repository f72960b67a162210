"""``format = "nmea"``: NMEA 0183 sentences: the decoder, the configuration check and the codec.

The codec's other parts are modules of their own, which this one imports, never the other way
round: :mod:`sensord.formats.nmea_framer` cuts the sentences (and the binary frames between
them) out of the byte stream and holds the sentence
:func:`~sensord.formats.nmea_framer.checksum`; :mod:`sensord.formats.nmea_fields` holds the
sentence table, its slots and the field names a channel can use, each with what it reads;
:mod:`sensord.formats.nmea_layouts` what a receiver writes out of place;
:mod:`sensord.formats.nmea_validity` which sentences are read as measurements;
:mod:`sensord.formats.nmea_satellites` the satellite state that spans the sentences of an
epoch, the GSV groups and the GSA runs under way; :mod:`sensord.formats.nmea_encode` the
simulator's sentences. This module holds the rules of the checksums and of the sentences read
and ignored, which its decoder applies.

Sentences start with ``$`` or ``!``, any two-letter talker ID. The
checksum, when present (``*hh``, either case), is
verified for every sentence, also for sentence types no channel asks for, so that
``checksum`` errors show the state of the line;
sentences without one are accepted when they have every field of their type, and rejected as
``truncated`` when they have fewer (the end of a capture, a cut line), as are sentences cut
within their checksum (``*`` and at most one hex digit) and lines that end within a
sentence's address (``$GP``, or a start character alone). Once a sentence of an address
(talker and sentence type, ``GPGSV``) has come whose checksum holds, a sentence of that
address without ``*`` is one damaged on the line: ``truncated``, a line cut short that lost
its ``*hh`` with its end (cut within its last field, it has every field and a shortened
value), or, when it ends in two hex digits, the checksum of the bytes before the byte before
them or before them, one whose ``*`` was damaged or lost, a ``checksum`` error, whatever that
byte (see :func:`_star_damaged`). An address that carries no checksums, as an instrument's
merged by a marine multiplexer with a GNSS receiver that sends them, or a sentence type on
which NMEA 0183 1.5 makes them optional (a receiver's GGA, GSA or GSV, its RMC carrying
one), has its complete sentences read, but for its first one once another address has
carried checksums (ignored: it may be a checksummed address's first sentence cut short). In a
sentence whose checksum holds, a field the receiver wrote wrong (a date such as ``2208-1``
from a firmware bug, a number that is not finite) is counted under its reason (``syntax``,
``nonfinite``; once per sentence) and its channel gets no value, while the sentence's other
fields are read; without a checksum such a sentence is rejected whole, and so is a GSV
sentence (its group is read whole or not at all). A GSA or GSV satellite number field that
is no whole number (``1A``, ``+3``) is ``syntax`` whether the checksum holds or not: the
checksum proves only that the bytes arrived as sent, and the receiver sent no satellite
number there; a GSV is rejected whole, a GSA whose checksum holds has its fix mode and DOPs
read and no ``satellites_used`` or ``used_<constellation>``, its epoch's run having lost it.
A GSV's elevations and azimuths feed no channel: under a checksum that holds they are not
looked at, and in a GSV without checksum one that no receiver sends (no decimal number as
receivers write one, an elevation beyond 90 either way, an azimuth below 0 or past 360) is
damage on the line, the sentence rejected whole (``syntax``); an empty one, a negative
elevation, a fraction and an azimuth of 360 are a receiver's (see
:meth:`~sensord.formats.nmea_satellites.SatelliteGroups.feed`).
A sentence whose fields are out of place (a hemisphere field without a hemisphere letter, a
unit letter the standard fixes out of place) is rejected whole (``syntax``), its checksum
holding or not, but for the older and the receivers' own layouts read as such: see
:mod:`sensord.formats.nmea_layouts`. NMEA sentences are ASCII (``encoding``
otherwise). Sentences of a type no channel asks for, every proprietary ``$P...`` sentence (and
SkyTraq's ``$STI``, proprietary without its ``P``), addresses longer than five characters
(``$GYOACC``, ``$SNRSTAT``), AIS (``!AIVDM``) and sentences flagged invalid decode to ``[]``
(ignored frames).

A channel's ``field`` is ``<sentence type>.<name>`` or ``XDR.<name>``: the sentence types, their
fields and what each reads are described with their table, in :mod:`sensord.formats.nmea_fields`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import replace
from datetime import date
from functools import reduce
from operator import xor

from sensord.errors import OtherUnitError, ParseError
from sensord.formats.base import Codec, Decoder, DecoderCounts, FormatSpec
from sensord.formats.nmea_encode import encoder
from sensord.formats.nmea_fields import (
    EPOCH_ORDINAL,
    GSV_FIELDS,
    NMEA_FIELDS,
    SENTENCES,
    USED_FIELDS,
    Getter,
    Slot,
    Transducers,
)
from sensord.formats.nmea_framer import checksum, nmea_framer
from sensord.formats.nmea_layouts import (
    GSA_FIELDS,
    HEMISPHERES,
    UNITS_PLACED,
    gsa_of_twelve,
    in_older_layout,
    misplaced_unit,
    out_of_place,
    rmc_without_variation_letter,
)
from sensord.formats.nmea_satellites import (
    SatelliteGroups,
    UsedSatellites,
    garbled_satellite_number,
)
from sensord.formats.nmea_validity import (
    FIX_SENTENCES,
    SIMULATED_KEEPS,
    SIMULATOR_MODE,
    fix_readers_by_type,
    repeated_gga,
    validators,
)
from sensord.formats.text import check_common, decode_text
from sensord.names import closest

__all__ = ["ADDRESSES_KEPT", "CODEC"]


def _getter(
    field: str, wall_clock: Callable[[], float], units: tuple[str, ...] = (), channel: str = ""
) -> tuple[str, Getter] | None:
    """The sentence type of ``field`` and the getter that reads it from one sentence; None for
    unknown fields, for GSV's, which are read from whole groups, and for GSA's
    ``used_<constellation>``, read from runs of sentences
    (:class:`~sensord.formats.nmea_satellites.UsedSatellites`). ``units`` are the units of
    ``channel``, which reads ``field``: an XDR field's quadruple units it takes
    (:meth:`Transducers.getter_in`); none for the other fields (see :func:`check`)."""
    sentence, _, name = field.partition(".")
    layout = SENTENCES.get(sentence)
    if layout is None or not name or sentence == "GSV" or field in USED_FIELDS:
        return None
    gate: Callable[[list[str]], bool] | None = None
    found: tuple[Slot, int] | None = None
    for slot, index in layout.positions():
        gate = slot.gate_at(index) or gate
        if name in slot.all_names() or (isinstance(slot, Transducers) and _valid_xdr_name(name)):
            found = slot, index
    if found is None:
        return None
    slot, index = found
    get = (
        slot.getter_in(index, name, units, channel)
        if units and isinstance(slot, Transducers)
        else slot.getter(index, name)
    )
    if name == "clock_offset":
        return sentence, _minus_clock(get, wall_clock)
    if slot.gated and gate is not None:
        return sentence, _unless(gate, get)
    return sentence, get


#: GPS counts weeks in 10 bits: a receiver whose firmware predates a rollover (1999-08-22,
#: 2019-04-07) dates its fixes 1024 weeks early.
GPS_WEEK_ROLLOVER_S = 1024 * 7 * 86400.0
#: How far from a whole number of rollovers behind the host's clock a receiver's date may be
#: and still be read as a rollover: the host's clock may be off by this much (a board without
#: a battery-backed clock that has not reached a time server yet). Kept short, so that the
#: made-up date of a receiver that does not know the time yet is not taken for one.
_ROLLOVER_SLACK_S = 30 * 86400.0
#: The end of GPS week 0 (1980-01-13 00:00 UTC; GPS time starts 1980-01-06). A receiver that
#: does not know the time yet counts from a power-up default in that week: an MTK chipset
#: from 1980-01-05 23:59:4x (its RMC ``050180``), a SkyTraq Phoenix or a Sony CXD5603 from
#: 1980-01-06 00:00 (their ZDA ``06,01,1980``). No receiver dates a time it knows there.
_GPS_WEEK_ONE_S = (date(1980, 1, 13).toordinal() - EPOCH_ORDINAL) * 86400.0


def _minus_clock(get: Getter, wall_clock: Callable[[], float]) -> Getter:
    """The receiver's UTC that ``get`` reads minus the host's wall clock, read now: at the
    frame's arrival, give or take the reader's batch interval and the serial delay. A receiver
    with the GPS week-rollover bug, whose date is a whole number of 1024-week periods behind
    the host's (within ``_ROLLOVER_SLACK_S``), has those periods added back, as gpsd does:
    its time of day and the rest of its fix are right. A date in GPS week 0 that is no such
    rollover gives no offset: it is the power-up default of a receiver that does not know the
    time yet (:data:`_GPS_WEEK_ONE_S`), which a ZDA carries whether the receiver has a fix or
    not, also on a host whose clock is behind 1999: one without a battery-backed clock starts
    at the Unix epoch as its receiver starts at its default, and their offset of ten years
    measures neither clock. The other dates cost one comparison more."""

    def get_offset(fields: list[str]) -> float | None:
        utc = get(fields)
        if utc is None:
            return None
        offset = utc - wall_clock()
        if offset < _ROLLOVER_SLACK_S - GPS_WEEK_ROLLOVER_S:
            periods = round(-offset / GPS_WEEK_ROLLOVER_S)
            late = offset + periods * GPS_WEEK_ROLLOVER_S
            if -_ROLLOVER_SLACK_S <= late <= _ROLLOVER_SLACK_S:
                return late
            if utc < _GPS_WEEK_ONE_S:
                return None
        elif utc < _GPS_WEEK_ONE_S:  # on a host clock behind 1999, as one without RTC at 1970
            return None
        return offset

    return get_offset


def _unless(gate: Callable[[list[str]], bool], get: Getter) -> Getter:
    """``get``, except while ``gate`` holds (GGA: no values but fix quality and satellites
    without a fix)."""

    def get_gated(fields: list[str]) -> float | None:
        return None if gate(fields) else get(fields)

    return get_gated


def _valid_xdr_name(name: str) -> bool:
    return bool(name) and name.isascii() and not any(c in name for c in ",*$!\r\n")


#: Sentence type -> the fields after the address that every complete sentence of the type has.
_LEAST_FIELDS = {
    sentence: layout.least_fields
    if layout.least_fields is not None
    else sum(slot.width for slot in layout.slots)
    for sentence, layout in SENTENCES.items()
}


def check(spec: FormatSpec) -> list[tuple[str, str]]:
    # a channel's units are an XDR channel's own (_units_problems), no text's after a number
    problems = check_common(replace(spec, channel_units=()), reads_values=False)
    problems += _units_problems(spec)
    for i, (_, field) in enumerate(spec.fields):
        if (
            field not in GSV_FIELDS
            and field not in USED_FIELDS
            and _getter(field, time.time) is None
        ):
            # a bare field name that several sentences have (``satellites``): each of them
            bare = [f for f in NMEA_FIELDS if f.partition(".")[2] == field]
            near = closest(field, NMEA_FIELDS)
            close = bare or ([near] if near else [])
            hint = f"did you mean {' or '.join(repr(f) for f in close)}? " if close else ""
            sentence = field.partition(".")[0]
            same = [f for f in NMEA_FIELDS if f.startswith(f"{sentence}.")]
            known = ", ".join(same) if same else ", ".join((*NMEA_FIELDS, "XDR.<name>"))
            problems.append(
                (f"channels[{i}].field", f"unknown NMEA field {field!r}; {hint}known: {known}")
            )
    return problems


def _units_problems(spec: FormatSpec) -> list[tuple[str, str]]:
    """A channel's ``units``: taken by an XDR channel only, each the text of a quadruple's unit
    field, and the same for every channel of one field (one of them would have a value in the
    units the other does not take, an error every sentence). The unit letters of the other
    sentences are fixed by the standard, and read as it fixes them."""
    own = dict(spec.channel_units)
    problems: list[tuple[str, str]] = []
    first: dict[str, tuple[str, tuple[str, ...]]] = {}
    for i, (channel, field) in enumerate(spec.fields):
        units = own.get(channel, ())
        key = f"channels[{i}].units"
        if units and not field.startswith("XDR."):
            problems.append(
                (
                    key,
                    "only an XDR channel takes units (the unit fields its quadruples may "
                    f"hold); {field!r} has its unit fixed by its sentence: leave units out",
                )
            )
            continue
        for unit in units:
            if not _valid_xdr_name(unit) or unit != unit.strip():
                problems.append(
                    (
                        key,
                        f"{unit!r}: must be the text of a quadruple's unit field (such as 'B'), "
                        "without surrounding spaces, ',', '*', '$' or '!'",
                    )
                )
        other, theirs = first.setdefault(field, (channel, units))
        if other != channel and set(theirs) != set(units):
            problems.append(
                (
                    key,
                    f"channel {other!r} reads the same field with "
                    + (f"the units {', '.join(theirs)}" if theirs else "no units")
                    + ": give both the same units",
                )
            )
    return problems


#: Proprietary addresses of vendors that leave out the ``P`` the standard gives them, ignored
#: as proprietary sentences are: SkyTraq's ``$STI`` (gpsd's capture skytraq-err.log, a
#: S2525F8-BD-RTK with a firmware loader error, sends ``$STI,IC,error=4`` without checksum),
#: and the ``$ver`` line of a SkyTraq Venus's start-up text (gpsd's capture venus634lp.log:
#: ``$SkyTraq,Venus6``, ``$Kernel,...`` and ``$ver,011023,rev,090210``, without checksums,
#: the first two ignored as long addresses are).
_VENDOR_ADDRESSES = frozenset({"STI", "ver"})

#: How many addresses a decoder remembers as having carried checksums, or not: a stream holds
#: a few dozen at most, and the bound keeps line noise that forms addresses (a wrong baud
#: rate's garbage between ``$`` and a comma) from growing the sets for months. Past it a new
#: address is neither known to carry checksums nor ignored at its first sentence.
ADDRESSES_KEPT = 64


#: The hex digits of a checksum field.
_HEX_DIGITS = frozenset(b"0123456789ABCDEFabcdef")
#: The detail of the checksum error of a sentence whose ``*`` was damaged.
_STAR_DAMAGED = "NMEA sentence whose '*' is damaged or lost before its checksum"


def _star_damaged(frame: bytes) -> bool:
    """Whether a sentence without ``*`` is one whose ``*`` was damaged on the line: it ends in
    two hex digits, the checksum of the bytes before the byte before them (the ``*`` replaced
    by another byte) or before them (the ``*`` lost). The decoder asks only for a sentence of
    an address that has carried a sentence whose checksum holds: an address that carries
    none (a multiplexer's other input) never has its sentences taken for damaged ones."""
    line = frame.strip()
    if len(line) < 4 or b"*" in line:
        return False
    first, second = line[-2], line[-1]
    if first not in _HEX_DIGITS or second not in _HEX_DIGITS:
        return False
    expected = int(line[-2:], 16)
    return checksum(line[1:-3]) == expected or checksum(line[1:-2]) == expected


def decoder(spec: FormatSpec) -> Decoder:
    """The decoder, reading the host's wall clock from ``time.time``."""
    return timed_decoder(spec, time.time, DecoderCounts())


def timed_decoder(
    spec: FormatSpec, wall_clock: Callable[[], float], counts: DecoderCounts
) -> Decoder:
    """The decoder of one sensor; ``wall_clock`` is read at a frame's arrival (clock offset).
    It keeps state across frames: the GSV groups and epoch under way
    (:class:`~sensord.formats.nmea_satellites.SatelliteGroups`, whose epoch a frame of
    another kind ends: such a frame costs one test of the epoch's dict, and gives the
    epoch's readings due with its own), the run of GSA sentences
    under way (:class:`~sensord.formats.nmea_satellites.UsedSatellites`), and the last GGA,
    RMC, GLL and ZDA read, whose repeats it ignores (:func:`repeated_gga` and the
    :func:`~sensord.formats.nmea_validity.validators`), and whether the receiver says it is in
    simulator mode (:data:`SIMULATOR_MODE`), which costs a sentence one look-up of its type.
    It counts in ``counts.unread`` the sentences of a type no channel reads (proprietary ones,
    AIS, another instrument's on a multiplexer), the last in ``counts.unread_frame``: when
    none but those come, the sensor's hint says so (:mod:`sensord.rejects`). It counts in
    ``counts.unchecked`` the sentences without checksum that it reads: complete
    (else they are ``truncated``), of a type a channel reads, of an address that has carried
    no sentence whose checksum holds; their readings are unverified, and one whose field turns
    out malformed is rejected under that reason too.

    The addresses (talker and sentence type, the five characters after the start character)
    whose checksum has held are remembered: a sentence without checksum of such an address
    is one cut short, its ``*hh`` lost with its end (``truncated``, whatever its length: cut
    within its last field it has every field, one of them shortened), or, ending in the
    checksum of the bytes before it, one whose ``*`` was damaged (``checksum``, see
    :func:`_star_damaged`). Per address, not per talker: an NMEA 0183 1.5 receiver may put
    checksums on its RMC only, and two devices on a multiplexer may share a talker. An
    address that has never carried a checksum, as an instrument's without them that a marine
    multiplexer merges with a GNSS receiver that sends them, has its complete sentences read,
    but for its first one when another address has carried checksums: that one is ignored,
    as it may be the first sentence, cut short, of an address that carries them (a port
    opened, a receiver that starts sending under another talker), whose next sentence tells.
    The stream's first sentence, before any checksum has come, is read so too; on a port
    whose first bytes came right after the open, the framer has dropped it when it carries
    no checksum (:attr:`~sensord.formats.nmea_framer.NmeaFramer.cut_first`).
    A sentence whose checksum holds costs one membership test of its address, split from its
    fields already, in a set of them, which grows when an address first carries one."""
    wanted: dict[str, list[tuple[str, Getter]]] = {}
    #: The getters of :data:`SIMULATED_KEEPS`' sentences kept in simulator mode.
    simulated: dict[str, list[tuple[str, Getter]]] = {}
    by_constellation: dict[str, list[tuple[str, str]]] = {}
    used_by: dict[str, list[str]] = {}
    own_units = dict(spec.channel_units)
    for channel, field in spec.fields:
        if field in GSV_FIELDS:
            stat, _, constellation = field[4:].rpartition("_")
            by_constellation.setdefault(constellation, []).append((stat, channel))
            continue
        if field in USED_FIELDS:
            used_by.setdefault(field.rpartition("_")[2], []).append(channel)
            wanted.setdefault("GSA", [])
            continue
        found = _getter(field, wall_clock, own_units.get(channel, ()), channel)
        if found is None:  # excluded by check()
            raise ValueError(f"unknown NMEA field {field!r}")
        sentence, getter = found
        wanted.setdefault(sentence, []).append((channel, getter))
        keeps = SIMULATED_KEEPS.get(sentence)
        if keeps is not None:
            kept = simulated.setdefault(sentence, [])
            if field.partition(".")[2] in keeps:
                kept.append((channel, getter))
    groups = SatelliteGroups(by_constellation) if by_constellation else None
    #: The GSV epoch under way (empty between epochs), which a frame of another kind ends.
    gsv_epoch = groups.epoch if groups is not None else {}
    used = UsedSatellites(used_by) if used_by else None
    counts.fix_channels = (
        *(channel for s in FIX_SENTENCES for channel, _ in wanted.get(s, ())),
        *(channel for channels in used_by.values() for channel in channels),
    )
    encoding = spec.encoding
    valid = validators()
    #: the sentences read that say whether the receiver has a fix (``counts.fixes``)
    fix_readers = {
        sentence: says for sentence, says in fix_readers_by_type().items() if sentence in wanted
    }
    least = _LEAST_FIELDS
    hemispheres = HEMISPHERES
    units_placed = UNITS_PLACED
    #: The fields of the last GGA read (see :func:`repeated_gga`).
    last_gga = [["", ""]]
    #: Whether the last sentence of :data:`SIMULATOR_MODE` said simulator mode; only a
    #: decoder that reads a sentence of :data:`SIMULATED_KEEPS` looks.
    simulator_mode = SIMULATOR_MODE if simulated else {}
    simulating = [False]

    #: The addresses that have carried a sentence whose checksum holds: a sentence of theirs
    #: without ``*`` is one damaged or cut short on the line.
    checked: set[str] = set()
    #: The addresses, of a type a channel reads, that have carried a complete sentence
    #: without checksum.
    unchecked: set[str] = set()

    def parse_nmea(frame: bytes) -> list[tuple[str, float]]:
        try:
            try:
                text = decode_text(frame, encoding).strip()
                if not text.isascii():
                    raise ParseError("encoding", "NMEA sentences are ASCII")
            except ParseError:
                # the "*" turned into a byte of no text
                if frame.lstrip()[1:6].decode("latin-1") in checked and _star_damaged(frame):
                    raise ParseError("checksum", _STAR_DAMAGED) from None
                raise
            if not text or text[0] not in "$!":
                raise ParseError("syntax", "not an NMEA sentence")
            star = text.find("*")
            if star < 0:
                if text[1:6] in checked and _star_damaged(frame):
                    raise ParseError("checksum", _STAR_DAMAGED)
                body = text[1:]
            else:
                body = text[1:star]
                given = text[star + 1 :].encode()
                if len(given) != 2 or not given.isalnum():  # int() below takes any 2 letters too
                    if len(given) < 2 and all(c in _HEX_DIGITS for c in given):
                        raise ParseError(
                            "truncated", f"NMEA sentence cut in its checksum {given!r}"
                        )
                    raise ParseError("syntax", "bad NMEA checksum field")
                try:
                    expected = int(given, 16)
                except ValueError:
                    raise ParseError("syntax", "bad NMEA checksum field") from None
                if reduce(xor, body.encode(), 0) != expected:  # checksum(), inlined
                    detail = f"NMEA checksum mismatch, sentence says {given!r}"
                    raise ParseError("checksum", detail)
            fields = body.split(",")
            address = fields[0]
            if len(address) != 5:
                if (
                    address[:1] == "P"
                    or (len(address) > 5 and address.isalnum())
                    or address in _VENDOR_ADDRESSES
                ):  # proprietary, an address longer than talker and type, a vendor's line
                    counts.unread += 1
                    counts.unread_frame = frame
                    if gsv_epoch:
                        assert groups is not None
                        return groups.close()
                    return []
                if star < 0 and len(fields) == 1 and (address.isalnum() or not address):
                    # the line ends within the address (a start character, or "$GP"): cut short
                    raise ParseError("truncated", f"NMEA sentence cut in its address {address!r}")
                raise ParseError("syntax", f"bad NMEA address {address[:8]!r}")
            if not address.isalnum():
                raise ParseError("syntax", f"bad NMEA address {address[:8]!r}")
            if star >= 0 and address not in checked and len(checked) < ADDRESSES_KEPT:
                checked.add(address)
            sentence = address[2:]
            no_satellite: ParseError | None = None  # a GSA's satellite number field written wrong
            mode_at = simulator_mode.get(sentence)
            # not from a sentence damaged on the line (without the checksum its address
            # carries, or cut short): it may have lost the field that tells
            if mode_at is not None and (
                star >= 0 or (address not in checked and len(fields) > least[sentence])
            ):
                at, simulator = mode_at
                simulating[0] = len(fields) > at and simulator in fields[at]
            getters = wanted.get(sentence)
            if getters is None and (groups is None or sentence != "GSV"):
                counts.unread += 1
                counts.unread_frame = frame
                if gsv_epoch:
                    assert groups is not None
                    return groups.close()
                return []
            if star < 0:
                if address in checked:
                    # of any length: only its lost checksum tells a cut one from a whole one
                    detail = f"{address} without checksum, which it has carried"
                    raise ParseError("truncated", detail)
                if len(fields) <= least[sentence]:
                    reshaped = in_older_layout(sentence, fields)
                    if reshaped is None:
                        detail = f"{sentence} without checksum has {len(fields) - 1} fields"
                        raise ParseError("truncated", detail)
                    fields = reshaped
                if address not in unchecked and len(unchecked) < ADDRESSES_KEPT:
                    unchecked.add(address)
                    if checked:  # whole, or cut short: its next sentence tells
                        return []
                counts.unchecked += 1
            if getters is None:
                assert groups is not None  # a GSV sentence, wanted
                return groups.feed(fields, star < 0)
            letters = hemispheres.get(sentence)
            if letters is not None:
                misplaced = out_of_place(fields, letters)
                if misplaced:  # not one field written wrong: none is where it belongs
                    reshaped = rmc_without_variation_letter(fields) if sentence == "RMC" else None
                    if reshaped is None or out_of_place(reshaped, letters):
                        detail = f"{sentence} fields out of place: hemisphere {misplaced[:12]!r}"
                        raise ParseError("syntax", detail)
                    fields = reshaped
            units = units_placed.get(sentence)
            if units is not None:
                pick, written, unit_letters = units
                try:
                    placed = pick(fields) == written
                except IndexError:  # a sentence of fewer fields: letter by letter
                    placed = False
                if not placed:
                    misplaced = misplaced_unit(fields, unit_letters)
                    if misplaced:
                        reshaped = in_older_layout(sentence, fields)
                        if reshaped is None:
                            detail = f"{sentence} fields out of place: {misplaced}"
                            raise ParseError("syntax", detail)
                        fields = reshaped
            if sentence == "GGA" and repeated_gga(fields, last_gga):
                # a sentence that gives nothing ends the GSV epoch all the same
                return groups.close() if gsv_epoch and groups is not None else []
            if sentence == "GSA":
                if len(fields) >= GSA_FIELDS:
                    fields = gsa_of_twelve(fields)
                garbled = garbled_satellite_number(fields)
                if garbled is not None:  # no satellite number: see garbled_satellite_number()
                    no_satellite = ParseError("syntax", f"GSA satellite number {garbled[:8]!r}")
                    if star < 0:  # damage on the line
                        raise no_satellite
            says_fix = fix_readers.get(sentence)
            if says_fix is not None:
                fix = says_fix(fields)
                if fix:
                    counts.fixes += 1
                elif fix is not None:
                    counts.no_fixes += 1
            is_valid = valid.get(sentence)
            if is_valid is not None and not is_valid(fields):
                return groups.close() if gsv_epoch and groups is not None else []
            if simulating[0] and sentence in simulated:
                getters = simulated[sentence]
            readings: list[tuple[str, float]] = []
            failed = no_satellite
            #: the channels given a value in a unit they do not take (XDR's ``units``)
            other_unit: list[str] = []
            for channel, getter in getters:
                try:
                    value = getter(fields)
                except OtherUnitError as exc:  # a sound value, not for this channel
                    failed = failed or exc
                    other_unit.append(channel)
                    continue
                except ParseError as exc:
                    if star < 0:  # no checksum: the sentence itself may be damaged
                        raise
                    # a field written wrong is told before a value in another unit
                    if failed is None or type(failed) is OtherUnitError:
                        failed = exc
                    continue
                if value is not None:
                    readings.append((channel, value))
            if used is not None and sentence == "GSA" and no_satellite is None:
                # a GSA that lists no satellite number is one the run lost (see wrap())
                readings += used.feed(fields)
            if gsv_epoch:
                assert groups is not None
                readings += groups.close()
            if failed is not None:
                raise type(failed)(failed.reason, failed.detail, readings, other_unit) from failed
            return readings
        except ParseError:
            if groups is not None:  # a GSV sentence rejected: its loss is counted
                groups.rejected(frame, SENTENCES)
            raise

    return parse_nmea if used is None else used.wrap(parse_nmea, SENTENCES)


CODEC = Codec("nmea", check, decoder, encoder, nmea_framer, timed_decoder=timed_decoder)
