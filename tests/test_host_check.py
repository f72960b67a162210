"""What ``sensord check`` finds on the host beside the devices (sensord.host_check), and the
installed unit's sandbox it judges them by (sensord.unit_file): the shipped unit itself, real
ptys, real sockets and directories."""

from __future__ import annotations

import errno
import os
import socket
import tempfile
from pathlib import Path

import pytest
from harness.common import REPO
from harness.pty import PtyPair

from sensord import cli_check
from sensord.config import parse_config
from sensord.host_check import capture_directory_warning, listen_warning, unit_device_warning
from sensord.unit_file import read_unit

SHIPPED_UNIT = str(REPO / "systemd" / "sensord.service")


def config_with(extra: str, port: str = "sim://probe") -> str:
    return (
        f'{extra}\n[[sensors]]\nname = "probe"\nport = "{port}"\nformat = "value"\n'
        'channels = [{ name = "t" }]\n'
    )


def test_the_shipped_unit_lets_the_usual_serial_groups_and_its_state_directory_through() -> None:
    unit = read_unit(SHIPPED_UNIT)
    assert unit is not None
    assert unit.device_policy == "closed"
    assert unit.device_allow == ("char-ttyUSB", "char-ttyACM", "char-ttyAMA", "char-ttyS")
    assert unit.protect_system == "strict"
    for group in ("ttyUSB", "ttyACM", "ttyAMA", "ttyS"):
        assert not unit.refuses_device("/dev/x", [group])
    for group in ("ttySC", "ttyXRUSB"):
        assert unit.refuses_device("/dev/x", [group])
    assert not unit.refuses_writes("/var/lib/sensord/captures")
    assert not unit.refuses_writes("/tmp/captures")  # PrivateTmp: its own /tmp
    assert unit.refuses_writes("/srv/captures")
    assert unit.refuses_writes("/var/lib/other")
    assert read_unit(str(REPO / "systemd" / "no-such.service")) is None


def test_a_drop_in_overrides_the_unit_and_an_empty_assignment_clears_a_list(tmp_path: Path) -> None:
    """``systemctl edit sensord``: the drop-in's lines come after the unit's, and
    ``DeviceAllow=`` alone clears the unit's list before the drop-in's own."""
    unit = tmp_path / "sensord.service"
    unit.write_text(Path(SHIPPED_UNIT).read_text())
    drop_ins = tmp_path / "sensord.service.d"
    drop_ins.mkdir()
    (drop_ins / "override.conf").write_text(
        "[Service]\nDeviceAllow=\nDeviceAllow=char-ttySC rw\nDeviceAllow=/dev/ttyX0 r\n"
        "ReadWritePaths=-/srv/captures\n"
    )
    sandbox = read_unit(str(unit))
    assert sandbox is not None
    assert sandbox.device_allow == ("char-ttySC",)  # /dev/ttyX0 read-only: no
    assert sandbox.refuses_device("/dev/ttyUSB0", ["ttyUSB"])
    assert not sandbox.refuses_device("/dev/ttySC0", ["ttySC"])
    assert not sandbox.refuses_writes("/srv/captures/site1")


def test_a_drop_in_is_read_as_systemd_reads_it(tmp_path: Path) -> None:
    """What systemd takes in a drop-in is taken alike: ``DeviceAllow=`` whose access follows a
    tab, a line continued with a backslash (a comment line inside it left out), quotes around
    a path, a ``StateDirectory=`` of two names whose second is a symlink to the first, boolean
    spellings and ``PrivateTmp=disconnected``; a drop-in that cannot be read (a symlink left
    dangling) is passed over, not the ones after it."""
    unit = tmp_path / "sensord.service"
    unit.write_text(Path(SHIPPED_UNIT).read_text())
    drop_ins = tmp_path / "sensord.service.d"
    drop_ins.mkdir()
    (drop_ins / "10-gone.conf").symlink_to(tmp_path / "no-such.conf")
    (drop_ins / "override.conf").write_text(
        "[Service]\nDeviceAllow=char-ttySC\trw\nReadWritePaths=/srv/a \\\n"
        '# the second site\n  /srv/b\nReadWritePaths=-"/srv/my captures"\n'
        "StateDirectory=sensord-data:sensord-old\nPrivateTmp=disconnected\n"
    )
    sandbox = read_unit(str(unit))
    assert sandbox is not None
    assert not sandbox.refuses_device("/dev/ttySC0", ["ttySC"])
    for place in ("/srv/a/x", "/srv/b/x", "/srv/my captures/x", "/var/lib/sensord-old/x"):
        assert not sandbox.refuses_writes(place), place
    assert not sandbox.refuses_writes("/tmp/captures")
    assert sandbox.refuses_writes("/srv/c")
    (drop_ins / "override.conf").write_text(
        "[Service]\nProtectSystem=on\nPrivateTmp=y\nReadWritePaths=\n"
    )
    sandbox = read_unit(str(unit))
    assert sandbox is not None
    assert sandbox.protect_system == "yes"
    assert sandbox.refuses_writes("/usr/local/captures")
    assert not sandbox.refuses_writes("/srv/captures")


def test_drop_ins_of_every_unit_directory_are_read_in_name_order(tmp_path: Path) -> None:
    """``systemctl set-property sensord DeviceAllow=...`` writes its drop-in under
    /etc/systemd/system.control, ``systemctl edit --runtime`` under /run/systemd/system, a
    package under /usr/lib/systemd/system, and ``service.d`` applies to every service: systemd
    reads the drop-ins of all of them in the order of their names, one of a name in a
    directory of more weight hiding the others of that name."""
    control, etc, usr = tmp_path / "control", tmp_path / "etc", tmp_path / "usr"
    (control / "sensord.service.d").mkdir(parents=True)
    (etc / "sensord.service.d").mkdir(parents=True)
    (usr / "sensord.service.d").mkdir(parents=True)
    (usr / "service.d").mkdir(parents=True)
    unit = etc / "sensord.service"
    unit.write_text(Path(SHIPPED_UNIT).read_text())
    (control / "sensord.service.d" / "50-DeviceAllow.conf").write_text(
        "# created via systemctl set-property\n[Service]\nDeviceAllow=\n"
        "DeviceAllow=char-ttyUSB rw\nDeviceAllow=char-ttySC rw\n"
    )
    (etc / "sensord.service.d" / "override.conf").write_text(
        "[Service]\nDeviceAllow=char-ttyXRUSB rw\n"
    )
    (usr / "sensord.service.d" / "override.conf").write_text(
        "[Service]\nReadWritePaths=/srv/hidden\n"
    )
    (usr / "service.d" / "10-all.conf").write_text("[Service]\nReadWritePaths=/srv/all\n")
    sandbox = read_unit(str(unit), drop_in_roots=(str(control), str(etc), str(usr)))
    assert sandbox is not None
    assert sandbox.device_allow == ("char-ttyUSB", "char-ttySC", "char-ttyXRUSB")
    assert not sandbox.refuses_writes("/srv/all/captures")
    assert sandbox.refuses_writes("/srv/hidden/captures")
    # a unit elsewhere than /etc/systemd/system (as the tests give one) is read with the
    # drop-ins of its own directory alone
    alone = read_unit(str(unit))
    assert alone is not None
    assert alone.device_allow == (
        "char-ttyUSB",
        "char-ttyACM",
        "char-ttyAMA",
        "char-ttyS",
        "char-ttyXRUSB",
    )


def strict_unit(tmp_path: Path) -> str:
    """The shipped unit with ``DevicePolicy=strict``, which lets through only the devices its
    ``DeviceAllow=`` lines name: no pseudo-terminal, as ``closed`` and ``auto`` do."""
    unit = tmp_path / "sensord.service"
    unit.write_text(
        Path(SHIPPED_UNIT).read_text().replace("DevicePolicy=closed", "DevicePolicy=strict")
    )
    return str(unit)


def test_a_device_the_unit_does_not_allow_is_told_with_the_line_that_allows_it(
    tmp_path: Path,
) -> None:
    """A pty under DevicePolicy=strict stands for a device of a group the unit leaves out (an
    RS-485 HAT's ttySC): its group is read from /proc/devices, and the warning names the
    DeviceAllow= line to add."""
    path = strict_unit(tmp_path)
    unit = read_unit(path)
    assert unit is not None
    with PtyPair() as pair:
        warning = unit_device_warning(unit, "probe", pair.path)
        assert warning == (
            f"device probe: {pair.path}, device group pts, is not among the devices "
            f"{path} lets sensord open (its DeviceAllow= lines): under the service its "
            "open is refused; add DeviceAllow=char-pts rw with 'systemctl edit sensord' and "
            "restart it"
        )


def test_a_pseudo_terminal_passes_the_shipped_unit_s_closed_policy() -> None:
    """systemd lets every unit with DevicePolicy=closed (or auto with DeviceAllow= lines) read
    and write the pseudo-terminals (char-pts) and the standard pseudo devices: a device a
    serial server's pty stands for (socat, ``sensord simulate --link``) is opened under the
    service, and no warning says otherwise."""
    unit = read_unit(SHIPPED_UNIT)
    assert unit is not None
    assert not unit.refuses_device("/dev/pts/3", ["pts"])
    assert not unit.refuses_device("/dev/null", ["mem"])
    with PtyPair() as pair:
        assert unit_device_warning(unit, "probe", pair.path) is None


def test_check_warns_of_a_device_the_installed_unit_refuses_and_still_passes(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    with PtyPair() as pair:
        config = parse_config(config_with("", pair.path))
        assert cli_check.check_devices(config, unit_path=strict_unit(tmp_path))
        out = capsys.readouterr().out
        assert f"device probe: {pair.path} ok" in out
        assert "  warning: device probe: " in out
        assert "DeviceAllow=char-pts rw" in out
        assert cli_check.check_devices(config, unit_path=SHIPPED_UNIT)
        assert "warning" not in capsys.readouterr().out
        assert cli_check.check_devices(config, unit_path="/nonexistent/sensord.service")
        assert "warning" not in capsys.readouterr().out


@pytest.mark.parametrize(
    ("listen", "told"),
    [
        ("127.0.0.1", None),
        ("0.0.0.0", None),
        ("localhost", None),
        ("192.0.2.10", "http.listen '192.0.2.10' is no address of this host now"),
        ("sensord-test.invalid", "http.listen 'sensord-test.invalid' does not resolve here"),
    ],
)
def test_a_listen_address_this_host_does_not_have_is_told(listen: str, told: str | None) -> None:
    warning = listen_warning(listen)
    if told is None:
        assert warning is None
    else:
        assert warning is not None
        assert warning.startswith(told), warning


def test_an_address_of_a_family_this_host_has_not_is_told_not_raised(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A name that resolves to an IPv6 address on a host booted without IPv6
    (``ipv6.disable=1``, where no AF_INET6 socket can be made) is no address of this host,
    as one it does not have."""
    found = [(socket.AF_INET6, socket.SOCK_STREAM, 6, "", ("2001:db8::10", 0, 0, 0))]
    monkeypatch.setattr(socket, "getaddrinfo", lambda *args, **kwargs: found)

    def no_ipv6(family: int, *args: object) -> socket.socket:
        raise OSError(errno.EAFNOSUPPORT, os.strerror(errno.EAFNOSUPPORT))

    monkeypatch.setattr(socket, "socket", no_ipv6)
    warning = listen_warning("gateway.example")
    assert warning is not None
    assert warning.startswith(
        "http.listen 'gateway.example' (2001:db8::10) is no address of this host now"
    ), warning


def test_a_capture_directory_that_cannot_be_written_is_told(tmp_path: Path) -> None:
    unit = read_unit(SHIPPED_UNIT)

    def told(directory: str, sandbox: object = None) -> str | None:
        config = parse_config(config_with(f'[capture]\ndirectory = "{directory}"'))
        return capture_directory_warning(config, unit if sandbox else None)

    assert told(str(tmp_path)) is None
    assert told(str(tmp_path / "new" / "captures")) is None  # SIGUSR1 creates it
    afile = tmp_path / "afile"
    afile.write_text("")
    assert told(str(afile)) == f"capture.directory '{afile}' is not a directory"
    warning = told(str(afile / "captures"))  # refused to root too: a file is no directory
    assert warning is not None
    assert "cannot be written to create it" in warning
    under_unit = told("/srv/captures", sandbox=True)
    assert under_unit is not None
    assert under_unit.startswith(
        f"capture.directory '/srv/captures' is read-only under {SHIPPED_UNIT} "
        "(ProtectSystem=strict)"
    )
    assert told("/var/lib/sensord/captures", sandbox=True) is None


def test_a_capture_directory_root_may_write_and_the_service_user_may_not_is_told() -> None:
    """``sudo sensord check``: root writes anywhere, the service's user (here ``nobody``,
    standing in for ``sensord``) does not; the directory is judged for that user too. (In
    a directory of its own under /tmp: pytest's are root's alone.)"""
    assert os.geteuid() == 0, "the suite runs as root (scripts/test)"
    with tempfile.TemporaryDirectory() as top:
        os.chmod(top, 0o755)
        judge_for_the_service_user(Path(top))


def judge_for_the_service_user(top: Path) -> None:
    private = top / "captures"
    private.mkdir(mode=0o700)
    config = parse_config(config_with(f'[capture]\ndirectory = "{private}"'))
    assert capture_directory_warning(config, None, service_user="root") is None
    warning = capture_directory_warning(config, None, service_user="nobody")
    assert warning == (
        f"capture.directory '{private}' cannot be written by user nobody, whom the service "
        "runs as (root:root drwx------), though root may: SIGUSR1 would write no capture; use "
        "/var/lib/sensord/captures, or give the directory to nobody"
    )
    os.chmod(private, 0o777)
    assert capture_directory_warning(config, None, service_user="nobody") is None
    # one that does not exist yet: judged by the parent that would hold it
    later = parse_config(config_with(f'[capture]\ndirectory = "{private / "later"}"'))
    os.chmod(private, 0o700)
    later_warning = capture_directory_warning(later, None, service_user="nobody")
    assert later_warning is not None
    assert "cannot be written by user nobody" in later_warning
    assert "(root:root drwx------)" in later_warning
