"""``sensord record``: a serial port's bytes recorded into a capture file, with the line
settings and the polls given; what the options cannot mean on the port (a line speed for a
``socket://`` serial server, ``--interval-s`` without ``--request``) refused before it opens,
and a line speed that is no usual one pointed out."""

from __future__ import annotations

import argparse
import math
import sys

from sensord.address import MODBUS_TCP_SCHEME, parse_address
from sensord.cli_common import USUAL_BAUDRATES, usual_rate_hint
from sensord.cli_parser import given_options
from sensord.config_tables import CONNECT_DELAY_MAX_S
from sensord.errors import EXIT_USAGE
from sensord.serial_settings import SerialSettings

__all__ = ["cmd_record"]


def cmd_record(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from sensord.tools import record  # noqa: PLC0415  (a command's module: the daemon does not load it)

    if args.interval_s is not None and args.request is None:
        parser.error(
            "--interval-s is the time between the writes of --request: give --request TEXT "
            "too (without it, record only listens)"
        )
    if args.connect_delay is not None and args.request is None:
        parser.error(
            "--connect-delay holds the first --request back after the open: give --request "
            "TEXT too (without it, record only listens, from the open on)"
        )
    connect_delay_s = 0.0 if args.connect_delay is None else args.connect_delay
    if not 0 <= connect_delay_s <= CONNECT_DELAY_MAX_S:  # a sensor's connect_delay_s
        parser.error(
            f"argument --connect-delay: must be a number of seconds in [0, "
            f"{CONNECT_DELAY_MAX_S:g}], got {connect_delay_s:g}"
        )
    line = given_options(
        ("--baudrate", args.baudrate),
        ("--bytesize", args.bytesize),
        ("--parity", args.parity),
        ("--stopbits", args.stopbits),
        ("--rtscts", args.rtscts),
        ("--xonxoff", args.xonxoff),
    )
    try:
        scheme = parse_address(args.port).scheme
    except ValueError:
        scheme = ""  # the open names what is wrong with the port
    if line and scheme == "socket":
        parser.error(
            f"{', '.join(line)}: a socket:// port is a plain TCP connection to a serial "
            "server, which sets its device's line in its own configuration; set it there, or "
            "record rfc2217://HOST:PORT to have these settings sent to the server"
        )
    if line and scheme == MODBUS_TCP_SCHEME:  # opened as the socket:// of its host and port
        parser.error(
            f"{', '.join(line)}: a modbus-tcp:// port is a plain TCP connection to a Modbus "
            "TCP gateway or device, which sets its serial line, if it has one, in its own "
            "configuration; set it there"
        )
    interval_s = 1.0 if args.interval_s is None else args.interval_s
    try:
        given = {
            "baudrate": args.baudrate,
            "bytesize": args.bytesize,
            "parity": args.parity,
            "stopbits": args.stopbits,
        }  # the others are SerialSettings' defaults, as the help says
        settings = SerialSettings(
            **{key: value for key, value in given.items() if value is not None},
            rtscts=args.rtscts,
            xonxoff=args.xonxoff,
            timeout_s=0.2,
        )
    except ValueError as exc:
        print(f"sensord: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if not 0 < interval_s < math.inf:
        parser.error(
            f"argument --interval-s: must be a number of seconds above 0, got {interval_s:g}"
        )
    if args.baudrate is not None and args.baudrate not in USUAL_BAUDRATES:
        print(
            f"sensord: note: --baudrate {args.baudrate} is not a usual line speed"
            f"{usual_rate_hint(args.baudrate)}",
            file=sys.stderr,
        )
    return record(
        args.port,
        settings,
        args.output,
        seconds=args.seconds,
        request=args.request or b"",
        interval_s=interval_s,
        wire_format=args.format or "",
        connect_delay_s=connect_delay_s,
    )
