"""The command line's parser: every command's options with their help texts and the checks of
their values, which of them a command was given, and the configuration file that a running
``sensord run`` reads, found by reading its command line with this parser."""

from __future__ import annotations

import argparse
import contextlib
import io
import os
from pathlib import Path
from typing import Any

from sensord import __version__
from sensord.config import DEFAULT_CONFIG_PATH
from sensord.config_tables import DEFAULT_HTTP_PORT, HttpConfig
from sensord.formats import FORMATS
from sensord.schema_fields import decode_escapes
from sensord.serial_settings import BYTESIZES, PARITIES, PARITY_WORDS, STOPBITS

__all__ = ["build_parser", "daemon_config_of", "given_options"]


#: How long ``sensord reload`` waits for the outcome by default: well inside the 30 s that
#: ``sensord.service``'s ``TimeoutStartSec=`` gives ``ExecReload=`` before systemd kills it.
DEFAULT_RELOAD_TIMEOUT_S = 20.0


DESCRIPTION = """\
sensord reads sensors (text lines, NMEA, binary frames, Modbus RTU/TCP devices) on serial
ports (USB, RS-232/RS-485 adapters, ptys, socket:// and rfc2217:// URLs), Modbus TCP gateways
(modbus-tcp://) or simulated ports, runs every reading through filter -> normalize -> window
stages, and serves the results on a Prometheus /metrics endpoint.
"""


EPILOG = """\
signals (run): SIGTERM/SIGINT stop cleanly; SIGHUP reloads the config (an invalid file is
reported and the running config stays; 'sensord reload' sends it and waits for the outcome);
SIGUSR1 writes every sensor's recent raw bytes as capture files into [capture] directory.

exit codes: 0 ok, 1 invalid config or failed check (or a run an exception ended: a bug, logged
as 'sensord ended by an uncaught exception'), 2 usage error, 3 could not start, 4 a --workers
worker of another installed package than its primary's; reload: 1 not applied in full, 3 no
daemon answers, 4 no outcome within --timeout.
Run 'sensord COMMAND --help' for the options of a command.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sensord",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"sensord {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser(
        "run",
        help=f"run the daemon (default config {DEFAULT_CONFIG_PATH}; without one, a demo of "
        f"simulated sensors); serves /metrics, /status, /healthz (and /capture to loopback "
        f"clients) on port {DEFAULT_HTTP_PORT} unless the config says otherwise",
        description="Run the daemon in the foreground until SIGTERM/SIGINT; SIGHUP reloads.",
    )
    run.add_argument(
        "-c",
        "--config",
        type=Path,
        help=f"config file (default: {DEFAULT_CONFIG_PATH}; if that does not exist, the "
        "built-in demo of simulated sensors runs)",
    )
    run.add_argument(
        "--listen",
        type=_listen,
        help="HTTP listen address (overrides [http] listen, whose default is 127.0.0.1)",
    )
    run.add_argument(
        "--port",
        type=_port,
        help=f"HTTP port (overrides [http] port, whose default is {DEFAULT_HTTP_PORT}; 0 picks "
        "a free port)",
    )
    run.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="shard the sensors over N worker processes for more than one core's worth of "
        "lines; one /metrics serves all of them (default 1: no workers)",
    )
    run.add_argument("--shard", type=_shard, help=argparse.SUPPRESS)
    _log_options(run)

    check = sub.add_parser(
        "check",
        help="validate a config file and the devices it names; exit 1 on any error",
        description="Validate CONFIG: every error is listed with its key path. Then check each "
        "configured device: it exists and is a serial port (a terminal device, not /dev/null "
        "or a HID or I2C device), this user may read and write it, and no other process "
        "holds it. Exit 0 when the config is valid and every device that cannot fall back "
        "to simulation is usable, else 1.",
    )
    check.add_argument(
        "config",
        nargs="?",
        type=Path,
        help=f"config file (default: {DEFAULT_CONFIG_PATH}, when it exists); - reads it from "
        "standard input (cat new.toml | sensord check -), named <stdin> in messages",
    )
    check.add_argument(
        "-c",
        "--config",
        dest="config_opt",
        type=Path,
        metavar="CONFIG",
        help="the config file, as the other commands take it (instead of the argument; - for "
        "standard input)",
    )
    check.add_argument(
        "--no-devices", action="store_true", help="only validate the file, do not look at devices"
    )

    ports = sub.add_parser(
        "ports",
        help="list the serial ports of this machine and which sensor uses each",
        description="List serial ports: device, /dev/serial/by-id links, description, VID:PID, "
        "serial number, the adapter's driver and FTDI latency timer (with a hint when it delays "
        "a configured sensor's frames), whether the driver keeps line error counters, and the "
        "sensor of the config that uses it.",
    )
    ports.add_argument(
        "--probe",
        action="store_true",
        help="open each port no process holds to ask whether its driver keeps line error "
        "counters (an open raises and drops DTR, which resets some boards)",
    )
    ports.add_argument(
        "-c",
        "--config",
        type=Path,
        help="config whose sensors are matched to ports "
        f"(default: {DEFAULT_CONFIG_PATH} if present)",
    )

    sim = sub.add_parser(
        "simulate",
        help="play a simulated device on a pseudo-terminal",
        description="Write the bytes a configured sensor's device would send, at its sampling "
        "rate, to a new pseudo-terminal (its path is printed; point a sensor's port at it) or "
        "to stdout; it answers poll requests and a preset's commands as the device does. For "
        "a Modbus sensor, every device of the config on its port answers RTU requests on the "
        "pty. Stops on Ctrl-C, SIGTERM or after --seconds.",
    )
    sim.add_argument("-c", "--config", type=Path, help="config file (default: the built-in demo)")
    sim.add_argument(
        "--sensor", metavar="NAME", help="which sensor of the config (default: the first)"
    )
    sim.add_argument(
        "--stdout",
        action="store_true",
        help="write to stdout instead of a pty (not with --link or --replay)",
    )
    sim.add_argument(
        "--link",
        type=_link,
        metavar="PATH",
        help="also create this symlink to the pty (removed on exit); PATH must not exist, "
        "or be a link an earlier run left to a pty that is gone",
    )
    sim.add_argument(
        "--seconds",
        type=_seconds,
        metavar="S",
        help="stop after this many seconds (default: run until Ctrl-C or SIGTERM)",
    )
    sim.add_argument(
        "--rate",
        type=float,
        metavar="HZ",
        help="frames per second the device sends on its own (default: the sensor's "
        "sampling_rate_hz; not for a polled device, which answers each request)",
    )
    sim.add_argument(
        "--replay",
        type=Path,
        metavar="FILE",
        help="play this capture file on the pty instead of a simulated device (what is written "
        "to the pty counts as a request: a polled capture answers requests in order)",
    )
    sim.add_argument(
        "--speed",
        type=_speed,
        metavar="S",
        help="with --replay: times the recorded pace (0: as fast as possible; default 1)",
    )
    sim.add_argument(
        "--loop", action="store_true", help="with --replay: start over at the end of the capture"
    )

    cap = sub.add_parser(
        "capture",
        help="fetch a sensor's recent raw bytes from the daemon, or show a capture file",
        description="Fetch the ring of recent raw bytes (received, and sent for polled sensors) "
        "of SENSOR from the running daemon's /capture endpoint (over loopback, with the "
        "config's TLS and basic auth) and write it as a capture file; or, with --show, print a "
        "capture file as a hex/ASCII timeline. Replay a capture with port = "
        "\"replay:///PATH\" or 'sensord simulate --replay PATH'.",
    )
    cap.add_argument("sensor", nargs="?", help="the sensor's name in the running daemon")
    cap.add_argument("--show", type=Path, metavar="FILE", help="print this capture file")
    cap.add_argument(
        "-c",
        "--config",
        type=Path,
        help=f"the daemon's config, for its HTTP address and credentials (default: "
        f"{DEFAULT_CONFIG_PATH} if present, else the demo's)",
    )
    cap.add_argument(
        "--url",
        help="the daemon's address (http://HOST:PORT) or /capture URL, if not the config's "
        "[http]; the sensor asked for is SENSOR",
    )
    cap.add_argument(
        "-o",
        "--output",
        type=Path,
        metavar="FILE",
        help="capture file to write (default: SENSOR-TIME.cap in the current directory, "
        "SENSOR-TIME-2.cap and on for more in the same second)",
    )

    stat = sub.add_parser(
        "status",
        help="show the running daemon's sensors: state, last frame, rejected frames, why not up",
        description="Ask the running daemon for its /status (over loopback, with the config's "
        "TLS and basic auth) and print one line per sensor: its state and for how long, the "
        "age of its last frame, its frames and rejected frames, its port; then, for each "
        "sensor that is not up or has a hint, why. Exit code 0 when every sensor is up and "
        "none has a hint, 1 when one is not up or has one (every frame rejected, a "
        "simulation standing in for an absent device), the last reload failed, the daemon is "
        "starting or stopping, or it cannot be reached.",
    )
    stat.add_argument(
        "-c",
        "--config",
        type=Path,
        help=f"the daemon's config, for its HTTP address and credentials (default: "
        f"{DEFAULT_CONFIG_PATH} if present, else the demo's)",
    )
    stat.add_argument(
        "--url", help="the daemon's address (http://HOST:PORT) or /status URL, if not the config's"
    )
    stat.add_argument("--json", action="store_true", help="print /status as it is, indented")

    rel = sub.add_parser(
        "reload",
        help="reload the running daemon's configuration and wait for the outcome; exit 1 when "
        "it did not apply in full (systemctl reload sensord runs this)",
        description="Have the running daemon reload its configuration file (SIGHUP) and wait "
        "until the outcome is known: the daemon's /status (asked as 'sensord status' asks "
        "it) counts a reload once it has applied it, or kept its running configuration; a "
        "--workers primary once its workers have applied it too. Prints the outcome. Exit "
        "0 when the reload applied; 1 when it did not (an invalid file: each error with its "
        "key path, as 'sensord check' names it; the daemon runs on with its running "
        "configuration) or applied in part (the sections that keep their running settings, "
        "such as an [http] that cannot be served), also when the daemon runs the built-in "
        "demo (no file to reload) or this user may not signal it; 3 when no daemon answers, "
        "it is not --pid, it is no 'sensord run' this host's /proc shows (never signalled), "
        "or it stopped before the outcome; 4 when the outcome is not known within "
        "--timeout (the reload may still apply). Unlike 'kill -HUP', it returns once the new "
        "configuration runs, and fails when it does not. A --pid that does not answer at the "
        "file's [http] address (an edit of [http] to reload) is asked where it listens (its "
        "TCP sockets in /proc), and the outcome read at the file's address once the reload "
        "moved it there, else where it was; where that pid refuses the file's credentials "
        "(an edit of them), the reloads are counted on its /healthz, which asks for none, "
        "and the outcome read with the file's once the reload set them. With TLS the "
        "certificate served is verified "
        "against the file's tls_cert_file; one that does not verify (renewed there and not "
        "loaded yet) is read unverified only with --pid, at a loopback address that pid "
        "listens on, and the outcome tells whether the daemon serves the file's certificate "
        "after the reload.",
    )
    rel.add_argument(
        "-c",
        "--config",
        type=Path,
        help=f"the daemon's config, for its HTTP address and credentials (default: "
        f"{DEFAULT_CONFIG_PATH} if present, else the demo's); the daemon reloads the file it "
        "was started with",
    )
    rel.add_argument(
        "--url", help="the daemon's address (http://HOST:PORT) or /status URL, if not the config's"
    )
    rel.add_argument(
        "--pid",
        type=_pid,
        help="the daemon's process id, which must be the one that answers (systemd's "
        "$MAINPID; default: the pid its /status gives); found where it listens when the "
        "file's [http] is not what it serves",
    )
    rel.add_argument(
        "--timeout",
        type=_timeout,
        default=DEFAULT_RELOAD_TIMEOUT_S,
        metavar="S",
        help=f"seconds to wait for the outcome (default {DEFAULT_RELOAD_TIMEOUT_S:g}: within "
        "sensord.service's TimeoutStartSec=30, which bounds a reload too)",
    )

    rec = sub.add_parser(
        "record",
        help="record a serial port into a capture file",
        description="Open PORT (a device path or a pyserial URL) with the given line settings "
        "and record every byte it receives into a capture file, until Ctrl-C or --seconds. "
        "With --request, also write that request every --interval-s (recorded as sent bytes), "
        "for sensors that answer only when polled. Do not run it on a port the daemon holds.",
    )
    rec.add_argument("port", help="device path or URL (socket://HOST:PORT, rfc2217://...)")
    rec.add_argument(
        "-o",
        "--output",
        type=Path,
        required=True,
        metavar="FILE",
        help="capture file to write (replaced if it exists)",
    )
    rec.add_argument("--baudrate", type=int, help="line speed (default 9600)")
    rec.add_argument("--bytesize", type=int, choices=BYTESIZES, help="data bits (default 8)")
    rec.add_argument(
        "--parity",
        type=_parity,
        metavar="{N,E,O,M,S}",
        help="parity: N, E, O, M or S, in either case (default N)",
    )
    rec.add_argument("--stopbits", type=float, choices=STOPBITS, help="stop bits (default 1)")
    rec.add_argument(
        "--rtscts", action="store_true", help="hardware (RTS/CTS) flow control (default off)"
    )
    rec.add_argument(
        "--xonxoff", action="store_true", help="software (XON/XOFF) flow control (default off)"
    )
    rec.add_argument(
        "--seconds",
        type=_seconds,
        metavar="S",
        help="stop after this many seconds (default: record until Ctrl-C or SIGTERM)",
    )
    rec.add_argument(
        "--request",
        type=_request,
        metavar="TEXT",
        help=r"write this request (escapes such as \r\n) at the start and every --interval-s "
        "(default: none, only listen)",
    )
    rec.add_argument(
        "--interval-s",
        type=float,
        metavar="S",
        help="with --request: seconds between requests (default 1)",
    )
    rec.add_argument(
        "--connect-delay",
        type=float,
        metavar="S",
        help="with --request: seconds (0 to 60) to wait after the port opens before the first "
        "request, for a device that takes no command at first, such as an Arduino board that "
        "the open restarts (some 2 s), as a sensor's connect_delay_s holds its first poll "
        "back; what the device sends meanwhile is recorded (default 0)",
    )
    rec.add_argument(
        "--format",
        choices=FORMATS,
        help="a label only: written to the capture's header as 'format: NAME' (default: "
        "unknown); it changes nothing that is recorded, nor how the capture replays",
    )

    sub.add_parser(
        "demo-config",
        help="print the built-in demo configuration (a starting point for your own)",
        description="Print the configuration that 'sensord run' uses when there is no file.",
    )
    _modbus_options(sub)
    for command in sub.choices.values():
        # a usage error found after parsing prints the command's usage, as argparse's own
        command.set_defaults(command_parser=command)
    return parser


def _listen(text: str) -> str:
    """``--listen``, checked as ``[http] listen`` is."""
    try:
        HttpConfig(listen=text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("listen: ")) from None
    return text


def _port(text: str) -> int:
    """``--port``, checked as ``[http] port`` is."""
    if not text.strip().lstrip("-").isdigit():
        raise argparse.ArgumentTypeError(f"must be a whole number, got {text!r}")
    try:
        return HttpConfig(port=int(text)).port
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("port: ")) from None


def _speed(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number, got {text!r}") from None
    if not 0.0 <= value <= 1000.0:
        raise argparse.ArgumentTypeError(f"must be in [0, 1000], got {text}")
    return value


def _parity(text: str) -> str:
    """``--parity``: one of the letters of ``serial.parity`` (N, E, O, M, S), in either case;
    a word for one (``even``) is refused with its letter, as the config file refuses it."""
    letter = text.strip().upper()
    if letter in PARITIES:
        return letter
    meant = PARITY_WORDS.get(text.strip().lower())
    hint = f"; did you mean {meant}?" if meant else ""
    raise argparse.ArgumentTypeError(
        f"must be one of {', '.join(PARITIES)} (in either case), got {text!r}{hint}"
    )


def _seconds(text: str) -> float:
    """``--seconds``: a finite time above 0 (0 would stop before anything is read)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, got {text!r}") from None
    if not 0.0 < value < float("inf"):
        raise argparse.ArgumentTypeError(
            f"must be above 0 (leave --seconds out to run until stopped), got {text}"
        )
    return value


def _timeout(text: str) -> float:
    """``--timeout``: a finite time above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number of seconds, got {text!r}") from None
    if not 0.0 < value < float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of seconds above 0, got {text}")
    return value


def _pid(text: str) -> int:
    """``--pid``: a process id (systemd's ``$MAINPID`` is empty when the unit has no main
    process)."""
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(
            f"must be a process id (a whole number above 0), got {text!r}: is the daemon running?"
        )
    return int(text)


def _link(text: str) -> Path:
    """``--link``: a path free for the pty's symlink (nothing there but a link an earlier run
    left), so that the link never replaces a device node, its by-id link or a file."""
    from sensord.tools import link_problem  # noqa: PLC0415  (a command's module: the daemon does not load it)

    problem = link_problem(Path(text))
    if problem is not None:
        raise argparse.ArgumentTypeError(problem)
    return Path(text)


def _request(text: str) -> bytes:
    try:
        data = decode_escapes(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    if not data:
        raise argparse.ArgumentTypeError("must not be empty")
    return data


def _shard(text: str) -> tuple[int, int]:
    index, _, count = text.partition("/")
    try:
        i, n = int(index), int(count)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected I/N, got {text!r}") from None
    if not 0 <= i < n:
        raise argparse.ArgumentTypeError(f"expected 0 <= I < N, got {text!r}")
    return i, n


def _log_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--log-level",
        choices=("debug", "info", "warning", "error"),
        help="log level (overrides [log] level; default info)",
    )
    parser.add_argument(
        "--log-format",
        choices=("auto", "json", "console"),
        help="log format (overrides [log] format): auto = console on a terminal, JSON lines "
        "otherwise (systemd, pipes)",
    )


# -- sensord modbus read ---------------------------------------------------------------------------

#: What one address of a table holds.
UNIT_OF_TABLE = {"holding": "register", "input": "register", "coil": "bit", "discrete": "bit"}


def _modbus_options(sub: Any) -> None:
    modbus = sub.add_parser(
        "modbus",
        help="modbus read: read registers of a Modbus device once and show them decoded every way",
        description="Modbus set-up helpers.",
    )
    verbs = modbus.add_subparsers(dest="modbus_command", metavar="VERB", required=True)
    read = verbs.add_parser(
        "read",
        help="read registers once and decode them every way",
        description="Send one read request to a Modbus device and print the registers it "
        "answers with, raw, and decoded as every type in all four byte/word orders from the "
        "first register on, to match a device's manual to [[sensors.registers]]. A holding "
        "register read the device refuses (exception 0x01 or 0x02) is tried once more as an input "
        "register read, and the other way round, and what answers is shown.",
    )
    read.add_argument(
        "port",
        nargs="?",
        help="serial device, socket://HOST:PORT (RTU over TCP) or modbus-tcp://HOST:PORT "
        "(default: the port of --sensor)",
    )
    read.add_argument(
        "--sensor",
        metavar="NAME",
        help="take the port, unit id and serial settings (RS-485 and local echo included) from "
        "this Modbus sensor of the config; the options given here win",
    )
    read.add_argument(
        "-c",
        "--config",
        type=Path,
        help=f"the config of --sensor (default: {DEFAULT_CONFIG_PATH})",
    )
    read.add_argument(
        "--unit",
        type=_decimal_or_hex,
        metavar="N",
        help="unit id: 1..255 (248..255 for a device alone on its line), 0..255 over Modbus TCP "
        "(default: that of --sensor, else 1)",
    )
    table = read.add_mutually_exclusive_group(required=True)
    for name in ("holding", "input", "coil", "discrete"):
        table.add_argument(
            f"--{name}",
            type=_decimal_or_hex,
            metavar="ADDRESS",
            help=f"0-based address of the first {name} {UNIT_OF_TABLE[name]} to read "
            "(decimal, or hexadecimal as 0x0156)",
        )
    read.add_argument(
        "--count",
        type=int,
        default=1,
        metavar="N",
        help="how many registers (1..125) or coils and discrete inputs (1..2000) to read "
        "(default 1)",
    )
    read.add_argument(
        "--baudrate", type=int, help="serial speed (default: that of --sensor, else 9600)"
    )
    read.add_argument(
        "--parity",
        type=_parity,
        metavar="{N,E,O,M,S}",
        help="serial parity: N, E, O, M or S, in either case (default: that of --sensor, else N)",
    )
    read.add_argument(
        "--bytesize",
        type=int,
        choices=BYTESIZES,
        help="data bits (default: that of --sensor, else 8)",
    )
    read.add_argument(
        "--stopbits",
        type=float,
        choices=STOPBITS,
        help="stop bits (default: that of --sensor, else 1)",
    )
    read.add_argument(
        "--local-echo",
        action="store_true",
        default=None,
        help="the adapter sends back what it transmits: drop that echo (serial.local_echo; "
        "default: that of --sensor, else off)",
    )
    read.add_argument(
        "--rs485",
        action="store_true",
        default=None,
        help="RS-485 direction control by the kernel driver, RTS high while sending "
        "(serial.rs485, default: that of --sensor, else off; its levels and delays come from "
        "--sensor)",
    )
    read.add_argument(
        "--timeout",
        type=float,
        default=None,
        metavar="S",
        help="seconds to wait for the answer (default 1, or the modbus.timeout_s of --sensor "
        "when longer); after a timeout the probe waits for a late answer as the daemon does "
        "before it asks the device again (at most the longer of 3 s and two timeouts while "
        "frames of the unit keep coming) and tells one that comes as a timeout too short",
    )
    read.add_argument(
        "--retries",
        type=int,
        default=None,
        metavar="N",
        help="times a read that goes unanswered within the timeout (or that a gateway answers "
        "with exception 0x0A or 0x0B) is asked again, for a line or a device that loses the odd "
        "request (default: the modbus.retries of --sensor, else 0)",
    )
    read.add_argument(
        "--connect-delay",
        type=float,
        default=None,
        metavar="S",
        help="seconds to wait after the port opens before the request, for a device that "
        "ignores requests at first (default: the modbus.connect_delay_s of --sensor, else 0)",
    )
    read.add_argument(
        "--gap",
        type=float,
        default=None,
        metavar="S",
        help="seconds the device needs between requests, waited on top of the line's silence "
        "before a read asked again (busy, or of the other table) (default: the modbus.gap_s "
        "of --sensor, else 0)",
    )


def _decimal_or_hex(text: str) -> int:
    """A decimal number, or a hexadecimal one with 0x as many manuals give register
    addresses (Eastron's 0x0156)."""
    try:
        return int(text[2:], 16) if text[:2].lower() == "0x" else int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is not a decimal number or a hexadecimal one such as 0x0156"
        ) from None


# -- what a command line gives ---------------------------------------------------------------------


def daemon_config_of(pid: int, *, worker: bool = True) -> str | None:
    """The config file (resolved) that process ``pid`` runs when it is ``sensord run``
    (``sensord run``, ``python -m sensord run``; with ``worker``, a worker's ``run --shard``,
    which runs its primary's file), its options read by the parser that ``sensord run``
    reads them with (``-cFILE``, ``--conf FILE``); None for any other process, or one this
    user cannot inspect."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            argv = [arg.decode(errors="replace") for arg in f.read().split(b"\0") if arg]
    except OSError:
        return None
    for i, arg in enumerate(argv):
        if (arg == "sensord" and i > 0 and argv[i - 1] == "-m") or (
            i > 0 and os.path.basename(arg) == "sensord"
        ):
            rest = argv[i + 1 :]
            break
    else:
        return None
    if not rest or rest[0] != "run":
        return None
    try:
        # quiet: a command line this version does not read is no sensord run of the file
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            args, _ = build_parser().parse_known_args(rest)
    except SystemExit:
        return None
    if args.command != "run":
        return None
    if args.shard is not None:
        # a --workers worker runs a private copy of the file: its primary, the process that
        # started it, runs the file itself
        if not worker:
            return None
        return daemon_config_of(_parent_of(pid), worker=False)
    config = str(args.config or DEFAULT_CONFIG_PATH)
    if not os.path.isabs(config):
        try:  # only a relative path needs it: another user's cwd is not ours to read
            config = os.path.join(os.readlink(f"/proc/{pid}/cwd"), config)
        except OSError:
            return None
    return os.path.realpath(config)


def _parent_of(pid: int) -> int:
    """The parent process of ``pid`` (0 when it cannot be read)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return 0
    # pid (comm) state ppid ...: the command's name may hold spaces and parentheses
    fields = stat[stat.rfind(b")") + 2 :].split()
    return int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else 0


def given_options(*options: tuple[str, object]) -> list[str]:
    """The names of ``options`` (name, parsed value) given on the command line: an option not
    given parses as None, a flag not given as False."""
    return [name for name, value in options if value is not None and value is not False]
