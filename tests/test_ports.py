"""Port listing and device checks on real pseudo-terminals and real helper processes."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from harness.daemon import sensord_cli
from harness.pty import PtyPair, held_by_subprocess, pty_numbers_held, run_as_user
from harness.spawn import popen
from pytest_mock import MockerFixture
from serial.tools.list_ports import comports

from sensord import port_holders, ports
from sensord.address import parse_address
from sensord.errors import SourceError
from sensord.port_access import char_device_groups
from sensord.port_holders import find_holders, lock_holders, search_holders
from sensord.ports import PortInfo, check_device, format_ports, list_ports
from sensord.serial_settings import SerialSettings
from sensord.sources.serial_port import SerialSource

NOBODY_UID = 65534


@pytest.fixture
def pair() -> Iterator[PtyPair]:
    with PtyPair() as p:
        yield p


# -- check_device -----------------------------------------------------------------------------


def test_free_pty_has_no_problems(pair: PtyPair) -> None:
    pair.close_slave()  # nobody has the port open: the lock probe runs too
    assert check_device(pair.path) == []


def test_pty_open_in_this_process_only_is_not_a_problem(pair: PtyPair) -> None:
    # The daemon validating a new config while it has its ports open.
    with SerialSource("temp", pair.path, SerialSettings()):
        assert check_device(pair.path) == []


def test_the_program_playing_a_pty_device_does_not_count_as_holding_it(tmp_path: Path) -> None:
    """``sensord simulate`` holds both sides of its pty (the master to play the device, the
    slave so the pty stays up): the port is free for a sensor, as ``sensord run`` finds it."""
    link = tmp_path / "ttySIM"
    command = [sys.executable, "-m", "sensord", "simulate", "--link", str(link)]
    with pty_numbers_held():
        proc = popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert proc.stdout is not None
        first = proc.stdout.readline().decode()
    try:
        assert first.startswith(f"{link} -> /dev/pts/")
        assert find_holders(str(link))  # it has the slave open
        assert check_device(str(link)) == []
        with held_by_subprocess(str(link)) as holder:  # anyone else still counts
            [problem] = check_device(str(link))
            assert f"pid {holder.pid}" in problem
    finally:
        proc.terminate()
        proc.wait(10)


def test_pty_held_by_another_process_names_it(pair: PtyPair) -> None:
    with held_by_subprocess(pair.path) as holder:
        problems = check_device(pair.path)
    assert len(problems) == 1
    assert "held by another process" in problems[0]
    assert f"pid {holder.pid} (" in problems[0]
    assert "python" in problems[0]
    assert check_device(pair.path) == []


def test_pty_locked_by_another_process_names_it(pair: PtyPair) -> None:
    with held_by_subprocess(pair.path, flock=True) as holder:
        problems = check_device(pair.path)
    assert problems == [problems[0]]
    assert "locked by another process" in problems[0]
    assert f"pid {holder.pid}" in problems[0]


def test_lock_probe_finds_a_holder_that_proc_does_not_show(
    pair: PtyPair, mocker: MockerFixture
) -> None:
    # An unprivileged user sees neither other users' /proc/PID/fd nor, in some containers,
    # their /proc/locks entries: the flock probe still detects the exclusive hold.
    pair.close_slave()
    mocker.patch.object(ports, "find_holders", return_value=[])
    with held_by_subprocess(pair.path, flock=True):
        problems = check_device(pair.path)
        assert check_device(pair.path, probe_lock=False) == []
    assert problems == [f"{pair.path} is locked exclusively by another process"]
    # the probe left the device free
    with SerialSource("temp", pair.path, SerialSettings()) as source:
        assert source.is_open


def test_find_holders_leaves_out_this_process_unless_asked(pair: PtyPair) -> None:
    assert find_holders(pair.path) == []
    mine = find_holders(pair.path, include_self=True)
    assert [h.pid for h in mine] == [os.getpid()]
    assert not mine[0].locked
    with SerialSource("temp", pair.path, SerialSettings()):
        assert find_holders(pair.path, include_self=True)[0].locked


def test_search_holders_stops_at_its_time_limit_and_says_so(pair: PtyPair) -> None:
    with held_by_subprocess(pair.path) as holder:
        found, complete = search_holders(pair.path, time_limit_s=60.0)
        assert ([h.pid for h in found], complete) == ([holder.pid], True)
        assert search_holders(pair.path, time_limit_s=0.0) == ([], False)
        # a clock that runs one second per look at it: the start (0), one look before each
        # file: two are examined (1, 2), the third look (3) ends the search
        ticks = iter(range(10**6))
        assert search_holders(pair.path, time_limit_s=3.0, clock=lambda: next(ticks))[1] is False
        assert next(ticks) == 4


def test_lock_holders_come_from_the_lock_table_alone(pair: PtyPair, mocker: MockerFixture) -> None:
    files = mocker.spy(port_holders, "_open_files")
    with held_by_subprocess(pair.path) as opener:
        assert lock_holders(pair.path) == []
        with held_by_subprocess(pair.path, flock=True) as locker:
            [holder] = lock_holders(pair.path)
    assert (holder.pid, holder.locked) == (locker.pid, True)
    assert holder.pid != opener.pid
    assert "python" in holder.command
    assert files.call_count == 0


def test_a_device_that_is_no_terminal_is_not_a_serial_port_as_the_daemon_finds(
    tmp_path: Path,
) -> None:
    """A port set to a character device of another kind (/dev/null, a HID or I2C device) can
    never be opened by the daemon: ``sensord check`` fails it for that, not as a device held by
    every process that has /dev/null open, nor as "ok"."""
    for path in ("/dev/null", "/dev/zero"):
        assert check_device(path) == [
            f"{path} is not a serial port (no terminal settings; the kernel lists it as a mem "
            "device)"
        ]
        with pytest.raises(SourceError, match=f"{path} is not a serial port"):
            SerialSource("temp", path, SerialSettings()).open()
    config = tmp_path / "zero.toml"
    config.write_text(
        '[[sensors]]\nname = "probe"\nport = "/dev/zero"\nformat = "value"\n'
        '  [[sensors.channels]]\n  name = "t"\n'
    )
    result = sensord_cli("check", str(config))
    assert result.returncode == 1, result.stdout
    assert "sensors[0].port (sensor 'probe'): /dev/zero is not a serial port" in result.stdout, (
        result.stdout
    )


def test_missing_device(tmp_path: Path) -> None:
    path = str(tmp_path / "ttyS3")
    assert check_device(path) == [f"{path} does not exist"]


def test_a_missing_ttyusb_device_is_pointed_at_its_by_id_link_and_the_numbers_present(
    tmp_path: Path,
) -> None:
    """The kernel numbers USB adapters as it finds them: a replugged one may come back as
    ttyUSB10 while the config names ttyUSB0."""
    path = str(tmp_path / "ttyUSB0")
    advice = "; name it by its /dev/serial/by-id link (sensord ports lists them)"
    assert check_device(path) == [
        f"{path} does not exist: a USB adapter comes back under another ttyUSB number after "
        f"a replug or a reboot{advice}"
    ]
    with PtyPair() as usb10, PtyPair() as usb2, PtyPair() as acm1:
        for name, pair in (("ttyUSB10", usb10), ("ttyUSB2", usb2), ("ttyACM1", acm1)):
            (tmp_path / name).symlink_to(pair.path)
        assert check_device(path) == [
            f"{path} does not exist: a USB adapter comes back under another ttyUSB number "
            f"after a replug or a reboot ({tmp_path}/ttyUSB2, {tmp_path}/ttyUSB10 present "
            f"now){advice}"
        ]


@pytest.mark.parametrize("name", ["ttyAMA0", "ttyAMA1", "serial0"])
def test_a_missing_board_uart_is_told_to_be_enabled(tmp_path: Path, name: str) -> None:
    """A board's own UART (a Raspberry Pi's ttyAMA0, and serial0, the link to the one on
    its GPIO pins) is no adapter that comes and goes: it is there once enabled in the
    board's firmware settings, which is what a missing one usually means."""
    path = str(tmp_path / name)
    assert check_device(path) == [
        f"{path} does not exist: a UART on the board's pins is there once it is enabled (on "
        "a Raspberry Pi: raspi-config, Interface Options, Serial Port: no login shell, the "
        "hardware enabled; then reboot); /dev/serial0 names a Pi's UART on its GPIO pins"
    ]


def _named(tmp_path: Path, name: str) -> str:
    """A link to this interpreter named ``name``: a process run by it has that name as the
    first word of its command line, as the daemon of that name has."""
    link = tmp_path / name
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(os.path.realpath(sys.executable))
    return str(link)


@pytest.mark.parametrize(
    ("program", "told"),
    [
        (
            "agetty",
            "a login prompt (getty) runs on it: turn it off (sudo systemctl disable --now "
            "serial-getty@{name}.service; on a Raspberry Pi, raspi-config, Interface Options, "
            "Serial Port: no login shell)",
        ),
        (
            "ModemManager",
            "ModemManager probes a USB serial device for up to 30 s after it is plugged in: a "
            'udev rule with ENV{{ID_MM_DEVICE_IGNORE}}="1" keeps it off the device',
        ),
        (
            "brltty",
            "brltty takes USB serial adapters (a CH340, a CP210x) for braille displays: "
            "remove it (sudo apt remove brltty) where no braille display is used",
        ),
        (
            "gpsd",
            "gpsd reads it: stop it (sudo systemctl disable --now gpsd.socket gpsd.service), "
            "or take the device out of its DEVICES and its USB hotplug (USBAUTO) in "
            "/etc/default/gpsd",
        ),
    ],
)
def test_a_holder_known_to_take_serial_ports_is_told_what_to_do_about_it(
    tmp_path: Path, pty_pair: PtyPair, program: str, told: str
) -> None:
    """A serial console's getty, ModemManager, brltty and gpsd are what holds a sensor's
    port on most hosts: their names alone do not say how to keep them off it."""
    hint = told.format(name=os.path.basename(os.path.realpath(pty_pair.path)))
    with held_by_subprocess(pty_pair.path, program=_named(tmp_path, program)):
        [problem] = check_device(pty_pair.path)
    assert " is held by another process: pid " in problem, problem
    assert problem.endswith(f"; {hint}"), problem
    # locked, as ModemManager does, the daemon's open names it so too
    with held_by_subprocess(pty_pair.path, flock=True, program=_named(tmp_path, f"x/{program}")):
        with pytest.raises(SourceError) as refused:
            SerialSource("temp", pty_pair.path, SerialSettings()).open()
        # the error names the holders as it is told, while they hold the device
        assert str(refused.value).endswith(f"; {hint}"), refused.value


def test_check_names_a_getty_unit_whose_process_this_user_cannot_see(
    tmp_path: Path, pty_pair: PtyPair
) -> None:
    """``sensord check`` run as a user who cannot see root's agetty in /proc (hidepid, or the
    service's ProtectProc=invisible) passed a port a serial console's getty reads: the unit's
    control group is readable by all, and names it (here a tree of the unified layout)."""
    name = os.path.basename(pty_pair.path)
    unit = f"serial-getty@{name}.service"
    group = tmp_path / "system.slice" / "system-serial\\x2dgetty.slice" / unit
    group.mkdir(parents=True)
    (group / "cgroup.procs").write_text("")  # a unit stopping: no process left
    assert check_device(pty_pair.path, cgroup_root=str(tmp_path)) == []
    (group / "cgroup.procs").write_text("812\n")
    assert check_device(pty_pair.path, cgroup_root=str(tmp_path)) == [
        f"{pty_pair.path} is held by {unit}, a login prompt, whose process this user cannot "
        f"see: turn it off (sudo systemctl disable --now {unit}; on a Raspberry Pi, "
        "raspi-config, Interface Options, Serial Port: no login shell)"
    ]


def test_a_device_name_with_a_letter_for_a_digit_is_pointed_at_the_device_meant(
    tmp_path: Path,
) -> None:
    """``ttyUSBO`` (the letter O) for ``ttyUSB0`` reads the same in most fonts: the device
    present under the name with digits is named, and a ``ttyUSB`` name without one still gets
    the advice of a ``ttyUSB`` device, with the letter pointed out."""
    lettered = str(tmp_path / "ttyUSBO")
    assert check_device(lettered) == [
        f"{lettered} does not exist (its 'O' has a letter, not only digits as '0'): a USB "
        "adapter comes back under another ttyUSB number after a replug or a reboot; name it by "
        "its /dev/serial/by-id link (sensord ports lists them)"
    ]
    with PtyPair() as usb0:
        (tmp_path / "ttyUSB0").symlink_to(usb0.path)
        assert check_device(lettered) == [
            f"{lettered} does not exist: did you mean {tmp_path}/ttyUSB0 (present now)? its "
            "'O' has a letter, not only digits as '0'"
        ]
        with pytest.raises(SourceError, match=r"did you mean .*/ttyUSB0 \(present now\)"):
            SerialSource("temp", lettered, SerialSettings()).open()
    assert check_device(str(tmp_path / "ttyfoo")) == [f"{tmp_path}/ttyfoo does not exist"]


def test_a_lettered_name_is_not_pointed_at_a_virtual_console(tmp_path: Path) -> None:
    """``tty10`` and ``tty1`` are the virtual consoles of every host, no serial port:
    ``ttyI0`` (an ISDN line's old name) or ``ttyl`` is not told to mean one."""
    with PtyPair() as console:
        for name in ("tty10", "tty1"):
            (tmp_path / name).symlink_to(console.path)
        for lettered in ("ttyI0", "ttyl"):
            path = str(tmp_path / lettered)
            assert check_device(path) == [f"{path} does not exist"]


def test_a_missing_by_id_link_says_the_adapter_is_gone_or_names_the_links_present(
    tmp_path: Path,
) -> None:
    """udev removes an adapter's by-id link when it is unplugged (no dangling link is left),
    and a link is named after the adapter's serial number: the links present now tell which,
    and none at all that no adapter is plugged in."""
    by_id = tmp_path / "serial" / "by-id"
    link = str(by_id / "usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0")
    assert check_device(link) == [
        f"{link} does not exist: no adapter has a link in {by_id} now: plug the adapter in "
        "(check its cable and power); sensord ports lists the serial ports present"
    ]
    by_id.mkdir(parents=True)
    with PtyPair() as other:
        (by_id / "usb-FTDI_FT232R_USB_UART_A9X1Q2-if00-port0").symlink_to(other.path)
        (by_id / "usb-gone-if00-port0").symlink_to(tmp_path / "nothing")  # left out
        assert check_device(link) == [
            f"{link} does not exist: the adapter is unplugged, or its link has another name "
            "(usb-FTDI_FT232R_USB_UART_A9X1Q2-if00-port0 present now; sensord ports shows "
            "each with its serial number)"
        ]


def test_dangling_link(tmp_path: Path) -> None:
    link = tmp_path / "usb-Prolific_PL2303-if00-port0"
    link.symlink_to("/dev/ttyUSB42")
    problems = check_device(str(link))
    assert len(problems) == 1
    assert problems[0] == (
        f"{link} is a link to /dev/ttyUSB42, which does not exist: its device is absent (the "
        "adapter is unplugged)"
    )


def test_regular_file_is_not_a_character_device(tmp_path: Path) -> None:
    path = tmp_path / "ttyUSB0"
    path.write_text("")
    assert check_device(str(path)) == [f"{path} is not a character device (it is a regular file)"]


def test_link_to_a_pty_is_followed(pair: PtyPair, tmp_path: Path) -> None:
    link = tmp_path / "sensor"
    link.symlink_to(pair.path)
    with held_by_subprocess(pair.path) as holder:
        problems = check_device(str(link))
    assert len(problems) == 1
    assert problems[0].startswith(f"{link} -> {pair.path} is held")
    assert f"pid {holder.pid}" in problems[0]


def test_no_permission_names_the_group_fix(pair: PtyPair) -> None:
    # Real access checks: as root, in a child that runs as the user "nobody" (the pty is
    # root's, mode 0600); otherwise the test's own pty is made inaccessible with chmod.
    def check() -> str:
        return "\n".join(check_device(pair.path))

    if os.geteuid() == 0:
        outcome = run_as_user(NOBODY_UID, check)
    else:
        os.chmod(pair.path, 0)
        outcome = check()
    assert "permission denied" in outcome
    assert "usermod -aG dialout" in outcome


@pytest.mark.parametrize(
    "url", ["socket://10.0.0.5:4001", "rfc2217://host:2217", "sim://", "loop://"]
)
def test_urls_without_a_local_device_are_not_checked(url: str) -> None:
    assert not parse_address(url).is_device
    assert check_device(url) == []


def test_unknown_url_scheme_is_a_problem() -> None:
    problems = check_device("ftp://host/x")
    assert len(problems) == 1
    assert "unknown URL scheme ftp://" in problems[0]


# -- list_ports and format_ports --------------------------------------------------------------


def test_configured_pty_is_listed_and_marked_used(pair: PtyPair, tmp_path: Path) -> None:
    link = tmp_path / "ttyTEMP"
    link.symlink_to(pair.path)
    configured = {
        "temp": pair.path,
        "humidity": str(link),
        "gone": str(tmp_path / "ttyUSB9"),
        "remote": "socket://127.0.0.1:4001",
    }
    listed = list_ports(configured, by_id_dir=str(tmp_path / "by-id"))
    mine = [p for p in listed if p.device == pair.path]
    assert mine == [
        PortInfo(
            device=pair.path,
            by_id=[],
            description="pseudo-terminal",
            vid_pid="",
            serial_number="",
            used_by=["humidity", "temp"],
            line_counters="unsupported (pseudo-terminal)",
        )
    ]
    assert all(p.used_by == [] for p in listed if p.device != pair.path)
    assert str(tmp_path / "ttyUSB9") not in [p.device for p in listed]


def test_the_sensors_of_a_port_are_named_with_their_numbers_in_order(
    pair: PtyPair, tmp_path: Path
) -> None:
    """Sensors that share a port (an RS-485 bus) read in the order a person counts them:
    meter2 before meter10."""
    configured = {name: pair.path for name in ("meter10", "meter2", "meter1")}
    listed = list_ports(configured, by_id_dir=str(tmp_path / "by-id"))
    (mine,) = [p for p in listed if p.device == pair.path]
    assert mine.used_by == ["meter1", "meter2", "meter10"]


def test_by_id_links_are_attached(pair: PtyPair, tmp_path: Path) -> None:
    by_id = tmp_path / "by-id"
    by_id.mkdir()
    (by_id / "usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0").symlink_to(pair.path)
    (by_id / "usb-dangling-if00-port0").symlink_to(tmp_path / "nothing")
    listed = list_ports({"temp": pair.path}, by_id_dir=str(by_id))
    (mine,) = [p for p in listed if p.device == pair.path]
    assert mine.by_id == [str(by_id / "usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0")]


def test_every_port_pyserial_lists_is_included() -> None:
    listed = {p.device for p in list_ports()}
    assert {os.path.realpath(info.device) for info in comports()} <= listed
    assert [p.device for p in list_ports()] == sorted(listed)


def test_format_ports_table() -> None:
    table = format_ports(
        [
            PortInfo(
                device="/dev/ttyUSB0",
                by_id=["/dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0"],
                description="FT232R USB UART",
                vid_pid="0403:6001",
                serial_number="A50285BI",
                used_by=["humidity", "temp"],
            ),
            PortInfo(device="/dev/pts/3", description="pseudo-terminal"),
        ]
    )
    lines = table.splitlines()
    assert lines[0].split() == ["DEVICE", "VID:PID", "SERIAL", "DESCRIPTION", "USED", "BY"]
    assert lines[1].split() == [
        "/dev/ttyUSB0",
        "0403:6001",
        "A50285BI",
        "FT232R",
        "USB",
        "UART",
        "humidity,",
        "temp",
    ]
    assert lines[2] == "    by-id: /dev/serial/by-id/usb-FTDI_FT232R_USB_UART_A50285BI-if00-port0"
    assert lines[3].split() == ["/dev/pts/3", "-", "-", "pseudo-terminal", "-"]
    # columns line up
    assert lines[1].index("0403:6001") == lines[0].index("VID:PID") == lines[3].index("-")


def test_format_no_ports() -> None:
    assert format_ports([]) == "no serial ports found"


def test_char_device_groups_are_read_as_device_allow_takes_them(tmp_path: Path) -> None:
    devices = tmp_path / "devices"
    devices.write_text(
        "Character devices:\n  4 /dev/vc/0\n  4 tty\n  4 ttyS\n188 ttyUSB\n"
        "240 ttySC\n\nBlock devices:\n240 ttySC-not-a-char\n  8 sd\n"
    )
    assert char_device_groups(4, str(devices)) == ["tty", "ttyS"]
    assert char_device_groups(240, str(devices)) == ["ttySC"]
    assert char_device_groups(8, str(devices)) == []
    assert char_device_groups(4, str(tmp_path / "missing")) == []
