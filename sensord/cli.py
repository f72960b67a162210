"""Command line: ``sensord run | check | ports | simulate | capture | status | reload |
record | modbus read | demo-config``.

Exit codes: 0 success; 1 invalid configuration or failed check (or a run an exception ended: a
bug, logged as ``sensord ended by an uncaught exception``); 2 wrong usage; 3 the daemon could
not start (for example, the HTTP port is taken); 4 a ``--workers`` worker whose package
on disk is not the one its primary runs. ``sensord reload``: 1 the reload did not apply in
full, 3 no daemon answers, 4 no outcome within ``--timeout`` (``sensord.reload``).

The options of every command are parsed by ``sensord.cli_parser``. A command's code is a module
of its own (``cli_run``, ``cli_check``, ``cli_ports``, ``cli_simulate``, ``cli_record``,
``cli_client`` for the commands that ask the running daemon), imported once the command is
known: ``--help`` and each command load only the modules they use.
"""

from __future__ import annotations

import os
import select
import sys
from collections.abc import Sequence

from sensord import early_signals
from sensord import log as logsetup
from sensord.cli_parser import build_parser
from sensord.errors import EXIT_INVALID, EXIT_OK, EXIT_USAGE

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    try:
        return _main(argv)
    except BrokenPipeError:
        if not _output_gone():
            raise  # another pipe or socket broke (in the daemon's loop, say): a fault to see
        # the reader of the output went away (sensord check FILE | head -1): stop quietly;
        # stdout goes to /dev/null so that the interpreter's last flush does not fail again
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
        return EXIT_INVALID


def _output_gone() -> bool:
    """True when stdout is a pipe or socket whose reader has gone (its descriptor polls as
    an error or a hang-up), the one broken pipe that ends a command quietly."""
    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError):
        return False  # not a descriptor (replaced by a caller): not a pipe that closed
    poller = select.poll()
    poller.register(fd, select.POLLOUT)
    return any(events & (select.POLLERR | select.POLLHUP) for _, events in poller.poll(0))


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit:  # --help, --version or a usage error: no run
        early_signals.release()
        raise
    if args.command == "run":
        from sensord.cli_run import cmd_run  # noqa: PLC0415  (the daemon's modules: --help and the other commands do not load them)

        return cmd_run(args)
    # a signal that came while the command started is delivered now (the entry point held it
    # in case the command was a run): SIGINT interrupts, SIGTERM ends the command
    early_signals.release()
    if args.command is None:
        parser.print_help()
        return EXIT_USAGE
    # the tools print what they find; the library's log lines only when something is wrong
    logsetup.configure("warning")
    if args.command == "check":
        from sensord.cli_check import cmd_check  # noqa: PLC0415  (a command's module: the daemon does not load it)

        return cmd_check(args, args.command_parser)
    if args.command == "ports":
        from sensord.cli_ports import cmd_ports  # noqa: PLC0415  (a command's module: the daemon does not load it)

        return cmd_ports(args)
    if args.command == "simulate":
        from sensord.cli_simulate import cmd_simulate  # noqa: PLC0415  (a command's module: the daemon does not load it)

        return cmd_simulate(args, args.command_parser)
    if args.command == "capture":
        from sensord.cli_client import cmd_capture  # noqa: PLC0415  (a command's module: the daemon does not load it)

        return cmd_capture(args, args.command_parser)
    if args.command == "record":
        from sensord.cli_record import cmd_record  # noqa: PLC0415  (a command's module: the daemon does not load it)

        return cmd_record(args, args.command_parser)
    if args.command == "status":
        from sensord.cli_client import cmd_status  # noqa: PLC0415  (a command's module: the daemon does not load it)

        return cmd_status(args)
    if args.command == "reload":
        from sensord.cli_client import cmd_reload  # noqa: PLC0415  (a command's module: the daemon does not load it)

        return cmd_reload(args)
    if args.command == "modbus":
        from sensord.probe import modbus_read  # noqa: PLC0415  (a command's module: the daemon does not load it)

        return modbus_read(args)
    from sensord.demo import DEMO_CONFIG  # noqa: PLC0415  (a command's module: the daemon does not load it)

    sys.stdout.write(DEMO_CONFIG)
    return EXIT_OK
