"""The real daemon at its open-files limit (RLIMIT_NOFILE, systemd's LimitNOFILE=): more
ports than descriptors."""

from __future__ import annotations

import resource
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from harness.common import wait_for
from harness.config import sensor_toml
from harness.daemon import StartDaemon, http_get

pytestmark = pytest.mark.slow

#: The daemon's open-files limit in these tests: room for a score of ports beside what the
#: interpreter, the reader, HTTP and the log hold, and the descriptors left to HTTP.
NOFILE = 48
PORTS = 40
#: reopens at most a second apart, so that the ports open soon after the limit is raised
RECONNECT = "reconnect = { max_delay_s = 1.0 }"


@contextmanager
def serial_servers(count: int) -> Iterator[tuple[list[int], list[socket.socket]]]:
    """``count`` TCP listeners on loopback, as serial servers: (their ports, the connections
    accepted so far, in order)."""
    listeners = [socket.create_server(("127.0.0.1", 0)) for _ in range(count)]
    accepted: list[socket.socket] = []

    def accept(listener: socket.socket) -> None:
        while True:
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                return

    threads = [threading.Thread(target=accept, args=(s,), daemon=True) for s in listeners]
    for thread in threads:
        thread.start()
    try:
        yield [s.getsockname()[1] for s in listeners], accepted
    finally:
        for sock in listeners:
            sock.shutdown(socket.SHUT_RDWR)
            sock.close()
        for thread in threads:
            thread.join(2.0)
        for sock in accepted:
            sock.close()


def test_ports_past_the_open_files_limit_leave_http_answering(start_daemon: StartDaemon) -> None:
    """Ports past the limit are down with a reason that names it and LimitNOFILE=, while
    /healthz and /status answer on new connections, the ports that opened read, and nothing
    spins; once the limit is raised, every port opens."""
    with serial_servers(PORTS) as (ports, accepted):
        config = "".join(
            sensor_toml(f"s{i}", f"socket://127.0.0.1:{port}", extra=RECONNECT, rate_hz=None)
            for i, port in enumerate(ports)
        )
        daemon = start_daemon(
            config=config, command_prefix=["prlimit", f"--nofile={NOFILE}:{4 * NOFILE}"]
        )
        daemon.wait_http()

        def settled() -> bool:
            sensors = daemon.status()["sensors"].values()
            return all(s["state"] != "opening" for s in sensors)

        wait_for(settled, 10.0, "every port opened or down")
        for _ in range(20):  # each on a connection of its own
            assert http_get(daemon.port, "/healthz", timeout_s=2.0)[1]
        sensors = daemon.status()["sensors"]
        up = [n for n, s in sensors.items() if s["state"] == "up"]
        down = [s for s in sensors.values() if s["state"] == "down"]
        assert up
        assert down
        assert f"limit of {NOFILE} open files" in down[0]["last_error"]
        assert "LimitNOFILE=" in down[0]["last_error"]
        daemon.wait_up_settled(up)  # a line written right at an open would be cut
        for conn in list(accepted):
            conn.sendall(b"1.5\n")
        daemon.wait_frames(dict.fromkeys(up, 1))
        cpu, started = daemon.cpu_s(), time.monotonic()
        time.sleep(1.0)  # a loop that spins on the limit takes most of a core in it
        assert daemon.cpu_s() - cpu < 0.2 * (time.monotonic() - started)

        resource.prlimit(daemon.pid, resource.RLIMIT_NOFILE, (4 * NOFILE, 4 * NOFILE))
        daemon.wait_state("up", timeout_s=10.0, interval_s=0.2)
        assert daemon.stop() == 0
