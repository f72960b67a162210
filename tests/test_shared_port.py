"""A port that another process has open without a lock (a serial console's getty on ttyAMA0 or
ttyS0): the daemon's open succeeds beside it, the kernel hands each byte to whichever reads
first, and the sensor's frames go missing or come cut. The daemon searches for such a process
once after a port's first open and at the first trouble after each open (stale, a damaged
frame), in slices at the reader's housekeeping, and names it with how to stop it
(``sensord.shared_port``); a port found shared is searched again now and then, and its hint
and flag cleared once the other process is gone."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from harness.daemon import StartDaemon
from harness.pty import PtyPair
from harness.spawn import popen
from pytest_mock import MockerFixture
from structlog.testing import capture_logs
from test_modbus_line import read_reply

from sensord import port_holders
from sensord.bus import Bus
from sensord.config import parse_config
from sensord.port_holders import HolderScan, getty_unit
from sensord.sensor import SensorRuntime
from sensord.shared_port import SharedPortScan, SharedPortWatch

#: A process that has the port open and reads it, as a getty waiting for a login name does:
#: every byte it reads is one the daemon does not get. It ends when its stdin closes.
_READER = """\
import os, select, sys
fd = os.open(sys.argv[1], os.O_RDWR | os.O_NOCTTY)
print("ready", flush=True)
while True:
    ready, _, _ = select.select([fd, sys.stdin], [], [])
    if sys.stdin in ready:
        break
    try:
        os.read(fd, 4096)
    except OSError:
        break
"""


@pytest.fixture
def bin_dir() -> Iterator[Path]:
    """A directory of a short path, for the programs of :func:`_named`: the log cuts a
    command line to 60 characters, which a test's own directory alone may fill."""
    with tempfile.TemporaryDirectory(prefix="sd-", dir="/tmp") as name:
        yield Path(name)


def _named(directory: Path, name: str) -> str:
    """A link to this interpreter named ``name``: a process run by it has that name (its
    ``comm``) and that first word of its command line, as the program of that name has."""
    link = directory / name
    link.symlink_to(os.path.realpath(sys.executable))
    return str(link)


@contextmanager
def reading_port(path: str, program: str = sys.executable) -> Iterator[subprocess.Popen[str]]:
    """Another process (run as ``program``) that has ``path`` open, unlocked, and reads it."""
    proc = popen(
        [program, "-c", _READER, path], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert proc.stdout is not None
        assert proc.stdout.readline().strip() == "ready"
        yield proc
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        assert proc.stdout is not None
        proc.stdout.close()


def _shown(proc: subprocess.Popen[str]) -> str:
    """How the log names the process ``proc``: its pid and command line (cut to a length)."""
    return str(port_holders.Holder(proc.pid, port_holders._command_of(proc.pid)))


def _config(port: str, extra: str = "") -> str:
    return (
        f'[[sensors]]\nname = "console"\nport = "{port}"\nformat = "value"\n'
        f'simulate = "never"\nstale_after_s = 1\n{extra}[[sensors.channels]]\nname = "v"\n'
    )


#: The daemon's search after a port's first open without its wait (a minute by default)
_AT_ONCE = "import sensord.shared_port\nsensord.shared_port.FIRST_SEARCH_S = 0.0"


@pytest.mark.slow
def test_the_daemon_names_a_getty_that_reads_its_port_and_how_to_stop_it(
    start_daemon: StartDaemon, pty_pair: PtyPair, bin_dir: Path
) -> None:
    """A getty on the port before the daemon starts (as on a Pi's ttyAMA0 from boot): the
    daemon opened and read the port beside it and said nothing, its readings lost or cut. It
    now warns once, naming the process (pid and command) and the systemctl line that stops
    it, and ``/status`` gives that as the sensor's hint."""
    with reading_port(pty_pair.path, _named(bin_dir, "agetty")) as getty:
        daemon = start_daemon(config=_config(pty_pair.path), python_prelude=_AT_ONCE)
        daemon.wait_http()
        deadline = time.monotonic() + 20.0
        while not daemon.events("port shared with another process"):
            assert time.monotonic() < deadline, daemon.log_text()
            pty_pair.write(b"21.5\n")
            time.sleep(0.1)
        [warning] = daemon.events("port shared with another process")
        assert warning["sensor"] == "console"
        shown = _shown(getty)
        assert shown.startswith(f"pid {getty.pid} ({bin_dir}/agetty -c import os"), shown
        assert warning["holders"] == [shown]
        name = os.path.basename(pty_pair.path)
        assert warning["error"] == (
            f"{pty_pair.path} is open in another process too: {shown}; the kernel hands each "
            "byte to whichever process reads first, so this sensor's frames go missing or come cut, and that "
            "process may change the port's line settings (serial.exclusive keeps out the opens "
            "after sensord's, not one made before it, nor root's); a login prompt (getty) runs "
            f"on it: turn it off (sudo systemctl disable --now serial-getty@{name}.service; on "
            "a Raspberry Pi, raspi-config, Interface Options, Serial Port: no login shell)"
        )
        status = daemon.status()["sensors"]["console"]
        assert status["hint"].startswith(warning["error"]), status
        assert daemon.scrape().value("sensord_port_shared", sensor="console") == 1
        for _ in range(20):  # it is told once for the open, not at every trouble after it
            pty_pair.write(b"21.5\n")
            time.sleep(0.05)
        assert len(daemon.events("port shared with another process")) == 1


@pytest.mark.slow
def test_the_daemon_clears_the_shared_port_once_the_other_process_is_gone(
    start_daemon: StartDaemon, pty_pair: PtyPair, bin_dir: Path
) -> None:
    """The operator stops the getty the warning named: the daemon, which searches a port found
    shared again now and then (every second here, a minute by default), says so in one info
    line and exports ``sensord_port_shared`` 0 and no hint, without reopening the port (the
    flag stayed 1 until a restart)."""
    daemon = start_daemon(
        config=_config(pty_pair.path),
        python_prelude=f"{_AT_ONCE}\nsensord.shared_port.RECHECK_S = 1.0",
    )
    with reading_port(pty_pair.path, _named(bin_dir, "agetty")):
        daemon.wait_http()
        deadline = time.monotonic() + 20.0
        while not daemon.events("port shared with another process"):
            assert time.monotonic() < deadline, daemon.log_text()
            pty_pair.write(b"21.5\n")
            time.sleep(0.1)
        assert daemon.scrape().value("sensord_port_shared", sensor="console") == 1
        for _ in range(25):  # searched again while it is there: still shared, told once
            pty_pair.write(b"21.5\n")
            time.sleep(0.1)
        assert daemon.scrape().value("sensord_port_shared", sensor="console") == 1
        assert len(daemon.events("port shared with another process")) == 1
    deadline = time.monotonic() + 20.0
    while not daemon.events("port no longer shared"):
        assert time.monotonic() < deadline, daemon.log_text()
        pty_pair.write(b"21.5\n")
        time.sleep(0.1)
    [cleared] = daemon.events("port no longer shared")
    assert cleared["sensor"] == "console"
    assert cleared["port"] == pty_pair.path
    assert cleared["level"] == "info"
    scrape = daemon.scrape()
    assert scrape.value("sensord_port_shared", sensor="console") == 0
    assert scrape.value("sensord_serial_reconnects_total", sensor="console") == 0
    status = daemon.status()["sensors"]["console"]
    assert status["state"] == "up"
    assert status["hint"] is None, status
    assert len(daemon.events("port shared with another process")) == 1


def _runtime(port: str, extra: str = "") -> SensorRuntime:
    return SensorRuntime(parse_config(_config(port, extra)).sensors[0])


def _search(scan: SharedPortScan, runtime: SensorRuntime) -> None:
    """Housekeeping ticks until the search that is due (if any) is done."""
    scan.step([runtime.shared_port])
    while scan.running:
        scan.step([runtime.shared_port])


def test_the_search_runs_once_after_the_first_open_and_at_trouble_after_another(
    bin_dir: Path, pty_pair: PtyPair, mocker: MockerFixture
) -> None:
    """No search on the reading path, nor at every tick: one after the port's first open
    (a reader there since boot), none after a reopen that gives no trouble (the search is a
    walk of every process's open files), one at the first trouble after that reopen (a
    process that opened the port meanwhile), and no other in that open."""
    walks = mocker.spy(port_holders, "_open_files")
    scan = SharedPortScan(first_search_s=0.0)
    runtime = _runtime(pty_pair.path)
    with capture_logs() as logs:
        assert runtime.try_open()
        _search(scan, runtime)  # the first open: searched, nobody else there
        assert walks.call_count == 1
        assert not runtime.snapshot().port_shared
        runtime.feed(b"1\n2\n")
        _search(scan, runtime)
        assert walks.call_count == 1
        runtime.disconnect("hung up")
        with reading_port(pty_pair.path, _named(bin_dir, "minicom")) as other:
            runtime.retry.next_at = 0.0
            assert runtime.try_open()
            runtime.feed(b"3\n")
            runtime.tick(time.monotonic())
            _search(scan, runtime)
            assert walks.call_count == 1  # a reopen without trouble: not searched
            runtime.feed(b"4\x00x\n")  # damaged: trouble
            runtime.tick(time.monotonic())
            _search(scan, runtime)
            assert walks.call_count == 2
            runtime.feed(b"y\x00\n")
            runtime.tick(time.monotonic())
            _search(scan, runtime)
            assert walks.call_count == 2  # once an open
            hint = runtime.snapshot().hint
            shared = runtime.snapshot().port_shared
            shown = _shown(other)
    runtime.stop()
    [warning] = [e for e in logs if e["event"] == "port shared with another process"]
    assert warning["holders"] == [shown]
    assert shown.startswith(f"pid {other.pid} ({bin_dir}/minicom -c "), shown
    assert warning["error"].endswith("; stop that process, or have it use another port")
    assert hint == warning["error"]
    assert shared
    # the hint and the metric's flag go with the open they were found in
    assert runtime.snapshot().hint is None
    assert not runtime.snapshot().port_shared


def test_a_stale_port_is_trouble_and_its_search_is_found_in_slices(
    pty_pair: PtyPair, mocker: MockerFixture
) -> None:
    """A port that stays silent (another process takes every byte) is searched at its stale
    tick; a search cut into slices far shorter than one walk of every open file still finds
    the holder."""
    scan = SharedPortScan(slice_s=0.0, first_search_s=0.0)  # one open file a slice
    runtime = _runtime(pty_pair.path)
    assert runtime.try_open()
    _search(scan, runtime)  # the first open's, with nobody else there
    runtime.disconnect("hung up")
    runtime.retry.next_at = 0.0
    steps = mocker.spy(HolderScan, "step")
    with reading_port(pty_pair.path) as other, capture_logs() as logs:
        assert runtime.try_open()  # a reopen: searched only at trouble
        scan.step([runtime.shared_port])
        assert not scan.running
        shown = _shown(other)
        runtime.tick(time.monotonic() + 2.0)  # stale_after_s = 1
        assert runtime.state == "stale"
        _search(scan, runtime)
        assert steps.call_count > 10
    runtime.stop()
    [warning] = [e for e in logs if e["event"] == "port shared with another process"]
    assert warning["holders"] == [shown]


def test_without_serial_exclusive_the_text_does_not_speak_of_it(pty_pair: PtyPair) -> None:
    scan = SharedPortScan(first_search_s=0.0)
    runtime = _runtime(pty_pair.path, "serial = { exclusive = false }\n")
    with reading_port(pty_pair.path), capture_logs() as logs:
        assert runtime.try_open()
        _search(scan, runtime)
    runtime.stop()
    [warning] = [e for e in logs if e["event"] == "port shared with another process"]
    assert "serial.exclusive" not in warning["error"]
    assert (
        "that process may change the port's line settings; stop that process" in (warning["error"])
    )


@pytest.mark.parametrize("layout", ["", "unified", "systemd"])
def test_a_getty_unit_hidden_from_the_service_user_is_found_by_its_control_group(
    tmp_path: Path, pty_pair: PtyPair, layout: str
) -> None:
    """Under sensord.service (user sensord, ProtectProc=invisible) root's agetty is not in
    /proc, but its unit's control group is readable: a getty found there is named by its
    unit, with the systemctl line that stops it; an empty group (the unit stopping) is
    none."""
    name = os.path.basename(pty_pair.path)
    unit = f"serial-getty@{name}.service"
    group = tmp_path / layout / "system.slice" / "system-serial\\x2dgetty.slice" / unit
    group.mkdir(parents=True)
    (group / "cgroup.procs").write_text("")
    assert getty_unit(pty_pair.path, str(tmp_path)) is None
    (group / "cgroup.procs").write_text("812\n")
    assert getty_unit(pty_pair.path, str(tmp_path)) == unit
    assert getty_unit("/dev/ttyS0", str(tmp_path)) is None

    scan = SharedPortScan(cgroup_root=str(tmp_path), first_search_s=0.0)
    runtime = _runtime(pty_pair.path)
    with capture_logs() as logs:
        assert runtime.try_open()
        _search(scan, runtime)
    runtime.stop()
    [warning] = [e for e in logs if e["event"] == "port shared with another process"]
    assert warning["holders"] == []
    assert warning["unit"] == unit
    assert warning["error"] == (
        f"{pty_pair.path} is open in another process too: {unit}, a login prompt; the kernel "
        "hands each byte to whichever process reads first, so this sensor's frames go missing "
        "or come cut, and that process may change the port's line settings (serial.exclusive "
        "keeps out the opens after sensord's, not one made before it, nor root's); a login "
        f"prompt runs on it: turn it off (sudo systemctl disable --now {unit}; on a Raspberry "
        "Pi, raspi-config, Interface Options, Serial Port: no login shell)"
    )


def test_a_port_closed_during_its_search_is_not_told_of(pty_pair: PtyPair) -> None:
    """The search takes housekeeping ticks: a port closed meanwhile (unplugged, a reload) is
    not warned of, nor is the next open given the hint of the one before."""
    scan = SharedPortScan(slice_s=0.0, first_search_s=0.0)
    runtime = _runtime(pty_pair.path)
    with reading_port(pty_pair.path), capture_logs() as logs:
        assert runtime.try_open()
        scan.step([runtime.shared_port])
        assert scan.running
        runtime.disconnect("hung up")
        while scan.running:
            scan.step([])
        runtime.retry.next_at = 0.0
        assert runtime.try_open()
        hint = runtime.snapshot().hint
    runtime.stop()
    assert [e for e in logs if e["event"] == "port shared with another process"] == []
    assert hint is None


def test_a_modbus_bus_port_read_by_another_process_is_told_for_each_device(
    pty_pair: PtyPair, bin_dir: Path
) -> None:
    """A bus's port is searched as a sensor's is (once after its first open): the warning
    names the bus's port, and each of its devices' ``/status`` hint carries it."""
    text = "".join(
        f'[[sensors]]\nname = "{name}"\nport = "{pty_pair.path}"\nformat = "modbus"\n'
        f'simulate = "never"\nmodbus = {{ unit = {unit} }}\n'
        'registers = [{ name = "v", table = "holding", address = 0 }]\n'
        '[[sensors.channels]]\nname = "v"\n'
        for name, unit in (("meter1", 1), ("meter2", 2))
    )
    configs = parse_config(text).sensors
    bus = Bus("bus:" + pty_pair.path, configs[0])
    devices = [SensorRuntime(c) for c in configs]
    for device in devices:
        bus.add(device)
    scan = SharedPortScan(first_search_s=0.0)
    with reading_port(pty_pair.path, _named(bin_dir, "agetty")) as getty, capture_logs() as logs:
        assert bus.try_open()
        scan.step([bus.shared_port])
        while scan.running:
            scan.step([bus.shared_port])
        shown = _shown(getty)
        hints = [d.snapshot().hint for d in devices]
        shared = [d.snapshot().port_shared for d in devices]
    bus.stop()
    [warning] = [e for e in logs if e["event"] == "port shared with another process"]
    assert warning["bus"] == pty_pair.path
    assert warning["holders"] == [shown]
    name = os.path.basename(pty_pair.path)
    # the bus's devices' answers are what is lost: no sensor's frames, as a bus has none
    assert warning["error"] == (
        f"{pty_pair.path} is open in another process too: {shown}; the kernel hands each "
        "byte to whichever process reads first, so the answers of the bus's devices go "
        "missing or come cut, and that process may change the port's line settings "
        "(serial.exclusive keeps out the opens after sensord's, not one made before it, nor "
        "root's); a login prompt (getty) runs on it: turn it off (sudo systemctl disable "
        f"--now serial-getty@{name}.service; on a Raspberry Pi, raspi-config, Interface "
        "Options, Serial Port: no login shell)"
    )
    assert [h is not None and h.startswith(warning["error"]) for h in hints] == [True, True]
    assert shared == [True, True]


def test_a_modbus_bus_port_that_gets_a_damaged_answer_after_a_reopen_is_searched(
    pty_pair: PtyPair, bin_dir: Path
) -> None:
    """A bus reopened while another process has come to read its port: no device goes stale
    (the others' answers still come), but an answer arrives with a bad CRC, the bytes the
    other process took missing from it. That is the bus's trouble, as a damaged frame is a
    sensor's: its port is searched and the holder told of. (Only a stale device was, on a
    device path: a count of unanswered requests kept for network connections alone stood
    for the rest.)"""
    text = (
        f'[[sensors]]\nname = "meter"\nport = "{pty_pair.path}"\nformat = "modbus"\n'
        'simulate = "never"\nstale_after_s = 60\nmodbus = { unit = 1, timeout_s = 0.2 }\n'
        'registers = [{ name = "v", table = "holding", address = 0 }]\n'
        '[[sensors.channels]]\nname = "v"\n'
    )
    (config,) = parse_config(text).sensors
    now = [100.0]
    bus = Bus("bus:" + pty_pair.path, config, clock=lambda: now[0])
    device = SensorRuntime(config, clock=lambda: now[0])
    bus.add(device)
    scan = SharedPortScan(first_search_s=0.0)
    assert bus.try_open()
    _search_bus(scan, bus)  # the first open's, with nobody else there
    bus.disconnect("hung up")
    bus.retry.next_at = 0.0
    with reading_port(pty_pair.path, _named(bin_dir, "minicom")) as other, capture_logs() as logs:
        assert bus.try_open()  # a reopen: searched only at trouble
        for _ in range(3):
            now[0] += 1.5
            bus.tick(now[0])
            _search_bus(scan, bus)
            assert bus.in_flight is not None
            bus.feed(read_reply(1, [7]))  # answered: no trouble
        assert not [e for e in logs if e["event"] == "port shared with another process"]
        now[0] += 1.5
        bus.tick(now[0])
        assert bus.in_flight is not None
        bus.feed(read_reply(1, [7])[:-1] + b"\x00")  # its CRC spoilt
        now[0] += 1.5
        bus.tick(now[0])
        _search_bus(scan, bus)
        shown = _shown(other)
        assert device.state == "up"
    bus.stop()
    [warning] = [e for e in logs if e["event"] == "port shared with another process"]
    assert warning["holders"] == [shown]


def _search_bus(scan: SharedPortScan, bus: Bus) -> None:
    """Housekeeping ticks until the search of ``bus``'s port that is due (if any) is done."""
    scan.step([bus.shared_port])
    while scan.running:
        scan.step([bus.shared_port])


def test_a_search_that_fails_is_logged_and_the_loop_goes_on(
    pty_pair: PtyPair, mocker: MockerFixture
) -> None:
    """The search runs in the reader's housekeeping, outside any port's own guard: a failure
    in it (a bug, a /proc that reads unlike Linux's) is logged with the ports it was for, and
    never raised into the loop."""
    mocker.patch.object(HolderScan, "step", side_effect=RuntimeError("unreadable /proc"))
    scan = SharedPortScan(first_search_s=0.0)
    runtime = _runtime(pty_pair.path)
    with capture_logs() as logs:
        assert runtime.try_open()
        scan.step([runtime.shared_port])
        assert not scan.running
        scan.step([runtime.shared_port])  # searched once an open, failed or not
    runtime.stop()
    [failed] = [e for e in logs if e["event"] == "search for other processes on the ports failed"]
    assert failed["ports"] == [os.path.realpath(pty_pair.path)]
    assert failed["log_level"] == "error"


def _searches(scan: SharedPortScan, *watches: SharedPortWatch) -> None:
    """Housekeeping ticks until the search that is due of ``watches`` (if any) is done."""
    scan.step(watches)
    while scan.running:
        scan.step(watches)


def test_a_port_found_shared_is_searched_again_and_cleared_once_the_other_process_is_gone(
    pty_pair: PtyPair, bin_dir: Path, mocker: MockerFixture
) -> None:
    """The warning named a terminal program; the operator closes it. The port was not searched
    again in its open, so its hint and ``port_shared`` stood until a reopen. A port found
    shared is now searched again every ``recheck_s`` (not before: each search walks every
    process's open files), told once while the other process stays, and cleared, with one
    info line, once it is gone; a port left alone is not searched again."""
    walks = mocker.spy(port_holders, "_open_files")
    now = [1000.0]
    scan = SharedPortScan(clock=lambda: now[0], recheck_s=60.0, first_search_s=0.0)
    runtime = _runtime(pty_pair.path)
    with capture_logs() as logs:
        with reading_port(pty_pair.path, _named(bin_dir, "minicom")):
            assert runtime.try_open()
            _search(scan, runtime)
            assert walks.call_count == 1
            assert runtime.snapshot().port_shared
            now[0] += 59.0
            _search(scan, runtime)
            assert walks.call_count == 1  # not before its time
            now[0] += 1.0
            _search(scan, runtime)
            assert walks.call_count == 2
            assert runtime.snapshot().port_shared  # still there
            hint = runtime.snapshot().hint
        now[0] += 59.0
        _search(scan, runtime)
        assert walks.call_count == 2
        assert runtime.snapshot().port_shared  # gone, but not searched yet
        now[0] += 1.0
        _search(scan, runtime)
        assert walks.call_count == 3
        snapshot = runtime.snapshot()
        for _ in range(3):
            now[0] += 60.0
            _search(scan, runtime)
    assert walks.call_count == 3  # alone: not searched again
    assert runtime.source is not None
    assert runtime.reconnects == 0
    runtime.stop()
    assert hint is not None
    assert hint.startswith(f"{pty_pair.path} is open in another process")
    assert not snapshot.port_shared
    assert snapshot.hint is None
    assert [e["event"] for e in logs if "shared" in e["event"]] == [
        "port shared with another process",
        "port no longer shared",
    ]
    [cleared] = [e for e in logs if e["event"] == "port no longer shared"]
    assert cleared["port"] == pty_pair.path
    assert cleared["sensor"] == "console"
    assert cleared["log_level"] == "info"


def test_the_search_after_a_first_open_waits_unless_trouble_or_another_search_comes_first(
    bin_dir: Path, mocker: MockerFixture
) -> None:
    """The search after a port's first open in the run waits ``first_search_s`` (a minute by
    default): a program that opens a new port for a moment as it appears (ModemManager
    probing a USB adapter) has let it go by then, and the walk of every process's open files
    does not add to the start, when every port opens at once. Trouble before then searches at
    once; a search that starts for another port takes along a port still waiting; a reopen
    before the wait is over waits again from its open."""
    walks = mocker.spy(port_holders, "_open_files")
    now = [1000.0]
    scan = SharedPortScan(clock=lambda: now[0], first_search_s=60.0, recheck_s=1000.0)
    with PtyPair() as first, PtyPair() as second, PtyPair() as third:
        one, two, three = (_runtime(pair.path) for pair in (first, second, third))
        watches = (one.shared_port, two.shared_port, three.shared_port)
        with capture_logs() as logs, reading_port(first.path, _named(bin_dir, "agetty")):
            assert one.try_open()
            _searches(scan, *watches)
            now[0] += 59.0
            _searches(scan, *watches)
            waited = walks.call_count  # not before its time
            now[0] += 1.0
            _searches(scan, *watches)
            first_search = walks.call_count
            told = one.snapshot().port_shared
            # trouble calls the search of a port at once, and a port still waiting joins it
            assert two.try_open()
            assert three.try_open()
            _searches(scan, *watches)
            assert walks.call_count == first_search  # both wait
            now[0] += 10.0
            two.feed(b"3\n")  # (a first line may be one the open cut: not trouble)
            two.feed(b"4\x00x\n")  # damaged: trouble
            two.tick(time.monotonic())
            _searches(scan, *watches)
            joined = walks.call_count
            waiting = three.shared_port.watching  # its search done with the trouble's
            now[0] += 120.0
            _searches(scan, *watches)
            after = walks.call_count
        for runtime in (one, two, three):
            runtime.stop()
    assert (waited, first_search, told) == (0, 1, True)
    assert (joined, waiting, after) == (2, False, 2)  # one walk for both
    assert len([e for e in logs if e["event"] == "port shared with another process"]) == 1


def test_a_reopen_before_the_first_search_waits_again_from_its_open(
    pty_pair: PtyPair, mocker: MockerFixture
) -> None:
    """A port closed and opened again before the search after its first open ran keeps that
    search (a getty there since boot is still there), due ``first_search_s`` after the
    reopen; a reopen after it ran is searched only at trouble."""
    walks = mocker.spy(port_holders, "_open_files")
    now = [1000.0]
    scan = SharedPortScan(clock=lambda: now[0], first_search_s=60.0)
    runtime = _runtime(pty_pair.path)
    assert runtime.try_open()
    _search(scan, runtime)
    now[0] += 30.0
    runtime.disconnect("hung up")
    runtime.retry.next_at = 0.0
    assert runtime.try_open()
    _search(scan, runtime)
    now[0] += 59.0
    _search(scan, runtime)
    before = walks.call_count
    now[0] += 1.0
    _search(scan, runtime)
    searched = walks.call_count
    runtime.disconnect("hung up")
    runtime.retry.next_at = 0.0
    assert runtime.try_open()
    for _ in range(3):
        now[0] += 60.0
        _search(scan, runtime)
    runtime.stop()
    assert (before, searched, walks.call_count) == (0, 1, 1)


def test_a_port_found_shared_joins_the_search_of_another_port_before_its_time(
    bin_dir: Path, mocker: MockerFixture
) -> None:
    """A search costs the same walk for one port or several: one that starts for a port due
    (here another sensor's first open) takes along the ports found shared, whatever their
    time, so the flagged ports of a host cost one search a period, not one each."""
    walks = mocker.spy(port_holders, "_open_files")
    now = [1000.0]
    scan = SharedPortScan(clock=lambda: now[0], recheck_s=60.0, first_search_s=0.0)
    with PtyPair() as first, PtyPair() as second:
        one = _runtime(first.path)
        two = _runtime(second.path)
        with capture_logs() as logs:
            with reading_port(first.path, _named(bin_dir, "minicom")):
                assert one.try_open()
                _searches(scan, one.shared_port, two.shared_port)
                assert one.snapshot().port_shared
            now[0] += 10.0
            assert two.try_open()
            _searches(scan, one.shared_port, two.shared_port)
            assert walks.call_count == 2
            shared = (one.snapshot().port_shared, two.snapshot().port_shared)
            now[0] += 60.0
            _searches(scan, one.shared_port, two.shared_port)
        one.stop()
        two.stop()
    assert shared == (False, False)
    assert walks.call_count == 2
    [cleared] = [e for e in logs if e["event"] == "port no longer shared"]
    assert cleared["port"] == first.path


def test_a_modbus_bus_port_no_longer_shared_clears_each_device(
    pty_pair: PtyPair, bin_dir: Path
) -> None:
    """A bus's port found shared is searched again as a sensor's is: once its other process is
    gone, every device of the bus loses the hint and the flag."""
    text = "".join(
        f'[[sensors]]\nname = "{name}"\nport = "{pty_pair.path}"\nformat = "modbus"\n'
        f'simulate = "never"\nmodbus = {{ unit = {unit} }}\n'
        'registers = [{ name = "v", table = "holding", address = 0 }]\n'
        '[[sensors.channels]]\nname = "v"\n'
        for name, unit in (("meter1", 1), ("meter2", 2))
    )
    configs = parse_config(text).sensors
    bus = Bus("bus:" + pty_pair.path, configs[0])
    devices = [SensorRuntime(c) for c in configs]
    for device in devices:
        bus.add(device)
    scan = SharedPortScan(recheck_s=0.0, first_search_s=0.0)
    with capture_logs() as logs:
        with reading_port(pty_pair.path, _named(bin_dir, "agetty")):
            assert bus.try_open()
            _search_bus(scan, bus)
            before = [d.snapshot().port_shared for d in devices]
        _search_bus(scan, bus)
        after = [(d.snapshot().port_shared, d.snapshot().hint) for d in devices]
    bus.stop()
    assert before == [True, True]
    assert after == [(False, None), (False, None)]
    [cleared] = [e for e in logs if e["event"] == "port no longer shared"]
    assert cleared["bus"] == pty_pair.path


def test_the_stale_lines_of_a_port_read_by_another_process_name_it_first(
    pty_pair: PtyPair, bin_dir: Path
) -> None:
    """A getty that reads the port takes the device's bytes: the sensor goes stale with "no
    bytes came: check the wiring". The stale line and the hourly ``sensor state unchanged``
    line, which a journal read hours into the fault shows, give the holder first, as
    ``/status`` does; they gave the wiring's hint alone, the one warning of the open long
    gone by then."""
    scan = SharedPortScan(first_search_s=0.0)
    runtime = _runtime(pty_pair.path)
    with reading_port(pty_pair.path, _named(bin_dir, "agetty")), capture_logs() as logs:
        assert runtime.try_open()
        _search(scan, runtime)
        runtime.tick(time.monotonic() + 2.0)  # stale_after_s = 1
        assert runtime.state == "stale"
        runtime.remind(time.monotonic() + 3602.0)
        status = runtime.snapshot().hint
    runtime.stop()
    [warning] = [e for e in logs if e["event"] == "port shared with another process"]
    [stale] = [e for e in logs if e["event"] == "sensor state" and e["state"] == "stale"]
    [unchanged] = [e for e in logs if e["event"] == "sensor state unchanged"]
    wiring = "no bytes came: check the wiring"
    assert stale["hint"].startswith(f"{warning['error']}; {wiring}"), stale
    assert unchanged["hint"].startswith(f"{warning['error']}; {wiring}"), unchanged
    assert status == unchanged["hint"]


def test_a_search_that_fails_at_every_open_is_logged_once_a_minute(
    pty_pair: PtyPair, mocker: MockerFixture
) -> None:
    """A search that fails (a bug) fails alike at each open of a port opened again and again
    (an adapter that drops off every few seconds): its traceback is logged at most once a
    minute, the next with the failures held back (``suppressed``), as the other failures of
    the daemon's own code are, not once per open for as long as the port flaps."""
    mocker.patch.object(HolderScan, "step", side_effect=RuntimeError("unreadable /proc"))
    now = [1000.0]
    scan = SharedPortScan(clock=lambda: now[0], first_search_s=0.0)
    runtime = _runtime(pty_pair.path)
    with capture_logs() as logs:
        for at in (1000.0, 1010.0, 1020.0, 1070.0):
            now[0] = at
            assert runtime.try_open()
            runtime.tick(time.monotonic() + 2.0)  # stale: trouble, so searched in every open
            scan.step([runtime.shared_port])
            assert not scan.running
            runtime.disconnect("hung up")
            runtime.retry.next_at = 0.0
    runtime.stop()
    failed = [e for e in logs if e["event"] == "search for other processes on the ports failed"]
    assert [(e["log_level"], e["suppressed"]) for e in failed] == [("error", 0), ("error", 2)]
    assert failed[0]["ports"] == [os.path.realpath(pty_pair.path)]
    assert failed[0]["hint"] == (
        "a bug: the ports are read as before, not searched again until they are opened again; "
        "report it with this traceback"
    )
