"""gpsd, the reference NMEA 0183 reader, as a peer on a real pseudo-terminal.

:class:`GpsdPeer` runs ``gpsd`` (installed by scripts/test) on a :class:`~harness.pty.PtyPair`
in the foreground, read-only (``-b``: no configuration written to the "receiver"), and watches
its JSON reports over its TCP port. gpsd probes a new device for a second or two, changing the
port's settings and flushing its input meanwhile; :meth:`GpsdPeer.play` first writes a
sentence that carries no fix until gpsd has recognised NMEA 0183, so that every byte of the
stream it plays reaches gpsd's NMEA driver.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from pathlib import Path
from typing import Any, Self

from harness.common import HarnessError, free_port
from harness.pty import PtyPair
from harness.spawn import popen

__all__ = ["GpsdPeer", "gpsd_binary", "with_checksum"]

#: A sentence with no fix in it (an informational text), written until gpsd has recognised
#: the stream as NMEA 0183.
PRIMER = b"$GPTXT,01,01,02,sensord test*XX\r\n"


def gpsd_binary() -> str:
    """The gpsd program (in /usr/sbin, off most users' PATH)."""
    found = shutil.which("gpsd") or shutil.which("gpsd", path="/usr/sbin:/sbin")
    if found is None:
        raise HarnessError("gpsd is not installed: scripts/test installs it (apt-get install gpsd)")
    return found


def with_checksum(sentence: bytes) -> bytes:
    """``sentence`` with its ``*XX`` made the checksum (the XOR of the bytes between ``$`` and
    ``*``)."""
    body = sentence[1 : sentence.index(b"*")]
    check = 0
    for byte in body:
        check ^= byte
    return sentence.replace(b"*XX", b"*%02X" % check)


class GpsdPeer:
    """gpsd reading ``port``; :meth:`play` writes a stream and returns gpsd's reports."""

    def __init__(self, port: PtyPair, workdir: Path) -> None:
        self.port = port
        os.chmod(port.path, 0o666)  # gpsd drops its privileges after the open
        self.tcp_port = free_port()
        self._log = (workdir / "gpsd.log").open("wb")
        self.proc: subprocess.Popen[bytes] = popen(
            [
                gpsd_binary(),
                "-N",  # foreground
                "-n",  # open the device at once, not when a client first asks
                "-b",  # read-only: nothing written to the device
                "-S",
                str(self.tcp_port),
                "-F",
                str(workdir / "gpsd.sock"),
                port.path,
            ],
            stdout=self._log,
            stderr=subprocess.STDOUT,
        )
        self.conn = self._connect()
        self.conn.sendall(b'?WATCH={"enable":true,"json":true};\n')
        self._buffer = b""

    def _connect(self) -> socket.socket:
        deadline = time.monotonic() + 10.0
        while True:
            try:
                return socket.create_connection(("127.0.0.1", self.tcp_port), timeout=1.0)
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    raise HarnessError("gpsd did not start (see gpsd.log)") from None
                time.sleep(0.05)

    def _reports(self, quiet_s: float) -> list[dict[str, Any]]:
        """The JSON reports gpsd sent until it was quiet for ``quiet_s``."""
        self.conn.settimeout(quiet_s)
        while True:
            try:
                chunk = self.conn.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            self._buffer += chunk
        *lines, self._buffer = self._buffer.split(b"\n")
        return [json.loads(line) for line in lines if line.strip()]

    def _recognised(self) -> bool:
        self.conn.sendall(b"?DEVICES;\n")
        for report in self._reports(0.1):
            if report.get("class") == "DEVICES":
                return any(d.get("driver") == "NMEA0183" for d in report.get("devices", []))
        return False

    def play(self, data: bytes, packet: int = 64) -> list[dict[str, Any]]:
        """gpsd's reports of ``data``, written in ``packet``-byte writes (as a receiver's
        UART delivers them) once gpsd reads the port as NMEA 0183."""
        primer = with_checksum(PRIMER)
        deadline = time.monotonic() + 15.0
        while not self._recognised():
            if time.monotonic() > deadline:
                raise HarnessError("gpsd did not recognise NMEA 0183 on the port")
            self.port.write(primer)
        self._reports(0.2)  # what the primer brought
        for at in range(0, len(data), packet):
            self.port.write(data[at : at + packet])
            time.sleep(0.002)
        # gpsd reports each packet's epochs within a millisecond of the write (measured: the
        # last report 0.3 ms after the last write); 0.4 s of quiet is room for a loaded host
        return self._reports(0.4)

    def close(self) -> None:
        self.conn.close()
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
