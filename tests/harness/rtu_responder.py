"""An RTU device's answers, played onto a serial line by a process of its own.

A device answers each request in its own time: at once, after the master's timeout (a late
answer), or not at all; and what the master reads of an answer comes in pieces, as a USB
adapter hands the bytes over at its latency timer (16 ms on FTDI chips) or a serial server
in its packets. :class:`RtuResponder` plays, for the n-th request it reads on a pty's master
end, the chunks of ``answers[n]`` (seconds after the request's last byte came, bytes); a
request past the last of ``answers``, or one whose list is empty, gets no answer. It runs in
a process that runs nothing else (this module, run as a script), ahead of the host's other
work where the host allows it, so that the times it keeps are not those of the test's
process, where the master under test (``sensord modbus read``, run in-process) runs.

The process reads, on its standard input, one JSON line ``{"request_bytes": n, "answers":
[[[at_s, hex], ...], ...]}``, writes ``ready`` and serves until its input ends; it then
writes one JSON line, its record: when each request came (``asked``), when each chunk was
written (``written``, per request), and how late it ran at most (``slip_s``: at a chunk's
time, and at a tick every :data:`TICK_S` meanwhile).
"""

from __future__ import annotations

import contextlib
import heapq
import json
import os
import select
import sys
import time
from collections.abc import Sequence
from typing import Self

if __name__ != "__main__":  # run as a script, its process has no ``harness`` to import
    from harness.child import Child, stopping

__all__ = ["TICK_S", "RtuResponder"]

#: How often the responder wakes while it waits, to measure how late it runs.
TICK_S = 0.005

#: The length of an RTU read request (unit id, function code, address, count, CRC).
READ_REQUEST_BYTES = 8


class RtuResponder:
    """The answers ``answers`` to the requests written to the pty whose master end is ``fd``
    (see the module docstring)."""

    def __init__(
        self,
        fd: int,
        answers: Sequence[Sequence[tuple[float, bytes]]],
        request_bytes: int = READ_REQUEST_BYTES,
    ) -> None:
        self.fd = fd
        self.spec = {
            "request_bytes": request_bytes,
            "answers": [[[at, chunk.hex()] for at, chunk in answer] for answer in answers],
        }
        #: when each request came (monotonic), once stopped
        self.asked: list[float] = []
        #: when each chunk of each request's answer was written (monotonic), once stopped
        self.written: list[list[float]] = []
        #: how late the responder ran at most, once stopped
        self.slip_s = 0.0
        self._child: Child | None = None

    def start(self) -> Self:
        """Start the process and wait until it serves."""
        self._child = Child(
            "RTU responder",
            [sys.executable, "-I", __file__, str(self.fd)],
            self.spec,
            pass_fds=(self.fd,),
        )
        self._child.start()
        return self

    def stop(self) -> None:
        """Stop the responder (chunks not yet written are not) and take its record."""
        child, self._child = self._child, None
        if child is None:
            return
        record = child.stop()
        if record is None:
            return
        self.asked = [float(at) for at in record["asked"]]
        self.written = [[float(at) for at in each] for each in record["written"]]
        self.slip_s = float(record["slip_s"])

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        stopping(self.stop, failed=exc[0] is not None)


def _keep_time() -> None:
    """Real-time scheduling at its lowest priority where the host allows it (see
    ``harness.host_lag.keep_time``); it sleeps between its chunks."""
    with contextlib.suppress(OSError):
        priority = os.sched_param(os.sched_get_priority_min(os.SCHED_FIFO))
        os.sched_setscheduler(0, os.SCHED_FIFO, priority)


def _serve(fd: int) -> None:
    _keep_time()
    spec = json.loads(sys.stdin.readline())
    size: int = spec["request_bytes"]
    answers = [[(float(at), bytes.fromhex(data)) for at, data in each] for each in spec["answers"]]
    print("ready", flush=True)
    os.set_blocking(fd, False)
    asked: list[float] = []
    written: list[list[float]] = []
    due: list[tuple[float, int, int, bytes]] = []  # (when, order, request, chunk)
    heard = 0  # the bytes of the request being read
    order = 0
    slip = 0.0
    while True:
        now = time.monotonic()
        wait_s = TICK_S if not due else min(TICK_S, max(0.0, due[0][0] - now))
        woke_by = now + wait_s
        readable, _, _ = select.select([fd, sys.stdin], [], [], wait_s)
        now = time.monotonic()
        if not readable:
            slip = max(slip, now - woke_by)
        if sys.stdin in readable and not os.read(sys.stdin.fileno(), 4096):
            break
        if fd in readable:
            with contextlib.suppress(BlockingIOError, OSError):
                heard += len(os.read(fd, 4096))
            while heard >= size:  # a request's last byte came
                heard -= size
                asked.append(now)
                written.append([])
                n = len(asked) - 1
                for at, chunk in answers[n] if n < len(answers) else ():
                    heapq.heappush(due, (now + at, order, n, chunk))
                    order += 1
        while due and due[0][0] <= time.monotonic():
            at, _, n, chunk = heapq.heappop(due)
            view = memoryview(chunk)
            while view:
                try:
                    view = view[os.write(fd, view) :]
                except BlockingIOError:
                    select.select([], [fd], [], TICK_S)
            done = time.monotonic()
            written[n].append(done)
            slip = max(slip, done - at)
    print(json.dumps({"asked": asked, "written": written, "slip_s": slip}), flush=True)


if __name__ == "__main__":
    _serve(int(sys.argv[1]))
