"""The whole file (``Config``) and its checks across sensors.

``Config`` holds the file's tables (``sensord.config_tables``); its check runs what no table
can tell alone: two sensors of one name, two sensors on one port (or on one network peer
written two ways, or in two protocols), the devices of a bus that differ in its settings or
share a unit id, and a frame spec's ``silence_s`` that the reader's passes could outlast.
"""

from __future__ import annotations

import contextlib
from typing import Any, ClassVar

from sensord.config_sensor import SensorConfig, _loaded_name
from sensord.config_tables import (
    CaptureConfig,
    HttpConfig,
    LogConfig,
    MetricsConfig,
    ReaderConfig,
    _duplicates,
)
from sensord.schema import Schema
from sensord.schema_fields import Section, SectionList, UnloadedFieldError

__all__ = ["Config"]


class Config(Schema):
    """The whole file."""

    #: a sensor's keys written above the first ``[[sensors]]`` are told to go below it
    _below_header: ClassVar[tuple[str, ...]] = ("sensors",)

    http = Section(HttpConfig)
    capture = Section(CaptureConfig)
    log = Section(LogConfig)
    metrics = Section(MetricsConfig)
    reader = Section(ReaderConfig)
    sensors = SectionList(
        SensorConfig,
        min_items=1,
        max_items=1024,
        keep_partial=True,
        when_missing="add a [[sensors]] table for each device ('sensord demo-config' prints "
        "an example)",
    )

    def check(self) -> list[tuple[str, str]]:
        return self.run_checks([self._sensors_problems])

    #: two sensors of one name are reported even when a sensor has errors of its own (its
    #: name loaded), and two on one port of the sensors that load
    check_partial = check

    def _sensors_problems(self) -> list[tuple[str, str]]:
        names = [_loaded_name(s) for s in self.sensors]
        problems = _duplicates("sensors", names, "name")
        complete = [(i, s) for i, s in enumerate(self.sensors) if s.complete]
        with contextlib.suppress(UnloadedFieldError):  # [reader]'s errors are told with it
            problems += _silence_problems(complete, self.reader.batch_interval_s)
        return problems + _port_problems(list(enumerate(self.sensors)))

    def sensor(self, name: str) -> SensorConfig:
        for sensor in self.sensors:
            if sensor.name == name:
                return sensor
        raise KeyError(name)


def _silence_problems(
    sensors: list[tuple[int, SensorConfig]], batch_interval_s: float
) -> list[tuple[str, str]]:
    """A frame spec's ``silence_s`` that a frame read in two of the reader's passes could
    outlast: the reader reads a port at most once per ``batch_interval_s`` (a frame may
    come in two reads that far apart, and more under load), and a frame takes its bytes'
    time on the line (11 bits a byte at most; of a frame spec with a length field, its
    smallest frame's)."""
    problems: list[tuple[str, str]] = []
    for i, sensor in sensors:
        frame = sensor.frame
        if frame is None or frame.silence_s is None:
            continue
        from sensord.formats.frames_layout import frame_length  # noqa: PLC0415  (loaded by a sensor of binary frames)

        size = frame_length(frame.spec())  # the fixed length, or the smallest frame
        on_line = size * 11 / sensor.serial.baudrate
        least = round(2 * batch_interval_s + on_line + 0.01, 3)
        if frame.silence_s < least:
            problems.append(
                (
                    f"sensors[{i}].frame.silence_s",
                    f"{frame.silence_s:g} s would cut frames: the reader reads a port every "
                    f"{batch_interval_s:g} s ([reader] batch_interval_s) and a {size}-byte "
                    f"frame takes {on_line * 1000:.1f} ms at {sensor.serial.baudrate} baud, so "
                    f"a frame may come in two reads that far apart; give at least {least:g} s, "
                    "and less than the device's own silence between frames",
                )
            )
    return problems


def _port_problems(sensors: list[tuple[int, SensorConfig]]) -> list[tuple[str, str]]:
    """Ports that the sensors (each with its index in the file) cannot share: Modbus devices
    on one port share it as a bus; any other port has one sensor. Each is judged among the
    sensors whose port and format loaded, and a bus's settings key by key among those in
    which the key loaded, so that a sensor's other errors do not hide it."""
    devices: list[str | None] = [None] * (sensors[-1][0] + 1 if sensors else 0)
    loaded: list[tuple[int, SensorConfig]] = []
    for i, s in sensors:
        devices[i] = _own_port(s)
        if _port_loaded(s):
            loaded.append((i, s))
    problems = [
        (key, f"{message} (two sensors cannot share one port{_PORT_TAKEN})")
        for key, message in _duplicates("sensors", devices, "port")
    ]
    return problems + _endpoint_problems(loaded) + _bus_problems(loaded)


#: What each network scheme carries to its host and port (``_endpoint_problems``).
_SCHEME_PROTOCOLS = {
    "modbus-tcp": "Modbus TCP",
    "socket": "the serial bytes as they are (RTU over TCP, for a Modbus device)",
    "rfc2217": "RFC 2217 (telnet)",
}


def _endpoint_problems(sensors: list[tuple[int, SensorConfig]]) -> list[tuple[str, str]]:
    """Network ports that name the same peer written two ways (``modbus-tcp://GW:502`` and
    ``modbus-tcp://gw:502/``): each would open a connection of its own, two Modbus buses on
    one gateway that serve their requests over each other, or take the connection from
    each other on a gateway that serves one client. Two schemes to one host and port
    (``socket://gw:502`` and ``modbus-tcp://gw:502``) are two protocols to one port, which
    speaks one of them: the other gets no answer. Of two sensors that are not both Modbus
    devices, either is told as two sensors on one port are (:func:`_one_peer_two_sensors`):
    written alike, they would be refused all the same. A host name and its address are told
    apart only by the daemon, which resolves them (``reader_peers.SharedPeers``)."""
    first: dict[tuple[str, int], int] = {}
    by_index = dict(sensors)
    problems: list[tuple[str, str]] = []
    for i, sensor in sensors:
        endpoint = sensor.address.endpoint
        if endpoint is None:
            continue
        scheme, host, port = endpoint
        j = first.setdefault((host, port), i)
        other = by_index[j]
        if not (sensor.is_modbus and other.is_modbus):
            if other.address.scheme != scheme or other.port != sensor.port:
                problems.append((f"sensors[{i}].port", _one_peer_two_sensors(sensor, other, j)))
        elif other.address.scheme != scheme:
            problems.append(
                (
                    f"sensors[{i}].port",
                    f"{sensor.port!r} speaks {_SCHEME_PROTOCOLS[scheme]} to the host and port "
                    f"that sensors[{j}] speaks {_SCHEME_PROTOCOLS[other.address.scheme]} to, "
                    f"as {other.port!r}: a port of a gateway or serial server speaks one of "
                    "them (its mode: Modbus TCP to RTU, or transparent), so the other gets no "
                    "answer, and one that serves one client takes the connection of one for "
                    "the other's; give both the scheme of that port's mode",
                )
            )
        elif other.port != sensor.port:
            problems.append(
                (
                    f"sensors[{i}].port",
                    f"{sensor.port!r} names the peer of sensors[{j}], written {other.port!r}: "
                    "write it the same way (each way of writing it opens a connection of "
                    "its own; Modbus devices on one port share one connection as a bus)",
                )
            )
    return problems


def _speaks(sensor: SensorConfig) -> str:
    """What ``sensor``'s network port carries (:data:`_SCHEME_PROTOCOLS`): a ``socket://``
    port's serial bytes are RTU frames for a Modbus device only."""
    scheme = sensor.address.scheme
    if scheme == "socket" and not sensor.is_modbus:
        return "the serial bytes as they are"
    return _SCHEME_PROTOCOLS.get(scheme, scheme)


def _one_peer_two_sensors(sensor: SensorConfig, other: SensorConfig, j: int) -> str:
    """Why ``sensor``'s network port, written otherwise than that of ``other`` (sensors[j])
    to the same host and port, is refused when they are not two Modbus devices of one bus:
    a serial server's port carries one device, which one sensor reads, and speaks one
    protocol (``socket://`` or ``rfc2217://``)."""
    scheme, other_scheme = sensor.address.scheme, other.address.scheme
    if scheme != other_scheme:
        what = (
            f"{sensor.port!r} speaks {_speaks(sensor)} to the host and port that sensors[{j}] "
            f"speaks {_speaks(other)} to, as {other.port!r}: a port of a serial server speaks "
            "one of them, so the other gets no answer"
        )
    else:
        what = (
            f"{sensor.port!r} names the peer of sensors[{j}], written {other.port!r}: each "
            "way of writing it opens a connection of its own"
        )
    return f"{what}; two sensors cannot share one port{_PORT_TAKEN}"


def _port_loaded(sensor: SensorConfig) -> bool:
    """Whether ``sensor``'s port and format loaded, which say whether it is on a bus."""
    try:
        return sensor.address is not None and isinstance(sensor.is_modbus, bool)
    except UnloadedFieldError:
        return False


#: What to do about two sensors (not Modbus devices of one bus) on one port.
_PORT_TAKEN = (
    ": give each sensor the port of its own device, or read the values one device sends as "
    "channels of one sensor"
)


def _own_port(sensor: SensorConfig) -> str | None:
    """The device port ``sensor`` holds alone: None for a simulated, replayed or Modbus
    port (a bus's), or when its port or format failed to load."""
    try:
        if sensor.address.is_simulated or sensor.address.is_replay or sensor.is_modbus:
            return None
        return sensor.port
    except UnloadedFieldError:
        return None


def _differences(path: str, mine: Any, theirs: Any) -> list[tuple[str, Any, Any]]:
    """``(key path, mine, theirs)`` for each setting in which two values of the key ``path``
    differ: a table's keys one by one (``serial.baudrate``), else the values themselves."""
    if mine == theirs:
        return []
    if isinstance(mine, Schema) and isinstance(theirs, Schema):
        ours, others = mine.as_dict(), theirs.as_dict()
        return [
            (f"{path}.{name}", ours[name], others[name])
            for name in ours
            if ours[name] != others.get(name)
        ]
    return [(path, mine, theirs)]


#: the settings that the devices of a bus share
_BUS_KEYS = ("serial", "reconnect", "simulate")


#: What to do about two devices of one bus at one unit id.
_UNIT_TAKEN = (
    ": each device on a port answers at its own unit id; set modbus.unit to the address this "
    "device is set to (by its DIP switches, its menu or its address register), or, when both "
    "sensors read one device, put their registers in one sensor"
)


def _bus_problems(sensors: list[tuple[int, SensorConfig]]) -> list[tuple[str, str]]:
    """Sensors that name one port form a bus: Modbus devices only, with distinct unit ids and
    the same line settings, reconnect backoff and ``simulate`` (the bus opens the port once,
    or simulates it)."""
    by_index = dict(sensors)
    problems: list[tuple[str, str]] = []
    first: dict[str, int] = {}
    units: dict[tuple[str, int], int] = {}
    #: the first device of each bus in which each shared key loaded, by (port, key)
    settled: dict[tuple[str, str], int] = {}
    for i, sensor in sensors:
        if (sensor.address.is_simulated and not sensor.is_modbus) or sensor.address.is_replay:
            continue
        j = first.setdefault(sensor.port, i)
        if j == i:
            if sensor.is_modbus:
                with contextlib.suppress(UnloadedFieldError):
                    units[(sensor.port, sensor.modbus_unit)] = i
                for key in _BUS_KEYS:
                    with contextlib.suppress(UnloadedFieldError):
                        getattr(sensor, key)
                        settled.setdefault((sensor.port, key), i)
            continue
        other = by_index[j]
        if not (sensor.is_modbus and other.is_modbus):
            if sensor.is_modbus or other.is_modbus:
                problems.append(
                    (
                        f"sensors[{i}].port",
                        f"{sensor.port!r} is already used by sensors[{j}] "
                        "(only Modbus devices share a port, as a bus)",
                    )
                )
            continue
        for key in _BUS_KEYS:
            try:
                value = getattr(sensor, key)
            except UnloadedFieldError:
                continue  # that key's own error is told
            k = settled.setdefault((sensor.port, key), i)
            if k == i:
                continue
            try:
                differences = _differences(key, value, getattr(by_index[k], key))
            except UnloadedFieldError:
                continue
            for path, mine, theirs in differences:
                problems.append(
                    (
                        f"sensors[{i}].{path}",
                        f"{mine!r} differs from {theirs!r}, the {path} of sensors[{k}], which "
                        f"opens the same bus {sensor.port}: the devices of a bus share its "
                        "settings",
                    )
                )
        try:
            unit = sensor.modbus_unit
        except UnloadedFieldError:
            continue
        k = units.setdefault((sensor.port, unit), i)
        if k != i:
            problems.append(
                (
                    f"sensors[{i}].modbus.unit",
                    f"{unit} is already used by sensors[{k}] on {sensor.port}{_UNIT_TAKEN}",
                )
            )
    return problems
