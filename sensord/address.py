"""A port address, parsed once: what kind of port a sensor's ``port`` names.

Every place that decides by the kind of port (simulate or open, open on the loop or on a
helper thread, check the device node, compare ports for sharing) asks a ``PortAddress``
instead of testing the string:

* ``device``: a path (``/dev/ttyUSB0``, a ``/dev/serial/by-id/...`` link, a pty);
* ``network``: ``socket://HOST:PORT``, ``rfc2217://HOST:PORT`` or ``modbus-tcp://HOST:PORT``
  (Modbus TCP: a TCP connection carrying MBAP frames); connecting may block, so the reader
  opens it on a helper thread;
* ``simulated``: ``sim://`` or ``sim://NAME``, a simulated device in this process;
* ``replay``: ``replay:///PATH``, a capture file (``sensord.capture``) played back as a device;
* ``url``: another pyserial URL with no local device and no network (``loop://``).

``parse_address`` raises ``ValueError`` with a message for the config key when the text is none
of these: an unknown scheme, or a network URL without a host and a port.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

__all__ = [
    "BY_ID_DIR",
    "KNOWN_SCHEMES",
    "MODBUS_TCP_SCHEME",
    "NETWORK_SCHEMES",
    "REPLAY_SCHEME",
    "PortAddress",
    "parse_address",
]

PortKind = Literal["device", "network", "simulated", "replay", "url"]

#: Where udev keeps the stable per-adapter links (``usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0``).
BY_ID_DIR = "/dev/serial/by-id"

SIM_SCHEME = "sim"
REPLAY_SCHEME = "replay"
MODBUS_TCP_SCHEME = "modbus-tcp"
NETWORK_SCHEMES = frozenset({"socket", "rfc2217", MODBUS_TCP_SCHEME})
#: Schemes of ``url`` ports: pyserial handlers without a device node or a network peer.
OTHER_SCHEMES = frozenset({"loop"})
KNOWN_SCHEMES = NETWORK_SCHEMES | OTHER_SCHEMES | {SIM_SCHEME, REPLAY_SCHEME}


@dataclass(frozen=True, slots=True)
class PortAddress:
    """See the module docstring. ``text`` is the address as configured."""

    text: str
    kind: PortKind
    scheme: str = ""  # "" for device paths

    @property
    def is_device(self) -> bool:
        return self.kind == "device"

    @property
    def is_simulated(self) -> bool:
        return self.kind == "simulated"

    @property
    def is_replay(self) -> bool:
        return self.kind == "replay"

    @property
    def path(self) -> str:
        """The file of a ``replay://`` address ("" for other kinds)."""
        return self.text.split("://", 1)[1] if self.kind == "replay" else ""

    @property
    def endpoint(self) -> tuple[str, str, int] | None:
        """A network address's scheme, host and port as they name the same peer however
        they are written (the case of the scheme and host, a trailing ``/``); None for any
        other kind."""
        if self.kind != "network":
            return None
        parts = urlsplit(self.text)  # (``parse_address`` checked its host and port)
        return self.scheme, (parts.hostname or "").lower(), parts.port or 0

    def device(self) -> str:
        """The device a device path names, its links resolved as they are now
        (``os.path.realpath``): ``/dev/ttyUSB0`` and a ``/dev/serial/by-id/...`` link to it are
        one device, as ``sensord check`` and the port holders' search find it; a path that is
        not there is itself. The text of an address of any other kind."""
        return os.path.realpath(self.text) if self.kind == "device" else self.text

    @property
    def serial_url(self) -> str:
        """What pyserial opens: a Modbus TCP address is a plain TCP socket to the same host."""
        if self.scheme == MODBUS_TCP_SCHEME:
            return "socket://" + self.text.split("://", 1)[1]
        return self.text

    def __str__(self) -> str:
        return self.text


def parse_address(text: str) -> PortAddress:
    """The address ``text`` names; ValueError (a message for the config key) when none."""
    if not text:
        raise ValueError("must not be empty")
    if "://" not in text:
        return PortAddress(text, "device")
    scheme = text.split("://", 1)[0].lower()
    if scheme == SIM_SCHEME:
        return PortAddress(text, "simulated", scheme)
    if scheme == REPLAY_SCHEME:
        if not text.split("://", 1)[1].startswith("/"):
            raise ValueError(f"invalid replay port {text}: expected replay:///ABSOLUTE/PATH")
        return PortAddress(text, "replay", scheme)
    if scheme in OTHER_SCHEMES:
        return PortAddress(text, "url", scheme)
    if scheme not in NETWORK_SCHEMES:
        known = ", ".join(f"{s}://" for s in sorted(KNOWN_SCHEMES))
        raise ValueError(f"unknown URL scheme {scheme}:// in {text!r} (known: {known}, or a path)")
    parts = urlsplit(text)
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or port is None:
        raise ValueError(f"invalid port URL {text}: expected {scheme}://HOST:PORT")
    return PortAddress(text, "network", scheme)
