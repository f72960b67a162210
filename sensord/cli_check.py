"""``sensord check``: a configuration file validated, each error with its key path; what it
configures shown as the daemon reads it, with a note on what is valid but likely not meant
(``sensord.cli_describe``); then each device it names checked: a serial port that exists, that
this user and the service's may open and no other process holds (or the daemon of this very
file does), a network peer that accepts a connection, a capture that replays."""

from __future__ import annotations

import argparse
import itertools
import math
import os
import socket
import sys
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sensord.capture import RX, Capture, CaptureError, read_capture
from sensord.cli_common import frame_rate_hz, print_config_error
from sensord.cli_describe import describe
from sensord.cli_parser import daemon_config_of
from sensord.config import DEFAULT_CONFIG_PATH, STDIN_SOURCE, Config, load_config, load_config_stdin
from sensord.config_sensor import SensorConfig
from sensord.config_tables import MAX_FRAME_INTERVAL_S
from sensord.errors import EXIT_INVALID, EXIT_OK, ConfigError
from sensord.names import natural_key
from sensord.port_access import SERVICE_USER, service_access_problem
from sensord.port_holders import contending_holders
from sensord.ports import SYS_ROOT, adapter_facts, check_device, latency_hint
from sensord.reopen import DEVICE_WATCH_S
from sensord.sources.replay import silent_conversation

__all__ = ["CHECK_CONNECT_TIMEOUT_S", "check_devices", "cmd_check", "tcp_reachable"]


def cmd_check(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.config is not None and args.config_opt is not None and args.config != args.config_opt:
        # one of them would be checked and the other not: the one meant may be the other
        parser.error(f"check takes one file: {args.config} or -c {args.config_opt}")
    path: Path | None = args.config or args.config_opt
    if path is None and DEFAULT_CONFIG_PATH.exists():
        path = DEFAULT_CONFIG_PATH
    if path is None:
        parser.error(f"check needs a config file: sensord check CONFIG (no {DEFAULT_CONFIG_PATH})")
    stdin = str(path) == "-"
    source = STDIN_SOURCE if stdin else str(path)
    try:
        config = load_config_stdin(sys.stdin.buffer) if stdin else load_config(path)
    except ConfigError as exc:
        print_config_error(exc)
        return EXIT_INVALID
    print(f"{source}: configuration is valid")
    print(describe(config))
    if args.no_devices:
        return EXIT_OK
    return EXIT_OK if check_devices(config, source=source) else EXIT_INVALID


#: How long ``sensord check`` waits for a network port to accept a connection.
CHECK_CONNECT_TIMEOUT_S = 2.0


def tcp_reachable(url: str) -> str:
    """Whether the host of a network port accepts a TCP connection now, in words. Not a
    failure either way: sensord connects at start and keeps retrying."""
    parts = urlsplit(url)
    host, port = parts.hostname or "", parts.port or 0
    # the name is looked up on a thread of its own (a daemon thread: the command does not
    # wait for it at exit): getaddrinfo takes no timeout, and a DNS server that does not
    # answer holds it for 10 s and more per name
    found: list[Any] = []
    done = threading.Event()

    def look_up() -> None:
        try:
            found.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except OSError as exc:
            found.append(exc)
        done.set()

    threading.Thread(target=look_up, name="check-lookup", daemon=True).start()
    if not done.wait(CHECK_CONNECT_TIMEOUT_S):
        return (
            f"the host name {host} does not resolve within {CHECK_CONNECT_TIMEOUT_S:g} s "
            "(the DNS does not answer); sensord retries it while it runs"
        )
    if isinstance(found[0], OSError):
        exc = found[0]
        return (
            f"the host name {host} does not resolve ({exc.strerror or exc}): check its "
            "spelling and the DNS; sensord retries it while it runs"
        )
    reason = "no address"
    for family, kind, proto, _, address in found[0]:  # each, as the daemon's connect does
        try:
            with socket.socket(family, kind, proto) as sock:
                sock.settimeout(CHECK_CONNECT_TIMEOUT_S)
                sock.connect(address)
                return "accepts connections"
        except OSError as exc:
            reason = "no answer" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
    return f"does not accept a connection now ({reason}); sensord retries it while it runs"


def check_devices(
    config: Config,
    sys_root: str = SYS_ROOT,
    source: str = "<config>",
    service_user: str = SERVICE_USER,
    unit_path: str | None = None,
) -> bool:
    """Check every sensor's port, and what else of the host the file needs
    (:mod:`sensord.host_check`); a problem is printed naming ``source`` (the file), the
    sensor's ``port`` key and the sensor. False when one would keep a sensor from running;
    what only the installed unit (``unit_path``, by default ``sensord.unit_file.UNIT_PATH``)
    or the host's state now refuses is a warning."""
    # a command's modules: the daemon does not load them
    from sensord.host_check import (  # noqa: PLC0415
        capture_directory_warning,
        listen_warning,
        unit_device_warning,
    )
    from sensord.unit_file import read_unit  # noqa: PLC0415

    ok = True
    unit = read_unit() if unit_path is None else read_unit(unit_path)
    for warning in (
        listen_warning(config.http.listen),
        capture_directory_warning(config, unit, service_user),
    ):
        if warning is not None:
            print(f"  warning: {warning}")
    reached_ports: dict[str, str] = {}
    #: the device each device port resolves to, and the first sensor that names it
    devices: dict[str, int] = {}

    def problem(i: int, text: str) -> None:
        print(f"  {source}: sensors[{i}].port (sensor {config.sensors[i].name!r}): {text}")

    for i, sensor in enumerate(config.sensors):
        if sensor.address.is_replay:
            try:
                capture = read_capture(sensor.address.path)
            except (OSError, CaptureError) as exc:
                problem(i, f"cannot replay {sensor.address.path}: {exc}")
                ok = False
                continue
            silent = (
                silent_conversation(sensor.address.path, capture.records)
                if sensor.is_modbus
                else None
            )
            if silent is not None:
                problem(i, silent)
                ok = False
                continue
            print(
                f"  device {sensor.name}: replays {sensor.address.path} "
                f"({len(capture.records)} records)"
            )
            note = _replay_pace_note(sensor, capture)
            if note is not None:
                print(f"  note: sensors[{i}].replay.speed (sensor {sensor.name!r}): {note}")
            continue
        if sensor.address.is_simulated or sensor.simulate == "always":
            print(f"  device {sensor.name}: simulated ({sensor.port})")
            continue
        if sensor.address.kind == "network":
            reached = reached_ports.get(sensor.port)
            if reached is None:
                reached = reached_ports[sensor.port] = tcp_reachable(sensor.port)
            print(f"  device {sensor.name}: {sensor.port} {reached}")
            continue
        if sensor.address.kind == "url":
            print(f"  device {sensor.name}: {sensor.port} (no device or peer to check)")
            continue
        if sensor.address.is_device and os.path.exists(sensor.port):
            real = os.path.realpath(sensor.port)
            first = devices.setdefault(real, i)
            if first != i and config.sensors[first].port != sensor.port:
                # the same name twice is the config's own check (or a bus); another name of
                # one device would keep this sensor down for good (the first one holds it)
                named = config.sensors[first]
                problem(
                    i,
                    f"{real} is the device of sensors[{first}].port (sensor {named.name!r}, "
                    f"{named.port} -> {real}): "
                    "two sensors cannot open one device, and Modbus devices on one bus "
                    "name its port the same way",
                )
                ok = False
                continue
            daemons = _held_by_daemon_of(real, source)
            if daemons:
                print(
                    f"  device {sensor.name}: {sensor.port} held by the sensord that runs "
                    f"this file (pid {daemons}); a reload keeps it open"
                )
                continue
        bus = (
            [s.name for s in config.sensors if s.is_modbus and s.port == sensor.port]
            if sensor.is_modbus and sensor.address.is_device
            else []
        )
        problems = check_device(
            sensor.port,
            sys_root=sys_root,
            simulate=sensor.simulate,
            bus_devices=sorted(bus, key=natural_key),
        )
        if not problems and sensor.address.is_device:
            service = service_access_problem(os.path.realpath(sensor.port), service_user)
            problems = [] if service is None else [service]
        if not problems:
            print(f"  device {sensor.name}: {sensor.port} ok")
            refused = None
            if unit is not None and sensor.address.is_device:
                refused = unit_device_warning(unit, sensor.name, sensor.port)
            if refused is not None:
                print(f"  warning: {refused}")
            latency_ms = adapter_facts(sensor.port, sys_root=sys_root).latency_timer_ms
            hint = None
            if sensor.address.is_device and latency_ms is not None:
                hint = latency_hint(sensor.name, sensor.port, latency_ms, frame_rate_hz(sensor))
            if hint is not None:
                print(f"  warning: {hint}")
            continue
        fatal = sensor.simulate == "never" or os.path.exists(sensor.port)
        for text in problems:
            problem(i, text)
        if fatal:
            ok = False
        elif not os.path.islink(sensor.port):  # a dangling link's problem tells it already
            print(
                f"  device {sensor.name}: absent, so a daemon that starts now simulates it "
                f"(simulate=auto) until its path is there (looked for every "
                f"{DEVICE_WATCH_S:g} s); one that was reading it waits for it at a reload"
            )
    if not ok:
        print(f"{source}: device check failed", file=sys.stderr)
    return ok


def _replay_pace_note(sensor: SensorConfig, capture: Capture) -> str | None:
    """What a ``replay.speed`` below 1 makes of the capture's longest wait for received bytes
    (from its start, or between two reads), when that wait, stretched by the speed, outlasts
    the sensor's stale time and the recorded one did not: the sensor goes stale in a silence
    the device never kept. None at the recorded pace or faster, and for a wait already stale
    as recorded (a replay tells that one as the capture's own silence)."""
    speed = sensor.replay.speed
    offsets = [record.offset_s for record in capture.records if record.direction == RX]
    if not 0.0 < speed < 1.0 or not offsets:
        return None
    waits = [(later - earlier, later) for earlier, later in itertools.pairwise([0.0, *offsets])]
    longest, at = max(waits)
    stale = sensor.stale_after
    stretched = longest / speed
    if stretched <= stale or longest > stale:
        return None
    faster = _rounded_up(longest / stale)
    instead = (
        f"stale_after_s = {math.ceil(stretched):d} or more, or a speed of at least {faster:g}"
        if stretched <= MAX_FRAME_INTERVAL_S
        else f"a speed of at least {faster:g}"
    )
    return (
        f"{speed:g} plays the capture's longest wait for bytes, {longest:.3g} s (up to "
        f"{at:.3g} s into it), in {stretched:.4g} s, longer than the sensor's stale time "
        f"({stale:g} s): the sensor goes stale in it; give {instead}"
    )


def _rounded_up(value: float) -> float:
    """``value`` (above 0) rounded up to three significant digits."""
    step = 10.0 ** (math.floor(math.log10(value)) - 2)
    return math.ceil(round(value / step, 6)) * step


def _held_by_daemon_of(device: str, config_file: str) -> str:
    """The pids (``"812"``, ``"812, 815"``) when every process that holds ``device`` is a
    ``sensord run`` of ``config_file`` (its workers included): the daemon that a reload of
    this file keeps reading the device. Empty otherwise, also when nothing holds it."""
    holders = contending_holders(device)
    if not holders or not os.path.isfile(config_file):
        return ""
    this = os.path.realpath(config_file)
    if any(daemon_config_of(h.pid) != this for h in holders):
        return ""
    return ", ".join(str(h.pid) for h in holders)
