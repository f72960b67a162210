"""The sentence table of ``format = "nmea"``: each sentence type's fields, the slots that read
and write them, and the field names a channel can use.

Each sentence type's layout is written once, in :data:`SENTENCES`: its fields in order, each a
slot that knows how to read its value (the decoder's getters) and how to write it (the
encoder). The decoder (:mod:`sensord.formats.nmea`) builds its getters from it, and the encoder
(:mod:`sensord.formats.nmea_encode`) its writers. A unit letter called fixed below is one the
standard fixes: a sentence with one out of place is rejected whole, before any of its values
is read (:func:`~sensord.formats.nmea_layouts.misplaced_unit`).

A channel's ``field`` is ``<sentence type>.<name>`` (:data:`NMEA_FIELDS`) or ``XDR.<name>``:

* ``GGA.fix_quality``, ``GGA.satellites``, ``GGA.hdop``, ``GGA.altitude`` (metres above mean
  sea level), ``GGA.latitude``, ``GGA.longitude`` (decimal degrees, south and west negative).
  With fix quality ``0`` (no fix), ``7`` (manual input), ``8`` (simulator mode) or an empty
  fix quality field only ``fix_quality`` (when given) and ``satellites`` are reported: a
  position entered by hand or simulated is no measurement (see :data:`NO_FIX`); ``6``
  (estimated, dead reckoning) is read as a fix. The altitude's and the geoid separation's
  unit letters are ``M`` or none (above). ``satellites`` of 0 with a fix of fix quality
  ``1`` to ``5`` is no value: the receiver did not count them (see
  :class:`_SatellitesInUse`). A GGA with the time of the GGA before it but
  another talker (a SiRFstarV's ``$GLGGA`` after its ``$GPGGA``, each counting only its own
  constellation's satellites) repeats that fix and is ignored; so is one of the same talker
  that claims a fix (a receiver that lost its fix and goes on sending the last one: a stale
  fix, never published as a fresh reading); a repeat has the same position too, another
  position is another receiver's fix (see :func:`~sensord.formats.nmea_validity.repeated_gga`).
* ``RMC.latitude``, ``RMC.longitude``, ``RMC.speed`` (speed over ground, knots),
  ``RMC.course`` (degrees true), ``RMC.clock_offset`` (below). An RMC with status ``V``
  (receiver warning) reports nothing, nor does one whose mode indicator (NMEA 2.3 and later)
  is ``N`` (not valid), ``M`` (manual input) or ``S`` (simulator mode) whatever its status:
  no measurement (see :data:`NOT_MEASURED`). A valid RMC with the time and the position of
  the valid RMC before it repeats that fix and is ignored, under another talker (a Telit
  PLS83's ``$GARMC`` after its ``$GPRMC``, the same fix: one reading an epoch) or its own (a
  receiver that lost its fix and goes on sending the last one: a stale fix); another
  position is another receiver's fix (two receivers merged by a multiplexer), read (see
  :func:`~sensord.formats.nmea_validity.validators`). An RMC one field short, its mode
  indicator right after its magnetic variation (a Saab R4: ``...,0.5,3.0,010611,,A``; a
  Motorola T805: ``...,181207,0,A``), is read as one whose variation's ``E``/``W`` field is
  empty (see :func:`~sensord.formats.nmea_layouts.rmc_without_variation_letter`).
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
  own places (:func:`~sensord.formats.nmea_layouts.in_older_layout`).
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
  whole (above, and :func:`~sensord.formats.nmea_layouts.misplaced_unit`).
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
  (:func:`~sensord.formats.nmea.check`): the other sentences' units are fixed by the standard.

Coordinates are converted from ``ddmm.mmmm`` but not range-checked: range checks belong to the
filter stage. A window over a longitude that crosses ±180 degrees (the antimeridian) has a
meaningless mean: the mean of 179.9 and -179.9 is 0. Such a channel wants no window, or its
own mean of unit vectors outside sensord.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date

from sensord.errors import OtherUnitError, ParseError
from sensord.formats.nmea_satellites import (
    CONSTELLATIONS,
    SBAS,
    garbled_satellite_number,
)
from sensord.formats.nmea_satellites import field as _field
from sensord.formats.text import number, number_text

__all__ = [
    "EPOCH_ORDINAL",
    "GSV_FIELDS",
    "NMEA_FIELDS",
    "NOT_MEASURED",
    "NO_FIX",
    "SENTENCES",
    "TRUE_WIND",
    "USED_FIELDS",
    "WRITTEN",
    "Coordinate",
    "Getter",
    "Number",
    "PositionMode",
    "Slot",
    "Status",
    "Text",
    "Transducers",
]


#: Reads one value from the comma-split fields of a sentence (index 0 is the address);
#: None when the value is absent.
Getter = Callable[[list[str]], float | None]


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
WRITTEN = CONSTELLATIONS | {SBAS: ("GN", 0)}


#: ``date.toordinal()`` of 1970-01-01, the Unix epoch.
EPOCH_ORDINAL = date(1970, 1, 1).toordinal()


def _plain(index: int) -> Getter:
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
class Slot(ABC):
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

    def getter(self, index: int, name: str) -> Getter:
        """Reads value ``name`` from a sentence in which this slot starts at ``index``."""
        return _plain(index)

    def unit_letters(self, index: int) -> tuple[tuple[int, str, frozenset[str]], ...]:
        """When this slot starts at ``index``: the index of each of its numbers followed by
        a unit letter, that unit, and the letters that stand for it; none for a slot without
        (see :func:`~sensord.formats.nmea_layouts.misplaced_unit`)."""
        del index
        return ()

    @abstractmethod
    def writer(self, prefix: str, fields: tuple[str, ...]) -> _Writer:
        """Writes this slot's texts; ``prefix`` (``"GGA."``) names the values, and ``fields``
        holds every field the channels ask for."""


@dataclass(frozen=True, slots=True)
class Text(Slot):
    """A field the decoder does not read: a unit letter, a reference, an empty field. With
    ``letters``, the field holds one of them or nothing (RMC's magnetic variation ``E``/``W``),
    and a sentence whose field holds another text has its fields out of place."""

    text: str = ""
    letters: str = ""

    def writer(self, prefix: str, fields: tuple[str, ...]) -> _Writer:
        return _constant([self.text])


@dataclass(frozen=True, slots=True)
class _UnitLetter(Text):
    """The unit letter of the number in the field before it, which the standard fixes:
    ``text`` (``T`` after VHW's heading in degrees true, ``M`` after GGA's altitude in
    metres), in either case. The number is read by its own slot; the letter is checked for
    the whole sentence before any value is read (``_Sentence.units_placed``,
    :func:`~sensord.formats.nmea_layouts.misplaced_unit`). With ``bare``, a number without its
    letter is in place too: the standard gives that number no other unit, and a receiver may leave
    the letter out (GPSBabel's pull request 7, a GGA whose checksum holds:
    ``$GPGGA,092252,5004.6498,N,01958.1196,E,1,,,337,,,,,*6d``)."""

    bare: bool = False

    def unit_letters(self, index: int) -> tuple[tuple[int, str, frozenset[str]], ...]:
        letters = {self.text, self.text.lower(), *([""] if self.bare else [])}
        return ((index - 1, self.text, frozenset(letters)),)


@dataclass(frozen=True, slots=True)
class _Time(Slot):
    """UTC time of day, ``hhmmss.sss``: in milliseconds, so that a simulated receiver gives
    each of its epochs its own time up to 1000 Hz (the decoder ignores a GGA that repeats the
    time of the one before it, see :func:`~sensord.formats.nmea_validity.repeated_gga`)."""

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
class Status(Slot):
    """A status letter that marks the whole sentence valid or not. Valid: the field equals
    ``valid``, or, with ``invalid`` given, the field is none of ``invalid`` (a mode
    indicator: see :data:`NOT_MEASURED`)."""

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
NOT_MEASURED = frozenset({"N", "M", "S"})


@dataclass(frozen=True, slots=True)
class PositionMode(Slot):
    """RMC's and GLL's mode indicator (NMEA 0183 2.3 and later; absent before): with status
    ``A``, a letter of :data:`NOT_MEASURED` makes the sentence invalid too (see
    :func:`~sensord.formats.nmea_validity.validators`). The encoder writes ``A``."""

    def writer(self, prefix: str, fields: tuple[str, ...]) -> _Writer:
        return _constant(["A"])


@dataclass(frozen=True, slots=True)
class Number(Slot):
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
class _Dop(Number):
    """A dilution of precision: 0 is no value. A receiver that computes none may write 0 in
    place of the empty field (a Jackson Labs Micro JLT sends GSA's ``0.00,0.00,0.00`` with a
    3D fix), and no satellite geometry gives a DOP of 0."""

    def getter(self, index: int, name: str) -> Getter:
        def get(fields: list[str]) -> float | None:
            text = _field(fields, index)
            return (number(text) or None) if text else None

        return get


#: GGA's fix qualities of a fix computed from satellites: GPS (``1``), differential (``2``),
#: PPS (``3``), RTK with fixed (``4``) and float (``5``) integers. None is had from no
#: satellite; dead reckoning (``6``) may use none.
_SATELLITE_FIXES = frozenset({"1", "2", "3", "4", "5"})


@dataclass(frozen=True, slots=True)
class _SatellitesInUse(Number):
    """GGA's number of satellites in use (``00`` to ``12``), the field after its fix quality.
    With a fix of :data:`_SATELLITE_FIXES` a count of 0 is no value: such a fix uses three
    satellites at least, and a receiver that writes ``00`` there counts none (a Furuno GT-88
    with a differential fix, gpsd's capture test/daemon/furuno_gl_ga.log:
    ``$GNGGA,120214.000,...,E,2,00,1.3,...``, its GNS of the epoch giving 11 and its GSA
    listing 11; a Garmin 25LP, ``1,00,3.1`` with its GSA listing 3). Without a fix, and with
    dead reckoning, 0 is read."""

    def getter(self, index: int, name: str) -> Getter:
        def get(fields: list[str]) -> float | None:
            text = _field(fields, index)
            if not text:
                return None
            value = number(text)
            if value == 0.0 and _field(fields, index - 1) in _SATELLITE_FIXES:
                return None
            return value

        return get


@dataclass(frozen=True, slots=True)
class Coordinate(Slot):
    """Decimal degrees as ``(d)ddmm.mmmm`` and a hemisphere field after it."""

    degree_digits: int = 2
    positive: str = "N"
    negative: str = "S"
    default: float = 0.0

    @property
    def width(self) -> int:
        return 2

    def getter(self, index: int, name: str) -> Getter:
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
class _Signed(Slot):
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

    def getter(self, index: int, name: str) -> Getter:
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
TRUE_WIND = "true_"


def _of_reference(get: Getter, at: int, name: str) -> Getter:
    """``get`` for the MWV sentences whose reference field (at ``at``) is the one of ``name``:
    ``T`` for the names of :data:`TRUE_WIND`, else ``R``; None from the others."""
    reference = "T" if name.startswith(TRUE_WIND) else "R"
    return lambda fields: get(fields) if _field(fields, at) == reference else None


@dataclass(frozen=True, slots=True)
class _WindAngle(Slot):
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

    def getter(self, index: int, name: str) -> Getter:
        return _of_reference(_plain(index), index + 1, name)

    def writer(self, prefix: str, fields: tuple[str, ...]) -> _Writer:
        key, true_key, default = prefix + self.names[0], prefix + "reference", self.default

        def write(values: Mapping[str, float], t_s: float) -> list[str]:
            reference = "T" if values.get(true_key) else "R"
            return [number_text(values.get(key, default)), reference]

        return write


@dataclass(frozen=True, slots=True)
class _WindSpeed(Slot):
    """A speed and its unit letter (``M`` m/s, ``K`` km/h, ``N`` knots, ``S`` mph), after
    MWV's reference field (see :class:`_WindAngle`). Names: the relative wind's speed in its
    own unit and in m/s, then the true wind's."""

    default_mps: float = 5.0

    @property
    def width(self) -> int:
        return 2

    def getter(self, index: int, name: str) -> Getter:
        get = self._getter(index, name.removeprefix(TRUE_WIND))
        return _of_reference(get, index - 1, name)

    def _getter(self, index: int, name: str) -> Getter:
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
            for kind in ("", TRUE_WIND)
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
class _Measure(Slot):
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

    def getter(self, index: int, name: str) -> Getter:
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
class _TwoUnits(Slot):
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

    def getter(self, index: int, name: str) -> Getter:
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
class _Depths(Slot):
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

    def getter(self, index: int, name: str) -> Getter:
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
class Transducers(Slot):
    """XDR's quadruples ``type,value,unit,name``, one per ``XDR.<name>`` field; any number of
    them, the values named by their name field."""

    @property
    def width(self) -> int:
        return 4

    def getter(self, index: int, name: str) -> Getter:
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

    def getter_in(self, index: int, name: str, units: tuple[str, ...], channel: str) -> Getter:
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
class _Mode(Slot):
    """GNS's mode indicator, one letter per constellation: all ``N`` (no fix), or an ``M``
    (manual input) or ``S`` (simulator mode) for any constellation, switches the sentence's
    gated values off: a position entered by hand or simulated is no measurement, as GGA's
    qualities 7 and 8 are none (:data:`NO_FIX`)."""

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
        days = date(int(year), int(month), int(day)).toordinal() - EPOCH_ORDINAL
    except (ValueError, OverflowError):  # OverflowError: more digits than a C int holds
        raise ParseError("syntax", f"bad NMEA date {day}/{month}/{year}") from None
    if hours > 23 or minutes > 59 or seconds >= 61.0:  # 60.x: a leap second
        raise ParseError("syntax", f"bad NMEA time {clock[:12]!r}")
    return days * 86400.0 + hours * 3600.0 + minutes * 60.0 + seconds


@dataclass(frozen=True, slots=True)
class _Date(Slot):
    """The UTC date: ``ddmmyy`` (RMC; years 80 to 99 are 1980 to 1999) or, with ``separate``,
    ``dd,mm,yyyy`` (ZDA). With the time of day in field 1 it is the receiver's clock, read as
    Unix seconds; the decoder subtracts the host's wall clock (``clock_offset``)."""

    separate: bool = False

    @property
    def width(self) -> int:
        return 3 if self.separate else 1

    def getter(self, index: int, name: str) -> Getter:
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
            day = date.fromordinal(EPOCH_ORDINAL + int(t_s // 86400.0))
            if separate:
                return [f"{day.day:02d}", f"{day.month:02d}", f"{day.year:04d}"]
            return [f"{day.day:02d}{day.month:02d}{day.year % 100:02d}"]

        return write


@dataclass(frozen=True, slots=True)
class _SatelliteIds(Slot):
    """GSA's twelve fields of the satellites used in the fix, then (after the three DOPs) the
    system ID, then any satellites past the twelfth. ``satellites_used`` counts them, sentence
    by sentence. ``used_<constellation>`` counts those of the constellation over the run of
    GSA sentences the sentence is in, and is read by the decoder's
    :class:`~sensord.formats.nmea_satellites.UsedSatellites`, not by a getter."""

    @property
    def width(self) -> int:
        return 12

    def getter(self, index: int, name: str) -> Getter:
        # after the DOPs and the system ID (see nmea_layouts.gsa_of_twelve)
        past_twelve = index + 16

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
class _System(Slot):
    """The NMEA 4.10 system ID field; the encoder writes the constellation it writes for."""

    def writer(self, prefix: str, fields: tuple[str, ...]) -> _Writer:
        key = prefix + "system"
        return lambda values, t_s: [str(int(values.get(key, 1.0)))]


@dataclass(frozen=True, slots=True)
class _SatellitesInView(Slot):
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
        return (*Slot.all_names(self), *sbas)

    def writer(self, prefix: str, fields: tuple[str, ...]) -> _Writer:
        in_view, mean_key, max_key = (prefix + name for name in self.per_constellation)
        system_key = prefix + "system"

        def write(values: Mapping[str, float], t_s: float) -> list[str]:
            system = int(values.get(system_key, 1.0))
            sbas = system == WRITTEN[SBAS][1]
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
    slots: tuple[Slot, ...]
    fields_per_sentence: int | None = None
    #: The fields of one repeated group (XDR's quadruple): the fields are written over as many
    #: sentences as needed, each of up to four whole groups, as many as fit in the 82
    #: characters NMEA 0183 allows a sentence (one group when a single one is longer; see
    #: :mod:`sensord.formats.nmea_encode`).
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
    #: reference ``T`` for those of the true wind (:data:`TRUE_WIND`), for each the channels
    #: name (MWV).
    references: bool = False
    #: Every value's unit letter is fixed (MWD, VWR, VWT, DBT, VHW, VLW, VTG, HDT, HDM, GGA's
    #: altitude and geoid separation): one out of place is fields out of place, and rejects
    #: the sentence whole before any value is read
    #: (:data:`~sensord.formats.nmea_layouts.UNITS_PLACED`).
    units_placed: bool = False

    def positions(self) -> Iterator[tuple[Slot, int]]:
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
NO_FIX = frozenset({"0", "", "7", "8"})


#: Where the simulated receiver is when no channel asks for its position.
_POSITION = 48.1173, 11.5167


#: Where the true wind blows from, in degrees true and magnetic, and its speed in knots and
#: in m/s: MWD's fields, and the last of MDA's.
_WIND_FROM: tuple[Slot, ...] = (
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
_WIND_OFF_THE_BOW: tuple[Slot, ...] = (
    _Signed(("wind_angle",), default=45.0, positive="R", negative="L"),
    _TwoUnits(
        ("wind_speed_knots", "wind_speed_mps"),
        units=("N", "M"),
        factor=_KNOTS_MPS,
        default=5.0,
    ),
    Number(("wind_speed_kmh",), default=18.0),
    _UnitLetter(text="K"),
)


#: Sentence type -> layout: the one description of each sentence, read by the decoder and
#: written by the encoder.
SENTENCES: dict[str, _Sentence] = {
    "GGA": _Sentence(
        "GP",
        (
            _Time(),
            Coordinate(("latitude",), gated=True, default=_POSITION[0]),
            Coordinate(
                ("longitude",),
                gated=True,
                default=_POSITION[1],
                degree_digits=3,
                positive="E",
                negative="W",
            ),
            Number(("fix_quality",), default=1.0, digits=1, gate=NO_FIX),
            _SatellitesInUse(("satellites",), default=8.0, digits=2),
            _Dop(("hdop",), gated=True, default=0.9),
            Number(("altitude",), gated=True, default=545.4),
            _UnitLetter(text="M", bare=True),
            Text(text="46.9"),
            _UnitLetter(text="M", bare=True),
            Text(),
            Text(),
        ),
        units_placed=True,
    ),
    "RMC": _Sentence(
        "GP",
        (
            _Time(),
            Status(valid="A"),
            Coordinate(("latitude",), default=_POSITION[0]),
            Coordinate(
                ("longitude",), default=_POSITION[1], degree_digits=3, positive="E", negative="W"
            ),
            Number(("speed",), default=0.0),
            Number(("course",), default=0.0),
            _Date(("clock_offset",)),
            Text(),
            Text(letters="EW"),
            PositionMode(),
        ),
        least_fields=11,
    ),
    "MTW": _Sentence("II", (_Measure(("temperature",), unit="C", default=14.0, bare=True),)),
    "MWV": _Sentence(
        "II",
        (
            _WindAngle(("wind_angle", "true_wind_angle")),
            _WindSpeed(("wind_speed", "wind_speed_mps", "true_wind_speed", "true_wind_speed_mps")),
            Status(valid="A", invalid=frozenset({"V"})),
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
            Number(("relative_humidity",), default=65.0),
            Number(("absolute_humidity",), default=1.2),
            _Measure(("dew_point",), unit="C", default=11.2),
            *_WIND_FROM,
        ),
    ),
    "VHW": _Sentence(
        "VW",
        (
            Number(("heading",), default=90.0),
            _UnitLetter(text="T"),
            Number(("heading_magnetic",), default=88.5),
            _UnitLetter(text="M"),
            Number(("speed_knots",), default=5.0),
            _UnitLetter(text="N"),
            Number(("speed_kmh",), default=9.26),
            _UnitLetter(text="K"),
        ),
        units_placed=True,
    ),
    "VLW": _Sentence(
        "VW",
        (
            Number(("total_distance",), default=1200.0),
            _UnitLetter(text="N"),
            Number(("trip_distance",), default=12.0),
            _UnitLetter(text="N"),
            Number(("total_ground_distance",), default=1190.0),
            _UnitLetter(text="N"),
            Number(("trip_ground_distance",), default=11.5),
            _UnitLetter(text="N"),
        ),
        least_fields=4,
        units_placed=True,
    ),
    "DPT": _Sentence("II", (Number(("depth",), default=12.0), Number(("offset",), default=0.4))),
    "DBT": _Sentence("II", (_Depths(("depth",), default=12.0),), units_placed=True),
    # a heading alone: a letter left out shifts no field, so a compass that sends none is read
    "HDT": _Sentence(
        "HE",
        (Number(("heading",), default=90.0), _UnitLetter(text="T", bare=True)),
        units_placed=True,
    ),
    "HDM": _Sentence(
        "HC",
        (Number(("heading",), default=88.0), _UnitLetter(text="M", bare=True)),
        units_placed=True,
    ),
    "HDG": _Sentence(
        "HC",
        (
            Number(("heading",), default=88.0),
            _Signed(("deviation",), default=0.0),
            _Signed(("variation",), default=1.5),
        ),
    ),
    "THS": _Sentence(
        "GP",
        (
            Number(("heading",), default=90.0),
            # V not valid; M manual input and S simulator mode are no measurement either
            Status(valid="A", invalid=frozenset({"V", "M", "S"})),
        ),
    ),
    "ROT": _Sentence("TI", (Number(("rate",), default=0.0), Status(valid="A"))),
    "GST": _Sentence(
        "GP",
        (
            _Time(),
            Number(("rms",), default=2.1),
            Number(("error_major",), default=1.8),
            Number(("error_minor",), default=1.2),
            Number(("error_orientation",), default=35.0),
            Number(("latitude_error",), default=1.4),
            Number(("longitude_error",), default=1.6),
            Number(("altitude_error",), default=2.9),
        ),
    ),
    "XDR": _Sentence("YX", (Transducers(),), group_fields=4),
    "GSA": _Sentence(
        "GN",
        (
            Text(text="A"),
            Number(("fix_mode",), default=3.0, digits=1, gate=frozenset({"1"})),
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
            Number(("course",), default=0.0),
            _UnitLetter(text="T"),
            Text(),
            _UnitLetter(text="M"),
            Number(("speed_knots",), default=0.0),
            _UnitLetter(text="N"),
            Number(("speed_kmh",), default=0.0),
            _UnitLetter(text="K"),
            Status(valid="A", invalid=NOT_MEASURED),
        ),
        least_fields=8,
        units_placed=True,
    ),
    "GLL": _Sentence(
        "GP",
        (
            Coordinate(("latitude",), default=_POSITION[0]),
            Coordinate(
                ("longitude",), default=_POSITION[1], degree_digits=3, positive="E", negative="W"
            ),
            _Time(),
            Status(valid="A"),
            PositionMode(),
        ),
        least_fields=6,
    ),
    "GNS": _Sentence(
        "GN",
        (
            _Time(),
            Coordinate(("latitude",), gated=True, default=_POSITION[0]),
            Coordinate(
                ("longitude",),
                gated=True,
                default=_POSITION[1],
                degree_digits=3,
                positive="E",
                negative="W",
            ),
            _Mode(),
            Number(("satellites",), default=12.0, digits=2),
            _Dop(("hdop",), gated=True, default=0.9),
            Number(("altitude",), gated=True, default=545.4),
            Text(text="46.9"),
            Text(),
            Text(),
        ),
        least_fields=12,
    ),
    "ZDA": _Sentence(
        "GP",
        (_Time(), _Date(("clock_offset",), separate=True), Text(text="00"), Text(text="00")),
    ),
}


#: The NMEA field names a channel can use, besides ``XDR.<name>``.
NMEA_FIELDS = tuple(
    f"{sentence}.{name}"
    for sentence, layout in SENTENCES.items()
    for slot in layout.slots
    for name in slot.all_names()
)


GSV_FIELDS = frozenset(field for field in NMEA_FIELDS if field.startswith("GSV."))


USED_FIELDS = frozenset(field for field in NMEA_FIELDS if field.startswith("GSA.used_"))
