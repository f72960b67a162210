"""How late a loaded host runs the test's own process, and scenarios played again for it.

A test that runs the reader loop, a relay, a pymodbus server or a device thread in its own
process on real time asserts what the daemon did within times a device keeps: a reply inside
a timeout, a poll at its interval. On a loaded host (a whole suite on two cores beside other
work) the process is held back for tens or hundreds of milliseconds at a time, and its
device threads answer late or its loop runs late by the host's doing, not the daemon's.

:class:`HostLag` measures that: a thread of the test's process that asks to wake every
:data:`TICK_S` and notes how much later than asked it ran (``lags``), over the scenario's
whole run, and how long the thread that started it (the test's, which runs the reader loop)
waited for a CPU meanwhile (``waited_s``, the kernel's count). A thread that sleeps between
short wakes, as the lag thread and a device's do, is let on a CPU sooner than one that keeps
working, as the reader loop of a busy bus does: under load the lag thread saw 0.07 s of lag
in a 3 s run in which the loop waited 2 s. :func:`keep_time` has a device's thread run ahead
of the host's other work where the host allows it, as a device's UART keeps its time.
:func:`steadily` plays a scenario again, up to three times in all, while its record says the
host held it back more than the scenario allows; the last play is asserted on, and the
assertions' messages say what was played again and why. A defect fails every play, the
first one of a steady host included.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable, Sequence
from typing import Self, TypeVar

__all__ = [
    "TICK_S",
    "HostLag",
    "HostLagged",
    "answered_past",
    "held_past",
    "keep_time",
    "steadily",
]

#: How often the lag thread asks to wake.
TICK_S = 0.005

#: A lag below this is the timer's and the interpreter's own (a thread waits up to the
#: switch interval, 5 ms, for another that holds the interpreter): not counted in ``total_s``.
OWN_LAG_S = 0.005

_T = TypeVar("_T")
_R = TypeVar("_R")


def keep_time() -> None:
    """Run the calling thread ahead of the host's other work where the host allows it
    (real-time scheduling at its lowest priority, for this thread alone): a device's thread
    (a relay's, a server's) keeps its time as a device does whatever the CPUs do, and it
    sleeps between its bytes, so it takes little of a CPU. Without CAP_SYS_NICE it runs as
    any thread, and what measures its lateness says how late it ran. The interpreter is
    still shared: another thread of the process holds it up to its switch interval (5 ms)."""
    with contextlib.suppress(OSError):
        priority = os.sched_param(os.sched_get_priority_min(os.SCHED_FIFO))
        os.sched_setscheduler(0, os.SCHED_FIFO, priority)


class HostLag:
    """A thread of the test's process that wakes every :data:`TICK_S` from ``start`` to
    ``stop`` and records, for each wake, when it woke and how much later than asked
    (``lags``: monotonic time, seconds late)."""

    def __init__(self) -> None:
        self.lags: list[tuple[float, float]] = []
        #: how long the thread that started it (the test's, which runs the reader loop) was
        #: ready to run but waited for a CPU, from ``start`` to ``stop``
        self.waited_s = 0.0
        self._owner = threading.get_native_id()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="host-lag", daemon=True)

    def _run(self) -> None:
        while True:
            due = time.monotonic() + TICK_S
            if self._stop.wait(TICK_S):
                return
            woke = time.monotonic()
            self.lags.append((woke, max(0.0, woke - due)))

    @property
    def max_s(self) -> float:
        """The longest the host held the thread back."""
        return max((lag for _, lag in self.lags), default=0.0)

    def total_s(self, since: float = 0.0) -> float:
        """How long in all the host held the thread back past :data:`OWN_LAG_S` at a wake
        (after ``since``, monotonic): time in which the process did not run as asked."""
        return sum(lag - OWN_LAG_S for at, lag in self.lags if at > since and lag > OWN_LAG_S)

    def _run_delay_s(self) -> float:
        """The owner's time spent waiting on a run queue so far (``/proc``'s schedstat:
        time on the CPU, time waiting for it, timeslices, in nanoseconds); 0 where the
        kernel does not keep it."""
        try:
            with open(f"/proc/self/task/{self._owner}/schedstat") as stat:
                return int(stat.read().split()[1]) / 1e9
        except (OSError, IndexError, ValueError):
            return 0.0

    def start(self) -> Self:
        self._owner = threading.get_native_id()
        self.waited_s = -self._run_delay_s()
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5.0)
        self.waited_s += self._run_delay_s()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __str__(self) -> str:
        return f"the host held the test's process back up to {self.max_s:.3f} s at a time"


def held_past(limit_s: float) -> Callable[[HostLag], str]:
    """A ``held`` for :func:`steadily`: the host held the process back more than ``limit_s``
    at a time ("" when it did not)."""

    def held(lag: HostLag) -> str:
        if lag.max_s <= limit_s:
            return ""
        return f"the host held the test's process back {lag.max_s:.3f} s (over {limit_s:g} s)"

    return held


def steadily(
    scenario: Callable[[], tuple[_T, _R]], held: Callable[[_R], str], attempts: int = 3
) -> tuple[_T, str]:
    """``scenario``'s result, played again (up to ``attempts`` times in all) while ``held``
    says from its record (a :class:`HostLag`, or what the scenario measured) how the host
    held it back more than the scenario allows ("" when it did not), and what was played
    again, for the assertions' messages."""
    again: list[str] = []
    while True:
        result, record = scenario()
        slipped = held(record)
        if not slipped or len(again) + 1 >= attempts:
            break
        again.append(slipped)
    said = f"played again after: {'; '.join(again)}" if again else "played once"
    return result, f"{said}; the play asserted on: {slipped or 'on time'}"


#: What :func:`answered_past` judges a play by: how late the host ran the test's process,
#: and how long a device of it took to answer each request.
HostLagged = tuple[HostLag, Sequence[float]]


def answered_past(limit_s: float) -> Callable[[HostLagged], str]:
    """A ``held`` for :func:`steadily` from a :class:`HostLag` and a device's turnarounds
    (``harness.modbus.PtyRelay.turnarounds_s``): the host held the test's process back, or
    the device (a server of the test's process) took to answer, more than ``limit_s``."""

    def held(record: HostLagged) -> str:
        lag, turnarounds = record
        slowest = max(turnarounds, default=0.0)
        if lag.max_s > limit_s:
            return held_past(limit_s)(lag)
        if slowest > limit_s:
            return f"the device took {slowest:.3f} s to answer (over {limit_s:g} s)"
        return ""

    return held
