"""A harness process of its own that plays a device or a line, and the record it leaves.

:class:`~harness.line_player.LinePlayer`, :class:`~harness.rtu_responder.RtuResponder` and
:class:`~harness.modbus_devices.ModbusDevices` each run their part in a process that runs
nothing else, so that the times it keeps are not the test's. They speak one protocol, which
:class:`Child` is the test's end of: the process reads its spec as one JSON line on its
standard input, writes a line beginning ``ready`` once it serves (with what the test needs
to know after it, e.g. a pty's path), may read further lines, serves until its input ends,
and then writes its record as its last line, one JSON object.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from harness.common import HarnessError
from harness.spawn import popen

__all__ = ["Child", "stopping"]

#: How long a process that was told to stop (its input ended) may take to write its record.
STOP_WAIT_S = 10.0


class Child:
    """The process ``argv`` (``what`` names it in errors), given ``spec`` (see the module
    docstring); ``pass_fds``, ``cwd`` and ``env`` as for :class:`subprocess.Popen`."""

    def __init__(
        self,
        what: str,
        argv: Sequence[str],
        spec: object,
        *,
        pass_fds: Sequence[int] = (),
        cwd: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.what = what
        self._argv = list(argv)
        self._spec = spec
        self._pass_fds = tuple(pass_fds)
        self._cwd = cwd
        self._env = env
        self._proc: subprocess.Popen[str] | None = None

    @property
    def process(self) -> subprocess.Popen[str] | None:
        """The process, while it runs (for a caller that reaps what it started on a signal)."""
        return self._proc

    def _pipe(self, stream: IO[str] | None) -> IO[str]:
        if stream is None:
            raise HarnessError(f"the {self.what}'s process has no pipe")
        return stream

    def start(self) -> list[str]:
        """Start the process, give it its spec and wait until it serves: the words of its
        ``ready`` line after ``ready``. A process that does not get that far is reaped, and
        HarnessError names what it wrote instead."""
        self._proc = popen(
            self._argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            pass_fds=self._pass_fds,
            cwd=self._cwd,
            env=self._env,
            text=True,
        )
        try:
            self.send(json.dumps(self._spec))
            line = self._pipe(self._proc.stdout).readline().split()
        except OSError:  # it ended before it read its spec
            line = []
        if not line or line[0] != "ready":
            self._kill()
            raise HarnessError(f"the {self.what} did not start: it wrote {line!r}")
        return line[1:]

    def send(self, line: str) -> None:
        """Write one line to the process's standard input."""
        if self._proc is None:
            raise HarnessError(f"the {self.what} is not running")
        stdin = self._pipe(self._proc.stdin)
        stdin.write(line + "\n")
        stdin.flush()

    def stop(self) -> dict[str, Any] | None:
        """End the process's input, so that it stops, and take its record: ``None`` when it
        was not started or wrote none after its ``ready`` line (it ended before it served).
        A process that does not stop within :data:`STOP_WAIT_S` is killed (HarnessError); one
        that exits with an error is reported with what it wrote."""
        proc, self._proc = self._proc, None
        if proc is None:
            return None
        try:
            out, _ = proc.communicate(timeout=STOP_WAIT_S)
        except subprocess.TimeoutExpired as exc:
            proc.kill()
            proc.wait()
            raise HarnessError(f"the {self.what} did not stop in {STOP_WAIT_S} s") from exc
        lines = out.strip().splitlines()
        if proc.returncode != 0:
            raise HarnessError(f"the {self.what}'s process exited {proc.returncode}: {lines!r}")
        if not lines or lines[-1].startswith("ready"):
            return None
        record = json.loads(lines[-1])
        if not isinstance(record, dict):
            raise HarnessError(f"the {self.what}'s record is no JSON object: {lines[-1]!r}")
        return record

    def _kill(self) -> None:
        proc, self._proc = self._proc, None
        if proc is not None:
            proc.kill()
            proc.communicate()


def stopping(stop: Callable[[], None], *, failed: bool) -> None:
    """``stop`` a harness process at the end of its ``with`` block; when the block failed,
    a failure to stop is not raised over the block's own (the process is reaped all the
    same: :meth:`Child.stop` kills one that does not stop)."""
    if not failed:
        stop()
        return
    with contextlib.suppress(HarnessError):
        stop()
