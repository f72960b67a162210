"""Wire protocols as codecs: one module per protocol, and the registry that maps a sensor's
``format`` to its :class:`~sensord.formats.base.Codec`.

A new protocol is one new module exporting its ``CODEC`` and one line in :data:`MODULES`. A
protocol's module is imported when a sensor first asks for its codec (``codec_for``), so a
daemon that reads no NMEA receiver or smart meter does not hold their tables and code.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from types import MappingProxyType

from sensord.formats.base import Codec

__all__ = ["FORMATS", "MODULES", "codec_for"]

#: ``format`` value -> the module of ``sensord.formats`` that holds its ``CODEC``.
MODULES: Mapping[str, str] = MappingProxyType(
    {
        "value": "value",
        "kv": "kv",
        "csv": "csv_lines",
        "json": "json_lines",
        "nmea": "nmea",
        "frames": "frames",
        "modbus": "modbus",
        "dsmr": "dsmr",
    }
)

#: The wire formats a sensor can use.
FORMATS = tuple(MODULES)

_codecs: dict[str, Codec] = {}


def codec_for(name: str) -> Codec:
    """The codec of ``format = name``; ValueError for an unknown format."""
    codec = _codecs.get(name)
    if codec is None:
        module = MODULES.get(name)
        if module is None:
            raise ValueError(f"format must be one of {', '.join(FORMATS)}; got {name!r}")
        codec = importlib.import_module(f"{__name__}.{module}").CODEC
        _codecs[name] = codec
    return codec
