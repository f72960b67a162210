"""Serial port listing (``sensord ports``) and device checks (``sensord check``).

Everything here reads ``/dev``, ``/proc`` and sysfs; nothing is written. A device is opened
only by the optional lock probe of :func:`check_device` and by :func:`line_counter_support`
(which ``sensord ports --probe`` runs on ports no process holds).

Adapter facts come from sysfs (:func:`adapter_facts`): ``/sys/class/tty/NAME/device`` is the
port's device; its ``driver`` link names the driver, an FTDI port has a ``latency_timer``
(milliseconds the chip holds a slow stream's bytes before sending them), and the USB device
above it has ``idVendor``, ``idProduct`` and ``serial``.

The processes that hold a device, which a check names, are found by ``sensord.port_holders``;
whether a user may open one, and what to do when not, is ``sensord.port_access``'s.
"""

from __future__ import annotations

import errno
import fcntl
import os
import re
import stat
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from serial.tools.list_ports import comports

from sensord.address import BY_ID_DIR, parse_address
from sensord.names import natural_key
from sensord.port_access import can_read_write, permission_hint
from sensord.port_holders import (
    CGROUP_ROOT,
    contending_holders,
    find_holders,
    getty_unit,
    holder_hint,
)
from sensord.uart import read_icount

__all__ = [
    "PRESENT_NOW",
    "PTY_SLAVE_MAJORS",
    "SYS_ROOT",
    "AdapterFacts",
    "PortInfo",
    "adapter_facts",
    "check_device",
    "file_kind",
    "format_ports",
    "latency_hint",
    "line_counter_support",
    "list_ports",
]

#: Where sysfs is mounted.
SYS_ROOT = "/sys"


#: Major numbers of Unix98 pseudo-terminal slaves (/dev/pts/N).
PTY_SLAVE_MAJORS = range(136, 144)


@dataclass(slots=True)
class PortInfo:
    """One serial port of this machine, as shown by ``sensord ports``."""

    device: str
    by_id: list[str] = field(default_factory=list)
    description: str = ""
    vid_pid: str = ""
    serial_number: str = ""
    used_by: list[str] = field(default_factory=list)
    #: the kernel driver of a USB (or other) serial adapter, from sysfs
    driver: str = ""
    #: an FTDI adapter's latency timer, milliseconds
    latency_timer_ms: int | None = None
    #: whether the driver keeps line error counters (TIOCGICOUNT), in words; "" not known
    line_counters: str = ""
    #: one-line hints (a latency timer that delays a configured sensor's frames)
    hints: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class AdapterFacts:
    """What sysfs tells of the adapter behind a tty (empty strings and None: not known)."""

    driver: str = ""
    vid_pid: str = ""
    serial_number: str = ""
    latency_timer_ms: int | None = None


def _read_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read().strip()
    except OSError:
        return ""


def _driver(device_dir: str, sys_root: str) -> str:
    """The driver bound to ``device_dir`` or, for the serial core's own port devices (bus
    ``serial-base``, kernel 6.5 and later), to the nearest device above it."""
    base_bus = os.path.join(os.path.realpath(sys_root), "bus", "serial-base") + os.sep
    current = device_dir
    for _ in range(4):
        link = os.path.join(current, "driver")
        if os.path.exists(link):
            target = os.path.realpath(link)
            if not target.startswith(base_bus):
                return os.path.basename(target)
        current = os.path.dirname(current)
    return ""


def adapter_facts(device: str, *, sys_root: str = SYS_ROOT) -> AdapterFacts:
    """Driver, VID:PID, serial number and FTDI latency timer of the tty ``device`` (a path;
    links are resolved) from the sysfs mounted at ``sys_root``."""
    name = os.path.basename(os.path.realpath(device))
    link = os.path.join(sys_root, "class", "tty", name, "device")
    if not name or not os.path.exists(link):
        return AdapterFacts()
    port_dir = os.path.realpath(link)
    driver = _driver(port_dir, sys_root)
    latency_text = _read_text(os.path.join(port_dir, "latency_timer"))
    latency = int(latency_text) if latency_text.isascii() and latency_text.isdigit() else None
    vid_pid = serial_number = ""
    root = os.path.realpath(sys_root)
    current = port_dir
    while current.startswith(root + os.sep) and current != root:
        vendor = _read_text(os.path.join(current, "idVendor"))
        product = _read_text(os.path.join(current, "idProduct"))
        if vendor and product:
            vid_pid = f"{vendor}:{product}"
            serial_number = _read_text(os.path.join(current, "serial"))
            break
        current = os.path.dirname(current)
    return AdapterFacts(driver, vid_pid, serial_number, latency)


def latency_hint(sensor: str, device: str, latency_timer_ms: int, rate_hz: float) -> str | None:
    """A one-line hint when an FTDI latency timer of ``latency_timer_ms`` delays the frames
    of ``sensor`` (``rate_hz``: frames or polls a second) by a tenth of their interval or
    more; None when it does not matter (or is already 1 ms)."""
    if latency_timer_ms <= 1 or rate_hz <= 0:
        return None
    interval_ms = 1000.0 / rate_hz
    if latency_timer_ms < interval_ms / 10:
        return None
    name = os.path.basename(os.path.realpath(device))
    return (
        f"{sensor}: latency_timer of {name} is {latency_timer_ms} ms, so a frame every "
        f"{interval_ms:g} ms may arrive up to {latency_timer_ms} ms late; set it to 1 ms: "
        f"echo 1 | sudo tee /sys/bus/usb-serial/devices/{name}/latency_timer (or for good, a "
        'udev rule: ACTION=="add", SUBSYSTEM=="usb-serial", DRIVER=="ftdi_sio", '
        'ATTR{latency_timer}="1")'
    )


def line_counter_support(device: str, *, open_device: bool = False) -> str:
    """Whether the driver of ``device`` keeps line error counters (TIOCGICOUNT), in words
    ("" when not known without opening it).

    A pseudo-terminal never does (no ioctl is made). With ``open_device``, another device is
    opened without becoming the controlling terminal and asked once, unless a process has it
    open (then: "unknown"); like any open of a serial port, that raises and drops DTR.
    """
    real = os.path.realpath(device)
    try:
        rdev = os.stat(real).st_rdev
    except OSError as exc:
        return f"unknown ({exc.strerror})"
    if os.major(rdev) in PTY_SLAVE_MAJORS:
        return "unsupported (pseudo-terminal)"
    if not open_device:
        return ""
    if find_holders(real, include_self=True):
        return "unknown (the port is in use)"
    try:
        fd = os.open(real, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError as exc:
        return f"unknown (cannot open: {exc.strerror})"
    try:
        read_icount(fd)
    except OSError as exc:
        return f"unsupported ({exc.strerror})"
    finally:
        os.close(fd)
    return "yes"


def _is_device_path(url: str) -> bool:
    try:
        return parse_address(url).is_device
    except ValueError:
        return False


# -- device checks ----------------------------------------------------------------------------


def file_kind(mode: int) -> str:
    """What a file that is not a character device is, in words ("a regular file", ...)."""
    if stat.S_ISREG(mode):
        return "a regular file"
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISBLK(mode):
        return "a block device"
    if stat.S_ISFIFO(mode):
        return "a named pipe"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a device"


def _probe_exclusive(real_path: str) -> str | None:
    """Open ``real_path`` and try a shared non-blocking flock: it fails only if someone else
    holds an exclusive lock. The lock, if obtained, is dropped at once with the descriptor; an
    exclusive holder is never disturbed."""
    try:
        fd = os.open(real_path, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.EBUSY:
            return "is opened exclusively (TIOCEXCL) by another process"
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError as exc:
        if exc.errno in (errno.EAGAIN, errno.EWOULDBLOCK):
            return "is locked exclusively by another process"
        return None
    finally:
        os.close(fd)
    return None


#: Device names the kernel numbers in the order it finds USB serial adapters: an adapter that
#: is replugged, or found in another order at boot, may come back under another number.
_NUMBERED_DEVICE = re.compile(r"(tty(?:USB|ACM))[0-9]+")


#: A UART of the board's own: a PL011 (``ttyAMAn``, a Raspberry Pi's), or ``serialN``, the
#: link a Pi's udev rules make to the UART on its GPIO pins. It is there once enabled in the
#: board's firmware settings, not plugged in.
_BOARD_UART = re.compile(r"ttyAMA[0-9]+|serial[0-9]")

#: What a missing board UART (:data:`_BOARD_UART`) usually means, and where to enable it.
BOARD_UART_HINT = (
    ": a UART on the board's pins is there once it is enabled (on a Raspberry Pi: "
    "raspi-config, Interface Options, Serial Port: no login shell, the hardware enabled; then "
    "reboot); /dev/serial0 names a Pi's UART on its GPIO pins"
)

#: The most links a missing by-id link's hint lists (a host may have dozens of adapters).
_LINKS_LISTED = 4

#: Where a missing device's hint (:func:`renumbered_hint`) lists the links or devices present
#: now: ``(LIST present now``, then ``;`` or ``)``. The sensors of an adapter hub that is out
#: all hold the same list; ``sensord status`` shows it once.
PRESENT_NOW = re.compile(r"\((?P<present>[^()]+) present now(?=[;)])")


def _missing_link_hint(directory: str) -> str:
    """For a link in a ``by-id`` directory that does not exist: udev removed it when the
    adapter went away, or the link is named after another adapter (its serial number, its
    interface); the links present now, as far as they fit, or that there are none."""
    try:
        names = sorted(n for n in os.listdir(directory) if os.path.exists(f"{directory}/{n}"))
    except OSError:
        names = []
    if not names:
        return (
            f": no adapter has a link in {directory} now: plug the adapter in (check its cable "
            "and power); sensord ports lists the serial ports present"
        )
    listed = ", ".join(names[:_LINKS_LISTED])
    more = f" and {len(names) - _LINKS_LISTED} more" if len(names) > _LINKS_LISTED else ""
    return (
        f": the adapter is unplugged, or its link has another name ({listed}{more} present "
        "now; sensord ports shows each with its serial number)"
    )


#: The end of a device name that is its number, in digits or letters read as digits
#: (``ttyUSBO``, ``ttyS1l``), and those letters as the digits they look like.
_LOOKALIKE_TAIL = re.compile(r"[0-9OoIl]+$")
_AS_DIGITS = str.maketrans("OoIl", "0011")
#: A virtual console (``tty1``, ``tty10``): never the serial port a lettered name means
#: (``ttyI0``, ``ttyl``), though every host has them.
_CONSOLE = re.compile(r"tty[0-9]+")


def renumbered_hint(path: str) -> str:
    """For a device ``path`` that does not exist: when its name is one the kernel numbers
    (``ttyUSBn``, ``ttyACMn``, also written with a letter for a digit), the advice to name
    the adapter by its by-id link, with the
    devices of that kind present now in its directory (the adapter under its new number); for
    a link in a ``by-id`` directory, the links present now (:func:`_missing_link_hint`); for
    a board's UART, to enable it (:data:`BOARD_UART_HINT`); "" for other names. First, a
    name whose number has a letter that looks like a digit (O for 0, l or I for 1), where
    that digit's name is present: that path."""
    directory, name = os.path.split(path)
    lettered = ""
    digits = _LOOKALIKE_TAIL.search(name)
    meant = "" if digits is None else name[: digits.start()] + digits[0].translate(_AS_DIGITS)
    if digits is not None and not digits[0].isdigit() and not _CONSOLE.fullmatch(meant):
        written = (
            f"its {name[digits.start() :]!r} has a letter, not only digits as "
            f"{meant[digits.start() :]!r}"
        )
        if os.path.exists(os.path.join(directory, meant)):
            return f": did you mean {os.path.join(directory, meant)} (present now)? {written}"
        if _NUMBERED_DEVICE.fullmatch(meant):  # ttyUSBO: a ttyUSB device's hint, and why
            lettered = f" ({written})"
            name = meant
    if os.path.basename(directory) == os.path.basename(BY_ID_DIR):
        return _missing_link_hint(directory)
    if _BOARD_UART.fullmatch(name):
        return BOARD_UART_HINT
    match = _NUMBERED_DEVICE.fullmatch(name)
    if match is None:
        return ""
    try:
        names = os.listdir(directory)
    except OSError:
        names = []
    kind = match.group(1)
    present = sorted(
        (n for n in names if n != name and (m := _NUMBERED_DEVICE.fullmatch(n)) and m[1] == kind),
        key=lambda n: int(n[len(kind) :]),
    )
    now = f" ({', '.join(os.path.join(directory, n) for n in present)} present now)"
    return (
        f"{lettered}: a USB adapter comes back under another {kind} number after a replug or a "
        f"reboot{now if present else ''}; name it by its {BY_ID_DIR} link (sensord ports lists "
        "them)"
    )


def _device_class(rdev: int, sys_root: str = SYS_ROOT) -> str | None:
    """The kernel's class of the character device numbered ``rdev`` (``tty`` for every serial
    port and terminal, ``mem`` for /dev/null, ``misc``, ``hidraw``, ``i2c-dev`` ...), from
    its ``subsystem`` link in sysfs, read without opening the device; None when sysfs does not
    list it (a pseudo-terminal's slave, a host without ``/sys``)."""
    link = f"{sys_root}/dev/char/{os.major(rdev)}:{os.minor(rdev)}/subsystem"
    try:
        return os.path.basename(os.readlink(link))
    except OSError:
        return None


#: What the daemon does while a sensor's device is absent, by the sensor's ``simulate``
#: (``"always"`` never opens the device, so never finds it absent).
ABSENT_MEANWHILE = {
    "never": 'the daemon waits for it and reads it once it is back (simulate = "never")',
    "auto": "a daemon that starts without it simulates it until it is back, and one that was "
    'reading it waits for it (simulate = "auto")',
}


#: What the daemon does with the devices of a Modbus bus (``{devices}``: their sensors'
#: names) while the bus's port is absent, by their ``simulate`` (one for the whole bus).
BUS_ABSENT_MEANWHILE = {
    "never": "the daemon waits for it, and the bus's devices ({devices}) read nothing (down) "
    'until it is back (simulate = "never")',
    "auto": "a daemon that starts without it simulates the bus's devices ({devices}) until it "
    "is back, and one that was reading it waits for it, the devices down meanwhile "
    '(simulate = "auto")',
}


def dangling_link(
    url: str, real: str, simulate: str | None = None, bus_devices: Sequence[str] = ()
) -> str:
    """What a device link ``url`` (a ``/dev/serial/by-id/...`` link) whose target ``real``
    does not exist says, in ``sensord check`` and in the daemon alike: the device is absent
    (its adapter unplugged), and, given the sensor's ``simulate``, what the daemon does
    meanwhile (:data:`ABSENT_MEANWHILE`); for the port of a Modbus bus (``bus_devices``: the
    names of its devices' sensors), what happens to those devices
    (:data:`BUS_ABSENT_MEANWHILE`)."""
    text = (
        f"{url} is a link to {real}, which does not exist: its device is absent (the adapter "
        "is unplugged)"
    )
    if bus_devices:
        meanwhile = BUS_ABSENT_MEANWHILE.get(simulate or "")
        if meanwhile is not None:
            meanwhile = meanwhile.format(devices=", ".join(bus_devices))
    else:
        meanwhile = ABSENT_MEANWHILE.get(simulate or "")
    return f"{text}; {meanwhile}" if meanwhile else text


def check_device(
    url: str,
    *,
    probe_lock: bool = True,
    sys_root: str = SYS_ROOT,
    simulate: str | None = None,
    bus_devices: Sequence[str] = (),
    cgroup_root: str = CGROUP_ROOT,
) -> list[str]:
    """Problems, in plain words, that would stop sensord from using the device at ``url``.

    An empty list means no problem was found. URLs (``socket://``, ``rfc2217://``, ``sim://``,
    ``loop://``) name no local device and return ``[]`` (``sensord check`` tries a network
    port's connection itself). Other ``scheme://`` URLs are reported as unknown. ``simulate``
    is the sensor's setting, told with a dangling link, as are the devices of a Modbus bus
    (``bus_devices``: their sensors' names) on the port.

    Checked, in order: the path exists (a by-id link that points nowhere is told with what
    the daemon does meanwhile under the sensor's ``simulate``: :func:`dangling_link`),
    it is a character device, one of a terminal's class (:func:`_device_class`), this user
    may read and write it, and no other process has it open or locked. Holders are found in
    ``/proc/*/fd`` and ``/proc/locks``, and a getty by its unit's control group under
    ``cgroup_root`` (:func:`getty_unit`), seen by a user who cannot see root's processes.
    With ``probe_lock`` and no holder found, the device is opened and a non-blocking shared
    flock is tried, which detects an exclusive hold by a process this user cannot inspect.
    Opening a real serial port with nobody else on it raises and then drops DTR, as any open
    does.
    """
    try:
        address = parse_address(url)
    except ValueError as exc:
        return [f"{url}: {exc}"]
    if not address.is_device:
        return []

    real = os.path.realpath(url)
    display = url if real == url else f"{url} -> {real}"
    if not os.path.exists(url):
        if os.path.islink(url):
            return [dangling_link(url, real, simulate, bus_devices)]
        return [f"{url} does not exist{renumbered_hint(url)}"]
    try:
        st = os.stat(real)
    except OSError as exc:
        return [f"{display} cannot be examined: {exc.strerror}"]
    if not stat.S_ISCHR(st.st_mode):
        return [f"{display} is not a character device (it is {file_kind(st.st_mode)})"]
    kind = _device_class(st.st_rdev, sys_root)
    if kind is not None and kind != "tty":
        # the daemon's open would fail so, at every attempt, and its holders are no matter
        return [
            f"{display} is not a serial port (no terminal settings; the kernel lists it as a "
            f"{kind} device)"
        ]

    problems: list[str] = []
    accessible = can_read_write(real)
    if not accessible:
        problems.append(f"{display}: permission denied; {permission_hint(real)}")

    everyone = find_holders(real, include_self=True)
    me = os.getpid()
    others = contending_holders(real, everyone)
    if others:
        listed = ", ".join(str(h) for h in others)
        verb = "locked" if any(h.locked for h in others) else "held"
        problems.append(
            f"{display} is {verb} by another process: {listed}{holder_hint(others, real)}"
        )
    elif (unit := getty_unit(real, cgroup_root)) is not None:
        problems.append(
            f"{display} is held by {unit}, a login prompt, whose process this user cannot "
            f"see: turn it off (sudo systemctl disable --now {unit}; on a Raspberry Pi, "
            "raspi-config, Interface Options, Serial Port: no login shell)"
        )
    elif probe_lock and accessible and not any(h.pid == me for h in everyone):
        found = _probe_exclusive(real)
        if found is not None:
            problems.append(f"{display} {found}")
    return problems


# -- listing ----------------------------------------------------------------------------------


def _by_id_links(by_id_dir: str) -> dict[str, list[str]]:
    """Real device path -> sorted links in ``by_id_dir`` that resolve to it."""
    links: dict[str, list[str]] = {}
    try:
        names = sorted(os.listdir(by_id_dir))
    except OSError:
        return links
    for name in names:
        link = os.path.join(by_id_dir, name)
        if os.path.exists(link):
            links.setdefault(os.path.realpath(link), []).append(link)
    return links


def _extra_description(real_path: str) -> str:
    try:
        rdev = os.stat(real_path).st_rdev
    except OSError:
        return ""
    return "pseudo-terminal" if os.major(rdev) in PTY_SLAVE_MAJORS else ""


def list_ports(
    configured: Mapping[str, str] | None = None,
    *,
    by_id_dir: str = BY_ID_DIR,
    sys_root: str = SYS_ROOT,
    rates_hz: Mapping[str, float] | None = None,
    probe: bool = False,
) -> list[PortInfo]:
    """The serial ports of this machine, sorted by device path.

    ``configured`` maps sensor names to their port URLs; each listed port names, in
    ``used_by``, the sensors whose device path resolves to it. Configured device paths that
    exist but that pyserial does not list (pseudo-terminals, for example) are included too.
    Adapter facts come from the sysfs at ``sys_root``; a port used by a sensor whose rate
    (``rates_hz``: frames or polls a second, by sensor) cares about its FTDI latency timer
    gets a hint. Each port's line error counter support is shown as far as it is known
    without opening it, or, with ``probe``, by opening it (:func:`line_counter_support`).
    """
    configured = configured or {}
    links = _by_id_links(by_id_dir)
    users: dict[str, list[str]] = {}
    for sensor, url in configured.items():
        if _is_device_path(url) and os.path.exists(url):
            users.setdefault(os.path.realpath(url), []).append(sensor)

    ports: dict[str, PortInfo] = {}
    for info in comports():
        device = os.path.realpath(info.device)
        vid_pid = f"{info.vid:04x}:{info.pid:04x}" if info.vid is not None else ""
        description = info.description if info.description not in ("n/a", None) else ""
        ports[device] = PortInfo(
            device=device,
            description=description,
            vid_pid=vid_pid,
            serial_number=info.serial_number or "",
        )
    for device in users:
        if device not in ports:
            ports[device] = PortInfo(device=device, description=_extra_description(device))
    rates_hz = rates_hz or {}
    for device, port in ports.items():
        port.by_id = list(links.get(device, ()))
        port.used_by = sorted(users.get(device, ()), key=natural_key)
        facts = adapter_facts(device, sys_root=sys_root)
        port.driver = facts.driver
        port.latency_timer_ms = facts.latency_timer_ms
        port.vid_pid = port.vid_pid or facts.vid_pid
        port.serial_number = port.serial_number or facts.serial_number
        port.line_counters = line_counter_support(device, open_device=probe)
        if facts.latency_timer_ms is not None:
            for sensor in port.used_by:
                hint = latency_hint(
                    sensor, device, facts.latency_timer_ms, rates_hz.get(sensor, 0.0)
                )
                if hint is not None:
                    port.hints.append(hint)
    return [ports[d] for d in sorted(ports)]


def _table(rows: Iterable[tuple[str, ...]]) -> list[str]:
    rows = list(rows)
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def format_ports(ports: Iterable[PortInfo]) -> str:
    """A readable table of ``ports`` (``sensord ports``), by-id links on indented lines."""
    ports = list(ports)
    if not ports:
        return "no serial ports found"
    header = ("DEVICE", "VID:PID", "SERIAL", "DESCRIPTION", "USED BY")
    rows = [header] + [
        (
            p.device,
            p.vid_pid or "-",
            p.serial_number or "-",
            p.description or "-",
            ", ".join(p.used_by) or "-",
        )
        for p in ports
    ]
    lines = _table(rows)
    out = [lines[0]]
    for port, line in zip(ports, lines[1:], strict=True):
        out.append(line)
        out.extend(f"    by-id: {link}" for link in port.by_id)
        adapter = []
        if port.driver:
            adapter.append(f"driver {port.driver}")
        if port.latency_timer_ms is not None:
            adapter.append(f"latency_timer {port.latency_timer_ms} ms")
        if adapter:
            out.append("    adapter: " + ", ".join(adapter))
        if port.line_counters:
            out.append(f"    line error counters: {port.line_counters}")
        out.extend(f"    hint: {hint}" for hint in port.hints)
    return "\n".join(out)
