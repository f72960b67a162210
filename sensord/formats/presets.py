"""Presets of ``format = "frames"``: the frame spec, channels and polling of known sensors.

``preset = "pms5003"`` in a sensor's table fills in every key of the preset that the table does
not give itself (``format``, ``frame``, ``channels``, ``poll``, ``sampling_rate_hz``), so
``name``, ``port`` and ``preset`` are a complete sensor. A preset is the data a user could
write in the configuration file, as parsed TOML; channel names carry their units.

Layouts, from the manufacturers' datasheets:

* Plantower PMS5003, PMS7003 and PMSA003: 32-byte frames ``42 4D``, a big-endian length of the
  28 bytes after it, thirteen big-endian 16-bit values (PM1.0/PM2.5/PM10 in µg/m³ with CF=1
  "standard particle", the same under atmospheric environment, then the particles per 0.1 L of
  air above 0.3, 0.5, 1.0, 2.5, 5.0 and 10 µm, then a reserved word) and the 16-bit sum of
  bytes 0..29. The sensors stream in active mode, the default after power-on.
* Nova Fitness SDS011: 10-byte frames ``AA C0``, PM2.5 and PM10 as little-endian tenths of
  µg/m³, a two-byte device id, the 8-bit sum of bytes 2..7, and ``AB``. The sensor streams once
  a second in its default reporting mode.
* Winsen MH-Z19B/C: answers the read request ``FF 01 86 00 00 00 00 00 79`` with 9 bytes
  ``FF 86``, CO2 ppm big-endian, and a two's-complement 8-bit checksum of bytes 1..7. Byte 4
  is the temperature plus 40 °C (not in the datasheet; read by every public MH-Z19 library, and
  coarse). The preset polls every 5 s with the request, its checksum computed.

Commands (:data:`COMMANDS`) are named per preset and built with their checksums; a sensor sends
them on every connect (``setup = ["passive_mode"]``) or as its poll (``poll = { command =
"read", interval_s = 2 }``). A command that takes a number is written ``name=N``:

* PMS: ``42 4D`` command, two data bytes, 16-bit sum. ``passive_mode`` (E1 00 00),
  ``active_mode`` (E1 00 01), ``read`` in passive mode (E2 00 00), ``sleep`` (E4 00 00),
  ``wakeup`` (E4 00 01).
* SDS011: ``AA B4``, 15 data bytes (the last two FF FF: every sensor), their 8-bit sum, ``AB``.
  ``query_mode`` and ``active_mode`` (report mode 02), ``query`` (04), ``working_period=N`` (08,
  N minutes between measurements, 0..30; 0 is continuous), ``sleep`` and ``work`` (06).
* MH-Z19: ``FF 01`` command, five bytes, two's-complement sum of bytes 1..7. ``read`` (86),
  ``abc_on`` and ``abc_off`` (79, automatic baseline calibration), ``range=N`` (99, N ppm:
  2000, 5000 or 10000).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Any

from sensord.formats.frames import checksum

__all__ = ["COMMANDS", "PRESETS", "command_bytes"]

_PMS_NAMES = (
    "pm1_0_standard_ug_m3",
    "pm2_5_standard_ug_m3",
    "pm10_standard_ug_m3",
    "pm1_0_ug_m3",
    "pm2_5_ug_m3",
    "pm10_ug_m3",
    "particles_0_3um_per_dl",
    "particles_0_5um_per_dl",
    "particles_1_0um_per_dl",
    "particles_2_5um_per_dl",
    "particles_5_0um_per_dl",
    "particles_10um_per_dl",
)


def _pms() -> dict[str, Any]:
    return {
        "format": "frames",
        "frame": {
            "start": b"\x42\x4d",
            "length": 32,
            "length_offset": 2,
            "length_size": 2,
            "length_byteorder": "big",
            "length_counts": "after",
            "checksum": "sum16be",
            "fields": [
                {"name": name, "offset": 4 + 2 * i, "type": "u16be"}
                for i, name in enumerate(_PMS_NAMES)
            ],
        },
        "channels": [
            {"name": name, "filter": {"min": 0.0, "max": 1000.0 if "_ug_m3" in name else 65535.0}}
            for name in _PMS_NAMES
        ],
    }


def _pms_command(command: int, data: int) -> bytes:
    body = bytes([0x42, 0x4D, command]) + data.to_bytes(2, "big")
    return body + checksum("sum16be", body)


def _sds011_command(*data: int) -> bytes:
    payload = bytes(data).ljust(13, b"\x00") + b"\xff\xff"
    return b"\xaa\xb4" + payload + checksum("sum8", payload) + b"\xab"


def _mhz19_command(command: int, data: bytes = b"") -> bytes:
    body = bytes([0x01, command]) + data.ljust(5, b"\x00")
    return b"\xff" + body + checksum("twos8", body)


#: A command's bytes from its number (None for a command without one), and the numbers it
#: takes (empty: none).
Command = tuple[Callable[[int | None], bytes], range]

_PMS_COMMANDS: dict[str, Command] = {
    "passive_mode": (lambda _: _pms_command(0xE1, 0), range(0)),
    "active_mode": (lambda _: _pms_command(0xE1, 1), range(0)),
    "read": (lambda _: _pms_command(0xE2, 0), range(0)),
    "sleep": (lambda _: _pms_command(0xE4, 0), range(0)),
    "wakeup": (lambda _: _pms_command(0xE4, 1), range(0)),
}

#: Preset -> command name -> command.
COMMANDS: Mapping[str, Mapping[str, Command]] = MappingProxyType(
    {
        "pms5003": _PMS_COMMANDS,
        "pms7003": _PMS_COMMANDS,
        "pmsa003": _PMS_COMMANDS,
        "sds011": {
            "query_mode": (lambda _: _sds011_command(0x02, 1, 1), range(0)),
            "active_mode": (lambda _: _sds011_command(0x02, 1, 0), range(0)),
            "query": (lambda _: _sds011_command(0x04), range(0)),
            "working_period": (lambda n: _sds011_command(0x08, 1, n or 0), range(31)),
            "sleep": (lambda _: _sds011_command(0x06, 1, 0), range(0)),
            "work": (lambda _: _sds011_command(0x06, 1, 1), range(0)),
        },
        "mhz19": {
            "read": (lambda _: _mhz19_command(0x86), range(0)),
            "abc_on": (lambda _: _mhz19_command(0x79, b"\xa0"), range(0)),
            "abc_off": (lambda _: _mhz19_command(0x79, b"\x00"), range(0)),
            "range": (
                lambda n: _mhz19_command(0x99, b"\x00\x00\x00" + (n or 0).to_bytes(2, "big")),
                range(2000, 10001, 1000),
            ),
        },
    }
)


def command_bytes(preset: str | None, command: str) -> bytes:
    """The bytes of ``command`` (``name`` or ``name=N``) of ``preset``; ValueError naming what
    is wrong otherwise."""
    commands = COMMANDS.get(preset or "")
    if commands is None:
        raise ValueError("commands by name need a preset")
    name, equals, number = command.partition("=")
    entry = commands.get(name)
    if entry is None:
        raise ValueError(f"{preset} has no command {name!r}; it has {', '.join(commands)}")
    build, numbers = entry
    if not numbers:
        if equals:
            raise ValueError(f"{name!r} takes no number")
        return build(None)
    try:
        value = int(number)
    except ValueError:
        raise ValueError(f"{name!r} needs a number: {name}=N") from None
    if value not in numbers:
        raise ValueError(
            f"{name}: N must be one of {numbers.start}..{numbers.stop - 1}"
            + (f" in steps of {numbers.step}" if numbers.step != 1 else "")
        )
    return build(value)


_SDS011: dict[str, Any] = {
    "format": "frames",
    "frame": {
        "start": b"\xaa\xc0",
        "length": 10,
        "end": 0xAB,
        "checksum": "sum8",
        "checksum_start": 2,
        "fields": [
            {"name": "pm2_5_ug_m3", "offset": 2, "type": "u16le", "scale": 0.1},
            {"name": "pm10_ug_m3", "offset": 4, "type": "u16le", "scale": 0.1},
        ],
    },
    "channels": [
        {"name": "pm2_5_ug_m3", "filter": {"min": 0.0, "max": 999.9}},
        {"name": "pm10_ug_m3", "filter": {"min": 0.0, "max": 1999.9}},
    ],
}

_MHZ19: dict[str, Any] = {
    "format": "frames",
    "frame": {
        "start": b"\xff\x86",
        "length": 9,
        "checksum": "twos8",
        "checksum_start": 1,
        "fields": [
            {"name": "co2_ppm", "offset": 2, "type": "u16be"},
            {"name": "temperature_celsius", "offset": 4, "type": "u8", "bias": -40.0},
        ],
    },
    "channels": [
        {
            "name": "co2_ppm",
            "filter": {"min": 0.0, "max": 10000.0},
            "signal": {"center": 650.0, "amplitude": 150.0, "noise": 5.0},
        },
        {
            "name": "temperature_celsius",
            "filter": {"min": -40.0, "max": 215.0},
            "signal": {"center": 22.0, "amplitude": 2.0, "noise": 0.3},
        },
    ],
    "poll": {"command": "read", "interval_s": 5.0},
}

#: Preset name -> the sensor keys it fills in (parsed TOML).
PRESETS: Mapping[str, Mapping[str, Any]] = MappingProxyType(
    {
        "pms5003": _pms(),
        "pms7003": _pms(),
        "pmsa003": _pms(),
        "sds011": _SDS011,
        "mhz19": _MHZ19,
    }
)
