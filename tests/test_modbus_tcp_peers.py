"""One gateway reached by more than one of sensord's connections, and what a gateway that
served a connection before says when it refuses the next: the real daemon, or a real reader
loop, in front of a pymodbus Modbus TCP server behind the loopback relay
(``harness.tcp_relay``)."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest
from harness.common import wait_for
from harness.config import write_atomically
from harness.daemon import StartDaemon
from harness.modbus import ModbusServer
from harness.tcp_relay import TcpRelay

pytestmark = pytest.mark.slow


def gateway_device_toml(url: str, *, max_delay_s: float) -> str:
    return f"""
[[sensors]]
name = "meter"
port = "{url}"
format = "modbus"
modbus = {{ unit = 1, interval_s = 0.2, timeout_s = 0.3 }}
registers = [{{ name = "v", table = "input", address = 0 }}]
channels = [{{ name = "v" }}]
reconnect = {{ initial_delay_s = 0.2, max_delay_s = {max_delay_s} }}
"""


def test_a_gateway_that_refuses_after_a_reload_rebuilt_its_bus_served_one_before(
    tmp_path: Path, start_daemon: StartDaemon
) -> None:
    """A reload that changes every device of a bus (here its only one's reconnect backoff)
    builds the bus anew, whose first connection a one-client gateway may refuse: it has not
    yet freed the slot of the connection the old bus just closed (a Moxa NPort resets its
    port for a second or two), or another client took the slot meanwhile
    (https://github.com/home-assistant/core/issues/149494: a FEMS that serves one Modbus TCP
    client). The refusal of the new bus said "nothing listens at HOST:PORT; check that the
    serial server (ser2net) or gateway runs there, and the port number", which the
    connection that worked a second before belies: the gateway that accepted a connection
    before in this run is known by its host and port across the rebuild, and the new bus's
    refusal says so."""
    with ModbusServer([1], "tcp") as server, TcpRelay(server.port) as relay:
        server.set(1, "input", 0, [11])
        config = tmp_path / "sensord.toml"
        write_atomically(config, gateway_device_toml(relay.url(), max_delay_s=2.0))
        daemon = start_daemon(["--config", str(config)])
        daemon.wait_http()
        daemon.wait_state("up", ["meter"], timeout_s=10)
        relay.refuse()  # the gateway's slot is taken: it refuses every new connection
        write_atomically(config, gateway_device_toml(relay.url(), max_delay_s=3.0))
        daemon.signal(signal.SIGHUP)
        wait_for(lambda: bool(daemon.events("configuration reloaded")), 10, "the reload")
        assert daemon.events("configuration reloaded")[0]["restarted"] == ["meter"]
        daemon.wait_state("down", ["meter"], timeout_s=10)
        address = relay.url().removeprefix("modbus-tcp://")
        error = daemon.status()["sensors"]["meter"]["last_error"]
        assert error.endswith(
            f"Connection refused: {address} accepted a connection before in this run: a "
            "gateway or serial server that serves one client (or a few) refuses more while "
            "they are taken (another client: a second sensord, a SCADA system, a "
            "configuration tool; or an earlier connection of this host's it has not seen "
            "end), or it is restarting"
        ), error
        relay.listen()
        daemon.wait_state("up", ["meter"], timeout_s=10)
        assert daemon.stop() == 0
