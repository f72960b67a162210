"""Faults of a real RS-485 line that the counters alone would blame on the wrong cause: two
devices with one unit id, a second master, firmware that answers a long read with fewer
registers, and a device that restarts. Each runs a real pymodbus server behind a relay (or a
``HandBus`` whose devices the test plays), and checks what the operator is told."""

from __future__ import annotations

import contextlib
import os
import socket
import struct
import threading

import pytest
from harness.common import accepted_clients, wait_for
from harness.config import load_sensors as load
from harness.daemon import StartDaemon
from harness.modbus import ModbusServer, PtyRelay, read_all, rtu_frame, run_reader_until
from harness.pty import PtyPair
from harness.tcp_relay import TcpRelay
from structlog.testing import capture_logs
from test_clock_steps import libfaketime
from test_modbus import device, latest, modbus_format, reg
from test_modbus_line import METER, HandBus, float32, read_reply, read_request

from sensord.formats import codec_for
from sensord.modbus_state import ModbusCounters
from sensord.reader import Reader
from sensord.sensor import SensorRuntime


def test_two_devices_with_one_unit_id_are_not_told_to_raise_the_timeout(
    pty_pair: PtyPair,
) -> None:
    """Two meters set to unit 1 both answer each request, one right after the other: the
    first answer is taken, and the second is counted as ``unasked`` with a warning naming
    a second master or a shared unit id, not as ``late`` with "raise modbus.timeout_s" (none
    of the meter's requests timed out)."""
    hand = HandBus(pty_pair, device("meter", "", 1, METER, interval_s=0.5, timeout_s=0.3))
    try:
        with capture_logs() as logs:
            assert hand.tick(100.0) == read_request(1, 0, 2)
            twice = read_reply(1, float32(230.0)) + read_reply(1, float32(231.5))
            assert hand.receive(100.01, twice) == b""
        counters = hand.counters("meter")
        assert counters.timeouts == 0
        assert counters.errors == {**dict.fromkeys(counters.errors, 0), "unasked": 1}
        assert [e["event"] for e in logs if e["log_level"] == "warning"] == [
            "frame of the device's unit id nobody asked for"
        ]
        [warning] = [e for e in logs if e["log_level"] == "warning"]
        assert "two devices have unit id 1" in warning["hint"], warning
        assert "another master" in warning["hint"], warning
        assert hand.values("meter")["voltage"] == (230.0, 230.0, 1)
    finally:
        hand.close()


def test_a_late_answer_after_a_timeout_is_still_late(pty_pair: PtyPair) -> None:
    """The frame that follows a timed-out request is its late answer (``late``, raise the
    timeout); a second frame for that one request is not (``unasked``)."""
    hand = HandBus(pty_pair, device("meter", "", 1, METER, interval_s=5.0, timeout_s=0.3))
    try:
        assert hand.tick(100.0) == read_request(1, 0, 2)
        assert hand.tick(100.4) == b""  # timed out
        assert hand.receive(100.5, read_reply(1, float32(230.0))) == b""
        assert hand.receive(100.6, read_reply(1, float32(230.0))) == b""
        counters = hand.counters("meter")
        assert (counters.errors["late"], counters.errors["unasked"]) == (1, 1)
    finally:
        hand.close()


def test_frames_of_a_second_master_after_an_outage_are_not_late(pty_pair: PtyPair) -> None:
    """A meter misses two requests (a brown-out), then answers in time again; later a PLC
    starts polling it. The PLC's answers are ``unasked``: the requests that timed out long
    ago owe none, and sensord does not say to raise modbus.timeout_s."""
    hand = HandBus(pty_pair, device("meter", "", 1, METER[:1], interval_s=1.0, timeout_s=0.1))
    request, reply = read_request(1, 0, 2), read_reply(1, float32(230.0))
    try:
        assert hand.tick(100.0) == request
        assert hand.tick(100.2) == b""  # timed out
        assert hand.tick(101.0) == request
        assert hand.tick(101.2) == b""  # timed out
        for second in range(102, 105):
            assert hand.tick(float(second)) == request
            assert hand.receive(second + 0.01, reply) == b""
        with capture_logs() as logs:
            for k in range(3):  # the PLC's answers, between sensord's exchanges
                assert hand.receive(104.3 + k * 0.1, reply) == b""
        counters = hand.counters("meter")
        assert (counters.timeouts, counters.errors["late"], counters.errors["unasked"]) == (2, 0, 3)
        assert "answer after the timeout" not in {e["event"] for e in logs}
    finally:
        hand.close()


def test_a_second_master_polling_the_same_meter_is_named() -> None:
    """A PLC polls the meter on the same line (its requests and the meter's answers to them
    reach sensord between its own exchanges): sensord reads the meter all the same, and the
    meter's answers to the PLC are counted as ``unasked``, not as late answers."""
    with (
        PtyRelay() as relay,
        ModbusServer([1], "serial", relay.far.path) as server,
    ):
        server.set(1, "holding", 0, float32(230.0))
        server.set(1, "holding", 100, float32(5000.0))
        stop = threading.Event()
        plc_request = rtu_frame(bytes([1, 3]) + struct.pack(">HH", 0, 10))
        meter_end, sensord_end = relay.far.master_fd, relay.near.master_fd
        assert meter_end is not None
        assert sensord_end is not None

        def plc() -> None:
            while not stop.wait(0.13):
                for end in (meter_end, sensord_end):  # the meter hears it, so does sensord
                    # a line whose reader lags (a loaded host) takes the next request, as a
                    # PLC's would be lost on it
                    with contextlib.suppress(BlockingIOError):
                        os.write(end, plc_request)

        thread = threading.Thread(target=plc, daemon=True)
        table = device("meter", relay.near.path, 1, METER, interval_s=0.1, timeout_s=0.1)

        def plc_seen(reader: Reader) -> bool:
            counters = reader.sensors["meter"].modbus
            return counters is not None and counters.errors["unasked"] >= 3

        thread.start()
        try:
            with capture_logs() as logs, read_all(load(table), plc_seen) as reader:
                counters = reader.sensors["meter"].modbus
                assert counters is not None
                # a PLC request that collides with sensord's leaves one unanswered: only
                # the frames owed to those may count as late
                assert counters.errors["late"] <= counters.timeouts
                assert latest(reader.sensors["meter"]) == {"voltage": 230.0, "energy": 5000.0}
                timeouts = counters.timeouts
        finally:
            stop.set()
            thread.join()
        messages = {e["event"] for e in logs if e["log_level"] == "warning"}
        assert "frame of the device's unit id nobody asked for" in messages
        if not timeouts:  # (a loaded host's late answer of a request that timed out is late)
            assert "answer after the timeout" not in messages


def test_a_device_that_answers_a_long_read_with_fewer_registers_has_it_split() -> None:
    """Firmware that caps a read at 64 registers answers a read of 100 with the first 64
    (a sound frame, byte count 128), twice running: the read is split as after exception 03, every value
    is read, and the log says to set ``modbus.max_registers`` (the stale hint said to check
    the baud rate and parity, forever)."""

    def capped(reply: bytes) -> bytes:
        if len(reply) > 5 and reply[1] == 3 and reply[2] > 128:
            return rtu_frame(reply[:2] + bytes([128]) + reply[3:131])
        return reply

    with (
        PtyRelay(mangle=capped) as relay,
        ModbusServer([1], "serial", relay.far.path) as server,
    ):
        server.set(1, "holding", 0, list(range(1000, 1100)))
        registers = [{"name": f"r{i}", "table": "holding", "address": i} for i in range(100)]
        table = device("m", relay.near.path, 1, registers, interval_s=0.05)

        def all_read(reader: Reader) -> bool:
            return None not in latest(reader.sensors["m"]).values()

        with capture_logs() as logs, read_all(load(table), all_read) as reader:
            counters = reader.sensors["m"].modbus
            assert counters is not None
            assert (counters.reads, counters.splits, counters.errors["length"]) == (2, 1, 2)
            assert latest(reader.sensors["m"]) == {f"r{i}": float(1000 + i) for i in range(100)}
        [split] = [e for e in logs if e["event"].startswith("device answered a merged read")]
        assert (split["data_bytes"], split["answered_bytes"]) == (200, 128)
        assert "modbus.max_registers" in split["hint"]


def test_a_device_that_answers_a_read_with_more_values_has_the_values_asked_for_read() -> None:
    """A Modbus server that answers a 32-bit value whole (ESPHome's ``modbus_controller``
    server, esphome#10021): a read of the value's first register is answered with both, a
    sound frame of byte count 4 for a read of 1, every time. The first such answer counts as
    ``length`` (it may be another master's read, taken for this one's answer); from the second
    running on, the register asked for is read from the front of each answer, the log says so
    once, and a ``replay://`` of the exchange gives the same value."""

    def whole_u32(reply: bytes) -> bytes:
        if len(reply) == 7 and reply[1] == 3 and reply[2] == 2:
            return rtu_frame(reply[:2] + b"\x04" + reply[3:5] + b"\x00\x09")
        return reply

    with (
        PtyRelay(mangle=whole_u32) as relay,
        ModbusServer([1], "serial", relay.far.path) as server,
    ):
        server.set(1, "holding", 10, [7])
        table = device(
            "m",
            relay.near.path,
            1,
            [{"name": "a", "table": "holding", "address": 10}],
            interval_s=0.05,
        )

        def four_answered(reader: Reader) -> bool:
            counters = reader.sensors["m"].modbus
            assert counters is not None
            return counters.transactions >= 4

        with capture_logs() as logs, read_all(load(table), four_answered) as reader:
            counters = reader.sensors["m"].modbus
            assert counters is not None
            assert counters.errors["length"] == 1
            assert latest(reader.sensors["m"]) == {"a": 7.0}
            frames = reader.sensors["m"].snapshot().frames
    [told] = [e for e in logs if e["event"].startswith("device answers a read with more values")]
    assert (told["count"], told["data_bytes"], told["answered_bytes"]) == (1, 2, 4)
    assert "32-bit type" in told["hint"]
    assert frames == counters.transactions - 1  # every answer but the first gave its value
    spec = modbus_format(reg("a", "holding", 10))
    request = codec_for("modbus").encoder(spec)({"a": 7.0}, 0.0)[0][:8]
    reply = whole_u32(rtu_frame(request[:1] + b"\x03\x02\x00\x07"))
    assert codec_for("modbus").decoder(spec)(request + reply) == [("a", 7.0)]


def test_another_master_s_shorter_answer_taken_once_does_not_split_the_read(
    pty_pair: PtyPair,
) -> None:
    """A PLC reads 2 of the meter's registers; the meter's answer to it comes while sensord's
    read of 10 is in flight and is taken for its answer (a sound frame, too short: ``length``).
    The meter's own answer follows, then answers whole: the read stays one request, with no
    warning that the device takes fewer registers a read. Only a read answered that short
    twice running is split."""
    registers = [{"name": f"r{i}", "table": "holding", "address": i} for i in range(10)]
    hand = HandBus(pty_pair, device("m", "", 1, registers, interval_s=1.0, timeout_s=0.3))
    whole = read_request(1, 0, 10)
    try:
        with capture_logs() as logs:
            assert hand.tick(100.0) == whole
            assert hand.receive(100.01, read_reply(1, [7, 8])) == b""  # the PLC's answer
            assert hand.receive(100.02, read_reply(1, list(range(10)))) == b""
            assert hand.tick(101.0) == whole
            assert hand.receive(101.01, read_reply(1, list(range(10)))) == b""
            assert hand.tick(102.0) == whole
        counters = hand.counters("m")
        assert (counters.reads, counters.splits, counters.errors["length"]) == (1, 0, 1)
        assert not [e for e in logs if e["event"].startswith("device answered a merged read")]
        assert hand.values("m")["r9"] == (9.0, 9.0, 1)
    finally:
        hand.close()


def test_a_device_that_answered_and_falls_silent_is_pointed_at_its_power(
    pty_pair: PtyPair,
) -> None:
    """A meter that answered goes silent (a brown-out): its down reason says its unit id and
    line settings are right, since it answered with them, and to check its power and
    connection, not the unit id, baud rate and A/B wiring."""
    hand = HandBus(pty_pair, device("meter", "", 1, METER[:1], interval_s=0.5, timeout_s=0.1))
    try:
        assert hand.tick(100.0) == read_request(1, 0, 2)
        assert hand.receive(100.01, read_reply(1, float32(230.0))) == b""
        for poll in range(3):
            at = 100.5 + poll * 0.5
            assert hand.tick(at) == read_request(1, 0, 2)
            assert hand.tick(at + 0.2) == b""
        runtime = hand.runtimes["meter"]
        assert runtime.modbus is not None
        assert runtime.modbus.down
        assert runtime.last_error is not None
        assert runtime.last_error.startswith(
            "no response to 3 requests in a row: it has answered 1 of its requests, so its "
            "unit id and the line's settings are right: check its power supply"
        ), runtime.last_error
    finally:
        hand.close()


def test_the_stale_hint_tells_sound_answers_of_another_length_from_spoilt_ones() -> None:
    """A sound answer of another length is no baud rate or parity problem, and a frame of the
    device's unit id that nobody asked for is no late answer; a spoilt CRC may be two
    devices with one unit id answering at once."""
    counters = ModbusCounters()
    mark = counters.mark()
    counters.errors["length"] += 2
    counters.errors["unasked"] += 1
    counters.errors["crc"] += 3
    hint = counters.hint_since(mark, "meter")
    assert hint is not None
    parts = hint.split("; ")
    assert parts[0].startswith("1 frame of its unit id came while none of its requests"), hint
    assert "another master" in parts[0]
    assert parts[1].startswith("2 sound answers held another number of values"), hint
    assert "modbus.max_registers" in parts[1]
    assert parts[2].startswith("answers were spoilt (crc 3): check the baud rate"), hint
    assert "no two devices have its unit id" in parts[2]
    assert "raise" not in hint


def test_exception_04_to_a_merged_read_says_to_read_its_registers_apart(
    pty_pair: PtyPair,
) -> None:
    """A device that answers exception 04 (server device failure) to a read that joins two
    blocks of its map: the warning says how to read them apart; a read of one value that
    gets 04 has no such hint."""
    blocks = [
        {"name": "power", "table": "holding", "address": 0, "type": "float32"},
        {"name": "energy", "table": "holding", "address": 4, "type": "float32"},
    ]
    hand = HandBus(pty_pair, device("meter", "", 1, blocks, interval_s=5.0, max_gap=10))
    try:
        with capture_logs() as logs:
            assert hand.tick(100.0) == read_request(1, 0, 6)
            assert hand.receive(100.01, rtu_frame(bytes([1, 0x83, 4]))) == b""
        [warning] = [e for e in logs if e["event"] == "exception response"]
        assert warning["code"] == 4
        assert "modbus.max_gap = 0" in warning["hint"], warning
        assert "some devices answer exception 0x04 to a read across" in warning["hint"], warning
    finally:
        hand.close()


def test_an_answer_that_pauses_past_the_timeout_is_late_not_spoilt(pty_pair: PtyPair) -> None:
    """A device whose firmware pauses inside its answers (its head comes within the timeout,
    the rest 0.15 s later, after it): each exchange is ``truncated``, and the rest, when it
    comes, makes the answer whole, counted as ``late``; the device goes down with the hint
    to raise ``modbus.timeout_s``, not to check the baud rate and parity (the start of the
    answer was dropped at the timeout, so its rest was noise)."""
    hand = HandBus(pty_pair, device("meter", "", 1, METER[:1], interval_s=0.5, timeout_s=0.3))
    try:
        reply = read_reply(1, float32(230.0))
        for poll in range(3):
            at = 100.0 + poll * 0.7
            assert hand.tick(at) == read_request(1, 0, 2)
            assert hand.receive(at + 0.25, reply[:3]) == b""
            assert hand.tick(at + 0.4) == b""  # timed out, the answer cut off
            assert hand.receive(at + 0.4, reply[3:]) == b""
        counters = hand.counters("meter")
        assert (counters.errors["truncated"], counters.errors["late"]) == (3, 3)
        assert counters.down
        last_error = hand.runtimes["meter"].last_error
        assert last_error is not None
        assert last_error.endswith("its answers come after modbus.timeout_s: raise it"), last_error
    finally:
        hand.close()


@pytest.mark.slow
def test_a_meter_refusing_ten_reads_for_an_hour_logs_eleven_lines(
    start_daemon: StartDaemon,
) -> None:
    """The daemon against a pymodbus server that maps none of ten configured registers
    (exception 02 at every poll, every 60 s) for an hour, its clock sped up 720 times by
    libfaketime (an hour in 5 s; a poll every 83 ms and a timeout of 75 ms of real time):
    ten ``exception response`` lines when the refusals start, then one ``exception responses
    unchanged`` line an hour, not ten lines a minute (14,400 a day);
    sensord_modbus_exceptions_total counts every refusal."""
    registers = ['{ name = "v", table = "input", address = 0 }'] + [
        f'{{ name = "typo_{i}", table = "input", address = {2000 + 100 * i} }}' for i in range(10)
    ]
    channels = ", ".join(f'{{ name = "{n}" }}' for n in ["v"] + [f"typo_{i}" for i in range(10)])
    with ModbusServer([1], "tcp") as server:
        daemon = start_daemon(
            config=(
                f'[[sensors]]\nname = "meter"\nport = "{server.url}"\nformat = "modbus"\n'
                "modbus = { unit = 1, interval_s = 60, timeout_s = 54 }\n"
                f"registers = [{', '.join(registers)}]\nchannels = [{channels}]\n"
            ),
            env={"LD_PRELOAD": libfaketime(), "FAKETIME": "+0 x720"},
        )
        daemon.wait_http()
        wait_for(
            lambda: bool(daemon.events("exception responses unchanged")),
            120.0,
            "an hour's summary",
            0.1,
        )
        refused = daemon.metrics_text()
        assert daemon.stop(30.0) == 0
    starts = daemon.events("exception response")
    assert sorted(e["registers"][0] for e in starts) == [f"typo_{i}" for i in range(10)]
    [summary] = daemon.events("exception responses unchanged")
    assert len(summary["reads"]) == 10
    assert all(r["code"] == 2 for r in summary["reads"])
    held = summary["suppressed"]
    assert held >= 10 * 54  # an hour of polls every 60 s, less what a loaded host misses
    [line] = [
        line
        for line in refused.splitlines()
        if line.startswith('sensord_modbus_exceptions_total{code="2"')
    ]
    assert float(line.rsplit(" ", 1)[1]) >= 10 + held


class ScriptedMeter:
    """A Modbus TCP meter on 127.0.0.1 with one input register: its ``n``-th request is
    refused with exception 02 when ``n`` is in ``refused``, else answered (value 230)."""

    def __init__(self, refused: set[int]) -> None:
        self.refused = refused
        self.requests = 0
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.05)
        self.url = f"modbus-tcp://127.0.0.1:{self._listener.getsockname()[1]}"
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="scripted-meter", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        for client in accepted_clients(self._listener, self._stop):
            with client:
                client.settimeout(0.05)
                pending = b""
                while not self._stop.is_set():
                    try:
                        data = client.recv(4096)
                    except TimeoutError:
                        continue
                    except OSError:
                        break
                    if not data:
                        break
                    pending += data
                    while len(pending) >= 12:
                        request, pending = pending[:12], pending[12:]
                        tid, unit, function = request[:2], request[6], request[7]
                        if self.requests in self.refused:
                            pdu = bytes([function | 0x80, 0x02])
                        else:
                            pdu = bytes([function, 2, 0, 230])
                        self.requests += 1
                        body = bytes([unit]) + pdu
                        client.sendall(tid + b"\x00\x00" + struct.pack(">H", len(body)) + body)

    def close(self) -> None:
        self._stop.set()
        self._listener.close()
        self._thread.join(5.0)


@pytest.mark.slow
def refused(metrics: str) -> float:
    """The meter's sensord_modbus_exceptions_total for code 02 in a /metrics page."""
    [line] = [
        line
        for line in metrics.splitlines()
        if line.startswith("sensord_modbus_exceptions_total{")
        and 'code="2"' in line
        and 'sensor="meter"' in line
    ] or ["none 0"]
    return float(line.rsplit(" ", 1)[1])


def test_the_log_s_counts_of_a_read_refused_by_turns_add_up_to_the_metric(
    start_daemon: StartDaemon,
) -> None:
    """The daemon (its clock sped up 60 times) polls a meter every 10 s whose read is refused
    at polls 0, 2, 3, 8 and 9 and answered at the others: the refusal at poll 2 comes within
    the minute of the line of poll 0's, so it is held back, and poll 3's with it; the lines
    the log holds for the read (each one, plus its ``suppressed`` and ``previous_suppressed``)
    add up to sensord_modbus_exceptions_total for the meter and code 02."""
    meter = ScriptedMeter({0, 2, 3, 8, 9})
    try:
        daemon = start_daemon(
            config=(
                f'[[sensors]]\nname = "meter"\nport = "{meter.url}"\nformat = "modbus"\n'
                "modbus = { unit = 1, interval_s = 10, timeout_s = 5 }\n"
                'registers = [{ name = "v", table = "input", address = 7 }]\n'
                'channels = [{ name = "v" }]\n'
            ),
            env={"LD_PRELOAD": libfaketime(), "FAKETIME": "+0 x60"},
        )
        daemon.wait_http()
        wait_for(lambda: meter.requests >= 12, 60.0, "twelve polls", 0.2)
        # the last refusal came two polls (a third of a second) before: on a loaded host
        # /metrics may not hold it yet, so it is waited for, and a sixth would show
        wait_for(lambda: refused(daemon.metrics_text()) >= 5, 30.0, "five refusals", 0.2)
        metrics = daemon.metrics_text()
        assert daemon.stop(30.0) == 0
    finally:
        meter.close()
    assert refused(metrics) == 5
    told = 0
    for event in daemon.events("exception response"):
        told += 1 + event["suppressed"] + event.get("previous_suppressed", 0)
    for event in daemon.events("read answered again") + daemon.events(
        "exception responses unchanged"
    ):
        told += event["suppressed"]
    assert told == 5, [r for r in daemon.log_records() if "exception" in r.get("msg", "")]


def test_a_device_busy_at_every_poll_is_logged_once_and_summed_up_hourly(
    pty_pair: PtyPair,
) -> None:
    """A meter that answers exception 06 (busy) to the first request of a poll and the value
    to the one asked again: once now and then it is worth no line; busy at every poll it is
    logged as that starts, summed up hourly and logged when it ends. The lines' counts add
    up to sensord_modbus_exceptions_total for code 06, the occasional busy answer included."""
    hand = HandBus(pty_pair, device("meter", "", 1, METER[:1], interval_s=30.0))
    busy = rtu_frame(bytes([1, 0x83, 6]))
    reply = read_reply(1, float32(230.0))

    def poll(at: float, *, busy_first: bool) -> None:
        assert hand.tick(at) == read_request(1, 0, 2)
        if busy_first:
            hand.receive(at + 0.01, busy, look=False)
            assert hand.tick(at + 0.2) == read_request(1, 0, 2)
            at += 0.2
        hand.receive(at + 0.01, reply, look=False)

    try:
        with capture_logs() as logs:
            for n in range(140):  # once, then at every poll for an hour, then no more
                poll(100.0 + 30.0 * n, busy_first=n == 1 or 5 <= n < 135)
                if n == 7:  # one busy answer, then three polls busy: no line yet
                    assert [e for e in logs if "busy" in e["event"]] == []
        assert hand.counters("meter").exceptions == {6: 131}
    finally:
        hand.close()
    lines = [e for e in logs if "busy" in e["event"]]
    assert [(e["event"], e["log_level"]) for e in lines] == [
        ("device busy at every poll; its reads are asked again", "warning"),
        ("device still busy", "warning"),
        ("device no longer busy", "info"),
    ], lines
    start, summary, end = lines
    assert (start["code"], start["polls"]) == (6, 5)
    assert "busy_wait_s" in start["hint"]
    assert summary["for_s"] >= 3600
    told = 1 + start["suppressed"] + summary["suppressed"] + end["suppressed"]
    assert told == 131


def test_a_read_split_for_short_answers_tells_the_refusals_held_back_before_it(
    pty_pair: PtyPair,
) -> None:
    """A meter refuses a merged read with exception 04 twice (the second held back: its
    read is still refused), then answers it twice with fewer registers: the split's line
    tells the refusal held back, so the log's counts add up to the metric."""
    registers = [
        {"name": "voltage", "table": "holding", "address": 0, "type": "float32"},
        {"name": "current", "table": "holding", "address": 2, "type": "float32"},
    ]
    hand = HandBus(pty_pair, device("meter", "", 1, registers, interval_s=10.0))
    refused = rtu_frame(bytes([1, 0x83, 4]))
    short = read_reply(1, float32(230.0))
    try:
        with capture_logs() as logs:
            for n, answer in enumerate([refused, refused, short, short]):
                at = 100.0 + 10.0 * n
                assert hand.tick(at) == read_request(1, 0, 4)
                hand.receive(at + 0.01, answer, look=False)
        counters = hand.counters("meter")
        assert (counters.exceptions, counters.splits) == ({4: 2}, 1)
    finally:
        hand.close()
    [start] = [e for e in logs if e["event"] == "exception response"]
    [split] = [e for e in logs if e["event"].startswith("device answered a merged read")]
    assert (split["suppressed"], split["previous_code"]) == (1, 4), split
    assert 1 + start["suppressed"] + split["suppressed"] == 2


def test_a_split_read_tells_the_refusals_the_rate_limit_held_back(pty_pair: PtyPair) -> None:
    """A merged read refused with 04 (logged), answered, refused with 04 again within the
    minute (held back by the rate limit of its lines), then refused with 02 at three polls
    running while its other read is answered (a read it answered before is not split at its
    first 02) and split: the split's line tells the refusals held back, whose read's lines
    never come again."""
    registers = [
        {"name": "voltage", "table": "holding", "address": 0, "type": "float32"},
        {"name": "current", "table": "holding", "address": 2, "type": "float32"},
        {"name": "energy", "table": "holding", "address": 100, "type": "float32"},
    ]
    hand = HandBus(pty_pair, device("meter", "", 1, registers, interval_s=10.0))
    failure = rtu_frame(bytes([1, 0x83, 4]))
    answer = read_reply(1, float32(230.0) + float32(1.5))
    energy = read_reply(1, float32(1234.5))
    unmapped = rtu_frame(bytes([1, 0x83, 2]))
    try:
        with capture_logs() as logs:
            for n, reply in enumerate([failure, answer, failure, unmapped, unmapped, unmapped]):
                at = 100.0 + 10.0 * n
                assert hand.tick(at) == read_request(1, 0, 4)
                hand.receive(at + 0.01, reply, look=False)
                if n < 5:  # (the last: split, the parts are asked first)
                    # the meter answers its other read meanwhile: it is there, its map
                    # changed
                    assert hand.tick(at + 0.02) == read_request(1, 100, 2)
                    hand.receive(at + 0.03, energy, look=False)
        counters = hand.counters("meter")
        assert (counters.exceptions, counters.splits) == ({4: 2, 2: 3}, 1)
    finally:
        hand.close()
    told = 0
    for event in logs:
        if event["event"] in ("exception response", "device refused a merged read; split it"):
            told += 1 + event["suppressed"] + event.get("previous_suppressed", 0)
        elif event["event"] == "read answered again":
            told += event["suppressed"]
    assert told == 5, [e for e in logs if "read" in e["event"] or "exception" in e["event"]]


def test_a_device_busy_by_turns_logs_a_busy_spell_once_a_minute(pty_pair: PtyPair) -> None:
    """A meter polled every second that answers busy in 5 polls running, then once not, for
    two minutes: a spell of busy polls is logged at most once a minute (its start and its
    end), the busy answers between them told by the next one."""
    hand = HandBus(pty_pair, device("meter", "", 1, METER[:1], interval_s=1.0))
    busy = rtu_frame(bytes([1, 0x83, 6]))
    reply = read_reply(1, float32(230.0))
    try:
        with capture_logs() as logs:
            for n in range(121):
                at = 100.0 + n
                assert hand.tick(at) == read_request(1, 0, 2)
                if n % 6 != 5 and n < 120:
                    hand.receive(at + 0.01, busy, look=False)
                    assert hand.tick(at + 0.2) == read_request(1, 0, 2)
                    at += 0.2
                hand.receive(at + 0.01, reply, look=False)
        answered_busy = hand.counters("meter").exceptions[6]
    finally:
        hand.close()
    lines = [e for e in logs if "busy" in e["event"]]
    assert [e["event"] for e in lines] == [
        "device busy at every poll; its reads are asked again",
        "device no longer busy",
    ] * 2, lines
    assert lines[2]["suppressed"] > 0
    assert answered_busy == 100
    # the second spell logged ends at poll 72: the busy answers after it await the next line
    told = sum(e["suppressed"] for e in lines) + 2
    assert told == sum(1 for n in range(72) if n % 6 != 5)


def test_a_refusal_held_back_by_the_rate_limit_is_told_by_the_hourly_summary(
    pty_pair: PtyPair,
) -> None:
    """A read refused with 04 (logged), answered, then refused again within the minute (held
    back by the rate limit of its lines) and at every poll for an hour, then answered: the
    hourly summary tells the refusal held back too, so the log's counts add up to the
    metric although no line of that read and code comes again."""
    hand = HandBus(pty_pair, device("meter", "", 1, METER[:1], interval_s=20.0))
    failure = rtu_frame(bytes([1, 0x83, 4]))
    answer = read_reply(1, float32(230.0))
    try:
        with capture_logs() as logs:
            for n in range(184):
                at = 100.0 + 20.0 * n
                assert hand.tick(at) == read_request(1, 0, 2)
                hand.receive(at + 0.01, answer if n in (1, 183) else failure, look=False)
        refused = hand.counters("meter").exceptions[4]
    finally:
        hand.close()
    assert [e["event"] for e in logs if "exception" in e["event"] or "again" in e["event"]] == [
        "exception response",
        "read answered again",
        "exception responses unchanged",
        "read answered again",
    ]
    told = sum(
        e["suppressed"] + (e["event"] == "exception response")
        for e in logs
        if e["event"]
        in ("exception response", "read answered again", "exception responses unchanged")
    )
    assert told == refused == 182


def test_status_shows_the_reads_a_meter_refuses_now() -> None:
    """A pymodbus meter that maps its voltage but not a configured register (exception 02 at
    every poll): the meter's ``/status`` entry names the refused read with its code, how long
    it has been refused and how many refusals came; the answered read is not there."""
    registers = [
        {"name": "v", "table": "input", "address": 0},
        {"name": "typo", "table": "input", "address": 2000},
    ]
    with ModbusServer([1], "tcp") as server:
        table = device("m", server.url, 1, registers, interval_s=0.05, max_gap=0)

        def refused_thrice(reader: Reader) -> bool:
            counters = reader.sensors["m"].modbus
            return counters is not None and counters.exceptions.get(2, 0) >= 3

        with read_all(load(table), refused_thrice) as reader:
            runtime = reader.sensors["m"]
            counters = runtime.modbus
            assert counters is not None
            whole = runtime.snapshot().as_json()
            status = whole["modbus"]
            refused = counters.exceptions[2]
    [read] = status["refused_reads"]
    # the sensor is up (its voltage comes), and its hint says what never comes, and why: so
    # sensord status tells of it and exits 1; polled every 0.05 s, the refused read goes only
    # at the first poll a second after each refusal, and the hint says so
    assert whole["up"]
    assert whole["hint"].startswith(
        f"the device refuses typo (input 2000, ref 32001) with exception 0x02 (illegal data address) "
        f"{refused} times in a row, for "
    ), whole["hint"]
    assert whole["hint"].endswith(
        "s, asked only at the first poll 1 s after each refusal, not at every poll: their "
        "values never come; check the register map's tables and addresses against its manual "
        "(sensord modbus read --sensor m probes them)"
    ), whole["hint"]
    assert (read["registers"], read["table"], read["address"], read["code"]) == (
        ["typo"],
        "input",
        2000,
        2,
    )
    assert read["refusals"] == refused
    # polls are due every 0.05 s; each refusal comes a round trip after its poll is due, and
    # round trips vary by a few milliseconds
    assert 0.05 * (refused - 1) - 0.025 <= read["for_s"] < 5.0


def test_a_long_answer_with_a_value_not_available_gives_the_others(pty_pair: PtyPair) -> None:
    """A device that answers its read with more values than asked for, twice running, and
    one of the values asked for is its ``not_available`` value: the other value is read, as
    from an answer of the right length, and the bus goes on polling."""
    registers = [
        {"name": "a", "table": "holding", "address": 10, "not_available": [0xFFFF]},
        {"name": "b", "table": "holding", "address": 11},
    ]
    hand = HandBus(pty_pair, device("m", "", 1, registers, interval_s=1.0, timeout_s=0.3))
    try:
        for poll in range(3):
            at = 100.0 + poll
            assert hand.tick(at) == read_request(1, 10, 2)
            hand.receive(at + 0.01, read_reply(1, [0xFFFF, 5, 9]), look=False)
        counters = hand.counters("m")
        assert counters.transactions == 3
        assert counters.errors["length"] == 1
        assert hand.values("m") == {"a": None, "b": (5.0, 5.0, 2)}
    finally:
        hand.close()


def test_another_master_s_longer_answers_are_not_read_as_the_values_asked_for(
    pty_pair: PtyPair,
) -> None:
    """A PLC polls the meter's registers 0 to 3 as often as sensord reads 10 and 11: at each
    poll the meter's answer to the PLC comes while sensord's read is in flight and is taken for
    its answer (a sound frame, too long: ``length``), and the meter's own answer follows as a
    frame nobody asked for. The PLC's registers are never published as 10 and 11: a longer
    answer is read only from a device whose answers are all that long."""
    registers = [
        {"name": "a", "table": "holding", "address": 10},
        {"name": "b", "table": "holding", "address": 11},
    ]
    hand = HandBus(pty_pair, device("m", "", 1, registers, interval_s=1.0, timeout_s=0.3))
    try:
        with capture_logs() as logs:
            for poll in range(3):
                at = 100.0 + poll
                assert hand.tick(at) == read_request(1, 10, 2)
                hand.receive(at + 0.01, read_reply(1, [70, 71, 72, 73]), look=False)
                hand.receive(at + 0.02, read_reply(1, [5, 6]), look=False)
        assert hand.values("m") == {"a": None, "b": None}
        assert not [e for e in logs if e["event"].startswith("device answers a read with more")]
    finally:
        hand.close()


def test_another_master_s_answers_to_its_own_reads_are_not_read_as_the_device_s(
    pty_pair: PtyPair,
) -> None:
    """A PLC reads the meter's registers 0 to 9 while sensord reads voltage (0) and energy
    (100), and the meter's answers to sensord are lost: each exchange of two polls running
    gets the PLC's request and the meter's answer to it, as long each time. That answer is
    never read as the values asked for (its registers 0 and 1 as energy); sensord's own
    answers at the third poll are."""
    hand = HandBus(pty_pair, device("meter", "", 1, METER, interval_s=1.0, timeout_s=0.1))
    plc_request = rtu_frame(bytes([1, 3]) + struct.pack(">HH", 0, 10))
    plc_answer = plc_request + read_reply(1, float32(230.0) + [0] * 8)
    try:
        with capture_logs() as logs:
            for poll in range(2):
                at = 100.0 + poll
                assert hand.tick(at) == read_request(1, 0, 2)
                hand.receive(at + 0.02, plc_answer, look=False)
                assert hand.tick(at + 0.03) == read_request(1, 100, 2)
                hand.receive(at + 0.05, plc_answer, look=False)
            assert hand.values("meter") == {"voltage": None, "energy": None}
            assert hand.tick(102.0) == read_request(1, 0, 2)
            hand.receive(102.01, read_reply(1, float32(230.0)), look=False)
            assert hand.tick(102.03) == read_request(1, 100, 2)
            hand.receive(102.04, read_reply(1, float32(5000.0)), look=False)
        assert hand.values("meter") == {
            "voltage": (230.0, 230.0, 1),
            "energy": (5000.0, 5000.0, 1),
        }
        assert hand.counters("meter").errors["length"] == 4
        assert not [e for e in logs if e["event"].startswith("device answers a read with more")]
    finally:
        hand.close()


def test_a_late_answer_of_another_device_does_not_stop_long_answers_being_read(
    pty_pair: PtyPair,
) -> None:
    """A device that answers a read of 2 registers with 3 (ESPHome), polled every 0.5 s, and
    a meter polled every second, both with a 0.3 s timeout: the meter answers once after its
    timeout, shortly before the first device is asked again. That late answer is a reply, no
    bytes of another master: every long answer but the first is read as before."""
    registers = [
        {"name": "a", "table": "holding", "address": 10},
        {"name": "b", "table": "holding", "address": 11},
    ]
    meter = [{"name": "t", "table": "holding", "address": 0}]
    hand = HandBus(
        pty_pair,
        device("m", "", 1, registers, interval_s=0.5, timeout_s=0.3),
        device("meter", "", 2, meter, interval_s=1.0, timeout_s=0.3),
    )
    try:
        late_at = None
        for step in range(400):
            at = round(100.0 + step * 0.01, 2)
            if late_at is not None and at >= late_at:  # 0.33 s after its request
                hand.receive(at, read_reply(2, [9]), look=False)
                late_at = None
                continue
            request = hand.tick(at)
            if request == read_request(1, 10, 2):
                hand.receive(at + 0.005, read_reply(1, [5, 6, 7]), look=False)
            elif request and at == 102.01:
                late_at = at + 0.33
            elif request:
                hand.receive(at + 0.005, read_reply(2, [9]), look=False)
        assert hand.counters("meter").errors["late"] == 1
        assert hand.counters("m").errors["length"] == 1
        assert hand.values("m") == {"a": (5.0, 5.0, 7), "b": (6.0, 6.0, 7)}
    finally:
        hand.close()


def time_out_thrice(hand: HandBus, now: float, request: bytes) -> float:
    """A device of ``hand`` asked ``request`` from ``now`` and timing out three times in a
    row (0.2 s each, a second apart), so that it is down; the time after it."""
    for _ in range(3):
        assert hand.tick(now) == request
        now += 0.2
        assert hand.tick(now) == b""  # timed out
        now += 1.0
    return now


def test_a_dead_device_stays_down_across_a_replug_and_is_asked_at_once(
    pty_pair: PtyPair,
) -> None:
    """A device down when its bus's port was lost has not answered since: the reopen does not
    show it up (nor log it up, then down again after three more timeouts). It stays down,
    with its own reason rather than the lost port's, and is asked once on the new connection
    (a replug after its wiring or power was seen to), not only at its backoff (here 30 s and
    more); it is up at its first answer."""
    dead = device("meter", "", 3, METER[:1], interval_s=1.0, timeout_s=0.1)
    dead["reconnect"] = {"initial_delay_s": 30.0, "max_delay_s": 60.0}
    hand = HandBus(pty_pair, dead)
    runtime = hand.runtimes["meter"]
    request = read_request(3, 0, 2)
    try:
        now = time_out_thrice(hand, 100.0, request)
        assert runtime.state == "down"
        down_error = runtime.last_error
        assert down_error is not None
        assert down_error.startswith("no response to 3 requests")
        hand.bus.disconnect("device disconnected")
        assert runtime.last_error == "device disconnected"
        with capture_logs() as logs:
            hand.now = now + 0.5  # opened by hand, before the loop's first look at the path
            assert hand.bus.try_open()
            assert runtime.state == "down"
            assert runtime.last_error == down_error
            assert hand.tick(now + 1.0) == request  # asked at once, not at its backoff
            assert hand.tick(now + 1.2) == b""
            assert runtime.state == "down"
            assert hand.counters("meter").timeouts == 4
        assert not [e for e in logs if e.get("state") == "up"], logs
        # it answers at its next attempt: up
        due = hand.bus.devices["meter"].retry.next_at
        assert hand.tick(due) == request
        assert hand.receive(due + 0.02, read_reply(3, float32(230.0))) == b""
        assert runtime.state == "up"
        assert hand.values("meter")["voltage"] == (230.0, 230.0, 1)
    finally:
        hand.close()


def test_a_device_down_across_a_long_outage_waits_the_connect_delay_on_the_new_connection(
    pty_pair: PtyPair,
) -> None:
    """A device down when its bus's port was lost, the port gone for longer than the device's
    backoff: on the new connection its one attempt waits ``connect_delay_s``, as every
    device's first request does (a gateway or converter that drops requests sent right
    after a connect would lose it, and its backoff would grow for nothing)."""
    dead = device("meter", "", 3, METER[:1], interval_s=1.0, timeout_s=0.1, connect_delay_s=0.5)
    dead["reconnect"] = {"initial_delay_s": 1.0, "max_delay_s": 2.0}
    hand = HandBus(pty_pair, dead)
    runtime = hand.runtimes["meter"]
    request = read_request(3, 0, 2)
    try:
        time_out_thrice(hand, 100.5, request)  # after the first open's connect delay
        assert runtime.state == "down"
        hand.bus.disconnect("device disconnected")
        hand.now = 200.0  # unplugged for longer than the device's backoff
        assert hand.bus.try_open()
        assert runtime.state == "down"
        assert hand.tick(200.0) == b""  # not right after the connect
        assert hand.tick(200.49) == b""
        assert hand.tick(200.5) == request  # at the connect delay
        assert hand.receive(200.52, read_reply(3, float32(230.0))) == b""
        assert runtime.state == "up"
    finally:
        hand.close()


@pytest.mark.slow
def test_a_meter_that_goes_silent_is_told_as_down_not_as_its_refused_register() -> None:
    """A meter with a register it does not have (02 at every poll) that then stops answering
    (its power): the sensor is down, and what ``/status`` says is why it is down, not the old
    refusal of a device that no longer answers at all."""
    registers = [
        {"name": "v", "table": "input", "address": 0},
        {"name": "typo", "table": "input", "address": 2000},
    ]
    with ModbusServer([1], "tcp") as server, TcpRelay(server.port) as relay:
        table = device("m", relay.url(), 1, registers, interval_s=0.05, max_gap=0, timeout_s=0.1)
        runtime = SensorRuntime(load(table).sensors[0])
        with Reader([runtime]) as reader:
            counters = runtime.modbus
            assert counters is not None
            run_reader_until(reader, lambda: counters.exceptions.get(2, 0) >= 3, 5.0)
            assert "typo (input 2000, ref 32001)" in str(runtime.snapshot().hint)
            relay.ignore = True  # the meter's power is off
            run_reader_until(reader, lambda: runtime.state == "down", 10.0)
            status = runtime.snapshot().as_json()
    assert status["hint"] is None
    assert "no response to" in status["last_error"], status["last_error"]
