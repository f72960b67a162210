"""TOML builders for sensord configurations, and atomic configuration writes."""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from sensord.config import Config
from sensord.config_sensor import SensorConfig
from sensord.errors import ParseError
from sensord.formats import codec_for
from sensord.schema import Schema
from sensord.schema_fields import Section, SectionList, SectionOrStrList

#: A simulated Modbus meter (one float32 input register): a sensor whose loading imports
#: pymodbus, for the tests of what a reload that adds the first Modbus device does.
SIM_METER_TOML = """
[[sensors]]
name = "meter"
port = "sim://meter-bus"
format = "modbus"
modbus = { unit = 1, interval_s = 0.1 }
registers = [{ name = "v", table = "input", address = 0, type = "float32" }]
channels = [{ name = "v" }]
"""


def channel_toml(
    name: str,
    *,
    field: str | None = None,
    bounds: tuple[float, float] | None = None,
    normalize: str | None = None,
) -> str:
    """One ``[[sensors.channels]]`` table: ``field`` when it differs from the name, ``bounds``
    as ``filter = { min, max }``, ``normalize`` as the inline table's body."""
    lines = ["  [[sensors.channels]]", f'  name = "{name}"']
    if field is not None and field != name:
        lines.append(f'  field = "{field}"')
    if bounds is not None:
        lines.append(f"  filter = {{ min = {bounds[0]!r}, max = {bounds[1]!r} }}")
    if normalize is not None:
        lines.append(f"  normalize = {{ {normalize} }}")
    return "\n".join(lines) + "\n"


def sensor_toml(
    name: str,
    port: str,
    fmt: str = "value",
    extra: str = "",
    channels: str | Iterable[str] = "",
    *,
    rate_hz: float | None = 10,
) -> str:
    """One ``[[sensors]]`` table: ``extra`` holds more keys (lines of TOML), ``channels`` the
    channel tables (default: one channel ``v``); ``rate_hz`` None leaves the sampling rate at
    its default."""
    body = channels if isinstance(channels, str) else "".join(channels)
    lines = ["[[sensors]]", f'name = "{name}"', f'port = "{port}"', f'format = "{fmt}"']
    if rate_hz is not None:
        lines.append(f"sampling_rate_hz = {rate_hz}")
    if extra:
        lines.append(extra.rstrip("\n"))
    return "\n".join(lines) + "\n" + (body or channel_toml("v"))


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` at once (a new file renamed over it), so that a reload never reads
    half a file."""
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def load_sensors(*sensors: dict[str, Any]) -> Config:
    """A configuration of ``sensors`` (tables as a TOML file would give them); fails the test
    with the configuration errors when it is not valid."""
    errors: list[str] = []
    config = Config.load({"sensors": list(sensors)}, "", errors)
    assert config is not None, errors
    return config


def schema_keys(schema: type[Schema], prefix: str = "") -> Iterator[str]:
    """Every key of ``schema`` and of its sections, as dotted paths."""
    for name, field in schema._fields.items():
        if isinstance(field, SectionOrStrList):  # names, or tables of keys of their own
            yield prefix + name
        if isinstance(field, Section | SectionList | SectionOrStrList):
            yield from schema_keys(field.schema, f"{prefix}{name}.")
        else:
            yield prefix + name


#: What a frame gave: its readings, or ``(reason, readings kept)`` when it failed.
Outcome = list[tuple[str, float]] | tuple[str, list[tuple[str, float]]]


def decoded_frames(sensor: SensorConfig, data: bytes) -> list[Outcome]:
    """Each frame of ``data`` through the framer and decoder the daemon builds for
    ``sensor``: its readings, or the reason it failed and the readings kept."""
    spec = sensor.format_spec()
    codec = codec_for(spec.format)
    decode = codec.sensor_decoder(spec, time.time)
    outcomes: list[Outcome] = []
    for frame in codec.framer(spec, sensor.terminator, sensor.max_frame_bytes).feed(data):
        try:
            outcomes.append(decode(frame))
        except ParseError as exc:
            outcomes.append((exc.reason, exc.kept))
    return outcomes
