"""pymodbus is loaded when the first Modbus device needs it, never by a daemon without one.

pymodbus brings about 6 MiB of modules with it (the bench's P6a row measures the daemon's
memory with 64 line sensors). Each check runs in a fresh interpreter, since this one has
imported pymodbus long ago.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

from harness.config import SIM_METER_TOML, sensor_toml

from sensord.formats import modbus_pymodbus

#: Imports what the daemon's entry point imports, reads ``CONFIG``, builds every sensor and
#: runs the reader until every port is open and has read something; prints whether pymodbus
#: was imported.
_PROBE = textwrap.dedent(
    """
    import sys, time
    import sensord.cli, sensord.cli_run, sensord.daemon, sensord.service
    from sensord.config import parse_config
    from sensord.log import configure
    from sensord.reader import Reader
    from sensord.sensor import SensorRuntime

    configure("warning", "json", sys.stderr)
    config = parse_config(sys.stdin.read())
    sensors = [SensorRuntime(s) for s in config.sensors]
    end = time.monotonic() + 20
    with Reader(sensors) as reader:
        reader.run(until=lambda: time.monotonic() > end or all(
            (s.bytes_read > 0 or getattr(s, "modbus", None) and s.modbus.transactions > 0)
            for s in sensors
        ))
    print(all(s.bytes_read > 0 or s.modbus and s.modbus.transactions for s in sensors))
    print("pymodbus" in sys.modules)
    """
)

_GGA_ALTITUDE = '  [[sensors.channels]]\n  name = "altitude"\n  field = "GGA.altitude"\n'

_PARTICULATES = """
[[sensors]]
name = "particulates"
port = "sim://particulates"
preset = "pms5003"
"""


def _probe(config: str) -> tuple[bool, bool]:
    done = subprocess.run(
        [sys.executable, "-c", _PROBE],
        input=config,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    read, loaded = done.stdout.split()
    return read == "True", loaded == "True"


def test_a_daemon_without_modbus_devices_never_imports_pymodbus() -> None:
    config = (
        sensor_toml("temp", "sim://temp")
        + sensor_toml("gps", "sim://gps", "nmea", channels=_GGA_ALTITUDE)
        + _PARTICULATES
    )
    read, loaded = _probe(config)
    assert read, "every sensor should have read from its simulated port"
    assert not loaded


def test_the_first_modbus_device_imports_pymodbus_and_is_read() -> None:
    read, loaded = _probe(sensor_toml("temp", "sim://temp") + SIM_METER_TOML)
    assert read, "the simulated meter should have answered"
    assert loaded


def test_the_function_codes_are_pymodbus_s() -> None:
    """The table of function codes is written out so that the module needs no pymodbus."""
    messages = modbus_pymodbus.pymodbus_parts().messages
    assert {table: int(request.function_code) for table, (request, _) in messages.items()} == (
        dict(modbus_pymodbus.FUNCTION_CODES)
    )
