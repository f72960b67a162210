"""sensord.address: a port address is classified once, and a bad one is a config error."""

from __future__ import annotations

import pytest

from sensord.address import parse_address
from sensord.config import parse_config
from sensord.errors import ConfigError


@pytest.mark.parametrize(
    ("text", "kind", "scheme"),
    [
        ("/dev/ttyUSB0", "device", ""),
        ("/dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0", "device", ""),
        ("/dev/pts/7", "device", ""),
        ("socket://10.0.0.5:4001", "network", "socket"),
        ("RFC2217://host:2217", "network", "rfc2217"),
        ("sim://", "simulated", "sim"),
        ("sim://boiler", "simulated", "sim"),
        ("loop://", "url", "loop"),
    ],
)
def test_each_kind_of_address(text: str, kind: str, scheme: str) -> None:
    address = parse_address(text)
    assert (address.kind, address.scheme, address.text, str(address)) == (kind, scheme, text, text)
    assert address.is_device == (kind == "device")
    assert address.is_simulated == (kind == "simulated")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "must not be empty"),
        ("ftp://host/x", "unknown URL scheme ftp://"),
        ("socket://127.0.0.1", "expected socket://HOST:PORT"),
        ("socket://:4001", "expected socket://HOST:PORT"),
        ("rfc2217://host:notaport", "expected rfc2217://HOST:PORT"),
    ],
)
def test_bad_addresses_are_refused_with_the_reason(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_address(text)


def test_config_names_the_key_of_a_bad_port() -> None:
    text = """
[[sensors]]
name = "t"
port = "ftp://host/x"
format = "value"
[[sensors.channels]]
name = "v"
"""
    with pytest.raises(ConfigError) as info:
        parse_config(text)
    (problem,) = info.value.problems
    assert problem.startswith("sensors[0].port: unknown URL scheme ftp://")
