"""Wire protocols as codecs: one module per protocol, and the registry that maps a sensor's
``format`` to its :class:`~sensord.formats.base.Codec`.

A new protocol is one new module exporting its ``CODEC`` and one line in :data:`CODECS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from sensord.formats import csv_lines, dsmr, frames, json_lines, kv, modbus, nmea, value
from sensord.formats.base import Codec

__all__ = ["CODECS", "FORMATS", "codec_for"]

#: ``format`` value -> codec.
CODECS: Mapping[str, Codec] = MappingProxyType(
    {
        "value": value.CODEC,
        "kv": kv.CODEC,
        "csv": csv_lines.CODEC,
        "json": json_lines.CODEC,
        "nmea": nmea.CODEC,
        "frames": frames.CODEC,
        "modbus": modbus.CODEC,
        "dsmr": dsmr.CODEC,
    }
)

#: The wire formats a sensor can use.
FORMATS = tuple(CODECS)


def codec_for(name: str) -> Codec:
    """The codec of ``format = name``; ValueError for an unknown format."""
    codec = CODECS.get(name)
    if codec is None:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}; got {name!r}")
    return codec
