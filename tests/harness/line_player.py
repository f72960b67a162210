"""Frames played onto a serial line at set times by a process of its own.

A test's thread that writes bytes a character time apart (1 ms at 9600 baud) is held back
whenever another thread of the test's process has the interpreter, up to its switch
interval (5 ms) and longer on a loaded host: longer than the line's silence, so the line it
plays falls quiet where the test means it busy. :class:`LinePlayer` writes them from a
process that runs nothing else (this module, run as a script), at the times the test gives,
counted from a moment the test names once it is known (``start``); the player records when
it wrote each frame and how late it ran at most (``slip_s``): at each frame's time, and at a
tick every :data:`TICK_S` between the frames and after the last one, until the test stops
it (``stop``), so that the slip covers all the time the test's scenario runs.

The script reads, on its standard input, the frames as one JSON line (``[[at_s, hex],
...]``), then the start (``time.monotonic()`` of the test's process: CLOCK_MONOTONIC, the
same in every process) or the end of the input; it writes ``ready`` once it has the frames,
and at the end one JSON line: ``{"written": [...], "slip_s": ...}``.
"""

from __future__ import annotations

import contextlib
import json
import os
import select
import sys
import time
from collections.abc import Sequence
from typing import Self

if __name__ != "__main__":  # run as a script, its process has no ``harness`` to import
    from harness.child import Child, stopping
    from harness.common import HarnessError

__all__ = ["TICK_S", "LinePlayer"]

#: How often the player wakes between frames, and after the last one, to measure its slip.
TICK_S = 0.005


class LinePlayer:
    """``frames`` (seconds after the start, bytes) written to the descriptor ``fd`` (a pty
    master) by a process of their own (see the module docstring)."""

    def __init__(self, fd: int, frames: Sequence[tuple[float, bytes]]) -> None:
        self.fd = fd
        self.frames = list(frames)
        #: when each frame was written (monotonic), once stopped
        self.written: list[float] = []
        #: how late the player ran at most, once stopped
        self.slip_s = 0.0
        self._child: Child | None = None

    def start(self) -> Self:
        """Start the process and wait until it has the frames."""
        self._child = Child(
            "line player",
            [sys.executable, "-I", __file__, str(self.fd)],
            [[at, frame.hex()] for at, frame in self.frames],
            pass_fds=(self.fd,),
        )
        self._child.start()
        return self

    def begin(self, at: float) -> None:
        """Count the frames' times from ``at`` (monotonic)."""
        self._running().send(repr(at))

    def _running(self) -> Child:
        if self._child is None:
            raise HarnessError("the line player is not running")
        return self._child

    def stop(self) -> None:
        """Stop the player (frames not yet written are not) and take its record."""
        child, self._child = self._child, None
        if child is None:
            return
        record = child.stop()
        if record is None:
            raise HarnessError("the line player left no record")
        self.written = [float(at) for at in record["written"]]
        self.slip_s = float(record["slip_s"])

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        stopping(self.stop, failed=exc[0] is not None)


def _keep_time() -> None:
    """Run ahead of the host's other work where it allows it (real-time scheduling, the
    lowest priority: a UART keeps its time whatever the CPUs do); the player sleeps between
    its frames, so it takes little of a CPU. Where it does not (no CAP_SYS_NICE), it runs
    as any process, and its slip says how late."""
    with contextlib.suppress(OSError):
        priority = os.sched_param(os.sched_get_priority_min(os.SCHED_FIFO))
        os.sched_setscheduler(0, os.SCHED_FIFO, priority)


def _play(fd: int) -> None:
    _keep_time()
    frames = [(float(at), bytes.fromhex(data)) for at, data in json.loads(sys.stdin.readline())]
    print("ready", flush=True)
    written: list[float] = []
    slip = 0.0
    ended = False

    def wait_until(due: float) -> bool:
        """False once the input ended (the test stopped the player)."""
        nonlocal slip, ended
        while not ended and (left := due - time.monotonic()) > 0:
            woke = time.monotonic() + min(left, TICK_S)
            if select.select([sys.stdin], [], [], min(left, TICK_S))[0]:
                ended = not os.read(sys.stdin.fileno(), 4096)
            slip = max(slip, time.monotonic() - woke)
        return not ended

    line = sys.stdin.readline()
    if line.strip():
        start = float(line)
        for at, frame in frames:
            if not wait_until(start + at):
                break
            view = memoryview(frame)
            while view:
                view = view[os.write(fd, view) :]
            written.append(time.monotonic())
            slip = max(slip, written[-1] - (start + at))
        while wait_until(time.monotonic() + TICK_S):
            pass
    print(json.dumps({"written": written, "slip_s": slip}), flush=True)


if __name__ == "__main__":
    _play(int(sys.argv[1]))
