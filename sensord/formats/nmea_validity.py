"""Which of an NMEA receiver's sentences the decoder of :mod:`sensord.formats.nmea` reads as
measurements, and which say the receiver has a fix.

A sentence of a type with a status or mode field is read when that field says valid
(:meth:`~sensord.formats.nmea_fields.Status.validator`: ROT's ``A``, MWV's anything but
``V``, THS's and VTG's no letter of no measurement); an RMC or a GLL when its status is ``A``
and its mode indicator no letter of no measurement, and it repeats not the time and position
of the valid sentence of its type read before it (:func:`_fix_validator`); a ZDA when it
repeats not the last ZDA's time and date (:func:`_time_validator`). :func:`validators` builds
them for one decoder: they keep the fields of the last sentence they read. A GGA that repeats
the last GGA's fix is ignored too (:func:`repeated_gga`). A receiver in simulator mode, as the
last sentence of :data:`SIMULATOR_MODE` said, has its GSA read for its satellite counts only
and its VTG not at all (:data:`SIMULATED_KEEPS`). :func:`fix_readers_by_type` tells from GGA
and RMC whether the receiver has a fix, for ``DecoderCounts.fixes`` and ``no_fixes``, and
:data:`FIX_SENTENCES` names the sentences whose values are measured only with one.
"""

from __future__ import annotations

from collections.abc import Callable

from sensord.formats.nmea_fields import (
    NO_FIX,
    NOT_MEASURED,
    SENTENCES,
    Number,
    PositionMode,
    Status,
)
from sensord.formats.nmea_satellites import field as _field

__all__ = [
    "FIX_SENTENCES",
    "SIMULATED_KEEPS",
    "SIMULATOR_MODE",
    "fix_readers_by_type",
    "repeated_gga",
    "validators",
]


#: The sentences that carry the receiver's one fix or time whatever their talker, read once
#: an epoch (see :func:`_fix_validator`): sentence type -> its time field and its position
#: fields (latitude and longitude with their hemispheres; none in ZDA).
_ONE_FIX = {"RMC": (1, slice(3, 7)), "GLL": (5, slice(1, 5)), "ZDA": (1, slice(1, 1))}


def _fix_validator(
    status_at: int, mode_at: int, time_at: int, position: slice
) -> Callable[[list[str]], bool]:
    """Whether an RMC or GLL sentence is read: its status is ``A`` and its mode indicator,
    when it has one, is no letter of :data:`NOT_MEASURED`, and it repeats no fix.

    A valid sentence with the time field of the valid one of its type read before it, not
    empty, and the same position repeats that fix and is ignored, whatever its address
    (talker): a receiver may send each epoch's fix under two talkers, the same time and values
    in both (a Telit PLS83: ``$GPRMC`` and then ``$GARMC``), and read both, every channel
    would get two identical readings an epoch, which a window would weigh twice. The fix is the
    receiver's one whatever its talker (no constellation's own part of it, as GSA and GSV
    carry), so the first is read. Under the same talker it is a receiver that lost its fix and
    goes on sending its last sentence unchanged (as :func:`repeated_gga` reads a latched GGA):
    read, it would be published as a fresh fix; ignored, the channels' last reading keeps its
    time and ages. Another position at the same time is another receiver's fix (a marine
    multiplexer merging two receivers' streams, each synchronised to UTC, under one talker or
    two): read, whatever the order the multiplexer passes them in. A sentence of status ``V``
    gives nothing and is never the one repeated. This costs, besides the status, one look-up
    of the mode letter and one comparison of the time field (the position is compared only
    when the time is the same); the validator keeps the fields of the last sentence read."""
    last = [[""] * (time_at + 1)]

    def valid(fields: list[str]) -> bool:
        try:
            if fields[status_at] != "A" or fields[mode_at] in NOT_MEASURED:
                return False
        except IndexError:  # no mode field (NMEA 2.2 and before), or not even a status
            if _field(fields, status_at) != "A":
                return False
        clock, before = fields[time_at], last[0]  # the status field is after the time field
        if clock == before[time_at] and clock and fields[position] == before[position]:
            return False
        last[0] = fields
        return True

    return valid


def _time_validator(time_at: int) -> Callable[[list[str]], bool]:
    """Whether a ZDA is read: it repeats not the time field, not empty, and the date fields
    (day, month, year) of the ZDA read before it, under another talker (a receiver that sends
    its time as ``$GPZDA`` and ``$GNZDA``, or two receivers on one multiplexer, both
    synchronised to UTC: the same clock reading) or its own (a receiver that repeats its last
    ZDA: read, its offset would be the old second against a later host clock), as
    :func:`_fix_validator` reads RMC. The date is compared only when the time is the same."""
    untimed = [""] * (time_at + 1)
    last = [untimed]
    date_fields = slice(time_at + 1, time_at + 4)

    def valid(fields: list[str]) -> bool:
        clock, before = _field(fields, time_at), last[0]
        if clock and clock == before[time_at] and fields[date_fields] == before[date_fields]:
            return False
        last[0] = fields if clock else untimed  # a ZDA of its address alone has no time field
        return True

    return valid


def validators() -> dict[str, Callable[[list[str]], bool]]:
    """One decoder's validators: sentence type -> whether a sentence of the type is read
    (its status, and for :data:`_ONE_FIX` whether it repeats the fix read before it)."""
    made: dict[str, Callable[[list[str]], bool]] = {}
    for sentence, layout in SENTENCES.items():
        status_at = mode_at = None
        for slot, index in layout.positions():
            if isinstance(slot, Status):
                status_at = index
                made[sentence] = slot.validator(index)
            elif isinstance(slot, PositionMode):
                mode_at = index
        once = _ONE_FIX.get(sentence)
        if once is not None:
            if status_at is not None and mode_at is not None:
                made[sentence] = _fix_validator(status_at, mode_at, *once)
            else:
                made[sentence] = _time_validator(once[0])
    return made


def fix_readers_by_type() -> dict[str, Callable[[list[str]], bool | None]]:
    """Sentence type -> whether a sentence of it says the receiver has a fix (True), has none
    (False), or neither (None: a position entered by hand or simulated, which is no
    measurement but no loss either), for ``DecoderCounts.fixes``/``no_fixes``. GGA by its fix
    quality: ``0`` or empty none, ``7`` and ``8`` neither, any other (``6``, dead reckoning,
    too) a fix. RMC by its mode indicator when it has one, ``M`` and ``S`` neither and ``E``
    (estimated, which NMEA 2.3 and later send with status ``V``) a fix, else by its status:
    ``A`` a fix."""
    gga = next(
        index
        for slot, index in SENTENCES["GGA"].positions()
        if isinstance(slot, Number) and slot.names == ("fix_quality",)
    )
    status_at = mode_at = 0
    for slot, index in SENTENCES["RMC"].positions():
        if isinstance(slot, Status):
            status_at = index
        elif isinstance(slot, PositionMode):
            mode_at = index

    def gga_fix(fields: list[str]) -> bool | None:
        quality = _field(fields, gga)
        return None if quality in ("7", "8") else quality not in NO_FIX

    def rmc_fix(fields: list[str]) -> bool | None:
        mode = _field(fields, mode_at)
        if mode in ("M", "S"):
            return None
        return mode == "E" or _field(fields, status_at) == "A"

    return {"GGA": gga_fix, "RMC": rmc_fix}


#: The sentences of a receiver's fix: their values are measured only with one (the position,
#: speed and course, the DOPs and satellites used, the error estimates). GSV's satellites in
#: view, ZDA's time and an instrument's sentences are read without.
FIX_SENTENCES = ("GGA", "GLL", "GNS", "GSA", "GST", "RMC", "VTG")


#: The sentences that tell, each epoch, whether the receiver is in simulator mode: sentence
#: type -> the index of its field that says so and the character that does when the field
#: holds it (GGA's fix quality 8, RMC's and GLL's mode indicator ``S``, and GNS's mode
#: indicators, one per constellation, with an ``S`` for any). A Garmin handheld in its demo
#: mode (gpsd's captures GPSmap-76S.log and garmin-geko201.log) sends ``$GPRMC,...,V,...,S``,
#: ``$GPGGA`` of quality 8 and ``$GPGLL,...,V,S``, which give no position, but between them
#: ``$GPGSA,A,3,...`` with ten satellites and DOPs, and ``$GPVTG`` without mode field: read,
#: a fix mode 3 and a speed would be published for no fix at all.
SIMULATOR_MODE = {"GGA": (6, "8"), "RMC": (12, "S"), "GLL": (7, "S"), "GNS": (6, "S")}


#: Sentence type -> the fields it is still read for after a sentence of
#: :data:`SIMULATOR_MODE` said simulator mode: GSA's satellite counts, as GGA's satellites
#: are read at quality 8, but no fix mode and no DOP; nothing from a VTG (one without mode
#: field, NMEA 2.2 and before, in a simulated epoch).
SIMULATED_KEEPS = {"GSA": frozenset({"satellites_used"}), "VTG": frozenset[str]()}


def repeated_gga(fields: list[str], last: list[list[str]]) -> bool:
    """Whether a GGA repeats the fix of the GGA read before it: the same time field, not
    empty, the same position (latitude and longitude with their hemispheres, as written), and
    another talker, or the same talker and a fix. Another position at the same time is
    another receiver's fix, read: a marine multiplexer merging two receivers' streams, each
    synchronised to UTC, passes two GGA sentences a second, under one talker or two, and
    neither is a repeat of the other.

    Another talker: a SiRFstarV sends ``$GPGGA`` and then ``$GLGGA`` for one fix, the same
    position in both and each with the satellites of its own constellation (8 and 2 of the 10
    used; gpsd's driver_nmea0183.c reads no count from GGA for that reason): read both and
    ``GGA.satellites`` would alternate between them. The first is read, the others are
    ignored.

    The same talker: a receiver that loses its fix may go on sending its last GGA, time,
    position and fix quality unchanged, instead of a GGA without fix (gpsd's driver names the
    Trimble Placer 450 and reports no fix for a GGA whose time does not advance, its "latch
    mode"): read, it would be published as a fresh fix. It is ignored, so the channels' last
    reading keeps its time and ages; a GGA that says it has no fix is read, the same time or
    not. A receiver gives each epoch its own time (at 5 and 10 Hz in tenths or hundredths of
    a second: Garmin GPS 18x-5Hz ``hhmmss.s``, gpsd's 10 Hz captures nmea-rtk.log and
    rst39.log ``hhmmss.ss``; none of gpsd's 154 captures repeats the time of one talker's
    GGA), so no epoch is lost; only a receiver that writes the positive leap second 23:59:60
    as a second ``000000`` loses that second's fix. ``last`` holds the fields of the GGA read
    last. The position is compared only when the time field is the same."""
    try:
        clock = fields[1]
        if (
            clock
            and clock == last[0][1]
            and fields[2:6] == last[0][2:6]
            and (fields[0] != last[0][0] or _field(fields, 6) not in NO_FIX)
        ):
            return True
    except IndexError:  # a GGA of its address alone, or one after it: no time to repeat
        pass
    last[0] = fields
    return False
