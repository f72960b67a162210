"""One gateway reached by more than one of sensord's connections, and what a gateway that
served a connection before says when it refuses the next: the real daemon, or a real reader
loop, in front of a pymodbus Modbus TCP server behind the loopback relay
(``harness.tcp_relay``)."""

from __future__ import annotations

import signal
import time
from pathlib import Path
from typing import Any

import pytest
from harness.collector import RuntimesView
from harness.common import GreetingServer, wait_for
from harness.config import load_sensors, write_atomically
from harness.daemon import StartDaemon
from harness.modbus import ModbusServer, run_reader_until
from harness.tcp_relay import TcpRelay
from structlog.testing import capture_logs

from sensord.export import MetricsRegistry
from sensord.reader import Reader
from sensord.reader_peers import SHARED_PEER_HINT, SHARED_PEER_SENSOR_HINT
from sensord.sensor import SensorRuntime

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
            "configuration tool, another port of this configuration that names it otherwise, "
            "its host name and its address; or an earlier connection of this host's it has "
            "not seen end), or it is restarting"
        ), error
        relay.listen()
        daemon.wait_state("up", ["meter"], timeout_s=10)
        assert daemon.stop() == 0


def device(name: str, port: str, unit: int) -> dict[str, Any]:
    return {
        "name": name,
        "port": port,
        "format": "modbus",
        "modbus": {"unit": unit, "interval_s": 0.2, "timeout_s": 0.3},
        "registers": [{"name": "v", "table": "input", "address": 0}],
        "channels": [{"name": "v"}],
        "reconnect": {"initial_delay_s": 0.2, "max_delay_s": 0.5},
    }


def reached_by_two(
    first: str, second: str, *, gateways: int = 1
) -> tuple[list[Any], dict[str, bool], dict[str, bool]]:
    """Devices "a" (unit 1) on port ``first`` and "b" (unit 2) on ``second``, each with
    ``{port}`` for the port of a relay that serves one client at a time in front of a
    pymodbus Modbus TCP server (with ``gateways=2``, "b"'s is a second relay before the same
    server), read by a real reader loop for a second and until the relays accepted 4
    connections (two that take each other's connection) or 2 (two gateways): the log, whether
    each sensor's ``sensord_port_peer_shared`` is 1 then (with a device "c", unit 3, added
    to "b"'s bus), and a's once "b" and "c" were removed from the reader (a reload that wrote
    their port the other way)."""
    with (
        ModbusServer([1, 2], "tcp") as server,
        TcpRelay(server.port) as one,
        TcpRelay(server.port) as two,
    ):
        for relay in (one, two):
            relay.single_client = True
        other = one if gateways == 1 else two
        config = load_sensors(
            device("a", first.format(port=one.port), 1),
            device("b", second.format(port=other.port), 2),
        )
        runtimes = [SensorRuntime(sensor) for sensor in config.sensors]
        with capture_logs() as logs, Reader(runtimes) as reader:
            start = time.monotonic()
            run_reader_until(
                reader,
                lambda: (
                    one.accepted + two.accepted >= 2 * (3 - gateways)
                    and time.monotonic() - start > 1.0
                ),
                10.0,
            )
            value = MetricsRegistry(RuntimesView(runtimes), "0", 0).registry.get_sample_value
            value = MetricsRegistry(RuntimesView(runtimes), "0", 0).registry.get_sample_value
            shared = {
                r.name: value("sensord_port_peer_shared", {"sensor": r.name}) == 1 for r in runtimes
            }
            # a device added to b's bus (a reload), its connection kept: it shares the peer too
            added = SensorRuntime(load_sensors(device("c", config.sensors[1].port, 3)).sensors[0])
            reader.add(added)
            value = MetricsRegistry(RuntimesView([added]), "0", 0).registry.get_sample_value
            shared["c"] = value("sensord_port_peer_shared", {"sensor": "c"}) == 1
            reader.remove("b")
            reader.remove("c")
            value = MetricsRegistry(RuntimesView(runtimes[:1]), "0", 0).registry.get_sample_value
            left = {"a": value("sensord_port_peer_shared", {"sensor": "a"}) == 1}
    return list(logs), shared, left


@pytest.mark.parametrize(
    "second",
    ["modbus-tcp://127.0.0.1:{port}", "socket://127.0.0.1:{port}"],
    ids=["name-and-address", "name-and-address-rtu-over-tcp"],
)
def test_two_ports_that_reach_one_gateway_are_told_of_naming_both(second: str) -> None:
    """One gateway named by its host name on one device and by its address on another
    (``localhost`` and ``127.0.0.1``) is two ports to ``sensord check``, which cannot
    resolve names (the DNS may be down when it runs, and a name may resolve elsewhere
    later): two buses, each with a connection of its own, and a gateway that serves one
    client takes the connection of one for the other's at every poll, as two masters do
    (https://github.com/openhab/openhab1-addons/issues/658: a binding that kept a connection
    per slave entry to one IP:PORT; https://github.com/argonne-vci/node-red-contrib-modbustcp
    /issues/35: two nodes to one LOGO! PLC, "connections starts to break"). The reader
    compares the address each connection reached (its peer, the name resolved) and warns
    once, naming both ports and their sensors; also when the second port speaks RTU over
    TCP (``socket://``) to it, which a Modbus TCP port does not answer."""
    logs, shared, left = reached_by_two("modbus-tcp://localhost:{port}", second)
    assert shared == {"a": True, "b": True, "c": True}
    assert left == {"a": False}  # the other port gone: one connection to the peer
    warned = [e for e in logs if e["event"] == "two ports reach one peer"]
    assert len(warned) == 1, warned
    (warning,) = warned
    assert warning["log_level"] == "warning"
    ports = {
        (warning["port"], tuple(warning["sensors"])),
        (warning["other_port"], tuple(warning["other_sensors"])),
    }
    port = warning["peer"].rsplit(":", 1)[1]
    assert warning["peer"] == f"127.0.0.1:{port}"
    assert ports == {
        (f"modbus-tcp://localhost:{port}", ("a",)),
        (second.format(port=port), ("b",)),
    }
    assert warning["hint"] == SHARED_PEER_HINT


def test_two_gateways_at_one_address_are_not_told_of() -> None:
    """Two gateways (two ports of one host: the relays here, a serial server's ports 4001 and
    4002) are two peers: nothing is told."""
    logs, shared, _ = reached_by_two(
        "modbus-tcp://localhost:{port}", "modbus-tcp://127.0.0.1:{port}", gateways=2
    )
    assert [e for e in logs if e["event"] == "two ports reach one peer"] == []
    assert shared == {"a": False, "b": False, "c": False}


def test_two_sensors_that_reach_one_serial_server_are_told_to_be_one_sensor() -> None:
    """Two sensors of their own (no Modbus bus) on one serial server, named by its host name
    and by its address: the config cannot join them (two sensors on one port written alike
    are refused), so the warning does not say to write the port the same way for one bus,
    but to read the device's values as channels of one sensor. (It gave the buses' hint.)"""
    with GreetingServer(b"21.5\n") as server:
        port = server.url.rsplit(":", 1)[1]
        table = {
            "format": "value",
            "simulate": "never",
            "channels": [{"name": "v"}],
            "reconnect": {"initial_delay_s": 0.2, "max_delay_s": 0.5},
        }
        config = load_sensors(
            table | {"name": "a", "port": f"socket://localhost:{port}"},
            table | {"name": "b", "port": f"socket://127.0.0.1:{port}"},
        )
        runtimes = [SensorRuntime(sensor) for sensor in config.sensors]
        with capture_logs() as logs, Reader(runtimes) as reader:
            run_reader_until(reader, lambda: all(r.state == "up" for r in runtimes), 10.0)
    warned = [e for e in logs if e["event"] == "two ports reach one peer"]
    assert len(warned) == 1, warned
    (warning,) = warned
    assert {warning["port"], warning["other_port"]} == {
        f"socket://localhost:{port}",
        f"socket://127.0.0.1:{port}",
    }
    assert warning["hint"] == SHARED_PEER_SENSOR_HINT
    assert "as a bus" not in warning["hint"]
