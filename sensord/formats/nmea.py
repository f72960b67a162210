"""``format = "nmea"``: NMEA 0183 sentences.

Sentences start with ``$`` or ``!``, any two-letter talker ID. The framer (:class:`NmeaFramer`)
cuts each line into the sentences it holds: noise before a start character is skipped and
counted (``skipped_bytes``), and two sentences glued without a line break are two frames. The
checksum, when present (``*hh``, either case), is verified for every sentence, also for
sentence types no channel asks for, so that ``checksum`` errors show the state of the line;
sentences without one are accepted when they have every field of their type, and rejected as
``truncated`` when they have fewer (the end of a capture, a cut line). NMEA sentences are ASCII
(``encoding`` otherwise). Sentences of a type no channel asks for, every proprietary ``$P...``
sentence, addresses longer than five characters (``$GYOACC``, ``$SNRSTAT``), AIS (``!AIVDM``)
and sentences flagged invalid decode to ``[]`` (ignored frames).

A channel's ``field`` is ``<sentence type>.<name>`` (:data:`NMEA_FIELDS`) or ``XDR.<name>``:

* ``GGA.fix_quality``, ``GGA.satellites``, ``GGA.hdop``, ``GGA.altitude`` (metres above mean
  sea level), ``GGA.latitude``, ``GGA.longitude`` (decimal degrees, south and west negative).
  With fix quality ``0`` (no fix) only ``fix_quality`` and ``satellites`` are reported.
* ``RMC.latitude``, ``RMC.longitude``, ``RMC.speed`` (speed over ground, knots),
  ``RMC.course`` (degrees true). An RMC with status ``V`` (receiver warning) reports nothing.
* ``MTW.temperature`` (degrees Celsius).
* ``MWV.wind_angle`` (degrees), ``MWV.wind_speed`` (in the sentence's own unit: km/h, m/s,
  knots or mph as its unit field says), ``MWV.wind_speed_mps`` (converted to m/s). An MWV with
  status ``V`` reports nothing.
* ``DPT.depth`` (metres below the transducer), ``DBT.depth`` (metres below the transducer;
  from the feet or fathoms field when the metres field is empty).
* ``HDT.heading`` (degrees true).
* ``XDR.<name>``: the value of the transducer measurement whose name field equals ``<name>``
  (XDR carries quadruples of type, value, unit, name).

Coordinates are converted from ``ddmm.mmmm`` but not range-checked: range checks belong to the
filter stage.

Each sentence type's layout is written once, in :data:`SENTENCES`: its fields in order, each a
slot that knows how to read its value (the decoder's getters) and how to write it (the
encoder). The encoder fills the fields no channel asks for with plausible values, prints
numbers with three decimals and coordinates as ``ddmm.mmmmm``, and sends one sentence per
sentence type the channels need (one XDR sentence per four transducers).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import reduce
from itertools import pairwise
from operator import xor

from sensord.errors import ParseError
from sensord.formats.base import Codec, Decoder, Encoder, FormatSpec
from sensord.formats.lines import LineFramer
from sensord.formats.text import check_common, decode_text, number, number_text, unique_fields

__all__ = ["CODEC", "NMEA_FIELDS", "SENTENCES", "NmeaFramer", "checksum"]


def checksum(body: bytes) -> int:
    """The checksum of a sentence: the XOR of every byte between ``$`` (or ``!``) and ``*``."""
    return reduce(xor, body, 0)


#: Reads one value from the comma-split fields of a sentence (index 0 is the address);
#: None when the value is absent.
_Getter = Callable[[list[str]], float | None]
#: Writes the texts of a slot's fields for values by field name and the time of day.
_Writer = Callable[[Mapping[str, float], float], list[str]]

_KNOTS_MPS = 1852.0 / 3600.0
_WIND_UNIT_MPS = {"M": 1.0, "K": 1.0 / 3.6, "N": _KNOTS_MPS, "S": 1609.344 / 3600.0}
_METRES_PER_FOOT = 0.3048
_METRES_PER_FATHOM = 1.8288


def _field(fields: list[str], index: int) -> str:
    return fields[index] if index < len(fields) else ""


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
class _Slot:
    """One or more consecutive fields of a sentence, carrying the values named ``names``."""

    names: tuple[str, ...] = ()
    #: Values absent while the sentence's gate field says so (GGA without a fix).
    gated: bool = False

    @property
    def width(self) -> int:
        return 1

    def getter(self, index: int, name: str) -> _Getter:
        """Reads value ``name`` from a sentence in which this slot starts at ``index``."""
        return _plain(index)

    def writer(self, prefix: str, fields: tuple[str, ...]) -> _Writer:
        """Writes this slot's texts; ``prefix`` (``"GGA."``) names the values, and ``fields``
        holds every field the channels ask for."""
        raise NotImplementedError


@dataclass(frozen=True, slots=True)
class _Text(_Slot):
    """A field the decoder does not read: a unit letter, a reference, an empty field."""

    text: str = ""

    def writer(self, prefix: str, fields: tuple[str, ...]) -> _Writer:
        return _constant([self.text])


@dataclass(frozen=True, slots=True)
class _Time(_Slot):
    """UTC time of day, ``hhmmss.ss``."""

    def writer(self, prefix: str, fields: tuple[str, ...]) -> _Writer:
        def write(values: Mapping[str, float], t_s: float) -> list[str]:
            seconds = t_s % 86400.0
            hours, rest = divmod(seconds, 3600.0)
            minutes, seconds = divmod(rest, 60.0)
            return [f"{int(hours):02d}{int(minutes):02d}{seconds:05.2f}"]

        return write


@dataclass(frozen=True, slots=True)
class _Status(_Slot):
    """A status letter that marks the whole sentence valid or not. Valid: the field equals
    ``valid``, or, with ``invalid`` given, the field is anything but ``invalid``."""

    valid: str = "A"
    invalid: str | None = None

    def validator(self, index: int) -> Callable[[list[str]], bool]:
        if self.invalid is None:
            return _equals(index, self.valid)
        invalid = self.invalid
        return lambda fields: _field(fields, index) != invalid

    def writer(self, prefix: str, fields: tuple[str, ...]) -> _Writer:
        return _constant([self.valid])


@dataclass(frozen=True, slots=True)
class _Number(_Slot):
    """A number: with ``digits``, a whole number zero-padded to that many digits."""

    default: float = 0.0
    digits: int | None = None
    #: This field's text that switches the sentence's gated values off.
    gate: str | None = None

    def writer(self, prefix: str, fields: tuple[str, ...]) -> _Writer:
        key, default, digits = prefix + self.names[0], self.default, self.digits
        if digits is None:
            return lambda values, t_s: [number_text(values.get(key, default))]
        return lambda values, t_s: [f"{round(values.get(key, default)):0{digits}d}"]


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
class _WindSpeed(_Slot):
    """A speed and its unit letter (``M`` m/s, ``K`` km/h, ``N`` knots, ``S`` mph). Names:
    the speed in its own unit, then the speed in m/s."""

    default_mps: float = 5.0

    @property
    def width(self) -> int:
        return 2

    def getter(self, index: int, name: str) -> _Getter:
        if name == self.names[0]:
            return _plain(index)

        def get_mps(fields: list[str]) -> float | None:
            text = _field(fields, index)
            if not text:
                return None
            factor = _WIND_UNIT_MPS.get(_field(fields, index + 1))
            if factor is None:
                unit = _field(fields, index + 1)
                raise ParseError("syntax", f"unknown wind speed unit {unit[:8]!r}")
            return number(text) * factor

        return get_mps

    def writer(self, prefix: str, fields: tuple[str, ...]) -> _Writer:
        own, mps = prefix + self.names[0], prefix + self.names[1]
        default_mps = self.default_mps
        if mps in fields and own not in fields:
            # only the converted speed is asked for: send m/s, which needs no conversion
            return lambda values, t_s: [number_text(values.get(mps, default_mps)), "M"]

        def write_knots(values: Mapping[str, float], t_s: float) -> list[str]:
            speed = values.get(own)
            if speed is None:
                speed = values.get(mps, default_mps) / _KNOTS_MPS
            return [number_text(speed), "N"]

        return write_knots


@dataclass(frozen=True, slots=True)
class _Depths(_Slot):
    """One depth in feet, metres and fathoms: ``ft,f,m,M,fa,F``. Read from the metres field,
    else from the feet or fathoms field."""

    default: float = 0.0

    @property
    def width(self) -> int:
        return 6

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
        def get(fields: list[str]) -> float | None:
            # names at index + 3, index + 7, ...; each value two fields before its name
            for at in range(index + 3, len(fields), 4):
                if fields[at] == name:
                    text = fields[at - 2]
                    return number(text) if text else None
            return None

        return get

    def writer(self, prefix: str, fields: tuple[str, ...]) -> _Writer:
        names = [field[len(prefix) :] for field in fields if field.startswith(prefix)]

        def write(values: Mapping[str, float], t_s: float) -> list[str]:
            texts: list[str] = []
            for name in names:
                value = values.get(prefix + name)
                if value is not None:
                    texts += ("G", number_text(value), "", name)
            return texts

        return write


@dataclass(frozen=True, slots=True)
class _Sentence:
    """The layout of one sentence type: its default talker and its fields after the address.
    With ``fields_per_sentence``, the fields are written over as many sentences as needed."""

    talker: str
    slots: tuple[_Slot, ...]
    fields_per_sentence: int | None = None
    #: The fields after the address that every complete sentence has, when older versions of
    #: the standard define fewer than ``slots`` (RMC before NMEA 2.3 has no mode field);
    #: None: all of them. A sentence without checksum that has fewer is ``truncated``.
    least_fields: int | None = None

    def positions(self) -> Iterator[tuple[_Slot, int]]:
        """Each slot with the index of its first field (the address is field 0)."""
        index = 1
        for slot in self.slots:
            yield slot, index
            index += slot.width


#: Where the simulated receiver is when no channel asks for its position.
_POSITION = 48.1173, 11.5167

#: Sentence type -> layout: the one description of each sentence, read by the decoder and
#: written by the encoder.
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
            _Number(("fix_quality",), default=1.0, digits=1, gate="0"),
            _Number(("satellites",), default=8.0, digits=2),
            _Number(("hdop",), gated=True, default=0.9),
            _Number(("altitude",), gated=True, default=545.4),
            _Text(text="M"),
            _Text(text="46.9"),
            _Text(text="M"),
            _Text(),
            _Text(),
        ),
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
            _Text(text="010125"),
            _Text(),
            _Text(),
            _Text(text="A"),
        ),
        least_fields=11,
    ),
    "MTW": _Sentence("II", (_Number(("temperature",), default=14.0), _Text(text="C"))),
    "MWV": _Sentence(
        "II",
        (
            _Number(("wind_angle",), default=180.0),
            _Text(text="R"),
            _WindSpeed(("wind_speed", "wind_speed_mps")),
            _Status(valid="A", invalid="V"),
        ),
    ),
    "DPT": _Sentence("II", (_Number(("depth",), default=12.0), _Text(text="0.000"))),
    "DBT": _Sentence("II", (_Depths(("depth",), default=12.0),)),
    "HDT": _Sentence("HE", (_Number(("heading",), default=90.0), _Text(text="T"))),
    "XDR": _Sentence("YX", (_Transducers(),), fields_per_sentence=16),
}


def _getter(field: str) -> tuple[str, _Getter] | None:
    """The sentence type of ``field`` and the getter that reads it; None for unknown fields."""
    sentence, _, name = field.partition(".")
    layout = SENTENCES.get(sentence)
    if layout is None or not name:
        return None
    gate: Callable[[list[str]], bool] | None = None
    found: tuple[_Slot, int] | None = None
    for slot, index in layout.positions():
        if isinstance(slot, _Number) and slot.gate is not None:
            gate = _equals(index, slot.gate)
        if name in slot.names or (isinstance(slot, _Transducers) and _valid_xdr_name(name)):
            found = slot, index
    if found is None:
        return None
    slot, index = found
    get = slot.getter(index, name)
    if slot.gated and gate is not None:
        return sentence, _unless(gate, get)
    return sentence, get


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
    for name in slot.names
)

#: Sentence type -> the fields after the address that every complete sentence of the type has.
_LEAST_FIELDS = {
    sentence: layout.least_fields
    if layout.least_fields is not None
    else sum(slot.width for slot in layout.slots)
    for sentence, layout in SENTENCES.items()
}

#: Sentence types whose status field can mark the whole sentence invalid.
_VALIDATORS: dict[str, Callable[[list[str]], bool]] = {
    sentence: slot.validator(index)
    for sentence, layout in SENTENCES.items()
    for slot, index in layout.positions()
    if isinstance(slot, _Status)
}


def check(spec: FormatSpec) -> list[tuple[str, str]]:
    problems = check_common(spec)
    for i, (_, field) in enumerate(spec.fields):
        if _getter(field) is None:
            known = ", ".join(NMEA_FIELDS)
            problems.append(
                (
                    f"channels[{i}].field",
                    f"unknown NMEA field {field!r}; known: {known}, XDR.<name>",
                )
            )
    return problems


def decoder(spec: FormatSpec) -> Decoder:
    wanted: dict[str, list[tuple[str, _Getter]]] = {}
    for channel, field in spec.fields:
        found = _getter(field)
        if found is None:  # excluded by check()
            raise ValueError(f"unknown NMEA field {field!r}")
        sentence, getter = found
        wanted.setdefault(sentence, []).append((channel, getter))
    encoding = spec.encoding
    valid = _VALIDATORS
    least = _LEAST_FIELDS

    def parse_nmea(frame: bytes) -> list[tuple[str, float]]:
        text = decode_text(frame, encoding).strip()
        if not text.isascii():
            raise ParseError("encoding", "NMEA sentences are ASCII")
        if not text or text[0] not in "$!":
            raise ParseError("syntax", "not an NMEA sentence")
        star = text.find("*")
        if star < 0:
            body = text[1:]
        else:
            body = text[1:star]
            given = text[star + 1 :].encode()
            if len(given) != 2 or not given.isalnum():  # int() below takes any 2 letters too
                raise ParseError("syntax", "bad NMEA checksum field")
            try:
                expected = int(given, 16)
            except ValueError:
                raise ParseError("syntax", "bad NMEA checksum field") from None
            if reduce(xor, body.encode(), 0) != expected:  # checksum(), inlined
                raise ParseError("checksum", f"NMEA checksum mismatch, sentence says {given!r}")
        fields = body.split(",")
        address = fields[0]
        if len(address) != 5:
            if address[:1] == "P" or (len(address) > 5 and address.isalnum()):
                return []  # proprietary, or an address longer than talker and type
            raise ParseError("syntax", f"bad NMEA address {address[:8]!r}")
        if not address.isalnum():
            raise ParseError("syntax", f"bad NMEA address {address[:8]!r}")
        sentence = address[2:]
        getters = wanted.get(sentence)
        if getters is None:
            return []
        if star < 0 and len(fields) <= least[sentence]:
            detail = f"{sentence} without checksum has {len(fields) - 1} fields"
            raise ParseError("truncated", detail)
        is_valid = valid.get(sentence)
        if is_valid is not None and not is_valid(fields):
            return []
        readings: list[tuple[str, float]] = []
        for channel, getter in getters:
            value = getter(fields)
            if value is not None:
                readings.append((channel, value))
        return readings

    return parse_nmea


def _sentence_writer(
    sentence: str, fields: tuple[str, ...]
) -> Callable[[Mapping[str, float], float], list[str]]:
    """The bodies (address and fields, no ``$`` or checksum) of one sentence type."""
    layout = SENTENCES[sentence]
    address = layout.talker + sentence
    writers = [slot.writer(f"{sentence}.", fields) for slot in layout.slots]
    per_sentence = layout.fields_per_sentence

    def write(values: Mapping[str, float], t_s: float) -> list[str]:
        texts = [address]
        for writer in writers:
            texts += writer(values, t_s)
        if per_sentence is None:
            return [",".join(texts)]
        return [
            ",".join([address, *texts[i : i + per_sentence]])
            for i in range(1, len(texts), per_sentence)
        ]

    return write


def encoder(spec: FormatSpec) -> Encoder:
    fields = tuple(unique_fields(spec))
    sentence_types = dict.fromkeys(field.partition(".")[0] for field in fields)
    writers = [_sentence_writer(sentence, fields) for sentence in sentence_types]

    def encode_nmea(values: Mapping[str, float], t_s: float) -> list[bytes]:
        frames: list[bytes] = []
        for write in writers:
            for body in write(values, t_s):
                data = body.encode("ascii")
                frames.append(b"$%s*%02X" % (data, checksum(data)))
        return frames

    return encode_nmea


# -- framing: lines, then sentences ----------------------------------------------------------------

#: A start character; ``$`` and ``!`` never occur inside a sentence.
_START = re.compile(rb"[$!]")
#: A whole sentence at the start of a piece: start character, body, ``*`` and checksum.
_CHECKED_SENTENCE = re.compile(rb"[$!][^*]*\*[0-9A-Fa-f]{2}")


class NmeaFramer(LineFramer):
    """Lines as :class:`~sensord.formats.lines.LineFramer` cuts them, each then cut into the
    sentences it holds.

    A line is cut before each start character. The bytes before the first one are noise (a
    repeated ``$``, binary bytes, a stray character) and are dropped. A piece followed by
    another is a sentence when it starts with a whole checksummed sentence (two sentences
    glued without a line break); the bytes after that checksum, or the whole piece when it
    has no checksum (``$`` of ``$$GNGGA``, a sentence cut short by the next one), are dropped.
    The line's last piece is always passed on: the decoder judges it. Dropped bytes are
    counted in ``skipped_bytes``; ``frames`` counts sentences.

    The common chunk, lines that each hold one start character as their first byte, is
    recognised by a few byte counts in C over the chunk's lines and returned as it is.
    """

    __slots__ = ()

    def feed(self, chunk: bytes) -> list[bytes]:
        lines = super().feed(chunk)
        if not lines:
            return lines
        n = len(lines)
        joined = b"\n".join(lines)
        if (
            joined.count(b"$") + joined.count(b"!") == n
            and joined.count(b"\n$") + joined.count(b"\n!") == n - 1
            and joined.count(b"\n") == n - 1
            and joined[0] in b"$!"
        ):
            return lines
        sentences: list[bytes] = []
        for line in lines:
            sentences += self._sentences(line)
        self.frames += len(sentences) - n
        return sentences

    def _sentences(self, line: bytes) -> list[bytes]:
        starts = [match.start() for match in _START.finditer(line)]
        if not starts or starts == [0]:
            return [line]  # one sentence, or none at all: the decoder says which
        skipped = starts[0]
        sentences: list[bytes] = []
        for start, end in pairwise(starts):
            match = _CHECKED_SENTENCE.match(line, start, end)
            if match is None:
                skipped += end - start
            else:
                sentences.append(match.group())
                skipped += end - match.end()
        sentences.append(line[starts[-1] :])
        self.skipped_bytes += skipped
        return sentences


def nmea_framer(spec: FormatSpec, terminator: bytes, max_frame_bytes: int) -> NmeaFramer:
    """The NMEA ``framer``: lines at the configured terminator, cut into sentences."""
    del spec
    return NmeaFramer(terminator, max_frame_bytes)


CODEC = Codec("nmea", check, decoder, encoder, nmea_framer)
