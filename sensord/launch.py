"""The ``sensord`` command's entry point: the run's signals are held (``sensord.early_signals``)
before the command line module and its libraries are imported."""

from __future__ import annotations

from collections.abc import Sequence

from sensord import early_signals

__all__ = ["main"]


def main(argv: Sequence[str] | None = None) -> int:
    """Hold the run's signals, then run the command line (``sensord.cli.main``)."""
    early_signals.hold()
    from sensord.cli import main as cli_main  # noqa: PLC0415  (imported after the hold)

    return cli_main(argv)
