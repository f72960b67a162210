"""``sensord modbus read``: one read request to a Modbus device, its answer printed raw and
decoded as every type in all four byte/word orders, to match a device's manual to
``[[sensors.registers]]`` in one command.

The port, unit id and serial settings come from the command line or from a sensor of the
configuration (``--sensor``); the port is opened exclusively (a bus has one master).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import math
import sys
import time

from sensord.address import MODBUS_TCP_SCHEME, parse_address
from sensord.bus_echo import GLITCH_BYTES, GLITCH_MAX
from sensord.config import DEFAULT_CONFIG_PATH, load_config
from sensord.config_tables import CONNECT_DELAY_MAX_S
from sensord.errors import EXIT_INVALID, EXIT_OK, EXIT_USAGE, ConfigError, SourceError
from sensord.formats.base import looks_like_text
from sensord.formats.modbus import ModbusLink, Response, crc16, exception_named
from sensord.formats.modbus_keys import (
    MAX_BITS,
    MAX_REGISTERS,
    MAX_RETRIES,
    SERIAL_UNITS,
    parse_reference,
    reference_read_as_address,
)
from sensord.formats.modbus_plan import Read
from sensord.formats.modbus_pymodbus import FUNCTION_CODES
from sensord.modbus_state import BUSY_CODES, GATEWAY_CODES
from sensord.modbus_timing import (
    char_s,
    silence_s,
)
from sensord.port_slack import port_slack
from sensord.ports import SYS_ROOT
from sensord.probe_format import format_read
from sensord.probe_wire import (
    PROBE_TRANSACTION_ID,
    LateAnswers,
    OtherUnits,
    await_response,
    drain_after_timeout,
    miscount_told,
    told_by_unit,
)
from sensord.serial_settings import SerialSettings
from sensord.sources.serial_port import SerialSource

__all__ = ["modbus_read"]


def _probe_target(args: argparse.Namespace) -> tuple[str, int, SerialSettings] | int:
    """The probe's port, unit id and serial settings: from ``--sensor`` of the config (when
    given), each replaced by the option given on the command line; an exit code when the
    sensor cannot be found or no port is given. ``args.timeout`` and ``args.connect_delay``
    are set too: those given, else the sensor's (its response timeout when longer than the
    probe's own :data:`PROBE_TIMEOUT_S`), else the probe's; ``args.gap`` likewise (else 0);
    ``args.busy_retries`` and ``args.busy_wait``: the sensor's, else
    :data:`PROBE_BUSY_RETRIES` and :data:`PROBE_BUSY_WAIT_S`; and ``args.retries``: the one
    given, else the sensor's ``modbus.retries``, else 0; ``args.sensor_timeout``: the
    sensor's ``modbus.timeout_s`` (None without ``--sensor``); ``args.broadcast_reads``: the
    sensor's ``modbus.broadcast_reads`` (unit 0 is probed on a serial line only so);
    ``args.bus_units``: the unit ids of the other Modbus devices of the sensor's port (none
    without ``--sensor``), whose frames never answer a read at unit 0."""
    for option, value, lowest, highest in (
        ("--timeout", args.timeout, 0.001, TIMEOUT_MAX_S),
        ("--connect-delay", args.connect_delay, 0.0, CONNECT_DELAY_MAX_S),
        ("--gap", args.gap, 0.0, 10),
    ):
        # the bounds of modbus.timeout_s, modbus.connect_delay_s and modbus.gap_s
        if value is not None and not lowest <= value <= highest:
            print(
                f"sensord: {option} must be in [{lowest:g}, {highest}] seconds, got {value:g}",
                file=sys.stderr,
            )
            return EXIT_USAGE
    if args.retries is not None and not 0 <= args.retries <= MAX_RETRIES:
        # the bounds of modbus.retries
        print(
            f"sensord: --retries must be in [0, {MAX_RETRIES}], got {args.retries}", file=sys.stderr
        )
        return EXIT_USAGE
    settings = SerialSettings()
    port: str | None = None
    unit = 1
    args.sensor_timeout = None
    args.broadcast_reads = False
    args.bus_units = frozenset()
    timeout_s, connect_delay_s, gap_s, retries = PROBE_TIMEOUT_S, 0.0, 0.0, 0
    args.busy_retries, args.busy_wait = PROBE_BUSY_RETRIES, PROBE_BUSY_WAIT_S
    if args.sensor is not None:
        path = args.config or DEFAULT_CONFIG_PATH
        try:
            config = load_config(path)
        except ConfigError as exc:
            print(f"sensord: invalid configuration: {exc}", file=sys.stderr)
            return EXIT_INVALID
        sensor = next((s for s in config.sensors if s.name == args.sensor), None)
        if sensor is None or not sensor.is_modbus:
            modbus = ", ".join(s.name for s in config.sensors if s.is_modbus) or "none"
            what = "no" if sensor is None else f"a {sensor.format!r} sensor, not a"
            print(
                f"sensord: {path}: {args.sensor!r} is {what} Modbus sensor "
                f"(Modbus sensors: {modbus})",
                file=sys.stderr,
            )
            return EXIT_INVALID
        settings = sensor.serial.settings()
        device = sensor.modbus_device
        port, unit = sensor.port, device.unit
        timeout_s = max(timeout_s, device.timeout_s)
        args.sensor_timeout = device.timeout_s
        args.broadcast_reads = device.broadcast_reads
        args.bus_units = frozenset(
            other.modbus_device.unit
            for other in config.sensors
            if other.is_modbus and other.port == sensor.port and other is not sensor
        )
        connect_delay_s, gap_s, retries = device.connect_delay_s, device.gap_s, device.retries
        args.busy_retries, args.busy_wait = device.busy_retries, device.busy_wait_s
    elif args.config is not None:
        print("sensord: --config is read for --sensor only", file=sys.stderr)
        return EXIT_USAGE
    if args.timeout is None:
        args.timeout = timeout_s
    if args.connect_delay is None:
        args.connect_delay = connect_delay_s
    if args.gap is None:
        args.gap = gap_s
    if args.retries is None:
        args.retries = retries
    port = args.port if args.port is not None else port
    if port is None:
        print("sensord: give the PORT, or --sensor NAME of a config", file=sys.stderr)
        return EXIT_USAGE
    given = {
        "baudrate": args.baudrate,
        "parity": args.parity,
        "bytesize": args.bytesize,
        "stopbits": args.stopbits,
        "local_echo": args.local_echo,
        "rs485": args.rs485,
    }
    settings = dataclasses.replace(
        settings,
        timeout_s=args.timeout,
        # a bus has one master: a port that sensord (or anything else) holds is refused,
        # naming the holder, rather than both masters' requests colliding on the line
        exclusive=True,
        **{key: value for key, value in given.items() if value is not None},
    )
    return port, unit if args.unit is None else args.unit, settings


def _unprobeable(args: argparse.Namespace, port: str, table: str, address: int) -> str:
    """Why the probe cannot read a ``sim://`` or ``replay://`` port, and for a simulated one
    how to probe it: its devices played on a pty by ``sensord simulate``."""
    named = port if args.sensor is None else f"{port} (sensor {args.sensor!r})"
    if parse_address(port).is_replay:
        return f"{named}: a replayed capture, which answers no request; probe the device itself"
    config = (args.config or DEFAULT_CONFIG_PATH) if args.sensor is not None else "FILE"
    read = f"--unit {args.unit} --{table} {address}"
    if args.count != 1:
        read += f" --count {args.count}"
    return (
        f"{named}: a simulated port, which has no device outside the daemon to ask; play its "
        f"devices on a pty and probe that: sensord simulate -c {config} --sensor "
        f"{args.sensor or 'NAME'} --link /tmp/ttySIM, then sensord modbus read /tmp/ttySIM {read}"
    )


def modbus_read(args: argparse.Namespace) -> int:
    """``sensord modbus read``: one read request, its answer printed raw and decoded every
    way; the exit code."""
    table = next(
        t for t in ("holding", "input", "coil", "discrete") if getattr(args, t) is not None
    )
    address: int = getattr(args, table)
    problem = _read_problem(table, address, args.count)
    if problem is not None:
        print(f"sensord: {problem}", file=sys.stderr)
        return EXIT_USAGE
    probed = _probe_target(args)
    if isinstance(probed, int):
        return probed
    port, unit, settings = probed
    args.unit = unit
    try:
        target = parse_address(port)
    except ValueError as exc:
        print(f"sensord: {port}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if target.is_simulated or target.is_replay:
        print(f"sensord: {_unprobeable(args, port, table, address)}", file=sys.stderr)
        return EXIT_USAGE
    tcp = target.scheme == MODBUS_TCP_SCHEME
    broadcast = args.unit == 0 and args.broadcast_reads
    if args.unit not in (TCP_UNITS if tcp else SERIAL_UNITS) and not broadcast:
        print(f"sensord: {_unit_problem(args.unit, tcp)}", file=sys.stderr)
        return EXIT_USAGE
    link = ModbusLink("tcp" if tcp else "rtu")
    read = Read(table, address, args.count, ())
    # how long the port's adapter may hold the rest of an answer begun, as the daemon's bus
    # reads it (an FTDI latency timer from sysfs, a serial server's packets)
    slack = port_slack(
        target.text, char_s(settings), network=target.kind == "network", sys_root=SYS_ROOT
    )
    slack_s = slack.slack_s
    if not tcp and (told := slack.told()) is not None:
        print(told, file=sys.stderr)
    source = SerialSource(PROBE_SOURCE, target.text, settings)
    function = FUNCTION_CODES[table]
    other: Response | None = None
    busy = 0  # the reads asked again after a busy answer
    busy_late = 0  # the busy answers that came after the timeout
    late = LateAnswers()
    # frames of other unit ids on an RTU line (another master's exchanges): told in one line
    # per request, and, when the unit never answers, as the line that works
    others = OtherUnits()
    try:
        with source:
            # a device (a Huawei inverter's dongle) that ignores requests for a while after
            # each connect: waited out as the daemon does (modbus.connect_delay_s)
            time.sleep(args.connect_delay)
            # each request over Modbus TCP has a transaction id of its own: a gateway's late
            # answer to an earlier one (its 0x0B after the probe's timeout) is told from the
            # answer to the one in flight
            transaction_id = PROBE_TRANSACTION_ID
            sent_at = late.sent_at[transaction_id] = time.monotonic()
            source.write(link.request(args.unit, read, transaction_id))
            received = bytearray()
            response, miscounted = await_response(
                source,
                link,
                args,
                function,
                received,
                late=late,
                settings=settings,
                others=others,
                slack_s=slack_s,
            )
            # a device busy (0x06) or still working on an earlier request (0x05) is asked again
            # a while later, as the daemon asks it (modbus.busy_wait_s, busy_retries), and
            # no sooner than the line's inter-frame silence and the device's gap after it
            # (modbus.gap_s), as the daemon's bus keeps the line quiet after each exchange
            quiet_s = (0.0 if tcp else silence_s(settings)) + args.gap
            wait_s = max(args.busy_wait, quiet_s)
            # why each read asked again went unanswered (0: its timeout, else the gateway's
            # exception)
            missed: list[int] = []
            while True:
                unanswered = response is None and miscounted is None
                if unanswered and not tcp:
                    # the device may still be answering: before it is asked again, and before
                    # the probe tells what came, it is drained as the daemon's bus drains it,
                    # its late answer taken for what it is (an RTU answer names no request)
                    drain_after_timeout(
                        source,
                        link,
                        args,
                        function,
                        late,
                        sent_at=sent_at,
                        settings=settings,
                        received=received,
                        others=others,
                        slack_s=slack_s,
                    )
                elif unanswered and len(missed) >= args.retries:
                    # over Modbus TCP a gateway answers each request once, however late: the
                    # answer to the last one is waited for as on RTU (its drain, above), as
                    # long as the timeout again, and told for what it is
                    _, miscounted = await_response(
                        source,
                        link,
                        args,
                        function,
                        received,
                        quiet=True,  # what came is told below, as the answer or late
                        transaction_id=transaction_id + 1,
                        late=late,
                    )
                    last = late.exception
                    if last is not None and last.transaction_id == transaction_id:
                        # the gateway's word on the last request (its 0x0B: the device did
                        # not answer it within the gateway's own, longer timeout) is the
                        # answer the probe tells, not "nothing came"
                        response = last
                # a busy answer that came late is the answer of this request, which is asked
                # again as after a busy answer in time; one to an earlier request over Modbus
                # TCP came while the one asked again was in flight, which has its own
                late_busy = late.busy_answer()
                if (
                    late_busy is not None
                    and response is None
                    and miscounted is None
                    and (not tcp or late_busy.transaction_id == transaction_id)
                ):
                    response, unanswered = late_busy, False
                    busy_late += 1
                skipped = others.summary()  # this request's, before and after its timeout
                if skipped is not None:
                    print(skipped, file=sys.stderr)
                if (
                    unanswered
                    or (response is not None and response.exception_code in GATEWAY_CODES)
                ) and len(missed) < args.retries:
                    # a request the line lost or the device missed (the gateway's 0x0A or
                    # 0x0B for it) is asked again, as the daemon asks it (modbus.retries),
                    # once the line is quiet (on RTU once the device is drained, above). An
                    # answer of another count is an answer (a device that does not follow
                    # the protocol): it is told, not asked again
                    missed.append(0 if response is None else response.exception_code)
                    if not unanswered or tcp:
                        time.sleep(quiet_s)
                elif (
                    response is not None
                    and response.exception_code in BUSY_CODES
                    and busy < args.busy_retries
                ):
                    busy += 1
                    time.sleep(wait_s)
                else:
                    break
                transaction_id += 1
                sent_at = late.sent_at[transaction_id] = time.monotonic()
                source.write(link.request(args.unit, read, transaction_id))
                response, miscounted = await_response(
                    source,
                    link,
                    args,
                    function,
                    received,
                    transaction_id=transaction_id,
                    late=late,
                    settings=settings,
                    others=others,
                    slack_s=slack_s,
                )
            # how long after its request the answer taken came (the loop ends as it comes; a
            # read at unit 0 waits out its timeout after the answer it took)
            answered_s = max(others.taken_at, sent_at) if others.answered else time.monotonic()
            answered_s -= sent_at
            if missed:
                print(_unanswered_note(args, missed, response, late), file=sys.stderr)
            if response is not None and not tcp and crc16(response.frame):
                # taken with its CRC's bytes swapped (``ModbusLink``), as the daemon takes it
                print(SWAPPED_CRC_NOTE, file=sys.stderr)
            if late.came:
                print(_late_note(args, late), file=sys.stderr)
            if busy:
                print(_busy_note(args, busy, busy_late, response, wait_s), file=sys.stderr)
            # a refusal that came late is told as one in time: the other table is asked with
            # a timeout that takes as late an answer
            refusal = response if response is not None else late.response
            if refusal is not None and _other_table_may_hold(table, refusal):
                other = _read_other_table(
                    source,
                    link,
                    args,
                    read,
                    quiet_s,
                    transaction_id=transaction_id + 1,
                    settings=settings,
                    slack_s=slack_s,
                    timeout_s=args.timeout
                    if response is not None
                    else max(args.timeout, min(_timeout_for(late.after_s), TIMEOUT_MAX_S)),
                )
    except SourceError as exc:
        print(f"sensord: {str(exc).removeprefix(f'sensor {PROBE_SOURCE!r}: ')}", file=sys.stderr)
        return EXIT_INVALID
    taken = response if response is not None else late.response
    if taken is not None and not tcp and taken.unit != args.unit:
        print(_answered_from_note(args, taken.unit), file=sys.stderr)
    # two devices that answer reads at unit 0 on one line: which one's values came is chance
    collided = len(others.answered) > 1
    if collided and taken is not None:
        print(_answerers_note(args, taken.unit, others.answered), file=sys.stderr)
    if response is None and late.response is not None:
        # only late answers came: what the device answered is shown (its registers are its
        # values), and the read failed with these settings (the note above says the timeout
        # that takes it)
        if late.response.exception_code:
            _tell_refusal(args, table, address, late.response, other, tcp=tcp)
        else:
            print(format_read(table, address, late.response.words[: args.count]))
        return EXIT_INVALID
    exact = table in ("holding", "input")
    miscounted = miscounted or late.miscounted
    if response is None and miscounted is not None and not tcp:
        told = miscount_told(miscounted, args.count, exact)
        if told is not None:  # the device answered: no values, but not no response
            print(f"unit {args.unit} answered with no values to read: {told}", file=sys.stderr)
            return EXIT_INVALID
    if response is None:
        print(f"no response from unit {args.unit} within {args.timeout:g} s", file=sys.stderr)
        garbled = link.skipped_bytes + link.pending_bytes
        if miscounted is not None:
            print(
                f"unit {args.unit} answered with {len(miscounted.words)} values where "
                f"{args.count} were asked for: a device that does not follow the protocol, or "
                "another device answering",
                file=sys.stderr,
            )
        elif others.seen and not busy:
            # other devices' frames came whole at the probe's settings: the line, its wiring
            # and its settings work (the bytes that make no frame are the other master's
            # requests, or frames that collided), and the unit id is the likely cause
            print(_others_answered(args), file=sys.stderr)
        elif garbled and _text_lines(bytes(received)):
            print(
                f"{garbled} bytes came that are lines of text, not Modbus frames (the last: "
                f"{_text_lines(bytes(received))[-1]!r}): the device sends in a text output "
                "mode (some sensors stream ASCII lines unless set to Modbus); check its "
                "protocol setting",
                file=sys.stderr,
            )
        elif garbled and not tcp and (echoes := _echoes(received, link.request(args.unit, read))):
            print(
                f"only what was sent came back ({echoes} request{'s' if echoes > 1 else ''}, "
                "as sent): the adapter hears its "
                "own transmission (--local-echo drops its echo, as serial.local_echo = true "
                "does for the daemon), and no answer came after it: check --unit, --baudrate, "
                "--parity and --stopbits, and the wiring (A and B swapped, termination)",
                file=sys.stderr,
            )
        elif garbled and not tcp and (cut := _cut_answer(received, link, args, read, function)):
            print(cut, file=sys.stderr)
        elif garbled:
            print(
                f"{garbled} bytes came that make no Modbus frame: check --baudrate, --parity "
                "and --stopbits against the device's settings, and the bus's termination and "
                "biasing",
                file=sys.stderr,
            )
        elif busy:
            pass  # the device answered busy (the note above): unit id and line hold
        elif tcp:
            delay = (
                ""
                if args.connect_delay
                else "; a gateway that drops the requests that come right after a connect (a "
                "Huawei SDongle) is read with --connect-delay 1 (modbus.connect_delay_s)"
            )
            print(
                f"nothing came: check --unit, and that the gateway reaches the device{delay}",
                file=sys.stderr,
            )
        else:
            print(
                "nothing came: check --unit, --baudrate and --parity, and the wiring (A and B "
                "swapped, termination)",
                file=sys.stderr,
            )
        return EXIT_INVALID
    if response.exception_code in GATEWAY_CODES:
        print(_gateway_said(args, response.exception_code))
        return EXIT_INVALID
    if response.exception_code:
        _tell_refusal(args, table, address, response, other, tcp=tcp)
        return EXIT_INVALID
    print(format_read(table, address, response.words[: args.count]))
    if collided:
        return EXIT_INVALID
    # the probe waits the longer of its own timeout and the sensor's: an answer it took may
    # come after the sensor's, which the daemon times from the request's end on the line to
    # the answer's start (an answer begun in time is read whole): the probe takes the answer
    # whole, so both frames' time on the line is allowed for
    frames = len(link.request(args.unit, read, transaction_id)) + len(response.frame)
    wire_s = 0.0 if tcp else frames * char_s(settings)
    if args.sensor_timeout is not None and answered_s > args.sensor_timeout + wire_s:
        print(_slow_for_sensor_note(args, answered_s), file=sys.stderr)
        return EXIT_INVALID
    return EXIT_OK


def _answered_from_note(args: argparse.Namespace, unit: int) -> str:
    """What the probe tells of an answer to its read at unit 0 (``modbus.broadcast_reads``)
    that came with the device's own unit id, ``unit``."""
    return (
        f"the device answered from unit {unit}: it answers reads at unit {args.unit}, the "
        "broadcast address, with its own unit id; the daemon reads such answers too, from "
        "that one unit id"
    )


def _answerers_note(args: argparse.Namespace, unit: int, answered: collections.Counter[int]) -> str:
    """What the probe tells when devices of more than one unit id (``answered``: their sound
    answers, by unit id) answered its read at unit 0: two devices answer reads at the
    broadcast address on this line, and the answer taken, of ``unit``, is whichever came
    first."""
    others = sorted(set(answered) - {unit})
    return (
        f"unit{'s' if len(others) > 1 else ''} {', '.join(map(str, others))} answered the "
        f"read at unit {args.unit} too (answers: {told_by_unit(answered)}): more than one "
        "device on this line answers reads at the broadcast address, and their answers "
        f"collide on the line or come one after the other; the values shown are unit {unit}'s, "
        "whichever came first, and the daemon reads the answers of the unit id it hears first "
        "and counts the others' as unit errors ('two devices answered a read at unit 0'): "
        "give each device a unit id of its own and read it there"
    )


def _tell_refusal(
    args: argparse.Namespace,
    table: str,
    address: int,
    refusal: Response,
    other: Response | None,
    *,
    tcp: bool,
) -> None:
    """Print the exception ``refusal`` answered the read of ``table`` from ``address`` with,
    naming the unit id it came from on a serial line (:func:`_refused_by`): for 0x02 on an
    address that reads as a manual's reference, the address it stands for; and ``other``, the
    other register table's answer at those addresses, when it holds registers."""
    code = refusal.exception_code
    who = f"unit {args.unit} answered" if tcp else _refused_by(args, refusal.unit)
    print(f"{who} with {exception_named(code)}")
    as_ref = reference_read_as_address(table, address)
    if code == 2 and as_ref is not None:
        print(
            f"{address} is asked as the address it says; if the manual gives {address} as "
            f"a reference, that is --{table} {as_ref}"
        )
    if other is not None and not other.exception_code:
        twin = OTHER_TABLE[table]
        print(
            f"the same addresses of the {twin} registers answer (function "
            f'{FUNCTION_CODES[twin]:02d}; --{twin} {address}, table = "{twin}"):'
        )
        print(format_read(twin, address, other.words[: args.count]))


def _refused_by(args: argparse.Namespace, unit: int) -> str:
    """Who refused the probe's read on a serial line, as its refusal of unit id ``unit``
    tells, up to the exception it answered with: ``args.unit``; for a read at unit 0
    (``modbus.broadcast_reads``) the unit id the refusal came from, and what unit 0 is: the
    broadcast address, which this device answers (some answer reads at any unit id, some
    only there), with its own unit id or with 0."""
    if args.unit:
        return f"unit {args.unit} answered"
    if unit == 0:
        return "unit 0 (the broadcast address, which this device answers, with unit id 0) answered"
    return (
        f"unit {unit} answered the read at unit 0 (the broadcast address, which this device "
        "answers, with its own unit id)"
    )


#: Seconds the probe waits for an answer unless told (or its sensor's timeout is longer).
PROBE_TIMEOUT_S = 1.0

#: The longest timeout the probe takes: the most ``modbus.timeout_s`` takes.
TIMEOUT_MAX_S = 60


def _timeout_for(late_s: float) -> float:
    """A timeout that takes an answer ``late_s`` after its request, with a margin: half as
    long again, rounded up to 1, 1.5, 2, 2.5, 3, 4, 5, 6 or 8 times a power of ten."""
    want = 1.5 * late_s
    scale = 10.0 ** math.floor(math.log10(want))
    step = next(s for s in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10) if s * scale >= want * 0.999_999)
    return float(f"{step * scale:.6g}")


def _slow_for_sensor_note(args: argparse.Namespace, answered_s: float) -> str:
    """What the probe tells of an answer it took that came ``answered_s`` after its request,
    later than ``--sensor``'s own ``modbus.timeout_s``, which the daemon waits."""
    told = (
        f"unit {args.unit} answered {answered_s:.2f} s after the request, past the "
        f"modbus.timeout_s of sensor {args.sensor!r} ({args.sensor_timeout:g} s): the daemon "
        "discards answers that come after it"
    )
    if answered_s >= TIMEOUT_MAX_S:
        return f"{told}, which takes {TIMEOUT_MAX_S} s at most: the sensor cannot be read so"
    return f"{told}, so it needs modbus.timeout_s of at least about {_timeout_for(answered_s):g} s"


def _late_note(args: argparse.Namespace, late: LateAnswers) -> str:
    """What the probe tells of the answers of ``args.unit`` that came after its timeout:
    the device answers, later than the timeout, which the daemon needs longer; or, with a
    ``--timeout`` shorter than ``--sensor``'s own ``modbus.timeout_s`` that takes them, the
    probe does."""
    need = _timeout_for(late.after_s)
    if args.sensor_timeout is not None and late.after_s <= args.sensor_timeout:
        return (
            f"unit {args.unit} answered {late.after_s:.2f} s after the request, past the "
            f"--timeout of {args.timeout:g} s; the modbus.timeout_s of sensor {args.sensor!r} "
            f"({args.sensor_timeout:g} s) takes it: probe it with a --timeout of at least about "
            f"{min(need, args.sensor_timeout):g} s, or none"
        )
    told = (
        f"unit {args.unit} answered {late.after_s:.2f} s after the request, past the --timeout "
        f"of {args.timeout:g} s: the daemon discards answers that come after modbus.timeout_s"
    )
    sensor = "the sensor" if args.sensor is None else f"sensor {args.sensor!r}"
    if late.after_s >= TIMEOUT_MAX_S:
        return f"{told}, which takes {TIMEOUT_MAX_S} s at most: {sensor} cannot be read so"
    return (
        f"{told}, so {sensor} needs modbus.timeout_s (and --timeout) of at least about "
        f"{min(need, TIMEOUT_MAX_S):g} s"
    )


#: How often a read answered busy (0x05, 0x06) is asked again, and how much later each time,
#: unless its sensor says: the defaults of ``modbus.busy_retries`` and ``modbus.busy_wait_s``.
PROBE_BUSY_RETRIES = 3
PROBE_BUSY_WAIT_S = 0.1


def _unanswered_note(
    args: argparse.Namespace, missed: list[int], response: Response | None, late: LateAnswers
) -> str:
    """What the probe tells of the reads it asked again after no answer came: ``missed``
    holds why each went unanswered (0: none came within the timeout, else the gateway's
    exception code for it), now that ``response`` came (None, or a gateway's 0x0A or 0x0B:
    none came to the last). When answers came after the timeout (``late``: told by
    :func:`_late_note`), the device was slow, not a line that loses requests."""
    unanswered = len(missed)
    again = "once" if unanswered == 1 else f"{unanswered} times"
    how = [f"within {args.timeout:g} s"] if 0 in missed else []
    how += [f"(the gateway answered {exception_named(code)})" for code in sorted(set(missed) - {0})]
    told = (
        f"unit {args.unit} did not answer {' or '.join(how)} and was asked again "
        f"{again}, as the daemon asks it (modbus.retries)"
    )
    if response is None or response.exception_code in GATEWAY_CODES:
        if late.came:
            return f"{told}; no answer came in time to any of the {unanswered + 1} requests"
        return f"{told}; no answer came to any of the {unanswered + 1} requests"
    if late.came:
        return f"{told}; it answered then"
    return (
        f"{told}; it answered then: the line or the device loses requests now and then "
        "(termination and biasing, the A/B wiring, a gap the device needs: --gap), and the "
        "daemon needs modbus.retries to read it at every poll"
    )


def _busy_note(
    args: argparse.Namespace, busy: int, busy_late: int, response: Response | None, wait_s: float
) -> str:
    """What the probe tells of the ``busy`` reads it asked again after a busy answer, each
    ``wait_s`` after it, now that ``response`` came (None: none came to the last);
    ``busy_late`` of the busy answers came after the timeout (the late note tells how late)."""
    unit = args.unit
    still = response is not None and response.exception_code in BUSY_CODES
    answers = busy + 1 if still else busy
    times = "once" if answers == 1 else f"{answers} times"
    told = f"unit {unit} answered busy {times}"
    if busy_late:
        told += " (late)" if busy_late == answers else f" ({busy_late} of them late)"
    again = "once" if busy == 1 else f"{busy} times"
    later = f"{args.busy_wait:g} s later"
    if wait_s > args.busy_wait:  # the line's quiet time after the busy answer is longer
        after = "the line's silence"
        if args.gap:
            after += " and the device's gap, modbus.gap_s"
        later = f"{wait_s:.3g} s later ({after})"
    asked = f"{later}, as the daemon asks it (modbus.busy_wait_s, busy_retries)"
    if still:
        return (
            f"{told}, asked again {again}, each time {asked}; still busy at the last try: "
            "the device is busy with something else (a write to its memory, a measurement) "
            "or answers every read so; try again later"
        )
    if response is None:
        return (
            f"{told}, asked again {again}, each time {asked}; no answer came to the last: the "
            "device hears the probe (unit id, line settings and wiring hold) and takes no "
            "request while it is busy; try again later"
        )
    return f"{told} and was asked again each time {asked}; it answered then"


def _others_answered(args: argparse.Namespace) -> str:
    """What the probe tells when ``args.unit`` did not answer on an RTU line that carried
    frames of other unit ids with valid CRCs (``OtherUnits.seen``, named by unit id in each
    request's line of skipped frames, above it): the line is alive, so the unit id is what to
    check, not the probe's line settings or the wiring."""
    return (
        "the line is alive: the frames of other unit ids skipped above came with valid CRCs, "
        f"but unit {args.unit} did not answer: check --unit against the unit id set in the "
        "device, and that the device is powered, on this bus and set to the baud rate and "
        "parity of the devices that answer"
    )


def _gateway_said(args: argparse.Namespace, code: int) -> str:
    """The answer of a gateway that did not reach ``args.unit`` (exception 0x0A or 0x0B): the
    device did not answer (what to check), not a refusal of the read."""
    what = (
        "the gateway has no path to it: check the gateway's routing of unit ids to its ports"
        if code == 0x0A
        else "the device behind the gateway did not answer it: check --unit, the gateway's "
        "serial settings (baud rate, parity) against the device's, and the wiring (A and B "
        "swapped, termination)"
    )
    return f"the gateway answered for unit {args.unit} with {exception_named(code)}: {what}"


#: The last address of every table (addresses are 16 bits).
LAST_ADDRESS = 65_535

#: The unit ids a Modbus TCP request may carry (0 included: the gateway's business).
TCP_UNITS = range(256)

#: What one read of a table asks for, in the words of the limit.
_READ_OF = {
    "holding": "holding registers",
    "input": "input registers",
    "coil": "coils",
    "discrete": "discrete inputs",
}


def _read_problem(table: str, address: int, count: int) -> str | None:
    """Why ``--TABLE address --count count`` is not a read the protocol allows (the one
    limit broken, with the value given), or None."""
    limit = MAX_REGISTERS if table in ("holding", "input") else MAX_BITS
    if not 1 <= count <= limit:
        return f"--count {count}: one read of {_READ_OF[table]} takes 1..{limit}"
    if address < 0:
        return f"--{table} {address}: addresses start at 0"
    if address > LAST_ADDRESS:
        hint = ""
        with contextlib.suppress(ValueError):
            ref_table, ref_address = parse_reference(str(address))
            if ref_table == table:
                hint = f"; as a reference, {address} is --{table} {ref_address}"
        return (
            f"--{table} {address} ({address:#x}) is past the last address, "
            f"{LAST_ADDRESS} ({LAST_ADDRESS:#x}){hint}"
        )
    last = address + count - 1
    if last > LAST_ADDRESS:
        return (
            f"--count {count} from --{table} {address} reaches address {last}; the last "
            f"address is {LAST_ADDRESS} (--count {LAST_ADDRESS - address + 1} at most from "
            "there)"
        )
    return None


#: What the probe says of an answer whose CRC came high byte first.
SWAPPED_CRC_NOTE = (
    "the device sends its CRC high byte first (the standard sends the low byte first): its "
    "firmware swaps the CRC's bytes, and the daemon reads its answers so too"
)


def _echoes(received: bytearray, request: bytes) -> int:
    """How many times ``received`` is the RTU ``request`` as sent, each copy behind up to
    :data:`~sensord.bus_echo.GLITCH_MAX` bytes 00 or FF that a transceiver puts on the line as
    it turns around, when it is nothing else (0 otherwise): the echoes of an adapter that
    hears its own transmission."""
    copies = at = 0
    while at < len(received):
        glitch = 0
        while not received.startswith(request, at + glitch):
            if glitch == GLITCH_MAX or at + glitch >= len(received):
                return 0
            if received[at + glitch] not in GLITCH_BYTES:
                return 0
            glitch += 1
        at += glitch + len(request)
        copies += 1
    return copies


def _cut_answer(
    received: bytearray, link: ModbusLink, args: argparse.Namespace, read: Read, function: int
) -> str | None:
    """What the probe tells of the bytes the link holds unframed when they begin the answer of
    ``args.unit`` to the read (its unit id, the read's function code and byte count) and stop
    short of its length: an answer cut short, which no setting of the line explains (at
    other settings its first bytes would not be the read's); None when they do not begin it,
    or begin with the request as sent: an adapter's echo of it, whose first bytes are the
    answer's when the address's high byte is the answer's byte count (2 registers at 0x04nn
    are asked as 01 03 04 ..., and answered so)."""
    held, rest = link.pending_bytes, link.awaited_bytes()
    if not held or not rest:
        return None
    exact = function in (FUNCTION_CODES["holding"], FUNCTION_CODES["input"])
    head = bytes((args.unit, function, 2 * args.count if exact else (args.count + 7) // 8))
    begun = bytes(received[-held:])
    if not begun.startswith(head) or begun.startswith(link.request(args.unit, read)):
        return None
    fewer = "; a read of fewer values (--count) may come whole" if args.count > 1 else ""
    return (
        f"{held} of the {held + rest} bytes of unit {args.unit}'s answer came (its unit id, "
        "function code and byte count as asked), then no more: the answer was cut short, not "
        "garbled by the line's settings (a device or adapter that drops the end of an "
        f"answer, or another sender breaking it off){fewer}"
    )


def _unit_problem(unit: int, tcp: bool) -> str:
    """Why ``--unit unit`` is not one the port's protocol carries."""
    if tcp:
        return f"--unit {unit}: a unit id over Modbus TCP is 0..255"
    if unit == 0:
        return (
            "--unit 0: a unit id on a serial line is 1..255 (0 is the broadcast address, "
            "which no device answers; 0..255 are taken over modbus-tcp://; a device that "
            "answers reads at 0 all the same is probed with --sensor of a sensor that has "
            "modbus.broadcast_reads = true)"
        )
    return f"--unit {unit}: a unit id on a serial line is 1..255"


#: The name of the probe's port source, which the probe's own messages leave out
PROBE_SOURCE = "modbus-read"


def _text_lines(data: bytes) -> list[str]:
    """The lines of ``data`` when it holds two or more and reads as text, else none."""
    lines = [line.strip() for line in data.splitlines() if line.strip()]
    if len(lines) < 2 or not looks_like_text(data):
        return []
    return [line[:40].decode("ascii", "replace") for line in lines]


#: The register table a device may keep a value in instead of the one asked for.
OTHER_TABLE = {"holding": "input", "input": "holding"}


def _other_table_may_hold(table: str, response: Response) -> bool:
    """Whether a read refused with ``response`` may be of the wrong table: holding and
    input registers are easily confused (a device's manual may say "register 3100" of
    either), and a device refuses the function (0x01) or the addresses (0x02) of the other."""
    return table in OTHER_TABLE and response.exception_code in (1, 2)


def _read_other_table(
    source: SerialSource,
    link: ModbusLink,
    args: argparse.Namespace,
    read: Read,
    quiet_s: float,
    *,
    transaction_id: int,
    settings: SerialSettings,
    timeout_s: float,
    slack_s: float,
) -> Response | None:
    """The answer to ``read`` of the other register table, asked ``quiet_s`` after the
    refusal (the line's inter-frame silence and the device's gap) with ``transaction_id``
    (Modbus TCP) on a line of ``settings``, awaited for ``timeout_s`` (an answer begun in it
    for its rest and the port's ``slack_s``); None when none comes."""
    time.sleep(quiet_s)
    twin = Read(OTHER_TABLE[read.table], read.address, read.count, ())
    try:
        source.write(link.request(args.unit, twin, transaction_id))
        response, _ = await_response(
            source,
            link,
            args,
            FUNCTION_CODES[twin.table],
            quiet=True,
            transaction_id=transaction_id,
            settings=settings,
            timeout_s=timeout_s,
            slack_s=slack_s,
        )
    except SourceError:  # (a gateway that closed the connection): the refusal is the answer
        return None
    return response
