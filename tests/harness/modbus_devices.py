"""Modbus RTU devices served by a process of their own.

A test or a bench run that measures sensord's reader loop in its own process polls devices
that must not share that process: pymodbus's serial server and the pty relay in front of it
(:class:`~harness.modbus.ModbusServer`, :class:`~harness.modbus.PtyRelay`) are threads that
take the interpreter from the loop, and on a loaded host the loop then waits for its own
devices, its polls late by the test's doing. :class:`ModbusDevices` runs them in a process
that runs nothing else (this module, run as ``python -m harness.modbus_devices``), their
threads ahead of the host's other work where it allows it (``harness.host_lag.keep_time``).

The process reads, on its standard input, one JSON line: ``{"units": [...], "silent": [...],
"values": [[unit, table, address, [words]], ...]}`` (requests to a ``silent`` unit id never
reach the server: a dead device). It writes ``ready PATH`` (the pty end to open) once it
serves, serves until its input ends, and then writes one JSON line, its record: how long
after the relay read each request the server's answer came (``turnarounds_s``: the server's
own time, and how long the host held the process back meanwhile), and how long the host held
the process back at a time (``stalls_s``: each wake of a thread of its own, which runs as its
relay and server do, :data:`STALL_S` or more late, as ``harness.host_lag.HostLag`` measures
it). A stall delays a request the relay has not read yet too, which no turnaround shows.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Sequence
from typing import Self

from harness.child import Child, stopping
from harness.common import REPO, HarnessError

__all__ = ["ModbusDevices", "RegisterValues"]

#: How late a wake of the devices' process counts as a stall in its record.
STALL_S = 0.02

#: Values a device holds: unit id, table, 0-based address, and the words from there.
RegisterValues = tuple[int, str, int, list[int]]


class ModbusDevices:
    """``units`` answering on an RTU line served by a process of their own (see the module
    docstring); sensord opens :attr:`path` once :meth:`start` returns."""

    def __init__(
        self,
        units: Iterable[int],
        values: Sequence[RegisterValues] = (),
        *,
        silent: Iterable[int] = (),
    ) -> None:
        self.spec = {
            "units": list(units),
            "silent": list(silent),
            "values": [
                [unit, table, address, list(words)] for unit, table, address, words in values
            ],
        }
        #: the pty end sensord opens, once started
        self.path = ""
        #: how long the server took to answer each request, once stopped
        self.turnarounds_s: list[float] = []
        #: how long the host held the devices' process back, each time it did for
        #: :data:`STALL_S` or more, once stopped
        self.stalls_s: list[float] = []
        self._child: Child | None = None

    @property
    def proc(self) -> subprocess.Popen[str] | None:
        """The devices' process, while it runs."""
        return None if self._child is None else self._child.process

    def start(self) -> Self:
        """Start the process and wait until it serves."""
        self._child = Child(
            "Modbus devices",
            [sys.executable, "-m", "harness.modbus_devices"],
            self.spec,
            cwd=REPO,
            env={**os.environ, "PYTHONPATH": str(REPO / "tests")},
        )
        words = self._child.start()
        if len(words) != 1:
            self.stop()
            raise HarnessError(f"the Modbus devices served no path: {words!r}")
        self.path = words[0]
        return self

    def stop(self) -> None:
        """Stop the devices and take their record."""
        child, self._child = self._child, None
        if child is None:
            return
        record = child.stop()
        if record is None:
            raise HarnessError("the Modbus devices left no record")
        self.turnarounds_s = [float(t) for t in record["turnarounds_s"]]
        self.stalls_s = [float(t) for t in record["stalls_s"]]

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        stopping(self.stop, failed=exc[0] is not None)


def _serve() -> None:
    from harness.host_lag import HostLag, keep_time  # noqa: PLC0415 - the process's alone
    from harness.modbus import ModbusServer, PtyRelay  # noqa: PLC0415

    spec = json.loads(sys.stdin.readline())
    keep_time()  # the lag thread started here runs as the relay and the server do
    with (
        PtyRelay(silent_units=spec["silent"]) as relay,
        ModbusServer(spec["units"], "serial", relay.far.path) as server,
    ):
        for unit, table, address, words in spec["values"]:
            server.set(unit, table, address, words)
        with HostLag() as lag:
            print(f"ready {relay.near.path}", flush=True)
            sys.stdin.read()
    stalls = [late for _, late in lag.lags if late >= STALL_S]
    print(json.dumps({"turnarounds_s": relay.turnarounds_s, "stalls_s": stalls}), flush=True)


if __name__ == "__main__":
    _serve()
