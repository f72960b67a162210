"""Ports behind a network serial server that speaks RFC 2217 (``rfc2217://HOST:PORT``).

pyserial's RFC 2217 port has no descriptor to poll: the reader reads it with a blocking-read
thread that queues the chunks for the loop (``sensord.reader``). Here the server is real
(pyserial's ``PortManager`` serving a pty over TCP on loopback, ``harness.pty.Rfc2217Server``)
and so is the device on the pty's other end: a pymodbus ``ModbusSerialServer`` behind a relay
that can hold its answers back (``harness.modbus.PtyRelay``), or a line device the test
writes as.
"""

from __future__ import annotations

import math
import socket
import struct
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from harness.common import (
    GreetingServer,
    accepted_clients,
    refuse_threads,
    up_settled,
    wait_for,
)
from harness.config import load_sensors as load
from harness.daemon import DaemonProcess, StartDaemon
from harness.modbus import ModbusServer, PtyRelay, read_all, run_reader_until
from harness.pty import PtyPair, Rfc2217Server, open_fd_count
from harness.tcp_relay import TcpRelay
from harness.wire import nmea
from structlog.testing import capture_logs
from test_modbus import assert_typed_values, device, typed_device, values_of
from test_modbus_line import METER, float32
from test_reader_replies import streaming_port

from sensord import reader_feeder
from sensord.connection import ENDED_IDLE_HINT, HUNG_UP_AT_ONCE_S
from sensord.errors import SourceUnavailableError
from sensord.reader import Reader
from sensord.sensor import SensorRuntime
from sensord.serial_settings import SerialSettings
from sensord.sources import serial_pyserial
from sensord.sources.serial_port import SerialSource


@contextmanager
def modbus_line(delay_s: Any = None) -> Iterator[tuple[PtyRelay, ModbusServer, Rfc2217Server]]:
    """A pymodbus RTU server (unit 1) on a pty line served by an RFC 2217 server;
    ``delay_s(reply)`` holds each reply back that long (the device's turnaround)."""
    with (
        PtyRelay(delay_s=delay_s) as relay,
        ModbusServer([1], "serial", relay.far.path) as server,
        Rfc2217Server(relay.near) as rfc2217,
    ):
        yield relay, server, rfc2217


@contextmanager
def modbus_behind_rfc2217(delay_s: Any = None) -> Iterator[tuple[ModbusServer, Rfc2217Server]]:
    """``modbus_line`` without the relay."""
    with modbus_line(delay_s) as (_, server, rfc2217):
        yield server, rfc2217


def meter_and_stream(url: str, line_path: str, timeout_s: float, interval_s: float) -> Any:
    """A Modbus device at ``url`` and a value-line sensor on ``line_path``, loaded."""
    meter = device(
        "meter",
        url,
        1,
        [{"name": "a", "table": "holding", "address": 0}],
        interval_s=interval_s,
        timeout_s=timeout_s,
    )
    meter["serial"] = {"baudrate": 115200}
    line = {"name": "line", "port": line_path, "format": "value", "channels": [{"name": "v"}]}
    return load(meter, line)


def exchanges_beside_a_stream(
    delay_s: float, timeout_s: float, count: int, pause_s: float
) -> dict[str, Any]:
    """``count`` exchanges over RFC 2217 whose replies are held back ``delay_s``, while a pty
    beside the bus streams a line every 4 ms (the reader pauses ``pause_s`` between passes);
    the device's counters and what the stream delivered."""
    with (
        modbus_behind_rfc2217(lambda reply: delay_s) as (server, rfc2217),
        streaming_port() as line,
    ):
        server.set(1, "holding", 0, [0xFFFF])  # a Telnet IAC in every reply
        config = meter_and_stream(rfc2217.url, line.path, timeout_s, 0.15)
        reader = Reader([SensorRuntime(s) for s in config.sensors])
        reader.batch_interval_s = pause_s
        meter = reader.sensors["meter"]

        def done() -> bool:
            counters = meter.modbus
            return counters is not None and counters.transactions + counters.timeouts >= count

        try:
            run_reader_until(reader, done, 20.0)
            counters = meter.modbus
            assert counters is not None
            return {
                "transactions": counters.transactions,
                "timeouts": counters.timeouts,
                "errors": {k: v for k, v in counters.errors.items() if v},
                "mean_rtt_s": counters.rtt_sum_s / max(1, counters.transactions),
                "value": values_of(reader, "meter")["a"],
                "line_frames": reader.sensors["line"].snapshot().frames,
            }
        finally:
            reader.close()


# -- the port ------------------------------------------------------------------------------------


def test_try_write_returns_at_once_when_the_server_stops_reading() -> None:
    """The reader loop writes requests with ``try_write``, which must never wait: a server
    that stopped reading (hung, or its serial side held by flow control) fills the
    connection's buffers, and then each request is refused at once (False) instead of
    blocking the loop, and every port on it, for pyserial's socket timeout."""
    with (
        PtyPair() as pair,
        Rfc2217Server(pair) as server,
        SerialSource("remote", server.url, SerialSettings()) as source,
    ):
        server.freeze()
        request = b"\x01\x03\x00\x00\x00\x01\x84\x0a" * 32
        slowest_s = 0.0
        written = 0
        for _ in range(200_000):  # 50 MiB at most
            started = time.monotonic()
            sent = source.try_write(request)
            slowest_s = max(slowest_s, time.monotonic() - started)
            if not sent:
                break
            written += len(request)
        assert not sent, written
        assert slowest_s < 0.5, slowest_s
        assert not source.try_write(request)
        server.thaw()  # reading again: the connection takes requests again
        assert pair.read(written, timeout_s=10) == request * (written // len(request))
        assert source.try_write(request)
        assert pair.read(len(request)) == request


def test_a_server_that_hangs_is_not_only_said_to_lack_rfc2217() -> None:
    """A server that accepts the connection and then answers nothing lets pyserial's RFC
    2217 negotiation run out as a raw TCP server does: the error names both causes."""
    with PtyPair() as pair, Rfc2217Server(pair) as server:
        server.freeze()
        source = SerialSource("remote", server.url + "?timeout=0.3", SerialSettings())
        with pytest.raises(SourceUnavailableError, match="does not answer") as raised:
            source.open()
    assert "socket://HOST:PORT" in str(raised.value)


def line_through(pair: PtyPair, source: SerialSource) -> bytes:
    """What ``source`` reads, within 5 s, of a line written at the device's end."""
    pair.write(b"21.5\n")
    deadline = time.monotonic() + 5.0
    data = b""
    while b"\n" not in data and time.monotonic() < deadline:
        data += source.read()
    return data


@pytest.mark.parametrize("after_s", [0.0, 0.2])
def test_a_server_that_ends_the_connection_saying_nothing_is_said_to_end_it(
    after_s: float,
) -> None:
    """A serial server that closes each connection at once, or during the negotiation, and
    says nothing (stopping or restarting, or serving another client only) fails the open
    with that, not with pyserial's words for it: a broken pipe, or a negotiation left
    unanswered, which sends the operator to check whether the server speaks RFC 2217."""
    listener = socket.create_server(("127.0.0.1", 0))
    listener.settimeout(0.05)
    stop = threading.Event()

    def serve() -> None:
        for client in accepted_clients(listener, stop):
            time.sleep(after_s)
            client.close()

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    url = f"rfc2217://127.0.0.1:{listener.getsockname()[1]}?timeout=0.5"
    try:
        texts = []
        for _ in range(3):
            source = SerialSource("remote", url, SerialSettings())
            with pytest.raises(SourceUnavailableError) as raised:
                source.open()
            assert not source.is_open
            texts.append(str(raised.value))
    finally:
        stop.set()
        server.join(5)
        listener.close()
    said = (
        f"sensor 'remote': {url}: the server ended the connection during the RFC 2217 "
        "negotiation, saying nothing (a serial server that is stopping or restarting, or "
        "that serves no more clients)"
    )
    assert texts == [said] * 3, texts


def test_a_server_slower_than_the_network_timeout_is_named_with_the_url_s_timeout() -> None:
    """A server behind a slow link (a cellular modem, a congested VPN) answers each step of
    the negotiation later than pyserial waits for it: the error says that it may be late,
    with the wait and how to make it longer (``?timeout=S``), and a longer one opens it."""
    with (
        PtyPair() as pair,
        Rfc2217Server(pair) as server,
        TcpRelay(server.port, mbap=False) as relay,
    ):
        relay.hold = lambda reply: 0.3
        source = SerialSource("remote", relay.url("rfc2217") + "?timeout=0.1", SerialSettings())
        with pytest.raises(SourceUnavailableError) as raised:
            source.open()
        assert str(raised.value).endswith(
            "or it answers later than the 0.1 s its timeout in the URL allows for each step "
            "(a slow link)"
        ), str(raised.value)
        source = SerialSource("remote", relay.url("rfc2217"), SerialSettings())
        server.freeze()  # pyserial's own wait runs out
        with pytest.raises(SourceUnavailableError) as raised:
            source.open()
        assert str(raised.value).endswith(
            "or it answers later than the 3 s pyserial waits for each step (a slow link: "
            "?timeout=10 at the end of the URL waits 10 s)"
        ), str(raised.value)
        server.thaw()
        with SerialSource(
            "remote", relay.url("rfc2217") + "?timeout=1", SerialSettings()
        ) as source:
            assert line_through(pair, source) == b"21.5\n"


def test_the_longer_wait_an_error_names_is_an_option_the_url_takes() -> None:
    """The option that makes pyserial wait longer is named as the URL takes it: after an
    option the URL has (``?ign_set_control``, for a server in front of a pseudo-terminal),
    ``&timeout=10``, as ``?timeout=10`` there would be read as part of that option and fail
    every open; a URL that names its timeout twice has the first one in force, as pyserial
    reads it. Each URL given the option as the error names it opens."""
    with (
        PtyPair() as pair,
        Rfc2217Server(pair) as server,
        TcpRelay(server.port, mbap=False) as relay,
    ):
        url = relay.url("rfc2217") + "?ign_set_control"
        relay.hold = lambda reply: 0.3
        source = SerialSource("remote", url + "&timeout=0.1&timeout=9", SerialSettings())
        with pytest.raises(SourceUnavailableError) as raised:
            source.open()
        assert str(raised.value).endswith(
            "or it answers later than the 0.1 s its timeout in the URL allows for each step "
            "(a slow link)"
        ), str(raised.value)
        relay.hold = lambda reply: 0.0
        server.freeze()  # pyserial's own wait runs out
        with pytest.raises(SourceUnavailableError) as raised:
            SerialSource("remote", url, SerialSettings()).open()
        text = str(raised.value)
        server.thaw()
        assert text.endswith(
            "or it answers later than the 3 s pyserial waits for each step (a slow link: "
            "&timeout=10 at the end of the URL waits 10 s)"
        ), text
        option = text.rsplit("a slow link: ", 1)[1].split(" ", 1)[0]
        with SerialSource("remote", url + option, SerialSettings()) as source:
            assert line_through(pair, source) == b"21.5\n"


def test_a_server_that_negotiated_before_and_hangs_now_is_said_to_hang() -> None:
    """A server that completed the negotiation at this URL before and now answers nothing
    (ser2net hung or restarting) is said to hang, not to perhaps not speak RFC 2217, which
    would send the operator to change a URL that works."""
    with PtyPair() as pair, Rfc2217Server(pair) as server:
        url = server.url + "?timeout=0.3"
        source = SerialSource("remote", url, SerialSettings())
        source.open()
        source.close()
        server.freeze()
        again = SerialSource("remote", url, SerialSettings())
        with pytest.raises(SourceUnavailableError) as raised:
            again.open()
    text = str(raised.value)
    assert "which it completed before: it hangs or is restarting (ser2net)" in text
    assert "does not speak RFC 2217" not in text


def test_line_settings_a_server_leaves_unconfirmed_are_named_with_their_keys() -> None:
    """A server that answers the baud rate and data bits but leaves parity and stop bits
    unconfirmed: the error names those two settings by their config keys and values."""
    with PtyPair() as pair, Rfc2217Server(pair, unanswered=(3, 4)) as server:
        settings = SerialSettings(parity="E", stopbits=2)
        source = SerialSource("remote", server.url + "?timeout=0.3", settings)
        with pytest.raises(SourceUnavailableError) as raised:
            source.open()
    text = str(raised.value)
    assert "did not confirm serial.parity = 'E', serial.stopbits = 2" in text
    assert "baudrate" not in text.split("(pyserial", maxsplit=1)[0]
    assert "does not answer" not in text


def test_an_open_whose_server_hangs_fails_when_the_negotiation_runs_out() -> None:
    """A server that accepts the connection and answers nothing fails the open when pyserial's
    negotiation runs out (``?timeout=0.2``), with no wait for the rest of a connection that
    the server did not close."""
    with PtyPair() as pair, Rfc2217Server(pair) as server:
        server.freeze()
        took: list[float] = []
        for _ in range(3):
            source = SerialSource("remote", server.url + "?timeout=0.2", SerialSettings())
            started = time.monotonic()
            with pytest.raises(SourceUnavailableError, match="does not answer"):
                source.open()
            took.append(time.monotonic() - started)
    assert min(took) < 0.6, took


# -- Modbus RTU through the server ---------------------------------------------------------------


def test_every_type_and_order_is_read_right_through_an_rfc2217_server() -> None:
    """80 registers of every type in every word and byte order, in one merged read, over
    Telnet: the values are the server's, none lost to the protocol's escaping."""
    with modbus_behind_rfc2217() as (server, rfc2217):
        table = typed_device("m", rfc2217.url, 1, server)
        table["serial"] = {"baudrate": 115200}
        reader = read_all(
            load(table), lambda r: all(v is not None for v in values_of(r, "m").values())
        )
        with reader:
            assert_typed_values(values_of(reader, "m"))
            counters = reader.sensors["m"].modbus
            assert counters is not None
            assert counters.timeouts == 0
            assert {k: v for k, v in counters.errors.items() if v} == {}


def test_a_reply_queued_when_its_timeout_comes_is_the_exchange_s() -> None:
    """The reply is in the blocking-read thread's queue, and the loop has not taken it yet,
    when the exchange's timeout comes (the loop was busy: here it is stopped once the request
    is out, the reply arrives 0.3 s later, and the loop's clock then jumps past the timeout):
    the queue is drained before the bus is ticked, so the reply is the exchange's, not a
    timeout followed by a late answer."""
    offset_s = 0.0

    def clock() -> float:
        return time.monotonic() + offset_s

    with modbus_line(lambda reply: 0.3) as (relay, server, rfc2217):
        server.set(1, "holding", 0, [42])
        meter = device("meter", rfc2217.url, 1, [{"name": "a", "table": "holding", "address": 0}])
        meter["modbus"].update(interval_s=30.0, timeout_s=2.0)
        meter["serial"] = {"baudrate": 115200}
        reader = Reader([SensorRuntime(s, clock=clock) for s in load(meter).sensors], clock=clock)
        runtime = reader.sensors["meter"]
        asked = threading.Event()

        def stop_once_asked() -> None:
            deadline = time.monotonic() + 10.0
            while len(relay.requests) < 8 and time.monotonic() < deadline:
                time.sleep(0.005)
            asked.set()
            reader.stop()

        stopper = threading.Thread(target=stop_once_asked, name="stopper")
        with reader:
            stopper.start()
            run_reader_until(reader, asked.is_set, 15.0)
            stopper.join()
            assert runtime.modbus is not None
            assert runtime.modbus.transactions == 0  # not answered yet
            time.sleep(0.6)  # the reply comes 0.3 s after the request
            offset_s = 3.0  # past the request's timeout
            run_reader_until(
                reader, lambda: runtime.modbus is not None and runtime.modbus.transactions > 0, 5.0
            )
            assert runtime.modbus.timeouts == 0
            assert runtime.modbus.errors["late"] == 0
            assert values_of(reader, "meter") == {"a": 42.0}


@pytest.mark.slow
def test_a_round_trip_over_rfc2217_gains_no_pause_while_another_port_streams() -> None:
    """The device answers at once: the reply ends the reader's batch pause as it comes (the
    blocking-read thread wakes the pause), instead of waiting out a 250 ms pause."""
    got = exchanges_beside_a_stream(0.0, 0.5, 10, 0.25)
    assert got["timeouts"] == 0
    assert got["errors"] == {}
    assert got["value"] == 0xFFFF
    assert got["line_frames"] > 100  # the other port streamed
    assert got["mean_rtt_s"] < 0.06, got


@pytest.mark.slow
@pytest.mark.parametrize("delay_s", [0.5, 0.75])
def test_a_reply_shortly_before_the_timeout_is_taken_while_another_port_streams(
    delay_s: float,
) -> None:
    """Replies come 500 and 750 ms after their requests, the timeout is 1 s and the reader's
    pause 1 s: a reply queued by the blocking-read thread is the exchange's, taken when it
    comes (not only once the pause or the timeout is due, which makes the round trip 1 s),
    never timed out nor counted late. The round trips' mean stays under halfway between
    the two. A loaded machine stalls the replies' way through the relay, the server and the
    blocking-read thread by tens of milliseconds, more than once 50 ms: the 250 ms between
    the later reply and its timeout are room for that, not part of what is shown."""
    # every exchange takes the same way (its reply queued by the blocking-read thread, which
    # wakes the pause): four show it as well as more, and the mean of a pause or timeout
    # taken at each would be 1 s, whatever their number
    got = exchanges_beside_a_stream(delay_s, 1.0, 4, 1.0)
    assert got["timeouts"] == 0
    assert got["errors"] == {}
    assert got["transactions"] >= 4
    assert got["line_frames"] > 50
    assert got["mean_rtt_s"] < (delay_s + 1.0) / 2, got


@pytest.mark.slow
def test_an_answer_after_its_timeout_over_rfc2217_never_becomes_the_next_read_s() -> None:
    """A meter whose energy answers take 0.3 s against a 0.2 s timeout, polled every 0.35 s,
    while a pty beside it streams: its voltage and energy replies have one length, so a late
    energy answer would pass for the next voltage read. The voltage is right every time, the
    energy answers are counted as late."""

    def turnaround_s(reply: bytes) -> float:
        return 0.3 if struct.pack(">f", 123456.0) in reply else 0.02

    with (
        modbus_behind_rfc2217(turnaround_s) as (server, rfc2217),
        streaming_port() as line,
    ):
        server.set(1, "holding", 0, float32(230.0))
        server.set(1, "holding", 100, float32(123456.0))
        meter = device("meter", rfc2217.url, 1, METER, interval_s=0.35, timeout_s=0.2)
        meter["serial"] = {"baudrate": 115200}
        stream = {"name": "line", "port": line.path, "format": "value", "channels": [{"name": "v"}]}
        reader = Reader([SensorRuntime(s) for s in load(meter, stream).sensors])
        reader.batch_interval_s = 0.02
        runtime = reader.sensors["meter"]

        def enough() -> bool:
            counters = runtime.modbus
            return counters is not None and counters.errors["late"] >= 3

        with reader:
            run_reader_until(reader, enough, 15.0)
            [voltage, energy] = runtime.snapshot().channels
            assert voltage.stats is not None
            assert (voltage.stats.min, voltage.stats.max) == (230.0, 230.0)
            assert voltage.stats.count >= 3
            assert energy.stats is None
            assert runtime.modbus is not None
            assert runtime.modbus.timeouts >= 3


# -- line devices through the server -------------------------------------------------------------


def test_a_flood_beyond_the_receive_queue_is_dropped_and_counted(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """pyserial's RFC 2217 client queues every byte it receives with no bound: a server that
    sends faster than the port is read would grow the daemon for as long as it lasts. The
    port keeps the first RFC2217_BUFFER_BYTES the reader has not taken, counts the rest as
    ``buffer_overrun`` line errors, and reads on after the reader took what it held."""
    monkeypatch.setattr(serial_pyserial, "RFC2217_BUFFER_BYTES", 3000)
    held = bytes(range(256)) * 20  # 5120 bytes: 0xFF (a Telnet IAC) among them
    with (
        PtyPair() as pair,
        Rfc2217Server(pair) as server,
        SerialSource("remote", server.url + "?timeout=0.3", SerialSettings()) as source,
    ):
        assert source.line_counters() == {"buffer_overrun": 0}
        pair.write(held)
        wait_for(lambda: (source.line_counters() or {})["buffer_overrun"] >= 2120, 10, "the drops")
        time.sleep(0.2)  # nothing more comes: the count stays where it is
        assert source.line_counters() == {"buffer_overrun": len(held) - 3000}
        data = b""
        while len(data) < 3000:
            chunk = source.read()
            assert chunk, len(data)
            data += chunk
        assert data == held[:3000]
        pair.write(b"after\n")
        data = b""
        while len(data) < len(b"after\n"):
            chunk = source.read()
            assert chunk, data
            data += chunk
        assert data == b"after\n"
        assert source.line_counters() == {"buffer_overrun": len(held) - 3000}


@contextmanager
def value_sensor_behind_rfc2217(name: str) -> Iterator[tuple[PtyPair, Reader, SensorRuntime]]:
    """A value-line sensor ``name`` read through an RFC 2217 server from a pty (the device's
    end is yielded), up and settled in a reader whose loop runs only when the test runs it."""
    with PtyPair() as pty, Rfc2217Server(pty) as server:
        config = load(
            {"name": name, "port": server.url, "format": "value", "channels": [{"name": "v"}]}
        )
        runtime = SensorRuntime(config.sensors[0])
        reader = Reader([runtime])
        with reader:
            run_reader_until(reader, lambda: up_settled(runtime), 10)
            yield pty, reader, runtime


def test_a_flooded_rfc2217_port_exports_its_buffer_overruns_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """While the loop does not take a port's chunks, the port's thread queues a bounded
    number of them and waits, so the port's own queue fills and drops: the dropped bytes
    reach ``/status`` and ``/metrics`` as the port's ``buffer_overrun`` line errors (the kinds
    a server's UART counts do not come over the connection, so they are not shown as 0), and
    the sensor reads on once the loop runs again."""
    monkeypatch.setattr(serial_pyserial, "RFC2217_BUFFER_BYTES", 600)
    monkeypatch.setattr(reader_feeder, "FEEDER_QUEUED_CHUNKS", 1)
    flood = b"1.5\n" * 2000
    with value_sensor_behind_rfc2217("flood") as (pty, reader, runtime):
        source = runtime.source
        assert source is not None
        pty.write(flood)  # the loop is not running meanwhile
        wait_for(lambda: (source.line_counters() or {})["buffer_overrun"] > 0, 10, "a full queue")

        def dropped() -> int:
            return (source.line_counters() or {})["buffer_overrun"]

        # every byte of the flood is read or dropped once the loop took what the port held
        run_reader_until(
            reader, lambda: runtime.snapshot().bytes_read + dropped() == len(flood), 10
        )
        # the port's queue held 600 (and the port's thread may have taken a chunk before)
        assert dropped() <= len(flood) - 600, dropped()
        pty.write(b"\n2.5\n")  # ends the line the drop cut short
        run_reader_until(reader, lambda: values_of(reader, "flood") == {"v": 2.5}, 10)
        read = runtime.line_counters()  # as the daemon's housekeeping reads them
        assert read is not None
        runtime.line.update(read)
        assert runtime.snapshot().line_errors == {"buffer_overrun": dropped()}


@pytest.mark.slow
def test_the_port_thread_queues_a_bounded_number_of_chunks_and_loses_nothing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The thread that reads an ``rfc2217://`` port (it has no descriptor to poll) queues at
    most FEEDER_QUEUED_CHUNKS chunks the loop has not taken, then waits: what the device sends
    meanwhile stays in the port's own queue, which has a bound, and every byte is read once
    the loop takes the chunks."""
    monkeypatch.setattr(serial_pyserial, "RFC2217_BUFFER_BYTES", 8 << 20)
    # a bound of 4 (16 in use) is the same semaphore; it lets a quarter of the lines show it
    monkeypatch.setattr(reader_feeder, "FEEDER_QUEUED_CHUNKS", 4)
    lines = 100_000  # 400 kB: more than FEEDER_QUEUED_CHUNKS chunks of 64 KiB hold
    with value_sensor_behind_rfc2217("lines") as (pty, reader, runtime):
        pty.write(b"1.5\n" * lines)  # the loop is not running meanwhile
        chunks = reader._chunks
        bound = reader_feeder.FEEDER_QUEUED_CHUNKS
        wait_for(lambda: chunks.qsize() >= bound, 20, "the thread's chunks queued")
        time.sleep(0.3)
        assert chunks.qsize() == bound  # and no more: the thread waits
        run_reader_until(reader, lambda: runtime.snapshot().frames >= lines, 30)
        assert runtime.snapshot().frames == lines
        assert runtime.snapshot().parse_errors == dict.fromkeys(runtime.snapshot().parse_errors, 0)


def test_value_and_nmea_devices_are_read_through_rfc2217_servers() -> None:
    """A value-line device and a GPS receiver, each behind a server of its own; bytes 0xFF
    (a Telnet IAC, escaped by the server) in the GPS stream are skipped as noise, and the
    sentence after them is read."""
    gga = nmea("GNGGA,092725.00,4717.11399,N,00833.91590,E,1,08,1.01,499.6,M,48.0,M,,")
    with (
        PtyPair() as value_pty,
        PtyPair() as gps_pty,
        Rfc2217Server(value_pty) as value_server,
        Rfc2217Server(gps_pty) as gps_server,
    ):
        config = load(
            {
                "name": "temp",
                "port": value_server.url,
                "format": "value",
                "channels": [{"name": "v"}],
            },
            {
                "name": "gps",
                "port": gps_server.url,
                "format": "nmea",
                "channels": [{"name": "alt", "field": "GGA.altitude"}],
            },
        )
        reader = Reader([SensorRuntime(s) for s in config.sensors])
        with reader:
            run_reader_until(reader, lambda: all(map(up_settled, reader.sensors.values())), 10)
            value_pty.write(b"21.5\n22.0\n")
            gps_pty.write(b"\xff\xff\xfe\r\n" + gga + b"\r\n")

            def read() -> bool:
                return reader.sensors["temp"].snapshot().frames >= 2 and (
                    values_of(reader, "gps")["alt"] is not None
                )

            run_reader_until(reader, read, 10)
            assert values_of(reader, "temp") == {"v": 22.0}
            assert values_of(reader, "gps") == {"alt": 499.6}
            assert reader.sensors["temp"].snapshot().frames == 2


class Poison(float):
    """A reading whose arithmetic raises: the normalize stage (``value * scale + offset``)
    raises on it, as a stage's bug would."""

    def __mul__(self, other: object) -> float:
        raise RuntimeError("a bug in a stage")


def test_a_port_whose_stage_fails_on_its_thread_s_chunk_is_reopened_at_its_backoff() -> None:
    """A value-line sensor behind an RFC 2217 server whose stage raises on a chunk its
    blocking-read thread read: the sensor closes its port, and the loop opens it again at
    its backoff (0.05 s), not only at the next housekeeping (5 s here)."""
    with PtyPair() as pty, Rfc2217Server(pty) as server:
        config = load(
            {
                "name": "bad",
                "port": server.url,
                "format": "value",
                "reconnect": {"initial_delay_s": 0.05, "max_delay_s": 0.1},
                "channels": [{"name": "v"}],
            }
        )
        runtime = SensorRuntime(config.sensors[0])
        new_parser = runtime._new_parser

        def poisoned_parser() -> Any:  # the parser is built again at each open
            parse = new_parser()

            def poisoned(frame: bytes) -> list[tuple[str, float]]:
                return [(c, Poison(v) if v == 13.0 else v) for c, v in parse(frame)]

            return poisoned

        runtime._new_parser = poisoned_parser
        runtime.parser = poisoned_parser()
        runtime._values_of = None  # every frame through the poisoned parser
        with Reader([runtime]) as reader:
            run_reader_until(reader, lambda: up_settled(runtime), 10)
            reader.housekeeping_interval_s = 5.0
            with capture_logs():
                pty.write(b"13\n")
                run_reader_until(reader, lambda: runtime.pipeline_errors == 1, 5)
                failed_at = time.monotonic()
                run_reader_until(reader, lambda: runtime.source is not None, 5)
            assert time.monotonic() - failed_at < 2.0  # housekeeping: 4 s on at least
            reader.housekeeping_interval_s = 1.0  # the loop looks at ``up_settled`` as often
            run_reader_until(reader, lambda: up_settled(runtime), 10)
            pty.write(b"21.5\n")
            run_reader_until(reader, lambda: values_of(reader, "bad") == {"v": 21.5}, 5)
            assert runtime.reconnects == 1


def test_a_port_whose_reader_thread_cannot_start_is_down_and_retried(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """An RFC 2217 port is read by a thread of its own: when the process may start no more
    threads (a service's TasksMax=, memory), the port is disconnected with the reason and
    reopened with its backoff, and the loop runs on; once a thread can be had it reads."""
    with PtyPair() as pair, Rfc2217Server(pair) as server:
        config = load(
            {"name": "temp", "port": server.url, "format": "value", "channels": [{"name": "v"}]}
        )
        runtime = SensorRuntime(config.sensors[0])
        with Reader([runtime]) as reader:
            refused = refuse_threads(monkeypatch, "sensord-read-")
            run_reader_until(reader, lambda: len(refused) >= 1 and runtime.state == "down", 10)
            assert "cannot start the port's reader thread" in (runtime.last_error or "")
            assert runtime.source is None
            monkeypatch.undo()
            run_reader_until(reader, lambda: up_settled(runtime), 15)
            pair.write(b"21.5\n")
            run_reader_until(reader, lambda: runtime.snapshot().frames == 1, 5)


@pytest.mark.slow
def test_a_line_sensor_whose_server_hangs_is_reconnected_without_leaks() -> None:
    """A value-line device behind an RFC 2217 server that hangs twice: the connection
    stays open and nothing comes on it for good (the server's kernel still takes what is
    sent), while a new connection is served. Each time the sensor goes stale, and once its
    connection has carried no byte for 3 times stale_after_s (0.9 s) it is closed and opened
    again, and the sensor is up with its data without a restart: a warning naming the URL
    and why (once a minute, so for the first hang only; a third hang would be counted only,
    as the second is), each reopen counted in reconnects and silent_reconnects.
    Afterwards the process has as many threads and descriptors as before (no blocking-read
    thread, pyserial thread nor socket of the old connections left)."""
    with PtyPair() as pair, Rfc2217Server(pair) as server:
        config = load(
            {
                "name": "temp",
                "port": server.url,
                "format": "value",
                "stale_after_s": 0.3,
                "serial": {"timeout_s": 0.2},
                "reconnect": {"initial_delay_s": 0.2, "max_delay_s": 1.0},
                "channels": [{"name": "v"}],
            }
        )
        runtime = SensorRuntime(config.sensors[0])
        stop = threading.Event()

        def device() -> None:
            while not stop.wait(0.05):
                pair.write(b"21.5\n")

        writer = threading.Thread(target=device, daemon=True)
        writer.start()

        def counts() -> tuple[int, int]:  # the server's hung connections are its own
            return threading.active_count(), open_fd_count() - len(server._hung)

        try:
            with capture_logs() as logs, Reader([runtime]) as reader:
                # the silence is looked for every 0.1 s, not at each second's tick
                reader.housekeeping_interval_s = reader.idle_housekeeping_interval_s = 0.1
                run_reader_until(reader, lambda: runtime.snapshot().frames >= 5, 10)
                before = counts()
                for stall in range(1, 3):
                    frames = runtime.snapshot().frames
                    server.stall()
                    run_reader_until(reader, lambda: runtime.state == "stale", 5)

                    def back(frames: int = frames) -> bool:
                        return runtime.state == "up" and runtime.snapshot().frames > frames + 5

                    run_reader_until(reader, back, 10)
                    assert runtime.silent_reconnects == stall
                wait_for(lambda: counts() == before, 3, "the old connections' threads to end")
        finally:
            stop.set()
            writer.join(5)
        assert runtime.reconnects == 2
        status = runtime.snapshot().as_json()
        assert status["silent_reconnects"] == 2
        assert status["last_error"].startswith("no bytes on the connection for ")
        assert server.accepted == 3
    # two hangs within the minute: the first warns, the second is counted only
    silent = [e for e in logs if e["event"] == "connection silent; reconnecting"]
    assert [(e["sensor"], e["port"], e["log_level"]) for e in silent] == [
        ("temp", server.url, "warning")
    ]
    states = [e["state"] for e in logs if e["event"] == "sensor state"]
    assert states == ["up"] + ["stale", "up"] * 2 + ["stopped"]  # stale across each reopen


def test_a_silent_device_behind_an_rfc2217_server_that_ends_its_connections_stays_stale() -> None:
    """A device that sends nothing behind an RFC 2217 server that ends each connection (as one
    with an inactivity timeout does): once stale, the sensor stays stale across every end and
    reconnect, never down nor up, with the hint naming the server's timeout; each reconnect
    counted, none of them for silence (the server ended each before sensord would have)."""
    with PtyPair() as pair, Rfc2217Server(pair) as server:
        config = load(
            {
                "name": "temp",
                "port": server.url,
                "format": "value",
                "stale_after_s": 0.5,
                "reconnect": {"initial_delay_s": 0.1, "max_delay_s": 0.2},
                "channels": [{"name": "v"}],
            }
        )
        runtime = SensorRuntime(config.sensors[0])
        with capture_logs() as logs, Reader([runtime]) as reader:
            reader.housekeeping_interval_s = reader.idle_housekeeping_interval_s = 0.05
            run_reader_until(reader, lambda: runtime.state == "stale", 5)
            for accepted in range(2, 5):
                server.drop_client()

                def reconnected(accepted: int = accepted) -> bool:
                    return server.accepted >= accepted and runtime.source is not None

                run_reader_until(reader, reconnected, 5)
            snapshot = runtime.snapshot()
    assert snapshot.state == "stale"
    assert snapshot.hint == ENDED_IDLE_HINT
    assert (snapshot.frames, snapshot.reconnects, snapshot.silent_reconnects) == (0, 3, 0)
    states = [e["state"] for e in logs if e["event"] == "sensor state"]
    assert states == ["up", "stale", "stopped"], states


# -- the daemon: the server goes away and comes back, hangs; SIGTERM -----------------------------

RECONNECT = "reconnect = { initial_delay_s = 0.2, max_delay_s = 1.0 }"


def daemon_config(bus_url: str, line_url: str) -> str:
    return f"""
[[sensors]]
name = "meter"
port = "{bus_url}"
format = "modbus"
simulate = "never"
modbus = {{ unit = 1, interval_s = 0.2, timeout_s = 0.3 }}
serial = {{ baudrate = 115200, timeout_s = 0.5 }}
{RECONNECT}
  [[sensors.registers]]
  name = "a"
  table = "holding"
  address = 0
  [[sensors.channels]]
  name = "a"

[[sensors]]
name = "temp"
port = "{line_url}"
format = "value"
simulate = "never"
serial = {{ timeout_s = 0.5 }}
{RECONNECT}
  [[sensors.channels]]
  name = "v"
"""


@contextmanager
def two_servers() -> Iterator[tuple[ModbusServer, Rfc2217Server, PtyPair, Rfc2217Server]]:
    """A Modbus device (unit 1) and a value-line device, each behind an RFC 2217 server."""
    with (
        modbus_behind_rfc2217() as (modbus, bus_server),
        PtyPair() as line,
        Rfc2217Server(line) as line_server,
    ):
        yield modbus, bus_server, line, line_server


def settled_counts(daemon: DaemonProcess, expected: tuple[int, int] | None) -> tuple[int, int]:
    """The daemon's threads and descriptors once the last scrape's request thread and socket
    are gone: ``expected`` when they come to it within 3 s (with None: the same twice in a
    row), else what they are then."""
    deadline = time.monotonic() + 3
    last: tuple[int, int] | None = None
    while True:
        time.sleep(0.1)
        counts = (daemon.thread_count(), daemon.fd_count())
        if counts == (expected or last) or time.monotonic() > deadline:
            return counts
        last = counts


@pytest.mark.slow
def test_servers_that_go_away_and_come_back_are_reconnected_without_leaks(
    tmp_path: Path, start_daemon: StartDaemon
) -> None:
    """Both servers go away (connection closed, then refused) twice for 1 s: the sensors go
    down, the opens are retried with backoff (a few attempts, not a tight loop), the sensors
    come back up with their data, and every time the daemon has as many threads and
    descriptors as it had the first time (no blocking-read thread nor socket left). The
    second time the connections that end are themselves reconnections: a third would take
    the same paths again."""
    with two_servers() as (modbus, bus_server, line, line_server):
        modbus.set(1, "holding", 0, [7])
        daemon = start_daemon(config=daemon_config(bus_server.url, line_server.url))
        daemon.wait_http()
        counts: list[tuple[int, int]] = []
        for cycle in range(3):
            daemon.wait_up_settled(timeout_s=10)  # the line device's value is read whole
            modbus.set(1, "holding", 0, [7 + cycle])
            line.write(b"%d\n" % cycle)

            def read(cycle: int = cycle) -> bool:
                scrape = daemon.scrape()
                # no series yet until a sensor's first reading: not read yet
                return scrape.get(
                    "sensord_reading_value", math.nan, sensor="meter", channel="a"
                ) == 7 + cycle and scrape.get(
                    "sensord_reading_value", math.nan, sensor="temp", channel="v"
                ) == float(cycle)

            wait_for(read, 5, f"the values of cycle {cycle}")
            counts.append(settled_counts(daemon, counts[0] if counts else None))
            if cycle == 2:
                break

            def open_failures() -> float:
                return daemon.scrape().value("sensord_serial_open_failures_total", sensor="temp")

            failures = open_failures()
            # the line server's connection has lasted HUNG_UP_AT_ONCE_S when it goes: served,
            # its end leaves the sensor up, down when the reopen fails (one that ended sooner
            # takes it down itself)
            time.sleep(HUNG_UP_AT_ONCE_S)
            bus_server.go_away()
            line_server.go_away()
            daemon.wait_state("down", timeout_s=5)

            # the connection the server ended after serving it is opened again at once; that
            # open may reach the server as it goes and fail only at pyserial's negotiation
            # timeout (3 s)
            def failed(before: float = failures) -> bool:
                return open_failures() > before

            wait_for(failed, 5, "a reopen that failed")
            time.sleep(1.0)
            tried = open_failures() - failures
            # then backoff from 0.2 s up to 1 s with full jitter (each delay drawn from 0 to
            # its bound: about 0.5 s on average once at the cap), over the 1 s and the time
            # the sensor took to go down: a few attempts, where a loop without backoff makes
            # one at each of its passes, a hundred and more
            assert 1 <= tried <= 20, tried
            bus_server.come_back()
            line_server.come_back()
        assert counts == [counts[0]] * 3, counts
        status = daemon.status()["sensors"]
        assert status["meter"]["reconnects"] == 2
        assert status["temp"]["reconnects"] == 2
        # pyserial's "reader thread died" is its client's, not sensord's: said as what it means
        # where the end is logged: in the "connection ended" line of a connection that lasted
        # 0.5 s (the sensor up across it, down when the reopen fails; logged once a minute at
        # most), else in the down line of the end
        downs = [
            event
            for event in daemon.events("sensor state")
            if event.get("sensor") == "temp" and event.get("state") == "down"
        ]
        assert len(downs) == 2, downs
        ended = [
            event["error"]
            for event in daemon.events("connection ended; reconnecting")
            if event.get("sensor") == "temp"
        ] + [event["error"] for event in downs if " reading " in event["error"]]
        assert ended, daemon.log_text()[-4000:]
        assert all("the server closed the connection" in error for error in ended), ended
        assert daemon.stop() == 0


@pytest.mark.slow
def test_sigterm_ends_the_daemon_promptly_while_its_servers_hang(
    tmp_path: Path, start_daemon: StartDaemon
) -> None:
    """The servers stop answering with their connections open (a hung server: the reads
    block, nothing comes): SIGTERM still ends the daemon at once, blocking-read threads and
    all, with exit code 0."""
    with two_servers() as (modbus, bus_server, line, line_server):
        modbus.set(1, "holding", 0, [7])
        daemon = start_daemon(config=daemon_config(bus_server.url, line_server.url))
        daemon.wait_http()
        daemon.wait_state("up", timeout_s=10)
        line.write(b"1\n")
        wait_for(lambda: daemon.status()["sensors"]["meter"]["frames"] >= 2, 5, "exchanges")
        bus_server.freeze()
        line_server.freeze()
        time.sleep(1.2)  # past the read timeout: each thread is in its next blocking read
        took, code = daemon.stop_timed(10)
        assert code == 0
        assert took < 1.0, took


#: What a server that speaks RFC 2217 and then hangs says: "do use the COM port option" (IAC
#: DO COM-PORT-OPTION), which completes pyserial's Telnet negotiation; the line settings it
#: sends next are never answered.
COM_PORT_AGREED = b"\xff\xfd\x2c"


@contextmanager
def hanging_server(stage: str) -> Iterator[tuple[str, Callable[[], int]]]:
    """An RFC 2217 server that hangs at ``stage`` of the client's open: its URL and the
    number of connections it accepted so far."""
    if stage == "negotiation":
        with PtyPair() as pair, Rfc2217Server(pair) as server:
            server.freeze()
            yield server.url, lambda: server.accepted
    else:
        with GreetingServer(COM_PORT_AGREED, delay_s=0.0) as greeter:
            yield greeter.url.replace("socket://", "rfc2217://"), lambda: len(greeter.connections)


@pytest.mark.parametrize("stage", ["negotiation", "line settings"])
def test_sigterm_abandons_an_open_that_waits_for_the_server(
    tmp_path: Path, start_daemon: StartDaemon, stage: str
) -> None:
    """A server that accepts the connection and then leaves a step of pyserial's RFC 2217
    negotiation unanswered (pyserial waits up to 3 s for each): SIGTERM during the open still
    ends the daemon at once."""
    with hanging_server(stage) as (url, accepted):
        daemon = start_daemon(
            config=f"""
[[sensors]]
name = "temp"
port = "{url}"
format = "value"
simulate = "never"
  [[sensors.channels]]
  name = "v"
"""
        )
        daemon.wait_http()
        wait_for(lambda: accepted() >= 1, 5, "the connection")
        time.sleep(0.3)  # the open is waiting for the server
        took, code = daemon.stop_timed(10)
        assert code == 0
        assert took < 1.0, took
