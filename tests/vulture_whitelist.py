"""Names in sensord/ that vulture cannot see being used, each with who uses it.

``scripts/test`` runs ``vulture sensord tests/vulture_whitelist.py``: anything else in sensord/
that nothing in sensord/ uses is reported, so no public name exists only for the tests. An entry
here must name the caller outside sensord's own code that uses it.
"""

# ruff: noqa: B018

import serial

from sensord import config, export, serial_settings

# Config keys and line settings: read by name through Schema.as_dict() and
# SerialSettings(**...), and applied to the port by name (_SETTING_ATTRIBUTES).
config.SerialConfig.dsrdtr
config.SerialConfig.exclusive
serial_settings.SerialSettings().dsrdtr
serial_settings.SerialSettings().exclusive

# prometheus_client's Collector protocol: the registry calls describe() when a collector is
# registered and collect() at every scrape.
export.SensordCollector.describe
export.SensordCollector.collect
export._Families.collect

# pyserial reads Serial.write_timeout, which sources/serial_port.py sets before opening a port.
serial.Serial.write_timeout
