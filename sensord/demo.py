"""The built-in demo: simulated sensors of every wire format, used by ``sensord run`` when no
configuration file is given and none exists at the default path."""

from __future__ import annotations

from sensord.config import Config, parse_config

__all__ = ["DEMO_CONFIG", "demo_config"]

DEMO_CONFIG = """\
# sensord demo: eight simulated devices: one per text wire format, two binary sensors read
# through their presets (a Plantower PMS5003 that streams its frames, and a Winsen MH-Z19
# polled with its read request, whose set-up command, automatic baseline calibration off, it
# acknowledges on every connect), and a Modbus energy meter. The weather station's rain
# sensor sends WET or DRY, which its channel's states publish as 1 and 0.
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
  signal = { center = 55.0, amplitude = 10.0, period_s = 600.0 }
  [[sensors.channels]]
  name = "pressure_pa"
  field = "p"
  filter = { min = 800.0, max = 1100.0 }
  normalize = { from_unit = "hpa", to_unit = "pa" }
  signal = { center = 1013.0, amplitude = 3.0, period_s = 900.0 }
  [[sensors.channels]]
  name = "raining"
  field = "rain"
  states = { WET = 1, DRY = 0 }
  signal = { period_s = 600.0 }

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

# A three-phase energy meter on a simulated RS-485 bus, polled over Modbus RTU: its input
# registers hold big-endian float32 values (the layout of an Eastron SDM630). The readings
# 0..11 are one request, power one, frequency and energy one more.
[[sensors]]
name = "meter"
port = "sim://meter-bus"
format = "modbus"
serial = { baudrate = 9600 }
modbus = { unit = 1, interval_s = 1.0, timeout_s = 0.5, max_gap = 10 }
registers = [
  { name = "voltage_l1", ref = "30001", type = "float32" },
  { name = "voltage_l2", ref = "30003", type = "float32" },
  { name = "voltage_l3", ref = "30005", type = "float32" },
  { name = "current_l1", ref = "30007", type = "float32" },
  { name = "current_l2", ref = "30009", type = "float32" },
  { name = "current_l3", ref = "30011", type = "float32" },
  { name = "power", ref = "30053", type = "float32" },
  { name = "frequency", ref = "30071", type = "float32" },
  { name = "energy", ref = "30073", type = "float32" },
]
  [[sensors.channels]]
  name = "voltage_l1_v"
  field = "voltage_l1"
  signal = { center = 230.0, amplitude = 3.0, period_s = 90.0, noise = 0.3 }
  [[sensors.channels]]
  name = "voltage_l2_v"
  field = "voltage_l2"
  signal = { center = 231.0, amplitude = 3.0, period_s = 100.0, noise = 0.3 }
  [[sensors.channels]]
  name = "voltage_l3_v"
  field = "voltage_l3"
  signal = { center = 229.0, amplitude = 3.0, period_s = 110.0, noise = 0.3 }
  [[sensors.channels]]
  name = "current_l1_a"
  field = "current_l1"
  signal = { center = 6.0, amplitude = 4.0, period_s = 300.0, noise = 0.1 }
  [[sensors.channels]]
  name = "current_l2_a"
  field = "current_l2"
  signal = { center = 4.0, amplitude = 2.0, period_s = 240.0, noise = 0.1 }
  [[sensors.channels]]
  name = "current_l3_a"
  field = "current_l3"
  signal = { center = 5.0, amplitude = 3.0, period_s = 200.0, noise = 0.1 }
  [[sensors.channels]]
  name = "power_w"
  field = "power"
  signal = { center = 3450.0, amplitude = 1500.0, period_s = 300.0, noise = 20.0 }
  [[sensors.channels]]
  name = "frequency_hz"
  field = "frequency"
  signal = { center = 50.0, amplitude = 0.05, period_s = 60.0, noise = 0.005 }
  [[sensors.channels]]
  name = "energy_kwh"
  field = "energy"
  signal = { center = 12345.0, amplitude = 0.0, drift_per_s = 0.001, noise = 0.0 }
"""


def demo_config() -> Config:
    return parse_config(DEMO_CONFIG, "<built-in demo>")
