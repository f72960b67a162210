"""Modbus TCP through what gateways and networks do: a relay on loopback (``harness.tcp_relay``)
in front of a real pymodbus server, or the harness's Modbus TCP to RTU gateway; the bus runs
in-process on a real reader loop."""

from __future__ import annotations

import contextlib
import errno
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator, MutableMapping
from typing import Any

import pytest
from harness.common import GreetingServer, free_port, wait_for
from harness.config import load_sensors as load
from harness.daemon import StartDaemon
from harness.modbus import (
    ModbusServer,
    PtyRelay,
    TcpGateway,
    read_all,
    run_reader_until,
    waking,
)
from harness.pty import open_fd_count
from harness.tcp_relay import TcpRelay
from structlog.testing import capture_logs

from sensord import bus as bus_module
from sensord.bus import Bus
from sensord.bus_hints import (
    CLOSED_ON_REQUEST_HINT,
    FRESH_CONNECTION_HINT,
    IDLE_CLOSE_HINT,
    REPLY_CLOSE_HINT,
    UNANSWERED_CLOSE_HINT,
)
from sensord.bus_reads import NO_ANSWER_HINT
from sensord.capture import parse_capture
from sensord.config import Config
from sensord.formats import modbus as modbus_codec
from sensord.reader import Reader
from sensord.sensor import SensorRuntime
from sensord.sources.serial_errors import network_hint


def device(name: str, port: str, unit: int, count: int = 1, **modbus: Any) -> dict[str, Any]:
    """A Modbus device reading ``count`` input registers from 0, a channel each."""
    registers = [{"name": f"r{i}", "table": "input", "address": i} for i in range(count)]
    return {
        "name": name,
        "port": port,
        "format": "modbus",
        "modbus": {"unit": unit, **modbus},
        "registers": registers,
        "channels": [{"name": r["name"]} for r in registers],
        "reconnect": {"initial_delay_s": 0.5, "max_delay_s": 2.0},
    }


@contextlib.contextmanager
def two_behind_gateway(
    timeout_s: float, **table: Any
) -> Iterator[tuple[TcpRelay, list[SensorRuntime]]]:
    """A pymodbus TCP server with units 1 (input register 0: 11) and 2 (21) behind a relay,
    and the runtimes of devices "one" and "two" polling them every 0.1 s through it with
    ``timeout_s`` (``table``: more keys of both sensors' tables); nothing connects until a
    reader runs them, so the relay's knobs can still be set."""
    with ModbusServer([1, 2], "tcp") as server, TcpRelay(server.port) as relay:
        server.set(1, "input", 0, [11])
        server.set(2, "input", 0, [21])
        tables = [
            device(name, relay.url(), unit, interval_s=0.1, timeout_s=timeout_s)
            for name, unit in (("one", 1), ("two", 2))
        ]
        for t in tables:
            t.update(table)
        yield relay, [SensorRuntime(s) for s in load(*tables).sensors]


def run_for(config: Config, seconds: float) -> Reader:
    """A reader over ``config``'s sensors, run for ``seconds`` (the caller closes it)."""
    reader = Reader([SensorRuntime(s) for s in config.sensors])
    start = time.monotonic()
    try:
        run_reader_until(reader, lambda: time.monotonic() - start > seconds, seconds + 5.0)
    except BaseException:
        reader.close()
        raise
    return reader


def window(runtime: SensorRuntime) -> dict[str, tuple[float, float] | None]:
    """Each channel's (min, max) over its window: every value it ever took, here."""
    return {
        ch.name: None if ch.stats is None else (ch.stats.min, ch.stats.max)
        for ch in runtime.snapshot().channels
    }


def counters(runtime: SensorRuntime) -> Any:
    assert runtime.modbus is not None
    return runtime.modbus


@pytest.mark.slow
def test_a_reply_whose_rest_comes_after_the_timeout_does_not_desynchronise_the_stream() -> None:
    """A gateway sends unit 2's reply in two segments, the second after sensord's timeout:
    the MBAP stream stays in step (the rest of the late reply is not read as a new header),
    so unit 1, whose replies queue behind it, keeps every exchange and its values, and the
    late reply is counted for unit 2, not as a spoilt frame."""
    with ModbusServer([1, 2], "tcp") as server, TcpRelay(server.port) as relay:
        server.set(1, "input", 0, [11, 0, 0, 12, 0, 0, 0, 0])
        server.set(2, "input", 0, [21, 0, 0, 22, 0, 0, 0, 0])

        def pieces(reply: bytes) -> list[tuple[float, bytes]]:
            if reply[6] != 2:
                return [(0.0, reply)]
            return [(0.0, reply[:9]), (0.4, reply[9:])]

        relay.pieces = pieces
        # timeouts with room for a loaded host's pauses: unit 1 must never time out
        config = load(
            device("one", relay.url(), 1, 8, interval_s=0.3, timeout_s=0.25),
            device("two", relay.url(), 2, 8, interval_s=0.3, timeout_s=0.25),
        )

        def done(reader: Reader) -> bool:
            one, two = reader.sensors["one"], reader.sensors["two"]
            return (
                counters(one).transactions >= 12
                and counters(two).timeouts >= 3
                and two.state == "down"
            )

        with read_all(config, done, 10.0) as reader:
            one, two = reader.sensors["one"], reader.sensors["two"]
            assert counters(one).timeouts == 0
            assert counters(one).errors == dict.fromkeys(counters(one).errors, 0)
            assert counters(one).transactions >= 12
            assert window(one) == {
                "r0": (11.0, 11.0),
                "r1": (0.0, 0.0),
                "r2": (0.0, 0.0),
                "r3": (12.0, 12.0),
                "r4": (0.0, 0.0),
                "r5": (0.0, 0.0),
                "r6": (0.0, 0.0),
                "r7": (0.0, 0.0),
            }
            two_counts = counters(two)
            assert two_counts.timeouts >= 3
            assert two_counts.errors["crc"] == 0
            # every timed-out reply came whole later: truncated at its timeout, then late
            assert two_counts.errors["late"] >= two_counts.timeouts - 1
            assert two_counts.errors["truncated"] == two_counts.timeouts
            assert two.state == "down"


@pytest.mark.slow
def test_a_reply_cut_short_for_good_does_not_take_the_next_reply_with_it() -> None:
    """A gateway sends unit 2's replies without their last three bytes, and never the
    rest: the start of each is kept only while its rest may still come, so the next reply
    (unit 1's) is not read as that rest; unit 1 loses no exchange."""
    with ModbusServer([1, 2], "tcp") as server, TcpRelay(server.port) as relay:
        server.set(1, "input", 0, [11, 0, 0, 12, 0, 0, 0, 0])
        relay.mangle = lambda reply: reply[:-3] if reply[6] == 2 else reply
        config = load(
            device("one", relay.url(), 1, 8, interval_s=0.2, timeout_s=0.1),
            device("two", relay.url(), 2, 8, interval_s=0.2, timeout_s=0.1),
        )

        def done(reader: Reader) -> bool:
            one, two = counters(reader.sensors["one"]), counters(reader.sensors["two"])
            return bool(one.transactions >= 12 and two.timeouts >= 3)

        with read_all(config, done, 10.0) as reader:
            one, two = counters(reader.sensors["one"]), counters(reader.sensors["two"])
            assert one.timeouts == 0
            assert one.errors == dict.fromkeys(one.errors, 0)
            assert one.transactions >= 12
            assert window(reader.sensors["one"])["r3"] == (12.0, 12.0)
            assert two.timeouts >= 3
            assert two.errors["truncated"] == two.timeouts
            assert two.transactions == 0


@pytest.mark.slow
def test_a_gateway_that_cuts_long_answers_has_its_device_s_read_split() -> None:
    """A serial server that passes no more than 8 registers of an answer (the USR-W610 cuts
    longer ones and drops the rest: foxess_modbus issue 66) in front of a device read as one
    merged read of 12 registers: its answers are cut at the same length twice running, so
    the read is split in halves of 6, which get through; every value is read from then on,
    the log says what to set, and the other unit on the gateway loses no exchange."""
    with ModbusServer([1, 2], "tcp") as server, TcpRelay(server.port) as relay:
        server.set(1, "input", 0, list(range(100, 112)))
        server.set(2, "input", 0, [21])
        relay.mangle = lambda reply: reply[: 9 + 16]  # the header and 8 registers at most
        config = load(
            device("long", relay.url(), 1, 12, interval_s=0.3, timeout_s=0.15),
            device("other", relay.url(), 2, interval_s=0.3, timeout_s=0.15),
        )

        def done(reader: Reader) -> bool:
            long, other = reader.sensors["long"], reader.sensors["other"]
            return None not in window(long).values() and counters(other).transactions >= 8

        with capture_logs() as logs, read_all(config, done, 10.0) as reader:
            long, other = reader.sensors["long"], reader.sensors["other"]
            assert window(long) == {f"r{i}": (100.0 + i, 100.0 + i) for i in range(12)}
            counts = counters(long)
            assert (counts.timeouts, counts.errors["truncated"], counts.splits) == (2, 2, 1)
            assert counts.reads == 2
            assert not counts.down
            assert counters(other).timeouts == 0
            assert counters(other).transactions >= 8
        [split] = [
            e
            for e in logs
            if e["event"] == "device's answers to a merged read are cut off; split it"
        ]
        assert (split["sensor"], split["count"], split["reads"]) == ("long", 12, [(0, 6), (6, 6)])
        assert (split["reply_bytes"], split["received_bytes"]) == (9 + 24, 9 + 16)
        assert "modbus.max_registers" in split["hint"]


@pytest.mark.slow
def test_a_gateway_slower_than_the_timeout_costs_the_other_units_nothing() -> None:
    """A gateway waits 1 s for a dead unit before answering 0B; sensord times that unit
    out after 0.3 s. The gateway serves one request at a time, so the next unit's request
    waits behind the dead unit's: its wait starts again when the late 0B arrives, and it is
    answered, not timed out. The late 0B is counted for the dead unit (it names its
    exchange by transaction id), logged with the hint about the gateway's timeout."""
    with (
        PtyRelay(silent_units=[9]) as line,
        ModbusServer([1], "serial", line.far.path) as server,
        TcpGateway(line.near.path, timeout_s=1.0) as gateway,
    ):
        server.set(1, "input", 0, [42])
        config = load(
            device("live", gateway.url, 1, interval_s=0.5, timeout_s=0.3),
            device("gone", gateway.url, 9, interval_s=0.5, timeout_s=0.3),
        )

        def done(reader: Reader) -> bool:
            live, gone = counters(reader.sensors["live"]), counters(reader.sensors["gone"])
            return bool(
                live.transactions >= 8
                and gone.down
                and gone.timeouts >= 3
                and gone.errors["late"] >= 2
            )

        with capture_logs() as logs, read_all(config, done, 12.0) as reader:
            live, gone = counters(reader.sensors["live"]), counters(reader.sensors["gone"])
            assert live.timeouts == 0
            assert live.errors == dict.fromkeys(live.errors, 0)
            assert live.transactions >= 8
            assert reader.sensors["live"].state == "up"
            assert gone.down
            assert gone.timeouts >= 3
            assert gone.errors["late"] >= 2
            # why it is down: the gateway's late 0B, not a unit id or a gateway that cannot
            # reach the device
            down_why = reader.sensors["gone"].last_error
    late = [e for e in logs if e["event"] == "answer after the timeout"]
    assert [e["sensor"] for e in late] == ["gone"]  # once, rate-limited
    assert late[0]["hint"] == (
        "the gateway waits longer for the device than modbus.timeout_s before it answers "
        "exception 0x0B (gateway target device failed to respond): raise modbus.timeout_s "
        "above the gateway's response timeout"
    )
    assert down_why.endswith(f"in a row: {late[0]['hint']}"), down_why


@pytest.mark.slow
def test_a_gateway_s_0b_after_the_timeout_counts_by_its_code() -> None:
    """A gateway waits 0.5 s for a dead unit before it answers exception 0x0B; sensord gives
    up after 0.2 s. The 0x0B arrives late, named by its transaction id: the gateway's word
    on that unit's request, so it counts in the unit's exceptions by its code (11) as an
    in-time one does, and as ``late``, once each (RichiH/modbus_exporter issue 69: a 0x0B
    that a gateway answered while its client had moved on). The live unit's exceptions stay
    empty."""
    with (
        PtyRelay(silent_units=[9]) as line,
        ModbusServer([1], "serial", line.far.path) as server,
        TcpGateway(line.near.path, timeout_s=0.5) as gateway,
    ):
        server.set(1, "input", 0, [42])
        config = load(
            device("live", gateway.url, 1, interval_s=0.3, timeout_s=0.2),
            device("gone", gateway.url, 9, interval_s=0.3, timeout_s=0.2),
        )

        def two_late(reader: Reader) -> bool:
            return bool(counters(reader.sensors["gone"]).errors["late"] >= 2)

        with read_all(config, two_late, 12.0) as reader:
            gone, live = counters(reader.sensors["gone"]), counters(reader.sensors["live"])
            late = gone.errors["late"]
            assert gone.exceptions == {0x0B: late}, (gone.exceptions, gone.errors)
            assert gone.transactions == 0
            assert live.exceptions == {}


@pytest.mark.slow
def test_a_gateway_that_closes_idle_connections_costs_its_devices_nothing() -> None:
    """A gateway closes a connection after 0.5 s without a request, and the devices are
    polled every 0.9 s: each poll finds the connection closed. The connection is opened
    again when the next poll is due; the devices never go down, keep their interval, and the
    close is logged once (info, with the reason), not as a lost bus at every poll."""
    with ModbusServer([1, 2], "tcp") as server, TcpRelay(server.port) as relay:
        server.set(1, "input", 0, [11])
        server.set(2, "input", 0, [21])
        relay.idle_close_s = 0.5
        config = load(
            device("one", relay.url(), 1, interval_s=0.9, timeout_s=0.3),
            device("two", relay.url(), 2, interval_s=0.9, timeout_s=0.3),
        )
        with capture_logs() as logs, run_for(config, 3.2) as reader:
            one, two = reader.sensors["one"], reader.sensors["two"]
            for runtime in (one, two):
                assert runtime.state == "up"
                assert 3 <= counters(runtime).transactions <= 5  # one per 0.9 s, no extra polls
                assert counters(runtime).timeouts == 0
                assert runtime.reconnects >= 2
            assert relay.accepted >= 3
    states = [(e["sensor"], e["state"]) for e in logs if e["event"] == "sensor state"]
    assert states == [("one", "up"), ("two", "up"), ("one", "stopped"), ("two", "stopped")]
    assert [e for e in logs if e["event"] == "bus lost"] == []
    closed = [e for e in logs if e["event"] == "connection closed while idle"]
    assert len(closed) == 1
    assert closed[0]["log_level"] == "info"
    assert "hung up" in closed[0]["error"]
    assert closed[0]["hint"] == IDLE_CLOSE_HINT


@pytest.mark.slow
def test_a_server_that_closes_the_connection_after_each_reply_has_every_device_read() -> None:
    """A Modbus TCP server that serves one request per connection and closes it (FIN) as soon
    as its reply is out: the STM32 library of
    https://github.com/alejoseb/Modbus-STM32-HAL-FreeRTOS/issues/28 (and #32) does, and its
    author holds the client must reconnect. The next device's request, sent right after the
    reply, crosses that close on the wire: it was taken as a lost bus, every device started
    afresh on the new connection, the first one was asked first again, and the second was
    never read (a "bus lost" warning at every poll). The crossed request is asked again on
    a new connection: both devices keep their interval, nothing times out, no device goes
    down, and the close is logged once with what it means."""
    with ModbusServer([1, 2], "tcp") as server, TcpRelay(server.port) as relay:
        server.set(1, "input", 0, [11])
        server.set(2, "input", 0, [21])
        relay.close_after_reply = True
        config = load(
            device("one", relay.url(), 1, interval_s=0.5, timeout_s=0.3),
            device("two", relay.url(), 2, interval_s=0.5, timeout_s=0.3),
        )
        with capture_logs() as logs, run_for(config, 2.7) as reader:
            for name, value in (("one", 11.0), ("two", 21.0)):
                runtime = reader.sensors[name]
                assert runtime.state == "up"
                assert 5 <= counters(runtime).transactions <= 7  # one per 0.5 s
                assert counters(runtime).timeouts == 0
                assert window(runtime) == {"r0": (value, value)}
                assert runtime.reconnects >= 4  # a connection per request
            assert relay.accepted >= 10
    assert [e for e in logs if e["event"] == "bus lost"] == []
    states = [(e["sensor"], e["state"]) for e in logs if e["event"] == "sensor state"]
    assert states == [("one", "up"), ("two", "up"), ("one", "stopped"), ("two", "stopped")]
    closed = [e for e in logs if e["event"] == "connection closed after a reply"]
    assert len(closed) == 1
    assert closed[0]["log_level"] == "info"
    assert closed[0]["hint"] == REPLY_CLOSE_HINT


@pytest.mark.slow
def test_a_server_that_closes_the_connection_on_one_unit_s_requests_costs_the_others_nothing() -> (
    None
):
    """A Modbus TCP server ends the connection of a request for a unit id it does not serve
    instead of answering it (FluentModbus's server closed it on unit 0xFF:
    https://github.com/Apollo3zehn/FluentModbus/issues/102). With a device of that unit id
    between two that answer, every close was a lost bus: all three went down and up at every
    poll, a new connection started them afresh with the first device, and the one after the
    unit closed on was never read. Its request is asked again on a new connection (the close
    may have crossed it, see the test above); closed on there too, it is that device's
    unanswered request: it goes down after 3 with what to check and is retried at its
    backoff, while the two others are read at every poll and never go down."""
    with ModbusServer([1, 2], "tcp") as server, TcpRelay(server.port) as relay:
        server.set(1, "input", 0, [11])
        server.set(2, "input", 0, [21])
        relay.close_on = lambda request: request[6] == 9  # the MBAP header's unit id
        config = load(
            device("one", relay.url(), 1, interval_s=0.5, timeout_s=0.3),
            device("nine", relay.url(), 9, interval_s=0.5, timeout_s=0.3),
            device("two", relay.url(), 2, interval_s=0.5, timeout_s=0.3),
        )
        with capture_logs() as logs, run_for(config, 4.2) as reader:
            for name, value in (("one", 11.0), ("two", 21.0)):
                runtime = reader.sensors[name]
                assert runtime.state == "up"
                assert 8 <= counters(runtime).transactions <= 10  # one per 0.5 s
                assert window(runtime) == {"r0": (value, value)}
            nine = reader.sensors["nine"]
            assert nine.state == "down"
            assert counters(nine).down
            assert nine.last_error == (
                "no response to 3 requests in a row: "
                + CLOSED_ON_REQUEST_HINT.replace("check modbus.unit", "check modbus.unit = 9")
            )
            # 3 closes to go down (the first asked again), then its backoff (0.5, 1, 2 s,
            # jittered), not 2 closes at every poll
            assert 4 <= relay.closed_on <= 7
    assert [e for e in logs if e["event"] == "bus lost"] == []
    states = [(e["sensor"], e["state"]) for e in logs if e["event"] == "sensor state"]
    assert states[:4] == [("one", "up"), ("nine", "up"), ("two", "up"), ("nine", "down")]
    assert states[4:] == [("one", "stopped"), ("nine", "stopped"), ("two", "stopped")]


@pytest.mark.slow
def test_a_gateway_s_idle_timeout_is_no_reconnect() -> None:
    """A gateway whose idle timeout (2.3 s here, past IDLE_TIMEOUT_MIN_S; often 60 s) is
    shorter than the poll interval (2.7 s; an energy meter read every 2 minutes) closes the
    connection before every poll: its reopenings count in ``idle_reopens``, not in
    ``sensord_serial_reconnects_total``, whose alert (more than 5 in 15 minutes) would
    otherwise page to power-cycle a working gateway. A close soon after an exchange (the test
    above: 0.5 s) still counts as a reconnect."""
    with ModbusServer([1], "tcp") as server, TcpRelay(server.port) as relay:
        server.set(1, "input", 0, [11])
        relay.idle_close_s = 2.3
        config = load(device("one", relay.url(), 1, interval_s=2.7, timeout_s=0.3))
        # two idle closes: the second is counted as the first, and not logged again
        with capture_logs() as logs, run_for(config, 6.0) as reader:
            one = reader.sensors["one"]
            assert one.state == "up"
            assert counters(one).transactions == 3  # at 0, 2.7 and 5.4 s
            assert one.reconnects == 0
            assert one.idle_reopens == relay.accepted - 1 == 2
            assert one.snapshot().as_json()["idle_reopens"] == 2
    assert [e for e in logs if e["event"] == "bus lost"] == []
    assert len([e for e in logs if e["event"] == "connection closed while idle"]) == 1


@pytest.mark.slow
def test_an_idle_close_that_crosses_the_next_request_costs_its_devices_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The gateway's idle close and the poll that ends the idleness cross on the wire (its
    FIN comes after the request went out, before any answer): it was taken as a lost bus and
    every device of it went down for a moment, a few times a day with a gateway that closes
    after 60 s and a poll every minute or so. The request is asked again on the new
    connection: no device goes down, no timeout counts, no value is missed.

    The bus takes 0.5 s of quiet for an idle timeout here instead of IDLE_TIMEOUT_MIN_S
    (2 s): the crossing is told from a lost bus by the quiet before the request, whatever
    its length (the test above holds the real limit)."""
    monkeypatch.setattr(bus_module, "IDLE_TIMEOUT_MIN_S", 0.5)
    with ModbusServer([1, 2], "tcp") as server, TcpRelay(server.port) as relay:
        server.set(1, "input", 0, [11])
        server.set(2, "input", 0, [21])
        relay.close_on_request_after_s = 0.6
        config = load(
            device("one", relay.url(), 1, interval_s=1.0, timeout_s=0.3),
            device("two", relay.url(), 2, interval_s=1.0, timeout_s=0.3),
        )
        with capture_logs() as logs, run_for(config, 2.5) as reader:
            assert relay.closed_on_request >= 2
            for name in ("one", "two"):
                runtime = reader.sensors[name]
                assert runtime.state == "up"
                assert counters(runtime).timeouts == 0
                assert counters(runtime).transactions == 3  # at 0, 1 and 2 s
                assert runtime.reconnects == 0
            assert reader.sensors["one"].idle_reopens + reader.sensors["two"].idle_reopens >= 2
    assert [e for e in logs if e["event"] == "bus lost"] == []
    states = [(e["sensor"], e["state"]) for e in logs if e["event"] == "sensor state"]
    assert states == [("one", "up"), ("two", "up"), ("one", "stopped"), ("two", "stopped")]


@pytest.mark.slow
def test_replies_that_are_no_modbus_tcp_get_modbus_tcp_advice() -> None:
    """Every reply with protocol id 5 (something that is no Modbus TCP server answers on the
    port): the device goes down, and the reason and the hint speak of Modbus TCP, not of a
    serial line's baud rate, parity and termination, which a TCP connection does not have."""
    with ModbusServer([1], "tcp") as server, TcpRelay(server.port) as relay:
        server.set(1, "input", 0, [11])
        relay.mangle = lambda reply: reply[:2] + b"\x00\x05" + reply[4:]
        config = load(device("one", relay.url(), 1, interval_s=0.1, timeout_s=0.2))
        with run_for(config, 2.0) as reader:
            one = reader.sensors["one"]
            assert one.state == "down"
            status = one.snapshot().as_json()
            state = counters(one)
            hint = state.hint_since((0, {}, {}, 0), "meter")  # what went wrong since the start
    reason = status["last_error"]
    assert "no Modbus TCP answer" in reason
    assert "socket://HOST:PORT" in reason
    assert "baud rate" not in reason
    assert hint is not None
    assert "bytes came that make no Modbus TCP frame" in hint
    assert "baud rate" not in hint


def wrong_length(reply: bytes) -> bytes:
    """``reply`` with the MBAP length field of two gateways known to get it wrong, the rest
    as sent: one more than the bytes that follow on a read reply (a Midea HVAC gateway,
    pymodbus issue #2266: ``00 01 00 00 00 06 01 03 02 39 02``) and 4 instead of 3 on an
    exception reply (a Marstek Venus D, tiagocoutinho/modbus-proxy pull request #62:
    ``18 58 00 00 00 04 01 83 03``)."""
    if reply[6] != 1:
        return reply
    length = 4 if reply[7] & 0x80 else len(reply) - 6 + 1
    return reply[:4] + length.to_bytes(2, "big") + reply[6:]


@pytest.mark.slow
def test_replies_whose_mbap_length_field_is_wrong_are_read_by_their_function_code() -> None:
    """Unit 1 answers every read, and the exception for an address it does not have, with a
    wrong MBAP length field: its replies are cut by their function code and byte count (as
    the protocol sizes them), so its values and exceptions are read, nothing times out, the
    unit behind the same connection is not disturbed, and the quirk is logged once."""
    with ModbusServer([1, 2], "tcp") as server, TcpRelay(server.port) as relay:
        server.set(1, "input", 0, [11, 12])
        server.set(2, "input", 0, [21])
        relay.mangle = wrong_length
        # timeouts far above a loopback round trip: none may be counted, on a busy host too
        one = device("one", relay.url(), 1, 2, interval_s=0.2, timeout_s=1.0)
        one["registers"].append({"name": "far", "table": "input", "address": 2000})
        one["channels"].append({"name": "far"})
        config = load(one, device("two", relay.url(), 2, interval_s=0.2, timeout_s=1.0))
        with capture_logs() as logs, run_for(config, 2.0) as reader:
            one_rt, two_rt = reader.sensors["one"], reader.sensors["two"]
            assert window(one_rt) == {"r0": (11.0, 11.0), "r1": (12.0, 12.0), "far": None}
            assert window(two_rt) == {"r0": (21.0, 21.0)}
            for runtime in (one_rt, two_rt):
                assert counters(runtime).timeouts == 0, runtime.name
                assert counters(runtime).errors == dict.fromkeys(counters(runtime).errors, 0)
                assert counters(runtime).transactions >= 8, runtime.name
            # registers 0 and 1 at each poll, and 2000, which the device refuses, at most
            # once a second (``REFUSED_READ_EVERY_S``): its refusals are read too
            refused = counters(one_rt).exceptions
            assert set(refused) == {2}
            assert 1 <= refused[2] <= 3, refused
    noted = [e for e in logs if e["event"] == "reply's MBAP length field does not match it"]
    assert len(noted) == 1
    assert noted[0]["hint"] == (
        "the device or gateway fills in the length wrongly; its replies are cut by their "
        "function code and byte count instead"
    )


#: A whole MBAP frame with protocol id 1 (no Modbus TCP reply): what a gateway that serves
#: another protocol on the same connection, or a buffer it did not clear, puts before a reply.
NOT_MBAP = bytes.fromhex("1234 0001 0003 01 83 02")
#: An MBAP header (protocol id 0, function code 16: a frame cut by its length field) whose
#: length field, 256, makes a frame of 262 bytes: longer than any Modbus TCP frame, so none
#: begins there.
TOO_LONG = bytes.fromhex("ffff 0000 0100 ff 10")
#: An MBAP header whose length field, 13, takes in the 11 bytes of a reply of one register
#: behind it, with function code 0, which no Modbus PDU has: the 19 bytes are no frame.
NO_PDU_OVER_REPLY = bytes.fromhex("ffff 0000 000d ff 00")


@pytest.mark.slow
@pytest.mark.parametrize(
    ("mangle", "skipped_per_reply"),
    [
        pytest.param(lambda reply: NOT_MBAP + reply, len(NOT_MBAP), id="garbage-before"),
        pytest.param(lambda reply: reply + b"\x00", 1, id="stray-byte-after"),
        pytest.param(lambda reply: TOO_LONG + reply, len(TOO_LONG), id="header-too-long"),
        pytest.param(
            lambda reply: NO_PDU_OVER_REPLY + reply, len(NO_PDU_OVER_REPLY), id="no-pdu-over-reply"
        ),
    ],
)
def test_bytes_that_begin_no_mbap_header_are_skipped_and_the_reply_behind_them_read(
    mangle: Callable[[bytes], bytes], skipped_per_reply: int
) -> None:
    """Every reply comes behind a frame with protocol id 1 in the same segment, or behind a
    header of a frame longer than any, or behind one whose length takes the reply in and whose
    PDU is none, or followed by a stray byte (which then begins the segment of the next
    reply): the bytes that begin no MBAP frame are skipped, counted as the device's skipped
    bytes, and the reply behind them is read, so no request times out."""
    with ModbusServer([1], "tcp") as server, TcpRelay(server.port) as relay:
        server.set(1, "input", 0, [11])
        relay.mangle = mangle
        # a timeout far above a loopback round trip: none may be counted, on a busy host too
        config = load(device("one", relay.url(), 1, interval_s=0.1, timeout_s=1.0))
        with run_for(config, 1.5) as reader:
            one = reader.sensors["one"]
            assert window(one) == {"r0": (11.0, 11.0)}
            state = counters(one)
            assert state.timeouts == 0
            assert state.errors == dict.fromkeys(state.errors, 0)
            assert state.transactions >= 8
            skipped = one.snapshot().skipped_bytes
            # the stray byte after the last reply waits for the next segment, uncounted
            assert skipped_per_reply * (state.transactions - 1) <= skipped
            assert skipped <= skipped_per_reply * state.transactions


@pytest.mark.parametrize("garbage", [TOO_LONG, NO_PDU_OVER_REPLY], ids=["too-long", "no-pdu"])
def test_a_reply_behind_bytes_that_begin_no_frame_is_read_however_the_stream_is_split(
    garbage: bytes,
) -> None:
    """The bytes from the header that begins no frame to the reply are skipped, one at a time,
    whether they come in one segment with the reply or a byte per segment; nothing is held."""
    reply = bytes.fromhex("0001 0000 0005 01 04 02 000b")
    data = garbage + reply
    for cuts in ([len(data)], range(1, len(data) + 1)):
        link = modbus_codec.ModbusLink("tcp")
        frames: list[bytes] = []
        at = 0
        for cut in cuts:
            frames += [response.frame for response in link.feed(data[at:cut])]
            at = cut
        assert (frames, link.skipped_bytes, link.pending_bytes) == ([reply], len(garbage), 0)


@pytest.mark.slow
def test_a_device_behind_a_gateway_that_adds_a_stray_byte_is_down_for_its_silence() -> None:
    """A gateway that sends a stray byte after each reply (read all the same, above) whose
    device then stops answering: the byte held since the last reply came before the
    exchanges that time out, and is no answer of theirs. Each is a timeout, not a ``crc``
    error too, and the device is down for its silence, not for a gateway that does not speak
    Modbus TCP."""
    with ModbusServer([1], "tcp") as server, TcpRelay(server.port) as relay:
        server.set(1, "input", 0, [11])
        relay.mangle = lambda reply: reply + b"\x00"
        config = load(device("one", relay.url(), 1, interval_s=0.2, timeout_s=0.25))
        reader = Reader([SensorRuntime(s) for s in config.sensors])
        one = reader.sensors["one"]
        try:
            run_reader_until(reader, lambda: counters(one).transactions >= 3, 10.0)
            relay.ignore = True
            run_reader_until(reader, lambda: one.state == "down", 15.0)
            state = counters(one)
            assert state.timeouts >= 3
            assert state.errors["crc"] == 0
            error = one.snapshot().last_error
            assert error is not None
            assert "has answered" in error, error
            assert "does not speak Modbus TCP" not in error, error
        finally:
            reader.close()


def gateway_config(url: str) -> str:
    """Two Modbus TCP devices behind ``url``, polled every 0.2 s, reopened after 0.2 to 1 s."""
    return "".join(
        f"""
[[sensors]]
name = "{name}"
port = "{url}"
format = "modbus"
modbus = {{ unit = {unit}, interval_s = 0.2, timeout_s = 0.3 }}
reconnect = {{ initial_delay_s = 0.2, max_delay_s = 1.0 }}
registers = [{{ name = "v", table = "input", address = 0 }}]
channels = [{{ name = "v" }}]
"""
        for name, unit in (("one", 1), ("two", 2))
    )


@pytest.mark.slow
def test_the_daemon_rides_out_resets_and_a_gateway_reboot_without_leaking(
    start_daemon: StartDaemon,
) -> None:
    """The real daemon against a gateway that resets the connection 20 times (during an
    exchange or between them) and then refuses connections for 3 s, as while it reboots:
    every loss and refusal is counted on /metrics, the reopens follow the backoff (no tight
    loop), no descriptor is left behind, nothing is logged as an error, and both devices are
    read again afterwards."""
    with ModbusServer([1, 2], "tcp") as server, TcpRelay(server.port) as relay:
        server.set(1, "input", 0, [11])
        server.set(2, "input", 0, [21])
        daemon = start_daemon(config=gateway_config(relay.url()))
        daemon.wait_http()

        def transactions() -> dict[str, float]:
            scrape = daemon.scrape()
            return {
                name: scrape.get("sensord_modbus_transactions_total", 0.0, sensor=name)
                for name in ("one", "two")
            }

        wait_for(lambda: min(transactions().values()) >= 3, 10.0, "both devices read")
        fds = daemon.settled_fd_count()
        cpu_s = daemon.cpu_s()
        for _ in range(20):
            relay.reset()
            time.sleep(0.15)
        relay.refuse()
        # the opens the refusals fail make up for the resets that found no connection up
        # (a reopen still waiting out its backoff): the count below holds on a loaded host
        time.sleep(3.0)
        relay.listen()
        before = transactions()
        wait_for(
            lambda: all(n >= before[name] + 5 for name, n in transactions().items()),
            10.0,
            "both devices read again",
        )
        used_s = daemon.cpu_s() - cpu_s
        scrape = daemon.scrape()
        for name in ("one", "two"):
            assert scrape.value("sensord_sensor_up", sensor=name) == 1
            # a reset ends a connection that was up (a reconnect follows) or one still in
            # its open's wait for a refusal (a failed open: ended before it was served)
            reconnects = scrape.value("sensord_serial_reconnects_total", sensor=name)
            failures = scrape.value("sensord_serial_open_failures_total", sensor=name)
            # how many of the 20 find the connection up depends on how fast each reopen is
            # (full jitter, and a loaded host's scheduling): some do, and each one is counted
            assert reconnects >= 2
            assert reconnects + failures >= 15
            # and 3 s of refusals at a backoff from 0.2 s to 1 s (full jitter): a handful of
            # attempts, not a loop
            assert 2 <= failures <= 35
        assert relay.accepted <= 25
        # a leaked descriptor stays; a scrape's connection or a reconnect in progress closes
        assert daemon.settled_fd_count() == fds
        # about 7 s of polling, reconnecting and scraping take under 0.1 s of CPU: a loop
        # that spins through the 3 s of refusals takes about 3 s
        assert used_s < 1.0, used_s
        records = daemon.log_records()
        assert [r for r in records if r.get("level") in ("error", "critical")] == []
        assert daemon.uncaught() == []


@pytest.mark.slow
@pytest.mark.parametrize("byte_gap_s", [0.0, 0.002])
def test_rtu_over_tcp_reads_frames_however_the_serial_server_splits_or_merges_them(
    byte_gap_s: float,
) -> None:
    """RTU over TCP through a serial server that holds unit 2's replies past the timeout,
    and passes bytes on as they come: all at once, so that unit 2's late reply and unit 1's
    reply to the request after it reach sensord in one segment, or one by one, 2 ms apart
    (a UART's pace). Unit 1 is read every time; unit 2's replies are counted late for unit
    2 and never taken as unit 1's.

    Unit 2's replies come 0.35 s after its timeout: a reply already there when a loop that
    a loaded machine stalled looks at the timeout is the exchange's, and tens of
    milliseconds past it were such a stall's. Unit 1's reply waits behind unit 2's (one
    line): its 1 s timeout leaves the same room."""
    with ModbusServer([1, 2], "rtu-tcp") as server, TcpRelay(server.port, mbap=False) as relay:
        server.set(1, "input", 0, [11, 0, 0, 12])
        server.set(2, "input", 0, [21, 0, 0, 22])
        relay.byte_gap_s = byte_gap_s
        relay.hold = lambda reply: 0.5 if reply[0] == 2 else 0.0
        url = relay.url("socket")
        config = load(
            device("one", url, 1, 4, interval_s=0.2, timeout_s=1.0),
            device("two", url, 2, 4, interval_s=0.2, timeout_s=0.15),
        )
        reader = Reader([SensorRuntime(s) for s in config.sensors])
        one, two = reader.sensors["one"], reader.sensors["two"]

        def read_enough() -> bool:
            return (
                one.modbus is not None
                and two.modbus is not None
                and one.modbus.transactions >= 12
                and two.modbus.errors["late"] >= 2
                and two.state == "down"
            )

        with reader:
            run_reader_until(reader, read_enough, 15.0)
            assert counters(one).timeouts == 0
            assert counters(one).errors == dict.fromkeys(counters(one).errors, 0)
            assert counters(one).transactions >= 12
            assert window(one) == {
                "r0": (11.0, 11.0),
                "r1": (0.0, 0.0),
                "r2": (0.0, 0.0),
                "r3": (12.0, 12.0),
            }
            assert counters(two).transactions == 0
            assert counters(two).errors["late"] >= 2
            assert two.state == "down"


def settled_thread_count() -> int:
    """The threads of this process once the reader's connecting threads have ended."""
    wait_for(
        lambda: not [t for t in threading.enumerate() if t.name.startswith("sensord-open")],
        2.0,
        "the connecting threads to end",
    )
    return threading.active_count()


def settled_fd_count() -> int:
    """The descriptors of this process once the relay and the server have closed their ends
    of the connections sensord closed (the same count twice, 0.1 s apart, within 3 s)."""
    last = -1
    deadline = time.monotonic() + 3.0
    while time.monotonic() < deadline:
        count = open_fd_count()
        if count == last:
            break
        last = count
        time.sleep(0.1)
    return last


def silent_logs(logs: list[MutableMapping[str, Any]]) -> list[MutableMapping[str, Any]]:
    """The log lines of connections reopened for their silence, in order."""
    events = ("connection silent; reconnecting", "connection still silent; reconnecting")
    return [e for e in logs if e["event"] in events]


@pytest.mark.slow
def test_a_gateway_that_accepts_and_never_answers_is_reconnected_at_the_backoff() -> None:
    """A gateway accepts every connection and never answers. Each device goes down after
    three timeouts and is retried at its backoff; the connection, silent while 5 requests
    went unanswered over at least the devices' stale_after_s (0.5 s), is closed and opened
    again at the bus's backoff (0.5 s, then growing to 2 s, full jitter): a few connections,
    not a loop, each with a few requests. The first reopen is a warning naming
    the bus's URL and why, the 2nd, 4th, 8th ... after it (still not a byte) info lines.
    Descriptors and threads are as many afterwards as before."""
    with ModbusServer([1, 2], "tcp") as server, TcpRelay(server.port) as relay:
        relay.ignore = True
        one = device("one", relay.url(), 1, interval_s=0.1, timeout_s=0.1)
        two = device("two", relay.url(), 2, interval_s=0.1, timeout_s=0.1)
        for table in (one, two):
            table["stale_after_s"] = 0.5
        config = load(one, two)
        runtimes = [SensorRuntime(s) for s in config.sensors]

        def reopened() -> bool:  # each silent reconnect followed by its reopen
            return all(r.reconnects == r.silent_reconnects >= 1 for r in runtimes)

        with Reader(runtimes) as reader:
            run_reader_until(reader, reopened, 5.0)
            # the relay's thread counts an accept after the connect it answers has returned
            wait_for(lambda: relay.accepted == runtimes[0].reconnects + 1, 2.0, "the accept")
            first = relay.accepted
            wait_for(lambda: relay.open_connections == 1, 2.0, "the old connection closed")
            fds, threads = settled_fd_count(), settled_thread_count()
            with capture_logs() as logs:
                start = time.monotonic()
                run_reader_until(reader, lambda: time.monotonic() - start > 6 and reopened(), 9)
            wait_for(lambda: relay.accepted == runtimes[0].reconnects + 1, 2.0, "the accept")
            wait_for(lambda: relay.open_connections == 1, 2.0, "the old connections closed")
            for runtime in runtimes:
                assert runtime.state == "down"
                assert runtime.silent_reconnects == relay.accepted - 1
                assert runtime.snapshot().as_json()["silent_reconnects"] == relay.accepted - 1
                assert runtime.last_error is not None
                assert runtime.last_error.startswith("no answer on the connection for ")
            # 6 s: each connection carries 5 unanswered requests, the devices' retries at
            # their backoff (up to 2 s), then waits the bus's backoff (up to 2 s)
            assert 1 <= relay.accepted - first <= 6, (first, relay.accepted)
            requests = len(relay.received) // 12
            assert requests <= 12 * relay.accepted, requests
            assert settled_fd_count() == fds
            assert settled_thread_count() == threads
        silent = silent_logs(logs)
        assert len(silent) == sum(
            not n & (n - 1) for n in range(first, relay.accepted)
        )  # the reopens that are the 2nd, 4th, 8th ... of the spell
        assert {e["bus"] for e in silent} == {relay.url()}
        assert all(e["sensors"] == ["one", "two"] for e in silent)
        assert [e["log_level"] for e in silent] == ["info"] * len(silent)  # still silent
        assert [e["attempt"] for e in silent] == [
            n for n in range(first, relay.accepted) if not n & (n - 1)
        ]


def test_a_serial_server_that_greets_each_connection_is_still_silent_to_the_bus() -> None:
    """RTU over TCP to a serial server that writes a banner on every connection (ser2net's
    ``banner``) and passes nothing else on (the devices behind it are gone): the banner is
    bytes on the connection, but no answer, so the connections after the first silent one
    have not worked either: the bus's backoff grows and only the first reopen is a warning."""
    banner = b"\r\nser2net port 3001 device /dev/ttyUSB0 [9600 N81]\r\n\r\n"
    server = GreetingServer(banner)
    table = device("one", server.url, 1, interval_s=0.1, timeout_s=0.1)
    table["stale_after_s"] = 0.5
    table["reconnect"] = {"initial_delay_s": 0.1, "max_delay_s": 0.4}
    runtime = SensorRuntime(load(table).sensors[0])
    with server, capture_logs() as logs, Reader([runtime]) as reader:
        # the 3rd reopen, no power of 2, is the first not logged
        run_reader_until(reader, lambda: runtime.silent_reconnects >= 3, 20.0)
    assert len(server.connections) >= 3  # each silent one closed, the next not yet opened
    silent = silent_logs(logs)
    assert [e["log_level"] for e in silent] == ["warning"] + ["info"] * (len(silent) - 1)
    assert [e.get("attempt") for e in silent[1:]] == [2, 4, 8, 16][: len(silent) - 1]


@pytest.mark.slow
def test_a_gateway_whose_session_sticks_is_reconnected_and_its_devices_come_back() -> None:
    """A gateway answers, then its session sticks: the connection stays open and takes
    requests, and nothing comes back on it for good (a one-client gateway keeping a stale
    session, an RS-485 to Ethernet converter that hangs), while a new connection is served.
    Once the connection has been silent for the devices' stale_after_s with 5 requests
    unanswered, it is closed and opened again, once, and both devices are read again without
    a restart: the warning names the bus's URL and why, the reconnect is counted in
    reconnects and silent_reconnects (in /status too), and the devices that went down are
    asked at once on the new connection instead of waiting out their backoff (up to 20 s)."""
    with ModbusServer([1, 2], "tcp") as server, TcpRelay(server.port) as relay:
        server.set(1, "input", 0, [11])
        server.set(2, "input", 0, [21])
        one = device("one", relay.url(), 1, interval_s=0.1, timeout_s=0.1)
        two = device("two", relay.url(), 2, interval_s=0.1, timeout_s=0.1)
        for table in (one, two):
            table["stale_after_s"] = 2.0
            table["reconnect"] = {"initial_delay_s": 0.2, "max_delay_s": 20.0}
        config = load(one, two)
        runtimes = [SensorRuntime(s) for s in config.sensors]
        with Reader(runtimes) as reader:
            run_reader_until(
                reader, lambda: min(counters(r).transactions for r in runtimes) >= 3, 5.0
            )
            relay.stall()
            stalled_at = time.monotonic()
            before = [counters(r).transactions for r in runtimes]
            with capture_logs() as logs:
                run_reader_until(reader, lambda: all(r.state == "down" for r in runtimes), 5.0)
                run_reader_until(
                    reader,
                    lambda: all(
                        counters(r).transactions >= n + 3
                        for r, n in zip(runtimes, before, strict=True)
                    ),
                    10.0,
                )
            for runtime in runtimes:
                assert runtime.state == "up"
                assert runtime.reconnects == 1
                assert runtime.silent_reconnects == 1
                status = runtime.snapshot().as_json()
                assert status["silent_reconnects"] == 1
                assert status["last_error"].startswith("no answer on the connection for ")
            assert relay.accepted == 2
            assert window(runtimes[0]) == {"r0": (11.0, 11.0)}
            assert window(runtimes[1]) == {"r0": (21.0, 21.0)}
    (silent,) = silent_logs(logs)
    assert silent["log_level"] == "warning"
    assert silent["bus"] == relay.url()
    assert silent["sensors"] == ["one", "two"]
    assert silent["error"].endswith(" requests): reconnecting")
    reopened = [e for e in logs if e["event"] == "bus open again after a silent connection"]
    assert len(reopened) == 1
    # silent for at least stale_after_s before the reconnect
    assert time.monotonic() - stalled_at >= 2.0


def test_an_open_failure_names_the_url_as_configured() -> None:
    """A Modbus TCP gateway that refuses the connection: the error the devices show names
    the ``modbus-tcp://`` URL of the configuration, not the ``socket://`` one pyserial
    opens."""
    url = f"modbus-tcp://127.0.0.1:{free_port()}"
    config = load(device("one", url, 1))
    runtime = SensorRuntime(config.sensors[0])
    with Reader([runtime]) as reader:
        run_reader_until(reader, lambda: runtime.state == "down", 5.0)
    assert f"cannot open {url}: Connection refused" in runtime.last_error
    assert "socket://" not in runtime.last_error
    # and what to check: the raw OS error alone points at nothing
    address = url.removeprefix("modbus-tcp://")
    assert runtime.last_error.endswith(
        f"Connection refused: nothing listens at {address}; check that the serial server "
        "(ser2net) or gateway runs there, and the port number"
    )


@pytest.mark.parametrize(
    ("cause", "says"),
    [
        (
            socket.gaierror(socket.EAI_NONAME, "Name or service not known"),
            ": the host name meter.lan does not resolve; check its spelling and the DNS",
        ),
        (TimeoutError("timed out"), ": meter.lan does not answer; check that it is up and"),
        (OSError(errno.EHOSTUNREACH, "No route to host"), ": no route to meter.lan; check"),
        (OSError(errno.EPIPE, "Broken pipe"), ""),
    ],
)
def test_a_network_open_failure_says_what_to_check(cause: OSError, says: str) -> None:
    hint = network_hint(cause, "modbus-tcp://meter.lan:502")
    assert hint.startswith(says) if says else hint == ""


@pytest.mark.slow
def test_a_device_that_joins_while_an_idle_connection_is_closed_starts_afresh() -> None:
    """A device added (a reload) while the gateway has closed the idle connection is
    opened with the connection's next open, as on any open: it goes up and is read."""
    with ModbusServer([1, 2], "tcp") as server, TcpRelay(server.port) as relay:
        server.set(2, "input", 0, [21])
        relay.idle_close_s = 0.3
        config = load(
            device("one", relay.url(), 1, interval_s=1.0, timeout_s=0.2),
            device("two", relay.url(), 2, interval_s=0.2, timeout_s=0.2),
        )
        one = SensorRuntime(config.sensors[0])
        with Reader([one]) as reader:
            run_reader_until(
                reader,
                lambda: counters(one).transactions >= 1 and relay.open_connections == 0,
                5.0,
            )
            two = SensorRuntime(config.sensors[1])
            reader.add(two)
            run_reader_until(reader, lambda: counters(two).transactions >= 3, 5.0)
            assert two.state == "up"
            assert window(two) == {"r0": (21.0, 21.0)}
            assert one.state == "up"


def test_a_reply_to_a_later_request_ends_the_wait_behind_one_that_timed_out() -> None:
    """A gateway that never answers for a dead unit (no exception 0B): the dead unit's
    request times out, the live unit's next request is answered. A gateway serves its
    requests in order, so that answer shows it is done with the dead unit's: the dead
    unit's next request times out after its own timeout, not after waiting it once more
    behind a request the gateway has long given up."""
    server = socket.create_server(("127.0.0.1", 0))
    url = f"modbus-tcp://127.0.0.1:{server.getsockname()[1]}"
    now = [100.0]
    config = load(
        device("live", url, 1, interval_s=1.0, timeout_s=0.3),
        device("gone", url, 9, interval_s=1.0, timeout_s=0.3),
    )
    runtimes = {s.name: SensorRuntime(s, clock=lambda: now[0]) for s in config.sensors}
    bus = Bus("bus:" + url, config.sensors[0], clock=lambda: now[0])
    for runtime in runtimes.values():
        bus.add(runtime)
    try:
        assert bus.try_open()
        gateway, _ = server.accept()
        gateway.settimeout(0.005)  # the bus writes at once: a request is there or none is

        def sent() -> bytes:
            try:
                return gateway.recv(12)
            except TimeoutError:
                return b""

        def tick(at: float) -> bytes:
            now[0] = at
            bus.tick(at)
            return sent()

        def answer(at: float, request: bytes) -> bytes:
            now[0] = at
            gateway.sendall(request[:4] + b"\0\x05" + request[6:8] + b"\x02\x00\x07")
            source = bus.source
            assert source is not None
            deadline = time.monotonic() + 2.0
            while not (chunk := source.read()):
                assert time.monotonic() < deadline, "the reply never arrived"
                time.sleep(0.002)
            bus.feed(chunk)
            return sent()

        gone = runtimes["gone"].modbus
        assert gone is not None
        sent_at: list[float] = []
        timed_out: list[float] = []
        at = 100.0
        while at < 103.0:
            request, went_out = tick(at), at
            if request[6:7] == b"\x01":  # the live unit's, answered; the next goes out
                request, went_out = answer(at + 0.001, request), at + 0.001
            if request:
                sent_at.append(went_out)
            if gone.timeouts > len(timed_out):
                timed_out.append(at)
            at = round(at + 0.01, 3)
        # each request to the dead unit ends 0.3 s (and the request's time on the wire)
        # after it went out, the first as every later one
        assert len(sent_at) == len(timed_out) == 3
        for went_out, ended in zip(sent_at, timed_out, strict=True):
            assert 0.3 <= ended - went_out <= 0.35, (sent_at, timed_out)
        assert runtimes["live"].modbus is not None
        assert runtimes["live"].modbus.timeouts == 0
    finally:
        bus.stop()
        server.close()


def foreign_id(reply: bytes) -> bytes:
    """Unit 2's ``reply`` with a transaction id no request was sent with (its request's
    plus 0x4000: a firmware that counts its own), unit 1's as sent."""
    if reply[6] != 2:
        return reply
    transaction_id = (int.from_bytes(reply[:2], "big") + 0x4000) & 0xFFFF
    return transaction_id.to_bytes(2, "big") + reply[2:]


@pytest.mark.slow
def test_replies_with_a_transaction_id_nobody_sent_are_not_late_answers() -> None:
    """Unit 2 answers every request at once, with a transaction id that no request was sent
    with. Those replies answer nothing sensord asked: they are counted as ``unasked``, not
    as ``late`` (no request of the device timed out with that id), logged once with what to
    check, and unit 2 goes down with that as its reason instead of being told to check its
    power supply. Unit 1 behind the same connection is read every time."""
    with two_behind_gateway(0.2) as (relay, runtimes):
        one, two = runtimes
        with Reader(runtimes) as reader:
            run_reader_until(reader, lambda: counters(two).transactions >= 2, 5.0)
            answered = counters(two).transactions
            relay.mangle = foreign_id
            with capture_logs() as logs:
                run_reader_until(reader, lambda: two.state == "down", 5.0)
            assert counters(one).timeouts == 0
            assert one.state == "up"
            errors = counters(two).errors
            assert errors["late"] == 0
            assert errors["unasked"] == counters(two).timeouts >= 3
            assert counters(two).transactions == answered
            assert two.last_error == (
                "no response to 3 requests in a row: replies came with a transaction id no "
                "request was sent with, so none can be taken as an answer: the gateway or "
                "device does not return the request's transaction id (a firmware that counts "
                "its own, or answers with 0 and another unit id), or a gateway shared by "
                "several clients mixes up their replies"
            )
    (noted,) = [
        e for e in logs if e["event"] == "reply with a transaction id no request was sent with"
    ]
    assert noted["sensor"] == "two"
    assert noted["transaction_id"] == (noted["expected"] + 0x4000) & 0xFFFF


@pytest.mark.slow
def test_a_device_down_for_one_reason_tells_the_next_when_it_changes() -> None:
    """The gateway answers for unit 2 with exception 0B (the device did not answer it) until
    unit 2 is down, then with 0A (no path to it: the gateway's port or route is down). The
    down reason in /status follows the gateway: it names exception 10 from the first retry
    answered so, and the change is logged once as a warning; the retries after it answered
    the same way change nothing. Unit 1 is read throughout."""
    code = [0x0B]

    def gateway_exception(reply: bytes) -> bytes:
        if reply[6] != 2:
            return reply
        return reply[:4] + b"\x00\x03" + bytes([2, reply[7] | 0x80, code[0]])

    with two_behind_gateway(0.3) as (relay, runtimes):
        relay.mangle = gateway_exception
        one, two = runtimes
        with Reader(runtimes) as reader:
            run_reader_until(reader, lambda: two.state == "down", 5.0)
            assert two.last_error == (
                "no response to 3 requests in a row: it did not answer the gateway, which "
                "answers exception 0x0B (gateway target device failed to respond)"
            )
            code[0] = 0x0A
            with capture_logs() as logs:
                run_reader_until(reader, lambda: counters(two).exceptions.get(10, 0) >= 3, 10.0)
            assert two.state == "down"
            assert two.last_error.startswith("no response to ")
            assert two.last_error.endswith(
                " requests in a row: the gateway has no path to it and answers exception 0x0A "
                "(gateway path unavailable)"
            )
            assert two.snapshot().as_json()["last_error"] == two.last_error
            assert one.state == "up"
            assert counters(one).timeouts == 0
    changed = [e for e in logs if e["event"] == "device still down, for another reason"]
    assert [(e["sensor"], e["error"]) for e in changed] == [("two", two.last_error)]


@pytest.mark.slow
def test_a_gateway_connection_that_keeps_breaking_is_not_blamed_on_a_usb_adapter() -> None:
    """The gateway resets the connection during every exchange (another client took the
    one-client gateway, the gateway restarts, the network drops it): the device goes down
    and up at each reset, and the warning that its state keeps changing points at the
    gateway, the other clients and the network, not at a cable, a USB adapter or the
    kernel's log of USB disconnects."""
    with ModbusServer([1], "tcp") as server, TcpRelay(server.port) as relay:
        relay.ignore = True  # each request stays in flight until the reset
        table = device("one", relay.url(), 1, interval_s=0.1, timeout_s=5.0)
        table["reconnect"] = {"initial_delay_s": 0.1, "max_delay_s": 0.1}
        runtime = SensorRuntime(load(table).sensors[0])

        def flapping(logs: list[MutableMapping[str, Any]]) -> list[MutableMapping[str, Any]]:
            return [e for e in logs if e["event"].startswith("sensor state keeps changing")]

        # woken often: what the relay received is no event of the reader's loop, whose
        # request waits out a 5 s timeout
        with capture_logs() as logs, Reader([runtime]) as reader, waking(reader):
            for _ in range(12):
                asked = len(relay.received)
                run_reader_until(reader, lambda: len(relay.received) > asked, 5.0)  # noqa: B023
                relay.reset()
                run_reader_until(reader, lambda: runtime.state == "down", 5.0)
                if flapping(logs):
                    break
    (warning,) = flapping(logs)
    assert warning["sensor"] == "one"
    assert warning["hint"] == (
        "the connection keeps breaking and opening again: the gateway or serial server ends "
        "it (one that serves a single client drops this one whenever another connects: a "
        "second sensord, a SCADA system or a configuration tool polling it, or another port "
        "of this configuration that names it otherwise, its host name and its address; one "
        "with an inactivity timeout ends each connection that carried nothing for that long: set it "
        "above the device's longest pause between frames, or off), it restarts, or the "
        "network between drops it; sensord_serial_reconnects_total counts them"
    )


@pytest.mark.slow
def test_sigterm_does_not_wait_for_a_connect_the_gateway_leaves_unanswered(
    start_daemon: StartDaemon,
) -> None:
    """A gateway whose connection queue is full (a cheap one that takes a single client)
    drops sensord's connection request, so the connect waits out pyserial's 5 s timeout, as
    it does for a gateway that is switched off behind a switch and for a name lookup whose
    DNS server does not answer. Neither can be cut short: SIGTERM during it still ends the
    daemon at once, exit status 0, and the open is left to finish on its own thread."""
    listener = socket.create_server(("127.0.0.1", 0), backlog=0)
    port = listener.getsockname()[1]
    queued: list[socket.socket] = []
    try:
        while True:  # fill the queue: the next connection request is dropped
            client = socket.socket()
            client.settimeout(0.2)
            queued.append(client)
            try:
                client.connect(("127.0.0.1", port))
            except TimeoutError:
                break
        daemon = start_daemon(config=gateway_config(f"modbus-tcp://127.0.0.1:{port}"))
        daemon.wait_http()
        time.sleep(0.5)  # the connect is waiting for the gateway
        assert {s["state"] for s in daemon.status()["sensors"].values()} == {"opening"}
        took, code = daemon.stop_timed(10)
        assert code == 0
        # the stop waits OPEN_JOIN_LIMIT_S (0.5 s) for the open, then exits: 0.6-0.8 s on a
        # loaded machine, against the 4 s and more that waiting out the connect would take
        assert took < 2.0, took
    finally:
        for client in queued:
            client.close()
        listener.close()


@pytest.mark.slow
def test_the_stale_hint_of_a_modbus_tcp_device_speaks_of_the_gateway_not_the_line() -> None:
    """Two devices behind a gateway go stale before they are down (3 timeouts): unit 3,
    whose replies the gateway drops, and unit 2, whose replies come with a transaction id
    no request was sent with. Their stale hints name what can be wrong over Modbus TCP (the
    unit id and the gateway's reach; the transaction ids), not an RS-485 line's baud rate,
    parity and wiring, nor another master on the line."""
    with ModbusServer([2, 3], "tcp") as server, TcpRelay(server.port) as relay:
        server.set(2, "input", 0, [21])
        relay.mangle = lambda reply: b"" if reply[6] == 3 else foreign_id(reply)
        tables = [
            device("gone", relay.url(), 3, interval_s=0.3, timeout_s=0.1),
            device("two", relay.url(), 2, interval_s=0.3, timeout_s=0.1),
        ]
        for table in tables:
            table["stale_after_s"] = 0.5
        runtimes = [SensorRuntime(s) for s in load(*tables).sensors]
        with capture_logs() as logs, Reader(runtimes) as reader:

            def stale() -> dict[str, str]:
                return {
                    e["sensor"]: e["hint"]
                    for e in logs
                    if e["event"] == "sensor state" and e["state"] == "stale"
                }

            run_reader_until(reader, lambda: len(stale()) == 2, 5.0)
            hints = stale()
    unanswered = (
        r"\d requests? went unanswered: check the unit id \(modbus\.unit = {unit}\), and that "
        r"the gateway reaches the device"
    )
    assert re.fullmatch(unanswered.format(unit=3), hints["gone"]), hints["gone"]
    assert re.fullmatch(
        unanswered.format(unit=2)
        + r"; \d repl(y|ies) came with a transaction id no request was sent with: "
        r"the gateway or device does not return the request's transaction id, or a gateway "
        r"shared by several clients mixes up their replies",
        hints["two"],
    ), hints["two"]


@pytest.mark.slow
def test_a_one_client_gateway_that_another_client_takes_is_named_in_the_close_hint() -> None:
    """A gateway that serves one client at a time resets sensord's connection whenever
    another client connects (every 0.3 s here), and the devices are polled every 0.1 s, far
    more often than any gateway's idle timeout. The devices go on being read at each
    reconnect, and the close's log line names the other client as a cause, not only an idle
    timeout."""
    with two_behind_gateway(0.3) as (relay, runtimes):
        relay.single_client = True
        stop = threading.Event()

        def other_client() -> None:
            while not stop.wait(0.3):
                with socket.create_connection(("127.0.0.1", relay.port), timeout=2.0):
                    pass

        other = threading.Thread(target=other_client, name="other-client")
        with capture_logs() as logs, Reader(runtimes) as reader:
            other.start()
            try:
                run_reader_until(reader, lambda: min(r.reconnects for r in runtimes) >= 3, 10.0)
            finally:
                stop.set()
                other.join()
            for runtime in runtimes:
                assert counters(runtime).transactions >= 3
    closed = [e for e in logs if e["event"] == "connection closed while idle"]
    assert closed
    assert closed[0]["hint"] == (
        "the gateway closes connections that carry no request for a while: it is opened again "
        "at the next poll; if the bus is polled more often than the gateway's idle timeout, "
        "the gateway serves one client at a time and another one connected (a second "
        "sensord, a SCADA system, a configuration tool, or another port of this "
        "configuration that names the gateway otherwise: its host name and its address): "
        "each takes the connection from the other"
    )


@pytest.mark.slow
def test_a_gateway_that_sticks_again_after_each_reconnect_is_logged_once_a_minute() -> None:
    """A gateway whose session sticks again soon after each new connection: every reconnect
    for silence is counted, in reconnects and silent_reconnects, and each time the devices
    are read again; the warning and the line of the reopen are logged once for the minute,
    not at every reconnect."""
    with (
        two_behind_gateway(0.1, stale_after_s=0.5) as (relay, runtimes),
        capture_logs() as logs,
        Reader(runtimes) as reader,
    ):
        for spell in range(1, 4):  # the 2nd and 3rd are held back, the minute not over
            before = [counters(r).transactions for r in runtimes]
            run_reader_until(
                reader,
                lambda before=before: all(  # type: ignore[misc]
                    counters(r).transactions > n for r, n in zip(runtimes, before, strict=True)
                ),
                10.0,
            )
            relay.stall()
            run_reader_until(
                reader,
                lambda spell=spell: runtimes[0].silent_reconnects == spell,  # type: ignore[misc]
                10.0,
            )
        run_reader_until(reader, lambda: all(r.reconnects == 3 for r in runtimes), 10.0)
        for runtime in runtimes:
            assert runtime.silent_reconnects == runtime.reconnects == 3
            assert runtime.snapshot().as_json()["silent_reconnects"] == 3
    warnings = [e for e in logs if e["event"] == "connection silent; reconnecting"]
    assert [e["log_level"] for e in warnings] == ["warning"]
    assert warnings[0]["suppressed"] == 0
    assert len([e for e in logs if e["event"] == "bus open again after a silent connection"]) == 1


class TcpHand:
    """A bus on a Modbus TCP connection whose gateway the test plays from a socket, on a
    clock that stands still until the test moves it."""

    def __init__(self, *tables: dict[str, Any]) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        url = f"modbus-tcp://127.0.0.1:{self.server.getsockname()[1]}"
        self.now = 100.0
        config = load(*({**t, "port": url} for t in tables))
        self.runtimes = {s.name: SensorRuntime(s, clock=self.clock) for s in config.sensors}
        self.bus = Bus("bus:" + url, config.sensors[0], clock=self.clock)
        for runtime in self.runtimes.values():
            self.bus.add(runtime)
        assert self.bus.try_open()
        self.gateway, _ = self.server.accept()
        self.gateway.settimeout(0.005)  # the bus writes at once: a request is there or none is

    def clock(self) -> float:
        return self.now

    def sent(self) -> bytes:
        try:
            return self.gateway.recv(12)
        except TimeoutError:
            return b""

    def tick(self, at: float) -> bytes:
        self.now = at
        self.bus.tick(at)
        return self.sent()

    def send(self, at: float, data: bytes) -> bytes:
        """The gateway sends ``data`` at ``at``; the bus reads it all. What the bus wrote in
        return is returned."""
        self.now = at
        self.gateway.sendall(data)
        source = self.bus.source
        assert source is not None
        got = 0
        deadline = time.monotonic() + 2.0
        while got < len(data):
            assert time.monotonic() < deadline, "the reply never arrived"
            chunk = source.read()
            if chunk:
                got += len(chunk)
                self.bus.feed(chunk)
            else:
                time.sleep(0.002)
        return self.sent()

    def close(self) -> None:
        self.bus.stop()
        self.gateway.close()
        self.server.close()


def reply_to(request: bytes, transaction_id: int | None = None) -> bytes:
    """The answer (value 7) to the one-register read ``request``, with its transaction id or
    ``transaction_id``."""
    tid = request[:2] if transaction_id is None else transaction_id.to_bytes(2, "big")
    return tid + request[2:4] + b"\0\x05" + request[6:8] + b"\x02\x00\x07"


def test_a_reply_with_an_unknown_transaction_id_between_exchanges_is_counted() -> None:
    """A reply with a transaction id no request was sent with that arrives while no request
    is in flight is counted as ``unasked`` for the device of its unit id and logged with its
    id (there is no exchange whose id it could be compared with), as during an exchange."""
    hand = TcpHand(device("meter", "", 1, interval_s=1.0, timeout_s=0.3))
    try:
        request = hand.tick(100.0)
        assert request
        assert hand.send(100.01, reply_to(request)) == b""
        with capture_logs() as logs:
            assert hand.send(100.2, reply_to(request, 0x4321)) == b""
        meter = counters(hand.runtimes["meter"])
        assert meter.errors["unasked"] == 1
        assert meter.transactions == 1
        [noted] = [
            e for e in logs if e["event"] == "reply with a transaction id no request was sent with"
        ]
        assert noted["transaction_id"] == 0x4321
        assert "expected" not in noted
    finally:
        hand.close()


def test_a_gateway_that_repeats_a_reply_is_not_taken_for_another_master() -> None:
    """A gateway that sends each reply twice: the second copy, between exchanges or during
    the next one, is a reply to a request answered already (counted as ``unasked``, logged
    as such), not a reply with a transaction id nobody sent; the next request is read."""
    hand = TcpHand(device("meter", "", 1, interval_s=1.0, timeout_s=0.3))
    mark = counters(hand.runtimes["meter"]).mark()
    try:
        with capture_logs() as logs:
            first = hand.tick(100.0)
            assert hand.send(100.01, reply_to(first)) == b""
            assert hand.send(100.02, reply_to(first)) == b""  # between exchanges
            second = hand.tick(101.0)
            assert second
            assert hand.send(101.01, reply_to(first)) == b""  # during the next one
            assert hand.send(101.02, reply_to(second)) == b""
        meter = counters(hand.runtimes["meter"])
        assert meter.errors["unasked"] == 2
        assert meter.transactions == 2
        events = [e["event"] for e in logs if e["log_level"] == "warning"]
        assert events == ["reply to a request answered already"], events
        [noted] = [e for e in logs if e["event"] == "reply to a request answered already"]
        assert noted["transaction_id"] == int.from_bytes(first[:2], "big")
        # the stale hint tells them as repeats, not as replies to requests never sent
        assert meter.hint_since(mark, "meter") == (
            "2 replies repeated one taken already: the gateway repeats some replies, or the "
            "network path duplicates packets"
        )
    finally:
        hand.close()


def test_polls_missed_behind_a_gateway_are_not_blamed_on_the_baud_rate() -> None:
    """A device behind a Modbus TCP gateway whose answers take longer than its interval
    misses polls: the warning names the gateway and the network, not a baud rate or RS-485
    line that the connection does not have."""
    hand = TcpHand(device("meter", "", 1, interval_s=1.0, timeout_s=5.0))
    try:
        with capture_logs() as logs:
            request = hand.tick(100.0)
            assert request
            assert hand.send(103.0, reply_to(request))
        assert counters(hand.runtimes["meter"]).polls_missed > 0
        [warned] = [e for e in logs if e["event"] == "polls missed: the bus had no time for them"]
        assert "baud rate" not in warned["hint"], warned
        assert "gateway" in warned["hint"], warned
        assert "modbus.interval_s" in warned["hint"], warned
    finally:
        hand.close()


@pytest.mark.slow
def test_a_gateway_that_drops_requests_right_after_a_connect_gets_its_delay_on_every_connect() -> (
    None
):
    """A Huawei SDongle drops the requests that come sooner than a second or so after a
    connection opens (``connect_delay_s``), and gateways close idle connections: a device
    polled less often than the gateway's idle timeout finds a new connection at every poll.
    Its first request on each one waits its ``connect_delay_s`` as on the first connection,
    so none is dropped, none times out, and the device is read at every poll, never down."""
    with ModbusServer([1], "tcp") as server, TcpRelay(server.port) as relay:
        server.set(1, "input", 0, [11])
        relay.deaf_after_connect_s = 0.2
        relay.idle_close_s = 0.6
        config = load(
            device("one", relay.url(), 1, interval_s=1.2, timeout_s=0.3, connect_delay_s=0.35)
        )
        # its connections open at about 0, 1.6 and 2.8 s (the connect delay postpones a poll),
        # and the third poll's request goes out 0.35 s after its connect: about 0.45 s before
        # the end of the run
        with capture_logs() as logs, run_for(config, 3.6) as reader:
            one = reader.sensors["one"]
            assert relay.accepted >= 3  # a new connection at (nearly) every poll
            assert relay.dropped_early == 0
            assert counters(one).timeouts == 0
            assert not counters(one).down
            assert 3 <= counters(one).transactions <= 4
            assert one.state == "up"
    assert [e for e in logs if e["event"] in ("device down", "bus lost")] == []


def zero_id(reply: bytes) -> bytes:
    """Unit 1's ``reply`` with transaction id 0 whatever its request's (an ESP8266 firmware,
    emelianov/modbus-esp8266 issue #109: ``00 00 00 00 00 17 A0 03 14 ...``; a ZHC1921,
    AndreasAmMueller/Modbus issue #18), unit 2's as sent."""
    return b"\0\0" + reply[2:] if reply[6] == 1 else reply


@pytest.mark.slow
def test_a_device_that_answers_with_transaction_id_0_is_read() -> None:
    """Unit 1 answers every request with transaction id 0, which sensord never sends (as
    pymodbus's client, since pull request #2844, such a reply answers the request in flight):
    its values are read at every poll, nothing is counted as unasked or times out, the quirk
    is logged once, and the exchanges its capture keeps are cut and decoded as read. Unit 2
    behind the same connection is read every time."""
    with two_behind_gateway(0.3) as (relay, runtimes):
        relay.mangle = zero_id
        one, two = runtimes
        with capture_logs() as logs, Reader(runtimes) as reader:
            run_reader_until(reader, lambda: counters(one).transactions >= 10, 5.0)
            for runtime in (one, two):
                assert counters(runtime).timeouts == 0, runtime.name
                assert counters(runtime).errors == dict.fromkeys(counters(runtime).errors, 0)
                assert runtime.state == "up"
            assert window(one) == {"r0": (11.0, 11.0)}
            assert window(two) == {"r0": (21.0, 21.0)}
            capture = parse_capture(one.capture.capture({"sensor": "one", "format": "modbus"}))
            spec = one.config.format_spec()
    # the exchanges it keeps are cut and decoded again as they were read
    stream = b"".join(record.data for record in capture.records)
    framer = modbus_codec.framer(spec, b"", 0)
    frames = framer.feed(stream)
    assert len(frames) == len(capture.records) >= 10
    assert framer.skipped_bytes == 0
    decode = modbus_codec.decoder(spec)
    assert {tuple(decode(frame)) for frame in frames} == {(("r0", 11.0),)}
    (noted,) = [e for e in logs if e["event"].startswith("device answers with transaction id 0")]
    assert noted["sensor"] == "one"


@pytest.mark.slow
def test_a_late_answer_with_transaction_id_0_is_not_taken_for_the_next_read() -> None:
    """Unit 1 answers with transaction id 0, which names no request, and reads two registers
    apart, each answer as long as the other's. One answer comes after its timeout: it is
    counted as ``late`` (not as a reply nobody asked for), and the connection stays quiet
    until it has come and the device's timeout passed after it, so it is never taken for the
    other read's answer: each register keeps its own value."""
    with ModbusServer([1], "tcp") as server, TcpRelay(server.port) as relay:
        server.set(1, "input", 0, [10, 0, 0, 0, 0, 15])
        replies = [0]

        def hold(reply: bytes) -> float:
            replies[0] += 1
            return 0.45 if replies[0] in (5, 12) else 0.0

        relay.mangle = zero_id
        relay.hold = hold
        table = device("one", relay.url(), 1, interval_s=0.2, timeout_s=0.3)
        table["registers"].append({"name": "r5", "table": "input", "address": 5})
        table["channels"].append({"name": "r5"})
        with capture_logs() as logs, run_for(load(table), 4.0) as reader:
            one = reader.sensors["one"]
            assert window(one) == {"r0": (10.0, 10.0), "r5": (15.0, 15.0)}
            assert counters(one).timeouts == 2
            assert counters(one).errors["late"] == 2
            assert counters(one).errors["unasked"] == 0
            assert counters(one).transactions >= 8
    late = [e for e in logs if e["event"] == "answer after the timeout"]
    assert late
    assert late[0]["sensor"] == "one"


def test_a_late_answer_with_transaction_id_0_during_another_unit_s_exchange_is_late() -> None:
    """Unit 1 answers with transaction id 0; a request of its times out, and its answer comes
    while unit 2's exchange is in flight (the gateway served unit 1's request first). It is
    unit 1's answer after its timeout, counted ``late`` for unit 1, and unit 2, whose reply
    waited behind it, is read: nothing is counted ``unasked`` for unit 2, nor is it told that
    its gateway mixes up transaction ids."""
    hand = TcpHand(
        device("one", "", 1, interval_s=1.0, timeout_s=0.3),
        device("two", "", 2, interval_s=1.0, timeout_s=0.3),
    )
    try:
        request = hand.tick(100.0)
        at = 100.0
        while request:  # unit 1 answers with transaction id 0, unit 2 with its request's
            at += 0.01
            request = hand.send(at, reply_to(request, 0 if request[6] == 1 else None))
        one, two = counters(hand.runtimes["one"]), counters(hand.runtimes["two"])
        assert (one.transactions, two.transactions) == (1, 1)
        unanswered = hand.tick(101.0)
        assert unanswered[6] == 1
        at = 101.0
        request = b""
        while not request and at < 103.0:  # unit 1's request times out; unit 2's goes
            at = round(at + 0.05, 3)
            request = hand.tick(at)
        assert request[6] == 2, request
        with capture_logs() as logs:
            at += 0.05
            assert hand.send(at, reply_to(unanswered, 0)) == b""  # unit 1's, late
            hand.tick(at + 0.28)  # unit 2's own timeout would have passed by now
            hand.send(at + 0.29, reply_to(request))
        assert one.timeouts == 1
        assert one.errors["late"] == 1
        assert two.errors["unasked"] == 0
        assert two.timeouts == 0
        assert two.transactions == 2
        warned = [e for e in logs if e["log_level"] == "warning"]
        assert [(e["event"], e["sensor"]) for e in warned] == [
            ("answer after the timeout", "one")
        ], warned
    finally:
        hand.close()


def test_a_repeated_reply_with_transaction_id_0_is_no_late_answer() -> None:
    """A device that answers with transaction id 0 behind a gateway that sends each reply
    twice: no request of it timed out, so the copy between exchanges answers nothing still
    owed. It is a reply to a request answered already (counted as ``repeated`` and
    ``unasked``), not an answer after the timeout: the device is not told to raise its
    timeout, and its next request goes out on time."""
    hand = TcpHand(device("meter", "", 1, interval_s=1.0, timeout_s=0.3))
    mark = counters(hand.runtimes["meter"]).mark()
    try:
        with capture_logs() as logs:
            first = hand.tick(100.0)
            assert hand.send(100.01, reply_to(first, 0)) == b""
            assert hand.send(100.02, reply_to(first, 0)) == b""  # the copy
            second = hand.tick(101.0)
            assert second
            assert hand.send(101.01, reply_to(second, 0)) == b""
        meter = counters(hand.runtimes["meter"])
        assert meter.transactions == 2
        assert meter.timeouts == 0
        assert meter.errors["late"] == 0
        assert meter.errors["unasked"] == 1
        events = [e["event"] for e in logs if e["log_level"] == "warning"]
        assert events == ["reply to a request answered already"], events
        assert meter.hint_since(mark, "meter") == (
            "1 reply repeated one taken already: the gateway repeats some replies, or the "
            "network path duplicates packets"
        )
    finally:
        hand.close()


@pytest.mark.slow
def test_a_gateway_s_idle_close_whose_close_fails_is_a_lost_bus() -> None:
    """A gateway closes the connection after 0.5 s without a request (its idle timeout), and
    sensord's close of that connection then fails (EIO): the port is closed all the same,
    and its close failing is sensord's own failure (logged as the port failing, opened
    again at its backoff), so the bus is lost and its device down for the reason the
    connection ended, not taken for an idle close that keeps the device up and reopens at
    its next poll. A relay on loopback in front of a real pymodbus server; the close fails
    for the first connection."""
    with ModbusServer([1], "tcp") as server, TcpRelay(server.port) as relay:
        server.set(1, "input", 0, [11])
        relay.idle_close_s = 0.5
        config = load(device("one", relay.url(), 1, interval_s=1.2, timeout_s=0.3))
        reader = Reader([SensorRuntime(s) for s in config.sensors])
        bus = reader._buses["bus:" + relay.url()]
        new_source = bus.new_source
        sources: list[Any] = []

        def failing_source() -> Any:
            source = new_source()
            if not sources:
                close = source._close

                def failing(was_open: bool) -> None:
                    close(was_open)
                    raise OSError(5, "Input/output error")

                source._close = failing  # type: ignore[method-assign]
            sources.append(source)
            return source

        bus.new_source = failing_source  # type: ignore[method-assign]
        one = reader.sensors["one"]
        try:
            with capture_logs() as logs:
                run_reader_until(reader, lambda: one.state == "up", 5.0)
                run_reader_until(reader, lambda: bus.source is None, 5.0)
                state = one.state
        finally:
            reader.close()
    assert state == "down", state
    assert "hung up" in one.last_error, one.last_error
    assert [e["during"] for e in logs if e["event"].startswith("port failed unexpectedly")] == [
        "closing its port"
    ]
    assert [e for e in logs if e["event"] == "bus lost"]
    assert not [e for e in logs if e["event"] == "connection closed while idle"]


@pytest.mark.parametrize(
    "other",
    ["modbus-tcp://GW.example:502", "modbus-tcp://gw.example:502/", "MODBUS-TCP://gw.example:502"],
)
def test_a_gateway_named_two_ways_is_a_config_error(other: str) -> None:
    """Two devices behind one gateway whose port is written two ways were two buses, each with
    a connection of its own: on a gateway that serves one client each new connection took
    the other's (as a second master does: https://github.com/NModbus4/NModbus4/issues/152,
    "My connection closes when another device connects to the same modbus slave"), and on
    one that serves several their requests went to its serial line over each other's. The
    config says to write the port the same way, so that they share one connection; written
    the same way they load as one bus."""
    first = device("one", "modbus-tcp://gw.example:502", 1)
    errors: list[str] = []
    assert Config.load({"sensors": [first, device("two", other, 2)]}, "", errors) is None
    assert errors == [
        f"sensors[1].port: {other!r} names the peer of sensors[0], written "
        "'modbus-tcp://gw.example:502': write it the same way (each way of writing it opens "
        "a connection of its own; Modbus devices on one port share one connection as a bus)"
    ]
    same = load(first, device("two", "modbus-tcp://gw.example:502", 2))
    assert {sensor.port for sensor in same.sensors} == {"modbus-tcp://gw.example:502"}


@pytest.mark.parametrize(
    ("first", "second", "says", "other_says"),
    [
        (
            "modbus-tcp://gw.example:502",
            "socket://GW.example:502",
            "the serial bytes as they are (RTU over TCP, for a Modbus device)",
            "Modbus TCP",
        ),
        (
            "socket://gw.example:502",
            "modbus-tcp://gw.example:502/",
            "Modbus TCP",
            "the serial bytes as they are (RTU over TCP, for a Modbus device)",
        ),
        (
            "rfc2217://gw.example:502",
            "modbus-tcp://gw.example:502",
            "Modbus TCP",
            "RFC 2217 (telnet)",
        ),
    ],
)
def test_two_protocols_to_one_gateway_port_are_a_config_error(
    first: str, second: str, says: str, other_says: str
) -> None:
    """RTU over TCP (``socket://``) to the host and port that another device reads with
    Modbus TCP (``modbus-tcp://``) were two ports: two buses, each with a connection of its
    own, to a port that speaks one of the two (a gateway's mode: "Modbus TCP to RTU" or
    transparent; https://github.com/timlaing/modbus_local_gateway/issues/113 reads a
    transparent gateway only once its client frames RTU), so one bus got no answer and a
    gateway that serves one client took the connection of one for the other's. The config
    says so, naming both schemes, whatever the case of the host or a trailing ``/``."""
    errors: list[str] = []
    tables = [device("one", first, 1), device("two", second, 2)]
    assert Config.load({"sensors": tables}, "", errors) is None
    assert errors == [
        f"sensors[1].port: {second!r} speaks {says} to the host and port that sensors[0] "
        f"speaks {other_says} to, as {first!r}: a port of a gateway or serial server speaks "
        "one of them (its mode: Modbus TCP to RTU, or transparent), so the other gets no "
        "answer, and one that serves one client takes the connection of one for the "
        "other's; give both the scheme of that port's mode"
    ]
    other_port = load(device("one", first, 1), device("two", second.replace("502", "503"), 2))
    assert len(other_port.sensors) == 2


@pytest.mark.slow
def test_a_dongle_that_drops_the_first_requests_of_a_connection_is_told_of_connect_delay() -> None:
    """A Huawei SDongle drops the requests that come in the first second or two after a
    connect (https://github.com/openhab/openhab-core/issues/2926; evcc-io/evcc#31996 gives
    1 to 2 s by firmware). A device behind it without ``connect_delay_s``, polled every
    0.5 s, times out 3 times on the new connection and went down with "check the unit id,
    and that the gateway reaches the device" alone, at every connect. Its down reason says
    too that nothing was answered on the connection yet, and names connect_delay_s; a dead
    unit beside one that answers on the connection is told the unit id and the gateway
    only."""
    with ModbusServer([1], "tcp") as server, TcpRelay(server.port) as relay:
        server.set(1, "input", 0, [11])
        relay.deaf_after_connect_s = 2.0
        runtime = SensorRuntime(
            load(device("one", relay.url(), 1, interval_s=0.5, timeout_s=0.3)).sensors[0]
        )
        with Reader([runtime]) as reader:
            run_reader_until(reader, lambda: runtime.state == "down", 5.0)
            assert runtime.last_error == (
                "no response to 3 requests in a row: "
                + FRESH_CONNECTION_HINT.replace(
                    "check the unit id", "check the unit id (modbus.unit = 1)"
                )
            )
            assert relay.dropped_early == 3
            run_reader_until(reader, lambda: runtime.state == "up", 5.0)
            assert window(runtime) == {"r0": (11.0, 11.0)}
    with two_behind_gateway(0.2) as (relay, runtimes):
        relay.mangle = lambda reply: b"" if reply[6] == 2 else reply  # unit 2 is dead
        with Reader(runtimes) as reader:
            two = runtimes[1]
            run_reader_until(reader, lambda: two.state == "down", 5.0)
            assert two.last_error == "no response to 3 requests in a row: " + NO_ANSWER_HINT[
                "tcp"
            ].replace("check the unit id", "check the unit id (modbus.unit = 2)")


@pytest.mark.slow
def test_a_gateway_that_refuses_a_connection_after_serving_one_is_not_said_to_be_absent() -> None:
    """A gateway that serves one client (or a few) refuses a connection while its slots are
    taken: an ESP32 Modbus TCP server refuses past CONFIG_FMB_TCP_PORT_MAX_CONN
    (https://github.com/espressif/esp-modbus/issues/127), and one whose half-open sessions
    hold its few slots refuses every new one
    (https://github.com/emelianov/modbus-esp8266/issues/86). Here the gateway resets
    sensord's connection and refuses the next, as such a gateway does once another client
    took its slot. The device's reason said "nothing listens at HOST:PORT; check that the
    serial server (ser2net) or gateway runs there, and the port number", which the
    connection that had worked a moment before belies; it says that the gateway accepted a
    connection before and what takes its connections. The first open of a port that never
    connected keeps the old text (``test_an_open_failure_names_the_url_as_configured``)."""
    with ModbusServer([1], "tcp") as server, TcpRelay(server.port) as relay:
        server.set(1, "input", 0, [11])
        runtime = SensorRuntime(
            load(device("one", relay.url(), 1, interval_s=0.2, timeout_s=0.3)).sensors[0]
        )
        with Reader([runtime]) as reader:
            run_reader_until(reader, lambda: counters(runtime).transactions > 0, 5.0)
            relay.refuse()
            run_reader_until(reader, lambda: runtime.state == "down", 5.0)
            address = relay.url().removeprefix("modbus-tcp://")
            assert runtime.last_error == (
                f"bus {relay.url()}: cannot open {relay.url()}: Connection refused: {address} "
                "accepted a connection before in this run: a gateway or serial server that "
                "serves one client (or a few) refuses more while they are taken (another "
                "client: a second sensord, a SCADA system, a configuration tool, another "
                "port of this configuration that names it otherwise, its host name and its "
                "address; or an earlier connection of this host's it has not seen end), or it "
                "is restarting"
            )
            relay.listen()
            run_reader_until(reader, lambda: runtime.state == "up", 10.0)


def three_behind_a_device_that_needs_a_pause(gap_s: float) -> tuple[int, list[Any]]:
    """Units 1..3 polled every 0.5 s with ``gap_s`` for 2.7 s behind a relay that closes the
    connection of a request that comes within 50 ms of the last reply (each asserted read at
    every poll): how many requests it closed on, and the log."""
    with ModbusServer([1, 2, 3], "tcp") as server, TcpRelay(server.port) as relay:
        replied = [float("-inf")]

        def noted(reply: bytes) -> bytes:
            replied[0] = time.monotonic()
            return reply

        for unit in (1, 2, 3):
            server.set(unit, "input", 0, [unit * 10 + 1])
        relay.mangle = noted
        relay.close_on = lambda _request: time.monotonic() - replied[0] < 0.05
        tables = [
            device(f"d{unit}", relay.url(), unit, interval_s=0.5, timeout_s=0.3, gap_s=gap_s)
            for unit in (1, 2, 3)
        ]
        with capture_logs() as logs, run_for(load(*tables), 2.7) as reader:
            for unit in (1, 2, 3):
                runtime = reader.sensors[f"d{unit}"]
                assert runtime.state == "up"
                assert 5 <= counters(runtime).transactions <= 7  # one per 0.5 s
                assert counters(runtime).timeouts == 0
                value = unit * 10 + 1.0
                assert window(runtime) == {"r0": (value, value)}
        return relay.closed_on, list(logs)


@pytest.mark.slow
def test_a_device_that_ends_the_connection_of_a_request_that_comes_too_soon_is_read() -> None:
    """Some devices need a pause between a reply and the next request (wallboxes polled back
    to back: https://github.com/steff393/wbec/issues/5; RTU devices behind their own TCP
    converter: https://github.com/thingsboard/thingsboard-gateway/issues/1664); this one ends
    the connection of a request that comes within 50 ms of its last reply. Over Modbus TCP
    the next request goes out as soon as a reply is in: each of them is asked again on a
    new connection, so the three devices are read at every poll, and the close's log line
    names modbus.gap_s, with which (0.1 s) nothing is closed at all."""
    closed_on, logs = three_behind_a_device_that_needs_a_pause(0.0)
    assert closed_on >= 10  # two of the three requests of each poll
    closed = [e for e in logs if e["event"] == "connection closed after a reply"]
    assert len(closed) == 1
    assert "modbus.gap_s" in closed[0]["hint"]
    assert [e for e in logs if e["event"] == "bus lost"] == []
    closed_on, logs = three_behind_a_device_that_needs_a_pause(0.1)
    assert closed_on == 0
    assert [e for e in logs if e["event"] == "connection closed after a reply"] == []


@pytest.mark.slow
def test_a_gateway_that_closes_a_connection_without_replies_is_not_told_of_modbus_gap() -> None:
    """A gateway whose inactivity time counts only what its serial side sends (2.5 s here;
    60 s on many) closes the connection while requests go out on it, when the device that
    answers is polled less often (every 3 s) and the other one behind it is dead: the close
    crosses one of the dead device's requests, sent right after its last timeout, and was
    logged as "connection closed after a reply" with modbus.gap_s for the cure, or, between
    two of them, as closed for carrying no request; neither is what happened, and gap_s
    changes nothing. The bus tells it by the requests that went unanswered since the
    connection last carried a byte, which it counts for its silence already (no work per
    exchange): logged once, with how long no reply came and what to set on the gateway.
    The device that answers stays up and is read at every poll."""
    with ModbusServer([1, 2], "tcp") as server, TcpRelay(server.port) as relay:
        server.set(1, "input", 0, [11])
        relay.mangle = lambda reply: b"" if reply[6] == 2 else reply  # unit 2 is dead
        relay.reply_idle_close_s = 2.5
        tables = [
            device("one", relay.url(), 1, interval_s=3.0, timeout_s=0.3),
            device("two", relay.url(), 2, interval_s=0.3, timeout_s=0.2),
        ]
        for table in tables:  # the dead device is asked at least every 0.6 s
            table["reconnect"] = {"initial_delay_s": 0.3, "max_delay_s": 0.6}
        config = load(*tables)
        with capture_logs() as logs, run_for(config, 7.0) as reader:
            one = reader.sensors["one"]
            assert one.state == "up"
            assert counters(one).transactions == 3  # at 0, 3 and 6 s
            assert window(one) == {"r0": (11.0, 11.0)}
            assert reader.sensors["two"].state == "down"
            assert relay.accepted == 3
    closed = [e for e in logs if e["event"].startswith("connection closed")]
    assert [e["event"] for e in closed] == ["connection closed while its requests went unanswered"]
    assert closed[0]["log_level"] == "info"
    assert closed[0]["hint"] == UNANSWERED_CLOSE_HINT
    assert "modbus.gap_s" not in closed[0]["hint"]
    assert 2.0 <= closed[0]["no_reply_for_s"] <= 2.7
    assert closed[0]["unanswered"] >= 3
    assert [e for e in logs if e["event"] == "bus lost"] == []
    states = [(e["sensor"], e["state"]) for e in logs if e["event"] == "sensor state"]
    assert ("one", "down") not in states
