"""The kernel's error counters of a serial line: the ``TIOCGICOUNT`` ioctl.

Linux keeps, per serial port, counts of framing, overrun, parity and break conditions and of
bytes lost to a full driver buffer (``struct serial_icounter_struct`` in
``include/uapi/linux/serial.h``: eleven ``int`` fields and nine reserved ones). Drivers that do
not keep them (pseudo-terminals, some USB adapters) fail the ioctl (``ENOTTY`` or ``EINVAL``).

The drivers count in unsigned 32-bit integers (``struct uart_icount``, ``struct
async_icount``) that the ioctl copies into those ``int`` fields, and the counts live as long
as the port's driver, not one open of it: a line that gives a framing error per byte (a wrong
baud rate, an RS-485 line without bias) passes 2**31 at 115200 baud in about two days and
wraps at 2**32. The fields are read as unsigned and each increase is taken modulo 2**32.

:class:`LineErrors` turns the readings of one sensor's port into counters that only go up:
the increase since each open, summed over the opens.
"""

from __future__ import annotations

import fcntl
import struct
from collections.abc import Callable

__all__ = [
    "LINE_ERROR_KINDS",
    "TIOCGICOUNT",
    "LineErrors",
    "decode_icount",
    "read_icount",
]

#: ``TIOCGICOUNT`` from ``asm-generic/ioctls.h`` (the same on x86, arm and arm64).
TIOCGICOUNT = 0x545D

#: The fields of ``struct serial_icounter_struct``, in order, then ``reserved[9]``.
ICOUNT_FIELDS = (
    "cts", "dsr", "rng", "dcd", "rx", "tx",
    "frame", "overrun", "parity", "brk", "buf_overrun",
)  # fmt: skip
_ICOUNT = struct.Struct(f"={len(ICOUNT_FIELDS) + 9}I")
#: The range of the drivers' counters: an increase is taken modulo it.
_WRAP = 1 << 32
#: A rise of more than this between two readings is a count that went down instead.
_HALF = 1 << 31

#: The kinds of ``sensord_serial_line_errors_total`` and the field each is read from.
LINE_ERROR_KINDS = {
    "frame": "frame",
    "overrun": "overrun",
    "parity": "parity",
    "break": "brk",
    "buffer_overrun": "buf_overrun",
}
_INDEX = {kind: ICOUNT_FIELDS.index(name) for kind, name in LINE_ERROR_KINDS.items()}


def decode_icount(data: bytes) -> dict[str, int]:
    """The error counts (by kind) in the bytes of a ``struct serial_icounter_struct``."""
    if len(data) != _ICOUNT.size:
        raise ValueError(f"expected {_ICOUNT.size} bytes, got {len(data)}")
    values = _ICOUNT.unpack(data)
    return {kind: values[index] for kind, index in _INDEX.items()}


def read_icount(fd: int) -> dict[str, int]:
    """The error counts of the serial port open on ``fd``; OSError when its driver keeps none."""
    return decode_icount(fcntl.ioctl(fd, TIOCGICOUNT, bytes(_ICOUNT.size)))


class LineErrors:
    """One sensor's line error counters across the opens of its port.

    ``opened`` takes the counts at an open as the baseline; ``update`` (the housekeeping tick,
    every few seconds at most: far less than a wrap of the driver's counters) adds their
    increase since the reading before, modulo 2**32, so a counter that wraps goes on
    counting. A reader that returns None has no counters (not a device
    port); one that raises OSError has a driver without them: ``unsupported`` says why, and
    the port is not asked again until it is reopened.
    """

    def __init__(self) -> None:
        self.totals: dict[str, int] = dict.fromkeys(LINE_ERROR_KINDS, 0)
        #: the kinds the port reported (all of them for a device port); empty until the
        #: port reported its counters once
        self.kinds: set[str] = set()
        #: why the counters are not available (the ioctl's error), or None
        self.unsupported: str | None = None
        #: the unsupported state was logged (it is logged once per sensor)
        self.reported = False
        #: the driver's counts at the last reading since the port was opened (None: none yet)
        self._base: dict[str, int] | None = None

    def opened(self, read: Callable[[], dict[str, int] | None]) -> None:
        self._base = None
        self.unsupported = None
        self.update(read)

    def update(self, read: Callable[[], dict[str, int] | None]) -> None:
        if self.unsupported is not None:
            return
        try:
            counts = read()
        except OSError as exc:
            self.unsupported = f"the driver keeps no line error counters ({exc.strerror or exc})"
            self._base = None
            return
        if counts is None:
            return
        base = self._base
        self._base = counts
        if base is None:
            self.kinds.update(counts)
            return
        totals = self.totals
        for kind, count in counts.items():
            rise = (count - base[kind]) % _WRAP
            # a count lower than the last (by less than half the range) is a driver that
            # started counting afresh (reloaded under the open port): its count is the rise
            totals[kind] += rise if rise < _HALF else count

    def exported(self) -> dict[str, int] | None:
        """The counters to export, or None when the port never reported any."""
        kinds, totals = self.kinds, self.totals
        if not kinds:
            return None
        return {kind: totals[kind] for kind in LINE_ERROR_KINDS if kind in kinds}
