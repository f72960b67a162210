"""What a sensor reads: its device's serial port, a simulation of the device that sends the
same bytes (``sim://``, or ``simulate`` standing in for a device path that is absent), or the
replay of a capture file.

``wants_simulation`` decides at a sensor's (or a Modbus bus's) start whether it reads a
simulation, ``log_simulated_absent_device`` tells that a device path was absent and is
simulated, ``make_source`` builds the source a sensor opens (``SensorRuntime.new_source``, at
each open) and ``make_device`` the simulated device behind a simulated source (also
``sensord simulate``'s).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, MutableMapping, Sequence

from structlog.typing import FilteringBoundLogger

from sensord.config_sensor import SensorConfig
from sensord.formats.base import DeviceModel
from sensord.ports import dangling_link
from sensord.reopen import DEVICE_WATCH_S
from sensord.sources.base import Source
from sensord.sources.replay import ReplaySource
from sensord.sources.serial_port import SerialSource
from sensord.sources.simulated import RequestModel, SimulatedDevice, SimulatedSource

__all__ = ["log_simulated_absent_device", "make_device", "make_source", "wants_simulation"]


def wants_simulation(config: SensorConfig) -> bool:
    """True when the sensor should read a simulated port when it starts: a ``sim://`` port,
    ``simulate = "always"``, or ``simulate = "auto"`` with a device path that does not exist.
    A Modbus device is simulated on a simulated bus: a ``sim://`` one, or its bus's device
    path absent with ``simulate = "auto"`` when the bus starts (the configuration refuses
    ``"always"`` for any other port)."""
    return (
        config.address.is_simulated
        or config.simulate == "always"
        or (
            config.simulate == "auto"
            and config.address.is_device
            and not os.path.exists(config.port)
        )
    )


def log_simulated_absent_device(
    logger: FilteringBoundLogger, port: str, url: str, bus_devices: Sequence[str] = ()
) -> None:
    """Warn that a sensor (or a Modbus bus: ``bus_devices``, its devices' sensors) whose
    device path ``port`` was absent at start reads the simulation ``url`` instead (``simulate
    = "auto"``): its readings are made up until the path is there (the daemon looks for it
    every :data:`DEVICE_WATCH_S`). A ``port`` that is a dangling link is told as ``sensord
    check`` tells it (:func:`sensord.ports.dangling_link`)."""
    link: dict[str, str] = {}
    if os.path.islink(port) and not os.path.exists(port):
        link["error"] = dangling_link(port, os.path.realpath(port), "auto", bus_devices)
    logger.warning(
        "device absent: simulating it",
        port=port,
        simulated_port=url,
        **link,
        hint="the readings are simulated, not the device's, until this path is there (sensord "
        f'looks for it every {DEVICE_WATCH_S:g} s); simulate = "never" waits for the device '
        "instead",
    )


def make_source(
    config: SensorConfig,
    clock: Callable[[], float] = time.monotonic,
    *,
    simulated: bool,
    flash: MutableMapping[str, int] | None = None,
) -> Source:
    """The source for a sensor: its serial port, a simulated port producing the same bytes, or
    the replay of a capture file. ``flash``: what the simulated device keeps over power cycles
    (:func:`make_device`)."""
    if config.address.is_replay:
        return ReplaySource(
            config.name,
            config.port,
            config.address.path,
            speed=config.replay.speed,
            loop=config.replay.loop,
            clock=clock,
            writes=not config.is_modbus,
        )
    if simulated:
        device = make_device(config, clock(), flash=flash)
        url = config.port if config.address.is_simulated else f"sim://{config.name}"
        return SimulatedSource(config.name, url, device, clock=clock)
    return SerialSource(
        config.name, config.port, config.serial.settings(), simulate=config.simulate
    )


def make_device(
    config: SensorConfig,
    start_s: float,
    rate_hz: float | None = None,
    *,
    flash: MutableMapping[str, int] | None = None,
) -> SimulatedDevice:
    """The simulated device of a sensor: it sends the sensor's frames at ``rate_hz`` (default
    its sampling rate) and answers what is written to it like the device: a preset's device
    its commands, another device each poll request and each set-up command written as bytes
    (with the first reply the command expects). ``flash`` is a preset's device's memory that
    outlives a power cycle (an SDS011's settings, :class:`~sensord.formats.presets.PresetDevice`):
    a device made again on the same one starts with what was stored in it; None: a device as
    it left the factory."""
    model: DeviceModel | None = None
    replies = {
        command.command: command.replies[0] if command.replies else b""
        for command in config.setup
        if not isinstance(command, str)
    }
    if config.preset is not None:
        from sensord.formats.presets import PresetDevice  # noqa: PLC0415  (loaded by a sensor with a preset)

        model = PresetDevice(config.preset, flash)
    elif config.poll is not None or replies:
        requests = config.poll_requests() if config.poll is not None else ()
        model = RequestModel(requests, replies)
    return SimulatedDevice(
        config.format_spec(),
        config.signal_specs(),
        rate_hz if rate_hz is not None else config.sampling_rate_hz,
        config.terminator,
        config.simulation_spec(),
        start_s,
        model=model,
    )
