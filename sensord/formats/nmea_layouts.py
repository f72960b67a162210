"""What an NMEA receiver or instrument writes out of place, for the decoder of
:mod:`sensord.formats.nmea`: the tests that reject a sentence whose fields are out of place,
and the layouts read in place of the standard's.

A sentence whose coordinate's hemisphere field holds no hemisphere letter is rejected whole
(``syntax``), its checksum holding or not: its fields are out of place, a comma lost or added
before the checksum was computed (see :func:`out_of_place`); and so is a sentence of a type
whose numbers each have their unit fixed by the standard (MWD, VWR, VWT, DBT, VHW, VLW, VTG,
HDT, HDM, and GGA's altitude and geoid separation) with a unit letter out of place: another
letter than its number's unit, in either case, or none after a number (but after GGA's two,
which a receiver may leave out, and after HDT's or HDM's heading, which has no field after it
to shift); none after an empty number is in place (see :func:`misplaced_unit`). Read, such a
sentence would give values in the wrong unit or from the wrong field: a VTG without its
magnetic course and its ``M`` would give its km/h as knots. A VTG of four numbers without
letters, the layout of older versions of NMEA 0183, is read in that layout (see
:func:`_vtg_without_letters`, :func:`in_older_layout`).

An RMC one field short, its mode indicator right after its magnetic variation (a Saab R4, a
Motorola T805), is read as one whose variation's ``E``/``W`` field is empty
(:func:`rmc_without_variation_letter`); a GSA that lists more than twelve satellite fields is
read in the standard's layout (:func:`gsa_of_twelve`). The tables here (:data:`HEMISPHERES`,
:data:`UNITS_PLACED`) are built from the sentence table
(:data:`~sensord.formats.nmea_fields.SENTENCES`) once, at import.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import itemgetter

from sensord.formats.nmea_fields import SENTENCES, Coordinate, Text
from sensord.formats.nmea_satellites import field as _field

__all__ = [
    "GSA_FIELDS",
    "HEMISPHERES",
    "UNITS_PLACED",
    "gsa_of_twelve",
    "in_older_layout",
    "misplaced_unit",
    "out_of_place",
    "rmc_without_variation_letter",
]


#: Sentence type -> its hemisphere fields: each one's index and the texts it may hold (its two
#: letters, or empty without a position): the coordinates' and RMC's magnetic variation's. One
#: that holds another text is no field written wrong but fields out of place: a field
#: separator lost or added before it, and every field after it read from its neighbour's place
#: (see :func:`out_of_place`).
HEMISPHERES = {
    sentence: found
    for sentence, layout in SENTENCES.items()
    if (
        found := tuple(
            (index + 1, frozenset({slot.positive, slot.negative, ""}))
            if isinstance(slot, Coordinate)
            else (index, frozenset({*slot.letters, ""}))
            for slot, index in layout.positions()
            if isinstance(slot, Coordinate) or (isinstance(slot, Text) and slot.letters)
        )
    )
}


def out_of_place(fields: list[str], hemispheres: tuple[tuple[int, frozenset[str]], ...]) -> str:
    """The first of a sentence's ``hemispheres`` (:data:`HEMISPHERES`) that holds no
    hemisphere letter, its text; empty when every one holds one (or is empty). A Bad Elf GPS
    Pro+ (firmware 2.1.60) rewrites its MediaTek chipset's sentences and checksums them again,
    now and then one that lost a comma (``$GPRMC,002525.000,A,3947.6529N,10509.2015,W,0.01,
    68.88,161021,,,D*65``, recorded in com-diag-hazer's ISSUES.md): its checksum holds, and
    read field by field it would give a speed of 68.88 knots (the course) and a course of
    161021 degrees (the date). A comma lost after the coordinates (``0.0168.88,161021,,,D``)
    puts the mode indicator in the magnetic variation's ``E``/``W`` field."""
    for at, letters in hemispheres:
        text = _field(fields, at)
        if text not in letters:
            return text
    return ""


#: The fields of an RMC sentence of NMEA 2.3, its address included.
_RMC_FIELDS = 13


#: The place of an RMC's date field, its address's being 0.
_RMC_DATE_AT = 9


#: The mode indicators of an RMC (NMEA 2.3 and later): autonomous, differential, estimated,
#: float and fixed RTK, precise, not valid, manual input, simulator mode.
_RMC_MODES = frozenset("ADEFRPNMS")


_DATE_DIGITS = 6


def rmc_without_variation_letter(fields: list[str]) -> list[str] | None:
    """The fields of an RMC sentence that leaves out its magnetic variation's ``E``/``W``
    field, in the standard's layout: its mode indicator, which stands in that field's place,
    moved to its own. A Saab R4 AIS transponder's GPS sends ``...,0.5,3.0,010611,,A`` (gpsd's
    capture saab-r4.log), a Motorola T805's SiRF III ``...,0.56,344.41,181207,0,A``, its
    variation 0 without a letter (motorola-t805.log). None for any other sentence whose
    hemisphere field holds no hemisphere letter. A comma lost before the date
    (``0.0168.88,161021,,,D``, :func:`out_of_place`) leaves the variation, empty or a number,
    in the date's field: only a sentence one field short whose date field holds six digits,
    followed by an empty variation or a number and a mode indicator, has this layout (one
    that lost the comma between its variation and its letter is the same sentence, read the
    same); the decoder reads it when its coordinates' hemisphere fields hold their letters
    too."""
    if (
        len(fields) == _RMC_FIELDS - 1
        and fields[-1] in _RMC_MODES
        and (not fields[-2] or fields[-2].replace(".", "", 1).isdigit())
        and len(fields[_RMC_DATE_AT]) == _DATE_DIGITS
        and fields[_RMC_DATE_AT].isdigit()
    ):
        return [*fields[:-1], "", fields[-1]]
    return None


#: One unit letter of a sentence: its number's index, its unit and the letters that stand
#: for it (:meth:`~sensord.formats.nmea_fields.Slot.unit_letters`).
_Letter = tuple[int, str, frozenset[str]]


#: The unit letters of a sentence type whose every unit is fixed (``units_placed`` in the sentence
#: table): a function that takes a sentence's letter fields at once (:func:`operator.itemgetter`),
#: what it gives for a sentence whose letters are all written as the standard writes them
#: (in place at one comparison), and the letters, each checked alone for any other sentence
#: (:func:`misplaced_unit`). A plain tuple: the decoder unpacks it for every such sentence.
_Units = tuple[Callable[[list[str]], object], object, tuple[_Letter, ...]]


def _units(letters: tuple[_Letter, ...]) -> _Units:
    letter_fields = [at + 1 for at, _, _ in letters]
    units = tuple(unit for _, unit, _ in letters)
    return itemgetter(*letter_fields), units if len(units) > 1 else units[0], letters


#: Sentence type -> its unit letters, for the types whose every unit is fixed (``MWD``,
#: ``DBT``, ``GGA``, ``VTG``, ...).
UNITS_PLACED = {
    sentence: _units(
        tuple(letter for slot, index in layout.positions() for letter in slot.unit_letters(index))
    )
    for sentence, layout in SENTENCES.items()
    if layout.units_placed
}


#: The characters of a number field (or of an empty one) of VTG's layout without letters.
_NUMBER_CHARACTERS = "0123456789.-+"


def _vtg_without_letters(fields: list[str]) -> list[str] | None:
    """A VTG in the layout of older versions of NMEA 0183, four numbers without unit letters
    (true course, magnetic course, speed in knots, in km/h), in the current layout:
    ``$GPVTG,054.7,034.4,005.5,010.2`` as ``054.7,T,034.4,M,005.5,N,010.2,K``. "NMEA
    Revealed" (E. S. Raymond, gpsd's www/NMEA.adoc) gives that layout, with an empty field
    after the four in its template (``$--VTG,x.x,x,x.x,x.x,*hh``), also taken, and tells the
    two apart by field 2, the letter ``T`` in the current one. gpsd's driver_nmea0183.c reads
    the current layout only (processVTG wants the knots of field 5), and nothing from this
    one. None for any other sentence: one with a letter among its four fields, or of another
    number of fields (a current VTG cut short after its magnetic course, ``054.7,T,034.4,M``,
    has its letters in place and is read as it is)."""
    if len(fields) == 6 and not fields[5]:
        fields = fields[:5]
    if len(fields) != 5 or any(text.strip(_NUMBER_CHARACTERS) for text in fields[1:]):
        return None
    address, course, magnetic, knots, kmh = fields
    return [address, course, "T", magnetic, "M", knots, "N", kmh, "K"]


#: Sentence type -> its fields in the current layout from a sentence in the type's older
#: layout without unit letters, else None, for the types that have one.
_LETTERLESS: dict[str, Callable[[list[str]], list[str] | None]] = {"VTG": _vtg_without_letters}


def in_older_layout(sentence: str, fields: list[str]) -> list[str] | None:
    """``fields`` in the current layout when they are in an older layout of ``sentence``
    without unit letters (:data:`_LETTERLESS`); None otherwise, and for a type without one.
    The decoder asks only of a sentence whose unit letters are out of place, and of one
    without checksum that has fewer fields than every complete sentence of its type: a
    sentence in the current layout costs nothing more."""
    older = _LETTERLESS.get(sentence)
    return older(fields) if older is not None else None


def misplaced_unit(fields: list[str], units: tuple[_Letter, ...]) -> str:
    """The first of a sentence's ``units`` (:data:`UNITS_PLACED`) out of place, told as
    ``unit 'x' where 'y' belongs``; empty when each is in place: a letter of its number's unit
    after it (none too where its letters hold none: GGA's, as its slots'
    :meth:`~sensord.formats.nmea_fields.Slot.unit_letters` give them), or, after an empty
    number, that letter or none (an instrument that measures in one unit leaves the others'
    numbers empty, with their letters or without: ``$SDDBT,,f,3.7,M,,F``, a log that measures
    speed only ``$VWVHW,,,,,5.5,N,,``, a Saab R4's ``$GPVTG,3.0,T,,,0.50,N,,,D``). Where every
    unit is fixed, another letter, or a number without its letter, is no field written wrong
    but fields out of place, as a hemisphere field that holds no hemisphere letter is
    (:func:`out_of_place`): an instrument with its own layout, or a field lost or added before
    the checksum was computed, and each value read from another's place (a wind speed in m/s
    read as knots, a depth in feet as metres, a VTG's km/h as knots)."""
    for at, unit, letters in units:
        found = _field(fields, at + 1)
        if found not in letters and (found or _field(fields, at)):
            return f"unit {found[:8]!r} where {unit!r} belongs"
    return ""


#: The fields of a standard GSA sentence, its address included: mode, fix mode, 12 satellite
#: fields, PDOP, HDOP, VDOP and (NMEA 4.10) the system ID.
GSA_FIELDS = 19


def gsa_of_twelve(fields: list[str]) -> list[str]:
    """A GSA sentence that lists more than 12 satellite fields (receivers with more channels
    send up to 24) in the standard's layout: its first 12 satellites, then the DOPs and the
    system ID (empty when the sentence has none) from the end of the sentence, then the
    satellites past the twelfth; fields that list no satellite (empty, or zeros of any width)
    are left out, wherever they are. Read at their usual places, its DOPs would be satellite
    numbers. ``satellites_used`` and ``used_<constellation>`` count every satellite listed. A
    standard sentence is returned as it is.

    The last field is the system ID when it is empty or one hex digit (a DOP has a point) and,
    in a sentence longer than the standard's with one, the three fields before it are DOPs (a
    point, or empty), not a satellite number and two DOPs written as integers. A sentence of
    the standard's length whose PDOP field has a point is standard, whatever its last field:
    a SiRF TriG sends the TDOP there (gpsd's capture beidou-bd.log:
    ``$GPGSA,A,3,25,32,,,,,,,,,,,5.1,1.3,4.9,3.3``), and a satellite number has no point."""
    if len(fields) == GSA_FIELDS and "." in fields[15]:
        return fields
    last = fields[-1]
    system = not last or (len(last) == 1 and last in "0123456789ABCDEFabcdef")
    if system and len(fields) > GSA_FIELDS:
        system = all("." in dop or not dop for dop in fields[-4:-1])
    tail = 4 if system else 3
    if len(fields) - tail <= GSA_FIELDS - 4:
        return fields
    ids = [text for text in fields[3 : len(fields) - tail] if text.lstrip("0")]
    dops = fields[len(fields) - tail :] + ([] if system else [""])
    return fields[:3] + ids[:12] + [""] * (12 - len(ids[:12])) + dops + ids[12:]
