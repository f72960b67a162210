"""A reload that changes a Modbus RTU device while the answers it owes are still to come, on
a line whose adapter echoes (``serial.local_echo`` off).

The device's set-up write (function 06) comes back as sent: the adapter's echo, which the bus
takes for the write's answer for the time being (an 06's answer is its request's bytes) and
settles as the echo once the line shows it (``LineEcho.copy_settled``): the write is then
unanswered, and its answer owed (``_Device.owed``). A meter that stores the register before it
answers refuses the write 100 ms or more after it (the 120 ms of
``test_local_echo_late_refusal``), while its read after the write is in flight, and answers
that read after the refusal: a device answers its requests in order (the Modbus serial line
protocol: a server handles one request at a time). A reload that changes the device in that
gap leaves both answers to come: the refusal and the read's answer are both the left
device's, nobody's, and the device that replaces it (its unit id, another register) gets
neither: no frame nobody asked for, no late answer, and its first value is its own.

The responder at the pty's far end echoes each request 0.5 ms after it and answers like the
device: in order, a read 3 ms after its request (or after the answer before it), the 06 refused
with exception 02 (illegal data address) some time after it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from harness.config import load_sensors as load
from harness.modbus import daemon_in_process, rtu_frame, run_reader_until, waking
from harness.pty import PtyPair
from structlog.testing import capture_logs
from test_local_echo import echo_table
from test_modbus import device
from test_modbus_line import HandBus, read_reply, read_request

from sensord.config import parse_config
from sensord.sensor import SensorRuntime

#: The device's set-up write: holding 54 = 7, function 06, and its refusal.
SETUP_06 = [{"table": "holding", "address": 54, "value": 7, "function": 6}]
WRITE = rtu_frame(bytes.fromhex("02 06 00 36 00 07"))
REFUSAL = rtu_frame(bytes.fromhex("02 86 02"))
#: The value of each register the device holds: the left device reads 0, its replacement 1.
VALUES = {0: 9, 1: 21}
#: Another master's exchange with unit 9 (a read and its answer).
OTHER_MASTER = read_request(9, 0, 1) + read_reply(9, [1])


def answers(
    request: bytes, at: float, free_at: float, refuse_s: float
) -> tuple[list[tuple[float, bytes]], float]:
    """The device's answers to ``request`` sent at ``at`` (the adapter's echo first), in
    order after what it still owes at ``free_at``: ``([(when, bytes)], free_at after)``."""
    out = [(at + 0.0005, request)]
    if request == WRITE:
        free_at = max(at, free_at) + refuse_s
        out.append((free_at, REFUSAL))
    elif request[1] == 3:
        free_at = max(at, free_at) + 0.003
        address = int.from_bytes(request[2:4], "big")
        out.append((free_at, read_reply(2, [VALUES[address]])))
    return out, free_at


def replacement(path: str) -> dict[str, Any]:
    """The device the reload puts in the left one's place: its unit id, another register,
    no set-up write."""
    table = echo_table(path, 2, "w", timeout_s=0.1)
    table["registers"] = [{"name": "a", "table": "holding", "address": 1}]
    return table


@pytest.mark.parametrize(
    ("reload_at", "timeout_s", "other_master"),
    [
        # another master's exchange at 50 ms settles the 06's copy as the echo (the read's
        # echo came), while the read is in flight: the write's answer is owed, and the read's
        (0.08, 0.2, True),
        # the read's echo came, the copy not settled yet: the reload settles it, and the
        # write's answer is owed beside the read's
        (0.05, 0.1, False),
        # the write's window passed (settled: owed) and the read timed out (owed): two answers
        (0.105, 0.1, False),
    ],
    ids=["settled-by-another-frame", "settled-at-the-reload", "read-timed-out"],
)
def test_the_answers_a_changed_device_owes_are_nobody_s(
    pty_pair: PtyPair, reload_at: float, timeout_s: float, other_master: bool
) -> None:
    """The bus on a pty, driven by hand: the device leaves and its replacement joins as a
    reload does it (``Reader.remove``, ``Reader.add``). Its refusal (120 ms after the write)
    and its read's answer after it are the left device's: its replacement counts nothing
    and reads 21. (Before, one left exchange was carried at most, or none: the refusal took
    it, and the read's answer was a frame of the replacement's unit id nobody asked for.)"""
    table = echo_table("", 2, "w", setup=SETUP_06, timeout_s=timeout_s)
    hand = HandBus(pty_pair, table)
    try:
        later: list[tuple[float, bytes]] = []
        free_at = 0.0
        at = 100.0
        reloaded = False
        while at < 101.5:
            if not reloaded and at >= 100.0 + reload_at:
                reloaded = True
                hand.bus.remove("w")
                config = load({**replacement(pty_pair.path), "port": pty_pair.path})
                hand.runtimes["w"] = SensorRuntime(config.sensors[0], clock=hand.clock)
                hand.bus.add(hand.runtimes["w"])
            request = hand.tick(at)
            if request:
                sent, free_at = answers(request, at, free_at, 0.12)
                later += sent
                if other_master and request == WRITE:
                    later.append((at + 0.05, OTHER_MASTER))
                later.sort()
            while later and later[0][0] <= at + 1e-9:
                hand.receive(at, later.pop(0)[1], look=False)
            at = round(at + 0.001, 3)
        counters = hand.counters("w")
        assert counters.transactions >= 2
        assert {k: n for k, n in counters.errors.items() if n} == {}
        assert counters.exceptions == {}
        assert hand.values("w")["a"] == (21.0, 21.0, counters.transactions)
    finally:
        hand.close()


class Responder:
    """The device and the adapter at the far end of ``pair``: answers as :func:`answers`
    makes them (the 06 refused ``refuse_s`` after it), and another master's exchange 50 ms
    after the first write, sent on a thread of its own."""

    def __init__(self, pair: PtyPair, refuse_s: float) -> None:
        self.pair = pair
        self.refuse_s = refuse_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="responder", daemon=True)

    def _run(self) -> None:
        later: list[tuple[float, bytes]] = []
        free_at = 0.0
        writes = 0
        while not self._stop.is_set():
            wait_s = 0.01 if not later else max(0.0, min(0.01, later[0][0] - time.monotonic()))
            request = self.pair.read(8, timeout_s=wait_s)
            now = time.monotonic()
            if len(request) == 8:
                sent, free_at = answers(request, now, free_at, self.refuse_s)
                later += sent
                if request == WRITE:
                    writes += 1
                    if writes == 1:
                        later.append((now + 0.05, OTHER_MASTER))
                later.sort()
            while later and later[0][0] <= time.monotonic():
                self.pair.write(later.pop(0)[1])

    @contextmanager
    def running(self) -> Iterator[None]:
        self._thread.start()
        try:
            yield
        finally:
            self._stop.set()
            self._thread.join(5.0)


def toml(path: str, *, reloaded: bool) -> str:
    """The device's configuration: with its set-up write, or (``reloaded``) as its
    replacement."""
    setup = (
        ""
        if reloaded
        else ', setup = [{ table = "holding", address = 54, value = 7, function = 6 }]'
    )
    return f"""
[[sensors]]
name = "w"
port = "{path}"
format = "modbus"
simulate = "never"
serial = {{ baudrate = 115200, local_echo = false }}
modbus = {{ unit = 2, interval_s = 1.0, timeout_s = 0.5{setup} }}
registers = [{{ name = "a", ref = "4000{2 if reloaded else 1}", type = "uint16" }}]
channels = [{{ name = "a" }}]
"""


def test_a_reload_of_the_running_reader_leaves_a_settled_write_s_refusal_to_nobody(
    pty_pair: PtyPair,
) -> None:
    """The daemon's reader runs on the pty with the responder at its far end; the 06's copy
    is settled as the adapter's echo by another master's exchange while the device's read is
    in flight, and a reload (``Daemon.apply``, as at a SIGHUP) changes the device then, 300 ms
    before the device's refusal and its read's answer come. The replacement counts neither:
    no error of any kind, no exception, and its first value is its own register's (21).
    (Before, the refusal took the one left exchange carried, the read's answer was counted
    ``unasked`` for the replacement, with a warning of another master on the line.)"""
    daemon = daemon_in_process(parse_config(toml(pty_pair.path, reloaded=False)))
    reader = daemon.reader
    (bus,) = reader._buses.values()
    left = reader.sensors["w"]
    with Responder(pty_pair, refuse_s=0.3).running(), waking(reader):
        try:

            def owed_with_read_in_flight() -> bool:
                device = bus.devices.get("w")
                flight = bus.in_flight
                return (
                    device is not None
                    and device.sensor is left
                    and device.owed > 0
                    and flight is not None
                    and not flight.expected.write
                )

            run_reader_until(reader, owed_with_read_in_flight, 5.0)
            daemon.apply(parse_config(toml(pty_pair.path, reloaded=True)))
            changed = reader.sensors["w"]
            assert changed is not left
            counters = changed.modbus
            assert counters is not None
            run_reader_until(reader, lambda: counters.transactions >= 2, 10.0)
            assert {k: n for k, n in counters.errors.items() if n} == {}
            assert counters.exceptions == {}
            channel = daemon.status_body()["sensors"]["w"]["channels"]["a"]
            assert channel["value"] == 21
        finally:
            reader.close()


#: the left device's register and its replacement's (see :func:`replacement`)
REGISTER_0 = {"name": "v", "table": "holding", "address": 0}
REGISTER_1 = {"name": "a", "table": "holding", "address": 1}


def test_an_answer_owed_past_the_drain_of_a_device_a_reload_changed_is_nobody_s(
    pty_pair: PtyPair,
) -> None:
    """No echo here: unit 2's read times out (timeout 0.1 s), its drain ends, nothing is in
    flight, and a reload changes the device. Its answer, awaited no longer, comes 0.31 s
    after the request (three of its timeouts: a device that holds a read while it samples):
    the old device's, nobody's, not a frame nobody asked for of the replacement, with its
    warning of another master (before: ``unasked`` 1 for the replacement). The replacement's
    own answers are read as ever, and once a request to its unit id went out a later frame
    of that unit id that nothing awaits is ``unasked`` again (it may answer that request)."""
    hand = HandBus(pty_pair, device("w", "", 2, [REGISTER_0], interval_s=1.0, timeout_s=0.1))
    try:
        assert hand.tick(100.0) == read_request(2, 0, 1)
        hand.tick(100.2)
        drain_until = hand.bus.devices["w"].drain_until
        assert hand.tick(drain_until + 0.005) == b""  # drained; the next poll is at 101
        new = device("w", pty_pair.path, 2, [REGISTER_1], interval_s=1.0, timeout_s=0.1)
        (config,) = load(new).sensors
        hand.bus.remove("w")
        runtime = hand.runtimes["w"] = SensorRuntime(config, clock=hand.clock)
        with capture_logs() as logs:
            hand.bus.add(runtime)
            hand.receive(drain_until + 0.006, read_reply(2, [VALUES[0]]), look=False)
        counters = hand.counters("w")
        assert {k: n for k, n in counters.errors.items() if n} == {}
        assert not [e for e in logs if "nobody asked for" in e["event"]]
        assert hand.tick(101.0) == read_request(2, 1, 1)
        hand.receive(101.005, read_reply(2, [VALUES[1]]), look=False)
        assert hand.values("w") == {"a": (21.0, 21.0, 1)}
        hand.receive(101.5, read_reply(2, [VALUES[1]]), look=False)
        assert {k: n for k, n in counters.errors.items() if n} == {"unasked": 1}
    finally:
        hand.close()
