"""ser2net, the serial server most users run, serving a real pseudo-terminal on loopback.

:class:`Ser2net` runs ``ser2net`` 4.x (installed by scripts/test) in the foreground with a
YAML config of one connection: the pty's slave path as the serial device (``serialdev``,
``local``: no modem-line checks) behind a raw TCP accepter (``socket://``) or a Telnet
accepter with RFC 2217 (``rfc2217://``). ser2net opens the device when a client connects and
closes it when the client leaves.

ser2net does not acknowledge a change of DTR or RTS on a pseudo-terminal, which has no modem
lines: an ``rfc2217://`` client opens it with pyserial's ``?ign_set_control``, as it would a
device whose lines ser2net cannot set (:attr:`Ser2net.url`; :attr:`Ser2net.bare_url` without).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from pathlib import Path
from typing import Self

from harness.common import HarnessError, free_port
from harness.spawn import popen

__all__ = ["Ser2net", "ser2net_binary"]

#: The states of a listening socket and of a connected one in /proc/net/tcp.
_LISTEN = "0A"
_ESTABLISHED = "01"


def ser2net_binary() -> str:
    """The ser2net program (in /usr/sbin, off most users' PATH)."""
    found = shutil.which("ser2net") or shutil.which("ser2net", path="/usr/sbin:/sbin")
    if found is None:
        raise HarnessError(
            "ser2net is not installed: scripts/test installs it (apt-get install ser2net)"
        )
    return found


def _sockets(port: int, state: str) -> int:
    """How many sockets on 127.0.0.1:``port`` are in ``state`` (read from /proc: a test
    connection would make ser2net open the device, and its close would hold it a moment)."""
    wanted = f"0100007F:{port:04X}"
    with open("/proc/net/tcp") as table:
        next(table)
        return sum(
            1 for line in table if (fields := line.split())[1] == wanted and fields[3] == state
        )


class Ser2net:
    """ser2net serving ``device`` on a free loopback port: over RFC 2217 with ``telnet`` (with
    ``rfc2217`` false, Telnet without RFC 2217's COM port control), else as raw TCP; ``banner`` is sent to each client on connect. :meth:`stop` and
    :meth:`start` restart it on the same port; :meth:`freeze` stops it (``SIGSTOP``: the
    kernel still accepts connections, nothing answers) until :meth:`thaw`."""

    def __init__(
        self,
        device: str,
        workdir: Path,
        *,
        telnet: bool = True,
        rfc2217: bool = True,
        banner: str = "",
    ) -> None:
        self.device = device
        self.telnet = telnet
        self.port = free_port()
        self.workdir = workdir
        self.config = workdir / f"ser2net-{self.port}.yaml"
        accepter = ("telnet(rfc2217),tcp" if rfc2217 else "telnet,tcp") if telnet else "tcp"
        lines = [
            "connection: &port",
            f"  accepter: {accepter},127.0.0.1,{self.port}",
            f"  connector: serialdev,{device},9600n81,local",
            "  options:",
            "    mdns: false",
        ]
        if banner:
            lines.append(f'    banner: "{banner}"')
        self.config.write_text("\n".join(lines) + "\n")
        self.proc: subprocess.Popen[bytes] | None = None
        self.start()

    @property
    def bare_url(self) -> str:
        scheme = "rfc2217" if self.telnet else "socket"
        return f"{scheme}://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """What sensord opens (see the module docstring for ``?ign_set_control``)."""
        return self.bare_url + ("?ign_set_control" if self.telnet else "")

    def start(self) -> None:
        """Run ser2net and wait until it listens."""
        log = (self.workdir / f"ser2net-{self.port}.log").open("ab")
        try:
            self.proc = popen(
                [
                    ser2net_binary(),
                    "-d",  # foreground, its log on standard output
                    "-u",  # no UUCP lock files in /var/lock
                    "-P",
                    str(self.workdir / f"ser2net-{self.port}.pid"),
                    "-c",
                    str(self.config),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        finally:
            log.close()
        deadline = time.monotonic() + 10.0
        while not _sockets(self.port, _LISTEN):
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise HarnessError(f"ser2net did not start (see {log.name})")
            time.sleep(0.02)

    def stop(self) -> None:
        """End ser2net (SIGTERM): its connections close, new ones are refused. Idempotent."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        os.kill(proc.pid, signal.SIGCONT)  # a frozen ser2net could not end
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def connections(self) -> int:
        """The clients connected to ser2net's port, accepted by ser2net or only by the kernel
        (while ser2net is frozen)."""
        return _sockets(self.port, _ESTABLISHED)

    def freeze(self) -> None:
        if self.proc is not None:
            os.kill(self.proc.pid, signal.SIGSTOP)

    def thaw(self) -> None:
        if self.proc is not None:
            os.kill(self.proc.pid, signal.SIGCONT)

    def close(self) -> None:
        self.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
