"""Ports behind ser2net, the serial server most users run (``harness.ser2net.Ser2net``): a
real ser2net 4.x serving a real pty over raw TCP (``socket://``) and over RFC 2217
(``rfc2217://``), read by ``SerialSource`` and by the daemon.

ser2net opens the device when a client connects. What it says to a client it cannot serve
("Port already in use", "Device open failure: ...") is a line of text, after which it closes
the connection: sensord's errors quote that line.
"""

from __future__ import annotations

import contextlib
import math
import termios
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from harness.common import wait_for
from harness.daemon import DaemonProcess, StartDaemon
from harness.pty import PtyPair, SymlinkedPty, symlinked_pty
from harness.ser2net import Ser2net

from sensord.errors import SourceBrokenError, SourceUnavailableError
from sensord.serial_settings import SerialSettings
from sensord.sources.serial_port import SerialSource

SCHEMES = ["rfc2217", "socket"]


@contextmanager
def served(tmp_path: Path, scheme: str, *, banner: str = "") -> Iterator[tuple[PtyPair, Ser2net]]:
    """A pty served by ser2net on ``scheme``."""
    with (
        PtyPair() as pair,
        Ser2net(pair.path, tmp_path, telnet=scheme == "rfc2217", banner=banner) as server,
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
            broken_read(source)


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
    that opens such a port, not that the URL is invalid."""
    with served(tmp_path, "rfc2217") as (_, server):
        source = SerialSource("remote", server.bare_url + "?timeout=0.5", SerialSettings())
        with pytest.raises(SourceUnavailableError, match=r"\?ign_set_control") as raised:
            source.open()
    assert "invalid port URL" not in str(raised.value)
    assert "'control'" in str(raised.value)


def test_a_telnet_port_without_rfc2217_is_told_how_to_serve_it(tmp_path: Path) -> None:
    """ser2net's ``telnet`` accepter without ``(rfc2217)`` takes the Telnet negotiation but
    answers none of the line settings: the error says the server lacks RFC 2217's COM port
    control and gives the accepter that serves it, not that it does not answer at all."""
    with (
        PtyPair() as pair,
        Ser2net(pair.path, tmp_path, telnet=True, rfc2217=False) as server,
    ):
        source = SerialSource("remote", server.url + "&timeout=0.5", SerialSettings())
        with pytest.raises(SourceUnavailableError) as raised:
            source.open()
    text = str(raised.value)
    assert "answered none of the line settings" in text
    assert "telnet(rfc2217),tcp,PORT" in text
    assert "does not answer" not in text


def refusal(source: SerialSource) -> str:
    """What opening and reading ``source`` fails with, when ser2net sends a line and closes:
    an ``rfc2217://`` open fails; a ``socket://`` open connects, and reading ends."""
    try:
        source.open()
    except SourceUnavailableError as exc:
        return str(exc)
    try:
        return str(broken_read(source))
    finally:
        source.close()


@pytest.mark.parametrize("scheme", SCHEMES)
def test_a_port_that_another_client_holds_is_said_to_be_in_use(
    tmp_path: Path, scheme: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ser2net answers a second client with "Port already in use" and closes the
    connection: the error quotes it (RFC 2217: pyserial's client neither stops at the
    connection it cannot answer on, nor leaves a traceback on stderr)."""
    died: list[threading.ExceptHookArgs] = []
    monkeypatch.setattr(threading, "excepthook", died.append)
    with served(tmp_path, scheme) as (pair, server):
        holder = SerialSource("holder", server.url, SerialSettings())
        with holder:
            holder.write(b"x")
            assert pair.read(1, timeout_s=5) == b"x"  # ser2net has the device open
            # pyserial's reader thread and the failed open race: tried a few times
            texts = [
                refusal(SerialSource("second", server.url, SerialSettings())) for _ in range(5)
            ]
    assert all("'Port already in use'" in text for text in texts), texts
    assert not died, [str(args.exc_value) for args in died]


@pytest.mark.parametrize("scheme", SCHEMES)
def test_a_device_gone_behind_ser2net_ends_the_connection_and_is_named(
    tmp_path: Path, scheme: str
) -> None:
    """The device unplugged behind ser2net, which serves it by its /dev/serial/by-id link (the
    link removed and the pty closed, as udev does): ser2net ends the connection, the read
    fails; a reopen connects, and ser2net's "Device open failure" is quoted.

    The pty's own path would not do: its number is free once ser2net has closed it, and a pty
    made meanwhile anywhere on the host (another test's) takes it, which ser2net then opens
    and serves until that one is closed."""
    with (
        symlinked_pty(tmp_path, "usb-FTDI_FT232R_A50285BI-if00-port0") as linked,
        Ser2net(str(linked.link), tmp_path, telnet=scheme == "rfc2217") as server,
    ):
        source = SerialSource("remote", server.url, SerialSettings(timeout_s=0.2))
        source.open()
        source.write(b"x")
        assert linked.pty.read(1, timeout_s=5) == b"x"  # ser2net has the device open
        linked.unplug(remove_link=True)  # gone: ser2net cannot open it again
        broken_read(source)
        source.close()
        text = refusal(source)
    assert "Device open failure" in text, text


# -- the daemon ----------------------------------------------------------------------------------


def wait_for_error(daemon: DaemonProcess, text: str, timeout_s: float, what: str) -> None:
    """Wait until the sensor ``temp``'s ``last_error`` holds ``text``."""
    wait_for(lambda: text in daemon.status()["sensors"]["temp"]["last_error"], timeout_s, what)


def line_sensor(url: str) -> str:
    """A line sensor on ``url``, reopened soon after a loss: within 10 ms at first, which
    often falls in the few milliseconds in which ser2net, stopped, has closed its clients'
    connections and still accepts new ones."""
    return f"""
[[sensors]]
name = "temp"
port = "{url}"
format = "value"
simulate = "never"
stale_after_s = 0.5
serial = {{ baudrate = 19200, timeout_s = 0.5 }}
reconnect = {{ initial_delay_s = 0.01, max_delay_s = 1.0 }}
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


def reads(daemon: DaemonProcess, linked: SymlinkedPty, value: int) -> None:
    """Wait until the daemon's reading is ``value``, which the device writes again and again
    (ser2net opens the device only once the daemon has connected)."""

    def read() -> bool:
        with contextlib.suppress(OSError):
            linked.pty.write(b"%d\n" % value)
        got = daemon.scrape().get("sensord_reading_value", math.nan, sensor="temp", channel="v")
        return bool(got == value)

    wait_for(read, 15, f"the reading {value}", interval_s=0.05)


@pytest.mark.slow
@pytest.mark.parametrize("scheme", SCHEMES)
def test_the_daemon_reads_through_ser2net_across_a_replug_and_a_restart(
    tmp_path: Path, start_daemon: StartDaemon, scheme: str
) -> None:
    """The daemon reads a device behind ser2net; the device unplugged and plugged back, then
    ser2net restarted (connections refused meanwhile): the sensor goes down each time and
    comes back up with the device's next value.

    When the device is unplugged, ser2net closes it and either ends the connection or keeps
    it open and silent (it does either over RFC 2217): the silent one is opened again after 3
    times ``stale_after_s``. ser2net answers the reconnects with "Device open failure",
    which the sensor's error quotes: each is an open that failed, so the sensor stays down
    meanwhile (never up for a moment) and the refusal is no rejected frame. ser2net stopped
    ends the connection and still accepts a reconnect for a moment, which it then ends
    unserved: an open that failed too."""
    with (
        symlinked_pty(tmp_path) as linked,
        Ser2net(str(linked.link), tmp_path, telnet=scheme == "rfc2217") as server,
    ):
        daemon = start_daemon(config=line_sensor(server.url))
        daemon.wait_http()
        reads(daemon, linked, 1)
        linked.unplug()
        daemon.wait_state("down", timeout_s=10)
        wait_for_error(daemon, "Device open failure", 10, "ser2net's open failure quoted")
        refused = daemon.status()["sensors"]["temp"]["open_failures"]
        wait_for(
            lambda: daemon.status()["sensors"]["temp"]["open_failures"] >= refused + 2,
            10,
            "two more refused reconnects",
        )
        missing = daemon.status()["sensors"]["temp"]
        assert missing["state"] == "down"
        assert sum(missing["parse_errors"].values()) == 0
        # (a reconnect whose refusal line the server's reset beat, on a loaded host, reads
        # "Connection reset by peer": the next one quotes it)
        wait_for_error(daemon, "the serial server refused the connection", 10, "the refusal named")
        linked.replug()
        reads(daemon, linked, 2)
        server.stop()
        daemon.wait_state("down", timeout_s=10)
        # refused meanwhile: the next reopen of its backoff (up to reconnect.max_delay_s)
        wait_for_error(daemon, "Connection refused", 5, "a refused reconnect")
        server.start()
        reads(daemon, linked, 3)
        assert daemon.status()["sensors"]["temp"]["reconnects"] >= 2
        assert daemon.stop() == 0
    assert daemon.uncaught() == []
    changes = [r for r in daemon.events("sensor state") if r.get("sensor") == "temp"]
    # up on an open at the start, after the replug and after the restart; never between (up
    # again after stale is a frame after a silence, on the same connection)
    opened_up = [r for r in changes if r["state"] == "up" and r["previous"] != "stale"]
    assert len(opened_up) == 3, [r["state"] for r in changes]
