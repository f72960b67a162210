"""A daemon whose log stream is gone: started with stderr closed (``2>&-``) or on a stream
that refuses every write (``2>/dev/full``), it reads its sensors and serves ``/metrics`` all
the same, counts the lines it could not write, and no device it opens takes the place of a
closed standard descriptor. In a sandbox that denies the writes it makes without blocking
(``pwritev2``), it writes its lines with plain writes."""

from __future__ import annotations

import os
import platform
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from harness.common import wait_for
from harness.config import sensor_toml
from harness.daemon import StartDaemon, sensord_cli
from harness.pty import PtyPair

#: The shell redirections the daemon is started with, and what its descriptors 0, 1 and 2
#: are then (those of the test's daemon otherwise: stdin, the log file, the log file).
REDIRECTIONS = {
    "stderr closed": ("2>&-", {2: os.devnull}),
    "all three closed": ("<&- >&- 2>&-", {0: os.devnull, 1: os.devnull, 2: os.devnull}),
    "stderr full": ("2>/dev/full", {2: "/dev/full"}),
}


@pytest.mark.parametrize("redirection", list(REDIRECTIONS))
def test_a_daemon_without_a_log_stream_reads_serves_and_counts_its_lines(
    start_daemon: StartDaemon, pty_pair: PtyPair, redirection: str
) -> None:
    """The daemon runs on a pty as with a log stream: its frames on ``/metrics``, the log
    lines it logs (its start, a sensor's state, a SIGUSR1's warning) counted in
    ``sensord_log_lines_dropped_total``, a SIGTERM ends it with 0. A closed descriptor is
    ``/dev/null`` from the start: the serial port, opened after it, is not on 0, 1 or 2."""
    shell, expected = REDIRECTIONS[redirection]
    daemon = start_daemon(
        config=sensor_toml("probe", pty_pair.path, rate_hz=None),
        command_prefix=["sh", "-c", f'exec "$@" {shell}', "sh"],
    )
    daemon.wait_http()
    daemon.wait_up_settled()
    for value in range(5):
        pty_pair.write(f"{value}.5\n".encode())
    daemon.wait_frames({"probe": 5})
    fds = {
        int(fd): os.readlink(f"/proc/{daemon.pid}/fd/{fd}")
        for fd in os.listdir(f"/proc/{daemon.pid}/fd")
    }
    assert {fd: fds[fd] for fd in expected} == expected
    port = [fd for fd, target in fds.items() if Path(target) == Path(pty_pair.path)]
    assert port
    assert min(port) > 2, fds
    before = daemon.scrape().value("sensord_log_lines_dropped_total")
    assert before >= 2  # "sensord started", the sensor's state and more
    daemon.signal(signal.SIGUSR1)  # a warning line: nothing to capture
    wait_for(
        lambda: daemon.scrape().value("sensord_log_lines_dropped_total") > before,
        5.0,
        "the SIGUSR1 line counted",
    )
    counted = daemon.scrape().value("sensord_log_lines_dropped_total")
    assert daemon.status()["log_lines_dropped"] >= counted
    shown = sensord_cli("status", "--url", daemon.base_url)
    assert shown.returncode == 0, shown.stderr
    assert " log lines dropped (the log stream did not take them)" in shown.stdout
    assert daemon.stop() == 0


def test_the_status_of_workers_without_a_log_stream_counts_the_lines_of_them_all(
    start_daemon: StartDaemon,
) -> None:
    """``--workers 2`` started with stderr closed: the workers find it closed too, count
    their lines, and ``/status`` tells of the primary's and theirs."""
    daemon = start_daemon(
        ["--workers", "2"],
        config=sensor_toml("a", "sim://a", rate_hz=5) + sensor_toml("b", "sim://b", rate_hz=5),
        command_prefix=["sh", "-c", 'exec "$@" 2>&-', "sh"],
    )
    daemon.wait_http(15.0)
    daemon.wait_state("up", timeout_s=15.0)
    scrape = daemon.scrape()
    primary = scrape.value("sensord_log_lines_dropped_total", worker="primary")
    workers = [
        scrape.value("sensord_log_lines_dropped_total", worker=str(index)) for index in (0, 1)
    ]
    assert primary > 0
    assert all(n > 0 for n in workers), workers
    assert daemon.status()["log_lines_dropped"] >= primary + sum(workers)
    assert daemon.stop() == 0


#: The system call number of ``pwritev2`` and the audit architecture of the machine's, for the
#: seccomp filter of :data:`DENY_PWRITEV2`.
PWRITEV2 = {"x86_64": (328, 0xC000003E), "aarch64": (287, 0xC00000B7)}

#: A daemon's prelude that puts it in a sandbox as a container's seccomp filter does: from the
#: main thread on, before any other starts (threads inherit it), ``pwritev2`` fails with
#: EPERM; any other system call is let through. It checks that the filter is in force.
DENY_PWRITEV2 = """
import ctypes, errno, os
NR, ARCH = {nr}, {arch}
class Filter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint16), ("jt", ctypes.c_uint8), ("jf", ctypes.c_uint8),
                ("k", ctypes.c_uint32)]
class Program(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(Filter))]
LOAD, JEQ, RET = 0x20, 0x15, 0x06  # BPF_LD|BPF_W|BPF_ABS, BPF_JMP|BPF_JEQ|BPF_K, BPF_RET|BPF_K
ALLOW, DENY = 0x7FFF0000, 0x00050000 | errno.EPERM  # SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO
code = (Filter * 6)(
    Filter(LOAD, 0, 0, 4), Filter(JEQ, 0, 3, ARCH),  # seccomp_data.arch
    Filter(LOAD, 0, 0, 0), Filter(JEQ, 0, 1, NR),  # seccomp_data.nr
    Filter(RET, 0, 0, DENY), Filter(RET, 0, 0, ALLOW),
)
libc = ctypes.CDLL(None, use_errno=True)
program = Program(len(code), code)
if libc.prctl(38, 1, 0, 0, 0) or libc.prctl(22, 2, ctypes.byref(program), 0, 0):
    raise SystemExit(f"seccomp: {{os.strerror(ctypes.get_errno())}}")
r, w = os.pipe()
try:
    os.pwritev(w, [b"x"], -1, os.RWF_NOWAIT)
except PermissionError:
    pass
else:
    raise SystemExit("seccomp: pwritev2 not denied")
os.close(r)
os.close(w)
"""


def _read_until(fd: int, needle: bytes, timeout_s: float = 10.0) -> bytes:
    received = b""
    deadline = time.monotonic() + timeout_s
    while needle not in received:
        left = deadline - time.monotonic()
        assert left > 0, f"no {needle!r} within {timeout_s}s: {received[-300:]!r}"
        if select.select([fd], [], [], left)[0]:
            data = os.read(fd, 65536)
            assert data, f"the stream ended before {needle!r}: {received[-300:]!r}"
            received += data
    return received


def _seccomp_refused(prelude: str) -> str | None:
    """Why the machine does not put a process in the sandbox of ``prelude`` (a kernel without
    seccomp filters refuses it, EINVAL; a filter that does not apply to this interpreter lets
    ``pwritev2`` through), or None when it does: the prelude is run alone first."""
    done = subprocess.run(
        [sys.executable, "-c", prelude], capture_output=True, text=True, timeout=30, check=False
    )
    lines = done.stderr.strip().splitlines()
    if done.returncode == 0:
        return None
    assert lines, f"the prelude exited {done.returncode} without a word"
    assert lines[-1].startswith("seccomp: "), done.stderr
    return lines[-1]


@pytest.mark.skipif(platform.machine() not in PWRITEV2, reason="pwritev2's number here unknown")
def test_a_sandbox_that_denies_pwritev2_gets_every_line_by_plain_writes(
    start_daemon: StartDaemon,
) -> None:
    """A daemon under a real seccomp filter that answers ``pwritev2`` with EPERM, its log a
    pipe (the writes it makes without blocking): its lines reach the pipe, a SIGUSR1's too,
    none is dropped. A kernel without seccomp filters skips it."""
    nr, arch = PWRITEV2[platform.machine()]
    prelude = DENY_PWRITEV2.format(nr=nr, arch=arch)
    if (refused := _seccomp_refused(prelude)) is not None:
        pytest.skip(f"no seccomp sandbox here: {refused}")
    read_end, write_end = os.pipe()
    try:
        daemon = start_daemon(
            config=sensor_toml("sim", "sim://sandboxed", rate_hz=20),
            stderr=write_end,
            python_prelude=prelude,
        )
        os.close(write_end)
        write_end = -1
        received = _read_until(read_end, b'"msg": "ready"')
        daemon.signal(signal.SIGUSR1)
        received += _read_until(read_end, b"SIGUSR1")
        assert b"sensord started" in received
        assert daemon.scrape().value("sensord_log_lines_dropped_total") == 0
        assert daemon.stop() == 0
        received += _read_until(read_end, b"sensord stopped")
    finally:
        if write_end >= 0:
            os.close(write_end)
        os.close(read_end)
