"""``sensord ports``: the serial ports of this machine with the sensor of the configuration
that uses each (``sensord.ports`` finds and describes them), listed also when the file is not
valid, and the configured devices that are not on this machine."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from sensord.address import parse_address
from sensord.cli_common import frame_rate_hz, print_config_error
from sensord.config import DEFAULT_CONFIG_PATH, load_config
from sensord.errors import EXIT_INVALID, EXIT_OK, ConfigError
from sensord.ports import check_device, format_ports, list_ports

__all__ = ["cmd_ports"]


def cmd_ports(args: argparse.Namespace) -> int:
    configured: dict[str, str] = {}
    rates: dict[str, float] = {}
    path: Path | None = args.config
    if path is None and DEFAULT_CONFIG_PATH.exists():
        path = DEFAULT_CONFIG_PATH
    invalid = False
    if path is not None:
        try:
            config = load_config(path)
        except ConfigError as exc:
            # the ports are listed all the same: which is which is what fixes a wrong port
            print_config_error(exc)
            print(
                f"sensord: {path} is not valid: the ports are listed without the sensors "
                "that use them",
                file=sys.stderr,
            )
            invalid = True
        else:
            configured = {s.name: s.port for s in config.sensors}
            rates = {s.name: frame_rate_hz(s) for s in config.sensors}
    ports = list_ports(configured, rates_hz=rates, probe=args.probe)
    print(format_ports(ports))
    absent = [
        (name, check_device(port, probe_lock=False))
        for name, port in configured.items()
        if _is_device(port) and not os.path.exists(port)
    ]
    if absent:
        print("\nconfigured devices not on this machine:")
        for name, problems in absent:
            print(f"  {name}: {'; '.join(problems)}")
    return EXIT_INVALID if invalid else EXIT_OK


def _is_device(port: str) -> bool:
    try:
        return parse_address(port).is_device
    except ValueError:
        return False
