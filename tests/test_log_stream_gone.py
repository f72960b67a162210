"""A daemon whose log stream is gone: started with stderr closed (``2>&-``) or on a stream
that refuses every write (``2>/dev/full``), it reads its sensors and serves ``/metrics`` all
the same, counts the lines it could not write, and no device it opens takes the place of a
closed standard descriptor."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest
from harness.common import wait_for
from harness.config import sensor_toml
from harness.daemon import StartDaemon
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
    assert daemon.stop() == 0
