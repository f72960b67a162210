"""``sensord simulate``: the bytes a configured sensor's device would send, at its sampling
rate, written to a new pseudo-terminal (or stdout), which answers poll requests and a
preset's commands as the device does; for a Modbus sensor, every device of the config on its
port answering RTU requests on the pty; with ``--replay``, a capture file played on a pty."""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import select
import sys
import time

from sensord.cli_common import print_config_error
from sensord.cli_parser import given_options
from sensord.config import Config, load_config
from sensord.config_sensor import SensorConfig
from sensord.errors import EXIT_INVALID, EXIT_OK, EXIT_USAGE, ConfigError
from sensord.names import closest
from sensord.sensor_source import make_device
from sensord.sources.simulated import SimulatedDevice

__all__ = ["cmd_simulate"]


#: Why an option of ``sensord simulate`` does not apply to ``--replay``.
NOT_FOR_REPLAY = {
    "config": "-c applies to a simulated sensor, not to --replay, which plays the capture's "
    "bytes whatever the config says",
    "sensor": "--sensor applies to a simulated sensor, not to --replay, which plays the "
    "capture's bytes whatever the config says",
    "rate": "--rate applies to a simulated sensor, not to --replay, which plays at the "
    "capture's pace (--speed)",
    "stdout": "--stdout applies to a simulated sensor, not to --replay, which plays on a pty "
    "(a polled capture answers the requests written to it)",
}


#: Why an option of ``sensord simulate`` applies to ``--replay`` only.
ONLY_FOR_REPLAY = {
    "speed": "--speed applies to --replay (times the capture's pace); a simulated sensor sends "
    "at its sampling rate (--rate)",
    "loop": "--loop applies to --replay (start the capture over at its end); a simulated "
    "sensor sends until it is stopped",
}


def cmd_simulate(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    from sensord.demo import demo_config  # noqa: PLC0415  (a command's module: the daemon does not load it)
    from sensord.tools import device_pty, play_on_pty  # noqa: PLC0415  (a command's module: the daemon does not load it)

    if args.replay is not None:
        for key, why in NOT_FOR_REPLAY.items():
            if given_options((key, getattr(args, key))):
                parser.error(why)
        return play_on_pty(
            args.replay,
            link=args.link,
            speed=1.0 if args.speed is None else args.speed,
            loop=args.loop,
            seconds=args.seconds,
        )
    for key, why in ONLY_FOR_REPLAY.items():
        if given_options((key, getattr(args, key))):
            parser.error(why)
    if args.stdout and args.link is not None:
        parser.error("--link names the pty; with --stdout there is none")
    try:
        config = load_config(args.config) if args.config else demo_config()
    except ConfigError as exc:
        print_config_error(exc)
        return EXIT_INVALID
    if args.sensor:
        try:
            sensor = config.sensor(args.sensor)
        except KeyError:
            names = [s.name for s in config.sensors]
            close = closest(args.sensor, names)
            meant = f"; did you mean {close!r}?" if close else ""
            print(
                f"sensord: no sensor {args.sensor!r} in the config{meant} "
                f"(have: {', '.join(names)})",
                file=sys.stderr,
            )
            return EXIT_INVALID
    else:
        sensor = config.sensors[0]
    if sensor.is_modbus:
        given = " and ".join(given_options(("--stdout", args.stdout), ("--rate", args.rate)))
        if given:
            print(
                f"sensord: {sensor.name} is a Modbus device: it answers requests on a pty "
                f"({given} {'do' if ' and ' in given else 'does'} not apply)",
                file=sys.stderr,
            )
            return EXIT_USAGE
        return _simulate_bus(config, sensor, args)
    rate = sensor.sampling_rate_hz if args.rate is None else args.rate
    if not (math.isfinite(rate) and rate > 0):
        print(f"sensord: --rate must be a finite number > 0, got {args.rate:g}", file=sys.stderr)
        return EXIT_USAGE
    start = time.monotonic()
    device = make_device(sensor, start, rate)
    if args.rate is not None and not device.streaming:
        # a polled device (or an MH-Z19) sends a frame for each request only, at any --rate
        parser.error(
            f"--rate applies to a device that sends on its own; sensor {sensor.name!r} is "
            "polled: it answers each request with one frame"
        )
    if args.stdout:
        try:
            _play(device, sys.stdout.fileno(), -1, start, args.seconds)
        except KeyboardInterrupt:
            pass
        except BrokenPipeError:
            return EXIT_OK
    else:
        with device_pty(args.link) as (master, path):
            print(
                f"simulating sensor {sensor.name!r} ({sensor.format}, {rate:g} Hz) on {path}",
                flush=True,
            )
            if sensor.warmup_s:
                print(
                    f"a sensord reading {path} as {sensor.name!r} drops the first "
                    f"{sensor.warmup_s:g} s of frames (warmup_s), as from a device just powered "
                    "on; warmup_s = 0 in a copy of its [[sensors]] table skips that",
                    file=sys.stderr,
                    flush=True,
                )
            _play(device, master, master, start, args.seconds)
    print(_simulation_summary(sensor.name, device), file=sys.stderr, flush=True)
    return EXIT_OK


def _play(
    device: SimulatedDevice, out_fd: int, master: int, start: float, seconds: float | None
) -> None:
    """Write what ``device`` sends to ``out_fd`` until ``seconds``; what is written to
    ``master`` (a pty's, or -1) goes to the device."""
    while seconds is None or time.monotonic() - start < seconds:
        data = device.bytes_due(time.monotonic())
        if data:
            os.write(out_fd, data)
        wait = max(0.0, min(device.next_due_s() - time.monotonic(), 0.5))
        if master < 0:
            time.sleep(wait)
        elif select.select([master], [], [], wait)[0]:
            # what the reading side writes: poll requests and commands the device answers
            device.receive(os.read(master, 4096), time.monotonic())


def _simulate_bus(config: Config, sensor: SensorConfig, args: argparse.Namespace) -> int:
    """``sensord simulate`` of a Modbus device: every device of the config on its port
    answers requests on the pty, over RTU."""
    from sensord.sources.simulated_modbus import SimulatedModbusDevice  # noqa: PLC0415
    from sensord.tools import serve_modbus_on_pty  # noqa: PLC0415  (a command's module: the daemon does not load it)

    start = time.monotonic()
    on_bus = [s for s in config.sensors if s.is_modbus and s.port == sensor.port]
    devices: dict[int, SimulatedModbusDevice] = {}
    names: dict[int, str] = {}
    for member in on_bus:
        spec = member.format_spec().modbus
        assert spec is not None  # a Modbus sensor's format spec has one
        spec = dataclasses.replace(spec, transport="rtu")  # a pty carries RTU frames
        devices[spec.unit] = SimulatedModbusDevice(
            spec, member.signal_specs(), member.simulation_spec().seed, start
        )
        names[spec.unit] = member.name
    return serve_modbus_on_pty(devices, names, link=args.link, seconds=args.seconds)


def _simulation_summary(name: str, device: SimulatedDevice) -> str:
    """What a simulated device wrote, to compare with what a sensor reading it counted."""
    return (
        f"simulated sensor {name!r} wrote {device.frames_written} frames "
        f"({device.spikes_written} with a spike), {device.garbage_written} garbage lines and "
        f"{device.headers_written} header lines, {device.replies_written} command replies; "
        f"{device.dropouts} dropouts silenced {device.frames_dropped} frames and "
        f"{device.answers_dropped} answers; {device.frames_skipped} frames skipped while paused"
    )
