"""Every key of the configuration, given each value an operator writes by mistake: NaN and
infinities, a negative number, zero, 1e308, 1e-9, a boolean, a string or a float where a
number or an integer is asked for, an empty or blank string, an empty table or array, a
misspelt choice. Each is refused by an error that names the key (or the key it is checked
against), or taken because it means something: ``ACCEPTED`` lists those, with why, and the
test fails for a value taken that is not listed as for one listed that is refused. No value
raises anything but a ``ConfigError``.

Each key is set in the first of ``BASES`` (valid configurations of one sensor, which between
them have every table) that holds its table, the rest of the file as it is."""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Iterator
from typing import Any

import pytest

from sensord import schema, schema_fields
from sensord.config import Config, parse_config
from sensord.errors import ConfigError

#: a channel with every table of its own
CHANNEL: dict[str, Any] = {
    "name": "t",
    "filter": {"min": -10.0, "max": 50.0},
    "normalize": {"scale": 1.0, "range_min": -100.0, "range_max": 100.0},
    "window": {"size": 10, "time_s": 5.0},
    "signal": {"center": 20.0, "amplitude": 1.0, "noise": 0.1},
}
TOP: dict[str, Any] = {
    "http": {"port": 9808},
    "capture": {"ring_bytes": 1000, "keep_files": 3},
    "log": {"level": "info"},
    "metrics": {},
    "reader": {},
}
BASES: list[dict[str, Any]] = [
    {  # a polled text device with a set-up command in text, every table of a sensor
        **TOP,
        "sensors": [
            {
                "name": "s",
                "port": "sim://a",
                "format": "value",
                "channels": [CHANNEL],
                "poll": {"request": "R\\r", "interval_s": 1.0},
                "setup": [{"send_text": "A\\r", "expect_text": "OK", "refuse_text": "NO"}],
                "parse": {},
                "reconnect": {},
                "replay": {},
                "simulation": {},
                "serial": {},
            }
        ],
    },
    {  # a kv device with states and a set-up command in hex
        **TOP,
        "sensors": [
            {
                "name": "s",
                "port": "sim://a",
                "format": "kv",
                "channels": [{**CHANNEL, "field": "t", "states": {"ON": 1}}],
                "setup": [{"send": "41 0D", "expect": "4F 4B", "refuse": "4E 4F"}],
            }
        ],
    },
    {  # binary frames with a checksum
        **TOP,
        "sensors": [
            {
                "name": "s",
                "port": "/dev/ttyUSB0",
                "format": "frames",
                "frame": {
                    "start": "\\x42",
                    "length": 8,
                    "checksum": "sum16be",
                    "checksum_start": 0,
                    "checksum_end": 6,
                    "checksum_offset": 6,
                    "fields": [{"name": "t", "offset": 2, "type": "u16be"}],
                },
                "channels": [{"name": "t", "field": "t"}],
            }
        ],
    },
    {  # a Modbus device with a set-up write
        **TOP,
        "sensors": [
            {
                "name": "s",
                "port": "/dev/ttyUSB1",
                "format": "modbus",
                "modbus": {"unit": 1, "setup": [{"ref": "40001", "value": 1}]},
                "registers": [{"name": "r", "ref": "30001", "type": "float32"}],
                "channels": [{"name": "t", "field": "r"}],
            }
        ],
    },
]

#: the odd values, by name
ODD: dict[str, Any] = {
    "nan": math.nan,
    "inf": math.inf,
    "-inf": -math.inf,
    "negative": -1,
    "negative float": -1.0,
    "zero": 0,
    "zero float": 0.0,
    "huge": 1e308,
    "huge int": 2**70,
    "tiny": 1e-9,
    "fraction": 1.5,
    "whole float": 2.0,
    "bool": True,
    "number": 1,
    "numeric string": "1",
    "string": "zz",
    "empty string": "",
    "blank": "   ",
    "empty table": {},
    "empty array": [],
    "array of blank": [""],
    "array of nan": [math.nan],
    "array of bool": [True],
    "twice": ["a", "a"],
    "table of nan": {"A": math.nan},
    "table of bool": {"A": True},
    "table with blank key": {"": 1},
    "array of empty table": [{}],
    "array of number": [1],
}

FLOAT = ["nan", "inf", "-inf", "negative float", "zero", "zero float", "huge", "tiny"]
FLOAT_TYPES = ["bool", "numeric string", "string"]


def odd_values(field: schema_fields.Field[Any]) -> list[str]:
    """The names of the odd values tried on ``field``, by its kind."""
    kinds: list[tuple[type[Any], list[str]]] = [
        (schema_fields.Float, [*FLOAT, *FLOAT_TYPES]),
        (schema_fields.Int, ["negative", "zero", "huge int", "fraction", "whole float", "bool"]),
        (schema_fields.Bool, ["number", "numeric string", "string"]),
        (schema_fields.Choice, ["string", "empty string", "blank", "fraction", "bool", "nan"]),
        (schema_fields.Str, ["empty string", "blank", "number", "bool"]),
        (
            schema_fields.StrList,
            ["empty array", "array of blank", "empty string", "twice", "number"],
        ),
        (schema_fields.NumberList, ["empty array", "array of nan", "array of bool", "huge", "nan"]),
        (
            schema_fields.NumberTable,
            ["empty table", "table of nan", "table of bool", "table with blank key"],
        ),
        (schema_fields.IntOrHexList, ["empty array", "empty string", "string", "negative", "nan"]),
        (schema_fields.IntOrHex, ["empty string", "string", "negative", "fraction", "nan", "bool"]),
        (
            schema_fields.HexList,
            ["empty array", "empty string", "blank", "array of blank", "string"],
        ),
        (schema_fields.Hex, ["empty string", "blank", "string", "number"]),
        (schema_fields.Bytes, ["empty string", "number"]),
        (schema_fields.Section, ["empty table", "empty array", "number"]),
        (schema_fields.SectionList, ["empty array", "empty table", "array of number"]),
        (schema_fields.SectionOrStrList, ["empty array", "empty table", "array of empty table"]),
    ]
    for kind, names in kinds:
        if isinstance(field, kind):
            return names
    raise AssertionError(f"no odd values for {type(field).__name__}")


ZERO = {"zero", "zero float"}
#: a time or a rate of which 0 is none (no delay, no faults) and 1e-9 s next to none
NONE_OR_SOON = {"zero", "zero float", "tiny"}
#: a number of a reading or of a simulated signal: any finite number is one
ANY_NUMBER = {"negative float", "zero", "zero float", "huge", "tiny"}

#: tables that, written empty, hold every key at its default
EMPTY_TABLES = (
    "http",
    "capture",
    "log",
    "metrics",
    "reader",
    "sensors[0].serial",
    "sensors[0].reconnect",
    "sensors[0].replay",
    "sensors[0].parse",
    "sensors[0].modbus",
    "sensors[0].simulation",
    "sensors[0].channels[0].filter",
    "sensors[0].channels[0].normalize",
    "sensors[0].channels[0].window",
    "sensors[0].channels[0].signal",
)
#: arrays of things to do or check that, written empty, hold none
EMPTY_ARRAYS = (
    "sensors[0].setup",
    "sensors[0].setup[0].refuse",
    "sensors[0].parse.example",
    "sensors[0].parse.units",
    "sensors[0].parse.invalid",
    "sensors[0].parse.ignore",
    "sensors[0].frame.status_ok",
    "sensors[0].frame.examples",
    "sensors[0].frame.fields[0].not_available",
    "sensors[0].modbus.setup",
    "sensors[0].registers[0].not_available",
    "sensors[0].registers[0].status_ok",
)

#: Values taken on purpose, by key: each means something, or is the default written out (a
#: table written empty has every key at its default; an array of things to do or check,
#: written empty, has none).
ACCEPTED: dict[str, set[str]] = {
    **{key: {"empty table"} for key in EMPTY_TABLES},
    **{key: {"empty array"} for key in EMPTY_ARRAYS},
    # columns: a format that has none (the base's is "value"); csv refuses it
    "sensors[0].parse.columns": {"empty array"},
    "http.port": {"zero"},  # a free port, as --port 0
    "capture.ring_bytes": {"zero"},  # no capture
    "metrics.step_timing_sample_every": {"zero"},  # no step timing
    "reader.batch_interval_s": NONE_OR_SOON,  # 0: read each port as its bytes come
    # shorter than a frame's interval: a note of check (stale between every two frames)
    "sensors[0].stale_after_s": {"tiny"},
    "sensors[0].warmup_s": NONE_OR_SOON,
    "sensors[0].connect_delay_s": NONE_OR_SOON,
    "sensors[0].serial.stopbits": {"fraction"},  # 1.5 stop bits
    "sensors[0].serial.rs485_delay_before_tx_s": NONE_OR_SOON,
    "sensors[0].serial.rs485_delay_before_rx_s": NONE_OR_SOON,
    # bytes written as text: "zz" and spaces are bytes a device may take or send
    "sensors[0].poll.request": {"string", "blank"},
    "sensors[0].setup[0].expect_text": {"string", "blank"},
    "sensors[0].setup[0].refuse_text": {"string", "empty array"},
    # 0: as fast as the loop reads (1e-9, a recorded second in 31 years, stalls: refused)
    "sensors[0].replay.speed": ZERO,
    # offsets and bytes at the frame's first byte, none to adjust or skip
    "sensors[0].frame.length_offset": {"zero"},
    "sensors[0].frame.length_adjust": {"zero"},
    "sensors[0].frame.escape": {"zero"},  # the escape byte 0x00
    "sensors[0].frame.checksum_start": {"zero"},
    "sensors[0].frame.checksum_offset": {"zero"},
    "sensors[0].frame.boot_bytes": {"empty string"},
    "sensors[0].frame.boot_offset": {"zero"},
    # no mask: every bit of the boot bytes compared, as when the key is left out
    "sensors[0].frame.boot_mask": {"empty string"},
    "sensors[0].frame.fields[0].bit": {"zero"},
    # a factor of any sign and size but 0: a reading beyond the float range is counted
    # nonfinite (docs/testing.md)
    "sensors[0].frame.fields[0].scale": ANY_NUMBER - ZERO,
    "sensors[0].frame.fields[0].bias": ANY_NUMBER,
    "sensors[0].channels[0].normalize.scale": ANY_NUMBER - ZERO,
    "sensors[0].channels[0].normalize.offset": ANY_NUMBER,
    "sensors[0].modbus.gap_s": NONE_OR_SOON,
    "sensors[0].modbus.busy_retries": {"zero"},
    "sensors[0].modbus.busy_wait_s": NONE_OR_SOON,
    "sensors[0].modbus.retries": {"zero"},
    "sensors[0].modbus.connect_delay_s": NONE_OR_SOON,
    "sensors[0].modbus.max_gap": {"zero"},
    "sensors[0].modbus.setup[0].value": ZERO,
    "sensors[0].simulation.seed": {"negative", "zero", "huge int"},  # any integer seeds
    "sensors[0].simulation.spike_rate": NONE_OR_SOON,
    "sensors[0].simulation.garbage_rate": NONE_OR_SOON,
    "sensors[0].simulation.dropout_rate": NONE_OR_SOON,
    "sensors[0].simulation.dropout_s": {"tiny"},
    # the numbers a device sends for no value: any (a lone number is an array of one)
    "sensors[0].channels[0].not_available": {"empty array", "huge"},
    # bounds below the base's max of 50, or above its min of -10
    "sensors[0].channels[0].filter.min": ANY_NUMBER - {"huge"},
    "sensors[0].channels[0].filter.max": ANY_NUMBER,
    "sensors[0].channels[0].normalize.range_min": ANY_NUMBER - {"huge"},
    "sensors[0].channels[0].normalize.range_max": ANY_NUMBER,
    # a window of the latest reading alone
    "sensors[0].channels[0].window.time_s": {"tiny"},
    # the simulated signal: a value beyond the float range is counted nonfinite
    "sensors[0].channels[0].signal.center": ANY_NUMBER,
    "sensors[0].channels[0].signal.amplitude": ANY_NUMBER - {"negative float"},
    "sensors[0].channels[0].signal.period_s": {"huge", "tiny"},
    "sensors[0].channels[0].signal.noise": ANY_NUMBER - {"negative float"},
    "sensors[0].channels[0].signal.drift_per_s": ANY_NUMBER,
}


def keys(
    cls: type[schema.Schema], path: tuple[str | int, ...] = ()
) -> Iterator[tuple[tuple[str | int, ...], schema_fields.Field[Any]]]:
    """Every key of ``cls`` and of its tables, as paths (``0`` for an entry of an array)."""
    for name, field in cls._fields.items():
        yield (*path, name), field
        if isinstance(field, schema_fields.Section):
            yield from keys(field.schema, (*path, name))
        elif isinstance(field, schema_fields.SectionList | schema_fields.SectionOrStrList):
            yield from keys(field.schema, (*path, name, 0))


def shown(path: tuple[str | int, ...]) -> str:
    """``sensors[0].channels[0].filter.min``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else part
    return text


def table_of(data: Any, path: tuple[str | int, ...]) -> dict[str, Any] | None:
    for part in path[:-1]:
        if isinstance(part, int):
            if not isinstance(data, list) or len(data) <= part:
                return None
            data = data[part]
        elif isinstance(data, dict) and part in data:
            data = data[part]
        else:
            return None
    return data if isinstance(data, dict) else None


def base_for(path: tuple[str | int, ...]) -> dict[str, Any]:
    """A copy of the first base whose file gives the key, else of the first that has its
    table."""
    has_table = [base for base in BASES if table_of(base, path) is not None]
    for base in has_table:
        if path[-1] in (table_of(base, path) or {}):
            return copy.deepcopy(base)
    assert has_table, f"no base has the table of {shown(path)}"
    return copy.deepcopy(has_table[0])


def toml(value: Any) -> str:
    """``value`` written inline as TOML."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else "inf" if value > 0 else "-inf"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, dict):
        pairs = ", ".join(f"{json.dumps(k)} = {toml(v)}" for k, v in value.items())
        return f"{{ {pairs} }}" if pairs else "{}"
    return "[" + ", ".join(toml(v) for v in value) + "]"


KEYS = [(shown(path), path, field) for path, field in keys(Config)]


def outcome(path: tuple[str | int, ...], value: Any) -> list[str] | None:
    """The problems of the file with the key at ``path`` set to ``value``; None when taken."""
    data = base_for(path)
    table = table_of(data, path)
    assert table is not None
    table[str(path[-1])] = value
    text = "".join(f"{key} = {toml(item)}\n" for key, item in data.items())
    try:
        parse_config(text, "site.toml")
    except ConfigError as exc:
        return exc.problems
    return None


#: Keys whose odd value is told at the key it is checked against.
TOLD_AT: dict[str, str] = {
    # no replies: refuse needs them
    "sensors[0].setup[0].expect": "sensors[0].setup[0].refuse",
    "sensors[0].setup[0].expect_text": "sensors[0].setup[0].refuse_text",
    # 0: the covered range [checksum_start, 0) is empty
    "sensors[0].frame.checksum_end": "sensors[0].frame.checksum_start",
    # a status byte needs the values it is good at
    "sensors[0].frame.status_offset": "sensors[0].frame.status_ok",
    # the base gives ref: an address besides it is one too many
    "sensors[0].modbus.setup[0].address": "sensors[0].modbus.setup[0].ref",
    "sensors[0].registers[0].address": "sensors[0].registers[0].ref",
}


@pytest.mark.parametrize(("key", "path", "field"), KEYS, ids=[key for key, _, _ in KEYS])
def test_every_odd_value_of_a_key_is_refused_naming_it_or_means_something(
    key: str, path: tuple[str | int, ...], field: schema_fields.Field[Any]
) -> None:
    accepted = set()
    for name in odd_values(field):
        problems = outcome(path, ODD[name])
        if problems is None:
            accepted.add(name)
            continue
        named = (key, TOLD_AT.get(key, key))
        assert any(p.startswith((f"{k}:", f"{k}.", f"{k}[")) for p in problems for k in named), (
            name,
            problems,
        )
    assert accepted == ACCEPTED.get(key, set())
