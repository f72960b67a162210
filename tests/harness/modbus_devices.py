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
own time, and how long the host held the process back meanwhile).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable, Sequence
from typing import IO, Self

from harness.common import REPO, HarnessError

__all__ = ["ModbusDevices", "RegisterValues"]

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
        self.proc: subprocess.Popen[str] | None = None

    def _pipe(self, stream: IO[str] | None) -> IO[str]:
        if stream is None:
            raise HarnessError("the Modbus devices' process has no pipe")
        return stream

    def start(self) -> Self:
        """Start the process and wait until it serves."""
        env = {**os.environ, "PYTHONPATH": str(REPO / "tests")}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "harness.modbus_devices"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=REPO,
            env=env,
        )
        self._pipe(self.proc.stdin).write(json.dumps(self.spec) + "\n")
        self._pipe(self.proc.stdin).flush()
        line = self._pipe(self.proc.stdout).readline().split()
        if len(line) != 2 or line[0] != "ready":
            self.stop()
            raise HarnessError(f"the Modbus devices did not start: {line!r}")
        self.path = line[1]
        return self

    def stop(self) -> None:
        """Stop the devices and take their record."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        try:
            out, _ = proc.communicate(timeout=10.0)  # its input ends: the devices stop
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
            raise
        lines = out.strip().splitlines()
        if proc.returncode != 0 or not lines:
            raise HarnessError(f"the Modbus devices' process exited {proc.returncode}")
        record = json.loads(lines[-1])
        self.turnarounds_s = [float(t) for t in record["turnarounds_s"]]

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _serve() -> None:
    from harness.modbus import ModbusServer, PtyRelay  # noqa: PLC0415 - the process's alone

    spec = json.loads(sys.stdin.readline())
    with (
        PtyRelay(silent_units=spec["silent"]) as relay,
        ModbusServer(spec["units"], "serial", relay.far.path) as server,
    ):
        for unit, table, address, words in spec["values"]:
            server.set(unit, table, address, words)
        print(f"ready {relay.near.path}", flush=True)
        sys.stdin.read()
    print(json.dumps({"turnarounds_s": relay.turnarounds_s}), flush=True)


if __name__ == "__main__":
    _serve()
