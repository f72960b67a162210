"""Fuzzing across modules.

* Bytes: arbitrary streams of good lines and garbage, cut into arbitrary chunks, go through a
  real sensor (``SensorRuntime.feed``: framing, the format's parser, filter, normalize, window)
  built from a real configuration of each wire format. Nothing but ``ParseError`` may leave a
  parser (anything else would escape ``feed``), every good line survives whatever garbage
  surrounds it, the counters agree with an independent model of the framing rules, every step
  balances, and the result does not depend on the chunking.
* Configuration: arbitrary text, and TOML documents generated from the schema itself (written
  by the small TOML writer below), go through ``parse_config``. Only ``ConfigError`` may
  escape, and every problem line starts with a key path (or says the file is not TOML).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import tempfile
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import reduce
from itertools import pairwise
from operator import xor
from pathlib import Path
from typing import Any, Literal

from harness.balance import assert_steps, stage_steps
from hypothesis import HealthCheck, event, example, given, settings
from hypothesis import strategies as st

from sensord.config import Config, load_config, parse_config
from sensord.config_sensor import SensorConfig
from sensord.errors import PARSE_ERROR_REASONS, ConfigError, ParseError
from sensord.formats import codec_for
from sensord.formats.base import BatchDecoder, Decoder, FormatSpec
from sensord.formats.text import SCPI_INFINITY
from sensord.normalize import Normalize
from sensord.schema import Schema
from sensord.schema_fields import (
    Bool,
    Bytes,
    BytesList,
    Choice,
    Field,
    Float,
    Hex,
    HexList,
    Int,
    IntOrHex,
    IntOrHexList,
    NumberList,
    NumberTable,
    Section,
    SectionList,
    SectionOrStrList,
    Str,
    StrList,
)
from sensord.sensor import SensorRuntime
from sensord.sensor_source import make_source

FUZZ = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# -- sensors of every wire format --------------------------------------------------------------


def nmea(body: str) -> bytes:
    return f"${body}*{reduce(xor, body.encode(), 0):02X}".encode()


def nmea_sentences(line: bytes, max_frame_bytes: int) -> list[bytes]:
    """The NMEA framer's rules, written out: a line is cut before each ``$`` or ``!``; noise
    before the first is dropped, and so is a line without any; a piece is kept up to its
    checksum when it has one within ``max_frame_bytes``; without one it is dropped when
    another follows and kept whole when it is the last."""
    starts = [i for i, byte in enumerate(line) if byte in b"$!"]
    out: list[bytes] = []
    for start, end in pairwise([*starts, len(line)]):
        piece = line[start:end]
        star = piece.find(b"*")
        digits = piece[star + 1 : star + 3]
        hexadecimal = all(c in b"0123456789abcdefABCDEF" for c in digits)
        if star > 0 and len(digits) == 2 and hexadecimal and star + 3 <= max_frame_bytes:
            out.append(piece[: star + 3])
        elif end == len(line):
            out.append(piece)
    return out


def number(value: float) -> str:
    return repr(value)


@dataclass(frozen=True)
class Wire:
    """A sensor configuration and how its device writes a good line for given values."""

    config: str
    channels: tuple[str, ...]
    line: Callable[[tuple[float, ...]], bytes]
    #: Lines the device may send that are not readings (a csv header, other NMEA sentences).
    extra: tuple[bytes, ...] = ()
    #: The frames within one line (and max_frame_bytes), for a protocol whose framer cuts
    #: lines further (NMEA).
    split: Callable[[bytes, int], list[bytes]] | None = None
    #: Whether a CR that no LF follows ends a line too (NMEA, whose text never holds one).
    cr_ends_lines: bool = False
    #: Whether a value of 0 is no value (an NMEA DOP): the good lines carry other values.
    nonzero: bool = False

    def sensor(self) -> SensorConfig:
        return parse_config(self.config).sensors[0]


def sensor_block(fmt: str, extra: str, channels: str) -> str:
    return (
        f'[[sensors]]\nname = "fuzz"\nport = "sim://fuzz"\nformat = "{fmt}"\n'
        f"max_frame_bytes = 128\n{extra}\n{channels}"
    )


def channel(name: str, field: str | None = None, bounds: bool = False) -> str:
    text = f'  [[sensors.channels]]\n  name = "{name}"\n  window = {{ size = 5 }}\n'
    if field is not None:
        text += f'  field = "{field}"\n'
    if bounds:
        text += "  filter = { min = -1e6, max = 1e6 }\n"
    return text


WIRES = {
    "value": Wire(
        sensor_block("value", "", channel("v", bounds=True)),
        ("v",),
        lambda v: number(v[0]).encode(),
    ),
    "value-pattern": Wire(
        sensor_block("value", "parse = { pattern = 'T=(\\S+) C' }", channel("v")),
        ("v",),
        lambda v: f"T={number(v[0])} C".encode(),
    ),
    "kv": Wire(
        sensor_block("kv", "", channel("t", "T", bounds=True) + channel("rh", "H")),
        ("t", "rh"),
        lambda v: f"T={number(v[0])}, H = {number(v[1])}".encode(),
    ),
    "csv": Wire(
        sensor_block(
            "csv",
            'parse = { columns = ["time", "t", "rh"], header = true }',
            channel("t", bounds=True) + channel("rh"),
        ),
        ("t", "rh"),
        lambda v: f"12:00:00,{number(v[0])},{number(v[1])}".encode(),
        extra=(b"time,t,rh",),
    ),
    "json": Wire(
        sensor_block("json", "", channel("t", "a.t", bounds=True) + channel("rh", "a.list.1")),
        ("t", "rh"),
        lambda v: json.dumps({"a": {"t": v[0], "list": [0, v[1]]}, "id": 7}).encode(),
    ),
    "nmea": Wire(
        sensor_block("nmea", "", channel("t", "MTW.temperature", bounds=True)),
        ("t",),
        lambda v: nmea(f"IIMTW,{number(v[0])},C"),
        extra=(
            nmea("GPGSV,3,1,11,03,03,111,00"),
            nmea("PGRME,15.0,M"),
            nmea("GPGLL,4916.45,N,12311.12,W,225444,A") + nmea("GPVTG,054.7,T,,M,5.5,N,10.2,K,A"),
            b"$$" + nmea("GNGNS,014035.00,4332.69262,S,17235.48549,E,RR,13,0.9,25.63,11.24,,")[1:],
        ),
        split=nmea_sentences,
        cr_ends_lines=True,
    ),
    "nmea-gnss": Wire(
        sensor_block("nmea", "", channel("hdop", "GSA.hdop", bounds=True)),
        ("hdop",),
        lambda v: nmea(f"GNGSA,A,3,01,02,03,,,,,,,,,,1.5,{number(v[0])},1.2,1"),
        extra=(
            nmea("GPGSV,2,1,08,01,40,083,46,02,17,308,41,12,07,344,39,14,22,228,45"),
            nmea("GNGSA,A,1,,,,,,,,,,,,,,,,1"),
            b"\x00\xb5" + nmea("GPVTG,054.7,T,034.4,M,005.5,N,010.2,K"),
            nmea("GPZDA,201530.00,04,07,2002,00,00"),
        ),
        split=nmea_sentences,
        cr_ends_lines=True,
        nonzero=True,
    ),
}

#: What a text device may print: finite, and below SCPI's infinity (9.9E37, an overload,
#: read like ``inf``: see test_a_scpi_overload_is_no_reading)
finite = st.floats(
    min_value=-SCPI_INFINITY, max_value=SCPI_INFINITY, exclude_min=True, exclude_max=True
)
#: Values around the filter bounds, small and huge magnitudes, and signed zeros.
interesting = st.sampled_from([0.0, -0.0, 1e6, -1e6, 1e6 + 1e-9, 5e-324, 9.8e37, -9.8e37, 21.5])
values = st.one_of(finite, interesting)

garbage = st.one_of(
    st.binary(max_size=300),
    st.sampled_from(
        [
            b"nan",
            b"inf",
            b"-inf",
            b"1e999",
            b"\x00",
            b"1.5\x00",
            b"\xff\xfe",
            b"\r",
            b"T=nan C",
            b"T=,H=",
            b",,,",
            b"{}",
            b"[1]",
            b'{"a": {"t": NaN}}',
            b"$",
            b"$*00",
            b"$IIMTW,1,C*00",
            b"$IIMTW,inf,C",
            b"$IIMTW,1.5,C\r$IIMTW,2.5,C\rx",
            b"\xef\xbb\xbf21.5",
            b"\x1b[2J",
            b"A" * 200,
        ]
    ),
    st.text(max_size=40).map(str.encode),
).map(lambda b: b.replace(b"\n", b"").replace(b"\xb5", b"\xb4"))
# (0xB5 0x62 starts a u-blox UBX frame, which the NMEA framer holds back, with what follows
# it, until the length it claims is in: tests/test_formats_nmea.py covers those.)


@dataclass(frozen=True)
class Line:
    data: bytes
    crlf: bool
    #: The readings of a good line: {channel: value}; None for garbage and extra lines.
    readings: dict[str, float] | None


@st.composite
def streams(draw: st.DrawFn, wire: Wire) -> list[Line]:
    lines: list[Line] = []
    for _ in range(draw(st.integers(0, 25))):
        kind = draw(st.sampled_from(["good", "good", "garbage", "extra"]))
        crlf = draw(st.booleans())
        if kind == "good":
            drawn = values.filter(bool) if wire.nonzero else values
            vals = tuple(draw(drawn) for _ in wire.channels)
            lines.append(Line(wire.line(vals), crlf, dict(zip(wire.channels, vals, strict=True))))
        elif kind == "extra" and wire.extra:
            lines.append(Line(draw(st.sampled_from(wire.extra)), crlf, None))
        else:
            lines.append(Line(draw(garbage), crlf, None))
    return lines


def raw_lines(line: Line, wire: Wire) -> list[bytes]:
    """The bytes of ``line`` before its LF (a CR there included) as the framer cuts them:
    for a wire whose CR ends a line, one line per CR, each with the CR that ends it."""
    raw = line.data + (b"\r" if line.crlf else b"")
    if not wire.cr_ends_lines:
        return [raw]
    *ended, last = raw.split(b"\r")
    return [part + b"\r" for part in ended] + ([last] if last else [])


def framed(raw: bytes, max_frame_bytes: int, wire: Wire) -> tuple[list[bytes], bool]:
    """The frames of one line (``raw``: its bytes before the LF, a CR there included) and
    whether it counts as overlong: a line longer than ``max_frame_bytes`` is, and for a
    protocol that cuts lines further (NMEA) a line whose last frame is longer (that frame is
    dropped; a long line's other frames are kept, and one without any is just skipped)."""
    frame = raw[:-1] if raw.endswith(b"\r") else raw
    if wire.split is None:
        if len(raw) > max_frame_bytes:
            return [], True
        return ([frame] if frame else []), False
    frames = wire.split(frame, max_frame_bytes)
    if frames and len(frames[-1]) > max_frame_bytes:
        return frames[:-1], True
    return frames, False


#: the most bytes an NMEA framer holds for a UBX candidate's payload
UBX_CANDIDATE_MOST = 9216


def expected_frames(
    lines: list[Line], max_frame_bytes: int, wire: Wire
) -> list[tuple[bytes, Line]]:
    """The framing rules, written out: frames (with the line each came from) in order."""
    out: list[tuple[bytes, Line]] = []
    for line in lines:
        for raw in raw_lines(line, wire):
            out += [(f, line) for f in framed(raw, max_frame_bytes, wire)[0]]
    return out


def chunked(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({min(c, len(data)) for c in cuts})
    chunks, start = [], 0
    for point in points:
        chunks.append(data[start:point])
        start = point
    chunks.append(data[start:])
    return chunks


def decoder_of(spec: FormatSpec) -> Decoder:
    return codec_for(spec.format).decoder(spec)


def parse_outcome(parser: Decoder, frame: bytes) -> list[tuple[str, float]] | ParseError:
    """The readings of ``frame``, or the ParseError it raised (nothing else may come out)."""
    try:
        return parser(frame)
    except ParseError as exc:
        return exc


def recording(parser: Decoder, seen: list[bytes]) -> Decoder:
    def parse(frame: bytes) -> list[tuple[str, float]]:
        seen.append(frame)
        return parser(frame)

    return parse


def recording_batches(values_of: BatchDecoder | None, seen: list[bytes]) -> BatchDecoder | None:
    """``values_of`` noting the frames of the batches it decodes (a declined batch goes to
    the per-frame parser, which notes them there)."""
    if values_of is None:
        return None

    def decode(frames: list[bytes]) -> list[float] | None:
        values = values_of(frames)
        if values is not None:
            seen.extend(frames)
        return values

    return decode


def runtime_state(runtime: SensorRuntime) -> dict[str, Any]:
    """Everything observable about a runtime after feeding (for chunking invariance)."""
    state: dict[str, Any] = {
        "frames": runtime.framer.frames,
        "overlong": runtime.framer.overlong,
        "skipped_bytes": runtime.framer.skipped_bytes,
        "parse_errors": dict(runtime.parse_errors),
        "ignored": runtime.ignored,
        "bytes": runtime.bytes_read,
        "pipeline_errors": runtime.pipeline_errors,
    }
    for ch in runtime.channels.values():
        stats = ch.chain.window.last if ch.chain.window is not None else None
        state[ch.name] = (
            [(s.records_in, s.records_out, dict(s.dropped)) for s in ch.chain.stages],
            None if stats is None else repr((stats.count, stats.mean, stats.min, stats.max)),
            None if stats is None else repr(stats.reading.value),
        )
    return state


@FUZZ
@given(data=st.data(), wire_name=st.sampled_from(sorted(WIRES)))
def test_good_lines_survive_any_garbage_and_any_chunking(
    data: st.DataObject, wire_name: str
) -> None:
    wire = WIRES[wire_name]
    config = wire.sensor()
    lines = data.draw(streams(wire), label="lines")
    stream = b"".join(line.data + (b"\r\n" if line.crlf else b"\n") for line in lines)
    cuts = data.draw(st.lists(st.integers(0, max(0, len(stream))), max_size=12), label="cuts")

    runtime = SensorRuntime(config)
    seen: list[bytes] = []
    runtime.parser = recording(runtime.parser, seen)
    runtime._values_of = recording_batches(runtime._values_of, seen)
    for chunk in chunked(stream, cuts):
        runtime.feed(chunk)  # a parser raising anything but ParseError would escape here
    # the line goes on: a binary candidate the stream ends inside (an RTCM 3 header, D3 00,
    # whose length takes in the LF and a "$" after it) is complete and fails its check by
    # the time this many empty lines came, and what it held back is passed on
    runtime.feed(b"\n" * (UBX_CANDIDATE_MOST + 8))
    event(f"good lines: {min(3, sum(line.readings is not None for line in lines))}+")

    frames = expected_frames(lines, config.max_frame_bytes, wire)
    assert seen == [frame for frame, _ in frames]
    assert runtime.framer.frames == len(frames)
    assert runtime.framer.overlong == sum(
        framed(raw, config.max_frame_bytes, wire)[1]
        for line in lines
        for raw in raw_lines(line, wire)
    )
    assert runtime.pipeline_errors == 0

    # the model: each frame parsed on its own by a fresh parser
    parser = decoder_of(config.format_spec())
    reasons = dict.fromkeys(PARSE_ERROR_REASONS, 0)
    ignored = 0
    readings: dict[str, list[float]] = {name: [] for name in wire.channels}
    for frame, line in frames:
        outcome = parse_outcome(parser, frame)
        if isinstance(outcome, ParseError):
            assert line.readings is None, f"good line rejected: {frame!r}: {outcome}"
            reasons[outcome.reason] += 1
            continue
        pairs = outcome
        if line.readings is not None:  # every good line yields exactly its readings
            assert dict(pairs) == line.readings, frame
        if not pairs:
            ignored += 1
        for name, value in pairs:
            assert math.isfinite(value)
            readings[name].append(value)
    assert runtime.parse_errors == reasons
    assert runtime.ignored == ignored

    bounds = {ch.name: (ch.filter.min, ch.filter.max) for ch in config.channels}
    for name, got in readings.items():
        chain = runtime.channels[name].chain
        lo, hi = bounds[name]
        kept = [v for v in got if (lo is None or v >= lo) and (hi is None or v <= hi)]
        # the filter drops exactly the readings outside its bounds; nothing else is dropped
        assert_steps(
            stage_steps(chain.stages),
            records_in={"filter": len(got), "normalize": len(kept), "window": len(kept)},
            dropped={"filter": {"range": len(got) - len(kept)}},
            what=name,
        )
        window = chain.window
        assert window is not None
        if kept:
            assert window.last is not None
            assert window.last.reading.value == kept[-1]
            assert window.last.count == min(5, len(kept))
            assert window.last.max == max(kept[-5:])
            assert window.last.min == min(kept[-5:])
        else:
            assert window.last is None

    # the same bytes in one chunk leave the same state
    whole = SensorRuntime(config)
    whole.feed(stream)
    whole.feed(b"\n" * (UBX_CANDIDATE_MOST + 8))
    assert runtime_state(whole) == runtime_state(runtime)


@FUZZ
@given(frame=st.one_of(garbage, st.binary(max_size=200)), wire_name=st.sampled_from(sorted(WIRES)))
def test_every_parser_returns_finite_readings_of_its_channels_or_raises_parse_error(
    frame: bytes, wire_name: str
) -> None:
    wire = WIRES[wire_name]
    outcome = parse_outcome(decoder_of(wire.sensor().format_spec()), frame)
    if isinstance(outcome, ParseError):
        assert outcome.reason in PARSE_ERROR_REASONS
        return
    for name, value in outcome:
        assert name in wire.channels
        assert type(value) is float
        assert math.isfinite(value)


number_like = st.one_of(
    st.floats().map(repr),
    st.integers().map(str),
    st.tuples(
        st.sampled_from(["", " ", "\t", "\xa0", "\u2003", "+", "-", "0"]),
        st.sampled_from(["1", "1.5", "1e5", "1_0", ".5", "5.", "inf", "Infinity", "nan", "1e999"]),
        st.sampled_from(["", " ", "\r", "\x0b", "_", "\x00", "\u0660", "e", "x"]),
    ).map("".join),
    st.sampled_from(["\u0661\u0662", "\uff11", "\u00b2", "0x10", "1,5", "--1", "1e", "e1", "."]),
)


@FUZZ
@given(
    frame=st.one_of(number_like.map(str.encode), garbage),
    encoding=st.sampled_from(["utf-8", "latin-1", "ascii", "cp1252", "utf-16-le", "cp037"]),
)
def test_value_format_reads_every_frame_as_its_general_pattern_path_does(
    frame: bytes, encoding: str
) -> None:
    """The plain value parser may take shortcuts; it must agree with the general path (a
    pattern capturing the whole frame), reading for reading and reason for reason."""
    plain = decoder_of(FormatSpec("value", (("v", "v"),), encoding=encoding))
    general = decoder_of(
        FormatSpec("value", (("v", "v"),), pattern=r"(?s)\A(.*)\Z", encoding=encoding)
    )

    def outcome(parser: Decoder) -> tuple[str, str]:
        result = parse_outcome(parser, frame)
        if isinstance(result, ParseError):
            return ("error", result.reason)
        return ("ok", repr(result))

    assert outcome(plain) == outcome(general)


SCALED = Wire(
    sensor_block(
        "value", "", '  [[sensors.channels]]\n  name = "v"\n  normalize = { scale = 1e280 }\n'
    ),
    ("v",),
    lambda v: number(v[0]).encode(),
)


@FUZZ
@given(st.lists(values, max_size=20))
@example([9.8e37, -9.8e37])
def test_normalized_readings_never_fail_the_pipeline(readings: list[float]) -> None:
    runtime = SensorRuntime(SCALED.sensor())
    runtime.feed(b"".join(number(v).encode() + b"\n" for v in readings))
    assert runtime.pipeline_errors == 0
    # scale = 1e280: a reading so scaled that it leaves the float range is dropped as
    # non-finite
    overflowing = sum(1 for v in readings if not math.isfinite(v * 1e280))
    assert_steps(
        stage_steps(runtime.channels["v"].chain.stages),
        records_in={
            "filter": len(readings),
            "normalize": len(readings),
            "window": len(readings) - overflowing,
        },
        dropped={"normalize": {"nonfinite": overflowing}},
    )


@FUZZ
@given(st.lists(values, max_size=20))
@example([9.8e37, -9.8e37])
def test_status_snapshot_is_strict_json_for_any_readings(readings: list[float]) -> None:
    runtime = SensorRuntime(WIRES["value-pattern"].sensor())
    runtime.feed(b"".join(WIRES["value-pattern"].line((v,)) + b"\n" for v in readings))
    json.dumps(runtime.snapshot().as_json(), allow_nan=False)


# -- configuration -----------------------------------------------------------------------------


def toml_string(text: str) -> str:
    out = ['"']
    for char in text:
        code = ord(char)
        if char in '"\\':
            out.append("\\" + char)
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\u{code:04x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def toml_value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return (
            "{" + ", ".join(f"{toml_string(k)} = {toml_value(v)}" for k, v in value.items()) + "}"
        )
    raise TypeError(f"not a TOML value: {value!r}")


def toml_document(document: Mapping[str, object]) -> str:
    """TOML text for ``document``: plain keys first, then ``[table]`` sections and
    ``[[array]]`` tables, with anything deeper written inline."""
    head: list[str] = []
    tail: list[str] = []
    for key, value in document.items():
        name = toml_string(key)
        if isinstance(value, dict):
            tail.append(f"[{name}]")
            tail.extend(f"{toml_string(k)} = {toml_value(v)}" for k, v in value.items())
        elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
            for item in value:
                tail.append(f"[[{name}]]")
                tail.extend(f"{toml_string(k)} = {toml_value(v)}" for k, v in item.items())
        else:
            head.append(f"{name} = {toml_value(value)}")
    return "\n".join([*head, *tail]) + "\n"


def same_toml(a: object, b: object) -> bool:
    """Equality that takes NaN as equal to NaN."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same_toml(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_toml(x, y) for x, y in zip(a, b, strict=True))
    return type(a) is type(b) and a == b


def schema_keys(schema: type[Schema], seen: set[str] | None = None) -> set[str]:
    keys = seen if seen is not None else set()
    for name, field in schema._fields.items():
        keys.add(name)
        if isinstance(field, Section | SectionList | SectionOrStrList):
            schema_keys(field.schema, keys)
    return keys


SCHEMA_KEYS = frozenset(schema_keys(Config))


def document_keys(value: object, keys: set[str] | None = None) -> set[str]:
    found = keys if keys is not None else set()
    if isinstance(value, dict):
        for key, item in value.items():
            found.add(key)
            document_keys(item, found)
    elif isinstance(value, list):
        for item in value:
            document_keys(item, found)
    return found


def assert_problems_name_key_paths(error: ConfigError, document: object) -> None:
    """Each problem starts with ``key.path[i].key: `` made of keys of the document or the
    schema, or says the text is not TOML."""
    assert error.problems
    keys = sorted(SCHEMA_KEYS | document_keys(document), key=len, reverse=True)
    # an unknown key that is no bare key is shown quoted, as TOML writes it
    key = "|".join(re.escape(k) for k in keys) + r'|"(?:[^"\\]|\\.)*"'
    path = re.compile(rf"(?:{key})(?:\[\d+\])*(?:\.(?:{key})(?:\[\d+\])*)*: ", re.DOTALL)
    for problem in error.problems:
        assert problem.startswith("not valid TOML: ") or path.match(problem), problem


def load(text: str, document: object) -> Config | None:
    """parse_config, asserting that only a well-formed ConfigError can come out."""
    error: ConfigError | None = None
    try:
        return parse_config(text, "fuzz.toml")
    except ConfigError as exc:
        error = exc
    assert_problems_name_key_paths(error, document)
    assert str(error).startswith("fuzz.toml: ")
    return None


NO_SURROGATES: tuple[Literal["Cs"]] = ("Cs",)  # TOML text cannot hold them
any_text = st.text(st.characters(exclude_categories=NO_SURROGATES), max_size=12)
INTERESTING_STRINGS = [
    "", " ", "sim://x", "/dev/ttyUSB0", "socket://127.0.0.1:1", "value", "kv", "csv", "json",
    "nmea", "auto", "always", "never", "N", "E", "celsius", "fahrenheit", "km", "mm", "hpa",
    "GGA.altitude", "MTW.temperature", "XDR.T", "a.b.0", "0", "\\r\\n", "\\x03", "\\d", "\\N{x}",
    "ü", "127.0.0.1", "::1", "localhost", "-bad", "x" * 70, "(\\S+)", "(a)(b)", "(", "utf-8",
    "latin-1", "base64", "rot13", "nope",
]  # fmt: skip
HEX_STRINGS = st.sampled_from(
    ["7E 00 00 02 01 03 F9 7E", "A5 A5", "96 96", "a5a5", "42 4D E4 00 00 01 73", "7E 0", "", "zz"]
)
INT_OR_HEX = st.sampled_from([0, 3, 0x95, 0x1_0000, 0xFFFF_FFFF, 2**40, -1]) | HEX_STRINGS
toml_scalars = st.one_of(
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.sampled_from([0, -1, 1, 5, 16, 9600, 65535, 65536, 10_000, 10_001, 2**63 - 1]),
    st.floats(),
    st.sampled_from([0.0, -0.0, 0.01, 0.5, 1.0, 1.5, 1e308, -1e308, 5e-324, math.inf]),
    any_text,
    st.sampled_from(INTERESTING_STRINGS),
    st.datetimes(timezones=st.none() | st.just(dt.UTC)),
    st.dates(),
    st.times(),
)
toml_values = st.recursive(
    toml_scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(any_text, inner, max_size=3),
    max_leaves=6,
)


def field_values(field: Field[Any]) -> st.SearchStrategy[object]:
    """Values a user might write for ``field``: mostly of its type, near its limits."""
    plausible: st.SearchStrategy[object]
    if isinstance(field, Section):
        plausible = table(field.schema)
    elif isinstance(field, SectionList):
        plausible = st.lists(table(field.schema), max_size=2)
    elif isinstance(field, Bool):
        plausible = st.booleans()
    elif isinstance(field, Choice):
        plausible = st.sampled_from(field.choices)
    elif isinstance(field, IntOrHex):
        plausible = INT_OR_HEX
    elif isinstance(field, IntOrHexList):
        plausible = INT_OR_HEX | st.lists(INT_OR_HEX, max_size=3)
    elif isinstance(field, Int):
        limits = [v for v in (field.min, field.max) if v is not None]
        edges = [e + d for e in limits for d in (-1, 0, 1)]
        plausible = st.sampled_from(edges) if edges else st.integers(-(2**40), 2**40)
    elif isinstance(field, Float):
        bounds = [v for v in (field.min, field.max, field.above) if v is not None]
        plausible = st.one_of(
            st.sampled_from([*bounds, *(v * 1.0001 for v in bounds), 0.5, -1.0]),
            st.floats(),
        )
    elif isinstance(field, StrList):
        plausible = st.lists(st.sampled_from(["t", "rh", "time", " ", "t"]), max_size=3)
    elif isinstance(field, NumberList):
        sentinels = [0, -1, 0x7FFF, 0x8000, 0xFFFF, 0x8000_0000, 0xFFFF_FFFF, 2**64, -(2**63)]
        plausible = st.lists(st.sampled_from(sentinels) | st.floats(), max_size=3)
    elif isinstance(field, NumberTable):
        states = st.sampled_from(["ON", "OFF", "1", "nan", "", " OK", "ERR", "1,5", "0xA3"])
        numbers = st.sampled_from([0, 1, -1, 2**64]) | st.floats()
        plausible = st.dictionaries(states | any_text, numbers, max_size=3)
    elif isinstance(field, SectionOrStrList):
        plausible = st.lists(
            st.sampled_from(["passive_mode", "sleep", "range=5000", " "]) | table(field.schema),
            max_size=3,
        )
    elif isinstance(field, Hex):
        plausible = HEX_STRINGS | any_text
    elif isinstance(field, BytesList):
        texts = st.sampled_from(INTERESTING_STRINGS) | any_text
        plausible = texts | st.lists(texts, max_size=3)
    elif isinstance(field, HexList):
        plausible = HEX_STRINGS | st.lists(HEX_STRINGS, max_size=3)
    elif isinstance(field, Bytes | Str):
        plausible = st.sampled_from(INTERESTING_STRINGS) | any_text
    else:
        raise TypeError(f"no strategy for {type(field).__name__}")
    return st.one_of(plausible, plausible, plausible, toml_values)


_TABLES: dict[type[Schema], st.SearchStrategy[dict[str, object]]] = {}


def table(schema: type[Schema]) -> st.SearchStrategy[dict[str, object]]:
    """Tables of ``schema``: any subset of its keys (required ones mostly present), now and
    then an unknown key."""
    if schema not in _TABLES:
        _TABLES[schema] = st.deferred(lambda: _table(schema))
    return _TABLES[schema]


def _table(schema: type[Schema]) -> st.SearchStrategy[dict[str, object]]:
    required = {
        name: field_values(field) for name, field in schema._fields.items() if field.required
    }
    optional = {
        name: field_values(field) for name, field in schema._fields.items() if not field.required
    }
    base = st.fixed_dictionaries(required, optional=optional)
    unknown = st.dictionaries(any_text, toml_values, max_size=1)
    required_subset = st.sets(st.sampled_from(sorted(required)) if required else st.nothing())

    def combine(parts: tuple[dict[str, object], dict[str, object], set[str]]) -> dict[str, object]:
        known, extra, dropped = parts
        out = {k: v for k, v in known.items() if k not in dropped}
        for key, value in extra.items():
            out.setdefault(key, value)
        return out

    return st.tuples(
        base,
        st.one_of(st.just({}), st.just({}), unknown),
        st.one_of(st.just(set()), st.just(set()), st.just(set()), required_subset),
    ).map(combine)


@FUZZ
@given(st.text(st.characters(exclude_categories=NO_SURROGATES), max_size=200))
@example("[[sensors]]\nname = 'a'\n")
@example("sensors = 5")
@example('[http]\nport = "x"\n[[sensors]]\n')
def test_any_text_gives_a_config_or_a_config_error_with_key_paths(text: str) -> None:
    try:
        document: object = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        document = {}
    load(text, document)


FILE_PROBLEMS = ("is not UTF-8 text", "is not a regular file", "cannot read the file")


@FUZZ
@given(st.one_of(st.binary(max_size=200), st.text(max_size=200).map(str.encode)))
@example(b"\xef\xbb\xbf[[sensors]]\n")  # a UTF-8 byte order mark
@example(b"\xff\xfe[\x00")
def test_any_file_gives_a_config_or_a_config_error(content: bytes) -> None:
    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "sensord.toml"
        path.write_bytes(content)
        error: ConfigError | None = None
        try:
            load_config(path)
        except ConfigError as exc:
            error = exc
    if error is None:
        return
    assert str(error).startswith(f"{path}: ")
    if not any(problem.startswith(FILE_PROBLEMS) for problem in error.problems):
        try:
            document: object = tomllib.loads(content.decode())
        except (UnicodeDecodeError, tomllib.TOMLDecodeError):
            document = {}
        assert_problems_name_key_paths(error, document)


@FUZZ
@given(table(Config))
def test_schema_shaped_documents_give_a_config_or_a_config_error_with_key_paths(
    document: dict[str, object],
) -> None:
    text = toml_document(document)
    assert same_toml(tomllib.loads(text), document), text  # the writer is right
    config = load(text, document)
    event("valid" if config is not None else "invalid")
    if config is not None:
        assert len(config.sensors) == len(document["sensors"])  # type: ignore[arg-type]
        for sensor in config.sensors:
            SensorRuntime(sensor)  # parser and stages build from any valid sensor


@FUZZ
@given(st.dictionaries(any_text | st.sampled_from(sorted(SCHEMA_KEYS)), toml_values, max_size=5))
def test_arbitrary_documents_give_a_config_or_a_config_error_with_key_paths(
    document: dict[str, object],
) -> None:
    text = toml_document(document)
    assert same_toml(tomllib.loads(text), document), text
    load(text, document)


@FUZZ
@given(
    st.one_of(
        st.sampled_from(["a{99999999999}", "(" * 1200 + "x" + ")" * 1200, "(\\S+)"]),
        any_text,
    )
)
@example("a{99999999999}")
def test_any_value_pattern_gives_a_config_or_a_config_error(pattern: str) -> None:
    document = {
        "sensors": [
            {"name": "s", "port": "sim://s", "format": "value", "parse": {"pattern": pattern},
             "channels": [{"name": "v"}]}
        ]
    }  # fmt: skip
    load(toml_document(document), document)


def runnable(config: Config) -> None:
    """What the daemon does with a valid config before reading a byte: a runtime per sensor,
    finite stage coefficients, and the simulated device it falls back to."""
    for sensor in config.sensors:
        runtime = SensorRuntime(sensor)
        for ch in runtime.channels.values():
            normalize = ch.chain.stages[1]
            assert isinstance(normalize, Normalize)
            assert math.isfinite(normalize.a)
            assert normalize.a != 0
            assert math.isfinite(normalize.b)
        make_source(sensor, simulated=True).close()


@FUZZ
@given(table(Config))
@example(
    {"sensors": [{"name": "s", "port": "sim://s", "format": "value",
                  "channels": [{"name": "v", "filter": {"min": -1e308, "max": 1e308}}]}]}
)  # fmt: skip
@example(
    {"sensors": [{"name": "s", "port": "sim://s", "format": "value",
                  "channels": [{"name": "v", "normalize": {"scale": 1e308, "from_unit": "km",
                                                           "to_unit": "mm"}}]}]}
)  # fmt: skip
def test_every_valid_config_is_runnable(document: dict[str, object]) -> None:
    config = load(toml_document(document), document)
    if config is not None:
        runnable(config)
