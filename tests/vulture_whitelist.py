"""Names in sensord/ that vulture cannot see being used, each with who uses it.

``scripts/test`` runs ``vulture sensord tests/vulture_whitelist.py``: anything else in sensord/
that nothing in sensord/ uses is reported, so no public name exists only for the tests. An entry
here must name the caller outside sensord's own code that uses it.
"""

# ruff: noqa: B018

import serial

import sensord
from sensord import config_tables, export, http, log, serial_settings

# Config keys and line settings: read by name through Schema.as_dict() and
# SerialSettings(**...), and applied to the port by name (_SETTING_ATTRIBUTES).
config_tables.SerialConfig.dsrdtr
config_tables.SerialConfig.exclusive
config_tables.SerialConfig.dtr
config_tables.SerialConfig.rts
serial_settings.SerialSettings().dsrdtr
serial_settings.SerialSettings().exclusive
serial_settings.SerialSettings().dtr
serial_settings.SerialSettings().rts

# prometheus_client's Collector protocol: the registry calls describe() when a collector is
# registered and collect() at every scrape.
export.SensordCollector.describe
export.SensordCollector.collect
export._Families.collect

# socketserver's and http.server's class attributes and hooks, read or called by the standard
# library's server loop and request handler.
http._Server.daemon_threads
http._Server.block_on_close
http._Server.allow_reuse_address
http._Server.request_queue_size
http._Server.address_family
http._Server.handle_error
http._Server.process_request_thread
http._Handler.protocol_version
http._Handler.sys_version
http._Handler.error_message_format
http._Handler.error_content_type
http._Handler.setup
http._Handler.handle_one_request
http._Handler.do_GET
http._Handler.do_HEAD
http._Handler.version_string
http._Handler.log_message
http._Handler.close_connection
http._Handler.requestline
http._Handler.rfile
# the io interface: a stream reports whether it can be written (BufferedIOBase says False).
http._DeadlineWriter.writable

# pyserial reads Serial.write_timeout, which sources/serial_port.py sets before opening a port.
serial.Serial.write_timeout
# pyserial applies Serial.rs485_mode (TIOCSRS485) when it opens a port; sources/serial_port.py
# sets it before opening when serial.rs485 is on.
serial.Serial.rs485_mode

# PEP 562: Python calls a module's __getattr__ for a name it lacks (``from sensord import
# __version__`` in cli_parser.py, service.py and the others).
sensord.__getattr__

# structlog's bound loggers call the logger's method of a record's level by name
# (``log.critical(...)``, ``log.log(logging.CRITICAL, ...)``).
log._Writer.critical
