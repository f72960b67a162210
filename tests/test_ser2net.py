"""Ports behind ser2net, the serial server most users run (``harness.ser2net.Ser2net``): a
real ser2net 4.x serving a real pty over raw TCP (``socket://``) and over RFC 2217
(``rfc2217://``), read by ``SerialSource`` and by the daemon.

ser2net opens the device when a client connects and closes it when the client leaves.
"""

from __future__ import annotations

import termios
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from harness.common import wait_for
from harness.daemon import StartDaemon
from harness.pty import PtyPair
from harness.ser2net import Ser2net

from sensord.errors import SourceBrokenError, SourceUnavailableError
from sensord.serial_settings import SerialSettings
from sensord.sources.serial_port import SerialSource

SCHEMES = ["rfc2217", "socket"]


@contextmanager
def served(tmp_path: Path, scheme: str, **kw: str) -> Iterator[tuple[PtyPair, Ser2net]]:
    """A pty served by ser2net on ``scheme``."""
    with (
        PtyPair() as pair,
        Ser2net(pair.path, tmp_path, telnet=scheme == "rfc2217", **kw) as server,
    ):
        yield pair, server


def read_until(source: SerialSource, wanted: bytes, timeout_s: float = 5.0) -> bytes:
    """What ``source`` reads until it has read ``wanted`` (a descriptor is read when it is
    readable; without one ``read`` blocks up to the port's timeout)."""
    data = b""
    deadline = time.monotonic() + timeout_s
    while wanted not in data and time.monotonic() < deadline:
        data += source.read()
        if source.fileno() is not None:
            time.sleep(0.01)
    return data


def broken_read(source: SerialSource, timeout_s: float = 5.0) -> SourceBrokenError:
    """The error that reading ``source`` ends in (within ``timeout_s``)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            source.read()
        except SourceBrokenError as exc:
            return exc
        if source.fileno() is not None:
            time.sleep(0.01)
    raise AssertionError(f"{source.url} read on for {timeout_s} s")


@pytest.mark.parametrize("scheme", SCHEMES)
def test_a_polled_device_answers_through_ser2net(tmp_path: Path, scheme: str) -> None:
    """sensord's request reaches the device behind ser2net, and the device's answer comes
    back, three times over one connection; ser2net stopped, the read fails."""
    with served(tmp_path, scheme) as (pair, server):
        source = SerialSource("remote", server.url, SerialSettings(timeout_s=0.2))
        with source:
            for n in range(3):
                request = b"READ %d\r\n" % n
                source.write(request)
                assert pair.read(len(request), timeout_s=5) == request
                pair.write(b"VALUE %d\r\n" % n)
                assert read_until(source, b"VALUE %d\r\n" % n).endswith(b"VALUE %d\r\n" % n)
            server.stop()
            # the device's last line is data, not the server's reason for closing
            assert "VALUE" not in str(broken_read(source))


def test_line_settings_reach_the_device_through_ser2net_s_rfc2217(tmp_path: Path) -> None:
    """The baud rate and stop bits configured in sensord are what ser2net sets on the device
    (the pty keeps those; it runs 8 bits without parity whatever is asked)."""
    with served(tmp_path, "rfc2217") as (pair, server):
        assert pair.slave_fd is not None
        for baudrate, stopbits, speed in [(19200, 2, termios.B19200), (4800, 1, termios.B4800)]:
            settings = SerialSettings(baudrate=baudrate, stopbits=stopbits, parity="E")
            with SerialSource("remote", server.url, settings):
                _, _, cflag, _, ispeed, ospeed, _ = termios.tcgetattr(pair.slave_fd)
                assert (ispeed, ospeed) == (speed, speed)
                assert bool(cflag & termios.CSTOPB) == (stopbits == 2)


def test_an_rfc2217_url_without_ign_set_control_is_told_to_add_it(tmp_path: Path) -> None:
    """ser2net leaves the DTR change unanswered on a device without modem lines (here a pty):
    pyserial's open runs out waiting for it, and the error says so and names the URL option
    that opens such a port (where it would say the URL is invalid)."""
    with served(tmp_path, "rfc2217") as (_, server):
        source = SerialSource("remote", server.bare_url + "?timeout=0.5", SerialSettings())
        with pytest.raises(SourceUnavailableError, match=r"\?ign_set_control") as raised:
            source.open()
    assert "invalid port URL" not in str(raised.value)
    assert "'control'" in str(raised.value)


# -- the daemon ----------------------------------------------------------------------------------


def line_sensor(url: str) -> str:
    return f"""
[[sensors]]
name = "temp"
port = "{url}"
format = "value"
simulate = "never"
stale_after_s = 1.0
serial = {{ baudrate = 19200, timeout_s = 0.5 }}
reconnect = {{ initial_delay_s = 0.2, max_delay_s = 1.0 }}
  [[sensors.channels]]
  name = "v"
"""


@pytest.mark.slow
def test_sigterm_ends_the_daemon_promptly_while_ser2net_is_stopped_mid_negotiation(
    tmp_path: Path, start_daemon: StartDaemon
) -> None:
    """ser2net stopped (SIGSTOP) before the daemon connects: the kernel accepts the
    connection and nothing answers pyserial's RFC 2217 negotiation. SIGTERM ends the daemon
    at once, with exit code 0."""
    with PtyPair() as pair, Ser2net(pair.path, tmp_path) as server:
        server.freeze()
        daemon = start_daemon(config=line_sensor(server.url))
        daemon.wait_http()
        wait_for(lambda: server.connections() >= 1, 5, "the connection")
        time.sleep(0.3)  # the open waits for the server
        took, code = daemon.stop_timed(10)
        server.thaw()
    assert code == 0
    assert took < 1.0, took
