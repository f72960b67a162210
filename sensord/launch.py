"""The ``sensord`` command's entry point: the standard descriptors a parent left closed are
opened on ``/dev/null`` and the run's signals are held (``sensord.early_signals``) before the
command line module and its libraries are imported."""

from __future__ import annotations

import os
from collections.abc import Sequence

from sensord import early_signals

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Open the closed standard descriptors, hold the run's signals, then run the command
    line (``sensord.cli.main``)."""
    open_closed_standard_descriptors()
    early_signals.hold()
    from sensord.cli import main as cli_main  # noqa: PLC0415  (imported after the hold)

    return cli_main(argv)


def open_closed_standard_descriptors() -> None:
    """Open ``/dev/null`` on each of descriptors 0, 1 and 2 that is closed (``sensord run
    2>&-``), before anything else opens a file: the lowest free descriptor is the one a file
    opened later gets, and a serial port or socket there would take what is written to
    stderr (Python's fatal errors, a library's C code) or stdout. Python found it closed as
    it started: ``sys.stderr`` (``sys.stdout``) stays None, so the log counts its lines as
    dropped (``sensord.log``). Each is opened non-inheritable, as a descriptor the process
    opens is: a ``--workers`` worker finds it closed as its primary did."""
    for fd in (0, 1, 2):
        try:
            os.fstat(fd)
        except OSError:  # closed: the lowest free descriptor, the ones below it open
            os.open(os.devnull, os.O_RDWR)
