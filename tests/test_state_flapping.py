"""A USB adapter that drops off and comes back every few seconds, for days, must not write
two or three lines a flap into the journal (tens of thousands a day, past journald's rate
limit, which then drops the lines that matter too). Its state changes are logged until they
come faster than ``StateChanges.burst`` in ten minutes; then one warning says the sensor flaps and
why that may be, one state line a minute (with ``suppressed=N``) shows it still does, and
the state it keeps once it stops flapping is logged. Real ptys behind a by-id style link;
the clock is a number the test advances."""

from __future__ import annotations

import random
import socket
import threading
import time
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

import pytest
from harness.daemon import StartDaemon
from harness.pty import PtyPair, SymlinkedPty, held_by_subprocess
from structlog.testing import capture_logs

from sensord.bus import Bus
from sensord.config import parse_config
from sensord.config_sensor import SensorConfig
from sensord.connection import ENDED_IDLE_HINT, STALE_REOPEN_REFUSED_S
from sensord.errors import SourceBrokenError, SourceError
from sensord.flapping import (
    FLAPPING_CONNECTION_HINT,
    FLAPPING_FRAMES_HINT,
    FLAPPING_PORT_HINT,
    FLAPPING_SILENT_CONNECTION_HINT,
)
from sensord.log import StateChanges
from sensord.reopen import OpenFailures
from sensord.sensor import SensorRuntime
from sensord.sources import serial_refusals
from sensord.sources.base import Source


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


# -- StateChanges --------------------------------------------------------------------------------


def test_changes_pass_until_the_burst_then_one_a_window_with_the_count_held() -> None:
    clock = Clock()
    changes = StateChanges(burst=3, window_s=60.0, clock=clock)
    passed = []
    for _ in range(3 + 30):  # one every 5 s for 165 s
        passed.append(changes.change())
        clock.now += 5.0
    assert passed[:3] == [0, 0, 0]
    assert passed[3] is None  # the fourth within the minute: flapping
    assert changes.flapping
    let_through = [(i, n) for i, n in enumerate(passed[4:], start=4) if n is not None]
    # one a minute after the flapping began (at 15 s): at 75 s and 135 s
    assert let_through == [(15, 12), (27, 11)]  # the 4th to 15th, then the 17th to 27th


def test_a_window_without_a_change_ends_the_flapping_with_the_count_held() -> None:
    clock = Clock()
    changes = StateChanges(burst=2, window_s=60.0, clock=clock)
    for _ in range(5):
        changes.change()
        clock.now += 1.0
    assert changes.flapping
    assert changes.settled() is None  # 1 s since the last change
    clock.now += 59.0
    assert changes.settled() == 3
    assert not changes.flapping
    assert changes.settled() is None
    assert changes.change() == 0  # logged again


def test_changes_slower_than_the_burst_never_flap() -> None:
    clock = Clock()
    changes = StateChanges(burst=10, window_s=60.0, clock=clock)
    for _ in range(1000):  # ten in ten minutes at most
        assert changes.change() == 0
        clock.now += 65.0
    assert not changes.flapping


def test_changes_a_few_a_minute_flap_once_ten_minutes_hold_more_than_the_burst() -> None:
    """A USB adapter that drops off every few seconds is reopened at its backoff (a random
    delay of up to 30 s): its changes come a few a minute, never more than ten in one, and
    still flap: the burst is counted over ten minutes."""
    clock = Clock()
    changes = StateChanges(burst=10, window_s=60.0, clock=clock)
    passed = []
    for _ in range(40):  # one every 20 s: three a minute
        passed.append(changes.change())
        clock.now += 20.0
    assert passed[:10] == [0] * 10
    assert passed[10] is None  # the eleventh within ten minutes
    assert changes.flapping
    # then one a minute (each third change) with those held back before it: the first also
    # the eleventh, which began the flapping
    assert [n for n in passed[11:] if n is not None] == [3] + [2] * 8


# -- a sensor on a flapping adapter --------------------------------------------------------------


def deliver(runtime: SensorRuntime, linked: SymlinkedPty) -> None:
    """The device sends a reading, which the sensor reads from its port."""
    linked.pty.write(b"21.5\n")
    source = runtime.source
    assert source is not None
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        chunk = source.read()
        if chunk:
            runtime.feed(chunk)
            return
        time.sleep(0.001)
    raise AssertionError("the reading did not come through the pty")


def flap(runtime: SensorRuntime, linked: SymlinkedPty, clock: Clock, up_s: float) -> None:
    """The device is up for ``up_s`` (a reading, and the housekeeping tick each second), then
    drops off the bus (the reader reads end of file) and comes back 0.2 s later, and the
    sensor opens it again when its backoff allows."""
    end = clock.now + up_s
    while clock.now < end:
        deliver(runtime, linked)
        runtime.tick(clock.now)
        clock.now += 1.0
    runtime.disconnect(f"sensor 's': {linked.link} hung up (end of file)")
    linked.unplug(remove_link=True)
    clock.now = max(clock.now + 0.2, runtime.retry.next_at)
    assert not runtime.try_open()  # gone
    linked.replug()
    while not runtime.try_open():
        clock.now = max(clock.now + 0.01, runtime.retry.next_at)


def state_lines(logs: list[MutableMapping[str, Any]]) -> list[MutableMapping[str, Any]]:
    return [e for e in logs if e["event"] == "sensor state"]


def value_sensor(link: Path, extra: str = "") -> SensorConfig:
    """A value sensor on the device ``link``, never simulated, reopened from 0.1 s to 2 s."""
    return parse_config(
        f'[[sensors]]\nname = "s"\nport = "{link}"\nformat = "value"\nsimulate = "never"\n'
        f"{extra}reconnect = {{ initial_delay_s = 0.1, max_delay_s = 2 }}\n"
        '[[sensors.channels]]\nname = "v"\n'
    ).sensors[0]


def test_a_flapping_adapter_logs_a_warning_then_its_state_once_a_minute(tmp_path: Path) -> None:
    link = tmp_path / "usb-FTDI_FT232R_A50285BI-if00-port0"
    config = value_sensor(link, "warmup_s = 1\n")
    clock = Clock()
    linked = SymlinkedPty(link)
    try:
        runtime = SensorRuntime(config, clock=clock, wall_clock=clock, rng=random.Random(7))
        assert runtime.try_open()
        rng = random.Random(3)
        with capture_logs() as logs:
            start = clock.now
            while clock.now - start < 3600:  # an hour of it, a flap every 2 to 5 s
                flap(runtime, linked, clock, rng.choice((2.0, 3.0, 4.0, 5.0)))
        flaps = runtime.reconnects
        assert flaps > 700
        states = state_lines(logs)
        # the first ten changes, then one a minute: the hour's lines, not two per flap
        assert len(states) <= 10 + 61, len(states)
        assert len(states) >= 10 + 55, len(states)  # and still there, every minute
        [warning] = [e for e in logs if e["event"].startswith("sensor state keeps changing")]
        assert warning["log_level"] == "warning"
        assert warning["hint"] == FLAPPING_PORT_HINT
        assert "suppressed" not in states[0]
        later = states[10:]
        assert all(e["suppressed"] > 0 for e in later)
        # every change is either logged or counted as held back
        assert len(states) + sum(e.get("suppressed", 0) for e in states) >= 2 * flaps
        assert all(e["log_level"] == "info" for e in logs if e["event"] == "open failed")
        assert len([e for e in logs if e["event"] == "open failed"]) <= 10
        # the device was unplugged, so it warms up at each open: not logged while it flaps
        warm = [e for e in logs if e["event"].startswith(("warming up", "warmed up"))]
        assert 0 < len(warm) <= 12, len(warm)

        # it stops flapping: the state it keeps is logged a minute later, with what was held
        with capture_logs() as logs:
            for _ in range(70):
                deliver(runtime, linked)
                runtime.tick(clock.now)
                clock.now += 1.0
        [steady] = [e for e in logs if e["event"] == "sensor state steady again"]
        assert steady["state"] == "up"
        assert steady["log_level"] == "info"
        # and a change after that is logged at once again
        with capture_logs() as logs:
            runtime.disconnect("hung up")
        assert [e["state"] for e in state_lines(logs)] == ["down"]
        runtime.stop()
    finally:
        linked.close()


def test_a_flapping_port_held_by_another_process_at_its_replug_is_logged_once(
    tmp_path: Path,
) -> None:
    """An adapter that flaps, then comes back held by another process (another sensord, a
    program probing new ttys): the sensor stays down, and the error that keeps it down is one
    its flapping has not shown, so its ``open failed`` line comes at once, naming the holder,
    not a minute later with the next state line or never (the holder gone within the
    minute); its repeats are held back with the changes."""
    link = tmp_path / "usb-FTDI_FT232R_A50285BI-if00-port0"
    clock = Clock()
    linked = SymlinkedPty(link)
    try:
        runtime = SensorRuntime(
            value_sensor(link), clock=clock, wall_clock=clock, rng=random.Random(7)
        )
        assert runtime.try_open()
        for _ in range(8):
            flap(runtime, linked, clock, 2.0)
        assert runtime._changes.flapping
        with capture_logs() as logs:
            runtime.disconnect(f"sensor 's': {link} hung up (end of file)")
            linked.unplug(remove_link=True)
            clock.now = max(clock.now + 0.2, runtime.retry.next_at)
            assert not runtime.try_open()  # gone: an error the flapping showed already
            linked.replug()
            with held_by_subprocess(linked.pty.path, flock=True) as holder:
                for _ in range(3):
                    clock.now = max(clock.now + 0.01, runtime.retry.next_at)
                    assert not runtime.try_open()
            assert runtime.state == "down"
        failed = [e for e in logs if e["event"] == "open failed"]
        assert len(failed) == 1, failed
        assert "held by another process" in failed[0]["error"]
        assert f"pid {holder.pid} (" in failed[0]["error"]
        assert state_lines(logs) == []  # the changes still held back, once a minute
        clock.now = max(clock.now + 0.01, runtime.retry.next_at)
        assert runtime.try_open()
        runtime.stop()
    finally:
        linked.close()


def test_an_error_a_flapping_showed_is_news_again_in_the_next_flapping() -> None:
    failures = OpenFailures(Clock())
    held = SourceError("s", "/dev/ttyUSB0 is held by another process or another sensor")
    gone = SourceError("s", "/dev/ttyUSB0 does not exist")
    assert failures.news_while_flapping(held)
    assert not failures.news_while_flapping(held)
    assert failures.news_while_flapping(gone)
    failures.flapping_over()
    assert failures.news_while_flapping(held)


def test_an_unplug_now_and_then_is_logged_change_by_change(tmp_path: Path) -> None:
    link = tmp_path / "ttySENSOR"
    config = value_sensor(link)
    clock = Clock()
    linked = SymlinkedPty(link)
    try:
        runtime = SensorRuntime(config, clock=clock, wall_clock=clock, rng=random.Random(7))
        assert runtime.try_open()
        with capture_logs() as logs:
            for _ in range(5):  # one every 130 s: ten changes in ten minutes at most
                flap(runtime, linked, clock, 130.0)
        states = state_lines(logs)
        assert [e["state"] for e in states] == ["down", "up"] * 5
        assert not any("suppressed" in e for e in states)
        runtime.stop()
    finally:
        linked.close()


def read_to_the_end(source: Source) -> SourceBrokenError:
    """The error with which reading ``source`` fails once its connection has ended."""
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline:
        try:
            source.read()
        except SourceBrokenError as exc:
            return exc
        time.sleep(0.001)
    raise AssertionError("the end of the connection was not read")


def flapping(logs: list[MutableMapping[str, Any]]) -> list[MutableMapping[str, Any]]:
    return [e for e in logs if e["event"].startswith("sensor state keeps changing")]


def network_sensor(url: str, stale_after_s: float = 5.0) -> SensorConfig:
    """A value sensor on the serial server at ``url`` (stale after 5 s unless told),
    reopened from 0.1 s to 2 s."""
    return parse_config(
        f'[[sensors]]\nname = "s"\nport = "{url}"\nformat = "value"\n'
        f"stale_after_s = {stale_after_s:g}\n"
        "reconnect = { initial_delay_s = 0.1, max_delay_s = 2 }\n"
        '[[sensors.channels]]\nname = "v"\n'
    ).sensors[0]


@pytest.fixture
def no_refusal_wait(monkeypatch: pytest.MonkeyPatch) -> None:
    """A ``socket://`` open waits no time for a serial server's refusal: the server is the
    test's listener, which accepts a connection only once its open returned and says nothing
    on it, so no refusal can come within that wait (50 ms at each open, idle time)."""
    monkeypatch.setattr(serial_refusals, "REFUSAL_WAIT_S", (0.0, 0.0))


def network_runtime(
    server: socket.socket, stale_after_s: float = 5.0
) -> tuple[SensorRuntime, Clock]:
    """The runtime of :func:`network_sensor` at ``server``'s loopback port, on a clock the
    test advances (returned with it)."""
    clock = Clock()
    url = f"socket://127.0.0.1:{server.getsockname()[1]}"
    runtime = SensorRuntime(
        network_sensor(url, stale_after_s), clock=clock, wall_clock=clock, rng=random.Random(7)
    )
    return runtime, clock


def idle_closed_connection(
    runtime: SensorRuntime, listener: socket.socket, clock: Clock
) -> list[str]:
    """One connection of a server with an inactivity timeout of 4 s, in front of a device
    that sends nothing: opened, 1 s on, ended by the server 3 s later; the sensor's states at
    each of those, and the clock moved on to the reopen."""
    states: list[str] = []
    assert runtime.try_open()
    connection, _ = listener.accept()
    states.append(runtime.state)
    clock.now += 1.0
    runtime.tick(clock.now)
    states.append(runtime.state)
    clock.now += 3.0  # the server's inactivity timeout ends the connection
    runtime.tick(clock.now)
    connection.close()
    connection_ended(runtime)
    states.append(runtime.state)
    clock.now = max(clock.now + 0.2, runtime.retry.next_at)
    return states


def connection_ended(runtime: SensorRuntime) -> None:
    """The server has ended the sensor's connection: the sensor reads its end."""
    source = runtime.source
    assert source is not None
    runtime.disconnect(str(read_to_the_end(source)))


def send_frame(runtime: SensorRuntime, connection: socket.socket) -> None:
    """The device behind the server sends one frame; the sensor reads it."""
    source = runtime.source
    assert source is not None
    frames = runtime.snapshot().frames
    connection.sendall(b"21.5\n")
    deadline = time.monotonic() + 2.0
    while runtime.snapshot().frames == frames:
        assert time.monotonic() < deadline, "the frame was not read"
        runtime.feed(source.read())
        time.sleep(0.001)


def test_a_dead_device_behind_a_server_that_ends_idle_connections_stays_stale() -> None:
    """A serial server with an inactivity timeout (a Moxa NPort's: 10 s here) in front of a
    device that sends nothing ends each connection 10 s after it opened. The sensor is up at
    the first open (no frame expected yet), stale after stale_after_s, and stays stale across
    every end and reopen after that, never up nor down again: a dead device reads as one,
    for as long as it lasts (the stale alert's ``for: 5m`` holds across the reconnects). Its
    hint names the server's timeout and the silent device; the reconnects are counted, the
    first logged as a warning, the 2nd and 4th at info; the state does not flap. A real
    server on loopback; the clock is a number the test advances."""
    listener = socket.create_server(("127.0.0.1", 0))
    runtime, clock = network_runtime(listener)
    states: list[str] = []
    try:
        with capture_logs() as logs:
            assert runtime.try_open()
            connection, _ = listener.accept()
            states.append(runtime.state)
            for _ in range(6):
                clock.now += 6.0  # nothing came: stale
                runtime.tick(clock.now)
                states.append(runtime.state)
                clock.now += 4.0  # the server's inactivity timeout ends the connection
                connection.close()
                connection_ended(runtime)
                states.append(runtime.state)
                clock.now = max(clock.now + 0.2, runtime.retry.next_at)
                assert runtime.try_open()
                connection, _ = listener.accept()
                states.append(runtime.state)
            snapshot = runtime.snapshot()
        connection.close()
        runtime.stop()
    finally:
        listener.close()
    assert states == ["up"] + ["stale"] * 18, states
    assert snapshot.state == "stale"
    assert snapshot.state_age_s > 50.0  # stale since the first connection, 6 s after it opened
    assert snapshot.hint == ENDED_IDLE_HINT
    assert (snapshot.frames, snapshot.reconnects, snapshot.silent_reconnects) == (0, 6, 0)
    assert snapshot.last_error is not None
    assert "hung up" in snapshot.last_error
    assert [e["state"] for e in state_lines(logs)] == ["up", "stale"]
    assert not flapping(logs)
    ended = [e for e in logs if e["event"].startswith("connection ended")]
    assert [(e["log_level"], e.get("attempt")) for e in ended] == [
        ("warning", None),
        ("info", 2),
        ("info", 4),
    ], ended
    assert ended[0]["hint"] == ENDED_IDLE_HINT


def test_a_dead_device_behind_a_server_quicker_than_its_stale_time_is_stale_from_then_on() -> None:
    """A serial server whose inactivity timeout (4 s) is shorter than stale_after_s (5 s) in
    front of a device that sends nothing ends each connection before that connection is
    stale_after_s old. The staleness goes on across the connections that bring nothing: up
    at the first open and across its end and reopen (4 s since the first open), stale 5 s
    after the first open, and stale from then on, at every end and reopen, with the hint
    that names the server's timeout; the state does not flap. A real server on loopback; the
    clock is a number the test advances."""
    listener = socket.create_server(("127.0.0.1", 0))
    runtime, clock = network_runtime(listener)
    states: list[str] = []
    try:
        with capture_logs() as logs:
            for _ in range(8):
                states += idle_closed_connection(runtime, listener, clock)
            snapshot = runtime.snapshot()
        runtime.stop()
    finally:
        listener.close()
    assert states[:5] == ["up", "up", "up", "up", "stale"], states
    assert set(states[4:]) == {"stale"}, states
    assert [e["state"] for e in state_lines(logs)] == ["up", "stale"]
    assert not flapping(logs)
    assert snapshot.state == "stale"
    assert snapshot.hint == ENDED_IDLE_HINT
    assert (snapshot.frames, snapshot.reconnects) == (0, 7)


@pytest.mark.usefixtures("no_refusal_wait")
def test_a_server_quicker_than_a_long_stale_time_leaves_the_sensor_up_until_it_passes() -> None:
    """A serial server whose inactivity timeout (4 s) is much shorter than stale_after_s
    (600 s) ends each connection before the sensor goes stale: each is opened again at once,
    and the sensor is up across them all (its staleness counts on from the first open), not
    down at each end nor flapping. A real server on loopback; the clock is a number the test
    advances."""
    listener = socket.create_server(("127.0.0.1", 0))
    runtime, clock = network_runtime(listener, stale_after_s=600.0)
    states: list[str] = []
    try:
        with capture_logs() as logs:
            for _ in range(20):
                assert runtime.try_open()
                connection, _ = listener.accept()
                states.append(runtime.state)
                clock.now += 4.0  # the server's inactivity timeout ends the connection
                runtime.tick(clock.now)
                connection.close()
                connection_ended(runtime)
                states.append(runtime.state)
                clock.now = max(clock.now, runtime.retry.next_at)
            snapshot = runtime.snapshot()
        runtime.stop()
    finally:
        listener.close()
    assert set(states) == {"up"}, states
    assert [e["state"] for e in state_lines(logs)] == ["up"]
    assert not flapping(logs)
    assert (snapshot.frames, snapshot.reconnects) == (0, 19)


def test_a_server_that_refuses_each_reopen_after_its_close_flaps_with_its_connection() -> None:
    """A serial server that ends each connection after 4 s and refuses the reopen that comes
    at once (it resets its serial port), in front of a sensor with stale_after_s 600: down at
    each refused reopen, up at the next, again and again. The warning that it flaps names the
    silent device as well as the server when no frame came; a device whose frames come
    between the breaks gets the connection's hint. A real server on loopback; the clock is a
    number the test advances."""
    hints: list[str] = []
    for frame in (False, True):
        listener = socket.create_server(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        runtime, clock = network_runtime(listener, stale_after_s=600.0)
        states: list[str] = []
        try:
            with capture_logs() as logs:
                while not flapping(logs):
                    assert len(states) < 30, states
                    assert runtime.try_open()
                    connection, _ = listener.accept()
                    states.append(runtime.state)
                    clock.now += 1.0
                    if frame:
                        send_frame(runtime, connection)
                    clock.now += 3.0  # the server ends the connection
                    runtime.tick(clock.now)
                    listener.close()  # and refuses the reopen
                    connection.close()
                    connection_ended(runtime)
                    clock.now = max(clock.now, runtime.retry.next_at)
                    assert not runtime.try_open()
                    states.append(runtime.state)
                    listener = socket.create_server(("127.0.0.1", port))
                    clock.now = max(clock.now + 0.2, runtime.retry.next_at)
            runtime.stop()
        finally:
            listener.close()
        assert set(states) == {"up", "down"}, states
        [warning] = flapping(logs)
        hints.append(warning["hint"])
    assert hints == [FLAPPING_SILENT_CONNECTION_HINT, FLAPPING_CONNECTION_HINT], hints


def test_a_connection_that_brought_a_frame_is_not_said_to_have_brought_no_byte() -> None:
    """A device that sends every 10 s, stale_after_s 5, behind a serial server that ends each
    connection idle for 7 s: stale 5 s after a frame, the connection ended 2 s later, opened
    again with the sensor still stale, up at the next frame. Its end is logged and its hint
    kept without the idle hint's 'which brought no byte ... the device behind it sends
    nothing': a frame came on that connection."""
    listener = socket.create_server(("127.0.0.1", 0))
    runtime, clock = network_runtime(listener)
    states: list[str] = []
    hints: list[str | None] = []
    try:
        with capture_logs() as logs:
            assert runtime.try_open()
            connection, _ = listener.accept()
            for _ in range(2):
                clock.now += 1.0  # the device's frame, a second after the open
                send_frame(runtime, connection)
                states.append(runtime.state)
                clock.now += 6.0  # no frame for 6 s: stale
                runtime.tick(clock.now)
                states.append(runtime.state)
                clock.now += 1.0  # the server's inactivity timeout ends the connection
                connection.close()
                connection_ended(runtime)
                states.append(runtime.state)
                hints.append(runtime.snapshot().hint)
                clock.now = max(clock.now + 0.2, runtime.retry.next_at)
                assert runtime.try_open()
                connection, _ = listener.accept()
                states.append(runtime.state)
            connection.close()
        runtime.stop()
    finally:
        listener.close()
    assert states == ["up", "stale", "stale", "stale"] * 2, states
    assert hints[0] is not None
    assert ENDED_IDLE_HINT not in hints, hints
    ended = [e for e in logs if e["event"].startswith("connection ended")]
    assert [e.get("hint") for e in ended] == hints[:1], ended  # the 2nd within the minute


def test_a_network_sensor_is_down_when_its_connection_ends_with_frames_or_its_server_stays_away() -> (
    None
):
    """A reopen keeps a sensor stale only when it was, or when no frame came since the first
    connection that brought none: one whose frames came when the server ended the connection
    (a restart, another client taking a single-client server) is up until the reopen fails,
    down while its server is away (an hour here), and up at the reopen until stale_after_s
    passes, as any
    port just opened; a stale one whose reopen fails for longer than STALE_REOPEN_REFUSED_S
    (the server gone) is down, and up at the open after that: the server was away, and the
    device behind it is counted afresh, as after any outage."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    runtime, clock = network_runtime(listener)
    states: list[str] = []
    try:
        assert runtime.try_open()
        connection, _ = listener.accept()
        clock.now += 4.0  # past stale_after_s counted from the open at the next tick
        send_frame(runtime, connection)
        clock.now += 2.0
        runtime.tick(clock.now)
        states.append(runtime.state)  # a frame 2 s ago (6 s after the open): up
        listener.close()  # the server goes away for an hour
        connection.close()
        connection_ended(runtime)
        states.append(runtime.state)
        clock.now += 3600.0
        assert not runtime.try_open()
        states.append(runtime.state)
        listener = socket.create_server(("127.0.0.1", port))  # and comes back
        clock.now = max(clock.now + 0.2, runtime.retry.next_at)
        assert runtime.try_open()
        connection, _ = listener.accept()
        states.append(runtime.state)  # its last frame an hour old, on the connection before
        clock.now += 6.0
        runtime.tick(clock.now)
        states.append(runtime.state)  # no frame on this connection: stale
        listener.close()  # the server goes away
        connection.close()
        connection_ended(runtime)
        states.append(runtime.state)
        clock.now = max(clock.now + 0.2, runtime.retry.next_at)
        assert not runtime.try_open()
        states.append(runtime.state)  # refused right after the end: still stale
        clock.now += STALE_REOPEN_REFUSED_S
        assert not runtime.try_open()
        states.append(runtime.state)  # still refused: down
        listener = socket.create_server(("127.0.0.1", port))  # and comes back
        clock.now = max(clock.now + 0.2, runtime.retry.next_at)
        assert runtime.try_open()
        connection, _ = listener.accept()
        states.append(runtime.state)
        clock.now += 1.0
        send_frame(runtime, connection)
        states.append(runtime.state)
        connection.close()
        runtime.stop()
    finally:
        listener.close()
    assert states == [
        "up",
        "up",
        "down",
        "up",
        "stale",
        "stale",
        "stale",
        "down",
        "up",
        "up",
    ], states


def test_a_device_back_after_its_server_was_away_is_up_at_the_reopen_and_warms_up_no_more() -> None:
    """A device that sends all along behind a serial server that restarts: the connection
    that brought its frames ends, the next one opens and breaks a second later before a frame
    (the server goes down again, the network to it drops), and the server refuses every
    reopen for an hour. The connection after that is the device's first since the server was
    away: up at the open, as after any outage, not stale with a hint that blames a silent
    device behind an inactivity timeout, and its first frame is published, not held back by
    a warm-up for a silence that was the server's (``warmup_after_silence`` of a streaming
    device; a polled one, an MH-Z19 behind a serial server, warms up again for its 3 minutes
    when it answers after a stale spell). A real server on loopback; the clock is a number
    the test advances."""
    for poll in ("", 'poll = { request = "R\\n", interval_s = 1 }\n'):
        listener = socket.create_server(("127.0.0.1", 0))
        port = listener.getsockname()[1]
        clock = Clock()
        config = parse_config(
            f'[[sensors]]\nname = "s"\nport = "socket://127.0.0.1:{port}"\nformat = "value"\n'
            f"stale_after_s = 5\nwarmup_s = 30\nwarmup_after_silence = true\n{poll}"
            "reconnect = { initial_delay_s = 0.1, max_delay_s = 2 }\n"
            '[[sensors.channels]]\nname = "v"\n'
        ).sensors[0]
        runtime = SensorRuntime(config, clock=clock, wall_clock=clock, rng=random.Random(7))
        states: list[str] = []
        try:
            with capture_logs() as logs:
                assert runtime.try_open()
                connection, _ = listener.accept()
                clock.now += 31.0  # warmed up (the first open's)
                send_frame(runtime, connection)
                runtime.tick(clock.now)
                states.append(runtime.state)
                connection.close()  # the server restarts
                connection_ended(runtime)
                clock.now = max(clock.now + 0.2, runtime.retry.next_at)
                assert runtime.try_open()
                connection, _ = listener.accept()
                states.append(runtime.state)
                clock.now += 1.0
                listener.close()  # and goes down again, before the device's next frame
                connection.close()
                connection_ended(runtime)
                states.append(runtime.state)
                clock.now += 3600.0
                assert not runtime.try_open()
                states.append(runtime.state)
                listener = socket.create_server(("127.0.0.1", port))  # back after an hour
                clock.now = max(clock.now + 0.2, runtime.retry.next_at)
                assert runtime.try_open()
                connection, _ = listener.accept()
                states.append(runtime.state)
                clock.now += 1.0
                runtime.tick(clock.now)  # a polled device is asked
                send_frame(runtime, connection)
                states.append(runtime.state)
                ignored = runtime.snapshot().ignored_frames
                warmup_left_s = runtime.snapshot().warmup_left_s
            connection.close()
            runtime.stop()
        finally:
            listener.close()
        assert states == ["up", "up", "up", "down", "up", "up"], (poll, states)
        assert [e["state"] for e in state_lines(logs)] == ["up", "down", "up"]
        assert (ignored, warmup_left_s) == (0, None), poll


@pytest.mark.usefixtures("no_refusal_wait")
def test_a_server_that_hangs_up_at_once_leaves_the_sensor_down_not_stale() -> None:
    """A server that accepts each connection and ends it at once, before any byte (a socat
    or ser2net that cannot open its serial port, one that serves a single client held by
    another, an ssh or docker forward whose far end is down), from the end of the connection
    that brought the device's last frame on, for a minute: each such connection is a refusal,
    not an idle connection of a silent device, so the sensor is down across them, not up
    for a moment at each open either (no state line, ``sensord_sensor_up`` or ``/status``
    says up until a connection has lasted 0.5 s or brought a frame), as when the server
    refuses the connection, and the hang-ups are logged as failed opens (not each one);
    never stale with the hint that blames a silent device behind an inactivity timeout
    (which would send the operator to the device, and fire the stale alert instead of the
    down alert). A real server on loopback; the clock is a number the test advances."""
    listener = socket.create_server(("127.0.0.1", 0))
    runtime, clock = network_runtime(listener)
    states: list[str] = []
    try:
        with capture_logs() as logs:
            assert runtime.try_open()
            connection, _ = listener.accept()
            clock.now += 1.0
            send_frame(runtime, connection)
            connection.close()  # the server restarts, and serves no more
            connection_ended(runtime)
            start = clock.now
            while clock.now < start + 60.0:
                clock.now = max(clock.now + 0.2, runtime.retry.next_at)
                assert runtime.try_open()
                connection, _ = listener.accept()
                states.append(runtime.state)
                connection.close()
                clock.now += 0.01
                runtime.tick(clock.now)
                connection_ended(runtime)
                states.append(runtime.state)
            snapshot = runtime.snapshot()
            clock.now = max(clock.now + 0.2, runtime.retry.next_at)
            assert runtime.try_open()  # the server serves again
            connection, _ = listener.accept()
            served = [runtime.state]
            clock.now += 0.5
            runtime.tick(clock.now)
            served.append(runtime.state)
            connection.close()
        runtime.stop()
    finally:
        listener.close()
    assert len(states) >= 10, states
    assert states[0] == "up", states  # the reopen after the end of the served connection
    assert set(states[1:]) == {"down"}, states
    assert served == ["down", "up"], served  # up once the connection lasted 0.5 s
    assert [e["state"] for e in state_lines(logs)] == ["up", "down", "up"]
    failed = [e for e in logs if e["event"] == "open failed"]
    assert 1 <= len(failed) < len(states) // 2, failed
    assert all("hung up" in e["error"] for e in failed), failed
    assert not [e for e in logs if e["event"].startswith("connection ended while stale")]
    assert snapshot.state == "down"
    assert snapshot.hint is None
    assert "hung up" in (snapshot.last_error or ""), snapshot.last_error


@pytest.mark.usefixtures("no_refusal_wait")
def test_a_connection_its_server_ends_idle_is_opened_again_at_once() -> None:
    """A device that sends every 6 s behind a serial server that ends each connection idle
    for 0.7 s and drops what the device sends while no connection is open (a Moxa NPort with
    a short inactivity time): each end of a connection the server served is no failure of
    the port, which is opened again at once with its backoff at the start, not after a
    backoff grown over the ends between two frames (up to max_delay_s, 2 s here), while
    which the device's frames would be lost. Every frame sent over a minute is read, and
    the staleness goes on across the connections that bring none: stale between two frames
    (stale_after_s 3 s), up at each. A server that hangs up at once (0.1 s after the
    open) still has the backoff grow. A real server on loopback; the clock is a number the
    test advances."""
    listener = socket.create_server(("127.0.0.1", 0))
    runtime, clock = network_runtime(listener, stale_after_s=3.0)
    sent = lost = 0
    reopen_in_s: list[float] = []
    failures: list[int] = []
    states: set[str] = set()
    try:
        assert runtime.try_open()
        connection, _ = listener.accept()
        idle_from = start = clock.now
        next_frame = start + 1.0
        while next_frame < start + 60.0:
            if next_frame < idle_from + 0.7:  # the device sends before the server's timeout
                clock.now = next_frame
                runtime.tick(clock.now)
                send_frame(runtime, connection)
                sent += 1
                idle_from = next_frame
                next_frame += 6.0
                continue
            clock.now = idle_from + 0.7  # the server's inactivity timeout ends the connection
            runtime.tick(clock.now)
            states.add(runtime.state)
            connection.close()
            connection_ended(runtime)
            reopen_in_s.append(runtime.retry.next_at - clock.now)
            failures.append(runtime.retry.failures)
            clock.now = max(clock.now, runtime.retry.next_at)
            while next_frame <= clock.now:  # sent while no connection is open: dropped
                sent += 1
                lost += 1
                next_frame += 6.0
            assert runtime.try_open()
            connection, _ = listener.accept()
            idle_from = clock.now
        frames = runtime.snapshot().frames
        clock.now += 0.7
        connection.close()
        connection_ended(runtime)  # idle for 0.7 s: opened again at once
        reopen_in_s.append(runtime.retry.next_at - clock.now)
        failures.append(runtime.retry.failures)
        hang_ups: list[int] = []
        for _ in range(4):  # and the server hangs up at once from now on
            clock.now = runtime.retry.next_at
            assert runtime.try_open()
            connection, _ = listener.accept()
            clock.now += 0.1
            connection.close()
            connection_ended(runtime)
            hang_ups.append(runtime.retry.failures)
        runtime.stop()
    finally:
        listener.close()
    assert (lost, frames, sent) == (0, 10, 10), (lost, frames, sent)
    assert len(reopen_in_s) > 40, reopen_in_s
    assert set(reopen_in_s) == {0.0}, reopen_in_s
    assert set(failures) == {0}, failures
    assert {"up", "stale"} <= states, states
    assert hang_ups == [1, 2, 3, 4], hang_ups


def test_a_stale_sensor_is_down_at_once_when_its_server_says_why_it_refuses_the_reopen() -> None:
    """ser2net ends the connection of a stale sensor (its device unplugged: it closes it) and
    answers the reopen with "Device open failure" before it closes that connection too: the
    server says its device is gone, which is no refusal for a moment after an idle close,
    so the sensor is down at that failed open, with the server's words as its error, not
    stale for STALE_REOPEN_REFUSED_S more with the hint that blames a silent device. A real
    server on loopback (a thread writes the refusal as it accepts); the clock is a number the
    test advances."""
    listener = socket.create_server(("127.0.0.1", 0))
    runtime, clock = network_runtime(listener)
    states: list[str] = []

    def refuse() -> None:
        refused, _ = listener.accept()
        refused.sendall(b"Device open failure: No such file or directory\r\n")
        refused.close()

    try:
        assert runtime.try_open()
        connection, _ = listener.accept()
        clock.now += 1.0
        send_frame(runtime, connection)
        clock.now += 6.0
        runtime.tick(clock.now)
        states.append(runtime.state)  # the device unplugged at the server: no frame
        connection.close()  # ser2net ends the connection
        connection_ended(runtime)
        states.append(runtime.state)
        clock.now = max(clock.now + 0.2, runtime.retry.next_at)
        server = threading.Thread(target=refuse)
        server.start()
        try:
            assert not runtime.try_open()
        finally:
            server.join(5)
        states.append(runtime.state)
        snapshot = runtime.snapshot()
        runtime.stop()
    finally:
        listener.close()
    assert states == ["stale", "stale", "down"], states
    assert "Device open failure" in (snapshot.last_error or ""), snapshot.last_error


def test_a_dead_device_stays_stale_when_its_server_refuses_the_reopen_after_its_idle_close() -> (
    None
):
    """A serial server with an inactivity timeout (10 s) that refuses new connections for
    1.5 s after it ended one, in front of a device that sends nothing: the reopens that come
    within that are refused (counted, and logged as failed opens), and the sensor stays
    stale across them and at the open that follows, never down nor up; its hint names the
    server's timeout. A real server on loopback that stops listening for the refusal; the
    clock is a number the test advances."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    runtime, clock = network_runtime(listener)
    states: list[str] = []
    try:
        with capture_logs() as logs:
            assert runtime.try_open()
            connection, _ = listener.accept()
            states.append(runtime.state)
            for _ in range(4):
                clock.now += 6.0  # nothing came: stale
                runtime.tick(clock.now)
                states.append(runtime.state)
                clock.now += 4.0  # the server's inactivity timeout ends the connection
                listener.close()  # and it refuses new ones for 1.5 s
                connection.close()
                connection_ended(runtime)
                states.append(runtime.state)
                ended_at = clock.now
                while clock.now < ended_at + 1.5:
                    clock.now = max(clock.now + 0.1, runtime.retry.next_at)
                    if clock.now < ended_at + 1.5:
                        assert not runtime.try_open()
                        states.append(runtime.state)
                listener = socket.create_server(("127.0.0.1", port))
                assert runtime.try_open()
                connection, _ = listener.accept()
                states.append(runtime.state)
            snapshot = runtime.snapshot()
        connection.close()
        runtime.stop()
    finally:
        listener.close()
    assert states[0] == "up"
    assert set(states[1:]) == {"stale"}, states
    assert [e["state"] for e in state_lines(logs)] == ["up", "stale"]
    assert snapshot.open_failures >= 4, snapshot.open_failures
    assert snapshot.hint == ENDED_IDLE_HINT
    assert (snapshot.frames, snapshot.reconnects) == (0, 4)


def test_an_adapter_that_drops_off_between_a_silent_devices_pauses_flaps_with_its_port(
    tmp_path: Path,
) -> None:
    """A USB adapter that drops off every 10 s in front of a device that sends nothing: the
    sensor goes up at each open, stale, then down, with no frame ever (a local port is down
    when it breaks, stale or not: the adapter is gone). The warning that it flaps blames the
    port whichever change it comes with (here going stale), never the device's pauses
    between frames: it sent none, and a longer stale_after_s would not help."""
    link = tmp_path / "usb-FTDI_FT232R_A50285BI-if00-port0"
    clock = Clock()
    linked = SymlinkedPty(link)
    changes: list[str] = []
    try:
        runtime = SensorRuntime(
            value_sensor(link, "stale_after_s = 5\n"),
            clock=clock,
            wall_clock=clock,
            rng=random.Random(7),
        )
        with capture_logs() as logs:
            while not flapping(logs):
                assert len(changes) < 30, changes
                assert runtime.try_open()
                changes.append(runtime.state)
                clock.now += 6.0  # nothing came: stale
                runtime.tick(clock.now)
                changes.append(runtime.state)
                if flapping(logs):
                    break
                clock.now += 4.0  # the adapter drops off
                runtime.disconnect(f"sensor 's': {link} hung up (end of file)")
                changes.append(runtime.state)
                linked.unplug(remove_link=True)
                linked.replug()
                clock.now = max(clock.now + 0.2, runtime.retry.next_at)
        runtime.stop()
    finally:
        linked.close()
    assert changes[:3] == ["up", "stale", "down"], changes
    assert changes[-1] == "stale", changes  # the change that made it flap
    [warning] = flapping(logs)
    assert warning["hint"] == FLAPPING_PORT_HINT
    assert runtime.snapshot().frames == 0


def test_a_port_lost_once_leaves_a_flapping_blamed_on_the_device_s_pauses() -> None:
    """A device that sends every 6 s with stale_after_s 5 behind a serial server that was not
    up yet when sensord first connected (a boot): down once, then up and stale again and
    again. The warning that it flaps names the device's pauses and stale_after_s, not the
    connection, which broke once and never since. A real server on loopback, listening from
    the second open on; the clock is a number the test advances."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    runtime, clock = network_runtime(server)
    changes: list[str] = []
    try:
        with capture_logs() as logs:
            assert not runtime.try_open()  # bound, not listening: refused
            changes.append(runtime.state)
            server.listen()
            clock.now = max(clock.now + 0.2, runtime.retry.next_at)
            assert runtime.try_open()
            connection, _ = server.accept()
            changes.append(runtime.state)
            source = runtime.source
            assert source is not None
            while not flapping(logs):
                assert len(changes) < 30, changes
                clock.now += 6.0  # no frame for 6 s: stale
                runtime.tick(clock.now)
                changes.append(runtime.state)
                if flapping(logs):
                    break
                connection.sendall(b"21.5\n")  # the frame that ends the pause
                frames = runtime.snapshot().frames
                deadline = time.monotonic() + 2.0
                while runtime.snapshot().frames == frames and time.monotonic() < deadline:
                    runtime.feed(source.read())
                    time.sleep(0.001)
                changes.append(runtime.state)
            connection.close()
        runtime.stop()
    finally:
        server.close()
    assert changes[:4] == ["down", "up", "stale", "up"], changes
    assert "down" not in changes[1:], changes
    [warning] = flapping(logs)
    assert warning["hint"] == FLAPPING_FRAMES_HINT.format(stale_after_s=5.0)


# -- a fault that lasts: logged again, not only at its start ----------------------------------

#: the daemon's reminder interval, an hour, shortened for the test
SHORT_REMINDER = "import sensord.sensor\nsensord.sensor.STILL_BAD_EVERY_S = 1.0"


def test_a_sensor_down_or_stale_for_long_is_logged_again(
    tmp_path: Path, start_daemon: StartDaemon, pty_pair: PtyPair
) -> None:
    """An adapter unplugged for good and a device gone silent show in the journal at each
    reminder interval (an hour; one second here), with the error or the stale hint, and a
    sensor that reads well never does."""
    absent = tmp_path / "ttyUSB-gone"
    good = PtyPair()
    try:
        config = (
            f'[[sensors]]\nname = "absent"\nport = "{absent}"\nformat = "value"\n'
            'simulate = "never"\n[[sensors.channels]]\nname = "v"\n'
            f'[[sensors]]\nname = "silent"\nport = "{pty_pair.path}"\nformat = "value"\n'
            'stale_after_s = 0.5\n[[sensors.channels]]\nname = "v"\n'
            f'[[sensors]]\nname = "good"\nport = "{good.path}"\nformat = "value"\n'
            'stale_after_s = 5\n[[sensors.channels]]\nname = "v"\n'
        )
        daemon = start_daemon(config=config, python_prelude=SHORT_REMINDER)
        daemon.wait_http()
        pty_pair.write(b"1.0\n")
        deadline = time.monotonic() + 15.0
        while time.monotonic() < deadline:
            good.write(b"2.0\n")
            told = [e["sensor"] for e in daemon.events("sensor state unchanged")]
            if min(told.count("absent"), told.count("silent")) >= 2:
                break
            time.sleep(0.2)
        assert daemon.stop() == 0
    finally:
        good.close()
    lines = daemon.events("sensor state unchanged")
    by_sensor = {name: [e for e in lines if e["sensor"] == name] for name in ("absent", "silent")}
    assert len(by_sensor["absent"]) >= 2, lines
    assert len(by_sensor["silent"]) >= 2, lines
    assert all(e["level"] == "warning" for e in lines)
    assert by_sensor["absent"][0]["state"] == "down"
    assert "does not exist" in by_sensor["absent"][0]["error"]
    assert by_sensor["silent"][0]["state"] == "stale"
    assert by_sensor["silent"][-1]["for_s"] > by_sensor["silent"][0]["for_s"] >= 1
    assert not [e for e in lines if e["sensor"] == "good"]


def test_a_flapping_rs485_adapter_logs_its_bus_and_devices_once_a_minute(tmp_path: Path) -> None:
    """The same for a Modbus bus's port: its ``bus lost`` and ``bus open`` lines and its
    devices' state lines."""
    link = tmp_path / "usb-FTDI_USB-RS485_Cable_FT0ABCDE-if00-port0"
    text = (
        f'[[sensors]]\nname = "meter"\nport = "{link}"\nformat = "modbus"\n'
        'simulate = "never"\nmodbus = { unit = 1 }\n'
        "reconnect = { initial_delay_s = 0.1, max_delay_s = 2 }\n"
        'registers = [{ name = "v", table = "holding", address = 0 }]\n'
        '[[sensors.channels]]\nname = "v"\n'
    )
    config = parse_config(text).sensors[0]
    clock = Clock()
    linked = SymlinkedPty(link)
    try:
        bus = Bus("bus:" + str(link), config, clock=clock, rng=random.Random(7))
        bus.add(SensorRuntime(config, clock=clock, wall_clock=clock))
        assert bus.try_open()
        with capture_logs() as logs:
            start = clock.now
            while clock.now - start < 3600:  # an hour of it, a flap every 3 to 5 s
                clock.now += 3.0
                bus.disconnect(f"{link} hung up (end of file)")
                linked.unplug(remove_link=True)
                clock.now = max(clock.now + 0.2, bus.retry.next_at)
                assert not bus.try_open()
                linked.replug()
                while not bus.try_open():
                    clock.now = max(clock.now + 0.01, bus.retry.next_at)
        bus_lines = [e for e in logs if e["event"] in ("bus lost", "bus open", "bus open failed")]
        # the first ten changes with their failed opens, then one line a minute
        assert len(bus_lines) <= 20 + 61, len(bus_lines)
        assert len(bus_lines) >= 55, len(bus_lines)
        assert all(e["suppressed"] > 0 for e in bus_lines[20:])
        states = state_lines(logs)
        assert len(states) <= 10 + 61, len(states)
        assert len(states) >= 10 + 55, len(states)
        # once it holds for a minute: the bus tells what it held back since its last line
        with capture_logs() as logs:
            clock.now += 61.0
            bus.tick(clock.now)
        (steady,) = [e for e in logs if e["event"] == "bus steady again"]
        assert steady["state"] == "up"
        assert steady["suppressed"] > 0
        bus.stop()
    finally:
        linked.close()


@pytest.mark.usefixtures("no_refusal_wait")
def test_an_up_sensor_stays_up_across_its_servers_idle_closes() -> None:
    """A device that sends every 6 s (stale_after_s 10) behind a serial server that ends each
    connection idle for 2 s (a Moxa NPort's inactivity time): the sensor is up at the first
    open and stays up across every end and reopen, never down for the moment between them:
    ``/status`` and the state lines say up throughout, the state does not flap, and the
    ends are counted as reconnects and logged once a minute at most at info, with a hint
    that names the server's inactivity timeout. A reopen the server refuses takes it down
    at once. A real server on loopback; the clock is a number the test advances."""
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    runtime, clock = network_runtime(listener, stale_after_s=10.0)
    states: list[str] = []
    try:
        with capture_logs() as logs:
            assert runtime.try_open()
            connection, _ = listener.accept()
            for _ in range(30):  # three minutes of it
                clock.now += 1.0
                send_frame(runtime, connection)
                clock.now += 2.0  # the server's inactivity timeout ends the connection
                runtime.tick(clock.now)
                connection.close()
                connection_ended(runtime)
                states.append(runtime.state)
                assert runtime.retry.next_at == clock.now  # opened again at once
                assert runtime.try_open()
                connection, _ = listener.accept()
                states.append(runtime.state)
                clock.now += 3.0  # the device's next frame is 6 s after the last
                runtime.tick(clock.now)
                states.append(runtime.state)
            snapshot = runtime.snapshot()
            clock.now += 2.0
            listener.close()  # the server ends the connection and refuses the reopen
            connection.close()
            connection_ended(runtime)
            states.append(runtime.state)
            clock.now = max(clock.now, runtime.retry.next_at)
            assert not runtime.try_open()
            states.append(runtime.state)
        runtime.stop()
    finally:
        listener.close()
    assert set(states[:-2]) == {"up"}, states
    assert states[-2:] == ["up", "down"], states
    assert snapshot.state == "up"
    assert snapshot.state_age_s > 170.0
    assert (snapshot.frames, snapshot.reconnects) == (30, 30)
    assert [e["state"] for e in state_lines(logs)] == ["up", "down"]
    assert not flapping(logs)
    ended = [e for e in logs if e["event"] == "connection ended; reconnecting"]
    assert [e["log_level"] for e in ended] == ["info"] * 3, ended  # once a minute
    assert "inactivity timeout" in ended[0]["hint"]
    assert f"127.0.0.1:{port}" in ended[0]["port"]


@pytest.mark.usefixtures("no_refusal_wait")
def test_a_dead_device_stays_stale_when_its_server_hangs_up_the_reopen_after_its_idle_close() -> (
    None
):
    """A serial server whose inactivity timeout (4 s) is shorter than stale_after_s (5 s) and
    that accepts the first reconnect after each close and ends it at once (rather than
    refusing it), in front of a device that sends nothing: such a hang-up within 10 s of the
    close is a refusal for a moment, as a refused reopen is, so the staleness goes on across
    it from the first open. The sensor is stale 5 s after the first open and stays stale
    across every close, hang-up and reopen, with the hint that names the server's timeout;
    never up again at the opens (which would keep it from going stale at all). A real server
    on loopback; the clock is a number the test advances."""
    listener = socket.create_server(("127.0.0.1", 0))
    runtime, clock = network_runtime(listener)
    states: list[str] = []
    try:
        with capture_logs() as logs:
            for _ in range(8):
                states += idle_closed_connection(runtime, listener, clock)
                assert runtime.try_open()  # accepted, and ended at once
                connection, _ = listener.accept()
                connection.close()
                clock.now += 0.05
                connection_ended(runtime)
                states.append(runtime.state)
                clock.now = max(clock.now + 0.2, runtime.retry.next_at)
            snapshot = runtime.snapshot()
        runtime.stop()
    finally:
        listener.close()
    assert states[:4] == ["up", "up", "up", "down"], states
    assert states[4] == "down", states  # opened after the hang-up: not proven yet
    assert set(states[5:]) == {"stale"}, states
    assert [e["state"] for e in state_lines(logs)] == ["up", "down", "stale"]
    assert snapshot.state == "stale"
    assert snapshot.hint == ENDED_IDLE_HINT
    assert snapshot.frames == 0


@pytest.mark.usefixtures("no_refusal_wait")
def test_a_server_that_hangs_up_just_after_half_a_second_is_reconnected_at_the_backoff() -> None:
    """A server that accepts each connection and ends it 0.6 s later, with nothing behind it
    (no frame ever): each connection is served (0.5 s or longer), but the first open's
    connections brought no frame for 3 times stale_after_s (15 s), and the connections end
    sooner than an inactivity timeout would (2 s): each is opened again at its backoff from
    then on, growing to max_delay_s (2 s here), not at once, twice a second for ever. A server
    that ends each connection 3 s after its open, with its device dead as long, is an
    inactivity timeout: opened again at once; and once a frame comes, the 0.6 s ends are
    opened again at once too (a device that sends between the ends of a server with a
    sub-second inactivity time). A real server on loopback; the clock is a number the test
    advances."""
    listener = socket.create_server(("127.0.0.1", 0))
    runtime, clock = network_runtime(listener)

    def connections(lasting_s: float, for_s: float) -> list[float]:
        """Connections the server ends ``lasting_s`` after it accepts them, for ``for_s``:
        the delay of the reopen after each."""
        delays: list[float] = []
        start = clock.now
        while clock.now < start + for_s:
            assert runtime.try_open()
            connection, _ = listener.accept()
            clock.now += lasting_s
            runtime.tick(clock.now)
            connection.close()
            connection_ended(runtime)
            delays.append(runtime.retry.next_at - clock.now)
            clock.now = max(clock.now, runtime.retry.next_at)
        return delays

    try:
        hung_up = connections(0.6, 120.0)
        timed_out = connections(3.0, 30.0)
        assert runtime.try_open()
        connection, _ = listener.accept()
        clock.now += 0.3
        send_frame(runtime, connection)
        clock.now += 0.3
        connection.close()
        connection_ended(runtime)
        framed = [runtime.retry.next_at - clock.now]
        framed += connections(0.6, 5.0)
        runtime.stop()
    finally:
        listener.close()
    at_once = [delay for delay in hung_up if delay == 0.0]
    assert 20 <= len(at_once) <= 26, hung_up  # the first 15 s
    assert hung_up[: len(at_once)] == at_once, hung_up
    assert len(hung_up) < 120, len(hung_up)  # at the backoff: 2 s at most, 1 s on average
    assert max(hung_up) <= 2.0, hung_up
    assert set(timed_out) == {0.0}, timed_out
    assert set(framed) == {0.0}, framed


def test_a_device_dead_after_its_last_frame_is_stale_stale_after_s_after_it_across_idle_closes() -> (
    None
):
    """A device behind a serial server whose inactivity timeout (4 s) is shorter than
    stale_after_s (5 s) sends a frame, then nothing (its power cut): the server ends the
    connection 4 s after that frame and the sensor, up, is kept up across the reopen, but its
    frames are as old as they were: it is stale 5 s after the last frame, as on a connection
    that stayed open, not 5 s after the reopen (9 s after the frame, with ``/status`` and
    ``sensord_sensor_up`` saying up meanwhile), and its stale hint says the connections since
    brought no byte. A real server on loopback; the clock is a number the test advances."""
    listener = socket.create_server(("127.0.0.1", 0))
    runtime, clock = network_runtime(listener)
    states: list[str] = []
    try:
        assert runtime.try_open()
        connection, _ = listener.accept()
        clock.now += 0.5
        send_frame(runtime, connection)
        framed_at = clock.now
        clock.now += 4.0  # the server's inactivity timeout ends the connection
        runtime.tick(clock.now)
        connection.close()
        connection_ended(runtime)
        states.append(runtime.state)
        assert runtime.try_open()
        connection, _ = listener.accept()
        states.append(runtime.state)
        clock.now = framed_at + 4.9
        runtime.tick(clock.now)
        states.append(runtime.state)
        clock.now = framed_at + 5.1
        runtime.tick(clock.now)
        states.append(runtime.state)
        snapshot = runtime.snapshot()
        connection.close()
        runtime.stop()
    finally:
        listener.close()
    assert states == ["up", "up", "up", "stale"], states
    assert snapshot.hint == ENDED_IDLE_HINT, snapshot.hint
