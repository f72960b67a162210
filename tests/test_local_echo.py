"""Local echo (``serial.local_echo``): the echo of every byte written is dropped from what the
port reads, split however the reads come, and a port that does not echo loses nothing."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

import pytest
from harness.collector import RuntimesView
from harness.host_lag import HostLag, HostLagged, answered_past, steadily
from harness.modbus import ModbusServer, PtyRelay, rtu_frame, run_reader_until
from harness.pty import PtyPair
from hypothesis import given
from hypothesis import strategies as st
from structlog.testing import capture_logs
from test_modbus_line import HandBus, read_reply, read_request
from test_modbus_setup_writes import WRITE_BUSY_TOLD
from test_state_flapping import read_to_the_end

from sensord.bus import Bus
from sensord.bus_hints import ECHO_HINT
from sensord.cli import main
from sensord.config import Config
from sensord.export import MetricsRegistry
from sensord.reader import Reader
from sensord.sensor import SensorRuntime
from sensord.sources.echo import MAX_EXPECTED, EchoCounts, LocalEcho
from sensord.sources.serial_port import SerialSource

#: Device 2's two set-up writes (06), holding 54 = 7 and holding 55 = 8, in the tests of
#: a write's echo read with another frame.
TWO_WRITES = [
    {"table": "holding", "address": 54, "value": 7, "function": 6},
    {"table": "holding", "address": 55, "value": 8, "function": 6},
]

#: The requests of :data:`TWO_WRITES`, as device 2 is sent them.
TWO_WRITES_SENT = (
    rtu_frame(bytes.fromhex("02 06 00 36 00 07")),
    rtu_frame(bytes.fromhex("02 06 00 37 00 08")),
)


def chunked(data: bytes, cuts: list[int]) -> Iterator[bytes]:
    """``data`` cut at ``cuts`` (positions, any order, out of range ones ignored)."""
    at = 0
    for cut in sorted({c for c in cuts if 0 < c < len(data)}):
        yield data[at:cut]
        at = cut
    yield data[at:]


def read_through(echo: LocalEcho, data: bytes, cuts: list[int]) -> bytes:
    return b"".join(echo.strip(chunk) for chunk in chunked(data, cuts))


_EVENTS = st.lists(
    st.one_of(
        st.tuples(st.just("write"), st.binary(min_size=1, max_size=10)),
        st.tuples(st.just("device"), st.binary(min_size=1, max_size=12)),
        st.tuples(st.just("read"), st.integers(min_value=1, max_value=30)),
    ),
    max_size=30,
)


@given(events=_EVENTS)
def test_every_echo_is_dropped_and_every_device_byte_kept_in_order(
    events: list[tuple[str, Any]],
) -> None:
    """A line where the device's bytes and the echoes of writes arrive in any order a port
    sees them (an echo comes whole, as the write goes out), read in pieces of any size:
    what comes out is every device byte, in order, and nothing else."""
    echo = LocalEcho()
    line = bytearray()  # arrived, not yet read
    out = bytearray()
    device = bytearray()
    for kind, value in events:
        if kind == "write":
            echo.sent(value, len(line))
            line += value
        elif kind == "device":
            device += value
            line += value
        else:
            out += echo.strip(bytes(line[:value]))
            del line[:value]
    out += echo.strip(bytes(line))
    writes = [value for kind, value in events if kind == "write"]
    assert out == device
    assert echo.mismatches == 0
    assert echo.echoed_bytes == sum(map(len, writes))


@given(
    request=st.binary(min_size=1, max_size=12),
    reply=st.binary(min_size=1, max_size=40),
    cuts=st.lists(st.integers(min_value=0, max_value=100), max_size=12),
)
def test_a_port_that_does_not_echo_loses_no_byte_of_its_reply(
    request: bytes, reply: bytes, cuts: list[int]
) -> None:
    # a reply that could be the echo so far (a prefix of the request, or the request and
    # more) is taken for it: only a reply that differs from the request is tested here
    if reply.startswith(request) or request.startswith(reply):
        return
    echo = LocalEcho()
    echo.sent(request)
    assert read_through(echo, reply, cuts) == reply
    assert (echo.echoed_bytes, echo.mismatches, echo.owed) == (0, 1, 0)


def test_echoes_owed_are_bounded_and_the_oldest_given_up_is_counted() -> None:
    echo = LocalEcho()
    for i in range(MAX_EXPECTED + 5):
        echo.sent(bytes([1, 3, 0, i, 0, 1]))  # a silent device on a port that does not echo
    assert echo.owed == MAX_EXPECTED
    assert echo.mismatches == 5
    assert echo.strip(b"\x01\x03\x02\x00\x07") == b"\x01\x03\x02\x00\x07"


def test_a_closed_port_owes_no_echo() -> None:
    echo = LocalEcho()
    echo.sent(b"\x01\x03\x00\x00\x00\x01")
    assert echo.strip(b"\x01\x03") == b""  # held: the echo so far
    echo.reset()
    assert echo.strip(b"\x01\x03\x02\x00\x07") == b"\x01\x03\x02\x00\x07"
    assert echo.mismatches == 0


def bus_table(path: str, *, local_echo: bool) -> dict[str, Any]:
    return {
        "name": "m",
        "port": path,
        "format": "modbus",
        "serial": {"baudrate": 115200, "local_echo": local_echo},
        "modbus": {"unit": 1, "interval_s": 0.02, "timeout_s": 0.2},
        "registers": [{"name": "a", "table": "holding", "address": 0}],
        "channels": [{"name": "a"}],
    }


def transactions_at_least(count: int) -> Callable[[SensorRuntime], bool]:
    """Whether a bus sensor has made ``count`` transactions."""

    def made(runtime: SensorRuntime) -> bool:
        counters = runtime.modbus
        return counters is not None and counters.transactions >= count

    return made


def run_bus(
    table: dict[str, Any],
    relay: PtyRelay,
    until: Callable[[SensorRuntime], bool] | None = None,
) -> tuple[SensorRuntime, SerialSource]:
    """Read the bus sensor of ``table`` until ``until`` holds (20 transactions unless told;
    10 s at most)."""
    if until is None:
        until = transactions_at_least(20)
    errors: list[str] = []
    config = Config.load({"sensors": [table]}, "", errors)
    assert config is not None, errors
    runtime = SensorRuntime(config.sensors[0])
    with Reader([runtime]) as reader:
        done = until
        run_reader_until(reader, lambda: done(runtime), 10.0)
        (bus,) = (p for p in reader._ports.values() if isinstance(p, Bus))
        source = bus.source
        assert isinstance(source, SerialSource)
        return runtime, source


@pytest.mark.parametrize("echoes", [True, False])
def test_a_bus_with_local_echo_answers_every_request_whether_the_adapter_echoes_or_not(
    echoes: bool,
) -> None:
    """An echoing adapter: every echo dropped, none mistaken for a reply. One that does not
    echo: each reply ends its request's expectation and is passed on whole."""
    with PtyRelay(echo=echoes) as relay, ModbusServer([1], "serial", relay.far.path) as server:
        server.set(1, "holding", 0, [4321])
        runtime, source = run_bus(bus_table(relay.near.path, local_echo=True), relay)
    counters = runtime.modbus
    assert counters is not None
    assert counters.timeouts == 0
    assert sum(counters.errors.values()) == 0
    stats = runtime.snapshot().channels[0].stats
    assert stats is not None
    assert stats.reading.value == 4321.0
    echo = source.echo
    assert echo is not None
    if echoes:
        assert echo.mismatches == 0
        assert echo.echoed_bytes >= 8 * counters.transactions  # 8 bytes a request
    else:
        assert echo.echoed_bytes == 0
        assert echo.mismatches >= counters.transactions
    # the device shows its bus port's counts, in /status and on /metrics
    snap = runtime.snapshot()
    assert snap.local_echo == (echo.echoed_bytes, echo.mismatches)
    assert snap.as_json()["local_echo"] == {
        "echoed_bytes": echo.echoed_bytes,
        "mismatches": echo.mismatches,
    }
    value = MetricsRegistry(RuntimesView([runtime]), "0", 0).registry.get_sample_value
    labels = {"sensor": runtime.name}
    assert value("sensord_serial_echo_bytes_total", labels) == echo.echoed_bytes
    assert value("sensord_serial_echo_mismatches_total", labels) == echo.mismatches


def test_an_echoing_bus_with_a_silent_device_keeps_every_echo_in_step() -> None:
    """Requests to a device that never answers time out; their echoes still come, and the
    next request's echo and the live device's replies are told apart after each one."""
    live = bus_table("", local_echo=True)
    dead = bus_table("", local_echo=True) | {
        "name": "dead",
        "modbus": {"unit": 9, "interval_s": 0.02, "timeout_s": 0.05},
    }
    with (
        PtyRelay(echo=True, silent_units=[9]) as relay,
        ModbusServer([1], "serial", relay.far.path) as server,
    ):
        server.set(1, "holding", 0, [4321])
        live["port"] = dead["port"] = relay.near.path
        errors: list[str] = []
        config = Config.load({"sensors": [live, dead]}, "", errors)
        assert config is not None, errors
        runtimes = [SensorRuntime(s) for s in config.sensors]
        with Reader(runtimes) as reader:
            counters = runtimes[0].modbus
            silent = runtimes[1].modbus
            assert counters is not None
            assert silent is not None
            run_reader_until(
                reader, lambda: counters.transactions >= 20 and silent.timeouts >= 3, 10.0
            )
            (bus,) = (p for p in reader._ports.values() if isinstance(p, Bus))
            source = bus.source
            assert isinstance(source, SerialSource)
            assert source.echo is not None
            assert source.echo.mismatches == 0
    assert sum(counters.errors.values()) == 0
    assert silent.transactions == 0


def test_the_echo_counts_carry_across_the_opens_of_a_port() -> None:
    """Each open has a port of its own counting from zero; the sensor's totals go on."""
    counts = EchoCounts()
    first = LocalEcho()
    counts.opened(first)
    first.sent(b"REQ")
    assert first.strip(b"REQ") == b""
    counts.opened(first)  # the same port again (a device joining an open bus): counted once
    assert counts.totals() == (3, 0)
    second = LocalEcho()
    counts.opened(second)
    second.sent(b"AB")
    assert second.strip(b"XY") == b"XY"  # not its echo: passed on, counted
    assert counts.totals() == (3, 1)
    counts.opened(None)  # reopened on a port that drops no echo
    assert counts.totals() == (3, 1)


def test_a_sensor_without_local_echo_has_no_echo_series() -> None:
    errors: list[str] = []
    config = Config.load(
        {
            "sensors": [
                {"name": "plain", "port": "sim://x", "format": "value", "channels": [{"name": "v"}]}
            ]
        },
        "",
        errors,
    )
    assert config is not None, errors
    runtime = SensorRuntime(config.sensors[0])
    assert runtime.snapshot().local_echo is None
    assert runtime.snapshot().as_json()["local_echo"] is None
    value = MetricsRegistry(RuntimesView([runtime]), "0", 0).registry.get_sample_value
    assert value("sensord_serial_echo_bytes_total", {"sensor": "plain"}) is None


@pytest.mark.parametrize("echoes", [True, False])
def test_an_echoing_adapter_without_local_echo_is_read_and_told_of(echoes: bool) -> None:
    """An adapter that sends every request back (a 2-wire RS-485 line read by a port with no
    echo suppression: epics-modules/modbus issue 39, whose reads of /dev/ttyS0 held each
    request glued to its answer) and ``local_echo`` off: the answers after the echoes are
    read, the echoes are skipped bytes, and one warning says to set ``local_echo``; a dead
    unit on the same line goes down with a reason that names the echo, not a wrong baud rate
    (the bytes that came are its request's). With an adapter that does not echo, nothing of
    it is said."""
    live = bus_table("", local_echo=False)
    dead = bus_table("", local_echo=False) | {
        "name": "dead",
        "modbus": {"unit": 9, "interval_s": 0.02, "timeout_s": 0.05},
    }
    with (
        capture_logs() as logs,
        PtyRelay(echo=echoes, silent_units=[9]) as relay,
        ModbusServer([1], "serial", relay.far.path) as server,
    ):
        server.set(1, "holding", 0, [4321])
        live["port"] = dead["port"] = relay.near.path
        errors: list[str] = []
        config = Config.load({"sensors": [live, dead]}, "", errors)
        assert config is not None, errors
        runtimes = [SensorRuntime(s) for s in config.sensors]
        with Reader(runtimes) as reader:
            counters, silent = runtimes[0].modbus, runtimes[1].modbus
            assert counters is not None
            assert silent is not None
            run_reader_until(reader, lambda: counters.transactions >= 20 and silent.down, 10.0)
    assert counters.timeouts == 0
    assert sum(counters.errors.values()) == 0
    stats = runtimes[0].snapshot().channels[0].stats
    assert stats is not None
    assert stats.reading.value == 4321.0
    told = [e for e in logs if e["event"] == "requests come back as sent"]
    reason = runtimes[1].snapshot().as_json()["last_error"]
    assert isinstance(reason, str)
    if echoes:
        assert len(told) == 1
        assert "local_echo = true" in told[0]["hint"]
        assert "only the request came back" in reason, reason
        assert "check the baud rate and parity, and the bus's termination" not in reason
        assert runtimes[0].snapshot().skipped_bytes >= 8 * counters.transactions
    else:
        assert told == []
        assert "came back" not in reason, reason


@pytest.mark.parametrize("echoes", [True, False])
def test_a_set_up_write_s_echo_and_answer_are_not_taken_for_another_master(echoes: bool) -> None:
    """A set-up write of one register (function 06, which the device answers with the
    request's own bytes: the SCD30's start command) on an adapter that echoes, ``local_echo``
    off, at 9600 baud's pace: the echo is taken for the answer, and the device's answer that
    follows, the same bytes, is no frame nobody asked for (another master, or two devices
    of one unit id, as it was logged) nor a wrong function of the read after it: it is the
    echo's warning. The write is made and the reads go on; with an adapter that does not
    echo, nothing of it is said. The bus does not wait for the device's answer after the
    echo: ``gap_s`` keeps the line quiet for 0.15 s after the exchange, so that the server's
    answer, late on a loaded host, comes before the next request rather than across it."""
    table = bus_table("", local_echo=False)
    table["serial"]["baudrate"] = 9600
    table["modbus"] |= {"setup": [{"table": "holding", "address": 0x36, "value": 7}], "gap_s": 0.15}

    def scenario() -> tuple[tuple[SensorRuntime, list[Any], list[int]], HostLagged]:
        with (
            capture_logs() as logs,
            HostLag() as lag,
            PtyRelay(echo=echoes, char_s=10 / 9600) as relay,
            ModbusServer([1], "serial", relay.far.path) as server,
        ):
            server.set(1, "holding", 0, [4321])
            table["port"] = relay.near.path
            runtime, _ = run_bus(table, relay)
            written = server.get(1, "holding", 0x36)
        return (runtime, logs, written), (lag, relay.turnarounds_s)

    # the timeout (0.2 s) holds for answers that come within half of it
    (runtime, logs, written), how = steadily(scenario, answered_past(0.1))
    assert written == [7], how
    counters = runtime.modbus
    assert counters is not None
    assert counters.timeouts == 0, how
    assert counters.errors == dict.fromkeys(counters.errors, 0), how
    assert not [e for e in logs if e["event"] == "frame of the device's unit id nobody asked for"]
    told = [e for e in logs if e["event"] == "requests come back as sent"]
    assert len(told) == (1 if echoes else 0), how


def test_a_set_up_write_refused_after_its_echo_is_that_write_s_exception() -> None:
    """A set-up write of one register (function 06) to a register the device does not map, on
    an adapter that echoes, ``local_echo`` off, at 9600 baud's pace: the echo comes first and
    is taken for the answer (it is the answer's bytes), and the device's exception 02 after
    it is that write's: counted with its code, logged as a refused set-up write (not asked
    again), no frame nobody asked for. The reads go on. (It was counted as ``unasked``, and
    the write taken.) The bus does not wait for the device's word after the echo: ``gap_s``
    keeps the line quiet for 0.15 s after the exchange, so that the server's exception, late
    on a loaded host, comes before the next request rather than across it (where the
    request's partial frame drop loses it, as a collision on the line would)."""
    table = bus_table("", local_echo=False)
    table["serial"]["baudrate"] = 9600
    table["modbus"] |= {"setup": [{"table": "holding", "address": 5000, "value": 7}], "gap_s": 0.15}
    write = rtu_frame(bytes.fromhex("01 06 13 88 00 07"))

    def scenario() -> tuple[tuple[SensorRuntime, list[Any], int], HostLagged]:
        with (
            capture_logs() as logs,
            HostLag() as lag,
            PtyRelay(echo=True, char_s=10 / 9600) as relay,
            ModbusServer([1], "serial", relay.far.path) as server,
        ):
            server.set(1, "holding", 0, [4321])
            table["port"] = relay.near.path
            runtime, _ = run_bus(table, relay)
        return (runtime, logs, bytes(relay.requests).count(write)), (lag, relay.turnarounds_s)

    # the timeout (0.2 s) holds for answers that come within half of it
    (runtime, logs, writes), how = steadily(scenario, answered_past(0.1))
    assert writes == 1, how
    counters = runtime.modbus
    assert counters is not None
    assert counters.timeouts == 0, how
    assert counters.errors == dict.fromkeys(counters.errors, 0), how
    assert counters.exceptions == {2: 1}, how
    refused = [e for e in logs if e["event"] == "device refused a set-up write"]
    assert [(e["write"], e["code"]) for e in refused] == [("holding 5000 = [7] (06)", 2)], how
    assert not [e for e in logs if e["event"] == "frame of the device's unit id nobody asked for"]
    # told by the write's second copy: named by its sensor, as a read's echo is
    told = [e for e in logs if e["event"] == "requests come back as sent"]
    assert [(e["log_level"], e["sensor"], e["unit"], e["hint"]) for e in told] == [
        ("warning", "m", 1, ECHO_HINT)
    ], how


#: The events of the lines that tell how a set-up write ended.
WRITE_EVENTS = (
    "set-up write taken",
    "device refused a set-up write",
    "set-up write not echoed as sent",
    "set-up write unanswered",
)


def write_lines(logs: Sequence[Mapping[str, Any]]) -> list[tuple[str, Any]]:
    """The lines of ``logs`` that tell how a set-up write ended: (event, code or None)."""
    return [(e["event"], e.get("code")) for e in logs if e["event"] in WRITE_EVENTS]


@pytest.mark.slow
@pytest.mark.parametrize(
    ("echo", "address", "told"),
    [
        (True, 5000, [("device refused a set-up write", 2)]),
        (True, 54, [("set-up write taken", None)]),
        (False, 5000, [("device refused a set-up write", 2)]),
        (False, 54, [("set-up write taken", None)]),
    ],
    ids=["echo-refused", "echo-taken", "plain-refused", "plain-taken"],
)
def test_a_set_up_write_s_end_is_logged_once_whether_the_adapter_echoes_or_not(
    echo: bool, address: int, told: list[tuple[str, Any]]
) -> None:
    """A set-up write of one register (function 06) to a real device (pymodbus's serial
    server) at 9600 baud's pace, ``local_echo`` off, on an adapter that echoes each request
    (epics-modules/modbus issue 39) or not; to a register outside its map (exception 02) or
    in it. Function 06's answer is its request's bytes, so an adapter's echo and the
    device's answer are alike: the first copy cannot tell whether the device's word follows.
    Each write is logged once, as what it was: refused with its code (the echo's copy was
    logged as taken first, then the refusal), or taken (once, whether the device's copy
    came after an echo or alone). The write taken is in the device's memory.

    The bus takes the echo for the write's answer and does not wait for the device's own
    after it; ``gap_s`` keeps the line quiet for 0.15 s after each exchange, so that the
    server's answer, late on a loaded host, comes before the next request, not across it
    (where the request's partial frame drop loses it, as a collision on the line would)."""
    table = bus_table("", local_echo=False)
    table["serial"]["baudrate"] = 9600
    table["modbus"] |= {
        "setup": [{"table": "holding", "address": address, "value": 7}],
        "gap_s": 0.15,
        "timeout_s": 0.5,
    }
    with (
        capture_logs() as logs,
        PtyRelay(echo=echo, char_s=10 / 9600) as relay,
        ModbusServer([1], "serial", relay.far.path) as server,
    ):
        server.set(1, "holding", 0, [4321])
        table["port"] = relay.near.path
        # the write's line, and reads for longer than its timeout after it
        made_six = transactions_at_least(6)
        runtime, _ = run_bus(table, relay, lambda r: bool(write_lines(logs)) and made_six(r))
        if address == 54:
            assert server.get(1, "holding", 54) == [7]
    assert write_lines(logs) == told, logs
    counters = runtime.modbus
    assert counters is not None
    assert counters.exceptions == ({2: 1} if address == 5000 else {})
    assert counters.timeouts == 0


def test_a_write_answered_with_its_own_bytes_is_taken_at_once_and_logged_after_its_timeout(
    pty_pair: PtyPair,
) -> None:
    """A device that answers a set-up write (function 06) with the request's bytes, as it
    does, on an adapter that does not echo, ``local_echo`` off: the write is taken at once,
    and the read goes out right after it (no wait for a second copy that an echoing adapter
    would bring); its ``set-up write taken`` line comes once the write's timeout (0.2 s) has
    passed with no exception after it, at the bus's next tick, and only once."""
    table = bus_table(pty_pair.path, local_echo=False)
    table["modbus"] |= {
        "interval_s": 1.0,
        "setup": [{"table": "holding", "address": 54, "value": 7}],
    }
    write = rtu_frame(bytes.fromhex("01 06 00 36 00 07"))
    hand = HandBus(pty_pair, table)
    try:
        with capture_logs() as logs:
            assert hand.tick(100.0) == write
            hand.receive(100.01, write, look=False)
            assert hand.tick(100.02) == read_request(1, 0, 1)  # not held for the write
            hand.receive(100.03, read_reply(1, [9]), look=False)
            assert write_lines(logs) == []  # an exception of the write may still come
            hand.tick(100.21)
            assert write_lines(logs) == []
            hand.tick(100.22)
            assert write_lines(logs) == [("set-up write taken", None)]
            assert hand.tick(101.0) == read_request(1, 0, 1)  # the write is not asked again
            hand.receive(101.01, read_reply(1, [9]), look=False)
        assert write_lines(logs) == [("set-up write taken", None)]
        assert hand.counters("m").exceptions == {}
    finally:
        hand.close()


def test_a_set_up_write_busy_after_its_echo_is_asked_again_at_the_next_poll(
    pty_pair: PtyPair,
) -> None:
    """The same write on an echoing adapter (``local_echo`` off) answered busy (0x06) after
    its echo, at each of its polls: each busy answer is counted, the write asked again at the
    next poll (before the read), and after three polls running it is given up and logged as
    refused, as a write busy after its busy retries is; the reads are answered meanwhile.
    At the first poll the line is not known to echo: the echo is taken for the write's
    answer and the busy answer after it is the write's, asked again at the next poll. That
    busy answer after the echo tells the bus that the line echoes: at the polls after it
    the echo is dropped and the busy answer is the write's own, asked again ``busy_wait_s``
    (0.1 s) later up to ``busy_retries`` (3) times within the poll, as on a line that does
    not echo, before the read goes."""
    table = bus_table(pty_pair.path, local_echo=False)
    table["modbus"] |= {
        "interval_s": 1.0,
        "setup": [{"table": "holding", "address": 54, "value": 7}],
    }
    write = rtu_frame(bytes.fromhex("01 06 00 36 00 07"))
    busy = rtu_frame(bytes.fromhex("01 86 06"))
    hand = HandBus(pty_pair, table)
    try:
        with capture_logs() as logs:
            for poll in range(3):
                at = 100.0 + poll
                for asked in range(1 if poll == 0 else 4, 0, -1):
                    assert hand.tick(at) == write
                    hand.receive(at + 0.001, write, look=False)
                    hand.receive(at + 0.01, busy, look=False)
                    if asked > 1:  # held for its busy wait: the read does not go
                        assert hand.tick(at + 0.02) == b""
                        at += 0.11
                assert hand.tick(at + 0.02) == read_request(1, 0, 1)
                # the adapter echoes the read's request too, before its answer
                hand.receive(at + 0.03, read_request(1, 0, 1) + read_reply(1, [9]), look=False)
            assert hand.tick(103.0) == read_request(1, 0, 1)
        counters = hand.counters("m")
        assert counters.exceptions == {6: 9}
        assert counters.errors == dict.fromkeys(counters.errors, 0)
        refused = [e for e in logs if e["event"] == "device refused a set-up write"]
        assert [(e["code"], e["hint"]) for e in refused] == [(6, WRITE_BUSY_TOLD)]
        # never logged as taken: each echo's line gave way to the busy answer after it
        assert write_lines(logs) == [("device refused a set-up write", 6)]
    finally:
        hand.close()


def test_a_set_up_write_acknowledged_after_its_echo_is_counted_once(pty_pair: PtyPair) -> None:
    """The write of :func:`test_a_set_up_write_busy_after_its_echo_is_asked_again_at_the_next_poll`
    answered 0x05 (acknowledge) after its echo: taken (as its echo was), not asked again,
    and that exception response counted once by its code."""
    table = bus_table(pty_pair.path, local_echo=False)
    table["modbus"] |= {
        "interval_s": 1.0,
        "setup": [{"table": "holding", "address": 54, "value": 7}],
    }
    write = rtu_frame(bytes.fromhex("01 06 00 36 00 07"))
    hand = HandBus(pty_pair, table)
    try:
        with capture_logs() as logs:
            assert hand.tick(100.0) == write
            hand.receive(100.001, write, look=False)
            hand.receive(100.01, rtu_frame(bytes.fromhex("01 86 05")), look=False)
            for at in (100.02, 101.0, 102.0):
                assert hand.tick(at) == read_request(1, 0, 1)
                hand.receive(at + 0.01, read_reply(1, [9]), look=False)
        counters = hand.counters("m")
        assert counters.exceptions == {5: 1}
        assert counters.errors == dict.fromkeys(counters.errors, 0)
        # logged once, taken as acknowledged
        taken = [e for e in logs if e["event"] in WRITE_EVENTS]
        assert [(e["event"], e.get("acknowledged")) for e in taken] == [
            ("set-up write taken", True)
        ]
    finally:
        hand.close()


def test_the_next_write_refused_within_the_first_one_s_timeout_is_refused_itself(
    pty_pair: PtyPair,
) -> None:
    """Two set-up writes of one register (function 06) to one device, on an adapter that does
    not echo, ``local_echo`` off: the device answers the first with its request's bytes, as
    it does, and the second, sent within the first's timeout, with exception 02. That
    exception answers the second write, in flight: the second is the write refused and the
    first is taken, no timeout, no spoilt frame and no echo told of. (It was taken for the
    first write's answer after an echo: the first logged as refused, an echo warned of, the
    second left to time out as a CRC error.)"""
    table = bus_table(pty_pair.path, local_echo=False)
    table["modbus"] |= {
        "interval_s": 1.0,
        "setup": [
            {"table": "holding", "address": 54, "value": 7},
            {"table": "holding", "address": 55, "value": 8},
        ],
    }
    first = rtu_frame(bytes.fromhex("01 06 00 36 00 07"))
    second = rtu_frame(bytes.fromhex("01 06 00 37 00 08"))
    refused = rtu_frame(bytes.fromhex("01 86 02"))
    hand = HandBus(pty_pair, table)
    try:
        with capture_logs() as logs:
            assert hand.tick(100.0) == first
            hand.receive(100.01, first, look=False)
            assert hand.tick(100.02) == second
            hand.receive(100.03, refused, look=False)
            assert hand.tick(100.04) == read_request(1, 0, 1)
            hand.receive(100.05, read_reply(1, [9]), look=False)
        counters = hand.counters("m")
        assert counters.exceptions == {2: 1}
        assert counters.timeouts == 0
        assert counters.errors == dict.fromkeys(counters.errors, 0)
        taken = [e["write"] for e in logs if e["event"] == "set-up write taken"]
        assert taken == ["holding 54 = [7] (06)"]
        refusals = [e for e in logs if e["event"] == "device refused a set-up write"]
        assert [(e["write"], e["code"]) for e in refusals] == [("holding 55 = [8] (06)", 2)]
        assert not [e for e in logs if e["event"] == "requests come back as sent"]
        assert hand.values("m")["a"] == (9.0, 9.0, 1)
    finally:
        hand.close()


def test_the_probe_tells_an_echo_with_no_answer_after_it_from_noise(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """``sensord modbus read`` on an echoing adapter without ``--local-echo``: a unit that
    answers is read (its echo skipped); one that does not is told as the request's echo with
    no answer after it, not as bytes that make no frame (check the baud rate), which the
    request's 8 bytes were taken for."""
    with (
        PtyRelay(echo=True, silent_units=[9]) as relay,
        ModbusServer([1], "serial", relay.far.path) as server,
    ):
        server.set(1, "holding", 0, [4321])
        read = ["--holding", "0", "--timeout", "0.2"]
        assert main(["modbus", "read", relay.near.path, "--unit", "1", *read]) == 0
        assert "      0: 0x10e1   4321\n" in capsys.readouterr().out
        assert main(["modbus", "read", relay.near.path, "--unit", "9", *read]) == 1
        err = capsys.readouterr().err
    assert "only what was sent came back (1 request, as sent)" in err, err
    assert "--local-echo" in err
    assert "make no Modbus frame" not in err


def test_the_probe_still_tells_bytes_after_an_echo_as_noise(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """On an echoing adapter, bytes after the echo that make no frame (a device at another
    baud rate) are still told as such, not as an echo alone."""
    with (
        PtyRelay(lambda reply: b"\x7f\xe6\x18\x80\xfe", echo=True) as relay,
        ModbusServer([1], "serial", relay.far.path),
    ):
        read = ["--holding", "0", "--timeout", "0.2"]
        assert main(["modbus", "read", relay.near.path, "--unit", "1", *read]) == 1
        err = capsys.readouterr().err
    assert "make no Modbus frame" in err, err
    assert "only what was sent came back" not in err


def play_echoing_line(
    hand: HandBus,
    until: float,
    answer: set[int],
    *,
    echo: bool = True,
    damaged: frozenset[int] = frozenset(),
    bytewise: bool = False,
    silent_writes: frozenset[int] = frozenset(),
) -> list[bytes]:
    """Run ``hand``'s bus on an adapter that echoes, ``local_echo`` off, from its clock to
    ``until`` in steps of 10 ms: each request comes back as sent (unless ``echo`` is False:
    an adapter that does not echo; a request to a unit in ``damaged`` comes back with its
    third byte damaged), then, from a unit in ``answer``, its answer (a read of one
    register: 9; a write: its answer, the request's first 6 bytes with their CRC; none to a
    write to a unit in ``silent_writes``), in one piece or (``bytewise``) one byte at a
    time. The requests sent, in order."""
    sent: list[bytes] = []
    looked = hand.bus.in_flight
    at = hand.now
    while at < until:
        hand.now = at
        hand.bus.tick(at)
        flight = hand.bus.in_flight
        if flight is not None and flight is not looked:
            looked = flight
            request = hand.pty.read(len(flight.request), timeout_s=0.05)
            assert request == flight.request
            sent.append(request)
            reply = b""
            if request[0] in answer and not (request[1] != 3 and request[0] in silent_writes):
                body = request[:6]
                reply = read_reply(request[0], [9]) if request[1] == 3 else rtu_frame(body)
            back = request
            if request[0] in damaged:
                back = request[:2] + bytes([request[2] ^ 0x10]) + request[3:]
            came = (back if echo else b"") + reply
            for piece in [came[i : i + 1] for i in range(len(came))] if bytewise else [came]:
                if piece:
                    hand.receive(at + 0.001, piece, look=False)
        at = round(at + 0.01, 3)
    return sent


def echo_table(path: str, unit: int, name: str, **modbus: Any) -> dict[str, Any]:
    table = bus_table(path, local_echo=False) | {"name": name}
    table["modbus"] = {"unit": unit, "interval_s": 1.0, "timeout_s": 0.2, **modbus}
    return table


@pytest.mark.parametrize("function", [6, 16])
def test_a_write_whose_echo_alone_came_on_a_line_known_to_echo_is_unanswered(
    pty_pair: PtyPair, function: int
) -> None:
    """An adapter that echoes, ``local_echo`` off: the bus has seen a read of unit 1 come
    back as sent before its answer, so it knows the line echoes. A set-up write (function
    06, whose answer is its request's bytes; 16, whose answer begins as its request does) to
    unit 2, which is silent: its echo alone comes. The echo is no answer: the exchange waits
    out its timeout (no request goes meanwhile), the write is not taken, it is asked again
    at each poll, and after three polls it is logged as unanswered, with the echo named.
    (The echo was taken for the 06's answer, the write logged as taken; the 16's echo was
    counted as a spoilt answer, ``crc``, at every poll, never told.)"""
    setup = [{"table": "holding", "address": 54, "value": 7, "function": function}]
    hand = HandBus(pty_pair, echo_table("", 1, "m"), echo_table("", 2, "w", setup=setup))
    try:
        with capture_logs() as logs:
            sent = play_echoing_line(hand, 100.02, {1})
            assert [r[0] for r in sent] == [1, 2]  # the read of unit 1, then the write
            assert hand.bus.in_flight is not None  # the write's echo came: still waited on
            assert hand.bus.in_flight.expected.write
            sent += play_echoing_line(hand, 100.2, {1})
            assert len(sent) == 2  # nothing else goes while the write may be answered
            sent += play_echoing_line(hand, 104.0, {1})
        writes = [r for r in sent if r[0] == 2 and r[1] == function]
        assert len(writes) == 3
        counters = hand.counters("w")
        assert counters.errors == dict.fromkeys(counters.errors, 0)
        assert write_lines(logs) == [("set-up write unanswered", None)]
        (told,) = [e for e in logs if e["event"] == "set-up write unanswered"]
        assert "only the request came back" in told["hint"], told
        assert hand.counters("m").timeouts == 0
    finally:
        hand.close()


def test_a_write_whose_echo_alone_came_from_a_device_that_answers_its_reads_names_the_write(
    pty_pair: PtyPair,
) -> None:
    """The echoing line of
    :func:`test_a_write_whose_echo_alone_came_on_a_line_known_to_echo_is_unanswered`, where
    unit 2 answers its reads and leaves its set-up write unanswered (ioBroker/ioBroker.modbus
    issue 77: a write times out while every polled value is read): after three polls the
    write is logged as unanswered with its echo named, and the hint says the unit id, the
    line's settings and the wiring are right, pointing at the write, not at them."""
    setup = [{"table": "holding", "address": 54, "value": 7}]
    hand = HandBus(pty_pair, echo_table("", 1, "m"), echo_table("", 2, "w", setup=setup))
    try:
        with capture_logs() as logs:
            play_echoing_line(hand, 104.0, {1, 2}, silent_writes=frozenset({2}))
        assert write_lines(logs) == [("set-up write unanswered", None)]
        (told,) = [e for e in logs if e["event"] == "set-up write unanswered"]
        assert told["hint"].startswith(
            "only the request came back, as sent (the adapter's echo), and no answer after "
            "it: the device answers its other requests ("
        ), told["hint"]
        assert "check the unit id" not in told["hint"], told["hint"]
        assert hand.counters("w").timeouts == 3
    finally:
        hand.close()


@pytest.mark.parametrize("function", [6, 16])
def test_a_write_answered_after_its_echo_on_a_line_known_to_echo_is_taken_at_once(
    pty_pair: PtyPair, function: int
) -> None:
    """The line of :func:`test_a_write_whose_echo_alone_came_on_a_line_known_to_echo_is_unanswered`
    with unit 2 answering its write after the echo: the write is taken at its answer, and
    logged then (no wait for a copy of it), never asked again; its read follows."""
    setup = [{"table": "holding", "address": 54, "value": 7, "function": function}]
    hand = HandBus(pty_pair, echo_table("", 1, "m"), echo_table("", 2, "w", setup=setup))
    try:
        with capture_logs() as logs:
            sent = play_echoing_line(hand, 100.02, {1, 2})
            assert [r[0] for r in sent] == [1, 2]
            assert hand.bus.in_flight is None
            assert write_lines(logs) == [("set-up write taken", None)]
            sent += play_echoing_line(hand, 103.0, {1, 2})
        assert [r for r in sent if r[1] == function] == [sent[1]]
        assert hand.values("w")["a"] == (9.0, 9.0, 3)
        assert write_lines(logs) == [("set-up write taken", None)]
        for name in ("m", "w"):
            counters = hand.counters(name)
            assert counters.timeouts == 0
            assert counters.errors == dict.fromkeys(counters.errors, 0)
    finally:
        hand.close()


@pytest.mark.parametrize("function", [6, 16])
def test_a_silent_unit_s_write_on_an_echoing_line_is_told_unanswered_not_taken(
    function: int,
) -> None:
    """A real device (pymodbus's serial server, unit 1) read through an adapter that echoes
    (epics-modules/modbus issue 39), ``local_echo`` off, and a unit that never answers (9)
    with a set-up write: once unit 1's reads came back as sent, the silent unit's write,
    whose echo alone comes, is logged as unanswered (naming the echo), never as taken. A
    second device (unit 2) answers its write after the echo: taken once, in its memory.
    Pymodbus drops such an echo from the front of what comes (its transport's
    ``handle_local_echo``), the answer coming after it."""
    setup = [{"table": "holding", "address": 54, "value": 7, "function": function}]
    # the answering units' timeout is long enough for a real server's answer on a loaded
    # host: none of theirs may time out below
    live = echo_table("", 1, "m", interval_s=0.05, timeout_s=1.0)
    writer = echo_table("", 2, "w", interval_s=0.05, timeout_s=1.0, setup=setup)
    dead = echo_table("", 9, "dead", interval_s=0.05, timeout_s=0.1, setup=setup)
    with (
        capture_logs() as logs,
        PtyRelay(echo=True, silent_units=[9]) as relay,
        ModbusServer([1, 2], "serial", relay.far.path) as server,
    ):
        server.set(1, "holding", 0, [4321])
        server.set(2, "holding", 0, [1234])
        for table in (live, writer, dead):
            table["port"] = relay.near.path
        errors: list[str] = []
        config = Config.load({"sensors": [live, writer, dead]}, "", errors)
        assert config is not None, errors
        runtimes = [SensorRuntime(s) for s in config.sensors]
        with Reader(runtimes) as reader:

            def told() -> bool:
                return any(e["event"] == "set-up write unanswered" for e in logs)

            run_reader_until(reader, told, 10.0)
        assert server.get(2, "holding", 54) == [7]
    lines = [(e["event"], e["sensor"]) for e in logs if e["event"] in WRITE_EVENTS]
    assert lines == [("set-up write taken", "w"), ("set-up write unanswered", "dead")], lines
    (unanswered,) = [e for e in logs if e["event"] == "set-up write unanswered"]
    assert "only the request came back" in unanswered["hint"]
    for runtime in runtimes[:2]:
        counters = runtime.modbus
        assert counters is not None
        assert counters.timeouts == 0
        assert counters.errors == dict.fromkeys(counters.errors, 0)


def test_a_write_after_the_adapter_stopped_echoing_is_taken_on_its_answer(
    pty_pair: PtyPair,
) -> None:
    """An adapter that echoes, ``local_echo`` off, so the bus learns that the line echoes;
    then the line stops echoing while the port stays open (an adapter whose echo is switched
    off by its DIP switch or jumper, a serial server whose RTU line behind its TCP connection
    is moved to another adapter). Unit 1's reads are answered with no echo before them, which
    tells that the line echoes no more. Unit 2 goes silent until it is down, then answers
    again, and its set-up write (function 06) is asked again: its answer, the request's own
    bytes, is the device's, not an echo. The write is taken, once each time, and never told
    as unanswered with the echo's hint. (With the line still taken to echo, that answer was
    dropped as the write's echo, the write asked again at each poll, rewriting the device's
    memory, and told "set-up write unanswered", "only the request came back".)"""
    setup = [{"table": "holding", "address": 54, "value": 7, "function": 6}]
    hand = HandBus(pty_pair, echo_table("", 1, "m"), echo_table("", 2, "w", setup=setup))
    try:
        with capture_logs() as logs:
            play_echoing_line(hand, 103.0, {1, 2})
            assert hand.bus._line_echoes
            assert write_lines(logs) == [("set-up write taken", None)]
            play_echoing_line(hand, 104.0, {1, 2}, echo=False)
            play_echoing_line(hand, 130.0, {1}, echo=False)
            assert hand.counters("w").down
            sent = play_echoing_line(hand, 200.0, {1, 2}, echo=False)
        assert not hand.counters("w").down
        writes = [r for r in sent if r[0] == 2 and r[1] == 6]
        assert len(writes) == 1
        assert write_lines(logs) == [("set-up write taken", None)] * 2
        assert hand.counters("m").timeouts == 0
    finally:
        hand.close()


def test_a_read_whose_echo_came_damaged_leaves_the_line_known_to_echo(pty_pair: PtyPair) -> None:
    """The line of :func:`test_a_write_whose_echo_alone_came_on_a_line_known_to_echo_is_unanswered`
    (unit 2 silent, its set-up write of function 06 echoed alone) where, after the first
    poll, unit 1's read requests come back with a byte damaged on the line before the
    answer: bytes came before the answer, so the line still echoes (only a read answered
    with nothing before it tells that it echoes no more). The silent unit's write is told
    unanswered, never taken on its echo."""
    setup = [{"table": "holding", "address": 54, "value": 7, "function": 6}]
    hand = HandBus(pty_pair, echo_table("", 1, "m"), echo_table("", 2, "w", setup=setup))
    try:
        with capture_logs() as logs:
            play_echoing_line(hand, 100.5, {1})
            assert hand.bus._line_echoes
            play_echoing_line(hand, 104.0, {1}, damaged=frozenset({1}))
        assert write_lines(logs) == [("set-up write unanswered", None)]
        assert hand.counters("m").timeouts == 0
    finally:
        hand.close()


def pieces(data: bytes) -> list[list[bytes]]:
    """``data`` one byte at a time, and cut in two at each place."""
    cuts = [list(chunked(data, [at])) for at in range(1, len(data))]
    return [[data[at : at + 1] for at in range(len(data))], *cuts]


@pytest.mark.parametrize("echo", [True, False], ids=["echoed", "echo-stopped"])
def test_a_16_answer_in_pieces_on_a_line_known_to_echo_is_read_whole(echo: bool) -> None:
    """An adapter that echoes, ``local_echo`` off: unit 1's read came back as sent before its
    answer, so the bus knows that the line echoes. Unit 2's set-up write of function 16 goes
    next, and its answer (the request's first 6 bytes, then a CRC of their own) arrives in
    pieces: one byte at a time, or cut in two anywhere, behind the write's echo or with none
    before it (the adapter's echo stopped with the port left open, as a DIP switch or a
    serial server's line moved to another adapter stops it: the case of
    :func:`test_a_write_after_the_adapter_stopped_echoing_is_taken_on_its_answer`). The echo
    is dropped, counted as skipped bytes, and the answer is read whole: the write is taken at
    once, never timed out. Pymodbus's ``handle_local_echo`` drops a piece that begins the
    request as its "partial local_echo" at once, and so did the bus: the answer's first 6
    bytes, the request's own, went as echo, the write timed out and was asked again. Dropping
    bytes as echo that may be the device's is what libmodbus pull request 432 warns of ("we
    could drop erroneously bytes of the legitimate response from a peer")."""
    setup = [{"table": "holding", "address": 54, "value": 7, "function": 16}]
    write = rtu_frame(bytes.fromhex("02 10 00 36 00 01 02 00 07"))
    for split in pieces((write if echo else b"") + rtu_frame(bytes.fromhex("02 10 00 36 00 01"))):
        with PtyPair() as pty:
            hand = HandBus(pty, echo_table("", 1, "m"), echo_table("", 2, "w", setup=setup))
            try:
                with capture_logs() as logs:
                    assert hand.tick(100.0) == read_request(1, 0, 1)
                    hand.receive(100.001, read_request(1, 0, 1) + read_reply(1, [9]), look=False)
                    assert hand.bus._line_echoes
                    hand.now = 100.01
                    hand.bus.tick(100.01)
                    assert pty.read(len(write), timeout_s=0.05) == write
                    for at, piece in enumerate(split):
                        hand.receive(100.011 + at / 10000, piece, look=False)
                    assert hand.bus.in_flight is None, split
                assert write_lines(logs) == [("set-up write taken", None)], split
                counters = hand.counters("w")
                assert counters.timeouts == 0
                assert counters.errors == dict.fromkeys(counters.errors, 0)
                skipped = hand.runtimes["w"].snapshot().skipped_bytes
                assert skipped == (len(write) if echo else 0), split
            finally:
                hand.close()


def echo_start_held(pty_pair: PtyPair) -> HandBus:
    """The line where a meter ``m`` (unit 1) is read, its echo and answer come, and then a
    device ``w`` (unit 2) is written its set-up (06, holding 54 = 7), of whose echo only the
    first 4 bytes come: the bus holds them as the echo's start."""
    setup = [{"table": "holding", "address": 54, "value": 7, "function": 6}]
    write = rtu_frame(bytes.fromhex("02 06 00 36 00 07"))
    hand = HandBus(pty_pair, echo_table("", 1, "m"), echo_table("", 2, "w", setup=setup))
    try:
        assert hand.tick(100.0) == read_request(1, 0, 1)
        hand.receive(100.001, read_request(1, 0, 1) + read_reply(1, [9]), look=False)
        assert hand.tick(100.01) == write
        hand.receive(100.011, write[:4], look=False)
    except BaseException:
        hand.close()
        raise
    return hand


def test_the_first_bytes_of_a_write_s_echo_alone_are_counted_at_its_timeout(
    pty_pair: PtyPair,
) -> None:
    """The line of :func:`test_a_16_answer_in_pieces_on_a_line_known_to_echo_is_read_whole`,
    where only the first 4 bytes of the write's echo come, and nothing after them: the bytes
    held back as the echo's start are counted as skipped bytes when the write times out,
    and the write is asked again."""
    hand = echo_start_held(pty_pair)
    try:
        assert hand.runtimes["w"].snapshot().skipped_bytes == 0
        hand.tick(100.3)
        assert hand.bus.in_flight is None
        assert hand.counters("w").timeouts == 1
        assert hand.runtimes["w"].snapshot().skipped_bytes == 4
    finally:
        hand.close()


def test_the_first_write_after_an_open_on_an_echoing_line_is_not_taken_on_its_echo(
    pty_pair: PtyPair,
) -> None:
    """An adapter that echoes, ``local_echo`` off, and one device (unit 2) whose set-up write
    (function 06, whose answer is its request's own bytes) is the first request after the
    port opens, before any read has shown that the line echoes, and which answers nothing
    (unpowered, or at another address). The write's echo alone comes back: it cannot be told
    from the device's answer when it comes, so the bus goes on without waiting for a
    second copy, and the device's read, sent next, comes back as sent too: the line echoes,
    so the write's one copy was its echo. The write is not taken: it is asked again at the
    next poll, where the line is known to echo, and after three polls it is logged as
    unanswered, naming the echo, never as taken. Its first poll counts no answer and one
    timeout, as a write whose echo alone came on a line known to echo does. (It was taken
    on its echo and logged as taken, and never asked again: libmodbus pull request 432 and
    pymodbus's ``handle_local_echo`` drop the echo only when told the adapter echoes.)"""
    setup = [{"table": "holding", "address": 54, "value": 7, "function": 6}]
    hand = HandBus(pty_pair, echo_table("", 2, "w", setup=setup))
    write = rtu_frame(bytes.fromhex("02 06 00 36 00 07"))
    try:
        with capture_logs() as logs:
            sent = play_echoing_line(hand, 100.5, set())
            assert sent == [write, read_request(2, 0, 1)]
            assert write_lines(logs) == []
            counters = hand.counters("w")
            assert (counters.transactions, counters.timeouts) == (0, 2)
            sent += play_echoing_line(hand, 104.0, set())
        assert [r for r in sent if r == write] == [write] * 3
        assert write_lines(logs) == [("set-up write unanswered", None)]
        (told,) = [e for e in logs if e["event"] == "set-up write unanswered"]
        assert "only the request came back" in told["hint"], told
    finally:
        hand.close()


def test_a_write_answered_after_a_damaged_echo_on_a_line_known_to_echo_is_taken(
    pty_pair: PtyPair,
) -> None:
    """The line of :func:`test_a_write_whose_echo_alone_came_on_a_line_known_to_echo_is_unanswered`
    (known to echo from unit 1's read), where unit 2's set-up write (function 06) comes back
    with a byte damaged on the line, then unit 2's answer, the request's own bytes: the
    damaged bytes are no echo, so that copy is the device's answer, and the line being
    known to echo does not make it an echo when its window ends. Taken once, never asked
    again."""
    setup = [{"table": "holding", "address": 54, "value": 7, "function": 6}]
    hand = HandBus(pty_pair, echo_table("", 1, "m"), echo_table("", 2, "w", setup=setup))
    try:
        with capture_logs() as logs:
            sent = play_echoing_line(hand, 103.0, {1, 2}, damaged=frozenset({2}))
        assert len([r for r in sent if r[:2] == b"\x02\x06"]) == 1
        assert write_lines(logs) == [("set-up write taken", None)]
        counters = hand.counters("w")
        assert counters.timeouts == 0
    finally:
        hand.close()


def test_a_silent_unit_s_first_write_on_an_echoing_line_is_told_unanswered_not_taken() -> None:
    """An adapter that echoes (epics-modules/modbus issue 39), ``local_echo`` off, and a unit
    that never answers (9) whose set-up write (function 06) is the first request after the
    port opens, before any read: its echo alone comes back. The read sent after it comes
    back as sent, so the bus knows then that the line echoes: the write is logged as
    unanswered (naming the echo) after its three polls, never as taken. A real device
    (pymodbus's serial server, unit 1) on the same line, polled after it, is read all along
    and never times out."""
    setup = [{"table": "holding", "address": 54, "value": 7, "function": 6}]
    dead = echo_table("", 9, "dead", interval_s=0.05, timeout_s=0.1, setup=setup)
    live = echo_table("", 1, "m", interval_s=0.05, timeout_s=1.0, connect_delay_s=0.05)
    with (
        capture_logs() as logs,
        PtyRelay(echo=True, silent_units=[9]) as relay,
        ModbusServer([1], "serial", relay.far.path) as server,
    ):
        server.set(1, "holding", 0, [4321])
        for table in (dead, live):
            table["port"] = relay.near.path
        errors: list[str] = []
        config = Config.load({"sensors": [dead, live]}, "", errors)
        assert config is not None, errors
        runtimes = [SensorRuntime(s) for s in config.sensors]
        with Reader(runtimes) as reader:

            def told() -> bool:
                return any(e["event"] == "set-up write unanswered" for e in logs)

            run_reader_until(reader, told, 10.0)
        write = rtu_frame(bytes.fromhex("09 06 00 36 00 07"))
        assert bytes(relay.requests).startswith(write)  # the first request after the open
    lines = [(e["event"], e["sensor"]) for e in logs if e["event"] in WRITE_EVENTS]
    assert lines == [("set-up write unanswered", "dead")], lines
    (unanswered,) = [e for e in logs if e["event"] == "set-up write unanswered"]
    assert "only the request came back" in unanswered["hint"]
    counters = runtimes[1].modbus
    assert counters is not None
    assert counters.transactions > 0
    assert counters.timeouts == 0


@pytest.mark.parametrize("bytewise", [False, True], ids=["whole", "bytewise"])
@pytest.mark.parametrize(
    ("echo", "answers"),
    [(True, False), (True, True), (False, True)],
    ids=["silent", "answering", "plain-answering"],
)
def test_two_writes_before_any_read_are_settled_together(
    pty_pair: PtyPair, echo: bool, answers: bool, bytewise: bool
) -> None:
    """The line of :func:`test_the_first_write_after_an_open_on_an_echoing_line_is_not_taken_on_its_echo`
    with two set-up writes of function 06 (an SCD30's ambient pressure and its start, say)
    before the device's first read. Silent, each write's echo alone comes: the second
    write's first copy tells nothing of the first's, and the read after them comes back as
    sent, so both were echoes: both are asked again at each poll and logged as unanswered
    after three, neither as taken. Answering (each write's answer, its copy, after its echo,
    before the next request), both are taken once, at the first poll, and so they are on an
    adapter that does not echo (each write's one copy its device's answer), each exchange
    counted as answered once its lot is known, no timeout. Whether the bytes come
    whole or one at a time (the second write's echo cut from the stream then, not read
    whole)."""
    hand = HandBus(pty_pair, echo_table("", 2, "w", setup=TWO_WRITES))
    try:
        with capture_logs() as logs:
            sent = play_echoing_line(
                hand, 104.0, {2} if answers else set(), echo=echo, bytewise=bytewise
            )
        writes = [r for r in sent if r[1] == 6]
        if answers:
            assert len(writes) == 2
            assert write_lines(logs) == [("set-up write taken", None)] * 2
            counters = hand.counters("w")
            assert counters.timeouts == 0
            assert counters.transactions == len(sent)
        else:
            assert len(writes) == 6
            assert write_lines(logs) == [("set-up write unanswered", None)] * 2
    finally:
        hand.close()


@pytest.mark.parametrize("echo", [True, False], ids=["echoing", "plain"])
def test_a_write_before_a_long_gap_is_settled_by_the_request_after_it(
    pty_pair: PtyPair, echo: bool
) -> None:
    """The line of :func:`test_the_first_write_after_an_open_on_an_echoing_line_is_not_taken_on_its_echo`
    with the device's ``modbus.gap_s`` (0.3 s) longer than its timeout (0.2 s): its read goes
    out after the write's timeout has passed. The write's one copy is settled by that read
    all the same: on an echoing adapter, with the device silent, the read comes back as
    sent, and the write is unanswered, asked again and logged so after three polls, never
    taken; on an adapter that does not echo, with the device answering, the read's answer
    with nothing before it leaves the copy the device's answer: taken once, no timeout."""
    setup = [{"table": "holding", "address": 54, "value": 7, "function": 6}]
    hand = HandBus(pty_pair, echo_table("", 2, "w", setup=setup, gap_s=0.3))
    try:
        with capture_logs() as logs:
            sent = play_echoing_line(hand, 104.0, set() if echo else {2}, echo=echo)
        writes = [r for r in sent if r[1] == 6]
        counters = hand.counters("w")
        if echo:
            assert len(writes) == 3
            assert write_lines(logs) == [("set-up write unanswered", None)]
        else:
            assert len(writes) == 1
            assert write_lines(logs) == [("set-up write taken", None)]
            assert counters.timeouts == 0
            assert counters.transactions == len(sent)
    finally:
        hand.close()


def test_a_write_s_copy_waits_for_the_request_after_it_to_be_done(pty_pair: PtyPair) -> None:
    """The echoing line of :func:`test_a_write_before_a_long_gap_is_settled_by_the_request_after_it`,
    step by step: past the write's timeout, while the read sent after the write awaits its
    first bytes, the write's one copy is not settled yet (the read's echo may still come);
    the read's echo comes, and at the read's timeout the write is unanswered (a timeout of
    its own beside the read's), its copy never counted as an answer nor logged as taken."""
    setup = [{"table": "holding", "address": 54, "value": 7, "function": 6}]
    hand = HandBus(pty_pair, echo_table("", 2, "w", setup=setup, gap_s=0.3))
    write = rtu_frame(bytes.fromhex("02 06 00 36 00 07"))
    try:
        with capture_logs() as logs:
            assert hand.tick(100.0) == write
            hand.receive(100.001, write, look=False)
            assert hand.tick(100.25) == b""  # the window has passed; the gap holds the read
            assert hand.tick(100.31) == read_request(2, 0, 1)
            assert hand.tick(100.32) == b""
            assert write_lines(logs) == []
            hand.receive(100.321, read_request(2, 0, 1), look=False)
            hand.tick(100.6)
            assert hand.bus.in_flight is None
        assert write_lines(logs) == []
        counters = hand.counters("w")
        assert (counters.transactions, counters.timeouts) == (0, 2)
        assert hand.bus.in_flight is None
    finally:
        hand.close()


@pytest.mark.parametrize("refused", [False, True], ids=["taken", "refused"])
def test_a_slow_device_s_answer_to_a_write_after_the_next_write_s_echo_is_that_write_s(
    pty_pair: PtyPair, refused: bool
) -> None:
    """The line of :func:`test_two_writes_before_any_read_are_settled_together`, echoing, with
    a device that takes longer to answer a write than the bus takes to send the next one:
    meters answer in 20 to 80 ms (a Carlo Gavazzi EM24 "typical 20-60ms",
    ioBroker/ioBroker.modbus issue 262; a NuttX slave 50 ms, apache/nuttx-apps issue 3037),
    while at 115200 baud the silence after the first write's echo is 1.75 ms. The first
    write's echo comes, the second write goes out and its echo comes, then the device's
    answer to the first write, 25 ms after it: its copy, or exception 02 (a register it does
    not map); busy with the first, the device drops the second. That answer is the first
    write's, after its echo: the write is taken, or refused and not asked again, told at
    once; and the line echoes, so the second write's one copy was its echo: it counts one
    timeout and is asked again at the next poll, where its echo is dropped and its answer
    taken. The read goes out at once, no frame is counted as nobody's. (The copy was taken
    for a frame nobody asked for, ``unasked``, which held the read back for the device's
    timeout, and settled both writes as taken; the exception was taken for the second
    write's refusal, and the first write asked again. Either way the second write, never
    done, was not asked again.)"""
    first, second = TWO_WRITES_SENT
    answer = rtu_frame(bytes.fromhex("02 86 02")) if refused else first
    told = ("device refused a set-up write", 2) if refused else ("set-up write taken", None)
    read = read_request(2, 0, 1)
    hand = HandBus(pty_pair, echo_table("", 2, "w", setup=TWO_WRITES))
    try:
        with capture_logs() as logs:
            assert hand.tick(100.0) == first
            hand.receive(100.001, first, look=False)  # its echo
            assert hand.tick(100.005) == second
            hand.receive(100.006, second, look=False)  # its echo
            hand.receive(100.025, answer, look=False)  # the device's answer to the first
            assert write_lines(logs) == [told]
            assert hand.bus._line_echoes  # known before the read's echo shows it
            assert hand.tick(100.03) == read  # not held back for a drain
            hand.receive(100.031, read + read_reply(2, [9]), look=False)
            assert hand.tick(100.3) == b""  # the second write's window has passed
            assert hand.tick(101.0) == second  # asked again, before the read
            hand.receive(101.001, second + second, look=False)  # its echo, then its answer
            assert hand.tick(101.01) == read
            hand.receive(101.011, read + read_reply(2, [9]), look=False)
            assert hand.tick(102.0) == read  # neither write is asked again
            hand.receive(102.001, read + read_reply(2, [9]), look=False)
        ended = [e["write"] for e in logs if e["event"] in WRITE_EVENTS]
        assert ended == ["holding 54 = [7] (06)", "holding 55 = [8] (06)"]
        assert write_lines(logs) == [told, ("set-up write taken", None)]
        counters = hand.counters("w")
        assert counters.errors == dict.fromkeys(counters.errors, 0)
        assert counters.exceptions == ({2: 1} if refused else {})
        # the first write, the second at its second poll, and three reads
        assert (counters.transactions, counters.timeouts) == (5, 1)
        assert hand.values("w")["a"] == (9.0, 9.0, 3)
        echoes = [e for e in logs if e["event"] == "requests come back as sent"]
        assert [(e["sensor"], e["unit"]) for e in echoes] == [("w", 2)]
    finally:
        hand.close()


def second_write_s_echo_is_no_answer(pty_pair: PtyPair, reads: list[bytes]) -> None:
    """Device 2 on an echoing line, with two set-up writes (06): the first write's echo read
    alone, then the second write sent and ``reads`` read 1 ms apart from 21 ms after it
    (the first write's answer and the second's echo, in pieces). The first write is taken;
    the second's echo is dropped, not taken for its answer: the write, which the device does
    not answer then, times out and is asked again at the next poll, where it is taken."""
    first, second = TWO_WRITES_SENT
    read = read_request(2, 0, 1)
    hand = HandBus(pty_pair, echo_table("", 2, "w", setup=TWO_WRITES))
    try:
        with capture_logs() as logs:
            assert hand.tick(100.0) == first
            hand.receive(100.001, first, look=False)  # its echo
            assert hand.tick(100.005) == second
            for k, piece in enumerate(reads):
                hand.receive(round(100.021 + 0.001 * k, 3), piece, look=False)
            assert write_lines(logs) == [("set-up write taken", None)]
            assert hand.bus.in_flight is not None  # the second write awaits its answer
            assert hand.tick(100.25) == b""  # timed out
            assert hand.bus.in_flight is None
            sent = play_echoing_line(hand, 102.0, {2})
        # the poll's read once the device was quiet for its timeout (``Bus._drain``), then
        # the write asked again at the next poll, and its read
        assert sent[:3] == [read, second, read], sent
        taken = [e["write"] for e in logs if e["event"] == "set-up write taken"]
        assert taken == ["holding 54 = [7] (06)", "holding 55 = [8] (06)"]
        counters = hand.counters("w")
        assert counters.errors == dict.fromkeys(counters.errors, 0)
        assert counters.timeouts == 1
        assert hand.runtimes["w"].bus_skipped_bytes == 8 * (len(sent) + 1)  # the echoes
    finally:
        hand.close()


def test_a_write_s_answer_read_with_the_next_write_s_echo_leaves_that_echo_no_answer(
    pty_pair: PtyPair,
) -> None:
    """The line and device of
    :func:`test_a_slow_device_s_answer_to_a_write_after_the_next_write_s_echo_is_that_write_s`,
    the device's answer to the first write come on the line just before the second write
    went out, and read in one piece with that write's echo: a USB adapter passes on what it
    received in batches (an FTDI chip's latency timer, 16 ms by default, holds bytes that
    long: Fazecast/jSerialComm pull request 369; pymodbus pull request 880, "data is sent in
    batches every 16 ms"). The first write's copy is its answer after its echo, which shows
    that the line echoes, so the second write's copy right after it is that write's echo,
    dropped: the second write, which the device did not answer, times out and is asked
    again at the next poll, where it is answered and taken. (That echo was taken for the
    second write's answer: the write logged as taken and never made.)"""
    first, second = TWO_WRITES_SENT
    second_write_s_echo_is_no_answer(pty_pair, [first + second])  # the first's answer, the echo


def late_answer_then_echo_is_the_late_one(pty_pair: PtyPair, reads: list[bytes]) -> None:
    """A line known to echo (device 1's read came back as sent): device 2's set-up write
    echoed and left unanswered until it times out; device 3's set-up write sent then, and
    ``reads`` read 1 ms apart from 1 ms after it (device 2's late answer and device 3's
    echo, in pieces). Device 2's answer is counted ``late``; device 3's echo is dropped, not
    taken for its answer: its write times out, is asked again, and is taken."""
    reader = echo_table("", 1, "m")
    slow = echo_table("", 2, "w2", setup=[{"table": "holding", "address": 54, "value": 7}])
    other = echo_table("", 3, "w3", setup=[{"table": "holding", "address": 55, "value": 8}])
    a = rtu_frame(bytes.fromhex("02 06 00 36 00 07"))
    b = rtu_frame(bytes.fromhex("03 06 00 37 00 08"))
    hand = HandBus(pty_pair, reader, slow, other)
    try:
        with capture_logs() as logs:
            assert hand.tick(100.0) == read_request(1, 0, 1)
            hand.receive(100.001, read_request(1, 0, 1) + read_reply(1, [9]), look=False)
            assert hand.tick(100.005) == a
            hand.receive(100.006, a, look=False)  # its echo alone: the device is slow
            at = 100.2
            while not (request := hand.tick(at)):  # until the first write timed out
                at = round(at + 0.001, 3)
            assert request == b, request
            for k, piece in enumerate(reads):
                hand.receive(at + 0.001 * (k + 1), piece, look=False)
            assert hand.bus.in_flight is not None  # b awaits its answer
            assert write_lines(logs) == []
            assert hand.tick(at + 0.22) == b""  # b timed out
            assert hand.bus.in_flight is None
            assert write_lines(logs) == []
            counters = hand.counters("w3")
            assert (counters.transactions, counters.timeouts) == (0, 1)
            assert b in play_echoing_line(hand, 102.0, {1, 2, 3})  # asked again, answered
        assert hand.counters("w2").errors == dict.fromkeys(counters.errors, 0) | {"late": 1}
        assert counters.errors == dict.fromkeys(counters.errors, 0)
        taken = sorted(e["write"] for e in logs if e["event"] == "set-up write taken")
        assert taken == ["holding 54 = [7] (06)", "holding 55 = [8] (06)"]
    finally:
        hand.close()


def test_a_late_answer_read_with_a_write_s_echo_on_a_line_known_to_echo_is_the_late_one(
    pty_pair: PtyPair,
) -> None:
    """An echoing line, known to echo (a read came back as sent): device 2's set-up write times
    out, and its answer comes on the line right after, just before the bus sends device 3's
    set-up write; the adapter passes both on in one piece (an FTDI chip's latency timer, as
    in :func:`test_a_write_s_answer_read_with_the_next_write_s_echo_leaves_that_echo_no_answer`):
    device 2's answer, then device 3's echo. Device 2's answer is its late one (counted
    ``late``), and device 3's echo is dropped as an echo, not its answer: its write, which
    it did not answer, times out and is asked again. (The echo, behind bytes that were not
    it, was read as on a line that echoes no more and taken for device 3's answer: the write
    logged as taken and never made.)"""
    a = rtu_frame(bytes.fromhex("02 06 00 36 00 07"))
    b = rtu_frame(bytes.fromhex("03 06 00 37 00 08"))
    late_answer_then_echo_is_the_late_one(pty_pair, [a + b])  # its late answer, and b's echo


@pytest.mark.parametrize("cut", [0, 3, 7], ids=["read-apart", "cut-at-3", "cut-at-7"])
def test_a_write_s_echo_read_apart_from_the_answer_that_shows_the_line_echoes_is_no_answer(
    pty_pair: PtyPair, cut: int
) -> None:
    """The line, device and bytes of
    :func:`test_a_write_s_answer_read_with_the_next_write_s_echo_leaves_that_echo_no_answer`,
    read in other pieces: the first write's answer alone, the bus having written the second
    write before it read that answer, which was waiting in the port, and the second write's
    echo in the next read (``read-apart``); or the adapter's batch cut within the echo (an
    FTDI chip sends a batch when its latency timer runs out or its 64-byte USB packet is
    full, wherever a frame stands: pymodbus pull request 880, Fazecast/jSerialComm pull
    request 369), its last bytes read after. The echo is dropped all the same: the second
    write, which the device did not answer, times out and is asked again at the next poll,
    where it is taken. (Its echo, read in a piece of its own or completed in the next read,
    was taken for its answer: the write logged as taken and never made.)"""
    first, second = TWO_WRITES_SENT
    # the first's answer, then the echo or its rest
    second_write_s_echo_is_no_answer(pty_pair, [first + second[:cut], second[cut:]])


@pytest.mark.parametrize(
    "cut", [0, 1, 4, 7], ids=["read-apart", "cut-at-1", "cut-at-4", "cut-at-7"]
)
def test_a_late_answer_read_apart_from_a_write_s_echo_on_a_line_known_to_echo_is_the_late_one(
    pty_pair: PtyPair, cut: int
) -> None:
    """The line, devices and bytes of
    :func:`test_a_late_answer_read_with_a_write_s_echo_on_a_line_known_to_echo_is_the_late_one`,
    read in other pieces: device 2's late answer alone, waiting in the port when the bus
    wrote device 3's write, and device 3's echo in the next read (``read-apart``); or the
    adapter's batch cut within the echo, its last bytes read after. Device 2's answer is its
    late one, and device 3's echo is dropped as its echo: its write times out and is asked
    again, then taken. (The echo, behind a frame that was not it, was read as on a line that
    echoes no more and taken for device 3's answer: the write logged as taken, never
    made.)"""
    a = rtu_frame(bytes.fromhex("02 06 00 36 00 07"))
    b = rtu_frame(bytes.fromhex("03 06 00 37 00 08"))
    # its late answer, and b's echo or its rest
    late_answer_then_echo_is_the_late_one(pty_pair, [a + b[:cut], b[cut:]])


def master_exchange_then_echo(
    pty_pair: PtyPair, reads: Callable[[bytes, bytes], list[bytes]]
) -> None:
    """A line known to echo (device 1's read came back as sent) shared with another master:
    device 3's set-up write sent, and read 1 ms apart after it the pieces ``reads`` makes of
    that master's read of unit 5 with unit 5's answer (15 bytes), and of the write's echo
    (empty pieces left out). The write's
    echo is no answer: the write, which device 3 did not answer, times out and is asked
    again, then taken."""
    reader = echo_table("", 1, "m")
    other = echo_table("", 3, "w3", setup=[{"table": "holding", "address": 55, "value": 8}])
    b = rtu_frame(bytes.fromhex("03 06 00 37 00 08"))
    exchange = read_request(5, 0x1000, 1, function=4) + read_reply(5, [7], function=4)
    hand = HandBus(pty_pair, reader, other)
    try:
        with capture_logs() as logs:
            assert hand.tick(100.0) == read_request(1, 0, 1)
            hand.receive(100.001, read_request(1, 0, 1) + read_reply(1, [9]), look=False)
            at = 100.002
            while not (request := hand.tick(at)):
                at = round(at + 0.001, 3)
            assert request == b, request
            for k, piece in enumerate(p for p in reads(exchange, b) if p):
                hand.receive(at + 0.001 * (k + 1), piece, look=False)
            assert hand.bus.in_flight is not None  # b awaits its answer
            assert write_lines(logs) == []
            assert hand.tick(at + 0.22) == b""  # b timed out
            assert hand.bus.in_flight is None
            counters = hand.counters("w3")
            assert (counters.transactions, counters.timeouts) == (0, 1)
            assert b in play_echoing_line(hand, 102.0, {1, 3})  # asked again, answered
        assert write_lines(logs) == [("set-up write taken", None)]
        assert counters.errors == dict.fromkeys(counters.errors, 0)
    finally:
        hand.close()


@pytest.mark.parametrize("cut", [8, 3], ids=["whole", "cut-at-3"])
def test_another_master_s_exchange_read_with_a_write_s_echo_on_a_line_known_to_echo_is_no_answer(
    pty_pair: PtyPair, cut: int
) -> None:
    """An echoing line, known to echo, shared with another master (a Seplos pack at address 0
    polls the packs at 1 and up on the line it shares: syssi/esphome-seplos-bms issue 116):
    that master's read of unit 5 and unit 5's answer come on the line just before the bus
    sends device 3's set-up write, and the adapter passes both on with the write's echo in
    one batch (an FTDI chip's latency timer: pymodbus pull request 880), whole or cut within
    the echo. The two frames came before the write went out; the echo is dropped as the
    echo, not taken for the write's answer: the write, which device 3 did not answer, times
    out and is asked again, then taken. (Two frames before the echo were not taken for
    frames come before the request: the exchange was read as on a line that echoes no more,
    and the echo taken for the write's answer.)"""
    master_exchange_then_echo(pty_pair, lambda exchange, echo: [exchange + echo[:cut], echo[cut:]])


@pytest.mark.parametrize(
    "apart",
    [[0, 15], [0, 15, 18], [0, 8, 15], [0, 8, 15, 18]],
    ids=["read-apart", "read-apart-echo-cut-at-3", "each-frame-apart", "each-apart-echo-cut-at-3"],
)
def test_another_master_s_exchange_read_apart_from_a_write_s_echo_is_no_answer(
    pty_pair: PtyPair, apart: list[int]
) -> None:
    """The line, master and bytes of
    :func:`test_another_master_s_exchange_read_with_a_write_s_echo_on_a_line_known_to_echo_is_no_answer`,
    read in other pieces: the master's request and unit 5's answer in one read, waiting in the
    port when the bus wrote device 3's write, its echo in the next (whole, or cut within it:
    an FTDI chip sends a batch when its latency timer runs out, wherever a frame stands:
    pymodbus pull request 880); or each frame in a read of its own. The two frames came
    before the write went out, and the echo is dropped as the echo: the write times out and
    is asked again, then taken. (Two frames read together before the echo were not taken
    for frames come before the request: the exchange was read as on a line that echoes no
    more, and the echo taken for the write's answer, the write logged as taken and never
    made.)"""

    def pieces(exchange: bytes, echo: bytes) -> list[bytes]:
        data = exchange + echo
        return [data[a:b] for a, b in zip(apart, [*apart[1:], len(data)], strict=True)]

    master_exchange_then_echo(pty_pair, pieces)


def test_two_writes_to_a_device_answering_in_50_ms_on_an_echoing_line_are_taken_once() -> None:
    """A real device (pymodbus's serial server) behind an adapter that echoes
    (epics-modules/modbus issue 39), ``local_echo`` off, answering every request 50 ms after
    it (a NuttX slave's constant turnaround, apache/nuttx-apps issue 3037), with two set-up
    writes of function 06 before its read. Each write's echo comes at once; the second
    write and the read go out on the echoes, so the device's answers to the writes come
    after the next requests' echoes. Each answer is its write's: both writes are taken once
    and in the device's memory, never asked again, and nothing is counted as another
    unit's, another function's, nobody's or late. (The first write's answer settled both
    writes as echoes alone once the read had come back as sent, and went for a frame
    nobody asked for; the second's was then counted as a wrong function of the read: both
    writes were asked again at the next poll.)"""
    table = bus_table("", local_echo=False)
    table["modbus"] |= {
        "interval_s": 0.2,
        "timeout_s": 1.0,
        "setup": [
            {"table": "holding", "address": 54, "value": 7},
            {"table": "holding", "address": 55, "value": 8},
        ],
    }
    with (
        capture_logs() as logs,
        PtyRelay(echo=True, delay_s=lambda data: 0.05) as relay,
        ModbusServer([1], "serial", relay.far.path) as server,
    ):
        server.set(1, "holding", 0, [4321])
        table["port"] = relay.near.path
        runtime, _ = run_bus(table, relay, transactions_at_least(8))
        assert server.get(1, "holding", 54) == [7]
        assert server.get(1, "holding", 55) == [8]
        sent = bytes(relay.requests)
        answered = bytes(relay.answers)
    # pymodbus's server reads the pty when it is scheduled: on a loaded host it can find two
    # requests in one read, or one in two, and then answers one of them only, or one twice.
    # A write it left unanswered is asked again, rightly; a write is never asked again when
    # every time it was sent it was answered (an 06 answer is its request's bytes)
    unanswered = 0
    answered_once = True
    for body in ("01 06 00 36 00 07", "01 06 00 37 00 08"):
        write = rtu_frame(bytes.fromhex(body))
        times = sent.count(write)
        assert times == 1 or answered.count(write) < times, (sent.hex(" "), answered.hex(" "))
        unanswered += max(0, times - answered.count(write))
        answered_once = answered_once and answered.count(write) == times
    assert write_lines(logs) == [("set-up write taken", None)] * 2
    counters = runtime.modbus
    assert counters is not None
    reads = sent.count(rtu_frame(bytes.fromhex("01 03 00 00 00 01")))
    reads_answered = answered.count(rtu_frame(bytes.fromhex("01 03 02 10 e1")))
    # no timeout but for a request the device left unanswered (the last read may be in
    # flight as the reader stops)
    assert counters.timeouts <= unanswered + max(0, reads - reads_answered)
    if answered_once:  # (a write answered twice, the second answer fits no request)
        assert counters.errors == dict.fromkeys(counters.errors, 0)


def test_a_third_write_refused_in_pieces_on_a_line_that_does_not_echo_is_refused_itself(
    pty_pair: PtyPair,
) -> None:
    """Three set-up writes of function 06 to one device on an adapter that does not echo,
    ``local_echo`` off: the device answers the first two with their copies, as it does, and
    the third, in flight, with exception 02, one byte at a time (a USB adapter's reads cut
    it so). The exception answers the third write: refused, the first two taken, no
    timeout, no echo told of. (An exception of the first writes' unit id and function code
    after their copies is theirs on an echoing line, where those copies were echoes; not
    while a write of those is in flight.)"""
    setup = [
        {"table": "holding", "address": 54, "value": 7, "function": 6},
        {"table": "holding", "address": 55, "value": 8, "function": 6},
        {"table": "holding", "address": 56, "value": 9, "function": 6},
    ]
    writes = [
        rtu_frame(bytes.fromhex(body))
        for body in ("02 06 00 36 00 07", "02 06 00 37 00 08", "02 06 00 38 00 09")
    ]
    refused = rtu_frame(bytes.fromhex("02 86 02"))
    hand = HandBus(pty_pair, echo_table("", 2, "w", setup=setup))
    try:
        with capture_logs() as logs:
            for at, write in zip((100.0, 100.01, 100.02), writes, strict=True):
                assert hand.tick(at) == write
                if write is not writes[-1]:
                    hand.receive(at + 0.001, write, look=False)  # the device's answer
            for at, byte in enumerate(refused):
                hand.receive(100.021 + at / 10000, bytes([byte]), look=False)
            assert hand.tick(100.03) == read_request(2, 0, 1)
            hand.receive(100.031, read_reply(2, [9]), look=False)
            hand.tick(100.3)  # the windows have passed
        ended = [(e["event"], e["write"]) for e in logs if e["event"] in WRITE_EVENTS]
        assert ended == [
            ("set-up write taken", "holding 54 = [7] (06)"),
            ("set-up write taken", "holding 55 = [8] (06)"),
            ("device refused a set-up write", "holding 56 = [9] (06)"),
        ]
        counters = hand.counters("w")
        assert counters.exceptions == {2: 1}
        assert (counters.transactions, counters.timeouts) == (4, 0)
        assert counters.errors == dict.fromkeys(counters.errors, 0)
        assert not [e for e in logs if e["event"] == "requests come back as sent"]
    finally:
        hand.close()


@pytest.mark.parametrize("echo", [True, False], ids=["echoing", "plain"])
def test_the_writes_of_a_device_a_reload_removed_are_told_as_the_line_shows_them(
    pty_pair: PtyPair, echo: bool
) -> None:
    """The line of :func:`test_two_writes_before_any_read_are_settled_together` with a second
    device (unit 1) read after the two writes of unit 2, which a reload (SIGHUP) removes
    while its writes' copies are unsettled. On an echoing adapter, with unit 2 silent, unit
    1's read comes back as sent: the writes' copies were their echoes, and nothing is told
    of them (their device left). On one that does not echo, the copies were unit 2's
    answers: both writes are told as taken. (On the echoing line both were told as taken,
    counted as answered, because their device had left.)"""
    first, second = TWO_WRITES_SENT
    read = read_request(1, 0, 1)
    hand = HandBus(pty_pair, echo_table("", 2, "w", setup=TWO_WRITES), echo_table("", 1, "m"))
    try:
        with capture_logs() as logs:
            assert hand.tick(100.0) == first
            hand.receive(100.001, first, look=False)  # its echo, or the device's copy
            assert hand.tick(100.005) == second
            hand.receive(100.006, second, look=False)
            hand.bus.remove("w")
            assert hand.tick(100.01) == read
            hand.receive(100.011, (read if echo else b"") + read_reply(1, [5]), look=False)
            assert hand.tick(100.3) == b""  # the writes' windows have passed
            assert hand.tick(101.0) == read
            hand.receive(101.001, (read if echo else b"") + read_reply(1, [5]), look=False)
        lines = [(e["event"], e["sensor"]) for e in logs if e["event"] in WRITE_EVENTS]
        assert lines == ([] if echo else [("set-up write taken", "w")] * 2)
        assert not hand.bus.reads._taken_untold  # nothing of the device that left is held
        counters = hand.counters("w")
        assert (counters.transactions, counters.timeouts) == ((0, 0) if echo else (2, 0))
        assert hand.values("m")["a"] == (5.0, 5.0, 2)
    finally:
        hand.close()


@pytest.mark.parametrize("echo", [True, False], ids=["echoing", "plain"])
def test_another_master_s_frame_with_a_write_s_one_copy_does_not_settle_it(
    pty_pair: PtyPair, echo: bool
) -> None:
    """The first set-up write after an open (function 06) on a line shared with another
    master: a Seplos BMS at address 0 polls every pack of its bus itself, and a second
    master reading them talks across it (syssi/esphome-seplos-bms issues 116 and 80). The
    write's one copy comes in one chunk with a pack's answer to that master (unit 7,
    function 04), before the device's read goes out. That frame tells nothing of the
    adapter's echo: the copy is settled by the read after it. On an echoing adapter, with
    the device silent, the read comes back as sent: the write's copy was its echo, and the
    write is asked again at the next poll (where its echo is dropped) and logged as
    unanswered after three polls, never taken. On one that does not echo, the copy was the
    device's answer: taken once, no timeout, and the read goes out at once. (The pack's
    frame settled the copy as the device's answer at once: the write was taken on its echo
    alone, and never asked again.)"""
    setup = [{"table": "holding", "address": 54, "value": 7, "function": 6}]
    write = rtu_frame(bytes.fromhex("02 06 00 36 00 07"))
    read = read_request(2, 0, 1)
    other = read_reply(7, [1], function=4)  # a pack's answer to the other master
    hand = HandBus(pty_pair, echo_table("", 2, "w", setup=setup))
    try:
        with capture_logs() as logs:
            assert hand.tick(100.0) == write
            hand.receive(100.001, write + other, look=False)
            assert hand.tick(100.01) == read
            hand.receive(100.011, read if echo else read_reply(2, [9]), look=False)
            hand.tick(100.5)  # the read's and the write's windows have passed
            counters = hand.counters("w")
            if echo:
                assert write_lines(logs) == []
                assert (counters.transactions, counters.timeouts) == (0, 2)
            else:
                assert write_lines(logs) == [("set-up write taken", None)]
                assert (counters.transactions, counters.timeouts) == (2, 0)
            sent = play_echoing_line(hand, 104.0, set() if echo else {2}, echo=echo)
        writes = [r for r in sent if r == write]
        if echo:
            assert writes == [write] * 2
            assert write_lines(logs) == [("set-up write unanswered", None)]
        else:
            assert writes == []
            assert write_lines(logs) == [("set-up write taken", None)]
            assert hand.counters("w").timeouts == 0
    finally:
        hand.close()


@pytest.mark.parametrize("refused", [False, True], ids=["taken", "refused"])
def test_a_write_answered_after_its_echo_is_timed_to_the_device_s_answer(
    pty_pair: PtyPair, refused: bool
) -> None:
    """The first set-up write after an open (function 06) on an echoing adapter,
    ``local_echo`` off: its echo comes 1 ms after it, the device's answer (its copy, or
    exception 02) 30 ms after it, before the read goes out. The exchange is counted once,
    with the device's round trip, 30 ms, in the round-trip histogram (``observe_rtt``), not
    the echo's 1 ms."""
    setup = [{"table": "holding", "address": 54, "value": 7, "function": 6}]
    write = rtu_frame(bytes.fromhex("02 06 00 36 00 07"))
    answer = rtu_frame(bytes.fromhex("02 86 02")) if refused else write
    hand = HandBus(pty_pair, echo_table("", 2, "w", setup=setup))
    try:
        assert hand.tick(100.0) == write
        hand.receive(100.001, write, look=False)  # its echo
        hand.receive(100.03, answer, look=False)  # the device's answer
        counters = hand.counters("w")
        assert counters.transactions == 1
        assert counters.rtt_sum_s == pytest.approx(0.03)
    finally:
        hand.close()


def fill_output(hand: HandBus) -> None:
    """The port's output fills up (the other end reads nothing): the bus's next request finds
    no room and is not sent (a write error)."""
    source = hand.bus.source
    assert isinstance(source, SerialSource)
    # the pty moves what was written on to its other end a moment later: full once it takes
    # nothing more
    while True:
        while source.try_write(bytes(4096)):
            pass
        time.sleep(0.05)
        if not source.try_write(bytes(1)):
            return


def drain_output(hand: HandBus) -> None:
    """The other end reads again: what filled the port's output is read away."""
    while hand.pty.read(65536, timeout_s=0.05):
        pass


def test_a_request_that_could_not_be_sent_does_not_settle_a_write_s_copy(
    pty_pair: PtyPair,
) -> None:
    """The line of :func:`test_the_first_write_after_an_open_on_an_echoing_line_is_not_taken_on_its_echo`
    (an echoing adapter, a silent device, its set-up write the first request): the read
    after the write finds the port's output full and is not sent (counted as a write error).
    It shows nothing of whether the line echoes, so at the write's window's end its one copy
    is not settled: no line told, nothing counted. At the next poll the read goes out and
    comes back as sent: the copy was the echo, the write is unanswered and asked again at
    the poll after, never taken on its echo alone."""
    setup = [{"table": "holding", "address": 54, "value": 7, "function": 6}]
    write = rtu_frame(bytes.fromhex("02 06 00 36 00 07"))
    read = read_request(2, 0, 1)
    hand = HandBus(pty_pair, echo_table("", 2, "w", setup=setup))
    try:
        with capture_logs() as logs:
            assert hand.tick(100.0) == write
            hand.receive(100.001, write, look=False)  # its echo alone
            fill_output(hand)
            assert hand.tick(100.01) == b""
            counters = hand.counters("w")
            assert counters.errors["write"] == 1
            drain_output(hand)
            assert hand.tick(100.3) == b""  # the window has passed
            assert write_lines(logs) == []
            assert (counters.transactions, counters.timeouts) == (0, 0)
            assert hand.tick(101.0) == read
            hand.receive(101.001, read, look=False)  # its echo: the line echoes
            hand.tick(101.3)
            assert hand.bus.in_flight is None
            assert (counters.transactions, counters.timeouts) == (0, 2)
            assert hand.tick(102.0) == write  # asked again
        assert write_lines(logs) == []
    finally:
        hand.close()


def test_a_write_s_copy_is_the_echo_once_a_request_after_it_came_back_as_sent(
    pty_pair: PtyPair,
) -> None:
    """An adapter whose echo drops out now and then, on a noisy line, ``local_echo`` off.
    Unit 2's set-up write (function 06) is the first request after the open, and only its
    echo comes (the device missed the request). Its read, sent next, comes back as sent,
    then its answer damaged (a CRC error): the adapter echoed right after the write, so the
    write's one copy was the echo. Unit 1's read, still within the write's timeout, is
    answered with no echo before it (the echo dropped out once), which makes the bus take
    the line as one that does not echo from then on; the write's copy stays the echo all
    the same: at the window's end the write is unanswered, a timeout, and asked again at
    the next poll, where its echo and the device's answer come. (A write of one register
    asked once more does no harm; one taken on its echo alone is never sent again.)"""
    setup = [{"table": "holding", "address": 54, "value": 7, "function": 6}]
    write = rtu_frame(bytes.fromhex("02 06 00 36 00 07"))
    damaged = bytearray(read_reply(2, [9]))
    damaged[-1] ^= 0xFF
    hand = HandBus(pty_pair, echo_table("", 2, "w", setup=setup), echo_table("", 1, "m"))
    try:
        with capture_logs() as logs:
            assert hand.tick(100.0) == write
            hand.receive(100.001, write, look=False)  # its echo alone
            assert hand.tick(100.005) == read_request(2, 0, 1)
            hand.receive(100.006, read_request(2, 0, 1), look=False)  # its echo
            hand.receive(100.008, bytes(damaged), look=False)
            assert hand.tick(100.02) == read_request(1, 0, 1)
            hand.receive(100.021, read_reply(1, [5]), look=False)  # no echo before it
            assert not hand.bus._line_echoes
            hand.tick(100.3)  # the write's window has passed
            assert write_lines(logs) == []
            counters = hand.counters("w")
            assert (counters.transactions, counters.timeouts) == (0, 1)
            assert counters.errors["crc"] == 1
            assert hand.tick(101.0) == write  # asked again
            hand.receive(101.001, write + write, look=False)  # its echo, the device's answer
        assert write_lines(logs) == [("set-up write taken", None)]
    finally:
        hand.close()


@pytest.mark.parametrize("end", ["closed", "removed"])
def test_the_first_bytes_of_a_write_s_echo_are_counted_when_its_exchange_is_cut_short(
    pty_pair: PtyPair, end: str
) -> None:
    """The line of :func:`test_the_first_bytes_of_a_write_s_echo_alone_are_counted_at_its_timeout`
    (known to echo; only the first 4 bytes of the write's echo come), where the exchange ends
    before its timeout: the port is lost (an unplugged adapter), or a reload removes the
    device. The bytes held back as the echo's start are counted as the device's skipped
    bytes there, as at a timeout."""
    hand = echo_start_held(pty_pair)
    try:
        runtime = hand.runtimes["w"]
        skipped = runtime.snapshot().skipped_bytes
        if end == "closed":
            hand.bus.disconnect("the port went away")
        else:
            hand.bus.remove("w")
        assert runtime.snapshot().skipped_bytes == skipped + 4
        assert hand.runtimes["m"].snapshot().skipped_bytes == 8  # its read's echo
    finally:
        hand.close()


class ServedLine:
    """A serial server on loopback (RTU over TCP, ``socket://``) whose serial side the test
    plays, for :class:`HandBus`: ``path`` is its URL; ``write`` sends the devices' bytes on
    the connection, ``read`` takes what the bus sent on it, ``end`` ends the connection as
    a server does (its idle close), and the bus's next connection is taken."""

    def __init__(self) -> None:
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(2.0)
        self.path = f"socket://127.0.0.1:{self._listener.getsockname()[1]}"
        self._connection: socket.socket | None = None

    def _connected(self) -> socket.socket:
        if self._connection is None:
            self._connection, _ = self._listener.accept()
        return self._connection

    def write(self, data: bytes) -> None:
        self._connected().sendall(data)

    def read(self, size: int, timeout_s: float = 2.0) -> bytes:
        connection = self._connected()
        deadline = time.monotonic() + timeout_s
        data = bytearray()
        while len(data) < size and (left := deadline - time.monotonic()) > 0:
            connection.settimeout(left)
            try:
                got = connection.recv(size - len(data))
            except TimeoutError:
                break
            if not got:
                break
            data += got
        return bytes(data)

    def end(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def close(self) -> None:
        self.end()
        self._listener.close()


@pytest.mark.parametrize("echo", [True, False], ids=["echoing", "plain"])
def test_a_write_s_copy_unsettled_at_an_idle_close_is_asked_again_after_the_reopen(
    echo: bool,
) -> None:
    """RTU over TCP through a serial server (``socket://``) that ends its connection while
    the read after a set-up write is in flight, before any byte of its answer: an idle
    close (or a server that closes after each reply), which keeps the devices as they are,
    their unwritten writes too. The write (function 06) was the first request after the
    open and its one copy came: the server's RS-485 side echoes with the device silent
    (echoing: a Waveshare RS485-to-TCP adapter in transparent mode sends the echo of each
    RTU request back, tiagocoutinho/modbus-proxy issue 48 and pull request 55), or the
    device answered on a line that does not echo (plain). Nothing told
    which, at the close: the write is neither taken nor a timeout, no line is told, and it
    is asked again at the device's next poll after the reopen (the read first, asked again
    as the close crossed it). Echoing, the reopen's read comes back as sent, the write's
    echo is dropped as such and it is never taken; plain, its answer is taken then, once.
    (At the close the write was taken on its echo alone, and the idle close's reopen never
    sent it again.)"""
    setup = [{"table": "holding", "address": 54, "value": 7, "function": 6}]
    write = rtu_frame(bytes.fromhex("02 06 00 36 00 07"))
    read = read_request(2, 0, 1)
    line = ServedLine()
    hand = HandBus(line, echo_table("", 2, "w", setup=setup))
    try:
        with capture_logs() as logs:
            assert hand.tick(100.0) == write
            hand.receive(100.001, write, look=False)  # its echo, or the device's answer
            assert hand.tick(100.005) == read
            line.end()
            source = hand.bus.source
            assert source is not None
            hand.bus.disconnect(str(read_to_the_end(source)))
            assert write_lines(logs) == []
            counters = hand.counters("w")
            assert (counters.transactions, counters.timeouts) == (0, 0)
            hand.now = 100.1
            assert hand.bus.try_open()
            assert hand.tick(100.1) == read  # asked again first
            reply = b"" if echo else read_reply(2, [9])
            hand.receive(100.101, (read if echo else b"") + reply, look=False)
            assert hand.tick(100.5) == b""
            assert hand.tick(101.0) == write  # asked again
            hand.receive(101.001, write, look=False)  # its echo alone, or its answer
            if echo:  # the write times out, and its device is held for a late answer
                assert hand.tick(101.3) == b""
            assert hand.tick(101.5 if echo else 101.005) == read
            hand.receive(hand.now + 0.001, (read if echo else b"") + reply, look=False)
            hand.tick(101.9)
        assert hand.bus.in_flight is None
        if echo:
            assert write_lines(logs) == []
            assert (counters.transactions, counters.timeouts) == (0, 3)
        else:
            assert write_lines(logs) == [("set-up write taken", None)]
            # the read asked again, the write, the next read; the write's first copy never
            assert (counters.transactions, counters.timeouts) == (3, 0)
    finally:
        hand.close()
        line.close()


@pytest.mark.parametrize("apart", [False, True], ids=["one-read", "read-apart"])
def test_a_write_refused_after_its_timeout_behind_its_echo_is_counted_by_its_code(
    pty_pair: PtyPair, apart: bool
) -> None:
    """An adapter that echoes, ``local_echo`` off, and a device that refuses a set-up write
    (06, a register it does not map: exception 02) after the write's timeout; the adapter
    passes the echo on late too, with the refusal behind it (an adapter that batches what
    it received: an FTDI chip's latency timer), in one read or two. The echo's copy of the
    request is taken for the write's late answer (nothing tells it from the device's copy
    yet, and counted ``late``), and the refusal after it is the device's late answer to that
    write: counted by its code (sensord_modbus_exceptions_total), as a late refusal is, not
    ``late`` again (one late exchange), and not as a frame of the device's unit id nobody
    asked for. (It was counted as
    ``unasked``, its code nowhere, and logged as another master's frame.)"""
    write = rtu_frame(bytes.fromhex("01 06 00 14 00 07"))
    refused = rtu_frame(bytes.fromhex("01 86 02"))
    table = echo_table("", 1, "w", setup=[{"table": "holding", "address": 20, "value": 7}])
    hand = HandBus(pty_pair, table)
    try:
        with capture_logs() as logs:
            assert hand.tick(100.0) == write
            assert hand.tick(100.25) == b""  # timed out: the device is drained
            assert hand.bus.in_flight is None
            pieces = [write, refused] if apart else [write + refused]
            for k, piece in enumerate(pieces):
                hand.receive(100.26 + k / 1000, piece, look=False)
        counters = hand.counters("w")
        assert counters.exceptions == {2: 1}
        assert counters.errors["unasked"] == 0
        assert counters.errors["late"] == 1  # one late exchange: its echo, then its refusal
        assert not [
            e for e in logs if e["event"] == "frame of the device's unit id nobody asked for"
        ]
    finally:
        hand.close()


#: Device 2's set-up writes of
#: :func:`test_a_first_write_refused_after_the_next_writes_16_echoes_is_not_taken`: an 06,
#: then two of function 16.
WRITES_06_16_16 = [
    {"table": "holding", "address": 54, "value": 7, "function": 6},
    {"table": "holding", "address": 55, "value": 8, "function": 16},
    {"table": "holding", "address": 56, "value": 9, "function": 16},
]


@pytest.mark.parametrize(
    ("echo", "apart"),
    [(True, False), (True, True), (False, False)],
    ids=["echoing", "echoing-read-apart", "plain"],
)
def test_a_first_write_refused_after_the_next_writes_16_echoes_is_not_taken(
    pty_pair: PtyPair, echo: bool, apart: bool
) -> None:
    """An adapter that echoes, ``local_echo`` off, on a port just opened (the line's echo not
    known): device 2's set-up writes, an 06 and two 16s, before its first read. The 06's
    echo comes and is taken for its answer for the time being (an 06's answer is its
    request's bytes); each 16 comes back whole as sent, then the device's answer to it (the
    Modbus application protocol's normal response to 16: unit id, function code, address
    and count, 8 bytes: never the request whole); the device's refusal of the 06 (exception
    02) comes 120 ms after it, after both 16s' exchanges. A 16's request whole is the
    adapter's echo: the line echoes, so the 06's one copy was its echo and the 06 is not
    taken; it is asked again at the next poll, its echo dropped, and refused then, logged
    with its code. On an adapter that does not echo, the 06's copy is the device's answer:
    all three writes are taken, the line never said to echo. Whether a 16's echo and answer
    are read at once or apart. The refusal at 120 ms, after the device answered the 16s, is
    counted as a frame nobody asked for (a device answers its requests in order). (The 06 was logged as taken at the second 16's answer, never
    written, its refusal counted as a frame nobody asked for.)"""
    first = rtu_frame(bytes.fromhex("02 06 00 36 00 07"))
    sixteens = [
        rtu_frame(bytes.fromhex("02 10 00 37 00 01 02 00 08")),
        rtu_frame(bytes.fromhex("02 10 00 38 00 01 02 00 09")),
    ]
    refused = rtu_frame(bytes.fromhex("02 86 02"))
    read = read_request(2, 0, 1)
    hand = HandBus(pty_pair, echo_table("", 2, "w", setup=WRITES_06_16_16))
    try:
        with capture_logs() as logs:
            assert hand.tick(100.0) == first
            hand.receive(100.001, first, look=False)  # its echo, or its answer
            at = 100.002
            for request in sixteens:
                while not (sent := hand.tick(at)):
                    at = round(at + 0.001, 3)
                assert sent == request
                answer = rtu_frame(request[:6])
                pieces = [request, answer] if apart else [request + answer]
                if not echo:
                    pieces = [answer]
                for piece in pieces:
                    at = round(at + 0.001, 3)
                    hand.receive(at, piece, look=False)
            if echo:
                hand.receive(100.12, refused, look=False)
                assert hand.bus._line_echoes
            ended = [(e["event"], e["write"]) for e in logs if e["event"] in WRITE_EVENTS]
            taken = [("set-up write taken", f"holding {n} = [{n - 47}] (16)") for n in (55, 56)]
            if echo:
                assert ended == taken
            reads = 0
            at = 100.2
            while at < 102.5:
                sent = hand.tick(at)
                if sent == first:  # its echo, then the device's refusal
                    hand.receive(at + 0.001, first + refused, look=False)
                elif sent == read:
                    reads += 1
                    hand.receive(at + 0.001, (read if echo else b"") + read_reply(2, [9]))
                else:
                    assert not sent, sent.hex()
                at = round(at + 0.01, 3)
        ended = [(e["event"], e["write"]) for e in logs if e["event"] in WRITE_EVENTS]
        if echo:
            refusal = ("device refused a set-up write", "holding 54 = [7] (06)")
            assert ended == [*taken, refusal]
            assert write_lines(logs)[-1] == ("device refused a set-up write", 2)
        else:  # (the 06's line told once a request after it is done: ``copy_due``)
            assert sorted(ended) == [("set-up write taken", "holding 54 = [7] (06)"), *taken]
        echoes = [e for e in logs if e["event"] == "requests come back as sent"]
        assert len(echoes) == (1 if echo else 0)
        assert hand.values("w")["a"] == (9.0, 9.0, reads)
        # (the refusal at 120 ms, after the 16s' answers, answers no request of the device's
        # then: a device answers its requests in order; the refusal at the next poll counts)
        assert hand.counters("w").exceptions == ({2: 1} if echo else {})
    finally:
        hand.close()
