"""Which of a reader's ports reach one network peer.

Two ports whose connections reached the same host and port in this run are one gateway or
serial server named two ways (a host name and its address, ``socket://`` and
``modbus-tcp://`` to one port), which ``sensord check`` cannot always tell: the name resolves
only here and now. :class:`SharedPeers` is told of each connection a port made and of each
port that left the reader; it warns once per pair of ports, naming both and their sensors,
with the fix for two Modbus buses (:data:`SHARED_PEER_HINT`: one bus) or for a sensor's own
port (:data:`SHARED_PEER_SENSOR_HINT`: one sensor), and keeps each sensor's ``peer_shared``
(the ``sensord_port_peer_shared`` gauge). It runs at opens, adds and removals, never per
chunk.
"""

from __future__ import annotations

from collections.abc import Container, Iterable, Mapping

import structlog

from sensord.sensor import SensorRuntime

__all__ = ["SHARED_PEER_HINT", "SHARED_PEER_SENSOR_HINT", "SharedPeers"]

log = structlog.get_logger("sensord.reader_peers")

#: Why two ports whose connections reached one peer are told of (``SharedPeers.reached``).
SHARED_PEER_HINT = (
    "each of these ports opens a connection of its own to the same peer (a host name and "
    "its address, or socket:// and modbus-tcp:// to one port, are two ports): a gateway "
    "that serves one client at a time takes the connection of one for the other's (closes, "
    "refused opens), one that serves several passes the requests of both to its serial line "
    "over each other, and a port of it speaks one protocol (Modbus TCP, or the serial bytes "
    "of RTU over TCP), so the other gets no answer; write the port the same way for every "
    "device behind it, so that they share one connection as a bus"
)

#: Why two ports whose connections reached one peer are told of, when one of them is a
#: sensor's own (not a Modbus bus): written alike, they would be two sensors on one port.
SHARED_PEER_SENSOR_HINT = (
    "each of these ports opens a connection of its own to the same peer (a host name and "
    "its address are two ports): a serial server that serves one client at a time takes "
    "the connection of one for the other's (closes, refused opens), and one that serves "
    "several passes what each writes to its device over the other's; a device is read by "
    "one sensor: read the values it sends as channels of one sensor, its port written once"
)


class SharedPeers:
    """The peers a reader's ports reached in this run (see the module docstring).

    ``sensors``: the reader's sensors by name (devices on a bus included), read as they are
    at each call; ``buses``: the names of its buses' ports, likewise."""

    def __init__(self, sensors: Mapping[str, SensorRuntime], buses: Container[str]) -> None:
        self._sensors = sensors
        self._buses = buses
        #: the ports (by name) whose connections reached each peer in this run
        self._peers: dict[tuple[str, int], set[str]] = {}
        #: the pairs of ports told of for reaching one peer
        self._told: set[frozenset[str]] = set()

    def reached(self, name: str, peer: tuple[str, int]) -> None:
        """Port ``name``'s connection reached ``peer`` (at an open): another port whose
        connection reached it too in this run is warned of, once per pair."""
        names = self._peers.setdefault(peer, set())
        host = f"[{peer[0]}]" if ":" in peer[0] else peer[0]  # an IPv6 address
        for other in sorted(names - {name}):
            pair = frozenset((name, other))
            if pair in self._told:
                continue
            self._told.add(pair)
            port, sensors = self._entries(name)
            other_port, other_sensors = self._entries(other)
            buses = name in self._buses and other in self._buses
            log.warning(
                "two ports reach one peer",
                peer=f"{host}:{peer[1]}",
                port=port,
                sensors=sensors,
                other_port=other_port,
                other_sensors=other_sensors,
                hint=SHARED_PEER_HINT if buses else SHARED_PEER_SENSOR_HINT,
            )
        names.add(name)
        self.mark()

    def _entries(self, name: str) -> tuple[str, list[str]]:
        """The port as configured of the port ``name`` (a sensor's, or a bus's), and the
        sensors that read it."""
        sensors = [s for s in self._sensors.values() if (s.bus_key or s.name) == name]
        return (sensors[0].config.port if sensors else name), [s.name for s in sensors]

    def left(self, name: str) -> None:
        """The port ``name`` left the reader: no peer is reached by it any more."""
        for names in self._peers.values():
            names.discard(name)
        self._told = {pair for pair in self._told if name not in pair}
        self.mark()

    def mark(self, sensors: Iterable[SensorRuntime] | None = None) -> None:
        """Each sensor's ``peer_shared`` (of ``sensors``; None: every sensor's): whether its
        port (or bus) is one of a pair told of by ``reached``. Run at an open and a removal
        for every sensor, at an add for the sensor added (the others' pairs are as they
        were)."""
        shared = {name for pair in self._told for name in pair}
        for sensor in self._sensors.values() if sensors is None else sensors:
            sensor.peer_shared = (sensor.bus_key or sensor.name) in shared
