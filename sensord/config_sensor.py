"""A sensor's table checked: ``SensorConfig``.

``SensorConfig`` is ``sensord.config_sensor_table.SensorTable`` with the checks of its keys
against each other, for its format: a frame spec and its examples, a Modbus device and its
register map, polls and set-up commands (a preset's by name, or bytes with the replies they
expect), bytes written in hex where text is read, and the keys another format reads. Its
``stale_note`` and ``read_examples`` are what ``sensord check`` shows of it besides.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from sensord.address import MODBUS_TCP_SCHEME
from sensord.config_sensor_table import SensorTable
from sensord.config_tables import (
    _HEX_AS_TEXT,
    _PARSE_KEY_FORMATS,
    ParseConfig,
    RegisterConfig,
    SetupCommandConfig,
    _duplicates,
)
from sensord.errors import NotMeasuredError, ParseError
from sensord.formats import codec_for
from sensord.formats.modbus_keys import SERIAL_UNITS
from sensord.names import closest
from sensord.schema_fields import UnloadedFieldError

__all__ = ["ExampleRead", "SensorConfig", "_loaded_name"]


@dataclass(frozen=True, slots=True)
class ExampleRead:
    """One of ``frame.examples`` as the daemon reads it: the frame its framer cut (None: it
    cut none), the channels' values, those marked not available, and what keeps it from
    being read (None: nothing)."""

    frame: bytes | None
    pairs: list[tuple[str, float]]
    unavailable: tuple[str, ...]
    problem: str | None


def _loaded_name(entry: SensorConfig | RegisterConfig) -> str | None:
    """The sensor's or register's name, or None when it failed to load."""
    try:
        return entry.name
    except UnloadedFieldError:
        return None


class SensorConfig(SensorTable):
    """``[[sensors]]``: one device (or simulated device) and its channels, its keys checked
    against each other (``check``, also of a table that loaded with errors: each check reads
    only the fields its problems depend on)."""

    def check(self) -> list[tuple[str, str]]:
        return self.run_checks(self._checks())

    #: each check reads what it depends on: one that reads a field that failed to load is
    #: left out (run_checks), the others are independent of that failure
    check_partial = check

    def _checks(self) -> tuple[Callable[[], list[tuple[str, str]]], ...]:
        """The sensor's cross-checks in the order of their problems, each reading only the
        fields its problems depend on."""
        return (
            lambda: _duplicates("channels", [c.name for c in self.channels], "name"),
            self._simulate_problems,
            self._stale_problems,
            self._format_problems,
            self._parse_key_problems,
            self._rs485_problems,
            self._modbus_problems,
            self._modbus_rate_problems,
            self._modbus_field_problems,
            self._setup_command_problems,
            self._raw_setups_problems,
            self._poll_command_problems,
            self._connect_delay_problems,
            self._hex_text_problems,
            self._codec_problems,
            self._headless_problems,
        )

    def _connect_delay_problems(self) -> list[tuple[str, str]]:
        """A ``connect_delay_s`` that holds nothing back (a Modbus device's is its
        ``modbus.connect_delay_s``; a sensor with neither a poll nor set-up commands writes
        nothing after the open), or that the sensor's stale time does not outlast."""
        if not self.connect_delay_s:
            return []
        if self.format == "modbus":
            return [
                (
                    "connect_delay_s",
                    "is not used by format 'modbus' (see modbus.connect_delay_s)",
                )
            ]
        if self.poll is None and not self.setup:
            return [
                (
                    "connect_delay_s",
                    "holds back the set-up commands and the first poll after each open, and "
                    "this sensor has neither: what a device sends after the open is read at "
                    "once without it",
                )
            ]
        if self.stale_after_s is None and self._poll_command_problems():
            return []  # its poll's bytes, and so its stale time, are unknown: told as poll.command
        if self.connect_delay_s >= self.stale_after:
            return [
                (
                    "connect_delay_s",
                    f"must be shorter than the sensor's stale time ({self.stale_after:g} s, "
                    "stale_after_s): the sensor would go stale at every open before its first "
                    "poll is answered",
                )
            ]
        return []

    def _headless_problems(self) -> list[tuple[str, str]]:
        """A frame spec without start bytes finds each frame's first byte only from a poll's
        request (its reply follows it) or from a silence before it."""
        frame = self.frame
        if self.format != "frames" or frame is None or frame.start or self.poll is not None:
            return []
        if frame.silence_s is not None:
            return []
        return [
            (
                "frame.start",
                "empty start bytes need a poll (each reply is read from its first byte) or "
                "frame.silence_s (each frame from the first byte after a silence)",
            )
        ]

    def _stale_problems(self) -> list[tuple[str, str]]:
        """A Modbus device's ``stale_after_s`` no longer than its poll interval: a device
        answers once a poll and sends nothing unasked, so it would be stale between every two
        answers (a device polled by ``poll`` may stream besides: see ``stale_note``)."""
        if self.stale_after_s is None or self.format != "modbus":
            return []
        interval = self.modbus_device.interval_s
        if self.stale_after_s > interval:
            return []
        return [
            (
                "stale_after_s",
                f"{self.stale_after_s:g} s is no longer than modbus.interval_s ({interval:g} s), "
                "so the device would be stale between every two answers: make it longer "
                f"(without it: {max(5.0, 3.0 * interval):g} s)",
            )
        ]

    def stale_note(self) -> str | None:
        """For a sensor that is not a Modbus device, whose ``stale_after_s`` is no longer than
        the time between two frames at ``sampling_rate_hz`` and between two polls: what that
        does if the device sends at that pace (it may send faster, or stream besides its
        polls, so this is a note, not an error); for a preset's device that streams, shorter
        than twice the longest time between its frames that its datasheet gives
        (``sensord.formats.presets.stream_interval_note``: a PMS's 2.3 s)."""
        if self.stale_after_s is None or self.format == "modbus":
            return None
        if self.preset is not None and self.format == "frames":
            from sensord.formats.presets import stream_interval_note  # noqa: PLC0415  (loaded by a sensor with a preset)

            rewarms = self.warmup_after_silence and self.warmup_s > 0
            note = stream_interval_note(
                self.preset,
                self.setup_names(),
                self.stale_after_s,
                rewarms=rewarms,
                default_s=self._default_stale_after(),
            )
            if note is not None:
                return note
        interval = 1.0 / self.sampling_rate_hz
        if self.poll is not None:
            interval = min(interval, self.poll.interval_s)
            pace = f"at sampling_rate_hz {self.sampling_rate_hz:g} or poll.interval_s"
        else:
            pace = f"at sampling_rate_hz {self.sampling_rate_hz:g}"
        if self.stale_after_s > interval:
            return None
        return (
            f"stale_after_s {self.stale_after_s:g} s is no longer than the {interval:g} s "
            f"between two frames {pace}: if the device sends at that pace, the sensor is "
            "stale between every two frames"
        )

    def _simulate_problems(self) -> list[tuple[str, str]]:
        if self.address.is_simulated and self.simulate == "never":
            return [("simulate", f"is 'never' but port is a simulated port ({self.port})")]
        return []

    @property
    def _off_preset(self) -> bool:
        """A preset read with another format: that is the one error (the checks of the other
        format against the preset's frame and channels would only repeat it)."""
        return self.preset is not None and self.format != "frames"

    def _format_problems(self) -> list[tuple[str, str]]:
        if self._off_preset:
            return [
                (
                    "format",
                    f"preset {self.preset!r} is read with format 'frames': leave format out "
                    "(the preset sets it)",
                )
            ]
        if self.frame is not None and self.format != "frames":
            return [("frame", "is only used by format 'frames'")]
        return []

    def _parse_key_problems(self) -> list[tuple[str, str]]:
        """A key of ``parse`` that only another format reads (``_PARSE_KEY_FORMATS``), given
        a value other than its default: a csv device's ``pair_separator = ";"`` meant as its
        ``delimiter``, which reads every line with "," as written."""
        problems = []
        for key, (owner, instead) in _PARSE_KEY_FORMATS.items():
            if self.format == owner:
                continue
            value = getattr(self.parse, key)
            if value == ParseConfig._fields[key].default_value():
                continue
            meant = instead.get(self.format)
            hint = f"; a {self.format} device's is parse.{meant}" if meant else ""
            shown = (
                "true"
                if value is True
                else repr(list(value) if isinstance(value, tuple) else value)
            )
            problems.append(
                (
                    f"parse.{key}",
                    f"is only used by format {owner!r}, got {shown} with format "
                    f"{self.format!r}{hint}",
                )
            )
        return problems

    def _rs485_problems(self) -> list[tuple[str, str]]:
        if self.serial.rs485 and not self.address.is_device:
            return [
                ("serial.rs485", f"needs a serial device; {self.port} has no RS-485 driver here")
            ]
        return []

    def _setup_command_problems(self) -> list[tuple[str, str]]:
        """Set-up commands named that the preset does not know (or that take no value), or
        when there are none, what the set-up leaves the device doing (nothing to say of one
        that names a command the preset does not know: that is its error). The latter reads
        ``poll`` too: a poll that failed to load leaves it out, not the names' problems."""
        problems = []
        for i, command in enumerate(self.setup):
            if isinstance(command, str):
                from sensord.formats.presets import command_bytes  # noqa: PLC0415  (loaded by a sensor with a preset or set-up)

                try:
                    command_bytes(self.preset, command)
                except ValueError as exc:
                    problems.append((f"setup[{i}]", str(exc)))
        return problems or self.run_checks([self._unasked_problems])

    def _raw_setups_problems(self) -> list[tuple[str, str]]:
        problems = []
        for i, command in enumerate(self.setup):
            if not isinstance(command, str):
                problems.extend(self._raw_setup_problems(i, command))
        return problems

    def _poll_command_problems(self) -> list[tuple[str, str]]:
        if self.poll is not None and self.poll.command is not None:
            from sensord.formats.presets import command_bytes  # noqa: PLC0415  (loaded by a sensor with a preset or set-up)

            try:
                command_bytes(self.preset, self.poll.command)
            except ValueError as exc:
                return [("poll.command", str(exc))]
        return []

    def _hex_text_problems(self) -> list[tuple[str, str]]:
        """Bytes written in hex where the key reads text with escapes: a binary sensor's
        (``start = "FF 17"``: the five bytes of that text, which no frame begins with, and a
        ``poll.request`` the device never answers; a line device's request may be such text),
        and any sensor's ``setup`` ``send_text``, ``expect_text`` and ``refuse_text``, whose
        hex twins are ``send``, ``expect`` and ``refuse``."""
        keys: list[tuple[str, bytes | None, str]] = []
        if self.format == "frames":
            requests = self.poll.request if self.poll is not None else ()
            keys += [
                (f"poll.request[{i}]" if len(requests) > 1 else "poll.request", request, "")
                for i, request in enumerate(requests)
            ]
            if self.frame is not None:
                keys += [
                    ("frame.start", self.frame.start, ""),
                    ("frame.boot_bytes", self.frame.boot_bytes, ""),
                ]
        for i, command in enumerate(self.setup):
            if not isinstance(command, str):
                keys.append((f"setup[{i}].send_text", command.send_text, "send"))
                keys += [(f"setup[{i}].expect_text", r, "expect") for r in command.expect_text]
                keys += [(f"setup[{i}].refuse_text", r, "refuse") for r in command.refuse_text]
        problems = []
        for key, data, hex_key in keys:
            if data is not None and _HEX_AS_TEXT.fullmatch(data) is not None:
                text = data.decode()
                escaped = "".join(f"\\x{byte:02x}" for byte in bytes.fromhex(text))
                instead = (
                    f"give the bytes in hex as {hex_key} = {text.strip()!r}, or as text with "
                    f"escapes here, '{escaped}'"
                    if hex_key
                    else f"this key takes a string with escapes, '{escaped}'"
                )
                problems.append(
                    (
                        key,
                        f"{text!r} is read as the {len(data)} bytes of that text, not as hex: "
                        f"{instead} (a TOML literal string, in single quotes)",
                    )
                )
        return problems

    def _codec_problems(self) -> list[tuple[str, str]]:
        """The format's own checks of its options, channels and frame."""
        if self._off_preset or any(
            key.startswith("frame.") for key, _ in self._hex_text_problems()
        ):
            return []  # the frame's checks would be of bytes it was not meant to have
        problems = [
            (self._register_key(key), message)
            for key, message in self._in_file(codec_for(self.format).check(self.format_spec()))
        ]
        if self.frame is not None and not problems:
            from sensord.formats.frames_layout import encoded_length, kind_lengths  # noqa: PLC0415  (loaded by a sensor of binary frames)

            frame = self.frame.spec()
            # the frames that hold every field (the simulated device's) as well
            n = max((encoded_length(frame), *kind_lengths(frame)))
            if n > self.max_frame_bytes:
                problems.append(
                    ("max_frame_bytes", f"must hold the {n}-byte frame, got {self.max_frame_bytes}")
                )
        if self.frame is not None and not problems:
            problems += self._example_problems()
        return problems

    def _example_problems(self) -> list[tuple[str, str]]:
        """Each of ``frame.examples`` is one frame the spec reads: cut whole by its framer
        and not rejected by its decoder (a value it marks not available is read)."""
        return [
            (f"frame.examples[{i}]", example.problem)
            for i, example in enumerate(self.read_examples())
            if example.problem is not None
        ]

    def read_examples(self) -> list[ExampleRead]:
        """Each of ``frame.examples`` read as the daemon reads frames: cut by the framer
        (unstuffed), then decoded."""
        from sensord.formats.frames import cut_example  # noqa: PLC0415  (loaded by a sensor of binary frames)

        assert self.frame is not None
        spec = self.format_spec()
        assert spec.frame is not None
        decode = codec_for(self.format).decoder(spec)
        out = []
        for example in self.frame.examples:
            cut, problem = cut_example(spec.frame, example, self.max_frame_bytes)
            pairs: list[tuple[str, float]] = []
            unavailable: tuple[str, ...] = ()
            if cut is not None:
                try:
                    pairs = decode(cut)
                except NotMeasuredError as exc:
                    pairs, unavailable = list(exc.kept), exc.unavailable
                except ParseError as exc:
                    problem = f"is rejected as {exc.reason}: {exc.detail}"
            out.append(ExampleRead(cut, pairs, unavailable, problem))
        return out

    def _in_file(self, problems: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """A register map's problems with each ``registers[k]`` of the map that
        ``modbus_spec`` built named as in the file: the map leaves out the entries that have
        errors of their own, while check_partial runs."""
        if self.format != "modbus" or all(r.complete for r in self.registers):
            return problems
        at = [i for i, r in enumerate(self.registers) if r.complete]

        def in_file(text: str) -> str:
            return re.sub(r"registers\[(\d+)\]", lambda m: f"registers[{at[int(m[1])]}]", text)

        return [(in_file(key), in_file(message)) for key, message in problems]

    def _register_key(self, key: str) -> str:
        """A register map's ``registers[i].address`` as the file gives it: ``registers[i].ref``
        for a register given by its reference (the address is what the ref stands for)."""
        match = re.fullmatch(r"registers\[(\d+)\]\.address", key)
        if match is None or self.format != "modbus":
            return key
        i = int(match[1])
        if i < len(self.registers) and self.registers[i].ref is not None:
            return f"registers[{i}].ref"
        return key

    def _raw_setup_problems(self, i: int, command: SetupCommandConfig) -> list[tuple[str, str]]:
        """A set-up command written as bytes: for a frames sensor, with replies the framer's
        bound holds, and no reply that every data frame begins with."""
        key = f"setup[{i}]"
        if self.format == "modbus":
            return [
                (
                    key,
                    "a Modbus device's exchanges are the bus's: it is written with "
                    "[[sensors.modbus.setup]]",
                )
            ]
        problems = []
        replies = command.replies
        if replies and len(replies[0]) > self.max_frame_bytes:
            problems.append(
                (
                    f"{key}.{'expect' if command.expect else 'expect_text'}",
                    f"the {len(replies[0])}-byte reply is longer than max_frame_bytes "
                    f"({self.max_frame_bytes})",
                )
            )
        start = self.frame.start if self.frame is not None else b""
        for name, replies, what in (
            ("expect", command.expect, "acknowledgements"),
            ("expect_text", command.expect_text, "acknowledgements"),
            ("refuse", command.refuse, "refusals"),
            ("refuse_text", command.refuse_text, "refusals"),
        ):
            for reply in replies:
                if start.startswith(reply):
                    problems.append(
                        (
                            f"{key}.{name}",
                            f"every frame begins with {reply.hex(' ').upper()} (frame.start): "
                            f"the data frames would be read as {what}",
                        )
                    )
        return problems

    def _setup_label(self, i: int) -> str:
        command = self.setup[i]
        if isinstance(command, str):
            return f'"{command}"'
        return f'{command.name} (the {self.preset} command "{self.setup_names()[i]}")'

    def _unasked_problems(self) -> list[tuple[str, str]]:
        """A set-up that leaves the device asleep, or sending only when asked with no poll
        to ask it: the sensor would fall silent for good after its first connect."""
        if self.preset is None:  # only a preset's device is known to sleep or wait to be asked
            return []
        from sensord.formats.presets import asked_only, left_asleep  # noqa: PLC0415  (loaded by a sensor with a preset or set-up)

        model = self.preset.upper()
        names = self.setup_names()
        asleep = left_asleep(self.preset, names)
        if asleep is not None:
            i, wake = asleep
            return [
                (
                    f"setup[{i}]",
                    f"{self._setup_label(i)} leaves the {model} asleep, sending nothing whether "
                    f'asked or not: add "{wake}" after it, or leave it out',
                )
            ]
        quiet = asked_only(self.preset, names) if self.poll is None else None
        if quiet is None:
            return []
        i, ask = quiet
        label = self._setup_label(i)
        return [
            (
                f"setup[{i}]",
                f"{label} makes the {model} send only when asked, and no poll asks "
                f'it: add poll = {{ command = "{ask}", interval_s = 2 }} (any interval), or '
                f"leave out {label}",
            )
        ]

    def _modbus_rate_problems(self) -> list[tuple[str, str]]:
        """A Modbus device's ``sampling_rate_hz``, which no poll reads: its readings come
        every ``modbus.interval_s``."""
        rate = self.sampling_rate_hz
        if self.format != "modbus" or rate == SensorConfig.sampling_rate_hz.default:
            return []
        return [
            (
                "sampling_rate_hz",
                f"is not used by format 'modbus', got {rate:g}: a Modbus device is read every "
                f"modbus.interval_s (modbus = {{ interval_s = {1 / rate:g} }} for {rate:g} a "
                "second)",
            )
        ]

    def _modbus_problems(self) -> list[tuple[str, str]]:
        if self.format != "modbus":
            problems = []
            if self.modbus is not None:
                problems.append(("modbus", "is only used by format 'modbus'"))
            if self.registers:
                problems.append(("registers", "is only used by format 'modbus'"))
            if self.address.scheme == MODBUS_TCP_SCHEME:
                problems.append(("port", f"{self.port} is only read with format 'modbus'"))
            return problems
        problems = _duplicates("registers", [_loaded_name(r) for r in self.registers], "name")
        if not self.registers:
            problems.append(("registers", "format 'modbus' needs at least one register"))
        if self.poll is not None:
            problems.append(("poll", "is not used by format 'modbus' (see modbus.interval_s)"))
        if self.simulate == "always" and not self.address.is_simulated:
            problems.append(
                ("simulate", "a Modbus device is simulated on a sim:// bus: name one as its port")
            )
        device = self.modbus_device
        unit = device.unit
        serial = self.address.scheme != MODBUS_TCP_SCHEME
        if serial and unit not in SERIAL_UNITS and not (unit == 0 and device.broadcast_reads):
            problems.append(
                (
                    "modbus.unit",
                    f"must be in [1, 255] on a serial line, got {unit} (0 is the broadcast "
                    "address, which no device answers; 0..255 are taken over modbus-tcp://; "
                    "a device that answers reads at 0 all the same, as a Seplos V3 BMS does, "
                    "takes modbus.broadcast_reads = true)",
                )
            )
        if device.broadcast_reads and unit != 0:
            problems.append(
                (
                    "modbus.broadcast_reads",
                    f"reads a device at unit 0, the broadcast address; modbus.unit is {unit}",
                )
            )
        if serial and unit == 0 and device.setup:
            problems.append(
                (
                    "modbus.setup",
                    "a write to unit 0 on a serial line is a broadcast: every device of the "
                    "line takes it, and none answers it",
                )
            )
        return problems

    def _modbus_field_problems(self) -> list[tuple[str, str]]:
        """Channels that read no register, and registers that no channel reads."""
        if self.format != "modbus":
            return []
        problems = []
        if not all(r.complete for r in self.registers):
            return []  # a channel's register, or a register's channel, may be the one in error
        names = {r.name for r in self.registers}
        fields = {c.source_field for c in self.channels}
        for i, ch in enumerate(self.channels):
            if ch.source_field not in names:
                close = closest(ch.source_field, sorted(names))
                hint = (
                    f"; did you mean {close!r}?"
                    if close
                    else f" (the registers: {', '.join(r.name for r in self.registers)})"
                    if self.registers
                    else ""
                )
                problems.append(
                    (f"channels[{i}].field", f"no register is named {ch.source_field!r}{hint}")
                )
        factors = {r.scale_register for r in self.registers} | {
            r.status_register for r in self.registers
        }
        for i, reg in enumerate(self.registers):
            if reg.name not in fields and reg.name not in factors:
                problems.append((f"registers[{i}].name", f"no channel reads {reg.name!r}"))
        return problems
