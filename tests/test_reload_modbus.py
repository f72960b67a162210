"""A reload while a Modbus exchange is in flight: the real daemon and a pymodbus serial server
joined by a relay of two ptys (an RTU line), or behind a Modbus TCP gateway on that line. The
device whose request is out when the SIGHUP comes answers after the reload applied; that
answer is the request's, of a device that left the bus, and is nobody's: no unasked frame
counted for the device that replaces it with its unit id, no warning of another master on the
line; also a long answer on a slow line that begins within its request's timeout and ends
after it. A bus the reload builds anew on the same serial line (new line settings, or every
device changed), at the port or behind a serial server (ser2net), sends nothing until that
answer would have timed out (RS-485 is half duplex), nor does a bus behind a Modbus TCP
gateway that still serves the left request after another one's late answer. Two devices a
reload changes at once, each with an answer on its way (one in flight, one late), leave both
answers to nobody, on an RTU line and behind a Modbus TCP gateway; a request that waits
behind a left one at the gateway is given its timeout once more, as behind any, and the start
of a left reply that comes in pieces is kept for its rest; a left reply is nobody's also
after many other requests were answered meanwhile (a gateway with several serial lines),
until the connection's transaction ids come round and its id is a new request's. A device
that a reload changes while its gateway has closed the bus's idle connection starts afresh
when the connection opens again, as a device the reload adds does. On RTU the device that
replaces one whose answer comes late is asked once the drain after that answer ends, as a
device is after its own late answer."""

from __future__ import annotations

import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from harness.common import wait_for
from harness.config import write_atomically
from harness.daemon import DaemonProcess, StartDaemon
from harness.host_lag import steadily
from harness.modbus import (
    ModbusServer,
    PtyRelay,
    TcpGateway,
    daemon_in_process,
    run_reader_until,
    waking,
)
from harness.ser2net import Ser2net
from harness.tcp_relay import TcpRelay
from structlog.testing import capture_logs

from sensord.bus import Bus
from sensord.bus_left import TRANSACTIONS_KEPT
from sensord.config import parse_config
from sensord.daemon import Daemon
from sensord.modbus_state import ModbusCounters
from sensord.reader import Reader

pytestmark = pytest.mark.slow

#: how much later than the server the slow device's answers reach sensord: well within its
#: timeout, long enough for the reload to apply while its request awaits them
SLOW_ANSWER_S = 0.25


def meter_toml(name: str, port: str, unit: int, *, line: str, address: int) -> str:
    return f"""
[[sensors]]
name = "{name}"
port = "{port}"
format = "modbus"
simulate = "never"
{line}
modbus = {{ unit = {unit}, interval_s = 0.5, timeout_s = 1.0 }}
registers = [{{ name = "v", ref = "4{address + 1:04d}", type = "uint16" }}]
channels = [{{ name = "v" }}]
"""


def bus_toml(port: str, *, line: str, slow_address: int) -> str:
    return meter_toml("fast", port, 1, line=line, address=0) + meter_toml(
        "slow", port, 2, line=line, address=slow_address
    )


RTU_LINE = "serial = { baudrate = 115200 }"


@pytest.mark.parametrize(
    ("transport", "line_after", "restarted"),
    [
        # the slow device reads another register: it leaves the bus and a new one joins
        ("rtu", RTU_LINE, ["slow"]),
        ("tcp", "", ["slow"]),
        # new line settings too: every device restarts, on a bus built anew on the port
        ("rtu", "serial = { baudrate = 57600 }", ["fast", "slow"]),
        # every device changed on an RTU line behind a serial server: a bus built anew on a
        # new connection to it, while the line still carries the answer
        ("socket", "reconnect = { max_delay_s = 20.0 }", ["fast", "slow"]),
    ],
    ids=["device-changed", "device-changed-tcp", "bus-rebuilt", "bus-rebuilt-serial-server"],
)
def test_an_answer_in_flight_at_a_reload_is_nobody_s(
    tmp_path: Path,
    start_daemon: StartDaemon,
    transport: str,
    line_after: str,
    restarted: list[str],
) -> None:
    reload_at_request = threading.Event()
    daemon: DaemonProcess | None = None
    #: when each request reached the devices, and when the reload was sent
    requested: list[float] = []
    reloaded_at: list[float] = []

    def on_request(request: bytes) -> bytes | None:
        requested.append(time.monotonic())
        # the slow device's request reaches it: the reload comes while it is in flight
        if request[0] == 2 and reload_at_request.is_set() and daemon is not None:
            reload_at_request.clear()
            reloaded_at.append(time.monotonic())
            daemon.signal(signal.SIGHUP)
        return None  # the server answers it

    def later(answer: bytes) -> float:
        return SLOW_ANSWER_S if answer[0] == 2 else 0.0

    with ExitStack() as stack:
        relay = stack.enter_context(PtyRelay(answer=on_request, delay_s=later))
        server = stack.enter_context(ModbusServer([1, 2], "serial", relay.far.path))
        port, line = relay.near.path, RTU_LINE
        if transport == "tcp":
            port, line = stack.enter_context(TcpGateway(relay.near.path, timeout_s=1.0)).url, ""
        if transport == "socket":
            port = stack.enter_context(Ser2net(relay.near.path, tmp_path, telnet=False)).url
            line = ""
        for unit in (1, 2):
            server.set(unit, "holding", 0, [unit * 10, unit * 10 + 1])
        config = tmp_path / "sensord.toml"
        write_atomically(config, bus_toml(port, line=line, slow_address=0))
        daemon = start_daemon(["--config", str(config)])
        daemon.wait_http()
        daemon.wait_up_settled(["fast", "slow"], timeout_s=10)
        write_atomically(config, bus_toml(port, line=line_after, slow_address=1))
        reload_at_request.set()
        wait_for(lambda: bool(daemon.events("configuration reloaded")), 10, "the reload")
        assert daemon.events("configuration reloaded")[0]["restarted"] == restarted

        def exchanges() -> int:
            return int(daemon.status()["sensors"]["slow"]["modbus"]["transactions"])

        wait_for(
            lambda: daemon.status()["sensors"]["slow"]["channels"]["v"]["value"] == 21,
            10,
            "the changed device's new register",
        )
        answered = exchanges()
        wait_for(lambda: exchanges() >= answered + 2, 10, "more exchanges after the reload")
        sensors = daemon.status()["sensors"]
        for name in ("fast", "slow"):
            errors = sensors[name]["modbus"]["errors"]
            assert errors["unasked"] == errors["unit"] == errors["late"] == 0, (name, errors)
            assert sensors[name]["modbus"]["timeouts"] == 0, name
        assert daemon.events("frame of the device's unit id nobody asked for") == []
        assert daemon.events("reply with a transaction id no request was sent with") == []
        # the line was left to the answer on it: no request went out before it came
        after = [at for at in requested if at > reloaded_at[0]]
        assert after[0] - reloaded_at[0] >= SLOW_ANSWER_S
        assert daemon.stop() == 0


def gateway_device_toml(name: str, url: str, unit: int, interval_s: float) -> str:
    return f"""
[[sensors]]
name = "{name}"
port = "{url}"
format = "modbus"
modbus = {{ unit = {unit}, interval_s = {interval_s}, timeout_s = 0.2 }}
registers = [{{ name = "v", table = "input", address = 0 }}]
channels = [{{ name = "v" }}]
"""


def test_a_device_changed_while_its_gateway_s_idle_connection_is_closed_comes_up() -> None:
    """Devices polled less often than their gateway's idle timeout find its connection
    closed between polls most of the time, and the bus opens it again for the next one.
    A reload that changes a device then replaces it with a new one of the same name, which
    starts afresh when the connection opens again: up, not left in ``opening`` while it is
    read."""
    with ModbusServer([1, 2], "tcp") as server, TcpRelay(server.port) as relay:
        server.set(2, "input", 0, [21])
        relay.idle_close_s = 0.3
        url = relay.url()
        config = parse_config(
            gateway_device_toml("one", url, 1, 5.0) + gateway_device_toml("two", url, 2, 5.0)
        )
        daemon = daemon_in_process(config)
        reader = daemon.reader
        try:
            run_reader_until(
                reader,
                lambda: reader.sensors["two"].state == "up" and relay.open_connections == 0,
                5.0,
            )
            new = parse_config(
                gateway_device_toml("one", url, 1, 5.0) + gateway_device_toml("two", url, 2, 0.5)
            )
            daemon.apply(new)
            two = reader.sensors["two"]
            assert two.modbus is not None
            modbus = two.modbus
            run_reader_until(reader, lambda: modbus.transactions >= 2, 5.0)
            assert two.state == "up"
            assert two.snapshot().up
            assert reader.sensors["one"].state == "up"
        finally:
            reader.close()


#: the line of the slow-line test: 9600 baud, and the relay's pace of a character there
SLOW_LINE = "serial = { baudrate = 9600 }"
SLOW_LINE_CHAR_S = 1 / 960
#: the registers the long device reads: its answer (205 bytes) takes 0.21 s on that line
LONG_REGISTERS = 100


def long_device_toml(name: str, port: str, unit: int, *, address: int) -> str:
    registers = ", ".join(
        f'{{ name = "r{i}", ref = "4{address + i + 1:04d}", type = "uint16" }}'
        for i in range(LONG_REGISTERS)
    )
    channels = ", ".join(f'{{ name = "r{i}" }}' for i in range(LONG_REGISTERS))
    return f"""
[[sensors]]
name = "{name}"
port = "{port}"
format = "modbus"
simulate = "never"
{SLOW_LINE}
modbus = {{ unit = {unit}, interval_s = 1.0, timeout_s = 0.3 }}
registers = [{registers}]
channels = [{channels}]
"""


def test_an_answer_begun_in_time_at_a_reload_and_ending_after_is_nobody_s() -> None:
    """A long answer on a slow line that begins within its request's timeout is read whole
    while its device is on the bus. When a reload changes that device while its request
    awaits that answer, the answer ends after the request would have timed out; it is still
    the one the device that left was owed, nobody's: not a frame of the unit id of the
    device that replaces it."""
    asked = threading.Event()
    reader_of: list[Reader] = []

    def on_request(request: bytes) -> bytes | None:
        if request[0] == 2 and reader_of:
            asked.set()
            reader_of[0].wake()  # the reload comes as the request reaches the device
        return None  # the server answers it

    def later(answer: bytes) -> float:
        return 0.2 if answer[0] == 2 else 0.0

    with (
        PtyRelay(answer=on_request, delay_s=later, char_s=SLOW_LINE_CHAR_S) as relay,
        ModbusServer([1, 2], "serial", relay.far.path) as server,
    ):
        server.set(1, "holding", 0, [10])
        server.set(2, "holding", 0, list(range(LONG_REGISTERS + 1)))
        port = relay.near.path
        fast = meter_toml("fast", port, 1, line=SLOW_LINE, address=0)
        daemon = daemon_in_process(
            parse_config(fast + long_device_toml("slow", port, 2, address=0))
        )
        reader = daemon.reader
        try:
            slow = reader.sensors["slow"]
            assert slow.modbus is not None
            before = slow.modbus
            run_reader_until(reader, lambda: before.transactions >= 2, 10.0)
            asked.clear()
            reader_of.append(reader)
            run_reader_until(reader, asked.is_set, 5.0)
            reader_of.clear()
            daemon.apply(parse_config(fast + long_device_toml("slow", port, 2, address=1)))
            changed = reader.sensors["slow"]
            assert changed is not slow
            assert changed.modbus is not None
            modbus = changed.modbus
            run_reader_until(reader, lambda: modbus.transactions >= 2, 10.0)
            sensors = daemon.status_body()["sensors"]
            assert sensors["slow"]["channels"]["r0"]["value"] == 1
            for name in ("fast", "slow"):
                errors = sensors[name]["modbus"]["errors"]
                assert errors["unasked"] == errors["late"] == 0, (name, errors)
        finally:
            reader.close()


@contextmanager
def fast_and_slow_on_a_line(
    later: Callable[[bytes], float], answer: Callable[[bytes], bytes | None] | None = None
) -> Iterator[tuple[Daemon, ModbusCounters, Callable[[int], ModbusCounters]]]:
    """Meters ``fast`` (unit 1, holding register 0: 10) and ``slow`` (unit 2, registers 0 and
    1: 20, 21) on an RTU line, a relay whose answers reach sensord ``later(answer)`` seconds
    late (``answer``: the relay's own, see :class:`PtyRelay`), read by a daemon whose loop the
    test runs, ``slow`` having answered twice: the daemon, ``slow``'s counters, and a reload
    that changes ``slow`` to read register ``address`` (it gives its replacement's)."""
    with (
        PtyRelay(answer=answer, delay_s=later) as relay,
        ModbusServer([1, 2], "serial", relay.far.path) as server,
    ):
        server.set(1, "holding", 0, [10])
        server.set(2, "holding", 0, [20, 21])
        port = relay.near.path
        fast = meter_toml("fast", port, 1, line=RTU_LINE, address=0)

        def config(address: int) -> str:
            return fast + meter_toml("slow", port, 2, line=RTU_LINE, address=address)

        daemon = daemon_in_process(parse_config(config(0)))
        reader = daemon.reader
        slow = reader.sensors["slow"]

        def reload(address: int) -> ModbusCounters:
            daemon.apply(parse_config(config(address)))
            changed = reader.sensors["slow"]
            assert changed is not slow
            assert changed.modbus is not None
            return changed.modbus

        try:
            before = slow.modbus
            assert before is not None
            run_reader_until(reader, lambda: before.transactions >= 2, 10.0)
            yield daemon, before, reload
        finally:
            reader.close()


def assert_no_errors(sensors: dict[str, Any], names: tuple[str, ...]) -> None:
    """No Modbus error of any kind is counted for the devices ``names`` of ``/status``'s
    ``sensors``."""
    for name in names:
        counted = {k: n for k, n in sensors[name]["modbus"]["errors"].items() if n}
        assert counted == {}, name


def assert_reads_its_own(daemon: Daemon, replacement: ModbusCounters) -> None:
    """``slow``'s replacement reads its own register: its first value is 21, and after its
    third answer no error is counted on the bus."""
    run_reader_until(daemon.reader, lambda: replacement.transactions >= 1, 10.0)
    assert daemon.status_body()["sensors"]["slow"]["channels"]["v"]["value"] == 21
    run_reader_until(daemon.reader, lambda: replacement.transactions >= 3, 10.0)
    assert_no_errors(daemon.status_body()["sensors"], ("fast", "slow"))


def test_an_answer_after_its_timeout_of_a_device_a_reload_changed_is_nobody_s() -> None:
    """A device answers after its timeout, while a reload changes it. Its answer is late, as
    it would have been on the bus: nobody's, not a frame of the unit id of the device that
    replaces it nor that device's answer (the replacement, which reads another register, is
    not asked before that late answer could have come, so its first value is its own)."""
    asked = threading.Event()
    reader_of: list[Reader] = []
    late: list[float] = []

    def on_request(request: bytes) -> bytes | None:
        if request[0] == 2 and reader_of:
            late.append(1.5)  # past its timeout of 1.0 s, within one more
            asked.set()
            reader_of[0].wake()  # the reload comes as the request reaches the device
        return None  # the server answers it

    def later(answer: bytes) -> float:
        if answer[0] != 2 or not asked.is_set():
            return 0.0
        # the replacement's answers take 0.6 s: a request of its sent as soon as the left
        # one timed out would still await its answer when the late one comes
        return late.pop() if late else 0.6

    with fast_and_slow_on_a_line(later, on_request) as (daemon, _, reload):
        reader_of.append(daemon.reader)
        run_reader_until(daemon.reader, asked.is_set, 5.0)
        reader_of.clear()
        assert_reads_its_own(daemon, reload(1))
        assert not late  # the late answer was sent


@pytest.mark.parametrize("hold", ["after", "before"])
def test_an_answer_that_came_while_a_slow_reload_held_the_loop_is_nobody_s(hold: str) -> None:
    """A reload holds the loop (it runs on it) past the time a device it changes could still
    have answered the request in flight: the answer came in time meanwhile, while the loop
    read nothing, and is read after the reload. It is still the left device's, nobody's: the
    time the loop was held does not count against it (``Reader.holding``), whether the hold
    comes after the device left or before (a configuration slow to load)."""
    asked = threading.Event()
    reader_of: list[Reader] = []
    answered_at: list[float] = []  # when the answer reaches sensord

    def on_request(request: bytes) -> bytes | None:
        if request[0] == 2 and reader_of:
            asked.set()
            reader_of[0].wake()  # the reload comes as the request reaches the device
        return None  # the server answers it

    def later(answer: bytes) -> float:
        if answer[0] == 2 and asked.is_set() and not answered_at:
            answered_at.append(time.monotonic() + SLOW_ANSWER_S)
            return SLOW_ANSWER_S
        return 0.0

    with fast_and_slow_on_a_line(later, on_request) as (daemon, before, reload):
        reader = daemon.reader
        (bus,) = reader._buses.values()
        reader_of.append(reader)
        run_reader_until(reader, asked.is_set, 5.0)
        reader_of.clear()
        flight = bus.in_flight
        assert flight is not None
        # when the left answer can come no more: the device's timeout after its deadline
        gone_at = flight.deadline + bus.silence_s + 1.0

        def hold_past_it() -> None:
            time.sleep(max(0.0, gone_at + 0.1 - time.monotonic()))
            assert answered_at
            assert time.monotonic() > answered_at[0] + 0.1  # the answer waits for the loop

        with reader.holding():
            if hold == "before":
                hold_past_it()
            modbus = reload(1)
            if hold == "after":
                hold_past_it()
        assert before.transactions == 2  # the answer was not read before the reload
        assert_reads_its_own(daemon, modbus)


def test_a_late_answer_on_its_way_at_a_reload_that_changes_its_device_is_nobody_s() -> None:
    """A device's request times out and its answer is still on its way when a reload
    changes the device: that answer is nobody's, as one in flight at the reload is, and the
    device that replaces it (another register of the same unit id) is not asked before the
    late answer could have come, so that its first value is its own."""
    armed = threading.Event()
    late: list[float] = []
    late_at: list[float] = []  # when the late answer reaches sensord

    def later(answer: bytes) -> float:
        if answer[0] != 2 or not armed.is_set():
            return 0.0
        if late:
            late_at.append(time.monotonic() + late[0])
            return late.pop()
        # the replacement's answers take 0.6 s: a request of its sent as soon as the reload
        # applied would still await its answer when the late one comes
        return 0.6

    with fast_and_slow_on_a_line(later) as (daemon, before, reload):
        late.append(1.5)  # past its timeout of 1.0 s, within one more
        armed.set()
        # the reload comes between the timeout and the late answer
        run_reader_until(daemon.reader, lambda: before.timeouts >= 1, 5.0)
        assert time.monotonic() < late_at[0] - 0.2
        modbus = reload(1)
        assert_reads_its_own(daemon, modbus)
        assert not late  # the late answer was sent
        assert modbus.polls_missed == 0  # held by design, not for want of the line's time


def test_a_device_a_reload_changed_is_asked_after_the_drain_of_the_late_answer() -> None:
    """A device that once answered 1.75 s after its request (its timeout is 1.0 s) is held
    after each timeout until an answer as late could have come, and so is the device that
    replaces it at a reload while its request is in flight. When the left answer comes late
    but sooner than that (1.05 s), the replacement is asked once the drain after that late
    answer ends (the timeout, as a device's own late answer holds it), not when an answer as
    late as the left device's latest could have come, and still reads its own value."""
    reload_at_request = threading.Event()
    reloaded = threading.Event()
    reader_of: list[Reader] = []
    late: list[float] = []
    late_at: list[float] = []  # when each late answer reaches sensord
    asked_at: list[float] = []  # when the replacement's requests reach the device

    def on_request(request: bytes) -> bytes | None:
        if request[0] != 2:
            return None
        if reloaded.is_set():
            asked_at.append(time.monotonic())
        elif reload_at_request.is_set():
            reload_at_request.clear()
            late.append(1.05)  # past its timeout, well before 1.75 s
            reader_of[0].wake()  # the reload comes as the request reaches the device
        return None  # the server answers it

    def later(answer: bytes) -> float:
        if answer[0] != 2 or not late:
            return 0.0
        late_at.append(time.monotonic() + late[0])
        return late.pop()

    with fast_and_slow_on_a_line(later, on_request) as (daemon, before, reload):
        reader = daemon.reader
        reader_of.append(reader)
        late.append(1.75)  # within the drain after its timeout: a late answer, 1.75 s late
        run_reader_until(reader, lambda: before.errors["late"] == 1, 5.0)
        answered = before.transactions
        run_reader_until(reader, lambda: before.transactions > answered, 5.0)
        reload_at_request.set()
        run_reader_until(reader, lambda: not reload_at_request.is_set(), 5.0)
        modbus = reload(1)
        reloaded.set()
        assert_reads_its_own(daemon, modbus)
        assert not late  # the late answer was sent
        waited_s = asked_at[0] - late_at[-1]
        # its drain after the late answer (1.0 s), not until 1.75 s + 1.0 s after the request
        assert 1.0 <= waited_s < 1.35, waited_s
        assert modbus.polls_missed == 0


def gateway_meter_toml(name: str, url: str, unit: int, *, timeout_s: float, address: int) -> str:
    return f"""
[[sensors]]
name = "{name}"
port = "{url}"
format = "modbus"
modbus = {{ unit = {unit}, interval_s = 0.5, timeout_s = {timeout_s} }}
registers = [{{ name = "v", ref = "4{address + 1:04d}", type = "uint16" }}]
channels = [{{ name = "v" }}]
"""


@dataclass
class GatewayRig:
    """Meters ``one`` (unit 1, holding register 0: 10) and ``two`` (unit 2, registers 0 and
    1: 20, 21) on an RTU line behind a Modbus TCP gateway, read by a daemon whose loop the
    test runs, each having answered twice; ``reload_two`` has a reload change ``two`` to read
    register ``address``."""

    daemon: Daemon
    reader: Reader
    url: str
    one: ModbusCounters
    two: ModbusCounters
    timeouts_s: tuple[float, float]
    #: how often ``one`` is polled
    one_interval_s: float = 0.5

    def config(self, address: int) -> str:
        return meters_toml(self.url, self.timeouts_s, address, self.one_interval_s)

    @property
    def bus(self) -> Bus:
        return self.reader._buses[f"bus:{self.url}"]

    def reload_two(self, address: int) -> ModbusCounters:
        """The reload; the counters of the ``two`` that replaced the one before."""
        self.daemon.apply(parse_config(self.config(address)))
        modbus = self.reader.sensors["two"].modbus
        assert modbus is not None
        return modbus


@contextmanager
def gateway_rig(
    later: Callable[[bytes], float], *, gateway_s: float, timeouts_s: tuple[float, float]
) -> Iterator[GatewayRig]:
    """A :class:`GatewayRig` whose answers reach the gateway ``later(answer)`` seconds late;
    the gateway waits ``gateway_s`` for each."""
    with (
        PtyRelay(delay_s=later) as relay,
        ModbusServer([1, 2], "serial", relay.far.path) as server,
        TcpGateway(relay.near.path, timeout_s=gateway_s) as gateway,
    ):
        server.set(1, "holding", 0, [10, 11])
        server.set(2, "holding", 0, [20, 21])
        with _rig(gateway.url, timeouts_s, 0.5) as rig:
            yield rig


def meters_toml(
    url: str, timeouts_s: tuple[float, float], address: int, one_interval_s: float
) -> str:
    """The meters of :class:`GatewayRig` at ``url``, ``two`` reading register ``address``."""
    one_s, two_s = timeouts_s
    one = gateway_meter_toml("one", url, 1, timeout_s=one_s, address=0)
    one = one.replace("interval_s = 0.5", f"interval_s = {one_interval_s}")
    return one + gateway_meter_toml("two", url, 2, timeout_s=two_s, address=address)


@contextmanager
def _rig(url: str, timeouts_s: tuple[float, float], one_interval_s: float) -> Iterator[GatewayRig]:
    """The daemon of a :class:`GatewayRig` at ``url``, once each meter answered twice."""
    daemon = daemon_in_process(parse_config(meters_toml(url, timeouts_s, 0, one_interval_s)))
    reader = daemon.reader
    try:
        one, two = (reader.sensors[name].modbus for name in ("one", "two"))
        assert one is not None
        assert two is not None
        run_reader_until(reader, lambda: one.transactions >= 2 and two.transactions >= 2, 10)
        yield GatewayRig(daemon, reader, url, one, two, timeouts_s, one_interval_s)
    finally:
        reader.close()


@contextmanager
def relay_rig(
    set_up: Callable[[TcpRelay], None], timeout_s: float, one_interval_s: float
) -> Iterator[GatewayRig]:
    """A :class:`GatewayRig` on a Modbus TCP server (a gateway of several lines) behind a
    relay that ``set_up`` configures, both meters with a timeout of ``timeout_s``."""
    with ModbusServer([1, 2], "tcp") as server, TcpRelay(server.port) as relay:
        server.set(1, "holding", 0, [10, 11])
        server.set(2, "holding", 0, [20, 21])
        set_up(relay)
        with _rig(relay.url(), (timeout_s, timeout_s), one_interval_s) as rig:
            yield rig


def test_a_late_answer_frees_no_gateway_that_still_serves_a_left_request() -> None:
    """A Modbus TCP gateway serves one request at a time. A device's request times out and
    the next device's request waits behind it at the gateway; a reload changes that next
    device while its request waits. The late answer of the first frees the connection no
    more than it would with the request in flight: the gateway serves the left request next,
    and its answer, which comes after, is nobody's, not a reply to a request no one sent
    counted for the device whose request went out in between."""
    late_once = threading.Event()

    def later(answer: bytes) -> float:
        if answer[0] == 1 and late_once.is_set():
            late_once.clear()
            return 0.6  # after twice its timeout (0.25 s), within the gateway's (1 s)
        return 0.2 if answer[0] == 2 else 0.0

    with gateway_rig(later, gateway_s=1.0, timeouts_s=(0.25, 1.0)) as rig:
        reader, first = rig.reader, rig.one
        bus = reader._buses[f"bus:{rig.url}"]
        with waking(reader):
            late_once.set()
            run_reader_until(reader, lambda: first.timeouts >= 1, 5.0)

            def two_waits() -> bool:
                return bus.in_flight is not None and bus.in_flight.device.unit == 2

            run_reader_until(reader, two_waits, 5.0)
            modbus = rig.reload_two(1)
            run_reader_until(reader, lambda: modbus.transactions >= 2, 10.0)
        sensors = rig.daemon.status_body()["sensors"]
        assert sensors["two"]["channels"]["v"]["value"] == 21
        assert sensors["one"]["modbus"]["errors"]["late"] == 1
        for name in ("one", "two"):
            assert sensors[name]["modbus"]["errors"]["unasked"] == 0, name


def test_a_late_reply_on_its_way_at_a_reload_that_changes_its_device_is_nobody_s() -> None:
    """Over Modbus TCP a device's request times out and its reply is still on its way (the
    gateway waits for the device longer) when a reload changes the device: that reply is
    nobody's, not a reply to a request no one sent, counted for the device whose request
    waits behind it at the gateway or for the device that replaced it."""
    armed = threading.Event()

    def later(answer: bytes) -> float:
        if answer[0] == 2 and armed.is_set():
            armed.clear()
            return 0.8  # after its timeout (0.5 s), within the gateway's (2 s)
        return 0.0

    with gateway_rig(later, gateway_s=2.0, timeouts_s=(1.0, 0.5)) as rig:
        reader, first, second = rig.reader, rig.one, rig.two
        with waking(reader):
            armed.set()
            run_reader_until(reader, lambda: second.timeouts >= 1, 5.0)
            modbus = rig.reload_two(1)
            run_reader_until(
                reader, lambda: modbus.transactions >= 2 and first.transactions >= 4, 10.0
            )
        sensors = rig.daemon.status_body()["sensors"]
        assert sensors["two"]["channels"]["v"]["value"] == 21
        for name in ("one", "two"):
            errors = sensors[name]["modbus"]["errors"]
            assert not any(errors.values()), (name, errors)


def test_a_device_a_reload_changed_is_asked_once_the_answer_in_flight_came() -> None:
    """A reload changes a device while its request is in flight, and the answer comes in
    time: the device that replaces it (the same unit id) is asked soon after that answer,
    not held as if the answer might still come late, and misses no poll."""
    reload_at_request = threading.Event()
    reader_of: list[Reader] = []

    def on_request(request: bytes) -> bytes | None:
        if request[0] == 2 and reload_at_request.is_set():
            reload_at_request.clear()
            reader_of[0].wake()  # the reload comes as the request reaches the device
        return None  # the server answers it

    def later(answer: bytes) -> float:
        return SLOW_ANSWER_S if answer[0] == 2 else 0.0

    with (
        PtyRelay(answer=on_request, delay_s=later) as relay,
        ModbusServer([1, 2], "serial", relay.far.path) as server,
    ):
        server.set(1, "holding", 0, [10])
        server.set(2, "holding", 0, [20, 21])
        port = relay.near.path
        daemon = daemon_in_process(parse_config(bus_toml(port, line=RTU_LINE, slow_address=0)))
        reader = daemon.reader
        reader_of.append(reader)
        try:
            slow = reader.sensors["slow"]
            assert slow.modbus is not None
            before = slow.modbus
            run_reader_until(reader, lambda: before.transactions >= 2, 10.0)
            reload_at_request.set()
            run_reader_until(reader, lambda: not reload_at_request.is_set(), 5.0)
            bus = reader._buses[f"bus:{port}"]
            assert bus.in_flight is not None
            assert bus.in_flight.device.unit == 2
            with capture_logs() as logs:
                daemon.apply(parse_config(bus_toml(port, line=RTU_LINE, slow_address=1)))
                reloaded_at = time.monotonic()
                changed = reader.sensors["slow"]
                assert changed.modbus is not None
                modbus = changed.modbus
                run_reader_until(reader, lambda: modbus.transactions >= 1, 10.0)
                answered_s = time.monotonic() - reloaded_at
                run_reader_until(reader, lambda: modbus.transactions >= 3, 10.0)
            # the left answer comes SLOW_ANSWER_S after the request, the replacement's as
            # soon as asked: well within the left request's timeout (1 s)
            assert modbus.polls_missed == 0
            assert not [e for e in logs if e["event"].startswith("polls missed")]
            assert answered_s < SLOW_ANSWER_S + 0.5, answered_s
            sensors = daemon.status_body()["sensors"]
            assert sensors["slow"]["channels"]["v"]["value"] == 21
            for name in ("fast", "slow"):
                errors = sensors[name]["modbus"]["errors"]
                assert not any(errors.values()), (name, errors)
        finally:
            reader.close()


def test_the_answers_of_two_devices_one_reload_changed_are_both_nobody_s() -> None:
    """A device's request times out and its answer is still on its way when the next
    device's request goes out; a reload changes both while that request awaits its answer.
    Both answers are nobody's: the late one is no frame of the unit id of the device that
    replaced its device, nor that device's answer, and neither replacement is asked before
    the answer of its unit id came or could have come, so that each reads its own value."""
    armed = threading.Event()
    late: list[float] = []

    def later(answer: bytes) -> float:
        if not armed.is_set():
            return 0.0
        if answer[0] == 2 and late:
            return late.pop()
        # within its timeout: the reload comes while the request awaits it
        return SLOW_ANSWER_S if answer[0] == 1 else 0.0

    with (
        PtyRelay(delay_s=later) as relay,
        ModbusServer([1, 2], "serial", relay.far.path) as server,
    ):
        server.set(1, "holding", 0, [10, 11])
        server.set(2, "holding", 0, [20, 21])
        port = relay.near.path

        def config(address: int) -> str:
            return meter_toml("fast", port, 1, line=RTU_LINE, address=address) + meter_toml(
                "slow", port, 2, line=RTU_LINE, address=address
            )

        daemon = daemon_in_process(parse_config(config(0)))
        reader = daemon.reader
        try:
            before = reader.sensors["slow"].modbus
            assert before is not None
            run_reader_until(reader, lambda: before.transactions >= 2, 10.0)
            bus = reader._buses[f"bus:{port}"]
            with waking(reader):
                late.append(1.5)  # past its timeout of 1.0 s, within one more
                armed.set()
                run_reader_until(reader, lambda: before.timeouts >= 1, 5.0)

                def fast_awaits() -> bool:
                    return bus.in_flight is not None and bus.in_flight.device.unit == 1

                run_reader_until(reader, fast_awaits, 5.0)
                assert late == []  # the late answer is on its way
                daemon.apply(parse_config(config(1)))
                changed = [reader.sensors[name].modbus for name in ("fast", "slow")]
                assert before not in changed
                run_reader_until(
                    reader,
                    lambda: all(c is not None and c.transactions >= 3 for c in changed),
                    10.0,
                )
        finally:
            reader.close()
        sensors = daemon.status_body()["sensors"]
        for name, own in (("fast", 11), ("slow", 21)):
            window = sensors[name]["channels"]["v"]["window"]
            assert window["min"] == window["max"] == own, (name, window)  # every value its own
        assert_no_errors(sensors, ("fast", "slow"))
        for name in ("fast", "slow"):
            assert sensors[name]["modbus"]["timeouts"] == 0, name


def test_the_replies_of_two_devices_one_reload_changed_are_both_nobody_s() -> None:
    """Over Modbus TCP a device's request times out with its reply still on its way (the
    gateway waits for the device longer), and the next device's request waits behind it at
    the gateway; a reload changes both, while a third device stays on the bus. Both replies
    are nobody's: neither is a reply to a request no one sent counted for a device that
    replaced them."""
    armed = threading.Event()

    def later(answer: bytes) -> float:
        if answer[0] == 2 and armed.is_set():
            armed.clear()
            return 1.2  # after twice its timeout (0.5 s), within the gateway's (2 s)
        return 0.0

    with (
        PtyRelay(delay_s=later) as relay,
        ModbusServer([1, 2, 3], "serial", relay.far.path) as server,
        TcpGateway(relay.near.path, timeout_s=2.0) as gateway,
    ):
        for unit in (1, 2, 3):
            server.set(unit, "holding", 0, [unit * 10, unit * 10 + 1])
        url = gateway.url
        # polled seldom: it is not asked while the others' exchanges make the case
        third = gateway_meter_toml("three", url, 3, timeout_s=1.0, address=0).replace(
            "interval_s = 0.5", "interval_s = 30.0"
        )

        def config(address: int) -> str:
            one = gateway_meter_toml("one", url, 1, timeout_s=1.0, address=address)
            return one + gateway_meter_toml("two", url, 2, timeout_s=0.5, address=address) + third

        daemon = daemon_in_process(parse_config(config(0)))
        reader = daemon.reader
        try:
            two = reader.sensors["two"].modbus
            assert two is not None
            run_reader_until(reader, lambda: two.transactions >= 2, 10.0)
            bus = reader._buses[f"bus:{url}"]
            with waking(reader):
                armed.set()
                run_reader_until(reader, lambda: two.timeouts >= 1, 5.0)

                def one_waits() -> bool:
                    return bus.in_flight is not None and bus.in_flight.device.unit == 1

                run_reader_until(reader, one_waits, 5.0)
                assert bus._asked[bus._timed_out_id].unit == 2  # its reply is on its way
                daemon.apply(parse_config(config(1)))
                changed = [reader.sensors[name].modbus for name in ("one", "two")]
                run_reader_until(
                    reader,
                    lambda: all(c is not None and c.transactions >= 3 for c in changed),
                    10.0,
                )
        finally:
            reader.close()
        sensors = daemon.status_body()["sensors"]
        for name, own in (("one", 11), ("two", 21)):
            window = sensors[name]["channels"]["v"]["window"]
            assert window["min"] == window["max"] == own, (name, window)
        assert_no_errors(sensors, ("one", "two", "three"))
        for name in ("one", "two", "three"):
            assert sensors[name]["modbus"]["timeouts"] == 0, name


def test_a_request_behind_a_left_one_at_the_gateway_waits_for_it_as_behind_any() -> None:
    """A Modbus TCP gateway serves one request at a time. A device's request times out and
    the gateway still waits for its device when the next device's request goes out, which
    waits behind it there; a reload changes the first device meanwhile. The request that
    waits is given its timeout once more, as behind the request of a device still on the
    bus, and the late reply before its answer starts its wait again: it does not time out,
    and its answer is no late one."""
    armed = threading.Event()

    def later(answer: bytes) -> float:
        if answer[0] == 2 and armed.is_set():
            armed.clear()
            # after twice its timeout (0.5 s), when the next request (0.25 s) has waited
            # behind it for longer than its own timeout, within the gateway's (2 s)
            return 1.3
        return 0.0

    with gateway_rig(later, gateway_s=2.0, timeouts_s=(0.25, 0.5)) as rig:
        reader, first, second = rig.reader, rig.one, rig.two
        bus = reader._buses[f"bus:{rig.url}"]
        with waking(reader):
            armed.set()
            run_reader_until(reader, lambda: second.timeouts >= 1, 5.0)

            def one_waits() -> bool:
                return bus.in_flight is not None and bus.in_flight.device.unit == 1

            run_reader_until(reader, one_waits, 5.0)
            assert bus._asked[bus._timed_out_id].unit == 2  # the gateway still serves it
            answered, timeouts = first.transactions, first.timeouts
            modbus = rig.reload_two(1)
            run_reader_until(
                reader, lambda: modbus.transactions >= 2 and first.transactions > answered, 10.0
            )
        sensors = rig.daemon.status_body()["sensors"]
        assert sensors["two"]["channels"]["v"]["value"] == 21
        assert first.timeouts == timeouts
        assert_no_errors(sensors, ("one", "two"))


def test_the_start_of_a_left_device_s_late_reply_is_kept_for_its_rest() -> None:
    """Over Modbus TCP a device's request times out, and a reload changes the device; its
    late reply then comes in two segments, and the next request goes out between them. The
    start of that reply is kept for its rest, as one of a device still on the bus is: the
    stream stays in step, so the next device's reply, which comes behind it, is its answer,
    and the left reply is nobody's."""
    armed = threading.Event()

    def pieces(reply: bytes) -> list[tuple[float, bytes]]:
        if reply[6] == 2 and armed.is_set():
            armed.clear()
            # its header after twice its timeout (0.5 s), as the next request is due; its
            # rest while that request awaits its answer, within its timeout
            return [(0.9, reply[:9]), (1.3, reply[9:])]
        return [(0.0, reply)]

    def set_up(relay: TcpRelay) -> None:
        relay.pieces = pieces

    with relay_rig(set_up, 0.5, 0.5) as rig:
        reader, first = rig.reader, rig.one
        with waking(reader):
            armed.set()
            run_reader_until(reader, lambda: rig.two.timeouts >= 1, 5.0)
            answered, timeouts = first.transactions, first.timeouts
            skipped = reader.sensors["one"].snapshot().skipped_bytes
            modbus = rig.reload_two(1)
            run_reader_until(
                reader,
                lambda: modbus.transactions >= 2 and first.transactions >= answered + 3,
                10.0,
            )
    sensors = rig.daemon.status_body()["sensors"]
    assert sensors["two"]["channels"]["v"]["value"] == 21
    assert first.timeouts == timeouts
    # the rest of the left reply was read as its rest, not skipped as noise
    assert sensors["one"]["skipped_bytes"] == skipped
    assert_no_errors(sensors, ("one", "two"))


def test_a_left_request_s_transaction_id_sent_again_is_the_new_request_s() -> None:
    """Over Modbus TCP a device's request goes unanswered (the gateway drops it) and a reload
    changes the device. The connection then carries many more requests, and its transaction
    ids, 16 bits wide, come round to that request's again. The request sent with it then is
    a device's on the bus, and its late reply is that device's late answer, counted ``late``,
    not the reply of the device that left."""
    drop = threading.Event()
    held: list[int] = []

    def pieces(reply: bytes) -> list[tuple[float, bytes]]:
        if reply[6] == 2 and drop.is_set():
            drop.clear()
            return []  # the gateway never answers it
        if held and int.from_bytes(reply[:2], "big") == held[0]:
            return [(0.3, reply)]  # after its timeout (0.2 s)
        return [(0.0, reply)]

    def set_up(relay: TcpRelay) -> None:
        relay.pieces = pieces

    # ``one`` polled often: its requests take the transaction ids on
    with relay_rig(set_up, 0.2, 0.02) as rig:
        reader, bus = rig.reader, rig.bus
        with waking(reader):
            drop.set()
            run_reader_until(reader, lambda: rig.two.timeouts >= 1, 5.0)
            (dropped,) = [t for t, d in bus._asked.items() if d.sensor.name == "two"]
            rig.reload_two(1)
            assert [left.transaction_id for left in bus.left.kept] == [dropped]

            # more than TRANSACTIONS_KEPT requests after it, answered
            answered = rig.one.transactions
            run_reader_until(
                reader, lambda: rig.one.transactions > answered + TRANSACTIONS_KEPT, 10.0
            )
            # and the 65 000 and more after them at once: the next goes with its id
            bus._sent += (dropped - bus._sent - 1) % 0xFFFF
            held.append(dropped)
            run_reader_until(reader, lambda: dropped in bus._asked, 5.0)
            asked = bus._asked[dropped].sensor.name
            modbus = reader.sensors[asked].modbus
            assert modbus is not None
            run_reader_until(reader, lambda: modbus.timeouts >= 1, 5.0)
            done = modbus.transactions
            run_reader_until(reader, lambda: modbus.transactions >= done + 3, 5.0)
    assert modbus.errors["late"] == 1, asked
    sensors = rig.daemon.status_body()["sensors"]
    for name in ("one", "two"):
        assert sensors[name]["modbus"]["errors"]["unasked"] == 0, name


def test_a_left_reply_after_many_requests_on_the_connection_is_nobody_s() -> None:
    """Over Modbus TCP a gateway with several serial lines answers the devices of one line
    while a device of another is still to answer. That device's request times out, a reload
    changes the device, and its reply comes after more than TRANSACTIONS_KEPT requests of the
    others went out and were answered on the connection: it is still the left request's
    reply, nobody's, not a reply to a request never sent counted as ``unasked`` for a device
    on the bus (as a late reply of a device on the bus is its own late answer then too). The
    reply is held 2.5 s, time for 125 polls of ``one`` at 0.02 s; a host that let no more
    than TRANSACTIONS_KEPT of them be made meanwhile (each exchange runs through a relay and
    a server of the test's process) played a scenario this test is not about, and it is
    played again (``harness.host_lag.steadily``)."""

    def scenario() -> tuple[tuple[int, int, bool, dict[str, Any]], int]:
        armed = threading.Event()

        def hold(reply: bytes) -> float:
            if reply[6] == 2 and armed.is_set():
                armed.clear()
                return 2.5  # the others' replies go out meanwhile
            return 0.0

        def set_up(relay: TcpRelay) -> None:
            relay.hold = hold
            relay.in_order = False

        with relay_rig(set_up, 0.2, 0.02) as rig:
            reader, bus = rig.reader, rig.bus
            with waking(reader):
                armed.set()
                run_reader_until(reader, lambda: rig.two.timeouts >= 1, 5.0)
                (late,) = [t for t, d in bus._asked.items() if d.sensor.name == "two"]
                rig.reload_two(1)
                assert bus.left.kept
                answered = rig.one.transactions
                # how many of ``one``'s exchanges were made before the left reply was read
                between: list[int] = []

                def replied() -> bool:
                    if not between and not bus.left.kept:
                        between.append(rig.one.transactions - answered)
                    return False

                until = time.monotonic() + 3.0  # the left reply comes meanwhile
                run_reader_until(reader, lambda: replied() or time.monotonic() > until, 5.0)
                kept = bool(bus.left.kept)
            made = between[0] if between else rig.one.transactions - answered
            return (late, made, kept, rig.daemon.status_body()["sensors"]), made

    def held(made: int) -> str:
        if made > TRANSACTIONS_KEPT:
            return ""
        return (
            f"the host let only {made} of one's exchanges be made before the reply was read "
            f"(more than {TRANSACTIONS_KEPT} wanted)"
        )

    (late, made, kept, sensors), how = steadily(scenario, held)
    assert not kept, f"the left reply was not read; {how}"
    assert made > TRANSACTIONS_KEPT, how
    assert late  # (a transaction id)
    assert sensors["two"]["channels"]["v"]["value"] == 21, how
    assert_no_errors(sensors, ("one", "two"))
