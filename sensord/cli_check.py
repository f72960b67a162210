"""``sensord check``: a configuration file validated, each error with its key path; what it
configures shown as the daemon reads it (each sensor's port, format and pace, a frame spec's
bytes and a Modbus device's registers and requests, the values its examples read), with a note
on what is valid but likely not meant (a line speed no device uses, a key its format does not
read, a checksum its lines end in that is not checked, a poll too fast for a PMS, a shared
unit id every device of a kind answers); then each device it names checked: a serial port
that exists, that this user and the service's may open and no other process holds (or the
daemon of this very file does), a network peer that accepts a connection, a capture that
replays."""

from __future__ import annotations

import argparse
import itertools
import math
import os
import socket
import struct
import sys
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sensord.capture import RX, Capture, CaptureError, read_capture
from sensord.cli_common import USUAL_BAUDRATES, frame_rate_hz, print_config_error, usual_rate_hint
from sensord.cli_parser import daemon_config_of
from sensord.config import DEFAULT_CONFIG_PATH, STDIN_SOURCE, Config, load_config, load_config_stdin
from sensord.config_sensor import SensorConfig
from sensord.config_tables import MAX_FRAME_INTERVAL_S
from sensord.errors import EXIT_INVALID, EXIT_OK, ConfigError
from sensord.formats.base import FormatSpec, RegisterSpec
from sensord.formats.frame_keys import FIELD_TYPES
from sensord.formats.line_checksums import holding_kind
from sensord.formats.modbus_keys import LONE_UNITS, reference_read_as_address
from sensord.ports import (
    SERVICE_USER,
    SYS_ROOT,
    adapter_facts,
    check_device,
    contending_holders,
    latency_hint,
    service_access_problem,
)
from sensord.reopen import DEVICE_WATCH_S
from sensord.schema import natural_key
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
    print(_describe(config))
    if args.no_devices:
        return EXIT_OK
    return EXIT_OK if check_devices(config, source=source) else EXIT_INVALID


def _describe(config: Config) -> str:
    lines = [
        f"  http: {config.http.listen}:{config.http.port}",
        f"  sensors: {len(config.sensors)}",
    ]
    for s in config.sensors:
        channels = ", ".join(c.name for c in s.channels)
        if s.is_modbus:
            device = s.modbus_device
            lines.append(
                f"    {s.name}: {s.port} format=modbus unit={device.unit} "
                f"interval={device.interval_s:g} s timeout={device.timeout_s:g} s "
                f"channels=[{channels}]"
            )
            lines.extend(_baudrate_notes(s))
            lines.extend(_unused_key_notes(s))
            lines.extend(_lone_unit_note(s, config))
            if device.timeout_s >= device.interval_s:
                lines.append(
                    f"      note: modbus.timeout_s ({device.timeout_s:g} s) is not shorter than "
                    f"modbus.interval_s ({device.interval_s:g} s): a poll that waits out its "
                    "timeout takes the next one's time (counted in polls_missed); poll a slow "
                    "device less often than it may take to answer"
                )
            lines.extend(_describe_registers(s))
            continue
        pace = (
            f"rate={s.sampling_rate_hz:g} Hz"
            if s.poll is None
            else f"polled every {s.poll.interval_s:g} s"
        )
        if s.connect_delay_s:
            pace += f" connect_delay={s.connect_delay_s:g} s"
        preset = "" if s.preset is None else f" preset={s.preset}"
        checked = "" if s.parse.checksum is None else f" checksum={s.parse.checksum}"
        lines.append(
            f"    {s.name}: {s.port} format={s.format}{preset}{checked} {pace} "
            f"simulate={s.simulate} channels=[{channels}]"
        )
        lines.extend(_baudrate_notes(s))
        lines.extend(_unused_key_notes(s))
        lines.extend(_checksum_notes(s))
        lines.extend(_fast_poll_notes(s))
        lines.extend(_describe_frame(s))
        if s.poll is not None and s.format != "frames":
            requests = " then ".join(
                repr(request.decode(s.parse.encoding, "backslashreplace"))
                for request in s.poll_requests()
            )
            lines.append(f"      poll writes: {requests}; stale after {s.stale_after:g} s")
        stale = s.stale_note()
        if stale is not None:
            lines.append(f"      note: {stale}")
    return "\n".join(lines)


def _number(value: float) -> str:
    """A value as read: a whole number in all its digits (a u32 status register's
    2097152, not 2.09715e+06), else its shortest repr."""
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


def _frame_examples(s: SensorConfig) -> list[str]:
    """Each of ``frame.examples`` with the values the channels read from it (before their
    filter and normalization): what a user compares with the datasheet's reading of it."""
    spec = s.format_spec()
    lines = []
    for i, example in enumerate(s.read_examples()):
        pairs = example.pairs
        missing = (
            " (refused: see the error)"
            if example.problem is not None
            else f" (not available: {', '.join(example.unavailable)})"
            if example.unavailable
            else ""
        )
        values = ", ".join(f"{name} {_number(value)}" for name, value in pairs) or "no values"
        lines.append(f"      example {i + 1}: {values}{missing}")
        if example.frame is not None and pairs:
            lines += _bitwise(spec, example.frame, {name for name, _ in pairs})
    return lines


def _bitwise(spec: FormatSpec, frame: bytes, read: set[str]) -> list[str]:
    """The numbers the bit fields among the channels ``read`` take their bits from, as the
    frame holds them (a byte order mistaken shows: a Daly's balance bits read as u16be)."""
    assert spec.frame is not None
    rows = {field.name: field for field in spec.frame.fields}
    numbers = {
        (row.offset, row.type)
        for channel, name in spec.fields
        if channel in read and (row := rows[name]).bit is not None
    }
    shown = []
    for offset, type_ in sorted(numbers):
        size = struct.calcsize(FIELD_TYPES[type_])
        shown.append(f"{type_} at {offset} = {frame[offset : offset + size].hex(' ')}")
    return [f"        read bitwise: {', '.join(shown)}"] if shown else []


def _describe_frame(s: SensorConfig) -> list[str]:
    """A frame spec of the sensor's own, and the bytes its polls write, in hex: what a user
    compares with the device's datasheet (the file gives the spec's bytes as escapes)."""
    if s.format != "frames" or s.preset is not None or s.frame is None:
        return []
    from sensord.formats.frames import (  # noqa: PLC0415  (loaded by a sensor of binary frames)
        CHECKSUMS,
        frame_length,
        kinds_of,
        status_ok_shown,
    )

    frame = s.frame.spec()
    if frame.length is not None:
        size = f"{frame.length} bytes"
    else:
        counts = "the bytes after it" if frame.length_counts == "after" else "the whole frame"
        adjust = f" {frame.length_adjust:+d}" if frame.length_adjust else ""
        size = (
            f"length field at {frame.length_offset} ({frame.length_size} "
            f"byte{'s' if frame.length_size > 1 else ''}"
            f"{f' {frame.length_byteorder}-endian' if frame.length_size > 1 else ''}: "
            f"{counts}{adjust})"
        )
    after = "a poll" if s.poll is not None else "a silence"
    starts = (
        f"starts {frame.start.hex(' ')}"
        if frame.start
        else f"no start bytes (each frame from the first byte after {after})"
    )
    parts = [starts, size]
    if frame.checksum != "none":
        parts.append(f"{frame.checksum} from byte {frame.checksum_start}")
    if frame.end_bytes:
        parts.append(f"ends {frame.end_bytes.hex(' ')}")
    if frame.status_offset is not None:
        valid = status_ok_shown(frame, "{:02x}", "/")
        masked = f" masked {frame.status_mask:02x}" if frame.status_mask != 0xFF else ""
        parts.append(f"status at {frame.status_offset}{masked} valid {valid}")
    kinds = kinds_of(frame)
    if kinds and frame.kind_offset is not None:
        parts.append(f"kinds at {frame.kind_offset}: {', '.join(k.hex(' ') for k in kinds)}")
    lines = [f"      frame: {', '.join(parts)}"]
    if s.poll is not None:
        requests = " then ".join(request.hex(" ") for request in s.poll_requests())
        lines.append(f"      poll writes: {requests}")
    lines += _frame_examples(s)
    if frame.length_size and frame.length_counts == "after" and frame.length_adjust > 0:
        smallest = frame_length(frame)
        tail = [
            field.name
            for field in frame.fields
            if field.offset + struct.calcsize(FIELD_TYPES[field.type])
            > smallest - frame.length_adjust
        ]
        if tail:
            lines.append(
                f"      note: {', '.join(tail)} reach into the last {frame.length_adjust} "
                "bytes of the smallest frame, which the length field does not count "
                "(length_adjust): they are read only from frames long enough that the "
                "length field counts them (an LD2410's engineering reports), and left out "
                "of the others"
            )
    if (
        s.poll is None
        and frame.end is None
        and frame.silence_s is None
        and CHECKSUMS.get(frame.checksum, (None, 0))[1] <= 1
    ):
        check = "no checksum" if frame.checksum == "none" else "an 8-bit checksum"
        lines.append(
            "      note: a frame that loses a byte is made whole with the next frame's first "
            f"bytes, and with {check} and no end byte such a frame can pass (a sum always, "
            "when the byte lost is the next frame's first): set frame.silence_s shorter "
            "than the device's pause between frames (0.1 for a frame a second) to drop "
            "bytes held across a pause"
        )
    return lines


#: The line speed of the devices every preset reads (Plantower PMS, Nova SDS011, Winsen
#: MH-Z19: fixed 9600 8N1 UARTs).
PRESET_BAUDRATE = 9600


def _lone_unit_note(sensor: SensorConfig, config: Config) -> list[str]:
    """A note on a device read at 248..255, or at 0 (``broadcast_reads``), on a serial line it
    shares: every device of its kind answers there, whatever its own address."""
    unit = sensor.modbus_device.unit
    if (unit and unit not in LONE_UNITS) or sensor.address.scheme == "modbus-tcp":
        return []
    others = [
        s.name for s in config.sensors if s is not sensor and s.is_modbus and s.port == sensor.port
    ]
    if not others:
        return []
    if not unit:
        return [
            "      note: unit 0 is the broadcast address: every device on this line takes its "
            "requests, and each that answers reads there (a Seplos V3 BMS) answers them, so "
            f"{', '.join(others)} must be of kinds that do not, or their answers collide"
        ]
    return [
        f"      note: unit {unit} is an address a device may answer whatever its own (a "
        "PZEM meter at 248, a SenseAir S8 at 254): every device of its kind on this line "
        f"answers it, so {', '.join(others)} must be of other kinds, or their answers "
        "collide; give it its own address where it takes one"
    ]


def _checksum_notes(sensor: SensorConfig) -> list[str]:
    """A note on a ``parse.example`` that ends in a checksum that holds while
    ``parse.checksum`` is not set: the lines are read unchecked, their checksum a part of
    them."""
    parse = sensor.parse
    if parse.checksum is not None:
        return []
    for example in parse.example:
        kind = holding_kind(example.encode(parse.encoding, "replace"))
        if kind is not None:
            return [
                f"      note: parse.example {example!r} ends in a checksum that holds as "
                f'parse.checksum = "{kind}" has it: with that key each line is checked, and '
                "read without it (give parse.example without it too); without it a line "
                "damaged on the wire is read"
            ]
    return []


#: Why a format, or a block framer, reads no ``terminator``: how its frames end instead.
_ENDS_WITHOUT_TERMINATOR = {
    "frames": "format 'frames' (a binary frame ends by its length or its end byte)",
    "modbus": "format 'modbus' (an answer ends by its length and the line's silence)",
    "dsmr": "format 'dsmr' (a telegram's lines end in CR LF, the telegram in its CRC line)",
}


def _unused_key_notes(sensor: SensorConfig) -> list[str]:
    """Keys that the sensor's format does not read, given other than their defaults: valid
    (a table copied from another sensor keeps them), but a setting that changes nothing is
    pointed out, as an operator may think it does."""
    fields = SensorConfig._fields
    notes = []
    terminator = sensor.terminator
    if terminator != fields["terminator"].default_value():
        ends = _ENDS_WITHOUT_TERMINATOR.get(sensor.format)
        if ends is None and sensor.parse.block is not None:
            ends = f"parse.block = '{sensor.parse.block}' (its lines end in CR LF)"
        if ends is not None:
            shown = terminator.decode("latin-1")
            notes.append(f"      note: terminator {shown!r} is not used by {ends}")
    if (
        sensor.format == "modbus"
        and sensor.max_frame_bytes != fields["max_frame_bytes"].default_value()
    ):
        notes.append(
            f"      note: max_frame_bytes {sensor.max_frame_bytes} is not used by format "
            "'modbus' (an answer's length is the protocol's, at most 256 bytes)"
        )
    return notes


#: A PMS polled faster than this: an answer later than half the interval, then a poll left
#: without a byte, look like the stream of a PMS back in active mode after a power cut
#: drifting past the polls (``sensord.dialogue``), and it is set up again and warmed up.
PMS_POLL_FLOOR_S = 0.5


def _fast_poll_notes(sensor: SensorConfig) -> list[str]:
    """A note on a PMS (a preset that streams in active mode) polled faster than
    :data:`PMS_POLL_FLOOR_S`: valid, but a lost answer after a late one may set it up again."""
    if sensor.poll is None or sensor.format != "frames" or sensor.preset is None:
        return []
    from sensord.formats.presets import stream_interval_s  # noqa: PLC0415  (loaded by a sensor with a preset)

    if stream_interval_s(sensor.preset) is None or sensor.poll.interval_s >= PMS_POLL_FLOOR_S:
        return []
    return [
        f"      note: poll.interval_s {sensor.poll.interval_s:g} s is shorter than "
        f"{PMS_POLL_FLOOR_S:g} s: a {sensor.preset} answer later than half the interval and "
        "then a poll left without a byte look like a power-cycled device streaming, and it is "
        f"set up again and warmed up; poll every {PMS_POLL_FLOOR_S:g} s or slower (it renews "
        "its readings every 0.2 to 2.3 s)"
    ]


def _baudrate_notes(sensor: SensorConfig) -> list[str]:
    """A note on a line speed that is likely a typo (not a usual rate, or a preset's device
    at another speed): sensord opens the port at any rate the driver takes, so this is only
    pointed out."""
    if not (sensor.address.is_device or sensor.address.scheme == "rfc2217"):
        return []  # a socket:// serial server or a simulation has no line speed of ours
    rate = sensor.serial.baudrate
    if sensor.preset is not None and rate != PRESET_BAUDRATE:
        return [
            f"      note: serial.baudrate is {rate}, but a {sensor.preset} talks at "
            f"{PRESET_BAUDRATE} baud"
        ]
    if rate in USUAL_BAUDRATES:
        return []
    return [f"      note: serial.baudrate {rate} is not a usual line speed{usual_rate_hint(rate)}"]


def _describe_registers(sensor: SensorConfig) -> list[str]:
    """Each register as the device is read (a ``ref`` normalised to table and 0-based
    address), and the requests a poll sends."""
    from sensord.formats.modbus import plan as modbus_plan  # noqa: PLC0415  (the codec, loaded by a Modbus device)

    spec = sensor.modbus_spec()
    assert spec is not None
    lines = []
    sunspec = sensor.modbus_device.sunspec_not_available or any(
        reg.scale_register is not None for reg in spec.registers
    )
    for entry, reg in zip(sensor.registers, spec.registers, strict=True):
        ref = f" (ref {entry.ref})" if entry.ref is not None else ""
        unavailable = ", ".join(
            f"{v:#x}" if isinstance(v, int) else f"{v:g}" for v in reg.not_available
        )
        lines.append(
            f"      {reg.name}: {reg.table} address {reg.address}{ref} {reg.type} "
            f"byte_order={reg.byte_order} word_order={reg.word_order}"
            + (f" not_available=[{unavailable}]" if unavailable else "")
            + _field_of(reg)
        )
        if entry.ref is not None and sunspec and len(entry.ref) == 5 and reg.table == "holding":
            lines.append(
                f"        note: ref {entry.ref} is holding address {reg.address}; a SunSpec "
                f"register number such as {entry.ref} in an inverter's manual is address "
                f"{int(entry.ref) - 1}: write that in address if the manual means it so"
            )
        if entry.ref is None and not sunspec:  # (a SunSpec map's addresses are 40000 on)
            as_ref = reference_read_as_address(reg.table, reg.address)
            if as_ref is not None:
                lines.append(
                    f"        note: address {reg.address} is read as it is; if the manual "
                    f'gives {reg.address} as a reference, write ref = "{reg.address}" '
                    f"(address {as_ref}) instead"
                )
    reads = ", ".join(f"{r.table} {r.address}+{r.count}" for r in modbus_plan(spec))
    lines.append(f"      requests per poll: {reads}")
    if spec.setup:
        writes = ", ".join(
            f"{w.table} {w.address} = {list(w.words)} (function {w.function:02d})"
            for w in spec.setup
        )
        lines.append(f"      set-up writes: {writes}")
    return lines


def _field_of(reg: RegisterSpec) -> str:
    """A register's bit field, sign, scale factor and status, as ``sensord check`` shows
    them."""
    out = ""
    if reg.bit is not None:
        out += f" bit {reg.bit}" if reg.bits == 1 else f" bits {reg.bit}..{reg.bit + reg.bits - 1}"
    if reg.sign is not None:
        out += " in two's complement" if reg.sign == "twos" else ", its top bit the sign"
    if reg.scale_register is not None:
        out += f" times 10**{reg.scale_register}"
    if reg.status_register is not None:
        ok = " or ".join(f"{v:#x}" for v in reg.status_ok)
        masked = (
            reg.status_register
            if reg.status_mask is None
            else f"{reg.status_register} & {reg.status_mask:#x}"
        )
        out += f", valid when {masked} is {ok}"
    return out


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
