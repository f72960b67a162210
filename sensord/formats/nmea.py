"""``format = "nmea"``: NMEA 0183 sentences.

Sentences start with ``$`` or ``!``, any two-letter talker ID. They are cut out of the byte
stream by :class:`~sensord.formats.nmea_framer.NmeaFramer` (:mod:`sensord.formats.nmea_framer`,
which also holds the sentence :func:`~sensord.formats.nmea_framer.checksum`); this module
decodes and encodes them. The satellite state that spans the sentences of an epoch, the GSV
groups and the GSA runs under way, is kept by :mod:`sensord.formats.nmea_satellites`. The
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
A sentence whose coordinate's hemisphere field holds no hemisphere letter is rejected whole
(``syntax``), its checksum holding or not: its fields are out of place, a comma lost or
added before the checksum was computed (see
:func:`_out_of_place`); and so is a sentence of a type whose numbers each have their unit
fixed by the standard (MWD, VWR, VWT, DBT, VHW, VLW, VTG, HDT, HDM, and GGA's altitude and
geoid separation) with a unit letter out of place: another letter than its number's unit, in either
case, or none after a number (but after GGA's two, which a receiver may leave out, and after
HDT's or HDM's heading, which has no field after it to shift); none after
an empty number is in place (see :func:`_misplaced_unit`). Read, such a sentence would give
values in the wrong unit or from the wrong field: a VTG without its magnetic course and its
``M`` would give its km/h as knots. A VTG of four numbers without letters, the layout of
older versions of NMEA 0183, is read in that layout (see :func:`_vtg_without_letters`). NMEA
sentences are ASCII (``encoding`` otherwise). Sentences of a type no channel asks for, every
proprietary ``$P...`` sentence (and SkyTraq's ``$STI``, proprietary without its ``P``),
addresses longer than five characters (``$GYOACC``, ``$SNRSTAT``), AIS (``!AIVDM``) and
sentences flagged invalid decode to ``[]`` (ignored frames).

A channel's ``field`` is ``<sentence type>.<name>`` (:data:`NMEA_FIELDS`) or ``XDR.<name>``:

* ``GGA.fix_quality``, ``GGA.satellites``, ``GGA.hdop``, ``GGA.altitude`` (metres above mean
  sea level), ``GGA.latitude``, ``GGA.longitude`` (decimal degrees, south and west negative).
  With fix quality ``0`` (no fix), ``7`` (manual input), ``8`` (simulator mode) or an empty
  fix quality field only ``fix_quality`` (when given) and ``satellites`` are reported: a
  position entered by hand or simulated is no measurement (see :data:`_NO_FIX`); ``6``
  (estimated, dead reckoning) is read as a fix. The altitude's and the geoid separation's
  unit letters are ``M`` or none (above). A GGA with the time of the GGA before it but
  another talker (a SiRFstarV's ``$GLGGA`` after its ``$GPGGA``, each counting only its own
  constellation's satellites) repeats that fix and is ignored; so is one of the same talker
  that claims a fix (a receiver that lost its fix and goes on sending the last one: a stale
  fix, never published as a fresh reading); a repeat has the same position too, another
  position is another receiver's fix (see :func:`_repeated_gga`).
* ``RMC.latitude``, ``RMC.longitude``, ``RMC.speed`` (speed over ground, knots),
  ``RMC.course`` (degrees true), ``RMC.clock_offset`` (below). An RMC with status ``V``
  (receiver warning) reports nothing, nor does one whose mode indicator (NMEA 2.3 and later)
  is ``N`` (not valid), ``M`` (manual input) or ``S`` (simulator mode) whatever its status:
  no measurement (see :data:`_NOT_MEASURED`). A valid RMC with the time and the position of
  the valid RMC before it repeats that fix and is ignored, under another talker (a Telit
  PLS83's ``$GARMC`` after its ``$GPRMC``, the same fix: one reading an epoch) or its own (a
  receiver that lost its fix and goes on sending the last one: a stale fix); another
  position is another receiver's fix (two receivers merged by a multiplexer), read (see
  :func:`_fix_validator`). An RMC one field short, its mode indicator right after its
  magnetic variation (a Saab R4: ``...,0.5,3.0,010611,,A``; a Motorola T805:
  ``...,181207,0,A``), is read as one whose variation's ``E``/``W`` field is empty (see
  :func:`_rmc_without_variation_letter`).
* ``GSA.fix_mode`` (1 no fix, 2 2D, 3 3D), ``GSA.pdop``, ``GSA.hdop``, ``GSA.vdop``,
  ``GSA.satellites_used`` (the satellites listed in the sentence) and
  ``GSA.used_<constellation>`` (the distinct satellites of that constellation that the GSA
  sentences of an epoch list: by the NMEA 4.10 system ID field, else by the talker). Most
  receivers send one GSA per constellation, each read as it comes; one that sends a GSA per
  signal (an ST Teseo LIV4F: GPS L1, then L5, the same system ID and no signal ID) or a
  ``$GPGSA`` and a ``$GNGSA`` for GPS (Quectel) gives one reading per epoch, of their union:
  the GSA sentences that follow each other with no other frame between are an epoch's (see
  :class:`~sensord.formats.nmea_satellites.UsedSatellites`, also for a stream of nothing but
  GSA; a GSA rejected for any reason (a checksum that fails, cut short, a byte that is no
  ASCII, a field that does not parse), counted as ever, leaves the run whole, and the
  constellations short of their sentences in it get no reading). A ``GN`` sentence without
  system ID (NMEA 4.0 and earlier) counts each satellite for the constellation its number
  falls in (1-32 GPS, 65-96 GLONASS, 193-199 QZSS, 201-237 and 401-437 BeiDou, 301-356
  Galileo), and reports no ``used_<constellation>`` when it lists no satellite; an epoch
  whose run of GSA holds such a sentence reads 0 for the constellations such sentences
  listed before and none of its sentences lists (a receiver that lost its fix: 0 used at
  once, as gpsd reports, not the last fix's counts until they age), and so does an epoch
  whose every GSA reports no fix and lists no satellite for every constellation its own
  sentences do not name (a receiver that sends ``$GPGSA`` alone once its fix is lost, or a
  stream read from before the first fix, whose ``$GNGSA`` names no constellation yet: gpsd's
  ``uSat`` is 0 from the first epoch). A satellite field that is empty or
  zeros (``00``, ``0000``: the number 0, no satellite's) lists none, in the first twelve and
  past them (a receiver of more channels sends up to 24). A GPS sentence (system ID 1, or talker
  ``GP``) counts its satellites by their numbers too: SBAS satellites (33-64, 120-158) count
  for no constellation, u-blox's QZSS (193-197) for QZSS. Without a fix (mode 1, or an empty
  mode field) the DOPs are not reported; nor is a DOP of 0 (``GSA``'s, ``GGA.hdop``,
  ``GNS.hdop``), which a receiver that computes none may write in place of an empty field.
* ``GSV.in_view_<constellation>``, ``GSV.snr_mean_<constellation>`` and
  ``GSV.snr_max_<constellation>`` (dB-Hz, over the satellites with an SNR; an SNR of ``00``,
  which Garmin, SiRF and Haicom receivers write for a satellite they do not track, is none;
  an entry without a satellite number, or numbered 0, is no satellite, its SNR in no figure,
  on every talker, as gpsd skips it),
  read from whole groups of GSV sentences (see
  :class:`~sensord.formats.nmea_satellites.SatelliteGroups`; a group cut short is rejected
  as ``truncated``, never half-used, and so is a GSV without checksum of a talker that sends
  them: a line cut short, its ``*hh`` lost with its end, whose satellites left would be read
  as all; a sentence rejected for any reason is its group's one error,
  not counted again as a group cut; the end of the group under way when the stream started is
  ignored). A receiver that sends a group per signal (NMEA 4.10 signal IDs: L1 and L2 or L5)
  gets one reading of each constellation an epoch, over its groups of the epoch: its distinct
  satellites, each at its best SNR. ``GSV.in_view_sbas``, ``GSV.snr_mean_sbas`` and
  ``GSV.snr_max_sbas`` read the SBAS satellites (33-64, 120-158) that GPS and ``GN`` groups
  list, so that the ``in_view_`` channels add up to the satellites in view as gpsd counts
  them (its SKY ``nSat``; on a receiver of several signals gpsd counts each satellite once
  per signal); no GSA channel counts SBAS.
* ``VTG.course`` (degrees true), ``VTG.speed_knots``, ``VTG.speed_kmh``; nothing with mode
  ``N`` (not valid), ``M`` or ``S``. Its unit letters ``T``, ``M``, ``N``, ``K`` are fixed
  (above); a VTG of the older layout, ``$GPVTG,054.7,034.4,005.5,010.2``, is read from its
  own places.
* ``GLL.latitude``, ``GLL.longitude``; nothing with status ``V``, nor with mode ``N``, ``M``
  or ``S``, as RMC. A GLL repeating the last one's time and position, under any talker, is
  ignored, as an RMC is.
* ``GNS.latitude``, ``GNS.longitude``, ``GNS.satellites``, ``GNS.hdop``, ``GNS.altitude``;
  with a mode of only ``N`` (no fix in any constellation), or with ``M`` or ``S`` for any
  constellation, only ``satellites``. GNS sentences of several talkers are each read (a
  receiver's GNS per constellation differ).
* ``ZDA.clock_offset`` and ``RMC.clock_offset``: the receiver's UTC (date and time of the
  sentence; a ZDA repeating the last one's time and date, under any talker, is ignored) minus the
  host's wall clock when the frame arrived, in seconds; positive when the
  receiver is ahead. The arrival time is read when the reader hands the decoder the chunk that
  completed the frame, so it is late by the serial transmission of the sentence (about 70 ms
  for an 80-byte sentence at 9600 baud), the receiver's own output delay after the second it
  names (typically 20 to 500 ms, receiver-specific), and at most the reader's batch interval:
  the offset reads that much low. Its changes are meaningful to a few milliseconds; its level
  is biased by the receiver's fixed output delay. A receiver with the GPS week-rollover bug
  (firmware older than a rollover of GPS's 10-bit week number, the last on 2019-04-07) dates
  its fixes 1024 weeks (19.6 years) early: a date a whole number of 1024-week periods behind
  the host's clock, give or take 30 days, has them added back, as gpsd does. A date in GPS
  week 0 (before 1980-01-13) that is no such rollover gives no offset: it is the power-up
  default a receiver counts from before a satellite gives it the time (an MTK chipset's
  1980-01-05, a SkyTraq's or a Sony CXD5603's 1980-01-06), in its ZDA with or without a fix.

Constellations: ``gps``, ``glonass``, ``galileo``, ``beidou``, ``qzss``, ``navic``. Talkers
``GP``, ``GL``, ``GA``, ``GB``/``BD``, ``GQ``/``QZ``, ``GI``; system IDs 1 to 6. GSA and GSV
sentences of a talker that names no constellation (``GN``; Quectel's ``PQ``, whose
satellites 1-63 are BeiDou) give each satellite the constellation its number falls in.
* ``MTW.temperature`` (degrees Celsius: one with another unit letter, such as ``F``, is
  refused, not read as Celsius; one without a letter is read).
* ``MWV.wind_angle`` (degrees), ``MWV.wind_speed`` (in the sentence's own unit: km/h, m/s,
  knots or mph as its unit field says), ``MWV.wind_speed_mps`` (converted to m/s): the
  relative (apparent) wind, from sentences of reference ``R``; ``MWV.true_wind_angle``,
  ``MWV.true_wind_speed``, ``MWV.true_wind_speed_mps``: the true wind, from sentences of
  reference ``T`` (an instrument may send both in turn). An MWV with status ``V`` reports
  nothing.
* ``MWD.wind_direction`` (degrees true), ``MWD.wind_direction_magnetic`` (degrees
  magnetic): where the true wind (over ground) blows from; ``MWD.wind_speed_knots``,
  ``MWD.wind_speed_mps``, each from its own field, else converted from the other one. Its
  unit letters are fixed (``T``, ``M``, ``N``, ``M``): one out of place rejects the sentence
  whole (below, and :func:`_misplaced_unit`).
* ``VWR.wind_angle`` (degrees off the bow, 0 to 180: positive to starboard, ``R``, negative to
  port, ``L``), ``VWR.wind_speed_knots``, ``VWR.wind_speed_mps`` (each from its own field, else
  converted from the other one, as MWD's are), ``VWR.wind_speed_kmh``: the relative wind as
  wind instruments older than MWV send it; ``VWT``'s fields, of the same names, the true wind.
  Their unit letters ``N``, ``M``, ``K`` are fixed (above).
* ``MDA.pressure_inhg`` (barometric pressure, inches of mercury), ``MDA.pressure_bar`` (bars),
  ``MDA.air_temperature``, ``MDA.water_temperature``, ``MDA.dew_point`` (degrees Celsius),
  ``MDA.relative_humidity``, ``MDA.absolute_humidity`` (percent), ``MDA.wind_direction``
  (degrees true), ``MDA.wind_direction_magnetic``, ``MDA.wind_speed_knots``,
  ``MDA.wind_speed_mps``: the meteorological composite of a weather station (an Airmar WX
  series one, among others). The two pressures and the two wind speeds are each read
  from their own field, else converted from the other one, as MWD's wind speeds are. A
  station leaves what it does not measure empty (an Airmar 110WX its water temperature,
  absolute humidity and wind): an empty field gives its channel no value, and the other
  fields are read. Each value's unit letter (``I``, ``B``, ``C``, ``T``, ``M``, ``N``, ``M``)
  is checked: a value followed by another letter, or none, is a field written wrong
  (``syntax``; its channel gets no value, the sentence's others are read when its checksum
  holds, see :func:`_unit_of`).
* ``VHW.heading`` (degrees true), ``VHW.heading_magnetic``, ``VHW.speed_knots``,
  ``VHW.speed_kmh``: heading and speed through the water (the log's paddle wheel). Its unit
  letters ``T``, ``M``, ``N``, ``K`` are fixed (above): a log that measures speed only sends
  ``$VWVHW,,,,,5.5,N,,`` or ``$IIVHW,,T,,M,06.12,N,11.33,K``.
* ``VLW.total_distance``, ``VLW.trip_distance`` (distance through the water, in total and
  since the log was reset), ``VLW.total_ground_distance``, ``VLW.trip_ground_distance``
  (over ground, NMEA 3.0 and later; a sentence of NMEA 2 has the first two only), all in
  nautical miles, each followed by the fixed unit letter ``N`` (above).
* ``DPT.depth`` (metres below the transducer), ``DPT.offset`` (metres: positive, from the
  transducer up to the waterline; negative, from the transducer down to the keel; the depth
  below the surface, or below the keel, is their sum), ``DBT.depth`` (metres below the transducer;
  from the feet or fathoms field when the metres field is empty; its unit letters ``f``,
  ``M`` and ``F`` are fixed, as MWD's are, in either case).
* ``HDT.heading`` (degrees true, the unit letter ``T``), ``HDM.heading`` (degrees magnetic,
  ``M``; both fixed, above), ``THS.heading``
  (degrees true; nothing with mode ``V``, not valid, ``M`` manual input or ``S`` simulator
  mode; mode ``E``, estimated, is read), ``ROT.rate`` (rate of turn, degrees a
  minute, negative to port; nothing with status ``V``).
* ``HDG.heading`` (the magnetic sensor's heading, degrees, as sent: the standard's magnetic
  heading is it plus the deviation, the true heading that plus the variation),
  ``HDG.deviation`` and ``HDG.variation`` (degrees, east positive, west negative; none when
  the field is empty, as the standard leaves an unknown one).
* ``GST.rms`` (RMS of the pseudorange residuals), ``GST.error_major``, ``GST.error_minor``
  (the error ellipse's semi-axes), ``GST.error_orientation`` (its major axis, degrees from
  true north), ``GST.latitude_error``, ``GST.longitude_error``, ``GST.altitude_error`` (the
  position's standard deviations), all in metres but the orientation: how good the receiver
  says its fix is.
* ``XDR.<name>``: the value of the transducer measurement whose name field equals ``<name>``
  (XDR carries quadruples of type, value, unit, name); ``XDR.<type>:<name>``: the one of that
  type too (a weather bridge that names its temperature ``C`` and humidity ``H`` quadruples
  alike, ``ENV_OUTAIR_T``), its name possibly empty (``XDR.C:``: an LCJ CV7's
  ``$WIXDR,C,026.0,C,,``). The value is read as sent, in the quadruple's own unit, never
  converted: an Airmar's station pressure ``P,1.0113,B,STNP`` reads 1.0113 (bars), another
  station's ``P,101130,P,...`` 101130 (pascals). A channel without ``units`` reads it whatever
  the quadruple's unit field holds. A channel with ``units`` (``["B"]``, the unit fields it
  takes) reads it only from a quadruple whose unit field is one of them, the first of its name
  that is (a station that sends one name in two units is read in the unit asked; of names
  that repeat, as a WXT520's transducer IDs, the first such); a value in another unit only,
  or with none, gives that channel no value and is counted as ``invalid``
  (:class:`~sensord.errors.OtherUnitError`, as the text formats count a value in another unit:
  the error names the unit found and those taken, and the channel has no current value until
  a reading comes), its checksum holding or not, while the sentence's other values are read.
  An empty value is no value, whatever its unit. Only XDR channels take ``units``
  (:func:`check`): the other sentences' units are fixed by the standard.

Coordinates are converted from ``ddmm.mmmm`` but not range-checked: range checks belong to the
filter stage. A window over a longitude that crosses ±180 degrees (the antimeridian) has a
meaningless mean: the mean of 179.9 and -179.9 is 0. Such a channel wants no window, or its
own mean of unit vectors outside sensord.

Each sentence type's layout is written once, in :data:`SENTENCES`: its fields in order, each a
slot that knows how to read its value (the decoder's getters) and how to write it (the
encoder). The encoder fills the fields no channel asks for with plausible values, prints
numbers with three decimals and coordinates as ``ddmm.mmmmm``, and sends one sentence per
sentence type the channels need (XDR sentences of up to four transducers, as many as fit in
the 82 characters NMEA 0183 allows a sentence, ``$`` to line end, and at least one, each
quadruple's unit field the first of its channel's ``units``, else empty; one GSA per
constellation the channels name, with its system ID; one group of GSV sentences per
constellation, with its talker, its satellites numbered within it).
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import date
from functools import reduce
from operator import itemgetter, xor

from sensord.errors import OtherUnitError, ParseError
from sensord.formats.base import Codec, Decoder, DecoderCounts, Encoder, FormatSpec
from sensord.formats.nmea_framer import checksum, nmea_framer
from sensord.formats.nmea_satellites import (
    CONSTELLATIONS,
    SBAS,
    SatelliteGroups,
    UsedSatellites,
    garbled_satellite_number,
)
from sensord.formats.nmea_satellites import field as _field
from sensord.formats.text import check_common, decode_text, number, number_text, unique_fields
from sensord.schema import closest

__all__ = ["ADDRESSES_KEPT", "CODEC", "NMEA_FIELDS", "SENTENCES"]


#: Reads one value from the comma-split fields of a sentence (index 0 is the address);
#: None when the value is absent.
_Getter = Callable[[list[str]], float | None]
#: Writes the texts of a slot's fields for values by field name and the time of day.
_Writer = Callable[[Mapping[str, float], float], list[str]]

_KNOTS_MPS = 1852.0 / 3600.0
_WIND_UNIT_MPS = {"M": 1.0, "K": 1.0 / 3.6, "N": _KNOTS_MPS, "S": 1609.344 / 3600.0}
#: Bars in one inch of mercury (3386.389 Pa, at 0 °C).
_BAR_PER_INHG = 0.03386389
_METRES_PER_FOOT = 0.3048
_METRES_PER_FATHOM = 1.8288

#: The constellations and the SBAS (:data:`~sensord.formats.nmea_satellites.SBAS`, GSV's
#: only) -> the talker and the system ID the encoder writes them with: SBAS under ``GN``,
#: numbered 33-64 (it has no talker of its own, and its system ID would be GPS's); its system
#: ID 0 marks its group to the GSV writer.
_WRITTEN = CONSTELLATIONS | {SBAS: ("GN", 0)}
#: ``date.toordinal()`` of 1970-01-01, the Unix epoch.
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
#: The encoder's date when it runs on the seconds since midnight of the Encoder contract:
#: 2025-01-01, in Unix seconds.
_SIMULATED_DAY_S = (date(2025, 1, 1).toordinal() - _EPOCH_ORDINAL) * 86400.0
#: The first and last second, in Unix seconds, of a receiver's clock that the decoder reads
#: as a clock offset: from GPS week 1 (a date before it is a power-up default) to the end of
#: the years an RMC's two-digit year holds (2079). A simulated ``clock_offset`` that takes
#: the receiver's clock further is sent as the nearest of them.
_SIMULATED_CLOCK_S = (
    (date(1980, 1, 13).toordinal() - _EPOCH_ORDINAL) * 86400.0,
    (date(2080, 1, 1).toordinal() - _EPOCH_ORDINAL) * 86400.0 - 1.0,
)


def _plain(index: int) -> _Getter:
    def get(fields: list[str]) -> float | None:
        text = _field(fields, index)
        return number(text) if text else None

    return get


def _equals(index: int, text: str) -> Callable[[list[str]], bool]:
    return lambda fields: _field(fields, index) == text


def _constant(texts: list[str]) -> _Writer:
    def write(values: Mapping[str, float], t_s: float) -> list[str]:
        return texts

    return write


# -- slots: the kinds of field a sentence is made of ---------------------------------------------


@dataclass(frozen=True, slots=True)
class _Slot(ABC):
    """One or more consecutive fields of a sentence, carrying the values named ``names``."""

    names: tuple[str, ...] = ()
    #: Values absent while the sentence's gate field says so (GGA without a fix).
    gated: bool = False
    #: Values named ``<name>_<constellation>`` (``used_gps``), one per constellation.
    per_constellation: tuple[str, ...] = ()

    @property
    def width(self) -> int:
        return 1

    def all_names(self) -> tuple[str, ...]:
        """Every value name this slot carries, the per-constellation ones spelled out."""
        spelled = (f"{base}_{c}" for base in self.per_constellation for c in CONSTELLATIONS)
        return (*self.names, *spelled)

    def gate_at(self, index: int) -> Callable[[list[str]], bool] | None:
        """When this slot starts at ``index`` and switches the sentence's gated values off:
        a test of the sentence that is true without a fix; None for slots that never do."""
        del index
        return None

    def getter(self, index: int, name: str) -> _Getter:
        """Reads value ``name`` from a sentence in which this slot starts at ``index``."""
        return _plain(index)

    def unit_letters(self, index: int) -> tuple[tuple[int, str, frozenset[str]], ...]:
        """When this slot starts at ``index``: the index of each of its numbers followed by
        a unit letter, that unit, and the letters that stand for it; none for a slot without
        (see :func:`_misplaced_unit`)."""
        del index
        return ()

    @abstractmethod
    def writer(self, prefix: str, fields: tuple[str, ...]) -> _Writer:
        """Writes this slot's texts; ``prefix`` (``"GGA."``) names the values, and ``fields``
        holds every field the channels ask for."""


@dataclass(frozen=True, slots=True)
class _Text(_Slot):
    """A field the decoder does not read: a unit letter, a reference, an empty field. With
    ``letters``, the field holds one of them or nothing (RMC's magnetic variation ``E``/``W``),
    and a sentence whose field holds another text has its fields out of place."""

    text: str = ""
    letters: str = ""

    def writer(self, prefix: str, fields: tuple[str, ...]) -> _Writer:
        return _constant([self.text])


@dataclass(frozen=True, slots=True)
class _UnitLetter(_Text):
    """The unit letter of the number in the field before it, which the standard fixes:
    ``text`` (``T`` after VHW's heading in degrees true, ``M`` after GGA's altitude in
    metres), in either case. The number is read by its own slot; the letter is checked for
    the whole sentence before any value is read (``_Sentence.units_placed``,
    :func:`_misplaced_unit`). With ``bare``, a number without its letter is in place too:
    the standard gives that number no other unit, and a receiver may leave the letter out
    (GPSBabel's pull request 7, a GGA whose checksum holds:
    ``$GPGGA,092252,5004.6498,N,01958.1196,E,1,,,337,,,,,*6d``)."""

    bare: bool = False

    def unit_letters(self, index: int) -> tuple[tuple[int, str, frozenset[str]], ...]:
        letters = {self.text, self.text.lower(), *([""] if self.bare else [])}
        return ((index - 1, self.text, frozenset(letters)),)


@dataclass(frozen=True, slots=True)
class _Time(_Slot):
    """UTC time of day, ``hhmmss.sss``: in milliseconds, so that a simulated receiver gives
    each of its epochs its own time up to 1000 Hz (the decoder ignores a GGA that repeats the
    time of the one before it, see :func:`_repeated_gga`)."""

    def writer(self, prefix: str, fields: tuple[str, ...]) -> _Writer:
        def write(values: Mapping[str, float], t_s: float) -> list[str]:
            # cut, not rounded, to the millisecond: the last of a day stays in that day
            milliseconds = int(round(t_s % 86400.0 * 1000.0, 3))
            seconds, milliseconds = divmod(milliseconds, 1000)
            hours, rest = divmod(seconds, 3600)
            minutes, seconds = divmod(rest, 60)
            return [f"{hours:02d}{minutes:02d}{seconds:02d}.{milliseconds:03d}"]

        return write


@dataclass(frozen=True, slots=True)
class _Status(_Slot):
    """A status letter that marks the whole sentence valid or not. Valid: the field equals
    ``valid``, or, with ``invalid`` given, the field is none of ``invalid`` (a mode
    indicator: see :data:`_NOT_MEASURED`)."""

    valid: str = "A"
    invalid: frozenset[str] | None = None

    def validator(self, index: int) -> Callable[[list[str]], bool]:
        if self.invalid is None:
            return _equals(index, self.valid)
        invalid = self.invalid
        return lambda fields: _field(fields, index) not in invalid

    def writer(self, prefix: str, fields: tuple[str, ...]) -> _Writer:
        return _constant([self.valid])


#: The mode indicator letters (NMEA 0183 2.3 and later: RMC, GLL, VTG, GNS) of no measurement:
#: ``N`` data not valid, ``M`` manual input (a position the user entered) and ``S`` simulator
#: mode. ``A`` autonomous, ``D`` differential, ``E`` estimated (dead reckoning, read as GGA's
#: quality 6 is), and NMEA 4.10's ``P`` precise, ``R`` RTK and ``F`` float RTK are fixes. The
#: standard has RMC and GLL give status ``V`` with any mode but ``A`` and ``D``; a receiver
#: that gives ``A`` with ``M`` or ``S`` still publishes no measurement here.
_NOT_MEASURED = frozenset({"N", "M", "S"})


@dataclass(frozen=True, slots=True)
class _PositionMode(_Slot):
    """RMC's and GLL's mode indicator (NMEA 0183 2.3 and later; absent before): with status
    ``A``, a letter of :data:`_NOT_MEASURED` makes the sentence invalid too (see
    :func:`_fix_validator`). The encoder writes ``A``."""

    def writer(self, prefix: str, fields: tuple[str, ...]) -> _Writer:
        return _constant(["A"])


@dataclass(frozen=True, slots=True)
class _Number(_Slot):
    """A number: with ``digits``, a whole number zero-padded to that many digits."""

    default: float = 0.0
    digits: int | None = None
    #: This field's texts that switch the sentence's gated values off; so does the field
    #: when empty.
    gate: frozenset[str] | None = None

    def gate_at(self, index: int) -> Callable[[list[str]], bool] | None:
        if self.gate is None:
            return None
        # an empty field is no value: no fix either (Typhoon MyGuide 3100: GGA with an empty
        # fix quality, and the position and HDOP of a fix it does not have)
        gates = self.gate | {""}
        return lambda fields: _field(fields, index) in gates

    def writer(self, prefix: str, fields: tuple[str, ...]) -> _Writer:
        key, default, digits = prefix + self.names[0], self.default, self.digits
        if digits is None:
            return lambda values, t_s: [number_text(values.get(key, default))]
        return lambda values, t_s: [f"{round(values.get(key, default)):0{digits}d}"]


@dataclass(frozen=True, slots=True)
class _Dop(_Number):
    """A dilution of precision: 0 is no value. A receiver that computes none may write 0 in
    place of the empty field (a Jackson Labs Micro JLT sends GSA's ``0.00,0.00,0.00`` with a
    3D fix), and no satellite geometry gives a DOP of 0."""

    def getter(self, index: int, name: str) -> _Getter:
        def get(fields: list[str]) -> float | None:
            text = _field(fields, index)
            return (number(text) or None) if text else None

        return get


@dataclass(frozen=True, slots=True)
class _Coordinate(_Slot):
    """Decimal degrees as ``(d)ddmm.mmmm`` and a hemisphere field after it."""

    degree_digits: int = 2
    positive: str = "N"
    negative: str = "S"
    default: float = 0.0

    @property
    def width(self) -> int:
        return 2

    def getter(self, index: int, name: str) -> _Getter:
        positive, negative = self.positive, self.negative

        def get(fields: list[str]) -> float | None:
            text = _field(fields, index)
            if not text:
                return None
            raw = number(text)
            hemisphere = _field(fields, index + 1)
            if raw < 0.0 or hemisphere not in (positive, negative):
                raise ParseError("syntax", f"bad coordinate {text!r} {hemisphere!r}")
            degrees = raw // 100.0
            minutes = raw - degrees * 100.0
            if minutes >= 60.0:
                raise ParseError("syntax", f"bad coordinate minutes {text!r}")
            whole, dot, decimals = text.partition(".")
            if whole.isdigit() and decimals.isdigit() and dot:
                # the degrees as the decimal reads, rounded once: 4807.038 is 48.1173, where
                # degrees + minutes / 60 in floats gives 48.11729999999999
                scale = 10 ** len(decimals)
                minutes_scaled = int(whole[-2:]) * scale + int(decimals)
                value: float = (int(whole[:-2] or "0") * 60 * scale + minutes_scaled) / (60 * scale)
            else:
                value = degrees + minutes / 60.0
            return -value if hemisphere == negative else value

        return get

    def writer(self, prefix: str, fields: tuple[str, ...]) -> _Writer:
        key, default = prefix + self.names[0], self.default
        digits, positive, negative = self.degree_digits, self.positive, self.negative

        def write(values: Mapping[str, float], t_s: float) -> list[str]:
            value = values.get(key, default)
            magnitude = abs(value)
            degrees = int(magnitude)
            minutes = round((magnitude - degrees) * 60.0, 5)
            if minutes >= 60.0:
                degrees += 1
                minutes -= 60.0
            return [f"{degrees:0{digits}d}{minutes:08.5f}", negative if value < 0 else positive]

        return write


@dataclass(frozen=True, slots=True)
class _Signed(_Slot):
    """Degrees and a direction letter after them: ``positive`` or ``negative``, by default
    ``E`` (east) and ``W`` (west), as HDG's magnetic deviation and variation; VWR's and VWT's
    wind angle off the bow has ``R`` (starboard) and ``L`` (port). An empty value field is no
    value (unknown, as the standard leaves it); a value with another letter is a syntax
    error."""

    default: float = 0.0
    positive: str = "E"
    negative: str = "W"

    @property
    def width(self) -> int:
        return 2

    def getter(self, index: int, name: str) -> _Getter:
        positive, negative = self.positive, self.negative

        def get(fields: list[str]) -> float | None:
            text = _field(fields, index)
            if not text:
                return None
            direction = _field(fields, index + 1)
            if direction not in (positive, negative):
                raise ParseError("syntax", f"bad direction {direction[:8]!r} after {text[:12]!r}")
            value = number(text)
            return -value if direction == negative else value

        return get

    def writer(self, prefix: str, fields: tuple[str, ...]) -> _Writer:
        key, default = prefix + self.names[0], self.default
        positive, negative = self.positive, self.negative

        def write(values: Mapping[str, float], t_s: float) -> list[str]:
            value = values.get(key, default)
            return [number_text(abs(value)), negative if value < 0 else positive]

        return write


#: The prefix of MWV's names read from sentences of reference ``T`` (true wind); the others
#: are read from sentences of reference ``R`` (relative: the apparent wind).
_TRUE_WIND = "true_"


def _of_reference(get: _Getter, at: int, name: str) -> _Getter:
    """``get`` for the MWV sentences whose reference field (at ``at``) is the one of ``name``:
    ``T`` for the names of :data:`_TRUE_WIND`, else ``R``; None from the others."""
    reference = "T" if name.startswith(_TRUE_WIND) else "R"
    return lambda fields: get(fields) if _field(fields, at) == reference else None


@dataclass(frozen=True, slots=True)
class _WindAngle(_Slot):
    """MWV's wind angle (degrees from the bow) and its reference: ``R`` relative (the
    apparent wind, as the sensor on board measures it) or ``T`` true (theoretical: the
    apparent wind less the vessel's own motion, as an instrument computes it). An instrument
    may send both, one sentence each (a B&G Zeus2 chartplotter, gpsd's capture
    test/daemon/bundg_zeus_9.log: ``$WIMWV,57.5,R,13.0,N,A`` and ``$WIMWV,96.6,T,11.2,N,A``
    in turn): each name is read from the sentences of its own reference only
    (:func:`_of_reference`), so no channel mixes the two winds. Names: the relative angle,
    then the true one."""

    default: float = 180.0

    @property
    def width(self) -> int:
        return 2

    def getter(self, index: int, name: str) -> _Getter:
        return _of_reference(_plain(index), index + 1, name)

    def writer(self, prefix: str, fields: tuple[str, ...]) -> _Writer:
        key, true_key, default = prefix + self.names[0], prefix + "reference", self.default

        def write(values: Mapping[str, float], t_s: float) -> list[str]:
            reference = "T" if values.get(true_key) else "R"
            return [number_text(values.get(key, default)), reference]

        return write


@dataclass(frozen=True, slots=True)
class _WindSpeed(_Slot):
    """A speed and its unit letter (``M`` m/s, ``K`` km/h, ``N`` knots, ``S`` mph), after
    MWV's reference field (see :class:`_WindAngle`). Names: the relative wind's speed in its
    own unit and in m/s, then the true wind's."""

    default_mps: float = 5.0

    @property
    def width(self) -> int:
        return 2

    def getter(self, index: int, name: str) -> _Getter:
        get = self._getter(index, name.removeprefix(_TRUE_WIND))
        return _of_reference(get, index - 1, name)

    def _getter(self, index: int, name: str) -> _Getter:
        if name == self.names[0]:
            return _plain(index)

        def get_mps(fields: list[str]) -> float | None:
            text = _field(fields, index)
            if not text:
                return None
            factor = _WIND_UNIT_MPS.get(_field(fields, index + 1))
            if factor is None:  # a unit letter in lowercase stands for its unit
                unit = _field(fields, index + 1)
                factor = _WIND_UNIT_MPS.get(unit.upper())
                if factor is None:
                    raise ParseError("syntax", f"unknown wind speed unit {unit[:8]!r}")
            return number(text) * factor

        return get_mps

    def writer(self, prefix: str, fields: tuple[str, ...]) -> _Writer:
        own, mps = prefix + self.names[0], prefix + self.names[1]
        true_key, default_mps = prefix + "reference", self.default_mps
        # only the converted speed is asked for (of the wind the sentence is written for):
        # send m/s, which needs no conversion
        mps_only = [
            f"{prefix}{kind}{self.names[1]}" in fields
            and f"{prefix}{kind}{self.names[0]}" not in fields
            for kind in ("", _TRUE_WIND)
        ]

        def write(values: Mapping[str, float], t_s: float) -> list[str]:
            if mps_only[1 if values.get(true_key) else 0]:
                return [number_text(values.get(mps, default_mps)), "M"]
            speed = values.get(own)
            if speed is None:
                speed = values.get(mps, default_mps) / _KNOTS_MPS
            return [number_text(speed), "N"]

        return write


def _unit_of(fields: list[str], at: int, unit: str) -> None:
    """Raises ``syntax`` unless field ``at`` holds ``unit`` (in either case): the unit letter
    after a value of MDA's, which the standard gives one letter each (``C`` after a
    temperature). Another letter, or none, is a field written wrong, not a value in another
    unit to be read as one."""
    found = _field(fields, at)
    if found != unit and found.upper() != unit:
        raise ParseError("syntax", f"unit {found[:8]!r} where {unit!r} belongs")


@dataclass(frozen=True, slots=True)
class _Measure(_Slot):
    """A number and its unit letter, which is always ``unit`` (MDA's ``C`` after a
    temperature, ``T`` after a direction in degrees true). An empty number field is no value,
    whatever its unit field (a weather station leaves both empty for what it does not
    measure); a number with another unit letter, or none, is a syntax error
    (:func:`_unit_of`)."""

    unit: str = ""
    default: float = 0.0
    #: a number without its unit letter is read, in ``unit`` (MTW's: the standard gives its
    #: temperature no other unit; another letter is still an error)
    bare: bool = False

    @property
    def width(self) -> int:
        return 2

    def unit_letters(self, index: int) -> tuple[tuple[int, str, frozenset[str]], ...]:
        return ((index, self.unit, frozenset({self.unit, self.unit.lower()})),)

    def getter(self, index: int, name: str) -> _Getter:
        unit = self.unit

        def get(fields: list[str]) -> float | None:
            text = _field(fields, index)
            if not text:
                return None
            _unit_of(fields, index + 1, unit)
            return number(text)

        if self.bare:

            def get_bare(fields: list[str]) -> float | None:
                text = _field(fields, index)
                if not text:
                    return None
                if _field(fields, index + 1):
                    _unit_of(fields, index + 1, unit)
                return number(text)

            return get_bare
        return get

    def writer(self, prefix: str, fields: tuple[str, ...]) -> _Writer:
        key, default, unit = prefix + self.names[0], self.default, self.unit
        return lambda values, t_s: [number_text(values.get(key, default)), unit]


@dataclass(frozen=True, slots=True)
class _TwoUnits(_Slot):
    """One quantity in two units, each a :class:`_Measure`: ``v1,u1,v2,u2`` (MDA's pressure
    in inches of mercury and in bars, its wind speed in knots and in m/s). Names: the value in
    the first unit, then in the second, each read from its own field, else converted from the
    other one, its unit letter checked as :class:`_Measure` checks it (MWD's wind speed, in
    knots and in m/s, too). ``factor`` is the second unit's value of one of the first;
    ``default`` is in the second unit."""

    units: tuple[str, str] = ("", "")
    factor: float = 1.0
    default: float = 0.0

    @property
    def width(self) -> int:
        return 4

    def unit_letters(self, index: int) -> tuple[tuple[int, str, frozenset[str]], ...]:
        first, second = self.units
        return (
            (index, first, frozenset({first, first.lower()})),
            (index + 2, second, frozenset({second, second.lower()})),
        )

    def getter(self, index: int, name: str) -> _Getter:
        own, other, factor = index, index + 2, 1.0 / self.factor
        own_unit, other_unit = self.units
        if name == self.names[1]:
            own, other, factor = other, own, self.factor
            own_unit, other_unit = other_unit, own_unit

        def get(fields: list[str]) -> float | None:
            text = _field(fields, own)
            if text:
                _unit_of(fields, own + 1, own_unit)
                return number(text)
            text = _field(fields, other)
            if not text:
                return None
            _unit_of(fields, other + 1, other_unit)
            return number(text) * factor

        return get

    def writer(self, prefix: str, fields: tuple[str, ...]) -> _Writer:
        first_key, second_key = prefix + self.names[0], prefix + self.names[1]
        (first_unit, second_unit), factor, default = self.units, self.factor, self.default

        def write(values: Mapping[str, float], t_s: float) -> list[str]:
            first, second = values.get(first_key), values.get(second_key)
            if first is None and second is None:
                second = default
            if first is None:
                first = second / factor if second is not None else 0.0
            if second is None:
                second = first * factor
            return [number_text(first), first_unit, number_text(second), second_unit]

        return write


@dataclass(frozen=True, slots=True)
class _Depths(_Slot):
    """One depth in feet, metres and fathoms: ``ft,f,m,M,fa,F``. Read from the metres field,
    else from the feet or fathoms field. The feet's letter is a lowercase ``f``, the
    fathoms' an uppercase ``F``, and either is taken in the other case (the two are told
    apart by their places); the metres' is ``M``, or ``m`` as kplex's SeaTalk bridge
    writes it (stripydog/kplex seatalk.c: ``$IIDBT,%.1f,f,%.1f,m,%.1f,F``)."""

    default: float = 0.0

    @property
    def width(self) -> int:
        return 6

    def unit_letters(self, index: int) -> tuple[tuple[int, str, frozenset[str]], ...]:
        return (
            (index, "f", frozenset({"f", "F"})),
            (index + 2, "M", frozenset({"M", "m"})),
            (index + 4, "F", frozenset({"F", "f"})),
        )

    def getter(self, index: int, name: str) -> _Getter:
        units = (
            (index + 2, 1.0),
            (index, _METRES_PER_FOOT),
            (index + 4, _METRES_PER_FATHOM),
        )

        def get(fields: list[str]) -> float | None:
            for at, metres_per_unit in units:
                text = _field(fields, at)
                if text:
                    return number(text) * metres_per_unit
            return None

        return get

    def writer(self, prefix: str, fields: tuple[str, ...]) -> _Writer:
        key, default = prefix + self.names[0], self.default

        def write(values: Mapping[str, float], t_s: float) -> list[str]:
            metres = values.get(key, default)
            feet, fathoms = metres / _METRES_PER_FOOT, metres / _METRES_PER_FATHOM
            return [number_text(feet), "f", number_text(metres), "M", number_text(fathoms), "F"]

        return write


@dataclass(frozen=True, slots=True)
class _Transducers(_Slot):
    """XDR's quadruples ``type,value,unit,name``, one per ``XDR.<name>`` field; any number of
    them, the values named by their name field."""

    @property
    def width(self) -> int:
        return 4

    def getter(self, index: int, name: str) -> _Getter:
        kind, typed, bare = name.partition(":")
        if typed:  # ``<type>:<name>``: the quadruple of that type and name (which may be empty)

            def get_typed(fields: list[str]) -> float | None:
                for at in range(index + 3, len(fields), 4):
                    if fields[at] == bare and fields[at - 3] == kind:
                        text = fields[at - 2]
                        return number(text) if text else None
                return None

            return get_typed

        def get(fields: list[str]) -> float | None:
            # names at index + 3, index + 7, ...; each value two fields before its name
            for at in range(index + 3, len(fields), 4):
                if fields[at] == name:
                    text = fields[at - 2]
                    return number(text) if text else None
            return None

        return get

    def getter_in(self, index: int, name: str, units: tuple[str, ...], channel: str) -> _Getter:
        """:meth:`getter`, for ``channel``; with ``units``, the value of the first quadruple of
        that name (and type) whose unit field is one of them (a station that sends its
        pressure in bars and in inches of mercury under one name is read in the unit asked; a
        WXT520 names every quadruple 0), and when none is, the first with a value in another
        unit is :class:`~sensord.errors.OtherUnitError` ``invalid``: that quadruple's value is
        sound, in a unit the channel does not take."""
        kind, typed, bare = name.partition(":")
        want = bare if typed else name
        accepted = frozenset(units)
        listed = ", ".join(units)

        def get(fields: list[str]) -> float | None:
            other = -1
            # names at index + 3, index + 7, ...; each value two fields before its name
            for at in range(index + 3, len(fields), 4):
                if fields[at] == want and (not typed or fields[at - 3] == kind):
                    if fields[at - 1] in accepted:
                        text = fields[at - 2]
                        return number(text) if text else None
                    if other < 0 and fields[at - 2]:
                        other = at
            if other < 0:  # none, or none with a value, whatever its unit
                return None
            quadruple = ",".join(fields[other - 3 : other + 1])
            raise OtherUnitError(
                "invalid",
                f"XDR {quadruple[:40]!r}: its unit {fields[other - 1][:20]!r} is none of the "
                f"units of channel {channel!r} ({listed})",
            )

        return get

    def writer(self, prefix: str, fields: tuple[str, ...]) -> _Writer:
        return self.writer_in(prefix, fields, {})

    def writer_in(self, prefix: str, fields: tuple[str, ...], units: Mapping[str, str]) -> _Writer:
        """:meth:`writer`, each quadruple's unit field the text ``units`` gives its field
        (``XDR.STNP``), else empty."""
        names = [field[len(prefix) :] for field in fields if field.startswith(prefix)]

        def write(values: Mapping[str, float], t_s: float) -> list[str]:
            texts: list[str] = []
            for name in names:
                value = values.get(prefix + name)
                if value is not None:
                    kind, typed, bare = name.partition(":")
                    unit = units.get(prefix + name, "")
                    texts += (
                        (kind, number_text(value), unit, bare)
                        if typed
                        else ("G", number_text(value), unit, name)
                    )
            return texts

        return write


@dataclass(frozen=True, slots=True)
class _Mode(_Slot):
    """GNS's mode indicator, one letter per constellation: all ``N`` (no fix), or an ``M``
    (manual input) or ``S`` (simulator mode) for any constellation, switches the sentence's
    gated values off: a position entered by hand or simulated is no measurement, as GGA's
    qualities 7 and 8 are none (:data:`_NO_FIX`)."""

    text: str = "AA"

    def gate_at(self, index: int) -> Callable[[list[str]], bool] | None:
        def gated(fields: list[str]) -> bool:
            mode = _field(fields, index)
            return not mode.strip("N") or "M" in mode or "S" in mode

        return gated

    def writer(self, prefix: str, fields: tuple[str, ...]) -> _Writer:
        return _constant([self.text])


def _utc(clock: str, day: str, month: str, year: str) -> float:
    """Unix seconds of a UTC time of day ``hhmmss(.ss)`` on a date."""
    if len(clock) < 6 or not clock[:6].isdigit() or not (day + month + year).isdigit():
        raise ParseError("syntax", f"bad NMEA date or time {clock[:12]!r} {day}/{month}/{year}")
    hours, minutes, seconds = int(clock[:2]), int(clock[2:4]), number(clock[4:])
    try:
        days = date(int(year), int(month), int(day)).toordinal() - _EPOCH_ORDINAL
    except (ValueError, OverflowError):  # OverflowError: more digits than a C int holds
        raise ParseError("syntax", f"bad NMEA date {day}/{month}/{year}") from None
    if hours > 23 or minutes > 59 or seconds >= 61.0:  # 60.x: a leap second
        raise ParseError("syntax", f"bad NMEA time {clock[:12]!r}")
    return days * 86400.0 + hours * 3600.0 + minutes * 60.0 + seconds


@dataclass(frozen=True, slots=True)
class _Date(_Slot):
    """The UTC date: ``ddmmyy`` (RMC; years 80 to 99 are 1980 to 1999) or, with ``separate``,
    ``dd,mm,yyyy`` (ZDA). With the time of day in field 1 it is the receiver's clock, read as
    Unix seconds; the decoder subtracts the host's wall clock (``clock_offset``)."""

    separate: bool = False

    @property
    def width(self) -> int:
        return 3 if self.separate else 1

    def getter(self, index: int, name: str) -> _Getter:
        separate = self.separate

        def get(fields: list[str]) -> float | None:
            clock = _field(fields, 1)
            if separate:
                day, month, year = (_field(fields, index + i) for i in range(3))
                if year and len(year) != 4:
                    raise ParseError("syntax", f"ZDA year {year[:8]!r} is not four digits")
            else:
                text = _field(fields, index)
                day, month, year = text[:2], text[2:4], text[4:]
                if len(text) == 6 and year.isdigit():
                    year = ("19" if year >= "80" else "20") + year
            if not clock or not (day or month or year):
                return None
            return _utc(clock, day, month, year)

        return get

    def writer(self, prefix: str, fields: tuple[str, ...]) -> _Writer:
        separate = self.separate

        def write(values: Mapping[str, float], t_s: float) -> list[str]:
            day = date.fromordinal(_EPOCH_ORDINAL + int(t_s // 86400.0))
            if separate:
                return [f"{day.day:02d}", f"{day.month:02d}", f"{day.year:04d}"]
            return [f"{day.day:02d}{day.month:02d}{day.year % 100:02d}"]

        return write


@dataclass(frozen=True, slots=True)
class _SatelliteIds(_Slot):
    """GSA's twelve fields of the satellites used in the fix, then (after the three DOPs) the
    system ID, then any satellites past the twelfth. ``satellites_used`` counts them, sentence
    by sentence. ``used_<constellation>`` counts those of the constellation
    (:func:`~sensord.formats.nmea_satellites._used_by_constellation`) over the run of GSA
    sentences the sentence is in, and is read by the decoder's
    :class:`~sensord.formats.nmea_satellites.UsedSatellites`, not by a getter."""

    @property
    def width(self) -> int:
        return 12

    def getter(self, index: int, name: str) -> _Getter:
        past_twelve = index + 16  # after the DOPs and the system ID (see _gsa_of_twelve)

        def count(fields: list[str]) -> float | None:
            if garbled_satellite_number(fields) is not None:
                return None  # the decoder counts the field that is no satellite number
            # a field of zeros lists no satellite (see nmea_satellites), nor does an empty one
            listed = sum(1 for text in fields[index : index + 12] if text.lstrip("0"))
            return float(listed + max(0, len(fields) - past_twelve))

        return count

    def writer(self, prefix: str, fields: tuple[str, ...]) -> _Writer:
        used, any_used, system = prefix + "used", prefix + self.names[0], prefix + "system"

        def write(values: Mapping[str, float], t_s: float) -> list[str]:
            n = values.get(used, values.get(any_used, 8.0))
            n = max(0, min(12, round(n))) if math.isfinite(n) else 0
            first = 1 + 64 * (values.get(system, 1.0) == CONSTELLATIONS["glonass"][1])
            return [f"{first + i:02d}" for i in range(n)] + [""] * (12 - n)

        return write


@dataclass(frozen=True, slots=True)
class _System(_Slot):
    """The NMEA 4.10 system ID field; the encoder writes the constellation it writes for."""

    def writer(self, prefix: str, fields: tuple[str, ...]) -> _Writer:
        key = prefix + "system"
        return lambda values, t_s: [str(int(values.get(key, 1.0)))]


@dataclass(frozen=True, slots=True)
class _SatellitesInView(_Slot):
    """GSV's group fields: sentences in the group, this sentence's number, satellites in view
    (the first and the last empty after sentence 1 on an AirMar: its group's),
    then per satellite its number, elevation, azimuth and SNR (dB-Hz; empty, or ``00`` from
    some receivers, when not tracked),
    at most four per sentence, and the NMEA 4.10 signal ID when there is one field more.

    GSV is read as whole groups (:class:`~sensord.formats.nmea_satellites.SatelliteGroups`),
    never sentence by sentence. Its names are spelled for each constellation and for the SBAS
    satellites (:data:`~sensord.formats.nmea_satellites.SBAS`).
    The encoder writes a group of ``in_view`` satellites (at most 36; at most 32 for GPS,
    whose numbers 33-64 are SBAS satellites, and for SBAS, a ``GN`` group numbered from 33):
    the first with SNR ``snr_max``, the others with the SNR that makes their mean
    ``snr_mean`` (whole dB-Hz, within 0 and the maximum)."""

    @property
    def width(self) -> int:
        return 3

    def all_names(self) -> tuple[str, ...]:
        sbas = (f"{base}_{SBAS}" for base in self.per_constellation)
        return (*_Slot.all_names(self), *sbas)

    def writer(self, prefix: str, fields: tuple[str, ...]) -> _Writer:
        in_view, mean_key, max_key = (prefix + name for name in self.per_constellation)
        system_key = prefix + "system"

        def write(values: Mapping[str, float], t_s: float) -> list[str]:
            system = int(values.get(system_key, 1.0))
            sbas = system == _WRITTEN[SBAS][1]
            most = 32 if sbas or system == CONSTELLATIONS["gps"][1] else 36
            n = values.get(in_view, 8.0)
            n = max(0, min(most, round(n))) if math.isfinite(n) else 0
            peak = _snr(values.get(max_key, 45.0))
            mean = min(_snr(values.get(mean_key, 38.0)), peak)
            rest = min(peak, max(0.0, (n * mean - peak) / (n - 1))) if n > 1 else peak
            first = 33 if sbas else 65 if system == CONSTELLATIONS["glonass"][1] else 1
            total = max(1, -(-n // 4))
            texts: list[str] = []
            for k in range(total):
                texts += [str(total), str(k + 1), f"{n:02d}"]
                for sat in range(4 * k, min(4 * k + 4, n)):
                    snr = peak if sat == 0 else rest
                    elevation, azimuth = 5 + (sat * 17) % 85, (sat * 47) % 360
                    texts += [f"{first + sat:02d}", f"{elevation:02d}", f"{azimuth:03d}"]
                    texts.append(f"{round(snr):02d}" if round(snr) else "")
            return texts

        return write


def _snr(value: float) -> float:
    return max(0.0, min(99.0, value)) if math.isfinite(value) else 0.0


@dataclass(frozen=True, slots=True)
class _Sentence:
    """The layout of one sentence type: its default talker and its fields after the address.
    With ``fields_per_sentence``, the fields are written over as many sentences as needed."""

    talker: str
    slots: tuple[_Slot, ...]
    fields_per_sentence: int | None = None
    #: The fields of one repeated group (XDR's quadruple): the fields are written over as many
    #: sentences as needed, each of up to four whole groups, as many as fit in
    #: :data:`_MAX_BODY` characters (one group when a single one is longer).
    group_fields: int | None = None
    #: The fields after the address that every complete sentence has, when older versions of
    #: the standard define fewer than ``slots`` (RMC before NMEA 2.3 has no mode field);
    #: None: all of them. A sentence without checksum that has fewer is ``truncated``.
    least_fields: int | None = None
    #: The encoder writes one sentence per constellation the channels name: ``"system"``
    #: with ``talker`` and the constellation's system ID (GSA), ``"talker"`` with the
    #: constellation's talker (GSV); None: one sentence.
    constellations: str | None = None
    #: The encoder writes one sentence for the names of the relative wind and one of
    #: reference ``T`` for those of the true wind (:data:`_TRUE_WIND`), for each the channels
    #: name (MWV).
    references: bool = False
    #: Every value's unit letter is fixed (MWD, VWR, VWT, DBT, VHW, VLW, VTG, HDT, HDM, GGA's
    #: altitude and geoid separation): one out of place is fields out of place, and rejects
    #: the sentence whole before any value is read (:data:`_UNITS_PLACED`).
    units_placed: bool = False
    #: The type's layout of older versions of the standard that has no unit letters, when
    #: it has one (VTG's four numbers, :func:`_vtg_without_letters`): a sentence's fields in
    #: the layout of ``slots`` when the sentence is in that older layout, else None. Asked
    #: only of a sentence whose unit letters are out of place, and of one without checksum
    #: that has fewer fields than ``least_fields``: a sentence in the current layout costs
    #: nothing more.
    letterless: Callable[[list[str]], list[str] | None] | None = None

    def positions(self) -> Iterator[tuple[_Slot, int]]:
        """Each slot with the index of its first field (the address is field 0)."""
        index = 1
        for slot in self.slots:
            yield slot, index
            index += slot.width


#: GGA's fix quality fields of no fix: ``0`` (invalid), empty, and the positions that are no
#: measurement: ``7`` (manual input: a position the user entered, as a timing receiver in
#: fixed-position mode reports) and ``8`` (simulator mode). With them GGA gives its fix
#: quality and satellites only, as RMC and GLL give nothing in these modes (NMEA 0183 2.3 and
#: later: their status is ``V`` for every mode but autonomous and differential). ``6``
#: (estimated: dead reckoning, the receiver's own estimate of where it is, from its motion
#: sensors or its last velocity) is read as a fix: the track goes on through a tunnel, and
#: ``GGA.fix_quality`` tells it apart.
_NO_FIX = frozenset({"0", "", "7", "8"})

#: Where the simulated receiver is when no channel asks for its position.
_POSITION = 48.1173, 11.5167

#: Sentence type -> layout: the one description of each sentence, read by the decoder and
#: written by the encoder.
#: Where the true wind blows from, in degrees true and magnetic, and its speed in knots and
#: in m/s: MWD's fields, and the last of MDA's.
_WIND_FROM: tuple[_Slot, ...] = (
    _Measure(("wind_direction",), unit="T", default=270.0),
    _Measure(("wind_direction_magnetic",), unit="M", default=268.5),
    _TwoUnits(
        ("wind_speed_knots", "wind_speed_mps"),
        units=("N", "M"),
        factor=_KNOTS_MPS,
        default=5.0,
    ),
)

#: The wind of VWR (relative) and VWT (true), the sentences older wind instruments send in
#: place of MWV: the angle off the bow, 0 to 180 degrees, ``R`` to starboard (positive) or
#: ``L`` to port (negative), and the speed in knots, m/s and km/h, each unit letter fixed.
_WIND_OFF_THE_BOW: tuple[_Slot, ...] = (
    _Signed(("wind_angle",), default=45.0, positive="R", negative="L"),
    _TwoUnits(
        ("wind_speed_knots", "wind_speed_mps"),
        units=("N", "M"),
        factor=_KNOTS_MPS,
        default=5.0,
    ),
    _Number(("wind_speed_kmh",), default=18.0),
    _UnitLetter(text="K"),
)

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


SENTENCES: dict[str, _Sentence] = {
    "GGA": _Sentence(
        "GP",
        (
            _Time(),
            _Coordinate(("latitude",), gated=True, default=_POSITION[0]),
            _Coordinate(
                ("longitude",),
                gated=True,
                default=_POSITION[1],
                degree_digits=3,
                positive="E",
                negative="W",
            ),
            _Number(("fix_quality",), default=1.0, digits=1, gate=_NO_FIX),
            _Number(("satellites",), default=8.0, digits=2),
            _Dop(("hdop",), gated=True, default=0.9),
            _Number(("altitude",), gated=True, default=545.4),
            _UnitLetter(text="M", bare=True),
            _Text(text="46.9"),
            _UnitLetter(text="M", bare=True),
            _Text(),
            _Text(),
        ),
        units_placed=True,
    ),
    "RMC": _Sentence(
        "GP",
        (
            _Time(),
            _Status(valid="A"),
            _Coordinate(("latitude",), default=_POSITION[0]),
            _Coordinate(
                ("longitude",), default=_POSITION[1], degree_digits=3, positive="E", negative="W"
            ),
            _Number(("speed",), default=0.0),
            _Number(("course",), default=0.0),
            _Date(("clock_offset",)),
            _Text(),
            _Text(letters="EW"),
            _PositionMode(),
        ),
        least_fields=11,
    ),
    "MTW": _Sentence("II", (_Measure(("temperature",), unit="C", default=14.0, bare=True),)),
    "MWV": _Sentence(
        "II",
        (
            _WindAngle(("wind_angle", "true_wind_angle")),
            _WindSpeed(("wind_speed", "wind_speed_mps", "true_wind_speed", "true_wind_speed_mps")),
            _Status(valid="A", invalid=frozenset({"V"})),
        ),
        references=True,
    ),
    "MWD": _Sentence("WI", _WIND_FROM, units_placed=True),
    "VWR": _Sentence("II", _WIND_OFF_THE_BOW, units_placed=True),
    "VWT": _Sentence("II", _WIND_OFF_THE_BOW, units_placed=True),
    "MDA": _Sentence(
        "WI",
        (
            _TwoUnits(
                ("pressure_inhg", "pressure_bar"),
                units=("I", "B"),
                factor=_BAR_PER_INHG,
                default=1.0132,
            ),
            _Measure(("air_temperature",), unit="C", default=18.0),
            _Measure(("water_temperature",), unit="C", default=14.0),
            _Number(("relative_humidity",), default=65.0),
            _Number(("absolute_humidity",), default=1.2),
            _Measure(("dew_point",), unit="C", default=11.2),
            *_WIND_FROM,
        ),
    ),
    "VHW": _Sentence(
        "VW",
        (
            _Number(("heading",), default=90.0),
            _UnitLetter(text="T"),
            _Number(("heading_magnetic",), default=88.5),
            _UnitLetter(text="M"),
            _Number(("speed_knots",), default=5.0),
            _UnitLetter(text="N"),
            _Number(("speed_kmh",), default=9.26),
            _UnitLetter(text="K"),
        ),
        units_placed=True,
    ),
    "VLW": _Sentence(
        "VW",
        (
            _Number(("total_distance",), default=1200.0),
            _UnitLetter(text="N"),
            _Number(("trip_distance",), default=12.0),
            _UnitLetter(text="N"),
            _Number(("total_ground_distance",), default=1190.0),
            _UnitLetter(text="N"),
            _Number(("trip_ground_distance",), default=11.5),
            _UnitLetter(text="N"),
        ),
        least_fields=4,
        units_placed=True,
    ),
    "DPT": _Sentence("II", (_Number(("depth",), default=12.0), _Number(("offset",), default=0.4))),
    "DBT": _Sentence("II", (_Depths(("depth",), default=12.0),), units_placed=True),
    # a heading alone: a letter left out shifts no field, so a compass that sends none is read
    "HDT": _Sentence(
        "HE",
        (_Number(("heading",), default=90.0), _UnitLetter(text="T", bare=True)),
        units_placed=True,
    ),
    "HDM": _Sentence(
        "HC",
        (_Number(("heading",), default=88.0), _UnitLetter(text="M", bare=True)),
        units_placed=True,
    ),
    "HDG": _Sentence(
        "HC",
        (
            _Number(("heading",), default=88.0),
            _Signed(("deviation",), default=0.0),
            _Signed(("variation",), default=1.5),
        ),
    ),
    "THS": _Sentence(
        "GP",
        (
            _Number(("heading",), default=90.0),
            # V not valid; M manual input and S simulator mode are no measurement either
            _Status(valid="A", invalid=frozenset({"V", "M", "S"})),
        ),
    ),
    "ROT": _Sentence("TI", (_Number(("rate",), default=0.0), _Status(valid="A"))),
    "GST": _Sentence(
        "GP",
        (
            _Time(),
            _Number(("rms",), default=2.1),
            _Number(("error_major",), default=1.8),
            _Number(("error_minor",), default=1.2),
            _Number(("error_orientation",), default=35.0),
            _Number(("latitude_error",), default=1.4),
            _Number(("longitude_error",), default=1.6),
            _Number(("altitude_error",), default=2.9),
        ),
    ),
    "XDR": _Sentence("YX", (_Transducers(),), group_fields=4),
    "GSA": _Sentence(
        "GN",
        (
            _Text(text="A"),
            _Number(("fix_mode",), default=3.0, digits=1, gate=frozenset({"1"})),
            _SatelliteIds(("satellites_used",), per_constellation=("used",)),
            _Dop(("pdop",), gated=True, default=1.6),
            _Dop(("hdop",), gated=True, default=0.9),
            _Dop(("vdop",), gated=True, default=1.3),
            _System(),
        ),
        least_fields=17,
        constellations="system",
    ),
    "GSV": _Sentence(
        "GP",
        (_SatellitesInView(per_constellation=("in_view", "snr_mean", "snr_max")),),
        fields_per_sentence=19,
        constellations="talker",
    ),
    "VTG": _Sentence(
        "GP",
        (
            _Number(("course",), default=0.0),
            _UnitLetter(text="T"),
            _Text(),
            _UnitLetter(text="M"),
            _Number(("speed_knots",), default=0.0),
            _UnitLetter(text="N"),
            _Number(("speed_kmh",), default=0.0),
            _UnitLetter(text="K"),
            _Status(valid="A", invalid=_NOT_MEASURED),
        ),
        least_fields=8,
        units_placed=True,
        letterless=_vtg_without_letters,
    ),
    "GLL": _Sentence(
        "GP",
        (
            _Coordinate(("latitude",), default=_POSITION[0]),
            _Coordinate(
                ("longitude",), default=_POSITION[1], degree_digits=3, positive="E", negative="W"
            ),
            _Time(),
            _Status(valid="A"),
            _PositionMode(),
        ),
        least_fields=6,
    ),
    "GNS": _Sentence(
        "GN",
        (
            _Time(),
            _Coordinate(("latitude",), gated=True, default=_POSITION[0]),
            _Coordinate(
                ("longitude",),
                gated=True,
                default=_POSITION[1],
                degree_digits=3,
                positive="E",
                negative="W",
            ),
            _Mode(),
            _Number(("satellites",), default=12.0, digits=2),
            _Dop(("hdop",), gated=True, default=0.9),
            _Number(("altitude",), gated=True, default=545.4),
            _Text(text="46.9"),
            _Text(),
            _Text(),
        ),
        least_fields=12,
    ),
    "ZDA": _Sentence(
        "GP",
        (_Time(), _Date(("clock_offset",), separate=True), _Text(text="00"), _Text(text="00")),
    ),
}


def _getter(
    field: str, wall_clock: Callable[[], float], units: tuple[str, ...] = (), channel: str = ""
) -> tuple[str, _Getter] | None:
    """The sentence type of ``field`` and the getter that reads it from one sentence; None for
    unknown fields, for GSV's, which are read from whole groups, and for GSA's
    ``used_<constellation>``, read from runs of sentences
    (:class:`~sensord.formats.nmea_satellites.UsedSatellites`). ``units`` are the units of
    ``channel``, which reads ``field``: an XDR field's quadruple units it takes
    (:meth:`_Transducers.getter_in`); none for the other fields (see :func:`check`)."""
    sentence, _, name = field.partition(".")
    layout = SENTENCES.get(sentence)
    if layout is None or not name or sentence == "GSV" or field in _USED_FIELDS:
        return None
    gate: Callable[[list[str]], bool] | None = None
    found: tuple[_Slot, int] | None = None
    for slot, index in layout.positions():
        gate = slot.gate_at(index) or gate
        if name in slot.all_names() or (isinstance(slot, _Transducers) and _valid_xdr_name(name)):
            found = slot, index
    if found is None:
        return None
    slot, index = found
    get = (
        slot.getter_in(index, name, units, channel)
        if units and isinstance(slot, _Transducers)
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
_GPS_WEEK_ONE_S = (date(1980, 1, 13).toordinal() - _EPOCH_ORDINAL) * 86400.0


def _minus_clock(get: _Getter, wall_clock: Callable[[], float]) -> _Getter:
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


def _unless(gate: Callable[[list[str]], bool], get: _Getter) -> _Getter:
    """``get``, except while ``gate`` holds (GGA: no values but fix quality and satellites
    without a fix)."""

    def get_gated(fields: list[str]) -> float | None:
        return None if gate(fields) else get(fields)

    return get_gated


def _valid_xdr_name(name: str) -> bool:
    return bool(name) and name.isascii() and not any(c in name for c in ",*$!\r\n")


#: The NMEA field names a channel can use, besides ``XDR.<name>``.
NMEA_FIELDS = tuple(
    f"{sentence}.{name}"
    for sentence, layout in SENTENCES.items()
    for slot in layout.slots
    for name in slot.all_names()
)
_GSV_FIELDS = frozenset(field for field in NMEA_FIELDS if field.startswith("GSV."))
_USED_FIELDS = frozenset(field for field in NMEA_FIELDS if field.startswith("GSA.used_"))

#: Sentence type -> the fields after the address that every complete sentence of the type has.
_LEAST_FIELDS = {
    sentence: layout.least_fields
    if layout.least_fields is not None
    else sum(slot.width for slot in layout.slots)
    for sentence, layout in SENTENCES.items()
}

#: Sentence type -> its hemisphere fields: each one's index and the texts it may hold (its two
#: letters, or empty without a position): the coordinates' and RMC's magnetic variation's. One
#: that holds another text is no field written wrong but fields out of place: a field
#: separator lost or added before it, and every field after it read from its neighbour's place
#: (see :func:`_out_of_place`).
_HEMISPHERES = {
    sentence: found
    for sentence, layout in SENTENCES.items()
    if (
        found := tuple(
            (index + 1, frozenset({slot.positive, slot.negative, ""}))
            if isinstance(slot, _Coordinate)
            else (index, frozenset({*slot.letters, ""}))
            for slot, index in layout.positions()
            if isinstance(slot, _Coordinate) or (isinstance(slot, _Text) and slot.letters)
        )
    )
}


def _out_of_place(fields: list[str], hemispheres: tuple[tuple[int, frozenset[str]], ...]) -> str:
    """The first of a sentence's ``hemispheres`` (:data:`_HEMISPHERES`) that holds no
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


def _rmc_without_variation_letter(fields: list[str]) -> list[str] | None:
    """The fields of an RMC sentence that leaves out its magnetic variation's ``E``/``W``
    field, in the standard's layout: its mode indicator, which stands in that field's place,
    moved to its own. A Saab R4 AIS transponder's GPS sends ``...,0.5,3.0,010611,,A`` (gpsd's
    capture saab-r4.log), a Motorola T805's SiRF III ``...,0.56,344.41,181207,0,A``, its
    variation 0 without a letter (motorola-t805.log). None for any other sentence whose
    hemisphere field holds no hemisphere letter. A comma lost before the date
    (``0.0168.88,161021,,,D``, :func:`_out_of_place`) leaves the variation, empty or a number,
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
#: for it (:meth:`_Slot.unit_letters`).
_Letter = tuple[int, str, frozenset[str]]


#: The unit letters of a sentence type whose every unit is fixed (``_Sentence.units_placed``):
#: a function that takes a sentence's letter fields at once (:func:`operator.itemgetter`),
#: what it gives for a sentence whose letters are all written as the standard writes them
#: (in place at one comparison), and the letters, each checked alone for any other sentence
#: (:func:`_misplaced_unit`). A plain tuple: the decoder unpacks it for every such sentence.
_Units = tuple[Callable[[list[str]], object], object, tuple[_Letter, ...]]


def _units(letters: tuple[_Letter, ...]) -> _Units:
    letter_fields = [at + 1 for at, _, _ in letters]
    units = tuple(unit for _, unit, _ in letters)
    return itemgetter(*letter_fields), units if len(units) > 1 else units[0], letters


#: Sentence type -> its unit letters, for the types whose every unit is fixed (``MWD``,
#: ``DBT``, ``GGA``, ``VTG``, ...).
_UNITS_PLACED = {
    sentence: _units(
        tuple(letter for slot, index in layout.positions() for letter in slot.unit_letters(index))
    )
    for sentence, layout in SENTENCES.items()
    if layout.units_placed
}

#: Sentence type -> its fields in the current layout from a sentence in the type's older
#: layout without unit letters (``_Sentence.letterless``), for the types that have one.
_LETTERLESS = {
    sentence: layout.letterless
    for sentence, layout in SENTENCES.items()
    if layout.letterless is not None
}


def _in_older_layout(sentence: str, fields: list[str]) -> list[str] | None:
    """``fields`` in the current layout when they are in an older layout of ``sentence``
    without unit letters (:data:`_LETTERLESS`); None otherwise, and for a type without one."""
    older = _LETTERLESS.get(sentence)
    return older(fields) if older is not None else None


def _misplaced_unit(fields: list[str], units: tuple[_Letter, ...]) -> str:
    """The first of a sentence's ``units`` (:data:`_UNITS_PLACED`) out of place, told as
    ``unit 'x' where 'y' belongs``; empty when each is in place: a letter of its number's unit
    after it (none too where its letters hold none: GGA's, :class:`_UnitLetter`), or, after an
    empty number, that letter or none (an instrument that measures in one unit leaves the
    others' numbers empty, with their letters or without: ``$SDDBT,,f,3.7,M,,F``, a log that
    measures speed only ``$VWVHW,,,,,5.5,N,,``, a Saab R4's ``$GPVTG,3.0,T,,,0.50,N,,,D``).
    Where every unit is fixed, another letter, or a number without its letter, is no field
    written wrong but fields out of place, as a hemisphere field that holds no hemisphere
    letter is (:func:`_out_of_place`): an instrument with its own layout, or a field lost or
    added before the checksum was computed, and each value read from another's place (a wind
    speed in m/s read as knots, a depth in feet as metres, a VTG's km/h as knots)."""
    for at, unit, letters in units:
        found = _field(fields, at + 1)
        if found not in letters and (found or _field(fields, at)):
            return f"unit {found[:8]!r} where {unit!r} belongs"
    return ""


#: The sentences that carry the receiver's one fix or time whatever their talker, read once
#: an epoch (see :func:`_fix_validator`): sentence type -> its time field and its position
#: fields (latitude and longitude with their hemispheres; none in ZDA).
_ONE_FIX = {"RMC": (1, slice(3, 7)), "GLL": (5, slice(1, 5)), "ZDA": (1, slice(1, 1))}


def _fix_validator(
    status_at: int, mode_at: int, time_at: int, position: slice
) -> Callable[[list[str]], bool]:
    """Whether an RMC or GLL sentence is read: its status is ``A`` and its mode indicator,
    when it has one, is no letter of :data:`_NOT_MEASURED`, and it repeats no fix.

    A valid sentence with the time field of the valid one of its type read before it, not
    empty, and the same position repeats that fix and is ignored, whatever its address
    (talker): a receiver may send each epoch's fix under two talkers, the same time and values
    in both (a Telit PLS83: ``$GPRMC`` and then ``$GARMC``), and read both, every channel
    would get two identical readings an epoch, which a window would weigh twice. The fix is the
    receiver's one whatever its talker (no constellation's own part of it, as GSA and GSV
    carry), so the first is read. Under the same talker it is a receiver that lost its fix and
    goes on sending its last sentence unchanged (as :func:`_repeated_gga` reads a latched GGA):
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
            if fields[status_at] != "A" or fields[mode_at] in _NOT_MEASURED:
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


def _fix_readers() -> dict[str, Callable[[list[str]], bool | None]]:
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
        if isinstance(slot, _Number) and slot.names == ("fix_quality",)
    )
    status_at = mode_at = 0
    for slot, index in SENTENCES["RMC"].positions():
        if isinstance(slot, _Status):
            status_at = index
        elif isinstance(slot, _PositionMode):
            mode_at = index

    def gga_fix(fields: list[str]) -> bool | None:
        quality = _field(fields, gga)
        return None if quality in ("7", "8") else quality not in _NO_FIX

    def rmc_fix(fields: list[str]) -> bool | None:
        mode = _field(fields, mode_at)
        if mode in ("M", "S"):
            return None
        return mode == "E" or _field(fields, status_at) == "A"

    return {"GGA": gga_fix, "RMC": rmc_fix}


#: The sentences of a receiver's fix: their values are measured only with one (the position,
#: speed and course, the DOPs and satellites used, the error estimates). GSV's satellites in
#: view, ZDA's time and an instrument's sentences are read without.
_FIX_SENTENCES = ("GGA", "GLL", "GNS", "GSA", "GST", "RMC", "VTG")


def _validators() -> dict[str, Callable[[list[str]], bool]]:
    """One decoder's validators: sentence type -> whether a sentence of the type is read
    (its status, and for :data:`_ONE_FIX` whether it repeats the fix read before it)."""
    made: dict[str, Callable[[list[str]], bool]] = {}
    for sentence, layout in SENTENCES.items():
        status_at = mode_at = None
        for slot, index in layout.positions():
            if isinstance(slot, _Status):
                status_at = index
                made[sentence] = slot.validator(index)
            elif isinstance(slot, _PositionMode):
                mode_at = index
        once = _ONE_FIX.get(sentence)
        if once is not None:
            if status_at is not None and mode_at is not None:
                made[sentence] = _fix_validator(status_at, mode_at, *once)
            else:
                made[sentence] = _time_validator(once[0])
    return made


#: The sentences that tell, each epoch, whether the receiver is in simulator mode: sentence
#: type -> the index of its field that says so and the character that does when the field
#: holds it (GGA's fix quality 8, RMC's and GLL's mode indicator ``S``, and GNS's mode
#: indicators, one per constellation, with an ``S`` for any). A Garmin handheld in its demo
#: mode (gpsd's captures GPSmap-76S.log and garmin-geko201.log) sends ``$GPRMC,...,V,...,S``,
#: ``$GPGGA`` of quality 8 and ``$GPGLL,...,V,S``, which give no position, but between them
#: ``$GPGSA,A,3,...`` with ten satellites and DOPs, and ``$GPVTG`` without mode field: read,
#: a fix mode 3 and a speed would be published for no fix at all.
_SIMULATOR_MODE = {"GGA": (6, "8"), "RMC": (12, "S"), "GLL": (7, "S"), "GNS": (6, "S")}
#: Sentence type -> the fields it is still read for after a sentence of
#: :data:`_SIMULATOR_MODE` said simulator mode: GSA's satellite counts, as GGA's satellites
#: are read at quality 8, but no fix mode and no DOP; nothing from a VTG (one without mode
#: field, NMEA 2.2 and before, in a simulated epoch).
_SIMULATED_KEEPS = {"GSA": frozenset({"satellites_used"}), "VTG": frozenset[str]()}


#: The fields of a standard GSA sentence, its address included: mode, fix mode, 12 satellite
#: fields, PDOP, HDOP, VDOP and (NMEA 4.10) the system ID.
_GSA_FIELDS = 19


def _gsa_of_twelve(fields: list[str]) -> list[str]:
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
    if len(fields) == _GSA_FIELDS and "." in fields[15]:
        return fields
    last = fields[-1]
    system = not last or (len(last) == 1 and last in "0123456789ABCDEFabcdef")
    if system and len(fields) > _GSA_FIELDS:
        system = all("." in dop or not dop for dop in fields[-4:-1])
    tail = 4 if system else 3
    if len(fields) - tail <= _GSA_FIELDS - 4:
        return fields
    ids = [text for text in fields[3 : len(fields) - tail] if text.lstrip("0")]
    dops = fields[len(fields) - tail :] + ([] if system else [""])
    return fields[:3] + ids[:12] + [""] * (12 - len(ids[:12])) + dops + ids[12:]


def check(spec: FormatSpec) -> list[tuple[str, str]]:
    # a channel's units are an XDR channel's own (_units_problems), no text's after a number
    problems = check_common(replace(spec, channel_units=()), reads_values=False)
    problems += _units_problems(spec)
    for i, (_, field) in enumerate(spec.fields):
        if (
            field not in _GSV_FIELDS
            and field not in _USED_FIELDS
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


def _repeated_gga(fields: list[str], last: list[list[str]]) -> bool:
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
            and (fields[0] != last[0][0] or _field(fields, 6) not in _NO_FIX)
        ):
            return True
    except IndexError:  # a GGA of its address alone, or one after it: no time to repeat
        pass
    last[0] = fields
    return False


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
    RMC, GLL and ZDA read, whose repeats it ignores (:func:`_repeated_gga`,
    :func:`_fix_validator`, :func:`_time_validator`), and whether the receiver says it is in
    simulator mode (:data:`_SIMULATOR_MODE`), which costs a sentence one look-up of its type.
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
    wanted: dict[str, list[tuple[str, _Getter]]] = {}
    #: The getters of :data:`_SIMULATED_KEEPS`' sentences kept in simulator mode.
    simulated: dict[str, list[tuple[str, _Getter]]] = {}
    by_constellation: dict[str, list[tuple[str, str]]] = {}
    used_by: dict[str, list[str]] = {}
    own_units = dict(spec.channel_units)
    for channel, field in spec.fields:
        if field in _GSV_FIELDS:
            stat, _, constellation = field[4:].rpartition("_")
            by_constellation.setdefault(constellation, []).append((stat, channel))
            continue
        if field in _USED_FIELDS:
            used_by.setdefault(field.rpartition("_")[2], []).append(channel)
            wanted.setdefault("GSA", [])
            continue
        found = _getter(field, wall_clock, own_units.get(channel, ()), channel)
        if found is None:  # excluded by check()
            raise ValueError(f"unknown NMEA field {field!r}")
        sentence, getter = found
        wanted.setdefault(sentence, []).append((channel, getter))
        keeps = _SIMULATED_KEEPS.get(sentence)
        if keeps is not None:
            kept = simulated.setdefault(sentence, [])
            if field.partition(".")[2] in keeps:
                kept.append((channel, getter))
    groups = SatelliteGroups(by_constellation) if by_constellation else None
    #: The GSV epoch under way (empty between epochs), which a frame of another kind ends.
    gsv_epoch = groups.epoch if groups is not None else {}
    used = UsedSatellites(used_by) if used_by else None
    counts.fix_channels = (
        *(channel for s in _FIX_SENTENCES for channel, _ in wanted.get(s, ())),
        *(channel for channels in used_by.values() for channel in channels),
    )
    encoding = spec.encoding
    valid = _validators()
    #: the sentences read that say whether the receiver has a fix (``counts.fixes``)
    fix_readers = {
        sentence: says for sentence, says in _fix_readers().items() if sentence in wanted
    }
    least = _LEAST_FIELDS
    hemispheres = _HEMISPHERES
    units_placed = _UNITS_PLACED
    #: The fields of the last GGA read (see :func:`_repeated_gga`).
    last_gga = [["", ""]]
    #: Whether the last sentence of :data:`_SIMULATOR_MODE` said simulator mode; only a
    #: decoder that reads a sentence of :data:`_SIMULATED_KEEPS` looks.
    simulator_mode = _SIMULATOR_MODE if simulated else {}
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
                    reshaped = _in_older_layout(sentence, fields)
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
                misplaced = _out_of_place(fields, letters)
                if misplaced:  # not one field written wrong: none is where it belongs
                    reshaped = _rmc_without_variation_letter(fields) if sentence == "RMC" else None
                    if reshaped is None or _out_of_place(reshaped, letters):
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
                    misplaced = _misplaced_unit(fields, unit_letters)
                    if misplaced:
                        reshaped = _in_older_layout(sentence, fields)
                        if reshaped is None:
                            detail = f"{sentence} fields out of place: {misplaced}"
                            raise ParseError("syntax", detail)
                        fields = reshaped
            if sentence == "GGA" and _repeated_gga(fields, last_gga):
                # a sentence that gives nothing ends the GSV epoch all the same
                return groups.close() if gsv_epoch and groups is not None else []
            if sentence == "GSA":
                if len(fields) >= _GSA_FIELDS:
                    fields = _gsa_of_twelve(fields)
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


#: The most characters of a sentence's address and fields: NMEA 0183 (4.10, section 5.3)
#: allows a sentence 82 characters from ``$`` to the line end, which are these, ``$``, ``*hh``
#: and CR LF.
_MAX_BODY = 82 - 1 - 3 - 2


#: The most groups (XDR's transducers) one sentence carries, as instruments send them.
_GROUPS_PER_SENTENCE = 4


def _grouped(address: str, texts: list[str], group: int) -> Iterator[str]:
    """The bodies of the sentences that carry ``texts`` (whole groups of ``group`` fields)
    after ``address``: up to :data:`_GROUPS_PER_SENTENCE` groups in each, as many as fit in
    :data:`_MAX_BODY` characters, and at least one."""
    body, groups = address, 0
    for i in range(0, len(texts), group):
        part = ",".join(texts[i : i + group])
        if body != address and (
            groups == _GROUPS_PER_SENTENCE or len(body) + 1 + len(part) > _MAX_BODY
        ):
            yield body
            body, groups = address, 0
        body += "," + part
        groups += 1
    if body != address:
        yield body


def _sentence_writer(
    sentence: str, fields: tuple[str, ...], units: Mapping[str, str]
) -> Callable[[Mapping[str, float], float], list[str]]:
    """The bodies (address and fields, no ``$`` or checksum) of one sentence type; ``t_s`` is
    the receiver's clock in Unix seconds. ``units`` gives an XDR field the text of its
    quadruple's unit field.

    A sentence type written per constellation is written once for each constellation the
    fields name (GPS when they name none), its slots reading ``<name>_<constellation>`` as
    ``<name>`` and the constellation's system ID as ``system``."""
    layout = SENTENCES[sentence]
    prefix = f"{sentence}."
    writers = [
        slot.writer_in(prefix, fields, units)
        if isinstance(slot, _Transducers)
        else slot.writer(prefix, fields)
        for slot in layout.slots
    ]
    per_sentence, group = layout.fields_per_sentence, layout.group_fields
    # each sentence written: its address, renames (generic name -> own) and the values it adds
    # (the system ID of a constellation, the reference of the true wind)
    address = layout.talker + sentence
    passes: list[tuple[str, dict[str, str], dict[str, float]]] = [(address, {}, {})]
    if layout.constellations is not None:
        bases = [base for slot in layout.slots for base in slot.per_constellation]
        named = [c for c in _WRITTEN if any(f"{prefix}{b}_{c}" in fields for b in bases)]
        passes = []
        for constellation in named or ["gps"]:
            talker, system = _WRITTEN[constellation]
            own_talker = talker if layout.constellations == "talker" else layout.talker
            renames = {prefix + b: f"{prefix}{b}_{constellation}" for b in bases}
            passes.append((own_talker + sentence, renames, {prefix + "system": float(system)}))
    if layout.references:
        true_names = [n for slot in layout.slots for n in slot.names if n.startswith(_TRUE_WIND)]
        if any(prefix + name in fields for name in true_names):
            renames = {prefix + name.removeprefix(_TRUE_WIND): prefix + name for name in true_names}
            relative = [
                f for f in fields if f.startswith(prefix) and f[len(prefix) :] not in true_names
            ]
            passes = passes[: 1 if relative else 0]
            passes.append((address, renames, {prefix + "reference": 1.0}))

    def write(values: Mapping[str, float], t_s: float) -> list[str]:
        bodies: list[str] = []
        for address, renames, extra in passes:
            own = values
            if renames:
                own = {**values, **extra}
                own.update((b, values[name]) for b, name in renames.items() if name in values)
            texts = [address]
            for writer in writers:
                texts += writer(own, t_s)
            if group is not None:
                bodies += _grouped(address, texts[1:], group)
            elif per_sentence is None:
                bodies.append(",".join(texts))
            else:
                bodies += (
                    ",".join([address, *texts[i : i + per_sentence]])
                    for i in range(1, len(texts), per_sentence)
                )
        return bodies

    return write


def encoder(spec: FormatSpec) -> Encoder:
    """The encoder. Its receiver clock is the seconds since midnight of 2025-01-01; with a
    ``clock_offset`` field, it is the host's wall clock plus that field's value, as a receiver
    whose clock is that far from the host's (within the years an RMC's date holds). An XDR
    quadruple's unit field is the first of its channel's ``units``, else empty."""
    fields = tuple(unique_fields(spec))
    own_units = dict(spec.channel_units)
    units = {field: own_units[ch][0] for ch, field in spec.fields if own_units.get(ch)}
    sentence_types = dict.fromkeys(field.partition(".")[0] for field in fields)
    writers = [_sentence_writer(sentence, fields, units) for sentence in sentence_types]
    clock_fields = [field for field in fields if field.endswith(".clock_offset")]

    def encode_nmea(values: Mapping[str, float], t_s: float) -> list[bytes]:
        receiver_s = t_s + _SIMULATED_DAY_S
        for field in clock_fields:
            if field in values:
                first, last = _SIMULATED_CLOCK_S
                receiver_s = min(last, max(first, time.time() + values[field]))
                break
        frames: list[bytes] = []
        for write in writers:
            for body in write(values, receiver_s):
                data = body.encode("ascii")
                frames.append(b"$%s*%02X" % (data, checksum(data)))
        return frames

    return encode_nmea


CODEC = Codec("nmea", check, decoder, encoder, nmea_framer, timed_decoder=timed_decoder)
