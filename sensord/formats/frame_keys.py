"""The words of a binary frame sensor's keys (``frame``, ``preset``): its fields' types, its
checksums and the presets, for the configuration to declare them without the codec.

The codec (:mod:`sensord.formats.frames` and its parts, ``frames_*``), the presets
(:mod:`sensord.formats.presets`) and the acknowledgements of set-up commands are loaded with
the first sensor that uses them, at the start or at the reload that adds it; a daemon of line
sensors loads only this module of them. The names are written out here: a test holds them to
the codec's and the presets'.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["CHECKSUM_NAMES", "FIELD_TYPES", "PRESET_NAMES"]

#: Field type -> struct format.
FIELD_TYPES: Mapping[str, str] = {
    "u8": ">B",
    "i8": ">b",
    "u16be": ">H",
    "u16le": "<H",
    "i16be": ">h",
    "i16le": "<h",
    "u32be": ">I",
    "u32le": "<I",
    "i32be": ">i",
    "i32le": "<i",
    "f32be": ">f",
    "f32le": "<f",
}

#: The checksums a frame may end with (``frame.checksum``): ``frames_checksums.CHECKSUMS``'s names.
CHECKSUM_NAMES = (
    "sum8",
    "sum16be",
    "sum16le",
    "twos8",
    "twos16be",
    "twos16le",
    "ones8",
    "xor8",
    "crc16_modbus",
    "crc16_xmodem",
    "crc16_ccitt_false",
    "crc16_mcrf4xx",
    "crc16_x25",
    "crc8",
)

#: The known sensors a ``preset`` names: ``presets.PRESETS``'s names.
PRESET_NAMES = (
    "pms5003",
    "pms7003",
    "pmsa003",
    "pms5003t",
    "pms5003s",
    "pms5003st",
    "pms3003",
    "sds011",
    "mhz19",
)
