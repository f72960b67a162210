"""What ``/proc`` says about a process: descriptors, threads, memory, CPU time, wake-ups."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from harness.common import HarnessError, wait_for


def status_field(pid: int, field: str) -> int:
    """The first number of a ``/proc/PID/status`` line such as ``VmRSS:  1234 kB``."""
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise HarnessError(f"no {field} line in /proc/{pid}/status")


def listener(pid: int, port: int) -> str:
    """The inode of the IPv4 socket ``pid`` listens on at ``port`` (``/proc/PID/net/tcp``):
    another one after a reload means the server was bound anew."""
    with open(f"/proc/{pid}/net/tcp") as f:
        for line in f.read().splitlines()[1:]:
            fields = line.split()
            if fields[3] == "0A" and int(fields[1].rpartition(":")[2], 16) == port:
                return fields[9]
    raise HarnessError(f"pid {pid} does not listen at {port}")


def stopped(pid: int) -> bool:
    """Whether process ``pid`` is stopped (``SIGSTOP``: its state ``T``)."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as f:
        return f.read().rsplit(")", 1)[1].split()[0] == "T"


@dataclass
class Stop:
    """A process held stopped by :func:`held_stopped`: ``continued_s`` is the monotonic time
    it was sent ``SIGCONT`` (0.0 until then)."""

    pid: int
    continued_s: float = 0.0


@contextlib.contextmanager
def held_stopped(pid: int, within_s: float = 5.0) -> Iterator[Stop]:
    """Process ``pid`` stopped (``SIGSTOP``) while the body runs, which begins once the
    kernel tells it stopped; ``SIGCONT`` after the body, whatever it did. What the body sends
    the process (bytes on its port, signals) waits until then, however busy the host."""
    stop = Stop(pid)
    os.kill(pid, signal.SIGSTOP)
    try:
        wait_for(lambda: stopped(pid), within_s, f"process {pid} stopped")
        yield stop
    finally:
        stop.continued_s = time.monotonic()
        os.kill(pid, signal.SIGCONT)


def fd_count(pid: int) -> int:
    """The number of file descriptors ``pid`` has open."""
    return len(os.listdir(f"/proc/{pid}/fd"))


def cpu_s(pid: int) -> float:
    """utime + stime of the whole process (including exited threads), in seconds."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def rss_mib(pid: int) -> float:
    """The resident set size of ``pid`` in MiB."""
    return status_field(pid, "VmRSS") / 1024


@dataclass(frozen=True)
class TaskSample:
    """Per-thread CPU nanoseconds and context switches of a process at one moment."""

    at: float
    cpu_ns: dict[int, int]
    switches: dict[int, int]

    @classmethod
    def take(cls, pid: int) -> TaskSample:
        cpu: dict[int, int] = {}
        switches: dict[int, int] = {}
        for name in os.listdir(f"/proc/{pid}/task"):
            tid = int(name)
            try:
                with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                    cpu[tid] = int(f.read().split()[0])
                with open(f"/proc/{pid}/task/{tid}/status") as f:
                    switches[tid] = sum(
                        int(line.split()[1])
                        for line in f
                        if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt"))
                    )
            except FileNotFoundError:
                continue  # the thread exited meanwhile
        return cls(time.monotonic(), cpu, switches)

    def cpu_since(self, earlier: TaskSample) -> float:
        """CPU seconds of the threads alive at both samples; HarnessError if threads changed."""
        if set(self.cpu_ns) != set(earlier.cpu_ns):
            raise HarnessError("the process started or ended threads during the window")
        return sum(self.cpu_ns[t] - earlier.cpu_ns[t] for t in self.cpu_ns) / 1e9

    def switches_since(self, earlier: TaskSample) -> int:
        return sum(self.switches[t] - earlier.switches.get(t, 0) for t in self.switches)


def run_delays_s(pid: int) -> dict[int, float]:
    """How long each thread of ``pid`` has waited on a run queue so far (ready to run, its
    CPU given to other work: schedstat's second field), by thread id; {} once it ended."""
    waits: dict[int, float] = {}
    with contextlib.suppress(FileNotFoundError):
        for name in os.listdir(f"/proc/{pid}/task"):
            with (
                contextlib.suppress(FileNotFoundError, IndexError, ValueError),
                open(f"/proc/{pid}/task/{name}/schedstat") as f,
            ):
                waits[int(name)] = int(f.read().split()[1]) / 1e9
    return waits


def waited_most_s(before: dict[int, float], after: dict[int, float]) -> float:
    """The longest any thread of a process waited for a CPU between two
    :func:`run_delays_s` of it (a thread started meanwhile: since it started)."""
    return max((wait - before.get(tid, 0.0) for tid, wait in after.items()), default=0.0)


def kill_group(proc: subprocess.Popen[Any]) -> None:
    """SIGKILL ``proc`` and, when it leads a process group of its own (started with
    ``start_new_session``, as ``sensord --workers`` in the bench), every process in it."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if os.getpgid(proc.pid) == proc.pid:
                os.killpg(proc.pid, signal.SIGKILL)
        proc.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(5)
