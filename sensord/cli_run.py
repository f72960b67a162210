"""``sensord run``: the daemon in the foreground. Its configuration file is read (the built-in
demo of simulated sensors without one), the log set up, and this process's ``Daemon`` run,
or with ``--workers`` the ``Primary`` of its worker processes; a worker whose package on disk
is not the one its primary runs does not start (exit code 4)."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import structlog

from sensord import log as logsetup
from sensord.build import RESTART_COMMAND
from sensord.cli_common import print_config_error
from sensord.config import DEFAULT_CONFIG_PATH, load_config_text
from sensord.daemon import Daemon
from sensord.errors import EXIT_INVALID, EXIT_USAGE, ConfigError
from sensord.service import deferred_signals
from sensord.shard import RESTARTS_IN_ROW_ENV, STABLE_AFTER_S, restarts_in_row, starts_quietly

__all__ = ["EXIT_MIXED_BUILD", "cmd_run", "max_workers"]


#: A ``--workers`` worker that imported another package than its primary runs.
EXIT_MIXED_BUILD = 4


def max_workers() -> int:
    """The most ``--workers`` this machine takes: two per CPU."""
    return 2 * (os.cpu_count() or 1)


def cmd_run(args: argparse.Namespace) -> int:
    with deferred_signals():
        return _run(args)


def _run(args: argparse.Namespace) -> int:
    if args.workers < 1:
        print("sensord: --workers must be at least 1", file=sys.stderr)
        return EXIT_USAGE
    if args.workers > max_workers():
        print(
            f"sensord: --workers {args.workers} is more than {max_workers()}, two per CPU of "
            f"this machine ({os.cpu_count() or 1}): a worker is a process that reads up to a "
            "core's worth of lines, and more of them than that only share the cores",
            file=sys.stderr,
        )
        return EXIT_USAGE
    path: Path | None = args.config
    demo = False
    if path is None:
        if DEFAULT_CONFIG_PATH.exists():
            path = DEFAULT_CONFIG_PATH
        else:
            demo = True
    try:
        if demo or path is None:
            from sensord.demo import demo_config  # noqa: PLC0415  (a daemon without a file)

            config, text = demo_config(), None
        else:
            config, text = load_config_text(path)
            # /status, the log and a reload name the file read, not a path relative to the
            # directory the daemon started in
            path = _absolute_config_path(path)
    except ConfigError as exc:
        print_config_error(exc)
        return EXIT_INVALID
    if args.shard is not None:  # before configure: the log's own lines name the worker too
        structlog.contextvars.bind_contextvars(worker=args.shard[0])
        if starts_quietly(restarts_in_row(os.environ.get(RESTARTS_IN_ROW_ENV))):
            logsetup.info_at_debug_for(STABLE_AFTER_S)
    logsetup.configure(
        args.log_level or config.log.level, args.log_format or config.log.format, queued=True
    )
    log = structlog.get_logger("sensord")
    if demo and args.shard is None:
        log.warning(
            "no configuration file: running the built-in demo of simulated sensors",
            looked_for=str(DEFAULT_CONFIG_PATH),
            hint="pass --config FILE; 'sensord demo-config' prints the demo as a starting point",
        )
    if args.workers > 1:
        from sensord.workers import Primary  # noqa: PLC0415  (a command's module: the daemon does not load it)

        primary = Primary(
            config,
            workers=args.workers,
            config_path=path,
            config_text=text,
            listen=args.listen,
            port=args.port,
            log_level=args.log_level or config.log.level,
            log_format=args.log_format or config.log.format,
        )
        return primary.run()
    daemon = Daemon(config, config_path=path, listen=args.listen, port=args.port, shard=args.shard)
    if daemon.primary_build not in (None, daemon.build.running.digest):
        log.error(
            "worker not started: the package on disk is not the one its primary runs",
            installed=daemon.build.running.describe(),
            hint=f"restart it: {RESTART_COMMAND}",
        )
        return EXIT_MIXED_BUILD
    return daemon.run()


def _absolute_config_path(path: Path) -> Path:
    """``path`` absolute, and without its ``..`` parts as ``os.path.abspath`` takes them out
    (by the text, no symlink resolved: a configuration reached by a link is named by the
    link, which a reload reads anew) when that names the same file. A ``..`` after a symlink
    to a directory leads out of the directory the link points to, not out of the link's
    own: that path is kept as given, absolute."""
    given = path.absolute()
    normal = Path(os.path.abspath(given))
    if normal == given:
        return given
    try:
        return normal if os.path.samefile(normal, given) else given
    except OSError:  # normal names no file
        return given
