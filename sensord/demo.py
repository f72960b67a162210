"""The built-in demo: simulated sensors of every wire format, used by ``sensord run`` when no
configuration file is given and none exists at the default path."""

from __future__ import annotations

from sensord.config import Config, parse_config

__all__ = ["DEMO_CONFIG", "demo_config"]

DEMO_CONFIG = """\
# sensord demo: seven simulated devices: one per text wire format, and two binary sensors
# read through their presets: a Plantower PMS5003 that streams its frames, and a Winsen
# MH-Z19 polled with its read request, whose set-up command (automatic baseline
# calibration off) it acknowledges on every connect.
[http]
listen = "127.0.0.1"
port = 9808

[[sensors]]
name = "boiler"
port = "sim://boiler"
format = "value"
sampling_rate_hz = 5
simulation = { spike_rate = 0.01, garbage_rate = 0.005 }
  [[sensors.channels]]
  name = "temperature_fahrenheit"
  filter = { min = -40.0, max = 150.0 }
  normalize = { from_unit = "celsius", to_unit = "fahrenheit" }
  window = { size = 50 }
  signal = { center = 65.0, amplitude = 5.0, period_s = 120.0 }

[[sensors]]
name = "weather"
port = "sim://weather"
format = "kv"
sampling_rate_hz = 2
  [[sensors.channels]]
  name = "temperature"
  field = "t"
  filter = { min = -50.0, max = 60.0 }
  signal = { center = 18.0, amplitude = 4.0, period_s = 300.0 }
  [[sensors.channels]]
  name = "humidity"
  field = "rh"
  filter = { min = 0.0, max = 100.0 }
  normalize = { from_unit = "percent", to_unit = "fraction" }
  [[sensors.channels]]
  name = "pressure_pa"
  field = "p"
  filter = { min = 800.0, max = 1100.0 }
  normalize = { from_unit = "hpa", to_unit = "pa" }

[[sensors]]
name = "power"
port = "sim://power"
format = "csv"
sampling_rate_hz = 10
parse = { columns = ["voltage", "current"], header = true }
  [[sensors.channels]]
  name = "voltage"
  filter = { min = 200.0, max = 260.0 }
  window = { size = 100, time_s = 10.0 }
  [[sensors.channels]]
  name = "current"
  filter = { min = 0.0, max = 20.0 }

[[sensors]]
name = "air"
port = "sim://air"
format = "json"
sampling_rate_hz = 1
  [[sensors.channels]]
  name = "co2_ppm"
  field = "gas.co2"
  filter = { min = 300.0, max = 5000.0 }
  [[sensors.channels]]
  name = "pm25"
  field = "pm.2_5"
  filter = { min = 0.0, max = 500.0 }

[[sensors]]
name = "gps"
port = "sim://gps"
format = "nmea"
sampling_rate_hz = 1
  [[sensors.channels]]
  name = "altitude_m"
  field = "GGA.altitude"
  filter = { min = -100.0, max = 9000.0 }
  signal = { center = 120.0, amplitude = 3.0 }
  [[sensors.channels]]
  name = "speed_mps"
  field = "RMC.speed"
  filter = { min = 0.0, max = 100.0 }
  normalize = { from_unit = "knot", to_unit = "m/s" }
  signal = { center = 5.0, amplitude = 2.0 }
  [[sensors.channels]]
  name = "fix_mode"
  field = "GSA.fix_mode"
  signal = { center = 3.0, amplitude = 0.0, noise = 0.0 }
  [[sensors.channels]]
  name = "hdop"
  field = "GSA.hdop"
  signal = { center = 0.9, amplitude = 0.3, period_s = 300.0, noise = 0.02 }
  [[sensors.channels]]
  name = "satellites_used"
  field = "GSA.used_gps"
  signal = { center = 8.0, amplitude = 2.0, period_s = 600.0, noise = 0.0 }
  [[sensors.channels]]
  name = "satellites_in_view"
  field = "GSV.in_view_gps"
  signal = { center = 11.0, amplitude = 2.0, period_s = 600.0, noise = 0.0 }
  [[sensors.channels]]
  name = "clock_offset_s"
  field = "RMC.clock_offset"
  signal = { center = 0.0, amplitude = 0.005, period_s = 120.0, noise = 0.001 }

[[sensors]]
name = "particulates"
port = "sim://particulates"
preset = "pms5003"
simulation = { garbage_rate = 0.01 }

[[sensors]]
name = "co2"
port = "sim://co2"
preset = "mhz19"
setup = ["abc_off"]
"""


def demo_config() -> Config:
    return parse_config(DEMO_CONFIG, "<built-in demo>")
