"""Adapter facts from sysfs (driver, VID:PID, serial number, FTDI latency timer) in
``sensord ports`` and ``sensord check``, read from a sysfs tree built in tmp_path with the
layout the kernel uses for USB serial adapters."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from harness.pty import PtyPair
from test_uart import supporting_device

from sensord import cli_check
from sensord.config import parse_config
from sensord.modbus_timing import ARRIVAL_SLACK_S, PIECE_MARGIN_S, UART_TIMEOUT_CHARS
from sensord.port_slack import port_slack
from sensord.ports import (
    adapter_facts,
    format_ports,
    latency_hint,
    line_counter_support,
    list_ports,
)


def fake_adapter(
    sys_root: Path,
    tty: str,
    *,
    driver: str = "ftdi_sio",
    vid: str = "0403",
    pid: str = "6001",
    serial: str | None = "A50285BI",
    latency_ms: int | None = 16,
) -> None:
    """``tty`` on a USB serial adapter, as sysfs shows it: the USB device (ids, serial), its
    interface, the usb-serial port (driver link, latency_timer), and /sys/class/tty/TTY."""
    usb = sys_root / "devices" / "pci0000:00" / "0000:00:14.0" / "usb1" / f"1-{len(tty)}"
    port = usb / f"1-{len(tty)}:1.0" / tty
    port.mkdir(parents=True)
    (usb / "idVendor").write_text(vid + "\n")
    (usb / "idProduct").write_text(pid + "\n")
    if serial is not None:
        (usb / "serial").write_text(serial + "\n")
    drivers = sys_root / "bus" / "usb-serial" / "drivers" / driver
    drivers.mkdir(parents=True, exist_ok=True)
    (port / "driver").symlink_to(os.path.relpath(drivers, port))
    if latency_ms is not None:
        (port / "latency_timer").write_text(f"{latency_ms}\n")
    tty_class = sys_root / "class" / "tty" / tty
    tty_class.mkdir(parents=True)
    (tty_class / "device").symlink_to(os.path.relpath(port, tty_class))


def test_the_facts_of_an_ftdi_adapter(tmp_path: Path) -> None:
    fake_adapter(tmp_path, "ttyUSB0")
    facts = adapter_facts("/dev/ttyUSB0", sys_root=str(tmp_path))
    assert facts.driver == "ftdi_sio"
    assert facts.vid_pid == "0403:6001"
    assert facts.serial_number == "A50285BI"
    assert facts.latency_timer_ms == 16


def test_an_adapter_without_latency_timer_or_serial(tmp_path: Path) -> None:
    fake_adapter(
        tmp_path,
        "ttyUSB1",
        driver="ch341-uart",
        vid="1a86",
        pid="7523",
        serial=None,
        latency_ms=None,
    )
    facts = adapter_facts("/dev/ttyUSB1", sys_root=str(tmp_path))
    assert (facts.driver, facts.vid_pid, facts.serial_number, facts.latency_timer_ms) == (
        "ch341-uart",
        "1a86:7523",
        "",
        None,
    )
    # a tty sysfs does not know (a pty, a typo): nothing
    assert adapter_facts("/dev/ttyUSB7", sys_root=str(tmp_path)).driver == ""


@pytest.mark.parametrize(
    ("latency_ms", "rate_hz", "hinted"),
    [(16, 10.0, True), (16, 1.0, False), (1, 100.0, False), (16, 0.2, False), (10, 10.0, True)],
)
def test_the_latency_hint_appears_when_the_rate_cares(
    latency_ms: int, rate_hz: float, hinted: bool
) -> None:
    hint = latency_hint("boiler", "/dev/ttyUSB0", latency_ms, rate_hz)
    assert (hint is not None) == hinted
    if hint is not None:
        assert hint.startswith(f"boiler: latency_timer of ttyUSB0 is {latency_ms} ms")
        assert "/sys/bus/usb-serial/devices/ttyUSB0/latency_timer" in hint
        assert "\n" not in hint


def test_ports_shows_the_adapter_and_the_hint(tmp_path: Path, pty_pair: PtyPair) -> None:
    # the pty plays the adapter's tty: sysfs (the fake tree) knows it by its name
    fake_adapter(tmp_path, os.path.basename(pty_pair.path))
    listed = list_ports(
        {"fast": pty_pair.path},
        sys_root=str(tmp_path),
        rates_hz={"fast": 20.0},
        by_id_dir=str(tmp_path / "none"),
    )
    (port,) = [p for p in listed if p.device == pty_pair.path]
    assert (port.driver, port.latency_timer_ms, port.vid_pid) == ("ftdi_sio", 16, "0403:6001")
    assert port.line_counters == "unsupported (pseudo-terminal)"
    assert len(port.hints) == 1
    text = format_ports([port])
    assert "    adapter: driver ftdi_sio, latency_timer 16 ms" in text
    assert "    line error counters: unsupported (pseudo-terminal)" in text
    assert "    hint: fast: latency_timer of" in text
    slow = list_ports({"slow": pty_pair.path}, sys_root=str(tmp_path), rates_hz={"slow": 1.0})
    assert [p.hints for p in slow if p.device == pty_pair.path] == [[]]


def test_check_warns_but_does_not_fail(
    tmp_path: Path, pty_pair: PtyPair, capsys: pytest.CaptureFixture[str]
) -> None:
    fake_adapter(tmp_path, os.path.basename(pty_pair.path))
    config = parse_config(
        f'[[sensors]]\nname = "fast"\nport = "{pty_pair.path}"\nformat = "value"\n'
        "sampling_rate_hz = 50\n"
        '[[sensors.channels]]\nname = "v"\n'
    )
    assert cli_check.check_devices(config, sys_root=str(tmp_path))
    out = capsys.readouterr().out
    assert f"device fast: {pty_pair.path} ok" in out
    assert "  warning: fast: latency_timer of" in out


def test_ports_asks_a_driver_for_line_counters_only_when_told() -> None:
    device = supporting_device()
    if device is None:
        pytest.skip("no serial device here answers TIOCGICOUNT (or none may be opened)")
    assert line_counter_support(device, open_device=True) == "yes"
    assert line_counter_support(device) == ""  # not opened unless asked to


def test_the_driver_above_the_serial_cores_port_device(tmp_path: Path) -> None:
    # kernel 6.5+: ttyS0's device is the serial core's port (bus serial-base, driver "port"),
    # two levels below the device the UART driver is bound to
    uart = tmp_path / "devices" / "pnp0" / "00:00"
    port = uart / "00:00:0" / "00:00:0.0"
    port.mkdir(parents=True)
    for device, bus, driver in (
        (port, "serial-base", "port"),
        (uart.parent, "", ""),
        (uart, "pnp", "serial"),
    ):
        if driver:
            target = tmp_path / "bus" / bus / "drivers" / driver
            target.mkdir(parents=True)
            (device / "driver").symlink_to(target)
    ctrl = tmp_path / "bus" / "serial-base" / "drivers" / "ctrl"
    ctrl.mkdir(parents=True)
    (uart / "00:00:0" / "driver").symlink_to(ctrl)
    tty_class = tmp_path / "class" / "tty" / "ttyS0"
    tty_class.mkdir(parents=True)
    (tty_class / "device").symlink_to(port)
    facts = adapter_facts("/dev/ttyS0", sys_root=str(tmp_path))
    assert (facts.driver, facts.vid_pid, facts.latency_timer_ms) == ("serial", "", None)


def fake_uart(sys_root: Path, tty: str, driver: str, bus: str = "platform") -> None:
    """``tty`` on a UART of the board, as sysfs shows it: /sys/class/tty/TTY/device is the
    UART's own device (a platform or AMBA device of the SoC, no USB device above it), its
    ``driver`` link to the UART driver."""
    uart = sys_root / "devices" / "platform" / "soc" / f"fe201000.{tty}"
    uart.mkdir(parents=True)
    drivers = sys_root / "bus" / bus / "drivers" / driver
    drivers.mkdir(parents=True, exist_ok=True)
    (uart / "driver").symlink_to(os.path.relpath(drivers, uart))
    tty_class = sys_root / "class" / "tty" / tty
    tty_class.mkdir(parents=True)
    (tty_class / "device").symlink_to(os.path.relpath(uart, tty_class))


@pytest.mark.parametrize(
    ("driver", "bus"),
    [("serial8250", "platform"), ("uart-pl011", "amba"), ("IMX-uart", "platform")],
)
def test_a_uart_of_the_board_waits_for_its_receive_timeout_not_an_adapter_s(
    tmp_path: Path, driver: str, bus: str
) -> None:
    """ttyS0 (8250), ttyAMA0 (PL011) and ttymxc0 (i.MX) hold no bytes for a latency timer: the
    rest of a frame begun is read at most a receive timeout after it (UART_TIMEOUT_CHARS, 8
    characters, the i.MX's ageing timer and past a 16550's 4 and a PL011's 32 bits) and
    PIECE_MARGIN_S: 12.3 ms at 9600 baud (8N1), 70.7 ms at 1200."""
    fake_uart(tmp_path, "ttyS0", driver, bus)
    char = 10 / 9600
    slack = port_slack("/dev/ttyS0", char, network=False, sys_root=str(tmp_path))
    assert slack.driver == driver
    assert slack.slack_s == pytest.approx(UART_TIMEOUT_CHARS * char + PIECE_MARGIN_S)
    assert round(slack.slack_s * 1000, 1) == 12.3
    slow = port_slack("/dev/ttyS0", 10 / 1200, network=False, sys_root=str(tmp_path))
    assert round(slow.slack_s * 1000, 1) == 70.7
    assert slack.told() == (
        f"UART of driver {driver} ({tmp_path}/class/tty/ttyS0/device), no adapter's latency: "
        "waiting 12 ms for an answer's pieces"
    )


@pytest.mark.parametrize(
    ("driver", "vid", "pid"),
    [("ch341-uart", "1a86", "7523"), ("cp210x", "10c4", "ea60"), ("pl2303", "067b", "2303")],
)
def test_usb_adapters_without_a_latency_timer_keep_the_fixed_slack(
    tmp_path: Path, driver: str, vid: str, pid: str
) -> None:
    """A CH340, CP210x or PL2303 adapter has no latency_timer file (its chip packs what it
    received as its firmware does): ARRIVAL_SLACK_S, and the probe says nothing of it. So
    does a tty bound to a driver not known as a UART's (a Moxa NPort's real tty driver)."""
    fake_adapter(tmp_path, "ttyUSB0", driver=driver, vid=vid, pid=pid, latency_ms=None)
    slack = port_slack("/dev/ttyUSB0", 10 / 9600, network=False, sys_root=str(tmp_path))
    assert (slack.slack_s, slack.told()) == (ARRIVAL_SLACK_S, None)
    fake_uart(tmp_path, "ttyr00", "npreal2")
    other = port_slack("/dev/ttyr00", 10 / 9600, network=False, sys_root=str(tmp_path))
    assert (other.slack_s, other.told()) == (ARRIVAL_SLACK_S, None)


def test_a_uart_behind_the_serial_cores_port_device_is_one(tmp_path: Path) -> None:
    """Kernel 6.5 and later: ttyS0's device is the serial core's port, the 8250 driver bound
    two levels above it (``adapter_facts`` finds it): a UART's slack all the same."""
    test_the_driver_above_the_serial_cores_port_device(tmp_path)
    slack = port_slack("/dev/ttyS0", 10 / 9600, network=False, sys_root=str(tmp_path))
    assert slack.driver == "serial"
    assert slack.slack_s == pytest.approx(UART_TIMEOUT_CHARS * 10 / 9600 + PIECE_MARGIN_S)


@pytest.mark.parametrize(
    ("content", "unread"),
    [
        ("0\n", "'0' is no timer of 1 to 255 ms"),
        ("junk\n", "'junk' is no timer of 1 to 255 ms"),
        ("\u00b2\n", "'\u00b2' is no timer of 1 to 255 ms"),
        (None, "Is a directory"),
    ],
)
def test_an_ftdi_latency_timer_that_tells_no_timer_waits_the_fixed_slack_and_says_why(
    tmp_path: Path, content: str | None, unread: str
) -> None:
    """An FTDI adapter's latency_timer that holds 0, junk or a digit Python's int() refuses,
    or that cannot be read (a directory here: root reads any file's mode): ARRIVAL_SLACK_S,
    above the chip's default 16 ms, and the probe's line says which file told no timer and
    why. (Before: ``adapter_facts`` raised ValueError for "²", and the others gave
    ARRIVAL_SLACK_S with nothing said; 0 gave a 4 ms wait.)"""
    fake_adapter(tmp_path, "ttyUSB0", latency_ms=None)
    file = tmp_path / "class" / "tty" / "ttyUSB0" / "device" / "latency_timer"
    if content is None:
        file.mkdir()
    else:
        file.write_text(content)
    slack = port_slack("/dev/ttyUSB0", 10 / 9600, network=False, sys_root=str(tmp_path))
    assert (slack.slack_s, slack.latency_timer_ms, slack.unread) == (ARRIVAL_SLACK_S, None, unread)
    assert slack.told() == (
        f"FTDI latency_timer not read ({file}: {unread}): waiting 50 ms for an answer's pieces"
    )
