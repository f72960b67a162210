"""The Source protocol: a context-managed byte source for one sensor.

A source is opened by ``__enter__`` (or ``open()``) and closed by ``__exit__`` (or ``close()``).
``close()`` is idempotent and safe when ``open()`` never succeeded, so an owner can always
close what it created, however a run ends.

The reader treats three kinds of source differently:

* ``fileno()`` returns a file descriptor: the reader's selector thread waits on it and calls
  ``read()`` when it is readable; ``read()`` must not block.
* ``fileno()`` returns None and ``next_due()`` returns None: the source cannot be selected
  (``rfc2217://``); a small thread of its own calls ``read()``, which blocks up to its timeout.
* ``next_due()`` returns a monotonic time: a timed source (a simulated port); the reader calls
  ``read()`` at or after that time and gets the bytes that became due.

``read()`` returns the bytes available (possibly ``b""`` when nothing is there yet) and raises
``SourceBrokenError`` when the device is gone.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from types import TracebackType
from typing import Self

from sensord.sources.echo import LocalEcho

__all__ = ["Source"]


class Source(ABC):
    """Base class of every source. Subclasses implement ``_open``, ``_close`` and ``read``."""

    #: True for simulated ports; shown in logs and metrics.
    simulated: bool = False
    #: True once the source has nothing more to give (a replay at the end of its capture)
    finished: bool = False
    #: the echo a port that hears its own transmission owes (``serial.local_echo``)
    echo: LocalEcho | None = None
    #: the address and port a network port's connection reached (the peer's, as connected:
    #: a host name resolved), while it is open; None for any other port
    peer: tuple[str, int] | None = None

    def __init__(self, sensor: str, url: str) -> None:
        self.sensor = sensor
        self.url = url
        self._is_open = False

    # -- lifecycle ---------------------------------------------------------------------------
    def open(self) -> None:
        """Open the device. Raises SourceUnavailableError (or a ConfigError-like SourceError)."""
        if self._is_open:
            return
        self._open()
        self._is_open = True

    def close(self) -> None:
        """Close the device. Idempotent; safe when ``open()`` failed or was never called."""
        was_open, self._is_open = self._is_open, False
        self._close(was_open)

    def abort_open(self) -> None:
        """Make an ``open()`` running on another thread end soon (it then raises), for a
        shutdown that should not wait out a server's answer. Thread-safe; nothing to do for
        the sources whose open never waits on a peer, which is every one but ``rfc2217://``."""
        return None

    @property
    def is_open(self) -> bool:
        return self._is_open

    def __enter__(self) -> Self:
        self.open()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    # -- I/O -----------------------------------------------------------------------------------
    def fileno(self) -> int | None:
        """A selectable, non-blocking file descriptor while open, else None."""
        return None

    def next_due(self) -> float | None:
        """For timed sources: the monotonic time at which ``read()`` has new bytes."""
        return None

    @abstractmethod
    def read(self) -> bytes:
        """Bytes available now (see the module docstring for the blocking rules)."""

    def poll_interval_s(self, configured: float) -> float:
        """How long the sensor waits between poll requests: ``configured`` (``poll.interval_s``)
        for a device; a replay plays its recorded conversation at its own speed."""
        return configured

    def line_counters(self) -> dict[str, int] | None:
        """The kernel's line error counters of a device port, by kind (``sensord.uart``), or
        those of the kinds a port can tell (an ``rfc2217://`` port: the bytes its receive
        queue dropped); None for ports without a line (simulated, other network ports).
        OSError when the driver keeps none (a pseudo-terminal)."""
        return None

    def write(self, data: bytes) -> None:
        """Send bytes to the device (polling requests). Sources that cannot write ignore it."""
        del data

    def try_write(self, data: bytes) -> bool:
        """Send bytes without waiting for room; False when the device is not taking them.

        The reader loop polls with this, so a device that stops reading never stalls the
        other sensors. Sources that cannot wait anyway just ``write``.
        """
        self.write(data)
        return True

    # -- for subclasses ------------------------------------------------------------------------
    @abstractmethod
    def _open(self) -> None: ...

    @abstractmethod
    def _close(self, was_open: bool) -> None:
        """Release every resource; must tolerate partially-opened state."""

    def __repr__(self) -> str:
        state = "open" if self._is_open else "closed"
        return f"<{type(self).__name__} sensor={self.sensor!r} url={self.url!r} {state}>"
