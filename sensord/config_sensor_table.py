"""A sensor's table, ``[[sensors]]``, as its keys: ``SensorTable``.

Its keys (a device's port, format, preset, pace, set-up commands, polls and channels, with
their own tables from ``sensord.config_tables``), filled in from a preset when it is loaded,
and what the daemon builds from them: the parsed port, the format's spec, the Modbus map, the
stale time, the bytes of polls and set-up commands, the simulation. ``SensorConfig``
(``sensord.config_sensor``) is this table with the checks of its keys against each other.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Mapping
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
    _NAME,
    _NAME_DOC,
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
)
from sensord.errors import Problem
from sensord.formats import FORMATS
from sensord.formats.base import FormatSpec, ModbusSpec, RegisterSpec
from sensord.formats.frame_keys import PRESET_NAMES
from sensord.formats.modbus_keys import SUNSPEC_NOT_AVAILABLE, WIDTHS, not_available_bits
from sensord.schema import Schema
from sensord.schema_fields import (
    Bool,
    Bytes,
    Choice,
    Float,
    Int,
    Section,
    SectionList,
    SectionOrStrList,
    Str,
)
from sensord.signals import SignalSpec, SimulationSpec

if TYPE_CHECKING:
    from sensord.formats.acks import Ack

__all__ = ["SensorTable"]


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


class SensorTable(Schema):
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
