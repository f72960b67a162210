"""The configuration file's tables: their keys, defaults, limits and invariants.

Every table of the file is a ``Schema`` here whose attributes are validating descriptors (see
``sensord.schema``), so a value is checked when it is assigned, whether it comes from the file
or from code: ``[http]``, ``[capture]``, ``[log]``, ``[metrics]``, ``[reader]`` and a
``[[sensors]]`` entry with its own tables. The whole file (``sensord.config_checks.Config``)
and its loading (``sensord.config``) build on them.
"""

from __future__ import annotations

import codecs
import contextlib
import ipaddress
import os
import pwd
import re
import ssl
import stat
import zlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, Self

from sensord.address import (
    KNOWN_SCHEMES,
    MODBUS_TCP_SCHEME,
    REPLAY_SCHEME,
    PortAddress,
    parse_address,
)
from sensord.capture import DEFAULT_RING_BYTES, capture_header
from sensord.errors import NotMeasuredError, ParseError, Problem
from sensord.formats import FORMATS, codec_for
from sensord.formats.base import (
    BLOCK_KINDS,
    DSMR_CRCS,
    FieldSpec,
    FormatSpec,
    FrameSpec,
    ModbusSpec,
    RegisterSpec,
    WriteSpec,
)
from sensord.formats.frame_keys import CHECKSUM_NAMES, FIELD_TYPES, PRESET_NAMES
from sensord.formats.line_checksums import LINE_CHECKSUMS
from sensord.formats.modbus_keys import (
    BYTE_ORDERS,
    MAX_GAP,
    MAX_REGISTERS,
    MAX_RETRIES,
    REGISTER_TABLES,
    SERIAL_UNITS,
    SIGNS,
    SUNSPEC_NOT_AVAILABLE,
    VALUE_TYPES,
    WIDTHS,
    WRITE_FUNCTIONS,
    not_available_bits,
    not_available_problem,
    parse_reference,
    written_value_problem,
)
from sensord.log import escaped
from sensord.schema import (
    Bool,
    Bytes,
    BytesList,
    Choice,
    Float,
    Hex,
    HexList,
    Int,
    IntOrHex,
    IntOrHexList,
    NumberList,
    NumberTable,
    Schema,
    Section,
    SectionList,
    SectionOrStrList,
    Str,
    StrList,
    UnloadedFieldError,
    closest,
)
from sensord.serial_settings import (
    BYTESIZES,
    PARITIES,
    PARITY_WORDS,
    STOPBITS,
    SerialSettings,
)
from sensord.signals import SignalSpec, SimulationSpec
from sensord.stage import DEFAULT_SAMPLE_EVERY
from sensord.units import UNIT_WORDS, UNITS, affine, unit_dimension

if TYPE_CHECKING:
    from sensord.formats.acks import Ack

__all__ = [
    "CONNECT_DELAY_MAX_S",
    "DEFAULT_HTTP_PORT",
    "MAX_FRAME_INTERVAL_S",
    "MAX_RING_BYTES",
    "_NAME",
    "CaptureConfig",
    "ChannelConfig",
    "ExampleRead",
    "HttpConfig",
    "LogConfig",
    "MetricsConfig",
    "ReaderConfig",
    "SensorConfig",
    "SerialConfig",
    "_duplicates",
    "_loaded_name",
    "_user_name",
]


DEFAULT_HTTP_PORT = 9808

#: The longest ``connect_delay_s`` (of a sensor, and of a Modbus device), in seconds; the
#: command-line tools' ``--connect-delay`` takes the same range.
CONNECT_DELAY_MAX_S = 60

#: The longest time a sensor may go without a frame and still be up (``stale_after_s``,
#: ``poll.interval_s`` and ``modbus.interval_s`` at most), in seconds: a day.
MAX_FRAME_INTERVAL_S = 86_400

_NAME = r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,63}"

#: bytes written as hex pairs with blanks between them, ``FF 17``: the bytes of a key that
#: reads text with escapes are never meant so in a binary frame
_HEX_AS_TEXT = re.compile(rb"[ \t]*[0-9A-Fa-f]{2}(?:[ \t]+[0-9A-Fa-f]{2})+[ \t]*")
_NAME_DOC = "1-64 letters, digits, '_', '.', '-' (not starting with '.' or '-')"


def _check_host(value: str) -> str | None:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        if value == "localhost" or all(part.isalnum() or "-" in part for part in value.split(".")):
            return None
        host, colon, port = value.rpartition(":")
        host = host.removeprefix("[").removesuffix("]")  # [::1]:9100, as in a URL
        if colon and port.isdigit() and _check_host(host) is None:
            return (
                f"must be an IP address or host name, got {value!r}; the port goes in port: "
                f'listen = "{host}", port = {port}'
            )
        return f"must be an IP address or host name, got {value!r}"
    return None


def _user_name() -> str:
    """The name of the user this process runs as, or its uid when it has none."""
    uid = os.geteuid()
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return f"uid {uid}"


def _tls_problem(cert_file: str, key_file: str) -> tuple[str, str] | None:
    """Why the HTTP server could not serve TLS with this certificate and key, as
    ``(key, message)``, or None when it can. The key is loaded as the server loads it, with an
    empty passphrase, so an encrypted key is refused here instead of prompting on a terminal."""
    try:
        cert_text = Path(cert_file).read_text(encoding="ascii", errors="replace")
        key_text = Path(key_file).read_text(encoding="ascii", errors="replace")
    except OSError as exc:
        return "tls_cert_file", f"cannot read {exc.filename}: {exc.strerror or exc}"
    if "-----BEGIN CERTIFICATE-----" not in cert_text:
        return (
            "tls_cert_file",
            f"{cert_file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)",
        )
    if "-----BEGIN ENCRYPTED PRIVATE KEY-----" in key_text or "Proc-Type: 4,ENCRYPTED" in key_text:
        return (
            "tls_key_file",
            f"{key_file} is encrypted with a passphrase, which sensord cannot be given: store it "
            f"decrypted (openssl pkey -in {key_file} -out NEW.pem), readable by the service only",
        )
    if "PRIVATE KEY-----" not in key_text:
        return "tls_key_file", f"{key_file} holds no PEM private key (-----BEGIN PRIVATE KEY-----)"
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(cert_file, key_file, password=b"")
    except ssl.SSLError as exc:
        if exc.reason == "KEY_VALUES_MISMATCH":
            return (
                "tls_key_file",
                f"{key_file} is not the private key of the certificate in {cert_file}",
            )
        return "tls_cert_file", f"{cert_file} and {key_file} cannot serve TLS: {exc}"
    except OSError as exc:
        return "tls_cert_file", f"{cert_file} and {key_file} cannot be loaded: {exc}"
    return None


class HttpConfig(Schema):
    """``[http]``: where /metrics, /healthz and /status are served, and how they are guarded.

    ``tls_cert_file``/``tls_key_file`` turn on HTTPS; ``basic_auth_username`` with
    ``basic_auth_password`` requires HTTP basic authentication on every path but /healthz.
    A file holding the password must not be readable by other users.

    Clients are bounded by ``max_connections`` in all and ``max_connections_per_client`` per
    client address; a request line and headers must arrive within ``header_timeout_s`` (at
    most ``request_timeout_s``, which bounds a whole request and response). Both are at least
    0.1 s: a client sends its request once it has the connection, and the request of one
    across a network comes a part of a round trip after the server accepted it (at 1e-9 s
    every request was cut off, a local one too).
    """

    #: what servers' configurations call the address to listen on, and its port
    _synonyms: ClassVar[dict[str, str]] = {
        "bind": "listen",
        "bind_address": "listen",
        "address": "listen",
        "host": "listen",
        "listen_address": "listen",
        "listen_port": "port",
    }

    listen = Str(default="127.0.0.1", check=_check_host)
    port = Int(min=0, max=65535, default=DEFAULT_HTTP_PORT)
    request_timeout_s = Float(min=0.1, max=300, default=10.0)
    header_timeout_s = Float(min=0.1, max=300, default=5.0)
    max_request_bytes = Int(min=1024, max=1_048_576, default=8192)
    max_connections = Int(min=1, max=10_000, default=64)
    max_connections_per_client = Int(min=1, max=10_000, default=8)
    tls_cert_file = Str(optional=True)
    tls_key_file = Str(optional=True)
    basic_auth_username = Str(optional=True, pattern=r"[^:]+", pattern_doc="a name without ':'")
    basic_auth_password = Str(optional=True, secret=True)

    def check(self) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        if (self.tls_cert_file is None) != (self.tls_key_file is None):
            key = "tls_key_file" if self.tls_key_file is None else "tls_cert_file"
            problems.append((key, "tls_cert_file and tls_key_file must be given together"))
        unreadable = False
        for key in ("tls_cert_file", "tls_key_file"):
            path = getattr(self, key)
            if path is None:
                continue
            if not os.path.isfile(path):
                problems.append((key, f"{path} is not a readable file"))
                unreadable = True
            elif not os.access(path, os.R_OK):
                problems.append((key, f"{path} is not readable by this user ({_user_name()})"))
                unreadable = True
        if self.tls_cert_file is not None and self.tls_key_file is not None and not unreadable:
            problem = _tls_problem(self.tls_cert_file, self.tls_key_file)
            key_mode = os.stat(self.tls_key_file).st_mode
            if problem is not None:
                problems.append(problem)
            elif key_mode & stat.S_IROTH:  # as a file holding the basic-auth password
                problems.append(
                    (
                        "tls_key_file",
                        f"every user may read the private key {self.tls_key_file} (mode "
                        f"{stat.S_IMODE(key_mode):04o}); run: chmod o-r {self.tls_key_file}",
                    )
                )
        if (self.basic_auth_username is None) != (self.basic_auth_password is None):
            key = (
                "basic_auth_password" if self.basic_auth_password is None else "basic_auth_username"
            )
            problems.append(
                (key, "basic_auth_username and basic_auth_password must be given together")
            )
        return problems


class LogConfig(Schema):
    """``[log]``."""

    level = Choice(("debug", "info", "warning", "error"), default="info")
    format = Choice(("auto", "json", "console"), default="auto")


class MetricsConfig(Schema):
    """``[metrics]``: per-step latency is timed on 1 record in ``step_timing_sample_every``."""

    step_timing_sample_every = Int(min=0, max=1_000_000, default=DEFAULT_SAMPLE_EVERY)


class ReaderConfig(Schema):
    """``[reader]``: the loop that reads every port.

    While ports keep delivering, it polls them at most once per ``batch_interval_s`` and reads
    what gathered meanwhile in one chunk per port: each reading waits up to that long, for far
    less CPU per reading (docs/performance.md). 0 reads every packet as it arrives. A port that
    fills its kernel buffer fast is read at once whatever the interval, so nothing is lost.
    """

    batch_interval_s = Float(min=0, max=1.0, default=0.02)


class SerialConfig(Schema):
    """``[sensors.serial]``: line settings; applied exactly or the port fails to open.

    ``rs485 = true`` hands RS-485 direction control to the kernel driver (TIOCSRS485): RTS is
    at ``rs485_rts_level_for_tx`` while sending and at ``rs485_rts_level_for_rx`` after, with
    ``rs485_delay_before_tx_s``/``rs485_delay_before_rx_s`` around sending (whole
    milliseconds). A port whose driver cannot do it fails to open with an error naming
    ``serial.rs485``.

    ``timeout_s`` bounds a write, and a read of a port without a descriptor (``rfc2217://``,
    ``loop://``), which blocks that long for a byte: at least 1 ms, as a shorter read returns
    at once and its reader spins.

    ``local_echo = true`` is for adapters that hear their own transmission (many RS-485
    adapters do): every byte sensord writes comes back first, and sensord drops it; a
    mismatch ends the expectation without losing a byte and is logged.

    ``dtr`` and ``rts`` are the levels of those lines while the port is open (unless
    ``dsrdtr`` or ``rtscts`` drive them); ``hupcl = false`` keeps them up when the port
    closes. A board that resets on a DTR edge (an Arduino, many ESP boards) resets at every
    open otherwise; Linux raises DTR at the first open of a device whatever is set.
    """

    _synonyms: ClassVar[dict[str, str]] = {
        "baud": "baudrate",
        "baud_rate": "baudrate",
        "speed": "baudrate",
        "databits": "bytesize",
        "data_bits": "bytesize",
        "stop_bits": "stopbits",
    }

    baudrate = Int(min=50, max=12_000_000, default=9600)
    bytesize = Choice(BYTESIZES, default=8)
    parity = Choice(PARITIES, default="N", meant=PARITY_WORDS, any_case=True)
    stopbits = Choice(STOPBITS, default=1.0)
    xonxoff = Bool(default=False)
    rtscts = Bool(default=False)
    dsrdtr = Bool(default=False)
    timeout_s = Float(min=0.001, max=60, default=1.0)
    exclusive = Bool(default=True)
    dtr = Bool(default=True)
    rts = Bool(default=True)
    hupcl = Bool(default=True)
    rs485 = Bool(default=False)
    rs485_rts_level_for_tx = Bool(default=True)
    rs485_rts_level_for_rx = Bool(default=False)
    rs485_delay_before_tx_s = Float(min=0, max=1.0, default=0.0)
    rs485_delay_before_rx_s = Float(min=0, max=1.0, default=0.0)
    local_echo = Bool(default=False)

    def settings(self) -> SerialSettings:
        """The port settings (the keys of this table are SerialSettings' fields)."""
        return SerialSettings(**self.as_dict())


class PollConfig(Schema):
    r"""``[sensors.poll]``: write ``request`` every ``interval_s`` (escapes such as ``\r\n``),
    or the preset's ``command`` (its checksum computed). An array of requests writes them in
    turn, one each interval (a battery management system asked for its basic information,
    then for its cell voltages)."""

    request = BytesList()
    command = Str(optional=True)
    interval_s = Float(min=0.01, max=MAX_FRAME_INTERVAL_S)

    def check(self) -> list[tuple[str, str]]:
        if bool(self.request) == (self.command is not None):
            return [("request", "give either request or command")]
        return []


class SetupCommandConfig(Schema):
    r"""An item of ``setup`` written as bytes, for a device no preset knows: ``send`` is
    written on every connect (hex, ``"7E 00 00 02 01 03 F9 7E"``); ``expect`` is the reply
    that acknowledges it, or several of them, byte for byte as the device sends them (none: the
    device does not answer, and the command is written once); ``refuse`` the replies that
    refuse it (counted ``wrong``), each whole or only its first bytes: a reply of the length of
    ``expect`` that begins with them and is none of ``expect``. The replies are taken out of the
    byte stream as a preset's are (``sensord.formats.acks``).

    A text device's command and replies read better as text: ``send_text``, ``expect_text``
    and ``refuse_text`` take them with escapes, as ``poll.request`` does
    (``send_text = 'K 1\r\n'``), in place of (or, for replies, beside) the hex keys."""

    send = Hex(optional=True, text_key="send_text")
    send_text = Bytes(optional=True)
    expect = HexList(text_key="expect_text")
    expect_text = BytesList()
    refuse = HexList(text_key="refuse_text")
    refuse_text = BytesList()

    def check(self) -> list[tuple[str, str]]:
        if (self.send is None) == (self.send_text is None):
            return [
                (
                    "send",
                    "give either send (the command's bytes in hex) or send_text (its text, "
                    "with escapes such as \\r\\n)",
                )
            ]
        lengths = sorted({len(reply) for reply in self.replies})
        # the key the replies are given in (none: the key of the command's form)
        textual = bool(self.expect_text) if self.replies else self.send_text is not None
        expect = "expect_text" if textual and not self.expect else "expect"
        if len(lengths) > 1:
            got = ", ".join(map(str, lengths))
            return [(expect, f"the replies must all be of one length, got {got} bytes")]
        refuse = "refuse_text" if self.refuse_text and not self.refuse else "refuse"
        if not self.refusals:
            return []
        if not lengths:
            return [(refuse, f"needs {expect}, whose length is that of every reply")]
        problems = []
        for reply in self.refusals:
            shown = self._shown(reply)
            if len(reply) > lengths[0]:
                problems.append(
                    (refuse, f"{shown} is longer than the {lengths[0]}-byte replies of {expect}")
                )
            elif reply in self.replies:
                problems.append((refuse, f"{shown} is also in {expect}"))
        return problems

    @property
    def command(self) -> bytes:
        """The bytes written: ``send``'s or ``send_text``'s."""
        data = self.send if self.send is not None else self.send_text
        assert data is not None  # check()
        return data

    @property
    def replies(self) -> tuple[bytes, ...]:
        """The replies that acknowledge the command: ``expect``'s, then ``expect_text``'s."""
        return self.expect + self.expect_text

    @property
    def refusals(self) -> tuple[bytes, ...]:
        """The replies (or their first bytes) that refuse it: ``refuse``'s and ``refuse_text``'s."""
        return self.refuse + self.refuse_text

    @property
    def name(self) -> str:
        """The command as logs name it: its bytes in hex, or its text as written."""
        return self._shown(self.command)

    def _shown(self, data: bytes) -> str:
        """Bytes as this command is written: in hex, or quoted text with escapes."""
        if self.send_text is not None:
            return f"'{escaped(data)}'"
        return data.hex(" ").upper()

    def acks(self) -> tuple[Ack, ...]:
        """The replies the command may get: each of ``expect``, then each of ``refuse``."""
        replies = self.replies
        if not replies:
            return ()
        from sensord.formats.acks import Ack  # noqa: PLC0415  (loaded by a sensor of binary frames)

        n = len(replies[0])
        return tuple(Ack(FrameSpec(start=reply, length=n), reply) for reply in replies) + tuple(
            Ack(FrameSpec(start=reply, length=n), None) for reply in self.refusals
        )


def _check_replay_speed(speed: float) -> str | None:
    """What is wrong with a ``replay.speed`` above 0 at which a recorded second takes longer
    than ``MAX_FRAME_INTERVAL_S``, the longest stale time: a capture whose bytes came a second
    or more apart would leave its sensor stale from its first gap on, with no end in sight."""
    if speed == 0.0 or 1.0 / speed <= MAX_FRAME_INTERVAL_S:
        return None
    hours = 1.0 / speed / 3600
    took = f"{hours / 24:.3g} days" if hours >= 48 else f"{hours:.3g} hours"
    return (
        f"must be 0 (as fast as the loop reads) or at least 1/{MAX_FRAME_INTERVAL_S} (a "
        f"recorded second in a day, the longest stale_after_s), got {speed:g}: a recorded "
        f"second would take {took}, so the replay stalls and its sensor stays stale"
    )


class ReplayConfig(Schema):
    """``[sensors.replay]``: how a ``replay://`` port plays its capture: ``speed`` times the
    recorded pace (0: as fast as the loop reads; a recorded second in a day at the slowest),
    and whether it starts over at the end (``loop``) or falls silent."""

    speed = Float(min=0, max=1000, default=1.0, check=_check_replay_speed)
    loop = Bool(default=False)


class ReconnectConfig(Schema):
    """``[sensors.reconnect]``: exponential backoff with full jitter between reopen attempts."""

    initial_delay_s = Float(min=0.01, max=60, default=0.5)
    max_delay_s = Float(min=0.1, max=3600, default=30.0)

    def check(self) -> list[tuple[str, str]]:
        if self.initial_delay_s > self.max_delay_s:
            return [
                (
                    "initial_delay_s",
                    f"must not exceed max_delay_s ({self.max_delay_s:g}), "
                    f"got {self.initial_delay_s:g}",
                )
            ]
        return []


#: The ASCII characters the text formats read a line by (its digits, signs, separators and
#: line ends), which an encoding must read from their ASCII bytes, and write: a line is cut at
#: its terminator's bytes before it is decoded. (A backslash, a tilde and a percent sign are left
#: out: Shift JIS, HZ and code page 864 have other characters there.)
_ASCII_SAMPLE = (
    "0123456789 ABCDEFGHIJKLMNOPQRSTUVWXYZ abcdefghijklmnopqrstuvwxyz"
    " \t\r\n+-.,;:=*$!#\"'()[]{}/_<>?@&|^`"
)


def _check_encoding(name: str) -> str | None:
    try:
        info = codecs.lookup(name)
    except LookupError:
        return f"unknown text encoding {name!r}"
    if not getattr(info, "_is_text_encoding", True):  # base64, rot13: bytes to bytes
        return f"unknown text encoding {name!r}"
    try:
        _ASCII_SAMPLE.encode(name)  # as the simulated device writes its lines
        same = _ASCII_SAMPLE.encode("ascii").decode(name) == _ASCII_SAMPLE
    except UnicodeError:  # the codec "undefined" refuses every text
        same = False
    if not same:
        return (
            f"{name!r} does not read ASCII text from its ASCII bytes (the lines are cut at "
            "their terminator's bytes and read by their ASCII digits and separators): give an "
            "encoding that does, such as 'utf-8' (the default), 'latin-1' or 'cp1252'"
        )
    return None


def _check_delimiter(value: str) -> str | None:
    """A csv ``delimiter`` of several white-space characters, which no device's cells are
    parted by: columns aligned with spaces have runs of spaces that shrink by one before a
    value that grows a digit or a sign (an R. M. Young 81000's ``   0.00   0.0 346.70  25.14``),
    which one space reads, and a tab-separated device writes one tab between two cells."""
    if len(value) < 2 or value.strip():
        return None
    if set(value) == {" "}:
        return (
            f'is {len(value)} spaces, got {value!r}: give one space, delimiter = " ", which '
            "splits at each run of spaces (columns aligned with spaces have one space less "
            f"before a value that grows a digit or a sign, which {len(value)} spaces would not "
            "part from the value before it)"
        )
    return (
        f"is white space of {len(value)} characters, got {value!r}: give one space (it splits "
        'at each run of spaces) or one tab, "\\t" (a tab-separated device writes one '
        "between every two cells)"
    )


class ParseConfig(Schema):
    """``[sensors.parse]``: options of the wire format (``sensord.formats`` checks them).

    ``example`` is one frame as a ``value`` device with a ``pattern`` sends it; the simulator
    sends it with the pattern's group replaced by each value. With named groups it may be an
    array, one line of each kind the device sends (an SDI-12 adapter's sensors at two
    addresses), each group's number in one of them at least. ``units`` are the unit texts that
    may follow a number, ``invalid`` the texts a device sends for a value it could not measure,
    ``decimal`` the decimal mark of its numbers (value, kv, csv, json; see
    ``sensord.formats.text``); ``nul_padding`` that NULs at the ends of its lines are padding
    (``sensord.formats.lines``); ``ignore`` regexes of the lines a device sends that carry no
    reading, which are counted as ignored frames and not parsed
    (``sensord.formats.base.ignoring``); ``block`` the kind of checked block a device sends its
    lines in (a DSMR telegram, a VE.Direct block), whose lines are read only when the block's
    check holds (``sensord.formats.blocks``); ``crc`` the CRC of a DSMR telegram, when the
    meter writes another than DSMR's CRC-16/ARC (a Holley DTSD545's CRC-16/X-25); ``checksum``
    the kind of checksum at the end of each line (NMEA's ``*hh``, an R. M. Young anemometer's,
    SDI-12's CRC), whose lines are read without it when it holds
    (``sensord.formats.line_checksums``).
    """

    pattern = Str(optional=True)
    #: one line as the device sends it, or one of each kind (an SDI-12 adapter's sensors)
    example = StrList(lone=True)
    pair_separator = Str(default=",", non_empty=False)
    kv_separator = Str(default="=", non_empty=False)
    delimiter = Str(default=",", non_empty=False, check=_check_delimiter)
    columns = StrList()
    header = Bool(default=False)
    units = StrList()
    invalid = StrList()
    decimal = Choice((".", ","), default=".")
    nul_padding = Bool(default=False)
    encoding = Str(default="utf-8", check=_check_encoding)
    ignore = StrList()
    block = Choice(BLOCK_KINDS, optional=True)
    crc = Choice(
        DSMR_CRCS,
        optional=True,
        meant={
            "arc": "crc16_arc",
            "crc-16/arc": "crc16_arc",
            "crc16": "crc16_arc",
            "x25": "crc16_x25",
            "x-25": "crc16_x25",
            "crc-16/x-25": "crc16_x25",
            "crc16_x-25": "crc16_x25",
            "holley": "crc16_x25",
        },
    )
    checksum = Choice(
        LINE_CHECKSUMS,
        optional=True,
        meant={
            "nmea0183": "nmea",
            "nmea-0183": "nmea",
            "xor8": "xor",
            "rmy": "xor",
            "young": "xor",
            "sdi-12": "sdi12",
            "sdi_12": "sdi12",
            "crc16": "sdi12",
        },
    )


#: The keys of ``parse`` that one format reads, each with that format and, by the other
#: formats that have one, the key of theirs that does the same.
_PARSE_KEY_FORMATS: dict[str, tuple[str, dict[str, str]]] = {
    "pair_separator": ("kv", {"csv": "delimiter"}),
    "kv_separator": ("kv", {}),
    "delimiter": ("csv", {"kv": "pair_separator"}),
    "columns": ("csv", {}),
    "header": ("csv", {}),
    "pattern": ("value", {}),
}


@dataclass(frozen=True, slots=True)
class ExampleRead:
    """One of ``frame.examples`` as the daemon reads it: the frame its framer cut (None: it
    cut none), the channels' values, those marked not available, and what keeps it from
    being read (None: nothing)."""

    frame: bytes | None
    pairs: list[tuple[str, float]]
    unavailable: tuple[str, ...]
    problem: str | None


class FrameFieldConfig(Schema):
    """``[[sensors.frame.fields]]``: one number in a binary frame, ``raw * scale + bias``.
    ``not_available`` lists raw values (as the type reads them, before ``scale`` and
    ``bias``) that the device sends for "no value": not published, counted as ``invalid``.
    ``kind``: the field is read only from frames of that kind, which hold it at the frame's
    ``kind_offset``: a number (``kind_size`` bytes, big-endian) or bytes in hex
    (``"95 08 01"``); an array of them, from the frames of each (``["80 01", "80 81"]``: a
    value a device reports unasked and in its reply to a query). ``bit`` (and ``bits``, 1 by
    default): a bit field, those bits of the unsigned number ``type`` reads (a flag of a
    status word)."""

    name = Str(pattern=_NAME, pattern_doc=_NAME_DOC)
    offset = Int(min=0, max=1_048_575)
    type = Choice(tuple(FIELD_TYPES))
    scale = Float(default=1.0)
    bias = Float(default=0.0)
    not_available = NumberList()
    kind = IntOrHexList(min=0, max=0xFFFF_FFFF, optional=True)
    bit = Int(min=0, max=31, optional=True)
    bits = Int(min=1, max=32, optional=True)

    def check(self) -> list[tuple[str, str]]:
        if self.scale == 0:
            return [("scale", "must not be 0")]
        if self.bits is not None and self.bit is None:
            return [("bits", "needs bit, the first bit of the field (0: the least significant)")]
        if self.bit is not None:
            most = (1 << (self.bits or 1)) - 1
            for value in self.not_available:
                if not (float(value).is_integer() and 0 <= value <= most):
                    return [("not_available", f"a {self.bits or 1}-bit field holds 0..{most}")]
            return []
        from sensord.formats.frames import field_value_problem  # noqa: PLC0415  (loaded by a sensor of binary frames)

        for value in self.not_available:
            problem = field_value_problem(self.type, value)
            if problem is not None:
                return [("not_available", problem)]
        return []


#: A frame field's ``kind`` as the file gives it: one kind, or a tuple of several.
_Kind = int | bytes | tuple[int | bytes, ...]


def _kinds(kind: _Kind | None) -> tuple[int | bytes, ...]:
    """A field's ``kind`` as the kinds it names (none: no kind, every frame)."""
    if kind is None:
        return ()
    return kind if isinstance(kind, tuple) else (kind,)


class FrameConfig(Schema):
    """``[sensors.frame]``: the layout of a binary frame (``format = "frames"``; the keys are
    described in ``sensord.formats.frames``)."""

    start = Bytes(non_empty=False)
    length = Int(min=1, max=1_048_576, optional=True)
    length_offset = Int(min=0, max=1_048_575, default=0)
    length_size = Choice((0, 1, 2, 4), default=0)
    length_byteorder = Choice(("big", "little"), default="big")
    length_counts = Choice(("after", "frame"), default="after")
    length_adjust = Int(min=-1_048_576, max=1_048_576, default=0)
    end = IntOrHex(min=0, max=255, optional=True)
    escape = Int(min=0, max=255, optional=True)
    checksum = Choice(("none", *CHECKSUM_NAMES), default="none")
    checksum_start = Int(min=-1_048_576, max=1_048_575, default=0)
    checksum_end = Int(min=-1_048_576, max=1_048_576, optional=True)
    checksum_offset = Int(min=-1_048_576, max=1_048_575, default=0)
    reply_length = Int(min=1, max=1_048_576, optional=True)
    boot_bytes = Bytes(non_empty=False, default=b"")
    boot_offset = Int(min=0, max=1_048_575, default=0)
    boot_mask = Bytes(non_empty=False, default=b"")
    status_offset = Int(min=0, max=1_048_575, optional=True)
    status_mask = Int(min=1, max=255, default=255)
    status_ok = NumberList()
    silence_s = Float(above=0, max=3600, optional=True)
    examples = HexList()
    kind_offset = Int(min=0, max=1_048_575, optional=True)
    kind_size = Choice((1, 2, 3, 4), default=1)
    fields = SectionList(FrameFieldConfig, min_items=1, max_items=256)

    def check(self) -> list[tuple[str, str]]:
        bad = [v for v in self.status_ok if not isinstance(v, int) or not 0 <= v <= 255]
        if bad:
            return [("status_ok", f"must be byte values 0..255, got {bad[0]!r}")]
        largest = (1 << (8 * self.kind_size)) - 1
        for i, field in enumerate(self.fields):
            several = isinstance(field.kind, tuple)
            for j, kind in enumerate(_kinds(field.kind)):
                key = f"fields[{i}].kind[{j}]" if several else f"fields[{i}].kind"
                if isinstance(kind, int) and kind > largest:
                    more = " (kind_size = N for N bytes, or the bytes in hex)"
                    return [
                        (key, f"a {self.kind_size}-byte kind is 0..{largest}{more}, got {kind}")
                    ]
                if isinstance(kind, bytes) and len(kind) < self.kind_size:
                    # "80" with kind_size = 2 would match every frame 80 xx no longer kind names
                    return [
                        (
                            key,
                            f"{kind.hex(' ').upper()!r} is {len(kind)} byte"
                            f"{'s' if len(kind) > 1 else ''}, and kind_size is "
                            f"{self.kind_size}: give all {self.kind_size} (a shorter kind is "
                            "the kind of every frame that begins so and no longer kind names), "
                            "or leave kind_size out if the kinds are of different lengths on "
                            "purpose (kind_size is for kinds given as numbers)",
                        )
                    ]
        return []

    def _kind_bytes(self, kind: _Kind | None) -> tuple[bytes, ...]:
        """A field's kinds as the bytes a frame holds (none: every frame): a number in
        ``kind_size`` bytes (at least as many as it takes: ``check`` refuses one that does not
        fit)."""
        return tuple(
            k
            if isinstance(k, bytes)
            else k.to_bytes(max(self.kind_size, (k.bit_length() + 7) // 8), "big")
            for k in _kinds(kind)
        )

    def spec(self) -> FrameSpec:
        return FrameSpec(
            start=self.start,
            length=self.length,
            length_offset=self.length_offset,
            length_size=self.length_size,
            length_byteorder=self.length_byteorder,
            length_counts=self.length_counts,
            length_adjust=self.length_adjust,
            end=self.end if not isinstance(self.end, bytes) else self.end[-1],
            end_bytes=self.end if isinstance(self.end, bytes) else b"",
            escape=self.escape,
            checksum=self.checksum,
            checksum_start=self.checksum_start,
            checksum_end=self.checksum_end,
            checksum_offset=self.checksum_offset,
            fields=tuple(
                FieldSpec(
                    f.name,
                    f.offset,
                    f.type,
                    f.scale,
                    f.bias,
                    tuple(f.not_available),
                    self._kind_bytes(f.kind),
                    f.bit,
                    f.bits or 1,
                )
                for f in self.fields
            ),
            reply_length=self.reply_length,
            boot_bytes=self.boot_bytes,
            boot_offset=self.boot_offset,
            boot_mask=self.boot_mask,
            status_offset=self.status_offset,
            status_mask=self.status_mask,
            status_ok=tuple(int(v) for v in self.status_ok),
            silence_s=self.silence_s,
            kind_offset=self.kind_offset,
        )


class SimulationConfig(Schema):
    """``[sensors.simulation]``: the simulated device's seed and fault rates."""

    seed = Int(optional=True)
    spike_rate = Float(min=0, max=1, default=0.0)
    garbage_rate = Float(min=0, max=1, default=0.0)
    dropout_rate = Float(min=0, max=1, default=0.0)
    dropout_s = Float(above=0, max=3600, default=5.0)


#: The words register maps and other tools use for a Modbus value's type, for the did-you-mean
#: of a type refused: a meter manual's "float" is IEEE 754 single precision in two registers,
#: never the four of float64 that the closest spelling would give; Telegraf's ``FLOAT32-IEEE``,
#: ``INT16``; the C names of the integer widths.
_MODBUS_TYPE_WORDS = {
    "float": "float32",
    "real": "float32",
    "single": "float32",
    "float32-ieee": "float32",
    "ieee754": "float32",
    "double": "float64",
    "float64-ieee": "float64",
    "short": "int16",
    "int": "int16",
    "integer": "int16",
    "signed": "int16",
    "ushort": "uint16",
    "word": "uint16",
    "unsigned": "uint16",
    "long": "int32",
    "dint": "int32",
    "ulong": "uint32",
    "dword": "uint32",
    "udint": "uint32",
    "boolean": "bool",
    "bit": "bool",
    "coil": "bool",
}


class ModbusWriteConfig(Schema):
    """``[[sensors.modbus.setup]]``: a value a Modbus device is written before it is read,
    at each open of its bus and when it answers again after it was down (a Sensirion SCD30
    measures only once "trigger continuous measurement", holding register 0x0036, is
    written). Give either ``table`` (``holding`` or ``coil``) and the 0-based ``address``,
    or ``ref`` (``"40055"``, ``"00001"``). ``value`` is written as ``type`` (``uint16`` by
    default; a coil takes 0 or 1) in the device's byte and word order, unless the entry
    gives its own; ``function`` is 06 for one register and 16 for more (05 and 15 for a
    coil) unless given: some devices take 16 only (Eastron meters). The device's echo is
    checked; an exception is logged and the write not repeated until the next open."""

    table = Choice(("holding", "coil"), optional=True)
    address = Int(min=0, max=65_535, optional=True)
    ref = Str(pattern=r"[0-9]{5,6}", pattern_doc="5 or 6 digits such as '40001'", optional=True)
    type = Choice(
        tuple(t for t in VALUE_TYPES if t != "bool"), default="uint16", meant=_MODBUS_TYPE_WORDS
    )
    value = Float()
    byte_order = Choice(BYTE_ORDERS, optional=True)
    word_order = Choice(BYTE_ORDERS, optional=True)
    function = Choice((5, 6, 15, 16), optional=True)

    def check(self) -> list[tuple[str, str]]:
        try:
            table, _ = self.location()
        except ValueError as exc:
            return [("ref", str(exc))]
        if table not in WRITE_FUNCTIONS:
            return [("ref", f"{self.ref!r} is in table {table!r}, which is read, not written")]
        if table == "coil":
            if self.value not in (0, 1):
                return [("value", f"a coil is written 0 or 1, got {self.value:g}")]
        else:
            problem = written_value_problem(self.type, self.value)
            if problem is not None:
                return [("value", problem)]
        if self.function is not None:
            single, multiple = WRITE_FUNCTIONS[table]
            width = 1 if table == "coil" else WIDTHS[self.type]
            allowed = (single, multiple) if width == 1 else (multiple,)
            if self.function not in allowed:
                return [
                    (
                        "function",
                        f"a {table} write of {width} "
                        f"{'register' if table == 'holding' else 'coil'}"
                        f"{'s' if width > 1 else ''} takes function "
                        + " or ".join(f"{code:02d}" for code in allowed),
                    )
                ]
        return []

    def location(self) -> tuple[str, int]:
        """The table and the 0-based address (``ref`` resolved); ValueError naming what is
        missing or wrong."""
        if self.ref is not None:
            if self.address is not None or self.table is not None:
                raise ValueError("give either ref, or table and address")
            return parse_reference(self.ref)
        if self.table is None or self.address is None:
            raise ValueError("give either ref, or table and address")
        return self.table, self.address

    def spec(self, device: ModbusConfig) -> WriteSpec:
        table, address = self.location()
        if table == "coil":
            words: tuple[int, ...] = (1 if self.value else 0,)
        else:
            from sensord.formats.modbus import register_words  # noqa: PLC0415  (the codec, loaded by a Modbus device)

            reg = RegisterSpec(
                "setup",
                table,
                address,
                self.type,
                self.byte_order or device.byte_order,
                self.word_order or device.word_order,
            )
            words = tuple(register_words(reg, self.value))
        single, multiple = WRITE_FUNCTIONS[table]
        function = self.function or (single if len(words) == 1 else multiple)
        return WriteSpec(table, address, words, function)


class ModbusConfig(Schema):
    """``[sensors.modbus]``: the device on a Modbus bus (``format = "modbus"``).

    ``unit`` is its address on the bus (1..247 on a serial line, or 248..255 for a device
    alone on its port that answers there whatever its own address, such as a SenseAir S8 at
    254; 0, the broadcast address, with ``broadcast_reads`` for a device that answers reads
    there all the same, as a Seplos V3 BMS does; 0..255 behind Modbus TCP, where some devices
    answer only to 0 or 255); it is polled
    every ``interval_s`` and each request waits at most ``timeout_s`` for its response.
    ``gap_s`` keeps the line quiet that much longer than the protocol's silence after each
    exchange with it (devices that need time between requests), and ``connect_delay_s``
    delays its first poll after the port opens, and its first request on each network
    connection opened again (devices or gateways that drop requests sent right after a
    connect, as a Huawei SDongle does). A device that
    answers a read with exception 0x06 (busy) or 0x05 (acknowledge: still working) is asked the
    same read again ``busy_wait_s`` later, up to ``busy_retries`` times, before that read
    waits for the next poll. A read that goes unanswered (its timeout, or a gateway's
    exception 0x0A or 0x0B) is asked again up to ``retries`` times before the rest of the poll
    waits for the next one: a device that sleeps between polls and loses the request that
    wakes it, or one that drops the odd request, is read at every poll. ``byte_order`` and
    ``word_order`` are the defaults of its registers; ``max_gap`` is how many unmapped
    registers (or coils) a merged read may span between two values, and ``max_registers``
    the most registers one read asks for (for devices that refuse reads longer than their
    firmware takes, which the bus also learns from their exception 0x03). With
    ``sunspec_not_available`` every integer register also has SunSpec's "not implemented"
    value as a ``not_available`` value
    (:data:`~sensord.formats.modbus_keys.SUNSPEC_NOT_AVAILABLE`).
    """

    #: what other Modbus tools call the unit id
    _synonyms: ClassVar[dict[str, str]] = {
        "slave": "unit",
        "slave_id": "unit",
        "slave_address": "unit",
        "device_id": "unit",
        "unit_id": "unit",
    }

    unit = Int(min=0, max=255, default=1)
    interval_s = Float(min=0.01, max=MAX_FRAME_INTERVAL_S, default=1.0)
    timeout_s = Float(min=0.001, max=60, default=0.5)
    gap_s = Float(min=0, max=10, default=0.0)
    busy_retries = Int(min=0, max=10, default=3)
    busy_wait_s = Float(min=0, max=10, default=0.1)
    retries = Int(min=0, max=MAX_RETRIES, default=0)
    connect_delay_s = Float(min=0, max=CONNECT_DELAY_MAX_S, default=0.0)
    byte_order = Choice(BYTE_ORDERS, default="big")
    word_order = Choice(BYTE_ORDERS, default="big")
    max_gap = Int(min=0, max=MAX_GAP, default=0)
    max_registers = Int(min=1, max=MAX_REGISTERS, default=MAX_REGISTERS)
    sunspec_not_available = Bool(default=False)
    broadcast_reads = Bool(default=False)
    setup = SectionList(ModbusWriteConfig, max_items=32)


class RegisterConfig(Schema):
    """``[[sensors.registers]]``: one value in a Modbus device's register map, read by the
    channel whose ``field`` (by default its name) is ``name``.

    Give either ``table`` and the 0-based ``address``, or ``ref``, the 1-based reference of
    device manuals as a string: ``"40001"`` is holding register 0, ``"30001"`` input register
    0, ``"10001"`` discrete input 0, ``"00001"`` coil 0 (five digits; six digits such as
    ``"400001"`` for addresses above 9998). ``sensord check`` shows what a ``ref`` stands for.
    ``not_available`` lists what the device holds when it has no value (0xFFFF, 0x8000): such a
    value is not published, and is counted as ``invalid``.

    ``bit`` makes the value a bit field: ``bits`` bits (default 1) of its registers, read as
    an unsigned number of its type, from bit ``bit`` on (0 is the least significant): a
    status flag, or a byte (``bit = 8, bits = 8`` is a register's high byte). Fields of the
    same registers may each have an entry, beside one for the whole value. ``sign`` reads a
    signed field: ``"twos"`` in two's complement, ``"magnitude"`` with its top bit the sign
    (a Renogy controller's temperatures, -3 °C held as 0x83); ``"magnitude"`` reads a whole
    integer value so too.
    ``scale_register`` names the entry of the same table whose integer is the power of ten
    this value is multiplied by (a SunSpec scale factor such as ``W_SF``: 2304 with -1 is
    230.4): the two are always read in one request, since a device may change the factor
    with the value, and a value whose factor is not available (0x8000 with
    ``sunspec_not_available``) or outside -10..10 is not published and counts as ``invalid``.
    A factor needs no channel of its own.
    ``status_register`` names the entry of the same table that says whether this value is
    valid (a Senseair S8's meter status, a Vaisala transmitter's CO2 status): the two are
    read in one request, and the value is published only when the status's bits in
    ``status_mask`` (default: all) are one of ``status_ok`` (default ``[0]``); otherwise it is
    not available, counted as ``invalid`` and logged with the status. A status needs no
    channel of its own either.
    """

    #: the keys of Home Assistant's and Telegraf's Modbus registers
    _synonyms: ClassVar[dict[str, str]] = {
        "scale_factor": "scale_register",
        "data_type": "type",
        "datatype": "type",
        "input_type": "table",
        "register_type": "table",
        "register": "table",
        "byte_order_swap": "byte_order",
    }
    _foreign: ClassVar[dict[str, str]] = {
        "scale": "a register is read as the device holds it: scale it in its channel, "
        "normalize = { scale = 0.1 } (or scale_register for a SunSpec scale factor)",
        "multiplier": "a register is read as the device holds it: scale it in its channel, "
        "normalize = { scale = 0.1 }",
        "offset": "a register is read as the device holds it: offset it in its channel, "
        "normalize = { offset = ... }",
        "precision": "values are published as read (a float32 as its shortest decimal); "
        "rounding is the dashboard's",
        "swap": 'byte_order and word_order say it: "byte" is byte_order = "little", "word" '
        'is word_order = "little", "word_byte" both',
        "count": "the count follows from type: a float32 or int32 is 2 registers, a 64-bit type 4",
        "slave_count": "give each value its own entry; adjacent ones are read in one request",
        "slave": "the unit id is the device's: [sensors.modbus] unit",
        "unit": "sensord has no unit key: a physical unit goes in the channel's name "
        "(power_watts), and the unit id is the device's, [sensors.modbus] unit",
    }

    name = Str(pattern=_NAME, pattern_doc=_NAME_DOC)
    table = Choice(REGISTER_TABLES, optional=True)
    address = Int(min=0, optional=True)  # at most 65535: see check()
    ref = Str(pattern=r"[0-9]{5,6}", pattern_doc="5 or 6 digits such as '40001'", optional=True)
    type = Choice(VALUE_TYPES, optional=True, meant=_MODBUS_TYPE_WORDS)
    byte_order = Choice(BYTE_ORDERS, optional=True)
    word_order = Choice(BYTE_ORDERS, optional=True)
    not_available = NumberList()
    bit = Int(min=0, max=63, optional=True)
    bits = Int(min=1, max=64, optional=True)
    sign = Choice(SIGNS, optional=True)
    scale_register = Str(pattern=_NAME, pattern_doc=_NAME_DOC, optional=True)
    status_register = Str(pattern=_NAME, pattern_doc=_NAME_DOC, optional=True)
    status_mask = Int(min=1, max=0xFFFF_FFFF_FFFF_FFFF, optional=True)
    status_ok = NumberList()

    @property
    def value_type(self) -> str:
        """``type``; without one, ``bool`` for a coil or discrete input, else ``uint16``."""
        if self.type is not None:
            return self.type
        table = self.table
        if self.ref is not None:
            with contextlib.suppress(ValueError):  # a bad ref is reported by check()
                table, _ = parse_reference(self.ref)
        return "bool" if table in ("coil", "discrete") else "uint16"

    def check(self) -> list[tuple[str, str]]:
        for value in self.not_available:
            problem = not_available_problem(self.value_type, value)
            if problem is not None:
                return [("not_available", problem)]
        if self.status_register is None:
            for key in ("status_mask", "status_ok"):
                if getattr(self, key) not in (None, ()):
                    return [(key, "needs status_register, the entry whose value it tests")]
        bad = [v for v in self.status_ok if not isinstance(v, int) or v < 0]
        if bad:
            return [("status_ok", f"must be the status's values as integers >= 0, got {bad[0]!r}")]
        if self.status_mask is not None:
            outside = [v for v in self.status_ok if isinstance(v, int) and v & ~self.status_mask]
            if outside:
                return [
                    (
                        "status_ok",
                        f"{outside[0]:#x} has bits outside status_mask {self.status_mask:#x}: "
                        "the status is compared after the mask, so it can never be "
                        f"{outside[0]:#x}",
                    )
                ]
        if self.address is not None and self.address > 65_535:
            hint = (
                f" (a reference such as {self.address} goes in ref, as a string)"
                if 100_001 <= self.address <= 465_536 and str(self.address)[0] in "134"
                else ""
            )
            return [("address", f"must be in [0, 65535], got {self.address}{hint}")]
        if self.ref is None:
            if self.address is None:
                return [("address", "give either table and address, or ref")]
            if self.table is None:
                return [("table", "is required with address")]
            return []
        if self.address is not None:
            return [("ref", "give either ref or address, not both")]
        try:
            table, _ = parse_reference(self.ref)
        except ValueError as exc:
            return [("ref", str(exc))]
        if self.table is not None and self.table != table:
            return [("table", f"is {self.table!r} but ref {self.ref!r} is in table {table!r}")]
        return []

    def location(self) -> tuple[str, int]:
        """The table and the 0-based address (``ref`` resolved)."""
        if self.ref is not None:
            return parse_reference(self.ref)
        assert self.table is not None
        assert self.address is not None
        return self.table, self.address


class FilterConfig(Schema):
    """``[sensors.channels.filter]``: inclusive bounds; non-finite values are always dropped."""

    min = Float(optional=True)
    max = Float(optional=True)

    def check(self) -> list[tuple[str, str]]:
        if self.min is not None and self.max is not None and not self.min < self.max:
            return [("min", f"must be less than max ({self.max:g}), got {self.min:g}")]
        return []


class NormalizeConfig(Schema):
    """``[sensors.channels.normalize]``: ``scale * value + offset``, then an optional unit
    conversion, then optional min-max scaling of ``[range_min, range_max]`` to ``[0, 1]``."""

    scale = Float(default=1.0)
    offset = Float(default=0.0)
    from_unit = Choice(tuple(UNITS), optional=True, meant=UNIT_WORDS)
    to_unit = Choice(tuple(UNITS), optional=True, meant=UNIT_WORDS)
    range_min = Float(optional=True)
    range_max = Float(optional=True)
    clamp = Bool(default=False)

    def check(self) -> list[tuple[str, str]]:
        problems: list[tuple[str, str]] = []
        if self.scale == 0:
            problems.append(("scale", "must not be 0 (every reading would become the offset)"))
        if (self.from_unit is None) != (self.to_unit is None):
            key = "to_unit" if self.to_unit is None else "from_unit"
            problems.append((key, "from_unit and to_unit must be given together"))
        elif self.from_unit is not None and self.to_unit is not None:
            a, b = unit_dimension(self.from_unit), unit_dimension(self.to_unit)
            if a != b:
                problems.append(
                    ("to_unit", f"cannot convert {a} ({self.from_unit}) to {b} ({self.to_unit})")
                )
        if (self.range_min is None) != (self.range_max is None):
            key = "range_max" if self.range_max is None else "range_min"
            problems.append((key, "range_min and range_max must be given together"))
        elif (
            self.range_min is not None
            and self.range_max is not None
            and not self.range_min < self.range_max
        ):
            problems.append(
                (
                    "range_min",
                    f"must be less than range_max ({self.range_max:g}), got {self.range_min:g}",
                )
            )
        if self.clamp and self.range_min is None:
            problems.append(("clamp", "needs range_min and range_max"))
        if not problems:
            try:
                affine(
                    self.scale,
                    offset=self.offset,
                    from_unit=self.from_unit,
                    to_unit=self.to_unit,
                    range_min=self.range_min,
                    range_max=self.range_max,
                )
            except ValueError as exc:
                problems.append(("scale", str(exc)))
        return problems


class WindowConfig(Schema):
    """``[sensors.channels.window]``: the last ``size`` readings, and at most ``time_s`` old."""

    #: other words for the window's length in time and in readings
    _synonyms: ClassVar[dict[str, str]] = {
        "seconds": "time_s",
        "duration": "time_s",
        "duration_s": "time_s",
        "max_age_s": "time_s",
        "samples": "size",
        "count": "size",
    }

    size = Int(min=1, max=10_000, default=60)
    time_s = Float(above=0, max=86_400 * 7, optional=True)


class SignalConfig(Schema):
    """``[sensors.channels.signal]``: the simulated signal (sine + noise + drift)."""

    center = Float(optional=True)
    amplitude = Float(min=0, optional=True)
    period_s = Float(above=0, default=60.0)
    noise = Float(min=0, optional=True)
    drift_per_s = Float(default=0.0)


class ChannelConfig(Schema):
    """``[[sensors.channels]]``: one measured quantity of a sensor, with its own stage chain."""

    #: a unit to label the channel with, as other tools have (Home Assistant's
    #: ``unit_of_measurement``): not ``units``, which reads the text after a number
    _foreign: ClassVar[dict[str, str]] = {
        key: "sensord has no unit label: a channel's unit goes in its name "
        "(temperature_celsius), normalize's from_unit and to_unit convert it, and units "
        'lists the unit texts the device writes after its numbers (units = ["C"])'
        for key in ("unit", "unit_of_measurement")
    }

    name = Str(pattern=_NAME, pattern_doc=_NAME_DOC)
    field = Str(optional=True)
    #: the unit texts that may follow this channel's number, in place of ``parse.units``
    units = StrList(
        empty_problem='must hold at least one unit text (units = ["C"]), got an empty array; '
        "a channel without units of its own reads those of parse.units: leave units out for "
        "that"
    )
    #: the texts a device sends for a state (``ON``, ``OFF``), each with the number it reads
    #: as; a text format's values only
    states = NumberTable(
        empty_problem="must hold at least one text with its number (states = { ON = 1, OFF = "
        "0 }), got an empty table; leave states out for a channel of numbers only"
    )
    #: the numbers (as the device writes them, before ``normalize``) that it sends for "no
    #: value" in this channel's field: not published, counted as ``invalid``; a text
    #: format's values only
    not_available = NumberList()
    filter = Section(FilterConfig)
    normalize = Section(NormalizeConfig)
    window = Section(WindowConfig)
    signal = Section(SignalConfig)

    @property
    def source_field(self) -> str:
        """The key, column, path or NMEA field that carries this channel (default: its name)."""
        return self.field if self.field is not None else self.name

    def signal_spec(self) -> SignalSpec:
        """The simulated signal: ``signal`` as given; its center and amplitude default to a
        sine from the smallest of the channel's ``states`` numbers to the largest (so a
        two-state channel is written as one state and the other in turn), else over the
        middle half of the filter's range, else around 20."""
        lo, hi = self.filter.min, self.filter.max
        if self.states:
            numbers = [float(number) for _, number in self.states]
            low, high = min(numbers), max(numbers)
            center, amplitude = low / 2 + high / 2, high / 2 - low / 2
        elif lo is not None and hi is not None:
            # halves and quarters first: (hi - lo) overflows for bounds near the float limit
            center, amplitude = lo / 2 + hi / 2, hi / 4 - lo / 4
        elif lo is not None:
            center, amplitude = lo + 10.0, 5.0
        elif hi is not None:
            center, amplitude = hi - 10.0, 5.0
        else:
            center, amplitude = 20.0, 5.0
        sig = self.signal
        center = sig.center if sig.center is not None else center
        amplitude = sig.amplitude if sig.amplitude is not None else amplitude
        noise = sig.noise if sig.noise is not None else amplitude / 20
        return SignalSpec(
            center=center,
            amplitude=amplitude,
            period_s=sig.period_s,
            noise=noise,
            drift_per_s=sig.drift_per_s,
        )


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


def _duplicates(table: str, values: list[str | None], key: str) -> list[tuple[str, str]]:
    """A problem for every value (None: not checked) that an earlier entry already has."""
    first: dict[str, int] = {}
    problems = []
    for i, value in enumerate(values):
        if value is None:
            continue
        if value in first:
            problems.append(
                (f"{table}[{i}].{key}", f"{value!r} is already used by {table}[{first[value]}]")
            )
        first.setdefault(value, i)
    return problems


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


def _check_absolute(value: str) -> str | None:
    if not os.path.isabs(value):
        return f"must be an absolute path (a service runs in /), got {value!r}"
    return None


#: The operating system's own trees: no capture directory lies in one (read-only under the
#: unit's ProtectSystem=, a pseudo file system, or the files the system boots and runs from).
_SYSTEM_TREES = (
    "/bin",
    "/boot",
    "/dev",
    "/efi",
    "/etc",
    "/lib",
    "/lib32",
    "/lib64",
    "/libx32",
    "/proc",
    "/sbin",
    "/sys",
    "/usr",
)

#: Directories that hold other directories, not files: a capture directory lies below one.
#: (``/mnt`` and ``/srv`` are not among them: a disk is often mounted at ``/mnt`` itself, and
#: ``/srv`` holds a site's own data.)
_SYSTEM_DIRECTORIES = ("/", "/home", "/media", "/opt", "/run", "/var", "/var/lib")


def _check_capture_directory(value: str) -> str | None:
    """``[capture] directory``: absolute, and neither a system directory nor in one. Such a
    place is a mistake: the unit's ProtectSystem=strict keeps it read-only, and a daemon run
    by root without the unit would write into the root file system."""
    problem = _check_absolute(value)
    if problem is not None:
        return problem
    path = "/" + os.path.normpath(value).lstrip("/")
    tree = next((t for t in _SYSTEM_TREES if path == t or path.startswith(f"{t}/")), None)
    if path in _SYSTEM_DIRECTORIES:
        where = "a system directory"
    elif tree is not None:
        where = "a system directory" if path == tree else f"in the system directory {tree}"
    else:
        return None
    return (
        f"{value!r} is {where}, no place for captures: the packaged unit lets the service "
        "write only in /var/lib/sensord (its StateDirectory=), its private /tmp and what a "
        "ReadWritePaths= added with 'systemctl edit sensord' names, and a daemon run as root "
        "would write among the system's own files; use a directory of its own, such as "
        "/var/lib/sensord/captures"
    )


#: The largest ``[capture] ring_bytes``: what one port may hold in memory.
MAX_RING_BYTES = 4 * 1024 * 1024


class CaptureConfig(Schema):
    """``[capture]``: every port keeps its most recent ``ring_bytes`` of raw bytes (received,
    and sent for polled sensors) with their times; 0 keeps none. SIGUSR1 writes each sensor's
    ring as a capture file into ``directory`` (without one, SIGUSR1 only logs that it cannot),
    where the newest ``keep_files`` of each sensor stay and older ones are removed.
    """

    ring_bytes = Int(min=0, max=MAX_RING_BYTES, default=DEFAULT_RING_BYTES)
    directory = Str(optional=True, check=_check_capture_directory)
    keep_files = Int(min=1, max=100_000, default=20)
