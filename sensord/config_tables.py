"""The configuration file's tables: their keys, defaults, limits and invariants.

Every table of the file is a ``Schema`` (``sensord.schema``) whose attributes are validating
descriptors (``sensord.schema_fields``), so a value is checked when it is assigned, whether it
comes from the file or from code. Here are ``[http]``, ``[capture]``, ``[log]``, ``[metrics]``,
``[reader]`` and the tables of a ``[[sensors]]`` entry (``serial``, ``poll``, ``setup``,
``parse``, ``frame``, ``modbus``, ``registers``, ``channels``, ...); the entry itself is
``sensord.config_sensor``, the whole file ``sensord.config_checks.Config``, and its loading
``sensord.config``.
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
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from sensord.capture import DEFAULT_RING_BYTES
from sensord.formats.base import (
    BLOCK_KINDS,
    DSMR_CRCS,
    FieldSpec,
    FrameSpec,
    RegisterSpec,
    WriteSpec,
)
from sensord.formats.frame_keys import CHECKSUM_NAMES, FIELD_TYPES
from sensord.formats.line_checksums import LINE_CHECKSUMS
from sensord.formats.modbus_keys import (
    BYTE_ORDERS,
    MAX_GAP,
    MAX_REGISTERS,
    MAX_RETRIES,
    REGISTER_TABLES,
    SIGNS,
    VALUE_TYPES,
    WIDTHS,
    WRITE_FUNCTIONS,
    not_available_problem,
    parse_reference,
    written_value_problem,
)
from sensord.log import escaped
from sensord.schema import Schema
from sensord.schema_fields import (
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
    Section,
    SectionList,
    Str,
    StrList,
)
from sensord.serial_settings import BYTESIZES, PARITIES, PARITY_WORDS, STOPBITS, SerialSettings
from sensord.signals import SignalSpec
from sensord.stage import DEFAULT_SAMPLE_EVERY
from sensord.units import UNIT_WORDS, UNITS, affine, unit_dimension

if TYPE_CHECKING:
    from sensord.formats.acks import Ack

__all__ = [
    "CONNECT_DELAY_MAX_S",
    "DEFAULT_HTTP_PORT",
    "MAX_FRAME_INTERVAL_S",
    "MAX_RING_BYTES",
    "_HEX_AS_TEXT",
    "_NAME",
    "_NAME_DOC",
    "_PARSE_KEY_FORMATS",
    "CaptureConfig",
    "ChannelConfig",
    "FrameConfig",
    "HttpConfig",
    "LogConfig",
    "MetricsConfig",
    "ModbusConfig",
    "ParseConfig",
    "PollConfig",
    "ReaderConfig",
    "ReconnectConfig",
    "RegisterConfig",
    "ReplayConfig",
    "SerialConfig",
    "SetupCommandConfig",
    "SimulationConfig",
    "_duplicates",
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
        from sensord.formats.frames_decode import field_value_problem  # noqa: PLC0415  (loaded by a sensor of binary frames)

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
            from sensord.formats.modbus_values import register_words  # noqa: PLC0415  (the codec, loaded by a Modbus device)

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
