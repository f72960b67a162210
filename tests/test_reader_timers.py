"""The reader's timer pass skips the ports whose own deadline has not come (a site of hundreds
of ports, whose polls and simulated devices make many passes a second, visits each port at
its own deadlines only): every port is still served at its deadlines, whatever the others
make the loop do, and a port whose deadline moves earlier outside a pass (a bus's reply, a
port added, a port lost) is served at the new one; also while the reader is idle (every port
stale or down), when housekeeping, which visits every port, comes only every 5 s."""

from __future__ import annotations

import os
import threading
import time

import pytest
from harness.modbus import daemon_in_process, run_reader_until
from harness.pty import PtyPair, wait_readable

from sensord.config import parse_config

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
