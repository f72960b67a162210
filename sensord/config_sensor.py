"""A sensor's table, ``[[sensors]]``: ``SensorConfig``.

Its keys (a device's port, format, preset, pace, set-up commands, polls and channels, with
their own tables from ``sensord.config_tables``), filled in from a preset when it is loaded;
the checks of its keys against each other, for its format (frames, Modbus registers, polls,
set-up commands); and what the daemon builds from them (the format's spec, the Modbus map, the
stale time, the polls' and set-up commands' bytes, the simulation).
"""

from __future__ import annotations

import os
import re
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Self

from sensord.address import (
    KNOWN_SCHEMES,
    MODBUS_TCP_SCHEME,
    REPLAY_SCHEME,
    PortAddress,
    parse_address,
)
from sensord.capture import capture_header
from sensord.config_tables import (
    _HEX_AS_TEXT,
    _NAME,
    _NAME_DOC,
    _PARSE_KEY_FORMATS,
    CONNECT_DELAY_MAX_S,
    MAX_FRAME_INTERVAL_S,
    ChannelConfig,
    FrameConfig,
    ModbusConfig,
    ParseConfig,
    PollConfig,
    ReconnectConfig,
    RegisterConfig,
    ReplayConfig,
    SerialConfig,
    SetupCommandConfig,
    SimulationConfig,
    _duplicates,
)
from sensord.errors import NotMeasuredError, ParseError, Problem
from sensord.formats import FORMATS, codec_for
from sensord.formats.base import (
    FormatSpec,
    ModbusSpec,
    RegisterSpec,
)
from sensord.formats.frame_keys import PRESET_NAMES
from sensord.formats.modbus_keys import (
    SERIAL_UNITS,
    SUNSPEC_NOT_AVAILABLE,
    WIDTHS,
    not_available_bits,
)
from sensord.schema import (
    Bool,
    Bytes,
    Choice,
    Float,
    Int,
    Schema,
    Section,
    SectionList,
    SectionOrStrList,
    Str,
    UnloadedFieldError,
    closest,
)
from sensord.signals import SignalSpec, SimulationSpec

if TYPE_CHECKING:
    from sensord.formats.acks import Ack

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


def _tell_unit_ids_in_channels(
    errors: list[str], start: int, path: str, sensor: Mapping[str, Any]
) -> None:
    """Tell, in the lines of ``errors`` from ``start`` on, that a Modbus sensor's channel key
    that names a unit id (``unit = 1``, ``slave = 1``) is the device's ``modbus.unit``: a
    channel's ``unit`` with a number is no unit label (the message of a ``unit`` that is one)."""
    channels = sensor.get("channels")
    if not isinstance(channels, list):
        return
    told: dict[str, str] = {}
    for i, channel in enumerate(channels):
        if not isinstance(channel, Mapping):
            continue
        for key, value in channel.items():
            word = str(key).lower()
            number = isinstance(value, int) and not isinstance(value, bool)
            if (word == "unit" and number) or ModbusConfig._synonyms.get(word) == "unit":
                # the words above are bare keys: the path shows them as written
                told[f"{path}.channels[{i}].{key}"] = (
                    "unknown key; a Modbus device's unit id is its sensor's, not a channel's: "
                    f"{path}.modbus.unit ([sensors.modbus] unit = {value if number else 'N'})"
                )
    if told:
        errors[start:] = [
            Problem(line.key, told[line.key] + "".join(line.message.partition(" (known: ")[1:]))
            if isinstance(line, Problem)
            and line.key in told
            and line.message.startswith("unknown key")
            else line
            for line in errors[start:]
        ]


def _merged_poll(preset_poll: Mapping[str, Any], poll: Mapping[str, Any]) -> dict[str, Any]:
    """A preset's ``poll`` table with the keys of the sensor table's own ``poll`` over it
    (``poll = { interval_s = 10 }`` keeps the preset's request). A ``request`` or
    ``command`` in the sensor's poll replaces the preset's, since a poll writes one of them."""
    merged = dict(preset_poll)
    if "request" in poll or "command" in poll:
        merged.pop("request", None)
        merged.pop("command", None)
    return {**merged, **poll}


def _check_rate(rate_hz: float) -> str | None:
    """What is wrong with a ``sampling_rate_hz`` (above 0) slower than one frame in
    ``MAX_FRAME_INTERVAL_S``: a sensor that sends more seldom than any stale time allows is
    never up, and a rate near 0 leaves no time for a frame at all."""
    if 1.0 / rate_hz <= MAX_FRAME_INTERVAL_S:
        return None
    return (
        f"must be at least 1/{MAX_FRAME_INTERVAL_S} (one frame a day, the longest "
        f"stale_after_s), got {rate_hz:g}"
    )


def _check_port(value: str) -> str | None:
    if value.strip() != value and value.strip():
        # no device node or URL has one; the path would not exist, and simulate = "auto"
        # would stand in for a device that is there
        where = "start" if value[0].isspace() else "end"
        return f"has white space at its {where}, got {value!r}; did you mean {value.strip()!r}?"
    try:
        address = parse_address(value)
    except ValueError as exc:
        return str(exc)
    endpoint = address.endpoint
    if endpoint is not None and endpoint[2] == 0:
        # a client cannot connect to port 0: the daemon would retry it for ever
        example = 502 if endpoint[0] == MODBUS_TCP_SCHEME else 4001
        return (
            f"names TCP port 0, on which no server is reached, got {value!r}; give the port "
            f"the server serves the device on ({value.rsplit(':', 1)[0]}:{example}, say)"
        )
    if address.is_device and not os.path.isabs(value):
        scheme, colon, rest = value.partition(":")
        if colon and scheme.lower() in KNOWN_SCHEMES:  # sim:/boiler, socket:host:4001
            slashes = "///" if scheme.lower() == REPLAY_SCHEME else "//"
            meant = f"{scheme}:{slashes}{rest.lstrip('/')}"
            try:
                parse_address(meant)
            except ValueError:  # socket:host: a network URL without its port
                meant = f"{scheme}://HOST:PORT"
                return f"is not a device path or a URL, got {value!r}; write it {meant}"
            return f"is not a device path or a URL, got {value!r}; did you mean {meant!r}?"
        return (
            f"must be an absolute device path (/dev/ttyUSB0, /dev/serial/by-id/...) or a URL "
            f"(sim://NAME, socket://HOST:PORT, ...), got {value!r}"
        )
    return None


def _loaded_name(entry: SensorConfig | RegisterConfig) -> str | None:
    """The sensor's or register's name, or None when it failed to load."""
    try:
        return entry.name
    except UnloadedFieldError:
        return None


class SensorConfig(Schema):
    """``[[sensors]]``: one device (or simulated device) and its channels.

    ``preset`` names a known binary sensor (``sensord.formats.presets``): when the table is
    loaded, every key of the preset that the table does not give is filled in from it, and a
    ``poll`` of the table's own is merged key by key with the preset's (``_merged_poll``).
    ``setup`` lists the commands written on every connect, in order: preset commands (``name``
    or ``name=N``) and commands written as bytes (tables, :class:`SetupCommandConfig`, for
    ``format = "frames"``); the acknowledgements of those the device answers are checked
    (``sensord.sensor``). A set-up that leaves the device asleep, or sending only when asked
    (PMS ``passive_mode``, SDS011 ``query_mode``) with no ``poll``, is refused: the sensor
    would fall silent for good. Bytes that are a preset command's are judged as that command;
    what other bytes do to a device, sensord cannot tell.
    ``connect_delay_s`` holds the set-up commands and the first poll back that long after each
    open of the port (a device the open restarts, an Arduino board that DTR resets, takes no
    command while it boots); what it sends meanwhile is read as always. It means nothing to
    a sensor that writes neither, nor to a Modbus device (its ``modbus.connect_delay_s``), and
    is shorter than the sensor's ``stale_after``.
    ``warmup_s``: when the device may just have been powered (the first open of its port,
    or an open after its device path was gone), its frames are read for this long but their
    values are not published (a sensor that reports while it warms up).
    ``warmup_after_silence``: a device that streams warms up again when its frames come again
    after it was stale (a silence means it slept or lost power: a PMS on its SET pin or a
    switched supply); off for a device silent between measurements by design (an SDS011 on a
    working period), and a polled device warms up again so anyway. Off, a device of binary
    frames warms up again when its first frame after it was stale reads 0 in every field (an
    SDS011 powered anew).
    """

    _synonyms: ClassVar[dict[str, str]] = {
        "device": "port",
        "path": "port",
        "url": "port",
        "tty": "port",
        "baud": "serial.baudrate",
        "baud_rate": "serial.baudrate",
        "speed": "serial.baudrate",
        "protocol": "format",
        "rate_hz": "sampling_rate_hz",
    }
    #: a channel's keys (``window``, ``filter``, ``normalize = { scale = 0.1 }``) and a
    #: register's (``address``, ``type``) written in the sensor's table are told to go in
    #: each of its channels or registers
    _per_entry: ClassVar[tuple[str, ...]] = ("channels", "registers")

    @classmethod
    def _entry_order(cls, data: Mapping[str, Any]) -> tuple[str, ...]:
        """A Modbus sensor's registers first (one with registers given): a key both take
        (``not_available``) is a register's there, and a text channel's in the other formats."""
        if data.get("format") == "modbus" or "registers" in data:
            return ("registers", "channels")
        return cls._per_entry

    name = Str(pattern=_NAME, pattern_doc=_NAME_DOC)
    port = Str(
        check=_check_port,
        example='"/dev/ttyUSB0": a device path or a URL (socket://HOST:PORT), as text',
    )
    simulate = Choice(("auto", "always", "never"), default="auto")
    preset = Choice(PRESET_NAMES, optional=True)
    format = Choice(
        FORMATS,
        when_missing=f"give the protocol the device speaks, one of {', '.join(FORMATS)} (a "
        'known binary sensor takes a preset instead: preset = "pms5003")',
    )
    sampling_rate_hz = Float(above=0, max=100_000, default=1.0, check=_check_rate)
    stale_after_s = Float(above=0, max=MAX_FRAME_INTERVAL_S, optional=True)
    warmup_s = Float(min=0, max=3600, default=0.0)
    warmup_after_silence = Bool(default=False)
    terminator = Bytes(default=b"\n")
    max_frame_bytes = Int(min=16, max=1_048_576, default=512)
    serial = Section(SerialConfig)
    poll = Section(PollConfig, optional=True)
    setup = SectionOrStrList(SetupCommandConfig, max_items=64)
    connect_delay_s = Float(min=0, max=CONNECT_DELAY_MAX_S, default=0.0)
    reconnect = Section(ReconnectConfig)
    replay = Section(ReplayConfig)
    parse = Section(ParseConfig)
    frame = Section(FrameConfig, optional=True)
    #: a device table with errors still gives its unit id to the bus's checks
    modbus = Section(ModbusConfig, optional=True, keep_partial=True)
    #: a map whose entries do not all load is still checked as far as they do (check_partial)
    registers = SectionList(RegisterConfig, max_items=1024, keep_partial=True)
    simulation = Section(SimulationConfig)
    channels = SectionList(
        ChannelConfig,
        min_items=1,
        max_items=256,
        when_missing="add a [[sensors.channels]] table below the sensor's keys for each value "
        'the device sends, with its name: name = "temperature_celsius"',
    )

    @classmethod
    def load_partial(cls, data: object, path: str, errors: list[str]) -> Self | None:
        unknown_preset = False
        if isinstance(data, Mapping) and "preset" in data:
            from sensord.formats.presets import PRESETS  # noqa: PLC0415  (loaded by a sensor with a preset or set-up)

            name = data.get("preset")
            preset = PRESETS.get(name) if isinstance(name, str) else None
            if preset is not None:
                merged = {**preset, **data}
                poll = data.get("poll")
                if isinstance(poll, Mapping) and "poll" in preset:
                    merged["poll"] = _merged_poll(preset["poll"], poll)
                data = merged
            unknown_preset = preset is None
        before = len(errors)
        loaded = super().load_partial(data, path, errors)
        if unknown_preset:
            # the keys a preset fills in are missing because the preset is: say only that
            filled = {f"{path}.{key}" for key in ("format", "channels")}
            errors[before:] = [
                line
                for line in errors[before:]
                if not (
                    isinstance(line, Problem)
                    and line.key in filled
                    and line.message.startswith("required key is missing")
                )
            ]
        if isinstance(data, Mapping) and data.get("format") == "modbus":
            _tell_unit_ids_in_channels(errors, before, path, data)
        return loaded

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
            from sensord.formats.frames import encoded_length, kind_lengths  # noqa: PLC0415  (loaded by a sensor of binary frames)

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

    def setup_names(self) -> tuple[str, ...]:
        """Each set-up command by name: a preset command's, for bytes that are the preset's
        command (what they do to its device is known), else its bytes in hex."""
        if self.preset is None:  # bytes that are no preset's command
            return tuple(c if isinstance(c, str) else c.name for c in self.setup)
        from sensord.formats.presets import command_named  # noqa: PLC0415  (loaded by a sensor with a preset or set-up)

        return tuple(
            command
            if isinstance(command, str)
            else command_named(self.preset, command.command) or command.name
            for command in self.setup
        )

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

    @property
    def address(self) -> PortAddress:
        """The parsed ``port`` (validated when the value was assigned)."""
        return parse_address(self.port)

    @property
    def is_modbus(self) -> bool:
        return self.format == "modbus"

    @property
    def on_bus(self) -> bool:
        """True for a Modbus device read through its bus's exchanges; a ``replay://`` port
        plays recorded exchanges back instead, like any other capture."""
        return self.is_modbus and not self.address.is_replay

    @property
    def modbus_device(self) -> ModbusConfig:
        """``[sensors.modbus]``, or its defaults when the table is absent."""
        return self.modbus if self.modbus is not None else ModbusConfig()

    @property
    def modbus_unit(self) -> int:
        return self.modbus_device.unit

    def modbus_spec(self) -> ModbusSpec | None:
        """The device and its register map, with ``ref`` resolved and the device's orders
        applied where a register gives none; None for other formats. The transport is the
        port's: Modbus TCP for a ``modbus-tcp://`` port, and for a ``replay://`` port whose
        capture was made on one (its ``port`` header), else RTU."""
        if self.format != "modbus":
            return None
        device = self.modbus_device
        registers = []
        entries = [r for r in self.registers if r.complete]  # all but in check_partial
        names = {r.name for r in entries}
        for reg in entries:
            table, address = reg.location()
            not_available = [not_available_bits(reg.value_type, v) for v in reg.not_available]
            sunspec = SUNSPEC_NOT_AVAILABLE.get(
                # a bit field's registers: SunSpec's bitfield16/32 value, all ones
                f"uint{16 * WIDTHS[reg.value_type]}"
                if reg.bit is not None or reg.bits is not None
                else reg.value_type
            )
            if device.sunspec_not_available and sunspec is not None:
                not_available.append(sunspec)
            registers.append(
                RegisterSpec(
                    name=reg.name,
                    table=table,
                    address=address,
                    type=reg.value_type,
                    byte_order=reg.byte_order or device.byte_order,
                    word_order=reg.word_order or device.word_order,
                    not_available=tuple(dict.fromkeys(not_available)),
                    bit=reg.bit if reg.bit is not None or reg.bits is None else 0,
                    bits=reg.bits or 1,
                    sign=reg.sign,
                    # a factor among the entries in error is checked once they load
                    scale_register=reg.scale_register
                    if reg.scale_register in names
                    else None
                    if len(entries) < len(self.registers)
                    else reg.scale_register,
                    status_register=reg.status_register
                    if reg.status_register in names
                    else None
                    if len(entries) < len(self.registers)
                    else reg.status_register,
                    status_mask=reg.status_mask,
                    status_ok=tuple(int(v) for v in reg.status_ok) or (0,),
                )
            )
        scheme = self.address.scheme
        if self.address.is_replay:  # the port the capture was made on
            recorded = capture_header(self.address.path).get("port", "")
            scheme = recorded.partition("://")[0] if "://" in recorded else ""
        transport = "tcp" if scheme == MODBUS_TCP_SCHEME else "rtu"
        return ModbusSpec(
            device.unit,
            transport,
            tuple(registers),
            device.max_gap,
            device.max_registers,
            tuple(write.spec(device) for write in device.setup),
        )

    @property
    def stale_after(self) -> float:
        """Seconds without a frame after which the sensor counts as stale (not up):
        ``stale_after_s`` when given, else three frame (or poll) intervals and at least 5 s
        (of a poll with several requests written in turn, three rounds of them: the values of
        one request come once a round), and for an SDS011 whose set-up gives a working period
        of N > 0 minutes (one frame every N minutes) at least N minutes and
        ``WORKING_PERIOD_MARGIN_S``."""
        if self.stale_after_s is not None:
            return self.stale_after_s
        return self._default_stale_after()

    def _default_stale_after(self) -> float:
        """``stale_after`` when ``stale_after_s`` is left out (see :attr:`stale_after`)."""
        if self.format == "modbus":
            interval = self.modbus_device.interval_s
        elif self.poll:
            interval = self.poll.interval_s * len(self.poll_requests())
        else:
            interval = 1.0 / self.sampling_rate_hz
        stale = max(5.0, 3.0 * interval)
        if self.preset is None:  # a working period is an SDS011's
            return stale
        from sensord.formats.presets import WORKING_PERIOD_MARGIN_S, working_period_s  # noqa: PLC0415  (loaded by a sensor with a preset or set-up)

        period = working_period_s(self.preset, self.setup_names())
        if period > 0:
            stale = max(stale, period + WORKING_PERIOD_MARGIN_S)
        return stale

    def poll_requests(self) -> tuple[bytes, ...]:
        """The bytes the polls write in turn: ``poll.request``, or the preset's
        ``poll.command``."""
        assert self.poll is not None
        if self.poll.request:
            return self.poll.request
        assert self.poll.command is not None  # PollConfig.check makes sure one is given
        from sensord.formats.presets import command_bytes  # noqa: PLC0415  (loaded by a sensor with a preset or set-up)

        return (command_bytes(self.preset, self.poll.command),)

    def setup_steps(self) -> tuple[tuple[str, bytes, tuple[Ack, ...]], ...]:
        """``(command, bytes, replies)`` of each ``setup`` command in order: its name (a
        command written as bytes: its hex), what is written, and the replies it may get (the
        first acknowledges or refuses it; empty for a command the device does not answer)."""
        steps: list[tuple[str, bytes, tuple[Ack, ...]]] = []
        for command in self.setup:
            if isinstance(command, str):
                from sensord.formats.presets import command_ack, command_bytes  # noqa: PLC0415  (loaded by a sensor with a preset or set-up)

                ack = command_ack(self.preset, command)
                data = command_bytes(self.preset, command)
                steps.append((command, data, () if ack is None else (ack,)))
            else:
                steps.append((command.name, command.command, command.acks()))
        return tuple(steps)

    def setup_queries(self) -> tuple[tuple[bytes, Ack] | None, ...]:
        """Of each ``setup`` command in order, the query that asks the device for the setting
        it stores, and the reply that tells the setting is in force
        (``sensord.formats.presets.command_query``): a command by name of a preset whose
        device keeps the setting in a memory each write wears (the SDS011's reporting mode
        and working period); None for every other command, written without asking."""
        queries: list[tuple[bytes, Ack] | None] = []
        for command in self.setup:
            if isinstance(command, str):
                from sensord.formats.presets import command_query  # noqa: PLC0415  (loaded by a sensor with a preset or set-up)

                queries.append(command_query(self.preset, command))
            else:
                queries.append(None)
        return tuple(queries)

    def format_spec(self) -> FormatSpec:
        p = self.parse
        return FormatSpec(
            format=self.format,
            fields=tuple((c.name, c.source_field) for c in self.channels),
            pattern=p.pattern,
            example=p.example[0] if p.example else None,
            more_examples=p.example[1:],
            pair_separator=p.pair_separator,
            kv_separator=p.kv_separator,
            delimiter=p.delimiter,
            columns=p.columns,
            header=p.header,
            units=p.units,
            channel_units=tuple((c.name, c.units) for c in self.channels if c.units),
            channel_states=tuple((c.name, c.states) for c in self.channels if c.states),
            channel_not_available=tuple(
                (c.name, tuple(map(float, c.not_available)))
                for c in self.channels
                if c.not_available
            ),
            invalid=p.invalid,
            decimal=p.decimal,
            nul_padding=p.nul_padding,
            encoding=p.encoding,
            ignore=p.ignore,
            block=p.block,
            crc=p.crc,
            checksum=p.checksum,
            frame=self.frame.spec() if self.frame is not None else None,
            modbus=self.modbus_spec(),
        )

    def simulation_spec(self) -> SimulationSpec:
        s = self.simulation
        seed = s.seed if s.seed is not None else zlib.crc32(self.name.encode())
        return SimulationSpec(
            seed=seed,
            spike_rate=s.spike_rate,
            garbage_rate=s.garbage_rate,
            dropout_rate=s.dropout_rate,
            dropout_s=s.dropout_s,
        )

    def signal_specs(self) -> dict[str, SignalSpec]:
        return {c.source_field: c.signal_spec() for c in self.channels}
