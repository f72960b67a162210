"""The signals of ``sensord run`` from the process's first moment until its service handles them.

Python starts, imports sensord and its libraries, reads the configuration and builds the
sensors before a running service installs its signal handlers: a fifth of a second and more
(pymodbus loaded included). A SIGHUP (reload) or SIGUSR1 (captures) in that time would end the
process without a word, since that is their default action, and a SIGTERM would end it
without its shutdown. :func:`hold` notes them instead, from the entry point on
(``sensord.launch``), before anything else is imported; the service takes what was noted as
if it came at its start (:func:`take`), and any other command has the signals delivered as
soon as it knows it is not a run (:func:`release`).

This module imports only the standard library's ``signal``, so holding costs no import time.
"""

from __future__ import annotations

import signal
from collections.abc import Callable
from types import FrameType
from typing import Any

__all__ = ["RUN_SIGNALS", "STOP_SIGNALS", "drop", "hold", "release", "take"]

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)
#: The signals a run handles: the stop signals, SIGHUP (reload) and SIGUSR1 (captures).
RUN_SIGNALS = (*STOP_SIGNALS, signal.SIGHUP, signal.SIGUSR1)

_noted: list[int] = []
#: The handlers in place before :func:`hold`, by signal, while the signals are held.
_before: dict[int, Callable[[int, FrameType | None], Any] | int | None] = {}


def _note(signum: int, frame: FrameType | None) -> None:
    _noted.append(signum)


def hold() -> None:
    """Note the run's signals from now on instead of taking their action. Holding again while
    they are held keeps what was noted and the handlers from before the first hold."""
    for signum in RUN_SIGNALS:
        previous = signal.signal(signum, _note)
        _before.setdefault(signum, previous)


def take() -> list[int]:
    """The signals noted so far, oldest first; they are no longer noted."""
    noted = _noted[:]
    del _noted[: len(noted)]
    return noted


def _restore() -> None:
    for signum, handler in _before.items():
        if handler is not None:  # None: a handler not set from Python, left as it is
            signal.signal(signum, handler)
    _before.clear()


def drop() -> None:
    """Stop holding: the handlers from before :func:`hold` are back and what was noted and not
    taken is forgotten (a run that ends before its service took its signals)."""
    _restore()
    take()


def release() -> None:
    """Stop holding and deliver what was noted, in order, to the handlers from before
    :func:`hold` (a command other than ``run``: SIGINT raises ``KeyboardInterrupt``, SIGTERM
    and SIGHUP end the process as they would have)."""
    _restore()
    for signum in take():
        signal.raise_signal(signum)
