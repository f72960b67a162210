"""Local echo: a port that hears its own transmission (``serial.local_echo = true``).

Many RS-485 adapters leave their receiver on while they send, so every byte written comes
back on the read side: a Modbus request, a poll command, a set-up command. :class:`LocalEcho`
drops exactly those bytes from what the port reads.

Each write is one expected echo, placed in the stream of bytes read: after every byte already
waiting in the kernel when it was written (the caller says how many; those came from the
device before the write and are passed on) and after the echo of every earlier write. Bytes
read are compared with the echo where it is due: while they agree they are held back (an echo
may arrive split across reads), and once the whole echo has come they are dropped. The first
byte that differs ends that expectation only: the bytes held back and everything after them
are passed on unchanged, and the mismatch is counted. So a port configured for an echo it does
not produce loses nothing: its device's answer differs from the request within a few bytes (a
Modbus reply's third byte is its byte count, a request's the high byte of an address) and is
passed on whole. Only an answer identical to the request, byte for byte, is taken for its
echo. At most :data:`MAX_EXPECTED` echoes are owed at once (a port that never echoes, whose
device is silent, would otherwise owe one per request); the oldest beyond that is given up and
counted as a mismatch.
"""

from __future__ import annotations

from collections import deque

__all__ = ["MAX_EXPECTED", "EchoCounts", "LocalEcho"]

#: The most echoes owed at once.
MAX_EXPECTED = 16


class _Expected:
    __slots__ = ("data", "matched", "start")

    def __init__(self, start: int, data: bytes) -> None:
        self.start = start  # where in the bytes read the echo is due
        self.data = data
        self.matched = 0  # how many of its bytes were read (and are held back)


class LocalEcho:
    """The echoes a port owes for what was written to it; see the module docstring."""

    __slots__ = ("_expected", "_read", "_released", "echoed_bytes", "mismatches")

    def __init__(self) -> None:
        self._expected: deque[_Expected] = deque()
        self._read = 0  # bytes read so far (where the next byte read sits in the stream)
        self._released = b""  # held bytes of an expectation given up by sent(), not yet out
        #: bytes dropped as echo, and expectations given up
        self.echoed_bytes = 0
        self.mismatches = 0

    @property
    def owed(self) -> int:
        """Echoes expected and not yet read whole."""
        return len(self._expected)

    def sent(self, data: bytes | bytearray | memoryview, waiting: int = 0) -> None:
        """``data`` went out while ``waiting`` bytes were in the kernel, not yet read: its
        echo is due after those and after every echo still owed."""
        if not data:
            return
        start = self._read + waiting
        expected = self._expected
        if expected:
            last = expected[-1]
            start = max(start, last.start + len(last.data))
        expected.append(_Expected(start, bytes(data)))
        if len(expected) > MAX_EXPECTED:
            oldest = expected[0]
            self._released += oldest.data[: oldest.matched]
            self._give_up(oldest.matched)

    def reset(self) -> None:
        """The port closed: nothing is owed any more."""
        self._expected.clear()
        self._read = 0
        self._released = b""

    def strip(self, data: bytes) -> bytes:
        """What of ``data`` (the next bytes read) is not echo, with any held bytes that turn
        out not to be echo in front of it."""
        expected = self._expected
        at = self._read
        self._read = at + len(data)
        if not expected and not self._released:
            return data
        out = bytearray(self._released)
        self._released = b""
        i, n = 0, len(data)
        while i < n and expected:
            echo = expected[0]
            lead = echo.start + echo.matched - (at + i)
            if lead > 0:  # bytes from the device before the echo is due
                take = min(lead, n - i)
                out += data[i : i + take]
                i += take
                continue
            want = echo.data
            k = min(len(want) - echo.matched, n - i)
            if data[i : i + k] == want[echo.matched : echo.matched + k]:
                echo.matched += k
                i += k
                if echo.matched == len(want):
                    expected.popleft()
                    self.echoed_bytes += len(want)
                continue
            out += want[: echo.matched]  # held back: they were the device's after all
            self._give_up(echo.matched)
        out += data[i:]
        return bytes(out)

    def _give_up(self, released: int) -> None:
        """The oldest expectation ends unmet (``released`` of its bytes were read and are
        passed on): the echoes after it are due that much earlier than planned."""
        echo = self._expected.popleft()
        self.mismatches += 1
        missing = len(echo.data) - released
        for later in self._expected:
            later.start -= missing


class EchoCounts:
    """One sensor's local-echo counts across the opens of its port: each open has a port of
    its own, whose :class:`LocalEcho` counts from zero. ``opened`` carries the last one's
    counts; ``totals`` adds the current one's."""

    __slots__ = ("_bytes", "_live", "_mismatches")

    def __init__(self) -> None:
        self._bytes = 0
        self._mismatches = 0
        self._live: LocalEcho | None = None

    def opened(self, echo: LocalEcho | None) -> None:
        """The port opened with ``echo`` (None: a port that drops no echo, a simulation)."""
        live = self._live
        if echo is live:
            return
        if live is not None:
            self._bytes += live.echoed_bytes
            self._mismatches += live.mismatches
        self._live = echo

    def totals(self) -> tuple[int, int]:
        """(bytes dropped as echo, expected echoes that did not come) since the sensor
        started."""
        live = self._live
        if live is None:
            return self._bytes, self._mismatches
        return self._bytes + live.echoed_bytes, self._mismatches + live.mismatches
