"""The commands that ask the running daemon over HTTP, at the address and with the credentials
of its configuration file: ``sensord capture`` (a sensor's recent raw bytes written as a
capture file, or ``--show`` a capture file), ``sensord status`` and ``sensord reload``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from sensord.capture import (
    CaptureError,
    capture_files,
    capture_stamp,
    next_capture_path,
    parse_capture,
    write_capture_file,
)
from sensord.cli_common import print_config_error
from sensord.cli_parser import daemon_config_of, given_options
from sensord.config import DEFAULT_CONFIG_PATH, load_config, load_http_config
from sensord.config_tables import HttpConfig
from sensord.errors import EXIT_INVALID, EXIT_OK, ConfigError

__all__ = ["cmd_capture", "cmd_reload", "cmd_status"]


def cmd_capture(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from sensord.tools import fetch_capture, show  # noqa: PLC0415  (a command's module: the daemon does not load it)

    if args.show is not None:
        given = given_options(
            ("SENSOR", args.sensor), ("-c", args.config), ("--url", args.url), ("-o", args.output)
        )
        if given:
            parser.error(
                f"--show prints a capture file; {' and '.join(given)} "
                f"{'is' if len(given) == 1 else 'are'} for fetching one from the daemon"
            )
        return show(args.show)
    if not args.sensor:
        parser.error("give the SENSOR whose bytes to fetch, or --show FILE")
    http = _daemon_http(args.config)
    if http is None:
        return EXIT_INVALID
    body, problem = fetch_capture(http, args.sensor, args.url)
    if problem:
        print(f"sensord: {problem}", file=sys.stderr)
        return EXIT_INVALID
    output: Path | None = args.output
    try:
        if output is None:  # SENSOR-TIME.cap here, after the captures of the same second
            here = Path()
            stamp = capture_stamp(time.time())
            output = next_capture_path(here, args.sensor, stamp, capture_files(here, args.sensor))
        write_capture_file(output, body)  # a write that fails leaves no file cut short
    except OSError as exc:
        where = output if output is not None else "the capture in the current directory"
        print(f"sensord: cannot write {where}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_INVALID
    print(f"{output}: {len(body)} bytes; show it with: sensord capture --show {output}")
    empty = _empty_capture_note(body, args.sensor)
    if empty:
        print(f"  {empty}")
    return EXIT_OK


def _empty_capture_note(body: bytes, sensor: str) -> str:
    """What a capture without records means, or "" for one with records."""
    try:
        capture = parse_capture(body)
    except CaptureError:
        return ""
    if capture.records:
        return ""
    if capture.header.get("format") == "modbus":
        return (
            f"it holds no exchange: a Modbus device's capture holds the reads {sensor} "
            "answered, each request with its response; timeouts and exception responses are "
            f"not in it (sensord status tells why {sensor} reads nothing)"
        )
    return f"it holds no bytes: none came from {sensor}'s port lately"


def _daemon_http(path: Path | None) -> HttpConfig | None:
    """The HTTP settings of the daemon a command asks: those of ``path``, else of the
    default config file when present, else of the demo. A file with errors outside its
    ``[http]`` table gives that table (with a note that the file is not valid); None (and the
    errors printed) when the file cannot be read or its ``[http]`` is not valid."""
    from sensord.demo import demo_config  # noqa: PLC0415  (a command's module: the daemon does not load it)

    if path is None and DEFAULT_CONFIG_PATH.exists():
        path = DEFAULT_CONFIG_PATH
    try:
        config = load_config(path) if path is not None else demo_config()
    except ConfigError as exc:
        # a mistake outside [http] (the edit whose reload failed) does not move the daemon:
        # it is still asked, at the address the file's [http] gives
        http = load_http_config(path) if path is not None else None
        if http is None:
            print_config_error(exc)
            return None
        errors = len(exc.problems)
        print(
            f"sensord: note: {path} is not valid ({errors} configuration "
            f"error{'s' if errors != 1 else ''}: sensord check {path} lists "
            f"{'them' if errors != 1 else 'it'}); asking the daemon at its [http] address",
            file=sys.stderr,
        )
        return http
    return config.http


def cmd_status(args: argparse.Namespace) -> int:
    from sensord.overview import status  # noqa: PLC0415  (a command's module: the daemon does not load it)

    http = _daemon_http(args.config)
    if http is None:
        return EXIT_INVALID
    return status(http, args.url, as_json=args.json)


def cmd_reload(args: argparse.Namespace) -> int:
    from sensord.reload import reload_daemon  # noqa: PLC0415  (a command's module: the daemon does not load it)

    http = _daemon_http(args.config)
    if http is None:
        return EXIT_INVALID
    path = args.config
    if path is None and args.url is None and DEFAULT_CONFIG_PATH.exists():
        path = DEFAULT_CONFIG_PATH
    return reload_daemon(
        http,
        args.url,
        pid=args.pid,
        timeout_s=args.timeout,
        runs_config=lambda pid: daemon_config_of(pid, worker=False),
        config_path=path,
    )
