"""Sharding for ``sensord run --workers N``: which worker reads which sensor, and how a worker's
private HTTP server is set up. Shared by the primary (``sensord.workers``) and each worker
(``sensord.daemon``)."""

from __future__ import annotations

import json
import zlib

from sensord.config import Config
from sensord.config_sensor import SensorConfig
from sensord.config_tables import HttpConfig

__all__ = [
    "DEVICES_READ_ENV",
    "DEVICES_READ_FIELD",
    "DEVICES_READ_FILE",
    "HTTP_PORT_FIELD",
    "LOUD_EVERY_RESTARTS",
    "PRIMARY_BUILD_ENV",
    "PRIMARY_PID_ENV",
    "QUIET_AFTER_RESTARTS",
    "RELOADS_FIELD",
    "RESTARTS_IN_ROW_ENV",
    "STABLE_AFTER_S",
    "WORKER_SECRET_ENV",
    "WORKER_USER",
    "devices_read",
    "primary_pid",
    "restarts_in_row",
    "shard_key",
    "shard_of",
    "shard_sensors",
    "starts_quietly",
    "worker_http_config",
]

#: Tells a worker its primary's pid; a worker whose parent is no longer that process stops.
PRIMARY_PID_ENV = "SENSORD_PRIMARY_PID"
#: The digest of the package the primary runs (``sensord.build``): a worker that imported
#: another one (pip replaced the files as it started) stops before it reads anything.
PRIMARY_BUILD_ENV = "SENSORD_PRIMARY_BUILD"
#: The secret a worker's HTTP server asks of the primary (basic auth, user WORKER_USER).
WORKER_SECRET_ENV = "SENSORD_WORKER_SECRET"
WORKER_USER = "sensord-primary"
#: The device paths the run has read, as a JSON list: a worker started again gives a sensor
#: on one of them its device, never a simulation, even while its path is absent (unplugged).
DEVICES_READ_ENV = "SENSORD_DEVICES_READ"
#: A worker's restarts in a row (``Retry.failures`` of its restarts: starts that ended before
#: it was up STABLE_AFTER_S), told by the primary as it starts it (``starts_quietly``).
RESTARTS_IN_ROW_ENV = "SENSORD_WORKER_RESTARTS_IN_ROW"
#: Seconds a worker must stay up before an exit counts as a first failure again.
STABLE_AFTER_S = 30.0
#: Restarts in a row from which a worker starts quietly: its info lines of its first
#: STABLE_AFTER_S (its start, its sensors' first states, ``ready``) and the primary's
#: ``worker started`` are logged at debug level, but at every LOUD_EVERY_RESTARTS-th restart.
#: The primary's error line of each exit stays, and the restarts' metric and ``/status``.
QUIET_AFTER_RESTARTS = 3
LOUD_EVERY_RESTARTS = 10
#: The field of a worker's notification that tells the primary the device paths (a JSON
#: list) it has opened since it last told.
DEVICES_READ_FIELD = "X_SENSORD_DEVICES_READ"
#: The field of a worker's ``READY=1`` and ``WATCHDOG=1`` that tells the primary the reloads
#: it has applied since it started: a ping tells the end of a reload whose ``READY=1`` a full
#: notification queue dropped.
RELOADS_FIELD = "X_SENSORD_RELOADS"
#: The field of a worker's ``READY=1`` and ``WATCHDOG=1`` that tells the primary the port of
#: its HTTP server: a worker pings only once it sent ``READY=1``, so a ping from one the
#: primary still counts as starting ends that start, its ``READY=1`` dropped.
HTTP_PORT_FIELD = "X_SENSORD_HTTP_PORT"
#: The file beside the workers' copy of the configuration that holds the device paths the run
#: has read (a JSON list), written by the primary at each reload: a sensor the reload moves
#: onto a worker that never read its device waits for that device, as on the worker it left.
DEVICES_READ_FILE = "devices-read.json"


def starts_quietly(restarts_in_row: int) -> bool:
    """A worker started after ``restarts_in_row`` restarts in a row logs its start-up at debug
    level: one killed at each start (out of memory, a crash in a library) would otherwise log
    all of it at every restart, in fresh rate limits each time."""
    return restarts_in_row >= QUIET_AFTER_RESTARTS and restarts_in_row % LOUD_EVERY_RESTARTS != 0


def restarts_in_row(text: str | None) -> int:
    """The count of ``RESTARTS_IN_ROW_ENV``; 0 for a text that is not one."""
    try:
        return max(0, int(text or 0))
    except ValueError:
        return 0


def shard_of(sensor_name: str, workers: int) -> int:
    """The worker of a sensor: stable across reloads and restarts, so it keeps its window."""
    return zlib.crc32(sensor_name.encode()) % workers


def shard_key(sensor: SensorConfig) -> str:
    """What places a sensor: its name, or for a Modbus device the port of its bus, so that
    the devices of one bus share a worker (one process opens a port)."""
    return f"bus:{sensor.port}" if sensor.on_bus else sensor.name


def shard_sensors(config: Config, index: int, workers: int) -> tuple[SensorConfig, ...]:
    """The sensors of shard ``index`` of ``workers`` (possibly none)."""
    return tuple(s for s in config.sensors if shard_of(shard_key(s), workers) == index)


def worker_http_config(secret: str | None) -> HttpConfig:
    """A worker's HTTP server: loopback, an ephemeral port, plain HTTP, basic auth with the
    secret the primary made for this run. ``[http]`` (TLS, the site's credentials, the port)
    is the primary's alone, so a reload that changes it never moves a worker's server."""
    if not secret:
        return HttpConfig(listen="127.0.0.1", port=0, max_connections_per_client=64)
    return HttpConfig(
        listen="127.0.0.1",
        port=0,
        max_connections_per_client=64,  # the primary is its one client
        basic_auth_username=WORKER_USER,
        basic_auth_password=secret,
    )


def primary_pid(env: dict[str, str]) -> int | None:
    """The primary's pid that ``--workers`` passes to its workers, or None."""
    try:
        return int(env[PRIMARY_PID_ENV])
    except (KeyError, ValueError):
        return None


def devices_read(text: str | None) -> frozenset[str]:
    """The device paths of ``DEVICES_READ_ENV`` or ``DEVICES_READ_FIELD``'s JSON list; none for
    a text that is not one."""
    try:
        paths = json.loads(text) if text else []
    except ValueError:
        return frozenset()
    if not isinstance(paths, list):
        return frozenset()
    return frozenset(path for path in paths if isinstance(path, str))
