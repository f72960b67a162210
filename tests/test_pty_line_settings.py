"""A pseudo-terminal opened again with a character size or parity other than 8N.

The pty driver runs 8 bits without parity whatever is asked, and glibc's ``tcsetattr`` refuses
with EINVAL a request whose size or parity the driver did not take once the pty already runs
the other settings asked for (every open after the first, as a reload, a reconnect, the
daemon's restart or ``sensord modbus read`` after ``sensord simulate --link`` make)."""

from __future__ import annotations

import pytest
from harness.pty import PtyPair
from structlog.testing import capture_logs

from sensord.config import parse_config
from sensord.serial_settings import SerialSettings
from sensord.sources.serial_port import SerialSource


def settings_of(port: str, serial: str) -> SerialSettings:
    text = f"""
[[sensors]]
name = "probe"
port = "{port}"
format = "value"
serial = {{ {serial} }}
channels = [{{ name = "t" }}]
"""
    return parse_config(text).sensors[0].serial.settings()


@pytest.mark.parametrize(
    "serial",
    [
        'baudrate = 9600, parity = "E"',  # Modbus RTU's default line, 8E1
        'baudrate = 4800, bytesize = 7, parity = "E"',  # a Vaisala HMP155's 7E1
        "baudrate = 9600, bytesize = 7",
    ],
)
def test_a_pty_opens_again_with_a_line_it_does_not_carry(serial: str) -> None:
    with PtyPair() as pair:
        settings = settings_of(pair.path, serial)
        for _ in range(3):
            with SerialSource("probe", pair.path, settings) as source:
                assert source.is_open


def test_a_pty_opened_at_8n_says_so_once() -> None:
    """The operator who set 7E1 learns that the pty carries 8N, once per pty."""
    with PtyPair() as pair:
        settings = settings_of(pair.path, 'baudrate = 4800, bytesize = 7, parity = "E"')
        with capture_logs() as logs:
            for _ in range(3):
                with SerialSource("hmp155", pair.path, settings):
                    pass
    said = [entry for entry in logs if entry["event"] == "pty_opened_at_8n"]
    assert len(said) == 1
    assert said[0]["device"] == pair.path
    assert said[0]["asked"] == "7E"
