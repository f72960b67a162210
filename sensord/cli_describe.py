"""What ``sensord check`` shows of a valid configuration (``describe``), as the daemon reads
it: each sensor's port, format and pace, a frame spec's bytes and a Modbus device's registers
and requests, the values its examples read, with a note on what is valid but likely not meant
(a line speed no device uses, a key its format does not read, a checksum its lines end in that
is not checked, a poll too fast for a PMS, a shared unit id every device of a kind answers, a
Modbus timeout not shorter than its interval)."""

from __future__ import annotations

import struct

from sensord.cli_common import USUAL_BAUDRATES, usual_rate_hint
from sensord.config import Config
from sensord.config_sensor import SensorConfig
from sensord.formats.base import FormatSpec, RegisterSpec
from sensord.formats.dsmr import codes_read
from sensord.formats.frame_keys import FIELD_TYPES
from sensord.formats.line_checksums import holding_kind
from sensord.formats.modbus_keys import LONE_UNITS, reference_read_as_address

__all__ = ["describe"]


def describe(config: Config) -> str:
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
        if s.format == "dsmr":
            lines.append(f"      codes read: {codes_read(s.format_spec())}")
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
    from sensord.formats.frames_checksums import CHECKSUMS  # noqa: PLC0415  (loaded by a sensor of binary frames)
    from sensord.formats.frames_decode import status_ok_shown  # noqa: PLC0415  (loaded by a sensor of binary frames)
    from sensord.formats.frames_layout import frame_length, kinds_of  # noqa: PLC0415  (loaded by a sensor of binary frames)

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


#: A PMS polled faster than this: an answer later than half the interval between two answers
#: the line lost is a frame alone between polls left without a byte, as the stream of a PMS
#: back in active mode after a power cut leaves, and it is set up again; other drifts past
#: the polls are told only once they recur at a steady beat
#: (``sensord.dialogue_unasked.FAST_POLLS_S``, the same pace).
PMS_POLL_FLOOR_S = 0.5


def _fast_poll_notes(sensor: SensorConfig) -> list[str]:
    """A note on a PMS (a preset that streams in active mode) polled faster than
    :data:`PMS_POLL_FLOOR_S`: valid, but a late answer between two the line lost sets it up
    again, and its stream's drift past the polls is told later."""
    if sensor.poll is None or sensor.format != "frames" or sensor.preset is None:
        return []
    from sensord.formats.presets import stream_interval_s  # noqa: PLC0415  (loaded by a sensor with a preset)

    if stream_interval_s(sensor.preset) is None or sensor.poll.interval_s >= PMS_POLL_FLOOR_S:
        return []
    return [
        f"      note: poll.interval_s {sensor.poll.interval_s:g} s is shorter than "
        f"{PMS_POLL_FLOOR_S:g} s: a {sensor.preset} answer later than half the interval "
        "between two answers the line lost looks like a power-cycled device streaming, and it "
        "is set up again and warmed up (one answer in five lost and half the answers late: one "
        "poll in fifty), and a unit streaming in its fast mode is put back a few seconds later; "
        f"poll every {PMS_POLL_FLOOR_S:g} s or slower (it renews its readings every 0.2 to "
        "2.3 s)"
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
    from sensord.formats.modbus_plan import plan as modbus_plan  # noqa: PLC0415  (the codec, loaded by a Modbus device)

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
