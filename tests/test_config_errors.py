"""Configuration errors as an operator with a file of many sensors meets them: a sensor's
independent mistakes are reported in one run."""

from __future__ import annotations

import pytest

from sensord.config import parse_config
from sensord.errors import ConfigError


def sensor(name: str, port: str, extra: str = "", channel: str = "v") -> str:
    return (
        f'\n[[sensors]]\nname = "{name}"\nport = "{port}"\nformat = "value"\n{extra}'
        f'\n  [[sensors.channels]]\n  name = "{channel}"\n'
    )


MODBUS = """
[[sensors]]
name = "pump"
port = "sim://bus"
format = "modbus"
{extra}
  [[sensors.registers]]
  name = "flow"
  ref = "40001"
  [[sensors.channels]]
  name = "{channel}"
"""

#: a PMS sensor whose poll table has a wrong key and whose set-up misspells a command
AIR = """
[[sensors]]
name = "air"
port = "sim://air"
preset = "pms5003"
setup = ["pasive_mode"]
poll = { interval = 60 }
"""


def error_of(text: str) -> ConfigError:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "site.toml")
    return info.value


# -- a sub-table's error does not hide the sensor's other mistakes -------------------------------


def test_a_poll_table_error_does_not_hide_a_misspelt_setup_command() -> None:
    assert error_of(AIR).problems == [
        # one line for the misspelt key: "interval_s: required key is missing" would say it again
        "sensors[0].poll.interval: unknown key; did you mean 'interval_s'? "
        "(known: request, command, interval_s)",
        "sensors[0].setup[0]: pms5003 has no command 'pasive_mode'; did you "
        "mean 'passive_mode'? (it has passive_mode, active_mode, read, sleep, wakeup)",
    ]


def test_an_unknown_key_of_a_nested_table_is_pointed_there() -> None:
    text = sensor("meter", "sim://meter", "baudrate = 9600") + sensor("boiler", "sim://boiler")
    text += "  scale = 0.1\n"  # of the channel
    assert [p.partition(" (known:")[0] for p in error_of(text).problems] == [
        "sensors[0].baudrate: unknown key; did you mean 'serial.baudrate'?",
        "sensors[1].channels[0].scale: unknown key; did you mean 'normalize.scale'?",
    ]


def test_a_wrongly_typed_serial_table_does_not_hide_a_channel_without_its_register() -> None:
    assert error_of(MODBUS.format(extra='serial = "9600"', channel="flw")).problems == [
        "sensors[0].serial: must be a table, got string",
        "sensors[0].channels[0].field: no register is named 'flw'",
        "sensors[0].registers[0].name: no channel reads 'flow'",
    ]


def test_a_wrongly_typed_modbus_table_does_not_hide_a_misspelt_register_name() -> None:
    text = MODBUS.format(extra="modbus = 7", channel="flw")
    assert error_of(text).problems == [
        "sensors[0].modbus: must be a table, got integer",
        "sensors[0].channels[0].field: no register is named 'flw'",
        "sensors[0].registers[0].name: no channel reads 'flow'",
    ]


def test_a_frame_table_error_does_not_hide_a_duplicate_channel() -> None:
    text = """
[[sensors]]
name = "scale"
port = "sim://scale"
format = "frames"
frame = { start = '\\x02', length = 8, checksm = "xor", fields = [{ name = "w", offset = 1, type = "u16be" }] }
channels = [{ name = "w" }, { name = "w" }]
"""
    found = error_of(text).problems
    assert found[0].startswith("sensors[0].frame.checksm: unknown key; did you mean 'checksum'?")
    assert found[1:] == ["sensors[0].channels[1].name: 'w' is already used by channels[0]"]


@pytest.mark.parametrize(
    ("extra", "first"),
    [
        # a misspelt poll: "no poll asks it" would only follow from the typo
        (
            'setup = ["query_mode"]\npol = { command = "query", interval_s = 2 }',
            "sensors[0].pol: unknown key; did you mean 'poll'?",
        ),
        # a poll that is wrong: the same
        (
            'setup = ["query_mode"]\npoll = { command = "query", interval_s = 0 }',
            "sensors[0].poll.interval_s: must be in [0.01, 86400], got 0",
        ),
        # a frame of the preset's that is wrong: no check against the frame follows
        ('frame = "pms"', "sensors[0].frame: must be a table, got string"),
        # an unknown key meant for no key anyone can tell: no cross-check is relied on
        ('setup = ["query_mode"]\nquerry = true', "sensors[0].querry: unknown key (known:"),
    ],
)
def test_no_error_that_only_follows_from_the_first_is_reported(extra: str, first: str) -> None:
    text = f'[[sensors]]\nname = "dust"\nport = "sim://dust"\npreset = "sds011"\n{extra}\n'
    found = error_of(text).problems
    assert len(found) == 1, found
    assert found[0].startswith(first), found


def test_a_field_that_failed_is_not_read_by_any_check() -> None:
    """Every check of a sensor that reads a field which failed to load is left out, whichever
    field it is: a check that reads it would meet its unset attribute, which ``run_checks``
    tells from any other AttributeError."""
    text = MODBUS.format(extra="", channel="flow").replace('port = "sim://bus"', "port = 5")
    assert error_of(text).problems == ["sensors[0].port: must be a string, got integer 5"]
