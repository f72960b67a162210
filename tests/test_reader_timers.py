"""The reader's timer pass skips the ports whose own deadline has not come (a site of hundreds
of ports, whose polls and simulated devices make many passes a second, visits each port at
its own deadlines only): every port is still served at its deadlines, whatever the others
make the loop do, and a port whose deadline moves earlier outside a pass (a bus's reply, read
by the loop or by its port's thread, a port added, a port lost) is served at the new one,
while a chunk from a port's thread moves that port's deadline only; also while the reader is
idle (every port stale or down), when housekeeping, which visits every port, comes only every
5 s."""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import pytest
from harness.common import up_settled
from harness.modbus import daemon_in_process, run_reader_until
from harness.pty import PtyPair, Rfc2217Server, wait_readable
from test_rfc2217 import modbus_behind_rfc2217

from sensord import reader_feeder
from sensord.bus import Bus
from sensord.config import parse_config
from sensord.reader import Reader
from sensord.sensor import SensorRuntime

RATES_HZ = (1, 2, 5, 10, 25)


def sim_toml(name: str, rate_hz: int) -> str:
    return (
        f'[[sensors]]\nname = "{name}"\nport = "sim://{name}"\nformat = "value"\n'
        f"sampling_rate_hz = {rate_hz}\n"
        "simulation = { spike_rate = 0.0, garbage_rate = 0.0, dropout_rate = 0.0 }\n"
        'channels = [{ name = "v" }]\n'
    )


def bus_toml(name: str, unit: int, interval_s: float) -> str:
    return f"""
[[sensors]]
name = "{name}"
port = "sim://bus"
format = "modbus"
serial = {{ baudrate = 115200 }}
modbus = {{ unit = {unit}, interval_s = {interval_s}, timeout_s = 0.5 }}
registers = [{{ name = "v", ref = "40001", type = "uint16" }}]
channels = [{{ name = "v" }}]
"""


def test_every_port_is_served_at_its_own_deadlines_while_others_make_many_passes() -> None:
    sims = {f"s{i}_{rate}": rate for i in range(8) for rate in RATES_HZ}
    text = "".join(sim_toml(name, rate) for name, rate in sims.items())
    text += bus_toml("fast", 1, 0.05) + bus_toml("slow", 2, 0.5)
    daemon = daemon_in_process(parse_config(text))
    reader = daemon.reader
    try:
        # every port open and delivering: the count starts from there
        run_reader_until(reader, lambda: all(s.framer.frames for s in reader.sensors.values()), 5)
        frames0 = {name: reader.sensors[name].framer.frames for name in sims}
        fast, slow = (reader.sensors[name].modbus for name in ("fast", "slow"))
        assert fast is not None
        assert slow is not None
        polls0 = fast.transactions, slow.transactions
        started = time.monotonic()
        run_reader_until(reader, lambda: time.monotonic() - started >= 3.0, 5)
        took_s = time.monotonic() - started
        for name, rate in sims.items():
            got = reader.sensors[name].framer.frames - frames0[name]
            assert rate * took_s * 0.8 - 1 <= got <= rate * took_s * 1.2 + 1, (name, rate, got)
        fast_polls = fast.transactions - polls0[0]
        slow_polls = slow.transactions - polls0[1]
        assert took_s / 0.05 * 0.7 <= fast_polls <= took_s / 0.05 + 1, fast_polls
        assert took_s / 0.5 - 1 <= slow_polls <= took_s / 0.5 + 1, slow_polls
    finally:
        reader.close()


def polled_toml(name: str, port: str) -> str:
    return (
        f'[[sensors]]\nname = "{name}"\nport = "{port}"\nformat = "value"\nsimulate = "never"\n'
        'stale_after_s = 0.5\npoll = { request = "M\\n", interval_s = 0.2 }\n'
        'channels = [{ name = "v" }]\n'
    )


@pytest.mark.parametrize("answers", [True, False], ids=["answered", "idle"])
def test_a_polled_port_and_a_port_to_reopen_are_served_at_their_deadlines(answers: bool) -> None:
    """A device on a pseudo-terminal polled every 0.2 s, whose replies are read as they come
    (the loop's poll, not its timers), and a device path that is gone, opened again at its
    backoff (0.3 s at most), served among simulated sensors and a simulated polled MH-Z19.
    Answered, the polls go on at their interval; unanswered (every port stale or down: the
    reader idle, housekeeping every 5 s), the polls and the opens go on at theirs all the same."""
    polls: list[float] = []
    stop = threading.Event()
    with PtyPair() as device:
        fd = device.master_fd
        assert fd is not None

        def respond() -> None:
            got = b""
            while not stop.is_set():
                if not wait_readable(fd, 0.05):
                    continue
                got += os.read(fd, 4096)
                while b"M\n" in got:
                    _, _, got = got.partition(b"M\n")
                    polls.append(time.monotonic())
                    if answers:
                        os.write(fd, b"23.5\r\n")

        responder = threading.Thread(target=respond, name="responder", daemon=True)
        responder.start()
        text = polled_toml("polled", device.path)
        text += (
            '[[sensors]]\nname = "gone"\nport = "/dev/ttyGONE-sensord-test"\nformat = "value"\n'
            'simulate = "never"\nreconnect = { initial_delay_s = 0.3, max_delay_s = 0.3 }\n'
            'channels = [{ name = "v" }]\n'
        )
        if answers:
            text += "".join(sim_toml(f"s{i}", 5) for i in range(8))
            text += (
                '[[sensors]]\nname = "co2"\nport = "sim://co2"\npreset = "mhz19"\n'
                "poll = { interval_s = 0.3 }\n"
            )
        daemon = daemon_in_process(parse_config(text))
        reader = daemon.reader
        try:
            if answers:
                run_reader_until(reader, lambda: reader.sensors["co2"].framer.frames > 0, 5)
            else:
                run_reader_until(reader, lambda: reader.idle, 5)
            gone = reader.sensors["gone"]
            polls0, opens0 = len(polls), gone.open_failures
            co2_0 = reader.sensors["co2"].framer.frames if answers else 0
            started = time.monotonic()
            run_reader_until(reader, lambda: time.monotonic() - started >= 3.0, 5)
            took_s = time.monotonic() - started
            assert reader.idle is not answers
            got = len(polls) - polls0
            assert took_s / 0.2 * 0.8 - 1 <= got <= took_s / 0.2 + 1, got
            # a full-jitter backoff: each reopen within 0.3 s of the failure before
            assert gone.open_failures - opens0 >= took_s / 0.3 - 1
            if answers:
                frames = reader.sensors["co2"].framer.frames - co2_0
                assert took_s / 0.3 * 0.8 - 1 <= frames <= took_s / 0.3 + 1, frames
        finally:
            stop.set()
            responder.join(5)
            reader.close()


@contextmanager
def visit_counts(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[int]]:
    """``[visits, thread chunks]``: how many ports the reader's timer passes visited (each
    visit ends by storing the port's ``timers_at``) and how many chunks the loop took from
    blocking-read threads, counted from here on for the readers and ports made after."""
    counts = [0, 0]
    in_pass = [False]

    def get(port: Any) -> float:
        return cast(float, port.__dict__["_timers_at"])

    def put(port: Any, at: float) -> None:
        if in_pass[0]:
            counts[0] += 1
        port.__dict__["_timers_at"] = at

    service = Reader._service_timers

    def service_timers(reader: Reader, now: float) -> float:
        in_pass[0] = True
        try:
            return service(reader, now)
        finally:
            in_pass[0] = False

    taken = reader_feeder.ThreadFeeder.taken

    def take(feeder: Any) -> None:
        counts[1] += 1
        taken(feeder)

    for cls in (SensorRuntime, Bus):
        monkeypatch.setattr(cls, "timers_at", property(get, put), raising=False)
    monkeypatch.setattr(Reader, "_service_timers", service_timers)
    monkeypatch.setattr(reader_feeder.ThreadFeeder, "taken", take)
    yield counts


def rfc2217_meter_toml(url: str, interval_s: float) -> str:
    return f"""
[[sensors]]
name = "meter"
port = "{url}"
format = "modbus"
serial = {{ baudrate = 115200 }}
modbus = {{ unit = 1, interval_s = {interval_s}, timeout_s = 0.5 }}
registers = [{{ name = "v", ref = "40001", type = "uint16" }}]
channels = [{{ name = "v" }}]
"""


def test_a_chunk_from_a_port_s_thread_makes_no_pass_visit_every_port(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Eight value-line devices behind RFC 2217 servers stream a line every 10 ms each, read
    by a blocking-read thread per port, and a Modbus meter behind another server is polled
    every 50 ms (its replies come through its port's thread too), among 81 simulated
    sensors: a thread's chunk moves only its own port's deadline (the meter's next request
    after a reply), so the timer passes visit each port at its own deadlines only, not
    every port per chunk; and every port is served at its time."""
    sims = {f"s{i}_{rate}": rate for i in range(27) for rate in (1, 2, 5)}
    interval_s = 0.05
    with contextlib.ExitStack() as stack:
        counts = stack.enter_context(visit_counts(monkeypatch))
        pairs = [stack.enter_context(PtyPair()) for _ in range(8)]
        servers = [stack.enter_context(Rfc2217Server(pair)) for pair in pairs]
        server, meter_server = stack.enter_context(modbus_behind_rfc2217())
        server.set(1, "holding", 0, [42])
        text = "".join(sim_toml(name, rate) for name, rate in sims.items())
        text += "".join(
            f'[[sensors]]\nname = "line{i}"\nport = "{s.url}"\nformat = "value"\n'
            'channels = [{ name = "v" }]\n'
            for i, s in enumerate(servers)
        )
        text += rfc2217_meter_toml(meter_server.url, interval_s)
        daemon = daemon_in_process(parse_config(text))
        reader = daemon.reader
        stack.callback(reader.close)
        lines = [reader.sensors[f"line{i}"] for i in range(len(pairs))]
        meter = reader.sensors["meter"].modbus
        assert meter is not None
        run_reader_until(
            reader,
            lambda: (
                all(map(up_settled, lines))
                and meter.transactions > 0
                and all(s.framer.frames for s in reader.sensors.values() if s.name in sims)
            ),
            15,
        )
        stop = threading.Event()
        written = [0]

        def stream() -> None:
            while not stop.wait(0.01):
                for pair in pairs:
                    pair.write(b"%d\n" % (written[0] % 100))
                written[0] += 1

        streamer = threading.Thread(target=stream, name="rfc2217-streams", daemon=True)
        streamer.start()
        stack.callback(streamer.join, 5)
        stack.callback(stop.set)
        run_reader_until(reader, lambda: written[0] > 0, 5)
        frames0 = {name: reader.sensors[name].framer.frames for name in sims}
        polls0 = meter.transactions
        counts[:] = [0, 0]
        started = time.monotonic()
        run_reader_until(reader, lambda: time.monotonic() - started >= 3.0, 5)
        took_s = time.monotonic() - started
        visits, chunks = counts
        # the window's, not the catch-up's after it
        polls = meter.transactions - polls0
        frames = {name: reader.sensors[name].framer.frames - frames0[name] for name in sims}
        stop.set()
        streamer.join(5)
        run_reader_until(reader, lambda: all(s.snapshot().frames >= written[0] for s in lines), 10)
        # each simulated port at its frames and at housekeeping, the others at housekeeping,
        # the meter at its requests and their replies
        ports = len(reader._ports)
        own = sum(sims.values()) * took_s + ports * (took_s + 1) + 2 * took_s / interval_s
        assert chunks > 10 * took_s
        assert visits <= own * 1.2, (visits, own, chunks, f"{visits / chunks:.1f} per chunk")
        for name, rate in sims.items():
            got = frames[name]
            assert rate * took_s * 0.8 - 1 <= got <= rate * took_s * 1.2 + 1, (name, rate, got)
        assert took_s / interval_s * 0.7 <= polls <= took_s / interval_s + 1, polls
        assert meter.timeouts == 0
        assert [s.snapshot().frames for s in lines] == [written[0]] * len(lines)
